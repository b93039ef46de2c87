// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs berth's packet programs (count_xdp, count_ingress, count_egress) on
 * crafted packets through BPF_PROG_TEST_RUN and checks the verdict and the
 * exact contents of every map they write.
 *
 * Each test gets a freshly loaded skeleton, so maps start empty. Needs root
 * (CAP_BPF + CAP_NET_ADMIN); without it every test is skipped.
 *
 * What test_run gives the programs (net/bpf/test_run.c):
 *  - XDP: the frame as passed, from the Ethernet header on. ingress_ifindex
 *    is the struct xdp_md ctx's, which must name a real device; without a
 *    ctx it is the loopback device of the caller's netns.
 *  - cgroup_skb: data_in must start with an Ethernet header; the kernel
 *    runs eth_type_trans(), which sets skb->protocol from the EtherType and
 *    pulls the header, so the program sees data from the IP header on and
 *    skb->len excludes the 14 Ethernet bytes. skb->sk is a dummy socket from
 *    sk_alloc(), which puts it in the cgroup v2 cgroup of the calling task,
 *    in state TCP_CLOSE and without sk storage.
 */
#define _GNU_SOURCE /* name_to_handle_at() */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "berth.h"
#include "berth.skel.h"
#include "published.h"

#define CGROUP_SKB_ALLOW 1

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define NEXTHDR_HOP 0
#define NEXTHDR_FRAGMENT 44

/*
 * Mirror of struct bound_port_key in bpf/berth.bpf.c, which keeps it private
 * to the kernel side. The map is keyed by raw bytes: layout and zeroed
 * padding must match exactly; test_skb_bound_port_key_size checks the size
 * against the map's key size.
 */
struct bound_port_key {
	__u64 cgroup_id;
	__u16 port; /* host byte order */
	__u8 protocol;
	__u8 pad[5];
};

/* cgroup v2 id of this process: what the dummy test_run socket carries. */
static __u64 self_cgroup_id;
static int lo_ifindex;

/* ---------------------------------------------------------------------- */
/* Packet builder                                                          */
/* ---------------------------------------------------------------------- */

/*
 * Headers are appended in wire order. Length fields that depend on what
 * follows (IPv4 tot_len, IPv6 payload_len, UDP len) are patched by
 * pkt_finish() once the packet is complete. Checksums stay 0: neither
 * test_run nor berth looks at them.
 */
struct pkt {
	__u8 buf[2048];
	size_t len;
	int ip_off;  /* -1: no IP header */
	int ip_ver;  /* 4 or 6 */
	int udp_off; /* -1: no UDP header */
};

static void *pkt_put(struct pkt *p, size_t n)
{
	void *at = p->buf + p->len;

	assert_true(p->len + n <= sizeof(p->buf));
	memset(at, 0, n);
	p->len += n;
	return at;
}

static void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->ip_off = -1;
	p->udp_off = -1;
}

static void put_eth(struct pkt *p, __u16 proto)
{
	static const __u8 dst[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const __u8 src[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x02 };
	struct ethhdr *eth = pkt_put(p, sizeof(*eth));

	memcpy(eth->h_dest, dst, ETH_ALEN);
	memcpy(eth->h_source, src, ETH_ALEN);
	eth->h_proto = htons(proto);
}

/* One 802.1Q/802.1ad tag: TCI, then the EtherType it encapsulates. */
static void put_vlan(struct pkt *p, __u16 vid, __u16 proto)
{
	__be16 *tag = pkt_put(p, 4);

	tag[0] = htons(vid & 0x0fff);
	tag[1] = htons(proto);
}

static void put_ipv4_opts(struct pkt *p, const char *src, const char *dst, __u8 proto,
			  __u16 frag_off, int opt_words)
{
	struct iphdr *iph;

	p->ip_off = p->len;
	p->ip_ver = 4;
	iph = pkt_put(p, sizeof(*iph) + opt_words * 4);
	iph->version = 4;
	iph->ihl = 5 + opt_words;
	iph->ttl = 64;
	iph->protocol = proto;
	iph->frag_off = htons(frag_off);
	assert_int_equal(inet_pton(AF_INET, src, &iph->saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &iph->daddr), 1);
	/* Options: NOPs, then End of Option List in the last byte. */
	memset(iph + 1, 1, opt_words * 4);
	if (opt_words)
		((__u8 *)(iph + 1))[opt_words * 4 - 1] = 0;
}

static void put_ipv4(struct pkt *p, const char *src, const char *dst, __u8 proto)
{
	put_ipv4_opts(p, src, dst, proto, 0, 0);
}

static void put_ipv6(struct pkt *p, const char *src, const char *dst, __u8 nexthdr)
{
	struct ipv6hdr *ip6h;

	p->ip_off = p->len;
	p->ip_ver = 6;
	ip6h = pkt_put(p, sizeof(*ip6h));
	ip6h->version = 6;
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = 64;
	assert_int_equal(inet_pton(AF_INET6, src, &ip6h->saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, &ip6h->daddr), 1);
}

/* Hop-by-hop options header, 8 bytes: a single PadN option fills it. */
static void put_hopopts(struct pkt *p, __u8 nexthdr)
{
	__u8 *h = pkt_put(p, 8);

	h[0] = nexthdr;
	h[1] = 0; /* length in 8-byte units, not counting the first 8 */
	h[2] = 1; /* PadN */
	h[3] = 4; /* four bytes of padding follow */
}

/* IPv6 fragment header; offset in 8-byte units. */
static void put_frag6(struct pkt *p, __u8 nexthdr, __u16 offset, bool more)
{
	__u8 *h = pkt_put(p, 8);
	__be16 off = htons((offset << 3) | (more ? 1 : 0));

	h[0] = nexthdr;
	memcpy(h + 2, &off, sizeof(off));
}

/* doff in 32-bit words; options beyond 20 bytes are NOPs. */
static void put_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags, int doff)
{
	struct tcphdr *th = pkt_put(p, doff * 4);

	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(1000);
	th->doff = doff;
	((__u8 *)th)[13] = flags;
	th->window = htons(65535);
	memset((__u8 *)th + sizeof(*th), 1, doff * 4 - sizeof(*th));
}

static void put_udp(struct pkt *p, __u16 sport, __u16 dport)
{
	struct udphdr *uh;

	p->udp_off = p->len;
	uh = pkt_put(p, sizeof(*uh));
	uh->source = htons(sport);
	uh->dest = htons(dport);
}

static void put_payload(struct pkt *p, size_t n)
{
	__u8 *d = pkt_put(p, n);

	for (size_t i = 0; i < n; i++)
		d[i] = (__u8)i;
}

static void pkt_finish(struct pkt *p)
{
	if (p->ip_off >= 0 && p->ip_ver == 4) {
		struct iphdr *iph = (void *)(p->buf + p->ip_off);

		iph->tot_len = htons(p->len - p->ip_off);
	} else if (p->ip_off >= 0 && p->ip_ver == 6) {
		struct ipv6hdr *ip6h = (void *)(p->buf + p->ip_off);

		ip6h->payload_len = htons(p->len - p->ip_off - sizeof(*ip6h));
	}
	if (p->udp_off >= 0) {
		struct udphdr *uh = (void *)(p->buf + p->udp_off);

		uh->len = htons(p->len - p->udp_off);
	}
}

