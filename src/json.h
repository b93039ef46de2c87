/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one JSON module: every record berth emits is built here, as ECS
 * (nested objects, never dotted keys), and written as one line.
 */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "berth.h"
#include "detect.h"
#include "inventory.h"

/* Fields every record carries. */
struct ecs_meta {
	const char *host_name;
	const char *version;
};

/* Who a socket belongs to, as far as berth knows. */
struct attribution {
	uint64_t cgroup_id;
	const char *cgroup_path;	    /* NULL when cgroupfs did not know the id */
	const char *container_id;	    /* NULL: not a container */
	const char *runtime;		    /* from the cgroup path or the runtime */
	const struct container *container;  /* the runtime's record, or NULL */
	const struct port_binding *binding; /* the published port, or NULL */
};

/* Interval and running totals of one port, as port-stats reports them. */
struct port_stats_report {
	struct berth_port_counters interval;
	struct berth_port_counters total;
	uint8_t protocol;
	uint8_t role; /* enum berth_role */
	uint16_t port;
	unsigned int interval_s;
};

struct xdp_stats_report {
	struct berth_xdp_counters interval;
	struct berth_xdp_counters total;
	const char *interface;
	const char *xdp_mode;
	uint16_t port;
	bool unpublished; /* every port nothing publishes, together */
	uint8_t protocol;
	unsigned int interval_s;
};

/* RFC 3339, UTC, milliseconds: 2026-12-04T15:07:31.112Z. */
void format_timestamp(uint64_t realtime_ns, char out[32]);

/* "tcp", "udp" or the number. */
const char *transport_name(uint8_t protocol, char buf[8]);

/*
 * JSON text is escaped and UTF-8 decoded one way in berth: the writer here,
 * the reader (json_read.c) and the formats (format.c) share these two.
 *
 * Length and code point of the valid UTF-8 sequence (RFC 3629: shortest
 * form, no surrogates, at most U+10FFFF) at p within left bytes; 0 when
 * none starts there.
 */
size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *code_point);

/* The bytes json_escape() writes as they are: printable ASCII but '"' and '\\'. */
extern const bool json_plain[256];

/* The most json_escape() writes for len bytes of text. */
#define JSON_ESCAPED_MAX(len) ((len)*6)
/*
 * text[0..len) as the inside of a JSON string, in plain ASCII: what is not
 * printable ASCII as \u escapes, bytes that are not UTF-8 as U+FFFD. Writes
 * whole characters into out (room bytes: 12 or more, or
 * JSON_ESCAPED_MAX(len)), sets *written, and returns how much of text it
 * took.
 */
size_t json_escape(const char *text, size_t len, char *out, size_t room, size_t *written);

/*
 * One record being written: a growing buffer reused from record to record,
 * so that writing an event allocates nothing once it has grown.
 */
#define JSON_LINE_MAX_DEPTH 16
struct json_line {
	char *buf;
	size_t len, cap;
	unsigned int depth;
	uint32_t has_member; /* bit d: the container at depth d has a member */
	bool failed;	     /* out of memory or nested too deep */
	/* What the outputs' filters look at, as the record says it. */
	const char *kind, *action; /* event.kind, event.action: static strings */
	unsigned int severity;	   /* event.severity; 0 when the record has none */
	uint64_t realtime_ns;	   /* @timestamp */
};

void json_line_free(struct json_line *line);

/*
 * The records. Each replaces what line held with one complete record and
 * returns line, for json_write_line.
 */
struct json_line *ecs_connection(struct json_line *line, const struct ecs_meta *meta,
				 uint64_t realtime_ns, const struct berth_event *ev,
				 const struct attribution *who);
struct json_line *ecs_listen(struct json_line *line, const struct ecs_meta *meta,
			     uint64_t realtime_ns, const struct berth_event *ev,
			     const struct attribution *who);
struct json_line *ecs_port_stats(struct json_line *line, const struct ecs_meta *meta,
				 uint64_t realtime_ns, const struct port_stats_report *report,
				 const struct attribution *who);
/* who is NULL for a port no container publishes. */
struct json_line *ecs_xdp_port_stats(struct json_line *line, const struct ecs_meta *meta,
				     uint64_t realtime_ns, const struct xdp_stats_report *report,
				     const struct attribution *who);
/*
 * container-started or container-stopped (action), with the container's
 * labels and published ports.
 */
struct json_line *ecs_container_change(struct json_line *line, const struct ecs_meta *meta,
				       uint64_t realtime_ns, const char *action,
				       const struct container *c);
/* runtime-reconnected: the runtime's API is back after down_ms; changes found on resync. */
struct json_line *ecs_runtime_reconnected(struct json_line *line, const struct ecs_meta *meta,
					  uint64_t realtime_ns, const char *runtime,
					  const char *socket_path, uint64_t down_ms,
					  unsigned int changes);
/*
 * config-reload: the policy file was read again on SIGHUP; ok false with
 * the error when it was refused and the running policy stays.
 */
struct json_line *ecs_config_reload(struct json_line *line, const struct ecs_meta *meta,
				    uint64_t realtime_ns, const char *path, bool ok,
				    unsigned int rules, const char *error);
/* An alert of a detector (event.kind alert): rule.name, severity, the counts. */
struct json_line *ecs_alert(struct json_line *line, const struct ecs_meta *meta,
			    uint64_t realtime_ns, const struct alert *a);
/* An events-lost record: count lost in the interval, total since start. */
struct json_line *ecs_events_lost(struct json_line *line, const struct ecs_meta *meta,
				  uint64_t realtime_ns, const char *cause, uint64_t count,
				  uint64_t total);
/*
 * What an output sink lost (cause "sink-<why>": sink-queue-full,
 * sink-spool-full, ...), with berth.lost.sink naming it.
 */
struct json_line *ecs_sink_events_lost(struct json_line *line, const struct ecs_meta *meta,
				       uint64_t realtime_ns, const char *sink, const char *cause,
				       uint64_t count, uint64_t total);

/*
 * `berth ps --json`: one array of containers, each with its published
 * ports and counters[i] (all null when counters is NULL). source says where
 * the counters come from ("watch" or "observation"), since_realtime_ns when
 * they begin (0: not known), observed_s how long the observation was (0: not
 * one).
 */
struct json_line *json_container_listing(struct json_line *line,
					 const struct container *const *containers,
					 const struct berth_port_counters *counters, size_t n,
					 const char *source, uint64_t since_realtime_ns,
					 unsigned int observed_s);

/*
 * Writes the record in line, with its newline, in one fwrite and empties
 * line; 0, or -1 (errno set) when line is NULL, incomplete or failed, or
 * the write failed.
 */
int json_write_line(FILE *out, struct json_line *line);

#endif
