// SPDX-License-Identifier: GPL-2.0-only
/*
 * json_read.c: values, keys and their order, unescaping (\u escapes to
 * UTF-8, surrogate pairs), dotted paths, the edits the transforms make,
 * buffers reused from record to record, and every way of refusing input
 * with what was wrong and where. A record is also read by jansson and the
 * two trees compared value by value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "json_read.h"

static struct json_doc doc;

static const struct json_node *read_ok(const char *text)
{
	if (json_read(&doc, text, strlen(text)))
		fail_msg("refused (%s at %zu): %s", doc.error, doc.error_offset, text);
	assert_non_null(json_root(&doc));
	return json_root(&doc);
}

static const struct json_node *at(const char *dotted)
{
	return json_lookup(&doc, json_root(&doc), dotted);
}

static void expect_text(const char *dotted, const char *want)
{
	const struct json_node *n = at(dotted);

	if (!n || n->type != JSON_NODE_STRING)
		fail_msg("%s: not a string", dotted);
	assert_string_equal(n->text, want);
	assert_int_equal(n->len, strlen(want));
}

/* The members of the object at dotted, "k1,k2,...", in order. */
static void expect_keys(const struct json_node *object, const char *want)
{
	char got[256] = "";

	for (const struct json_node *m = json_first(&doc, object); m; m = json_next(&doc, m)) {
		assert_non_null(m->key);
		assert_int_equal(strlen(m->key), m->key_len);
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", *got ? "," : "",
			 m->key);
	}
	assert_string_equal(got, want);
}

static void test_values_and_paths(void **state)
{
	const struct json_node *root, *n;
	long long v;

	(void)state;
	root = read_ok(" {\"b\":{\"c\":[1,-2.5e3,\"x\",true,false,null,{},[]],\"a\":\"\"},"
		       "\"a\":{\"\":{\"z\":0}},\"n\":-9223372036854775808,"
		       "\"big\":9223372036854775808, \"e\" : 1E2 }\n");
	assert_int_equal(root->type, JSON_NODE_OBJECT);
	assert_null(root->key);
	expect_keys(root, "b,a,n,big,e");
	expect_keys(at("b"), "c,a");
	expect_text("b.a", "");

	/* elements in order, with their types and text as written */
	n = json_first(&doc, at("b.c"));
	assert_int_equal(n->type, JSON_NODE_INTEGER);
	assert_null(n->key);
	assert_string_equal(n->text, "1");
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_REAL);
	assert_string_equal(n->text, "-2.5e3");
	assert_false(json_node_int(n, &v));
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_STRING);
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_TRUE);
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_FALSE);
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_NULL);
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_OBJECT);
	assert_null(json_first(&doc, n));
	n = json_next(&doc, n);
	assert_int_equal(n->type, JSON_NODE_ARRAY);
	assert_null(json_first(&doc, n));
	assert_null(json_next(&doc, n));
	assert_ptr_equal(&doc.nodes[n->parent], at("b.c"));

	/* an empty name is a name */
	assert_true(json_node_int(at("a..z"), &v));
	assert_int_equal(v, 0);
	assert_true(json_node_int(at("n"), &v));
	assert_true(v == INT64_MIN);
	/* too big for an integer: there, but not as one */
	assert_non_null(at("big"));
	assert_false(json_node_int(at("big"), &v));
	assert_int_equal(at("e")->type, JSON_NODE_REAL);

	/* paths that lead nowhere */
	assert_null(at("b.c.x"));
	assert_null(at("b.a.x"));
	assert_null(at("nope"));
	assert_null(at("b."));
	assert_null(at(""));
	assert_null(json_lookup(&doc, NULL, "b"));
	assert_ptr_equal(json_member(&doc, root, "big", 3), at("big"));
	assert_null(json_member(&doc, root, "bi", 2));

	/* a scalar is a document too */
	root = read_ok("\"only\"");
	assert_int_equal(root->type, JSON_NODE_STRING);
	assert_string_equal(root->text, "only");
	assert_null(json_lookup(&doc, root, "x"));
}

