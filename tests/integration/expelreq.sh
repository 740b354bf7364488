#!/usr/bin/env bash
# Expel requests (cluster/expel.c) and mmexpelnode: the cluster manager
# expels a node at another's request by revoking its lease; the node
# rejoins by itself. mmexpelnode -N expels the node named (here the
# client node), refuses the cluster manager, and --list shows a pending
# request (the cluster manager frozen a moment so it stays pending). A
# peer's report (the token layer's path, through the daemon's "expel
# report" test hook) follows GPFS's rule: a quorum node reported by a
# client node stays and the client goes; a report of the cluster manager
# expels the reporter; the same reporter cannot have the same node
# expelled twice within 60 s; a report of a node that is down is dropped.
# (A report of a node that rejoined after the request is dropped too: too
# quick to time here, tests/unit/test_expel.c covers the decision.)
# Nodes: 1-3 quorum-manager, 4 client.
source "$(dirname "$0")/lib.sh"
mm_setup expelreq
P=127.1.22
ADMCALL=${ADMCALL:-$MM_TOP/build/tools/admcall}
mm_cluster $P 4 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "4 nodes active (3 quorum)" || { fail "4 active"; exit 1; }

wait_for() { local t=$1 c=$2; for _ in $(seq 1 $((t * 5))); do eval "$c" && return 0; sleep 0.2; done; return 1; }
joins() { MMFS_NODE=$1 mmdiag --stats 2>/dev/null | sed -n 's/.*joins \([0-9]*\).*/\1/p'; }
report() { # report FROM TARGET WHY: FROM tells the cluster manager it cannot reach TARGET
	"$ADMCALL" "$1" "{\"cmd\":\"expel\",\"op\":\"report\",\"nodes\":[\"$2\"],\"why\":\"$3\"}" >/dev/null
}
cmlog() { cat "$MMFS_ROOT"/$P.[123]/mmfs.log 2>/dev/null; }
# watch NODE's state as it reports it, every 0.05 s, into FILE (until killed)
watch_state() { while :; do echo "$(mm_state "$1")"; sleep 0.05; done >"$2"; }
# left_and_back FILE: the states seen went from active to something else and back
left_and_back() { awk '$1 != "active" && seen {left=1} $1 == "active" {seen=1; if (left) back=1} END {exit !back}' "$1"; }

cmn=$(mm_cm $P.1)
[[ -n $cmn ]] || { fail "no cluster manager"; exit 1; }
cm=$P.$cmn
q=()
for n in $P.1 $P.2 $P.3; do [[ $n != "$cm" ]] && q+=("$n"); done
q1=${q[0]} q2=${q[1]}
note "cluster manager $cm; other quorum nodes $q1 $q2; client $P.4"

# --- nothing pending
out=$(MMFS_NODE=$q1 mmexpelnode --list 2>&1)
[[ $out == "No expel requests are pending." ]] && pass "mmexpelnode --list with none: $out" ||
	fail "mmexpelnode --list: '$out'"

# --- mmexpelnode -N the client node: it leaves and comes back by itself
j0=$(joins $P.4)
watch_state $P.4 "$MMFS_ROOT/states" &
WPID=$!
MM_EXTRA_CLEANUP="kill $WPID 2>/dev/null"
t0=$(date +%s%N)
out=$(MMFS_NODE=$q1 mmexpelnode -N $P.4 2>&1); rc=$?
echo "$out"
[[ $rc == 0 && $out == "Node $P.4 ($P.4) expelled." ]] &&
	pass "mmexpelnode -N $P.4: expelled in $((($(date +%s%N) - t0) / 1000000)) ms" ||
	fail "mmexpelnode -N $P.4: rc $rc"
mm_wait_state $P.4 active 20 && pass "$P.4 is active again by itself" || fail "$P.4 did not rejoin"
sleep 0.3
kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null
left_and_back "$MMFS_ROOT/states" &&
	pass "mmgetstate showed $P.4 leave and come back: $(uniq "$MMFS_ROOT/states" | tr '\n' ' ')" ||
	fail "states of $P.4 seen: $(uniq "$MMFS_ROOT/states" | tr '\n' ' ')"
[[ $(joins $P.4) == $((j0 + 1)) ]] && pass "$P.4 joined once more (joins $j0 -> $(joins $P.4))" ||
	fail "joins of $P.4: $j0 -> $(joins $P.4)"
user=$(id -un)
grep -q "expelling node 4 ($P.4) at the request of node ${q1##*.} ($q1): mmexpelnode by $user" "$MMFS_ROOT/$cm/mmfs.log" &&
	pass "the cluster manager logged the expel: $(grep -o "expelling node 4 .*" "$MMFS_ROOT/$cm/mmfs.log" | head -1)" ||
	fail "cluster manager's expel line"
grep -q "this node was expelled from the cluster: lease .* revoked by the cluster manager" "$MMFS_ROOT/$P.4/mmfs.log" &&
	pass "$P.4 logged its own expel" || fail "$P.4's expel line"
wait_for 5 '[[ $(MMFS_NODE=$q1 mmexpelnode --list 2>&1) == "No expel requests are pending." ]]' &&
	pass "the request is gone once served" || fail "request left: $(MMFS_NODE=$q1 mmexpelnode --list 2>&1)"

# --- the cluster manager is refused
out=$(MMFS_NODE=$q2 mmexpelnode -N "$cm" 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"$cm is the cluster manager"* && $out == *"use mmchmgr -c first"* ]] &&
	pass "mmexpelnode -N $cm (the cluster manager) refused: $out" || fail "mmexpelnode -N cm: rc $rc '$out'"
[[ $(mm_cm $P.1) == "$cmn" && $(mm_state "$cm") == active ]] && pass "the cluster manager stays" ||
	fail "cluster manager now '$(mm_cm $P.1)'"
