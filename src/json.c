// SPDX-License-Identifier: GPL-2.0-only
/*
 * Records are written straight into one reused buffer, never built as a
 * tree: at thousands of connections a second a jansson tree cost berth
 * about 10 us of CPU per event in malloc, free and printf (measured with
 * perf during scripts/bench), which the host's own traffic paid for.
 * jansson still reads the JSON that comes from outside (runtime APIs, OCI
 * configs); berth's own records are read back by json_read.c. The writer is
 * the formats' too: OCSF, and ECS after a sink's transforms, go through it
 * into the sink's buffer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "json.h"

void format_timestamp(uint64_t realtime_ns, char out[32])
{
	/* gmtime and strftime once per second, not once per event; no printf for the rest. */
	static time_t cached_secs = -1;
	static char cached[24];
	static size_t cached_len;
	time_t secs = realtime_ns / 1000000000ULL;
	unsigned int ms = (realtime_ns / 1000000ULL) % 1000;
	char fraction[6] = {
		'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z',
		'\0'
	};

	if (secs != cached_secs) {
		struct tm tm;

		gmtime_r(&secs, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_secs = secs;
	}
	memcpy(out, cached, cached_len);
	memcpy(out + cached_len, fraction, sizeof(fraction));
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

/* ---- escaping ---- */

size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *code_point)
{
	uint32_t cp;
	size_t len;

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
	*code_point = cp;
	return len;
}

static char *unicode_escape(char *out, unsigned int unit)
{
	static const char hex[] = "0123456789ABCDEF";

	out[0] = '\\';
	out[1] = 'u';
	out[2] = hex[unit >> 12 & 0xf];
	out[3] = hex[unit >> 8 & 0xf];
	out[4] = hex[unit >> 4 & 0xf];
	out[5] = hex[unit & 0xf];
	return out + 6;
}

/* Printable ASCII but '"' and '\\': written as it is. */
static const bool json_plain[256] = {
	[0x20 ... 0x21] = true,
	/* '"' */
	[0x23 ... 0x5b] = true,
	/* '\\' */
	[0x5d ... 0x7e] = true,
};

/*
 * Plain ASCII out: what is not printable ASCII goes as \u escapes. Text
 * from outside berth (cgroup directory, host, container and interface
 * names) may be any bytes: what is not UTF-8 becomes U+FFFD rather than
 * breaking the line or losing the field. out has room for
 * ESCAPED_MAX(len); the length written.
 */
#define ESCAPED_MAX(len) ((len)*6) /* a byte that is not UTF-8: \uFFFD */
static size_t escape(const char *text, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	char *o = out;

	while (p < end) {
		uint32_t cp;
		size_t n;

		/* copied as it is scanned: most strings are a few bytes, a memcpy each cost more */
		while (p < end && json_plain[*p])
			*o++ = (char)*p++;
		if (p == end)
			break;
		switch (*p) {
		case '"':
		case '\\':
			*o++ = '\\';
			*o++ = (char)*p;
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		default:
			if (*p < 0x80) {
				o = unicode_escape(o, *p);
				break;
			}
			n = utf8_decode(p, end - p, &cp);
			if (!n) {
				o = unicode_escape(o, 0xfffd);
				break;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				o = unicode_escape(o, 0xd800 | cp >> 10);
				o = unicode_escape(o, 0xdc00 | (cp & 0x3ff));
			} else {
				o = unicode_escape(o, cp);
			}
			p += n - 1;
		}
		p++;
	}
	return o - out;
}

/* ---- the writer ---- */

void json_line_free(struct json_line *line)
{
	buf_free(&line->buf);
	*line = (struct json_line){ 0 };
}

/* Starts a text in the line's own buffer. */
static void reset(struct json_line *line)
{
	buf_reset(&line->buf);
	line->out = &line->buf;
	line->depth = 0;
	line->has_member = 0;
	line->had_member = 0;
}

/*
 * A JSON string of text[0..len), with the punctuation around it (before:
 * ',' or 0; after: ':' or 0), escaped straight into the buffer in one
 * append: it is given the room of the worst case first.
 */
