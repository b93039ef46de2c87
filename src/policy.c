// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "policy.h"

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->profile = PROFILE_PRODUCTION;
	/* DESIGN.md's example values: quiet on ordinary traffic, loud on scans. */
	p->detect.port_scan.enabled = true;
	p->detect.port_scan.ports = 10;
	p->detect.port_scan.window_ms = 10000;
	p->detect.brute_force.enabled = true;
	p->detect.brute_force.connections = 50;
	p->detect.brute_force.window_ms = 10000;
	p->detect.rate_spike.enabled = true;
	p->detect.rate_spike.factor = 4;
	p->detect.rate_spike.min_rate_per_s = 20;
	p->detect.rate_spike.learn_ms = 60000;
	p->detect.new_source.enabled = false;
	p->detect.new_source.learn_ms = 3600000;
	p->detect.suppress_ms = 60000;
}

void policy_free(struct policy *p)
{
	for (unsigned int i = 0; i < p->n_interfaces; i++)
		free(p->interfaces[i]);
	for (unsigned int i = 0; i < p->n_rules; i++)
		free(p->rules[i].allow);
	free(p->rules);
	for (unsigned int i = 0; i < p->n_outputs; i++)
		sink_config_free(&p->outputs[i]);
	free(p->outputs);
	free(p->pseudonym_key_file);
	policy_defaults(p);
}

/* ---- values ---- */

