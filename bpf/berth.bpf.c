// SPDX-License-Identifier: GPL-2.0-only
/*
 * berth's kernel side: counts connections, bytes and packets per cgroup and
 * port, and per destination port and source on host interfaces.
 *
 * Per-packet work ends in per-CPU maps. The ring buffer carries only
 * connection open/close and binds, never one record per packet.
 *
 * GPL: reading the socket's cgroup goes through BTF pointers
 * (bpf_skc_to_tcp_sock), which the verifier grants to GPL programs only.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "berth.h"
#include "maps.bpf.h"
#include "parsing.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_OPS_CONTINUE 1
#define CGROUP_SKB_ALLOW 1
#define CGROUP_SOCK_ALLOW 1

char LICENSE[] SEC("license") = "GPL";

/*
 * Wake user space only once this much data waits in the ring buffer; user
 * space also drains it on a short timer. One wakeup per event would cost a
 * context switch per connection. 0: wake on every record.
 */
const volatile __u64 wakeup_data_size = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024); /* user space may resize */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BERTH_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct berth_port_key);
	__type(value, struct berth_port_counters);
} port_traffic SEC(".maps");

/* Ports a cgroup bound explicitly: a socket on one of them serves. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct berth_bound_port_key);
	__type(value, __u8);
} bound_ports SEC(".maps");

/* Per-connection state, freed by the kernel with the socket. */
struct conn_state {
	__u64 established_ns; /* 0: established before berth attached */
	__u64 cgroup_id;
	__u64 accounted_in;  /* bytes_received already added to port_traffic */
	__u64 accounted_out; /* bytes_acked already added to port_traffic */
	__u16 counted_port;  /* host byte order: port of its berth_port_key */
	__u8 role;	     /* enum berth_role */
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn_state);
} conn_states SEC(".maps");

/*
 * sk_storage allocates when a connection is established, from softirq,
 * without sleeping; in a burst of accepts the allocator's per-CPU cache can
 * run dry and the allocation fails (seen at ~1000 accepts/s on 6.18). This
 * preallocated map, keyed by socket cookie, takes those connections, so
 * they are still tracked; it only fails when full, and that is counted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct conn_state);
} conn_fallback SEC(".maps");

/*
 * LRU: replies to the host's own outgoing connections arrive on ephemeral
 * destination ports, so a plain hash would fill with them and then refuse
 * the service ports that matter. Busy ports stay; evictions are counted.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct berth_published_key);
	__type(value, struct berth_published);
} published_ports SEC(".maps");

/*
 * Cgroups user space found are not containers, when it reports containers
 * only (no --all): their sockets then cost a lookup here and nothing else
 * (no connection state, no events, no counters nobody reads).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} ignored_cgroups SEC(".maps");

static __always_inline bool cgroup_ignored(__u64 cgroup_id)
{
	return bpf_map_lookup_elem(&ignored_cgroups, &cgroup_id) != NULL;
}

/*
 * Set by user space (berth watch --all): every destination port gets its
 * own xdp_ports entry. Otherwise a scan of unpublished ports is one entry,
 * and cannot push the published ones out of the LRU.
 */
bool count_all_ports = false;

/* The policy's detector settings, set by user space (0: off). */
__u32 scan_threshold = 0;     /* distinct ports of one source that make a scan */
__u64 scan_window_ns = 0;     /* in this long */
__u64 unauth_report_ns = 0;   /* one unauthorized-SYN event per (source, port) per this */
__u32 attempts_threshold = 0; /* SYNs of one source to one port that make a brute force */
__u64 attempts_window_ns = 0; /* in this long */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct berth_allow_key);
	__type(value, __u8);
} allowed_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_scan_pair);
	__type(value, __u8);
} scan_pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct berth_xdp_source_key);
	__type(value, struct berth_scan_source);
} scan_sources SEC(".maps");

/* SYNs per (source, port) per attempts window; same key shape as scan_pairs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_scan_pair);
	__type(value, __u32);
} attempts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct berth_unauth_key);
	__type(value, __u64);
} unauthorized_reported SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct berth_xdp_port_key);
	__type(value, struct berth_xdp_counters);
} xdp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_xdp_source_key);
	__type(value, struct berth_xdp_source);
} xdp_sources SEC(".maps");

/*
 * Starts tracking a connection: byte marks at the socket's counters now, so
 * only what moves from here on is accounted.
 */
