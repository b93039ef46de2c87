# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Self-test of the test harness (tests/lib.sh, connload, the test image):
# needs no berth. If these fail, the berth end-to-end tests cannot be
# trusted either.

# The helpers themselves: assertions, JSON-line counting, cgroup2 lookup.
test_harness_helpers() {
	local f=$BERTH_TEST_TMP/lines.json mnt
	printf '%s\n' '{"a":1,"b":{"c":"x"}}' 'not json' '{"a":2,"b":{"c":"y"}}' '' '{"a":3}' >"$f"
	assert_eq 3 "$(jq_count "$f" 'true')" "jq_count all"
	assert_eq 1 "$(jq_count "$f" '.b.c == "y"')" "jq_count filter"
	assert_eq 6 "$(jq_sum "$f" 'true' '.a')" "jq_sum"
	assert_eq '"x"' "$(jq_first "$f" '.a == 1' '.b.c')" "jq_first"
	assert_eq 1 "$(jq_invalid_lines "$f")" "jq_invalid_lines"
	# Failing assertions fail (and say why) without ending the shell.
	if assert_eq 1 2 "deliberate" 2>/dev/null; then return 1; fi
	if assert_ge 1 2 "deliberate" 2>/dev/null; then return 1; fi
	if assert_ge "abc" 0 "deliberate" 2>/dev/null; then return 1; fi
	assert_ge 5 5
	mnt=$(find_cgroup2_mount)
	assert_eq cgroup2fs "$(stat -f -c %T "$mnt")" "file system type at $mnt"
}

# Two namespaces at once (/28 plan), each reaching a server on its host-side
# address over IPv4 and IPv6; then cleanup_all leaves nothing behind.
test_harness_netns() {
	require_root || return $?
	require_connload || return $?
	local port www out
	netns_create hA 198.51.100.1 198.51.100.2 28
	netns_create hB 198.51.100.17 198.51.100.18 28
	assert_eq 2001:db8::1 "${NS_HOST6[hA]}" "hA host IPv6"
	assert_eq 2001:db8::2 "${NS_PEER6[hA]}" "hA peer IPv6"
	assert_eq 2001:db8:0:10::11 "${NS_HOST6[hB]}" "hB host IPv6"
	assert_eq 2001:db8:0:10::12 "${NS_PEER6[hB]}" "hB peer IPv6"
	assert_eq bth-hA "${NS_IFACE[hA]}" "hA interface"

	www=$BERTH_TEST_TMP/www
	mkdir -p "$www"
	printf 'hello\n' >"$www/index.html"
	port=$(free_port 18180)
	local httpd_pid
	start_bg httpd_pid "$BERTH_TEST_TMP/httpd.log" busybox httpd -f -p "$port" -h "$www"
	kill -0 "$httpd_pid"
	wait_tcp 127.0.0.1 "$port" 10

	for ns in hA hB; do
		out=$(netns_exec "$ns" "$CONNLOAD" --target "${NS_HOST4[$ns]}:$port" \
			--connections 20 --concurrency 4 --timeout-s 20)
		assert_eq 20 "$(jq .connections_ok <<<"$out")" "$ns IPv4 connections_ok ($out)"
		out=$(netns_exec "$ns" "$CONNLOAD" --target "[${NS_HOST6[$ns]}]:$port" \
			--bind "${NS_PEER6[$ns]}" --connections 20 --concurrency 4 --timeout-s 20)
		assert_eq 20 "$(jq .connections_ok <<<"$out")" "$ns IPv6 connections_ok ($out)"
	done
	# The namespace has no route anywhere else.
	if netns_exec hA "$CONNLOAD" --target 127.0.0.1:"$port" --connections 1 \
		--timeout-s 2 >/dev/null 2>&1; then
		echo "namespace hA reached the host's loopback" >&2
		return 1
	fi

	cleanup_all
	assert_clean
}

