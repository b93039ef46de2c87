// SPDX-License-Identifier: GPL-2.0-only
/*
 * format.c: every record kind, made by the real json.c builders and read
 * back by json_read() as a sink gets it, in every format; the syntax of each checked by a
 * small parser of its own grammar (RFC 5424 structured data, CEF header and
 * extension), exact output for the escaping of hostile strings, and the
 * transforms (pseudonyms, dropped fields).
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
#include <regex.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "addr.h"
#include "format.h"
#include "json.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* 2026-12-04T15:07:31.112Z */
#define NOW_NS 1796396851112000000ULL
#define NOW_MS 1796396851112LL

static const struct ecs_meta meta = { .host_name = "node-1", .version = "1.2.3" };
static struct json_line line;

/* ---- records, as berth makes them ---- */

static void set_addr(uint8_t out[ADDR_LEN], const char *text)
{
	assert_int_equal(addr_parse(text, out), 0);
}

static struct berth_event conn_event(uint8_t kind, uint8_t role, const char *local,
				     uint16_t local_port, const char *remote, uint16_t remote_port)
{
	struct berth_event ev = {
		.kind = kind,
		.role = role,
		.protocol = IPPROTO_TCP,
		.family = 2,
		.local_port = local_port,
		.remote_port = remote_port,
		.cgroup_id = 4242,
		.socket_cookie = 77,
	};

	set_addr(ev.local_addr, local);
	set_addr(ev.remote_addr, remote);
	return ev;
}

static struct port_binding web_binding = {
	.host_ip = "0.0.0.0",
	.host_port = 8080,
	.container_port = 80,
	.protocol = IPPROTO_TCP,
};

static struct label web_labels[] = {
	{ .key = "com.docker.compose.project", .value = "shop" },
	{ .key = "tier", .value = "front" },
};

static struct container web = {
	.id = CID,
	.name = "web",
	.image = "nginx:1.27",
	.image_tag = "1.27",
	.runtime = "docker",
	.user = "101",
	.network_mode = "bridge",
	.labels = web_labels,
	.n_labels = 2,
	.bindings = &web_binding,
	.n_bindings = 1,
};

static const struct attribution web_who = {
	.cgroup_id = 4242,
	.cgroup_path = "/system.slice/docker-" CID ".scope",
	.container_id = CID,
	.runtime = "docker",
	.container = &web,
	.binding = &web_binding,
};

/* The record line holds, parsed as a sink parses it. */
static json_t *parsed(struct json_line *rec)
{
	json_error_t err;
	json_t *root;

	assert_non_null(rec);
	assert_false(rec->buf.failed);
	root = json_loadb(rec->buf.data, rec->buf.len, 0, &err);
	if (!root)
		fail_msg("json.c wrote invalid JSON: %s", err.text);
	return root;
}

enum kind {
	K_ACCEPTED,
	K_INITIATED,
	K_CLOSED,
	K_LISTEN,
	K_PORT_STATS,
	K_PORT_STATS_CLIENT,
	K_XDP_STATS,
	K_XDP_UNPUBLISHED,
	K_CONTAINER_STARTED,
	K_CONTAINER_STOPPED,
	K_RUNTIME_RECONNECTED,
	K_CONFIG_RELOAD_OK,
	K_CONFIG_RELOAD_FAILED,
	K_EVENTS_LOST,
	K_SINK_LOST,
	K_UNAUTHORIZED_SOURCE,
	K_PORT_SCAN,
	K_BRUTE_FORCE,
	K_RATE_SPIKE,
	K_RATE_LIMIT,
	K_NEW_SOURCE,
	K_EXPOSURE,
	K__COUNT,
};

static const char *const kind_actions[K__COUNT] = {
	"connection-accepted", "connection-initiated",
	"connection-closed",   "listen",
	"port-stats",	       "port-stats",
	"port-stats",	       "port-stats",
	"container-started",   "container-stopped",
	"runtime-reconnected", "config-reload",
	"config-reload",       "events-lost",
	"events-lost",	       "unauthorized-source",
	"port-scan",	       "brute-force",
	"rate-spike",	       "rate-limit",
	"new-source",	       "exposure",
};

static json_t *make_alert(const char *action, unsigned int severity, bool with_source, bool dropped)
{
	struct alert a = {
		.action = action,
		.rule_name = "admin-from-office",
		.severity = severity,
		.view = "socket",
		.has_source = with_source,
		.container = &web,
		.binding = &web_binding,
		.port = 80,
		.protocol = IPPROTO_TCP,
		.count = 12,
		.threshold = 10,
		.window_ms = 10000,
		.suppressed = 0,
		.dropped = dropped,
		.rate = 50.5,
		.baseline = 4.25,
	};

	if (with_source)
		set_addr(a.source, "198.51.100.9");
	return parsed(ecs_alert(&line, &meta, NOW_NS, &a));
}

