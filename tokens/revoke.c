/*
 * tokens/revoke.c - the holder's side of a revoke (tokens/README.md
 * "Flows"): a revoke from a requesting node, or a drop of an unused token,
 * walks NEW -> DRAIN -> UPCALL -> SEND -> ACK and is answered once the
 * server has the relinquish. Revokes of one object run independently:
 * each waits only for the local holders that conflict with it.
 *
 *   1. tok_crev_new, answer
 *   2. tok_run_revokes: the state machine
 *   3. messages and upcalls: revoke in, relinquish ack, upcall done
 *   4. tok_client_drop_unused
 */
#include "tokens/tok_int.h"

#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"

/* ---- 1. records ---- */

struct tok_crev *tok_crev_new(struct tok_client *c, struct tok_cobj *co, uint32_t from,
			      uint64_t reqid, enum tok_mode mode, struct tok_range req,
			      struct tok_range des)
{
	struct tok_crev *rev = calloc(1, sizeof(*rev));

	if (!rev)
		return NULL;
	rev->co = co;
	rev->st = TOK_R_NEW;
	rev->from = from;
	rev->reqid = reqid;
	rev->mode = (uint8_t)mode;
	rev->req = req;
	rev->des = des;
	rev->blk = req;
	rev->since = c->x.now ? c->x.now(c->x.arg) : 0;
	mm_list_init(&rev->ulink);
	mm_list_add_tail(&co->revokes, &rev->link);
	tok_cobj_kick(c, co);
	return rev;
}

/* Tell the requester, forget the record. */
void tok_crev_answer(struct tok_client *c, struct tok_crev *rev)
{
	if (rev->from != TOK_NODE_NONE) {
		struct tok_msg m = {.type = TOK_MSG_REVOKED, .reqid = rev->reqid, .key = rev->co->key};

		tok_client_send(c, rev->from, &m);
	}
	mm_list_del(&rev->link);
	free(rev);
}

bool tok_blocked_by_revoke(const struct tok_cobj *co, const struct tok_holder *h,
			   const struct tok_crev **by)
{
	struct mm_list *pos;

	mm_list_for_each(pos, &co->revokes) {
		const struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, link);

		/* not while it drains: a caller holding part of the range may
		 * wait for another part (multi-acquire), and the drain for it */
		if ((rev->st == TOK_R_UPCALL || rev->st == TOK_R_SEND) &&
		    tok_range_overlap(rev->blk, h->req) &&
		    tok_modes_conflict(rev->mode, h->mode)) {
			*by = rev;
			return true;
		}
	}
	return false;
}

/* ---- 2. the state machine ---- */

/* A granted local holder in the way of <rev> over <r>. */
static const struct tok_holder *in_use(const struct tok_cobj *co, const struct tok_crev *rev,
				       struct tok_range r)
{
	struct mm_list *pos;

	mm_list_for_each(pos, &co->granted) {
		const struct tok_holder *g = mm_list_entry(pos, struct tok_holder, link);

		if (tok_range_overlap(g->req, r) && tok_modes_conflict(g->mode, rev->mode))
			return g;
	}
	return NULL;
}

/*
 * What to give up: the required range, grown within the desired range up
 * to the nearest local holders that conflict (the part in use is kept:
 * two sequential writers end with [A, B) and [B, inf)), and clipped to
 * what this node holds.
 */
static struct tok_range give_up_range(const struct tok_client *c, const struct tok_cobj *co,
				      const struct tok_crev *rev)
{
	struct tok_range g = rev->des;
	uint64_t lo = TOK_INF, hi = 0;
	struct mm_list *pos;

	mm_list_for_each(pos, &co->granted) {
		const struct tok_holder *h = mm_list_entry(pos, struct tok_holder, link);

		if (!tok_modes_conflict(h->mode, rev->mode) || !tok_range_overlap(h->req, g))
			continue;
		MM_BUG_ON(h, tok_range_overlap(h->req, rev->req));
		if (h->req.end <= rev->req.start)
			g.start = h->req.end > g.start ? h->req.end : g.start;
		else
			g.end = h->req.start < g.end ? h->req.start : g.end;
	}
	for (const struct tok_rec *x = co->pieces; x; x = x->next) {
		if (x->node != c->self || x->end <= g.start || x->start >= g.end)
			continue;
		lo = x->start < lo ? x->start : lo;
		hi = x->end > hi ? x->end : hi;
	}
	if (lo > g.start)
		g.start = lo;
	if (hi < g.end)
		g.end = hi;
	return g;
}

