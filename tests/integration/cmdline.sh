#!/usr/bin/env bash
# Bad input to the commands and the daemon gets a clear error naming what
# was wrong, and changes nothing. Also: mmfsd -f logs to stderr, refuses a
# second instance, and exits cleanly on SIGTERM.
source "$(dirname "$0")/lib.sh"
mm_setup cmdline
P=127.1.10

expect_err() { # DESCRIPTION PATTERN COMMAND...
	local d=$1 pat=$2 out rc; shift 2
	out=$("$@" 2>&1); rc=$?
	if [[ $rc -ne 0 && $out == *$pat* ]]; then pass "$d: $(tail -1 <<<"$out")"; else fail "$d (rc $rc): $out"; fi
}

expect_err "mmcrcluster without -N" "usage" mmcrcluster -C x
expect_err "bad designation" "quorom" mmcrcluster -N $P.1:quorom-manager
expect_err "conflicting designations" "quorum" mmcrcluster -N $P.1:quorum-nonquorum
expect_err "duplicate node" "$P.1" mmcrcluster -N $P.1:quorum,$P.1
expect_err "no quorum node" "quorum" mmcrcluster -N $P.1,$P.2
expect_err "unresolvable node name" "no-such-host.invalid" mmcrcluster -N no-such-host.invalid:quorum
expect_err "bad --port" "--port" mmcrcluster -N $P.1:quorum --port 70000
printf '%s\n' "# nodes" "$P.1:quorum-manager" "$P.2:managr" >"$MMFS_ROOT/nodes"
expect_err "node file error names file and line" "nodes:3" mmcrcluster -N "$MMFS_ROOT/nodes"
printf 'attributes = { pagepool = "12X"; };\n' >"$MMFS_ROOT/bad.cfg"
expect_err "bad attribute in -c file" "pagepool" mmcrcluster -N $P.1:quorum -c "$MMFS_ROOT/bad.cfg"
printf 'attributes = { pagepool = "1G" \n' >"$MMFS_ROOT/syntax.cfg"
expect_err "syntax error in -c file names the line" "syntax.cfg:" mmcrcluster -N $P.1:quorum -c "$MMFS_ROOT/syntax.cfg"
expect_err "cluster name with a blank" '"bad name" contains an invalid character' mmcrcluster -N $P.1:quorum -C "bad name"
expect_err "empty cluster name" "empty cluster name" mmcrcluster -N $P.1:quorum -C ""
expect_err "cluster name with a slash" "invalid character '/'" mmcrcluster -N $P.1:quorum -C a/b
long=$(printf 'c%.0s' $(seq 1 60))
expect_err "cluster name too long once the node name is appended" "at most 64" mmcrcluster -N $P.1:quorum -C "$long"
expect_err "cluster name over 64 characters" "at most 64" mmcrcluster -N $P.1:quorum -C "$long.example.com"
expect_err "unresolvable admin node name" "nosuch.invalid" mmcrcluster -N $P.1:quorum:nosuch.invalid
expect_err "remote shell without a full path" "-r ssh: give the full path" mmcrcluster -N $P.1:quorum -r ssh
expect_err "remote copy that does not exist" "/no/such/scp is not an executable" mmcrcluster -N $P.1:quorum -R /no/such/scp
# a remote node whose remote shell never answers: bounded, reported, nothing written
# ($P.9 stands for another host: MMFS_ASSUME_REMOTE; no traffic leaves this machine)
export MMFS_ASSUME_REMOTE=$P.9
mkdir -p "$MMFS_ROOT/fake"
printf '#!/bin/sh\necho "$@" >>"%s/fake/ssh.args"\nexec sleep 100000\n' "$MMFS_ROOT" >"$MMFS_ROOT/fake/ssh"
printf '#!/bin/sh\necho "Permission denied (publickey)." >&2\nexit 255\n' >"$MMFS_ROOT/fake/rsh-refuses"
chmod +x "$MMFS_ROOT/fake/ssh" "$MMFS_ROOT/fake/rsh-refuses"
t0=$(date +%s)
MMFS_REMOTE_TIMEOUT=2 expect_err "remote shell that hangs: node reported unreachable" "node $P.9 is unreachable" \
	timeout 60 mmcrcluster -N $P.1:quorum,$P.9 -r "$MMFS_ROOT/fake/ssh"
[[ $(($(date +%s) - t0)) -le 10 ]] && pass "... within the remote timeout ($(($(date +%s) - t0))s)" ||
	fail "mmcrcluster took $(($(date +%s) - t0))s with MMFS_REMOTE_TIMEOUT=2"
grep -q -- "-o ConnectTimeout=2 -o BatchMode=yes" "$MMFS_ROOT/fake/ssh.args" 2>/dev/null &&
	pass "ssh gets ConnectTimeout and BatchMode" || fail "ssh options: $(cat "$MMFS_ROOT/fake/ssh.args" 2>&1)"
