# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end tests of `berth watch --metrics-listen`: the real endpoint with a
# real container and real connections, checked by Debian's promtool and
# scraped by a real Prometheus server whose query API must return the
# per-port counter the test expects.

# Connections the test makes to the container's published port.
METRICS_N=${BERTH_METRICS_N:-25}

require_prometheus() {
	if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
		skip_because "prometheus or promtool not installed (scripts/install-deps --test)"
	fi
}

# metrics_value FILE SERIES: the value of the sample of FILE whose name and
# labels are exactly SERIES (as written: name{label="value",...}); nothing
# when there is none.
metrics_value() {
	SERIES="$2 " awk 'index($0, ENVIRON["SERIES"]) == 1 {print $NF}' "$1"
}

# scrape URL FILE: curl the endpoint into FILE; fails on anything but 200.
scrape() {
	local code
	code=$(curl -s -o "$2" -w '%{http_code}' --max-time 5 "$1") || return 1
	[ "$code" = 200 ] || {
		echo "scrape $1: HTTP $code" >&2
		return 1
	}
}

# start_prometheus VAR PORT SCRAPE_CONFIGS: Debian's Prometheus on 127.0.0.1:PORT,
# scraping every second the jobs of SCRAPE_CONFIGS (YAML list items, indented
# two spaces); its pid in VAR once it is ready.
start_prometheus() {
	local var=$1 port=$2 dir=$BERTH_TEST_TMP/prometheus prometheus_pid i
	mkdir -p "$dir/data"
	printf '%s\n' "global:" "  scrape_interval: 1s" "  evaluation_interval: 1s" "scrape_configs:" \
		"$3" >"$dir/prometheus.yml"
	promtool check config "$dir/prometheus.yml" >/dev/null || {
		promtool check config "$dir/prometheus.yml" >&2
		return 1
	}
	start_bg prometheus_pid "$dir/log" prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$port"
	printf -v "$var" '%s' "$prometheus_pid"
	for ((i = 0; i < 150; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ] && return 0
		kill -0 "$prometheus_pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "prometheus not ready after 30 s; its log ends with:" >&2
	tail -n 20 "$dir/log" >&2
	return 1
}

# prometheus_query PORT EXPR: Prometheus's answer, "count value" of the instant vector.
prometheus_query() {
	curl -s --max-time 5 -G "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" |
		jq -r 'if .status == "success" then "\(.data.result | length) \(.data.result[0].value[1] // "-")" else "error \(.error)" end'
}

# prometheus_wait PORT EXPR WANT: asks until the answer is WANT, 20 s at
# most; prints the last answer.
prometheus_wait() {
	local answer i
	for ((i = 0; i < 100; i++)); do
		answer=$(prometheus_query "$1" "$2")
		[ "$answer" = "$3" ] && break
		sleep 0.2
	done
	echo "$answer"
}

# A container published on the namespace's side, N connections from a client
# in its own namespace (through Docker's DNAT, seen by XDP on the veth too):
# the endpoint reports exactly N in both views, promtool passes it without a
# lint complaint, and Prometheus, scraping every second, answers a query for
# the per-port counter with N.
test_metrics_prometheus_scrape() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	require_prometheus || return $?
	ensure_docker || return $?
	ensure_test_image
	local port mport pport cid out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err
	local berth_pid prom_pid res m=$BERTH_TEST_TMP/metrics.txt n=$METRICS_N i value
	local url series lint

	port=$(free_port 18480)
	mport=$(free_port 19464)
	pport=$(free_port 19090)
	container_run berth-test-metrics -p "0.0.0.0:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	cid=$(docker inspect -f '{{.Id}}' berth-test-metrics)
	netns_create mA 198.51.100.1 198.51.100.2
	wait_tcp 198.51.100.1 "$port" 20 mA

	# A rule whose allowlist leaves the client out: its connections raise
	# unauthorized-source (once: suppressed after), counted by rule.
	cat >"$BERTH_TEST_TMP/berth.yaml" <<-EOF
		rules:
		  - name: metrics-office
		    container: "berth-test-metrics*"
		    port: 80/tcp
		    allow: ["2001:db8::/32"]
		detect:
		  suppress: 60s
	EOF
	start_berth berth_pid "$out" "$err" watch --iface bth-mA --interval 1 \
		--config "$BERTH_TEST_TMP/berth.yaml" --metrics-listen "127.0.0.1:$mport"
	assert_file_contains "$err" "metrics: http://127.0.0.1:$mport/metrics" "berth's log"
	url="http://127.0.0.1:$mport/metrics"

	res=$(netns_exec mA "$CONNLOAD" --target "198.51.100.1:$port" --connections "$n" \
		--concurrency 4 --timeout-s 60)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"

	# The labels of the container's port, in the order berth writes them.
	local labels="container=\"berth-test-metrics\",container_id=\"$cid\",image=\"$TEST_IMAGE\",host_ip=\"0.0.0.0\",host_port=\"$port\",container_port=\"80\",protocol=\"tcp\""
	series="berth_port_connections_closed_total{$labels}"
	# Every close is counted once a stats interval has read it.
	for ((i = 0; i < 100; i++)); do
		scrape "$url" "$m"
		value=$(metrics_value "$m" "$series")
		[ "$value" = "$n" ] && break
		sleep 0.2
	done
	assert_eq "$n" "$value" "closed connections on the endpoint"
	assert_eq "$n" "$(metrics_value "$m" "berth_port_connections_opened_total{$labels}")" "opened connections"
	assert_eq "$(jq .bytes_sent <<<"$res")" "$(metrics_value "$m" "berth_port_bytes_total{$labels,direction=\"in\"}")" "bytes the container received"
	assert_eq "$(jq .bytes_received <<<"$res")" "$(metrics_value "$m" "berth_port_bytes_total{$labels,direction=\"out\"}")" "bytes the container sent"
	# The interface view: at least one SYN per connection (a retransmitted one adds).
	assert_ge "$(metrics_value "$m" "berth_interface_syns_total{interface=\"bth-mA\",$labels}")" "$n" "SYNs XDP saw"
	assert_eq 0 "$(metrics_value "$m" "berth_interface_syns_dropped_total{interface=\"bth-mA\",$labels}")" "SYNs dropped"
	# Health: nothing lost, the ring buffer mapped, the maps counted.
	assert_eq 0 "$(metrics_value "$m" 'berth_events_lost_total{cause="ringbuf-full"}')" "ring buffer losses"
	assert_eq 8388608 "$(metrics_value "$m" 'berth_ringbuf_size_bytes')" "ring buffer size"
	assert_ge "$(metrics_value "$m" 'berth_bpf_map_entries{map="port_traffic"}')" 1 "port_traffic entries"
	assert_eq 16384 "$(metrics_value "$m" 'berth_bpf_map_max_entries{map="port_traffic"}')" "port_traffic capacity"
	assert_eq 0 "$(metrics_value "$m" 'berth_sink_events_lost_total{sink="stdout",cause="queue-full"}')" "stdout sink losses"
	assert_eq 1 "$(metrics_value "$m" "berth_build_info{version=\"$(cat "$BERTH_ROOT/VERSION")\"}")" "build info"

	# Alerts: the endpoint counts what went out as records, by rule and action.
	local alert='.event.kind == "alert"' unauth='.rule.name == "metrics-office" and .event.action == "unauthorized-source"'
	wait_for_json "$out" "$alert and $unauth" 1 10
	sleep 1.5
	scrape "$url" "$m"
	assert_eq "$(jq_count "$out" "$alert and $unauth")" \
		"$(metrics_value "$m" 'berth_alerts_total{rule="metrics-office",action="unauthorized-source"}')" \
		"unauthorized-source alerts of the rule (records, then the metric)"
	assert_eq "$(jq_count "$out" "$alert")" \
		"$(grep '^berth_alerts_total{' "$m" | awk '{s += $NF} END {print s + 0}')" "alerts in all"

	# promtool reads it as Prometheus does, and lints it: no complaint at all.
	lint=$(promtool check metrics <"$m" 2>&1) || {
		echo "promtool check metrics failed: $lint" >&2
		return 1
	}
	assert_eq "" "$lint" "promtool's complaints"

	# What is not a scrape gets the status it deserves.
	assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/")" "GET /"
	assert_eq 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" "POST /metrics"
	assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -I "$url")" "HEAD /metrics"

	# A real Prometheus, scraping every second.
	start_prometheus prom_pid "$pport" "$(printf '%s\n' "  - job_name: berth" \
		"    static_configs:" "      - targets: [\"127.0.0.1:$mport\"]")" || return 1
	local q="berth_port_connections_opened_total{job=\"berth\",container=\"berth-test-metrics\",host_port=\"$port\",container_port=\"80\",protocol=\"tcp\"}"
	assert_eq "1 $n" "$(prometheus_wait "$pport" "$q" "1 $n")" "Prometheus: series and value of $q"
	assert_eq "1 1" "$(prometheus_query "$pport" 'up{job="berth"}')" "Prometheus: the target is up"
	# Prometheus parsed every sample it scraped: none refused, none out of order.
	assert_eq "1 0" "$(prometheus_query "$pport" 'scrape_samples_post_metric_relabeling{job="berth"} - scrape_samples_scraped{job="berth"}')" "samples dropped on ingestion"

	stop_process "$prom_pid"

	# Program run time, while the kernel measures it (restored at cleanup too).
	local stats_was runs
	stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
	register_cleanup sysctl -qw "kernel.bpf_stats_enabled=$stats_was"
	sysctl -qw kernel.bpf_stats_enabled=1
	res=$(netns_exec mA "$CONNLOAD" --target "198.51.100.1:$port" --connections 5 --timeout-s 20)
	scrape "$url" "$m"
	sysctl -qw "kernel.bpf_stats_enabled=$stats_was"
	assert_eq 5 "$(jq .connections_ok <<<"$res")" "connections while bpf_stats is on"
	assert_eq 1 "$(metrics_value "$m" berth_bpf_stats_enabled)" "bpf_stats_enabled"
	runs=$(metrics_value "$m" 'berth_bpf_program_runs_total{program="handle_sockops"}')
	assert_ge "$runs" 5 "sockops runs while measured"
	assert_ne "" "$(metrics_value "$m" 'berth_bpf_program_run_seconds_total{program="count_xdp"}')" "XDP run time"
	[ "$stats_was" = 1 ] || assert_eq "" "$(scrape "$url" "$m" && metrics_value "$m" 'berth_bpf_program_runs_total{program="handle_sockops"}')" "runs once bpf_stats is off again"

	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}
}

