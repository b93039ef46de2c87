/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `berth watch --metrics-listen ADDR`: a Prometheus endpoint. A small
 * HTTP/1.1 server, non-blocking and driven by watch's one epoll loop, that
 * answers GET /metrics with the text exposition format (0.0.4) of what
 * watch already keeps: per container and published port counters, alerts,
 * losses by cause, ring buffer use, map fill, sink queues, program run time.
 *
 * The exposition is made from a struct metrics_view by metrics_render(),
 * which touches neither the kernel nor the network (unit-tested on
 * synthetic views). docs/metrics.md lists every family.
 */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "berth.h"
#include "buf.h"

struct stats;
struct outputs;
struct container;
struct port_binding;
struct bpf_object;

/* HTTP limits: a scraper needs little, anything else is cut short. */
#define METRICS_CLIENTS_MAX 16	       /* connections at once; more are closed */
#define METRICS_REQUEST_MAX 8192       /* request line and headers */
#define METRICS_CLIENT_TIMEOUT_MS 5000 /* from accept to the last byte sent */

#define METRICS_EVICTIONS_MAX 8
#define METRICS_MAPS_MAX 32
#define METRICS_PROGRAMS_MAX 16
/* Distinct (rule, action) pairs counted; more go under rule="other". */
#define METRICS_ALERT_PAIRS_MAX 256

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Alerts by rule and action since start. */
struct metrics_alert_count {
	char *rule, *action;
	uint64_t count;
};

struct metrics_alerts {
	struct metrics_alert_count *items;
	unsigned int n;
	uint64_t other; /* past METRICS_ALERT_PAIRS_MAX pairs */
};

void metrics_alerts_add(struct metrics_alerts *a, const char *rule, const char *action);
void metrics_alerts_free(struct metrics_alerts *a);

/* What an LRU map evicted since start (inserts minus live entries). */
struct metrics_eviction {
	const char *map;   /* "xdp_sources" */
	const char *cause; /* the events-lost cause it is reported as: "xdp-source-evicted" */
	uint64_t total;
};

struct metrics_map_fill {
	const char *name;
	uint64_t entries, max_entries;
};

struct metrics_program {
	const char *name;
	uint64_t run_time_ns, runs;
};

/*
 * Everything a scrape reports. watch.c fills the first part (its fill
 * callback); metrics.c adds the rest from the kernel, then renders.
 */
struct metrics_view {
	const char *version;
	double start_time_s; /* the process's, Unix time */

	/*
	 * Port counters as last read (watch's stats interval), and how they
	 * join the inventory: the container and binding that publish a
	 * socket-view key (role LOCAL; false: not a published port of a
	 * container), the same for an interface-view host port, and an
	 * interface's name. Any callback may be NULL: that view is left out.
	 */
	const struct stats *stats;
	bool (*port_owner)(void *ctx, const struct berth_port_key *key, const struct container **c,
			   const struct port_binding **b);
	bool (*host_port_owner)(void *ctx, uint16_t host_port, uint8_t protocol,
				const struct container **c, const struct port_binding **b);
	const char *(*interface_name)(void *ctx, uint32_t ifindex);
	void *ctx;

	const struct metrics_alerts *alerts;
	/* User-side losses (kernel ones come from stats->health). */
	uint64_t detector_evictions;
	struct metrics_eviction evictions[METRICS_EVICTIONS_MAX];
	unsigned int n_evictions;

	const struct outputs *outputs; /* NULL: no sinks reported */

	/* From the kernel at scrape time. */
	bool has_ringbuf;
	uint64_t ringbuf_used_bytes, ringbuf_size_bytes;
	struct metrics_map_fill maps[METRICS_MAPS_MAX];
	unsigned int n_maps;
	bool bpf_stats_enabled;
	struct metrics_program programs[METRICS_PROGRAMS_MAX];
	unsigned int n_programs;

	/* The endpoint itself, when it asks for a token. */
	bool token_required;
	uint64_t unauthorized_requests;
};

/*
 * Appends the exposition of view to out. Families in a fixed order, each
 * with # HELP and # TYPE and all its samples together; series whose labels
 * coincide are summed into one. 0, or -1 when memory ran out.
 */
int metrics_render(const struct metrics_view *view, struct buf *out);

/*
 * "a.b.c.d:port" or "[v6]:port" (port 0: any free one). 0, or -1 with what
 * is wrong in err.
 */
int metrics_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *len,
			  char *err, size_t errlen);

/* Where a scrape's figures come from. */
struct metrics_source {
	void (*fill)(void *ctx, struct metrics_view *view); /* at each scrape */
	void *ctx;
	struct bpf_object *obj; /* its maps' fill and programs' run time; may be NULL */
	int ringbuf_fd;		/* the BPF_MAP_TYPE_RINGBUF map, or -1 */
	/* Scrapes must send "Authorization: Bearer TOKEN"; NULL: none needed. Copied. */
	const char *bearer_token;
	/* HTTPS with this PEM certificate chain and key (NULL: in the cert file). */
	const char *tls_cert, *tls_key;
};

struct metrics;

/*
 * Listens on address (as metrics_parse_address) and registers the socket
 * with epoll_fd (data.fd = the fd). NULL with the flag and what failed in
 * err.
 */
struct metrics *metrics_open(const char *address, int epoll_fd, const struct metrics_source *src,
			     char *err, size_t errlen);
/* The fd is the server's or one of its clients': handled, true. m may be NULL. */
bool metrics_handle_fd(struct metrics *m, int fd, uint32_t events);
/* Closes clients past their deadline; call every ~100 ms. m may be NULL. */
void metrics_tick(struct metrics *m, int64_t now_ms);
/* One alert went out. m may be NULL. */
void metrics_count_alert(struct metrics *m, const char *rule, const char *action);
/* The port listened on (the one chosen for port 0). */
uint16_t metrics_port(const struct metrics *m);
void metrics_close(struct metrics *m);

#endif
