// SPDX-License-Identifier: GPL-2.0-only
/*
 * The syslog transport: delivers the queued RFC 5424 messages (the core
 * formats them) over UDP (RFC 5426, one datagram each), TCP (RFC 6587
 * octet counting, "LEN SP MSG"), TLS (RFC 5425, the same framing) or a
 * unix socket (datagrams like /dev/log, or octet counting on a stream one).
 *
 * Nothing here blocks the event loop: sockets are non-blocking, host names
 * are resolved with getaddrinfo_a() and polled from tick(), connect and the
 * TLS handshake are driven by readiness.
 *
 * On a stream, a record leaves the queue only once the receiver's TCP has
 * acknowledged all of its bytes (SIOCOUTQ: what the socket still holds
 * unacknowledged); a connection that breaks before that sends it again,
 * whole, on the next one. Written is not delivered: a receiver that
 * vanishes without a FIN (a host gone, a firewall that drops) takes what
 * the kernel had accepted with it. docs/outputs.md, "syslog", is the
 * user's view of the same.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "log.h"
#include "output.h"

/*
 * The largest UDP payload IPv4 can carry (65535 - 20 IP - 8 UDP); IPv6
 * could carry 20 bytes more, one limit is simpler to document. A larger
 * message is counted lost rather than cut: a truncated message would lose
 * the end of its structured data and the receiver could not tell.
 */
#define UDP_MAX_MESSAGE 65507
/* Frames written per write() on a stream: a burst costs a few writes. */
#define STREAM_BATCH_BYTES (64 * 1024)
#define STREAM_BATCH_RECORDS 256
/* The most plaintext one TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1). */
#define TLS_RECORD_PLAINTEXT 16384
/* Records written and not yet acknowledged: past this, writing waits for acks. */
#define UNACKED_MAX 16384
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
/* A SYN to a host that drops it would wait minutes for the kernel's verdict. */
#define CONNECT_TIMEOUT_MS 10000
/* A UDP receiver is deemed back once a datagram drew no refusal this long. */
#define UDP_QUIET_MS 1000
/* At exit, how long to wait for the receiver to read what was sent. */
#define LINGER_MS 1000

enum phase {
	PHASE_DOWN,	  /* no socket; the next attempt at next_attempt_ms */
	PHASE_RESOLVING,  /* getaddrinfo_a() in flight */
	PHASE_CONNECTING, /* connect() in flight */
	PHASE_HANDSHAKE,  /* TLS handshake in flight */
	PHASE_UP,
};

/* An asynchronous lookup; leaked if it cannot be cancelled at close. */
struct lookup {
	struct gaicb req;
	struct addrinfo hints;
};

struct syslog_conn {
	struct sink *sink;
	enum phase phase;
	int fd;
	uint32_t watched; /* events registered for fd; 0: not registered */
	bool stream;	  /* octet-counted frames, not datagrams */
	bool want_write;  /* the last write would have blocked: wait for EPOLLOUT */
	char peer[300];	  /* "tcp://host:port", for messages */

	SSL_CTX *ssl_ctx;
	SSL *ssl;
	const char *verify_name; /* the name the certificate must carry */

	struct lookup *lookup;
	struct addrinfo *addrs, *next_addr;
	int64_t connect_deadline_ms;

	/*
	 * Stream output: the frames of the first n_framed queued records,
	 * frame_end[i] where record i's frame ends in out.
	 */
	struct buf out;
	size_t out_sent;
	size_t frame_end[STREAM_BATCH_RECORDS];
	unsigned int n_framed;

	/*
	 * The records written whole and not acknowledged yet: the first
	 * n_unacked of the queue (the framed ones follow them). Record i was
	 * written once the socket had taken unacked_end[(unacked_head + i) %
	 * UNACKED_MAX] bytes on this connection, counted in wire_written
	 * (TLS: ciphertext, as the kernel counts).
	 */
	uint64_t *unacked_end;
	unsigned int unacked_head, n_unacked;
	uint64_t wire_written;
	uint64_t out_wire_start; /* wire_written when out's first byte went */

	int64_t next_attempt_ms, backoff_ms;
	bool down_reported; /* a warning said the receiver is unreachable */
	char last_error[256];

	/* UDP: refusals (ICMP port unreachable) come back asynchronously. */
	int64_t last_refusal_ms, last_send_ms;
	bool oversize_warned;
};

static void start_connect(struct syslog_conn *c, int64_t now_ms);
static void send_queued(struct syslog_conn *c, int64_t now_ms);
static void take_acknowledged(struct syslog_conn *c);

/* ---- small helpers ---- */