static json_t *make_record(enum kind kind)
{
	struct berth_event ev;
	struct port_stats_report stats = {
		.interval = { .conns_opened = 3,
			      .conns_closed = 2,
			      .bytes_in = 237,
			      .bytes_out = 693,
			      .packets_in = 15,
			      .packets_out = 14 },
		.total = { .conns_opened = 30,
			   .conns_closed = 29,
			   .bytes_in = 2370,
			   .bytes_out = 6930,
			   .packets_in = 150,
			   .packets_out = 140 },
		.protocol = IPPROTO_TCP,
		.role = BERTH_ROLE_LOCAL,
		.port = 80,
		.interval_s = 10,
	};
	struct xdp_stats_report xdp = {
		.interval = { .packets = 20, .bytes = 2000, .syns = 4, .syns_dropped = 1 },
		.total = { .packets = 200, .bytes = 20000, .syns = 40, .syns_dropped = 10 },
		.interface = "eth0",
		.xdp_mode = "native",
		.port = 8080,
		.protocol = IPPROTO_TCP,
		.interval_s = 10,
	};

	switch (kind) {
	case K_ACCEPTED:
		ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_LOCAL, "172.17.0.3", 80,
				"198.51.100.2", 56780);
		return parsed(ecs_connection(&line, &meta, NOW_NS, &ev, &web_who));
	case K_INITIATED:
		ev = conn_event(BERTH_EV_CONN_OPEN, BERTH_ROLE_REMOTE, "172.17.0.3", 41234,
				"2001:db8::5", 443);
		return parsed(ecs_connection(&line, &meta, NOW_NS, &ev, &web_who));
	case K_CLOSED:
		ev = conn_event(BERTH_EV_CONN_CLOSE, BERTH_ROLE_LOCAL, "172.17.0.3", 80,
				"198.51.100.2", 56780);
		ev.duration_ns = 1500000000ULL;
		ev.bytes_in = 100;
		ev.bytes_out = 1212;
		ev.srtt_us = 42;
		ev.total_retrans = 1;
		return parsed(ecs_connection(&line, &meta, NOW_NS, &ev, &web_who));
	case K_LISTEN:
		ev = conn_event(BERTH_EV_BIND, BERTH_ROLE_LOCAL, "0.0.0.0", 80, "0.0.0.0", 0);
		return parsed(ecs_listen(&line, &meta, NOW_NS, &ev, &web_who));
	case K_PORT_STATS:
		return parsed(ecs_port_stats(&line, &meta, NOW_NS, &stats, &web_who));
	case K_PORT_STATS_CLIENT:
		stats.role = BERTH_ROLE_REMOTE;
		stats.port = 5432;
		return parsed(ecs_port_stats(&line, &meta, NOW_NS, &stats, &web_who));
	case K_XDP_STATS:
		return parsed(ecs_xdp_port_stats(&line, &meta, NOW_NS, &xdp, &web_who));
	case K_XDP_UNPUBLISHED:
		xdp.unpublished = true;
		return parsed(ecs_xdp_port_stats(&line, &meta, NOW_NS, &xdp, NULL));
	case K_CONTAINER_STARTED:
		return parsed(
			ecs_container_change(&line, &meta, NOW_NS, "container-started", &web));
	case K_CONTAINER_STOPPED:
		return parsed(
			ecs_container_change(&line, &meta, NOW_NS, "container-stopped", &web));
	case K_RUNTIME_RECONNECTED:
		return parsed(ecs_runtime_reconnected(&line, &meta, NOW_NS, "docker",
						      "/run/docker.sock", 1500, 2));
	case K_CONFIG_RELOAD_OK:
		return parsed(ecs_config_reload(&line, &meta, NOW_NS, "/etc/berth/policy.yaml",
						true, 3, NULL));
	case K_CONFIG_RELOAD_FAILED:
		return parsed(
			ecs_config_reload(&line, &meta, NOW_NS, "/etc/berth/policy.yaml", false, 0,
					  "/etc/berth/policy.yaml:4:9: unknown key \"prot\""));
	case K_EVENTS_LOST:
		return parsed(ecs_events_lost(&line, &meta, NOW_NS, "ringbuf-full", 12, 30));
	case K_SINK_LOST:
		return parsed(
			ecs_sink_events_lost(&line, &meta, NOW_NS, "siem", "queue-full", 5, 7));
	case K_UNAUTHORIZED_SOURCE:
		return make_alert("unauthorized-source", 73, true, false);
	case K_PORT_SCAN:
		return make_alert("port-scan", 57, true, false);
	case K_BRUTE_FORCE:
		return make_alert("brute-force", 63, true, false);
	case K_RATE_SPIKE:
		return make_alert("rate-spike", 47, false, false);
	case K_RATE_LIMIT:
		return make_alert("rate-limit", 47, true, false);
	case K_NEW_SOURCE:
		return make_alert("new-source", 21, true, false);
	case K_EXPOSURE:
		return make_alert("exposure", 47, false, false);
	default:
		fail();
	}
	return NULL;
}

/* ---- helpers ---- */

/* The record as a sink reads it, reused from record to record as the outputs do. */
static struct json_doc doc;

static struct json_doc *read_text(const char *text)
{
	if (json_read(&doc, text, strlen(text)))
		fail_msg("json_read refused the record (%s at %zu): %s", doc.error,
			 doc.error_offset, text);
	return &doc;
}

/* A record built or changed with jansson, as the text a sink gets. */
static struct json_doc *doc_of(const json_t *ecs)
{
	char *text = json_dumps(ecs, JSON_COMPACT | JSON_ENSURE_ASCII);

	assert_non_null(text);
	read_text(text);
	free(text);
	return &doc;
}

/* The record in format; fails the test when format_record refuses it. */
static char *render_doc(enum output_format format, const struct json_doc *ecs,
			const struct syslog_options *sys)
{
	struct buf out = { 0 };
	char *text;

	if (format_record(format, ecs, sys, &out))
		fail_msg("format_record(%s) refused the record", format_name(format));
	assert_false(out.failed);
	assert_non_null(out.data);
	assert_int_equal(strlen(out.data), out.len);
	text = strdup(out.data);
	buf_free(&out);
	return text;
}

static char *render(enum output_format format, const json_t *ecs, const struct syslog_options *sys)
{
	return render_doc(format, doc_of(ecs), sys);
}

static json_t *at(const json_t *root, const char *dotted)
{
	char buf[256], *save, *part;
	json_t *v = (json_t *)root;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, strtoul(part, NULL, 10)) :
				       json_object_get(v, part);
	return v;
}

static void expect_str(const json_t *root, const char *path, const char *want)
{
	json_t *v = at(root, path);

	if (!json_is_string(v))
		fail_msg("%s: not a string", path);
	if (strcmp(json_string_value(v), want))
		fail_msg("%s: got \"%s\", want \"%s\"", path, json_string_value(v), want);
}

static void expect_int(const json_t *root, const char *path, json_int_t want)
{
	json_t *v = at(root, path);

	if (!json_is_integer(v))
		fail_msg("%s: not an integer", path);
	if (json_integer_value(v) != want)
		fail_msg("%s: got %lld, want %lld", path, (long long)json_integer_value(v),
			 (long long)want);
}

static void expect_absent(const json_t *root, const char *path)
{
	if (at(root, path))
		fail_msg("%s: present", path);
}

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (!root)
		fail_msg("not JSON (%s): %s", err.text, text);
	return root;
}

/* The record in OCSF, parsed back; takes the record. */
static json_t *ocsf_of(json_t *ecs)
{
	char *text = render(FORMAT_OCSF, ecs, NULL);
	json_t *ocsf = load(text);

	free(text);
	json_decref(ecs);
	return ocsf;
}

/* The record in CEF; takes the record. */
static char *cef_of(json_t *ecs)
{
	char *text = render(FORMAT_CEF, ecs, NULL);

	json_decref(ecs);
	return text;
}

/* What a transformed record holds: its ECS output, parsed back. */
static json_t *ecs_back(const struct json_doc *ecs)
{
	char *text = render_doc(FORMAT_ECS, ecs, NULL);
	json_t *back = load(text);

	free(text);
	return back;
}

/* One line: no CR, LF or NUL before the end. */
static void expect_one_line(const char *text)
{
	if (strpbrk(text, "\r\n"))
		fail_msg("line break in: %s", text);
}

/*
 * RFC 5424 STRUCTURED-DATA at p: "-" or SD-ELEMENTs (section 6.3). Returns
 * where it ends (NULL when malformed) and the number of elements. Names are
 * 1-32 PRINTUSASCII but '=', ']', '"'; values escape '"', '\' and ']', and
 * berth writes no control character in them.
 */
static const char *parse_sd(const char *p, unsigned int *elements)
{
	*elements = 0;
	if (*p == '-')
		return p + 1;
	while (*p == '[') {
		size_t n;

		p++;
		for (n = 0; p[n] > 32 && p[n] < 127 && !strchr("=]\"", p[n]); n++)
			;
		if (n < 1 || n > 32 || !memchr(p, '@', n))
			return NULL;
		p += n;
		while (*p == ' ') {
			p++;
			for (n = 0; p[n] > 32 && p[n] < 127 && !strchr("=]\"", p[n]); n++)
				;
			if (n < 1 || n > 32 || p[n] != '=' || p[n + 1] != '"')
				return NULL;
			p += n + 2;
			while (*p != '"') {
				if (!*p || *p == ']' || (unsigned char)*p < 0x20 || *p == 0x7f)
					return NULL;
				if (*p == '\\') {
					if (p[1] != '"' && p[1] != '\\' && p[1] != ']')
						return NULL;
					p++;
				}
				p++;
			}
			p++;
		}
		if (*p != ']')
			return NULL;
		p++;
		(*elements)++;
	}
	return *elements ? p : NULL;
}

