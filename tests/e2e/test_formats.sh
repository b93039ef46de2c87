# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# The output formats on a real run: one `berth watch` writes the same
# records to four files at once, in ECS, OCSF, CEF and RFC 5424 (three from
# the policy's `outputs:`, one from --output/--format), while a container
# starts, serves an allowed and a disallowed client, and stops. The ECS and
# OCSF files are validated against the schemas in tests/schemas/; the CEF
# and RFC 5424 files are parsed by their grammars and must hold the same
# records, action for action, as the ECS file.

SCHEMAS=${SCHEMAS:-$BERTH_ROOT/tests/schemas}
VALIDATE_JSON=${VALIDATE_JSON:-$BERTH_ROOT/tests/tools/validate_json.py}

require_jsonschema() {
	python3 -c 'import jsonschema' 2>/dev/null ||
		skip_because "python3-jsonschema not installed (scripts/install-deps)"
}

# _fmt_actions FILE FORMAT: the event.action of every record, one a line,
# in order (ECS and OCSF from the JSON, CEF from the signature id, RFC 5424
# from MSGID), after checking each line's grammar; exits 1 naming the first
# line that breaks it.
_fmt_actions() {
	python3 - "$1" "$2" <<'PY'
import json, re, sys

path, fmt = sys.argv[1], sys.argv[2]
HEADER = re.compile(r'<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([!-~]{1,255}) '
                    r'([!-~]{1,48}) ([0-9]{1,10}|-) ([!-~]{1,32}) ')
NAME = re.compile(r'[!-~]{1,32}')


def sd_name(s, i):
    m = NAME.match(s, i)
    if not m:
        raise ValueError(f"no SD-NAME at {i}")
    name = re.match(r'[^=\] "]*', m.group(0)).group(0)
    if not name:
        raise ValueError(f"empty SD-NAME at {i}")
    return name, i + len(name)


def structured_data(s, i):
    """RFC 5424 section 6.3: '-' or SD-ELEMENTs; returns (elements, end)."""
    if s[i] == '-':
        return {}, i + 1
    elements = {}
    while i < len(s) and s[i] == '[':
        sd_id, i = sd_name(s, i + 1)
        if '@' not in sd_id or sd_id in elements:
            raise ValueError(f"SD-ID {sd_id!r}: not enterprise-specific, or repeated")
        params = elements[sd_id] = []
        while s[i] == ' ':
            name, i = sd_name(s, i + 1)
            if s[i:i + 2] != '="':
                raise ValueError(f"PARAM {name}: no =\" at {i}")
            i += 2
            value = []
            while s[i] != '"':
                if s[i] == ']' or ord(s[i]) < 0x20:
                    raise ValueError(f"PARAM {name}: unescaped {s[i]!r} at {i}")
                if s[i] == '\\':
                    if s[i + 1] not in '"\\]':
                        raise ValueError(f"PARAM {name}: bad escape at {i}")
                    i += 1
                value.append(s[i])
                i += 1
            params.append((name, ''.join(value)))
            i += 1
        if s[i] != ']':
            raise ValueError(f"SD-ELEMENT {sd_id} not closed at {i}")
        i += 1
    if not elements:
        raise ValueError(f"no structured data at {i}")
    return elements, i


def cef(line):
    """CEF:0 and seven header fields ended by unescaped pipes, then key=value pairs."""
    if not line.startswith('CEF:0|berth|berth|'):
        raise ValueError("not CEF:0|berth|berth|")
    fields, field, i = [], [], 0
    while len(fields) < 7:
        c = line[i]
        if c == '\\':
            if line[i + 1] not in '\\|':
                raise ValueError(f"bad header escape at {i}")
            field.append(line[i + 1])
            i += 2
            continue
        if c == '|':
            fields.append(''.join(field))
            field = []
        else:
            field.append(c)
        i += 1
    if not 0 <= int(fields[6]) <= 10:
        raise ValueError(f"severity {fields[6]}")
    ext = line[i:]
    keys = re.findall(r'(?:^| )([A-Za-z0-9]+)=', re.sub(r'\\.', '__', ext))
    if '=' in re.sub(r'(?:^| )[A-Za-z0-9]+=', '', re.sub(r'\\.', '__', ext)):
        raise ValueError("unescaped '=' in a value")
    if 'rt' not in keys or 'msg' not in keys or len(keys) != len(set(keys)):
        raise ValueError(f"keys {keys}")
    return fields[4]


with open(path, encoding='utf-8') as f:
    for number, line in enumerate(f, 1):
        line = line.rstrip('\n')
        try:
            if '\r' in line:
                raise ValueError("CR in the record")
            if fmt in ('ecs', 'ocsf'):
                record = json.loads(line)
                action = (record['event']['action'] if fmt == 'ecs'
                          else record['metadata']['event_code'])
            elif fmt == 'cef':
                action = cef(line)
            else:
                m = HEADER.match(line)
                if not m:
                    raise ValueError("not an RFC 5424 header")
                elements, end = structured_data(line, m.end())
                if line[end] != ' ' or any(not ' ' <= c <= '~' for c in line[end + 1:]):
                    raise ValueError("MSG not printable ASCII after one space")
                action = m.group(6)
                event = dict(elements['event@32473'])
                if event.get('action') != action:
                    raise ValueError("MSGID is not event.action")
            print(action)
        except (ValueError, KeyError, IndexError) as e:
            print(f"{path}:{number}: {fmt}: {e}: {line[:300]}", file=sys.stderr)
            sys.exit(1)
PY
}

