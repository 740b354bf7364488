/*
 * cluster/clm.c - one node's membership session on etcd: state, lease,
 * quorum, cluster manager election, CCR bootstrap, and what the watch of
 * the CCR shows (members, cluster manager, definition, config changes).
 *
 * Entry points: clm_create/start/stop/destroy, clm_subscribe,
 * clm_cluster_copy (the status getters are in clm_status.c); for the other files of the clm (cluster/clm_int.h):
 * clm_emit, clm_node_name_locked, clm_my_node, clm_use_endpoints.
 *
 * Map of this file:
 *   1. state and helpers
 *   2. CCR bootstrap and the cluster definition
 *   3. the watch: members, cluster manager, config, cluster definition
 *   4. the clm thread (lease, membership key, campaign, quorum probe) and
 *      the ccr-fix thread
 *   5. life cycle
 *
 * Related: cluster/clm_status.c (getters, status, dump),
 * cluster/clm_config.c (configuration: reload, transactions,
 * listing), cluster/clm_ccr.c (CCR records for callers), cluster/members.c
 * (membership changes), cluster/fsmgr.c (token spaces, file system
 * managers, mmchmgr), cluster/clm_int.h (struct clm).
 * See cluster/README.md for the state diagram and the invariants.
 */
#include "cluster/clm.h"
#include "cluster/clm_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "cluster"
#define KEY_MEMBERS CLM_KEY_MEMBERS
#define KEY_CM CLM_KEY_CM
#define KEY_PREFIX "/mmfs/"

/* ---- 1. state and helpers ---------------------------------------- */

static char *endpoint_list(const struct cfg_cluster *def, uint32_t me, const struct etcd_tls *tls,
			   char ***eps, size_t *neps);

void clm_emit_event(clm *c, const struct clm_event *ev)
{
	for (int i = 0; i < c->nsubs; i++)
		c->subs[i].fn(ev, c->subs[i].arg);
}

void clm_emit(clm *c, enum clm_event_type type, uint32_t node,
	      const char *attr, const char *value)
{
	struct clm_event ev = {type, node, attr, value, 0, 0};

	clm_emit_event(c, &ev);
}

const char *clm_node_name_locked(clm *c, uint32_t num)
{
	const struct cfg_node *n = cfg_cluster_node_num(&c->cluster, num);

	return n ? n->name : "?";
}

static bool is_quorum_node(clm *c)
{
	const struct cfg_node *n;
	bool q;

	pthread_mutex_lock(&c->lock);
	n = cfg_cluster_node_num(&c->cluster, c->me);
	q = n && n->quorum;
	pthread_mutex_unlock(&c->lock);
	return q;
}


/*
 * Quorum nodes that are active members and have not announced a clean
 * exit, as this node sees them. A quorum node that leaves cleanly stops
 * its etcd member with it, so when this falls below a majority etcd has
 * lost (or is about to lose) its quorum: no need to wait for our lease.
 */
static size_t quorum_up_locked(clm *c, size_t *needed)
{
	size_t up = 0, nq = 0;

	for (size_t i = 0; i < c->cluster.nnodes; i++) {
		const struct cfg_node *n = &c->cluster.nodes[i];

		if (!n->quorum)
			continue;
		nq++;
		if (clm_set_has(c->members, c->nmembers, n->number) &&
		    !clm_set_has(c->leaving, c->nleaving, n->number))
			up++;
	}
	*needed = nq / 2 + 1;
	return up;
}

static bool is_quorum_num_locked(clm *c, uint32_t num)
{
	const struct cfg_node *n = cfg_cluster_node_num(&c->cluster, num);

	return n && n->quorum;
}

bool clm_node_quorum_locked(clm *c, uint32_t num)
{
	return is_quorum_num_locked(c, num);
}

bool clm_node_up_locked(clm *c, uint32_t num)
{
	return clm_set_has(c->members, c->nmembers, num) && !clm_set_has(c->leaving, c->nleaving, num);
}

/* Called with the lock held after a quorum node announced or finished a
 * clean exit: have the clm thread check quorum at once. */