static __always_inline void conn_state_init(struct conn_state *state, __u64 established_ns,
					    __u64 cgroup_id, __u16 port, __u8 role,
					    __u64 bytes_received, __u64 bytes_acked)
{
	state->established_ns = established_ns;
	state->cgroup_id = cgroup_id;
	state->accounted_in = bytes_received;
	state->accounted_out = bytes_acked;
	state->counted_port = port;
	state->role = role;
}

static __always_inline void count_health(enum berth_counter counter)
{
	__u32 key = counter;
	__u64 *value = bpf_map_lookup_elem(&health, &key);

	if (value)
		*value += 1;
}

static __always_inline struct berth_event *reserve_event(void)
{
	struct berth_event *event;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count_health(BERTH_CNT_RINGBUF_DROPS);
		return NULL;
	}
	__builtin_memset(event, 0, sizeof(*event));
	return event;
}

static __always_inline void submit_event(struct berth_event *event)
{
	__u64 flags = 0;

	if (wakeup_data_size) {
		if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_data_size)
			flags = BPF_RB_FORCE_WAKEUP;
		else
			flags = BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(event, flags);
}

static __always_inline struct berth_port_counters *port_counters(__u64 cgroup_id, __u16 port,
								 __u8 protocol, __u8 role)
{
	static const struct berth_port_counters zero;
	struct berth_port_key key = {
		.cgroup_id = cgroup_id,
		.port = port,
		.protocol = protocol,
		.role = role,
	};
	struct berth_port_counters *counters;

	counters = lookup_or_try_init(&port_traffic, &key, &zero);
	if (!counters)
		count_health(BERTH_CNT_PORT_MAP_FULL);
	return counters;
}

/*
 * Kernels before 5.15 kept the cgroup pointer in a union with v1 classid
 * data (struct sock_cgroup_data { union { struct {...}; u64 val; }; }); commit
 * 8520e224f547 ("bpf, cgroups: Fix cgroup v2 fallback on v1/v2 mixed mode")
 * made it a plain `struct cgroup *cgroup`.
 */
struct sock_cgroup_data___old {
	__u64 val;
};

struct sock___old {
	struct sock_cgroup_data___old sk_cgrp_data;
};

/* Linux 6.15 renamed kernfs_node.parent to __parent (RCU-protected now). */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(((struct kernfs_node___new *)kn)->__parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* Scratch for one berth_cgroup_names: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct berth_cgroup_names);
} cgroup_names_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct berth_cgroup_names);
} cgroup_names SEC(".maps");

/*
 * Remembers the names of a connection's cgroup the first time it is seen:
 * a container removed right after its first connections is gone from
 * cgroupfs before user space can look its cgroup id up there.
 */
static __always_inline void remember_cgroup_names(struct cgroup *cgrp, __u64 cgroup_id)
{
	struct berth_cgroup_names *names;
	struct kernfs_node *kn;
	__u32 zero = 0;

	if (!cgrp || bpf_map_lookup_elem(&cgroup_names, &cgroup_id))
		return;
	names = bpf_map_lookup_elem(&cgroup_names_scratch, &zero);
	if (!names)
		return;
	kn = BPF_CORE_READ(cgrp, kn);
	for (int i = 0; i < BERTH_CGROUP_LEVELS; i++) {
		names->level[i][0] = '\0';
		if (!kn)
			continue;
		bpf_probe_read_kernel_str(names->level[i], BERTH_CGROUP_NAME_LEN,
					  BPF_CORE_READ(kn, name));
		kn = kernfs_parent(kn);
	}
	bpf_map_update_elem(&cgroup_names, &cgroup_id, names, BPF_ANY);
}

/*
 * The cgroup v2 id of the socket itself. In the passive-established
 * callback the current task is whatever ran the softirq, so
 * bpf_get_current_cgroup_id() would name the wrong cgroup; the accepted
 * socket inherited the listener's cgroup when it was cloned.
 */
