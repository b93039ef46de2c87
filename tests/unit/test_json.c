// SPDX-License-Identifier: GPL-2.0-only
/*
 * json.c: every record goes through json_write_line into memory, is parsed
 * back with jansson and checked field by field, the way a log shipper would
 * see it: one line, valid JSON, ECS nesting, berth last.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <regex.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <jansson.h>

#include "addr.h"
#include "json.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* 2026-12-04T15:07:31.112Z */
#define NOW_NS 1796396851112000000ULL

static const struct ecs_meta meta = { .host_name = "node-1", .version = "1.2.3" };
/* One writer for every record, as berth watch has. */
static struct json_line record;

/* ---- helpers ---- */

/* The value at a dotted path through nested objects, or NULL. */
static json_t *at(json_t *root, const char *dotted)
{
	char buf[256], *save, *part;
	json_t *v = root;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
		v = json_object_get(v, part);
	return v;
}

static void expect_str(json_t *root, const char *path, const char *want)
{
	json_t *v = at(root, path);

	if (!json_is_string(v))
		fail_msg("%s: not a string", path);
	if (strcmp(json_string_value(v), want))
		fail_msg("%s: got \"%s\", want \"%s\"", path, json_string_value(v), want);
}

static void expect_int(json_t *root, const char *path, json_int_t want)
{
	json_t *v = at(root, path);

	if (!json_is_integer(v))
		fail_msg("%s: not an integer", path);
	if (json_integer_value(v) != want)
		fail_msg("%s: got %lld, want %lld", path, (long long)json_integer_value(v),
			 (long long)want);
}

static void expect_absent(json_t *root, const char *path)
{
	if (at(root, path))
		fail_msg("%s: present", path);
}

/* An array of exactly the given strings, NULL-terminated. */
static void expect_strings(json_t *root, const char *path, ...)
{
	json_t *v = at(root, path);
	const char *want;
	va_list ap;
	size_t i = 0;

	if (!json_is_array(v))
		fail_msg("%s: not an array", path);
	va_start(ap, path);
	while ((want = va_arg(ap, const char *))) {
		json_t *item = json_array_get(v, i++);

		if (!json_is_string(item) || strcmp(json_string_value(item), want))
			fail_msg("%s[%zu]: want \"%s\"", path, i - 1, want);
	}
	va_end(ap);
	assert_int_equal(json_array_size(v), i);
}

/* ECS nests: "source": {"ip": ...}, never "source.ip". */
static void expect_no_dotted_keys(json_t *v, const char *where)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, child) {
			if (strchr(key, '.'))
				fail_msg("dotted key \"%s\" in %s", key, where);
			expect_no_dotted_keys(child, key);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			expect_no_dotted_keys(child, where);
	}
}

