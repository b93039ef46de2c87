// SPDX-License-Identifier: GPL-2.0-only
/*
 * docker.c's parser of GET /containers/json, and what the inventory makes
 * of its result. No daemon: the bodies are written out here, shaped like
 * what Docker 24+ and podman's compat API return.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "docker.h"
#include "inventory.h"
#include "tmpdir.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* Two containers, as `docker run -p 18080:80 -p 127.0.0.1:19000:9000 ...`. */
static const char listing[] =
	"[{\"Id\":\"" ID1 "\",\"Names\":[\"/web\"],\"Image\":\"nginx:1.27\","
	"\"ImageID\":\"sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c\","
	"\"Command\":\"/docker-entrypoint.sh nginx -g 'daemon off;'\",\"Created\":1733320000,"
	"\"Ports\":["
	/* Docker does not promise an order: IPv6 first must not matter. */
	"{\"IP\":\"::\",\"PrivatePort\":80,\"PublicPort\":18080,\"Type\":\"tcp\"},"
	"{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":18080,\"Type\":\"tcp\"},"
	"{\"IP\":\"127.0.0.1\",\"PrivatePort\":9000,\"PublicPort\":19000,\"Type\":\"tcp\"},"
	"{\"IP\":\"0.0.0.0\",\"PrivatePort\":53,\"PublicPort\":10053,\"Type\":\"udp\"},"
	"{\"PrivatePort\":443,\"Type\":\"tcp\"},"
	"{\"IP\":\"0.0.0.0\",\"PrivatePort\":9899,\"PublicPort\":19899,\"Type\":\"sctp\"}],"
	"\"Labels\":{\"com.docker.compose.project\":\"shop\"},\"State\":\"running\","
	"\"Status\":\"Up 2 hours\",\"HostConfig\":{\"NetworkMode\":\"bridge\"},"
	"\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"IPAddress\":\"172.17.0.2\","
	"\"Gateway\":\"172.17.0.1\",\"IPPrefixLen\":16,\"MacAddress\":\"02:42:ac:11:00:02\"}}},"
	"\"Mounts\":[]},"
	/* podman's compat API: no IP for all-interfaces bindings. */
	"{\"Id\":\"" ID2
	"\",\"Names\":[\"/db\",\"/shop/db-alias\"],\"Image\":\"docker.io/library/postgres:16\","
	"\"Ports\":["
	"{\"PrivatePort\":5432,\"PublicPort\":15432,\"Type\":\"tcp\"},"
	"{\"IP\":\"\",\"PrivatePort\":5433,\"PublicPort\":15433,\"Type\":\"tcp\"},"
	"{\"IP\":\"::1\",\"PrivatePort\":6000,\"PublicPort\":16000,\"Type\":\"tcp\"}],"
	"\"Labels\":null,\"State\":\"running\",\"Status\":\"Up 5 minutes\"}]";

static int parse(const char *body, struct container_list *list, char *err, size_t errlen)
{
	return docker_parse_containers(body, strlen(body), list, err, errlen);
}

static void expect_binding(const struct port_binding *b, const char *host_ip, uint16_t host_port,
			   uint16_t container_port, uint8_t protocol)
{
	assert_non_null(b);
	assert_string_equal(b->host_ip, host_ip);
	assert_int_equal(b->host_port, host_port);
	assert_int_equal(b->container_port, container_port);
	assert_int_equal(b->protocol, protocol);
}