static void test_unescaping(void **state)
{
	(void)state;
	read_ok("{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\","
		"\"e\":\"r\\u00e9gistry \\u2713 \\uD83D\\uDC33 \\u00E9\","
		"\"raw\":\"\xc3\xa9 \xff\","
		"\"k\\u00e9y\":1}");
	expect_text("s", "q\" b\\ s/ \b\f\n\r\t");
	expect_text("e", "r\xc3\xa9gistry \xe2\x9c\x93 \xf0\x9f\x90\xb3 \xc3\xa9");
	/* bytes above 0x7f as they are: the formats decide what is not UTF-8 */
	expect_text("raw", "\xc3\xa9 \xff");
	assert_int_equal(at("k\xc3\xa9y")->type, JSON_NODE_INTEGER);
}

/* A real record of berth's, read by jansson too: the same values everywhere. */
static void compare(const json_t *j, const struct json_node *n)
{
	const struct json_node *m;
	size_t i = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		assert_int_equal(n->type, JSON_NODE_OBJECT);
		for (m = json_first(&doc, n); m; m = json_next(&doc, m), i++)
			compare(json_object_get(j, m->key), m);
		assert_int_equal(i, json_object_size(j));
		break;
	case JSON_ARRAY:
		assert_int_equal(n->type, JSON_NODE_ARRAY);
		for (m = json_first(&doc, n); m; m = json_next(&doc, m), i++)
			compare(json_array_get(j, i), m);
		assert_int_equal(i, json_array_size(j));
		break;
	case JSON_STRING:
		assert_int_equal(n->type, JSON_NODE_STRING);
		assert_int_equal(n->len, json_string_length(j));
		assert_memory_equal(n->text, json_string_value(j), n->len);
		break;
	case JSON_INTEGER: {
		long long v;

		assert_true(json_node_int(n, &v));
		assert_true(v == json_integer_value(j));
		break;
	}
	case JSON_REAL:
		assert_int_equal(n->type, JSON_NODE_REAL);
		assert_true(strtod(n->text, NULL) == json_real_value(j));
		break;
	case JSON_TRUE:
		assert_int_equal(n->type, JSON_NODE_TRUE);
		break;
	case JSON_FALSE:
		assert_int_equal(n->type, JSON_NODE_FALSE);
		break;
	case JSON_NULL:
		assert_int_equal(n->type, JSON_NODE_NULL);
		break;
	}
}

static void test_as_jansson_reads_it(void **state)
{
	static const char record[] =
		"{\"@timestamp\":\"2026-12-04T15:40:07.057Z\",\"event\":{\"kind\":\"alert\","
		"\"category\":[\"intrusion_detection\",\"network\"],\"type\":[\"info\"],"
		"\"action\":\"rate-spike\",\"severity\":47},\"host\":{\"name\":\"vm\"},"
		"\"container\":{\"id\":\"6040ae1a\",\"name\":\"w\\u00E9b\",\"image\":{\"name\":"
		"\"nginx\",\"tag\":[\"1.27\"]},\"labels\":{\"com_docker_compose_project\":"
		"\"sh\\\"op\",\"emoji\":\"\\uD83D\\uDC33\"},\"security_context\":{\"privileged\":"
		"true}},\"berth\":{\"version\":\"0.1.0\",\"ports\":[{\"host_ip\":\"::\","
		"\"host_port\":8080}],\"alert\":{\"count\":12,\"dropped\":false,\"rate_per_s\":"
		"50.500,\"baseline_per_s\":4.250,\"none\":null}}}";
	json_t *j = json_loads(record, 0, NULL);

	(void)state;
	assert_non_null(j);
	compare(j, read_ok(record));
	json_decref(j);
}

