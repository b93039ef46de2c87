/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Addresses as berth keeps them: 16 bytes in network byte order, IPv4 as
 * the IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 2.5.5.2). The one
 * place where they are parsed and printed.
 */
#ifndef BERTH_ADDR_H
#define BERTH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_LEN 16
/* INET6_ADDRSTRLEN: room for any printed form, with the NUL. */
#define ADDR_STRLEN 46

bool addr_is_v4mapped(const uint8_t addr[ADDR_LEN]);

/* Prints 198.51.100.2 for a v4-mapped address, RFC 5952 form for IPv6. */
const char *addr_format(const uint8_t addr[ADDR_LEN], char out[ADDR_STRLEN]);

/* Parses an IPv4 or IPv6 literal (a v4-mapped one too); 0 or -1. */
int addr_parse(const char *text, uint8_t out[ADDR_LEN]);

/* "ipv4" or "ipv6", after normalisation. */
const char *addr_network_type(const uint8_t addr[ADDR_LEN]);

#endif
