// SPDX-License-Identifier: GPL-2.0-only
/*
 * detect.c on synthetic sequences: the edges of every window and threshold,
 * suppression, the learning periods, and the bound on its state.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect.h"

#define MAX_SEEN 64

static struct alert seen[MAX_SEEN];
static unsigned int n_seen;

static void record(void *ctx, const struct alert *a)
{
	(void)ctx;
	if (n_seen < MAX_SEEN)
		seen[n_seen] = *a;
	n_seen++;
}

static unsigned int count_action(const char *action)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < n_seen && i < MAX_SEEN; i++)
		n += !strcmp(seen[i].action, action);
	return n;
}

static const struct alert *last_of(const char *action)
{
	for (unsigned int i = n_seen < MAX_SEEN ? n_seen : MAX_SEEN; i-- > 0;)
		if (!strcmp(seen[i].action, action))
			return &seen[i];
	return NULL;
}

static struct container web = { .id = "aaaa", .name = "web-1", .image = "nginx:1.27" };
static struct container db = { .id = "bbbb", .name = "db", .image = "postgres:16" };
static struct port_binding web80 = {
	.host_ip = "0.0.0.0", .host_port = 8080, .container_port = 80, .protocol = IPPROTO_TCP
};

struct fixture {
	struct policy policy;
	struct detector d;
};

static int setup_with(void **state, const char *yaml)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];

	if (!f)
		return -1;
	if (policy_parse(yaml, strlen(yaml), "t.yaml", &f->policy, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		free(f);
		return -1;
	}
	if (detect_init(&f->d, &f->policy, 0, record, NULL)) {
		free(f);
		return -1;
	}
	n_seen = 0;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, "rules:\n"
				 "  - {name: web-office, container: \"web*\", port: 80, allow: "
				 "[198.51.100.0/25], max_rate: 1/s}\n"
				 "detect:\n"
				 "  brute_force: {connections: 5, window: 10s}\n"
				 "  rate_spike: {factor: 4, min_rate: 2/s, learn: 30s}\n"
				 "  suppress: 60s\n");
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	detect_free(&f->d);
	policy_free(&f->policy);
	free(f);
	return 0;
}

static void addr(uint8_t out[ADDR_LEN], const char *text)
{
	assert_int_equal(addr_parse(text, out), 0);
}

static void connect_web(struct fixture *f, uint64_t now, const char *source)
{
	uint8_t a[ADDR_LEN];

	addr(a, source);
	detect_connection(&f->d, now, a, false, &web, &web80, 80, IPPROTO_TCP);
}

static void test_unauthorized_source(void **state)
{
	struct fixture *f = *state;
	uint8_t host[ADDR_LEN];

	connect_web(f, 1000, "198.51.100.2");
	assert_int_equal(count_action("unauthorized-source"), 0);
	connect_web(f, 1000, "198.51.100.200");
	assert_int_equal(count_action("unauthorized-source"), 1);
	assert_string_equal(last_of("unauthorized-source")->rule_name, "web-office");
	assert_string_equal(last_of("unauthorized-source")->view, "socket");
	assert_ptr_equal(last_of("unauthorized-source")->container, &web);
	assert_int_equal(last_of("unauthorized-source")->port, 80);
	/* Another container on port 80: no rule selects it. */
	{
		uint8_t a[ADDR_LEN];

		addr(a, "203.0.113.9");
		detect_connection(&f->d, 1000, a, false, &db, &web80, 80, IPPROTO_TCP);
	}
	assert_int_equal(count_action("unauthorized-source"), 1);
	/* The host itself (docker-proxy relaying a loopback binding): not judged here. */
	addr(host, "172.17.0.1");
	detect_connection(&f->d, 1000, host, true, &web, &web80, 80, IPPROTO_TCP);
	assert_int_equal(count_action("unauthorized-source"), 1);
}

/* The rule that applies is remembered per container and binding; a rename is a new lookup. */
static void test_rule_follows_rename(void **state)
{
	struct fixture *f = *state;
	struct container renamed = web;
	uint8_t a[ADDR_LEN];

	connect_web(f, 1000, "192.0.2.50");
	assert_int_equal(count_action("unauthorized-source"), 1);
	/* "web*" no longer matches: no rule, no allowlist to break. */
	snprintf(renamed.name, sizeof(renamed.name), "api-1");
	addr(a, "192.0.2.51");
	detect_connection(&f->d, 2000, a, false, &renamed, &web80, 80, IPPROTO_TCP);
	assert_int_equal(count_action("unauthorized-source"), 1);
}

