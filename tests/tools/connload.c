// SPDX-License-Identifier: GPL-2.0-only
/*
 * connload: a bounded TCP connection load client for berth's tests and
 * benchmark.
 *
 * Each connection: connect, send the request in full, read until the peer
 * closes (an HTTP/1.0 server such as busybox httpd answers and closes), then
 * close. The peer closes first, so TIME_WAIT stays on the server side and a
 * long run does not use up the client's ephemeral ports.
 *
 * Every run is bounded: by --connections, by --duration-s if given, and by
 * --timeout-s (default 60 s) whatever happens. Each worker thread runs its
 * own epoll loop over non-blocking sockets; a thread is one CPU's worth of
 * new connections.
 *
 * Prints one JSON line on stdout at the end; exits 0 when every connection
 * it started completed, 1 otherwise, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_REQUEST "GET / HTTP/1.0\r\nHost: berth-test\r\n\r\n"
#define READ_BUF_SIZE 65536
#define MAX_CONCURRENCY 65536
#define MAX_THREADS 64

enum conn_phase { SLOT_FREE = 0, SLOT_CONNECTING, SLOT_SENDING, SLOT_READING };

struct slot {
	int fd;
	enum conn_phase phase;
	size_t sent;	   /* bytes of the request sent so far */
	uint64_t start_ns; /* for the per-connection timeout */
};

struct config {
	struct sockaddr_storage target;
	socklen_t target_len;
	struct sockaddr_storage bind_addr;
	socklen_t bind_len; /* 0: no --bind */
	long connections;
	int concurrency;
	int threads;
	double timeout_s;
	double duration_s; /* 0: none */
	double conn_timeout_s;
	bool shutdown_wr;
	char *request;
	size_t request_len;
};

struct stats {
	uint64_t ok;
	uint64_t failed;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	int first_errno;
	const char *first_error_where;
};

struct worker {
	pthread_t thread;
	int concurrency;
	struct stats stats;
};

static struct config cfg = {
	.connections = 1,
	.concurrency = 16,
	.threads = 1,
	.timeout_s = 60,
	.conn_timeout_s = 10,
};

static atomic_long next_conn;	  /* connections claimed by workers */
static atomic_bool stop_starting; /* duration over: start no more */
static atomic_bool abort_run;	  /* timeout: abandon what is in flight */
static atomic_int workers_done;	  /* workers whose loop has ended */
static uint64_t run_start_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: connload --target IP:PORT [options]\n"
		"\n"
		"Opens --connections TCP connections to the target, at most\n"
		"--concurrency at a time; each sends the request, reads until the\n"
		"peer closes, and closes. Prints one JSON line of totals.\n"
		"\n"
		"  --target IP:PORT       IPv4 a.b.c.d:port or IPv6 [addr]:port\n"
		"  --connections N        total connections (default 1)\n"
		"  --concurrency C        connections in flight (default 16)\n"
		"  --threads T            worker threads, each its own epoll loop (default 1)\n"
		"  --send FILE            send FILE's bytes as the request\n"
		"  --send-bytes N         send an N-byte request: an HTTP/1.0 GET padded\n"
		"                         with an X-Pad header; N below its minimum (%zu)\n"
		"                         sends N bytes of 'x'; 0 sends nothing\n"
		"                         (default: \"GET / HTTP/1.0\\r\\nHost: berth-test\\r\\n\\r\\n\")\n"
		"  --shutdown-wr          shut down the write side after the request\n"
		"  --timeout-s T          hard limit for the whole run (default 60)\n"
		"  --duration-s D         stop starting connections after D seconds\n"
		"  --conn-timeout-s S     fail a connection that takes longer (default 10)\n"
		"  --bind IP              source address\n"
		"\n"
		"Exit: 0 all connections ok, 1 some failed or timed out, 2 usage.\n"
		"\n"
		"EXAMPLES\n"
		"  connload --target 127.0.0.1:18080 --connections 200\n"
		"  connload --target '[2001:db8::1]:18080' --connections 100 --concurrency 4\n"
		"  connload --target 127.0.0.1:18090 --connections 10000000 --duration-s 5 --threads 2\n",
		sizeof("GET / HTTP/1.0\r\nX-Pad: \r\n\r\n") - 1);
}

