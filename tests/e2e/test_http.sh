# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of the HTTP output with the real `berth watch`: an
# Elasticsearch-shaped receiver (tests/tools/http_receiver.py) is stopped
# in the middle of a connection load and started again on the same port.
# With room in the spool, every connection-accepted record reaches it
# exactly once; with a spool too small, what it received plus what berth
# reported lost (events-lost, cause sink-spool-full, on stdout) is exactly
# what berth sent.

HTTP_RECEIVER=${HTTP_RECEIVER:-$BERTH_ROOT/tests/tools/http_receiver.py}
# Connections of the load, and how many of them before the receiver stops.
HTTP_N=${BERTH_HTTP_N:-600}
HTTP_N_BEFORE=${BERTH_HTTP_N_BEFORE:-100}

_http_container() {
	ensure_docker || return $?
	ensure_test_image
	HTTP_WEB_PORT=$(free_port 18480)
	container_run berth-test-http -p "127.0.0.1:$HTTP_WEB_PORT:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$HTTP_WEB_PORT" 20
}

# _http_receiver_start [ARG...]: the receiver on $HTTP_RCV_PORT, records
# appended to $HTTP_RCV_OUT, with more arguments ARG; its pid in
# HTTP_RCV_PID once it listens.
_http_receiver_start() {
	local portfile=$BERTH_TEST_TMP/receiver.port deadline
	rm -f "$portfile"
	start_bg HTTP_RCV_PID "$BERTH_TEST_TMP/receiver.err" python3 "$HTTP_RECEIVER" \
		--port "$HTTP_RCV_PORT" --port-file "$portfile" --out "$HTTP_RCV_OUT" \
		--log "$BERTH_TEST_TMP/receiver.log" "$@"
	deadline=$((SECONDS + 20))
	until [ -s "$portfile" ]; do
		if ! kill -0 "$HTTP_RCV_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "the receiver did not start:" >&2
			cat "$BERTH_TEST_TMP/receiver.err" >&2
			return 1
		fi
		sleep 0.1
	done
}

# _http_receiver_stop: SIGTERM (it answers what it read, then exits) and wait.
_http_receiver_stop() {
	stop_process "$HTTP_RCV_PID" || true
	if ! port_free "$HTTP_RCV_PORT"; then
		echo "the receiver's port $HTTP_RCV_PORT is still taken" >&2
		return 1
	fi
}

# _http_raw_lines FILE FILTER: the lines of FILE that FILTER selects, byte for byte.
_http_raw_lines() {
	jq -R -r "select((fromjson? // {}) | $2)" "$1"
}

# _http_policy FILE SPOOL_DIR SPOOL_BYTES: stdout for everything, and the
# HTTP output for connection-accepted records only.
_http_policy() {
	cat >"$1" <<EOF
outputs:
  - type: stdout
  - name: siem
    url: "http://127.0.0.1:$HTTP_RCV_PORT/_bulk"
    shape: elasticsearch
    actions: [connection-accepted]
    batch: {events: 50, interval: 200ms}
    retry: {min: 100ms, max: 400ms}
    timeout: 5s
    spool: {dir: "$2", max_bytes: $3}
EOF
}

# _http_paced_load N: N connections to the test container in bursts of 10,
# a tenth of a second apart, so that the load lasts while the receiver
# stops; prints how many succeeded.
_http_paced_load() {
	local n=$1 done_n=0 ok=0 burst res
	while [ "$done_n" -lt "$n" ]; do
		burst=$((n - done_n < 10 ? n - done_n : 10))
		res=$(connload --target "127.0.0.1:$HTTP_WEB_PORT" --connections "$burst" \
			--concurrency 4 --timeout-s 30) || true
		ok=$((ok + $(jq '.connections_ok // 0' <<<"$res")))
		done_n=$((done_n + burst))
		sleep 0.1
	done
	echo "$ok"
}