static void quorum_check_locked(clm *c, uint32_t num)
{
	size_t needed, up;

	if (!is_quorum_num_locked(c, num))
		return;
	up = quorum_up_locked(c, &needed);
	if (up >= needed)
		return;
	c->quorum_check = true;	/* tells the clm thread's wait it was woken on purpose */
	pthread_cond_signal(&c->wake);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

bool clm_set_has(const uint32_t *v, size_t n, uint32_t x)
{
	/* an empty set may be NULL, which bsearch must not be given */
	return n && bsearch(&x, v, n, sizeof(*v), u32_cmp) != NULL;
}

static int set_add(uint32_t **v, size_t *n, uint32_t x)
{
	uint32_t *nv;

	if (clm_set_has(*v, *n, x))
		return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return MM_ENOMEM;
	nv[(*n)++] = x;
	qsort(nv, *n, sizeof(*nv), u32_cmp);
	*v = nv;
	return 1;
}

static bool set_del(uint32_t *v, size_t *n, uint32_t x)
{
	uint32_t *p = *n ? bsearch(&x, v, *n, sizeof(*v), u32_cmp) : NULL;

	if (!p)
		return false;
	memmove(p, p + 1, (size_t)(v + *n - (p + 1)) * sizeof(*v));
	(*n)--;
	return true;
}

static uint32_t parse_member_key(const char *key)
{
	int64_t v;

	if (strncmp(key, KEY_MEMBERS, strlen(KEY_MEMBERS)) != 0)
		return 0;
	if (mm_parse_i64(key + strlen(KEY_MEMBERS), &v) || v <= 0 || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

static uint32_t parse_node_value(const char *val)
{
	int64_t v;

	if (!val || mm_parse_i64(val, &v) || v <= 0 || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

static unsigned lease_ttl_s(clm *c)
{
	int64_t t = cfg_get_int(c->cfg, "failureDetectionTime");

	return t < 2 ? 2 : (unsigned)t;
}

/* Renew three to four times per TTL so one lost renewal costs nothing. */
static unsigned renew_interval_ms(clm *c)
{
	unsigned ms = lease_ttl_s(c) * 1000 / 4;

	return ms < 100 ? 100 : ms > 5000 ? 5000 : ms;
}

/*
 * The clm thread's transitions: ARBITRATING <-> ACTIVE. STOPPING is set by
 * clm_stop() alone and never left; set_state() leaves it as it is.
 */
static void set_state(clm *c, enum clm_state st, const char *why)
{
	enum clm_state old;

	MM_BUG_ON(c, st != CLM_ARBITRATING && st != CLM_ACTIVE);
	pthread_mutex_lock(&c->lock);
	old = c->state;
	MM_BUG_ON(c, old != CLM_ARBITRATING && old != CLM_ACTIVE && old != CLM_STOPPING);
	if (c->state != CLM_STOPPING)
		c->state = st;
	snprintf(c->reason, sizeof(c->reason), "%s", why ? why : "");
	pthread_mutex_unlock(&c->lock);
	if (old == st || old == CLM_STOPPING)
		return;
	if (st == CLM_ACTIVE) {
		mm_notice(SUB, "node is active: quorum reached and lease held");
		clm_emit(c, CLM_EV_QUORUM_REGAINED, c->me, NULL, NULL);
	} else if (st == CLM_ARBITRATING) {
		mm_warn(SUB, "node is arbitrating: %s", why ? why : "");
		clm_emit(c, CLM_EV_QUORUM_LOST, c->me, NULL, NULL);
	}
}

/* ---- 2. CCR bootstrap and the cluster definition ----------------- */

/* Adopt a cluster definition read from the CCR. */
static void cluster_adopt(clm *c, const char *text, bool announce)
{
	struct cfg_cluster def;
	char err[256];
	int rc;

	cfg_cluster_init(&def);
	rc = cfg_cluster_parse(&def, text, "CCR " CLM_KEY_CLUSTER, err, sizeof(err));
	if (rc) {
		mm_error(SUB, "cannot use the cluster definition in the CCR: %s", err);
		cfg_cluster_free(&def);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (def.id != c->cluster.id) {
		pthread_mutex_unlock(&c->lock);
		mm_error(SUB, "CCR belongs to cluster id %" PRIu64 ", not ours (%" PRIu64
			 "): refusing it", def.id, c->cluster.id);
		cfg_cluster_free(&def);
		return;
	}
	/* the CCR holds no per-node attributes in this key: keep ours */
	free(def.attr_names);
	free(def.attr_values);
	def.attr_names = c->cluster.attr_names;
	def.attr_values = c->cluster.attr_values;
	def.nattrs = c->cluster.nattrs;
	c->cluster.attr_names = NULL;
	c->cluster.attr_values = NULL;
	c->cluster.nattrs = 0;
	cfg_cluster_free(&c->cluster);
	c->cluster = def;
	if (c->sdrfs_path && (rc = cfg_cluster_save(&c->cluster, c->sdrfs_path)))
		mm_warn(SUB, "cannot save %s: %s", c->sdrfs_path, mm_strerror(rc));
	/* quorum nodes may have come or gone: reach etcd through the new set */
	clm_use_endpoints(c, &c->cluster);
	pthread_mutex_unlock(&c->lock);
	if (announce) {
		mm_notice(SUB, "cluster definition changed (generation %" PRIu64 ")",
			  def.generation);
		clm_emit(c, CLM_EV_CLUSTER_CHANGED, 0, NULL, NULL);
	}
}

/*
 * First contact with the CCR: seed it from the local definition if it is
 * empty (the first start after mmcrcluster), else adopt what it holds.
 */
static int ccr_bootstrap(clm *c)
{
	struct etcd_kv kv = {0};
	char *text = NULL;
	bool created = false;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = cfg_cluster_format(&c->cluster, &text);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		return rc;
	{
		struct etcd_cmp cmp = {CLM_KEY_CLUSTER, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
		struct etcd_op ops[2 + 64];
		char keys[64][128];
		size_t nops = 0;

		ops[nops++] = (struct etcd_op){ETCD_OP_PUT, CLM_KEY_CLUSTER, text, strlen(text), 0};
		ops[nops++] = (struct etcd_op){ETCD_OP_PUT, CLM_KEY_CONFIGVER, "1", 1, 0};
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->cluster.nattrs && i < 64; i++) {
			clm_config_key(keys[i], sizeof(keys[i]), NULL, c->cluster.attr_names[i]);
			ops[nops++] = (struct etcd_op){ETCD_OP_PUT, keys[i], c->cluster.attr_values[i],
						       strlen(c->cluster.attr_values[i]), 0};
		}
		rc = etcd_txn(c->etcd, &cmp, 1, ops, nops, NULL, 0, &created);
		pthread_mutex_unlock(&c->lock);
	}
	free(text);
	if (rc)
		return rc;
	if (created)
		mm_notice(SUB, "CCR initialised from the local cluster definition");
	rc = etcd_get(c->etcd, CLM_KEY_CLUSTER, &kv, NULL);
	if (rc)
		return rc;
	cluster_adopt(c, kv.value, false);
	etcd_kv_clear(&kv);
	return clm_config_reload(c, true);
}

/* ---- 3. the watch ------------------------------------------------- */

/* Record <num>'s incarnation <pid>; true if it had another one. */
static bool inc_changed_locked(clm *c, uint32_t num, long pid)
{
	for (size_t i = 0; i < c->nincs; i++)
		if (c->incs[i].node == num) {
			bool changed = c->incs[i].pid != pid;

			c->incs[i].pid = pid;
			return changed;
		}
	{
		struct clm_inc *n = realloc(c->incs, (c->nincs + 1) * sizeof(*n));

		if (n) {
			c->incs = n;
			c->incs[c->nincs++] = (struct clm_inc){num, pid};
		}
	}
	return false;
}

static void member_put(clm *c, uint32_t num, const char *val)
{
	bool joined = false, restarted = false;
	char name[256];

	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, num));
	if (val && strncmp(val, "leaving", 7) == 0) {
		set_add(&c->leaving, &c->nleaving, num);
		quorum_check_locked(c, num);
	} else {
		const char *sp = val ? strchr(val, ' ') : NULL;
		long pid = sp ? strtol(sp + 1, NULL, 10) : 0;

		set_del(c->leaving, &c->nleaving, num);
		joined = set_add(&c->members, &c->nmembers, num) == 1;
		restarted = pid > 0 && inc_changed_locked(c, num, pid) && !joined && num != c->me;
	}
	pthread_mutex_unlock(&c->lock);
	if (restarted) {
		mm_warn(SUB, "node %u (%s) started again before its lease lapsed: what it held "
			"before is recovered as after an expel", num, name);
		clm_emit(c, CLM_EV_NODE_RESTARTED, num, NULL, NULL);
	}
	if (joined) {
		mm_info(SUB, "node %u (%s) joined the cluster", num, name);
		clm_emit(c, CLM_EV_NODE_JOINED, num, NULL, NULL);
	}
}

static void member_delete(clm *c, uint32_t num)
{
	bool was, left, cm_here;
	uint32_t asked;
	char name[256];

	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, num));
	was = set_del(c->members, &c->nmembers, num);
	left = set_del(c->leaving, &c->nleaving, num);
	cm_here = c->cm == c->me && c->state == CLM_ACTIVE;
	asked = cm_here ? clm_expel_requester_locked(c, num) : 0;
	if (was && left)
		quorum_check_locked(c, num);
	/* our own key gone without our leaving: renew now, and find the
	 * lease revoked (an expel request) before acting on it any longer */
	if (num == c->me && !left)
		pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (!was)
		return;
	if (left) {
		mm_info(SUB, "node %u (%s) left the cluster", num, name);
		clm_emit(c, CLM_EV_NODE_LEFT, num, NULL, NULL);
		return;
	}
	if (asked)
		mm_info(SUB, "node %u (%s) was expelled at the request of node %u: its lease was "
			"revoked", num, name, asked);
	else if (cm_here)
		mm_notice(SUB, "expelling node %u (%s): its lease lapsed "
			  "(failureDetectionTime %us); recovery may start after leaseRecoveryWait %" PRId64 "s",
			  num, name, lease_ttl_s(c), cfg_get_int(c->cfg, "leaseRecoveryWait"));
	else
		mm_info(SUB, "node %u (%s) was expelled: its lease ended (lapsed, or revoked by the "
			"cluster manager)", num, name);
	clm_emit(c, CLM_EV_NODE_EXPELLED, num, NULL, NULL);
}

static void cm_set(clm *c, uint32_t num)
{
	uint32_t old;
	char name[256];

	pthread_mutex_lock(&c->lock);
	old = c->cm;
	c->cm = num;
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, num));
	if (num == 0)
		pthread_cond_signal(&c->wake);	/* campaign now */
	if (num == c->me && old != num) {
		clm_fsmgr_kick_locked(c);	/* a new cluster manager re-checks every appointment */
		c->expel_dirty = true;		/* and serves the expel requests left */
	}
	pthread_mutex_unlock(&c->lock);
	if (old == num)
		return;
	if (num == c->me)
		mm_notice(SUB, "this node (%u, %s) is now the cluster manager", num, name);
	else if (num)
		mm_info(SUB, "cluster manager is node %u (%s)", num, name);
	else
		mm_warn(SUB, "cluster manager node %u resigned or failed: electing a new one", old);
	clm_emit(c, CLM_EV_CM_CHANGED, num, NULL, NULL);
}

