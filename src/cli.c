// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_parse_uint(const char *flag, const char *text, unsigned long min, unsigned long max,
		   unsigned long *out, char *err, size_t errlen)
{
	unsigned long long value;
	char *end;

	if (!text || !isdigit((unsigned char)text[0])) {
		snprintf(err, errlen, "%s: expected a number, got '%s'", flag, text ? text : "");
		return -1;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	if (*end) {
		snprintf(err, errlen, "%s: expected a number, got '%s'", flag, text);
		return -1;
	}
	if (errno == ERANGE || value < min || value > max) {
		snprintf(err, errlen, "%s: %s is out of range [%lu, %lu]", flag, text, min, max);
		return -1;
	}
	*out = value;
	return 0;
}

int cli_parse_size(const char *flag, const char *text, unsigned long long min,
		   unsigned long long max, unsigned long long *out, char *err, size_t errlen)
{
	unsigned long long value, scale = 1;
	char *end;

	if (!text || !isdigit((unsigned char)text[0])) {
		snprintf(err, errlen, "%s: expected a size like 8M, got '%s'", flag,
			 text ? text : "");
		return -1;
	}
	errno = 0;
	value = strtoull(text, &end, 10);
	switch (toupper((unsigned char)*end)) {
	case 'K':
		scale = 1ULL << 10;
		end++;
		break;
	case 'M':
		scale = 1ULL << 20;
		end++;
		break;
	case 'G':
		scale = 1ULL << 30;
		end++;
		break;
	}
	if (*end) {
		snprintf(err, errlen, "%s: expected a size like 8M, got '%s'", flag, text);
		return -1;
	}
	if (errno == ERANGE || value > max / scale || value * scale < min) {
		snprintf(err, errlen, "%s: %s is out of range [%llu, %llu] bytes", flag, text, min,
			 max);
		return -1;
	}
	*out = value * scale;
	return 0;
}
