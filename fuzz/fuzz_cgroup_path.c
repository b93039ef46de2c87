// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: cgroup_path_container() on any path. cgroup names are
 * chosen by whoever may create cgroups (a delegated subtree: rootless
 * podman, systemd user units), so the path is outside input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_container c;
	char *path = malloc(size + 1);

	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	memset(&c, 0, sizeof(c));
	if (cgroup_path_container(path, &c)) {
		/* A match is a runtime and 64 lower-case hex digits found in the path. */
		if (!c.runtime || strlen(c.id) != CONTAINER_ID_MAX ||
		    strspn(c.id, "0123456789abcdef") != CONTAINER_ID_MAX || !strstr(path, c.id))
			abort();
	}
	free(path);
	return 0;
}
