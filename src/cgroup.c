// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"

/*
 * mountinfo escapes space, tab, newline and backslash in paths as \ooo
 * (octal): "/run/my\040dir" is "/run/my dir". Decodes in place.
 */
static void decode_mountinfo_path(char *path)
{
	char *in = path, *out = path;

	while (*in) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 4;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

/*
 * mountinfo lines: "id parent major:minor root mountpoint options
 * [optional fields] - fstype source superoptions" (proc(5)).
 */
int cgroup2_find_mount(const char *mountinfo_path, char *out, size_t outlen)
{
	char line[4096], found[4096] = "";
	bool continuation = false;
	FILE *f = fopen(mountinfo_path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char mountpoint[4096], *sep;
		bool complete = strchr(line, '\n') || feof(f);
		bool skip = continuation;

		/* The rest of a line longer than the buffer is not a line of its own. */
		continuation = !complete;
		if (skip || !complete)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mountpoint) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		decode_mountinfo_path(mountpoint);
		if (!found[0] || !strcmp(mountpoint, "/sys/fs/cgroup"))
			snprintf(found, sizeof(found), "%s", mountpoint);
	}
	fclose(f);
	if (!found[0] || strlen(found) >= outlen)
		return -1;
	strcpy(out, found);
	return 0;
}

bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_hex_id(const char *s, size_t len)
{
	return len == CONTAINER_ID_MAX && is_lower_hex(s, len);
}

/* "<prefix><64 hex><suffix>" exactly, e.g. "docker-" ... ".scope". */
static bool match_affixed(const char *comp, size_t len, const char *prefix, const char *suffix,
			  char id[CONTAINER_ID_MAX + 1])
{
	size_t plen = strlen(prefix), slen = strlen(suffix);

	if (len != plen + CONTAINER_ID_MAX + slen)
		return false;
	if (strncmp(comp, prefix, plen) || strncmp(comp + plen + CONTAINER_ID_MAX, suffix, slen))
		return false;
	if (!is_hex_id(comp + plen, CONTAINER_ID_MAX))
		return false;
	memcpy(id, comp + plen, CONTAINER_ID_MAX);
	id[CONTAINER_ID_MAX] = '\0';
	return true;
}

/*
 * podman names its cgroups four ways: libpod-<id>.scope under the systemd
 * manager (crun may move the payload one level down, into
 * libpod-<id>.scope/container, which the deepest-match rule still names
 * after the scope), libpod-<id> under the cgroupfs manager
 * (/libpod_parent/libpod-<id>), and libpod-payload-<id> inside a systemd
 * service with --cgroups=split (quadlet), next to conmon's "runtime". conmon
 * itself lives in libpod-conmon-<id>.scope: never the container, and its
 * length alone keeps it from matching libpod-<id>.scope.
 */
static const struct {
	const char *prefix;
	const char *suffix;
	const char *runtime;
} scope_layouts[] = {
	{ "docker-", ".scope", "docker" },
	{ "libpod-", ".scope", "podman" },
	{ "libpod-", "", "podman" },
	{ "libpod-payload-", "", "podman" },
	{ "cri-containerd-", ".scope", "containerd" },
	{ "crio-", ".scope", "cri-o" },
	/* CRI-O's cgroupfs manager: /kubepods/<qos>/pod<uid>/crio-<id>. */
	{ "crio-", "", "cri-o" },
};