static void change_seen(clm *c, int64_t rev)
{
	pthread_mutex_lock(&c->lock);
	if (rev != c->change_rev) {
		c->change_rev = rev;
		c->change_seen_ms = mm_now_ms();
	}
	pthread_mutex_unlock(&c->lock);
}

/* The view of a cluster manager handover (mmchmgr -c); <val> NULL: none. */
static void handover_seen(clm *c, const char *val, int64_t rev)
{
	uint32_t to = 0, from = 0;
	bool resigned = false;

	if (val && clm_handover_parse(val, &to, &from, &resigned)) {
		mm_warn(SUB, "ignoring malformed %s: \"%s\"", CLM_KEY_HANDOVER, val);
		to = from = 0;
		resigned = false;
	}
	pthread_mutex_lock(&c->lock);
	c->handover_to = to;
	c->handover_from = from;
	c->handover_resigned = resigned;
	c->handover_rev = val ? rev : 0;
	if (!val && c->cm == 0)
		pthread_cond_signal(&c->wake);	/* it lapsed or was taken: campaign now */
	pthread_mutex_unlock(&c->lock);
	if (val && resigned)
		mm_info(SUB, "cluster manager node %u handed over to node %u", from, to);
}

static void watch_fn(const struct etcd_event *ev, size_t n, int err, void *arg)
{
	clm *c = arg;
	bool config = false, kick = false, expel = false;

	if (n == 0 && err) {
		mm_warn(SUB, "CCR watch interrupted: %s", mm_strerror(err));
		pthread_mutex_lock(&c->lock);
		c->watch_resync = true;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = ev[i].kv.key;
		uint32_t num;

		if ((num = parse_member_key(key)) != 0) {
			if (ev[i].type == ETCD_EV_PUT)
				member_put(c, num, ev[i].kv.value);
			else
				member_delete(c, num);
		} else if (strcmp(key, KEY_CM) == 0) {
			cm_set(c, ev[i].type == ETCD_EV_PUT ? parse_node_value(ev[i].kv.value) : 0);
		} else if (strncmp(key, CLM_KEY_CONFIG, strlen(CLM_KEY_CONFIG)) == 0) {
			config = true;
		} else if (strcmp(key, CLM_KEY_CLUSTER) == 0 && ev[i].type == ETCD_EV_PUT) {
			cluster_adopt(c, ev[i].kv.value, true);
		} else if (strcmp(key, CLM_KEY_CHANGE) == 0) {
			change_seen(c, ev[i].type == ETCD_EV_PUT ? ev[i].kv.mod_rev : 0);
		} else if (strcmp(key, CLM_KEY_HANDOVER) == 0) {
			handover_seen(c, ev[i].type == ETCD_EV_PUT ? ev[i].kv.value : NULL,
				      ev[i].kv.mod_rev);
		} else if (strncmp(key, CLM_KEY_EXPELREQ, strlen(CLM_KEY_EXPELREQ)) == 0) {
			expel = ev[i].type == ETCD_EV_PUT || expel;
			continue;
		} else if (clm_fsmgr_watch(c, &ev[i])) {
			/* the view of token spaces and appointments */
		} else if (strncmp(key, CLM_KEY_FSMGRWANT, strlen(CLM_KEY_FSMGRWANT)) != 0) {
			continue;
		}
		kick = true;	/* the cluster manager may have appointments to make */
	}
	if (kick || expel) {
		pthread_mutex_lock(&c->lock);
		if (kick)
			clm_fsmgr_kick_locked(c);
		if (expel) {
			c->expel_dirty = true;	/* an expel request for the cluster manager */
			pthread_cond_signal(&c->fix_wake);
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (config) {
		int rc = clm_config_reload(c, false);

		if (rc)
			mm_warn(SUB, "cannot reload configuration from the CCR: %s", mm_strerror(rc));
	}
}

/* Rebuild the members and cluster manager view from a full read. */
static int view_resync(clm *c, int64_t *rev)
{
	struct etcd_kv *kvs = NULL, cm = {0};
	size_t n = 0;
	int rc;
	uint32_t *now = NULL;
	size_t nnow = 0;

	rc = etcd_get_prefix(c->etcd, KEY_MEMBERS, &kvs, &n, rev);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t num = parse_member_key(kvs[i].key);

		if (num) {
			set_add(&now, &nnow, num);
			member_put(c, num, kvs[i].value);
		}
	}
	/* members that vanished while we were not watching */
	for (;;) {
		uint32_t gone = 0;

		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->nmembers; i++)
			if (!clm_set_has(now, nnow, c->members[i])) {
				gone = c->members[i];
				break;
			}
		pthread_mutex_unlock(&c->lock);
		if (!gone)
			break;
		member_delete(c, gone);
	}
	free(now);
	etcd_kvs_free(kvs, n);
	rc = etcd_get(c->etcd, CLM_KEY_CHANGE, &cm, NULL);
	if (rc && rc != MM_ENOENT)
		return rc;
	change_seen(c, rc ? 0 : cm.mod_rev);
	etcd_kv_clear(&cm);
	/* the handover before the cluster manager key: a node that sees the
	 * role vacant must know whether it was handed to another */
	rc = etcd_get(c->etcd, CLM_KEY_HANDOVER, &cm, NULL);
	if (rc && rc != MM_ENOENT)
		return rc;
	handover_seen(c, rc ? NULL : cm.value, rc ? 0 : cm.mod_rev);
	etcd_kv_clear(&cm);
	rc = clm_fsmgr_resync(c);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	clm_fsmgr_kick_locked(c);
	pthread_mutex_unlock(&c->lock);
	rc = etcd_get(c->etcd, KEY_CM, &cm, NULL);
	if (rc == MM_ENOENT) {
		cm_set(c, 0);
		return MM_OK;
	}
	if (rc)
		return rc;
	cm_set(c, parse_node_value(cm.value));
	etcd_kv_clear(&cm);
	return MM_OK;
}

