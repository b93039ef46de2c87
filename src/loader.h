/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one loader: opens, configures, loads and attaches berth's programs,
 * and detaches them. Every attachment is a bpf_link owned by this process,
 * so the kernel detaches everything if berth dies without cleaning up.
 */
#ifndef BERTH_LOADER_H
#define BERTH_LOADER_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct berth_bpf;
struct bpf_link;

enum xdp_mode {
	XDP_MODE_AUTO = 0, /* native where the driver has it, else generic */
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

struct xdp_attachment {
	char name[IF_NAMESIZE];
	int ifindex;
	const char *mode; /* "native" or "generic": what the kernel chose */
	int link_fd;	  /* a BPF_XDP link: closing it detaches */
};

#define MAX_IFACES 32

struct loader_options {
	uint32_t ringbuf_bytes;	   /* power of two, >= page size */
	uint64_t wakeup_data_size; /* see wakeup_data_size in berth.bpf.c */
};

struct loader {
	struct berth_bpf *skel;
	int cgroup_fd;
	struct bpf_link *cgroup_links[5];
	unsigned int n_cgroup_links;
	struct xdp_attachment xdp[MAX_IFACES];
	unsigned int n_xdp;
};

/*
 * Checks what berth needs before touching the kernel: privileges, BTF.
 * Returns 0, or -1 after one line on stderr saying what to do.
 */
int loader_preflight(void);

int loader_open_and_load(struct loader *loader, const struct loader_options *opts);
/* Attaches sockops, cgroup_skb and post_bind at the cgroup2 root. */
int loader_attach_cgroup(struct loader *loader, const char *cgroup_mount);
int loader_attach_xdp(struct loader *loader, const char *ifname, enum xdp_mode mode);
/* Detaches every program; maps stay readable until loader_destroy. */
void loader_detach(struct loader *loader);
void loader_destroy(struct loader *loader);

#endif
