#!/usr/bin/env bash
# bench nsd: NSD I/O through the NSD client (nsd/client.h), on the local
# path and through an NSD server in another process (build/bench/nsd_bench).
#
# The disk is a 2 GiB preallocated file in a temporary directory under /tmp,
# labelled with the benchmark's NSD descriptor (nsd_label_write) and written
# once in full before anything is measured; all I/O starts at 1 MiB (the
# reserved area). I/O is O_DIRECT where the file system allows it; where it
# does not (nsd/disk.c then runs buffered with fdatasync) fio runs buffered
# too, with --fdatasync=1 for writes, and a note says so.
#
#   nsd.local.seqwrite, nsd.local.seqread   1 MiB requests, 8 in flight,
#       nsd_client whose table finds the file locally (net NULL, may_io
#       NULL); MB/s (10^6 bytes/s); baseline: fio --ioengine=libaio --bs=1M
#       --iodepth=8 --direct=1 on the same file and range
#   nsd.local.randread4k   4 KiB random reads, 16 in flight; IOPS; baseline:
#       fio --rw=randread --bs=4k --iodepth=16
#       Each local figure is the mean of two runs, fio and nsd_bench
#       alternating (fio, nsd, nsd, fio) so drift of the VM cancels.
#   nsd.served.seqread, nsd.served.seqwrite   1 MiB, 8 in flight, client
#       node 1 (127.1.15.1) and NSD server node 2 (127.1.15.2) in separate
#       processes, AUTHONLY TLS with a throwaway cluster CA, net_ctx like
#       mmfsd's (1 I/O thread, 4 workers); the client's main thread submits
#       (nsd_bench -I main: a write's copy and checksum happen on the
#       submitting thread, as for file system threads, not on net's I/O
#       thread; the local runs chain from the completion callbacks, as
#       fio's single thread does); baseline: the local figure of
#       the same run. Checksums (nsdChecksum) off and on alternate (off, on,
#       on, off); the result is the mean of the off runs, the on runs give
#       the checksum cost. CPU seconds per GiB moved of the client and the
#       server process (/proc/PID/stat over the measured window) are info
#       lines.
#
# Durations: BENCH_NSD_SECONDS measured per run (default 4), after 1 s of
# warm-up; BENCH_NSD_BIN another nsd_bench binary. Builds nothing (bench/run
# runs make); everything it starts it stops by pid, and it removes its
# temporary directory.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BENCH_NSD_BIN:-$top/build/bench/nsd_bench}
secs=${BENCH_NSD_SECONDS:-4}
warm=1
client_ip=127.1.15.1
server_ip=127.1.15.2
disk_size=2G
region=$((2047 * 1024 * 1024))	# 2 GiB minus the 1 MiB reserved area
rc=0

[[ -x $bin ]] || { echo "bench nsd: $bin is missing (make)"; exit 1; }
if ! command -v fio >/dev/null; then
	echo "bench nsd: fio is missing; installing it"
	apt-get install -y fio >/dev/null 2>&1 || { echo "bench nsd: fio is not installed"; exit 1; }
fi
for t in fio jq timeout; do
	command -v "$t" >/dev/null || { echo "bench nsd: $t is not installed"; exit 1; }
done

