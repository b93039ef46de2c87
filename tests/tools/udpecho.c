// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpecho: a UDP server for the end-to-end tests, linked statically so it
 * runs inside the busybox test image (whose busybox has no UDP applet).
 * Binds 0.0.0.0:PORT explicitly (so post_bind sees it), echoes each
 * datagram back, and exits after --max datagrams or --timeout-s seconds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	long port = 0, max = 1000000, timeout_s = 300, received = 0;
	struct timeval tv;
	char buf[65536];
	int fd;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--max"))
			max = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--timeout-s"))
			timeout_s = strtol(argv[i + 1], NULL, 10);
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "usage: udpecho --port PORT [--max N] [--timeout-s S]\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	addr.sin_port = htons(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("udpecho: bind");
		return 1;
	}
	/* Bounded: the receive timeout ends a run nobody talks to. */
	tv.tv_sec = timeout_s;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (received < max) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);

		if (n < 0)
			break;
		received++;
		sendto(fd, buf, n, 0, (struct sockaddr *)&peer, len);
	}
	printf("%ld\n", received);
	return 0;
}
