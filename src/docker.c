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

static void copy_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
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
		struct port_binding b = { 0 };

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
		if (type && !strcmp(type, "udp"))
			b.protocol = IPPROTO_UDP;
		else if (!type || !strcmp(type, "tcp"))
			b.protocol = IPPROTO_TCP;
		else
			continue; /* sctp: berth counts TCP and UDP */
		/* podman omits IP when the binding is on every interface. */
		copy_string(b.host_ip, sizeof(b.host_ip), ip && *ip ? ip : "0.0.0.0");
		b.host_port = json_integer_value(public_port);
		b.container_port = json_integer_value(private_port);
		if (container_add_binding(c, &b)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int docker_parse_containers(const char *body, size_t len, struct container_list *out, char *err,
			    size_t errlen)
{
	json_error_t jerr;
	json_t *root, *item;
	size_t i;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "expected an array of containers");
		goto out;
	}
	json_array_foreach(root, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		json_t *names = json_object_get(item, "Names");
		const char *name = json_string_value(json_array_get(names, 0));
		struct container *c;

		if (!json_is_object(item) || !id || strlen(id) != CONTAINER_ID_MAX) {
			snprintf(err, errlen, "containers[%zu]: no 64-character Id", i);
			goto out;
		}
		c = container_list_add(out);
		if (!c) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		copy_string(c->id, sizeof(c->id), id);
		/* Docker names carry a leading '/'. */
		copy_string(c->name, sizeof(c->name), name && *name == '/' ? name + 1 : name);
		copy_string(c->image, sizeof(c->image),
			    json_string_value(json_object_get(item, "Image")));
		c->runtime = "docker";
		if (parse_ports(json_object_get(item, "Ports"), c, err, errlen, i))
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	if (ret)
		container_list_free(out);
	return ret;
}

int docker_list_containers(const char *socket_path, struct container_list *out, char *err,
			   size_t errlen)
{
	struct body body = { 0 };
	long status = 0;
	CURLcode rc;
	CURL *curl;
	int ret = -1;

	curl = curl_easy_init();
	if (!curl) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	/* The host part is ignored over a unix socket; v1.24 is Docker 1.12+. */
	curl_easy_setopt(curl, CURLOPT_URL, "http://localhost/v1.24/containers/json");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)DOCKER_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		if (body.too_large)
			snprintf(err, errlen, "%s: response larger than %u bytes", socket_path,
				 DOCKER_MAX_RESPONSE);
		else
			snprintf(err, errlen, "%s: %s", socket_path, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "%s: GET /containers/json answered HTTP %ld", socket_path,
			 status);
		goto out;
	}
	ret = docker_parse_containers(body.data ? body.data : "", body.len, out, err, errlen);
out:
	free(body.data);
	curl_easy_cleanup(curl);
	return ret;
}
