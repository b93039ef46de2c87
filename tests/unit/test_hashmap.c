// SPDX-License-Identifier: GPL-2.0-only
/*
 * hashmap.c: open addressing with backward-shift deletion. The risky part
 * is deletion (a wrong shift makes other keys unreachable), so it is
 * checked against a reference table under a long random churn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "berth.h"
#include "hashmap.h"

/* xorshift64*: a fixed sequence on every libc. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void test_insert_get_remove(void **state)
{
	struct hashmap map;
	uint64_t key = 42, other = 43;
	uint64_t *value;
	bool inserted;

	(void)state;
	assert_int_equal(hashmap_init(&map, sizeof(uint64_t), sizeof(uint64_t)), 0);
	assert_null(hashmap_get(&map, &key));
	assert_false(hashmap_remove(&map, &key));

	value = hashmap_upsert(&map, &key, &inserted);
	assert_non_null(value);
	assert_true(inserted);
	assert_int_equal(*value, 0); /* inserted zeroed */
	*value = 1234;
	assert_int_equal(map.count, 1);

	/* Upsert of a present key returns the same value, not a new one. */
	value = hashmap_upsert(&map, &key, &inserted);
	assert_false(inserted);
	assert_int_equal(*value, 1234);
	assert_int_equal(map.count, 1);
	/* inserted may be NULL. */
	assert_ptr_equal(hashmap_upsert(&map, &key, NULL), value);

	assert_ptr_equal(hashmap_get(&map, &key), value);
	assert_null(hashmap_get(&map, &other));
	assert_false(hashmap_remove(&map, &other));

	assert_true(hashmap_remove(&map, &key));
	assert_int_equal(map.count, 0);
	assert_null(hashmap_get(&map, &key));
	assert_false(hashmap_remove(&map, &key));

	/* Re-inserted after removal: zeroed again. */
	value = hashmap_upsert(&map, &key, &inserted);
	assert_true(inserted);
	assert_int_equal(*value, 0);
	hashmap_free(&map);

	/* A freed map answers, it does not crash. */
	assert_null(hashmap_get(&map, &key));
	assert_false(hashmap_remove(&map, &key));
	hashmap_free(&map);
}

/* Values are 8-byte aligned whatever the key size: they hold u64 counters. */
static void test_value_alignment(void **state)
{
	static const size_t key_sizes[] = { 1, 2, 3, 7, 8, 9, 16, 17, 24 };

	(void)state;
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++) {
		struct hashmap map;
		unsigned char key[24];

		assert_int_equal(hashmap_init(&map, key_sizes[k], 3), 0);
		for (int i = 0; i < 200; i++) {
			void *value;

			memset(key, 0, sizeof(key));
			memcpy(key, &i, key_sizes[k] < sizeof(i) ? key_sizes[k] : sizeof(i));
			value = hashmap_upsert(&map, key, NULL);
			assert_non_null(value);
			assert_int_equal((uintptr_t)value % 8, 0);
		}
		hashmap_free(&map);
	}
}

/* 100k keys: many doublings, every value survives each one. */
static void test_growth(void **state)
{
	enum { N = 100000 };
	struct hashmap map;
	size_t capacity_changes = 0, capacity;

	(void)state;
	assert_int_equal(hashmap_init(&map, sizeof(uint64_t), sizeof(uint64_t)), 0);
	capacity = map.capacity;
	for (uint64_t i = 0; i < N; i++) {
		uint64_t key = i * 0x9e3779b97f4a7c15ULL, *value;

		value = hashmap_upsert(&map, &key, NULL);
		assert_non_null(value);
		*value = i;
		if (map.capacity != capacity) {
			capacity_changes++;
			capacity = map.capacity;
		}
		/* Load stays at or under 70 %. */
		assert_true(map.count * 100 <= map.capacity * 70);
	}
	assert_int_equal(map.count, N);
	assert_true(capacity_changes >= 10);
	assert_int_equal(map.capacity & (map.capacity - 1), 0);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t key = i * 0x9e3779b97f4a7c15ULL, *value = hashmap_get(&map, &key);

		if (!value || *value != i)
			fail_msg("key %lu lost after growth", (unsigned long)i);
	}
	/* Sequential keys too (they share high bytes, the hash must spread them). */
	hashmap_free(&map);
	assert_int_equal(hashmap_init(&map, sizeof(uint32_t), sizeof(uint32_t)), 0);
	for (uint32_t i = 0; i < N; i++)
		*(uint32_t *)hashmap_upsert(&map, &i, NULL) = ~i;
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(*(uint32_t *)hashmap_get(&map, &i), ~i);
	hashmap_free(&map);
}

/*
 * Random inserts and removes over a small key space (so probe runs collide,
 * wrap around the table end and get shifted), checked against a plain
 * array after every step: a key that is present must be found with its
 * value, a removed one must not.
 */
