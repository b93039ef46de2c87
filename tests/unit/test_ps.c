// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps.c's pure parts: the PORTS text (order, IPv6 brackets, ranges,
 * truncation), byte units, and `berth ps --json` as json.c writes it,
 * parsed back with jansson.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>

#include "json.h"
#include "ps.h"

#define CID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
/* 2026-12-04T15:07:31.112Z */
#define NOW_NS 1796396851112000000ULL

static void bind_port(struct container *c, const char *host_ip, uint16_t host_port,
		      uint16_t container_port, uint8_t protocol)
{
	struct port_binding b = {
		.host_port = host_port,
		.container_port = container_port,
		.protocol = protocol,
	};

	snprintf(b.host_ip, sizeof(b.host_ip), "%s", host_ip);
	assert_int_equal(container_add_binding(c, &b), 0);
}

static void expect_ports(const struct container *c, size_t outlen, const char *want)
{
	char out[4096];

	assert_true(outlen <= sizeof(out));
	ps_format_ports(c, out, outlen);
	if (strcmp(out, want))
		fail_msg("got  \"%s\"\nwant \"%s\"", out, want);
}

/* A port's IPv4 and IPv6 bindings side by side, TCP before UDP, IPv6 bracketed. */
static void test_ports_order(void **state)
{
	struct container c = { 0 };

	(void)state;
	bind_port(&c, "127.0.0.1", 53, 53, IPPROTO_UDP);
	bind_port(&c, "::", 8080, 80, IPPROTO_TCP);
	bind_port(&c, "0.0.0.0", 8443, 443, IPPROTO_TCP);
	bind_port(&c, "0.0.0.0", 8080, 80, IPPROTO_TCP);
	expect_ports(&c, 4096,
		     "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 0.0.0.0:8443->443/tcp, "
		     "127.0.0.1:53->53/udp");
	/* The JSON lists them in the same order. */
	ps_sort_bindings(&c);
	assert_string_equal(c.bindings[0].host_ip, "0.0.0.0");
	assert_int_equal(c.bindings[0].container_port, 80);
	assert_string_equal(c.bindings[1].host_ip, "::");
	assert_int_equal(c.bindings[2].container_port, 443);
	assert_int_equal(c.bindings[3].protocol, IPPROTO_UDP);
	container_clear(&c);
}

/* -p 8000-8002:8000-8002 is one range per address, as docker ps shows it. */
static void test_ports_ranges(void **state)
{
	struct container c = { 0 };

	(void)state;
	for (uint16_t i = 0; i < 3; i++) {
		bind_port(&c, "::", 9000 + i, 8000 + i, IPPROTO_TCP);
		bind_port(&c, "0.0.0.0", 9000 + i, 8000 + i, IPPROTO_TCP);
	}
	/* Not a range: the container port does not step with the host port. */
	bind_port(&c, "0.0.0.0", 9003, 7000, IPPROTO_TCP);
	/* Same numbers, other protocol: a range of its own. */
	bind_port(&c, "0.0.0.0", 9000, 8000, IPPROTO_UDP);
	bind_port(&c, "0.0.0.0", 9001, 8001, IPPROTO_UDP);
	expect_ports(&c, 4096,
		     "0.0.0.0:9003->7000/tcp, 0.0.0.0:9000-9002->8000-8002/tcp, "
		     "[::]:9000-9002->8000-8002/tcp, 0.0.0.0:9000-9001->8000-8001/udp");
	container_clear(&c);
}

/* Out of room: whole bindings only, and "..." says some are left out. */
static void test_ports_truncated(void **state)
{
	struct container c = { 0 };

	(void)state;
	expect_ports(&c, 16, "");
	bind_port(&c, "0.0.0.0", 8080, 80, IPPROTO_TCP);
	bind_port(&c, "0.0.0.0", 8443, 443, IPPROTO_TCP);
	expect_ports(&c, 30, "0.0.0.0:8080->80/tcp, ...");
	expect_ports(&c, 8, "...");
	expect_ports(&c, 3, "");
	/* 43 characters and the NUL. */
	expect_ports(&c, 44, "0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp");
	expect_ports(&c, 43, "0.0.0.0:8080->80/tcp, ...");
	container_clear(&c);
}

static void expect_bytes(uint64_t bytes, const char *want)
{
	char out[16];

	ps_format_bytes(bytes, out, sizeof(out));
	if (strcmp(out, want))
		fail_msg("%llu: got \"%s\", want \"%s\"", (unsigned long long)bytes, out, want);
}

static void test_bytes(void **state)
{
	(void)state;
	expect_bytes(0, "0B");
	expect_bytes(1023, "1023B");
	expect_bytes(1024, "1.0K");
	expect_bytes(1229, "1.2K");
	expect_bytes(10188, "9.9K");
	expect_bytes(10240, "10K");
	expect_bytes(1023 * 1024, "1023K");
	expect_bytes(3565158, "3.4M");
	expect_bytes(5ULL << 30, "5.0G");
	expect_bytes(UINT64_MAX, "16E");
}

/* ---- --json ---- */