static void expect_timestamp_format(const char *ts)
{
	regex_t re;

	assert_int_equal(regcomp(&re,
				 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
				 "\\.[0-9]{3}Z$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	if (regexec(&re, ts, 0, NULL, 0))
		fail_msg("@timestamp \"%s\" is not RFC 3339 UTC with ms", ts);
	regfree(&re);
}

/*
 * Writes rec with json_write_line and returns it parsed (the caller
 * decrefs), after checking it is one line of valid JSON with @timestamp
 * first and berth last. The raw line goes to *line when line is not NULL
 * (the caller frees it).
 */
static json_t *write_and_parse(struct json_line *rec, char **line)
{
	char *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *root, *value;
	const char *key, *last = NULL, *first = NULL;
	FILE *f;

	assert_non_null(rec);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(json_write_line(f, rec), 0);
	assert_int_equal(fclose(f), 0);

	/* Exactly one line, pure ASCII (JSON_ENSURE_ASCII). */
	assert_true(len > 2);
	assert_int_equal(buf[len - 1], '\n');
	assert_int_equal(strlen(buf), len);
	assert_ptr_equal(strchr(buf, '\n'), buf + len - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] >= 0x80 || ((unsigned char)buf[i] < 0x20 && i != len - 1))
			fail_msg("byte 0x%02x at %zu in the line", (unsigned char)buf[i], i);

	root = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail_msg("invalid JSON (%s): %s", jerr.text, buf);
	assert_true(json_is_object(root));

	json_object_foreach(root, key, value) {
		if (!first)
			first = key;
		last = key;
	}
	assert_string_equal(first, "@timestamp");
	assert_string_equal(last, "berth");

	expect_no_dotted_keys(root, "the record");
	if (line)
		*line = buf;
	else
		free(buf);
	return root;
}

/* write_and_parse(), and the fields every record carries. */
static json_t *emit(struct json_line *rec, const char *kind, const char *action, char **line)
{
	json_t *root = write_and_parse(rec, line);

	assert_true(json_is_string(at(root, "@timestamp")));
	expect_timestamp_format(json_string_value(at(root, "@timestamp")));
	expect_str(root, "@timestamp", "2026-12-04T15:07:31.112Z");
	assert_true(json_is_object(at(root, "event")));
	expect_str(root, "event.kind", kind);
	expect_str(root, "event.action", action);
	assert_true(json_is_array(at(root, "event.category")));
	assert_true(json_is_array(at(root, "event.type")));
	expect_str(root, "host.name", meta.host_name);
	expect_str(root, "berth.version", meta.version);
	return root;
}

static void set_addr(uint8_t out[ADDR_LEN], const char *text)
{
	assert_int_equal(addr_parse(text, out), 0);
}

static struct berth_event conn_event(uint8_t kind, uint8_t role, uint8_t family, const char *local,
				     uint16_t local_port, const char *remote, uint16_t remote_port)
{
	struct berth_event ev = {
		.kind = kind,
		.role = role,
		.protocol = IPPROTO_TCP,
		.family = family,
		.local_port = local_port,
		.remote_port = remote_port,
		.cgroup_id = 4242,
		.socket_cookie = 77,
		.timestamp_ns = 1000,
	};

	set_addr(ev.local_addr, local);
	set_addr(ev.remote_addr, remote);
	return ev;
}

static const struct port_binding web_binding = {
	.host_ip = "0.0.0.0",
	.host_port = 18080,
	.container_port = 80,
	.protocol = IPPROTO_TCP,
};

static struct label web_labels[] = {
	{ .key = "com.docker.compose.project", .value = "shop" },
	{ .key = "tier", .value = "front" },
};

static const struct container web_record = {
	.id = CID,
	.name = "web",
	.image = "nginx:1.27",
	.image_tag = "1.27",
	.runtime = "docker",
	.user = "101",
	.network_mode = "bridge",
	.labels = web_labels,
	.n_labels = 2,
};

static const struct attribution web_container = {
	.cgroup_id = 4242,
	.cgroup_path = "/system.slice/docker-" CID ".scope",
	.container_id = CID,
	.runtime = "docker",
	.container = &web_record,
	.binding = &web_binding,
};

/* ---- tests ---- */

static void test_format_timestamp(void **state)
{
	char ts[32];

	(void)state;
	format_timestamp(0, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
	format_timestamp(NOW_NS, ts);
	assert_string_equal(ts, "2026-12-04T15:07:31.112Z");
	/* Milliseconds truncate, they do not round up into the next second. */
	format_timestamp(999999999ULL, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.999Z");
	format_timestamp(1000000ULL, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.001Z");
	format_timestamp(951782400000000000ULL, ts); /* leap day */
	assert_string_equal(ts, "2000-02-29T00:00:00.000Z");
	format_timestamp(UINT64_MAX, ts);
	assert_string_equal(ts, "2554-07-21T23:34:33.709Z");
	expect_timestamp_format(ts);
}

static void test_transport_name(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(transport_name(IPPROTO_TCP, buf), "tcp");
	assert_string_equal(transport_name(IPPROTO_UDP, buf), "udp");
	assert_string_equal(transport_name(132, buf), "132");
	assert_string_equal(transport_name(255, buf), "255");
}

/* Accepted: the remote peer opened the connection, so it is the source. */
static void test_connection_accepted_ipv4(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_LOCAL, AF_INET,
					   "192.0.2.10", 80, "198.51.100.2", 51234);
	json_t *root;

	(void)state;
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &web_container), "event",
		    "connection-accepted", NULL);
	expect_strings(root, "event.category", "network", NULL);
	expect_strings(root, "event.type", "connection", "start", NULL);
	expect_absent(root, "event.duration");

	expect_str(root, "source.ip", "198.51.100.2");
	expect_int(root, "source.port", 51234);
	expect_str(root, "destination.ip", "192.0.2.10");
	expect_int(root, "destination.port", 80);
	expect_absent(root, "source.bytes");
	expect_absent(root, "destination.bytes");

	expect_str(root, "network.transport", "tcp");
	expect_str(root, "network.type", "ipv4");
	expect_str(root, "network.direction", "ingress");

	expect_str(root, "container.id", CID);
	expect_str(root, "container.name", "web");
	expect_str(root, "container.image.name", "nginx");
	expect_strings(root, "container.image.tag", "1.27", NULL);
	expect_str(root, "container.runtime", "docker");
	/* Labels are for lifecycle and stats records, not for every connection. */
	expect_absent(root, "container.labels");
	expect_absent(root, "container.security_context");
	expect_absent(root, "orchestrator");

	expect_str(root, "berth.port.host_ip", "0.0.0.0");
	expect_int(root, "berth.port.host_port", 18080);
	expect_int(root, "berth.port.container_port", 80);
	expect_str(root, "berth.port.protocol", "tcp");
	expect_int(root, "berth.cgroup_id", 4242);
	expect_str(root, "berth.cgroup_path", web_container.cgroup_path);
	expect_str(root, "berth.view", "socket");
	expect_int(root, "berth.socket_cookie", 77);
	expect_absent(root, "berth.connection");
	json_decref(root);
}

/* Initiated: berth's socket opened it, so the local end is the source. */
static void test_connection_initiated_ipv6(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_REMOTE, AF_INET6,
					   "2001:db8::10", 40000, "2001:db8::1", 443);
	struct attribution host = { .cgroup_id = 1, .cgroup_path = "/user.slice" };
	json_t *root;

	(void)state;
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &host), "event",
		    "connection-initiated", NULL);
	expect_strings(root, "event.type", "connection", "start", NULL);
	expect_str(root, "source.ip", "2001:db8::10");
	expect_int(root, "source.port", 40000);
	expect_str(root, "destination.ip", "2001:db8::1");
	expect_int(root, "destination.port", 443);
	expect_str(root, "network.type", "ipv6");
	expect_str(root, "network.direction", "egress");
	/* Not a container: no container.*, no published port. */
	expect_absent(root, "container");
	expect_absent(root, "berth.port");
	expect_int(root, "berth.cgroup_id", 1);
	expect_str(root, "berth.cgroup_path", "/user.slice");
	json_decref(root);
}

