/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one JSON module: every record berth emits is built here, as ECS
 * (nested objects, never dotted keys), and written as one line, by the one
 * JSON writer, which the formats (format.c) use too. json_read.h is the
 * reading half.
 */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "berth.h"
#include "buf.h"
#include "detect.h"
#include "inventory.h"
#include "json_read.h"

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
 * Length and code point of the valid UTF-8 sequence (RFC 3629: shortest
 * form, no surrogates, at most U+10FFFF) at p within left bytes; 0 when
 * none starts there. The writer and the formats (format.c) decode text
 * this one way.
 */
size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *code_point);

/* ---- the writer ---- */

/* Deeper than json_read() reads, with room for what a format puts around a record's values. */
#define JSON_WRITE_MAX_DEPTH (JSON_READ_MAX_DEPTH + 8)

/*
 * Compact JSON appended to a struct buf: berth's records below, and the
 * formats (format.c). out is where it goes: a format starts from
 * { .out = its buffer }; the records point it at buf, their own buffer
 * reused from record to record, so that writing an event allocates nothing
 * once it has grown. Running out of memory or nesting deeper than
 * JSON_WRITE_MAX_DEPTH marks out failed.
 */
struct json_line {
	struct buf *out;
	struct buf buf;
	unsigned int depth;
	uint64_t has_member; /* bit d: the container at depth d has a member */
	uint64_t had_member; /* bit d: depth d - 1 had one before the container at d */
	size_t begun[JSON_WRITE_MAX_DEPTH]; /* where the container at d began, its comma included */
	/* What the outputs' filters look at, as the record says it. */
	const char *kind, *action; /* event.kind, event.action: static strings */
	unsigned int severity;	   /* event.severity; 0 when the record has none */
	uint64_t realtime_ns;	   /* @timestamp */
};

/*
 * The members of an object take a key, the elements of an array and the
 * top-level value NULL. Keys are written escaped, as strings are.
 */
void json_begin_object(struct json_line *line, const char *key);
void json_begin_array(struct json_line *line, const char *key);
void json_end_object(struct json_line *line);
void json_end_array(struct json_line *line);
/*
 * Closes the object or array, or takes it back (key and comma too) when
 * nothing was put in it: OCSF leaves empty objects out. True when it stays.
 */
bool json_end_object_unless_empty(struct json_line *line);
bool json_end_array_unless_empty(struct json_line *line);
/* Nothing when text is NULL. */
void json_add_string(struct json_line *line, const char *key, const char *text);
void json_add_string_len(struct json_line *line, const char *key, const char *text, size_t len);
void json_add_uint(struct json_line *line, const char *key, uint64_t value);
void json_add_int(struct json_line *line, const char *key, long long value);
void json_add_bool(struct json_line *line, const char *key, bool value);
void json_add_null(struct json_line *line, const char *key);
/* Three decimals: rates per second, all a SIEM needs. */
void json_add_double(struct json_line *line, const char *key, double value);
/* n as json_read() read it (or a transform left it), under its own key. */
void json_add_node(struct json_line *line, const struct json_doc *doc, const struct json_node *n);

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
 * Writes what line wrote, with its newline, in one fwrite and empties
 * line; 0, or -1 (errno set) when line is NULL, incomplete or failed, or
 * the write failed.
 */
int json_write_line(FILE *out, struct json_line *line);

#endif
