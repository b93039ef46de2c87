// SPDX-License-Identifier: GPL-2.0-only
/*
 * metrics.c: the exposition of synthetic views (exact text for a small
 * case, hostile label values, merged series, sinks, program run time), the
 * --metrics-listen address parser, and the HTTP server over real loopback
 * connections driven by an epoll loop the way berth watch drives it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "clock.h"
#include "inventory.h"
#include "metrics.h"
#include "output.h"
#include "pki.h"
#include "stats.h"
#include "tmpdir.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- a synthetic watch: one container publishing 0.0.0.0:8080->80/tcp ---- */

static struct container web;
static struct port_binding web_80 = { "0.0.0.0", 8080, 80, IPPROTO_TCP };
static struct stats stats;

/* Socket view: cgroup 42 is web's; every other cgroup is no container. */
static bool port_owner(void *ctx, const struct berth_port_key *key, const struct container **c,
		       const struct port_binding **b)
{
	(void)ctx;
	if (key->cgroup_id != 42 && key->cgroup_id != 43)
		return false;
	*c = &web;
	*b = key->port == 80 ? &web_80 : NULL;
	return *b != NULL;
}

static bool host_port_owner(void *ctx, uint16_t port, uint8_t protocol, const struct container **c,
			    const struct port_binding **b)
{
	(void)ctx;
	if (port != 8080 || protocol != IPPROTO_TCP)
		return false;
	*c = &web;
	*b = &web_80;
	return true;
}

static const char *interface_name(void *ctx, uint32_t ifindex)
{
	(void)ctx;
	return ifindex == 3 ? "eth0" : NULL;
}

static void add_port(uint64_t cgroup_id, uint16_t port, uint8_t role,
		     struct berth_port_counters counters)
{
	struct berth_port_key key = {
		.cgroup_id = cgroup_id, .port = port, .protocol = IPPROTO_TCP, .role = role
	};
	struct port_entry *e = hashmap_upsert(&stats.ports, &key, NULL);

	assert_non_null(e);
	e->total = counters;
}

static void add_xdp(uint32_t ifindex, uint16_t port, struct berth_xdp_counters counters)
{
	struct berth_xdp_port_key key = { .ifindex = ifindex,
					  .port = port,
					  .protocol = IPPROTO_TCP };
	struct xdp_entry *e = hashmap_upsert(&stats.xdp, &key, NULL);

	assert_non_null(e);
	e->total = counters;
}

static int setup_watch(void **state)
{
	(void)state;
	memset(&web, 0, sizeof(web));
	snprintf(web.id, sizeof(web.id), "%s", CID);
	snprintf(web.name, sizeof(web.name), "web");
	snprintf(web.image, sizeof(web.image), "nginx:1.27");
	web.runtime = "docker";
	if (stats_init(&stats, 1))
		return -1;
	add_port(42, 80, BERTH_ROLE_LOCAL, (struct berth_port_counters){ 5, 4, 100, 200, 7, 8 });
	/* web as a client of port 443 elsewhere, and a host process: not published ports. */
	add_port(42, 443, BERTH_ROLE_REMOTE, (struct berth_port_counters){ 1, 1, 1, 1, 1, 1 });
	add_port(7, 80, BERTH_ROLE_LOCAL, (struct berth_port_counters){ 9, 9, 9, 9, 9, 9 });
	add_xdp(3, 8080, (struct berth_xdp_counters){ 10, 1000, 5, 1 });
	add_xdp(3, BERTH_UNPUBLISHED_PORT, (struct berth_xdp_counters){ 99, 99, 99, 0 });
	stats.health[BERTH_CNT_RINGBUF_DROPS] = 2;
	/* Not a loss: counted for evictions only. */
	stats.health[BERTH_CNT_XDP_SOURCE_INSERTS] = 1000;
	return 0;
}

static int teardown_watch(void **state)
{
	(void)state;
	stats_free(&stats);
	return 0;
}

static struct metrics_alerts alerts;

static void small_view(struct metrics_view *v)
{
	memset(v, 0, sizeof(*v));
	v->version = "1.2.3";
	v->start_time_s = 1700000000.25;
	v->stats = &stats;
	v->port_owner = port_owner;
	v->host_port_owner = host_port_owner;
	v->interface_name = interface_name;
	v->alerts = &alerts;
	v->evictions[v->n_evictions++] =
		(struct metrics_eviction){ "xdp_sources", "xdp-source-evicted", 3 };
	v->has_ringbuf = true;
	v->ringbuf_used_bytes = 64;
	v->ringbuf_size_bytes = 4096;
	v->maps[v->n_maps++] = (struct metrics_map_fill){ "port_traffic", 1, 16384 };
}

static char *render(const struct metrics_view *v)
{
	struct buf b = { 0 };

	assert_int_equal(metrics_render(v, &b), 0);
	return b.data;
}

#define LABELS                                                                                 \
	"container=\"web\",container_id=\"" CID "\",image=\"nginx:1.27\",host_ip=\"0.0.0.0\"," \
	"host_port=\"8080\",container_port=\"80\",protocol=\"tcp\""

