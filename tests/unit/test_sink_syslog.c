// SPDX-License-Identifier: GPL-2.0-only
/*
 * sink_syslog.c against receivers made here: UDP and TCP listeners on
 * 127.0.0.1 (and ::1) ephemeral ports, unix sockets in a temporary
 * directory, and a TLS server in a thread with a CA and certificates made
 * in memory. The sink runs in the real outputs core (outputs_open, its
 * queue, its epoll registration), driven the way watch.c drives it; the
 * records are put in the queue directly so that the bytes are known.
 * What a real rsyslogd receives is tests/e2e/test_syslog.sh.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "clock.h"
#include "output.h"
#include "pki.h"
#include "tmpdir.h"

/* ---- the sink in the real core ---- */

struct harness {
	struct outputs o;
	struct sink *s;
	int epoll_fd;
	char port[16];
};

/*
 * berth's diagnostics go to a file the test reads back. The teardown puts
 * stderr back and shows the file, where cmocka's own failure message lands
 * too.
 */
static char captured_path[128];
static int saved_stderr = -1;

static void capture_stderr(struct harness *h, const char *dir)
{
	int fd;

	(void)h;
	snprintf(captured_path, sizeof(captured_path), "%s/stderr", dir);
	fd = open(captured_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static int restore_stderr(void **state)
{
	char data[4096];
	ssize_t n;
	int fd;

	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
		fd = open(captured_path, O_RDONLY | O_CLOEXEC);
		while (fd >= 0 && (n = read(fd, data, sizeof(data))) > 0)
			if (write(2, data, n) != n)
				break;
		if (fd >= 0)
			close(fd);
	}
	return tmp_teardown(state);
}

/* How many times text appears in what berth logged. */
static int logged(struct harness *h, const char *text)
{
	char data[16384];
	ssize_t n;
	int fd, count = 0;

	fflush(stderr);
	(void)h;
	fd = open(captured_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	data[n > 0 ? n : 0] = '\0';
	for (const char *p = data; (p = strstr(p, text)); p += strlen(text))
		count++;
	return count;
}

static void open_sink(struct harness *h, struct sink_config *cfg)
{
	char err[512] = "";

	cfg->name = cfg->name ? cfg->name : "siem";
	cfg->type = SINK_SYSLOG;
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(h->epoll_fd >= 0);
	if (outputs_open(&h->o, cfg, 1, NULL, h->epoll_fd, err, sizeof(err)))
		fail_msg("outputs_open: %s", err);
	h->s = &h->o.sinks[0];
}

static void close_sink(struct harness *h, int64_t within_ms)
{
	outputs_close(&h->o, monotonic_ms() + within_ms);
	close(h->epoll_fd);
}

/* A record in the queue, as the core's enqueue leaves it. */
static void push(struct harness *h, const void *data, size_t len)
{
	struct sink *s = h->s;
	struct queued_record *r;

	assert_true(s->count < s->cfg.queue_events);
	r = &s->ring[(s->head + s->count) % s->cfg.queue_events];
	r->data = malloc(len ? len : 1);
	assert_non_null(r->data);
	memcpy(r->data, data, len);
	r->len = len;
	s->count++;
	s->stats.queued_events = s->count;
	s->stats.queued_bytes += len;
	s->pending = true;
}

static void push_str(struct harness *h, const char *text)
{
	push(h, text, strlen(text));
}

/*
 * watch.c's loop for a while: the sinks' fds, a tick every 100 ms, a
 * flush per wakeup; until done(ctx) or timeout_ms. step(ctx), when given,
 * runs every round (a receiver reading).
 */
static bool pump(struct harness *h, int64_t timeout_ms, bool (*done)(struct harness *, void *),
		 void *ctx)
{
	int64_t end = monotonic_ms() + timeout_ms, next_tick = 0;

	for (;;) {
		struct epoll_event events[8];
		int64_t now = monotonic_ms();
		int n;

		outputs_flush(&h->o);
		if (done && done(h, ctx))
			return true;
		if (now >= end)
			return false;
		if (now >= next_tick) {
			outputs_tick(&h->o, now);
			next_tick = now + 100;
		}
		n = epoll_wait(h->epoll_fd, events, 8, 10);
		for (int i = 0; i < n; i++)
			assert_true(outputs_handle_fd(&h->o, events[i].data.fd, events[i].events));
	}
}

static bool queue_empty(struct harness *h, void *ctx)
{
	(void)ctx;
	return h->s->count == 0;
}

static bool is_connected(struct harness *h, void *ctx)
{
	(void)ctx;
	return h->s->stats.connected;
}

static bool is_down(struct harness *h, void *ctx)
{
	(void)ctx;
	return !h->s->stats.connected;
}

/* The sink's fds in the epoll set and their events, from /proc/self/fdinfo. */
static int watched(struct harness *h, int *fd, uint32_t *events)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", h->epoll_fd);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned int ev;
		int tfd;

		if (sscanf(line, "tfd: %d events: %x", &tfd, &ev) == 2) {
			*fd = tfd;
			*events = ev;
			n++;
		}
	}
	fclose(f);
	return n;
}

