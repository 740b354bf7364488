/*
 * cluster/members.c - changing who is in the cluster while it runs:
 * mmaddnode, mmdelnode, mmchnode --quorum/--nonquorum/--manager/--client.
 *
 * Two records must agree: etcd's voting members and the quorum nodes of
 * the cluster definition in the CCR. A change touches both, and either
 * step can fail (etcd refuses or dies, the node doing it freezes, the CCR
 * write is lost), so every change runs as a recorded transaction:
 *
 *   1. validate the new definition against the CCR's (revision R), and
 *      refuse a change that would leave etcd without a majority of its
 *      voting members up;
 *   2. record it: one transaction puts CLM_KEY_CHANGE (owner, owner's
 *      lease, target definition) iff the definition is still at R and no
 *      other change is recorded;
 *   3. change etcd's membership one member at a time, talking only to
 *      members that stay (clm_use_endpoints);
 *   4. commit: one transaction writes the new definition and deletes the
 *      record iff the record is still ours.
 *
 * When a step fails, settle() brings the two into agreement at once:
 * removals are finished where etcd allows (a removed member cannot be
 * brought back), additions are undone, and the definition that matches
 * etcd's membership is written together with the record's deletion. If
 * even that cannot be written (no quorum, the owner frozen or dead), the
 * record stays, and the cluster manager's "ccr-fix" thread takes the
 * change over once its owner's lease is gone (clm_change_resolve) and
 * settles it the same way. The owner checks before every etcd step that
 * the record is still its own, so a thawed owner stops instead of racing
 * the one that took over.
 *
 * Quorum rules (as GPFS's): at least one quorum node always; after the
 * change, the quorum nodes that are active and already run an etcd member
 * must be a majority of the new quorum nodes (a new member counts as down
 * until it has started).
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clm.h"
#include "cluster/clm_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"

#define SUB "cluster"
#define TAKEOVER_AGE_MS 120000u	/* longer than any command waits for a change */

static int peer_url(const struct cfg_cluster *def, const struct cfg_node *n, char *buf, size_t sz)
{
	return snprintf(buf, sz, "https://%s:%u", n->ip, def->etcd_peer_port) < (int)sz ? 0 : MM_ETOOBIG;
}

/*
 * etcd refuses a new voting member ("unhealthy cluster", which we see as
 * MM_ENOQUORUM) until every member has been connected for its health
 * interval (5 s): right after a start or a member change, wait that out.
 * It also derives a member's id from its peer URL and the current second,
 * so re-adding a URL removed within the same second collides with the
 * removed id ("member not found", MM_ENOENT): wait for the next second.
 */
static int member_add(clm *c, const char *url, uint64_t *id)
{
	uint64_t end = mm_now_ms() + 15000;
	int rc;

	for (;;) {
		rc = etcd_member_add(clm_etcd(c), url, id);
		if ((rc != MM_ENOQUORUM && rc != MM_ENOENT) || mm_now_ms() >= end)
			return rc;
		mm_info(SUB, "etcd not ready to add member %s yet: retrying", url);
		mm_sleep_ms(500);
	}
}

static bool is_member(const uint32_t *m, size_t nm, uint32_t num)
{
	for (size_t i = 0; i < nm; i++)
		if (m[i] == num)
			return true;
	return false;
}

/* Find the etcd member of node <n> by its peer URL. */
static int find_member(clm *c, const struct cfg_cluster *def, const struct cfg_node *n, uint64_t *id)
{
	struct etcd_member *ms = NULL;
	size_t nms = 0;
	char url[128];
	int rc = etcd_member_list(clm_etcd(c), &ms, &nms);

	if (rc)
		return rc;
	peer_url(def, n, url, sizeof(url));
	rc = MM_ENOENT;
	for (size_t i = 0; i < nms; i++)
		if (strcmp(ms[i].peer_url, url) == 0) {
			*id = ms[i].id;
			rc = MM_OK;
		}
	free(ms);
	return rc;
}

/* The CCR's cluster definition and its revision, for a later CAS. */
static int read_def(clm *c, struct cfg_cluster *def, int64_t *rev, char *err, size_t errsz)
{
	int rc;

	cfg_cluster_init(def);
	rc = clm_cluster_read(c, def, rev);
	if (rc)
		snprintf(err, errsz, "cannot read the cluster definition: %s", mm_strerror(rc));
	return rc;
}

int clm_etcd_initial_cluster(clm *c, const char *extra, char **out)
{
	struct etcd_member *ms = NULL;
	struct mm_sb b = MM_SB_INIT;
	size_t nms = 0;
	int rc = etcd_member_list(clm_etcd(c), &ms, &nms);

	if (rc)
		return rc;
	for (size_t i = 0; i < nms; i++) {
		/* a member added but not started yet has no name: skip it,
		 * <extra> names the one being started */
		if (ms[i].name[0])
			mm_sb_printf(&b, "%s%s=%s", b.len ? "," : "", ms[i].name, ms[i].peer_url);
	}
	if (extra)
		mm_sb_printf(&b, "%s%s", b.len ? "," : "", extra);
	free(ms);
	*out = mm_sb_steal(&b);
	return *out ? MM_OK : MM_ENOMEM;
}

