#!/usr/bin/env bash
# Configuration: concurrent mmchconfig calls both persist; per-node values;
# everything survives a full restart of the cluster.
source "$(dirname "$0")/lib.sh"
mm_setup config
P=127.1.4
mm_cluster $P 3 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "all active" || { fail "all active"; exit 1; }

pairs=("maxMBpS=4001 worker1Threads=101" "seqDiscardThreshold=2M writebehindThreshold=1M"
       "maxFilesToCache=5001 maxStatCache=2001" "prefetchPct=25 waiterThresholdMs=1500")
lost=0
for pair in "${pairs[@]}"; do
	a=${pair% *}; b=${pair#* }
	MMFS_NODE=$P.1 mmchconfig "$a" >"$MMFS_ROOT/a.out" 2>&1 & pa=$!
	MMFS_NODE=$P.2 mmchconfig "$b" >"$MMFS_ROOT/b.out" 2>&1 & pb=$!
	wait $pa || { lost=1; cat "$MMFS_ROOT/a.out"; }
	wait $pb || { lost=1; cat "$MMFS_ROOT/b.out"; }
done
out=$(mmlsconfig)
for pair in "${pairs[@]}"; do
	for kv in $pair; do grep -qx "${kv%=*} ${kv#*=}" <<<"$out" || { lost=1; note "lost $kv"; }; done
done
[[ $lost == 0 ]] && pass "8 concurrent mmchconfig calls in 4 racing pairs all persisted" ||
	{ echo "$out"; fail "concurrent mmchconfig lost a change"; }
races=$(cat "$MMFS_ROOT"/*/mmfs.log | grep -c "raced with another" || true)
note "compare-and-swap retries seen: $races"

mmchconfig pagepool=256M -N $P.2 >/dev/null 2>&1 && pass "mmchconfig -N $P.2 pagepool=256M" || fail "per-node mmchconfig"
out=$(mmlsconfig)
grep -A1 "^\[$P.2\]" <<<"$out" | grep -q "pagepool 256M" && pass "mmlsconfig shows the [$P.2] section" ||
	{ echo "$out"; fail "per-node section"; }
for _ in $(seq 1 25); do MMFS_NODE=$P.2 mmdiag --config | grep -q '^! pagepool 256M' && break; sleep 0.2; done
MMFS_NODE=$P.2 mmdiag --config | grep -q '^! pagepool 256M' && pass "node $P.2 applied its own pagepool" || fail "per-node apply"
MMFS_NODE=$P.1 mmdiag --config | grep -q '^! pagepool 64M' && pass "node $P.1 kept the cluster-wide pagepool" || fail "other node pagepool"

out=$(mmchconfig failureDetectionTime=1 2>&1)
[[ $? -ne 0 && $out == *failureDetectionTime* ]] && pass "out-of-range value refused: $out" || fail "range: $out"

# cipherList is not dynamic: it takes effect at the restart below, and the command says so
out=$(mmchconfig cipherList=AES128-GCM-SHA256 2>&1) && pass "mmchconfig cipherList=AES128-GCM-SHA256" ||
	fail "cipherList: $out"
grep -q "^mmchconfig: attribute cipherList takes effect at the next mmstartup of the daemons$" <<<"$out" &&
	pass "mmchconfig says cipherList takes effect at the next mmstartup" || fail "no restart note: $out"
out=$(mmchconfig pagepoolmaxphysmempct=80 2>&1)
grep -q "attribute pagepoolMaxPhysMemPct takes effect at the next mmstartup" <<<"$out" &&
	pass "... and so for pagepoolMaxPhysMemPct (in table spelling)" || fail "no restart note: $out"
out=$(mmchconfig maxMBpS=4001 2>&1)
! grep -q "takes effect" <<<"$out" && pass "no restart note for a dynamic attribute" || fail "dynamic: $out"
out=$(mmchconfig verbsRdma=ENABLE 2>&1)
[[ $? == 0 && $out == *"warning: verbsRdma enable is stored, but this build has no RDMA transport"* ]] &&
	pass "verbsRdma=enable is stored with a warning" || fail "verbsRdma: $out"
mmlsconfig verbsRdma | grep -qx "verbsRdma enable" && pass "mmlsconfig shows verbsRdma enable" || fail "verbsRdma not stored"

mmshutdown -a >/dev/null
# every daemon down: the listing commands answer from the local copy, and say so
out=$(mmlsconfig 2>"$MMFS_ROOT/err"); rc=$?
[[ $rc == 0 ]] && grep -qx "maxMBpS 4001" <<<"$out" && grep -qx "verbsRdma enable" <<<"$out" &&
	grep -q "^Configuration data for cluster config.$P.1:" <<<"$out" &&
	grep -qx "mmlsconfig: the daemon on this node is down; answering from the local copy of the cluster definition (may be stale)" "$MMFS_ROOT/err" &&
	pass "mmlsconfig with the daemons down answers from the local copy, saying so" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsconfig with the daemons down (rc $rc)"; }
out=$(mmlsconfig -Y pagepool 2>/dev/null)
grep -q "^mmlsconfig::0:1:::pagepool:" <<<"$out" && pass "mmlsconfig -Y pagepool from the local copy" || fail "-Y offline: $out"
out=$(mmlscluster 2>"$MMFS_ROOT/err"); rc=$?
[[ $rc == 0 && $(grep -c "^ *[0-9]  *$P" <<<"$out") == 3 ]] && grep -q "mmlscluster: .*local copy" "$MMFS_ROOT/err" &&
	pass "mmlscluster with the daemons down answers from the local copy, saying so" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlscluster offline (rc $rc)"; }
out=$(mmlsnsd 2>&1)
[[ $? -ne 0 && $out == *"no daemon answered"* ]] && pass "mmlsnsd with no daemon anywhere says so: $out" ||
	fail "mmlsnsd offline: $out"
mmstartup -a >/dev/null || fail "restart"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "all active after full restart" || fail "active after restart"
enc=0
for _ in $(seq 1 50); do
	net=$(for n in "${MM_NODES[@]}"; do MMFS_NODE=$n mmdiag --network; done)
	grep -q " up .*encrypted" <<<"$net" && ! grep -q "authonly" <<<"$net" && { enc=1; break; }
	sleep 0.2
done
[[ $enc == 1 ]] && pass "after the restart daemons talk over encrypted connections only" ||
	{ echo "$net"; fail "encrypted connections"; }
out=$(mmlsconfig)
ok=1
for pair in "${pairs[@]}"; do for kv in $pair; do grep -qx "${kv%=*} ${kv#*=}" <<<"$out" || ok=0; done; done
[[ $ok == 1 ]] && pass "configuration survived a full restart" || { echo "$out"; fail "config after restart"; }
MMFS_NODE=$P.2 mmdiag --config | grep -q '^! pagepool 256M' && pass "per-node value survived the restart" ||
	fail "per-node value after restart"

# an internal relay for other machines: read-only requests only
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
out=$(MMFS_NODE=$P.1 mmremote admin "$(hex '{"cmd":"lsconfig"}')")
[[ $out == "mmremote-reply: {"*'"clusterName":"config.'$P.1'"'* && $out == *'"rc":0'* ]] && pass "mmremote admin relays lsconfig" ||
	fail "mmremote: $out"
out=$(MMFS_NODE=$P.1 mmremote admin "$(hex '{"cmd":"chconfig","names":["maxMBpS"],"values":["1"]}')" 2>&1)
[[ $? == 2 && $out == *"only read-only requests"* ]] && pass "mmremote refuses a change" || fail "mmremote chconfig: $out"

# this node's daemon down, another node's up: answered by that one, saying so
mmshutdown -N $P.3 >/dev/null
want=$(MMFS_NODE=$P.1 mmlsconfig)
out=$(MMFS_NODE=$P.3 mmlsconfig 2>"$MMFS_ROOT/err")
[[ $out == "$want" ]] && grep -q "mmlsconfig: the daemon of node $P.3 is down; answering from the daemon of node $P.1" "$MMFS_ROOT/err" &&
	pass "mmlsconfig on a node whose daemon is down: another node's daemon answers, and it says so" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsconfig via another daemon"; }
out=$(MMFS_NODE=$P.3 mmlscluster 2>"$MMFS_ROOT/err")
[[ $(grep -c "^ *[0-9]  *$P" <<<"$out") == 3 ]] && grep -q "answering from the daemon of node $P.1" "$MMFS_ROOT/err" &&
	pass "mmlscluster likewise" || { echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlscluster via another daemon"; }
out=$(MMFS_NODE=$P.3 mmlsnsd 2>"$MMFS_ROOT/err")
[[ $? == 0 && $out == *"No disks were found"* ]] && grep -q "answering from the daemon of node $P.1" "$MMFS_ROOT/err" &&
	pass "mmlsnsd likewise" || { echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsnsd via another daemon"; }
mm_done
