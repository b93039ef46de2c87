// SPDX-License-Identifier: GPL-2.0-only
/*
 * The core of the outputs: filters, transforms and formats per sink, the
 * bounded queue, the fds of the transports in the one epoll set, and the
 * accounting of what each sink lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "output.h"

#define DEFAULT_QUEUE_EVENTS 10000
#define DEFAULT_QUEUE_BYTES (16ull << 20)

const char *sink_loss_name(enum sink_loss cause)
{
	static const char *const names[LOSS__MAX] = {
		[LOSS_QUEUE_FULL] = "queue-full", [LOSS_FORMAT] = "format",
		[LOSS_SPOOL_FULL] = "spool-full", [LOSS_REJECTED] = "rejected",
		[LOSS_WRITE] = "write-failed",
	};

	return cause < LOSS__MAX ? names[cause] : "unknown";
}

/* ---- configuration ---- */

static void free_list(char **items, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(items[i]);
}

void sink_config_free(struct sink_config *c)
{
	free(c->name);
	free_list(c->kinds, c->n_kinds);
	free_list(c->actions, c->n_actions);
	free_list(c->drop_fields, c->n_drop_fields);
	free_list(c->headers, c->n_headers);
	free(c->path);
	free(c->host);
	free(c->port);
	free(c->socket_path);
	free((char *)c->syslog.app_name);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_server_name);
	free(c->url);
	free(c->token_file);
	free(c->index);
	free(c->spool_dir);
	*c = (struct sink_config){ 0 };
}

/* Replaces the borrowed string *field with its copy; NULL (and false) when memory ran out. */
static bool own_string(char **field)
{
	if (!*field)
		return true;
	*field = strdup(*field);
	return *field != NULL;
}

bool sink_config_copy(struct sink_config *dst, const struct sink_config *src)
{
	*dst = *src; /* borrowed strings, until each is copied below */

	char **const strings[] = {
		&dst->name,
		&dst->path,
		&dst->host,
		&dst->port,
		&dst->socket_path,
		&dst->tls_ca,
		&dst->tls_cert,
		&dst->tls_key,
		&dst->tls_server_name,
		&dst->url,
		&dst->token_file,
		&dst->index,
		&dst->spool_dir,
		(char **)&dst->syslog.app_name,
	};
	struct {
		char **items;
		unsigned int n;
	} const lists[] = {
		{ dst->kinds, dst->n_kinds },
		{ dst->actions, dst->n_actions },
		{ dst->drop_fields, dst->n_drop_fields },
		{ dst->headers, dst->n_headers },
	};
	bool ok = true;

	/* Every field is copied, or NULL: dst never frees what src owns. */
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		ok &= own_string(strings[i]);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (unsigned int j = 0; j < lists[i].n; j++)
			ok &= own_string(&lists[i].items[j]);
	if (!ok)
		sink_config_free(dst);
	return ok;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port. */
static int split_host_port(const char *text, char **host, char **port)
{
	const char *colon, *host_end, *host_start = text;

	if (*text == '[') {
		host_start = text + 1;
		host_end = strchr(host_start, ']');
		if (!host_end || host_end[1] != ':')
			return -1;
		colon = host_end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', colon - text))
			return -1;
		host_end = colon;
	}
	if (host_end == host_start || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535)
		return -1;
	*host = strndup(host_start, host_end - host_start);
	*port = strdup(colon + 1);
	return *host && *port ? 0 : -1;
}

int sink_config_from_target(const char *target, struct sink_config *c, char *err, size_t errlen)
{
	static const struct {
		const char *scheme;
		enum syslog_transport transport;
	} syslog_schemes[] = {
		{ "udp://", SYSLOG_UDP },
		{ "tcp://", SYSLOG_TCP },
		{ "tls://", SYSLOG_TLS },
	};

	*c = (struct sink_config){ 0 };
	if (!target || !*target) {
		snprintf(err, errlen, "empty output target");
		return -1;
	}
	c->name = strdup(target);
	if (!strcmp(target, "-")) {
		c->type = SINK_STDOUT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(syslog_schemes) / sizeof(syslog_schemes[0]); i++) {
		size_t n = strlen(syslog_schemes[i].scheme);

		if (strncmp(target, syslog_schemes[i].scheme, n))
			continue;
		c->type = SINK_SYSLOG;
		c->transport = syslog_schemes[i].transport;
		if (split_host_port(target + n, &c->host, &c->port)) {
			snprintf(err, errlen,
				 "output '%s': expected %sHOST:PORT (an IPv6 host in brackets)",
				 target, syslog_schemes[i].scheme);
			sink_config_free(c);
			return -1;
		}
		return 0;
	}
	if (!strncmp(target, "unix:", 5)) {
		const char *path = target + 5;

		if (!strncmp(path, "//", 2))
			path += 2;
		if (*path != '/') {
			snprintf(err, errlen, "output '%s': expected unix:/ABSOLUTE/PATH", target);
			sink_config_free(c);
			return -1;
		}
		c->type = SINK_SYSLOG;
		c->transport = SYSLOG_UNIX;
		c->socket_path = strdup(path);
		return 0;
	}
	if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
		c->type = SINK_HTTP;
		c->url = strdup(target);
		/* The path says what the receiver is, unless the policy says otherwise. */
		if (strstr(target, "/_bulk"))
			c->shape = HTTP_ES_BULK;
		else if (strstr(target, "/services/collector"))
			c->shape = HTTP_SPLUNK_HEC;
		return 0;
	}
	if (!strncmp(target, "file:", 5))
		target += 5;
	else if (!strchr(target, '/')) {
		snprintf(err, errlen,
			 "output '%s': not a target: use -, file:PATH (or a path with a '/'), "
			 "udp://, tcp://, tls://HOST:PORT, unix:PATH, http:// or https://",
			 c->name);
		sink_config_free(c);
		return -1;
	}
	if (!*target) {
		snprintf(err, errlen, "output '%s': no path", c->name);
		sink_config_free(c);
		return -1;
	}
	c->type = SINK_FILE;
	c->path = strdup(target);
	return 0;
}