# _http_run_load SPOOL_BYTES: HTTP_N connections in three parts: the first
# HTTP_N_BEFORE with the receiver up (all received); the receiver stopped
# while the second part (HTTP_N_DOWN) is under way; started again, and the
# rest while the spool drains. Leaves berth running (pid in HTTP_BERTH_PID),
# its stdout in $HTTP_OUT.
_http_run_load() {
	local bytes=$1 policy=$BERTH_TEST_TMP/berth.yaml load res
	local n_down=$(((HTTP_N - HTTP_N_BEFORE) * 2 / 3))
	HTTP_N_AFTER=$((HTTP_N - HTTP_N_BEFORE - n_down))
	local accepted='.event.action=="connection-accepted" and .container.name=="berth-test-http"'
	HTTP_OUT=$BERTH_TEST_TMP/stdout.json
	HTTP_ERR=$BERTH_TEST_TMP/berth.err
	HTTP_RCV_OUT=$BERTH_TEST_TMP/received.json
	HTTP_RCV_PORT=$(free_port 18500)
	HTTP_SPOOL=$BERTH_TEST_TMP/spool
	: >"$HTTP_RCV_OUT"
	_http_policy "$policy" "$HTTP_SPOOL" "$bytes"
	_http_receiver_start
	start_berth HTTP_BERTH_PID "$HTTP_OUT" "$HTTP_ERR" watch --config "$policy" --interval 1

	res=$(connload --target "127.0.0.1:$HTTP_WEB_PORT" --connections "$HTTP_N_BEFORE" \
		--concurrency 4 --timeout-s 60)
	assert_eq "$HTTP_N_BEFORE" "$(jq .connections_ok <<<"$res")" "client connections, first part ($res)"
	wait_for_json "$HTTP_RCV_OUT" "$accepted" "$HTTP_N_BEFORE" 60

	# The receiver goes away while records are coming.
	_http_paced_load "$n_down" >"$BERTH_TEST_TMP/load.ok" &
	load=$!
	register_cleanup _kill_pid "$load"
	wait_for_json "$HTTP_OUT" "$accepted" "$((HTTP_N_BEFORE + 10))" 60
	_http_receiver_stop
	log "receiver stopped after $(jq_count "$HTTP_RCV_OUT" "$accepted") records"
	wait "$load"
	assert_eq "$n_down" "$(cat "$BERTH_TEST_TMP/load.ok")" "client connections, second part"
	wait_for_json "$HTTP_OUT" "$accepted" "$((HTTP_N_BEFORE + n_down))" 60
	# Meanwhile the records wait in the spool, within its bound.
	assert_ge "$(find "$HTTP_SPOOL" -name '*.seg' | wc -l)" 1 "spool segments while the receiver is down"
	assert_le "$(find "$HTTP_SPOOL" -name '*.seg' -printf '%s\n' | awk '{s += $1} END {print s + 0}')" \
		"$bytes" "bytes in the spool"
	grep -q "siem: .*retrying with backoff, records go to the spool" "$HTTP_ERR"

	# Back (berth's next attempt finds it): the spool drains while new records come.
	_http_receiver_start
	wait_for_line "$HTTP_ERR" 'siem: the receiver is back' 30 "$HTTP_BERTH_PID"
	res=$(connload --target "127.0.0.1:$HTTP_WEB_PORT" --connections "$HTTP_N_AFTER" \
		--concurrency 4 --timeout-s 60)
	assert_eq "$HTTP_N_AFTER" "$(jq .connections_ok <<<"$res")" "client connections, last part ($res)"
	wait_for_json "$HTTP_OUT" "$accepted" "$HTTP_N" 60
}

_http_stop_berth() {
	local rc=0
	stop_process "$HTTP_BERTH_PID" || rc=$?
	[ "$rc" -eq 0 ] || {
		echo "berth exited $rc; stderr:" >&2
		cat "$HTTP_ERR" >&2
		return 1
	}
}

# With a spool large enough, the records sent while the receiver was away
# arrive once it is back: every connection-accepted record berth wrote to
# stdout arrives exactly once, and nothing else.
test_http_spool_replays_exactly_once() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	_http_container || return $?
	_http_run_load $((4 << 20))

	local all='.event.action=="connection-accepted"'
	local n_sent
	wait_for_json "$HTTP_RCV_OUT" "$all and .container.name==\"berth-test-http\"" "$HTTP_N" 60
	n_sent=$(jq_count "$HTTP_OUT" "$all")
	wait_for_json "$HTTP_RCV_OUT" "$all" "$n_sent" 30
	_http_stop_berth

	assert_eq 0 "$(jq_invalid_lines "$HTTP_RCV_OUT")" "received lines that are not JSON"
	_http_raw_lines "$HTTP_OUT" "$all" | sort >"$BERTH_TEST_TMP/sent.sorted"
	sort "$HTTP_RCV_OUT" >"$BERTH_TEST_TMP/received.sorted"
	assert_eq "" "$(uniq -d "$BERTH_TEST_TMP/received.sorted" | head -3)" "records received twice"
	assert_eq "$(wc -l <"$BERTH_TEST_TMP/sent.sorted")" "$(wc -l <"$BERTH_TEST_TMP/received.sorted")" \
		"connection-accepted records on stdout and at the receiver"
	cmp -s "$BERTH_TEST_TMP/sent.sorted" "$BERTH_TEST_TMP/received.sorted" || {
		diff "$BERTH_TEST_TMP/sent.sorted" "$BERTH_TEST_TMP/received.sorted" | head -5 >&2
		return 1
	}
	assert_eq 0 "$(jq_count "$HTTP_OUT" '.event.action=="events-lost" and .berth.lost.sink=="siem"')" \
		"loss records of the HTTP output"
	assert_eq 0 "$(find "$HTTP_SPOOL" -name '*.seg' | wc -l)" "spool segments left once delivered"
	grep -q "siem: the receiver is back" "$HTTP_ERR"
}