static void test_parse_listing(void **state)
{
	struct container_list list;
	const struct container *web, *db;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(listing, &list, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(list.count, 2);

	web = &list.items[0];
	assert_string_equal(web->id, ID1);
	assert_string_equal(web->name, "web"); /* leading '/' dropped */
	assert_string_equal(web->image, "nginx:1.27");
	assert_string_equal(web->runtime, "docker");
	/* Unpublished 443 and the SCTP binding leave no binding. */
	assert_int_equal(web->n_bindings, 4);
	expect_binding(&web->bindings[0], "::", 18080, 80, IPPROTO_TCP);
	expect_binding(&web->bindings[1], "0.0.0.0", 18080, 80, IPPROTO_TCP);
	expect_binding(&web->bindings[2], "127.0.0.1", 19000, 9000, IPPROTO_TCP);
	expect_binding(&web->bindings[3], "0.0.0.0", 10053, 53, IPPROTO_UDP);

	db = &list.items[1];
	assert_string_equal(db->id, ID2);
	assert_string_equal(db->name, "db"); /* the first name */
	assert_string_equal(db->image, "docker.io/library/postgres:16");
	assert_int_equal(db->n_bindings, 3);
	/* No IP, or an empty one: every interface. */
	expect_binding(&db->bindings[0], "0.0.0.0", 15432, 5432, IPPROTO_TCP);
	expect_binding(&db->bindings[1], "0.0.0.0", 15433, 5433, IPPROTO_TCP);
	expect_binding(&db->bindings[2], "::1", 16000, 6000, IPPROTO_TCP);

	container_list_free(&list);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
}

/* Missing optional fields: no Names, no Image, no or null Ports, no Type. */
static void test_parse_sparse(void **state)
{
	static const char body[] = "[{\"Id\":\"" ID1 "\"},"
				   "{\"Id\":\"" ID2 "\",\"Names\":[],\"Ports\":null,\"Image\":7},"
				   "{\"Id\":\"" ID1 "\",\"Names\":[\"plain\"],\"Ports\":["
				   "{\"PrivatePort\":8080,\"PublicPort\":80}]}]";
	struct container_list list;
	char err[256];

	(void)state;
	assert_int_equal(parse(body, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 3);
	assert_string_equal(list.items[0].name, "");
	assert_string_equal(list.items[0].image, "");
	assert_int_equal(list.items[0].n_bindings, 0);
	assert_null(list.items[0].bindings);
	assert_string_equal(list.items[1].name, "");
	assert_string_equal(list.items[1].image, "");
	assert_string_equal(list.items[2].name, "plain");
	/* No Type: TCP, Docker's default. */
	assert_int_equal(list.items[2].n_bindings, 1);
	expect_binding(&list.items[2].bindings[0], "0.0.0.0", 80, 8080, IPPROTO_TCP);
	container_list_free(&list);
}

static void test_parse_empty(void **state)
{
	struct container_list list;
	char err[256];

	(void)state;
	assert_int_equal(parse("[]", &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 0);
	container_list_free(&list);
	assert_int_equal(parse(" \n[ ]\r\n", &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 0);
	container_list_free(&list);
}

/* More containers than the list's first allocation. */
static void test_parse_many(void **state)
{
	enum { N = 100 };
	size_t cap = N * 200 + 16, len = 0;
	char *body = malloc(cap);
	struct container_list list;
	char err[256];

	(void)state;
	assert_non_null(body);
	len += snprintf(body + len, cap - len, "[");
	for (int i = 0; i < N; i++)
		len += snprintf(
			body + len, cap - len,
			"%s{\"Id\":\"%064x\",\"Names\":[\"/c%d\"],\"Ports\":[{\"IP\":"
			"\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":%d,\"Type\":\"tcp\"}]}",
			i ? "," : "", i, i, 20000 + i);
	len += snprintf(body + len, cap - len, "]");
	assert_true(len < cap);

	assert_int_equal(docker_parse_containers(body, len, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, N);
	for (int i = 0; i < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		assert_string_equal(list.items[i].name, name);
		assert_int_equal(list.items[i].bindings[0].host_port, 20000 + i);
	}
	container_list_free(&list);
	free(body);
}

/* The body need not be NUL-terminated: only len bytes are read. */
static void test_parse_length_bounded(void **state)
{
	struct container_list list;
	char err[256];
	char *body = strdup("[]garbage");

	(void)state;
	assert_int_equal(docker_parse_containers(body, 2, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 0);
	container_list_free(&list);
	assert_int_equal(docker_parse_containers(body, strlen(body), &list, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "invalid JSON", 12), 0);
	free(body);
}

/* Exactly err for body, and nothing left allocated in list. */
static void expect_error(const char *body, const char *want)
{
	struct container_list list;
	char err[256] = "";

	memset(&list, 0x5a, sizeof(list));
	if (parse(body, &list, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", body);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	if (strcmp(err, want))
		fail_msg("for %s\n got: %s\nwant: %s", body, err, want);
}

/* err starts with prefix (jansson words its own messages). */
static void expect_error_prefix(const char *body, const char *prefix, const char *contains)
{
	struct container_list list;
	char err[256] = "";

	if (parse(body, &list, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", body);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	if (strncmp(err, prefix, strlen(prefix)) || (contains && !strstr(err, contains)))
		fail_msg("for %s\n got: %s\nwant: %s...%s", body, err, prefix,
			 contains ? contains : "");
}

static void test_parse_invalid_json(void **state)
{
	(void)state;
	expect_error_prefix("", "invalid JSON at line 1 column ", NULL);
	expect_error_prefix("not json", "invalid JSON at line 1 column ", NULL);
	expect_error_prefix("[{\"Id\":\"" ID1 "\",\"Ports\":[{\"PrivatePort\":80,",
			    "invalid JSON at line 1 column ", NULL);
	expect_error_prefix("[{\"Id\":\"" ID1 "\"}", "invalid JSON at line 1 column ", NULL);
	expect_error_prefix("[]\n]", "invalid JSON at line 2 column ", NULL);
	expect_error_prefix("[{\"Id\":\"" ID1 "\",\"Id\":\"" ID2 "\"}]",
			    "invalid JSON at line 1 column ", "duplicate object key");
	/* A NUL byte in a string is refused rather than truncating the string. */
	expect_error_prefix("[{\"Id\":\"" ID1 "\",\"Names\":[\"/a\\u0000b\"]}]",
			    "invalid JSON at line 1 column ", NULL);
}

static void test_parse_wrong_shape(void **state)
{
	(void)state;
	expect_error("{}", "expected an array of containers");
	expect_error("{\"message\":\"client version 1.24 is too old\"}",
		     "expected an array of containers");
	/* jansson itself refuses a scalar at the top. */
	expect_error_prefix("\"x\"", "invalid JSON at line 1 column ", NULL);
	expect_error_prefix("null", "invalid JSON at line 1 column ", NULL);
}

/*
 * One odd entry is left out, with the reason, and the listing stands: a
 * broken container must not hide every other one.
 */
static void expect_left_out(const char *body, unsigned int kept, const char *want)
{
	struct container_list list;
	char err[256] = "";

	if (parse(body, &list, err, sizeof(err)) != 0)
		fail_msg("refused: %s (%s)", body, err);
	assert_int_equal(list.count, kept);
	if (strcmp(err, want))
		fail_msg("for %s\n got: %s\nwant: %s", body, err, want);
	for (unsigned int i = 0; i < list.count; i++)
		assert_int_equal(strlen(list.items[i].id), 64);
	container_list_free(&list);
}

static void test_parse_bad_entries_left_out(void **state)
{
	(void)state;
	expect_left_out("[{}]", 0,
			"left out 1 of 1 containers, the first because containers[0]: no "
			"64-character Id");
	expect_left_out("[1]", 0,
			"left out 1 of 1 containers, the first because containers[0]: no "
			"64-character Id");
	expect_left_out("[{\"Id\":7}]", 0,
			"left out 1 of 1 containers, the first because containers[0]: no "
			"64-character Id");
	expect_left_out("[{\"Id\":\"" ID1 "\"},{\"Id\":\"abc\"}]", 1,
			"left out 1 of 2 containers, the first because containers[1]: no "
			"64-character Id");
	expect_left_out("[{\"Id\":\"" ID1 "0\"}]", 0,
			"left out 1 of 1 containers, the first because containers[0]: no "
			"64-character Id");
	expect_left_out("[{\"Id\":\"" ID1 "\",\"Ports\":{}}]", 0,
			"left out 1 of 1 containers, the first because containers[0].Ports: not "
			"an array");
	expect_left_out("[{\"Id\":\"" ID1 "\"},{\"Id\":\"" ID2 "\",\"Ports\":\"80/tcp\"}]", 1,
			"left out 1 of 2 containers, the first because containers[1].Ports: not "
			"an array");
	expect_left_out("[{\"Id\":\"" ID1 "\",\"Ports\":[{\"PrivatePort\":80,\"PublicPort\":8080},"
			"{\"PrivatePort\":\"80\",\"PublicPort\":8080}]},{\"Id\":\"" ID2 "\"}]",
			1,
			"left out 1 of 2 containers, the first because containers[0].Ports[1]: no "
			"integer PrivatePort");
	expect_left_out("[{\"Id\":\"" ID1 "\",\"Ports\":[{\"PublicPort\":8080}]},{}]", 0,
			"left out 2 of 2 containers, the first because containers[0].Ports[0]: no "
			"integer PrivatePort");
	expect_left_out("[{\"Id\":\"" ID1 "\",\"Ports\":[80]}]", 0,
			"left out 1 of 1 containers, the first because containers[0].Ports[0]: no "
			"integer PrivatePort");
	expect_left_out(
		"[{\"Id\":\"" ID1 "\",\"Ports\":[{\"PrivatePort\":80.5,\"PublicPort\":80}]}]", 0,
		"left out 1 of 1 containers, the first because containers[0].Ports[0]: no integer "
		"PrivatePort");
}

static void test_parse_port_range(void **state)
{
	static const char *const bad[] = {
		"{\"PrivatePort\":0,\"PublicPort\":8080}",
		"{\"PrivatePort\":80,\"PublicPort\":0}",
		"{\"PrivatePort\":70000,\"PublicPort\":8080}",
		"{\"PrivatePort\":80,\"PublicPort\":70000}",
		"{\"PrivatePort\":-1,\"PublicPort\":8080}",
		"{\"PrivatePort\":80,\"PublicPort\":65536}",
		"{\"PrivatePort\":80,\"PublicPort\":-65456}",
		"{\"PrivatePort\":80,\"PublicPort\":9223372036854775807}",
	};
	char body[512];
	struct container_list list;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "[{\"Id\":\"%s\",\"Ports\":[%s]}]", ID1, bad[i]);
		expect_left_out(body, 0,
				"left out 1 of 1 containers, the first because "
				"containers[0].Ports[0]: port out of range");
	}
	/* The bounds themselves are fine. */
	snprintf(body, sizeof(body),
		 "[{\"Id\":\"%s\",\"Ports\":[{\"PrivatePort\":1,\"PublicPort\":65535}]}]", ID1);
	assert_int_equal(parse(body, &list, err, sizeof(err)), 0);
	expect_binding(&list.items[0].bindings[0], "0.0.0.0", 65535, 1, IPPROTO_TCP);
	container_list_free(&list);
}

/* A short err buffer truncates the message, it does not overflow. */
static void test_parse_short_err_buffer(void **state)
{
	struct container_list list;
	char err[16];

	(void)state;
	memset(err, 'X', sizeof(err));
	assert_int_equal(parse("{}", &list, err, 8), -1);
	assert_string_equal(err, "expecte");
	assert_int_equal(err[8], 'X');
}

/* Hostile but valid JSON: odd types everywhere, deep nesting. */
static void test_parse_hostile(void **state)
{
	struct container_list list;
	char err[256];
	char *deep;
	size_t depth = 100000;

	(void)state;
	assert_int_equal(parse("[{\"Id\":\"" ID1 "\",\"Names\":\"/web\",\"Image\":[],"
			       "\"Ports\":[{\"PrivatePort\":80,\"PublicPort\":8080,\"IP\":5,"
			       "\"Type\":[\"udp\"]}]}]",
			       &list, err, sizeof(err)),
			 0);
	assert_string_equal(list.items[0].name, "");
	assert_string_equal(list.items[0].image, "");
	/* A non-string IP is every interface; a non-string Type is TCP. */
	expect_binding(&list.items[0].bindings[0], "0.0.0.0", 8080, 80, IPPROTO_TCP);
	container_list_free(&list);

	/* Deep nesting: jansson's depth limit, not a stack overflow. */
	deep = malloc(depth + 1);
	assert_non_null(deep);
	memset(deep, '[', depth);
	deep[depth] = '\0';
	assert_int_equal(parse(deep, &list, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "invalid JSON", 12), 0);
	free(deep);

	/* A name longer than the field is cut, still NUL-terminated. */
	{
		char body[1024], name[600];

		memset(name, 'n', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		snprintf(body, sizeof(body), "[{\"Id\":\"%s\",\"Names\":[\"/%s\"]}]", ID1, name);
		assert_int_equal(parse(body, &list, err, sizeof(err)), 0);
		assert_int_equal(strlen(list.items[0].name), CONTAINER_NAME_MAX - 1);
		container_list_free(&list);
	}
}

/* ---- docker_parse_inspect (GET /containers/{id}/json) ---- */

static const char inspect_running[] =
	"{\"Id\":\"" ID1 "\",\"Created\":\"2026-12-04T15:07:31.112Z\","
	"\"Path\":\"/docker-entrypoint.sh\",\"State\":{\"Status\":\"running\",\"Pid\":4242},"
	"\"Name\":\"/web\",\"Config\":{\"Image\":\"registry.local:5000/shop/nginx:1.27\","
	"\"User\":\"101:101\",\"Labels\":{\"com.docker.compose.project\":\"shop\",\"tier\":\"front\","
	"\"bogus\":7},"
	"\"ExposedPorts\":{\"80/tcp\":{},\"443/tcp\":{},\"53/udp\":{}}},"
	"\"HostConfig\":{\"NetworkMode\":\"bridge\",\"Privileged\":true,\"ReadonlyRootfs\":true,"
	"\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"18080\"}]}},"
	"\"NetworkSettings\":{\"Ports\":{"
	"\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"18080\"},"
	"{\"HostIp\":\"::\",\"HostPort\":\"18080\"}],"
	"\"443/tcp\":null,"
	"\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"10053\"}],"
	"\"9899/sctp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"19899\"}]}}}";

static void test_parse_inspect(void **state)
{
	struct container c;
	char err[256] = "";

	(void)state;
	assert_int_equal(docker_parse_inspect(inspect_running, strlen(inspect_running), &c, err,
					      sizeof(err)),
			 0);
	assert_string_equal(c.id, ID1);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.image, "registry.local:5000/shop/nginx:1.27");
	assert_string_equal(c.image_tag, "1.27");
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.user, "101:101");
	assert_string_equal(c.network_mode, "bridge");
	assert_true(c.privileged);
	assert_true(c.read_only_rootfs);
	/* String labels only. */
	assert_int_equal(c.n_labels, 2);
	assert_string_equal(c.labels[0].key, "com.docker.compose.project");
	assert_string_equal(c.labels[0].value, "shop");
	assert_string_equal(c.labels[1].key, "tier");
	/* What was bound, not what was asked; 443 is only exposed, SCTP is not counted. */
	assert_int_equal(c.n_bindings, 3);
	expect_binding(&c.bindings[0], "0.0.0.0", 18080, 80, IPPROTO_TCP);
	expect_binding(&c.bindings[1], "::", 18080, 80, IPPROTO_TCP);
	expect_binding(&c.bindings[2], "127.0.0.1", 10053, 53, IPPROTO_UDP);
	expect_binding(container_binding(&c, 80, IPPROTO_TCP), "0.0.0.0", 18080, 80, IPPROTO_TCP);
	container_clear(&c);
}

static void test_image_tag_of(void **state)
{
	static const char *const cases[][2] = {
		{ "nginx:1.27", "1.27" },
		{ "nginx", "" },
		{ "registry.local:5000/shop/nginx", "" },
		{ "registry.local:5000/shop/nginx:1.27", "1.27" },
		{ "nginx@sha256:0123abcd", "" },
		{ "nginx:1.27@sha256:0123abcd", "" },
		{ "", "" },
		{ ":", "" },
	};
	char tag[IMAGE_TAG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		image_tag_of(cases[i][0], tag, sizeof(tag));
		if (strcmp(tag, cases[i][1]))
			fail_msg("image_tag_of(\"%s\") = \"%s\", want \"%s\"", cases[i][0], tag,
				 cases[i][1]);
	}
}

/* A container's labels are bounded in number and size. */
static void test_labels_bounded(void **state)
{
	struct container c = { 0 };
	char key[32], long_value[1000];

	(void)state;
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	for (int i = 0; i < CONTAINER_LABELS_MAX + 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(container_add_label(&c, key, long_value), 0);
	}
	assert_int_equal(c.n_labels, CONTAINER_LABELS_MAX);
	assert_int_equal(strlen(c.labels[0].value), LABEL_TEXT_MAX - 1);
	container_clear(&c);
	assert_int_equal(c.n_labels, 0);
	assert_null(c.labels);
}

/* ---- docker_parse_event (GET /events, one line each) ---- */

static void test_parse_event(void **state)
{
	struct docker_event ev;
	char err[256] = "", line[1024];

	(void)state;
	/* Docker's own shape (Engine API v1.24+). */
	snprintf(line, sizeof(line),
		 "{\"status\":\"start\",\"id\":\"%s\",\"from\":\"nginx:1.27\","
		 "\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"%s\","
		 "\"Attributes\":{\"image\":\"nginx:1.27\",\"name\":\"web\"}},"
		 "\"scope\":\"local\",\"time\":1796396851,\"timeNano\":1796396851112000000}",
		 ID1, ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_START);
	assert_string_equal(ev.id, ID1);
	assert_string_equal(ev.name, "web");
	assert_int_equal(ev.exit_code, -1);

	snprintf(line, sizeof(line),
		 "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"%s\","
		 "\"Attributes\":{\"exitCode\":\"137\",\"name\":\"web\"}}}",
		 ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_DIE);
	assert_int_equal(ev.exit_code, 137);

	snprintf(line, sizeof(line),
		 "{\"Type\":\"container\",\"Action\":\"rename\",\"Actor\":{\"ID\":\"%s\","
		 "\"Attributes\":{\"name\":\"web-2\",\"oldName\":\"/web\"}}}",
		 ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_RENAME);
	assert_string_equal(ev.name, "web-2");

	/* podman's compatible API says "died" and "remove". */
	snprintf(line, sizeof(line),
		 "{\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":\"%s\"}}", ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_DIE);
	snprintf(line, sizeof(line),
		 "{\"Type\":\"container\",\"Action\":\"remove\",\"Actor\":{\"ID\":\"%s\"}}", ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_DESTROY);

	/* Events berth does not follow: fine, and ignored. */
	snprintf(line, sizeof(line),
		 "{\"Type\":\"container\",\"Action\":\"exec_start: sh -c true\","
		 "\"Actor\":{\"ID\":\"%s\"}}",
		 ID1);
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_OTHER);
	snprintf(line, sizeof(line),
		 "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n1\"}}");
	assert_int_equal(docker_parse_event(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.kind, DOCKER_EVENT_OTHER);
}

static void expect_event_error(const char *line, const char *want)
{
	struct docker_event ev;
	char err[256] = "";

	if (docker_parse_event(line, strlen(line), &ev, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", line);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(ev.kind, DOCKER_EVENT_OTHER);
}

static void test_parse_event_invalid(void **state)
{
	(void)state;
	expect_event_error("", "invalid JSON at line 1");
	expect_event_error("{\"Type\":\"container\",", "invalid JSON at line 1");
	expect_event_error("[1,2]", "not an object");
	expect_event_error("{\"status\":\"start\"}", "no Type or Action");
	expect_event_error("{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{}}",
			   "start event: no 64-character Actor.ID");
	expect_event_error(
		"{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"../x\"}}",
		"die event: no 64-character Actor.ID");
	/* Two events glued on one line are not one event. */
	expect_event_error("{\"Type\":\"container\",\"Action\":\"x\"}{\"Type\":\"y\"}",
			   "invalid JSON");
}

/* Created, network not up yet: the requested bindings stand in. */
static void test_parse_inspect_not_started(void **state)
{
	static const char body[] =
		"{\"Id\":\"" ID2 "\",\"Name\":\"/db\",\"Config\":{\"Image\":\"postgres:16\"},"
		"\"HostConfig\":{\"PortBindings\":{"
		"\"5432/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"15432\"}],"
		"\"5433/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}},"
		"\"NetworkSettings\":{\"Ports\":{}}}";
	struct container c;
	char err[256];

	(void)state;
	assert_int_equal(docker_parse_inspect(body, strlen(body), &c, err, sizeof(err)), 0);
	assert_string_equal(c.name, "db");
	/* A random host port is not chosen before the start: no binding yet. */
	assert_int_equal(c.n_bindings, 1);
	expect_binding(&c.bindings[0], "0.0.0.0", 15432, 5432, IPPROTO_TCP);
	free(c.bindings);
}

static void expect_inspect_error(const char *body, const char *want)
{
	struct container c;
	char err[256] = "";

	memset(&c, 0x5a, sizeof(c));
	if (docker_parse_inspect(body, strlen(body), &c, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", body);
	assert_null(c.bindings);
	assert_int_equal(c.n_bindings, 0);
	if (strncmp(err, want, strlen(want)))
		fail_msg("for %s\n got: %s\nwant: %s", body, err, want);
}

static void test_parse_inspect_invalid(void **state)
{
	(void)state;
	expect_inspect_error("", "invalid JSON at line 1 column ");
	expect_inspect_error("{\"Id\":", "invalid JSON at line 1 column ");
	expect_inspect_error("[]", "no 64-character Id");
	expect_inspect_error("{\"Id\":\"abc\"}", "no 64-character Id");
	expect_inspect_error("{\"message\":\"No such container: x\"}", "no 64-character Id");
	expect_inspect_error("{\"Id\":\"" ID1 "\",\"NetworkSettings\":{\"Ports\":"
			     "{\"http\":[{\"HostPort\":\"80\"}]}}}",
			     "Ports: bad port 'http'");
	expect_inspect_error("{\"Id\":\"" ID1 "\",\"NetworkSettings\":{\"Ports\":"
			     "{\"70000/tcp\":null}}}",
			     "Ports: bad port '70000/tcp'");
	expect_inspect_error("{\"Id\":\"" ID1 "\",\"NetworkSettings\":{\"Ports\":"
			     "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"}],"
			     "\"81/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"x\"}]}}}",
			     "Ports[81/tcp]: bad HostPort 'x'");
	expect_inspect_error("{\"Id\":\"" ID1 "\",\"NetworkSettings\":{\"Ports\":"
			     "{\"80/tcp\":[{\"HostPort\":\"65536\"}]}}}",
			     "Ports[80/tcp]: bad HostPort '65536'");
	expect_inspect_error("{\"Id\":\"" ID1 "\",\"NetworkSettings\":{\"Ports\":"
			     "{\"80/tcp\":[{\"HostPort\":\"0\"}]}}}",
			     "Ports[80/tcp]: bad HostPort '0'");
}

/* ---- container_binding and the inventory ---- */

static void test_container_binding(void **state)
{
	struct container_list list;
	const struct container *web, *db;
	char err[256];

	(void)state;
	assert_int_equal(parse(listing, &list, err, sizeof(err)), 0);
	web = &list.items[0];
	db = &list.items[1];

	/* 0.0.0.0 and :: both publish 80: IPv4 is preferred, listed second or not. */
	expect_binding(container_binding(web, 80, IPPROTO_TCP), "0.0.0.0", 18080, 80, IPPROTO_TCP);
	expect_binding(container_binding(web, 9000, IPPROTO_TCP), "127.0.0.1", 19000, 9000,
		       IPPROTO_TCP);
	expect_binding(container_binding(web, 53, IPPROTO_UDP), "0.0.0.0", 10053, 53, IPPROTO_UDP);
	/* Protocol matters, unpublished ports have none. */
	assert_null(container_binding(web, 53, IPPROTO_TCP));
	assert_null(container_binding(web, 80, IPPROTO_UDP));
	assert_null(container_binding(web, 443, IPPROTO_TCP));
	assert_null(container_binding(web, 9899, IPPROTO_TCP));
	/* Only an IPv6 binding: that one. */
	expect_binding(container_binding(db, 6000, IPPROTO_TCP), "::1", 16000, 6000, IPPROTO_TCP);
	container_list_free(&list);
}

static void test_inventory(void **state)
{
	struct tmp *t = *state;
	struct inventory inv;
	struct container_list list;
	const struct port_binding *b = NULL;
	const struct container *c;
	char err[256];

	assert_int_equal(inventory_init(&inv, t->dir), 0);
	assert_null(inventory_by_host_port(&inv, 18080, IPPROTO_TCP, &b));
	assert_null(inventory_container(&inv, ID1));

	assert_int_equal(parse(listing, &list, err, sizeof(err)), 0);
	assert_int_equal(inventory_sync_runtime(&inv, "docker", &list, 1000, NULL), 2);
	/* The inventory took the list over. */
	assert_int_equal(list.count, 0);
	assert_null(list.items);

	c = inventory_container(&inv, ID1);
	assert_non_null(c);
	assert_string_equal(c->name, "web");
	assert_string_equal(inventory_container(&inv, ID2)->name, "db");
	assert_null(inventory_container(&inv, "0123"));

	c = inventory_by_host_port(&inv, 18080, IPPROTO_TCP, &b);
	assert_non_null(c);
	assert_string_equal(c->id, ID1);
	assert_non_null(b);
	assert_int_equal(b->host_port, 18080);
	assert_int_equal(b->container_port, 80);
	assert_int_equal(b->protocol, IPPROTO_TCP);

	c = inventory_by_host_port(&inv, 10053, IPPROTO_UDP, &b);
	assert_non_null(c);
	expect_binding(b, "0.0.0.0", 10053, 53, IPPROTO_UDP);
	assert_null(inventory_by_host_port(&inv, 10053, IPPROTO_TCP, &b));

	c = inventory_by_host_port(&inv, 15432, IPPROTO_TCP, &b);
	assert_non_null(c);
	assert_string_equal(c->id, ID2);
	expect_binding(b, "0.0.0.0", 15432, 5432, IPPROTO_TCP);
	/* Container ports are not host ports. */
	assert_null(inventory_by_host_port(&inv, 5432, IPPROTO_TCP, &b));
	assert_null(inventory_by_host_port(&inv, 443, IPPROTO_TCP, &b));

	/*
	 * A new listing is the truth: ID2 renamed, ID1 gone, so stopped; it is
	 * still named until it expires.
	 */
	assert_int_equal(
		parse("[{\"Id\":\"" ID2 "\",\"Names\":[\"/db2\"]}]", &list, err, sizeof(err)), 0);
	assert_int_equal(inventory_sync_runtime(&inv, "docker", &list, 2000, NULL), 1);
	assert_true(inventory_container(&inv, ID1)->stopped);
	assert_int_equal(inventory_container(&inv, ID1)->stopped_at_ms, 2000);
	assert_false(inventory_container(&inv, ID2)->stopped);
	assert_string_equal(inventory_container(&inv, ID2)->name, "db2");
	/* Another runtime's listing leaves docker's containers alone. */
	assert_int_equal(parse("[]", &list, err, sizeof(err)), 0);
	assert_int_equal(inventory_sync_runtime(&inv, "podman", &list, 2500, NULL), 0);
	assert_false(inventory_container(&inv, ID2)->stopped);

	assert_int_equal(inventory_expire(&inv, 2999, 1000), 0);
	assert_int_equal(inventory_container_count(&inv), 2);
	assert_int_equal(inventory_expire(&inv, 3000, 1000), 1);
	assert_null(inventory_container(&inv, ID1));
	assert_null(inventory_by_host_port(&inv, 18080, IPPROTO_TCP, &b));
	assert_int_equal(inventory_container_count(&inv), 1);
	inventory_free(&inv);
}

/* The host view names the IPv4 binding of a dual-stack -p, whatever the order. */
static void test_inventory_by_host_port_prefers_ipv4(void **state)
{
	struct tmp *t = *state;
	const struct port_binding *b = NULL;
	struct container_list list;
	struct inventory inv;
	char err[256];

	assert_int_equal(inventory_init(&inv, t->dir), 0);
	assert_int_equal(
		parse("[{\"Id\":\"" ID1 "\",\"Names\":[\"/web\"],\"Ports\":["
		      "{\"IP\":\"::\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"},"
		      "{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8080,"
		      "\"Type\":\"tcp\"}]}]",
		      &list, err, sizeof(err)),
		0);
	inventory_sync_runtime(&inv, "docker", &list, 0, NULL);
	assert_non_null(inventory_by_host_port(&inv, 8080, IPPROTO_TCP, &b));
	expect_binding(b, "0.0.0.0", 8080, 80, IPPROTO_TCP);
	inventory_free(&inv);
}

/* An inspect result joins the listing, or replaces its own entry. */
static void test_inventory_add_container(void **state)
{
	struct tmp *t = *state;
	struct container_list list;
	struct inventory inv;
	struct container c;
	const struct port_binding *b;
	char err[256];

	assert_int_equal(inventory_init(&inv, t->dir), 0);
	assert_int_equal(
		parse("[{\"Id\":\"" ID2 "\",\"Names\":[\"/db\"]}]", &list, err, sizeof(err)), 0);
	inventory_sync_runtime(&inv, "docker", &list, 0, NULL);

	assert_int_equal(docker_parse_inspect(inspect_running, strlen(inspect_running), &c, err,
					      sizeof(err)),
			 0);
	assert_int_equal(inventory_add_container(&inv, &c), 0);
	/* The inventory took the bindings over. */
	assert_null(c.bindings);
	assert_int_equal(inv.containers.count, 2);
	assert_string_equal(inventory_container(&inv, ID1)->name, "web");
	assert_string_equal(inventory_by_host_port(&inv, 10053, IPPROTO_UDP, &b)->id, ID1);

	/* The same id again replaces, it does not duplicate. */
	assert_int_equal(docker_parse_inspect(inspect_running, strlen(inspect_running), &c, err,
					      sizeof(err)),
			 0);
	snprintf(c.name, sizeof(c.name), "web-renamed");
	assert_int_equal(inventory_add_container(&inv, &c), 0);
	assert_int_equal(inv.containers.count, 2);
	assert_string_equal(inventory_container(&inv, ID1)->name, "web-renamed");
	assert_int_equal(inventory_container(&inv, ID1)->n_bindings, 3);
	inventory_free(&inv);
}

static uint64_t gone_ids[4];
static unsigned int n_gone;

static void record_gone(void *ctx, uint64_t id)
{
	(void)ctx;
	if (n_gone < 4)
		gone_ids[n_gone++] = id;
}

/* Cgroup ids resolve through the mount to a path and a container. */
static void test_inventory_cgroups(void **state)
{
	struct tmp *t = *state;
	const struct cgroup_entry *e;
	struct inventory inv;
	char path[256];
	struct stat st;
	uint64_t id, sys_id;

	snprintf(path, sizeof(path), "%s/system.slice", t->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	sys_id = st.st_ino;
	snprintf(path, sizeof(path), "%s/system.slice/docker-%s.scope", t->dir, ID1);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	id = st.st_ino;

	assert_int_equal(inventory_init(&inv, t->dir), 0);
	e = inventory_cgroup(&inv, id);
	assert_non_null(e);
	assert_string_equal(e->path, "/system.slice/docker-" ID1 ".scope");
	assert_true(e->is_container);
	assert_string_equal(e->from_path.runtime, "docker");
	assert_string_equal(e->from_path.id, ID1);
	/* Cached: the same entry. */
	assert_ptr_equal(inventory_cgroup(&inv, id), e);

	e = inventory_cgroup(&inv, sys_id);
	assert_non_null(e);
	assert_string_equal(e->path, "/system.slice");
	assert_false(e->is_container);

	/* Both directories exist: nothing to prune. */
	assert_int_equal(inventory_prune_cgroups(&inv, record_gone, NULL), 0);
	assert_int_equal(inventory_cgroup_count(&inv), 2);

	/* The container's cgroup goes away: its entry goes, and the caller hears of it. */
	snprintf(path, sizeof(path), "%s/system.slice/docker-%s.scope", t->dir, ID1);
	assert_int_equal(rmdir(path), 0);
	n_gone = 0;
	assert_int_equal(inventory_prune_cgroups(&inv, record_gone, NULL), 1);
	assert_int_equal(n_gone, 1);
	assert_true(gone_ids[0] == id);
	assert_null(hashmap_get(&inv.by_cgroup, &id));
	assert_int_equal(inventory_cgroup_count(&inv), 1);
	assert_non_null(inventory_cgroup(&inv, sys_id));

	/* Gone before any walk: named from the path the kernel remembered, then pruned. */
	e = inventory_remember_cgroup(&inv, 777,
				      "/.../kubepods.slice/x/cri-containerd-" ID2 ".scope");
	assert_non_null(e);
	assert_true(e->is_container);
	assert_string_equal(e->from_path.id, ID2);
	assert_string_equal(e->from_path.runtime, "containerd");
	assert_ptr_equal(inventory_cgroup(&inv, 777), e);
	n_gone = 0;
	assert_int_equal(inventory_prune_cgroups(&inv, record_gone, NULL), 1);
	assert_true(gone_ids[0] == 777);
	assert_null(hashmap_get(&inv.by_cgroup, &(uint64_t){ 777 }));
	inventory_free(&inv);
}

#define TMP_TEST(fn) cmocka_unit_test_setup_teardown(fn, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_listing),
		cmocka_unit_test(test_parse_sparse),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_many),
		cmocka_unit_test(test_parse_length_bounded),
		cmocka_unit_test(test_parse_invalid_json),
		cmocka_unit_test(test_parse_wrong_shape),
		cmocka_unit_test(test_parse_bad_entries_left_out),
		cmocka_unit_test(test_parse_port_range),
		cmocka_unit_test(test_parse_short_err_buffer),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_inspect),
		cmocka_unit_test(test_image_tag_of),
		cmocka_unit_test(test_labels_bounded),
		cmocka_unit_test(test_parse_event),
		cmocka_unit_test(test_parse_event_invalid),
		cmocka_unit_test(test_parse_inspect_not_started),
		cmocka_unit_test(test_parse_inspect_invalid),
		cmocka_unit_test(test_container_binding),
		TMP_TEST(test_inventory),
		TMP_TEST(test_inventory_add_container),
		TMP_TEST(test_inventory_by_host_port_prefers_ipv4),
		TMP_TEST(test_inventory_cgroups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