# An address that does not parse is a usage error before anything loads; an
# address taken by another process is one too, named with the flag.
test_metrics_listen_errors() {
	require_root || return $?
	require_berth || return $?
	local rc=0 err=$BERTH_TEST_TMP/err port holder_pid

	"$BERTH_BIN" watch --metrics-listen 9464 2>"$err" || rc=$?
	assert_eq 2 "$rc" "exit status of a bad address"
	assert_file_contains "$err" "^berth watch: --metrics-listen '9464': expected ADDRESS:PORT, e.g. 127.0.0.1:9464 or \[::1\]:9464$" "error"

	port=$(free_port 19564)
	# SO_REUSEADDR: the port may still have connections in TIME_WAIT.
	start_bg holder_pid "$BERTH_TEST_TMP/holder.log" python3 -c "
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port))
s.listen()
print('listening', flush=True)
time.sleep(60)"
	wait_for_line "$BERTH_TEST_TMP/holder.log" listening 10 "$holder_pid"
	rc=0
	timeout 30 "$BERTH_BIN" watch --metrics-listen "127.0.0.1:$port" >/dev/null 2>"$err" || rc=$?
	assert_eq 2 "$rc" "exit status when the port is taken"
	assert_file_contains "$err" "--metrics-listen 127.0.0.1:$port: cannot listen: Address already in use" "error"
	# It gave up before attaching anything, and said nothing of being ready.
	if grep -q "ready: watching" "$err"; then
		echo "berth said ready despite the failed listen:" >&2
		cat "$err" >&2
		return 1
	fi
}