static json_t *listing(const struct container *const *containers,
		       const struct berth_port_counters *counters, size_t n, const char *source,
		       uint64_t since_ns, unsigned int observed_s)
{
	struct json_line line = { 0 };
	json_error_t err;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	json_t *root;

	assert_non_null(mem);
	assert_int_equal(json_write_line(mem, json_container_listing(&line, containers, counters, n,
								     source, since_ns, observed_s)),
			 0);
	fclose(mem);
	json_line_free(&line);
	/* One document on one line. */
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_null(memchr(text, '\n', len - 1));
	root = json_loads(text, 0, &err);
	if (!root)
		fail_msg("not JSON (%s): %s", err.text, text);
	free(text);
	return root;
}

static void make_containers(struct container *a, struct container *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	snprintf(a->id, sizeof(a->id), "%s", CID_A);
	snprintf(a->name, sizeof(a->name), "web");
	snprintf(a->image, sizeof(a->image), "nginx:1.27");
	a->runtime = "docker";
	bind_port(a, "0.0.0.0", 8080, 80, IPPROTO_TCP);
	bind_port(a, "::", 8080, 80, IPPROTO_TCP);
	snprintf(b->id, sizeof(b->id), "%s", CID_B);
	snprintf(b->name, sizeof(b->name), "dns");
	snprintf(b->image, sizeof(b->image), "busybox");
	b->runtime = "podman";
}

static void expect_counter(json_t *counters, const char *key, json_int_t want)
{
	json_t *v = json_object_get(counters, key);

	if (!json_is_integer(v) || json_integer_value(v) != want)
		fail_msg("counters.%s: want %lld", key, (long long)want);
}

static void test_json_with_counters(void **state)
{
	struct container a, b;
	const struct container *containers[] = { &a, &b };
	const struct berth_port_counters counters[] = {
		{ .conns_opened = 20,
		  .conns_closed = 19,
		  .bytes_in = 720,
		  .bytes_out = 24240,
		  .packets_in = 60,
		  .packets_out = 61 },
		{ 0 },
	};
	json_t *root, *web, *port, *c;

	(void)state;
	make_containers(&a, &b);
	root = listing(containers, counters, 2, "observation", NOW_NS, 5);
	assert_true(json_is_array(root));
	assert_int_equal(json_array_size(root), 2);
	web = json_array_get(root, 0);
	assert_string_equal(json_string_value(json_object_get(web, "id")), CID_A);
	assert_string_equal(json_string_value(json_object_get(web, "name")), "web");
	assert_string_equal(json_string_value(json_object_get(web, "image")), "nginx:1.27");
	assert_string_equal(json_string_value(json_object_get(web, "runtime")), "docker");
	assert_int_equal(json_array_size(json_object_get(web, "ports")), 2);
	port = json_array_get(json_object_get(web, "ports"), 1);
	assert_string_equal(json_string_value(json_object_get(port, "host_ip")), "::");
	assert_int_equal(json_integer_value(json_object_get(port, "host_port")), 8080);
	assert_int_equal(json_integer_value(json_object_get(port, "container_port")), 80);
	assert_string_equal(json_string_value(json_object_get(port, "protocol")), "tcp");
	c = json_object_get(web, "counters");
	expect_counter(c, "connections_opened", 20);
	expect_counter(c, "connections_closed", 19);
	expect_counter(c, "bytes_in", 720);
	expect_counter(c, "bytes_out", 24240);
	expect_counter(c, "packets_in", 60);
	expect_counter(c, "packets_out", 61);
	expect_counter(c, "observed_s", 5);
	assert_string_equal(json_string_value(json_object_get(c, "source")), "observation");
	assert_string_equal(json_string_value(json_object_get(c, "since")),
			    "2026-12-04T15:07:31.112Z");
	/* No traffic is zeros, not null: counters were read. */
	c = json_object_get(json_array_get(root, 1), "counters");
	expect_counter(c, "connections_opened", 0);
	assert_int_equal(json_array_size(json_object_get(json_array_get(root, 1), "ports")), 0);
	json_decref(root);
	container_clear(&a);
	container_clear(&b);
}

/* From a watch: no observed_s. No counters at all: null for each. */
static void test_json_sources(void **state)
{
	struct container a, b;
	const struct container *containers[] = { &a, &b };
	const struct berth_port_counters counters[2] = { { .conns_opened = 1 } };
	json_t *root, *c;

	(void)state;
	make_containers(&a, &b);
	root = listing(containers, counters, 2, "watch", NOW_NS, 0);
	c = json_object_get(json_array_get(root, 0), "counters");
	assert_string_equal(json_string_value(json_object_get(c, "source")), "watch");
	assert_null(json_object_get(c, "observed_s"));
	json_decref(root);

	root = listing(containers, NULL, 2, NULL, 0, 0);
	assert_true(json_is_null(json_object_get(json_array_get(root, 0), "counters")));
	assert_true(json_is_null(json_object_get(json_array_get(root, 1), "counters")));
	json_decref(root);

	root = listing(containers, NULL, 0, NULL, 0, 0);
	assert_true(json_is_array(root));
	assert_int_equal(json_array_size(root), 0);
	json_decref(root);
	container_clear(&a);
	container_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_order),	   cmocka_unit_test(test_ports_ranges),
		cmocka_unit_test(test_ports_truncated),	   cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_json_with_counters), cmocka_unit_test(test_json_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
