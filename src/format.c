// SPDX-License-Identifier: GPL-2.0-only
/*
 * The formats are made from the parsed ECS record, not from berth's own
 * structs: whatever a sink's transforms left of a record (dropped fields, a
 * pseudonymised source) goes through one mapping per format, and a field
 * the record lacks is left out of the output rather than failing it. Only
 * @timestamp and event.action are needed. docs/formats.md is the mapping in
 * prose; keep the two in step.
 *
 * Every format is written straight into the sink's buffer from the nodes
 * json_read() made: no tree is built, nothing is copied but the output.
 * Numbers are carried as the record writes them. OCSF and a re-written ECS
 * go through json.c's writer, as berth's records do.
 *
 * Text from outside berth (container, image, label and host names) may hold
 * any byte. Each format escapes what its syntax reserves, writes control
 * characters in a form that cannot end a line or a field, and replaces
 * bytes that are not UTF-8 with U+FFFD.
 *
 * The caches below (time texts, the HMAC context) are not locked: berth
 * formats on its one event loop thread.
 */
#define _GNU_SOURCE /* timegm */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "format.h"
#include "json.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

static const char *const format_names[] = {
	[FORMAT_ECS] = "ecs",
	[FORMAT_OCSF] = "ocsf",
	[FORMAT_RFC5424] = "rfc5424",
	[FORMAT_CEF] = "cef",
};

int format_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (!strcmp(name, format_names[i]))
			return (int)i;
	return -1;
}

const char *format_name(enum output_format format)
{
	if ((unsigned int)format < sizeof(format_names) / sizeof(format_names[0]))
		return format_names[format];
	return "unknown";
}

/*
 * The summary and the CEF fields built from parts are made here first:
 * one buffer kept from record to record rather than one allocated each.
 */
static struct buf scratch;

/* ---- reading the record ---- */

struct record {
	const struct json_doc *doc;
	const struct json_node *root; /* an object */
	bool alert;		      /* event.kind alert: asked by every format, often */
};

/* The value at a dotted path inside n ("port", "berth.port.host_port"), or NULL. */
static const struct json_node *node_in(const struct record *r, const struct json_node *n,
				       const char *dotted)
{
	return n ? json_lookup(r->doc, n, dotted) : NULL;
}

static const struct json_node *node_at(const struct record *r, const char *dotted)
{
	return json_lookup(r->doc, r->root, dotted);
}

static const char *string_of(const struct json_node *n)
{
	return n && n->type == JSON_NODE_STRING ? n->text : NULL;
}

static const char *text_in(const struct record *r, const struct json_node *n, const char *dotted)
{
	return string_of(node_in(r, n, dotted));
}

static const char *text_at(const struct record *r, const char *dotted)
{
	return string_of(node_at(r, dotted));
}

static bool int_in(const struct record *r, const struct json_node *n, const char *dotted,
		   long long *value)
{
	return json_node_int(node_in(r, n, dotted), value);
}

static bool int_at(const struct record *r, const char *dotted, long long *value)
{
	return json_node_int(node_at(r, dotted), value);
}

/* An integer at the path, or 0. */
static long long int_or_zero_in(const struct record *r, const struct json_node *n,
				const char *dotted)
{
	long long value = 0;

	int_in(r, n, dotted, &value);
	return value;
}

static long long int_or_zero(const struct record *r, const char *dotted)
{
	return int_or_zero_in(r, r->root, dotted);
}

static bool text_is(const struct record *r, const char *dotted, const char *want)
{
	const char *text = text_at(r, dotted);

	return text && !strcmp(text, want);
}

static bool is_true(const struct json_node *n)
{
	return n && n->type == JSON_NODE_TRUE;
}

static bool is_object(const struct json_node *n)
{
	return n && n->type == JSON_NODE_OBJECT;
}

/* Digits at p as a number, -1 when one of the n is not a digit. */
static int digits(const char *p, int n)
{
	int value = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		value = value * 10 + (p[i] - '0');
	}
	return value;
}

/* timegm once per second of records, not once per record. */
static time_t seconds_of(const char *text, struct tm *tm)
{
	static char cached[19];
	static time_t cached_secs = -1;

	if (cached_secs != -1 && !memcmp(text, cached, sizeof(cached)))
		return cached_secs;
	cached_secs = timegm(tm);
	memcpy(cached, text, sizeof(cached));
	return cached_secs;
}

/*
 * @timestamp in milliseconds since the epoch. RFC 3339 with a 'Z' or a
 * numeric offset, as berth writes it and as a log shipper might rewrite it;
 * false for anything else, or before 1970.
 */
static bool parse_timestamp(const char *text, int64_t *ms)
{
	struct tm tm = { 0 };
	int fraction_ms = 0, offset_min = 0;
	const char *p;
	time_t secs;

	if (!text || strlen(text) < 20 || text[4] != '-' || text[7] != '-' ||
	    (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
		return false;
	tm.tm_year = digits(text, 4) - 1900;
	tm.tm_mon = digits(text + 5, 2) - 1;
	tm.tm_mday = digits(text + 8, 2);
	tm.tm_hour = digits(text + 11, 2);
	tm.tm_min = digits(text + 14, 2);
	tm.tm_sec = digits(text + 17, 2);
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return false;
	p = text + 19;
	if (*p == '.') {
		int scale = 100;

		if (*++p < '0' || *p > '9')
			return false;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			fraction_ms += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
		int hours = digits(p + 1, 2), minutes = digits(p + 4, 2);

		if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59)
			return false;
		offset_min = (hours * 60 + minutes) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return false;
	}
	if (*p)
		return false;
	secs = seconds_of(text, &tm);
	if (secs == (time_t)-1)
		return false;
	*ms = ((int64_t)secs - offset_min * 60) * 1000 + fraction_ms;
	return *ms >= 0;
}

/* What every record has, or the record cannot be written: the time and the action. */
static bool record_basics(struct record *r, const struct json_doc *ecs, int64_t *ms,
			  const char **action)
{
	r->doc = ecs;
	r->root = json_root(ecs);
	if (!is_object(r->root))
		return false;
	*action = text_at(r, "event.action");
	r->alert = text_is(r, "event.kind", "alert");
	return *action && parse_timestamp(text_at(r, "@timestamp"), ms);
}

/* "2026-12-04T15:07:31.112Z", as json.c writes @timestamp. */
static void put_rfc3339(struct buf *out, int64_t ms)
{
	char text[32];

	format_timestamp(ms > 0 ? (uint64_t)ms * 1000000 : 0, text);
	buf_puts(out, text);
}

/* ---- text ---- */

#define REPLACEMENT_CHARACTER "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

enum text_rule {
	/* RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped, controls as #ooo (rsyslog's form) */
	TEXT_SD_VALUE,
	/* A CEF header field: '\' and '|' escaped, controls become spaces */
	TEXT_CEF_HEADER,
	/* A CEF extension value: '\' and '=' escaped, \n and \r, other controls become spaces */
	TEXT_CEF_VALUE,
	/* The syslog MSG: printable ASCII, other characters become '?' and controls spaces */
	TEXT_ASCII,
};

/* Printable ASCII that the rule writes as it is. */
static bool plain_in(unsigned char c, enum text_rule rule)
{
	if (c < 0x20 || c >= 0x7f)
		return false;
	switch (rule) {
	case TEXT_SD_VALUE:
		return c != '"' && c != '\\' && c != ']';
	case TEXT_CEF_HEADER:
		return c != '\\' && c != '|';
	case TEXT_CEF_VALUE:
		return c != '\\' && c != '=';
	default:
		return true;
	}
}

/* Appends len bytes of text by rule; invalid UTF-8 becomes U+FFFD (TEXT_ASCII: '?'). */
static void put_text(struct buf *out, const char *text, size_t len, enum text_rule rule)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;

	while (p < end) {
		const unsigned char *run = p;
		unsigned char c;
		uint32_t cp;
		size_t n;

		while (p < end && plain_in(*p, rule))
			p++;
		buf_append(out, run, p - run);
		if (p == end)
			break;
		c = *p;
		if (c >= 0x80) {
			n = utf8_decode(p, end - p, &cp);
			if (rule == TEXT_ASCII)
				buf_putc(out, '?');
			else if (!n)
				buf_append(out, REPLACEMENT_CHARACTER, 3);
			else
				buf_append(out, p, n);
			p += n ? n : 1;
			continue;
		}
		p++;
		if (c < 0x20 || c == 0x7f) {
			if (rule == TEXT_SD_VALUE) {
				char octal[4] = { '#', (char)('0' + (c >> 6)),
						  (char)('0' + (c >> 3 & 7)),
						  (char)('0' + (c & 7)) };

				buf_append(out, octal, 4);
			} else if (rule == TEXT_CEF_VALUE && c == '\n') {
				buf_append(out, "\\n", 2);
			} else if (rule == TEXT_CEF_VALUE && c == '\r') {
				buf_append(out, "\\r", 2);
			} else {
				buf_putc(out, ' ');
			}
			continue;
		}
		/* what the rule reserves */
		buf_putc(out, '\\');
		buf_putc(out, c);
	}
}