int pseudonym_key_load(const char *path, struct pseudonym_key *key, char *err, size_t errlen)
{
	uint8_t bytes[PSEUDONYM_KEY_MAX + 2];
	ssize_t n;
	int fd;

	*key = (struct pseudonym_key){ 0 };
	if (!path) {
		if (getrandom(key->bytes, 32, 0) != 32) {
			snprintf(err, errlen, "cannot make a random pseudonym key: %s",
				 strerror(errno));
			return -1;
		}
		key->len = 32;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "pseudonym key %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, bytes, sizeof(bytes));
	close(fd);
	if (n > 0 && bytes[n - 1] == '\n')
		n--;
	if (n < PSEUDONYM_KEY_MIN || n > PSEUDONYM_KEY_MAX) {
		snprintf(err, errlen,
			 "pseudonym key %s: %zd bytes, expected %d to %d (e.g. `head -c 32 "
			 "/dev/urandom > %s`)",
			 path, n < 0 ? (ssize_t)0 : n, PSEUDONYM_KEY_MIN, PSEUDONYM_KEY_MAX, path);
		return -1;
	}
	memcpy(key->bytes, bytes, (size_t)n);
	key->len = (unsigned int)n;
	return 0;
}

/* ---- the queue ---- */

const struct queued_record *sink_peek(const struct sink *s, unsigned int i)
{
	if (i >= s->count)
		return NULL;
	return &s->ring[(s->head + i) % s->cfg.queue_events];
}

void sink_pop(struct sink *s, unsigned int n)
{
	if (n > s->count)
		n = s->count;
	for (unsigned int i = 0; i < n; i++) {
		struct queued_record *r = &s->ring[s->head];

		s->stats.queued_bytes -= r->len;
		free(r->data);
		*r = (struct queued_record){ 0 };
		s->head = (s->head + 1) % s->cfg.queue_events;
	}
	s->count -= n;
	s->stats.queued_events = s->count;
}

void sink_lost(struct sink *s, enum sink_loss cause, uint64_t n)
{
	if (cause < LOSS__MAX)
		s->stats.lost[cause] += n;
}

static void enqueue(struct sink *s, const char *data, size_t len, uint64_t realtime_ms)
{
	struct queued_record *r;

	if (s->count >= s->cfg.queue_events || s->stats.queued_bytes + len > s->cfg.queue_bytes) {
		sink_lost(s, LOSS_QUEUE_FULL, 1);
		return;
	}
	r = &s->ring[(s->head + s->count) % s->cfg.queue_events];
	r->data = malloc(len ? len : 1);
	if (!r->data) {
		sink_lost(s, LOSS_QUEUE_FULL, 1);
		return;
	}
	memcpy(r->data, data, len);
	r->len = len;
	r->realtime_ms = realtime_ms;
	s->count++;
	s->stats.queued_events = s->count;
	s->stats.queued_bytes += len;
	s->pending = true;
	/*
	 * Records wait for the end of the loop's wakeup to go out together, but
	 * one wakeup can drain a whole ring buffer: a queue half full is sent
	 * now, so that a burst costs a write, not the records past the bound.
	 */
	if (s->ops->kick && (s->count * 2 >= s->cfg.queue_events ||
			     s->stats.queued_bytes * 2 >= s->cfg.queue_bytes)) {
		s->pending = false;
		s->ops->kick(s, monotonic_ms());
	}
}

/* ---- fds ---- */

int outputs_watch_fd(struct outputs *o, int fd, uint32_t events, struct sink *s)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (o->n_fds >= sizeof(o->fds) / sizeof(o->fds[0])) {
		errno = ENOSPC;
		return -1;
	}
	if (epoll_ctl(o->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	o->fds[o->n_fds].fd = fd;
	o->fds[o->n_fds].sink = s;
	o->n_fds++;
	return 0;
}

int outputs_modify_fd(struct outputs *o, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(o->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
}

void outputs_unwatch_fd(struct outputs *o, int fd)
{
	for (unsigned int i = 0; i < o->n_fds; i++) {
		if (o->fds[i].fd != fd)
			continue;
		epoll_ctl(o->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		o->fds[i] = o->fds[--o->n_fds];
		return;
	}
}

bool outputs_handle_fd(struct outputs *o, int fd, uint32_t events)
{
	for (unsigned int i = 0; i < o->n_fds; i++) {
		struct sink *s = o->fds[i].sink;

		if (o->fds[i].fd != fd)
			continue;
		if (s->ops->handle_fd)
			s->ops->handle_fd(s, fd, events, monotonic_ms());
		return true;
	}
	return false;
}

/* ---- opening and closing ---- */

static const struct sink_ops *ops_of(enum sink_type type)
{
	switch (type) {
	case SINK_STDOUT:
		return &stdout_sink_ops;
	case SINK_FILE:
		return &file_sink_ops;
	case SINK_SYSLOG:
		return &syslog_sink_ops;
	case SINK_HTTP:
		return &http_sink_ops;
	}
	return NULL;
}

static void apply_defaults(struct sink_config *c)
{
	if (!c->format_given && c->type == SINK_SYSLOG)
		c->format = FORMAT_RFC5424;
	if (!c->queue_events)
		c->queue_events = DEFAULT_QUEUE_EVENTS;
	if (!c->queue_bytes)
		c->queue_bytes = DEFAULT_QUEUE_BYTES;
	if (!c->syslog.facility && c->type == SINK_SYSLOG)
		c->syslog.facility = 16; /* local0 */
	/* TCP and TLS syslog: unacknowledged this long, the receiver is gone. */
	if (!c->timeout_ms && c->type == SINK_SYSLOG)
		c->timeout_ms = 30000;
	if (!c->syslog.procid)
		c->syslog.procid = (unsigned int)getpid();
	if (c->type == SINK_FILE && !c->keep && !c->keep_given)
		c->keep = 5;
	if (c->type == SINK_FILE && !c->flush_given)
		c->flush_ms = 1000;
	if (c->type == SINK_HTTP) {
		if (!c->batch_events)
			c->batch_events = 500;
		if (!c->batch_bytes)
			c->batch_bytes = 1u << 20;
		if (!c->batch_ms)
			c->batch_ms = 1000;
		if (!c->timeout_ms)
			c->timeout_ms = 10000;
		if (!c->retry_min_ms)
			c->retry_min_ms = 500;
		if (!c->retry_max_ms)
			c->retry_max_ms = 30000;
		if (!c->spool_bytes)
			c->spool_bytes = 64ull << 20;
	}
}

int outputs_open(struct outputs *o, const struct sink_config *configs, unsigned int n,
		 const struct pseudonym_key *key, int epoll_fd, char *err, size_t errlen)
{
	struct sink_config stdout_only = { .type = SINK_STDOUT };

	o->epoll_fd = epoll_fd;
	if (key)
		o->key = *key;
	if (!n) {
		configs = &stdout_only;
		n = 1;
	}
	o->sinks = calloc(n, sizeof(*o->sinks));
	if (!o->sinks) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct sink *s = &o->sinks[i];

		if (!sink_config_copy(&s->cfg, &configs[i])) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		o->n_sinks++;
		if (!s->cfg.name)
			s->cfg.name = strdup(s->cfg.type == SINK_STDOUT ? "stdout" : "output");
		apply_defaults(&s->cfg);
		if (s->cfg.pseudonymize && o->key.len < PSEUDONYM_KEY_MIN) {
			snprintf(err, errlen,
				 "output %s: pseudonymize needs a key of %d bytes or more",
				 s->cfg.name, PSEUDONYM_KEY_MIN);
			return -1;
		}
		s->outputs = o;
		s->ops = ops_of(s->cfg.type);
		if (!s->ops || !s->ops->open) {
			snprintf(err, errlen, "output %s: this kind of output is not built in",
				 s->cfg.name);
			return -1;
		}
		s->ring = calloc(s->cfg.queue_events, sizeof(*s->ring));
		if (!s->ring) {
			snprintf(err, errlen, "output %s: cannot allocate a queue of %u records",
				 s->cfg.name, s->cfg.queue_events);
			return -1;
		}
		if (s->ops->open(s, err, errlen))
			return -1;
		s->opened = true;
	}
	return 0;
}

/* Ends a sink's delivery (what it could not deliver by deadline is counted lost). */
static void close_sink(struct sink *s, int64_t deadline_ms)
{
	if (s->opened && s->ops->close)
		s->ops->close(s, deadline_ms);
	s->opened = false;
}

/* stdout and files do not lose at exit but to a failing disk or reader. */
static bool writes_locally(const struct sink *s)
{
	return s->cfg.type == SINK_STDOUT || s->cfg.type == SINK_FILE;
}

void outputs_close_remote(struct outputs *o, int64_t deadline_ms)
{
	for (unsigned int i = 0; i < o->n_sinks; i++)
		if (!writes_locally(&o->sinks[i]))
			close_sink(&o->sinks[i], deadline_ms);
}

void outputs_close(struct outputs *o, int64_t deadline_ms)
{
	for (unsigned int i = 0; i < o->n_sinks; i++) {
		struct sink *s = &o->sinks[i];

		close_sink(s, deadline_ms);
		sink_pop(s, s->count);
		free(s->ring);
		buf_free(&s->scratch);
		sink_config_free(&s->cfg);
	}
	free(o->sinks);
	o->sinks = NULL;
	o->n_sinks = 0;
	json_doc_free(&o->parsed);
	json_doc_free(&o->transformed);
}

/* ---- sending ---- */

static bool listed(char *const *items, unsigned int n, const char *value)
{
	if (!n)
		return true;
	for (unsigned int i = 0; i < n; i++)
		if (value && !strcmp(items[i], value))
			return true;
	return false;
}

static bool passes(const struct sink_config *c, const char *kind, const char *action,
		   unsigned int severity)
{
	return listed(c->kinds, c->n_kinds, kind) && listed(c->actions, c->n_actions, action) &&
	       severity >= c->min_severity;
}

/* The record as the sink wants it, in s->scratch; false when it cannot be made. */
static bool render(struct outputs *o, struct sink *s, const char *json, size_t len)
{
	const struct sink_config *c = &s->cfg;
	bool transformed = c->pseudonymize || c->n_drop_fields;
	const struct json_doc *record = &o->parsed;
	int err = 0;

	buf_reset(&s->scratch);
	if (c->format == FORMAT_ECS && !transformed && c->type != SINK_SYSLOG)
		return buf_append(&s->scratch, json, len);
	if (!o->parsed.n_nodes && json_read(&o->parsed, json, len))
		return false;
	if (transformed) {
		if (json_doc_copy(&o->transformed, &o->parsed))
			return false;
		if (c->pseudonymize)
			record_pseudonymize(&o->transformed, &o->key);
		if (c->n_drop_fields)
			record_drop_fields(&o->transformed, c->drop_fields, c->n_drop_fields);
		record = &o->transformed;
	}
	/* A syslog sink carries the other formats as the MSG of an RFC 5424 message. */
	if (c->type == SINK_SYSLOG && c->format != FORMAT_RFC5424) {
		err = format_syslog_header(record, &c->syslog, &s->scratch);
		if (!err)
			buf_append(&s->scratch, "- ", 2);
	}
	if (!err) {
		if (c->format == FORMAT_ECS && !transformed)
			buf_append(&s->scratch, json, len);
		else
			err = format_record(c->format, record, &c->syslog, &s->scratch);
	}
	return !err && !s->scratch.failed;
}

void outputs_send_except(struct outputs *o, const struct sink *except, const char *json, size_t len,
			 const char *kind, const char *action, unsigned int severity,
			 uint64_t realtime_ms)
{
	for (unsigned int i = 0; i < o->n_sinks; i++) {
		struct sink *s = &o->sinks[i];

		if (s == except || !s->opened || !passes(&s->cfg, kind, action, severity))
			continue;
		if (!render(o, s, json, len)) {
			sink_lost(s, LOSS_FORMAT, 1);
			continue;
		}
		enqueue(s, s->scratch.data, s->scratch.len, realtime_ms);
	}
	o->parsed.n_nodes = 0; /* the next record is read again */
}

void outputs_send(struct outputs *o, const char *json, size_t len, const char *kind,
		  const char *action, unsigned int severity, uint64_t realtime_ms)
{
	outputs_send_except(o, NULL, json, len, kind, action, severity, realtime_ms);
}

void outputs_flush(struct outputs *o)
{
	int64_t now = -1;

	for (unsigned int i = 0; i < o->n_sinks; i++) {
		struct sink *s = &o->sinks[i];

		if (!s->pending || !s->opened)
			continue;
		s->pending = false;
		if (now < 0)
			now = monotonic_ms();
		if (s->ops->kick)
			s->ops->kick(s, now);
	}
}

void outputs_tick(struct outputs *o, int64_t now_ms)
{
	for (unsigned int i = 0; i < o->n_sinks; i++) {
		struct sink *s = &o->sinks[i];

		if (s->opened && s->ops->tick)
			s->ops->tick(s, now_ms);
	}
}

void outputs_report_losses(struct outputs *o,
			   void (*lost)(void *ctx, const struct sink *s, enum sink_loss cause,
					uint64_t count, uint64_t total),
			   void *ctx)
{
	for (unsigned int i = 0; i < o->n_sinks; i++) {
		struct sink *s = &o->sinks[i];

		for (int cause = 0; cause < LOSS__MAX; cause++) {
			uint64_t total = s->stats.lost[cause];

			if (total == s->lost_reported[cause])
				continue;
			lost(ctx, s, cause, total - s->lost_reported[cause], total);
			s->lost_reported[cause] = total;
		}
	}
}