static __always_inline struct cgroup *socket_cgroup(struct bpf_sock *bsk, bool *v1_only)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	struct sock *sk = (struct sock *)tp;

	*v1_only = false;
	if (!tp)
		return NULL;
	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		return BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		struct sock___old *old = (void *)sk;
		__u64 val = BPF_CORE_READ(old, sk_cgrp_data.val);

		/* Bit 0 set: the union held v1 data, the v2 cgroup is root. */
		*v1_only = val & 1;
		return *v1_only ? NULL : (struct cgroup *)val;
	}
}

static __always_inline __u64 socket_cgroup_id(struct bpf_sock *bsk, struct cgroup **cgrp_out)
{
	bool v1_only;
	struct cgroup *cgrp = socket_cgroup(bsk, &v1_only);

	*cgrp_out = cgrp;
	if (v1_only)
		return 1;
	if (!cgrp)
		return 0;
	return BPF_CORE_READ(cgrp, kn, id);
}

static __always_inline void fill_sockops_addrs(struct berth_event *event,
					       struct bpf_sock_ops *skops)
{
	event->family = skops->family;
	event->local_port = skops->local_port;
	event->remote_port = bpf_ntohl(skops->remote_port);
	if (skops->family == AF_INET) {
		addr_from_ipv4(event->local_addr, skops->local_ip4);
		addr_from_ipv4(event->remote_addr, skops->remote_ip4);
	} else {
		/* IPv4 on a dual-stack socket is already ::ffff:a.b.c.d. */
		__u32 *local = (__u32 *)event->local_addr;
		__u32 *remote = (__u32 *)event->remote_addr;

		local[0] = skops->local_ip6[0];
		local[1] = skops->local_ip6[1];
		local[2] = skops->local_ip6[2];
		local[3] = skops->local_ip6[3];
		remote[0] = skops->remote_ip6[0];
		remote[1] = skops->remote_ip6[1];
		remote[2] = skops->remote_ip6[2];
		remote[3] = skops->remote_ip6[3];
	}
}

static __always_inline void conn_established(struct bpf_sock_ops *skops, __u8 role)
{
	struct berth_port_counters *counters;
	struct berth_event *event;
	struct conn_state *state;
	struct bpf_sock *sk = skops->sk;
	__u64 cgroup_id, cookie;
	struct cgroup *cgrp;
	__u16 port;

	if (!sk)
		return;
	cgroup_id = socket_cgroup_id(sk, &cgrp);
	if (cgroup_ignored(cgroup_id))
		return;
	remember_cgroup_names(cgrp, cgroup_id);
	port = role == BERTH_ROLE_LOCAL ? skops->local_port : bpf_ntohl(skops->remote_port);

	cookie = bpf_get_socket_cookie(skops);
	state = bpf_sk_storage_get(&conn_states, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!state) {
		static const struct conn_state fresh;

		if (bpf_map_update_elem(&conn_fallback, &cookie, &fresh, BPF_ANY) ||
		    !(state = bpf_map_lookup_elem(&conn_fallback, &cookie))) {
			count_health(BERTH_CNT_CONN_STORAGE_FAILED);
			return;
		}
		count_health(BERTH_CNT_CONN_FALLBACK);
	}
	/* Data that came with the handshake (TFO) is already in the counters. */
	conn_state_init(state, bpf_ktime_get_ns(), cgroup_id, port, role, skops->bytes_received,
			skops->bytes_acked);

	/* Ask for state changes: the move to TCP_CLOSE ends the connection. */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);

	counters = port_counters(cgroup_id, port, IPPROTO_TCP, role);
	if (counters)
		counters->conns_opened += 1;

	event = reserve_event();
	if (!event)
		return;
	event->kind = BERTH_EV_CONN_OPEN;
	event->role = role;
	event->protocol = IPPROTO_TCP;
	fill_sockops_addrs(event, skops);
	event->cgroup_id = cgroup_id;
	event->socket_cookie = cookie;
	event->timestamp_ns = state->established_ns;
	submit_event(event);
}

/*
 * TCP payload goes into port_traffic as the growth of the socket's own
 * bytes_received and bytes_acked, not as the length of each segment: a
 * retransmitted segment would otherwise count twice, and an exact count is
 * what lets port-stats match what the peers sent. The marks only move
 * forward, by compare-and-swap: ingress filtering runs without the socket
 * lock, so two CPUs may account one socket at once; the loser leaves the
 * bytes to the next packet or to the close.
 */
