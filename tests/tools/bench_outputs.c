// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the outputs cost per record, in user space, against the path they
 * replaced (one fwrite of the ECS line into a 64 KiB stdio buffer) in the
 * same run: one file output on /dev/null per arm, written at every
 * "wakeup" of 64 records as the event loop does. Arms rotate ABC CBA over
 * the rounds; the medians are compared. The arm "write-ecs" also writes
 * the record each time, with json.c as berth watch does, before the ECS
 * output takes it.
 *
 *   build/tools/bench_outputs [--records N] [--rounds R]
 *
 * Prints ns per record of each arm and `ratio_<arm>: X.XX` (arm / baseline).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "json.h"
#include "output.h"

/* A connection record of a container on a published port, as berth writes it. */
static const char record[] =
	"{\"@timestamp\":\"2026-12-04T15:40:07.057Z\",\"event\":{\"kind\":\"event\",\"category\":"
	"[\"network\"],\"type\":[\"connection\",\"start\"],\"action\":\"connection-accepted\"},"
	"\"host\":{\"name\":\"vm\"},\"source\":{\"ip\":\"198.51.100.2\",\"port\":35462},"
	"\"destination\":{\"ip\":\"172.17.0.2\",\"port\":80},\"network\":{\"transport\":\"tcp\","
	"\"type\":\"ipv4\",\"direction\":\"ingress\"},\"container\":{\"id\":"
	"\"6040ae1a2f3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5\",\"name\":\"web\","
	"\"image\":{\"name\":\"nginx\",\"tag\":[\"1.27\"]},\"runtime\":\"docker\"},\"berth\":{"
	"\"version\":\"0.1.0\",\"view\":\"socket\",\"port\":{\"host_ip\":\"0.0.0.0\",\"host_port\":"
	"8080,\"container_port\":80,\"protocol\":\"tcp\"},\"cgroup_id\":44,\"cgroup_path\":"
	"\"/docker/6040ae1a2f3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5\","
	"\"socket_cookie\":4}}";

#define WAKEUP_RECORDS 64
#define MAX_ROUNDS 64

struct arm {
	const char *name;
	enum output_format format;
	bool pseudonymize;
	bool write_record; /* json.c writes the record first */
	double ns[MAX_ROUNDS];
};

/* The record above, as berth watch writes it. */
static struct port_binding web_binding = {
	.host_ip = "0.0.0.0", .host_port = 8080, .container_port = 80, .protocol = IPPROTO_TCP
};
static struct container web = {
	.id = "6040ae1a2f3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
	.name = "web",
	.image = "nginx:1.27",
	.image_tag = "1.27",
	.runtime = "docker",
	.bindings = &web_binding,
	.n_bindings = 1,
};
static const struct attribution web_who = {
	.cgroup_id = 44,
	.cgroup_path = "/docker/6040ae1a2f3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
	.container_id = web.id,
	.runtime = "docker",
	.container = &web,
	.binding = &web_binding,
};
static const struct ecs_meta meta = { .host_name = "vm", .version = "0.1.0" };
#define RECORD_NS 1796398807057000000ULL /* 2026-12-04T15:40:07.057Z */

static struct berth_event accepted_event(void)
{
	struct berth_event ev = {
		.kind = BERTH_EV_CONN_OPEN,
		.role = BERTH_ROLE_LOCAL,
		.protocol = IPPROTO_TCP,
		.family = 2,
		.local_port = 80,
		.remote_port = 35462,
		.socket_cookie = 4,
	};

	if (addr_parse("172.17.0.2", ev.local_addr) || addr_parse("198.51.100.2", ev.remote_addr))
		exit(1);
	return ev;
}

static double run_baseline(unsigned long n)
{
	static char stdio_buf[1 << 16];
	FILE *out = fopen("/dev/null", "w");
	int64_t start;

	setvbuf(out, stdio_buf, _IOFBF, sizeof(stdio_buf));
	start = clock_ns(CLOCK_MONOTONIC);
	for (unsigned long i = 0; i < n; i++) {
		fwrite(record, 1, sizeof(record) - 1, out);
		fputc('\n', out);
		if (i % WAKEUP_RECORDS == WAKEUP_RECORDS - 1)
			fflush(out);
	}
	fflush(out);
	fclose(out);
	return (double)(clock_ns(CLOCK_MONOTONIC) - start) / n;
}

