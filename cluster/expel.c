/*
 * cluster/expel.c - expel requests: a node that cannot reach another asks
 * the cluster manager to expel it (GPFS: the token layer's rule that when
 * a connection breaks one of the two nodes goes, so nobody waits forever
 * for a lost revoke or answer), and mmexpelnode asks the same by hand.
 *
 * Entry points (cluster/clm.h): clm_request_expel, clm_expel_node,
 * clm_expel_list; for clm.c (cluster/clm_int.h): clm_expel_manage (the
 * cluster manager's "ccr-fix" thread), clm_expel_requester_locked; pure,
 * for the unit tests: clm_expel_decide, clm_expelreq_format/parse/target.
 *
 * Map of this file:
 *   1. the request record; the decision (pure)
 *   2. the cluster manager's work (ccr-fix thread)
 *   3. requests any active node makes
 *
 * A request is /mmfs/expelreq/<target>, bound to the requester's lease:
 * it goes with its requester, so a requester that is itself expelled or
 * shuts down leaves nothing behind. The cluster manager reads each one
 * with the member keys of both nodes (their create revisions tell a
 * rejoined target from the one reported), decides (clm_expel_decide),
 * revokes the victim's lease and deletes the request. Related:
 * cluster/clm.c (the watch kicks the ccr-fix thread on a request; the
 * victim finds its lease gone at its next renewal, which its watch
 * brings forward), cluster/README.md (the key, invariant 14).
 */
#include "cluster/clm.h"
#include "cluster/clm_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "cluster"
#define POLL_MS 100
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- 1. the record and the decision ------------------------------ */

static void req_key(char *buf, size_t sz, uint32_t node)
{
	snprintf(buf, sz, CLM_KEY_EXPELREQ "%u", node);
}

static void member_key(char *buf, size_t sz, uint32_t node)
{
	snprintf(buf, sz, CLM_KEY_MEMBERS "%u", node);
}

/* A node number: decimal digits only, 1 .. UINT32_MAX. */
static uint32_t parse_num(const char *s, size_t len)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

uint32_t clm_expelreq_target(const char *key)
{
	size_t pl = strlen(CLM_KEY_EXPELREQ);

	if (!key || strncmp(key, CLM_KEY_EXPELREQ, pl) != 0)
		return 0;
	return parse_num(key + pl, strlen(key + pl));
}

int clm_expelreq_format(char *buf, size_t sz, uint32_t from, uint64_t at, bool named,
			const char *why)
{
	char w[CLM_EXPEL_WHY_MAX];
	size_t i = 0;

	/* one line of printable text: the value ends with it */
	for (; why && why[i] && i < sizeof(w) - 1; i++)
		w[i] = (unsigned char)why[i] < 0x20 || why[i] == 0x7f ? ' ' : why[i];
	w[i] = '\0';
	if (!from)
		return MM_EINVAL;
	if ((size_t)snprintf(buf, sz, "from=%u at=%" PRIu64 " named=%d why=%s", from, at, named, w) >= sz)
		return MM_ETOOBIG;
	return MM_OK;
}

int clm_expelreq_parse(const char *val, struct clm_expelreq *out)
{
	const char *p = val;

	memset(out, 0, sizeof(*out));
	if (!val)
		return MM_EPROTO;
	for (;;) {
		const char *w, *eq;
		size_t len;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (strncmp(p, "why=", 4) == 0) {
			/* the rest of the value, spaces and all */
			snprintf(out->why, sizeof(out->why), "%s", p + 4);
			break;
		}
		w = p;
		while (*p && *p != ' ')
			p++;
		len = (size_t)(p - w);
		eq = memchr(w, '=', len);
		if (!eq)
			return MM_EPROTO;
		if ((size_t)(eq - w) == 4 && strncmp(w, "from", 4) == 0) {
			if (!(out->from = parse_num(eq + 1, (size_t)(p - eq - 1))))
				return MM_EPROTO;
		} else if ((size_t)(eq - w) == 2 && strncmp(w, "at", 2) == 0) {
			char num[24];
			int64_t v;

			if ((size_t)(p - eq - 1) >= sizeof(num))
				return MM_EPROTO;
			snprintf(num, sizeof(num), "%.*s", (int)(p - eq - 1), eq + 1);
			if (!isdigit((unsigned char)num[0]) || mm_parse_i64(num, &v) || v < 0)
				return MM_EPROTO;
			out->at = (uint64_t)v;
		} else if ((size_t)(eq - w) == 5 && strncmp(w, "named", 5) == 0) {
			if (p - eq - 1 != 1 || (eq[1] != '0' && eq[1] != '1'))
				return MM_EPROTO;
			out->named = eq[1] == '1';
		}
		/* fields of later versions are passed over */
	}
	return out->from ? MM_OK : MM_EPROTO;
}

