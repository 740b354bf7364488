#!/usr/bin/env bash
# File system administration (issue 12): mmcrfs with several option sets,
# mmlsfs / mmlsdisk / mmdf checked against what was asked and against each
# other, the refusals (NSD in another file system, missing NSD, bad -B,
# -i 512, -M 2 with one failure group, duplicate name, a disk holding a
# descriptor), mmdelfs then reuse of the NSDs, mmcrfs from a non-manager
# node, and a clean error with the daemon down.
source "$(dirname "$0")/lib.sh"
mm_setup fscmd
P=127.1.23
mm_cluster $P 4 3 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster of 4 active" || { fail "cluster active"; exit 1; }
D=$MMFS_ROOT/disks
mmcrnsd --mkdisk $D/d1:256M,$D/d2:256M,$D/d3:256M,$D/d4:256M >/dev/null || fail "mkdisk"
cat >$MMFS_ROOT/all.stanza <<STANZA
%nsd: device=$D/d1 nsd=n1 servers=$P.1 failureGroup=1
%nsd: device=$D/d2 nsd=n2 servers=$P.2 failureGroup=2
%nsd: device=$D/d3 nsd=n3 servers=$P.3 failureGroup=3
%nsd: device=$D/d4 nsd=n4 failureGroup=4 usage=dataOnly pool=data
STANZA
out=$(mmcrnsd -F $MMFS_ROOT/all.stanza 2>&1) && pass "mmcrnsd of 4 NSDs" || { echo "$out"; fail "mmcrnsd"; exit 1; }
# stanzas as mmcrfs gets them: lines of the file mmcrnsd rewrote
st() { for n in "$@"; do grep "nsd=$n " $MMFS_ROOT/all.stanza; done; }
st n1 n2 n3 >$MMFS_ROOT/fs1.stanza
st n4 >$MMFS_ROOT/fs2.stanza

# 1. create with options, and read every one back
t0=$(date +%s%N)
out=$(mmcrfs fs1 -F $MMFS_ROOT/fs1.stanza -B 256K -m 1 -M 2 -r 1 -R 3 -n 8 -j scatter -T /gpfs/f1 -A no -E yes \
	--inode-limit 100000 -L 4M 2>&1)
rc=$?; ms=$((($(date +%s%N) - t0) / 1000000))
echo "$out"
[[ $rc -eq 0 && $out == *"Formatting file system"* && $out == *"Completed creation of file system /dev/fs1."* ]] &&
	pass "mmcrfs fs1 (-B 256K -M 2 -R 3 -n 8 -j scatter ...) in $ms ms" || fail "mmcrfs fs1 rc=$rc"
[[ $out == *"n1: size 256 MB"* && $out == *"Creating"* ]] && pass "mmcrfs prints the disks and its progress" ||
	fail "mmcrfs progress lines"
ls=$(mmlsfs fs1)
echo "$ls"
v() { awk -v f="$1" '$1==f{print $2}' <<<"$ls"; }
[[ $(v -B) == 262144 && $(v -f) == 8192 && $(v -i) == 4096 && $(v -m) == 1 && $(v -M) == 2 && $(v -r) == 1 &&
	$(v -R) == 3 && $(v -n) == 8 && $(v -j) == scatter && $(v -T) == /gpfs/f1 && $(v -A) == no && $(v -E) == yes &&
	$(v --inode-limit) == 100000 && $(v -L) == 4194304 && $(v -d) == "n1;n2;n3" ]] &&
	pass "mmlsfs shows every option as given" || fail "mmlsfs values"
y=$(mmlsfs fs1 -Y)
grep -q '^mmlsfs::0:1:::fs1:blockSize:262144::$' <<<"$y" && grep -q '^mmlsfs::HEADER:' <<<"$y" &&
	pass "mmlsfs -Y" || { echo "$y"; fail "mmlsfs -Y"; }
[[ $(mmlsfs fs1 -B -f | grep -c '^ -') == 2 ]] && pass "mmlsfs fs1 -B -f selects two attributes" || fail "mmlsfs -B -f"
ld=$(mmlsdisk fs1 -L)
echo "$ld"
[[ $(grep -c ' nsd  *512 ' <<<"$ld") == 3 && $(grep -c ' desc$' <<<"$ld") == 3 ]] &&
	grep -q "^Number of quorum disks: 3" <<<"$ld" && grep -q "^Read quorum value: *2" <<<"$ld" &&
	grep -qE '^n2 +nsd +512 +2 yes +yes +ready +up +2 +system' <<<"$ld" &&
	pass "mmlsdisk -L: three descriptor disks in three failure groups, quorum 2" || fail "mmlsdisk -L"
