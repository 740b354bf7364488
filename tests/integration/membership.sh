#!/usr/bin/env bash
# Quorum membership changes are all-or-nothing: whatever fails midway (the
# CCR write lost, an etcd step refused, the node's etcd killed, the node
# doing the change frozen), etcd's voting members and the definition's
# quorum nodes agree afterwards, the command says which step failed and
# what became of the change, and several nodes change at once.
# Faults are armed with the daemon's memberfault test hook (cluster/clm.h).
source "$(dirname "$0")/lib.sh"
mm_setup membership
P=127.1.19
ADMCALL=${ADMCALL:-$MM_TOP/build/tools/admcall}
mm_cluster $P 5 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "5 nodes active (3 quorum)" || { fail "5 active"; exit 1; }

wait_for() { local t=$1 c=$2; for _ in $(seq 1 $((t * 5))); do eval "$c" && return 0; sleep 0.2; done; return 1; }
etcd_pid_of() { MMFS_NODE=$1 mmdiag --stats 2>/dev/null | sed -n 's/^etcd: pid \([0-9]*\).*/\1/p'; }
quorum_nodes() { mmlscluster 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $5 ~ /quorum/ {print $3}' | sort | tr '\n' ' '; }
# etcd's voting members, asked of quorum node $1
etcd_members() {
	local n=$1 s=$MMFS_ROOT/$1/ssl
	ETCDCTL_API=3 etcdctl --endpoints="https://$n:2379" --cacert="$s/cluster.crt" --cert="$s/node.crt" \
		--key="$s/node.key" --command-timeout=3s member list 2>/dev/null |
		awk -F', ' '{sub("https://", "", $4); sub(":2380", "", $4); print $4}' | sort | tr '\n' ' '
}
# agree NODE: the definition's quorum nodes are exactly etcd's members
agree() {
	local q m
	q=$(quorum_nodes); m=$(etcd_members "$1")
	[[ -n $q && $q == "$m" ]] || { note "definition: '$q'  etcd: '$m'"; return 1; }
}
fault() { "$ADMCALL" "$1" "$2" >/dev/null || fail "arming $2 on $1"; }
logged() { grep -q "$2" "$MMFS_ROOT/$1/mmfs.log"; }

agree $P.1 && pass "etcd and the definition agree at the start: $(quorum_nodes)" || fail "agree at start"

# 1. the CCR write of the new definition is lost after etcd took the new member
fault $P.1 '{"cmd":"memberfault","point":"commit","action":"fail"}'
out=$(MMFS_NODE=$P.1 mmchnode --quorum -N $P.4 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"write the new cluster definition"* && $out == *"agree again"* ]] &&
	pass "CCR write lost: refused, naming the step: $out" || fail "commit fault (rc $rc): $out"
agree $P.1 && [[ $(quorum_nodes) != *"$P.4 "* ]] &&
	pass "the added etcd member was taken back: $P.4 is still a client" || fail "after the lost write"

# 2. etcd refuses the membership step
fault $P.1 '{"cmd":"memberfault","point":"etcd","nth":1,"action":"fail"}'
out=$(MMFS_NODE=$P.1 mmchnode --quorum -N $P.4 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"add an etcd member for $P.4"* && $out == *"not changed: $P.4"* ]] &&
	pass "etcd step refused: $out" || fail "etcd fault (rc $rc): $out"
agree $P.1 && pass "still in agreement" || fail "agree after the etcd fault"

# 3. now for real: two new quorum nodes, one at a time
for n in $P.4 $P.5; do
	out=$(MMFS_NODE=$P.1 mmchnode --quorum -N $n 2>&1) || { echo "$out"; fail "mmchnode --quorum -N $n"; }
	wait_for 30 "[[ -n \"\$(etcd_pid_of $n)\" ]]" || fail "no etcd member started on $n"
done
mm_wait_all active 30 "${MM_NODES[@]}" >/dev/null
agree $P.1 && [[ $(quorum_nodes) == "$P.1 $P.2 $P.3 $P.4 $P.5 " ]] &&
	pass "five quorum nodes, all with etcd members" || fail "five quorum nodes: $(quorum_nodes)"

