#!/usr/bin/env bash
# The file system manager role and the manager commands: the cluster
# manager appoints a manager for each token space among the active manager
# nodes, spreading them; mmlsmgr (text, -c, -Y, one device) shows them as
# every node's view of the CCR has them; mmchmgr moves a file system
# manager (refusing client, unknown and inactive nodes) and the cluster
# manager; a manager that shuts down or is killed is replaced within
# seconds; only the cluster manager ever writes an appointment (every
# write seen in the CCR grows the epoch by exactly one, and only nodes
# that were cluster manager log appointments). mmdiag --tokenmgr shows
# the token servers following the views.
# Token spaces are made with the daemon's "tokspace" test command until
# mmcrfs exists. Nodes: 1-3 quorum-manager, 4 manager, 5 client.
source "$(dirname "$0")/lib.sh"
mm_setup mgr
P=127.1.20
ADMCALL=${ADMCALL:-$MM_TOP/build/tools/admcall}
MM_NODES=($P.1 $P.2 $P.3 $P.4 $P.5)
mmcrcluster -N "$P.1:quorum-manager,$P.2:quorum-manager,$P.3:quorum-manager,$P.4:manager,$P.5" \
	-C mgr -c "$MMFS_ROOT/test.cfg" >"$MMFS_ROOT/mmcrcluster.out" 2>&1 ||
	{ cat "$MMFS_ROOT/mmcrcluster.out"; fail "mmcrcluster"; exit 1; }
mmstartup -a >/dev/null || fail "mmstartup -a"
mm_wait_all active 40 "${MM_NODES[@]}" && pass "5 nodes active (3 quorum-manager, 1 manager, 1 client)" ||
	{ fail "5 active"; exit 1; }

wait_for() { local t=$1 c=$2; for _ in $(seq 1 $((t * 5))); do eval "$c" && return 0; sleep 0.2; done; return 1; }
ccr() { # ccr ARGS...: etcdctl against a live quorum node
	local n s
	for n in $P.1 $P.2 $P.3; do
		s=$MMFS_ROOT/$n/ssl
		ETCDCTL_API=3 etcdctl --endpoints="https://$n:2379" --cacert="$s/cluster.crt" --cert="$s/node.crt" \
			--key="$s/node.key" --command-timeout=3s "$@" 2>/dev/null && return 0
	done
	return 1
}
# manager of DEVICE as node NODE's daemon sees it (name), and its epoch / token servers
mgr_of() { MMFS_NODE=$2 mmlsmgr -Y "$1" 2>/dev/null | awk -F: '$3=="0"{print $8}'; }
epoch_of() { MMFS_NODE=$2 mmlsmgr -Y "$1" 2>/dev/null | awk -F: '$3=="0"{print $11}'; }
servers_of() { MMFS_NODE=$2 mmlsmgr -Y "$1" 2>/dev/null | awk -F: '$3=="0"{print $12}'; }
cm_name() { MMFS_NODE=$1 mmlsmgr -c -Y 2>/dev/null | awk -F: '$3=="0"{print $7}'; }
is_mgr_node() { [[ $1 == "$P.1" || $1 == "$P.2" || $1 == "$P.3" || $1 == "$P.4" ]]; }
tok() { "$ADMCALL" "$1" "$2" >/dev/null; }

# record every appointment written to the CCR from here on (through all
# three etcd members: the watch moves on and resumes if one goes)
s=$MMFS_ROOT/$P.1/ssl
ETCDCTL_API=3 etcdctl --endpoints="https://$P.1:2379,https://$P.2:2379,https://$P.3:2379" --cacert="$s/cluster.crt" \
	--cert="$s/node.crt" --key="$s/node.key" watch --prefix /mmfs/fsmgr/ >"$MMFS_ROOT/fsmgr.watch" 2>/dev/null &
WATCH_PID=$!
MM_EXTRA_CLEANUP="kill $WATCH_PID 2>/dev/null"

# --- no file systems yet
cm=$(cm_name $P.5)
out=$(mmlsmgr 2>&1)
[[ $(wc -l <<<"$out") == 1 && $out == "Cluster manager node: $cm ($cm)" ]] &&
	pass "mmlsmgr with no file system: only the cluster manager line ($out)" ||
	fail "mmlsmgr with no file system: '$out'"