static void put_text_z(struct buf *out, const char *text, enum text_rule rule)
{
	if (text)
		put_text(out, text, strlen(text), rule);
}

/*
 * An RFC 5424 header field (HOSTNAME, APP-NAME, MSGID) or SD-NAME: at most
 * max characters of printable US-ASCII; each other character becomes '_'
 * (for an SD-NAME also '=', ']' and '"'). Empty: the NILVALUE "-" for a
 * header field, "_" for a name, which may not be empty.
 */
static void put_token(struct buf *out, const char *text, size_t len, size_t max, bool sd_name)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	char token[256];
	size_t written = 0, held = 0;

	while (p < end && written < max) {
		unsigned char c = *p;
		size_t n = 1;
		uint32_t cp;

		if (c >= 0x80) {
			n = utf8_decode(p, end - p, &cp);
			n = n ? n : 1;
			c = '_';
		} else if (c < 33 || c > 126 || (sd_name && (c == '=' || c == ']' || c == '"'))) {
			c = '_';
		}
		token[held++] = (char)c;
		if (held == sizeof(token)) {
			buf_append(out, token, held);
			held = 0;
		}
		written++;
		p += n;
	}
	if (held)
		buf_append(out, token, held);
	if (!written)
		buf_putc(out, sd_name ? '_' : '-');
}

/* ---- copying into JSON (OCSF) ---- */

/* The string at path inside n, as key; nothing when there is none. */
static void copy_text(struct json_line *w, const char *key, const struct record *r,
		      const struct json_node *n, const char *path)
{
	const struct json_node *v = node_in(r, n, path);

	if (v && v->type == JSON_NODE_STRING)
		json_add_string_len(w, key, v->text, v->len);
}

static void copy_int(struct json_line *w, const char *key, const struct record *r,
		     const struct json_node *n, const char *path)
{
	long long value;

	if (int_in(r, n, path, &value))
		json_add_int(w, key, value);
}

/* key: a + b, or nothing when a record's numbers are too big to add. */
static void add_sum(struct json_line *w, const char *key, long long a, long long b)
{
	long long sum;

	if (!__builtin_add_overflow(a, b, &sum))
		json_add_int(w, key, sum);
}

/* ---- what kind of record, how severe ---- */

enum record_class {
	RECORD_NETWORK, /* connections, listen, port-stats */
	RECORD_ALERT,	/* event.kind alert */
	RECORD_OTHER,	/* events-lost, container and runtime changes, config-reload */
};

static enum record_class record_class_of(const struct record *r, const char *action)
{
	if (r->alert)
		return RECORD_ALERT;
	if (!strncmp(action, "connection-", 11) || !strcmp(action, "listen") ||
	    !strcmp(action, "port-stats"))
		return RECORD_NETWORK;
	return RECORD_OTHER;
}

/* Not an attack, but something went wrong: records were lost, a reload was refused. */
static bool record_is_problem(const struct record *r, const char *action)
{
	return !strcmp(action, "events-lost") || text_is(r, "event.outcome", "failure");
}

/* event.severity of an alert, 1..100; 0 when it has none. */
static unsigned int alert_severity(const struct record *r)
{
	long long severity = 0;

	if (!int_at(r, "event.severity", &severity) || severity < 0)
		return 0;
	return severity > 100 ? 100 : (unsigned int)severity;
}

/* What an action is called where a name is wanted (CEF Name, OCSF finding types). */
struct action_info {
	const char *action;
	const char *name;
	const char *description; /* alerts: what the detector saw (OCSF finding_info.desc) */
	unsigned int analytic_type_id;
};

/* OCSF analytic.type_id */
#define ANALYTIC_RULE 1
#define ANALYTIC_BEHAVIORAL 2
#define ANALYTIC_STATISTICAL 3

static const struct action_info actions[] = {
	{ "connection-accepted", "Connection accepted", NULL, 0 },
	{ "connection-initiated", "Connection initiated", NULL, 0 },
	{ "connection-closed", "Connection closed", NULL, 0 },
	{ "listen", "Port bound", NULL, 0 },
	{ "port-stats", "Port traffic", NULL, 0 },
	{ "unauthorized-source", "Unauthorized source",
	  "A connection or SYN to a protected port from outside the rule's allow list",
	  ANALYTIC_RULE },
	{ "port-scan", "Port scan", "One source sent SYNs to many distinct ports within the window",
	  ANALYTIC_BEHAVIORAL },
	{ "brute-force", "Brute force",
	  "Many connections from one source to one port within the window", ANALYTIC_BEHAVIORAL },
	{ "rate-spike", "Connection rate spike",
	  "A published port's connection rate far above its learned baseline",
	  ANALYTIC_STATISTICAL },
	{ "rate-limit", "Rate limit exceeded", "A source above its rule's max_rate",
	  ANALYTIC_RULE },
	{ "new-source", "New source",
	  "The first connection of a source to a container port after learning",
	  ANALYTIC_BEHAVIORAL },
	{ "exposure", "Published port exposed",
	  "A published port bound to more than loopback in the development profile",
	  ANALYTIC_RULE },
	{ "events-lost", "Events lost", NULL, 0 },
	{ "container-started", "Container started", NULL, 0 },
	{ "container-stopped", "Container stopped", NULL, 0 },
	{ "config-reload", "Configuration reloaded", NULL, 0 },
	{ "runtime-reconnected", "Runtime reconnected", NULL, 0 },
};

static const struct action_info *action_info_of(const char *action)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i].action, action))
			return &actions[i];
	return NULL;
}

/* ---- the one-line summary (syslog MSG, CEF msg, OCSF message) ---- */

/* "198.51.100.2:56780", "[2001:db8::2]:56780", "anon-0123456789abcdef", ":80" */
static void put_endpoint_summary(struct buf *b, const struct record *r,
				 const struct json_node *side)
{
	const char *host = text_in(r, side, "ip");
	long long port;
	bool has_port = int_in(r, side, "port", &port);

	if (!host)
		host = text_in(r, side, "address");
	if (host && has_port && strchr(host, ':')) {
		buf_putc(b, '[');
		buf_puts(b, host);
		buf_putc(b, ']');
	} else if (host) {
		buf_puts(b, host);
	} else if (!has_port) {
		buf_putc(b, '?');
	}
	if (has_port) {
		buf_putc(b, ':');
		buf_put_int(b, port);
	}
}

/* "/tcp" */
static void put_transport_summary(struct buf *b, const struct record *r)
{
	const char *transport = text_at(r, "network.transport");

	buf_putc(b, '/');
	buf_puts(b, transport ? transport : "?");
}

/* " (web, published 0.0.0.0:8080)": the container and the published port, when known. */
static void put_container_summary(struct buf *b, const struct record *r)
{
	const char *name = text_at(r, "container.name"), *id = text_at(r, "container.id");
	const char *host_ip = text_at(r, "berth.port.host_ip");
	long long host_port;

	if (!name && !id)
		return;
	buf_append(b, " (", 2);
	if (name)
		buf_puts(b, name);
	else
		buf_append(b, id, strnlen(id, 12));
	if (host_ip && int_at(r, "berth.port.host_port", &host_port)) {
		bool v6 = strchr(host_ip, ':');

		buf_puts(b, v6 ? ", published [" : ", published ");
		buf_puts(b, host_ip);
		buf_puts(b, v6 ? "]:" : ":");
		buf_put_int(b, host_port);
	}
	buf_putc(b, ')');
}

