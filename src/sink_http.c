// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP sink: records POSTed in batches (NDJSON, Elasticsearch _bulk or
 * Splunk HEC), one request in flight per sink so that order is kept, retried
 * with backoff, and kept in an on-disk spool while the receiver is away.
 *
 * The sink has its own libcurl multi handle driven from berth's epoll set:
 * curl's sockets and a timerfd for curl's timeouts are registered with
 * outputs_watch_fd(), so no call here ever waits on the network.
 *
 * Where a batch comes from: the spool first (oldest first), then the
 * queue. While the receiver is down, the queue is moved into the spool as
 * records arrive, so the memory queue does not fill while the spool has
 * room; everything spooled is older than everything queued, so sending the
 * spool first keeps the order. docs/outputs.md ("HTTP") describes the
 * shapes, the outcomes and the spool layout for users.
 *
 * Spool layout (crash-safe, append-only):
 *   DIR/lock                       flock()ed while a sink uses DIR
 *   DIR/<16 hex digits>.seg        segments, oldest = lowest number
 *   DIR/cursor                     "<segment> <offset>\n": how far the
 *                                  oldest segment was delivered
 * A segment starts with the line "berth-spool 1\n", then records:
 *   u32 length (LE) | u32 CRC-32 of the next 8 + length bytes (LE) |
 *   u64 realtime_ms (LE) | length bytes of the record
 * A segment is fsync'd (with the directory) when it is closed: when it
 * reaches its size, and at exit. At open, every segment is read again;
 * a torn or corrupt tail (a crash in the middle of a write) is cut at the
 * last good record. The cursor is replaced (write + rename) after each
 * delivered spool batch; a segment is deleted once all its records were
 * delivered. A crash between a delivery and the cursor's update sends that
 * batch again: delivery from the spool is at least once.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "log.h"
#include "output.h"
#include "secret.h"

#define DEFAULT_BATCH_EVENTS 500
#define DEFAULT_BATCH_BYTES (1024 * 1024)
#define DEFAULT_BATCH_MS 1000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_RETRY_MIN_MS 500
#define DEFAULT_RETRY_MAX_MS 30000
#define DEFAULT_SPOOL_BYTES (64ULL * 1024 * 1024)

/* An answer longer than this is not kept whole (ES: 500 items are ~100 KiB). */
#define RESPONSE_MAX (8 * 1024 * 1024)
/* How much of a refusal's body goes into the log. */
#define RESPONSE_LOG_CHARS 200
/* curl keeps one socket per connection; two while happy eyeballs races. */
#define SOCKETS_MAX 4

#define SPOOL_MAGIC "berth-spool 1\n"
#define SPOOL_MAGIC_LEN (sizeof(SPOOL_MAGIC) - 1)
#define SPOOL_RECORD_HEADER 16
/* Larger than any record the queue would hold: a length beyond is corruption. */
#define SPOOL_RECORD_MAX (64U * 1024 * 1024)
/* Segments: an eighth of the bound, so that at most that much is held by delivered records. */
#define SPOOL_SEGMENT_MIN (4 * 1024)
#define SPOOL_SEGMENT_MAX (4 * 1024 * 1024)

/* ---- the spool ---- */

struct spool_segment {
	uint64_t seq;
	uint64_t size;	  /* bytes in the file */
	uint64_t records; /* not delivered yet */
};

struct spool {
	int dir_fd, lock_fd;
	uint64_t bound, segment_max;
	struct spool_segment *segs; /* oldest first */
	unsigned int n_segs, cap_segs;
	int tail_fd;	   /* the newest segment, open for appending; -1: none open */
	uint64_t read_off; /* in segs[0]: where the oldest undelivered record starts */
	uint64_t bytes;	   /* the segments' sizes together: what the bound limits */
	uint64_t events;   /* undelivered records */
	uint64_t next_seq;
	bool write_failed; /* logged once until a write succeeds again */
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t record_crc(const uint8_t *time_le, const void *data, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, time_le, 8);
	return crc32(crc, data, len);
}

static void segment_name(uint64_t seq, char name[32])
{
	snprintf(name, 32, "%016" PRIx64 ".seg", seq);
}

static bool pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
		off += n;
	}
	return true;
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/*
 * Reads the record at off in fd (a file of size bytes): its length, time
 * and, when data is not NULL, its bytes appended to data. false when no
 * whole, intact record is there.
 */
static bool spool_read_record(int fd, uint64_t off, uint64_t size, struct buf *data,
			      uint32_t *len_out, uint64_t *realtime_ms)
{
	uint8_t header[SPOOL_RECORD_HEADER];
	uint32_t len;
	char *bytes;
	bool ok;

	if (off + SPOOL_RECORD_HEADER > size || !pread_all(fd, header, sizeof(header), off))
		return false;
	len = get_le32(header);
	if (len > SPOOL_RECORD_MAX || off + SPOOL_RECORD_HEADER + len > size)
		return false;
	bytes = malloc(len ? len : 1);
	if (!bytes)
		return false;
	ok = pread_all(fd, bytes, len, off + SPOOL_RECORD_HEADER) &&
	     record_crc(header + 8, bytes, len) == get_le32(header + 4) &&
	     (!data || buf_append(data, bytes, len));
	free(bytes);
	*len_out = len;
	*realtime_ms = get_le64(header + 8);
	return ok;
}

static int spool_fsync_dir(struct spool *sp)
{
	return fsync(sp->dir_fd);
}

static void spool_close_tail(struct spool *sp)
{
	if (sp->tail_fd < 0)
		return;
	if (fsync(sp->tail_fd) || spool_fsync_dir(sp))
		log_warn("spool: fsync: %s", strerror(errno));
	close(sp->tail_fd);
	sp->tail_fd = -1;
}

