// SPDX-License-Identifier: GPL-2.0-only
/*
 * output.c and the file sink: targets, filters, the bounded queue and its
 * loss accounting, events-lost to the other sinks only, and rotation that
 * keeps every record exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "output.h"
#include "tmpdir.h"

static void test_targets(void **state)
{
	static const struct {
		const char *target;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "-", NULL },
		{ "file:/var/log/berth.json", NULL },
		{ "./events.json", NULL },
		{ "udp://127.0.0.1:514", NULL },
		{ "tcp://[::1]:6514", NULL },
		{ "tls://siem.example:6514", NULL },
		{ "unix:/dev/log", NULL },
		{ "unix:///run/systemd/journal/syslog", NULL },
		{ "http://127.0.0.1:9200/_bulk", NULL },
		{ "https://splunk:8088/services/collector/event", NULL },
		{ "", "empty output target" },
		{ "events.json",
		  "output 'events.json': not a target: use -, file:PATH (or a path with a '/'), "
		  "udp://, tcp://, tls://HOST:PORT, unix:PATH, http:// or https://" },
		{ "udp://host",
		  "output 'udp://host': expected udp://HOST:PORT (an IPv6 host in brackets)" },
		{ "tcp://::1:514",
		  "output 'tcp://::1:514': expected tcp://HOST:PORT (an IPv6 host in "
		  "brackets)" },
		{ "tcp://h:0",
		  "output 'tcp://h:0': expected tcp://HOST:PORT (an IPv6 host in brackets)" },
		{ "tls://h:65536",
		  "output 'tls://h:65536': expected tls://HOST:PORT (an IPv6 host in "
		  "brackets)" },
		{ "unix:dev/log", "output 'unix:dev/log': expected unix:/ABSOLUTE/PATH" },
		{ "file:", "output 'file:': no path" },
	};
	struct sink_config c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (!cases[i].error) {
			if (sink_config_from_target(cases[i].target, &c, err, sizeof(err)))
				fail_msg("%s: %s", cases[i].target, err);
			sink_config_free(&c);
			continue;
		}
		if (!sink_config_from_target(cases[i].target, &c, err, sizeof(err)))
			fail_msg("accepted %s", cases[i].target);
		if (strcmp(err, cases[i].error))
			fail_msg("%s\n got: %s\nwant: %s", cases[i].target, err, cases[i].error);
	}
	assert_int_equal(sink_config_from_target("tcp://[2001:db8::5]:601", &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.type, SINK_SYSLOG);
	assert_int_equal(c.transport, SYSLOG_TCP);
	assert_string_equal(c.host, "2001:db8::5");
	assert_string_equal(c.port, "601");
	sink_config_free(&c);
	assert_int_equal(
		sink_config_from_target("https://es:9200/logs/_bulk", &c, err, sizeof(err)), 0);
	assert_int_equal(c.shape, HTTP_ES_BULK);
	sink_config_free(&c);
}

/* A file sink in t's directory, named name, that writes every record at once. */
static struct sink_config file_config(const struct tmp *t, const char *name)
{
	struct sink_config c = { .type = SINK_FILE, .flush_given = true };
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	c.name = strdup(name);
	c.path = strdup(path);
	return c;
}

static void send_record(struct outputs *o, const char *kind, const char *action,
			unsigned int severity, unsigned int n)
{
	char json[256];
	int len =
		snprintf(json, sizeof(json),
			 "{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{\"kind\":\"%s\","
			 "\"action\":\"%s\"},\"n\":%u}",
			 kind, action, n);

	outputs_send(o, json, (size_t)len, kind, action, severity, 1);
}

/* The lines of a file, as one string; "" when it does not exist. */
static char *slurp(const char *dir, const char *name)
{
	char path[256], *text = calloc(1, 1 << 20);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(text, 1, (1 << 20) - 1, f);

		text[n] = '\0';
		fclose(f);
	}
	return text;
}

