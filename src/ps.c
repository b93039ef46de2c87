// SPDX-License-Identifier: GPL-2.0-only
/*
 * `berth ps`: list every runtime's running containers (the Engine API
 * listing, as `berth watch` takes it), and join traffic counters to them by
 * cgroup id. The counters are a running watch's own port_traffic map, found
 * from its sockops program at the cgroup2 root, or those of a short
 * observation with berth's programs attached just for it.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth.skel.h"
#include "cgroup.h"
#include "cli.h"
#include "docker.h"
#include "inventory.h"
#include "json.h"
#include "loader.h"
#include "log.h"
#include "clock.h"
#include "ps.h"
#include "stats.h"

/*
 * An observation reads counters, never events: the smallest ring buffer
 * berth accepts, and no wakeups (nobody reads it; a full one only counts
 * drops, which port_traffic does not depend on).
 */
#define OBSERVE_RINGBUF_BYTES (64u * 1024)
#define OBSERVE_NO_WAKEUP UINT64_MAX
/* Room for the programs at the cgroup2 root and the maps of one program. */
#define MAX_ATTACHED_PROGS 64
#define MAX_PROG_MAPS 32
#define PORTS_TEXT_MAX 4096
#define SHORT_ID_LEN 12

struct ps_row {
	struct container container;
	struct berth_port_counters counters; /* server-role traffic, summed */
};

struct ps_runtime {
	const char *name;  /* "docker", "podman": what container.runtime says */
	const char *label; /* "Docker", "podman": what messages say */
	const char *socket_path;
	bool answered;
};

struct ps {
	const struct ps_options *opts;
	struct ps_runtime runtimes[2];
	unsigned int n_runtimes;
	struct ps_row *rows;
	size_t n_rows, cap_rows;
	char cgroup_mount[4096];
	bool have_mount;
	/* Counters: none unless source is set. */
	struct stats stats;
	bool stats_ready;
	const char *source; /* "watch", "observation" or NULL */
	uint64_t since_realtime_ns;
};

/* ---- ports and bytes as the table shows them ---- */

static bool is_ipv6(const char *host_ip)
{
	return strchr(host_ip, ':') != NULL;
}

/* Keeps a range's bindings next to each other: address first, then ports. */
static int by_address_then_port(const void *a, const void *b)
{
	const struct port_binding *x = a, *y = b;
	int diff;

	if (x->protocol != y->protocol)
		return x->protocol - y->protocol;
	if (is_ipv6(x->host_ip) != is_ipv6(y->host_ip))
		return is_ipv6(x->host_ip) ? 1 : -1;
	diff = strcmp(x->host_ip, y->host_ip);
	if (diff)
		return diff;
	if (x->container_port != y->container_port)
		return x->container_port - y->container_port;
	return x->host_port - y->host_port;
}

/* The shown order: a port's IPv4 and IPv6 bindings side by side. */
static int by_port_then_address(const void *a, const void *b)
{
	const struct port_binding *x = a, *y = b;
	int diff;

	if (x->protocol != y->protocol)
		return x->protocol - y->protocol;
	if (x->container_port != y->container_port)
		return x->container_port - y->container_port;
	if (is_ipv6(x->host_ip) != is_ipv6(y->host_ip))
		return is_ipv6(x->host_ip) ? 1 : -1;
	diff = strcmp(x->host_ip, y->host_ip);
	if (diff)
		return diff;
	return x->host_port - y->host_port;
}

void ps_sort_bindings(struct container *c)
{
	if (c->n_bindings > 1)
		qsort(c->bindings, c->n_bindings, sizeof(*c->bindings), by_port_then_address);
}

/* A run of bindings that step host and container port together: one range. */
struct port_span {
	struct port_binding first;
	unsigned int count;
};

static int span_order(const void *a, const void *b)
{
	const struct port_span *x = a, *y = b;

	return by_port_then_address(&x->first, &y->first);
}