static void spool_write_cursor(struct spool *sp)
{
	char line[64];
	int fd, n;

	if (!sp->n_segs) {
		unlinkat(sp->dir_fd, "cursor", 0);
		return;
	}
	n = snprintf(line, sizeof(line), "%016" PRIx64 " %" PRIu64 "\n", sp->segs[0].seq,
		     sp->read_off);
	fd = openat(sp->dir_fd, "cursor.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !write_all(fd, line, n)) {
		log_warn("spool: writing the cursor: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	if (renameat(sp->dir_fd, "cursor.tmp", sp->dir_fd, "cursor"))
		log_warn("spool: replacing the cursor: %s", strerror(errno));
}

/* The oldest segment is delivered: it goes. */
static void spool_drop_head(struct spool *sp)
{
	char name[32];

	if (!sp->n_segs)
		return;
	if (sp->n_segs == 1)
		spool_close_tail(sp);
	segment_name(sp->segs[0].seq, name);
	if (unlinkat(sp->dir_fd, name, 0) && errno != ENOENT)
		log_warn("spool: removing %s: %s", name, strerror(errno));
	sp->bytes -= sp->segs[0].size;
	sp->events -= sp->segs[0].records;
	memmove(sp->segs, sp->segs + 1, (sp->n_segs - 1) * sizeof(*sp->segs));
	sp->n_segs--;
	sp->read_off = SPOOL_MAGIC_LEN;
}

static bool spool_push_segment(struct spool *sp, uint64_t seq, uint64_t size, uint64_t records)
{
	if (sp->n_segs == sp->cap_segs) {
		unsigned int cap = sp->cap_segs ? sp->cap_segs * 2 : 16;
		struct spool_segment *grown = realloc(sp->segs, cap * sizeof(*grown));

		if (!grown)
			return false;
		sp->segs = grown;
		sp->cap_segs = cap;
	}
	sp->segs[sp->n_segs++] =
		(struct spool_segment){ .seq = seq, .size = size, .records = records };
	sp->bytes += size;
	sp->events += records;
	return true;
}

static int compare_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Checks one segment left by an earlier run: cuts it at its last intact
 * record, counts the records from start. Returns its size, 0 when it holds
 * nothing worth keeping (it was removed).
 */
static uint64_t spool_recover_segment(struct spool *sp, uint64_t seq, uint64_t start,
				      const char *dir, uint64_t *records)
{
	char name[32], magic[SPOOL_MAGIC_LEN];
	struct stat st;
	uint64_t off = SPOOL_MAGIC_LEN, size;
	int fd;

	segment_name(seq, name);
	fd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		log_warn("spool %s/%s: %s", dir, name, strerror(errno));
		goto remove;
	}
	size = st.st_size;
	if (!pread_all(fd, magic, sizeof(magic), 0) || memcmp(magic, SPOOL_MAGIC, sizeof(magic))) {
		log_warn("spool %s/%s: not a berth spool segment; removed", dir, name);
		goto remove;
	}
	*records = 0;
	while (off < size) {
		uint32_t len;
		uint64_t t;

		if (!spool_read_record(fd, off, size, NULL, &len, &t))
			break;
		if (off >= start)
			(*records)++;
		off += SPOOL_RECORD_HEADER + len;
	}
	if (off < size) {
		log_warn("spool %s/%s: %" PRIu64 " bytes after the last intact record cut "
			 "(an interrupted write)",
			 dir, name, size - off);
		if (ftruncate(fd, off) || fsync(fd))
			log_warn("spool %s/%s: truncating: %s", dir, name, strerror(errno));
	}
	if (!*records)
		goto remove;
	close(fd);
	return off;
remove:
	if (fd >= 0)
		close(fd);
	unlinkat(sp->dir_fd, name, 0);
	return 0;
}

/* Opens (and creates) the spool in dir; picks up what an earlier run left. */
static int spool_open(struct spool *sp, const char *dir, uint64_t bound, char *err, size_t errlen)
{
	uint64_t *seqs = NULL, cursor_seq = 0, cursor_off = 0;
	unsigned int n_seqs = 0, cap_seqs = 0;
	bool have_cursor = false;
	struct dirent *de;
	DIR *d = NULL;
	char line[64];
	int fd;

	*sp = (struct spool){ .dir_fd = -1, .lock_fd = -1, .tail_fd = -1, .bound = bound };
	sp->segment_max = bound / 8;
	if (sp->segment_max < SPOOL_SEGMENT_MIN)
		sp->segment_max = SPOOL_SEGMENT_MIN;
	if (sp->segment_max > SPOOL_SEGMENT_MAX)
		sp->segment_max = SPOOL_SEGMENT_MAX;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		return -1;
	}
	sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir_fd < 0) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		return -1;
	}
	sp->lock_fd = openat(sp->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lock_fd < 0 || flock(sp->lock_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "spool directory %s: %s", dir,
			 errno == EWOULDBLOCK ? "in use by another sink or berth" :
						strerror(errno));
		goto fail;
	}

	fd = openat(sp->dir_fd, "cursor", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, line, sizeof(line) - 1);

		close(fd);
		if (n > 0) {
			line[n] = '\0';
			have_cursor =
				sscanf(line, "%" SCNx64 " %" SCNu64, &cursor_seq, &cursor_off) == 2;
		}
	}

	d = fdopendir(dup(sp->dir_fd));
	if (!d) {
		snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d))) {
		char *end;
		uint64_t seq;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg"))
			continue;
		seq = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (n_seqs == cap_seqs) {
			uint64_t *grown;

			cap_seqs = cap_seqs ? cap_seqs * 2 : 16;
			grown = realloc(seqs, cap_seqs * sizeof(*seqs));
			if (!grown) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			seqs = grown;
		}
		seqs[n_seqs++] = seq;
	}
	closedir(d);
	d = NULL;
	qsort(seqs, n_seqs, sizeof(*seqs), compare_seq);

	for (unsigned int i = 0; i < n_seqs; i++) {
		uint64_t start = SPOOL_MAGIC_LEN, size, records = 0;
		char name[32];

		sp->next_seq = seqs[i] + 1;
		if (have_cursor && seqs[i] < cursor_seq) {
			/* Delivered before the earlier run could remove it. */
			segment_name(seqs[i], name);
			unlinkat(sp->dir_fd, name, 0);
			continue;
		}
		if (have_cursor && seqs[i] == cursor_seq && cursor_off > start)
			start = cursor_off;
		size = spool_recover_segment(sp, seqs[i], start, dir, &records);
		if (!size)
			continue;
		if (!spool_push_segment(sp, seqs[i], size, records)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (sp->n_segs == 1)
			sp->read_off = start;
	}
	free(seqs);
	seqs = NULL;
	if (sp->n_segs)
		log_info("spool %s: %" PRIu64 " records (%" PRIu64 " bytes) from an earlier run "
			 "to deliver",
			 dir, sp->events, sp->bytes);
	spool_write_cursor(sp);
	return 0;
fail:
	if (d)
		closedir(d);
	free(seqs);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	if (sp->dir_fd >= 0)
		close(sp->dir_fd);
	free(sp->segs);
	*sp = (struct spool){ .dir_fd = -1, .lock_fd = -1, .tail_fd = -1 };
	return -1;
}