/* An RFC 5424 message: header, SD, " " and a printable ASCII MSG. Returns the SD elements. */
static unsigned int expect_rfc5424(const char *msg, const char *msgid)
{
	regex_t re;
	regmatch_t m[3];
	const char *p;
	unsigned int elements;

	assert_int_equal(regcomp(&re,
				 "^<[0-9]{1,3}>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
				 "[0-9]{2}\\.[0-9]{3}Z [!-~]{1,255} [!-~]{1,48} ([0-9]{1,10}|-) "
				 "([!-~]{1,32}) ",
				 REG_EXTENDED),
			 0);
	if (regexec(&re, msg, 3, m, 0))
		fail_msg("not an RFC 5424 header: %s", msg);
	regfree(&re);
	if ((size_t)(m[2].rm_eo - m[2].rm_so) != strlen(msgid) ||
	    strncmp(msg + m[2].rm_so, msgid, strlen(msgid)))
		fail_msg("MSGID is not %s: %s", msgid, msg);
	p = parse_sd(msg + m[0].rm_eo, &elements);
	if (!p)
		fail_msg("malformed structured data: %s", msg);
	assert_int_equal(*p, ' ');
	for (p++; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("byte 0x%02x in MSG: %s", (unsigned char)*p, msg);
	return elements;
}

/*
 * A CEF record: "CEF:0|" and six more header fields ended by unescaped
 * pipes, then key=value pairs where every unescaped '=' ends a key that
 * follows a space. Returns the number of pairs.
 */
static unsigned int expect_cef(const char *cef, const char *action)
{
	const char *p = cef, *ext;
	unsigned int pipes = 0, pairs = 0;
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "CEF:0|berth|berth|");
	if (strncmp(cef, prefix, strlen(prefix)))
		fail_msg("not CEF: %s", cef);
	expect_one_line(cef);
	for (; *p && pipes < 7; p++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == '|'))
			p++;
		else if (*p == '\\')
			fail_msg("bare backslash in the header: %s", cef);
		else if (*p == '|')
			pipes++;
	}
	assert_int_equal(pipes, 7);
	snprintf(prefix, sizeof(prefix), "|%s|", action);
	assert_non_null(strstr(cef, prefix));
	ext = p;
	for (p = ext; *p; p++) {
		const char *k;

		if (*p == '\\') {
			if (!strchr("\\=nr", p[1]))
				fail_msg("bad escape \\%c in: %s", p[1], ext);
			p++;
			continue;
		}
		if (*p != '=')
			continue;
		for (k = p;
		     k > ext && ((k[-1] >= 'a' && k[-1] <= 'z') || (k[-1] >= 'A' && k[-1] <= 'Z') ||
				 (k[-1] >= '0' && k[-1] <= '9'));
		     k--)
			;
		if (k == p || (k != ext && k[-1] != ' '))
			fail_msg("'=' at %zu not after a key: %s", (size_t)(p - ext), ext);
		pairs++;
	}
	return pairs;
}

/* ---- every kind in every format ---- */

static void test_every_kind_every_format(void **state)
{
	(void)state;
	for (int k = 0; k < K__COUNT; k++) {
		json_t *ecs = make_record(k), *back;
		char *text;

		/* ECS: the same record */
		text = render(FORMAT_ECS, ecs, NULL);
		expect_one_line(text);
		back = load(text);
		assert_true(json_equal(back, ecs));
		json_decref(back);
		free(text);

		/* OCSF: one JSON object of the class the kind belongs to */
		text = render(FORMAT_OCSF, ecs, NULL);
		expect_one_line(text);
		back = load(text);
		{
			json_int_t class_uid = json_integer_value(at(back, "class_uid"));
			json_int_t activity = json_integer_value(at(back, "activity_id"));

			expect_int(back, "type_uid", class_uid * 100 + activity);
			expect_int(back, "time", NOW_MS);
			expect_str(back, "metadata.version", "1.1.0");
			expect_str(back, "metadata.product.name", "berth");
			expect_str(back, "metadata.product.vendor_name", "berth");
			expect_str(back, "metadata.product.version", "1.2.3");
			expect_str(back, "metadata.event_code", kind_actions[k]);
			expect_str(back, "device.hostname", "node-1");
			assert_true(json_is_string(at(back, "message")));
			expect_absent(back, "unmapped.berth.version");
			if (k >= K_UNAUTHORIZED_SOURCE) {
				assert_int_equal(class_uid, 2004);
				expect_int(back, "category_uid", 2);
				assert_int_equal(activity, 1);
				expect_str(back, "finding_info.types.0", kind_actions[k]);
				expect_str(back, "finding_info.analytic.name", "admin-from-office");
				expect_int(back, "finding_info.created_time", NOW_MS);
				expect_str(back, "evidences.0.container.name", "web");
				expect_int(back, "count", 12);
				expect_int(back, "start_time", NOW_MS - 10000);
				expect_int(back, "unmapped.berth.alert.threshold", 10);
			} else if (k <= K_XDP_UNPUBLISHED) {
				assert_int_equal(class_uid, 4001);
				expect_int(back, "category_uid", 4);
				assert_true(json_is_object(at(back, "src_endpoint")));
				assert_true(json_is_object(at(back, "dst_endpoint")));
				assert_true(
					json_is_integer(at(back, "connection_info.direction_id")));
			} else {
				assert_int_equal(class_uid, 0);
				expect_int(back, "category_uid", 0);
				assert_int_equal(activity, 99);
				expect_str(back, "activity_name", kind_actions[k]);
			}
		}
		json_decref(back);
		free(text);

		/* RFC 5424: well-formed, an element per top-level object */
		text = render(FORMAT_RFC5424, ecs, NULL);
		{
			size_t objects = 0;
			const char *key;
			json_t *v;

			json_object_foreach(ecs, key, v)
				objects += json_is_object(v);
			expect_one_line(text);
			assert_int_equal(expect_rfc5424(text, kind_actions[k]), objects);
		}
		free(text);

		/* CEF */
		text = render(FORMAT_CEF, ecs, NULL);
		assert_true(expect_cef(text, kind_actions[k]) >= 3);
		assert_non_null(strstr(text, "|1.2.3|"));
		assert_non_null(strstr(text, "|rt=1796396851112 "));
		assert_non_null(strstr(text, " dvchost=node-1"));
		free(text);
		json_decref(ecs);
	}
}

/* ---- exact outputs ---- */

