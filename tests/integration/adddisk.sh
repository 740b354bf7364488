#!/usr/bin/env bash
# mmadddisk (issue 12): a mounted file system filled until ENOSPC takes a
# new disk and the write that failed then succeeds, new blocks going to
# the new disk (mmdf); mmlsdisk and mmlsfs -d list it; data written
# before and after reads back; a write storm runs through another
# mmadddisk without an error; NSDs of another file system, missing ones
# and one already in the file system are refused by name; a failure
# after the claim (mounted read-only) frees the NSD again; an unmounted
# file system takes a disk (the daemon mounts it without FUSE); a run
# whose record update was lost (the CCR record put back with etcdctl)
# blocks mounts until mmadddisk is run again, which finishes it; a file
# system mounted on another node of this machine gets the disk there,
# and so does one mounted on another machine (simulated: that node made
# remote, with a remote shell that runs the command here), whose daemon
# also answers mmdf; after mmumount, mmfsck -n (against a control file system: see step 8)
# and a new mount reads everything back.
source "$(dirname "$0")/lib.sh"
mm_setup adddisk
P=127.1.28

mnt_cleanup() {
	local mp
	[[ -n ${storm:-} ]] && kill "$storm" 2>/dev/null
	for mp in $(awk -v r="$MMFS_ROOT/" '$3=="fuse.mmfs" && index($2, r)==1 {print $2}' /proc/mounts); do
		umount -l "$mp" 2>/dev/null
	done
	mm_cleanup
}
trap mnt_cleanup EXIT
if [[ ! -c /dev/fuse ]]; then
	skip "mmadddisk tests (no /dev/fuse on this machine)"
	exit 0
fi
t0=$(date +%s)
fake=$MMFS_ROOT/fake-rsh
# fake-rsh HOST COMMAND: log it, then run COMMAND here as a fresh login would
printf '#!/bin/sh\necho "$*" >>%s\nshift\nexec env -u MMFS_NODE -u MMFS_ASSUME_REMOTE sh -c "$*"\n' \
	"$MMFS_ROOT/rsh.log" >"$fake"
chmod +x "$fake"
MM_CRFLAGS="-r $fake" mm_cluster $P 2 1 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster of 2 active" || { fail "cluster active"; exit 1; }
D=$MMFS_ROOT/disks
mmcrnsd --mkdisk $D/d1:128M,$D/d2:128M,$D/d3:256M,$D/d4:128M,$D/d5:128M,$D/d6:128M,$D/d7:128M,$D/d8:128M >/dev/null ||
	fail "mkdisk"
# no servers: every node reaches every disk file directly
for i in 1 2 3 4 5 6 7 8; do echo "%nsd: device=$D/d$i nsd=a$i failureGroup=$i"; done >$MMFS_ROOT/all.stanza
out=$(mmcrnsd -F $MMFS_ROOT/all.stanza 2>&1) || { echo "$out"; fail "mmcrnsd"; exit 1; }
stanza() { local f=$MMFS_ROOT/$1.stanza n; shift; for n in "$@"; do grep "nsd=$n " $MMFS_ROOT/all.stanza; done >$f; echo $f; }
M=$MMFS_ROOT/gpfs/fs1
out=$(mmcrfs fs1 -F "$(stanza fs1 a1 a2)" -B 256K -T $M -A no 2>&1) && pass "mmcrfs fs1 on 2 x 128M, -B 256K" ||
	{ echo "$out"; fail "mmcrfs fs1"; exit 1; }
out=$(mmcrfs fs2 -F "$(stanza fs2 a5)" -B 256K -T $MMFS_ROOT/gpfs/fs2 -A no 2>&1) || { echo "$out"; fail "mmcrfs fs2"; }
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1) || { echo "$out"; fail "mmmount fs1"; exit 1; }

