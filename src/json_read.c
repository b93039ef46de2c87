// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reader of berth's records, next to their writer (json.c) rather than
 * in it: the writer is about the records, this is a general JSON reader of
 * its own size, and the two share only the UTF-8 and escaping rules.
 *
 * Why not jansson, which reads everything else: the outputs read every
 * record once more to turn it into OCSF, RFC 5424 or CEF, and jansson
 * allocates every value and hashes every object; for a 700-byte connection
 * record that was 5 to 12 us, more than berth spends on the connection
 * itself. Reading into buffers kept from record to record allocates
 * nothing once they have grown (docs/benchmarks.md, "Outputs").
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"

/* What json_doc_copy() leaves room for: the transforms add one pseudonym per source. */
#define EDIT_NODES 8
#define EDIT_TEXT 256

void json_doc_free(struct json_doc *doc)
{
	free(doc->nodes);
	free(doc->text);
	*doc = (struct json_doc){ 0 };
}

static bool reserve_nodes(struct json_doc *doc, size_t n)
{
	struct json_node *nodes;

	if (n <= doc->cap_nodes)
		return true;
	nodes = realloc(doc->nodes, n * sizeof(*nodes));
	if (!nodes)
		return false;
	doc->nodes = nodes;
	doc->cap_nodes = n;
	return true;
}

static bool reserve_text(struct json_doc *doc, size_t n)
{
	char *text;

	if (n <= doc->text_cap)
		return true;
	text = realloc(doc->text, n);
	if (!text)
		return false;
	doc->text = text;
	doc->text_cap = n;
	return true;
}

/* ---- reading ---- */

struct reader {
	struct json_doc *doc;
	const char *start, *p, *end;
	char *out;		/* where the next key or string goes in doc->text */
	unsigned int max_nodes; /* the bound, or less when the input is short */
};

static int fail(struct reader *r, const char *why)
{
	r->doc->error = why;
	r->doc->error_offset = r->p - r->start;
	return -1;
}

static void skip_space(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* A node of type as the last child of parent (after *last); its index, or -1. */
static int32_t add_node(struct reader *r, int32_t parent, int32_t *last, uint8_t type)
{
	struct json_doc *doc = r->doc;
	int32_t i = (int32_t)doc->n_nodes;

	if (doc->n_nodes >= r->max_nodes)
		return fail(r, "too many values");
	doc->nodes[i] = (struct json_node){
		.text = "",
		.parent = parent,
		.child = JSON_NODE_NONE,
		.next = JSON_NODE_NONE,
		.type = type,
	};
	doc->n_nodes++;
	if (*last != JSON_NODE_NONE)
		doc->nodes[*last].next = i;
	else if (parent != JSON_NODE_NONE)
		doc->nodes[parent].child = i;
	*last = i;
	return i;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits of a \u escape at p ("\uXXXX"); false when it is not one. */
static bool read_unit(const struct reader *r, const char *p, uint32_t *unit)
{
	*unit = 0;
	if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return false;
	for (int i = 2; i < 6; i++) {
		int d = hex_digit(p[i]);

		if (d < 0)
			return false;
		*unit = *unit << 4 | (uint32_t)d;
	}
	return true;
}

static char *put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* The escape at r->p ('\\' and what follows), unescaped to *o. */
static int read_escape(struct reader *r, char **o)
{
	static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
	const char *simple;
	uint32_t cp, low;

	if (r->end - r->p < 2)
		return fail(r, "unterminated string");
	simple = r->p[1] ? strchr(simple_in, r->p[1]) : NULL;
	if (simple) {
		*(*o)++ = simple_out[simple - simple_in];
		r->p += 2;
		return 0;
	}
	if (r->p[1] != 'u')
		return fail(r, "unknown escape in a string");
	if (!read_unit(r, r->p, &cp))
		return fail(r, "\\u without four hex digits");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(r, "low surrogate without a high one");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (!read_unit(r, r->p + 6, &low) || low < 0xdc00 || low > 0xdfff)
			return fail(r, "high surrogate without a low one");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
		r->p += 6;
	}
	/* Keys and strings are C strings for the formats: a NUL would cut them. */
	if (!cp)
		return fail(r, "\\u0000 in a string");
	*o = put_utf8(*o, cp);
	r->p += 6;
	return 0;
}

/* What ends a run of a string's bytes copied as they are. */
static const bool string_stop[256] = {
	[0 ... 0x1f] = true,
	['"'] = true,
	['\\'] = true,
};

/* The string at r->p (its opening quote), unescaped into doc->text. */
static int read_string(struct reader *r, const char **text, uint32_t *len)
{
	char *o = r->out;

	r->p++;
	for (;;) {
		const char *p = r->p;

		/* copied as it is scanned: keys and values are a few bytes, a memcpy each cost more */
		while (p < r->end && !string_stop[(unsigned char)*p])
			*o++ = *p++;
		r->p = p;
		if (r->p == r->end)
			return fail(r, "unterminated string");
		if (*r->p == '"')
			break;
		if (*r->p != '\\')
			return fail(r, "control character in a string");
		if (read_escape(r, &o))
			return -1;
	}
	r->p++;
	*o++ = '\0';
	*text = r->out;
	*len = (uint32_t)(o - r->out - 1);
	r->out = o;
	return 0;
}

static bool is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number as RFC 8259 spells it, copied as written. */
static int read_number(struct reader *r, struct json_node *n)
{
	const char *p = r->p;

	n->type = JSON_NODE_INTEGER;
	if (p < r->end && *p == '-')
		p++;
	if (!is_digit(p, r->end))
		return fail(r, "number without digits");
	if (*p == '0')
		p++;
	else
		while (is_digit(p, r->end))
			p++;
	if (p < r->end && *p == '.') {
		n->type = JSON_NODE_REAL;
		if (!is_digit(++p, r->end))
			return fail(r, "number without digits after '.'");
		while (is_digit(p, r->end))
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		n->type = JSON_NODE_REAL;
		p++;
		if (p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, r->end))
			return fail(r, "number without digits in its exponent");
		while (is_digit(p, r->end))
			p++;
	}
	n->text = r->out;
	n->len = (uint32_t)(p - r->p);
	memcpy(r->out, r->p, n->len);
	r->out[n->len] = '\0';
	r->out += n->len + 1;
	r->p = p;
	return 0;
}