static void test_exact_connection_accepted(void **state)
{
	json_t *ecs = make_record(K_ACCEPTED);
	struct syslog_options sys = { .facility = 16, .app_name = "berth", .procid = 4321 };
	char *text;

	(void)state;
	text = render(FORMAT_CEF, ecs, NULL);
	assert_string_equal(
		text,
		"CEF:0|berth|berth|1.2.3|connection-accepted|Connection accepted|1|"
		"rt=1796396851112 dvchost=node-1 src=198.51.100.2 spt=56780 dst=172.17.0.3 dpt=80 "
		"proto=TCP deviceDirection=0 cs1=web cs1Label=containerName cs2=" CID
		" cs2Label=containerId cs3=nginx:1.27 cs3Label=containerImage "
		"cs5=0.0.0.0:8080->80/tcp cs5Label=publishedPort cs6=socket cs6Label=view "
		"msg=connection-accepted 198.51.100.2:56780 -> 172.17.0.3:80/tcp (web, published "
		"0.0.0.0:8080)");
	free(text);

	text = render(FORMAT_RFC5424, ecs, &sys);
	assert_string_equal(
		text, "<134>1 2026-12-04T15:07:31.112Z node-1 berth 4321 connection-accepted "
		      "[event@32473 kind=\"event\" category=\"network\" type=\"connection\" "
		      "type=\"start\" action=\"connection-accepted\"]"
		      "[host@32473 name=\"node-1\"]"
		      "[source@32473 ip=\"198.51.100.2\" port=\"56780\"]"
		      "[destination@32473 ip=\"172.17.0.3\" port=\"80\"]"
		      "[network@32473 transport=\"tcp\" type=\"ipv4\" direction=\"ingress\"]"
		      "[container@32473 id=\"" CID "\" name=\"web\" image.name=\"nginx\" "
		      "image.tag=\"1.27\" runtime=\"docker\"]"
		      "[berth@32473 version=\"1.2.3\" view=\"socket\" port.host_ip=\"0.0.0.0\" "
		      "port.host_port=\"8080\" port.container_port=\"80\" port.protocol=\"tcp\" "
		      "cgroup_id=\"4242\" cgroup_path=\"/system.slice/docker-" CID ".scope\" "
		      "socket_cookie=\"77\"] "
		      "connection-accepted 198.51.100.2:56780 -> 172.17.0.3:80/tcp (web, published "
		      "0.0.0.0:8080)");
	free(text);
	json_decref(ecs);
}

static void test_exact_alert_cef(void **state)
{
	json_t *ecs = make_alert("unauthorized-source", 73, true, true);
	char *text;

	(void)state;
	text = render(FORMAT_CEF, ecs, NULL);
	assert_string_equal(
		text,
		"CEF:0|berth|berth|1.2.3|unauthorized-source|Unauthorized source|7|"
		"rt=1796396851112 dvchost=node-1 src=198.51.100.9 dpt=80 proto=TCP cnt=12 "
		"act=blocked cs1=web cs1Label=containerName cs2=" CID " cs2Label=containerId "
		"cs3=nginx:1.27 cs3Label=containerImage cs4=admin-from-office cs4Label=ruleName "
		"cs5=0.0.0.0:8080->80/tcp cs5Label=publishedPort cs6=socket cs6Label=view "
		"cn1=10 cn1Label=threshold cn2=10000 cn2Label=windowMs cn3=0 cn3Label=suppressed "
		"msg=unauthorized-source 198.51.100.9 -> 80/tcp (web, published 0.0.0.0:8080): rule "
		"admin-from-office, count 12, threshold 10 in 10000 ms, dropped");
	free(text);
	json_decref(ecs);
}

/*
 * A literal record with the hostile strings where outside text goes: name
 * as raw bytes (not UTF-8, as a hand-made record could hold), version and
 * action as JSON string contents.
 */
static char *hostile_record(const char *name, size_t name_len, const char *version,
			    const char *action)
{
	struct buf text = { 0 };

	buf_printf(&text,
		   "{\"@timestamp\":\"2026-12-04T15:07:31.112Z\","
		   "\"event\":{\"kind\":\"event\",\"action\":\"%s\"},"
		   "\"host\":{\"name\":\"node-1\"},"
		   "\"server\":{\"ip\":\"0.0.0.0\",\"port\":80},"
		   "\"network\":{\"transport\":\"tcp\"},"
		   "\"container\":{\"id\":\"abc\",\"name\":\"",
		   action);
	for (size_t i = 0; i < name_len; i++) {
		unsigned char c = name[i];

		if (c == '"' || c == '\\')
			buf_printf(&text, "\\%c", c);
		else if (c < 0x20)
			buf_printf(&text, "\\u%04x", c);
		else
			buf_putc(&text, (char)c);
	}
	buf_printf(&text, "\"},\"berth\":{\"version\":\"%s\"}}", version);
	assert_false(text.failed);
	return text.data;
}

/* we|b=1\2]"3<LF>4<CR>5 <0xff><0xfe> é <TAB> end */
static const char hostile[] = "we|b=1\\2]\"3\n4\r5 \xff\xfe \xc3\xa9 \t end";

static void test_hostile_cef(void **state)
{
	char *ecs = hostile_record(hostile, sizeof(hostile) - 1, "1.2.3", "listen");
	char *text;

	(void)state;
	text = render_doc(FORMAT_CEF, read_text(ecs), NULL);
	expect_cef(text, "listen");
	assert_non_null(strstr(text, " cs1=we|b\\=1\\\\2]\"3\\n4\\r5 \xef\xbf\xbd\xef\xbf\xbd "
				     "\xc3\xa9   end cs1Label=containerName "));
	assert_non_null(strstr(text, " msg=listen 0.0.0.0:80/tcp (we|b\\=1\\\\2]\"3\\n4\\r5 "
				     "\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9   end)"));
	free(text);

	/* The header: version and action carry '|', '\' and line breaks */
	free(ecs);
	ecs = hostile_record(hostile, sizeof(hostile) - 1, "1|2\\\\3\\r\\n4=5", "li|sten\\n");
	text = render_doc(FORMAT_CEF, read_text(ecs), NULL);
	assert_true(
		!strncmp(text, "CEF:0|berth|berth|1\\|2\\\\3  4=5|li\\|sten |li\\|sten |1|rt=",
			 strlen("CEF:0|berth|berth|1\\|2\\\\3  4=5|li\\|sten |li\\|sten |1|rt=")));
	expect_cef(text, "li\\|sten ");
	free(text);
	free(ecs);

	/* The protocol is upper-cased and escaped like any value (fuzz found it raw). */
	text = render_doc(FORMAT_CEF,
			  read_text("{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{"
				    "\"kind\":\"event\",\"action\":\"listen\"},\"network\":{"
				    "\"transport\":\"tcp\\nx=y\\\\\"}}"),
			  NULL);
	expect_one_line(text);
	assert_non_null(strstr(text, " proto=TCP\\nX\\=Y\\\\"));
	free(text);
}