static void summarize_alert(struct buf *b, const struct record *r, const char *action)
{
	const struct json_node *source = node_at(r, "source");
	long long port, window_ms, suppressed;
	const char *rule = text_at(r, "rule.name");

	buf_puts(b, action);
	if (source) {
		buf_putc(b, ' ');
		put_endpoint_summary(b, r, source);
	}
	if (int_at(r, "destination.port", &port)) {
		buf_printf(b, " -> %lld", port);
		put_transport_summary(b, r);
	}
	put_container_summary(b, r);
	buf_printf(b, ": rule %s, count %lld, threshold %lld", rule ? rule : "?",
		   int_or_zero(r, "berth.alert.count"), int_or_zero(r, "berth.alert.threshold"));
	if (int_at(r, "berth.alert.window_ms", &window_ms))
		buf_printf(b, " in %lld ms", window_ms);
	if (int_at(r, "berth.alert.suppressed", &suppressed) && suppressed)
		buf_printf(b, ", %lld suppressed", suppressed);
	if (is_true(node_at(r, "berth.alert.dropped")))
		buf_puts(b, ", dropped");
}

static void summarize_port_stats(struct buf *b, const struct record *r)
{
	long long port;

	if (text_is(r, "berth.view", "interface")) {
		const char *iface = text_at(r, "observer.ingress.interface.name");

		buf_printf(b, "port-stats %s ", iface ? iface : "?");
		if (int_at(r, "destination.port", &port))
			buf_printf(b, "%lld", port);
		else
			buf_puts(b, "unpublished");
		put_transport_summary(b, r);
		put_container_summary(b, r);
		buf_printf(b, ": %lld packets, %lld bytes, %lld SYNs in %lld s",
			   int_or_zero(r, "berth.stats.interval.packets_in"),
			   int_or_zero(r, "berth.stats.interval.bytes_in"),
			   int_or_zero(r, "berth.stats.interval.syns_in"),
			   int_or_zero(r, "berth.stats.interval_s"));
		return;
	}
	buf_printf(b, "port-stats %s %lld",
		   text_is(r, "berth.role", "client") ? "client" : "server",
		   int_or_zero(r, "server.port"));
	put_transport_summary(b, r);
	put_container_summary(b, r);
	buf_printf(b, ": %lld connections, %lld B in, %lld B out in %lld s",
		   int_or_zero(r, "berth.stats.interval.connections_opened"),
		   int_or_zero(r, "berth.stats.interval.bytes_in"),
		   int_or_zero(r, "berth.stats.interval.bytes_out"),
		   int_or_zero(r, "berth.stats.interval_s"));
}

/* Raw text, not escaped for any format yet. */
static void summarize(struct buf *b, const struct record *r, const char *action)
{
	const char *text;
	long long duration_ns;

	if (r->alert) {
		summarize_alert(b, r, action);
	} else if (!strncmp(action, "connection-", 11)) {
		buf_puts(b, action);
		buf_putc(b, ' ');
		put_endpoint_summary(b, r, node_at(r, "source"));
		buf_puts(b, " -> ");
		put_endpoint_summary(b, r, node_at(r, "destination"));
		put_transport_summary(b, r);
		put_container_summary(b, r);
		if (int_at(r, "event.duration", &duration_ns)) {
			buf_puts(b, " after ");
			buf_put_int(b, duration_ns / 1000000);
			buf_puts(b, " ms");
		}
	} else if (!strcmp(action, "listen")) {
		buf_puts(b, "listen ");
		put_endpoint_summary(b, r, node_at(r, "server"));
		put_transport_summary(b, r);
		put_container_summary(b, r);
	} else if (!strcmp(action, "port-stats")) {
		summarize_port_stats(b, r);
	} else if (!strcmp(action, "container-started") || !strcmp(action, "container-stopped")) {
		const char *name = text_at(r, "container.name"), *id = text_at(r, "container.id");

		if (name)
			buf_printf(b, "%s %s", action, name);
		else
			buf_printf(b, "%s %.12s", action, id ? id : "?");
		text = text_at(r, "container.image.name");
		if (text)
			buf_printf(b, " (%s)", text);
	} else if (!strcmp(action, "events-lost")) {
		text = text_at(r, "berth.lost.cause");
		buf_printf(b, "events-lost %s", text ? text : "?");
		text = text_at(r, "berth.lost.sink");
		if (text)
			buf_printf(b, " (output %s)", text);
		buf_printf(b, ": %lld (total %lld)", int_or_zero(r, "berth.lost.count"),
			   int_or_zero(r, "berth.lost.total"));
	} else if (!strcmp(action, "config-reload")) {
		if (text_is(r, "event.outcome", "failure")) {
			text = text_at(r, "error.message");
			buf_printf(b, "config-reload failure: %s", text ? text : "?");
		} else {
			text = text_at(r, "berth.config.path");
			buf_printf(b, "config-reload success: %lld rules from %s",
				   int_or_zero(r, "berth.config.rules"), text ? text : "?");
		}
	} else if (!strcmp(action, "runtime-reconnected")) {
		text = text_at(r, "berth.runtime.name");
		buf_printf(b, "runtime-reconnected %s after %lld ms, %lld containers changed",
			   text ? text : "?", int_or_zero(r, "berth.runtime.down_ms"),
			   int_or_zero(r, "berth.runtime.containers_changed"));
	} else {
		buf_puts(b, action);
	}
}

/* ---- RFC 5424 ---- */

#define SYSLOG_FACILITY_DEFAULT 16 /* local0 */
#define SYSLOG_CRIT 2
#define SYSLOG_ERR 3
#define SYSLOG_WARNING 4
#define SYSLOG_INFO 6
#define SYSLOG_HOSTNAME_MAX 255
#define SYSLOG_APP_NAME_MAX 48
#define SYSLOG_MSGID_MAX 32
#define SD_NAME_MAX 32
/* Deeper values are left out of the structured data: berth's records nest 5 deep. */
#define SD_MAX_DEPTH 16

/*
 * Alerts by event.severity: below 50 warning, below 75 err, crit above;
 * events-lost and a refused reload warning; every other record info.
 */
static unsigned int syslog_severity(const struct record *r, const char *action)
{
	if (r->alert) {
		unsigned int severity = alert_severity(r);

		return severity >= 75 ? SYSLOG_CRIT : severity >= 50 ? SYSLOG_ERR : SYSLOG_WARNING;
	}
	return record_is_problem(r, action) ? SYSLOG_WARNING : SYSLOG_INFO;
}

static int syslog_header(const struct record *r, const char *action, int64_t ms,
			 const struct syslog_options *sys, struct buf *out)
{
	unsigned int facility = SYSLOG_FACILITY_DEFAULT;
	const char *app_name = "berth";
	const struct json_node *host = node_at(r, "host.name");

	/* 0 is "the default" in a sink's configuration: kern is the kernel's own. */
	if (sys && sys->facility && sys->facility <= 23)
		facility = sys->facility;
	if (sys && sys->app_name && *sys->app_name)
		app_name = sys->app_name;
	buf_putc(out, '<');
	buf_put_int(out, facility * 8 + syslog_severity(r, action));
	buf_append(out, ">1 ", 3);
	put_rfc3339(out, ms);
	buf_putc(out, ' ');
	if (string_of(host))
		put_token(out, host->text, host->len, SYSLOG_HOSTNAME_MAX, false);
	else
		put_token(out, "", 0, SYSLOG_HOSTNAME_MAX, false);
	buf_putc(out, ' ');
	put_token(out, app_name, strlen(app_name), SYSLOG_APP_NAME_MAX, false);
	if (sys && sys->procid) {
		buf_putc(out, ' ');
		buf_put_int(out, sys->procid);
		buf_putc(out, ' ');
	} else {
		buf_append(out, " - ", 3);
	}
	put_token(out, action, strlen(action), SYSLOG_MSGID_MAX, false);
	buf_putc(out, ' ');
	return out->failed ? -1 : 0;
}

