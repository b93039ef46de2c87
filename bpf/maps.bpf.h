/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef BERTH_MAPS_BPF_H
#define BERTH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define BPF_NOEXIST 1

/*
 * Looks key up and inserts a zeroed value when it is missing. Written as
 * lookup, insert with BPF_NOEXIST, lookup again, because another CPU may
 * insert the same key between our lookup and update: BPF_NOEXIST then fails
 * with -EEXIST and the second lookup finds that CPU's entry. Returns NULL
 * only when the map is full.
 */
static __always_inline void *lookup_or_try_init(void *map, const void *key, const void *zero)
{
	void *val;
	long err;

	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;
	err = bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST */)
		return NULL;
	return bpf_map_lookup_elem(map, key);
}

#endif /* BERTH_MAPS_BPF_H */