dir=$(mktemp -d /tmp/nsd_bench.XXXXXX) || exit 1
server_pid=""
stop_server() {
	if [[ -n $server_pid ]]; then
		kill -TERM "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=""
	fi
}
cleanup() {
	stop_server
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kv() { # key line: the value of key=value in line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mean() { awk -v a="$1" -v b="$2" -v p="${3:-1}" 'BEGIN { printf "%.*f", p, (a + b) / 2 }'; }
aim() { # name ratio min
	local verdict
	verdict=$(awk -v v="$2" -v m="$3" 'BEGIN { print (v >= m ? "met" : "NOT met") }')
	echo "aim: $1 $2 >= $3 $verdict"
}

echo "note: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
	"other processes share the CPUs, compare ratios"

# ---- the disk --------------------------------------------------------------
disk=$dir/disk
lab=$("$bin" label -f "$disk" -S "$disk_size" 2>&1) || {
	echo "bench nsd: labelling $disk failed: $lab"
	exit 1
}
direct=$(kv direct "$lab")
fs=$(df -PT "$dir" | awk 'NR == 2 { print $2 " on " $1 }')
if [[ $direct == 1 ]]; then
	fio_direct=(--direct=1)
	fio_wsync=()
	echo "note: disk: $disk_size file on $fs ($disk), O_DIRECT (fio --direct=1)"
else
	fio_direct=(--direct=0)
	fio_wsync=(--fdatasync=1)
	echo "note: disk: $disk_size file on $fs ($disk): O_DIRECT REFUSED here, nsd/disk.c" \
		"runs buffered with fdatasync before a write completes; fio runs with" \
		"--direct=0 (writes --fdatasync=1)"
fi

# fio MODE BS DEPTH [time]: one job on the NSD's data range; prints the
# job's JSON summary line "bw_bytes iops cpu_percent".
fio_out=""
fio_run() {
	local rw=$1 bs=$2 depth=$3 timed=${4:-yes} json dir_key extra=()
	[[ $rw == *write* ]] && extra=("${fio_wsync[@]}")
	if [[ $timed == yes ]]; then
		extra+=(--time_based --ramp_time="$warm" --runtime="$secs")
	fi
	[[ $rw == randread ]] && extra+=(--norandommap --randrepeat=0)
	dir_key=read
	[[ $rw == *write* ]] && dir_key=write
	json=$(fio --name=nsdbase --filename="$disk" "${fio_direct[@]}" --ioengine=libaio \
		--rw="$rw" --bs="$bs" --iodepth="$depth" --offset=1M --size="$region" \
		"${extra[@]}" --output-format=json 2>&1) || {
		echo "bench nsd: fio $rw failed: $(tail -n 3 <<<"$json")" >&2
		fio_out=""
		return 1
	}
	fio_out=$(jq -r --arg k "$dir_key" '.jobs[0] | "\(.[$k].bw_bytes) \(.[$k].iops) \(.usr_cpu + .sys_cpu) \(.[$k].runtime)"' \
		<<<"$json" 2>/dev/null)
	[[ -n $fio_out && $fio_out != null* ]]
}

# nsd_bench ARGS...: run it (under a time limit), keep its line in $out.
out=""
nsd_run() {
	local name=$1 errf=$dir/nsd.err
	shift
	out=$(timeout -k 5 $((secs + 60)) "$bin" "$@" -t "$secs" -w "$warm" 2>"$errf" | tail -n 1)
	local st=${PIPESTATUS[0]}
	echo "  $name: ${out:-no output}"
	if [[ $st != 0 || $out != *mbps=* ]]; then
		[[ $st == 124 || $st == 137 ]] && echo "bench nsd: $name hung (killed after $((secs + 60)) s)" >&2
		echo "bench nsd: $name failed (exit $st): $(tail -n 3 "$errf")" >&2
		out=""
		rc=1
		return 1
	fi
}

# Write the whole range once, so no run meets unwritten extents.
fio_run write 1M 8 no || { echo "bench nsd: prefill failed"; exit 1; }

# ---- local -------------------------------------------------------------------
declare -A fv nv ncpu fcpu
local_pair() { # key fio-rw bs depth nsd-mode round
	local key=$1 rw=$2 bs=$3 depth=$4 mode=$5 round=$6 f="" n="" fc="" nc=""
	do_fio() {
		if fio_run "$rw" "$bs" "$depth"; then
			read -r bw iops cpu _ <<<"$fio_out"
			if [[ $mode == randread ]]; then f=$iops; else f=$(awk -v b="$bw" 'BEGIN { printf "%.1f", b / 1e6 }'); fi
			# CPU s per GiB: fio's cpu% of the run time over the bytes moved
			fc=$(awk -v c="$cpu" -v b="$bw" 'BEGIN { printf "%.3f", (b > 0 ? c / 100 / (b / 1073741824) : 0) }')
			echo "  fio.$key: $f $([[ $mode == randread ]] && echo IOPS || echo MB/s) (cpu ${fc} s/GiB)"
		else
			rc=1
		fi
	}
	do_nsd() {
		if nsd_run "nsd.local.$key" local -f "$disk" -m "$mode" -s "$bs" -d "$depth" -r "$region"; then
			if [[ $mode == randread ]]; then n=$(kv iops "$out"); else n=$(kv mbps "$out"); fi
			nc=$(kv cpu_client_s_gib "$out")
		fi
	}
	if [[ $round == 1 ]]; then do_fio; do_nsd; else do_nsd; do_fio; fi
	fv[$key.$round]=$f nv[$key.$round]=$n fcpu[$key.$round]=$fc ncpu[$key.$round]=$nc
}
for round in 1 2; do
	local_pair seqwrite write 1M 8 seqwrite $round
	local_pair seqread read 1M 8 seqread $round
	local_pair randread4k randread 4k 16 randread $round
done

declare -A lres lbase
for key in seqwrite seqread randread4k; do
	f1=${fv[$key.1]} f2=${fv[$key.2]} n1=${nv[$key.1]} n2=${nv[$key.2]}
	[[ -n $f1 && -n $f2 && -n $n1 && -n $n2 ]] || continue
	lbase[$key]=$(mean "$f1" "$f2")
	lres[$key]=$(mean "$n1" "$n2")
done

# ---- served --------------------------------------------------------------------
keys=$dir/keys
mkdir -p "$keys"
declare -A sv scc scs
served_ok=0
if ! kerr=$("$bin" keys -k "$keys" -a "$client_ip" -b "$server_ip" 2>&1); then
	echo "bench nsd: certificates: $kerr" >&2
	rc=1
else
	"$bin" serve -f "$disk" -k "$keys" -b "$server_ip" -o "$dir/port" 2>"$dir/serve.err" &
	server_pid=$!
	for _ in $(seq 1 100); do
		[[ -s $dir/port ]] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -s $dir/port ]]; then
		served_ok=1
	else
		echo "bench nsd: the NSD server did not start: $(tail -n 3 "$dir/serve.err")" >&2
		rc=1
	fi