enum spool_append_result {
	SPOOL_APPENDED,
	SPOOL_FULL,
	SPOOL_IO_ERROR,
};

static enum spool_append_result spool_append(struct spool *sp, const struct queued_record *rec)
{
	uint64_t need = SPOOL_RECORD_HEADER + rec->len;
	bool new_segment = sp->tail_fd < 0 || !sp->n_segs ||
			   sp->segs[sp->n_segs - 1].size + need > sp->segment_max;
	struct spool_segment *tail;
	uint8_t header[SPOOL_RECORD_HEADER];
	struct iovec iov[2];
	ssize_t n;

	if (rec->len > SPOOL_RECORD_MAX ||
	    sp->bytes + need + (new_segment ? SPOOL_MAGIC_LEN : 0) > sp->bound)
		return SPOOL_FULL;
	if (new_segment) {
		char name[32];
		int fd;

		spool_close_tail(sp);
		segment_name(sp->next_seq, name);
		fd = openat(sp->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
			    0600);
		if (fd < 0 || !write_all(fd, SPOOL_MAGIC, SPOOL_MAGIC_LEN)) {
			if (!sp->write_failed)
				log_error("spool: creating segment %s: %s", name, strerror(errno));
			sp->write_failed = true;
			if (fd >= 0) {
				close(fd);
				unlinkat(sp->dir_fd, name, 0);
			}
			return SPOOL_IO_ERROR;
		}
		if (!spool_push_segment(sp, sp->next_seq, SPOOL_MAGIC_LEN, 0)) {
			close(fd);
			unlinkat(sp->dir_fd, name, 0);
			return SPOOL_IO_ERROR;
		}
		if (sp->n_segs == 1)
			sp->read_off = SPOOL_MAGIC_LEN;
		sp->next_seq++;
		sp->tail_fd = fd;
	}
	tail = &sp->segs[sp->n_segs - 1];
	put_le32(header, rec->len);
	put_le64(header + 8, rec->realtime_ms);
	put_le32(header + 4, record_crc(header + 8, rec->data, rec->len));
	iov[0] = (struct iovec){ header, sizeof(header) };
	iov[1] = (struct iovec){ rec->data, rec->len };
	n = writev(sp->tail_fd, iov, 2);
	if (n != (ssize_t)need) {
		if (!sp->write_failed)
			log_error("spool: writing a record: %s",
				  n < 0 ? strerror(errno) : "short write");
		sp->write_failed = true;
		/* Whatever part went out is cut again: the segment stays intact. */
		if (n > 0 && ftruncate(sp->tail_fd, tail->size))
			spool_close_tail(sp);
		return SPOOL_IO_ERROR;
	}
	sp->write_failed = false;
	tail->size += need;
	tail->records++;
	sp->bytes += need;
	sp->events++;
	return SPOOL_APPENDED;
}

static void spool_close(struct spool *sp)
{
	spool_close_tail(sp);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	if (sp->dir_fd >= 0)
		close(sp->dir_fd);
	free(sp->segs);
	*sp = (struct spool){ .dir_fd = -1, .lock_fd = -1, .tail_fd = -1 };
}

/* ---- a batch: what the request in flight (or to retry) carries ---- */

enum batch_source {
	BATCH_NONE,
	BATCH_QUEUE, /* the first n records of the queue */
	BATCH_SPOOL, /* the first n records of the spool, copied into spool_data */
};

struct batch {
	enum batch_source from;
	struct queued_record *recs;
	bool *settled; /* delivered or refused for good: not sent again */
	unsigned int n, n_settled, cap;
	struct buf spool_data;
	uint64_t spool_end; /* the spool's read offset after the batch */
};

static bool batch_reserve(struct batch *b, unsigned int n)
{
	struct queued_record *recs;
	bool *settled;

	if (n <= b->cap)
		return true;
	recs = realloc(b->recs, n * sizeof(*recs));
	if (!recs)
		return false;
	b->recs = recs;
	settled = realloc(b->settled, n * sizeof(*settled));
	if (!settled)
		return false;
	b->settled = settled;
	b->cap = n;
	return true;
}

/* ---- the sink ---- */

struct http_sink {
	struct sink *sink;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	int timer_fd;
	int64_t curl_deadline_ms; /* when curl wants its timeout handled; -1: never */
	struct {
		int fd;
		uint32_t events;
	} sockets[SOCKETS_MAX];
	unsigned int n_sockets;
	bool closing; /* close(): poll() here instead of the epoll set */

	bool in_flight;
	struct batch batch;
	struct buf body, response;
	char curl_error[CURL_ERROR_SIZE];

	bool has_spool;
	struct spool spool;

	/* The receiver failed at the last attempt: retry at next_attempt_ms. */
	bool down;
	uint64_t backoff_ms;
	int64_t next_attempt_ms, down_since_ms;
	unsigned int jitter_seed;
};

static const char *sink_name(const struct sink *s)
{
	return s->cfg.name ? s->cfg.name : s->cfg.url;
}

static unsigned int batch_events_max(const struct sink *s)
{
	return s->cfg.batch_events ? s->cfg.batch_events : DEFAULT_BATCH_EVENTS;
}

static uint64_t batch_bytes_max(const struct sink *s)
{
	return s->cfg.batch_bytes ? s->cfg.batch_bytes : DEFAULT_BATCH_BYTES;
}

static uint64_t batch_wait_ms(const struct sink *s)
{
	return s->cfg.batch_ms ? s->cfg.batch_ms : DEFAULT_BATCH_MS;
}

static void update_spool_stats(struct http_sink *h)
{
	h->sink->stats.spooled_events = h->has_spool ? h->spool.events : 0;
	h->sink->stats.spooled_bytes = h->has_spool ? h->spool.bytes : 0;
}

/* ---- bodies ---- */