static bool is_udp(const struct syslog_conn *c)
{
	return c->sink->cfg.transport == SYSLOG_UDP;
}

static bool is_tls(const struct syslog_conn *c)
{
	return c->sink->cfg.transport == SYSLOG_TLS;
}

static bool is_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static void set_events(struct syslog_conn *c, uint32_t events)
{
	if (c->fd < 0 || events == c->watched)
		return;
	if (!c->watched) {
		if (outputs_watch_fd(c->sink->outputs, c->fd, events, c->sink))
			log_warn("output %s: cannot watch its socket: %s", c->sink->cfg.name,
				 strerror(errno));
	} else if (outputs_modify_fd(c->sink->outputs, c->fd, events)) {
		log_warn("output %s: cannot change its socket's events: %s", c->sink->cfg.name,
			 strerror(errno));
	}
	c->watched = events;
}

/* What the socket waits for in its phase: EPOLLOUT only with something to write. */
static void update_events(struct syslog_conn *c)
{
	uint32_t events = EPOLLIN;

	if (c->phase == PHASE_CONNECTING)
		events = EPOLLOUT;
	else if (c->want_write)
		events |= EPOLLOUT;
	set_events(c, events);
}

/* The most specific reason OpenSSL has for the last failure. */
static void ssl_reason(struct syslog_conn *c, int ssl_error, char *why, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;

	if (verify != X509_V_OK && !c->sink->cfg.tls_insecure) {
		snprintf(why, len, "certificate rejected: %s (expected name %s)",
			 X509_verify_cert_error_string(verify), c->verify_name);
	} else if (e) {
		char text[200];

		ERR_error_string_n(e, text, sizeof(text));
		snprintf(why, len, "TLS: %s", text);
	} else if (ssl_error == SSL_ERROR_SYSCALL && errno) {
		snprintf(why, len, "TLS: %s", strerror(errno));
	} else {
		snprintf(why, len, "TLS: connection closed by the receiver");
	}
	ERR_clear_error();
}

/* ---- connection state ---- */

static void close_socket(struct syslog_conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		if (c->watched)
			outputs_unwatch_fd(c->sink->outputs, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->watched = 0;
	c->want_write = false;
	/* Whatever was framed or not acknowledged goes out again on the next connection. */
	buf_reset(&c->out);
	c->out_sent = 0;
	c->n_framed = 0;
	c->n_unacked = 0;
	c->unacked_head = 0;
	c->wire_written = 0;
}

static void free_addrs(struct syslog_conn *c)
{
	if (c->addrs)
		freeaddrinfo(c->addrs);
	c->addrs = c->next_addr = NULL;
}

static void schedule_retry(struct syslog_conn *c, int64_t now_ms)
{
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->next_attempt_ms = now_ms + c->backoff_ms;
}

/*
 * The receiver cannot be reached, or the connection to it broke. One
 * warning when that starts (and when the reason changes), none per retry.
 */
static void went_down(struct syslog_conn *c, const char *why, int64_t now_ms)
{
	bool was_up = c->phase == PHASE_UP;
	unsigned int again;

	/* A broken socket still knows how far the receiver acknowledged. */
	take_acknowledged(c);
	again = c->n_unacked;
	close_socket(c);
	free_addrs(c);
	c->phase = PHASE_DOWN;
	c->sink->stats.connected = false;
	schedule_retry(c, now_ms);
	if (!c->down_reported || strcmp(why, c->last_error)) {
		if (was_up)
			log_warn("output %s: connection to %s lost (%s); reconnecting (%u queued, "
				 "%u of them written but not acknowledged: sent again)",
				 c->sink->cfg.name, c->peer, why, c->sink->count, again);
		else
			log_warn("output %s: cannot connect to %s: %s; retrying with backoff "
				 "up to %d s",
				 c->sink->cfg.name, c->peer, why, BACKOFF_MAX_MS / 1000);
	} else {
		log_debug("output %s: %s: %s; next attempt in %lld ms", c->sink->cfg.name, c->peer,
			  why, (long long)c->backoff_ms);
	}
	c->down_reported = true;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
}

static void went_up(struct syslog_conn *c, int64_t now_ms)
{
	c->phase = PHASE_UP;
	c->want_write = false;
	c->backoff_ms = 0;
	c->sink->stats.connected = true;
	free_addrs(c);
	if (c->down_reported)
		log_info("output %s: connected to %s", c->sink->cfg.name, c->peer);
	else
		log_debug("output %s: connected to %s", c->sink->cfg.name, c->peer);
	c->down_reported = false;
	c->last_error[0] = '\0';
	update_events(c);
	send_queued(c, now_ms);
}

/* ---- TLS ---- */

static int make_ssl_ctx(struct syslog_conn *c, char *err, size_t errlen)
{
	const struct sink_config *cfg = &c->sink->cfg;
	const char *key = cfg->tls_key ? cfg->tls_key : cfg->tls_cert;
	char text[200];
	struct stat st;

	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ssl_ctx) {
		snprintf(err, errlen, "output %s: cannot make a TLS context", cfg->name);
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (cfg->tls_ca) {
		bool dir = !stat(cfg->tls_ca, &st) && S_ISDIR(st.st_mode);

		if (!SSL_CTX_load_verify_locations(c->ssl_ctx, dir ? NULL : cfg->tls_ca,
						   dir ? cfg->tls_ca : NULL))
			goto ssl_failed_ca;
	} else if (!SSL_CTX_set_default_verify_paths(c->ssl_ctx)) {
		snprintf(err, errlen, "output %s: cannot load the system's CA certificates",
			 cfg->name);
		return -1;
	}
	if (cfg->tls_key && !cfg->tls_cert) {
		snprintf(err, errlen, "output %s: a TLS key (%s) without a certificate", cfg->name,
			 cfg->tls_key);
		return -1;
	}
	if (cfg->tls_cert) {
		if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, cfg->tls_cert) != 1) {
			ERR_error_string_n(ERR_get_error(), text, sizeof(text));
			snprintf(err, errlen, "output %s: client certificate %s: %s", cfg->name,
				 cfg->tls_cert, text);
			return -1;
		}
		if (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
			ERR_error_string_n(ERR_get_error(), text, sizeof(text));
			snprintf(err, errlen, "output %s: client key %s: %s", cfg->name, key, text);
			return -1;
		}
	}
	if (cfg->tls_insecure)
		log_warn("output %s: TLS certificate verification is off (tls insecure)",
			 cfg->name);
	ERR_clear_error();
	return 0;

