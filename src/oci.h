/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kubernetes containers of containerd and CRI-O, named from the OCI runtime
 * config.json each runtime writes into its state directory: the CRI
 * annotations there carry the pod and container names, so berth needs no
 * gRPC client of the CRI socket.
 */
#ifndef BERTH_OCI_H
#define BERTH_OCI_H

#include <stddef.h>

#include "inventory.h"

/*
 * A config.json larger than this is refused unread. Real ones are 10 to
 * 40 KiB (the seccomp profile is most of it); 4 MiB leaves room for huge
 * annotation sets and still bounds what one file can make berth allocate.
 */
#define OCI_MAX_CONFIG (4u << 20)

/*
 * Parses a config.json body (pure; unit-tested and fuzzed) into out: id
 * (copied from the argument, may be NULL), name (the Kubernetes container
 * name; a pod sandbox is named after its pod), image and image_tag, user
 * (process.user: the username if set, else the uid as text, "0" for root),
 * read_only_rootfs (root.readonly), network_mode ("host" when the spec
 * creates no network namespace), k8s (pod name, namespace and uid), and
 * runtime when the annotations tell which CRI implementation wrote them
 * (else NULL). A config.json with no Kubernetes annotations parses, with
 * name and k8s left empty. Returns 0, or -1 with a one-line reason (and,
 * for invalid JSON, its line and column) in err; out is then zeroed.
 */
int oci_parse_config(const char *body, size_t len, const char *id, struct container *out, char *err,
		     size_t errlen);

/*
 * Finds the config.json of container id (1 to 64 lower-case hex digits)
 * under root ("/" in production, a fixture tree in tests) and parses it:
 *   containerd  run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/
 *               (namespace k8s.io first, then every other namespace)
 *   CRI-O       run/containers/storage/overlay-containers/<id>/userdata/
 *               var/lib/containers/storage/overlay-containers/<id>/userdata/
 * and sets out->runtime to "containerd" or "cri-o" by where it was found.
 * The first file that exists decides: an unreadable or invalid one is an
 * error, not a reason to look further.
 *
 * Returns 0 when found and parsed; 1 when no runtime has a config.json for
 * id (a container of neither runtime, or one already removed: not an
 * error); -1 on an error (invalid id, a symlink, a file larger than
 * OCI_MAX_CONFIG or not regular, I/O, invalid config), with a one-line
 * reason naming the file in err. out is zeroed unless 0 is returned.
 */
int oci_lookup_container(const char *root, const char *id, struct container *out, char *err,
			 size_t errlen);

#endif
