#!/usr/bin/env bash
# mmfs.log as a GPFS administrator expects it (issue 9): a new log file at
# each start, with mmfs.log.latest and mmfs.log.previous; a disconnect is
# one line; a node that has lost quorum does not flood its log, and says
# when the CCR answers again.
source "$(dirname "$0")/lib.sh"
mm_setup log
P=127.1.18
# lines a node without quorum may write in 10 s (3 s after it started
# alone, or 2 s after it lost quorum). Measured on 2026-12-06: 0 and 1-3
# (before this change: 40 and 75: three etcd URL lines per retry, every
# 0.5-1 s, plus watch and connect retries). The bound leaves room for a
# few first-time messages and a slow machine.
MAX_LINES_10S=${MAX_LINES_10S:-15}

mm_cluster $P 3 3 || { fail "mmcrcluster"; exit 1; }

# ---- a node that starts alone never has quorum: a bounded number of lines
# (before this change: 40 lines in 10 s, three etcd URL lines per retry)
mmstartup -N $P.1 >/dev/null || fail "mmstartup -N $P.1"
sleep 3
a=$(mm_log $P.1 | wc -l)
sleep 10
b=$(mm_log $P.1 | wc -l)
[[ $((b - a)) -le $MAX_LINES_10S ]] && pass "started alone: $((b - a)) lines in 10 s (bound $MAX_LINES_10S)" ||
	{ mm_log $P.1 | tail -n +$((a + 1)); fail "started alone: $((b - a)) lines in 10 s, more than $MAX_LINES_10S"; }

mmstartup -N $P.2,$P.3 >/dev/null || fail "mmstartup -N $P.2,$P.3"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "3 nodes active" || { fail "3 nodes active"; exit 1; }

d=$MMFS_ROOT/$P.3
first=$(readlink "$d/mmfs.log.latest")
[[ $first == mmfs.log.20[0-9][0-9].[0-9][0-9].[0-9][0-9].[0-9][0-9].[0-9][0-9].[0-9][0-9].$P.3 &&
	-f $d/$first && $(readlink "$d/mmfs.log") == "$first" && ! -e $d/mmfs.log.previous ]] &&
	pass "first start: mmfs.log and mmfs.log.latest -> $first, no previous" ||
	{ ls -l "$d"; fail "first start's log files"; }

# ---- a restart begins a new log; the old one becomes previous ----------
sleep 1	# distinct file names are not needed, but the usual case is worth testing
mmshutdown -N $P.3 >/dev/null
mmstartup -N $P.3 >/dev/null || fail "mmstartup -N $P.3"
mm_wait_state $P.3 active 40 || fail "$P.3 active after restart"
second=$(readlink "$d/mmfs.log.latest")
[[ -n $second && $second != "$first" && $(readlink "$d/mmfs.log.previous") == "$first" &&
	$(readlink "$d/mmfs.log") == "$second" ]] &&
	pass "restart: latest -> $second, previous -> $first" ||
	{ ls -l "$d"; fail "restart's log files"; }
grep -q "mmfsd exiting" "$d/mmfs.log.previous" && ! grep -q "mmfsd exiting" "$d/mmfs.log.latest" &&
	[[ $(grep -c "starting for node 3" "$d/mmfs.log.latest") == 1 ]] &&
	pass "the previous log ends with the exit, the latest holds only this run" ||
	fail "content of latest/previous"
[[ $(grep -c "starting for node 3" <(mm_log_all $P.3)) == 2 ]] && pass "mm_log_all reads both runs" ||
	fail "mm_log_all"
grep -q "mmfsd pid [0-9]* started; its log is $d/$first\$" "$d/mmfsd.stderr" &&
	grep -q "mmfsd pid [0-9]* started; its log is $d/$second\$" "$d/mmfsd.stderr" &&
	pass "mmfsd.stderr marks each run with its log file" || { cat "$d/mmfsd.stderr"; fail "mmfsd.stderr run marks"; }

# ---- a disconnect is logged once, with the peer and the cause ----------
l1=$(mm_log $P.1 | grep -E "connection (to|from) node 3 .*closed")
echo "$l1"
n_to=$(grep -c "connection to node 3 " <<<"$l1")
n_from=$(grep -c "connection from node 3 " <<<"$l1")
[[ $n_to -le 1 && $n_from -le 1 && $((n_to + n_from)) -ge 1 ]] &&
	! mm_log $P.1 | grep -q "closed by peer" &&
	grep -qE "closed: .*\(MM_" <<<"$l1" &&
	pass "node 3's shutdown: one line per connection, with the cause" ||
	{ mm_log $P.1 | grep "node 3" | tail -20; fail "disconnect lines"; }

# ---- a node that lost quorum: a bounded number of lines -----------------
mmshutdown -N $P.2,$P.3 >/dev/null
mm_wait_state $P.1 arbitrating 30 || fail "$P.1 arbitrating"
sleep 2
a=$(mm_log $P.1 | wc -l)
sleep 10
b=$(mm_log $P.1 | wc -l)
note "lines in 10 s without quorum: $((b - a))"
mm_log $P.1 | tail -n +$((a + 1))
[[ $((b - a)) -le $MAX_LINES_10S ]] && pass "without quorum: $((b - a)) lines in 10 s (bound $MAX_LINES_10S)" ||
	fail "without quorum: $((b - a)) lines in 10 s, more than $MAX_LINES_10S"
mm_log $P.1 | grep -q "etcd: https://$P.2:2379: " &&
	pass "the unreachable etcd endpoint was logged" || fail "etcd endpoint failure line"

mmstartup -N $P.2,$P.3 >/dev/null || fail "mmstartup -N $P.2,$P.3"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "quorum back: all active" || fail "all active again"
# the endpoint clm asks first (its own etcd, which had no leader) answers again
mm_log $P.1 | grep -qE "etcd: https://$P\.[123]:2379 answers again \(after [0-9]+ s, [0-9]+ failures?\)" &&
	pass "the etcd endpoint's recovery was logged once it answered" ||
	{ mm_log $P.1 | grep etcd | tail; fail "etcd answers-again line"; }
for _ in $(seq 1 25); do mm_log $P.1 | grep -q "net: node 2 ($P.2:1191) reachable again" && break; sleep 0.2; done
mm_log $P.1 | grep -qE "net: node 2 \($P.2:1191\) reachable again \(after [0-9]+ s, [0-9]+ failures?\)" &&
	pass "the connect failures to node 2 ended with one 'reachable again' line" ||
	{ mm_log $P.1 | grep "node 2" | tail; fail "net reachable-again line"; }
grep -q "lease-bound operations stopped until this node rejoins" <(mm_log $P.1) &&
	grep -qE "lease-bound operations resumed: this node rejoined after [0-9]+ s" <(mm_log $P.1) &&
	pass "lease-bound operations: stopped, then resumed" ||
	{ mm_log $P.1 | grep -i lease; fail "lease-bound stop/resume lines"; }
mm_log $P.1 | grep -qE "message repeated [0-9]+ times? in the last [0-9]+ s: \[" &&
	pass "held-back repeats were counted" || note "no repeat summary yet"
mm_done
