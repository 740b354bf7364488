/*
 * cluster/clm.c - cluster membership on etcd: lease, quorum, cluster
 * manager election, CCR bootstrap and configuration transactions.
 *
 * Entry points: clm_create/start/stop/destroy, status getters,
 * clm_config_change (mmchconfig), clm_config_list (mmlsconfig),
 * clm_cluster_read/write (membership changes).
 *
 * Map of this file:
 *   1. state and helpers
 *   2. CCR bootstrap and effective configuration
 *   3. the watch: members, cluster manager, config, cluster definition
 *   4. the clm thread: lease, membership key, campaign
 *   5. configuration transactions and listing
 *   6. life cycle and getters
 *
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
#include <strings.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "cluster"
#define KEY_CLUSTER "/mmfs/cluster"
#define KEY_CONFIGVER "/mmfs/configver"
#define KEY_CONFIG "/mmfs/config/"
#define KEY_CONFIG_COMMON "/mmfs/config/common/"
#define KEY_CONFIG_NODE "/mmfs/config/node/"
#define KEY_MEMBERS "/mmfs/members/"
#define KEY_CM "/mmfs/cm"
#define KEY_PREFIX "/mmfs/"
#define MAX_SUBS 16

/* ---- 1. state and helpers ---------------------------------------- */

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
	struct { clm_event_fn fn; void *arg; } subs[MAX_SUBS];
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

	/* atomic */
	uint64_t lease_deadline_ns;	/* 0: no lease */
	uint64_t lease_since_ns;	/* when the current lease was requested */
};

static char *endpoint_list(const struct cfg_cluster *def, uint32_t me, const struct etcd_tls *tls,
			   char ***eps, size_t *neps);

static void emit(clm *c, enum clm_event_type type, uint32_t node,
		 const char *attr, const char *value)
{
	struct clm_event ev = {type, node, attr, value};

	for (int i = 0; i < c->nsubs; i++)
		c->subs[i].fn(&ev, c->subs[i].arg);
}

static const char *node_name_locked(clm *c, uint32_t num)
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

static bool set_has(const uint32_t *v, size_t n, uint32_t x);

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
		if (set_has(c->members, c->nmembers, n->number) &&
		    !set_has(c->leaving, c->nleaving, n->number))
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

static bool set_has(const uint32_t *v, size_t n, uint32_t x)
{
	/* an empty set may be NULL, which bsearch must not be given */
	return n && bsearch(&x, v, n, sizeof(*v), u32_cmp) != NULL;
}

static int set_add(uint32_t **v, size_t *n, uint32_t x)
{
	uint32_t *nv;

	if (set_has(*v, *n, x))
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
		emit(c, CLM_EV_QUORUM_REGAINED, c->me, NULL, NULL);
	} else if (st == CLM_ARBITRATING) {
		mm_warn(SUB, "node is arbitrating: %s", why ? why : "");
		emit(c, CLM_EV_QUORUM_LOST, c->me, NULL, NULL);
	}
}

/* ---- 2. CCR bootstrap and effective configuration ----------------- */

static bool attr_set_locally(clm *c, const char *name)
{
	char pat[80];

	if (!c->local_attrs)
		return false;
	snprintf(pat, sizeof(pat), "|%s|", name);
	return strcasestr(c->local_attrs, pat) != NULL;
}

/*
 * Apply one CCR value (NULL: back to default) of attribute <name> that is
 * effective for this node. Dynamic attributes change now; others are noted
 * for the next start (the local definition file carries them).
 */
