#!/usr/bin/env bash
# Membership changes on a running cluster: mmaddnode (client and quorum),
# mmchnode --quorum / --nonquorum on a running node (its etcd member is
# started / stopped), mmdelnode; the quorum figures follow each change.
source "$(dirname "$0")/lib.sh"
mm_setup members
P=127.1.7
mm_cluster $P 3 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 $P.1 $P.2 $P.3 && pass "3-node cluster active" || { fail "3 active"; exit 1; }

quorum_of() { mmgetstate -Y -N "$1" | awk -F: '$3=="0"{print $10}'; }
etcd_pid_of() { MMFS_NODE=$1 mmdiag --stats | sed -n 's/^etcd: pid \([0-9]*\).*/\1/p'; }
# wait_for SECONDS 'shell condition' (evaluated afresh each time)
wait_for() { local t=$1 c=$2; for _ in $(seq 1 $((t * 5))); do eval "$c" && return 0; sleep 0.2; done; return 1; }

out=$(mmaddnode -N $P.4 2>&1) && pass "mmaddnode -N $P.4 (client)" || { echo "$out"; fail "mmaddnode client"; }
mmstartup -N $P.4 >/dev/null && mm_wait_state $P.4 active 30 && pass "new client node active" || fail "new client active"
[[ $(mmlscluster | grep -c "^ *[0-9]  *$P") == 4 ]] && pass "mmlscluster lists 4 nodes" || fail "mmlscluster after add"

out=$(mmaddnode -N $P.5:quorum-manager 2>&1) && pass "mmaddnode -N $P.5:quorum-manager" || { echo "$out"; fail "mmaddnode quorum"; }
[[ -f $MMFS_ROOT/$P.5/etcd.join ]] && pass "the new quorum node got its etcd join list" || fail "etcd.join"
mmstartup -N $P.5 >/dev/null && mm_wait_state $P.5 active 40 && pass "new quorum node active" || fail "new quorum node active"
[[ -n $(etcd_pid_of $P.5) ]] && pass "the new quorum node runs an etcd member" || fail "no etcd on $P.5"
wait_for 10 '[[ "$(quorum_of $P.1)" == 3 ]]' && pass "4 quorum nodes: quorum is 3" || fail "quorum after add: $(quorum_of $P.1)"

out=$(mmchnode --quorum -N $P.4 2>&1) && pass "mmchnode --quorum -N $P.4 (running)" || { echo "$out"; fail "chnode quorum"; }
wait_for 20 '[[ -n "$(etcd_pid_of $P.4)" ]]' && pass "its daemon started an etcd member" || fail "no etcd on $P.4"
wait_for 10 '[[ "$(quorum_of $P.1)" == 3 ]]' && pass "5 quorum nodes: quorum is 3" || fail "quorum: $(quorum_of $P.1)"
mm_wait_all active 20 $P.1 $P.2 $P.3 $P.4 $P.5 && pass "all 5 active" || fail "all 5 active"
mmlscluster | grep -q "$P.4 .*quorum" && pass "mmlscluster shows $P.4 as a quorum node" || fail "designation"

out=$(mmchnode --nonquorum -N $P.4 2>&1) && pass "mmchnode --nonquorum -N $P.4" || { echo "$out"; fail "chnode nonquorum"; }
wait_for 20 '[[ -z "$(etcd_pid_of $P.4)" ]]' && pass "its etcd member stopped" || fail "etcd still on $P.4"
wait_for 10 '[[ "$(quorum_of $P.1)" == 3 ]]' && pass "4 quorum nodes again: quorum 3" || fail "quorum: $(quorum_of $P.1)"

out=$(mmdelnode -N $P.5 2>&1)
[[ $? -ne 0 && $out == *"mmshutdown"* ]] && pass "mmdelnode refuses an active node: $out" || fail "delnode active: $out"
mmshutdown -N $P.5 >/dev/null
out=$(mmdelnode -N $P.5 2>&1) && pass "mmdelnode -N $P.5 after shutdown" || { echo "$out"; fail "mmdelnode"; }
[[ ! -d $MMFS_ROOT/$P.5 ]] && pass "its state directory is gone" || fail "state dir left"
wait_for 10 '[[ "$(quorum_of $P.1)" == 2 ]]' && pass "3 quorum nodes: quorum 2" || fail "quorum after delete: $(quorum_of $P.1)"
[[ $(mmlscluster | grep -c "^ *[0-9]  *$P") == 4 ]] && pass "mmlscluster lists 4 nodes" || fail "mmlscluster after delete"

mmshutdown -N $P.3 >/dev/null
mm_wait_all active 15 $P.1 $P.2 $P.4 && pass "with one of 3 quorum nodes down the rest stay active" ||
	fail "active after losing one quorum node"
out=$(mmchnode --nonquorum -N $P.1,$P.2 2>&1)
[[ $? -ne 0 ]] && pass "demoting the last active quorum nodes is refused: $out" || fail "demote all: $out"
mm_done