df=$(mmdf fs1)
echo "$df"
# free space adds up: each disk 256M = 262144 KB, the pool total three of them
[[ $(awk '$1=="n1"{print $2}' <<<"$df") == 262144 && $(awk '$1=="(total)"{print $2}' <<<"$df") == 786432 ]] &&
	pass "mmdf: disk sizes in KB and their total" || fail "mmdf sizes"
dy=$(mmdf fs1 -Y)
full=$(awk -F: '$2=="nsd"&&$3=="0"{s+=$13} END{print s}' <<<"$dy")
tot=$(awk -F: '$2=="fsTotal"&&$3=="0"{print $8}' <<<"$dy")
used=$(awk -F: '$2=="inode"&&$3=="0"{print $7}' <<<"$dy")
max=$(awk -F: '$2=="inode"&&$3=="0"{print $10}' <<<"$dy")
[[ -n $full && $full == "$tot" && $full -gt 700000 && $full -lt 786432 ]] &&
	pass "mmdf -Y: free full blocks of the disks add up to the total ($full KB)" || { echo "$dy"; fail "mmdf totals"; }
[[ $used == 5 && $max == 100000 ]] && pass "mmdf: 5 inodes used (reserved), maximum = --inode-limit" ||
	fail "inodes used=$used max=$max"
out=$(mmlsnsd)
[[ $(grep -c '^ *fs1 ' <<<"$out") == 3 && $(grep -c "(free disk)" <<<"$out") == 1 ]] &&
	pass "mmlsnsd shows n1..n3 in fs1, n4 free" || { echo "$out"; fail "mmlsnsd fs column"; }
mmlsmgr fs1 >/dev/null 2>&1 && pass "fs1 has a token space and a manager (mmlsmgr fs1)" || fail "mmlsmgr fs1"

# 2. refusals
out=$(mmcrfs fs9 -F $MMFS_ROOT/fs1.stanza 2>&1)
[[ $? -ne 0 && $out == *"NSD n1 belongs to file system fs1"* && $out == *"NSD n3 belongs to file system fs1"* ]] &&
	pass "NSDs of another file system are refused, each named" || fail "in-use: $out"
{ st n4; echo "%nsd: device=$D/d1 nsd=nosuch"; } >$MMFS_ROOT/bad.stanza
out=$(mmcrfs fs9 -F $MMFS_ROOT/bad.stanza 2>&1)
[[ $? -ne 0 && $out == *"NSD nosuch does not exist"* ]] && pass "a missing NSD is refused: $out" || fail "missing: $out"
out=$(mmcrfs fs9 -F $MMFS_ROOT/fs2.stanza -B 3M 2>&1)
[[ $? -ne 0 && $out == *"block size"* ]] && pass "a bad -B is refused: $out" || fail "bad -B: $out"
out=$(mmcrfs fs9 -F $MMFS_ROOT/fs2.stanza -i 512 2>&1)
[[ $? -eq 2 && $out == *"4 KiB sector"* ]] && pass "-i 512 is refused with the reason" || fail "-i 512: $out"
st n4 | sed 's/usage=dataOnly/usage=dataAndMetadata/; s/pool=data/pool=system/' >$MMFS_ROOT/one.stanza
out=$(mmcrfs fs9 -F $MMFS_ROOT/one.stanza -M 2 2>&1)
[[ $? -ne 0 && $out == *"failure group"* ]] && pass "-M 2 with one failure group is refused: $out" || fail "-M 2: $out"
out=$(mmcrfs fs1 -F $MMFS_ROOT/one.stanza 2>&1)
[[ $? -ne 0 && $out == *"file system fs1 already exists"* ]] && pass "a duplicate name is refused" || fail "dup: $out"
[[ $(mmlsnsd | grep -c "(free disk)") == 1 ]] && ! mmlsfs fs9 >/dev/null 2>&1 &&
	pass "the refusals registered nothing" || fail "refusal left state"

# 3. mmdelfs, then the NSDs are reusable; a disk with a descriptor needs -v no
out=$(mmdelfs fs1 2>&1) && [[ $out == *"Completed deletion of file system /dev/fs1."* ]] &&
	pass "mmdelfs fs1" || { echo "$out"; fail "mmdelfs"; }
[[ $(mmlsnsd | grep -c "(free disk)") == 4 ]] && ! mmlsfs fs1 >/dev/null 2>&1 && ! mmlsmgr fs1 >/dev/null 2>&1 &&
	pass "after mmdelfs the NSDs are free and fs1 and its token space are gone" || fail "after delfs"
[[ -z $(dd if=$D/d1 bs=256K skip=1 count=2 status=none | tr -d '\0' | head -c 1) ]] &&
	pass "the descriptor slots on n1 are zeroed" || fail "descriptor left on d1"