out=$(mmlsmgr -c 2>&1)
[[ $out == "Cluster manager node: $cm ($cm)" && $cm == $(mm_cm $P.2 | sed "s/^/$P./") ]] &&
	pass "mmlsmgr -c: $out (as mmdiag reports it)" || fail "mmlsmgr -c: '$out' (cm $(mm_cm $P.2))"

# --- two token spaces
tok $P.5 '{"cmd":"tokspace","op":"create","fsid":"a1","device":"fs1"}' &&
	tok $P.5 '{"cmd":"tokspace","op":"create","fsid":"b2","device":"fs2"}' &&
	pass "two token spaces created (fs1 a1, fs2 b2)" || fail "tokspace create"
out=$("$ADMCALL" $P.2 '{"cmd":"tokspace","op":"create","fsid":"c3","device":"fs1"}' 2>&1)
[[ $? -ne 0 && $out == *"already"* ]] && pass "a second space named fs1 is refused" || fail "duplicate device: $out"
wait_for 10 '[[ -n $(mgr_of fs1 $P.1) && -n $(mgr_of fs2 $P.1) ]]' &&
	pass "both spaces got a manager within 10 s" || fail "appointments: $(mmlsmgr 2>&1)"
m1=$(mgr_of fs1 $P.1); m2=$(mgr_of fs2 $P.1)
is_mgr_node "$m1" && is_mgr_node "$m2" && pass "managers are manager nodes: fs1 $m1, fs2 $m2" ||
	fail "managers fs1 '$m1' fs2 '$m2' (must be one of $P.1-4)"
[[ $m1 != "$m2" ]] && pass "appointments spread over manager nodes" || fail "both on $m1"
all_see() {
	local n
	for n in "${MM_NODES[@]}"; do
		[[ $(mgr_of fs1 "$n") == "$m1" && $(mgr_of fs2 "$n") == "$m2" ]] || return 1
	done
}
if wait_for 10 all_see; then
	pass "every node's view agrees (client node included)"
else
	for n in "${MM_NODES[@]}"; do note "node $n sees fs1 $(mgr_of fs1 "$n") fs2 $(mgr_of fs2 "$n")"; done
	fail "views differ"
fi
rec=$(ccr get /mmfs/fsmgr/00000000000000a1 --print-value-only)
[[ $rec == "node=${m1##*.} epoch="*" servers=${m1##*.}" ]] && pass "CCR /mmfs/fsmgr/<fsid>: $rec" ||
	fail "CCR record of fs1: '$rec'"

out=$(MMFS_NODE=$P.5 mmlsmgr 2>&1)
echo "$out"
exp=$(printf 'file system      manager node       [from %s (%s)]\n---------------- ------------------\nfs1              %s (%s)\nfs2              %s (%s)\n\nCluster manager node: %s (%s)' \
	$P.5 $P.5 "$m1" "$m1" "$m2" "$m2" "$cm" "$cm")
[[ $out == "$exp" ]] && pass "mmlsmgr: table, then the cluster manager line" || fail "mmlsmgr text; expected:
$exp"
out=$(mmlsmgr fs2 2>&1)
[[ $(wc -l <<<"$out") == 3 && $out == *"fs2              $m2 ($m2)" && $out != *fs1* && $out != *Cluster* ]] &&
	pass "mmlsmgr fs2: only its row" || fail "mmlsmgr fs2: '$out'"
out=$(mmlsmgr /dev/fs1 nosuch 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"fs1              $m1"* && $out == *"mmlsmgr: File system nosuch is not known"* ]] &&
	pass "mmlsmgr of an unknown device fails naming it" || fail "mmlsmgr nosuch: rc $rc '$out'"