static void put_string(struct buf *out, char before, const char *text, size_t len, char after)
{
	size_t room = ESCAPED_MAX(len) + 4, n = 0;
	char *o;

	if ((out->failed || out->len + room >= out->cap) && !buf_reserve(out, room))
		return;
	o = out->data + out->len;
	if (before)
		o[n++] = before;
	o[n++] = '"';
	n += escape(text, len, o + n);
	o[n++] = '"';
	if (after)
		o[n++] = after;
	o[n] = '\0';
	out->len += n;
}

/* The comma before a member or element, and "key": when there is a key. */
static void put_key(struct json_line *line, const char *key, size_t key_len)
{
	uint64_t bit = 1ull << line->depth;
	char comma = line->has_member & bit ? ',' : 0;

	line->has_member |= bit;
	if (key)
		put_string(line->out, comma, key, key_len, ':');
	else if (comma)
		buf_putc(line->out, comma);
}

static void open_container(struct json_line *line, const char *key, size_t key_len, char bracket)
{
	size_t at = line->out->len;
	uint64_t had = line->has_member >> line->depth & 1;

	if (line->depth + 1 >= JSON_WRITE_MAX_DEPTH) {
		line->out->failed = true;
		return;
	}
	put_key(line, key, key_len);
	buf_putc(line->out, bracket);
	line->depth++;
	line->begun[line->depth] = at;
	line->had_member = (line->had_member & ~(1ull << line->depth)) | had << line->depth;
	line->has_member &= ~(1ull << line->depth);
}

static void close_container(struct json_line *line, char bracket)
{
	if (line->out->failed || !line->depth)
		return;
	buf_putc(line->out, bracket);
	line->depth--;
}

/* Closes the container, or takes it back to where it began when it is empty. */
static bool close_unless_empty(struct json_line *line, char bracket)
{
	struct buf *out = line->out;

	if (out->failed || !line->depth)
		return false;
	if (line->has_member >> line->depth & 1) {
		close_container(line, bracket);
		return true;
	}
	out->len = line->begun[line->depth];
	out->data[out->len] = '\0';
	line->depth--;
	if (!(line->had_member >> (line->depth + 1) & 1))
		line->has_member &= ~(1ull << line->depth);
	return false;
}

static size_t key_length(const char *key)
{
	return key ? strlen(key) : 0;
}

void json_begin_object(struct json_line *line, const char *key)
{
	open_container(line, key, key_length(key), '{');
}

void json_begin_array(struct json_line *line, const char *key)
{
	open_container(line, key, key_length(key), '[');
}

void json_end_object(struct json_line *line)
{
	close_container(line, '}');
}

void json_end_array(struct json_line *line)
{
	close_container(line, ']');
}

bool json_end_object_unless_empty(struct json_line *line)
{
	return close_unless_empty(line, '}');
}

bool json_end_array_unless_empty(struct json_line *line)
{
	return close_unless_empty(line, ']');
}

void json_add_string_len(struct json_line *line, const char *key, const char *text, size_t len)
{
	put_key(line, key, key_length(key));
	put_string(line->out, 0, text, len, 0);
}

void json_add_string(struct json_line *line, const char *key, const char *text)
{
	if (text)
		json_add_string_len(line, key, text, strlen(text));
}

void json_add_uint(struct json_line *line, const char *key, uint64_t value)
{
	put_key(line, key, key_length(key));
	buf_put_uint(line->out, value);
}

void json_add_int(struct json_line *line, const char *key, long long value)
{
	put_key(line, key, key_length(key));
	buf_put_int(line->out, value);
}

void json_add_bool(struct json_line *line, const char *key, bool value)
{
	put_key(line, key, key_length(key));
	if (value)
		buf_append(line->out, "true", 4);
	else
		buf_append(line->out, "false", 5);
}

void json_add_null(struct json_line *line, const char *key)
{
	put_key(line, key, key_length(key));
	buf_append(line->out, "null", 4);
}

void json_add_double(struct json_line *line, const char *key, double value)
{
	char text[32];

	snprintf(text, sizeof(text), "%.3f", value);
	put_key(line, key, key_length(key));
	buf_puts(line->out, text);
}