static uint32_t watched_events(struct harness *h)
{
	uint32_t events = 0;
	int fd;

	assert_int_equal(watched(h, &fd, &events), 1);
	return events & (EPOLLIN | EPOLLOUT);
}

/* ---- receivers ---- */

static int listen_on(int family, int type, char *port, size_t port_len, int rcvbuf)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len =
		family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(port));
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(port));
	}
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	snprintf(port, port_len, "%u",
		 ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					   ((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

static int listen_tcp(struct harness *h, int rcvbuf)
{
	int fd;

	snprintf(h->port, sizeof(h->port), "0");
	fd = listen_on(AF_INET, SOCK_STREAM, h->port, sizeof(h->port), rcvbuf);
	assert_true(fd >= 0);
	return fd;
}

static bool readable(struct harness *h, void *ctx)
{
	struct pollfd pfd = { .fd = *(int *)ctx, .events = POLLIN };

	(void)h;
	return poll(&pfd, 1, 0) == 1;
}

/* Accepts the sink's connection, pumping the sink meanwhile (it may have to retry). */
static int accept_within(struct harness *h, int listen_fd, int timeout_ms)
{
	if (!pump(h, timeout_ms, readable, &listen_fd))
		return -1;
	return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/* A receiver's bytes so far; read while the sink is pumped. */
struct received {
	int fd;
	struct buf data;
	size_t want; /* done at this many bytes */
	bool eof;
};

static void read_some(struct received *r)
{
	char chunk[65536];
	ssize_t n;

	while ((n = recv(r->fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		assert_true(buf_append(&r->data, chunk, n));
	if (n == 0)
		r->eof = true;
}

static bool received_enough(struct harness *h, void *ctx)
{
	struct received *r = ctx;

	(void)h;
	read_some(r);
	return r->data.len >= r->want;
}

/* Reads from fd until want bytes came or timeout_ms passed, pumping the sink. */
static void receive(struct harness *h, struct received *r, int fd, size_t want, int timeout_ms)
{
	r->fd = fd;
	r->want = want;
	buf_reset(&r->data);
	pump(h, timeout_ms, received_enough, r);
}

static void expect_bytes(const struct buf *got, const char *want, size_t want_len)
{
	if (got->len != want_len || memcmp(got->data, want, want_len))
		fail_msg("received %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", got->len,
			 (int)(got->len > 300 ? 300 : got->len), got->data, want_len,
			 (int)(want_len > 300 ? 300 : want_len), want);
}

/* A record of len bytes whose content shows where any byte came from. */
static char *pattern(size_t len, unsigned int seed)
{
	char *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + (i / 7 + seed) % 26);
	return p;
}

/* ---- UDP ---- */

static void test_udp_one_datagram_per_message(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char port[16] = "0", got[128];
	int rx = listen_on(AF_INET, SOCK_DGRAM, port, sizeof(port), 0);
	struct sink_config cfg = { .transport = SYSLOG_UDP, .host = "127.0.0.1", .port = port };
	const char *msgs[] = {
		"<134>1 2026-12-04T15:07:31.112Z node-1 berth 42 connection-accepted "
		"[berth@32473 container=\"web\"] accepted",
		"<134>1 - - - - - - second", ""
	};

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	assert_true(h.s->stats.connected);
	/* Nothing to write: EPOLLOUT is not asked for. */
	assert_int_equal(watched_events(&h), EPOLLIN);
	for (unsigned int i = 0; i < 3; i++)
		push_str(&h, msgs[i]);
	assert_true(pump(&h, 2000, queue_empty, NULL));
	for (unsigned int i = 0; i < 3; i++) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, 1000), 1);
		n = recv(rx, got, sizeof(got), 0);
		assert_int_equal(n, strlen(msgs[i]));
		assert_memory_equal(got, msgs[i], n);
	}
	assert_int_equal(h.s->stats.delivered, 3);
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 0);
	close_sink(&h, 1000);
	close(rx);
}

static void test_udp_oversized_message_is_counted_lost(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char port[16] = "0", got[128];
	int rx = listen_on(AF_INET, SOCK_DGRAM, port, sizeof(port), 0);
	struct sink_config cfg = { .transport = SYSLOG_UDP, .host = "127.0.0.1", .port = port };
	char *big = pattern(65508, 0), *largest = pattern(65507, 1);
	struct pollfd pfd = { .fd = rx, .events = POLLIN };
	int rcvbuf = 1 << 20;

	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push(&h, big, 65508);
	push(&h, largest, 65507);
	push(&h, big, 65508);
	push_str(&h, "after");
	assert_true(pump(&h, 2000, queue_empty, NULL));
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 2);
	assert_int_equal(h.s->stats.delivered, 2);
	/* One warning, not one per message. */
	assert_int_equal(logged(&h, "larger than a UDP datagram carries (65507)"), 1);
	assert_int_equal(logged(&h, "output siem:"), 1);

	assert_int_equal(poll(&pfd, 1, 1000), 1);
	{
		char *dgram = malloc(70000);

		assert_int_equal(recv(rx, dgram, 70000, 0), 65507);
		assert_memory_equal(dgram, largest, 65507);
		free(dgram);
	}
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(recv(rx, got, sizeof(got), 0), 5);
	assert_memory_equal(got, "after", 5);
	close_sink(&h, 1000);
	close(rx);
	free(big);
	free(largest);
}

struct udp_receiver {
	int fd;
	unsigned int count;
	char last[64];
};

static bool udp_got_one(struct harness *h, void *ctx)
{
	struct udp_receiver *r = ctx;
	ssize_t n;

	(void)h;
	while ((n = recv(r->fd, r->last, sizeof(r->last) - 1, MSG_DONTWAIT)) >= 0) {
		r->last[n] = '\0';
		r->count++;
	}
	return r->count > 0;
}

static void test_udp_refused_then_receiver_comes(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char port[16] = "0";
	int rx = listen_on(AF_INET, SOCK_DGRAM, port, sizeof(port), 0);
	struct sink_config cfg = { .transport = SYSLOG_UDP, .host = "127.0.0.1", .port = port };
	struct udp_receiver r = { 0 };

	/* The port is known and nobody listens on it: ICMP port unreachable. */
	close(rx);
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "into the void");
	assert_true(pump(&h, 2000, is_down, NULL));
	/* More datagrams while refused: the sink stays, one warning only. */
	for (unsigned int i = 0; i < 5; i++) {
		push_str(&h, "still refused");
		assert_true(pump(&h, 1000, queue_empty, NULL));
		pump(&h, 50, NULL, NULL);
	}
	assert_false(h.s->stats.connected);
	assert_int_equal(logged(&h, "refuses datagrams"), 1);
	assert_non_null(h.s->state);

	r.fd = listen_on(AF_INET, SOCK_DGRAM, port, sizeof(port), 0);
	assert_true(r.fd >= 0);
	push_str(&h, "back");
	assert_true(pump(&h, 2000, udp_got_one, &r));
	assert_string_equal(r.last, "back");
	assert_int_equal(r.count, 1);
	/* Reachable again once a datagram went a second without refusal. */
	assert_true(pump(&h, 3000, is_connected, NULL));
	assert_int_equal(logged(&h, "accepts datagrams again"), 1);
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 0);
	close_sink(&h, 1000);
	close(r.fd);
}

