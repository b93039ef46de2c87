// SPDX-License-Identifier: GPL-2.0-only
/* cli.c: flag values, and error messages that name the flag at fault. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static void uint_ok(const char *text, unsigned long min, unsigned long max, unsigned long want)
{
	unsigned long value = 12345;
	char err[256] = "";

	if (cli_parse_uint("--interval", text, min, max, &value, err, sizeof(err)))
		fail_msg("'%s' refused: %s", text, err);
	assert_int_equal(value, want);
	assert_string_equal(err, "");
}

static void uint_bad(const char *text, unsigned long min, unsigned long max, const char *want)
{
	unsigned long value = 12345;
	char err[256] = "";

	if (!cli_parse_uint("--interval", text, min, max, &value, err, sizeof(err)))
		fail_msg("'%s' accepted", text ? text : "(null)");
	/* A refused value leaves the output alone. */
	assert_int_equal(value, 12345);
	if (strcmp(err, want))
		fail_msg("'%s'\n got: %s\nwant: %s", text ? text : "(null)", err, want);
}

static void size_ok(const char *text, unsigned long long min, unsigned long long max,
		    unsigned long long want)
{
	unsigned long long value = 12345;
	char err[256] = "";

	if (cli_parse_size("--ringbuf-size", text, min, max, &value, err, sizeof(err)))
		fail_msg("'%s' refused: %s", text, err);
	assert_int_equal(value, want);
}

static void size_bad(const char *text, unsigned long long min, unsigned long long max,
		     const char *want)
{
	unsigned long long value = 12345;
	char err[256] = "";

	if (!cli_parse_size("--ringbuf-size", text, min, max, &value, err, sizeof(err)))
		fail_msg("'%s' accepted", text ? text : "(null)");
	assert_int_equal(value, 12345);
	if (strcmp(err, want))
		fail_msg("'%s'\n got: %s\nwant: %s", text ? text : "(null)", err, want);
}

static void test_uint_valid(void **state)
{
	(void)state;
	uint_ok("1", 1, 86400, 1);
	uint_ok("10", 1, 86400, 10);
	uint_ok("86400", 1, 86400, 86400);
	uint_ok("007", 1, 86400, 7); /* decimal, not octal */
	uint_ok("0", 0, 10, 0);
	uint_ok("18446744073709551615", 0, ULONG_MAX, ULONG_MAX);
}

static void test_uint_bounds(void **state)
{
	(void)state;
	uint_bad("0", 1, 86400, "--interval: 0 is out of range [1, 86400]");
	uint_bad("86401", 1, 86400, "--interval: 86401 is out of range [1, 86400]");
	uint_bad("4294967296", 1, 86400, "--interval: 4294967296 is out of range [1, 86400]");
	uint_bad("5", 10, 20, "--interval: 5 is out of range [10, 20]");
}

static void test_uint_garbage(void **state)
{
	(void)state;
	uint_bad("", 1, 86400, "--interval: expected a number, got ''");
	uint_bad(NULL, 1, 86400, "--interval: expected a number, got ''");
	uint_bad("abc", 1, 86400, "--interval: expected a number, got 'abc'");
	uint_bad("10s", 1, 86400, "--interval: expected a number, got '10s'");
	uint_bad("1.5", 1, 86400, "--interval: expected a number, got '1.5'");
	uint_bad("0x10", 1, 86400, "--interval: expected a number, got '0x10'");
	uint_bad(" 10", 1, 86400, "--interval: expected a number, got ' 10'");
	uint_bad("10 ", 1, 86400, "--interval: expected a number, got '10 '");
	uint_bad("+10", 1, 86400, "--interval: expected a number, got '+10'");
	/* strtoul would take "-1" as ULONG_MAX: refused before it gets there. */
	uint_bad("-1", 1, 86400, "--interval: expected a number, got '-1'");
	uint_bad("-1", 0, ULONG_MAX, "--interval: expected a number, got '-1'");
}

static void test_uint_overflow(void **state)
{
	(void)state;
	uint_bad("99999999999999999999", 1, 86400,
		 "--interval: 99999999999999999999 is out of range [1, 86400]");
	uint_bad("18446744073709551616", 0, ULONG_MAX,
		 "--interval: 18446744073709551616 is out of range [0, 18446744073709551615]");
}

