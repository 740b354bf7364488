#!/usr/bin/env bash
# The mount (issue 12, "The API and the mount"): mmcrfs, mmmount through
# FUSE, then through the mount as root (create, write, read back, stat,
# ls, mkdir, rename, unlink, links) and as an unprivileged user (EACCES
# where due, work in a 1777 directory, the sticky bit); `mount` and
# /proc/mounts show the device; mmdf while mounted (current figures, from
# either node); a second node's mmmount is refused naming
# the first; mmlsmount; a busy mmumount refused, -f forcing it; mount
# elsewhere after mmumount with the data intact; umount(8) and fusermount
# -u unmount the file system in the daemon too; kill -9 of the daemon
# leaves a dead mount that its next mmstartup detaches; mmshutdown
# unmounts first; -A yes mounts at mmstartup; no mount while mmfsck
# checks. Node 3, a client node, is the one killed (a quorum node's
# kill -9 is failover.sh's subject).
source "$(dirname "$0")/lib.sh"
mm_setup mount
P=127.1.24
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# fuse.mmfs mounts under this test's root, by mount point (decoded)
our_mounts() { awk -v r="$MMFS_ROOT/" '$3=="fuse.mmfs" && index($2, r)==1 {print $1, $2}' /proc/mounts; }
trap mm_mount_cleanup EXIT

if [[ ! -c /dev/fuse ]] || ! command -v setpriv >/dev/null; then
	skip "mount tests (no /dev/fuse or no setpriv on this machine)"
	exit 0
fi
mm_cluster $P 3 2 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster active" || { fail "cluster active"; exit 1; }
# the unprivileged user must reach the mount points under the test root
chmod 755 "$MMFS_ROOT"
D=$MMFS_ROOT/disks
mmcrnsd --mkdisk $D/d1:512M,$D/d2:512M >/dev/null || fail "mkdisk"
cat >$MMFS_ROOT/disks.stanza <<STANZA
%nsd: device=$D/d1 nsd=m1 servers=$P.1 failureGroup=1
%nsd: device=$D/d2 nsd=m2 servers=$P.2 failureGroup=2
STANZA
mmcrnsd -F $MMFS_ROOT/disks.stanza >/dev/null 2>&1 || { fail "mmcrnsd"; exit 1; }
M=$MMFS_ROOT/gpfs/fs1
out=$(mmcrfs fs1 -F $MMFS_ROOT/disks.stanza -B 256K -T $M -A no 2>&1) && pass "mmcrfs fs1 -T $M" ||
	{ echo "$out"; fail "mmcrfs fs1"; exit 1; }
[[ ! -e $M ]] || fail "the mount point exists before the first mount"

# 1. mount on node 1: the mount point is made, mount and /proc/mounts show the device
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1) && pass "mmmount fs1 on $P.1" || { echo "$out"; fail "mmmount fs1"; exit 1; }
mount | grep -q "^fs1 on $M type fuse.mmfs (" && pass "mount shows \"fs1 on $M type fuse.mmfs\"" ||
	{ mount | grep mmfs; fail "mount output"; }
grep -q "^fs1 $M fuse.mmfs rw,.*allow_other" /proc/mounts && pass "/proc/mounts: fs1, fuse.mmfs, rw, allow_other" ||
	{ grep mmfs /proc/mounts; fail "/proc/mounts"; }
grep "^fs1 $M " /proc/mounts | grep -q nosuid && fail "mounted nosuid by default" || pass "suid and dev by default"
[[ $(stat -c %i $M) == 1 || $(stat -c %F $M) == directory ]] && [[ $(stat -c '%a %U' $M) == "755 root" ]] &&
	pass "the root directory: 755 root" || fail "root directory $(stat -c '%a %U %F' $M)"

# 2. as root through the mount
echo "hello mmfs" >$M/a && [[ $(cat $M/a) == "hello mmfs" ]] && pass "create, write, read back" || fail "small file"
head -c $((8 << 20)) /dev/urandom >$MMFS_ROOT/big
cp $MMFS_ROOT/big $M/big && cmp -s $MMFS_ROOT/big $M/big && pass "8 MiB written in 1 MiB requests reads back" ||
	fail "8 MiB file"