static int format_span(const struct port_span *s, char *out, size_t outlen)
{
	const struct port_binding *b = &s->first;
	const char *open = is_ipv6(b->host_ip) ? "[" : "";
	const char *close = is_ipv6(b->host_ip) ? "]" : "";
	const char *proto = b->protocol == IPPROTO_UDP ? "udp" : "tcp";

	if (s->count == 1)
		return snprintf(out, outlen, "%s%s%s:%u->%u/%s", open, b->host_ip, close,
				b->host_port, b->container_port, proto);
	return snprintf(out, outlen, "%s%s%s:%u-%u->%u-%u/%s", open, b->host_ip, close,
			b->host_port, b->host_port + s->count - 1, b->container_port,
			b->container_port + s->count - 1, proto);
}

void ps_format_ports(const struct container *c, char *out, size_t outlen)
{
	struct port_binding *sorted;
	struct port_span *spans;
	unsigned int n_spans = 0;
	size_t len = 0, total = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	if (!c->n_bindings)
		return;
	sorted = malloc(c->n_bindings * sizeof(*sorted));
	spans = malloc(c->n_bindings * sizeof(*spans));
	if (!sorted || !spans)
		goto out;
	memcpy(sorted, c->bindings, c->n_bindings * sizeof(*sorted));
	qsort(sorted, c->n_bindings, sizeof(*sorted), by_address_then_port);
	for (unsigned int i = 0; i < c->n_bindings; i++) {
		struct port_span *last = n_spans ? &spans[n_spans - 1] : NULL;
		const struct port_binding *b = &sorted[i];

		if (last && last->first.protocol == b->protocol &&
		    !strcmp(last->first.host_ip, b->host_ip) &&
		    last->first.host_port + last->count == b->host_port &&
		    last->first.container_port + last->count == b->container_port) {
			last->count++;
			continue;
		}
		spans[n_spans++] = (struct port_span){ .first = *b, .count = 1 };
	}
	qsort(spans, n_spans, sizeof(*spans), span_order);
	for (unsigned int i = 0; i < n_spans; i++) {
		char text[128];

		total += (i ? 2 : 0) + format_span(&spans[i], text, sizeof(text));
	}
	for (unsigned int i = 0; i < n_spans; i++) {
		const char *sep = i ? ", " : "";
		char text[128];
		int n = format_span(&spans[i], text, sizeof(text));

		/* Too long: whole bindings while "..." still fits after them. */
		if (total >= outlen && len + strlen(sep) + n + strlen(", ...") >= outlen) {
			if (len + strlen(sep) + strlen("...") < outlen)
				snprintf(out + len, outlen - len, "%s...", sep);
			break;
		}
		len += snprintf(out + len, outlen - len, "%s%s", sep, text);
	}
out:
	free(sorted);
	free(spans);
}

void ps_format_bytes(uint64_t bytes, char *out, size_t outlen)
{
	static const char units[] = "KMGTPE";
	double value = bytes;
	int unit = -1;

	if (bytes < 1024) {
		snprintf(out, outlen, "%lluB", (unsigned long long)bytes);
		return;
	}
	while (value >= 1024 && unit < (int)sizeof(units) - 2) {
		value /= 1024;
		unit++;
	}
	/* Two significant digits at least, as `ls -h` shows them. */
	if (value < 9.95)
		snprintf(out, outlen, "%.1f%c", value, units[unit]);
	else
		snprintf(out, outlen, "%.0f%c", value, units[unit]);
}

/* ---- the containers ---- */

/* Takes c (its bindings and labels) into a new row. */
static struct ps_row *add_row(struct ps *ps, struct container *c)
{
	struct ps_row *row;

