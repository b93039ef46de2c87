# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2016 # backquotes in expected messages
#
# End-to-end tests of `berth ps` against a real dockerd (and podman when it
# runs here): the containers and their exact published ports, counters read
# from a running `berth watch`, counters of a short observation that
# detaches after itself, even when interrupted, and the errors.

# The berth programs attached at the cgroup2 root, counted.
_ps_attached_programs() {
	bpftool cgroup show "$(find_cgroup2_mount)" 2>/dev/null |
		grep -cEw 'handle_sockops|count_ingress|count_egress|record_bind4|record_bind6' || true
}

# _ps_ports JSON_FILE NAME: the container's ports as ps lists them, in its
# order: "host_ip|host_port|container_port|protocol ...".
_ps_ports() {
	jq -r --arg n "$2" '.[] | select(.name == $n) |
		[.ports[] | "\(.host_ip)|\(.host_port)|\(.container_port)|\(.protocol)"] | join(" ")' "$1"
}

# _ps_field JSON_FILE NAME EXPR: EXPR of the container named NAME.
_ps_field() {
	jq -c --arg n "$2" ".[] | select(.name == \$n) | $3" "$1"
}

# Two containers with published ports of every shape ps must show: one on
# 0.0.0.0 with an IPv6 binding, one on 127.0.0.1 with a UDP one. --json
# lists both with exactly those ports; the table shows the names and the
# Docker-style PORTS text; without a watch there are no counters, and one
# hint says how to get some.
test_ps_lists_containers_and_ports() {
	require_root || return $?
	require_berth || return $?
	ensure_docker || return $?
	ensure_test_image
	local pa pa6 pb out=$BERTH_TEST_TMP/ps.json err=$BERTH_TEST_TMP/ps.err id_a id_b table

	pa=$(free_port 18600)
	pa6=$(free_port $((pa + 1)))
	pb=$(free_port $((pa6 + 1)))
	# Not in $(...): container_run registers the container's cleanup.
	container_run berth-test-psa -p "0.0.0.0:$pa:80" -p "[::1]:$pa6:80" \
		"$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	container_run berth-test-psb -p "127.0.0.1:$pb:80" -p "127.0.0.1:$pb:53/udp" \
		"$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id_a=$(docker inspect -f '{{.Id}}' berth-test-psa)
	id_b=$(docker inspect -f '{{.Id}}' berth-test-psb)

	"$BERTH_BIN" ps --json >"$out" 2>"$err"
	assert_eq array "$(jq -r type "$out")" "one JSON array"
	assert_eq "0.0.0.0|$pa|80|tcp ::1|$pa6|80|tcp" "$(_ps_ports "$out" berth-test-psa)" "ports of berth-test-psa"
	assert_eq "127.0.0.1|$pb|80|tcp 127.0.0.1|$pb|53|udp" "$(_ps_ports "$out" berth-test-psb)" "ports of berth-test-psb"
	assert_eq "\"$id_a\"" "$(_ps_field "$out" berth-test-psa .id)" "id of berth-test-psa"
	assert_eq "\"$id_b\"" "$(_ps_field "$out" berth-test-psb .id)" "id of berth-test-psb"
	assert_eq "\"$TEST_IMAGE\"" "$(_ps_field "$out" berth-test-psa .image)" "image"
	assert_eq '"docker"' "$(_ps_field "$out" berth-test-psb .runtime)" "runtime"
	assert_eq null "$(_ps_field "$out" berth-test-psa .counters)" "counters without a watch"
	assert_eq '["berth-test-psa","berth-test-psb"]' \
		"$(jq -c '[.[] | .name | select(startswith("berth-test-ps"))]' "$out")" "sorted by name"
	assert_eq 1 "$(grep -c 'no berth watch is running: counters need `berth ps --observe 5`' "$err")" "the hint, once"

	"$BERTH_BIN" ps >"$out.table" 2>"$err"
	table=$(cat "$out.table")
	assert_contains "$(head -n 1 "$out.table")" "CONTAINER ID   NAME" "header"
	assert_eq "" "$(head -n 1 "$out.table" | grep -o CONNS || true)" "no counter columns without a watch"
	assert_contains "$table" "${id_a:0:12}   berth-test-psa" "short id and name of berth-test-psa"
	assert_contains "$(grep berth-test-psa "$out.table")" "0.0.0.0:$pa->80/tcp, [::1]:$pa6->80/tcp" "PORTS of berth-test-psa"
	assert_contains "$(grep berth-test-psb "$out.table")" "127.0.0.1:$pb->80/tcp, 127.0.0.1:$pb->53/udp" "PORTS of berth-test-psb"
	assert_contains "$(grep berth-test-psb "$out.table")" "   docker   " "RUNTIME column"
}