enum clm_expel_verdict clm_expel_decide(const struct clm_expel_in *in, uint32_t *victim)
{
	uint32_t v = in->target;

	*victim = 0;
	if (!in->requester_active)
		return CLM_EXPEL_DROP_REQUESTER_GONE;
	if (!in->target_active)
		return CLM_EXPEL_DROP_TARGET_GONE;
	/* a member key made after the request: a new incarnation, not the
	 * node the requester could not reach */
	if (in->target_rev > in->req_rev)
		return CLM_EXPEL_DROP_REJOINED;
	if (!in->named) {
		/* GPFS's default: the reported node, but never the cluster
		 * manager, and keep quorum nodes over the others */
		if (in->target == in->cm)
			v = in->requester;
		else if (in->target_quorum && !in->requester_quorum && !in->target_unreachable)
			v = in->requester;
	}
	if (v == in->cm)
		return CLM_EXPEL_DROP_CM;
	if (!in->named)
		for (size_t i = 0; i < in->nhist; i++) {
			const struct clm_expel_hist *h = &in->hist[i];

			if (h->victim == v && h->requester == in->requester &&
			    in->now_ms - h->at_ms < (uint64_t)CLM_EXPEL_HOLDOFF_S * 1000)
				return CLM_EXPEL_DROP_RECENT;
		}
	*victim = v;
	return v == in->target ? CLM_EXPEL_TARGET : CLM_EXPEL_REQUESTER;
}

const char *clm_expel_verdict_text(enum clm_expel_verdict v)
{
	switch (v) {
	case CLM_EXPEL_TARGET:
		return "expel the reported node";
	case CLM_EXPEL_REQUESTER:
		return "expel the requester instead";
	case CLM_EXPEL_DROP_TARGET_GONE:
		return "the reported node is not an active member";
	case CLM_EXPEL_DROP_REQUESTER_GONE:
		return "the requester is not an active member";
	case CLM_EXPEL_DROP_REJOINED:
		return "the reported node rejoined after the request";
	case CLM_EXPEL_DROP_CM:
		return "the cluster manager is not expelled this way";
	case CLM_EXPEL_DROP_RECENT:
		return "the same requester had it expelled less than " STR(CLM_EXPEL_HOLDOFF_S)
		       " s ago";
	}
	return "?";
}

/* ---- 2. the cluster manager's work ------------------------------- */

/* Node <node>'s member key: *active false if it is absent or "leaving". */
static int member_read(clm *c, uint32_t node, struct etcd_kv *kv, bool *active)
{
	char key[64];
	int rc;

	member_key(key, sizeof(key), node);
	rc = etcd_get(c->etcd, key, kv, NULL);
	*active = rc == MM_OK && strncmp(kv->value, "leaving", 7) != 0;
	return rc == MM_ENOENT ? MM_OK : rc;
}

/* Delete request <req> if it is still the one read. */
static int req_delete(clm *c, const struct etcd_kv *req)
{
	struct etcd_cmp cmp = {req->key, ETCD_CMP_MOD, ETCD_EQUAL, req->mod_rev, NULL};
	struct etcd_op op = {ETCD_OP_DELETE, req->key, NULL, 0, 0};
	bool ok = false;

	return etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);
}