int cidr_parse(const char *text, struct cidr *out)
{
	char addr[ADDR_STRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long prefix;
	bool v4;
	char *end;

	if (!addr_len || addr_len >= sizeof(addr))
		return -1;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	if (strchr(addr, ':') && strchr(addr, '.'))
		return -1; /* "::ffff:1.2.3.4/120": write the IPv4 prefix */
	if (addr_parse(addr, out->addr))
		return -1;
	v4 = addr_is_v4mapped(out->addr);
	prefix = v4 ? 32 : 128;
	if (slash) {
		if (!slash[1] || slash[1] == '-' || slash[1] == '+')
			return -1;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || *end || prefix > (v4 ? 32ul : 128ul))
			return -1;
	}
	out->prefix_len = prefix + (v4 ? 96 : 0);
	/* Host bits set ("10.0.0.1/8") mean a typo more often than not: refuse. */
	for (unsigned int bit = out->prefix_len; bit < 128; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

bool cidr_contains(const struct cidr *c, const uint8_t addr[ADDR_LEN])
{
	unsigned int full = c->prefix_len / 8, rest = c->prefix_len % 8;

	if (memcmp(c->addr, addr, full))
		return false;
	if (!rest)
		return true;
	return !((c->addr[full] ^ addr[full]) & (0xff << (8 - rest)));
}

/* A positive finite number, all of text up to end_at (or the end). */
static int parse_positive(const char *text, size_t len, double *out)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (!((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '.'))
		return -1;
	errno = 0;
	*out = strtod(buf, &end);
	return errno || *end || !isfinite(*out) || *out <= 0 ? -1 : 0;
}

int rate_parse(const char *text, double *per_s)
{
	const char *slash = strchr(text, '/');
	double n;

	if (parse_positive(text, slash ? (size_t)(slash - text) : strlen(text), &n))
		return -1;
	if (!slash || !strcmp(slash, "/s"))
		*per_s = n;
	else if (!strcmp(slash, "/m"))
		*per_s = n / 60;
	else if (!strcmp(slash, "/h"))
		*per_s = n / 3600;
	else
		return -1;
	return 0;
}

int duration_parse(const char *text, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		double ms;
	} units[] = { { "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 }, { "d", 86400e3 } };
	size_t len = strlen(text), digits = 0;
	double n, unit = 1e3;

	while (digits < len &&
	       ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
		digits++;
	if (digits < len) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(text + digits, units[i].suffix))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		unit = units[i].ms;
	}
	if (parse_positive(text, digits, &n) || n * unit < 1 || n * unit > 366 * 86400e3)
		return -1;
	*ms = (uint64_t)(n * unit);
	return 0;
}

/* ---- the YAML walk ---- */

struct walk {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct walk *w, const yaml_node_t *node,
						      const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(w->err, w->errlen, "%s:%zu:%zu: %s", w->name, node->start_mark.line + 1,
		 node->start_mark.column + 1, msg);
	return -1;
}

static yaml_node_t *node_at(struct walk *w, int index)
{
	return yaml_document_get_node(w->doc, index);
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

/* The scalar's text, or NULL after an error naming key. */
static const char *scalar(struct walk *w, const yaml_node_t *node, const char *key)
{
	if (node->type != YAML_SCALAR_NODE) {
		fail(w, node, "%s: expected a single value, got %s", key, node_kind(node));
		return NULL;
	}
	/* A NUL inside would cut the text short without anyone noticing. */
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
		fail(w, node, "%s: contains a NUL character", key);
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

static int expect_kind(struct walk *w, const yaml_node_t *node, yaml_node_type_t type,
		       const char *key)
{
	if (node->type == type)
		return 0;
	return fail(w, node, "%s: expected %s, got %s", key,
		    type == YAML_MAPPING_NODE ? "a mapping" : "a list", node_kind(node));
}

static int get_bool(struct walk *w, const yaml_node_t *node, const char *key, bool *out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (!strcmp(v, "true")) {
		*out = true;
	} else if (!strcmp(v, "false")) {
		*out = false;
	} else {
		return fail(w, node, "%s: expected true or false, got '%s'", key, v);
	}
	return 0;
}

static int get_uint(struct walk *w, const yaml_node_t *node, const char *key, unsigned int min,
		    unsigned int max, unsigned int *out)
{
	const char *v = scalar(w, node, key);
	unsigned long n;
	char *end;

	if (!v)
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *v == '-' || *v == '+' || *end || errno || n < min || n > max)
		return fail(w, node, "%s: expected a whole number from %u to %u, got '%s'", key,
			    min, max, v);
	*out = n;
	return 0;
}

static int get_duration(struct walk *w, const yaml_node_t *node, const char *key, uint64_t *out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (duration_parse(v, out))
		return fail(w, node,
			    "%s: expected a duration like 500ms, 10s, 5m, 1h (at most 366d), "
			    "got '%s'",
			    key, v);
	return 0;
}

static int get_rate(struct walk *w, const yaml_node_t *node, const char *key, double *out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (rate_parse(v, out))
		return fail(w, node, "%s: expected a rate like 20/s, 600/m or 10/h, got '%s'", key,
			    v);
	return 0;
}

static int get_number(struct walk *w, const yaml_node_t *node, const char *key, double min,
		      double *out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (parse_positive(v, strlen(v), out) || *out < min)
		return fail(w, node, "%s: expected a number of at least %g, got '%s'", key, min, v);
	return 0;
}

static int get_text(struct walk *w, const yaml_node_t *node, const char *key, char *out,
		    size_t outlen)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (strlen(v) >= outlen)
		return fail(w, node, "%s: longer than %zu characters", key, outlen - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* "80/tcp", "53/udp" or 80 (TCP). */
static int get_port(struct walk *w, const yaml_node_t *node, const char *key, uint16_t *port,
		    uint8_t *protocol)
{
	const char *v = scalar(w, node, key);
	unsigned long n;
	char *end;

	if (!v)
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (end == v || *v == '-' || *v == '+' || errno || n < 1 || n > 65535)
		goto bad;
	if (!*end || !strcmp(end, "/tcp"))
		*protocol = IPPROTO_TCP;
	else if (!strcmp(end, "/udp"))
		*protocol = IPPROTO_UDP;
	else
		goto bad;
	*port = n;
	return 0;
bad:
	return fail(w, node, "%s: expected a port like 80, 80/tcp or 53/udp (1 to 65535), got '%s'",
		    key, v);
}

/*
 * Calls field(w, key, value, ctx) for each pair of a mapping; keys must be
 * plain text and appear once.
 */
static int for_each_pair(struct walk *w, const yaml_node_t *map, const char *what,
			 int (*field)(struct walk *w, const char *key, const yaml_node_t *key_node,
				      const yaml_node_t *value, void *ctx),
			 void *ctx)
{
	if (expect_kind(w, map, YAML_MAPPING_NODE, what))
		return -1;
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key_node = node_at(w, pair->key);
		const char *key = key_node ? scalar(w, key_node, what) : NULL;

		if (!key)
			return -1;
		for (yaml_node_pair_t *earlier = map->data.mapping.pairs.start; earlier < pair;
		     earlier++) {
			yaml_node_t *other = node_at(w, earlier->key);

			if (other && other->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)other->data.scalar.value, key))
				return fail(w, key_node, "%s: '%s' given twice", what, key);
		}
		if (field(w, key, key_node, node_at(w, pair->value), ctx))
			return -1;
	}
	return 0;
}

/*
 * Calls item(w, node, ctx) for each element of a list. With array, first
 * allocates one element of elem_size per list element there (at least
 * one, so that an empty list is an empty array, not NULL).
 */
static int for_each_item(struct walk *w, const yaml_node_t *list, const char *what, void **array,
			 size_t elem_size,
			 int (*item)(struct walk *w, const yaml_node_t *node, void *ctx), void *ctx)
{
	size_t n;

	if (expect_kind(w, list, YAML_SEQUENCE_NODE, what))
		return -1;
	n = list->data.sequence.items.top - list->data.sequence.items.start;
	if (array) {
		*array = calloc(n ? n : 1, elem_size);
		if (!*array)
			return fail(w, list, "%s: out of memory", what);
	}
	for (yaml_node_item_t *i = list->data.sequence.items.start;
	     i < list->data.sequence.items.top; i++)
		if (item(w, node_at(w, *i), ctx))
			return -1;
	return 0;
}

static int unknown_key(struct walk *w, const yaml_node_t *key_node, const char *where,
		       const char *key, const char *expected)
{
	return fail(w, key_node, "%s: unknown key '%s' (expected %s)", where, key, expected);
}

/* ---- rules ---- */

static int allow_item(struct walk *w, const yaml_node_t *node, void *ctx)
{
	struct policy_rule *rule = ctx;
	const char *v = scalar(w, node, "allow");

	if (!v)
		return -1;
	if (cidr_parse(v, &rule->allow[rule->n_allow]))
		return fail(w, node,
			    "allow: '%s' is not an address or a CIDR prefix like "
			    "198.51.100.0/24 or 2001:db8::/32 (host bits must be zero)",
			    v);
	rule->n_allow++;
	return 0;
}

static int rule_allow(struct walk *w, const yaml_node_t *list, struct policy_rule *rule)
{
	/* An empty list allows no one; it is kept as an allowlist of nothing. */
	return for_each_item(w, list, "allow", (void **)&rule->allow, sizeof(*rule->allow),
			     allow_item, rule);
}

static int rule_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		      const yaml_node_t *value, void *ctx)
{
	struct policy_rule *rule = ctx;
	char label[2 * POLICY_GLOB_MAX];

	if (!strcmp(key, "name"))
		return get_text(w, value, "name", rule->name, sizeof(rule->name));
	if (!strcmp(key, "container"))
		return get_text(w, value, "container", rule->container, sizeof(rule->container));
	if (!strcmp(key, "image"))
		return get_text(w, value, "image", rule->image, sizeof(rule->image));
	if (!strcmp(key, "label")) {
		char *eq;

		if (get_text(w, value, "label", label, sizeof(label)))
			return -1;
		eq = strchr(label, '=');
		if (eq)
			*eq = '\0';
		if (!*label || strlen(label) >= sizeof(rule->label_key) ||
		    (eq && strlen(eq + 1) >= sizeof(rule->label_value)))
			return fail(w, value, "label: expected key or key=value, got '%s'",
				    (const char *)value->data.scalar.value);
		strcpy(rule->label_key, label);
		strcpy(rule->label_value, eq ? eq + 1 : "");
		return 0;
	}
	if (!strcmp(key, "port") || !strcmp(key, "host_port")) {
		if (rule->port)
			return fail(w, key_node,
				    "%s: a rule selects by port or by host_port, not both", key);
		rule->port_is_host = !strcmp(key, "host_port");
		return get_port(w, value, key, &rule->port, &rule->protocol);
	}
	if (!strcmp(key, "allow"))
		return rule_allow(w, value, rule);
	if (!strcmp(key, "max_rate"))
		return get_rate(w, value, "max_rate", &rule->max_rate_per_s);
	if (!strcmp(key, "enforce"))
		return get_bool(w, value, "enforce", &rule->enforce);
	return unknown_key(w, key_node, "rule", key,
			   "name, container, image, label, port, host_port, allow, max_rate or "
			   "enforce");
}

