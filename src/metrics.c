// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Prometheus endpoint of `berth watch --metrics-listen`: the exposition
 * (metrics_render, pure: a view in, text out), what a scrape reads from the
 * kernel (ring buffer positions, map fill, program run time), and a small
 * HTTP/1.1 server on the watch's epoll loop. The server never blocks: it
 * reads what is there, renders into a buffer and writes what the socket
 * takes; a client that is slow, idle or hostile hits a bound (request size,
 * client count, a deadline) and is closed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "inventory.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "output.h"
#include "secret.h"
#include "stats.h"

/*
 * Counting a map's entries is one bpf_map_get_next_key() per entry: ~320k
 * syscalls when every map is full. Counts are kept this long, so a scraper
 * that polls fast costs no more than one that polls every 10 s.
 */
#define MAP_FILL_REFRESH_MS 10000

/* ------------------------------------------------------------ exposition */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no UTF-16 surrogates, nothing past U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf) /* also stops at the NUL */
			return 0;
	return n;
}

/*
 * A label value: backslash, double quote and newline escaped as the text
 * format asks, and bytes that are not UTF-8 (which Prometheus refuses, the
 * whole scrape with them) replaced by U+FFFD.
 */
static void put_label_value(struct buf *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)(value ? value : "");

	while (*p) {
		size_t n = utf8_sequence(p);

		if (!n) {
			buf_puts(b, "\xef\xbf\xbd");
			p++;
			continue;
		}
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else if (*p == '"')
			buf_puts(b, "\\\"");
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, p, n);
		p += n;
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	/* Help texts are ours and hold neither backslashes nor newlines. */
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct prom_label {
	const char *name, *value;
};

static void sample_start(struct buf *b, const char *name, const struct prom_label *labels,
			 unsigned int n_labels)
{
	buf_puts(b, name);
	if (!n_labels)
		return;
	buf_putc(b, '{');
	for (unsigned int i = 0; i < n_labels; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
		put_label_value(b, labels[i].value);
		buf_putc(b, '"');
	}
	buf_putc(b, '}');
}

static void sample(struct buf *b, const char *name, const struct prom_label *labels,
		   unsigned int n_labels, uint64_t value)
{
	sample_start(b, name, labels, n_labels);
	buf_printf(b, " %" PRIu64 "\n", value);
}

/*
 * Samples of the small families, one or two label values each (rule and
 * action, sink and cause...): sorted, and those with the same labels summed,
 * so that no series appears twice whatever the names.
 */
struct named_value {
	const char *a, *b;
	uint64_t value;
};

static int compare_text(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "");
}

static int compare_named(const void *x, const void *y)
{
	const struct named_value *p = x, *q = y;
	int d = compare_text(p->a, q->a);

	return d ? d : compare_text(p->b, q->b);
}

static unsigned int sort_and_merge(struct named_value *items, unsigned int n)
{
	unsigned int out = 0;

	qsort(items, n, sizeof(*items), compare_named);
	for (unsigned int i = 0; i < n; i++) {
		if (out && !compare_named(&items[out - 1], &items[i]))
			items[out - 1].value += items[i].value;
		else
			items[out++] = items[i];
	}
	return out;
}

/* One family of named values; label_b NULL for families with one label. */
static void named_family(struct buf *b, const char *name, const char *type, const char *help,
			 const char *label_a, const char *label_b, struct named_value *items,
			 unsigned int n)
{
	n = sort_and_merge(items, n);
	if (!n)
		return;
	family(b, name, type, help);
	for (unsigned int i = 0; i < n; i++) {
		struct prom_label labels[2] = { { label_a, items[i].a }, { label_b, items[i].b } };

		sample(b, name, labels, label_b ? 2 : 1, items[i].value);
	}
}

/* One published port's counters, in either view. */
enum { PORT_OPENED, PORT_CLOSED, PORT_BYTES_IN, PORT_BYTES_OUT, PORT_PKTS_IN, PORT_PKTS_OUT };
enum { XDP_PACKETS, XDP_BYTES, XDP_SYNS, XDP_SYNS_DROPPED };

struct port_series {
	const char *interface; /* interface view only */
	const char *container, *container_id, *image, *host_ip;
	uint16_t host_port, container_port;
	uint8_t protocol;
	uint64_t counters[6];
};

static int compare_series(const void *x, const void *y)
{
	const struct port_series *p = x, *q = y;
	int d;

	if ((d = compare_text(p->interface, q->interface)) ||
	    (d = compare_text(p->container, q->container)) ||
	    (d = compare_text(p->container_id, q->container_id)) ||
	    (d = compare_text(p->image, q->image)) || (d = compare_text(p->host_ip, q->host_ip)))
		return d;
	if (p->host_port != q->host_port)
		return p->host_port < q->host_port ? -1 : 1;
	if (p->container_port != q->container_port)
		return p->container_port < q->container_port ? -1 : 1;
	return (int)p->protocol - (int)q->protocol;
}

static unsigned int sort_and_merge_series(struct port_series *s, unsigned int n)
{
	unsigned int out = 0;

	qsort(s, n, sizeof(*s), compare_series);
	for (unsigned int i = 0; i < n; i++) {
		if (out && !compare_series(&s[out - 1], &s[i])) {
			for (int k = 0; k < 6; k++)
				s[out - 1].counters[k] += s[i].counters[k];
		} else {
			s[out++] = s[i];
		}
	}
	return out;
}

static void series_owner(struct port_series *s, const struct container *c,
			 const struct port_binding *b)
{
	s->container = c->name;
	s->container_id = c->id;
	s->image = c->image;
	s->host_ip = b->host_ip;
	s->host_port = b->host_port;
	s->container_port = b->container_port;
	s->protocol = b->protocol;
}

