#!/usr/bin/env bash
# mmfsck (issue 12): a fresh file system is clean (exit 0, counts that
# agree with mmdf); damage made on purpose in the disk files is found by
# -n (exit 2, each problem named, nothing written), repaired by -y (exit
# 1) and gone for the next -n (exit 0); damage that cannot be repaired
# stays exit 2 after -y; a missing file system, bad usage and a stopped
# daemon give clean errors (exit 8, 16, 8).
#
# How the damage is placed: build/tools/fslocate reads the descriptor
# from the disk files (given in "mmlsfs fs1 -d" order) as a mount does
# and prints where each replica of an inode's record lies (inode file
# block 0, the descriptor's ifile0) and which disks hold a descriptor
# copy. The test then overwrites 4 bytes of the root directory's record
# (inode 3, its nlink at byte 68) in one replica of two (-m 2), which
# breaks its CRC while the other replica is good (fsck rewrites it from
# the good one), and zeroes both descriptor slots of one of the three
# descriptor disks (fsck writes the chosen copy back).
source "$(dirname "$0")/lib.sh"
mm_setup fsck
P=127.1.25
LOC=$MM_TOP/build/tools/fslocate
[[ -x $LOC ]] || { fail "$LOC is missing: run make tests"; exit 1; }
mm_cluster $P 2 1 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "cluster of 2 active" || { fail "cluster active"; exit 1; }
D=$MMFS_ROOT/disks
mmcrnsd --mkdisk $D/d1:128M,$D/d2:128M,$D/d3:128M >/dev/null || fail "mkdisk"
cat >$MMFS_ROOT/fs1.stanza <<STANZA
%nsd: device=$D/d1 nsd=k1 failureGroup=1
%nsd: device=$D/d2 nsd=k2 failureGroup=2
%nsd: device=$D/d3 nsd=k3 failureGroup=3
STANZA
out=$(mmcrnsd -F $MMFS_ROOT/fs1.stanza 2>&1) || { echo "$out"; fail "mmcrnsd"; exit 1; }
out=$(mmcrfs fs1 -F $MMFS_ROOT/fs1.stanza -B 256K -m 2 -M 2 -r 1 -R 2 2>&1) &&
	pass "mmcrfs fs1 over 3 NSDs in 3 failure groups, -m 2" || { echo "$out"; fail "mmcrfs"; exit 1; }
# the disk files in descriptor order
files=()
IFS=';' read -r -a names < <(mmlsfs fs1 -d | awk '$1=="-d"{print $2}')
for n in "${names[@]}"; do
	files+=("$(awk -v n="nsd=$n" '$0 ~ n" " || $0 ~ n"$" {for (i = 1; i <= NF; i++) if ($i ~ /^device=/) print substr($i, 8)}' \
		$MMFS_ROOT/fs1.stanza)")