static __attribute__((noreturn)) void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "connload: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(connload --help for usage)\n");
	exit(2);
}

static long parse_long(const char *flag, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "connload: %s: '%s' is not an integer in [%ld, %ld]\n", flag, s,
			min, max);
		exit(2);
	}
	return v;
}

static double parse_seconds(const char *flag, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400) {
		fprintf(stderr, "connload: %s: '%s' is not a number of seconds in (0, 86400]\n",
			flag, s);
		exit(2);
	}
	return v;
}

/* "a.b.c.d", "v6addr" or "[v6addr]", with port (host order) into ss. */
static bool parse_ip(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

static void parse_target(const char *arg)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(arg, ':');
	size_t host_len;
	long port;

	if (!colon || colon == arg)
		die_usage("--target: '%s' is not IP:PORT or [IPv6]:PORT", arg);
	host_len = (size_t)(colon - arg);
	if (host_len >= sizeof(host))
		die_usage("--target: address too long in '%s'", arg);
	memcpy(host, arg, host_len);
	host[host_len] = '\0';
	/* An unbracketed IPv6 address would make the port ambiguous. */
	if (strchr(host, ':') && host[0] != '[')
		die_usage("--target: write IPv6 as [addr]:port, not '%s'", arg);
	port = parse_long("--target port", colon + 1, 1, 65535);
	if (!parse_ip(host, (uint16_t)port, &cfg.target, &cfg.target_len))
		die_usage("--target: '%s' is not an IPv4 or IPv6 address", host);
}

static void read_request_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, len = 0, n;
	char *buf;

	if (!f) {
		fprintf(stderr, "connload: --send: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	buf = malloc(cap);
	if (!buf) {
		fprintf(stderr, "connload: out of memory\n");
		exit(2);
	}
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap > (64u << 20)) {
				fprintf(stderr, "connload: --send: %s: larger than 64 MiB\n", path);
				exit(2);
			}
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf) {
				fprintf(stderr, "connload: out of memory\n");
				exit(2);
			}
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "connload: --send: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	cfg.request = buf;
	cfg.request_len = len;
}

