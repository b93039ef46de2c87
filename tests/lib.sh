# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Shared helpers for berth's end-to-end tests. Sourced by tests/run (once per
# test, in a fresh bash) and by scripts/bench; not executable on its own.
#
# Conventions every test relies on:
#   - Everything a test creates is registered here and removed by cleanup_all,
#     which lib_install_traps hooks to EXIT, INT and TERM: a failing or killed
#     test still cleans up. Removal runs in reverse order of creation.
#   - Names make leftovers findable even when a test was SIGKILLed:
#     network namespaces and host-side veths are bth-<name>, containers (Docker
#     and podman alike) are berth-test-<name> and carry the label
#     berth.test=1, iptables rules carry the comment berth-test.
#     cleanup_sweep removes everything that matches; assert_clean proves
#     nothing does.
#   - Test traffic goes only to loopback, to the namespaces made here
#     (198.51.100.0/24, 2001:db8::/32) and to the tests' own containers.
#   - A test function returns 0 (pass), 1 (fail) or 77 (skipped; call
#     skip_because "reason" first so the runner can print why).

# shellcheck disable=SC2034 # the variables below are for the tests
BERTH_ROOT=${BERTH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BERTH_BUILD=${BERTH_BUILD:-$BERTH_ROOT/build}
BERTH_BIN=${BERTH_BIN:-$BERTH_BUILD/berth}
CONNLOAD=${CONNLOAD:-$BERTH_BUILD/tools/connload}
TEST_IMAGE=${TEST_IMAGE:-berth-test/busybox}
# podman's Docker-compatible API, as `podman system service` serves it.
PODMAN_SOCKET=${PODMAN_SOCKET:-/run/podman/podman.sock}
# What `podman run` needs on these machines: crun refuses the hybrid cgroup
# layout, and podman's default rlimits (nofile 1048576) are above the hard
# limits here, which runc is not allowed to raise.
PODMAN_RUN_FLAGS=(--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
TEST_LABEL=berth.test
# Bump when the image's contents change: ensure_test_image rebuilds an image
# whose label differs.
TEST_IMAGE_VERSION=1
# /www/index.html in the test image is exactly this many bytes...
TEST_INDEX_BYTES=1000
# ...and busybox 1.35 httpd answers GET / with this many bytes in all
# (212 bytes of headers, the Date, Last-Modified and ETag fields being of
# fixed width since the file's mtime is fixed). tests/e2e/test_harness.sh
# measures it again and fails if it drifts.
TEST_RESPONSE_BYTES=1212
# Names of berth's BPF programs (bpf/berth.bpf.c): what assert_clean looks for.
BERTH_PROG_NAMES=(handle_sockops count_ingress count_egress record_bind4 record_bind6 count_xdp)

# Per-test scratch directory, removed by cleanup_all (kept if BERTH_KEEP_TMP=1).
if [ -z "${BERTH_TEST_TMP:-}" ]; then
	BERTH_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-test.XXXXXX")
	_BERTH_OWN_TMP=1
fi

_cleanup_cmds=()

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- cleanup

# register_cleanup CMD...: run CMD (one shell word list) at cleanup_all.
register_cleanup() {
	local q
	printf -v q '%q ' "$@"
	_cleanup_cmds+=("$q")
}

cleanup_all() {
	local i
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[i]}" >/dev/null 2>&1 || true
	done
	_cleanup_cmds=()
	if [ "${_BERTH_OWN_TMP:-0}" = 1 ] && [ "${BERTH_KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$BERTH_TEST_TMP"
		_BERTH_OWN_TMP=0
	fi
}

lib_install_traps() {
	# A test run by hand (not by tests/run, which holds the lock for all
	# its tests) still waits for any other run to finish.
	[ -n "${BERTH_E2E_LOCKED:-}" ] || lock_e2e || return 1
	# Under set -e, says which command ended the test, and where.
	trap '_report_err $? "$BASH_COMMAND"' ERR
	trap 'cleanup_all' EXIT
	trap 'cleanup_all; trap - EXIT; exit 130' INT
	trap 'cleanup_all; trap - EXIT; exit 143' TERM
}

_report_err() {
	local i where=""
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		where+=" ${FUNCNAME[i]}@${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
	done
	printf 'FAILED (exit %s): %s\n  at%s\n' "$1" "$2" "$where" >&2
}

# Kill a process: TERM, then KILL if it is still there after 5 s.
_kill_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Removes every test resource found by name or label, whoever made it:
# the safety net when a test was killed before its own cleanup ran.
cleanup_sweep() {
	local c ns link
	if docker_up; then
		for c in $(docker ps -aq --filter "label=$TEST_LABEL" 2>/dev/null) \
			$(docker ps -aq --filter 'name=^/?berth-test-' 2>/dev/null); do
			docker rm -f "$c" >/dev/null 2>&1 || true
		done
	fi
	if podman_installed; then
		for c in $(_podman_test_containers); do
			podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
		done
	fi
	_sweep_test_iptables_rules
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^bth-/ {print $1}'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	for link in $(_test_links); do
		ip link del "$link" 2>/dev/null || true
	done
}

_test_links() {
	ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); if ($2 ~ /^bth-/) print $2}'
}

