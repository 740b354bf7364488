#!/usr/bin/env bash
# bench rpc: net/ RPC throughput and round trips, client and server node in
# two processes on loopback (build/bench/rpc_bench: 127.0.9.11 -> .12, each
# net_ctx configured like mmfsd's: 1 I/O thread, 4 workers).
#
#   rpc.bulk.{plain,authonly,encrypted}  1 MiB requests with empty replies,
#       8 in flight on one connection (cipherList EMPTY, AUTHONLY,
#       AES128-GCM-SHA256 = TLS_AES_128_GCM_SHA256), request bytes per
#       second; baseline: iperf3, one TCP stream on loopback, measured just
#       before and just after them (the mean of the two).
#   rpc.rtt.sync       64-byte echo, net_call() in a loop
#   rpc.rtt.pipelined  64-byte echo, 32 net_call_async() in flight
#       Both AUTHONLY (the default cipherList) with a NET_H_INLINE handler;
#       baseline: build/bench/pingpong, blocking send/recv with TCP_NODELAY
#       and the same message size, depth 1 and 32. The same figures with a
#       worker-pool handler are printed as info lines.
#
# Durations: BENCH_RPC_SECONDS (bulk, default 4), BENCH_RTT_SECONDS (3),
# BENCH_IPERF_SECONDS (5); BENCH_IPERF_PORT (25201). Builds nothing (bench/run
# runs make); everything it starts it stops by pid.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/bench
bulk_s=${BENCH_RPC_SECONDS:-4}
rtt_s=${BENCH_RTT_SECONDS:-3}
iperf_s=${BENCH_IPERF_SECONDS:-5}
iperf_ip=127.0.9.21
iperf_port=${BENCH_IPERF_PORT:-25201}
rc=0

for b in rpc_bench pingpong; do
	[[ -x $bin/$b ]] || { echo "bench rpc: $bin/$b is missing (make)"; exit 1; }
done
for t in iperf3 jq ss; do
	command -v "$t" >/dev/null || { echo "bench rpc: $t is not installed"; exit 1; }
done

iperf_pid=""
cleanup() {
	if [[ -n $iperf_pid ]]; then
		kill "$iperf_pid" 2>/dev/null
		wait "$iperf_pid" 2>/dev/null
		iperf_pid=""
	fi
}
trap cleanup EXIT