static void apply_attr(clm *c, const char *name, const char *value, bool at_start)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	char cur[256], canon[256], err[256];

	if (!a) {
		mm_warn(SUB, "CCR holds unknown attribute %s: ignored", name);
		return;
	}
	if (attr_set_locally(c, a->name))
		return;
	if (!value)
		value = a->def;
	if (cfg_attr_validate(a, value, canon, sizeof(canon), "CCR", err, sizeof(err))) {
		mm_error(SUB, "%s", err);
		return;
	}
	if (cfg_get(c->cfg, a->name, cur, sizeof(cur)) == 0 && strcmp(cur, canon) == 0)
		return;
	if (a->dynamic || at_start) {
		if (cfg_set_value(c->cfg, a->name, canon, "CCR", err, sizeof(err))) {
			mm_error(SUB, "%s", err);
			return;
		}
		if (!at_start)
			mm_notice(SUB, "configuration change applied: %s %s", a->name, canon);
		emit(c, CLM_EV_CONFIG_CHANGED, 0, a->name, canon);
	} else {
		mm_notice(SUB, "configuration change %s %s takes effect when the daemon restarts",
			  a->name, canon);
	}
}

/* Key of attribute <name> for node <node> (NULL: common) into <buf>. */
static void config_key(char *buf, size_t sz, const char *node, const char *name)
{
	if (node)
		snprintf(buf, sz, KEY_CONFIG_NODE "%s/%s", node, name);
	else
		snprintf(buf, sz, KEY_CONFIG_COMMON "%s", name);
}

/*
 * Effective CCR value of <name> for node <node> among <kvs>, or NULL:
 * a per-node value beats the common one.
 */
static const char *effective_value(const struct etcd_kv *kvs, size_t n,
				   const char *node, const char *name)
{
	char kn[512], kc[512];
	const char *common = NULL;

	config_key(kn, sizeof(kn), node, name);
	config_key(kc, sizeof(kc), NULL, name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(kvs[i].key, kn) == 0)
			return kvs[i].value;
		if (strcmp(kvs[i].key, kc) == 0)
			common = kvs[i].value;
	}
	return common;
}

/* Save the CCR's values effective for this node into the local definition,
 * so a restart uses them before etcd is reachable. */
static void save_local_definition(clm *c, const struct etcd_kv *kvs, size_t n,
				  const char *myname)
{
	struct cfg_cluster *d = &c->cluster;
	size_t cnt = 0;
	int rc;

	pthread_mutex_lock(&c->lock);
	free(d->attr_names);
	free(d->attr_values);
	d->attr_names = calloc(cfg_attr_count() + 1, sizeof(*d->attr_names));
	d->attr_values = calloc(cfg_attr_count() + 1, sizeof(*d->attr_values));
	if (d->attr_names && d->attr_values) {
		for (size_t i = 0; i < cfg_attr_count(); i++) {
			const char *name = cfg_attr_at(i)->name;
			const char *v = effective_value(kvs, n, myname, name);

			if (!v)
				continue;
			snprintf(d->attr_names[cnt], sizeof(d->attr_names[cnt]), "%s", name);
			snprintf(d->attr_values[cnt], sizeof(d->attr_values[cnt]), "%s", v);
			cnt++;
		}
	}
	d->nattrs = cnt;
	rc = c->sdrfs_path ? cfg_cluster_save(d, c->sdrfs_path) : 0;
	pthread_mutex_unlock(&c->lock);
	if (rc)
		mm_warn(SUB, "cannot save %s: %s", c->sdrfs_path, mm_strerror(rc));
}

/* Read every config key and apply what is effective for this node. */
static int config_reload(clm *c, bool at_start)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	char myname[256];
	int rc;

	rc = etcd_get_prefix(c->etcd, KEY_CONFIG, &kvs, &n, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	snprintf(myname, sizeof(myname), "%s", node_name_locked(c, c->me));
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;

		apply_attr(c, name, effective_value(kvs, n, myname, name), at_start);
	}
	save_local_definition(c, kvs, n, myname);
	etcd_kvs_free(kvs, n);
	return MM_OK;
}

