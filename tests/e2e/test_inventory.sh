# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of the container inventory against a real dockerd:
# containers started, renamed, restarted and stopped while berth runs, the
# shapes of published ports, dockerd going away and coming back, and churn.

# Bounded client: one HTTP GET, true when it got an answer.
_get_once() { # ADDR PORT
	local target="$1:$2"
	[[ "$1" == *:* ]] && target="[$1]:$2"
	"$CONNLOAD" --target "$target" --connections 1 --timeout-s 2 --conn-timeout-s 1 >/dev/null 2>&1
}

# _get_until_ok ADDR PORT TIMEOUT_S: retries _get_once (a fresh container's
# httpd takes a moment) and prints how many tries it took.
_get_until_ok() {
	local tries=0 deadline=$((SECONDS + $3))
	while :; do
		tries=$((tries + 1))
		_get_once "$1" "$2" && {
			echo "$tries"
			return 0
		}
		[ $SECONDS -ge $deadline ] && {
			echo "_get_until_ok: $1:$2 did not answer in $3 s" >&2
			return 1
		}
		sleep 0.05
	done
}

# A container started, renamed, restarted and stopped while berth runs is
# named from its first connection on, under its new name after a rename,
# under the same name after a restart (which gives it a new cgroup), and its
# start and stop are records of their own.
test_inventory_container_life() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid port id
	local accepted='.event.action == "connection-accepted"'

	port=$(free_port 18300)
	start_berth berth_pid "$out" "$err" watch --interval 1
	container_run berth-test-life -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id=$(docker inspect -f "{{.Id}}" berth-test-life)
	_get_until_ok 127.0.0.1 "$port" 20 >/dev/null
	wait_for_json "$out" "$accepted and .container.id == \"$id\"" 1 10

	# Every connection of the container is named, the first one too.
	assert_eq 0 "$(jq_count "$out" "$accepted and .container.id == \"$id\" and .container.name != \"berth-test-life\"")" \
		"accepted records of $id without its name"
	assert_eq "$port" "$(jq_first "$out" "$accepted and .container.id == \"$id\"" .berth.port.host_port)" "binding"
	assert_eq '"berth-test/busybox"' "$(jq_first "$out" "$accepted and .container.id == \"$id\"" .container.image.name)" "image"
	wait_for_json "$out" ".event.action == \"container-started\" and .container.id == \"$id\"" 1 10
	assert_eq '"berth-test-life"' "$(jq_first "$out" ".event.action == \"container-started\"" .container.name)" "started name"
	assert_eq "$port" "$(jq_first "$out" ".event.action == \"container-started\"" '.berth.ports[0].host_port')" "started ports"
	assert_eq '"1"' "$(jq_first "$out" ".event.action == \"container-started\"" '.container.labels["berth_test"]')" \
		"labels (de-dotted)"

	docker rename berth-test-life berth-test-life2
	register_cleanup docker rm -f berth-test-life2
	sleep 0.5
	_get_until_ok 127.0.0.1 "$port" 10 >/dev/null
	wait_for_json "$out" "$accepted and .container.name == \"berth-test-life2\"" 1 10

	local cgroup_before cgroup_after
	cgroup_before=$(jq_first "$out" "$accepted and .container.name == \"berth-test-life2\"" .berth.cgroup_id)
	docker restart -t 1 berth-test-life2 >/dev/null
	_get_until_ok 127.0.0.1 "$port" 20 >/dev/null
	wait_for_json "$out" "$accepted and .container.id == \"$id\" and .berth.cgroup_id != $cgroup_before" 1 10
	cgroup_after=$(jq_first "$out" "$accepted and .container.id == \"$id\" and .berth.cgroup_id != $cgroup_before" .berth.cgroup_id)
	assert_ne "$cgroup_before" "$cgroup_after" "cgroup id after the restart"
	assert_eq '"berth-test-life2"' \
		"$(jq_first "$out" "$accepted and .berth.cgroup_id == $cgroup_after" .container.name)" \
		"name after the restart"
	assert_eq 1 "$(jq_count "$out" ".event.action == \"container-stopped\" and .container.id == \"$id\"")" \
		"stopped records after the restart"
	assert_eq 2 "$(jq_count "$out" ".event.action == \"container-started\" and .container.id == \"$id\"")" \
		"started records after the restart"

	docker rm -f berth-test-life2 >/dev/null
	wait_for_json "$out" ".event.action == \"container-stopped\" and .container.id == \"$id\"" 2 10
	assert_eq '"berth-test-life2"' \
		"$(jq -R -c 'fromjson? | select(.event.action == "container-stopped") | .container.name' "$out" | tail -n 1)" \
		"stopped name"
	stop_process "$berth_pid"
	assert_eq 0 "$(jq_invalid_lines "$out")" "invalid lines"
	assert_eq 0 "$(jq_count "$out" '.event.action == "events-lost"')" "events lost"
}