void json_add_node(struct json_line *line, const struct json_doc *doc, const struct json_node *n)
{
	const struct json_node *m;

	switch (n->type) {
	case JSON_NODE_OBJECT:
	case JSON_NODE_ARRAY:
		open_container(line, n->key, n->key_len, n->type == JSON_NODE_OBJECT ? '{' : '[');
		for (m = json_first(doc, n); m && !line->out->failed; m = json_next(doc, m))
			json_add_node(line, doc, m);
		close_container(line, n->type == JSON_NODE_OBJECT ? '}' : ']');
		return;
	case JSON_NODE_STRING:
		put_key(line, n->key, n->key_len);
		put_string(line->out, 0, n->text, n->len, 0);
		return;
	case JSON_NODE_INTEGER:
	case JSON_NODE_REAL:
		/* numbers as the record wrote them */
		put_key(line, n->key, n->key_len);
		buf_append(line->out, n->text, n->len);
		return;
	default:
		put_key(line, n->key, n->key_len);
		buf_puts(line->out, n->type == JSON_NODE_TRUE  ? "true" :
				    n->type == JSON_NODE_FALSE ? "false" :
								 "null");
	}
}

static void add_string_array(struct json_line *line, const char *key, const char *const *values)
{
	json_begin_array(line, key);
	for (; *values; values++)
		json_add_string(line, NULL, *values);
	json_end_array(line);
}

/* ---- ECS records ---- */

/*
 * Starts a record: @timestamp, event (left open for the caller to add to,
 * closed by end_event) and host.
 */
static void begin_record(struct json_line *line, uint64_t realtime_ns, const char *kind,
			 const char *const *categories, const char *const *types,
			 const char *action)
{
	char timestamp[32];

	reset(line);
	line->kind = kind;
	line->action = action;
	line->severity = 0;
	line->realtime_ns = realtime_ns;
	format_timestamp(realtime_ns, timestamp);
	json_begin_object(line, NULL);
	json_add_string(line, "@timestamp", timestamp);
	json_begin_object(line, "event");
	json_add_string(line, "kind", kind);
	add_string_array(line, "category", categories);
	add_string_array(line, "type", types);
	json_add_string(line, "action", action);
}

static void end_event(struct json_line *line, const struct ecs_meta *meta)
{
	json_end_object(line);
	json_begin_object(line, "host");
	json_add_string(line, "name", meta->host_name);
	json_end_object(line);
}

/* berth's own fields read best last, after the ECS ones: "berth" closes the record. */
static void begin_berth(struct json_line *line, const struct ecs_meta *meta, const char *view)
{
	json_begin_object(line, "berth");
	json_add_string(line, "version", meta->version);
	if (view)
		json_add_string(line, "view", view);
}

static void end_record(struct json_line *line)
{
	json_end_object(line); /* berth */
	json_end_object(line); /* the record */
}

static void add_endpoint(struct json_line *line, const char *key, const uint8_t addr[ADDR_LEN],
			 uint16_t port, const uint64_t *bytes)
{
	char text[ADDR_STRLEN];

	json_begin_object(line, key);
	json_add_string(line, "ip", addr_format(addr, text));
	json_add_uint(line, "port", port);
	if (bytes)
		json_add_uint(line, "bytes", *bytes);
	json_end_object(line);
}

static void add_network(struct json_line *line, uint8_t protocol, const char *type,
			const char *direction)
{
	char proto[8];

	json_begin_object(line, "network");
	json_add_string(line, "transport", transport_name(protocol, proto));
	if (type)
		json_add_string(line, "type", type);
	if (direction)
		json_add_string(line, "direction", direction);
	json_end_object(line);
}

/*
 * container.labels: keys de-dotted ("com.docker.compose.project" becomes
 * "com_docker_compose_project", as Beats does), because records nest and
 * never carry dotted keys.
 */
static void add_labels(struct json_line *line, const struct container *c)
{
	char key[LABEL_TEXT_MAX];

	if (!c->n_labels)
		return;
	json_begin_object(line, "labels");
	for (unsigned int i = 0; i < c->n_labels; i++) {
		snprintf(key, sizeof(key), "%s", c->labels[i].key);
		for (char *p = key; *p; p++)
			if (*p == '.')
				*p = '_';
		json_add_string(line, key, c->labels[i].value);
	}
	json_end_object(line);
}

/* image.name without the tag, image.tag as ECS's array. */
static void add_image(struct json_line *line, const struct container *c)
{
	size_t name_len = strlen(c->image), tag_len = strlen(c->image_tag);

	if (!name_len)
		return;
	/* the tag ends the name, after a ':' */
	if (tag_len && tag_len < name_len)
		name_len -= tag_len + 1;
	json_begin_object(line, "image");
	json_add_string_len(line, "name", c->image, name_len);
	if (*c->image_tag) {
		json_begin_array(line, "tag");
		json_add_string(line, NULL, c->image_tag);
		json_end_array(line);
	}
	json_end_object(line);
}

