// SPDX-License-Identifier: GPL-2.0-only
/*
 * The formats are made from the parsed ECS record, not from berth's own
 * structs: whatever a sink's transforms left of a record (dropped fields, a
 * pseudonymised source) goes through one mapping per format, and a field
 * the record lacks is left out of the output rather than failing it. Only
 * @timestamp and event.action are needed. docs/formats.md is the mapping in
 * prose; keep the two in step.
 *
 * Text from outside berth (container, image, label and host names) may hold
 * any byte. Each format escapes what its syntax reserves, writes control
 * characters in a form that cannot end a line or a field, and replaces
 * bytes that are not UTF-8 with U+FFFD.
 */
#define _GNU_SOURCE /* timegm */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "format.h"

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

/* ---- reading the record ---- */

/* The member at a dotted path through nested objects ("berth.port.host_port"), or NULL. */
static json_t *lookup(const json_t *root, const char *dotted)
{
	json_t *v = (json_t *)root;
	const char *part = dotted;

	for (;;) {
		const char *dot = strchr(part, '.');
		size_t n = dot ? (size_t)(dot - part) : strlen(part);

		if (!json_is_object(v))
			return NULL;
		v = json_object_getn(v, part, n);
		if (!v || !dot)
			return v;
		part = dot + 1;
	}
}

static const char *text_at(const json_t *root, const char *dotted)
{
	return json_string_value(lookup(root, dotted));
}

static bool int_at(const json_t *root, const char *dotted, json_int_t *value)
{
	json_t *v = lookup(root, dotted);

	if (!json_is_integer(v))
		return false;
	*value = json_integer_value(v);
	return true;
}

/* An integer at the path, or 0. */
static long long int_or_zero(const json_t *root, const char *dotted)
{
	json_int_t value = 0;

	int_at(root, dotted, &value);
	return value;
}

static bool text_is(const json_t *root, const char *dotted, const char *want)
{
	const char *text = text_at(root, dotted);

	return text && !strcmp(text, want);
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
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return false;
	*ms = ((int64_t)secs - offset_min * 60) * 1000 + fraction_ms;
	return *ms >= 0;
}

/* What every record has, or the record cannot be written: the time and the action. */
static bool record_basics(const json_t *ecs, int64_t *ms, const char **action)
{
	*action = text_at(ecs, "event.action");
	return json_is_object(ecs) && *action && parse_timestamp(text_at(ecs, "@timestamp"), ms);
}

/* "2026-12-04T15:07:31.112Z" */
static void put_rfc3339(struct buf *out, int64_t ms)
{
	time_t secs = ms / 1000;
	struct tm tm;
	char text[32];

	gmtime_r(&secs, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(out, "%s.%03dZ", text, (int)(ms % 1000));
}

/* ---- text ---- */

/*
 * Length of the valid UTF-8 sequence (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF) at p within left bytes; 0 when none starts
 * there.
 */
static size_t utf8_length(const unsigned char *p, size_t left)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > left)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

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
	/* UTF-8 for JSON: only invalid sequences replaced (jansson escapes the rest) */
	TEXT_UTF8,
};

/* Appends len bytes of text by rule; invalid UTF-8 becomes U+FFFD (TEXT_ASCII: '?'). */
static void put_text(struct buf *out, const char *text, size_t len, enum text_rule rule)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		size_t n;

		if (c >= 0x80) {
			n = utf8_length(p, end - p);
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
		if (rule == TEXT_UTF8) {
			buf_putc(out, c);
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			if (rule == TEXT_SD_VALUE)
				buf_printf(out, "#%03o", c);
			else if (rule == TEXT_CEF_VALUE && c == '\n')
				buf_append(out, "\\n", 2);
			else if (rule == TEXT_CEF_VALUE && c == '\r')
				buf_append(out, "\\r", 2);
			else
				buf_putc(out, ' ');
			continue;
		}
		if ((rule == TEXT_SD_VALUE && (c == '"' || c == '\\' || c == ']')) ||
		    (rule == TEXT_CEF_HEADER && (c == '\\' || c == '|')) ||
		    (rule == TEXT_CEF_VALUE && (c == '\\' || c == '=')))
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
	size_t written = 0;

	while (p < end && written < max) {
		unsigned char c = *p;
		size_t n = 1;

		if (c >= 0x80) {
			n = utf8_length(p, end - p);
			n = n ? n : 1;
			c = '_';
		} else if (c < 33 || c > 126 || (sd_name && (c == '=' || c == ']' || c == '"'))) {
			c = '_';
		}
		buf_putc(out, c);
		written++;
		p += n;
	}
	if (!written)
		buf_putc(out, sd_name ? '_' : '-');
}

/* A JSON string of text, with invalid UTF-8 replaced: jansson refuses it. */
static json_t *json_text(const char *text, size_t len)
{
	struct buf clean = { 0 };
	json_t *s;

	s = json_stringn(text, len);
	if (s)
		return s;
	put_text(&clean, text, len, TEXT_UTF8);
	s = clean.failed ? NULL : json_stringn(clean.data ? clean.data : "", clean.len);
	buf_free(&clean);
	return s;
}

/* ---- what kind of record, how severe ---- */

enum record_class {
	RECORD_NETWORK, /* connections, listen, port-stats */
	RECORD_ALERT,	/* event.kind alert */
	RECORD_OTHER,	/* events-lost, container and runtime changes, config-reload */
};

static enum record_class record_class_of(const json_t *ecs, const char *action)
{
	if (text_is(ecs, "event.kind", "alert"))
		return RECORD_ALERT;
	if (!strncmp(action, "connection-", 11) || !strcmp(action, "listen") ||
	    !strcmp(action, "port-stats"))
		return RECORD_NETWORK;
	return RECORD_OTHER;
}

/* Not an attack, but something went wrong: records were lost, a reload was refused. */
static bool record_is_problem(const json_t *ecs, const char *action)
{
	return !strcmp(action, "events-lost") || text_is(ecs, "event.outcome", "failure");
}