/*
 * A JSON string of bytes that may not be UTF-8 (a CEF line carries
 * container names as they are): invalid bytes become U+FFFD so that the
 * receiver's parser accepts the document.
 */
static void put_json_string(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	buf_putc(out, '"');
	while (p < end) {
		unsigned char c = *p;
		size_t n = 0;

		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, c);
			p++;
			continue;
		}
		if (c < 0x20) {
			buf_printf(out, "\\u%04x", c);
			p++;
			continue;
		}
		if (c < 0x80)
			n = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		if (n > 1 && (size_t)(end - p) >= n) {
			uint32_t cp = c & (0xff >> (n + 1));

			for (size_t i = 1; i < n; i++) {
				if ((p[i] & 0xc0) != 0x80) {
					n = 0;
					break;
				}
				cp = cp << 6 | (p[i] & 0x3f);
			}
			/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
			if (n && ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
				  (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
				n = 0;
		} else if (n > 1) {
			n = 0;
		}
		if (!n) {
			buf_puts(out, "\\ufffd");
			p++;
			continue;
		}
		buf_append(out, p, n);
		p += n;
	}
	buf_putc(out, '"');
}

static bool format_is_json(enum output_format f)
{
	return f == FORMAT_ECS || f == FORMAT_OCSF;
}

/* Appends one record, framed for the shape, to out. */
static void frame_record(const struct sink *s, const struct queued_record *rec, struct buf *out)
{
	const struct sink_config *c = &s->cfg;

	switch (c->shape) {
	case HTTP_NDJSON:
		buf_append(out, rec->data, rec->len);
		buf_putc(out, '\n');
		break;
	case HTTP_ES_BULK:
		if (c->index) {
			buf_puts(out, "{\"create\":{\"_index\":");
			put_json_string(out, c->index, strlen(c->index));
			buf_puts(out, "}}\n");
		} else {
			buf_puts(out, "{\"create\":{}}\n");
		}
		buf_append(out, rec->data, rec->len);
		buf_putc(out, '\n');
		break;
	case HTTP_SPLUNK_HEC:
		buf_printf(out, "{\"time\":%" PRIu64 ".%03u,\"host\":", rec->realtime_ms / 1000,
			   (unsigned int)(rec->realtime_ms % 1000));
		{
			const char *host =
				s->outputs && s->outputs->host_name ? s->outputs->host_name : "";

			put_json_string(out, host, strlen(host));
		}
		buf_printf(out, ",\"source\":\"berth\",\"sourcetype\":\"berth:%s\"",
			   format_name(c->format));
		if (c->index) {
			buf_puts(out, ",\"index\":");
			put_json_string(out, c->index, strlen(c->index));
		}
		buf_puts(out, ",\"event\":");
		if (format_is_json(c->format))
			buf_append(out, rec->data, rec->len);
		else
			put_json_string(out, rec->data, rec->len);
		buf_puts(out, "}\n");
		break;
	}
}

/* ---- taking records off the queue ---- */

/* n records leave the queue; what became of them was counted already. */
static void take_from_queue(struct sink *s, unsigned int n)
{
	sink_pop(s, n);
}

static void count_delivered(struct sink *s, uint64_t n)
{
	s->stats.delivered += n;
}

/*
 * Moves queued records into the spool (all of them, or those past the
 * batch in flight never: the queue is only ever taken from its head).
 * What does not fit is lost, newest first, one count per record.
 */
static void spill_queue(struct http_sink *h)
{
	struct sink *s = h->sink;
	uint64_t full = 0, failed = 0;

	if (!h->has_spool || h->batch.from == BATCH_QUEUE)
		return;
	while (s->count) {
		const struct queued_record *rec = sink_peek(s, 0);

		switch (spool_append(&h->spool, rec)) {
		case SPOOL_APPENDED:
			break;
		case SPOOL_FULL:
			full++;
			break;
		case SPOOL_IO_ERROR:
			failed++;
			break;
		}
		take_from_queue(s, 1);
	}
	if (full)
		sink_lost(s, LOSS_SPOOL_FULL, full);
	if (failed)
		sink_lost(s, LOSS_WRITE, failed);
	update_spool_stats(h);
}

/*
 * A batch from the queue leaves it: what it had settled (ES items) was
 * counted, the rest goes to the spool (sent from there, in order), or
 * without one is lost.
 */
static void spill_batch(struct http_sink *h)
{
	struct sink *s = h->sink;
	struct batch *b = &h->batch;
	uint64_t full = 0, failed = 0;

	for (unsigned int i = 0; i < b->n; i++) {
		if (!b->settled[i]) {
			enum spool_append_result r = h->has_spool ?
							     spool_append(&h->spool, &b->recs[i]) :
							     SPOOL_IO_ERROR;

			full += r == SPOOL_FULL;
			failed += r == SPOOL_IO_ERROR;
		}
		take_from_queue(s, 1);
	}
	b->from = BATCH_NONE;
	b->n = b->n_settled = 0;
	if (full)
		sink_lost(s, LOSS_SPOOL_FULL, full);
	if (failed)
		sink_lost(s, LOSS_WRITE, failed);
	update_spool_stats(h);
}

/*
 * Only while the receiver is down: once it is back, new records wait in
 * the queue while the spool drains (the spool holds only older ones, so
 * "spool first, then the queue" keeps the order), and a small spool does
 * not lose what the queue has room for.
 */
static bool should_spill(const struct http_sink *h)
{
	return h->has_spool && h->down;
}

/* ---- batches ---- */

static bool queue_due(const struct http_sink *h, int64_t realtime_now_ms)
{
	const struct sink *s = h->sink;
	const struct queued_record *oldest = sink_peek(s, 0);

	if (!oldest)
		return false;
	if (h->closing || s->count >= batch_events_max(s) ||
	    s->stats.queued_bytes >= batch_bytes_max(s))
		return true;
	/* A clock set back far must not hold the records forever. */
	return realtime_now_ms - (int64_t)oldest->realtime_ms >= (int64_t)batch_wait_ms(s) ||
	       (int64_t)oldest->realtime_ms - realtime_now_ms > (int64_t)batch_wait_ms(s);
}

