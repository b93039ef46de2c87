// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer target: docker_parse_event() on one line of the /events stream. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_event event;
	char err[256];

	if (docker_parse_event((const char *)data, size, &event, err, sizeof(err)))
		return 0;
	/* An event berth acts on names a whole container id. */
	if (event.kind != DOCKER_EVENT_OTHER && strlen(event.id) != CONTAINER_ID_MAX)
		abort();
	if (event.exit_code < -1 || event.exit_code > 255)
		abort();
	return 0;
}
