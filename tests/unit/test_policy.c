// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy.c: the YAML policy. A full file, the defaults of no file, and a
 * table of malformed files each with its exact message (file:line:column).
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

#include "policy.h"
#include "tmpdir.h"

static int parse(const char *text, struct policy *p, char *err, size_t errlen)
{
	return policy_parse(text, strlen(text), "berth.yaml", p, err, errlen);
}

static void test_defaults(void **state)
{
	struct policy p;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse("", &p, err, sizeof(err)), 0);
	assert_int_equal(p.profile, PROFILE_PRODUCTION);
	assert_int_equal(p.n_rules, 0);
	assert_true(p.detect.port_scan.enabled);
	assert_int_equal(p.detect.port_scan.ports, 10);
	assert_int_equal(p.detect.port_scan.window_ms, 10000);
	assert_int_equal(p.detect.brute_force.connections, 50);
	assert_true(p.detect.rate_spike.factor == 4);
	assert_true(p.detect.rate_spike.min_rate_per_s == 20);
	assert_int_equal(p.detect.rate_spike.learn_ms, 60000);
	assert_false(p.detect.new_source.enabled);
	assert_int_equal(p.detect.suppress_ms, 60000);
	policy_free(&p);

	/* Comments only is no file too. */
	assert_int_equal(parse("# nothing yet\n", &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_rules, 0);
	policy_free(&p);
}

/* DESIGN.md's example, whole. */
static const char design_example[] =
	"profile: production            # development: every published port must bind to "
	"loopback\n"
	"interfaces: [eth0]\n"
	"rules:\n"
	"  - name: admin-from-office\n"
	"    container: \"web*\"          # glob on the container name\n"
	"    port: 80/tcp               # container port\n"
	"    allow: [198.51.100.0/25, \"2001:db8::/32\"]\n"
	"    max_rate: 20/s             # per source\n"
	"    enforce: false\n"
	"  - name: dns\n"
	"    image: \"coredns/*\"\n"
	"    label: tier=edge\n"
	"    host_port: 5353/udp\n"
	"detect:\n"
	"  port_scan:   {ports: 10, window: 10s}\n"
	"  brute_force: {connections: 50, window: 10s}\n"
	"  rate_spike:  {factor: 4, min_rate: 20/s, learn: 60s}\n"
	"  new_source:  {enabled: true, learn: 1h}\n"
	"  suppress: 5m\n";

