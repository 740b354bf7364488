#!/usr/bin/env bash
# bench tokens: the token manager (tokens/), build/bench/tokens_bench.
#
#   tokens.memory  server bytes per token at 1,000,000 tokens (one record
#       each), created by tok_server_recv of encoded acquires, measured
#       with mallinfo2; ratio vs the issue's aim, 128 bytes (lower is better).
#   tokens.scale.N  a simulated cluster in one process (tokens_bench scale):
#       N = 10, 100, 1000 client nodes and 1 token server (then 4), each
#       client writing 512 blocks of 64 KiB of its own 1 MiB stripes of 8
#       shared files (BR tokens, xw, desired range = the stripe, 2 workers
#       per node); messages per operation, ratio vs N = 10 (aim: they do
#       not grow). tokens.scale.N.server_rate: acquires and relinquishes a
#       server handles per second of its own time (tok_server_recv), ratio
#       vs N = 10. Info lines: server messages per operation and per second
#       of wall time, the same clients then writing their neighbours'
#       stripes (each stripe a conflict, revoke and grant), 1 worker, ws.
#       Clusters under 1000 nodes run 1000/N times (fresh each time), so
#       every size is timed over 512,000 operations.
#
#   Over net/ (tokens/toknet.h): toknets in one process, each with its own
#   net_ctx (NET_SEC_PLAIN, 1 I/O thread, 4 workers, like mmfsd's) on
#   127.0.9.41 (node 1, the token server of the space, and a client) and
#   127.0.9.42 (node 2, a client); no revoke callbacks unless stated.
#   tokens.local  toknet_acquire + toknet_release of a token node 1 already
#       caches, one thread, pairs per second; baseline: an uncontended
#       pthread_mutex lock + unlock pair in the same program.
#   tokens.grant  new tokens (a new inode, ro, each) node 1's server grants
#       to node 2, 32 threads each acquiring and releasing in a loop (32 in
#       flight, as rpc.rtt.pipelined); grants per second; baseline:
#       rpc.rtt.pipelined measured just before and just after the grant
#       runs (their mean), exactly as bench/rpc.sh does (rpc_bench rtt -c
#       AUTHONLY -S 64 -d 32, two processes).
#       Info: 8 and 64 threads, and 32 with revoke callbacks registered.
#   tokens.pingpong  a thread on each node takes one inode token xw in
#       turn (a shared turn variable), each take after the first a
#       conflict, a revoke and a grant; switches per second; baseline:
#       rpc.rtt.sync measured just before and just after (their mean;
#       rpc_bench rtt -c AUTHONLY -S 64 -d 1). Info: the same with a no-op revoke callback on each node
#       (the revoke-thread path).
#
# Durations: BENCH_TOKENS_OPS (blocks per client, default 512),
# BENCH_TOKENS_SECONDS (each toknet and rpc measurement, default 3). Builds
# nothing (bench/run runs make).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/bench
ops=${BENCH_TOKENS_OPS:-512}
secs=${BENCH_TOKENS_SECONDS:-3}
rc=0

for b in tokens_bench rpc_bench; do
	[[ -x $bin/$b ]] || { echo "bench tokens: $bin/$b is missing (make)"; exit 1; }
done

