/*
 * tokens/client.c - a node's token cache and its local holders
 * (tokens/README.md "Client"). The generic state machine, like GFS2's
 * run_queue: every event marks an object to run; tok_client_leave runs
 * the marked objects, then the granted callbacks, until nothing is left.
 *
 *   1. objects and the run list: tok_cobj_get, tok_cobj_kick, enter/leave
 *   2. run_obj: revokes first (revoke.c), then waiting holders in order
 *   3. tok_acquire, tok_release
 *   4. messages: grant, conflict, revoked; tok_client_recv
 *   5. create/destroy, servers, upcalls, statistics, iteration, dumps
 */
#include "tokens/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"

/* ---- 1. objects and the run list ---- */

static bool cobj_eq(const struct mm_hnode *n, const void *key)
{
	return tok_key_eq(&((const struct tok_cobj *)n)->key, key);
}

struct tok_cobj *tok_cobj_get(struct tok_client *c, const struct tok_key *k, bool create)
{
	struct tok_cobj *co = (struct tok_cobj *)mm_htab_find(&c->objs, tok_key_hash(k), cobj_eq, k);

	if (co || !create)
		return co;
	co = calloc(1, sizeof(*co));
	if (!co)
		return NULL;
	co->key = *k;
	mm_list_init(&co->waiting);
	mm_list_init(&co->granted);
	mm_list_init(&co->revokes);
	mm_list_init(&co->dirty);
	mm_list_add_tail(&c->lru, &co->lru);
	mm_htab_insert(&c->objs, &co->hn, tok_key_hash(k));
	c->st.objects++;
	return co;
}

static bool cobj_unused(const struct tok_cobj *co)
{
	return !co->pieces && mm_list_empty(&co->waiting) && mm_list_empty(&co->granted) &&
	       mm_list_empty(&co->revokes) && co->inflight == TOK_IF_NONE;
}

void tok_cobj_kick(struct tok_client *c, struct tok_cobj *co)
{
	if (!mm_list_linked(&co->dirty))
		mm_list_add_tail(&c->run, &co->dirty);
}

void tok_client_enter(struct tok_client *c)
{
	c->depth++;
}

static void run_obj(struct tok_client *c, struct tok_cobj *co);
static void trim_cache(struct tok_client *c);
static void wake_failwait(struct tok_client *c, bool all, uint32_t space);

void tok_client_leave(struct tok_client *c)
{
	struct mm_list *l;

	MM_BUG_ON(c, c->depth <= 0);
	if (c->depth > 1) {
		c->depth--;
		return;
	}
	/* depth stays 1 while callbacks run: their calls only queue work */
	for (;;) {
		if ((l = mm_list_first(&c->run))) {
			struct tok_cobj *co = mm_list_entry(l, struct tok_cobj, dirty);

			mm_list_del(l);
			run_obj(c, co);
			if (cobj_unused(co) && !mm_list_linked(&co->dirty)) {
				mm_list_del(&co->lru);
				mm_htab_remove(&c->objs, &co->hn);
				free(co);
				c->st.objects--;
			}
		} else if ((l = mm_list_first(&c->completed))) {
			struct tok_holder *h = mm_list_entry(l, struct tok_holder, clink);

			mm_list_del(l);
			if (h->done)
				h->done(h, h->arg);
		} else {
			break;
		}
	}
	c->depth--;
}

void tok_client_send(struct tok_client *c, uint32_t to, struct tok_msg *m)
{
	size_t len;

	if (m->type == TOK_MSG_ACQ || m->type == TOK_MSG_RELINQ || m->type == TOK_MSG_REASSERT ||
	    m->type == TOK_MSG_REASSERT_DONE) {
		const struct tok_view *v = tok_view_of(c, m->key.space);

		m->epoch = v ? v->epoch : 0;
	}
	if (!m->reqid)
		m->reqid = ++c->next_id;
	len = tok_msg_encode(m, c->buf);

	c->st.msgs_out++;
	if (c->x.send(c->x.arg, to, c->buf, len) != MM_OK)
		mm_warn("tokens", "node %u: %s to node %u not sent", c->self,
			tok_msg_type_name(m->type), to);
}

/* ---- 2. run_obj ---- */

static void hwait(struct tok_holder *h, const char *cause, uint32_t node)
{
	h->cause = cause;
	h->cause_node = node;
}

