# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of `berth watch`: real eBPF programs in the real kernel, a
# real dockerd with real containers, real clients in network namespaces.

# Connections per container in the exactness test (the issue asks N >= 1000).
EXACT_N=${BERTH_EXACT_N:-1000}

# Every record carries the ECS fields DESIGN.md requires; prints the number
# of records that miss one.
_records_missing_required() {
	jq_count "$1" '(has("@timestamp") and (.event.kind|type=="string") and
		(.event.category|type=="array") and (.event.type|type=="array") and
		(.event.action|type=="string") and (.host.name|type=="string") and
		(.berth.version|type=="string") and
		(.["@timestamp"] | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")))
		| not'
}

# Two containers, one published on 0.0.0.0 (reached from a client in its own
# network namespace through Docker's DNAT) and one on 127.0.0.1 (reached
# from the host through docker-proxy), loaded at the same time at full speed.
# berth must attribute every connection to the right container and binding,
# with exact counts and bytes, and lose nothing.
test_watch_two_containers_exact() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port_a port_b out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid load_a load_b res_a res_b n=$EXACT_N

	port_a=$(free_port 18080)
	port_b=$(free_port $((port_a + 1)))
	container_run berth-test-web0 -p "0.0.0.0:$port_a:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	container_run berth-test-web1 -p "127.0.0.1:$port_b:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	netns_create wA 198.51.100.1 198.51.100.2
	wait_tcp 198.51.100.1 "$port_a" 20 wA
	wait_tcp 127.0.0.1 "$port_b" 20

	start_berth berth_pid "$out" "$err" watch --iface bth-wA --interval 2
	grep -q "XDP on bth-wA in \(native\|generic\) mode" "$err"

	# Both loads at once: attribution must not mix the two containers up.
	netns_exec wA "$CONNLOAD" --target "198.51.100.1:$port_a" --connections "$n" \
		--concurrency 32 --timeout-s 120 >"$BERTH_TEST_TMP/load_a.json" &
	load_a=$!
	"$CONNLOAD" --target "127.0.0.1:$port_b" --connections "$n" --concurrency 32 \
		--timeout-s 120 >"$BERTH_TEST_TMP/load_b.json" &
	load_b=$!
	wait "$load_a"
	wait "$load_b"
	res_a=$(cat "$BERTH_TEST_TMP/load_a.json")
	res_b=$(cat "$BERTH_TEST_TMP/load_b.json")
	assert_eq "$n" "$(jq .connections_ok <<<"$res_a")" "web0 client connections ($res_a)"
	assert_eq "$n" "$(jq .connections_ok <<<"$res_b")" "web1 client connections ($res_b)"

	# Every close has happened when both views counted n of them.
	local accepted_web0_port='select(.event.action=="connection-accepted" and .container.name=="berth-test-web0") | .source.port'
	local closed_web0_port='select(.event.action=="connection-closed" and .container.name=="berth-test-web0") | .source.port'
	wait_for_json "$out" '.event.action=="connection-closed" and .container.name=="berth-test-web1"' "$n" 30
	wait_for_json "$out" '.event.action=="connection-closed" and .container.name=="berth-test-web0"' "$n" 30 || {
		# Which connections have no close yet, and what state their sockets are in.
		echo "client ports accepted but not closed:" >&2
		comm -23 <(jq -r "$accepted_web0_port" "$out" | sort) <(jq -r "$closed_web0_port" "$out" | sort) >&2
		nsenter -t "$(docker inspect -f '{{.State.Pid}}' berth-test-web0)" -n ss -tanoi >&2 || true
		return 1
	}
	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}

	local web0='.container.name=="berth-test-web0"' web1='.container.name=="berth-test-web1"'
	local accepted='.event.action=="connection-accepted"' closed='.event.action=="connection-closed"'
	assert_eq 0 "$(jq_invalid_lines "$out")" "lines that are not JSON"
	assert_eq 0 "$(_records_missing_required "$out")" "records missing a required ECS field"

	# Connection events: exactly n per container, on the right port and binding.
	assert_eq "$n" "$(jq_count "$out" "$accepted and $web0")" "web0 connection-accepted"
	assert_eq "$n" "$(jq_count "$out" "$accepted and $web0 and .destination.port==80 and
		.berth.port.host_port==$port_a and .berth.port.host_ip==\"0.0.0.0\" and
		.berth.port.container_port==80 and .berth.port.protocol==\"tcp\" and
		.source.ip==\"198.51.100.2\" and .network.direction==\"ingress\" and
		.container.runtime==\"docker\" and .container.image.name==\"$TEST_IMAGE\" and
		.berth.view==\"socket\"")" "web0 accepted with the client's address and the 0.0.0.0 binding"
	assert_eq "$n" "$(jq_count "$out" "$accepted and $web1")" "web1 connection-accepted"
	# docker-proxy: the container sees the bridge gateway, the binding is loopback.
	assert_eq "$n" "$(jq_count "$out" "$accepted and $web1 and .destination.port==80 and
		.berth.port.host_port==$port_b and .berth.port.host_ip==\"127.0.0.1\"")" \
		"web1 accepted on the 127.0.0.1 binding"
	assert_eq "$n" "$(jq_count "$out" "$closed and $web0")" "web0 connection-closed"
	assert_eq "$n" "$(jq_count "$out" "$closed and $web1")" "web1 connection-closed"
	# The containers' own cgroups, not the root (softirq) one.
	assert_eq 0 "$(jq_count "$out" "($accepted or $closed) and (.container.id|not)")" \
		"connection events without a container (host processes are off without --all)"

	# Bytes: what the clients sent and received, per connection and in total.
	assert_eq "$(jq .bytes_sent <<<"$res_a")" "$(jq_sum "$out" "$closed and $web0" '.berth.connection.bytes_in')" "web0 bytes_in (connections)"
	assert_eq "$(jq .bytes_received <<<"$res_a")" "$(jq_sum "$out" "$closed and $web0" '.berth.connection.bytes_out')" "web0 bytes_out (connections)"
	assert_eq "$(jq .bytes_sent <<<"$res_b")" "$(jq_sum "$out" "$closed and $web1" '.source.bytes')" "web1 source.bytes"
	assert_eq "$(jq .bytes_received <<<"$res_b")" "$(jq_sum "$out" "$closed and $web1" '.destination.bytes')" "web1 destination.bytes"

	# port-stats: the last record of each container's port 80 has the totals.
	local stats='.event.action=="port-stats" and .berth.view=="socket" and .berth.role=="server" and .server.port==80'
	local last_a last_b
	last_a=$(jq -c "select($stats and $web0) | .berth.stats.total" "$out" | tail -n 1)
	last_b=$(jq -c "select($stats and $web1) | .berth.stats.total" "$out" | tail -n 1)
	assert_eq "$n" "$(jq .connections_opened <<<"$last_a")" "web0 port-stats total opened ($last_a)"
	assert_eq "$n" "$(jq .connections_closed <<<"$last_a")" "web0 port-stats total closed"
	assert_eq "$(jq .bytes_sent <<<"$res_a")" "$(jq .bytes_in <<<"$last_a")" "web0 port-stats bytes_in"
	assert_eq "$(jq .bytes_received <<<"$res_a")" "$(jq .bytes_out <<<"$last_a")" "web0 port-stats bytes_out"
	assert_eq "$n" "$(jq .connections_opened <<<"$last_b")" "web1 port-stats total opened ($last_b)"
	assert_eq "$(jq .bytes_sent <<<"$res_b")" "$(jq .bytes_in <<<"$last_b")" "web1 port-stats bytes_in"
	assert_eq "$(jq .bytes_received <<<"$res_b")" "$(jq .bytes_out <<<"$last_b")" "web1 port-stats bytes_out"
	# Interval figures add up to the total: nothing counted twice or skipped.
	assert_eq "$n" "$(jq_sum "$out" "$stats and $web0" '.berth.stats.interval.connections_opened')" "web0 sum of interval opened"
	assert_eq "$(jq .bytes_in <<<"$last_a")" "$(jq_sum "$out" "$stats and $web0" '.berth.stats.interval.bytes_in')" "web0 sum of interval bytes_in"

	# The host view (XDP on the namespace's veth): at least one SYN per
	# connection to the published host port (more when a full accept queue
	# made the client retransmit one), joined to web0 through its binding.
	local xdp
	xdp=$(jq -c "select(.event.action==\"port-stats\" and .berth.view==\"interface\" and .destination.port==$port_a) | .berth.stats.total" "$out" | tail -n 1)
	assert_ge "$(jq .syns_in <<<"$xdp")" "$n" "XDP SYNs to host port $port_a ($xdp)"
	assert_eq 1 "$(jq_count "$out" ".berth.view==\"interface\" and .destination.port==$port_a and $web0 and .observer.ingress.interface.name==\"bth-wA\"" | awk '{print ($1 >= 1)}')" "XDP record attributed to web0"

	assert_eq 0 "$(jq_count "$out" '.event.action=="events-lost"')" "events-lost records" || {
		jq -c 'select(.event.action=="events-lost") | .berth.lost' "$out" >&2
		return 1
	}
}