/*
 * container.* when the socket belongs to a container, and orchestrator.*
 * when Kubernetes runs it. Labels only where asked: they can be long, and
 * connection records are many.
 */
static void add_container(struct json_line *line, const struct attribution *who, bool with_labels)
{
	const struct container *c = who ? who->container : NULL;

	if (!who || !who->container_id)
		return;
	json_begin_object(line, "container");
	json_add_string(line, "id", who->container_id);
	if (c && *c->name)
		json_add_string(line, "name", c->name);
	if (c)
		add_image(line, c);
	if (who->runtime)
		json_add_string(line, "runtime", who->runtime);
	if (c && with_labels)
		add_labels(line, c);
	if (c && c->privileged) {
		json_begin_object(line, "security_context");
		json_add_bool(line, "privileged", true);
		json_end_object(line);
	}
	json_end_object(line);
	if (c && *c->k8s.pod_name) {
		json_begin_object(line, "orchestrator");
		json_add_string(line, "type", "kubernetes");
		if (*c->k8s.pod_namespace)
			json_add_string(line, "namespace", c->k8s.pod_namespace);
		json_begin_object(line, "resource");
		json_add_string(line, "type", "pod");
		json_add_string(line, "name", c->k8s.pod_name);
		if (*c->k8s.pod_uid)
			json_add_string(line, "id", c->k8s.pod_uid);
		json_end_object(line);
		json_end_object(line);
	}
}

/* berth.container: what ECS has no field for. */
static void add_berth_container(struct json_line *line, const struct container *c)
{
	json_begin_object(line, "container");
	json_add_string(line, "user", *c->user ? c->user : "");
	json_add_bool(line, "privileged", c->privileged);
	json_add_bool(line, "read_only_rootfs", c->read_only_rootfs);
	if (*c->network_mode)
		json_add_string(line, "network_mode", c->network_mode);
	json_end_object(line);
}

static void add_binding(struct json_line *line, const char *key, const struct port_binding *b)
{
	char proto[8];

	json_begin_object(line, key);
	json_add_string(line, "host_ip", b->host_ip);
	json_add_uint(line, "host_port", b->host_port);
	json_add_uint(line, "container_port", b->container_port);
	json_add_string(line, "protocol", transport_name(b->protocol, proto));
	json_end_object(line);
}

/* berth.port, berth.cgroup_id and berth.cgroup_path. */
static void add_berth_attribution(struct json_line *line, const struct attribution *who)
{
	if (!who)
		return;
	if (who->binding)
		add_binding(line, "port", who->binding);
	if (who->cgroup_id)
		json_add_uint(line, "cgroup_id", who->cgroup_id);
	if (who->cgroup_path)
		json_add_string(line, "cgroup_path", who->cgroup_path);
}

static const char *role_name(uint8_t role)
{
	return role == BERTH_ROLE_LOCAL ? "server" : "client";
}

struct json_line *ecs_connection(struct json_line *line, const struct ecs_meta *meta,
				 uint64_t realtime_ns, const struct berth_event *ev,
				 const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const start[] = { "connection", "start", NULL };
	static const char *const end[] = { "connection", "end", NULL };
	bool accepted = ev->role == BERTH_ROLE_LOCAL;
	bool closed = ev->kind == BERTH_EV_CONN_CLOSE;
	const char *action = closed   ? "connection-closed" :
			     accepted ? "connection-accepted" :
					"connection-initiated";
	/* source is whoever opened the connection; ECS: source.bytes were sent by it. */
	const uint8_t *src_addr = accepted ? ev->remote_addr : ev->local_addr;
	const uint8_t *dst_addr = accepted ? ev->local_addr : ev->remote_addr;
	uint16_t src_port = accepted ? ev->remote_port : ev->local_port;
	uint16_t dst_port = accepted ? ev->local_port : ev->remote_port;
	uint64_t src_bytes = accepted ? ev->bytes_in : ev->bytes_out;
	uint64_t dst_bytes = accepted ? ev->bytes_out : ev->bytes_in;

	begin_record(line, realtime_ns, "event", categories, closed ? end : start, action);
	if (closed)
		json_add_uint(line, "duration", ev->duration_ns);
	end_event(line, meta);
	add_endpoint(line, "source", src_addr, src_port, closed ? &src_bytes : NULL);
	add_endpoint(line, "destination", dst_addr, dst_port, closed ? &dst_bytes : NULL);
	add_network(line, ev->protocol, addr_network_type(ev->remote_addr),
		    accepted ? "ingress" : "egress");
	add_container(line, who, false);
	begin_berth(line, meta, "socket");
	add_berth_attribution(line, who);
	json_add_uint(line, "socket_cookie", ev->socket_cookie);
	if (closed) {
		json_begin_object(line, "connection");
		json_add_string(line, "role", role_name(ev->role));
		json_add_uint(line, "bytes_in", ev->bytes_in);
		json_add_uint(line, "bytes_out", ev->bytes_out);
		json_add_uint(line, "rtt_us", ev->srtt_us);
		json_add_uint(line, "retransmits", ev->total_retrans);
		json_end_object(line);
	}
	end_record(line);
	return line;
}