static void test_hostile_rfc5424(void **state)
{
	char *ecs = hostile_record(hostile, sizeof(hostile) - 1, "1.2.3", "listen");
	char *text;

	(void)state;
	text = render_doc(FORMAT_RFC5424, read_text(ecs), NULL);
	expect_rfc5424(text, "listen");
	assert_non_null(strstr(text,
			       "[container@32473 id=\"abc\" name=\"we|b=1\\\\2\\]\\\"3#0124#0155 "
			       "\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9 #011 end\"]"));
	/* MSG: printable ASCII */
	assert_non_null(strstr(text, "] listen 0.0.0.0:80/tcp (we|b=1\\2]\"3 4 5 ?? ?   end)"));
	free(text);
	free(ecs);
}

/* json.c turns what is not UTF-8 into U+FFFD already; format keeps it so. */
static void test_hostile_through_json_c(void **state)
{
	struct container c = web;
	json_t *ecs;
	char *text;

	(void)state;
	snprintf(c.name, sizeof(c.name), "%s", hostile);
	ecs = parsed(ecs_container_change(&line, &meta, NOW_NS, "container-started", &c));
	text = render(FORMAT_CEF, ecs, NULL);
	assert_non_null(strstr(text, " cs1=we|b\\=1\\\\2]\"3\\n4\\r5 \xef\xbf\xbd\xef\xbf\xbd "
				     "\xc3\xa9   end cs1Label"));
	free(text);
	text = render(FORMAT_OCSF, ecs, NULL);
	{
		json_t *o = load(text);

		expect_str(o, "container.name",
			   "we|b=1\\2]\"3\n4\r5 \xef\xbf\xbd\xef\xbf\xbd \xc3\xa9 \t end");
		json_decref(o);
	}
	free(text);
	json_decref(ecs);
}

/* OCSF with invalid UTF-8 in a hand-made record: U+FFFD, not a refused record. */
static void test_hostile_ocsf(void **state)
{
	char *ecs = hostile_record(hostile, sizeof(hostile) - 1, "1.2.3", "listen");
	json_t *o;
	char *text;

	(void)state;
	text = render_doc(FORMAT_OCSF, read_text(ecs), NULL);
	o = load(text);
	expect_str(o, "container.name",
		   "we|b=1\\2]\"3\n4\r5 \xef\xbf\xbd\xef\xbf\xbd \xc3\xa9 \t end");
	expect_int(o, "activity_id", 99);
	expect_str(o, "activity_name", "Listen");
	json_decref(o);
	free(text);
	free(ecs);
}

static void test_long_names(void **state)
{
	char host[400], app[80], expect[400];
	struct syslog_options sys = { .app_name = app, .procid = 1 };
	json_t *ecs = make_record(K_CONTAINER_STARTED), *labels;
	char *text, *p;

	(void)state;
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	memset(app, 'a', sizeof(app) - 1);
	app[sizeof(app) - 1] = '\0';
	json_object_set_new(json_object_get(ecs, "host"), "name", json_string(host));
	labels = at(ecs, "container.labels");
	json_object_set_new(labels, "a key with = and spaces]\"", json_string("v1"));
	json_object_set_new(labels, "an_extremely_long_label_key_of_more_than_32_characters",
			    json_string("v2"));
	json_object_set_new(labels, "", json_string("v3"));

	text = render(FORMAT_RFC5424, ecs, &sys);
	expect_rfc5424(text, "container-started");
	/* HOSTNAME cut at 255, APP-NAME at 48 */
	memset(expect, 'h', 255);
	expect[255] = '\0';
	p = strchr(text, 'Z') + 2;
	assert_int_equal(strncmp(p, expect, 255), 0);
	assert_int_equal(p[255], ' ');
	p += 256;
	assert_int_equal(strspn(p, "a"), 48);
	assert_int_equal(p[48], ' ');
	/* PARAM-NAMEs: 32 characters at most, '=', ' ', ']', '"' made '_' */
	assert_non_null(strstr(text, " labels.a_key_with___and_spaces__=\"v1\""));
	assert_non_null(strstr(text, " labels.an_extremely_long_label_k=\"v2\""));
	assert_non_null(strstr(text, " labels.=\"v3\""));
	free(text);
	json_decref(ecs);
}

static void test_empty_header_fields(void **state)
{
	json_t *ecs = load("{\"@timestamp\":\"2026-12-04T16:07:31.5+01:00\","
			   "\"event\":{\"kind\":\"event\",\"action\":\"\\u00e9\"},"
			   "\"host\":{\"name\":\"\"}}");
	char *text;

	(void)state;
	/* No procid, no app name: "-" and the default; the offset taken out of the time. */
	text = render(FORMAT_RFC5424, ecs, NULL);
	assert_string_equal(text, "<134>1 2026-12-04T15:07:31.500Z - berth - _ "
				  "[event@32473 kind=\"event\" action=\"\xc3\xa9\"]"
				  "[host@32473 name=\"\"] ?");
	free(text);
	json_decref(ecs);
}

static void test_syslog_priority(void **state)
{
	static const struct {
		enum kind kind;
		unsigned int severity; /* syslog */
	} cases[] = {
		{ K_ACCEPTED, 6 },	   { K_EVENTS_LOST, 4 },
		{ K_CONFIG_RELOAD_OK, 6 }, { K_CONFIG_RELOAD_FAILED, 4 },
		{ K_NEW_SOURCE, 4 },	   { K_RATE_LIMIT, 4 },
		{ K_PORT_SCAN, 3 },	   { K_UNAUTHORIZED_SOURCE, 3 },
	};
	struct syslog_options local3 = { .facility = 19 }, bad = { .facility = 24 };
	struct buf out = { 0 };
	char want[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ecs = make_record(cases[i].kind);

		buf_reset(&out);
		assert_int_equal(format_syslog_header(doc_of(ecs), NULL, &out), 0);
		snprintf(want, sizeof(want), "<%u>1 ", 16 * 8 + cases[i].severity);
		if (strncmp(out.data, want, strlen(want)))
			fail_msg("%s: got %s, want %s", kind_actions[cases[i].kind], out.data,
				 want);
		buf_reset(&out);
		assert_int_equal(format_syslog_header(doc_of(ecs), &local3, &out), 0);
		snprintf(want, sizeof(want), "<%u>1 ", 19 * 8 + cases[i].severity);
		assert_int_equal(strncmp(out.data, want, strlen(want)), 0);
		buf_reset(&out);
		assert_int_equal(format_syslog_header(doc_of(ecs), &bad, &out), 0);
		snprintf(want, sizeof(want), "<%u>1 ", 16 * 8 + cases[i].severity);
		assert_int_equal(strncmp(out.data, want, strlen(want)), 0);
		json_decref(ecs);
	}
	/* crit from 75 */
	{
		json_t *ecs = make_alert("brute-force", 80, true, false);

		buf_reset(&out);
		assert_int_equal(format_syslog_header(doc_of(ecs), NULL, &out), 0);
		assert_string_equal(out.data,
				    "<130>1 2026-12-04T15:07:31.112Z node-1 berth - brute-force ");
		json_decref(ecs);
	}
	buf_free(&out);
}