static const char small_exposition[] =
	"# HELP berth_build_info berth's version; the value is always 1.\n"
	"# TYPE berth_build_info gauge\n"
	"berth_build_info{version=\"1.2.3\"} 1\n"
	"# HELP process_start_time_seconds Start time of the berth process since the Unix "
	"epoch.\n"
	"# TYPE process_start_time_seconds gauge\n"
	"process_start_time_seconds 1700000000.250\n"
	"# HELP berth_port_connections_opened_total TCP connections a container accepted on a "
	"published port (socket view).\n"
	"# TYPE berth_port_connections_opened_total counter\n"
	"berth_port_connections_opened_total{" LABELS "} 5\n"
	"# HELP berth_port_connections_closed_total TCP connections on a published port that "
	"closed (socket view).\n"
	"# TYPE berth_port_connections_closed_total counter\n"
	"berth_port_connections_closed_total{" LABELS "} 4\n"
	"# HELP berth_port_bytes_total L4 payload bytes a container received (in) and sent (out) "
	"on a published port (socket view).\n"
	"# TYPE berth_port_bytes_total counter\n"
	"berth_port_bytes_total{" LABELS ",direction=\"in\"} 100\n"
	"berth_port_bytes_total{" LABELS ",direction=\"out\"} 200\n"
	"# HELP berth_port_packets_total Segments a container received (in) and sent (out) on a "
	"published port (socket view).\n"
	"# TYPE berth_port_packets_total counter\n"
	"berth_port_packets_total{" LABELS ",direction=\"in\"} 7\n"
	"berth_port_packets_total{" LABELS ",direction=\"out\"} 8\n"
	"# HELP berth_interface_packets_total Packets to a published host port seen by XDP on a "
	"host interface (interface view).\n"
	"# TYPE berth_interface_packets_total counter\n"
	"berth_interface_packets_total{interface=\"eth0\"," LABELS "} 10\n"
	"# HELP berth_interface_bytes_total Frame bytes (from the Ethernet header on) to a "
	"published host port seen by XDP (interface view).\n"
	"# TYPE berth_interface_bytes_total counter\n"
	"berth_interface_bytes_total{interface=\"eth0\"," LABELS "} 1000\n"
	"# HELP berth_interface_syns_total TCP SYNs (connection attempts) to a published host "
	"port seen by XDP (interface view).\n"
	"# TYPE berth_interface_syns_total counter\n"
	"berth_interface_syns_total{interface=\"eth0\"," LABELS "} 5\n"
	"# HELP berth_interface_syns_dropped_total SYNs to a published host port that XDP "
	"dropped for an enforcing rule (interface view).\n"
	"# TYPE berth_interface_syns_dropped_total counter\n"
	"berth_interface_syns_dropped_total{interface=\"eth0\"," LABELS "} 1\n"
	"# HELP berth_alerts_total Alerts berth raised, by policy rule (or detector) and "
	"action.\n"
	"# TYPE berth_alerts_total counter\n"
	"berth_alerts_total{rule=\"office-only\",action=\"unauthorized-source\"} 1\n"
	"berth_alerts_total{rule=\"ssh\",action=\"brute-force\"} 2\n"
	"# HELP berth_events_lost_total Events and counts berth lost, by cause (each is also an "
	"events-lost record).\n"
	"# TYPE berth_events_lost_total counter\n"
	"berth_events_lost_total{cause=\"bind-map-full\"} 0\n"
	"berth_events_lost_total{cause=\"connection-storage-failed\"} 0\n"
	"berth_events_lost_total{cause=\"detector-state-evicted\"} 0\n"
	"berth_events_lost_total{cause=\"port-map-full\"} 0\n"
	"berth_events_lost_total{cause=\"ringbuf-full\"} 2\n"
	"berth_events_lost_total{cause=\"xdp-port-map-full\"} 0\n"
	"berth_events_lost_total{cause=\"xdp-source-evicted\"} 3\n"
	"# HELP berth_bpf_map_evictions_total Entries an LRU map of berth's evicted to make room "
	"(inserts minus live entries).\n"
	"# TYPE berth_bpf_map_evictions_total counter\n"
	"berth_bpf_map_evictions_total{map=\"xdp_sources\"} 3\n"
	"# HELP berth_ringbuf_used_bytes Bytes in the kernel-to-user ring buffer not consumed "
	"yet (producer minus consumer position).\n"
	"# TYPE berth_ringbuf_used_bytes gauge\n"
	"berth_ringbuf_used_bytes 64\n"
	"# HELP berth_ringbuf_size_bytes Size of the ring buffer.\n"
	"# TYPE berth_ringbuf_size_bytes gauge\n"
	"berth_ringbuf_size_bytes 4096\n"
	"# HELP berth_bpf_map_entries Entries in a kernel map of berth's (counted at most every "
	"10 s).\n"
	"# TYPE berth_bpf_map_entries gauge\n"
	"berth_bpf_map_entries{map=\"port_traffic\"} 1\n"
	"# HELP berth_bpf_map_max_entries Capacity of a kernel map of berth's.\n"
	"# TYPE berth_bpf_map_max_entries gauge\n"
	"berth_bpf_map_max_entries{map=\"port_traffic\"} 16384\n"
	"# HELP berth_bpf_stats_enabled 1 when the kernel measures BPF program run time (sysctl "
	"kernel.bpf_stats_enabled).\n"
	"# TYPE berth_bpf_stats_enabled gauge\n"
	"berth_bpf_stats_enabled 0\n";