struct json_line *ecs_listen(struct json_line *line, const struct ecs_meta *meta,
			     uint64_t realtime_ns, const struct berth_event *ev,
			     const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "start", NULL };

	begin_record(line, realtime_ns, "event", categories, types, "listen");
	end_event(line, meta);
	add_endpoint(line, "server", ev->local_addr, ev->local_port, NULL);
	add_network(line, ev->protocol, ev->family == 2 ? "ipv4" : "ipv6", NULL);
	add_container(line, who, false);
	begin_berth(line, meta, "socket");
	add_berth_attribution(line, who);
	end_record(line);
	return line;
}

static void add_port_counters(struct json_line *line, const char *key,
			      const struct berth_port_counters *c)
{
	json_begin_object(line, key);
	json_add_uint(line, "connections_opened", c->conns_opened);
	json_add_uint(line, "connections_closed", c->conns_closed);
	json_add_uint(line, "bytes_in", c->bytes_in);
	json_add_uint(line, "bytes_out", c->bytes_out);
	json_add_uint(line, "packets_in", c->packets_in);
	json_add_uint(line, "packets_out", c->packets_out);
	json_end_object(line);
}

static void add_port_only(struct json_line *line, const char *key, uint16_t port)
{
	json_begin_object(line, key);
	json_add_uint(line, "port", port);
	json_end_object(line);
}

struct json_line *ecs_port_stats(struct json_line *line, const struct ecs_meta *meta,
				 uint64_t realtime_ns, const struct port_stats_report *report,
				 const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "info", NULL };

	begin_record(line, realtime_ns, "metric", categories, types, "port-stats");
	end_event(line, meta);
	add_port_only(line, "server", report->port);
	add_network(line, report->protocol, NULL, NULL);
	add_container(line, who, true);
	begin_berth(line, meta, "socket");
	add_berth_attribution(line, who);
	json_add_string(line, "role", role_name(report->role));
	json_begin_object(line, "stats");
	json_add_uint(line, "interval_s", report->interval_s);
	add_port_counters(line, "interval", &report->interval);
	add_port_counters(line, "total", &report->total);
	json_end_object(line);
	end_record(line);
	return line;
}

static void add_xdp_counters(struct json_line *line, const char *key,
			     const struct berth_xdp_counters *c)
{
	json_begin_object(line, key);
	json_add_uint(line, "packets_in", c->packets);
	json_add_uint(line, "bytes_in", c->bytes);
	json_add_uint(line, "syns_in", c->syns);
	json_add_uint(line, "syns_dropped", c->syns_dropped);
	json_end_object(line);
}

struct json_line *ecs_xdp_port_stats(struct json_line *line, const struct ecs_meta *meta,
				     uint64_t realtime_ns, const struct xdp_stats_report *report,
				     const struct attribution *who)
{
	static const char *const categories[] = { "network", NULL };
	static const char *const types[] = { "info", NULL };

	begin_record(line, realtime_ns, "metric", categories, types, "port-stats");
	end_event(line, meta);
	if (!report->unpublished)
		add_port_only(line, "destination", report->port);
	add_network(line, report->protocol, NULL, NULL);
	json_begin_object(line, "observer");
	json_begin_object(line, "ingress");
	json_begin_object(line, "interface");
	json_add_string(line, "name", report->interface);
	json_end_object(line);
	json_end_object(line);
	json_end_object(line);
	add_container(line, who, true);
	begin_berth(line, meta, "interface");
	add_berth_attribution(line, who);
	json_add_string(line, "xdp_mode", report->xdp_mode);
	if (report->unpublished)
		json_add_bool(line, "unpublished", true);
	json_begin_object(line, "stats");
	json_add_uint(line, "interval_s", report->interval_s);
	add_xdp_counters(line, "interval", &report->interval);
	add_xdp_counters(line, "total", &report->total);
	json_end_object(line);
	end_record(line);
	return line;
}

