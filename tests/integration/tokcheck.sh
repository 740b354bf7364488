#!/usr/bin/env bash
# The token storm checker checks itself (no daemons): crafted logs with
# one violation among near misses (intervals that touch, ranges that
# touch, shared modes, conflicts on one node), unreleased holds of dead,
# stopped and live nodes, and malformed lines. tokens.sh trusts its
# verdicts on real daemons' logs because of this.
source "$(dirname "$0")/lib.sh"
mm_setup tokcheck
TOKCHECK=${TOKCHECK:-$MM_TOP/build/tools/tokcheck}
L=$MMFS_ROOT

# node 1 and node 2; the one violation is inode 5 (xw on 1 while ro on 2)
cat >"$L/n1.log" <<'LOG'
G 1 0 1000 7 inode 5 xw 0 inf
R 1 0 2000 7 inode 5 xw 0 inf
G 1 0 3000 7 inode 6 xw 0 inf
R 1 0 4000 7 inode 6 xw 0 inf
G 1 0 5000 7 br 9 xw 0 100
G 1 0 5000 7 br 10 xw 0 4096
R 1 0 6000 7 br 9 xw 0 100
R 1 0 6000 7 br 10 xw 0 4096
G 1 1 5000 7 inode 11 ro 0 inf
G 1 2 5100 7 inode 11 xw 0 inf
R 1 1 6000 7 inode 11 ro 0 inf
R 1 2 6000 7 inode 11 xw 0 inf
G 1 3 7000 7 dirblk 12 ws 0 inf
R 1 3 9000 7 dirblk 12 ws 0 inf
T 1 3 9500 7 alloc 3 xw 0 inf
G 1 0 9000 8 inode 5 xw 0 inf
R 1 0 9999 8 inode 5 xw 0 inf
LOG
cat >"$L/n2.log" <<'LOG'
G 2 0 1500 7 inode 5 ro 0 inf
R 2 0 2500 7 inode 5 ro 0 inf
G 2 0 4000 7 inode 6 xw 0 inf
R 2 0 5000 7 inode 6 xw 0 inf
G 2 0 5500 7 br 9 ws 100 inf
R 2 0 5900 7 br 9 ws 100 inf
G 2 1 5500 7 br 10 ro 4096 8192
R 2 1 5900 7 br 10 ro 4096 8192
G 2 2 8000 7 dirblk 12 ws 0 inf
R 2 2 8500 7 dirblk 12 ws 0 inf
G 2 0 9000 7 inode 5 xw 0 inf
R 2 0 9999 7 inode 5 xw 0 inf
LOG

out=$("$TOKCHECK" check "$L/n1.log" "$L/n2.log"); rc=$?
echo "$out"
[[ $rc == 1 && $(grep -c '^violation:' <<<"$out") == 1 ]] &&
	grep -q '^violation: space 7 inode 5: conflicting holds of nodes 1 and 2 overlap for 500 ns$' <<<"$out" &&
	pass "one violation found among near misses (inode 5: xw on node 1 while ro on node 2, 500 ns)" ||
	fail "crafted violation: rc $rc"
grep -q "n1.log:1,2)" <<<"$out" && grep -q "n2.log:1,2)" <<<"$out" &&
	pass "the violation names both holds' files and lines" || fail "violation lines"
grep -q '^node 1: 8 holds, 1 timeouts$' <<<"$out" && grep -q '^node 2: 6 holds, 0 timeouts$' <<<"$out" &&
	grep -q '^tokcheck: 14 holds of 2 nodes, 1 timeouts, 0 unreleased, 1 violations$' <<<"$out" &&
	pass "holds and timeouts counted per node" || fail "counts"

# the same logs without the violation: the near misses pass
grep -v ' 7 inode 5 ro ' "$L/n2.log" >"$L/n2ok.log"
out=$("$TOKCHECK" check "$L/n1.log" "$L/n2ok.log"); rc=$?
[[ $rc == 0 && $(grep -c '^violation:' <<<"$out") == 0 && $out == *", 0 violations" ]] &&
	pass "touching intervals, touching or disjoint ranges, ro-ro / ws-ws and one node's own conflicts pass" ||
	{ echo "$out"; fail "near misses: rc $rc"; }
# one nanosecond more is a violation: the touching pair is right at the edge
sed 's/^R 1 0 4000 7 inode 6/R 1 0 4001 7 inode 6/' "$L/n1.log" >"$L/n1edge.log"
out=$("$TOKCHECK" check "$L/n1edge.log" "$L/n2ok.log"); rc=$?
[[ $rc == 1 && $(grep -c '^violation:' <<<"$out") == 1 && $out == *"inode 6: conflicting holds of nodes 1 and 2 overlap for 1 ns"* ]] &&
	pass "intervals overlapping by 1 ns are a violation" || { echo "$out"; fail "1 ns overlap: rc $rc"; }