static bool still_cm(clm *c)
{
	bool mine;

	pthread_mutex_lock(&c->lock);
	mine = c->cm == c->me && c->state == CLM_ACTIVE && !c->stop;
	pthread_mutex_unlock(&c->lock);
	return mine && clm_lease_valid(c);
}

/* With the lock held: forget expels older than the hold-off. */
static void hist_prune_locked(clm *c, uint64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nhist; i++)
		if (now - c->hist[i].at_ms < (uint64_t)CLM_EXPEL_HOLDOFF_S * 1000)
			c->hist[k++] = c->hist[i];
	c->nhist = k;
}

uint32_t clm_expel_requester_locked(clm *c, uint32_t victim)
{
	uint64_t now = mm_now_ms();

	for (size_t i = c->nhist; i-- > 0;)
		if (c->hist[i].victim == victim && now - c->hist[i].at_ms < 10000)
			return c->hist[i].requester;
	return 0;
}

/* Serve one request; non-zero if it should be looked at again soon. */
static int serve_one(clm *c, const struct etcd_kv *req)
{
	struct clm_expelreq r;
	struct etcd_kv tk = {0}, rk = {0};
	const struct etcd_kv *vk;
	struct clm_expel_in in = {0};
	enum clm_expel_verdict v;
	char tname[256], rname[256];
	uint32_t target = clm_expelreq_target(req->key), victim = 0;
	bool mine;
	int rc;

	if (!target || clm_expelreq_parse(req->value, &r)) {
		mm_warn(SUB, "dropping malformed expel request %s: \"%s\"", req->key, req->value);
		return req_delete(c, req);
	}
	r.target = target;
	rc = member_read(c, r.target, &tk, &in.target_active);
	if (!rc)
		rc = member_read(c, r.from, &rk, &in.requester_active);
	if (rc)
		goto out;
	in.target = r.target;
	in.requester = r.from;
	in.named = r.named;
	in.req_rev = req->create_rev;
	in.target_rev = in.target_active ? tk.create_rev : 0;
	in.now_ms = mm_now_ms();
	/* is the reported node there at all? (a dead node's peers report it
	 * before its lease lapses; the quorum preference must not expel the
	 * live requester for it) */
	if (!in.named && in.target_active && c->probe && r.target != c->me)
		in.target_unreachable = c->probe(c->probe_arg, r.target) != MM_OK;
	pthread_mutex_lock(&c->lock);
	mine = c->cm == c->me && c->state == CLM_ACTIVE;
	in.cm = c->me;
	in.target_quorum = clm_node_quorum_locked(c, r.target);
	in.requester_quorum = clm_node_quorum_locked(c, r.from);
	hist_prune_locked(c, in.now_ms);
	in.hist = c->hist;
	in.nhist = c->nhist;
	v = clm_expel_decide(&in, &victim);
	snprintf(tname, sizeof(tname), "%s", clm_node_name_locked(c, r.target));
	snprintf(rname, sizeof(rname), "%s", clm_node_name_locked(c, r.from));
	pthread_mutex_unlock(&c->lock);
	if (!mine)
		goto out;	/* the new cluster manager serves it */
	if (v != CLM_EXPEL_TARGET && v != CLM_EXPEL_REQUESTER) {
		if (v == CLM_EXPEL_DROP_RECENT || v == CLM_EXPEL_DROP_CM)
			mm_notice(SUB, "not expelling at the request of node %u (%s) about node %u (%s) "
				  "(%s): %s", r.from, rname, r.target, tname, r.why, clm_expel_verdict_text(v));
		else
			mm_info(SUB, "dropping the request of node %u (%s) to expel node %u (%s): %s",
				r.from, rname, r.target, tname, clm_expel_verdict_text(v));
		rc = req_delete(c, req);
		goto out;
	}
	vk = victim == r.target ? &tk : &rk;
	if (!vk->lease) {
		mm_warn(SUB, "cannot expel node %u: its member key has no lease; dropping the request",
			victim);
		rc = req_delete(c, req);
		goto out;
	}
	/* recorded first: the watch may show the member key gone before
	 * etcd_lease_revoke returns */
	pthread_mutex_lock(&c->lock);
	if (c->nhist == CLM_EXPEL_HIST)
		memmove(&c->hist[0], &c->hist[1], (CLM_EXPEL_HIST - 1) * sizeof(c->hist[0]));
	else
		c->nhist++;
	c->hist[c->nhist - 1] = (struct clm_expel_hist){victim, r.from, in.now_ms};
	pthread_mutex_unlock(&c->lock);
	if (v == CLM_EXPEL_TARGET)
		mm_notice(SUB, "expelling node %u (%s) at the request of node %u (%s): %s", victim,
			  tname, r.from, rname, r.why);
	else
		mm_notice(SUB, "expelling node %u (%s), the requester, instead of node %u (%s), which "
			  "it asked to expel (%s): %s", victim, rname, r.target, tname, r.why,
			  r.target == in.cm ? "that node is the cluster manager"
					    : "that node is a quorum node and the requester is not");
	/* the role may have gone while we read: never act on an old view */
	rc = still_cm(c) ? etcd_lease_revoke(c->etcd, vk->lease) : MM_ESTATE;
	if (rc && rc != MM_ENOENT) {
		if (rc == MM_ESTATE)
			mm_warn(SUB, "expel of node %u not done: this node is no longer the cluster "
				"manager", victim);
		else
			mm_warn(SUB, "expel of node %u not done (%s): looking again", victim,
				mm_strerror(rc));
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->nhist; i++)
			if (c->hist[i].victim == victim && c->hist[i].at_ms == in.now_ms) {
				memmove(&c->hist[i], &c->hist[i + 1], (c->nhist - i - 1) * sizeof(c->hist[0]));
				c->nhist--;
				break;
			}
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	/* gone already if the requester was the victim (its lease held it) */
	rc = req_delete(c, req);
out:
	etcd_kv_clear(&tk);
	etcd_kv_clear(&rk);
	return rc == MM_ESTATE ? MM_OK : rc;
}