kv() { # key line: the value of key=value in line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
aim_ge() { # name value min
	echo "aim: $1 $2 >= $3 $(awk -v v="$2" -v m="$3" 'BEGIN { print (v >= m ? "met" : "NOT met") }')"
}
aim_le() { # name value max
	echo "aim: $1 $2 <= $3 $(awk -v v="$2" -v m="$3" 'BEGIN { print (v <= m ? "met" : "NOT met") }')"
}

# run NAME ARGS...: run build/bench/ARGS, show its lines, keep them in $out.
out=""
run() {
	local name=$1
	shift
	out=$("$bin/$@" 2>&1)
	local st=$?
	sed "s/^/  $name: /" <<<"$out"
	if [[ $st -ne 0 || $out != *\ test=* ]]; then
		echo "bench tokens: $name failed (exit $st)" >&2
		rc=1
		return 1
	fi
}
line() { grep "phase=$1 " <<<"$out"; } # the scale line of phase own|shift

echo "note: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
	"other processes share the CPUs, compare ratios"

# ---- memory ----------------------------------------------------------------
per=""
if run tokens.memory tokens_bench memory -n 1000000; then
	per=$(kv bytes_per_token "$out")
	printf 'result: tokens.memory %s bytes/token ratio %s vs aim_128B\n' "$per" \
		"$(ratio "$per" 128)"
	printf 'info: tokens.memory.fill %s acquires/s into one server (tok_server_recv, one thread)\n' \
		"$(kv acquires_per_s "$out")"
fi

# ---- scale -----------------------------------------------------------------
declare -A mpo srate
for s in 1 4; do
	for n in 10 100 1000; do
		tag=$n
		[[ $s -gt 1 ]] && tag=${s}srv.$n
		run "tokens.scale.$tag" tokens_bench scale -n "$n" -s "$s" -o "$ops" || continue
		own=$(line own)
		shift_l=$(line shift)
		mpo[$tag]=$(kv msgs_per_op "$own")
		srate[$tag]=$(kv srv_requests_per_s "$own")
		if [[ $s -eq 1 ]]; then
			printf 'info: tokens.scale.%s.server %s server msgs/op, %s server msgs/s of wall time (%s s for %s ops in %s runs), %s us of server time per request\n' \
				"$tag" "$(kv srv_msgs_per_op "$own")" "$(kv srv_msgs_per_s "$own")" \
				"$(kv seconds "$own")" "$(kv ops "$own")" "$(kv reps "$own")" \
				"$(kv srv_us_per_msg "$own")"
		else
			printf 'info: tokens.scale.%s.server busiest of %s servers: %s msgs/op (all: %s), %s s of its time\n' \
				"$tag" "$s" "$(kv srv_max_per_op "$own")" "$(kv srv_msgs_per_op "$own")" \
				"$(kv srv_max_busy_s "$own")"
		fi
		printf 'info: tokens.scale.%s.conflict (neighbours'"'"' stripes, xw) %s msgs/op, %s msgs per stripe taken over, %s server msgs/op\n' \
			"$tag" "$(kv msgs_per_op "$shift_l")" "$(kv msgs_per_acquire "$shift_l")" \
			"$(kv srv_msgs_per_op "$shift_l")"
	done
done
for tag in 10 100 1000 4srv.10 4srv.100 4srv.1000; do
	base=${tag%.*}
	[[ $tag == "$base" ]] && base="" || base="$base."
	[[ -n ${mpo[$tag]:-} && -n ${mpo[${base}10]:-} ]] &&
		printf 'result: tokens.scale.%s %s msgs/op ratio %s vs tokens.scale.%s10\n' "$tag" \
			"${mpo[$tag]}" "$(ratio "${mpo[$tag]}" "${mpo[${base}10]}")" "$base"
done
for tag in 10 100 1000; do
	[[ -n ${srate[$tag]:-} && -n ${srate[10]:-} ]] &&
		printf 'result: tokens.scale.%s.server_rate %s requests/s ratio %s vs tokens.scale.10.server_rate\n' \
			"$tag" "${srate[$tag]}" "$(ratio "${srate[$tag]}" "${srate[10]}")"
done
if run tokens.scale.1000.w1 tokens_bench scale -n 1000 -w 1 -o "$ops"; then
	shift_l=$(line shift)
	printf 'info: tokens.scale.1000.conflict.w1 (1 worker per node) %s msgs/op, %s msgs per stripe taken over\n' \
		"$(kv msgs_per_op "$shift_l")" "$(kv msgs_per_acquire "$shift_l")"
fi
if run tokens.scale.1000.ws tokens_bench scale -n 1000 -m ws -o "$ops"; then
	printf 'info: tokens.scale.1000.ws (mode ws) %s msgs/op own stripes, %s msgs/op neighbours'"'"' stripes\n' \
		"$(kv msgs_per_op "$(line own)")" "$(kv msgs_per_op "$(line shift)")"
fi

# ---- over net/ -------------------------------------------------------------
if run tokens.local tokens_bench local -t "$secs"; then
	tl=$(kv rate "$out")
	mx=$(kv mutex_rate "$out")
	printf 'result: tokens.local %s pairs/s ratio %s vs pthread_mutex=%s/s\n' "$tl" \
		"$(ratio "$tl" "$mx")" "$mx"
	printf 'info: tokens.local %s ns per cached acquire+release pair (mutex pair %s ns); two threads on two tokens: %s pairs/s together\n' \
		"$(kv ns_per_pair "$out")" "$(kv mutex_ns "$out")" "$(kv two_threads_rate "$out")"
fi
pipe="" sync="" grant="" pp=""
mean() { # a b: their mean, or the one that is set
	if [[ -n $1 && -n $2 ]]; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a + b) / 2 }'
	else
		echo "${1:-$2}"
	fi
}
p1="" p2="" s1="" s2=""
run rpc.rtt.pipelined.before rpc_bench rtt -c AUTHONLY -S 64 -d 32 -t "$secs" && p1=$(kv rate "$out")
run tokens.grant tokens_bench grant -d 32 -t "$secs" &&
	{ grant=$(kv rate "$out"); grant_cpu=$(kv cpu_us "$out"); }
