// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: policy_parse() on a YAML policy file, which an operator
 * writes by hand (and a config-management tool may template badly).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[512];

	if (policy_parse((const char *)data, size, "fuzz.yaml", &p, err, sizeof(err))) {
		/* Refused: nothing kept, and the message names the file. */
		if (p.n_rules || p.rules || p.n_interfaces || strncmp(err, "fuzz.yaml", 9))
			abort();
		return 0;
	}
	for (unsigned int i = 0; i < p.n_rules; i++) {
		const struct policy_rule *r = &p.rules[i];

		if (!r->name[0] || (r->enforce && !r->allow) ||
		    (r->port && r->protocol != 6 && r->protocol != 17))
			abort();
		for (unsigned int j = 0; j < r->n_allow; j++)
			if (r->allow[j].prefix_len > 128)
				abort();
	}
	if (p.detect.port_scan.ports < 2 || !p.detect.suppress_ms)
		abort();
	policy_free(&p);
	return 0;
}