/* Cuts the packet to n bytes after pkt_finish(): a truncated capture. */
static void pkt_truncate(struct pkt *p, size_t n)
{
	assert_true(n <= p->len);
	p->len = n;
}

static void v4_mapped(__u8 out[BERTH_ADDR_LEN], const char *ip4)
{
	memset(out, 0, BERTH_ADDR_LEN);
	out[10] = 0xff;
	out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, ip4, out + 12), 1);
}

static void v6_addr(__u8 out[BERTH_ADDR_LEN], const char *ip6)
{
	assert_int_equal(inet_pton(AF_INET6, ip6, out), 1);
}

/* ---------------------------------------------------------------------- */
/* Running programs                                                        */
/* ---------------------------------------------------------------------- */

static __u32 run_xdp_ifindex(struct berth_bpf *skel, const struct pkt *p, int ifindex)
{
	struct xdp_md md = {
		.data = 0,
		.data_end = p->len,
		.ingress_ifindex = ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .ctx_in = &md, .ctx_size_in = sizeof(md));
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.count_xdp), &opts);
	assert_int_equal(err, 0);
	return opts.retval;
}

/* No ctx: test_run picks the loopback device of the caller's netns. */
static __u32 run_xdp_no_ctx(struct berth_bpf *skel, const struct pkt *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.count_xdp), &opts);
	assert_int_equal(err, 0);
	return opts.retval;
}

static __u32 run_xdp(struct berth_bpf *skel, const struct pkt *p)
{
	return run_xdp_ifindex(skel, p, lo_ifindex);
}

/*
 * gso_segs 0: a plain skb. Otherwise a __sk_buff ctx carries gso_segs and
 * gso_size into the skb's shared info, as for a GSO super-packet. Returns
 * 0 or -errno of the test_run call itself.
 */
static int try_run_skb(struct bpf_program *prog, const struct pkt *p, __u32 gso_segs,
		       __u32 gso_size, __u32 *retval)
{
	struct __sk_buff skb_ctx = {
		.gso_segs = gso_segs,
		.gso_size = gso_size,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len);

	if (gso_segs) {
		opts.ctx_in = &skb_ctx;
		opts.ctx_size_in = sizeof(skb_ctx);
	}
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		return -errno;
	*retval = opts.retval;
	return 0;
}

static __u32 run_skb_gso(struct bpf_program *prog, const struct pkt *p, __u32 gso_segs,
			 __u32 gso_size)
{
	__u32 retval = 0;

	assert_int_equal(try_run_skb(prog, p, gso_segs, gso_size, &retval), 0);
	return retval;
}

static __u32 run_skb(struct bpf_program *prog, const struct pkt *p)
{
	return run_skb_gso(prog, p, 0, 0);
}

/* ---------------------------------------------------------------------- */
/* Reading maps                                                            */
/* ---------------------------------------------------------------------- */

/* The kernel hands out per-CPU values in 8-byte aligned slots. */
static size_t percpu_slot(const struct bpf_map *map)
{
	return (bpf_map__value_size(map) + 7) & ~(size_t)7;
}

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	assert_true(n > 0);
	return n;
}

/*
 * Looks key up in a per-CPU map whose value is a struct of __u64 fields and
 * sums each field over all CPUs into out (nwords words); the field at index
 * max_word (-1: none) takes the maximum instead, for timestamps. Returns
 * -ENOENT when the key is absent.
 */
static int percpu_lookup_u64s(const struct bpf_map *map, const void *key, __u64 *out, size_t nwords,
			      int max_word)
{
	size_t slot = percpu_slot(map);
	int n = ncpus();
	__u8 *values;
	int err;

	assert_int_equal(bpf_map__value_size(map), nwords * sizeof(__u64));
	values = calloc(n, slot);
	assert_non_null(values);
	err = bpf_map_lookup_elem(bpf_map__fd(map), key, values);
	if (err) {
		err = -errno;
		free(values);
		return err;
	}
	memset(out, 0, nwords * sizeof(__u64));
	for (int cpu = 0; cpu < n; cpu++) {
		const __u64 *v = (const __u64 *)(values + cpu * slot);

		for (size_t w = 0; w < nwords; w++) {
			if ((int)w == max_word)
				out[w] = v[w] > out[w] ? v[w] : out[w];
			else
				out[w] += v[w];
		}
	}
	free(values);
	return 0;
}

static __u64 health(struct berth_bpf *skel, enum berth_counter counter)
{
	__u32 key = counter;
	__u64 sum;

	assert_int_equal(percpu_lookup_u64s(skel->maps.health, &key, &sum, 1, -1), 0);
	return sum;
}

static bool is_xdp_insert_counter(int c)
{
	return c == BERTH_CNT_XDP_SOURCE_INSERTS || c == BERTH_CNT_XDP_PORT_INSERTS;
}

/*
 * Every health counter is 0 except `except` (BERTH_CNT__MAX: none). A
 * counted XDP packet moves both insert counters (new source, new port), so
 * naming either one exempts both; tests assert their values where it matters.
 */
static void assert_health_zero_except(struct berth_bpf *skel, enum berth_counter except)
{
	for (int c = 0; c < BERTH_CNT__MAX; c++) {
		if (c == (int)except)
			continue;
		if (is_xdp_insert_counter(except) && is_xdp_insert_counter(c))
			continue;
		if (health(skel, c) != 0)
			fail_msg("health counter %d is %llu, expected 0", c,
				 (unsigned long long)health(skel, c));
	}
}

static int map_entries(const struct bpf_map *map)
{
	__u8 key[64], next[64];
	int fd = bpf_map__fd(map);
	int count = 0;
	void *prev = NULL;

	assert_true(bpf_map__key_size(map) <= sizeof(key));
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		count++;
		memcpy(key, next, sizeof(key));
		prev = key;
	}
	return count;
}

static int xdp_port(struct berth_bpf *skel, int ifindex, __u16 port, __u8 protocol,
		    struct berth_xdp_counters *out)
{
	struct berth_xdp_port_key key;

	memset(&key, 0, sizeof(key));
	key.ifindex = ifindex;
	key.port = port;
	key.protocol = protocol;
	return percpu_lookup_u64s(skel->maps.xdp_ports, &key, (__u64 *)out,
				  sizeof(*out) / sizeof(__u64), -1);
}

static int xdp_source(struct berth_bpf *skel, const __u8 addr[BERTH_ADDR_LEN],
		      struct berth_xdp_source *out)
{
	struct berth_xdp_source_key key;

	memcpy(key.addr, addr, BERTH_ADDR_LEN);
	return percpu_lookup_u64s(skel->maps.xdp_sources, &key, (__u64 *)out,
				  sizeof(*out) / sizeof(__u64),
				  offsetof(struct berth_xdp_source, last_seen_ns) / sizeof(__u64));
}