/* Labels of a series, with direction when given; returns how many. */
static unsigned int series_labels(const struct port_series *s, struct prom_label *labels,
				  char host_port[8], char container_port[8], char protocol[8],
				  const char *direction)
{
	unsigned int n = 0;

	snprintf(host_port, 8, "%u", s->host_port);
	snprintf(container_port, 8, "%u", s->container_port);
	if (s->interface)
		labels[n++] = (struct prom_label){ "interface", s->interface };
	labels[n++] = (struct prom_label){ "container", s->container };
	labels[n++] = (struct prom_label){ "container_id", s->container_id };
	labels[n++] = (struct prom_label){ "image", s->image };
	labels[n++] = (struct prom_label){ "host_ip", s->host_ip };
	labels[n++] = (struct prom_label){ "host_port", host_port };
	labels[n++] = (struct prom_label){ "container_port", container_port };
	labels[n++] = (struct prom_label){ "protocol", transport_name(s->protocol, protocol) };
	if (direction)
		labels[n++] = (struct prom_label){ "direction", direction };
	return n;
}

/*
 * A counter family over the series: counter index `in` (and `out` for the
 * families split by direction, -1 otherwise).
 */
static void series_family(struct buf *b, const struct port_series *s, unsigned int n,
			  const char *name, const char *help, int in, int out)
{
	if (!n)
		return;
	family(b, name, "counter", help);
	for (unsigned int i = 0; i < n; i++) {
		struct prom_label labels[10];
		char host_port[8], container_port[8], protocol[8];
		unsigned int k;

		k = series_labels(&s[i], labels, host_port, container_port, protocol,
				  out >= 0 ? "in" : NULL);
		sample(b, name, labels, k, s[i].counters[in]);
		if (out < 0)
			continue;
		labels[k - 1].value = "out";
		sample(b, name, labels, k, s[i].counters[out]);
	}
}

/* Socket view: the cgroup programs' counters of each container's published ports. */
static int render_socket_view(const struct metrics_view *v, struct buf *b)
{
	struct port_series *series;
	struct berth_port_key *key;
	struct port_entry *entry;
	unsigned int n = 0;
	size_t iter = 0;

	if (!v->stats || !v->port_owner || !v->stats->ports.count)
		return 0;
	series = calloc(v->stats->ports.count, sizeof(*series));
	if (!series)
		return -1;
	while (hashmap_next(&v->stats->ports, &iter, (void **)&key, (void **)&entry)) {
		const struct container *c = NULL;
		const struct port_binding *binding = NULL;
		struct port_series *s = &series[n];

		if (n == v->stats->ports.count || key->role != BERTH_ROLE_LOCAL ||
		    !v->port_owner(v->ctx, key, &c, &binding) || !c || !binding)
			continue;
		series_owner(s, c, binding);
		s->counters[PORT_OPENED] = entry->total.conns_opened;
		s->counters[PORT_CLOSED] = entry->total.conns_closed;
		s->counters[PORT_BYTES_IN] = entry->total.bytes_in;
		s->counters[PORT_BYTES_OUT] = entry->total.bytes_out;
		s->counters[PORT_PKTS_IN] = entry->total.packets_in;
		s->counters[PORT_PKTS_OUT] = entry->total.packets_out;
		n++;
	}
	n = sort_and_merge_series(series, n);
	series_family(b, series, n, "berth_port_connections_opened_total",
		      "TCP connections a container accepted on a published port (socket view).",
		      PORT_OPENED, -1);
	series_family(b, series, n, "berth_port_connections_closed_total",
		      "TCP connections on a published port that closed (socket view).", PORT_CLOSED,
		      -1);
	series_family(b, series, n, "berth_port_bytes_total",
		      "L4 payload bytes a container received (in) and sent (out) on a published "
		      "port (socket view).",
		      PORT_BYTES_IN, PORT_BYTES_OUT);
	series_family(b, series, n, "berth_port_packets_total",
		      "Segments a container received (in) and sent (out) on a published port "
		      "(socket view).",
		      PORT_PKTS_IN, PORT_PKTS_OUT);
	free(series);
	return 0;
}

/* Interface view: XDP's counters of each published host port, per interface. */
static int render_interface_view(const struct metrics_view *v, struct buf *b)
{
	struct berth_xdp_port_key *key;
	struct port_series *series;
	struct xdp_entry *entry;
	unsigned int n = 0;
	size_t iter = 0;
	char(*names)[IF_NAMESIZE + 16];

	if (!v->stats || !v->host_port_owner || !v->stats->xdp.count)
		return 0;
	series = calloc(v->stats->xdp.count, sizeof(*series));
	names = calloc(v->stats->xdp.count, sizeof(*names));
	if (!series || !names) {
		free(series);
		free(names);
		return -1;
	}
	while (hashmap_next(&v->stats->xdp, &iter, (void **)&key, (void **)&entry)) {
		const struct container *c = NULL;
		const struct port_binding *binding = NULL;
		struct port_series *s = &series[n];
		const char *ifname =
			v->interface_name ? v->interface_name(v->ctx, key->ifindex) : NULL;

		/* Unpublished ports together (port 0) have no container to name. */
		if (n == v->stats->xdp.count || key->port == BERTH_UNPUBLISHED_PORT ||
		    !v->host_port_owner(v->ctx, key->port, key->protocol, &c, &binding) || !c ||
		    !binding)
			continue;
		if (ifname)
			snprintf(names[n], sizeof(names[n]), "%s", ifname);
		else
			snprintf(names[n], sizeof(names[n]), "ifindex-%u", key->ifindex);
		series_owner(s, c, binding);
		s->interface = names[n];
		/* The host port XDP saw, whichever binding of it the inventory chose. */
		s->host_port = key->port;
		s->protocol = key->protocol;
		s->counters[XDP_PACKETS] = entry->total.packets;
		s->counters[XDP_BYTES] = entry->total.bytes;
		s->counters[XDP_SYNS] = entry->total.syns;
		s->counters[XDP_SYNS_DROPPED] = entry->total.syns_dropped;
		n++;
	}
	n = sort_and_merge_series(series, n);
	series_family(b, series, n, "berth_interface_packets_total",
		      "Packets to a published host port seen by XDP on a host interface "
		      "(interface view).",
		      XDP_PACKETS, -1);
	series_family(b, series, n, "berth_interface_bytes_total",
		      "Frame bytes (from the Ethernet header on) to a published host port seen by "
		      "XDP (interface view).",
		      XDP_BYTES, -1);
	series_family(b, series, n, "berth_interface_syns_total",
		      "TCP SYNs (connection attempts) to a published host port seen by XDP "
		      "(interface view).",
		      XDP_SYNS, -1);
	series_family(b, series, n, "berth_interface_syns_dropped_total",
		      "SYNs to a published host port that XDP dropped for an enforcing rule "
		      "(interface view).",
		      XDP_SYNS_DROPPED, -1);
	free(series);
	free(names);
	return 0;
}

