# tests/integration/lib.sh - helpers for multi-node tests on loopback.
#
# A test sources this file, calls `mm_setup NAME`, builds a cluster with
# `mm_cluster PREFIX NODES QUORUM` (nodes PREFIX.1 .. PREFIX.N, the first
# QUORUM of them quorum-manager nodes), and reports with pass/fail/skip.
# Every daemon a test starts is stopped by pid on exit (mm_cleanup), and
# so is any etcd left under the test's state root.

set -u
MM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MMFS_BIN=${MMFS_BIN:-$MM_TOP/bin}
export PATH=$MMFS_BIN:$PATH
MM_FAILS=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; MM_FAILS=$((MM_FAILS + 1)); }
skip() { echo "SKIP: $*"; }
note() { echo "  .. $*"; }

# check DESCRIPTION COMMAND...: pass if the command succeeds
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

mm_setup() {
	MM_TEST=$1
	MMFS_ROOT=$(mktemp -d "/tmp/mmfs-$MM_TEST.XXXXXX")
	export MMFS_ROOT
	unset MMFS_NODE
	trap mm_cleanup EXIT
	if [[ ${MMFS_TEST_ASAN:-0} == 1 ]]; then
		# detached daemons write stderr to <state>/mmfsd.stderr (mm_done reads it)
		export ASAN_OPTIONS="detect_leaks=0"
		export UBSAN_OPTIONS="print_stacktrace=1"
	fi
	# small timeouts so failures show within seconds
	cat >"$MMFS_ROOT/test.cfg" <<CFG
attributes = {
  failureDetectionTime = ${MM_FDT:-4};
  leaseRecoveryWait = ${MM_LRW:-4};
  ccrHeartbeatMs = 50;
  ccrElectionTimeoutMs = 500;
  pagepool = "64M";
  prefetchThreads = 4;
  ${MM_EXTRA_ATTRS:-}
};
CFG
}

# all pids of daemons and etcd members under this test's root
mm_pids() {
	local f
	local p
	for f in "$MMFS_ROOT"/*/mmfsd.pid; do
		[[ -f $f ]] || continue
		p=$(cat "$f" 2>/dev/null)
		[[ -n $p ]] && kill -0 "$p" 2>/dev/null && echo "$p"
	done
	pgrep -f "data-dir $MMFS_ROOT/" 2>/dev/null || true
	pgrep -f "data-dir=$MMFS_ROOT/" 2>/dev/null || true
}

mm_cleanup() {
	local pids p
	pids=$(mm_pids | sort -u)
	for p in $pids; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 30); do
		local any=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && any=1; done
		[[ $any -eq 0 ]] && break
		sleep 0.1
	done
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	if [[ ${MM_KEEP:-0} == 1 || $MM_FAILS -gt 0 ]]; then
		local logdir=${MMFS_TEST_LOGS:-$MM_TOP/build/test-logs}/$MM_TEST
		mkdir -p "$logdir"
		for d in "$MMFS_ROOT"/*/; do
			local n; n=$(basename "$d")
			[[ -f $d/mmfs.log ]] && cp "$d/mmfs.log" "$logdir/$n.mmfs.log"
			# every run's log (mmfs.log is this run's), and stderr
			local f
			for f in "$d"/mmfs.log.2*; do [[ -f $f ]] && cp "$f" "$logdir/$n.${f##*/}"; done
			[[ -s $d/mmfsd.stderr ]] && cp "$d/mmfsd.stderr" "$logdir/$n.mmfsd.stderr"
			[[ -f $d/etcd.log ]] && tail -200 "$d/etcd.log" >"$logdir/$n.etcd.log"
		done
		echo "  .. logs kept in $logdir"
	fi
	rm -rf "$MMFS_ROOT"
	[[ -n ${MM_EXTRA_CLEANUP:-} ]] && eval "$MM_EXTRA_CLEANUP"
	return 0
}

# mm_cluster PREFIX N Q: create a cluster of N nodes on PREFIX.1..N, the
# first Q quorum-manager, the rest client nodes.
mm_cluster() {
	local prefix=$1 n=$2 q=$3 spec="" i
	MM_NODES=()
	for i in $(seq 1 "$n"); do
		MM_NODES+=("$prefix.$i")
		if [[ $i -le $q ]]; then spec+="$prefix.$i:quorum-manager,"; else spec+="$prefix.$i,"; fi
	done
	# shellcheck disable=SC2086 # MM_CRFLAGS holds several options
	mmcrcluster -N "${spec%,}" -C "$MM_TEST" -c "$MMFS_ROOT/test.cfg" ${MM_CRFLAGS:-} >"$MMFS_ROOT/mmcrcluster.out" 2>&1 || {
		cat "$MMFS_ROOT/mmcrcluster.out"; return 1; }
}

