// SPDX-License-Identifier: GPL-2.0-only
/*
 * cgroup.c: container ids from cgroup paths, the cgroup2 mount from
 * mountinfo, and the id -> path table, on a temporary directory tree (the
 * walk only needs directories and inode numbers, not cgroupfs).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"
#include "tmpdir.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define POD_UID "pod3c1d2e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
#define POD_UID_SYSTEMD "pod3c1d2e4f_5a6b_7c8d_9e0f_a1b2c3d4e5f6"

/* ---- cgroup_path_container ---- */

static void expect_container(const char *path, const char *runtime, const char *id)
{
	struct cgroup_container c;

	memset(&c, 0, sizeof(c));
	if (!cgroup_path_container(path, &c))
		fail_msg("no container in %s", path);
	assert_non_null(c.runtime);
	if (strcmp(c.runtime, runtime) || strcmp(c.id, id))
		fail_msg("%s: got %s/%s, want %s/%s", path, c.runtime, c.id, runtime, id);
}

static void expect_none(const char *path)
{
	struct cgroup_container c;

	memset(&c, 0, sizeof(c));
	if (cgroup_path_container(path, &c))
		fail_msg("%s matched %s/%s", path, c.runtime, c.id);
}

static void test_docker_layouts(void **state)
{
	(void)state;
	expect_container("/docker/" ID1, "docker", ID1);
	expect_container("/system.slice/docker-" ID1 ".scope", "docker", ID1);
	/* Docker in Docker: the inner container is the one that owns the socket. */
	expect_container("/docker/" ID1 "/docker/" ID2, "docker", ID2);
	expect_container("/system.slice/docker-" ID1 ".scope/docker/" ID2, "docker", ID2);
	/* Processes in a sub-cgroup of the container still belong to it. */
	expect_container("/docker/" ID1 "/init", "docker", ID1);
}

static void test_podman_layouts(void **state)
{
	(void)state;
	expect_container("/machine.slice/libpod-" ID1 ".scope", "podman", ID1);
	expect_container("/libpod_parent/libpod-" ID1, "podman", ID1);
	expect_container("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1
			 ".scope/container",
			 "podman", ID1);
}

static void test_kubernetes_layouts(void **state)
{
	(void)state;
	expect_container(
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD_UID_SYSTEMD
		".slice/cri-containerd-" ID1 ".scope",
		"containerd", ID1);
	expect_container(
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-" POD_UID_SYSTEMD
		".slice/crio-" ID2 ".scope",
		"cri-o", ID2);
	expect_container("/kubepods/burstable/" POD_UID "/" ID1, "kubernetes", ID1);
	expect_container("/kubepods/" POD_UID "/" ID2, "kubernetes", ID2);
}

/*
 * Kubernetes nodes, as the kubelet and each runtime lay cgroups out (no
 * Kubernetes runs here: the paths are written out from the runtimes'
 * cgroup managers). QoS classes: guaranteed pods sit right under kubepods,
 * burstable and besteffort ones one level down.
 */
static void test_kubepods_layouts(void **state)
{
	(void)state;
	/* systemd driver: containerd's and CRI-O's scopes. */
	expect_container("/kubepods.slice/kubepods-" POD_UID_SYSTEMD ".slice/cri-containerd-" ID1
			 ".scope",
			 "containerd", ID1);
	expect_container(
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-" POD_UID_SYSTEMD
		".slice/cri-containerd-" ID2 ".scope",
		"containerd", ID2);
	expect_container("/kubepods.slice/kubepods-" POD_UID_SYSTEMD ".slice/crio-" ID1 ".scope",
			 "cri-o", ID1);
	/* crun and runc may put the processes one level down. */
	expect_container(
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD_UID_SYSTEMD
		".slice/crio-" ID1 ".scope/container",
		"cri-o", ID1);
	/* cgroupfs driver (containerd): the bare id, runtime unknown. */
	expect_container("/kubepods/besteffort/" POD_UID "/" ID1, "kubernetes", ID1);
	expect_container("/kubepods/burstable/" POD_UID "/" ID2, "kubernetes", ID2);
	expect_container("/kubepods/" POD_UID "/" ID1, "kubernetes", ID1);
}