ssl_failed_ca:
	ERR_error_string_n(ERR_get_error(), text, sizeof(text));
	snprintf(err, errlen, "output %s: CA certificates %s: %s", cfg->name, cfg->tls_ca, text);
	return -1;
}

static bool start_tls(struct syslog_conn *c)
{
	const struct sink_config *cfg = &c->sink->cfg;
	X509_VERIFY_PARAM *param;

	c->ssl = SSL_new(c->ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return false;
	SSL_set_connect_state(c->ssl);
	if (cfg->tls_insecure) {
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
		return true;
	}
	SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	param = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* An address is matched against the IP SANs, and is no SNI (RFC 6066). */
	if (is_ip_literal(c->verify_name))
		return X509_VERIFY_PARAM_set1_ip_asc(param, c->verify_name) == 1;
	return X509_VERIFY_PARAM_set1_host(param, c->verify_name, 0) == 1 &&
	       SSL_set_tlsext_host_name(c->ssl, c->verify_name) == 1;
}

static void drive_handshake(struct syslog_conn *c, int64_t now_ms)
{
	char why[400];
	int ret, ssl_error;

	ERR_clear_error();
	errno = 0;
	ret = SSL_connect(c->ssl);
	if (ret == 1) {
		went_up(c, now_ms);
		return;
	}
	ssl_error = SSL_get_error(c->ssl, ret);
	if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
		c->want_write = ssl_error == SSL_ERROR_WANT_WRITE;
		update_events(c);
		return;
	}
	ssl_reason(c, ssl_error, why, sizeof(why));
	went_down(c, why, now_ms);
}

/* ---- connecting ---- */

static void socket_connected(struct syslog_conn *c, int64_t now_ms)
{
	if (!is_tls(c)) {
		went_up(c, now_ms);
		return;
	}
	c->phase = PHASE_HANDSHAKE;
	c->want_write = true;
	c->connect_deadline_ms = now_ms + CONNECT_TIMEOUT_MS;
	if (!start_tls(c)) {
		char why[400];

		ssl_reason(c, SSL_ERROR_SSL, why, sizeof(why));
		went_down(c, why, now_ms);
		return;
	}
	drive_handshake(c, now_ms);
}

/*
 * A receiver whose host is gone sends no FIN: without this the kernel would
 * retransmit for a quarter of an hour before giving up. Written bytes
 * unacknowledged for timeout_ms, or an idle connection whose keepalive
 * probes go unanswered, break the connection; its records go again on the
 * next one.
 */
static void detect_dead_receiver(struct syslog_conn *c)
{
	unsigned int timeout_ms = (unsigned int)c->sink->cfg.timeout_ms;
	int on = 1, idle_s = timeout_ms / 2000 ? (int)(timeout_ms / 2000) : 1;
	int interval_s = timeout_ms / 6000 ? (int)(timeout_ms / 6000) : 1, probes = 3;

	setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof(interval_s));
	setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

