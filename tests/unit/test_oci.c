// SPDX-License-Identifier: GPL-2.0-only
/*
 * oci.c: names of containerd and CRI-O containers under Kubernetes, from
 * the config.json each runtime writes into its state directory.
 *
 * These are fixtures: no Kubernetes, containerd or CRI-O runs on this
 * machine. The trees under tests/fixtures/oci/ are modelled on what those
 * runtimes write (see the README there); the inline bodies below are cut
 * down from them. Broken files (malformed, truncated, oversized, symlinked,
 * FIFOs) are made per test in a temporary directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "oci.h"
#include "tmpdir.h"

/* The ids of the fixture trees. */
#define CONTAINERD_NGINX "13e97772e89c4e9f66227d3e923f4d6c7b999b8aa5196e7ccf481c9fd594516b"
#define CONTAINERD_SANDBOX "5249040b2aec0d1753354358872695bdef177866b80bd8e4cc9c71875ba9b299"
#define NERDCTL_PROXY "c968ced432477d4e206ff478686d720dc45517d3a78f4fd98fa49dba8586feb2"
#define CRIO_REDIS "6b5f1d33d6f0c7c8e47d61442f718a1dc5c6ddfc984cee6c2bec219c51e0040f"
#define CRIO_SANDBOX "714d37d453a5bc3f4ab9fd52fd062df793fb43e7b5af58af0a65cae188dde1f5"
#define POD_UID "3c1d2e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6"
#define CRIO_POD_UID "9b2f7c1e-0d4a-4e8b-b1c6-5f3a2d7e8c90"
#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#define CONTAINERD_TASKS "run/containerd/io.containerd.runtime.v2.task"
#define CRIO_RUN "run/containers/storage/overlay-containers"
#define CRIO_LIB "var/lib/containers/storage/overlay-containers"

/* tests/run runs every binary from the repository root. */
static const char *fixture_root(const char *runtime)
{
	static char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "tests/fixtures/oci/%s", runtime);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		fail_msg("%s: no fixture tree here; run from the repository root (tests/run does)",
			 path);
	return path;
}

/* ---- oci_parse_config on bodies written out here ---- */

static int parse(const char *body, const char *id, struct container *c, char *err, size_t errlen)
{
	return oci_parse_config(body, strlen(body), id, c, err, errlen);
}

static const char containerd_container[] =
	"{\"ociVersion\":\"1.1.0\","
	"\"process\":{\"user\":{\"uid\":101,\"gid\":101,\"additionalGids\":[101]},"
	"\"args\":[\"nginx\",\"-g\",\"daemon off;\"],\"cwd\":\"/\"},"
	"\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
	"\"annotations\":{"
	"\"io.kubernetes.cri.container-name\":\"nginx\","
	"\"io.kubernetes.cri.container-type\":\"container\","
	"\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.27\","
	"\"io.kubernetes.cri.sandbox-id\":\"" CONTAINERD_SANDBOX "\","
	"\"io.kubernetes.cri.sandbox-name\":\"web-6d4cf56db6-x7k2p\","
	"\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
	"\"io.kubernetes.cri.sandbox-uid\":\"" POD_UID "\"},"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
	"{\"type\":\"network\",\"path\":\"/proc/4242/ns/net\"}]}}";

static void test_parse_containerd_container(void **state)
{
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(containerd_container, CONTAINERD_NGINX, &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.id, CONTAINERD_NGINX);
	assert_string_equal(c.name, "nginx");
	assert_string_equal(c.image, "docker.io/library/nginx:1.27");
	assert_string_equal(c.image_tag, "1.27");
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.user, "101");
	assert_true(c.read_only_rootfs);
	assert_false(c.privileged);
	/* It joins the sandbox's network namespace: not the host's. */
	assert_string_equal(c.network_mode, "");
	assert_string_equal(c.k8s.pod_name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(c.k8s.pod_namespace, "shop");
	assert_string_equal(c.k8s.pod_uid, POD_UID);
	/* Annotations are not labels. */
	assert_int_equal(c.n_labels, 0);
	assert_int_equal(c.n_bindings, 0);
	container_clear(&c);
}