/* The whole text of a small case, byte for byte. */
static void test_render_exact(void **state)
{
	struct metrics_view v;
	char *text;

	(void)state;
	metrics_alerts_add(&alerts, "ssh", "brute-force");
	metrics_alerts_add(&alerts, "office-only", "unauthorized-source");
	metrics_alerts_add(&alerts, "ssh", "brute-force");
	small_view(&v);
	text = render(&v);
	assert_string_equal(text, small_exposition);
	free(text);
	metrics_alerts_free(&alerts);
}

/* Nothing but what every scrape has: build info, start time, losses, bpf_stats. */
static void test_render_empty(void **state)
{
	struct metrics_view v = { .version = "1.2.3" };
	char *text;

	(void)state;
	text = render(&v);
	assert_non_null(strstr(text, "berth_build_info{version=\"1.2.3\"} 1\n"));
	assert_null(strstr(text, "berth_port_"));
	assert_null(strstr(text, "berth_interface_"));
	assert_null(strstr(text, "berth_alerts_total"));
	assert_null(strstr(text, "berth_ringbuf"));
	assert_null(strstr(text, "berth_sink_"));
	/* User-side causes are known without stats: zero, not absent. */
	assert_non_null(
		strstr(text, "berth_events_lost_total{cause=\"detector-state-evicted\"} 0\n"));
	free(text);
}

/* True when every byte sequence of text is valid UTF-8. */
static bool valid_utf8(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		int n = *p < 0x80	    ? 1 :
			(*p & 0xe0) == 0xc0 ? 2 :
			(*p & 0xf0) == 0xe0 ? 3 :
			(*p & 0xf8) == 0xf0 ? 4 :
					      0;

		if (!n || (n == 2 && *p < 0xc2))
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		if (n == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f)))
			return false;
		if (n == 4 &&
		    ((*p == 0xf0 && p[1] < 0x90) || *p > 0xf4 || (*p == 0xf4 && p[1] > 0x8f)))
			return false;
		p += n;
	}
	return true;
}

/* promtool, when installed, reads text as Prometheus would: 0 when it parses and lints clean. */
static int promtool_check(const char *text)
{
	FILE *p;

	if (access("/usr/bin/promtool", X_OK))
		return -2;
	p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
	if (!p)
		return -1;
	fputs(text, p);
	return pclose(p);
}

/*
 * Hostile container and image names: quotes, backslashes, newlines, bytes
 * that are not UTF-8 (invalid, overlong, surrogate, cut short), and valid
 * multi-byte characters, which pass unchanged.
 */
static void test_render_hostile_labels(void **state)
{
	struct metrics_view v;
	char *text;
	int rc;

	(void)state;
	snprintf(web.name, sizeof(web.name), "we\"b\\x\nnew} 1\n%s",
		 "caf\xc3\xa9-\xf0\x9f\x90\xb3");
	snprintf(web.image, sizeof(web.image), "bad\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
	metrics_alerts_add(&alerts, "rule \"x\"\n\\", "brute-force");
	small_view(&v);
	text = render(&v);
	assert_non_null(strstr(text,
			       "berth_port_connections_opened_total{container=\"we\\\"b\\\\x"
			       "\\nnew} 1\\ncaf\xc3\xa9-\xf0\x9f\x90\xb3\",container_id=\"" CID
			       "\",image=\"bad\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
			       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\","
			       "host_ip=\"0.0.0.0\""));
	assert_non_null(strstr(
		text,
		"berth_alerts_total{rule=\"rule \\\"x\\\"\\n\\\\\",action=\"brute-force\"} 1\n"));
	assert_true(valid_utf8(text));
	/* Every line is a comment or one sample: no raw newline escaped a label. */
	for (char *line = text, *eol; *line; line = eol + 1) {
		eol = strchr(line, '\n');
		assert_non_null(eol);
		if (line[0] != '#')
			assert_non_null(memchr(line, ' ', eol - line));
	}
	rc = promtool_check(text);
	if (rc != -2)
		assert_int_equal(rc, 0);
	free(text);
	metrics_alerts_free(&alerts);
	snprintf(web.name, sizeof(web.name), "web");
	snprintf(web.image, sizeof(web.image), "nginx:1.27");
}

static int count_lines(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, prefix)); p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

/*
 * Two cgroups of one container on one binding (a restart in place, or a
 * runtime's helper cgroup) are one series, summed; so are alert pairs past
 * the bound, under rule="other".
 */
static void test_render_merges_series(void **state)
{
	struct metrics_view v;
	char name[32];
	char *text;

	(void)state;
	add_port(43, 80, BERTH_ROLE_LOCAL, (struct berth_port_counters){ 1, 1, 10, 20, 1, 2 });
	for (int i = 0; i < METRICS_ALERT_PAIRS_MAX + 5; i++) {
		snprintf(name, sizeof(name), "rule-%03d", i);
		metrics_alerts_add(&alerts, name, "rate-limit");
	}
	metrics_alerts_add(&alerts, "rule-000", "rate-limit");
	small_view(&v);
	text = render(&v);
	assert_int_equal(count_lines(text, "berth_port_connections_opened_total{"), 1);
	assert_non_null(strstr(text, "berth_port_connections_opened_total{" LABELS "} 6\n"));
	assert_non_null(strstr(text, "berth_port_bytes_total{" LABELS ",direction=\"out\"} 220\n"));
	assert_int_equal(count_lines(text, "berth_alerts_total{"), METRICS_ALERT_PAIRS_MAX + 1);
	assert_non_null(
		strstr(text, "berth_alerts_total{rule=\"rule-000\",action=\"rate-limit\"} 2\n"));
	assert_non_null(strstr(text, "berth_alerts_total{rule=\"other\",action=\"other\"} 5\n"));
	free(text);
	metrics_alerts_free(&alerts);
	struct berth_port_key key = {
		.cgroup_id = 43, .port = 80, .protocol = IPPROTO_TCP, .role = BERTH_ROLE_LOCAL
	};
	hashmap_remove(&stats.ports, &key);
}