static int port_traffic(struct berth_bpf *skel, __u16 port, __u8 protocol, __u8 role,
			struct berth_port_counters *out)
{
	struct berth_port_key key;

	memset(&key, 0, sizeof(key));
	key.cgroup_id = self_cgroup_id;
	key.port = port;
	key.protocol = protocol;
	key.role = role;
	return percpu_lookup_u64s(skel->maps.port_traffic, &key, (__u64 *)out,
				  sizeof(*out) / sizeof(__u64), -1);
}

static void bind_port(struct berth_bpf *skel, __u16 port, __u8 protocol)
{
	struct bound_port_key key;
	__u8 one = 1;

	memset(&key, 0, sizeof(key));
	key.cgroup_id = self_cgroup_id;
	key.port = port;
	key.protocol = protocol;
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.bound_ports), &key, &one, BPF_ANY), 0);
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* Fixtures                                                                */
/* ---------------------------------------------------------------------- */

static int setup(void **state)
{
	struct berth_bpf *skel;

	*state = NULL;
	if (geteuid() != 0)
		return 0; /* each test skips */
	skel = berth_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "berth_bpf__open_and_load: %s\n", strerror(errno));
		return -1;
	}
	/* Most XDP tests look at one port each: count every port on its own. */
	skel->bss->count_all_ports = true;
	*state = skel;
	return 0;
}

static int teardown(void **state)
{
	berth_bpf__destroy(*state);
	*state = NULL;
	return 0;
}

static struct berth_bpf *skel_of(void **state)
{
	if (!*state)
		skip(); /* not root */
	return *state;
}

/*
 * The cgroup v2 id is the cgroup directory's kernfs id, which
 * name_to_handle_at() returns as an 8-byte handle (and which is also the
 * inode number on 64-bit). The path is the cgroup2 mount plus the "0::"
 * line of /proc/self/cgroup.
 */
static __u64 cgroup_id_of_self(void)
{
	char line[4096], cg_path[4096] = "", mnt[4096] = "", path[8300];
	struct file_handle *fh;
	struct stat st;
	__u64 id = 0;
	FILE *f;
	int mount_id;

	f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(cg_path, sizeof(cg_path), "%s", line + 3);
			cg_path[strcspn(cg_path, "\n")] = '\0';
		}
	}
	fclose(f);

	f = fopen("/proc/self/mounts", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char dev[256], dir[4096], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0) {
			snprintf(mnt, sizeof(mnt), "%s", dir);
			break;
		}
	}
	fclose(f);
	if (!mnt[0])
		return 0;

	snprintf(path, sizeof(path), "%s%s", mnt, cg_path);
	fh = malloc(sizeof(*fh) + sizeof(id));
	if (!fh)
		return 0;
	fh->handle_bytes = sizeof(id);
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0) == 0 &&
	    fh->handle_bytes == sizeof(id))
		memcpy(&id, fh->f_handle, sizeof(id));
	else if (stat(path, &st) == 0)
		id = st.st_ino;
	free(fh);
	return id;
}

static int group_setup(void **state)
{
	(void)state;
	lo_ifindex = if_nametoindex("lo");
	self_cgroup_id = cgroup_id_of_self();
	if (geteuid() == 0 && (!lo_ifindex || !self_cgroup_id)) {
		fprintf(stderr, "no lo (%d) or no cgroup v2 id (%llu)\n", lo_ifindex,
			(unsigned long long)self_cgroup_id);
		return -1;
	}
	print_message("lo ifindex %d, cgroup v2 id of this process %llu\n", lo_ifindex,
		      (unsigned long long)self_cgroup_id);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* XDP                                                                     */
/* ---------------------------------------------------------------------- */

static void build_v4_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags)
{
	pkt_init(p);
	put_eth(p, ETH_P_IP);
	put_ipv4(p, "198.51.100.2", "192.0.2.1", IPPROTO_TCP);
	put_tcp(p, sport, dport, flags, 5);
	pkt_finish(p);
}

static void test_xdp_ipv4_tcp_syn(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	__u64 before, after;
	struct pkt p;

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	assert_int_equal(p.len, 14 + 20 + 20);

	before = monotonic_ns();
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	after = monotonic_ns();

	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 54);
	assert_int_equal(c.syns, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);

	v4_mapped(src, "198.51.100.2");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.bytes, 54);
	assert_int_equal(s.syns, 1);
	assert_in_range(s.last_seen_ns, before, after);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 1);

	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 1);
	assert_int_equal(health(skel, BERTH_CNT_XDP_PORT_INSERTS), 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
	/* XDP never touches the cgroup side. */
	assert_int_equal(map_entries(skel->maps.port_traffic), 0);
}

/*
 * Without --all, XDP counts the ports published_ports names one by one and
 * every other port under BERTH_UNPUBLISHED_PORT: a scan is one entry.
 */
static void test_xdp_unpublished_ports_together(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_published_key key = { .port = 8080, .protocol = IPPROTO_TCP };
	struct berth_published value = { .container_port = 80, .bindings = 1 };
	struct berth_xdp_counters c;
	struct pkt p;

	skel->bss->count_all_ports = false;
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.published_ports), &key, &value, BPF_ANY),
		0);
	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	for (__u16 port = 1; port <= 100; port++) {
		build_v4_tcp(&p, 40000, 9000 + port, TCP_SYN);
		assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	}
	/* UDP to 8080 is not the published TCP port. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "192.0.2.1", IPPROTO_UDP);
	put_udp(&p, 40000, 8080);
	put_payload(&p, 10);
	pkt_finish(&p);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.syns, 1);
	assert_int_equal(xdp_port(skel, lo_ifindex, BERTH_UNPUBLISHED_PORT, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 100);
	assert_int_equal(c.syns, 100);
	assert_int_equal(xdp_port(skel, lo_ifindex, BERTH_UNPUBLISHED_PORT, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 3);
}

static void add_test_container(struct inventory *inv, const char *id, const char *host_ip,
			       uint16_t host_port, uint16_t container_port, uint8_t protocol)
{
	struct port_binding b = { .host_port = host_port,
				  .container_port = container_port,
				  .protocol = protocol };
	struct container c = { .runtime = "docker" };

	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(b.host_ip, sizeof(b.host_ip), "%s", host_ip);
	assert_int_equal(container_add_binding(&c, &b), 0);
	assert_int_equal(inventory_add_container(inv, &c), 0);
}

static void expect_published(struct berth_bpf *skel, uint16_t port, uint8_t protocol,
			     uint16_t container_port, uint16_t bindings)
{
	struct berth_published_key key = { .port = port, .protocol = protocol };
	struct berth_published value;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.published_ports), &key, &value))
		fail_msg("%u/%u not in published_ports", port, protocol);
	assert_int_equal(value.container_port, container_port);
	assert_int_equal(value.bindings, bindings);
}

/* The table user space pushes follows the inventory: running containers only. */
static void test_published_ports_sync(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	int fd = bpf_map__fd(skel->maps.published_ports);
	struct inventory inv;
	struct container *c;

	assert_int_equal(inventory_init(&inv, "/nonexistent"), 0);
	assert_int_equal(published_ports_sync(&inv, NULL, fd, -1), 0);
	assert_int_equal(map_entries(skel->maps.published_ports), 0);

	add_test_container(&inv, "a", "0.0.0.0", 8080, 80, IPPROTO_TCP);
	c = (struct container *)inventory_container(&inv, "a");
	/* The IPv6 binding of the same -p shares the host port. */
	assert_int_equal(
		container_add_binding(c, &(struct port_binding){ .host_ip = "::",
								 .host_port = 8080,
								 .container_port = 80,
								 .protocol = IPPROTO_TCP }),
		0);
	add_test_container(&inv, "b", "127.0.0.1", 5353, 53, IPPROTO_UDP);
	assert_int_equal(published_ports_sync(&inv, NULL, fd, -1), 2);
	assert_int_equal(map_entries(skel->maps.published_ports), 2);
	expect_published(skel, 8080, IPPROTO_TCP, 80, 2);
	expect_published(skel, 5353, IPPROTO_UDP, 53, 1);

	/* A stopped container's ports leave the table; a stale entry goes too. */
	assert_non_null(inventory_mark_stopped(&inv, "a", 1));
	assert_int_equal(published_ports_sync(&inv, NULL, fd, -1), 1);
	assert_int_equal(map_entries(skel->maps.published_ports), 1);
	expect_published(skel, 5353, IPPROTO_UDP, 53, 1);
	inventory_free(&inv);
}

