# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# End-to-end test of the syslog output with a real rsyslogd (Debian's, with
# rsyslog-openssl): berth sends every record over UDP, TCP (octet counting)
# and TLS (a CA and server certificate made here) at once, and what rsyslog
# wrote, parsed back, must be exactly what berth wrote on stdout: every
# record, and for each connection event the right structured data.

# Connections made to the test container.
SYSLOG_N=${BERTH_SYSLOG_N:-50}

# _free_udp_port FIRST: the first UDP port from FIRST on with no socket.
_free_udp_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		[ -z "$(ss -Huln "sport = :$p" 2>/dev/null)" ] && {
			echo "$p"
			return 0
		}
	done
	echo "_free_udp_port: no free UDP port in $1..$(($1 + 99))" >&2
	return 1
}

# _start_rsyslog DIR UDP_PORT TCP_PORT TLS_PORT: rsyslogd with its own
# configuration in DIR, one input per transport on 127.0.0.1, each written
# to DIR/<transport>.log one line per message: MSGID, tab, STRUCTURED-DATA,
# tab, MSG. No /dev/log, no kernel log: only these inputs. Its pid in
# RSYSLOG_PID.
_start_rsyslog() {
	local dir=$1 udp=$2 tcp=$3 tls=$4 rsyslog_pid i
	mkdir -p "$dir/work"
	rm -f "$dir/rsyslogd.pid"
	cat >"$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/work" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="$dir/ca.pem"
       defaultNetstreamDriverCertFile="$dir/server.pem"
       defaultNetstreamDriverKeyFile="$dir/server.key")
module(load="imudp")
module(load="imtcp")
template(name="line" type="string" string="%msgid%\t%structured-data%\t%msg%\n")
ruleset(name="udp") { action(type="omfile" file="$dir/udp.log" template="line") }
ruleset(name="tcp") { action(type="omfile" file="$dir/tcp.log" template="line") }
ruleset(name="tls") { action(type="omfile" file="$dir/tls.log" template="line") }
input(type="imudp" address="127.0.0.1" port="$udp" ruleset="udp" rcvbufSize="16m")
input(type="imtcp" address="127.0.0.1" port="$tcp" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="$tls" ruleset="tls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
EOF
	rsyslogd -N1 -f "$dir/rsyslog.conf" >"$dir/check.log" 2>&1 || {
		echo "rsyslogd rejects the test's configuration:" >&2
		cat "$dir/check.log" >&2
		return 1
	}
	start_bg rsyslog_pid "$dir/rsyslogd.log" rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid"
	RSYSLOG_PID=$rsyslog_pid
	for ((i = 0; i < 100; i++)); do
		if [ -n "$(ss -Huln "sport = :$udp")" ] && [ -n "$(ss -Htln "sport = :$tcp")" ] &&
			[ -n "$(ss -Htln "sport = :$tls")" ]; then
			return 0
		fi
		kill -0 "$rsyslog_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "rsyslogd did not listen on $udp/udp, $tcp/tcp and $tls/tcp:" >&2
	cat "$dir/rsyslogd.log" >&2
	return 1
}

# _lines FILE: its line count, 0 when it does not exist.
_lines() {
	if [ -f "$1" ]; then
		wc -l <"$1"
	else
		echo 0
	fi
}