/* Framing bytes around a record, to bound bodies by batch_bytes before building them. */
static size_t framing_estimate(const struct sink *s)
{
	switch (s->cfg.shape) {
	case HTTP_ES_BULK:
		return 16 + (s->cfg.index ? strlen(s->cfg.index) + 12 : 0);
	case HTTP_SPLUNK_HEC:
		return 96 + (s->cfg.index ? strlen(s->cfg.index) + 12 : 0) +
		       (s->outputs && s->outputs->host_name ? strlen(s->outputs->host_name) : 0);
	default:
		return 1;
	}
}

static bool batch_from_queue(struct http_sink *h)
{
	struct sink *s = h->sink;
	struct batch *b = &h->batch;
	unsigned int max = batch_events_max(s);
	uint64_t bytes = 0, limit = batch_bytes_max(s);
	size_t framing = framing_estimate(s);

	b->n = b->n_settled = 0;
	for (unsigned int i = 0; i < max; i++) {
		const struct queued_record *rec = sink_peek(s, i);

		if (!rec || (i && bytes + rec->len + framing > limit))
			break;
		if (!batch_reserve(b, i + 1))
			break;
		b->recs[i] = *rec;
		b->settled[i] = false;
		b->n++;
		bytes += rec->len + framing;
	}
	if (!b->n)
		return false;
	b->from = BATCH_QUEUE;
	return true;
}

static bool batch_from_spool(struct http_sink *h)
{
	struct sink *s = h->sink;
	struct spool *sp = &h->spool;
	struct batch *b = &h->batch;
	unsigned int max = batch_events_max(s);
	uint64_t limit = batch_bytes_max(s), off = sp->read_off, size;
	size_t framing = framing_estimate(s), *starts = NULL;
	char name[32];
	int fd;

	if (!sp->n_segs || !sp->events)
		return false;
	size = sp->segs[0].size;
	segment_name(sp->segs[0].seq, name);
	fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("%s: spool segment %s: %s", sink_name(s), name, strerror(errno));
		return false;
	}
	buf_reset(&b->spool_data);
	b->n = b->n_settled = 0;
	starts = calloc(max, sizeof(*starts));
	while (starts && b->n < max && off < size) {
		size_t start = b->spool_data.len;
		uint32_t len;
		uint64_t t;

		if (!spool_read_record(fd, off, size, &b->spool_data, &len, &t)) {
			/* Recovered at open and written by us since: only a disk fault. */
			log_error("%s: spool segment %s unreadable at %" PRIu64 "; the rest of it "
				  "is skipped",
				  sink_name(s), name, off);
			break;
		}
		if (b->n && b->spool_data.len + framing * (b->n + 1) > limit) {
			b->spool_data.len = start;
			break;
		}
		if (!batch_reserve(b, b->n + 1))
			break;
		starts[b->n] = start;
		b->recs[b->n] = (struct queued_record){ .len = len, .realtime_ms = t };
		b->settled[b->n] = false;
		b->n++;
		off += SPOOL_RECORD_HEADER + len;
	}
	close(fd);
	for (unsigned int i = 0; i < b->n; i++)
		b->recs[i].data = b->spool_data.data + starts[i];
	free(starts);
	if (!b->n && off < size) {
		/* An unreadable rest is lost: the next segment comes next. */
		sink_lost(s, LOSS_WRITE, sp->segs[0].records);
		spool_drop_head(sp);
		spool_write_cursor(sp);
		update_spool_stats(h);
		return false;
	}
	b->spool_end = off;
	b->from = b->n ? BATCH_SPOOL : BATCH_NONE;
	return b->n > 0;
}

/* The batch is settled whole: its records leave the queue or the spool. */
static void batch_done(struct http_sink *h)
{
	struct batch *b = &h->batch;
	struct spool *sp = &h->spool;

	if (b->from == BATCH_QUEUE) {
		take_from_queue(h->sink, b->n);
	} else if (b->from == BATCH_SPOOL) {
		sp->read_off = b->spool_end;
		sp->segs[0].records -= b->n;
		sp->events -= b->n;
		while (sp->n_segs && !sp->segs[0].records)
			spool_drop_head(sp);
		spool_write_cursor(sp);
		update_spool_stats(h);
	}
	b->from = BATCH_NONE;
	b->n = b->n_settled = 0;
}

static void settle(struct http_sink *h, unsigned int i, bool delivered)
{
	struct batch *b = &h->batch;

	if (b->settled[i])
		return;
	b->settled[i] = true;
	b->n_settled++;
	if (delivered)
		count_delivered(h->sink, 1);
	else
		sink_lost(h->sink, LOSS_REJECTED, 1);
}

/* ---- requests ---- */

static void build_body(struct http_sink *h)
{
	struct batch *b = &h->batch;

	buf_reset(&h->body);
	for (unsigned int i = 0; i < b->n; i++)
		if (!b->settled[i])
			frame_record(h->sink, &b->recs[i], &h->body);
}

static void drive(struct http_sink *h, curl_socket_t fd, int flags);

static void start_request(struct http_sink *h, int64_t now_ms)
{
	struct sink *s = h->sink;

	if (h->in_flight || (h->down && now_ms < h->next_attempt_ms))
		return;
	if (should_spill(h))
		spill_queue(h);
	if (h->batch.from == BATCH_NONE) {
		if (!(h->has_spool && batch_from_spool(h)) &&
		    !(queue_due(h, clock_ns(CLOCK_REALTIME) / 1000000) && batch_from_queue(h)))
			return;
	}
	build_body(h);
	if (h->body.failed) {
		log_error("%s: out of memory for a request body", sink_name(s));
		return;
	}
	buf_reset(&h->response);
	h->curl_error[0] = '\0';
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body.len);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, h->body.data);
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
		log_error("%s: cannot start a request", sink_name(s));
		return;
	}
	h->in_flight = true;
}

static uint64_t jittered(struct http_sink *h, uint64_t ms)
{
	/* Up to a quarter less: senders that failed together spread out. */
	return ms - (ms >= 4 ? (uint64_t)rand_r(&h->jitter_seed) % (ms / 4 + 1) : 0);
}

