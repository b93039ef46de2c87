// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"
#include "hashmap.h"
#include "published.h"

static void want_binding(void *ctx, const struct port_binding *b)
{
	struct hashmap *want = ctx;
	struct berth_published_key key = { .port = b->host_port, .protocol = b->protocol };
	struct berth_published *value;
	bool inserted;

	value = hashmap_upsert(want, &key, &inserted);
	if (!value)
		return;
	if (inserted)
		value->container_port = b->container_port;
	value->bindings++;
}

int published_ports_sync(const struct inventory *inv, int map_fd)
{
	struct berth_published_key key, next, *stale = NULL, *wanted_key;
	struct berth_published *value;
	size_t n_stale = 0, iter = 0;
	struct hashmap want;
	int err = 0, count = 0;

	if (hashmap_init(&want, sizeof(key), sizeof(*value)))
		return -ENOMEM;
	inventory_for_each_published(inv, want_binding, &want);

	/* Collect, then delete: deleting while walking restarts the walk. */
	for (int rc = bpf_map_get_next_key(map_fd, NULL, &next); !rc;
	     rc = bpf_map_get_next_key(map_fd, &key, &next)) {
		key = next;
		if (hashmap_get(&want, &key))
			continue;
		wanted_key = realloc(stale, (n_stale + 1) * sizeof(*stale));
		if (!wanted_key) {
			err = -ENOMEM;
			break;
		}
		stale = wanted_key;
		stale[n_stale++] = key;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(map_fd, &stale[i]);
	free(stale);

	while (hashmap_next(&want, &iter, (void **)&wanted_key, (void **)&value)) {
		if (bpf_map_update_elem(map_fd, wanted_key, value, BPF_ANY)) {
			err = errno == E2BIG || errno == ENOSPC ? -E2BIG : -errno;
			continue;
		}
		count++;
	}
	hashmap_free(&want);
	return err ? err : count;
}
