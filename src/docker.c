// SPDX-License-Identifier: GPL-2.0-only
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

/* The API answers in milliseconds; a hung daemon must not stall berth. */
#define DOCKER_TIMEOUT_MS 3000

struct body {
	char *data;
	size_t len;
	bool too_large;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *body = userdata;
	size_t n = size * nmemb;
	char *data;

	if (body->len + n > DOCKER_MAX_RESPONSE) {
		body->too_large = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	data = realloc(body->data, body->len + n + 1);
	if (!data)
		return 0;
	memcpy(data + body->len, ptr, n);
	body->data = data;
	body->len += n;
	body->data[body->len] = '\0';
	return n;
}

/*
 * 64 lowercase hex digits, as Docker and podman make them. Ids go into
 * request paths: nothing else may pass.
 */
static bool is_container_id(const char *id)
{
	return id && strlen(id) == CONTAINER_ID_MAX && is_lower_hex(id, CONTAINER_ID_MAX);
}

static void copy_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/*
 * Adds host_ip:host_port -> container_port/proto to c, for both API shapes.
 * proto is the API's "tcp" or "udp" (NULL: tcp); others (sctp) are skipped,
 * since berth counts TCP and UDP. podman omits the host IP when the binding
 * is on every interface.
 */
static int add_binding(struct container *c, const char *proto, const char *ip,
		       unsigned long host_port, unsigned long container_port, char *err,
		       size_t errlen)
{
	struct port_binding b = { 0 };

	if (!proto || !strcmp(proto, "tcp"))
		b.protocol = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		b.protocol = IPPROTO_UDP;
	else
		return 0;
	copy_string(b.host_ip, sizeof(b.host_ip), ip && *ip ? ip : "0.0.0.0");
	b.host_port = host_port;
	b.container_port = container_port;
	if (container_add_binding(c, &b)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Parses body; NULL with the position of the error in err. */
static json_t *load_body(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root)
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
	return root;
}

/* {"key": "value", ...}; values that are not strings are skipped. */
static int parse_labels(json_t *labels, struct container *c, char *err, size_t errlen)
{
	const char *key;
	json_t *value;

	json_object_foreach(labels, key, value) {
		if (!json_is_string(value))
			continue;
		if (container_add_label(c, key, json_string_value(value))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* The image as the user named it, and its tag. */
static void set_image(struct container *c, const char *image)
{
	copy_string(c->image, sizeof(c->image), image);
	image_tag_of(c->image, c->image_tag, sizeof(c->image_tag));
}

static int parse_ports(json_t *ports, struct container *c, char *err, size_t errlen, size_t index)
{
	size_t i;
	json_t *port;

	if (!ports || json_is_null(ports))
		return 0;
	if (!json_is_array(ports)) {
		snprintf(err, errlen, "containers[%zu].Ports: not an array", index);
		return -1;
	}
	json_array_foreach(ports, i, port) {
		json_t *private_port = json_object_get(port, "PrivatePort");
		json_t *public_port = json_object_get(port, "PublicPort");
		const char *type = json_string_value(json_object_get(port, "Type"));
		const char *ip = json_string_value(json_object_get(port, "IP"));

		if (!json_is_object(port) || !json_is_integer(private_port)) {
			snprintf(err, errlen, "containers[%zu].Ports[%zu]: no integer PrivatePort",
				 index, i);
			return -1;
		}
		/* Exposed but not published: nothing on the host side. */
		if (!json_is_integer(public_port))
			continue;
		if (json_integer_value(private_port) < 1 ||
		    json_integer_value(private_port) > 65535 ||
		    json_integer_value(public_port) < 1 ||
		    json_integer_value(public_port) > 65535) {
			snprintf(err, errlen, "containers[%zu].Ports[%zu]: port out of range",
				 index, i);
			return -1;
		}
		if (add_binding(c, type, ip, json_integer_value(public_port),
				json_integer_value(private_port), err, errlen))
			return -1;
	}
	return 0;
}

int docker_parse_containers(const char *body, size_t len, struct container_list *out, char *err,
			    size_t errlen)
{
	char problem[256] = "", reason[256];
	size_t i, skipped = 0;
	json_t *root, *item;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	root = load_body(body, len, err, errlen);
	if (!root)
		return -1;
	if (!json_is_array(root)) {
		snprintf(err, errlen, "expected an array of containers");
		goto out;
	}
	/*
	 * One odd entry must not hide every other container: it is left out
	 * and said in err, and the listing stands.
	 */
	json_array_foreach(root, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		json_t *names = json_object_get(item, "Names");
		const char *name = json_string_value(json_array_get(names, 0));
		struct container *c;

		if (!json_is_object(item) || !is_container_id(id)) {
			if (!skipped++)
				snprintf(problem, sizeof(problem),
					 "containers[%zu]: no 64-character Id", i);
			continue;
		}
		c = container_list_add(out);
		if (!c) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		copy_string(c->id, sizeof(c->id), id);
		/* Docker names carry a leading '/'. */
		copy_string(c->name, sizeof(c->name), name && *name == '/' ? name + 1 : name);
		set_image(c, json_string_value(json_object_get(item, "Image")));
		c->runtime = "docker";
		copy_string(c->network_mode, sizeof(c->network_mode),
			    json_string_value(json_object_get(json_object_get(item, "HostConfig"),
							      "NetworkMode")));
		if (parse_labels(json_object_get(item, "Labels"), c, reason, sizeof(reason)) ||
		    parse_ports(json_object_get(item, "Ports"), c, reason, sizeof(reason), i)) {
			if (!skipped++)
				snprintf(problem, sizeof(problem), "%s", reason);
			container_clear(c);
			out->count--;
		}
	}
	if (skipped)
		snprintf(err, errlen, "left out %zu of %zu containers, the first because %s",
			 skipped, json_array_size(root), problem);
	ret = 0;
out:
	json_decref(root);
	if (ret)
		container_list_free(out);
	return ret;
}

/* A request to the Engine API: the host part of the URL is ignored over a unix socket. */
static CURL *api_request(const char *socket_path, const char *path)
{
	CURL *curl = curl_easy_init();
	char url[512];

	if (!curl)
		return NULL;
	/* v1.24 is Docker 1.12 and later, and what podman's compatible API serves. */
	snprintf(url, sizeof(url), "http://localhost/v1.24%s", path);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	return curl;
}

void *docker_events_request(const char *socket_path, long long since_s,
			    size_t (*write)(char *data, size_t size, size_t n, void *ctx),
			    void *ctx)
{
	/* filters={"type":["container"]}: images, networks and volumes are not berth's. */
	static const char filters[] = "%7B%22type%22%3A%5B%22container%22%5D%7D";
	char path[160];
	CURL *curl;

	snprintf(path, sizeof(path), "/events?since=%lld&filters=%s", since_s, filters);
	curl = api_request(socket_path, path);
	if (!curl)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, ctx);
	/* Only the connection has a deadline: the stream may be quiet for days. */
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)DOCKER_TIMEOUT_MS);
	return curl;
}

/* GET path from the Engine API into body (NUL-terminated); 0 or -1 with err. */
static int docker_get(const char *socket_path, const char *path, struct body *body, char *err,
		      size_t errlen)
{
	long status = 0;
	CURLcode rc;
	CURL *curl;
	int ret = -1;

	memset(body, 0, sizeof(*body));
	curl = api_request(socket_path, path);
	if (!curl) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)DOCKER_TIMEOUT_MS);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		if (body->too_large)
			snprintf(err, errlen, "%s: response larger than %u bytes", socket_path,
				 DOCKER_MAX_RESPONSE);
		else
			snprintf(err, errlen, "%s: %s", socket_path, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "%s: GET %s answered HTTP %ld", socket_path, path, status);
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(curl);
	if (ret) {
		free(body->data);
		body->data = NULL;
	}
	return ret;
}