/* event.severity of an alert, 1..100; 0 when it has none. */
static unsigned int alert_severity(const json_t *ecs)
{
	json_int_t severity = 0;

	if (!int_at(ecs, "event.severity", &severity) || severity < 0)
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
static void put_endpoint_summary(struct buf *b, const json_t *side)
{
	const char *host = text_at(side, "ip");
	json_int_t port;
	bool has_port = int_at(side, "port", &port);

	if (!host)
		host = text_at(side, "address");
	if (host && has_port && strchr(host, ':'))
		buf_printf(b, "[%s]", host);
	else if (host)
		buf_puts(b, host);
	else if (!has_port)
		buf_putc(b, '?');
	if (has_port)
		buf_printf(b, ":%lld", (long long)port);
}

static const char *transport_or_unknown(const json_t *ecs)
{
	const char *transport = text_at(ecs, "network.transport");

	return transport ? transport : "?";
}

/* " (web, published 0.0.0.0:8080)": the container and the published port, when known. */
static void put_container_summary(struct buf *b, const json_t *ecs)
{
	const char *name = text_at(ecs, "container.name"), *id = text_at(ecs, "container.id");
	const char *host_ip = text_at(ecs, "berth.port.host_ip");
	json_int_t host_port;

	if (!name && !id)
		return;
	if (name)
		buf_printf(b, " (%s", name);
	else
		buf_printf(b, " (%.12s", id);
	if (host_ip && int_at(ecs, "berth.port.host_port", &host_port))
		buf_printf(b,
			   strchr(host_ip, ':') ? ", published [%s]:%lld" : ", published %s:%lld",
			   host_ip, (long long)host_port);
	buf_putc(b, ')');
}

static void summarize_alert(struct buf *b, const json_t *ecs, const char *action)
{
	json_t *source = lookup(ecs, "source");
	json_int_t port, window_ms, suppressed;
	const char *rule = text_at(ecs, "rule.name");

	buf_puts(b, action);
	if (source) {
		buf_putc(b, ' ');
		put_endpoint_summary(b, source);
	}
	if (int_at(ecs, "destination.port", &port))
		buf_printf(b, " -> %lld/%s", (long long)port, transport_or_unknown(ecs));
	put_container_summary(b, ecs);
	buf_printf(b, ": rule %s, count %lld, threshold %lld", rule ? rule : "?",
		   int_or_zero(ecs, "berth.alert.count"),
		   int_or_zero(ecs, "berth.alert.threshold"));
	if (int_at(ecs, "berth.alert.window_ms", &window_ms))
		buf_printf(b, " in %lld ms", (long long)window_ms);
	if (int_at(ecs, "berth.alert.suppressed", &suppressed) && suppressed)
		buf_printf(b, ", %lld suppressed", (long long)suppressed);
	if (json_is_true(lookup(ecs, "berth.alert.dropped")))
		buf_puts(b, ", dropped");
}

static void summarize_port_stats(struct buf *b, const json_t *ecs)
{
	json_int_t port;

	if (text_is(ecs, "berth.view", "interface")) {
		const char *iface = text_at(ecs, "observer.ingress.interface.name");

		buf_printf(b, "port-stats %s ", iface ? iface : "?");
		if (int_at(ecs, "destination.port", &port))
			buf_printf(b, "%lld", (long long)port);
		else
			buf_puts(b, "unpublished");
		buf_printf(b, "/%s", transport_or_unknown(ecs));
		put_container_summary(b, ecs);
		buf_printf(b, ": %lld packets, %lld bytes, %lld SYNs in %lld s",
			   int_or_zero(ecs, "berth.stats.interval.packets_in"),
			   int_or_zero(ecs, "berth.stats.interval.bytes_in"),
			   int_or_zero(ecs, "berth.stats.interval.syns_in"),
			   int_or_zero(ecs, "berth.stats.interval_s"));
		return;
	}
	buf_printf(b, "port-stats %s %lld/%s",
		   text_is(ecs, "berth.role", "client") ? "client" : "server",
		   int_or_zero(ecs, "server.port"), transport_or_unknown(ecs));
	put_container_summary(b, ecs);
	buf_printf(b, ": %lld connections, %lld B in, %lld B out in %lld s",
		   int_or_zero(ecs, "berth.stats.interval.connections_opened"),
		   int_or_zero(ecs, "berth.stats.interval.bytes_in"),
		   int_or_zero(ecs, "berth.stats.interval.bytes_out"),
		   int_or_zero(ecs, "berth.stats.interval_s"));
}

/* Raw text, not escaped for any format yet. */
static void summarize(struct buf *b, const json_t *ecs, const char *action)
{
	const char *text;
	json_int_t duration_ns;

	if (text_is(ecs, "event.kind", "alert")) {
		summarize_alert(b, ecs, action);
	} else if (!strncmp(action, "connection-", 11)) {
		buf_printf(b, "%s ", action);
		put_endpoint_summary(b, lookup(ecs, "source"));
		buf_puts(b, " -> ");
		put_endpoint_summary(b, lookup(ecs, "destination"));
		buf_printf(b, "/%s", transport_or_unknown(ecs));
		put_container_summary(b, ecs);
		if (int_at(ecs, "event.duration", &duration_ns))
			buf_printf(b, " after %lld ms", (long long)(duration_ns / 1000000));
	} else if (!strcmp(action, "listen")) {
		buf_puts(b, "listen ");
		put_endpoint_summary(b, lookup(ecs, "server"));
		buf_printf(b, "/%s", transport_or_unknown(ecs));
		put_container_summary(b, ecs);
	} else if (!strcmp(action, "port-stats")) {
		summarize_port_stats(b, ecs);
	} else if (!strcmp(action, "container-started") || !strcmp(action, "container-stopped")) {
		const char *name = text_at(ecs, "container.name"),
			   *id = text_at(ecs, "container.id");

		if (name)
			buf_printf(b, "%s %s", action, name);
		else
			buf_printf(b, "%s %.12s", action, id ? id : "?");
		text = text_at(ecs, "container.image.name");
		if (text)
			buf_printf(b, " (%s)", text);
	} else if (!strcmp(action, "events-lost")) {
		text = text_at(ecs, "berth.lost.cause");
		buf_printf(b, "events-lost %s", text ? text : "?");
		text = text_at(ecs, "berth.lost.sink");
		if (text)
			buf_printf(b, " (output %s)", text);
		buf_printf(b, ": %lld (total %lld)", int_or_zero(ecs, "berth.lost.count"),
			   int_or_zero(ecs, "berth.lost.total"));
	} else if (!strcmp(action, "config-reload")) {
		if (text_is(ecs, "event.outcome", "failure")) {
			text = text_at(ecs, "error.message");
			buf_printf(b, "config-reload failure: %s", text ? text : "?");
		} else {
			text = text_at(ecs, "berth.config.path");
			buf_printf(b, "config-reload success: %lld rules from %s",
				   int_or_zero(ecs, "berth.config.rules"), text ? text : "?");
		}
	} else if (!strcmp(action, "runtime-reconnected")) {
		text = text_at(ecs, "berth.runtime.name");
		buf_printf(b, "runtime-reconnected %s after %lld ms, %lld containers changed",
			   text ? text : "?", int_or_zero(ecs, "berth.runtime.down_ms"),
			   int_or_zero(ecs, "berth.runtime.containers_changed"));
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
static unsigned int syslog_severity(const json_t *ecs, const char *action)
{
	if (text_is(ecs, "event.kind", "alert")) {
		unsigned int severity = alert_severity(ecs);

		return severity >= 75 ? SYSLOG_CRIT : severity >= 50 ? SYSLOG_ERR : SYSLOG_WARNING;
	}
	return record_is_problem(ecs, action) ? SYSLOG_WARNING : SYSLOG_INFO;
}

int format_syslog_header(const json_t *ecs, const struct syslog_options *sys, struct buf *out)
{
	unsigned int facility = SYSLOG_FACILITY_DEFAULT;
	const char *app_name = "berth", *host, *action;
	int64_t ms;

	if (!record_basics(ecs, &ms, &action))
		return -1;
	/* 0 is "the default" in a sink's configuration: kern is the kernel's own. */
	if (sys && sys->facility && sys->facility <= 23)
		facility = sys->facility;
	if (sys && sys->app_name && *sys->app_name)
		app_name = sys->app_name;
	host = text_at(ecs, "host.name");
	buf_printf(out, "<%u>1 ", facility * 8 + syslog_severity(ecs, action));
	put_rfc3339(out, ms);
	buf_putc(out, ' ');
	put_token(out, host ? host : "", host ? json_string_length(lookup(ecs, "host.name")) : 0,
		  SYSLOG_HOSTNAME_MAX, false);
	buf_putc(out, ' ');
	put_token(out, app_name, strlen(app_name), SYSLOG_APP_NAME_MAX, false);
	if (sys && sys->procid)
		buf_printf(out, " %u ", sys->procid);
	else
		buf_puts(out, " - ");
	put_token(out, action, strlen(action), SYSLOG_MSGID_MAX, false);
	buf_putc(out, ' ');
	return out->failed ? -1 : 0;
}

/* One SD-PARAM: ` name="value"`; null is left out. */
static void put_sd_param(struct buf *out, const char *name, size_t name_len, const json_t *v)
{
	char number[32];
	const char *text;
	size_t len;

	switch (json_typeof(v)) {
	case JSON_STRING:
		text = json_string_value(v);
		len = json_string_length(v);
		break;
	case JSON_INTEGER:
		len = snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT,
			       json_integer_value(v));
		text = number;
		break;
	case JSON_REAL:
		len = snprintf(number, sizeof(number), "%.15g", json_real_value(v));
		text = number;
		break;
	case JSON_TRUE:
		text = "true";
		len = 4;
		break;
	case JSON_FALSE:
		text = "false";
		len = 5;
		break;
	default:
		return;
	}
	buf_putc(out, ' ');
	put_token(out, name, name_len, SD_NAME_MAX, true);
	buf_puts(out, "=\"");
	put_text(out, text, len, TEXT_SD_VALUE);
	buf_putc(out, '"');
}

/*
 * The SD-PARAMs of v, named by their dotted path inside the top-level
 * object (path[0..len)). Arrays of values repeat the name (RFC 5424 allows
 * an SD-PARAM more than once); objects inside arrays get their index in
 * the path, so that the members of one stay together: ports.0.host_port.
 * Names are cut at 32 characters, so the path need not be longer.
 */
static void put_sd_params(struct buf *out, char *path, size_t len, const json_t *v,
			  unsigned int depth)
{
	char index[24];
	const char *key;
	json_t *member;
	size_t i;

	if (depth > SD_MAX_DEPTH)
		return;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, member) {
			int n = snprintf(path + len, SD_NAME_MAX + 2 - len, "%s%s", len ? "." : "",
					 key);
			size_t child = len + (size_t)n;

			if (child > SD_NAME_MAX + 1)
				child = SD_NAME_MAX + 1;
			put_sd_params(out, path, child, member, depth + 1);
			path[len] = '\0';
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, member) {
			size_t child;
			int n;

			if (!json_is_object(member) && !json_is_array(member)) {
				put_sd_param(out, path, len, member);
				continue;
			}
			snprintf(index, sizeof(index), "%zu", i);
			n = snprintf(path + len, SD_NAME_MAX + 2 - len, "%s%s", len ? "." : "",
				     index);
			child = len + (size_t)n;
			if (child > SD_NAME_MAX + 1)
				child = SD_NAME_MAX + 1;
			put_sd_params(out, path, child, member, depth + 1);
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
static void put_structured_data(struct buf *out, const json_t *ecs)
{
	/* Room for a name of SD_NAME_MAX, one more to know it was cut, and the NUL. */
	char path[SD_NAME_MAX + 2];
	char pen[16];
	const char *key;
	json_t *member;
	bool any = false;
	int pen_len = snprintf(pen, sizeof(pen), "@%u", SYSLOG_SD_PEN);

	json_object_foreach((json_t *)ecs, key, member) {
		if (!json_is_object(member))
			continue;
		buf_putc(out, '[');
		put_token(out, key, strlen(key), SD_NAME_MAX - pen_len, true);
		buf_append(out, pen, pen_len);
		path[0] = '\0';
		put_sd_params(out, path, 0, member, 0);
		buf_putc(out, ']');
		any = true;
	}
	if (!any)
		buf_putc(out, '-');
}

static int format_rfc5424(const json_t *ecs, const char *action, const struct syslog_options *sys,
			  struct buf *out)
{
	struct buf msg = { 0 };

	if (format_syslog_header(ecs, sys, out))
		return -1;
	put_structured_data(out, ecs);
	buf_putc(out, ' ');
	summarize(&msg, ecs, action);
	put_text(out, msg.data ? msg.data : "", msg.len, TEXT_ASCII);
	if (msg.failed)
		out->failed = true;
	buf_free(&msg);
	return out->failed ? -1 : 0;
}

/* ---- CEF ---- */

/*
 * 0-10 in the header: alerts event.severity / 10 (rounded, at least 1),
 * problems 5, other events 1.
 */
static unsigned int cef_severity(const json_t *ecs, const char *action)
{
	if (text_is(ecs, "event.kind", "alert")) {
		unsigned int severity = (alert_severity(ecs) + 5) / 10;

		return severity < 1 ? 1 : severity;
	}
	return record_is_problem(ecs, action) ? 5 : 1;
}

/* ` key=value` with the value escaped; nothing when value is NULL. */
static void cef_text(struct buf *out, const char *key, const char *value)
{
	if (!value)
		return;
	buf_printf(out, " %s=", key);
	put_text(out, value, strlen(value), TEXT_CEF_VALUE);
}

static void cef_int(struct buf *out, const char *key, const json_t *ecs, const char *path)
{
	json_int_t value;

	if (int_at(ecs, path, &value))
		buf_printf(out, " %s=%lld", key, (long long)value);
}

/* cnN=value cnNLabel=label, when the record has the value. */
static void cef_number(struct buf *out, unsigned int n, const char *label, const json_t *ecs,
		       const char *path)
{
	json_int_t value;

	if (int_at(ecs, path, &value))
		buf_printf(out, " cn%u=%lld cn%uLabel=%s", n, (long long)value, n, label);
}

static void cef_custom(struct buf *out, unsigned int n, const char *label, const char *value)
{
	char key[8];

	if (!value)
		return;
	snprintf(key, sizeof(key), "cs%u", n);
	cef_text(out, key, value);
	buf_printf(out, " cs%uLabel=%s", n, label);
}

/* "0.0.0.0:8080->80/tcp" */
static void put_binding_text(struct buf *b, const json_t *binding)
{
	const char *host_ip = text_at(binding, "host_ip"), *protocol = text_at(binding, "protocol");

	buf_printf(b,
		   strchr(host_ip ? host_ip : "", ':') ? "[%s]:%lld->%lld/%s" : "%s:%lld->%lld/%s",
		   host_ip ? host_ip : "", int_or_zero(binding, "host_port"),
		   int_or_zero(binding, "container_port"), protocol ? protocol : "?");
}

/* The CEF extension's counters: cn1..cn3 by record kind. */
static void cef_numbers(struct buf *out, const json_t *ecs, const char *action,
			enum record_class rc)
{
	json_int_t duration_ns;

	if (rc == RECORD_ALERT) {
		cef_number(out, 1, "threshold", ecs, "berth.alert.threshold");
		cef_number(out, 2, "windowMs", ecs, "berth.alert.window_ms");
		cef_number(out, 3, "suppressed", ecs, "berth.alert.suppressed");
	} else if (!strcmp(action, "connection-closed")) {
		if (int_at(ecs, "event.duration", &duration_ns))
			buf_printf(out, " cn1=%lld cn1Label=durationMs",
				   (long long)(duration_ns / 1000000));
		cef_number(out, 2, "rttUs", ecs, "berth.connection.rtt_us");
		cef_number(out, 3, "retransmits", ecs, "berth.connection.retransmits");
	} else if (!strcmp(action, "port-stats") && text_is(ecs, "berth.view", "interface")) {
		cef_number(out, 1, "synsIn", ecs, "berth.stats.interval.syns_in");
		cef_number(out, 2, "packetsIn", ecs, "berth.stats.interval.packets_in");
		cef_number(out, 3, "synsDropped", ecs, "berth.stats.interval.syns_dropped");
	} else if (!strcmp(action, "port-stats")) {
		cef_number(out, 1, "connectionsOpened", ecs,
			   "berth.stats.interval.connections_opened");
		cef_number(out, 2, "packetsIn", ecs, "berth.stats.interval.packets_in");
		cef_number(out, 3, "packetsOut", ecs, "berth.stats.interval.packets_out");
	} else if (!strcmp(action, "events-lost")) {
		cef_number(out, 1, "lostTotal", ecs, "berth.lost.total");
	} else if (!strcmp(action, "config-reload")) {
		cef_number(out, 1, "rules", ecs, "berth.config.rules");
	} else if (!strcmp(action, "runtime-reconnected")) {
		cef_number(out, 1, "downMs", ecs, "berth.runtime.down_ms");
		cef_number(out, 2, "containersChanged", ecs, "berth.runtime.containers_changed");
	}
}

static void cef_extension(struct buf *out, const json_t *ecs, const char *action, int64_t ms,
			  struct buf *scratch)
{
	enum record_class rc = record_class_of(ecs, action);
	const json_t *far =
		lookup(ecs, "destination") ? lookup(ecs, "destination") : lookup(ecs, "server");
	const char *transport = text_at(ecs, "network.transport");
	const char *direction = text_at(ecs, "network.direction");
	const char *image = text_at(ecs, "container.image.name");
	const char *tag = json_string_value(json_array_get(lookup(ecs, "container.image.tag"), 0));
	json_t *ports = lookup(ecs, "berth.ports"), *binding;
	size_t i;

	buf_printf(out, "rt=%lld", (long long)ms);
	cef_text(out, "dvchost", text_at(ecs, "host.name"));
	if (text_at(ecs, "source.ip"))
		cef_text(out, "src", text_at(ecs, "source.ip"));
	else
		cef_text(out, "shost", text_at(ecs, "source.address"));
	cef_int(out, "spt", ecs, "source.port");
	cef_text(out, "dst", text_at(far, "ip"));
	cef_int(out, "dpt", far, "port");
	if (transport) {
		buf_puts(out, " proto=");
		for (const char *p = transport; *p; p++)
			buf_putc(out, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	}
	/* CEF: 0 inbound, 1 outbound. The interface view only sees what comes in. */
	if ((direction && !strcmp(direction, "ingress")) ||
	    text_is(ecs, "berth.view", "interface") ||
	    (!strcmp(action, "port-stats") && text_is(ecs, "berth.role", "server")))
		buf_puts(out, " deviceDirection=0");
	else if ((direction && !strcmp(direction, "egress")) ||
		 text_is(ecs, "berth.role", "client"))
		buf_puts(out, " deviceDirection=1");
	if (!strcmp(action, "connection-closed")) {
		cef_int(out, "in", ecs, "berth.connection.bytes_in");
		cef_int(out, "out", ecs, "berth.connection.bytes_out");
	} else if (!strcmp(action, "port-stats")) {
		cef_int(out, "in", ecs, "berth.stats.interval.bytes_in");
		cef_int(out, "out", ecs, "berth.stats.interval.bytes_out");
	}
	if (rc == RECORD_ALERT) {
		cef_int(out, "cnt", ecs, "berth.alert.count");
		buf_puts(out, json_is_true(lookup(ecs, "berth.alert.dropped")) ? " act=blocked" :
										 " act=alerted");
	} else if (!strcmp(action, "events-lost")) {
		cef_int(out, "cnt", ecs, "berth.lost.count");
	}
	cef_text(out, "reason", text_at(ecs, "berth.lost.cause"));
	cef_text(out, "reason", text_at(ecs, "error.message"));
	cef_text(out, "filePath", text_at(ecs, "berth.config.path"));

	cef_custom(out, 1, "containerName", text_at(ecs, "container.name"));
	cef_custom(out, 2, "containerId", text_at(ecs, "container.id"));
	buf_reset(scratch);
	if (image)
		buf_printf(scratch, tag ? "%s:%s" : "%s", image, tag);
	cef_custom(out, 3, "containerImage", image ? scratch->data : NULL);
	cef_custom(out, 4, "ruleName", text_at(ecs, "rule.name"));
	buf_reset(scratch);
	if (json_is_object(lookup(ecs, "berth.port")))
		put_binding_text(scratch, lookup(ecs, "berth.port"));
	json_array_foreach(ports, i, binding) {
		if (scratch->len)
			buf_putc(scratch, ',');
		put_binding_text(scratch, binding);
	}
	cef_custom(out, 5, ports ? "publishedPorts" : "publishedPort",
		   scratch->len ? scratch->data : NULL);
	cef_custom(out, 6, "view", text_at(ecs, "berth.view"));
	cef_numbers(out, ecs, action, rc);

	buf_reset(scratch);
	summarize(scratch, ecs, action);
	cef_text(out, "msg", scratch->data ? scratch->data : "");
	if (scratch->failed)
		out->failed = true;
}

static int format_cef(const json_t *ecs, const char *action, int64_t ms, struct buf *out)
{
	const struct action_info *info = action_info_of(action);
	const char *version = text_at(ecs, "berth.version");
	const char *name = info ? info->name : action;
	struct buf scratch = { 0 };

	if (!strcmp(action, "config-reload") && text_is(ecs, "event.outcome", "failure"))
		name = "Configuration reload failed";
	buf_puts(out, "CEF:0|berth|berth|");
	put_text_z(out, version ? version : BERTH_VERSION, TEXT_CEF_HEADER);
	buf_putc(out, '|');
	put_text_z(out, action, TEXT_CEF_HEADER);
	buf_putc(out, '|');
	put_text_z(out, name, TEXT_CEF_HEADER);
	buf_printf(out, "|%u|", cef_severity(ecs, action));
	cef_extension(out, ecs, action, ms, &scratch);
	buf_free(&scratch);
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
/* Copies of the record deeper than this are cut: berth's records nest 5 deep. */
#define OCSF_MAX_DEPTH 32

static const char *const ocsf_severities[] = { "Unknown", "Informational", "Low",
					       "Medium",  "High",	   "Critical" };

/* Alerts: event.severity in fifths of 1..100; problems Medium; other records Informational. */
static unsigned int ocsf_severity_id(const json_t *ecs, const char *action)
{
	if (text_is(ecs, "event.kind", "alert")) {
		unsigned int severity = alert_severity(ecs);

		return severity >= 80 ? 5 :
		       severity >= 60 ? 4 :
		       severity >= 40 ? 3 :
		       severity >= 20 ? 2 :
					1;
	}
	return record_is_problem(ecs, action) ? 3 : 1;
}

/* Sets key to a new value; a NULL value (out of memory, or nothing to set) sets nothing. */
static void put(json_t *obj, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(obj, key, value);
}

static void put_string(json_t *obj, const char *key, const char *text)
{
	if (text)
		put(obj, key, json_text(text, strlen(text)));
}

/* The string at path in ecs, as key of obj. */
static void copy_string(json_t *obj, const char *key, const json_t *ecs, const char *path)
{
	json_t *v = lookup(ecs, path);

	if (json_is_string(v))
		put(obj, key, json_text(json_string_value(v), json_string_length(v)));
}

static void copy_int(json_t *obj, const char *key, const json_t *ecs, const char *path)
{
	json_int_t value;

	if (int_at(ecs, path, &value))
		put(obj, key, json_integer(value));
}

/* obj when it has members, else NULL (and obj freed): empty objects are left out. */
static json_t *unless_empty(json_t *obj)
{
	if (obj && json_object_size(obj))
		return obj;
	json_decref(obj);
	return NULL;
}

/* A deep copy with invalid UTF-8 in strings replaced (jansson would refuse to write it). */
static json_t *clean_copy(const json_t *v, unsigned int depth)
{
	const char *key;
	json_t *copy, *member;
	size_t i;

	if (!v || depth > OCSF_MAX_DEPTH)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		copy = json_object();
		json_object_foreach((json_t *)v, key, member)
			put(copy, key, clean_copy(member, depth + 1));
		return copy;
	case JSON_ARRAY:
		copy = json_array();
		json_array_foreach(v, i, member) {
			json_t *element = clean_copy(member, depth + 1);

			if (element)
				json_array_append_new(copy, element);
		}
		return copy;
	case JSON_STRING:
		return json_text(json_string_value(v), json_string_length(v));
	default:
		return json_copy((json_t *)v);
	}
}

/* network_endpoint: ip and port; a pseudonymised source.address as uid. */
static json_t *ocsf_endpoint(const json_t *side)
{
	json_t *ep = json_object();

	copy_string(ep, "ip", side, "ip");
	copy_string(ep, "uid", side, "address");
	copy_int(ep, "port", side, "port");
	return ep;
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
static json_t *ocsf_connection_info(const json_t *ecs, const char *direction)
{
	const char *transport = text_at(ecs, "network.transport");
	const char *ip_version = text_at(ecs, "network.type");
	json_t *info = json_object();
	json_int_t cookie;

	if (int_at(ecs, "berth.socket_cookie", &cookie)) {
		char uid[24];

		snprintf(uid, sizeof(uid), "%lld", (long long)cookie);
		put_string(info, "uid", uid);
	}
	if (transport) {
		put_string(info, "protocol_name", transport);
		put(info, "protocol_num", json_integer(protocol_number(transport)));
	}
	if (ip_version && !strcmp(ip_version, "ipv4")) {
		put(info, "protocol_ver_id", json_integer(4));
		put_string(info, "protocol_ver", "Internet Protocol version 4 (IPv4)");
	} else if (ip_version && !strcmp(ip_version, "ipv6")) {
		put(info, "protocol_ver_id", json_integer(6));
		put_string(info, "protocol_ver", "Internet Protocol version 6 (IPv6)");
	}
	if (direction && !strcmp(direction, "ingress")) {
		put(info, "direction_id", json_integer(1));
		put_string(info, "direction", "Inbound");
	} else if (direction && !strcmp(direction, "egress")) {
		put(info, "direction_id", json_integer(2));
		put_string(info, "direction", "Outbound");
	} else {
		put(info, "direction_id", json_integer(0));
		put_string(info, "direction", "Unknown");
	}
	return info;
}

/* container (profile "container"): uid, name, image, runtime, orchestrator. */
static json_t *ocsf_container(const json_t *ecs)
{
	json_t *c, *image;

	if (!json_is_object(lookup(ecs, "container")))
		return NULL;
	c = json_object();
	copy_string(c, "uid", ecs, "container.id");
	copy_string(c, "name", ecs, "container.name");
	image = json_object();
	copy_string(image, "name", ecs, "container.image.name");
	/* ECS's tag is an array; OCSF's image has one tag */
	{
		json_t *tag = json_array_get(lookup(ecs, "container.image.tag"), 0);

		if (json_is_string(tag))
			put(image, "tag",
			    json_text(json_string_value(tag), json_string_length(tag)));
	}
	put(c, "image", unless_empty(image));
	copy_string(c, "runtime", ecs, "container.runtime");
	copy_string(c, "network_driver", ecs, "berth.container.network_mode");
	if (text_at(ecs, "orchestrator.type")) {
		copy_string(c, "orchestrator", ecs, "orchestrator.type");
		copy_string(c, "pod_uuid", ecs, "orchestrator.resource.id");
	}
	return unless_empty(c);
}

/*
 * What OCSF has no place for: berth's own object (without its version,
 * which is metadata.product.version), the container's labels and security
 * context, the Kubernetes namespace and pod name.
 */
static json_t *ocsf_unmapped(const json_t *ecs)
{
	json_t *unmapped = json_object(), *berth, *container = json_object(), *v;

	berth = clean_copy(lookup(ecs, "berth"), 0);
	if (json_is_object(berth)) {
		json_object_del(berth, "version");
		put(unmapped, "berth", unless_empty(berth));
	} else {
		json_decref(berth);
	}
	v = lookup(ecs, "container.labels");
	if (v)
		put(container, "labels", clean_copy(v, 0));
	v = lookup(ecs, "container.security_context");
	if (v)
		put(container, "security_context", clean_copy(v, 0));
	put(unmapped, "container", unless_empty(container));
	v = lookup(ecs, "orchestrator");
	if (v)
		put(unmapped, "orchestrator", clean_copy(v, 0));
	return unless_empty(unmapped);
}

struct ocsf_class {
	unsigned int class_uid, category_uid, activity_id;
	const char *class_name, *category_name, *activity_name;
};

/* The fields of the base event every class has, in OCSF's order of reading. */
static json_t *ocsf_begin(const struct ocsf_class *cls, const json_t *ecs, const char *action,
			  int64_t ms)
{
	unsigned int severity_id = ocsf_severity_id(ecs, action);
	json_t *o = json_object();
	char type_name[128];

	put(o, "class_uid", json_integer(cls->class_uid));
	put_string(o, "class_name", cls->class_name);
	put(o, "category_uid", json_integer(cls->category_uid));
	put_string(o, "category_name", cls->category_name);
	put(o, "activity_id", json_integer(cls->activity_id));
	put_string(o, "activity_name", cls->activity_name);
	put(o, "type_uid", json_integer((json_int_t)cls->class_uid * 100 + cls->activity_id));
	snprintf(type_name, sizeof(type_name), "%s: %s", cls->class_name, cls->activity_name);
	put_string(o, "type_name", type_name);
	put(o, "time", json_integer(ms));
	put(o, "severity_id", json_integer(severity_id));
	put_string(o, "severity", ocsf_severities[severity_id]);
	return o;
}

/* message, metadata, device: after the class's own fields. */
static void ocsf_common(json_t *o, const json_t *ecs, const char *action, bool with_container,
			bool blocked)
{
	const char *version = text_at(ecs, "berth.version");
	json_t *metadata = json_object(), *product = json_object(), *profiles = json_array();
	struct buf message = { 0 };

	summarize(&message, ecs, action);
	if (!message.failed)
		put(o, "message", json_text(message.data ? message.data : "", message.len));
	buf_free(&message);

	put_string(metadata, "version", OCSF_VERSION);
	put_string(product, "name", "berth");
	put_string(product, "vendor_name", "berth");
	put_string(product, "version", version ? version : BERTH_VERSION);
	put(metadata, "product", product);
	put_string(metadata, "event_code", action);
	if (text_at(ecs, "host.name"))
		json_array_append_new(profiles, json_string("host"));
	if (with_container)
		json_array_append_new(profiles, json_string("container"));
	if (blocked)
		json_array_append_new(profiles, json_string("security_control"));
	put(metadata, "profiles", profiles);
	put(o, "metadata", metadata);

	if (text_at(ecs, "host.name")) {
		json_t *device = json_object();

		copy_string(device, "hostname", ecs, "host.name");
		put(device, "type_id", json_integer(0));
		put_string(device, "type", "Unknown");
		put(o, "device", device);
	}
}

static json_t *ocsf_network_activity(const json_t *ecs, const char *action, int64_t ms)
{
	struct ocsf_class cls = { OCSF_CLASS_NETWORK_ACTIVITY, 4,
				  OCSF_ACTIVITY_OTHER,	       "Network Activity",
				  "Network Activity",	       "Other" };
	bool interface_view = text_is(ecs, "berth.view", "interface");
	bool client = text_is(ecs, "berth.role", "client");
	json_t *o, *container, *src = NULL, *dst = NULL, *traffic = NULL;
	const char *direction = text_at(ecs, "network.direction");
	json_int_t duration_ns;

	if (!strcmp(action, "connection-closed")) {
		cls.activity_id = OCSF_ACTIVITY_CLOSE;
		cls.activity_name = "Close";
	} else if (!strcmp(action, "port-stats")) {
		cls.activity_id = OCSF_ACTIVITY_TRAFFIC;
		cls.activity_name = "Traffic";
	} else if (!strcmp(action, "listen")) {
		/* OCSF 1.1 has no Listen activity (1.3 adds it as 7) */
		cls.activity_name = "Listen";
	} else {
		cls.activity_id = OCSF_ACTIVITY_OPEN;
		cls.activity_name = "Open";
	}
	o = ocsf_begin(&cls, ecs, action, ms);

	if (!strncmp(action, "connection-", 11)) {
		src = ocsf_endpoint(lookup(ecs, "source"));
		dst = ocsf_endpoint(lookup(ecs, "destination"));
		if (!strcmp(action, "connection-closed")) {
			/* OCSF counts from the source's side: bytes_out went source -> destination */
			json_int_t sent = 0, received = 0;
			bool has_sent = int_at(ecs, "source.bytes", &sent);
			bool has_received = int_at(ecs, "destination.bytes", &received);

			traffic = json_object();
			if (has_sent)
				put(traffic, "bytes_out", json_integer(sent));
			if (has_received)
				put(traffic, "bytes_in", json_integer(received));
			if (has_sent && has_received)
				put(traffic, "bytes", json_integer(sent + received));
		}
	} else if (!strcmp(action, "listen")) {
		dst = ocsf_endpoint(lookup(ecs, "server"));
	} else if (interface_view) {
		/* XDP counts what arrives: from the (unknown) sources to the host port */
		dst = ocsf_endpoint(lookup(ecs, "destination"));
		copy_string(dst, "interface_name", ecs, "observer.ingress.interface.name");
		direction = "ingress";
		traffic = json_object();
		copy_int(traffic, "bytes_out", ecs, "berth.stats.interval.bytes_in");
		copy_int(traffic, "bytes", ecs, "berth.stats.interval.bytes_in");
		copy_int(traffic, "packets_out", ecs, "berth.stats.interval.packets_in");
		copy_int(traffic, "packets", ecs, "berth.stats.interval.packets_in");
	} else {
		/*
		 * The socket view of a port: a server's clients are the
		 * sources, so what it received went source -> destination
		 * (bytes_out); a client is the source itself.
		 */
		const char *to_dst = client ? "bytes_out" : "bytes_in";
		const char *to_src = client ? "bytes_in" : "bytes_out";
		const char *packets_to_dst = client ? "packets_out" : "packets_in";
		const char *packets_to_src = client ? "packets_in" : "packets_out";
		char path[64];
		json_int_t a = 0, b = 0;

		dst = ocsf_endpoint(lookup(ecs, "server"));
		direction = client ? "egress" : "ingress";
		traffic = json_object();
		snprintf(path, sizeof(path), "berth.stats.interval.%s", to_dst);
		if (int_at(ecs, path, &a))
			put(traffic, "bytes_out", json_integer(a));
		snprintf(path, sizeof(path), "berth.stats.interval.%s", to_src);
		if (int_at(ecs, path, &b))
			put(traffic, "bytes_in", json_integer(b));
		put(traffic, "bytes", json_integer(a + b));
		a = b = 0;
		snprintf(path, sizeof(path), "berth.stats.interval.%s", packets_to_dst);
		if (int_at(ecs, path, &a))
			put(traffic, "packets_out", json_integer(a));
		snprintf(path, sizeof(path), "berth.stats.interval.%s", packets_to_src);
		if (int_at(ecs, path, &b))
			put(traffic, "packets_in", json_integer(b));
		put(traffic, "packets", json_integer(a + b));
	}
	if (!strcmp(action, "port-stats")) {
		json_int_t interval_s;

		if (int_at(ecs, "berth.stats.interval_s", &interval_s)) {
			put(o, "start_time", json_integer(ms - interval_s * 1000));
			put(o, "end_time", json_integer(ms));
		}
	}
	if (int_at(ecs, "event.duration", &duration_ns))
		put(o, "duration", json_integer(duration_ns / 1000000));

	/* OCSF 1.1 requires both endpoints; unknown is an empty one, not an invented one. */
	put(o, "src_endpoint", src ? src : json_object());
	put(o, "dst_endpoint", dst ? dst : json_object());
	put(o, "connection_info", ocsf_connection_info(ecs, direction));
	put(o, "traffic", unless_empty(traffic));
	container = ocsf_container(ecs);
	put(o, "container", container);
	ocsf_common(o, ecs, action, container != NULL, false);
	put(o, "unmapped", ocsf_unmapped(ecs));
	return o;
}

/*
 * finding_info.uid: the first 16 bytes of SHA-256 over the record (keys
 * sorted), so the same alert record always gets the same uid. It is taken
 * after the sink's transforms: a pseudonymised record does not hash its
 * source address.
 */
static json_t *finding_uid(const json_t *ecs)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	char hex[33];
	char *text = json_dumps(ecs, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *uid = NULL;

	if (text && EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL) &&
	    digest_len >= 16) {
		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
		uid = json_string(hex);
	}
	free(text);
	return uid;
}

static json_t *ocsf_detection_finding(const json_t *ecs, const char *action, int64_t ms)
{
	static const char *const analytic_types[] = { "Unknown", "Rule", "Behavioral",
						      "Statistical" };
	const struct ocsf_class cls = {
		OCSF_CLASS_DETECTION_FINDING, 2,	  OCSF_ACTIVITY_CREATE,
		"Detection Finding",	      "Findings", "Create"
	};
	const struct action_info *info = action_info_of(action);
	unsigned int analytic_type = info ? info->analytic_type_id : 0;
	bool blocked = json_is_true(lookup(ecs, "berth.alert.dropped"));
	json_t *o = ocsf_begin(&cls, ecs, action, ms);
	json_t *finding = json_object(), *analytic = json_object(), *types = json_array();
	json_t *evidence = json_object(), *v;
	json_int_t window_ms;
	struct buf title = { 0 };

	put(o, "status_id", json_integer(1));
	put_string(o, "status", "New");
	copy_int(o, "count", ecs, "berth.alert.count");
	if (int_at(ecs, "berth.alert.window_ms", &window_ms)) {
		put(o, "start_time", json_integer(ms - window_ms));
		put(o, "end_time", json_integer(ms));
	}
	if (blocked) {
		put(o, "disposition_id", json_integer(2));
		put_string(o, "disposition", "Blocked");
	}

	put(finding, "uid", finding_uid(ecs));
	summarize(&title, ecs, action);
	if (!title.failed)
		put(finding, "title", json_text(title.data ? title.data : "", title.len));
	buf_free(&title);
	if (info && info->description)
		put_string(finding, "desc", info->description);
	json_array_append_new(types, json_text(action, strlen(action)));
	put(finding, "types", types);
	if (text_at(ecs, "rule.name"))
		copy_string(analytic, "name", ecs, "rule.name");
	else
		put_string(analytic, "name", action);
	put(analytic, "type_id", json_integer(analytic_type));
	put_string(analytic, "type", analytic_types[analytic_type]);
	put_string(analytic, "category", action);
	put(finding, "analytic", analytic);
	put(finding, "created_time", json_integer(ms));
	put(o, "finding_info", finding);

	v = lookup(ecs, "source");
	if (json_is_object(v))
		put(evidence, "src_endpoint", unless_empty(ocsf_endpoint(v)));
	v = lookup(ecs, "destination");
	if (json_is_object(v))
		put(evidence, "dst_endpoint", unless_empty(ocsf_endpoint(v)));
	if (text_at(ecs, "network.transport"))
		put(evidence, "connection_info", ocsf_connection_info(ecs, "ingress"));
	put(evidence, "container", ocsf_container(ecs));
	evidence = unless_empty(evidence);
	if (evidence) {
		json_t *evidences = json_array();

		json_array_append_new(evidences, evidence);
		put(o, "evidences", evidences);
	}
	ocsf_common(o, ecs, action, false, blocked);
	put(o, "unmapped", ocsf_unmapped(ecs));
	return o;
}

/* Base Event (class 0): activity Other named by the action, berth's content unmapped. */
static json_t *ocsf_base_event(const json_t *ecs, const char *action, int64_t ms)
{
	const struct ocsf_class cls = { OCSF_CLASS_BASE, 0,	OCSF_ACTIVITY_OTHER, "Base Event",
					"Uncategorized", action };
	json_t *o = ocsf_begin(&cls, ecs, action, ms), *container;
	const char *outcome = text_at(ecs, "event.outcome");

	if (outcome && !strcmp(outcome, "success")) {
		put(o, "status_id", json_integer(1));
		put_string(o, "status", "Success");
	} else if (outcome && !strcmp(outcome, "failure")) {
		put(o, "status_id", json_integer(2));
		put_string(o, "status", "Failure");
		copy_string(o, "status_detail", ecs, "error.message");
	}
	container = ocsf_container(ecs);
	put(o, "container", container);
	ocsf_common(o, ecs, action, container != NULL, false);
	put(o, "unmapped", ocsf_unmapped(ecs));
	return o;
}

static int dump_to_buf(const char *bytes, size_t n, void *data)
{
	return buf_append(data, bytes, n) ? 0 : -1;
}

/* Compact, ASCII with \u escapes as berth's own writer, reals as the shortest that reads back. */
#define JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15))

static int format_ocsf(const json_t *ecs, const char *action, int64_t ms, struct buf *out)
{
	json_t *o;
	int err;

	switch (record_class_of(ecs, action)) {
	case RECORD_ALERT:
		o = ocsf_detection_finding(ecs, action, ms);
		break;
	case RECORD_NETWORK:
		o = ocsf_network_activity(ecs, action, ms);
		break;
	default:
		o = ocsf_base_event(ecs, action, ms);
	}
	if (!o)
		return -1;
	err = json_dump_callback(o, dump_to_buf, out, JSON_FLAGS);
	json_decref(o);
	return err || out->failed ? -1 : 0;
}

/* ---- every format ---- */

int format_record(enum output_format format, const json_t *ecs, const struct syslog_options *sys,
		  struct buf *out)
{
	size_t start = out->len;
	const char *action;
	int64_t ms;
	int err = -1;

	if (format == FORMAT_ECS) {
		/* As it is; the record was checked where it was made. */
		if (json_is_object(ecs) && json_object_get(ecs, "@timestamp") &&
		    text_at(ecs, "event.action"))
			err = json_dump_callback(ecs, dump_to_buf, out, JSON_FLAGS);
	} else if (record_basics(ecs, &ms, &action)) {
		switch (format) {
		case FORMAT_OCSF:
			err = format_ocsf(ecs, action, ms, out);
			break;
		case FORMAT_RFC5424:
			err = format_rfc5424(ecs, action, sys, out);
			break;
		case FORMAT_CEF:
			err = format_cef(ecs, action, ms, out);
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

void record_pseudonymize(json_t *ecs, const struct pseudonym_key *key)
{
	json_t *source = json_object_get(ecs, "source"), *ip, *anonymous, *member;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	const void *data;
	size_t data_len;
	uint8_t bytes[16];
	char address[5 + 16 + 1];
	const char *name;

	if (!json_is_object(source))
		return;
	ip = json_object_get(source, "ip");
	if (!ip)
		return;
	anonymous = json_object();
	if (json_is_string(ip) && key && key->len) {
		/* Something that is not an address is still never written out: its text is hashed. */
		if (address_bytes(json_string_value(ip), bytes)) {
			data = bytes;
			data_len = sizeof(bytes);
		} else {
			data = json_string_value(ip);
			data_len = json_string_length(ip);
		}
		if (HMAC(EVP_sha256(), key->bytes,
			 key->len < PSEUDONYM_KEY_MAX ? (int)key->len : PSEUDONYM_KEY_MAX, data,
			 data_len, mac, &mac_len) &&
		    mac_len >= 8) {
			memcpy(address, "anon-", 5);
			for (int i = 0; i < 8; i++)
				snprintf(address + 5 + 2 * i, 3, "%02x", mac[i]);
			json_object_set_new(anonymous, "address", json_string(address));
		}
	}
	/* source rebuilt so that address comes first, where ip was */
	json_object_foreach(source, name, member)
		if (strcmp(name, "ip") && strcmp(name, "address"))
			json_object_set(anonymous, name, member);
	json_object_set_new(ecs, "source", anonymous);
}

void record_drop_fields(json_t *ecs, char *const *paths, unsigned int n_paths)
{
	for (unsigned int i = 0; i < n_paths; i++) {
		const char *part = paths[i];
		json_t *parent = ecs;

		while (part && json_is_object(parent)) {
			const char *dot = strchr(part, '.');

			if (!dot) {
				json_object_del(parent, part);
				break;
			}
			parent = json_object_getn(parent, part, dot - part);
			part = dot + 1;
		}
	}
}