/* Tries the resolved addresses in turn until one connects or is in progress. */
static void try_addresses(struct syslog_conn *c, int64_t now_ms)
{
	int type = is_udp(c) ? SOCK_DGRAM : SOCK_STREAM;
	int last_errno = EADDRNOTAVAIL;

	while (c->next_addr) {
		struct addrinfo *ai = c->next_addr;

		c->next_addr = ai->ai_next;
		c->fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			last_errno = errno;
			continue;
		}
		if (type == SOCK_STREAM)
			detect_dead_receiver(c);
		if (!connect(c->fd, ai->ai_addr, ai->ai_addrlen)) {
			socket_connected(c, now_ms);
			return;
		}
		if (errno == EINPROGRESS) {
			c->phase = PHASE_CONNECTING;
			c->connect_deadline_ms = now_ms + CONNECT_TIMEOUT_MS;
			update_events(c);
			return;
		}
		last_errno = errno;
		close_socket(c);
	}
	went_down(c, strerror(last_errno), now_ms);
}

static void connect_unix(struct syslog_conn *c, int64_t now_ms)
{
	const char *path = c->sink->cfg.socket_path;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	int ret = -1;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->stream = false;
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd >= 0)
		ret = connect(c->fd, (struct sockaddr *)&sun, len);
	if (ret && errno == EPROTOTYPE) {
		/* A stream socket: the same messages, octet-counted. */
		close_socket(c);
		c->stream = true;
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd >= 0)
			ret = connect(c->fd, (struct sockaddr *)&sun, len);
	}
	if (ret) {
		/* A unix stream connect does not go on in the background: EAGAIN is a full backlog. */
		const char *why = strerror(errno);

		close_socket(c);
		went_down(c, why, now_ms);
		return;
	}
	socket_connected(c, now_ms);
}

static void lookup_done(struct syslog_conn *c, int64_t now_ms)
{
	int ret = gai_error(&c->lookup->req);

	if (ret == EAI_INPROGRESS)
		return;
	c->addrs = c->lookup->req.ar_result;
	c->next_addr = c->addrs;
	free(c->lookup);
	c->lookup = NULL;
	if (ret) {
		char why[300];

		snprintf(why, sizeof(why), "cannot resolve %s: %s", c->sink->cfg.host,
			 gai_strerror(ret));
		went_down(c, why, now_ms);
		return;
	}
	try_addresses(c, now_ms);
}

static void start_connect(struct syslog_conn *c, int64_t now_ms)
{
	const struct sink_config *cfg = &c->sink->cfg;
	struct addrinfo hints = { .ai_socktype = is_udp(c) ? SOCK_DGRAM : SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST };
	struct gaicb *list[1];
	int ret;

	close_socket(c);
	free_addrs(c);
	if (cfg->transport == SYSLOG_UNIX) {
		connect_unix(c, now_ms);
		return;
	}
	c->stream = !is_udp(c);
	/* An address needs no lookup; a name is looked up off the loop. */
	ret = getaddrinfo(cfg->host, cfg->port, &hints, &c->addrs);
	if (!ret) {
		c->next_addr = c->addrs;
		try_addresses(c, now_ms);
		return;
	}
	c->addrs = NULL;
	c->lookup = calloc(1, sizeof(*c->lookup));
	if (!c->lookup) {
		went_down(c, "out of memory", now_ms);
		return;
	}
	/* No AI_ADDRCONFIG: it drops every address on a host with loopback only. */
	c->lookup->hints = (struct addrinfo){ .ai_socktype = hints.ai_socktype };
	c->lookup->req.ar_name = cfg->host;
	c->lookup->req.ar_service = cfg->port;
	c->lookup->req.ar_request = &c->lookup->hints;
	list[0] = &c->lookup->req;
	ret = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (ret) {
		char why[300];

		free(c->lookup);
		c->lookup = NULL;
		snprintf(why, sizeof(why), "cannot resolve %s: %s", cfg->host, gai_strerror(ret));
		went_down(c, why, now_ms);
		return;
	}
	c->phase = PHASE_RESOLVING;
	c->connect_deadline_ms = now_ms + CONNECT_TIMEOUT_MS;
	lookup_done(c, now_ms);
}

