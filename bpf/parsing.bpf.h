/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing through one cursor, shared by XDP (which starts at the
 * Ethernet header) and cgroup_skb (which starts at the IP header).
 *
 * Every header is bounds-checked against data_end before it is read and
 * every loop has a constant bound, so the verifier accepts the code on every
 * kernel berth supports. Each parser returns the next protocol, or
 * PARSE_TRUNCATED when a header is cut short or invalid, or PARSE_IGNORED
 * when the packet is well formed but has no ports berth counts (ICMP,
 * neighbour discovery, later fragments). Only the first is malformed:
 * otherwise every IPv6 link's neighbour discovery would read as a stream of
 * malformed frames.
 * the packet is truncated or not something berth counts.
 */
#ifndef BERTH_PARSING_BPF_H
#define BERTH_PARSING_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "berth.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_DSTOPTS_ 60

/* Two tags cover 802.1Q and QinQ (802.1ad outer + 802.1Q inner). */
#define VLAN_MAX_DEPTH 2
/* Extension headers berth walks before giving up on an IPv6 packet. */
#define IPV6_EXT_MAX_CHAIN 4

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

#define PARSE_TRUNCATED -1
#define PARSE_IGNORED -2

struct hdr_cursor {
	void *pos;
};

/* What berth needs from one packet, addresses already v4-mapped. */
struct packet_info {
	__u8 saddr[BERTH_ADDR_LEN]; /* network byte order */
	__u8 daddr[BERTH_ADDR_LEN]; /* network byte order */
	__u16 sport;		    /* host byte order */
	__u16 dport;		    /* host byte order */
	__u8 protocol;		    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 tcp_flags;		    /* flags byte of the TCP header */
	__u32 l4_payload_offset;    /* from the start of the IP header */
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline void addr_from_ipv4(__u8 *out, __be32 ip4)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &ip4, 4);
}

/* Returns the EtherType (network byte order) after any VLAN tags. */
static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end)
{
	struct ethhdr *eth = nh->pos;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return PARSE_TRUNCATED;
	nh->pos = eth + 1;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		struct vlan_hdr_ *vlh = nh->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlh + 1) > data_end)
			return PARSE_TRUNCATED;
		proto = vlh->encapsulated_proto;
		nh->pos = vlh + 1;
	}
	return proto;
}

/* Returns the L4 protocol; a non-first fragment has no L4 header. */
static __always_inline int parse_iphdr(struct hdr_cursor *nh, void *data_end,
				       struct packet_info *pkt)
{
	struct iphdr *iph = nh->pos;
	int hdrsize;

	if ((void *)(iph + 1) > data_end)
		return PARSE_TRUNCATED;
	if (iph->version != 4)
		return PARSE_TRUNCATED;
	hdrsize = iph->ihl * 4;
	if (hdrsize < (int)sizeof(*iph))
		return PARSE_TRUNCATED;
	if (nh->pos + hdrsize > data_end)
		return PARSE_TRUNCATED;
	/* Fragment offset != 0: ports are in the first fragment only. */
	if (iph->frag_off & bpf_htons(0x1FFF))
		return PARSE_IGNORED;
	addr_from_ipv4(pkt->saddr, iph->saddr);
	addr_from_ipv4(pkt->daddr, iph->daddr);
	nh->pos += hdrsize;
	return iph->protocol;
}

static __always_inline int parse_ipv6hdr(struct hdr_cursor *nh, void *data_end,
					 struct packet_info *pkt)
{
	struct ipv6hdr *ip6h = nh->pos;
	__u8 nexthdr;

	if ((void *)(ip6h + 1) > data_end)
		return PARSE_TRUNCATED;
	if (ip6h->version != 6)
		return PARSE_TRUNCATED;
	__builtin_memcpy(pkt->saddr, &ip6h->saddr, BERTH_ADDR_LEN);
	__builtin_memcpy(pkt->daddr, &ip6h->daddr, BERTH_ADDR_LEN);
	nh->pos = ip6h + 1;
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX_CHAIN; i++) {
		struct ipv6_opt_hdr *opt = nh->pos;

		if (nexthdr == IPPROTO_FRAGMENT_) {
			struct frag_hdr *frag = nh->pos;

			if ((void *)(frag + 1) > data_end)
				return PARSE_TRUNCATED;
			/* Only the first fragment carries the ports. */
			if (frag->frag_off & bpf_htons(0xFFF8))
				return PARSE_IGNORED;
			nexthdr = frag->nexthdr;
			nh->pos = frag + 1;
			continue;
		}
		if (nexthdr != IPPROTO_HOPOPTS_ && nexthdr != IPPROTO_ROUTING_ &&
		    nexthdr != IPPROTO_DSTOPTS_)
			break;
		if ((void *)(opt + 1) > data_end)
			return PARSE_TRUNCATED;
		nexthdr = opt->nexthdr;
		nh->pos += (opt->hdrlen + 1) * 8;
	}
	/* A chain longer than berth walks: well formed, just not counted. */
	if (nexthdr == IPPROTO_HOPOPTS_ || nexthdr == IPPROTO_ROUTING_ ||
	    nexthdr == IPPROTO_DSTOPTS_ || nexthdr == IPPROTO_FRAGMENT_)
		return PARSE_IGNORED;
	return nexthdr;
}

/*
 * Parses from the IP header on: fills pkt and returns 0, PARSE_TRUNCATED or
 * PARSE_IGNORED (not IP, or not TCP/UDP with ports).
 */
static __always_inline int parse_ip_l4(struct hdr_cursor *nh, void *data_end, int eth_proto,
				       struct packet_info *pkt)
{
	void *l3 = nh->pos;
	int l4proto;

	if (eth_proto == bpf_htons(ETH_P_IP))
		l4proto = parse_iphdr(nh, data_end, pkt);
	else if (eth_proto == bpf_htons(ETH_P_IPV6))
		l4proto = parse_ipv6hdr(nh, data_end, pkt);
	else
		return PARSE_IGNORED;
	if (l4proto < 0)
		return l4proto;

	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *th = nh->pos;
		int hdrsize;

		if ((void *)(th + 1) > data_end)
			return PARSE_TRUNCATED;
		hdrsize = th->doff * 4;
		if (hdrsize < (int)sizeof(*th))
			return PARSE_TRUNCATED;
		pkt->sport = bpf_ntohs(th->source);
		pkt->dport = bpf_ntohs(th->dest);
		/* The flags byte follows the data offset byte (RFC 9293). */
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->l4_payload_offset = (nh->pos - l3) + hdrsize;
	} else if (l4proto == IPPROTO_UDP) {
		struct udphdr *uh = nh->pos;

		if ((void *)(uh + 1) > data_end)
			return PARSE_TRUNCATED;
		pkt->sport = bpf_ntohs(uh->source);
		pkt->dport = bpf_ntohs(uh->dest);
		pkt->tcp_flags = 0;
		pkt->l4_payload_offset = (nh->pos - l3) + sizeof(*uh);
	} else {
		return PARSE_IGNORED;
	}
	pkt->protocol = l4proto;
	return 0;
}

#endif /* BERTH_PARSING_BPF_H */
