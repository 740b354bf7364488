/*
 * cluster/clm.h - cluster membership: quorum, lease, cluster manager, CCR.
 *
 * One clm per daemon. It keeps this node's etcd session: a lease whose TTL
 * is failureDetectionTime, a membership key bound to it, and (on quorum
 * nodes) a campaign for the cluster manager key, also bound to it. It
 * watches the CCR and turns what it sees into node events.
 *
 * States (see cluster/README.md for the diagram):
 *   CLM_ARBITRATING  no quorum or no valid lease: seeking one
 *   CLM_ACTIVE       quorum reachable and lease valid
 *   CLM_STOPPING     leaving the cluster (mmshutdown)
 * The lease check never trusts the clm thread alone: clm_lease_valid()
 * compares the clock with the lease deadline, which is the send time of
 * the last successful renewal plus the TTL etcd granted, so a node frozen
 * past its lease knows it lapsed the moment it runs again (self-fencing),
 * before any thread could act on stale membership.
 *
 * CCR keys (prefix /mmfs/):
 *   cluster              the cluster definition (config/config.h format)
 *   configver            bumped by every config transaction (CAS anchor)
 *   config/common/<attr> cluster-wide attribute values
 *   config/node/<node>/<attr>  per-node values (mmchconfig -N)
 *   members/<number>     lease-bound: this node is active ("leaving" on
 *                        clean shutdown)
 *   cm                   lease-bound: the cluster manager's node number
 *   cmhandover           "to=<n> from=<m> state=asked|resigned", bound to a
 *                        short lease of its own (CLM_HANDOVER_S): mmchmgr -c
 *                        asks the cluster manager <m> to hand over to <n>;
 *                        <m> resigns (state=resigned, /mmfs/cm deleted in
 *                        the same transaction); while it stands and <n> is
 *                        active only <n> campaigns; <n> deletes it with its
 *                        win, and its lease ends it otherwise
 *   tokspace/<fsid>      a token space (one per file system): "device=<dev>
 *                        spread=0|1"; <fsid> is 16 lowercase hex digits.
 *                        Written by whoever creates the file system (for
 *                        now the admin test command "tokspace"); spread=1
 *                        asks for the token service over every manager node
 *                        (clm_fsmgr_spread: mmfsd's tokens subsystem on the
 *                        manager, once more than one node has asked its
 *                        server for tokens of the space)
 *   fsmgr/<fsid>         the appointment: "node=<n> epoch=<e> servers=<a,b>"
 *                        (node 0: no manager node is active). Written only
 *                        by the cluster manager, by compare-and-swap on its
 *                        own revision, in a transaction that also checks
 *                        /mmfs/cm's value and lease are the writer's; epoch
 *                        grows by one with every write; servers are the
 *                        manager first, then (spread) every other active
 *                        manager node by number
 *   fsmgrwant/<fsid>     "node=<n>", on a short lease: mmchmgr asks the
 *                        cluster manager to appoint <n>; deleted with the
 *                        appointment (or as refused)
 *   expelreq/<node>      "from=<r> at=<unix s> named=0|1 why=<text>", bound
 *                        to the requester <r>'s own lease (a request dies
 *                        with its requester): <r> asks the cluster manager
 *                        to expel <node> (clm_request_expel: a peer it
 *                        cannot reach, named=0; clm_expel_node: mmexpelnode,
 *                        named=1). One per target (put-if-absent). Deleted
 *                        by the cluster manager once served or dropped
 *
 * Return convention: 0 or MM_E*. Threads: event callbacks run on the clm
 * thread or the watch thread, never with clm's lock held; they must not
 * block for long or call clm_stop().
 */
#ifndef MM_CLUSTER_CLM_H
#define MM_CLUSTER_CLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/etcd.h"
#include "config/config.h"

typedef struct clm clm;

enum clm_state {
	CLM_ARBITRATING = 0,
	CLM_ACTIVE = 1,
	CLM_STOPPING = 2,
};