static void test_remove_backward_shift(void **state)
{
	enum { KEYS = 2000, STEPS = 200000 };
	uint32_t *ref = calloc(KEYS, sizeof(*ref)); /* 0: absent, else value */
	struct hashmap map;
	size_t present = 0;

	(void)state;
	assert_non_null(ref);
	rng_state = 0x243f6a8885a308d3ULL;
	assert_int_equal(hashmap_init(&map, sizeof(uint32_t), sizeof(uint32_t)), 0);
	for (uint32_t step = 1; step <= STEPS; step++) {
		uint32_t key = rng() % KEYS;
		bool insert = rng() % 100 < 55;

		if (insert) {
			bool inserted;
			uint32_t *value = hashmap_upsert(&map, &key, &inserted);

			assert_non_null(value);
			assert_int_equal(inserted, ref[key] == 0);
			if (!ref[key])
				present++;
			*value = ref[key] = step;
		} else {
			assert_int_equal(hashmap_remove(&map, &key), ref[key] != 0);
			if (ref[key])
				present--;
			ref[key] = 0;
		}
		assert_int_equal(map.count, present);
		/* Full check now and then; the touched key every time. */
		if (step % 1000 == 0 || step > STEPS - 100) {
			for (uint32_t k = 0; k < KEYS; k++) {
				uint32_t *value = hashmap_get(&map, &k);

				if (ref[k] && (!value || *value != ref[k]))
					fail_msg("step %u: key %u lost", step, k);
				if (!ref[k] && value)
					fail_msg("step %u: removed key %u found", step, k);
			}
		} else {
			uint32_t *value = hashmap_get(&map, &key);

			assert_true(ref[key] ? value && *value == ref[key] : !value);
		}
	}
	/* Remove everything that is left, in random order; the map ends empty. */
	for (uint32_t k = 0; k < KEYS; k++) {
		uint32_t key = (k * 7919u) % KEYS; /* a permutation: 7919 is prime */

		assert_int_equal(hashmap_remove(&map, &key), ref[key] != 0);
		ref[key] = 0;
	}
	assert_int_equal(map.count, 0);
	for (size_t i = 0; i < map.capacity; i++)
		assert_int_equal(map.slots[i * map.slot_size], 0);
	hashmap_free(&map);
	free(ref);
}

/*
 * Deletion in a nearly full table: a table kept just under the growth
 * threshold has long runs that wrap past the end of the slot array.
 */
static void test_remove_dense_wraparound(void **state)
{
	struct hashmap map;
	uint64_t keys[44];
	size_t capacity;

	(void)state;
	assert_int_equal(hashmap_init(&map, sizeof(uint64_t), sizeof(uint64_t)), 0);
	capacity = map.capacity;
	rng_state = 7;
	for (int round = 0; round < 2000; round++) {
		/* 44 of 64 slots: 68.75 %, below the 70 % growth point. */
		for (size_t i = 0; i < 44; i++) {
			keys[i] = rng();
			*(uint64_t *)hashmap_upsert(&map, &keys[i], NULL) = keys[i] ^ 1;
		}
		assert_int_equal(map.capacity, capacity);
		/* Remove every other key, then check the rest. */
		for (size_t i = 0; i < 44; i += 2)
			assert_true(hashmap_remove(&map, &keys[i]));
		for (size_t i = 0; i < 44; i++) {
			uint64_t *value = hashmap_get(&map, &keys[i]);

			if (i % 2)
				assert_true(value && *value == (keys[i] ^ 1));
			else
				assert_null(value);
		}
		for (size_t i = 1; i < 44; i += 2)
			assert_true(hashmap_remove(&map, &keys[i]));
		assert_int_equal(map.count, 0);
	}
	hashmap_free(&map);
}

static void test_iteration(void **state)
{
	enum { N = 5000 };
	unsigned char *seen = calloc(N, 1);
	struct hashmap map;
	size_t iter = 0, visits = 0;
	void *key, *value;

	(void)state;
	assert_non_null(seen);
	assert_int_equal(hashmap_init(&map, sizeof(uint32_t), sizeof(uint64_t)), 0);

	/* Empty map: nothing. */
	assert_false(hashmap_next(&map, &iter, &key, &value));

	for (uint32_t i = 0; i < N; i++)
		*(uint64_t *)hashmap_upsert(&map, &i, NULL) = (uint64_t)i * 3;
	for (uint32_t i = 0; i < N; i += 3)
		assert_true(hashmap_remove(&map, &i));

	iter = 0;
	while (hashmap_next(&map, &iter, &key, &value)) {
		uint32_t k = *(uint32_t *)key;

		assert_true(k < N);
		assert_int_equal(k % 3 == 0, 0);
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		assert_int_equal(*(uint64_t *)value, (uint64_t)k * 3);
		visits++;
	}
	assert_int_equal(visits, map.count);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(seen[i], i % 3 != 0);
	/* Once done, it stays done. */
	assert_false(hashmap_next(&map, &iter, &key, &value));

	/* key and value may be NULL. */
	iter = 0;
	visits = 0;
	while (hashmap_next(&map, &iter, NULL, NULL))
		visits++;
	assert_int_equal(visits, map.count);
	hashmap_free(&map);
	free(seen);
}

