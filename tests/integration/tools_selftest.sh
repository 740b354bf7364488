#!/usr/bin/env bash
# The file-system checking tools (tests/tools/README.md) against local
# file systems, no daemons: posixcheck on a tmpfs this script mounts (as
# root; else a temp dir) and on a temp dir of the host; fsrandom briefly
# with and without the fault shim (which must make it fail); crashcheck
# write/verify, after a kill -9 of the writer, and on damaged files (which
# must make it fail); posixcheck under the fault shim (named cases must
# fail). Keeps under a minute.
source "$(dirname "$0")/lib.sh"
mm_setup tools_selftest
T=$MM_TOP/build/tools
for b in posixcheck fsrandom crashcheck faultshim.so; do
	[[ -e $T/$b ]] || { fail "$T/$b is not built (make tests)"; exit 1; }
done
SHIM=$T/faultshim.so
M=$MMFS_ROOT/tmpfs
mkdir -p "$M" "$MMFS_ROOT/host"
chmod 755 "$MMFS_ROOT"	# the unprivileged runs of posixcheck pass through it
mounted=0
selftest_cleanup() {
	[[ $mounted == 1 ]] && umount "$M"
	mm_cleanup
}
trap selftest_cleanup EXIT
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=1g tmpfs "$M" 2>/dev/null; then
	mounted=1
	note "tmpfs mounted at $M"
else
	note "not root or no tmpfs mount: $M is a directory of $(stat -f -c %T "$M")"
fi

# posixcheck: every case passes on the tmpfs and on the host's file system
for d in "$M" "$MMFS_ROOT/host"; do
	fstype=$(stat -f -c %T "$d")
	out=$("$T/posixcheck" "$d" -n 2000 2>&1); rc=$?
	if [[ $rc == 0 ]]; then
		pass "posixcheck on $fstype: $(tail -1 <<<"$out")"
	else
		grep -E '^(FAIL|SKIP)' <<<"$out" | head -20
		fail "posixcheck on $fstype (exit $rc): $(tail -1 <<<"$out")"
	fi
done
"$T/posixcheck" -l | grep -q '^bigdir ' && [[ $("$T/posixcheck" -l | wc -l) -ge 40 ]] &&
	pass "posixcheck -l lists $("$T/posixcheck" -l | wc -l) cases" || fail "posixcheck -l"
"$T/posixcheck" "$M" -k no_such_case >/dev/null 2>&1
[[ $? == 2 ]] && pass "posixcheck -k with an unknown case is refused" || fail "posixcheck -k unknown"

# posixcheck can fail: each fault makes the cases that check it fail
shim_pc() { # FAULT CASES EXPECTED_FAILING...
	local op=$1 cases=$2; shift 2
	local out rc c
	out=$(LD_PRELOAD=$SHIM FAULTSHIM_OP=$op FAULTSHIM_COUNT=0 "$T/posixcheck" "$M" -k "$cases" 2>/dev/null); rc=$?
	for c in "$@"; do
		if ! grep -q "^FAIL $c" <<<"$out"; then
			echo "$out"; fail "posixcheck under the $op fault: $c did not fail"; return
		fi
	done
	[[ $rc == 1 ]] && pass "posixcheck under the $op fault fails $* ($(grep -m1 "^FAIL" <<<"$out" | cut -c1-150))" ||
		fail "posixcheck under the $op fault exited $rc"
}
shim_pc rename rename_file,rename_flags,rename_dotdot rename_file rename_flags rename_dotdot
shim_pc utimens utimens,utimes_rules utimens
shim_pc write large,truncate_indirect,sparse large truncate_indirect sparse
shim_pc trunc truncate,large truncate large
[[ $(id -u) == 0 ]] && shim_pc mode sticky,setgid_dir,suid_clear_write sticky setgid_dir suid_clear_write

# fsrandom: passes on both; the write and truncate faults make it fail
for d in "$M" "$MMFS_ROOT/host"; do
	out=$("$T/fsrandom" "$d" -s 42 -n 8000 -K 2000 -S 4M -q 2>&1) &&
		pass "fsrandom on $(stat -f -c %T "$d"): $(tail -1 <<<"$out" | cut -c1-160)" ||
		{ echo "$out" | tail -40; fail "fsrandom on $(stat -f -c %T "$d")"; }