enum clm_event_type {
	CLM_EV_NODE_JOINED,	/* node <node> became active */
	CLM_EV_NODE_LEFT,	/* node <node> shut down cleanly */
	CLM_EV_NODE_EXPELLED,	/* node <node>'s lease lapsed (may be us) */
	/* node <node>'s daemon started again (another pid) before its old
	 * lease lapsed: what the old incarnation held is gone, as after an
	 * expel; the node is a member still (never us) */
	CLM_EV_NODE_RESTARTED,
	CLM_EV_QUORUM_LOST,	/* this node lost quorum or its lease */
	CLM_EV_QUORUM_REGAINED,	/* this node is active again */
	CLM_EV_CM_CHANGED,	/* cluster manager is now <node> (0: none) */
	CLM_EV_CONFIG_CHANGED,	/* attribute <attr> has a new effective value */
	CLM_EV_CLUSTER_CHANGED,	/* the cluster definition changed */
	CLM_EV_FSMGR_CHANGED,	/* space <fsid>'s appointment is now <node>
				 * (0: none, or the space was deleted), <epoch> */
};

struct clm_event {
	enum clm_event_type type;
	uint32_t node;
	const char *attr;	/* CONFIG_CHANGED */
	const char *value;	/* CONFIG_CHANGED */
	uint64_t fsid;		/* FSMGR_CHANGED */
	uint64_t epoch;		/* FSMGR_CHANGED */
};

typedef void (*clm_event_fn)(const struct clm_event *ev, void *arg);

struct clm_config {
	const struct cfg_cluster *cluster;	/* local copy; clm keeps its own */
	uint32_t my_node;		/* this node's number */
	cfg_set *cfg;			/* effective attributes; clm updates dynamic ones */
	struct etcd_tls tls;		/* client TLS for etcd */
	const char *sdrfs_path;		/* local cluster definition, rewritten on change */
	/* Can this node reach <node> now (MM_OK), within about a second?
	 * The cluster manager asks before it serves an expel request (may be
	 * NULL: the reported node is taken as reachable). */
	int (*probe)(void *arg, uint32_t node);
	void *probe_arg;
};

int clm_create(const struct clm_config *cfg, clm **out);
/* Start the clm thread: join the cluster as soon as quorum allows. */
int clm_start(clm *c);
/* Leave cleanly: mark the member key "leaving", revoke the lease (which
 * also resigns cluster manager), stop threads. */
void clm_stop(clm *c);
void clm_destroy(clm *c);

/* Subscribe before clm_start(). Up to 16 subscribers. */
int clm_subscribe(clm *c, clm_event_fn fn, void *arg);

enum clm_state clm_get_state(clm *c);
const char *clm_state_name(enum clm_state s);
/* True while this node holds an unexpired lease (checked against the clock). */
bool clm_lease_valid(clm *c);
/* Non-zero while this node is active with a valid lease: the lease id,
 * which changes each time the node loses its lease and joins again. I/O
 * started under one epoch must not continue under another (nsd/client.h). */
uint64_t clm_io_epoch(clm *c);
/* mm_now_ns() when the current lease was requested (0: none). Anything
 * received before it belongs to an earlier lease of this node. */
uint64_t clm_lease_since_ns(clm *c);
/* Node number of the cluster manager as last seen, 0 if none. */
uint32_t clm_cluster_manager(clm *c);
bool clm_is_cluster_manager(clm *c);

struct clm_status {
	enum clm_state state;
	uint32_t cm;			/* 0: unknown */
	size_t quorum_nodes;		/* quorum nodes defined */
	size_t quorum_needed;		/* floor(Q/2) + 1 */
	size_t nodes_up;		/* members with a live lease, as seen here */
	size_t total_nodes;
	uint64_t lease_ms_left;		/* 0 if none */
	int64_t lease_id;
	unsigned joins;			/* times this daemon joined the cluster */
	unsigned expels;		/* times this daemon found itself expelled */
	char reason[128];		/* why arbitrating, if so */
};
void clm_get_status(clm *c, struct clm_status *st);
/* Node numbers currently active (members with a live lease); *out malloc'd. */
int clm_members(clm *c, uint32_t **out, size_t *n);
/* True if <node> is an active member as seen here (no allocation: meant
 * for per-request checks such as NSD server fencing). */
