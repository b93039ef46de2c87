# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Kubernetes containers under containerd and CRI-O. No Kubernetes, containerd
# or CRI-O runs on these machines, so these tests are half real, half
# fixture: the cgroup and the process in it are real (a cgroup made in the
# real cgroup2 hierarchy with the runtime's layout, a real listener moved
# into it, real connections, berth's real programs), while the runtime's
# state directory is the fixture tree of tests/fixtures/oci (config.json
# files modelled on what containerd and CRI-O write), given to berth with
# --oci-root.

OCI_FIXTURES=$BERTH_ROOT/tests/fixtures/oci

# _kube_listener CGROUP_REL PORT: a busybox httpd on 127.0.0.1:PORT, moved
# into the cgroup CGROUP_REL (made here, removed at cleanup) before it opens
# its socket. Prints its pid.
_kube_listener() {
	local cg2 dir pid www=$BERTH_TEST_TMP/www
	cg2=$(find_cgroup2_mount)
	dir=$cg2/$1
	mkdir -p "$dir" "$www"
	echo kube >"$www/index.html"
	register_cleanup _remove_cgroup_tree "$cg2" "$1"
	# The shell puts itself in the cgroup, then becomes httpd.
	sh -c 'echo $$ >"$1/cgroup.procs" && exec busybox httpd -f -p "127.0.0.1:$2" -h "$3"' \
		_ "$dir" "$2" "$www" 9>&- &
	pid=$!
	register_cleanup _kill_pid "$pid"
	echo "$pid"
}

# _remove_cgroup_tree MOUNT REL: moves what is left to the root, removes
# the directories bottom-up, up to the first one the test did not make.
_remove_cgroup_tree() {
	local mnt=$1 rel=$2 p
	while read -r p; do
		echo "$p" >"$mnt/cgroup.procs" 2>/dev/null || true
	done <"$mnt/$rel/cgroup.procs" 2>/dev/null
	while [[ "$rel" == kubepods* ]]; do
		rmdir "$mnt/$rel" 2>/dev/null || true
		rel=${rel%/*}
		[[ "$rel" == */* ]] || { rmdir "$mnt/$rel" 2>/dev/null || true; break; }
	done
}

_kube_case() { # NAME ROOT CGROUP_REL WANT_RUNTIME WANT_NAME WANT_POD WANT_NS
	local out=$BERTH_TEST_TMP/$1.json err=$BERTH_TEST_TMP/$1.err berth_pid port
	local accepted='.event.action == "connection-accepted"'
	port=$(free_port 18600)
	start_berth berth_pid "$out" "$err" watch --interval 1 --oci-root "$2"
	_kube_listener "$3" "$port" >/dev/null
	wait_tcp 127.0.0.1 "$port" 10
	"$CONNLOAD" --target "127.0.0.1:$port" --connections 5 --timeout-s 10 >/dev/null
	wait_for_json "$out" "$accepted and .destination.port == $port" 6 10
	assert_eq 0 "$(jq_count "$out" "$accepted and .destination.port == $port and .container.name != \"$5\"")" \
		"$1: records without the Kubernetes container name"
	assert_eq "\"$4\"" "$(jq_first "$out" "$accepted and .destination.port == $port" .container.runtime)" "$1: runtime"
	assert_eq "\"$6\"" "$(jq_first "$out" "$accepted and .destination.port == $port" .orchestrator.resource.name)" "$1: pod"
	assert_eq "\"$7\"" "$(jq_first "$out" "$accepted and .destination.port == $port" .orchestrator.namespace)" "$1: namespace"
	assert_eq '"kubernetes"' "$(jq_first "$out" "$accepted and .destination.port == $port" .orchestrator.type)" "$1: orchestrator"
	stop_process "$berth_pid"
}

# containerd's systemd layout: kubepods.slice/.../cri-containerd-<id>.scope.
test_kubernetes_containerd_systemd_layout() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	local id=13e97772e89c4e9f66227d3e923f4d6c7b999b8aa5196e7ccf481c9fd594516b uid=3c1d2e4f_5a6b_7c8d_9e0f_a1b2c3d4e5f6
	local root=$OCI_FIXTURES/containerd cfg want_name want_pod want_ns
	cfg=$root/run/containerd/io.containerd.runtime.v2.task/k8s.io/$id/config.json
	want_name=$(jq -r '.annotations["io.kubernetes.cri.container-name"]' "$cfg")
	want_pod=$(jq -r '.annotations["io.kubernetes.cri.sandbox-name"]' "$cfg")
	want_ns=$(jq -r '.annotations["io.kubernetes.cri.sandbox-namespace"]' "$cfg")
	_kube_case containerd "$root" \
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$uid.slice/cri-containerd-$id.scope" \
		containerd "$want_name" "$want_pod" "$want_ns"
}

# CRI-O's cgroupfs layout: /kubepods/besteffort/pod<uid>/<id>.
test_kubernetes_crio_cgroupfs_layout() {
	require_root || return $?
	require_berth || return $?
	require_connload || return $?
	local root=$OCI_FIXTURES/crio cfg id want_name want_pod want_ns
	cfg=$(find "$root/run" -name config.json | head -n 1)
	id=$(basename "$(dirname "$(dirname "$cfg")")")
	want_name=$(jq -r '.annotations["io.kubernetes.container.name"]' "$cfg")
	want_pod=$(jq -r '.annotations["io.kubernetes.pod.name"]' "$cfg")
	want_ns=$(jq -r '.annotations["io.kubernetes.pod.namespace"]' "$cfg")
	_kube_case crio "$root" "kubepods/besteffort/pod0a1b2c3d-0000-4000-8000-000000000001/$id" \
		cri-o "$want_name" "$want_pod" "$want_ns"
}