# With a spool too small for the outage, the newest records are dropped and
# counted: received + lost (sink-spool-full) = sent, exactly.
test_http_spool_full_loss_counted_exactly() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	_http_container || return $?
	_http_run_load 16384

	local all='.event.action=="connection-accepted"'
	local lost_filter='.event.action=="events-lost" and .berth.lost.sink=="siem"'
	local n_sent n_received n_lost deadline
	# The spool drains, and the loss is reported at the next stats interval (1 s).
	deadline=$((SECONDS + 60))
	while :; do
		n_sent=$(jq_count "$HTTP_OUT" "$all")
		n_received=$(wc -l <"$HTTP_RCV_OUT")
		n_lost=$(jq_sum "$HTTP_OUT" "$lost_filter and .berth.lost.cause==\"sink-spool-full\"" '.berth.lost.count')
		[ $((n_received + n_lost)) -eq "$n_sent" ] && [ "$n_lost" -gt 0 ] &&
			[ -z "$(find "$HTTP_SPOOL" -name '*.seg')" ] && break
		if [ $SECONDS -ge $deadline ]; then
			echo "TIMEOUT: sent $n_sent, received $n_received, lost $n_lost" >&2
			break
		fi
		sleep 0.5
	done
	_http_stop_berth
	# Read again once berth is gone: nothing more came or was lost.
	n_sent=$(jq_count "$HTTP_OUT" "$all")
	n_received=$(wc -l <"$HTTP_RCV_OUT")
	n_lost=$(jq_sum "$HTTP_OUT" "$lost_filter and .berth.lost.cause==\"sink-spool-full\"" '.berth.lost.count')
	log "sent $n_sent, received $n_received, lost $n_lost (spool-full)"
	assert_ge "$n_lost" 1 "records lost to the spool bound"
	# Lost only while the receiver was away: the first part and the last all arrived.
	assert_ge "$n_received" "$((HTTP_N_BEFORE + HTTP_N_AFTER))" "records received"
	assert_eq "$n_sent" "$((n_received + n_lost))" "sent = received + lost"
	# No other cause, and the totals agree with the counts.
	assert_eq 0 "$(jq_count "$HTTP_OUT" "$lost_filter and .berth.lost.cause!=\"sink-spool-full\"")" \
		"loss records of other causes"
	assert_eq "$n_lost" "$(jq -Rn "[inputs | fromjson? | select($lost_filter)] | last | .berth.lost.total" "$HTTP_OUT")" \
		"the last loss record's total"
	# What arrived was sent, once each.
	_http_raw_lines "$HTTP_OUT" "$all" | sort >"$BERTH_TEST_TMP/sent.sorted"
	sort "$HTTP_RCV_OUT" >"$BERTH_TEST_TMP/received.sorted"
	assert_eq "" "$(uniq -d "$BERTH_TEST_TMP/received.sorted" | head -3)" "records received twice"
	assert_eq "$n_received" "$(comm -12 "$BERTH_TEST_TMP/sent.sorted" "$BERTH_TEST_TMP/received.sorted" | wc -l)" \
		"received records that berth sent"
	grep -q "output siem lost" "$HTTP_ERR"
}

# HTTPS both ways: the receiver's certificate is checked against the output's
# tls.ca, and the receiver asks for a client certificate. Of three outputs to
# it, only the one that trusts the CA and shows a certificate delivers; the
# one that trusts the system's store refuses the server, the one without a
# certificate is refused by it, and both say why and keep their records.
test_http_tls_verified_both_ways() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	command -v openssl >/dev/null || skip_because "openssl not installed" || return $?
	_http_container || return $?

	local pki=$BERTH_TEST_TMP/pki policy=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/stdout.json
	local err=$BERTH_TEST_TMP/berth.err n=20 res
	local accepted='.event.action=="connection-accepted" and .container.name=="berth-test-http"'
	mkdir -p "$pki"
	make_test_pki "$pki"
	HTTP_RCV_OUT=$BERTH_TEST_TMP/received.json
	HTTP_RCV_PORT=$(free_port 18520)
	: >"$HTTP_RCV_OUT"
	_http_receiver_start --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
		--tls-client-ca "$pki/ca.pem"
	cat >"$policy" <<EOF