/* A granted local holder of <co> that conflicts with <h>, or NULL. */
static struct tok_holder *local_conflict(struct tok_cobj *co, const struct tok_holder *h)
{
	struct mm_list *pos;

	mm_list_for_each(pos, &co->granted) {
		struct tok_holder *g = mm_list_entry(pos, struct tok_holder, link);

		if (tok_range_overlap(g->req, h->req) && tok_modes_conflict(g->mode, h->mode))
			return g;
	}
	return NULL;
}

static void send_acquire(struct tok_client *c, struct tok_cobj *co, struct tok_holder *h)
{
	struct tok_msg m = {.type = TOK_MSG_ACQ, .mode = h->mode, .key = h->key,
			    .r = h->req, .des = h->des};
	uint32_t srv = tok_client_server(c, &h->key);

	h->reqid = m.reqid = ++c->next_id;
	h->st = TOK_H_SERVER;
	hwait(h, "the token server's answer", srv);
	co->inflight = TOK_IF_ACQ;
	co->if_reqid = m.reqid;
	co->if_h = h;
	c->st.server_requests++;
	tok_client_send(c, srv, &m);
}

/*
 * A holder of <co> whose desired range overlaps <h>'s required range and
 * whose revokes are out (not one waiting for a failed node's recovery:
 * that may take leaseRecoveryWait, and <h> may not conflict with the
 * failed node at all). Only a caller that holds nothing waits
 * for one: a multi-acquire past its first token may wait only for tokens
 * greater than those it holds, and the sibling's revokes may wait for a
 * holder elsewhere that waits for one of them (the simulation found it).
 */
static const struct tok_holder *sibling_asking(const struct tok_cobj *co,
					       const struct tok_holder *h)
{
	struct mm_list *pos;

	if (h->multi && h->multi->next > 0)
		return NULL;
	mm_list_for_each(pos, &co->waiting) {
		const struct tok_holder *x = mm_list_entry(pos, struct tok_holder, link);

		/* its desired range may well bring this one's required range
		 * along (the first writer of a stripe asks for all of it) */
		if (x != h && x->st == TOK_H_REVOKING && tok_range_overlap(x->des, h->req))
			return x;
	}
	return NULL;
}

static void run_obj(struct tok_client *c, struct tok_cobj *co)
{
	struct mm_list *pos, *tmp;
	const struct tok_crev *by;
	const struct tok_holder *sib;

	tok_run_revokes(c, co);
	mm_list_for_each_safe(pos, tmp, &co->waiting) {
		struct tok_holder *h = mm_list_entry(pos, struct tok_holder, link);

		if (h->st != TOK_H_WAIT)
			continue;
		if (tok_blocked_by_revoke(co, h, &by)) {
			hwait(h, by->from == TOK_NODE_NONE ? "a relinquish of this token"
							   : "a revoke for another node", by->from);
		} else if (tok_rl_covers(co->pieces, c->self, h->req, h->mode)) {
			if (local_conflict(co, h)) {
				hwait(h, "a local holder", c->self);
				continue;
			}
			mm_list_del(&h->link);
			mm_list_add_tail(&co->granted, &h->link);
			h->st = TOK_H_GRANTED;
			hwait(h, NULL, TOK_NODE_NONE);
			c->st.local_grants++;
			mm_list_add_tail(&c->completed, &h->clink);
		} else if ((sib = sibling_asking(co, h))) {
			/* its answer will likely serve this one too: asking the
			 * server now would only meet the same holders again */
			hwait(h, "another holder's revokes for this object", sib->cause_node);
		} else if (co->inflight == TOK_IF_NONE) {
			send_acquire(c, co, h);
		} else {
			hwait(h, "another server request for this object", TOK_NODE_NONE);
		}
	}
}

/* ---- 3. acquire, release ---- */

void tok_holder_init(struct tok_holder *h, const struct tok_key *k, enum tok_mode mode,
		     struct tok_range req, struct tok_range des)
{
	memset(h, 0, sizeof(*h));
	h->key = *k;
	h->mode = mode;
	if (k->kind != TOK_BR)
		req = des = (struct tok_range){0, TOK_INF};
	h->req = req;
	h->des = des;
	h->cause_node = TOK_NODE_NONE;
	mm_list_init(&h->link);
	mm_list_init(&h->clink);
}