static void make_padded_request(long n)
{
	static const char head[] = "GET / HTTP/1.0\r\nX-Pad: ";
	static const char tail[] = "\r\n\r\n";
	size_t min = sizeof(head) - 1 + sizeof(tail) - 1;
	char *buf = malloc((size_t)n + 1);

	if (!buf) {
		fprintf(stderr, "connload: out of memory\n");
		exit(2);
	}
	if ((size_t)n < min) {
		memset(buf, 'x', (size_t)n);
	} else {
		memcpy(buf, head, sizeof(head) - 1);
		memset(buf + sizeof(head) - 1, 'a', (size_t)n - min);
		memcpy(buf + (size_t)n - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	}
	buf[n] = '\0';
	cfg.request = buf;
	cfg.request_len = (size_t)n;
}

static void parse_args(int argc, char **argv)
{
	enum {
		OPT_TARGET = 256,
		OPT_CONNECTIONS,
		OPT_CONCURRENCY,
		OPT_THREADS,
		OPT_SEND,
		OPT_SEND_BYTES,
		OPT_SHUTDOWN_WR,
		OPT_TIMEOUT,
		OPT_DURATION,
		OPT_CONN_TIMEOUT,
		OPT_BIND,
		OPT_HELP,
	};
	static const struct option opts[] = {
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "connections", required_argument, NULL, OPT_CONNECTIONS },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "send", required_argument, NULL, OPT_SEND },
		{ "send-bytes", required_argument, NULL, OPT_SEND_BYTES },
		{ "shutdown-wr", no_argument, NULL, OPT_SHUTDOWN_WR },
		{ "timeout-s", required_argument, NULL, OPT_TIMEOUT },
		{ "duration-s", required_argument, NULL, OPT_DURATION },
		{ "conn-timeout-s", required_argument, NULL, OPT_CONN_TIMEOUT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool have_target = false, have_request = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TARGET:
			parse_target(optarg);
			have_target = true;
			break;
		case OPT_CONNECTIONS:
			cfg.connections = parse_long("--connections", optarg, 1, LONG_MAX / 2);
			break;
		case OPT_CONCURRENCY:
			cfg.concurrency =
				(int)parse_long("--concurrency", optarg, 1, MAX_CONCURRENCY);
			break;
		case OPT_THREADS:
			cfg.threads = (int)parse_long("--threads", optarg, 1, MAX_THREADS);
			break;
		case OPT_SEND:
			if (have_request)
				die_usage("%s", "--send and --send-bytes are exclusive");
			read_request_file(optarg);
			have_request = true;
			break;
		case OPT_SEND_BYTES:
			if (have_request)
				die_usage("%s", "--send and --send-bytes are exclusive");
			make_padded_request(parse_long("--send-bytes", optarg, 0, 64l << 20));
			have_request = true;
			break;
		case OPT_SHUTDOWN_WR:
			cfg.shutdown_wr = true;
			break;
		case OPT_TIMEOUT:
			cfg.timeout_s = parse_seconds("--timeout-s", optarg);
			break;
		case OPT_DURATION:
			cfg.duration_s = parse_seconds("--duration-s", optarg);
			break;
		case OPT_CONN_TIMEOUT:
			cfg.conn_timeout_s = parse_seconds("--conn-timeout-s", optarg);
			break;
		case OPT_BIND:
			if (!parse_ip(optarg, 0, &cfg.bind_addr, &cfg.bind_len))
				die_usage("--bind: '%s' is not an IPv4 or IPv6 address", optarg);
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!have_target)
		die_usage("%s", "--target is required");
	if (cfg.bind_len && cfg.bind_addr.ss_family != cfg.target.ss_family)
		die_usage("%s", "--bind and --target must be the same address family");
	if (!have_request) {
		cfg.request = strdup(DEFAULT_REQUEST);
		cfg.request_len = strlen(DEFAULT_REQUEST);
	}
	if (cfg.concurrency > cfg.connections)
		cfg.concurrency = (int)cfg.connections;
	if (cfg.threads > cfg.concurrency)
		cfg.threads = cfg.concurrency;
}

static void record_failure(struct stats *st, int err, const char *where)
{
	st->failed++;
	if (!st->first_errno) {
		st->first_errno = err ? err : EIO;
		st->first_error_where = where;
	}
}

static void close_slot(struct slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->phase = SLOT_FREE;
}

static void fail_slot(struct stats *st, struct slot *s, int err, const char *where)
{
	record_failure(st, err, where);
	close_slot(s);
}

/* Claim the next connection number; false when none is left to start. */
static bool claim_connection(void)
{
	if (atomic_load(&stop_starting) || atomic_load(&abort_run))
		return false;
	if (atomic_fetch_add(&next_conn, 1) >= cfg.connections)
		return false;
	return true;
}

