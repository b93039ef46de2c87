// SPDX-License-Identifier: GPL-2.0-only
/* berth's command line: subcommands, flags, help with examples. */
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docker.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "ps.h"
#include "secret.h"
#include "watch.h"

static const char main_usage[] =
	"Usage: berth <command> [options]\n"
	"\n"
	"Container-aware eBPF monitor of the ports containers publish.\n"
	"\n"
	"Commands:\n"
	"  watch      stream connection, listen and per-port counter events as JSON Lines\n"
	"  ps         list containers, their published ports and traffic counters\n"
	"  version    print the version\n"
	"  help       show this help, or `berth help <command>`\n"
	"\n"
	"Run `berth <command> --help` for a command's options.\n"
	"\n"
	"EXAMPLES:\n"
	"  sudo berth watch                       # every container, counters every 10 s\n"
	"  sudo berth watch --iface eth0 | jq .   # plus the host view of published ports\n"
	"  sudo berth ps --observe 5              # containers, ports, 5 s of traffic\n";

static const char watch_usage[] =
	"Usage: berth watch [options]\n"
	"\n"
	"Attaches berth's eBPF programs at the cgroup v2 root (every container, from its\n"
	"first socket) and, with --iface, XDP on host interfaces; prints one JSON object\n"
	"per line (ECS fields) on stdout: connection-accepted, connection-initiated,\n"
	"connection-closed, listen, port-stats, container-started, container-stopped,\n"
	"runtime-reconnected, alerts and events-lost. Or sends them to several outputs\n"
	"at once (--output, or `outputs:` in the policy; docs/outputs.md), each with its\n"
	"own format, filters and bounded queue. Diagnostics go to stderr.\n"
	"SIGINT or SIGTERM detaches everything, flushes the last counters and exits 0.\n"
	"\n"
	"Options:\n"
	"  -i, --iface IF          attach XDP to interface IF (repeatable): packets, bytes\n"
	"                          and SYNs per destination port as the host sees them\n"
	"      --xdp-mode MODE     auto (default: native if the driver has it, else\n"
	"                          generic; generic on veth), native or generic\n"
	"  -n, --interval S        seconds between port-stats records (default 10)\n"
	"      --docker-socket P   Docker Engine API socket (default /var/run/docker.sock)\n"
	"      --podman-socket P   podman's Docker-compatible API socket (default\n"
	"                          /run/podman/podman.sock, followed when it exists);\n"
	"                          --podman-socket none turns podman off\n"
	"  -c, --config FILE       the YAML policy: rules per published port (who may\n"
	"                          connect, how fast), detector thresholds, profile,\n"
	"                          interfaces (docs/policy.md); SIGHUP reloads it\n"
	"      --check-config      validate --config FILE and exit (0 ok, 2 with\n"
	"                          file:line:column of the first error)\n"
	"      --oci-root DIR      where the host's /run and /var/lib are, for the\n"
	"                          config.json of containerd and CRI-O containers\n"
	"                          (default /; in a sidecar, where / of the host is)\n"
	"  -a, --all               also report host processes (cgroups that are not\n"
	"                          containers) and unpublished ports on --iface\n"
	"      --ringbuf-size N    ring buffer size, a power of two (default 8M)\n"
	"  -o, --output TARGET     send records to TARGET (repeatable; default stdout):\n"
	"                          - (stdout), file:PATH, udp://HOST:PORT,\n"
	"                          tcp://HOST:PORT (RFC 6587), tls://HOST:PORT (RFC 5425),\n"
	"                          unix:PATH (syslog), http(s)://URL (NDJSON batches;\n"
	"                          .../_bulk: Elasticsearch, .../services/collector:\n"
	"                          Splunk HEC); added to the policy's outputs\n"
	"      --format F          format of the --output targets: ecs (default), ocsf,\n"
	"                          rfc5424 (syslog's default) or cef\n"
	"      --pseudonymize      the --output targets get source.ip as a keyed\n"
	"                          pseudonym (source.address \"anon-...\")\n"
	"      --pseudonym-key F   the key: 16 to 64 bytes in file F (default\n"
	"                          privacy.key_file; none: random, per run)\n"
	"      --metrics-listen A  serve Prometheus metrics at http://A/metrics, A being\n"
	"                          IPV4:PORT or [IPV6]:PORT (docs/metrics.md)\n"
	"      --metrics-token-file F  scrapes must send \"Authorization: Bearer T\",\n"
	"                          T the one line of file F (401 otherwise)\n"
	"      --metrics-tls-cert F  serve https:// with the PEM certificate chain F\n"
	"      --metrics-tls-key F   ... and its PEM key F (default: in the cert file)\n"
	"  -v, --verbose           debug output, including libbpf's\n"
	"  -h, --help              show this help\n"
	"\n"
	"Exit status: 0 stopped by a signal, 1 runtime failure, 2 usage error.\n"
	"\n"
	"EXAMPLES:\n"
	"  # connections and counters of every container, as JSON Lines\n"
	"  sudo berth watch\n"
	"\n"
	"  # plus the host view on eth0, counters every 5 s, pretty-printed\n"
	"  sudo berth watch --iface eth0 --interval 5 | jq .\n"
	"\n"
	"  # with a policy, checked first\n"
	"  berth watch --config /etc/berth/berth.yaml --check-config &&\n"
	"    sudo berth watch --config /etc/berth/berth.yaml\n"
	"\n"
	"  # syslog over TLS to a SIEM (RFC 5424) and a local file (ECS JSON Lines)\n"
	"  sudo berth watch --output tls://siem.example:6514 --output file:/var/log/berth.json\n"
	"\n"
	"  # CEF in syslog over UDP, for an ArcSight-style collector\n"
	"  sudo berth watch --output udp://127.0.0.1:514 --format cef\n"
	"\n"
	"  # OCSF to an Elasticsearch _bulk endpoint, client addresses pseudonymised\n"
	"  head -c 32 /dev/urandom > /etc/berth/pseudonym.key\n"
	"  sudo berth watch --output https://es.example:9200/berth/_bulk --format ocsf \\\n"
	"    --pseudonymize --pseudonym-key /etc/berth/pseudonym.key\n"
	"\n"
	"  # plus Prometheus metrics on loopback: curl http://127.0.0.1:9464/metrics\n"
	"  sudo berth watch --metrics-listen 127.0.0.1:9464\n"
	"\n"
	"  # metrics on the node's address, for scrapers that show a token\n"
	"  head -c 24 /dev/urandom | base64 > /etc/berth/metrics.token\n"
	"  sudo berth watch --metrics-listen 10.0.0.5:9464 \\\n"
	"    --metrics-token-file /etc/berth/metrics.token \\\n"
	"    --metrics-tls-cert /etc/berth/metrics.pem --metrics-tls-key /etc/berth/metrics.key\n"
	"\n"
	"  # only who connects to published ports\n"
	"  sudo berth watch | jq -c 'select(.event.action == \"connection-accepted\" and .berth.port)'\n";