static void test_refused(void **state)
{
	static const struct {
		const char *text;
		const char *error;
		size_t offset;
	} cases[] = {
		{ "", "truncated", 0 },
		{ "   ", "truncated", 3 },
		{ "{", "truncated", 1 },
		{ "{\"a\":1", "truncated", 6 },
		{ "{\"a\":", "truncated", 5 },
		{ "[1,", "truncated", 3 },
		{ "{\"a\" 1}", "expected ':'", 5 },
		{ "{\"a\":1,}", "expected a key", 7 },
		{ "{1:2}", "expected a key", 1 },
		{ "{\"a\":1 \"b\":2}", "expected ',' or '}'", 7 },
		{ "[1 2]", "expected ',' or ']'", 3 },
		{ "[1,]", "unexpected character", 3 },
		{ "[1}", "expected ',' or ']'", 2 },
		{ "\"abc", "unterminated string", 4 },
		{ "\"abc\\", "unterminated string", 4 },
		{ "\"a\\x\"", "unknown escape in a string", 2 },
		{ "\"a\\u12\"", "\\u without four hex digits", 2 },
		{ "\"a\\u12g4\"", "\\u without four hex digits", 2 },
		{ "\"\\ud800\"", "high surrogate without a low one", 1 },
		{ "\"\\ud800\\u0041\"", "high surrogate without a low one", 1 },
		{ "\"\\ud800\\ud800\"", "high surrogate without a low one", 1 },
		{ "\"\\udc00\\ud800\"", "low surrogate without a high one", 1 },
		{ "\"a\\u0000b\"", "\\u0000 in a string", 2 },
		{ "\"a\tb\"", "control character in a string", 2 },
		{ "\"a\nb\"", "control character in a string", 2 },
		{ "{\"k\x01\":1}", "control character in a string", 3 },
		{ "-", "number without digits", 0 },
		{ "-a", "number without digits", 0 },
		{ "1.", "number without digits after '.'", 0 },
		{ "1.e5", "number without digits after '.'", 0 },
		{ "1e", "number without digits in its exponent", 0 },
		{ "1e+", "number without digits in its exponent", 0 },
		{ "01", "more after the value", 1 },
		{ "tru", "unexpected character", 0 },
		{ "nul", "unexpected character", 0 },
		{ "True", "unexpected character", 0 },
		{ "{} x", "more after the value", 3 },
		{ "{}}", "more after the value", 2 },
		{ "[] []", "more after the value", 3 },
		{ "\"a\"\"b\"", "more after the value", 3 },
		{ "'a'", "unexpected character", 0 },
		{ "{\"a\":1}\0", "more after the value", 7 },
	};

	(void)state;
	read_ok("{\"before\":1}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* the last case has a NUL after the value: its length counts it */
		size_t len = strlen(cases[i].text) + (i == sizeof(cases) / sizeof(cases[0]) - 1);

		if (json_read(&doc, cases[i].text, len) != -1)
			fail_msg("accepted: %s", cases[i].text);
		if (strcmp(doc.error, cases[i].error) || doc.error_offset != cases[i].offset)
			fail_msg("%s: got \"%s\" at %zu, want \"%s\" at %zu", cases[i].text,
				 doc.error, doc.error_offset, cases[i].error, cases[i].offset);
		/* nothing is left to read by mistake */
		assert_int_equal(doc.n_nodes, 0);
		assert_null(json_root(&doc));
	}
	/* the document reads again after a refusal */
	read_ok("{\"after\":2}");
	expect_keys(json_root(&doc), "after");
}

/* depth arrays, then the closing brackets */
static char *nested(unsigned int depth)
{
	char *text = malloc(2 * depth + 1);

	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\0';
	return text;
}

/* An array of n zeros: n + 1 values. */
static char *zeros(unsigned int n)
{
	char *text = malloc(2 * n + 2), *p = text;

	*p++ = '[';
	for (unsigned int i = 0; i < n; i++) {
		*p++ = '0';
		*p++ = i + 1 < n ? ',' : ']';
	}
	*p = '\0';
	return text;
}

