#!/usr/bin/env bash
# NSDs (issue 3, first part): mmcrnsd --mkdisk, mmcrnsd -F with the issue's
# stanzas, descriptors on the disks, the rewritten stanza file, mmlsnsd
# (-m, -X, -L), reuse refused unless -v no, a damaged descriptor reported,
# mmdelnsd clearing the descriptor, and concurrent mmcrnsd of one name.
source "$(dirname "$0")/lib.sh"
mm_setup nsd
P=127.1.13
mm_cluster $P 3 2 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster active" || { fail "cluster active"; exit 1; }
D=$MMFS_ROOT/disks

# issue 9: no NSDs yet: said as GPFS says it
out=$(mmlsnsd 2>&1) && [[ $out == "mmlsnsd: No disks were found." ]] &&
	pass "mmlsnsd with no NSDs: $out" || fail "mmlsnsd with no NSDs: $out"

out=$(mmcrnsd --mkdisk $D/d1:4G,$D/d2:4G,$D/d3:4G 2>&1) && pass "mmcrnsd --mkdisk made three 4G sparse files" ||
	{ echo "$out"; fail "mkdisk"; }
[[ $(stat -c %s $D/d2) == $((4 << 30)) && $(du -k $D/d2 | cut -f1) -lt 1024 ]] && pass "the files are 4G and sparse" ||
	fail "disk file size"
out=$(mmcrnsd --mkdisk $D/d1:4G 2>&1)
[[ $? -ne 0 && $out == *"exists: not touched"* ]] && pass "an existing path is refused plainly: $out" || fail "mkdisk existing: $out"

cat >$MMFS_ROOT/disks.stanza <<STANZA
# shelf A, the operator's note
%nsd: device=$D/d1 nsd=nsd1 servers=$P.1,$P.2 usage=dataAndMetadata failureGroup=1 pool=system  # left slot
%nsd: device=$D/d2 nsd=nsd2 servers=$P.2,$P.1 usage=dataAndMetadata failureGroup=2
%nsd: device=$D/d3 nsd=nsd3 usage=dataOnly failureGroup=3
STANZA
out=$(mmcrnsd -F $MMFS_ROOT/disks.stanza 2>&1) && pass "mmcrnsd -F with the issue's stanzas" || { echo "$out"; fail "mmcrnsd"; }
for i in 1 2 3; do
	[[ $(head -c 8 $D/d$i) == MMFSNSD1 ]] || fail "no descriptor on d$i"
done
pass "each disk starts with an NSD descriptor"
grep -q "^%nsd: nsd=nsd2 device=$D/d2 servers=$P.2,$P.1 usage=dataAndMetadata failureGroup=2 pool=system$" \
	$MMFS_ROOT/disks.stanza && pass "the stanza file is rewritten with every field" || { cat $MMFS_ROOT/disks.stanza; fail "rewritten stanza"; }
grep -q "^# shelf A, the operator's note$" $MMFS_ROOT/disks.stanza && grep -q "^%nsd: nsd=nsd1 .*pool=system   # left slot$" \
	$MMFS_ROOT/disks.stanza && [[ $(grep -c "^# Rewritten by mmcrnsd" $MMFS_ROOT/disks.stanza) == 1 ]] &&
	pass "the rewritten stanza file keeps the operator's comments" || { cat $MMFS_ROOT/disks.stanza; fail "comments dropped"; }

out=$(mmlsnsd)
echo "$out"
[[ $(grep -c "(free disk)" <<<"$out") == 3 ]] && grep -q "nsd1 *$P.1,$P.2" <<<"$out" &&
	grep -q "nsd3 *(directly attached)" <<<"$out" && pass "mmlsnsd lists 3 free disks and their servers" || fail "mmlsnsd"
out=$(mmlsnsd -m)
[[ $(grep -c "server node" <<<"$out") == 4 && $(grep -c "directly attached" <<<"$out") == 1 ]] &&
	pass "mmlsnsd -m maps disks to server nodes" || { echo "$out"; fail "mmlsnsd -m"; }