# --metrics-token-file: a scrape without the token, or with another, gets
# 401 and is counted; Prometheus with the token in credentials_file scrapes
# (up 1), a job without it is refused (up 0).
test_metrics_bearer_token() {
	require_root || return $?
	require_berth || return $?
	require_prometheus || return $?
	ensure_docker || return $?
	local mport pport token=$BERTH_TEST_TMP/metrics.token out=$BERTH_TEST_TMP/watch.json
	local err=$BERTH_TEST_TMP/watch.err berth_pid prom_pid url m=$BERTH_TEST_TMP/metrics.txt
	mport=$(free_port 19474)
	pport=$(free_port 19094)
	url="http://127.0.0.1:$mport/metrics"
	head -c 24 /dev/urandom | base64 >"$token"
	start_berth berth_pid "$out" "$err" watch --metrics-listen "127.0.0.1:$mport" \
		--metrics-token-file "$token"
	assert_file_contains "$err" "metrics: http://127.0.0.1:$mport/metrics .port $mport, bearer token asked.$" "berth's log"

	assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$url")" "no token"
	assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$(cat "$token")" "$url")" "another token"
	assert_eq 'Bearer realm="berth"' "$(curl -s -D - -o /dev/null "$url" | sed -n 's/^WWW-Authenticate: //p' | tr -d '\r')" \
		"the challenge"
	assert_eq 200 "$(curl -s -o "$m" -w '%{http_code}' -H "Authorization: Bearer $(cat "$token")" "$url")" "the token"
	assert_eq 3 "$(metrics_value "$m" berth_metrics_unauthorized_requests_total)" "refused requests counted"

	start_prometheus prom_pid "$pport" "$(printf '%s\n' "  - job_name: berth" \
		"    authorization: {type: Bearer, credentials_file: \"$token\"}" \
		"    static_configs:" "      - targets: [\"127.0.0.1:$mport\"]" \
		"  - job_name: tokenless" "    static_configs:" "      - targets: [\"127.0.0.1:$mport\"]")" ||
		return 1
	assert_eq "1 1" "$(prometheus_wait "$pport" 'up{job="berth"}' "1 1")" "Prometheus: up of the job with the token"
	assert_eq "1 0" "$(prometheus_wait "$pport" 'up{job="tokenless"}' "1 0")" "Prometheus: up of the job without"
	assert_eq "1 1" "$(prometheus_query "$pport" 'berth_build_info{job="berth"} > 0')" "Prometheus: samples of the job with the token"
	stop_process "$prom_pid"
	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}
}