/* An IPv6 socket talking to an IPv4 peer (dual stack) is IPv4 traffic. */
static void test_connection_dual_stack(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_LOCAL, AF_INET6,
					   "::ffff:192.0.2.10", 80, "::ffff:198.51.100.2", 5000);
	struct attribution nobody = { 0 };
	json_t *root;

	(void)state;
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &nobody), "event",
		    "connection-accepted", NULL);
	expect_str(root, "source.ip", "198.51.100.2");
	expect_str(root, "destination.ip", "192.0.2.10");
	expect_str(root, "network.type", "ipv4");
	/* Unknown cgroup: berth says nothing rather than 0 or "". */
	expect_absent(root, "berth.cgroup_id");
	expect_absent(root, "berth.cgroup_path");
	expect_absent(root, "container");
	json_decref(root);
}

static void test_connection_closed(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_CLOSE, BERTH_ROLE_LOCAL, AF_INET,
					   "192.0.2.10", 80, "198.51.100.2", 51234);
	json_t *root;

	(void)state;
	ev.bytes_in = 1500;  /* request: sent by the client, the source */
	ev.bytes_out = 9000; /* response: sent by the server, the destination */
	ev.duration_ns = 2500000000ULL;
	ev.srtt_us = 350;
	ev.total_retrans = 2;
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &web_container), "event",
		    "connection-closed", NULL);
	expect_strings(root, "event.type", "connection", "end", NULL);
	expect_int(root, "event.duration", 2500000000LL);
	expect_str(root, "source.ip", "198.51.100.2");
	expect_int(root, "source.bytes", 1500);
	expect_int(root, "destination.bytes", 9000);
	expect_str(root, "network.direction", "ingress");
	expect_str(root, "berth.connection.role", "server");
	expect_int(root, "berth.connection.bytes_in", 1500);
	expect_int(root, "berth.connection.bytes_out", 9000);
	expect_int(root, "berth.connection.rtt_us", 350);
	expect_int(root, "berth.connection.retransmits", 2);
	expect_str(root, "container.name", "web");
	json_decref(root);

	/* The client's view: it sent bytes_out, and it is the source. */
	ev = conn_event(BERTH_EV_CONN_CLOSE, BERTH_ROLE_REMOTE, AF_INET6, "2001:db8::10", 40000,
			"2001:db8::1", 443);
	ev.bytes_in = 70000;
	ev.bytes_out = 600;
	ev.duration_ns = 1;
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &web_container), "event",
		    "connection-closed", NULL);
	expect_str(root, "source.ip", "2001:db8::10");
	expect_int(root, "source.bytes", 600);
	expect_str(root, "destination.ip", "2001:db8::1");
	expect_int(root, "destination.bytes", 70000);
	expect_int(root, "event.duration", 1);
	expect_str(root, "network.direction", "egress");
	expect_str(root, "berth.connection.role", "client");
	json_decref(root);
}