static int holder_valid(const struct tok_holder *h)
{
	if (!tok_kind_valid(h->key.kind) || !tok_mode_valid(h->mode) || h->req.start >= h->req.end ||
	    h->des.start > h->req.start || h->des.end < h->req.end)
		return MM_EINVAL;
	if (h->key.kind != TOK_BR && (h->req.start != 0 || h->req.end != TOK_INF ||
				      h->des.start != 0 || h->des.end != TOK_INF))
		return MM_EINVAL;
	return MM_OK;
}

int tok_acquire(struct tok_client *c, struct tok_holder *h)
{
	struct tok_cobj *co;

	if (holder_valid(h) != MM_OK || h->st != TOK_H_IDLE)
		return MM_EINVAL;
	if (!tok_view_of(c, h->key.space))
		return MM_ESTATE;
	co = tok_cobj_get(c, &h->key, true);
	if (!co)
		return MM_ENOMEM;
	h->co = co;
	h->st = TOK_H_WAIT;
	h->since = c->x.now ? c->x.now(c->x.arg) : 0;
	hwait(h, "its turn", TOK_NODE_NONE);
	mm_list_add_tail(&co->waiting, &h->link);
	mm_list_del(&co->lru);
	mm_list_add_tail(&c->lru, &co->lru);
	tok_client_enter(c);
	tok_cobj_kick(c, co);
	trim_cache(c);
	tok_client_leave(c);
	return MM_OK;
}

void tok_release(struct tok_client *c, struct tok_holder *h)
{
	struct tok_cobj *co = h->co;

	if (h->st == TOK_H_LOST) {
		h->st = TOK_H_IDLE;
		return;
	}
	MM_BUG_ON(h, h->st != TOK_H_GRANTED || !co);
	mm_list_del(&h->link);
	if (mm_list_linked(&h->clink))	/* released from another callback */
		mm_list_del(&h->clink);
	h->st = TOK_H_IDLE;
	h->co = NULL;
	tok_client_enter(c);
	tok_cobj_kick(c, co);
	tok_client_leave(c);
}

void tok_cancel(struct tok_client *c, struct tok_holder *h)
{
	struct tok_cobj *co = h->co;

	switch (h->st) {
	case TOK_H_IDLE:
		return;
	case TOK_H_LOST:
		h->st = TOK_H_IDLE;
		return;
	case TOK_H_GRANTED:
		tok_release(c, h);
		return;
	case TOK_H_SERVER:
		/* the answer still comes: a grant is cached, a conflict dropped */
		MM_BUG_ON(co, co->if_h != h);
		co->if_h = NULL;
		break;
	case TOK_H_REVOKING:
	case TOK_H_FAILWAIT:
		mm_list_del(&h->clink);	/* late revoked answers are stale */
		break;
	case TOK_H_WAIT:
		break;
	}
	mm_list_del(&h->link);
	h->st = TOK_H_IDLE;
	h->co = NULL;
	hwait(h, NULL, TOK_NODE_NONE);
	tok_client_enter(c);
	tok_cobj_kick(c, co);
	tok_client_leave(c);
}

/* ---- 4. messages ---- */

static int refuse(struct tok_client *c, uint32_t from, const struct tok_msg *m, const char *why)
{
	c->st.refused++;
	mm_warn("tokens", "node %u: %s from node %u refused: %s", c->self,
		tok_msg_type_name(m->type), from, why);
	return MM_EPROTO;
}

static bool node_failed(const struct tok_client *c, uint32_t node)
{
	if (node & TOK_NODE_FAILED)
		return true;
	for (size_t i = 0; i < c->nfailed; i++)
		if (c->failed[i] == node)
			return true;
	return false;
}

static void failwait(struct tok_client *c, struct tok_holder *h, uint32_t node)
{
	h->st = TOK_H_FAILWAIT;
	hwait(h, "the recovery of a failed node holding a conflicting token",
	      node & ~TOK_NODE_FAILED);
	mm_list_add_tail(&c->failwait, &h->clink);
	c->st.failed_waits++;
}

