// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP sink (sink_http.c) through the outputs core, against a small
 * HTTP/1.1 server on 127.0.0.1 in a helper thread that records every
 * request and answers with the statuses a test scripts. The event loop is
 * the test's own: epoll on the outputs' fds, flush and a tick every 100 ms,
 * as `berth watch` does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "output.h"
#include "tmpdir.h"

/* ---- the receiver ---- */

#define SCRIPT_MAX 32
#define REQUESTS_MAX 256
/* A scripted status that closes the connection without an answer. */
#define DROP_CONNECTION -1

struct request {
	char *head; /* request line and headers */
	char *body;
	size_t body_len;
	int status; /* what it was answered */
};

struct server {
	int port, listen_fd, wake[2];
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	/* Request i is answered statuses[i] with answers[i]; beyond the script 200. */
	int statuses[SCRIPT_MAX];
	const char *answers[SCRIPT_MAX];
	unsigned int n_script;
	const char *default_answer;
	struct request reqs[REQUESTS_MAX];
	unsigned int n_reqs;
};

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

/* One request from buf (len bytes): its whole length, 0 when incomplete. */
static size_t request_length(const char *buf, size_t len, size_t *head_len, size_t *body_len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;

	if (!end)
		return 0;
	*head_len = end - buf + 4;
	*body_len = 0;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < end)
		*body_len = strtoul(cl + 17, NULL, 10);
	return *head_len + *body_len <= len ? *head_len + *body_len : 0;
}

/* Serves one connection until the client or the test ends it; false: stop. */
static bool serve_connection(struct server *sv, int fd)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	bool go_on = true;

	while (buf) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { sv->wake[0], POLLIN, 0 } };
		size_t head_len, body_len, whole;
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents) {
			go_on = false;
			break;
		}
		if (len == cap) {
			char *grown = realloc(buf, cap * 2);

			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += n;
		while ((whole = request_length(buf, len, &head_len, &body_len))) {
			char answer[512];
			const char *body;
			int status;
			unsigned int i;

			pthread_mutex_lock(&sv->lock);
			i = sv->n_reqs;
			status = i < sv->n_script ? sv->statuses[i] : 200;
			body = i < sv->n_script && sv->answers[i] ? sv->answers[i] :
								    sv->default_answer;
			if (i < REQUESTS_MAX && status != DROP_CONNECTION) {
				sv->reqs[i].head = strndup(buf, head_len);
				sv->reqs[i].body = malloc(body_len + 1);
				memcpy(sv->reqs[i].body, buf + head_len, body_len);
				sv->reqs[i].body[body_len] = '\0';
				sv->reqs[i].body_len = body_len;
				sv->reqs[i].status = status;
			}
			sv->n_reqs++;
			pthread_mutex_unlock(&sv->lock);
			if (status == DROP_CONNECTION) {
				free(buf);
				return true;
			}
			snprintf(answer, sizeof(answer),
				 "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n",
				 status, strlen(body));
			write_all(fd, answer, strlen(answer));
			write_all(fd, body, strlen(body));
			memmove(buf, buf + whole, len - whole);
			len -= whole;
		}
	}
	free(buf);
	return go_on;
}