static int rule_item(struct walk *w, const yaml_node_t *node, void *ctx)
{
	struct policy *p = ctx;
	struct policy_rule *rule = &p->rules[p->n_rules++];

	rule->line = node->start_mark.line + 1;
	if (for_each_pair(w, node, "rule", rule_field, rule))
		return -1;
	if (!*rule->name)
		return fail(w, node, "rule: no name (every rule needs one: alerts carry it)");
	for (unsigned int i = 0; i + 1 < p->n_rules; i++)
		if (!strcmp(p->rules[i].name, rule->name))
			return fail(w, node, "rule '%s': the name is taken by the rule at line %u",
				    rule->name, p->rules[i].line);
	if (rule->enforce && !rule->allow)
		return fail(w, node, "rule '%s': enforce needs an allow list", rule->name);
	return 0;
}

static int parse_rules(struct walk *w, const yaml_node_t *list, struct policy *p)
{
	return for_each_item(w, list, "rules", (void **)&p->rules, sizeof(*p->rules), rule_item, p);
}

/* ---- detect ---- */

static int port_scan_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			   const yaml_node_t *value, void *ctx)
{
	struct detect_config *d = ctx;

	if (!strcmp(key, "enabled"))
		return get_bool(w, value, "port_scan.enabled", &d->port_scan.enabled);
	if (!strcmp(key, "ports"))
		return get_uint(w, value, "port_scan.ports", 2, 65535, &d->port_scan.ports);
	if (!strcmp(key, "window"))
		return get_duration(w, value, "port_scan.window", &d->port_scan.window_ms);
	return unknown_key(w, key_node, "port_scan", key, "enabled, ports or window");
}

