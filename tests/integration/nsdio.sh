#!/usr/bin/env bash
# NSD I/O (issue 3, second part): the NSD client and server driven through
# the daemons with tests/tools/nsdio (verifiable data, nsd/pattern.h).
#   a. every node writes its own region of every NSD (random offsets and
#      sizes, checked against an in-memory model) and every node verifies
#      every other node's regions by content
#   b. a node that is no server reaches nsd1/nsd2 over the network
#   c. useNSDserver=always sends a server's own I/O through the other server;
#      never, on a node that is no server of nsd1, leaves it no path
#   d. kill -9 of nsd1's primary server during a write stream: the stream
#      fails over and completes, the data reads back
#   e. a frozen (SIGSTOP) node is expelled: a rogue client with its
#      credentials is refused (MM_EFENCED), its own stale stream fails with
#      a lease error on SIGCONT and wrote nothing after the freeze; it
#      rejoins and does I/O again
#   f. a damaged descriptor: mmnsddiscover reports it, I/O fails naming the
#      NSD, nothing wrong is read
#   g. injected disk errors on both servers fail a write with a message
#      naming the NSD, the sectors and "I/O error"; on the primary only,
#      the write succeeds through the secondary
#   h. nsd2's primary server frozen (SIGSTOP) during a stream: the stream
#      completes through the other server after the timeout; newer data is
#      written over the range before the thaw, and the thawed server must not
#      land any of the writes it held on top of it
source "$(dirname "$0")/lib.sh"
mm_setup nsdio
P=127.1.14
NSDIO=${NSDIO:-$MM_TOP/build/tools/nsdio}
ROGUE=${NSDROGUE:-$MM_TOP/build/tools/nsdrogue}
for t in "$NSDIO" "$ROGUE"; do
	[[ -x $t ]] || { fail "$t is missing (run make)"; exit 1; }
done
echo "  .. MMFS_ROOT=$MMFS_ROOT"
W=$MMFS_ROOT/work
mkdir -p "$W"
t_start=$(date +%s)

mm_cluster $P 3 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster of 3 quorum nodes active" || { fail "cluster active"; exit 1; }
D=$MMFS_ROOT/disks
out=$(mmcrnsd --mkdisk $D/d1:1G,$D/d2:1G,$D/d3:1G 2>&1) || { echo "$out"; fail "mmcrnsd --mkdisk"; exit 1; }
cat >$MMFS_ROOT/disks.stanza <<STANZA
%nsd: device=$D/d1 nsd=nsd1 servers=$P.1,$P.2 usage=dataAndMetadata failureGroup=1 pool=system
%nsd: device=$D/d2 nsd=nsd2 servers=$P.2,$P.1 usage=dataAndMetadata failureGroup=2
%nsd: device=$D/d3 nsd=nsd3 usage=dataOnly failureGroup=3
STANZA
out=$(mmcrnsd -F $MMFS_ROOT/disks.stanza 2>&1) && pass "mmcrnsd -F: nsd1 (servers .1,.2), nsd2 (.2,.1), nsd3 (directly attached)" ||
	{ echo "$out"; fail "mmcrnsd"; exit 1; }
NSDS=(nsd1 nsd2 nsd3)

# nsdio on node N: io N ARGS...
io() { local n=$1; shift; "$NSDIO" -n "$n" "$@"; }
# the "MB written" column of mmdiag --nsd on NODE for NSD
mb_written() { MMFS_NODE=$1 mmdiag --nsd 2>/dev/null | awk -v n="$2" '$1==n{print int($(NF-4))}'; }
# the NSD's row of mmdiag --nsd on NODE
nsd_row() { MMFS_NODE=$1 mmdiag --nsd 2>/dev/null | awk -v n="$2" '$1==n'; }
# the path in use of NSD on NODE ("server node 2", "local /path", ...)
nsd_path() {
	nsd_row "$1" "$2" | sed -E 's/^[^ ]+ +[^ ]+ +//; s/^(server node [0-9]+( \(not used yet\))?|local [^ ]+|none) .*/\1/'
}
# "NSD server: N requests served" on NODE
served() { MMFS_NODE=$1 mmdiag --nsd 2>/dev/null | sed -n 's/^NSD server: \([0-9]*\) requests served.*/\1/p'; }
# nodes up as node .1 sees them
nodes_up() { mmgetstate -Y -N "$1" 2>/dev/null | awk -F: '$3=="0"{print $11}'; }