/* ---- TCP ---- */

static void test_tcp_octet_counting_framing(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 0), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	struct received r = { 0 };
	/* A message with LF and a multi-byte character: lengths count octets. */
	const char want[] = "5 hello0 7 a b\nc d10 caf\xc3\xa9 \xe2\x82\xac!";

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "hello");
	push_str(&h, "");
	push_str(&h, "a b\nc d");
	push_str(&h, "caf\xc3\xa9 \xe2\x82\xac!");
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	receive(&h, &r, conn, sizeof(want) - 1, 3000);
	expect_bytes(&r.data, want, sizeof(want) - 1);
	assert_int_equal(h.s->count, 0);
	assert_int_equal(h.s->stats.delivered, 4);
	assert_true(h.s->stats.connected);
	assert_int_equal(watched_events(&h), EPOLLIN);
	/* A first connection is not news. */
	assert_int_equal(logged(&h, "output siem"), 0);
	close_sink(&h, 1000);
	buf_free(&r.data);
	close(conn);
	close(lfd);
}

static void test_tcp_ipv6(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char port[16] = "0";
	int lfd = listen_on(AF_INET6, SOCK_STREAM, port, sizeof(port), 0), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "::1", .port = port };
	struct received r = { 0 };

	if (lfd < 0)
		skip();
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "<14>1 - - - - - - over IPv6");
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	receive(&h, &r, conn, 30, 3000);
	expect_bytes(&r.data, "27 <14>1 - - - - - - over IPv6", 30);
	close_sink(&h, 1000);
	buf_free(&r.data);
	close(conn);
	close(lfd);
}

