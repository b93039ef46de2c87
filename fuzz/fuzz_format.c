// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a record in every output format, before and after the
 * transforms (pseudonymised source, dropped fields). Records are berth's
 * own, but format.c takes them from a parsed tree whose strings are
 * container, image, label and host names anyone may choose, and a sink's
 * transforms can leave any part missing. What the sinks rely on is checked:
 * one line whatever the input, JSON formats that parse back, a failure
 * that leaves the buffer as it was, no address left after pseudonymising.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pseudonym_key key = { .bytes = "fuzz-pseudonym-key", .len = 18 };
static const struct syslog_options sys = { .facility = 16, .app_name = "berth", .procid = 1 };

static void check_formats(const json_t *record, struct buf *out)
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
		if (format == FORMAT_ECS || format == FORMAT_OCSF) {
			json_t *back = json_loads(out->data + before, 0, NULL);

			if (!json_is_object(back))
				abort();
			json_decref(back);
		}
		if (format == FORMAT_RFC5424 && out->data[before] != '<')
			abort();
		if (format == FORMAT_CEF && strncmp(out->data + before, "CEF:0|berth|berth|", 18))
			abort();
	}
	buf_reset(out);
	if (!format_syslog_header(record, &sys, out) && out->data[0] != '<')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *paths[] = { "container.labels", "source.port", "berth", "host.name",
				 "event.kind",	     "a.b.c",	    "",	     "destination." };
	struct buf out = { 0 };
	json_t *record = json_loadb((const char *)data, size, 0, NULL);
	json_t *copy;

	if (!record)
		return 0;
	check_formats(record, &out);

	copy = json_deep_copy(record);
	record_pseudonymize(copy, &key);
	if (json_object_get(json_object_get(copy, "source"), "ip"))
		abort();
	check_formats(copy, &out);
	record_drop_fields(copy, paths, sizeof(paths) / sizeof(paths[0]));
	if (json_object_get(copy, "berth") ||
	    json_object_get(json_object_get(copy, "host"), "name"))
		abort();
	check_formats(copy, &out);

	json_decref(copy);
	json_decref(record);
	buf_free(&out);
	return 0;
}