# A host process with a dual-stack socket: IPv6 clients keep their address,
# IPv4 clients arrive as ::ffff:a.b.c.d and must be printed as a.b.c.d.
# Host processes are reported with --all, named by their cgroup path.
test_watch_ipv6_and_v4mapped() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	local port out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err www=$BERTH_TEST_TMP/www
	local berth_pid httpd_pid r4 r6
	mkdir -p "$www"
	printf 'hello\n' >"$www/index.html"
	port=$(free_port 18280)
	netns_create v6 198.51.100.1 198.51.100.2
	# berth first, so that post_bind sees the server's bind.
	start_berth berth_pid "$out" "$err" watch --all --interval 1
	# busybox httpd listens on [::]:port, which takes IPv4 too.
	start_bg httpd_pid "$BERTH_TEST_TMP/httpd.log" busybox httpd -f -p "[::]:$port" -h "$www"
	wait_tcp 127.0.0.1 "$port" 10

	r4=$(netns_exec v6 "$CONNLOAD" --target "198.51.100.1:$port" --connections 10 --timeout-s 20)
	r6=$(netns_exec v6 "$CONNLOAD" --target "[2001:db8::1]:$port" --connections 10 --timeout-s 20)
	assert_eq 10 "$(jq .connections_ok <<<"$r4")" "IPv4 connections"
	assert_eq 10 "$(jq .connections_ok <<<"$r6")" "IPv6 connections"
	wait_for_json "$out" ".event.action==\"connection-closed\" and .destination.port==$port" 20 20
	stop_process "$berth_pid"

	local acc=".event.action==\"connection-accepted\" and .destination.port==$port"
	assert_eq 10 "$(jq_count "$out" "$acc and .source.ip==\"198.51.100.2\" and .destination.ip==\"198.51.100.1\" and .network.type==\"ipv4\"")" "v4-mapped clients printed as IPv4"
	assert_eq 10 "$(jq_count "$out" "$acc and .source.ip==\"2001:db8::2\" and .destination.ip==\"2001:db8::1\" and .network.type==\"ipv6\"")" "IPv6 clients"
	assert_eq 0 "$(jq_count "$out" '(.source.ip // "" | startswith("::ffff:")) or (.destination.ip // "" | startswith("::ffff:"))')" "unnormalised v4-mapped addresses"
	assert_ge "$(jq_count "$out" "$acc and (.berth.cgroup_path|type==\"string\") and (.container|not)")" 20 "host process named by its cgroup path"
	# The dual-stack bind was seen by post_bind6.
	assert_eq 1 "$(jq_count "$out" ".event.action==\"listen\" and .server.port==$port and .server.ip==\"::\" and .network.transport==\"tcp\"")" "listen record of the bind"
}

