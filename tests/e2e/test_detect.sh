# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The detectors on real traffic: clients in their own network namespaces,
# a real container, berth's real programs, a policy file.

# Two clients: "in" (198.51.100.2, inside the rule's allowlist) and "out"
# (198.51.100.18, outside it), each on its own /28; a container publishing
# port 80 on every interface. Sets DET_PORT.
_detect_setup() {
	ensure_test_image
	netns_create dIn 198.51.100.1 198.51.100.2 28
	netns_create dOut 198.51.100.17 198.51.100.18 28
	DET_PORT=$(free_port 18700)
	container_run berth-test-det -p "$DET_PORT:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 198.51.100.1 "$DET_PORT" 20 dIn
	wait_tcp 198.51.100.17 "$DET_PORT" 20 dOut
}

_detect_policy() { # FILE
	cat >"$1" <<YAML
rules:
  - name: web-from-office
    container: "berth-test-det*"
    port: 80/tcp
    allow: [198.51.100.0/28]
detect:
  brute_force: {connections: 50, window: 10s}
  suppress: 60s
YAML
}

# An allowed source connects without an alert; one outside the allowlist
# raises unauthorized-source once (suppressed after), with its true address,
# the rule, the container and the published port.
test_detect_unauthorized_source() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid sel='.event.kind == "alert" and .event.action == "unauthorized-source"'
	_detect_setup
	_detect_policy "$cfg"
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1

	netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 10 --timeout-s 20 >/dev/null
	netns_exec dOut "$CONNLOAD" --target "198.51.100.17:$DET_PORT" --connections 3 --timeout-s 20 >/dev/null
	wait_for_json "$out" "$sel" 1 10
	sleep 1.5
	stop_process "$berth_pid"

	assert_eq 1 "$(jq_count "$out" "$sel")" "unauthorized-source alerts (one, then suppressed)"
	assert_eq '"198.51.100.18"' "$(jq_first "$out" "$sel" .source.ip)" "source"
	assert_eq '"web-from-office"' "$(jq_first "$out" "$sel" .rule.name)" "rule"
	assert_eq '"berth-test-det"' "$(jq_first "$out" "$sel" .container.name)" "container"
	assert_eq "$DET_PORT" "$(jq_first "$out" "$sel" .berth.port.host_port)" "published port"
	assert_eq 80 "$(jq_first "$out" "$sel" .destination.port)" "container port"
	assert_ge "$(jq_first "$out" "$sel" .event.severity)" 1 "severity"
	assert_eq 0 "$(jq_count "$out" "$sel and .source.ip == \"198.51.100.2\"")" "alerts for the allowed source"
	assert_eq 0 "$(jq_count "$out" '.event.kind == "alert" and .event.action != "unauthorized-source"')" \
		"other alerts"
}

# 200 short connections in 5 s from one source raise brute-force, once.
test_detect_brute_force() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid r sel='.event.kind == "alert" and .event.action == "brute-force"'
	_detect_setup
	_detect_policy "$cfg"
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1

	r=$(netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 200 \
		--concurrency 8 --timeout-s 5)
	assert_eq 200 "$(jq .connections_ok <<<"$r")" "connections made within 5 s ($r)"
	wait_for_json "$out" "$sel" 1 10
	stop_process "$berth_pid"

	assert_eq 1 "$(jq_count "$out" "$sel")" "brute-force alerts"
	assert_eq '"198.51.100.2"' "$(jq_first "$out" "$sel" .source.ip)" "source"
	assert_eq 50 "$(jq_first "$out" "$sel" .berth.alert.count)" "count when it fired"
	assert_eq 10000 "$(jq_first "$out" "$sel" .berth.alert.window_ms)" "window"
	assert_eq '"web-from-office"' "$(jq_first "$out" "$sel" .rule.name)" "rule"
	assert_eq 0 "$(jq_count "$out" '.event.kind == "alert" and .event.action == "unauthorized-source"')" \
		"unauthorized alerts for an allowed source"
}