static int render_alerts(const struct metrics_view *v, struct buf *b)
{
	const struct metrics_alerts *a = v->alerts;
	struct named_value *items;
	unsigned int n = 0;

	if (!a || (!a->n && !a->other))
		return 0;
	items = calloc(a->n + 1, sizeof(*items));
	if (!items)
		return -1;
	for (unsigned int i = 0; i < a->n; i++)
		items[n++] = (struct named_value){ a->items[i].rule, a->items[i].action,
						   a->items[i].count };
	if (a->other)
		items[n++] = (struct named_value){ "other", "other", a->other };
	named_family(b, "berth_alerts_total", "counter",
		     "Alerts berth raised, by policy rule (or detector) and action.", "rule",
		     "action", items, n);
	free(items);
	return 0;
}

static void render_losses(const struct metrics_view *v, struct buf *b)
{
	struct named_value lost[BERTH_CNT__MAX + 1 + METRICS_EVICTIONS_MAX];
	struct named_value evicted[METRICS_EVICTIONS_MAX];
	unsigned int n = 0, n_evicted = 0;

	if (v->stats) {
		for (int i = 0; i < BERTH_CNT__MAX; i++) {
			const char *cause = health_loss_cause(i);

			if (cause)
				lost[n++] =
					(struct named_value){ cause, NULL, v->stats->health[i] };
		}
	}
	lost[n++] = (struct named_value){ "detector-state-evicted", NULL, v->detector_evictions };
	for (unsigned int i = 0; i < v->n_evictions && i < METRICS_EVICTIONS_MAX; i++) {
		lost[n++] =
			(struct named_value){ v->evictions[i].cause, NULL, v->evictions[i].total };
		evicted[n_evicted++] =
			(struct named_value){ v->evictions[i].map, NULL, v->evictions[i].total };
	}
	named_family(b, "berth_events_lost_total", "counter",
		     "Events and counts berth lost, by cause (each is also an events-lost record).",
		     "cause", NULL, lost, n);
	named_family(b, "berth_bpf_map_evictions_total", "counter",
		     "Entries an LRU map of berth's evicted to make room (inserts minus live "
		     "entries).",
		     "map", NULL, evicted, n_evicted);
}

static void render_kernel(const struct metrics_view *v, struct buf *b)
{
	struct named_value items[METRICS_MAPS_MAX];
	unsigned int n = 0;

	if (v->has_ringbuf) {
		family(b, "berth_ringbuf_used_bytes", "gauge",
		       "Bytes in the kernel-to-user ring buffer not consumed yet (producer minus "
		       "consumer position).");
		sample(b, "berth_ringbuf_used_bytes", NULL, 0, v->ringbuf_used_bytes);
		family(b, "berth_ringbuf_size_bytes", "gauge", "Size of the ring buffer.");
		sample(b, "berth_ringbuf_size_bytes", NULL, 0, v->ringbuf_size_bytes);
	}
	for (unsigned int i = 0; i < v->n_maps && i < METRICS_MAPS_MAX; i++)
		items[n++] = (struct named_value){ v->maps[i].name, NULL, v->maps[i].entries };
	named_family(b, "berth_bpf_map_entries", "gauge",
		     "Entries in a kernel map of berth's (counted at most every 10 s).", "map",
		     NULL, items, n);
	n = 0;
	for (unsigned int i = 0; i < v->n_maps && i < METRICS_MAPS_MAX; i++)
		items[n++] = (struct named_value){ v->maps[i].name, NULL, v->maps[i].max_entries };
	named_family(b, "berth_bpf_map_max_entries", "gauge",
		     "Capacity of a kernel map of berth's.", "map", NULL, items, n);
}

/* The per-sink families but the losses: which figure, and of which sinks. */
enum sink_figure {
	SINK_DELIVERED,
	SINK_QUEUE_EVENTS,
	SINK_QUEUE_BYTES,
	SINK_SPOOL_EVENTS,
	SINK_SPOOL_BYTES,
	SINK_CONNECTED,
};

static const struct {
	const char *name, *type, *help;
	enum sink_figure figure;
} sink_families[] = {
	{ "berth_sink_events_delivered_total", "counter",
	  "Records a sink delivered: acknowledged by the receiver's TCP (syslog "
	  "streams), answered 2xx (HTTP), written (the others).",
	  SINK_DELIVERED },
	{ "berth_sink_queue_events", "gauge",
	  "Records waiting in a sink's queue, written but unacknowledged ones "
	  "included.",
	  SINK_QUEUE_EVENTS },
	{ "berth_sink_queue_bytes", "gauge", "Bytes waiting in a sink's queue.", SINK_QUEUE_BYTES },
	{ "berth_sink_spool_events", "gauge",
	  "Records in an HTTP sink's on-disk spool, waiting for the receiver.", SINK_SPOOL_EVENTS },
	{ "berth_sink_spool_bytes", "gauge", "Bytes in an HTTP sink's on-disk spool.",
	  SINK_SPOOL_BYTES },
	{ "berth_sink_connected", "gauge",
	  "1 when a network sink's receiver was reachable at the last try, else 0.",
	  SINK_CONNECTED },
};