int format_syslog_header(const struct json_doc *ecs, const struct syslog_options *sys,
			 struct buf *out)
{
	struct record r;
	const char *action;
	int64_t ms;

	if (!record_basics(&r, ecs, &ms, &action))
		return -1;
	return syslog_header(&r, action, ms, sys, out);
}

/* One SD-PARAM: ` name="value"`; null is left out. */
static void put_sd_param(struct buf *out, const char *name, size_t name_len,
			 const struct json_node *v)
{
	switch (v->type) {
	case JSON_NODE_STRING:
	case JSON_NODE_INTEGER:
	case JSON_NODE_REAL:
	case JSON_NODE_TRUE:
	case JSON_NODE_FALSE:
		break;
	default:
		return;
	}
	buf_putc(out, ' ');
	put_token(out, name, name_len, SD_NAME_MAX, true);
	buf_append(out, "=\"", 2);
	if (v->type == JSON_NODE_TRUE)
		buf_append(out, "true", 4);
	else if (v->type == JSON_NODE_FALSE)
		buf_append(out, "false", 5);
	else
		put_text(out, v->text, v->len, TEXT_SD_VALUE);
	buf_putc(out, '"');
}

/*
 * path[len..]: ".name" (or "name" at the start), cut where an SD-NAME ends;
 * the new length.
 */
static size_t path_add(char *path, size_t len, const char *name, size_t name_len)
{
	size_t room = SD_NAME_MAX + 1 - len;

	if (len && room) {
		path[len++] = '.';
		room--;
	}
	if (name_len > room)
		name_len = room;
	memcpy(path + len, name, name_len);
	len += name_len;
	path[len] = '\0';
	return len;
}

/*
 * The SD-PARAMs of v, named by their dotted path inside the top-level
 * object (path[0..len)). Arrays of values repeat the name (RFC 5424 allows
 * an SD-PARAM more than once); objects inside arrays get their index in
 * the path, so that the members of one stay together: ports.0.host_port.
 * Names are cut at 32 characters, so the path need not be longer.
 */
static void put_sd_params(struct buf *out, const struct record *r, char *path, size_t len,
			  const struct json_node *v, unsigned int depth)
{
	const struct json_node *m;
	char index[24];
	size_t i = 0;

	if (depth > SD_MAX_DEPTH)
		return;
	if (v->type == JSON_NODE_OBJECT) {
		for (m = json_first(r->doc, v); m; m = json_next(r->doc, m)) {
			put_sd_params(out, r, path, path_add(path, len, m->key, m->key_len), m,
				      depth + 1);
			path[len] = '\0';
		}
	} else if (v->type == JSON_NODE_ARRAY) {
		for (m = json_first(r->doc, v); m; m = json_next(r->doc, m), i++) {
			if (m->type != JSON_NODE_OBJECT && m->type != JSON_NODE_ARRAY) {
				put_sd_param(out, path, len, m);
				continue;
			}
			snprintf(index, sizeof(index), "%zu", i);
			put_sd_params(out, r, path, path_add(path, len, index, strlen(index)), m,
				      depth + 1);
			path[len] = '\0';
		}
	} else {
		put_sd_param(out, path, len, v);
	}
}

/*
 * One SD-ELEMENT per top-level object of the record, SD-ID
 * "<object>@<PEN>"; "-" when there is none. @timestamp is in the header.
 */
static void put_structured_data(struct buf *out, const struct record *r)
{
	/* Room for a name of SD_NAME_MAX, one more to know it was cut, and the NUL. */
	char path[SD_NAME_MAX + 2];
	char pen[16];
	bool any = false;
	int pen_len = snprintf(pen, sizeof(pen), "@%u", SYSLOG_SD_PEN);

	for (const struct json_node *m = json_first(r->doc, r->root); m; m = json_next(r->doc, m)) {
		if (m->type != JSON_NODE_OBJECT)
			continue;
		buf_putc(out, '[');
		put_token(out, m->key, m->key_len, SD_NAME_MAX - pen_len, true);
		buf_append(out, pen, pen_len);
		path[0] = '\0';
		put_sd_params(out, r, path, 0, m, 0);
		buf_putc(out, ']');
		any = true;
	}
	if (!any)
		buf_putc(out, '-');
}

static int format_rfc5424(const struct record *r, const char *action, int64_t ms,
			  const struct syslog_options *sys, struct buf *out)
{
	struct buf *msg = &scratch;

	if (syslog_header(r, action, ms, sys, out))
		return -1;
	put_structured_data(out, r);
	buf_putc(out, ' ');
	buf_reset(msg);
	summarize(msg, r, action);
	put_text(out, msg->data ? msg->data : "", msg->len, TEXT_ASCII);
	if (msg->failed)
		out->failed = true;
	return out->failed ? -1 : 0;
}

/* ---- CEF ---- */

/*
 * 0-10 in the header: alerts event.severity / 10 (rounded, at least 1),
 * problems 5, other events 1.
 */
static unsigned int cef_severity(const struct record *r, const char *action)
{
	if (r->alert) {
		unsigned int severity = (alert_severity(r) + 5) / 10;

		return severity < 1 ? 1 : severity;
	}
	return record_is_problem(r, action) ? 5 : 1;
}

/* " key=" */
static void cef_key(struct buf *out, const char *key)
{
	buf_putc(out, ' ');
	buf_puts(out, key);
	buf_putc(out, '=');
}

/* ` key=value` with the value escaped; nothing when value is NULL. */
static void cef_text(struct buf *out, const char *key, const char *value)
{
	if (!value)
		return;
	cef_key(out, key);
	put_text(out, value, strlen(value), TEXT_CEF_VALUE);
}

static void cef_int(struct buf *out, const char *key, const struct record *r,
		    const struct json_node *n, const char *path)
{
	long long value;

	if (int_in(r, n, path, &value)) {
		cef_key(out, key);
		buf_put_int(out, value);
	}
}

/* cnN=value cnNLabel=label, when the record has the value. */
static void cef_number(struct buf *out, unsigned int n, const char *label, const struct record *r,
		       const char *path)
{
	long long value;

	if (int_at(r, path, &value))
		buf_printf(out, " cn%u=%lld cn%uLabel=%s", n, value, n, label);
}

static void cef_custom(struct buf *out, unsigned int n, const char *label, const char *value)
{
	char key[4] = { 'c', 's', (char)('0' + n), '\0' };

	if (!value)
		return;
	cef_text(out, key, value);
	buf_putc(out, ' ');
	buf_puts(out, key);
	buf_puts(out, "Label=");
	buf_puts(out, label);
}

/* "0.0.0.0:8080->80/tcp" */
static void put_binding_text(struct buf *b, const struct record *r, const struct json_node *binding)
{
	const char *host_ip = text_in(r, binding, "host_ip");
	const char *protocol = text_in(r, binding, "protocol");
	bool v6 = host_ip && strchr(host_ip, ':');

	if (v6)
		buf_putc(b, '[');
	buf_puts(b, host_ip ? host_ip : "");
	buf_puts(b, v6 ? "]:" : ":");
	buf_put_int(b, int_or_zero_in(r, binding, "host_port"));
	buf_append(b, "->", 2);
	buf_put_int(b, int_or_zero_in(r, binding, "container_port"));
	buf_putc(b, '/');
	buf_puts(b, protocol ? protocol : "?");
}

/* The CEF extension's counters: cn1..cn3 by record kind. */
static void cef_numbers(struct buf *out, const struct record *r, const char *action,
			enum record_class rc)
{
	long long duration_ns;