static int count_event(void *ctx, void *data, size_t size)
{
	const struct berth_event *ev = data;
	struct berth_event *last = ctx;

	if (size >= sizeof(*ev))
		*last = *ev;
	last->cgroup_id++; /* how many, in a field these events leave 0 */
	return 0;
}

/* Drains the ring buffer; the last event, its cgroup_id the number of events. */
static struct berth_event drain_events(struct berth_bpf *skel)
{
	struct berth_event last = { 0 };
	uint64_t n = 0;
	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(skel->maps.events), count_event, &last, NULL);

	assert_non_null(rb);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	n = last.cgroup_id;
	last.cgroup_id = n;
	return last;
}

/*
 * A protected port (a rule with an allowlist): SYNs from inside pass, from
 * outside are reported once and, when the rule enforces, dropped and
 * counted.
 */
static void test_xdp_protected_port(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_published_key key = { .port = 8080, .protocol = IPPROTO_TCP };
	struct berth_published value = { .container_port = 80,
					 .bindings = 1,
					 .flags = BERTH_PUBLISHED_PROTECTED |
						  BERTH_PUBLISHED_ENFORCE };
	struct berth_allow_key allow = { .prefixlen = 32 + 96 + 25,
					 .port = 8080,
					 .protocol = IPPROTO_TCP };
	struct berth_xdp_counters c;
	struct berth_event ev;
	__u8 one = 1;
	struct pkt p;

	skel->bss->unauth_report_ns = 60ULL * 1000000000ULL;
	v4_mapped(allow.addr, "198.51.100.0");
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.published_ports), &key, &value, BPF_ANY),
		0);
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.allowed_sources), &allow, &one, BPF_ANY),
		0);
	/* build_v4_tcp's source, 198.51.100.2, is inside 198.51.100.0/25. */
	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 0);

	/* From outside: dropped, reported once however often it tries. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.200", "192.0.2.1", IPPROTO_TCP);
	put_tcp(&p, 40001, 8080, TCP_SYN, 5);
	pkt_finish(&p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run_xdp(skel, &p), XDP_DROP);
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 1);
	assert_int_equal(ev.kind, BERTH_EV_UNAUTHORIZED);
	assert_int_equal(ev.local_port, 8080);
	assert_int_equal(ev.bytes_in, 1);
	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.syns, 4);
	assert_int_equal(c.syns_dropped, 3);

	/* Not enforcing: reported, passed. Data segments are never judged. */
	value.flags = BERTH_PUBLISHED_PROTECTED;
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.published_ports), &key, &value, BPF_ANY),
		0);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	build_v4_tcp(&p, 40000, 8080, TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
}

/* A source touching scan_threshold distinct ports in a window: one event. */
static void test_xdp_port_scan(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_event ev;
	struct pkt p;

	skel->bss->scan_threshold = 5;
	skel->bss->scan_window_ns = 10ULL * 1000000000ULL;
	/* The same port again and again is no scan. */
	for (int i = 0; i < 10; i++) {
		build_v4_tcp(&p, 40000 + i, 22, TCP_SYN);
		run_xdp(skel, &p);
	}
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 0);
	/* 4 more distinct ports: 5 in all, the threshold. Then more: no second event. */
	for (__u16 port = 23; port < 40; port++) {
		build_v4_tcp(&p, 40000, port, TCP_SYN);
		run_xdp(skel, &p);
	}
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 1);
	assert_int_equal(ev.kind, BERTH_EV_PORT_SCAN);
	assert_int_equal(ev.bytes_in, 5);
	assert_int_equal(ev.local_port, 26);
	assert_int_equal(ev.duration_ns, 10ULL * 1000000000ULL);
	/* Off: nothing tracked. */
	skel->bss->scan_threshold = 0;
	build_v4_tcp(&p, 40000, 41, TCP_SYN);
	run_xdp(skel, &p);
	assert_int_equal(map_entries(skel->maps.scan_pairs), 18);
}

/* SYNs of one source to one port, handshakes completed or not: one event at the threshold. */
static void test_xdp_attempts(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_event ev;
	struct pkt p;

	skel->bss->attempts_threshold = 5;
	skel->bss->attempts_window_ns = 10ULL * 1000000000ULL;
	for (int i = 0; i < 4; i++) {
		build_v4_tcp(&p, 40000 + i, 8080, TCP_SYN);
		run_xdp(skel, &p);
	}
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 0);
	for (int i = 4; i < 12; i++) {
		build_v4_tcp(&p, 40000 + i, 8080, TCP_SYN);
		run_xdp(skel, &p);
	}
	ev = drain_events(skel);
	assert_int_equal(ev.cgroup_id, 1);
	assert_int_equal(ev.kind, BERTH_EV_ATTEMPTS);
	assert_int_equal(ev.bytes_in, 5);
	assert_int_equal(ev.local_port, 8080);
	/* Other ports of the same source count apart. */
	build_v4_tcp(&p, 40000, 8081, TCP_SYN);
	run_xdp(skel, &p);
	assert_int_equal(map_entries(skel->maps.attempts), 2);
}