static void set_events(int epfd, struct slot *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Starts one connection in slot s; on failure the slot is free again. */
static void start_connection(int epfd, struct stats *st, struct slot *s)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };
	int fd, one = 1;

	fd = socket(cfg.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		record_failure(st, errno, "socket");
		return;
	}
	s->fd = fd;
	s->sent = 0;
	s->start_ns = now_ns();
	/* The request goes out in one segment; do not wait for more. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg.bind_len) {
		/* Ports are chosen at connect(), so many sockets share the address. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&cfg.bind_addr, cfg.bind_len) < 0) {
			fail_slot(st, s, errno, "bind");
			return;
		}
	}
	if (connect(fd, (struct sockaddr *)&cfg.target, cfg.target_len) < 0 &&
	    errno != EINPROGRESS) {
		fail_slot(st, s, errno, "connect");
		return;
	}
	s->phase = SLOT_CONNECTING;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fail_slot(st, s, errno, "epoll_ctl");
}

static void send_request(int epfd, struct stats *st, struct slot *s)
{
	while (s->sent < cfg.request_len) {
		ssize_t n =
			send(s->fd, cfg.request + s->sent, cfg.request_len - s->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT again */
			if (errno == EINTR)
				continue;
			fail_slot(st, s, errno, "send");
			return;
		}
		s->sent += (size_t)n;
		st->bytes_sent += (uint64_t)n;
	}
	if (cfg.shutdown_wr && shutdown(s->fd, SHUT_WR) < 0) {
		fail_slot(st, s, errno, "shutdown");
		return;
	}
	s->phase = SLOT_READING;
	set_events(epfd, s, EPOLLIN);
}

static void read_response(struct stats *st, struct slot *s, char *buf)
{
	for (;;) {
		ssize_t n = recv(s->fd, buf, READ_BUF_SIZE, 0);

		if (n > 0) {
			st->bytes_received += (uint64_t)n;
			continue;
		}
		if (n == 0) { /* the peer closed: this connection is done */
			st->ok++;
			close_slot(s);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR)
			continue;
		fail_slot(st, s, errno, "recv");
		return;
	}
}

static void handle_event(int epfd, struct stats *st, struct slot *s, uint32_t events, char *buf)
{
	if (s->phase == SLOT_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fail_slot(st, s, err, "connect");
			return;
		}
		s->phase = SLOT_SENDING;
	}
	if (s->phase == SLOT_SENDING) {
		send_request(epfd, st, s);
		return;
	}
	if (s->phase == SLOT_READING && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_response(st, s, buf);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct stats *st = &w->stats;
	struct epoll_event *events = calloc((size_t)w->concurrency, sizeof(*events));
	struct slot *slots = calloc((size_t)w->concurrency, sizeof(*slots));
	char *buf = malloc(READ_BUF_SIZE);
	uint64_t conn_timeout_ns = (uint64_t)(cfg.conn_timeout_s * 1e9);
	uint64_t last_sweep_ns = now_ns();
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	bool more = true;

	if (!events || !slots || !buf || epfd < 0) {
		fprintf(stderr, "connload: worker setup failed: %s\n", strerror(errno));
		atomic_store(&abort_run, true);
		goto out;
	}
	for (int i = 0; i < w->concurrency; i++)
		slots[i].fd = -1;

	for (;;) {
		int active = 0;

		/* Refill free slots. */
		for (int i = 0; i < w->concurrency; i++) {
			if (slots[i].phase == SLOT_FREE && more) {
				if (!claim_connection())
					more = false;
				else
					start_connection(epfd, st, &slots[i]);
			}
			if (slots[i].phase != SLOT_FREE)
				active++;
		}
		if (atomic_load(&abort_run)) {
			for (int i = 0; i < w->concurrency; i++)
				if (slots[i].phase != SLOT_FREE)
					fail_slot(st, &slots[i], ETIMEDOUT, "run timeout");
			break;
		}
		if (!active) {
			if (!more)
				break;
			continue; /* every start failed at once: try the next ones */
		}

		int n = epoll_wait(epfd, events, w->concurrency, 100);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "connload: epoll_wait: %s\n", strerror(errno));
			atomic_store(&abort_run, true);
			continue;
		}
		for (int i = 0; i < n; i++)
			handle_event(epfd, st, events[i].data.ptr, events[i].events, buf);

		/* Sweep for connections past their own time limit, ~10 times a second. */
		uint64_t t = now_ns();

		if (t - last_sweep_ns > 100000000ull) {
			last_sweep_ns = t;
			for (int i = 0; i < w->concurrency; i++)
				if (slots[i].phase != SLOT_FREE &&
				    t - slots[i].start_ns > conn_timeout_ns)
					fail_slot(st, &slots[i], ETIMEDOUT, "connection timeout");
		}
	}