/* One alert per (rule, source, port) per suppression window, then a count. */
static void test_suppression(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 4; i++)
		connect_web(f, 1000 + i, "192.0.2.7");
	assert_int_equal(count_action("unauthorized-source"), 1);
	/* A different source is a different key. */
	connect_web(f, 2000, "192.0.2.8");
	assert_int_equal(count_action("unauthorized-source"), 2);
	/* The window ends: a record counts what was held back. */
	detect_expire(&f->d, 1000 + 59999);
	assert_int_equal(count_action("unauthorized-source"), 2);
	detect_expire(&f->d, 1000 + 60000);
	assert_int_equal(count_action("unauthorized-source"), 3);
	assert_int_equal(last_of("unauthorized-source")->suppressed, 3);
	assert_int_equal(last_of("unauthorized-source")->count, 0);
	/* Next time, a fresh alert. */
	connect_web(f, 70000, "192.0.2.7");
	assert_int_equal(count_action("unauthorized-source"), 4);
	assert_int_equal(last_of("unauthorized-source")->suppressed, 0);
}

static void test_brute_force_window_edges(void **state)
{
	struct fixture *f = *state;

	/* 4 in the window: below the threshold of 5. */
	for (int i = 0; i < 4; i++)
		connect_web(f, 1000 + i * 1000, "198.51.100.3");
	assert_int_equal(count_action("brute-force"), 0);
	/* The 5th at 10.999 s after the first: still in the window. */
	connect_web(f, 1000 + 9999, "198.51.100.3");
	assert_int_equal(count_action("brute-force"), 1);
	assert_int_equal(last_of("brute-force")->count, 5);
	assert_int_equal(last_of("brute-force")->threshold, 5);
	assert_int_equal(last_of("brute-force")->window_ms, 10000);

	/* Another source: 4 in one window, 1 just after it ended: nothing. */
	for (int i = 0; i < 4; i++)
		connect_web(f, 100000 + i, "198.51.100.4");
	connect_web(f, 100000 + 10000, "198.51.100.4");
	assert_int_equal(count_action("brute-force"), 1);
}

/* max_rate 1/s: more than 10 in 10 s from one source. */
static void test_rate_limit(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 10; i++)
		connect_web(f, 1000 + i * 100, "198.51.100.5");
	assert_int_equal(count_action("rate-limit"), 0);
	connect_web(f, 2500, "198.51.100.5");
	assert_int_equal(count_action("rate-limit"), 1);
	assert_int_equal(last_of("rate-limit")->count, 11);
	assert_int_equal(last_of("rate-limit")->threshold, 10);
	assert_string_equal(last_of("rate-limit")->rule_name, "web-office");
}

static void test_rate_spike(void **state)
{
	struct fixture *f = *state;
	uint64_t t = 0;

	/* Learning (30 s): a burst then teaches, never alerts. */
	for (int i = 0; i < 3; i++, t += 10000)
		detect_port_rate(&f->d, t, &web, &web80, 80, IPPROTO_TCP, 10, 10);
	detect_port_rate(&f->d, t - 1, &web, &web80, 80, IPPROTO_TCP, 1000, 10);
	assert_int_equal(count_action("rate-spike"), 0);
	/* Learned: ~1/s plus the burst, which steady traffic then wears off. Quiet. */
	for (int i = 0; i < 40; i++, t += 10000)
		detect_port_rate(&f->d, t, &web, &web80, 80, IPPROTO_TCP, 10, 10);
	assert_int_equal(count_action("rate-spike"), 0);
	/* 4x the baseline but under min_rate (2/s): quiet. */
	detect_port_rate(&f->d, t, &web, &web80, 80, IPPROTO_TCP, 19, 10);
	assert_int_equal(count_action("rate-spike"), 0);
	/* 10x: fires, with the rate and baseline. */
	detect_port_rate(&f->d, t += 10000, &web, &web80, 80, IPPROTO_TCP, 100, 10);
	assert_int_equal(count_action("rate-spike"), 1);
	assert_true(last_of("rate-spike")->rate == 10);
	assert_true(last_of("rate-spike")->baseline > 0.9 && last_of("rate-spike")->baseline < 2.5);
	assert_string_equal(last_of("rate-spike")->rule_name, "web-office");
}

/* A reload keeps what was learned. */
static void test_baseline_survives_reload(void **state)
{
	struct fixture *f = *state;
	struct policy other;
	char err[256];
	uint64_t t = 0;

	for (int i = 0; i < 5; i++, t += 10000)
		detect_port_rate(&f->d, t, &web, &web80, 80, IPPROTO_TCP, 10, 10);
	assert_int_equal(
		policy_parse("detect: {rate_spike: {factor: 2, min_rate: 1/s, learn: 30s}}", 60,
			     "t.yaml", &other, err, sizeof(err)),
		0);
	detect_set_policy(&f->d, &other);
	detect_port_rate(&f->d, t, &web, &web80, 80, IPPROTO_TCP, 30, 10);
	assert_int_equal(count_action("rate-spike"), 1);
	detect_set_policy(&f->d, &f->policy);
	policy_free(&other);
}