# One run, four formats, every record kind berth makes in a short run.
test_formats_every_output_of_one_run() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	require_jsonschema || return $?
	ensure_docker || return $?
	ensure_test_image
	local dir=$BERTH_TEST_TMP cfg=$BERTH_TEST_TMP/berth.yaml err=$BERTH_TEST_TMP/watch.err
	local out=$BERTH_TEST_TMP/watch.out berth_pid port fmt n_ecs sel
	local alert='.event.kind == "alert" and .event.action == "unauthorized-source"'

	netns_create fmtIn 198.51.100.1 198.51.100.2 28
	netns_create fmtOut 198.51.100.17 198.51.100.18 28
	port=$(free_port 18800)
	cat >"$cfg" <<YAML
rules:
  - name: web-from-office
    container: "berth-test-fmt*"
    port: 80/tcp
    allow: [198.51.100.0/28]
outputs:
  - {name: ecs, path: $dir/ecs.json, flush: immediate}
  - {name: cef, path: $dir/cef.log, format: cef, flush: immediate}
  - {name: syslog, path: $dir/rfc5424.log, format: rfc5424, flush: immediate}
YAML
	start_berth berth_pid "$out" "$err" watch --config "$cfg" --interval 1 \
		--output "file:$dir/ocsf.json" --format ocsf

	# Started while berth runs: container-started, and its server's listen.
	container_run berth-test-fmt -p "$port:80" "$TEST_IMAGE" httpd -f -p 80 -h /www >/dev/null
	wait_tcp 198.51.100.1 "$port" 20 fmtIn
	wait_tcp 198.51.100.17 "$port" 20 fmtOut
	netns_exec fmtIn "$CONNLOAD" --target "198.51.100.1:$port" --connections 10 --timeout-s 20 >/dev/null
	netns_exec fmtOut "$CONNLOAD" --target "198.51.100.17:$port" --connections 3 --timeout-s 20 >/dev/null
	wait_for_json "$dir/ecs.json" "$alert" 1 10
	wait_for_json "$dir/ecs.json" '.event.action == "port-stats" and .container.name == "berth-test-fmt"' 1 10
	docker rm -f berth-test-fmt >/dev/null
	wait_for_json "$dir/ecs.json" '.event.action == "container-stopped"' 1 15
	stop_process "$berth_pid"

	# Nothing on stdout: every output is a file.
	assert_eq 0 "$(wc -l <"$out")" "stdout lines"
	for sel in '.event.action == "connection-accepted"' '.event.action == "connection-closed"' \
		'.event.action == "listen" and .server.port == 80' \
		'.event.action == "port-stats" and .berth.view == "socket"' \
		'.event.action == "container-started" and .container.name == "berth-test-fmt"' \
		'.event.action == "container-stopped" and .container.name == "berth-test-fmt"' \
		"$alert and .source.ip == \"198.51.100.18\""; do
		assert_ge "$(jq_count "$dir/ecs.json" "$sel")" 1 "ECS records with $sel" || return 1
	done
	assert_eq 0 "$(jq_count "$dir/ecs.json" '.event.action == "events-lost"')" "events lost"

	"$VALIDATE_JSON" "$SCHEMAS/ecs.schema.json" "$dir/ecs.json" >&2 || return 1
	n_ecs=$(grep -c . "$dir/ecs.json")
	"$VALIDATE_JSON" "$SCHEMAS/ocsf.schema.json" "$dir/ocsf.json" --expect-count "$n_ecs" >&2 || return 1

	# The OCSF classes and activities the run must have made.
	for sel in '.class_uid == 4001 and .activity_id == 1' '.class_uid == 4001 and .activity_id == 2' \
		'.class_uid == 4001 and .activity_id == 6' \
		'.class_uid == 4001 and .activity_id == 99 and .activity_name == "Listen"' \
		'.class_uid == 2004 and .finding_info.analytic.name == "web-from-office" and
		 .evidences[0].src_endpoint.ip == "198.51.100.18" and
		 .evidences[0].container.name == "berth-test-fmt"' \
		'.class_uid == 0 and .activity_name == "container-started"'; do
		assert_ge "$(jq_count "$dir/ocsf.json" "$sel")" 1 "OCSF records with $sel" || return 1
	done

	# Every output got the same records in the same order.
	_fmt_actions "$dir/ecs.json" ecs >"$dir/actions.ecs" || return 1
	for fmt in ocsf cef rfc5424; do
		local file=$dir/$fmt.json
		[ "$fmt" = cef ] && file=$dir/cef.log
		[ "$fmt" = rfc5424 ] && file=$dir/rfc5424.log
		_fmt_actions "$file" "$fmt" >"$dir/actions.$fmt" || return 1
		if ! cmp -s "$dir/actions.ecs" "$dir/actions.$fmt"; then
			echo "ASSERT FAILED: the $fmt output's records differ from ECS:" >&2
			diff "$dir/actions.ecs" "$dir/actions.$fmt" | head -20 >&2
			return 1
		fi
	done
	assert_ge "$n_ecs" 10 "records"
	assert_contains "$(grep -m1 '|unauthorized-source|' "$dir/cef.log")" " src=198.51.100.18 " "CEF alert"
	assert_contains "$(grep -m1 ' unauthorized-source \[' "$dir/rfc5424.log")" \
		'[source@32473 ip="198.51.100.18"]' "RFC 5424 alert"
}