	if (ps->n_rows == ps->cap_rows) {
		size_t cap = ps->cap_rows ? ps->cap_rows * 2 : 16;
		struct ps_row *grown = realloc(ps->rows, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		ps->rows = grown;
		ps->cap_rows = cap;
	}
	row = &ps->rows[ps->n_rows++];
	memset(row, 0, sizeof(*row));
	row->container = *c;
	memset(c, 0, sizeof(*c));
	return row;
}

static struct ps_row *row_of(struct ps *ps, const char *id)
{
	for (size_t i = 0; i < ps->n_rows; i++)
		if (!strcmp(ps->rows[i].container.id, id))
			return &ps->rows[i];
	return NULL;
}

static void add_runtime(struct ps *ps, const char *name, const char *label, const char *socket_path)
{
	ps->runtimes[ps->n_runtimes++] = (struct ps_runtime){
		.name = name,
		.label = label,
		.socket_path = socket_path,
	};
}

static struct ps_runtime *runtime_by_name(struct ps *ps, const char *name)
{
	for (unsigned int i = 0; i < ps->n_runtimes; i++)
		if (!strcmp(ps->runtimes[i].name, name))
			return &ps->runtimes[i];
	return NULL;
}

static void list_runtime(struct ps *ps, struct ps_runtime *rt)
{
	struct container_list list;
	char err[512];

	if (docker_list_containers(rt->socket_path, &list, err, sizeof(err))) {
		log_warn("%s API unavailable (%s): its containers are not listed", rt->label, err);
		return;
	}
	rt->answered = true;
	if (err[0])
		log_warn("%s API listing: %s", rt->label, err);
	for (unsigned int i = 0; i < list.count; i++) {
		list.items[i].runtime = rt->name;
		if (!add_row(ps, &list.items[i]))
			log_warn("out of memory: %s container %.12s not listed", rt->label,
				 list.items[i].id);
	}
	log_debug("%s at %s: %u running containers", rt->label, rt->socket_path, list.count);
	container_list_free(&list);
}

/* Lists every runtime; the number that answered. */
static unsigned int list_runtimes(struct ps *ps)
{
	const struct ps_options *opts = ps->opts;
	unsigned int answered = 0;
	struct stat st;

	add_runtime(ps, "docker", "Docker", opts->docker_socket);
	/* Like watch: podman's socket is only worth a word when it was asked for. */
	if (opts->podman_socket) {
		if (opts->podman_socket_given || !stat(opts->podman_socket, &st))
			add_runtime(ps, "podman", "podman", opts->podman_socket);
		else
			log_debug("no podman socket at %s: podman not listed", opts->podman_socket);
	}
	for (unsigned int i = 0; i < ps->n_runtimes; i++) {
		list_runtime(ps, &ps->runtimes[i]);
		answered += ps->runtimes[i].answered;
	}
	return answered;
}

/*
 * A container the listing did not have (started since, during an
 * observation): asked for by id from the runtime its cgroup path names.
 */
static struct ps_row *learn_container(struct ps *ps, const struct cgroup_container *from_path)
{
	struct ps_runtime *rt = runtime_by_name(ps, from_path->runtime);
	struct ps_row *row;
	struct container c;
	char err[512];

	if (!rt || !rt->answered)
		return NULL;
	if (docker_inspect_container(rt->socket_path, from_path->id, &c, err, sizeof(err))) {
		log_debug("%s: inspect %.12s: %s", rt->name, from_path->id, err);
		return NULL;
	}
	c.runtime = rt->name;
	row = add_row(ps, &c);
	if (!row)
		container_clear(&c);
	return row;
}

/* ---- counters of a running watch ---- */

struct watch_map {
	int fd;
	uint32_t map_id;
	uint64_t loaded_realtime_ns; /* when its programs were loaded */
};

static bool is_port_traffic_map(int map_fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return false;
	return !strcmp(info.name, "port_traffic") && info.type == BPF_MAP_TYPE_PERCPU_HASH &&
	       info.key_size == sizeof(struct berth_port_key) &&
	       info.value_size == sizeof(struct berth_port_counters);
}

/* bpf_prog_info.load_time is CLOCK_BOOTTIME. */
static uint64_t boottime_to_realtime(uint64_t boottime_ns)
{
	return clock_ns(CLOCK_REALTIME) - (clock_ns(CLOCK_BOOTTIME) - boottime_ns);
}

/*
 * Looks at the maps of one program attached at the cgroup2 root; keeps the
 * newest port_traffic map of berth's sockops program in found. Returns how
 * many such maps the program has (0 or 1).
 */
static unsigned int consider_program(uint32_t prog_id, struct watch_map *found)
{
	uint32_t map_ids[MAX_PROG_MAPS];
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info), n_maps;
	unsigned int matches = 0;
	int prog_fd;

	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return 0; /* detached since the query */
	info.nr_map_ids = MAX_PROG_MAPS;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) || strcmp(info.name, "handle_sockops")) {
		close(prog_fd);
		return 0;
	}
	close(prog_fd);
	n_maps = info.nr_map_ids < MAX_PROG_MAPS ? info.nr_map_ids : MAX_PROG_MAPS;
	for (uint32_t i = 0; i < n_maps; i++) {
		int map_fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (map_fd < 0)
			continue;
		if (!is_port_traffic_map(map_fd)) {
			close(map_fd);
			continue;
		}
		matches++;
		if (found->fd >= 0 && map_ids[i] <= found->map_id) {
			close(map_fd);
			continue;
		}
		if (found->fd >= 0)
			close(found->fd);
		found->fd = map_fd;
		found->map_id = map_ids[i];
		found->loaded_realtime_ns = boottime_to_realtime(info.load_time);
	}
	return matches;
}

