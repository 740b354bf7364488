/*
 * tokens/server.c - a token server: one partition of a token space
 * (tokens/README.md "Server"). It grants, or answers with the holders
 * that conflict; it never revokes and never waits, so every request is
 * answered by the call that receives it.
 *
 *   1. objects: the hash table of tok_sobj
 *   2. acquire: conflict check on the required range, grant over as much
 *      of the desired range as is free
 *   3. relinquish
 *   4. recv, create/destroy, statistics, iteration
 */
#include "tokens/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"

/* ---- 1. objects ---- */

static bool sobj_eq(const struct mm_hnode *n, const void *key)
{
	const struct tok_sobj *o = (const struct tok_sobj *)n;
	const struct tok_key *k = key;

	return o->obj == k->obj && o->space == k->space && o->kind == k->kind;
}

static struct tok_sobj *sobj_find(struct tok_server *s, const struct tok_key *k)
{
	return (struct tok_sobj *)mm_htab_find(&s->objs, tok_key_hash(k), sobj_eq, k);
}

static struct tok_sobj *sobj_get(struct tok_server *s, const struct tok_key *k)
{
	struct tok_sobj *o = sobj_find(s, k);

	if (o)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->obj = k->obj;
	o->space = k->space;
	o->kind = k->kind;
	mm_htab_insert(&s->objs, &o->hn, tok_key_hash(k));
	s->st.objects++;
	return o;
}

static void sobj_put(struct tok_server *s, struct tok_sobj *o)
{
	if (o->recs)
		return;
	mm_htab_remove(&s->objs, &o->hn);
	free(o);
	s->st.objects--;
}

static void server_send(struct tok_server *s, uint32_t to, const struct tok_msg *m)
{
	size_t len = tok_msg_encode(m, s->buf);

	s->st.msgs_out++;
	if (s->x.send(s->x.arg, to, s->buf, len) != MM_OK)
		mm_warn("tokens", "server %u: %s to node %u not sent", s->self,
			tok_msg_type_name(m->type), to);
}

/* ---- 2. acquire ---- */

static void server_acquire(struct tok_server *s, uint32_t from, const struct tok_msg *m)
{
	struct tok_msg out = {.reqid = m->reqid, .key = m->key};
	struct tok_sobj *o = sobj_get(s, &m->key);
	enum tok_mode want;
	struct tok_range g;

	if (!o) {
		mm_warn("tokens", "server %u: out of memory for a token of node %u", s->self, from);
		return;		/* the requester's retry (later increment) */
	}
	/* an upgrade asks for the join of what the node holds and wants */
	want = tok_mode_join(m->mode, tok_rl_mode_over(o->recs, from, m->r));
	for (struct tok_rec *x = o->recs; x; x = x->next) {
		if (x->node == from || !tok_range_overlap((struct tok_range){x->start, x->end}, m->r) ||
		    !tok_modes_conflict(x->mode, want))
			continue;
		/* one entry per node: the span of its conflicting records */
		uint16_t i;

		for (i = 0; i < out.n && out.ent[i].node != x->node; i++)
			;
		if (i == out.n) {
			if (out.n == TOK_MAX_CONFLICTS)
				continue;	/* the rest after these answered */
			out.ent[out.n++] = (struct tok_ent){x->node, x->mode, {x->start, x->end}};
			continue;
		}
		out.ent[i].mode = tok_mode_join(out.ent[i].mode, x->mode);
		if (x->start < out.ent[i].r.start)
			out.ent[i].r.start = x->start;
		if (x->end > out.ent[i].r.end)
			out.ent[i].r.end = x->end;
	}
	if (out.n) {
		out.type = TOK_MSG_CONFLICT;
		out.mode = want;
		out.r = m->r;
		s->st.conflicts++;
		sobj_put(s, o);
		server_send(s, from, &out);
		return;
	}
	g = tok_rl_extend(o->recs, from, m->r, m->des, want);
	if (tok_rl_set(&o->recs, from, g, want, &s->nrec) != MM_OK) {
		mm_warn("tokens", "server %u: out of memory granting node %u", s->self, from);
		sobj_put(s, o);
		return;
	}
	s->st.grants++;
	out.type = TOK_MSG_GRANT;
	out.mode = want;
	out.r = g;
	server_send(s, from, &out);
}

