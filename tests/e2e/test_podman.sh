# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of `berth watch` with podman: real podman containers
# (Debian's podman 4.3 with runc, cgroupfs manager, netavark's DNAT), berth
# reading podman's Docker-compatible API, real clients in a network namespace.
# tests/fixtures/podman/README.md says how podman's API differs from Docker's.

# Connections from the namespace's client.
PODMAN_N=${BERTH_PODMAN_N:-50}

# _check_all FILE SELECT EXPR WANT WHAT: every record SELECT picks has EXPR ==
# WANT (jq values). On failure prints how many do not and the values seen,
# so that one run shows every field berth got wrong, not only the first.
_check_all() {
	local file=$1 select=$2 expr=$3 want=$4 what=$5 total bad
	total=$(jq_count "$file" "$select")
	bad=$(jq_count "$file" "($select) and (($expr) != ($want))")
	[ "$bad" = 0 ] && return 0
	printf 'ASSERT FAILED: %s: %s of %s records have %s != %s; values seen (count value):\n' \
		"$what" "$bad" "$total" "$expr" "$want" >&2
	{ jq -R "fromjson? | select($select) | $expr" -c "$file" 2>/dev/null || true; } |
		sort | uniq -c | sed 's/^/    /' >&2
	return 1
}

# Two podman containers: pod0 published on all interfaces (`-p PORT:80`,
# which podman's API lists with no host IP) and reached from a client in its
# own network namespace through netavark's DNAT; pod1 published on
# 127.0.0.1 and reached from the host. berth, given podman's API socket,
# must name every connection after the podman container that accepted it:
# id, name, runtime "podman", image, and the binding it came through.
test_podman_watch_names_containers() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_podman || return $?
	ensure_podman_test_image
	local port_a port_b id_a id_b out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid res_a res_b n=$PODMAN_N m=10 fails=0

	port_a=$(free_port 18680)
	port_b=$(free_port $((port_a + 1)))
	# Not in $(...): podman_run registers the container's removal.
	podman_run berth-test-pod0 -p "$port_a:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	podman_run berth-test-pod1 -p "127.0.0.1:$port_b:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id_a=$(podman inspect -f '{{.Id}}' berth-test-pod0)
	id_b=$(podman inspect -f '{{.Id}}' berth-test-pod1)
	netns_create pA 198.51.100.1 198.51.100.2
	podman_allow_forward pA
	wait_tcp 198.51.100.1 "$port_a" 20 pA
	wait_tcp 127.0.0.1 "$port_b" 20

	start_berth berth_pid "$out" "$err" watch --podman-socket "$PODMAN_SOCKET" --interval 1

	res_a=$(netns_exec pA "$CONNLOAD" --target "198.51.100.1:$port_a" --connections "$n" \
		--concurrency 8 --timeout-s 60)
	res_b=$("$CONNLOAD" --target "127.0.0.1:$port_b" --connections "$m" --timeout-s 60)
	assert_eq "$n" "$(jq .connections_ok <<<"$res_a")" "pod0 client connections ($res_a)"
	assert_eq "$m" "$(jq .connections_ok <<<"$res_b")" "pod1 client connections ($res_b)"

	# Selected by cgroup, the kernel's truth, not by the names under test.
	local in_a="(.berth.cgroup_path // \"\" | contains(\"libpod-$id_a\"))"
	local in_b="(.berth.cgroup_path // \"\" | contains(\"libpod-$id_b\"))"
	local accepted='.event.action=="connection-accepted"' closed='.event.action=="connection-closed"'
	wait_for_json "$out" "$closed and $in_a" "$n" 30
	wait_for_json "$out" "$closed and $in_b" "$m" 30
	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}

	assert_eq 0 "$(jq_invalid_lines "$out")" "lines that are not JSON"
	assert_eq "$n" "$(jq_count "$out" "$accepted and $in_a")" "connection-accepted in pod0's cgroup"
	assert_eq "$m" "$(jq_count "$out" "$accepted and $in_b")" "connection-accepted in pod1's cgroup"

	# Every field of every accepted connection; all mismatches reported.
	local sel_a="$accepted and $in_a" sel_b="$accepted and $in_b"
	_check_all "$out" "$sel_a" .container.id "\"$id_a\"" "pod0 container.id" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .container.name '"berth-test-pod0"' "pod0 container.name" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .container.runtime '"podman"' "pod0 container.runtime" || fails=$((fails + 1))
	# podman reports the image fully qualified (localhost/NAME:latest).
	_check_all "$out" "$sel_a" "(.container.image.name // \"\" | contains(\"$TEST_IMAGE\"))" true \
		"pod0 container.image.name names $TEST_IMAGE" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .berth.port.host_port "$port_a" "pod0 berth.port.host_port" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .berth.port.container_port 80 "pod0 berth.port.container_port" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .berth.port.protocol '"tcp"' "pod0 berth.port.protocol" || fails=$((fails + 1))
	# podman's API leaves the host IP out for all interfaces: berth must
	# still say which address the binding covers, as it does for Docker.
	_check_all "$out" "$sel_a" .berth.port.host_ip '"0.0.0.0"' "pod0 berth.port.host_ip" || fails=$((fails + 1))
	_check_all "$out" "$sel_a" .source.ip '"198.51.100.2"' "pod0 source.ip (DNAT keeps the client's address)" ||
		fails=$((fails + 1))
	_check_all "$out" "$sel_a" .destination.port 80 "pod0 destination.port" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .container.id "\"$id_b\"" "pod1 container.id" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .container.name '"berth-test-pod1"' "pod1 container.name" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .container.runtime '"podman"' "pod1 container.runtime" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .berth.port.host_port "$port_b" "pod1 berth.port.host_port" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .berth.port.container_port 80 "pod1 berth.port.container_port" || fails=$((fails + 1))
	_check_all "$out" "$sel_b" .berth.port.host_ip '"127.0.0.1"' "pod1 berth.port.host_ip" || fails=$((fails + 1))
	# Closes are named too, and nothing else claims the pods' ids.
	_check_all "$out" "$closed and $in_a" .container.name '"berth-test-pod0"' "pod0 connection-closed container.name" ||
		fails=$((fails + 1))
	assert_eq "$n" "$(jq_count "$out" "$accepted and .container.id==\"$id_a\"")" "connection-accepted naming pod0" ||
		fails=$((fails + 1))
	assert_eq "$m" "$(jq_count "$out" "$accepted and .container.id==\"$id_b\"")" "connection-accepted naming pod1" ||
		fails=$((fails + 1))

	# Counted in the kernel per container and port: exact.
	local last_a
	last_a=$(jq -c "select(.event.action==\"port-stats\" and .berth.view==\"socket\" and .berth.role==\"server\" and .server.port==80 and $in_a) | .berth.stats.total" "$out" | tail -n 1)
	assert_eq "$n" "$(jq .connections_opened <<<"${last_a:-null}")" "pod0 port-stats total opened ($last_a)" ||
		fails=$((fails + 1))
	assert_eq "$(jq .bytes_received <<<"$res_a")" "$(jq .bytes_out <<<"${last_a:-null}")" "pod0 port-stats bytes_out" ||
		fails=$((fails + 1))
	[ "$fails" -eq 0 ] || {
		echo "$fails assertions failed; berth's stderr:" >&2
		cat "$err" >&2
		return 1
	}
}

