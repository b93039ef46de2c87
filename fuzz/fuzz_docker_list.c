// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: docker_parse_containers() on a GET /containers/json
 * body, which comes from whatever answers on the Docker or podman socket.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct container_list list;
	char err[256];

	if (docker_parse_containers((const char *)data, size, &list, err, sizeof(err)))
		return 0; /* the parser frees what it built on failure */
	/* What the inventory trusts of each record. */
	for (unsigned int i = 0; i < list.count; i++) {
		const struct container *c = &list.items[i];

		if (strlen(c->id) != CONTAINER_ID_MAX)
			abort();
		for (unsigned int b = 0; b < c->n_bindings; b++)
			if (!c->bindings[b].host_port || !c->bindings[b].container_port)
				abort();
	}
	container_list_free(&list);
	return 0;
}