void clm_expel_manage(clm *c)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	bool again = false;

	if (etcd_get_prefix(c->etcd, CLM_KEY_EXPELREQ, &kvs, &n, NULL))
		again = true;
	for (size_t i = 0; i < n && still_cm(c); i++)
		if (serve_one(c, &kvs[i]))
			again = true;
	etcd_kvs_free(kvs, n);
	if (again) {
		pthread_mutex_lock(&c->lock);
		c->expel_dirty = true;	/* look again shortly */
		pthread_mutex_unlock(&c->lock);
	}
}

/* ---- 3. requests -------------------------------------------------- */

/* Write the request for <node> on this node's lease unless one stands. */
static int put_request(clm *c, uint32_t node, bool named, const char *why, bool *existed,
		       char *err, size_t errsz)
{
	char key[64], val[CLM_EXPEL_WHY_MAX + 96], name[256];
	struct etcd_cmp cmp;
	struct etcd_op op;
	int64_t lease;
	bool known, ok = false;
	int rc;

	*existed = false;
	if (clm_get_state(c) != CLM_ACTIVE) {
		snprintf(err, errsz, "this node is not active (no quorum or no lease): it cannot ask "
			 "for an expel now");
		return MM_ESTATE;
	}
	pthread_mutex_lock(&c->lock);
	lease = c->lease_id;
	known = cfg_cluster_node_num(&c->cluster, node) != NULL;
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, node));
	pthread_mutex_unlock(&c->lock);
	if (!known) {
		snprintf(err, errsz, "node %u does not belong to the cluster", node);
		return MM_ENOENT;
	}
	if (!lease) {
		snprintf(err, errsz, "this node holds no lease now");
		return MM_ESTATE;
	}
	req_key(key, sizeof(key), node);
	if ((rc = clm_expelreq_format(val, sizeof(val), c->me, (uint64_t)time(NULL), named, why))) {
		snprintf(err, errsz, "cannot format the request: %s", mm_strerror(rc));
		return rc;
	}
	cmp = (struct etcd_cmp){key, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	op = (struct etcd_op){ETCD_OP_PUT, key, val, strlen(val), lease};
	rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);
	if (rc) {
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
		return rc;
	}
	*existed = !ok;
	if (ok)
		mm_info(SUB, "asked the cluster manager to expel node %u (%s): %s", node, name,
			why ? why : "");
	else
		mm_info(SUB, "a request to expel node %u (%s) is already pending", node, name);
	return MM_OK;
}