for d in 8 64; do
	run "tokens.grant.d$d" tokens_bench grant -d "$d" -t "$secs" &&
		printf 'info: tokens.grant.d%s %s grants/s with %s threads (%s us CPU per grant)\n' \
			"$d" "$(kv rate "$out")" "$d" "$(kv cpu_us "$out")"
done
run tokens.grant.upcall tokens_bench grant -d 32 -u -t "$secs" &&
	printf 'info: tokens.grant.upcall %s grants/s, 32 threads, revoke callbacks registered\n' \
		"$(kv rate "$out")"
run rpc.rtt.pipelined.after rpc_bench rtt -c AUTHONLY -S 64 -d 32 -t "$secs" && p2=$(kv rate "$out")
pipe=$(mean "$p1" "$p2")
run rpc.rtt.sync.before rpc_bench rtt -c AUTHONLY -S 64 -d 1 -t "$secs" && s1=$(kv rate "$out")
if run tokens.pingpong tokens_bench pingpong -t "$secs"; then
	pp=$(kv rate "$out")
	pp_info="$(kv us_per_switch "$out") us per switch, $(kv cpu_us "$out") us CPU per switch"
fi
run tokens.pingpong.upcall tokens_bench pingpong -u -t "$secs" &&
	printf 'info: tokens.pingpong.upcall %s switches/s with a no-op revoke callback on each node (%s us per switch)\n' \
		"$(kv rate "$out")" "$(kv us_per_switch "$out")"
run rpc.rtt.sync.after rpc_bench rtt -c AUTHONLY -S 64 -d 1 -t "$secs" && s2=$(kv rate "$out")
sync=$(mean "$s1" "$s2")
echo "info: baselines rpc.rtt.pipelined ${p1:-failed} before, ${p2:-failed} after;" \
	"rpc.rtt.sync ${s1:-failed} before, ${s2:-failed} after (calls/s; the results use the means)"

[[ -n $grant && -n $pipe ]] && {
	printf 'result: tokens.grant %s grants/s ratio %s vs rpc.rtt.pipelined=%s/s\n' "$grant" \
		"$(ratio "$grant" "$pipe")" "$pipe"
	printf 'info: tokens.grant.cpu %s us CPU per grant (both nodes, one process)\n' "$grant_cpu"
}
[[ -n $pp && -n $sync ]] && {
	printf 'result: tokens.pingpong %s switches/s ratio %s vs rpc.rtt.sync=%s/s\n' "$pp" \
		"$(ratio "$pp" "$sync")" "$sync"
	printf 'info: tokens.pingpong %s\n' "$pp_info"
}

# ---- aims ------------------------------------------------------------------
[[ -n ${per:-} ]] && aim_le tokens.memory.bytes "$per" 128
[[ -n ${mpo[1000]:-} && -n ${mpo[10]:-} ]] &&
	aim_le tokens.scale.1000.ratio "$(ratio "${mpo[1000]}" "${mpo[10]}")" 1.00
[[ -n $grant ]] && aim_ge tokens.grant.grants/s "$grant" 100000
[[ -n $grant && -n $pipe ]] && aim_ge tokens.grant.ratio "$(ratio "$grant" "$pipe")" 0.5
[[ -n $pp && -n $sync ]] && aim_ge tokens.pingpong.ratio "$(ratio "$pp" "$sync")" 0.3

exit $rc