# A podman container started while berth runs is named from its first
# connection on (berth learns it from podman's event stream, or from its
# cgroup before the API answers).
test_podman_container_started_while_watching() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_podman || return $?
	ensure_podman_test_image
	local port id out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid r m=10 fails=0
	port=$(free_port 18690)
	start_berth berth_pid "$out" "$err" watch --podman-socket "$PODMAN_SOCKET" --interval 1
	podman_run berth-test-pod2 -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id=$(podman inspect -f '{{.Id}}' berth-test-pod2)
	# wait_tcp's own connections are accepted by the container too: they
	# must be named like the others.
	wait_tcp 127.0.0.1 "$port" 20
	r=$("$CONNLOAD" --target "127.0.0.1:$port" --connections "$m" --timeout-s 30)
	assert_eq "$m" "$(jq .connections_ok <<<"$r")" "client connections ($r)"

	local sel=".event.action==\"connection-accepted\" and (.berth.cgroup_path // \"\" | contains(\"libpod-$id\"))"
	wait_for_json "$out" ".event.action==\"connection-closed\" and (.berth.cgroup_path // \"\" | contains(\"libpod-$id\"))" "$m" 30
	stop_process "$berth_pid"
	assert_ge "$(jq_count "$out" "$sel")" "$m" "connection-accepted in pod2's cgroup"
	_check_all "$out" "$sel" .container.id "\"$id\"" "pod2 container.id" || fails=$((fails + 1))
	_check_all "$out" "$sel" .container.name '"berth-test-pod2"' "pod2 container.name" || fails=$((fails + 1))
	_check_all "$out" "$sel" .container.runtime '"podman"' "pod2 container.runtime" || fails=$((fails + 1))
	_check_all "$out" "$sel" .berth.port.host_port "$port" "pod2 berth.port.host_port" || fails=$((fails + 1))
	_check_all "$out" "$sel" .berth.port.host_ip '"127.0.0.1"' "pod2 berth.port.host_ip" || fails=$((fails + 1))
	[ "$fails" -eq 0 ] || {
		echo "$fails assertions failed; berth's stderr:" >&2
		cat "$err" >&2
		return 1
	}
}