/* A name is looked up off the loop (getaddrinfo_a), then connected to. */
static void test_tcp_host_name(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 0), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "localhost", .port = h.port };
	struct received r = { 0 };

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "by name");
	conn = accept_within(&h, lfd, 5000);
	assert_true(conn >= 0);
	receive(&h, &r, conn, 9, 3000);
	expect_bytes(&r.data, "7 by name", 9);
	assert_true(pump(&h, 1000, queue_empty, NULL));
	close_sink(&h, 1000);
	buf_free(&r.data);
	close(conn);
	close(lfd);
}

/* A failed lookup is retried like a refused connection (no DNS query leaves the host). */
static void test_failed_lookup_is_retried(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TCP,
				   .host = "localhost",
				   .port = "no-such-service" };

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "waits");
	pump(&h, 1500, NULL, NULL);
	assert_false(h.s->stats.connected);
	assert_int_equal(h.s->count, 1);
	assert_int_equal(logged(&h,
				"output siem: cannot connect to tcp://localhost:no-such-service: "
				"cannot resolve localhost: "),
			 1);
	close_sink(&h, 0);
}

/*
 * A receiver that does not read: the socket fills, the sink waits for
 * EPOLLOUT with its records still queued (none leaves the queue half
 * written), and delivers every byte in order once the receiver reads.
 */
static void test_tcp_partial_writes(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 4096), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	const size_t record_len = 1 << 20;
	struct received r = { 0 };
	struct buf want = { 0 };

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	for (unsigned int i = 0; i < 16; i++) {
		char *p = pattern(record_len, i);

		push(&h, p, record_len);
		buf_printf(&want, "%zu ", record_len);
		buf_append(&want, p, record_len);
		free(p);
	}
	pump(&h, 300, NULL, NULL);
	assert_true(h.s->count > 0);
	assert_true(h.s->stats.delivered < 16);
	assert_int_equal(h.s->stats.delivered + h.s->count, 16);
	assert_int_equal(watched_events(&h), EPOLLIN | EPOLLOUT);

	receive(&h, &r, conn, want.len, 10000);
	expect_bytes(&r.data, want.data, want.len);
	assert_true(pump(&h, 1000, queue_empty, NULL));
	assert_int_equal(h.s->stats.delivered, 16);
	pump(&h, 50, NULL, NULL);
	assert_int_equal(watched_events(&h), EPOLLIN);
	close_sink(&h, 1000);
	buf_free(&r.data);
	buf_free(&want);
	close(conn);
	close(lfd);
}

/*
 * The receiver breaks the connection in the middle of a record, then goes
 * away and comes back: the record is sent again whole on the next
 * connection, with one warning for the loss and one line when it is back.
 */
static void test_tcp_reconnect_resends_record_whole(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 4096), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	const size_t record_len = 8 << 20;
	char *big = pattern(record_len, 3), head[32];
	struct received r = { 0 };
	struct buf want = { 0 };
	int64_t went_down_ms;

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	push(&h, big, record_len);
	push_str(&h, "next");
	receive(&h, &r, conn, 1000, 3000);
	assert_true(r.data.len >= 1000);
	snprintf(head, sizeof(head), "%zu ", record_len);
	assert_memory_equal(r.data.data, head, strlen(head));
	/* Closed with unread bytes: a reset, mid-record. */
	close(conn);
	close(lfd);
	assert_true(pump(&h, 3000, is_down, NULL));
	went_down_ms = monotonic_ms();
	assert_int_equal(h.s->count, 2);
	assert_int_equal(h.s->stats.delivered, 0);
	assert_int_equal(logged(&h, "output siem: connection to tcp://127.0.0.1:"), 1);

	/* Nobody listens for a while: retries with backoff, no new warning each. */
	pump(&h, 1800, NULL, NULL);
	assert_int_equal(logged(&h, "cannot connect to tcp://127.0.0.1:"), 1);
	assert_int_equal(logged(&h, "Connection refused"), 1);
	assert_false(h.s->stats.connected);

	lfd = listen_on(AF_INET, SOCK_STREAM, h.port, sizeof(h.port), 0);
	assert_true(lfd >= 0);
	conn = accept_within(&h, lfd, 5000);
	assert_true(conn >= 0);
	/* Backoff 0.5, 1, 2 s: the attempt that found it came within 4 s. */
	assert_true(monotonic_ms() - went_down_ms < 4500);
	buf_printf(&want, "%zu ", record_len);
	buf_append(&want, big, record_len);
	buf_puts(&want, "4 next");
	receive(&h, &r, conn, want.len, 10000);
	expect_bytes(&r.data, want.data, want.len);
	assert_true(pump(&h, 1000, queue_empty, NULL));
	assert_true(h.s->stats.connected);
	assert_int_equal(h.s->stats.delivered, 2);
	assert_int_equal(logged(&h, "output siem: connected to tcp://127.0.0.1:"), 1);
	close_sink(&h, 1000);
	buf_free(&r.data);
	buf_free(&want);
	free(big);
	close(conn);
	close(lfd);
}