static void test_listen(void **state)
{
	struct berth_event ev = {
		.kind = BERTH_EV_BIND,
		.role = BERTH_ROLE_LOCAL,
		.protocol = IPPROTO_TCP,
		.family = AF_INET,
		.local_port = 80,
	};
	json_t *root;

	(void)state;
	set_addr(ev.local_addr, "0.0.0.0");
	root = emit(ecs_listen(&record, &meta, NOW_NS, &ev, &web_container), "event", "listen",
		    NULL);
	expect_strings(root, "event.category", "network", NULL);
	expect_strings(root, "event.type", "start", NULL);
	expect_str(root, "server.ip", "0.0.0.0");
	expect_int(root, "server.port", 80);
	expect_str(root, "network.transport", "tcp");
	expect_str(root, "network.type", "ipv4");
	expect_str(root, "container.id", CID);
	expect_int(root, "berth.port.host_port", 18080);
	expect_str(root, "berth.view", "socket");
	json_decref(root);

	ev.family = AF_INET6;
	ev.protocol = IPPROTO_UDP;
	ev.local_port = 53;
	set_addr(ev.local_addr, "::");
	root = emit(ecs_listen(&record, &meta, NOW_NS, &ev, &(struct attribution){ 0 }), "event",
		    "listen", NULL);
	expect_str(root, "server.ip", "::");
	expect_int(root, "server.port", 53);
	expect_str(root, "network.transport", "udp");
	expect_str(root, "network.type", "ipv6");
	expect_absent(root, "container");
	json_decref(root);
}