# Two minutes of ordinary traffic from allowed sources (a few connections a
# second; BERTH_QUIET_S sets the seconds, default 120) raise no alert at all.
test_detect_quiet_on_ordinary_traffic() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid seconds=${BERTH_QUIET_S:-120} i
	_detect_setup
	_detect_policy "$cfg"
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1
	for ((i = 0; i < seconds; i++)); do
		netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 3 --timeout-s 5 >/dev/null
		sleep 1
	done
	stop_process "$berth_pid"
	assert_ge "$(jq_count "$out" '.event.action == "connection-accepted" and .container.name == "berth-test-det"')" \
		"$((3 * seconds))" "ordinary connections seen"
	assert_eq 0 "$(jq_count "$out" '.event.kind == "alert"')" "alerts"
}

# The interface view: XDP on the clients' veths sees the true source of
# every SYN, before DNAT, including scans that never complete a handshake.
_detect_xdp_policy() { # FILE ENFORCE
	cat >"$1" <<YAML
interfaces: [bth-dIn, bth-dOut]
rules:
  - name: web-from-office
    container: "berth-test-det*"
    port: 80/tcp
    allow: [198.51.100.0/28]
    enforce: $2
detect:
  port_scan: {ports: 10, window: 10s}
YAML
}

# nmap's SYN scan and connect scan each raise port-scan for their source
# within 5 s (the SYN scan never completes a handshake: only XDP sees it).
test_detect_port_scan_nmap() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	command -v nmap >/dev/null || skip_because "nmap not installed (scripts/install-deps)" || return
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid start sel='.event.kind == "alert" and .event.action == "port-scan"'
	_detect_setup
	_detect_xdp_policy "$cfg" false
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1
	grep -q "XDP on bth-dOut" "$err"

	# A SYN scan of 100 ports from "out", bounded in time.
	start=$SECONDS
	netns_exec dOut timeout 30 nmap -sS -Pn -n -p 1-100 --max-retries 0 -T4 198.51.100.17 >/dev/null
	wait_for_json "$out" "$sel and .source.ip == \"198.51.100.18\"" 1 5
	assert_le $((SECONDS - start)) 35 "scan and alert time"
	assert_ge "$(jq_first "$out" "$sel" .berth.alert.count)" 10 "ports counted"
	assert_eq '"interface"' "$(jq_first "$out" "$sel" .berth.view)" "view"

	# A connect scan from "in", allowed to connect but not to scan.
	netns_exec dIn timeout 30 nmap -sT -Pn -n -p 1-100 --max-retries 0 -T4 198.51.100.1 >/dev/null
	wait_for_json "$out" "$sel and .source.ip == \"198.51.100.2\"" 1 5
	stop_process "$berth_pid"
	assert_eq 2 "$(jq_count "$out" "$sel")" "port-scan alerts, one per source"
}

# enforce: XDP drops the SYNs of a source outside the allowlist (counted,
# and an alert that says so) while an allowed source still connects.
test_detect_enforce_drops_disallowed() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid r sel='.event.kind == "alert" and .event.action == "unauthorized-source"'
	_detect_setup
	_detect_xdp_policy "$cfg" true
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1

	r=$(netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 20 --timeout-s 20)
	assert_eq 20 "$(jq .connections_ok <<<"$r")" "allowed source's connections ($r)"
	r=$(netns_exec dOut "$CONNLOAD" --target "198.51.100.17:$DET_PORT" --connections 3 \
		--conn-timeout-s 2 --timeout-s 20 || true)
	assert_eq 0 "$(jq '.connections_ok // 0' <<<"$r")" "disallowed source's connections ($r)"
	wait_for_json "$out" "$sel and .berth.view == \"interface\"" 1 10
	sleep 1.5
	stop_process "$berth_pid"

	assert_eq '"198.51.100.18"' "$(jq_first "$out" "$sel and .berth.view == \"interface\"" .source.ip)" "source"
	assert_eq true "$(jq_first "$out" "$sel and .berth.view == \"interface\"" .berth.alert.dropped)" "dropped"
	assert_eq '"berth-test-det"' "$(jq_first "$out" "$sel and .berth.view == \"interface\"" .container.name)" "container"
	assert_eq "$DET_PORT" "$(jq_first "$out" "$sel and .berth.view == \"interface\"" .destination.port)" "host port"
	# Every dropped SYN is counted, on the interface records of that port.
	assert_ge "$(jq_sum "$out" ".event.action == \"port-stats\" and .berth.view == \"interface\" and .destination.port == $DET_PORT" .berth.stats.interval.syns_dropped)" \
		3 "dropped SYNs counted"
	assert_eq 0 "$(jq_count "$out" "$sel and .source.ip == \"198.51.100.2\"")" "alerts for the allowed source"
	assert_eq 0 "$(jq_count "$out" '.event.action == "connection-accepted" and .source.ip == "198.51.100.18"')" \
		"connections of the dropped source"
}

