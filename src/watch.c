// SPDX-License-Identifier: GPL-2.0-only
/*
 * `berth watch`: the one event loop. A single epoll set holds the ring
 * buffer, a timerfd for the stats interval, a short timerfd that drains the
 * ring buffer between wakeups, and a signalfd; nothing else blocks.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "berth.skel.h"
#include "cgroup.h"
#include "clock.h"
#include "docker.h"
#include "runtime.h"
#include "inventory.h"
#include "json.h"
#include "detect.h"
#include "log.h"
#include "metrics.h"
#include "output.h"
#include "policy.h"
#include "published.h"
#include "stats.h"
#include "watch.h"

/*
 * The kernel wakes us once this much is queued; below it, the drain timer
 * picks records up. Bounds both the wakeup rate under load and the delay of
 * an event when traffic is light.
 */
#define WAKEUP_DATA_BYTES (32u * 1024)
#define DRAIN_INTERVAL_MS 100
/*
 * A stopped container stays in the inventory for this many stats
 * intervals, so that its last counters and late records are still named.
 */
#define STOPPED_KEEP_INTERVALS 3
/* At exit, the outputs get this long to deliver what they hold. */
#define CLOSE_DELIVERY_MS 3000
/* Events of unknown cgroups wait this long for the next walk of cgroupfs. */
#define HOLD_MS 250
#define HELD_MAX 4096

struct watcher {
	const struct watch_options *opts;
	struct loader loader;
	struct ring_buffer *rb;
	struct inventory inv;
	struct stats stats;
	struct ecs_meta meta;
	struct json_line line; /* the record being written */
	char host_name[256];
	char cgroup_mount[4096];
	struct outputs outputs;
	int epoll_fd, stats_timer_fd, drain_timer_fd, signal_fd;
	int64_t mono_to_real_ns;
	struct runtimes runtimes;
	struct hashmap gone_cgroups; /* uint64_t ids pruned in this report */
	struct policy policy;
	struct detector detect;
	/* The host's own addresses: a connection from one is the host's (docker-proxy). */
	uint8_t host_addrs[64][ADDR_LEN];
	unsigned int n_host_addrs;
	unsigned long published_generation; /* of the inventory, last pushed */
	bool published_full_warned;
	struct berth_event *held; /* events of cgroups not known yet, in order */
	unsigned int n_held;
	int64_t held_since_ms;
	uint64_t xdp_sources_evicted; /* reported so far */
	uint64_t xdp_ports_evicted;
	uint64_t detector_evictions_reported;
	uint64_t scan_sources_evicted;
	uint64_t unauth_reported_evicted;
	struct metrics *metrics; /* --metrics-listen, or NULL */
};

static void sync_clocks(struct watcher *w)
{
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC; records carry wall time. */
	w->mono_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
}

static uint64_t realtime_of(const struct watcher *w, uint64_t mono_ns)
{
	return mono_ns + w->mono_to_real_ns;
}

static uint64_t now_realtime(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* One record to every output whose filters take it. */
static void emit_except(struct watcher *w, struct json_line *rec, const struct sink *except)
{
	if (rec->buf.failed || rec->depth || !rec->buf.len) {
		log_error("cannot write a %s record: out of memory", rec->action);
		return;
	}
	outputs_send_except(&w->outputs, except, rec->buf.data, rec->buf.len, rec->kind,
			    rec->action, rec->severity, rec->realtime_ns / 1000000);
}

static void emit(struct watcher *w, struct json_line *rec)
{
	emit_except(w, rec, NULL);
}

/*
 * A sink's loss is told to the other sinks: it may not take the record
 * itself. A sole sink is told anyway, later is better than never.
 */
static void sink_lost_out(void *ctx, const struct sink *s, enum sink_loss cause, uint64_t count,
			  uint64_t total)
{
	struct watcher *w = ctx;

	log_warn("output %s lost %llu records (%s)", s->cfg.name, (unsigned long long)count,
		 sink_loss_name(cause));
	emit_except(w,
		    ecs_sink_events_lost(&w->line, &w->meta, now_realtime(), s->cfg.name,
					 sink_loss_name(cause), count, total),
		    w->outputs.n_sinks > 1 ? s : NULL);
}

/*
 * Not a container, and only containers are reported: the kernel stops
 * tracking the cgroup's sockets (until the cgroup is gone, see cgroup_gone).
 */
static void ignore_in_kernel(struct watcher *w, uint64_t cgroup_id)
{
	uint8_t one = 1;

	if (bpf_map_update_elem(bpf_map__fd(w->loader.skel->maps.ignored_cgroups), &cgroup_id, &one,
				BPF_NOEXIST) &&
	    errno != EEXIST)
		log_debug("cannot ignore cgroup %llu in the kernel: %s",
			  (unsigned long long)cgroup_id, strerror(errno));
}

/*
 * A cgroup gone from cgroupfs before berth could look it up (a container
 * removed right after its first connections): its path as far as the
 * kernel remembered it, "/.../<great-grandparent>/<grandparent>/<parent>/<leaf>".
 */
static const struct cgroup_entry *cgroup_from_kernel(struct watcher *w, uint64_t cgroup_id)
{
	struct berth_cgroup_names names;
	char path[BERTH_CGROUP_LEVELS * (BERTH_CGROUP_NAME_LEN + 1) + 8] = "";
	size_t len = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(w->loader.skel->maps.cgroup_names), &cgroup_id, &names))
		return NULL;
	/* The topmost level has a name: there may be more above it. */
	if (names.level[BERTH_CGROUP_LEVELS - 1][0])
		len += snprintf(path + len, sizeof(path) - len, "/...");
	for (int i = BERTH_CGROUP_LEVELS - 1; i >= 0; i--) {
		names.level[i][BERTH_CGROUP_NAME_LEN - 1] = '\0';
		if (names.level[i][0] && len < sizeof(path))
			len += snprintf(path + len, sizeof(path) - len, "/%s", names.level[i]);
	}
	if (!len)
		return NULL;
	return inventory_remember_cgroup(&w->inv, cgroup_id, path);
}

