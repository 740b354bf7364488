/*
 * cluster/clm_int.h - what clm.c lends members.c. Not for other
 * callers: use cluster/clm.h.
 */
#ifndef MM_CLUSTER_CLM_INT_H
#define MM_CLUSTER_CLM_INT_H

#include <stdint.h>

#include "cluster/clm.h"

/* The CCR key that records a membership change in progress (members.c). */
#define CLM_KEY_CHANGE "/mmfs/memberchange"

/* This node's number. */
uint32_t clm_my_node(clm *c);

/* Reach etcd through the quorum nodes of <def> only (this node's first):
 * while members are being removed, requests must not go to them. */
int clm_use_endpoints(clm *c, const struct cfg_cluster *def);

/*
 * members.c, called by clm.c's "ccr-fix" thread on the cluster manager
 * while a change record exists: take over the change recorded at CCR
 * revision <rev>, seen here for <age_ms>, if its owner is gone or it is
 * older than any command waits, and finish or undo it.
 */
void clm_change_resolve(clm *c, int64_t rev, uint64_t age_ms);

#endif