struct json_line *ecs_container_change(struct json_line *line, const struct ecs_meta *meta,
				       uint64_t realtime_ns, const char *action,
				       const struct container *c)
{
	static const char *const categories[] = { "process", NULL };
	static const char *const start[] = { "start", NULL };
	static const char *const end[] = { "end", NULL };
	struct attribution who = { .container_id = c->id, .runtime = c->runtime, .container = c };
	bool started = !strcmp(action, "container-started");

	begin_record(line, realtime_ns, "event", categories, started ? start : end, action);
	end_event(line, meta);
	add_container(line, &who, true);
	begin_berth(line, meta, NULL);
	add_berth_container(line, c);
	json_begin_array(line, "ports");
	for (unsigned int i = 0; i < c->n_bindings; i++)
		add_binding(line, NULL, &c->bindings[i]);
	json_end_array(line);
	end_record(line);
	return line;
}

struct json_line *ecs_runtime_reconnected(struct json_line *line, const struct ecs_meta *meta,
					  uint64_t realtime_ns, const char *runtime,
					  const char *socket_path, uint64_t down_ms,
					  unsigned int changes)
{
	static const char *const categories[] = { "host", NULL };
	static const char *const types[] = { "change", NULL };

	begin_record(line, realtime_ns, "event", categories, types, "runtime-reconnected");
	end_event(line, meta);
	begin_berth(line, meta, NULL);
	json_begin_object(line, "runtime");
	json_add_string(line, "name", runtime);
	json_add_string(line, "socket", socket_path);
	json_add_uint(line, "down_ms", down_ms);
	json_add_uint(line, "containers_changed", changes);
	json_end_object(line);
	end_record(line);
	return line;
}

struct json_line *ecs_config_reload(struct json_line *line, const struct ecs_meta *meta,
				    uint64_t realtime_ns, const char *path, bool ok,
				    unsigned int rules, const char *error)
{
	static const char *const categories[] = { "configuration", NULL };
	static const char *const types[] = { "change", NULL };

	begin_record(line, realtime_ns, "event", categories, types, "config-reload");
	json_add_string(line, "outcome", ok ? "success" : "failure");
	end_event(line, meta);
	if (error) {
		json_begin_object(line, "error");
		json_add_string(line, "message", error);
		json_end_object(line);
	}
	begin_berth(line, meta, NULL);
	json_begin_object(line, "config");
	json_add_string(line, "path", path);
	json_add_uint(line, "rules", rules);
	json_end_object(line);
	end_record(line);
	return line;
}

struct json_line *ecs_alert(struct json_line *line, const struct ecs_meta *meta,
			    uint64_t realtime_ns, const struct alert *a)
{
	static const char *const categories[] = { "intrusion_detection", "network", NULL };
	static const char *const types[] = { "info", NULL };
	struct attribution who = { 0 };
	char text[ADDR_STRLEN], proto[8];

	begin_record(line, realtime_ns, "alert", categories, types, a->action);
	json_add_uint(line, "severity", a->severity);
	line->severity = a->severity;
	end_event(line, meta);
	json_begin_object(line, "rule");
	json_add_string(line, "name", a->rule_name);
	json_end_object(line);
	if (a->has_source) {
		json_begin_object(line, "source");
		json_add_string(line, "ip", addr_format(a->source, text));
		json_end_object(line);
	}
	if (a->port)
		add_port_only(line, "destination", a->port);
	if (a->protocol) {
		json_begin_object(line, "network");
		json_add_string(line, "transport", transport_name(a->protocol, proto));
		json_end_object(line);
	}
	if (a->container) {
		who.container_id = a->container->id;
		who.runtime = a->container->runtime;
		who.container = a->container;
		who.binding = a->binding;
		add_container(line, &who, false);
	}
	begin_berth(line, meta, a->view);
	if (a->binding)
		add_binding(line, "port", a->binding);
	json_begin_object(line, "alert");
	json_add_uint(line, "count", a->count);
	json_add_uint(line, "threshold", a->threshold);
	if (a->window_ms)
		json_add_uint(line, "window_ms", a->window_ms);
	json_add_uint(line, "suppressed", a->suppressed);
	if (a->dropped)
		json_add_bool(line, "dropped", true);
	if (!strcmp(a->action, "rate-spike")) {
		json_add_double(line, "rate_per_s", a->rate);
		json_add_double(line, "baseline_per_s", a->baseline);
	}
	json_end_object(line);
	end_record(line);
	return line;
}