/* ---- 3. relinquish ---- */

static void server_relinquish(struct tok_server *s, uint32_t from, const struct tok_msg *m)
{
	struct tok_msg out = {.type = TOK_MSG_RELINQ_ACK, .reqid = m->reqid, .key = m->key};
	struct tok_sobj *o = sobj_find(s, &m->key);

	/* keep() is idempotent, so a relinquish of nothing is answered too */
	if (o) {
		if (tok_rl_keep(&o->recs, from, m->r, m->mode, &s->nrec) != MM_OK) {
			mm_warn("tokens", "server %u: out of memory in a relinquish of node %u",
				s->self, from);
			return;
		}
		sobj_put(s, o);
	}
	s->st.relinquishes++;
	server_send(s, from, &out);
}

/* ---- 4. the rest ---- */

int tok_server_recv(struct tok_server *s, uint32_t from, const void *buf, size_t len)
{
	struct tok_msg m;
	char err[160];

	s->st.msgs_in++;
	if (tok_msg_decode(buf, len, &m, err, sizeof(err)) != MM_OK) {
		s->st.refused++;
		mm_warn("tokens", "server %u: message from node %u refused: %s", s->self, from, err);
		return MM_EPROTO;
	}
	switch (m.type) {
	case TOK_MSG_ACQ:
		server_acquire(s, from, &m);
		return MM_OK;
	case TOK_MSG_RELINQ:
		server_relinquish(s, from, &m);
		return MM_OK;
	default:
		s->st.refused++;
		mm_warn("tokens", "server %u: %s from node %u is not for a server", s->self,
			tok_msg_type_name(m.type), from);
		return MM_EPROTO;
	}
}

int tok_server_create(uint32_t self, uint32_t space, const struct tok_xport *x,
		      struct tok_server **out)
{
	struct tok_server *s = calloc(1, sizeof(*s));

	if (!s)
		return MM_ENOMEM;
	s->self = self;
	s->space = space;
	s->x = *x;
	if (mm_htab_init(&s->objs, 16) != MM_OK) {	/* grows by doubling */
		free(s);
		return MM_ENOMEM;
	}
	*out = s;
	return MM_OK;
}

static void sobj_free(struct mm_hnode *n, void *arg)
{
	struct tok_server *s = arg;
	struct tok_sobj *o = (struct tok_sobj *)n;

	tok_rl_free(&o->recs, &s->nrec);
	mm_htab_remove(&s->objs, n);
	free(o);
}

void tok_server_destroy(struct tok_server *s)
{
	if (!s)
		return;
	mm_htab_each(&s->objs, sobj_free, s);
	mm_htab_free(&s->objs);
	free(s);
}

void tok_server_get_stats(const struct tok_server *s, struct tok_server_stats *st)
{
	*st = s->st;
	st->records = (uint64_t)s->nrec;
}

struct each_arg {
	void (*fn)(void *arg, const struct tok_key *k, uint32_t node, enum tok_mode mode,
		   struct tok_range r);
	void *arg;
};

static void sobj_each(struct mm_hnode *n, void *arg)
{
	struct each_arg *a = arg;
	struct tok_sobj *o = (struct tok_sobj *)n;
	struct tok_key k = {.space = o->space, .kind = o->kind, .obj = o->obj};

	for (struct tok_rec *x = o->recs; x; x = x->next)
		a->fn(a->arg, &k, x->node, x->mode, (struct tok_range){x->start, x->end});
}

void tok_server_foreach(const struct tok_server *s,
			void (*fn)(void *arg, const struct tok_key *k, uint32_t node,
				   enum tok_mode mode, struct tok_range r),
			void *arg)
{
	struct each_arg a = {fn, arg};

	mm_htab_each((struct mm_htab *)&s->objs, sobj_each, &a);
}

/* The dump hook of MM_BUG_ON(rec, ...) (common/bug.h). */
void tok_rec_dump(const void *obj, char *buf, size_t sz)
{
	const struct tok_rec *x = obj;

	snprintf(buf, sz, "tok_rec %p: node %u mode %s [%" PRIu64 ", %" PRIu64 ") flags %u next %p",
		 obj, x->node, tok_mode_name(x->mode), x->start, x->end, x->flags, (void *)x->next);
}
