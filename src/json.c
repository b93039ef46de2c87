// SPDX-License-Identifier: GPL-2.0-only
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "json.h"

void format_timestamp(uint64_t realtime_ns, char out[32])
{
	time_t secs = realtime_ns / 1000000000ULL;
	unsigned int ms = (realtime_ns / 1000000ULL) % 1000;
	struct tm tm;

	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", ms);
}

const char *transport_name(uint8_t protocol, char buf[8])
{
	if (protocol == IPPROTO_TCP)
		return "tcp";
	if (protocol == IPPROTO_UDP)
		return "udp";
	snprintf(buf, 8, "%u", protocol);
	return buf;
}

/* Length of the valid UTF-8 sequence (RFC 3629) at p, 0 if none starts there. */
static size_t utf8_sequence_len(const unsigned char *p)
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
	/* A NUL ends the string before a short sequence is over: it fails here too. */
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

/*
 * A JSON string of text from outside berth. cgroup directory, host and
 * interface names may be any bytes, and json_string() returns NULL for
 * those, which would silently drop the field: bytes that are not UTF-8
 * become U+FFFD instead.
 */
static json_t *json_text(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	json_t *value = json_string(text);
	char *clean, *out;

	if (value || !text)
		return value;
	clean = malloc(strlen(text) * 3 + 1);
	if (!clean)
		return NULL;
	out = clean;
	while (*p) {
		size_t len = utf8_sequence_len(p);

		if (len) {
			memcpy(out, p, len);
			out += len;
			p += len;
		} else {
			memcpy(out, "\xef\xbf\xbd", 3);
			out += 3;
			p++;
		}
	}
	*out = '\0';
	value = json_string(clean);
	free(clean);
	return value;
}

static json_t *string_array(const char *const *values)
{
	json_t *array = json_array();

	for (; *values; values++)
		json_array_append_new(array, json_string(*values));
	return array;
}

/* The fields every record starts with, in this order. */
static json_t *ecs_record(const struct ecs_meta *meta, uint64_t realtime_ns, const char *kind,
			  const char *const *categories, const char *const *types,
			  const char *action)
{
	char timestamp[32];
	json_t *rec = json_object();

	format_timestamp(realtime_ns, timestamp);
	json_object_set_new(rec, "@timestamp", json_string(timestamp));
	json_object_set_new(rec, "event",
			    json_pack("{s:s, s:o, s:o, s:s}", "kind", kind, "category",
				      string_array(categories), "type", string_array(types),
				      "action", action));
	json_object_set_new(rec, "host", json_pack("{s:o}", "name", json_text(meta->host_name)));
	json_object_set_new(rec, "berth", json_pack("{s:s}", "version", meta->version));
	return rec;
}

static json_t *berth_object(json_t *rec)
{
	return json_object_get(rec, "berth");
}

static json_t *endpoint(const uint8_t addr[ADDR_LEN], uint16_t port)
{
	char text[ADDR_STRLEN];

	return json_pack("{s:s, s:i}", "ip", addr_format(addr, text), "port", port);
}

static json_t *binding_object(const struct port_binding *b)
{
	char proto[8];

	return json_pack("{s:o, s:i, s:i, s:s}", "host_ip", json_text(b->host_ip), "host_port",
			 b->host_port, "container_port", b->container_port, "protocol",
			 transport_name(b->protocol, proto));
}

/* container.*, berth.cgroup_id/cgroup_path and berth.port. */
static void add_attribution(json_t *rec, const struct attribution *who)
{
	json_t *berth = berth_object(rec);

	if (who->container_id) {
		json_t *container = json_pack("{s:o}", "id", json_text(who->container_id));

		if (who->container_name && *who->container_name)
			json_object_set_new(container, "name", json_text(who->container_name));
		if (who->image && *who->image)
			json_object_set_new(container, "image",
					    json_pack("{s:o}", "name", json_text(who->image)));
		if (who->runtime)
			json_object_set_new(container, "runtime", json_string(who->runtime));
		json_object_set_new(rec, "container", container);
	}
	if (who->binding)
		json_object_set_new(berth, "port", binding_object(who->binding));
	if (who->cgroup_id)
		json_object_set_new(berth, "cgroup_id", json_integer(who->cgroup_id));
	if (who->cgroup_path)
		json_object_set_new(berth, "cgroup_path", json_text(who->cgroup_path));
}