static struct json_line *events_lost(struct json_line *line, const struct ecs_meta *meta,
				     uint64_t realtime_ns, const char *sink, const char *cause,
				     uint64_t count, uint64_t total)
{
	static const char *const categories[] = { "host", NULL };
	static const char *const types[] = { "error", NULL };

	begin_record(line, realtime_ns, "metric", categories, types, "events-lost");
	end_event(line, meta);
	begin_berth(line, meta, NULL);
	json_begin_object(line, "lost");
	json_add_string(line, "cause", cause);
	if (sink)
		json_add_string(line, "sink", sink);
	json_add_uint(line, "count", count);
	json_add_uint(line, "total", total);
	json_end_object(line);
	end_record(line);
	return line;
}

struct json_line *ecs_events_lost(struct json_line *line, const struct ecs_meta *meta,
				  uint64_t realtime_ns, const char *cause, uint64_t count,
				  uint64_t total)
{
	return events_lost(line, meta, realtime_ns, NULL, cause, count, total);
}

struct json_line *ecs_sink_events_lost(struct json_line *line, const struct ecs_meta *meta,
				       uint64_t realtime_ns, const char *sink, const char *cause,
				       uint64_t count, uint64_t total)
{
	char sink_cause[64];

	snprintf(sink_cause, sizeof(sink_cause), "sink-%s", cause);
	return events_lost(line, meta, realtime_ns, sink, sink_cause, count, total);
}

struct json_line *json_container_listing(struct json_line *line,
					 const struct container *const *containers,
					 const struct berth_port_counters *counters, size_t n,
					 const char *source, uint64_t since_realtime_ns,
					 unsigned int observed_s)
{
	char since[32];

	reset(line);
	json_begin_array(line, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct container *c = containers[i];

		json_begin_object(line, NULL);
		json_add_string(line, "id", c->id);
		json_add_string(line, "name", c->name);
		json_add_string(line, "image", c->image);
		json_add_string(line, "runtime", c->runtime ? c->runtime : "");
		json_begin_array(line, "ports");
		for (unsigned int j = 0; j < c->n_bindings; j++)
			add_binding(line, NULL, &c->bindings[j]);
		json_end_array(line);
		if (!counters) {
			json_add_null(line, "counters");
			json_end_object(line);
			continue;
		}
		/* Flat, and saying where they come from (docs/ps.md). */
		json_begin_object(line, "counters");
		json_add_uint(line, "connections_opened", counters[i].conns_opened);
		json_add_uint(line, "connections_closed", counters[i].conns_closed);
		json_add_uint(line, "bytes_in", counters[i].bytes_in);
		json_add_uint(line, "bytes_out", counters[i].bytes_out);
		json_add_uint(line, "packets_in", counters[i].packets_in);
		json_add_uint(line, "packets_out", counters[i].packets_out);
		json_add_string(line, "source", source);
		if (since_realtime_ns) {
			format_timestamp(since_realtime_ns, since);
			json_add_string(line, "since", since);
		}
		if (observed_s)
			json_add_uint(line, "observed_s", observed_s);
		json_end_object(line);
		json_end_object(line);
	}
	json_end_array(line);
	return line;
}

int json_write_line(FILE *out, struct json_line *line)
{
	int err = 0;

	if (!line || !line->out || line->out->failed || line->depth != 0 || !line->out->len) {
		errno = line && line->out && line->out->failed ? ENOMEM : EINVAL;
		err = -1;
	} else if (!buf_putc(line->out, '\n') ||
		   fwrite(line->out->data, 1, line->out->len, out) != line->out->len) {
		err = -1;
	}
	if (line)
		reset(line);
	return err;
}