/* ---- test faults -------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	char point[16];		/* "intent", "etcd", "commit"; "" disarmed */
	unsigned nth;		/* for "etcd": the nth membership operation */
	char action[16];	/* "fail", "pause", "stop" */
	unsigned secs;		/* pause */
} fault = {.lock = PTHREAD_MUTEX_INITIALIZER};

int clm_change_fault(const char *point, unsigned nth, const char *action, unsigned secs)
{
	if (point && *point && strcmp(point, "intent") != 0 && strcmp(point, "etcd") != 0 &&
	    strcmp(point, "commit") != 0)
		return MM_EINVAL;
	if (point && *point && strcmp(action, "fail") != 0 && strcmp(action, "pause") != 0 &&
	    strcmp(action, "stop") != 0)
		return MM_EINVAL;
	pthread_mutex_lock(&fault.lock);
	snprintf(fault.point, sizeof(fault.point), "%s", point ? point : "");
	snprintf(fault.action, sizeof(fault.action), "%s", action ? action : "");
	fault.nth = nth ? nth : 1;
	fault.secs = secs;
	pthread_mutex_unlock(&fault.lock);
	return MM_OK;
}

/* MM_EIO if an armed "fail" fault fires at <point> (step <idx>); a pause
 * or stop fault delays and returns 0. Each fault fires once. */
static int fault_at(const char *point, unsigned idx)
{
	char action[16];
	unsigned secs;

	pthread_mutex_lock(&fault.lock);
	if (strcmp(fault.point, point) != 0 || (strcmp(point, "etcd") == 0 && idx != fault.nth)) {
		pthread_mutex_unlock(&fault.lock);
		return MM_OK;
	}
	snprintf(action, sizeof(action), "%s", fault.action);
	secs = fault.secs;
	fault.point[0] = '\0';
	pthread_mutex_unlock(&fault.lock);
	mm_notice(SUB, "test: membership change fault at %s %u: %s", point, idx, action);
	if (strcmp(action, "fail") == 0)
		return MM_EIO;
	if (strcmp(action, "stop") == 0)
		raise(SIGSTOP);
	else
		mm_sleep_ms(secs * 1000);
	mm_notice(SUB, "test: membership change goes on after the fault at %s", point);
	return MM_OK;
}

/* ---- etcd membership -------------------------------------------------- */

/* Node numbers of <def> that are etcd members now; *out malloc'd. */
static int etcd_nodes(clm *c, const struct cfg_cluster *a, const struct cfg_cluster *b,
		      uint32_t **out, size_t *n)
{
	struct etcd_member *ms = NULL;
	size_t nms = 0;
	uint32_t *v;
	int rc = etcd_member_list(clm_etcd(c), &ms, &nms);

	if (rc)
		return rc;
	v = calloc(a->nnodes + b->nnodes + 1, sizeof(*v));
	*n = 0;
	for (int pass = 0; v && pass < 2; pass++) {
		const struct cfg_cluster *d = pass ? b : a;

		for (size_t i = 0; i < d->nnodes; i++) {
			char url[128];

			if (is_member(v, *n, d->nodes[i].number))
				continue;
			peer_url(d, &d->nodes[i], url, sizeof(url));
			for (size_t k = 0; k < nms; k++)
				if (strcmp(ms[k].peer_url, url) == 0)
					v[(*n)++] = d->nodes[i].number;
		}
	}
	free(ms);
	*out = v;
	return v ? MM_OK : MM_ENOMEM;
}

/* Remove node <n>'s etcd member if it has one; etcd refuses for a few
 * seconds after a start or another change ("unhealthy"), so wait that out. */
static int member_remove(clm *c, const struct cfg_cluster *def, const struct cfg_node *n)
{
	uint64_t end = mm_now_ms() + 15000, id;
	int rc;

	for (;;) {
		rc = find_member(c, def, n, &id);
		if (rc == MM_ENOENT)
			return MM_OK;
		if (rc == MM_OK)
			rc = etcd_member_remove(clm_etcd(c), id);
		if (rc == MM_OK || rc == MM_ENOENT) {
			mm_notice(SUB, "removed etcd member %" PRIx64 " of node %s", id, n->name);
			return MM_OK;
		}
		/* "unhealthy", or no leader for a moment after the last change */
		if ((rc != MM_ENOQUORUM && rc != MM_ETIMEDOUT && rc != MM_EUNREACH) ||
		    mm_now_ms() >= end)
			return rc;
		mm_info(SUB, "etcd not ready to remove the member of %s yet: retrying", n->name);
		mm_sleep_ms(500);
	}
}

/* ---- the change record ------------------------------------------------ */

struct change {
	uint32_t owner;
	int64_t lease;
	char op[32];
	int64_t rev;			/* the record's mod revision */
	struct cfg_cluster target;
};