	if (rc == RECORD_ALERT) {
		cef_number(out, 1, "threshold", r, "berth.alert.threshold");
		cef_number(out, 2, "windowMs", r, "berth.alert.window_ms");
		cef_number(out, 3, "suppressed", r, "berth.alert.suppressed");
	} else if (!strcmp(action, "connection-closed")) {
		if (int_at(r, "event.duration", &duration_ns))
			buf_printf(out, " cn1=%lld cn1Label=durationMs", duration_ns / 1000000);
		cef_number(out, 2, "rttUs", r, "berth.connection.rtt_us");
		cef_number(out, 3, "retransmits", r, "berth.connection.retransmits");
	} else if (!strcmp(action, "port-stats") && text_is(r, "berth.view", "interface")) {
		cef_number(out, 1, "synsIn", r, "berth.stats.interval.syns_in");
		cef_number(out, 2, "packetsIn", r, "berth.stats.interval.packets_in");
		cef_number(out, 3, "synsDropped", r, "berth.stats.interval.syns_dropped");
	} else if (!strcmp(action, "port-stats")) {
		cef_number(out, 1, "connectionsOpened", r,
			   "berth.stats.interval.connections_opened");
		cef_number(out, 2, "packetsIn", r, "berth.stats.interval.packets_in");
		cef_number(out, 3, "packetsOut", r, "berth.stats.interval.packets_out");
	} else if (!strcmp(action, "events-lost")) {
		cef_number(out, 1, "lostTotal", r, "berth.lost.total");
	} else if (!strcmp(action, "config-reload")) {
		cef_number(out, 1, "rules", r, "berth.config.rules");
	} else if (!strcmp(action, "runtime-reconnected")) {
		cef_number(out, 1, "downMs", r, "berth.runtime.down_ms");
		cef_number(out, 2, "containersChanged", r, "berth.runtime.containers_changed");
	}
}

static void cef_extension(struct buf *out, const struct record *r, const char *action, int64_t ms,
			  struct buf *scratch)
{
	enum record_class rc = record_class_of(r, action);
	const struct json_node *far =
		node_at(r, "destination") ? node_at(r, "destination") : node_at(r, "server");
	const char *transport = text_at(r, "network.transport");
	const char *direction = text_at(r, "network.direction");
	const char *image = text_at(r, "container.image.name");
	const struct json_node *tags = node_at(r, "container.image.tag");
	const char *tag =
		tags && tags->type == JSON_NODE_ARRAY ? string_of(json_first(r->doc, tags)) : NULL;
	const struct json_node *ports = node_at(r, "berth.ports"), *binding;

	buf_append(out, "rt=", 3);
	buf_put_int(out, ms);
	cef_text(out, "dvchost", text_at(r, "host.name"));
	if (text_at(r, "source.ip"))
		cef_text(out, "src", text_at(r, "source.ip"));
	else
		cef_text(out, "shost", text_at(r, "source.address"));
	cef_int(out, "spt", r, r->root, "source.port");
	cef_text(out, "dst", text_in(r, far, "ip"));
	cef_int(out, "dpt", r, far, "port");
	if (transport) {
		/* CEF writes protocols upper-case; escaped like any value, whatever the record holds. */
		char upper[32];
		size_t i;

		for (i = 0; transport[i] && i < sizeof(upper) - 1; i++)
			upper[i] = transport[i] >= 'a' && transport[i] <= 'z' ?
					   transport[i] - 'a' + 'A' :
					   transport[i];
		upper[i] = '\0';
		cef_text(out, "proto", upper);
	}
	/* CEF: 0 inbound, 1 outbound. The interface view only sees what comes in. */
	if ((direction && !strcmp(direction, "ingress")) || text_is(r, "berth.view", "interface") ||
	    (!strcmp(action, "port-stats") && text_is(r, "berth.role", "server")))
		buf_puts(out, " deviceDirection=0");
	else if ((direction && !strcmp(direction, "egress")) || text_is(r, "berth.role", "client"))
		buf_puts(out, " deviceDirection=1");
	if (!strcmp(action, "connection-closed")) {
		cef_int(out, "in", r, r->root, "berth.connection.bytes_in");
		cef_int(out, "out", r, r->root, "berth.connection.bytes_out");
	} else if (!strcmp(action, "port-stats")) {
		cef_int(out, "in", r, r->root, "berth.stats.interval.bytes_in");
		cef_int(out, "out", r, r->root, "berth.stats.interval.bytes_out");
	}
	if (rc == RECORD_ALERT) {
		cef_int(out, "cnt", r, r->root, "berth.alert.count");
		buf_puts(out, is_true(node_at(r, "berth.alert.dropped")) ? " act=blocked" :
									   " act=alerted");
	} else if (!strcmp(action, "events-lost")) {
		cef_int(out, "cnt", r, r->root, "berth.lost.count");
	}
	cef_text(out, "reason", text_at(r, "berth.lost.cause"));
	cef_text(out, "reason", text_at(r, "error.message"));
	cef_text(out, "filePath", text_at(r, "berth.config.path"));

	cef_custom(out, 1, "containerName", text_at(r, "container.name"));
	cef_custom(out, 2, "containerId", text_at(r, "container.id"));
	buf_reset(scratch);
	if (image) {
		buf_puts(scratch, image);
		if (tag) {
			buf_putc(scratch, ':');
			buf_puts(scratch, tag);
		}
	}
	cef_custom(out, 3, "containerImage", image ? scratch->data : NULL);
	cef_custom(out, 4, "ruleName", text_at(r, "rule.name"));
	buf_reset(scratch);
	if (is_object(node_at(r, "berth.port")))
		put_binding_text(scratch, r, node_at(r, "berth.port"));
	if (ports && ports->type == JSON_NODE_ARRAY) {
		for (binding = json_first(r->doc, ports); binding;
		     binding = json_next(r->doc, binding)) {
			if (scratch->len)
				buf_putc(scratch, ',');
			put_binding_text(scratch, r, binding);
		}
	}
	cef_custom(out, 5, ports ? "publishedPorts" : "publishedPort",
		   scratch->len ? scratch->data : NULL);
	cef_custom(out, 6, "view", text_at(r, "berth.view"));
	cef_numbers(out, r, action, rc);

	buf_reset(scratch);
	summarize(scratch, r, action);
	cef_text(out, "msg", scratch->data ? scratch->data : "");
	if (scratch->failed)
		out->failed = true;
}

static int format_cef(const struct record *r, const char *action, int64_t ms, struct buf *out)
{
	const struct action_info *info = action_info_of(action);
	const char *version = text_at(r, "berth.version");
	const char *name = info ? info->name : action;

	if (!strcmp(action, "config-reload") && text_is(r, "event.outcome", "failure"))
		name = "Configuration reload failed";
	buf_puts(out, "CEF:0|berth|berth|");
	put_text_z(out, version ? version : BERTH_VERSION, TEXT_CEF_HEADER);
	buf_putc(out, '|');
	put_text_z(out, action, TEXT_CEF_HEADER);
	buf_putc(out, '|');
	put_text_z(out, name, TEXT_CEF_HEADER);
	buf_putc(out, '|');
	buf_put_int(out, cef_severity(r, action));
	buf_putc(out, '|');
	cef_extension(out, r, action, ms, &scratch);
	return out->failed ? -1 : 0;
}

/* ---- OCSF 1.1 ---- */

#define OCSF_VERSION "1.1.0"
#define OCSF_CLASS_BASE 0
#define OCSF_CLASS_DETECTION_FINDING 2004
#define OCSF_CLASS_NETWORK_ACTIVITY 4001
#define OCSF_ACTIVITY_OPEN 1
#define OCSF_ACTIVITY_CLOSE 2
#define OCSF_ACTIVITY_TRAFFIC 6
#define OCSF_ACTIVITY_CREATE 1
#define OCSF_ACTIVITY_OTHER 99

static const char *const ocsf_severities[] = { "Unknown", "Informational", "Low",
					       "Medium",  "High",	   "Critical" };

/* Alerts: event.severity in fifths of 1..100; problems Medium; other records Informational. */
static unsigned int ocsf_severity_id(const struct record *r, const char *action)
{
	if (r->alert) {
		unsigned int severity = alert_severity(r);

		return severity >= 80 ? 5 :
		       severity >= 60 ? 4 :
		       severity >= 40 ? 3 :
		       severity >= 20 ? 2 :
					1;
	}
	return record_is_problem(r, action) ? 3 : 1;
}

