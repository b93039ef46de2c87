/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where records go: several sinks at once, each with its own format,
 * filters, transforms and a bounded queue, all driven by the one epoll loop.
 * A slow or dead sink fills its own queue and loses (counted) what does not
 * fit; it never blocks the kernel path or the other sinks.
 *
 *   record (ECS line) -> per sink: filter -> transform -> format -> queue
 *                     -> transport (stdout, file, syslog, HTTP) drains it
 */
#ifndef BERTH_OUTPUT_H
#define BERTH_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "format.h"

enum sink_type {
	SINK_STDOUT,
	SINK_FILE,
	SINK_SYSLOG,
	SINK_HTTP,
};

enum syslog_transport {
	SYSLOG_UDP,
	SYSLOG_TCP,  /* RFC 6587 octet counting */
	SYSLOG_TLS,  /* RFC 5425 */
	SYSLOG_UNIX, /* a datagram socket such as /dev/log, else a stream one */
};

enum http_shape {
	HTTP_NDJSON,	 /* one record per line */
	HTTP_ES_BULK,	 /* {"create":{}}\n<record>\n per record */
	HTTP_SPLUNK_HEC, /* {"time":..,"host":..,"sourcetype":..,"event":<record>} */
};

/* Why a sink lost records; each has its own counter and metric label. */
enum sink_loss {
	LOSS_QUEUE_FULL, /* the queue was at its bound */
	LOSS_FORMAT,	 /* the record could not be written in the format */
	LOSS_SPOOL_FULL, /* HTTP: receiver down and the spool at its bound */
	LOSS_REJECTED,	 /* the receiver refused them for good (HTTP 4xx) */
	LOSS_WRITE,	 /* the transport failed and could not keep them */
	LOSS__MAX,
};
const char *sink_loss_name(enum sink_loss cause); /* "queue-full", ... */

#define SINK_MAX_FILTER 16
#define SINK_MAX_FIELDS 32
#define SINK_MAX_HEADERS 8
#define OUTPUTS_MAX 16

/*
 * One sink as configured (policy `outputs:` or --output). Strings are
 * malloc'd and owned; 0 or NULL means "the default" everywhere.
 */
struct sink_config {
	char *name; /* for messages, events-lost and metrics; default the target */
	enum sink_type type;
	bool type_given;	   /* `type: stdout` in the policy */
	enum output_format format; /* default ECS; syslog: RFC 5424 */
	bool format_given;

	/* Filters: every given one must pass. None given passes everything. */
	char *kinds[SINK_MAX_FILTER]; /* event.kind */
	unsigned int n_kinds;
	char *actions[SINK_MAX_FILTER]; /* event.action */
	unsigned int n_actions;
	unsigned int min_severity; /* records without event.severity have 0 */

	char *drop_fields[SINK_MAX_FIELDS]; /* dotted ECS paths */
	unsigned int n_drop_fields;
	bool pseudonymize; /* source.ip -> keyed pseudonym (policy `privacy:`) */

	/* The queue between berth and the transport. */
	unsigned int queue_events; /* default 10000 */
	uint64_t queue_bytes;	   /* default 16 MiB */

	/* SINK_FILE */
	char *path;
	uint64_t rotate_bytes;	/* 0: no rotation by size */
	uint64_t rotate_age_ms; /* 0: no rotation by age */
	unsigned int keep;	/* rotated files kept: path.1 .. path.N; default 5 */
	bool keep_given;	/* keep: 0 deletes the file at rotation */
	uint64_t flush_ms;	/* 0: write each record at once; default 1000 */
	bool flush_given;
	bool fsync; /* fsync at every flush, not only at rotation and exit */

	/* SINK_SYSLOG */
	enum syslog_transport transport;
	char *host, *port; /* udp/tcp/tls */
	char *socket_path; /* unix */
	struct syslog_options syslog;
	char *tls_ca;		  /* CA bundle; default the system's */
	char *tls_cert, *tls_key; /* client certificate, optional */
	char *tls_server_name;	  /* checked against the certificate; default host */

