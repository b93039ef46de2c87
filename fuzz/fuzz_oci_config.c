// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: oci_parse_config() on a containerd or CRI-O
 * config.json, which a container's own mounts or a compromised runtime
 * could shape.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ID "13e97772e89c4e9f66227d3e923f4d6c7b999b8aa5196e7ccf481c9fd594516b"

/* Every text field ends inside its array. */
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct container c;
	char err[256];

	if (oci_parse_config((const char *)data, size, FUZZ_ID, &c, err, sizeof(err))) {
		/* Nothing left behind, and the reason fits one log line. */
		if (!TERMINATED(err) || c.name[0] || c.runtime)
			abort();
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
		return 0;
	}
	if (strcmp(c.id, FUZZ_ID) || !TERMINATED(c.name) || !TERMINATED(c.image) ||
	    !TERMINATED(c.image_tag) || !TERMINATED(c.user) || !TERMINATED(c.network_mode) ||
	    !TERMINATED(c.k8s.pod_name) || !TERMINATED(c.k8s.pod_namespace) ||
	    !TERMINATED(c.k8s.pod_uid))
		abort();
	if (c.runtime && strcmp(c.runtime, "containerd") && strcmp(c.runtime, "cri-o"))
		abort();
	container_clear(&c);
	return 0;
}
