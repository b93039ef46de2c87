/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The container runtimes berth follows through their Engine API (Docker,
 * and podman's Docker-compatible one): a listing, then the /events stream,
 * inside the one event loop. When a daemon goes away berth keeps going on
 * cgroup paths, reconnects with backoff and resyncs from a fresh listing.
 */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "hashmap.h"
#include "inventory.h"

#define MAX_RUNTIMES 2
/* An /events line longer than this is not an event: the stream is reset. */
#define RUNTIME_EVENT_LINE_MAX (256u * 1024)

struct runtimes;

struct runtime_client {
	struct runtimes *owner;
	const char *name; /* "docker", "podman": what container.runtime says */
	const char *socket_path;
	bool quiet_when_absent; /* no socket file: not worth a warning (podman) */
	bool up;		/* listed, and its event stream is open */
	bool ever_up;
	bool warned; /* the one "unavailable" warning was given */
	CURL *stream;
	char *partial; /* bytes of the stream not yet split into lines */
	size_t partial_len;
	int64_t down_since_ms;
	int64_t next_attempt_ms;
	unsigned int backoff_ms;
};

/* What the watcher is told. */
struct runtime_observer {
	struct inventory_observer containers; /* started, stopped */
	/* A daemon is back and berth resynced: down_ms, containers changed meanwhile. */
	void (*reconnected)(void *ctx, const struct runtime_client *rt, int64_t down_ms,
			    unsigned int changes);
};

struct runtimes {
	struct runtime_client clients[MAX_RUNTIMES];
	unsigned int n_clients;
	struct inventory *inv;
	struct runtime_observer obs;
	CURLM *multi;
	int epoll_fd;
	int timer_fd;		  /* curl's timeouts */
	struct hashmap inspected; /* container id -> int64_t ms of the last inspect */
	const char *oci_root;	  /* where containerd's and CRI-O's state dirs are: "/" */
	/* Complete lines taken from the streams, handled outside curl's callbacks. */
	char *lines;
	size_t lines_len;
};

/* epoll_fd: the loop's set, where the streams' sockets and a timerfd go. */
int runtimes_init(struct runtimes *rts, struct inventory *inv, int epoll_fd,
		  const struct runtime_observer *obs);
void runtimes_free(struct runtimes *rts);
void runtimes_add(struct runtimes *rts, const char *name, const char *socket_path,
		  bool quiet_when_absent);

/* Lists every runtime now (blocking, bounded by a timeout) and opens the streams. */
void runtimes_connect(struct runtimes *rts, int64_t now_ms);

/* True when fd is the runtimes' timer or one of their sockets: then handled. */
bool runtimes_handle_fd(struct runtimes *rts, int fd, uint32_t epoll_events);

/* Reconnects what is due; call every few hundred ms. */
void runtimes_tick(struct runtimes *rts, int64_t now_ms);

/*
 * Asks runtime about a container the inventory does not know (started a
 * moment ago), at most once a second per id: its API for Docker and podman,
 * its OCI config.json for containerd and CRI-O. The container, or NULL.
 */
const struct container *runtimes_inspect(struct runtimes *rts, const char *runtime, const char *id,
					 int64_t now_ms);

/* Forgets inspect attempts older than a minute: bounded under churn. */
void runtimes_expire_inspected(struct runtimes *rts, int64_t now_ms);

#endif