[[ $(stat -c %s $M/big) == $((8 << 20)) && $(stat -c %s $M/a) == 11 ]] && pass "stat sizes" || fail "stat sizes"
dd if=$MMFS_ROOT/big of=$M/direct bs=1M count=4 oflag=direct status=none &&
	dd if=$M/direct of=$MMFS_ROOT/direct.back bs=1M iflag=direct status=none &&
	cmp -s $MMFS_ROOT/direct.back <(head -c $((4 << 20)) $MMFS_ROOT/big) && pass "O_DIRECT write and read" ||
	fail "O_DIRECT"
mkdir $M/d && mkdir $M/d/e && [[ $(stat -c %h $M/d) == 3 ]] && pass "mkdir; a directory's links: 2 + subdirectories" ||
	fail "mkdir / nlink $(stat -c %h $M/d)"
mv $M/a $M/d/b && [[ ! -e $M/a && $(cat $M/d/b) == "hello mmfs" ]] && pass "rename into a directory" || fail "rename"
ln $M/d/b $M/d/hard && [[ $(stat -c %h $M/d/b) == 2 ]] && ln -s b $M/d/sym && [[ $(cat $M/d/sym) == "hello mmfs" ]] &&
	[[ $(readlink $M/d/sym) == b ]] && pass "hard link and symlink" || fail "links"
for i in $(seq 1 300); do : >$M/d/f$i; done
[[ $(ls $M/d | wc -l) == 304 && $(ls -la $M/d | grep -c ' f[0-9]*$') == 300 ]] &&
	pass "ls of 304 entries (readdir and readdirplus over several replies)" || fail "ls count $(ls $M/d | wc -l)"
rm $M/d/f* && rm $M/d/hard && [[ $(stat -c %h $M/d/b) == 1 && $(ls $M/d | wc -l) == 3 ]] && pass "unlink" ||
	fail "unlink"
[[ ! -e $M/nonexistent ]] && ! cat $M/nonexistent 2>/dev/null && pass "a missing name: ENOENT" || fail "ENOENT"
rmdir $M/d/e && pass "rmdir" || fail "rmdir"
df -P $M | grep -q "^fs1 " && pass "df shows fs1 (statfs)" || { df -P $M; fail "df"; }

# 2b. mmdf of the mounted file system: its figures come from the mounted
# stripe group (fs_sg_df), current while the maps on the disks lag (no
# sync here); a 24 MiB file takes 24 MiB of free space (metadata aside);
# another node's daemon on this machine hands mmdf to node 1's
fsfree() { awk -F: '$2=="fsTotal" && $3=="0" {print $8 + $10}' <<<"$1"; }
iused() { awk -F: '$2=="inode" && $3=="0" {print $7}' <<<"$1"; }
y0=$(MMFS_NODE=$P.1 mmdf fs1 -Y 2>&1); rc0=$?
head -c $((24 << 20)) /dev/urandom >$M/df24
out=$(MMFS_NODE=$P.1 mmdf fs1 2>&1); rc=$?
y1=$(MMFS_NODE=$P.1 mmdf fs1 -Y 2>&1); rc1=$?
[[ $rc0 -eq 0 && $rc -eq 0 && $rc1 -eq 0 && $out != *"try again"* && $y1 != *"try again"* &&
	$out == *"(total)"* && $out == *"Number of used inodes"* ]] &&
	pass "mmdf fs1 and mmdf fs1 -Y while mounted: exit 0, no \"try again\"" ||
	{ echo "$out"; echo "$y1"; fail "mmdf while mounted (rc $rc0 $rc $rc1)"; }
f0=$(fsfree "$y0"); f1=$(fsfree "$y1")
[[ -n $f0 && -n $f1 && $((f0 - f1)) -ge $((24 << 10)) && $((f0 - f1)) -le $((25 << 10)) ]] &&
	pass "mmdf: free space dropped by $((f0 - f1)) KB with a 24 MiB file (24576 KB + metadata)" ||
	{ echo "$y0"; echo "$y1"; fail "mmdf free space: '$f0' KB then '$f1' KB"; }
[[ $(iused "$y1") == $(($(iused "$y0") + 1)) ]] && pass "mmdf: one inode more in use ($(iused "$y1"))" ||
	fail "mmdf inodes: $(iused "$y0") then $(iused "$y1")"
rm $M/df24
y2=$(MMFS_NODE=$P.1 mmdf fs1 -Y 2>/dev/null); f2=$(fsfree "$y2")
[[ -n $f2 && $((f2 - f1)) -ge $((24 << 10)) ]] &&
	pass "mmdf: the removed file's space is free at once (+$((f2 - f1)) KB)" || fail "mmdf after rm: '$f1' then '$f2'"
