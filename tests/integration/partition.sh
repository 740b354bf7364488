#!/usr/bin/env bash
# A real network partition: three nodes in network namespaces of their own,
# joined by veth pairs to a bridge in a fourth namespace (a private subnet
# that exists only inside this test). Cutting one node's link leaves it in
# a minority that must never report active while the majority stays active;
# restoring the link heals it. Needs root (ip netns); otherwise SKIP.
# The namespaces are other hosts to the commands: their addresses are not
# local here, so mmcrcluster, mmstartup, mmgetstate and mmshutdown reach
# them through the cluster's remote shell and copy (netns-rsh/netns-rcp).
source "$(dirname "$0")/lib.sh"
tag=mmpt$$
NS=("$tag-1" "$tag-2" "$tag-3")
BR=$tag-br
SUBNET=10.213.7

netns_cleanup() {
	for ns in "${NS[@]}" "$BR"; do ip netns del "$ns" 2>/dev/null; done
}
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
	skip "partition (needs root and iproute2 to create network namespaces)"; exit 0
fi
if ! err=$(ip netns add "$BR" 2>&1); then
	skip "partition (cannot create network namespaces: $err)"; exit 0
fi
MM_EXTRA_CLEANUP=netns_cleanup
mm_setup partition
export MMFS_NETNS_MAP=$MMFS_ROOT/netns.map

ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || { fail "bridge"; exit 1; }
for i in 1 2 3; do
	ns=${NS[$((i - 1))]}
	ip netns add "$ns" || { fail "netns $ns"; exit 1; }
	ip link add "${tag}a$i" type veth peer name "${tag}b$i" &&
	ip link set "${tag}a$i" netns "$ns" &&
	ip link set "${tag}b$i" netns "$BR" &&
	ip -n "$ns" addr add "$SUBNET.$i/24" dev "${tag}a$i" &&
	ip -n "$ns" link set "${tag}a$i" up &&
	ip -n "$ns" link set lo up &&
	ip -n "$BR" link set "${tag}b$i" master br0 &&
	ip -n "$BR" link set "${tag}b$i" up || { fail "veth for node $i"; exit 1; }
	echo "$SUBNET.$i $ns" >>"$MMFS_NETNS_MAP"
done
pass "three namespaces joined by a bridge on $SUBNET.0/24"

tools=$(cd "$(dirname "$0")/tools" && pwd)
MM_CRFLAGS="-r $tools/netns-rsh -R $tools/netns-rcp" mm_cluster $SUBNET 3 3 || { fail "mmcrcluster"; exit 1; }
[[ -f $MMFS_ROOT/$SUBNET.2/mmsdrfs.cfg && -f $MMFS_ROOT/$SUBNET.2/ssl/cluster.key ]] &&
	pass "mmcrcluster installed the remote nodes through the remote shell and copy" ||
	fail "remote install"
out=$(mmstartup -a 2>&1) || { echo "$out"; fail "mmstartup -a through the remote shell"; }
mm_wait_all active 40 "${MM_NODES[@]}" && pass "mmstartup -a started all 3 remote nodes; all active" ||
	{ fail "all active"; exit 1; }
out=$(mmgetstate -a)
echo "$out"
[[ $(grep -c ' active' <<<"$out") == 3 ]] && pass "mmgetstate -a asks the remote nodes" || fail "remote mmgetstate"

# (before the partition: right after a heal etcd may still be electing a
# leader, and commands that read the CCR would time out)
# mmcrnsd on node 1 for a disk served by node 2: the descriptor is probed
# and written on node 2, through the remote shell, as GPFS prepares disks
# on their NSD server; mmdelnsd clears it there too.
on1() { "$tools/netns-rsh" $SUBNET.1 "MMFS_ROOT=$MMFS_ROOT PATH=$MMFS_BIN:\$PATH $*"; }
D=$MMFS_ROOT/disks
mmcrnsd --mkdisk $D/p1:256M >/dev/null
printf '%%nsd: device=%s nsd=pnsd1 servers=%s\n' "$D/p1" "$SUBNET.2" >$MMFS_ROOT/p.stanza
out=$(on1 mmcrnsd -F $MMFS_ROOT/p.stanza 2>&1) && [[ $(head -c 8 $D/p1) == MMFSNSD1 ]] &&
	pass "mmcrnsd on node 1 labelled node 2's disk on node 2" || { echo "$out"; fail "remote label"; }
out=$(on1 mmcrnsd -F $MMFS_ROOT/p.stanza 2>&1)
[[ $? -ne 0 && $out == *"already exists"* ]] && pass "a second mmcrnsd is refused" || fail "second mmcrnsd: $out"
printf '%%nsd: device=%s nsd=pnsd2 servers=%s\n' "$D/p1" "$SUBNET.2" >$MMFS_ROOT/p2.stanza
out=$(on1 mmcrnsd -F $MMFS_ROOT/p2.stanza 2>&1)
[[ $? -ne 0 && $out == *"on node $SUBNET.2 holds NSD pnsd1 of this cluster: mmdelnsd pnsd1 first"* ]] &&
	pass "a labelled disk is refused, probed on its server: $out" || fail "remote probe: $out"
out=$("$tools/netns-rsh" $SUBNET.2 "MMFS_ROOT=$MMFS_ROOT PATH=$MMFS_BIN:\$PATH mmnsddiscover" 2>&1)
[[ $out == *"pnsd1"*"local $D/p1"* ]] && pass "node 2 finds pnsd1 locally" || fail "node 2 discovery: $out"
out=$(on1 mmnsddiscover 2>&1)
[[ $out == *"pnsd1"*"no local path"* ]] && pass "node 1 does not probe a disk it does not serve" || fail "node 1 discovery: $out"
out=$(on1 mmdelnsd pnsd1 2>&1) && [[ $(head -c 8 $D/p1 | tr -d '\0') == "" ]] &&
	pass "mmdelnsd on node 1 cleared the descriptor on node 2" || { echo "$out"; fail "remote clear"; }


ip -n "${NS[2]}" link set "${tag}a3" down
note "link of $SUBNET.3 cut"
bad_minority=0 bad_majority=0
end=$(($(date +%s) + 12))
while [[ $(date +%s) -lt $end ]]; do
	for n in $SUBNET.1 $SUBNET.2; do [[ $(mm_state $n) == active ]] || bad_majority=1; done
	sleep 0.3
done
mm_wait_state $SUBNET.3 arbitrating 5 && pass "the cut-off node turned arbitrating" || fail "minority state"
for _ in $(seq 1 20); do [[ $(mm_state $SUBNET.3) == active ]] && bad_minority=1; sleep 0.25; done
[[ $bad_minority == 0 ]] && pass "the minority never reports active" || fail "minority reported active"
[[ $bad_majority == 0 ]] && pass "the majority stayed active throughout" || fail "majority left active"
up=$(mmgetstate -Y -N $SUBNET.1 | awk -F: '$3=="0"{print $11}')
[[ $up == 2 ]] && pass "the majority sees 2 nodes up" || fail "majority nodes up: $up"

ip -n "${NS[2]}" link set "${tag}a3" up
note "link restored"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "partition healed: all 3 active" || fail "heal"

mmshutdown -a >/dev/null 2>&1
out=$(mmgetstate -a)
[[ $(grep -c ' down' <<<"$out") == 3 ]] && pass "mmshutdown -a stopped the remote nodes" || { echo "$out"; fail "remote shutdown"; }
mm_done