static int got_answer(struct tok_client *c, uint32_t from, const struct tok_msg *m)
{
	struct tok_cobj *co = tok_cobj_get(c, &m->key, false);
	struct tok_holder *h;

	if (!co || co->inflight != TOK_IF_ACQ || co->if_reqid != m->reqid)
		return refuse(c, from, m, "no such request in flight");
	h = co->if_h;
	if (m->type == TOK_MSG_GRANT && h &&
	    (!tok_mode_covers(m->mode, h->mode) || m->r.start > h->req.start ||
	     m->r.end < h->req.end))
		return refuse(c, from, m, "the grant does not cover the request");
	co->inflight = TOK_IF_NONE;
	co->if_h = NULL;
	if (m->type == TOK_MSG_GRANT) {
		/* on ENOMEM the cache holds less than the server says: safe */
		if (tok_rl_set(&co->pieces, c->self, m->r, m->mode, &c->nrec) != MM_OK)
			mm_warn("tokens", "node %u: out of memory caching a grant", c->self);
		if (h) {
			h->st = TOK_H_WAIT;
			hwait(h, "its turn", TOK_NODE_NONE);
		}
	} else if (h) {
		struct tok_msg rv = {.type = TOK_MSG_REVOKE, .mode = m->mode, .key = m->key,
				     .reqid = h->reqid, .r = h->req, .des = h->des};

		c->st.conflicts++;
		/* a failed node answers no revoke: wait for its recovery, then
		 * ask again (and revoke the live holders then) */
		for (uint16_t i = 0; i < m->n; i++) {
			if (node_failed(c, m->ent[i].node)) {
				failwait(c, h, m->ent[i].node);
				tok_cobj_kick(c, co);
				return MM_OK;
			}
		}
		h->st = TOK_H_REVOKING;
		h->nrev = m->n;
		hwait(h, "revokes sent to holders, first", m->ent[0].node);
		mm_list_add_tail(&c->revoking, &h->clink);
		for (uint16_t i = 0; i < m->n; i++) {
			if (m->ent[i].node == c->self) {
				h->nrev--;	/* not from a correct server */
				continue;
			}
			c->st.revokes_sent++;
			tok_client_send(c, m->ent[i].node, &rv);
		}
		if (h->nrev == 0) {
			mm_list_del(&h->clink);
			h->st = TOK_H_WAIT;
		}
	}
	tok_cobj_kick(c, co);
	return MM_OK;
}

static int got_revoked(struct tok_client *c, const struct tok_msg *m)
{
	struct mm_list *pos;

	mm_list_for_each(pos, &c->revoking) {
		struct tok_holder *h = mm_list_entry(pos, struct tok_holder, clink);

		if (h->reqid != m->reqid || !tok_key_eq(&h->key, &m->key))
			continue;
		if (--h->nrev == 0) {
			mm_list_del(&h->clink);
			h->st = TOK_H_WAIT;
			hwait(h, "its turn", TOK_NODE_NONE);
			tok_cobj_kick(c, h->co);
		}
		return MM_OK;
	}
	/* its holder was cancelled, or asked again after a node failed */
	c->st.stale++;
	return MM_OK;
}

/* Wake the holders waiting for failed nodes' recovery (of <space>, or all). */
static void wake_failwait(struct tok_client *c, bool all, uint32_t space)
{
	struct mm_list *pos, *tmp;

	mm_list_for_each_safe(pos, tmp, &c->failwait) {
		struct tok_holder *h = mm_list_entry(pos, struct tok_holder, clink);

		if (!all && h->key.space != space)
			continue;
		mm_list_del(&h->clink);
		h->st = TOK_H_WAIT;
		hwait(h, "its turn", TOK_NODE_NONE);
		tok_cobj_kick(c, h->co);
	}
}

/* tokenMemLimit at the server: give the object back if nobody uses it. */
static void got_drop(struct tok_client *c, const struct tok_msg *m)
{
	struct tok_cobj *co = tok_cobj_get(c, &m->key, false);
	const struct tok_range all = {0, TOK_INF};

	c->st.drops_asked++;
	if (!co || !co->pieces || !mm_list_empty(&co->granted) || !mm_list_empty(&co->waiting) ||
	    !mm_list_empty(&co->revokes) || co->inflight != TOK_IF_NONE)
		return;
	if (!tok_crev_new(c, co, TOK_NODE_NONE, 0, TOK_XW, all, all))
		mm_warn("tokens", "node %u: out of memory giving a token back", c->self);
}

/* A revoke served for a failed node is finished for nobody. */
static void forget_requester(struct mm_hnode *n, void *arg)
{
	struct tok_client *c = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;
	struct mm_list *pos;

	mm_list_for_each(pos, &co->revokes) {
		struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, link);

		if (rev->from == c->failing)
			rev->from = TOK_NODE_NONE;
	}
}

