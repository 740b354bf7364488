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
 *   4. views: the rebuild from reasserts, requests queued meanwhile
 *   5. failed nodes and their recovery
 *   6. tokenMemLimit: the clock sweep
 *   7. recv, create/destroy, statistics, iteration
 */
#include "tokens/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

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

static void server_send(struct tok_server *s, uint32_t to, struct tok_msg *m)
{
	size_t len;

	m->epoch = s->epoch;
	if (!m->reqid)
		m->reqid = ++s->next_id;
	len = tok_msg_encode(m, s->buf);

	s->st.msgs_out++;
	if (s->x.send(s->x.arg, to, s->buf, len) != MM_OK)
		mm_warn("tokens", "server %u: %s to node %u not sent", s->self,
			tok_msg_type_name(m->type), to);
}

/* ---- 2. acquire ---- */

static void failed_asked(struct tok_server *s, uint32_t node, uint32_t asker);
static void mem_sweep(struct tok_server *s);

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
	o->flags = TOK_SOBJ_REF;
	if (s->st.clients < MM_ARRAY_SIZE(s->clients)) {
		uint32_t i;

		for (i = 0; i < s->st.clients && s->clients[i] != from; i++)
			;
		if (i == s->st.clients)
			s->clients[s->st.clients++] = from;
	}
	/* an upgrade asks for the join of what the node holds and wants */
	want = tok_mode_join(m->mode, tok_rl_mode_over(o->recs, from, m->r));
	/* a node that failed during the rebuild may hold anything */
	for (size_t i = 0; i < s->nfailed && out.n < TOK_MAX_CONFLICTS; i++)
		if (s->failed[i].unknown)
			out.ent[out.n++] = (struct tok_ent){s->failed[i].node | TOK_NODE_FAILED,
							    TOK_XW, {0, TOK_INF}};
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
		for (uint16_t i = 0; i < out.n; i++)
			if (out.ent[i].node & TOK_NODE_FAILED)
				failed_asked(s, out.ent[i].node & ~TOK_NODE_FAILED, from);
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
	mem_sweep(s);
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

/* ---- 4. views ---- */

static void server_reassert(struct tok_server *s, uint32_t from, const struct tok_msg *m)
{
	struct tok_sobj *o = sobj_get(s, &m->key);

	if (!s->rebuilding)
		mm_warn("tokens", "server %u space %u: reassert from node %u after the rebuild of "
			"epoch %u (not a member then?); applied", s->self, s->space, from, s->epoch);
	if (!o || tok_rl_set(&o->recs, from, m->r, (enum tok_mode)m->mode, &s->nrec) != MM_OK) {
		mm_warn("tokens", "server %u: out of memory rebuilding the tokens of node %u",
			s->self, from);
		if (o)
			sobj_put(s, o);
		return;
	}
	s->st.reasserts++;
}

static void handle(struct tok_server *s, uint32_t from, const struct tok_msg *m);

/* Requests of the current epoch that waited run now, in arrival order
 * (while rebuilding only the rebuild's own messages, which came before
 * this server had the view; a reassert-done among them may finish the
 * rebuild, and then a second pass runs what the first skipped); those of
 * a newer epoch keep waiting for it. handle() never comes back here. */
static void run_queue(struct tok_server *s)
{
	struct mm_list *pos, *tmp;
	bool was;

	do {
		was = s->rebuilding;
		mm_list_for_each_safe(pos, tmp, &s->queue) {
			struct tok_qmsg *q = mm_list_entry(pos, struct tok_qmsg, link);

			if (q->m.epoch > s->epoch)
				continue;
			if (s->rebuilding && q->m.epoch == s->epoch && q->m.type != TOK_MSG_REASSERT &&
			    q->m.type != TOK_MSG_REASSERT_DONE)
				continue;
			mm_list_del(&q->link);
			s->st.queued--;
			if (q->m.epoch == s->epoch)
				handle(s, q->from, &q->m);
			free(q);
		}
	} while (was && !s->rebuilding);
}

