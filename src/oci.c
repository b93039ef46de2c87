// SPDX-License-Identifier: GPL-2.0-only
/*
 * Names of Kubernetes containers from the OCI config.json that containerd
 * and CRI-O write for every container they create (see oci.h).
 *
 * The annotation keys, as the runtimes' own sources define them:
 *
 *   containerd, pkg/cri/annotations/annotations.go (DefaultCRIAnnotations):
 *     io.kubernetes.cri.container-type   "sandbox" or "container"
 *     io.kubernetes.cri.sandbox-name     pod name       } on sandboxes
 *     io.kubernetes.cri.sandbox-namespace pod namespace } and containers
 *     io.kubernetes.cri.sandbox-uid      pod uid        }
 *     io.kubernetes.cri.container-name   } on containers only
 *     io.kubernetes.cri.image-name       }
 *
 *   CRI-O, pkg/annotations/internal.go:
 *     io.kubernetes.cri-o.ContainerType  "sandbox" or "container"
 *     io.kubernetes.cri-o.ImageName      "some name of the image", "" when
 *                                        the pod asked for an image by id
 *     io.kubernetes.cri-o.Image          the image as the pod asked for it
 *                                        (on a sandbox: the pause image)
 *   and CRI-O copies the kubelet's labels into the annotations of both
 *   sandboxes and containers (server/sandbox_run_linux.go,
 *   server/container_create_linux.go), under the keys of Kubernetes'
 *   pkg/kubelet/types/labels.go: io.kubernetes.pod.name,
 *   io.kubernetes.pod.namespace, io.kubernetes.pod.uid and
 *   io.kubernetes.container.name ("POD" on the sandbox).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci.h"

/* Where each CRI implementation keeps the Kubernetes identity. */
struct cri_annotations {
	const char *runtime;
	const char *container_type; /* its presence says which runtime wrote the file */
	const char *container_name;
	const char *pod_name;
	const char *pod_namespace;
	const char *pod_uid;
	const char *image;
	const char *image_fallback; /* when image is missing or empty */
};

static const struct cri_annotations cri_flavours[] = {
	{
		.runtime = "containerd",
		.container_type = "io.kubernetes.cri.container-type",
		.container_name = "io.kubernetes.cri.container-name",
		.pod_name = "io.kubernetes.cri.sandbox-name",
		.pod_namespace = "io.kubernetes.cri.sandbox-namespace",
		.pod_uid = "io.kubernetes.cri.sandbox-uid",
		.image = "io.kubernetes.cri.image-name",
	},
	{
		.runtime = "cri-o",
		.container_type = "io.kubernetes.cri-o.ContainerType",
		.container_name = "io.kubernetes.container.name",
		.pod_name = "io.kubernetes.pod.name",
		.pod_namespace = "io.kubernetes.pod.namespace",
		.pod_uid = "io.kubernetes.pod.uid",
		.image = "io.kubernetes.cri-o.ImageName",
		.image_fallback = "io.kubernetes.cri-o.Image",
	},
};

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Errors quote annotation keys and directory names, which may hold any
 * byte; they go to a log one line each, so control characters become '?'.
 */