/* The key's ifindex is the receiving device's, read from the ctx. */
static void test_xdp_ifindex_from_ctx(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct if_nameindex *ifs, *i;
	struct berth_xdp_counters c;
	int other = 0;
	struct pkt p;

	ifs = if_nameindex();
	assert_non_null(ifs);
	for (i = ifs; i->if_index; i++) {
		if ((int)i->if_index != lo_ifindex) {
			other = i->if_index;
			break;
		}
	}
	if_freenameindex(ifs);

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	assert_int_equal(run_xdp_no_ctx(skel, &p), XDP_PASS);
	assert_int_equal(run_xdp_ifindex(skel, &p, lo_ifindex), XDP_PASS);
	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 2);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);

	if (!other)
		skip(); /* only lo in this netns */
	assert_int_equal(run_xdp_ifindex(skel, &p, other), XDP_PASS);
	assert_int_equal(xdp_port(skel, other, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 2);
}

static void test_xdp_ipv4_tcp_synack_not_syn(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	build_v4_tcp(&p, 8080, 40000, TCP_SYN | TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 40000, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 54);
	assert_int_equal(c.syns, 0);

	v4_mapped(src, "198.51.100.2");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.syns, 0);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_ipv4_tcp_other_flags_not_syn(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct pkt p;

	/* ACK, PSH|ACK, FIN|ACK: established traffic, never a SYN. */
	build_v4_tcp(&p, 40000, 8080, TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	build_v4_tcp(&p, 40000, 8080, TCP_PSH | TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	build_v4_tcp(&p, 40000, 8080, TCP_FIN | TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	/* SYN with FIN set is still no ACK: counted as an attempt. */
	build_v4_tcp(&p, 40000, 8080, TCP_SYN | TCP_FIN);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	/* ECN-setup SYN (RFC 3168): ECE and CWR do not hide the SYN. */
	build_v4_tcp(&p, 40000, 8080, TCP_SYN | TCP_ECE | TCP_CWR);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 5);
	assert_int_equal(c.bytes, 5 * 54);
	assert_int_equal(c.syns, 2);
}

static void test_xdp_ipv4_udp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "203.0.113.9", "192.0.2.1", IPPROTO_UDP);
	put_udp(&p, 33333, 53);
	put_payload(&p, 29);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 20 + 8 + 29);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 53, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 71);
	assert_int_equal(c.syns, 0);
	/* Same port, other protocol: a different key. */
	assert_int_equal(xdp_port(skel, lo_ifindex, 53, IPPROTO_TCP, &c), -ENOENT);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);

	v4_mapped(src, "203.0.113.9");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.bytes, 71);
	assert_int_equal(s.syns, 0);
	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_ipv4_options(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct pkt p;

	/* ihl 7: the TCP header starts 8 bytes later than usual. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4_opts(&p, "198.51.100.2", "192.0.2.1", IPPROTO_TCP, 0, 2);
	put_tcp(&p, 40000, 8443, TCP_SYN, 5);
	pkt_finish(&p);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(xdp_port(skel, lo_ifindex, 8443, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 14 + 28 + 20);
	assert_int_equal(c.syns, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);
}

static void test_xdp_ipv6_tcp_syn(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", IPPROTO_TCP);
	put_tcp(&p, 50000, 443, TCP_SYN, 10);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 40 + 40);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 443, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 94);
	assert_int_equal(c.syns, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);

	/* IPv6 sources are stored as they are, not mapped. */
	v6_addr(src, "2001:db8::2");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 1);
	assert_int_equal(s.bytes, 94);
	assert_int_equal(s.syns, 1);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 1);
	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_ipv6_hopopts(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_HOP);
	put_hopopts(&p, IPPROTO_TCP);
	put_tcp(&p, 50000, 443, TCP_SYN, 5);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 40 + 8 + 20);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 443, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 82);
	assert_int_equal(c.syns, 1);
	v6_addr(src, "2001:db8::2");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_ipv6_fragments(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct pkt p;

	/* First fragment (offset 0, more fragments): has the UDP ports. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_FRAGMENT);
	put_frag6(&p, IPPROTO_UDP, 0, true);
	put_udp(&p, 40000, 4789);
	put_payload(&p, 64);
	pkt_finish(&p);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(xdp_port(skel, lo_ifindex, 4789, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 14 + 40 + 8 + 8 + 64);

	/* Later fragment: well formed but no L4 header: ignored, not malformed. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_FRAGMENT);
	put_frag6(&p, IPPROTO_UDP, 9, false);
	put_payload(&p, 64);
	pkt_finish(&p);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 4789, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 1);
	assert_int_equal(health(skel, BERTH_CNT_XDP_MALFORMED), 0);
	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 1);
	assert_int_equal(health(skel, BERTH_CNT_XDP_PORT_INSERTS), 1);
}

static void test_xdp_vlan(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_8021Q);
	put_vlan(&p, 100, ETH_P_IP);
	put_ipv4(&p, "198.51.100.7", "192.0.2.1", IPPROTO_TCP);
	put_tcp(&p, 40000, 22, TCP_SYN, 5);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 4 + 20 + 20);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	/* Frame bytes include the tag. */
	assert_int_equal(xdp_port(skel, lo_ifindex, 22, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 58);
	assert_int_equal(c.syns, 1);
	v4_mapped(src, "198.51.100.7");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.bytes, 58);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_qinq(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_8021AD);
	put_vlan(&p, 10, ETH_P_8021Q);
	put_vlan(&p, 20, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::9", "2001:db8::1", IPPROTO_UDP);
	put_udp(&p, 5000, 6081);
	put_payload(&p, 10);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 8 + 40 + 8 + 10);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_port(skel, lo_ifindex, 6081, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 80);
	assert_int_equal(c.syns, 0);
	v6_addr(src, "2001:db8::9");
	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.bytes, 80);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

/* Three tags exceed VLAN_MAX_DEPTH: passed, and not called malformed. */
static void test_xdp_three_vlan_tags_ignored(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_8021AD);
	put_vlan(&p, 10, ETH_P_8021Q);
	put_vlan(&p, 20, ETH_P_8021Q);
	put_vlan(&p, 30, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "192.0.2.1", IPPROTO_TCP);
	put_tcp(&p, 40000, 8080, TCP_SYN, 5);
	pkt_finish(&p);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 0);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

/* A frame that must be passed, counted as malformed once, and nothing else. */
static void expect_xdp_malformed(struct berth_bpf *skel, const struct pkt *p)
{
	assert_int_equal(run_xdp(skel, p), XDP_PASS);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 0);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 0);
	assert_int_equal(health(skel, BERTH_CNT_XDP_MALFORMED), 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_MALFORMED);
}

/* A well-formed frame berth does not count: passed, nothing touched. */
static void expect_xdp_ignored(struct berth_bpf *skel, const struct pkt *p)
{
	assert_int_equal(run_xdp(skel, p), XDP_PASS);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 0);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

static void test_xdp_truncated_eth_only(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	assert_int_equal(p.len, ETH_HLEN);
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_vlan_tag(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_8021Q);
	put_vlan(&p, 100, ETH_P_IP);
	pkt_truncate(&p, ETH_HLEN + 2);
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_ipv4_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	pkt_truncate(&p, ETH_HLEN + 19);
	expect_xdp_malformed(skel, &p);
}