/* The pod's and QoS class's own cgroups, and CRI-O's conmon, are no container. */
static void test_kubepods_not_containers(void **state)
{
	(void)state;
	expect_none("/kubepods.slice");
	expect_none("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD_UID_SYSTEMD
		    ".slice");
	expect_none("/kubepods.slice/kubepods-" POD_UID_SYSTEMD ".slice");
	expect_none("/kubepods/burstable/" POD_UID);
	expect_none("/kubepods/" POD_UID);
	expect_none("/kubepods/besteffort");
	/*
	 * conmon, CRI-O's per-container monitor, holds the container's stdio
	 * but is not the container (internal/config/cgmgr: "crio-conmon-<id>").
	 */
	expect_none("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD_UID_SYSTEMD
		    ".slice/crio-conmon-" ID1 ".scope");
	expect_none("/kubepods/burstable/" POD_UID "/crio-conmon-" ID1);
	/* A pod uid the length of an id is still a pod. */
	expect_none("/kubepods/besteffort/pod" ID1);
	expect_none("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" ID1
		    ".slice");
}

/*
 * CRI-O with the cgroupfs manager names the container's cgroup "crio-<id>"
 * with no ".scope" (internal/config/cgmgr/cgroupfs_linux.go,
 * ContainerCgroupPath), and conmon's "crio-conmon-<id>" beside it.
 */
static void test_kubepods_crio_cgroupfs(void **state)
{
	(void)state;
	expect_container("/kubepods/burstable/" POD_UID "/crio-" ID1, "cri-o", ID1);
	expect_container("/kubepods/" POD_UID "/crio-" ID2, "cri-o", ID2);
	expect_container("/kubepods/besteffort/" POD_UID "/crio-" ID1 "/container", "cri-o", ID1);
	expect_none("/kubepods/burstable/" POD_UID "/crio-conmon-" ID1);
}

static void test_not_containers(void **state)
{
	char path[256];

	(void)state;
	expect_none("");
	expect_none("/");
	expect_none("/user.slice/user-0.slice/session-1.scope");
	expect_none("/system.slice/docker.service");
	expect_none("/system.slice/containerd.service");
	expect_none("/kubepods.slice/kubepods-burstable.slice");
	/* 63 hex digits. */
	snprintf(path, sizeof(path), "/docker/%.63s", ID1);
	expect_none(path);
	/* 65 hex digits. */
	expect_none("/docker/" ID1 "0");
	/* 64 characters, one of them not lower-case hex. */
	snprintf(path, sizeof(path), "/docker/%.63sA", ID1);
	expect_none(path);
	snprintf(path, sizeof(path), "/docker/g%.63s", ID1);
	expect_none(path);
	expect_none("/docker-" ID1 ".scopeX");
	expect_none("/system.slice/docker-" ID1);
	expect_none("/system.slice/docker-" ID1 ".slice");
	expect_none("/system.slice/xdocker-" ID1 ".scope");
	/* A bare id is a container only under /docker or kubepods. */
	expect_none("/" ID1);
	expect_none("/system.slice/" ID1);
	expect_none("/dockerd/" ID1);
}

/* ---- cgroup2_find_mount ---- */