static double run_arm(const struct arm *arm, unsigned long n, int epoll_fd)
{
	struct sink_config c = {
		.type = SINK_FILE,
		.name = "bench",
		.path = "/dev/null",
		.format = arm->format,
		.format_given = true,
		.flush_given = true, /* flush: immediate, at every wakeup */
		.pseudonymize = arm->pseudonymize,
	};
	struct pseudonym_key key = { .len = 32 };
	struct berth_event ev = accepted_event();
	struct json_line line = { 0 };
	struct outputs o = { 0 };
	char err[256];
	int64_t start;

	if (outputs_open(&o, &c, 1, &key, epoll_fd, err, sizeof(err))) {
		fprintf(stderr, "bench_outputs: %s\n", err);
		exit(1);
	}
	start = clock_ns(CLOCK_MONOTONIC);
	for (unsigned long i = 0; i < n; i++) {
		if (arm->write_record) {
			ecs_connection(&line, &meta, RECORD_NS, &ev, &web_who);
			outputs_send(&o, line.buf.data, line.buf.len, line.kind, line.action, 0, 1);
		} else {
			outputs_send(&o, record, sizeof(record) - 1, "event", "connection-accepted",
				     0, 1);
		}
		if (i % WAKEUP_RECORDS == WAKEUP_RECORDS - 1)
			outputs_flush(&o);
	}
	outputs_flush(&o);
	start = clock_ns(CLOCK_MONOTONIC) - start;
	if (o.sinks[0].stats.delivered != n) {
		fprintf(stderr, "bench_outputs: %s delivered %llu of %lu\n", arm->name,
			(unsigned long long)o.sinks[0].stats.delivered, n);
		exit(1);
	}
	outputs_close(&o, 0);
	json_line_free(&line);
	return (double)start / n;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	struct arm arms[] = {
		{ "baseline-fwrite", FORMAT_ECS, false, false, { 0 } },
		{ "ecs", FORMAT_ECS, false, false, { 0 } },
		{ "write-ecs", FORMAT_ECS, false, true, { 0 } },
		{ "ecs-pseudonymized", FORMAT_ECS, true, false, { 0 } },
		{ "ocsf", FORMAT_OCSF, false, false, { 0 } },
		{ "rfc5424", FORMAT_RFC5424, false, false, { 0 } },
		{ "cef", FORMAT_CEF, false, false, { 0 } },
	};
	const unsigned int n_arms = sizeof(arms) / sizeof(arms[0]);
	unsigned long records = 200000;
	unsigned int rounds = 5;
	int epoll_fd = epoll_create1(0), opt;
	double base;

	static const struct option options[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'n')
			records = strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			rounds = (unsigned int)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (!records || !rounds || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench_outputs: --records >= 1, --rounds 1 to %d\n", MAX_ROUNDS);
		return 2;
	}
	/* The arms that write the record measure the record the others are fed. */
	{
		struct berth_event ev = accepted_event();
		struct json_line line = { 0 };

		ecs_connection(&line, &meta, RECORD_NS, &ev, &web_who);
		if (line.buf.len != sizeof(record) - 1 ||
		    memcmp(line.buf.data, record, line.buf.len)) {
			fprintf(stderr, "bench_outputs: json.c writes another record:\n%.*s\n",
				(int)line.buf.len, line.buf.data);
			return 1;
		}
		json_line_free(&line);
	}
	/* A warm-up round, then ABC CBA. */
	run_baseline(records / 10);
	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int k = 0; k < n_arms; k++) {
			unsigned int i = r % 2 ? n_arms - 1 - k : k;

			arms[i].ns[r] = i == 0 ? run_baseline(records) :
						 run_arm(&arms[i], records, epoll_fd);
		}
	}
	base = median(arms[0].ns, rounds);
	printf("records_per_round: %lu, rounds: %u, record_bytes: %zu\n", records, rounds,
	       sizeof(record) - 1);
	for (unsigned int i = 0; i < n_arms; i++) {
		double m = median(arms[i].ns, rounds);

		printf("%-20s %8.0f ns/record  ratio_%s: %.2f\n", arms[i].name, m, arms[i].name,
		       m / base);
	}
	close(epoll_fd);
	return 0;
}