fi
if [[ $served_ok == 1 ]]; then
	port=$(cut -d' ' -f1 "$dir/port")
	for mode in seqread seqwrite; do
		i=0
		for ck in off on on off; do
			i=$((i + 1))
			flag=()
			[[ $ck == on ]] && flag=(-C)
			if nsd_run "nsd.served.$mode.checksum_$ck" client -k "$keys" -a "$client_ip" \
				-b "$server_ip" -P "$port" -p "$server_pid" -o "$dir/port" -m "$mode" -I main \
				"${flag[@]}" -r "$region"; then
				sv[$mode.$ck.$i]=$(kv mbps "$out")
				scc[$mode.$ck.$i]=$(kv cpu_client_s_gib "$out")
				scs[$mode.$ck.$i]=$(kv cpu_server_s_gib "$out")
			fi
			kill -0 "$server_pid" 2>/dev/null || {
				echo "bench nsd: the NSD server died: $(tail -n 3 "$dir/serve.err")" >&2
				rc=1
				break 2
			}
		done
	done
	stop_server
	grep -h "serve:" "$dir/serve.err" | sed 's/^/  /'
fi

# ---- results ---------------------------------------------------------------------
for key in seqwrite seqread; do
	[[ -n ${lres[$key]:-} ]] &&
		printf 'result: nsd.local.%s %.0f MB/s ratio %s vs fio=%.0fMB/s\n' "$key" \
			"${lres[$key]}" "$(ratio "${lres[$key]}" "${lbase[$key]}")" "${lbase[$key]}"
done
[[ -n ${lres[randread4k]:-} ]] &&
	printf 'result: nsd.local.randread4k %.0f IOPS ratio %s vs fio=%.0fIOPS\n' \
		"${lres[randread4k]}" "$(ratio "${lres[randread4k]}" "${lbase[randread4k]}")" \
		"${lbase[randread4k]}"
declare -A sres
for mode in seqread seqwrite; do
	off1=${sv[$mode.off.1]:-} off4=${sv[$mode.off.4]:-}
	[[ -n $off1 && -n $off4 && -n ${lres[$mode]:-} ]] || continue
	sres[$mode]=$(mean "$off1" "$off4")
	printf 'result: nsd.served.%s %.0f MB/s ratio %s vs nsd.local.%s=%.0fMB/s\n' "$mode" \
		"${sres[$mode]}" "$(ratio "${sres[$mode]}" "${lres[$mode]}")" "$mode" "${lres[$mode]}"