static void went_down(struct http_sink *h, const char *why, int64_t now_ms)
{
	struct sink *s = h->sink;
	const struct sink_config *c = &s->cfg;
	uint64_t min = c->retry_min_ms ? c->retry_min_ms : DEFAULT_RETRY_MIN_MS;
	uint64_t max = c->retry_max_ms ? c->retry_max_ms : DEFAULT_RETRY_MAX_MS;

	s->stats.connected = false;
	if (!h->down) {
		log_warn("%s: %s; retrying with backoff%s", sink_name(s), why,
			 h->has_spool ? ", records go to the spool meanwhile" : "");
		h->down = true;
		h->down_since_ms = now_ms;
		h->backoff_ms = min;
	} else {
		log_debug("%s: %s; retrying", sink_name(s), why);
		h->backoff_ms = h->backoff_ms * 2 > max ? max : h->backoff_ms * 2;
	}
	if (h->backoff_ms > max)
		h->backoff_ms = max;
	h->next_attempt_ms = now_ms + jittered(h, h->backoff_ms);

	if (h->has_spool && h->batch.from == BATCH_QUEUE) {
		spill_batch(h);
		spill_queue(h);
	}
}

static void came_back(struct http_sink *h, int64_t now_ms)
{
	struct sink *s = h->sink;

	s->stats.connected = true;
	if (h->down)
		log_info("%s: the receiver is back after %" PRId64 " ms%s", sink_name(s),
			 now_ms - h->down_since_ms,
			 h->has_spool && h->spool.events ? "; sending the spool first" : "");
	h->down = false;
	h->backoff_ms = 0;
}

/* The start of an answer for the log: printable, one line. */
static void response_excerpt(const struct buf *r, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < r->len && n + 1 < outlen && i < RESPONSE_LOG_CHARS; i++) {
		unsigned char c = r->data[i];

		out[n++] = c >= 0x20 && c < 0x7f ? c : ' ';
	}
	out[n] = '\0';
}

/*
 * An Elasticsearch _bulk answer with "errors": true: item k answers the
 * k-th record sent (the unsettled ones). 2xx: delivered; 429 and 5xx:
 * sent again; any other status: refused for good. Returns how many are
 * to be sent again.
 */
static unsigned int settle_bulk_items(struct http_sink *h)
{
	struct sink *s = h->sink;
	struct batch *b = &h->batch;
	unsigned int retry = 0, refused = 0, k = 0, sent = b->n - b->n_settled;
	json_t *doc, *items;
	json_error_t jerr;
	char first[256] = "";

	doc = json_loadb(h->response.data ? h->response.data : "", h->response.len, 0, &jerr);
	items = json_object_get(doc, "items");
	if (!json_is_true(json_object_get(doc, "errors"))) {
		json_decref(doc);
		for (unsigned int i = 0; i < b->n; i++)
			settle(h, i, true);
		return 0;
	}
	if (!json_is_array(items) || json_array_size(items) != sent) {
		/* The request was taken (2xx): sending it again could duplicate it. */
		log_warn("%s: an Elasticsearch answer with errors but %zu items for %u records; "
			 "counted as delivered",
			 sink_name(s), json_array_size(items), sent);
		json_decref(doc);
		for (unsigned int i = 0; i < b->n; i++)
			settle(h, i, true);
		return 0;
	}
	for (unsigned int i = 0; i < b->n; i++) {
		json_t *item, *result;
		const char *action;
		json_int_t status;

		if (b->settled[i])
			continue;
		item = json_array_get(items, k++);
		result = NULL;
		json_object_foreach(item, action, result)
			break;
		status = json_integer_value(json_object_get(result, "status"));
		if (status >= 200 && status < 300) {
			settle(h, i, true);
		} else if (status == 429 || status >= 500) {
			retry++;
		} else {
			if (!refused) {
				json_t *error = json_object_get(result, "error");

				snprintf(first, sizeof(first), "status %lld %s: %.160s",
					 (long long)status,
					 json_string_value(json_object_get(error, "type")) ?: "",
					 json_string_value(json_object_get(error, "reason")) ?: "");
			}
			refused++;
			settle(h, i, false);
		}
	}
	if (refused)
		log_error("%s: Elasticsearch refused %u of %u records (first: %s)", sink_name(s),
			  refused, sent, first);
	json_decref(doc);
	return retry;
}

static void request_done(struct http_sink *h, CURLcode result, int64_t now_ms)
{
	struct sink *s = h->sink;
	struct batch *b = &h->batch;
	long status = 0;
	char why[CURL_ERROR_SIZE + 64], excerpt[RESPONSE_LOG_CHARS + 1];

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(h->multi, h->easy);
	h->in_flight = false;

	if (result != CURLE_OK) {
		snprintf(why, sizeof(why), "%s: %s", s->cfg.url,
			 h->curl_error[0] ? h->curl_error : curl_easy_strerror(result));
		went_down(h, why, now_ms);
		return;
	}
	if (status >= 200 && status < 300) {
		unsigned int retry = 0;

		if (s->cfg.shape == HTTP_ES_BULK)
			retry = settle_bulk_items(h);
		else
			for (unsigned int i = 0; i < b->n; i++)
				settle(h, i, true);
		if (!retry)
			came_back(h, now_ms);
		if (retry) {
			snprintf(why, sizeof(why),
				 "Elasticsearch answered 429 or 5xx for %u records", retry);
			went_down(h, why, now_ms);
			return;
		}
		batch_done(h);
		return;
	}
	if (status >= 400 && status < 500 && status != 429) {
		unsigned int refused = b->n - b->n_settled;

		came_back(h, now_ms);
		response_excerpt(&h->response, excerpt, sizeof(excerpt));
		log_error("%s: HTTP %ld: %u records refused for good: %s", sink_name(s), status,
			  refused, excerpt);
		for (unsigned int i = 0; i < b->n; i++)
			settle(h, i, false);
		batch_done(h);
		return;
	}
	response_excerpt(&h->response, excerpt, sizeof(excerpt));
	snprintf(why, sizeof(why), "HTTP %ld from %s: %s", status, s->cfg.url, excerpt);
	went_down(h, why, now_ms);
}

/* Requests that ended; the next one starts at once if there is one. */
static void reap(struct http_sink *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy && h->in_flight) {
			int64_t now = monotonic_ms();

			request_done(h, msg->data.result, now);
			start_request(h, now);
		}
	}
}

static void drive(struct http_sink *h, curl_socket_t fd, int flags)
{
	int running;

	curl_multi_socket_action(h->multi, fd, flags, &running);
	reap(h);
}