static const char ps_usage[] =
	"Usage: berth ps [options]\n"
	"\n"
	"Lists the running containers of Docker and podman, sorted by name: id, name,\n"
	"image, runtime and published ports (host_ip:host_port->container_port/proto).\n"
	"With counters, also the connections each container accepted and the bytes it\n"
	"received (IN) and sent (OUT) as a server, summed over its ports. Counters come\n"
	"from a running `berth watch` (totals since it started), or with --observe from\n"
	"an observation of S seconds (that window only); without either, none.\n"
	"\n"
	"Options:\n"
	"      --json              one JSON array on stdout instead of the table\n"
	"      --observe S         attach berth's programs for S seconds (1 to 60) and\n"
	"                          show that window's counters, even when a watch runs;\n"
	"                          SIGINT or SIGTERM stops it, detached, listing nothing\n"
	"      --docker-socket P   Docker Engine API socket (default /var/run/docker.sock)\n"
	"      --podman-socket P   podman's Docker-compatible API socket (default\n"
	"                          /run/podman/podman.sock, listed when it exists);\n"
	"                          --podman-socket none turns podman off\n"
	"  -v, --verbose           debug output, including libbpf's\n"
	"  -h, --help              show this help\n"
	"\n"
	"Exit status: 0 listed (a runtime that did not answer is a warning), 1 no\n"
	"runtime answered or the observation failed, 2 usage error.\n"
	"\n"
	"EXAMPLES:\n"
	"  # containers and ports; counters too when a berth watch runs\n"
	"  sudo berth ps\n"
	"\n"
	"  # no watch running: watch every container for 5 s, then list\n"
	"  sudo berth ps --observe 5\n"
	"\n"
	"  # names and host ports of what is published on every interface\n"
	"  sudo berth ps --json | jq -r '.[] | .name as $n | .ports[] |\n"
	"      select(.host_ip == \"0.0.0.0\" or .host_ip == \"::\") | \"\\($n) \\(.host_port)\"'\n"
	"\n"
	"  # the busiest containers of the last 10 s\n"
	"  sudo berth ps --observe 10 --json | jq -r 'sort_by(-.counters.connections_opened)\n"
	"      | .[:5][] | \"\\(.name) \\(.counters.connections_opened)\"'\n";