# lock_e2e: one end-to-end run at a time on this machine. Tests share
# names, ports and the cgroup2 root, and a run's sweep would remove another
# run's namespaces, so tests/run, scripts/bench and any shell that calls
# lib_install_traps take this lock (on fd 9, held until the process exits;
# BERTH_E2E_LOCKED tells child shells it is held) and wait up to 15 minutes.
lock_e2e() {
	local lock=${BERTH_LOCK:-/run/lock/berth-e2e.lock}
	[ -d "${lock%/*}" ] || lock=/tmp/berth-e2e.lock
	exec 9>>"$lock"
	if ! flock -n 9; then
		log "waiting for another berth test run to finish (lock $lock)"
		flock -w 900 9 || {
			echo "lock_e2e: $lock still held after 15 minutes" >&2
			return 1
		}
	fi
	export BERTH_E2E_LOCKED=$$
}

# ---------------------------------------------------------------- assertions

# Each prints what was expected and what was seen, and returns 1 on failure.
assert_eq() { # EXPECTED ACTUAL [WHAT]
	if [ "$1" != "$2" ]; then
		printf 'ASSERT FAILED: %s: expected "%s", got "%s"\n' "${3:-value}" "$1" "$2" >&2
		return 1
	fi
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
	if [ "$1" = "$2" ]; then
		printf 'ASSERT FAILED: %s: expected anything but "%s"\n' "${3:-value}" "$1" >&2
		return 1
	fi
}

assert_ge() { # ACTUAL MIN [WHAT]
	if ! [[ "$1" =~ ^-?[0-9]+$ ]] || [ "$1" -lt "$2" ]; then
		printf 'ASSERT FAILED: %s: expected >= %s, got "%s"\n' "${3:-value}" "$2" "$1" >&2
		return 1
	fi
}

assert_le() { # ACTUAL MAX [WHAT]
	if ! [[ "$1" =~ ^-?[0-9]+$ ]] || [ "$1" -gt "$2" ]; then
		printf 'ASSERT FAILED: %s: expected <= %s, got "%s"\n' "${3:-value}" "$2" "$1" >&2
		return 1
	fi
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
	if [[ "$1" != *"$2"* ]]; then
		printf 'ASSERT FAILED: %s: "%s" not found in:\n%s\n' "${3:-output}" "$2" "$1" >&2
		return 1
	fi
}

assert_file_contains() { # FILE REGEX [WHAT]
	if ! grep -Eq -- "$2" "$1" 2>/dev/null; then
		printf 'ASSERT FAILED: %s: no line of %s matches /%s/; it holds:\n' "${3:-file}" "$1" "$2" >&2
		tail -n 20 "$1" >&2 2>/dev/null || true
		return 1
	fi
}

# skip_because REASON: records why, returns 77 (use: `... || return $?`).
skip_because() {
	printf '%s\n' "$*" >"${BERTH_SKIP_FILE:-/dev/stderr}"
	return 77
}

# ---------------------------------------------------------------- JSON lines

# jq_count FILE FILTER: how many JSON lines of FILE FILTER selects (a jq
# boolean expression, e.g. '.event.action == "connection-accepted"'). Lines
# that are not JSON are not counted (see jq_invalid_lines).
jq_count() {
	{ jq -R "fromjson? | select($2)" -c "$1" 2>/dev/null || true; } | wc -l | tr -d ' '
}

# jq_first FILE FILTER [EXPR]: EXPR (default .) of the first line FILTER selects.
jq_first() {
	{ jq -R "fromjson? | select($2) | ${3:-.}" -c "$1" 2>/dev/null || true; } | sed -n 1p
}