static const char *role_name(uint8_t role)
{
	return role == BERTH_ROLE_LOCAL ? "server" : "client";
}

json_t *ecs_connection(const struct ecs_meta *meta, uint64_t realtime_ns,
		       const struct berth_event *ev, const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const start[] = { "connection", "start", NULL };
	static const char *const end[] = { "connection", "end", NULL };
	bool accepted = ev->role == BERTH_ROLE_LOCAL;
	bool closed = ev->kind == BERTH_EV_CONN_CLOSE;
	const char *action = closed   ? "connection-closed" :
			     accepted ? "connection-accepted" :
					"connection-initiated";
	/* source is whoever opened the connection. */
	const uint8_t *src_addr = accepted ? ev->remote_addr : ev->local_addr;
	const uint8_t *dst_addr = accepted ? ev->local_addr : ev->remote_addr;
	uint16_t src_port = accepted ? ev->remote_port : ev->local_port;
	uint16_t dst_port = accepted ? ev->local_port : ev->remote_port;
	char proto[8];
	json_t *rec, *source, *destination, *berth;

	rec = ecs_record(meta, realtime_ns, "event", categories, closed ? end : start, action);
	source = endpoint(src_addr, src_port);
	destination = endpoint(dst_addr, dst_port);
	if (closed) {
		/* ECS: source.bytes were sent by the source. */
		json_object_set_new(source, "bytes",
				    json_integer(accepted ? ev->bytes_in : ev->bytes_out));
		json_object_set_new(destination, "bytes",
				    json_integer(accepted ? ev->bytes_out : ev->bytes_in));
		json_object_set_new(json_object_get(rec, "event"), "duration",
				    json_integer(ev->duration_ns));
	}
	json_object_set_new(rec, "source", source);
	json_object_set_new(rec, "destination", destination);
	json_object_set_new(rec, "network",
			    json_pack("{s:s, s:s, s:s}", "transport",
				      transport_name(ev->protocol, proto), "type",
				      addr_network_type(ev->remote_addr), "direction",
				      accepted ? "ingress" : "egress"));
	add_attribution(rec, who);
	berth = berth_object(rec);
	json_object_set_new(berth, "view", json_string("socket"));
	json_object_set_new(berth, "socket_cookie", json_integer(ev->socket_cookie));
	if (closed)
		json_object_set_new(berth, "connection",
				    json_pack("{s:s, s:I, s:I, s:i, s:i}", "role",
					      role_name(ev->role), "bytes_in",
					      (json_int_t)ev->bytes_in, "bytes_out",
					      (json_int_t)ev->bytes_out, "rtt_us", ev->srtt_us,
					      "retransmits", ev->total_retrans));
	return rec;
}

json_t *ecs_listen(const struct ecs_meta *meta, uint64_t realtime_ns, const struct berth_event *ev,
		   const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "start", NULL };
	char proto[8];
	json_t *rec = ecs_record(meta, realtime_ns, "event", categories, types, "listen");

	json_object_set_new(rec, "server", endpoint(ev->local_addr, ev->local_port));
	json_object_set_new(rec, "network",
			    json_pack("{s:s, s:s}", "transport",
				      transport_name(ev->protocol, proto), "type",
				      ev->family == 2 ? "ipv4" : "ipv6"));
	add_attribution(rec, who);
	json_object_set_new(berth_object(rec), "view", json_string("socket"));
	return rec;
}

static json_t *port_counters_object(const struct berth_port_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "connections_opened",
			 (json_int_t)c->conns_opened, "connections_closed",
			 (json_int_t)c->conns_closed, "bytes_in", (json_int_t)c->bytes_in,
			 "bytes_out", (json_int_t)c->bytes_out, "packets_in",
			 (json_int_t)c->packets_in, "packets_out", (json_int_t)c->packets_out);
}

