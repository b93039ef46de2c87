// SPDX-License-Identifier: GPL-2.0-only
/*
 * The runtime clients (docker.c's requests, runtime.c's event stream,
 * reconnect and resync) against a fake Engine API: a child process that
 * serves canned HTTP answers on a unix socket in a temporary directory.
 * What a real dockerd does is in the e2e tests; what one must never do
 * (huge, truncated, malformed answers, endless lines, going away) is here,
 * where it can be made to happen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "docker.h"
#include "runtime.h"
#include "tmpdir.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* ---- the fake API ---- */

enum list_answer {
	LIST_ONE,	/* ID1 "web" */
	LIST_TWO,	/* ID1 "web", ID2 "db" */
	LIST_HUGE,	/* more than DOCKER_MAX_RESPONSE */
	LIST_TRUNCATED, /* Content-Length promises more than comes */
	LIST_MALFORMED, /* not JSON */
};

enum events_answer {
	EVENTS_START_THEN_CLOSE, /* one start event for ID2, then the stream ends */
	EVENTS_LONG_LINE,	 /* a line without end */
	EVENTS_QUIET,		 /* headers, then nothing until killed */
};

struct fake_api {
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pid_t pid;
};

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

static void respond(int fd, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 strlen(body));
	write_all(fd, head, strlen(head));
	write_all(fd, body, strlen(body));
}

static void chunk(int fd, const char *data, size_t len)
{
	char size[32];

	snprintf(size, sizeof(size), "%zx\r\n", len);
	write_all(fd, size, strlen(size));
	write_all(fd, data, len);
	write_all(fd, "\r\n", 2);
}

static const char listing_one[] =
	"[{\"Id\":\"" ID1 "\",\"Names\":[\"/web\"],\"Image\":\"nginx:1.27\","
	"\"Ports\":[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,"
	"\"PublicPort\":8080,\"Type\":\"tcp\"}]}]";
static const char listing_two[] =
	"[{\"Id\":\"" ID1 "\",\"Names\":[\"/web\"],\"Image\":\"nginx\"},"
	"{\"Id\":\"" ID2 "\",\"Names\":[\"/db\"],\"Image\":\"postgres\"}]";
static const char inspect_db[] = "{\"Id\":\"" ID2 "\",\"Name\":\"/db\",\"Config\":{\"Image\":"
				 "\"postgres:16\"},\"HostConfig\":{\"NetworkMode\":\"bridge\"}}";

static void serve_list(int fd, enum list_answer answer)
{
	static const char huge_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					"Transfer-Encoding: chunked\r\n\r\n";
	char block[65536];

	switch (answer) {
	case LIST_ONE:
		respond(fd, listing_one);
		break;
	case LIST_TWO:
		respond(fd, listing_two);
		break;
	case LIST_HUGE:
		write_all(fd, huge_head, strlen(huge_head));
		memset(block, ' ', sizeof(block));
		block[0] = '[';
		/* The client must give up before this ends: it is bounded anyway. */
		for (size_t sent = 0; sent < DOCKER_MAX_RESPONSE + sizeof(block);
		     sent += sizeof(block))
			chunk(fd, block, sizeof(block));
		break;
	case LIST_TRUNCATED: {
		static const char cut[] =
			"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n[{\"Id\":\"" ID1 "\"";

		write_all(fd, cut, strlen(cut));
		break;
	}
	case LIST_MALFORMED:
		respond(fd, "[{\"Id\":\"" ID1 "\",}]");
		break;
	}
}

static void serve_events(int fd, enum events_answer answer)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char start[] = "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":"
				    "{\"ID\":\"" ID2 "\",\"Attributes\":{\"name\":\"db\"}}}\n";
	char block[4096];

	write_all(fd, head, strlen(head));
	switch (answer) {
	case EVENTS_START_THEN_CLOSE:
		/* Split mid-line: the client must join the pieces. */
		chunk(fd, start, 20);
		usleep(50000);
		chunk(fd, start + 20, strlen(start) - 20);
		usleep(200000);
		write_all(fd, "0\r\n\r\n", 5);
		break;
	case EVENTS_LONG_LINE:
		memset(block, 'x', sizeof(block));
		for (size_t sent = 0; sent <= RUNTIME_EVENT_LINE_MAX; sent += sizeof(block))
			chunk(fd, block, sizeof(block));
		break;
	case EVENTS_QUIET:
		pause();
		break;
	}
}

/* One connection: read the request line and headers, answer by path. */
static void serve_one(int fd, enum list_answer list, enum events_answer events)
{
	char req[4096];
	size_t len = 0;

	while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			return;
		len += n;
	}
	req[len] = '\0';
	if (strstr(req, "GET /v1.24/containers/json"))
		serve_list(fd, list);
	else if (strstr(req, "GET /v1.24/events?since="))
		serve_events(fd, events);
	else if (strstr(req, "GET /v1.24/containers/" ID2 "/json"))
		respond(fd, inspect_db);
	else {
		static const char not_found[] =
			"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";

		write_all(fd, not_found, strlen(not_found));
	}
}