static unsigned int count_lines(const char *text)
{
	unsigned int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

struct losses {
	const struct sink *sink;
	enum sink_loss cause;
	uint64_t count, total;
	unsigned int calls;
};

static void on_lost(void *ctx, const struct sink *s, enum sink_loss cause, uint64_t count,
		    uint64_t total)
{
	struct losses *l = ctx;

	l->sink = s;
	l->cause = cause;
	l->count = count;
	l->total = total;
	l->calls++;
}

static void test_filters_and_queue_bound(void **state)
{
	struct tmp *t = *state;
	struct sink_config configs[3] = { file_config(t, "all"), file_config(t, "alerts"),
					  file_config(t, "small") };
	struct outputs o = { 0 };
	struct losses lost = { 0 };
	char err[256] = "", *text;
	int epoll_fd = epoll_create1(0);

	configs[1].kinds[configs[1].n_kinds++] = strdup("alert");
	configs[1].min_severity = 50;
	configs[2].actions[configs[2].n_actions++] = strdup("listen");
	/* Records wait for the flush interval: the queue's bound decides. */
	configs[2].flush_ms = 60000;
	configs[2].queue_events = 3;
	if (outputs_open(&o, configs, 3, NULL, epoll_fd, err, sizeof(err)))
		fail_msg("%s", err);

	send_record(&o, "event", "listen", 0, 1);
	send_record(&o, "alert", "port-scan", 70, 2);
	send_record(&o, "alert", "new-source", 30, 3);
	for (unsigned int i = 4; i < 9; i++)
		send_record(&o, "event", "listen", 0, i);
	outputs_flush(&o);

	text = slurp(t->dir, "all");
	assert_int_equal(count_lines(text), 8);
	free(text);
	text = slurp(t->dir, "alerts");
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "\"n\":2}"));
	free(text);
	/* 6 listen records, 3 fit the queue: 3 lost, counted once. */
	assert_int_equal(o.sinks[2].stats.queued_events, 3);
	assert_int_equal(o.sinks[2].stats.lost[LOSS_QUEUE_FULL], 3);
	outputs_report_losses(&o, on_lost, &lost);
	assert_int_equal(lost.calls, 1);
	assert_ptr_equal(lost.sink, &o.sinks[2]);
	assert_int_equal(lost.cause, LOSS_QUEUE_FULL);
	assert_int_equal(lost.count, 3);
	assert_int_equal(lost.total, 3);
	outputs_report_losses(&o, on_lost, &lost);
	assert_int_equal(lost.calls, 1); /* nothing new */

	/* The record telling of small's loss goes to the others, not to small. */
	outputs_send_except(&o, &o.sinks[2], "{\"event\":{\"action\":\"listen\"}}", 29, "metric",
			    "listen", 0, 1);
	outputs_flush(&o);
	assert_int_equal(o.sinks[2].stats.queued_events, 3);
	assert_int_equal(o.sinks[2].stats.lost[LOSS_QUEUE_FULL], 3);
	text = slurp(t->dir, "all");
	assert_int_equal(count_lines(text), 9);
	free(text);

	/* At exit the queued records are written: nothing collected is lost. */
	outputs_close(&o, monotonic_ms() + 1000);
	text = slurp(t->dir, "small");
	assert_int_equal(count_lines(text), 3);
	assert_non_null(strstr(text, "\"n\":1}"));
	assert_non_null(strstr(text, "\"n\":5}"));
	assert_null(strstr(text, "\"n\":6}"));
	free(text);
	for (int i = 0; i < 3; i++)
		sink_config_free(&configs[i]);
	close(epoll_fd);
}

/*
 * One wakeup of the loop can bring more records than a queue holds (a full
 * ring buffer): a sink that can write takes them as they come, none lost.
 */
static void test_burst_beyond_the_bound(void **state)
{
	struct tmp *t = *state;
	struct sink_config config = file_config(t, "burst");
	struct outputs o = { 0 };
	char err[256] = "", *text;
	int epoll_fd = epoll_create1(0);

	config.queue_events = 10;
	if (outputs_open(&o, &config, 1, NULL, epoll_fd, err, sizeof(err)))
		fail_msg("%s", err);
	for (unsigned int i = 0; i < 1000; i++)
		send_record(&o, "event", "connection-accepted", 0, i);
	outputs_flush(&o);
	assert_int_equal(o.sinks[0].stats.lost[LOSS_QUEUE_FULL], 0);
	assert_int_equal(o.sinks[0].stats.delivered, 1000);
	text = slurp(t->dir, "burst");
	assert_int_equal(count_lines(text), 1000);
	free(text);
	outputs_close(&o, monotonic_ms() + 1000);
	sink_config_free(&config);
	close(epoll_fd);
}