static const char *write_mountinfo(const struct tmp *t, const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

#define ROOT_LINES                                                                      \
	"22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"                \
	"23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n" \
	"24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"

static const char pure_v2[] = ROOT_LINES
	"25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"26 24 0:24 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

static const char hybrid[] = ROOT_LINES
	"25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate\n"
	"27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd\n"
	"28 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory\n"
	"29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,cpu,cpuacct\n";

/* Unusual but possible: /sys/fs/cgroup listed after another cgroup2 mount. */
static const char both[] = ROOT_LINES
	"30 24 0:40 / /run/cgroup2 rw,relatime shared:20 - cgroup2 none rw\n"
	"25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n"
	"26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw\n";

static const char v1_only[] = ROOT_LINES
	"25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
	"27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd\n"
	"28 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory\n";

/* Several optional fields, and none at all: the " - " separator decides. */
static const char optional_fields[] = ROOT_LINES
	"31 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:5 master:1 propagate_from:2 - cgroup2 cgroup2 rw\n";

static const char no_optional_fields[] =
	"22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n"
	"25 22 0:23 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";

/* "cgroup2" as a source or option must not be taken for the type. */
static const char decoys[] = ROOT_LINES "40 22 0:50 / /mnt/a rw - tmpfs cgroup2 rw\n"
					"41 22 0:51 / /mnt/cgroup2 rw - ext4 /dev/sdb1 rw\n"
					"42 22 0:52 / /mnt/c rw - cgroup2fs x rw\n";

static void expect_mount(const struct tmp *t, const char *text, int want_ret, const char *want)
{
	const char *path = write_mountinfo(t, "mountinfo", text);
	char out[256] = "unchanged";

	assert_int_equal(cgroup2_find_mount(path, out, sizeof(out)), want_ret);
	if (want)
		assert_string_equal(out, want);
}

static void test_find_mount(void **state)
{
	struct tmp *t = *state;

	expect_mount(t, pure_v2, 0, "/sys/fs/cgroup");
	expect_mount(t, hybrid, 0, "/sys/fs/cgroup/unified");
	expect_mount(t, both, 0, "/sys/fs/cgroup");
	expect_mount(t, v1_only, -1, NULL);
	expect_mount(t, ROOT_LINES, -1, NULL);
	expect_mount(t, "", -1, NULL);
	expect_mount(t, optional_fields, 0, "/sys/fs/cgroup");
	expect_mount(t, no_optional_fields, 0, "/sys/fs/cgroup");
	expect_mount(t, decoys, -1, NULL);
	/* Octal escapes in paths (a sidecar's host root at "/host fs"). */
	expect_mount(t,
		     ROOT_LINES "30 22 0:26 / /host\\040fs/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		     0, "/host fs/sys/fs/cgroup");
	expect_mount(t, ROOT_LINES "30 22 0:26 / /a\\134b\\011c rw - cgroup2 cgroup2 rw\n", 0,
		     "/a\\b\tc");
	/* A backslash that starts no escape stays. */
	expect_mount(t, ROOT_LINES "30 22 0:26 / /a\\9b rw - cgroup2 cgroup2 rw\n", 0, "/a\\9b");
}

/* A line longer than the parser's buffer: its rest is not taken for a line. */
static void test_find_mount_long_line(void **state)
{
	struct tmp *t = *state;
	static char text[16384];
	size_t n;

	n = snprintf(text, sizeof(text), "%s30 22 0:26 / /mnt/", ROOT_LINES);
	memset(text + n, 'x', 5000);
	n += 5000;
	/* What follows the 4 KiB mark looks like a cgroup2 line on its own. */
	snprintf(text + n, sizeof(text) - n,
		 " rw - ext4 x rw 31 22 0:27 / /fake rw - cgroup2 cgroup2 rw\n"
		 "32 22 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
	expect_mount(t, text, 0, "/sys/fs/cgroup/unified");
}

static void test_find_mount_small_buffer(void **state)
{
	struct tmp *t = *state;
	const char *path = write_mountinfo(t, "mountinfo", pure_v2);
	char out[sizeof("/sys/fs/cgroup")];

	/* Exactly enough room, then one byte short. */
	assert_int_equal(cgroup2_find_mount(path, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(cgroup2_find_mount(path, out, sizeof(out) - 1), -1);
	assert_int_equal(cgroup2_find_mount(path, out, 0), -1);
}

static void test_find_mount_missing_file(void **state)
{
	struct tmp *t = *state;
	char path[128], out[256];

	snprintf(path, sizeof(path), "%s/does-not-exist", t->dir);
	assert_int_equal(cgroup2_find_mount(path, out, sizeof(out)), -1);
}

/* The host's own mountinfo parses (whatever it holds, no crash). */
static void test_find_mount_self(void **state)
{
	char out[4096];
	int ret;

	(void)state;
	ret = cgroup2_find_mount("/proc/self/mountinfo", out, sizeof(out));
	assert_true(ret == 0 || ret == -1);
	if (ret == 0)
		assert_int_equal(out[0], '/');
}

/* ---- cgroup_paths ---- */

static void make_dir(const struct tmp *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", t->dir, rel);
	if (mkdir(path, 0755))
		fail_msg("mkdir %s: %m", path);
}

static uint64_t id_of(const struct tmp *t, const char *rel)
{
	char path[256];
	struct stat st;
	uint64_t id;

	snprintf(path, sizeof(path), "%s%s", t->dir, rel);
	assert_int_equal(stat(path, &st), 0);
	id = cgroup_id_of(path);
	assert_int_equal(id, st.st_ino);
	return id;
}

static void test_cgroup_id_of(void **state)
{
	struct tmp *t = *state;
	char path[128];

	make_dir(t, "/x");
	assert_int_not_equal(id_of(t, "/x"), 0);
	snprintf(path, sizeof(path), "%s/nope", t->dir);
	assert_int_equal(cgroup_id_of(path), 0);
}

static void test_paths_refresh_lookup(void **state)
{
	struct tmp *t = *state;
	struct cgroup_paths paths;
	uint64_t a, ab, root, unknown;
	const char *p;

	make_dir(t, "/a");
	make_dir(t, "/a/b");
	make_dir(t, "/docker");
	make_dir(t, "/docker/" ID1);
	/* Only directories are cgroups. */
	write_mountinfo(t, "a/file", "x");

	assert_int_equal(cgroup_paths_init(&paths, t->dir), 0);
	assert_int_equal(cgroup_paths_refresh(&paths), 0);
	assert_int_equal(paths.walks, 1);

	root = id_of(t, "");
	a = id_of(t, "/a");
	ab = id_of(t, "/a/b");
	assert_string_equal(cgroup_paths_lookup(&paths, root, 0), "/");
	assert_string_equal(cgroup_paths_lookup(&paths, a, 0), "/a");
	assert_string_equal(cgroup_paths_lookup(&paths, ab, 0), "/a/b");
	p = cgroup_paths_lookup(&paths, id_of(t, "/docker/" ID1), 0);
	assert_non_null(p);
	assert_string_equal(p, "/docker/" ID1);
	/* Hits do not walk. */
	assert_int_equal(paths.walks, 1);
	assert_int_equal(paths.by_id.count, 5);

	/* The regular file's inode is no cgroup. */
	unknown = id_of(t, "/a/file");
	assert_null(cgroup_paths_lookup(&paths, unknown, 0));
	assert_int_equal(paths.walks, 2);

	cgroup_paths_free(&paths);
}

/* A directory made after the last walk is found by the walk a miss makes. */
static void test_paths_lookup_walks_on_miss(void **state)
{
	struct tmp *t = *state;
	struct cgroup_paths paths;
	uint64_t id;

	assert_int_equal(cgroup_paths_init(&paths, t->dir), 0);
	/* The first lookup walks even though no interval has passed. */
	assert_string_equal(cgroup_paths_lookup(&paths, id_of(t, ""), 60000), "/");
	assert_int_equal(paths.walks, 1);

	make_dir(t, "/new");
	id = id_of(t, "/new");
	assert_null(cgroup_paths_lookup(&paths, id, 60000)); /* rate-limited */
	assert_int_equal(paths.walks, 1);
	assert_string_equal(cgroup_paths_lookup(&paths, id, 0), "/new");
	assert_int_equal(paths.walks, 2);
	cgroup_paths_free(&paths);
}

/* A flood of unknown ids makes at most one walk per interval. */
static void test_paths_lookup_rate_limit(void **state)
{
	struct tmp *t = *state;
	struct cgroup_paths paths;

	assert_int_equal(cgroup_paths_init(&paths, t->dir), 0);
	assert_null(cgroup_paths_lookup(&paths, 1, 60000));
	assert_int_equal(paths.walks, 1);
	for (uint64_t id = 2; id < 1000; id++)
		assert_null(cgroup_paths_lookup(&paths, id, 60000));
	assert_int_equal(paths.walks, 1);

	/* Once the interval has passed, a miss walks again. */
	usleep(20 * 1000);
	assert_null(cgroup_paths_lookup(&paths, 1, 10));
	assert_int_equal(paths.walks, 2);
	cgroup_paths_free(&paths);
}

/* Removed directories do not linger after a refresh. */
static void test_paths_refresh_forgets(void **state)
{
	struct tmp *t = *state;
	struct cgroup_paths paths;
	char path[128];
	uint64_t id;

	make_dir(t, "/gone");
	id = id_of(t, "/gone");
	assert_int_equal(cgroup_paths_init(&paths, t->dir), 0);
	assert_int_equal(cgroup_paths_refresh(&paths), 0);
	assert_string_equal(cgroup_paths_lookup(&paths, id, 60000), "/gone");

	snprintf(path, sizeof(path), "%s/gone", t->dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(cgroup_paths_refresh(&paths), 0);
	assert_null(hashmap_get(&paths.by_id, &id));
	assert_int_equal(paths.by_id.count, 1);
	cgroup_paths_free(&paths);
}

static void test_paths_missing_mount(void **state)
{
	struct tmp *t = *state;
	struct cgroup_paths paths;
	char path[128];

	snprintf(path, sizeof(path), "%s/not-there", t->dir);
	assert_int_equal(cgroup_paths_init(&paths, path), 0);
	assert_true(cgroup_paths_refresh(&paths) < 0);
	assert_null(cgroup_paths_lookup(&paths, 1, 0));
	cgroup_paths_free(&paths);
}

/* ---- podman, every layout it uses ---- */

/*
 * What /proc/<pid>/cgroup of `podman run --runtime runc` shows on this
 * project's hybrid hosts (cgroupfs manager, Debian's podman 4.3), the
 * systemd manager's scopes (a pod's containers in the pod's slice), crun's
 * nested payload, and quadlet's --cgroups=split unit.
 */
static void test_podman_real_layouts(void **state)
{
	(void)state;
	expect_container("/libpod_parent/libpod-" ID1, "podman", ID1);
	/* A process in a sub-cgroup the payload made still belongs to it. */
	expect_container("/libpod_parent/libpod-" ID1 "/init", "podman", ID1);
	/* A pod's containers under cgroupfs: /libpod_parent/<pod id>/libpod-<id>. */
	expect_container("/libpod_parent/" ID2 "/libpod-" ID1, "podman", ID1);
	expect_container("/machine.slice/libpod-" ID1 ".scope/container", "podman", ID1);
	expect_container("/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID1 ".scope",
			 "podman", ID1);
	expect_container("/system.slice/web.service/libpod-payload-" ID1, "podman", ID1);
	expect_container("/user.slice/user-1000.slice/user@1000.service/app.slice/web.service/"
			 "libpod-payload-" ID1,
			 "podman", ID1);
}

/* conmon, podman's cgroup parents and pods are not containers. */
static void test_podman_not_containers(void **state)
{
	char path[256];

	(void)state;
	expect_none("/machine.slice/libpod-conmon-" ID1 ".scope");
	expect_none("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID1
		    ".scope");
	expect_none("/libpod_parent");
	expect_none("/libpod_parent/conmon");
	/* A pod's cgroup (its id is bare) and its conmon. */
	expect_none("/libpod_parent/" ID2);
	expect_none("/libpod_parent/" ID2 "/conmon");
	expect_none("/machine.slice/machine-libpod_pod_" ID2 ".slice");
	/* Quadlet: the unit itself and conmon's sibling of the payload. */
	expect_none("/system.slice/web.service");
	expect_none("/system.slice/web.service/runtime");
	/* Near misses. */
	expect_none("/libpod_parent/libpod-" ID1 ".slice");
	expect_none("/libpod_parent/libpod-" ID1 "0");
	expect_none("/libpod_parent/xlibpod-" ID1);
	expect_none("/system.slice/web.service/libpod-payload-" ID1 ".scope");
	snprintf(path, sizeof(path), "/machine.slice/libpod-%.63s.scope", ID1);
	expect_none(path);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_layouts),
		cmocka_unit_test(test_podman_layouts),
		cmocka_unit_test(test_kubernetes_layouts),
		cmocka_unit_test(test_not_containers),
		cmocka_unit_test(test_kubepods_layouts),
		cmocka_unit_test(test_kubepods_not_containers),
		cmocka_unit_test(test_kubepods_crio_cgroupfs),
		TMP_TEST(test_find_mount),
		TMP_TEST(test_find_mount_long_line),
		TMP_TEST(test_find_mount_small_buffer),
		TMP_TEST(test_find_mount_missing_file),
		cmocka_unit_test(test_find_mount_self),
		TMP_TEST(test_cgroup_id_of),
		TMP_TEST(test_paths_refresh_lookup),
		TMP_TEST(test_paths_lookup_walks_on_miss),
		TMP_TEST(test_paths_lookup_rate_limit),
		TMP_TEST(test_paths_refresh_forgets),
		TMP_TEST(test_paths_missing_mount),
		cmocka_unit_test(test_podman_real_layouts),
		cmocka_unit_test(test_podman_not_containers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