static void test_design_example(void **state)
{
	struct policy p;
	char err[512] = "";
	const struct policy_rule *r;

	(void)state;
	if (parse(design_example, &p, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(p.n_interfaces, 1);
	assert_string_equal(p.interfaces[0], "eth0");
	assert_int_equal(p.n_rules, 2);
	r = &p.rules[0];
	assert_string_equal(r->name, "admin-from-office");
	assert_string_equal(r->container, "web*");
	assert_int_equal(r->port, 80);
	assert_false(r->port_is_host);
	assert_int_equal(r->protocol, IPPROTO_TCP);
	assert_int_equal(r->n_allow, 2);
	assert_int_equal(r->allow[0].prefix_len, 96 + 25);
	assert_int_equal(r->allow[1].prefix_len, 32);
	assert_true(r->max_rate_per_s == 20);
	assert_false(r->enforce);
	assert_int_equal(r->line, 4);
	r = &p.rules[1];
	assert_string_equal(r->image, "coredns/*");
	assert_string_equal(r->label_key, "tier");
	assert_string_equal(r->label_value, "edge");
	assert_int_equal(r->port, 5353);
	assert_true(r->port_is_host);
	assert_int_equal(r->protocol, IPPROTO_UDP);
	assert_null(r->allow);
	assert_true(p.detect.new_source.enabled);
	assert_int_equal(p.detect.new_source.learn_ms, 3600000);
	assert_int_equal(p.detect.suppress_ms, 300000);
	policy_free(&p);
}

/* Each malformed file gives exactly this message. */
static const struct {
	const char *text;
	const char *message;
} malformed[] = {
	{ "rules: [", "berth.yaml:2:1: invalid YAML: did not find expected node content while "
		      "parsing a flow node" },
	{ "profile: 'production\n", "berth.yaml:2:1: invalid YAML: found unexpected end of stream "
				    "while scanning a quoted scalar" },
	{ "- 1\n", "berth.yaml:1:1: policy: expected a mapping of profile, interfaces, rules, "
		   "detect, outputs, privacy" },
	{ "profil: production\n", "berth.yaml:1:1: policy: unknown key 'profil' (expected profile, "
				  "interfaces, rules, detect, outputs or privacy)" },
	{ "profile: staging\n",
	  "berth.yaml:1:10: profile: expected production or development, got 'staging'" },
	{ "profile: production\nprofile: development\n",
	  "berth.yaml:2:1: policy: 'profile' given twice" },
	{ "interfaces: eth0\n",
	  "berth.yaml:1:13: interfaces: expected a list, got a single value" },
	{ "interfaces: [\"a/b\"]\n",
	  "berth.yaml:1:14: interfaces: 'a/b' is not an interface name" },
	{ "rules: {name: x}\n", "berth.yaml:1:8: rules: expected a list, got a mapping" },
	{ "rules:\n  - port: 80\n",
	  "berth.yaml:2:5: rule: no name (every rule needs one: alerts carry it)" },
	{ "rules:\n  - name: a\n  - name: a\n",
	  "berth.yaml:3:5: rule 'a': the name is taken by the rule at line 2" },
	{ "rules:\n  - name: a\n    prot: 80\n",
	  "berth.yaml:3:5: rule: unknown key 'prot' (expected name, container, image, label, port, "
	  "host_port, allow, max_rate or enforce)" },
	{ "rules:\n  - name: a\n    port: 80/sctp\n",
	  "berth.yaml:3:11: port: expected a port like 80, 80/tcp or 53/udp (1 to 65535), got "
	  "'80/sctp'" },
	{ "rules:\n  - name: a\n    port: 0\n",
	  "berth.yaml:3:11: port: expected a port like 80, 80/tcp or 53/udp (1 to 65535), got "
	  "'0'" },
	{ "rules:\n  - name: a\n    port: 65536/tcp\n",
	  "berth.yaml:3:11: port: expected a port like 80, 80/tcp or 53/udp (1 to 65535), got "
	  "'65536/tcp'" },
	{ "rules:\n  - name: a\n    port: 80\n    host_port: 8080\n",
	  "berth.yaml:4:5: host_port: a rule selects by port or by host_port, not both" },
	{ "rules:\n  - name: a\n    allow: 10.0.0.0/8\n",
	  "berth.yaml:3:12: allow: expected a list, got a single value" },
	{ "rules:\n  - name: a\n    allow: [10.0.0.0/33]\n",
	  "berth.yaml:3:13: allow: '10.0.0.0/33' is not an address or a CIDR prefix like "
	  "198.51.100.0/24 or 2001:db8::/32 (host bits must be zero)" },
	{ "rules:\n  - name: a\n    allow: [10.0.0.1/8]\n",
	  "berth.yaml:3:13: allow: '10.0.0.1/8' is not an address or a CIDR prefix like "
	  "198.51.100.0/24 or 2001:db8::/32 (host bits must be zero)" },
	{ "rules:\n  - name: a\n    allow: [\"2001:db8::/129\"]\n",
	  "berth.yaml:3:13: allow: '2001:db8::/129' is not an address or a CIDR prefix like "
	  "198.51.100.0/24 or 2001:db8::/32 (host bits must be zero)" },
	{ "rules:\n  - name: a\n    allow: [example.com]\n",
	  "berth.yaml:3:13: allow: 'example.com' is not an address or a CIDR prefix like "
	  "198.51.100.0/24 or 2001:db8::/32 (host bits must be zero)" },
	{ "rules:\n  - name: a\n    allow: [[10.0.0.0/8]]\n",
	  "berth.yaml:3:13: allow: expected a single value, got a list" },
	{ "rules:\n  - name: a\n    max_rate: 20/x\n",
	  "berth.yaml:3:15: max_rate: expected a rate like 20/s, 600/m or 10/h, got '20/x'" },
	{ "rules:\n  - name: a\n    max_rate: -5/s\n",
	  "berth.yaml:3:15: max_rate: expected a rate like 20/s, 600/m or 10/h, got '-5/s'" },
	{ "rules:\n  - name: a\n    max_rate: 0/s\n",
	  "berth.yaml:3:15: max_rate: expected a rate like 20/s, 600/m or 10/h, got '0/s'" },
	{ "rules:\n  - name: a\n    enforce: yes\n",
	  "berth.yaml:3:14: enforce: expected true or false, got 'yes'" },
	{ "rules:\n  - name: a\n    enforce: true\n",
	  "berth.yaml:2:5: rule 'a': enforce needs an allow list" },
	{ "rules:\n  - name: a\n    label: \"=x\"\n",
	  "berth.yaml:3:12: label: expected key or key=value, got '=x'" },
	{ "detect:\n  port_scan: {ports: 1}\n",
	  "berth.yaml:2:22: port_scan.ports: expected a whole number from 2 to 65535, got '1'" },
	{ "detect:\n  port_scan: {ports: ten}\n",
	  "berth.yaml:2:22: port_scan.ports: expected a whole number from 2 to 65535, got 'ten'" },
	{ "detect:\n  port_scan: {window: 10x}\n",
	  "berth.yaml:2:23: port_scan.window: expected a duration like 500ms, 10s, 5m, 1h (at most "
	  "366d), got '10x'" },
	{ "detect:\n  brute_force: {window: 0s}\n",
	  "berth.yaml:2:25: brute_force.window: expected a duration like 500ms, 10s, 5m, 1h (at "
	  "most 366d), got '0s'" },
	{ "detect:\n  rate_spike: {factor: 1}\n",
	  "berth.yaml:2:24: rate_spike.factor: expected a number of at least 1.1, got '1'" },
	{ "detect:\n  rate_spike: {learn: 400d}\n",
	  "berth.yaml:2:23: rate_spike.learn: expected a duration like 500ms, 10s, 5m, 1h (at most "
	  "366d), got '400d'" },
	{ "detect:\n  port_scans: {}\n", "berth.yaml:2:3: detect: unknown key 'port_scans' "
					 "(expected port_scan, brute_force, rate_spike, "
					 "new_source or suppress)" },
	{ "detect:\n  new_source: {enabled: on}\n",
	  "berth.yaml:2:25: new_source.enabled: expected true or false, got 'on'" },
	{ "detect: []\n", "berth.yaml:1:9: detect: expected a mapping, got a list" },
	{ "profile: production\n---\nprofile: development\n",
	  "berth.yaml:3:1: a second YAML document: put everything in one" },
	{ "? [a]\n: b\n", "berth.yaml:1:3: policy: expected a single value, got a list" },
	{ "profile: &p production\nrules: *p\n",
	  "berth.yaml:1:10: rules: expected a list, got a single value" },
	/* outputs: and privacy: */
	{ "outputs:\n  - {path: /tmp/x, address: \"udp://h:514\"}\n",
	  "berth.yaml:2:29: address: an output has one of type: stdout, path, address or url" },
	{ "outputs:\n  - {address: \"udp://nohost\"}\n",
	  "berth.yaml:2:15: output 'udp://nohost': expected udp://HOST:PORT (an IPv6 host in brackets)" },
	{ "outputs:\n  - {address: \"http://h/x\"}\n",
	  "berth.yaml:2:15: address: expected udp://, tcp://, tls://HOST:PORT or unix:PATH, got 'http://h/x'" },
	{ "outputs:\n  - {url: \"ftp://h/x\"}\n",
	  "berth.yaml:2:11: url: expected http:// or https://, got 'ftp://h/x'" },
	{ "outputs:\n  - {name: a}\n",
	  "berth.yaml:2:5: output: give path (a file), address (syslog), url (HTTP) or type: stdout" },
	{ "outputs:\n  - {path: /tmp/x, rotate: {size: 10 MiB}}\n",
	  "berth.yaml:2:35: rotate.size: expected a size like 512KiB, 100MiB or 1GiB, got '10 MiB'" },
	{ "outputs:\n  - {path: /tmp/x, rotate: {sizes: 1}}\n",
	  "berth.yaml:2:29: rotate: unknown key 'sizes' (expected size, age or keep)" },
	{ "outputs:\n  - {path: /tmp/x, spool: {dir: /tmp}}\n",
	  "berth.yaml:2:5: output '/tmp/x': spool does not apply to a file output" },
	{ "outputs:\n  - {address: \"tcp://h:514\", rotate: {size: 1MiB}}\n",
	  "berth.yaml:2:5: output 'tcp://h:514': rotate does not apply to a syslog output" },
	{ "outputs:\n  - {address: \"udp://h:514\", timeout: 5s}\n",
	  "berth.yaml:2:5: output 'udp://h:514': timeout applies to tcp:// and tls:// syslog, not to udp:// or unix:" },
	{ "outputs:\n  - {path: /tmp/x, timeout: 5s}\n",
	  "berth.yaml:2:5: output '/tmp/x': timeout does not apply to a file output" },
	{ "outputs:\n  - {type: stdout, tls: {ca: /x}}\n",
	  "berth.yaml:2:5: output 'stdout': tls does not apply to a stdout output" },
	{ "outputs:\n  - {type: file}\n",
	  "berth.yaml:2:12: type: only stdout is given as a type; a file, syslog or http output is known by its path, address or url" },
	{ "outputs:\n  - {url: \"http://h/_bulk\", shape: es}\n",
	  "berth.yaml:2:36: shape: expected ndjson, elasticsearch or splunk-hec, got 'es'" },
	{ "outputs:\n  - {url: \"http://h/\", headers: {\"Bad Name\": x}}\n",
	  "berth.yaml:2:34: headers: 'Bad Name' is not a header name and one-line value" },
	{ "outputs:\n  - {path: /a, name: x}\n  - {path: /b, name: x}\n",
	  "berth.yaml:3:5: output 'x': the name is taken by the output at line 2" },
	{ "outputs:\n  - {type: stdout, min_severity: 101}\n",
	  "berth.yaml:2:34: min_severity: expected a whole number from 0 to 100, got '101'" },
	{ "outputs:\n  - {type: stdout, pseudonymize: yes}\n",
	  "berth.yaml:2:34: pseudonymize: expected true or false, got 'yes'" },
	{ "outputs:\n  - {type: stdout, kinds: alert}\n",
	  "berth.yaml:2:27: kinds: expected a list, got a single value" },
	{ "outputs: {type: stdout}\n", "berth.yaml:1:10: outputs: expected a list, got a mapping" },
	{ "privacy: {key: /x}\n",
	  "berth.yaml:1:11: privacy: unknown key 'key' (expected key_file)" },
	{ "outputs:\n  - {path: /tmp/x, flsh: 1s}\n",
	  "berth.yaml:2:20: output: unknown key 'flsh' (expected name, type, path, address, url, format, kinds, actions, min_severity, drop_fields, pseudonymize, queue, rotate, flush, fsync, facility, app_name, tls, shape, headers, token_file, index, batch, timeout, retry or spool)" },

};

static void test_malformed(void **state)
{
	struct policy p;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		err[0] = '\0';
		if (parse(malformed[i].text, &p, err, sizeof(err)) != -1)
			fail_msg("accepted:\n%s", malformed[i].text);
		if (strcmp(err, malformed[i].message))
			fail_msg("for:\n%s\n got: %s\nwant: %s", malformed[i].text, err,
				 malformed[i].message);
		/* Nothing half-parsed is left. */
		assert_int_equal(p.n_rules, 0);
		assert_null(p.rules);
		assert_int_equal(p.n_interfaces, 0);
		assert_int_equal(p.n_outputs, 0);
	}
}

/* Every kind of output, with the options of each. */
static void test_outputs(void **state)
{
	static const char text[] = "privacy: {key_file: /etc/berth/pseudonym.key}\n"
				   "outputs:\n"
				   "  - type: stdout\n"
				   "    kinds: [alert]\n"
				   "    min_severity: 50\n"
				   "  - name: archive\n"
				   "    path: /var/log/berth/events.json\n"
				   "    rotate: {size: 100MiB, age: 1d, keep: 7}\n"
				   "    flush: immediate\n"
				   "    fsync: true\n"
				   "    drop_fields: [container.labels, source.port]\n"
				   "  - address: \"tls://[2001:db8::1]:6514\"\n"
				   "    facility: 4\n"
				   "    tls: {ca: /etc/ssl/ca.pem, server_name: siem.example}\n"
				   "    pseudonymize: true\n"
				   "    queue: {events: 500, bytes: 1MiB}\n"
				   "  - address: unix:/dev/log\n"
				   "    actions: [port-scan, brute-force]\n"
				   "  - url: https://es.example:9200/_bulk\n"
				   "    headers: {X-Team: sre}\n"
				   "    token_file: /run/secrets/es\n"
				   "    batch: {events: 100, bytes: 512KiB, interval: 2s}\n"
				   "    retry: {min: 1s, max: 1m}\n"
				   "    spool: {dir: /var/spool/berth, max_bytes: 1GiB}\n";
	struct policy p;
	char err[512] = "";

	(void)state;
	if (parse(text, &p, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(p.pseudonym_key_file, "/etc/berth/pseudonym.key");
	assert_int_equal(p.n_outputs, 5);
	assert_int_equal(p.outputs[0].type, SINK_STDOUT);
	assert_string_equal(p.outputs[0].name, "stdout");
	assert_int_equal(p.outputs[0].n_kinds, 1);
	assert_string_equal(p.outputs[0].kinds[0], "alert");
	assert_int_equal(p.outputs[0].min_severity, 50);

	assert_int_equal(p.outputs[1].type, SINK_FILE);
	assert_string_equal(p.outputs[1].name, "archive");
	assert_string_equal(p.outputs[1].path, "/var/log/berth/events.json");
	assert_int_equal(p.outputs[1].rotate_bytes, 100ull << 20);
	assert_int_equal(p.outputs[1].rotate_age_ms, 86400000);
	assert_int_equal(p.outputs[1].keep, 7);
	assert_true(p.outputs[1].flush_given);
	assert_int_equal(p.outputs[1].flush_ms, 0);
	assert_true(p.outputs[1].fsync);
	assert_int_equal(p.outputs[1].n_drop_fields, 2);
	assert_string_equal(p.outputs[1].drop_fields[1], "source.port");

	assert_int_equal(p.outputs[2].type, SINK_SYSLOG);
	assert_int_equal(p.outputs[2].transport, SYSLOG_TLS);
	assert_string_equal(p.outputs[2].name, "tls://[2001:db8::1]:6514");
	assert_string_equal(p.outputs[2].host, "2001:db8::1");
	assert_string_equal(p.outputs[2].port, "6514");
	assert_int_equal(p.outputs[2].syslog.facility, 4);
	assert_string_equal(p.outputs[2].tls_ca, "/etc/ssl/ca.pem");
	assert_string_equal(p.outputs[2].tls_server_name, "siem.example");
	assert_true(p.outputs[2].pseudonymize);
	assert_int_equal(p.outputs[2].queue_events, 500);
	assert_int_equal(p.outputs[2].queue_bytes, 1u << 20);

	assert_int_equal(p.outputs[3].transport, SYSLOG_UNIX);
	assert_string_equal(p.outputs[3].socket_path, "/dev/log");
	assert_int_equal(p.outputs[3].n_actions, 2);

	assert_int_equal(p.outputs[4].type, SINK_HTTP);
	assert_int_equal(p.outputs[4].shape, HTTP_ES_BULK);
	assert_string_equal(p.outputs[4].headers[0], "X-Team: sre");
	assert_string_equal(p.outputs[4].token_file, "/run/secrets/es");
	assert_int_equal(p.outputs[4].batch_events, 100);
	assert_int_equal(p.outputs[4].batch_bytes, 512u << 10);
	assert_int_equal(p.outputs[4].batch_ms, 2000);
	assert_int_equal(p.outputs[4].retry_min_ms, 1000);
	assert_int_equal(p.outputs[4].retry_max_ms, 60000);
	assert_string_equal(p.outputs[4].spool_dir, "/var/spool/berth");
	assert_int_equal(p.outputs[4].spool_bytes, 1ull << 30);
	policy_free(&p);
	assert_int_equal(p.n_outputs, 0);
	assert_null(p.outputs);
}

static void test_load_file(void **state)
{
	struct tmp *t = *state;
	char path[128], err[512] = "";
	struct policy p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/berth.yaml", t->dir);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, path));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("rules:\n  - name: x\n    port: 99999\n", f);
	fclose(f);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), -1);
	/* Messages name the file as given. */
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, ":3:11: port:"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(design_example, f);
	fclose(f);
	assert_int_equal(policy_load(path, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_rules, 2);
	policy_free(&p);

	/* A directory is not a policy. */
	assert_int_equal(policy_load(t->dir, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_values(void **state)
{
	struct cidr c;
	uint8_t a[ADDR_LEN];
	uint64_t ms;
	double rate;

	(void)state;
	assert_int_equal(cidr_parse("198.51.100.0/25", &c), 0);
	assert_int_equal(addr_parse("198.51.100.127", a), 0);
	assert_true(cidr_contains(&c, a));
	assert_int_equal(addr_parse("198.51.100.128", a), 0);
	assert_false(cidr_contains(&c, a));
	/* An IPv4 prefix never holds IPv6 addresses. */
	assert_int_equal(addr_parse("2001:db8::1", a), 0);
	assert_false(cidr_contains(&c, a));
	assert_int_equal(cidr_parse("2001:db8::/32", &c), 0);
	assert_true(cidr_contains(&c, a));
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	assert_int_equal(addr_parse("203.0.113.9", a), 0);
	assert_true(cidr_contains(&c, a));
	assert_int_equal(cidr_parse("::/0", &c), 0);
	assert_true(cidr_contains(&c, a));
	assert_int_equal(cidr_parse("203.0.113.9", &c), 0);
	assert_int_equal(c.prefix_len, 128);
	assert_true(cidr_contains(&c, a));
	for (const char *const *bad =
		     (const char *const[]){ "", "/8", "1.2.3.4/", "1.2.3.4/+8", "1.2.3.4/-1",
					    "1.2.3.0/24x", "::ffff:1.2.3.0/120", "1.2.3", NULL };
	     *bad; bad++)
		if (!cidr_parse(*bad, &c))
			fail_msg("cidr_parse accepted '%s'", *bad);

	assert_int_equal(rate_parse("600/m", &rate), 0);
	assert_true(rate == 10);
	assert_int_equal(rate_parse("0.5", &rate), 0);
	assert_true(rate == 0.5);
	assert_int_equal(rate_parse("nan/s", &rate), -1);
	assert_int_equal(rate_parse("inf", &rate), -1);
	assert_int_equal(rate_parse("1e400/s", &rate), -1);
	assert_int_equal(duration_parse("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(duration_parse("1.5s", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(duration_parse("30", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(duration_parse("0.1ms", &ms), -1);
	assert_int_equal(duration_parse("s", &ms), -1);
	assert_int_equal(duration_parse("10 s", &ms), -1);
}

static void test_matching(void **state)
{
	static struct label labels[] = { { .key = "tier", .value = "edge" } };
	struct container web = {
		.name = "web-1", .image = "nginx:1.27", .labels = labels, .n_labels = 1
	};
	struct port_binding b80 = { .host_ip = "0.0.0.0",
				    .host_port = 8080,
				    .container_port = 80,
				    .protocol = IPPROTO_TCP };
	struct port_binding b53 = { .host_ip = "0.0.0.0",
				    .host_port = 5353,
				    .container_port = 53,
				    .protocol = IPPROTO_UDP };
	const char *text =
		"rules:\n"
		"  - {name: web-http, container: \"web*\", port: 80, allow: [10.0.0.0/8]}\n"
		"  - {name: by-host-port, host_port: 5353/udp}\n"
		"  - {name: edge, label: \"tier=ed*\"}\n"
		"  - {name: empty-allow, image: \"postgres*\", allow: []}\n";
	struct container db = { .name = "db", .image = "postgres:16" };
	uint8_t inside[ADDR_LEN], outside[ADDR_LEN];
	char err[512] = "";
	struct policy p;

	(void)state;
	if (parse(text, &p, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(policy_match(&p, &web, &b80)->name, "web-http");
	assert_string_equal(policy_match(&p, &web, &b53)->name, "by-host-port");
	/* Not port 80: the label rule. */
	b80.container_port = 81;
	assert_string_equal(policy_match(&p, &web, &b80)->name, "edge");
	/* A port-less rule also selects traffic on unpublished ports. */
	assert_string_equal(policy_match(&p, &web, NULL)->name, "edge");
	assert_string_equal(policy_match(&p, &db, NULL)->name, "empty-allow");
	web.n_labels = 0;
	assert_null(policy_match(&p, &web, NULL));

	assert_int_equal(addr_parse("10.1.2.3", inside), 0);
	assert_int_equal(addr_parse("192.0.2.1", outside), 0);
	assert_true(policy_allows(&p.rules[0], inside));
	assert_false(policy_allows(&p.rules[0], outside));
	/* No allowlist: anyone. An empty one: no one. */
	assert_true(policy_allows(&p.rules[1], outside));
	assert_false(policy_allows(&p.rules[3], inside));
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test_setup_teardown(test_load_file, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_matching),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