/*
 * The port_traffic map of a running `berth watch`, without pinning: the
 * map of the same name and shape used by a handle_sockops program attached
 * at the cgroup2 root. Going through the attached program rather than every
 * map of that name skips berth's maps that count nothing (the BPF tests
 * load the same object without attaching it). Several watches: the newest.
 * 1 found (found->fd is the caller's), 0 none, or -errno.
 */
static int find_watch_map(const char *cgroup_mount, struct watch_map *found)
{
	uint32_t prog_ids[MAX_ATTACHED_PROGS], n_progs = MAX_ATTACHED_PROGS;
	unsigned int matches = 0;
	int cgroup_fd, err;

	*found = (struct watch_map){ .fd = -1 };
	cgroup_fd = open(cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0)
		return -errno;
	err = bpf_prog_query(cgroup_fd, BPF_CGROUP_SOCK_OPS, 0, NULL, prog_ids, &n_progs);
	err = err ? -errno : 0;
	close(cgroup_fd);
	if (err)
		return err;
	for (uint32_t i = 0; i < n_progs; i++)
		matches += consider_program(prog_ids[i], found);
	if (matches > 1)
		log_debug("%u berth watches are attached at %s: reading the newest one's "
			  "counters (map id %u)",
			  matches, cgroup_mount, found->map_id);
	else if (matches)
		log_debug("reading the counters of the berth watch attached at %s (map id %u)",
			  cgroup_mount, found->map_id);
	return found->fd >= 0;
}

/* Counters from a running watch, if one runs; otherwise says how to get some. */
static void counters_from_watch(struct ps *ps)
{
	struct watch_map found;
	int ret;

	if (!ps->have_mount) {
		log_debug("no cgroup2 mount: no berth watch to read counters from");
		return;
	}
	ret = find_watch_map(ps->cgroup_mount, &found);
	if (ret < 0) {
		log_warn("cannot look for a running berth watch (%s): no counters; they need "
			 "root (CAP_SYS_ADMIN)",
			 strerror(-ret));
		return;
	}
	if (!ret) {
		log_info("no berth watch is running: counters need `berth ps --observe 5`");
		return;
	}
	ret = stats_read_ports(&ps->stats, found.fd);
	close(found.fd);
	if (ret) {
		log_warn("cannot read the counters of the running berth watch: %s", strerror(-ret));
		return;
	}
	ps->source = "watch";
	ps->since_realtime_ns = found.loaded_realtime_ns;
}

/* ---- counters of an observation ---- */