static void test_ocsf_network_mapping(void **state)
{
	json_t *o;

	(void)state;
	o = ocsf_of(make_record(K_ACCEPTED));
	expect_int(o, "class_uid", 4001);
	expect_int(o, "activity_id", 1);
	expect_int(o, "type_uid", 400101);
	expect_int(o, "severity_id", 1);
	expect_str(o, "src_endpoint.ip", "198.51.100.2");
	expect_int(o, "src_endpoint.port", 56780);
	expect_str(o, "dst_endpoint.ip", "172.17.0.3");
	expect_int(o, "dst_endpoint.port", 80);
	expect_str(o, "connection_info.protocol_name", "tcp");
	expect_int(o, "connection_info.protocol_num", 6);
	expect_int(o, "connection_info.direction_id", 1);
	expect_str(o, "connection_info.direction", "Inbound");
	expect_int(o, "connection_info.protocol_ver_id", 4);
	expect_str(o, "connection_info.uid", "77");
	expect_str(o, "container.uid", CID);
	expect_str(o, "container.name", "web");
	expect_str(o, "container.image.name", "nginx");
	expect_str(o, "container.image.tag", "1.27");
	expect_str(o, "container.runtime", "docker");
	expect_str(o, "metadata.profiles.0", "host");
	expect_str(o, "metadata.profiles.1", "container");
	expect_int(o, "unmapped.berth.port.host_port", 8080);
	expect_absent(o, "traffic");
	json_decref(o);

	/* closed: bytes from the source's side */
	o = ocsf_of(make_record(K_CLOSED));
	expect_int(o, "activity_id", 2);
	expect_int(o, "type_uid", 400102);
	expect_int(o, "traffic.bytes_out", 100);
	expect_int(o, "traffic.bytes_in", 1212);
	expect_int(o, "traffic.bytes", 1312);
	expect_int(o, "duration", 1500);
	expect_int(o, "unmapped.berth.connection.rtt_us", 42);
	json_decref(o);

	/* initiated: outbound, IPv6 peer */
	o = ocsf_of(make_record(K_INITIATED));
	expect_int(o, "activity_id", 1);
	expect_str(o, "dst_endpoint.ip", "2001:db8::5");
	expect_int(o, "connection_info.direction_id", 2);
	json_decref(o);

	/* listen: Other, named Listen, no source */
	o = ocsf_of(make_record(K_LISTEN));
	expect_int(o, "activity_id", 99);
	expect_str(o, "activity_name", "Listen");
	expect_int(o, "type_uid", 400199);
	expect_str(o, "dst_endpoint.ip", "0.0.0.0");
	expect_int(o, "dst_endpoint.port", 80);
	assert_int_equal(json_object_size(at(o, "src_endpoint")), 0);
	json_decref(o);

	/* port-stats of a server: what it received went source -> destination */
	o = ocsf_of(make_record(K_PORT_STATS));
	expect_int(o, "activity_id", 6);
	expect_int(o, "type_uid", 400106);
	expect_int(o, "dst_endpoint.port", 80);
	expect_int(o, "traffic.bytes_out", 237);
	expect_int(o, "traffic.bytes_in", 693);
	expect_int(o, "traffic.packets_out", 15);
	expect_int(o, "traffic.packets_in", 14);
	expect_int(o, "traffic.bytes", 930);
	expect_int(o, "start_time", NOW_MS - 10000);
	expect_int(o, "end_time", NOW_MS);
	expect_int(o, "connection_info.direction_id", 1);
	expect_str(o, "unmapped.container.labels.tier", "front");
	expect_int(o, "unmapped.berth.stats.total.bytes_in", 2370);
	json_decref(o);

	/* ... of a client: the container is the source */
	o = ocsf_of(make_record(K_PORT_STATS_CLIENT));
	expect_int(o, "dst_endpoint.port", 5432);
	expect_int(o, "traffic.bytes_out", 693);
	expect_int(o, "traffic.bytes_in", 237);
	expect_int(o, "connection_info.direction_id", 2);
	json_decref(o);

	/* the interface view */
	o = ocsf_of(make_record(K_XDP_STATS));
	expect_int(o, "activity_id", 6);
	expect_int(o, "dst_endpoint.port", 8080);
	expect_str(o, "dst_endpoint.interface_name", "eth0");
	expect_int(o, "traffic.bytes_out", 2000);
	expect_int(o, "traffic.packets_out", 20);
	expect_absent(o, "traffic.bytes_in");
	expect_int(o, "unmapped.berth.stats.interval.syns_dropped", 1);
	json_decref(o);

	o = ocsf_of(make_record(K_XDP_UNPUBLISHED));
	expect_absent(o, "dst_endpoint.port");
	expect_absent(o, "container");
	expect_str(o, "metadata.profiles.0", "host");
	expect_absent(o, "metadata.profiles.1");
	assert_true(json_is_true(at(o, "unmapped.berth.unpublished")));
	json_decref(o);
}

static void test_ocsf_finding_and_base(void **state)
{
	json_t *ecs, *o, *o2;
	char *text, *text2;

	(void)state;
	ecs = make_alert("unauthorized-source", 73, true, true);
	text = render(FORMAT_OCSF, ecs, NULL);
	o = load(text);
	expect_int(o, "class_uid", 2004);
	expect_str(o, "class_name", "Detection Finding");
	expect_int(o, "type_uid", 200401);
	expect_int(o, "severity_id", 4);
	expect_str(o, "severity", "High");
	expect_int(o, "status_id", 1);
	expect_int(o, "disposition_id", 2);
	expect_str(o, "metadata.profiles.1", "security_control");
	expect_int(o, "finding_info.analytic.type_id", 1);
	expect_str(o, "finding_info.analytic.type", "Rule");
	expect_str(o, "evidences.0.src_endpoint.ip", "198.51.100.9");
	expect_int(o, "evidences.0.dst_endpoint.port", 80);
	expect_str(o, "evidences.0.connection_info.protocol_name", "tcp");
	expect_str(o, "evidences.0.container.uid", CID);
	assert_true(json_is_true(at(o, "unmapped.berth.alert.dropped")));
	assert_int_equal(strlen(json_string_value(at(o, "finding_info.uid"))), 32);
	/* one record, one uid; another record, another */
	text2 = render(FORMAT_OCSF, ecs, NULL);
	o2 = load(text2);
	expect_str(o2, "finding_info.uid", json_string_value(at(o, "finding_info.uid")));
	json_decref(o2);
	free(text2);
	json_decref(o);
	free(text);
	json_decref(ecs);

	o = ocsf_of(make_alert("rate-spike", 47, false, false));
	expect_int(o, "severity_id", 3);
	expect_int(o, "finding_info.analytic.type_id", 3);
	expect_absent(o, "evidences.0.src_endpoint");
	expect_absent(o, "disposition_id");
	assert_true(json_is_real(at(o, "unmapped.berth.alert.rate_per_s")));
	json_decref(o);

	o = ocsf_of(make_alert("new-source", 21, true, false));
	expect_int(o, "severity_id", 2);
	json_decref(o);

	o = ocsf_of(make_record(K_CONFIG_RELOAD_FAILED));
	expect_int(o, "class_uid", 0);
	expect_int(o, "type_uid", 99);
	expect_int(o, "status_id", 2);
	expect_int(o, "severity_id", 3);
	expect_str(o, "status_detail", "/etc/berth/policy.yaml:4:9: unknown key \"prot\"");
	expect_str(o, "unmapped.berth.config.path", "/etc/berth/policy.yaml");
	json_decref(o);

	o = ocsf_of(make_record(K_CONTAINER_STOPPED));
	expect_str(o, "container.network_driver", "bridge");
	expect_str(o, "unmapped.berth.ports.0.protocol", "tcp");
	expect_str(o, "type_name", "Base Event: container-stopped");
	json_decref(o);

	o = ocsf_of(make_record(K_EVENTS_LOST));
	expect_str(o, "unmapped.berth.lost.cause", "ringbuf-full");
	expect_str(o, "message", "events-lost ringbuf-full: 12 (total 30)");
	json_decref(o);
}