# 4. several nodes at once while the changing node's etcd is killed midway
fault $P.1 '{"cmd":"memberfault","point":"etcd","nth":2,"action":"pause","secs":3}'
MMFS_NODE=$P.1 mmchnode --nonquorum -N $P.4,$P.5 >"$MMFS_ROOT/ch4.out" 2>&1 &
bg=$!
wait_for 20 "logged $P.1 'fault at etcd 2'" || fail "the pause fault did not fire"
e1=$(etcd_pid_of $P.1)
[[ -n $e1 ]] && kill -9 "$e1" && note "killed $P.1's etcd (pid $e1) between the two removals"
wait $bg; rc=$?
[[ $rc == 0 ]] && pass "two nodes demoted at once with the changing node's etcd killed midway" ||
	{ cat "$MMFS_ROOT/ch4.out"; fail "demote two with etcd killed (rc $rc)"; }
wait_for 10 "agree $P.2 >/dev/null" && [[ $(quorum_nodes) == "$P.1 $P.2 $P.3 " ]] &&
	pass "etcd and the definition agree: $(quorum_nodes)" || { agree $P.2; fail "after demoting two"; }
wait_for 20 "[[ -z \"\$(etcd_pid_of $P.4)\" && -z \"\$(etcd_pid_of $P.5)\" ]]" &&
	pass "the demoted nodes stopped their etcd members (no restart loop)" || fail "etcd still runs on $P.4/$P.5"

# 5. the node doing the change freezes after its first etcd step: the
#    cluster manager takes the change over once its lease is gone
out=$(MMFS_NODE=$P.1 mmchnode --quorum -N $P.4 2>&1) || { echo "$out"; fail "re-promote $P.4"; }
wait_for 30 "[[ -n \"\$(etcd_pid_of $P.4)\" ]]" || fail "no etcd member on $P.4"
mm_wait_all active 30 "${MM_NODES[@]}" >/dev/null
sleep 6	# etcd takes a new member as healthy after 5 s
owner=$P.2
[[ $(mm_cm $P.1) == 2 ]] && owner=$P.3
fault $owner '{"cmd":"memberfault","point":"etcd","nth":2,"action":"stop"}'
[[ $owner == "$P.2" ]] && victims="$P.3,$P.4" || victims="$P.2,$P.4"
want=$(tr ',' '\n' <<<"$P.1,$P.2,$P.3,$P.4,$victims" | sort | uniq -u | tr '\n' ' ')
MMFS_NODE=$owner timeout 90 mmchnode --nonquorum -N $victims >"$MMFS_ROOT/ch5.out" 2>&1 &
bg=$!
wait_for 30 "logged $owner 'fault at etcd 2'" || fail "the stop fault did not fire"
note "$owner froze after removing the first of $victims"
wait_for 40 'agree $P.1 >/dev/null && [[ $(quorum_nodes) == "$want" ]]' &&
	pass "the cluster manager finished the frozen node's change: $(quorum_nodes)" ||
	{ agree $P.1; fail "takeover: $(quorum_nodes)"; }
grep -h "taking over the membership change" "$MMFS_ROOT"/*/mmfs.log | head -1 | sed 's/^/  .. /'
kill -CONT "$(mm_pid $owner)"
wait $bg; rc=$?
out=$(cat "$MMFS_ROOT/ch5.out")
[[ $rc -ne 0 && $out == *"took the change over"* ]] && pass "the thawed node stops and says so: $out" ||
	fail "thawed owner (rc $rc): $out"
mm_wait_state $owner active 30 && pass "the thawed node rejoins" || fail "thawed node active"
agree $P.1 && pass "etcd and the definition still agree" || fail "agree at the end"

# 6. a change that would leave no quorum is refused, naming why
q=$(quorum_nodes)
out=$(mmchnode --nonquorum -N "$(tr ' ' ',' <<<"${q% }")" 2>&1)
[[ $? -ne 0 && $out == *"at least one quorum node"* ]] && pass "demoting every quorum node is refused: $out" ||
	fail "demote all: $out"
mm_done
