// SPDX-License-Identifier: GPL-2.0-only
/*
 * stats.c arithmetic: per-CPU sums laid out the way the kernel returns them
 * (one value per possible CPU, back to back), interval deltas, loss causes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

/* A counter value that differs per CPU and per field, and sums without overflow. */
static uint64_t sample(int cpu, size_t field)
{
	return ((uint64_t)cpu + 1) * 1000003ULL + field * 7919ULL + ((uint64_t)cpu << 40);
}

static void check_port_sum(int ncpus)
{
	struct berth_port_counters *percpu = calloc(ncpus, sizeof(*percpu));
	struct berth_port_counters sum, want = { 0 };

	assert_non_null(percpu);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		percpu[cpu] = (struct berth_port_counters){
			.conns_opened = sample(cpu, 0),
			.conns_closed = sample(cpu, 1),
			.bytes_in = sample(cpu, 2),
			.bytes_out = sample(cpu, 3),
			.packets_in = sample(cpu, 4),
			.packets_out = sample(cpu, 5),
		};
		want.conns_opened += sample(cpu, 0);
		want.conns_closed += sample(cpu, 1);
		want.bytes_in += sample(cpu, 2);
		want.bytes_out += sample(cpu, 3);
		want.packets_in += sample(cpu, 4);
		want.packets_out += sample(cpu, 5);
	}
	memset(&sum, 0xa5, sizeof(sum)); /* the output starts as garbage */
	counters_sum_percpu(percpu, sizeof(*percpu), ncpus, &sum);
	assert_int_equal(sum.conns_opened, want.conns_opened);
	assert_int_equal(sum.conns_closed, want.conns_closed);
	assert_int_equal(sum.bytes_in, want.bytes_in);
	assert_int_equal(sum.bytes_out, want.bytes_out);
	assert_int_equal(sum.packets_in, want.packets_in);
	assert_int_equal(sum.packets_out, want.packets_out);
	free(percpu);
}

static void check_xdp_sum(int ncpus)
{
	struct berth_xdp_counters *percpu = calloc(ncpus, sizeof(*percpu));
	struct berth_xdp_counters sum, want = { 0 };

	assert_non_null(percpu);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		percpu[cpu].packets = sample(cpu, 0);
		percpu[cpu].bytes = sample(cpu, 1);
		percpu[cpu].syns = sample(cpu, 2);
		want.packets += sample(cpu, 0);
		want.bytes += sample(cpu, 1);
		want.syns += sample(cpu, 2);
	}
	memset(&sum, 0xa5, sizeof(sum));
	counters_sum_percpu(percpu, sizeof(*percpu), ncpus, &sum);
	assert_int_equal(sum.packets, want.packets);
	assert_int_equal(sum.bytes, want.bytes);
	assert_int_equal(sum.syns, want.syns);
	free(percpu);
}

static void test_sum_port_counters(void **state)
{
	(void)state;
	check_port_sum(1);
	check_port_sum(2);
	check_port_sum(64);
}

static void test_sum_xdp_counters(void **state)
{
	(void)state;
	check_xdp_sum(1);
	check_xdp_sum(2);
	check_xdp_sum(64);
}

/* The layout assumption the sum relies on: u64 fields only, no padding. */
static void test_counter_layouts(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct berth_port_counters), 6 * sizeof(uint64_t));
	assert_int_equal(sizeof(struct berth_xdp_counters), 4 * sizeof(uint64_t));
	assert_int_equal(sizeof(struct berth_xdp_source), 4 * sizeof(uint64_t));
}

/* Health slots are single u64s: value_size 8. */
static void test_sum_single_u64(void **state)
{
	uint64_t percpu[4] = { 1, 2, 3, UINT64_MAX - 6 }, sum = 42;

	(void)state;
	counters_sum_percpu(percpu, sizeof(uint64_t), 4, &sum);
	assert_int_equal(sum, UINT64_MAX);
	counters_sum_percpu(percpu, sizeof(uint64_t), 0, &sum);
	assert_int_equal(sum, 0);
}