static bool awaited_done(struct tok_server *s, uint32_t node)
{
	for (size_t i = 0; i < s->nawait; i++) {
		if (s->await[i] != node)
			continue;
		s->await[i] = s->await[--s->nawait];
		if (s->nawait == 0 && s->rebuilding) {
			s->rebuilding = false;
			mm_info("tokens", "server %u space %u: epoch %u rebuilt: %" PRIu64 " tokens on %"
				PRIu64 " objects", s->self, s->space, s->epoch, (uint64_t)s->nrec,
				s->st.objects);
		}
		return true;
	}
	return false;
}

static void sobj_free(struct mm_hnode *n, void *arg);
static struct tok_failed *failed_find(struct tok_server *s, uint32_t node);

int tok_server_start_epoch(struct tok_server *s, uint32_t epoch, const uint32_t *members,
			   size_t nmembers, const uint32_t *failed, size_t nfailed)
{
	uint32_t *aw = nmembers ? malloc(nmembers * sizeof(*aw)) : NULL;

	if (epoch <= s->epoch)
		return MM_EINVAL;
	if (nmembers && !aw)
		return MM_ENOMEM;
	mm_htab_each(&s->objs, sobj_free, s);
	for (size_t i = 0; i < s->nfailed; i++)
		free(s->failed[i].askers);
	free(s->failed);
	s->failed = NULL;
	s->nfailed = 0;
	free(s->await);
	s->await = aw;
	s->nawait = 0;
	for (size_t i = 0; i < nmembers; i++) {
		size_t j;

		for (j = 0; j < s->nawait && s->await[j] != members[i]; j++)
			;
		if (j == s->nawait)
			s->await[s->nawait++] = members[i];
	}
	s->epoch = epoch;
	s->rebuilding = true;
	s->st.rebuilds++;
	/* no records yet: only their unknown tokens. One that is also a
	 * member has rejoined, and its new incarnation's reassert is awaited */
	for (size_t i = 0; i < nfailed; i++) {
		struct tok_failed *f;

		if (failed_find(s, failed[i]))
			continue;
		f = realloc(s->failed, (s->nfailed + 1) * sizeof(*f));
		if (!f)
			return MM_ENOMEM;
		s->failed = f;
		s->failed[s->nfailed++] = (struct tok_failed){.node = failed[i], .unknown = true};
	}
	if (s->nawait == 0)
		s->rebuilding = false;
	mm_info("tokens", "server %u space %u: epoch %u, rebuilding from %zu nodes", s->self,
		s->space, epoch, s->nawait);
	run_queue(s);
	return MM_OK;
}

bool tok_server_rebuilding(const struct tok_server *s)
{
	return s->rebuilding;
}

uint32_t tok_server_epoch(const struct tok_server *s)
{
	return s->epoch;
}

/* ---- 5. failed nodes ---- */

static struct tok_failed *failed_find(struct tok_server *s, uint32_t node)
{
	for (size_t i = 0; i < s->nfailed; i++)
		if (s->failed[i].node == node)
			return &s->failed[i];
	return NULL;
}

static void failed_asked(struct tok_server *s, uint32_t node, uint32_t asker)
{
	struct tok_failed *f = failed_find(s, node);

	s->st.failed_conflicts++;
	if (!f)
		return;
	for (size_t i = 0; i < f->nask; i++)
		if (f->askers[i] == asker)
			return;
	if (f->nask == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		uint32_t *a = realloc(f->askers, cap * sizeof(*a));

		if (!a)
			return;		/* it asks again by itself (tok_client_retry_failed) */
		f->askers = a;
		f->cap = cap;
	}
	f->askers[f->nask++] = asker;
}

struct alias_arg {
	struct tok_server *s;
	uint32_t node;
	bool drop;		/* recovered: remove node | FAILED */
};

/* Rewrite <node>'s records of one object as held by <node> | FAILED (or
 * drop the failed ones). A failed node's earlier incarnation may hold
 * records there too; they do not conflict with this one's, so setting the
 * ranges keeps the modes where they overlap. */
