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
	char *tls_ca, *tls_cert, *tls_key;
	struct { clm_event_fn fn; void *arg; } subs[CLM_MAX_SUBS];
	int nsubs;

	/* protected by lock */
	struct cfg_cluster cluster;
	enum clm_state state;
	uint32_t cm;
	uint32_t *members;		/* active node numbers, sorted */
	size_t nmembers;
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

/* This node's number. */
uint32_t clm_my_node(clm *c);

/* Reach etcd through the quorum nodes of <def> only (this node's first):
 * while members are being removed, requests must not go to them. */
int clm_use_endpoints(clm *c, const struct cfg_cluster *def);

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