static void fake_api_start(struct fake_api *api, const char *dir, enum list_answer list,
			   enum events_answer events)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int listener;

	assert_true(strlen(dir) + sizeof("/api.sock") <= sizeof(api->socket_path));
	snprintf(api->socket_path, sizeof(api->socket_path), "%.80s/api.sock", dir);
	memcpy(addr.sun_path, api->socket_path, sizeof(addr.sun_path));
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(listener, 16), 0);
	api->pid = fork();
	assert_true(api->pid >= 0);
	if (api->pid == 0) {
		/* Its own process group, so that stopping it stops its connections too. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		/* Each connection in its own child: a quiet stream must not block the next. */
		for (;;) {
			int fd = accept(listener, NULL, NULL);

			if (fd < 0)
				_exit(0);
			if (fork() == 0) {
				serve_one(fd, list, events);
				close(fd);
				_exit(0);
			}
			close(fd);
		}
	}
	/* Also here: the child may not have run yet when the test stops it. */
	setpgid(api->pid, api->pid);
	close(listener);
}

static void fake_api_stop(struct fake_api *api)
{
	if (api->pid > 0) {
		/* The whole group of connection children goes with it. */
		kill(-api->pid, SIGKILL);
		kill(api->pid, SIGKILL);
		waitpid(api->pid, NULL, 0);
		api->pid = 0;
	}
	unlink(api->socket_path);
}

/* ---- docker.c's requests ---- */

static void expect_list_error(struct tmp *t, enum list_answer answer, const char *want)
{
	struct fake_api api;
	struct container_list list;
	char err[512] = "";

	fake_api_start(&api, t->dir, answer, EVENTS_QUIET);
	assert_int_equal(docker_list_containers(api.socket_path, &list, err, sizeof(err)), -1);
	fake_api_stop(&api);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
}

static void test_list_bad_answers(void **state)
{
	struct tmp *t = *state;

	expect_list_error(t, LIST_HUGE, "response larger than");
	expect_list_error(t, LIST_TRUNCATED, "api.sock");
	expect_list_error(t, LIST_MALFORMED, "invalid JSON at line 1 column");
}

static void test_list_no_daemon(void **state)
{
	struct tmp *t = *state;
	struct container_list list;
	char path[128], err[512] = "";

	snprintf(path, sizeof(path), "%s/nobody.sock", t->dir);
	assert_int_equal(docker_list_containers(path, &list, err, sizeof(err)), -1);
	/* The reason names the socket. */
	assert_non_null(strstr(err, path));
}

static void test_inspect_refuses_bad_ids(void **state)
{
	struct tmp *t = *state;
	struct container c;
	char err[512] = "";

	(void)t;
	assert_int_equal(
		docker_inspect_container("/nonexistent.sock", "../../info", &c, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "not a container id"));
}

/* ---- runtime.c: the stream, losing it, reconnecting ---- */

struct observed {
	unsigned int started, stopped, reconnected;
	char last_started[CONTAINER_NAME_MAX];
	int64_t down_ms;
};

static void on_started(void *ctx, const struct container *c)
{
	struct observed *o = ctx;

	o->started++;
	snprintf(o->last_started, sizeof(o->last_started), "%s", c->name);
}

static void on_stopped(void *ctx, const struct container *c)
{
	struct observed *o = ctx;

	(void)c;
	o->stopped++;
}

static void on_reconnected(void *ctx, const struct runtime_client *rt, int64_t down_ms,
			   unsigned int changes)
{
	struct observed *o = ctx;

	(void)rt;
	(void)changes;
	o->reconnected++;
	o->down_ms = down_ms;
}

/* The watcher's loop, in small: epoll, curl's fds and timer, ticks; until done() or timeout. */
static void run_loop(struct runtimes *rts, int epoll_fd, int timeout_ms,
		     bool (*done)(const struct observed *, const struct runtimes *),
		     const struct observed *o)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	while (monotonic_ms() < deadline && !done(o, rts)) {
		struct epoll_event events[8];
		int n = epoll_wait(epoll_fd, events, 8, 50);

		for (int i = 0; i < n; i++)
			runtimes_handle_fd(rts, events[i].data.fd, events[i].events);
		runtimes_tick(rts, monotonic_ms());
	}
}

static bool saw_start(const struct observed *o, const struct runtimes *rts)
{
	(void)rts;
	return o->started > 0;
}

static bool is_down(const struct observed *o, const struct runtimes *rts)
{
	(void)o;
	return !rts->clients[0].up;
}

static bool is_up_fn(const struct observed *o, const struct runtimes *rts)
{
	(void)o;
	return rts->clients[0].up;
}

static bool saw_reconnect(const struct observed *o, const struct runtimes *rts)
{
	(void)rts;
	return o->reconnected > 0;
}

