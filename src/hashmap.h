/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A hash map with fixed-size keys and values stored inline: open
 * addressing, linear probing, backward-shift deletion (no tombstones, so a
 * map that churns does not slow down). Keys are compared as bytes: zero the
 * padding of struct keys.
 */
#ifndef BERTH_HASHMAP_H
#define BERTH_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap {
	size_t key_size;
	size_t value_size;
	size_t slot_size;
	size_t capacity; /* power of two */
	size_t count;
	unsigned char *slots; /* per slot: used byte, key, value */
};

int hashmap_init(struct hashmap *map, size_t key_size, size_t value_size);
void hashmap_free(struct hashmap *map);

/* The value of key, or NULL. */
void *hashmap_get(const struct hashmap *map, const void *key);
/* The value of key, inserted zeroed when missing; NULL on ENOMEM. */
void *hashmap_upsert(struct hashmap *map, const void *key, bool *inserted);
bool hashmap_remove(struct hashmap *map, const void *key);
/* Removes every member; the memory stays for what comes next. */
void hashmap_clear(struct hashmap *map);

/*
 * Removes every member for which doomed(key, value, ctx) is true (it may
 * release what the value owns first). Deleting while iterating would move
 * members under the iterator, so the keys are collected first. Returns how
 * many went.
 */
size_t hashmap_remove_if(struct hashmap *map,
			 bool (*doomed)(const void *key, void *value, void *ctx), void *ctx);

/* Iteration: for (i = 0; hashmap_next(map, &i, &k, &v);) */
bool hashmap_next(const struct hashmap *map, size_t *iter, void **key, void **value);

#endif