out=$(mmlsmgr -Y 2>&1)
echo "$out"
grep -q "^mmlsmgr:clusterManager:HEADER:version:reserved:reserved:manager:managerIP:$" <<<"$out" &&
	grep -q "^mmlsmgr:clusterManager:0:1:::$cm:$cm:$" <<<"$out" &&
	grep -q "^mmlsmgr:filesystemManager:HEADER:version:reserved:reserved:filesystem:manager:managerIP:fsid:epoch:tokenServers:$" <<<"$out" &&
	grep -q "^mmlsmgr:filesystemManager:0:1:::fs1:$m1:$m1:00000000000000a1:[0-9]*:$m1:$" <<<"$out" &&
	[[ $(grep -c ":0:1:::" <<<"$out") == 3 ]] && pass "mmlsmgr -Y: headers and 3 data lines" || fail "mmlsmgr -Y"
out=$(mmlsmgr -c -Y 2>&1)
[[ $(wc -l <<<"$out") == 2 && $out != *filesystem* ]] && pass "mmlsmgr -c -Y: the cluster manager only" ||
	fail "mmlsmgr -c -Y: '$out'"

# --- widen and narrow the token service
all_mgrs="$P.1;$P.2;$P.3;$P.4"
tok $P.5 '{"cmd":"tokspace","op":"spread","device":"fs1"}' || fail "tokspace spread"
wait_for 10 '[[ $(servers_of fs1 $P.5 | tr ";" "\n" | sort | tr "\n" ";") == "$all_mgrs;" ]]' &&
	[[ $(servers_of fs1 $P.5) == "$m1;"* ]] &&
	pass "spread: fs1's token servers are every manager node, its manager first ($(servers_of fs1 $P.5))" ||
	fail "spread: servers '$(servers_of fs1 $P.5)'"
# the token service follows the view: every manager node serves fs1 (its
# rebuild done), the client node serves nothing and holds nothing
ok=1
for n in $P.1 $P.2 $P.3 $P.4; do
	wait_for 10 'MMFS_NODE=$n mmdiag --tokenmgr | grep -q "^space 000000a1 (fs1): epoch [0-9]*, serving"' ||
		{ ok=0; note "node $n: $(MMFS_NODE=$n mmdiag --tokenmgr 2>&1)"; }
done
[[ $ok == 1 ]] && pass "mmdiag --tokenmgr: every manager node serves fs1, rebuilt" || fail "token servers of fs1"
out=$(MMFS_NODE=$P.5 mmdiag --tokenmgr --tokens 2>&1)
grep -q "^Token servers on this node: 0 " <<<"$out" && grep -q "^Held tokens: 0$" <<<"$out" &&
	pass "mmdiag --tokenmgr --tokens on the client node: no server, no token" || fail "client node: $out"
tok $P.5 '{"cmd":"tokspace","op":"narrow","device":"fs1"}' || fail "tokspace narrow"
wait_for 10 '[[ $(servers_of fs1 $P.5) == "$m1" ]]' && pass "narrow: fs1's manager serves alone again" ||
	fail "narrow: servers '$(servers_of fs1 $P.5)'"
[[ $(mgr_of fs1 $P.1) == "$m1" ]] && pass "widening and narrowing kept the manager" || fail "manager moved"

# --- mmchmgr Device Node, and its refusals
free_mgr=""
for n in $P.4 $P.3 $P.2 $P.1; do [[ $n != "$m1" && $n != "$m2" ]] && { free_mgr=$n; break; }; done
e0=$(epoch_of fs1 $P.1)
out=$(MMFS_NODE=$P.5 mmchmgr fs1 "$free_mgr" 2>&1); rc=$?
echo "$out"
[[ $rc == 0 && $out == *"Sending migrate request to current manager node $m1 ($m1)."* &&
	$out == *"Node $m1 ($m1) resigned as manager for fs1."* &&
	$out == *"Node $free_mgr ($free_mgr) appointed as manager for fs1."* ]] &&
	pass "mmchmgr fs1 $free_mgr: GPFS's three lines" || fail "mmchmgr fs1: rc $rc"
ok=1
for n in "${MM_NODES[@]}"; do [[ $(mgr_of fs1 "$n") == "$free_mgr" ]] || ok=0; done
[[ $ok == 1 && $(epoch_of fs1 $P.3) -gt $e0 ]] && pass "every node sees fs1 on $free_mgr, epoch $e0 -> $(epoch_of fs1 $P.3)" ||
	fail "after mmchmgr: fs1 on $(mgr_of fs1 $P.3) epoch $(epoch_of fs1 $P.3)"