done
[[ ${#files[@]} == 3 && -f ${files[0]} && -f ${files[2]} ]] && note "disks in descriptor order: ${files[*]}" ||
	{ fail "disk files of fs1: ${files[*]}"; exit 1; }
sums() { md5sum "${files[@]}" | awk '{print $1}' | tr '\n' ' '; }
summary() { grep -E '^[0-9]+ inodes, ' <<<"$1"; }

# 1. fresh: clean, with progress and counts that agree with mmdf
t0=$(date +%s%N)
out=$(mmfsck fs1 -n 2>&1)
rc=$?; ms=$((($(date +%s%N) - t0) / 1000000))
echo "$out"
used=$(mmdf fs1 -Y | awk -F: '$2=="inode"&&$3=="0"{print $7}')
[[ $rc -eq 0 && $out == *'Checking "fs1"'* && $out == *"File system is clean."* ]] &&
	pass "mmfsck fs1 -n on a fresh file system: exit 0 in $ms ms" || fail "fresh -n: rc=$rc"
[[ $out == *"Checking inodes"* && $out == *"Checking directories"* && $out == *"Checking the block map"* &&
	$(grep -c "100 % complete on" <<<"$out") -ge 4 ]] && pass "the phases with their percentages" ||
	fail "progress lines"
[[ -n $used && $(summary "$out") == "$used inodes, $((used - 1)) files, 1 directories, "*": 0 problems found, 0 fixed" ]] &&
	pass "counts: $(summary "$out") (mmdf: $used inodes used; the root the one directory)" ||
	fail "counts: '$(summary "$out")', mmdf used=$used"
y=$(mmfsck fs1 -n -Y)
rc=$?
row=$(awk -F: '$2=="" && $3=="0"' <<<"$y")
[[ $rc -eq 0 && $(grep -c ':HEADER:' <<<"$y") == 2 && $(cut -d: -f7-8 <<<"$row") == "fs1:check" &&
	$(cut -d: -f9 <<<"$row") == "$used" && $(cut -d: -f16,17,19 <<<"$row") == "0:0:0" ]] &&
	pass "mmfsck -Y: $row" || { echo "$y"; fail "-Y"; }
out=$(mmfsck fs1 2>&1)
[[ $? -eq 0 && $out == *"neither -n nor -y given: checking only"* && $out == *"File system is clean."* ]] &&
	pass "neither -n nor -y: checks only, and says so" || fail "default mode: $out"

# 2. damage: the root's record in one replica, one descriptor copy
loc=$($LOC inode 3 "${files[@]}")
echo "$loc"
[[ $(wc -l <<<"$loc") == 2 && $(grep -c ' ok$' <<<"$loc") == 2 ]] && pass "fslocate: the root's record in 2 replicas" ||
	{ fail "fslocate inode 3"; exit 1; }
read -r _ rdisk rfile roff _ < <(sed -n 2p <<<"$loc")
printf '\x7f\x7f\x7f\x7f' | dd of="$rfile" bs=1 seek=$((roff + 68)) conv=notrunc,fsync status=none
desc=$($LOC desc "${files[@]}")
[[ $(wc -l <<<"$desc") == 3 ]] || fail "3 descriptor disks: $desc"
read -r ddisk dfile _ < <(grep -v "^$rdisk " <<<"$desc" | head -1)
dd if=/dev/zero of="$dfile" bs=256K seek=1 count=2 conv=notrunc,fsync status=none
dname=${names[$ddisk]} rname=${names[$rdisk]}
note "damaged: root record replica 1 on disk $rdisk ($rname) at byte $roff; descriptor slots of disk $ddisk ($dname)"
[[ $($LOC inode 3 "${files[@]}" | sed -n 2p) == *" bad:"* ]] && pass "fslocate sees replica 1 bad" || fail "damage not seen"

before=$(sums)
out=$(mmfsck fs1 -n 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 2 && $out == *"File system contains unrepaired damage."* && $out == *"mmfsck fs1 -y"* ]] &&
	pass "mmfsck -n on the damaged file system: exit 2" || fail "damaged -n: rc=$rc"
grep -qE "^Error: .*replica 1 \(disk $rdisk \($rname\).* is damaged or differs" <<<"$out" &&
	pass "names the damaged replica: $(grep 'replica 1' <<<"$out")" || fail "replica problem not named"
grep -qE "^Error: descriptor disk $ddisk \($dname\) does not hold" <<<"$out" &&
	pass "names the descriptor disk: $(grep -E "descriptor disk $ddisk" <<<"$out")" ||
	fail "descriptor problem not named"
[[ $(summary "$out") == *": 2 problems found, 0 fixed" ]] && pass "-n: $(summary "$out")" || fail "-n summary: $(summary "$out")"
[[ $(sums) == "$before" ]] && pass "-n wrote nothing (the disk files are unchanged)" || fail "-n changed the disks"

out=$(mmfsck fs1 -y -v 2>&1)
rc=$?
echo "$out"
s=$(summary "$out")
found=$(sed -n 's/.*: \([0-9]*\) problems* found, \([0-9]*\) fixed$/\1/p' <<<"$s")
fixed=$(sed -n 's/.*: \([0-9]*\) problems* found, \([0-9]*\) fixed$/\2/p' <<<"$s")
[[ $rc -eq 1 && -n $found && $found -ge 2 && $found == "$fixed" && $out == *"File system was repaired"* &&
	$(grep -c '^Repaired: ' <<<"$out") -ge 2 && $out == *"-y: repairs written"* ]] &&
	pass "mmfsck -y: exit 1, $s" || fail "-y: rc=$rc '$s'"
[[ $($LOC inode 3 "${files[@]}" | grep -c ' ok$') == 2 &&
	-n $(dd if="$dfile" bs=256K skip=1 count=2 status=none | tr -d '\0' | head -c 1) ]] &&
	pass "on disk: both replicas verify, the descriptor copy is back" || fail "repair not on disk"
out=$(mmfsck fs1 -n 2>&1)
rc=$?
[[ $rc -eq 0 && $(summary "$out") == *": 0 problems found, 0 fixed" ]] && pass "mmfsck -n after -y: exit 0" ||
	{ echo "$out"; fail "after -y: rc=$rc"; }
mmlsfs fs1 >/dev/null 2>&1 && pass "mmlsfs reads the repaired file system" || fail "mmlsfs after repair"

# several at once in one daemon: each is clean or refused as running
refused=0 bad=0
for _ in 1 2 3; do
	for i in 1 2 3; do MMFS_NODE=$P.1 mmfsck fs1 -n >$MMFS_ROOT/par.$i 2>&1 & done
	wait
	for i in 1 2 3; do
		if grep -q "File system is clean." $MMFS_ROOT/par.$i; then :
		elif grep -q "^mmfsck: mmfsck of fs1 is already running on node $P.1" $MMFS_ROOT/par.$i; then
			refused=$((refused + 1))
		else bad=1; cat $MMFS_ROOT/par.$i; fi
	done
done
[[ $bad == 0 ]] && pass "9 mmfsck -n in rounds of 3 at once: each clean or refused as running ($refused refused)" ||
	fail "concurrent mmfsck"

# an I/O error: every disk read of node 1's daemon fails (an injected
# fault, whichever path its disks use): exit 8, naming what failed
ADMCALL=$MM_TOP/build/tools/admcall
for call in pread io_submit; do
	$ADMCALL $P.1 "{\"cmd\":\"nsdfault\",\"call\":\"$call\",\"nth\":1,\"errno\":5,\"persistent\":true}" >/dev/null ||
		fail "nsdfault $call"
done
out=$(MMFS_NODE=$P.1 mmfsck fs1 -n 2>&1)
rc=$?
$ADMCALL $P.1 '{"cmd":"nsdfault","reset":true}' >/dev/null || fail "nsdfault reset"
[[ $rc -eq 8 && $out == *"mmfsck: "* && $out == *"k"[123]* && $out != *"File system is clean"* ]] &&
	pass "disk reads failing: exit 8: $(grep '^mmfsck: ' <<<"$out" | head -1 | cut -c1-240)" || { echo "$out"; fail "I/O error: rc=$rc"; }
out=$(MMFS_NODE=$P.1 mmfsck fs1 -n 2>&1) && pass "faults reset: clean again" || { echo "$out"; fail "after the faults"; }

# 3. damage nothing can repair: the root's record in both replicas
while read -r _ _ f off _; do
	printf '\x7f\x7f\x7f\x7f' | dd of="$f" bs=1 seek=$((off + 68)) conv=notrunc,fsync status=none
done <<<"$($LOC inode 3 "${files[@]}")"
out=$(mmfsck fs1 -y 2>&1)
rc=$?
[[ $rc -eq 2 && $out == *"File system contains unrepaired damage."* && $out == *"cannot repair"* ]] &&
	pass "root record lost in every replica: -y exits 2: $(grep -m1 'cannot repair' <<<"$out")" ||
	{ echo "$out"; fail "unrepairable: rc=$rc"; }

# 4. errors
out=$(mmfsck nosuch -n 2>&1)
[[ $? -eq 8 && $out == "mmfsck: file system nosuch does not exist"* ]] && pass "a missing file system: exit 8: $out" ||
	fail "missing fs: $out"
out=$(mmfsck fs1 -n -y 2>&1)
[[ $? -eq 16 && $out == *"exclude each other"* ]] && pass "-n with -y: usage, exit 16" || fail "-n -y: $out"
out=$(mmfsck fs1 -x 2>&1)
[[ $? -eq 16 && $out == *"unknown option -x"* ]] && pass "an unknown option: exit 16" || fail "-x: $out"
mmdelfs fs1 >/dev/null 2>&1 && pass "mmdelfs of the damaged file system" || fail "mmdelfs"
mmshutdown -N $P.2 >/dev/null 2>&1
mm_wait_state $P.2 down 20 >/dev/null
out=$(MMFS_NODE=$P.2 mmfsck fs1 -n 2>&1)
[[ $? -eq 8 && $out == mmfsck:* && $out == *"daemon not running"* ]] && pass "the daemon down: exit 8: $out" ||
	fail "daemon down: $out"
mm_done
