// SPDX-License-Identifier: GPL-2.0-only
/*
 * The stdout and file sinks: JSON Lines (or any format, one record per
 * line) written with writev, whole records only, so that a rotated file
 * never splits one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "output.h"

/* A flush writes at most this many records (two iovecs each). */
#define WRITE_BATCH (IOV_MAX / 2)
/* Queued bytes that make a file sink write before its flush interval. */
#define FLUSH_BYTES (64u * 1024)
#define LINK_CHECK_MS 1000

struct line_writer {
	int fd;
	size_t offset;	   /* of the oldest record (with its newline) already written */
	bool write_failed; /* logged once until a write succeeds again */
};

/*
 * Writes up to max records from the queue; returns how many bytes went
 * out, or -1 with errno (EAGAIN: try again on EPOLLOUT). Records that went
 * out whole leave the queue.
 */
static ssize_t write_lines(struct sink *s, struct line_writer *lw, unsigned int max)
{
	struct iovec iov[WRITE_BATCH * 2];
	unsigned int n = 0, done = 0;
	ssize_t written;
	size_t left;

	for (const struct queued_record *r; n < max && n < WRITE_BATCH && (r = sink_peek(s, n));
	     n++) {
		iov[2 * n] = (struct iovec){ r->data, r->len };
		iov[2 * n + 1] = (struct iovec){ "\n", 1 };
	}
	if (!n)
		return 0;
	/* Skip what an earlier, partial write already wrote of the first record. */
	if (lw->offset < iov[0].iov_len) {
		iov[0].iov_base = (char *)iov[0].iov_base + lw->offset;
		iov[0].iov_len -= lw->offset;
	} else {
		iov[0].iov_len = 0;
		iov[1].iov_len = 0;
	}
	written = writev(lw->fd, iov, (int)n * 2);
	if (written < 0)
		return -1;
	left = (size_t)written;
	lw->offset = 0;
	for (unsigned int i = 0; i < n; i++) {
		size_t record = iov[2 * i].iov_len + iov[2 * i + 1].iov_len;

		if (left < record) {
			lw->offset = (i == 0 ? sink_peek(s, 0)->len + 1 - record : 0) + left;
			break;
		}
		left -= record;
		done++;
	}
	if (done) {
		s->stats.delivered += done;
		sink_pop(s, done);
	}
	return written;
}

/* ---- stdout ---- */

struct stdout_state {
	struct line_writer lw;
	int saved_flags;
	bool nonblocking; /* a pipe or socket: EAGAIN waits for EPOLLOUT */
	bool waiting;	  /* registered for EPOLLOUT */
	bool closed;	  /* nobody reads stdout any more */
};

static int stdout_open(struct sink *s, char *err, size_t errlen)
{
	struct stdout_state *st = calloc(1, sizeof(*st));
	struct stat sb;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->lw.fd = STDOUT_FILENO;
	st->saved_flags = fcntl(STDOUT_FILENO, F_GETFL);
	/*
	 * A reader that stops reading must not stop berth: pipes and sockets
	 * go non-blocking, and the queue takes the backlog. A terminal or a
	 * file stays as it is (never slow for long, and shared with the shell).
	 */
	if (!fstat(STDOUT_FILENO, &sb) && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)) &&
	    st->saved_flags >= 0 && !fcntl(STDOUT_FILENO, F_SETFL, st->saved_flags | O_NONBLOCK))
		st->nonblocking = true;
	s->state = st;
	return 0;
}

static void stdout_drain(struct sink *s)
{
	struct stdout_state *st = s->state;

	if (st->closed) {
		sink_lost(s, LOSS_WRITE, s->count);
		sink_pop(s, s->count);
		return;
	}
	while (s->count) {
		if (write_lines(s, &st->lw, WRITE_BATCH) >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && st->nonblocking) {
			if (!st->waiting && !outputs_watch_fd(s->outputs, st->lw.fd, EPOLLOUT, s))
				st->waiting = true;
			return;
		}
		/* Nobody reads stdout any more: what comes for it is lost, and counted. */
		log_error("cannot write events to stdout: %s", strerror(errno));
		sink_lost(s, LOSS_WRITE, s->count);
		sink_pop(s, s->count);
		st->closed = true;
		s->outputs->stdout_failed = true;
		break;
	}
	if (st->waiting) {
		outputs_unwatch_fd(s->outputs, st->lw.fd);
		st->waiting = false;
	}
}

static void stdout_kick(struct sink *s, int64_t now_ms)
{
	(void)now_ms;
	stdout_drain(s);
}

static void stdout_handle_fd(struct sink *s, int fd, uint32_t events, int64_t now_ms)
{
	(void)fd;
	(void)events;
	(void)now_ms;
	stdout_drain(s);
}

static void stdout_close(struct sink *s, int64_t deadline_ms)
{
	struct stdout_state *st = s->state;

	if (!st)
		return;
	/* At exit a slow reader gets until the deadline, then what is left is lost. */
	if (st->nonblocking)
		fcntl(STDOUT_FILENO, F_SETFL, st->saved_flags);
	st->nonblocking = false;
	while (s->count && monotonic_ms() < deadline_ms && !st->closed)
		stdout_drain(s);
	if (st->waiting)
		outputs_unwatch_fd(s->outputs, st->lw.fd);
	free(st);
	s->state = NULL;
}

const struct sink_ops stdout_sink_ops = {
	.open = stdout_open,
	.kick = stdout_kick,
	.handle_fd = stdout_handle_fd,
	.close = stdout_close,
};

/* ---- file, with rotation ---- */

struct file_state {
	struct line_writer lw;
	uint64_t size;		  /* of the current file */
	int64_t born_realtime_ms; /* when the current file was begun */
	int64_t last_write_ms;
	int64_t last_link_check_ms;
};