static void test_bounds(void **state)
{
	char *text;

	(void)state;
	text = nested(JSON_READ_MAX_DEPTH);
	read_ok(text);
	free(text);
	text = nested(JSON_READ_MAX_DEPTH + 1);
	assert_int_equal(json_read(&doc, text, strlen(text)), -1);
	assert_string_equal(doc.error, "nested too deep");
	assert_int_equal(doc.error_offset, JSON_READ_MAX_DEPTH);
	free(text);
	/* deep enough to overflow a stack without the bound, refused the same way */
	text = nested(100000);
	assert_int_equal(json_read(&doc, text, strlen(text)), -1);
	assert_string_equal(doc.error, "nested too deep");
	free(text);

	text = zeros(JSON_READ_MAX_NODES - 1);
	read_ok(text);
	assert_int_equal(doc.n_nodes, JSON_READ_MAX_NODES);
	free(text);
	text = zeros(JSON_READ_MAX_NODES);
	assert_int_equal(json_read(&doc, text, strlen(text)), -1);
	assert_string_equal(doc.error, "too many values");
	assert_int_equal(doc.error_offset, 2 * (JSON_READ_MAX_NODES - 1) + 1);
	free(text);

	/* the densest inputs fit the nodes made for their length */
	read_ok("[[[[[[[[]]]]]]]]");
	assert_int_equal(doc.n_nodes, 8);
	read_ok("[0,0,0]");
	read_ok("{\"\":0,\"\":[]}");
	read_ok("0");
	assert_int_equal(doc.n_nodes, 1);
}

/* A document read again and again: each read replaces the last, short or long. */
static void test_reused(void **state)
{
	char *long_text = zeros(3000);

	(void)state;
	for (int round = 0; round < 3; round++) {
		read_ok("{\"a\":\"x\"}");
		expect_text("a", "x");
		read_ok(long_text);
		assert_int_equal(doc.n_nodes, 3001);
		read_ok("{\"b\":[1]}");
		expect_keys(json_root(&doc), "b");
		assert_null(at("a"));
	}
	free(long_text);
}

static void test_edits(void **state)
{
	struct json_doc copy = { 0 };
	const struct json_node *source;

	(void)state;
	read_ok("{\"source\":{\"ip\":\"198.51.100.2\",\"port\":1,\"bytes\":2},\"x\":1}");
	assert_int_equal(json_doc_copy(&copy, &doc), 0);
	source = json_lookup(&copy, json_root(&copy), "source");
	json_unlink(&copy, json_lookup(&copy, source, "ip"));
	json_unlink(&copy, json_lookup(&copy, source, "bytes"));
	assert_non_null(json_prepend_string(&copy, source, "address", "anon-1", 6));
	json_unlink(&copy, json_lookup(&copy, json_root(&copy), "x"));
	/* the copy */
	{
		const struct json_node *m = json_first(&copy, source);

		assert_string_equal(m->key, "address");
		assert_string_equal(m->text, "anon-1");
		assert_int_equal(m->type, JSON_NODE_STRING);
		m = json_next(&copy, m);
		assert_string_equal(m->key, "port");
		assert_null(json_next(&copy, m));
		assert_null(json_next(&copy, source));
	}
	/* the original, untouched */
	expect_keys(at("source"), "ip,port,bytes");
	expect_keys(json_root(&doc), "source,x");
	expect_text("source.ip", "198.51.100.2");

	/* the room for additions is bounded, and running out is said */
	for (int i = 0; i < 16; i++)
		json_prepend_string(&copy, source, "k", "v", 1);
	assert_null(json_prepend_string(&copy, source, "k", "v", 1));
	json_doc_free(&copy);
}

static int teardown(void **state)
{
	(void)state;
	json_doc_free(&doc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_paths),
		cmocka_unit_test(test_unescaping),
		cmocka_unit_test(test_as_jansson_reads_it),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_reused),
		cmocka_unit_test(test_edits),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