done
a=$("$T/fsrandom" "$M" -s 99 -n 300 -q -k | tail -1)
b=$("$T/fsrandom" "$M/.." -s 99 -n 300 -q | tail -1)
[[ ${a#*:} == "${b#*:}" && -n $a ]] && pass "fsrandom: one seed, the same operations" || fail "fsrandom seeds: '$a' vs '$b'"
rm -rf "$M"/fsrandom.99
out=$(LD_PRELOAD=$SHIM FAULTSHIM_OP=write FAULTSHIM_AFTER=300 FAULTSHIM_COUNT=0 FAULTSHIM_PATH=fsrandom "$T/fsrandom" "$M" -s 5 -n 8000 -K 1000 2>&1); rc=$?
[[ $rc == 1 ]] && grep -q "MISMATCH" <<<"$out" && grep -q "last operations" <<<"$out" &&
	pass "fsrandom catches a flipped byte in each write from the 301st: $(grep -m1 MISMATCH <<<"$out" | cut -c1-160)" ||
	{ echo "$out" | tail -20; fail "fsrandom under the write fault exited $rc"; }
out=$(LD_PRELOAD=$SHIM FAULTSHIM_OP=trunc FAULTSHIM_AFTER=20 "$T/fsrandom" "$M" -s 6 -n 8000 2>&1); rc=$?
[[ $rc == 1 ]] && grep -q "MISMATCH" <<<"$out" &&
	pass "fsrandom catches a wrong truncate: $(grep -m1 MISMATCH <<<"$out" | cut -c1-160)" ||
	{ echo "$out" | tail -20; fail "fsrandom under the trunc fault exited $rc"; }
rm -rf "$M"/fsrandom.*

# crashcheck: the journal lives on the other file system
J=$MMFS_ROOT/host/journal
mkdir "$M/cc"
out=$("$T/crashcheck" write "$M/cc" -j "$J" -s 11 -n 6000 2>&1) && pass "crashcheck write: $out" || fail "crashcheck write: $out"
out=$("$T/crashcheck" verify "$M/cc" -j "$J" 2>&1) && pass "crashcheck verify after a clean stop: $out" ||
	{ echo "$out"; fail "crashcheck verify after a clean stop"; }
sealed() { awk '$1=="S"{s[$2]=$3} $1=="U"{delete s[$2]} END{for(i in s) print s[i]}' "$J"; }
S=$(sealed | head -1)
if [[ -z $S ]]; then
	fail "crashcheck: no file sealed at the end of the storm"
else
	printf 'XXXXXXXXXXXXXXXX' | dd of="$M/cc/$S" bs=16 seek=1 conv=notrunc 2>/dev/null
	out=$("$T/crashcheck" verify "$M/cc" -j "$J" 2>&1); rc=$?
	[[ $rc == 1 ]] && grep -q "^FAIL.*$S" <<<"$out" && pass "crashcheck verify catches 16 bytes overwritten in sealed $S" ||
		{ echo "$out"; fail "crashcheck verify missed a damaged sealed file (exit $rc)"; }
	truncate -s 0 "$M/cc/$S"
	out=$("$T/crashcheck" verify "$M/cc" -j "$J" 2>&1)
	grep -q "sealed (fsynced) with size" <<<"$out" && pass "crashcheck verify catches a sealed file cut short" ||
		{ echo "$out"; fail "crashcheck verify missed a truncated sealed file"; }
fi
# a block of one file inside another (unsealed) file: foreign bytes
rm -rf "$M/cc" && mkdir "$M/cc"
"$T/crashcheck" write "$M/cc" -j "$J" -s 12 -n 3000 >/dev/null
src="" dst=""
for f in $(find "$M/cc" -name 'f*' -size +1k | sort); do
	if [[ -z $src ]] && ! cmp -s -n 65536 "$f" /dev/zero; then src=$f; elif [[ -z $dst ]]; then dst=$f; fi
done
dd if="$src" of="$dst" bs=64k count=1 conv=notrunc 2>/dev/null
out=$("$T/crashcheck" verify "$M/cc" -j "$J" 2>&1); rc=$?
[[ $rc == 1 ]] && grep -q "^FAIL ${dst}: foreign bytes at offset .*a record of file" <<<"$out" &&
	pass "crashcheck verify catches the records of another file: $(grep -m1 "^FAIL ${dst}: foreign" <<<"$out" | sed "s|$M/||")" ||
	{ echo "$out" | head; fail "crashcheck verify missed foreign bytes (exit $rc, $src copied into $dst)"; }
# kill -9 of the writer mid-storm: the journal may end in a torn line
rm -rf "$M/cc" && mkdir "$M/cc"
"$T/crashcheck" write "$M/cc" -j "$J" -s 13 -t 20 >/dev/null 2>&1 &
w=$!
sleep 1.5
kill -9 $w; wait $w 2>/dev/null
out=$("$T/crashcheck" verify "$M/cc" -j "$J" 2>&1) && pass "crashcheck verify after kill -9 of the writer: $out" ||
	{ echo "$out" | head; fail "crashcheck verify after kill -9"; }

[[ $MM_FAILS -eq 0 ]]
