/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by the kernel programs (bpf/) and user space (src/).
 *
 * Only fixed-width types. Byte order is stated on each field: ports are in
 * host byte order everywhere (the kernel side converts once, where it reads
 * them), addresses are in network byte order, 16 bytes, with IPv4 stored as
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so that one code path handles
 * both families.
 */
#ifndef BERTH_H
#define BERTH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BERTH_ADDR_LEN 16

/* Ring-buffer record kinds. */
enum berth_event_kind {
	BERTH_EV_CONN_OPEN = 1,	 /* TCP connection established */
	BERTH_EV_CONN_CLOSE = 2, /* TCP connection reached TCP_CLOSE */
	BERTH_EV_BIND = 3,	 /* a socket bound a local address and port */
	/*
	 * XDP: one source touched bytes_in distinct ports (SYNs) within
	 * duration_ns; remote_addr is the source, local_port the last port.
	 * Once per source per window.
	 */
	BERTH_EV_PORT_SCAN = 4,
	/*
	 * XDP: a SYN to a protected host port (local_port) from remote_addr,
	 * outside its allowlist; bytes_in 1 when it was dropped (enforce).
	 * Once per (source, port) per report interval.
	 */
	BERTH_EV_UNAUTHORIZED = 5,
	/*
	 * XDP: one source sent bytes_in SYNs (connections or failed
	 * handshakes) to one port (local_port) within duration_ns. Once per
	 * (source, port) per window.
	 */
	BERTH_EV_ATTEMPTS = 6,
};

/*
 * Which end of a connection a socket is. For counters it also says what the
 * port of a berth_port_key is: the socket's own port when it serves
 * (LOCAL), the peer's port when it is the client (REMOTE). Keying client
 * traffic by the peer's port keeps ephemeral ports out of the maps.
 */
enum berth_role {
	BERTH_ROLE_LOCAL = 1,  /* accepted (passive) or bound server socket */
	BERTH_ROLE_REMOTE = 2, /* initiated (active) or unbound client socket */
};

struct berth_event {
	__u8 kind;			  /* enum berth_event_kind */
	__u8 role;			  /* enum berth_role */
	__u8 protocol;			  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;			  /* AF_INET or AF_INET6: the socket's family */
	__u16 local_port;		  /* host byte order */
	__u16 remote_port;		  /* host byte order; 0 for BIND */
	__u8 local_addr[BERTH_ADDR_LEN];  /* network byte order, v4-mapped */
	__u8 remote_addr[BERTH_ADDR_LEN]; /* network byte order, v4-mapped */
	__u64 cgroup_id;		  /* cgroup v2 id of the socket (not of current) */
	__u64 socket_cookie;		  /* stable per socket; joins open and close */
	__u64 timestamp_ns;		  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 duration_ns;		  /* CONN_CLOSE: established to close */
	__u64 bytes_in;			  /* CONN_CLOSE: payload received (tcp bytes_received) */
	__u64 bytes_out;		  /* CONN_CLOSE: payload sent and acked (tcp bytes_acked) */
	__u32 srtt_us;			  /* CONN_CLOSE: smoothed RTT in microseconds */
	__u32 total_retrans;		  /* CONN_CLOSE: retransmitted segments */
};

/* Per-CPU counters kept by the cgroup programs, key of port_traffic. */
struct berth_port_key {
	__u64 cgroup_id; /* cgroup v2 id of the socket */
	__u16 port;	 /* host byte order; meaning depends on role */
	__u8 protocol;	 /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 role;	 /* enum berth_role */
	__u32 pad;	 /* zero: keys are compared as bytes */
};

/* bound_ports: which ports a cgroup's sockets bound (bind()ing is serving). */
struct berth_bound_port_key {
	__u64 cgroup_id;
	__u16 port; /* host byte order */
	__u8 protocol;
	__u8 pad[5];
};

struct berth_port_counters {
	__u64 conns_opened; /* TCP connections established (sockops) */
	__u64 conns_closed; /* TCP connections closed (sockops) */
	__u64 bytes_in;	    /* L4 payload bytes received (cgroup_skb ingress) */
	__u64 bytes_out;    /* L4 payload bytes sent (cgroup_skb egress) */
	__u64 packets_in;   /* segments received, GSO/GRO counted per segment */
	__u64 packets_out;  /* segments sent, GSO counted per segment */
};