static __always_inline void account_tcp_bytes(struct berth_port_counters *counters,
					      struct conn_state *state, __u64 bytes_in,
					      __u64 bytes_out)
{
	__u64 mark;

	mark = state->accounted_in;
	if (bytes_in > mark &&
	    __sync_val_compare_and_swap(&state->accounted_in, mark, bytes_in) == mark)
		counters->bytes_in += bytes_in - mark;
	mark = state->accounted_out;
	if (bytes_out > mark &&
	    __sync_val_compare_and_swap(&state->accounted_out, mark, bytes_out) == mark)
		counters->bytes_out += bytes_out - mark;
}

/*
 * tcp_sock's bytes_received and bytes_acked (RFC 4898) count sequence
 * space, which includes a FIN: a 79-byte request followed by a FIN reads as
 * 80. berth reports payload, so take the FINs back out. The peer's FIN was
 * received when tcp_fin() set SOCK_DONE; ours was acked when it was sent
 * (state is FIN_WAIT1/2, CLOSING or LAST_ACK) and snd_una caught up with
 * write_seq, which counts the FIN. `state` is the socket's state, or at
 * close the state it left.
 */
static __always_inline void tcp_payload_bytes(struct bpf_sock *bsk, __u32 state, __u64 received,
					      __u64 acked, __u64 *bytes_in, __u64 *bytes_out)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	bool fin_sent, fin_received, fin_acked;
	unsigned long sk_flags;

	*bytes_in = received;
	*bytes_out = acked;
	if (!tp)
		return;
	sk_flags = BPF_CORE_READ((struct sock *)tp, __sk_common.skc_flags);
	fin_received = sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE));
	fin_sent = state == BPF_TCP_FIN_WAIT1 || state == BPF_TCP_FIN_WAIT2 ||
		   state == BPF_TCP_CLOSING || state == BPF_TCP_LAST_ACK;
	fin_acked = fin_sent && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq);
	if (fin_received && *bytes_in)
		*bytes_in -= 1;
	if (fin_acked && *bytes_out)
		*bytes_out -= 1;
}

static __always_inline void conn_closed(struct bpf_sock_ops *skops)
{
	struct berth_port_counters *counters;
	struct berth_event *event;
	struct conn_state *state;
	struct bpf_sock *sk = skops->sk;
	__u64 now = bpf_ktime_get_ns();
	__u64 bytes_in, bytes_out, cookie;
	bool in_fallback = false;

	if (!sk)
		return;
	cookie = bpf_get_socket_cookie(skops);
	state = bpf_sk_storage_get(&conn_states, sk, 0, 0);
	if (!state) {
		state = bpf_map_lookup_elem(&conn_fallback, &cookie);
		if (!state)
			return; /* established before berth attached */
		in_fallback = true;
	}

	tcp_payload_bytes(sk, skops->args[0], skops->bytes_received, skops->bytes_acked, &bytes_in,
			  &bytes_out);
	counters = port_counters(state->cgroup_id, state->counted_port, IPPROTO_TCP, state->role);
	if (counters) {
		account_tcp_bytes(counters, state, bytes_in, bytes_out);
		if (state->established_ns)
			counters->conns_closed += 1;
	}
	if (!state->established_ns)
		goto forget; /* adopted by cgroup_skb: berth never saw it open */

	event = reserve_event();
	if (event) {
		event->kind = BERTH_EV_CONN_CLOSE;
		event->role = state->role;
		event->protocol = IPPROTO_TCP;
		fill_sockops_addrs(event, skops);
		event->cgroup_id = state->cgroup_id;
		event->socket_cookie = cookie;
		event->timestamp_ns = now;
		event->duration_ns = now - state->established_ns;
		event->bytes_in = bytes_in;
		event->bytes_out = bytes_out;
		/* tcp_sock keeps srtt_us scaled by 8 (RFC 6298 arithmetic). */
		event->srtt_us = skops->srtt_us >> 3;
		event->total_retrans = skops->total_retrans;
		submit_event(event);
	}
forget:
	/* A socket reaches TCP_CLOSE once; never report it twice. */
	if (in_fallback)
		bpf_map_delete_elem(&conn_fallback, &cookie);
	else
		bpf_sk_storage_delete(&conn_states, sk);
}

