#!/usr/bin/env bash
# Expel: a node frozen with SIGSTOP past its lease is expelled by the
# cluster manager, and rejoins by itself after SIGCONT.
source "$(dirname "$0")/lib.sh"
mm_setup expel
P=127.1.6
mm_cluster $P 4 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "all active" || { fail "all active"; exit 1; }
victim=$P.4
pid=$(mm_pid $victim)
kill -STOP "$pid"
expelled=0
for _ in $(seq 1 75); do
	up=$(mmgetstate -Y -N $P.1 | awk -F: '$3=="0"{print $11}')
	[[ $up == 3 ]] && { expelled=1; break; }
	sleep 0.2
done
[[ $expelled == 1 ]] && pass "frozen node dropped from the members (nodes up 3)" || fail "frozen node not expelled"
grep -q "expelling node 4" <(cat "$MMFS_ROOT"/$P.[123]/mmfs.log) && pass "cluster manager logged the expel" ||
	fail "expel log line"
s=$(mm_state $victim)
[[ $s != active ]] && pass "frozen node is not reported active ($s)" || fail "frozen node reported active"
kill -CONT "$pid"
mm_wait_state $victim active 30 && pass "after SIGCONT the node rejoined" || fail "rejoin"
grep -qE "lease lapsed|expelled" <(mm_log $victim) && pass "the node logged its own expel" || fail "self expel log"
grep -qE "lease-bound operations resumed: this node rejoined after [0-9]+ s" <(mm_log $victim) &&
	pass "the node logged that lease-bound operations resumed" || fail "resume log line"
joins=$(MMFS_NODE=$victim mmdiag --stats | sed -n 's/.*joins \([0-9]*\).*/\1/p')
[[ ${joins:-0} -ge 2 ]] && pass "node joined twice ($joins)" || fail "joins=$joins"
up=$(mmgetstate -Y -N $P.1 | awk -F: '$3=="0"{print $11}')
for _ in $(seq 1 25); do [[ $up == 4 ]] && break; sleep 0.2; up=$(mmgetstate -Y -N $P.1 | awk -F: '$3=="0"{print $11}'); done
[[ $up == 4 ]] && pass "cluster manager sees 4 nodes up again" || fail "nodes up after rejoin: $up"
mm_done