/*
 * maxFilesToCache: past the limit, give back unused objects, least
 * recently acquired first, down to 90% of it (so the relinquishes go out
 * in one batch, not one per acquire); allocation regions are never given
 * back this way.
 */
static void trim_cache(struct tok_client *c)
{
	const struct tok_range all = {0, TOK_INF};
	struct mm_list *pos, *tmp;
	uint64_t over;

	if (!c->cache_limit || c->st.objects <= c->cache_limit)
		return;
	over = c->st.objects - c->cache_limit + c->cache_limit / 10;
	mm_list_for_each_safe(pos, tmp, &c->lru) {
		struct tok_cobj *co = mm_list_entry(pos, struct tok_cobj, lru);

		if (!over)
			break;
		if (!co->pieces || !mm_list_empty(&co->granted) || !mm_list_empty(&co->waiting) ||
		    !mm_list_empty(&co->revokes) || co->inflight != TOK_IF_NONE)
			continue;
		/* Allocation regions are few and kept for the mount: giving one
		 * back runs its revoke (a flush of its map blocks), which waits
		 * for a transaction that holds them, and that transaction may
		 * be the one whose acquire made this trim (moving to the next
		 * region) */
		if (co->key.kind == TOK_ALLOC || co->key.kind == TOK_IALLOC)
			continue;
		if (!tok_crev_new(c, co, TOK_NODE_NONE, 0, TOK_XW, all, all))
			break;
		c->st.cache_drops++;
		over--;
	}
}

/* Is <m>, from a server, of the view this client has? */
static bool current(const struct tok_client *c, const struct tok_msg *m)
{
	const struct tok_view *v = tok_view_of(c, m->key.space);

	return v && v->epoch == m->epoch;
}

int tok_client_recv(struct tok_client *c, uint32_t from, const void *buf, size_t len)
{
	struct tok_msg m;
	char err[160];
	int rc;

	c->st.msgs_in++;
	if (tok_msg_decode(buf, len, &m, err, sizeof(err)) != MM_OK) {
		c->st.refused++;
		mm_warn("tokens", "node %u: message from node %u refused: %s", c->self, from, err);
		return MM_EPROTO;
	}
	tok_client_enter(c);
	switch (m.type) {
	case TOK_MSG_GRANT:
	case TOK_MSG_CONFLICT:
	case TOK_MSG_RELINQ_ACK:
	case TOK_MSG_RECOVERED:
	case TOK_MSG_DROP:
		if (!current(c, &m)) {
			/* of an older view: its request is asked again */
			c->st.stale++;
			rc = MM_OK;
			break;
		}
		if (m.type == TOK_MSG_RELINQ_ACK) {
			rc = tok_client_relinq_ack(c, &m);
			if (rc != MM_OK)
				rc = refuse(c, from, &m, "no relinquish in flight");
		} else if (m.type == TOK_MSG_RECOVERED) {
			wake_failwait(c, false, m.key.space);
			rc = MM_OK;
		} else if (m.type == TOK_MSG_DROP) {
			got_drop(c, &m);
			rc = MM_OK;
		} else {
			rc = got_answer(c, from, &m);
		}
		break;
	case TOK_MSG_REVOKE:
		rc = tok_client_revoke_in(c, from, &m);
		break;
	case TOK_MSG_REVOKED:
		rc = got_revoked(c, &m);
		break;
	default:
		rc = refuse(c, from, &m, "not for a client");
		break;
	}
	tok_client_leave(c);
	return rc;
}

/* ---- 5. the rest ---- */

int tok_client_create(uint32_t self, const struct tok_xport *x, struct tok_client **out)
{
	struct tok_client *c = calloc(1, sizeof(*c));

	if (!c)
		return MM_ENOMEM;
	c->self = self;
	c->x = *x;
	mm_list_init(&c->revoking);
	mm_list_init(&c->completed);
	mm_list_init(&c->run);
	mm_list_init(&c->upcalls);
	mm_list_init(&c->failwait);
	mm_list_init(&c->lru);
	if (mm_htab_init(&c->objs, 16) != MM_OK) {	/* grows by doubling */
		free(c);
		return MM_ENOMEM;
	}
	*out = c;
	return MM_OK;
}

static void cobj_free(struct mm_hnode *n, void *arg)
{
	struct tok_client *c = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;
	struct mm_list *l;

	/* holders are the callers' storage: left alone, as forgotten */
	while ((l = mm_list_first(&co->revokes))) {
		mm_list_del(l);
		free(mm_list_entry(l, struct tok_crev, link));
	}
	tok_rl_free(&co->pieces, &c->nrec);
	mm_htab_remove(&c->objs, n);
	free(co);
}

