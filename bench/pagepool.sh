#!/usr/bin/env bash
# bench pagepool: the block cache (pagepool/pagepool.h) over four
# file-backed NSDs through the NSD client's local path (build/bench/pagepool_bench).
#
# Disks: four 1 GiB preallocated files in a temporary directory under /tmp,
# each labelled with its own NSD descriptor (nsd_label_write), found by an
# nsd_table (local disks) and reached through an nsd_client with net NULL
# (pp_nsd_backend). Before anything is measured every data range [1 MiB,
# 1 GiB) is written once with fio, so no run meets unwritten extents. I/O
# is O_DIRECT where the file system allows it (checked with
# nsd_disk_direct); where not, nsd/disk.c runs buffered with fdatasync and
# fio runs --direct=0 (writes --fdatasync=1), and a note says so.
#
# The file system: block size 1 MiB; block b of a file lives on NSD b % 4
# at offset 1 MiB + (b / 4) MiB. Pool 256 MiB, default settings (4
# write-behind threads, dirty limit 50%, 16 prefetch threads, prefetchPct
# 20). Every measured pass starts with pp_drop_fs (cold reads; O_DIRECT, so
# no page cache below), and each pagepool_bench process first reads
# pool-size bytes of another file, untimed, so the pool's memory is faulted
# in as in a running daemon.
#
#   pagepool.seqread.64k   a 2 GiB file read in order in 64 KiB pieces
#       through a pp_stream (pp_stream_get, memcpy out, pp_release), one
#       thread; MB/s. Baseline: ONE fio job over the four files
#       (--filename=a:b:c:d, file_service_type roundrobin: 1 MiB from each
#       file in turn, the same interleave as the stripes) --rw=read --bs=1M
#       --iodepth=16 --ioengine=libaio --direct=1 --offset=1M --size=2G
#       (512 MiB of each file, the same bytes the pool reads)
#   pagepool.seqread.64k.noprefetch   the same with plain pp_get; ratio vs
#       pagepool.seqread.64k (what prefetch buys); vs fio is an info line
#   pagepool.strided   64 KiB at the start of every 1 MiB over the whole
#       4 GiB file (4092 accesses), 3 cold passes, through a stream; ratio
#       vs the same with plain pp_get (pagepool.strided.noprefetch)
#   pagepool.seqwrite.64k   1 GiB (4x the pool) written in order in 64 KiB
#       pieces: pp_get(PP_OVERWRITE), memcpy in, pp_mark_dirty, pp_release;
#       the time includes the final pp_flush; MB/s. The first 32 MiB are
#       then read back through a dropped pool and compared (verify=ok).
#       Baseline: one fio job, 4 files, --rw=write --bs=1M --iodepth=16
#       --direct=1 --size=1G (the same 256 MiB of each file)
#   pagepool.reread   a 128 MiB file (half the pool) read once through a
#       stream, then 8 more times timed (best of 3 windows), 64 KiB pieces
#       copied out; GiB/s. Baseline: memcpy of the same 8 x 128 MiB in
#       64 KiB pieces into one 64 KiB buffer (best of 3 windows)
#   Diagnostics (info lines): seqread with 4 and with 1 prefetch threads
#   (prefetch reads are asynchronous: one thread keeps the stream's depth
#   in flight), seqwrite with 8 write-behind threads (pagepool_bench -T /
#   -W).
#
# Every figure is the mean of ROUNDS (default 3) runs, with pool and
# baseline runs alternating in order (fio first, then pool first, ...) so
# the drift of the VM's disk cancels. CPU seconds per GiB moved (process
# CPU for pagepool_bench, fio's usr+sys) are info lines.
#
# BENCH_PP_ROUNDS rounds (3); BENCH_PP_BIN another pagepool_bench binary.
# Builds nothing (bench/run runs make); removes its temporary directory.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BENCH_PP_BIN:-$top/build/bench/pagepool_bench}
rounds=${BENCH_PP_ROUNDS:-3}
nnsd=4
disk_size=1G
rc=0

