// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: cgroup2_find_mount() on any mountinfo. It reads a
 * file, so the input goes into a memfd made once and is read back through
 * /proc/self/fd/N: no file system writes per run.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	char out[256];

	if (fd < 0) {
		fd = memfd_create("mountinfo", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(out, 0x5a, sizeof(out));
	/*
	 * A mount point found is terminated inside out and not empty. It may
	 * hold any other byte: mountinfo's \ooo escapes are decoded.
	 */
	if (cgroup2_find_mount(path, out, sizeof(out)) == 0) {
		if (!memchr(out, '\0', sizeof(out)) || !out[0])
			abort();
	}
	return 0;
}
