#!/usr/bin/env bash
# A million entries in one directory through the mount (issue 12, "a
# million-entry directory (in a longer target)"; make check-long runs it,
# BIGDIR_FILES sets the count). Creates them with mdbench's create phase
# split over 2 threads, then: readdir returns every name exactly once,
# 2,000 random names look up, a name that is not there does not, and
# mmfsck -n is clean; the rates of the first and the last 10% of the
# creates are printed (a lookup reads one directory block however large
# the directory: the rates should not fall with its size), not checked.
source "$(dirname "$0")/../integration/lib.sh"
mm_setup bigdir
P=127.1.32
N=${BIGDIR_FILES:-1000000}

trap mm_mount_cleanup EXIT
if [[ ! -c /dev/fuse ]]; then
	skip "a million entries through the mount (no /dev/fuse on this machine)"
	exit 0
fi
# disks of 8 GB (sparse): a million 4 KiB inode records, one replica
mm_fs1_on_one_node $P 8G -B 256K -m 1 -M 2 --inode-limit $((N + N / 4 + 1000)) || exit 1
M=$MMFS_ROOT/gpfs/fs1
out=$(mmmount fs1 2>&1) || { echo "$out"; fail "mmmount"; exit 1; }
mkdir -p $M/big

# create in ten slices so the rate of the first and the last can be seen
rates=()
per=$((N / 10))
for s in $(seq 0 9); do
	t0=$(date +%s.%N)
	python3 - "$M/big" $((s * per)) $per <<'EOF' || { fail "create slice $s"; break; }
import os, sys
d, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + n):
    os.close(os.open("%s/f%07d" % (d, i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
EOF
	t1=$(date +%s.%N)
	rates+=("$(echo "$per / ($t1 - $t0)" | bc)")
done
note "creates per second, slice by slice (each $per files): ${rates[*]}"
t0=$(date +%s.%N)
ls -f $M/big | grep '^f' >$MMFS_ROOT/names
t1=$(date +%s.%N)
got=$(wc -l <$MMFS_ROOT/names)
[[ $got -eq $((per * 10)) ]] && pass "readdir: $got names ($(echo "$got / ($t1 - $t0)" | bc) a second)" ||
	fail "readdir: $got names, expected $((per * 10))"
dups=$(sort $MMFS_ROOT/names | uniq -d | wc -l)
[[ $dups -eq 0 ]] && pass "readdir: no name twice" || fail "readdir: $dups names twice"
miss=0
for i in $(shuf -i 0-$((per * 10 - 1)) -n 2000); do
	[[ -e $(printf "%s/big/f%07d" "$M" "$i") ]] || miss=$((miss + 1))
done
[[ $miss -eq 0 ]] && pass "2000 random names look up" || fail "$miss of 2000 random names missing"
[[ -e $M/big/nothere ]] && fail "a name that is not there looks up" || pass "a missing name is ENOENT"
mmumount fs1 >/dev/null 2>&1 || fail "mmumount"
out=$(mmfsck fs1 -n 2>&1) && pass "mmfsck -n clean with $((per * 10)) entries in one directory" ||
	{ echo "$out" | tail; fail "mmfsck -n"; }
mm_done