/* containerd gives a sandbox no container or image name. */
static void test_parse_containerd_sandbox(void **state)
{
	static const char body[] =
		"{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":65535,\"gid\":65535},"
		"\"args\":[\"/pause\"]},\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
		"\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
		"\"io.kubernetes.cri.sandbox-id\":\"" CONTAINERD_SANDBOX "\","
		"\"io.kubernetes.cri.sandbox-name\":\"web-6d4cf56db6-x7k2p\","
		"\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
		"\"io.kubernetes.cri.sandbox-uid\":\"" POD_UID "\"}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, CONTAINERD_SANDBOX, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(c.k8s.pod_name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(c.k8s.pod_namespace, "shop");
	assert_string_equal(c.image, "");
	assert_string_equal(c.image_tag, "");
	assert_string_equal(c.user, "65535");
	assert_string_equal(c.runtime, "containerd");
	container_clear(&c);
}

static void test_parse_crio_container(void **state)
{
	static const char body[] =
		"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":999,\"gid\":999}},"
		"\"root\":{\"path\":\"/var/lib/containers/storage/overlay/x/merged\"},"
		"\"annotations\":{\"io.container.manager\":\"cri-o\","
		"\"io.kubernetes.container.name\":\"redis\","
		"\"io.kubernetes.cri-o.ContainerType\":\"container\","
		"\"io.kubernetes.cri-o.Image\":\"redis:7.4\","
		"\"io.kubernetes.cri-o.ImageName\":\"docker.io/library/redis:7.4\","
		"\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"cache-0\\\"}\","
		"\"io.kubernetes.pod.name\":\"cache-0\","
		"\"io.kubernetes.pod.namespace\":\"data\","
		"\"io.kubernetes.pod.uid\":\"" CRIO_POD_UID "\"},"
		"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
		"{\"type\":\"network\",\"path\":\"/var/run/netns/2d8f1b0c\"}]}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, CRIO_REDIS, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "redis");
	assert_string_equal(c.image, "docker.io/library/redis:7.4");
	assert_string_equal(c.image_tag, "7.4");
	assert_string_equal(c.runtime, "cri-o");
	assert_string_equal(c.user, "999");
	assert_false(c.read_only_rootfs);
	assert_string_equal(c.network_mode, "");
	assert_string_equal(c.k8s.pod_name, "cache-0");
	assert_string_equal(c.k8s.pod_namespace, "data");
	assert_string_equal(c.k8s.pod_uid, CRIO_POD_UID);
	container_clear(&c);
}

/*
 * CRI-O's sandbox: labelled "POD" by the kubelet, named here after its
 * pod; its image (the pause image) is only in io.kubernetes.cri-o.Image.
 */
static void test_parse_crio_sandbox(void **state)
{
	static const char body[] =
		"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":65535,\"gid\":65535}},"
		"\"root\":{\"path\":\"/var/lib/containers/storage/overlay/y/merged\",\"readonly\":true},"
		"\"annotations\":{\"io.kubernetes.container.name\":\"POD\","
		"\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		"\"io.kubernetes.cri-o.Image\":\"registry.k8s.io/pause:3.10\","
		"\"io.kubernetes.cri-o.KubeName\":\"cache-0\","
		"\"io.kubernetes.pod.name\":\"cache-0\","
		"\"io.kubernetes.pod.namespace\":\"data\","
		"\"io.kubernetes.pod.uid\":\"" CRIO_POD_UID "\"}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, CRIO_SANDBOX, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "cache-0");
	assert_string_equal(c.image, "registry.k8s.io/pause:3.10");
	assert_string_equal(c.image_tag, "3.10");
	assert_string_equal(c.runtime, "cri-o");
	assert_true(c.read_only_rootfs);
	container_clear(&c);
}

