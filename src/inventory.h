/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The inventory: which container a cgroup id belongs to, and which host
 * address and port publish each container port. One place answers that for
 * every part of berth; each runtime feeds it (docker.c today).
 */
#ifndef BERTH_INVENTORY_H
#define BERTH_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "cgroup.h"
#include "hashmap.h"

#define CONTAINER_NAME_MAX 256
#define IMAGE_NAME_MAX 512

/* host_ip:host_port -> container_port/protocol, ports in host byte order. */
struct port_binding {
	char host_ip[ADDR_STRLEN]; /* as the runtime says: "0.0.0.0", "::", "127.0.0.1" */
	uint16_t host_port;
	uint16_t container_port;
	uint8_t protocol; /* IPPROTO_TCP or IPPROTO_UDP */
};

#define IMAGE_TAG_MAX 128
#define CONTAINER_USER_MAX 64
#define NETWORK_MODE_MAX 64
#define K8S_NAME_MAX 254 /* DNS subdomain names: 253 bytes */
/* Labels kept per container, and the longest key and value kept whole. */
#define CONTAINER_LABELS_MAX 64
#define LABEL_TEXT_MAX 256

struct label {
	char key[LABEL_TEXT_MAX];
	char value[LABEL_TEXT_MAX];
};

/* Kubernetes identity, from the OCI annotations of containerd or CRI-O. */
struct kubernetes_identity {
	char pod_name[K8S_NAME_MAX];
	char pod_namespace[K8S_NAME_MAX];
	char pod_uid[64];
};

struct container {
	char id[CONTAINER_ID_MAX + 1];
	char name[CONTAINER_NAME_MAX];	     /* empty when only the cgroup path is known */
	char image[IMAGE_NAME_MAX];	     /* as the runtime names it: "nginx:1.27" */
	char image_tag[IMAGE_TAG_MAX];	     /* "1.27"; empty for a digest or no tag */
	const char *runtime;		     /* "docker", "podman", "containerd", "cri-o" */
	char user[CONTAINER_USER_MAX];	     /* the image or run-time user; empty: root */
	char network_mode[NETWORK_MODE_MAX]; /* "bridge", "host", "none", "container:<id>" */
	bool privileged;
	bool read_only_rootfs;
	struct kubernetes_identity k8s; /* pod_name empty: not a Kubernetes container */
	struct label *labels;
	unsigned int n_labels;
	struct port_binding *bindings;
	unsigned int n_bindings;
	/* berth's own view of its life */
	bool stopped;	       /* died: kept a while so late records are named */
	bool announced;	       /* its container-started record went out */
	int64_t stopped_at_ms; /* CLOCK_MONOTONIC */
};

/* What one runtime listing returned: replaces that runtime's containers. */
struct container_list {
	struct container *items;
	unsigned int count;
	unsigned int capacity;
};

void container_list_free(struct container_list *list);
struct container *container_list_add(struct container_list *list);
int container_add_binding(struct container *c, const struct port_binding *b);
/*
 * Adds a label; keys and values longer than LABEL_TEXT_MAX - 1 are cut, and
 * labels past CONTAINER_LABELS_MAX are left out. 0 or -ENOMEM.
 */
int container_add_label(struct container *c, const char *key, const char *value);
/* Frees what c owns (labels, bindings) and zeroes it. */
void container_clear(struct container *c);
/*
 * The tag of an image reference: "1.27" for "nginx:1.27" and
 * "registry:5000/a/b:1.27", "" for "nginx" or "nginx@sha256:...".
 */
void image_tag_of(const char *image, char *tag, size_t taglen);

struct inventory {
	struct cgroup_paths cgroups;
	struct hashmap by_cgroup;	  /* uint64_t cgroup id -> struct cgroup_entry */
	struct container_list containers; /* from the runtime API */
	unsigned long generation;	  /* grows when containers or bindings change */
};

/* What berth knows of a cgroup: its path and its container, if any. */
struct cgroup_entry {
	char *path;			   /* relative to the cgroup2 mount, owned */
	bool is_container;		   /* path matched a runtime's layout */
	struct cgroup_container from_path; /* runtime and id from the path */
};

int inventory_init(struct inventory *inv, const char *cgroup_mount);
void inventory_free(struct inventory *inv);

/*
 * The cgroup entry for id (resolving the path on a miss), or NULL while the
 * id is unknown to cgroupfs.
 */
const struct cgroup_entry *inventory_cgroup(struct inventory *inv, uint64_t cgroup_id);

/*
 * Adds the entry of a cgroup that cgroupfs no longer has, from the path
 * the kernel remembered for it (its last directories). The entry goes at
 * the next inventory_prune_cgroups(). NULL without memory.
 */
const struct cgroup_entry *inventory_remember_cgroup(struct inventory *inv, uint64_t cgroup_id,
						     const char *path);

/* The runtime's record for a container id, or NULL. */
const struct container *inventory_container(const struct inventory *inv, const char *id);

/*
 * The binding that publishes container_port/protocol of c: IPv4 bindings
 * before IPv6 ones (Docker lists 0.0.0.0 and :: for one -p), else NULL.
 */
const struct port_binding *container_binding(const struct container *c, uint16_t container_port,
					     uint8_t protocol);

/*
 * The container and binding that publish host_port/protocol, the IPv4
 * binding first, or NULL.
 */
const struct container *inventory_by_host_port(const struct inventory *inv, uint16_t host_port,
					       uint8_t protocol,
					       const struct port_binding **binding);

/* Adds or replaces one container (from an inspect); takes c's bindings. */
int inventory_add_container(struct inventory *inv, struct container *c);

/* Told of containers that start or stop as the inventory learns of it. */
struct inventory_observer {
	void (*started)(void *ctx, const struct container *c);
	void (*stopped)(void *ctx, const struct container *c);
	void *ctx;
};

/*
 * Makes a listing of runtime's running containers the truth: listed ones
 * are added or replaced, running ones of that runtime that are missing are
 * marked stopped at now_ms. obs (may be NULL) hears of each change. Takes
 * the list's containers. Returns how many started plus stopped.
 */
unsigned int inventory_sync_runtime(struct inventory *inv, const char *runtime,
				    struct container_list *list, int64_t now_ms,
				    const struct inventory_observer *obs);

/* Marks a container stopped at now_ms; returns it, or NULL when unknown. */
struct container *inventory_mark_stopped(struct inventory *inv, const char *id, int64_t now_ms);

/*
 * Forgets containers stopped at or before now_ms - keep_ms. Returns how
 * many were forgotten.
 */
unsigned int inventory_expire(struct inventory *inv, int64_t now_ms, int64_t keep_ms);

/*
 * Forgets the cgroups whose directory is gone, calling gone(ctx, id) for
 * each first (to drop what else is keyed by the id). Returns how many.
 */
unsigned int inventory_prune_cgroups(struct inventory *inv,
				     void (*gone)(void *ctx, uint64_t cgroup_id), void *ctx);

/*
 * Calls add(ctx, binding) for each binding of a running container: the
 * host ports published now.
 */
void inventory_for_each_published(const struct inventory *inv,
				  void (*add)(void *ctx, const struct container *c,
					      const struct port_binding *b),
				  void *ctx);

/* Sizes, for the debug log and the churn test. */
unsigned int inventory_container_count(const struct inventory *inv);
unsigned int inventory_cgroup_count(const struct inventory *inv);

#endif
