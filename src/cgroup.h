/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2: where it is mounted, which directory a cgroup id names, and
 * which container a cgroup path belongs to.
 *
 * A cgroup v2 id is the inode number of its directory in the cgroup2 mount
 * (kernfs node id), which is what bpf_skb_cgroup_id() and the socket's
 * sk_cgrp_data give the kernel side.
 */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hashmap.h"

#define CONTAINER_ID_MAX 64

/*
 * len lower-case hex digits, what runtimes make container ids of. Ids go
 * into paths and request URLs: every parser checks them with this.
 */
bool is_lower_hex(const char *s, size_t len);

/*
 * Finds the cgroup2 mount in a mountinfo file (/proc/self/mountinfo). Pure
 * v2 hosts mount it at /sys/fs/cgroup, hybrid ones at
 * /sys/fs/cgroup/unified; the first is preferred when both exist. Returns 0,
 * or -1 with no cgroup2 mount.
 */
int cgroup2_find_mount(const char *mountinfo_path, char *out, size_t outlen);

struct cgroup_container {
	const char *runtime; /* "docker", "podman", "containerd", "cri-o", "kubernetes" */
	char id[CONTAINER_ID_MAX + 1];
};

/*
 * The container a cgroup path (relative to the cgroup2 root) belongs to.
 * Knows the cgroupfs and systemd layouts of Docker (/docker/<id>,
 * docker-<id>.scope), podman (libpod-<id>.scope, /libpod_parent/libpod-<id>,
 * libpod-payload-<id>), containerd (cri-containerd-<id>.scope), CRI-O
 * (crio-<id>.scope; crio-<id> with its cgroupfs manager) and cgroupfs
 * kubepods (/kubepods/<qos>/pod<uid>/<id>).
 * The deepest match wins, so a container nested in another is named after
 * itself.
 */
bool cgroup_path_container(const char *path, struct cgroup_container *out);

/* cgroup id -> path relative to the mount, filled by walking the mount. */
struct cgroup_paths {
	char mount[4096];
	struct hashmap by_id; /* uint64_t -> char *path (owned) */
	struct timespec last_walk;
	unsigned int walks;
};

int cgroup_paths_init(struct cgroup_paths *paths, const char *mount);
void cgroup_paths_free(struct cgroup_paths *paths);
/*
 * The path of id, walking the mount again on a miss (at most every
 * min_walk_interval_ms, so a flood of unknown ids cannot turn into a flood
 * of walks). NULL when unknown.
 */
const char *cgroup_paths_lookup(struct cgroup_paths *paths, uint64_t id,
				unsigned int min_walk_interval_ms);
/* Walks the mount now; 0 or -errno. */
int cgroup_paths_refresh(struct cgroup_paths *paths);

/* The id of a cgroup directory (its inode), 0 on error. */
uint64_t cgroup_id_of(const char *dir);

#endif
