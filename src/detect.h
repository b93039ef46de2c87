/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The detectors: stateful judgement of what the kernel saw, against the
 * policy and against each port's own history. Pure (time is passed in,
 * alerts go to a callback), so every edge of every window is unit-tested.
 *
 * All state is in bounded tables; when one is full the entry with the
 * oldest window goes, and that is counted (detect_evictions).
 */
#ifndef BERTH_DETECT_H
#define BERTH_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "hashmap.h"
#include "inventory.h"
#include "policy.h"

#define DETECT_MAX_ENTRIES 65536

struct alert {
	const char *action;    /* "unauthorized-source", "brute-force", ... */
	const char *rule_name; /* the policy rule, or the detector's name */
	unsigned int severity; /* 1..100 */
	const char *view;      /* "socket" or "interface": which hook saw it */
	uint8_t source[ADDR_LEN];
	bool has_source;
	const struct container *container; /* NULL when not known */
	const struct port_binding *binding;
	uint16_t port; /* destination port (the container's in the socket view) */
	uint8_t protocol;
	uint64_t count;	       /* what was counted in the window */
	uint64_t threshold;    /* what firing took */
	uint64_t window_ms;    /* over how long */
	uint64_t suppressed;   /* alerts of the same key held back since the last one */
	bool dropped;	       /* enforce: XDP dropped it */
	double rate, baseline; /* rate-spike: per second */
};

typedef void (*alert_fn)(void *ctx, const struct alert *a);

struct detector {
	const struct policy *policy;
	struct hashmap windows;	   /* struct window_key -> struct window */
	struct hashmap suppress;   /* struct window_key -> struct suppression */
	struct hashmap baselines;  /* struct window_key -> struct baseline */
	struct hashmap rule_cache; /* container and binding -> the rule that applies */
	uint64_t started_ms;
	uint64_t evictions;
	size_t max_entries;
	alert_fn emit;
	void *ctx;
};

int detect_init(struct detector *d, const struct policy *policy, uint64_t now_ms, alert_fn emit,
		void *ctx);
void detect_free(struct detector *d);
/* A reloaded policy: windows, baselines and suppressions carry over. */
void detect_set_policy(struct detector *d, const struct policy *policy);

/*
 * A connection a container accepted (socket view): unauthorized-source,
 * brute-force, rate-limit and new-source. from_host: the source is one of
 * the host's own addresses (docker-proxy, a local client), not judged by
 * the allowlists in this view.
 */
void detect_connection(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		       bool from_host, const struct container *c, const struct port_binding *b,
		       uint16_t port, uint8_t protocol);

/*
 * The kernel saw one source touch `ports` distinct ports in its window
 * (XDP, SYNs and UDP): port-scan.
 */
void detect_scan(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		 unsigned int ports, uint64_t window_ms, uint16_t last_port, uint8_t protocol);

/*
 * The kernel saw one source send `attempts` SYNs (connections or failed
 * handshakes) to host port `port` within window_ms: brute-force, sharing
 * its suppression with the socket view's.
 */
void detect_attempts(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
		     const struct container *c, const struct port_binding *b, uint16_t port,
		     uint8_t protocol, uint64_t attempts, uint64_t window_ms);

/*
 * A SYN the kernel judged outside a protected port's allowlist (interface
 * view, true source before DNAT), dropped when the rule enforces.
 */
void detect_unauthorized_syn(struct detector *d, uint64_t now_ms, const uint8_t source[ADDR_LEN],
			     const struct container *c, const struct port_binding *b, bool dropped);

/* Connections a published port opened in one stats interval: rate-spike. */
void detect_port_rate(struct detector *d, uint64_t now_ms, const struct container *c,
		      const struct port_binding *b, uint16_t port, uint8_t protocol,
		      uint64_t connections, unsigned int interval_s);

/*
 * The development profile: every published port must bind to loopback. An
 * exposure alert per binding of c that does not.
 */
void detect_exposure(struct detector *d, uint64_t now_ms, const struct container *c);

/* Drops windows and suppressions that have run out (call every interval). */
void detect_expire(struct detector *d, uint64_t now_ms);

#endif