mmlsnsd -X | grep -q "nsd3 .* file " && pass "mmlsnsd -X shows the device type" || fail "mmlsnsd -X"
id=$(mmlsnsd -L | awk '$3=="nsd1"{print $4}')
[[ $id =~ ^[0-9A-F]{16}$ ]] && pass "mmlsnsd -L shows the NSD volume id ($id)" || fail "mmlsnsd -L id '$id'"
# the id on the disk is the id in the CCR
disk_id=$(od -A n -t x1 -j 16 -N 8 $D/d1 | tr -d ' \n' | tr a-f A-F)
[[ $disk_id == "$id" ]] && pass "descriptor on d1 holds the CCR's id" || fail "descriptor id $disk_id vs $id"
# other nodes see the same table
out=$(MMFS_NODE=$P.3 mmlsnsd)
[[ $(grep -c "(free disk)" <<<"$out") == 3 ]] && pass "another node lists the same NSDs" || fail "lsnsd on $P.3"

out=$(mmcrnsd -F $MMFS_ROOT/disks.stanza 2>&1)
[[ $? -ne 0 && $out == *"NSD nsd1 already exists"* ]] && pass "an existing NSD name is refused: $(head -1 <<<"$out")" ||
	fail "duplicate name: $out"
printf '%%nsd: device=%s nsd=again\n' "$D/d1" >$MMFS_ROOT/again.stanza
out=$(mmcrnsd -F $MMFS_ROOT/again.stanza 2>&1)
[[ $? -ne 0 && $out == *"holds NSD nsd1 of this cluster: mmdelnsd nsd1 first"* ]] &&
	pass "a disk holding an NSD of this cluster is refused: $out" || fail "reuse: $out"
[[ $(mmlsnsd | grep -c again) == 0 ]] && pass "the refused call changed nothing" || fail "refused call left a record"

# an NSD in a file system is refused: mark nsd1 as used by fs1 in the CCR
# (no mmcrfs yet), the way mmcrfs will record it
S1=$MMFS_ROOT/$P.1/ssl
ectl() { ETCDCTL_API=3 etcdctl --endpoints=https://$P.1:2379 --cacert $S1/cluster.crt \
	--cert $S1/node.crt --key $S1/node.key "$@"; }
rec=$(ectl get /mmfs/nsd/nsd1 --print-value-only 2>&1)
if [[ $rec == *'"fs"'* ]]; then
	ectl put /mmfs/nsd/nsd1 "$(sed -E 's/"fs": *""/"fs": "fs1"/' <<<"$rec")" >/dev/null
	out=$(mmdelnsd nsd1 2>&1)
	[[ $? -ne 0 && $out == *"NSD nsd1 belongs to file system fs1"* && $(head -c 8 $D/d1) == MMFSNSD1 ]] &&
		pass "an NSD in a file system is refused and keeps its descriptor: $out" || fail "in-fs delete: $out"
	ectl put /mmfs/nsd/nsd1 "$rec" >/dev/null
else
	fail "cannot read nsd1's record with etcdctl: $rec"
fi
out=$(mmdelnsd nsd3 2>&1) && pass "mmdelnsd nsd3" || { echo "$out"; fail "mmdelnsd"; }
[[ $(head -c 8 $D/d3 | tr -d '\0') == "" ]] && pass "its descriptor is cleared" || fail "descriptor left on d3"
[[ $(mmlsnsd | grep -c nsd3) == 0 ]] && pass "nsd3 is gone from mmlsnsd" || fail "nsd3 still listed"
out=$(mmdelnsd nsd3 2>&1)
[[ $? -ne 0 && $out == *"does not exist"* ]] && pass "deleting it again is refused: $out" || fail "double delete: $out"

# a damaged descriptor is reported, and -v no overwrites it
printf '\x55' | dd of=$D/d2 bs=1 seek=100 conv=notrunc status=none
printf '%%nsd: device=%s nsd=fresh\n' "$D/d2" >$MMFS_ROOT/fresh.stanza
out=$(mmcrnsd -F $MMFS_ROOT/fresh.stanza 2>&1)
[[ $? -ne 0 && $out == *"checksum mismatch"* ]] && pass "a damaged descriptor is reported: $out" || fail "damaged: $out"
printf '%%nsd: device=%s nsd=nsd4 usage=dataOnly pool=data\n' "$D/d3" >$MMFS_ROOT/d3.stanza
out=$(mmcrnsd -F $MMFS_ROOT/d3.stanza 2>&1) && pass "a cleared disk is reusable (nsd4 in pool data)" ||
	{ echo "$out"; fail "reuse cleared disk"; }