SEC("sockops")
int handle_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		conn_established(skops, BERTH_ROLE_LOCAL);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		conn_established(skops, BERTH_ROLE_REMOTE);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			conn_closed(skops);
		break;
	}
	return SOCK_OPS_CONTINUE;
}

/* The state berth keeps for a connection it saw established, or NULL. */
static __always_inline struct conn_state *conn_state_of(struct bpf_sock *sk, __u64 cookie)
{
	struct conn_state *state = bpf_sk_storage_get(&conn_states, sk, 0, 0);

	if (state)
		return state;
	return bpf_map_lookup_elem(&conn_fallback, &cookie);
}

/*
 * Whether the socket serves (counted under its own port) or is a client
 * (counted under the peer's port). Connections berth saw established carry
 * the answer in their storage; listeners and explicitly bound ports serve;
 * for anything older than berth, the lower port is taken as the service.
 */
static __always_inline __u8 socket_role(struct bpf_sock *sk, const struct conn_state *state,
					__u64 cgroup_id, const struct packet_info *pkt,
					__u16 local_port, __u16 remote_port)
{
	struct berth_bound_port_key bound = {
		.cgroup_id = cgroup_id,
		.port = local_port,
		.protocol = pkt->protocol,
	};

	if (pkt->protocol == IPPROTO_TCP) {
		if (sk->state == BPF_TCP_LISTEN)
			return BERTH_ROLE_LOCAL;
		if (sk->state == BPF_TCP_SYN_SENT)
			return BERTH_ROLE_REMOTE;
		if (state)
			return state->role;
	}
	if (bpf_map_lookup_elem(&bound_ports, &bound))
		return BERTH_ROLE_LOCAL;
	return local_port <= remote_port ? BERTH_ROLE_LOCAL : BERTH_ROLE_REMOTE;
}

static __always_inline int count_skb(struct __sk_buff *skb, bool ingress)
{
	struct berth_port_counters *counters;
	struct packet_info pkt = {};
	struct hdr_cursor nh;
	struct bpf_sock *sk;
	void *data_end = (void *)(long)skb->data_end;
	__u16 local_port, remote_port, port;
	struct conn_state *state = NULL;
	__u64 cgroup_id, cookie, payload, segs;
	__u8 role;

	cgroup_id = bpf_skb_cgroup_id(skb);
	if (cgroup_ignored(cgroup_id))
		return CGROUP_SKB_ALLOW;
	nh.pos = (void *)(long)skb->data;
	if (parse_ip_l4(&nh, data_end, skb->protocol, &pkt) < 0)
		return CGROUP_SKB_ALLOW;
	sk = skb->sk;
	if (!sk)
		return CGROUP_SKB_ALLOW;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return CGROUP_SKB_ALLOW;

	local_port = ingress ? pkt.dport : pkt.sport;
	remote_port = ingress ? pkt.sport : pkt.dport;
	cookie = bpf_get_socket_cookie(skb);
	/*
	 * Looked up once per packet: it decides the role and holds the byte
	 * marks. Listeners and SYN_SENT sockets never have one.
	 */
	if (pkt.protocol == IPPROTO_TCP)
		state = conn_state_of(sk, cookie);
	role = socket_role(sk, state, cgroup_id, &pkt, local_port, remote_port);
	port = role == BERTH_ROLE_LOCAL ? local_port : remote_port;

	counters = port_counters(cgroup_id, port, pkt.protocol, role);
	if (!counters)
		return CGROUP_SKB_ALLOW;
	segs = skb->gso_segs ? skb->gso_segs : 1;
	if (ingress)
		counters->packets_in += segs;
	else
		counters->packets_out += segs;

	if (pkt.protocol == IPPROTO_TCP) {
		struct bpf_tcp_sock *tp;
		__u64 bytes_in, bytes_out;

		/* Listeners and handshakes carry no accounted payload. */
		if (sk->state == BPF_TCP_LISTEN || sk->state == BPF_TCP_SYN_SENT)
			return CGROUP_SKB_ALLOW;
		tp = bpf_tcp_sock(sk);
		if (!tp)
			return CGROUP_SKB_ALLOW;
		if (!state) {
			/*
			 * A socket past its close (its last ACK or RST; its state
			 * is gone, its close reported) is not adopted: the kernel
			 * refuses storage to a dying socket, which is no loss.
			 */
			if (sk->state != BPF_TCP_ESTABLISHED)
				return CGROUP_SKB_ALLOW;
			/* Established before berth: count from now on. */
			state = bpf_sk_storage_get(&conn_states, sk, 0,
						   BPF_SK_STORAGE_GET_F_CREATE);
			if (!state) {
				count_health(BERTH_CNT_CONN_STORAGE_FAILED);
				return CGROUP_SKB_ALLOW;
			}
			/* established_ns 0: berth never saw it open. */
			conn_state_init(state, 0, cgroup_id, port, role, tp->bytes_received,
					tp->bytes_acked);
			return CGROUP_SKB_ALLOW;
		}
		tcp_payload_bytes(sk, sk->state, tp->bytes_received, tp->bytes_acked, &bytes_in,
				  &bytes_out);
		account_tcp_bytes(counters, state, bytes_in, bytes_out);
		return CGROUP_SKB_ALLOW;
	}

	/* UDP: skb->len counts one set of headers even for a GSO super-packet. */
	payload = skb->len > pkt.l4_payload_offset ? skb->len - pkt.l4_payload_offset : 0;
	if (ingress)
		counters->bytes_in += payload;
	else
		counters->bytes_out += payload;
	return CGROUP_SKB_ALLOW;
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	return count_skb(skb, true);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	return count_skb(skb, false);
}