/* Waits up to seconds for a signal of stop; the signal, or 0 on timeout. */
static int wait_for_signal(const sigset_t *stop, unsigned int seconds)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)seconds * 1000000000ULL;

	for (;;) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		struct timespec left;
		int signo;

		if (now >= deadline)
			return 0;
		left.tv_sec = (deadline - now) / 1000000000ULL;
		left.tv_nsec = (deadline - now) % 1000000000ULL;
		signo = sigtimedwait(stop, NULL, &left);
		if (signo > 0)
			return signo;
		if (errno == EAGAIN)
			return 0;
		/* EINTR: another signal's handler ran; wait out the rest. */
	}
}

/*
 * Attaches berth's cgroup programs (no XDP) for seconds, then detaches and
 * reads port_traffic. SIGINT and SIGTERM are blocked from before the load
 * on, so that one arriving at any point ends the observation here, with
 * everything detached, rather than killing berth halfway.
 */
static int observe(struct ps *ps, unsigned int seconds)
{
	const struct loader_options load_opts = {
		.ringbuf_bytes = OBSERVE_RINGBUF_BYTES,
		.wakeup_data_size = OBSERVE_NO_WAKEUP,
	};
	struct loader loader = { .cgroup_fd = -1 };
	sigset_t stop, old;
	int ret = -1, signo, err;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, &old)) {
		log_error("cannot block SIGINT and SIGTERM: %s", strerror(errno));
		return -1;
	}
	if (loader_open_and_load(&loader, &load_opts))
		goto out;
	if (loader_attach_cgroup(&loader, ps->cgroup_mount))
		goto out;
	ps->since_realtime_ns = clock_ns(CLOCK_REALTIME);
	log_info("observing every container's traffic for %u s", seconds);
	signo = wait_for_signal(&stop, seconds);
	/* Detach first, so that what is read is one moment's counts. */
	loader_detach(&loader);
	if (signo) {
		log_error("interrupted by signal %d: observation stopped, programs detached, "
			  "nothing listed",
			  signo);
		goto out;
	}
	err = stats_read_ports(&ps->stats, bpf_map__fd(loader.skel->maps.port_traffic));
	if (err) {
		log_error("cannot read the observed counters: %s", strerror(-err));
		goto out;
	}
	ps->source = "observation";
	ret = 0;
out:
	loader_destroy(&loader);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* ---- counters to containers ---- */

static void add_counters(struct berth_port_counters *into, const struct berth_port_counters *c)
{
	into->conns_opened += c->conns_opened;
	into->conns_closed += c->conns_closed;
	into->bytes_in += c->bytes_in;
	into->bytes_out += c->bytes_out;
	into->packets_in += c->packets_in;
	into->packets_out += c->packets_out;
}

/*
 * Sums the server-role counters of each cgroup, then gives each cgroup's
 * sum to its container: the traffic the container serves on its ports,
 * not what it fetched as a client. Cgroups that are gone, and those that
 * are not containers, are skipped.
 */
static int attribute_counters(struct ps *ps)
{
	struct berth_port_counters *sum;
	struct berth_port_key *key;
	struct port_entry *entry;
	struct hashmap by_cgroup;
	struct inventory inv;
	uint64_t *cgroup_id;
	size_t iter = 0;
	int err;

	err = hashmap_init(&by_cgroup, sizeof(uint64_t), sizeof(struct berth_port_counters));
	if (err)
		return err;
	while (hashmap_next(&ps->stats.ports, &iter, (void **)&key, (void **)&entry)) {
		struct berth_port_counters *into;

		if (key->role != BERTH_ROLE_LOCAL)
			continue;
		into = hashmap_upsert(&by_cgroup, &key->cgroup_id, NULL);
		if (!into) {
			hashmap_free(&by_cgroup);
			return -ENOMEM;
		}
		add_counters(into, &entry->total);
	}

	err = inventory_init(&inv, ps->cgroup_mount);
	if (err) {
		hashmap_free(&by_cgroup);
		return err;
	}
	/* One walk of cgroupfs names every cgroup that still exists. */
	cgroup_paths_refresh(&inv.cgroups);
	iter = 0;
	while (hashmap_next(&by_cgroup, &iter, (void **)&cgroup_id, (void **)&sum)) {
		const struct cgroup_entry *cg = inventory_cgroup(&inv, *cgroup_id);
		struct ps_row *row;

		if (!cg || !cg->is_container)
			continue;
		row = row_of(ps, cg->from_path.id);
		if (!row)
			row = learn_container(ps, &cg->from_path);
		if (!row)
			continue;
		add_counters(&row->counters, sum);
	}
	inventory_free(&inv);
	hashmap_free(&by_cgroup);
	return 0;
}