# two mmcrnsd racing for one name: exactly one wins
mmcrnsd --mkdisk $D/r1:2G,$D/r2:2G >/dev/null
printf '%%nsd: device=%s nsd=race\n' "$D/r1" >$MMFS_ROOT/r1.stanza
printf '%%nsd: device=%s nsd=race\n' "$D/r2" >$MMFS_ROOT/r2.stanza
MMFS_NODE=$P.1 mmcrnsd -F $MMFS_ROOT/r1.stanza >/dev/null 2>&1 & a=$!
MMFS_NODE=$P.2 mmcrnsd -F $MMFS_ROOT/r2.stanza >/dev/null 2>&1 & b=$!
wait $a; ra=$?; wait $b; rb=$?
[[ $((ra == 0)) -ne $((rb == 0)) && $(mmlsnsd | grep -c " race ") == 1 ]] &&
	pass "two concurrent mmcrnsd of one name: exactly one succeeds" || fail "race: $ra $rb"

out=$(printf '%%nsd: device=%s nsd=x servers=nosuchnode\n' "$D/r2" >$MMFS_ROOT/bad.stanza; mmcrnsd -F $MMFS_ROOT/bad.stanza 2>&1)
[[ $? -ne 0 && $out == *"nosuchnode is not a node"* ]] && pass "an unknown server is refused: $out" || fail "unknown server: $out"
out=$(printf '%%nsd: device=%s usage=dataAndMeta\n' "$D/r2" >$MMFS_ROOT/bad.stanza; mmcrnsd -F $MMFS_ROOT/bad.stanza 2>&1)
[[ $? -ne 0 && $out == *"bad.stanza:1: usage:"* ]] && pass "a stanza error names the line and field: $out" || fail "stanza error: $out"
# issue 9: -v no never relabels a disk that holds a live NSD of this cluster
mmcrnsd --mkdisk $D/x1:2G,$D/x2:2G >/dev/null
printf '%%nsd: device=%s nsd=g1\n' "$D/x1" >$MMFS_ROOT/s1.stanza
printf '%%nsd: device=%s nsd=v1\n' "$D/x1" >$MMFS_ROOT/s2.stanza
mmcrnsd -F $MMFS_ROOT/s1.stanza >/dev/null 2>&1 || fail "mmcrnsd g1"
out=$(mmcrnsd -F $MMFS_ROOT/s2.stanza 2>&1)
[[ $? -ne 0 && $out == *"disk $D/x1 holds NSD g1 of this cluster: mmdelnsd g1 first"* && $out != *"-v no"* ]] &&
	pass "a live NSD's disk is refused without suggesting -v no: $out" || fail "live NSD reuse: $out"
out=$(mmcrnsd -F $MMFS_ROOT/s2.stanza -v no 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"holds NSD g1 of this cluster: mmdelnsd g1 first"* && $(mmlsnsd | grep -c " v1 ") == 0 &&
	$(head -c 34 $D/x1 | tail -c 2) == g1 ]] &&
	pass "-v no does not relabel a live NSD either, and changes nothing: $out" || fail "-v no over live g1 (rc $rc): $out"
# mmdelnsd's exit status says what was done: g1's disk now holds another
# NSD's descriptor (copied there), so deleting g1 has nothing to clear
printf '%%nsd: device=%s nsd=v1\n' "$D/x2" >$MMFS_ROOT/s3.stanza
mmcrnsd -F $MMFS_ROOT/s3.stanza >/dev/null 2>&1 || fail "mmcrnsd v1"
dd if=$D/x2 of=$D/x1 bs=4096 count=1 conv=notrunc status=none
out=$(mmdelnsd g1 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"holds NSD v1 now"* && $(mmlsnsd | grep -c " g1 ") == 0 && $(head -c 34 $D/x1 | tail -c 2) == v1 ]] &&
	pass "mmdelnsd of an NSD whose disk holds another NSD exits 0 and leaves that label: $out" ||
	fail "mmdelnsd g1 (rc $rc): $out"
mmdelnsd v1 >/dev/null 2>&1 || fail "mmdelnsd v1"
# x1 still holds v1's label: a deleted NSD's leftover, which -v no may overwrite
printf '%%nsd: device=%s nsd=w1\n' "$D/x1" >$MMFS_ROOT/s4.stanza
out=$(mmcrnsd -F $MMFS_ROOT/s4.stanza 2>&1)
[[ $? -ne 0 && $out == *"already holds the descriptor of NSD v1"* && $out == *"-v no"* ]] &&
	pass "a deleted NSD's leftover label is refused with a hint to -v no" || fail "leftover: $out"