static void alias_obj(struct mm_hnode *n, void *arg)
{
	struct alias_arg *a = arg;
	struct tok_server *s = a->s;
	struct tok_sobj *o = (struct tok_sobj *)n;
	struct tok_rec *mine = NULL, **tail = &mine, **pp = &o->recs;
	uint32_t victim = a->drop ? (a->node | TOK_NODE_FAILED) : a->node;

	while (*pp) {
		struct tok_rec *x = *pp;

		if (x->node != victim) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		x->next = NULL;
		*tail = x;
		tail = &x->next;
		s->nrec--;
	}
	while (mine) {
		struct tok_rec *x = mine;

		mine = x->next;
		if (!a->drop &&
		    tok_rl_set(&o->recs, a->node | TOK_NODE_FAILED, (struct tok_range){x->start, x->end},
			       (enum tok_mode)x->mode, &s->nrec) != MM_OK)
			mm_warn("tokens", "server %u: out of memory keeping a token of failed node %u",
				s->self, a->node);
		free(x);
	}
	if (!o->recs) {
		mm_htab_remove(&s->objs, &o->hn);
		free(o);
		s->st.objects--;
	}
}

void tok_server_node_failed(struct tok_server *s, uint32_t node)
{
	struct alias_arg a = {s, node, false};
	struct tok_failed *f = failed_find(s, node);
	struct mm_list *pos, *tmp;

	MM_BUG_ON(s, node & TOK_NODE_FAILED);
	if (!f) {
		f = realloc(s->failed, (s->nfailed + 1) * sizeof(*f));
		if (!f) {
			mm_warn("tokens", "server %u: out of memory recording failed node %u", s->self,
				node);
			return;
		}
		s->failed = f;
		f = &s->failed[s->nfailed++];
		*f = (struct tok_failed){.node = node};
	}
	/* its requests that wait will never be answered to anyone alive */
	mm_list_for_each_safe(pos, tmp, &s->queue) {
		struct tok_qmsg *q = mm_list_entry(pos, struct tok_qmsg, link);

		if (q->from == node) {
			mm_list_del(&q->link);
			s->st.queued--;
			free(q);
		}
	}
	if (awaited_done(s, node))
		f->unknown = true;
	mm_htab_each(&s->objs, alias_obj, &a);
	run_queue(s);
}

void tok_server_node_recovered(struct tok_server *s, uint32_t node)
{
	struct alias_arg a = {s, node, true};
	struct tok_failed *f = failed_find(s, node);

	mm_htab_each(&s->objs, alias_obj, &a);
	if (!f)
		return;
	for (size_t i = 0; i < f->nask; i++) {
		struct tok_msg m = {.type = TOK_MSG_RECOVERED, .key = {.space = s->space}};

		m.key.obj = node;
		server_send(s, f->askers[i], &m);
	}
	free(f->askers);
	*f = s->failed[--s->nfailed];
}

/* ---- 6. tokenMemLimit ---- */

static uint64_t server_bytes(const struct tok_server *s)
{
	return s->st.objects * sizeof(struct tok_sobj) + (uint64_t)s->nrec * sizeof(struct tok_rec) +
	       s->objs.nbuckets * sizeof(void *);
}

void tok_server_set_mem_limit(struct tok_server *s, uint64_t bytes)
{
	s->mem_limit = bytes;
	mem_sweep(s);
}

/*
 * Past the limit, ask the holders of objects not acquired since the hand
 * last passed (the clock approximation of least recently used) to give
 * them back; a holder that uses one keeps it. One sweep asks for about
 * a tenth of the limit, at most 512 objects, so the answers come back
 * batched and the sweep's cost stays bounded.
 */