int clm_request_expel(clm *c, uint32_t node, const char *why, char *err, size_t errsz)
{
	bool existed;

	return put_request(c, node, false, why, &existed, err, errsz);
}

int clm_expel_node(clm *c, uint32_t node, const char *why, int timeout_ms, char *err,
		   size_t errsz)
{
	struct etcd_kv kv = {0};
	char name[256], key[64];
	uint32_t cm = clm_cluster_manager(c);
	uint64_t end;
	int64_t rev0;
	bool active, existed;
	int rc;

	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, node));
	pthread_mutex_unlock(&c->lock);
	if (node && node == cm) {
		snprintf(err, errsz, "node %s is the cluster manager and cannot be expelled: use "
			 "mmchmgr -c first to move the role to another quorum node", name);
		return MM_EINVAL;
	}
	if (!cm) {
		snprintf(err, errsz, "there is no cluster manager now (an election is under way); "
			 "try again");
		return MM_ESTATE;
	}
	rc = member_read(c, node, &kv, &active);
	rev0 = kv.create_rev;
	etcd_kv_clear(&kv);
	if (rc) {
		snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
		return rc;
	}
	if (!active) {
		snprintf(err, errsz, "node %s is not active", name);
		return MM_ESTATE;
	}
	if ((rc = put_request(c, node, true, why, &existed, err, errsz)))
		return rc;
	req_key(key, sizeof(key), node);
	end = mm_now_ms() + (uint64_t)timeout_ms;
	while (mm_now_ms() < end) {
		bool pending;

		/* gone, or a new incarnation already: expelled */
		if (member_read(c, node, &kv, &active) == MM_OK && (!active || kv.create_rev != rev0)) {
			etcd_kv_clear(&kv);
			return MM_OK;
		}
		etcd_kv_clear(&kv);
		rc = etcd_get(c->etcd, key, &kv, NULL);
		pending = rc != MM_ENOENT;
		etcd_kv_clear(&kv);
		if (!pending) {
			/* the cluster manager revokes before it deletes: look once more */
			if (member_read(c, node, &kv, &active) == MM_OK && (!active || kv.create_rev != rev0)) {
				etcd_kv_clear(&kv);
				return MM_OK;
			}
			etcd_kv_clear(&kv);
			snprintf(err, errsz, "the cluster manager did not expel node %s (its log says why)",
				 name);
			return MM_ESTATE;
		}
		mm_sleep_ms(POLL_MS);
	}
	snprintf(err, errsz, "node %s was not expelled within %d s%s", name, timeout_ms / 1000,
		 existed ? " (a request for it was already pending)" : "");
	return MM_ETIMEDOUT;
}

static int req_cmp(const void *a, const void *b)
{
	const struct clm_expelreq *x = a, *y = b;

	return x->target < y->target ? -1 : x->target > y->target;
}

int clm_expel_list(clm *c, struct clm_expelreq **out, size_t *n)
{
	struct etcd_kv *kvs = NULL;
	size_t nk = 0;
	int rc = etcd_get_prefix(c->etcd, CLM_KEY_EXPELREQ, &kvs, &nk, NULL);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	*out = calloc(nk + 1, sizeof(**out));
	if (!*out) {
		etcd_kvs_free(kvs, nk);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nk; i++) {
		struct clm_expelreq *r = &(*out)[*n];
		uint32_t t = clm_expelreq_target(kvs[i].key);

		if (!t || clm_expelreq_parse(kvs[i].value, r))
			continue;	/* the cluster manager drops it */
		r->target = t;
		(*n)++;
	}
	qsort(*out, *n, sizeof(**out), req_cmp);
	etcd_kvs_free(kvs, nk);
	return MM_OK;
}