/* The figure of s, or false when s has none (a spool of a sink without one). */
static bool sink_value(const struct sink *s, enum sink_figure figure, uint64_t *value)
{
	bool http = s->cfg.type == SINK_HTTP, network = http || s->cfg.type == SINK_SYSLOG;

	switch (figure) {
	case SINK_DELIVERED:
		*value = s->stats.delivered;
		return true;
	case SINK_QUEUE_EVENTS:
		*value = s->stats.queued_events;
		return true;
	case SINK_QUEUE_BYTES:
		*value = s->stats.queued_bytes;
		return true;
	case SINK_SPOOL_EVENTS:
		*value = s->stats.spooled_events;
		return http;
	case SINK_SPOOL_BYTES:
		*value = s->stats.spooled_bytes;
		return http;
	case SINK_CONNECTED:
		*value = s->stats.connected;
		return network;
	}
	return false;
}

static int render_sinks(const struct metrics_view *v, struct buf *b)
{
	const struct outputs *o = v->outputs;
	struct named_value *items;
	unsigned int n = 0;

	if (!o || !o->n_sinks)
		return 0;
	items = calloc((size_t)o->n_sinks * LOSS__MAX, sizeof(*items));
	if (!items)
		return -1;
	for (unsigned int i = 0; i < o->n_sinks; i++)
		for (int cause = 0; cause < LOSS__MAX; cause++)
			items[n++] =
				(struct named_value){ o->sinks[i].cfg.name, sink_loss_name(cause),
						      o->sinks[i].stats.lost[cause] };
	named_family(b, "berth_sink_events_lost_total", "counter",
		     "Records a sink lost, by cause (queue-full, format, spool-full, rejected, "
		     "write-failed).",
		     "sink", "cause", items, n);
	for (size_t f = 0; f < sizeof(sink_families) / sizeof(sink_families[0]); f++) {
		n = 0;
		for (unsigned int i = 0; i < o->n_sinks; i++) {
			uint64_t value;

			if (sink_value(&o->sinks[i], sink_families[f].figure, &value))
				items[n++] =
					(struct named_value){ o->sinks[i].cfg.name, NULL, value };
		}
		named_family(b, sink_families[f].name, sink_families[f].type, sink_families[f].help,
			     "sink", NULL, items, n);
	}
	free(items);
	return 0;
}

static void render_programs(const struct metrics_view *v, struct buf *b)
{
	struct named_value items[METRICS_PROGRAMS_MAX];
	unsigned int n = 0;

	family(b, "berth_bpf_stats_enabled", "gauge",
	       "1 when the kernel measures BPF program run time (sysctl kernel.bpf_stats_enabled).");
	sample(b, "berth_bpf_stats_enabled", NULL, 0, v->bpf_stats_enabled);
	if (!v->bpf_stats_enabled || !v->n_programs)
		return;
	/* Seconds are fractional: not through named_family's integers. */
	for (unsigned int i = 0; i < v->n_programs && i < METRICS_PROGRAMS_MAX; i++)
		items[n++] = (struct named_value){ v->programs[i].name, NULL,
						   v->programs[i].run_time_ns };
	n = sort_and_merge(items, n);
	family(b, "berth_bpf_program_run_seconds_total", "counter",
	       "Time berth's BPF programs ran, while kernel.bpf_stats_enabled is 1.");
	for (unsigned int i = 0; i < n; i++) {
		struct prom_label label = { "program", items[i].a };

		sample_start(b, "berth_bpf_program_run_seconds_total", &label, 1);
		buf_printf(b, " %" PRIu64 ".%09" PRIu64 "\n", items[i].value / 1000000000,
			   items[i].value % 1000000000);
	}
	n = 0;
	for (unsigned int i = 0; i < v->n_programs && i < METRICS_PROGRAMS_MAX; i++)
		items[n++] = (struct named_value){ v->programs[i].name, NULL, v->programs[i].runs };
	named_family(b, "berth_bpf_program_runs_total", "counter",
		     "Runs of berth's BPF programs, while kernel.bpf_stats_enabled is 1.",
		     "program", NULL, items, n);
}

int metrics_render(const struct metrics_view *v, struct buf *b)
{
	struct prom_label version = { "version", v->version ? v->version : "unknown" };

	family(b, "berth_build_info", "gauge", "berth's version; the value is always 1.");
	sample(b, "berth_build_info", &version, 1, 1);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the berth process since the Unix epoch.");
	buf_printf(b, "process_start_time_seconds %.3f\n", v->start_time_s);
	if (render_socket_view(v, b) || render_interface_view(v, b) || render_alerts(v, b))
		return -1;
	render_losses(v, b);
	render_kernel(v, b);
	if (render_sinks(v, b))
		return -1;
	render_programs(v, b);
	if (v->token_required) {
		family(b, "berth_metrics_unauthorized_requests_total", "counter",
		       "Requests to this endpoint without the right bearer token.");
		buf_printf(b, "berth_metrics_unauthorized_requests_total %" PRIu64 "\n",
			   v->unauthorized_requests);
	}
	return b->failed ? -1 : 0;
}

/* ------------------------------------------------------------ alerts */

void metrics_alerts_add(struct metrics_alerts *a, const char *rule, const char *action)
{
	struct metrics_alert_count *grown;

	rule = rule ? rule : "";
	action = action ? action : "";
	for (unsigned int i = 0; i < a->n; i++) {
		if (!strcmp(a->items[i].rule, rule) && !strcmp(a->items[i].action, action)) {
			a->items[i].count++;
			return;
		}
	}
	if (a->n == METRICS_ALERT_PAIRS_MAX)
		goto other;
	grown = realloc(a->items, (a->n + 1) * sizeof(*a->items));
	if (!grown)
		goto other;
	a->items = grown;
	a->items[a->n] = (struct metrics_alert_count){ strdup(rule), strdup(action), 1 };
	if (!a->items[a->n].rule || !a->items[a->n].action) {
		free(a->items[a->n].rule);
		free(a->items[a->n].action);
		goto other;
	}
	a->n++;
	return;
other:
	a->other++;
}