m1=$free_mgr
out=$(mmchmgr fs1 $P.5 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"$P.5 is not a manager node"* ]] && pass "mmchmgr to a client node refused: $out" ||
	fail "mmchmgr fs1 client: rc $rc '$out'"
out=$(mmchmgr fs1 nosuchnode 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"nosuchnode does not belong to the cluster"* ]] && pass "mmchmgr to an unknown node refused" ||
	fail "mmchmgr unknown node: rc $rc '$out'"
out=$(mmchmgr nofs $P.1 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"nofs is not known"* ]] && pass "mmchmgr of an unknown file system refused" ||
	fail "mmchmgr unknown fs: rc $rc '$out'"
out=$(mmchmgr fs1 "$m1" 2>&1); rc=$?
[[ $rc == 0 && $out == "Node $m1 ($m1) is already the manager for fs1." ]] && pass "mmchmgr to the current manager: $out" ||
	fail "mmchmgr to current: rc $rc '$out'"
[[ $(mgr_of fs1 $P.1) == "$m1" ]] && pass "the refused moves changed nothing" || fail "fs1 moved to $(mgr_of fs1 $P.1)"
out=$(mmchmgr fs1 2>&1); rc=$?
nm=$(mgr_of fs1 $P.5)
[[ $rc == 0 && $nm != "$m1" && $out == *"Node $nm ($nm) appointed as manager for fs1."* ]] && is_mgr_node "$nm" &&
	pass "mmchmgr fs1 without a node: moved to manager node $nm" || fail "mmchmgr fs1 (auto): rc $rc '$out'"
m1=$nm
# a manager node made a client gives up its file systems
[[ $m1 != "$P.4" ]] && { MMFS_NODE=$P.5 mmchmgr fs1 $P.4 >/dev/null 2>&1 || fail "mmchmgr fs1 $P.4"; }
mmchnode --client -N $P.4 >/dev/null 2>&1 || fail "mmchnode --client -N $P.4"
wait_for 10 '[[ -n $(mgr_of fs1 $P.5) && $(mgr_of fs1 $P.5) != "$P.4" ]]' && is_mgr_node "$(mgr_of fs1 $P.5)" &&
	pass "$P.4 made a client node: fs1 re-appointed to $(mgr_of fs1 $P.5)" ||
	fail "fs1 still on '$(mgr_of fs1 $P.5)' after mmchnode --client"
out=$(mmchmgr fs1 $P.4 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"not a manager node"* ]] && pass "mmchmgr to the node made a client is refused" ||
	fail "mmchmgr to new client: rc $rc '$out'"
mmchnode --manager -N $P.4 >/dev/null 2>&1 || fail "mmchnode --manager -N $P.4"
m1=$(mgr_of fs1 $P.5); m2=$(mgr_of fs2 $P.5)

# --- mmchmgr -c Node
cm=$(cm_name $P.1)
newcm=""
for n in $P.1 $P.2 $P.3; do [[ $n != "$cm" ]] && { newcm=$n; break; }; done
out=$(mmchmgr -c $P.4 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"$P.4 is not a quorum node"* ]] && pass "mmchmgr -c to a non-quorum node refused" ||
	fail "mmchmgr -c non-quorum: rc $rc '$out'"
t0=$(date +%s%N)
out=$(MMFS_NODE=$P.5 mmchmgr -c "$newcm" 2>&1); rc=$?
echo "$out"
[[ $rc == 0 && $out == *"Node $newcm ($newcm) has taken over as cluster manager"* ]] &&
	pass "mmchmgr -c $newcm: taken over in $((($(date +%s%N) - t0) / 1000000)) ms" || fail "mmchmgr -c: rc $rc"
ok=1
for n in "${MM_NODES[@]}"; do [[ $(cm_name "$n") == "$newcm" ]] || ok=0; done
[[ $ok == 1 ]] && pass "every node sees $newcm as cluster manager" || fail "cm views after mmchmgr -c"
grep -q "resigning as cluster manager: handing over" "$MMFS_ROOT/$cm/mmfs.log" &&
	grep -q "taking over as cluster manager (mmchmgr -c)" "$MMFS_ROOT/$newcm/mmfs.log" &&
	pass "the old cluster manager resigned, the wanted one took over (logs)" || fail "handover logs"