/* Adopt a cluster definition read from the CCR. */
static void cluster_adopt(clm *c, const char *text, bool announce)
{
	struct cfg_cluster def;
	char err[256];
	int rc;

	cfg_cluster_init(&def);
	rc = cfg_cluster_parse(&def, text, "CCR " KEY_CLUSTER, err, sizeof(err));
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
	{
		/* quorum nodes may have come or gone: reach etcd through the new set */
		struct etcd_tls tls = {c->tls_ca, c->tls_cert, c->tls_key};
		char **eps = NULL;
		size_t neps = 0;

		if (endpoint_list(&c->cluster, c->me, &tls, &eps, &neps) && neps)
			etcd_client_set_endpoints(c->etcd, (const char *const *)eps, neps);
		for (size_t i = 0; i < neps; i++)
			free(eps[i]);
		free(eps);
	}
	pthread_mutex_unlock(&c->lock);
	if (announce) {
		mm_notice(SUB, "cluster definition changed (generation %" PRIu64 ")",
			  def.generation);
		emit(c, CLM_EV_CLUSTER_CHANGED, 0, NULL, NULL);
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
		struct etcd_cmp cmp = {KEY_CLUSTER, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
		struct etcd_op ops[2 + 64];
		char keys[64][128];
		size_t nops = 0;

		ops[nops++] = (struct etcd_op){ETCD_OP_PUT, KEY_CLUSTER, text, strlen(text), 0};
		ops[nops++] = (struct etcd_op){ETCD_OP_PUT, KEY_CONFIGVER, "1", 1, 0};
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->cluster.nattrs && i < 64; i++) {
			config_key(keys[i], sizeof(keys[i]), NULL, c->cluster.attr_names[i]);
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
	rc = etcd_get(c->etcd, KEY_CLUSTER, &kv, NULL);
	if (rc)
		return rc;
	cluster_adopt(c, kv.value, false);
	etcd_kv_clear(&kv);
	return config_reload(c, true);
}

/* ---- 3. the watch ------------------------------------------------- */

static void member_put(clm *c, uint32_t num, const char *val)
{
	bool joined = false;
	char name[256];

	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", node_name_locked(c, num));
	if (val && strncmp(val, "leaving", 7) == 0) {
		set_add(&c->leaving, &c->nleaving, num);
		quorum_check_locked(c, num);
	} else {
		set_del(c->leaving, &c->nleaving, num);
		joined = set_add(&c->members, &c->nmembers, num) == 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (joined) {
		mm_info(SUB, "node %u (%s) joined the cluster", num, name);
		emit(c, CLM_EV_NODE_JOINED, num, NULL, NULL);
	}
}

static void member_delete(clm *c, uint32_t num)
{
	bool was, left, cm_here;
	char name[256];

	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", node_name_locked(c, num));
	was = set_del(c->members, &c->nmembers, num);
	left = set_del(c->leaving, &c->nleaving, num);
	cm_here = c->cm == c->me && c->state == CLM_ACTIVE;
	if (was && left)
		quorum_check_locked(c, num);
	pthread_mutex_unlock(&c->lock);
	if (!was)
		return;
	if (left) {
		mm_info(SUB, "node %u (%s) left the cluster", num, name);
		emit(c, CLM_EV_NODE_LEFT, num, NULL, NULL);
		return;
	}
	if (cm_here)
		mm_notice(SUB, "expelling node %u (%s): its lease lapsed "
			  "(failureDetectionTime %us); recovery may start after leaseRecoveryWait %" PRId64 "s",
			  num, name, lease_ttl_s(c), cfg_get_int(c->cfg, "leaseRecoveryWait"));
	else
		mm_info(SUB, "node %u (%s) was expelled: its lease lapsed", num, name);
	emit(c, CLM_EV_NODE_EXPELLED, num, NULL, NULL);
}

static void cm_set(clm *c, uint32_t num)
{
	uint32_t old;
	char name[256];

	pthread_mutex_lock(&c->lock);
	old = c->cm;
	c->cm = num;
	snprintf(name, sizeof(name), "%s", node_name_locked(c, num));
	if (num == 0)
		pthread_cond_signal(&c->wake);	/* campaign now */
	pthread_mutex_unlock(&c->lock);
	if (old == num)
		return;
	if (num == c->me)
		mm_notice(SUB, "this node (%u, %s) is now the cluster manager", num, name);
	else if (num)
		mm_info(SUB, "cluster manager is node %u (%s)", num, name);
	else
		mm_warn(SUB, "cluster manager node %u resigned or failed: electing a new one", old);
	emit(c, CLM_EV_CM_CHANGED, num, NULL, NULL);
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

static void watch_fn(const struct etcd_event *ev, size_t n, int err, void *arg)
{
	clm *c = arg;
	bool config = false;

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
		} else if (strncmp(key, KEY_CONFIG, strlen(KEY_CONFIG)) == 0) {
			config = true;
		} else if (strcmp(key, KEY_CLUSTER) == 0 && ev[i].type == ETCD_EV_PUT) {
			cluster_adopt(c, ev[i].kv.value, true);
		} else if (strcmp(key, CLM_KEY_CHANGE) == 0) {
			change_seen(c, ev[i].type == ETCD_EV_PUT ? ev[i].kv.mod_rev : 0);
		}
	}
	if (config) {
		int rc = config_reload(c, false);

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
			if (!set_has(now, nnow, c->members[i])) {
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
	__atomic_store_n(&c->lease_deadline_ns, 0, __ATOMIC_RELEASE);
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
	__atomic_store_n(&c->lease_since_ns, t0, __ATOMIC_RELEASE);
	__atomic_store_n(&c->lease_deadline_ns, t0 + (uint64_t)ttl * 1000000000u, __ATOMIC_RELEASE);
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
	__atomic_store_n(&c->lease_deadline_ns, t0 + (uint64_t)ttl * 1000000000u, __ATOMIC_RELEASE);
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

		rc = etcd_get(c->etcd, KEY_CLUSTER, &kv, NULL);
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

static void campaign(clm *c)
{
	char key_val[16];
	struct etcd_cmp cmp = {KEY_CM, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	struct etcd_op op;
	bool won = false;
	uint32_t cm;
	size_t up, needed;

	pthread_mutex_lock(&c->lock);
	cm = c->cm;
	up = quorum_up_locked(c, &needed);
	pthread_mutex_unlock(&c->lock);
	/* never take the role while quorum nodes are leaving and quorum goes */
	if (cm || up < needed)
		return;
	snprintf(key_val, sizeof(key_val), "%u", c->me);
	op = (struct etcd_op){ETCD_OP_PUT, KEY_CM, key_val, strlen(key_val), c->lease_id};
	if (etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &won) == 0 && won)
		cm_set(c, c->me);
}

static void clm_step(clm *c)
{
	uint64_t deadline = __atomic_load_n(&c->lease_deadline_ns, __ATOMIC_ACQUIRE);
	char why[160];
	int rc;

	if (c->lease_id && mm_now_ns() >= deadline) {
		mm_warn(SUB, "lease lapsed (no renewal within failureDetectionTime %us): "
			"stopping lease-bound work", lease_ttl_s(c));
		pthread_mutex_lock(&c->lock);
		c->expels++;
		pthread_mutex_unlock(&c->lock);
		lease_lost(c, "lease lapsed; rejoining");
		emit(c, CLM_EV_NODE_EXPELLED, c->me, NULL, NULL);
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
				" expired at the CCR", (uint64_t)c->lease_id);
			pthread_mutex_lock(&c->lock);
			c->expels++;
			pthread_mutex_unlock(&c->lock);
			lease_lost(c, "expelled; rejoining");
			emit(c, CLM_EV_NODE_EXPELLED, c->me, NULL, NULL);
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
 * members.c to finish or undo. Separate from the clm thread because etcd
 * membership calls may take seconds, which lease renewal cannot wait for.
 */
static void *fix_main(void *arg)
{
	clm *c = arg;

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
		if (!c->stop)
			mm_cond_wait_ms(&c->fix_wake, &c->lock, 1000);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- 5. configuration transactions and listing -------------------- */

static int config_snapshot(clm *c, struct etcd_kv **kvs, size_t *n, int64_t *ver_rev,
			   int64_t *ver)
{
	struct etcd_kv v = {0};
	int rc;

	rc = etcd_get(c->etcd, KEY_CONFIGVER, &v, NULL);
	if (rc == MM_ENOENT) {
		*ver_rev = 0;
		*ver = 0;
	} else if (rc) {
		return rc;
	} else {
		*ver_rev = v.mod_rev;
		if (mm_parse_i64(v.value, ver))
			*ver = 0;
		etcd_kv_clear(&v);
	}
	return etcd_get_prefix(c->etcd, KEY_CONFIG, kvs, n, NULL);
}

int clm_config_change(clm *c, const char *const *names, const char *const *values,
		      size_t n, const char *const *nodes, size_t nnodes,
		      char *err, size_t errsz)
{
	size_t nkeys = n * (nnodes ? nnodes : 1);
	char (*keys)[512] = NULL, (*canon)[256] = NULL, verbuf[32];
	struct etcd_op *ops = NULL;
	int rc = MM_OK;

	err[0] = '\0';
	if (n == 0) {
		snprintf(err, errsz, "no attribute given");
		return MM_EINVAL;
	}
	for (size_t j = 0; j < nnodes; j++) {
		pthread_mutex_lock(&c->lock);
		bool known = cfg_cluster_node(&c->cluster, nodes[j]) != NULL;
		pthread_mutex_unlock(&c->lock);
		if (!known) {
			snprintf(err, errsz, "node %s does not belong to this cluster", nodes[j]);
			return MM_ENOENT;
		}
	}
	keys = calloc(nkeys, sizeof(*keys));
	canon = calloc(n, sizeof(*canon));
	ops = calloc(nkeys + 1, sizeof(*ops));
	if (!keys || !canon || !ops) {
		rc = MM_ENOMEM;
		goto out;
	}
	/* validate every value first: nothing is written if one is bad */
	for (size_t i = 0; i < n; i++) {
		const struct cfg_attr *a = cfg_attr_find(names[i]);

		if (!a) {
			cfg_set *tmp = cfg_set_new();

			rc = tmp ? cfg_set_value(tmp, names[i], values[i], "mmchconfig", err, errsz)
				 : MM_ENOMEM;
			cfg_set_free(tmp);
			if (!rc)
				rc = MM_ENOENT;
			goto out;
		}
		if (nnodes && a->scope != CFG_SCOPE_NODE) {
			snprintf(err, errsz, "mmchconfig: %s is a cluster-wide attribute: -N is not allowed",
				 a->name);
			rc = MM_EINVAL;
			goto out;
		}
		rc = cfg_attr_validate(a, values[i], canon[i], sizeof(canon[i]), "mmchconfig", err, errsz);
		if (rc)
			goto out;
		if (strcasecmp(values[i], "DEFAULT") == 0)
			canon[i][0] = '\0';	/* delete: back to the default */
		for (size_t j = 0; j < (nnodes ? nnodes : 1); j++)
			config_key(keys[i * (nnodes ? nnodes : 1) + j], sizeof(keys[0]),
				   nnodes ? nodes[j] : NULL, a->name);
	}
	for (int attempt = 0; attempt < 20; attempt++) {
		struct etcd_kv *kvs = NULL;
		size_t nkv = 0;
		int64_t ver_rev, ver;
		bool ok = false;
		struct etcd_cmp cmp;
		cfg_set *check;

		rc = config_snapshot(c, &kvs, &nkv, &ver_rev, &ver);
		if (rc) {
			snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
			goto out;
		}
		/* the result as a whole must be valid (cross-attribute rules) */
		check = cfg_set_new();
		if (!check) {
			etcd_kvs_free(kvs, nkv);
			rc = MM_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < cfg_attr_count() && !rc; i++) {
			const char *name = cfg_attr_at(i)->name;
			const char *v = effective_value(kvs, nkv, NULL, name);

			for (size_t k = 0; k < n; k++)
				if (!nnodes && strcasecmp(names[k], name) == 0)
					v = canon[k][0] ? canon[k] : NULL;
			if (v)
				rc = cfg_set_value(check, name, v, "CCR", err, errsz);
		}
		if (!rc)
			rc = cfg_set_check(check, err, errsz);
		cfg_set_free(check);
		etcd_kvs_free(kvs, nkv);
		if (rc)
			goto out;

		for (size_t k = 0; k < nkeys; k++) {
			const char *v = canon[k / (nnodes ? nnodes : 1)];

			ops[k] = (struct etcd_op){v[0] ? ETCD_OP_PUT : ETCD_OP_DELETE, keys[k], v,
						  strlen(v), 0};
		}
		snprintf(verbuf, sizeof(verbuf), "%" PRId64, ver + 1);
		ops[nkeys] = (struct etcd_op){ETCD_OP_PUT, KEY_CONFIGVER, verbuf, strlen(verbuf), 0};
		cmp = (struct etcd_cmp){KEY_CONFIGVER, ver_rev ? ETCD_CMP_MOD : ETCD_CMP_CREATE,
					ETCD_EQUAL, ver_rev, NULL};
		rc = etcd_txn(c->etcd, &cmp, 1, ops, nkeys + 1, NULL, 0, &ok);
		if (rc) {
			snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
			goto out;
		}
		if (ok) {
			mm_notice(SUB, "configuration version %s committed (%zu attribute%s)",
				  verbuf, n, n == 1 ? "" : "s");
			goto out;
		}
		mm_info(SUB, "configuration update raced with another one: retrying");
		mm_sleep_ms((unsigned)(rand() % 20 + 1));
	}
	snprintf(err, errsz, "too many concurrent configuration changes; try again");
	rc = MM_ECONFLICT;
out:
	free(keys);
	free(canon);
	free(ops);
	return rc;
}

int clm_config_list(clm *c, struct cfg_cluster *def, struct clm_config_value **vals, size_t *nvals)
{
	struct etcd_kv *kvs = NULL;
	struct clm_config_value *v;
	size_t n = 0, k = 0;
	int rc;

	*vals = NULL;
	*nvals = 0;
	rc = etcd_get_prefix(c->etcd, KEY_CONFIG, &kvs, &n, NULL);
	if (rc)
		return rc;
	rc = clm_cluster_copy(c, def);
	v = rc ? NULL : calloc(n + 1, sizeof(*v));
	if (!rc && !v)
		rc = MM_ENOMEM;
	if (rc) {
		etcd_kvs_free(kvs, n);
		return rc;
	}
	/* cluster-wide values, in attribute table order */
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;
		const char *val = effective_value(kvs, n, NULL, name);

		if (!val)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", name);
		snprintf(v[k].value, sizeof(v[k].value), "%s", val);
		k++;
	}
	/* per-node values: by node number, then in key (attribute name) order */
	for (size_t j = 0; j < def->nnodes; j++) {
		char prefix[512];
		size_t pl;

		snprintf(prefix, sizeof(prefix), KEY_CONFIG_NODE "%s/", def->nodes[j].name);
		pl = strlen(prefix);
		for (size_t i = 0; i < n && k < n; i++) {
			if (strncmp(kvs[i].key, prefix, pl) != 0)
				continue;
			snprintf(v[k].node, sizeof(v[k].node), "%s", def->nodes[j].name);
			snprintf(v[k].name, sizeof(v[k].name), "%s", kvs[i].key + pl);
			snprintf(v[k].value, sizeof(v[k].value), "%s", kvs[i].value);
			k++;
		}
	}
	etcd_kvs_free(kvs, n);
	*vals = v;
	*nvals = k;
	return MM_OK;
}

int clm_cluster_read(clm *c, struct cfg_cluster *out, int64_t *mod_rev)
{
	struct etcd_kv kv = {0};
	char err[256];
	int rc = etcd_get(c->etcd, KEY_CLUSTER, &kv, NULL);

	if (rc)
		return rc;
	rc = cfg_cluster_parse(out, kv.value, "CCR " KEY_CLUSTER, err, sizeof(err));
	if (rc)
		mm_error(SUB, "%s", err);
	if (mod_rev)
		*mod_rev = kv.mod_rev;
	etcd_kv_clear(&kv);
	return rc;
}

int clm_cluster_write(clm *c, const struct cfg_cluster *def, int64_t expect_rev)
{
	struct etcd_cmp cmp = {KEY_CLUSTER, ETCD_CMP_MOD, ETCD_EQUAL, expect_rev, NULL};
	struct etcd_op op;
	char *text = NULL;
	bool ok = false;
	int rc = cfg_cluster_format(def, &text);

	if (rc)
		return rc;
	op = (struct etcd_op){ETCD_OP_PUT, KEY_CLUSTER, text, strlen(text), 0};
	rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);
	free(text);
	if (rc)
		return rc;
	return ok ? MM_OK : MM_ECONFLICT;
}

int clm_ccr_create(clm *c, const char *const *keys, const char *const *values, size_t n,
		   char *err, size_t errsz)
{
	struct etcd_cmp *cmp = calloc(n + 1, sizeof(*cmp));
	struct etcd_op *ops = calloc(n + 1, sizeof(*ops));
	bool ok = false;
	int rc;

	if (!cmp || !ops) {
		free(cmp);
		free(ops);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		cmp[i] = (struct etcd_cmp){keys[i], ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
		ops[i] = (struct etcd_op){ETCD_OP_PUT, keys[i], values[i], strlen(values[i]), 0};
	}
	rc = etcd_txn(c->etcd, cmp, n, ops, n, NULL, 0, &ok);
	free(cmp);
	free(ops);
	if (rc) {
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
		return rc;
	}
	if (ok)
		return MM_OK;
	for (size_t i = 0; i < n; i++) {
		struct etcd_kv kv = {0};

		if (etcd_get(c->etcd, keys[i], &kv, NULL) == MM_OK) {
			etcd_kv_clear(&kv);
			snprintf(err, errsz, "%s already exists", keys[i]);
			return MM_EEXIST;
		}
	}
	snprintf(err, errsz, "the CCR changed meanwhile; try again");
	return MM_ECONFLICT;
}

int clm_ccr_list(clm *c, const char *prefix, struct etcd_kv **kvs, size_t *n)
{
	return etcd_get_prefix(c->etcd, prefix, kvs, n, NULL);
}

int clm_ccr_delete(clm *c, const char *key, int64_t mod_rev)
{
	struct etcd_cmp cmp = {key, ETCD_CMP_MOD, ETCD_EQUAL, mod_rev, NULL};
	struct etcd_op op = {ETCD_OP_DELETE, key, NULL, 0, 0};
	bool ok = false;
	int rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);

	return rc ? rc : ok ? MM_OK : MM_ECONFLICT;
}

/* ---- 6. life cycle and getters ------------------------------------ */

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
	char buf[4096] = "|";
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
	c->tls_ca = cfg->tls.ca_file ? strdup(cfg->tls.ca_file) : NULL;
	c->tls_cert = cfg->tls.cert_file ? strdup(cfg->tls.cert_file) : NULL;
	c->tls_key = cfg->tls.key_file ? strdup(cfg->tls.key_file) : NULL;
	/* which attributes the local settings file pinned (never overridden) */
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;
		bool in_def = false;

		for (size_t k = 0; k < c->cluster.nattrs; k++)
			if (strcasecmp(c->cluster.attr_names[k], name) == 0)
				in_def = true;
		if (!cfg_is_default(c->cfg, name) && !in_def &&
		    strlen(buf) + strlen(name) + 2 < sizeof(buf)) {
			strcat(buf, name);
			strcat(buf, "|");
		}
	}
	c->local_attrs = strdup(buf);
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
	if (c->nsubs >= MAX_SUBS || c->thread_running)
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
	__atomic_store_n(&c->lease_deadline_ns, 0, __ATOMIC_RELEASE);
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
	free(c->leaving);
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
	uint64_t d = __atomic_load_n(&c->lease_deadline_ns, __ATOMIC_ACQUIRE);

	return d && mm_now_ns() < d;
}

uint64_t clm_lease_since_ns(clm *c)
{
	return __atomic_load_n(&c->lease_since_ns, __ATOMIC_ACQUIRE);
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
	uint64_t d = __atomic_load_n(&c->lease_deadline_ns, __ATOMIC_ACQUIRE), now = mm_now_ns();

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
	in = set_has(c->members, c->nmembers, node);
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