# ranges overlapping by one byte conflict
sed 's/^\([GR]\) 2 0 \([0-9]*\) 7 br 9 ws 100 inf/\1 2 0 \2 7 br 9 ws 99 inf/' "$L/n2ok.log" >"$L/n2br.log"
out=$("$TOKCHECK" check "$L/n1.log" "$L/n2br.log"); rc=$?
[[ $rc == 1 && $out == *"violation: space 7 br 9:"* ]] && pass "byte ranges overlapping by one byte conflict" ||
	{ echo "$out"; fail "br overlap: rc $rc"; }

# a dead node's open hold ends at its death; a live one's is a failure
cat >"$L/n3.log" <<'LOG'
G 3 0 6000 7 inode 20 xw 0 inf
LOG
cat >"$L/n4.log" <<'LOG'
G 4 0 7000 7 inode 20 xw 0 inf
R 4 0 8000 7 inode 20 xw 0 inf
LOG
out=$("$TOKCHECK" check --dead 3:6500 "$L/n3.log" "$L/n4.log"); rc=$?
[[ $rc == 0 && $out == *"node 3: 1 holds, 0 timeouts, dead"* ]] && pass "a dead node's open hold ends at its death" ||
	{ echo "$out"; fail "--dead before the other grant: rc $rc"; }
out=$("$TOKCHECK" check --dead 3:7500 "$L/n3.log" "$L/n4.log"); rc=$?
[[ $rc == 1 && $out == *"violation: space 7 inode 20: conflicting holds of nodes 3 and 4 overlap for 500 ns"* ]] &&
	pass "a dead node's hold granted elsewhere before its death is a violation" ||
	{ echo "$out"; fail "--dead after the other grant: rc $rc"; }
out=$("$TOKCHECK" check "$L/n3.log" "$L/n4.log"); rc=$?
[[ $rc == 1 && $out == *"unreleased: node 3 thread 0 inode 20"* ]] &&
	pass "an open hold of a node neither dead nor stopped fails" || { echo "$out"; fail "unreleased: rc $rc"; }
{ cat "$L/n3.log"; echo "X 3 9000"; } >"$L/n3x.log"
out=$("$TOKCHECK" check "$L/n3x.log" "$L/n4.log"); rc=$?
[[ $rc == 1 && $out == *"violation: space 7 inode 20: conflicting holds of nodes 3 and 4 overlap for 1000 ns"* &&
	$out != *unreleased:* ]] &&
	pass "a stopped node's open hold is held to the end and still checked" || { echo "$out"; fail "stopped: rc $rc"; }
out=$("$TOKCHECK" check --dead 3:5000 "$L/n3.log" 2>&1); rc=$?
[[ $rc == 2 && $out == *"n3.log:1: node 3 granted at 6000, after its death at 5000"* ]] &&
	pass "a grant after the given death time is refused" || fail "grant after death: rc $rc '$out'"

# malformed lines: exit 2 naming the file and line
bad() { # bad DESCRIPTION LINE
	printf 'G 1 0 1 7 inode 1 ro 0 inf\n%s\n' "$2" >"$L/bad.log"
	out=$("$TOKCHECK" check "$L/bad.log" 2>&1); rc=$?
	[[ $rc == 2 && $out == *"bad.log:2: malformed line"* ]] && pass "malformed, $1: exit 2 at bad.log:2" ||
		fail "malformed $1: rc $rc '$out'"
}
bad "unknown mode" "R 1 0 2 7 inode 1 rw 0 inf"
bad "nine fields" "R 1 0 2 7 inode 1 ro 0"
bad "R without G" "R 1 1 2 7 inode 1 ro 0 inf"
bad "R before its G" "R 1 0 0 7 inode 1 ro 0 inf"
bad "empty range" "G 1 0 2 7 br 2 ro 10 10"
bad "not a number" "G 1 0 2x 7 inode 2 ro 0 inf"
bad "unknown type" "Q 1 0 2 7 inode 2 ro 0 inf"
printf 'G 1 0 1 7 inode 1 ro 0 inf\nR 1 0 2 7 inode 1 ro 0 inf' >"$L/bad.log"
out=$("$TOKCHECK" check "$L/bad.log" 2>&1); rc=$?
[[ $rc == 2 && $out == *"bad.log:2: malformed line (no newline at its end)"* ]] &&
	pass "malformed, a cut last line: exit 2" || fail "cut line: rc $rc '$out'"
out=$("$TOKCHECK" check "$L/nosuch.log" 2>&1); rc=$?
[[ $rc == 2 && $out == *"cannot open"*nosuch.log* ]] && pass "a missing log: exit 2" || fail "missing: rc $rc '$out'"
a=$("$TOKCHECK" now); b=$("$TOKCHECK" now)
[[ $a =~ ^[0-9]+$ && $b -ge $a ]] && pass "tokcheck now prints the monotonic clock in ns ($a)" || fail "now: '$a' '$b'"
mm_done