out=$(mmdelfs fs1 2>&1)
[[ $? -ne 0 && $out == *"does not exist"* ]] && pass "mmdelfs of a missing file system: $out" || fail "delfs again: $out"

# a disk holding a descriptor: make one, drop only its record by hand? no: format
# fs2 on n4, then put the same NSD's blocks under a new fs after freeing it via -v
out=$(MMFS_NODE=$P.4 mmcrfs fs2 -F $MMFS_ROOT/one.stanza -B 64K 2>&1) &&
	pass "mmcrfs from a non-manager node ($P.4), -B 64K on a dataAndMetadata override" || { echo "$out"; fail "crfs from $P.4"; }
[[ $(mmlsfs fs2 | awk '$1=="-B"{print $2}') == 65536 && $(mmlsdisk fs2 | awk '$1=="n4"{print $5 $6 $9}') == yesyessystem ]] &&
	pass "fs2: 64K blocks, n4 holds metadata and data in system (stanza override)" || fail "fs2 attrs"
# copy fs2's descriptor to n1 (a leftover of another file system) and try to use it
dd if=$D/d4 of=$D/d1 bs=256K skip=1 seek=1 count=2 conv=notrunc status=none
st n1 n2 >$MMFS_ROOT/fs3.stanza
out=$(mmcrfs fs3 -F $MMFS_ROOT/fs3.stanza 2>&1)
[[ $? -ne 0 && $out == *"NSD n1 holds a descriptor of file system fs2"* && $out == *"-v no"* ]] &&
	pass "-v yes refuses a disk holding a descriptor: $out" || fail "-v yes: $out"
out=$(mmcrfs fs3 -F $MMFS_ROOT/fs3.stanza -v no -B 1M 2>&1) && pass "-v no reuses it (fs3 on n1, n2)" ||
	{ echo "$out"; fail "-v no"; }
[[ $(mmlsfs all | grep -c "^File system attributes for") == 2 ]] && pass "mmlsfs all lists fs2 and fs3" || fail "mmlsfs all"
[[ $(mmlsfs fs3 | awk '$1=="-M"{print $2}') == 2 ]] && pass "fs3: -M defaults to 2 over two failure groups" ||
	fail "fs3 -M"

# two mmcrfs racing for one NSD: one wins
st n3 >$MMFS_ROOT/n3.stanza
MMFS_NODE=$P.1 mmcrfs ra -F $MMFS_ROOT/n3.stanza -B 64K >/dev/null 2>&1 & a=$!
MMFS_NODE=$P.2 mmcrfs rb -F $MMFS_ROOT/n3.stanza -B 64K >/dev/null 2>&1 & b=$!
wait $a; ra=$?; wait $b; rb=$?
[[ $((ra == 0)) -ne $((rb == 0)) && $(mmlsnsd | grep -cE '^ *r[ab] +n3') == 1 ]] &&
	pass "two concurrent mmcrfs of one NSD: exactly one wins" || fail "race: $ra $rb"
fsids=$(for f in fs2 fs3 ra rb; do mmlsmgr -Y $f 2>/dev/null; done | wc -l)
note "token spaces listed: $fsids lines"

# an NSD whose only server is down is refused as unreachable, named
win=$(mmlsnsd | awk '$2=="n3"{print $1}')
mmdelfs $win >/dev/null 2>&1 || fail "mmdelfs $win"
mmshutdown -N $P.3 >/dev/null 2>&1
mm_wait_state $P.3 down 20 >/dev/null
t0=$(date +%s)
out=$(mmcrfs fs5 -F $MMFS_ROOT/n3.stanza -B 64K 2>&1)
[[ $? -ne 0 && $out == *"NSD n3 is not reachable from node"* ]] &&
	pass "an NSD whose server is down is refused as unreachable ($(($(date +%s) - t0)) s): $(head -1 <<<"$out")" ||
	fail "unreachable: $out"
mmlsnsd | grep -qE '^ *\(free disk\) +n3 ' && pass "n3 stays free" || fail "n3 after refusal"

# 4. the daemon down: a clean error
mmshutdown -N $P.4 >/dev/null 2>&1
mm_wait_state $P.4 down 20 >/dev/null
out=$(MMFS_NODE=$P.4 mmlsfs fs2 2>&1)
[[ $? -ne 0 && $out == mmlsfs:* && $out != *"Segmentation"* ]] && pass "mmlsfs with the daemon down: $(head -1 <<<"$out")" ||
	fail "daemon down: $out"
out=$(MMFS_NODE=$P.4 mmcrfs fs4 -F $MMFS_ROOT/fs2.stanza 2>&1)
[[ $? -ne 0 && $out == mmcrfs:* ]] && pass "mmcrfs with the daemon down: $(head -1 <<<"$out")" || fail "crfs down: $out"
mm_done
