// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool addr_is_v4mapped(const uint8_t addr[ADDR_LEN])
{
	return memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

const char *addr_format(const uint8_t addr[ADDR_LEN], char out[ADDR_STRLEN])
{
	if (addr_is_v4mapped(addr))
		inet_ntop(AF_INET, addr + 12, out, ADDR_STRLEN);
	else
		inet_ntop(AF_INET6, addr, out, ADDR_STRLEN);
	return out;
}

int addr_parse(const char *text, uint8_t out[ADDR_LEN])
{
	if (!text)
		return -1;
	if (inet_pton(AF_INET, text, out + 12) == 1) {
		memcpy(out, v4mapped_prefix, sizeof(v4mapped_prefix));
		return 0;
	}
	if (inet_pton(AF_INET6, text, out) == 1)
		return 0;
	return -1;
}

const char *addr_network_type(const uint8_t addr[ADDR_LEN])
{
	return addr_is_v4mapped(addr) ? "ipv4" : "ipv6";
}