/* connect() finished in the background: how it went. */
static void connect_finished(struct syslog_conn *c, int64_t now_ms)
{
	int error = 0;
	socklen_t len = sizeof(error);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len))
		error = errno;
	if (!error) {
		socket_connected(c, now_ms);
		return;
	}
	close_socket(c);
	if (c->next_addr) {
		log_debug("output %s: %s: %s; trying the next address", c->sink->cfg.name, c->peer,
			  strerror(error));
		try_addresses(c, now_ms);
		return;
	}
	went_down(c, strerror(error), now_ms);
}

/* ---- sending ---- */

/* A record left the queue: delivered (handed to the receiver's socket). */
static void record_done(struct sink *s)
{
	s->stats.delivered++;
	sink_pop(s, 1);
}

static void record_lost(struct sink *s)
{
	sink_lost(s, LOSS_WRITE, 1);
	sink_pop(s, 1);
}

/* A refusal from the UDP receiver (ICMP port unreachable). */
static void udp_refused(struct syslog_conn *c, int64_t now_ms)
{
	c->last_refusal_ms = now_ms;
	if (!c->sink->stats.connected)
		return;
	c->sink->stats.connected = false;
	log_warn("output %s: %s refuses datagrams (port unreachable): what is sent is lost "
		 "until a receiver listens",
		 c->sink->cfg.name, c->peer);
}

static void send_datagrams(struct syslog_conn *c, int64_t now_ms)
{
	struct sink *s = c->sink;
	const struct queued_record *r;
	bool retried = false;

	while ((r = sink_peek(s, 0))) {
		ssize_t n;

		if (is_udp(c) && r->len > UDP_MAX_MESSAGE) {
			if (!c->oversize_warned)
				log_warn(
					"output %s: a message of %zu bytes is larger than a UDP "
					"datagram carries (%d): counted lost (use tcp:// or tls:// "
					"for large records)",
					s->cfg.name, r->len, UDP_MAX_MESSAGE);
			c->oversize_warned = true;
			record_lost(s);
			continue;
		}
		n = send(c->fd, r->data, r->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			c->last_send_ms = now_ms;
			record_done(s);
			continue;
		}
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			c->want_write = true;
			update_events(c);
			return;
		case ENOBUFS:
			/* No EPOLLOUT follows a full device queue: tick() retries. */
			return;
		case EMSGSIZE:
			if (!c->oversize_warned)
				log_warn("output %s: a message of %zu bytes is too large for %s: "
					 "counted lost",
					 s->cfg.name, r->len, c->peer);
			c->oversize_warned = true;
			record_lost(s);
			continue;
		case ECONNREFUSED:
			if (is_udp(c)) {
				/*
				 * The refusal of an earlier datagram; this one was
				 * not sent. Once more, then at the next tick.
				 */
				udp_refused(c, now_ms);
				if (retried)
					return;
				retried = true;
				continue;
			}
			/* A unix receiver went away. */
			went_down(c, strerror(errno), now_ms);
			return;
		default:
			went_down(c, strerror(errno), now_ms);
			return;
		}
	}
}

/* Frames the records at the head of the queue into out, once out was all written. */
static void frame_more(struct syslog_conn *c)
{
	struct sink *s = c->sink;
	const struct queued_record *r;

	buf_reset(&c->out);
	c->out_sent = 0;
	c->out_wire_start = c->wire_written;
	while (c->n_framed < STREAM_BATCH_RECORDS && c->out.len < STREAM_BATCH_BYTES &&
	       c->n_unacked + c->n_framed < UNACKED_MAX &&
	       (r = sink_peek(s, c->n_unacked + c->n_framed))) {
		buf_printf(&c->out, "%zu ", r->len);
		buf_append(&c->out, r->data, r->len);
		if (c->out.failed)
			break;
		c->frame_end[c->n_framed++] = c->out.len;
	}
	if (c->out.failed) {
		/* Out of memory: nothing is sent now, tick() tries again. */
		buf_reset(&c->out);
		c->n_framed = 0;
	}
}

/* Records whose frames are written whole wait for the receiver's acknowledgement. */
static void frames_written(struct syslog_conn *c)
{
	unsigned int done = 0;

	while (done < c->n_framed && c->frame_end[done] <= c->out_sent) {
		/*
		 * In plain TCP a frame's last byte has a known place on the wire.
		 * In TLS it is in the one TLS record this write made, which the
		 * receiver can decrypt only whole: the record's end is the place.
		 */
		c->unacked_end[(c->unacked_head + c->n_unacked) % UNACKED_MAX] =
			c->ssl ? c->wire_written : c->out_wire_start + c->frame_end[done];
		c->n_unacked++;
		done++;
	}
	if (!done)
		return;
	c->n_framed -= done;
	memmove(c->frame_end, c->frame_end + done, c->n_framed * sizeof(c->frame_end[0]));
	take_acknowledged(c);
}