static void make_one_line(char *err)
{
	for (unsigned char *p = (unsigned char *)err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* The annotation's value, or NULL; every value was checked to be a string. */
static const char *annotation(json_t *annotations, const char *key)
{
	return key ? json_string_value(json_object_get(annotations, key)) : NULL;
}

/*
 * The OCI runtime spec makes annotations a map of strings; anything else
 * means the file is not what a runtime wrote.
 */
static int check_annotations(json_t *annotations, char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	if (!annotations || json_is_null(annotations))
		return 0;
	if (!json_is_object(annotations)) {
		snprintf(err, errlen, "annotations: not an object");
		return -1;
	}
	json_object_foreach(annotations, key, value) {
		if (!json_is_string(value)) {
			snprintf(err, errlen, "annotations[\"%.80s\"]: not a string", key);
			return -1;
		}
	}
	return 0;
}

static void parse_kubernetes(json_t *annotations, struct container *out)
{
	const struct cri_annotations *keys = NULL;
	const char *type, *image;

	for (size_t i = 0; i < sizeof(cri_flavours) / sizeof(cri_flavours[0]); i++) {
		if (annotation(annotations, cri_flavours[i].container_type)) {
			keys = &cri_flavours[i];
			break;
		}
	}
	if (!keys)
		return; /* not created through the CRI: no pod to name */

	out->runtime = keys->runtime;
	type = annotation(annotations, keys->container_type);
	copy_text(out->k8s.pod_name, sizeof(out->k8s.pod_name),
		  annotation(annotations, keys->pod_name));
	copy_text(out->k8s.pod_namespace, sizeof(out->k8s.pod_namespace),
		  annotation(annotations, keys->pod_namespace));
	copy_text(out->k8s.pod_uid, sizeof(out->k8s.pod_uid),
		  annotation(annotations, keys->pod_uid));
	/*
	 * The sandbox (pause) container holds the pod's namespaces and has no
	 * Kubernetes container name of its own (CRI-O labels it "POD", as
	 * dockershim did; containerd gives it none): it is named after its pod,
	 * which is what owns whatever it is seen doing.
	 */
	if (type && !strcmp(type, "sandbox"))
		copy_text(out->name, sizeof(out->name), out->k8s.pod_name);
	else
		copy_text(out->name, sizeof(out->name),
			  annotation(annotations, keys->container_name));

	image = annotation(annotations, keys->image);
	if (!image || !*image)
		image = annotation(annotations, keys->image_fallback);
	copy_text(out->image, sizeof(out->image), image);
	image_tag_of(out->image, out->image_tag, sizeof(out->image_tag));
}

/* process.user: the username where the spec gives one, else the uid. */
static int parse_user(json_t *process, struct container *out, char *err, size_t errlen)
{
	json_t *user, *uid, *username;

	if (!process || json_is_null(process))
		return 0;
	if (!json_is_object(process)) {
		snprintf(err, errlen, "process: not an object");
		return -1;
	}
	user = json_object_get(process, "user");
	if (!user || json_is_null(user))
		return 0;
	if (!json_is_object(user)) {
		snprintf(err, errlen, "process.user: not an object");
		return -1;
	}
	uid = json_object_get(user, "uid");
	username = json_object_get(user, "username");
	if (username && !json_is_string(username)) {
		snprintf(err, errlen, "process.user.username: not a string");
		return -1;
	}
	if (uid && (!json_is_integer(uid) || json_integer_value(uid) < 0 ||
		    json_integer_value(uid) > UINT32_MAX)) {
		snprintf(err, errlen, "process.user.uid: not an integer from 0 to %u", UINT32_MAX);
		return -1;
	}
	if (username && *json_string_value(username))
		copy_text(out->user, sizeof(out->user), json_string_value(username));
	else if (uid)
		snprintf(out->user, sizeof(out->user), "%lld", (long long)json_integer_value(uid));
	return 0;
}

static int parse_root(json_t *root, struct container *out, char *err, size_t errlen)
{
	json_t *readonly;

	if (!root || json_is_null(root))
		return 0;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "root: not an object");
		return -1;
	}
	readonly = json_object_get(root, "readonly");
	if (readonly && !json_is_boolean(readonly)) {
		snprintf(err, errlen, "root.readonly: not a boolean");
		return -1;
	}
	out->read_only_rootfs = json_is_true(readonly);
	return 0;
}

/*
 * A namespace type the spec does not list is inherited from the runtime
 * (runtime-spec config-linux.md): no "network" entry is a pod with
 * hostNetwork. Other containers join their sandbox's network namespace,
 * for which network_mode has no word; it stays empty.
 */
static int parse_network_mode(json_t *linux_spec, struct container *out, char *err, size_t errlen)
{
	json_t *namespaces, *ns;
	size_t i;

	if (!json_is_object(linux_spec))
		return 0;
	namespaces = json_object_get(linux_spec, "namespaces");
	if (!namespaces || json_is_null(namespaces))
		return 0;
	if (!json_is_array(namespaces)) {
		snprintf(err, errlen, "linux.namespaces: not an array");
		return -1;
	}
	json_array_foreach(namespaces, i, ns) {
		const char *type = json_string_value(json_object_get(ns, "type"));

		if (!type) {
			snprintf(err, errlen, "linux.namespaces[%zu]: no string type", i);
			return -1;
		}
		if (!strcmp(type, "network"))
			return 0;
	}
	copy_text(out->network_mode, sizeof(out->network_mode), "host");
	return 0;
}

int oci_parse_config(const char *body, size_t len, const char *id, struct container *out, char *err,
		     size_t errlen)
{
	json_t *config = NULL, *annotations;
	json_error_t jerr;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (len > OCI_MAX_CONFIG) {
		snprintf(err, errlen, "%zu bytes, more than the %u-byte limit", len,
			 OCI_MAX_CONFIG);
		goto out;
	}
	/* Go never writes duplicate keys; which one counts would be a guess. */
	config = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!config) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(config)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	annotations = json_object_get(config, "annotations");
	if (check_annotations(annotations, err, errlen) ||
	    parse_user(json_object_get(config, "process"), out, err, errlen) ||
	    parse_root(json_object_get(config, "root"), out, err, errlen) ||
	    parse_network_mode(json_object_get(config, "linux"), out, err, errlen))
		goto out;
	copy_text(out->id, sizeof(out->id), id);
	parse_kubernetes(annotations, out);
	ret = 0;
out:
	json_decref(config);
	if (ret) {
		container_clear(out);
		make_one_line(err);
	}
	return ret;
}

/* Container ids go into paths: nothing but what a runtime generates. */
static bool valid_container_id(const char *id)
{
	size_t len = strnlen(id, CONTAINER_ID_MAX + 1);

	return len && len <= CONTAINER_ID_MAX && is_lower_hex(id, len);
}