/*
 * family is a constant per program: post_bind4 may not read src_ip6 and the
 * verifier rejects the access even on a path that never runs.
 */
static __always_inline int record_bind(struct bpf_sock *sk, __u8 family)
{
	struct berth_bound_port_key bound = {};
	struct berth_event *event;
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	__u8 one = 1;

	if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP)
		return CGROUP_SOCK_ALLOW;
	if (cgroup_ignored(cgroup_id))
		return CGROUP_SOCK_ALLOW;

	bound.cgroup_id = cgroup_id;
	bound.port = sk->src_port;
	bound.protocol = sk->protocol;
	if (bpf_map_update_elem(&bound_ports, &bound, &one, 0))
		count_health(BERTH_CNT_BIND_MAP_FULL);

	event = reserve_event();
	if (!event)
		return CGROUP_SOCK_ALLOW;
	event->kind = BERTH_EV_BIND;
	event->role = BERTH_ROLE_LOCAL;
	event->protocol = sk->protocol;
	event->family = family;
	event->local_port = sk->src_port;
	if (family == AF_INET) {
		addr_from_ipv4(event->local_addr, sk->src_ip4);
	} else {
		__u32 *local = (__u32 *)event->local_addr;

		local[0] = sk->src_ip6[0];
		local[1] = sk->src_ip6[1];
		local[2] = sk->src_ip6[2];
		local[3] = sk->src_ip6[3];
	}
	event->cgroup_id = cgroup_id;
	event->socket_cookie = bpf_get_socket_cookie(sk);
	event->timestamp_ns = bpf_ktime_get_ns();
	submit_event(event);
	return CGROUP_SOCK_ALLOW;
}

SEC("cgroup/post_bind4")
int record_bind4(struct bpf_sock *sk)
{
	return record_bind(sk, AF_INET);
}

SEC("cgroup/post_bind6")
int record_bind6(struct bpf_sock *sk)
{
	return record_bind(sk, AF_INET6);
}

/*
 * A SYN from src to a port: a new port for src in this window counts
 * towards a scan; the count reaching scan_threshold is reported once.
 */