static void test_cef_kinds(void **state)
{
	char *text;

	(void)state;
	text = cef_of(make_record(K_CLOSED));
	assert_non_null(strstr(text, " in=100 out=1212 "));
	assert_non_null(strstr(text, " cn1=1500 cn1Label=durationMs cn2=42 cn2Label=rttUs cn3=1 "
				     "cn3Label=retransmits "));
	free(text);

	text = cef_of(make_record(K_XDP_STATS));
	assert_non_null(strstr(text, " dpt=8080 proto=TCP deviceDirection=0 in=2000 cs1=web"));
	assert_non_null(strstr(text, " cn1=4 cn1Label=synsIn cn2=20 cn2Label=packetsIn cn3=1 "
				     "cn3Label=synsDropped "));
	free(text);

	text = cef_of(make_record(K_EVENTS_LOST));
	assert_string_equal(text, "CEF:0|berth|berth|1.2.3|events-lost|Events lost|5|"
				  "rt=1796396851112 dvchost=node-1 cnt=12 reason=ringbuf-full "
				  "cn1=30 cn1Label=lostTotal msg=events-lost ringbuf-full: 12 "
				  "(total 30)");
	free(text);

	text = cef_of(make_record(K_SINK_LOST));
	assert_string_equal(text,
			    "CEF:0|berth|berth|1.2.3|events-lost|Events lost|5|"
			    "rt=1796396851112 dvchost=node-1 cnt=5 reason=sink-queue-full "
			    "cn1=7 cn1Label=lostTotal msg=events-lost sink-queue-full (output "
			    "siem): 5 (total 7)");
	free(text);

	text = cef_of(make_record(K_CONFIG_RELOAD_FAILED));
	assert_string_equal(
		text,
		"CEF:0|berth|berth|1.2.3|config-reload|Configuration reload failed|5|"
		"rt=1796396851112 dvchost=node-1 reason=/etc/berth/policy.yaml:4:9: unknown "
		"key \"prot\" filePath=/etc/berth/policy.yaml cn1=0 cn1Label=rules "
		"msg=config-reload failure: /etc/berth/policy.yaml:4:9: unknown key \"prot\"");
	free(text);

	text = cef_of(make_record(K_CONTAINER_STARTED));
	assert_non_null(strstr(text, " cs5=0.0.0.0:8080->80/tcp cs5Label=publishedPorts "));
	free(text);
}

/* ---- failures ---- */

static void test_refused_records(void **state)
{
	static const char *const bad[] = {
		"{\"event\":{\"action\":\"listen\"}}",
		"{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{\"kind\":\"event\"}}",
		"{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{\"action\":3}}",
		"[1,2]",
	};
	static const char *const bad_time[] = {
		"2026-12-04 15:07:31.112Z", "2026-12-04T15:07:31.112",	"1969-12-31T23:59:59Z",
		"2026-13-04T15:07:31Z",	    "2026-12-04T15:07:31.Z",	"2026-12-04T15:07:31Zjunk",
		"+026-12-04T15:07:31Z",	    "2026-12-04T15:07:31.11-Z", "2026-12-04T15:07:31+01",
	};
	struct buf out = { 0 };

	(void)state;
	buf_puts(&out, "kept");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *ecs = load(bad[i]);

		for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++) {
			assert_int_equal(format_record(f, doc_of(ecs), NULL, &out), -1);
			assert_string_equal(out.data, "kept");
		}
		assert_int_equal(format_syslog_header(&doc, NULL, &out), -1);
		json_decref(ecs);
	}
	for (size_t i = 0; i < sizeof(bad_time) / sizeof(bad_time[0]); i++) {
		json_t *ecs = make_record(K_LISTEN);

		json_object_set_new(ecs, "@timestamp", json_string(bad_time[i]));
		for (int f = FORMAT_OCSF; f <= FORMAT_CEF; f++) {
			if (format_record(f, doc_of(ecs), NULL, &out) != -1)
				fail_msg("%s accepted in %s", bad_time[i], format_name(f));
			assert_string_equal(out.data, "kept");
		}
		/* ECS passes the record on as it is */
		free(render(FORMAT_ECS, ecs, NULL));
		json_decref(ecs);
	}
	buf_free(&out);
}

static void test_format_names(void **state)
{
	(void)state;
	assert_int_equal(format_parse("ecs"), FORMAT_ECS);
	assert_int_equal(format_parse("ocsf"), FORMAT_OCSF);
	assert_int_equal(format_parse("rfc5424"), FORMAT_RFC5424);
	assert_int_equal(format_parse("cef"), FORMAT_CEF);
	assert_int_equal(format_parse("CEF"), -1);
	assert_int_equal(format_parse(""), -1);
	assert_int_equal(format_parse(NULL), -1);
	for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++)
		assert_int_equal(format_parse(format_name(f)), f);
	assert_string_equal(format_name(42), "unknown");
}

/* ---- transforms ---- */

static const struct pseudonym_key key_a = { .bytes = "0123456789abcdef", .len = 16 };
static const struct pseudonym_key key_b = { .bytes = "fedcba9876543210", .len = 16 };

static char *pseudonym_of(const char *ip, const struct pseudonym_key *key)
{
	json_t *ecs = make_record(K_ACCEPTED), *back;
	char *address;

	json_object_set_new(json_object_get(ecs, "source"), "ip", json_string(ip));
	record_pseudonymize(doc_of(ecs), key);
	back = ecs_back(&doc);
	expect_absent(back, "source.ip");
	expect_int(back, "source.port", 56780);
	address = strdup(json_string_value(at(back, "source.address")));
	json_decref(back);
	json_decref(ecs);
	return address;
}