# A published port range (`-p A-B:8005-8006`) on a container that was there
# before berth: podman 4.3's container list gives only the range's first
# port (tests/fixtures/podman/containers-list.json, berth-test-pm5), its
# inspect gives them all, and berth must name connections to every port.
test_podman_port_range() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_podman || return $?
	ensure_podman_test_image
	local p1 p2 id out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid r1 r2 m=5 fails=0
	p1=$(free_port 18700)
	while ! port_free $((p1 + 1)); do
		p1=$(free_port $((p1 + 2)))
	done
	p2=$((p1 + 1))
	podman_run berth-test-pod3 -p "$p1-$p2:8005-8006" "$TEST_IMAGE" \
		sh -c 'httpd -p 8005 -h /www && exec httpd -f -p 8006 -h /www' >/dev/null
	id=$(podman inspect -f '{{.Id}}' berth-test-pod3)
	wait_tcp 127.0.0.1 "$p1" 20
	wait_tcp 127.0.0.1 "$p2" 20
	start_berth berth_pid "$out" "$err" watch --podman-socket "$PODMAN_SOCKET" --interval 1
	r1=$("$CONNLOAD" --target "127.0.0.1:$p1" --connections "$m" --timeout-s 30)
	r2=$("$CONNLOAD" --target "127.0.0.1:$p2" --connections "$m" --timeout-s 30)
	assert_eq "$m" "$(jq .connections_ok <<<"$r1")" "connections to $p1 ($r1)"
	assert_eq "$m" "$(jq .connections_ok <<<"$r2")" "connections to $p2 ($r2)"

	local in_c="(.berth.cgroup_path // \"\" | contains(\"libpod-$id\"))"
	local sel1=".event.action==\"connection-accepted\" and $in_c and .destination.port==8005"
	local sel2=".event.action==\"connection-accepted\" and $in_c and .destination.port==8006"
	wait_for_json "$out" ".event.action==\"connection-closed\" and $in_c" $((2 * m)) 30
	stop_process "$berth_pid"
	assert_eq "$m" "$(jq_count "$out" "$sel1")" "connection-accepted on container port 8005"
	assert_eq "$m" "$(jq_count "$out" "$sel2")" "connection-accepted on container port 8006"
	_check_all "$out" "$sel1" .container.name '"berth-test-pod3"' "8005 container.name" || fails=$((fails + 1))
	_check_all "$out" "$sel1" .berth.port.host_port "$p1" "8005 berth.port.host_port" || fails=$((fails + 1))
	_check_all "$out" "$sel2" .container.name '"berth-test-pod3"' "8006 container.name" || fails=$((fails + 1))
	_check_all "$out" "$sel2" .berth.port.host_port "$p2" "8006 berth.port.host_port (the range's second port)" ||
		fails=$((fails + 1))
	_check_all "$out" "$sel2" .berth.port.container_port 8006 "8006 berth.port.container_port" || fails=$((fails + 1))
	[ "$fails" -eq 0 ] || {
		echo "$fails assertions failed; berth's stderr:" >&2
		cat "$err" >&2
		return 1
	}
}