bool clm_is_member(clm *c, uint32_t node);

/* The etcd client (valid between create and destroy). */
etcd_client *clm_etcd(clm *c);

/* Copy of the current cluster definition (CCR view, else local). */
int clm_cluster_copy(clm *c, struct cfg_cluster *out);

/*
 * Change attributes in the CCR as one compare-and-swap transaction:
 * read every config key and configver, validate the result as a whole,
 * write if configver is unchanged, retry otherwise. <node> NULL sets the
 * cluster-wide value, else a per-node value for each listed node name.
 * <err> gets a user-facing message.
 */
int clm_config_change(clm *c, const char *const *names, const char *const *values,
		      size_t n, const char *const *nodes, size_t nnodes,
		      char *err, size_t errsz);

/* One configuration value of the CCR: <node> "" for the cluster-wide
 * value, else a value for that node only. */
struct clm_config_value {
	char node[256];
	char name[64];
	char value[256];
};
/*
 * The configuration in the CCR, for mmlsconfig (the command formats it):
 * every cluster-wide value in attribute table order, then every per-node
 * value grouped by node in node-number order, by attribute name within a
 * node. *vals is malloc'd (free()); <def> (initialised, emptied by the
 * caller with cfg_cluster_free) gets the definition the node names come
 * from. 0 or a negative MM_E* (the CCR could not be read).
 */
int clm_config_list(clm *c, struct cfg_cluster *def, struct clm_config_value **vals,
		    size_t *nvals);

/* Replace the cluster definition in the CCR iff its mod revision is
 * still <expect_rev> (from clm_cluster_read). */
int clm_cluster_read(clm *c, struct cfg_cluster *out, int64_t *mod_rev);
int clm_cluster_write(clm *c, const struct cfg_cluster *def, int64_t expect_rev);

/* ---- CCR objects (NSDs, later file systems) ----
 *
 * Keys below /mmfs/ whose value the caller owns (the clm does not parse
 * them). clm_ccr_create writes all <n> keys in one transaction iff none of
 * them exists; otherwise MM_EEXIST with <err> naming the first that does.
 * clm_ccr_delete deletes <key> iff its mod revision is still <mod_rev>
 * (from clm_ccr_list): MM_ECONFLICT if it changed meanwhile.
 */
int clm_ccr_create(clm *c, const char *const *keys, const char *const *values, size_t n,
		   char *err, size_t errsz);
int clm_ccr_list(clm *c, const char *prefix, struct etcd_kv **kvs, size_t *n);
int clm_ccr_delete(clm *c, const char *key, int64_t mod_rev);
/*
 * Change several keys in one transaction, each iff its mod revision is
 * still <mod_rev> from clm_ccr_list / etcd_get (0: the key must not
 * exist): <value> is put, or with <value> NULL the key is deleted (a
 * NULL value with mod_rev 0 only asserts that the key is absent).
 * MM_ECONFLICT if any compare failed (nothing changed), with <err>
 * naming the first key that differs from what was expected.
 */
struct clm_ccr_change {
	const char *key;
	const char *value;
	int64_t mod_rev;
};
int clm_ccr_update(clm *c, const struct clm_ccr_change *ch, size_t n, char *err, size_t errsz);

/* ---- token spaces and file system managers (cluster/fsmgr.c) ----
 *
 * One token space per file system id (<fsid>). The cluster manager
 * appoints a file system manager for each among the active manager nodes
 * (the one managing the fewest spaces, then the lowest number), records
 * it in the CCR (fsmgr/<fsid> above), and re-appoints when that node
 * leaves, is expelled or shuts down; a new cluster manager re-checks
 * every appointment when it takes over. Every node learns appointments
 * from its watch of the CCR (never from messages): the getters answer
 * from that view and CLM_EV_FSMGR_CHANGED reports each change.
 */