# With a berth watch running, ps reads its counters (found in the kernel,
# nothing pinned): the 20 connections made to one container are its own,
# the other one has none.
test_ps_counters_from_watch() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local pa pb n=20 out=$BERTH_TEST_TMP/ps.json err=$BERTH_TEST_TMP/ps.err berth_pid r
	local wout=$BERTH_TEST_TMP/watch.json werr=$BERTH_TEST_TMP/watch.err

	pa=$(free_port 18620)
	pb=$(free_port $((pa + 1)))
	container_run berth-test-psw0 -p "127.0.0.1:$pa:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	container_run berth-test-psw1 -p "127.0.0.1:$pb:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$pa" 20
	wait_tcp 127.0.0.1 "$pb" 20

	start_berth berth_pid "$wout" "$werr" watch --interval 60
	r=$(connload --target "127.0.0.1:$pa" --connections "$n" --concurrency 4 --timeout-s 30)
	assert_eq "$n" "$(jq .connections_ok <<<"$r")" "client connections ($r)"

	"$BERTH_BIN" ps --json -v >"$out" 2>"$err" || {
		cat "$err" >&2
		return 1
	}
	assert_file_contains "$err" 'reading the counters of the berth watch attached at' "which watch (-v)"
	assert_eq 0 "$(grep -c 'no berth watch is running' "$err" || true)" "no hint while a watch runs"
	assert_eq '"watch"' "$(_ps_field "$out" berth-test-psw0 .counters.source)" "source"
	assert_ge "$(_ps_field "$out" berth-test-psw0 .counters.connections_opened)" "$n" "connections_opened of berth-test-psw0"
	assert_ge "$(_ps_field "$out" berth-test-psw0 .counters.bytes_out)" $((n * TEST_RESPONSE_BYTES)) "bytes_out of berth-test-psw0"
	assert_ge "$(_ps_field "$out" berth-test-psw0 .counters.bytes_in)" 1 "bytes_in of berth-test-psw0"
	assert_eq null "$(_ps_field "$out" berth-test-psw0 .counters.observed_s)" "observed_s of a watch's counters"
	assert_eq 0 "$(_ps_field "$out" berth-test-psw1 .counters.connections_opened)" "connections_opened of berth-test-psw1"
	assert_eq 0 "$(_ps_field "$out" berth-test-psw1 .counters.bytes_in)" "bytes_in of berth-test-psw1"
	assert_eq '"watch"' "$(_ps_field "$out" berth-test-psw1 .counters.source)" "source of the idle one"

	"$BERTH_BIN" ps >"$out.table" 2>"$err"
	assert_contains "$(head -n 1 "$out.table")" "PORTS" "header"
	assert_contains "$(head -n 1 "$out.table")" "CONNS" "counter columns with a watch"
	assert_eq 0 "$(awk '/berth-test-psw1/ {print $(NF-2)}' "$out.table")" "CONNS of berth-test-psw1 in the table"
	assert_ge "$(awk '/berth-test-psw0/ {print $(NF-2)}' "$out.table")" "$n" "CONNS of berth-test-psw0 in the table"
	stop_process "$berth_pid"
}