# A steady low rate teaches a port's baseline; a jump well above it raises
# rate-spike, once, with the rate and the baseline.
test_detect_rate_spike() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid i sel='.event.kind == "alert" and .event.action == "rate-spike"'
	_detect_setup
	cat >"$cfg" <<YAML
detect:
  brute_force: {enabled: false}
  rate_spike: {factor: 4, min_rate: 10/s, learn: 8s}
YAML
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1
	for ((i = 0; i < 12; i++)); do
		netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 2 --timeout-s 5 >/dev/null
		sleep 1
	done
	assert_eq 0 "$(jq_count "$out" "$sel")" "alerts during the steady rate"
	netns_exec dIn "$CONNLOAD" --target "198.51.100.1:$DET_PORT" --connections 400 --concurrency 8 \
		--duration-s 4 --timeout-s 15 >/dev/null
	wait_for_json "$out" "$sel" 1 5
	stop_process "$berth_pid"
	assert_eq '"berth-test-det"' "$(jq_first "$out" "$sel" .container.name)" "container"
	assert_eq "$DET_PORT" "$(jq_first "$out" "$sel" .berth.port.host_port)" "published port"
	assert_ge "$(jq_first "$out" "$sel" '.berth.alert.rate_per_s | floor')" 10 "rate"
	assert_le "$(jq_first "$out" "$sel" '.berth.alert.baseline_per_s | ceil')" 4 "baseline"
}

# Failed handshakes count as brute force too: SYNs to a published port
# nothing listens behind (the container resets each one), seen by XDP.
test_detect_brute_force_failed_handshakes() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	ensure_docker || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid dead_port r sel='.event.kind == "alert" and .event.action == "brute-force"'
	ensure_test_image
	netns_create dBf 198.51.100.1 198.51.100.2
	dead_port=$(free_port 18760)
	container_run berth-test-detdead -p "$dead_port:81" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	cat >"$cfg" <<YAML
interfaces: [bth-dBf]
detect:
  brute_force: {connections: 50, window: 10s}
YAML
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1
	r=$(netns_exec dBf "$CONNLOAD" --target "198.51.100.1:$dead_port" --connections 80 \
		--concurrency 4 --conn-timeout-s 1 --timeout-s 20 || true)
	assert_eq 0 "$(jq '.connections_ok // 0' <<<"$r")" "handshakes completed ($r)"
	wait_for_json "$out" "$sel" 1 10
	stop_process "$berth_pid"
	assert_eq 1 "$(jq_count "$out" "$sel")" "brute-force alerts"
	assert_eq '"interface"' "$(jq_first "$out" "$sel" .berth.view)" "view"
	assert_eq '"198.51.100.2"' "$(jq_first "$out" "$sel" .source.ip)" "source"
	assert_eq "$dead_port" "$(jq_first "$out" "$sel" .destination.port)" "host port"
	assert_eq '"berth-test-detdead"' "$(jq_first "$out" "$sel" .container.name)" "container"
}