/* ---- output ---- */

static int by_name(const void *a, const void *b)
{
	const struct container *x = &((const struct ps_row *)a)->container;
	const struct container *y = &((const struct ps_row *)b)->container;
	int diff = strcmp(x->name, y->name);

	if (!diff)
		diff = strcmp(x->runtime, y->runtime);
	return diff ? diff : strcmp(x->id, y->id);
}

enum column {
	COL_ID,
	COL_NAME,
	COL_IMAGE,
	COL_RUNTIME,
	COL_PORTS,
	COL_CONNS,
	COL_IN,
	COL_OUT,
	N_COLUMNS,
};

struct cells {
	char id[SHORT_ID_LEN + 1];
	char ports[PORTS_TEXT_MAX];
	char conns[24];
	char in[16];
	char out[16];
	const char *text[N_COLUMNS];
};

static void fill_cells(const struct ps_row *row, struct cells *cells)
{
	const struct container *c = &row->container;

	snprintf(cells->id, sizeof(cells->id), "%s", c->id);
	ps_format_ports(c, cells->ports, sizeof(cells->ports));
	snprintf(cells->conns, sizeof(cells->conns), "%llu",
		 (unsigned long long)row->counters.conns_opened);
	ps_format_bytes(row->counters.bytes_in, cells->in, sizeof(cells->in));
	ps_format_bytes(row->counters.bytes_out, cells->out, sizeof(cells->out));
	cells->text[COL_ID] = cells->id;
	cells->text[COL_NAME] = c->name;
	cells->text[COL_IMAGE] = c->image;
	cells->text[COL_RUNTIME] = c->runtime;
	cells->text[COL_PORTS] = cells->ports;
	cells->text[COL_CONNS] = cells->conns;
	cells->text[COL_IN] = cells->in;
	cells->text[COL_OUT] = cells->out;
}

/* Columns three spaces apart, as `docker ps` has them; counts aligned right. */
static void print_line(const char *const *text, const size_t *width, unsigned int n_columns)
{
	for (unsigned int col = 0; col < n_columns; col++) {
		bool last = col + 1 == n_columns;
		int w = (int)width[col];

		if (col >= COL_CONNS)
			printf("%*s", w, text[col]);
		else if (last)
			fputs(text[col], stdout);
		else
			printf("%-*s", w, text[col]);
		fputs(last ? "\n" : "   ", stdout);
	}
}

static int print_table(struct ps *ps, unsigned int observed_s)
{
	const char *titles[N_COLUMNS] = { "CONTAINER ID", "NAME",  "IMAGE", "RUNTIME",
					  "PORTS",	  "CONNS", "IN",    "OUT" };
	unsigned int n_columns = ps->source ? N_COLUMNS : COL_PORTS + 1;
	char titled[3][24];
	size_t width[N_COLUMNS];
	struct cells *cells;

	/* An observation's counts are of its window only: the titles say which. */
	if (observed_s) {
		snprintf(titled[0], sizeof(titled[0]), "CONNS/%us", observed_s);
		snprintf(titled[1], sizeof(titled[1]), "IN/%us", observed_s);
		snprintf(titled[2], sizeof(titled[2]), "OUT/%us", observed_s);
		titles[COL_CONNS] = titled[0];
		titles[COL_IN] = titled[1];
		titles[COL_OUT] = titled[2];
	}
	cells = calloc(ps->n_rows ? ps->n_rows : 1, sizeof(*cells));
	if (!cells) {
		log_error("out of memory");
		return -1;
	}
	for (unsigned int col = 0; col < N_COLUMNS; col++)
		width[col] = strlen(titles[col]);
	for (size_t i = 0; i < ps->n_rows; i++) {
		fill_cells(&ps->rows[i], &cells[i]);
		for (unsigned int col = 0; col < n_columns; col++)
			if (strlen(cells[i].text[col]) > width[col])
				width[col] = strlen(cells[i].text[col]);
	}
	print_line(titles, width, n_columns);
	for (size_t i = 0; i < ps->n_rows; i++)
		print_line(cells[i].text, width, n_columns);
	free(cells);
	return 0;
}