/*
 * A receiver that stops reading, then resets: the records its kernel had
 * acknowledged (those in its receive buffer, read here with MSG_PEEK) are
 * delivered; every later one, also those berth had written into its own
 * socket, goes whole on the next connection, with none missing and none
 * twice.
 */
static void test_tcp_unacknowledged_records_sent_again(void **state)
{
	enum { N = 400, LEN = 1000, FRAME = LEN + 5 /* "1000 " */ };
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 4096), conn, avail = 0;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	char *records[N], *peeked;
	struct received r = { 0 };
	struct buf want = { 0 };
	unsigned int acked;

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	for (unsigned int i = 0; i < N; i++) {
		records[i] = pattern(LEN, i);
		snprintf(records[i], 12, "record %04u", i);
		records[i][11] = ' ';
		push(&h, records[i], LEN);
	}
	pump(&h, 500, NULL, NULL);
	/* Written is not delivered: what the receiver's kernel did not take stays queued. */
	assert_int_equal(ioctl(conn, FIONREAD, &avail), 0);
	acked = (unsigned int)avail / FRAME;
	assert_true(acked < N);
	assert_int_equal(h.s->stats.delivered, acked);
	assert_int_equal(h.s->count, N - acked);
	peeked = malloc(avail);
	assert_non_null(peeked);
	assert_int_equal(recv(conn, peeked, avail, MSG_PEEK | MSG_DONTWAIT), avail);
	for (unsigned int i = 0; i < acked; i++)
		assert_memory_equal(peeked + i * FRAME + 5, records[i], LEN);
	free(peeked);
	assert_int_equal(setsockopt(conn, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
	close(conn);

	assert_true(pump(&h, 3000, is_down, NULL));
	assert_int_equal(logged(&h, "of them written but not acknowledged: sent again"), 1);
	conn = accept_within(&h, lfd, 5000);
	assert_true(conn >= 0);
	for (unsigned int i = acked; i < N; i++) {
		buf_printf(&want, "%d ", LEN);
		buf_append(&want, records[i], LEN);
	}
	receive(&h, &r, conn, want.len, 10000);
	expect_bytes(&r.data, want.data, want.len);
	assert_true(pump(&h, 2000, queue_empty, NULL));
	assert_int_equal(h.s->stats.delivered, N);
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 0);
	close_sink(&h, 1000);
	for (unsigned int i = 0; i < N; i++)
		free(records[i]);
	buf_free(&r.data);
	buf_free(&want);
	close(conn);
	close(lfd);
}

/* At exit the queue is delivered within the deadline, even mid-connect. */
static void test_close_delivers_queue(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 0), conn;
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	struct received r = { .data = { 0 } };
	struct buf want = { 0 };
	struct sink_stats stats;

	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	for (unsigned int i = 0; i < 1000; i++) {
		char msg[32];

		snprintf(msg, sizeof(msg), "record %u", i);
		push_str(&h, msg);
		buf_printf(&want, "%zu %s", strlen(msg), msg);
	}
	/* The sink stats die with the sink: read them from its close. */
	h.s->ops->close(h.s, monotonic_ms() + 3000);
	stats = h.s->stats;
	h.s->opened = false;
	assert_int_equal(stats.delivered, 1000);
	assert_int_equal(stats.lost[LOSS_WRITE], 0);
	/* The sink is gone: no pumping, the bytes wait in the kernel. */
	assert_true(readable(&h, &lfd));
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	assert_true(conn >= 0);
	r.fd = conn;
	r.want = want.len;
	for (int i = 0; i < 100 && !received_enough(&h, &r) && !r.eof; i++)
		poll(NULL, 0, 10);
	expect_bytes(&r.data, want.data, want.len);
	close_sink(&h, 0);
	buf_free(&r.data);
	buf_free(&want);
	close(conn);
	close(lfd);
}

static void test_close_counts_what_it_could_not_deliver(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	int lfd = listen_tcp(&h, 0);
	struct sink_config cfg = { .transport = SYSLOG_TCP, .host = "127.0.0.1", .port = h.port };
	int64_t start;

	close(lfd);
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "one");
	push_str(&h, "two");
	push_str(&h, "three");
	start = monotonic_ms();
	h.s->ops->close(h.s, start + 300);
	assert_true(monotonic_ms() - start < 1000);
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 3);
	assert_int_equal(h.s->stats.delivered, 0);
	assert_int_equal(h.s->count, 0);
	h.s->opened = false;
	assert_int_equal(logged(&h, "output siem: 3 records not delivered to tcp://127.0.0.1:"), 1);
	close_sink(&h, 0);
}