# 1. fill until ENOSPC
head -c $((8 << 20)) /dev/urandom >$MMFS_ROOT/r8
head -c $((1 << 20)) /dev/urandom >$MMFS_ROOT/r1
cp $MMFS_ROOT/r8 $M/before && cmp -s $MMFS_ROOT/r8 $M/before || fail "8 MiB written before"
out=$(dd if=/dev/zero of=$M/fill bs=1M 2>&1); rc=$?
fsize=$(stat -c %s $M/fill)
[[ $rc -ne 0 && $out == *"No space left on device"* ]] &&
	pass "dd fills fs1: ENOSPC after $((fsize >> 20)) MiB" || fail "fill: rc=$rc $out"
out=$(dd if=/dev/zero of=$M/fill bs=1M count=4 oflag=append conv=notrunc 2>&1)
[[ $? -ne 0 && $out == *"No space left on device"* ]] && pass "a 4 MiB append fails: ENOSPC" || fail "append before: $out"

# 2. refusals, by name; nothing claimed by them
stanza bad a5 a1 >/dev/null && echo "%nsd: device=$D/d9 nsd=nosuch" >>$MMFS_ROOT/bad.stanza
out=$(mmadddisk fs1 -F $MMFS_ROOT/bad.stanza 2>&1); rc=$?
[[ $rc -eq 1 && $out == *"NSD a5 belongs to file system fs2"* && $out == *"NSD a1 is already a disk of file system fs1"* &&
	$out == *"NSD nosuch does not exist"* ]] && pass "refused, each NSD named: $(tr '\n' '|' <<<"$out")" ||
	{ echo "$out"; fail "refusals (rc=$rc)"; }
out=$(mmadddisk nofs -F "$(stanza one a3)" 2>&1)
[[ $? -eq 1 && $out == *"file system nofs does not exist"* ]] && pass "an unknown file system is named" || fail "nofs: $out"
mmlsnsd -F | grep -qw a3 && pass "a3 is still free after the refusals" ||
	{ mmlsnsd; fail "a3 free"; }

# 3. add a 256M disk while mounted and full
out=$(mmadddisk fs1 -F "$(stanza add1 a3)" 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"The following disks of fs1 will be formatted on node"* && $out == *"a3: size 256 MB"* &&
	$out == *"Extending Allocation Map"* && $out == *"Completed adding disks to file system fs1."* ]] &&
	pass "mmadddisk fs1 a3 while mounted" || { echo "$out"; fail "mmadddisk a3 (rc=$rc)"; }
out=$(dd if=/dev/zero of=$M/fill bs=1M count=4 oflag=append conv=notrunc 2>&1) &&
	[[ $(stat -c %s $M/fill) == $((fsize + (4 << 20))) ]] && pass "the append that failed now succeeds" ||
	fail "append after: $out"
head -c $((32 << 20)) /dev/urandom >$MMFS_ROOT/r32
cp $MMFS_ROOT/r32 $M/after && cmp -s $MMFS_ROOT/r32 $M/after && pass "32 MiB written after, read back" ||
	fail "32 MiB after"
sync $M/after $M/fill
# mmdf of a file system mounted on the daemon's node takes the mounted
# maps (fs_sg_df), current at once; the loop stays for a slow answer
used=
for _ in $(seq 1 50); do
	used=$(mmdf fs1 -Y 2>/dev/null | awk -F: '$2=="nsd" && $7=="a3" {print $9 - $13 - $15}')
	[[ -n $used && $used -ge $((30 * 1024)) ]] && break
	sleep 0.2
done
[[ -n $used && $used -ge $((30 * 1024)) ]] && pass "mmdf: $used KB of a3 in use: the new blocks went to it" ||
	{ mmdf fs1; fail "mmdf a3: used '$used'"; }
mmlsdisk fs1 | awk '$1=="a3" && $4==3 && $7=="ready" && $8=="up"' | grep -q a3 && pass "mmlsdisk lists a3 (ready, up)" ||
	{ mmlsdisk fs1; fail "mmlsdisk"; }