static int change_encode(uint32_t owner, int64_t lease, const char *op,
			 const struct cfg_cluster *target, char **out)
{
	json_object *o = json_object_new_object();
	char *text = NULL;
	int rc = cfg_cluster_format(target, &text);

	if (!rc && o) {
		json_object_object_add(o, "owner", json_object_new_int64(owner));
		json_object_object_add(o, "lease", json_object_new_int64(lease));
		json_object_object_add(o, "op", json_object_new_string(op));
		json_object_object_add(o, "target", json_object_new_string(text));
		*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		rc = *out ? MM_OK : MM_ENOMEM;
	} else if (!rc) {
		rc = MM_ENOMEM;
	}
	json_object_put(o);
	free(text);
	return rc;
}

/* Read the record: MM_ENOENT if there is none. */
static int change_read(clm *c, struct change *ch)
{
	struct etcd_kv kv = {0};
	json_object *o = NULL, *v;
	char err[256];
	int rc = etcd_get(clm_etcd(c), CLM_KEY_CHANGE, &kv, NULL);

	memset(ch, 0, sizeof(*ch));
	cfg_cluster_init(&ch->target);
	if (rc)
		return rc;
	ch->rev = kv.mod_rev;
	o = json_tokener_parse(kv.value);
	rc = MM_EPROTO;
	if (o && json_object_object_get_ex(o, "owner", &v)) {
		ch->owner = (uint32_t)json_object_get_int64(v);
		if (json_object_object_get_ex(o, "lease", &v))
			ch->lease = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "op", &v))
			snprintf(ch->op, sizeof(ch->op), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "target", &v))
			rc = cfg_cluster_parse(&ch->target, json_object_get_string(v),
					       "CCR " CLM_KEY_CHANGE, err, sizeof(err));
		if (rc)
			mm_error(SUB, "the membership change record is unusable: %s", err);
	}
	json_object_put(o);
	etcd_kv_clear(&kv);
	return rc;
}

/* Is the record still the one at <rev>? MM_ECONFLICT if it changed or
 * went (someone else took the change over). */
static int change_still_ours(clm *c, int64_t rev)
{
	struct etcd_kv kv = {0};
	int rc = etcd_get(clm_etcd(c), CLM_KEY_CHANGE, &kv, NULL);

	if (rc == MM_ENOENT)
		return MM_ECONFLICT;
	if (rc)
		return rc;
	rc = kv.mod_rev == rev ? MM_OK : MM_ECONFLICT;
	etcd_kv_clear(&kv);
	return rc;
}

/* ---- agreement -------------------------------------------------------- */