static int read_literal(struct reader *r, const char *word, uint8_t type, struct json_node *n)
{
	size_t len = strlen(word);

	if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len))
		return fail(r, "unexpected character");
	n->type = type;
	r->p += len;
	return 0;
}

static int read_value(struct reader *r, int32_t parent, int32_t *last, const char *key,
		      uint32_t key_len, unsigned int depth);

/* The members or elements of the container at r->p, up to its closing bracket. */
static int read_container(struct reader *r, int32_t self, unsigned int depth)
{
	bool object = r->doc->nodes[self].type == JSON_NODE_OBJECT;
	char close = object ? '}' : ']';
	int32_t last = JSON_NODE_NONE;
	const char *key = NULL;
	uint32_t key_len = 0;

	if (depth > JSON_READ_MAX_DEPTH)
		return fail(r, "nested too deep");
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		skip_space(r);
		if (object) {
			if (r->p == r->end || *r->p != '"')
				return fail(r, r->p == r->end ? "truncated" : "expected a key");
			if (read_string(r, &key, &key_len))
				return -1;
			skip_space(r);
			if (r->p == r->end || *r->p != ':')
				return fail(r, r->p == r->end ? "truncated" : "expected ':'");
			r->p++;
		}
		if (read_value(r, self, &last, key, key_len, depth))
			return -1;
		skip_space(r);
		if (r->p == r->end)
			return fail(r, "truncated");
		if (*r->p == close) {
			r->p++;
			return 0;
		}
		if (*r->p != ',')
			return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
		r->p++;
	}
}

static int read_value(struct reader *r, int32_t parent, int32_t *last, const char *key,
		      uint32_t key_len, unsigned int depth)
{
	struct json_node *n;
	int32_t self;

	skip_space(r);
	if (r->p == r->end)
		return fail(r, "truncated");
	self = add_node(r, parent, last, JSON_NODE_NULL);
	if (self < 0)
		return -1;
	n = &r->doc->nodes[self];
	n->key = key;
	n->key_len = key_len;
	switch (*r->p) {
	case '{':
		n->type = JSON_NODE_OBJECT;
		return read_container(r, self, depth + 1);
	case '[':
		n->type = JSON_NODE_ARRAY;
		return read_container(r, self, depth + 1);
	case '"':
		n->type = JSON_NODE_STRING;
		return read_string(r, &n->text, &n->len);
	case 't':
		return read_literal(r, "true", JSON_NODE_TRUE, n);
	case 'f':
		return read_literal(r, "false", JSON_NODE_FALSE, n);
	case 'n':
		return read_literal(r, "null", JSON_NODE_NULL, n);
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return read_number(r, n);
		return fail(r, "unexpected character");
	}
}

