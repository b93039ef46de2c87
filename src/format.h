/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The output formats other than ECS, made from the ECS record (read with
 * json_read()): OCSF, RFC 5424 syslog and CEF; and the per-sink transforms
 * (pseudonymised sources, dropped fields) applied to the record first.
 * docs/formats.md describes every mapping.
 */
#ifndef BERTH_FORMAT_H
#define BERTH_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "json_read.h"

enum output_format {
	FORMAT_ECS, /* the record as berth writes it (the default) */
	FORMAT_OCSF,
	FORMAT_RFC5424, /* berth's fields as structured data */
	FORMAT_CEF,
};

/* "ecs", "ocsf", "rfc5424", "cef"; -1 when name is none of them. */
int format_parse(const char *name);
const char *format_name(enum output_format format);

/*
 * The private enterprise number in berth's SD-IDs ("berth@32473"): 32473
 * is the one RFC 5612 reserves for documentation and examples. A site
 * with its own PEN changes it here.
 */
#define SYSLOG_SD_PEN 32473

/* What the syslog header carries besides the record. */
struct syslog_options {
	unsigned int facility; /* 0..23; default 16 (local0) */
	const char *app_name;  /* default "berth" */
	unsigned int procid;   /* berth's pid */
};

/*
 * Appends the record ecs in format to out: one line without its newline
 * (OCSF: one JSON object; CEF: "CEF:0|berth|berth|<version>|..."). For
 * FORMAT_RFC5424 the whole syslog message: header, structured data, MSG.
 * FORMAT_ECS writes ecs compactly. Returns 0, or -1 (out->failed, or the
 * record lacks what every record has: @timestamp, event.action).
 */
int format_record(enum output_format format, const struct json_doc *ecs,
		  const struct syslog_options *sys, struct buf *out);

/*
 * An RFC 5424 header for the record, "<PRI>1 TIMESTAMP HOST APP PROCID MSGID ",
 * so that a syslog sink can carry a record of another format as MSG
 * (after "- " for no structured data). PRI from the facility and the
 * record's severity.
 */
int format_syslog_header(const struct json_doc *ecs, const struct syslog_options *sys,
			 struct buf *out);

/*
 * Pseudonymisation: source.ip is replaced by source.address
 * "anon-<16 hex digits>" of HMAC-SHA256(key, the 16-byte address), so one
 * source keeps one pseudonym under one key and the address cannot be
 * recovered without it.
 */
#define PSEUDONYM_KEY_MIN 16
#define PSEUDONYM_KEY_MAX 64
struct pseudonym_key {
	uint8_t bytes[PSEUDONYM_KEY_MAX];
	unsigned int len;
};
void record_pseudonymize(struct json_doc *ecs, const struct pseudonym_key *key);

/* Deletes the dotted ECS paths ("container.labels", "source.port") from ecs. */
void record_drop_fields(struct json_doc *ecs, char *const *paths, unsigned int n_paths);

/*
 * A sink's transforms edit a copy of the record (json_doc_copy()), which
 * the formats then read as they read the record itself: ECS is written
 * again from it, without what was dropped.
 */

#endif