/* Sinks: delivered, losses by every cause, queues; spools of HTTP sinks, reachability of network ones. */
static void test_render_sinks(void **state)
{
	struct sink sinks[2];
	struct outputs outputs = { .sinks = sinks, .n_sinks = 2 };
	struct metrics_view v = { .version = "1", .outputs = &outputs };
	char *text;

	(void)state;
	memset(sinks, 0, sizeof(sinks));
	sinks[0].cfg.name = "-";
	sinks[0].cfg.type = SINK_STDOUT;
	sinks[0].stats.delivered = 10;
	sinks[0].stats.queued_events = 2;
	sinks[0].stats.queued_bytes = 300;
	sinks[1].cfg.name = "https://siem.example:9200/_bulk";
	sinks[1].cfg.type = SINK_HTTP;
	sinks[1].stats.lost[LOSS_QUEUE_FULL] = 3;
	sinks[1].stats.lost[LOSS_SPOOL_FULL] = 4;
	sinks[1].stats.spooled_events = 7;
	sinks[1].stats.spooled_bytes = 7000;
	sinks[1].stats.connected = true;
	text = render(&v);
	assert_non_null(strstr(
		text,
		"# TYPE berth_sink_events_delivered_total counter\n"
		"berth_sink_events_delivered_total{sink=\"-\"} 10\n"
		"berth_sink_events_delivered_total{sink=\"https://siem.example:9200/_bulk\"} 0\n"));
	assert_int_equal(count_lines(text, "berth_sink_events_lost_total{"), 2 * LOSS__MAX);
	assert_non_null(
		strstr(text, "berth_sink_events_lost_total{sink=\"-\",cause=\"queue-full\"} 0\n"));
	assert_non_null(strstr(text,
			       "berth_sink_events_lost_total{sink=\"https://siem.example:9200/"
			       "_bulk\",cause=\"queue-full\"} 3\n"));
	assert_non_null(strstr(text,
			       "berth_sink_events_lost_total{sink=\"https://siem.example:9200/"
			       "_bulk\",cause=\"spool-full\"} 4\n"));
	assert_non_null(strstr(text, "berth_sink_queue_events{sink=\"-\"} 2\n"));
	assert_non_null(strstr(text, "berth_sink_queue_bytes{sink=\"-\"} 300\n"));
	assert_int_equal(count_lines(text, "berth_sink_spool_events{"), 1);
	assert_non_null(strstr(
		text, "berth_sink_spool_bytes{sink=\"https://siem.example:9200/_bulk\"} 7000\n"));
	assert_int_equal(count_lines(text, "berth_sink_connected{"), 1);
	assert_non_null(
		strstr(text, "berth_sink_connected{sink=\"https://siem.example:9200/_bulk\"} 1\n"));
	free(text);
}

/* Program run time in seconds with nanosecond digits, runs as integers, only with bpf_stats. */
static void test_render_programs(void **state)
{
	struct metrics_view v = { .version = "1" };
	char *text;

	(void)state;
	v.programs[v.n_programs++] = (struct metrics_program){ "handle_sockops", 1500000000, 42 };
	v.programs[v.n_programs++] = (struct metrics_program){ "count_xdp", 7, 1 };
	text = render(&v);
	assert_non_null(strstr(text, "berth_bpf_stats_enabled 0\n"));
	assert_null(strstr(text, "berth_bpf_program_"));
	free(text);

	v.bpf_stats_enabled = true;
	text = render(&v);
	assert_non_null(strstr(text, "berth_bpf_stats_enabled 1\n"));
	assert_non_null(strstr(
		text,
		"# TYPE berth_bpf_program_run_seconds_total counter\n"
		"berth_bpf_program_run_seconds_total{program=\"count_xdp\"} 0.000000007\n"
		"berth_bpf_program_run_seconds_total{program=\"handle_sockops\"} 1.500000000\n"));
	assert_non_null(
		strstr(text, "berth_bpf_program_runs_total{program=\"handle_sockops\"} 42\n"));
	free(text);
}

/* ---- --metrics-listen ---- */

static void expect_address(const char *text, int family, const char *host, uint16_t port)
{
	struct sockaddr_storage addr;
	socklen_t len;
	char err[256] = "", got[INET6_ADDRSTRLEN];

	if (metrics_parse_address(text, &addr, &len, err, sizeof(err)))
		fail_msg("%s: %s", text, err);
	assert_int_equal(addr.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		assert_int_equal(len, sizeof(*in));
		assert_int_equal(ntohs(in->sin_port), port);
		inet_ntop(AF_INET, &in->sin_addr, got, sizeof(got));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

		assert_int_equal(len, sizeof(*in6));
		assert_int_equal(ntohs(in6->sin6_port), port);
		inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof(got));
	}
	assert_string_equal(got, host);
}