/* A pod that asked for its image by digest: ImageName is "". */
static void test_parse_crio_image_by_digest(void **state)
{
	static const char body[] =
		"{\"annotations\":{\"io.kubernetes.container.name\":\"app\","
		"\"io.kubernetes.cri-o.ContainerType\":\"container\","
		"\"io.kubernetes.cri-o.Image\":\"quay.io/acme/app@sha256:"
		"db47d6c2d4be84d6f87dd21243354b158530454273723916c652c0b97deff5c0\","
		"\"io.kubernetes.cri-o.ImageName\":\"\","
		"\"io.kubernetes.pod.name\":\"app-1\"}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, ID1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.image,
			    "quay.io/acme/app@sha256:"
			    "db47d6c2d4be84d6f87dd21243354b158530454273723916c652c0b97deff5c0");
	assert_string_equal(c.image_tag, "");
	container_clear(&c);
}

/* A config.json from outside the CRI (nerdctl, ctr): parsed, not named. */
static void test_parse_without_kubernetes(void **state)
{
	static const char body[] =
		"{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":0,\"gid\":0}},"
		"\"root\":{\"path\":\"rootfs\"},"
		"\"annotations\":{\"nerdctl/name\":\"proxy\",\"nerdctl/namespace\":\"default\"}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, NERDCTL_PROXY, &c, err, sizeof(err)), 0);
	assert_string_equal(c.id, NERDCTL_PROXY);
	assert_string_equal(c.name, "");
	assert_null(c.runtime);
	assert_string_equal(c.user, "0");
	assert_string_equal(c.k8s.pod_name, "");
	container_clear(&c);

	/* The least a runtime could write. */
	assert_int_equal(parse("{}", NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.id, "");
	assert_string_equal(c.user, "");
	assert_string_equal(c.network_mode, "");
	assert_false(c.read_only_rootfs);
	container_clear(&c);

	/* Explicit nulls are what Go writes for unset maps and pointers. */
	assert_int_equal(parse("{\"process\":{\"user\":null},\"root\":null,\"annotations\":null,"
			       "\"linux\":{\"namespaces\":null}}",
			       ID1, &c, err, sizeof(err)),
			 0);
	container_clear(&c);
}

static void test_parse_user(void **state)
{
	struct container c;
	char err[256] = "";

	(void)state;
	/* A username where the spec gives one (Windows does; Linux may). */
	assert_int_equal(parse("{\"process\":{\"user\":{\"uid\":1000,\"username\":\"app\"}}}", ID1,
			       &c, err, sizeof(err)),
			 0);
	assert_string_equal(c.user, "app");
	container_clear(&c);
	assert_int_equal(parse("{\"process\":{\"user\":{\"uid\":1000,\"username\":\"\"}}}", ID1, &c,
			       err, sizeof(err)),
			 0);
	assert_string_equal(c.user, "1000");
	container_clear(&c);
	/* The largest uid there is. */
	assert_int_equal(
		parse("{\"process\":{\"user\":{\"uid\":4294967295}}}", ID1, &c, err, sizeof(err)),
		0);
	assert_string_equal(c.user, "4294967295");
	container_clear(&c);
}

/* hostNetwork: the spec lists no network namespace, so none is made. */
static void test_parse_host_network(void **state)
{
	static const char body[] =
		"{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
		"\"io.kubernetes.cri.container-name\":\"node-exporter\","
		"\"io.kubernetes.cri.sandbox-name\":\"node-exporter-x2c9f\"},"
		"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
		"{\"type\":\"uts\"},{\"type\":\"mount\"}]}}";
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(body, ID1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "node-exporter");
	assert_string_equal(c.network_mode, "host");
	container_clear(&c);
}

/* Values longer than the record's fields are cut, still terminated. */
static void test_parse_long_values(void **state)
{
	size_t long_len = 4000, n;
	char *body = malloc(long_len * 3 + 512), *p;
	struct container c;
	char err[256] = "";

	(void)state;
	assert_non_null(body);
	p = body;
	p += sprintf(p, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
			"\"io.kubernetes.cri.container-name\":\"");
	memset(p, 'n', long_len);
	p += long_len;
	p += sprintf(p, "\",\"io.kubernetes.cri.sandbox-name\":\"");
	memset(p, 'p', long_len);
	p += long_len;
	p += sprintf(p, "\",\"io.kubernetes.cri.image-name\":\"registry/");
	memset(p, 'i', long_len);
	p += long_len;
	sprintf(p, ":tag\"}}");

	assert_int_equal(parse(body, ID1, &c, err, sizeof(err)), 0);
	n = strlen(c.name);
	assert_int_equal(n, sizeof(c.name) - 1);
	assert_int_equal(strlen(c.k8s.pod_name), sizeof(c.k8s.pod_name) - 1);
	assert_int_equal(strlen(c.image), sizeof(c.image) - 1);
	/* The tag is of the image as kept: the cut removed ":tag". */
	assert_string_equal(c.image_tag, "");
	container_clear(&c);
	free(body);
}

/* ---- oci_parse_config on bad input ---- */

/* -1, a one-line err containing want, and nothing left in c. */
static void expect_parse_error(const char *body, size_t len, const char *want)
{
	struct container c;
	char err[256] = "";

	memset(&c, 0xa5, sizeof(c));
	if (oci_parse_config(body, len, ID1, &c, err, sizeof(err)) != -1)
		fail_msg("parsed: %.80s", body);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s' (body %.80s)", err, want, body);
	assert_null(strchr(err, '\n'));
	assert_string_equal(c.id, "");
	assert_string_equal(c.name, "");
	assert_null(c.labels);
	assert_null(c.bindings);
}

static void expect_error(const char *body, const char *want)
{
	expect_parse_error(body, strlen(body), want);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	expect_error("", "invalid JSON at line 1 column 0");
	expect_error("{", "invalid JSON at line 1 column 1");
	expect_error("{\"ociVersion\":\"1.1.0\",\n\"process\":{\"user\":{\"uid\":0,}}}",
		     "invalid JSON at line 2 column ");
	expect_error("not json", "invalid JSON at line 1");
	expect_error("{\"a\":1} trailing", "invalid JSON");
	/* Go never writes duplicates; which one counts would be a guess. */
	expect_error("{\"root\":{\"readonly\":false},\"root\":{\"readonly\":true}}",
		     "duplicate object key");
	/* NUL inside a string. */
	expect_error("{\"annotations\":{\"io.kubernetes.cri.container-name\":\"a\\u0000b\"}}",
		     "invalid JSON");
	expect_error("[]", "not a JSON object");
	expect_error("\"config\"", "invalid JSON");
	expect_error("null", "invalid JSON");
}

/* The fixture cut at every 512th byte: never a crash, always a position. */
static void test_parse_truncated(void **state)
{
	char path[512], *body;
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path),
		 "%s/" CONTAINERD_TASKS "/k8s.io/" CONTAINERD_NGINX "/config.json",
		 fixture_root("containerd"));
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	body = malloc(st.st_size);
	assert_non_null(body);
	assert_int_equal(fread(body, 1, st.st_size, f), (size_t)st.st_size);
	fclose(f);

	for (off_t len = 0; len < st.st_size - 2; len += 512)
		expect_parse_error(body, len, "invalid JSON at line ");
	free(body);
}