# No watch: --observe attaches berth's programs for 2 s while a bounded
# client makes connections, then detaches; the counters are that window's,
# and say so.
test_ps_observe() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out=$BERTH_TEST_TMP/ps.json err=$BERTH_TEST_TMP/ps.err client

	port=$(free_port 18640)
	container_run berth-test-pso -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	container_run berth-test-pso-idle "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$port" 20
	assert_eq 0 "$(_ps_attached_programs)" "berth programs attached before"

	# Bounded in time and count; one connection at a time is plenty.
	start_bg client "$BERTH_TEST_TMP/client.json" "$CONNLOAD" --target "127.0.0.1:$port" \
		--connections 100000 --concurrency 1 --duration-s 5 --timeout-s 20
	"$BERTH_BIN" ps --observe 2 --json >"$out" 2>"$err" || {
		cat "$err" >&2
		return 1
	}
	wait "$client" || true
	assert_eq 0 "$(_ps_attached_programs)" "berth programs attached after the observation"
	assert_file_contains "$err" 'observing every container.s traffic for 2 s' "what it does, on stderr"
	assert_eq '"observation"' "$(_ps_field "$out" berth-test-pso .counters.source)" "source"
	assert_eq 2 "$(_ps_field "$out" berth-test-pso .counters.observed_s)" "observed_s"
	assert_ge "$(_ps_field "$out" berth-test-pso .counters.connections_opened)" 1 "connections_opened"
	assert_ge "$(_ps_field "$out" berth-test-pso .counters.bytes_out)" 1 "bytes_out"
	assert_eq 0 "$(_ps_field "$out" berth-test-pso-idle .counters.connections_opened)" "connections of the idle container"
	assert_eq "" "$(_ps_field "$out" berth-test-pso-idle '.ports[]')" "a container without published ports has none"

	# The table's titles say the counts are of the window.
	"$BERTH_BIN" ps --observe 1 >"$out.table" 2>"$err"
	assert_contains "$(head -n 1 "$out.table")" "CONNS/1s" "header of an observation"
	assert_contains "$(head -n 1 "$out.table")" "OUT/1s" "header of an observation"
	assert_eq 0 "$(_ps_attached_programs)" "berth programs attached after the second observation"
}

# A container started during the observation is not in the listing taken
# before it: ps asks the runtime about it by the id its cgroup path gives,
# and lists it with its counters.
test_ps_observe_container_started_meanwhile() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out=$BERTH_TEST_TMP/ps.json err=$BERTH_TEST_TMP/ps.err observer r

	port=$(free_port 18650)
	start_bg observer "$err" sh -c '"$1" ps --observe 6 --json 2>&1 >"$2"' _ "$BERTH_BIN" "$out"
	wait_for_line "$err" 'observing every container' 30 "$observer"
	container_run berth-test-psnew -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$port" 4
	r=$(connload --target "127.0.0.1:$port" --connections 5 --timeout-s 10)
	assert_eq 5 "$(jq .connections_ok <<<"$r")" "client connections ($r)"
	wait "$observer" || {
		cat "$err" >&2
		return 1
	}
	assert_eq "\"$(docker inspect -f '{{.Id}}' berth-test-psnew)\"" "$(_ps_field "$out" berth-test-psnew .id)" "the new container, listed"
	assert_eq "127.0.0.1|$port|80|tcp" "$(_ps_ports "$out" berth-test-psnew)" "its ports"
	assert_ge "$(_ps_field "$out" berth-test-psnew .counters.connections_opened)" 5 "its connections"
	assert_eq 0 "$(_ps_attached_programs)" "berth programs attached after the observation"
}

# SIGINT or SIGTERM during an observation: detached, nothing listed, exit 1.
test_ps_observe_interrupted() {
	require_root || return $?
	require_berth || return $?
	ensure_docker || return $?
	local sig observer rc err=$BERTH_TEST_TMP/ps.err started

	for sig in INT TERM; do
		# stdout and stderr both in $err: the table must not be there.
		# (Not "pid": start_bg's own local of that name would hide it.)
		start_bg observer "$err" "$BERTH_BIN" ps --observe 60
		wait_for_line "$err" 'observing every container' 30 "$observer"
		assert_eq 5 "$(_ps_attached_programs)" "berth programs attached while observing"
		started=$SECONDS
		kill -"$sig" "$observer"
		rc=0
		wait "$observer" || rc=$?
		assert_eq 1 "$rc" "exit status after SIG$sig"
		assert_le $((SECONDS - started)) 5 "seconds to stop after SIG$sig"
		assert_file_contains "$err" 'interrupted by signal [0-9]+: observation stopped, programs detached, nothing listed' "SIG$sig"
		assert_eq 0 "$(grep -c 'CONTAINER ID' "$err" || true)" "nothing listed after SIG$sig"
		assert_eq 0 "$(_ps_attached_programs)" "berth programs attached after SIG$sig"
	done
}