/* Each error names the flag it was given. */
static void test_error_names_flag(void **state)
{
	unsigned long value;
	unsigned long long size;
	char err[256];

	(void)state;
	assert_int_equal(cli_parse_uint("--top", "x", 1, 10, &value, err, sizeof(err)), -1);
	assert_string_equal(err, "--top: expected a number, got 'x'");
	assert_int_equal(cli_parse_size("--max-size", "x", 1, 10, &size, err, sizeof(err)), -1);
	assert_string_equal(err, "--max-size: expected a size like 8M, got 'x'");
	/* A short buffer truncates, never overflows. */
	memset(err, 'X', sizeof(err));
	assert_int_equal(cli_parse_uint("--top", "x", 1, 10, &value, err, 6), -1);
	assert_string_equal(err, "--top");
	assert_int_equal(err[6], 'X');
}

static void test_size_valid(void **state)
{
	(void)state;
	size_ok("65536", 1 << 16, 1ULL << 30, 65536);
	size_ok("64K", 1 << 16, 1ULL << 30, 64ULL << 10);
	size_ok("64k", 1 << 16, 1ULL << 30, 64ULL << 10);
	size_ok("8M", 1 << 16, 1ULL << 30, 8ULL << 20);
	size_ok("8m", 1 << 16, 1ULL << 30, 8ULL << 20);
	size_ok("1G", 1 << 16, 1ULL << 30, 1ULL << 30);
	size_ok("1g", 1 << 16, 1ULL << 30, 1ULL << 30);
	size_ok("1024M", 1 << 16, 1ULL << 30, 1ULL << 30);
	size_ok("0", 0, 10, 0);
	size_ok("16777216G", 0, ULLONG_MAX, 16777216ULL << 30); /* 2^54 */
}

static void test_size_bounds(void **state)
{
	(void)state;
	size_bad("2G", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 2G is out of range [65536, 1073741824] bytes");
	size_bad("1025M", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 1025M is out of range [65536, 1073741824] bytes");
	size_bad("1K", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 1K is out of range [65536, 1073741824] bytes");
	size_bad("65535", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 65535 is out of range [65536, 1073741824] bytes");
	size_bad("0", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 0 is out of range [65536, 1073741824] bytes");
}

static void test_size_garbage(void **state)
{
	(void)state;
	size_bad("", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got ''");
	size_bad(NULL, 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got ''");
	size_bad("M", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got 'M'");
	size_bad("8MB", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got '8MB'");
	size_bad("8MiB", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: expected a size like 8M, got '8MiB'");
	size_bad("8T", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got '8T'");
	size_bad("8 M", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got '8 M'");
	size_bad("1.5M", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: expected a size like 8M, got '1.5M'");
	size_bad("-1", 1 << 16, 1ULL << 30, "--ringbuf-size: expected a size like 8M, got '-1'");
	size_bad("-1M", 0, ULLONG_MAX, "--ringbuf-size: expected a size like 8M, got '-1M'");
}

/* Neither the number nor the number times the suffix may wrap around. */
static void test_size_overflow(void **state)
{
	(void)state;
	size_bad("99999999999999999999", 1 << 16, 1ULL << 30,
		 "--ringbuf-size: 99999999999999999999 is out of range [65536, 1073741824] bytes");
	size_bad(
		"99999999999999999999K", 0, ULLONG_MAX,
		"--ringbuf-size: 99999999999999999999K is out of range [0, 18446744073709551615] bytes");
	/* 2^34 G is 2^64: would wrap to 0. */
	size_bad("17179869184G", 0, ULLONG_MAX,
		 "--ringbuf-size: 17179869184G is out of range [0, 18446744073709551615] bytes");
	/* 2^54 K + 1 K would wrap to 1K. */
	size_bad(
		"18014398509481985K", 0, ULLONG_MAX,
		"--ringbuf-size: 18014398509481985K is out of range [0, 18446744073709551615] bytes");
	size_ok("18014398509481983K", 0, ULLONG_MAX, 18014398509481983ULL << 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_valid),	 cmocka_unit_test(test_uint_bounds),
		cmocka_unit_test(test_uint_garbage),	 cmocka_unit_test(test_uint_overflow),
		cmocka_unit_test(test_error_names_flag), cmocka_unit_test(test_size_valid),
		cmocka_unit_test(test_size_bounds),	 cmocka_unit_test(test_size_garbage),
		cmocka_unit_test(test_size_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