void tok_client_destroy(struct tok_client *c)
{
	if (!c)
		return;
	mm_htab_each(&c->objs, cobj_free, c);
	mm_htab_free(&c->objs);
	for (size_t i = 0; i < c->nviews; i++)
		free(c->views[i].servers);
	free(c->views);
	free(c->failed);
	free(c);
}

/*
 * A new view of <space>: what was in flight to the old servers is lost
 * with them (or forgotten by them), so acquires are asked again, a
 * relinquish counts as done (the reassert below tells the new server
 * what is left), and every piece is reasserted, then reassert-done.
 */
static void move_obj(struct mm_hnode *n, void *arg)
{
	struct tok_client *c = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;
	const struct tok_view *v;

	if (co->key.space != c->moving)
		return;
	v = tok_view_of(c, co->key.space);
	if (co->inflight == TOK_IF_ACQ) {
		struct tok_holder *h = co->if_h;

		if (h) {
			h->st = TOK_H_WAIT;
			hwait(h, "its turn", TOK_NODE_NONE);
		}
		co->inflight = TOK_IF_NONE;
		co->if_h = NULL;
		c->st.resent++;
	} else if (co->inflight == TOK_IF_RELINQ) {
		struct tok_crev *rev = co->if_rev;

		co->inflight = TOK_IF_NONE;
		co->if_rev = NULL;
		tok_crev_answer(c, rev);
	}
	for (struct tok_rec *x = co->pieces; x; x = x->next) {
		struct tok_msg m = {.type = TOK_MSG_REASSERT, .mode = x->mode, .key = co->key,
				    .r = {x->start, x->end}};

		c->st.reasserts++;
		tok_client_send(c, tok_server_for(v->servers, v->n, &co->key), &m);
	}
	tok_cobj_kick(c, co);
}

int tok_client_set_view(struct tok_client *c, uint32_t space, uint32_t epoch,
			const uint32_t *servers, size_t n)
{
	struct tok_view *v = (struct tok_view *)tok_view_of(c, space);
	uint32_t *copy;
	bool moved;

	if (n == 0 || (v && epoch < v->epoch))
		return MM_EINVAL;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return MM_ENOMEM;
	memcpy(copy, servers, n * sizeof(*copy));
	if (!v) {
		struct tok_view *nv = realloc(c->views, (c->nviews + 1) * sizeof(*nv));

		if (!nv) {
			free(copy);
			return MM_ENOMEM;
		}
		c->views = nv;
		v = &c->views[c->nviews++];
		v->space = space;
		v->servers = NULL;
		v->epoch = epoch;
		moved = epoch > 0;	/* a server may wait for this node's word */
	} else {
		moved = epoch > v->epoch;
	}
	free(v->servers);
	v->servers = copy;
	v->n = n;
	v->epoch = epoch;
	if (!moved)
		return MM_OK;
	tok_client_enter(c);
	c->moving = space;
	mm_htab_each(&c->objs, move_obj, c);
	wake_failwait(c, false, space);
	for (size_t i = 0; i < n; i++) {
		struct tok_msg m = {.type = TOK_MSG_REASSERT_DONE, .key = {.space = space}};
		size_t j;

		for (j = 0; j < i && servers[j] != servers[i]; j++)
			;
		if (j == i)
			tok_client_send(c, servers[i], &m);
	}
	tok_client_leave(c);
	return MM_OK;
}

void tok_client_node_failed(struct tok_client *c, uint32_t node)
{
	struct mm_list *pos, *tmp;
	uint32_t *f;

	if (node_failed(c, node))
		return;
	f = realloc(c->failed, (c->nfailed + 1) * sizeof(*f));
	if (f) {
		c->failed = f;
		c->failed[c->nfailed++] = node;
	}
	tok_client_enter(c);
	/* which revokes went to <node> is not kept: every holder revoking asks
	 * the server again, and a conflict naming <node> now waits */
	mm_list_for_each_safe(pos, tmp, &c->revoking) {
		struct tok_holder *h = mm_list_entry(pos, struct tok_holder, clink);

		mm_list_del(&h->clink);
		h->st = TOK_H_WAIT;
		hwait(h, "its turn", TOK_NODE_NONE);
		c->st.resent++;
		tok_cobj_kick(c, h->co);
	}
	c->failing = node;
	mm_htab_each(&c->objs, forget_requester, c);
	tok_client_leave(c);
}

