// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

char *secret_read_token(const char *path, char *err, size_t errlen)
{
	char buf[4096], *start = buf, *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	while (is_space(*start))
		start++;
	end = start + strlen(start);
	while (end > start && is_space(end[-1]))
		*--end = '\0';
	if (!*start || strpbrk(start, "\r\n")) {
		snprintf(err, errlen, "token file %s: %s", path,
			 *start ? "more than one line" : "empty");
		return NULL;
	}
	return strdup(start);
}

bool secret_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
	unsigned char diff = a_len != b_len;

	/* Over b's length whatever a's: the time tells the length of b at most. */
	for (size_t i = 0; i < b_len; i++)
		diff |= (unsigned char)(i < a_len ? a[i] : 0) ^ (unsigned char)b[i];
	return !diff;
}