#define CLM_FSMGR_MAX_SERVERS 32
#define CLM_DEVICE_MAX 64
#define CLM_HANDOVER_S 6	/* a cluster manager handover stands this long */

struct clm_fsmgr {
	uint64_t fsid;
	char device[CLM_DEVICE_MAX];
	bool spread;		/* token service asked over every manager node */
	uint32_t node;		/* file system manager, 0: none appointed */
	uint64_t epoch;		/* of the appointment, 0: none yet */
	uint32_t servers[CLM_FSMGR_MAX_SERVERS];	/* token servers, manager first */
	size_t nservers;
};

/* Appointment of space <fsid> as this node's view has it: MM_ENOENT if
 * the space is unknown, else 0 with *node 0 while none is appointed.
 * <servers> (may be NULL) gets up to CLM_FSMGR_MAX_SERVERS. */
int clm_fsmgr(clm *c, uint64_t fsid, uint32_t *node, uint64_t *epoch, uint32_t *servers,
	      size_t *nservers);
/* Every known space, by fsid; *out malloc'd (free()). */
int clm_fsmgr_list(clm *c, struct clm_fsmgr **out, size_t *n);
/* The space named <device> ("/dev/" prefix ignored): MM_ENOENT if none. */
int clm_fsmgr_find(clm *c, const char *device, struct clm_fsmgr *out);
/* The candidate to appoint: of <cands> (<n> node numbers) the one with
 * the smallest <loads>[i] (spaces it manages), then the lowest number;
 * 0 if <n> is 0. Pure: unit-tested. */
uint32_t clm_fsmgr_pick(const uint32_t *cands, const unsigned *loads, size_t n);

/* Create / delete the token space record (one transaction; create fails
 * with MM_EEXIST if the fsid or the device exists). Until mmcrfs exists
 * only the admin test command "tokspace" calls them. */
int clm_tokspace_create(clm *c, uint64_t fsid, const char *device, char *err, size_t errsz);
int clm_tokspace_delete(clm *c, uint64_t fsid, char *err, size_t errsz);
/* Widen (<spread>) the token service of <fsid> to every active manager
 * node, or narrow it to the manager alone: sets the space record's
 * spread flag; the cluster manager then rewrites the appointment
 * (CLM_EV_FSMGR_CHANGED shows it). mmfsd's tokens subsystem widens a
 * space once more than one node has asked its manager for tokens. */
int clm_fsmgr_spread(clm *c, uint64_t fsid, bool spread, char *err, size_t errsz);
/* mmchmgr Device Node: ask the cluster manager to appoint <node> (a
 * manager node, active) and wait up to <timeout_ms> for the CCR to show
 * it. *old gets the previous manager. <err>: a user-facing message. */
int clm_fsmgr_move(clm *c, uint64_t fsid, uint32_t node, int timeout_ms, uint32_t *old,
		   char *err, size_t errsz);
/* mmchmgr -c Node: ask the cluster manager to hand its role to quorum
 * node <node> (active) and wait up to <timeout_ms> for it to take it. */
int clm_cm_move(clm *c, uint32_t node, int timeout_ms, uint32_t *old, char *err, size_t errsz);

/* ---- expel requests (cluster/expel.c) ----
 *
 * A node that cannot reach another (a broken connection lost messages)
 * asks the cluster manager to expel it; so does mmexpelnode. The cluster
 * manager serves each request (expelreq/<node> above) on its "ccr-fix"
 * thread: it drops a request whose target is no longer an active member
 * or rejoined after the request was made (a new incarnation), and
 * otherwise expels by revoking the victim's lease, which deletes its
 * member key (everyone sees CLM_EV_NODE_EXPELLED) and makes the victim
 * find its lease gone and rejoin by itself. The victim of a peer's
 * request is GPFS's default: the reported node, but the requester
 * instead when the reported node is the cluster manager, or a quorum
 * node reported by a non-quorum node. The cluster manager itself is
 * never expelled this way. A node expelled at a peer's request is not
 * expelled again at the same peer's request within CLM_EXPEL_HOLDOFF_S
 * (flapping): such a request is logged and dropped.
 */