# jq_sum FILE FILTER EXPR: the sum of numeric EXPR over the lines selected.
jq_sum() {
	{ jq -R "fromjson? | select($2) | ($3 // 0)" "$1" 2>/dev/null || true; } |
		awk '{s += $1} END {printf "%d\n", s}'
}

# jq_invalid_lines FILE: how many non-empty lines are not JSON objects.
jq_invalid_lines() {
	{ jq -R 'select(length > 0) | (fromjson? | objects | 1) // 0 | select(. == 0)' "$1" 2>/dev/null || true; } |
		wc -l | tr -d ' '
}

# wait_for_json FILE FILTER MIN TIMEOUT_S: until jq_count >= MIN; 1 on timeout.
wait_for_json() {
	local file=$1 filter=$2 min=$3 timeout_s=$4 n deadline
	deadline=$((SECONDS + timeout_s))
	while :; do
		n=$(jq_count "$file" "$filter")
		[ "$n" -ge "$min" ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			printf 'TIMEOUT: %s lines of %s match %s after %ss (wanted >= %s)\n' \
				"$n" "$file" "$filter" "$timeout_s" "$min" >&2
			return 1
		fi
		sleep 0.2
	done
}

# wait_for_line FILE REGEX TIMEOUT_S [PID]: until a line matches; fails early
# when PID (the writer) exits first.
wait_for_line() {
	local file=$1 re=$2 timeout_s=$3 pid=${4:-} deadline
	deadline=$((SECONDS + timeout_s))
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			printf 'process %s exited before printing /%s/; %s ends with:\n' "$pid" "$re" "$file" >&2
			tail -n 20 "$file" >&2 2>/dev/null || true
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			printf 'TIMEOUT: no line of %s matches /%s/ after %ss; it ends with:\n' "$file" "$re" "$timeout_s" >&2
			tail -n 20 "$file" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
}

# ---------------------------------------------------------------- processes

# start_bg VAR LOGFILE CMD...: starts CMD in the background with stdout and
# stderr to LOGFILE, registers it for cleanup, stores its pid in VAR.
start_bg() {
	local __var=$1 logfile=$2
	shift 2
	"$@" >"$logfile" 2>&1 9>&- &
	# __-prefixed: a caller's variable of the same name would be shadowed.
	local __pid=$!
	register_cleanup _kill_pid "$__pid"
	printf -v "$__var" '%s' "$__pid"
}

# require_berth: skips unless build/berth exists.
require_berth() {
	[ -x "$BERTH_BIN" ] || skip_because "$BERTH_BIN not built (make)"
}

require_connload() {
	[ -x "$CONNLOAD" ] || skip_because "$CONNLOAD not built (make tools)"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_because "needs root"
}

# start_berth VAR STDOUT_FILE STDERR_FILE ARGS...: starts build/berth ARGS,
# waits (30 s at most) for the line containing "ready" that it prints on
# stderr once its programs are attached. Registered for cleanup (TERM).
start_berth() {
	local __var=$1 out=$2 err=$3
	shift 3
	# Emptied here, not only by the child's redirection: a file reused from
	# an earlier berth still holds its "ready" line until the child runs.
	: >"$out"
	: >"$err"
	"$BERTH_BIN" "$@" >"$out" 2>"$err" 9>&- &
	local __pid=$!
	register_cleanup _kill_pid "$__pid"
	printf -v "$__var" '%s' "$__pid"
	wait_for_line "$err" 'ready' 30 "$__pid"
}

# stop_process PID: TERM, wait (KILL after 5 s); returns the exit status
# (of a child of this shell: one that already exited still reports its own).
stop_process() {
	local pid=$1 rc=0 i
	if ! kill -TERM "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || rc=$?
		return $rc
	fi
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	return $rc
}

# ---------------------------------------------------------------- cgroups

# find_cgroup2_mount: prints the cgroup2 mount point (/sys/fs/cgroup on pure
# v2 hosts, /sys/fs/cgroup/unified on hybrid ones).
find_cgroup2_mount() {
	local mnt
	mnt=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	[ -n "$mnt" ] || {
		echo "find_cgroup2_mount: no cgroup2 mount in /proc/self/mounts" >&2
		return 1
	}
	printf '%s\n' "$mnt"
}

# ---------------------------------------------------------------- docker

docker_up() {
	command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1
}

# ensure_docker: starts dockerd when it is not running and waits (60 s at
# most) for it to answer. dockerd is left running for later tests. Skips
# (77) when Docker is not installed; fails when it does not come up.
ensure_docker() {
	local logdir=${TMPDIR:-/tmp}/berth-dockerd i dockerd_pid=""
	docker_up && return 0
	if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
		skip_because "docker not installed (scripts/install-deps)" || return
	fi
	if ! pgrep -x dockerd >/dev/null; then
		mkdir -p "$logdir"
		# No dockerd runs, so a pid file is stale (a killed session's):
		# dockerd refuses to start if its pid now names another process.
		rm -f /var/run/docker.pid
		log "starting dockerd (log: $logdir/dockerd.log)"
		# setsid: dockerd must outlive this test and its process group.
		# 9>&-: not holding lock_e2e's lock for as long as it runs.
		setsid dockerd >>"$logdir/dockerd.log" 2>&1 </dev/null 9>&- &
		dockerd_pid=$!
	fi
	for ((i = 0; i < 120; i++)); do
		docker_up && return 0
		if [ -n "$dockerd_pid" ] && ! kill -0 "$dockerd_pid" 2>/dev/null; then
			echo "ensure_docker: dockerd exited at start; $logdir/dockerd.log ends with:" >&2
			tail -n 30 "$logdir/dockerd.log" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.5
	done
	echo "ensure_docker: dockerd did not answer 'docker info' within 60 s; $logdir/dockerd.log ends with:" >&2
	tail -n 30 "$logdir/dockerd.log" >&2 2>/dev/null || true
	return 1
}

# ensure_test_image: builds $TEST_IMAGE (busybox-static, no registry) unless
# an image with the current TEST_IMAGE_VERSION label exists. Contents:
# /bin/busybox and applet links, /www/index.html of TEST_INDEX_BYTES bytes.
ensure_test_image() {
	local have rootfs
	have=$(docker image inspect -f "{{ index .Config.Labels \"$TEST_LABEL.image\" }}" "$TEST_IMAGE" 2>/dev/null || true)
	[ "$have" = "$TEST_IMAGE_VERSION" ] && return 0

	rootfs=$(mktemp -d "$BERTH_TEST_TMP/rootfs.XXXXXX")
	make_test_rootfs "$rootfs" || return 1
	tar -C "$rootfs" -c . | docker import \
		--change "LABEL $TEST_LABEL.image=$TEST_IMAGE_VERSION" \
		--change 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
	rm -rf "$rootfs"
}

# make_test_rootfs DIR: fills DIR with the test image's files (see
# ensure_test_image), for Docker and podman alike.
make_test_rootfs() {
	local rootfs=$1 bb applet
	bb=$(command -v busybox || true)
	if [ -z "$bb" ] || ! file_is_static "$bb"; then
		bb=/bin/busybox
	fi
	if [ ! -x "$bb" ] || ! file_is_static "$bb"; then
		echo "ensure_test_image: no statically linked busybox (apt-get install busybox-static)" >&2
		return 1
	fi
	mkdir -p "$rootfs"/{bin,www,tmp,etc,proc,sys,dev}
	cp "$bb" "$rootfs/bin/busybox"
	for applet in sh httpd nc cat echo sleep ls seq yes head dd true env ps kill wc; do
		ln -s busybox "$rootfs/bin/$applet"
	done
	# Exactly TEST_INDEX_BYTES bytes: a short HTML page padded with x.
	local html_head='<html><body>berth-test' html_tail='</body></html>'
	{
		printf '%s\n' "$html_head"
		head -c "$((TEST_INDEX_BYTES - ${#html_head} - ${#html_tail} - 2))" /dev/zero | tr '\0' 'x'
		printf '\n%s' "$html_tail"
	} >"$rootfs/www/index.html"
	[ "$(stat -c %s "$rootfs/www/index.html")" -eq "$TEST_INDEX_BYTES" ] ||
		die "ensure_test_image: index.html is not $TEST_INDEX_BYTES bytes"
	# A fixed mtime keeps httpd's Last-Modified and ETag headers, and so the
	# response size, the same on every build.
	touch -d @1700000000 "$rootfs/www/index.html"
	echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
	echo 'root:x:0:' >"$rootfs/etc/group"
	chmod 1777 "$rootfs/tmp"
}

file_is_static() {
	# busybox-static's binary needs no interpreter: no PT_INTERP program header.
	local headers
	headers=$(LC_ALL=C readelf -l "$1" 2>/dev/null) || return 1
	[[ "$headers" != *'Requesting program interpreter'* ]]
}

# container_run NAME DOCKER_RUN_ARGS...: `docker run -d` with the test label,
# registered for removal. NAME must start with berth-test-. Prints the id.
container_run() {
	local name=$1 id
	shift
	[[ "$name" == berth-test-* ]] || die "container_run: name '$name' must start with berth-test-"
	docker rm -f "$name" >/dev/null 2>&1 || true
	register_cleanup docker rm -f "$name"
	id=$(docker run -d --name "$name" --label "$TEST_LABEL=1" "$@") || {
		echo "container_run: docker run $name failed" >&2
		return 1
	}
	printf '%s\n' "$id"
}

# container_ip NAME: the container's address on the default bridge.
container_ip() {
	docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

# ---------------------------------------------------------------- podman

# Debian's podman 4.3 on these machines: `podman run` needs PODMAN_RUN_FLAGS;
# containers land in /libpod_parent/libpod-<id> (cgroupfs manager), on the
# "podman" network (bridge podman0, 10.88.0.0/16), published ports by
# netavark's iptables DNAT (conmon only holds the host port open so nothing
# else takes it; it accepts nothing). The Docker-compatible API is served
# by `podman system service`, which nothing starts at boot here.

podman_installed() {
	command -v podman >/dev/null 2>&1
}

# podman_api_up: the API at PODMAN_SOCKET answers /_ping.
podman_api_up() {
	[ -S "$PODMAN_SOCKET" ] &&
		[ "$(curl -s --max-time 5 --unix-socket "$PODMAN_SOCKET" http://d/_ping 2>/dev/null)" = OK ]
}

# ensure_podman: starts the API service on PODMAN_SOCKET when nothing answers
# there, waits (30 s at most) for it, and stops it at cleanup if it started
# it. Installs nothing: skips (77) when podman or runc is missing; fails when
# the service does not come up.
ensure_podman() {
	local log_file=$BERTH_TEST_TMP/podman-service.log pid i
	if ! podman_installed; then
		skip_because "podman not installed (scripts/install-deps --test)" || return
	fi
	if ! command -v runc >/dev/null 2>&1; then
		skip_because "runc not installed: podman's crun refuses this host's hybrid cgroups (scripts/install-deps --test)" || return
	fi
	podman_api_up && return 0
	mkdir -p "${PODMAN_SOCKET%/*}"
	# Nothing answers, so a socket file left there is stale; the service
	# would refuse to bind over it.
	rm -f "$PODMAN_SOCKET"
	log "starting podman system service on $PODMAN_SOCKET (log: $log_file)"
	# 9>&-: not holding lock_e2e's lock. In the test's process group, so
	# that a test killed by the runner's timeout takes the service with it.
	podman system service --time=0 "unix://$PODMAN_SOCKET" >"$log_file" 2>&1 </dev/null 9>&- &
	pid=$!
	register_cleanup _stop_podman_service "$pid"
	for ((i = 0; i < 60; i++)); do
		podman_api_up && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "ensure_podman: podman system service exited at start; $log_file ends with:" >&2
			tail -n 30 "$log_file" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.5
	done
	echo "ensure_podman: $PODMAN_SOCKET did not answer /_ping within 30 s; $log_file ends with:" >&2
	tail -n 30 "$log_file" >&2 2>/dev/null || true
	return 1
}

# The service removes its socket when it stops cleanly; a KILLed one does
# not, and the next ensure_podman would find a dead socket.
_stop_podman_service() {
	_kill_pid "$1"
	podman_api_up || rm -f "$PODMAN_SOCKET"
}

# ensure_podman_test_image: $TEST_IMAGE in podman's storage (podman names it
# localhost/$TEST_IMAGE:latest), from the same rootfs as Docker's, unless one
# with the current TEST_IMAGE_VERSION label is there.
ensure_podman_test_image() {
	local have rootfs
	have=$(podman image inspect -f "{{ index .Config.Labels \"$TEST_LABEL.image\" }}" "$TEST_IMAGE" 2>/dev/null || true)
	[ "$have" = "$TEST_IMAGE_VERSION" ] && return 0
	rootfs=$(mktemp -d "$BERTH_TEST_TMP/rootfs.XXXXXX")
	make_test_rootfs "$rootfs" || return 1
	tar -C "$rootfs" -c . | podman import -q \
		--change "LABEL $TEST_LABEL.image=$TEST_IMAGE_VERSION" \
		--change 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
	rm -rf "$rootfs"
}

# podman_run NAME PODMAN_RUN_ARGS...: `podman run -d` with the test label and
# PODMAN_RUN_FLAGS, registered for removal. NAME must start with
# berth-test-. Prints the id.
podman_run() {
	local name=$1 id
	shift
	[[ "$name" == berth-test-* ]] || die "podman_run: name '$name' must start with berth-test-"
	podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
	register_cleanup podman rm -f -t 0 "$name"
	# 9>&-: conmon, which outlives `podman run`, would inherit the e2e
	# lock's descriptor and hold the lock for as long as the container runs.
	id=$(podman run -d --name "$name" --label "$TEST_LABEL=1" "${PODMAN_RUN_FLAGS[@]}" "$@" 9>&-) || {
		echo "podman_run: podman run $name failed" >&2
		return 1
	}
	printf '%s\n' "$id"
}

# podman_container_ip NAME: the container's address on podman's network.
podman_container_ip() {
	podman inspect -f '{{.NetworkSettings.IPAddress}}' "$1"
}

# Test containers in podman's storage, by label and by name.
_podman_test_containers() {
	{
		podman ps -a --filter "label=$TEST_LABEL" --format '{{.Names}}' 2>/dev/null
		podman ps -a --filter 'name=^berth-test-' --format '{{.Names}}' 2>/dev/null
	} | sort -u
}

# podman_allow_forward NAME: lets connections from namespace bth-NAME reach
# podman's containers through their published ports. dockerd sets the
# FORWARD policy to DROP and netavark 1.4 accepts there only replies and its
# own subnet's traffic, so a client outside the host whose connection was
# DNATed to a podman container is dropped (the host's own clients are not
# forwarded and need nothing). The rule is removed at cleanup.
podman_allow_forward() {
	local ifname="bth-$1" bridge
	bridge=$(podman network inspect podman -f '{{.NetworkInterface}}' 2>/dev/null || true)
	bridge=${bridge:-podman0}
	register_cleanup iptables -D FORWARD -i "$ifname" -o "$bridge" -m comment --comment berth-test -j ACCEPT
	_must iptables -I FORWARD -i "$ifname" -o "$bridge" -m comment --comment berth-test -j ACCEPT
}

# ---------------------------------------------------------------- iptables

# Filter-table rules the tests added (comment berth-test), as iptables -S
# prints them.
_test_iptables_rules() {
	command -v iptables >/dev/null 2>&1 || return 0
	iptables -S 2>/dev/null | grep -E -- '--comment "?berth-test"?( |$)' || true
}

_sweep_test_iptables_rules() {
	local rule args
	_test_iptables_rules | while IFS= read -r rule; do
		[[ "$rule" == "-A "* ]] || continue
		read -ra args <<<"-D ${rule#-A }"
		iptables "${args[@]}" 2>/dev/null || true
	done
}

# make_test_pki DIR: a CA (DIR/ca.pem) and a certificate for 127.0.0.1 and
# localhost signed by it (DIR/server.pem, DIR/server.key), valid two days,
# good for a server and for a client.
make_test_pki() {
	local dir=$1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
		-days 2 -subj "/CN=berth e2e CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
		-subj "/CN=localhost" 2>/dev/null
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth,clientAuth" \
		"basicConstraints=CA:FALSE" >"$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -out "$dir/server.pem" -days 2 -extfile "$dir/server.ext" 2>/dev/null
	openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null
}

# port_free PORT: true when nothing listens on TCP PORT on any address.
port_free() {
	[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

# free_port FIRST: the first TCP port from FIRST on (100 tried) with no
# listener, so a test does not collide with something else on the host.
free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		port_free "$p" && {
			echo "$p"
			return 0
		}
	done
	echo "free_port: no free TCP port in $1..$(($1 + 99))" >&2
	return 1
}

# wait_tcp ADDR PORT TIMEOUT_S [NETNS]: until one connload request
# (connect, GET, read to EOF) succeeds, from NETNS if given.
wait_tcp() {
	local addr=$1 port=$2 timeout_s=$3 ns=${4:-} deadline target
	deadline=$((SECONDS + timeout_s))
	target="$addr:$port"
	[[ "$addr" == *:* ]] && target="[$addr]:$port"
	while :; do
		if [ -n "$ns" ]; then
			netns_exec "$ns" "$CONNLOAD" --target "$target" --connections 1 \
				--timeout-s 2 --conn-timeout-s 2 >/dev/null 2>&1 && return 0
		else
			"$CONNLOAD" --target "$target" --connections 1 \
				--timeout-s 2 --conn-timeout-s 2 >/dev/null 2>&1 && return 0
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "wait_tcp: $target${ns:+ (from netns $ns)} not answering after ${timeout_s}s" >&2
			return 1
		fi
		sleep 0.2
	done
}

# connload ARGS...: build/tools/connload, its JSON line on stdout.
connload() {
	"$CONNLOAD" "$@"
}

# ---------------------------------------------------------------- netns

# Filled by netns_create, keyed by NAME, read by the tests.
# shellcheck disable=SC2034
declare -A NS_IFACE NS_HOST4 NS_PEER4 NS_HOST6 NS_PEER6

# netns_create NAME HOST_ADDR PEER_ADDR [PREFIXLEN]
#   Namespace bth-NAME, joined to the root namespace by a veth pair: bth-NAME
#   on the host (HOST_ADDR), eth0 in the namespace (PEER_ADDR), both IPv4
#   from 198.51.100.0/24 (PREFIXLEN, default 24; use /28s for several
#   namespaces at once). IPv6 follows the IPv4 plan: 2001:db8:0:S::H/64,
#   S the IPv4 subnet's last octet and H each address's, so the default is
#   2001:db8::1 and 2001:db8::2 for .1 and .2. DAD is off so IPv6 is usable
#   at once. No default route: the namespace reaches its host side only.
#   NAME: at most 11 characters (interface names have 15).
netns_create() {
	local name=$1 host4=$2 peer4=$3 plen=${4:-24}
	local ns="bth-$name" subnet host_oct peer_oct mask net_oct
	[ ${#ns} -le 15 ] || die "netns_create: name '$name' longer than 11 characters"
	[[ "$host4" == 198.51.100.* && "$peer4" == 198.51.100.* ]] ||
		die "netns_create: addresses must be in 198.51.100.0/24 (got $host4, $peer4)"
	host_oct=${host4##*.}
	peer_oct=${peer4##*.}
	mask=$(((0xff << (32 - plen)) & 0xff))
	[ "$plen" -ge 24 ] || mask=0
	net_oct=$((host_oct & mask))
	subnet=$(printf '%x' "$net_oct")

	ip netns del "$ns" 2>/dev/null || true
	ip link del "$ns" 2>/dev/null || true
	register_cleanup ip link del "$ns"
	register_cleanup ip netns del "$ns"
	_must ip netns add "$ns" || return 1
	_must ip link add "$ns" type veth peer name eth0 netns "$ns" || return 1
	# No IPv6 DAD on either side: the addresses are usable at once.
	sysctl -qw "net.ipv6.conf.$ns.accept_dad=0" 2>/dev/null || true
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 2>/dev/null || true
	_must ip addr add "$host4/$plen" dev "$ns" || return 1
	_must ip -6 addr add "2001:db8:0:$subnet::$(printf '%x' "$host_oct")/64" dev "$ns" nodad || return 1
	_must ip link set "$ns" up || return 1
	_must ip -n "$ns" link set lo up || return 1
	_must ip -n "$ns" addr add "$peer4/$plen" dev eth0 || return 1
	_must ip -n "$ns" -6 addr add "2001:db8:0:$subnet::$(printf '%x' "$peer_oct")/64" dev eth0 nodad || return 1
	_must ip -n "$ns" link set eth0 up || return 1

	NS_IFACE[$name]=$ns
	NS_HOST4[$name]=$host4
	NS_PEER4[$name]=$peer4
	# Canonical form (2001:db8:0:0::1 -> 2001:db8::1).
	NS_HOST6[$name]=$(ip -6 -o addr show dev "$ns" scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
	NS_PEER6[$name]=$(ip -n "$ns" -6 -o addr show dev eth0 scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
	_wait_link_up "$ns" || return 1
}

# _must CMD...: runs CMD; on failure says which command failed.
_must() {
	"$@" || {
		local rc=$?
		echo "command failed (exit $rc): $*" >&2
		return $rc
	}
}

_wait_link_up() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ "$(ip -o link show "$1" 2>/dev/null)" == *LOWER_UP* ]] && return 0
		sleep 0.1
	done
	echo "netns_create: $1 did not come up" >&2
	return 1
}

# netns_exec NAME CMD...: runs CMD inside namespace bth-NAME.
netns_exec() {
	local name=$1
	shift
	ip netns exec "bth-$name" "$@"
}

# ---------------------------------------------------------------- proof of cleanup

# assert_clean: nothing a test makes remains. Prints each leftover and
# returns 1 if any: test containers, bth-* links and namespaces, XDP
# programs on any interface that are berth's or on a bth-* one, and berth's
# programs attached at the cgroup2 root or loaded at all. Teardown is partly
# asynchronous (a container's veth, a closing process's programs), so it
# looks again for up to BERTH_CLEAN_WAIT_S (5) seconds before it fails.
assert_clean() {
	local report deadline=$((SECONDS + ${BERTH_CLEAN_WAIT_S:-5}))
	while :; do
		report=$(_leftovers)
		[ -z "$report" ] && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.5
	done
	printf '%s\n' "$report" >&2
	return 1
}

# _leftovers: prints one paragraph per kind of leftover; nothing if clean.
_leftovers() {
	local left cg2 names_re
	names_re=$(
		IFS='|'
		echo "${BERTH_PROG_NAMES[*]}"
	)
	if docker_up; then
		left=$( (
			docker ps -a --filter "label=$TEST_LABEL" --format '{{.Names}}'
			docker ps -a --filter 'name=^/?berth-test-' --format '{{.Names}}'
		) | sort -u)
		if [ -n "$left" ]; then
			echo "LEFTOVER containers: $left"
		fi
	fi
	if podman_installed; then
		left=$(_podman_test_containers)
		if [ -n "$left" ]; then
			echo "LEFTOVER podman containers: ${left//$'\n'/ }"
		fi
	fi
	left=$(_test_iptables_rules)
	if [ -n "$left" ]; then
		echo "LEFTOVER iptables rules:"
		echo "$left"
	fi
	left=$(_test_links)
	if [ -n "$left" ]; then
		echo "LEFTOVER links: ${left//$'\n'/ }"
	fi
	left=$(ip netns list 2>/dev/null | awk '$1 ~ /^bth-/ {print $1}')
	if [ -n "$left" ]; then
		echo "LEFTOVER network namespaces: ${left//$'\n'/ }"
	fi
	left=$(_xdp_leftovers "$names_re")
	if [ -n "$left" ]; then
		echo "LEFTOVER XDP programs: $left"
	fi
	if command -v bpftool >/dev/null 2>&1; then
		if cg2=$(find_cgroup2_mount 2>/dev/null); then
			left=$(bpftool cgroup show "$cg2" 2>/dev/null | grep -Ew "$names_re" || true)
			if [ -n "$left" ]; then
				echo "LEFTOVER programs attached at cgroup2 root $cg2:"
				echo "$left"
			fi
		fi
		left=$(bpftool prog show 2>/dev/null | grep -Ew "name ($names_re)" || true)
		if [ -n "$left" ]; then
			echo "LEFTOVER berth programs still loaded (a berth process or a pin holds them):"
			echo "$left"
		fi
	fi
}

# XDP programs on bth-* links, and XDP programs named like berth's anywhere.
_xdp_leftovers() {
	local re=$1 line ifname id name
	{ ip -d -o link show 2>/dev/null | grep -E 'xdp' || true; } | while read -r line; do
		ifname=$(echo "$line" | awk -F': ' '{sub(/@.*/, "", $2); print $2}')
		id=$(echo "$line" | grep -oE 'prog/xdp id [0-9]+' | awk '{print $3}' | head -n 1)
		name=""
		[ -n "$id" ] && name=$(bpftool prog show id "$id" 2>/dev/null | grep -oE 'name [A-Za-z0-9_]+' | awk '{print $2}')
		if [[ "$ifname" == bth-* ]] || [[ "$name" =~ ^($re)$ ]]; then
			printf '%s(prog %s %s) ' "$ifname" "${id:-?}" "${name:-?}"
		fi
	done
}
