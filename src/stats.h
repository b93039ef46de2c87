/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reads the kernel's per-CPU counter maps, sums them across CPUs and keeps
 * what was last reported, so each report has an interval and a total.
 */
#ifndef BERTH_STATS_H
#define BERTH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth.h"
#include "hashmap.h"

/*
 * Sums ncpus per-CPU copies of a struct made only of u64 counters
 * (value_size a multiple of 8, as the kernel lays per-CPU values out).
 */
void counters_sum_percpu(const void *percpu, size_t value_size, int ncpus, void *out);
/* out = a - b, counter by counter (u64 structs). */
void counters_sub(const void *a, const void *b, size_t value_size, void *out);
bool counters_zero(const void *counters, size_t value_size);

struct port_entry {
	struct berth_port_counters total;    /* as read from the kernel */
	struct berth_port_counters reported; /* total at the last report */
};

struct xdp_entry {
	struct berth_xdp_counters total;
	struct berth_xdp_counters reported;
};

struct stats {
	int ncpus;
	struct hashmap ports;		 /* struct berth_port_key -> struct port_entry */
	struct hashmap xdp;		 /* struct berth_xdp_port_key -> struct xdp_entry */
	uint64_t health[BERTH_CNT__MAX]; /* totals as read */
	uint64_t health_reported[BERTH_CNT__MAX]; /* at the last report */
	void *buf;				  /* one key's per-CPU values */
	size_t buf_size;
};

int stats_init(struct stats *stats, int ncpus);
void stats_free(struct stats *stats);

/* Reads every entry of the port_traffic / xdp_ports / health maps. */
int stats_read_ports(struct stats *stats, int map_fd);
int stats_read_xdp(struct stats *stats, int map_fd);
int stats_read_health(struct stats *stats, int map_fd);

/*
 * Deletes the entries of gone cgroups (gone: a set of uint64_t ids) from a
 * map whose keys start with the cgroup id (port_traffic, bound_ports) and,
 * when stats is not NULL, from the port counters, in one walk of the map.
 * Returns how many map entries went.
 */
unsigned int stats_forget_cgroups(struct stats *stats, int map_fd, size_t key_size,
				  const struct hashmap *gone);

/* Loss causes by enum berth_counter, NULL for counters that are not loss. */
const char *health_loss_cause(enum berth_counter counter);

#endif
