/* SPDX-License-Identifier: GPL-2.0-only */
/* Docker Engine API over its unix socket: the containers and their ports. */
#ifndef BERTH_DOCKER_H
#define BERTH_DOCKER_H

#include <stddef.h>

#include "inventory.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
/* podman system service's Docker-compatible API, rootful. */
#define PODMAN_DEFAULT_SOCKET "/run/podman/podman.sock"
/* A listing larger than this is refused rather than buffered. */
#define DOCKER_MAX_RESPONSE (32u << 20)

/*
 * GET /containers/json from the Engine API at socket_path into out.
 * Returns 0, or -1 with a one-line reason in err.
 */
int docker_list_containers(const char *socket_path, struct container_list *out, char *err,
			   size_t errlen);

/*
 * Parses a /containers/json body (pure; unit-tested and fuzzed). Returns 0,
 * or -1 with the reason and position in err. Entries that are not valid
 * containers are left out: then 0 is returned with err saying how many and
 * why (err is "" otherwise).
 */
int docker_parse_containers(const char *body, size_t len, struct container_list *out, char *err,
			    size_t errlen);

/*
 * GET /containers/{id}/json: answers as soon as the container exists, so a
 * container started a moment ago is named before it shows as running.
 */
int docker_inspect_container(const char *socket_path, const char *id, struct container *out,
			     char *err, size_t errlen);

/* Parses an inspect body into c (pure; unit-tested and fuzzed). */
int docker_parse_inspect(const char *body, size_t len, struct container *c, char *err,
			 size_t errlen);

/*
 * A prepared GET /events?since=... for container events, streaming into
 * write(data, 1, n, ctx); the caller adds it to a curl multi handle and
 * frees it with curl_easy_cleanup. NULL without memory.
 */
void *docker_events_request(const char *socket_path, long long since_s,
			    size_t (*write)(char *data, size_t size, size_t n, void *ctx),
			    void *ctx);

enum docker_event_kind {
	DOCKER_EVENT_OTHER, /* not about a container's life, or not one berth follows */
	DOCKER_EVENT_START,
	DOCKER_EVENT_DIE,
	DOCKER_EVENT_DESTROY,
	DOCKER_EVENT_RENAME,
};

/* One line of the /events stream, as far as berth cares. */
struct docker_event {
	enum docker_event_kind kind;
	char id[CONTAINER_ID_MAX + 1];
	char name[CONTAINER_NAME_MAX]; /* the new name for a rename */
	int exit_code;		       /* a die's exit code, or -1 */
};

/*
 * Parses one /events line (pure; unit-tested and fuzzed). Events berth does
 * not follow give 0 and kind DOCKER_EVENT_OTHER; -1 with the reason in err
 * for what is not an event.
 */
int docker_parse_event(const char *line, size_t len, struct docker_event *out, char *err,
		       size_t errlen);

#endif
