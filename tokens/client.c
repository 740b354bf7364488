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

void tok_client_send(struct tok_client *c, uint32_t to, const struct tok_msg *m)
{
	size_t len = tok_msg_encode(m, c->buf);

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

static void run_obj(struct tok_client *c, struct tok_cobj *co)
{
	struct mm_list *pos, *tmp;
	const struct tok_crev *by;

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
	hwait(h, "its turn", TOK_NODE_NONE);
	mm_list_add_tail(&co->waiting, &h->link);
	tok_client_enter(c);
	tok_cobj_kick(c, co);
	tok_client_leave(c);
	return MM_OK;
}

void tok_release(struct tok_client *c, struct tok_holder *h)
{
	struct tok_cobj *co = h->co;

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

/* ---- 4. messages ---- */

static int refuse(struct tok_client *c, uint32_t from, const struct tok_msg *m, const char *why)
{
	c->st.refused++;
	mm_warn("tokens", "node %u: %s from node %u refused: %s", c->self,
		tok_msg_type_name(m->type), from, why);
	return MM_EPROTO;
}

static int got_answer(struct tok_client *c, uint32_t from, const struct tok_msg *m)
{
	struct tok_cobj *co = tok_cobj_get(c, &m->key, false);
	struct tok_holder *h;

	if (!co || co->inflight != TOK_IF_ACQ || co->if_reqid != m->reqid)
		return refuse(c, from, m, "no such request in flight");
	h = co->if_h;
	if (m->type == TOK_MSG_GRANT &&
	    (!tok_mode_covers(m->mode, h->mode) || m->r.start > h->req.start ||
	     m->r.end < h->req.end))
		return refuse(c, from, m, "the grant does not cover the request");
	co->inflight = TOK_IF_NONE;
	co->if_h = NULL;
	if (m->type == TOK_MSG_GRANT) {
		/* on ENOMEM the cache holds less than the server says: safe */
		if (tok_rl_set(&co->pieces, c->self, m->r, m->mode, &c->nrec) != MM_OK)
			mm_warn("tokens", "node %u: out of memory caching a grant", c->self);
		h->st = TOK_H_WAIT;
		hwait(h, "its turn", TOK_NODE_NONE);
	} else {
		struct tok_msg rv = {.type = TOK_MSG_REVOKE, .mode = m->mode, .key = m->key,
				     .reqid = h->reqid, .r = h->req, .des = h->des};

		c->st.conflicts++;
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

static int got_revoked(struct tok_client *c, uint32_t from, const struct tok_msg *m)
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
	return refuse(c, from, m, "no holder waits for it");
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
		rc = got_answer(c, from, &m);
		break;
	case TOK_MSG_REVOKE:
		rc = tok_client_revoke_in(c, from, &m);
		break;
	case TOK_MSG_REVOKED:
		rc = got_revoked(c, from, &m);
		break;
	case TOK_MSG_RELINQ_ACK:
		rc = tok_client_relinq_ack(c, &m);
		if (rc != MM_OK)
			rc = refuse(c, from, &m, "no relinquish in flight");
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

	MM_BUG_ON(co, !mm_list_empty(&co->waiting) || !mm_list_empty(&co->granted) ||
			      !mm_list_empty(&co->revokes) || co->inflight != TOK_IF_NONE);
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
	free(c);
}

int tok_client_set_view(struct tok_client *c, uint32_t space, uint32_t epoch,
			const uint32_t *servers, size_t n)
{
	struct tok_view *v = (struct tok_view *)tok_view_of(c, space);
	uint32_t *copy;

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
	}
	free(v->servers);
	v->servers = copy;
	v->n = n;
	v->epoch = epoch;
	return MM_OK;
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
	return a.idle && mm_list_empty(&c->revoking) && mm_list_empty(&c->upcalls);
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