static void test_parse_too_large(void **state)
{
	size_t len = OCI_MAX_CONFIG + 1;
	char *body = malloc(len);

	(void)state;
	assert_non_null(body);
	/* Valid JSON: the size alone is refused, before any parsing. */
	memset(body, ' ', len);
	body[0] = '{';
	body[len - 1] = '}';
	expect_parse_error(body, len, "more than the 4194304-byte limit");
	free(body);
}

static void test_parse_wrong_types(void **state)
{
	(void)state;
	expect_error("{\"annotations\":[]}", "annotations: not an object");
	expect_error("{\"annotations\":\"io.kubernetes.cri.container-name=nginx\"}",
		     "annotations: not an object");
	expect_error("{\"annotations\":{\"io.kubernetes.cri.container-name\":5}}",
		     "annotations[\"io.kubernetes.cri.container-name\"]: not a string");
	expect_error("{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
		     "\"io.kubernetes.cri.sandbox-name\":{\"name\":\"web\"}}}",
		     "annotations[\"io.kubernetes.cri.sandbox-name\"]: not a string");
	/* A key is quoted on one line, whatever bytes it holds. */
	expect_error("{\"annotations\":{\"bad\\nkey\\u001b[2J\":1}}",
		     "annotations[\"bad?key?[2J\"]: not a string");
	/* Any value, even one berth does not read: the spec says strings. */
	expect_error("{\"annotations\":{\"com.example.count\":null}}",
		     "annotations[\"com.example.count\"]: not a string");
	expect_error("{\"process\":[]}", "process: not an object");
	expect_error("{\"process\":{\"user\":0}}", "process.user: not an object");
	expect_error("{\"process\":{\"user\":{\"uid\":\"0\"}}}",
		     "process.user.uid: not an integer");
	expect_error("{\"process\":{\"user\":{\"uid\":-1}}}", "process.user.uid: not an integer");
	expect_error("{\"process\":{\"user\":{\"uid\":4294967296}}}",
		     "process.user.uid: not an integer");
	expect_error("{\"process\":{\"user\":{\"uid\":1.5}}}", "process.user.uid: not an integer");
	expect_error("{\"process\":{\"user\":{\"uid\":0,\"username\":7}}}",
		     "process.user.username: not a string");
	expect_error("{\"root\":\"rootfs\"}", "root: not an object");
	expect_error("{\"root\":{\"path\":\"rootfs\",\"readonly\":\"true\"}}",
		     "root.readonly: not a boolean");
	expect_error("{\"linux\":{\"namespaces\":{\"type\":\"network\"}}}",
		     "linux.namespaces: not an array");
	expect_error("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"path\":\"/x\"}]}}",
		     "linux.namespaces[1]: no string type");
	expect_error("{\"linux\":{\"namespaces\":[\"network\"]}}",
		     "linux.namespaces[0]: no string type");
}

