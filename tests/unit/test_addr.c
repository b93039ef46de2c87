// SPDX-License-Identifier: GPL-2.0-only
/* addr.c: one representation (16 bytes, IPv4 v4-mapped) in and out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

static void test_ipv4_round_trip(void **state)
{
	static const uint8_t want[ADDR_LEN] = { 0, 0, 0,    0,	  0,	0,    0,    0,
						0, 0, 0xff, 0xff, 0xc6, 0x33, 0x64, 0x02 };
	uint8_t addr[ADDR_LEN];
	char text[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_parse("198.51.100.2", addr), 0);
	assert_memory_equal(addr, want, ADDR_LEN);
	assert_true(addr_is_v4mapped(addr));
	assert_string_equal(addr_format(addr, text), "198.51.100.2");
	assert_string_equal(addr_network_type(addr), "ipv4");
}

static void test_ipv6_round_trip(void **state)
{
	static const uint8_t want[ADDR_LEN] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
						0,    0,    0,	  0,	0, 0, 0, 1 };
	uint8_t addr[ADDR_LEN];
	char text[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_parse("2001:db8::1", addr), 0);
	assert_memory_equal(addr, want, ADDR_LEN);
	assert_false(addr_is_v4mapped(addr));
	assert_string_equal(addr_format(addr, text), "2001:db8::1");
	assert_string_equal(addr_network_type(addr), "ipv6");

	/* RFC 5952: lower case, leading zeros dropped, longest zero run "::". */
	assert_int_equal(addr_parse("2001:0DB8:0000:0000:0001:0000:0000:0001", addr), 0);
	assert_string_equal(addr_format(addr, text), "2001:db8::1:0:0:1");
	assert_int_equal(addr_parse("fe80:0:0:0:0:0:0:1", addr), 0);
	assert_string_equal(addr_format(addr, text), "fe80::1");
}

/* An explicit ::ffff:a.b.c.d is the same address as a.b.c.d. */
static void test_v4mapped_input_normalises(void **state)
{
	uint8_t mapped[ADDR_LEN], plain[ADDR_LEN];
	char text[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_parse("::ffff:198.51.100.2", mapped), 0);
	assert_int_equal(addr_parse("198.51.100.2", plain), 0);
	assert_memory_equal(mapped, plain, ADDR_LEN);
	assert_string_equal(addr_format(mapped, text), "198.51.100.2");
	assert_string_equal(addr_network_type(mapped), "ipv4");

	assert_int_equal(addr_parse("::ffff:c633:6402", mapped), 0);
	assert_memory_equal(mapped, plain, ADDR_LEN);
}

static void test_unspecified(void **state)
{
	static const uint8_t zero[ADDR_LEN] = { 0 };
	static const uint8_t any4[ADDR_LEN] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t addr[ADDR_LEN];
	char text[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_parse("::", addr), 0);
	assert_memory_equal(addr, zero, ADDR_LEN);
	assert_string_equal(addr_format(addr, text), "::");
	assert_string_equal(addr_network_type(addr), "ipv6");

	assert_int_equal(addr_parse("0.0.0.0", addr), 0);
	assert_memory_equal(addr, any4, ADDR_LEN);
	assert_string_equal(addr_format(addr, text), "0.0.0.0");
	assert_string_equal(addr_network_type(addr), "ipv4");
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"1.2.3",
		"198.51.100.256",
		"2001:db8:::1",
		"198.51.100.2 ",
		" 198.51.100.2",
		"198.51.100.2/24",
		"[2001:db8::1]",
		"2001:db8::1%eth0",
		"1:2:3:4:5:6:7:8:9",
		"localhost",
	};
	uint8_t addr[ADDR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (addr_parse(bad[i], addr) != -1)
			fail_msg("addr_parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(addr_parse(NULL, addr), -1);
}

/* Longest printed forms fit ADDR_STRLEN with the NUL. */
static void test_longest_forms(void **state)
{
	uint8_t addr[ADDR_LEN];
	char text[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_parse("255.255.255.255", addr), 0);
	assert_string_equal(addr_format(addr, text), "255.255.255.255");
	assert_int_equal(addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", addr), 0);
	assert_string_equal(addr_format(addr, text), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* An IPv4-compatible (not mapped) address stays IPv6. */
	memset(addr, 0, sizeof(addr));
	addr[15] = 2;
	assert_false(addr_is_v4mapped(addr));
	assert_string_equal(addr_network_type(addr), "ipv6");
	assert_string_equal(addr_format(addr, text), "::2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_round_trip),
		cmocka_unit_test(test_ipv6_round_trip),
		cmocka_unit_test(test_v4mapped_input_normalises),
		cmocka_unit_test(test_unspecified),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_longest_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