# (the disks may not have the free yet: node 2's daemon reading them could differ)
y3=$(MMFS_NODE=$P.2 mmdf fs1 -Y 2>/dev/null); rc=$?
[[ $rc -eq 0 && $y3 == "$y2" ]] && pass "mmdf from node 2 gives node 1's figures (asked of its daemon)" ||
	{ echo "$y3"; fail "mmdf from node 2 (rc $rc)"; }
# while a writer runs: every mmdf answers, none says "try again"
(for i in 1 2 3 4; do head -c $((8 << 20)) /dev/zero >$M/dfw$i; done; rm -f $M/dfw*) & wpid=$!
bad=0 n=0
while kill -0 $wpid 2>/dev/null || ((n < 3)); do
	out=$(MMFS_NODE=$P.1 mmdf fs1 -Y 2>&1) || bad=$((bad + 1))
	[[ $out == *"try again"* ]] && bad=$((bad + 1))
	n=$((n + 1))
done
wait $wpid
((bad == 0)) && pass "mmdf $n times while a writer ran: every one answered" || fail "mmdf during writes: $bad of $n failed"
mmlsdisk fs1 >/dev/null 2>&1 && [[ $(mmlsfs fs1 -B | awk '$1=="-B"{print $2}') == 262144 ]] &&
	pass "mmlsdisk and mmlsfs of the mounted file system" || fail "mmlsdisk / mmlsfs while mounted"

# 3. as an unprivileged user: the kernel does not check (no
# default_permissions), fs.h does with the caller's credentials
echo secret >$M/private && chmod 600 $M/private
out=$("${NOBODY[@]}" touch $M/x 2>&1); [[ $? -ne 0 && $out == *"Permission denied"* ]] &&
	pass "nobody cannot create in the 755 root directory: EACCES" || fail "create in root dir as nobody: $out"
out=$("${NOBODY[@]}" cat $M/private 2>&1); [[ $? -ne 0 && $out == *"Permission denied"* ]] &&
	pass "nobody cannot read a 600 file: EACCES" || fail "read 600 as nobody: $out"
out=$("${NOBODY[@]}" sh -c "echo x >>$M/d/b" 2>&1); [[ $? -ne 0 && $out == *"Permission denied"* ]] &&
	pass "nobody cannot write a 644 root file: EACCES" || fail "write 644 as nobody: $out"
[[ $("${NOBODY[@]}" cat $M/d/b) == "hello mmfs" ]] && pass "nobody reads a 644 file" || fail "read 644 as nobody"
mkdir $M/pub && chmod 1777 $M/pub && echo root >$M/pub/rootfile
"${NOBODY[@]}" sh -c "echo mine >$M/pub/n && mkdir $M/pub/nd && echo more >>$M/pub/n && mv $M/pub/n $M/pub/nd/n2" &&
	[[ $(cat $M/pub/nd/n2) == $'mine\nmore' && $(stat -c '%u:%g' $M/pub/nd/n2) == 65534:65534 ]] &&
	pass "nobody works in a 1777 directory; its files are 65534:65534" || fail "nobody in 1777"
out=$("${NOBODY[@]}" rm -f $M/pub/rootfile 2>&1); [[ $? -ne 0 && -e $M/pub/rootfile ]] &&
	pass "sticky: nobody cannot remove root's file ($out)" || fail "sticky directory: $out"
out=$("${NOBODY[@]}" sh -c "umask 077; : >$M/pub/masked" 2>&1) && [[ $(stat -c %a $M/pub/masked) == 600 ]] &&
	pass "the caller's umask applies (077: 600)" || fail "umask: $(stat -c %a $M/pub/masked 2>&1) $out"
[[ -d $M/pub/nd && -f $M/pub/masked ]] && "${NOBODY[@]}" rm -rf $M/pub/nd $M/pub/masked && [[ ! -e $M/pub/nd && ! -e $M/pub/masked ]] &&
	pass "nobody removes its own files" || fail "nobody rm"

# 4. one node at a time: another node's mount is refused naming the first
out=$(MMFS_NODE=$P.2 mmmount fs1 2>&1)
[[ $? -ne 0 && $out == *"mounted on node $P.1"* ]] && pass "a second node's mmmount is refused: $(tail -1 <<<"$out")" ||
	fail "second mount: $out"
