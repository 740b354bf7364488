#!/usr/bin/env bash
# Quorum: a 5-node cluster (3 quorum nodes) reaches active everywhere; losing
# quorum nodes one by one keeps it active while a majority of them runs and
# turns every survivor arbitrating (never active) once quorum is gone;
# restarting them returns all to active. failureDetectionTime is long (30 s)
# here so that the survivors' prompt arbitrating comes from seeing the
# quorum nodes leave, not from their own leases running out.
source "$(dirname "$0")/lib.sh"
MM_FDT=30
mm_setup quorum
P=127.1.2
mm_cluster $P 5 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "5-node cluster: all active" || fail "5 nodes active"

mmshutdown -N $P.1 >/dev/null
sleep 2
mm_wait_all active 10 $P.2 $P.3 $P.4 $P.5 && pass "one quorum node down: the other 4 stay active" ||
	fail "one quorum node down"

cms_before=$(cat "$MMFS_ROOT"/$P.{3,4,5}/mmfs.log | grep -c "is now the cluster manager")
mmshutdown -N $P.2 >/dev/null
t0=$(date +%s)
mm_wait_all arbitrating 8 $P.3 $P.4 $P.5 &&
	pass "quorum lost cleanly: survivors arbitrating within $(($(date +%s) - t0)) s (lease 30 s)" ||
	fail "quorum lost: survivors arbitrating within 8 s"
cms_after=$(cat "$MMFS_ROOT"/$P.{3,4,5}/mmfs.log | grep -c "is now the cluster manager")
[[ $cms_after == "$cms_before" ]] && pass "no survivor took the cluster manager role as quorum went" ||
	fail "a survivor became cluster manager while quorum was going"
bad=0
for _ in $(seq 1 15); do
	for n in $P.3 $P.4 $P.5; do [[ $(mm_state $n) == active ]] && bad=1; done
	sleep 0.2
done
[[ $bad == 0 ]] && pass "without quorum no node reports active" || fail "active without quorum"
out=$(mmgetstate -a -L)
echo "$out"
grep -q "arbitrating" <<<"$out" && pass "mmgetstate -L shows arbitrating" || fail "mmgetstate -L arbitrating"
out=$(MMFS_NODE=$P.3 mmchconfig maxMBpS=1000 2>&1)
[[ $? -ne 0 && $out == *quorum* ]] && pass "mmchconfig refused without quorum: $out" ||
	fail "mmchconfig without quorum: $out"

mmstartup -N $P.1,$P.2 >/dev/null || fail "restart quorum nodes"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "quorum regained: all 5 active again" || fail "all active again"
mm_done
