#!/usr/bin/env bash
# An outside stress tester through the mount (issue 12): stress-ng's file
# system stressors, several at once with --verify (each checks what it
# reads back), against one mounted file system. Each batch must end
# successfully within its bound (a hang here was a deadlock in mmfsd),
# mmfsd must log no error while it runs, and mmfsck -n must be clean
# after. Then creates and fallocates from 8 shells fill the file system
# past ENOSPC, and mmfsck -n must still be clean. stress-ng found three
# bugs the own tools had not: a hang when a transaction moved to the
# next allocation region, a walk over every block before a fallocate far
# past the end, and spurious write errors for freed indirect blocks.
source "$(dirname "$0")/lib.sh"
mm_setup fsstress
P=127.1.31
SECS=${FSSTRESS_SECONDS:-8}

stress_cleanup() {
	pkill -f "stress-ng --temp-path $MMFS_ROOT/" 2>/dev/null
	mm_mount_cleanup
}
trap stress_cleanup EXIT

if [[ ! -c /dev/fuse ]]; then
	skip "stress-ng through the mount (no /dev/fuse on this machine)"
	exit 0
fi
if ! command -v stress-ng >/dev/null; then
	fail "stress-ng missing (tools/deps installs it)"
	exit 1
fi
# 1 MiB blocks, metadata unreplicated: large fragments, and a zeroed
# metadata block has no good replica to hide behind
mm_fs1_on_one_node $P 512M -B 1M -m 1 -M 2 || exit 1
M=$MMFS_ROOT/gpfs/fs1
out=$(mmmount fs1 2>&1) || { echo "$out"; fail "mmmount"; exit 1; }
mkdir -p $M/sng

# What a hang looks like, for whoever reads the log: mmfsd's waiters,
# the kernel stacks of the stress-ng processes still there (in which
# FUSE request they wait), and every mmfsd thread's stack.
hang_report() {
	local pid p
	pid=$(mm_pid $P.1)
	echo "  .. hang report: the last of mmfs.log (a lost lease stops token calls)"
	mm_log $P.1 | tail -40
	echo "  .. mmdiag --waiters"
	MMFS_NODE=$P.1 timeout 10 mmdiag --waiters 2>&1 | head -60
	for p in $(pgrep -f "stress-ng --temp-path $MMFS_ROOT/"); do
		echo "  .. stress-ng $p ($(cat /proc/$p/stat 2>/dev/null | cut -d' ' -f3)):"
		head -12 /proc/$p/stack 2>/dev/null
	done | head -120
	if [[ -n $pid ]] && command -v gdb >/dev/null; then
		echo "  .. mmfsd $pid threads:"
		timeout 60 gdb -batch -p "$pid" -ex "thread apply all bt 12" 2>/dev/null |
			grep -E '^(Thread|#)' | head -400
	fi
}

# batch NAME STRESSORS...: one stress-ng run of those stressors at once
batch() {
	local name=$1 out rc errs
	shift
	local before
	before=$(mm_log $P.1 | grep -c '\[E\]')
	# run from inside the mount (env -C, under the timeout): some
	# stressors (open) make files in the current directory too, which
	# would otherwise be the caller's (the repository)
	# into a file, not a pipe: a stressor stuck in the kernel (waiting on
	# an inode lock behind a FUSE request mmfsd never answers) outlives
	# the timeout's kill and would keep a pipe open, and the batch with it
	timeout -k 5 $((SECS * 6 + 60)) env -C $M/sng stress-ng --temp-path $M/sng --verify \
		--timeout $SECS "$@" >"$MMFS_ROOT/batch.out" 2>&1
	rc=$?
	out=$(cat "$MMFS_ROOT/batch.out")
	errs=$(mm_log $P.1 | grep '\[E\]' | tail -n +$((before + 1)))
	if [[ $rc -eq 124 || $rc -eq 137 ]]; then
		hang_report
		fail "$name: stress-ng did not finish within $((SECS * 6 + 60)) s (mmfsd hung?)"
	elif [[ $rc -ne 0 ]] || grep -qE 'FAIL|fail:|verify.*(fail|error)' <<<"$out"; then
		grep -vE 'metrc|dispatching|setting to' <<<"$out" | tail -20
		fail "$name: stress-ng rc=$rc"
	else
		pass "$name: $(grep -o 'successful run completed in [0-9.]*s' <<<"$out")"
	fi
	[[ -z $errs ]] || { echo "$errs" | head -10; fail "$name: mmfsd logged errors"; }
}