[[ $(mmlsfs fs1 -d | awk '$1=="-d"{print $2}') == "a1;a2;a3" ]] && pass "mmlsfs -d: a1;a2;a3" || { mmlsfs fs1 -d; fail "mmlsfs -d"; }
mmlsnsd | awk '$2=="a3"{print $1}' | grep -qx fs1 && pass "mmlsnsd: a3 in fs1" || { mmlsnsd; fail "mmlsnsd a3"; }

# 4. a write storm through another mmadddisk: 1 MiB files, each fsynced,
# until told to stop (64 at most); files written both before the add
# began and after it returned show that it ran through the add
: >$MMFS_ROOT/storm.err
(i=0; while [[ ! -e $MMFS_ROOT/storm.stop && $i -lt 64 ]]; do
	i=$((i + 1))
	dd if=$MMFS_ROOT/r1 of=$M/storm.$i bs=256K conv=fsync status=none 2>>$MMFS_ROOT/storm.err ||
		echo "storm.$i failed" >>$MMFS_ROOT/storm.err
	echo $i >$MMFS_ROOT/storm.n
	sleep 0.05
done) &
storm=$!
for _ in $(seq 1 50); do [[ $(cat $MMFS_ROOT/storm.n 2>/dev/null) -ge 3 ]] 2>/dev/null && break; sleep 0.1; done
n0=$(cat $MMFS_ROOT/storm.n)
out=$(mmadddisk fs1 -F "$(stanza add2 a4)" 2>&1) && pass "mmadddisk fs1 a4 during a write storm" || { echo "$out"; fail "mmadddisk a4"; }
n1=$(cat $MMFS_ROOT/storm.n)
sleep 0.5
touch $MMFS_ROOT/storm.stop
wait $storm; storm=
n=$(cat $MMFS_ROOT/storm.n)
ok=1
for f in $M/storm.*; do cmp -s $MMFS_ROOT/r1 "$f" || { ok=0; note "$f differs"; }; done
[[ $n0 -ge 3 && $n -gt $n1 && ! -s $MMFS_ROOT/storm.err && $ok == 1 ]] &&
	pass "the storm wrote $n files ($n0 before the add, $((n - n1)) after it), no error, all read back" ||
	{ cat $MMFS_ROOT/storm.err; fail "storm: $n0 / $n1 / $n files"; }
out=$(mmumount fs1 -N $P.1 2>&1) || { echo "$out"; fail "mmumount"; }

# 5. a failure after the claim frees the NSDs again: mounted read-only,
# the stripe group refuses the disks
out=$(MMFS_NODE=$P.1 mmmount fs1 -o ro 2>&1) || { echo "$out"; fail "mmmount -o ro"; }
out=$(mmadddisk fs1 -F "$(stanza add3 a6)" 2>&1); rc=$?
[[ $rc -eq 1 && $out == *"read-only"* && $out == *"the NSDs are free again"* ]] && mmlsnsd -F | grep -qw a6 &&
	[[ $(mmlsfs fs1 -d | awk '$1=="-d"{print $2}') == "a1;a2;a3;a4" ]] &&
	pass "refused while mounted read-only, a6 free again: $(tr '\n' '|' <<<"$out")" || { echo "$out"; fail "ro refusal (rc=$rc)"; }
out=$(mmumount fs1 -N $P.1 2>&1) || { echo "$out"; fail "mmumount ro"; }

# 6. unmounted: the daemon mounts it without FUSE for the command
S1=$MMFS_ROOT/$P.1/ssl
ectl() { ETCDCTL_API=3 etcdctl --endpoints=https://$P.1:2379 --cacert $S1/cluster.crt \
	--cert $S1/node.crt --key $S1/node.key "$@"; }
rec=$(ectl get /mmfs/fs/fs1 --print-value-only 2>&1)
out=$(mmadddisk fs1 -F "$(stanza add3 a6)" 2>&1) && [[ $(mmlsmount fs1) == *"not mounted"* ]] &&
	! grep -q " $M fuse.mmfs" /proc/mounts && pass "mmadddisk fs1 a6 while unmounted; still unmounted after" ||
	{ echo "$out"; mmlsmount fs1; fail "mmadddisk unmounted"; }