/* XDP's attempts and the socket view's connections share one alert per window. */
static void test_attempts_share_brute_force(void **state)
{
	struct fixture *f = *state;
	uint8_t a[ADDR_LEN];

	addr(a, "198.51.100.6");
	detect_attempts(&f->d, 1000, a, &web, &web80, 8080, IPPROTO_TCP, 5, 10000);
	assert_int_equal(count_action("brute-force"), 1);
	assert_string_equal(last_of("brute-force")->view, "interface");
	assert_int_equal(last_of("brute-force")->port, 8080);
	/* The same burst seen by the sockets: no second alert. */
	for (int i = 0; i < 6; i++)
		connect_web(f, 1100 + i, "198.51.100.6");
	assert_int_equal(count_action("brute-force"), 1);
}

static void test_port_scan(void **state)
{
	struct fixture *f = *state;
	uint8_t a[ADDR_LEN];

	addr(a, "2001:db8::66");
	detect_scan(&f->d, 1000, a, 10, 10000, 443, IPPROTO_TCP);
	assert_int_equal(count_action("port-scan"), 1);
	assert_int_equal(last_of("port-scan")->count, 10);
	assert_int_equal(last_of("port-scan")->threshold, 10);
	assert_string_equal(last_of("port-scan")->view, "interface");
	/* The kernel may report again in the next window: suppressed. */
	detect_scan(&f->d, 11000, a, 12, 10000, 444, IPPROTO_TCP);
	assert_int_equal(count_action("port-scan"), 1);
}

/* State is bounded: the oldest window goes, and that is counted. */
static void test_bounded_state(void **state)
{
	struct fixture *f = *state;
	char source[32];

	f->d.max_entries = 8;
	for (int i = 0; i < 20; i++) {
		snprintf(source, sizeof(source), "198.51.100.%d", i + 1);
		connect_web(f, 1000 + i, source);
	}
	assert_true(f->d.windows.count <= 8);
	assert_true(f->d.suppress.count <= 8);
	assert_true(f->d.evictions >= 12);
}

static int setup_new_source(void **state)
{
	return setup_with(state, "detect: {new_source: {enabled: true, learn: 60s}}\n");
}

static void test_new_source_after_learning(void **state)
{
	struct fixture *f = *state;

	connect_web(f, 1000, "198.51.100.9");
	assert_int_equal(count_action("new-source"), 0);
	connect_web(f, 61000, "198.51.100.10");
	assert_int_equal(count_action("new-source"), 1);
	connect_web(f, 62000, "198.51.100.10");
	assert_int_equal(count_action("new-source"), 1);
}

static int setup_development(void **state)
{
	return setup_with(state, "profile: development\n");
}

/* Development: published ports must bind to loopback; each other binding is an exposure. */
static void test_exposure_in_development(void **state)
{
	struct fixture *f = *state;
	struct port_binding bindings[] = {
		{ .host_ip = "127.0.0.1",
		  .host_port = 8080,
		  .container_port = 80,
		  .protocol = IPPROTO_TCP },
		{ .host_ip = "::1",
		  .host_port = 8080,
		  .container_port = 80,
		  .protocol = IPPROTO_TCP },
		{ .host_ip = "0.0.0.0",
		  .host_port = 5432,
		  .container_port = 5432,
		  .protocol = IPPROTO_TCP },
		{ .host_ip = "::",
		  .host_port = 5432,
		  .container_port = 5432,
		  .protocol = IPPROTO_TCP },
	};
	struct container c = db;

	c.bindings = bindings;
	c.n_bindings = 4;
	detect_exposure(&f->d, 1000, &c);
	assert_int_equal(count_action("exposure"), 2);
	assert_int_equal(last_of("exposure")->port, 5432);
	assert_string_equal(last_of("exposure")->rule_name, "development-profile");
	/* Once per suppression window, however often it is checked. */
	detect_exposure(&f->d, 2000, &c);
	assert_int_equal(count_action("exposure"), 2);
}

/* Production: nothing to say. */
static void test_no_exposure_in_production(void **state)
{
	struct fixture *f = *state;
	struct container c = web;

	c.bindings = &web80;
	c.n_bindings = 1;
	detect_exposure(&f->d, 1000, &c);
	assert_int_equal(count_action("exposure"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unauthorized_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_follows_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force_window_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_spike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baseline_survives_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attempts_share_brute_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_source_after_learning, setup_new_source,
						teardown),
		cmocka_unit_test_setup_teardown(test_exposure_in_development, setup_development,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_exposure_in_production, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