/* ---- curl in the epoll set ---- */

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *ctx, void *socket_ctx)
{
	struct http_sink *h = ctx;
	uint32_t events =
		(what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	unsigned int i;

	(void)easy;
	(void)socket_ctx;
	for (i = 0; i < h->n_sockets && h->sockets[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i == h->n_sockets)
			return 0;
		if (!h->closing)
			outputs_unwatch_fd(h->sink->outputs, fd);
		h->sockets[i] = h->sockets[--h->n_sockets];
		return 0;
	}
	if (i == h->n_sockets) {
		if (i == SOCKETS_MAX) {
			log_error("%s: more than %d sockets at once", sink_name(h->sink),
				  SOCKETS_MAX);
			return -1;
		}
		if (!h->closing && outputs_watch_fd(h->sink->outputs, fd, events, h->sink)) {
			log_error("%s: cannot watch socket %d", sink_name(h->sink), fd);
			return -1;
		}
		h->sockets[h->n_sockets++] = (typeof(h->sockets[0])){ .fd = fd, .events = events };
		return 0;
	}
	if (h->sockets[i].events != events && !h->closing)
		outputs_modify_fd(h->sink->outputs, fd, events);
	h->sockets[i].events = events;
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *ctx)
{
	struct http_sink *h = ctx;
	/* 0 means "now": the smallest timer that still fires. */
	long ms = timeout_ms > 0 ? timeout_ms : 0;
	struct itimerspec spec = {
		.it_value = { ms / 1000, ms ? (ms % 1000) * 1000000L : 1 },
	};

	(void)multi;
	h->curl_deadline_ms = timeout_ms < 0 ? -1 : monotonic_ms() + ms;
	if (timeout_ms < 0)
		spec.it_value = (struct timespec){ 0, 0 }; /* disarm */
	return timerfd_settime(h->timer_fd, 0, &spec, NULL) ? -1 : 0;
}

static size_t on_response(char *data, size_t size, size_t n, void *ctx)
{
	struct http_sink *h = ctx;
	size_t len = size * n;

	/* Beyond the bound the answer is cut, not refused: the records were taken. */
	if (h->response.len < RESPONSE_MAX)
		buf_append(&h->response, data,
			   len < RESPONSE_MAX - h->response.len ? len :
								  RESPONSE_MAX - h->response.len);
	return len;
}

/* ---- the transport ---- */

static bool has_header(const struct sink_config *c, const char *name)
{
	size_t n = strlen(name);

	for (unsigned int i = 0; i < c->n_headers; i++)
		if (!strncasecmp(c->headers[i], name, n) && c->headers[i][n] == ':')
			return true;
	return false;
}

static bool add_header(struct http_sink *h, const char *line)
{
	struct curl_slist *l = curl_slist_append(h->headers, line);

	if (!l)
		return false;
	h->headers = l;
	return true;
}

static int setup_request(struct http_sink *h, char *err, size_t errlen)
{
	const struct sink_config *c = &h->sink->cfg;
	static const char *const content_types[] = {
		[HTTP_NDJSON] = "Content-Type: application/x-ndjson",
		[HTTP_ES_BULK] = "Content-Type: application/x-ndjson",
		[HTTP_SPLUNK_HEC] = "Content-Type: application/json",
	};
	static const char *const schemes[] = {
		[HTTP_NDJSON] = "Bearer",
		[HTTP_ES_BULK] = "ApiKey",
		[HTTP_SPLUNK_HEC] = "Splunk",
	};
	CURL *e = h->easy;

	for (unsigned int i = 0; i < c->n_headers; i++)
		if (!add_header(h, c->headers[i]))
			goto nomem;
	if (!has_header(c, "Content-Type") && !add_header(h, content_types[c->shape]))
		goto nomem;
	/* No 100-continue round trip before a large body. */
	if (!add_header(h, "Expect:"))
		goto nomem;
	if (c->token_file && !has_header(c, "Authorization")) {
		char *token = secret_read_token(c->token_file, err, errlen), *line;
		bool ok;

		if (!token)
			return -1;
		if (asprintf(&line, "Authorization: %s %s", schemes[c->shape], token) < 0) {
			free(token);
			goto nomem;
		}
		ok = add_header(h, line);
		explicit_bzero(line, strlen(line));
		explicit_bzero(token, strlen(token));
		free(line);
		free(token);
		if (!ok)
			goto nomem;
	}

	if (curl_easy_setopt(e, CURLOPT_URL, c->url) != CURLE_OK) {
		snprintf(err, errlen, "url %s: not accepted by libcurl", c->url);
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 (long)(c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->curl_error);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->tls_insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->tls_ca)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca);
	if (c->tls_cert)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->tls_cert);
	if (c->tls_key)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->tls_key);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void free_state(struct http_sink *h)
{
	if (h->multi) {
		if (h->easy && h->in_flight)
			curl_multi_remove_handle(h->multi, h->easy);
		curl_multi_cleanup(h->multi);
	}
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	if (h->timer_fd >= 0) {
		if (!h->closing)
			outputs_unwatch_fd(h->sink->outputs, h->timer_fd);
		close(h->timer_fd);
	}
	if (h->has_spool)
		spool_close(&h->spool);
	free(h->batch.recs);
	free(h->batch.settled);
	buf_free(&h->batch.spool_data);
	buf_free(&h->body);
	buf_free(&h->response);
	free(h);
}

static int http_open(struct sink *s, char *err, size_t errlen)
{
	const struct sink_config *c = &s->cfg;
	struct http_sink *h;

	if (!c->url || (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))) {
		snprintf(err, errlen, "url %s: not an http:// or https:// URL",
			 c->url ? c->url : "(none)");
		return -1;
	}
	if (c->tls_server_name) {
		snprintf(err, errlen,
			 "tls.server_name does not apply to an HTTP output: the URL's host is "
			 "checked");
		return -1;
	}
	if (c->shape == HTTP_ES_BULK && !format_is_json(c->format)) {
		snprintf(err, errlen,
			 "the elasticsearch shape needs a JSON format (ecs, ocsf), not %s",
			 format_name(c->format));
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->sink = s;
	h->timer_fd = -1;
	h->curl_deadline_ms = -1;
	h->jitter_seed = (unsigned int)(monotonic_ms() ^ getpid() ^ (uintptr_t)s);
	h->spool = (struct spool){ .dir_fd = -1, .lock_fd = -1, .tail_fd = -1 };

	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	if (h->timer_fd < 0 || !h->multi || !h->easy) {
		snprintf(err, errlen, "cannot set up libcurl: %s", strerror(errno));
		goto fail;
	}
	if (setup_request(h, err, errlen))
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	if (c->spool_dir) {
		if (spool_open(&h->spool, c->spool_dir,
			       c->spool_bytes ? c->spool_bytes : DEFAULT_SPOOL_BYTES, err, errlen))
			goto fail;
		h->has_spool = true;
	}
	if (outputs_watch_fd(s->outputs, h->timer_fd, EPOLLIN, s)) {
		snprintf(err, errlen, "cannot watch the sink's timer");
		goto fail;
	}
	s->state = h;
	update_spool_stats(h);
	/* What an earlier run spooled goes out first, without waiting for a record. */
	if (h->has_spool && h->spool.events)
		start_request(h, monotonic_ms());
	return 0;
fail:
	h->closing = true; /* nothing was watched yet */
	free_state(h);
	return -1;
}