# _compare_syslog ECS_FILE SYSLOG_FILE CONTAINER: what rsyslog wrote against
# berth's own records. Prints what differs; fails when anything does.
_compare_syslog() {
	python3 - "$@" <<'EOF'
import collections, json, re, sys

ecs_path, syslog_path, container = sys.argv[1:4]
ELEMENT = re.compile(r'\[([^\s=\]"]+)((?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*")*)\]')
PARAM = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')

def structured_data(text):
    sd, pos = {}, 0
    if text == '-':
        return sd
    while pos < len(text):
        m = ELEMENT.match(text, pos)
        if not m:
            raise ValueError('bad structured data at %d: %r' % (pos, text[pos:pos + 80]))
        params = collections.defaultdict(list)
        for name, value in PARAM.findall(m.group(2)):
            params[name].append(re.sub(r'\\(["\\\]])', r'\1', value))
        sd[m.group(1)] = params
        pos = m.end()
    return sd

def one(sd, element, name):
    values = sd.get(element + '@32473', {}).get(name, [])
    return values[0] if len(values) == 1 else None

def ecs_key(r):
    return (r['event']['action'], r['source']['ip'], str(r['source']['port']),
            r['destination']['ip'], str(r['destination']['port']), r['container']['name'],
            r['container']['id'], str(r['berth']['port']['host_port']),
            r['berth']['port']['host_ip'], r['network']['transport'])

def syslog_key(msgid, sd):
    return (msgid, one(sd, 'source', 'ip'), one(sd, 'source', 'port'),
            one(sd, 'destination', 'ip'), one(sd, 'destination', 'port'),
            one(sd, 'container', 'name'), one(sd, 'container', 'id'),
            one(sd, 'berth', 'port.host_port'), one(sd, 'berth', 'port.host_ip'),
            one(sd, 'network', 'transport'))

records = [json.loads(line) for line in open(ecs_path) if line.strip()]
want_actions = collections.Counter(r['event']['action'] for r in records)
want_conns = collections.Counter(
    ecs_key(r) for r in records
    if r['event']['action'] in ('connection-accepted', 'connection-closed')
    and r.get('container', {}).get('name') == container)

got_actions, got_conns, bad = collections.Counter(), collections.Counter(), 0
for n, line in enumerate(open(syslog_path, encoding='utf-8', errors='replace'), 1):
    fields = line.rstrip('\n').split('\t')
    if len(fields) != 3:
        print('%s:%d: not MSGID<tab>SD<tab>MSG: %r' % (syslog_path, n, line[:200]))
        bad += 1
        continue
    msgid, sd_text, msg = fields
    try:
        sd = structured_data(sd_text)
    except ValueError as e:
        print('%s:%d: %s' % (syslog_path, n, e))
        bad += 1
        continue
    if one(sd, 'event', 'action') != msgid:
        print('%s:%d: MSGID %s but event.action %s' % (syslog_path, n, msgid,
                                                       one(sd, 'event', 'action')))
        bad += 1
    got_actions[msgid] += 1
    if msgid in ('connection-accepted', 'connection-closed') and one(sd, 'container', 'name') == container:
        got_conns[syslog_key(msgid, sd)] += 1

if not want_conns:
    print('berth wrote no connection event for %s' % container)
    bad += 1
for what, want, got in (('records by action', want_actions, got_actions),
                        ('connection events', want_conns, got_conns)):
    missing, extra = want - got, got - want
    if missing or extra:
        bad += 1
        print('%s: %s: %d missing, %d unexpected' % (syslog_path, what,
              sum(missing.values()), sum(extra.values())))
        for k, v in list(missing.items())[:5]:
            print('  missing %dx %s' % (v, k))
        for k, v in list(extra.items())[:5]:
            print('  unexpected %dx %s' % (v, k))
print('%s: %d records, %d connection events of %s' % (syslog_path, sum(got_actions.values()),
      sum(got_conns.values()), container))
sys.exit(1 if bad else 0)
EOF
}

# _require_rsyslog: what every test here needs (root, berth, connload,
# rsyslogd with its OpenSSL driver, dockerd and the test image), or a skip.
_require_rsyslog() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	command -v rsyslogd >/dev/null ||
		skip_because "rsyslogd not installed (scripts/install-deps: rsyslog, rsyslog-openssl)" ||
		return $?
	compgen -G "/usr/lib/*/rsyslog/lmnsd_ossl.so" >/dev/null ||
		skip_because "rsyslog's OpenSSL driver not installed (rsyslog-openssl)" || return $?
	ensure_docker || return $?
	ensure_test_image
}