json_t *ecs_port_stats(const struct ecs_meta *meta, uint64_t realtime_ns,
		       const struct port_stats_report *report, const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "info", NULL };
	char proto[8];
	json_t *rec = ecs_record(meta, realtime_ns, "metric", categories, types, "port-stats");
	json_t *berth;

	json_object_set_new(rec, "server", json_pack("{s:i}", "port", report->port));
	json_object_set_new(
		rec, "network",
		json_pack("{s:s}", "transport", transport_name(report->protocol, proto)));
	add_attribution(rec, who);
	berth = berth_object(rec);
	json_object_set_new(berth, "view", json_string("socket"));
	json_object_set_new(berth, "role", json_string(role_name(report->role)));
	json_object_set_new(berth, "stats",
			    json_pack("{s:i, s:o, s:o}", "interval_s", report->interval_s,
				      "interval", port_counters_object(&report->interval), "total",
				      port_counters_object(&report->total)));
	return rec;
}

static json_t *xdp_counters_object(const struct berth_xdp_counters *c)
{
	return json_pack("{s:I, s:I, s:I}", "packets_in", (json_int_t)c->packets, "bytes_in",
			 (json_int_t)c->bytes, "syns_in", (json_int_t)c->syns);
}

json_t *ecs_xdp_port_stats(const struct ecs_meta *meta, uint64_t realtime_ns,
			   const struct xdp_stats_report *report, const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "info", NULL };
	char proto[8];
	json_t *rec = ecs_record(meta, realtime_ns, "metric", categories, types, "port-stats");
	json_t *berth;

	json_object_set_new(rec, "destination", json_pack("{s:i}", "port", report->port));
	json_object_set_new(
		rec, "network",
		json_pack("{s:s}", "transport", transport_name(report->protocol, proto)));
	json_object_set_new(rec, "observer",
			    json_pack("{s:{s:{s:o}}}", "ingress", "interface", "name",
				      json_text(report->interface)));
	if (who)
		add_attribution(rec, who);
	berth = berth_object(rec);
	json_object_set_new(berth, "view", json_string("interface"));
	json_object_set_new(berth, "xdp_mode", json_string(report->xdp_mode));
	json_object_set_new(berth, "stats",
			    json_pack("{s:i, s:o, s:o}", "interval_s", report->interval_s,
				      "interval", xdp_counters_object(&report->interval), "total",
				      xdp_counters_object(&report->total)));
	return rec;
}

json_t *ecs_events_lost(const struct ecs_meta *meta, uint64_t realtime_ns, const char *cause,
			uint64_t count, uint64_t total)
{
	static const char *const categories[] = { "host", NULL };
	static const char *const types[] = { "error", NULL };
	json_t *rec = ecs_record(meta, realtime_ns, "metric", categories, types, "events-lost");

	json_object_set_new(berth_object(rec), "lost",
			    json_pack("{s:s, s:I, s:I}", "cause", cause, "count", (json_int_t)count,
				      "total", (json_int_t)total));
	return rec;
}

int json_write_line(FILE *out, json_t *rec)
{
	/* One buffer, one fwrite: json_dumpf writes every token separately. */
	static char line[64 * 1024];
	const size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII;
	json_t *berth;
	size_t len;
	int err = 0;

	if (!rec)
		return -1;
	/* berth's own fields read best last, after the ECS ones. */
	berth = json_incref(json_object_get(rec, "berth"));
	if (berth) {
		json_object_del(rec, "berth");
		json_object_set_new(rec, "berth", berth);
	}
	len = json_dumpb(rec, line, sizeof(line) - 1, flags);
	if (len && len < sizeof(line) - 1) {
		line[len] = '\n';
		if (fwrite(line, 1, len + 1, out) != len + 1)
			err = -1;
	} else {
		/* Larger than the buffer (or an encoding error): the slow way. */
		err = json_dumpf(rec, out, flags);
		if (!err && fputc('\n', out) == EOF)
			err = -1;
	}
	json_decref(rec);
	return err ? -1 : 0;
}