# _ps_expect RC REGEX CMD...: CMD exits RC and a line of its stderr matches
# REGEX.
_ps_expect() {
	local want_rc=$1 re=$2 rc=0 errf=$BERTH_TEST_TMP/err.txt
	shift 2
	timeout 30 "$@" >"$BERTH_TEST_TMP/out.txt" 2>"$errf" || rc=$?
	assert_eq "$want_rc" "$rc" "exit status of: $*" || {
		cat "$errf" >&2
		return 1
	}
	assert_file_contains "$errf" "$re" "stderr of: $*"
}

# Usage errors exit 2 and name the flag; a Docker socket that is not there
# is a warning that names it, and with no runtime left, exit 1.
test_ps_errors() {
	require_berth || return $?
	local rc=0
	_ps_expect 2 '^berth ps: --observe: 0 is out of range \[1, 60\]$' "$BERTH_BIN" ps --observe 0
	_ps_expect 2 '^berth ps: --observe: 61 is out of range \[1, 60\]$' "$BERTH_BIN" ps --observe 61
	_ps_expect 2 "^berth ps: --observe: expected a number, got 'x'$" "$BERTH_BIN" ps --observe x
	_ps_expect 2 "unrecognized option '--bogus'" "$BERTH_BIN" ps --bogus
	_ps_expect 2 "^berth ps: unexpected argument 'extra'$" "$BERTH_BIN" ps extra
	_ps_expect 1 "warning: Docker API unavailable \($BERTH_TEST_TMP/no-docker.sock: " \
		"$BERTH_BIN" ps --docker-socket "$BERTH_TEST_TMP/no-docker.sock" --podman-socket none
	assert_file_contains "$BERTH_TEST_TMP/err.txt" 'no container runtime answered' "why nothing is listed"
	assert_eq 0 "$(wc -c <"$BERTH_TEST_TMP/out.txt" | tr -d ' ')" "stdout without a runtime"

	"$BERTH_BIN" ps --help >"$BERTH_TEST_TMP/help.txt" || rc=$?
	assert_eq 0 "$rc" "exit status of --help"
	assert_file_contains "$BERTH_TEST_TMP/help.txt" '^EXAMPLES:$' "--help has examples"
	assert_file_contains "$BERTH_TEST_TMP/help.txt" 'berth ps --observe 5' "--help example"
	"$BERTH_BIN" help ps | cmp -s - "$BERTH_TEST_TMP/help.txt" || {
		echo "berth help ps differs from berth ps --help" >&2
		return 1
	}
}

# Docker away, podman there: a warning for Docker, podman's containers
# listed with their runtime and ports, exit 0.
test_ps_podman_without_docker() {
	require_root || return $?
	require_berth || return $?
	ensure_podman || return $?
	ensure_podman_test_image
	local port out=$BERTH_TEST_TMP/ps.json err=$BERTH_TEST_TMP/ps.err id rc=0

	port=$(free_port 18660)
	podman_run berth-test-pspod -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id=$(podman inspect -f '{{.Id}}' berth-test-pspod)
	"$BERTH_BIN" ps --json --docker-socket "$BERTH_TEST_TMP/no-docker.sock" >"$out" 2>"$err" || rc=$?
	assert_eq 0 "$rc" "exit status with podman only" || {
		cat "$err" >&2
		return 1
	}
	assert_eq 1 "$(grep -c "warning: Docker API unavailable ($BERTH_TEST_TMP/no-docker.sock: " "$err")" "one warning naming the socket"
	assert_eq "\"$id\"" "$(_ps_field "$out" berth-test-pspod .id)" "id"
	assert_eq '"podman"' "$(_ps_field "$out" berth-test-pspod .runtime)" "runtime"
	assert_eq "127.0.0.1|$port|80|tcp" "$(_ps_ports "$out" berth-test-pspod)" "ports"
}