static int watch_ensure(clm *c)
{
	int64_t rev = 0;
	bool resync;
	int rc;

	pthread_mutex_lock(&c->lock);
	resync = c->watch_resync;
	c->watch_resync = false;
	pthread_mutex_unlock(&c->lock);
	if (c->watch && !resync)
		return MM_OK;
	rc = view_resync(c, &rev);
	if (rc)
		return rc;
	if (c->watch)
		return MM_OK;	/* the watch reconnects itself; we only re-read */
	rc = etcd_watch_start(c->etcd, KEY_PREFIX, rev + 1, watch_fn, c, &c->watch);
	if (rc)
		mm_error(SUB, "cannot watch the CCR: %s", mm_strerror(rc));
	return rc;
}

/* ---- 4. the clm thread -------------------------------------------- */

static void lease_lost(clm *c, const char *why)
{
	int64_t old = c->lease_id;

	pthread_mutex_lock(&c->lock);
	c->lease_id = 0;
	if (c->cm == c->me)
		c->cm = 0;
	pthread_mutex_unlock(&c->lock);
	atomic_store_explicit(&c->lease_deadline_ns, 0, memory_order_release);
	set_state(c, CLM_ARBITRATING, why);
	/* Best effort: if etcd is reachable, let others see us gone now. */
	if (old)
		etcd_lease_revoke(c->etcd, old);
}