# a run whose record update was lost (the record put back as it was):
# mounts are refused, and mmadddisk again with the same stanza finishes it
if [[ $rec == *'"a4"'* && $rec != *'"a6"'* ]]; then
	ectl put /mmfs/fs/fs1 "$rec" >/dev/null
	out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1)
	[[ $? -ne 0 ]] && pass "with the record short of a6, a mount is refused: $(tail -1 <<<"$out")" ||
		{ mmumount fs1 -N $P.1 >/dev/null 2>&1; fail "mount with a short record"; }
	out=$(mmadddisk fs1 -F $MMFS_ROOT/add3.stanza 2>&1)
	[[ $? -eq 0 && $out == *"Disk a6 was added by an earlier mmadddisk that did not finish: recorded now"* &&
		$out != *"will be formatted"* && $(mmlsfs fs1 -d | awk '$1=="-d"{print $2}') == "a1;a2;a3;a4;a6" ]] &&
		pass "mmadddisk again finishes it: a6 recorded, nothing formatted" || { echo "$out"; fail "finish"; }
else
	fail "fs1's record before adding a6: $rec"
fi
used=$(mmdf fs1 -Y | awk -F: '$2=="nsd" && $7=="a6" {print $9 - $13 - $15}')
[[ -n $used && $used -le 2048 ]] && pass "mmdf: a6 is empty ($used KB outside the maps or in use)" ||
	{ mmdf fs1; fail "mmdf a6: used '$used'"; }

# 7. mounted on node 2: the request goes there
out=$(MMFS_NODE=$P.2 mmmount fs1 2>&1) || { echo "$out"; fail "mmmount on node 2"; }
out=$(MMFS_NODE=$P.1 mmadddisk fs1 -F "$(stanza add4 a7)" 2>&1)
[[ $? -eq 0 && $out == *"mounted on node $P.2: the disks are added there"* ]] &&
	pass "from node 1, while mounted on node 2: added there" || { echo "$out"; fail "forwarded mmadddisk"; }
[[ $(mmlsdisk fs1 | awk '$1 ~ /^a[0-9]$/ {print $1}' | tr '\n' ' ') == "a1 a2 a3 a4 a6 a7 " ]] &&
	pass "mmlsdisk: a1 a2 a3 a4 a6 a7" || { mmlsdisk fs1; fail "mmlsdisk after all"; }
cp $MMFS_ROOT/r8 $M/late && cmp -s $MMFS_ROOT/r8 $M/late || fail "a file written on node 2"

# 7b. node 2 on another machine: mmdf and mmadddisk from node 1 reach
# its daemon through the remote shell (mmremote admin ... NODE)
: >"$MMFS_ROOT/rsh.log"
out=$(MMFS_ASSUME_REMOTE=$P.2 MMFS_NODE=$P.1 mmdf fs1 -Y 2>"$MMFS_ROOT/err"); rc=$?
[[ $rc -eq 0 && -n $(awk -F: '$2=="nsd" && $7=="a7" {print $9}' <<<"$out") && ! -s $MMFS_ROOT/err ]] &&
	grep -q "^$P.2 .*mmremote admin [0-9a-f]* $P.2$" "$MMFS_ROOT/rsh.log" &&
	pass "mmdf from node 1: node 2's daemon answers through the remote shell, no note of figures read from the disks" ||
	{ echo "$out"; cat "$MMFS_ROOT/err" "$MMFS_ROOT/rsh.log"; fail "mmdf through the remote shell (rc=$rc)"; }