static int brute_force_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			     const yaml_node_t *value, void *ctx)
{
	struct detect_config *d = ctx;

	if (!strcmp(key, "enabled"))
		return get_bool(w, value, "brute_force.enabled", &d->brute_force.enabled);
	if (!strcmp(key, "connections"))
		return get_uint(w, value, "brute_force.connections", 2, 1000000,
				&d->brute_force.connections);
	if (!strcmp(key, "window"))
		return get_duration(w, value, "brute_force.window", &d->brute_force.window_ms);
	return unknown_key(w, key_node, "brute_force", key, "enabled, connections or window");
}

static int rate_spike_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			    const yaml_node_t *value, void *ctx)
{
	struct detect_config *d = ctx;

	if (!strcmp(key, "enabled"))
		return get_bool(w, value, "rate_spike.enabled", &d->rate_spike.enabled);
	if (!strcmp(key, "factor"))
		return get_number(w, value, "rate_spike.factor", 1.1, &d->rate_spike.factor);
	if (!strcmp(key, "min_rate"))
		return get_rate(w, value, "rate_spike.min_rate", &d->rate_spike.min_rate_per_s);
	if (!strcmp(key, "learn"))
		return get_duration(w, value, "rate_spike.learn", &d->rate_spike.learn_ms);
	return unknown_key(w, key_node, "rate_spike", key, "enabled, factor, min_rate or learn");
}

static int new_source_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			    const yaml_node_t *value, void *ctx)
{
	struct detect_config *d = ctx;

	if (!strcmp(key, "enabled"))
		return get_bool(w, value, "new_source.enabled", &d->new_source.enabled);
	if (!strcmp(key, "learn"))
		return get_duration(w, value, "new_source.learn", &d->new_source.learn_ms);
	return unknown_key(w, key_node, "new_source", key, "enabled or learn");
}

static int detect_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			const yaml_node_t *value, void *ctx)
{
	struct detect_config *d = ctx;

	if (!strcmp(key, "port_scan"))
		return for_each_pair(w, value, "port_scan", port_scan_field, d);
	if (!strcmp(key, "brute_force"))
		return for_each_pair(w, value, "brute_force", brute_force_field, d);
	if (!strcmp(key, "rate_spike"))
		return for_each_pair(w, value, "rate_spike", rate_spike_field, d);
	if (!strcmp(key, "new_source"))
		return for_each_pair(w, value, "new_source", new_source_field, d);
	if (!strcmp(key, "suppress"))
		return get_duration(w, value, "suppress", &d->suppress_ms);
	return unknown_key(w, key_node, "detect", key,
			   "port_scan, brute_force, rate_spike, new_source or suppress");
}

/* ---- outputs ---- */

int size_parse(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "K", 1ull << 10 },
		{ "KiB", 1ull << 10 },
		{ "KB", 1000 },
		{ "M", 1ull << 20 },
		{ "MiB", 1ull << 20 },
		{ "MB", 1000000 },
		{ "G", 1ull << 30 },
		{ "GiB", 1ull << 30 },
		{ "GB", 1000000000 },
	};
	unsigned long long n;
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || !n)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (n > UINT64_MAX / units[i].factor)
			return -1;
		*bytes = n * units[i].factor;
		return 0;
	}
	return -1;
}

static int get_size(struct walk *w, const yaml_node_t *node, const char *key, uint64_t *out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (size_parse(v, out))
		return fail(w, node, "%s: expected a size like 512KiB, 100MiB or 1GiB, got '%s'",
			    key, v);
	return 0;
}

static int get_string(struct walk *w, const yaml_node_t *node, const char *key, char **out)
{
	const char *v = scalar(w, node, key);

	if (!v)
		return -1;
	if (!*v)
		return fail(w, node, "%s: empty", key);
	free(*out);
	*out = strdup(v);
	return *out ? 0 : fail(w, node, "%s: out of memory", key);
}

struct string_list {
	char **items;
	unsigned int *n, max;
	const char *what;
};