static void test_port_stats(void **state)
{
	struct port_stats_report report = {
		.interval = { 1, 2, 3, 4, 5, 6 },
		.total = { 10, 20, 30, 40, 50, (1ULL << 40) },
		.protocol = IPPROTO_TCP,
		.role = BERTH_ROLE_LOCAL,
		.port = 80,
		.interval_s = 10,
	};
	json_t *root;

	(void)state;
	root = emit(ecs_port_stats(&record, &meta, NOW_NS, &report, &web_container), "metric",
		    "port-stats", NULL);
	expect_strings(root, "event.category", "network", NULL);
	expect_strings(root, "event.type", "info", NULL);
	expect_int(root, "server.port", 80);
	expect_str(root, "network.transport", "tcp");
	expect_str(root, "container.id", CID);
	expect_str(root, "berth.view", "socket");
	expect_str(root, "berth.role", "server");
	expect_int(root, "berth.stats.interval_s", 10);
	expect_int(root, "berth.stats.interval.connections_opened", 1);
	expect_int(root, "berth.stats.interval.connections_closed", 2);
	expect_int(root, "berth.stats.interval.bytes_in", 3);
	expect_int(root, "berth.stats.interval.bytes_out", 4);
	expect_int(root, "berth.stats.interval.packets_in", 5);
	expect_int(root, "berth.stats.interval.packets_out", 6);
	expect_int(root, "berth.stats.total.connections_opened", 10);
	expect_int(root, "berth.stats.total.packets_out", 1LL << 40);
	json_decref(root);

	report.role = BERTH_ROLE_REMOTE;
	report.protocol = IPPROTO_UDP;
	root = emit(ecs_port_stats(&record, &meta, NOW_NS, &report, &(struct attribution){ 0 }),
		    "metric", "port-stats", NULL);
	expect_str(root, "berth.role", "client");
	expect_str(root, "network.transport", "udp");
	expect_absent(root, "container");
	json_decref(root);
}

static void test_xdp_port_stats(void **state)
{
	struct xdp_stats_report report = {
		.interval = { .packets = 100, .bytes = 6400, .syns = 50 },
		.total = { .packets = 1000, .bytes = 64000, .syns = 500 },
		.interface = "eth0",
		.xdp_mode = "native",
		.port = 18080,
		.protocol = IPPROTO_TCP,
		.interval_s = 10,
	};
	json_t *root;

	(void)state;
	/* No container publishes the port: who is NULL. */
	root = emit(ecs_xdp_port_stats(&record, &meta, NOW_NS, &report, NULL), "metric",
		    "port-stats", NULL);
	expect_strings(root, "event.type", "info", NULL);
	expect_int(root, "destination.port", 18080);
	expect_str(root, "network.transport", "tcp");
	expect_str(root, "observer.ingress.interface.name", "eth0");
	expect_str(root, "berth.view", "interface");
	expect_str(root, "berth.xdp_mode", "native");
	expect_int(root, "berth.stats.interval_s", 10);
	expect_int(root, "berth.stats.interval.packets_in", 100);
	expect_int(root, "berth.stats.interval.bytes_in", 6400);
	expect_int(root, "berth.stats.interval.syns_in", 50);
	expect_int(root, "berth.stats.total.packets_in", 1000);
	expect_int(root, "berth.stats.total.bytes_in", 64000);
	expect_int(root, "berth.stats.total.syns_in", 500);
	expect_absent(root, "container");
	expect_absent(root, "berth.port");
	json_decref(root);

	root = emit(ecs_xdp_port_stats(&record, &meta, NOW_NS, &report, &web_container), "metric",
		    "port-stats", NULL);
	expect_str(root, "container.name", "web");
	expect_int(root, "berth.port.container_port", 80);
	json_decref(root);
}

static void test_events_lost(void **state)
{
	json_t *root;

	(void)state;
	root = emit(ecs_events_lost(&record, &meta, NOW_NS, "ringbuf-full", 12, 345), "metric",
		    "events-lost", NULL);
	expect_strings(root, "event.category", "host", NULL);
	expect_strings(root, "event.type", "error", NULL);
	expect_str(root, "berth.lost.cause", "ringbuf-full");
	expect_int(root, "berth.lost.count", 12);
	expect_int(root, "berth.lost.total", 345);
	json_decref(root);
}