/*
 * Fills who for a socket of cgroup_id serving port/protocol (role LOCAL) or
 * reaching it (REMOTE). Returns false when the record is not reported:
 * without --all, only containers are.
 */
static bool attribute(struct watcher *w, uint64_t cgroup_id, uint16_t port, uint8_t protocol,
		      uint8_t role, struct attribution *who)
{
	const struct cgroup_entry *entry = inventory_cgroup(&w->inv, cgroup_id);
	const struct container *c;

	if (!entry)
		entry = cgroup_from_kernel(w, cgroup_id);

	memset(who, 0, sizeof(*who));
	who->cgroup_id = cgroup_id;
	if (!entry)
		return w->opts->all;
	who->cgroup_path = entry->path;
	if (!entry->is_container) {
		if (!w->opts->all)
			ignore_in_kernel(w, cgroup_id);
		return w->opts->all;
	}

	who->container_id = entry->from_path.id;
	who->runtime = entry->from_path.runtime;
	c = inventory_container(&w->inv, entry->from_path.id);
	if (!c)
		c = runtimes_inspect(&w->runtimes, entry->from_path.runtime, entry->from_path.id,
				     monotonic_ms());
	if (c) {
		who->container = c;
		who->runtime = c->runtime;
		if (role == BERTH_ROLE_LOCAL)
			who->binding = container_binding(c, port, protocol);
	}
	return true;
}

static bool is_host_addr(const struct watcher *w, const uint8_t addr[ADDR_LEN])
{
	for (unsigned int i = 0; i < w->n_host_addrs; i++)
		if (!memcmp(w->host_addrs[i], addr, ADDR_LEN))
			return true;
	return false;
}

/* The host's addresses, again each interval: bridges and their gateways come and go. */
static void list_host_addrs(struct watcher *w)
{
	struct ifaddrs *all, *ifa;

	if (getifaddrs(&all))
		return;
	w->n_host_addrs = 0;
	for (ifa = all; ifa && w->n_host_addrs < 64; ifa = ifa->ifa_next) {
		char text[ADDR_STRLEN];
		int family = ifa->ifa_addr ? ifa->ifa_addr->sa_family : 0;
		const void *raw;

		if (family == AF_INET)
			raw = &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		else if (family == AF_INET6)
			raw = &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(family, raw, text, sizeof(text)) &&
		    !addr_parse(text, w->host_addrs[w->n_host_addrs]))
			w->n_host_addrs++;
	}
	freeifaddrs(all);
}

static void alert_out(void *ctx, const struct alert *a)
{
	struct watcher *w = ctx;

	emit(w, ecs_alert(&w->line, &w->meta, now_realtime(), a));
	metrics_count_alert(w->metrics, a->rule_name, a->action);
}

static void report_event(struct watcher *w, const struct berth_event *ev)
{
	struct attribution who;
	uint16_t port = ev->role == BERTH_ROLE_LOCAL ? ev->local_port : ev->remote_port;

	if (!attribute(w, ev->cgroup_id, port, ev->protocol, ev->role, &who))
		return;
	switch (ev->kind) {
	case BERTH_EV_CONN_OPEN:
	case BERTH_EV_CONN_CLOSE:
		emit(w, ecs_connection(&w->line, &w->meta, realtime_of(w, ev->timestamp_ns), ev,
				       &who));
		if (ev->kind == BERTH_EV_CONN_OPEN && ev->role == BERTH_ROLE_LOCAL && who.container)
			detect_connection(&w->detect, monotonic_ms(), ev->remote_addr,
					  is_host_addr(w, ev->remote_addr), who.container,
					  who.binding, ev->local_port, ev->protocol);
		break;
	case BERTH_EV_BIND:
		emit(w, ecs_listen(&w->line, &w->meta, realtime_of(w, ev->timestamp_ns), ev, &who));
		break;
	}
}