static int string_item(struct walk *w, const yaml_node_t *node, void *ctx)
{
	struct string_list *list = ctx;

	if (*list->n == list->max)
		return fail(w, node, "%s: at most %u", list->what, list->max);
	list->items[*list->n] = NULL;
	if (get_string(w, node, list->what, &list->items[*list->n]))
		return -1;
	(*list->n)++;
	return 0;
}

static int get_strings(struct walk *w, const yaml_node_t *node, const char *what, char **items,
		       unsigned int *n, unsigned int max)
{
	struct string_list list = { items, n, max, what };

	return for_each_item(w, node, what, NULL, 0, string_item, &list);
}

static int header_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;
	const char *v = scalar(w, value, "headers");
	char *header;

	if (!v)
		return -1;
	if (c->n_headers == SINK_MAX_HEADERS)
		return fail(w, key_node, "headers: at most %d", SINK_MAX_HEADERS);
	if (!*key || strpbrk(key, ": \r\n") || strpbrk(v, "\r\n"))
		return fail(w, key_node, "headers: '%s' is not a header name and one-line value",
			    key);
	if (asprintf(&header, "%s: %s", key, v) < 0)
		return fail(w, key_node, "headers: out of memory");
	c->headers[c->n_headers++] = header;
	return 0;
}

static int queue_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		       const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "events"))
		return get_uint(w, value, "queue.events", 1, 10000000, &c->queue_events);
	if (!strcmp(key, "bytes"))
		return get_size(w, value, "queue.bytes", &c->queue_bytes);
	return unknown_key(w, key_node, "queue", key, "events or bytes");
}

static int rotate_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "size"))
		return get_size(w, value, "rotate.size", &c->rotate_bytes);
	if (!strcmp(key, "age"))
		return get_duration(w, value, "rotate.age", &c->rotate_age_ms);
	if (!strcmp(key, "keep")) {
		c->keep_given = true;
		return get_uint(w, value, "rotate.keep", 0, 1000, &c->keep);
	}
	return unknown_key(w, key_node, "rotate", key, "size, age or keep");
}

static int tls_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		     const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "ca"))
		return get_string(w, value, "tls.ca", &c->tls_ca);
	if (!strcmp(key, "cert"))
		return get_string(w, value, "tls.cert", &c->tls_cert);
	if (!strcmp(key, "key"))
		return get_string(w, value, "tls.key", &c->tls_key);
	if (!strcmp(key, "server_name"))
		return get_string(w, value, "tls.server_name", &c->tls_server_name);
	if (!strcmp(key, "insecure"))
		return get_bool(w, value, "tls.insecure", &c->tls_insecure);
	return unknown_key(w, key_node, "tls", key, "ca, cert, key, server_name or insecure");
}

static int batch_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		       const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "events"))
		return get_uint(w, value, "batch.events", 1, 100000, &c->batch_events);
	if (!strcmp(key, "bytes"))
		return get_size(w, value, "batch.bytes", &c->batch_bytes);
	if (!strcmp(key, "interval"))
		return get_duration(w, value, "batch.interval", &c->batch_ms);
	return unknown_key(w, key_node, "batch", key, "events, bytes or interval");
}

static int retry_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		       const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "min"))
		return get_duration(w, value, "retry.min", &c->retry_min_ms);
	if (!strcmp(key, "max"))
		return get_duration(w, value, "retry.max", &c->retry_max_ms);
	return unknown_key(w, key_node, "retry", key, "min or max");
}

static int spool_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		       const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;

	if (!strcmp(key, "dir"))
		return get_string(w, value, "spool.dir", &c->spool_dir);
	if (!strcmp(key, "max_bytes"))
		return get_size(w, value, "spool.max_bytes", &c->spool_bytes);
	return unknown_key(w, key_node, "spool", key, "dir or max_bytes");
}

/* Where an output sends: path, address or url, which also say its type. */
static int output_target(struct walk *w, const yaml_node_t *value, const char *key,
			 struct sink_config *c)
{
	struct sink_config parsed;
	char target[4096], err[512];
	const char *v = scalar(w, value, key);