static int member_put_self(clm *c, int64_t lease, const char *what)
{
	char val[64];

	snprintf(val, sizeof(val), "%s %d", what, (int)getpid());
	char key[64];

	snprintf(key, sizeof(key), KEY_MEMBERS "%u", c->me);
	return etcd_put(c->etcd, key, val, strlen(val), lease);
}

static int lease_acquire(clm *c)
{
	unsigned ttl = lease_ttl_s(c);
	uint64_t t0 = mm_now_ns();
	int64_t id;
	int rc;

	rc = etcd_lease_grant(c->etcd, (int)ttl, &id);
	if (rc)
		return rc;
	rc = member_put_self(c, id, "active");
	if (rc) {
		etcd_lease_revoke(c->etcd, id);
		return rc;
	}
	atomic_store_explicit(&c->lease_since_ns, t0, memory_order_release);
	atomic_store_explicit(&c->lease_deadline_ns, t0 + (uint64_t)ttl * 1000000000u, memory_order_release);
	pthread_mutex_lock(&c->lock);
	c->lease_id = id;
	c->joins++;
	pthread_mutex_unlock(&c->lock);
	mm_notice(SUB, "joined the cluster as node %u with lease %" PRIx64 " (TTL %us)",
		  c->me, (uint64_t)id, ttl);
	return MM_OK;
}

static int lease_renew(clm *c)
{
	uint64_t t0 = mm_now_ns();
	int64_t ttl = 0;
	int rc = etcd_lease_keepalive(c->etcd, c->lease_id, &ttl);

	if (rc == MM_OK && ttl <= 0)
		rc = MM_ENOENT;
	if (rc)
		return rc;
	atomic_store_explicit(&c->lease_deadline_ns, t0 + (uint64_t)ttl * 1000000000u, memory_order_release);
	return MM_OK;
}

/*
 * Fewer than a majority of the quorum nodes are up as we see them (some
 * left cleanly, taking their etcd members with them): confirm with a
 * linearizable read, which needs etcd's quorum. A read that succeeds says
 * quorum is still there (a leaving member's etcd may not have stopped
 * yet); the clm thread asks again at a short interval while the view
 * stays short. Failures are retried for about two election timeouts, so
 * a leader change alone does not count. When they persist, drop the lease
 * now rather than report active until it lapses.
 */