void metrics_alerts_free(struct metrics_alerts *a)
{
	for (unsigned int i = 0; i < a->n; i++) {
		free(a->items[i].rule);
		free(a->items[i].action);
	}
	free(a->items);
	*a = (struct metrics_alerts){ 0 };
}

/* ------------------------------------------------------------ address */

int metrics_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *len,
			  char *err, size_t errlen)
{
	const char *host_start = text, *port_text, *bracket;
	char host[INET6_ADDRSTRLEN + 1];
	bool v6 = text[0] == '[';
	unsigned long port;
	size_t host_len;
	char *end;

	memset(addr, 0, sizeof(*addr));
	if (v6) {
		bracket = strchr(text, ']');
		if (!bracket || bracket[1] != ':')
			goto bad;
		host_start = text + 1;
		host_len = bracket - host_start;
		port_text = bracket + 2;
	} else {
		port_text = strrchr(text, ':');
		if (!port_text)
			goto bad;
		host_len = port_text - text;
		port_text++;
		if (memchr(text, ':', host_len)) {
			snprintf(err, errlen,
				 "--metrics-listen '%s': an IPv6 address goes in brackets, "
				 "e.g. [::1]:9464",
				 text);
			return -1;
		}
	}
	if (!host_len || host_len >= sizeof(host))
		goto bad;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	errno = 0;
	port = strtoul(port_text, &end, 10);
	if (port_text[0] < '0' || port_text[0] > '9' || *end || errno || port > 65535) {
		snprintf(err, errlen, "--metrics-listen '%s': '%s' is not a port (0 to 65535)",
			 text, port_text);
		return -1;
	}
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
			snprintf(err, errlen, "--metrics-listen '%s': '%s' is not an IPv6 address",
				 text, host);
			return -1;
		}
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)addr;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
			snprintf(err, errlen,
				 "--metrics-listen '%s': '%s' is not an IPv4 address (a.b.c.d; "
				 "0.0.0.0 for every interface)",
				 text, host);
			return -1;
		}
		*len = sizeof(*in);
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "--metrics-listen '%s': expected ADDRESS:PORT, e.g. 127.0.0.1:9464 or "
		 "[::1]:9464",
		 text);
	return -1;
}

/* ------------------------------------------------------------ server */

enum client_state {
	CLIENT_FREE,
	CLIENT_HANDSHAKE, /* TLS: the handshake, driven by readiness */
	CLIENT_READING,	  /* the request, until its blank line */
	CLIENT_WRITING,	  /* the response, as the socket takes it */
	CLIENT_DRAINING,  /* sent and shut down: reading to the peer's close */
};

struct client {
	int fd;
	SSL *ssl; /* --metrics-tls-cert: the session; NULL in plain HTTP */
	enum client_state state;
	uint32_t epoll_events;
	int64_t deadline_ms;
	size_t request_len;
	char request[METRICS_REQUEST_MAX];
	struct buf response;
	size_t sent;
};

struct map_fill_cache {
	struct metrics_map_fill items[METRICS_MAPS_MAX];
	unsigned int n;
	int64_t counted_ms;
	bool valid;
};

struct metrics {
	int listen_fd, epoll_fd;
	uint16_t port;
	struct metrics_source src;
	struct client clients[METRICS_CLIENTS_MAX];
	struct metrics_alerts alerts;
	struct buf body;
	double start_time_s;
	/* The ring buffer's consumer (page 0) and producer (page 1) positions, read-only. */
	void *ringbuf_pages;
	size_t page_size;
	uint64_t ringbuf_size;
	struct map_fill_cache maps;
	char *bearer_token; /* NULL: no token asked */
	SSL_CTX *tls;	    /* NULL: plain HTTP */
	uint64_t unauthorized;
};

/* Start of this process: /proc/self/stat's starttime after /proc/stat's btime. */
static double process_start_time(void)
{
	unsigned long long start_ticks = 0, btime = 0;
	char line[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	bool ok = false;

	if (f) {
		/* The command name may hold spaces and parentheses: fields follow the last ')'. */
		if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')))
			ok = sscanf(p + 2,
				    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
				    "%*d %*d %*d %*d %llu",
				    &start_ticks) == 1;
		fclose(f);
	}
	f = ok ? fopen("/proc/stat", "r") : NULL;
	ok = false;
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "btime %llu", &btime) == 1)
				ok = true;
		fclose(f);
	}
	if (!ok)
		return clock_ns(CLOCK_REALTIME) / 1e9;
	return btime + (double)start_ticks / sysconf(_SC_CLK_TCK);
}

static int set_client_events(struct metrics *m, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = c->fd };

	if (c->epoll_events == events)
		return 0;
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev))
		return -1;
	c->epoll_events = events;
	return 0;
}

static void client_close(struct metrics *m, struct client *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = CLIENT_FREE;
	c->request_len = 0;
	c->sent = 0;
	/* Keep one response's memory only while someone is being answered. */
	buf_free(&c->response);
}

static void client_read(struct metrics *m, struct client *c);

/*
 * One read or write of the client's bytes, plain or through TLS: >0 bytes,
 * 0 the peer closed, -1 with errno: EAGAIN when the socket must be ready
 * for *want (EPOLLIN or EPOLLOUT) first, anything else a failure.
 */
static ssize_t tls_result(struct client *c, int ret, uint32_t *want)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		errno = errno ? errno : EPROTO;
		return -1;
	}
}