/* ihl says 24 bytes of header, the frame ends after 20. */
static void test_xdp_truncated_ipv4_options(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4_opts(&p, "198.51.100.2", "192.0.2.1", IPPROTO_TCP, 0, 1);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 20);
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_bad_ipv4_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct iphdr *iph;
	struct pkt p;

	/* ihl 4 (16 bytes) is below the minimum header size. */
	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	iph = (void *)(p.buf + ETH_HLEN);
	iph->ihl = 4;
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_ipv4_version_mismatch(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct iphdr *iph;
	struct pkt p;

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	iph = (void *)(p.buf + ETH_HLEN);
	iph->version = 6;
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_tcp_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	pkt_truncate(&p, ETH_HLEN + 20 + 19);
	expect_xdp_malformed(skel, &p);
}

/*
 * doff promises 40 bytes of TCP header, the frame ends after the fixed 20.
 * The ports are readable, so count_xdp() counts the frame.
 */
static void test_xdp_tcp_options_cut_counted(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "192.0.2.1", IPPROTO_TCP);
	put_tcp(&p, 40000, 8080, TCP_SYN, 10);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 20 + 20);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 54);
	assert_int_equal(c.syns, 1);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

static void test_xdp_tcp_doff_too_small(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct tcphdr *th;
	struct pkt p;

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	th = (void *)(p.buf + ETH_HLEN + 20);
	th->doff = 4;
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_udp_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "203.0.113.9", "192.0.2.1", IPPROTO_UDP);
	put_udp(&p, 33333, 53);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 20 + 7);
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_ipv6_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", IPPROTO_TCP);
	put_tcp(&p, 50000, 443, TCP_SYN, 5);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 39);
	expect_xdp_malformed(skel, &p);
}

static void test_xdp_truncated_ipv6_hopopts(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_HOP);
	put_hopopts(&p, IPPROTO_TCP);
	put_tcp(&p, 50000, 443, TCP_SYN, 5);
	pkt_finish(&p);
	/* The option header is there, the TCP header is cut short. */
	pkt_truncate(&p, ETH_HLEN + 40 + 8 + 10);
	expect_xdp_malformed(skel, &p);
}

/*
 * Non-first IPv4 fragment: parse_iphdr() refuses it (the ports are in the
 * first fragment only), and count_xdp() counts every parse failure as
 * malformed.
 */
static void test_xdp_ipv4_nonfirst_fragment(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	/* Offset 185 * 8 = 1480 bytes, no more fragments. */
	put_ipv4_opts(&p, "198.51.100.2", "192.0.2.1", IPPROTO_UDP, 185, 0);
	put_payload(&p, 40);
	pkt_finish(&p);
	expect_xdp_ignored(skel, &p);
}

/* First fragment: offset 0 with MF set still carries the ports. */
static void test_xdp_ipv4_first_fragment(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4_opts(&p, "198.51.100.2", "192.0.2.1", IPPROTO_UDP, 0x2000 /* MF */, 0);
	put_udp(&p, 40000, 4789);
	put_payload(&p, 100);
	pkt_finish(&p);

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(xdp_port(skel, lo_ifindex, 4789, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 14 + 20 + 8 + 100);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

/*
 * ICMP parses fine but has no ports: ignored, not malformed (else IPv6
 * neighbour discovery would read as a stream of malformed frames).
 */
static void test_xdp_icmp_ignored(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "192.0.2.1", IPPROTO_ICMP);
	put_payload(&p, 64);
	pkt_finish(&p);
	expect_xdp_ignored(skel, &p);
}

static void test_xdp_arp_untouched(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	__u8 *arp;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_ARP);
	arp = pkt_put(&p, 28);
	arp[1] = 1;    /* hardware type Ethernet */
	arp[2] = 0x08; /* protocol type IPv4 */
	arp[4] = 6;
	arp[5] = 4;
	arp[7] = 1; /* request */

	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 0);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 0);
	assert_int_equal(map_entries(skel->maps.port_traffic), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

static void test_xdp_same_source_updates(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_xdp_counters c;
	struct berth_xdp_source s, first;
	__u8 src[BERTH_ADDR_LEN];
	struct pkt p;

	v4_mapped(src, "198.51.100.2");

	build_v4_tcp(&p, 40000, 8080, TCP_SYN);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(xdp_source(skel, src, &first), 0);

	/* Same source, other port and protocol, bigger frame. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "192.0.2.1", IPPROTO_UDP);
	put_udp(&p, 40001, 53);
	put_payload(&p, 46);
	pkt_finish(&p);
	assert_int_equal(p.len, 88);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	build_v4_tcp(&p, 40000, 8080, TCP_ACK);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);

	assert_int_equal(xdp_source(skel, src, &s), 0);
	assert_int_equal(s.packets, 3);
	assert_int_equal(s.bytes, 54 + 88 + 54);
	assert_int_equal(s.syns, 1);
	assert_true(s.last_seen_ns >= first.last_seen_ns);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 1);
	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 1);

	assert_int_equal(xdp_port(skel, lo_ifindex, 8080, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.packets, 2);
	assert_int_equal(c.bytes, 108);
	assert_int_equal(c.syns, 1);
	assert_int_equal(xdp_port(skel, lo_ifindex, 53, IPPROTO_UDP, &c), 0);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.bytes, 88);
	assert_int_equal(map_entries(skel->maps.xdp_ports), 2);

	/* A new source is a second insert. */
	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.3", "192.0.2.1", IPPROTO_TCP);
	put_tcp(&p, 40000, 8080, TCP_SYN, 5);
	pkt_finish(&p);
	assert_int_equal(run_xdp(skel, &p), XDP_PASS);
	assert_int_equal(map_entries(skel->maps.xdp_sources), 2);
	assert_int_equal(health(skel, BERTH_CNT_XDP_SOURCE_INSERTS), 2);
	assert_health_zero_except(skel, BERTH_CNT_XDP_SOURCE_INSERTS);
}

/* ---------------------------------------------------------------------- */
/* cgroup_skb                                                              */
/* ---------------------------------------------------------------------- */

/*
 * IPv4 TCP with 12 bytes of options (doff 8) and `payload` bytes of data,
 * behind the Ethernet header test_run strips.
 */
static void build_skb_v4_tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags, size_t payload)
{
	pkt_init(p);
	put_eth(p, ETH_P_IP);
	put_ipv4(p, "198.51.100.2", "198.51.100.1", IPPROTO_TCP);
	put_tcp(p, sport, dport, flags, 8);
	put_payload(p, payload);
	pkt_finish(p);
}

/*
 * TCP payload is counted as the growth of the socket's own bytes_received
 * and bytes_acked (so retransmissions never count twice). test_run's dummy
 * socket is not a TCP socket (bpf_tcp_sock() gives NULL), so here TCP
 * segments count as packets and their payload as 0; the end-to-end tests
 * check TCP bytes against what real clients sent. The argument documents
 * the payload each packet carried.
 */
#define TCP_BYTES(payload) ((void)(payload), 0)