/* Rotation by size: whole records only, each in exactly one file, keep N. */
static void test_rotation(void **state)
{
	struct tmp *t = *state;
	struct sink_config configs[2] = { file_config(t, "kept"), file_config(t, "few") };
	struct outputs o = { 0 };
	char err[256] = "", name[128];
	unsigned int seen[200] = { 0 }, files = 0;
	int epoll_fd = epoll_create1(0);
	struct stat sb;

	configs[0].rotate_bytes = 1000;
	configs[0].keep = 100;
	configs[1].rotate_bytes = 1000;
	configs[1].keep = 2;
	configs[1].keep_given = true;
	if (outputs_open(&o, configs, 2, NULL, epoll_fd, err, sizeof(err)))
		fail_msg("%s", err);
	for (unsigned int i = 0; i < 200; i++) {
		send_record(&o, "event", "connection-accepted", 0, i);
		if (i % 7 == 0)
			outputs_flush(&o);
	}
	outputs_close(&o, monotonic_ms() + 1000);

	for (unsigned int k = 0; k <= 100; k++) {
		char *text, *line;

		snprintf(name, sizeof(name), k ? "kept.%u" : "kept", k);
		text = slurp(t->dir, name);
		if (!*text) {
			free(text);
			continue;
		}
		files++;
		assert_true(strlen(text) <= 1000);
		assert_int_equal(text[strlen(text) - 1], '\n');
		for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			char *n = strstr(line, "\"n\":");

			assert_non_null(n);
			assert_int_equal(line[strlen(line) - 1], '}');
			seen[atoi(n + 4)]++;
		}
		free(text);
	}
	assert_true(files > 10);
	for (unsigned int i = 0; i < 200; i++)
		if (seen[i] != 1)
			fail_msg("record %u is in %u files", i, seen[i]);

	/* keep 2: the current file, few.1 and few.2; the oldest went. */
	snprintf(name, sizeof(name), "%s/few.2", t->dir);
	assert_int_equal(stat(name, &sb), 0);
	snprintf(name, sizeof(name), "%s/few.3", t->dir);
	assert_int_equal(stat(name, &sb), -1);
	for (int i = 0; i < 2; i++)
		sink_config_free(&configs[i]);
	close(epoll_fd);
}

/* Rotation by age, and a file someone else deleted is begun again. */
static void test_age_and_deleted_file(void **state)
{
	struct tmp *t = *state;
	struct sink_config config = file_config(t, "aged");
	struct outputs o = { 0 };
	char err[256] = "", path[128], *text;
	int epoll_fd = epoll_create1(0);

	config.rotate_age_ms = 50;
	if (outputs_open(&o, &config, 1, NULL, epoll_fd, err, sizeof(err)))
		fail_msg("%s", err);
	send_record(&o, "event", "listen", 0, 1);
	outputs_flush(&o);
	usleep(80 * 1000);
	outputs_tick(&o, monotonic_ms());
	text = slurp(t->dir, "aged.1");
	assert_int_equal(count_lines(text), 1);
	free(text);

	snprintf(path, sizeof(path), "%s/aged", t->dir);
	send_record(&o, "event", "listen", 0, 2);
	outputs_flush(&o);
	assert_int_equal(unlink(path), 0);
	/* The check runs once a second. */
	outputs_tick(&o, monotonic_ms() + 1500);
	send_record(&o, "event", "listen", 0, 3);
	outputs_flush(&o);
	text = slurp(t->dir, "aged");
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "\"n\":3}"));
	free(text);
	outputs_close(&o, monotonic_ms() + 1000);
	sink_config_free(&config);
	close(epoll_fd);
}

static void test_open_errors(void **state)
{
	struct tmp *t = *state;
	struct sink_config config = file_config(t, "missing/dir/events.json");
	struct pseudonym_key key;
	struct outputs o = { 0 };
	char err[256] = "", path[160], want[512];
	int epoll_fd = epoll_create1(0);
	FILE *f;

	assert_int_equal(outputs_open(&o, &config, 1, NULL, epoll_fd, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "output missing/dir/events.json: cannot open %s/missing/dir/events.json: No such "
		 "file or directory",
		 t->dir);
	assert_string_equal(err, want);
	outputs_close(&o, 0);
	sink_config_free(&config);

	/* Pseudonymising without a key is refused, not done with a zero key. */
	config = file_config(t, "p");
	config.pseudonymize = true;
	o = (struct outputs){ 0 };
	assert_int_equal(outputs_open(&o, &config, 1, NULL, epoll_fd, err, sizeof(err)), -1);
	assert_string_equal(err, "output p: pseudonymize needs a key of 16 bytes or more");
	outputs_close(&o, 0);
	sink_config_free(&config);

	snprintf(path, sizeof(path), "%s/key", t->dir);
	f = fopen(path, "w");
	fputs("too short\n", f);
	fclose(f);
	assert_int_equal(pseudonym_key_load(path, &key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": 9 bytes, expected 16 to 64"));
	f = fopen(path, "w");
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	assert_int_equal(pseudonym_key_load(path, &key, err, sizeof(err)), 0);
	assert_int_equal(key.len, 32);
	assert_int_equal(pseudonym_key_load(NULL, &key, err, sizeof(err)), 0);
	assert_int_equal(key.len, 32);
	close(epoll_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
		cmocka_unit_test_setup_teardown(test_filters_and_queue_bound, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_burst_beyond_the_bound, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_rotation, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_age_and_deleted_file, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