static ssize_t client_recv(struct client *c, void *data, size_t len, uint32_t *want)
{
	int ret;

	*want = EPOLLIN;
	if (!c->ssl)
		return read(c->fd, data, len);
	errno = 0;
	ret = SSL_read(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return ret > 0 ? ret : tls_result(c, ret, want);
}

static ssize_t client_send(struct client *c, const void *data, size_t len, uint32_t *want)
{
	int ret;

	*want = EPOLLOUT;
	if (!c->ssl)
		return send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	errno = 0;
	ret = SSL_write(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return ret > 0 ? ret : tls_result(c, ret, want);
}

/* TLS: the handshake, then the request as in plain HTTP. */
static void client_handshake(struct metrics *m, struct client *c)
{
	uint32_t want;
	int ret;

	errno = 0;
	ret = SSL_do_handshake(c->ssl);
	if (ret == 1) {
		c->state = CLIENT_READING;
		if (set_client_events(m, c, EPOLLIN)) {
			client_close(m, c);
			return;
		}
		client_read(m, c);
		return;
	}
	if (tls_result(c, ret, &want) < 0 && errno == EAGAIN) {
		if (set_client_events(m, c, want))
			client_close(m, c);
		return;
	}
	/* Plain HTTP to a TLS port, an unknown CA at the scraper...: its business. */
	log_debug("--metrics-listen: a TLS handshake failed, connection closed");
	client_close(m, c);
}

/* Writes what the socket takes; when all is sent, shuts down and drains. */
static void client_write(struct metrics *m, struct client *c)
{
	while (c->sent < c->response.len) {
		uint32_t want;
		ssize_t n = client_send(c, c->response.data + c->sent, c->response.len - c->sent,
					&want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (set_client_events(m, c, want))
				client_close(m, c);
			return;
		}
		if (n <= 0) {
			client_close(m, c);
			return;
		}
		c->sent += n;
	}
	/*
	 * Connection: close. Shut down our side and read until the client
	 * closes: closing with unread bytes would reset the connection and
	 * could discard the response before the client read it.
	 */
	if (c->ssl)
		SSL_shutdown(c->ssl); /* close_notify; the peer's is not waited for */
	shutdown(c->fd, SHUT_WR);
	c->state = CLIENT_DRAINING;
	if (set_client_events(m, c, EPOLLIN)) {
		client_close(m, c);
		return;
	}
	client_read(m, c);
}

static void respond(struct metrics *m, struct client *c, int status, const char *reason,
		    const char *extra_headers, const char *content_type, const char *body,
		    size_t body_len, bool head)
{
	buf_reset(&c->response);
	buf_printf(&c->response,
		   "HTTP/1.1 %d %s\r\n"
		   "Content-Type: %s\r\n"
		   "Content-Length: %zu\r\n"
		   "%s"
		   "Connection: close\r\n"
		   "\r\n",
		   status, reason, content_type, body_len, extra_headers ? extra_headers : "");
	if (!head)
		buf_append(&c->response, body, body_len);
	if (c->response.failed) {
		log_warn("--metrics-listen: out of memory for a response");
		client_close(m, c);
		return;
	}
	c->state = CLIENT_WRITING;
	c->sent = 0;
	client_write(m, c);
}

static void respond_text(struct metrics *m, struct client *c, int status, const char *reason,
			 const char *extra_headers, const char *text)
{
	respond(m, c, status, reason, extra_headers, "text/plain; charset=utf-8", text,
		strlen(text), false);
}

/* Counts the entries of the maps worth counting, at most every MAP_FILL_REFRESH_MS. */
static void count_maps(struct metrics *m)
{
	unsigned char key[64], next[64];
	struct bpf_map *map;
	int64_t now = monotonic_ms();

	if (!m->src.obj || (m->maps.valid && now - m->maps.counted_ms < MAP_FILL_REFRESH_MS))
		return;
	m->maps.n = 0;
	bpf_object__for_each_map(map, m->src.obj)
	{
		enum bpf_map_type type = bpf_map__type(map);
		uint64_t max = bpf_map__max_entries(map), n = 0;
		int fd = bpf_map__fd(map);
		void *prev = NULL;

		/* Arrays are always full, a ring buffer and socket storage have no keys to walk. */
		if (type != BPF_MAP_TYPE_HASH && type != BPF_MAP_TYPE_PERCPU_HASH &&
		    type != BPF_MAP_TYPE_LRU_HASH && type != BPF_MAP_TYPE_LRU_PERCPU_HASH &&
		    type != BPF_MAP_TYPE_LPM_TRIE)
			continue;
		if (bpf_map__is_internal(map) || fd < 0 || bpf_map__key_size(map) > sizeof(key) ||
		    m->maps.n == METRICS_MAPS_MAX)
			continue;
		/*
		 * A key deleted under the walk restarts it from the first key:
		 * stop at the capacity, the most a walk can honestly find.
		 */
		while (n < max && !bpf_map_get_next_key(fd, prev, next)) {
			memcpy(key, next, bpf_map__key_size(map));
			prev = key;
			n++;
		}
		m->maps.items[m->maps.n++] =
			(struct metrics_map_fill){ bpf_map__name(map), n, max };
	}
	m->maps.counted_ms = now;
	m->maps.valid = true;
}

static bool bpf_stats_enabled(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == '1';
}

/* What the kernel says now: ring buffer positions, map fill, program run time. */
static void collect_kernel(struct metrics *m, struct metrics_view *v)
{
	struct bpf_program *prog;

	if (m->ringbuf_pages) {
		const unsigned long *consumer = m->ringbuf_pages;
		const unsigned long *producer =
			(const unsigned long *)((const char *)m->ringbuf_pages + m->page_size);
		unsigned long cons = __atomic_load_n(consumer, __ATOMIC_ACQUIRE);
		unsigned long prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);

		v->has_ringbuf = true;
		v->ringbuf_size_bytes = m->ringbuf_size;
		v->ringbuf_used_bytes = prod >= cons ? prod - cons : 0;
	}
	count_maps(m);
	memcpy(v->maps, m->maps.items, m->maps.n * sizeof(m->maps.items[0]));
	v->n_maps = m->maps.n;
	v->bpf_stats_enabled = bpf_stats_enabled();
	if (!v->bpf_stats_enabled || !m->src.obj)
		return;
	bpf_object__for_each_program(prog, m->src.obj)
	{
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || v->n_programs == METRICS_PROGRAMS_MAX ||
		    bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		v->programs[v->n_programs++] =
			(struct metrics_program){ bpf_program__name(prog), info.run_time_ns,
						  info.run_cnt };
	}
}

static void serve_metrics(struct metrics *m, struct client *c, bool head)
{
	struct metrics_view view = { 0 };

	if (m->src.fill)
		m->src.fill(m->src.ctx, &view);
	view.version = BERTH_VERSION;
	view.start_time_s = m->start_time_s;
	view.alerts = &m->alerts;
	view.token_required = m->bearer_token != NULL;
	view.unauthorized_requests = m->unauthorized;
	collect_kernel(m, &view);
	buf_reset(&m->body);
	if (metrics_render(&view, &m->body)) {
		respond_text(m, c, 500, "Internal Server Error", NULL, "out of memory\n");
		return;
	}
	respond(m, c, 200, "OK", NULL, METRICS_CONTENT_TYPE, m->body.data, m->body.len, head);
}

/*
 * An "Authorization: Bearer TOKEN" header among headers (len bytes after
 * the request line) with the endpoint's token. Header names and the scheme
 * in any case, as HTTP has them.
 */
static bool authorized(const struct metrics *m, const char *headers, size_t len)
{
	const char *end = headers + len, *line = headers;
	static const char name[] = "authorization:", scheme[] = "bearer ";

	while (line < end) {
		const char *eol = memchr(line, '\n', end - line), *value;

		if (!eol)
			eol = end;
		value = line + strlen(name);
		if (value <= eol && !strncasecmp(line, name, strlen(name))) {
			const char *value_end = eol;

			while (value < value_end && (*value == ' ' || *value == '\t'))
				value++;
			while (value_end > value && (value_end[-1] == '\r' ||
						     value_end[-1] == ' ' || value_end[-1] == '\t'))
				value_end--;
			if ((size_t)(value_end - value) < strlen(scheme) ||
			    strncasecmp(value, scheme, strlen(scheme)))
				return false;
			value += strlen(scheme);
			return secret_equal(value, value_end - value, m->bearer_token,
					    strlen(m->bearer_token));
		}
		line = eol + 1;
	}
	return false;
}

/* The request line of a complete request: "METHOD SP TARGET SP HTTP/1.x". */
static void handle_request(struct metrics *m, struct client *c)
{
	char *line = c->request, *eol = memchr(line, '\n', c->request_len);
	char *method, *target, *version, *save = NULL;
	const char *headers;
	size_t path_len;

	*eol = '\0';
	if (eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	headers = eol + 1;
	method = strtok_r(line, " ", &save);
	target = strtok_r(NULL, " ", &save);
	version = strtok_r(NULL, " ", &save);
	if (!method || !target || !version || strtok_r(NULL, " ", &save) || target[0] != '/' ||
	    strncmp(version, "HTTP/1.", 7) || !version[7] || version[8]) {
		respond_text(m, c, 400, "Bad Request", NULL, "bad request\n");
		return;
	}
	if (m->bearer_token && !authorized(m, headers, c->request + c->request_len - headers)) {
		m->unauthorized++;
		respond_text(m, c, 401, "Unauthorized",
			     "WWW-Authenticate: Bearer realm=\"berth\"\r\n",
			     "this endpoint asks for a bearer token\n");
		return;
	}
	path_len = strcspn(target, "?#");
	if (path_len != strlen("/metrics") || strncmp(target, "/metrics", path_len)) {
		respond_text(m, c, 404, "Not Found", NULL, "berth serves /metrics only\n");
		return;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		respond_text(m, c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "GET or HEAD only\n");
		return;
	}
	serve_metrics(m, c, !strcmp(method, "HEAD"));
}

/* The blank line that ends the headers ("\r\n\r\n", or "\n\n" of lax clients). */
static bool request_complete(const struct client *c)
{
	return memmem(c->request, c->request_len, "\r\n\r\n", 4) ||
	       memmem(c->request, c->request_len, "\n\n", 2);
}

static void client_read(struct metrics *m, struct client *c)
{
	char discard[4096];

	while (c->state == CLIENT_READING || c->state == CLIENT_DRAINING) {
		bool reading = c->state == CLIENT_READING;
		uint32_t want = EPOLLIN;
		ssize_t n;

		if (reading && c->request_len == sizeof(c->request)) {
			respond_text(m, c, 431, "Request Header Fields Too Large", NULL,
				     "request headers over 8 KiB\n");
			return;
		}
		/* Drained raw: after our close_notify nothing of it is worth decrypting. */
		n = reading ? client_recv(c, c->request + c->request_len,
					  sizeof(c->request) - c->request_len, &want) :
			      read(c->fd, discard, sizeof(discard));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (reading && set_client_events(m, c, want))
				client_close(m, c);
			return;
		}
		if (n <= 0) { /* the peer closed (or failed): nothing left to say */
			client_close(m, c);
			return;
		}
		if (!reading)
			continue;
		c->request_len += n;
		if (request_complete(c))
			handle_request(m, c);
	}
}

static struct client *find_client(struct metrics *m, int fd)
{
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->clients[i].state != CLIENT_FREE && m->clients[i].fd == fd)
			return &m->clients[i];
	return NULL;
}