[[ -x $bin ]] || { echo "bench pagepool: $bin is missing (make)"; exit 1; }
if ! command -v fio >/dev/null; then
	echo "bench pagepool: fio is missing; installing it"
	apt-get install -y fio >/dev/null 2>&1 || { echo "bench pagepool: fio is not installed"; exit 1; }
fi
for t in fio jq timeout; do
	command -v "$t" >/dev/null || { echo "bench pagepool: $t is not installed"; exit 1; }
done

dir=$(mktemp -d /tmp/pagepool_bench.XXXXXX) || exit 1
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
meanof() { awk 'BEGIN { n = 0; s = 0 } { for (i = 1; i <= NF; i++) if ($i != "") { s += $i; n++ } } END { printf "%.3f", (n ? s / n : 0) }' <<<"$*"; }
aim() { # name ratio min
	local verdict
	verdict=$(awk -v v="$2" -v m="$3" 'BEGIN { print (v >= m ? "met" : "NOT met") }')
	echo "aim: $1 $2 >= $3 $verdict"
}

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem_gib=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
echo "note: $(nproc) CPUs ($cpu_model), ${mem_gib} GiB RAM, load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg) at start; other processes share the CPUs, compare ratios"

# ---- the disks -------------------------------------------------------------------
lab=$("$bin" label -D "$dir" -n "$nnsd" -S "$disk_size" 2>&1) || {
	echo "bench pagepool: labelling the disks in $dir failed: $lab"
	exit 1
}
direct=$(kv direct "$lab")
files=$(for i in $(seq 0 $((nnsd - 1))); do printf '%s:' "$dir/nsd$i"; done)
files=${files%:}
fsdesc=$(df -PT "$dir" | awk 'NR == 2 { print $2 " on " $1 }')
if [[ $direct == 1 ]]; then
	fio_direct=(--direct=1)
	fio_wsync=()
	echo "note: disks: $nnsd x $disk_size files on $fsdesc ($dir), O_DIRECT (fio --direct=1)"
else
	fio_direct=(--direct=0)
	fio_wsync=(--fdatasync=1)
	echo "note: disks: $nnsd x $disk_size files on $fsdesc ($dir): O_DIRECT REFUSED here," \
		"nsd/disk.c runs buffered with fdatasync before a write completes; fio runs with" \
		"--direct=0 (writes --fdatasync=1)"
fi