cm=$newcm
[[ $(mgr_of fs1 $P.2) == "$m1" && $(mgr_of fs2 $P.2) == "$m2" ]] && pass "appointments stay across the handover" ||
	fail "appointments after handover: fs1 $(mgr_of fs1 $P.2) fs2 $(mgr_of fs2 $P.2)"
# a wanted node that cannot take the role (frozen): the others elect one within seconds
frozen=""
for n in $P.1 $P.2 $P.3; do [[ $n != "$cm" ]] && { frozen=$n; break; }; done
kill -STOP "$(mm_pid "$frozen")"
t0=$(date +%s)
out=$(MMFS_NODE=$P.5 mmchmgr -c "$frozen" 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"did not take over as cluster manager"* ]] &&
	pass "mmchmgr -c to a frozen node fails: $out" || fail "mmchmgr -c to a frozen node: rc $rc '$out'"
wait_for 10 '[[ -n $(cm_name $P.5) && $(cm_name $P.5) != "$frozen" ]]' &&
	pass "the handover lapsed: $(cm_name $P.5) is cluster manager $(($(date +%s) - t0)) s after the request (lease 4 s, handover 6 s)" ||
	fail "no cluster manager after a handover to a frozen node"
kill -CONT "$(mm_pid "$frozen")"
mm_wait_state "$frozen" active 30 || fail "$frozen active again"
cm=$(cm_name $P.5); m1=$(mgr_of fs1 $P.5); m2=$(mgr_of fs2 $P.5)

# --- the manager shuts down: re-appointed within seconds
victim=$m1
[[ $victim == "$cm" ]] && victim=$m2
dev=fs1; [[ $victim == "$m2" ]] && dev=fs2
e0=$(epoch_of $dev $P.5)
[[ $(mgr_of $dev $P.5) == "$victim" ]] || fail "test: $victim does not manage $dev"
t0=$(date +%s)
mmshutdown -N "$victim" >/dev/null 2>&1
wait_for 8 '[[ -n $(mgr_of $dev $P.5) && $(mgr_of $dev $P.5) != "$victim" ]]' &&
	pass "$victim shut down: $dev re-appointed to $(mgr_of $dev $P.5) within $(($(date +%s) - t0)) s" ||
	fail "$dev still on '$(mgr_of $dev $P.5)' after $victim shut down"
nm=$(mgr_of $dev $P.5)
is_mgr_node "$nm" && [[ $nm != "$victim" && $(epoch_of $dev $P.5) -gt $e0 ]] &&
	pass "new manager $nm is an active manager node, epoch $e0 -> $(epoch_of $dev $P.5)" || fail "new manager '$nm'"
out=$(mmchmgr $dev "$victim" 2>&1); rc=$?
[[ $rc -ne 0 && $out == *"$victim is not active"* ]] && pass "mmchmgr to an inactive node refused: $out" ||
	fail "mmchmgr to inactive: rc $rc '$out'"
mmstartup -N "$victim" >/dev/null
mm_wait_state "$victim" active 30 || fail "$victim back"

# --- the manager is killed (kill -9): re-appointed after failureDetectionTime
m1=$(mgr_of fs1 $P.5); m2=$(mgr_of fs2 $P.5); cm=$(cm_name $P.5)
victim=""
for n in "$m1" "$m2"; do [[ $n != "$cm" ]] && { victim=$n; break; }; done
dev=fs1; [[ $victim == "$m2" ]] && dev=fs2
e0=$(epoch_of $dev $P.5)
t0=$(date +%s)
kill -9 "$(mm_pid "$victim")"
wait_for 15 '[[ -n $(mgr_of $dev $P.5) && $(mgr_of $dev $P.5) != "$victim" ]]' &&
	pass "$victim killed: $dev re-appointed to $(mgr_of $dev $P.5) within $(($(date +%s) - t0)) s (failureDetectionTime 4 s)" ||
	fail "$dev still on '$(mgr_of $dev $P.5)' after kill -9 of $victim"