void tok_run_revokes(struct tok_client *c, struct tok_cobj *co)
{
	struct mm_list *pos, *tmp;

	mm_list_for_each_safe(pos, tmp, &co->revokes) {
		struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, link);
		tok_revoke_fn fn;
		int rc;

		switch (rev->st) {
		case TOK_R_NEW:
			if (co->inflight != TOK_IF_NONE) {
				rev->cause = "this node's server request for the object";
				continue;
			}
			if (!tok_rl_conflicts(co->pieces, c->self, rev->req, rev->mode)) {
				tok_crev_answer(c, rev);		/* nothing (left) to give */
				continue;
			}
			rev->st = TOK_R_DRAIN;
			/* fall through */
		case TOK_R_DRAIN:
			if (!tok_rl_conflicts(co->pieces, c->self, rev->req, rev->mode)) {
				/* another revoke took it meanwhile: answer once the
				 * server has that relinquish */
				rev->st = TOK_R_NEW;
				if (co->inflight == TOK_IF_NONE)
					tok_crev_answer(c, rev);
				else
					rev->cause = "this node's server request for the object";
				continue;
			}
			if (in_use(co, rev, rev->req)) {
				rev->cause = "a local holder of the range";
				continue;
			}
			rev->blk = give_up_range(c, co, rev);
			rev->st = TOK_R_UPCALL;
			rev->cause = "the revoke upcall";
			rev->cookie = ++c->next_id;
			c->st.revokes_served++;
			fn = c->up[co->key.kind].fn;
			rc = MM_OK;
			if (fn) {
				mm_list_add_tail(&c->upcalls, &rev->ulink);
				rc = fn(c->up[co->key.kind].arg, c, &co->key, rev->blk,
					(enum tok_mode)rev->mode, rev->cookie);
				if (rc == TOK_ASYNC && mm_list_linked(&rev->ulink))
					continue;
				if (mm_list_linked(&rev->ulink))
					mm_list_del(&rev->ulink);
				if (rc != MM_OK && rc != TOK_ASYNC)
					mm_warn("tokens", "node %u: revoke upcall of a %s token failed (%d); "
						"giving it up anyway", c->self,
						tok_kind_name(co->key.kind), rc);
			}
			rev->st = TOK_R_SEND;
			/* fall through */
		case TOK_R_SEND:
			if (co->inflight != TOK_IF_NONE) {
				rev->cause = "this node's server request for the object";
				continue;
			} else {
				struct tok_msg m = {.type = TOK_MSG_RELINQ, .mode = rev->mode,
						    .key = co->key, .r = rev->blk};

				/* applied here, in the order the server applies it */
				if (tok_rl_keep(&co->pieces, c->self, rev->blk,
						(enum tok_mode)rev->mode, &c->nrec) != MM_OK) {
					rev->cause = "memory";
					continue;
				}
				m.reqid = ++c->next_id;
				co->inflight = TOK_IF_RELINQ;
				co->if_reqid = m.reqid;
				co->if_rev = rev;
				rev->st = TOK_R_ACK;
				rev->cause = "the token server's answer";
				c->st.relinquishes++;
				tok_client_send(c, tok_client_server(c, &co->key), &m);
			}
			continue;
		case TOK_R_UPCALL:
		case TOK_R_ACK:
			continue;
		}
	}
}

/* ---- 3. messages and upcalls ---- */

int tok_client_revoke_in(struct tok_client *c, uint32_t from, const struct tok_msg *m)
{
	struct tok_cobj *co = tok_cobj_get(c, &m->key, true);

	if (!co || !tok_crev_new(c, co, from, m->reqid, (enum tok_mode)m->mode, m->r, m->des)) {
		mm_warn("tokens", "node %u: out of memory for a revoke from node %u", c->self, from);
		return MM_ENOMEM;
	}
	return MM_OK;
}

int tok_client_relinq_ack(struct tok_client *c, const struct tok_msg *m)
{
	struct tok_cobj *co = tok_cobj_get(c, &m->key, false);
	struct tok_crev *rev;

	if (!co || co->inflight != TOK_IF_RELINQ || co->if_reqid != m->reqid)
		return MM_EPROTO;
	rev = co->if_rev;
	co->inflight = TOK_IF_NONE;
	co->if_rev = NULL;
	tok_crev_answer(c, rev);
	tok_cobj_kick(c, co);
	return MM_OK;
}

int tok_client_upcall_done(struct tok_client *c, uint64_t cookie)
{
	struct mm_list *pos;

	mm_list_for_each(pos, &c->upcalls) {
		struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, ulink);

		if (rev->cookie != cookie)
			continue;
		MM_BUG_ON(rev->co, rev->st != TOK_R_UPCALL);
		mm_list_del(&rev->ulink);
		rev->st = TOK_R_SEND;
		tok_client_enter(c);
		tok_cobj_kick(c, rev->co);
		tok_client_leave(c);
		return MM_OK;
	}
	return MM_ENOENT;
}

/* ---- 4. dropping what nobody uses ---- */

static void drop_one(struct mm_hnode *n, void *arg)
{
	struct tok_client *c = arg;
	struct tok_cobj *co = (struct tok_cobj *)n;
	const struct tok_range all = {0, TOK_INF};

	if (!co->pieces || !mm_list_empty(&co->granted) || !mm_list_empty(&co->waiting) ||
	    !mm_list_empty(&co->revokes))
		return;
	if (!tok_crev_new(c, co, TOK_NODE_NONE, 0, TOK_XW, all, all))
		mm_warn("tokens", "node %u: out of memory dropping a token", c->self);
}

void tok_client_drop_unused(struct tok_client *c)
{
	tok_client_enter(c);
	mm_htab_each(&c->objs, drop_one, c);
	tok_client_leave(c);
}