out=$(mmcrnsd -F $MMFS_ROOT/s4.stanza -v no 2>&1) && [[ $(head -c 34 $D/x1 | tail -c 2) == w1 ]] &&
	pass "-v no overwrites a deleted NSD's leftover label" || fail "-v no over leftover: $out"
dd if=/dev/zero of=$D/x2 bs=4096 count=1 conv=notrunc status=none
printf '%%nsd: device=%s nsd=z1\n' "$D/x2" >$MMFS_ROOT/s5.stanza
mmcrnsd -F $MMFS_ROOT/s5.stanza >/dev/null 2>&1 || fail "mmcrnsd z1"
dd if=/dev/zero of=$D/x2 bs=4096 count=1 conv=notrunc status=none
out=$(mmdelnsd z1 2>&1) && [[ $out == *"holds no NSD descriptor"* ]] &&
	pass "mmdelnsd of an NSD whose disk was wiped exits 0" || fail "mmdelnsd wiped z1: $out"

# issue 9: an empty NSD list is a usage error that changes nothing
before=$(mmlsnsd)
for a in "" ";;" " ; , "; do
	out=$(mmdelnsd "$a" 2>&1); rc=$?
	[[ $rc -eq 2 && $out == *"usage: mmdelnsd"* && $out != *Propagating* ]] ||
		fail "mmdelnsd '$a' (rc $rc): $out"
done
out=$(mmdelnsd "w1;9bad" 2>&1); rc=$?
[[ $rc -eq 2 && $out == *'"9bad" is not a valid NSD name'* && $(mmlsnsd) == "$before" ]] &&
	pass "mmdelnsd with no or bad names is a usage error (exit 2) and deletes nothing" ||
	fail "mmdelnsd bad names (rc $rc): $out"

# issue 9: a missing device's message says where it was looked for, and why
printf '%%nsd: device=%s nsd=m1 servers=%s\n' "$D/nosuch" "$P.2" >$MMFS_ROOT/m1.stanza
out=$(mmcrnsd -F $MMFS_ROOT/m1.stanza 2>&1)
[[ $? -ne 0 && $out == *"not found on its first NSD server $P.2"* && $out != *"no servers"* ]] &&
	pass "a missing device of an NSD with servers names its first server: $out" || fail "missing served device: $out"
printf '%%nsd: device=%s nsd=m1\n' "$D/nosuch" >$MMFS_ROOT/m1.stanza
out=$(mmcrnsd -F $MMFS_ROOT/m1.stanza 2>&1)
[[ $? -ne 0 && $out == *"not found on this node (it has no servers"* ]] &&
	pass "a missing directly attached device says it has no servers" || fail "missing direct device: $out"
# issue 9: mmnsddiscover -d reports only the NSDs named; an unknown one is an error
out=$(mmnsddiscover -d "nsd1;nsd4" 2>&1); rc=$?
[[ $rc -eq 0 && $(grep -c '^  nsd1 ' <<<"$out") == 1 && $(grep -c '^  nsd4 ' <<<"$out") == 1 &&
	$(grep -c '^  ' <<<"$out") == 2 ]] && pass "mmnsddiscover -d reports only the NSDs named" ||
	{ echo "$out"; fail "mmnsddiscover -d (rc $rc)"; }
out=$(mmnsddiscover -a -d nsd4 2>&1); rc=$?
[[ $rc -eq 0 && $(grep -c '^  nsd4 ' <<<"$out") == 3 && $(grep -c '^  ' <<<"$out") == 3 ]] &&
	pass "mmnsddiscover -a -d nsd4: one line per node" || { echo "$out"; fail "mmnsddiscover -a -d (rc $rc)"; }
out=$(mmnsddiscover -d "nsd1;nosuch" 2>&1); rc=$?
[[ $rc -eq 1 && $out == *"NSD nosuch does not exist"* && $out != *"reached locally"* ]] &&
	pass "mmnsddiscover -d with an unknown NSD names it: $out" || fail "mmnsddiscover -d nosuch (rc $rc): $out"
