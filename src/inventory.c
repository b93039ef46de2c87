// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inventory.h"

/* Unknown cgroup ids re-walk cgroupfs at most this often. */
#define CGROUP_WALK_INTERVAL_MS 200

void container_clear(struct container *c)
{
	free(c->bindings);
	free(c->labels);
	memset(c, 0, sizeof(*c));
}

void container_list_free(struct container_list *list)
{
	for (unsigned int i = 0; i < list->count; i++)
		container_clear(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

struct container *container_list_add(struct container_list *list)
{
	struct container *c;

	if (list->count == list->capacity) {
		unsigned int capacity = list->capacity ? list->capacity * 2 : 16;
		struct container *items = realloc(list->items, capacity * sizeof(*items));

		if (!items)
			return NULL;
		list->items = items;
		list->capacity = capacity;
	}
	c = &list->items[list->count++];
	memset(c, 0, sizeof(*c));
	return c;
}

int container_add_binding(struct container *c, const struct port_binding *b)
{
	struct port_binding *bindings;

	bindings = realloc(c->bindings, (c->n_bindings + 1) * sizeof(*bindings));
	if (!bindings)
		return -ENOMEM;
	bindings[c->n_bindings++] = *b;
	c->bindings = bindings;
	return 0;
}

int container_add_label(struct container *c, const char *key, const char *value)
{
	struct label *labels;

	if (c->n_labels >= CONTAINER_LABELS_MAX)
		return 0;
	labels = realloc(c->labels, (c->n_labels + 1) * sizeof(*labels));
	if (!labels)
		return -ENOMEM;
	c->labels = labels;
	snprintf(labels[c->n_labels].key, LABEL_TEXT_MAX, "%s", key);
	snprintf(labels[c->n_labels].value, LABEL_TEXT_MAX, "%s", value);
	c->n_labels++;
	return 0;
}

void image_tag_of(const char *image, char *tag, size_t taglen)
{
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');

	/* A digest pins the image: its tag, if any, says nothing more. */
	if (strchr(image, '@') || !colon)
		colon = NULL;
	snprintf(tag, taglen, "%s", colon ? colon + 1 : "");
}

int inventory_init(struct inventory *inv, const char *cgroup_mount)
{
	int err;

	memset(inv, 0, sizeof(*inv));
	err = cgroup_paths_init(&inv->cgroups, cgroup_mount);
	if (err)
		return err;
	return hashmap_init(&inv->by_cgroup, sizeof(uint64_t), sizeof(struct cgroup_entry));
}

void inventory_free(struct inventory *inv)
{
	struct cgroup_entry *entry;
	size_t iter = 0;

	while (hashmap_next(&inv->by_cgroup, &iter, NULL, (void **)&entry))
		free(entry->path);
	hashmap_free(&inv->by_cgroup);
	cgroup_paths_free(&inv->cgroups);
	container_list_free(&inv->containers);
}

static const struct cgroup_entry *add_cgroup_entry(struct inventory *inv, uint64_t cgroup_id,
						   const char *path)
{
	struct cgroup_entry *entry = hashmap_upsert(&inv->by_cgroup, &cgroup_id, NULL);

	if (!entry)
		return NULL;
	free(entry->path);
	entry->path = strdup(path);
	if (!entry->path) {
		hashmap_remove(&inv->by_cgroup, &cgroup_id);
		return NULL;
	}
	entry->is_container = cgroup_path_container(path, &entry->from_path);
	return entry;
}

const struct cgroup_entry *inventory_cgroup(struct inventory *inv, uint64_t cgroup_id)
{
	struct cgroup_entry *entry = hashmap_get(&inv->by_cgroup, &cgroup_id);
	const char *path;

	if (entry)
		return entry;
	path = cgroup_paths_lookup(&inv->cgroups, cgroup_id, CGROUP_WALK_INTERVAL_MS);
	if (!path)
		return NULL;
	return add_cgroup_entry(inv, cgroup_id, path);
}

const struct cgroup_entry *inventory_remember_cgroup(struct inventory *inv, uint64_t cgroup_id,
						     const char *path)
{
	return add_cgroup_entry(inv, cgroup_id, path);
}

const struct container *inventory_container(const struct inventory *inv, const char *id)
{
	for (unsigned int i = 0; i < inv->containers.count; i++)
		if (!strcmp(inv->containers.items[i].id, id))
			return &inv->containers.items[i];
	return NULL;
}

static bool is_ipv4_literal(const char *ip)
{
	return strchr(ip, ':') == NULL;
}

const struct port_binding *container_binding(const struct container *c, uint16_t container_port,
					     uint8_t protocol)
{
	const struct port_binding *first = NULL;

	for (unsigned int i = 0; i < c->n_bindings; i++) {
		const struct port_binding *b = &c->bindings[i];

		if (b->container_port != container_port || b->protocol != protocol)
			continue;
		if (is_ipv4_literal(b->host_ip))
			return b;
		if (!first)
			first = b;
	}
	return first;
}

const struct container *inventory_by_host_port(const struct inventory *inv, uint16_t host_port,
					       uint8_t protocol,
					       const struct port_binding **binding)
{
	const struct container *first = NULL;

	for (unsigned int i = 0; i < inv->containers.count; i++) {
		const struct container *c = &inv->containers.items[i];

		for (unsigned int j = 0; j < c->n_bindings; j++) {
			const struct port_binding *b = &c->bindings[j];

			if (b->host_port != host_port || b->protocol != protocol)
				continue;
			/* As container_binding(): the IPv4 one of a dual -p. */
			if (is_ipv4_literal(b->host_ip) || !first) {
				*binding = b;
				first = c;
				if (is_ipv4_literal(b->host_ip))
					return c;
			}
		}
	}
	return first;
}

int inventory_add_container(struct inventory *inv, struct container *c)
{
	struct container *slot = (struct container *)inventory_container(inv, c->id);

	if (slot) {
		container_clear(slot);
	} else {
		slot = container_list_add(&inv->containers);
		if (!slot)
			return -ENOMEM;
	}
	*slot = *c;
	memset(c, 0, sizeof(*c));
	inv->generation++;
	return 0;
}

static bool listed(const struct container_list *list, const char *id)
{
	for (unsigned int i = 0; i < list->count; i++)
		if (!strcmp(list->items[i].id, id))
			return true;
	return false;
}

unsigned int inventory_sync_runtime(struct inventory *inv, const char *runtime,
				    struct container_list *list, int64_t now_ms,
				    const struct inventory_observer *obs)
{
	unsigned int changes = 0;

	for (unsigned int i = 0; i < inv->containers.count; i++) {
		struct container *c = &inv->containers.items[i];

		if (c->stopped || strcmp(c->runtime, runtime) || listed(list, c->id))
			continue;
		inventory_mark_stopped(inv, c->id, now_ms);
		changes++;
		if (obs && obs->stopped)
			obs->stopped(obs->ctx, c);
	}
	for (unsigned int i = 0; i < list->count; i++) {
		const struct container *known = inventory_container(inv, list->items[i].id);
		bool started = !known || known->stopped;
		char id[CONTAINER_ID_MAX + 1];

		struct container *now;

		memcpy(id, list->items[i].id, sizeof(id));
		list->items[i].announced = known && !known->stopped && known->announced;
		if (inventory_add_container(inv, &list->items[i]))
			continue;
		now = (struct container *)inventory_container(inv, id);
		if (!started || now->announced)
			continue;
		changes++;
		if (obs && obs->started) {
			now->announced = true;
			obs->started(obs->ctx, now);
		}
	}
	container_list_free(list);
	return changes;
}

struct container *inventory_mark_stopped(struct inventory *inv, const char *id, int64_t now_ms)
{
	struct container *c = (struct container *)inventory_container(inv, id);

	if (c && !c->stopped) {
		c->stopped = true;
		c->stopped_at_ms = now_ms;
		inv->generation++;
	}
	return c;
}

unsigned int inventory_expire(struct inventory *inv, int64_t now_ms, int64_t keep_ms)
{
	struct container_list *list = &inv->containers;
	unsigned int expired = 0;

	for (unsigned int i = 0; i < list->count;) {
		struct container *c = &list->items[i];

		if (!c->stopped || now_ms - c->stopped_at_ms < keep_ms) {
			i++;
			continue;
		}
		container_clear(c);
		/* Order does not matter: move the last one into the hole. */
		*c = list->items[--list->count];
		expired++;
	}
	if (expired)
		inv->generation++;
	return expired;
}

struct prune {
	struct inventory *inv;
	void (*gone)(void *ctx, uint64_t cgroup_id);
	void *ctx;
};

/* Its directory is gone (or is another one now): forget it, after telling. */
static bool cgroup_gone_from_fs(const void *key, void *value, void *ctx)
{
	const uint64_t *id = key;
	struct cgroup_entry *entry = value;
	struct prune *p = ctx;
	char dir[8192];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s%s", p->inv->cgroups.mount, entry->path);
	if (!stat(dir, &st) && st.st_ino == *id)
		return false;
	if (p->gone)
		p->gone(p->ctx, *id);
	free(entry->path);
	entry->path = NULL;
	return true;
}

unsigned int inventory_prune_cgroups(struct inventory *inv,
				     void (*gone)(void *ctx, uint64_t cgroup_id), void *ctx)
{
	struct prune p = { .inv = inv, .gone = gone, .ctx = ctx };

	return hashmap_remove_if(&inv->by_cgroup, cgroup_gone_from_fs, &p);
}

void inventory_for_each_published(const struct inventory *inv,
				  void (*add)(void *ctx, const struct container *c,
					      const struct port_binding *b),
				  void *ctx)
{
	for (unsigned int i = 0; i < inv->containers.count; i++) {
		const struct container *c = &inv->containers.items[i];

		if (c->stopped)
			continue;
		for (unsigned int j = 0; j < c->n_bindings; j++)
			add(ctx, c, &c->bindings[j]);
	}
}

unsigned int inventory_container_count(const struct inventory *inv)
{
	return inv->containers.count;
}

unsigned int inventory_cgroup_count(const struct inventory *inv)
{
	return inv->by_cgroup.count;
}