/* ---- unix sockets ---- */

static int unix_socket_at(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char got[256];
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recv(fd, got, sizeof(got) - 1, 0);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void test_unix_datagrams_and_receiver_restart(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char path[128];
	int rx;
	struct sink_config cfg = { .transport = SYSLOG_UNIX, .socket_path = path };

	snprintf(path, sizeof(path), "%s/log", t->dir);
	rx = unix_socket_at(path, SOCK_DGRAM);
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "<14>1 - - - - - - first");
	push_str(&h, "<14>1 - - - - - - second");
	assert_true(pump(&h, 2000, queue_empty, NULL));
	expect_datagram(rx, "<14>1 - - - - - - first");
	expect_datagram(rx, "<14>1 - - - - - - second");

	/* The daemon restarts: a new socket at the same path. */
	close(rx);
	rx = unix_socket_at(path, SOCK_DGRAM);
	push_str(&h, "<14>1 - - - - - - after restart");
	assert_true(pump(&h, 3000, queue_empty, NULL));
	expect_datagram(rx, "<14>1 - - - - - - after restart");
	assert_int_equal(h.s->stats.delivered, 3);
	assert_int_equal(h.s->stats.lost[LOSS_WRITE], 0);
	assert_int_equal(logged(&h, "output siem: connection to unix:"), 1);
	close_sink(&h, 1000);
	close(rx);
}

static void test_unix_stream_socket_gets_octet_counting(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char path[128];
	int lfd, conn;
	struct sink_config cfg = { .transport = SYSLOG_UNIX, .socket_path = path };
	struct received r = { 0 };

	snprintf(path, sizeof(path), "%s/log", t->dir);
	lfd = unix_socket_at(path, SOCK_STREAM);
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	push_str(&h, "<14>1 - - - - - - one");
	push_str(&h, "two");
	conn = accept_within(&h, lfd, 2000);
	assert_true(conn >= 0);
	receive(&h, &r, conn, 30, 3000);
	expect_bytes(&r.data, "21 <14>1 - - - - - - one3 two", 29);
	close_sink(&h, 1000);
	buf_free(&r.data);
	close(conn);
	close(lfd);
}

static void test_unix_socket_missing_is_retried(void **state)
{
	struct tmp *t = *state;
	struct harness h = { 0 };
	char path[128];
	int rx;
	struct sink_config cfg = { .transport = SYSLOG_UNIX, .socket_path = path };

	snprintf(path, sizeof(path), "%s/later", t->dir);
	capture_stderr(&h, t->dir);
	open_sink(&h, &cfg);
	assert_false(h.s->stats.connected);
	push_str(&h, "waits");
	pump(&h, 200, NULL, NULL);
	assert_int_equal(h.s->count, 1);
	rx = unix_socket_at(path, SOCK_DGRAM);
	assert_true(pump(&h, 3000, queue_empty, NULL));
	expect_datagram(rx, "waits");
	assert_int_equal(logged(&h, "No such file or directory"), 1);
	close_sink(&h, 1000);
	close(rx);
}

/* ---- TLS ---- */

/*
 * A TLS receiver in a thread: accepts one connection, reads until the
 * client closes, keeps the bytes. Blocking calls with timeouts, so that a
 * sink that never comes does not hang the test.
 */
struct tls_server {
	int listen_fd;
	int read_delay_ms; /* before the first read: the client's writes back up */
	SSL_CTX *ctx;
	pthread_t thread;
	bool handshake_ok;
	char client_cn[64];
	struct buf received;
};