static __always_inline void track_scan(const __u8 src[BERTH_ADDR_LEN], __u16 port, __u8 protocol,
				       __u64 now)
{
	struct berth_scan_pair pair = { .port = port, .protocol = protocol };
	struct berth_xdp_source_key key;
	struct berth_scan_source *s;
	struct berth_event *event;
	__u64 epoch;
	__u8 one = 1;
	__u32 ports;

	if (!scan_threshold || !scan_window_ns)
		return;
	epoch = now / scan_window_ns;
	__builtin_memcpy(pair.addr, src, BERTH_ADDR_LEN);
	pair.epoch = epoch;
	/* Seen in this window already: not a new port. */
	if (bpf_map_update_elem(&scan_pairs, &pair, &one, BPF_NOEXIST))
		return;
	__builtin_memcpy(key.addr, src, BERTH_ADDR_LEN);
	s = bpf_map_lookup_elem(&scan_sources, &key);
	if (!s) {
		struct berth_scan_source fresh = { .epoch = epoch };

		if (!bpf_map_update_elem(&scan_sources, &key, &fresh, BPF_NOEXIST))
			count_health(BERTH_CNT_SCAN_SOURCE_INSERTS);
		s = bpf_map_lookup_elem(&scan_sources, &key);
		if (!s)
			return;
	}
	if (s->epoch != epoch) {
		s->epoch = epoch;
		s->ports = 0;
		s->reported = 0;
	}
	ports = __sync_add_and_fetch(&s->ports, 1);
	if (ports < scan_threshold || s->reported)
		return;
	s->reported = 1;
	event = reserve_event();
	if (!event)
		return;
	event->kind = BERTH_EV_PORT_SCAN;
	event->protocol = protocol;
	event->local_port = port;
	__builtin_memcpy(event->remote_addr, src, BERTH_ADDR_LEN);
	event->bytes_in = ports;
	event->duration_ns = scan_window_ns;
	event->timestamp_ns = now;
	submit_event(event);
}

/*
 * A SYN from src to a port is one attempt, connection or failed handshake
 * alike; the count reaching attempts_threshold in a window is reported once.
 */
static __always_inline void track_attempts(const __u8 src[BERTH_ADDR_LEN], __u16 port,
					   __u8 protocol, __u64 now)
{
	struct berth_scan_pair key = { .port = port, .protocol = protocol };
	struct berth_event *event;
	__u32 one = 1, n, *count;

	if (!attempts_threshold || !attempts_window_ns)
		return;
	__builtin_memcpy(key.addr, src, BERTH_ADDR_LEN);
	key.epoch = now / attempts_window_ns;
	count = bpf_map_lookup_elem(&attempts, &key);
	if (!count) {
		if (!bpf_map_update_elem(&attempts, &key, &one, BPF_NOEXIST)) {
			n = 1;
			goto check;
		}
		count = bpf_map_lookup_elem(&attempts, &key);
		if (!count)
			return;
	}
	n = __sync_add_and_fetch(count, 1);
check:
	/* Exactly at the threshold: once per window, whatever follows. */
	if (n != attempts_threshold)
		return;
	event = reserve_event();
	if (!event)
		return;
	event->kind = BERTH_EV_ATTEMPTS;
	event->protocol = protocol;
	event->local_port = port;
	__builtin_memcpy(event->remote_addr, src, BERTH_ADDR_LEN);
	event->bytes_in = n;
	event->duration_ns = attempts_window_ns;
	event->timestamp_ns = now;
	submit_event(event);
}

/*
 * A SYN to a protected host port: whether its source is allowed; if not,
 * reported (once per source and port per unauth_report_ns) and, with
 * enforce, dropped. True when it is to be dropped.
 */