int json_read(struct json_doc *doc, const char *text, size_t len)
{
	struct reader r = { .doc = doc, .start = text, .p = text, .end = text + len };
	/*
	 * Every value but the root takes a separator ('[', ',' or ':') and a
	 * byte of its own (a closing bracket, a scalar's first character), so
	 * len / 2 + 1 nodes are enough; the unescaped text is never longer than
	 * the input, with a NUL after each string or number.
	 */
	size_t nodes = len / 2 + 1 < JSON_READ_MAX_NODES ? len / 2 + 1 : JSON_READ_MAX_NODES;
	int32_t last = JSON_NODE_NONE;

	doc->n_nodes = 0;
	doc->text_len = 0;
	doc->error = NULL;
	doc->error_offset = 0;
	if (!reserve_nodes(doc, nodes + EDIT_NODES) || !reserve_text(doc, len + 1 + EDIT_TEXT)) {
		doc->error = "out of memory";
		return -1;
	}
	r.max_nodes = (unsigned int)nodes;
	r.out = doc->text;
	if (read_value(&r, JSON_NODE_NONE, &last, NULL, 0, 0))
		goto refused;
	skip_space(&r);
	if (r.p != r.end) {
		fail(&r, "more after the value");
		goto refused;
	}
	doc->text_len = r.out - doc->text;
	return 0;
refused:
	doc->n_nodes = 0;
	return -1;
}

/* ---- looking up ---- */

/* key[0..len) is n's key; inline, since keys are a few bytes and lookups many. */
static inline bool key_equals(const struct json_node *n, const char *key, size_t len)
{
	if (n->key_len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (n->key[i] != key[i])
			return false;
	return true;
}

const struct json_node *json_member(const struct json_doc *doc, const struct json_node *n,
				    const char *key, size_t key_len)
{
	if (!n || n->type != JSON_NODE_OBJECT)
		return NULL;
	for (const struct json_node *m = json_first(doc, n); m; m = json_next(doc, m))
		if (key_equals(m, key, key_len))
			return m;
	return NULL;
}

const struct json_node *json_lookup(const struct json_doc *doc, const struct json_node *n,
				    const char *dotted)
{
	const char *part = dotted;

	for (;;) {
		size_t len = 0;

		while (part[len] && part[len] != '.')
			len++;
		n = json_member(doc, n, part, len);
		if (!n || !part[len])
			return n;
		part += len + 1;
	}
}

bool json_node_int(const struct json_node *n, long long *value)
{
	const char *p;
	bool negative;
	unsigned long long v = 0;

	if (!n || n->type != JSON_NODE_INTEGER)
		return false;
	/* the reader checked the grammar: an optional '-' and digits */
	p = n->text;
	negative = *p == '-';
	for (p += negative; *p; p++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v > (unsigned long long)LLONG_MAX + negative)
		return false;
	*value = negative ? (long long)(0 - v) : (long long)v;
	return true;
}

/* ---- editing ---- */

int json_doc_copy(struct json_doc *dst, const struct json_doc *src)
{
	if (!reserve_nodes(dst, src->n_nodes + EDIT_NODES) || !reserve_text(dst, EDIT_TEXT))
		return -1;
	memcpy(dst->nodes, src->nodes, src->n_nodes * sizeof(*src->nodes));
	dst->n_nodes = src->n_nodes;
	dst->text_len = 0;
	dst->error = NULL;
	return 0;
}

void json_unlink(struct json_doc *doc, const struct json_node *n)
{
	int32_t self = (int32_t)(n - doc->nodes);
	struct json_node *parent;

	if (n->parent == JSON_NODE_NONE)
		return;
	parent = &doc->nodes[n->parent];
	if (parent->child == self) {
		parent->child = n->next;
		return;
	}
	for (int32_t i = parent->child; i != JSON_NODE_NONE; i = doc->nodes[i].next) {
		if (doc->nodes[i].next == self) {
			doc->nodes[i].next = n->next;
			return;
		}
	}
}

const struct json_node *json_prepend_string(struct json_doc *doc, const struct json_node *parent,
					    const char *key, const char *text, size_t len)
{
	size_t key_len = strlen(key);
	struct json_node *n, *p = (struct json_node *)parent;
	char *room = doc->text + doc->text_len;

	if (doc->n_nodes >= doc->cap_nodes || doc->text_len + key_len + len + 2 > doc->text_cap)
		return NULL;
	memcpy(room, key, key_len + 1);
	memcpy(room + key_len + 1, text, len);
	room[key_len + 1 + len] = '\0';
	doc->text_len += key_len + len + 2;
	n = &doc->nodes[doc->n_nodes];
	*n = (struct json_node){
		.key = room,
		.key_len = (uint32_t)key_len,
		.text = room + key_len + 1,
		.len = (uint32_t)len,
		.parent = (int32_t)(p - doc->nodes),
		.child = JSON_NODE_NONE,
		.next = p->child,
		.type = JSON_NODE_STRING,
	};
	p->child = (int32_t)doc->n_nodes++;
	return n;
}