static void lose_holder(struct tok_client *c, struct tok_holder *h, struct mm_list *tell)
{
	bool waiting = h->st != TOK_H_GRANTED || mm_list_linked(&h->clink);

	mm_list_del(&h->link);
	if (mm_list_linked(&h->clink))
		mm_list_del(&h->clink);
	h->st = TOK_H_LOST;
	h->co = NULL;
	hwait(h, "this node was expelled", c->self);
	if (waiting)
		mm_list_add_tail(tell, &h->clink);
}

static void reset_obj(struct mm_hnode *n, void *arg)
{
	struct tok_client *c = ((void **)arg)[0];
	struct mm_list *tell = ((void **)arg)[1];
	struct tok_cobj *co = (struct tok_cobj *)n;
	struct mm_list *l;

	while ((l = mm_list_first(&co->waiting)))
		lose_holder(c, mm_list_entry(l, struct tok_holder, link), tell);
	while ((l = mm_list_first(&co->granted)))
		lose_holder(c, mm_list_entry(l, struct tok_holder, link), tell);
	while ((l = mm_list_first(&co->revokes))) {
		mm_list_del(l);
		free(mm_list_entry(l, struct tok_crev, link));
	}
	tok_rl_free(&co->pieces, &c->nrec);
	if (mm_list_linked(&co->dirty))
		mm_list_del(&co->dirty);
	mm_list_del(&co->lru);
	mm_htab_remove(&c->objs, &co->hn);
	free(co);
	c->st.objects--;
}

void tok_client_reset(struct tok_client *c)
{
	struct mm_list tell, *l;
	void *arg[2] = {c, &tell};

	mm_list_init(&tell);
	tok_client_enter(c);
	mm_htab_each(&c->objs, reset_obj, arg);
	/* every record is gone: these lists only held what was freed */
	mm_list_init(&c->revoking);
	mm_list_init(&c->failwait);
	mm_list_init(&c->upcalls);
	mm_list_init(&c->run);
	c->st.resets++;
	while ((l = mm_list_first(&tell))) {
		struct tok_holder *h = mm_list_entry(l, struct tok_holder, clink);

		mm_list_del(l);
		if (h->multi)
			h->multi->done(h->multi, h->multi->arg);
		else if (h->done)
			h->done(h, h->arg);
	}
	tok_client_leave(c);
}

void tok_client_node_up(struct tok_client *c, uint32_t node)
{
	for (size_t i = 0; i < c->nfailed; i++) {
		if (c->failed[i] == node) {
			c->failed[i] = c->failed[--c->nfailed];
			return;
		}
	}
}

void tok_client_retry_failed(struct tok_client *c)
{
	tok_client_enter(c);
	wake_failwait(c, true, 0);
	tok_client_leave(c);
}

void tok_client_set_cache_limit(struct tok_client *c, size_t max)
{
	c->cache_limit = max;
	tok_client_enter(c);
	trim_cache(c);
	tok_client_leave(c);
}

const struct tok_view *tok_view_of(const struct tok_client *c, uint32_t space)
{
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].space == space)
			return &c->views[i];
	return NULL;
}

uint32_t tok_client_server(const struct tok_client *c, const struct tok_key *k)
{
	const struct tok_view *v = tok_view_of(c, k->space);

	MM_BUG_ON(c, !v);
	return tok_server_for(v->servers, v->n, k);
}

void tok_client_set_revoke(struct tok_client *c, enum tok_kind kind, tok_revoke_fn fn, void *arg)
{
	if ((unsigned)kind < TOK_NKINDS) {
		c->up[kind].fn = fn;
		c->up[kind].arg = arg;
	}
}

void tok_client_get_stats(const struct tok_client *c, struct tok_client_stats *st)
{
	*st = c->st;
	st->pieces = (uint64_t)c->nrec;
}

struct each_arg {
	void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode, struct tok_range r);
	void *arg;
	bool idle;
};

static void cobj_each(struct mm_hnode *n, void *arg)
{
	struct each_arg *a = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;

	for (struct tok_rec *x = co->pieces; x; x = x->next)
		a->fn(a->arg, &co->key, x->mode, (struct tok_range){x->start, x->end});
}