/* The map's real users: struct keys compared as bytes, padding zeroed. */
static void test_struct_keys(void **state)
{
	struct hashmap map;
	struct berth_port_key a = { 0 }, b;
	struct berth_xdp_port_key x = { 0 }, y;
	struct berth_port_counters *c;

	(void)state;
	assert_int_equal(hashmap_init(&map, sizeof(struct berth_port_key),
				      sizeof(struct berth_port_counters)),
			 0);
	a.cgroup_id = 12345;
	a.port = 80;
	a.protocol = 6;
	a.role = BERTH_ROLE_LOCAL;
	c = hashmap_upsert(&map, &a, NULL);
	assert_non_null(c);
	c->bytes_in = 99;

	/* Each field is part of the identity. */
	b = a;
	b.role = BERTH_ROLE_REMOTE;
	assert_null(hashmap_get(&map, &b));
	b = a;
	b.protocol = 17;
	assert_null(hashmap_get(&map, &b));
	b = a;
	b.port = 443;
	assert_null(hashmap_get(&map, &b));
	b = a;
	b.cgroup_id = 12346;
	assert_null(hashmap_get(&map, &b));

	/* A copy built field by field, from zeroed memory, finds it. */
	memset(&b, 0, sizeof(b));
	b.cgroup_id = 12345;
	b.port = 80;
	b.protocol = 6;
	b.role = BERTH_ROLE_LOCAL;
	c = hashmap_get(&map, &b);
	assert_non_null(c);
	assert_int_equal(c->bytes_in, 99);
	hashmap_free(&map);

	assert_int_equal(hashmap_init(&map, sizeof(struct berth_xdp_port_key),
				      sizeof(struct berth_xdp_counters)),
			 0);
	for (uint32_t ifindex = 1; ifindex <= 8; ifindex++) {
		for (uint16_t port = 1; port <= 1000; port++) {
			struct berth_xdp_counters *v;

			x.ifindex = ifindex;
			x.port = port;
			x.protocol = port % 2 ? 6 : 17;
			v = hashmap_upsert(&map, &x, NULL);
			assert_non_null(v);
			v->packets = ifindex * 100000 + port;
		}
	}
	assert_int_equal(map.count, 8000);
	memset(&y, 0, sizeof(y));
	y.ifindex = 5;
	y.port = 777;
	y.protocol = 6;
	assert_int_equal(((struct berth_xdp_counters *)hashmap_get(&map, &y))->packets, 500777);
	y.protocol = 17;
	assert_null(hashmap_get(&map, &y));
	hashmap_free(&map);
}

static bool is_odd_value(const void *key, void *value, void *ctx)
{
	unsigned int *calls = ctx;

	(void)key;
	(*calls)++;
	return *(uint64_t *)value % 2;
}

/* Removing while walking: every member is judged once, the kept ones stay findable. */
static void test_remove_if(void **state)
{
	struct hashmap map;
	unsigned int calls = 0;

	(void)state;
	assert_int_equal(hashmap_init(&map, sizeof(uint64_t), sizeof(uint64_t)), 0);
	for (uint64_t k = 0; k < 1000; k++)
		*(uint64_t *)hashmap_upsert(&map, &k, NULL) = k;
	assert_int_equal(hashmap_remove_if(&map, is_odd_value, &calls), 500);
	assert_int_equal(calls, 1000);
	assert_int_equal(map.count, 500);
	for (uint64_t k = 0; k < 1000; k++) {
		uint64_t *v = hashmap_get(&map, &k);

		if (k % 2)
			assert_null(v);
		else
			assert_true(v && *v == k);
	}
	/* Cleared: empty, and usable again. */
	hashmap_clear(&map);
	assert_int_equal(map.count, 0);
	assert_null(hashmap_get(&map, &(uint64_t){ 2 }));
	*(uint64_t *)hashmap_upsert(&map, &(uint64_t){ 2 }, NULL) = 7;
	assert_int_equal(*(uint64_t *)hashmap_get(&map, &(uint64_t){ 2 }), 7);
	hashmap_free(&map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_get_remove),
		cmocka_unit_test(test_value_alignment),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_remove_backward_shift),
		cmocka_unit_test(test_remove_dense_wraparound),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_struct_keys),
		cmocka_unit_test(test_remove_if),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