static void test_write_line_null(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(json_write_line(f, NULL), -1);
	/* Nothing written yet: an empty record is not a line. */
	assert_int_equal(json_write_line(f, &record), -1);
	fclose(f);
	assert_int_equal(len, 0);
	free(buf);
}

/* Names come from the runtime API and paths from cgroupfs: escape them. */
static void test_hostile_strings(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_LOCAL, AF_INET,
					   "192.0.2.10", 80, "198.51.100.2", 51234);
	struct attribution who = web_container;
	struct container rec = web_record;
	static const char name[] = "a\"b\\c\nd\re\tf\x01g/</script>\"}\n{\"x\":1";
	static const char image[] =
		"r\xc3\xa9gistry.example/\xe2\x9c\x93:\xf0\x9f\x90\xb3"; /* UTF-8 */
	char *line;
	json_t *root;

	(void)state;
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	snprintf(rec.image, sizeof(rec.image), "%s", image);
	image_tag_of(rec.image, rec.image_tag, sizeof(rec.image_tag));
	who.container = &rec;
	who.cgroup_path = "/weird\n\"path\"\\";
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &who), "event",
		    "connection-accepted", &line);
	expect_str(root, "container.name", name);
	expect_str(root, "container.image.name", "r\xc3\xa9gistry.example/\xe2\x9c\x93");
	expect_strings(root, "container.image.tag", "\xf0\x9f\x90\xb3", NULL);
	expect_str(root, "berth.cgroup_path", "/weird\n\"path\"\\");
	/* Non-ASCII goes out as \u escapes, so the line is plain ASCII. */
	/* Beyond the BMP as a surrogate pair (RFC 8259 7). */
	assert_non_null(strstr(line, "r\\u00E9gistry.example/\\u2713\""));
	assert_non_null(strstr(line, "[\"\\uD83D\\uDC33\"]"));
	free(line);
	json_decref(root);
}

/*
 * Strings that are not UTF-8 (a cgroup directory can be named with any
 * bytes, a hostname too) must neither break the line nor silently drop the
 * field: invalid bytes become U+FFFD.
 */
static void test_non_utf8_strings(void **state)
{
	struct berth_event ev = conn_event(BERTH_EV_CONN_CLOSE, BERTH_ROLE_LOCAL, AF_INET,
					   "192.0.2.10", 80, "198.51.100.2", 51234);
	struct ecs_meta bad_meta = { .host_name = "h\x80st", .version = "1.2.3" };
	struct attribution who = web_container;
	struct container rec = web_record;
	struct xdp_stats_report report = { .interface = "eth\xff", .xdp_mode = "skb" };
	json_t *root;

	(void)state;
	snprintf(rec.name, sizeof(rec.name), "bad\xff\xfe name");
	snprintf(rec.image, sizeof(rec.image), "img\xc3"); /* truncated sequence at the end */
	rec.image_tag[0] = '\0';
	who.container = &rec;
	who.cgroup_path = "/x\xed\xa0\x80y\xc0\xafz"; /* surrogate, overlong */
	root = emit(ecs_connection(&record, &meta, NOW_NS, &ev, &who), "event", "connection-closed",
		    NULL);
	expect_str(root, "container.id", CID);
	expect_str(root, "container.name", "bad\xef\xbf\xbd\xef\xbf\xbd name");
	expect_str(root, "container.image.name", "img\xef\xbf\xbd");
	expect_str(root, "berth.cgroup_path",
		   "/x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz");
	expect_int(root, "source.bytes", 0);
	json_decref(root);

	/* A hostname that is not UTF-8 still gives host.name. */
	root = write_and_parse(ecs_listen(&record, &bad_meta, NOW_NS, &ev, &who), NULL);
	expect_str(root, "host.name", "h\xef\xbf\xbdst");
	expect_str(root, "container.name", "bad\xef\xbf\xbd\xef\xbf\xbd name");
	json_decref(root);

	root = emit(ecs_xdp_port_stats(&record, &meta, NOW_NS, &report, NULL), "metric",
		    "port-stats", NULL);
	expect_str(root, "observer.ingress.interface.name", "eth\xef\xbf\xbd");
	json_decref(root);
}