static void setup_runtimes(struct runtimes *rts, struct inventory *inv, int *epoll_fd,
			   struct observed *o, const char *dir, const char *socket_path)
{
	const struct runtime_observer obs = {
		.containers = { .started = on_started, .stopped = on_stopped, .ctx = o },
		.reconnected = on_reconnected,
	};

	assert_int_equal(inventory_init(inv, dir), 0);
	*epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(*epoll_fd >= 0);
	assert_int_equal(runtimes_init(rts, inv, *epoll_fd, &obs), 0);
	runtimes_add(rts, "docker", socket_path, false);
}

static void teardown_runtimes(struct fake_api *api, struct runtimes *rts, struct inventory *inv,
			      int epoll_fd)
{
	fake_api_stop(api);
	runtimes_free(rts);
	inventory_free(inv);
	close(epoll_fd);
}

/*
 * Listing, then a start event split across chunks, then the stream ends:
 * berth names the new container, marks the runtime down, reconnects after
 * its backoff, resyncs (ID2 is in the new listing, already known) and says
 * so once.
 */
static void test_stream_lost_and_resynced(void **state)
{
	struct tmp *t = *state;
	struct observed o = { 0 };
	struct runtimes rts;
	struct inventory inv;
	struct fake_api api;
	int epoll_fd;

	fake_api_start(&api, t->dir, LIST_ONE, EVENTS_START_THEN_CLOSE);
	setup_runtimes(&rts, &inv, &epoll_fd, &o, t->dir, api.socket_path);
	runtimes_connect(&rts, monotonic_ms());
	assert_true(rts.clients[0].up);
	assert_non_null(inventory_container(&inv, ID1));
	/* The first listing is the starting point: nothing announced. */
	assert_int_equal(o.started, 0);

	run_loop(&rts, epoll_fd, 3000, saw_start, &o);
	assert_int_equal(o.started, 1);
	assert_string_equal(o.last_started, "db");
	assert_string_equal(inventory_container(&inv, ID2)->image_tag, "16");

	run_loop(&rts, epoll_fd, 3000, is_down, &o);
	assert_false(rts.clients[0].up);

	/* The daemon comes back with a different listing. */
	fake_api_stop(&api);
	fake_api_start(&api, t->dir, LIST_TWO, EVENTS_QUIET);
	run_loop(&rts, epoll_fd, 5000, saw_reconnect, &o);
	assert_int_equal(o.reconnected, 1);
	assert_true(o.down_ms >= 400);
	assert_true(rts.clients[0].up);
	/* web and db both listed, both known running: no change to announce. */
	assert_int_equal(o.stopped, 0);
	assert_int_equal(o.started, 1);

	teardown_runtimes(&api, &rts, &inv, epoll_fd);
}

/* A line that never ends is not buffered without bound: the stream is reset. */
static void test_stream_line_too_long(void **state)
{
	struct tmp *t = *state;
	struct observed o = { 0 };
	struct runtimes rts;
	struct inventory inv;
	struct fake_api api;
	int epoll_fd;

	fake_api_start(&api, t->dir, LIST_ONE, EVENTS_LONG_LINE);
	setup_runtimes(&rts, &inv, &epoll_fd, &o, t->dir, api.socket_path);
	runtimes_connect(&rts, monotonic_ms());
	assert_true(rts.clients[0].up);
	run_loop(&rts, epoll_fd, 5000, is_down, &o);
	assert_false(rts.clients[0].up);
	assert_true(rts.clients[0].partial_len <= RUNTIME_EVENT_LINE_MAX);
	/* What berth knew stays. */
	assert_non_null(inventory_container(&inv, ID1));

	teardown_runtimes(&api, &rts, &inv, epoll_fd);
}

/* No daemon at start: berth goes on, and connects once one appears. */
static void test_daemon_appears_later(void **state)
{
	struct tmp *t = *state;
	struct observed o = { 0 };
	struct runtimes rts;
	struct inventory inv;
	struct fake_api api;
	char path[128];
	int epoll_fd;

	snprintf(path, sizeof(path), "%s/api.sock", t->dir);
	setup_runtimes(&rts, &inv, &epoll_fd, &o, t->dir, path);
	runtimes_connect(&rts, monotonic_ms());
	assert_false(rts.clients[0].up);
	assert_true(rts.clients[0].warned);

	fake_api_start(&api, t->dir, LIST_ONE, EVENTS_QUIET);
	run_loop(&rts, epoll_fd, 5000, is_up_fn, &o);
	assert_true(rts.clients[0].up);
	assert_non_null(inventory_container(&inv, ID1));
	/* Never up before: not a reconnection. */
	assert_int_equal(o.reconnected, 0);

	teardown_runtimes(&api, &rts, &inv, epoll_fd);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMP_TEST(test_list_bad_answers),	TMP_TEST(test_list_no_daemon),
		TMP_TEST(test_inspect_refuses_bad_ids), TMP_TEST(test_stream_lost_and_resynced),
		TMP_TEST(test_stream_line_too_long),	TMP_TEST(test_daemon_appears_later),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