# Published ports in every shape: IPv4 and IPv6 bindings of one port, a
# loopback-only one, a range, UDP, and several host ports for one container
# port. The container-started record lists them all, and traffic on a range
# port and on the IPv6 binding is joined to the right binding.
test_inventory_port_shapes() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid id base ports
	local accepted='.event.action == "connection-accepted"'

	base=$(free_port 18400)
	for p in $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)); do
		port_free "$p" || skip_because "port $p is taken" || return
	done
	start_berth berth_pid "$out" "$err" watch --interval 1
	# Two httpds: 80, and 8001 (the middle of the range).
	container_run berth-test-ports \
		-p "$base:80" -p "[::1]:$((base + 1)):80" -p "127.0.0.1:$((base + 2)):80" \
		-p "$((base + 3))-$((base + 5)):8000-8002" -p "$base:53/udp" \
		"$TEST_IMAGE" sh -c 'httpd -p 8001 -h /www; exec httpd -f -p 80 -h /www' >/dev/null
	id=$(docker inspect -f "{{.Id}}" berth-test-ports)
	wait_for_json "$out" ".event.action == \"container-started\" and .container.id == \"$id\"" 1 10
	ports=$(jq_first "$out" ".event.action == \"container-started\"" \
		'[.berth.ports[] | "\(.host_ip)|\(.host_port)|\(.container_port)|\(.protocol)"] | sort | join(" ")')
	for want in "0.0.0.0|$base|80|tcp" "::1|$((base + 1))|80|tcp" "127.0.0.1|$((base + 2))|80|tcp" \
		"0.0.0.0|$((base + 3))|8000|tcp" "0.0.0.0|$((base + 4))|8001|tcp" \
		"0.0.0.0|$((base + 5))|8002|tcp" "0.0.0.0|$base|53|udp"; do
		assert_contains "$ports" "$want" "published ports"
	done

	_get_until_ok 127.0.0.1 "$((base + 4))" 20 >/dev/null
	_get_until_ok ::1 "$((base + 1))" 20 >/dev/null
	wait_for_json "$out" "$accepted and .container.id == \"$id\" and .destination.port == 8001" 1 10
	assert_eq 8001 "$(jq_first "$out" "$accepted and .destination.port == 8001" .berth.port.container_port)" "range binding"
	assert_eq "$((base + 4))" "$(jq_first "$out" "$accepted and .destination.port == 8001" .berth.port.host_port)" "range host port"
	# Port 80 has three bindings; the socket cannot tell which one a
	# connection came through (docker-proxy relays them all), so berth names
	# one of them, IPv4 first.
	wait_for_json "$out" "$accepted and .container.id == \"$id\" and .destination.port == 80" 1 10
	assert_eq 80 "$(jq_first "$out" "$accepted and .destination.port == 80" .berth.port.container_port)" "port 80 binding"
	stop_process "$berth_pid"
	assert_eq 0 "$(jq_invalid_lines "$out")" "invalid lines"
}

# dockerd goes away while berth runs: berth keeps running and reporting,
# reconnects once dockerd is back, resyncs, says so in one record, and names
# containers started afterwards.
test_inventory_dockerd_restart() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid port id dockerd_pid i

	port=$(free_port 18500)
	start_berth berth_pid "$out" "$err" watch --interval 1
	dockerd_pid=$(pgrep -x dockerd | head -n 1)
	[ -n "$dockerd_pid" ] || skip_because "dockerd is not a process here (managed elsewhere)" || return
	kill -TERM "$dockerd_pid"
	for ((i = 0; i < 200; i++)); do
		kill -0 "$dockerd_pid" 2>/dev/null || break
		sleep 0.1
	done
	wait_for_line "$err" 'docker API at .* lost' 10 "$berth_pid"
	# berth keeps going without dockerd: counters keep coming.
	local stats_before
	stats_before=$(wc -l <"$out")
	sleep 2.5
	kill -0 "$berth_pid"
	ensure_docker
	wait_for_json "$out" '.event.action == "runtime-reconnected"' 1 40
	assert_eq 1 "$(jq_count "$out" '.event.action == "runtime-reconnected"')" "reconnected records"
	assert_eq '"docker"' "$(jq_first "$out" '.event.action == "runtime-reconnected"' .berth.runtime.name)" "runtime"
	assert_ge "$(jq_first "$out" '.event.action == "runtime-reconnected"' .berth.runtime.down_ms)" 1000 "down_ms"
	[ "$(wc -l <"$out")" -ge "$stats_before" ]

	# The new event stream works: a container started now is announced and named.
	container_run berth-test-after -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	id=$(docker inspect -f "{{.Id}}" berth-test-after)
	wait_for_json "$out" ".event.action == \"container-started\" and .container.id == \"$id\"" 1 15
	_get_until_ok 127.0.0.1 "$port" 20 >/dev/null
	wait_for_json "$out" ".event.action == \"connection-accepted\" and .container.name == \"berth-test-after\"" 1 10
	stop_process "$berth_pid"
	assert_eq 0 "$(jq_invalid_lines "$out")" "invalid lines"
}