/* container-started carries the whole record: labels de-dotted, ports, flags. */
static void test_container_change(void **state)
{
	static const struct port_binding ports[] = {
		{ .host_ip = "0.0.0.0",
		  .host_port = 8080,
		  .container_port = 80,
		  .protocol = IPPROTO_TCP },
		{ .host_ip = "::",
		  .host_port = 8053,
		  .container_port = 53,
		  .protocol = IPPROTO_UDP },
	};
	struct container c = web_record;
	json_t *root;

	(void)state;
	c.bindings = (struct port_binding *)ports;
	c.n_bindings = 2;
	c.privileged = true;
	root = emit(ecs_container_change(&record, &meta, NOW_NS, "container-started", &c), "event",
		    "container-started", NULL);
	expect_strings(root, "event.category", "process", NULL);
	expect_strings(root, "event.type", "start", NULL);
	expect_str(root, "container.id", CID);
	expect_str(root, "container.name", "web");
	expect_str(root, "container.image.name", "nginx");
	expect_str(root, "container.labels.com_docker_compose_project", "shop");
	expect_str(root, "container.labels.tier", "front");
	assert_true(json_is_true(at(root, "container.security_context.privileged")));
	expect_str(root, "berth.container.user", "101");
	expect_str(root, "berth.container.network_mode", "bridge");
	assert_true(json_is_true(at(root, "berth.container.privileged")));
	assert_true(json_is_false(at(root, "berth.container.read_only_rootfs")));
	assert_int_equal(json_array_size(at(root, "berth.ports")), 2);
	expect_str(json_array_get(at(root, "berth.ports"), 1), "host_ip", "::");
	expect_int(json_array_get(at(root, "berth.ports"), 1), "host_port", 8053);
	expect_str(json_array_get(at(root, "berth.ports"), 1), "protocol", "udp");
	expect_absent(root, "orchestrator");
	json_decref(root);

	/* A Kubernetes container: orchestrator.*; no ports is an empty array. */
	c = web_record;
	snprintf(c.k8s.pod_name, sizeof(c.k8s.pod_name), "web-7d9f");
	snprintf(c.k8s.pod_namespace, sizeof(c.k8s.pod_namespace), "shop");
	snprintf(c.k8s.pod_uid, sizeof(c.k8s.pod_uid), "1c2d");
	root = emit(ecs_container_change(&record, &meta, NOW_NS, "container-stopped", &c), "event",
		    "container-stopped", NULL);
	expect_strings(root, "event.type", "end", NULL);
	expect_str(root, "orchestrator.type", "kubernetes");
	expect_str(root, "orchestrator.namespace", "shop");
	expect_str(root, "orchestrator.resource.type", "pod");
	expect_str(root, "orchestrator.resource.name", "web-7d9f");
	expect_str(root, "orchestrator.resource.id", "1c2d");
	expect_absent(root, "container.security_context");
	assert_int_equal(json_array_size(at(root, "berth.ports")), 0);
	json_decref(root);
}

static void test_runtime_reconnected(void **state)
{
	json_t *root;

	(void)state;
	root = emit(ecs_runtime_reconnected(&record, &meta, NOW_NS, "docker",
					    "/var/run/docker.sock", 4200, 3),
		    "event", "runtime-reconnected", NULL);
	expect_str(root, "berth.runtime.name", "docker");
	expect_str(root, "berth.runtime.socket", "/var/run/docker.sock");
	expect_int(root, "berth.runtime.down_ms", 4200);
	expect_int(root, "berth.runtime.containers_changed", 3);
	json_decref(root);
}

/* ---- the writer's primitives, as the formats use them ---- */