pgrep -f "sleep 100000" >/dev/null && fail "the hung remote shell was left running" || pass "the hung remote shell was killed"
expect_err "remote shell that refuses: node reported unreachable" "node $P.9 is unreachable" \
	mmcrcluster -N $P.1:quorum,$P.9 -r "$MMFS_ROOT/fake/rsh-refuses"
# the node answers, but installing on it fails: what was made here is removed again
printf '#!/bin/sh\ncase "$*" in *mmfs-reachable*) echo mmfs-reachable ;; *) echo "No space left on device" >&2; exit 1 ;; esac\n' \
	>"$MMFS_ROOT/fake/rsh-fails-later"
chmod +x "$MMFS_ROOT/fake/rsh-fails-later"
expect_err "install fails on a remote node, saying why" "node $P.9: $MMFS_ROOT/fake/rsh-fails-later failed (exit 1): No space left on device" \
	mmcrcluster -N $P.1:quorum,$P.9 -r "$MMFS_ROOT/fake/rsh-fails-later"
unset MMFS_ASSUME_REMOTE
[[ -z $(ls "$MMFS_ROOT" | grep "^$P") ]] && pass "failed mmcrcluster calls wrote nothing" || fail "state written by a failed mmcrcluster"
[[ ! -e $MMFS_ROOT/ssl ]] && pass "failed mmcrcluster calls left no cluster key" || fail "cluster key left: $(ls -R "$MMFS_ROOT/ssl")"

expect_err "commands without a cluster" "does not belong to a cluster" mmgetstate -a

mm_cluster $P 1 1 || { fail "mmcrcluster"; exit 1; }
expect_err "unknown node in -N" "no-such-node" mmgetstate -N no-such-node
expect_err "mmchconfig without a daemon" "no mmfsd is running" mmchconfig pagepool=1G
expect_err "malformed mmchconfig argument" "Attribute=value" mmchconfig pagepool
expect_err "mmaddnode: unresolvable admin node name" "nosuch.invalid" mmaddnode -N $P.2:client:nosuch.invalid
# a loopback address taken as another host's: the real ssh finds no sshd
# there (tests send traffic to this machine's addresses only)
MMFS_ASSUME_REMOTE=$P.9 MMFS_REMOTE_TIMEOUT=2 expect_err "mmaddnode: unreachable remote node refused before any change" \
	"node $P.9 is unreachable" timeout 30 mmaddnode -N $P.9
expect_err "mmchnode --quorum --nonquorum refused" "--quorum and --nonquorum" mmchnode --quorum --nonquorum -N $P.1
expect_err "mmchnode --client --manager refused" "--client and --manager" mmchnode --client --manager -N $P.1
expect_err "mmchnode --nonquorum --quorum refused" "--nonquorum and --quorum" mmchnode --nonquorum --manager --quorum -N $P.1

# the daemon in the foreground: stderr log, single instance, SIGTERM
"$MMFS_BIN/mmfsd" -f -N $P.1 >"$MMFS_ROOT/fg.out" 2>&1 &
fg=$!
mm_wait_state $P.1 active 30 && pass "mmfsd -f runs in the foreground and becomes active" || fail "foreground daemon"
out=$(MMFS_NODE=$P.1 mmdiag --version)
grep -Eq "up since (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} UTC 20[0-9]{2} \(0d 0h [0-9]+m [0-9]+s\)" <<<"$out" &&
	pass "mmdiag --version shows the start as a date: $(grep -o 'up since.*' <<<"$out")" || fail "mmdiag --version: $out"
grep -q "\[N\] \[main\] mmfsd: mmfsd ready" "$MMFS_ROOT/fg.out" && pass "foreground mode logs to stderr" || fail "stderr log"
# bounded: if the first daemon is not up, this one would run for ever
expect_err "second daemon for the same node refused" "already running" timeout 20 "$MMFS_BIN/mmfsd" -f -N $P.1
printf 'attributes = { pagepool = "12X"; };\n' >"$MMFS_ROOT/$P.1/mmfs.cfg"
expect_err "a detaching start is refused too, with the holder's pid" "already running" "$MMFS_BIN/mmfsd" -N $P.1
kill -TERM $fg
timeout 30 tail --pid=$fg -f /dev/null || { kill -KILL $fg; fail "the foreground daemon ignored SIGTERM for 30 s"; }
wait $fg; rc=$?
[[ $rc == 0 ]] && pass "SIGTERM: clean exit (status 0)" || fail "SIGTERM exit status $rc"
[[ ! -e $MMFS_ROOT/$P.1/mmfsd.pid && ! -e $MMFS_ROOT/$P.1/mmfsd.sock ]] && pass "pid file and socket removed" ||
	fail "pid file or socket left"
grep -q "mmfsd exiting" "$MMFS_ROOT/$P.1/mmfs.log" && pass "exit logged in mmfs.log" || fail "exit log"
expect_err "bad local mmfs.cfg names file, line and attribute" "mmfs.cfg:1: pagepool" "$MMFS_BIN/mmfsd" -N $P.1
mm_done