static void *tls_server_run(void *arg)
{
	struct tls_server *srv = arg;
	struct timeval timeout = { .tv_sec = 10 };
	struct pollfd pfd = { .fd = srv->listen_fd, .events = POLLIN };
	char chunk[65536];
	SSL *ssl;
	X509 *peer;
	int fd, n;

	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	ssl = SSL_new(srv->ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		srv->handshake_ok = true;
		poll(NULL, 0, srv->read_delay_ms);
		peer = SSL_get_peer_certificate(ssl);
		if (peer) {
			X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
						  srv->client_cn, sizeof(srv->client_cn));
			X509_free(peer);
		}
		while ((n = SSL_read(ssl, chunk, sizeof(chunk))) > 0)
			buf_append(&srv->received, chunk, n);
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void tls_server_start(struct tls_server *srv, struct harness *h, struct pki *p,
			     bool want_client_cert)
{
	X509_STORE *store;

	srv->listen_fd = listen_tcp(h, 0);
	srv->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(srv->ctx);
	assert_int_equal(SSL_CTX_use_certificate(srv->ctx, p->server), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(srv->ctx, p->server_key), 1);
	if (want_client_cert) {
		store = SSL_CTX_get_cert_store(srv->ctx);
		X509_STORE_add_cert(store, p->ca);
		SSL_CTX_set_verify(srv->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	assert_int_equal(pthread_create(&srv->thread, NULL, tls_server_run, srv), 0);
}

static void tls_server_stop(struct tls_server *srv)
{
	/* A server still waiting in accept is woken by the listener's shutdown. */
	shutdown(srv->listen_fd, SHUT_RDWR);
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
	SSL_CTX_free(srv->ctx);
	buf_free(&srv->received);
}

static struct pki *pki_for(struct tmp *t)
{
	struct pki *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	make_pki(p, t->dir);
	return p;
}

static void test_tls_verified_octet_counting(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };
	const char want[] = "26 <14>1 - - - - - - over TLS5 hello";

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, false);
	cfg.port = h.port;
	cfg.tls_ca = p->ca_path;
	open_sink(&h, &cfg);
	push_str(&h, "<14>1 - - - - - - over TLS");
	push_str(&h, "hello");
	assert_true(pump(&h, 5000, queue_empty, NULL));
	assert_true(h.s->stats.connected);
	assert_int_equal(h.s->stats.delivered, 2);
	close_sink(&h, 3000);
	pthread_join(srv.thread, NULL);
	srv.thread = 0;
	assert_true(srv.handshake_ok);
	expect_bytes(&srv.received, want, sizeof(want) - 1);
	close(srv.listen_fd);
	SSL_CTX_free(srv.ctx);
	buf_free(&srv.received);
	free_pki(p);
	free(p);
}

/* SSL_write blocked on a full socket is retried with the same bytes, to the last one. */
static void test_tls_partial_writes(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { .read_delay_ms = 500 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };
	const size_t record_len = 1 << 20;
	struct buf want = { 0 };

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, false);
	cfg.port = h.port;
	cfg.tls_ca = p->ca_path;
	open_sink(&h, &cfg);
	for (unsigned int i = 0; i < 12; i++) {
		char *rec = pattern(record_len, i);

		push(&h, rec, record_len);
		buf_printf(&want, "%zu ", record_len);
		buf_append(&want, rec, record_len);
		free(rec);
	}
	pump(&h, 300, NULL, NULL);
	/* The server has not read yet: the sink waits for EPOLLOUT, records queued. */
	assert_true(h.s->count > 0);
	assert_int_equal(watched_events(&h), EPOLLIN | EPOLLOUT);
	assert_true(pump(&h, 10000, queue_empty, NULL));
	assert_int_equal(h.s->stats.delivered, 12);
	close_sink(&h, 5000);
	pthread_join(srv.thread, NULL);
	srv.thread = 0;
	expect_bytes(&srv.received, want.data, want.len);
	close(srv.listen_fd);
	SSL_CTX_free(srv.ctx);
	buf_free(&srv.received);
	buf_free(&want);
	free_pki(p);
	free(p);
}

/* The server's certificate is not from the CA given, or not for the name. */
static void expect_rejected(void **state, const char *ca, const char *server_name, const char *why)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, false);
	cfg.port = h.port;
	cfg.tls_ca = !strcmp(ca, "rogue") ? p->rogue_ca_path : p->ca_path;
	cfg.tls_server_name = (char *)server_name;
	open_sink(&h, &cfg);
	push_str(&h, "secret");
	pump(&h, 1000, NULL, NULL);
	assert_false(h.s->stats.connected);
	assert_int_equal(h.s->count, 1);
	assert_int_equal(h.s->stats.delivered, 0);
	if (logged(&h, why) != 1 ||
	    logged(&h, "output siem: cannot connect to tls://127.0.0.1:") != 1)
		fail_msg("no one clear warning with \"%s\"", why);
	close_sink(&h, 0);
	tls_server_stop(&srv);
	assert_false(srv.handshake_ok);
	free_pki(p);
	free(p);
}

static void test_tls_unknown_ca_rejected(void **state)
{
	expect_rejected(
		state, "rogue", NULL,
		"certificate rejected: unable to get local issuer certificate (expected name "
		"127.0.0.1)");
}

static void test_tls_wrong_name_rejected(void **state)
{
	expect_rejected(state, "ca", "siem.example.org",
			"certificate rejected: hostname mismatch (expected name siem.example.org)");
}

