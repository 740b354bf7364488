#!/usr/bin/env bash
# POSIX behaviour through the mount (issue 12): tests/tools/posixcheck's
# cases as root and as an unprivileged user, then a random-operation
# tester against a model with remounts, every byte and xattr checked
# (tests/tools/fsrandom), a cp -a of a documentation tree with an unmount
# right after it, then mmfsck -n clean.
source "$(dirname "$0")/lib.sh"
mm_setup fsposix
P=127.1.29
T=$PWD/build/tools

trap mm_mount_cleanup EXIT

if [[ ! -c /dev/fuse ]]; then
	skip "POSIX tests through the mount (no /dev/fuse on this machine)"
	exit 0
fi
for t in posixcheck fsrandom; do
	[[ -x $T/$t ]] || { fail "$T/$t missing (make tests)"; exit 1; }
done
mm_fs1_on_one_node $P || exit 1
M=$MMFS_ROOT/gpfs/fs1
# POSIX behaviour and a random-operation tester through the mount
out=$(mmmount fs1 2>&1) || { echo "$out"; fail "mmmount"; exit 1; }
mkdir -p $M/px && chmod 777 $M/px
out=$($T/posixcheck $M/px -v -n 1000 2>&1)
rc=$?
echo "$out" | grep -E '^(FAIL|SKIP)' | head -40
np=$(grep -c '^PASS' <<<"$out")
[[ $rc -eq 0 ]] && pass "posixcheck: $np cases pass through the mount" ||
	fail "posixcheck: $(grep -c '^FAIL' <<<"$out") cases fail ($np pass)"
# big xattrs go to the inode's overflow (fs/README.md), of several blocks
# with -B 256K: a value of 64 KiB (XATTR_SIZE_MAX), and the 1000
# attributes of 100 bytes posixcheck tries on one file
read -r big many < <(sed -n 's/.*largest value \([0-9]*\) bytes; \([0-9]*\).* xattrs.*/\1 \2/p' <<<"$out" | head -1)
[[ ${big:-0} -eq 65536 && ${many:-0} -ge 1000 ]] &&
	pass "xattrs through the mount: a value of $big bytes, $many of 100 bytes on one file" ||
	fail "xattrs through the mount: largest value ${big:-?} bytes, ${many:-?} of 100 bytes (want 65536, 1000)"
# with -x: xattrs of up to 64 KiB set, replaced and removed beside the
# data, so the overflow grows, moves and shrinks between remounts
out=$($T/fsrandom $M/px -s 4242 -n 10000 -f 6 -S 8M -K 5000 -z -x -r "mmumount fs1 && mmmount fs1" 2>&1)
rc=$?
sum=$(grep '^fsrandom: PASS' <<<"$out" | sed 's/.*ops (\([^)]*\)).*/\1/')
# the mix must keep punch, fallocate and zero range, KEEP_SIZE past the end
# too: mmfs has them
[[ $rc -eq 0 ]] && ! grep -Eq '(zero range|fallocate|punch hole|the end) unsupported' <<<"$out" &&
	pass "fsrandom: 10000 operations with remounts, every byte checked ($sum)" ||
	{ echo "$out" | tail -40; fail "fsrandom rc=$rc"; }
# the issue's workload: cp -a of a documentation tree, read back through
# tar, then mmumount at once, while the revokes of inodes trimmed past
# maxFilesToCache may still run (they outlived the unmount and crashed
# mmfsd until toknet_set_revoke waited for them), then mount and remove
src=/usr/share/doc
[[ $(find $src -type f 2>/dev/null | head -600 | wc -l) -ge 600 ]] || src=/usr/include
pid=$(cat $MMFS_ROOT/$P.1/mmfsd.pid)
n1=$(cd $(dirname $src) && tar cf - $(basename $src) | wc -c)
cp -a $src $M/px/tree && n2=$(cd $M/px && tar cf - --transform "s,^tree,$(basename $src)," tree | wc -c)
[[ $n1 -eq $n2 ]] && pass "cp -a $src: tar of the copy is as long as of the source ($n1 bytes)" ||
	fail "cp -a $src: tar of the copy is $n2 bytes, of the source $n1"
out=$(mmumount fs1 2>&1) && kill -0 $pid 2>/dev/null && out=$(mmmount fs1 2>&1) && rm -rf $M/px/tree &&
	pass "mmumount right after it, mmmount, rm -rf: mmfsd ($pid) lives on" ||
	fail "mmumount / mmmount after cp -a: $out (mmfsd $pid $(kill -0 $pid 2>/dev/null && echo alive || echo gone))"
mmumount fs1 >/dev/null 2>&1
out=$(mmfsck fs1 -n 2>&1) && pass "mmfsck -n clean at the end" || { echo "$out" | tail; fail "final mmfsck"; }
mm_done