/* The members of a network_endpoint: ip and port; a pseudonymised source.address as uid. */
static void ocsf_endpoint_members(struct json_line *w, const struct record *r,
				  const struct json_node *side)
{
	copy_text(w, "ip", r, side, "ip");
	copy_text(w, "uid", r, side, "address");
	copy_int(w, "port", r, side, "port");
}

/* An evidence's endpoint: only when the record has the side, and not empty. */
static void ocsf_evidence_endpoint(struct json_line *w, const char *key, const struct record *r,
				   const char *side)
{
	const struct json_node *n = node_at(r, side);

	if (!is_object(n))
		return;
	json_begin_object(w, key);
	ocsf_endpoint_members(w, r, n);
	json_end_object_unless_empty(w);
}

static unsigned int protocol_number(const char *transport)
{
	if (!strcmp(transport, "tcp"))
		return 6;
	if (!strcmp(transport, "udp"))
		return 17;
	/* transport_name() writes other protocols as their number */
	return (unsigned int)strtoul(transport, NULL, 10) & 0xff;
}

/* network_connection_info; direction "ingress", "egress" or NULL (unknown). */
static void ocsf_connection_info(struct json_line *w, const struct record *r, const char *direction)
{
	const char *transport = text_at(r, "network.transport");
	const char *ip_version = text_at(r, "network.type");
	const struct json_node *cookie = node_at(r, "berth.socket_cookie");
	long long unused;

	json_begin_object(w, "connection_info");
	if (json_node_int(cookie, &unused))
		json_add_string_len(w, "uid", cookie->text, cookie->len);
	if (transport) {
		json_add_string(w, "protocol_name", transport);
		json_add_int(w, "protocol_num", protocol_number(transport));
	}
	if (ip_version && !strcmp(ip_version, "ipv4")) {
		json_add_int(w, "protocol_ver_id", 4);
		json_add_string(w, "protocol_ver", "Internet Protocol version 4 (IPv4)");
	} else if (ip_version && !strcmp(ip_version, "ipv6")) {
		json_add_int(w, "protocol_ver_id", 6);
		json_add_string(w, "protocol_ver", "Internet Protocol version 6 (IPv6)");
	}
	if (direction && !strcmp(direction, "ingress")) {
		json_add_int(w, "direction_id", 1);
		json_add_string(w, "direction", "Inbound");
	} else if (direction && !strcmp(direction, "egress")) {
		json_add_int(w, "direction_id", 2);
		json_add_string(w, "direction", "Outbound");
	} else {
		json_add_int(w, "direction_id", 0);
		json_add_string(w, "direction", "Unknown");
	}
	json_end_object(w);
}

/* container (profile "container"): uid, name, image, runtime, orchestrator; true when written. */
static bool ocsf_container(struct json_line *w, const struct record *r)
{
	const struct json_node *tags = node_at(r, "container.image.tag");

	if (!is_object(node_at(r, "container")))
		return false;
	json_begin_object(w, "container");
	copy_text(w, "uid", r, r->root, "container.id");
	copy_text(w, "name", r, r->root, "container.name");
	json_begin_object(w, "image");
	copy_text(w, "name", r, r->root, "container.image.name");
	/* ECS's tag is an array; OCSF's image has one tag */
	if (tags && tags->type == JSON_NODE_ARRAY) {
		const struct json_node *tag = json_first(r->doc, tags);

		if (string_of(tag))
			json_add_string_len(w, "tag", tag->text, tag->len);
	}
	json_end_object_unless_empty(w);
	copy_text(w, "runtime", r, r->root, "container.runtime");
	copy_text(w, "network_driver", r, r->root, "berth.container.network_mode");
	if (text_at(r, "orchestrator.type")) {
		copy_text(w, "orchestrator", r, r->root, "orchestrator.type");
		copy_text(w, "pod_uuid", r, r->root, "orchestrator.resource.id");
	}
	return json_end_object_unless_empty(w);
}

/*
 * What OCSF has no place for: berth's own object (without its version,
 * which is metadata.product.version), the container's labels and security
 * context, the Kubernetes namespace and pod name.
 */
static void ocsf_unmapped(struct json_line *w, const struct record *r)
{
	const struct json_node *berth = node_at(r, "berth"), *v;

	json_begin_object(w, "unmapped");
	if (is_object(berth)) {
		json_begin_object(w, "berth");
		for (v = json_first(r->doc, berth); v; v = json_next(r->doc, v))
			if (strcmp(v->key, "version"))
				json_add_node(w, r->doc, v);
		json_end_object_unless_empty(w);
	}
	json_begin_object(w, "container");
	v = node_at(r, "container.labels");
	if (v)
		json_add_node(w, r->doc, v);
	v = node_at(r, "container.security_context");
	if (v)
		json_add_node(w, r->doc, v);
	json_end_object_unless_empty(w);
	v = node_at(r, "orchestrator");
	if (v)
		json_add_node(w, r->doc, v);
	json_end_object_unless_empty(w);
}

/* a, b and c in text (cut to its size); the length. */
static size_t joined(char *text, size_t size, const char *a, const char *b, const char *c)
{
	const char *parts[] = { a, b, c };
	size_t len = 0;

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);

		if (n > size - 1 - len)
			n = size - 1 - len;
		memcpy(text + len, parts[i], n);
		len += n;
	}
	text[len] = '\0';
	return len;
}

struct ocsf_class {
	unsigned int class_uid, category_uid, activity_id;
	const char *class_name, *category_name, *activity_name;
};

/* Opens the event with the fields of the base event every class has, in OCSF's order of reading. */
static void ocsf_begin(struct json_line *w, const struct ocsf_class *cls, const struct record *r,
		       const char *action, int64_t ms)
{
	unsigned int severity_id = ocsf_severity_id(r, action);
	char type_name[128];

	json_begin_object(w, NULL);
	json_add_int(w, "class_uid", cls->class_uid);
	json_add_string(w, "class_name", cls->class_name);
	json_add_int(w, "category_uid", cls->category_uid);
	json_add_string(w, "category_name", cls->category_name);
	json_add_int(w, "activity_id", cls->activity_id);
	json_add_string(w, "activity_name", cls->activity_name);
	json_add_int(w, "type_uid", (long long)cls->class_uid * 100 + cls->activity_id);
	json_add_string_len(
		w, "type_name", type_name,
		joined(type_name, sizeof(type_name), cls->class_name, ": ", cls->activity_name));
	json_add_int(w, "time", ms);
	json_add_int(w, "severity_id", severity_id);
	json_add_string(w, "severity", ocsf_severities[severity_id]);
}

/* message, metadata, device: after the class's own fields. */
static void ocsf_common(struct json_line *w, const struct record *r, const char *action,
			bool with_container, bool blocked)
{
	const char *version = text_at(r, "berth.version");
	buf_reset(&scratch);
	summarize(&scratch, r, action);
	if (!scratch.failed)
		json_add_string_len(w, "message", scratch.data ? scratch.data : "", scratch.len);

	json_begin_object(w, "metadata");
	json_add_string(w, "version", OCSF_VERSION);
	json_begin_object(w, "product");
	json_add_string(w, "name", "berth");
	json_add_string(w, "vendor_name", "berth");
	json_add_string(w, "version", version ? version : BERTH_VERSION);
	json_end_object(w);
	json_add_string(w, "event_code", action);
	json_begin_array(w, "profiles");
	if (text_at(r, "host.name"))
		json_add_string(w, NULL, "host");
	if (with_container)
		json_add_string(w, NULL, "container");
	if (blocked)
		json_add_string(w, NULL, "security_control");
	json_end_array(w);
	json_end_object(w);

	if (text_at(r, "host.name")) {
		json_begin_object(w, "device");
		copy_text(w, "hostname", r, r->root, "host.name");
		json_add_int(w, "type_id", 0);
		json_add_string(w, "type", "Unknown");
		json_end_object(w);
	}
}

