#!/usr/bin/env bash
# Security: a daemon holding another cluster's key is refused by its peers,
# and both sides log why; the admin socket is private.
source "$(dirname "$0")/lib.sh"
mm_setup security
P=127.1.5
mm_cluster $P 4 3 || { fail "mmcrcluster"; exit 1; }
for f in "$MMFS_ROOT"/$P.1/ssl/cluster.key "$MMFS_ROOT"/$P.4/ssl/cluster.key; do
	[[ $(stat -c %a "$f") == 600 ]] || fail "$f is not mode 0600"
done
pass "cluster key installed 0600 on every node"

# node 4 gets a key of its own: a stranger holding the wrong key
other=$(mktemp -d /tmp/mmfs-otherkey.XXXXXX)
MMFS_ROOT=$other mmauth genkey new >/dev/null || fail "mmauth genkey new"
cp "$other/ssl/cluster.key" "$other/ssl/cluster.crt" "$MMFS_ROOT/$P.4/ssl/"
rm -rf "$other"
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 $P.1 $P.2 $P.3 && pass "the 3 nodes with the cluster key are active" || fail "3 active"
bad=0
for _ in $(seq 1 25); do [[ $(mm_state $P.4) == active ]] && bad=1; sleep 0.2; done
[[ $bad == 0 && $(mm_state $P.4) == arbitrating ]] && pass "the node with a wrong key never becomes active" ||
	fail "wrong-key node state $(mm_state $P.4)"
sleep 2
l4=$(mm_log $P.4 | grep -E "TLS handshake with $P.[123]:.* failed: certificate verify failed" | head -1)
lq=$(cat "$MMFS_ROOT"/$P.[123]/mmfs.log | grep -E "TLS handshake with $P.4:.* failed: .*(unknown ca|certificate)" | head -1)
echo "  node 4 says: $l4"
echo "  peers say:   $lq"
[[ -n $l4 ]] && pass "the refused node logs why" || fail "no refusal reason in node 4's log"
[[ -n $lq ]] && pass "the refusing peer logs why, naming $P.4" || fail "no refusal in the peers' logs"

sock=$MMFS_ROOT/$P.1/mmfsd.sock
[[ $(stat -c %a "$sock") == 600 ]] && pass "admin socket is mode 0600" || fail "admin socket mode $(stat -c %a "$sock")"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$MMFS_ROOT" "$MMFS_ROOT/$P.1"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env MMFS_ROOT="$MMFS_ROOT" MMFS_NODE=$P.1 \
		"$MMFS_BIN/mmdiag" --version 2>&1)
	[[ $? -ne 0 ]] && pass "another user cannot use the admin socket" || fail "admin socket open to nobody: $out"
else
	skip "admin socket permission check (no setpriv or nobody user)"
fi
mm_done
