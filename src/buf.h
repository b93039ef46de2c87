/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A growable byte buffer, reused from message to message: the formats write
 * into one, the sinks queue and frame what it holds.
 */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated after every successful append */
	size_t len, cap;
	bool failed; /* an append ran out of memory: the content is incomplete */
};

void buf_free(struct buf *b);
/* Empties b (keeps the memory) and clears failed. */
void buf_reset(struct buf *b);
/* Each returns false, and sets failed, when memory ran out. */
bool buf_append(struct buf *b, const void *bytes, size_t n);
bool buf_puts(struct buf *b, const char *text);
bool buf_putc(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