/* Per-CPU counters kept by XDP on a host interface, key of xdp_ports. */
struct berth_xdp_port_key {
	__u32 ifindex;
	__u16 port;    /* destination port, host byte order */
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/*
 * published_ports: the host ports the runtimes publish, written by user
 * space from the inventory. XDP counts these ports one by one; the others
 * together under BERTH_UNPUBLISHED_PORT, unless count_all_ports is set.
 */
struct berth_published_key {
	__u16 port;    /* host port, host byte order */
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct berth_published {
	__u16 container_port; /* of the first binding: for debugging */
	__u16 bindings;	      /* how many bindings use the host port */
	__u8 flags;	      /* BERTH_PUBLISHED_* */
	__u8 pad[3];
};

/* A policy rule with an allowlist covers the port: SYNs are judged. */
#define BERTH_PUBLISHED_PROTECTED 1
/* ... and enforces it: XDP drops the SYNs from outside the allowlist. */
#define BERTH_PUBLISHED_ENFORCE 2

/*
 * allowed_sources (LPM trie): the allowlists of the protected host ports.
 * prefixlen counts the bits of port, protocol and pad (32) and then of addr.
 */
struct berth_allow_key {
	__u32 prefixlen;
	__u16 port; /* host port, host byte order */
	__u8 protocol;
	__u8 pad;
	__u8 addr[BERTH_ADDR_LEN]; /* v4-mapped for IPv4 */
};

/* scan_pairs: a (source, port) touched in a window (epoch). */
struct berth_scan_pair {
	__u8 addr[BERTH_ADDR_LEN];
	__u16 port;
	__u8 protocol;
	__u8 pad;
	__u32 epoch; /* bpf_ktime_get_ns() / window */
};

/* scan_sources: distinct ports a source touched in its current window. */
struct berth_scan_source {
	__u64 epoch;
	__u32 ports;
	__u32 reported; /* the port-scan event of this window went out */
};

/* unauthorized_reported: when the last event for (source, port) went out. */
struct berth_unauth_key {
	__u8 addr[BERTH_ADDR_LEN];
	__u16 port;
	__u8 protocol;
	__u8 pad[5];
};

/*
 * cgroup_names: the last directory names of a connection's cgroup (leaf
 * first), remembered by the kernel so that user space can name a cgroup
 * that was removed before it could look it up in cgroupfs.
 */
#define BERTH_CGROUP_LEVELS 4
#define BERTH_CGROUP_NAME_LEN 96
struct berth_cgroup_names {
	char level[BERTH_CGROUP_LEVELS][BERTH_CGROUP_NAME_LEN]; /* "" above the root */
};

/* The xdp_ports key port of traffic to every port nothing publishes. */
#define BERTH_UNPUBLISHED_PORT 0

struct berth_xdp_counters {
	__u64 packets;
	__u64 bytes;	    /* frame bytes, from the Ethernet header on */
	__u64 syns;	    /* TCP SYN without ACK: connection attempts */
	__u64 syns_dropped; /* of those, dropped by an enforcing rule */
};

/* Key of xdp_sources (LRU, per CPU): the packet's source address. */
struct berth_xdp_source_key {
	__u8 addr[BERTH_ADDR_LEN]; /* network byte order, v4-mapped */
};

struct berth_xdp_source {
	__u64 packets;
	__u64 bytes;
	__u64 syns;
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
};

/*
 * Health counters, a per-CPU array indexed by this enum. Every way the
 * kernel side can lose data has its own slot, so user space can report each
 * loss by cause.
 */
enum berth_counter {
	BERTH_CNT_RINGBUF_DROPS = 0,   /* ring buffer reservation failed */
	BERTH_CNT_PORT_MAP_FULL,       /* port_traffic insert failed */
	BERTH_CNT_XDP_PORT_MAP_FULL,   /* xdp_ports insert failed (LRU: -ENOMEM) */
	BERTH_CNT_CONN_STORAGE_FAILED, /* no state for a connection: untracked */
	BERTH_CNT_BIND_MAP_FULL,       /* bound_ports insert failed */
	BERTH_CNT_XDP_SOURCE_INSERTS,  /* new xdp_sources entries (for evictions) */
	BERTH_CNT_XDP_MALFORMED,       /* truncated or invalid headers (passed) */
	BERTH_CNT_XDP_PORT_INSERTS,    /* new xdp_ports entries (for evictions) */
	BERTH_CNT_CONN_FALLBACK,       /* sk_storage failed, conn_fallback took it */
	BERTH_CNT_SCAN_SOURCE_INSERTS, /* new scan_sources entries (for evictions) */
	BERTH_CNT_UNAUTH_INSERTS,      /* new unauthorized_reported entries (for evictions) */
	BERTH_CNT__MAX,
};

#endif /* BERTH_H */