static __always_inline bool judge_syn(const struct berth_published *published,
				      const __u8 src[BERTH_ADDR_LEN], __u16 port, __u8 protocol,
				      __u64 now)
{
	struct berth_allow_key allow = { .prefixlen = 32 + 128,
					 .port = port,
					 .protocol = protocol };
	struct berth_unauth_key seen = { .port = port, .protocol = protocol };
	bool drop = published->flags & BERTH_PUBLISHED_ENFORCE;
	struct berth_event *event;
	__u64 *last;

	__builtin_memcpy(allow.addr, src, BERTH_ADDR_LEN);
	if (bpf_map_lookup_elem(&allowed_sources, &allow))
		return false;
	__builtin_memcpy(seen.addr, src, BERTH_ADDR_LEN);
	last = bpf_map_lookup_elem(&unauthorized_reported, &seen);
	if (last && now - *last < unauth_report_ns)
		return drop;
	if (last)
		*last = now;
	else if (bpf_map_update_elem(&unauthorized_reported, &seen, &now, BPF_NOEXIST))
		return drop; /* another CPU reported it just now */
	else
		count_health(BERTH_CNT_UNAUTH_INSERTS);
	event = reserve_event();
	if (!event)
		return drop;
	event->kind = BERTH_EV_UNAUTHORIZED;
	event->protocol = protocol;
	event->local_port = port;
	__builtin_memcpy(event->remote_addr, src, BERTH_ADDR_LEN);
	event->bytes_in = drop;
	event->timestamp_ns = now;
	submit_event(event);
	return drop;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	struct berth_xdp_source_key source_key;
	struct berth_xdp_port_key port_key = {};
	struct berth_published_key published_key = {};
	struct berth_published *published;
	struct berth_xdp_counters *port;
	bool drop = false;
	struct berth_xdp_source *source;
	struct packet_info pkt = {};
	struct hdr_cursor nh;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	__u64 syn;
	int eth_proto, parsed;

	nh.pos = data;
	eth_proto = parse_ethhdr(&nh, data_end);
	if (eth_proto < 0) {
		count_health(BERTH_CNT_XDP_MALFORMED);
		return XDP_PASS;
	}
	if (eth_proto != bpf_htons(ETH_P_IP) && eth_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS; /* ARP, LLDP, ...: nothing berth counts */
	parsed = parse_ip_l4(&nh, data_end, eth_proto, &pkt);
	if (parsed == PARSE_TRUNCATED)
		count_health(BERTH_CNT_XDP_MALFORMED);
	if (parsed)
		return XDP_PASS;
	syn = pkt.protocol == IPPROTO_TCP &&
	      (pkt.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;

	port_key.ifindex = ctx->ingress_ifindex;
	port_key.port = pkt.dport;
	port_key.protocol = pkt.protocol;
	published_key.port = pkt.dport;
	published_key.protocol = pkt.protocol;
	published = bpf_map_lookup_elem(&published_ports, &published_key);
	if (syn) {
		__u64 now = bpf_ktime_get_ns();

		if (published && (published->flags & BERTH_PUBLISHED_PROTECTED))
			drop = judge_syn(published, pkt.saddr, pkt.dport, pkt.protocol, now);
		track_scan(pkt.saddr, pkt.dport, pkt.protocol, now);
		track_attempts(pkt.saddr, pkt.dport, pkt.protocol, now);
	}
	if (!count_all_ports && !published)
		port_key.port = BERTH_UNPUBLISHED_PORT;
	port = bpf_map_lookup_elem(&xdp_ports, &port_key);
	if (port) {
		port->packets += 1;
		port->bytes += bytes;
		port->syns += syn;
		port->syns_dropped += drop;
	} else {
		struct berth_xdp_counters fresh = {
			.packets = 1,
			.bytes = bytes,
			.syns = syn,
			.syns_dropped = drop,
		};

		if (bpf_map_update_elem(&xdp_ports, &port_key, &fresh, BPF_NOEXIST))
			count_health(BERTH_CNT_XDP_PORT_MAP_FULL);
		else
			count_health(BERTH_CNT_XDP_PORT_INSERTS);
	}

	__builtin_memcpy(source_key.addr, pkt.saddr, BERTH_ADDR_LEN);
	source = bpf_map_lookup_elem(&xdp_sources, &source_key);
	if (source) {
		source->packets += 1;
		source->bytes += bytes;
		source->syns += syn;
		source->last_seen_ns = bpf_ktime_get_ns();
	} else {
		struct berth_xdp_source fresh = {
			.packets = 1,
			.bytes = bytes,
			.syns = syn,
			.last_seen_ns = bpf_ktime_get_ns(),
		};

		/* Inserts minus live entries is what the LRU evicted. */
		if (!bpf_map_update_elem(&xdp_sources, &source_key, &fresh, BPF_NOEXIST))
			count_health(BERTH_CNT_XDP_SOURCE_INSERTS);
	}
	return drop ? XDP_DROP : XDP_PASS;
}
