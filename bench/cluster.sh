#!/usr/bin/env bash
# bench cluster: cluster manager failover time.
#
# Seconds from kill -9 of the cluster manager's mmfsd until a surviving
# node reports a new cluster manager, median and max over BENCH_TRIALS
# (default 20) trials, once with test timeouts (failureDetectionTime 4)
# and once with the defaults (35). The baseline is failureDetectionTime
# itself: the lease TTL is the floor for detecting a dead manager without
# a hint from the operating system, so the ratio shows the overhead on top.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/tests/integration/lib.sh"
trials=${BENCH_TRIALS:-20}

measure() { # $1 = label, $2 = fdt
	local label=$1 fdt=$2 times=() cm victim new t0 t1 n
	MM_FDT=$fdt MM_LRW=$fdt mm_setup "bench-failover-$label" >/dev/null
	mm_cluster 127.1.9 3 3 >/dev/null || { echo "bench: mmcrcluster failed"; return 1; }
	mmstartup -a >/dev/null
	mm_wait_all active 60 "${MM_NODES[@]}" >/dev/null || { echo "bench: cluster did not start"; return 1; }
	for i in $(seq 1 "$trials"); do
		cm=""
		for _ in $(seq 1 300); do cm=$(mm_cm 127.1.9.1); [[ -n $cm && $cm != 0 ]] && break
			cm=$(mm_cm 127.1.9.2); [[ -n $cm && $cm != 0 ]] && break; sleep 0.1; done
		victim=127.1.9.$cm
		n=127.1.9.$(( cm % 3 + 1 ))
		kill -9 "$(mm_pid "$victim")"
		t0=$(date +%s%N)
		for _ in $(seq 1 $((fdt * 40 + 200))); do
			new=$(mm_cm "$n")
			[[ -n $new && $new != 0 && $new != "$cm" ]] && break
			sleep 0.05
		done
		t1=$(date +%s%N)
		times+=("$(( (t1 - t0) / 1000000 ))")
		rm -f "$MMFS_ROOT/$victim/mmfsd.pid"
		mmstartup -N "$victim" >/dev/null
		mm_wait_state "$victim" active $((fdt * 3 + 30)) >/dev/null
	done
	mm_cleanup >/dev/null
	trap - EXIT
	local sorted med max
	sorted=($(printf '%s\n' "${times[@]}" | sort -n))
	med=${sorted[$(( ${#sorted[@]} / 2 ))]}
	max=${sorted[-1]}
	echo "  trials (ms): ${times[*]}"
	printf 'result: cluster.failover.%s.median %.2f s ratio %.2f vs failureDetectionTime=%ds\n' \
		"$label" "$(echo "$med/1000" | bc -l)" "$(echo "$med/1000/$fdt" | bc -l)" "$fdt"
	printf 'result: cluster.failover.%s.max %.2f s ratio %.2f vs failureDetectionTime=%ds\n' \
		"$label" "$(echo "$max/1000" | bc -l)" "$(echo "$max/1000/$fdt" | bc -l)" "$fdt"
}

measure testtimeouts 4
[[ ${BENCH_SKIP_DEFAULTS:-0} == 1 ]] || measure defaults 35