# Datagrams the kernel dropped because a receiver's buffer was full (all sockets).
_udp_receive_drops() {
	awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ {print $6; exit}' /proc/net/snmp
}

# berth sends each record to rsyslog over UDP, TCP and TLS at once; rsyslog
# must have received every one on each, connection events with the right
# container, ports and source in the structured data.
test_syslog_rsyslog_udp_tcp_tls() {
	_require_rsyslog || return $?
	local dir=$BERTH_TEST_TMP/rsyslog out=$BERTH_TEST_TMP/stdout.json err=$BERTH_TEST_TMP/berth.err
	local policy=$BERTH_TEST_TMP/berth.yaml udp tcp tls port berth_pid res i n=$SYSLOG_N
	local total t drops

	mkdir -p "$dir"
	make_test_pki "$dir"
	udp=$(_free_udp_port 15514)
	tcp=$(free_port 15514)
	tls=$(free_port $((tcp + 1)))
	port=$(free_port $((tls + 1)))
	_start_rsyslog "$dir" "$udp" "$tcp" "$tls"

	container_run berth-test-syslog -p "127.0.0.1:$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$port" 20
	cat >"$policy" <<EOF
outputs:
  - type: stdout
  - name: rsyslog-udp
    address: "udp://127.0.0.1:$udp"
  - name: rsyslog-tcp
    address: "tcp://127.0.0.1:$tcp"
  - name: rsyslog-tls
    address: "tls://127.0.0.1:$tls"
    tls: {ca: $dir/ca.pem}
EOF
	drops=$(_udp_receive_drops)
	start_berth berth_pid "$out" "$err" watch --config "$policy" --interval 1
	# Spread a little, so that UDP (no flow control) meets a receiver that keeps up.
	res=$(connload --target "127.0.0.1:$port" --connections "$n" --concurrency 2 --timeout-s 60)
	assert_eq "$n" "$(jq .connections_ok <<<"$res")" "client connections ($res)"
	wait_for_json "$out" '.event.action=="connection-closed" and .container.name=="berth-test-syslog"' "$n" 30
	stop_process "$berth_pid" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$err" >&2
		return 1
	}
	# Each output connected at once: no warning about any of them.
	if grep -E "output rsyslog-(udp|tcp|tls)" "$err"; then
		echo "berth warned about a syslog output (above)" >&2
		return 1
	fi

	# rsyslog writes what it received within a moment.
	total=$(grep -c . "$out")
	for ((i = 0; i < 300; i++)); do
		[ "$(_lines "$dir/udp.log")" -ge "$total" ] && [ "$(_lines "$dir/tcp.log")" -ge "$total" ] &&
			[ "$(_lines "$dir/tls.log")" -ge "$total" ] && break
		sleep 0.1
	done
	for t in udp tcp tls; do
		assert_eq "$total" "$(_lines "$dir/$t.log")" \
			"records rsyslog got over $t (berth wrote $total; the kernel dropped $(($(_udp_receive_drops) - drops)) UDP datagrams for full receive buffers meanwhile)"
		_compare_syslog "$out" "$dir/$t.log" berth-test-syslog
	done
	assert_eq "$n" "$(jq_count "$out" '.event.action=="connection-accepted" and .container.name=="berth-test-syslog"')" \
		"connection-accepted on stdout"
}