out=$(mmlsmount fs1 -L)
[[ $out == *"File system fs1 is mounted on 1 nodes:"* && $out == *"$P.1"* ]] && pass "mmlsmount fs1 -L" ||
	{ echo "$out"; fail "mmlsmount -L"; }
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1); [[ $? -ne 0 && $out == *"already mounted"* ]] &&
	pass "mounting twice on one node is refused" || fail "double mount: $out"
out=$(mmmount nofs -N $P.1 2>&1); [[ $? -ne 0 && $out == *"nofs does not exist"* ]] &&
	pass "an unknown file system is named" || fail "unknown fs: $out"
out=$(mmdelfs fs1 2>&1); [[ $? -ne 0 && $out == *"fs1 is mounted"* ]] && grep -q "^fs1 $M fuse.mmfs" /proc/mounts &&
	pass "mmdelfs of a mounted file system is refused" || fail "mmdelfs while mounted: $out"
out=$(MMFS_NODE=$P.1 mmmount fs1 -o ro,writeback 2>&1); [[ $? -ne 0 && $out == *'"writeback"'* ]] &&
	pass "an unknown mount option is named" || fail "bad option: $out"

# 5. busy, then forced; mount elsewhere keeps the data
(cd $M && exec sleep 60) &
holder=$!
sleep 0.3
out=$(mmumount fs1 -N $P.1 2>&1); [[ $? -ne 0 && $out == *busy* ]] && grep -q " $M fuse.mmfs" /proc/mounts &&
	pass "mmumount of a busy file system is refused: $(tail -1 <<<"$out")" || fail "busy umount: $out"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
out=$(mmumount fs1 -N $P.1 2>&1) && ! grep -q " $M fuse.mmfs" /proc/mounts && pass "mmumount fs1" ||
	{ echo "$out"; fail "mmumount"; }
[[ $(mmlsmount fs1) == "File system fs1 is not mounted." ]] && pass "mmlsmount: not mounted" || fail "mmlsmount after umount"
out=$(mmmount fs1 -N $P.3 2>&1) && grep -q "^fs1 $M fuse.mmfs" /proc/mounts && pass "mmmount fs1 -N $P.3 after the unmount" ||
	{ echo "$out"; fail "mount on node 3"; }
timeout -s KILL 60 cmp -s $MMFS_ROOT/big $M/big && [[ $(cat $M/d/b) == "hello mmfs" && $(cat $M/private) == secret ]] &&
	pass "the data is intact on the other node" || fail "data after remount elsewhere"
(cd $M && exec sleep 60) &
holder=$!
sleep 0.3
out=$(mmumount fs1 -f -N $P.3 2>&1) && ! grep -q " $M fuse.mmfs" /proc/mounts && pass "mmumount -f of a busy file system" ||
	{ echo "$out"; fail "umount -f"; }
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# 5b. umount(8) of the mount point is mmumount on that node, as GPFS's is:
# the daemon unmounts the file system (mmlsmount, the mark) and it mounts
# again; so does fusermount -u
for how in "umount" "fusermount3 -u"; do
	mmmount fs1 -N $P.3 >/dev/null 2>&1 || fail "mount on node 3 before $how"
	$how $M || fail "$how $M"
	for _ in $(seq 1 100); do [[ $(mmlsmount fs1) == *"not mounted"* ]] && break; sleep 0.1; done
	[[ $(mmlsmount fs1) == *"not mounted"* ]] && pass "$how of the mount point: the daemon unmounted fs1" ||
		fail "after $how: $(mmlsmount fs1)"
	out=$(mmmount fs1 -N $P.3 2>&1) && grep -q "^fs1 $M fuse.mmfs" /proc/mounts && [[ $(cat $M/d/b) == "hello mmfs" ]] &&
		pass "mmmount after $how" || { echo "$out"; fail "mmmount after $how"; }
	mmumount fs1 -N $P.3 >/dev/null 2>&1 || fail "mmumount after $how"
done
mm_log $P.3 | grep -q "fs1: its mount on $M went away without mmumount" && pass "the daemon log says why it unmounted" ||
	fail "log of the unmount after umount(8)"
# at once: the mount does not wait for the daemon's own clean-up
mmmount fs1 -N $P.3 >/dev/null 2>&1 || fail "mount on node 3 before umount; mmmount"
umount $M && out=$(mmmount fs1 -N $P.3 2>&1) && grep -q "^fs1 $M fuse.mmfs" /proc/mounts &&
	pass "umount; mmmount at once" || { echo "$out"; fail "umount; mmmount at once"; }