# fio RW SIZE: one job over the four files (round robin, 1 MiB each in
# turn), depth 16, from offset 1 MiB; sets fio_mbps and fio_cpu (s/GiB).
fio_mbps="" fio_cpu=""
fio_run() {
	local rw=$1 size=$2 json key=read extra=()
	[[ $rw == *write* ]] && { key=write; extra=("${fio_wsync[@]}"); }
	json=$(timeout -k 5 120 fio --name=ppbase --filename="$files" "${fio_direct[@]}" \
		--ioengine=libaio --rw="$rw" --bs=1M --iodepth=16 --offset=1M --size="$size" \
		"${extra[@]}" --output-format=json 2>&1) || {
		echo "bench pagepool: fio $rw failed: $(tail -n 3 <<<"$json")" >&2
		fio_mbps="" fio_cpu=""
		rc=1
		return 1
	}
	read -r fio_mbps fio_cpu < <(jq -r --arg k "$key" '.jobs[0] |
		(.[$k].bw_bytes) as $bw | (.[$k].runtime / 1000) as $t |
		"\($bw / 1e6) \(if $bw > 0 then (.usr_cpu + .sys_cpu) / 100 * $t / (.[$k].io_bytes / 1073741824) else 0 end)"' \
		<<<"$json" 2>/dev/null)
	[[ -n $fio_mbps && $fio_mbps != null ]]
}

# pp TEST [args]: one pagepool_bench run; sets out.
out=""
pp_run() {
	local test=$1 errf=$dir/pp.err st
	shift
	out=$(timeout -k 5 120 "$bin" run -D "$dir" -n "$nnsd" -m "$test" "$@" 2>"$errf" | tail -n 1)
	st=${PIPESTATUS[0]}
	echo "  $test: ${out:-no output}"
	if [[ $st != 0 || $out != *mbps=* || $out != *rc=0* ]]; then
		[[ $st == 124 || $st == 137 ]] && echo "bench pagepool: $test hung (killed after 120 s)" >&2
		echo "bench pagepool: $test failed (exit $st): $(tail -n 3 "$errf")" >&2
		out=""
		rc=1
		return 1
	fi
}

fio_run write 4092M || { echo "bench pagepool: prefill failed"; exit 1; }
echo "note: prefill (every data block written once, fio 1M x 16): $(printf '%.0f' "$fio_mbps") MB/s"

declare -A v	# v[key.round]
one() { # key: one measurement into v[key.$round]
	local key=$1
	case $key in
	fio.read)
		fio_run read 2G && { v[$key.$round]=$fio_mbps; v[$key.cpu.$round]=$fio_cpu;
			echo "  fio.read: $(printf '%.1f' "$fio_mbps") MB/s (cpu $(printf '%.3f' "$fio_cpu") s/GiB)"; } ;;
	fio.write)
		fio_run write 1G && { v[$key.$round]=$fio_mbps; v[$key.cpu.$round]=$fio_cpu;
			echo "  fio.write: $(printf '%.1f' "$fio_mbps") MB/s (cpu $(printf '%.3f' "$fio_cpu") s/GiB)"; } ;;
	memcpy)
		pp_run memcpy -F 128M && v[$key.$round]=$(kv gibps "$out") ;;
	reread)
		pp_run reread -F 128M && v[$key.$round]=$(kv gibps "$out") ;;
	seqread.pf4)
		pp_run seqread -T 4 && v[$key.$round]=$(kv mbps "$out") ;;
	seqread.pf1)
		pp_run seqread -T 1 && v[$key.$round]=$(kv mbps "$out") ;;
	seqwrite.w8)
		pp_run seqwrite -W 8 && v[$key.$round]=$(kv mbps "$out") ;;
	*)
		if pp_run "$key"; then
			v[$key.$round]=$(kv mbps "$out")
			v[$key.cpu.$round]=$(kv cpu_s_gib "$out")
			v[$key.line.$round]=$out
		fi ;;
	esac
}
order_a=(fio.read seqread seqread-np strided strided-np fio.write seqwrite memcpy reread seqread.pf4 seqread.pf1 seqwrite.w8)
order_b=(seqread fio.read strided-np strided seqread-np seqwrite fio.write reread memcpy seqwrite.w8 seqread.pf1 seqread.pf4)
for round in $(seq 1 "$rounds"); do
	echo "round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	if ((round % 2)); then keys=("${order_a[@]}"); else keys=("${order_b[@]}"); fi
	for k in "${keys[@]}"; do one "$k"; done
done

# ---- results ---------------------------------------------------------------------
m() { # mean over rounds of v[KEY.r]
	local k=$1 vals=() r
	for r in $(seq 1 "$rounds"); do vals+=("${v[$k.$r]:-}"); done
	for r in "${vals[@]}"; do [[ -n $r ]] || { echo ""; return; }; done
	meanof "${vals[@]}"
}
runs() { local k=$1 r s=""; for r in $(seq 1 "$rounds"); do s+="${v[$k.$r]:--} "; done; echo "${s% }"; }
sr=$(m seqread) fr=$(m fio.read) np=$(m seqread-np) st=$(m strided) stn=$(m strided-np)
sw=$(m seqwrite) fw=$(m fio.write) rr=$(m reread) mc=$(m memcpy) pf4=$(m seqread.pf4)
pf1=$(m seqread.pf1)
w8=$(m seqwrite.w8)
[[ -n $sr && -n $fr ]] &&
	printf 'result: pagepool.seqread.64k %.0f MB/s ratio %s vs fio=%.0fMB/s\n' "$sr" "$(ratio "$sr" "$fr")" "$fr"
