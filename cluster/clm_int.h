/*
 * cluster/clm_int.h - internals of the clm shared by its files: clm.c (the
 * membership session), clm_config.c (configuration), clm_ccr.c (CCR
 * records) and members.c (membership changes). Not for other callers: use
 * cluster/clm.h, where struct clm stays opaque.
 *
 * Map: CCR keys; struct clm (which lock guards which field); what clm.c
 * lends the others; what clm_config.c lends clm.c; what members.c lends
 * clm.c. Lock order: cluster/README.md ("clm.lock is a leaf").
 */
#ifndef MM_CLUSTER_CLM_INT_H
#define MM_CLUSTER_CLM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cluster/clm.h"
#include "cluster/etcd.h"
#include "config/config.h"

/* ---- CCR keys used by more than one file ---- */

#define CLM_KEY_CLUSTER "/mmfs/cluster"
#define CLM_KEY_CONFIGVER "/mmfs/configver"
#define CLM_KEY_CONFIG "/mmfs/config/"
/* The CCR key that records a membership change in progress (members.c). */
#define CLM_KEY_CHANGE "/mmfs/memberchange"
/* Members: one key per active node, bound to its lease. */
#define CLM_KEY_MEMBERS "/mmfs/members/"
/* The cluster manager's key, and a handover in progress (mmchmgr -c). */
#define CLM_KEY_CM "/mmfs/cm"
#define CLM_KEY_HANDOVER "/mmfs/cmhandover"
/* Token spaces, appointments and move requests (cluster/fsmgr.c). */
#define CLM_KEY_TOKSPACE "/mmfs/tokspace/"
#define CLM_KEY_FSMGR "/mmfs/fsmgr/"
#define CLM_KEY_FSMGRWANT "/mmfs/fsmgrwant/"
/* Expel requests (cluster/expel.c). */
#define CLM_KEY_EXPELREQ "/mmfs/expelreq/"

/* ---- expel requests (expel.c): the pure decision, for the unit tests ---- */

/* One expel this node made as cluster manager at a request. */
struct clm_expel_hist {
	uint32_t victim, requester;
	uint64_t at_ms;			/* mm_now_ms() */
};
#define CLM_EXPEL_HIST 32

/* What the cluster manager knows of one request when it serves it. */
struct clm_expel_in {
	uint32_t target, requester, cm;
	bool named;			/* mmexpelnode: the target itself */
	bool target_active, requester_active;	/* member key present, not "leaving" */
	bool target_quorum, requester_quorum;
	/* the cluster manager could not reach the target itself (its probe,
	 * clm_config.probe): the target is expelled whatever the quorum
	 * preference says, since the requester is the one that still works */
	bool target_unreachable;
	int64_t req_rev;		/* the request's create revision */
	int64_t target_rev;		/* create revision of the target's member key */
	uint64_t now_ms;
	const struct clm_expel_hist *hist;	/* recent expels (older ones are ignored) */
	size_t nhist;
};
enum clm_expel_verdict {
	CLM_EXPEL_TARGET,		/* expel the target */
	CLM_EXPEL_REQUESTER,		/* expel the requester instead */
	CLM_EXPEL_DROP_TARGET_GONE,	/* the target is not an active member */
	CLM_EXPEL_DROP_REQUESTER_GONE,	/* the requester is not (leaving) */
	CLM_EXPEL_DROP_REJOINED,	/* the target rejoined after the request */
	CLM_EXPEL_DROP_CM,		/* the victim would be the cluster manager */
	CLM_EXPEL_DROP_RECENT,		/* expelled at this requester's request lately */
};
/* Who to expel for request <in>: *victim gets the node (0 when dropped). */
enum clm_expel_verdict clm_expel_decide(const struct clm_expel_in *in, uint32_t *victim);
const char *clm_expel_verdict_text(enum clm_expel_verdict v);
/* The value of an expel request, and its target from the key (0: not one). */
int clm_expelreq_format(char *buf, size_t sz, uint32_t from, uint64_t at, bool named,
			const char *why);
int clm_expelreq_parse(const char *val, struct clm_expelreq *out);
uint32_t clm_expelreq_target(const char *key);

/* ---- struct clm ---- */

#define CLM_MAX_SUBS 16

struct clm {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* clm thread sleeps on it */
	pthread_cond_t fix_wake;	/* ccr-fix thread sleeps on it */

	/* set at create, read-only afterwards */
	uint32_t me;
	cfg_set *cfg;
	etcd_client *etcd;
	char *sdrfs_path;
	int (*probe)(void *arg, uint32_t node);	/* clm_config.probe */
	void *probe_arg;
	char *tls_ca, *tls_cert, *tls_key;
	struct { clm_event_fn fn; void *arg; } subs[CLM_MAX_SUBS];
	int nsubs;