/* Into a caller's buffer, after what it holds; empty containers taken back with their comma. */
static void test_writer_into_caller_buffer(void **state)
{
	struct buf out = { 0 };
	struct json_line w = { .out = &out };

	(void)state;
	buf_puts(&out, "kept ");
	json_begin_object(&w, NULL);
	json_begin_object(&w, "empty_first");
	assert_false(json_end_object_unless_empty(&w));
	json_add_int(&w, "min", LLONG_MIN);
	json_add_uint(&w, "max", UINT64_MAX);
	json_begin_object(&w, "empty");
	json_begin_array(&w, "nested_empty");
	assert_false(json_end_array_unless_empty(&w));
	assert_false(json_end_object_unless_empty(&w));
	json_begin_array(&w, "list");
	json_add_string(&w, NULL, "a");
	json_add_string(&w, NULL, NULL); /* nothing */
	json_add_bool(&w, NULL, false);
	json_add_null(&w, NULL);
	assert_true(json_end_array_unless_empty(&w));
	json_add_string_len(&w, "k\"ey", "x\ny", 3);
	json_add_double(&w, "rate", 2.5);
	json_end_object(&w);
	assert_false(out.failed);
	assert_int_equal(w.depth, 0);
	assert_string_equal(out.data, "kept {\"min\":-9223372036854775808,"
				      "\"max\":18446744073709551615,\"list\":[\"a\",false,null],"
				      "\"k\\\"ey\":\"x\\ny\",\"rate\":2.500}");
	assert_int_equal(out.len, strlen(out.data));
	buf_free(&out);
}

/* A record read back and written again, node by node: the same bytes. */
static void test_writer_nodes(void **state)
{
	static const char text[] = "{\"a\":[1,-2.5e3,true,false,null,{\"b\":\"\\u00e9\\n\"}],"
				   "\"c\":{},\"d\":[]}";
	struct json_doc doc = { 0 };
	struct buf out = { 0 };
	struct json_line w = { .out = &out };

	(void)state;
	assert_int_equal(json_read(&doc, text, strlen(text)), 0);
	json_add_node(&w, &doc, json_root(&doc));
	assert_false(out.failed);
	/* non-ASCII as \u escapes, as json.c writes every string */
	assert_string_equal(out.data, "{\"a\":[1,-2.5e3,true,false,null,{\"b\":\"\\u00E9\\n\"}],"
				      "\"c\":{},\"d\":[]}");
	json_doc_free(&doc);
	buf_free(&out);
}

/* Deeper than JSON_WRITE_MAX_DEPTH: the buffer is marked failed, not overrun. */
static void test_writer_too_deep(void **state)
{
	struct buf out = { 0 };
	struct json_line w = { .out = &out };

	(void)state;
	for (int i = 0; i < JSON_WRITE_MAX_DEPTH + 2; i++)
		json_begin_array(&w, NULL);
	assert_true(out.failed);
	assert_true(w.depth < JSON_WRITE_MAX_DEPTH);
	for (int i = 0; i < JSON_WRITE_MAX_DEPTH + 2; i++)
		json_end_array(&w);
	assert_true(out.failed);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_timestamp),
		cmocka_unit_test(test_transport_name),
		cmocka_unit_test(test_connection_accepted_ipv4),
		cmocka_unit_test(test_connection_initiated_ipv6),
		cmocka_unit_test(test_connection_dual_stack),
		cmocka_unit_test(test_connection_closed),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_port_stats),
		cmocka_unit_test(test_xdp_port_stats),
		cmocka_unit_test(test_events_lost),
		cmocka_unit_test(test_write_line_null),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_non_utf8_strings),
		cmocka_unit_test(test_container_change),
		cmocka_unit_test(test_runtime_reconnected),
		cmocka_unit_test(test_writer_into_caller_buffer),
		cmocka_unit_test(test_writer_nodes),
		cmocka_unit_test(test_writer_too_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