static void accept_clients(struct metrics *m)
{
	for (;;) {
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c = NULL;
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("--metrics-listen: accept: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < METRICS_CLIENTS_MAX && !c; i++)
			if (m->clients[i].state == CLIENT_FREE)
				c = &m->clients[i];
		ev.data.fd = fd;
		if (!c || epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			log_debug("--metrics-listen: %s, connection closed",
				  c ? strerror(errno) : "too many clients");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CLIENT_READING;
		c->epoll_events = EPOLLIN;
		if (m->tls) {
			c->ssl = SSL_new(m->tls);
			if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
				ERR_clear_error();
				client_close(m, c);
				continue;
			}
			SSL_set_accept_state(c->ssl);
			c->state = CLIENT_HANDSHAKE;
		}
		c->request_len = 0;
		c->sent = 0;
		c->deadline_ms = monotonic_ms() + METRICS_CLIENT_TIMEOUT_MS;
	}
}

bool metrics_handle_fd(struct metrics *m, int fd, uint32_t events)
{
	struct client *c;

	if (!m)
		return false;
	if (fd == m->listen_fd) {
		accept_clients(m);
		return true;
	}
	c = find_client(m, fd);
	if (!c)
		return false;
	if (events & EPOLLERR) {
		client_close(m, c);
		return true;
	}
	if (c->state == CLIENT_HANDSHAKE)
		client_handshake(m, c);
	else if (c->state == CLIENT_WRITING)
		client_write(m, c); /* TLS may have wanted EPOLLIN for it */
	else if (events & (EPOLLIN | EPOLLHUP))
		client_read(m, c);
	return true;
}

void metrics_tick(struct metrics *m, int64_t now_ms)
{
	if (!m)
		return;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++) {
		struct client *c = &m->clients[i];

		if (c->state != CLIENT_FREE && now_ms >= c->deadline_ms) {
			log_debug("--metrics-listen: a client took over %d ms, closed",
				  METRICS_CLIENT_TIMEOUT_MS);
			client_close(m, c);
		}
	}
}

