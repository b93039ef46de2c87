// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

void counters_sum_percpu(const void *percpu, size_t value_size, int ncpus, void *out)
{
	const uint64_t *in = percpu;
	uint64_t *sum = out;
	size_t n = value_size / sizeof(uint64_t);

	memset(out, 0, value_size);
	for (int cpu = 0; cpu < ncpus; cpu++)
		for (size_t i = 0; i < n; i++)
			sum[i] += in[cpu * n + i];
}

void counters_sub(const void *a, const void *b, size_t value_size, void *out)
{
	const uint64_t *x = a, *y = b;
	uint64_t *d = out;

	for (size_t i = 0; i < value_size / sizeof(uint64_t); i++)
		d[i] = x[i] - y[i];
}

bool counters_zero(const void *counters, size_t value_size)
{
	const uint64_t *c = counters;

	for (size_t i = 0; i < value_size / sizeof(uint64_t); i++)
		if (c[i])
			return false;
	return true;
}

int stats_init(struct stats *stats, int ncpus)
{
	int err;

	memset(stats, 0, sizeof(*stats));
	stats->ncpus = ncpus;
	/* The largest per-CPU value berth reads. */
	stats->buf_size = (size_t)ncpus * sizeof(struct berth_port_counters);
	stats->buf = calloc(1, stats->buf_size);
	if (!stats->buf)
		return -ENOMEM;
	err = hashmap_init(&stats->ports, sizeof(struct berth_port_key), sizeof(struct port_entry));
	if (!err)
		err = hashmap_init(&stats->xdp, sizeof(struct berth_xdp_port_key),
				   sizeof(struct xdp_entry));
	return err;
}

void stats_free(struct stats *stats)
{
	hashmap_free(&stats->ports);
	hashmap_free(&stats->xdp);
	free(stats->buf);
	stats->buf = NULL;
}

/*
 * Walks a per-CPU hash map and stores each key's CPU sum in `total` of the
 * entry (at entry_total_offset) of the user-space table.
 */
static int read_percpu_map(struct stats *stats, int map_fd, struct hashmap *table, size_t key_size,
			   size_t value_size)
{
	unsigned char key[32], next[32];
	void *prev = NULL;
	int err;

	while ((err = bpf_map_get_next_key(map_fd, prev, next)) == 0) {
		void *entry;

		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(map_fd, key, stats->buf))
			continue; /* deleted between the two calls */
		entry = hashmap_upsert(table, key, NULL);
		if (!entry)
			return -ENOMEM;
		/* Both entry types begin with `total`. */
		counters_sum_percpu(stats->buf, value_size, stats->ncpus, entry);
	}
	return err == -ENOENT ? 0 : err;
}

int stats_read_ports(struct stats *stats, int map_fd)
{
	return read_percpu_map(stats, map_fd, &stats->ports, sizeof(struct berth_port_key),
			       sizeof(struct berth_port_counters));
}

int stats_read_xdp(struct stats *stats, int map_fd)
{
	return read_percpu_map(stats, map_fd, &stats->xdp, sizeof(struct berth_xdp_port_key),
			       sizeof(struct berth_xdp_counters));
}

int stats_read_health(struct stats *stats, int map_fd)
{
	for (uint32_t i = 0; i < BERTH_CNT__MAX; i++) {
		int err = bpf_map_lookup_elem(map_fd, &i, stats->buf);

		if (err)
			return err;
		counters_sum_percpu(stats->buf, sizeof(uint64_t), stats->ncpus, &stats->health[i]);
	}
	return 0;
}

unsigned int stats_forget_cgroups(struct stats *stats, int map_fd, size_t key_size,
				  const struct hashmap *gone)
{
	unsigned char key[64], next[64], *doomed = NULL, *grown;
	unsigned int n = 0;
	void *prev = NULL;

	if (key_size > sizeof(key) || !gone->count)
		return 0;
	/* One walk for every gone cgroup; collect, then delete: deleting restarts a walk. */
	while (!bpf_map_get_next_key(map_fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (!hashmap_get(gone, key)) /* keys start with the cgroup id */
			continue;
		grown = realloc(doomed, (n + 1) * key_size);
		if (!grown)
			break;
		doomed = grown;
		memcpy(doomed + n * key_size, key, key_size);
		n++;
	}
	for (unsigned int i = 0; i < n; i++) {
		bpf_map_delete_elem(map_fd, doomed + i * key_size);
		if (stats && key_size == sizeof(struct berth_port_key))
			hashmap_remove(&stats->ports, doomed + i * key_size);
	}
	free(doomed);
	return n;
}

const char *health_loss_cause(enum berth_counter counter)
{
	switch (counter) {
	case BERTH_CNT_RINGBUF_DROPS:
		return "ringbuf-full";
	case BERTH_CNT_PORT_MAP_FULL:
		return "port-map-full";
	case BERTH_CNT_XDP_PORT_MAP_FULL:
		return "xdp-port-map-full";
	case BERTH_CNT_CONN_STORAGE_FAILED:
		return "connection-storage-failed";
	case BERTH_CNT_BIND_MAP_FULL:
		return "bind-map-full";
	default:
		return NULL;
	}
}