static void assert_counters(const struct berth_port_counters *c, __u64 bytes_in, __u64 packets_in,
			    __u64 bytes_out, __u64 packets_out)
{
	assert_int_equal(c->conns_opened, 0);
	assert_int_equal(c->conns_closed, 0);
	assert_int_equal(c->bytes_in, bytes_in);
	assert_int_equal(c->packets_in, packets_in);
	assert_int_equal(c->bytes_out, bytes_out);
	assert_int_equal(c->packets_out, packets_out);
}

static void test_skb_ingress_ipv4_tcp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct berth_port_key key;
	struct pkt p;

	build_skb_v4_tcp(&p, 40000, 8080, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(p.len, 14 + 20 + 32 + 100);

	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);

	/* Lower port is the local one: LOCAL, keyed by the local port. */
	assert_int_equal(port_traffic(skel, 8080, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(100), 1, TCP_BYTES(0), 0);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);

	/* The only key in the map carries this process's cgroup. */
	assert_int_equal(bpf_map_get_next_key(bpf_map__fd(skel->maps.port_traffic), NULL, &key), 0);
	assert_int_equal(key.cgroup_id, self_cgroup_id);
	assert_int_equal(key.pad, 0);

	assert_int_equal(map_entries(skel->maps.xdp_ports), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

/* A cgroup user space ignores (not a container, no --all) is not counted. */
static void test_skb_ignored_cgroup(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	__u64 id = self_cgroup_id;
	__u8 one = 1;
	struct pkt p;

	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.ignored_cgroups), &id, &one, BPF_ANY),
		0);
	build_skb_v4_tcp(&p, 40000, 8080, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(map_entries(skel->maps.port_traffic), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);

	/* Forgotten again (the cgroup went away): counted. */
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(skel->maps.ignored_cgroups), &id), 0);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);
}

static void test_skb_ingress_heuristic_remote(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	/* A reply from a server's 443 to our ephemeral port. */
	build_skb_v4_tcp(&p, 443, 50000, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);

	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_REMOTE, &c), 0);
	assert_counters(&c, TCP_BYTES(100), 1, TCP_BYTES(0), 0);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);
}

/* Equal ports: local_port <= remote_port, so LOCAL. */
static void test_skb_ingress_equal_ports_local(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	build_skb_v4_tcp(&p, 7000, 7000, TCP_ACK, 10);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 7000, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(10), 1, TCP_BYTES(0), 0);
}

static void test_skb_bound_port_local(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	/* UDP binding of the port does not make TCP on it a server. */
	bind_port(skel, 50000, IPPROTO_UDP);
	build_skb_v4_tcp(&p, 443, 50000, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_REMOTE, &c), 0);
	assert_counters(&c, TCP_BYTES(100), 1, TCP_BYTES(0), 0);

	/* Once the cgroup bound TCP 50000 it serves there, port above peer's. */
	bind_port(skel, 50000, IPPROTO_TCP);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 50000, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(100), 1, TCP_BYTES(0), 0);
	/* The REMOTE entry is unchanged. */
	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_REMOTE, &c), 0);
	assert_counters(&c, TCP_BYTES(100), 1, TCP_BYTES(0), 0);
	assert_int_equal(map_entries(skel->maps.port_traffic), 2);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

/* A binding in another cgroup says nothing about this one's sockets. */
static void test_skb_bound_port_other_cgroup(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct bound_port_key key;
	__u8 one = 1;
	struct pkt p;

	memset(&key, 0, sizeof(key));
	key.cgroup_id = self_cgroup_id + 1000;
	key.port = 50000;
	key.protocol = IPPROTO_TCP;
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(skel->maps.bound_ports), &key, &one, BPF_ANY), 0);

	build_skb_v4_tcp(&p, 443, 50000, TCP_ACK, 0);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_REMOTE, &c), 0);
	assert_counters(&c, 0, 1, 0, 0);
}

static void test_skb_bound_port_key_size(void **state)
{
	struct berth_bpf *skel = skel_of(state);

	assert_int_equal(bpf_map__key_size(skel->maps.bound_ports), sizeof(struct bound_port_key));
	assert_int_equal(bpf_map__key_size(skel->maps.port_traffic), sizeof(struct berth_port_key));
	assert_int_equal(bpf_map__key_size(skel->maps.xdp_ports),
			 sizeof(struct berth_xdp_port_key));
	assert_int_equal(bpf_map__key_size(skel->maps.xdp_sources),
			 sizeof(struct berth_xdp_source_key));
}

static void test_skb_ingress_ipv6_udp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", IPPROTO_UDP);
	put_udp(&p, 41000, 53);
	put_payload(&p, 37);
	pkt_finish(&p);
	assert_int_equal(p.len, 14 + 40 + 8 + 37);

	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 53, IPPROTO_UDP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, 37, 1, 0, 0);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

/* The payload starts after the extension headers. */
static void test_skb_ingress_ipv6_hopopts_tcp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_HOP);
	put_hopopts(&p, IPPROTO_TCP);
	put_tcp(&p, 52000, 443, TCP_PSH | TCP_ACK, 5);
	put_payload(&p, 200);
	pkt_finish(&p);

	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(200), 1, TCP_BYTES(0), 0);
}

static void test_skb_egress_ipv4_tcp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	/* A server answering from 8080: egress local port is the source. */
	build_skb_v4_tcp(&p, 8080, 40000, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 8080, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(0), 0, TCP_BYTES(100), 1);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);

	/* A client sending to 443 from an ephemeral port. */
	build_skb_v4_tcp(&p, 45000, 443, TCP_PSH | TCP_ACK, 300);
	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 443, IPPROTO_TCP, BERTH_ROLE_REMOTE, &c), 0);
	assert_counters(&c, TCP_BYTES(0), 0, TCP_BYTES(300), 1);
	assert_int_equal(map_entries(skel->maps.port_traffic), 2);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

static void test_skb_egress_ipv6_udp(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_UDP);
	put_udp(&p, 53, 41000);
	put_payload(&p, 37);
	pkt_finish(&p);

	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 53, IPPROTO_UDP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, 0, 0, 37, 1);
}

/* Both directions of one flow land in the same key. */
static void test_skb_both_directions(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	build_skb_v4_tcp(&p, 40000, 8080, TCP_PSH | TCP_ACK, 100);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	assert_int_equal(run_skb(skel->progs.count_ingress, &p), CGROUP_SKB_ALLOW);
	build_skb_v4_tcp(&p, 8080, 40000, TCP_PSH | TCP_ACK, 1000);
	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);
	/* A pure ACK: a packet with no payload. */
	build_skb_v4_tcp(&p, 8080, 40000, TCP_ACK, 0);
	assert_int_equal(run_skb(skel->progs.count_egress, &p), CGROUP_SKB_ALLOW);

	assert_int_equal(port_traffic(skel, 8080, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(200), 2, TCP_BYTES(1000), 2);
	assert_int_equal(map_entries(skel->maps.port_traffic), 1);
}