static int node_cmp(const void *a, const void *b)
{
	const struct cfg_node *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

/*
 * The definition that agrees with etcd membership <em>: every node as in
 * <to> where its quorum flag there matches whether it has an etcd member,
 * else as in <from>; a node new in <to> whose member is missing is left
 * out, a node gone from <to> whose member is still there is kept.
 */
static int merge_defs(const struct cfg_cluster *from, const struct cfg_cluster *to,
		      const uint32_t *em, size_t nem, struct cfg_cluster *out)
{
	char *text = NULL, err[256];
	struct cfg_node *v;
	size_t n = 0;
	int rc = cfg_cluster_format(to, &text);

	if (rc)
		return rc;
	cfg_cluster_init(out);
	rc = cfg_cluster_parse(out, text, "merged definition", err, sizeof(err));
	free(text);
	if (rc)
		return rc;
	v = calloc(from->nnodes + to->nnodes + 1, sizeof(*v));
	if (!v)
		return MM_ENOMEM;
	for (size_t i = 0; i < to->nnodes; i++) {
		const struct cfg_node *t = &to->nodes[i];
		const struct cfg_node *f = cfg_cluster_node_num(from, t->number);
		bool in = is_member(em, nem, t->number);

		if (t->quorum == in || (f && f->quorum == t->quorum))
			v[n++] = *t;
		else if (f)
			v[n++] = *f;
	}
	for (size_t i = 0; i < from->nnodes; i++) {
		const struct cfg_node *f = &from->nodes[i];

		if (!cfg_cluster_node_num(to, f->number) && f->quorum &&
		    is_member(em, nem, f->number))
			v[n++] = *f;
	}
	qsort(v, n, sizeof(*v), node_cmp);
	free(out->nodes);
	out->nodes = v;
	out->nnodes = n;
	out->generation = from->generation + 1;
	return MM_OK;
}

/* Say in <buf> which nodes the settled definition changed and which not. */
/* Returns true if every node of the change got its new shape. */
static bool outcome(const struct cfg_cluster *from, const struct cfg_cluster *to,
		    const struct cfg_cluster *got, char *buf, size_t sz)
{
	size_t len = 0, done = 0, undone = 0;
	char d[512] = "", u[512] = "";
	size_t dl = 0, ul = 0;

	for (int pass = 0; pass < 2; pass++) {
		const struct cfg_cluster *x = pass ? from : to;

		for (size_t i = 0; i < x->nnodes; i++) {
			const struct cfg_node *a = &x->nodes[i];
			const struct cfg_node *f = cfg_cluster_node_num(from, a->number);
			const struct cfg_node *t = cfg_cluster_node_num(to, a->number);
			const struct cfg_node *g = cfg_cluster_node_num(got, a->number);
			bool changed;

			if (pass && t)
				continue;	/* seen in the first pass */
			if (f && t && f->quorum == t->quorum && f->manager == t->manager)
				continue;	/* not part of the change */
			changed = t ? g && g->quorum == t->quorum && g->manager == t->manager : !g;
			if (changed) {
				dl += (size_t)snprintf(d + dl, dl < sizeof(d) ? sizeof(d) - dl : 0, "%s%s",
						       done++ ? ", " : "", a->name);
			} else {
				ul += (size_t)snprintf(u + ul, ul < sizeof(u) ? sizeof(u) - ul : 0, "%s%s",
						       undone++ ? ", " : "", a->name);
			}
		}
	}
	if (done)
		len += (size_t)snprintf(buf + len, len < sz ? sz - len : 0, "changed: %s", d);
	if (undone)
		len += (size_t)snprintf(buf + len, len < sz ? sz - len : 0, "%snot changed: %s",
					done ? "; " : "", u);
	if (!done && !undone)
		snprintf(buf, sz, "nothing to change");
	return undone == 0;
}

/*
 * Bring etcd and the definition into agreement for the change recorded at
 * <rev>, from <from> (the CCR's definition) toward <to>: finish removals,
 * undo additions, then write what matches etcd and delete the record in
 * one transaction. <msg> gets the outcome.
 */
static int settle(clm *c, const struct cfg_cluster *from, const struct cfg_cluster *to,
		  int64_t rev, char *msg, size_t msgsz, bool *complete)
{
	struct cfg_cluster keep, got;
	uint32_t *em = NULL;
	size_t nem = 0;
	int rc;

	/* talk only to members that stay whatever happens */
	cfg_cluster_init(&keep);
	rc = merge_defs(from, to, NULL, 0, &keep);
	if (!rc) {
		for (size_t i = 0; i < keep.nnodes; i++) {
			const struct cfg_node *f = cfg_cluster_node_num(from, keep.nodes[i].number);

			keep.nodes[i].quorum = keep.nodes[i].quorum && f && f->quorum;
		}
		if (cfg_cluster_quorum_count(&keep))
			clm_use_endpoints(c, &keep);
	}
	cfg_cluster_free(&keep);
	for (size_t i = 0; i < from->nnodes; i++) {
		const struct cfg_node *f = &from->nodes[i];
		const struct cfg_node *t = cfg_cluster_node_num(to, f->number);

		if (f->quorum && (!t || !t->quorum) && member_remove(c, from, f) != MM_OK)
			mm_warn(SUB, "cannot finish removing the etcd member of %s yet", f->name);
	}
	for (size_t i = 0; i < to->nnodes; i++) {
		const struct cfg_node *t = &to->nodes[i];
		const struct cfg_node *f = cfg_cluster_node_num(from, t->number);

		if (t->quorum && (!f || !f->quorum) && member_remove(c, to, t) != MM_OK)
			mm_warn(SUB, "cannot undo the etcd member of %s yet", t->name);
	}
	rc = etcd_nodes(c, from, to, &em, &nem);
	if (rc) {
		snprintf(msg, msgsz, "cannot list etcd's members: %s", mm_strerror(rc));
		return rc;
	}
	rc = merge_defs(from, to, em, nem, &got);
	free(em);
	if (rc) {
		snprintf(msg, msgsz, "cannot build the settled definition: %s", mm_strerror(rc));
		return rc;
	}
	if (!cfg_cluster_quorum_count(&got)) {
		cfg_cluster_free(&got);
		snprintf(msg, msgsz, "etcd's membership leaves no quorum node");
		return MM_ESTATE;
	}
	{
		struct etcd_cmp cmp = {CLM_KEY_CHANGE, ETCD_CMP_MOD, ETCD_EQUAL, rev, NULL};
		struct etcd_op ops[2];
		char *text = NULL;
		bool ok = false;

		rc = cfg_cluster_format(&got, &text);
		if (!rc) {
			ops[0] = (struct etcd_op){ETCD_OP_PUT, "/mmfs/cluster", text, strlen(text), 0};
			ops[1] = (struct etcd_op){ETCD_OP_DELETE, CLM_KEY_CHANGE, NULL, 0, 0};
			rc = etcd_txn(clm_etcd(c), &cmp, 1, ops, 2, NULL, 0, &ok);
			if (!rc && !ok)
				rc = MM_ECONFLICT;
		}
		free(text);
	}
	if (rc) {
		snprintf(msg, msgsz, "cannot write the settled definition: %s", mm_strerror(rc));
	} else {
		bool all = outcome(from, to, &got, msg, msgsz);

		if (complete)
			*complete = all;
		mm_notice(SUB, "membership change settled (generation %" PRIu64 "): %s",
			  got.generation, msg);
	}
	cfg_cluster_free(&got);
	return rc;
}

/* ---- one change, start to end ------------------------------------------ */

/* After the change from <from> to <to>, would etcd keep a majority? */
static int check_quorum(clm *c, const struct cfg_cluster *from, const struct cfg_cluster *to,
			char *err, size_t errsz)
{
	uint32_t *m = NULL;
	size_t nm = 0, remain = 0, up = 0;
	int rc = clm_members(c, &m, &nm);

	if (rc)
		return rc;
	for (size_t i = 0; i < to->nnodes; i++) {
		const struct cfg_node *t = &to->nodes[i];
		const struct cfg_node *f = cfg_cluster_node_num(from, t->number);

		if (!t->quorum)
			continue;
		remain++;
		/* a new member counts as down until it has started */
		up += f && f->quorum && is_member(m, nm, t->number);
	}
	free(m);
	if (remain == 0) {
		snprintf(err, errsz, "the cluster must keep at least one quorum node");
		return MM_EINVAL;
	}
	if (up < remain / 2 + 1) {
		snprintf(err, errsz, "the change would leave the cluster without quorum: of the %zu "
			 "quorum node%s it leaves, %zu would be up and %zu %s needed (a new quorum node "
			 "counts as down until it has started)", remain, remain == 1 ? "" : "s", up,
			 remain / 2 + 1, remain / 2 + 1 == 1 ? "is" : "are");
		return MM_ENOQUORUM;
	}
	return MM_OK;
}

/*
 * Carry out the change from <from> (at CCR revision <rev>) to <to>: record
 * it, change etcd's membership, commit; on any failure settle it. <err>
 * names the step that failed, why, and what was done about it.
 */
static int change_run_(clm *c, const char *op, const struct cfg_cluster *from, int64_t rev,
		       struct cfg_cluster *to, char **join, char *err, size_t errsz);

/* change_run_, counted: the ccr-fix thread must not take over a change
 * that a command is still carrying out on this very node. */
static int change_run(clm *c, const char *op, const struct cfg_cluster *from, int64_t rev,
		      struct cfg_cluster *to, char **join, char *err, size_t errsz)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	c->changes_running++;
	pthread_mutex_unlock(&c->lock);
	rc = change_run_(c, op, from, rev, to, join, err, errsz);
	pthread_mutex_lock(&c->lock);
	c->changes_running--;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int change_run_(clm *c, const char *op, const struct cfg_cluster *from, int64_t rev,
		       struct cfg_cluster *to, char **join, char *err, size_t errsz)
{
	struct clm_status st;
	struct change cur;
	char *rec = NULL, step[320] = "", why[256] = "", msg[512] = "";
	int64_t irev = 0;
	unsigned nop = 0, nsteps = 2;
	bool complete = false;
	int rc, src;

	to->generation = from->generation + 1;
	rc = change_read(c, &cur);
	if (rc == MM_OK) {
		snprintf(err, errsz, "a membership change (%s) started by node %u is in progress; "
			 "the cluster manager finishes or undoes it if that node is gone: try again shortly",
			 cur.op, cur.owner);
		cfg_cluster_free(&cur.target);
		return MM_EBUSY;
	}
	cfg_cluster_free(&cur.target);
	if (rc != MM_ENOENT && rc != MM_EPROTO) {
		snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
		return rc;
	}
	rc = check_quorum(c, from, to, err, errsz);
	if (rc)
		return rc;
	for (size_t i = 0; i < to->nnodes; i++) {
		const struct cfg_node *f = cfg_cluster_node_num(from, to->nodes[i].number);

		nsteps += to->nodes[i].quorum != (f && f->quorum);
	}
	for (size_t i = 0; i < from->nnodes; i++)
		nsteps += from->nodes[i].quorum && !cfg_cluster_node_num(to, from->nodes[i].number);

	/* 1. record the change */
	clm_get_status(c, &st);
	rc = change_encode(clm_my_node(c), st.lease_id, op, to, &rec);
	if (!rc) {
		struct etcd_cmp cmp[2] = {
			{"/mmfs/cluster", ETCD_CMP_MOD, ETCD_EQUAL, rev, NULL},
			{CLM_KEY_CHANGE, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL},
		};
		struct etcd_op put = {ETCD_OP_PUT, CLM_KEY_CHANGE, rec, strlen(rec), 0};
		bool ok = false;

		rc = etcd_txn(clm_etcd(c), cmp, 2, &put, 1, NULL, 0, &ok);
		if (!rc && !ok) {
			snprintf(err, errsz, "the cluster definition changed meanwhile, or another "
				 "membership change started: try again");
			free(rec);
			return MM_ECONFLICT;
		}
	}
	free(rec);
	if (!rc) {
		struct etcd_kv kv = {0};

		for (int i = 0; i < 5; i++) {
			rc = etcd_get(clm_etcd(c), CLM_KEY_CHANGE, &kv, NULL);
			if (rc != MM_ETIMEDOUT && rc != MM_EUNREACH)
				break;
		}
		irev = kv.mod_rev;
		etcd_kv_clear(&kv);
	}
	if (rc) {
		/* the record may or may not be there: the cluster manager settles it */
		snprintf(err, errsz, "step 1 of %u (record the change in the CCR) failed: %s; "
			 "nothing was changed in etcd", nsteps, mm_strerror(rc));
		return rc;
	}
	rc = fault_at("intent", 0);
	if (rc) {
		snprintf(step, sizeof(step), "step 1 of %u (record the change in the CCR)", nsteps);
		snprintf(why, sizeof(why), "%s", mm_strerror(rc));
		goto failed;
	}

	/* 2. etcd's membership, one member at a time, others before this node */
	{
		struct cfg_cluster keep;

		cfg_cluster_init(&keep);
		if (merge_defs(from, to, NULL, 0, &keep) == MM_OK) {
			for (size_t i = 0; i < keep.nnodes; i++) {
				const struct cfg_node *f = cfg_cluster_node_num(from, keep.nodes[i].number);

				keep.nodes[i].quorum = keep.nodes[i].quorum && f && f->quorum;
			}
			clm_use_endpoints(c, &keep);
		}
		cfg_cluster_free(&keep);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < from->nnodes; i++) {
			const struct cfg_node *f = &from->nodes[i];
			const struct cfg_node *t = cfg_cluster_node_num(to, f->number);

			if (!f->quorum || (t && t->quorum) || (pass == 0) == (f->number == clm_my_node(c)))
				continue;
			nop++;
			snprintf(step, sizeof(step), "step %u of %u (remove the etcd member of %s)",
				 nop + 1, nsteps, f->name);
			rc = fault_at("etcd", nop);
			if (!rc)
				rc = change_still_ours(c, irev);
			if (!rc)
				rc = member_remove(c, from, f);
			if (rc) {
				snprintf(why, sizeof(why), "%s", rc == MM_ECONFLICT ?
					 "another node took the change over" : mm_strerror(rc));
				goto failed;
			}
		}
	for (size_t i = 0; i < to->nnodes; i++) {
		const struct cfg_node *t = &to->nodes[i];
		const struct cfg_node *f = cfg_cluster_node_num(from, t->number);
		uint64_t id;
		char url[128];

		if (!t->quorum || (f && f->quorum))
			continue;
		nop++;
		snprintf(step, sizeof(step), "step %u of %u (add an etcd member for %s)", nop + 1,
			 nsteps, t->name);
		peer_url(to, t, url, sizeof(url));
		rc = fault_at("etcd", nop);
		if (!rc)
			rc = change_still_ours(c, irev);
		if (!rc)
			rc = member_add(c, url, &id);
		if (rc) {
			snprintf(why, sizeof(why), "%s", rc == MM_ECONFLICT ?
				 "another node took the change over" : mm_strerror(rc));
			goto failed;
		}
		mm_notice(SUB, "added etcd member %" PRIx64 " for quorum node %s", id, t->name);
		if (join && !*join) {
			char extra[192];

			snprintf(extra, sizeof(extra), "node%u=%s", t->number, url);
			clm_etcd_initial_cluster(c, extra, join);
		}
	}

	/* 3. commit: the new definition, and the record gone, at once */
	snprintf(step, sizeof(step), "step %u of %u (write the new cluster definition)", nsteps, nsteps);
	rc = fault_at("commit", 0);
	for (int attempt = 0; !rc && attempt < 3; attempt++) {
		struct etcd_cmp cmp = {CLM_KEY_CHANGE, ETCD_CMP_MOD, ETCD_EQUAL, irev, NULL};
		struct etcd_op ops[2];
		char *text = NULL;
		bool ok = false;
		struct cfg_cluster now;
		int64_t nrev;

		rc = cfg_cluster_format(to, &text);
		if (rc)
			break;
		ops[0] = (struct etcd_op){ETCD_OP_PUT, "/mmfs/cluster", text, strlen(text), 0};
		ops[1] = (struct etcd_op){ETCD_OP_DELETE, CLM_KEY_CHANGE, NULL, 0, 0};
		rc = etcd_txn(clm_etcd(c), &cmp, 1, ops, 2, NULL, 0, &ok);
		free(text);
		if (!rc && ok)
			return MM_OK;
		if (!rc) {
			rc = MM_ECONFLICT;
			break;
		}
		/* the answer was lost: did the write happen? */
		mm_sleep_ms(500);
		cfg_cluster_init(&now);
		if (change_still_ours(c, irev) == MM_ECONFLICT && clm_cluster_read(c, &now, &nrev) == MM_OK &&
		    now.generation == to->generation) {
			cfg_cluster_free(&now);
			return MM_OK;
		}
		cfg_cluster_free(&now);
	}
	snprintf(why, sizeof(why), "%s", rc == MM_ECONFLICT ? "another node took the change over" :
		 mm_strerror(rc));

failed:
	if (join) {
		free(*join);
		*join = NULL;
	}
	if (rc == MM_ECONFLICT) {
		snprintf(err, errsz, "%s failed: %s; it finishes or undoes the change", step, why);
		return rc;
	}
	mm_warn(SUB, "membership change (%s): %s failed: %s; settling it", op, step, why);
	src = settle(c, from, to, irev, msg, sizeof(msg), &complete);
	if (src == MM_OK && complete) {
		/* finished after all (the write that failed was retried by
		 * settle): the command did what it was asked */
		mm_notice(SUB, "membership change (%s) completed although %s failed (%s)", op, step,
			  why);
		return MM_OK;
	}
	if (src == MM_OK)
		snprintf(err, errsz, "%s failed: %s; etcd and the cluster definition agree again (%s)",
			 step, why, msg);
	else
		snprintf(err, errsz, "%s failed: %s; settling it failed too (%s): the change stays "
			 "recorded in the CCR and the cluster manager finishes or undoes it", step, why, msg);
	return rc;
}

void clm_change_resolve(clm *c, int64_t rev, uint64_t age_ms)
{
	struct change ch;
	struct cfg_cluster from;
	struct clm_status st;
	struct etcd_kv mk = {0};
	char key[64], msg[512], *rec = NULL;
	int64_t frev, nrev = 0;
	bool owner_alive;
	int rc = change_read(c, &ch);

	if (rc || ch.rev != rev) {
		cfg_cluster_free(&ch.target);
		return;
	}
	snprintf(key, sizeof(key), "/mmfs/members/%u", ch.owner);
	owner_alive = etcd_get(clm_etcd(c), key, &mk, NULL) == MM_OK && mk.lease == ch.lease &&
		      strncmp(mk.value, "leaving", 7) != 0;
	etcd_kv_clear(&mk);
	if (owner_alive && ch.owner == clm_my_node(c)) {
		/* ours: carried out by a command here, or taken over earlier by
		 * this thread and not settled yet (etcd was electing a leader, say):
		 * then settle it again now rather than wait for it to age */
		pthread_mutex_lock(&c->lock);
		owner_alive = c->changes_running > 0;
		pthread_mutex_unlock(&c->lock);
	}
	if (owner_alive && age_ms < TAKEOVER_AGE_MS) {
		cfg_cluster_free(&ch.target);
		return;
	}
	/* take it over: the owner's later steps see the record changed */
	clm_get_status(c, &st);
	rc = change_encode(clm_my_node(c), st.lease_id, ch.op, &ch.target, &rec);
	if (!rc) {
		struct etcd_cmp cmp = {CLM_KEY_CHANGE, ETCD_CMP_MOD, ETCD_EQUAL, rev, NULL};
		struct etcd_op put = {ETCD_OP_PUT, CLM_KEY_CHANGE, rec, strlen(rec), 0};
		bool ok = false;
		struct etcd_kv kv = {0};

		rc = etcd_txn(clm_etcd(c), &cmp, 1, &put, 1, NULL, 0, &ok);
		if (!rc && !ok)
			rc = MM_ECONFLICT;
		if (!rc && (rc = etcd_get(clm_etcd(c), CLM_KEY_CHANGE, &kv, NULL)) == MM_OK)
			nrev = kv.mod_rev;
		etcd_kv_clear(&kv);
	}
	free(rec);
	if (rc) {
		cfg_cluster_free(&ch.target);
		return;
	}
	if (ch.owner == clm_my_node(c))
		mm_notice(SUB, "settling the membership change (%s) this node holds again", ch.op);
	else
		mm_notice(SUB, "taking over the membership change (%s) of node %u, %s: settling it",
			  ch.op, ch.owner, owner_alive ? "which has not finished it in time" : "which is gone");
	cfg_cluster_init(&from);
	rc = clm_cluster_read(c, &from, &frev);
	if (!rc)
		rc = settle(c, &from, &ch.target, nrev, msg, sizeof(msg), NULL);
	if (rc)
		mm_warn(SUB, "cannot settle the membership change yet: %s", rc ? msg : "");
	cfg_cluster_free(&from);
	cfg_cluster_free(&ch.target);
}

/* ---- the three commands ------------------------------------------------ */

/* The CCR's definition (*from, at *rev) and a copy of it to change (*to). */
static int change_begin(clm *c, struct cfg_cluster *from, int64_t *rev, struct cfg_cluster *to,
			char *err, size_t errsz)
{
	int rc = read_def(c, from, rev, err, errsz);

	cfg_cluster_init(to);
	if (!rc)
		rc = merge_defs(from, from, NULL, 0, to);
	return rc;
}

int clm_node_add(clm *c, const struct clm_new_node *nodes, size_t n,
		 char **def_text, char **join, char *err, size_t errsz)
{
	struct cfg_cluster def, to;
	struct cfg_node *nv;
	uint32_t next = 0;
	int64_t rev;
	int rc;

	*def_text = NULL;
	if (join)
		*join = NULL;
	if (n == 0 || n > 64) {
		snprintf(err, errsz, "give between 1 and 64 nodes");
		return MM_EINVAL;
	}
	rc = change_begin(c, &def, &rev, &to, err, errsz);
	if (rc)
		goto out;
	for (size_t i = 0; i < def.nnodes; i++)
		if (def.nodes[i].number > next)
			next = def.nodes[i].number;
	nv = realloc(to.nodes, (to.nnodes + n) * sizeof(*nv));
	if (!nv) {
		rc = MM_ENOMEM;
		goto out;
	}
	to.nodes = nv;
	for (size_t i = 0; i < n; i++) {
		struct cfg_node *nd;

		if (cfg_cluster_node(&to, nodes[i].name) || cfg_cluster_node(&to, nodes[i].ip)) {
			snprintf(err, errsz, "node %s (%s) already belongs to the cluster", nodes[i].name,
				 nodes[i].ip);
			rc = MM_EEXIST;
			goto out;
		}
		nd = &to.nodes[to.nnodes++];
		memset(nd, 0, sizeof(*nd));
		nd->number = ++next;	/* numbers are never reused */
		snprintf(nd->name, sizeof(nd->name), "%s", nodes[i].name);
		snprintf(nd->ip, sizeof(nd->ip), "%s", nodes[i].ip);
		snprintf(nd->admin, sizeof(nd->admin), "%s", nodes[i].admin[0] ? nodes[i].admin : nodes[i].name);
		nd->quorum = nodes[i].quorum;
		nd->manager = nodes[i].manager;
	}
	rc = change_run(c, "mmaddnode", &def, rev, &to, join, err, errsz);
	if (!rc)
		rc = cfg_cluster_format(&to, def_text);
	if (!rc)
		mm_notice(SUB, "%zu node%s added to the cluster", n, n == 1 ? "" : "s");
out:
	cfg_cluster_free(&to);
	cfg_cluster_free(&def);
	return rc;
}

int clm_node_delete(clm *c, const char *const *names, size_t n,
		    char **def_text, char *err, size_t errsz)
{
	struct cfg_cluster def, to;
	uint32_t *m = NULL;
	size_t nm = 0, k = 0;
	int64_t rev;
	int rc;

	*def_text = NULL;
	if (n == 0) {
		snprintf(err, errsz, "no node given");
		return MM_EINVAL;
	}
	rc = change_begin(c, &def, &rev, &to, err, errsz);
	if (!rc)
		rc = clm_members(c, &m, &nm);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *nd = cfg_cluster_node(&def, names[i]);

		if (!nd) {
			snprintf(err, errsz, "node %s does not belong to the cluster", names[i]);
			rc = MM_ENOENT;
			goto out;
		}
		if (is_member(m, nm, nd->number)) {
			snprintf(err, errsz, "node %s is active: shut it down first (mmshutdown -N %s)",
				 nd->name, nd->name);
			rc = MM_EBUSY;
			goto out;
		}
	}
	for (size_t i = 0; i < to.nnodes; i++) {
		bool drop = false;

		for (size_t j = 0; j < n; j++)
			drop |= cfg_cluster_node(&def, names[j])->number == to.nodes[i].number;
		if (!drop)
			to.nodes[k++] = to.nodes[i];
	}
	to.nnodes = k;
	rc = change_run(c, "mmdelnode", &def, rev, &to, NULL, err, errsz);
	if (!rc)
		rc = cfg_cluster_format(&to, def_text);
	if (!rc)
		mm_notice(SUB, "%zu node%s deleted from the cluster", n, n == 1 ? "" : "s");
out:
	free(m);
	cfg_cluster_free(&to);
	cfg_cluster_free(&def);
	return rc;
}

