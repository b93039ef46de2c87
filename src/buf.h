/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A growable byte buffer, reused from message to message: the formats and
 * the JSON writer write into one, the sinks queue and frame what it holds.
 */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	char *data; /* NUL-terminated after every successful append */
	size_t len, cap;
	bool failed; /* memory ran out, or a writer gave up: the content is incomplete */
};

void buf_free(struct buf *b);
/* Empties b (keeps the memory) and clears failed. */
void buf_reset(struct buf *b);
/* Room for n more bytes and the NUL; false, and failed set, when memory ran out. */
bool buf_reserve(struct buf *b, size_t n);

/*
 * Each returns false, and sets failed, when memory ran out. Inline: the
 * formats append a few bytes at a time, and a call into buf.c for each key
 * and value was a third of a format's time.
 */
static inline bool buf_append(struct buf *b, const void *bytes, size_t n)
{
	if ((b->failed || b->len + n >= b->cap) && !buf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static inline bool buf_putc(struct buf *b, char c)
{
	if ((b->failed || b->len + 1 >= b->cap) && !buf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return true;
}

static inline bool buf_puts(struct buf *b, const char *text)
{
	return buf_append(b, text, strlen(text));
}

/* In decimal. */
bool buf_put_uint(struct buf *b, uint64_t value);
bool buf_put_int(struct buf *b, long long value);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