	if (!v)
		return -1;
	if (c->path || c->host || c->socket_path || c->url || c->type_given)
		return fail(w, value, "%s: an output has one of type: stdout, path, address or url",
			    key);
	snprintf(target, sizeof(target), "%s%s", strcmp(key, "path") ? "" : "file:", v);
	if (sink_config_from_target(target, &parsed, err, sizeof(err)))
		return fail(w, value, "%s", err);
	if ((!strcmp(key, "address") && parsed.type != SINK_SYSLOG) ||
	    (!strcmp(key, "url") && parsed.type != SINK_HTTP)) {
		sink_config_free(&parsed);
		return fail(
			w, value,
			!strcmp(key, "url") ?
				"url: expected http:// or https://, got '%s'" :
				"address: expected udp://, tcp://, tls://HOST:PORT or unix:PATH, got '%s'",
			v);
	}
	if (!c->name)
		c->name = strdup(v);
	c->type = parsed.type;
	c->transport = parsed.transport;
	c->shape = parsed.shape;
	c->path = parsed.path;
	c->host = parsed.host;
	c->port = parsed.port;
	c->socket_path = parsed.socket_path;
	c->url = parsed.url;
	parsed.path = parsed.host = parsed.port = parsed.socket_path = parsed.url = NULL;
	sink_config_free(&parsed);
	return 0;
}

static int output_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			const yaml_node_t *value, void *ctx)
{
	struct sink_config *c = ctx;
	const char *v;
	int n;

	if (!strcmp(key, "name"))
		return get_string(w, value, "name", &c->name);
	if (!strcmp(key, "type")) {
		if (!(v = scalar(w, value, "type")))
			return -1;
		if (strcmp(v, "stdout"))
			return fail(w, value,
				    "type: only stdout is given as a type; a file, syslog or http "
				    "output is known by its path, address or url");
		c->type = SINK_STDOUT;
		c->type_given = true;
		return 0;
	}
	if (!strcmp(key, "path") || !strcmp(key, "address") || !strcmp(key, "url"))
		return output_target(w, value, key, c);
	if (!strcmp(key, "format")) {
		if (!(v = scalar(w, value, "format")))
			return -1;
		if ((n = format_parse(v)) < 0)
			return fail(w, value,
				    "format: expected ecs, ocsf, rfc5424 or cef, got '%s'", v);
		c->format = n;
		c->format_given = true;
		return 0;
	}
	if (!strcmp(key, "kinds"))
		return get_strings(w, value, "kinds", c->kinds, &c->n_kinds, SINK_MAX_FILTER);
	if (!strcmp(key, "actions"))
		return get_strings(w, value, "actions", c->actions, &c->n_actions, SINK_MAX_FILTER);
	if (!strcmp(key, "min_severity"))
		return get_uint(w, value, "min_severity", 0, 100, &c->min_severity);
	if (!strcmp(key, "drop_fields"))
		return get_strings(w, value, "drop_fields", c->drop_fields, &c->n_drop_fields,
				   SINK_MAX_FIELDS);
	if (!strcmp(key, "pseudonymize"))
		return get_bool(w, value, "pseudonymize", &c->pseudonymize);
	if (!strcmp(key, "queue"))
		return for_each_pair(w, value, "queue", queue_field, c);
	if (!strcmp(key, "rotate"))
		return for_each_pair(w, value, "rotate", rotate_field, c);
	if (!strcmp(key, "flush")) {
		if (!(v = scalar(w, value, "flush")))
			return -1;
		if (!strcmp(v, "immediate")) {
			c->flush_ms = 0;
			c->flush_given = true;
			return 0;
		}
		c->flush_given = true;
		return get_duration(w, value, "flush", &c->flush_ms);
	}
	if (!strcmp(key, "fsync"))
		return get_bool(w, value, "fsync", &c->fsync);
	if (!strcmp(key, "facility"))
		return get_uint(w, value, "facility", 1, 23, &c->syslog.facility);
	if (!strcmp(key, "app_name"))
		return get_string(w, value, "app_name", (char **)&c->syslog.app_name);
	if (!strcmp(key, "tls"))
		return for_each_pair(w, value, "tls", tls_field, c);
	if (!strcmp(key, "shape")) {
		if (!(v = scalar(w, value, "shape")))
			return -1;
		if (!strcmp(v, "ndjson"))
			c->shape = HTTP_NDJSON;
		else if (!strcmp(v, "elasticsearch"))
			c->shape = HTTP_ES_BULK;
		else if (!strcmp(v, "splunk-hec"))
			c->shape = HTTP_SPLUNK_HEC;
		else
			return fail(w, value,
				    "shape: expected ndjson, elasticsearch or splunk-hec, got '%s'",
				    v);
		return 0;
	}
	if (!strcmp(key, "headers"))
		return for_each_pair(w, value, "headers", header_field, c);
	if (!strcmp(key, "token_file"))
		return get_string(w, value, "token_file", &c->token_file);
	if (!strcmp(key, "index"))
		return get_string(w, value, "index", &c->index);
	if (!strcmp(key, "batch"))
		return for_each_pair(w, value, "batch", batch_field, c);
	if (!strcmp(key, "timeout"))
		return get_duration(w, value, "timeout", &c->timeout_ms);
	if (!strcmp(key, "retry"))
		return for_each_pair(w, value, "retry", retry_field, c);
	if (!strcmp(key, "spool"))
		return for_each_pair(w, value, "spool", spool_field, c);
	return unknown_key(
		w, key_node, "output", key,
		"name, type, path, address, url, format, kinds, actions, min_severity, "
		"drop_fields, pseudonymize, queue, rotate, flush, fsync, facility, "
		"app_name, tls, shape, headers, token_file, index, batch, timeout, retry "
		"or spool");
}