int clm_node_change(clm *c, const char *const *names, size_t n, int quorum,
		    int manager, char **def_text, char **join, char *err, size_t errsz)
{
	struct cfg_cluster def, to;
	int64_t rev;
	int rc;

	*def_text = NULL;
	if (join)
		*join = NULL;
	if (n == 0) {
		snprintf(err, errsz, "no node given");
		return MM_EINVAL;
	}
	rc = change_begin(c, &def, &rev, &to, err, errsz);
	if (rc)
		goto out;
	if (quorum == 1 && n != 1) {
		/* etcd takes one new voting member at a time */
		snprintf(err, errsz, "make one node a quorum node at a time");
		rc = MM_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cfg_node *nd = (struct cfg_node *)cfg_cluster_node(&to, names[i]);

		if (!nd) {
			snprintf(err, errsz, "node %s does not belong to the cluster", names[i]);
			rc = MM_ENOENT;
			goto out;
		}
		if (quorum >= 0)
			nd->quorum = quorum;
		if (manager >= 0)
			nd->manager = manager;
	}
	rc = change_run(c, "mmchnode", &def, rev, &to, join, err, errsz);
	if (!rc)
		rc = cfg_cluster_format(&to, def_text);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct cfg_node *nd = cfg_cluster_node(&to, names[i]);
		const char *des = cfg_designation(nd->quorum, nd->manager);

		mm_notice(SUB, "node %s is now %s", nd->name, des[0] ? des : "a client node");
	}
out:
	cfg_cluster_free(&to);
	cfg_cluster_free(&def);
	return rc;
}