static void mem_sweep(struct tok_server *s)
{
	uint64_t bytes = server_bytes(s), per = sizeof(struct tok_sobj) + sizeof(struct tok_rec);
	uint64_t want, asked = 0;
	size_t scanned = 0;

	if (!s->mem_limit || bytes <= s->mem_limit || s->rebuilding)
		return;
	want = (bytes - s->mem_limit + s->mem_limit / 10) / per;
	if (want > 512)
		want = 512;
	while (asked < want && scanned < 2 * s->objs.nbuckets) {
		struct mm_hnode *n;

		s->hand = (s->hand + 1) & (s->objs.nbuckets - 1);
		scanned++;
		for (n = s->objs.buckets[s->hand]; n && asked < want; n = n->next) {
			struct tok_sobj *o = (struct tok_sobj *)n;
			struct tok_key k = {.space = o->space, .kind = o->kind, .obj = o->obj};
			uint32_t last = TOK_NODE_NONE;

			if (o->flags & TOK_SOBJ_REF) {
				o->flags &= (uint8_t)~TOK_SOBJ_REF;
				continue;
			}
			if (o->flags & TOK_SOBJ_ASKED)
				continue;
			o->flags |= TOK_SOBJ_ASKED;
			asked++;
			for (struct tok_rec *x = o->recs; x; x = x->next) {
				struct tok_msg m = {.type = TOK_MSG_DROP, .key = k};

				if ((x->node & TOK_NODE_FAILED) || x->node == last)
					continue;
				last = x->node;
				s->st.drops_asked++;
				server_send(s, x->node, &m);
			}
		}
	}
}

/* ---- 7. the rest ---- */

static void handle(struct tok_server *s, uint32_t from, const struct tok_msg *m)
{
	switch (m->type) {
	case TOK_MSG_ACQ:
		server_acquire(s, from, m);
		return;
	case TOK_MSG_RELINQ:
		server_relinquish(s, from, m);
		return;
	case TOK_MSG_REASSERT:
		server_reassert(s, from, m);
		return;
	case TOK_MSG_REASSERT_DONE:
		awaited_done(s, from);
		return;
	}
}

int tok_server_recv(struct tok_server *s, uint32_t from, const void *buf, size_t len)
{
	struct tok_msg m;
	struct tok_qmsg *q;
	char err[160];

	s->st.msgs_in++;
	if (tok_msg_decode(buf, len, &m, err, sizeof(err)) != MM_OK) {
		s->st.refused++;
		mm_warn("tokens", "server %u: message from node %u refused: %s", s->self, from, err);
		return MM_EPROTO;
	}
	if (!tok_msg_for_server(buf, len) || m.key.space != s->space || (from & TOK_NODE_FAILED)) {
		s->st.refused++;
		mm_warn("tokens", "server %u space %u: %s of space %u from node %u is not for this "
			"server", s->self, s->space, tok_msg_type_name(m.type), m.key.space, from);
		return MM_EPROTO;
	}
	if (m.epoch < s->epoch)
		return MM_OK;	/* its sender asks again in the new view */
	if (m.epoch == s->epoch && (!s->rebuilding || m.type == TOK_MSG_REASSERT ||
				    m.type == TOK_MSG_REASSERT_DONE)) {
		bool was = s->rebuilding;

		handle(s, from, &m);
		if (was && !s->rebuilding)
			run_queue(s);
		return MM_OK;
	}
	/* the rebuild first, or the view this server has not been given yet */
	q = malloc(sizeof(*q));
	if (!q) {
		mm_warn("tokens", "server %u: out of memory queueing a %s of node %u", s->self,
			tok_msg_type_name(m.type), from);
		return MM_ENOMEM;
	}
	q->from = from;
	q->m = m;
	mm_list_add_tail(&s->queue, &q->link);
	s->st.queued++;
	return MM_OK;
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
	mm_list_init(&s->queue);
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
	s->st.objects--;
}

void tok_server_destroy(struct tok_server *s)
{
	struct mm_list *l;

	if (!s)
		return;
	mm_htab_each(&s->objs, sobj_free, s);
	mm_htab_free(&s->objs);
	while ((l = mm_list_first(&s->queue))) {
		mm_list_del(l);
		free(mm_list_entry(l, struct tok_qmsg, link));
	}
	for (size_t i = 0; i < s->nfailed; i++)
		free(s->failed[i].askers);
	free(s->failed);
	free(s->await);
	free(s);
}

void tok_server_get_stats(const struct tok_server *s, struct tok_server_stats *st)
{
	*st = s->st;
	st->records = (uint64_t)s->nrec;
	st->bytes = server_bytes(s);
	st->epoch = s->epoch;
	st->waiting_for = (uint32_t)s->nawait;
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
