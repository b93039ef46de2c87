/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The published-port table in the kernel: the host ports the inventory's
 * running containers publish, written into the published_ports map so that
 * XDP counts those ports one by one.
 */
#ifndef BERTH_PUBLISHED_H
#define BERTH_PUBLISHED_H

#include "inventory.h"

/*
 * Makes the map (struct berth_published_key -> struct berth_published)
 * hold exactly the host ports published now. Returns how many entries it
 * holds, or -errno (-E2BIG when there are more ports than the map has
 * room for: the ones that fit are written).
 */
int published_ports_sync(const struct inventory *inv, int map_fd);

#endif
