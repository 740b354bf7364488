#!/usr/bin/env bash
# Smoke test: the user's walk-through of issue 2 on a 4-node cluster
# (3 quorum-manager nodes, one client): create, start, state, config,
# partial and full shutdown. Also run under ASan by tests/check asan.
source "$(dirname "$0")/lib.sh"
mm_setup smoke
P=127.1.1
mm_cluster $P 4 3 || { fail "mmcrcluster"; exit 1; }
pass "mmcrcluster created a 4-node cluster"

out=$(mmcrcluster -N $P.1:quorum -C again 2>&1)
if [[ $? -ne 0 && $out == *"already belongs to a cluster"* ]]; then
	pass "mmcrcluster refuses a node that already has a cluster"
else
	fail "mmcrcluster on an existing node: $out"
fi

out=$(mmstartup -a 2>&1) || { echo "$out"; fail "mmstartup -a"; exit 1; }
pass "mmstartup -a"
out=$(mmstartup -N $P.1 2>&1)
[[ $out == *"already running"* ]] && pass "second mmstartup says already running" ||
	fail "second start: $out"

if mm_wait_all active 40 "${MM_NODES[@]}"; then pass "all 4 nodes active"; else fail "all 4 nodes active"; fi

out=$(mmgetstate -a)
echo "$out"
[[ $(grep -c ' active' <<<"$out") -eq 4 ]] && pass "mmgetstate -a lists 4 active nodes" ||
	fail "mmgetstate -a"
# membership events reach every node within moments of the last join
for _ in $(seq 1 25); do
	out=$(mmgetstate -a -L)
	[[ $(awk '$3==2 && $4==4 && $5==4 && $6=="active"' <<<"$out" | wc -l) -eq 4 ]] && break
	sleep 0.2
done
echo "$out"
if [[ $(awk '$3==2 && $4==4 && $5==4 && $6=="active"' <<<"$out" | wc -l) -eq 4 ]]; then
	pass "mmgetstate -L: quorum 2, 4 up, 4 total"
else
	fail "mmgetstate -L figures"
fi

out=$(mmlscluster)
echo "$out"
[[ $out == *"GPFS cluster name:         smoke.$P.1"* && $(grep -c quorum-manager <<<"$out") -eq 3 ]] &&
	pass "mmlscluster shows the cluster and 3 quorum-manager nodes" || fail "mmlscluster"

out=$(mmchconfig pagepool=128M 2>&1) && pass "mmchconfig pagepool=128M" || fail "mmchconfig: $out"
out=$(mmlsconfig)
echo "$out"
grep -q '^pagepool 128M$' <<<"$out" && pass "mmlsconfig shows pagepool 128M" || fail "mmlsconfig"
# dynamic: every daemon applies it (give the watch a moment)
ok=1
for n in "${MM_NODES[@]}"; do
	for _ in $(seq 1 25); do
		MMFS_NODE=$n mmdiag --config | grep -q '^! pagepool 128M' && break
		sleep 0.2
	done
	MMFS_NODE=$n mmdiag --config | grep -q '^! pagepool 128M' || { ok=0; note "$n did not apply pagepool"; }
done
[[ $ok == 1 ]] && pass "every running daemon applied pagepool=128M" || fail "pagepool push"
# and resizes its pool online, from the 64M of test.cfg
ok=1
for n in "${MM_NODES[@]}"; do
	for _ in $(seq 1 50); do
		out=$(MMFS_NODE=$n mmdiag --pagepool)
		[[ $out == *"size 134217728 bytes"* ]] && break
		sleep 0.2
	done
	[[ $out == *"size 134217728 bytes"* && $out == *"prefetch: issued"* && $out == *"flush rate"* &&
		$out == *"write-behind: 4 threads"* ]] || { ok=0; echo "$out"; note "$n: pool not resized"; }
done
[[ $ok == 1 ]] && pass "mmdiag --pagepool: every daemon resized its pool to 128M online" || fail "mmdiag --pagepool"
out=$(mmchconfig pagepool=64M 2>&1) || fail "mmchconfig pagepool=64M: $out"
for _ in $(seq 1 50); do
	out=$(mmdiag --pagepool)
	[[ $out == *"size 67108864 bytes"* ]] && break
	sleep 0.2
done
[[ $out == *"size 67108864 bytes"* ]] && pass "and shrank it back to 64M" || { echo "$out"; fail "pagepool shrink"; }

out=$(mmchconfig pagepool=12X 2>&1)
[[ $? -ne 0 && $out == *pagepool* && $out == *12X* ]] && pass "bad value refused: $out" ||
	fail "bad value: $out"
out=$(mmchconfig pagepol=1G 2>&1)
[[ $? -ne 0 && $out == *pagepol* ]] && pass "unknown attribute refused: $out" || fail "unknown attr: $out"

out=$(mmdiag --version --network --stats --waiters)
[[ $out == *"mmfs build"* && $out == *"RPC counters"* && $out == *"network"* ]] &&
	pass "mmdiag --version --network --stats --waiters" || { echo "$out"; fail "mmdiag"; }

mmshutdown -N $P.2 >/dev/null 2>&1
out=$(mmgetstate -a)
echo "$out"
if [[ $(awk '$2=="'$P.2'"{print $3}' <<<"$out") == down && $(grep -c ' active' <<<"$out") -eq 3 ]]; then
	pass "mmshutdown -N $P.2: it is down, the other 3 stay active"
else
	fail "partial shutdown"
fi
mmshutdown -a >/dev/null 2>&1
out=$(mmgetstate -a)
[[ $(grep -c ' down' <<<"$out") -eq 4 ]] && pass "mmshutdown -a: all down" || { echo "$out"; fail "full shutdown"; }
left=$(mm_pids | sort -u | tr '\n' ' ')
[[ -z $left ]] && pass "no daemon or etcd left running" || fail "processes left: $left"
mm_done
