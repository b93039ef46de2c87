// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "docker.h"
#include "log.h"
#include "oci.h"
#include "runtime.h"

/* Reconnect after 0.5 s, then 1, 2, ... up to 30 s between attempts. */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
/* Inspect an unknown container at most this often, and remember that for a minute. */
#define INSPECT_RETRY_MS 1000
#define INSPECT_MEMORY_MS 60000

static struct runtime_client *client_by_name(struct runtimes *rts, const char *name)
{
	for (unsigned int i = 0; i < rts->n_clients; i++)
		if (!strcmp(rts->clients[i].name, name))
			return &rts->clients[i];
	return NULL;
}

/* ---- curl multi in our epoll set (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION) ---- */

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *ctx, void *socket_ctx)
{
	struct runtimes *rts = ctx;
	struct epoll_event ev = { .data.fd = fd };

	(void)easy;
	(void)socket_ctx;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(rts->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(rts->epoll_fd, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
		epoll_ctl(rts->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *ctx)
{
	struct runtimes *rts = ctx;
	/* 0 means "now": the smallest timer that still fires. */
	long ms = timeout_ms > 0 ? timeout_ms : 0;
	struct itimerspec spec = {
		.it_value = { ms / 1000, ms ? (ms % 1000) * 1000000L : 1 },
	};

	(void)multi;
	if (timeout_ms < 0)
		spec.it_value = (struct timespec){ 0, 0 }; /* disarm */
	return timerfd_settime(rts->timer_fd, 0, &spec, NULL) ? -1 : 0;
}

/* In rts->lines, each batch of complete lines follows one of these. */
struct line_batch {
	unsigned int client; /* index in rts->clients */
	size_t len;
};

/*
 * The stream's bytes: complete lines are moved to rts->lines and handled
 * once curl returns (a callback must not make other requests).
 */
static size_t on_stream_data(char *data, size_t size, size_t n, void *ctx)
{
	struct runtime_client *rt = ctx;
	struct runtimes *rts = rt->owner;
	size_t len = size * n;
	char *grown, *end;

	if (rt->partial_len + len > RUNTIME_EVENT_LINE_MAX) {
		log_warn("%s events: a line longer than %u bytes; reconnecting", rt->name,
			 RUNTIME_EVENT_LINE_MAX);
		return 0; /* CURLE_WRITE_ERROR ends the stream */
	}
	grown = realloc(rt->partial, rt->partial_len + len);
	if (!grown)
		return 0;
	rt->partial = grown;
	memcpy(rt->partial + rt->partial_len, data, len);
	rt->partial_len += len;

	end = memrchr(rt->partial, '\n', rt->partial_len);
	if (end) {
		struct line_batch batch = { .client = rt - rts->clients,
					    .len = end - rt->partial + 1 };

		grown = realloc(rts->lines, rts->lines_len + sizeof(batch) + batch.len);
		if (!grown)
			return 0;
		rts->lines = grown;
		memcpy(rts->lines + rts->lines_len, &batch, sizeof(batch));
		memcpy(rts->lines + rts->lines_len + sizeof(batch), rt->partial, batch.len);
		rts->lines_len += sizeof(batch) + batch.len;
		memmove(rt->partial, rt->partial + batch.len, rt->partial_len - batch.len);
		rt->partial_len -= batch.len;
	}
	return len;
}

/* ---- container life from the events ---- */

/* Inspects id and puts it in the inventory; the container, or NULL. */
static const struct container *learn_container(struct runtimes *rts, struct runtime_client *rt,
					       const char *id)
{
	struct container c;
	char err[512];

	if (docker_inspect_container(rt->socket_path, id, &c, err, sizeof(err))) {
		log_debug("%s: inspect %.12s: %s", rt->name, id, err);
		return NULL;
	}
	c.runtime = rt->name;
	if (inventory_add_container(rts->inv, &c)) {
		container_clear(&c);
		return NULL;
	}
	return inventory_container(rts->inv, id);
}

static void handle_event(struct runtimes *rts, struct runtime_client *rt, const char *line,
			 size_t len)
{
	const struct inventory_observer *obs = &rts->obs.containers;
	const struct container *c;
	struct container *known;
	struct docker_event ev;
	char err[512];
	bool announced;

	if (docker_parse_event(line, len, &ev, err, sizeof(err))) {
		log_warn("%s events: %s", rt->name, err);
		return;
	}
	switch (ev.kind) {
	case DOCKER_EVENT_START:
		/*
		 * Its first connection may have named it already (inspected
		 * from attribute()): announce each run once all the same.
		 */
		c = inventory_container(rts->inv, ev.id);
		announced = c && !c->stopped && c->announced;
		known = (struct container *)learn_container(rts, rt, ev.id);
		if (!known || announced)
			break;
		known->announced = true;
		if (obs->started)
			obs->started(obs->ctx, known);
		break;
	case DOCKER_EVENT_DIE:
	case DOCKER_EVENT_DESTROY:
		/* A destroy without a die (docker rm -f of a created container) stops it too. */
		known = (struct container *)inventory_container(rts->inv, ev.id);
		if (!known || known->stopped)
			break;
		inventory_mark_stopped(rts->inv, ev.id, monotonic_ms());
		if (obs->stopped)
			obs->stopped(obs->ctx, known);
		break;
	case DOCKER_EVENT_RENAME:
		known = (struct container *)inventory_container(rts->inv, ev.id);
		if (known && *ev.name) {
			log_debug("%s: %.12s renamed %s -> %s", rt->name, ev.id, known->name,
				  ev.name);
			snprintf(known->name, sizeof(known->name), "%s", ev.name);
		}
		break;
	case DOCKER_EVENT_OTHER:
		break;
	}
}

/* Handles the lines the streams delivered, batch by batch. */
static void handle_lines(struct runtimes *rts)
{
	size_t pos = 0;

	while (pos + sizeof(struct line_batch) <= rts->lines_len) {
		struct line_batch batch;
		const char *line, *end;

		memcpy(&batch, rts->lines + pos, sizeof(batch));
		line = rts->lines + pos + sizeof(batch);
		end = line + batch.len; /* the batch ends with '\n' */
		while (line < end) {
			const char *nl = memchr(line, '\n', end - line);
			size_t len = nl - line;

			/* Docker streams with chunked encoding: blank lines are keep-alives. */
			if (len > 1 || (len == 1 && *line != '\r'))
				handle_event(rts, &rts->clients[batch.client], line, len);
			line = nl + 1;
		}
		pos += sizeof(batch) + batch.len;
	}
	rts->lines_len = 0;
}

/* ---- connecting, losing, reconnecting ---- */

static void close_stream(struct runtimes *rts, struct runtime_client *rt)
{
	if (rt->stream) {
		curl_multi_remove_handle(rts->multi, rt->stream);
		curl_easy_cleanup(rt->stream);
		rt->stream = NULL;
	}
	rt->partial_len = 0;
}

static void schedule_retry(struct runtime_client *rt, int64_t now_ms)
{
	rt->backoff_ms = rt->backoff_ms ? rt->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (rt->backoff_ms > BACKOFF_MAX_MS)
		rt->backoff_ms = BACKOFF_MAX_MS;
	rt->next_attempt_ms = now_ms + rt->backoff_ms;
}

static void went_down(struct runtimes *rts, struct runtime_client *rt, const char *why,
		      int64_t now_ms)
{
	close_stream(rts, rt);
	rt->up = false;
	rt->down_since_ms = now_ms;
	rt->backoff_ms = 0;
	schedule_retry(rt, now_ms);
	log_warn("%s API at %s lost (%s): containers keep their last known names; "
		 "reconnecting",
		 rt->name, rt->socket_path, why);
}

static void connect_client(struct runtimes *rts, struct runtime_client *rt, int64_t now_ms)
{
	struct container_list list;
	struct stat st;
	char err[512];
	/* Events since a second before the listing: none falls between the two. */
	long long since = (long long)time(NULL) - 1;
	unsigned int changes;

	if (rt->quiet_when_absent && stat(rt->socket_path, &st)) {
		schedule_retry(rt, now_ms);
		return;
	}
	if (docker_list_containers(rt->socket_path, &list, err, sizeof(err))) {
		if (!rt->warned && !rt->ever_up) {
			if (!strcmp(rt->name, "docker"))
				log_warn("Docker API unavailable (%s): containers are named by "
					 "their cgroup path only",
					 err);
			else
				log_warn("%s API unavailable (%s)", rt->name, err);
			rt->warned = true;
		} else {
			log_debug("%s: %s", rt->name, err);
		}
		schedule_retry(rt, now_ms);
		return;
	}
	if (err[0])
		log_warn("%s API listing: %s", rt->name, err);
	for (unsigned int i = 0; i < list.count; i++)
		list.items[i].runtime = rt->name;
	/* The first listing is the starting point, not a change to announce. */
	changes = inventory_sync_runtime(rts->inv, rt->name, &list, now_ms,
					 rt->ever_up ? &rts->obs.containers : NULL);

	rt->stream = docker_events_request(rt->socket_path, since, on_stream_data, rt);
	if (!rt->stream || curl_multi_add_handle(rts->multi, rt->stream) != CURLM_OK) {
		close_stream(rts, rt);
		schedule_retry(rt, now_ms);
		return;
	}
	rt->up = true;
	rt->backoff_ms = 0;
	if (rt->ever_up) {
		log_info("%s API at %s is back: resynced, %u containers changed", rt->name,
			 rt->socket_path, changes);
		if (rts->obs.reconnected)
			rts->obs.reconnected(rts->obs.containers.ctx, rt,
					     now_ms - rt->down_since_ms, changes);
	} else if (rt->warned) {
		log_info("%s API reachable at %s", rt->name, rt->socket_path);
	}
	rt->ever_up = true;
}

/* Streams that ended: the daemon stopped, restarted, or closed on us. */
static void reap_streams(struct runtimes *rts)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(rts->multi, &left))) {
		long status = 0;
		char why[128];

		if (msg->msg != CURLMSG_DONE)
			continue;
		for (unsigned int i = 0; i < rts->n_clients; i++) {
			struct runtime_client *rt = &rts->clients[i];

			if (rt->stream != msg->easy_handle)
				continue;
			curl_easy_getinfo(rt->stream, CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result != CURLE_OK)
				snprintf(why, sizeof(why), "%s",
					 curl_easy_strerror(msg->data.result));
			else
				snprintf(why, sizeof(why), "event stream ended, HTTP %ld", status);
			went_down(rts, rt, why, monotonic_ms());
			break;
		}
	}
}