static void *serve(void *arg)
{
	struct server *sv = arg;

	for (;;) {
		struct pollfd p[2] = { { sv->listen_fd, POLLIN, 0 }, { sv->wake[0], POLLIN, 0 } };
		int fd;
		bool go_on;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			break;
		fd = accept(sv->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		go_on = serve_connection(sv, fd);
		close(fd);
		if (!go_on)
			break;
	}
	return NULL;
}

/* Listens on port (0: any free one) and serves in a thread. */
static void server_start(struct server *sv, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t alen = sizeof(a);
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sv->listen_fd >= 0);
	setsockopt(sv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(sv->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(sv->listen_fd, 8), 0);
	getsockname(sv->listen_fd, (struct sockaddr *)&a, &alen);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pipe2(sv->wake, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
	sv->running = true;
}

/* The receiver goes away: connections to its port are refused from now on. */
static void server_stop(struct server *sv)
{
	if (!sv->running)
		return;
	write_all(sv->wake[1], "x", 1);
	pthread_join(sv->thread, NULL);
	close(sv->listen_fd);
	close(sv->wake[0]);
	close(sv->wake[1]);
	sv->running = false;
}

static struct server *server_new(void)
{
	struct server *sv = calloc(1, sizeof(*sv));

	assert_non_null(sv);
	pthread_mutex_init(&sv->lock, NULL);
	sv->default_answer = "{}";
	server_start(sv, 0);
	return sv;
}

static void server_free(struct server *sv)
{
	server_stop(sv);
	for (unsigned int i = 0; i < sv->n_reqs && i < REQUESTS_MAX; i++) {
		free(sv->reqs[i].head);
		free(sv->reqs[i].body);
	}
	pthread_mutex_destroy(&sv->lock);
	free(sv);
}

static unsigned int requests(struct server *sv)
{
	unsigned int n;

	pthread_mutex_lock(&sv->lock);
	n = sv->n_reqs;
	pthread_mutex_unlock(&sv->lock);
	return n;
}

static void script(struct server *sv, int status, const char *answer)
{
	pthread_mutex_lock(&sv->lock);
	sv->statuses[sv->n_script] = status;
	sv->answers[sv->n_script] = answer;
	sv->n_script++;
	pthread_mutex_unlock(&sv->lock);
}

/* The record numbers ("n":N) of every answered request, in arrival order. */
static unsigned int received_numbers(struct server *sv, int *out, unsigned int max)
{
	unsigned int n = 0;

	pthread_mutex_lock(&sv->lock);
	for (unsigned int i = 0; i < sv->n_reqs && i < REQUESTS_MAX; i++) {
		const char *p = sv->reqs[i].body;

		if (!p || sv->reqs[i].status < 200 || sv->reqs[i].status >= 300)
			continue;
		while ((p = strstr(p, "\"n\":")) && n < max) {
			out[n++] = atoi(p + 4);
			p += 4;
		}
	}
	pthread_mutex_unlock(&sv->lock);
	return n;
}

/* ---- the loop ---- */

struct harness {
	struct outputs o;
	int epoll_fd;
	int64_t last_tick_ms;
	bool open;
};

static void pump(struct harness *h, int wait_ms)
{
	struct epoll_event events[8];
	int n = epoll_wait(h->epoll_fd, events, 8, wait_ms);
	int64_t now;

	for (int i = 0; i < n; i++)
		outputs_handle_fd(&h->o, events[i].data.fd, events[i].events);
	outputs_flush(&h->o);
	now = monotonic_ms();
	if (now - h->last_tick_ms >= 100) {
		outputs_tick(&h->o, now);
		h->last_tick_ms = now;
	}
}

/* Runs the loop until cond holds (asserted) or timeout_ms pass. */
#define RUN_UNTIL(h, cond, timeout_ms)                        \
	do {                                                  \
		int64_t end_ = monotonic_ms() + (timeout_ms); \
		while (!(cond) && monotonic_ms() < end_)      \
			pump((h), 10);                        \
		assert_true(cond);                            \
	} while (0)

static void run_for(struct harness *h, int ms)
{
	int64_t end = monotonic_ms() + ms;

	while (monotonic_ms() < end)
		pump(h, 10);
}

static struct sink_config http_config(const struct server *sv, const char *path,
				      enum http_shape shape)
{
	struct sink_config c = {
		.type = SINK_HTTP,
		.shape = shape,
		.batch_events = 3,
		.batch_ms = 60000,
		.retry_min_ms = 50,
		.retry_max_ms = 200,
		.timeout_ms = 5000,
	};

	assert_true(asprintf(&c.url, "http://127.0.0.1:%d%s", sv->port, path) > 0);
	c.name = strdup("test-http");
	return c;
}

static void harness_open(struct harness *h, struct sink_config *c)
{
	char err[256] = "";

	*h = (struct harness){ .o = { .host_name = "testhost" } };
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(h->epoll_fd >= 0);
	if (outputs_open(&h->o, c, 1, NULL, h->epoll_fd, err, sizeof(err)))
		fail_msg("outputs_open: %s", err);
	h->open = true;
	h->last_tick_ms = monotonic_ms();
	sink_config_free(c);
}

static void harness_close(struct harness *h, int64_t deadline_ms)
{
	if (h->open)
		outputs_close(&h->o, deadline_ms);
	h->open = false;
	close(h->epoll_fd);
}

static struct sink *the_sink(struct harness *h)
{
	return &h->o.sinks[0];
}

static uint64_t realtime_now_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

/* Record n; the last few stay valid at once (a test formats three into one string). */
static const char *record(int n)
{
	static char texts[8][128];
	static unsigned int next;
	char *r = texts[next++ % 8];

	snprintf(r, sizeof(texts[0]),
		 "{\"@timestamp\":\"2026-12-04T15:07:31.112Z\",\"event\":{\"action\":"
		 "\"connection-accepted\"},\"n\":%d}",
		 n);
	return r;
}

static void send_records(struct harness *h, int first, int count, uint64_t realtime_ms)
{
	for (int i = first; i < first + count; i++) {
		const char *r = record(i);

		outputs_send(&h->o, r, strlen(r), "event", "connection-accepted", 0, realtime_ms);
	}
}

static void assert_numbers(struct server *sv, int first, int count)
{
	int got[1024];
	unsigned int n = received_numbers(sv, got, 1024);

	assert_int_equal(n, count);
	for (int i = 0; i < count; i++)
		assert_int_equal(got[i], first + i);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Files in dir whose name ends with suffix. */
static unsigned int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(suffix);

		if (len > sl && !strcmp(de->d_name + len - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

/* ---- the body shapes, byte for byte ---- */

static void test_ndjson_body_and_headers(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/ingest", HTTP_NDJSON);
	struct harness h;
	char token[128], *expected;

	snprintf(token, sizeof(token), "%s/token", t->dir);
	write_file(token, "  s3cret-token \n\n");
	c.token_file = strdup(token);
	c.headers[c.n_headers++] = strdup("X-Tenant: blue");
	harness_open(&h, &c);

	send_records(&h, 1, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 3, 5000);
	assert_int_equal(requests(sv), 1);
	assert_true(asprintf(&expected, "%s\n%s\n%s\n", record(1), record(2), record(3)) > 0);
	assert_string_equal(sv->reqs[0].body, expected);
	free(expected);
	assert_non_null(strstr(sv->reqs[0].head, "POST /ingest HTTP/1.1\r\n"));
	assert_non_null(strstr(sv->reqs[0].head, "\r\nContent-Type: application/x-ndjson\r\n"));
	assert_non_null(strstr(sv->reqs[0].head, "\r\nAuthorization: Bearer s3cret-token\r\n"));
	assert_non_null(strstr(sv->reqs[0].head, "\r\nX-Tenant: blue\r\n"));
	assert_null(strcasestr(sv->reqs[0].head, "Expect:"));
	assert_true(the_sink(&h)->stats.connected);
	assert_int_equal(the_sink(&h)->stats.queued_events, 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_es_bulk_body(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/_bulk", HTTP_ES_BULK);
	struct harness h;
	char token[128], *expected;

	snprintf(token, sizeof(token), "%s/token", t->dir);
	write_file(token, "QUJDOkRFRg==\n");
	c.token_file = strdup(token);
	c.index = strdup("berth-\"x\"");
	sv->default_answer = "{\"took\":1,\"errors\":false,\"items\":[]}";
	harness_open(&h, &c);

	send_records(&h, 1, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 3, 5000);
	assert_true(asprintf(&expected,
			     "{\"create\":{\"_index\":\"berth-\\\"x\\\"\"}}\n%s\n"
			     "{\"create\":{\"_index\":\"berth-\\\"x\\\"\"}}\n%s\n"
			     "{\"create\":{\"_index\":\"berth-\\\"x\\\"\"}}\n%s\n",
			     record(1), record(2), record(3)) > 0);
	assert_string_equal(sv->reqs[0].body, expected);
	free(expected);
	assert_non_null(strstr(sv->reqs[0].head, "\r\nAuthorization: ApiKey QUJDOkRFRg==\r\n"));
	assert_non_null(strstr(sv->reqs[0].head, "\r\nContent-Type: application/x-ndjson\r\n"));
	harness_close(&h, monotonic_ms());

	/* Without an index the action line is bare. */
	c = http_config(sv, "/_bulk", HTTP_ES_BULK);
	harness_open(&h, &c);
	send_records(&h, 4, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 3, 5000);
	assert_true(asprintf(&expected,
			     "{\"create\":{}}\n%s\n{\"create\":{}}\n%s\n{\"create\":{}}\n%s\n",
			     record(4), record(5), record(6)) > 0);
	assert_string_equal(sv->reqs[1].body, expected);
	free(expected);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_splunk_hec_body(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/services/collector/event", HTTP_SPLUNK_HEC);
	struct harness h;
	char token[128], *expected;
	const char *fmt = "{\"time\":1764860851.%03d,\"host\":\"testhost\",\"source\":\"berth\","
			  "\"sourcetype\":\"berth:ecs\",\"index\":\"main\",\"event\":%s}\n";
	char *one, *two;

	snprintf(token, sizeof(token), "%s/token", t->dir);
	write_file(token, "11111111-2222-3333-4444-555555555555");
	c.token_file = strdup(token);
	c.index = strdup("main");
	c.batch_events = 2;
	sv->default_answer = "{\"text\":\"Success\",\"code\":0}";
	harness_open(&h, &c);

	/* Milliseconds keep their leading zeros: .007, not .7. */
	send_records(&h, 1, 1, 1764860851007ULL);
	send_records(&h, 2, 1, 1764860851120ULL);
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 2, 5000);
	assert_true(asprintf(&one, fmt, 7, record(1)) > 0);
	assert_true(asprintf(&two, fmt, 120, record(2)) > 0);
	assert_true(asprintf(&expected, "%s%s", one, two) > 0);
	assert_string_equal(sv->reqs[0].body, expected);
	free(one);
	free(two);
	free(expected);
	assert_non_null(
		strstr(sv->reqs[0].head,
		       "\r\nAuthorization: Splunk 11111111-2222-3333-4444-555555555555\r\n"));
	assert_non_null(strstr(sv->reqs[0].head, "\r\nContent-Type: application/json\r\n"));
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

/* Strings berth puts in JSON (index, host, CEF events) are escaped and made UTF-8. */
static void test_splunk_hec_escapes_strings(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/services/collector", HTTP_SPLUNK_HEC);
	struct harness h;
	char *expected;

	(void)state;
	/* A quote, a backslash, a control byte, valid é, a stray byte, an overlong '/'. */
	c.index = strdup("q\"b\\c\x01\xc3\xa9\xff\xc0\xaf.");
	c.batch_events = 1;
	harness_open(&h, &c);
	send_records(&h, 1, 1, 1764860851000ULL);
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 1, 5000);
	assert_true(asprintf(&expected,
			     "{\"time\":1764860851.000,\"host\":\"testhost\",\"source\":\"berth\","
			     "\"sourcetype\":\"berth:ecs\",\"index\":\"q\\\"b\\\\c\\u0001\xc3\xa9"
			     "\\ufffd\\ufffd\\ufffd.\",\"event\":%s}\n",
			     record(1)) > 0);
	assert_string_equal(sv->reqs[0].body, expected);
	free(expected);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_open_errors(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct outputs o = { .host_name = "testhost" };
	char err[256] = "", path[128];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	snprintf(path, sizeof(path), "%s/missing-token", t->dir);
	c.token_file = strdup(path);
	assert_int_equal(outputs_open(&o, &c, 1, NULL, ep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing-token"));
	outputs_close(&o, monotonic_ms());
	sink_config_free(&c);

	/* Elasticsearch takes JSON documents only. */
	c = http_config(sv, "/_bulk", HTTP_ES_BULK);
	c.format = FORMAT_CEF;
	o = (struct outputs){ .host_name = "testhost" };
	assert_int_equal(outputs_open(&o, &c, 1, NULL, ep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "elasticsearch"));
	outputs_close(&o, monotonic_ms());
	sink_config_free(&c);
	close(ep);
	server_free(sv);
}

/* ---- batching ---- */

static void test_batch_by_count(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct harness h;

	(void)state;
	c.batch_events = 5;
	harness_open(&h, &c);
	send_records(&h, 0, 12, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 10, 5000);
	/* Two full batches; the two left wait for batch_ms (a minute). */
	run_for(&h, 300);
	assert_int_equal(requests(sv), 2);
	assert_int_equal(the_sink(&h)->stats.queued_events, 2);
	/* At exit they go out. */
	harness_close(&h, monotonic_ms() + 5000);
	assert_int_equal(requests(sv), 3);
	assert_numbers(sv, 0, 12);
	server_free(sv);
}

static void test_batch_by_bytes(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct harness h;
	size_t len = strlen(record(0));

	(void)state;
	c.batch_events = 100;
	/* Room for two records and their newlines, not three. */
	c.batch_bytes = 2 * (len + 1) + 5;
	harness_open(&h, &c);
	send_records(&h, 0, 6, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 4, 5000);
	run_for(&h, 300);
	/* Two records (less than batch_bytes) wait for their time. */
	assert_int_equal(requests(sv), 2);
	assert_int_equal(sv->reqs[0].body_len, 2 * (len + 1));
	assert_int_equal(sv->reqs[1].body_len, 2 * (len + 1));
	harness_close(&h, monotonic_ms() + 5000);
	assert_int_equal(requests(sv), 3);
	assert_numbers(sv, 0, 6);
	server_free(sv);
}

static void test_batch_by_time(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct harness h;
	uint64_t sent_ms;
	int64_t start;

	(void)state;
	c.batch_events = 100;
	c.batch_ms = 400;
	harness_open(&h, &c);
	sent_ms = realtime_now_ms();
	start = monotonic_ms();
	send_records(&h, 0, 3, sent_ms);
	run_for(&h, 200);
	assert_int_equal(requests(sv), 0);
	RUN_UNTIL(&h, requests(sv) == 1, 3000);
	/* Sent once the oldest waited batch_ms, within a tick (100 ms) and some slack. */
	assert_true(monotonic_ms() - start >= 400);
	assert_true(monotonic_ms() - start < 1500);
	assert_numbers(sv, 0, 3);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

/* ---- outcomes ---- */

static void test_500_then_200_keeps_order(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct harness h;

	(void)state;
	script(sv, 500, "{\"error\":\"busy\"}");
	script(sv, 503, NULL);
	script(sv, DROP_CONNECTION, NULL);
	harness_open(&h, &c);
	send_records(&h, 0, 3, realtime_now_ms());
	RUN_UNTIL(&h, requests(sv) >= 1, 5000);
	pump(&h, 10);
	assert_false(the_sink(&h)->stats.connected);
	send_records(&h, 3, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 6, 10000);
	assert_true(the_sink(&h)->stats.connected);
	/* 500, 503, dropped, then 200 for the first batch, 200 for the second. */
	assert_int_equal(requests(sv), 5);
	assert_string_equal(sv->reqs[0].body, sv->reqs[1].body);
	assert_string_equal(sv->reqs[0].body, sv->reqs[3].body);
	assert_numbers(sv, 0, 6);
	for (int i = 0; i < LOSS__MAX; i++)
		assert_int_equal(the_sink(&h)->stats.lost[i], 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_400_rejected_counted(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);
	struct harness h;

	(void)state;
	script(sv, 400, "{\"error\":\"mapping failed\"}");
	harness_open(&h, &c);
	send_records(&h, 0, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.lost[LOSS_REJECTED] == 3, 5000);
	send_records(&h, 3, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 3, 5000);
	/* Not sent again: one request each. */
	assert_int_equal(requests(sv), 2);
	assert_non_null(strstr(sv->reqs[1].body, "\"n\":3}"));
	assert_int_equal(the_sink(&h)->stats.lost[LOSS_REJECTED], 3);
	assert_true(the_sink(&h)->stats.connected);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_es_item_errors(void **state)
{
	struct server *sv = server_new();
	struct sink_config c = http_config(sv, "/_bulk", HTTP_ES_BULK);
	struct harness h;
	char *expected;

	(void)state;
	/* Item 0 taken, item 1 refused for good, item 2 to send again. */
	script(sv, 200,
	       "{\"took\":3,\"errors\":true,\"items\":["
	       "{\"create\":{\"_index\":\"b\",\"status\":201}},"
	       "{\"create\":{\"_index\":\"b\",\"status\":400,\"error\":{\"type\":"
	       "\"mapper_parsing_exception\",\"reason\":\"failed to parse\"}}},"
	       "{\"create\":{\"_index\":\"b\",\"status\":429,\"error\":{\"type\":"
	       "\"es_rejected_execution_exception\"}}}]}");
	sv->default_answer = "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}";
	harness_open(&h, &c);
	send_records(&h, 0, 3, realtime_now_ms());
	RUN_UNTIL(&h, requests(sv) == 2 && the_sink(&h)->stats.delivered == 2, 5000);
	assert_int_equal(the_sink(&h)->stats.lost[LOSS_REJECTED], 1);
	assert_true(asprintf(&expected, "{\"create\":{}}\n%s\n", record(2)) > 0);
	assert_string_equal(sv->reqs[1].body, expected);
	free(expected);
	assert_int_equal(the_sink(&h)->stats.queued_events, 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

/* ---- the spool ---- */

static struct sink_config spool_config(struct server *sv, const char *dir, uint64_t bound)
{
	struct sink_config c = http_config(sv, "/", HTTP_NDJSON);

	c.batch_events = 4;
	c.batch_ms = 50;
	c.spool_dir = strdup(dir);
	c.spool_bytes = bound;
	return c;
}

static void test_spool_write_and_replay(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c;
	struct harness h;
	char dir[128];
	int port = sv->port;

	snprintf(dir, sizeof(dir), "%s/spool", t->dir);
	c = spool_config(sv, dir, 1 << 20);
	server_stop(sv);
	harness_open(&h, &c);
	send_records(&h, 0, 10, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.spooled_events == 10, 5000);
	/* The queue is empty: everything waits on disk, in a segment. */
	assert_int_equal(the_sink(&h)->stats.queued_events, 0);
	assert_false(the_sink(&h)->stats.connected);
	assert_int_equal(count_files(dir, ".seg"), 1);
	assert_true(the_sink(&h)->stats.spooled_bytes > 10 * strlen(record(0)));
	/* More arrive while it is down: spooled behind. */
	run_for(&h, 150);
	send_records(&h, 10, 5, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.spooled_events == 15, 5000);

	server_start(sv, port);
	/* Sent from the spool while new records come in: order is kept. */
	send_records(&h, 15, 3, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 18, 10000);
	assert_numbers(sv, 0, 18);
	assert_int_equal(the_sink(&h)->stats.spooled_events, 0);
	assert_int_equal(the_sink(&h)->stats.spooled_bytes, 0);
	assert_int_equal(count_files(dir, ".seg"), 0);
	for (int i = 0; i < LOSS__MAX; i++)
		assert_int_equal(the_sink(&h)->stats.lost[i], 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_spool_bound_exact_loss(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c;
	struct harness h;
	char dir[128];
	int port = sv->port;
	size_t len = strlen(record(10));
	/* One segment (the smallest is 4 KiB): its header line, then records of 16 + len bytes. */
	uint64_t bound = 4096;
	unsigned int fit = (bound - 14) / (16 + len);

	snprintf(dir, sizeof(dir), "%s/spool", t->dir);
	c = spool_config(sv, dir, bound);
	server_stop(sv);
	harness_open(&h, &c);
	/* Records 10..99: all of the same length. */
	send_records(&h, 10, 90, realtime_now_ms());
	RUN_UNTIL(&h,
		  the_sink(&h)->stats.spooled_events + the_sink(&h)->stats.lost[LOSS_SPOOL_FULL] ==
			  90,
		  5000);
	assert_int_equal(the_sink(&h)->stats.spooled_events, fit);
	assert_int_equal(the_sink(&h)->stats.lost[LOSS_SPOOL_FULL], 90 - fit);
	assert_true(the_sink(&h)->stats.spooled_bytes <= bound);

	server_start(sv, port);
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == fit, 10000);
	run_for(&h, 200);
	/* The oldest were kept (drop newest), each loss counted once. */
	assert_numbers(sv, 10, fit);
	assert_int_equal(the_sink(&h)->stats.lost[LOSS_SPOOL_FULL], 90 - fit);
	assert_int_equal(the_sink(&h)->stats.lost[LOSS_QUEUE_FULL], 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

static void test_spool_survives_restart(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c;
	struct harness h;
	char dir[128], seg[512];
	int port = sv->port, fd;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/spool", t->dir);
	c = spool_config(sv, dir, 1 << 20);
	server_stop(sv);
	harness_open(&h, &c);
	send_records(&h, 0, 10, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.spooled_events == 10, 5000);
	/* Records still in the queue at exit go to the spool too. */
	send_records(&h, 10, 2, realtime_now_ms());
	harness_close(&h, monotonic_ms() + 1000);

	/* A crash in the middle of a write leaves a torn record: cut at open. */
	d = opendir(dir);
	assert_non_null(d);
	seg[0] = '\0';
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".seg"))
			snprintf(seg, sizeof(seg), "%s/%s", dir, de->d_name);
	closedir(d);
	assert_true(seg[0]);
	fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	write_all(fd, "\x40\0\0\0torn", 8);
	close(fd);

	/* The next run delivers them without a new record coming. */
	server_start(sv, port);
	c = spool_config(sv, dir, 1 << 20);
	harness_open(&h, &c);
	assert_int_equal(the_sink(&h)->stats.spooled_events, 12);
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 12, 10000);
	assert_numbers(sv, 0, 12);
	assert_int_equal(count_files(dir, ".seg"), 0);
	harness_close(&h, monotonic_ms());
	server_free(sv);
}

/* Delivered part of a segment is not sent again after a restart (the cursor). */
static void test_spool_cursor_after_partial_delivery(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c;
	struct harness h;
	char dir[128];
	int port = sv->port;

	snprintf(dir, sizeof(dir), "%s/spool", t->dir);
	c = spool_config(sv, dir, 1 << 20);
	server_stop(sv);
	harness_open(&h, &c);
	send_records(&h, 0, 10, realtime_now_ms());
	RUN_UNTIL(&h, the_sink(&h)->stats.spooled_events == 10, 5000);
	/* The receiver takes one batch (4), then fails; berth exits meanwhile. */
	script(sv, 200, NULL);
	for (int i = 0; i < 20; i++)
		script(sv, 503, NULL);
	server_start(sv, port);
	RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 4 && requests(sv) >= 2, 10000);
	harness_close(&h, monotonic_ms());
	server_stop(sv);
	pthread_mutex_lock(&sv->lock);
	sv->n_script = 0;
	pthread_mutex_unlock(&sv->lock);
	{
		unsigned int before = requests(sv);
		int got[64];
		unsigned int n;

		server_start(sv, port);
		c = spool_config(sv, dir, 1 << 20);
		harness_open(&h, &c);
		assert_int_equal(the_sink(&h)->stats.spooled_events, 6);
		RUN_UNTIL(&h, the_sink(&h)->stats.delivered == 6, 10000);
		harness_close(&h, monotonic_ms());
		/* 0..3 in the first run; 4..9 once each now. */
		n = received_numbers(sv, got, 64);
		assert_true(requests(sv) > before);
		assert_int_equal(n, 10);
		for (int i = 0; i < 10; i++)
			assert_int_equal(got[i], i);
	}
	server_free(sv);
}

static void test_spool_dir_locked(void **state)
{
	struct tmp *t = *state;
	struct server *sv = server_new();
	struct sink_config c[2];
	struct outputs o = { .host_name = "testhost" };
	char err[256] = "", dir[128];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	snprintf(dir, sizeof(dir), "%s/spool", t->dir);
	c[0] = spool_config(sv, dir, 1 << 20);
	c[1] = spool_config(sv, dir, 1 << 20);
	assert_int_equal(outputs_open(&o, c, 2, NULL, ep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	outputs_close(&o, monotonic_ms());
	sink_config_free(&c[0]);
	sink_config_free(&c[1]);
	close(ep);
	server_free(sv);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMP_TEST(test_ndjson_body_and_headers),
		TMP_TEST(test_es_bulk_body),
		TMP_TEST(test_splunk_hec_body),
		cmocka_unit_test(test_splunk_hec_escapes_strings),
		TMP_TEST(test_open_errors),
		cmocka_unit_test(test_batch_by_count),
		cmocka_unit_test(test_batch_by_bytes),
		cmocka_unit_test(test_batch_by_time),
		cmocka_unit_test(test_500_then_200_keeps_order),
		cmocka_unit_test(test_400_rejected_counted),
		cmocka_unit_test(test_es_item_errors),
		TMP_TEST(test_spool_write_and_replay),
		TMP_TEST(test_spool_bound_exact_loss),
		TMP_TEST(test_spool_survives_restart),
		TMP_TEST(test_spool_cursor_after_partial_delivery),
		TMP_TEST(test_spool_dir_locked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