/* root + "/" + rel, without doubling the slash of root "/". */
static int join_path(char *out, size_t size, const char *root, const char *rel, char *err,
		     size_t errlen)
{
	size_t root_len = strlen(root);
	const char *sep = root_len && root[root_len - 1] == '/' ? "" : "/";
	int n = snprintf(out, size, "%s%s%s", root, sep, rel);

	if (n < 0 || (size_t)n >= size) {
		snprintf(err, errlen, "%.64s...: path too long", root);
		return -1;
	}
	return 0;
}

/*
 * Reads path whole into *body (NUL-terminated). The last component must not
 * be a symlink: a state directory a container can write to (a mount) must
 * not make berth read another file. 1 when there is no such file.
 */
static int read_config(const char *path, char **body, size_t *len, char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO planted there must not hang berth. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	size_t size, got = 0;
	struct stat st;
	char *buf = NULL;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		if (errno == ELOOP)
			snprintf(err, errlen, "%s: a symbolic link, refused", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > OCI_MAX_CONFIG) {
		snprintf(err, errlen, "%s: %lld bytes, more than the %u-byte limit", path,
			 (long long)st.st_size, OCI_MAX_CONFIG);
		goto fail;
	}
	/* One byte more than fstat said: filling it means the file grew. */
	size = (size_t)st.st_size + 1;
	buf = malloc(size);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += n;
	}
	if (got == size) {
		snprintf(err, errlen, "%s: grew while being read", path);
		goto fail;
	}
	close(fd);
	buf[got] = '\0';
	*body = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* 0 parsed, 1 no such file, -1 error: the contract of oci_lookup_container. */
static int try_config(const char *path, const char *id, const char *runtime, struct container *out,
		      char *err, size_t errlen)
{
	char reason[256];
	char *body;
	size_t len;
	int ret;

	ret = read_config(path, &body, &len, err, errlen);
	if (ret)
		return ret;
	ret = oci_parse_config(body, len, id, out, reason, sizeof(reason));
	free(body);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, reason);
		return -1;
	}
	/* Where the file is says who wrote it, annotations or not. */
	out->runtime = runtime;
	return 0;
}

#define CONTAINERD_TASKS "run/containerd/io.containerd.runtime.v2.task"

/*
 * containerd keeps one bundle directory per namespace and container.
 * Kubernetes uses namespace k8s.io; the others (nerdctl's "default",
 * Docker's "moby") are looked through after it.
 */
static int lookup_containerd(const char *root, const char *id, struct container *out, char *err,
			     size_t errlen)
{
	char tasks[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
	struct dirent *entry;
	int ret = 1;
	DIR *dir;

	snprintf(rel, sizeof(rel), CONTAINERD_TASKS "/k8s.io/%s/config.json", id);
	if (join_path(path, sizeof(path), root, rel, err, errlen))
		return -1;
	ret = try_config(path, id, "containerd", out, err, errlen);
	if (ret != 1)
		return ret;

	if (join_path(tasks, sizeof(tasks), root, CONTAINERD_TASKS, err, errlen))
		return -1;
	dir = opendir(tasks);
	if (!dir) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		snprintf(err, errlen, "%s: %s", tasks, strerror(errno));
		return -1;
	}
	while ((entry = readdir(dir))) {
		const char *ns = entry->d_name;
		int n;

		if (!strcmp(ns, ".") || !strcmp(ns, "..") || !strcmp(ns, "k8s.io"))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/%s/config.json", tasks, ns, id);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		ret = try_config(path, id, "containerd", out, err, errlen);
		if (ret != 1)
			break;
	}
	closedir(dir);
	return ret;
}

/*
 * CRI-O writes each config.json twice (server/sandbox_run_linux.go,
 * container_create.go): into the run directory (runroot, tmpfs) and the
 * container directory (graphroot). The run directory's copy is the one the
 * runtime was started with; the other survives a reboot.
 */
static const char *const crio_dirs[] = {
	"run/containers/storage/overlay-containers",
	"var/lib/containers/storage/overlay-containers",
};

int oci_lookup_container(const char *root, const char *id, struct container *out, char *err,
			 size_t errlen)
{
	char path[PATH_MAX], rel[PATH_MAX];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!id || !valid_container_id(id)) {
		snprintf(err, errlen, "container id '%.80s': not 1 to %d lower-case hex digits",
			 id ? id : "(null)", CONTAINER_ID_MAX);
		make_one_line(err);
		return -1;
	}
	ret = lookup_containerd(root, id, out, err, errlen);
	for (size_t i = 0; ret == 1 && i < sizeof(crio_dirs) / sizeof(crio_dirs[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s/userdata/config.json", crio_dirs[i], id);
		if (join_path(path, sizeof(path), root, rel, err, errlen))
			ret = -1;
		else
			ret = try_config(path, id, "cri-o", out, err, errlen);
	}
	if (ret == 1)
		snprintf(err, errlen, "no config.json of containerd or CRI-O for %s under %s", id,
			 root);
	if (ret)
		make_one_line(err);
	return ret;
}