/* ---- oci_lookup_container on the fixture trees ---- */

static void test_lookup_containerd(void **state)
{
	const char *root = fixture_root("containerd");
	struct container c;
	char err[512] = "";

	(void)state;
	assert_int_equal(oci_lookup_container(root, CONTAINERD_NGINX, &c, err, sizeof(err)), 0);
	assert_string_equal(c.id, CONTAINERD_NGINX);
	assert_string_equal(c.name, "nginx");
	assert_string_equal(c.image, "docker.io/library/nginx:1.27");
	assert_string_equal(c.image_tag, "1.27");
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.user, "101");
	assert_true(c.read_only_rootfs);
	assert_string_equal(c.k8s.pod_name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(c.k8s.pod_namespace, "shop");
	assert_string_equal(c.k8s.pod_uid, POD_UID);
	container_clear(&c);

	assert_int_equal(oci_lookup_container(root, CONTAINERD_SANDBOX, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(c.k8s.pod_namespace, "shop");
	assert_string_equal(c.user, "65535");
	container_clear(&c);
}

/* Namespaces other than k8s.io are looked through too. */
static void test_lookup_containerd_other_namespace(void **state)
{
	struct container c;
	char err[512] = "";

	(void)state;
	assert_int_equal(oci_lookup_container(fixture_root("containerd"), NERDCTL_PROXY, &c, err,
					      sizeof(err)),
			 0);
	assert_string_equal(c.id, NERDCTL_PROXY);
	/* Found in containerd's directory: containerd, annotations or not. */
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.name, "");
	assert_string_equal(c.k8s.pod_name, "");
	assert_string_equal(c.user, "0");
	container_clear(&c);
}

static void test_lookup_crio(void **state)
{
	const char *root = fixture_root("crio");
	struct container c;
	char err[512] = "";

	(void)state;
	assert_int_equal(oci_lookup_container(root, CRIO_REDIS, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "redis");
	assert_string_equal(c.image, "docker.io/library/redis:7.4");
	assert_string_equal(c.image_tag, "7.4");
	assert_string_equal(c.runtime, "cri-o");
	assert_string_equal(c.user, "999");
	assert_false(c.read_only_rootfs);
	assert_string_equal(c.k8s.pod_name, "cache-0");
	assert_string_equal(c.k8s.pod_namespace, "data");
	assert_string_equal(c.k8s.pod_uid, CRIO_POD_UID);
	container_clear(&c);

	/* Only under var/lib (graphroot) in the fixture. */
	assert_int_equal(oci_lookup_container(root, CRIO_SANDBOX, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "cache-0");
	assert_string_equal(c.image, "registry.k8s.io/pause:3.10");
	assert_string_equal(c.runtime, "cri-o");
	assert_true(c.read_only_rootfs);
	container_clear(&c);
}

static void test_lookup_not_found(void **state)
{
	struct container c;
	char err[512] = "", root[300];

	(void)state;
	/* Neither runtime has it: 1, not an error. */
	assert_int_equal(
		oci_lookup_container(fixture_root("containerd"), ID1, &c, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "no config.json"));
	assert_string_equal(c.name, "");
	/* The other runtime's container. */
	assert_int_equal(
		oci_lookup_container(fixture_root("crio"), CONTAINERD_NGINX, &c, err, sizeof(err)),
		1);
	assert_int_equal(
		oci_lookup_container(fixture_root("containerd"), CRIO_REDIS, &c, err, sizeof(err)),
		1);
	/* A root with no state directories at all. */
	snprintf(root, sizeof(root), "%s/does-not-exist", fixture_root("crio"));
	assert_int_equal(oci_lookup_container(root, CRIO_REDIS, &c, err, sizeof(err)), 1);
	/* A prefix of an id is another id, not a match. */
	assert_int_equal(
		oci_lookup_container(fixture_root("crio"), "6b5f1d33d6f0", &c, err, sizeof(err)),
		1);
}

/* "/" in production: a trailing slash must not matter. */
static void test_lookup_root_with_slash(void **state)
{
	struct container c;
	char err[512] = "", root[300];

	(void)state;
	snprintf(root, sizeof(root), "%s/", fixture_root("crio"));
	assert_int_equal(oci_lookup_container(root, CRIO_REDIS, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "redis");
	container_clear(&c);
}

/* ---- oci_lookup_container on bad trees ---- */

static void make_dirs(const char *base, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	for (char *p = path + strlen(base) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %m", path);
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %m", path);
}

/* Writes len bytes of body to base/rel, making the directories. */
static void write_file(const char *base, const char *rel, const char *body, size_t len)
{
	char path[1024], dir[1024], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		make_dirs(base, dir);
	}
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	f = fopen(path, "w");
	if (!f)
		fail_msg("fopen %s: %m", path);
	assert_int_equal(fwrite(body, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *base, const char *rel, const char *body)
{
	write_file(base, rel, body, strlen(body));
}

static const char crio_named_app[] = "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":"
				     "\"container\",\"io.kubernetes.container.name\":\"app\"}}";

/* -1 and an err that names the problem (and, for files, the file). */
static void expect_lookup_error(const char *root, const char *id, const char *want)
{
	struct container c;
	char err[512] = "";

	if (oci_lookup_container(root, id, &c, err, sizeof(err)) != -1)
		fail_msg("looking up '%s' under %s did not fail", id ? id : "(null)", root);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_null(strchr(err, '\n'));
	assert_string_equal(c.name, "");
	assert_null(c.runtime);
}

/* Ids go into paths: anything but 1 to 64 lower-case hex digits is refused. */
static void test_lookup_invalid_id(void **state)
{
	struct tmp *t = *state;

	/* A config.json an id with "../" could reach. */
	write_text(t->dir, CRIO_RUN "/x/userdata/config.json", crio_named_app);

	expect_lookup_error(t->dir, "../../../run/containers/storage/overlay-containers/x",
			    "container id");
	expect_lookup_error(t->dir, "../" ID1, "container id");
	expect_lookup_error(t->dir, "..", "container id");
	expect_lookup_error(t->dir, "x", "container id");
	expect_lookup_error(t->dir, "", "container id");
	expect_lookup_error(t->dir, NULL, "container id");
	expect_lookup_error(t->dir, ID1 "0", "container id");
	expect_lookup_error(t->dir, "0123456789ABCDEF", "container id");
	expect_lookup_error(t->dir, "abc/def", "container id");
	expect_lookup_error(t->dir, "abc def", "container id");
	expect_lookup_error(t->dir, "abc\ndef", "container id 'abc?def'");
	/* Short ids are ids (1 to 64 digits). */
	write_text(t->dir, CRIO_RUN "/abc123/userdata/config.json", crio_named_app);
	{
		struct container c;
		char err[512];

		assert_int_equal(oci_lookup_container(t->dir, "abc123", &c, err, sizeof(err)), 0);
		assert_string_equal(c.name, "app");
		container_clear(&c);
	}
}

static void test_lookup_symlink(void **state)
{
	struct tmp *t = *state;
	char target[512], link[512];

	/* A valid config.json, reached through a symlink: refused all the same. */
	write_text(t->dir, "elsewhere/config.json", crio_named_app);
	make_dirs(t->dir, CRIO_RUN "/" ID1 "/userdata");
	snprintf(target, sizeof(target), "%s/elsewhere/config.json", t->dir);
	snprintf(link, sizeof(link), "%s/" CRIO_RUN "/" ID1 "/userdata/config.json", t->dir);
	assert_int_equal(symlink(target, link), 0);
	expect_lookup_error(t->dir, ID1, "a symbolic link, refused");
	expect_lookup_error(t->dir, ID1, link);
}

/* A broken symlink is refused too, not taken for "not found". */
static void test_lookup_dangling_symlink(void **state)
{
	struct tmp *t = *state;
	char link[512];

	make_dirs(t->dir, CONTAINERD_TASKS "/k8s.io/" ID1);
	snprintf(link, sizeof(link), "%s/" CONTAINERD_TASKS "/k8s.io/" ID1 "/config.json", t->dir);
	assert_int_equal(symlink("/nonexistent/config.json", link), 0);
	expect_lookup_error(t->dir, ID1, "a symbolic link, refused");
}

static void test_lookup_too_large(void **state)
{
	struct tmp *t = *state;
	char path[512];
	int fd;

	/* A sparse file: refused by its size, never read. */
	make_dirs(t->dir, CRIO_RUN "/" ID1 "/userdata");
	snprintf(path, sizeof(path), "%s/" CRIO_RUN "/" ID1 "/userdata/config.json", t->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)OCI_MAX_CONFIG + 1), 0);
	close(fd);
	expect_lookup_error(t->dir, ID1, "4194305 bytes, more than the 4194304-byte limit");
	expect_lookup_error(t->dir, ID1, path);
}

/* Exactly OCI_MAX_CONFIG bytes is still read. */
static void test_lookup_at_size_limit(void **state)
{
	struct tmp *t = *state;
	size_t len = OCI_MAX_CONFIG, prefix = strlen(crio_named_app);
	char *body = malloc(len);
	struct container c;
	char err[512] = "";

	assert_non_null(body);
	memcpy(body, crio_named_app, prefix);
	memset(body + prefix, '\n', len - prefix);
	write_file(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json", body, len);
	free(body);
	assert_int_equal(oci_lookup_container(t->dir, ID1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "app");
	container_clear(&c);
}

static void test_lookup_malformed(void **state)
{
	struct tmp *t = *state;

	write_text(
		t->dir, CONTAINERD_TASKS "/k8s.io/" ID1 "/config.json",
		"{\"ociVersion\":\"1.1.0\",\n\"annotations\":{\"io.kubernetes.cri.container-name\":");
	expect_lookup_error(t->dir, ID1, "invalid JSON at line 2 column");
	expect_lookup_error(t->dir, ID1, "/k8s.io/" ID1 "/config.json: ");
}

static void test_lookup_empty_file(void **state)
{
	struct tmp *t = *state;

	write_text(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json", "");
	expect_lookup_error(t->dir, ID1, "invalid JSON at line 1 column 0");
}

static void test_lookup_wrong_types(void **state)
{
	struct tmp *t = *state;

	write_text(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json",
		   "{\"annotations\":{\"io.kubernetes.pod.name\":[\"cache-0\"]}}");
	expect_lookup_error(t->dir, ID1, "annotations[\"io.kubernetes.pod.name\"]: not a string");
}

/* Neither a directory nor a FIFO (which must not hang the lookup). */
static void test_lookup_not_regular(void **state)
{
	struct tmp *t = *state;
	char path[512];

	make_dirs(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json");
	expect_lookup_error(t->dir, ID1, "not a regular file");

	make_dirs(t->dir, CONTAINERD_TASKS "/k8s.io/" ID1);
	snprintf(path, sizeof(path), "%s/" CONTAINERD_TASKS "/k8s.io/" ID1 "/config.json", t->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_lookup_error(t->dir, ID1, "not a regular file");
}

/*
 * CRI-O's run directory is read before var/lib; when its copy is broken
 * that is an error, not a reason to read a possibly older one.
 */
static void test_lookup_crio_order(void **state)
{
	struct tmp *t = *state;
	struct container c;
	char err[512] = "";

	write_text(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json", crio_named_app);
	write_text(t->dir, CRIO_LIB "/" ID1 "/userdata/config.json",
		   "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
		   "\"io.kubernetes.container.name\":\"older\"}}");
	assert_int_equal(oci_lookup_container(t->dir, ID1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "app");
	container_clear(&c);

	write_text(t->dir, CRIO_RUN "/" ID1 "/userdata/config.json", "{\"annotations\":");
	expect_lookup_error(t->dir, ID1, CRIO_RUN "/" ID1 "/userdata/config.json: invalid JSON");
}

/* A namespace of containerd's with a file where a directory should be. */
static void test_lookup_containerd_odd_namespaces(void **state)
{
	struct tmp *t = *state;
	struct container c;
	char err[512] = "";

	write_text(t->dir, CONTAINERD_TASKS "/stray-file", "x");
	make_dirs(t->dir, CONTAINERD_TASKS "/moby/" ID1);
	write_text(t->dir, CONTAINERD_TASKS "/default/" ID1 "/config.json", crio_named_app);
	assert_int_equal(oci_lookup_container(t->dir, ID1, &c, err, sizeof(err)), 0);
	assert_string_equal(c.runtime, "containerd");
	container_clear(&c);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_containerd_container),
		cmocka_unit_test(test_parse_containerd_sandbox),
		cmocka_unit_test(test_parse_crio_container),
		cmocka_unit_test(test_parse_crio_sandbox),
		cmocka_unit_test(test_parse_crio_image_by_digest),
		cmocka_unit_test(test_parse_without_kubernetes),
		cmocka_unit_test(test_parse_user),
		cmocka_unit_test(test_parse_host_network),
		cmocka_unit_test(test_parse_long_values),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_too_large),
		cmocka_unit_test(test_parse_wrong_types),
		cmocka_unit_test(test_lookup_containerd),
		cmocka_unit_test(test_lookup_containerd_other_namespace),
		cmocka_unit_test(test_lookup_crio),
		cmocka_unit_test(test_lookup_not_found),
		cmocka_unit_test(test_lookup_root_with_slash),
		TMP_TEST(test_lookup_invalid_id),
		TMP_TEST(test_lookup_symlink),
		TMP_TEST(test_lookup_dangling_symlink),
		TMP_TEST(test_lookup_too_large),
		TMP_TEST(test_lookup_at_size_limit),
		TMP_TEST(test_lookup_malformed),
		TMP_TEST(test_lookup_empty_file),
		TMP_TEST(test_lookup_wrong_types),
		TMP_TEST(test_lookup_not_regular),
		TMP_TEST(test_lookup_crio_order),
		TMP_TEST(test_lookup_containerd_odd_namespaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