static void quorum_probe(clm *c)
{
	int64_t el = cfg_get_int(c->cfg, "ccrElectionTimeoutMs");
	uint64_t end = mm_now_ms() + (uint64_t)(el * 2 + 500 < 3000 ? el * 2 + 500 : 3000);
	size_t up, needed;
	char why[160];
	int rc;

	do {
		struct etcd_kv kv = {0};

		rc = etcd_get(c->etcd, CLM_KEY_CLUSTER, &kv, NULL);
		etcd_kv_clear(&kv);
		if (rc == MM_OK)
			return;
		pthread_mutex_lock(&c->lock);
		up = quorum_up_locked(c, &needed);
		pthread_mutex_unlock(&c->lock);
		if (up >= needed)
			return;	/* a quorum node came back meanwhile */
		mm_sleep_ms(100);
	} while (mm_now_ms() < end);
	snprintf(why, sizeof(why), "quorum lost: %zu of the quorum nodes up, %zu needed (%s)",
		 up, needed, mm_strerror(rc));
	mm_warn(SUB, "%s: stopping lease-bound work", why);
	lease_lost(c, why);
}

/* True while the view shows fewer than a majority of quorum nodes up. */
static bool quorum_short(clm *c)
{
	size_t up, needed;

	pthread_mutex_lock(&c->lock);
	up = quorum_up_locked(c, &needed);
	c->quorum_check = false;
	pthread_mutex_unlock(&c->lock);
	return up < needed;
}

/*
 * Campaign for the cluster manager key. While a handover (mmchmgr -c) to
 * another node that is up stands, only that node campaigns; the winner
 * deletes the handover record in its winning transaction. A node that
 * has seen no handover record wins only if none exists, so one it has
 * not seen yet cannot be overtaken.
 */
