/* SPDX-License-Identifier: GPL-2.0-only */
/* Docker Engine API over its unix socket: the containers and their ports. */
#ifndef BERTH_DOCKER_H
#define BERTH_DOCKER_H

#include <stddef.h>

#include "inventory.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
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
 * or -1 with the reason and position in err.
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

#endif
