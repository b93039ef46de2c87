# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The policy file: validation (--check-config) and reload on SIGHUP.

_write_policy() { # FILE RULE_NAME PORT
	cat >"$1" <<YAML
profile: production
rules:
  - name: $2
    container: "web*"
    port: $3/tcp
    allow: [198.51.100.0/25, "2001:db8::/32"]
    max_rate: 20/s
detect:
  port_scan: {ports: 10, window: 10s}
YAML
}

# --check-config: 0 and a summary for a good file; 2 and file:line:column for
# a bad one; nothing is loaded either way (works without root).
test_policy_check_config() {
	require_berth || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out rc
	_write_policy "$cfg" admin 80
	out=$("$BERTH_BIN" watch --config "$cfg" --check-config 2>&1)
	assert_eq "$cfg: ok: production profile, 1 rules, 0 interfaces" "$out" "good file"

	_write_policy "$cfg" admin 80000
	rc=0
	out=$("$BERTH_BIN" watch --config "$cfg" --check-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit status for a bad file"
	assert_eq "berth: error: $cfg:5:11: port: expected a port like 80, 80/tcp or 53/udp (1 to 65535), got '80000/tcp'" \
		"$out" "message"

	rc=0
	out=$("$BERTH_BIN" watch --config "$BERTH_TEST_TMP/missing.yaml" --check-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit status for a missing file"
	assert_contains "$out" "missing.yaml: No such file or directory" "missing file"

	rc=0
	"$BERTH_BIN" watch --check-config >/dev/null 2>&1 || rc=$?
	assert_eq 2 "$rc" "--check-config without --config"
}

# SIGHUP reloads the file: a bad one is refused, the running policy stays,
# and a record says why; a good one replaces it, and a record says so.
test_policy_reload_on_sighup() {
	require_root || return $?
	require_berth || return $?
	local cfg=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid
	_write_policy "$cfg" admin 80
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1

	printf 'rules:\n  - name: [oops]\n' >"$cfg"
	kill -HUP "$berth_pid"
	wait_for_json "$out" '.event.action == "config-reload"' 1 10
	assert_eq '"failure"' "$(jq_first "$out" '.event.action == "config-reload"' .event.outcome)" "outcome"
	assert_eq "\"$cfg:2:11: name: expected a single value, got a list\"" \
		"$(jq_first "$out" '.event.action == "config-reload"' .error.message)" "error"
	assert_eq 1 "$(jq_first "$out" '.event.action == "config-reload"' .berth.config.rules)" "rules kept"
	kill -0 "$berth_pid"

	_write_policy "$cfg" admin 80
	cat >>"$cfg" <<YAML
  brute_force: {connections: 20, window: 5s}
YAML
	sed -i 's/^rules:$/rules:\n  - {name: second, image: "nginx*"}/' "$cfg"
	kill -HUP "$berth_pid"
	wait_for_json "$out" '.event.action == "config-reload" and .event.outcome == "success"' 1 10
	assert_eq 2 "$(jq_first "$out" '.event.action == "config-reload" and .event.outcome == "success"' .berth.config.rules)" \
		"rules after the reload"
	stop_process "$berth_pid"
	assert_file_contains "$err" "policy reloaded from $cfg: 2 rules" "log line"
}
