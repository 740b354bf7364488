#!/usr/bin/env bash
# Listing commands with this node's daemon down and no other daemon on
# this machine: a quorum node elsewhere answers through the remote shell
# (mmremote), and a remote shell that hangs is cut off by the remote
# timeout, the answer then coming from the local copy. "Elsewhere" is
# simulated: MMFS_ASSUME_REMOTE makes $P.1 remote, and the cluster's
# remote shell is a script that runs the command on this machine.
source "$(dirname "$0")/lib.sh"
mm_setup admin
P=127.1.17
fake=$MMFS_ROOT/fake-rsh
# fake-rsh HOST COMMAND: run COMMAND here, as a fresh login would (no test env)
printf '#!/bin/sh\nshift\nexec env -u MMFS_NODE -u MMFS_ASSUME_REMOTE sh -c "$*"\n' >"$fake"
chmod +x "$fake"
MM_CRFLAGS="-r $fake" mm_cluster $P 2 1 || { fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 $P.1 $P.2 && pass "2-node cluster active" || { fail "active"; exit 1; }
mmchconfig maxMBpS=4321 >/dev/null || fail "mmchconfig"
# $P.2's daemon writes its local copy through its etcd watch, a moment
# after the CCR changed: shut down before that, its copy (read below)
# would lack the change (seen in CI: down 6 ms after node 1 applied it)
for _ in $(seq 1 50); do
	grep -q 4321 "$MMFS_ROOT/$P.2/mmsdrfs.cfg" 2>/dev/null && break
	sleep 0.2
done
want=$(MMFS_NODE=$P.1 mmlsconfig)
wantc=$(MMFS_NODE=$P.1 mmlscluster)
mmshutdown -N $P.2 >/dev/null

export MMFS_ASSUME_REMOTE=$P.1
out=$(MMFS_NODE=$P.2 mmlsconfig 2>"$MMFS_ROOT/err")
[[ $out == "$want" ]] && grep -q "mmlsconfig: the daemon on this node is down; answering from the daemon of quorum node $P.1 (through $fake)" "$MMFS_ROOT/err" &&
	pass "mmlsconfig: a quorum node elsewhere answers through the remote shell, saying so" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsconfig through the remote shell"; }
out=$(MMFS_NODE=$P.2 mmlscluster 2>"$MMFS_ROOT/err")
[[ $out == "$wantc" ]] && grep -q "answering from the daemon of quorum node $P.1" "$MMFS_ROOT/err" &&
	pass "mmlscluster likewise" || { echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlscluster through the remote shell"; }
out=$(MMFS_NODE=$P.2 mmlsnsd 2>"$MMFS_ROOT/err")
[[ $? == 0 && $out == *"No disks were found"* ]] && grep -q "answering from the daemon of quorum node $P.1" "$MMFS_ROOT/err" &&
	pass "mmlsnsd likewise" || { echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsnsd through the remote shell"; }

# the remote shell hangs: bounded, then the local copy
printf '#!/bin/sh\nexec sleep 100002\n' >"$fake"
t0=$(date +%s)
out=$(MMFS_REMOTE_TIMEOUT=2 MMFS_NODE=$P.2 timeout 60 mmlsconfig 2>"$MMFS_ROOT/err"); rc=$?
t=$(($(date +%s) - t0))
[[ $rc == 0 && $t -le 10 ]] && grep -qx "maxMBpS 4321" <<<"$out" && grep -q "local copy" "$MMFS_ROOT/err" &&
	pass "a hanging remote shell is cut off after the remote timeout (${t}s); answered from the local copy" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsconfig with a hanging remote shell (rc $rc, ${t}s)"; }
out=$(MMFS_REMOTE_TIMEOUT=2 MMFS_NODE=$P.2 timeout 60 mmlsnsd 2>&1); rc=$?
[[ $rc == 1 && $out == *"no daemon answered"* ]] && pass "mmlsnsd then says no daemon answered" ||
	fail "mmlsnsd with a hanging remote shell (rc $rc): $out"
pgrep -f "sleep 100002" >/dev/null && fail "the hung remote shell was left running" || pass "the hung remote shell was killed"
unset MMFS_ASSUME_REMOTE

# a daemon without quorum cannot read the CCR: the local copy answers
mmshutdown -N $P.1 >/dev/null
mmstartup -N $P.2 >/dev/null
mm_wait_state $P.2 arbitrating 30 || note "node $P.2 is '$(mm_state $P.2)'"
out=$(MMFS_NODE=$P.2 timeout 60 mmlsconfig 2>"$MMFS_ROOT/err"); rc=$?
[[ $rc == 0 ]] && grep -qx "maxMBpS 4321" <<<"$out" && grep -q "cannot read the CCR" "$MMFS_ROOT/err" &&
	grep -q "answering from the local copy" "$MMFS_ROOT/err" &&
	pass "mmlsconfig on a node without quorum answers from the local copy: $(tr '\n' ' ' <"$MMFS_ROOT/err")" ||
	{ echo "$out"; cat "$MMFS_ROOT/err"; fail "mmlsconfig without quorum (rc $rc)"; }
mm_done