static void report_xdp_event(struct watcher *w, const struct berth_event *ev)
{
	const struct port_binding *binding = NULL;
	const struct container *c;

	if (ev->kind == BERTH_EV_PORT_SCAN) {
		detect_scan(&w->detect, monotonic_ms(), ev->remote_addr, ev->bytes_in,
			    ev->duration_ns / 1000000, ev->local_port, ev->protocol);
		return;
	}
	c = inventory_by_host_port(&w->inv, ev->local_port, ev->protocol, &binding);
	if (ev->kind == BERTH_EV_ATTEMPTS)
		detect_attempts(&w->detect, monotonic_ms(), ev->remote_addr, c, binding,
				ev->local_port, ev->protocol, ev->bytes_in,
				ev->duration_ns / 1000000);
	else
		detect_unauthorized_syn(&w->detect, monotonic_ms(), ev->remote_addr, c, binding,
					ev->bytes_in);
}

/* Reports the held events, in order, once cgroupfs may be walked again (or now). */
static void release_held(struct watcher *w, bool now)
{
	if (!w->n_held || (!now && monotonic_ms() - w->held_since_ms < HOLD_MS))
		return;
	for (unsigned int i = 0; i < w->n_held; i++)
		report_event(w, &w->held[i]);
	w->n_held = 0;
}

/*
 * A socket of a cgroup created since the last walk of cgroupfs (a container
 * that just started) has an id berth cannot name yet, and walks are rate
 * limited. Its events, and every one after them so that order holds, are
 * held until the next walk may run rather than reported without a
 * container.
 */
static int handle_event(void *ctx, void *data, size_t size)
{
	struct watcher *w = ctx;
	const struct berth_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	/* XDP's judgements name a host port, not a cgroup: nothing to wait for. */
	if (ev->kind == BERTH_EV_PORT_SCAN || ev->kind == BERTH_EV_UNAUTHORIZED ||
	    ev->kind == BERTH_EV_ATTEMPTS) {
		report_xdp_event(w, ev);
		return 0;
	}
	if (!w->n_held && inventory_cgroup(&w->inv, ev->cgroup_id)) {
		report_event(w, ev);
		return 0;
	}
	if (!w->held) {
		w->held = calloc(HELD_MAX, sizeof(*w->held));
		if (!w->held) {
			report_event(w, ev);
			return 0;
		}
	}
	if (w->n_held == HELD_MAX)
		release_held(w, true);
	if (!w->n_held)
		w->held_since_ms = monotonic_ms();
	w->held[w->n_held++] = *ev;
	return 0;
}

static void report_ports(struct watcher *w, uint64_t now)
{
	struct berth_port_key *key;
	struct port_entry *entry;
	size_t iter = 0;

	if (stats_read_ports(&w->stats, bpf_map__fd(w->loader.skel->maps.port_traffic)))
		log_warn("cannot read port counters: %s", strerror(errno));
	while (hashmap_next(&w->stats.ports, &iter, (void **)&key, (void **)&entry)) {
		struct port_stats_report report = {
			.port = key->port,
			.protocol = key->protocol,
			.role = key->role,
			.interval_s = w->opts->interval_s,
			.total = entry->total,
		};
		struct attribution who;

		counters_sub(&entry->total, &entry->reported, sizeof(entry->total),
			     &report.interval);
		if (counters_zero(&report.interval, sizeof(report.interval)))
			continue;
		entry->reported = entry->total;
		if (!attribute(w, key->cgroup_id, key->port, key->protocol, key->role, &who))
			continue;
		emit(w, ecs_port_stats(&w->line, &w->meta, now, &report, &who));
		if (key->role == BERTH_ROLE_LOCAL && who.container && who.binding)
			detect_port_rate(&w->detect, monotonic_ms(), who.container, who.binding,
					 key->port, key->protocol, report.interval.conns_opened,
					 w->opts->interval_s);
	}
}

static const struct xdp_attachment *xdp_by_ifindex(const struct watcher *w, int ifindex)
{
	for (unsigned int i = 0; i < w->loader.n_xdp; i++)
		if (w->loader.xdp[i].ifindex == ifindex)
			return &w->loader.xdp[i];
	return NULL;
}

