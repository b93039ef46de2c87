/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef BERTH_WATCH_H
#define BERTH_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "output.h"

struct watch_options {
	const char *ifaces[MAX_IFACES];
	unsigned int n_ifaces;
	enum xdp_mode xdp_mode;
	unsigned int interval_s;
	const char *docker_socket;
	const char *podman_socket;		 /* NULL: podman not followed */
	bool podman_socket_given;		 /* by flag: its absence is worth a warning */
	const char *oci_root;			 /* prefix of containerd's and CRI-O's state dirs */
	const char *config_path;		 /* the YAML policy, or NULL: the defaults */
	bool all;				 /* also host processes and unpublished ports */
	uint32_t ringbuf_bytes;			 /* 0: the object's default */
	struct sink_config outputs[OUTPUTS_MAX]; /* --output, after the policy's outputs */
	unsigned int n_outputs;
	const char *pseudonym_key_path; /* --pseudonym-key, over privacy.key_file */
	const char *metrics_listen;	/* --metrics-listen ADDR:PORT, or NULL: no endpoint */
	char *metrics_token;		/* --metrics-token-file's token, or NULL: none asked */
	const char *metrics_tls_cert;	/* --metrics-tls-cert: https, or NULL: http */
	const char *metrics_tls_key;	/* --metrics-tls-key, or NULL: in the cert file */
};

/*
 * Loads the policy of opts->config_path (the defaults without one) and
 * merges its interfaces into opts. 0, or -1 after printing the error.
 */
struct policy;
int watch_load_policy(struct watch_options *opts, struct policy *policy);

/*
 * Runs `berth watch` until SIGINT/SIGTERM; returns the exit code. Takes
 * policy over (SIGHUP replaces it).
 */
int watch_run(const struct watch_options *opts, struct policy *policy);

#endif
