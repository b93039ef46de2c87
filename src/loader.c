// SPDX-License-Identifier: GPL-2.0-only
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.skel.h"
#include "loader.h"
#include "log.h"

#define SYSFS_BTF "/sys/kernel/btf/vmlinux"

/* Capability numbers from linux/capability.h. */
#define CAP_NET_ADMIN_ 12
#define CAP_SYS_ADMIN_ 21
#define CAP_PERFMON_ 38
#define CAP_BPF_ 39

static uint64_t effective_capabilities(void)
{
	char line[256];
	uint64_t caps = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %lx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

int loader_preflight(void)
{
	uint64_t caps = effective_capabilities();
	/* Attaching at the cgroup root and reading BTF pointers needs these. */
	uint64_t needed = (1ULL << CAP_BPF_) | (1ULL << CAP_PERFMON_) | (1ULL << CAP_NET_ADMIN_) |
			  (1ULL << CAP_SYS_ADMIN_);

	if ((caps & needed) != needed && (caps & (1ULL << CAP_SYS_ADMIN_)) == 0) {
		log_error("berth must run as root (or with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN "
			  "and CAP_SYS_ADMIN): try `sudo berth watch`, or run the container "
			  "with --privileged");
		return -1;
	}
	if (access(SYSFS_BTF, R_OK)) {
		log_error("kernel BTF not found (%s: %s): berth needs a kernel built with "
			  "CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu 20.10+, RHEL 8.2+ ship "
			  "one); in a container, mount the host's /sys",
			  SYSFS_BTF, strerror(errno));
		return -1;
	}
	return 0;
}

int loader_open_and_load(struct loader *loader, const struct loader_options *opts)
{
	int err;

	memset(loader, 0, sizeof(*loader));
	loader->cgroup_fd = -1;

	/* 1. Open: parse the object, nothing in the kernel yet. */
	loader->skel = berth_bpf__open();
	if (!loader->skel) {
		log_error("cannot open the BPF object: %s", strerror(errno));
		return -1;
	}

	/* 2. Configure: read-only data and map sizes, before load. */
	loader->skel->rodata->wakeup_data_size = opts->wakeup_data_size;
	if (opts->ringbuf_bytes)
		bpf_map__set_max_entries(loader->skel->maps.events, opts->ringbuf_bytes);

	/* 3. Load: the verifier runs here. */
	err = berth_bpf__load(loader->skel);
	if (err) {
		log_error("cannot load the BPF programs: %s (run with -v for the verifier log)",
			  strerror(-err));
		return -1;
	}
	return 0;
}

int loader_attach_cgroup(struct loader *loader, const char *cgroup_mount)
{
	struct berth_bpf *skel = loader->skel;
	struct bpf_program *progs[] = {
		skel->progs.handle_sockops, skel->progs.count_ingress, skel->progs.count_egress,
		skel->progs.record_bind4,   skel->progs.record_bind6,
	};

	loader->cgroup_fd = open(cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (loader->cgroup_fd < 0) {
		log_error("cannot open the cgroup2 root %s: %s", cgroup_mount, strerror(errno));
		return -1;
	}
	/* The root covers every container from its first socket on. */
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link = bpf_program__attach_cgroup(progs[i], loader->cgroup_fd);

		if (!link) {
			log_error("cannot attach %s to %s: %s", bpf_program__name(progs[i]),
				  cgroup_mount, strerror(errno));
			return -1;
		}
		loader->cgroup_links[loader->n_cgroup_links++] = link;
	}
	return 0;
}

static const char *attached_xdp_mode(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, query);

	if (bpf_xdp_query(ifindex, 0, &query))
		return "unknown";
	switch (query.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "unknown";
	}
}

/* The interface's driver name (ETHTOOL_GDRVINFO), "" when unknown. */
static void interface_driver(const char *ifname, char *driver, size_t size)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	driver[0] = '\0';
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		snprintf(driver, size, "%s", info.driver);
	close(fd);
}

/*
 * veth "supports" native XDP, but packets that reach it from the peer's
 * stack arrive as skbs, which veth converts to xdp_buffs (copying those it
 * cannot use in place) and turns back into skbs; generic XDP runs on the skb
 * as it is. Measured with scripts/bench on 6.18: native cost ~10 % of the
 * connection rate, generic was within noise. Auto picks generic there.
 */
static bool prefers_generic_xdp(const char *ifname)
{
	char driver[32];

	interface_driver(ifname, driver, sizeof(driver));
	return !strcmp(driver, "veth");
}

int loader_attach_xdp(struct loader *loader, const char *ifname, enum xdp_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	struct xdp_attachment *att;
	int prog_fd = bpf_program__fd(loader->skel->progs.count_xdp);
	int ifindex, link_fd;

	if (loader->n_xdp == MAX_IFACES) {
		log_error("--iface %s: at most %d interfaces", ifname, MAX_IFACES);
		return -1;
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		log_error("--iface %s: no such network interface (see `ip link`)", ifname);
		return -1;
	}
	att = &loader->xdp[loader->n_xdp];
	snprintf(att->name, sizeof(att->name), "%s", ifname);
	att->ifindex = ifindex;

	/*
	 * Auto: native first, since generic XDP runs after the skb is built
	 * and costs more; drivers without XDP support refuse native mode.
	 */
	if (mode == XDP_MODE_AUTO && prefers_generic_xdp(ifname))
		mode = XDP_MODE_GENERIC;
	if (mode == XDP_MODE_AUTO || mode == XDP_MODE_NATIVE) {
		opts.flags = XDP_FLAGS_DRV_MODE;
		link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
		if (link_fd < 0 && mode == XDP_MODE_NATIVE) {
			log_error("--iface %s: native XDP refused (%s): the driver may lack XDP "
				  "support; try --xdp-mode generic",
				  ifname, strerror(errno));
			return -1;
		}
	} else {
		link_fd = -1;
	}
	if (link_fd < 0) {
		opts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	}
	if (link_fd < 0) {
		log_error("--iface %s: cannot attach XDP: %s%s", ifname, strerror(errno),
			  errno == EBUSY ? " (another XDP program is attached)" : "");
		return -1;
	}
	att->link_fd = link_fd;
	att->mode = attached_xdp_mode(ifindex);
	loader->n_xdp++;
	return 0;
}

void loader_detach(struct loader *loader)
{
	for (unsigned int i = 0; i < loader->n_cgroup_links; i++)
		bpf_link__destroy(loader->cgroup_links[i]);
	loader->n_cgroup_links = 0;
	/* Keep the list: the last report after detaching still names them. */
	for (unsigned int i = 0; i < loader->n_xdp; i++) {
		if (loader->xdp[i].link_fd >= 0)
			close(loader->xdp[i].link_fd);
		loader->xdp[i].link_fd = -1;
	}
	if (loader->cgroup_fd >= 0)
		close(loader->cgroup_fd);
	loader->cgroup_fd = -1;
}

void loader_destroy(struct loader *loader)
{
	loader_detach(loader);
	berth_bpf__destroy(loader->skel);
	loader->skel = NULL;
}
