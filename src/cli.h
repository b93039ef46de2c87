/* SPDX-License-Identifier: GPL-2.0-only */
/* Command-line value parsing: every error names the flag at fault. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stddef.h>

/* Exit codes, as DESIGN.md fixes them. */
#define EXIT_OK 0
#define EXIT_FAILURE_RUNTIME 1
#define EXIT_USAGE 2

/*
 * Parses a decimal integer in [min, max] for flag. Returns 0, or -1 with
 * "--flag: ..." in err.
 */
int cli_parse_uint(const char *flag, const char *text, unsigned long min, unsigned long max,
		   unsigned long *out, char *err, size_t errlen);

/* Parses a byte size with an optional K, M or G suffix (powers of 1024). */
int cli_parse_size(const char *flag, const char *text, unsigned long long min,
		   unsigned long long max, unsigned long long *out, char *err, size_t errlen);

#endif