# and again, 15 times, the new mount still there a moment later: the
# daemon's clean-up of the mount that went must not take down the one
# mmmount made since (seen in xfstests generic/117 on a loaded machine:
# the clean-up unmounted by name after mmmount had replaced the mount)
lost=0
for _ in $(seq 1 15); do
	umount $M && mmmount fs1 -N $P.3 >/dev/null 2>&1 || { lost=-1; break; }
	sleep 0.3
	grep -q "^fs1 $M fuse.mmfs" /proc/mounts || { lost=$((lost + 1)); mmmount fs1 -N $P.3 >/dev/null 2>&1; }
done
[[ $lost == 0 ]] && pass "umount; mmmount 15 times: every new mount stays" ||
	fail "umount; mmmount 15 times: $lost new mounts lost (-1: a step failed)"
mmumount fs1 -N $P.3 >/dev/null 2>&1 || fail "mmumount after umount; mmmount"
# umount -l while a process works in it: the detached mount keeps
# serving that process and mmmount is refused meanwhile (its FUSE
# connection lives: fe_conn_alive); mmumount -f ends it (closing the
# device aborts the connection), and the next mmmount works
mmmount fs1 -N $P.3 >/dev/null 2>&1 || fail "mount on node 3 before umount -l"
(cd $M/d && exec sleep 60) &
holder=$!
sleep 0.3
umount -l $M || fail "umount -l $M"
sleep 0.5
out=$(mmmount fs1 -N $P.3 2>&1)
[[ $? -ne 0 && $out == *"already mounted"* ]] && [[ $(cat /proc/$holder/cwd/b 2>/dev/null) == "hello mmfs" ]] &&
	pass "umount -l, still in use: it keeps serving, mmmount refused: $(tail -1 <<<"$out")" ||
	{ echo "$out"; fail "umount -l in use"; }
out=$(timeout 60 mmumount fs1 -f -N $P.3 2>&1) && ! cat /proc/$holder/cwd/b >/dev/null 2>&1 &&
	out=$(mmmount fs1 -N $P.3 2>&1) && grep -q "^fs1 $M fuse.mmfs" /proc/mounts && [[ $(cat $M/d/b) == "hello mmfs" ]] &&
	pass "then mmumount -f ends it (the process's reads fail) and mmmount works" ||
	{ echo "$out"; fail "mmumount -f of a lazily unmounted file system in use"; }
kill $holder 2>/dev/null; wait $holder 2>/dev/null
mmumount fs1 -N $P.3 >/dev/null 2>&1 || fail "mmumount after umount -l"

# 6. kill -9 leaves a dead mount; the next start of that daemon detaches it
mmmount fs1 -N $P.3 >/dev/null 2>&1 || fail "mount on node 3 again"
pid3=$(mm_pid $P.3)
kill -9 "$pid3"
for _ in $(seq 1 50); do kill -0 "$pid3" 2>/dev/null || break; sleep 0.1; done
grep -q "^fs1 $M fuse.mmfs" /proc/mounts && out=$(stat $M 2>&1); [[ $out == *"not connected"* ]] &&
	pass "kill -9: the mount stays, its connection dead" || fail "dead mount: $out"
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1); [[ $? -ne 0 && $out == *"mounted on node $P.3"* ]] &&
	pass "while node 3 is down its mount still holds: $(tail -1 <<<"$out")" || fail "mount while holder dead: $out"
mmstartup -N $P.3 >/dev/null || fail "mmstartup node 3"
grep -q " $M fuse.mmfs" /proc/mounts && fail "the dead mount is still there after mmstartup" ||
	pass "mmstartup detached the dead mount"
mm_log $P.3 | grep -q "detached a mount of fs1 on $M" && pass "the daemon log says so" || fail "log of the cleanup"
mm_wait_state $P.3 active 40 || fail "node 3 active again"
for _ in $(seq 1 100); do [[ $(mmlsmount fs1) == *"not mounted"* ]] && break; sleep 0.1; done
out=$(MMFS_NODE=$P.1 mmmount fs1 2>&1) && pass "node 3's stale mark was cleared: node 1 mounts" ||
	{ echo "$out"; fail "mount after node 3's restart"; }
timeout -s KILL 60 cmp -s $MMFS_ROOT/big $M/big && pass "the data is intact after the kill" || fail "data after kill -9"

