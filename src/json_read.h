/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The reading half of the JSON module: berth's own records read back for
 * the output formats, once per record and without a tree of allocations.
 * A line becomes a flat array of nodes (type, key, text, links to parent,
 * first child and next sibling) in buffers the caller keeps from record to
 * record; keys and strings are unescaped into one of them. Records come
 * from json.c, but the reader is also fed fuzz input: anything that is not
 * one JSON value is refused, and depth and node count are bounded.
 *
 * Besides RFC 8259 JSON it takes raw bytes of 0x80 and above in strings as
 * they are (json.c never writes them; whoever reads a string decides what
 * is not UTF-8), and refuses \u0000, so every key and string is a C string.
 */
#ifndef BERTH_JSON_READ_H
#define BERTH_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_node_type {
	JSON_NODE_OBJECT,
	JSON_NODE_ARRAY,
	JSON_NODE_STRING,
	JSON_NODE_INTEGER, /* a number without fraction or exponent */
	JSON_NODE_REAL,
	JSON_NODE_TRUE,
	JSON_NODE_FALSE,
	JSON_NODE_NULL,
};

/* berth's records nest 5 deep and hold about 60 values; labels add a few. */
#define JSON_READ_MAX_DEPTH 32
#define JSON_READ_MAX_NODES 4096
#define JSON_NODE_NONE (-1)

struct json_node {
	const char *key;  /* a member's key, NUL-terminated; NULL in an array and at the root */
	const char *text; /* a string, or a number as written; NUL-terminated; "" otherwise */
	uint32_t key_len, len;
	int32_t parent, child, next; /* indexes in the document's nodes, or JSON_NODE_NONE */
	uint8_t type;		     /* enum json_node_type */
};

/*
 * A document: nodes[0] is the root. Zero-initialised before the first
 * json_read(); json_doc_free() at the end.
 */
struct json_doc {
	struct json_node *nodes;
	unsigned int n_nodes, cap_nodes; /* n_nodes 0: nothing read */
	char *text;			 /* the unescaped keys and strings */
	size_t text_len, text_cap;
	const char *error;   /* why the last json_read() refused its input */
	size_t error_offset; /* and where */
};

void json_doc_free(struct json_doc *doc);

/*
 * Reads one JSON value (surrounding whitespace allowed) from text[0..len)
 * into doc, replacing what it held. 0, or -1 with doc->error and
 * doc->error_offset, and doc->n_nodes 0.
 */
int json_read(struct json_doc *doc, const char *text, size_t len);

static inline const struct json_node *json_root(const struct json_doc *doc)
{
	return doc->n_nodes ? &doc->nodes[0] : NULL;
}

/* The first member or element of n, and the one after n; NULL when there is none. */
static inline const struct json_node *json_first(const struct json_doc *doc,
						 const struct json_node *n)
{
	return n && n->child != JSON_NODE_NONE ? &doc->nodes[n->child] : NULL;
}

static inline const struct json_node *json_next(const struct json_doc *doc,
						const struct json_node *n)
{
	return n->next != JSON_NODE_NONE ? &doc->nodes[n->next] : NULL;
}

/* The first member of object n called key (key_len bytes), or NULL. */
const struct json_node *json_member(const struct json_doc *doc, const struct json_node *n,
				    const char *key, size_t key_len);

/*
 * The value at a dotted path of member names through nested objects from n
 * ("berth.port.host_port"), or NULL. A name may be empty ("a..b").
 */
const struct json_node *json_lookup(const struct json_doc *doc, const struct json_node *n,
				    const char *dotted);

/* The node's integer; false when it is not an integer or does not fit. */
bool json_node_int(const struct json_node *n, long long *value);

/* ---- editing, for the transforms of one output ---- */

/*
 * dst becomes a copy of src's nodes, with room for a few more, to edit:
 * its strings stay src's (valid until src is read again or freed). 0, or
 * -1 when memory ran out.
 */
int json_doc_copy(struct json_doc *dst, const struct json_doc *src);

/* Takes node n (not the root) out of its parent. */
void json_unlink(struct json_doc *doc, const struct json_node *n);

/*
 * Adds the member key: "text" first in object parent; the strings are
 * copied. The new node, or NULL when the room json_doc_copy() made is used up.
 */
const struct json_node *json_prepend_string(struct json_doc *doc, const struct json_node *parent,
					    const char *key, const char *text, size_t len);

#endif