void tok_client_foreach(const struct tok_client *c,
			void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode,
				   struct tok_range r),
			void *arg)
{
	struct each_arg a = {fn, arg, true};

	mm_htab_each((struct mm_htab *)&c->objs, cobj_each, &a);
}

static void cobj_idle(struct mm_hnode *n, void *arg)
{
	struct each_arg *a = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;

	if (!mm_list_empty(&co->waiting) || !mm_list_empty(&co->granted) ||
	    !mm_list_empty(&co->revokes) || co->inflight != TOK_IF_NONE)
		a->idle = false;
}

bool tok_client_idle(const struct tok_client *c)
{
	struct each_arg a = {NULL, NULL, true};

	mm_htab_each((struct mm_htab *)&c->objs, cobj_idle, &a);
	return a.idle && mm_list_empty(&c->revoking) && mm_list_empty(&c->upcalls) &&
	       mm_list_empty(&c->failwait);
}

struct waiters_arg {
	void (*fn)(void *arg, const struct tok_waiter *w);
	void *arg;
};

static void cobj_waiters(struct mm_hnode *n, void *arg)
{
	struct waiters_arg *a = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;
	struct mm_list *pos;

	mm_list_for_each(pos, &co->waiting) {
		const struct tok_holder *h = mm_list_entry(pos, struct tok_holder, link);
		struct tok_waiter w = {.key = co->key, .mode = h->mode, .r = h->req,
				       .node = TOK_NODE_NONE, .cause = h->cause ? h->cause : "its turn",
				       .cause_node = h->cause_node, .since_ns = h->since};

		a->fn(a->arg, &w);
	}
	mm_list_for_each(pos, &co->revokes) {
		const struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, link);
		struct tok_waiter w = {.key = co->key, .mode = (enum tok_mode)rev->mode, .r = rev->req,
				       .revoke = true, .node = rev->from,
				       .cause = rev->cause ? rev->cause : "its turn",
				       .cause_node = TOK_NODE_NONE, .since_ns = rev->since};

		a->fn(a->arg, &w);
	}
}

void tok_client_waiters(const struct tok_client *c,
			void (*fn)(void *arg, const struct tok_waiter *w), void *arg)
{
	struct waiters_arg a = {fn, arg};

	mm_htab_each((struct mm_htab *)&c->objs, cobj_waiters, &a);
}

/* The dump hooks of MM_BUG_ON (common/bug.h): no locks, no allocation. */
void tok_holder_dump(const void *obj, char *buf, size_t sz)
{
	const struct tok_holder *h = obj;

	snprintf(buf, sz,
		 "tok_holder %p: space %u %s %" PRIu64 " mode %s req [%" PRIu64 ",%" PRIu64
		 ") des [%" PRIu64 ",%" PRIu64 ") state %d cause %s (node %u) reqid %" PRIu64
		 " revokes %u obj %p",
		 obj, h->key.space, tok_kind_name(h->key.kind), h->key.obj, tok_mode_name(h->mode),
		 h->req.start, h->req.end, h->des.start, h->des.end, h->st,
		 h->cause ? h->cause : "-", h->cause_node, h->reqid, h->nrev, (void *)h->co);
}

void tok_cobj_dump(const void *obj, char *buf, size_t sz)
{
	const struct tok_cobj *co = obj;
	size_t off;

	off = (size_t)snprintf(buf, sz, "tok_cobj %p: space %u %s %" PRIu64 " inflight %d reqid %" PRIu64
			       " waiting %s granted %s revokes %s; pieces:",
			       obj, co->key.space, tok_kind_name(co->key.kind), co->key.obj,
			       co->inflight, co->if_reqid, mm_list_empty(&co->waiting) ? "no" : "yes",
			       mm_list_empty(&co->granted) ? "no" : "yes",
			       mm_list_empty(&co->revokes) ? "no" : "yes");
	for (const struct tok_rec *x = co->pieces; x && off < sz; x = x->next)
		off += (size_t)snprintf(buf + off, sz - off, " %s[%" PRIu64 ",%" PRIu64 ")",
					tok_mode_name(x->mode), x->start, x->end);
}

void tok_client_dump(const void *obj, char *buf, size_t sz)
{
	const struct tok_client *c = obj;

	snprintf(buf, sz, "tok_client %p: node %u depth %d objects %" PRIu64 " pieces %ld", obj,
		 c->self, c->depth, c->st.objects, c->nrec);
}
