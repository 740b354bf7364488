/*
 * cluster/clm_status.c - what others read of a node's membership session:
 * its state, lease and epoch, the cluster manager, members, the status
 * behind mmgetstate, and the dump for MM_BUG_ON (cluster/clm.h).
 *
 * Entry points: clm_state_name, clm_lease_valid, clm_lease_since_ns,
 * clm_io_epoch, clm_get_state, clm_cluster_manager,
 * clm_is_cluster_manager, clm_get_status, clm_members, clm_is_member,
 * clm_etcd, clm_dump. Every getter takes clm's lock briefly or reads an
 * atomic; none blocks.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clm.h"
#include "cluster/clm_int.h"
#include "common/err.h"
#include "common/util.h"

const char *clm_state_name(enum clm_state s)
{
	switch (s) {
	case CLM_ACTIVE:
		return "active";
	case CLM_ARBITRATING:
		return "arbitrating";
	case CLM_STOPPING:
		return "stopping";
	}
	return "unknown";
}

bool clm_lease_valid(clm *c)
{
	uint64_t d = atomic_load_explicit(&c->lease_deadline_ns, memory_order_acquire);

	return d && mm_now_ns() < d;
}

uint64_t clm_lease_since_ns(clm *c)
{
	return atomic_load_explicit(&c->lease_since_ns, memory_order_acquire);
}

uint64_t clm_io_epoch(clm *c)
{
	int64_t id;
	enum clm_state st;

	if (!clm_lease_valid(c))
		return 0;
	pthread_mutex_lock(&c->lock);
	id = c->lease_id;
	st = c->state;
	pthread_mutex_unlock(&c->lock);
	/* checked again: the lease may have run out while we waited */
	return st == CLM_ACTIVE && id > 0 && clm_lease_valid(c) ? (uint64_t)id : 0;
}

enum clm_state clm_get_state(clm *c)
{
	enum clm_state st;

	pthread_mutex_lock(&c->lock);
	st = c->state;
	pthread_mutex_unlock(&c->lock);
	/* the thread may not have run yet after a freeze: trust the clock */
	if (st == CLM_ACTIVE && !clm_lease_valid(c))
		st = CLM_ARBITRATING;
	return st;
}

uint32_t clm_cluster_manager(clm *c)
{
	uint32_t cm;

	pthread_mutex_lock(&c->lock);
	cm = c->cm;
	pthread_mutex_unlock(&c->lock);
	return cm;
}

bool clm_is_cluster_manager(clm *c)
{
	return clm_cluster_manager(c) == c->me && clm_get_state(c) == CLM_ACTIVE;
}

void clm_get_status(clm *c, struct clm_status *st)
{
	uint64_t d = atomic_load_explicit(&c->lease_deadline_ns, memory_order_acquire), now = mm_now_ns();

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&c->lock);
	st->cm = c->cm;
	st->quorum_nodes = cfg_cluster_quorum_count(&c->cluster);
	st->quorum_needed = st->quorum_nodes / 2 + 1;
	st->nodes_up = c->nmembers;
	st->total_nodes = c->cluster.nnodes;
	st->lease_id = c->lease_id;
	st->joins = c->joins;
	st->expels = c->expels;
	snprintf(st->reason, sizeof(st->reason), "%s", c->reason);
	pthread_mutex_unlock(&c->lock);
	st->state = clm_get_state(c);
	st->lease_ms_left = d > now ? (d - now) / 1000000 : 0;
	if (st->state != CLM_ACTIVE) {
		st->nodes_up = 0;
		if (!st->reason[0])
			snprintf(st->reason, sizeof(st->reason), "lease lapsed");
	}
}

int clm_members(clm *c, uint32_t **out, size_t *n)
{
	pthread_mutex_lock(&c->lock);
	*n = c->nmembers;
	*out = malloc((c->nmembers + 1) * sizeof(**out));
	if (*out && c->nmembers)
		memcpy(*out, c->members, c->nmembers * sizeof(**out));
	pthread_mutex_unlock(&c->lock);
	return *out ? MM_OK : MM_ENOMEM;
}

bool clm_is_member(clm *c, uint32_t node)
{
	bool in;

	pthread_mutex_lock(&c->lock);
	in = clm_set_has(c->members, c->nmembers, node);
	pthread_mutex_unlock(&c->lock);
	return in;
}

etcd_client *clm_etcd(clm *c)
{
	return c->etcd;
}

/* MM_BUG_ON's dump (common/bug.h): read without the lock. */
void clm_dump(const void *obj, char *buf, size_t sz)
{
	const struct clm *c = obj;

	snprintf(buf, sz, "clm %p: node %u, state %d (%s), cluster manager %u, %zu members, "
		 "%zu leaving, lease %" PRIx64 ", joins %u, expels %u, stop %d, reason \"%s\"",
		 obj, c->me, (int)c->state, clm_state_name(c->state), c->cm, c->nmembers,
		 c->nleaving, (uint64_t)c->lease_id, c->joins, c->expels, c->stop, c->reason);
}