out=$(mmexpelnode -N nosuch 2>&1); rc=$?
[[ $rc -ne 0 && $out == *nosuch* ]] && pass "mmexpelnode -N of an unknown node fails naming it" ||
	fail "unknown node: rc $rc '$out'"
out=$(mmexpelnode -r 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"rejoins the cluster by itself"* ]] && pass "mmexpelnode -r explains there is nothing to reset" ||
	fail "-r: rc $rc '$out'"

# --- a peer's reports: GPFS's choice of victim
j0=$(joins $P.4); jq1=$(joins "$q1")
report $P.4 "$q1" "test: cannot reach $q1" || fail "report from $P.4"
wait_for 10 '[[ $(joins $P.4) -gt $j0 ]]' && mm_wait_state $P.4 active 20 &&
	pass "$P.4 (client) reported quorum node $q1: $P.4 itself was expelled and rejoined" ||
	fail "report of a quorum node by a client: joins of $P.4 $j0 -> $(joins $P.4)"
[[ $(joins "$q1") == "$jq1" ]] && pass "$q1 (quorum) stayed" || fail "$q1 was expelled too"
cmlog | grep -q "expelling node 4 ($P.4), the requester, instead of node ${q1##*.} ($q1), which it asked to expel (test: cannot reach $q1): that node is a quorum node and the requester is not" &&
	pass "the cluster manager logged why the requester went" || fail "requester-instead log line"
jq2=$(joins "$q2")
report "$q2" "$cm" "test: cannot reach the cluster manager" || fail "report from $q2"
wait_for 10 '[[ $(joins $q2) -gt $jq2 ]]' && mm_wait_state "$q2" active 20 &&
	[[ $(mm_cm $P.1) == "$cmn" ]] &&
	pass "$q2 reported the cluster manager: $q2 was expelled instead and rejoined; $cm stays cluster manager" ||
	fail "report of the cluster manager: joins of $q2 $jq2 -> $(joins "$q2"), cm $(mm_cm $P.1)"
mm_wait_all active 20 "${MM_NODES[@]}" || fail "all active again"

# --- the hold-off: the same reporter, the same node, twice within 60 s
j0=$(joins $P.4)
report "$q2" $P.4 "test: revoke to $P.4 lost" || fail "report of $P.4 from $q2"
wait_for 10 '[[ $(joins $P.4) -gt $j0 ]]' && mm_wait_state $P.4 active 20 &&
	pass "$q2 reported $P.4: $P.4 expelled and rejoined" || fail "report of $P.4: joins $j0 -> $(joins $P.4)"
j0=$(joins $P.4)
# the second stays pending while the cluster manager is frozen: --list shows it
cmpid=$(mm_pid "$cm")
kill -STOP "$cmpid"
report "$q2" $P.4 "test: revoke to $P.4 lost again" || fail "second report of $P.4 from $q2"
out=$(MMFS_NODE=$q1 mmexpelnode --list 2>&1)
kill -CONT "$cmpid"
echo "$out"
[[ $(sed -n 3p <<<"$out") =~ ^$P\.4\ +$q2\ +[0-9]+s\ +test:\ revoke\ to\ $P\.4\ lost\ again$ &&
	$(wc -l <<<"$out") == 3 ]] && pass "mmexpelnode --list shows the pending request (node, requester, age, reason)" ||
	fail "mmexpelnode --list with one pending"
wait_for 10 '[[ $(MMFS_NODE=$q1 mmexpelnode --list 2>&1) == "No expel requests are pending." ]]' &&
	pass "the cluster manager, running again, served it" || fail "the request stays: $(MMFS_NODE=$q1 mmexpelnode --list 2>&1)"
grep -q "not expelling at the request of node ${q2##*.} ($q2) about node 4 ($P.4) (test: revoke to $P.4 lost again): the same requester had it expelled less than 60 s ago" \
	"$MMFS_ROOT/$cm/mmfs.log" && pass "the second report was dropped (hold-off), and logged" || fail "hold-off log line"
sleep 1
[[ $(joins $P.4) == "$j0" && $(mm_state $P.4) == active ]] && pass "$P.4 was not expelled again" ||
	fail "$P.4 expelled again: joins $j0 -> $(joins $P.4)"

# --- a node that is down: mmexpelnode refuses, a report is dropped
mmshutdown -N $P.4 >/dev/null 2>&1
mm_wait_state $P.4 down 20 || fail "$P.4 down"
out=$(MMFS_NODE=$q1 mmexpelnode -N $P.4 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"$P.4 is not active"* ]] && pass "mmexpelnode -N of a node that is down: $out" ||
	fail "mmexpelnode -N down node: rc $rc '$out'"
report "$q1" $P.4 "test: down" || fail "report of a down node"
wait_for 10 '[[ $(MMFS_NODE=$q1 mmexpelnode --list 2>&1) == "No expel requests are pending." ]]' &&
	grep -q "dropping the request of node ${q1##*.} ($q1) to expel node 4 ($P.4): the reported node is not an active member" \
		"$MMFS_ROOT/$cm/mmfs.log" && pass "a report of a node that is down is dropped" || fail "report of a down node"
mmstartup -N $P.4 >/dev/null
mm_wait_state $P.4 active 30 || fail "$P.4 back"

# only the cluster manager expels
ok=1
for n in "${MM_NODES[@]}"; do
	[[ $n == "$cm" ]] && continue
	grep -q "expelling node .* at the request of\|the requester, instead of" "$MMFS_ROOT/$n/mmfs.log" && ok=0
done
[[ $ok == 1 ]] && pass "only the cluster manager logged expels at a request" || fail "another node expelled"
mm_done
