// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

enum detector_kind {
	KIND_UNAUTHORIZED = 1,
	KIND_UNAUTHORIZED_SYN,
	KIND_BRUTE_FORCE,
	KIND_RATE_LIMIT,
	KIND_NEW_SOURCE,
	KIND_PORT_SCAN,
	KIND_RATE_SPIKE,
	KIND_EXPOSURE,
};

/* What a window, a suppression and a baseline are kept per. Zeroed padding. */
struct window_key {
	uint8_t kind;
	uint8_t protocol;
	uint16_t port;
	uint32_t pad;
	uint64_t scope; /* hash of the container id (and rule), 0 for none */
	uint8_t source[ADDR_LEN];
};

struct window {
	uint64_t start_ms;
	uint64_t length_ms;
	uint64_t count;
};

/* An alert held back, and what to say when its window runs out. */
struct suppression {
	uint64_t start_ms;
	uint64_t until_ms;
	uint64_t suppressed;
	struct alert last; /* container and binding cleared: they may be gone by then */
	char rule_name[POLICY_NAME_MAX];
};

/* What a rule's selection depends on: the container's names and the binding. */
struct rule_cache_key {
	uint64_t container; /* hash of id, name and image */
	uint16_t container_port;
	uint16_t host_port;
	uint8_t protocol;
	uint8_t pad[3];
};

struct baseline {
	uint64_t start_ms;
	double mean; /* connections per second */
	uint64_t samples;
};