/*
 * Records whose bytes the receiver acknowledged leave the queue. Where the
 * socket cannot say (SIOCOUTQ fails), written is taken as acknowledged. On
 * a unix stream, written is in the receiver's own queue already, where a
 * close of ours leaves it: as acknowledged as TCP gets (and SIOCOUTQ would
 * count buffer sizes there, not bytes).
 */
static void take_acknowledged(struct syslog_conn *c)
{
	uint64_t acked = c->wire_written;
	int outstanding;

	if (!c->n_unacked)
		return;
	/* TLS may have written on its own since (a key update): count it too. */
	if (c->ssl)
		acked = c->wire_written = BIO_number_written(SSL_get_wbio(c->ssl));
	if (c->sink->cfg.transport != SYSLOG_UNIX && c->fd >= 0 &&
	    !ioctl(c->fd, SIOCOUTQ, &outstanding) && outstanding > 0)
		acked = (uint64_t)outstanding < acked ? acked - (uint64_t)outstanding : 0;
	while (c->n_unacked && c->unacked_end[c->unacked_head] <= acked) {
		record_done(c->sink);
		c->unacked_head = (c->unacked_head + 1) % UNACKED_MAX;
		c->n_unacked--;
	}
}

/*
 * Writes out from out_sent. >0 bytes written, 0 would block (want_write
 * set), -1 the connection broke (why filled).
 */