static void test_sub(void **state)
{
	struct berth_port_counters now = { 10, 20, 3000, 4000, 50, 60 };
	struct berth_port_counters then = { 4, 20, 1000, 0, 49, 1 };
	struct berth_port_counters delta;
	struct berth_xdp_counters xnow = { 100, 1ULL << 50, 7, 3 }, xthen = { 1, 1, 7, 1 }, xdelta;

	(void)state;
	counters_sub(&now, &then, sizeof(now), &delta);
	assert_int_equal(delta.conns_opened, 6);
	assert_int_equal(delta.conns_closed, 0);
	assert_int_equal(delta.bytes_in, 2000);
	assert_int_equal(delta.bytes_out, 4000);
	assert_int_equal(delta.packets_in, 1);
	assert_int_equal(delta.packets_out, 59);

	counters_sub(&xnow, &xthen, sizeof(xnow), &xdelta);
	assert_int_equal(xdelta.packets, 99);
	assert_int_equal(xdelta.bytes, (1ULL << 50) - 1);
	assert_int_equal(xdelta.syns, 0);
	assert_int_equal(xdelta.syns_dropped, 2);

	/* In place: out may be a. */
	counters_sub(&now, &then, sizeof(now), &now);
	assert_memory_equal(&now, &delta, sizeof(now));
}

static void test_zero(void **state)
{
	struct berth_port_counters c = { 0 };
	struct berth_xdp_counters x = { 0 };

	(void)state;
	assert_true(counters_zero(&c, sizeof(c)));
	assert_true(counters_zero(&x, sizeof(x)));
	c.packets_out = 1; /* the last field counts too */
	assert_false(counters_zero(&c, sizeof(c)));
	c.packets_out = 0;
	c.conns_opened = 1;
	assert_false(counters_zero(&c, sizeof(c)));
	x.syns = 1ULL << 63;
	assert_false(counters_zero(&x, sizeof(x)));
}

static void test_loss_causes(void **state)
{
	(void)state;
	assert_string_equal(health_loss_cause(BERTH_CNT_RINGBUF_DROPS), "ringbuf-full");
	assert_string_equal(health_loss_cause(BERTH_CNT_PORT_MAP_FULL), "port-map-full");
	assert_string_equal(health_loss_cause(BERTH_CNT_XDP_PORT_MAP_FULL), "xdp-port-map-full");
	assert_string_equal(health_loss_cause(BERTH_CNT_CONN_STORAGE_FAILED),
			    "connection-storage-failed");
	assert_string_equal(health_loss_cause(BERTH_CNT_BIND_MAP_FULL), "bind-map-full");
	/* Bookkeeping counters are not losses. */
	assert_null(health_loss_cause(BERTH_CNT_XDP_SOURCE_INSERTS));
	assert_null(health_loss_cause(BERTH_CNT_XDP_MALFORMED));
	assert_null(health_loss_cause(BERTH_CNT_XDP_PORT_INSERTS));
	assert_null(health_loss_cause(BERTH_CNT__MAX));

	/* Causes are distinct and look like ECS-friendly tokens. */
	for (int i = 0; i < BERTH_CNT__MAX; i++) {
		const char *a = health_loss_cause(i);

		if (!a)
			continue;
		assert_true(strspn(a, "abcdefghijklmnopqrstuvwxyz-") == strlen(a));
		for (int j = i + 1; j < BERTH_CNT__MAX; j++) {
			const char *b = health_loss_cause(j);

			if (b && !strcmp(a, b))
				fail_msg("counters %d and %d share the cause %s", i, j, a);
		}
	}
}

/* stats_init sizes its buffer for the largest per-CPU value it reads. */
static void test_init_free(void **state)
{
	struct stats stats;

	(void)state;
	assert_int_equal(stats_init(&stats, 64), 0);
	assert_int_equal(stats.ncpus, 64);
	assert_true(stats.buf_size >= 64 * sizeof(struct berth_port_counters));
	assert_true(stats.buf_size >= 64 * sizeof(struct berth_xdp_counters));
	assert_int_equal(stats.ports.count, 0);
	assert_int_equal(stats.xdp.count, 0);
	stats_free(&stats);
	assert_null(stats.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_port_counters),
		cmocka_unit_test(test_sum_xdp_counters),
		cmocka_unit_test(test_counter_layouts),
		cmocka_unit_test(test_sum_single_u64),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_loss_causes),
		cmocka_unit_test(test_init_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