int docker_list_containers(const char *socket_path, struct container_list *out, char *err,
			   size_t errlen)
{
	struct body body;
	int ret;

	if (docker_get(socket_path, "/containers/json", &body, err, errlen))
		return -1;
	ret = docker_parse_containers(body.data ? body.data : "", body.len, out, err, errlen);
	free(body.data);
	return ret;
}

/*
 * Inspect's port maps: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
 * "81/tcp": null}. NetworkSettings.Ports has what was bound; before the
 * network is up only HostConfig.PortBindings (what was asked) is there.
 */
static int parse_port_map(json_t *ports, struct container *c, char *err, size_t errlen)
{
	const char *spec;
	json_t *hosts;

	if (!json_is_object(ports))
		return 0;
	json_object_foreach(ports, spec, hosts) {
		unsigned int container_port;
		char proto[8] = "";
		size_t i;
		json_t *host;

		if (sscanf(spec, "%u/%7s", &container_port, proto) != 2 || container_port < 1 ||
		    container_port > 65535) {
			snprintf(err, errlen, "Ports: bad port '%s'", spec);
			return -1;
		}
		if (!json_is_array(hosts))
			continue; /* exposed, not published */
		json_array_foreach(hosts, i, host) {
			const char *ip = json_string_value(json_object_get(host, "HostIp"));
			const char *port = json_string_value(json_object_get(host, "HostPort"));
			char *end;
			unsigned long host_port;

			/* A random port, or one of a host range, not chosen yet. */
			if (!port || !*port || strchr(port, '-'))
				continue;
			host_port = strtoul(port, &end, 10);
			if (*end || host_port < 1 || host_port > 65535) {
				snprintf(err, errlen, "Ports[%s]: bad HostPort '%s'", spec, port);
				return -1;
			}
			if (add_binding(c, proto, ip, host_port, container_port, err, errlen))
				return -1;
		}
	}
	return 0;
}