static void expect_address_error(const char *text, const char *want)
{
	struct sockaddr_storage addr;
	socklen_t len;
	char err[256] = "";

	assert_int_equal(metrics_parse_address(text, &addr, &len, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("%s: error \"%s\" lacks \"%s\"", text, err, want);
	assert_non_null(strstr(err, "--metrics-listen"));
}

static void test_parse_address(void **state)
{
	(void)state;
	expect_address("127.0.0.1:9464", AF_INET, "127.0.0.1", 9464);
	expect_address("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
	expect_address("[::1]:9464", AF_INET6, "::1", 9464);
	expect_address("[::]:65535", AF_INET6, "::", 65535);
	expect_address("[2001:db8::7]:0", AF_INET6, "2001:db8::7", 0);

	expect_address_error("9464", "expected ADDRESS:PORT, e.g. 127.0.0.1:9464 or [::1]:9464");
	expect_address_error(":9464", "expected ADDRESS:PORT");
	expect_address_error("localhost:9464", "'localhost' is not an IPv4 address");
	expect_address_error("127.0.0.256:9464", "'127.0.0.256' is not an IPv4 address");
	expect_address_error("::1:9464", "an IPv6 address goes in brackets, e.g. [::1]:9464");
	expect_address_error("[::1]9464", "expected ADDRESS:PORT");
	expect_address_error("[::1:9464", "expected ADDRESS:PORT");
	expect_address_error("[::g]:9464", "'::g' is not an IPv6 address");
	expect_address_error("127.0.0.1:", "'' is not a port (0 to 65535)");
	expect_address_error("127.0.0.1:65536", "'65536' is not a port");
	expect_address_error("127.0.0.1:-1", "'-1' is not a port");
	expect_address_error("127.0.0.1:80x", "'80x' is not a port");
	expect_address_error("127.0.0.1: 80", "' 80' is not a port");
}

/* ---- the HTTP server, over loopback, on an epoll loop of its own ---- */

struct server {
	int epoll_fd;
	struct metrics *m;
	unsigned int fills;
	bool big; /* fill makes a body of megabytes */
};

static struct server srv;

static void fill(void *ctx, struct metrics_view *v)
{
	struct server *s = ctx;

	s->fills++;
	v->stats = &stats;
	v->port_owner = port_owner;
	v->host_port_owner = host_port_owner;
	v->interface_name = interface_name;
}

static int setup_server(void **state)
{
	struct metrics_source src = { .fill = fill, .ctx = &srv, .ringbuf_fd = -1 };
	char err[256];

	if (setup_watch(state))
		return -1;
	memset(&srv, 0, sizeof(srv));
	srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv.m = metrics_open("127.0.0.1:0", srv.epoll_fd, &src, err, sizeof(err));
	if (!srv.m) {
		fprintf(stderr, "metrics_open: %s\n", err);
		return -1;
	}
	return metrics_port(srv.m) ? 0 : -1;
}

static int teardown_server(void **state)
{
	metrics_close(srv.m);
	close(srv.epoll_fd);
	return teardown_watch(state);
}

/* Runs the server's side of the loop for ms milliseconds. */
static void pump(int ms)
{
	int64_t end = monotonic_ms() + ms;

	do {
		struct epoll_event events[8];
		int n = epoll_wait(srv.epoll_fd, events, 8, 5);

		for (int i = 0; i < n; i++)
			assert_true(metrics_handle_fd(srv.m, events[i].data.fd, events[i].events));
		metrics_tick(srv.m, monotonic_ms());
	} while (monotonic_ms() < end);
}

static int connect_client(int rcvbuf)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(metrics_port(srv.m)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			pump(5);
			continue;
		}
		assert_true(n > 0);
		data += n;
		len -= n;
	}
}

/*
 * Reads until the server closes (pumping it meanwhile), 3 s at most.
 * Returns what came, NUL-terminated; *len its length.
 */
static char *read_to_eof(int fd, size_t *len)
{
	struct buf got = { 0 };
	int64_t deadline = monotonic_ms() + 3000;
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			assert_true(buf_append(&got, chunk, n));
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		assert_int_equal(errno, EAGAIN);
		if (monotonic_ms() > deadline)
			fail_msg("no end of response after 3 s; got %zu bytes", got.len);
		pump(2);
	}
	close(fd);
	*len = got.len;
	if (!got.data)
		buf_puts(&got, "");
	return got.data;
}

/* One request sent in the given pieces, the server pumped between them. */
static char *exchange(size_t *len, const char *first, ...)
{
	int fd = connect_client(0);
	va_list ap;

	va_start(ap, first);
	for (const char *piece = first; piece; piece = va_arg(ap, const char *)) {
		send_all(fd, piece, strlen(piece));
		pump(20);
	}
	va_end(ap);
	return read_to_eof(fd, len);
}

static const char *body_of(const char *response)
{
	const char *end = strstr(response, "\r\n\r\n");

	assert_non_null(end);
	return end + 4;
}

