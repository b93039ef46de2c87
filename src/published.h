/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The published-port table in the kernel: the host ports the inventory's
 * running containers publish, written into the published_ports map so that
 * XDP counts those ports one by one.
 */
#ifndef BERTH_PUBLISHED_H
#define BERTH_PUBLISHED_H

#include "inventory.h"
#include "policy.h"

/*
 * Makes the map (struct berth_published_key -> struct berth_published)
 * hold exactly the host ports published now, flagged protected (and
 * enforcing) where a rule of policy with an allowlist selects them, and
 * allow_fd (the LPM trie, -1: none) hold those allowlists. Returns how many
 * ports, or -errno (-E2BIG when there are more than the maps have room
 * for: what fits is written).
 */
int published_ports_sync(const struct inventory *inv, const struct policy *policy, int map_fd,
			 int allow_fd);

#endif