static void campaign(clm *c)
{
	char key_val[16];
	struct etcd_cmp cmp[2] = {{KEY_CM, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL}};
	struct etcd_op op[2];
	size_t ncmp = 1, nops = 1;
	bool won = false, wait_handover;
	uint32_t cm, to;
	int64_t hrev;
	size_t up, needed;

	pthread_mutex_lock(&c->lock);
	cm = c->cm;
	up = quorum_up_locked(c, &needed);
	to = c->handover_to;
	hrev = c->handover_rev;
	wait_handover = hrev && c->handover_resigned && to != c->me && clm_node_up_locked(c, to);
	pthread_mutex_unlock(&c->lock);
	/* never take the role while quorum nodes are leaving and quorum goes */
	if (cm || up < needed || wait_handover)
		return;
	snprintf(key_val, sizeof(key_val), "%u", c->me);
	op[0] = (struct etcd_op){ETCD_OP_PUT, KEY_CM, key_val, strlen(key_val), c->lease_id};
	if (!hrev)
		cmp[ncmp++] = (struct etcd_cmp){CLM_KEY_HANDOVER, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	else if (to != c->me)
		cmp[ncmp++] = (struct etcd_cmp){CLM_KEY_HANDOVER, ETCD_CMP_MOD, ETCD_EQUAL, hrev, NULL};
	if (hrev)
		op[nops++] = (struct etcd_op){ETCD_OP_DELETE, CLM_KEY_HANDOVER, NULL, 0, 0};
	if (etcd_txn(c->etcd, cmp, ncmp, op, nops, NULL, 0, &won) == 0 && won) {
		if (hrev && to == c->me)
			mm_notice(SUB, "taking over as cluster manager (mmchmgr -c)");
		cm_set(c, c->me);
	}
}

static void clm_step(clm *c)
{
	uint64_t deadline = atomic_load_explicit(&c->lease_deadline_ns, memory_order_acquire);
	char why[160];
	int rc;

	if (c->lease_id && mm_now_ns() >= deadline) {
		mm_warn(SUB, "lease lapsed (no renewal within failureDetectionTime %us): "
			"stopping lease-bound work", lease_ttl_s(c));
		pthread_mutex_lock(&c->lock);
		c->expels++;
		pthread_mutex_unlock(&c->lock);
		lease_lost(c, "lease lapsed; rejoining");
		clm_emit(c, CLM_EV_NODE_EXPELLED, c->me, NULL, NULL);
	}
	if (c->lease_id && c->bootstrapped && quorum_short(c))
		quorum_probe(c);
	if (!c->bootstrapped) {
		rc = ccr_bootstrap(c);
		if (rc) {
			snprintf(why, sizeof(why), "seeking quorum: CCR unreachable (%s)", mm_strerror(rc));
			set_state(c, CLM_ARBITRATING, why);
			return;
		}
		c->bootstrapped = true;
	}
	if (!c->lease_id) {
		rc = lease_acquire(c);
		if (rc) {
			snprintf(why, sizeof(why), "seeking a lease: %s", mm_strerror(rc));
			set_state(c, CLM_ARBITRATING, why);
			return;
		}
	} else {
		rc = lease_renew(c);
		if (rc == MM_ENOENT) {
			mm_warn(SUB, "this node was expelled from the cluster: lease %" PRIx64
				" is gone at the CCR (expired, or revoked by the cluster manager)",
				(uint64_t)c->lease_id);
			pthread_mutex_lock(&c->lock);
			c->expels++;
			pthread_mutex_unlock(&c->lock);
			lease_lost(c, "expelled; rejoining");
			clm_emit(c, CLM_EV_NODE_EXPELLED, c->me, NULL, NULL);
			return;
		}
		if (rc) {
			uint64_t left = deadline > mm_now_ns() ? (deadline - mm_now_ns()) / 1000000 : 0;

			mm_warn(SUB, "cannot renew lease: %s; lease valid %" PRIu64 " ms more",
				mm_strerror(rc), left);
			return;
		}
	}
	if (watch_ensure(c))
		return;
	set_state(c, CLM_ACTIVE, "");
	if (is_quorum_node(c))
		campaign(c);
}

static void *clm_main(void *arg)
{
	clm *c = arg;

	for (;;) {
		unsigned wait_ms;
		bool stop;

		pthread_mutex_lock(&c->lock);
		stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		clm_step(c);
		/* renew at the lease's pace, but seek quorum or a lease quickly */
		wait_ms = renew_interval_ms(c);
		if (clm_get_state(c) != CLM_ACTIVE && wait_ms > 500)
			wait_ms = 500;
		pthread_mutex_lock(&c->lock);
		if (c->lease_id && wait_ms > 250) {
			size_t needed;

			if (quorum_up_locked(c, &needed) < needed)
				wait_ms = 250;	/* quorum may be going: look again soon */
		}
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_lock(&c->lock);
		if (!c->stop && !c->quorum_check)
			mm_cond_wait_ms(&c->wake, &c->lock, wait_ms);
		c->quorum_check = false;
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/*
 * The "ccr-fix" thread: on the cluster manager, a membership change left
 * recorded in the CCR (its owner died or froze midway) is handed to
 * members.c to finish or undo; expel requests are served (expel.c: at
 * once when the watch shows one, and every 5 s); and the cluster
 * manager's appointments of
 * file system managers (fsmgr.c: a handover asked by mmchmgr -c, then
 * every token space), at once when the watch brings news (fsmgr_dirty)
 * and every 5 s regardless. Separate from the clm thread because etcd
 * membership calls may take seconds, which lease renewal cannot wait for.
 */
static void *fix_main(void *arg)
{
	clm *c = arg;
	uint64_t last_manage = 0, last_expel = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		int64_t rev = c->change_rev;
		uint64_t age = mm_now_ms() - c->change_seen_ms;
		bool mine = c->cm == c->me && c->state == CLM_ACTIVE;

		if (rev && mine) {
			pthread_mutex_unlock(&c->lock);
			clm_change_resolve(c, rev, age);
			pthread_mutex_lock(&c->lock);
		}
		mine = c->cm == c->me && c->state == CLM_ACTIVE && !c->stop;
		if (mine && (c->expel_dirty || mm_now_ms() - last_expel >= 5000)) {
			c->expel_dirty = false;
			pthread_mutex_unlock(&c->lock);
			clm_expel_manage(c);
			last_expel = mm_now_ms();
			pthread_mutex_lock(&c->lock);
		}
		mine = c->cm == c->me && c->state == CLM_ACTIVE && !c->stop;
		if (mine && (c->fsmgr_dirty || mm_now_ms() - last_manage >= 5000)) {
			c->fsmgr_dirty = false;
			pthread_mutex_unlock(&c->lock);
			clm_fsmgr_manage(c);
			last_manage = mm_now_ms();
			pthread_mutex_lock(&c->lock);
		}
		/* a failed write (or news meanwhile) is looked at again soon */
		if (!c->stop)
			mm_cond_wait_ms(&c->fix_wake, &c->lock, mine && (c->fsmgr_dirty || c->expel_dirty) ? 100 : 1000);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- 5. life cycle ------------------------------------------------ */

static char *endpoint_list(const struct cfg_cluster *def, uint32_t me, const struct etcd_tls *tls,
			   char ***eps, size_t *neps)
{
	size_t n = 0;
	char **v = calloc(def->nnodes + 1, sizeof(*v));

	if (!v)
		return NULL;
	/* our own member first: it answers fastest and shares our fate */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < def->nnodes; i++) {
			const struct cfg_node *nd = &def->nodes[i];

			if (!nd->quorum || (pass == 0) != (nd->number == me))
				continue;
			if (asprintf(&v[n], "%s://%s:%u", tls->ca_file ? "https" : "http", nd->ip,
				     def->etcd_client_port) < 0)
				continue;
			n++;
		}
	*eps = v;
	*neps = n;
	return (char *)v;
}

int clm_create(const struct clm_config *cfg, clm **out)
{
	clm *c = calloc(1, sizeof(*c));
	char **eps = NULL;
	size_t neps = 0;
	struct etcd_tls tls;
	int rc, timeout;

	if (!c)
		return MM_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	mm_cond_init(&c->wake);
	mm_cond_init(&c->fix_wake);
	c->me = cfg->my_node;
	c->cfg = cfg->cfg;
	c->state = CLM_ARBITRATING;
	snprintf(c->reason, sizeof(c->reason), "starting");
	cfg_cluster_init(&c->cluster);
	{
		char *text = NULL;
		char err[256];

		rc = cfg_cluster_format(cfg->cluster, &text);
		if (!rc)
			rc = cfg_cluster_parse(&c->cluster, text, "local definition", err, sizeof(err));
		free(text);
		if (rc)
			goto fail;
	}
	if (!cfg_cluster_node_num(&c->cluster, c->me)) {
		rc = MM_ENOENT;
		goto fail;
	}
	c->sdrfs_path = cfg->sdrfs_path ? strdup(cfg->sdrfs_path) : NULL;
	c->probe = cfg->probe;
	c->probe_arg = cfg->probe_arg;
	c->tls_ca = cfg->tls.ca_file ? strdup(cfg->tls.ca_file) : NULL;
	c->tls_cert = cfg->tls.cert_file ? strdup(cfg->tls.cert_file) : NULL;
	c->tls_key = cfg->tls.key_file ? strdup(cfg->tls.key_file) : NULL;
	clm_config_local_init(c);
	tls = (struct etcd_tls){c->tls_ca, c->tls_cert, c->tls_key};
	if (!endpoint_list(&c->cluster, c->me, &tls, &eps, &neps)) {
		rc = MM_ENOMEM;
		goto fail;
	}
	/* a request must fail well inside one renewal interval */
	timeout = (int)renew_interval_ms(c);
	timeout = timeout < 500 ? 500 : timeout > 2000 ? 2000 : timeout;
	rc = etcd_client_create((const char *const *)eps, neps, &tls, timeout, &c->etcd);
	for (size_t i = 0; i < neps; i++)
		free(eps[i]);
	free(eps);
	if (rc)
		goto fail;
	*out = c;
	return MM_OK;
fail:
	clm_destroy(c);
	return rc;
}

int clm_subscribe(clm *c, clm_event_fn fn, void *arg)
{
	if (c->nsubs >= CLM_MAX_SUBS || c->thread_running)
		return MM_EBUSY;
	c->subs[c->nsubs].fn = fn;
	c->subs[c->nsubs].arg = arg;
	c->nsubs++;
	return MM_OK;
}

int clm_start(clm *c)
{
	int rc = mm_thread_start(&c->thread, "clm", clm_main, c);

	if (rc)
		return rc;
	c->thread_running = true;
	rc = mm_thread_start(&c->fix_thread, "ccr-fix", fix_main, c);
	if (rc == 0)
		c->fix_running = true;
	return rc;
}

void clm_stop(clm *c)
{
	int64_t lease;

	if (!c->thread_running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_cond_signal(&c->fix_wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->thread_running = false;
	if (c->fix_running) {
		pthread_join(c->fix_thread, NULL);
		c->fix_running = false;
	}
	pthread_mutex_lock(&c->lock);
	c->state = CLM_STOPPING;
	lease = c->lease_id;
	c->lease_id = 0;
	pthread_mutex_unlock(&c->lock);
	if (lease && clm_lease_valid(c)) {
		/* say we leave on purpose, then drop the lease: the member key
		 * and (if ours) the cluster manager key vanish at once */
		member_put_self(c, lease, "leaving");
		etcd_lease_revoke(c->etcd, lease);
		mm_notice(SUB, "left the cluster");
	}
	atomic_store_explicit(&c->lease_deadline_ns, 0, memory_order_release);
	if (c->watch) {
		etcd_watch_stop(c->watch);
		c->watch = NULL;
	}
}

void clm_destroy(clm *c)
{
	if (!c)
		return;
	clm_stop(c);
	if (c->etcd)
		etcd_client_destroy(c->etcd);
	cfg_cluster_free(&c->cluster);
	free(c->members);
	free(c->incs);
	free(c->leaving);
	free(c->spaces);
	free(c->sdrfs_path);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->local_attrs);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->fix_wake);
	free(c);
}

uint32_t clm_my_node(clm *c)
{
	return c->me;
}

int clm_use_endpoints(clm *c, const struct cfg_cluster *def)
{
	struct etcd_tls tls = {c->tls_ca, c->tls_cert, c->tls_key};
	char **eps = NULL;
	size_t neps = 0;
	int rc = MM_ENOMEM;

	if (endpoint_list(def, c->me, &tls, &eps, &neps))
		rc = neps ? etcd_client_set_endpoints(c->etcd, (const char *const *)eps, neps) : MM_EINVAL;
	for (size_t i = 0; i < neps; i++)
		free(eps[i]);
	free(eps);
	return rc;
}

int clm_cluster_copy(clm *c, struct cfg_cluster *out)
{
	char *text = NULL;
	char err[256];
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = cfg_cluster_format(&c->cluster, &text);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		return rc;
	rc = cfg_cluster_parse(out, text, "clm copy", err, sizeof(err));
	free(text);
	return rc;
}