/* FNV-1a, continued over text: names to the hashes keys are made of. */
static uint64_t fnv1a(uint64_t h, const char *text)
{
	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

#define FNV1A_START 1469598103934665603ULL

/* A container id (and a rule name) to a scope. */
static uint64_t scope_of(const struct container *c, const char *rule)
{
	return fnv1a(fnv1a(FNV1A_START, c ? c->id : ""), rule ? rule : "");
}

static struct window_key make_key(enum detector_kind kind, uint64_t scope,
				  const uint8_t source[ADDR_LEN], uint16_t port, uint8_t protocol)
{
	struct window_key key = {
		.kind = kind, .protocol = protocol, .port = port, .scope = scope
	};

	if (source)
		memcpy(key.source, source, ADDR_LEN);
	return key;
}

int detect_init(struct detector *d, const struct policy *policy, uint64_t now_ms, alert_fn emit,
		void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->policy = policy;
	d->started_ms = now_ms;
	d->max_entries = DETECT_MAX_ENTRIES;
	d->emit = emit;
	d->ctx = ctx;
	if (hashmap_init(&d->windows, sizeof(struct window_key), sizeof(struct window)) ||
	    hashmap_init(&d->suppress, sizeof(struct window_key), sizeof(struct suppression)) ||
	    hashmap_init(&d->baselines, sizeof(struct window_key), sizeof(struct baseline)) ||
	    hashmap_init(&d->rule_cache, sizeof(struct rule_cache_key),
			 sizeof(const struct policy_rule *))) {
		detect_free(d);
		return -ENOMEM;
	}
	return 0;
}

void detect_free(struct detector *d)
{
	hashmap_free(&d->windows);
	hashmap_free(&d->suppress);
	hashmap_free(&d->baselines);
	hashmap_free(&d->rule_cache);
}

void detect_set_policy(struct detector *d, const struct policy *policy)
{
	d->policy = policy;
	/* The cached rules point into the old policy. */
	hashmap_clear(&d->rule_cache);
}

/*
 * Makes room in a full table: the entry whose first field (a start time in
 * ms, in every value kept here) is oldest goes, and is counted.
 */
static void evict_oldest(struct detector *d, struct hashmap *map)
{
	void *key, *value, *oldest_key = NULL;
	uint64_t oldest = UINT64_MAX;
	size_t iter = 0;
	unsigned char copy[sizeof(struct window_key)];

	while (hashmap_next(map, &iter, &key, &value)) {
		uint64_t start;

		memcpy(&start, value, sizeof(start));
		if (start < oldest) {
			oldest = start;
			oldest_key = key;
		}
	}
	if (!oldest_key)
		return;
	memcpy(copy, oldest_key, sizeof(copy));
	hashmap_remove(map, copy);
	d->evictions++;
}

static void *table_entry(struct detector *d, struct hashmap *map, const struct window_key *key,
			 bool *inserted)
{
	void *value = hashmap_get(map, key);

	*inserted = false;
	if (value)
		return value;
	if (map->count >= d->max_entries)
		evict_oldest(d, map);
	return hashmap_upsert(map, key, inserted);
}

/* Counts one event in key's window; the count so far in the current window. */
static uint64_t count_in_window(struct detector *d, const struct window_key *key, uint64_t now_ms,
				uint64_t window_ms, uint64_t n)
{
	bool inserted;
	struct window *w = table_entry(d, &d->windows, key, &inserted);

	if (!w)
		return 0;
	if (inserted || now_ms - w->start_ms >= w->length_ms) {
		w->start_ms = now_ms;
		w->length_ms = window_ms;
		w->count = 0;
	}
	w->count += n;
	return w->count;
}

/* Emits a, unless an alert of the same key went out less than suppress ago. */
static void raise_alert(struct detector *d, const struct window_key *key, uint64_t now_ms,
			struct alert *a)
{
	bool inserted;
	struct suppression *s = table_entry(d, &d->suppress, key, &inserted);

	if (s && !inserted && now_ms < s->until_ms) {
		s->suppressed++;
		return;
	}
	a->suppressed = s && !inserted ? s->suppressed : 0;
	d->emit(d->ctx, a);
	if (!s)
		return;
	s->start_ms = now_ms;
	s->until_ms = now_ms + d->policy->detect.suppress_ms;
	s->suppressed = 0;
	s->last = *a;
	s->last.container = NULL;
	s->last.binding = NULL;
	snprintf(s->rule_name, sizeof(s->rule_name), "%s", a->rule_name);
	s->last.rule_name = s->rule_name;
}

static void fill_target(struct alert *a, const uint8_t source[ADDR_LEN], const struct container *c,
			const struct port_binding *b, uint16_t port, uint8_t protocol)
{
	if (source) {
		memcpy(a->source, source, ADDR_LEN);
		a->has_source = true;
	}
	a->container = c;
	a->binding = b;
	a->port = port;
	a->protocol = protocol;
}

/*
 * The rule for (c, b), remembered: matching walks every rule with
 * fnmatch(), too slow for every connection of a busy port when there are
 * many rules. Forgotten when the policy changes.
 */
static const struct policy_rule *rule_for(struct detector *d, const struct container *c,
					  const struct port_binding *b)
{
	struct rule_cache_key key = { 0 };
	const struct policy_rule **cached;
	bool inserted;

	if (!c)
		return policy_match(d->policy, c, b);
	key.container = fnv1a(fnv1a(fnv1a(FNV1A_START, c->id), c->name), c->image);
	if (b) {
		key.container_port = b->container_port;
		key.host_port = b->host_port;
		key.protocol = b->protocol;
	}
	cached = hashmap_get(&d->rule_cache, &key);
	if (cached)
		return *cached;
	if (d->rule_cache.count >= d->max_entries)
		hashmap_clear(&d->rule_cache);
	cached = hashmap_upsert(&d->rule_cache, &key, &inserted);
	if (!cached)
		return policy_match(d->policy, c, b);
	*cached = policy_match(d->policy, c, b);
	return *cached;
}

void detect_connection(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		       bool from_host, const struct container *c, const struct port_binding *b,
		       uint16_t port, uint8_t protocol)
{
	const struct detect_config *cfg = &d->policy->detect;
	const struct policy_rule *rule = rule_for(d, c, b);
	struct window_key key;
	uint64_t n;

	if (rule && !from_host && !policy_allows(rule, source)) {
		struct alert a = { .action = "unauthorized-source",
				   .rule_name = rule->name,
				   .severity = 73,
				   .view = "socket",
				   .count = 1,
				   .threshold = 1 };

		fill_target(&a, source, c, b, port, protocol);
		key = make_key(KIND_UNAUTHORIZED, scope_of(c, rule->name), source, port, protocol);
		raise_alert(d, &key, now_ms, &a);
	}
	if (cfg->brute_force.enabled) {
		/* Keyed by the host port when published: XDP's count shares it. */
		key = make_key(KIND_BRUTE_FORCE, scope_of(c, NULL), source, b ? b->host_port : port,
			       protocol);
		n = count_in_window(d, &key, now_ms, cfg->brute_force.window_ms, 1);
		if (n >= cfg->brute_force.connections) {
			struct alert a = { .action = "brute-force",
					   .rule_name = rule ? rule->name : "brute-force",
					   .severity = 63,
					   .view = "socket",
					   .count = n,
					   .threshold = cfg->brute_force.connections,
					   .window_ms = cfg->brute_force.window_ms };

			fill_target(&a, source, c, b, port, protocol);
			raise_alert(d, &key, now_ms, &a);
		}
	}
	if (rule && rule->max_rate_per_s > 0) {
		/* A window long enough to hold ten connections at the limit. */
		uint64_t window_ms = (uint64_t)fmax(10000, ceil(10000 / rule->max_rate_per_s));
		double limit = rule->max_rate_per_s * window_ms / 1000;

		key = make_key(KIND_RATE_LIMIT, scope_of(c, rule->name), source, port, protocol);
		n = count_in_window(d, &key, now_ms, window_ms, 1);
		if (n > limit) {
			struct alert a = { .action = "rate-limit",
					   .rule_name = rule->name,
					   .severity = 47,
					   .view = "socket",
					   .count = n,
					   .threshold = (uint64_t)ceil(limit),
					   .window_ms = window_ms };

			fill_target(&a, source, c, b, port, protocol);
			raise_alert(d, &key, now_ms, &a);
		}
	}
	if (cfg->new_source.enabled) {
		struct window *seen;
		bool inserted;

		key = make_key(KIND_NEW_SOURCE, scope_of(c, NULL), source, port, protocol);
		seen = table_entry(d, &d->windows, &key, &inserted);

		if (seen && inserted) {
			/* Known sources are remembered for the learning time, then again. */
			seen->start_ms = now_ms;
			seen->length_ms = cfg->new_source.learn_ms;
			if (now_ms - d->started_ms >= cfg->new_source.learn_ms) {
				struct alert a = { .action = "new-source",
						   .rule_name = rule ? rule->name : "new-source",
						   .severity = 21,
						   .view = "socket",
						   .count = 1,
						   .threshold = 1,
						   .window_ms = cfg->new_source.learn_ms };

				fill_target(&a, source, c, b, port, protocol);
				raise_alert(d, &key, now_ms, &a);
			}
		}
	}
}

void detect_scan(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		 unsigned int ports, uint64_t window_ms, uint16_t last_port, uint8_t protocol)
{
	struct window_key key = make_key(KIND_PORT_SCAN, 0, source, 0, 0);
	struct alert a = { .action = "port-scan",
			   .rule_name = "port-scan",
			   .severity = 57,
			   .view = "interface",
			   .count = ports,
			   .threshold = d->policy->detect.port_scan.ports,
			   .window_ms = window_ms };

	if (!d->policy->detect.port_scan.enabled)
		return;
	fill_target(&a, source, NULL, NULL, last_port, protocol);
	raise_alert(d, &key, now_ms, &a);
}

void detect_attempts(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		     const struct container *c, const struct port_binding *b, uint16_t port,
		     uint8_t protocol, uint64_t attempts, uint64_t window_ms)
{
	const struct policy_rule *rule = rule_for(d, c, b);
	struct window_key key =
		make_key(KIND_BRUTE_FORCE, scope_of(c, NULL), source, port, protocol);
	struct alert a = { .action = "brute-force",
			   .rule_name = rule ? rule->name : "brute-force",
			   .severity = 63,
			   .view = "interface",
			   .count = attempts,
			   .threshold = d->policy->detect.brute_force.connections,
			   .window_ms = window_ms };

	if (!d->policy->detect.brute_force.enabled)
		return;
	fill_target(&a, source, c, b, port, protocol);
	raise_alert(d, &key, now_ms, &a);
}

void detect_unauthorized_syn(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
			     const struct container *c, const struct port_binding *b, bool dropped)
{
	const struct policy_rule *rule = rule_for(d, c, b);
	struct alert a = { .action = "unauthorized-source",
			   .rule_name = rule ? rule->name : "unauthorized-source",
			   .severity = dropped ? 47 : 73,
			   .view = "interface",
			   .count = 1,
			   .threshold = 1,
			   .dropped = dropped };
	struct window_key key;

	fill_target(&a, source, c, b, b ? b->host_port : 0, b ? b->protocol : 0);
	key = make_key(KIND_UNAUTHORIZED_SYN, scope_of(c, a.rule_name), source, a.port, a.protocol);
	raise_alert(d, &key, now_ms, &a);
}

void detect_port_rate(struct detector *d, uint64_t now_ms, const struct container *c,
		      const struct port_binding *b, uint16_t port, uint8_t protocol,
		      uint64_t connections, unsigned int interval_s)
{
	const struct detect_config *cfg = &d->policy->detect;
	struct window_key key = make_key(KIND_RATE_SPIKE, scope_of(c, NULL), NULL, port, protocol);
	double rate = interval_s ? (double)connections / interval_s : 0;
	struct baseline *base;
	bool inserted;

	if (!cfg->rate_spike.enabled || !interval_s)
		return;
	base = table_entry(d, &d->baselines, &key, &inserted);
	if (!base)
		return;
	if (inserted) {
		base->start_ms = now_ms;
		base->mean = rate;
		base->samples = 1;
		return;
	}
	/* While learning, the mean of what was seen; never an alert. */
	if (now_ms - base->start_ms < cfg->rate_spike.learn_ms) {
		base->samples++;
		base->mean += (rate - base->mean) / base->samples;
		return;
	}
	if (rate >= cfg->rate_spike.min_rate_per_s &&
	    rate > cfg->rate_spike.factor * fmax(base->mean, 1e-9)) {
		struct alert a = { .action = "rate-spike",
				   .rule_name = "rate-spike",
				   .severity = 47,
				   .view = "socket",
				   .count = connections,
				   .threshold =
					   (uint64_t)ceil(fmax(cfg->rate_spike.factor * base->mean,
							       cfg->rate_spike.min_rate_per_s) *
							  interval_s),
				   .window_ms = (uint64_t)interval_s * 1000,
				   .rate = rate,
				   .baseline = base->mean };
		const struct policy_rule *rule = rule_for(d, c, b);

		if (rule)
			a.rule_name = rule->name;
		fill_target(&a, NULL, c, b, port, protocol);
		raise_alert(d, &key, now_ms, &a);
		/* A spike does not teach the baseline that spikes are normal. */
		return;
	}
	/* Adapts: an exponential mean over about ten intervals. */
	base->mean += (rate - base->mean) * 0.1;
}

static bool is_loopback(const char *host_ip)
{
	uint8_t a[ADDR_LEN];
	static const uint8_t v6_loopback[ADDR_LEN] = { [15] = 1 };

	if (addr_parse(host_ip, a))
		return false;
	return (addr_is_v4mapped(a) && a[12] == 127) || !memcmp(a, v6_loopback, ADDR_LEN);
}

void detect_exposure(struct detector *d, uint64_t now_ms, const struct container *c)
{
	if (d->policy->profile != PROFILE_DEVELOPMENT)
		return;
	for (unsigned int i = 0; i < c->n_bindings; i++) {
		const struct port_binding *b = &c->bindings[i];
		struct alert a = { .action = "exposure",
				   .rule_name = "development-profile",
				   .severity = 47,
				   .view = "runtime",
				   .count = 1,
				   .threshold = 1 };
		struct window_key key;

		if (is_loopback(b->host_ip))
			continue;
		fill_target(&a, NULL, c, b, b->host_port, b->protocol);
		key = make_key(KIND_EXPOSURE, scope_of(c, b->host_ip), NULL, b->host_port,
			       b->protocol);
		raise_alert(d, &key, now_ms, &a);
	}
}

struct expiry {
	struct detector *d;
	uint64_t now_ms;
};

static bool window_over(const void *key, void *value, void *ctx)
{
	const struct window *w = value;
	const struct expiry *e = ctx;

	(void)key;
	return e->now_ms - w->start_ms >= w->length_ms;
}

/* A window that held alerts back ends with one record that counts them. */
static bool suppression_over(const void *key, void *value, void *ctx)
{
	struct suppression *s = value;
	const struct expiry *e = ctx;

	(void)key;
	if (e->now_ms < s->until_ms)
		return false;
	if (s->suppressed) {
		struct alert a = s->last;

		a.suppressed = s->suppressed;
		a.count = 0;
		e->d->emit(e->d->ctx, &a);
	}
	return true;
}

void detect_expire(struct detector *d, uint64_t now_ms)
{
	struct expiry e = { .d = d, .now_ms = now_ms };

	hashmap_remove_if(&d->windows, window_over, &e);
	hashmap_remove_if(&d->suppress, suppression_over, &e);
}
