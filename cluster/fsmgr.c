/*
 * cluster/fsmgr.c - token spaces and the file system manager role: the
 * records of the CCR, every node's view of them, the cluster manager's
 * appointments, and the requests of mmchmgr (move a file system manager,
 * hand the cluster manager role over).
 *
 * Entry points (cluster/clm.h): clm_fsmgr, clm_fsmgr_list, clm_fsmgr_find,
 * clm_fsmgr_pick, clm_tokspace_create/delete,
 * clm_fsmgr_spread, clm_fsmgr_move, clm_cm_move; for clm.c
 * (cluster/clm_int.h): clm_fsmgr_watch, clm_fsmgr_resync,
 * clm_fsmgr_kick_locked, clm_fsmgr_manage.
 *
 * Map of this file:
 *   1. records: keys, parsing, formatting; the pure choices
 *   2. the view (watch thread, clm thread on a resync) and the getters
 *   3. the cluster manager's work (ccr-fix thread)
 *   4. requests any active node makes (admin commands)
 *
 * Who writes what: the space record (tokspace/<fsid>) by whoever creates
 * or changes the space; the appointment (fsmgr/<fsid>) only by the
 * cluster manager, each write a transaction that compares /mmfs/cm's
 * value and lease with the writer's and the record's revision with the
 * one it read, so a node that lost the role (or a second writer) can
 * never write one; requests (fsmgrwant/<fsid>, cmhandover) by any active
 * node, each on a lease of its own so a stale one goes by itself.
 * Related: cluster/clm.c (the watch, the campaign, the ccr-fix thread).
 */
#include "cluster/clm.h"
#include "cluster/clm_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "cluster"
#define WANT_TTL_S 10	/* an mmchmgr request stands this long */

/* ---- 1. records --------------------------------------------------- */

static void fs_key(char *buf, size_t sz, const char *prefix, uint64_t fsid)
{
	snprintf(buf, sz, "%s%016" PRIx64, prefix, fsid);
}

uint64_t clm_fsid_of_key(const char *key, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *p = key + pl;
	uint64_t v = 0;

	if (strncmp(key, prefix, pl) != 0 || strlen(p) != 16)
		return 0;
	for (; *p; p++) {
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return 0;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : *p - 'a' + 10);
	}
	return v;
}

/* Call <fn> for each "name=value" word of <val>; stops at its error. */
static int each_field(const char *val, int (*fn)(const char *name, const char *v, void *arg),
		      void *arg)
{
	char buf[1024], *save = NULL;
	int rc = MM_OK;

	if (!val || strlen(val) >= sizeof(buf))
		return MM_EPROTO;
	strcpy(buf, val);
	for (char *w = strtok_r(buf, " \t\n", &save); w && !rc; w = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(w, '=');

		if (!eq)
			return MM_EPROTO;
		*eq = '\0';
		rc = fn(w, eq + 1, arg);
	}
	return rc;
}

static int parse_u64(const char *s, uint64_t *out)
{
	int64_t v;

	if (!isdigit((unsigned char)s[0]) || mm_parse_i64(s, &v) || v < 0)
		return MM_EPROTO;
	*out = (uint64_t)v;
	return MM_OK;
}

static int parse_node(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > UINT32_MAX)
		return MM_EPROTO;
	*out = (uint32_t)v;
	return MM_OK;
}

static bool device_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n >= CLM_DEVICE_MAX)
		return false;
	for (; *d; d++)
		if (!isalnum((unsigned char)*d) && *d != '_' && *d != '-' && *d != '.')
			return false;
	return true;
}

static int space_field(const char *name, const char *v, void *arg)
{
	struct clm_fsmgr *f = arg;

	if (strcmp(name, "device") == 0) {
		if (!device_ok(v))
			return MM_EPROTO;
		snprintf(f->device, sizeof(f->device), "%s", v);
	} else if (strcmp(name, "spread") == 0) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return MM_EPROTO;
		f->spread = v[0] == '1';
	}
	return MM_OK;	/* fields of later versions are kept out of the way */
}

int clm_tokspace_parse(const char *val, struct clm_fsmgr *f)
{
	int rc;

	f->device[0] = '\0';
	f->spread = false;
	rc = each_field(val, space_field, f);
	return rc ? rc : f->device[0] ? MM_OK : MM_EPROTO;
}

static int mgr_field(const char *name, const char *v, void *arg)
{
	struct clm_fsmgr *f = arg;

	if (strcmp(name, "node") == 0)
		return parse_node(v, &f->node);
	if (strcmp(name, "epoch") == 0)
		return parse_u64(v, &f->epoch);
	if (strcmp(name, "servers") == 0) {
		char buf[CLM_FSMGR_MAX_SERVERS * 12], *rest = buf, *w;

		f->nservers = 0;
		if (!*v)
			return MM_OK;
		if (strlen(v) >= sizeof(buf))
			return MM_EPROTO;
		strcpy(buf, v);
		/* strsep, not strtok: an empty entry ("2,,3") is an error */
		while ((w = strsep(&rest, ",")) != NULL) {
			if (f->nservers >= CLM_FSMGR_MAX_SERVERS ||
			    parse_node(w, &f->servers[f->nservers]) || !f->servers[f->nservers])
				return MM_EPROTO;
			f->nservers++;
		}
	}
	return MM_OK;
}