# The size of berth's inventory and port counters, from its debug line.
_inventory_sizes() { # ERR_FILE
	grep 'debug: inventory:' "$1" | tail -n 1 | sed -E 's/.*inventory: ([0-9]+) containers, ([0-9]+) cgroups, ([0-9]+) port counters.*/\1 \2 \3/'
}

# Entries of berth's maps keyed by cgroup: "port_traffic bound_ports cgroup_names".
_cgroup_map_entries() {
	local m counts=""
	for m in port_traffic bound_ports cgroup_names; do
		counts+="$m=$(bpftool map dump name "$m" -j 2>/dev/null | jq length) "
	done
	echo "${counts% }"
}

# 200 containers started, connected to and removed at once, one after
# another (two at a time): every connection is named, even those of
# containers removed before berth could walk cgroupfs; afterwards the inventory, berth's port counters and the
# kernel's port map are back to the size they had before.
test_inventory_churn() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	ensure_test_image
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid
	local cycles=${BERTH_CHURN_CYCLES:-200} before after map_before map_after lane

	_churn_lane() { # LANE CYCLES
		local i id ip
		for ((i = 0; i < $2; i++)); do
			id=$(docker run -d --name "berth-test-churn$1" --label "$TEST_LABEL=1" \
				"$TEST_IMAGE" httpd -f -p 80 -h /www) || return 1
			ip=$(container_ip "berth-test-churn$1")
			_get_until_ok "$ip" 80 10 >/dev/null || return 1
			docker rm -f "berth-test-churn$1" >/dev/null || return 1
		done
	}
	register_cleanup docker rm -f berth-test-churn0 berth-test-churn1
	start_berth berth_pid "$out" "$err" watch --interval 1 -v
	# One warm-up cycle, so that the client's own cgroup and port are known
	# before the baseline; then three intervals for it to expire.
	_churn_lane 0 1
	sleep 5
	before=$(_inventory_sizes "$err")
	map_before=$(_cgroup_map_entries)
	[ -n "$before" ] || die "no inventory debug line in $err"
	local skip_lines
	skip_lines=$(wc -l <"$out")

	_churn_lane 0 $((cycles / 2)) &
	lane=$!
	_churn_lane 1 $((cycles - cycles / 2))
	wait "$lane"
	# The last records may still be on their way (ring buffer drain, held
	# events): the stream is complete once the last stop is in.
	wait_for_json "$out" '.event.action == "container-stopped" and (.container.name | startswith("berth-test-churn"))' \
		"$cycles" 20 || true
	sleep 1
	tail -n +"$((skip_lines + 1))" "$out" >"$out.churn"
	out=$out.churn

	assert_eq "$cycles" "$(jq_count "$out" '.event.action == "container-started" and (.container.name | startswith("berth-test-churn"))')" \
		"container-started records"
	assert_eq "$cycles" "$(jq_count "$out" '.event.action == "container-stopped" and (.container.name | startswith("berth-test-churn"))')" \
		"container-stopped records"
	assert_eq 0 "$(jq_count "$out" '.event.action == "connection-accepted" and .container.id and (.container.name | not)')" \
		"connections of a container without its name"
	local named
	named=$(jq_count "$out" '.event.action == "connection-accepted" and (.container.name // "" | startswith("berth-test-churn"))')
	assert_ge "$named" "$cycles" "named connections"

	# Stopped containers expire after three intervals; gone cgroups at the next report.
	sleep 5
	tail -n +"$((skip_lines + 1))" "$BERTH_TEST_TMP/watch.json" >"$out"
	after=$(_inventory_sizes "$err")
	map_after=$(_cgroup_map_entries)
	log "inventory sizes before: $before, after: $after; maps $map_before -> $map_after"
	assert_eq "$before" "$after" "inventory containers, cgroups, port counters"
	assert_eq "$map_before" "$map_after" "kernel map entries"
	stop_process "$berth_pid"
}