static void drive(struct runtimes *rts, curl_socket_t fd, int flags)
{
	int running;

	curl_multi_socket_action(rts->multi, fd, flags, &running);
	handle_lines(rts);
	reap_streams(rts);
}

bool runtimes_handle_fd(struct runtimes *rts, int fd, uint32_t epoll_events)
{
	int flags = 0;

	if (!rts->multi)
		return false;
	if (fd == rts->timer_fd) {
		uint64_t expirations;

		if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			log_debug("runtime timer: %s", strerror(errno));
		drive(rts, CURL_SOCKET_TIMEOUT, 0);
		return true;
	}
	for (unsigned int i = 0; i < rts->n_clients; i++) {
		curl_socket_t sock = CURL_SOCKET_BAD;

		if (!rts->clients[i].stream ||
		    curl_easy_getinfo(rts->clients[i].stream, CURLINFO_ACTIVESOCKET, &sock) ||
		    sock != fd)
			continue;
		if (epoll_events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (epoll_events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (epoll_events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		drive(rts, fd, flags);
		return true;
	}
	/* A socket curl is still connecting has no ACTIVESOCKET yet: let curl decide. */
	drive(rts, fd, epoll_events & EPOLLOUT ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
	return true;
}

void runtimes_tick(struct runtimes *rts, int64_t now_ms)
{
	for (unsigned int i = 0; i < rts->n_clients; i++) {
		struct runtime_client *rt = &rts->clients[i];

		if (!rt->up && now_ms >= rt->next_attempt_ms)
			connect_client(rts, rt, now_ms);
	}
}

void runtimes_connect(struct runtimes *rts, int64_t now_ms)
{
	for (unsigned int i = 0; i < rts->n_clients; i++)
		connect_client(rts, &rts->clients[i], now_ms);
}

/* Runtimes berth names from their state directories (no API client). */
static bool is_oci_runtime(const char *runtime)
{
	return !strcmp(runtime, "containerd") || !strcmp(runtime, "cri-o") ||
	       !strcmp(runtime, "kubernetes");
}

/* containerd and CRI-O write each container's OCI config.json, annotated by Kubernetes. */
static const struct container *learn_from_oci(struct runtimes *rts, const char *id)
{
	struct container c;
	char err[512];
	int found = oci_lookup_container(rts->oci_root, id, &c, err, sizeof(err));

	if (found) {
		if (found < 0)
			log_warn("%s", err);
		return NULL;
	}
	if (inventory_add_container(rts->inv, &c)) {
		container_clear(&c);
		return NULL;
	}
	return inventory_container(rts->inv, id);
}

const struct container *runtimes_inspect(struct runtimes *rts, const char *runtime, const char *id,
					 int64_t now_ms)
{
	struct runtime_client *rt = client_by_name(rts, runtime);
	char key[CONTAINER_ID_MAX + 1] = "";
	int64_t *last;

	if (rt && !rt->up)
		return NULL;
	if (!rt && !is_oci_runtime(runtime))
		return NULL;
	strncpy(key, id, CONTAINER_ID_MAX);
	last = hashmap_upsert(&rts->inspected, key, NULL);
	if (!last || (*last && now_ms - *last < INSPECT_RETRY_MS))
		return NULL;
	*last = now_ms;
	return rt ? learn_container(rts, rt, id) : learn_from_oci(rts, id);
}

static bool inspected_long_ago(const void *key, void *value, void *ctx)
{
	const int64_t *last = value, *now_ms = ctx;

	(void)key;
	return *now_ms - *last >= INSPECT_MEMORY_MS;
}

void runtimes_expire_inspected(struct runtimes *rts, int64_t now_ms)
{
	hashmap_remove_if(&rts->inspected, inspected_long_ago, &now_ms);
}

void runtimes_add(struct runtimes *rts, const char *name, const char *socket_path,
		  bool quiet_when_absent)
{
	struct runtime_client *rt;

	if (rts->n_clients == MAX_RUNTIMES)
		return;
	rt = &rts->clients[rts->n_clients++];
	memset(rt, 0, sizeof(*rt));
	rt->owner = rts;
	rt->name = name;
	rt->socket_path = socket_path;
	rt->quiet_when_absent = quiet_when_absent;
}

int runtimes_init(struct runtimes *rts, struct inventory *inv, int epoll_fd,
		  const struct runtime_observer *obs)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(rts, 0, sizeof(*rts));
	rts->inv = inv;
	rts->obs = *obs;
	rts->epoll_fd = epoll_fd;
	rts->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rts->timer_fd < 0)
		return -errno;
	ev.data.fd = rts->timer_fd;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, rts->timer_fd, &ev))
		return -errno;
	if (hashmap_init(&rts->inspected, CONTAINER_ID_MAX + 1, sizeof(int64_t)))
		return -ENOMEM;
	rts->multi = curl_multi_init();
	if (!rts->multi)
		return -ENOMEM;
	curl_multi_setopt(rts->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(rts->multi, CURLMOPT_SOCKETDATA, rts);
	curl_multi_setopt(rts->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(rts->multi, CURLMOPT_TIMERDATA, rts);
	return 0;
}

void runtimes_free(struct runtimes *rts)
{
	for (unsigned int i = 0; i < rts->n_clients; i++) {
		close_stream(rts, &rts->clients[i]);
		free(rts->clients[i].partial);
	}
	if (rts->multi)
		curl_multi_cleanup(rts->multi);
	if (rts->timer_fd > 0)
		close(rts->timer_fd);
	hashmap_free(&rts->inspected);
	free(rts->lines);
	memset(rts, 0, sizeof(*rts));
}