int clm_fsmgr_rec_parse(const char *val, struct clm_fsmgr *f)
{
	int rc;

	f->node = 0;
	f->epoch = 0;
	f->nservers = 0;
	rc = each_field(val, mgr_field, f);
	if (rc)
		return rc;
	/* the manager serves first; no manager, no servers */
	if (f->epoch == 0 || (f->node && (f->nservers == 0 || f->servers[0] != f->node)) ||
	    (!f->node && f->nservers))
		return MM_EPROTO;
	return MM_OK;
}

int clm_fsmgr_rec_format(const struct clm_fsmgr *f, char *buf, size_t sz)
{
	size_t len = (size_t)snprintf(buf, sz, "node=%u epoch=%" PRIu64 " servers=", f->node, f->epoch);

	for (size_t i = 0; i < f->nservers && len < sz; i++)
		len += (size_t)snprintf(buf + len, sz - len, "%s%u", i ? "," : "", f->servers[i]);
	return len < sz ? MM_OK : MM_ETOOBIG;
}

uint32_t clm_fsmgr_pick(const uint32_t *cands, const unsigned *loads, size_t n)
{
	size_t best = 0;

	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (loads[i] < loads[best] || (loads[i] == loads[best] && cands[i] < cands[best]))
			best = i;
	return cands[best];
}

/* ---- 2. the view -------------------------------------------------- */

static struct clm_space *space_find_locked(clm *c, uint64_t fsid)
{
	for (size_t i = 0; i < c->nspaces; i++)
		if (c->spaces[i].f.fsid == fsid)
			return &c->spaces[i];
	return NULL;
}

static struct clm_space *space_get_locked(clm *c, uint64_t fsid)
{
	struct clm_space *s = space_find_locked(c, fsid), *nv;
	size_t at = 0;

