/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy: who may reach each published port, and the detectors'
 * thresholds, from a YAML file (DESIGN.md, "Policy"). Every key has a
 * default, so no file at all is a working policy: detection on, no
 * allowlists.
 */
#ifndef BERTH_POLICY_H
#define BERTH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "inventory.h"
#include "output.h"

#define POLICY_MAX_FILE (1u << 20)
#define POLICY_NAME_MAX 64
#define POLICY_GLOB_MAX 256
#define POLICY_MAX_INTERFACES 32

enum policy_profile {
	PROFILE_PRODUCTION,
	PROFILE_DEVELOPMENT, /* every published port must bind to loopback */
};

/* An IPv4 or IPv6 prefix; IPv4 as v4-mapped with the prefix length + 96. */
struct cidr {
	uint8_t addr[ADDR_LEN]; /* host bits zero */
	uint8_t prefix_len;	/* 0..128 */
};

struct policy_rule {
	char name[POLICY_NAME_MAX];
	/* Selection: every given one must match; none given selects all. */
	char container[POLICY_GLOB_MAX]; /* glob on the container name */
	char image[POLICY_GLOB_MAX];	 /* glob on the image reference */
	char label_key[POLICY_GLOB_MAX];
	char label_value[POLICY_GLOB_MAX]; /* glob; "" with a key: any value */
	uint16_t port;			   /* 0: every port */
	bool port_is_host;		   /* port names the host port, not the container's */
	uint8_t protocol;		   /* with port: IPPROTO_TCP or IPPROTO_UDP */
	struct cidr *allow;		   /* NULL: no allowlist (anyone may connect) */
	unsigned int n_allow;
	double max_rate_per_s; /* per source; 0: no limit */
	bool enforce;	       /* XDP drops SYNs from outside allow */
	unsigned int line;     /* where the rule starts, for messages */
};

struct detect_config {
	struct {
		bool enabled;
		unsigned int ports;
		uint64_t window_ms;
	} port_scan;
	struct {
		bool enabled;
		unsigned int connections;
		uint64_t window_ms;
	} brute_force;
	struct {
		bool enabled;
		double factor;
		double min_rate_per_s;
		uint64_t learn_ms;
	} rate_spike;
	struct {
		bool enabled;
		uint64_t learn_ms;
	} new_source;
	uint64_t suppress_ms; /* one alert per (rule, source, port) per window */
};

struct policy {
	enum policy_profile profile;
	char *interfaces[POLICY_MAX_INTERFACES];
	unsigned int n_interfaces;
	struct policy_rule *rules;
	unsigned int n_rules;
	struct detect_config detect;
	struct sink_config *outputs; /* `outputs:`; none: the command line's, or stdout */
	unsigned int n_outputs;
	char *pseudonym_key_file; /* privacy.key_file */
};

/* The policy of no file: production, no rules, every default. */
void policy_defaults(struct policy *p);
void policy_free(struct policy *p);

/*
 * Parses YAML text; name is what messages call it (the file's path).
 * Returns 0, or -1 with "name:line:column: what is wrong" in err; p is
 * then left as policy_defaults() made it.
 */
int policy_parse(const char *text, size_t len, const char *name, struct policy *p, char *err,
		 size_t errlen);

/* Reads path (at most POLICY_MAX_FILE bytes) and parses it. */
int policy_load(const char *path, struct policy *p, char *err, size_t errlen);

/* "198.51.100.0/25", "2001:db8::/32", or one address (a full-length prefix). */
int cidr_parse(const char *text, struct cidr *out);
bool cidr_contains(const struct cidr *c, const uint8_t addr[ADDR_LEN]);

/* "20/s", "1200/m", "5/h", or a number (per second); > 0. */
int rate_parse(const char *text, double *per_s);
/* "512KiB", "100MiB", "1GiB", "1000" (bytes); KB, MB, GB are powers of 1000. */
int size_parse(const char *text, uint64_t *bytes);
/* "500ms", "10s", "5m", "1h", "1d", or a number of seconds; > 0. */
int duration_parse(const char *text, uint64_t *ms);

/*
 * Whether rule applies to binding b of container c (b NULL: traffic on a
 * port that is not published, which only port-less rules select).
 */
bool policy_rule_selects(const struct policy_rule *rule, const struct container *c,
			 const struct port_binding *b);

/* The first rule that selects (c, b), or NULL. */
const struct policy_rule *policy_match(const struct policy *p, const struct container *c,
				       const struct port_binding *b);

/* Whether source may connect under rule: no allowlist, or inside it. */
bool policy_allows(const struct policy_rule *rule, const uint8_t source[ADDR_LEN]);

#endif