	/* SINK_HTTP */
	char *url;
	enum http_shape shape;
	char *headers[SINK_MAX_HEADERS]; /* "Name: value" */
	unsigned int n_headers;
	char *token_file;	   /* Authorization: "ApiKey", "Splunk" or "Bearer" + contents */
	char *index;		   /* ES _index / HEC index, optional */
	unsigned int batch_events; /* default 500 */
	uint64_t batch_bytes;	   /* default 1 MiB */
	uint64_t batch_ms;	   /* default 1000: a batch waits no longer */
	/* HTTP: one request, default 10 s; tcp/tls syslog: unacknowledged bytes, 30 s */
	uint64_t timeout_ms;
	uint64_t retry_min_ms, retry_max_ms; /* backoff; default 500 .. 30000 */
	char *spool_dir;		     /* NULL: no spool, the queue alone */
	uint64_t spool_bytes;		     /* default 64 MiB */
	bool tls_insecure;		     /* do not verify the server (tests only) */
	unsigned int line;		     /* in the policy file, for messages */
};

void sink_config_free(struct sink_config *c);
/* Deep copy of src into dst; false when memory ran out. */
bool sink_config_copy(struct sink_config *dst, const struct sink_config *src);

/*
 * "-" (stdout), "file:PATH" or a path with a '/', "udp://HOST:PORT",
 * "tcp://HOST:PORT", "tls://HOST:PORT", "unix:PATH", "http://..." or
 * "https://...". IPv6 hosts in brackets. 0, or -1 with what is wrong in err.
 */
int sink_config_from_target(const char *target, struct sink_config *c, char *err, size_t errlen);

/* One record in a sink's queue: the message in the sink's format, unframed. */
struct queued_record {
	char *data;
	size_t len;
	uint64_t realtime_ms; /* the record's @timestamp */
};

struct sink;
struct outputs;

/*
 * The pseudonymisation key: the contents of path (16 to 64 bytes, a
 * trailing newline ignored), or, with path NULL, random bytes. 0, or -1
 * with what is wrong in err.
 */
int pseudonym_key_load(const char *path, struct pseudonym_key *key, char *err, size_t errlen);

/*
 * A transport. Every function is called from the event loop and must not
 * block: sockets are non-blocking, files are written in bounded amounts.
 */
struct sink_ops {
	/* Sets the transport up (s->state); may start connecting. 0 or -1 and err. */
	int (*open)(struct sink *s, char *err, size_t errlen);
	/* Records were queued: send what can be sent now. */
	void (*kick)(struct sink *s, int64_t now_ms);
	/* An fd registered with outputs_watch_fd() is ready (EPOLLIN/OUT/ERR). */
	void (*handle_fd)(struct sink *s, int fd, uint32_t events, int64_t now_ms);
	/* Every 100 ms: retries, flush and rotation deadlines. */
	void (*tick)(struct sink *s, int64_t now_ms);
	/*
	 * At exit: deliver what is queued until deadline_ms (monotonic), keep
	 * the rest where it survives (HTTP: the spool), free the state.
	 */
	void (*close)(struct sink *s, int64_t deadline_ms);
};

struct sink_stats {
	uint64_t delivered;	  /* records handed to the receiver */
	uint64_t lost[LOSS__MAX]; /* totals by cause */
	uint64_t queued_events, queued_bytes;
	uint64_t spooled_events, spooled_bytes; /* HTTP spool on disk */
	bool connected; /* syslog/HTTP: the receiver was reachable at last try */
};