/* traffic of port-stats in the socket view: a server's clients are the sources. */
static void ocsf_socket_traffic(struct json_line *w, const struct record *r, bool client)
{
	const struct json_node *interval = node_at(r, "berth.stats.interval");
	long long a = 0, b = 0;

	/* what a server received went source -> destination (bytes_out); a client is the source */
	if (int_in(r, interval, client ? "bytes_out" : "bytes_in", &a))
		json_add_int(w, "bytes_out", a);
	if (int_in(r, interval, client ? "bytes_in" : "bytes_out", &b))
		json_add_int(w, "bytes_in", b);
	add_sum(w, "bytes", a, b);
	a = b = 0;
	if (int_in(r, interval, client ? "packets_out" : "packets_in", &a))
		json_add_int(w, "packets_out", a);
	if (int_in(r, interval, client ? "packets_in" : "packets_out", &b))
		json_add_int(w, "packets_in", b);
	add_sum(w, "packets", a, b);
}

static void ocsf_network_activity(struct json_line *w, const struct record *r, const char *action,
				  int64_t ms)
{
	struct ocsf_class cls = { OCSF_CLASS_NETWORK_ACTIVITY, 4,
				  OCSF_ACTIVITY_OTHER,	       "Network Activity",
				  "Network Activity",	       "Other" };
	bool connection = !strncmp(action, "connection-", 11);
	bool closed = !strcmp(action, "connection-closed");
	bool listen = !strcmp(action, "listen");
	bool interface_view = !connection && !listen && text_is(r, "berth.view", "interface");
	bool socket_view = !connection && !listen && !interface_view;
	bool client = text_is(r, "berth.role", "client");
	const char *direction = text_at(r, "network.direction");
	long long duration_ns, interval_s;

	if (closed) {
		cls.activity_id = OCSF_ACTIVITY_CLOSE;
		cls.activity_name = "Close";
	} else if (!strcmp(action, "port-stats")) {
		cls.activity_id = OCSF_ACTIVITY_TRAFFIC;
		cls.activity_name = "Traffic";
	} else if (listen) {
		/* OCSF 1.1 has no Listen activity (1.3 adds it as 7) */
		cls.activity_name = "Listen";
	} else {
		cls.activity_id = OCSF_ACTIVITY_OPEN;
		cls.activity_name = "Open";
	}
	if (interface_view)
		direction = "ingress"; /* XDP counts what arrives */
	else if (socket_view)
		direction = client ? "egress" : "ingress";
	ocsf_begin(w, &cls, r, action, ms);
	if (!strcmp(action, "port-stats") && int_at(r, "berth.stats.interval_s", &interval_s) &&
	    interval_s >= 0 && interval_s <= ms / 1000) {
		json_add_int(w, "start_time", ms - interval_s * 1000);
		json_add_int(w, "end_time", ms);
	}
	if (int_at(r, "event.duration", &duration_ns))
		json_add_int(w, "duration", duration_ns / 1000000);

	/* OCSF 1.1 requires both endpoints; unknown is an empty one, not an invented one. */
	json_begin_object(w, "src_endpoint");
	if (connection)
		ocsf_endpoint_members(w, r, node_at(r, "source"));
	json_end_object(w);
	json_begin_object(w, "dst_endpoint");
	if (connection || interface_view)
		ocsf_endpoint_members(w, r, node_at(r, "destination"));
	else
		ocsf_endpoint_members(w, r, node_at(r, "server"));
	if (interface_view)
		copy_text(w, "interface_name", r, r->root, "observer.ingress.interface.name");
	json_end_object(w);
	ocsf_connection_info(w, r, direction);

	if (closed || interface_view || socket_view) {
		json_begin_object(w, "traffic");
		if (closed) {
			/* OCSF counts from the source's side: bytes_out went source -> destination */
			long long sent = 0, received = 0;
			bool has_sent = int_at(r, "source.bytes", &sent);
			bool has_received = int_at(r, "destination.bytes", &received);

			if (has_sent)
				json_add_int(w, "bytes_out", sent);
			if (has_received)
				json_add_int(w, "bytes_in", received);
			if (has_sent && has_received)
				add_sum(w, "bytes", sent, received);
		} else if (interface_view) {
			/* from the (unknown) sources to the host port */
			copy_int(w, "bytes_out", r, r->root, "berth.stats.interval.bytes_in");
			copy_int(w, "bytes", r, r->root, "berth.stats.interval.bytes_in");
			copy_int(w, "packets_out", r, r->root, "berth.stats.interval.packets_in");
			copy_int(w, "packets", r, r->root, "berth.stats.interval.packets_in");
		} else {
			ocsf_socket_traffic(w, r, client);
		}
		json_end_object_unless_empty(w);
	}
	ocsf_common(w, r, action, ocsf_container(w, r), false);
	ocsf_unmapped(w, r);
	json_end_object(w);
}

/*
 * finding_info.uid: the first 16 bytes of SHA-256 over the record as an
 * ECS output writes it, after the sink's transforms: the same alert record
 * always gets the same uid, and a pseudonymised record does not hash its
 * source address.
 */
static void ocsf_finding_uid(struct json_line *w, const struct record *r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	struct buf ecs = { 0 };
	struct json_line record = { .out = &ecs };
	char uid[32];

	json_add_node(&record, r->doc, r->root);
	if (!ecs.failed && EVP_Digest(ecs.data, ecs.len, digest, &digest_len, EVP_sha256(), NULL) &&
	    digest_len >= 16) {
		for (int i = 0; i < 16; i++) {
			uid[2 * i] = hex[digest[i] >> 4];
			uid[2 * i + 1] = hex[digest[i] & 0xf];
		}
		json_add_string_len(w, "uid", uid, sizeof(uid));
	}
	buf_free(&ecs);
}

static void ocsf_detection_finding(struct json_line *w, const struct record *r, const char *action,
				   int64_t ms)
{
	static const char *const analytic_types[] = { "Unknown", "Rule", "Behavioral",
						      "Statistical" };
	const struct ocsf_class cls = {
		OCSF_CLASS_DETECTION_FINDING, 2,	  OCSF_ACTIVITY_CREATE,
		"Detection Finding",	      "Findings", "Create"
	};
	const struct action_info *info = action_info_of(action);
	unsigned int analytic_type = info ? info->analytic_type_id : 0;
	bool blocked = is_true(node_at(r, "berth.alert.dropped"));
	long long window_ms;

	ocsf_begin(w, &cls, r, action, ms);
	json_add_int(w, "status_id", 1);
	json_add_string(w, "status", "New");
	copy_int(w, "count", r, r->root, "berth.alert.count");
	if (int_at(r, "berth.alert.window_ms", &window_ms) && window_ms >= 0 && window_ms <= ms) {
		json_add_int(w, "start_time", ms - window_ms);
		json_add_int(w, "end_time", ms);
	}
	if (blocked) {
		json_add_int(w, "disposition_id", 2);
		json_add_string(w, "disposition", "Blocked");
	}

	json_begin_object(w, "finding_info");
	ocsf_finding_uid(w, r);
	buf_reset(&scratch);
	summarize(&scratch, r, action);
	if (!scratch.failed)
		json_add_string_len(w, "title", scratch.data ? scratch.data : "", scratch.len);
	if (info && info->description)
		json_add_string(w, "desc", info->description);
	json_begin_array(w, "types");
	json_add_string(w, NULL, action);
	json_end_array(w);
	json_begin_object(w, "analytic");
	if (text_at(r, "rule.name"))
		copy_text(w, "name", r, r->root, "rule.name");
	else
		json_add_string(w, "name", action);
	json_add_int(w, "type_id", analytic_type);
	json_add_string(w, "type", analytic_types[analytic_type]);
	json_add_string(w, "category", action);
	json_end_object(w);
	json_add_int(w, "created_time", ms);
	json_end_object(w);

	json_begin_array(w, "evidences");
	json_begin_object(w, NULL);
	ocsf_evidence_endpoint(w, "src_endpoint", r, "source");
	ocsf_evidence_endpoint(w, "dst_endpoint", r, "destination");
	if (text_at(r, "network.transport"))
		ocsf_connection_info(w, r, "ingress");
	ocsf_container(w, r);
	json_end_object_unless_empty(w);
	json_end_array_unless_empty(w);

	ocsf_common(w, r, action, false, blocked);
	ocsf_unmapped(w, r);
	json_end_object(w);
}

