# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of the outputs with the real `berth watch`: a file output
# rotating under sustained load keeps every record exactly once, and a
# stdout nobody reads neither blocks berth nor the other outputs, which are
# told exactly what it lost.

# Connections of the sustained load.
OUTPUTS_N=${BERTH_OUTPUTS_N:-3000}

_outputs_container() {
	ensure_docker || return $?
	ensure_test_image
	OUT_PORT=$(free_port 18380)
	container_run berth-test-out -p "127.0.0.1:$OUT_PORT:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$OUT_PORT" 20
}

# The records of a rotated file set, oldest file first.
_rotated_records() { # PATH KEEP
	local path=$1 keep=$2 k
	for ((k = keep; k >= 1; k--)); do
		[ -e "$path.$k" ] && cat "$path.$k"
	done
	cat "$path"
}

test_outputs_file_rotation_exactly_once() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	_outputs_container || return $?
	local out=$BERTH_TEST_TMP/stdout.json err=$BERTH_TEST_TMP/berth.err
	local file=$BERTH_TEST_TMP/events.json policy=$BERTH_TEST_TMP/berth.yaml berth_pid res n=$OUTPUTS_N
	cat >"$policy" <<EOF
outputs:
  - type: stdout
  - path: $file
    rotate: {size: 64KiB, keep: 1000}
    flush: 200ms
EOF
	start_berth berth_pid "$out" "$err" watch --config "$policy" --interval 1
	res=$(connload --target "127.0.0.1:$OUT_PORT" --connections "$n" --concurrency 16 --timeout-s 120)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"
	wait_for_json "$out" '.event.action=="connection-closed" and .container.name=="berth-test-out"' "$n" 60
	local rc=0
	stop_process "$berth_pid" || rc=$?
	[ "$rc" -eq 0 ] || {
		echo "berth exited $rc" >&2
		cat "$err" >&2
		return 1
	}

	local files
	files=$(find "$BERTH_TEST_TMP" -name 'events.json*' | wc -l)
	assert_ge "$files" 10 "files the load rotated through"
	# No file beyond its bound, none with half a record.
	local f
	for f in "$file" "$file".*; do
		assert_le "$(stat -c %s "$f")" 65536 "size of $f"
		[ ! -s "$f" ] || assert_eq "" "$(tail -c 1 "$f" | tr -d '\n')" "last byte of $f"
	done
	_rotated_records "$file" 1000 >"$BERTH_TEST_TMP/all.json"
	assert_eq 0 "$(jq_invalid_lines "$BERTH_TEST_TMP/all.json")" "lines that are not JSON"
	# Every record stdout got, exactly once and in the same order, in the
	# rotated files read oldest first; nothing else.
	assert_eq "$(wc -l <"$out")" "$(wc -l <"$BERTH_TEST_TMP/all.json")" "records in stdout and in the files"
	cmp -s "$out" "$BERTH_TEST_TMP/all.json" || {
		diff "$out" "$BERTH_TEST_TMP/all.json" | head -5 >&2
		return 1
	}
	assert_eq "$n" "$(jq_count "$BERTH_TEST_TMP/all.json" '.event.action=="connection-accepted" and .container.name=="berth-test-out"')" \
		"connection-accepted records across the files"
}

# stdout into a pipe whose reader is stopped: berth goes on, the file output
# gets everything, and the records stdout could not take are counted exactly.
test_outputs_stalled_stdout_blocks_nothing() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	_outputs_container || return $?
	local fifo=$BERTH_TEST_TMP/stdout.fifo got=$BERTH_TEST_TMP/stdout.json err=$BERTH_TEST_TMP/berth.err
	local file=$BERTH_TEST_TMP/events.json policy=$BERTH_TEST_TMP/berth.yaml berth_pid reader res n=400
	cat >"$policy" <<EOF
outputs:
  - type: stdout
    queue: {events: 50}
  - path: $file
    flush: immediate
