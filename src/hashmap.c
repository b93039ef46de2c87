// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

#define INITIAL_CAPACITY 64
/* Grow at 70 % load: linear probing degrades quickly above that. */
#define MAX_LOAD_PERCENT 70

static uint64_t hash_bytes(const void *data, size_t len)
{
	/* FNV-1a, then a final mix so low bits depend on every input byte. */
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static unsigned char *slot_at(const struct hashmap *map, size_t i)
{
	return map->slots + i * map->slot_size;
}

int hashmap_init(struct hashmap *map, size_t key_size, size_t value_size)
{
	memset(map, 0, sizeof(*map));
	map->key_size = key_size;
	map->value_size = value_size;
	/* Keep values 8-byte aligned: they hold u64 counters. */
	map->slot_size = (8 + key_size + 7) / 8 * 8 + (value_size + 7) / 8 * 8;
	map->capacity = INITIAL_CAPACITY;
	map->slots = calloc(map->capacity, map->slot_size);
	return map->slots ? 0 : -ENOMEM;
}

void hashmap_free(struct hashmap *map)
{
	free(map->slots);
	map->slots = NULL;
	map->count = map->capacity = 0;
}

static void *slot_key(const struct hashmap *map, unsigned char *slot)
{
	(void)map;
	return slot + 8;
}

static void *slot_value(const struct hashmap *map, unsigned char *slot)
{
	return slot + (8 + map->key_size + 7) / 8 * 8;
}

static size_t find_slot(const struct hashmap *map, const void *key, bool *found)
{
	size_t mask = map->capacity - 1;
	size_t i = hash_bytes(key, map->key_size) & mask;

	for (;;) {
		unsigned char *slot = slot_at(map, i);

		if (!slot[0]) {
			*found = false;
			return i;
		}
		if (!memcmp(slot_key(map, slot), key, map->key_size)) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static int grow(struct hashmap *map)
{
	struct hashmap bigger = *map;

	bigger.capacity = map->capacity * 2;
	bigger.count = 0;
	bigger.slots = calloc(bigger.capacity, map->slot_size);
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < map->capacity; i++) {
		unsigned char *slot = slot_at(map, i);
		bool found;
		size_t j;

		if (!slot[0])
			continue;
		j = find_slot(&bigger, slot_key(map, slot), &found);
		memcpy(slot_at(&bigger, j), slot, map->slot_size);
		bigger.count++;
	}
	free(map->slots);
	*map = bigger;
	return 0;
}

void *hashmap_get(const struct hashmap *map, const void *key)
{
	bool found;
	size_t i;

	if (!map->slots)
		return NULL;
	i = find_slot(map, key, &found);
	return found ? slot_value(map, slot_at(map, i)) : NULL;
}

void *hashmap_upsert(struct hashmap *map, const void *key, bool *inserted)
{
	unsigned char *slot;
	bool found;
	size_t i;

	if (inserted)
		*inserted = false;
	i = find_slot(map, key, &found);
	if (found)
		return slot_value(map, slot_at(map, i));
	if ((map->count + 1) * 100 > map->capacity * MAX_LOAD_PERCENT) {
		if (grow(map))
			return NULL;
		i = find_slot(map, key, &found);
	}
	slot = slot_at(map, i);
	memset(slot, 0, map->slot_size);
	slot[0] = 1;
	memcpy(slot_key(map, slot), key, map->key_size);
	map->count++;
	if (inserted)
		*inserted = true;
	return slot_value(map, slot);
}

bool hashmap_remove(struct hashmap *map, const void *key)
{
	size_t mask = map->capacity - 1;
	bool found;
	size_t hole, i;

	if (!map->slots)
		return false;
	hole = find_slot(map, key, &found);
	if (!found)
		return false;
	slot_at(map, hole)[0] = 0;
	map->count--;
	/* Backward shift: move later members of the probe run into the hole. */
	for (i = (hole + 1) & mask; slot_at(map, i)[0]; i = (i + 1) & mask) {
		unsigned char *slot = slot_at(map, i);
		size_t home = hash_bytes(slot_key(map, slot), map->key_size) & mask;

		/* Leave it if its home lies cyclically in (hole, i]. */
		if (hole <= i ? (home > hole && home <= i) : (home > hole || home <= i))
			continue;
		memcpy(slot_at(map, hole), slot, map->slot_size);
		slot[0] = 0;
		hole = i;
	}
	return true;
}

void hashmap_clear(struct hashmap *map)
{
	for (size_t i = 0; i < map->capacity; i++)
		slot_at(map, i)[0] = 0;
	map->count = 0;
}

size_t hashmap_remove_if(struct hashmap *map,
			 bool (*doomed)(const void *key, void *value, void *ctx), void *ctx)
{
	unsigned char *keys = NULL, *grown;
	size_t n = 0, iter = 0;
	void *key, *value;

	while (hashmap_next(map, &iter, &key, &value)) {
		if (!doomed(key, value, ctx))
			continue;
		grown = realloc(keys, (n + 1) * map->key_size);
		if (!grown)
			break; /* the rest waits for the next call */
		keys = grown;
		memcpy(keys + n++ * map->key_size, key, map->key_size);
	}
	for (size_t i = 0; i < n; i++)
		hashmap_remove(map, keys + i * map->key_size);
	free(keys);
	return n;
}

bool hashmap_next(const struct hashmap *map, size_t *iter, void **key, void **value)
{
	while (*iter < map->capacity) {
		unsigned char *slot = slot_at(map, (*iter)++);

		if (!slot[0])
			continue;
		if (key)
			*key = slot_key(map, slot);
		if (value)
			*value = slot_value(map, slot);
		return true;
	}
	return false;
}