/* Options that belong to one kind of output only: a typo for another kind. */
static int check_output(struct walk *w, const yaml_node_t *node, const struct sink_config *c)
{
	static const char *const type_names[] = { "stdout", "file", "syslog", "http" };
	const char *misplaced = NULL;

	if (c->type != SINK_FILE && (c->flush_given || c->fsync))
		misplaced = c->fsync ? "fsync" : "flush";
	if (c->type != SINK_SYSLOG && (c->syslog.facility || c->syslog.app_name))
		misplaced = c->syslog.facility ? "facility" : "app_name";
	if (c->type != SINK_SYSLOG && c->type != SINK_HTTP &&
	    (c->tls_ca || c->tls_cert || c->tls_key || c->tls_server_name || c->tls_insecure))
		misplaced = "tls";
	if (c->type != SINK_HTTP && (c->n_headers || c->token_file || c->index || c->spool_dir ||
				     c->batch_events || c->batch_bytes || c->batch_ms))
		misplaced = c->spool_dir ? "spool" :
			    c->n_headers ? "headers" :
					   "batch, token_file or index";
	if (c->type != SINK_FILE && (c->rotate_bytes || c->rotate_age_ms || c->keep_given))
		misplaced = "rotate";
	if (c->timeout_ms && c->type == SINK_SYSLOG &&
	    (c->transport == SYSLOG_UDP || c->transport == SYSLOG_UNIX))
		return fail(w, node,
			    "output '%s': timeout applies to tcp:// and tls:// syslog, not to "
			    "udp:// or unix:",
			    c->name);
	if (c->timeout_ms && c->type != SINK_HTTP && c->type != SINK_SYSLOG)
		misplaced = "timeout";
	if (misplaced)
		return fail(w, node, "output '%s': %s does not apply to a %s output", c->name,
			    misplaced, type_names[c->type]);
	return 0;
}

static int output_item(struct walk *w, const yaml_node_t *node, void *ctx)
{
	struct policy *p = ctx;
	struct sink_config *c = &p->outputs[p->n_outputs];
	bool has_target;

	if (p->n_outputs == OUTPUTS_MAX)
		return fail(w, node, "outputs: at most %d", OUTPUTS_MAX);
	p->n_outputs++;
	c->line = node->start_mark.line + 1;
	if (for_each_pair(w, node, "output", output_field, c))
		return -1;
	has_target = c->path || c->host || c->socket_path || c->url;
	if (!has_target && !c->type_given)
		return fail(w, node,
			    "output: give path (a file), address (syslog), url (HTTP) or "
			    "type: stdout");
	if (!c->name && !(c->name = strdup("stdout")))
		return fail(w, node, "output: out of memory");
	for (unsigned int i = 0; i + 1 < p->n_outputs; i++)
		if (!strcmp(p->outputs[i].name, c->name))
			return fail(w, node,
				    "output '%s': the name is taken by the output at line %u",
				    c->name, p->outputs[i].line);
	return check_output(w, node, c);
}

static int privacy_field(struct walk *w, const char *key, const yaml_node_t *key_node,
			 const yaml_node_t *value, void *ctx)
{
	struct policy *p = ctx;

	if (!strcmp(key, "key_file"))
		return get_string(w, value, "privacy.key_file", &p->pseudonym_key_file);
	return unknown_key(w, key_node, "privacy", key, "key_file");
}

/* ---- top level ---- */

static int interface_item(struct walk *w, const yaml_node_t *node, void *ctx)
{
	struct policy *p = ctx;
	const char *v = scalar(w, node, "interfaces");

	if (!v)
		return -1;
	/* IFNAMSIZ is 16 with the NUL. */
	if (!*v || strlen(v) > 15 || strchr(v, '/') || strchr(v, ' '))
		return fail(w, node, "interfaces: '%s' is not an interface name", v);
	if (p->n_interfaces == POLICY_MAX_INTERFACES)
		return fail(w, node, "interfaces: at most %d", POLICY_MAX_INTERFACES);
	p->interfaces[p->n_interfaces] = strdup(v);
	if (!p->interfaces[p->n_interfaces])
		return fail(w, node, "interfaces: out of memory");
	p->n_interfaces++;
	return 0;
}