static void report_xdp(struct watcher *w, uint64_t now)
{
	struct berth_xdp_port_key *key;
	struct xdp_entry *entry;
	size_t iter = 0;

	if (!w->loader.n_xdp)
		return;
	if (stats_read_xdp(&w->stats, bpf_map__fd(w->loader.skel->maps.xdp_ports)))
		log_warn("cannot read interface counters: %s", strerror(errno));
	while (hashmap_next(&w->stats.xdp, &iter, (void **)&key, (void **)&entry)) {
		const struct xdp_attachment *att = xdp_by_ifindex(w, key->ifindex);
		struct xdp_stats_report report = {
			.port = key->port,
			.protocol = key->protocol,
			.interval_s = w->opts->interval_s,
			.total = entry->total,
			.interface = att ? att->name : "?",
			.xdp_mode = att ? att->mode : "unknown",
		};
		const struct port_binding *binding = NULL;
		const struct container *c;
		struct attribution who = { 0 };

		counters_sub(&entry->total, &entry->reported, sizeof(entry->total),
			     &report.interval);
		if (counters_zero(&report.interval, sizeof(report.interval)))
			continue;
		entry->reported = entry->total;
		/* The host view: join to the container through its binding. */
		report.unpublished = key->port == BERTH_UNPUBLISHED_PORT;
		c = report.unpublished ?
			    NULL :
			    inventory_by_host_port(&w->inv, key->port, key->protocol, &binding);
		if (!c && !report.unpublished && !w->opts->all)
			continue;
		if (c) {
			who.container_id = c->id;
			who.container = c;
			who.runtime = c->runtime;
			who.binding = binding;
		}
		emit(w, ecs_xdp_port_stats(&w->line, &w->meta, now, &report, c ? &who : NULL));
	}
}