batch "names and links" --dir 1 --dentry 1 --rename 2 --link 1 --symlink 1 --chdir 1 \
	--getdent 1 --mknod 1 --dirdeep 1 --dirmany 1 --filename 1
batch "attributes and locks" --chmod 1 --chown 1 --utime 1 --touch 1 --xattr 1 --fstat 1 \
	--lockf 1 --flock 1 --fcntl 1 --lockofd 1 --open 1
# (sizes kept to what a 1.5 GB file system holds at once)
batch "data" --hdd 1 --hdd-opts wr-rnd,rd-rnd --hdd-bytes 64M --seek 1 --seek-size 64M \
	--fallocate 1 --fallocate-bytes 64M --fpunch 1 --fsize 1 --sendfile 1 --splice 1 \
	--copy-file 1 --copy-file-bytes 128M --aio 1 --mmap 1 --mmap-file --mmap-bytes 32M \
	--msync 1 --msync-bytes 32M --iomix 1 --iomix-bytes 64M
rm -rf $M/sng

# creates and posix_fallocates of random ranges from 8 shells at once,
# until and past ENOSPC (xfstests' fsstress found this way that a failed
# growth of a file's last fragment had its buffer written over the next
# file's space: mmfsck then found zeroed indirect and inode-file blocks).
# On a fresh file system this caught that bug 3 runs of 3; after the
# stress-ng batches above it did not in the one run tried:
# test_fs_vn's 'a failed fallocate writes nothing past a fragment' is
# the deterministic check. This one keeps ENOSPC under concurrency in
# the suite, with mmfsck after.
enospc_round() { # DIR SEED
	local d=$1 i f sz
	RANDOM=$2
	mkdir -p "$d"
	for ((i = 0; i < 3000; i++)); do
		if ((RANDOM % 5 < 2)); then : 2>/dev/null >"$d/f$i"; fi
		f=$d/f$((RANDOM % (i + 1)))
		[[ -e $f ]] || continue
		fallocate -o $((((RANDOM << 15) | RANDOM) % (1 << 30))) \
			-l $((((RANDOM << 15) | RANDOM) % (1 << 26) + 1)) "$f" 2>/dev/null
		# writes past the end that give a block a run first (a file
		# leaving its inode; a sparse last block) and then need one
		# more: at ENOSPC the write fails after the first, and its
		# transaction aborted with that block's buffer dirty and no
		# run for it, which failed the file system on the node
		# (xfstests' fsstress on a full disk, fs/README.md; with the
		# fix undone these rounds caught it 1 run of 2, test_fs_vn's
		# abort case every time)
		if ((RANDOM % 3 == 0)); then
			printf 'tail' >"$d/s$i" 2>/dev/null &&
				dd if=/dev/zero of="$d/s$i" bs=1M count=1 seek=$((RANDOM % 8 + 1)) \
					conv=notrunc status=none 2>/dev/null
			sz=$((((RANDOM << 15) | RANDOM) % (1 << 27) + 4097))
			truncate -s $sz "$d/t$i" 2>/dev/null &&
				dd if=/dev/zero of="$d/t$i" bs=1M count=1 \
					seek=$((sz / 1048576 + 1 + RANDOM % 4)) conv=notrunc status=none 2>/dev/null
		fi
	done
}
if command -v fallocate >/dev/null; then
	# never on the directory under the mount point: it would fill this
	# machine's disk
	grep -q " $M fuse.mmfs" /proc/mounts || { fail "fs1 not mounted for the ENOSPC rounds"; exit 1; }
	before=$(mm_log $P.1 | grep -c '\[E\]')
	pids=()
	for i in 1 2 3 4 5 6 7 8; do
		enospc_round $M/enospc/p$i $((i * 7919)) &
		pids+=($!)
	done
	wait "${pids[@]}"
	used=$(df --output=pcent $M | tail -1 | tr -dc 0-9)
	[[ $used -ge 95 ]] && pass "creates and fallocates from 8 shells filled the file system ($used%)" ||
		fail "the fallocate rounds left the file system at $used%: not at ENOSPC"
	errs=$(mm_log $P.1 | grep '\[E\]' | tail -n +$((before + 1)))
	[[ -z $errs ]] || { echo "$errs" | head -10; fail "ENOSPC rounds: mmfsd logged errors"; }
else
	skip "creates and fallocates at ENOSPC (no fallocate(1))"
fi
mmumount fs1 >/dev/null 2>&1 || fail "mmumount"
out=$(mmfsck fs1 -n 2>&1) && pass "mmfsck -n clean after the stress" ||
	{ echo "$out" | grep -m5 Error; fail "mmfsck -n"; }
mm_done
