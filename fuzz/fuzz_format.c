// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a record read by json_read() and written in every
 * output format, before and after the transforms (pseudonymised source,
 * dropped fields). Records are berth's own, but their strings are
 * container, image, label and host names anyone may choose, and a sink's
 * transforms can leave any part missing. What the sinks rely on is checked:
 * one line whatever the input, JSON formats that parse back (with jansson,
 * which shares no code with the reader), ECS that reads back to itself, a
 * failure that leaves the buffer as it was, no address left after
 * pseudonymising, and a record untouched by the transforms of its copy.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pseudonym_key key = { .bytes = "fuzz-pseudonym-key", .len = 18 };
static const struct syslog_options sys = { .facility = 16, .app_name = "berth", .procid = 1 };

/* The record's ECS output read back and written again is the same text. */
static void check_ecs_fixed_point(const char *ecs, size_t len)
{
	struct json_doc again = { 0 };
	struct buf out = { 0 };

	if (json_read(&again, ecs, len) || format_record(FORMAT_ECS, &again, NULL, &out) ||
	    out.len != len || memcmp(out.data, ecs, len))
		abort();
	buf_free(&out);
	json_doc_free(&again);
}

/*
 * JSON output must parse back: with jansson when jansson reads the input
 * too (it refuses integers beyond 64 bits, which the formats carry as
 * written), else with json_read().
 */
static void check_json(const char *text, bool jansson_reads_input)
{
	struct json_doc back = { 0 };
	json_t *j;

	if (jansson_reads_input) {
		j = json_loads(text, 0, NULL);
		if (!json_is_object(j))
			abort();
		json_decref(j);
		return;
	}
	if (json_read(&back, text, strlen(text)) || json_root(&back)->type != JSON_NODE_OBJECT)
		abort();
	json_doc_free(&back);
}

static void check_formats(const struct json_doc *record, bool jansson_reads_input, struct buf *out)
{
	for (int format = FORMAT_ECS; format <= FORMAT_CEF; format++) {
		size_t before;

		buf_reset(out);
		buf_puts(out, "kept");
		before = out->len;
		if (format_record(format, record, &sys, out)) {
			/* Nothing half-written stays for a sink to send. */
			if (!out->failed && (out->len != before || strcmp(out->data, "kept")))
				abort();
			continue;
		}
		if (out->len <= before || strlen(out->data) != out->len)
			abort();
		/* A line break would split the record for every line-based receiver. */
		if (memchr(out->data, '\n', out->len) || memchr(out->data, '\r', out->len))
			abort();
		if (format == FORMAT_ECS || format == FORMAT_OCSF)
			check_json(out->data + before, jansson_reads_input);
		if (format == FORMAT_ECS)
			check_ecs_fixed_point(out->data + before, out->len - before);
		if (format == FORMAT_RFC5424 && out->data[before] != '<')
			abort();
		if (format == FORMAT_CEF && strncmp(out->data + before, "CEF:0|berth|berth|", 18))
			abort();
	}
	buf_reset(out);
	if (!format_syslog_header(record, &sys, out) && out->data[0] != '<')
		abort();
}

/* The root's members called key (every one: a record may repeat a key). */
static bool has_member(const struct json_doc *doc, const struct json_node *in, const char *key)
{
	const struct json_node *m;

	for (m = json_first(doc, in); in && in->type == JSON_NODE_OBJECT && m;
	     m = json_next(doc, m))
		if (!strcmp(m->key, key))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *paths[] = { "container.labels", "source.port", "berth", "host.name",
				 "event.kind",	     "a.b.c",	    "",	     "destination." };
	struct json_doc record = { 0 }, copy = { 0 };
	struct buf out = { 0 }, ecs = { 0 };
	const struct json_node *m;
	bool jansson_reads_input;
	int ecs_err;
	json_t *j;

	if (json_read(&record, (const char *)data, size)) {
		if (!record.error || record.n_nodes)
			abort();
		json_doc_free(&record);
		return 0;
	}
	j = json_loadb((const char *)data, size, 0, NULL);
	jansson_reads_input = j != NULL;
	json_decref(j);
	check_formats(&record, jansson_reads_input, &out);
	ecs_err = format_record(FORMAT_ECS, &record, NULL, &ecs);

	if (json_doc_copy(&copy, &record))
		abort();
	record_pseudonymize(&copy, &key);
	for (m = json_first(&copy, json_root(&copy)); m; m = json_next(&copy, m))
		if (!strcmp(m->key ? m->key : "", "source") && has_member(&copy, m, "ip"))
			abort();
	check_formats(&copy, jansson_reads_input, &out);
	record_drop_fields(&copy, paths, sizeof(paths) / sizeof(paths[0]));
	if (has_member(&copy, json_root(&copy), "berth") ||
	    has_member(&copy, json_lookup(&copy, json_root(&copy), "host"), "name"))
		abort();
	check_formats(&copy, jansson_reads_input, &out);

	/* The copy's transforms left the record as it was. */
	buf_reset(&out);
	if (format_record(FORMAT_ECS, &record, NULL, &out) != ecs_err ||
	    (!ecs_err && strcmp(out.data, ecs.data)))
		abort();

	json_doc_free(&copy);
	json_doc_free(&record);
	buf_free(&out);
	buf_free(&ecs);
	return 0;
}