	/* protected by lock */
	struct cfg_cluster cluster;
	enum clm_state state;
	uint32_t cm;
	uint32_t *members;		/* active node numbers, sorted */
	size_t nmembers;
	/* the incarnation (daemon pid) each member's record last named: a
	 * record rewritten with another one is a restart the lease did not
	 * see lapse (CLM_EV_NODE_RESTARTED) */
	struct clm_inc {
		uint32_t node;
		long pid;
	} *incs;
	size_t nincs;
	uint32_t *leaving;		/* members that announced a clean exit */
	size_t nleaving;
	char reason[128];
	bool stop;
	bool quorum_check;		/* a quorum node left cleanly: is quorum still there? */
	int64_t change_rev;		/* CLM_KEY_CHANGE's mod revision, 0: none */
	uint64_t change_seen_ms;	/* when this node first saw that revision */
	unsigned changes_running;	/* members.c's change_run calls in progress here */
	unsigned joins, expels;
	char *local_attrs;		/* names set by the local file, "|a|b|" */
	/* a cluster manager handover (CLM_KEY_HANDOVER), 0/false: none */
	uint32_t handover_to, handover_from;
	bool handover_resigned;
	int64_t handover_rev;
	/* token spaces and their appointments as the watch shows them
	 * (fsmgr.c), by fsid; <defined>: the space record exists */
	struct clm_space {
		struct clm_fsmgr f;
		bool defined;
		bool appointed;		/* an fsmgr record exists */
	} *spaces;
	size_t nspaces;
	bool fsmgr_dirty;		/* the cluster manager should re-check */
	bool expel_dirty;		/* the cluster manager should serve expel requests */
	/* expels this node made as cluster manager at a request (expel.c):
	 * the hold-off against flapping, and who asked (member_delete's log) */
	struct clm_expel_hist hist[CLM_EXPEL_HIST];
	size_t nhist;

	/* clm thread only (lease_id also read under lock for status) */
	int64_t lease_id;
	bool bootstrapped;
	etcd_watch *watch;
	bool watch_resync;		/* set by the watch on a broken stream */
	pthread_t thread;
	bool thread_running;
	pthread_t fix_thread;		/* "ccr-fix": settles membership changes left over */
	bool fix_running;

	/* atomic (release stores, acquire loads) */
	_Atomic uint64_t lease_deadline_ns;	/* 0: no lease */
	_Atomic uint64_t lease_since_ns;	/* when the current lease was requested */
};

/* ---- clm.c, for the other files ---- */

/* Call every subscriber with one event; without clm's lock held. */
void clm_emit(clm *c, enum clm_event_type type, uint32_t node,
	      const char *attr, const char *value);
/* Name of node <num> in the current definition ("?" if unknown); with
 * clm's lock held (the name lives in c->cluster). */
const char *clm_node_name_locked(clm *c, uint32_t num);

/* Is <x> in the sorted set <v> of <n> node numbers? */
bool clm_set_has(const uint32_t *v, size_t n, uint32_t x);

/* This node's number. */
uint32_t clm_my_node(clm *c);

/* Reach etcd through the quorum nodes of <def> only (this node's first):
 * while members are being removed, requests must not go to them. */
int clm_use_endpoints(clm *c, const struct cfg_cluster *def);

/* True if <num> is an active member that has not announced a clean
 * exit; with clm's lock held. */
bool clm_node_up_locked(clm *c, uint32_t num);
/* True if <num> is a quorum node of the current definition; lock held. */
bool clm_node_quorum_locked(clm *c, uint32_t num);
/* Call every subscriber with <ev>; without clm's lock held. */
void clm_emit_event(clm *c, const struct clm_event *ev);

/* ---- fsmgr.c, for clm.c ---- */

/* A watch event on a key under CLM_KEY_TOKSPACE or CLM_KEY_FSMGR:
 * update the view (and emit CLM_EV_FSMGR_CHANGED). False if <key> is
 * not one of them. Without clm's lock. */
bool clm_fsmgr_watch(clm *c, const struct etcd_event *ev);
/* The value of CLM_KEY_HANDOVER: "to=<n> from=<m> state=asked|resigned". */
int clm_handover_parse(const char *val, uint32_t *to, uint32_t *from, bool *resigned);
/* Rebuild the view from a full read (after the watch broke). */
int clm_fsmgr_resync(clm *c);
/* With clm's lock held: have the cluster manager re-check appointments. */
void clm_fsmgr_kick_locked(clm *c);
/* On the cluster manager (ccr-fix thread, without clm's lock): serve a
 * pending handover request, then make every appointment right. */
void clm_fsmgr_manage(clm *c);
/* Record parsing, for the view and the unit tests: the value of a
 * tokspace record (device, spread) and of an fsmgr record (node, epoch,
 * servers) into <f>; MM_EPROTO if malformed. */
int clm_tokspace_parse(const char *val, struct clm_fsmgr *f);
int clm_fsmgr_rec_parse(const char *val, struct clm_fsmgr *f);
int clm_fsmgr_rec_format(const struct clm_fsmgr *f, char *buf, size_t sz);
/* <fsid> from the key <key> under <prefix>; 0 if it is not one. */
uint64_t clm_fsid_of_key(const char *key, const char *prefix);

/* ---- expel.c, for clm.c ---- */

/* On the cluster manager (ccr-fix thread, without clm's lock): serve
 * every pending expel request. */
void clm_expel_manage(clm *c);
/* With clm's lock held: the requester of an expel of <victim> this node
 * made as cluster manager in the last few seconds, 0 if none. */
uint32_t clm_expel_requester_locked(clm *c, uint32_t victim);

/* ---- clm_config.c, for clm.c ---- */

/* At create: note which attributes the local settings file pinned (set
 * there, not in the definition): the CCR never overrides them. */
void clm_config_local_init(clm *c);
/* Key of attribute <name> for node <node> (NULL: common) into <buf>. */
void clm_config_key(char *buf, size_t sz, const char *node, const char *name);
/* Read every config key and apply what is effective for this node
 * (<at_start>: static attributes too); then save those values in the
 * local definition. Takes clm's lock; not to be called with it held. */
int clm_config_reload(clm *c, bool at_start);

/* ---- members.c, for clm.c ---- */

/*
 * members.c, called by clm.c's "ccr-fix" thread on the cluster manager
 * while a change record exists: take over the change recorded at CCR
 * revision <rev>, seen here for <age_ms>, if its owner is gone or it is
 * older than any command waits, and finish or undo it.
 */
void clm_change_resolve(clm *c, int64_t rev, uint64_t age_ms);

#endif