struct sink {
	struct sink_config cfg;
	const struct sink_ops *ops;
	void *state; /* the transport's */
	struct outputs *outputs;
	/* The queue: a ring of records, bounded by cfg.queue_events and queue_bytes. */
	struct queued_record *ring;
	unsigned int head, count;
	struct sink_stats stats;
	uint64_t lost_reported[LOSS__MAX]; /* totals in the last events-lost record */
	struct buf scratch;
	bool pending; /* records queued since the last kick */
	bool opened;  /* and not closed yet: it takes records */
};

/* The transports. */
extern const struct sink_ops stdout_sink_ops, file_sink_ops, syslog_sink_ops, http_sink_ops;

/* Queue access for the transports: oldest first. */
const struct queued_record *sink_peek(const struct sink *s, unsigned int i); /* NULL past the end */
void sink_pop(struct sink *s, unsigned int n); /* n delivered records leave the queue */
/* n records the transport took from the queue (or the spool) are lost, and why. */
void sink_lost(struct sink *s, enum sink_loss cause, uint64_t n);

/* epoll registration of a transport's fds (events: EPOLLIN|EPOLLOUT...); 0 or -1. */
int outputs_watch_fd(struct outputs *o, int fd, uint32_t events, struct sink *s);
int outputs_modify_fd(struct outputs *o, int fd, uint32_t events);
void outputs_unwatch_fd(struct outputs *o, int fd);

struct outputs {
	struct sink *sinks;
	unsigned int n_sinks;
	int epoll_fd;
	struct pseudonym_key key;
	const char *host_name;
	struct {
		int fd;
		struct sink *sink;
	} fds[OUTPUTS_MAX * 4];
	unsigned int n_fds;
	struct json_doc parsed;	     /* the record being sent, read once for all sinks */
	struct json_doc transformed; /* one sink's copy of it, with its transforms */
	bool stdout_failed;	     /* stdout is closed: berth's stream has nowhere to go */
};

/*
 * Opens every configured sink (none: stdout in ECS). key may be NULL when
 * no sink pseudonymises. 0, or -1 with the sink and what failed in err.
 */
int outputs_open(struct outputs *o, const struct sink_config *configs, unsigned int n,
		 const struct pseudonym_key *key, int epoll_fd, char *err, size_t errlen);
/*
 * At exit, first: the sinks that send elsewhere (syslog, HTTP) deliver what
 * they can until deadline (monotonic ms) and close, counting the rest lost,
 * so that outputs_report_losses() can still tell stdout and the files.
 */
void outputs_close_remote(struct outputs *o, int64_t deadline_ms);
/* Delivers what it can until deadline (monotonic ms), then frees everything. */
void outputs_close(struct outputs *o, int64_t deadline_ms);

/*
 * One ECS record (a complete JSON object, no newline) to every sink whose
 * filters pass: kind and action as in event.kind/event.action, severity
 * event.severity or 0.
 */
void outputs_send(struct outputs *o, const char *json, size_t len, const char *kind,
		  const char *action, unsigned int severity, uint64_t realtime_ms);
/* The same, to every sink but except (the events-lost record of except's loss). */
void outputs_send_except(struct outputs *o, const struct sink *except, const char *json, size_t len,
			 const char *kind, const char *action, unsigned int severity,
			 uint64_t realtime_ms);

/*
 * Kicks every sink that got records since the last call: the loop calls it
 * once per wakeup, so that a burst of records costs one write, not one each.
 */
void outputs_flush(struct outputs *o);

/* The fd belongs to a sink: handled. */
bool outputs_handle_fd(struct outputs *o, int fd, uint32_t events);
void outputs_tick(struct outputs *o, int64_t now_ms);

/*
 * Calls lost(ctx, sink, cause, count since last time, total) for every
 * sink whose losses grew since the last call; the caller writes the
 * events-lost records and gives them to outputs_send_except().
 */
void outputs_report_losses(struct outputs *o,
			   void (*lost)(void *ctx, const struct sink *s, enum sink_loss cause,
					uint64_t count, uint64_t total),
			   void *ctx);

#endif