out:
	if (epfd >= 0)
		close(epfd);
	free(events);
	free(slots);
	free(buf);
	atomic_fetch_add(&workers_done, 1);
	return NULL;
}

static void raise_nofile_limit(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg.concurrency + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
	struct worker workers[MAX_THREADS];
	struct stats total = { 0 };
	uint64_t timeout_ns, duration_ns;
	bool timed_out = false;
	double elapsed_s;

	parse_args(argc, argv);
	raise_nofile_limit();
	timeout_ns = (uint64_t)(cfg.timeout_s * 1e9);
	duration_ns = (uint64_t)(cfg.duration_s * 1e9);

	run_start_ns = now_ns();
	for (int i = 0; i < cfg.threads; i++) {
		memset(&workers[i], 0, sizeof(workers[i]));
		/* Spread the concurrency over the threads, the remainder to the first. */
		workers[i].concurrency =
			cfg.concurrency / cfg.threads + (i < cfg.concurrency % cfg.threads ? 1 : 0);
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i])) {
			fprintf(stderr, "connload: pthread_create failed\n");
			atomic_store(&abort_run, true);
			cfg.threads = i;
			break;
		}
	}

	/* The main thread keeps time: the duration, then the hard limit. */
	while (atomic_load(&workers_done) < cfg.threads) {
		struct timespec tick = { .tv_sec = 0, .tv_nsec = 10000000 };
		uint64_t t;

		nanosleep(&tick, NULL);
		t = now_ns() - run_start_ns;
		if (duration_ns && t >= duration_ns)
			atomic_store(&stop_starting, true);
		if (t >= timeout_ns && !atomic_load(&abort_run)) {
			atomic_store(&abort_run, true);
			timed_out = true;
		}
	}
	for (int i = 0; i < cfg.threads; i++)
		pthread_join(workers[i].thread, NULL);
	elapsed_s = (double)(now_ns() - run_start_ns) / 1e9;

	for (int i = 0; i < cfg.threads; i++) {
		struct stats *st = &workers[i].stats;

		total.ok += st->ok;
		total.failed += st->failed;
		total.bytes_sent += st->bytes_sent;
		total.bytes_received += st->bytes_received;
		if (!total.first_errno && st->first_errno) {
			total.first_errno = st->first_errno;
			total.first_error_where = st->first_error_where;
		}
	}
	/* Connections the hard limit left unstarted count as failed, too. */
	long claimed = atomic_load(&next_conn);
	uint64_t started = (uint64_t)(claimed < cfg.connections ? claimed : cfg.connections);
	uint64_t unstarted = timed_out && !cfg.duration_s ? (uint64_t)cfg.connections - started : 0;

	printf("{\"connections_ok\":%llu,\"connections_failed\":%llu,\"bytes_sent\":%llu,"
	       "\"bytes_received\":%llu,\"elapsed_s\":%.3f,\"rate_per_s\":%.1f,"
	       "\"timed_out\":%s,\"not_started\":%llu",
	       (unsigned long long)total.ok, (unsigned long long)total.failed,
	       (unsigned long long)total.bytes_sent, (unsigned long long)total.bytes_received,
	       elapsed_s, elapsed_s > 0 ? (double)total.ok / elapsed_s : 0.0,
	       timed_out ? "true" : "false", (unsigned long long)unstarted);
	if (total.first_errno)
		printf(",\"first_error\":\"%s: %s\"", total.first_error_where,
		       strerror(total.first_errno));
	printf("}\n");
	fflush(stdout);

	if (total.failed || unstarted || timed_out)
		return 1;
	if (!cfg.duration_s && total.ok != (uint64_t)cfg.connections)
		return 1;
	return 0;
}