# ---- a. every node writes its region of every NSD; all verify all -------
REG=16M
OPS=${NSDIO_OPS:-300}
pids=()
declare -A who
for i in 1 2 3; do
	for d in "${NSDS[@]}"; do
		io $P.$i model-run $d $((i * 16))M $REG $OPS $((i * 100 + ${d#nsd})) $W/model.$d.$i \
			>$W/run.$d.$i.out 2>&1 &
		pids+=($!)
		who[$!]="$d.$i"
	done
done
bad=0
for p in "${pids[@]}"; do
	if ! wait "$p"; then
		bad=$((bad + 1))
		cat "$W/run.${who[$p]}.out"
	fi
done
[[ $bad == 0 ]] && pass "9 concurrent model-runs ($OPS random writes/reads/bursts of 4K..256K each, every read verified against the model)" ||
	fail "$bad model-runs failed"
note "$(cat $W/run.nsd1.3.out)"
bad=0; n=0
for v in 1 2 3; do
	for i in 1 2 3; do
		[[ $v == "$i" ]] && continue
		for d in "${NSDS[@]}"; do
			n=$((n + 1))
			out=$(io $P.$v model-verify $d $W/model.$d.$i 2>&1) || { bad=$((bad + 1)); echo "$out"; }
		done
	done
done
[[ $bad == 0 && $n == 18 ]] && pass "every node verified every other node's regions by content ($n model-verify)" ||
	fail "$bad of $n model-verify failed"

# ---- b. node .3 reaches nsd1 and nsd2 over the network ------------------
p1=$(nsd_path $P.3 nsd1); p2=$(nsd_path $P.3 nsd2); p3=$(nsd_path $P.3 nsd3)
[[ $p1 == "server node 1" && $p2 == "server node 2" && $p3 == "local $D/d3" ]] &&
	pass "mmdiag --nsd on .3: nsd1 via '$p1', nsd2 via '$p2', nsd3 '$p3'" ||
	{ MMFS_NODE=$P.3 mmdiag --nsd; fail "paths on .3: '$p1' '$p2' '$p3'"; }
MMFS_NODE=$P.3 mmdiag --nsd | grep -A1 "^nsd1" | grep -q "discovery: no local path" &&
	pass "discovery on .3: nsd1 has no local path (not a server of it)" || fail "discovery status of nsd1 on .3"
s1=$(served $P.1); s2=$(served $P.2); s3=$(served $P.3)
MMFS_NODE=$P.1 mmdiag --nsd | grep -A3 "^nsd1" | grep -q "served for other nodes: [1-9][0-9]* requests" &&
	[[ ${s1:-0} -gt 0 && ${s2:-0} -gt 0 && ${s3:-1} == 0 ]] &&
	pass "server counters: node 1 served $s1 requests, node 2 $s2, node 3 (no server) $s3" ||
	fail "server counters: $s1 $s2 $s3"

# ---- c. useNSDserver=always on .1: its nsd1 I/O goes via .2 -------------
mmchconfig useNSDserver=always -N $P.1 >/dev/null 2>&1 && pass "mmchconfig useNSDserver=always -N $P.1" ||
	fail "mmchconfig useNSDserver=always"
before=$(served $P.2)
iocbs() { MMFS_NODE=$1 mmdiag --nsd | grep -A1 "^$2 " | sed -n 's/.* \([0-9]*\) iocbs.*/\1/p'; }
ib=$(iocbs $P.1 nsd1)
ok=0
for _ in $(seq 1 20); do
	# the setting reaches the daemon asynchronously
	out=$(io $P.1 write nsd1 128M 16M 71 2>&1) || break
	[[ $(nsd_path $P.1 nsd1) == "server node 2" ]] && { ok=1; break; }
	sleep 0.25
done
after=$(served $P.2)
[[ $ok == 1 && $after -ge $((before + 16)) && $(iocbs $P.1 nsd1) == "$ib" ]] &&
	pass "with always, node .1 writes nsd1 through node 2 ($((after - before)) requests served there, no local iocbs)" ||
	{ echo "$out"; nsd_row $P.1 nsd1; fail "useNSDserver=always: path '$(nsd_path $P.1 nsd1)', served $before -> $after"; }
out=$(io $P.1 read nsd1 128M 16M 71 2>&1) && [[ $(nsd_path $P.1 nsd1) == "server node 2" ]] &&
	pass "and reads it back verified through node 2" || { echo "$out"; fail "read via .2"; }
mmchconfig useNSDserver=asneeded -N $P.1 >/dev/null 2>&1 || fail "mmchconfig useNSDserver=asneeded"
ok=0
for _ in $(seq 1 20); do
	out=$(io $P.1 read nsd1 128M 16M 71 2>&1) || break
	[[ $(nsd_path $P.1 nsd1) == "local $D/d1" ]] && { ok=1; break; }
	sleep 0.25
done
[[ $ok == 1 && $(iocbs $P.1 nsd1) -gt $ib ]] && pass "back to asneeded: node .1 uses its local disk again" ||
	{ echo "$out"; fail "asneeded: path '$(nsd_path $P.1 nsd1)'"; }

# useNSDserver=never on .3, which reaches nsd1 only through servers
mmchconfig useNSDserver=never -N $P.3 >/dev/null 2>&1 || fail "mmchconfig useNSDserver=never"
ok=0
for _ in $(seq 1 20); do
	out=$(io $P.3 read nsd1 128M 1M 71 2>&1) && { sleep 0.25; continue; }
	ok=1; break
done
[[ $ok == 1 && $out == *"NSD nsd1: read of sectors"* && $out == *"useNSDserver is never"* ]] &&
	pass "with never, node .3 cannot read nsd1: $(grep -o 'failed: not reached.*' <<<"$out")" ||
	{ echo "$out"; fail "useNSDserver=never on .3"; }
mmchconfig useNSDserver=asneeded -N $P.3 >/dev/null 2>&1 || fail "mmchconfig useNSDserver=asneeded -N .3"
for _ in $(seq 1 20); do out=$(io $P.3 read nsd1 128M 16M 71 2>&1) && break; sleep 0.25; done
[[ $(nsd_path $P.3 nsd1) == "server node 1" ]] || { echo "$out"; fail "asneeded again on .3"; }

# ---- d. kill -9 of nsd1's primary server in the middle of a stream ------
fo0=$(nsd_row $P.3 nsd1 | awk '{print $NF}')
b0=$(mb_written $P.3 nsd1)
io $P.3 write nsd1 256M 512M 4242 -b 1M -d 8 >$W/kill.out 2>&1 &
bg=$!
t0=$(date +%s%N)
while :; do
	w=$(mb_written $P.3 nsd1)
	[[ $((w - b0)) -ge 16 ]] && break
	[[ $(($(date +%s%N) - t0)) -gt 10000000000 ]] && break
	sleep 0.02
done
pid1=$(mm_pid $P.1)
kill -9 "$pid1"
note "node .1 killed after $((w - b0)) MB of the 512 MiB stream from .3"
wait $bg; rc=$?
[[ $rc == 0 ]] && grep -q "ok: 536870912 bytes" $W/kill.out &&
	pass "the stream from .3 completed after its server died: $(cut -d: -f2- $W/kill.out)" ||
	{ cat $W/kill.out; fail "stream through a dying server (rc $rc)"; }
fo1=$(nsd_row $P.3 nsd1 | awk '{print $NF}')
[[ $(nsd_path $P.3 nsd1) == "server node 2" && $fo1 -gt $fo0 ]] &&
	pass "it failed over to node 2 ($((fo1 - fo0)) failovers counted on .3)" ||
	{ nsd_row $P.3 nsd1; fail "failover: path '$(nsd_path $P.3 nsd1)', failovers $fo0 -> $fo1"; }
out=$(io $P.3 read nsd1 256M 512M 4242 2>&1) && pass "all 512 MiB read back verified (through node 2)" ||
	{ echo "$out"; fail "read back after failover"; }
# mmstartup takes a zombie for a running daemon: wait until it is reaped
for _ in $(seq 1 100); do kill -0 "$pid1" 2>/dev/null || break; sleep 0.1; done
out=$(mmstartup -N $P.1 2>&1) || fail "mmstartup -N $P.1"
mm_wait_state $P.1 active 40 && pass "node .1 restarted and active" || { echo "$out"; fail "node .1 restart"; }
out=$(io $P.1 read nsd1 256M 512M 4242 2>&1) && pass "the restarted server reads the stream's data from its disk" ||
	{ echo "$out"; fail "read on restarted .1"; }

# ---- e. SIGSTOP node .3 during a stream: expel, fencing, stale stream ----
id1=$(mmlsnsd -L | awk '$3=="nsd1"{print $4}')
# the rogue aims at a region whose content is known
out=$(io $P.2 write nsd1 900M 1M 808 2>&1) || { echo "$out"; fail "prefill for the rogue"; }
out=$(io $P.2 write nsd2 256M 512M 555 2>&1) || { echo "$out"; fail "prefill for the stale stream"; }
for _ in $(seq 1 20); do [[ $(nodes_up $P.1) == 3 ]] && break; sleep 0.25; done
b0=$(mb_written $P.3 nsd2)
pid3=$(mm_pid $P.3)
# small requests, few in flight: little can move between the last look at
# the counter and the freeze
io $P.3 write nsd2 256M 512M 666 -b 128K -d 2 >$W/stale.out 2>&1 &
bg=$!
t0=$(date +%s%N)
while :; do
	w=$(mb_written $P.3 nsd2)
	[[ $((w - b0)) -ge 32 ]] && break
	[[ $(($(date +%s%N) - t0)) -gt 10000000000 ]] && break
	sleep 0.01
done
kill -STOP "$pid3"
frozen=$((w - b0))
note "node .3 frozen after about $frozen MB of its 512 MiB stream"
ok=0
for _ in $(seq 1 100); do
	[[ $(nodes_up $P.1) == 2 ]] && { ok=1; break; }
	sleep 0.2
done
[[ $ok == 1 ]] && pass "the others see node .3 down (nodes up: 2)" || fail "node .3 not expelled (nodes up $(nodes_up $P.1))"
rf0=$(MMFS_NODE=$P.2 mmdiag --nsd | sed -n 's/^refused: \([0-9]*\) fenced.*/\1/p')
out=$("$ROGUE" $P.3 $P.2 $id1 MM_EFENCED -o 900M -l 64K -s 13 2>$W/rogue.err); rc=$?
echo "$out" | sed 's/^/  .. /'
[[ $rc == 0 && $out == *"refuses I/O from node 3"* ]] &&
	pass "a rogue client with node .3's credentials writing nsd1 via node 2 is refused: MM_EFENCED" ||
	{ cat $W/rogue.err; fail "rogue write (rc $rc)"; }
rf1=$(MMFS_NODE=$P.2 mmdiag --nsd | sed -n 's/^refused: \([0-9]*\) fenced.*/\1/p')
[[ $rf1 -gt $rf0 ]] && grep -q "refused NSD .* from node 3: not an active cluster member" $MMFS_ROOT/$P.2/mmfs.log &&
	pass "node 2 counts it ('refused: $rf1 fenced' in mmdiag --nsd) and logs it" ||
	fail "fenced refusal not counted/logged ($rf0 -> $rf1)"
"$ROGUE" $P.3 $P.1 $id1 MM_EFENCED -o 900M -l 64K -s 13 >/dev/null 2>&1 &&
	pass "and so is one through node 1" || fail "rogue via node 1 not refused"
out=$(io $P.1 read nsd1 900M 1M 808 2>&1) && pass "the rogue's target range kept its content" ||
	{ echo "$out"; fail "rogue data landed"; }
kill -CONT "$pid3"
wait $bg; rc=$?
msg=$(cat $W/stale.out)
[[ $rc == 1 && $msg == *MM_ENOLEASE* && $msg == *lease* && $msg == *"NSD nsd2"* ]] &&
	pass "after SIGCONT the stale stream fails with a lease error: $(grep -o 'failed: this node.*' <<<"$msg" | head -1)" ||
	{ echo "$msg"; fail "stale stream (rc $rc)"; }
done_bytes=$(sed -n 's/.* \([0-9]*\) bytes done before the failure/\1/p' <<<"$msg")
cl=$(io $P.2 classify nsd2 256M 512M 1M 555 666 2>&1)
ny=$(sed -n 's/^seed 666: \([0-9]*\) chunks.*/\1/p' <<<"$cl")
np=$(sed -n 's/^seed 555: \([0-9]*\) chunks.*/\1/p' <<<"$cl")
no=$(sed -n 's/^other: \([0-9]*\) chunks.*/\1/p' <<<"$cl")
note "stale stream: ${done_bytes:-?} bytes acknowledged; on disk ${ny:-?} MiB new, ${np:-?} MiB old, ${no:-?} MiB other"
# on disk: every acknowledged write, and nothing beyond what was under way
# at the freeze (2 x 128 KiB, plus what went between the last look at the
# counter and the SIGSTOP); a 1 MiB chunk written in part counts as other
if [[ -n $ny && -n $np && -n $done_bytes ]] && (((ny + no) * 1048576 >= done_bytes && ny + np + no == 512 &&
	(ny + no) * 1048576 <= frozen * 1000000 + 16 * 1048576)); then
	pass "no write of the stale stream landed after the freeze ($((ny + no)) MiB touched on disk, $frozen MB done before it)"
else
	echo "$cl"; fail "stale stream writes: $ny MiB on disk, $frozen MB before the freeze"
fi
mm_wait_state $P.3 active 40 && pass "node .3 rejoined" || fail "node .3 rejoin"
out=$(io $P.3 write nsd1 192M 8M 77 2>&1 && io $P.3 read nsd1 192M 8M 77 2>&1 && io $P.3 read nsd2 256M 1M 666 2>&1) &&
	pass "node .3 does I/O again (write+read nsd1 via a server, read nsd2)" || { echo "$out"; fail "I/O after rejoin"; }
# the control: the same rogue request is served once node .3 is a member
out=$("$ROGUE" $P.3 $P.2 $id1 MM_OK -o 900M -l 64K -s 13 2>$W/rogue.err) &&
	out=$(io $P.1 read nsd1 900M 1M 808 --expect <(echo "$((900 << 20)) 65536 13") 2>&1) &&
	pass "the same request from node .3's identity is served now that it is a member (and lands)" ||
	{ echo "$out"; cat $W/rogue.err; fail "rogue control"; }

# ---- f. a damaged descriptor ---------------------------------------------
dd if=$D/d2 of=$W/d2.desc bs=4096 count=1 status=none
printf 'garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage!' |
	dd of=$D/d2 bs=1 seek=32 conv=notrunc status=none
out=$(mmnsddiscover -a 2>&1)
echo "$out" | grep "nsd2" | sed 's/^/  .. /'
n=$(awk '$1=="nsd2" && /not used/ && /damaged/' <<<"$out" | wc -l)
[[ $n == 2 ]] && pass "mmnsddiscover -a: nsd2's device is damaged and not used on both its servers" ||
	{ echo "$out"; fail "mmnsddiscover after damage ($n)"; }
bad=0
for v in 1 3; do
	out=$(io $P.$v read nsd2 32M 1M 1 2>&1); rc=$?
	[[ $rc == 1 && $out == *MM_ENOENT* && $out == *"NSD nsd2: read of sectors"* && $out == *damaged* &&
		$out != *"not what seed"* ]] ||
		{ echo "$out"; bad=1; }
done
out=$(io $P.3 write nsd2 32M 1M 1 2>&1); rc=$?
[[ $rc == 1 && $out == *"NSD nsd2: write of sectors"* ]] || { echo "$out"; bad=1; }
[[ $bad == 0 ]] && pass "I/O to nsd2 fails naming it: $(head -1 <<<"$out" | cut -c1-200)..." || fail "I/O to a damaged NSD"
dd if=$W/d2.desc of=$D/d2 bs=4096 count=1 conv=notrunc status=none
out=$(mmnsddiscover -a 2>&1)
[[ $(awk '$1=="nsd2" && $3=="local"' <<<"$out" | wc -l) == 2 ]] || { echo "$out"; fail "rediscovery after restore"; }
out=$(io $P.3 model-verify nsd2 $W/model.nsd2.1 2>&1) && pass "descriptor restored: nsd2 is used again and its data is intact" ||
	{ echo "$out"; fail "nsd2 after restore"; }

# ---- g. injected disk errors on nsd1's servers ---------------------------
mode=$(MMFS_NODE=$P.1 mmdiag --nsd | grep -A1 "^nsd1 " | grep -o "O_DIRECT libaio\|buffered sync\|O_DIRECT sync\|buffered libaio")
case $mode in
	*libaio) call=io_submit ;;
	*) call=pwrite ;;
esac
note "nsd1's disk runs '$mode': faults go to $call"
out=$(io $P.1 fault $call 1 EIO --persistent 2>&1 && io $P.2 fault $call 1 EIO --persistent 2>&1) ||
	{ echo "$out"; fail "nsdfault"; }
out=$(io $P.3 write nsd1 160M 1M 9 2>&1); rc=$?
[[ $rc == 1 && $out == *"NSD nsd1: write of sectors 327680-329727"* && $out == *"I/O error"* &&
	$out == *"node 1:"* && $out == *"node 2:"* ]] &&
	pass "$call failing on both servers: the write fails: $(grep -o 'NSD nsd1: write.*' <<<"$out" | head -1)" ||
	{ echo "$out"; fail "write with both servers failing (rc $rc)"; }
out=$(io $P.2 fault-reset 2>&1) || { echo "$out"; fail "fault-reset .2"; }
s0=$(served $P.2)
out=$(io $P.3 write nsd1 160M 4M 9 2>&1 && io $P.3 read nsd1 160M 4M 9 2>&1) && [[ $(served $P.2) -gt $s0 ]] &&
	pass "with the fault on the primary only, the write succeeds through node 2 and reads back" ||
	{ echo "$out"; fail "write with the primary failing"; }
out=$(io $P.1 fault-reset 2>&1) || { echo "$out"; fail "fault-reset .1"; }
out=$(io $P.1 write nsd1 164M 4M 10 2>&1 && io $P.3 read nsd1 160M 8M 9 --expect <(echo "$((164 << 20)) $((4 << 20)) 10") 2>&1) &&
	pass "faults reset: node .1 writes nsd1 locally again" || { echo "$out"; fail "after fault reset"; }

# ---- h. a server frozen (SIGSTOP) in the middle of a stream --------------
fo0=$(nsd_row $P.3 nsd2 | awk '{print $NF}')
b0=$(mb_written $P.3 nsd2)
pid2=$(mm_pid $P.2)	# looked up first: the freeze must follow the counter at once
io $P.3 write nsd2 256M 256M 3131 -b 64K -d 2 >$W/freeze.out 2>&1 &
bg=$!
t0=$(date +%s%N)
while :; do
	w=$(mb_written $P.3 nsd2)
	[[ $((w - b0)) -ge 16 ]] && break
	[[ $(($(date +%s%N) - t0)) -gt 10000000000 ]] && break
	sleep 0.01
done
kill -STOP "$pid2"
note "nsd2's primary server (.2) frozen after $((w - b0)) MB of a 256 MiB stream from .3"
wait $bg; rc=$?
fo1=$(nsd_row $P.3 nsd2 | awk '{print $NF}')
[[ $rc == 0 && $fo1 -gt $fo0 ]] && pass "the stream completed through node 1: $(cut -d: -f2- $W/freeze.out)" ||
	{ cat $W/freeze.out; fail "stream through a frozen server (rc $rc, failovers $fo0 -> $fo1)"; }
# newer data over the whole range while .2 is still frozen: a request .2
# held at the freeze must not land on top of it after the thaw
out=$(io $P.1 write nsd2 256M 256M 3232 2>&1) || { echo "$out"; fail "overwrite while .2 is frozen"; }
kill -CONT "$pid2"
mm_wait_state $P.2 active 40 && pass "node .2 thawed and active again" || fail "node .2 after SIGCONT"
out=$(io $P.3 read nsd2 256M 256M 3232 2>&1 && io $P.2 read nsd2 256M 256M 3232 2>&1) &&
	pass "the newer data reads back from both servers: the thawed server wrote nothing stale over it" ||
	{ echo "$out"; io $P.1 classify nsd2 256M 256M 1M 3232 3131; fail "stale data from the thawed server"; }
grep -q "does not serve NSD I/O: its own lease lapsed\|lease lapsed" $MMFS_ROOT/$P.2/mmfs.log && note "node .2 log: $(grep -c 'lease' $MMFS_ROOT/$P.2/mmfs.log) lease messages"

# ---- nothing went wrong on the way ---------------------------------------
bad=0
for i in 1 2 3; do
	for d in "${NSDS[@]}"; do
		out=$(io $P.$(( (i % 3) + 1 )) model-verify $d $W/model.$d.$i 2>&1) || { echo "$out"; bad=1; }
	done
done
[[ $bad == 0 ]] && pass "at the end every model region still verifies" || fail "model regions changed"
note "nsdio test took $(($(date +%s) - t_start)) s"
mm_done