static int open_current(struct sink *s, struct file_state *st, char *err, size_t errlen)
{
	struct statx sx;

	st->lw.fd = open(s->cfg.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (st->lw.fd < 0) {
		snprintf(err, errlen, "output %s: cannot open %s: %s", s->cfg.name, s->cfg.path,
			 strerror(errno));
		return -1;
	}
	st->lw.offset = 0;
	st->size = 0;
	st->born_realtime_ms = clock_ns(CLOCK_REALTIME) / 1000000;
	/* An existing file is continued, and its age counts from its birth. */
	if (!statx(st->lw.fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_BTIME | STATX_MTIME, &sx)) {
		st->size = sx.stx_size;
		if (sx.stx_size && (sx.stx_mask & STATX_BTIME))
			st->born_realtime_ms =
				sx.stx_btime.tv_sec * 1000LL + sx.stx_btime.tv_nsec / 1000000;
	}
	return 0;
}

/*
 * path -> path.1 -> ... -> path.keep (the oldest goes). Each rename is
 * atomic: a reader sees every record in exactly one file at any moment.
 */
static void rotate(struct sink *s, struct file_state *st)
{
	char from[PATH_MAX], to[PATH_MAX], err[PATH_MAX + 128];

	fsync(st->lw.fd);
	close(st->lw.fd);
	st->lw.fd = -1;
	for (unsigned int i = s->cfg.keep; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", s->cfg.path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", s->cfg.path, i);
		if (rename(from, to) && errno != ENOENT)
			log_warn("output %s: cannot rename %s to %s: %s", s->cfg.name, from, to,
				 strerror(errno));
	}
	snprintf(to, sizeof(to), "%s.1", s->cfg.path);
	if (s->cfg.keep ? rename(s->cfg.path, to) : unlink(s->cfg.path))
		log_warn("output %s: cannot rotate %s: %s", s->cfg.name, s->cfg.path,
			 strerror(errno));
	if (open_current(s, st, err, sizeof(err)))
		log_error("%s", err);
}

static bool due_by_age(const struct sink *s, const struct file_state *st)
{
	return s->cfg.rotate_age_ms && st->size &&
	       clock_ns(CLOCK_REALTIME) / 1000000 - st->born_realtime_ms >=
		       (int64_t)s->cfg.rotate_age_ms;
}

/* How many queued records fit before the file reaches its size bound (at least one). */
static unsigned int records_before_rotation(const struct sink *s, const struct file_state *st)
{
	uint64_t size = st->size;
	unsigned int n = 0;

	if (!s->cfg.rotate_bytes)
		return WRITE_BATCH;
	for (const struct queued_record *r; n < WRITE_BATCH && (r = sink_peek(s, n)); n++) {
		uint64_t record = r->len + 1 - (n == 0 ? st->lw.offset : 0);

		if (size + record > s->cfg.rotate_bytes && (size || n))
			break;
		size += record;
	}
	return n;
}

static void file_write(struct sink *s, int64_t now_ms)
{
	struct file_state *st = s->state;

	st->last_write_ms = now_ms;
	while (s->count && st->lw.fd >= 0) {
		unsigned int n;
		ssize_t written;

		if (due_by_age(s, st)) {
			rotate(s, st);
			continue;
		}
		n = records_before_rotation(s, st);
		if (!n) {
			rotate(s, st);
			continue;
		}
		written = write_lines(s, &st->lw, n);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			/* A full disk: the records wait in the queue, and the queue's bound counts the rest. */
			if (!st->lw.write_failed)
				log_error("output %s: cannot write %s: %s", s->cfg.name,
					  s->cfg.path, strerror(errno));
			st->lw.write_failed = true;
			return;
		}
		st->lw.write_failed = false;
		st->size += (uint64_t)written;
	}
	if (s->cfg.fsync && st->lw.fd >= 0)
		fdatasync(st->lw.fd);
}

static int file_open(struct sink *s, char *err, size_t errlen)
{
	struct file_state *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (open_current(s, st, err, errlen)) {
		free(st);
		return -1;
	}
	st->last_write_ms = st->last_link_check_ms = monotonic_ms();
	s->state = st;
	return 0;
}

static void file_kick(struct sink *s, int64_t now_ms)
{
	if (!s->cfg.flush_ms || s->stats.queued_bytes >= FLUSH_BYTES)
		file_write(s, now_ms);
}

static void file_tick(struct sink *s, int64_t now_ms)
{
	struct file_state *st = s->state;
	struct stat sb;
	char err[PATH_MAX + 128];

	/* Someone else rotated or deleted the file: begin a new one. */
	if (now_ms - st->last_link_check_ms >= LINK_CHECK_MS) {
		st->last_link_check_ms = now_ms;
		if (st->lw.fd < 0 || (!fstat(st->lw.fd, &sb) && sb.st_nlink == 0)) {
			if (st->lw.fd >= 0)
				close(st->lw.fd);
			if (open_current(s, st, err, sizeof(err)))
				log_error("%s", err);
		}
	}
	if (due_by_age(s, st))
		rotate(s, st);
	if (s->count && now_ms - st->last_write_ms >= (int64_t)s->cfg.flush_ms)
		file_write(s, now_ms);
}

static void file_close(struct sink *s, int64_t deadline_ms)
{
	struct file_state *st = s->state;

	(void)deadline_ms;
	if (!st)
		return;
	file_write(s, monotonic_ms());
	if (st->lw.fd >= 0) {
		fsync(st->lw.fd);
		close(st->lw.fd);
	}
	free(st);
	s->state = NULL;
}

const struct sink_ops file_sink_ops = {
	.open = file_open,
	.kick = file_kick,
	.tick = file_tick,
	.close = file_close,
};