EOF
	mkfifo "$fifo"
	start_bg reader "$got" cat "$fifo"
	: >"$err"
	"$BERTH_BIN" watch --config "$policy" --interval 1 >"$fifo" 2>"$err" 9>&- &
	berth_pid=$!
	register_cleanup _kill_pid "$berth_pid"
	wait_for_line "$err" 'ready' 30 "$berth_pid"
	# A pipe holds 64 KiB: stop reading and let it fill.
	kill -STOP "$reader"
	res=$(connload --target "127.0.0.1:$OUT_PORT" --connections "$n" --concurrency 8 --timeout-s 60)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"
	# The file keeps up while stdout is stuck, and is told of stdout's loss.
	wait_for_json "$file" '.event.action=="connection-closed" and .container.name=="berth-test-out"' "$n" 30
	wait_for_json "$file" '.event.action=="events-lost" and .berth.lost.sink=="stdout" and .berth.lost.cause=="sink-queue-full"' 1 15
	kill -CONT "$reader"
	sleep 1
	local rc=0
	stop_process "$berth_pid" || rc=$?
	[ "$rc" -eq 0 ] || {
		echo "berth exited $rc" >&2
		cat "$err" >&2
		return 1
	}
	wait "$reader" 2>/dev/null || true

	local lost file_records got_records
	lost=$(jq_sum "$file" '.event.action=="events-lost" and .berth.lost.sink=="stdout"' '.berth.lost.count')
	assert_ge "$lost" 1 "records stdout lost"
	# What stdout got plus what it lost is what the file got (less the loss records, which are not for stdout).
	file_records=$(jq_count "$file" '(.event.action=="events-lost" and .berth.lost.sink=="stdout") | not')
	got_records=$(wc -l <"$got")
	assert_eq "$file_records" "$((got_records + lost))" "stdout records + lost (got $got_records, lost $lost)"
	assert_eq 0 "$(jq_count "$got" '.event.action=="events-lost" and .berth.lost.sink=="stdout"')" \
		"loss records of stdout in stdout"
	grep -q "output stdout lost" "$err"
}

# Bad outputs are usage or configuration errors: exit 2, one line naming the
# flag, file or output at fault, nothing loaded and nothing on stdout.
test_outputs_bad_configuration() {
	require_root || return $?
	require_berth || return $?
	local policy=$BERTH_TEST_TMP/berth.yaml key=$BERTH_TEST_TMP/short.key
	printf 'outputs:\n  - {address: "udp://127.0.0.1:514", rotate: {keep: 2}}\n' >"$policy"
	printf 'short\n' >"$key"
	local -a cases=(
		"--output: output 'events.json': not a target|watch --output events.json"
		"--output: output 'tcp://host': expected tcp://HOST:PORT|watch --output tcp://host"
		"--format: expected ecs, ocsf, rfc5424 or cef, got 'xml'|watch --format xml"
		"output file:$BERTH_TEST_TMP/no/such/dir: cannot open $BERTH_TEST_TMP/no/such/dir: No such file or directory|watch --output file:$BERTH_TEST_TMP/no/such/dir"
		"pseudonym key $key: 5 bytes, expected 16 to 64|watch --pseudonymize --pseudonym-key $key"
		"$policy:2:5: output 'udp://127.0.0.1:514': rotate does not apply to a syslog output|watch --config $policy"
	)
	local c want args rc out=$BERTH_TEST_TMP/out err=$BERTH_TEST_TMP/err
	for c in "${cases[@]}"; do
		want=${c%%|*}
		args=${c#*|}
		rc=0
		# shellcheck disable=SC2086 # the arguments are words
		timeout 30 "$BERTH_BIN" $args >"$out" 2>"$err" || rc=$?
		assert_eq 2 "$rc" "exit status of berth $args" || { cat "$err" >&2; return 1; }
		assert_eq 1 "$(grep -vc '^Try `berth' "$err")" "error lines of berth $args" || { cat "$err" >&2; return 1; }
		grep -qF -- "$want" "$err" || {
			echo "berth $args: wanted '$want' in:" >&2
			cat "$err" >&2
			return 1
		}
		assert_eq 0 "$(wc -c <"$out" | tr -d ' ')" "stdout bytes of berth $args"
	done
	# Nothing was left attached by the ones that got as far as loading.
	assert_eq 0 "$(bpftool prog show 2>/dev/null | grep -c 'name count_xdp\|name sockops')" "berth programs left"
}