static int parse_interfaces(struct walk *w, const yaml_node_t *list, struct policy *p)
{
	return for_each_item(w, list, "interfaces", NULL, 0, interface_item, p);
}

static int top_field(struct walk *w, const char *key, const yaml_node_t *key_node,
		     const yaml_node_t *value, void *ctx)
{
	struct policy *p = ctx;

	if (!strcmp(key, "profile")) {
		const char *v = scalar(w, value, "profile");

		if (!v)
			return -1;
		if (!strcmp(v, "production"))
			p->profile = PROFILE_PRODUCTION;
		else if (!strcmp(v, "development"))
			p->profile = PROFILE_DEVELOPMENT;
		else
			return fail(w, value,
				    "profile: expected production or development, got '%s'", v);
		return 0;
	}
	if (!strcmp(key, "interfaces"))
		return parse_interfaces(w, value, p);
	if (!strcmp(key, "rules"))
		return parse_rules(w, value, p);
	if (!strcmp(key, "detect"))
		return for_each_pair(w, value, "detect", detect_field, &p->detect);
	if (!strcmp(key, "outputs"))
		return for_each_item(w, value, "outputs", (void **)&p->outputs, sizeof(*p->outputs),
				     output_item, p);
	if (!strcmp(key, "privacy"))
		return for_each_pair(w, value, "privacy", privacy_field, p);
	return unknown_key(w, key_node, "policy", key,
			   "profile, interfaces, rules, detect, outputs or privacy");
}

int policy_parse(const char *text, size_t len, const char *name, struct policy *p, char *err,
		 size_t errlen)
{
	struct walk w = { .name = name, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = -1;

	policy_defaults(p);
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: invalid YAML: %s%s%s", name,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "unknown error",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -1;
	}
	w.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* An empty file, or one of comments only: every default. */
	if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		ret = 0;
	else if (root->type != YAML_MAPPING_NODE)
		fail(&w, root,
		     "policy: expected a mapping of profile, interfaces, rules, detect, outputs, "
		     "privacy");
	else
		ret = for_each_pair(&w, root, "policy", top_field, p);
	/* Only one document: a second one would be silently ignored otherwise. */
	if (!ret) {
		yaml_document_t next;

		if (yaml_parser_load(&parser, &next)) {
			yaml_node_t *more = yaml_document_get_root_node(&next);

			if (more)
				ret = fail(&w, more,
					   "a second YAML document: put everything in one");
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ret)
		policy_free(p);
	return ret;
}

int policy_load(const char *path, struct policy *p, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t n;
	int fd, ret;

	policy_defaults(p);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > POLICY_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
			 POLICY_MAX_FILE);
		close(fd);
		return -1;
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = read(fd, text, st.st_size + 1);
	close(fd);
	if (n < 0 || n > st.st_size) {
		snprintf(err, errlen, "%s: %s", path,
			 n < 0 ? strerror(errno) : "changed while being read");
		free(text);
		return -1;
	}
	ret = policy_parse(text, n, path, p, err, errlen);
	free(text);
	return ret;
}

/* ---- matching ---- */

static bool glob_matches(const char *glob, const char *text)
{
	return !*glob || !fnmatch(glob, text ? text : "", 0);
}

bool policy_rule_selects(const struct policy_rule *rule, const struct container *c,
			 const struct port_binding *b)
{
	if (!glob_matches(rule->container, c ? c->name : "") ||
	    !glob_matches(rule->image, c ? c->image : ""))
		return false;
	if (*rule->label_key) {
		bool found = false;

		for (unsigned int i = 0; c && i < c->n_labels && !found; i++)
			found = !strcmp(c->labels[i].key, rule->label_key) &&
				glob_matches(rule->label_value, c->labels[i].value);
		if (!found)
			return false;
	}
	if (!rule->port)
		return true;
	if (!b || b->protocol != rule->protocol)
		return false;
	return rule->port == (rule->port_is_host ? b->host_port : b->container_port);
}

const struct policy_rule *policy_match(const struct policy *p, const struct container *c,
				       const struct port_binding *b)
{
	for (unsigned int i = 0; i < p->n_rules; i++)
		if (policy_rule_selects(&p->rules[i], c, b))
			return &p->rules[i];
	return NULL;
}

bool policy_allows(const struct policy_rule *rule, const uint8_t source[ADDR_LEN])
{
	if (!rule->allow)
		return true;
	for (unsigned int i = 0; i < rule->n_allow; i++)
		if (cidr_contains(&rule->allow[i], source))
			return true;
	return false;
}