# 7. mmshutdown unmounts first; -A yes mounts at mmstartup
M2=$MMFS_ROOT/gpfs/fs2
mmcrnsd --mkdisk $D/d3:512M >/dev/null && printf '%%nsd: device=%s nsd=m3 servers=%s.3\n' $D/d3 $P >$MMFS_ROOT/fs2.stanza &&
	mmcrnsd -F $MMFS_ROOT/fs2.stanza >/dev/null 2>&1 || fail "NSD m3"
out=$(mmcrfs fs2 -F $MMFS_ROOT/fs2.stanza -B 256K -T $M2 -A yes 2>&1) || { echo "$out"; fail "mmcrfs fs2 -A yes"; }
mmshutdown -a >/dev/null 2>&1
[[ -z $(our_mounts) ]] && pass "mmshutdown -a unmounted everything (no dead mount left)" ||
	{ our_mounts; fail "mounts after mmshutdown"; }
mmstartup -a >/dev/null || fail "mmstartup -a again"
mm_wait_all active 40 "${MM_NODES[@]}" || fail "active again"
for _ in $(seq 1 300); do grep -q "^fs2 $M2 fuse.mmfs" /proc/mounts && break; sleep 0.1; done
grep -q "^fs2 $M2 fuse.mmfs" /proc/mounts && pass "-A yes: fs2 mounted at mmstartup" || fail "-A yes mount"
grep -q " $M fuse.mmfs" /proc/mounts && fail "-A no: fs1 mounted at startup" || pass "-A no: fs1 not mounted at startup"
[[ $(mmlsmount fs2) == "File system fs2 is mounted on 1 nodes." ]] && pass "fs2 on exactly one node" ||
	{ mmlsmount fs2 -L; fail "fs2 mounts"; }
echo new >$M2/n && [[ $(cat $M2/n) == new ]] && pass "fs2 is usable" || fail "fs2 use"
out=$(mmumount all -a 2>&1) && [[ -z $(our_mounts) ]] && pass "mmumount all -a" || { echo "$out"; our_mounts; fail "umount all"; }
mmlsmount all | grep -q "File system fs2 is not mounted." && pass "mmlsmount all" || fail "mmlsmount all"

# 8. mmfsck holds the mount mark while it checks: a mount anywhere, and
# an mmfsck from another daemon, are refused naming the node; the mark
# goes when the check ends (the mark of another node's check is put in
# the CCR here, as a check running there would leave it)
S1=$MMFS_ROOT/$P.1/ssl
ectl() { ETCDCTL_API=3 etcdctl --endpoints=https://$P.1:2379 --cacert $S1/cluster.crt \
	--cert $S1/node.crt --key $S1/node.key "$@"; }
out=$(mmfsck fs1 -n 2>&1) && [[ -z $(ectl get /mmfs/mount/fs1 --print-value-only 2>&1) ]] &&
	pass "mmfsck -n ran and left no mark" || { echo "$out"; ectl get /mmfs/mount/fs1; fail "mmfsck mark left"; }
ectl put /mmfs/mount/fs1 "{\"device\":\"fs1\",\"node\":2,\"mountpoint\":\"\",\"options\":\"mmfsck\"}" >/dev/null ||
	fail "etcdctl put"
out=$(mmmount fs1 -N $P.1 2>&1)
[[ $? -ne 0 && $out == *"fs1 is being checked by mmfsck on node"* ]] && ! grep -q " $M fuse.mmfs" /proc/mounts &&
	pass "mmmount during another node's mmfsck is refused: $(tail -1 <<<"$out")" || { echo "$out"; fail "mount during fsck"; }
out=$(mmfsck fs1 -n 2>&1)
[[ $? -ne 0 && $out == *"mmfsck of fs1 is already running on node"* ]] &&
	pass "a second daemon's mmfsck is refused: $out" || { echo "$out"; fail "fsck during fsck"; }
ectl del /mmfs/mount/fs1 >/dev/null
out=$(mmmount fs1 -N $P.1 2>&1) && grep -q " $M fuse.mmfs" /proc/mounts && pass "mmmount once the check is over" ||
	{ echo "$out"; fail "mount after fsck"; }
out=$(mmfsck fs1 -n 2>&1)
[[ $? -ne 0 && $out == *"is mounted"* ]] && pass "mmfsck of a mounted file system is refused" || { echo "$out"; fail "fsck mounted"; }
mmumount fs1 -N $P.1 >/dev/null 2>&1 || fail "mmumount at the end"
mm_done