	if (s)
		return s;
	nv = realloc(c->spaces, (c->nspaces + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	c->spaces = nv;
	while (at < c->nspaces && c->spaces[at].f.fsid < fsid)
		at++;
	memmove(&c->spaces[at + 1], &c->spaces[at], (c->nspaces - at) * sizeof(*nv));
	c->nspaces++;
	memset(&c->spaces[at], 0, sizeof(*nv));
	c->spaces[at].f.fsid = fsid;
	return &c->spaces[at];
}

static void space_drop_unused_locked(clm *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nspaces; i++)
		if (c->spaces[i].defined || c->spaces[i].appointed)
			c->spaces[k++] = c->spaces[i];
	c->nspaces = k;
}

/* What subscribers see of a space: its manager while both records exist. */
static void effective(const struct clm_space *s, uint32_t *node, uint64_t *epoch)
{
	*node = s && s->defined && s->appointed ? s->f.node : 0;
	*epoch = s && s->appointed ? s->f.epoch : 0;
}

struct fs_change {
	uint64_t fsid, epoch;
	uint32_t node;
	char device[CLM_DEVICE_MAX];
	char name[256];
};

static void announce(clm *c, const struct fs_change *ch)
{
	struct clm_event ev = {CLM_EV_FSMGR_CHANGED, ch->node, NULL, NULL, ch->fsid, ch->epoch};

	if (ch->node)
		mm_info(SUB, "file system manager of %s (token space %016" PRIx64 ") is node %u (%s), "
			"epoch %" PRIu64, ch->device, ch->fsid, ch->node, ch->name, ch->epoch);
	else
		mm_info(SUB, "token space %016" PRIx64 " (%s) has no file system manager now",
			ch->fsid, ch->device[0] ? ch->device : "deleted");
	clm_emit_event(c, &ev);
}

/* Fill <ch> if space <fsid>'s effective appointment moved from (<n0>, <e0>). */
static bool changed_locked(clm *c, uint64_t fsid, uint32_t n0, uint64_t e0, struct fs_change *ch)
{
	struct clm_space *s = space_find_locked(c, fsid);
	uint32_t n1;
	uint64_t e1;

	effective(s, &n1, &e1);
	if (n1 == n0 && e1 == e0)
		return false;
	ch->fsid = fsid;
	ch->node = n1;
	ch->epoch = e1;
	snprintf(ch->device, sizeof(ch->device), "%s", s ? s->f.device : "");
	snprintf(ch->name, sizeof(ch->name), "%s", clm_node_name_locked(c, n1));
	return true;
}

bool clm_fsmgr_watch(clm *c, const struct etcd_event *ev)
{
	uint64_t fsid, e0;
	bool space, put = ev->type == ETCD_EV_PUT, is_change;
	struct clm_fsmgr rec = {0};
	struct clm_space *s;
	struct fs_change ch;
	uint32_t n0;

	if ((fsid = clm_fsid_of_key(ev->kv.key, CLM_KEY_TOKSPACE)) != 0)
		space = true;
	else if ((fsid = clm_fsid_of_key(ev->kv.key, CLM_KEY_FSMGR)) != 0)
		space = false;
	else
		return false;
	if (put && (space ? clm_tokspace_parse(ev->kv.value, &rec) : clm_fsmgr_rec_parse(ev->kv.value, &rec))) {
		mm_error(SUB, "ignoring malformed CCR record %s: \"%s\"", ev->kv.key, ev->kv.value);
		return true;
	}
	pthread_mutex_lock(&c->lock);
	s = space_find_locked(c, fsid);
	effective(s, &n0, &e0);
	s = put ? space_get_locked(c, fsid) : s;
	if (s && space) {
		s->defined = put;
		if (put) {
			snprintf(s->f.device, sizeof(s->f.device), "%s", rec.device);
			s->f.spread = rec.spread;
		}
	} else if (s) {
		s->appointed = put;
		if (put) {
			s->f.node = rec.node;
			s->f.epoch = rec.epoch;
			memcpy(s->f.servers, rec.servers, sizeof(rec.servers));
			s->f.nservers = rec.nservers;
		}
	}
	is_change = changed_locked(c, fsid, n0, e0, &ch);
	space_drop_unused_locked(c);
	pthread_mutex_unlock(&c->lock);
	if (is_change)
		announce(c, &ch);
	return true;
}

int clm_fsmgr_resync(clm *c)
{
	struct etcd_kv *sp = NULL, *mg = NULL;
	size_t nsp = 0, nmg = 0, nold, nch = 0;
	struct clm_space *old;
	struct fs_change *ch;
	int rc;

	rc = etcd_get_prefix(c->etcd, CLM_KEY_TOKSPACE, &sp, &nsp, NULL);
	if (!rc)
		rc = etcd_get_prefix(c->etcd, CLM_KEY_FSMGR, &mg, &nmg, NULL);
	if (rc) {
		etcd_kvs_free(sp, nsp);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	old = c->spaces;
	nold = c->nspaces;
	c->spaces = NULL;
	c->nspaces = 0;
	for (size_t pass = 0; pass < 2; pass++) {
		struct etcd_kv *kv = pass ? mg : sp;

		for (size_t i = 0; i < (pass ? nmg : nsp); i++) {
			struct clm_fsmgr rec = {0};
			uint64_t fsid = clm_fsid_of_key(kv[i].key, pass ? CLM_KEY_FSMGR : CLM_KEY_TOKSPACE);
			struct clm_space *s;

			if (!fsid || (pass ? clm_fsmgr_rec_parse(kv[i].value, &rec)
					   : clm_tokspace_parse(kv[i].value, &rec)))
				continue;
			if (!(s = space_get_locked(c, fsid)))
				continue;
			if (pass) {
				s->appointed = true;
				s->f.node = rec.node;
				s->f.epoch = rec.epoch;
				memcpy(s->f.servers, rec.servers, sizeof(rec.servers));
				s->f.nservers = rec.nservers;
			} else {
				s->defined = true;
				snprintf(s->f.device, sizeof(s->f.device), "%s", rec.device);
				s->f.spread = rec.spread;
			}
		}
	}
	/* what changed since the old view, both ways */
	ch = calloc(nold + c->nspaces + 1, sizeof(*ch));
	for (size_t pass = 0; ch && pass < 2; pass++) {
		size_t n = pass ? c->nspaces : nold;

		for (size_t i = 0; i < n; i++) {
			uint64_t fsid = pass ? c->spaces[i].f.fsid : old[i].f.fsid, e0 = 0;
			const struct clm_space *o = NULL;
			uint32_t n0;

			for (size_t k = 0; k < nold; k++)
				if (old[k].f.fsid == fsid)
					o = &old[k];
			if (pass && o)
				continue;	/* seen in the first pass */
			effective(o, &n0, &e0);
			if (changed_locked(c, fsid, n0, e0, &ch[nch]))
				nch++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	free(old);
	for (size_t i = 0; i < nch; i++)
		announce(c, &ch[i]);
	free(ch);
	etcd_kvs_free(sp, nsp);
	etcd_kvs_free(mg, nmg);
	return MM_OK;
}

void clm_fsmgr_kick_locked(clm *c)
{
	c->fsmgr_dirty = true;
	pthread_cond_signal(&c->fix_wake);
}

int clm_fsmgr(clm *c, uint64_t fsid, uint32_t *node, uint64_t *epoch, uint32_t *servers,
	      size_t *nservers)
{
	struct clm_space *s;
	int rc = MM_ENOENT;

	pthread_mutex_lock(&c->lock);
	s = space_find_locked(c, fsid);
	if (s && s->defined) {
		effective(s, node, epoch);
		if (servers && nservers) {
			*nservers = *node ? s->f.nservers : 0;
			memcpy(servers, s->f.servers, *nservers * sizeof(*servers));
		}
		rc = MM_OK;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void copy_out(const struct clm_space *s, struct clm_fsmgr *f)
{
	*f = s->f;
	effective(s, &f->node, &f->epoch);
	if (!f->node)
		f->nservers = 0;
}

int clm_fsmgr_list(clm *c, struct clm_fsmgr **out, size_t *n)
{
	pthread_mutex_lock(&c->lock);
	*out = calloc(c->nspaces + 1, sizeof(**out));
	*n = 0;
	for (size_t i = 0; *out && i < c->nspaces; i++)
		if (c->spaces[i].defined)
			copy_out(&c->spaces[i], &(*out)[(*n)++]);
	pthread_mutex_unlock(&c->lock);
	return *out ? MM_OK : MM_ENOMEM;
}

int clm_fsmgr_find(clm *c, const char *device, struct clm_fsmgr *out)
{
	int rc = MM_ENOENT;

	if (strncmp(device, "/dev/", 5) == 0)
		device += 5;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nspaces; i++)
		if (c->spaces[i].defined && strcmp(c->spaces[i].f.device, device) == 0) {
			copy_out(&c->spaces[i], out);
			rc = MM_OK;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- 3. the cluster manager's work ------------------------------- */

/* The compares that make a write the cluster manager's alone: /mmfs/cm
 * still holds our number, bound to our current lease. */
struct cm_guard {
	char me[16];
	int64_t lease;
};

static void guard_cmps(const struct cm_guard *g, struct etcd_cmp *cmp)
{
	cmp[0] = (struct etcd_cmp){CLM_KEY_CM, ETCD_CMP_VALUE, ETCD_EQUAL, 0, g->me};
	cmp[1] = (struct etcd_cmp){CLM_KEY_CM, ETCD_CMP_LEASE, ETCD_EQUAL, g->lease, NULL};
}

int clm_handover_parse(const char *val, uint32_t *to, uint32_t *from, bool *resigned)
{
	unsigned t = 0, f = 0;
	char st[16] = "";

	if (!val || sscanf(val, "to=%u from=%u state=%15s", &t, &f, st) != 3 || !t ||
	    (strcmp(st, "asked") != 0 && strcmp(st, "resigned") != 0))
		return MM_EPROTO;
	*to = t;
	*from = f;
	*resigned = strcmp(st, "resigned") == 0;
	return MM_OK;
}

/*
 * A handover asked of us (mmchmgr -c): resign in favour of the wanted
 * node if it is an active quorum node, in one transaction that deletes
 * /mmfs/cm and marks the request resigned; drop a request we cannot
 * serve. True if we resigned.
 */
static bool serve_handover(clm *c, const struct cm_guard *g, uint32_t me)
{
	struct etcd_kv kv = {0};
	struct etcd_cmp cmp[3];
	struct etcd_op ops[2];
	uint32_t to, from;
	bool resigned, ok = false, valid;
	char val[96], name[256];

	if (etcd_get(c->etcd, CLM_KEY_HANDOVER, &kv, NULL))
		return false;
	if (clm_handover_parse(kv.value, &to, &from, &resigned) || resigned || from != me) {
		etcd_kv_clear(&kv);
		return false;
	}
	pthread_mutex_lock(&c->lock);
	valid = clm_node_quorum_locked(c, to) && clm_node_up_locked(c, to) && to != me;
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, to));
	pthread_mutex_unlock(&c->lock);
	guard_cmps(g, cmp);
	cmp[2] = (struct etcd_cmp){CLM_KEY_HANDOVER, ETCD_CMP_MOD, ETCD_EQUAL, kv.mod_rev, NULL};
	if (!valid) {
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, CLM_KEY_HANDOVER, NULL, 0, 0};
		etcd_txn(c->etcd, cmp, 3, ops, 1, NULL, 0, &ok);
		mm_warn(SUB, "not handing the cluster manager role to node %u (%s): it is not an "
			"active quorum node", to, name);
		etcd_kv_clear(&kv);
		return false;
	}
	snprintf(val, sizeof(val), "to=%u from=%u state=resigned", to, me);
	ops[0] = (struct etcd_op){ETCD_OP_PUT, CLM_KEY_HANDOVER, val, strlen(val), kv.lease};
	ops[1] = (struct etcd_op){ETCD_OP_DELETE, CLM_KEY_CM, NULL, 0, 0};
	if (etcd_txn(c->etcd, cmp, 3, ops, 2, NULL, 0, &ok) == MM_OK && ok)
		mm_notice(SUB, "resigning as cluster manager: handing over to node %u (%s) "
			  "(mmchmgr -c)", to, name);
	etcd_kv_clear(&kv);
	return ok;
}

static const struct etcd_kv *kv_of(const struct etcd_kv *kvs, size_t n, const char *prefix,
				   uint64_t fsid)
{
	for (size_t i = 0; i < n; i++)
		if (clm_fsid_of_key(kvs[i].key, prefix) == fsid)
			return &kvs[i];
	return NULL;
}

/* Active manager nodes, by number, as this node sees them. */
static size_t candidates(clm *c, uint32_t *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->cluster.nnodes && n < max; i++) {
		const struct cfg_node *nd = &c->cluster.nodes[i];

		if (nd->manager && clm_node_up_locked(c, nd->number))
			out[n++] = nd->number;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

static ssize_t index_of(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return (ssize_t)i;
	return -1;
}

/* Write one appointment (and drop a served request) as the cluster manager. */
static int appoint(clm *c, const struct cm_guard *g, uint64_t fsid, const struct etcd_kv *space,
		   const struct etcd_kv *rec, const struct etcd_kv *want, const struct clm_fsmgr *f)
{
	char key[64], wkey[64], val[CLM_FSMGR_MAX_SERVERS * 12 + 64];
	struct etcd_cmp cmp[5];
	struct etcd_op ops[2];
	size_t ncmp = 2, nops = 1;
	bool ok = false;
	int rc;

	fs_key(key, sizeof(key), CLM_KEY_FSMGR, fsid);
	fs_key(wkey, sizeof(wkey), CLM_KEY_FSMGRWANT, fsid);
	if ((rc = clm_fsmgr_rec_format(f, val, sizeof(val))))
		return rc;
	guard_cmps(g, cmp);
	cmp[ncmp++] = (struct etcd_cmp){space->key, ETCD_CMP_MOD, ETCD_EQUAL, space->mod_rev, NULL};
	cmp[ncmp++] = rec ? (struct etcd_cmp){key, ETCD_CMP_MOD, ETCD_EQUAL, rec->mod_rev, NULL}
			  : (struct etcd_cmp){key, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	ops[0] = (struct etcd_op){ETCD_OP_PUT, key, val, strlen(val), 0};
	if (want) {
		cmp[ncmp++] = (struct etcd_cmp){wkey, ETCD_CMP_MOD, ETCD_EQUAL, want->mod_rev, NULL};
		ops[nops++] = (struct etcd_op){ETCD_OP_DELETE, wkey, NULL, 0, 0};
	}
	rc = etcd_txn(c->etcd, cmp, ncmp, ops, nops, NULL, 0, &ok);
	return rc ? rc : ok ? MM_OK : MM_ECONFLICT;
}

/* Delete <key> (at <rev>) as the cluster manager; <absent>, if set, must
 * not exist (the space of a stale appointment). */
static void guarded_delete(clm *c, const struct cm_guard *g, const char *key, int64_t rev,
			   const char *absent)
{
	struct etcd_cmp cmp[4];
	struct etcd_op op = {ETCD_OP_DELETE, key, NULL, 0, 0};
	size_t ncmp = 2;
	bool ok = false;

	guard_cmps(g, cmp);
	cmp[ncmp++] = (struct etcd_cmp){key, ETCD_CMP_MOD, ETCD_EQUAL, rev, NULL};
	if (absent)
		cmp[ncmp++] = (struct etcd_cmp){absent, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	etcd_txn(c->etcd, cmp, ncmp, &op, 1, NULL, 0, &ok);
}

/* Make space <fsid>'s appointment right; false if a write failed. */
static bool settle_space(clm *c, const struct cm_guard *g, const struct etcd_kv *space,
			 const struct etcd_kv *rec, const struct etcd_kv *want, const uint32_t *cands,
			 unsigned *loads, size_t ncands)
{
	struct clm_fsmgr cur = {0}, next = {0};
	uint64_t fsid = clm_fsid_of_key(space->key, CLM_KEY_TOKSPACE);
	uint32_t wanted = 0;
	ssize_t ci;
	char name[256], why[64] = "";
	int rc;

	if (clm_tokspace_parse(space->value, &next))
		return true;	/* malformed: the view logs it */
	if (rec && clm_fsmgr_rec_parse(rec->value, &cur)) {
		mm_warn(SUB, "replacing malformed appointment %s", rec->key);
		memset(&cur, 0, sizeof(cur));
		cur.epoch = 1;
	}
	next.node = rec && index_of(cands, ncands, cur.node) >= 0 ? cur.node : 0;
	if (want) {
		char wv[32];

		snprintf(wv, sizeof(wv), "%s", want->value);
		if (sscanf(wv, "node=%u", &wanted) == 1 && index_of(cands, ncands, wanted) >= 0) {
			if (next.node && (ci = index_of(cands, ncands, next.node)) >= 0)
				loads[ci]--;
			if (next.node != wanted)
				snprintf(why, sizeof(why), " (mmchmgr)");
			next.node = wanted;
			loads[index_of(cands, ncands, wanted)]++;
		} else {
			mm_warn(SUB, "not appointing node %u as manager of %s: it is not an active "
				"manager node", wanted, next.device);
			wanted = 0;
		}
	}
	if (!next.node && ncands) {
		next.node = clm_fsmgr_pick(cands, loads, ncands);
		loads[index_of(cands, ncands, next.node)]++;
		if (rec && cur.node)
			snprintf(why, sizeof(why), " (node %u is gone)", cur.node);
	}
	next.nservers = 0;
	if (next.node) {
		next.servers[next.nservers++] = next.node;
		for (size_t i = 0; next.spread && i < ncands && next.nservers < CLM_FSMGR_MAX_SERVERS; i++)
			if (cands[i] != next.node)
				next.servers[next.nservers++] = cands[i];
	}
	if (rec && cur.node == next.node && cur.nservers == next.nservers &&
	    memcmp(cur.servers, next.servers, next.nservers * sizeof(next.servers[0])) == 0) {
		if (want)
			guarded_delete(c, g, want->key, want->mod_rev, NULL);
		return true;
	}
	if (!rec && !next.node)
		return true;	/* nothing to record: no manager node is up */
	next.epoch = rec ? cur.epoch + 1 : 1;
	rc = appoint(c, g, fsid, space, rec, want, &next);
	if (rc) {
		mm_info(SUB, "appointment for %s not written (%s): looking again", next.device,
			mm_strerror(rc));
		return false;
	}
	pthread_mutex_lock(&c->lock);
	snprintf(name, sizeof(name), "%s", clm_node_name_locked(c, next.node));
	pthread_mutex_unlock(&c->lock);
	if (!next.node)
		mm_warn(SUB, "no manager node is active: %s has no file system manager (epoch %" PRIu64 ")",
			next.device, next.epoch);
	else if (cur.node != next.node)
		mm_notice(SUB, "appointed node %u (%s) manager of %s%s, epoch %" PRIu64, next.node, name,
			  next.device, why, next.epoch);
	else
		mm_notice(SUB, "token servers of %s are now %zu node(s), epoch %" PRIu64, next.device,
			  next.nservers, next.epoch);
	return true;
}

void clm_fsmgr_manage(clm *c)
{
	struct etcd_kv *sp = NULL, *mg = NULL, *wt = NULL;
	size_t nsp = 0, nmg = 0, nwt = 0, ncands;
	uint32_t cands[256], me;
	unsigned loads[256] = {0};
	struct cm_guard g;
	bool all_ok = true;

	pthread_mutex_lock(&c->lock);
	me = c->me;
	g.lease = c->lease_id;
	pthread_mutex_unlock(&c->lock);
	snprintf(g.me, sizeof(g.me), "%u", me);
	if (!g.lease || serve_handover(c, &g, me))
		return;
	if (etcd_get_prefix(c->etcd, CLM_KEY_TOKSPACE, &sp, &nsp, NULL) ||
	    etcd_get_prefix(c->etcd, CLM_KEY_FSMGR, &mg, &nmg, NULL) ||
	    etcd_get_prefix(c->etcd, CLM_KEY_FSMGRWANT, &wt, &nwt, NULL)) {
		all_ok = false;
		goto out;
	}
	ncands = candidates(c, cands, 256);
	/* spaces each candidate keeps managing */
	for (size_t i = 0; i < nmg; i++) {
		struct clm_fsmgr f;
		uint64_t fsid = clm_fsid_of_key(mg[i].key, CLM_KEY_FSMGR);
		ssize_t ci;

		if (fsid && kv_of(sp, nsp, CLM_KEY_TOKSPACE, fsid) &&
		    !clm_fsmgr_rec_parse(mg[i].value, &f) && (ci = index_of(cands, ncands, f.node)) >= 0)
			loads[ci]++;
	}
	for (size_t i = 0; i < nsp; i++) {
		uint64_t fsid = clm_fsid_of_key(sp[i].key, CLM_KEY_TOKSPACE);

		if (fsid && !settle_space(c, &g, &sp[i], kv_of(mg, nmg, CLM_KEY_FSMGR, fsid),
					  kv_of(wt, nwt, CLM_KEY_FSMGRWANT, fsid), cands, loads, ncands))
			all_ok = false;
	}
	/* appointments and requests of spaces that are gone */
	for (size_t pass = 0; pass < 2; pass++) {
		struct etcd_kv *kv = pass ? wt : mg;
		const char *prefix = pass ? CLM_KEY_FSMGRWANT : CLM_KEY_FSMGR;

		for (size_t i = 0; i < (pass ? nwt : nmg); i++) {
			uint64_t fsid = clm_fsid_of_key(kv[i].key, prefix);
			char skey[64];

			if (!fsid || kv_of(sp, nsp, CLM_KEY_TOKSPACE, fsid))
				continue;
			fs_key(skey, sizeof(skey), CLM_KEY_TOKSPACE, fsid);
			guarded_delete(c, &g, kv[i].key, kv[i].mod_rev, skey);
			if (!pass)
				mm_info(SUB, "token space %016" PRIx64 " is gone: its appointment deleted", fsid);
		}
	}
out:
	etcd_kvs_free(sp, nsp);
	etcd_kvs_free(mg, nmg);
	etcd_kvs_free(wt, nwt);
	if (!all_ok) {
		pthread_mutex_lock(&c->lock);
		c->fsmgr_dirty = true;	/* look again shortly */
		pthread_mutex_unlock(&c->lock);
	}
}

/* ---- 4. requests -------------------------------------------------- */

int clm_tokspace_create(clm *c, uint64_t fsid, const char *device, char *err, size_t errsz)
{
	struct clm_fsmgr f;
	char key[64], val[128];
	const char *k = key, *v = val;

	if (!fsid || !device_ok(device)) {
		snprintf(err, errsz, "a token space needs an fsid (1 to 16 hex digits, not 0) and a "
			 "device name (letters, digits, '_', '-', '.', up to %d)", CLM_DEVICE_MAX - 1);
		return MM_EINVAL;
	}
	if (clm_fsmgr_find(c, device, &f) == MM_OK) {
		snprintf(err, errsz, "device %s already names token space %016" PRIx64, device, f.fsid);
		return MM_EEXIST;
	}
	fs_key(key, sizeof(key), CLM_KEY_TOKSPACE, fsid);
	snprintf(val, sizeof(val), "device=%s spread=0", device);
	return clm_ccr_create(c, &k, &v, 1, err, errsz);
}

int clm_tokspace_delete(clm *c, uint64_t fsid, char *err, size_t errsz)
{
	char key[64];
	int64_t deleted = 0;
	int rc;

	fs_key(key, sizeof(key), CLM_KEY_TOKSPACE, fsid);
	rc = etcd_delete(c->etcd, key, false, &deleted);
	if (rc)
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
	else if (!deleted) {
		snprintf(err, errsz, "no token space %016" PRIx64, fsid);
		rc = MM_ENOENT;
	}
	return rc;
}

int clm_fsmgr_spread(clm *c, uint64_t fsid, bool spread, char *err, size_t errsz)
{
	char key[64], val[128];

	fs_key(key, sizeof(key), CLM_KEY_TOKSPACE, fsid);
	for (int tries = 0; tries < 5; tries++) {
		struct etcd_kv kv = {0};
		struct clm_fsmgr f;
		struct etcd_cmp cmp;
		struct etcd_op op;
		bool ok = false;
		int rc = etcd_get(c->etcd, key, &kv, NULL);

		if (rc) {
			snprintf(err, errsz, rc == MM_ENOENT ? "no token space %016" PRIx64
				 : "cannot read the CCR", fsid);
			return rc;
		}
		rc = clm_tokspace_parse(kv.value, &f);
		if (rc) {
			etcd_kv_clear(&kv);
			snprintf(err, errsz, "malformed record %s", key);
			return rc;
		}
		snprintf(val, sizeof(val), "device=%s spread=%d", f.device, spread);
		cmp = (struct etcd_cmp){key, ETCD_CMP_MOD, ETCD_EQUAL, kv.mod_rev, NULL};
		op = (struct etcd_op){ETCD_OP_PUT, key, val, strlen(val), 0};
		etcd_kv_clear(&kv);
		rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);
		if (rc) {
			snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
			return rc;
		}
		if (ok)
			return MM_OK;
	}
	snprintf(err, errsz, "the CCR kept changing; try again");
	return MM_ECONFLICT;
}

/* Put <key>=<val> on a lease of its own of <ttl_s> iff <cmp> holds. */
static int put_leased(clm *c, const char *key, const char *val, int ttl_s, const struct etcd_cmp *cmp,
		      size_t ncmp, int64_t *lease, bool *ok)
{
	struct etcd_op op;
	int rc = etcd_lease_grant(c->etcd, ttl_s, lease);

	if (rc)
		return rc;
	op = (struct etcd_op){ETCD_OP_PUT, key, val, strlen(val), *lease};
	rc = etcd_txn(c->etcd, cmp, ncmp, &op, 1, NULL, 0, ok);
	if (rc || !*ok) {
		etcd_lease_revoke(c->etcd, *lease);
		*lease = 0;
	}
	return rc;
}

int clm_fsmgr_move(clm *c, uint64_t fsid, uint32_t node, int timeout_ms, uint32_t *old,
		   char *err, size_t errsz)
{
	char key[64], skey[64], val[32];
	struct etcd_cmp cmp;
	uint64_t epoch0, epoch, end;
	int64_t lease = 0;
	bool ok = false;
	int rc;

	if (clm_fsmgr(c, fsid, old, &epoch0, NULL, NULL)) {
		snprintf(err, errsz, "no token space %016" PRIx64, fsid);
		return MM_ENOENT;
	}
	if (*old == node)
		return MM_OK;
	fs_key(key, sizeof(key), CLM_KEY_FSMGRWANT, fsid);
	fs_key(skey, sizeof(skey), CLM_KEY_TOKSPACE, fsid);
	snprintf(val, sizeof(val), "node=%u", node);
	cmp = (struct etcd_cmp){skey, ETCD_CMP_CREATE, ETCD_GREATER, 0, NULL};
	rc = put_leased(c, key, val, WANT_TTL_S, &cmp, 1, &lease, &ok);
	if (rc || !ok) {
		snprintf(err, errsz, rc ? "cannot update the CCR: %s" : "the file system was deleted",
			 mm_strerror(rc));
		return rc ? rc : MM_ENOENT;
	}
	end = mm_now_ms() + (uint64_t)timeout_ms;
	rc = MM_ETIMEDOUT;
	while (mm_now_ms() < end) {
		uint32_t now;

		if (clm_fsmgr(c, fsid, &now, &epoch, NULL, NULL)) {
			rc = MM_ENOENT;
			snprintf(err, errsz, "the file system was deleted");
			break;
		}
		if (now == node && epoch > epoch0) {
			rc = MM_OK;
			break;
		}
		mm_sleep_ms(50);
	}
	if (rc == MM_ETIMEDOUT)
		snprintf(err, errsz, "the cluster manager did not appoint node %u within %d s "
			 "(it refuses nodes that are not active manager nodes)", node, timeout_ms / 1000);
	etcd_lease_revoke(c->etcd, lease);	/* the request goes with it, if still there */
	return rc;
}

int clm_cm_move(clm *c, uint32_t node, int timeout_ms, uint32_t *old, char *err, size_t errsz)
{
	struct etcd_cmp cmp[2];
	char val[96], cur[16];
	uint64_t end;
	int64_t lease = 0;
	bool ok = false, seen = false;
	int rc;

	*old = clm_cluster_manager(c);
	if (!*old) {
		snprintf(err, errsz, "there is no cluster manager now (an election is under way); "
			 "try again");
		return MM_ESTATE;
	}
	if (*old == node)
		return MM_OK;
	snprintf(cur, sizeof(cur), "%u", *old);
	snprintf(val, sizeof(val), "to=%u from=%u state=asked", node, *old);
	cmp[0] = (struct etcd_cmp){CLM_KEY_HANDOVER, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
	cmp[1] = (struct etcd_cmp){CLM_KEY_CM, ETCD_CMP_VALUE, ETCD_EQUAL, 0, cur};
	rc = put_leased(c, CLM_KEY_HANDOVER, val, CLM_HANDOVER_S, cmp, 2, &lease, &ok);
	if (rc) {
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
		return rc;
	}
	if (!ok) {
		snprintf(err, errsz, "another cluster manager change is in progress; try again");
		return MM_EBUSY;
	}
	end = mm_now_ms() + (uint64_t)timeout_ms;
	rc = MM_ETIMEDOUT;
	while (mm_now_ms() < end) {
		uint32_t now;
		bool standing;

		pthread_mutex_lock(&c->lock);
		now = c->cm;
		standing = c->handover_rev != 0;
		pthread_mutex_unlock(&c->lock);
		if (now == node) {
			rc = MM_OK;
			break;
		}
		/* the request was seen, is gone, and another holds the role: the
		 * handover lapsed (or was refused) and an election chose another */
		if (standing)
			seen = true;
		else if (seen && now) {
			rc = MM_ESTATE;
			break;
		}
		mm_sleep_ms(50);
	}
	if (rc) {
		char want[256], got[256];
		uint32_t now = clm_cluster_manager(c);

		pthread_mutex_lock(&c->lock);
		snprintf(want, sizeof(want), "%s", clm_node_name_locked(c, node));
		snprintf(got, sizeof(got), "%s", now ? clm_node_name_locked(c, now) : "none yet");
		pthread_mutex_unlock(&c->lock);
		if (rc == MM_ETIMEDOUT)
			snprintf(err, errsz, "node %s did not take over as cluster manager within %d s "
				 "(cluster manager now: %s)", want, timeout_ms / 1000, got);
		else
			snprintf(err, errsz, "node %s did not take over as cluster manager: the handover "
				 "lapsed and %s was elected", want, got);
	}
	etcd_lease_revoke(c->etcd, lease);
	return rc;
}