static int usage_error(const char *command, const char *fmt, const char *arg)
{
	fprintf(stderr, "berth %s: ", command);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry `berth %s --help`.\n", command);
	return EXIT_USAGE;
}

/* berth watch's options into opts (which owns the --output configs), then the watch. */
static int watch_command(int argc, char **argv, struct watch_options *opts)
{
	static const struct option long_options[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "xdp-mode", required_argument, NULL, 'X' },
		{ "interval", required_argument, NULL, 'n' },
		{ "docker-socket", required_argument, NULL, 'D' },
		{ "podman-socket", required_argument, NULL, 'P' },
		{ "oci-root", required_argument, NULL, 'O' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'a' },
		{ "ringbuf-size", required_argument, NULL, 'R' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "pseudonymize", no_argument, NULL, 'Z' },
		{ "pseudonym-key", required_argument, NULL, 'K' },
		{ "metrics-listen", required_argument, NULL, 'M' },
		{ "metrics-token-file", required_argument, NULL, 'T' },
		{ "metrics-tls-cert", required_argument, NULL, 'E' },
		{ "metrics-tls-key", required_argument, NULL, 'Y' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long size;
	unsigned long value;
	bool check_config = false, pseudonymize = false;
	int format = -1;
	struct policy policy;
	char err[256];
	int opt;

	argv[0] = "berth watch"; /* getopt names the program in its errors */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:n:c:o:avh", long_options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (opts->n_ifaces == MAX_IFACES)
				return usage_error("watch", "--iface: at most 32 interfaces%s", "");
			opts->ifaces[opts->n_ifaces++] = optarg;
			break;
		case 'X':
			if (!strcmp(optarg, "auto"))
				opts->xdp_mode = XDP_MODE_AUTO;
			else if (!strcmp(optarg, "native"))
				opts->xdp_mode = XDP_MODE_NATIVE;
			else if (!strcmp(optarg, "generic"))
				opts->xdp_mode = XDP_MODE_GENERIC;
			else
				return usage_error("watch",
						   "--xdp-mode: expected auto, native or generic, "
						   "got '%s'",
						   optarg);
			break;
		case 'n':
			if (cli_parse_uint("--interval", optarg, 1, 86400, &value, err,
					   sizeof(err)))
				return usage_error("watch", "%s", err);
			opts->interval_s = value;
			break;
		case 'D':
			opts->docker_socket = optarg;
			break;
		case 'P':
			opts->podman_socket = strcmp(optarg, "none") ? optarg : NULL;
			opts->podman_socket_given = true;
			break;
		case 'O':
			opts->oci_root = optarg;
			break;
		case 'c':
			opts->config_path = optarg;
			break;
		case 'C':
			check_config = true;
			break;
		case 'a':
			opts->all = true;
			break;
		case 'R':
			if (cli_parse_size("--ringbuf-size", optarg, 1 << 16, 1ULL << 30, &size,
					   err, sizeof(err)))
				return usage_error("watch", "%s", err);
			if (size & (size - 1))
				return usage_error("watch",
						   "--ringbuf-size: %s is not a power of two",
						   optarg);
			opts->ringbuf_bytes = size;
			break;
		case 'o':
			if (opts->n_outputs == OUTPUTS_MAX) {
				return usage_error("watch", "--output: at most %d outputs", "16");
			}
			if (sink_config_from_target(optarg, &opts->outputs[opts->n_outputs], err,
						    sizeof(err))) {
				return usage_error("watch", "--output: %s", err);
			}
			opts->n_outputs++;
			break;
		case 'F':
			format = format_parse(optarg);
			if (format < 0) {
				return usage_error(
					"watch",
					"--format: expected ecs, ocsf, rfc5424 or cef, got '%s'",
					optarg);
			}
			break;
		case 'Z':
			pseudonymize = true;
			break;
		case 'K':
			opts->pseudonym_key_path = optarg;
			break;
		case 'M': {
			struct sockaddr_storage addr;
			socklen_t addr_len;

			if (metrics_parse_address(optarg, &addr, &addr_len, err, sizeof(err)))
				return usage_error("watch", "%s", err);
			opts->metrics_listen = optarg;
			break;
		}
		case 'E':
			opts->metrics_tls_cert = optarg;
			break;
		case 'Y':
			opts->metrics_tls_key = optarg;
			break;
		case 'T':
			free(opts->metrics_token);
			opts->metrics_token = secret_read_token(optarg, err, sizeof(err));
			if (!opts->metrics_token)
				return usage_error("watch", "--metrics-token-file: %s", err);
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			fputs(watch_usage, stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try `berth watch --help`.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("watch", "unexpected argument '%s'", argv[optind]);
	/* --format and --pseudonymize are for the outputs of the command line; none: stdout. */
	if ((format >= 0 || pseudonymize) && !opts->n_outputs &&
	    sink_config_from_target("-", &opts->outputs[opts->n_outputs++], err, sizeof(err)))
		return usage_error("watch", "%s", err);
	for (unsigned int i = 0; i < opts->n_outputs; i++) {
		if (format >= 0) {
			opts->outputs[i].format = format;
			opts->outputs[i].format_given = true;
		}
		opts->outputs[i].pseudonymize = pseudonymize;
	}
	if (opts->metrics_token && !opts->metrics_listen)
		return usage_error("watch", "--metrics-token-file needs --metrics-listen ADDR%s",
				   "");
	if (opts->metrics_tls_cert && !opts->metrics_listen)
		return usage_error("watch", "--metrics-tls-cert needs --metrics-listen ADDR%s", "");
	if (opts->metrics_tls_key && !opts->metrics_tls_cert)
		return usage_error("watch", "--metrics-tls-key needs --metrics-tls-cert FILE%s",
				   "");
	if (check_config && !opts->config_path)
		return usage_error("watch", "--check-config needs --config FILE%s", "");
	/* A bad policy is a configuration error: exit 2, before loading anything. */
	if (watch_load_policy(opts, &policy))
		return EXIT_USAGE;
	if (check_config) {
		printf("%s: ok: %s profile, %u rules, %u interfaces\n", opts->config_path,
		       policy.profile == PROFILE_DEVELOPMENT ? "development" : "production",
		       policy.n_rules, policy.n_interfaces);
		policy_free(&policy);
		return EXIT_OK;
	}
	/* Name a wrong interface before loading anything. */
	for (unsigned int i = 0; i < opts->n_ifaces; i++) {
		if (!if_nametoindex(opts->ifaces[i])) {
			policy_free(&policy);
			return usage_error("watch",
					   "--iface %s: no such network interface (see `ip link`)",
					   opts->ifaces[i]);
		}
	}
	return watch_run(opts, &policy);
}

static int cmd_watch(int argc, char **argv)
{
	struct watch_options opts = {
		.interval_s = 10,
		.docker_socket = DOCKER_DEFAULT_SOCKET,
		.podman_socket = PODMAN_DEFAULT_SOCKET,
		.oci_root = "/",
	};
	int code = watch_command(argc, argv, &opts);

	for (unsigned int i = 0; i < opts.n_outputs; i++)
		sink_config_free(&opts.outputs[i]);
	free(opts.metrics_token);
	return code;
}

static int cmd_ps(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "observe", required_argument, NULL, 'o' },
		{ "docker-socket", required_argument, NULL, 'D' },
		{ "podman-socket", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ps_options opts = {
		.docker_socket = DOCKER_DEFAULT_SOCKET,
		.podman_socket = PODMAN_DEFAULT_SOCKET,
	};
	unsigned long value;
	char err[256];
	int opt;

	argv[0] = "berth ps"; /* getopt names the program in its errors */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", long_options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			opts.json = true;
			break;
		case 'o':
			if (cli_parse_uint("--observe", optarg, 1, PS_OBSERVE_MAX_S, &value, err,
					   sizeof(err)))
				return usage_error("ps", "%s", err);
			opts.observe_s = value;
			break;
		case 'D':
			opts.docker_socket = optarg;
			break;
		case 'P':
			opts.podman_socket = strcmp(optarg, "none") ? optarg : NULL;
			opts.podman_socket_given = true;
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			fputs(ps_usage, stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try `berth ps --help`.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("ps", "unexpected argument '%s'", argv[optind]);
	return ps_run(&opts);
}

static int cmd_version(void)
{
	printf("berth %s (%s)\n", BERTH_VERSION, BERTH_GIT_REV);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *command = argc > 1 ? argv[1] : NULL;

	log_setup_libbpf();
	if (!command) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(command, "watch"))
		return cmd_watch(argc - 1, argv + 1);
	if (!strcmp(command, "ps"))
		return cmd_ps(argc - 1, argv + 1);
	if (!strcmp(command, "version") || !strcmp(command, "--version"))
		return cmd_version();
	if (!strcmp(command, "help") || !strcmp(command, "--help") || !strcmp(command, "-h")) {
		if (argc > 2 && !strcmp(argv[2], "watch"))
			fputs(watch_usage, stdout);
		else if (argc > 2 && !strcmp(argv[2], "ps"))
			fputs(ps_usage, stdout);
		else
			fputs(main_usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "berth: unknown command '%s'\n\n%s", command, main_usage);
	return EXIT_USAGE;
}