# The Docker DNAT path: a client in a namespace reaches a published port on
# the host side of its veth; iptables DNAT (not docker-proxy) carries it, so
# the container sees the client's real address.
test_harness_docker_dnat() {
	require_root || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out size host=198.51.100.1 nat_before nat_after
	netns_create web 198.51.100.1 198.51.100.2
	port=$(free_port 18080)
	container_run berth-test-web -p "$port:80" "$TEST_IMAGE" \
		httpd -f -vv -p 80 -h /www >/dev/null
	wait_tcp "$host" "$port" 30 web

	# One request measures the response size.
	out=$(netns_exec web "$CONNLOAD" --target "$host:$port" --connections 1 --timeout-s 10)
	size=$(jq .bytes_received <<<"$out")
	echo "response size: $size bytes"
	assert_eq "$TEST_RESPONSE_BYTES" "$size" "response size of GET / (TEST_RESPONSE_BYTES in tests/lib.sh)"

	nat_before=$(dnat_packets "$port")
	out=$(netns_exec web "$CONNLOAD" --target "$host:$port" --connections 200 \
		--concurrency 8 --timeout-s 60)
	echo "connload: $out"
	assert_eq 200 "$(jq .connections_ok <<<"$out")" "connections_ok"
	assert_eq 0 "$(jq .connections_failed <<<"$out")" "connections_failed"
	assert_eq $((200 * size)) "$(jq .bytes_received <<<"$out")" "bytes_received"
	nat_after=$(dnat_packets "$port")
	# Each connection's first packet goes through the nat table: 200 at least.
	assert_ge $((nat_after - nat_before)) 200 "packets through Docker's DNAT rule for $port"
	# The container saw the namespace's own address, not a proxy's.
	docker logs berth-test-web >"$BERTH_TEST_TMP/web.log" 2>&1
	assert_file_contains "$BERTH_TEST_TMP/web.log" '198\.51\.100\.2' "httpd log of berth-test-web"

	# IPv6 to the same published port: Docker 20.10 without ip6tables
	# serves it with docker-proxy listening on [::].
	out=$(netns_exec web "$CONNLOAD" --target "[${NS_HOST6[web]}]:$port" --connections 50 \
		--concurrency 4 --timeout-s 30)
	echo "connload IPv6: $out"
	assert_eq 50 "$(jq .connections_ok <<<"$out")" "IPv6 connections_ok"
	assert_eq $((50 * size)) "$(jq .bytes_received <<<"$out")" "IPv6 bytes_received"

	cleanup_all
	assert_clean
}

# The docker-proxy path: a port published on 127.0.0.1 only, reached from
# the host. Docker's nat rules skip 127.0.0.0/8, so docker-proxy relays it
# and the container sees the bridge gateway as the source.
test_harness_docker_loopback() {
	require_root || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local port out gw
	port=$(free_port 18090)
	container_run berth-test-lo -p "127.0.0.1:$port:80" "$TEST_IMAGE" \
		httpd -f -vv -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$port" 30
	pgrep -f "docker-proxy .*-host-ip 127.0.0.1 -host-port $port " >/dev/null || {
		echo "no docker-proxy for 127.0.0.1:$port (userland-proxy disabled?)" >&2
		return 1
	}

	out=$("$CONNLOAD" --target "127.0.0.1:$port" --connections 200 --concurrency 8 --timeout-s 60)
	echo "connload: $out"
	assert_eq 200 "$(jq .connections_ok <<<"$out")" "connections_ok"
	assert_eq $((200 * TEST_RESPONSE_BYTES)) "$(jq .bytes_received <<<"$out")" "bytes_received"
	gw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
	docker logs berth-test-lo >"$BERTH_TEST_TMP/lo.log" 2>&1
	assert_file_contains "$BERTH_TEST_TMP/lo.log" "${gw//./\\.}" "httpd log of berth-test-lo (source = gateway $gw)"
	# Published on loopback only: a client in a namespace cannot reach it
	# on the host side of its veth.
	netns_create lo 198.51.100.1 198.51.100.2
	if netns_exec lo "$CONNLOAD" --target "198.51.100.1:$port" --connections 1 \
		--timeout-s 3 >/dev/null 2>&1; then
		echo "port $port published on 127.0.0.1 answered on 198.51.100.1" >&2
		return 1
	fi

	cleanup_all
	assert_clean
}

# Packets counted by Docker's DNAT rule for host port $1.
dnat_packets() {
	iptables -t nat -L DOCKER -v -n -x 2>/dev/null |
		awk -v p="dpt:$1" '$0 ~ p && /DNAT/ {s += $1} END {print s + 0}'
}