out=$(mmnsddiscover -d ";" 2>&1); rc=$?
[[ $rc -eq 2 && $out == *usage* ]] && pass "mmnsddiscover -d with no name is a usage error" || fail "-d ';' (rc $rc): $out"

# issue 9: mmlsnsd -d, -m -Y, and columns as wide as their contents
out=$(mmlsnsd -d "nsd4;nsd1" 2>&1); rc=$?
[[ $rc -eq 0 && $(grep -c "(free disk)" <<<"$out") == 2 && $out == *" nsd1 "* && $out == *" nsd4 "* ]] &&
	pass "mmlsnsd -d lists only the NSDs named" || { echo "$out"; fail "mmlsnsd -d (rc $rc)"; }
out=$(mmlsnsd -d "nsd1;nosuch" 2>&1); rc=$?
[[ $rc -eq 1 && $out == *"NSD nosuch does not exist"* && $out != *nsd1* ]] &&
	pass "mmlsnsd -d with an unknown NSD names it: $out" || fail "mmlsnsd -d nosuch (rc $rc): $out"
out=$(mmlsnsd -m -Y -d nsd1 2>&1)
[[ $(head -1 <<<"$out") == "mmlsnsd::HEADER:version:reserved:reserved:diskName:volumeId:localDiskName:nodeName:remarks:" &&
	$(grep -c "^mmlsnsd::0:1:::nsd1:[0-9A-F]\{16\}:$D/d1:$P.[12]:server node:$" <<<"$out") == 2 ]] &&
	pass "mmlsnsd -m -Y: the -m fields, one line per server" || { echo "$out"; fail "mmlsnsd -m -Y"; }
out=$(mmlsnsd -X -Y -d nsd4 2>&1)
[[ $(head -1 <<<"$out") == *":localDiskName:deviceType:nodeName:remarks:" && $out == *":$D/d3:file:(any node):directly attached:"* ]] &&
	pass "mmlsnsd -X -Y adds the device type" || { echo "$out"; fail "mmlsnsd -X -Y"; }
long=an_nsd_name_much_longer_than_the_old_twelve_columns
LD=$D/a/rather/long/directory/path/for/the/device/column
mmcrnsd --mkdisk $LD/disk1:2G >/dev/null
printf '%%nsd: device=%s nsd=%s servers=%s,%s,%s\n' "$LD/disk1" $long $P.3 $P.1 $P.2 >$MMFS_ROOT/long.stanza
mmcrnsd -F $MMFS_ROOT/long.stanza >/dev/null 2>&1 || fail "mmcrnsd $long"
aligned() { # $1 = output, $2 = a header word: every row has a column start there
	local col; col=$(awk -v h="$2" 'index($0, h) {print index($0, h); exit}' <<<"$1")
	[[ -n $col ]] && awk -v c="$col" 'NR > 3 && NF { if (substr($0, c - 1, 1) != " " || substr($0, c, 1) == " ") bad = 1 }
		END { exit bad }' <<<"$1"
}
ok=1
for v in "" -L -m -X; do
	out=$(mmlsnsd $v)
	case $v in
	-m | -X) aligned "$out" "Device" && aligned "$out" "Node name" && aligned "$out" "Remarks" || ok=0 ;;
	*) aligned "$out" "Disk name" && aligned "$out" "NSD servers" || ok=0 ;;
	esac
	[[ $ok == 1 ]] || { echo "$out"; break; }
done
[[ $ok == 1 ]] && pass "mmlsnsd's columns fit a long NSD name, device and server list" || fail "mmlsnsd columns"

# issue 9: a frozen node does not hold up mmnsddiscover -a
pid3=$(cat $MMFS_ROOT/$P.3/mmfsd.pid)
kill -STOP $pid3
t0=$(date +%s%N)
out=$(timeout 60 mmnsddiscover -a 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT $pid3
[[ $rc -eq 1 && $ms -lt 8000 && $out == *"$P.1: "*"reached locally"* && $out == *"$P.2: "*"reached locally"* &&
	$out == *"$P.3: unreachable"* ]] &&
	pass "mmnsddiscover -a with node .3 frozen answers in ${ms} ms, reporting it unreachable" ||
	{ echo "$out"; fail "mmnsddiscover -a with a frozen node (rc $rc, ${ms} ms)"; }
mm_done