static ssize_t stream_write(struct syslog_conn *c, char *why, size_t len)
{
	const char *data = c->out.data + c->out_sent;
	size_t n = c->out.len - c->out_sent;
	ssize_t ret;
	int ssl_error;

	if (!c->ssl) {
		do
			ret = send(c->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (ret < 0 && errno == EINTR);
		if (ret >= 0) {
			c->wire_written += (uint64_t)ret;
			return ret;
		}
		if (errno == EAGAIN) {
			c->want_write = true;
			return 0;
		}
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	/*
	 * After WANT_*, SSL_write is called again with the same bytes: out is
	 * not touched. One TLS record per write, so that the bytes it put on
	 * the wire are the ones that carry its plaintext (take_acknowledged).
	 */
	ERR_clear_error();
	errno = 0;
	ret = SSL_write(c->ssl, data, n > TLS_RECORD_PLAINTEXT ? TLS_RECORD_PLAINTEXT : (int)n);
	if (ret > 0) {
		/* Handshake and records, all that the kernel has counted on this socket. */
		c->wire_written = BIO_number_written(SSL_get_wbio(c->ssl));
		return ret;
	}
	ssl_error = SSL_get_error(c->ssl, ret);
	if (ssl_error == SSL_ERROR_WANT_WRITE) {
		c->want_write = true;
		return 0;
	}
	if (ssl_error == SSL_ERROR_WANT_READ)
		return 0; /* EPOLLIN is always watched */
	ssl_reason(c, ssl_error, why, len);
	return -1;
}

static void send_frames(struct syslog_conn *c, int64_t now_ms)
{
	char why[400];

	for (;;) {
		ssize_t n;

		if (c->out_sent == c->out.len) {
			frame_more(c);
			if (!c->out.len)
				break;
		}
		n = stream_write(c, why, sizeof(why));
		if (n < 0) {
			went_down(c, why, now_ms);
			return;
		}
		if (!n)
			break;
		c->out_sent += n;
		frames_written(c);
	}
	update_events(c);
}

static void send_queued(struct syslog_conn *c, int64_t now_ms)
{
	if (c->phase != PHASE_UP)
		return;
	take_acknowledged(c);
	if (c->want_write || c->sink->count == c->n_unacked)
		return;
	if (c->stream)
		send_frames(c, now_ms);
	else
		send_datagrams(c, now_ms);
}

/* ---- reading: receivers send nothing, but say when they go ---- */

static void read_stream(struct syslog_conn *c, int64_t now_ms)
{
	char discard[4096], why[400];

	for (;;) {
		ssize_t n;

		if (c->ssl) {
			int ret, ssl_error;

			ERR_clear_error();
			errno = 0;
			ret = SSL_read(c->ssl, discard, sizeof(discard));
			if (ret > 0)
				continue;
			ssl_error = SSL_get_error(c->ssl, ret);
			if (ssl_error == SSL_ERROR_WANT_READ)
				return;
			if (ssl_error == SSL_ERROR_WANT_WRITE) {
				c->want_write = true;
				return;
			}
			if (ssl_error == SSL_ERROR_ZERO_RETURN)
				snprintf(why, sizeof(why), "closed by the receiver");
			else
				ssl_reason(c, ssl_error, why, sizeof(why));
			went_down(c, why, now_ms);
			return;
		}
		n = recv(c->fd, discard, sizeof(discard), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		went_down(c, n ? strerror(errno) : "closed by the receiver", now_ms);
		return;
	}
}

static void read_datagram_socket(struct syslog_conn *c, uint32_t events, int64_t now_ms)
{
	char discard[512];

	if (events & EPOLLERR) {
		int error = 0;
		socklen_t len = sizeof(error);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
		if (error == ECONNREFUSED && is_udp(c)) {
			udp_refused(c, now_ms);
		} else if (error) {
			went_down(c, strerror(error), now_ms);
			return;
		}
	}
	while (recv(c->fd, discard, sizeof(discard), MSG_DONTWAIT) >= 0 || errno == EINTR)
		;
	if (errno == ECONNREFUSED && is_udp(c))
		udp_refused(c, now_ms);
}

/* ---- the transport ---- */

static void peer_name(struct syslog_conn *c)
{
	const struct sink_config *cfg = &c->sink->cfg;
	static const char *const schemes[] = {
		[SYSLOG_UDP] = "udp",
		[SYSLOG_TCP] = "tcp",
		[SYSLOG_TLS] = "tls",
	};

	if (cfg->transport == SYSLOG_UNIX)
		snprintf(c->peer, sizeof(c->peer), "unix:%s", cfg->socket_path);
	else if (strchr(cfg->host, ':'))
		snprintf(c->peer, sizeof(c->peer), "%s://[%s]:%s", schemes[cfg->transport],
			 cfg->host, cfg->port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s://%s:%s", schemes[cfg->transport], cfg->host,
			 cfg->port);
}

static int syslog_open(struct sink *s, char *err, size_t errlen)
{
	const struct sink_config *cfg = &s->cfg;
	struct syslog_conn *c;

	if (cfg->transport == SYSLOG_UNIX) {
		if (!cfg->socket_path || !*cfg->socket_path) {
			snprintf(err, errlen, "output %s: unix syslog needs a socket path",
				 cfg->name);
			return -1;
		}
		if (strlen(cfg->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "output %s: socket path %s is longer than %zu bytes",
				 cfg->name, cfg->socket_path,
				 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
	} else if (cfg->transport > SYSLOG_TLS || !cfg->host || !*cfg->host || !cfg->port ||
		   !*cfg->port) {
		snprintf(err, errlen, "output %s: syslog needs a host and a port", cfg->name);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "output %s: out of memory", cfg->name);
		return -1;
	}
	c->sink = s;
	c->fd = -1;
	c->unacked_end = calloc(UNACKED_MAX, sizeof(*c->unacked_end));
	if (!c->unacked_end) {
		free(c);
		snprintf(err, errlen, "output %s: out of memory", cfg->name);
		return -1;
	}
	c->verify_name = cfg->tls_server_name ? cfg->tls_server_name : cfg->host;
	peer_name(c);
	if (cfg->transport == SYSLOG_TLS && make_ssl_ctx(c, err, errlen)) {
		SSL_CTX_free(c->ssl_ctx);
		free(c->unacked_end);
		free(c);
		return -1;
	}
	s->state = c;
	/* A receiver that is not there yet is retried, not an error: it may come later. */
	start_connect(c, monotonic_ms());
	return 0;
}

static void syslog_kick(struct sink *s, int64_t now_ms)
{
	send_queued(s->state, now_ms);
}

static void syslog_handle_fd(struct sink *s, int fd, uint32_t events, int64_t now_ms)
{
	struct syslog_conn *c = s->state;

	if (fd != c->fd)
		return;
	switch (c->phase) {
	case PHASE_CONNECTING:
		connect_finished(c, now_ms);
		return;
	case PHASE_HANDSHAKE:
		drive_handshake(c, now_ms);
		return;
	case PHASE_UP:
		break;
	default:
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (c->stream)
			read_stream(c, now_ms);
		else
			read_datagram_socket(c, events, now_ms);
		if (c->phase != PHASE_UP)
			return;
	}
	/* A TLS write that wanted to read is retried after any readiness. */
	if (events & EPOLLOUT || c->ssl)
		c->want_write = false;
	send_queued(c, now_ms);
	update_events(c);
}

static void syslog_tick(struct sink *s, int64_t now_ms)
{
	struct syslog_conn *c = s->state;

	switch (c->phase) {
	case PHASE_DOWN:
		if (now_ms >= c->next_attempt_ms)
			start_connect(c, now_ms);
		break;
	case PHASE_RESOLVING:
		lookup_done(c, now_ms);
		if (c->phase == PHASE_RESOLVING && now_ms >= c->connect_deadline_ms) {
			if (gai_cancel(&c->lookup->req) == EAI_CANCELED)
				free(c->lookup);
			/* else the resolver thread still owns it: leaked, not freed under it */
			c->lookup = NULL;
			went_down(c, "name lookup timed out", now_ms);
		}
		break;
	case PHASE_CONNECTING:
	case PHASE_HANDSHAKE:
		if (now_ms >= c->connect_deadline_ms) {
			if (c->phase == PHASE_CONNECTING && c->next_addr) {
				close_socket(c);
				try_addresses(c, now_ms);
			} else {
				went_down(c, "timed out", now_ms);
			}
		}
		break;
	case PHASE_UP:
		/* ENOBUFS, a refused datagram or a failed allocation wait for here. */
		send_queued(c, now_ms);
		if (is_udp(c) && !s->stats.connected && c->last_send_ms > c->last_refusal_ms &&
		    now_ms - c->last_send_ms >= UDP_QUIET_MS) {
			s->stats.connected = true;
			log_info("output %s: %s accepts datagrams again", s->cfg.name, c->peer);
		}
		break;
	}
}

/* Waits up to timeout_ms for c's socket and hands what happened to handle_fd. */
static void wait_socket(struct sink *s, int timeout_ms)
{
	struct syslog_conn *c = s->state;
	struct pollfd pfd = { .fd = c->fd };
	uint32_t events = 0;

	if (c->fd < 0 || !c->watched) {
		poll(NULL, 0, timeout_ms);
		return;
	}
	if (c->watched & EPOLLIN)
		pfd.events |= POLLIN;
	if (c->watched & EPOLLOUT)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return;
	if (pfd.revents & POLLIN)
		events |= EPOLLIN;
	if (pfd.revents & POLLOUT)
		events |= EPOLLOUT;
	if (pfd.revents & POLLERR)
		events |= EPOLLERR;
	if (pfd.revents & POLLHUP)
		events |= EPOLLHUP;
	syslog_handle_fd(s, c->fd, events, monotonic_ms());
}

/*
 * After the last frame: close_notify and FIN, then wait (bounded) for the
 * receiver to close too, so that it has read everything. Closing with its
 * unread bytes (a TLS session ticket) would reset the connection, and a
 * reset can make the receiver drop what it had not read yet.
 */
static void linger(struct syslog_conn *c, int64_t deadline_ms)
{
	char discard[4096];
	int64_t now_ms;

	if (c->ssl) {
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	if (shutdown(c->fd, SHUT_WR))
		return;
	while ((now_ms = monotonic_ms()) < deadline_ms) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, (int)(deadline_ms - now_ms)) <= 0)
			return;
		n = recv(c->fd, discard, sizeof(discard), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

static void syslog_close(struct sink *s, int64_t deadline_ms)
{
	struct syslog_conn *c = s->state;
	int64_t now_ms = monotonic_ms();

	if (!c)
		return;
	/* One prompt attempt at exit, whatever the backoff said. */
	if (c->phase == PHASE_DOWN && s->count)
		c->next_attempt_ms = now_ms;
	while (s->count && (now_ms = monotonic_ms()) < deadline_ms) {
		int64_t wait_ms = deadline_ms - now_ms;

		syslog_tick(s, now_ms);
		send_queued(c, now_ms);
		if (!s->count)
			break;
		if (c->phase == PHASE_DOWN && c->next_attempt_ms >= deadline_ms)
			break;
		wait_socket(s, wait_ms < 100 ? (int)wait_ms : 100);
	}
	if (c->phase == PHASE_UP && c->stream) {
		now_ms = monotonic_ms();
		linger(c, now_ms + LINGER_MS < deadline_ms ? now_ms + LINGER_MS : deadline_ms);
	}
	if (s->count) {
		log_warn("output %s: %u record%s not delivered to %s before exit: counted lost",
			 s->cfg.name, s->count, s->count == 1 ? "" : "s", c->peer);
		sink_lost(s, LOSS_WRITE, s->count);
		sink_pop(s, s->count);
	}
	close_socket(c);
	free_addrs(c);
	if (c->lookup && gai_cancel(&c->lookup->req) == EAI_CANCELED)
		free(c->lookup);
	SSL_CTX_free(c->ssl_ctx);
	buf_free(&c->out);
	free(c->unacked_end);
	free(c);
	s->state = NULL;
	s->stats.connected = false;
}

const struct sink_ops syslog_sink_ops = {
	.open = syslog_open,
	.kick = syslog_kick,
	.handle_fd = syslog_handle_fd,
	.tick = syslog_tick,
	.close = syslog_close,
};