bool cgroup_path_container(const char *path, struct cgroup_container *out)
{
	const char *parent = NULL;
	size_t parent_len = 0;
	bool matched = false;
	bool in_kubepods = false;
	const char *comp = path;

	while (*comp) {
		const char *end;
		size_t len;

		while (*comp == '/')
			comp++;
		if (!*comp)
			break;
		end = strchr(comp, '/');
		len = end ? (size_t)(end - comp) : strlen(comp);

		if (!strncmp(comp, "kubepods", 8))
			in_kubepods = true;
		for (size_t i = 0; i < sizeof(scope_layouts) / sizeof(scope_layouts[0]); i++) {
			if (match_affixed(comp, len, scope_layouts[i].prefix,
					  scope_layouts[i].suffix, out->id)) {
				out->runtime = scope_layouts[i].runtime;
				matched = true;
				break;
			}
		}
		/* Bare ids: /docker/<id> (cgroupfs driver), kubepods/.../<id>. */
		if (is_hex_id(comp, len)) {
			if (parent && parent_len == 6 && !strncmp(parent, "docker", 6)) {
				out->runtime = "docker";
			} else if (in_kubepods) {
				out->runtime = "kubernetes";
			} else {
				goto next;
			}
			memcpy(out->id, comp, CONTAINER_ID_MAX);
			out->id[CONTAINER_ID_MAX] = '\0';
			matched = true;
		}
next:
		parent = comp;
		parent_len = len;
		comp += len;
	}
	return matched;
}

uint64_t cgroup_id_of(const char *dir)
{
	struct stat st;

	if (stat(dir, &st))
		return 0;
	return st.st_ino;
}

int cgroup_paths_init(struct cgroup_paths *paths, const char *mount)
{
	memset(paths, 0, sizeof(*paths));
	snprintf(paths->mount, sizeof(paths->mount), "%s", mount);
	return hashmap_init(&paths->by_id, sizeof(uint64_t), sizeof(char *));
}

static void clear_paths(struct cgroup_paths *paths)
{
	void *value;
	size_t iter = 0;

	while (hashmap_next(&paths->by_id, &iter, NULL, &value))
		free(*(char **)value);
}

void cgroup_paths_free(struct cgroup_paths *paths)
{
	clear_paths(paths);
	hashmap_free(&paths->by_id);
}

/* nftw() has no user pointer: the walk in progress. */
static struct cgroup_paths *walking;
static size_t walking_root_len;

static int visit(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = fpath + walking_root_len;
	uint64_t id = st->st_ino;
	char **slot;
	char *copy;

	(void)ftw;
	if (type != FTW_D)
		return FTW_CONTINUE;
	copy = strdup(*rel ? rel : "/");
	if (!copy)
		return FTW_STOP;
	slot = hashmap_upsert(&walking->by_id, &id, NULL);
	if (!slot) {
		free(copy);
		return FTW_STOP;
	}
	free(*slot);
	*slot = copy;
	return FTW_CONTINUE;
}

int cgroup_paths_refresh(struct cgroup_paths *paths)
{
	struct hashmap fresh;
	int err;

	/* Rebuild from scratch: ids of removed cgroups must not linger. */
	err = hashmap_init(&fresh, sizeof(uint64_t), sizeof(char *));
	if (err)
		return err;
	clear_paths(paths);
	hashmap_free(&paths->by_id);
	paths->by_id = fresh;

	walking = paths;
	walking_root_len = strlen(paths->mount);
	err = nftw(paths->mount, visit, 64, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL);
	walking = NULL;
	clock_gettime(CLOCK_MONOTONIC, &paths->last_walk);
	paths->walks++;
	return err < 0 ? -errno : 0;
}

const char *cgroup_paths_lookup(struct cgroup_paths *paths, uint64_t id,
				unsigned int min_walk_interval_ms)
{
	char **path = hashmap_get(&paths->by_id, &id);
	struct timespec now;
	long elapsed_ms;

	if (path)
		return *path;
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed_ms = (now.tv_sec - paths->last_walk.tv_sec) * 1000 +
		     (now.tv_nsec - paths->last_walk.tv_nsec) / 1000000;
	if (paths->walks && elapsed_ms < (long)min_walk_interval_ms)
		return NULL;
	if (cgroup_paths_refresh(paths))
		return NULL;
	path = hashmap_get(&paths->by_id, &id);
	return path ? *path : NULL;
}