: >"$MMFS_ROOT/rsh.log"
out=$(MMFS_ASSUME_REMOTE=$P.2 MMFS_NODE=$P.1 mmadddisk fs1 -F "$(stanza add5 a8)" 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"mounted on node $P.2: the disks are added there"* &&
	$out == *"Completed adding disks to file system fs1."* ]] &&
	grep -q "mmremote admin [0-9a-f]* $P.2$" "$MMFS_ROOT/rsh.log" &&
	pass "mmadddisk from node 1, node 2 elsewhere: added there through the remote shell" ||
	{ echo "$out"; cat "$MMFS_ROOT/rsh.log"; fail "mmadddisk through the remote shell (rc=$rc)"; }
# at once in use by node 2's mount: a new file's blocks reach a8
cp $MMFS_ROOT/r32 $M/remote && sync $M/remote && cmp -s $MMFS_ROOT/r32 $M/remote || fail "32 MiB on node 2 after a8"
used=$(MMFS_NODE=$P.2 mmdf fs1 -Y | awk -F: '$2=="nsd" && $7=="a8" {print $9 - $13 - $15}')
[[ -n $used && $used -ge 2048 ]] && pass "mmdf: $used KB of a8 in use" || { mmdf fs1; fail "mmdf a8: used '$used'"; }
[[ $(mmlsdisk fs1 | awk '$1 ~ /^a[0-9]$/ {print $1}' | tr '\n' ' ') == "a1 a2 a3 a4 a6 a7 a8 " ]] &&
	pass "mmlsdisk: a1 a2 a3 a4 a6 a7 a8" || { mmlsdisk fs1; fail "mmlsdisk after a8"; }
out=$(mmumount fs1 -N $P.2 2>&1) || { echo "$out"; fail "mmumount node 2"; }

# 8. fsck, then everything back. fs2, which never had a disk added, is
# the control: mounted, one file written, unmounted, checked the same way
out=$(mmfsck fs1 -n 2>&1); rc=$?
if [[ $rc -eq 0 ]]; then
	pass "mmfsck fs1 -n: clean ($(grep -E 'problems found' <<<"$out"))"
else
	ctl=$(MMFS_NODE=$P.1 mmmount fs2 2>&1) && cp $MMFS_ROOT/r1 $MMFS_ROOT/gpfs/fs2/x; cok=$?
	mmumount fs2 -N $P.1 >/dev/null 2>&1 || cok=1
	[[ $cok -eq 0 ]] && { ctl=$(mmfsck fs2 -n 2>&1); crc=$?; } || { echo "$ctl"; fail "fs2: mount, write, unmount"; crc=0; }
	if [[ $cok -eq 0 && $crc -ne 0 ]]; then
		skip "mmfsck fs1 -n found damage ($(grep -E 'problems found' <<<"$out")), but so does mmfsck fs2 -n on a file system that never had a disk added ($(grep -E 'problems found' <<<"$ctl")): not mmadddisk's"
		grep -E '^Error' <<<"$out" | head -3
	else
		echo "$out" | grep -v 'complete on' | head -30
		fail "mmfsck fs1 -n rc=$rc (fs2, the control, is clean)"
	fi
fi
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1) || { echo "$out"; fail "mmmount again"; }
ok=1
cmp -s $MMFS_ROOT/r8 $M/before || { ok=0; note "before differs"; }
cmp -s $MMFS_ROOT/r32 $M/after || { ok=0; note "after differs"; }
cmp -s $MMFS_ROOT/r8 $M/late || { ok=0; note "late differs"; }
cmp -s $MMFS_ROOT/r32 $M/remote || { ok=0; note "remote differs"; }
for f in $M/storm.*; do cmp -s $MMFS_ROOT/r1 "$f" || { ok=0; note "$f differs"; }; done
[[ $(stat -c %s $M/fill) == $((fsize + (4 << 20))) ]] && cmp -s -n $((fsize + (4 << 20))) /dev/zero $M/fill ||
	{ ok=0; note "fill differs"; }
[[ $ok == 1 ]] && pass "after a remount every file reads back" || fail "read back after remount"
mmumount fs1 -N $P.1 >/dev/null 2>&1 || fail "last mmumount"
note "$(($(date +%s) - t0)) s"
mm_done