int docker_parse_inspect(const char *body, size_t len, struct container *c, char *err,
			 size_t errlen)
{
	json_t *root, *ports, *config, *host_config;
	const char *id, *name;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	root = load_body(body, len, err, errlen);
	if (!root)
		return -1;
	id = json_string_value(json_object_get(root, "Id"));
	if (!json_is_object(root) || !is_container_id(id)) {
		snprintf(err, errlen, "no 64-character Id");
		goto out;
	}
	name = json_string_value(json_object_get(root, "Name"));
	copy_string(c->id, sizeof(c->id), id);
	copy_string(c->name, sizeof(c->name), name && *name == '/' ? name + 1 : name);
	config = json_object_get(root, "Config");
	host_config = json_object_get(root, "HostConfig");
	set_image(c, json_string_value(json_object_get(config, "Image")));
	c->runtime = "docker";
	copy_string(c->user, sizeof(c->user), json_string_value(json_object_get(config, "User")));
	copy_string(c->network_mode, sizeof(c->network_mode),
		    json_string_value(json_object_get(host_config, "NetworkMode")));
	c->privileged = json_is_true(json_object_get(host_config, "Privileged"));
	c->read_only_rootfs = json_is_true(json_object_get(host_config, "ReadonlyRootfs"));
	if (parse_labels(json_object_get(config, "Labels"), c, err, errlen))
		goto out;
	ports = json_object_get(json_object_get(root, "NetworkSettings"), "Ports");
	if (!json_is_object(ports) || !json_object_size(ports))
		ports = json_object_get(host_config, "PortBindings");
	ret = parse_port_map(ports, c, err, errlen);
out:
	json_decref(root);
	if (ret)
		container_clear(c);
	return ret;
}

int docker_inspect_container(const char *socket_path, const char *id, struct container *out,
			     char *err, size_t errlen)
{
	char path[128];
	struct body body;
	int ret;

	if (!is_container_id(id)) {
		snprintf(err, errlen, "not a container id: '%.80s'", id);
		return -1;
	}
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (docker_get(socket_path, path, &body, err, errlen))
		return -1;
	ret = docker_parse_inspect(body.data ? body.data : "", body.len, out, err, errlen);
	free(body.data);
	return ret;
}

/* Docker says "die" and "destroy"; podman's compatible API also "died" and "remove". */
static enum docker_event_kind event_kind(const char *action)
{
	static const struct {
		const char *action;
		enum docker_event_kind kind;
	} actions[] = {
		{ "start", DOCKER_EVENT_START },    { "die", DOCKER_EVENT_DIE },
		{ "died", DOCKER_EVENT_DIE },	    { "destroy", DOCKER_EVENT_DESTROY },
		{ "remove", DOCKER_EVENT_DESTROY }, { "rename", DOCKER_EVENT_RENAME },
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(action, actions[i].action))
			return actions[i].kind;
	return DOCKER_EVENT_OTHER;
}

int docker_parse_event(const char *line, size_t len, struct docker_event *out, char *err,
		       size_t errlen)
{
	json_t *root, *actor, *attributes;
	const char *type, *action, *id, *name, *exit_code;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	root = load_body(line, len, err, errlen);
	if (!root)
		return -1;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "event: not an object");
		goto out;
	}
	type = json_string_value(json_object_get(root, "Type"));
	/* Docker before 1.22 had only "status"; berth asks for v1.24 and later. */
	action = json_string_value(json_object_get(root, "Action"));
	actor = json_object_get(root, "Actor");
	attributes = json_object_get(actor, "Attributes");
	id = json_string_value(json_object_get(actor, "ID"));
	if (!type || !action) {
		snprintf(err, errlen, "event: no Type or Action");
		goto out;
	}
	ret = 0;
	if (strcmp(type, "container"))
		goto out; /* images, networks, volumes: not berth's business */
	/* "exec_start: sh -c ..." and "health_status: healthy" carry their detail. */
	out->kind = event_kind(action);
	if (out->kind == DOCKER_EVENT_OTHER)
		goto out;
	if (!is_container_id(id)) {
		snprintf(err, errlen, "%s event: no 64-character Actor.ID", action);
		ret = -1;
		goto out;
	}
	copy_string(out->id, sizeof(out->id), id);
	name = json_string_value(json_object_get(attributes, "name"));
	copy_string(out->name, sizeof(out->name), name && *name == '/' ? name + 1 : name);
	exit_code = json_string_value(json_object_get(attributes, "exitCode"));
	if (exit_code) {
		char *end;
		long code = strtol(exit_code, &end, 10);

		if (!*end && code >= 0 && code <= 255)
			out->exit_code = code;
	}
out:
	json_decref(root);
	if (ret)
		out->kind = DOCKER_EVENT_OTHER;
	return ret;
}