kv() { # key line: the value of key=value in line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
aim() { # name ratio_or_value min
	local verdict
	verdict=$(awk -v v="$2" -v m="$3" 'BEGIN { print (v >= m ? "met" : "NOT met") }')
	echo "aim: $1 $2 >= $3 $verdict"
}

# One iperf3 single-stream run: MB/s (10^6 bytes/s) into $iperf_mbps.
iperf_mbps=""
iperf() {
	local json
	iperf_mbps=""
	if ss -Hltn "src $iperf_ip:$iperf_port" | grep -q .; then
		echo "bench rpc: port $iperf_ip:$iperf_port is taken" >&2
		return 1
	fi
	iperf3 -s -B "$iperf_ip" -p "$iperf_port" -1 >/dev/null 2>&1 &
	iperf_pid=$!
	for _ in $(seq 1 50); do
		ss -Hltn "src $iperf_ip:$iperf_port" | grep -q . && break
		kill -0 "$iperf_pid" 2>/dev/null || break
		sleep 0.1
	done
	json=$(iperf3 -c "$iperf_ip" -p "$iperf_port" -t "$iperf_s" -J 2>/dev/null)
	cleanup
	iperf_mbps=$(jq -r '.end.sum_received.bits_per_second // empty | . / 8e6 | floor' \
		<<<"$json" 2>/dev/null)
	if [[ -z $iperf_mbps ]]; then
		echo "bench rpc: iperf3 failed: $(jq -r '.error // "no output"' <<<"$json" 2>/dev/null)" >&2
		return 1
	fi
}

# run NAME ARGS...: run build/bench/ARGS, show its line, keep it in $out.
out=""
run() {
	local name=$1
	shift
	out=$("$bin/$@" 2>&1 | tail -n 1)
	echo "  $name: $out"
	if [[ $out != *rate=* ]]; then
		echo "bench rpc: $name failed" >&2
		rc=1
		return 1
	fi
}

echo "note: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
	"other processes share the CPUs, compare ratios"

# ---- bulk ------------------------------------------------------------------
iperf || rc=1
ip1=$iperf_mbps
echo "  iperf3 (before): ${ip1:-failed} MB/s"
declare -A bulk bulk_cpu
for m in plain:EMPTY authonly:AUTHONLY encrypted:AES128-GCM-SHA256; do
	name=${m%%:*}
	if run "rpc.bulk.$name" rpc_bench bulk -c "${m#*:}" -t "$bulk_s"; then
		bulk[$name]=$(kv mbps "$out")
		bulk_cpu[$name]=$(kv cpu_us "$out")
	fi
done
iperf || rc=1
ip2=$iperf_mbps
echo "  iperf3 (after): ${ip2:-failed} MB/s"
if [[ -n $ip1 && -n $ip2 ]]; then
	base=$(awk -v a="$ip1" -v b="$ip2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
else
	base=${ip1:-${ip2:-0}}
fi
for name in plain authonly encrypted; do
	[[ -n ${bulk[$name]:-} ]] || continue
	printf 'result: rpc.bulk.%s %.0f MB/s ratio %s vs iperf3=%.0fMB/s\n' "$name" \
		"${bulk[$name]}" "$(ratio "${bulk[$name]}" "$base")" "$base"
done
for name in plain authonly encrypted; do
	[[ -n ${bulk_cpu[$name]:-} ]] &&
		printf 'info: rpc.bulk.%s.cpu %.0f us/MiB (CPU of client and server per request)\n' \
			"$name" "${bulk_cpu[$name]}"
done

# ---- round trips -----------------------------------------------------------
pp1="" pp32="" sync="" pipe="" wsync="" wpipe="" sync_cpu="" pipe_cpu=""
run pingpong.d1 pingpong -S 64 -d 1 -t "$rtt_s" && pp1=$(kv rate "$out")
run rpc.rtt.sync rpc_bench rtt -c AUTHONLY -S 64 -d 1 -t "$rtt_s" &&
	{ sync=$(kv rate "$out"); sync_cpu=$(kv cpu_us "$out"); }
run pingpong.d32 pingpong -S 64 -d 32 -t "$rtt_s" && pp32=$(kv rate "$out")
run rpc.rtt.pipelined rpc_bench rtt -c AUTHONLY -S 64 -d 32 -t "$rtt_s" &&
	{ pipe=$(kv rate "$out"); pipe_cpu=$(kv cpu_us "$out"); }
run rpc.rtt.sync.worker rpc_bench rtt -c AUTHONLY -S 64 -d 1 -H worker -t "$rtt_s" &&
	wsync=$(kv rate "$out")
run rpc.rtt.pipelined.worker rpc_bench rtt -c AUTHONLY -S 64 -d 32 -H worker -t "$rtt_s" &&
	wpipe=$(kv rate "$out")

echo "note: rpc.rtt.* use AUTHONLY (the default cipherList), 64-byte request and" \
	"reply, NET_H_INLINE echo handler; pipelined: 32 calls in flight, each reply" \
	"callback issuing the next; baselines: pingpong depth 1 and depth 32"
[[ -n $sync && -n $pp1 ]] &&
	printf 'result: rpc.rtt.sync %.0f calls/s ratio %s vs pingpong=%.0f/s\n' \
		"$sync" "$(ratio "$sync" "$pp1")" "$pp1"
[[ -n $pipe && -n $pp32 ]] &&
	printf 'result: rpc.rtt.pipelined %.0f calls/s ratio %s vs pingpong.d32=%.0f/s\n' \
		"$pipe" "$(ratio "$pipe" "$pp32")" "$pp32"
[[ -n $wsync && -n $pp1 ]] &&
	printf 'info: rpc.rtt.sync.worker %.0f calls/s ratio %s vs pingpong=%.0f/s (worker-pool handler)\n' \
		"$wsync" "$(ratio "$wsync" "$pp1")" "$pp1"
[[ -n $wpipe && -n $pp32 ]] &&
	printf 'info: rpc.rtt.pipelined.worker %.0f calls/s ratio %s vs pingpong.d32=%.0f/s (worker-pool handler)\n' \
		"$wpipe" "$(ratio "$wpipe" "$pp32")" "$pp32"

[[ -n $sync_cpu ]] && printf 'info: rpc.rtt.sync.cpu %.1f us/call (CPU of client and server)\n' "$sync_cpu"
[[ -n $pipe_cpu ]] && printf 'info: rpc.rtt.pipelined.cpu %.1f us/call (CPU of client and server)\n' "$pipe_cpu"

# ---- aims ------------------------------------------------------------------
[[ -n ${bulk[authonly]:-} && $base != 0 ]] &&
	aim rpc.bulk.authonly.ratio "$(ratio "${bulk[authonly]}" "$base")" 0.8
[[ -n ${bulk[encrypted]:-} && $base != 0 ]] &&
	aim rpc.bulk.encrypted.ratio "$(ratio "${bulk[encrypted]}" "$base")" 0.4
[[ -n $sync ]] && aim rpc.rtt.sync.calls/s "$(printf '%.0f' "$sync")" 30000
exit $rc