# --metrics-tls-cert: the endpoint speaks HTTPS only. A scraper that trusts
# the CA (and shows the token) gets the metrics, Prometheus included; plain
# HTTP and an unknown CA get nothing; a key that is not the certificate's is
# a usage error naming the flag.
test_metrics_tls() {
	require_root || return $?
	require_berth || return $?
	require_prometheus || return $?
	ensure_docker || return $?
	local mport pport pki=$BERTH_TEST_TMP/pki token=$BERTH_TEST_TMP/metrics.token
	local out=$BERTH_TEST_TMP/watch.json err=$BERTH_TEST_TMP/watch.err berth_pid prom_pid url
	local m=$BERTH_TEST_TMP/metrics.txt rc=0
	mport=$(free_port 19484)
	pport=$(free_port 19104)
	url="https://127.0.0.1:$mport/metrics"
	mkdir -p "$pki"
	make_test_pki "$pki"
	head -c 24 /dev/urandom | base64 >"$token"

	# A key of another certificate: refused before anything is attached.
	openssl genrsa -out "$pki/other.key" 2048 2>/dev/null
	timeout 30 "$BERTH_BIN" watch --metrics-listen "127.0.0.1:$mport" --metrics-tls-cert "$pki/server.pem" \
		--metrics-tls-key "$pki/other.key" >/dev/null 2>"$err" || rc=$?
	assert_eq 2 "$rc" "exit status with a key that is not the certificate's"
	assert_file_contains "$err" "--metrics-tls-key $pki/other.key: " "error"
	rc=0
	"$BERTH_BIN" watch --metrics-tls-cert "$pki/server.pem" >/dev/null 2>"$err" || rc=$?
	assert_eq 2 "$rc" "exit status of --metrics-tls-cert alone"

	start_berth berth_pid "$out" "$err" watch --metrics-listen "127.0.0.1:$mport" \
		--metrics-tls-cert "$pki/server.pem" --metrics-tls-key "$pki/server.key" --metrics-token-file "$token"
	assert_file_contains "$err" "metrics: https://127.0.0.1:$mport/metrics .port $mport, bearer token asked.$" "berth's log"
	assert_eq 200 "$(curl -s -o "$m" -w '%{http_code}' --cacert "$pki/ca.pem" \
		-H "Authorization: Bearer $(cat "$token")" "$url")" "HTTPS with the CA and the token"
	assert_ne "" "$(metrics_value "$m" "berth_build_info{version=\"$(cat "$BERTH_ROOT/VERSION")\"}")" "build info over HTTPS"
	assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" "$url")" "HTTPS without the token"
	assert_eq 000 "$(curl -s -o /dev/null -w '%{http_code}' "$url")" "HTTPS without the CA"
	assert_eq 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$mport/metrics")" "plain HTTP"
	# Still serving after those.
	assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" \
		-H "Authorization: Bearer $(cat "$token")" "https://localhost:$mport/metrics")" "HTTPS by name"

	start_prometheus prom_pid "$pport" "$(printf '%s\n' "  - job_name: berth" "    scheme: https" \
		"    tls_config: {ca_file: \"$pki/ca.pem\"}" \
		"    authorization: {type: Bearer, credentials_file: \"$token\"}" \
		"    static_configs:" "      - targets: [\"127.0.0.1:$mport\"]")" || return 1
	assert_eq "1 1" "$(prometheus_wait "$pport" 'up{job="berth"}' "1 1")" "Prometheus over HTTPS: the target is up"
	stop_process "$prom_pid"
	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}
}