# UDP counters: a container serving UDP is counted under its own port.
test_watch_udp_counters() {
	require_root || return $?
	require_berth || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid ip i
	port=$(free_port 18380)
	start_berth berth_pid "$out" "$err" watch --interval 1
	# udpecho (static; busybox has no UDP server) binds explicitly, after
	# berth started, so post_bind sees it.
	[ -x "$BERTH_BUILD/tools/udpecho" ] || { skip_because "udpecho not built (make tools)"; return; }
	container_run berth-test-udp -p "127.0.0.1:$port:5353/udp" -v "$BERTH_BUILD/tools:/tools:ro" \
		"$TEST_IMAGE" /tools/udpecho --port 5353 --max 5 --timeout-s 60 >/dev/null
	ip=$(container_ip berth-test-udp)
	wait_for_json "$out" '.event.action=="listen" and .server.port==5353' 1 20 || {
		cat "$err" >&2
		jq -c 'select(.event.action=="listen")' "$out" >&2
		return 1
	}
	for i in 1 2 3 4 5; do
		printf 'datagram-%02d\n' "$i" >"/dev/udp/$ip/5353"
	done
	wait_for_json "$out" '.event.action=="port-stats" and .container.name=="berth-test-udp" and .network.transport=="udp" and .berth.stats.total.packets_in>=5' 1 20
	stop_process "$berth_pid"
	local last
	last=$(jq -c 'select(.event.action=="port-stats" and .container.name=="berth-test-udp" and .network.transport=="udp" and .server.port==5353) | .berth.stats.total' "$out" | tail -n 1)
	assert_eq 5 "$(jq .packets_in <<<"$last")" "UDP datagrams in ($last)"
	assert_eq 60 "$(jq .bytes_in <<<"$last")" "UDP payload bytes in (5 x 12)"
	assert_eq 60 "$(jq .bytes_out <<<"$last")" "UDP payload bytes echoed back"
	assert_eq 1 "$(jq_count "$out" ".event.action==\"listen\" and .container.name==\"berth-test-udp\" and .berth.port.host_port==$port and .berth.port.protocol==\"udp\"")" "listen record joined to the UDP binding"
}