# Pseudonymised outputs: no client address in ECS or OCSF, one pseudonym
# per client and the same in both, and the records still pass the schemas.
test_formats_pseudonymized() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	require_jsonschema || return $?
	local dir=$BERTH_TEST_TMP cfg=$BERTH_TEST_TMP/berth.yaml err=$BERTH_TEST_TMP/watch.err
	local out=$BERTH_TEST_TMP/watch.out berth_pid port ecs_ids ocsf_ids f
	local sel
	netns_create fmtP 198.51.100.33 198.51.100.34 28
	port=$(free_port 18900)
	sel=".event.action == \"connection-accepted\" and .destination.port == $port"
	head -c 32 /dev/urandom >"$dir/key"
	cat >"$cfg" <<YAML
privacy:
  key_file: $dir/key
outputs:
  - {name: ecs, path: $dir/ecs.json, flush: immediate, pseudonymize: true}
  - {name: ocsf, path: $dir/ocsf.json, format: ocsf, flush: immediate, pseudonymize: true}
YAML
	# A host process serves (--all reports it): no container needed.
	mkdir -p "$dir/empty"
	python3 -m http.server --bind 198.51.100.33 "$port" --directory "$dir/empty" >/dev/null 2>&1 &
	register_cleanup _kill_pid $!
	start_berth berth_pid "$out" "$err" watch --all --interval 1 --config "$cfg"
	wait_tcp 198.51.100.33 "$port" 20 fmtP
	netns_exec fmtP "$CONNLOAD" --target "198.51.100.33:$port" --connections 5 --timeout-s 20 >/dev/null
	wait_for_json "$dir/ecs.json" "$sel" 6 10
	stop_process "$berth_pid"

	for f in ecs.json ocsf.json; do
		if grep -q '198\.51\.100\.34' "$dir/$f"; then
			echo "ASSERT FAILED: the client's address is in $f:" >&2
			grep -m3 '198\.51\.100\.34' "$dir/$f" >&2
			return 1
		fi
	done
	ecs_ids=$(jq -r "select($sel) | .source.address" "$dir/ecs.json" | sort -u)
	ocsf_ids=$(jq -r "select(.metadata.event_code == \"connection-accepted\" and
		.dst_endpoint.port == $port) | .src_endpoint.uid" "$dir/ocsf.json" | sort -u)
	assert_eq 1 "$(grep -c '^anon-[0-9a-f]\{16\}$' <<<"$ecs_ids")" "one pseudonym for one client ($ecs_ids)"
	assert_eq "$ecs_ids" "$ocsf_ids" "the OCSF pseudonym"
	"$VALIDATE_JSON" "$SCHEMAS/ecs.schema.json" "$dir/ecs.json" >&2 || return 1
	"$VALIDATE_JSON" "$SCHEMAS/ocsf.schema.json" "$dir/ocsf.json" >&2 || return 1
}