done
for key in seqwrite seqread randread4k; do
	[[ -n ${ncpu[$key.1]:-} && -n ${ncpu[$key.2]:-} && -n ${fcpu[$key.1]:-} && -n ${fcpu[$key.2]:-} ]] &&
		printf 'info: nsd.local.%s.cpu %.3f s/GiB vs fio %.3f s/GiB\n' "$key" \
			"$(mean "${ncpu[$key.1]}" "${ncpu[$key.2]}" 3)" "$(mean "${fcpu[$key.1]}" "${fcpu[$key.2]}" 3)"
	printf 'info: nsd.local.%s runs: nsd %s %s, fio %s %s\n' "$key" "${nv[$key.1]:--}" \
		"${nv[$key.2]:--}" "${fv[$key.1]:--}" "${fv[$key.2]:--}"
done
cksum_cost=() cksum_cpu=()
for mode in seqread seqwrite; do
	[[ -n ${sres[$mode]:-} ]] || continue
	a=(${scc[$mode.off.1]:-0} ${scc[$mode.off.4]:-0}) b=(${scs[$mode.off.1]:-0} ${scs[$mode.off.4]:-0})
	printf 'info: nsd.served.%s.cpu_client %.3f s/GiB\n' "$mode" "$(mean "${a[0]}" "${a[1]}" 3)"
	printf 'info: nsd.served.%s.cpu_server %.3f s/GiB\n' "$mode" "$(mean "${b[0]}" "${b[1]}" 3)"
	on2=${sv[$mode.on.2]:-} on3=${sv[$mode.on.3]:-}
	[[ -n $on2 && -n $on3 ]] || continue
	on=$(mean "$on2" "$on3")
	con=$(mean "${scc[$mode.on.2]}" "${scc[$mode.on.3]}" 3)
	son=$(mean "${scs[$mode.on.2]}" "${scs[$mode.on.3]}" 3)
	printf 'info: nsd.served.%s.checksum %.0f MB/s ratio %s vs checksum off=%.0fMB/s;' \
		"$mode" "$on" "$(ratio "$on" "${sres[$mode]}")" "${sres[$mode]}"
	printf ' CPU client %.3f, server %.3f s/GiB (off: %.3f, %.3f)\n' "$con" "$son" \
		"$(mean "${a[0]}" "${a[1]}" 3)" "$(mean "${b[0]}" "${b[1]}" 3)"
	printf 'info: nsd.served.%s runs (MB/s): off %s, on %s, on %s, off %s\n' "$mode" \
		"${sv[$mode.off.1]}" "$on2" "$on3" "${sv[$mode.off.4]}"
	cksum_cost+=("$mode $(awk -v on="$on" -v off="${sres[$mode]}" 'BEGIN { printf "%.1f", 100 * (1 - on / off) }')%")
	cksum_cpu+=("$mode $(awk -v c1="$con" -v s1="$son" -v c0="$(mean "${a[0]}" "${a[1]}" 3)" \
		-v s0="$(mean "${b[0]}" "${b[1]}" 3)" 'BEGIN { printf "client %+.0f%% server %+.0f%%", (c0 > 0 ? 100 * (c1 / c0 - 1) : 0), (s0 > 0 ? 100 * (s1 / s0 - 1) : 0) }')")
done
((${#cksum_cost[@]})) &&
	echo "info: nsd.served.checksum.cost (throughput lost with nsdChecksum on): ${cksum_cost[*]}"
((${#cksum_cpu[@]})) &&
	echo "info: nsd.served.checksum.cpu (CPU per GiB with nsdChecksum on vs off): $(IFS=';'; echo "${cksum_cpu[*]}")"
echo "note: served = client and NSD server processes on loopback, AUTHONLY;" \
	"served ratios are against nsd.local of this run; checksum runs alternate off/on/on/off"

# ---- aims ------------------------------------------------------------------------
for key in seqwrite seqread; do
	[[ -n ${lres[$key]:-} ]] && aim "nsd.local.$key.ratio" "$(ratio "${lres[$key]}" "${lbase[$key]}")" 0.95
done
[[ -n ${lres[randread4k]:-} ]] &&
	aim nsd.local.randread4k.ratio "$(ratio "${lres[randread4k]}" "${lbase[randread4k]}")" 0.85
for mode in seqread seqwrite; do
	[[ -n ${sres[$mode]:-} ]] && aim "nsd.served.$mode.ratio" "$(ratio "${sres[$mode]}" "${lres[$mode]}")" 0.7
done
exit $rc