static uint64_t count_map_entries(int map_fd, size_t key_size)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	uint64_t n = 0;

	while (!bpf_map_get_next_key(map_fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/*
 * An LRU map evicts silently: what berth inserted minus what is still there
 * is what was evicted. Reports the growth of that since the last report.
 */
static void report_evictions(struct watcher *w, uint64_t now, int map_fd, size_t key_size,
			     enum berth_counter inserts, uint64_t *reported, const char *cause)
{
	uint64_t live = count_map_entries(map_fd, key_size);
	uint64_t inserted = w->stats.health[inserts];
	uint64_t evicted = inserted > live ? inserted - live : 0;

	if (evicted <= *reported)
		return;
	emit(w, ecs_events_lost(&w->line, &w->meta, now, cause, evicted - *reported, evicted));
	*reported = evicted;
}

static void report_losses(struct watcher *w, uint64_t now)
{
	struct berth_bpf *skel = w->loader.skel;

	outputs_report_losses(&w->outputs, sink_lost_out, w);
	if (stats_read_health(&w->stats, bpf_map__fd(skel->maps.health)))
		log_warn("cannot read health counters: %s", strerror(errno));
	if (w->detect.evictions > w->detector_evictions_reported) {
		emit(w, ecs_events_lost(&w->line, &w->meta, now, "detector-state-evicted",
					w->detect.evictions - w->detector_evictions_reported,
					w->detect.evictions));
		w->detector_evictions_reported = w->detect.evictions;
	}
	for (int i = 0; i < BERTH_CNT__MAX; i++) {
		const char *cause = health_loss_cause(i);
		uint64_t delta = w->stats.health[i] - w->stats.health_reported[i];

		if (!cause || !delta)
			continue;
		w->stats.health_reported[i] = w->stats.health[i];
		emit(w, ecs_events_lost(&w->line, &w->meta, now, cause, delta, w->stats.health[i]));
	}
	if (!w->loader.n_xdp)
		return;
	report_evictions(w, now, bpf_map__fd(skel->maps.xdp_sources),
			 sizeof(struct berth_xdp_source_key), BERTH_CNT_XDP_SOURCE_INSERTS,
			 &w->xdp_sources_evicted, "xdp-source-evicted");
	report_evictions(w, now, bpf_map__fd(skel->maps.xdp_ports),
			 sizeof(struct berth_xdp_port_key), BERTH_CNT_XDP_PORT_INSERTS,
			 &w->xdp_ports_evicted, "xdp-port-evicted");
	/* Per-source detector state; the windowed pair maps turn over by design. */
	report_evictions(w, now, bpf_map__fd(skel->maps.scan_sources),
			 sizeof(struct berth_xdp_source_key), BERTH_CNT_SCAN_SOURCE_INSERTS,
			 &w->scan_sources_evicted, "scan-source-evicted");
	report_evictions(w, now, bpf_map__fd(skel->maps.unauthorized_reported),
			 sizeof(struct berth_unauth_key), BERTH_CNT_UNAUTH_INSERTS,
			 &w->unauth_reported_evicted, "unauthorized-memory-evicted");
}

static void report_stats(struct watcher *w)
{
	uint64_t now = now_realtime();

	sync_clocks(w);
	report_ports(w, now);
	report_xdp(w, now);
	report_losses(w, now);
}

static void container_started(void *ctx, const struct container *c)
{
	struct watcher *w = ctx;

	emit(w, ecs_container_change(&w->line, &w->meta, now_realtime(), "container-started", c));
	detect_exposure(&w->detect, monotonic_ms(), c);
}

static void container_stopped(void *ctx, const struct container *c)
{
	struct watcher *w = ctx;

	emit(w, ecs_container_change(&w->line, &w->meta, now_realtime(), "container-stopped", c));
}

static void runtime_reconnected(void *ctx, const struct runtime_client *rt, int64_t down_ms,
				unsigned int changes)
{
	struct watcher *w = ctx;

	emit(w, ecs_runtime_reconnected(&w->line, &w->meta, now_realtime(), rt->name,
					rt->socket_path, down_ms, changes));
}

/* Drops the counters of a cgroup that is gone, after its last report. */
static void cgroup_gone(void *ctx, uint64_t cgroup_id)
{
	struct watcher *w = ctx;

	hashmap_upsert(&w->gone_cgroups, &cgroup_id, NULL);
	bpf_map_delete_elem(bpf_map__fd(w->loader.skel->maps.cgroup_names), &cgroup_id);
	bpf_map_delete_elem(bpf_map__fd(w->loader.skel->maps.ignored_cgroups), &cgroup_id);
}

/*
 * After a report: what belongs to removed cgroups and long-stopped
 * containers goes, so that churn leaves berth the size it was.
 */
static void forget_the_gone(struct watcher *w)
{
	int64_t now = monotonic_ms();
	unsigned int cgroups, containers;

	cgroups = inventory_prune_cgroups(&w->inv, cgroup_gone, w);
	/* Their counters, in one walk of each map however many went. */
	stats_forget_cgroups(&w->stats, bpf_map__fd(w->loader.skel->maps.port_traffic),
			     sizeof(struct berth_port_key), &w->gone_cgroups);
	stats_forget_cgroups(NULL, bpf_map__fd(w->loader.skel->maps.bound_ports),
			     sizeof(struct berth_bound_port_key), &w->gone_cgroups);
	hashmap_clear(&w->gone_cgroups);
	containers = inventory_expire(&w->inv, now,
				      (int64_t)STOPPED_KEEP_INTERVALS * w->opts->interval_s * 1000);
	runtimes_expire_inspected(&w->runtimes, now);
	log_debug("inventory: %u containers, %u cgroups, %zu port counters "
		  "(forgot %u containers, %u cgroups)",
		  inventory_container_count(&w->inv), inventory_cgroup_count(&w->inv),
		  w->stats.ports.count, containers, cgroups);
}

/* The policy's detector settings the kernel judges with (XDP). */
static void push_detector_settings(struct watcher *w)
{
	const struct detect_config *d = &w->policy.detect;
	struct berth_bpf__bss *bss = w->loader.skel->bss;

	bss->scan_threshold = d->port_scan.enabled ? d->port_scan.ports : 0;
	bss->scan_window_ns = d->port_scan.window_ms * 1000000ULL;
	bss->unauth_report_ns = d->suppress_ms * 1000000ULL;
	bss->attempts_threshold = d->brute_force.enabled ? d->brute_force.connections : 0;
	bss->attempts_window_ns = d->brute_force.window_ms * 1000000ULL;
}

/* Pushes the published host ports to the kernel when the inventory changed. */
static void push_published_ports(struct watcher *w, bool force)
{
	int n;

	if (!force && w->published_generation == w->inv.generation)
		return;
	w->published_generation = w->inv.generation;
	n = published_ports_sync(&w->inv, &w->policy,
				 bpf_map__fd(w->loader.skel->maps.published_ports),
				 bpf_map__fd(w->loader.skel->maps.allowed_sources));
	if (n == -E2BIG && !w->published_full_warned) {
		log_warn("more published ports than the kernel table holds: the rest are "
			 "counted with the unpublished ones on --iface");
		w->published_full_warned = true;
	} else if (n < 0 && n != -E2BIG) {
		log_warn("cannot update the published-port table: %s", strerror(-n));
	} else if (n >= 0) {
		log_debug("published ports: %d host ports", n);
	}
}

/*
 * SIGHUP: the policy file again, all or nothing. A file that does not parse
 * leaves the running policy in place; either way one record says so.
 */
/* The same outputs by name, type and target: a reload that changes them needs a restart. */
static bool same_outputs(const struct sink_config *a, unsigned int n_a, const struct sink_config *b,
			 unsigned int n_b)
{
	const char *none = "";

	if (n_a != n_b)
		return false;
	for (unsigned int i = 0; i < n_a; i++) {
		const char *target_a = a[i].path ? a[i].path : a[i].url ? a[i].url : none;
		const char *target_b = b[i].path ? b[i].path : b[i].url ? b[i].url : none;

		if (a[i].type != b[i].type || strcmp(a[i].name, b[i].name) ||
		    strcmp(target_a, target_b) || a[i].format != b[i].format)
			return false;
	}
	return true;
}

static void reload_policy(struct watcher *w)
{
	struct policy fresh;
	char err[512] = "";

	if (!w->opts->config_path) {
		log_info("SIGHUP: no --config file to reload");
		return;
	}
	if (policy_load(w->opts->config_path, &fresh, err, sizeof(err))) {
		log_warn("policy not reloaded, the running one stays: %s", err);
		emit(w, ecs_config_reload(&w->line, &w->meta, now_realtime(), w->opts->config_path,
					  false, w->policy.n_rules, err));
		return;
	}
	if (!same_outputs(w->policy.outputs, w->policy.n_outputs, fresh.outputs, fresh.n_outputs))
		log_warn(
			"policy reloaded, but outputs are opened at start: the running outputs stay "
			"until berth restarts");
	policy_free(&w->policy);
	w->policy = fresh;
	detect_set_policy(&w->detect, &w->policy);
	push_detector_settings(w);
	push_published_ports(w, true);
	log_info("policy reloaded from %s: %u rules", w->opts->config_path, w->policy.n_rules);
	emit(w, ecs_config_reload(&w->line, &w->meta, now_realtime(), w->opts->config_path, true,
				  w->policy.n_rules, NULL));
}

static int add_to_epoll(int epoll_fd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int make_timer(unsigned int interval_ms)
{
	struct itimerspec spec = {
		.it_interval = { interval_ms / 1000, (interval_ms % 1000) * 1000000L },
		.it_value = { interval_ms / 1000, (interval_ms % 1000) * 1000000L },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &spec, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void ack_timer(int fd)
{
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
}

static int setup_loop(struct watcher *w)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -1;
	/* A closed stdout is reported by write(), not by a silent death. */
	signal(SIGPIPE, SIG_IGN);

	w->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	w->stats_timer_fd = make_timer(w->opts->interval_s * 1000);
	w->drain_timer_fd = make_timer(DRAIN_INTERVAL_MS);
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->signal_fd < 0 || w->stats_timer_fd < 0 || w->drain_timer_fd < 0 || w->epoll_fd < 0)
		return -1;
	if (add_to_epoll(w->epoll_fd, w->signal_fd) ||
	    add_to_epoll(w->epoll_fd, w->stats_timer_fd) ||
	    add_to_epoll(w->epoll_fd, w->drain_timer_fd) ||
	    add_to_epoll(w->epoll_fd, ring_buffer__epoll_fd(w->rb)))
		return -1;
	return 0;
}

/* Returns when a signal asks berth to stop. */
static int run_loop(struct watcher *w)
{
	struct epoll_event events[8];

	for (;;) {
		int n = epoll_wait(w->epoll_fd, events, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == w->signal_fd) {
				struct signalfd_siginfo info;

				if (read(fd, &info, sizeof(info)) != sizeof(info))
					continue;
				if (info.ssi_signo == SIGHUP) {
					reload_policy(w);
					continue;
				}
				log_info("signal %d: detaching and flushing", info.ssi_signo);
				return 0;
			}
			if (fd == w->stats_timer_fd) {
				ack_timer(fd);
				ring_buffer__consume(w->rb);
				/* Before forget_the_gone() can drop what they need. */
				release_held(w, true);
				report_stats(w);
				detect_expire(&w->detect, monotonic_ms());
				list_host_addrs(w);
				forget_the_gone(w);
			} else if (fd == w->drain_timer_fd) {
				ack_timer(fd);
				ring_buffer__consume(w->rb);
				release_held(w, false);
				runtimes_tick(&w->runtimes, monotonic_ms());
				outputs_tick(&w->outputs, monotonic_ms());
				metrics_tick(w->metrics, monotonic_ms());
			} else if (fd == ring_buffer__epoll_fd(w->rb)) {
				ring_buffer__consume(w->rb);
			} else if (!outputs_handle_fd(&w->outputs, fd, events[i].events) &&
				   /* Before the runtimes: curl's handler takes any fd. */
				   !metrics_handle_fd(w->metrics, fd, events[i].events)) {
				runtimes_handle_fd(&w->runtimes, fd, events[i].events);
			}
		}
		push_published_ports(w, false);
		outputs_flush(&w->outputs);
		/* stdout was the stream; with other outputs, they go on without it. */
		if (w->outputs.stdout_failed && w->outputs.n_sinks == 1)
			return -1;
	}
}

/*
 * The policy's outputs, then those of the flags; none at all is ECS on
 * stdout. The pseudonym key is read only when a sink pseudonymises.
 */
static int open_outputs(struct watcher *w)
{
	struct sink_config configs[OUTPUTS_MAX];
	struct pseudonym_key key = { 0 };
	const char *key_path = w->opts->pseudonym_key_path ? w->opts->pseudonym_key_path :
							     w->policy.pseudonym_key_file;
	unsigned int n = 0;
	bool pseudonymize = false;
	char err[512];

	for (unsigned int i = 0; i < w->policy.n_outputs && n < OUTPUTS_MAX; i++)
		configs[n++] = w->policy.outputs[i];
	for (unsigned int i = 0; i < w->opts->n_outputs && n < OUTPUTS_MAX; i++)
		configs[n++] = w->opts->outputs[i];
	for (unsigned int i = 0; i < n; i++)
		pseudonymize |= configs[i].pseudonymize;
	if (pseudonymize && pseudonym_key_load(key_path, &key, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	if (pseudonymize && !key_path)
		log_warn(
			"no pseudonym key file (privacy.key_file or --pseudonym-key): a random key "
			"is used, so pseudonyms change when berth restarts");
	w->outputs.host_name = w->host_name;
	if (outputs_open(&w->outputs, configs, n, &key, w->epoll_fd, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/*
 * --metrics-listen: a scrape reports the counters as of the last stats
 * interval, joined to the inventory as the port-stats records are. The
 * cgroup table only: a scrape never walks cgroupfs.
 */
static bool metrics_port_owner(void *ctx, const struct berth_port_key *key,
			       const struct container **c, const struct port_binding **b)
{
	struct watcher *w = ctx;
	const struct cgroup_entry *entry = hashmap_get(&w->inv.by_cgroup, &key->cgroup_id);

	if (!entry || !entry->is_container)
		return false;
	*c = inventory_container(&w->inv, entry->from_path.id);
	*b = *c ? container_binding(*c, key->port, key->protocol) : NULL;
	return *b != NULL;
}

static bool metrics_host_port_owner(void *ctx, uint16_t host_port, uint8_t protocol,
				    const struct container **c, const struct port_binding **b)
{
	struct watcher *w = ctx;

	*c = inventory_by_host_port(&w->inv, host_port, protocol, b);
	return *c != NULL;
}

static const char *metrics_interface_name(void *ctx, uint32_t ifindex)
{
	const struct xdp_attachment *att = xdp_by_ifindex(ctx, ifindex);

	return att ? att->name : NULL;
}

static void metrics_view_of(void *ctx, struct metrics_view *v)
{
	struct watcher *w = ctx;
	const struct metrics_eviction evictions[] = {
		{ "xdp_sources", "xdp-source-evicted", w->xdp_sources_evicted },
		{ "xdp_ports", "xdp-port-evicted", w->xdp_ports_evicted },
		{ "scan_sources", "scan-source-evicted", w->scan_sources_evicted },
		{ "unauthorized_reported", "unauthorized-memory-evicted",
		  w->unauth_reported_evicted },
	};

	v->stats = &w->stats;
	v->port_owner = metrics_port_owner;
	v->host_port_owner = metrics_host_port_owner;
	v->interface_name = metrics_interface_name;
	v->ctx = w;
	v->detector_evictions = w->detect.evictions;
	memcpy(v->evictions, evictions, sizeof(evictions));
	v->n_evictions = sizeof(evictions) / sizeof(evictions[0]);
	v->outputs = &w->outputs;
}

static int open_metrics(struct watcher *w)
{
	const struct metrics_source src = {
		.fill = metrics_view_of,
		.ctx = w,
		.obj = w->loader.skel->obj,
		.ringbuf_fd = bpf_map__fd(w->loader.skel->maps.events),
		.bearer_token = w->opts->metrics_token,
		.tls_cert = w->opts->metrics_tls_cert,
		.tls_key = w->opts->metrics_tls_key,
	};
	char err[512];

	if (!w->opts->metrics_listen)
		return 0;
	w->metrics = metrics_open(w->opts->metrics_listen, w->epoll_fd, &src, err, sizeof(err));
	if (!w->metrics) {
		log_error("%s", err);
		return -1;
	}
	log_info("metrics: %s://%s/metrics (port %u%s)",
		 w->opts->metrics_tls_cert ? "https" : "http", w->opts->metrics_listen,
		 metrics_port(w->metrics), w->opts->metrics_token ? ", bearer token asked" : "");
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int watch_load_policy(struct watch_options *opts, struct policy *policy)
{
	char err[512];

	if (!opts->config_path) {
		policy_defaults(policy);
		return 0;
	}
	if (policy_load(opts->config_path, policy, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	/*
	 * The file's interfaces, unless --iface named them on the command
	 * line. Copied: a reload frees the policy, and the XDP attachments are
	 * made once, at start (a changed list takes a restart).
	 */
	if (!opts->n_ifaces) {
		static char names[MAX_IFACES][IF_NAMESIZE];

		for (unsigned int i = 0; i < policy->n_interfaces && i < MAX_IFACES; i++) {
			snprintf(names[i], sizeof(names[i]), "%s", policy->interfaces[i]);
			opts->ifaces[opts->n_ifaces++] = names[i];
		}
	}
	return 0;
}

int watch_run(const struct watch_options *opts, struct policy *policy)
{
	struct loader_options load_opts = {
		.ringbuf_bytes = opts->ringbuf_bytes,
		.wakeup_data_size = WAKEUP_DATA_BYTES,
	};
	struct watcher w = {
		.opts = opts,
		.loader = { .cgroup_fd = -1 },
		.epoll_fd = -1,
		.stats_timer_fd = -1,
		.drain_timer_fd = -1,
		.signal_fd = -1,
	};
	int exit_code = 1;
	bool inventory_ready = false, stats_ready = false, runtimes_ready = false;
	const struct runtime_observer observer = {
		.containers = { .started = container_started,
				.stopped = container_stopped,
				.ctx = &w },
		.reconnected = runtime_reconnected,
	};

	w.policy = *policy;
	if (loader_preflight()) {
		policy_free(&w.policy);
		return 1;
	}
	if (cgroup2_find_mount("/proc/self/mountinfo", w.cgroup_mount, sizeof(w.cgroup_mount))) {
		log_error(
			"no cgroup2 file system is mounted: berth needs the unified hierarchy "
			"(pure cgroup v2 at /sys/fs/cgroup, or hybrid at /sys/fs/cgroup/unified); "
			"mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified`");
		policy_free(&w.policy);
		return 1;
	}
	if (gethostname(w.host_name, sizeof(w.host_name)))
		snprintf(w.host_name, sizeof(w.host_name), "unknown");
	w.meta.host_name = w.host_name;
	w.meta.version = BERTH_VERSION;

	if (inventory_init(&w.inv, w.cgroup_mount) ||
	    hashmap_init(&w.gone_cgroups, sizeof(uint64_t), 0))
		goto cleanup;
	if (detect_init(&w.detect, &w.policy, monotonic_ms(), alert_out, &w))
		goto cleanup;
	list_host_addrs(&w);
	inventory_ready = true;
	if (stats_init(&w.stats, libbpf_num_possible_cpus()))
		goto cleanup;
	stats_ready = true;

	if (loader_open_and_load(&w.loader, &load_opts))
		goto cleanup;
	w.rb = ring_buffer__new(bpf_map__fd(w.loader.skel->maps.events), handle_event, &w, NULL);
	if (!w.rb) {
		log_error("cannot set up the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	if (setup_loop(&w)) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		goto cleanup;
	}
	if (open_outputs(&w)) {
		exit_code = 2;
		goto cleanup;
	}
	if (open_metrics(&w)) {
		exit_code = 2;
		goto cleanup;
	}
	if (runtimes_init(&w.runtimes, &w.inv, w.epoll_fd, &observer)) {
		log_error("cannot set up the runtime clients: %s", strerror(errno));
		goto cleanup;
	}
	runtimes_ready = true;
	w.runtimes.oci_root = opts->oci_root;
	runtimes_add(&w.runtimes, "docker", opts->docker_socket, false);
	if (opts->podman_socket)
		runtimes_add(&w.runtimes, "podman", opts->podman_socket,
			     !opts->podman_socket_given);
	/* Know the containers before the first event needs them. */
	runtimes_connect(&w.runtimes, monotonic_ms());
	for (unsigned int i = 0; i < w.inv.containers.count; i++)
		detect_exposure(&w.detect, monotonic_ms(), &w.inv.containers.items[i]);
	w.loader.skel->bss->count_all_ports = opts->all;
	push_detector_settings(&w);
	push_published_ports(&w, true);
	cgroup_paths_refresh(&w.inv.cgroups);
	sync_clocks(&w);

	if (loader_attach_cgroup(&w.loader, w.cgroup_mount))
		goto cleanup;
	for (unsigned int i = 0; i < opts->n_ifaces; i++) {
		if (loader_attach_xdp(&w.loader, opts->ifaces[i], opts->xdp_mode)) {
			exit_code = 2;
			goto cleanup;
		}
		log_info("XDP on %s in %s mode", w.loader.xdp[i].name, w.loader.xdp[i].mode);
	}
	log_info("ready: watching every cgroup under %s, stats every %us", w.cgroup_mount,
		 opts->interval_s);

	if (run_loop(&w))
		goto cleanup;

	/*
	 * Detach first so nothing changes while we read: then the drained
	 * events and the last counters describe the same moment.
	 */
	loader_detach(&w.loader);
	ring_buffer__consume(w.rb);
	release_held(&w, true);
	report_stats(&w);
	outputs_flush(&w.outputs);
	/* What syslog and HTTP cannot deliver in time, stdout and the files still hear of. */
	outputs_close_remote(&w.outputs, monotonic_ms() + CLOSE_DELIVERY_MS);
	outputs_report_losses(&w.outputs, sink_lost_out, &w);
	outputs_flush(&w.outputs);
	exit_code = w.outputs.stdout_failed && w.outputs.n_sinks == 1 ? 1 : 0;

cleanup:
	outputs_close(&w.outputs, monotonic_ms() + CLOSE_DELIVERY_MS);
	metrics_close(w.metrics);
	close_fd(w.signal_fd);
	close_fd(w.stats_timer_fd);
	close_fd(w.drain_timer_fd);
	close_fd(w.epoll_fd);
	ring_buffer__free(w.rb);
	loader_destroy(&w.loader);
	if (stats_ready)
		stats_free(&w.stats);
	if (runtimes_ready)
		runtimes_free(&w.runtimes);
	if (inventory_ready)
		inventory_free(&w.inv);
	json_line_free(&w.line);
	free(w.held);
	hashmap_free(&w.gone_cgroups);
	detect_free(&w.detect);
	policy_free(&w.policy);
	return exit_code;
}
