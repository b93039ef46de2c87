// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: docker_parse_inspect() on a GET /containers/{id}/json body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct container c;
	char err[256];

	if (docker_parse_inspect((const char *)data, size, &c, err, sizeof(err)))
		return 0; /* c is cleared on failure */
	if (strlen(c.id) != CONTAINER_ID_MAX)
		abort();
	for (unsigned int b = 0; b < c.n_bindings; b++)
		if (!c.bindings[b].host_port || !c.bindings[b].container_port)
			abort();
	container_clear(&c);
	return 0;
}