outputs:
  - type: stdout
  - name: trusted
    url: "https://localhost:$HTTP_RCV_PORT/trusted/_bulk"
    shape: elasticsearch
    actions: [connection-accepted]
    batch: {events: 5, interval: 200ms}
    tls: {ca: "$pki/ca.pem", cert: "$pki/server.pem", key: "$pki/server.key"}
  - name: system-store
    url: "https://127.0.0.1:$HTTP_RCV_PORT/system-store/_bulk"
    shape: elasticsearch
    actions: [connection-accepted]
    retry: {min: 100ms, max: 400ms}
    tls: {cert: "$pki/server.pem", key: "$pki/server.key"}
  - name: anonymous
    url: "https://localhost:$HTTP_RCV_PORT/anonymous/_bulk"
    shape: elasticsearch
    actions: [connection-accepted]
    retry: {min: 100ms, max: 400ms}
    tls: {ca: "$pki/ca.pem"}
EOF
	HTTP_ERR=$err
	start_berth HTTP_BERTH_PID "$out" "$err" watch --config "$policy" --interval 1
	res=$(connload --target "127.0.0.1:$HTTP_WEB_PORT" --connections "$n" --concurrency 4 --timeout-s 30)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"
	wait_for_json "$out" "$accepted" "$n" 30
	wait_for_json "$HTTP_RCV_OUT" "$accepted" "$n" 30
	wait_for_line "$err" 'system-store: .*certificate' 30 "$HTTP_BERTH_PID"
	wait_for_line "$err" 'anonymous: ' 30 "$HTTP_BERTH_PID"
	_http_stop_berth
	_http_receiver_stop

	# Only the trusted output's requests were answered, and each record once.
	assert_eq "" "$(awk '$1 != "handshake" && $2 != "/trusted/_bulk"' "$BERTH_TEST_TMP/receiver.log" | head -3)" \
		"requests of other outputs that reached the receiver"
	assert_eq "$n" "$(jq_count "$HTTP_RCV_OUT" "$accepted")" "records received"
	assert_eq "" "$(sort "$HTTP_RCV_OUT" | uniq -d | head -3)" "records received twice"
	# The receiver saw the refusals: berth's of its certificate, its own of none.
	grep -q '^handshake failed' "$BERTH_TEST_TMP/receiver.log" || {
		echo "the receiver logged no failed handshake:" >&2
		cat "$BERTH_TEST_TMP/receiver.log" >&2
		return 1
	}
	log "$(grep -m1 'system-store: ' "$err")"
	log "$(grep -m1 'anonymous: ' "$err")"
	assert_eq 0 "$(jq_count "$out" '.event.action=="events-lost" and .berth.lost.cause=="sink-rejected"')" \
		"records rejected for good (a TLS failure is retried, not a refusal)"
}

# A receiver that never answers and no spool: what the HTTP output still
# holds at exit is lost, and stdout, closed after it, says so exactly.
test_http_loss_at_exit_reported_on_stdout() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	_http_container || return $?

	local policy=$BERTH_TEST_TMP/berth.yaml out=$BERTH_TEST_TMP/stdout.json n=30 res dead_port
	local accepted='.event.action=="connection-accepted" and .container.name=="berth-test-http"'
	local lost='.event.action=="events-lost" and .berth.lost.sink=="siem"'
	dead_port=$(free_port 18540)
	cat >"$policy" <<EOF
outputs:
  - type: stdout
  - name: siem
    url: "http://127.0.0.1:$dead_port/_bulk"
    shape: elasticsearch
    actions: [connection-accepted]
    batch: {events: 10, interval: 200ms}
    retry: {min: 100ms, max: 400ms}
EOF
	HTTP_ERR=$BERTH_TEST_TMP/berth.err
	start_berth HTTP_BERTH_PID "$out" "$HTTP_ERR" watch --config "$policy" --interval 1
	res=$(connload --target "127.0.0.1:$HTTP_WEB_PORT" --connections "$n" --concurrency 4 --timeout-s 30)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"
	wait_for_json "$out" "$accepted" "$n" 30
	wait_for_line "$HTTP_ERR" 'siem: .*retrying with backoff' 30 "$HTTP_BERTH_PID"
	_http_stop_berth

	local n_sent
	n_sent=$(jq_count "$out" '.event.action=="connection-accepted"')
	assert_eq "$n_sent" "$(jq_sum "$out" "$lost" '.berth.lost.count')" "records reported lost"
	assert_eq "sink-write-failed" "$(jq -Rr "fromjson? | select($lost) | .berth.lost.cause" "$out" | sort -u)" \
		"the cause of the loss"
	grep -q "siem: $n_sent records not delivered before exit" "$HTTP_ERR"
}
