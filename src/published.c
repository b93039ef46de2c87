// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"
#include "hashmap.h"
#include "published.h"

struct wanted {
	const struct policy *policy;
	struct hashmap ports; /* struct berth_published_key -> struct berth_published */
	struct hashmap allow; /* struct berth_allow_key -> uint8_t */
};

static void want_binding(void *ctx, const struct container *c, const struct port_binding *b)
{
	struct wanted *want = ctx;
	struct berth_published_key key = { .port = b->host_port, .protocol = b->protocol };
	const struct policy_rule *rule = want->policy ? policy_match(want->policy, c, b) : NULL;
	struct berth_published *value;
	bool inserted;

	value = hashmap_upsert(&want->ports, &key, &inserted);
	if (!value)
		return;
	if (inserted)
		value->container_port = b->container_port;
	value->bindings++;
	if (!rule || !rule->allow)
		return;
	value->flags |= BERTH_PUBLISHED_PROTECTED;
	if (rule->enforce)
		value->flags |= BERTH_PUBLISHED_ENFORCE;
	for (unsigned int i = 0; i < rule->n_allow; i++) {
		struct berth_allow_key allow = { .prefixlen = 32 + rule->allow[i].prefix_len,
						 .port = b->host_port,
						 .protocol = b->protocol };

		memcpy(allow.addr, rule->allow[i].addr, sizeof(allow.addr));
		hashmap_upsert(&want->allow, &allow, NULL);
	}
}

/*
 * Makes the BPF map hold exactly the keys of want (values from it, or 1):
 * stale keys deleted first, then every wanted one written. Count or -errno.
 */
static int sync_map(int map_fd, struct hashmap *want, size_t key_size)
{
	unsigned char key[64], next[64], *stale = NULL, *grown;
	size_t n_stale = 0, iter = 0;
	void *wanted_key, *value;
	int err = 0, count = 0;
	uint8_t one = 1;

	/* Collect, then delete: deleting while walking restarts the walk. */
	for (int rc = bpf_map_get_next_key(map_fd, NULL, next); !rc;
	     rc = bpf_map_get_next_key(map_fd, key, next)) {
		memcpy(key, next, key_size);
		if (hashmap_get(want, key))
			continue;
		grown = realloc(stale, (n_stale + 1) * key_size);
		if (!grown) {
			err = -ENOMEM;
			break;
		}
		stale = grown;
		memcpy(stale + n_stale++ * key_size, key, key_size);
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(map_fd, stale + i * key_size);
	free(stale);

	while (hashmap_next(want, &iter, &wanted_key, &value)) {
		if (bpf_map_update_elem(map_fd, wanted_key, want->value_size ? value : &one,
					BPF_ANY)) {
			err = errno == E2BIG || errno == ENOSPC || errno == ENOMEM ? -E2BIG :
										     -errno;
			continue;
		}
		count++;
	}
	return err ? err : count;
}

int published_ports_sync(const struct inventory *inv, const struct policy *policy, int map_fd,
			 int allow_fd)
{
	struct wanted want = { .policy = policy };
	int count, err = 0;

	if (hashmap_init(&want.ports, sizeof(struct berth_published_key),
			 sizeof(struct berth_published)) ||
	    hashmap_init(&want.allow, sizeof(struct berth_allow_key), 0)) {
		hashmap_free(&want.ports);
		return -ENOMEM;
	}
	inventory_for_each_published(inv, want_binding, &want);
	/* Allowlists first: a port is never protected before its allowlist is in. */
	if (allow_fd >= 0)
		err = sync_map(allow_fd, &want.allow, sizeof(struct berth_allow_key));
	count = sync_map(map_fd, &want.ports, sizeof(struct berth_published_key));
	hashmap_free(&want.ports);
	hashmap_free(&want.allow);
	if (count < 0)
		return count;
	return err < 0 ? err : count;
}