static void expect_status(const char *response, const char *status_line)
{
	if (strncmp(response, status_line, strlen(status_line)))
		fail_msg("response starts \"%.40s\", want \"%s\"", response, status_line);
	assert_non_null(strstr(response, "\r\nConnection: close\r\n"));
}

/* A request cut in three reads, headers and all, is answered once, whole. */
static void test_http_get_split(void **state)
{
	char want_length[64];
	size_t len;
	char *r;

	(void)state;
	r = exchange(&len, "GE", "T /metr", "ics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n",
		     "\r\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	assert_non_null(
		strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	snprintf(want_length, sizeof(want_length), "\r\nContent-Length: %zu\r\n",
		 strlen(body_of(r)));
	assert_non_null(strstr(r, want_length));
	assert_int_equal(strncmp(body_of(r), "# HELP berth_build_info ", 24), 0);
	assert_non_null(strstr(r, "\nberth_port_connections_opened_total{" LABELS "} 5\n"));
	assert_int_equal(srv.fills, 1);
	free(r);
}

/* HEAD: the headers of GET, no body; a query string is ignored. */
static void test_http_head_and_query(void **state)
{
	size_t len;
	char *r;

	(void)state;
	r = exchange(&len, "HEAD /metrics HTTP/1.0\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	assert_string_equal(body_of(r), "");
	assert_null(strstr(r, "Content-Length: 0\r\n"));
	free(r);
	r = exchange(&len, "GET /metrics?name[]=x HTTP/1.1\n\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	assert_non_null(strstr(body_of(r), "berth_build_info"));
	free(r);
}

/* Errors are answered without rendering anything. */
static void test_http_errors(void **state)
{
	unsigned int fills = srv.fills;
	size_t len;
	char *r;

	(void)state;
	r = exchange(&len, "GET / HTTP/1.1\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 404 Not Found\r\n");
	free(r);
	r = exchange(&len, "GET /metricsx HTTP/1.1\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 404 Not Found\r\n");
	free(r);
	r = exchange(&len, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", NULL);
	expect_status(r, "HTTP/1.1 405 Method Not Allowed\r\n");
	assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	r = exchange(&len, "GET /metrics\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 400 Bad Request\r\n");
	free(r);
	r = exchange(&len, "GET /metrics HTTP/2.0\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 400 Bad Request\r\n");
	free(r);
	r = exchange(&len, "GET  /metrics HTTP/1.1\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n"); /* runs of spaces are one separator */
	free(r);
	r = exchange(&len, "GET http://x/metrics HTTP/1.1\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 400 Bad Request\r\n");
	free(r);
	assert_int_equal(srv.fills, fills + 1);
}

/* Headers past 8 KiB: 431, whether or not the client keeps sending. */
static void test_http_oversize(void **state)
{
	char *big = malloc(METRICS_REQUEST_MAX + 2000);
	size_t len;
	char *r;

	(void)state;
	assert_non_null(big);
	strcpy(big, "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(big + strlen(big), 'a', METRICS_REQUEST_MAX + 1000);
	big[METRICS_REQUEST_MAX + 1000] = '\0';
	r = exchange(&len, big, NULL);
	expect_status(r, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
	free(r);
	/* Exactly at the bound with the blank line last: still served. */
	memset(big, 'a', METRICS_REQUEST_MAX);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Pad: ", 30);
	memcpy(big + METRICS_REQUEST_MAX - 4, "\r\n\r\n", 5);
	r = exchange(&len, big, NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
	free(big);
}

/* A client that sends nothing is closed at its deadline by the tick. */
static void test_http_idle_deadline(void **state)
{
	int fd = connect_client(0);
	char c;

	(void)state;
	pump(20);
	assert_int_equal(read(fd, &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
	metrics_tick(srv.m, monotonic_ms() + METRICS_CLIENT_TIMEOUT_MS - 500);
	assert_int_equal(read(fd, &c, 1), -1);
	metrics_tick(srv.m, monotonic_ms() + METRICS_CLIENT_TIMEOUT_MS + 1);
	assert_int_equal(read(fd, &c, 1), 0);
	close(fd);
}

/* Past METRICS_CLIENTS_MAX connections the extra ones are closed; the others are served. */
static void test_http_client_limit(void **state)
{
	int fds[METRICS_CLIENTS_MAX], extra;
	size_t len;
	char c, *r;

	(void)state;
	for (int i = 0; i < METRICS_CLIENTS_MAX; i++)
		fds[i] = connect_client(0);
	pump(20);
	extra = connect_client(0);
	pump(20);
	assert_int_equal(read(extra, &c, 1), 0);
	close(extra);
	send_all(fds[0], "GET /metrics HTTP/1.1\r\n\r\n", 25);
	pump(20);
	r = read_to_eof(fds[0], &len);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
	for (int i = 1; i < METRICS_CLIENTS_MAX; i++)
		close(fds[i]);
	pump(20);
	/* All slots free again: a new client is served. */
	r = exchange(&len, "GET /metrics HTTP/1.1\r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
}

/*
 * A scraper that reads slowly (a tiny receive window) takes a response of
 * megabytes in pieces: the server writes what the socket takes and returns
 * to its loop each time; the client still gets every byte.
 */
static void test_http_slow_reader(void **state)
{
	char rule[2048], want_length[64];
	size_t len;
	int fd;
	char *r;

	(void)state;
	memset(rule, 'r', sizeof(rule) - 1);
	rule[sizeof(rule) - 1] = '\0';
	for (int i = 0; i < METRICS_ALERT_PAIRS_MAX; i++) {
		snprintf(rule, 8, "%06d", i);
		rule[6] = 'r';
		metrics_count_alert(srv.m, rule, "brute-force");
	}
	fd = connect_client(4096);
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	for (int i = 0; i < 5; i++) {
		int64_t start = monotonic_ms();

		pump(1);
		/* The loop came back at once: nothing waited on the slow socket. */
		assert_true(monotonic_ms() - start < 200);
	}
	r = read_to_eof(fd, &len);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	snprintf(want_length, sizeof(want_length), "\r\nContent-Length: %zu\r\n",
		 len - (body_of(r) - r));
	assert_non_null(strstr(r, want_length));
	assert_true(len > 500000);
	assert_int_equal(count_lines(body_of(r), "berth_alerts_total{"), METRICS_ALERT_PAIRS_MAX);
	free(r);
}

/*
 * The tests' server replaced by one opened from src, once the current one's
 * last client is gone; serve_again() puts the current one back.
 */
static struct metrics *serve_instead(const struct metrics_source *src)
{
	struct metrics *current = srv.m;
	char err[256] = "";

	pump(50);
	srv.m = metrics_open("127.0.0.1:0", srv.epoll_fd, src, err, sizeof(err));
	if (!srv.m)
		fail_msg("metrics_open: %s", err);
	return current;
}

static void serve_again(struct metrics *previous)
{
	metrics_close(srv.m);
	srv.m = previous;
}

/*
 * HTTPS: the handshake and an 8 MiB answer to a client that reads slowly
 * (a small receive buffer), all driven by the loop, which never waits: the
 * answer arrives whole, through TLS records written as the socket takes
 * them. A client that speaks plain HTTP to it is closed.
 */
#define RULE_LEN (32 * 1024)
static void test_https_slow_reader(void **state)
{
	struct pki p = { 0 };
	char *rule, want_length[64];
	struct metrics_source src = { .fill = fill, .ctx = &srv, .ringbuf_fd = -1 };
	struct metrics *open_server;
	struct tmp *t = NULL;
	struct buf got = { 0 };
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, ret = 0;
	int64_t deadline;
	char chunk[65536];
	size_t len;
	char *r;

	(void)state;
	assert_int_equal(tmp_setup((void **)&t), 0);
	make_pki(&p, t->dir);
	src.tls_cert = p.server_cert_path;
	src.tls_key = p.server_key_path;
	open_server = serve_instead(&src);
	/* 8 MiB of answer: more than the kernel's largest send buffer (tcp_wmem) holds. */
	rule = malloc(RULE_LEN);
	assert_non_null(rule);
	memset(rule, 'r', RULE_LEN - 1);
	rule[RULE_LEN - 1] = '\0';
	for (int i = 0; i < METRICS_ALERT_PAIRS_MAX; i++) {
		snprintf(rule, 8, "%06d", i);
		rule[6] = 'r';
		metrics_count_alert(srv.m, rule, "brute-force");
	}
	free(rule);

	/* Plain HTTP to the HTTPS port: no answer, the connection closed. */
	r = exchange(&len, "GET /metrics HTTP/1.1\r\n\r\n", NULL);
	assert_int_equal(len, 0);
	free(r);

	ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, p.ca_path, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fd = connect_client(4096);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set1_host(ssl, "localhost");
	deadline = monotonic_ms() + 3000;
	while ((ret = SSL_connect(ssl)) != 1) {
		int e = SSL_get_error(ssl, ret);

		assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
		assert_true(monotonic_ms() < deadline);
		pump(2);
	}
	assert_int_equal(SSL_write(ssl, "GET /metrics HTTP/1.1\r\n\r\n", 25), 25);
	for (int i = 0; i < 5; i++) {
		int64_t start = monotonic_ms();

		pump(1);
		assert_true(monotonic_ms() - start < 200);
	}
	deadline = monotonic_ms() + 20000;
	for (;;) {
		int n = SSL_read(ssl, chunk, sizeof(chunk)), e;

		if (n > 0) {
			assert_true(buf_append(&got, chunk, n));
			continue;
		}
		e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
			break;
		assert_int_equal(e, SSL_ERROR_WANT_READ);
		if (monotonic_ms() > deadline)
			fail_msg("no end of the HTTPS answer after 20 s; got %zu bytes", got.len);
		pump(2);
	}
	assert_non_null(got.data);
	assert_true(buf_append(&got, "", 1));
	expect_status(got.data, "HTTP/1.1 200 OK\r\n");
	snprintf(want_length, sizeof(want_length), "\r\nContent-Length: %zu\r\n",
		 got.len - 1 - (body_of(got.data) - got.data));
	assert_non_null(strstr(got.data, want_length));
	assert_true(got.len > (size_t)RULE_LEN * METRICS_ALERT_PAIRS_MAX);
	assert_int_equal(count_lines(body_of(got.data), "berth_alerts_total{"),
			 METRICS_ALERT_PAIRS_MAX);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	buf_free(&got);
	pump(50);
	serve_again(open_server);
	free_pki(&p);
	assert_int_equal(tmp_teardown((void **)&t), 0);
}

/* IPv6: [::1]:0 listens on a port of its own and serves over IPv6. */
static void test_http_ipv6(void **state)
{
	struct metrics_source src = { .fill = fill, .ctx = &srv, .ringbuf_fd = -1 };
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct metrics *m6;
	char err[256] = "", got[64] = "";
	ssize_t n = 0;
	int fd;

	(void)state;
	m6 = metrics_open("[::1]:0", srv.epoll_fd, &src, err, sizeof(err));
	if (!m6)
		skip(); /* no IPv6 loopback here */
	addr.sin6_port = htons(metrics_port(m6));
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	for (int i = 0; i < 100 && n <= 0; i++) {
		struct epoll_event events[8];
		int k = epoll_wait(srv.epoll_fd, events, 8, 10);

		for (int j = 0; j < k; j++)
			assert_true(metrics_handle_fd(m6, events[j].data.fd, events[j].events) ||
				    metrics_handle_fd(srv.m, events[j].data.fd, events[j].events));
		n = read(fd, got, sizeof(got) - 1);
	}
	assert_true(n > 0);
	assert_int_equal(strncmp(got, "HTTP/1.1 200 OK\r\n", 17), 0);
	close(fd);
	metrics_close(m6);
}

/*
 * With a token, only "Authorization: Bearer TOKEN" is answered (header
 * name and scheme in any case); anything else gets 401 before the path is
 * looked at, and is counted.
 */
static void test_http_bearer_token(void **state)
{
	struct metrics_source src = {
		.fill = fill, .ctx = &srv, .ringbuf_fd = -1, .bearer_token = "s3cret-T0ken"
	};
	static const char *const refused[] = {
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret-T0ke\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret-T0ken0\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nAuthorization: Basic czNjcmV0LVQwa2Vu\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nAuthorization: s3cret-T0ken\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX-Authorization: Bearer s3cret-T0ken\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	};
	unsigned int fills = srv.fills;
	struct metrics *open_server = serve_instead(&src);
	char want[96];
	size_t len;
	char *r;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		r = exchange(&len, refused[i], NULL);
		expect_status(r, "HTTP/1.1 401 Unauthorized\r\n");
		assert_non_null(strstr(r, "\r\nWWW-Authenticate: Bearer realm=\"berth\"\r\n"));
		assert_null(strstr(r, "berth_"));
		free(r);
	}
	assert_int_equal(srv.fills, fills);
	r = exchange(&len, "GET /metrics HTTP/1.1\r\nHost: x\r\nauthorization: \t bearer ",
		     "s3cret-T0ken  \r\n\r\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	snprintf(want, sizeof(want), "\nberth_metrics_unauthorized_requests_total %zu\n",
		 sizeof(refused) / sizeof(refused[0]));
	assert_non_null(strstr(body_of(r), want));
	free(r);
	r = exchange(&len, "GET /metrics HTTP/1.0\nAuthorization: Bearer s3cret-T0ken\n\n", NULL);
	expect_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
	serve_again(open_server);
}

/* Bind failures name the flag and the address. */
static void test_open_errors(void **state)
{
	struct metrics_source src = { .ringbuf_fd = -1 };
	char address[64], err[256] = "";

	(void)state;
	snprintf(address, sizeof(address), "127.0.0.1:%u", metrics_port(srv.m));
	assert_null(metrics_open(address, srv.epoll_fd, &src, err, sizeof(err)));
	assert_non_null(strstr(err, "--metrics-listen 127.0.0.1:"));
	assert_non_null(strstr(err, "cannot listen: Address already in use"));
	assert_null(metrics_open("203.0.113.9:9464", srv.epoll_fd, &src, err, sizeof(err)));
	assert_string_equal(err, "--metrics-listen 203.0.113.9:9464: cannot listen: Cannot "
				 "assign requested address");
	assert_null(metrics_open("nope", srv.epoll_fd, &src, err, sizeof(err)));
	assert_non_null(strstr(err, "expected ADDRESS:PORT"));
	/* NULL is "no metrics": every call is a no-op. */
	assert_false(metrics_handle_fd(NULL, 0, EPOLLIN));
	metrics_tick(NULL, 0);
	metrics_count_alert(NULL, "r", "a");
	metrics_close(NULL);
}

int main(void)
{
	const struct CMUnitTest render_tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_render_hostile_labels),
		cmocka_unit_test(test_render_merges_series),
		cmocka_unit_test(test_render_sinks),
		cmocka_unit_test(test_render_programs),
		cmocka_unit_test(test_parse_address),
	};
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test(test_http_get_split),
		cmocka_unit_test(test_http_bearer_token),
		cmocka_unit_test(test_http_head_and_query),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_oversize),
		cmocka_unit_test(test_http_idle_deadline),
		cmocka_unit_test(test_http_client_limit),
		cmocka_unit_test(test_http_slow_reader),
		cmocka_unit_test(test_https_slow_reader),
		cmocka_unit_test(test_http_ipv6),
		cmocka_unit_test(test_open_errors),
	};
	int failed =
		cmocka_run_group_tests_name("render", render_tests, setup_watch, teardown_watch);

	return failed |
	       cmocka_run_group_tests_name("http", http_tests, setup_server, teardown_server);
}