# state of one node as it reports itself: active, arbitrating, down, unknown
mm_state() {
	mmgetstate -Y -N "$1" 2>/dev/null | awk -F: '$3=="0"{print $9}'
}

# mm_wait_state NODE STATE [SECONDS]
mm_wait_state() {
	local node=$1 want=$2 t=${3:-30} end s
	end=$(($(date +%s) + t))
	while [[ $(date +%s) -le $end ]]; do
		s=$(mm_state "$node")
		[[ $s == "$want" ]] && return 0
		sleep 0.2
	done
	note "node $node is '$(mm_state "$node")', expected '$want' within ${t}s"
	return 1
}

# mm_wait_all STATE SECONDS NODE...
mm_wait_all() {
	local want=$1 t=$2; shift 2
	local n ok=0
	for n in "$@"; do mm_wait_state "$n" "$want" "$t" || ok=1; done
	return $ok
}

mm_pid() { cat "$MMFS_ROOT/$1/mmfsd.pid" 2>/dev/null; }

# cluster manager number as seen by NODE
mm_cm() {
	MMFS_NODE=$1 mmdiag --stats 2>/dev/null | sed -n 's/.*cluster manager \([0-9]*\).*/\1/p'
}

# mmfs.log of NODE's current (or last) run; mm_log_all: of all its runs, oldest first
mm_log() { cat "$MMFS_ROOT/$1/mmfs.log" 2>/dev/null; }
mm_log_all() { ls -tr "$MMFS_ROOT/$1"/mmfs.log.2* 2>/dev/null | xargs -r cat; }

# A one-node cluster on prefix $1 with three 512M NSDs (c1..c3, failure
# groups 1..3) and file system fs1 on them (-B 256K -m 2) at
# $MMFS_ROOT/gpfs/fs1, not mounted. Non-zero (with a FAIL) if a step fails.
# mm_fs1_on_one_node PREFIX [DISK_SIZE [MMCRFS_OPTION...]]: a one-node
# cluster, three NSDs of DISK_SIZE (512M) in three failure groups, and fs1
# made with the options (-B 256K -m 2 -M 2), not mounted
mm_fs1_on_one_node() {
	local P=$1 size=${2:-512M} D=$MMFS_ROOT/disks out
	shift $(($# < 2 ? $# : 2))
	local opts=("$@")
	[[ ${#opts[@]} -eq 0 ]] && opts=(-B 256K -m 2 -M 2)
	mm_cluster $P 1 1 || { fail "mmcrcluster"; return 1; }
	mmstartup -a >/dev/null || fail "mmstartup -a"
	mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster active" || { fail "cluster active"; return 1; }
	chmod 755 "$MMFS_ROOT"	# the unprivileged user of the tests reaches the mount
	mmcrnsd --mkdisk $D/d1:$size,$D/d2:$size,$D/d3:$size >/dev/null || fail "mkdisk"
	cat >$MMFS_ROOT/disks.stanza <<STANZA
%nsd: device=$D/d1 nsd=c1 servers=$P.1 failureGroup=1
%nsd: device=$D/d2 nsd=c2 servers=$P.1 failureGroup=2
%nsd: device=$D/d3 nsd=c3 servers=$P.1 failureGroup=3
STANZA
	mmcrnsd -F $MMFS_ROOT/disks.stanza >/dev/null 2>&1 || { fail "mmcrnsd"; return 1; }
	out=$(mmcrfs fs1 -F $MMFS_ROOT/disks.stanza "${opts[@]}" -T $MMFS_ROOT/gpfs/fs1 -A no 2>&1) &&
		pass "mmcrfs fs1 (${opts[*]}, disks of $size)" || { echo "$out"; fail "mmcrfs fs1"; return 1; }
}

# An EXIT trap for tests that mount: detach whatever fuse.mmfs mount is
# left under this test's root (a failed check, a killed daemon) before
# the root is removed, then the usual cleanup.
mm_mount_cleanup() {
	local mp
	for mp in $(awk -v r="$MMFS_ROOT/" '$3=="fuse.mmfs" && index($2, r)==1 {print $2}' /proc/mounts); do
		umount -l "$mp" 2>/dev/null
	done
	mm_cleanup
}

mm_done() {
	local f
	for f in "$MMFS_ROOT"/*/mmfsd.stderr; do
		[[ -f $f ]] || continue
		grep -qE "runtime error|ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer" "$f" || continue
		fail "sanitizer report in $f"
		head -40 "$f"
	done
	[[ $MM_FAILS -eq 0 ]]
}