static void test_tls_server_name_matches_dns_san(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, false);
	cfg.port = h.port;
	cfg.tls_ca = p->ca_path;
	cfg.tls_server_name = "localhost";
	open_sink(&h, &cfg);
	push_str(&h, "named");
	assert_true(pump(&h, 5000, queue_empty, NULL));
	close_sink(&h, 3000);
	tls_server_stop(&srv);
	free_pki(p);
	free(p);
}

static void test_tls_insecure_accepts_unknown_ca(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, false);
	cfg.port = h.port;
	cfg.tls_ca = p->rogue_ca_path;
	cfg.tls_insecure = true;
	open_sink(&h, &cfg);
	assert_int_equal(logged(&h, "TLS certificate verification is off"), 1);
	push_str(&h, "anyway");
	assert_true(pump(&h, 5000, queue_empty, NULL));
	close_sink(&h, 3000);
	pthread_join(srv.thread, NULL);
	srv.thread = 0;
	expect_bytes(&srv.received, "6 anyway", 8);
	close(srv.listen_fd);
	SSL_CTX_free(srv.ctx);
	buf_free(&srv.received);
	free_pki(p);
	free(p);
}

static void test_tls_client_certificate(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct harness h = { 0 };
	struct tls_server srv = { 0 };
	struct sink_config cfg = { .transport = SYSLOG_TLS, .host = "127.0.0.1" };

	capture_stderr(&h, t->dir);
	tls_server_start(&srv, &h, p, true);
	cfg.port = h.port;
	cfg.tls_ca = p->ca_path;
	cfg.tls_cert = p->client_cert_path;
	cfg.tls_key = p->client_key_path;
	open_sink(&h, &cfg);
	push_str(&h, "mutual");
	assert_true(pump(&h, 5000, queue_empty, NULL));
	close_sink(&h, 3000);
	pthread_join(srv.thread, NULL);
	srv.thread = 0;
	assert_string_equal(srv.client_cn, "berth-client");
	expect_bytes(&srv.received, "6 mutual", 8);
	close(srv.listen_fd);
	SSL_CTX_free(srv.ctx);
	buf_free(&srv.received);
	free_pki(p);
	free(p);
}

static void test_tls_bad_files_fail_open(void **state)
{
	struct tmp *t = *state;
	struct pki *p = pki_for(t);
	struct sink_config cfg = { .name = "siem",
				   .type = SINK_SYSLOG,
				   .transport = SYSLOG_TLS,
				   .host = "127.0.0.1",
				   .port = "6514" };
	struct outputs o = { 0 };
	char missing[160], err[512];
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);

	snprintf(missing, sizeof(missing), "%s/nope.pem", t->dir);
	cfg.tls_ca = missing;
	assert_int_equal(outputs_open(&o, &cfg, 1, NULL, epoll_fd, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "output siem: CA certificates "));
	assert_non_null(strstr(err, missing));
	outputs_close(&o, 0);

	/* A key that is not the certificate's. */
	cfg.tls_ca = p->ca_path;
	cfg.tls_cert = p->client_cert_path;
	cfg.tls_key = p->ca_path;
	assert_int_equal(outputs_open(&o, &cfg, 1, NULL, epoll_fd, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "output siem: client key "));
	outputs_close(&o, 0);
	close(epoll_fd);
	free_pki(p);
	free(p);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, restore_stderr)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMP_TEST(test_udp_one_datagram_per_message),
		TMP_TEST(test_udp_oversized_message_is_counted_lost),
		TMP_TEST(test_udp_refused_then_receiver_comes),
		TMP_TEST(test_tcp_octet_counting_framing),
		TMP_TEST(test_tcp_ipv6),
		TMP_TEST(test_tcp_host_name),
		TMP_TEST(test_failed_lookup_is_retried),
		TMP_TEST(test_tcp_partial_writes),
		TMP_TEST(test_tcp_reconnect_resends_record_whole),
		TMP_TEST(test_tcp_unacknowledged_records_sent_again),
		TMP_TEST(test_close_delivers_queue),
		TMP_TEST(test_close_counts_what_it_could_not_deliver),
		TMP_TEST(test_unix_datagrams_and_receiver_restart),
		TMP_TEST(test_unix_stream_socket_gets_octet_counting),
		TMP_TEST(test_unix_socket_missing_is_retried),
		TMP_TEST(test_tls_verified_octet_counting),
		TMP_TEST(test_tls_partial_writes),
		TMP_TEST(test_tls_unknown_ca_rejected),
		TMP_TEST(test_tls_wrong_name_rejected),
		TMP_TEST(test_tls_server_name_matches_dns_san),
		TMP_TEST(test_tls_insecure_accepts_unknown_ca),
		TMP_TEST(test_tls_client_certificate),
		TMP_TEST(test_tls_bad_files_fail_open),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