[[ -n $np && -n $sr ]] &&
	printf 'result: pagepool.seqread.64k.noprefetch %.0f MB/s ratio %s vs pagepool.seqread.64k=%.0fMB/s\n' \
		"$np" "$(ratio "$np" "$sr")" "$sr"
[[ -n $st && -n $stn ]] &&
	printf 'result: pagepool.strided %.0f MB/s ratio %s vs pagepool.strided.noprefetch=%.0fMB/s\n' \
		"$st" "$(ratio "$st" "$stn")" "$stn"
[[ -n $sw && -n $fw ]] &&
	printf 'result: pagepool.seqwrite.64k %.0f MB/s ratio %s vs fio=%.0fMB/s\n' "$sw" "$(ratio "$sw" "$fw")" "$fw"
[[ -n $rr && -n $mc ]] &&
	printf 'result: pagepool.reread %.2f GiB/s ratio %s vs memcpy=%.2fGiB/s\n' "$rr" "$(ratio "$rr" "$mc")" "$mc"

[[ -n $np && -n $fr ]] &&
	printf 'info: pagepool.seqread.64k.noprefetch vs fio: ratio %s\n' "$(ratio "$np" "$fr")"
[[ -n $pf4 && -n $fr ]] &&
	printf 'info: pagepool.seqread.64k with prefetch_threads=4: %.0f MB/s, ratio %s vs fio\n' \
		"$pf4" "$(ratio "$pf4" "$fr")"
[[ -n $pf1 && -n $fr ]] &&
	printf 'info: pagepool.seqread.64k with prefetch_threads=1: %.0f MB/s, ratio %s vs fio\n' \
		"$pf1" "$(ratio "$pf1" "$fr")"
[[ -n $w8 && -n $fw ]] &&
	printf 'info: pagepool.seqwrite.64k with 8 write-behind threads: %.0f MB/s, ratio %s vs fio\n' \
		"$w8" "$(ratio "$w8" "$fw")"
for k in seqread seqread-np strided strided-np seqwrite; do
	c=$(m "$k.cpu")
	[[ -n $c ]] && printf 'info: pagepool.%s.cpu %.3f s/GiB (whole process: reader, prefetch, write-behind, disk completion threads)\n' "$k" "$c"
done
for k in fio.read fio.write; do
	c=$(m "$k.cpu")
	[[ -n $c ]] && printf 'info: %s.cpu %.3f s/GiB\n' "$k" "$c"
done
for k in seqread fio.read seqread-np strided strided-np seqwrite fio.write reread memcpy seqread.pf4 seqread.pf1 seqwrite.w8; do
	echo "info: runs $k: $(runs "$k")"
done
for k in seqread strided seqwrite; do
	l=${v[$k.line.1]:-}
	[[ -n $l ]] || continue
	case $k in
	seqwrite) echo "info: pagepool.seqwrite round 1: writes=$(kv writes "$l") throttle_waits=$(kv throttle_waits "$l") flush_s=$(kv flush_s "$l") dirty_at_flush=$(kv dirty_at_flush "$l") verify=$(kv verify "$l")" ;;
	*) echo "info: pagepool.$k round 1: reads=$(kv reads "$l") hits=$(kv hits "$l") misses=$(kv misses "$l") pf_issued=$(kv pf_issued "$l") pf_used=$(kv pf_used "$l") pf_wasted=$(kv pf_wasted "$l") reader_waits=$(kv reader_waits "$l") depth=$(kv depth "$l")" ;;
	esac
done
echo "note: $rounds rounds, pool and fio alternating; took $(($(date +%s) - t_start)) s;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

# ---- aims ------------------------------------------------------------------------
[[ -n $sr && -n $fr ]] && aim pagepool.seqread.64k.ratio "$(ratio "$sr" "$fr")" 0.95
[[ -n $sw && -n $fw ]] && aim pagepool.seqwrite.64k.ratio "$(ratio "$sw" "$fw")" 0.9
exit $rc