#define CLM_EXPEL_WHY_MAX 128
#define CLM_EXPEL_HOLDOFF_S 60

/*
 * This node (active) asks the cluster manager to expel <node>, which it
 * cannot reach; <why> says what failed (one line; truncated to
 * CLM_EXPEL_WHY_MAX - 1). Returns at once: 0 once the request is in the
 * CCR, or if one for <node> is already pending; MM_ESTATE if this node is
 * not active, MM_ENOENT if <node> is not in the cluster, else the CCR's
 * error. <err>: a user-facing message.
 */
int clm_request_expel(clm *c, uint32_t node, const char *why, char *err, size_t errsz);
/*
 * mmexpelnode: ask the cluster manager to expel <node> itself (named:
 * no choice of victim, no hold-off) and wait up to <timeout_ms> for its
 * member key to go. MM_EINVAL if <node> is the cluster manager ("use
 * mmchmgr -c first"), MM_ESTATE if it is not active or the cluster
 * manager dropped the request, MM_ETIMEDOUT. <node> may be this node.
 */
int clm_expel_node(clm *c, uint32_t node, const char *why, int timeout_ms, char *err,
		   size_t errsz);

struct clm_expelreq {
	uint32_t target;		/* from the key */
	uint32_t from;			/* the requester */
	uint64_t at;			/* when it was made, Unix seconds (requester's clock) */
	bool named;			/* mmexpelnode: expel the target itself */
	char why[CLM_EXPEL_WHY_MAX];
};
/* The pending requests, by target; *out malloc'd (free()). For
 * mmexpelnode --list. */
int clm_expel_list(clm *c, struct clm_expelreq **out, size_t *n);

/* ---- membership changes (cluster/members.c) ----
 *
 * Each is recorded in the CCR, then etcd's membership is changed, then the
 * new definition is committed; whatever fails midway, etcd's members and
 * the definition's quorum nodes are brought back into agreement (removals
 * finished, additions undone), by this node or else by the cluster
 * manager (members.c explains). Done by an active node. On success *def_text (malloc'd) holds the new definition, so the
 * caller can install it on nodes that are not running, and *join (malloc'd,
 * may be NULL) the etcd initial-cluster string a newly made quorum node
 * must start with. <err> gets a user-facing message.
 */
struct clm_new_node {
	char name[256];
	char ip[64];
	char admin[256];
	bool quorum;
	bool manager;
};
int clm_node_add(clm *c, const struct clm_new_node *nodes, size_t n,
		 char **def_text, char **join, char *err, size_t errsz);
/* Nodes must not be active. */
int clm_node_delete(clm *c, const char *const *names, size_t n,
		    char **def_text, char *err, size_t errsz);
/* <quorum>/<manager>: 1 set, 0 clear, -1 leave as is. */
int clm_node_change(clm *c, const char *const *names, size_t n, int quorum,
		    int manager, char **def_text, char **join, char *err, size_t errsz);
/*
 * Test hook (process-wide): make the next membership change misbehave at
 * <point>: "intent" (just after the change is recorded), "etcd" (before
 * its <nth> etcd membership operation) or "commit" (the write of the new
 * definition). <action>: "fail" (the step fails with MM_EIO, not done),
 * "pause" (wait <secs> first), "stop" (SIGSTOP this process). Fires once;
 * <point> "" disarms. MM_EINVAL for an unknown point or action.
 */
int clm_change_fault(const char *point, unsigned nth, const char *action, unsigned secs);
/* The etcd initial-cluster string for the current members plus <extra>
 * (name=url, may be NULL); *out malloc'd. */
int clm_etcd_initial_cluster(clm *c, const char *extra, char **out);

#endif