# SIGTERM: exit 0, nothing of berth attached anywhere afterwards.
test_watch_sigterm_detaches_everything() {
	require_root || return $?
	require_berth || return $?
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid cg2 rc=0
	cg2=$(find_cgroup2_mount)
	netns_create sT 198.51.100.1 198.51.100.2
	start_berth berth_pid "$out" "$err" watch --iface bth-sT
	# Attached while running: five cgroup programs and XDP on the veth.
	assert_eq 5 "$(bpftool cgroup show "$cg2" | grep -cEw 'handle_sockops|count_ingress|count_egress|record_bind4|record_bind6')" "programs at the cgroup2 root while running"
	assert_contains "$(ip -d link show bth-sT)" "xdp" "XDP on bth-sT while running"
	stop_process "$berth_pid" || rc=$?
	assert_eq 0 "$rc" "berth's exit status after SIGTERM"
	assert_eq 0 "$(bpftool cgroup show "$cg2" | grep -cEw 'handle_sockops|count_ingress|count_egress|record_bind4|record_bind6' || true)" "programs at the cgroup2 root after SIGTERM"
	if ip -d link show bth-sT | grep -q 'prog/xdp'; then
		echo "XDP still attached to bth-sT after SIGTERM" >&2
		return 1
	fi
}

# SIGKILL gives berth no chance to clean up: its BPF links die with it.
test_watch_sigkill_leaves_nothing() {
	require_root || return $?
	require_berth || return $?
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid cg2 i
	cg2=$(find_cgroup2_mount)
	netns_create sK 198.51.100.1 198.51.100.2
	start_berth berth_pid "$out" "$err" watch --iface bth-sK
	kill -KILL "$berth_pid"
	wait "$berth_pid" 2>/dev/null || true
	# Link release is asynchronous (RCU): give it a moment.
	for ((i = 0; i < 50; i++)); do
		[ "$(bpftool cgroup show "$cg2" | grep -cEw 'handle_sockops|count_ingress' || true)" = 0 ] && break
		sleep 0.1
	done
	assert_eq 0 "$(bpftool cgroup show "$cg2" | grep -cEw 'handle_sockops|count_ingress|count_egress|record_bind4|record_bind6' || true)" "programs at the cgroup2 root after SIGKILL"
	if ip -d link show bth-sK | grep -q 'prog/xdp'; then
		echo "XDP still attached to bth-sK after SIGKILL" >&2
		return 1
	fi
}

