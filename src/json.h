/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one JSON module: every record berth emits is built here, as ECS
 * (nested objects, never dotted keys), and written as one line.
 */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "berth.h"
#include "inventory.h"

/* Fields every record carries. */
struct ecs_meta {
	const char *host_name;
	const char *version;
};

/* Who a socket belongs to, as far as berth knows. */
struct attribution {
	uint64_t cgroup_id;
	const char *cgroup_path;  /* NULL when cgroupfs did not know the id */
	const char *container_id; /* NULL: not a container */
	const char *container_name;
	const char *image;
	const char *runtime;
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
	uint8_t protocol;
	unsigned int interval_s;
};

/* RFC 3339, UTC, milliseconds: 2026-12-04T15:07:31.112Z. */
void format_timestamp(uint64_t realtime_ns, char out[32]);

/* "tcp", "udp" or the number. */
const char *transport_name(uint8_t protocol, char buf[8]);

json_t *ecs_connection(const struct ecs_meta *meta, uint64_t realtime_ns,
		       const struct berth_event *ev, const struct attribution *who);
json_t *ecs_listen(const struct ecs_meta *meta, uint64_t realtime_ns, const struct berth_event *ev,
		   const struct attribution *who);
json_t *ecs_port_stats(const struct ecs_meta *meta, uint64_t realtime_ns,
		       const struct port_stats_report *report, const struct attribution *who);
json_t *ecs_xdp_port_stats(const struct ecs_meta *meta, uint64_t realtime_ns,
			   const struct xdp_stats_report *report, const struct attribution *who);
/* An events-lost record: count lost in the interval, total since start. */
json_t *ecs_events_lost(const struct ecs_meta *meta, uint64_t realtime_ns, const char *cause,
			uint64_t count, uint64_t total);

/* Writes rec as one compact line and releases it; 0 or -1 (errno set). */
int json_write_line(FILE *out, json_t *rec);

#endif