static void test_pseudonyms(void **state)
{
	static const uint8_t mapped[16] = { 0, 0, 0,	0,    0,   0,  0,   0,
					    0, 0, 0xff, 0xff, 198, 51, 100, 2 };
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len;
	char want[32];
	char *v4 = pseudonym_of("198.51.100.2", &key_a);
	char *v4_mapped = pseudonym_of("::ffff:198.51.100.2", &key_a);
	char *v4_again = pseudonym_of("198.51.100.2", &key_a);
	char *other_key = pseudonym_of("198.51.100.2", &key_b);
	char *other_host = pseudonym_of("198.51.100.3", &key_a);
	char *v6 = pseudonym_of("2001:db8::1", &key_a);
	char *v6_long = pseudonym_of("2001:0db8:0000:0000:0000:0000:0000:0001", &key_a);
	char *not_ip = pseudonym_of("not an address", &key_a);

	(void)state;
	/* anon- and the first 8 bytes of HMAC-SHA256(key, the v4-mapped address) */
	assert_non_null(HMAC(EVP_sha256(), key_a.bytes, 16, mapped, 16, mac, &mac_len));
	snprintf(want, sizeof(want), "anon-%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]);
	assert_string_equal(v4, want);
	assert_string_equal(v4_mapped, v4);
	assert_string_equal(v4_again, v4);
	assert_string_not_equal(other_key, v4);
	assert_string_not_equal(other_host, v4);
	assert_string_equal(v6, v6_long);
	assert_string_not_equal(v6, v4);
	assert_int_equal(strncmp(not_ip, "anon-", 5), 0);
	assert_int_equal(strlen(not_ip), 21);
	free(v4);
	free(v4_mapped);
	free(v4_again);
	free(other_key);
	free(other_host);
	free(v6);
	free(v6_long);
	free(not_ip);
}

static void test_pseudonymized_record_in_every_format(void **state)
{
	json_t *ecs = make_alert("brute-force", 63, true, false), *o, *back;
	struct json_doc copy = { 0 };
	const char *key;
	json_t *v;
	char *text;

	(void)state;
	/* on a copy, as an output does: the record itself stays as it was */
	assert_int_equal(json_doc_copy(&copy, doc_of(ecs)), 0);
	record_pseudonymize(&copy, &key_a);
	back = ecs_back(&doc);
	assert_true(json_equal(back, ecs));
	json_decref(back);
	back = ecs_back(&copy);
	expect_absent(back, "source.ip");
	/* address first, where ip was; source keeps its place in the record */
	json_object_foreach(at(back, "source"), key, v) {
		assert_string_equal(key, "address");
		break;
	}
	json_object_foreach(back, key, v)
		if (!strcmp(key, "source") || !strcmp(key, "destination"))
			break;
	assert_string_equal(key, "source");
	json_decref(back);
	for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++) {
		text = render_doc(f, &copy, NULL);
		assert_null(strstr(text, "198.51.100.9"));
		assert_non_null(strstr(text, "anon-"));
		free(text);
	}
	text = render_doc(FORMAT_CEF, &copy, NULL);
	assert_non_null(strstr(text, " shost=anon-"));
	assert_null(strstr(text, " src="));
	free(text);
	text = render_doc(FORMAT_OCSF, &copy, NULL);
	o = load(text);
	assert_int_equal(
		strncmp(json_string_value(at(o, "evidences.0.src_endpoint.uid")), "anon-", 5), 0);
	json_decref(o);
	free(text);
	json_doc_free(&copy);
	json_decref(ecs);

	/* records without a source are left alone */
	ecs = make_record(K_EVENTS_LOST);
	record_pseudonymize(doc_of(ecs), &key_a);
	o = ecs_back(&doc);
	assert_true(json_equal(ecs, o));
	json_decref(o);
	json_decref(ecs);

	/* without a key the address still goes */
	ecs = make_record(K_ACCEPTED);
	record_pseudonymize(doc_of(ecs), NULL);
	o = ecs_back(&doc);
	expect_absent(o, "source.ip");
	expect_absent(o, "source.address");
	expect_int(o, "source.port", 56780);
	json_decref(o);
	json_decref(ecs);

	/* a source twice (not berth's, but possible in a record): neither keeps its address */
	read_text("{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{\"action\":\"x\"},"
		  "\"source\":{\"ip\":\"198.51.100.9\",\"ip\":\"198.51.100.8\"},"
		  "\"source\":{\"port\":1,\"address\":\"a\",\"ip\":\"198.51.100.7\"}}");
	record_pseudonymize(&doc, &key_a);
	for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++) {
		text = render_doc(f, &doc, NULL);
		assert_null(strstr(text, "198.51.100."));
		free(text);
	}
}

static void test_drop_fields(void **state)
{
	char *paths[] = { "container.labels",
			  "source.port",
			  "no.such.path",
			  "berth.cgroup_path",
			  "event.kind.deeper",
			  "host",
			  "",
			  "berth.port.",
			  "container.image.tag" };
	json_t *ecs = make_record(K_PORT_STATS), *before;
	char *drop_image[] = { "container.image.name" };

	(void)state;
	json_object_set_new(ecs, "source", json_pack("{s:s,s:i}", "ip", "198.51.100.2", "port", 1));
	before = json_deep_copy(ecs);
	json_decref(ecs);
	record_drop_fields(doc_of(before), paths, sizeof(paths) / sizeof(paths[0]));
	ecs = ecs_back(&doc);
	expect_absent(ecs, "container.labels");
	expect_absent(ecs, "source.port");
	expect_str(ecs, "source.ip", "198.51.100.2");
	expect_absent(ecs, "berth.cgroup_path");
	expect_str(ecs, "event.kind", "metric");
	expect_absent(ecs, "host");
	expect_int(ecs, "berth.port.host_port", 8080);
	expect_str(ecs, "container.name", "web");
	expect_absent(ecs, "container.image.tag");
	/* everything else is as it was */
	json_object_del(before, "host");
	json_object_del(json_object_get(before, "container"), "labels");
	json_object_del(json_object_get(before, "source"), "port");
	json_object_del(json_object_get(before, "berth"), "cgroup_path");
	json_object_del(at(before, "container.image"), "tag");
	assert_true(json_equal(ecs, before));

	/* an emptied parent stays */
	json_decref(ecs);
	record_drop_fields(&doc, drop_image, 1);
	ecs = ecs_back(&doc);
	assert_true(json_is_object(at(ecs, "container.image")));
	assert_int_equal(json_object_size(at(ecs, "container.image")), 0);
	/* and the record is still written in every format, even without berth's own object */
	for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++)
		free(render_doc(f, &doc, NULL));
	record_drop_fields(&doc, (char *[]){ "berth" }, 1);
	for (int f = FORMAT_ECS; f <= FORMAT_CEF; f++)
		free(render_doc(f, &doc, NULL));
	json_decref(before);
	json_decref(ecs);
}

static int teardown(void **state)
{
	(void)state;
	json_line_free(&line);
	json_doc_free(&doc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_every_format),
		cmocka_unit_test(test_exact_connection_accepted),
		cmocka_unit_test(test_exact_alert_cef),
		cmocka_unit_test(test_hostile_cef),
		cmocka_unit_test(test_hostile_rfc5424),
		cmocka_unit_test(test_hostile_through_json_c),
		cmocka_unit_test(test_hostile_ocsf),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_empty_header_fields),
		cmocka_unit_test(test_syslog_priority),
		cmocka_unit_test(test_ocsf_network_mapping),
		cmocka_unit_test(test_ocsf_finding_and_base),
		cmocka_unit_test(test_cef_kinds),
		cmocka_unit_test(test_refused_records),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_pseudonyms),
		cmocka_unit_test(test_pseudonymized_record_in_every_format),
		cmocka_unit_test(test_drop_fields),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