# _expect_error EXPECTED_RC REGEX CMD...: CMD exits EXPECTED_RC with one
# error line on stderr matching REGEX (usage errors add a second line,
# "Try `berth watch --help`."), and prints nothing on stdout.
_expect_error() {
	local want_rc=$1 re=$2 rc=0 errf=$BERTH_TEST_TMP/err.txt outf=$BERTH_TEST_TMP/out.txt
	shift 2
	timeout 30 "$@" >"$outf" 2>"$errf" || rc=$?
	assert_eq "$want_rc" "$rc" "exit status of: $*" || { cat "$errf" >&2; return 1; }
	assert_eq 1 "$(grep -vc '^Try `berth' "$errf")" "error lines on stderr of: $*" || { cat "$errf" >&2; return 1; }
	assert_file_contains "$errf" "$re" "error message of: $*"
	assert_eq 0 "$(wc -c <"$outf" | tr -d ' ')" "stdout bytes of: $*"
}

test_watch_error_not_root() {
	require_root || return $?
	require_berth || return $?
	command -v setpriv >/dev/null || { skip_because "setpriv (util-linux) missing"; return; }
	_expect_error 1 'must run as root.*sudo' setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$BERTH_BIN" watch
}

test_watch_error_no_btf() {
	require_root || return $?
	require_berth || return $?
	# A private mount namespace where /sys/kernel/btf is empty.
	_expect_error 1 'kernel BTF not found.*CONFIG_DEBUG_INFO_BTF' \
		unshare -m sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$0" watch' "$BERTH_BIN"
}

test_watch_error_no_cgroup2() {
	require_root || return $?
	require_berth || return $?
	local cg2
	cg2=$(find_cgroup2_mount)
	# A private mount namespace without the cgroup2 mount.
	_expect_error 1 'no cgroup2 file system is mounted' \
		unshare -m sh -c 'umount -l "$1" && exec "$0" watch' "$BERTH_BIN" "$cg2"
}

test_watch_error_unknown_interface() {
	require_berth || return $?
	_expect_error 2 'watch: --iface bth-nosuch0: no such network interface' "$BERTH_BIN" watch --iface bth-nosuch0 ||
		return 1
	# Usage errors name the flag; the second line points to --help.
	local rc=0
	"$BERTH_BIN" watch --interval 0 2>"$BERTH_TEST_TMP/e" || rc=$?
	assert_eq 2 "$rc" "exit status of --interval 0"
	assert_file_contains "$BERTH_TEST_TMP/e" '^berth watch: --interval: 0 is out of range \[1, 86400\]$' "--interval 0"
	rc=0
	"$BERTH_BIN" watch --ringbuf-size 3M 2>"$BERTH_TEST_TMP/e" || rc=$?
	assert_eq 2 "$rc" "exit status of --ringbuf-size 3M"
	assert_file_contains "$BERTH_TEST_TMP/e" 'ringbuf-size: 3M is not a power of two' "--ringbuf-size 3M"
	rc=0
	"$BERTH_BIN" watch --xdp-mode turbo 2>"$BERTH_TEST_TMP/e" || rc=$?
	assert_eq 2 "$rc" "exit status of --xdp-mode turbo"
	assert_file_contains "$BERTH_TEST_TMP/e" "xdp-mode: expected auto, native or generic, got 'turbo'" "--xdp-mode turbo"
}