static void http_kick(struct sink *s, int64_t now_ms)
{
	struct http_sink *h = s->state;

	if (should_spill(h))
		spill_queue(h);
	start_request(h, now_ms);
}

static void http_handle_fd(struct sink *s, int fd, uint32_t events, int64_t now_ms)
{
	struct http_sink *h = s->state;
	int flags = 0;

	(void)now_ms;
	if (fd == h->timer_fd) {
		uint64_t expirations;

		if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			log_debug("%s timer: %s", sink_name(s), strerror(errno));
		h->curl_deadline_ms = -1;
		drive(h, CURL_SOCKET_TIMEOUT, 0);
		return;
	}
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	drive(h, fd, flags);
}

static void http_tick(struct sink *s, int64_t now_ms)
{
	struct http_sink *h = s->state;

	if (should_spill(h))
		spill_queue(h);
	start_request(h, now_ms);
}

/* close(): curl's sockets and timer waited on here, the loop being over. */
static void drive_until(struct http_sink *h, int64_t deadline_ms)
{
	while (h->in_flight) {
		struct pollfd fds[SOCKETS_MAX];
		unsigned int n = h->n_sockets;
		int64_t now = monotonic_ms(), wait = deadline_ms - now;
		int ready;

		if (wait <= 0)
			return;
		if (h->curl_deadline_ms >= 0 && h->curl_deadline_ms - now < wait)
			wait = h->curl_deadline_ms > now ? h->curl_deadline_ms - now : 0;
		for (unsigned int i = 0; i < n; i++)
			fds[i] = (struct pollfd){
				.fd = h->sockets[i].fd,
				.events = (h->sockets[i].events & EPOLLIN ? POLLIN : 0) |
					  (h->sockets[i].events & EPOLLOUT ? POLLOUT : 0),
			};
		ready = poll(fds, n, (int)wait);
		if (ready < 0 && errno != EINTR)
			return;
		if (ready <= 0) {
			if (h->curl_deadline_ms >= 0 && monotonic_ms() >= h->curl_deadline_ms) {
				h->curl_deadline_ms = -1;
				drive(h, CURL_SOCKET_TIMEOUT, 0);
			}
			continue;
		}
		for (unsigned int i = 0; i < n && h->in_flight; i++) {
			int flags = 0;

			if (fds[i].revents & POLLIN)
				flags |= CURL_CSELECT_IN;
			if (fds[i].revents & POLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (fds[i].revents & (POLLERR | POLLHUP))
				flags |= CURL_CSELECT_ERR;
			if (flags)
				drive(h, fds[i].fd, flags);
		}
	}
}

static void http_close(struct sink *s, int64_t deadline_ms)
{
	struct http_sink *h = s->state;
	uint64_t lost_before, lost;

	if (!h)
		return;
	/* The loop is over: from here on curl's sockets are polled here. */
	for (unsigned int i = 0; i < h->n_sockets; i++)
		outputs_unwatch_fd(s->outputs, h->sockets[i].fd);
	outputs_unwatch_fd(s->outputs, h->timer_fd);
	h->closing = true;

	/*
	 * Deliver while the receiver answers. With a spool, a receiver that is
	 * down is not waited for: what is left survives on disk.
	 */
	for (;;) {
		int64_t now = monotonic_ms();

		if (now >= deadline_ms || (h->down && h->has_spool))
			break;
		if (!h->in_flight) {
			if (h->down && h->next_attempt_ms > now) {
				int64_t wait = h->next_attempt_ms < deadline_ms ?
						       h->next_attempt_ms :
						       deadline_ms;

				usleep((wait - now) * 1000);
				continue;
			}
			/* Without a spool, closing spills nothing: queue_due() says "now". */
			start_request(h, now);
			if (!h->in_flight)
				break; /* nothing left to send */
		}
		drive_until(h, deadline_ms);
	}
	if (h->in_flight) {
		curl_multi_remove_handle(h->multi, h->easy);
		h->in_flight = false;
	}

	/*
	 * A batch from the spool stays there (settled ES items sent again, at
	 * least once); one from the queue goes to the spool, or is lost with
	 * the rest of the queue when there is none.
	 */
	lost_before = s->stats.lost[LOSS_WRITE] + s->stats.lost[LOSS_SPOOL_FULL];
	if (h->batch.from == BATCH_QUEUE)
		spill_batch(h);
	h->batch.from = BATCH_NONE;
	h->batch.n = 0;
	if (h->has_spool)
		spill_queue(h);
	if (s->count) {
		uint64_t left = s->count;

		take_from_queue(s, left);
		sink_lost(s, LOSS_WRITE, left);
	}
	lost = s->stats.lost[LOSS_WRITE] + s->stats.lost[LOSS_SPOOL_FULL] - lost_before;
	if (lost)
		log_warn("%s: %" PRIu64 " records not delivered before exit", sink_name(s), lost);
	if (h->has_spool && h->spool.events)
		log_info("%s: %" PRIu64 " records stay in the spool for the next run", sink_name(s),
			 h->spool.events);
	update_spool_stats(h);
	free_state(h);
	s->state = NULL;
}

const struct sink_ops http_sink_ops = {
	.open = http_open,
	.kick = http_kick,
	.handle_fd = http_handle_fd,
	.tick = http_tick,
	.close = http_close,
};