[[ $(mgr_of $dev $P.2) == "$(mgr_of $dev $P.5)" && $(epoch_of $dev $P.2) -gt $e0 ]] &&
	pass "another node's view agrees: $dev on $(mgr_of $dev $P.2), epoch $(epoch_of $dev $P.2)" ||
	fail "views: $P.2 sees $(mgr_of $dev $P.2)"
mmstartup -N "$victim" >/dev/null
mm_wait_state "$victim" active 30 || fail "$victim back"

# --- the cluster manager is killed: a new one re-checks; nothing inconsistent
cm=$(cm_name $P.5)
kill -9 "$(mm_pid "$cm")"
wait_for 20 '[[ -n $(cm_name $P.5) && $(cm_name $P.5) != "$cm" ]]' &&
	pass "cluster manager $cm killed: $(cm_name $P.5) took over" || fail "no new cluster manager"
wait_for 10 '[[ $(mgr_of fs1 $P.5) != "$cm" && $(mgr_of fs2 $P.5) != "$cm" && -n $(mgr_of fs1 $P.5) && -n $(mgr_of fs2 $P.5) ]]' &&
	pass "no space is left on the dead cluster manager: fs1 $(mgr_of fs1 $P.5), fs2 $(mgr_of fs2 $P.5)" ||
	fail "after the cluster manager's death: fs1 $(mgr_of fs1 $P.5) fs2 $(mgr_of fs2 $P.5)"
# each node learns the new appointments from its own watch: they agree
# within a few seconds, not at the same instant
views_agree() {
	local n
	for n in $P.1 $P.2 $P.3 $P.4 $P.5; do
		[[ $n == "$cm" ]] && continue
		[[ $(mgr_of fs1 "$n") == "$(mgr_of fs1 $P.5)" && $(mgr_of fs2 "$n") == "$(mgr_of fs2 $P.5)" ]] || return 1
	done
}
wait_for 10 views_agree && pass "every live node's view agrees after the cluster manager's death" ||
	fail "views differ: $(for n in $P.1 $P.2 $P.3 $P.4 $P.5; do [[ $n == "$cm" ]] || echo -n "$n: fs1 $(mgr_of fs1 $n) fs2 $(mgr_of fs2 $n); "; done)"
mmstartup -N "$cm" >/dev/null
mm_wait_state "$cm" active 30 || fail "$cm back"

# --- delete a space: its appointment goes too
tok $P.1 '{"cmd":"tokspace","op":"delete","device":"fs2"}' || fail "tokspace delete"
wait_for 10 '[[ -z $(ccr get /mmfs/fsmgr/00000000000000b2 --print-value-only) ]]' &&
	[[ $(mmlsmgr 2>&1) != *fs2* ]] && pass "deleting fs2 deletes its appointment; mmlsmgr lists fs1 only" ||
	fail "fs2 appointment after delete: '$(ccr get /mmfs/fsmgr/00000000000000b2 --print-value-only)'"

# --- only the cluster manager wrote appointments, each a CAS on the last
sleep 1
kill "$WATCH_PID" 2>/dev/null
bad=$(awk '/^\/mmfs\/fsmgr\// {k=$1; getline v; if (v ~ /^node=/) { split(v, a, "[ =]"); e=a[4];
	if (k in last && e != last[k] + 1) print k " epoch " last[k] " then " e; last[k] = e; n++ } }
	END { if (n < 6) print "only " n " appointments seen" }' "$MMFS_ROOT/fsmgr.watch")
[[ -z $bad ]] && pass "every appointment written grows its space's epoch by one ($(grep -c '^node=' "$MMFS_ROOT/fsmgr.watch") writes)" ||
	fail "appointment writes: $bad"
writers=""
for n in "${MM_NODES[@]}"; do
	grep -q "appointed node" <<<"$(mm_log_all "$n")" && writers+="$n "
done
ok=1
for n in $writers; do grep -q "is now the cluster manager" <<<"$(mm_log_all "$n")" || ok=0; done
[[ -n $writers && $ok == 1 ]] && pass "appointments were logged only by nodes that were cluster manager: $writers" ||
	fail "appointment writers '$writers'"
grep -q "appointed node" <<<"$(mm_log_all $P.5)" && fail "the client node wrote an appointment" ||
	pass "the client node never appointed"
mm_done