# Docker absent is not fatal: one warning, then attribution by cgroup path
# (container id and runtime from /docker/<id>, no name).
test_watch_docker_absent_falls_back() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port id out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid r
	port=$(free_port 18480)
	# Not in $(...): container_run registers the container's cleanup.
	container_run berth-test-nodock -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id=$(docker inspect -f '{{.Id}}' berth-test-nodock)
	wait_tcp 127.0.0.1 "$port" 20
	start_berth berth_pid "$out" "$err" watch --docker-socket "$BERTH_TEST_TMP/no-docker.sock" --interval 1
	r=$("$CONNLOAD" --target "127.0.0.1:$port" --connections 5 --timeout-s 20)
	assert_eq 5 "$(jq .connections_ok <<<"$r")" "connections"
	wait_for_json "$out" '.event.action=="connection-closed"' 5 20
	stop_process "$berth_pid"
	assert_eq 1 "$(grep -c 'Docker API unavailable' "$err")" "warnings about Docker on stderr"
	assert_file_contains "$err" 'containers are named by their cgroup path only' "fallback explained"
	assert_eq 5 "$(jq_count "$out" ".event.action==\"connection-accepted\" and .container.id==\"$id\" and .container.runtime==\"docker\" and (.container.name|not) and (.berth.cgroup_path|endswith(\"$id\") or contains(\"$id\"))")" "accepted connections attributed by cgroup path"
}

# --xdp-mode: auto picks generic on a veth (its native mode converts every
# skb; see docs/benchmarks.md), native and generic force the mode, and every
# interface record says which mode counted it.
test_watch_xdp_mode_choice() {
	require_root || return $?
	require_berth || return $?
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid mode
	netns_create xM 198.51.100.1 198.51.100.2
	for mode in auto:generic native:native generic:generic; do
		start_berth berth_pid "$out" "$err" watch --iface bth-xM --xdp-mode "${mode%%:*}"
		assert_file_contains "$err" "XDP on bth-xM in ${mode##*:} mode" "--xdp-mode ${mode%%:*}"
		case ${mode##*:} in
		# ip link prints "xdpgeneric" for generic mode and "xdp" for native.
		generic) assert_contains "$(ip -o link show bth-xM)" " xdpgeneric " "generic XDP attached" ;;
		native) assert_contains "$(ip -o link show bth-xM)" " xdp qdisc " "native XDP attached" ;;
		esac
		stop_process "$berth_pid"
	done
}

# Every loss is visible: with a ring buffer far too small and berth's user
# space stopped, connection records are dropped; berth reports them as
# events-lost (ringbuf-full), and the kernel's port counters stay exact.
test_watch_ringbuf_loss_reported() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid r n=2000
	port=$(free_port 18580)
	container_run berth-test-loss -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$port" 20
	# 64 KiB holds ~600 records; 2000 connections make over 4000.
	start_berth berth_pid "$out" "$err" watch --ringbuf-size 64K --interval 1
	kill -STOP "$berth_pid"
	r=$("$CONNLOAD" --target "127.0.0.1:$port" --connections "$n" --concurrency 8 --timeout-s 120)
	kill -CONT "$berth_pid"
	assert_eq "$n" "$(jq .connections_ok <<<"$r")" "connections ($r)"
	wait_for_json "$out" '.event.action=="events-lost" and .berth.lost.cause=="ringbuf-full"' 1 20
	stop_process "$berth_pid"
	local lost accepted last
	lost=$(jq -s '[.[] | select(.event.action=="events-lost" and .berth.lost.cause=="ringbuf-full")] | last | .berth.lost.total' "$out")
	accepted=$(jq_count "$out" '.event.action=="connection-accepted" and .container.name=="berth-test-loss"')
	assert_ge "$lost" 1 "ring-buffer records reported lost"
	assert_le "$accepted" $((n - 1)) "connection-accepted records that got through"
	# The counters are kept in the kernel, not in the ring buffer: exact.
	last=$(jq -c 'select(.event.action=="port-stats" and .container.name=="berth-test-loss" and .berth.role=="server") | .berth.stats.total' "$out" | tail -n 1)
	assert_eq "$n" "$(jq .connections_opened <<<"$last")" "port-stats opened despite the loss ($last)"
	assert_eq "$(jq .bytes_received <<<"$r")" "$(jq .bytes_out <<<"$last")" "port-stats bytes_out despite the loss"
}