static int print_json(struct ps *ps, unsigned int observed_s)
{
	const struct container **containers;
	struct berth_port_counters *counters;
	struct json_line line = { 0 };
	int err;

	containers = calloc(ps->n_rows ? ps->n_rows : 1, sizeof(*containers));
	counters = calloc(ps->n_rows ? ps->n_rows : 1, sizeof(*counters));
	if (!containers || !counters) {
		free(containers);
		free(counters);
		log_error("out of memory");
		return -1;
	}
	for (size_t i = 0; i < ps->n_rows; i++) {
		containers[i] = &ps->rows[i].container;
		counters[i] = ps->rows[i].counters;
	}
	err = json_write_line(stdout, json_container_listing(&line, containers,
							     ps->source ? counters : NULL,
							     ps->n_rows, ps->source,
							     ps->since_realtime_ns, observed_s));
	if (err)
		log_error("cannot write the listing: %s", strerror(errno));
	json_line_free(&line);
	free(containers);
	free(counters);
	return err;
}

static int print_listing(struct ps *ps)
{
	unsigned int observed_s =
		ps->source && !strcmp(ps->source, "observation") ? ps->opts->observe_s : 0;
	int err;

	for (size_t i = 0; i < ps->n_rows; i++)
		ps_sort_bindings(&ps->rows[i].container);
	if (ps->n_rows > 1)
		qsort(ps->rows, ps->n_rows, sizeof(*ps->rows), by_name);
	err = ps->opts->json ? print_json(ps, observed_s) : print_table(ps, observed_s);
	if (!err && fflush(stdout)) {
		log_error("cannot write the listing: %s", strerror(errno));
		err = -1;
	}
	return err;
}

/* ---- the command ---- */

static void ps_free(struct ps *ps)
{
	for (size_t i = 0; i < ps->n_rows; i++)
		container_clear(&ps->rows[i].container);
	free(ps->rows);
	if (ps->stats_ready)
		stats_free(&ps->stats);
}

int ps_run(const struct ps_options *opts)
{
	struct ps ps = { .opts = opts };
	int exit_code = EXIT_FAILURE_RUNTIME;

	ps.have_mount = !cgroup2_find_mount("/proc/self/mountinfo", ps.cgroup_mount,
					    sizeof(ps.cgroup_mount));
	if (opts->observe_s) {
		/* Say what is missing before listing anything, let alone waiting. */
		if (loader_preflight())
			return EXIT_FAILURE_RUNTIME;
		if (!ps.have_mount) {
			log_error("no cgroup2 file system is mounted: --observe attaches at its "
				  "root (mount it with `mount -t cgroup2 none "
				  "/sys/fs/cgroup/unified`)");
			return EXIT_FAILURE_RUNTIME;
		}
	}
	if (!list_runtimes(&ps)) {
		log_error("no container runtime answered: nothing to list (is dockerd running? "
			  "see --docker-socket and --podman-socket)");
		goto out;
	}

	if (stats_init(&ps.stats, libbpf_num_possible_cpus())) {
		log_error("out of memory");
		goto out;
	}
	ps.stats_ready = true;
	if (opts->observe_s) {
		if (observe(&ps, opts->observe_s))
			goto out;
	} else {
		counters_from_watch(&ps);
	}
	if (ps.source && attribute_counters(&ps)) {
		log_error("cannot join the counters to containers: out of memory");
		goto out;
	}
	if (print_listing(&ps))
		goto out;
	exit_code = EXIT_OK;
out:
	ps_free(&ps);
	return exit_code;
}