void metrics_count_alert(struct metrics *m, const char *rule, const char *action)
{
	if (m)
		metrics_alerts_add(&m->alerts, rule, action);
}

uint16_t metrics_port(const struct metrics *m)
{
	return m ? m->port : 0;
}

static void map_ringbuf(struct metrics *m, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	void *pages;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	/* Read-only: the kernel lets anyone map the position pages so. */
	pages = mmap(NULL, 2 * m->page_size, PROT_READ, MAP_SHARED, fd, 0);
	if (pages == MAP_FAILED) {
		log_warn("--metrics-listen: cannot map the ring buffer's positions (%s): "
			 "no berth_ringbuf_used_bytes",
			 strerror(errno));
		return;
	}
	m->ringbuf_pages = pages;
	m->ringbuf_size = info.max_entries;
}

/* The endpoint's TLS: TLS 1.2 or later, the certificate chain and key of the flags. */
static int make_tls(struct metrics *m, const char *cert, const char *key, char *err, size_t errlen)
{
	const char *flag = "--metrics-tls-cert", *path = cert;

	/* OpenSSL would say "system lib" of a missing file. */
	if (access(cert, R_OK) || (key && access(key, R_OK))) {
		int error = errno;

		if (!access(cert, R_OK)) {
			flag = "--metrics-tls-key";
			path = key;
		}
		snprintf(err, errlen, "%s %s: %s", flag, path, strerror(error));
		return -1;
	}
	m->tls = SSL_CTX_new(TLS_server_method());
	if (!m->tls)
		goto fail;
	SSL_CTX_set_min_proto_version(m->tls, TLS1_2_VERSION);
	/* A large answer goes as the socket takes it, a TLS record at a time. */
	SSL_CTX_set_mode(m->tls, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (SSL_CTX_use_certificate_chain_file(m->tls, cert) != 1)
		goto fail;
	if (key) {
		flag = "--metrics-tls-key";
		path = key;
	}
	if (SSL_CTX_use_PrivateKey_file(m->tls, key ? key : cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(m->tls) != 1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s %s: %s", flag, path,
		 ERR_peek_last_error() ? ERR_reason_error_string(ERR_peek_last_error()) :
					 "cannot make a TLS context");
	ERR_clear_error();
	return -1;
}

struct metrics *metrics_open(const char *address, int epoll_fd, const struct metrics_source *src,
			     char *err, size_t errlen)
{
	struct sockaddr_storage addr, bound;
	socklen_t addr_len, bound_len = sizeof(bound);
	struct epoll_event ev = { .events = EPOLLIN };
	struct metrics *m;
	int one = 1;

	if (metrics_parse_address(address, &addr, &addr_len, err, errlen))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "--metrics-listen %s: out of memory", address);
		return NULL;
	}
	m->epoll_fd = epoll_fd;
	m->src = *src;
	m->listen_fd = -1;
	if (src->bearer_token && !(m->bearer_token = strdup(src->bearer_token))) {
		snprintf(err, errlen, "--metrics-listen %s: out of memory", address);
		free(m);
		return NULL;
	}
	m->src.bearer_token = NULL;
	m->src.tls_cert = m->src.tls_key = NULL;
	if (src->tls_cert && make_tls(m, src->tls_cert, src->tls_key, err, errlen))
		goto fail;
	m->page_size = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		m->clients[i].fd = -1;
	m->listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 ||
	    setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->listen_fd, (struct sockaddr *)&addr, addr_len) ||
	    listen(m->listen_fd, METRICS_CLIENTS_MAX) ||
	    getsockname(m->listen_fd, (struct sockaddr *)&bound, &bound_len)) {
		snprintf(err, errlen, "--metrics-listen %s: cannot listen: %s", address,
			 strerror(errno));
		goto fail;
	}
	m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port :
						      ((struct sockaddr_in *)&bound)->sin_port);
	ev.data.fd = m->listen_fd;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, m->listen_fd, &ev)) {
		snprintf(err, errlen, "--metrics-listen %s: epoll: %s", address, strerror(errno));
		goto fail;
	}
	m->start_time_s = process_start_time();
	map_ringbuf(m, src->ringbuf_fd);
	return m;
fail:
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	free(m->bearer_token);
	SSL_CTX_free(m->tls);
	free(m);
	return NULL;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		if (m->clients[i].state != CLIENT_FREE)
			client_close(m, &m->clients[i]);
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->listen_fd, NULL);
	close(m->listen_fd);
	if (m->ringbuf_pages)
		munmap(m->ringbuf_pages, 2 * m->page_size);
	metrics_alerts_free(&m->alerts);
	buf_free(&m->body);
	free(m->bearer_token);
	SSL_CTX_free(m->tls);
	free(m);
}