/* Base Event (class 0): activity Other named by the action, berth's content unmapped. */
static void ocsf_base_event(struct json_line *w, const struct record *r, const char *action,
			    int64_t ms)
{
	const struct ocsf_class cls = { OCSF_CLASS_BASE, 0,	OCSF_ACTIVITY_OTHER, "Base Event",
					"Uncategorized", action };
	const char *outcome = text_at(r, "event.outcome");

	ocsf_begin(w, &cls, r, action, ms);
	if (outcome && !strcmp(outcome, "success")) {
		json_add_int(w, "status_id", 1);
		json_add_string(w, "status", "Success");
	} else if (outcome && !strcmp(outcome, "failure")) {
		json_add_int(w, "status_id", 2);
		json_add_string(w, "status", "Failure");
		copy_text(w, "status_detail", r, r->root, "error.message");
	}
	ocsf_common(w, r, action, ocsf_container(w, r), false);
	ocsf_unmapped(w, r);
	json_end_object(w);
}

static int format_ocsf(const struct record *r, const char *action, int64_t ms, struct buf *out)
{
	struct json_line w = { .out = out };

	switch (record_class_of(r, action)) {
	case RECORD_ALERT:
		ocsf_detection_finding(&w, r, action, ms);
		break;
	case RECORD_NETWORK:
		ocsf_network_activity(&w, r, action, ms);
		break;
	default:
		ocsf_base_event(&w, r, action, ms);
	}
	return out->failed ? -1 : 0;
}

/* ---- every format ---- */

/* ECS as it is: re-written from the nodes, so that the transforms show. */
static int format_ecs(const struct json_doc *ecs, struct buf *out)
{
	struct record r = { .doc = ecs, .root = json_root(ecs) };
	struct json_line w = { .out = out };

	/* The record was checked where it was made: only what every record has. */
	if (!is_object(r.root) || !json_member(ecs, r.root, "@timestamp", 10) ||
	    !text_at(&r, "event.action"))
		return -1;
	json_add_node(&w, ecs, r.root);
	return out->failed ? -1 : 0;
}

int format_record(enum output_format format, const struct json_doc *ecs,
		  const struct syslog_options *sys, struct buf *out)
{
	size_t start = out->len;
	struct record r;
	const char *action;
	int64_t ms;
	int err = -1;

	if (format == FORMAT_ECS) {
		err = format_ecs(ecs, out);
	} else if (record_basics(&r, ecs, &ms, &action)) {
		switch (format) {
		case FORMAT_OCSF:
			err = format_ocsf(&r, action, ms, out);
			break;
		case FORMAT_RFC5424:
			err = format_rfc5424(&r, action, ms, sys, out);
			break;
		case FORMAT_CEF:
			err = format_cef(&r, action, ms, out);
			break;
		default:
			break;
		}
	}
	if (err || out->failed) {
		/* Nothing half-written is left for the sink to send. */
		if (out->data && start <= out->len && !out->failed) {
			out->len = start;
			out->data[start] = '\0';
		}
		return -1;
	}
	return 0;
}

/* ---- transforms ---- */

/* An address as 16 bytes, IPv4 in the v4-mapped form, so both spellings give one pseudonym. */
static bool address_bytes(const char *text, uint8_t bytes[16])
{
	struct in_addr v4;

	if (inet_pton(AF_INET, text, &v4) == 1) {
		memset(bytes, 0, 10);
		bytes[10] = bytes[11] = 0xff;
		memcpy(bytes + 12, &v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, bytes) == 1;
}

/*
 * HMAC-SHA256 under key. The context is kept and set up again only when the
 * key changes: re-initialised with the same key it starts from the keyed
 * inner and outer digests it already has, where the one-shot HMAC() fetched
 * SHA-256 and hashed the key again for every record.
 */
static bool pseudonym_mac(const struct pseudonym_key *key, const void *data, size_t len,
			  unsigned char mac[EVP_MAX_MD_SIZE], size_t *mac_len)
{
	static EVP_MAC_CTX *ctx;
	static struct pseudonym_key ctx_key;
	unsigned int key_len = key->len < PSEUDONYM_KEY_MAX ? key->len : PSEUDONYM_KEY_MAX;

	if (!ctx) {
		EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);

		ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
		EVP_MAC_free(hmac); /* the context holds its own reference */
		if (!ctx)
			return false;
	}
	if (ctx_key.len != key_len || memcmp(ctx_key.bytes, key->bytes, key_len)) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256",
							 0),
			OSSL_PARAM_construct_end(),
		};

		ctx_key.len = 0;
		if (!EVP_MAC_init(ctx, key->bytes, key_len, params))
			return false;
		memcpy(ctx_key.bytes, key->bytes, key_len);
		ctx_key.len = key_len;
	} else if (!EVP_MAC_init(ctx, NULL, 0, NULL)) {
		return false;
	}
	return EVP_MAC_update(ctx, data, len) && EVP_MAC_final(ctx, mac, mac_len, EVP_MAX_MD_SIZE);
}

/* "anon-" and 16 hex digits for ip; false when the MAC could not be made. */
static bool pseudonym_of(const struct json_node *ip, const struct pseudonym_key *key,
			 char address[5 + 16 + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	uint8_t bytes[16];
	bool is_address = address_bytes(ip->text, bytes);

	/* Something that is not an address is still never written out: its text is hashed. */
	if (!pseudonym_mac(key, is_address ? (const void *)bytes : ip->text,
			   is_address ? sizeof(bytes) : ip->len, mac, &mac_len) ||
	    mac_len < 8)
		return false;
	memcpy(address, "anon-", 5);
	for (int i = 0; i < 8; i++) {
		address[5 + 2 * i] = hex[mac[i] >> 4];
		address[5 + 2 * i + 1] = hex[mac[i] & 0xf];
	}
	address[21] = '\0';
	return true;
}

static bool key_is(const struct json_node *n, const char *key)
{
	return n->key && !strcmp(n->key, key);
}

void record_pseudonymize(struct json_doc *ecs, const struct pseudonym_key *key)
{
	const struct json_node *root = json_root(ecs), *source, *m, *next, *ip;
	char address[5 + 16 + 1];

	if (!is_object(root))
		return;
	/* every source: a record with the key twice does not keep an address in the second */
	for (source = json_first(ecs, root); source; source = json_next(ecs, source)) {
		bool pseudonym;

		if (!is_object(source) || !key_is(source, "source"))
			continue;
		ip = json_member(ecs, source, "ip", 2);
		if (!ip)
			continue;
		pseudonym = string_of(ip) && key && key->len && pseudonym_of(ip, key, address);
		for (m = json_first(ecs, source); m; m = next) {
			next = json_next(ecs, m);
			if (key_is(m, "ip") || key_is(m, "address"))
				json_unlink(ecs, m);
		}
		/* address first, where ip was */
		if (pseudonym)
			json_prepend_string(ecs, source, "address", address, strlen(address));
	}
}

/* Drops the members at the dotted path part inside parent (every one so named). */
static void drop_path(struct json_doc *ecs, const struct json_node *parent, const char *part)
{
	const char *dot = strchr(part, '.');
	size_t len = dot ? (size_t)(dot - part) : strlen(part);
	const struct json_node *m, *next;

	if (!is_object(parent))
		return;
	for (m = json_first(ecs, parent); m; m = next) {
		next = json_next(ecs, m);
		if (m->key_len != len || memcmp(m->key, part, len))
			continue;
		if (dot)
			drop_path(ecs, m, dot + 1);
		else
			json_unlink(ecs, m);
	}
}

void record_drop_fields(struct json_doc *ecs, char *const *paths, unsigned int n_paths)
{
	for (unsigned int i = 0; i < n_paths; i++)
		if (paths[i])
			drop_path(ecs, json_root(ecs), paths[i]);
}
