/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `berth ps`: the running containers of every runtime, their published
 * ports and, when there are any, their traffic counters: those of a running
 * `berth watch`, found in the kernel without pinning, or of a short
 * observation of berth's own.
 */
#ifndef BERTH_PS_H
#define BERTH_PS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"

/* --observe: the longest observation, in seconds. */
#define PS_OBSERVE_MAX_S 60

struct ps_options {
	const char *docker_socket;
	const char *podman_socket; /* NULL: podman not listed */
	bool podman_socket_given;  /* by flag: its absence is worth a warning */
	bool json;
	unsigned int observe_s; /* 0: counters from a running watch, if any */
};

/* Runs `berth ps`; returns the exit code. */
int ps_run(const struct ps_options *opts);

/*
 * The order bindings are shown in: by protocol, container port, IPv4
 * before IPv6, host address and host port. Sorts c's bindings in place.
 */
void ps_sort_bindings(struct container *c);

/*
 * c's bindings as `docker ps` shows them: "0.0.0.0:8080->80/tcp,
 * [::]:8080->80/tcp", consecutive ports of one address and protocol as one
 * range ("0.0.0.0:8000-8002->8000-8002/tcp"). When out is too small, the
 * bindings that fit whole and then "...".
 */
void ps_format_ports(const struct container *c, char *out, size_t outlen);

/* Bytes in units of 1024: "0B", "999B", "1.2K", "34M", "5.0G". */
void ps_format_bytes(uint64_t bytes, char *out, size_t outlen);

#endif