# _wait_lines MIN TIMEOUT_S FILE...: until every FILE has MIN lines or more.
_wait_lines() {
	local min=$1 timeout_s=$2 f deadline ok
	shift 2
	deadline=$((SECONDS + timeout_s))
	while :; do
		ok=1
		for f in "$@"; do
			[ "$(_lines "$f")" -ge "$min" ] || ok=0
		done
		[ "$ok" = 1 ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			for f in "$@"; do
				echo "TIMEOUT: $f has $(_lines "$f") lines after ${timeout_s}s (wanted >= $min)" >&2
			done
			return 1
		fi
		sleep 0.1
	done
}

# _streams_start FIRST_PORT EXTRA: rsyslogd, a web container, and berth with
# stdout and two outputs to rsyslogd (rsyslog-tcp, rsyslog-tls), each with
# the YAML line EXTRA when given; then STREAMS_N connections, all of whose
# records reach rsyslogd. Sets STREAMS_DIR, STREAMS_UDP, STREAMS_TCP,
# STREAMS_TLS, STREAMS_OUT, STREAMS_ERR and STREAMS_BERTH.
STREAMS_N=10
STREAMS_CLOSED='.event.action=="connection-closed" and .container.name=="berth-test-syslog"'
_streams_start() {
	local first=$1 extra=$2 policy=$BERTH_TEST_TMP/berth.yaml
	_require_rsyslog || return $?
	STREAMS_DIR=$BERTH_TEST_TMP/rsyslog
	STREAMS_OUT=$BERTH_TEST_TMP/stdout.json
	STREAMS_ERR=$BERTH_TEST_TMP/berth.err
	mkdir -p "$STREAMS_DIR"
	make_test_pki "$STREAMS_DIR"
	STREAMS_UDP=$(_free_udp_port "$first")
	STREAMS_TCP=$(free_port "$first")
	STREAMS_TLS=$(free_port $((STREAMS_TCP + 1)))
	STREAMS_WEB=$(free_port $((STREAMS_TLS + 1)))
	_start_rsyslog "$STREAMS_DIR" "$STREAMS_UDP" "$STREAMS_TCP" "$STREAMS_TLS"
	container_run berth-test-syslog -p "127.0.0.1:$STREAMS_WEB:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 127.0.0.1 "$STREAMS_WEB" 20
	{
		printf '%s\n' "outputs:" "  - type: stdout" "  - name: rsyslog-tcp" \
			"    address: \"tcp://127.0.0.1:$STREAMS_TCP\""
		[ -z "$extra" ] || printf '    %s\n' "$extra"
		printf '%s\n' "  - name: rsyslog-tls" "    address: \"tls://127.0.0.1:$STREAMS_TLS\"" \
			"    tls: {ca: $STREAMS_DIR/ca.pem, server_name: localhost}"
		[ -z "$extra" ] || printf '    %s\n' "$extra"
	} >"$policy"
	# A long interval: no periodic record is in flight when the receiver goes.
	start_berth STREAMS_BERTH "$STREAMS_OUT" "$STREAMS_ERR" watch --config "$policy" --interval 60
	_streams_load "before" 1
	_streams_wait_rsyslog
}

# _streams_load WHEN ROUND: STREAMS_N more connections, the ROUND-th lot,
# and their records on stdout.
_streams_load() {
	local res
	res=$(connload --target "127.0.0.1:$STREAMS_WEB" --connections "$STREAMS_N" --concurrency 2 --timeout-s 60)
	assert_eq "$STREAMS_N" "$(jq .connections_ok <<<"$res")" "client connections $1 ($res)"
	wait_for_json "$STREAMS_OUT" "$STREAMS_CLOSED" $(($2 * STREAMS_N)) 30
}

# _streams_wait_rsyslog: rsyslogd wrote as many records as stdout holds, over both.
_streams_wait_rsyslog() {
	_wait_lines "$(grep -c . "$STREAMS_OUT")" 10 "$STREAMS_DIR/tcp.log" "$STREAMS_DIR/tls.log"
}

# _streams_wait_connection WHAT: both outputs logged WHAT ("lost", "connected").
_streams_wait_connection() {
	local what=$1 timeout_s=${2:-20}
	[ "$what" = lost ] && what="connection to"
	[ "$what" = connected ] && what="connected to"
	wait_for_line "$STREAMS_ERR" "output rsyslog-tcp: $what tcp://127.0.0.1:$STREAMS_TCP" "$timeout_s"
	wait_for_line "$STREAMS_ERR" "output rsyslog-tls: $what tls://127.0.0.1:$STREAMS_TLS" "$timeout_s"
}

# _streams_finish: berth stops; rsyslogd got every record of stdout, once,
# over TCP and over TLS, with the right structured data.
_streams_finish() {
	local t
	stop_process "$STREAMS_BERTH" || {
		echo "berth exited $? on SIGTERM; stderr:" >&2
		cat "$STREAMS_ERR" >&2
		return 1
	}
	for t in tcp tls; do
		assert_eq "$(grep -c . "$STREAMS_OUT")" "$(_lines "$STREAMS_DIR/$t.log")" "records rsyslog got over $t"
		_compare_syslog "$STREAMS_OUT" "$STREAMS_DIR/$t.log" berth-test-syslog
	done
}

# rsyslogd stops and comes back: the TCP and TLS outputs keep what berth
# wrote meanwhile, reconnect (one warning each way) and deliver it all.
test_syslog_rsyslog_restart() {
	local t
	_streams_start 15614 "" || return $?
	stop_process "$RSYSLOG_PID" || true
	_streams_wait_connection lost 10
	_streams_load "while rsyslogd is down" 2
	sleep 1
	_start_rsyslog "$STREAMS_DIR" "$STREAMS_UDP" "$STREAMS_TCP" "$STREAMS_TLS"
	_streams_wait_connection connected
	_streams_wait_rsyslog
	_streams_finish
	for t in tcp tls; do
		assert_eq 1 "$(grep -c "output rsyslog-$t: connection to .* lost" "$STREAMS_ERR")" "$t: warnings of the loss"
		assert_eq 1 "$(grep -c "output rsyslog-$t: connected to" "$STREAMS_ERR")" "$t: lines of the reconnection"
		assert_le "$(grep -c "output rsyslog-$t: cannot connect" "$STREAMS_ERR")" 1 "$t: warnings while down"
	done
	assert_eq $((2 * STREAMS_N)) "$(jq_count "$STREAMS_OUT" "$STREAMS_CLOSED")" "connection-closed on stdout"
}

# _black_hole PORT: loopback segments to TCP PORT are dropped (the receiver's
# own segments still go): a receiver on an unreachable host, as berth sees it.
_black_hole() {
	register_cleanup iptables -D INPUT -i lo -p tcp --dport "$1" -m comment --comment berth-test -j DROP
	iptables -I INPUT -i lo -p tcp --dport "$1" -m comment --comment berth-test -j DROP
}

_black_hole_end() {
	iptables -D INPUT -i lo -p tcp --dport "$1" -m comment --comment berth-test -j DROP
}

# rsyslogd's host seems gone (a black hole on its ports: no FIN, no reset):
# what berth writes meanwhile goes unacknowledged, the output's timeout
# breaks the connection, and once the host is back the records its TCP never
# acknowledged are sent again: rsyslogd gets every record once.
test_syslog_unacknowledged_sent_again() {
	local t
	command -v iptables >/dev/null || skip_because "iptables not installed" || return $?
	_streams_start 15624 "timeout: 2s" || return $?
	_black_hole "$STREAMS_TCP"
	_black_hole "$STREAMS_TLS"
	_streams_load "into the black hole" 2
	_streams_wait_connection lost 10
	_black_hole_end "$STREAMS_TCP"
	_black_hole_end "$STREAMS_TLS"
	_streams_wait_connection connected
	_streams_wait_rsyslog
	_streams_finish
	grep "connection to .* lost" "$STREAMS_ERR" >&2
	for t in tcp tls; do
		# Every record of the black hole was written, none acknowledged.
		grep -Eq "output rsyslog-$t: connection to .* lost .*\(([0-9]+) queued, \1 of them written but not acknowledged" "$STREAMS_ERR" || {
			echo "$t: not every queued record was written and unacknowledged" >&2
			return 1
		}
	done
}