/*
 * A GSO super-packet: one set of headers in front of the whole payload,
 * gso_segs segments on the wire. Bytes are the payload once, packets the
 * segment count.
 */
static void test_skb_egress_gso(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct berth_port_counters c;
	struct pkt p;

	build_skb_v4_tcp(&p, 8080, 40000, TCP_PSH | TCP_ACK, 400);
	assert_int_equal(run_skb_gso(skel->progs.count_egress, &p, 4, 100), CGROUP_SKB_ALLOW);
	assert_int_equal(port_traffic(skel, 8080, IPPROTO_TCP, BERTH_ROLE_LOCAL, &c), 0);
	assert_counters(&c, TCP_BYTES(0), 0, TCP_BYTES(400), 4);
}

/* A packet allowed through, with no counter or health slot touched. */
static void expect_skb_uncounted(struct berth_bpf *skel, const struct pkt *p)
{
	assert_int_equal(run_skb(skel->progs.count_ingress, p), CGROUP_SKB_ALLOW);
	assert_int_equal(run_skb(skel->progs.count_egress, p), CGROUP_SKB_ALLOW);
	assert_int_equal(map_entries(skel->maps.port_traffic), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

/*
 * A packet cut inside the fixed IP header. Kernel 6.18's test_run refuses
 * it for cgroup_skb (EINVAL when fewer than 20 bytes follow an IPv4
 * EtherType, fewer than 40 an IPv6 one), and the stack never hands
 * cgroup_skb such a packet either. A kernel whose test_run does run the
 * program must see it allow the packet and count nothing.
 */
static void expect_skb_short_header(struct berth_bpf *skel, const struct pkt *p)
{
	struct bpf_program *progs[] = { skel->progs.count_ingress, skel->progs.count_egress };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		__u32 retval = 0;
		int err = try_run_skb(progs[i], p, 0, 0, &retval);

		if (err)
			assert_int_equal(err, -EINVAL);
		else
			assert_int_equal(retval, CGROUP_SKB_ALLOW);
	}
	assert_int_equal(map_entries(skel->maps.port_traffic), 0);
	assert_health_zero_except(skel, BERTH_CNT__MAX);
}

static void test_skb_truncated_ipv4_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	build_skb_v4_tcp(&p, 40000, 8080, TCP_ACK, 100);
	pkt_truncate(&p, ETH_HLEN + 12);
	expect_skb_short_header(skel, &p);
}

static void test_skb_truncated_ipv6_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", IPPROTO_UDP);
	put_udp(&p, 41000, 53);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 30);
	expect_skb_short_header(skel, &p);
}

/* ihl promises 24 bytes of IPv4 header, only the fixed 20 are there. */
static void test_skb_truncated_ipv4_options(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4_opts(&p, "198.51.100.2", "198.51.100.1", IPPROTO_TCP, 0, 1);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 20);
	expect_skb_uncounted(skel, &p);
}

static void test_skb_truncated_tcp_header(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	build_skb_v4_tcp(&p, 40000, 8080, TCP_ACK, 100);
	pkt_truncate(&p, ETH_HLEN + 20 + 12);
	expect_skb_uncounted(skel, &p);
}

/* The hop-by-hop header is there, the UDP header after it is cut short. */
static void test_skb_truncated_ipv6_ext(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, "2001:db8::2", "2001:db8::1", NEXTHDR_HOP);
	put_hopopts(&p, IPPROTO_UDP);
	put_udp(&p, 41000, 53);
	pkt_finish(&p);
	pkt_truncate(&p, ETH_HLEN + 40 + 8 + 4);
	expect_skb_uncounted(skel, &p);
}

static void test_skb_icmp_uncounted(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, "198.51.100.2", "198.51.100.1", IPPROTO_ICMP);
	put_payload(&p, 64);
	pkt_finish(&p);
	expect_skb_uncounted(skel, &p);
}

static void test_skb_ipv4_nonfirst_fragment_uncounted(void **state)
{
	struct berth_bpf *skel = skel_of(state);
	struct pkt p;

	pkt_init(&p);
	put_eth(&p, ETH_P_IP);
	put_ipv4_opts(&p, "198.51.100.2", "198.51.100.1", IPPROTO_UDP, 185, 0);
	put_payload(&p, 40);
	pkt_finish(&p);
	expect_skb_uncounted(skel, &p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_xdp_ipv4_tcp_syn),
		T(test_xdp_ifindex_from_ctx),
		T(test_xdp_unpublished_ports_together),
		T(test_published_ports_sync),
		T(test_xdp_protected_port),
		T(test_xdp_port_scan),
		T(test_xdp_attempts),
		T(test_xdp_ipv4_tcp_synack_not_syn),
		T(test_xdp_ipv4_tcp_other_flags_not_syn),
		T(test_xdp_ipv4_udp),
		T(test_xdp_ipv4_options),
		T(test_xdp_ipv6_tcp_syn),
		T(test_xdp_ipv6_hopopts),
		T(test_xdp_ipv6_fragments),
		T(test_xdp_vlan),
		T(test_xdp_qinq),
		T(test_xdp_three_vlan_tags_ignored),
		T(test_xdp_truncated_eth_only),
		T(test_xdp_truncated_vlan_tag),
		T(test_xdp_truncated_ipv4_header),
		T(test_xdp_truncated_ipv4_options),
		T(test_xdp_bad_ipv4_header),
		T(test_xdp_ipv4_version_mismatch),
		T(test_xdp_truncated_tcp_header),
		T(test_xdp_tcp_options_cut_counted),
		T(test_xdp_tcp_doff_too_small),
		T(test_xdp_truncated_udp_header),
		T(test_xdp_truncated_ipv6_header),
		T(test_xdp_truncated_ipv6_hopopts),
		T(test_xdp_ipv4_nonfirst_fragment),
		T(test_xdp_ipv4_first_fragment),
		T(test_xdp_icmp_ignored),
		T(test_xdp_arp_untouched),
		T(test_xdp_same_source_updates),
		T(test_skb_bound_port_key_size),
		T(test_skb_ingress_ipv4_tcp),
		T(test_skb_ignored_cgroup),
		T(test_skb_ingress_heuristic_remote),
		T(test_skb_ingress_equal_ports_local),
		T(test_skb_bound_port_local),
		T(test_skb_bound_port_other_cgroup),
		T(test_skb_ingress_ipv6_udp),
		T(test_skb_ingress_ipv6_hopopts_tcp),
		T(test_skb_egress_ipv4_tcp),
		T(test_skb_egress_ipv6_udp),
		T(test_skb_both_directions),
		T(test_skb_egress_gso),
		T(test_skb_truncated_ipv4_header),
		T(test_skb_truncated_ipv6_header),
		T(test_skb_truncated_ipv4_options),
		T(test_skb_truncated_tcp_header),
		T(test_skb_truncated_ipv6_ext),
		T(test_skb_icmp_uncounted),
		T(test_skb_ipv4_nonfirst_fragment_uncounted),
#undef T
	};

	/* Returns the number of failed tests: non-zero fails the run. */
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
