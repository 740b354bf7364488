/*
 * tests/unit/test_tokens_sim.c - the deterministic simulation of tokens/
 * (tokens/README.md "Invariants"): 3 to 7 nodes in one process, one to
 * three of them token servers, under a seeded scheduler.
 *
 * Each node runs three workers that acquire (one token, or two to four
 * at once through tok_acquire_many), hold for a while, and release, over
 * every kind and random byte ranges of a few objects. Revoke upcalls
 * finish at once or later (a pending completion the scheduler runs when
 * it likes). At every step the scheduler picks one thing to happen:
 * deliver any queued message (so messages are delayed and reordered), run
 * an upcall's completion, start or end a worker's hold, or drop a node's
 * unused tokens. After every step the checker verifies:
 *   - the servers: no two nodes' records overlap with conflicting modes,
 *     and each key lives on the server tok_server_for names;
 *   - each client's pieces are covered by its server records in modes
 *     covering theirs (invariant 3);
 *   - each granted holder is covered by its node's pieces, and no two
 *     granted holders anywhere overlap with conflicting modes;
 *   - every waiting holder names its cause;
 *   - a revoke upcall never runs under a local holder it would cut.
 * With nothing left to do but some worker still waiting, the seed fails
 * (a deadlock); the same after a step budget (a livelock). At the end
 * every node drops its unused tokens and the servers and caches must be
 * empty (and ASan finds no leak).
 *
 * A run is determined by its seed. TOK_SIM_SEEDS=N runs N seeds (default
 * 2000, 500 under TSan); TOK_SIM_SEED=S runs only seed S and prints its
 * schedule. A
 * failing seed is printed with the command that replays it, and its
 * schedule. No threads.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"
#include "tests/unit/tokkit.h"
#include "tokens/tok_int.h"
#include "tokens/tokens.h"

#define WORKERS 3
#define MAXH 4
#define NOBJ 2
#define SPAN 48		/* byte ranges start below this; ends may be TOK_INF */
#define OPS 60		/* acquires started per seed */
#define STEP_BUDGET 200000
/* TSan makes every step ~15 times slower: fewer seeds by default there */
#if defined(__SANITIZE_THREAD__)
#define DEFAULT_SEEDS 500
#else
#define DEFAULT_SEEDS 2000
#endif

struct worker {
	int node, id;
	enum { W_IDLE, W_WAIT, W_HOLD } st;
	int n;				/* holders in use */
	struct tok_holder h[MAXH];
	struct tok_holder *hp[MAXH];
	struct tok_multi m;
	uint64_t until;			/* W_HOLD: release at this step */
};

struct pend {
	int node;
	uint64_t cookie;
};

struct sim {
	uint64_t seed, rng, step;
	int trace;
	struct tk_net t;
	struct worker w[TK_MAXN][WORKERS];
	struct pend *pend;
	size_t npend, cappend;
	int started;
	char fail[512];		/* the first failure of the seed */
	/* faults (S.faults): crashes, expels learnt late, recovery, rejoin,
	 * new views of the space (failover, mmchmgr) learnt late */
	bool faults;
	bool alive[TK_MAXN];
	bool down[TK_MAXN];		/* crashed, not recovered */
	bool kf[TK_MAXN][TK_MAXN];	/* [o][v]: node o knows v failed */
	bool all_knew[TK_MAXN];		/* every live node learnt v's crash */
	int cut_a, cut_b;		/* a lost connection, b to be expelled; -1: none */
	int cuts;
	uint32_t epoch;			/* the space's view */
	uint32_t srv[TK_MAXN];
	int nsrv;
	uint32_t cl_epoch[TK_MAXN], sv_epoch[TK_MAXN];	/* the view each node learnt */
	struct ghost {
		int node;
		struct tok_key k;
		enum tok_mode mode;
		struct tok_range r;
	} ghost[TK_MAXN * WORKERS * MAXH];
	int nghost;
	int crashes, views, recoveries;
};

static struct sim S;
static volatile uint64_t cur_seed;
static uint64_t tot_steps, tot_msgs, tot_conflicts, tot_grants;	/* over all seeds */
static uint64_t tot_crashes, tot_views, tot_recoveries, tot_cuts;

static void on_abort(int sig)
{
	char b[96];
	int n = snprintf(b, sizeof(b), "\ntest_tokens_sim: aborted in seed %" PRIu64
			 " (replay: TOK_SIM_SEED=%" PRIu64 ")\n", cur_seed, cur_seed);

	if (write(2, b, (size_t)n) < 0)
		_exit(4);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((format(printf, 1, 2)))
static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!S.trace)
		return;
	fprintf(stderr, "  [%" PRIu64 "] ", S.step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2)))
static void failf(const char *fmt, ...)
{
	va_list ap;

	if (S.fail[0])
		return;
	va_start(ap, fmt);
	vsnprintf(S.fail, sizeof(S.fail), fmt, ap);
	va_end(ap);
}

static uint64_t r64(void)
{
	return rnd(&S.rng);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(r64() % n);
}

static const char *rstr(struct tok_range r, char *b, size_t sz)
{
	if (r.end == TOK_INF)
		snprintf(b, sz, "[%" PRIu64 ",inf)", r.start);
	else
		snprintf(b, sz, "[%" PRIu64 ",%" PRIu64 ")", r.start, r.end);
	return b;
}

/* ---- upcalls ---- */

static int upcall(void *arg, struct tok_client *c, const struct tok_key *k, struct tok_range r,
		  enum tok_mode want, uint64_t cookie)
{
	int node = (int)(intptr_t)arg;
	char b[48];

	(void)c;
	/* no granted holder of this node may be cut by the revoke */
	for (int w = 0; w < WORKERS; w++)
		for (int i = 0; i < S.w[node][w].n; i++) {
			const struct tok_holder *h = &S.w[node][w].h[i];

			if (h->st == TOK_H_GRANTED && tok_key_eq(&h->key, k) &&
			    tok_range_overlap(h->req, r) && tok_modes_conflict(want, h->mode))
				failf("upcall on node %d cuts a granted %s holder of worker %d",
				      node, tok_mode_name(h->mode), w);
		}
	if (rn(3) == 0) {
		trace("n%d upcall %s/%" PRIu64 " %s -> %s: done", node, tok_kind_name(k->kind), k->obj,
		      rstr(r, b, sizeof(b)), tok_mode_name(want));
		return MM_OK;
	}
	if (S.npend == S.cappend) {
		S.cappend = S.cappend ? S.cappend * 2 : 16;
		S.pend = realloc(S.pend, S.cappend * sizeof(*S.pend));
	}
	S.pend[S.npend++] = (struct pend){node, cookie};
	trace("n%d upcall %s/%" PRIu64 " %s -> %s: async %" PRIu64, node, tok_kind_name(k->kind),
	      k->obj, rstr(r, b, sizeof(b)), tok_mode_name(want), cookie);
	return TOK_ASYNC;
}

/* ---- workers ---- */

static void granted_one(struct tok_holder *h, void *arg)
{
	struct worker *w = arg;

	(void)h;
	w->st = W_HOLD;
	w->until = S.step + 1 + rn(12);
	trace("n%d w%d granted", w->node, w->id);
}

static void granted_many(struct tok_multi *m, void *arg)
{
	(void)m;
	granted_one(NULL, arg);
}

static void make_holder(struct tok_holder *h)
{
	struct tok_key k = {.space = 1, .kind = (uint8_t)rn(TOK_NKINDS),
			    .obj = 1 + rn(NOBJ)};
	unsigned pm = rn(100);
	enum tok_mode m = pm < 45 ? TOK_RO : pm < 65 ? TOK_WS : TOK_XW;
	struct tok_range req = {0, TOK_INF}, des = {0, TOK_INF};

	if (k.kind == TOK_BR || rn(2) == 0)
		k.kind = TOK_BR;	/* half the traffic is byte ranges */
	if (k.kind == TOK_BR) {
		req.start = rn(SPAN);
		req.end = rn(8) == 0 ? TOK_INF : req.start + 1 + rn(8);
		switch (rn(3)) {
		case 0:
			des = req;
			break;
		case 1:
			des = (struct tok_range){req.start, TOK_INF};
			break;
		default:
			break;
		}
	}
	tok_holder_init(h, &k, m, req, des);
}

static void start_worker(struct worker *w)
{
	struct tok_client *c = S.t.cl[w->node];
	char b1[48], b2[48];
	int rc;

	w->n = rn(10) < 7 ? 1 : 2 + (int)rn(3);
	for (int i = 0; i < w->n; i++) {
		make_holder(&w->h[i]);
		w->hp[i] = &w->h[i];
	}
	w->st = W_WAIT;
	S.started++;
	for (int i = 0; i < w->n; i++)
		trace("n%d w%d acquire%s %s/%" PRIu64 " %s %s/%s", w->node, w->id,
		      w->n > 1 ? "-many" : "", tok_kind_name(w->h[i].key.kind), w->h[i].key.obj,
		      tok_mode_name(w->h[i].mode), rstr(w->h[i].req, b1, sizeof(b1)),
		      rstr(w->h[i].des, b2, sizeof(b2)));
	if (w->n == 1) {
		w->h[0].done = granted_one;
		w->h[0].arg = w;
		rc = tok_acquire(c, &w->h[0]);
	} else {
		rc = tok_acquire_many(c, &w->m, w->hp, (size_t)w->n, granted_many, w);
		if (rc == MM_EINVAL) {	/* overlapping on one object: not allowed */
			trace("n%d w%d acquire-many refused (overlap)", w->node, w->id);
			w->st = W_IDLE;
			w->n = 0;
			return;
		}
	}
	if (rc != MM_OK)
		failf("tok_acquire on node %d: %d", w->node, rc);
}

static void end_worker(struct worker *w)
{
	trace("n%d w%d release", w->node, w->id);
	for (int i = 0; i < w->n; i++)
		tok_release(S.t.cl[w->node], w->hp[i]);
	w->st = W_IDLE;
	w->n = 0;
}

/* ---- the checker ---- */

struct srec {
	struct tok_key k;
	uint32_t node;
	uint8_t mode;
	struct tok_range r;
};

/* Records by key: the workload's keys are (1, kind, 1..NOBJ). */
#define NKEYS (TOK_NKINDS * NOBJ)
#define PERKEY 512

struct bykey {
	size_t n[NKEYS];
	struct srec v[NKEYS][PERKEY];
};

static struct bykey srv_recs, cl_pieces;
static int cur_node;

static size_t key_index(const struct tok_key *k)
{
	return (size_t)k->kind * NOBJ + (size_t)(k->obj - 1);
}

static void add_rec(struct bykey *b, const struct tok_key *k, uint32_t node, enum tok_mode mode,
		    struct tok_range r)
{
	size_t i = key_index(k);

	if (k->space != 1 || k->obj < 1 || k->obj > NOBJ || k->kind >= TOK_NKINDS) {
		failf("a record of a key the workload never used");
		return;
	}
	if (b->n[i] < PERKEY)
		b->v[i][b->n[i]++] = (struct srec){*k, node, (uint8_t)mode, r};
	else
		failf("more than %d records of one key", PERKEY);
}

static void collect_srv(void *arg, const struct tok_key *k, uint32_t node, enum tok_mode mode,
			struct tok_range r)
{
	int srv = (int)(intptr_t)arg;

	if (tok_server_for(S.srv, (size_t)S.nsrv, k) != (uint32_t)srv)
		failf("server %d holds a key that server %u serves", srv,
		      tok_server_for(S.srv, (size_t)S.nsrv, k));
	add_rec(&srv_recs, k, node, mode, r);
}

static void collect_client(void *arg, const struct tok_key *k, enum tok_mode mode,
			   struct tok_range r)
{
	(void)arg;
	add_rec(&cl_pieces, k, (uint32_t)cur_node, mode, r);
}

/* Do <node>'s records of <k> in <b> cover <r> with modes covering <m>? */
static bool covered(const struct bykey *b, const struct tok_key *k, uint32_t node,
		    struct tok_range r, enum tok_mode m)
{
	size_t ki = key_index(k), n = b->n[ki];
	const struct srec *v = b->v[ki];
	uint64_t at = r.start;
	bool moved = true;

	while (at < r.end && moved) {
		moved = false;
		for (size_t i = 0; i < n; i++)
			if (v[i].node == node && v[i].r.start <= at && at < v[i].r.end) {
				if (!tok_mode_covers((enum tok_mode)v[i].mode, m))
					return false;
				at = v[i].r.end;
				moved = true;
				break;
			}
	}
	return at >= r.end;
}

static void check(void)
{
	struct srec gr[2 * TK_MAXN * WORKERS * MAXH];
	size_t ngr = 0;
	char b1[48], b2[48];

	bool settled = true;

	memset(srv_recs.n, 0, sizeof(srv_recs.n));
	memset(cl_pieces.n, 0, sizeof(cl_pieces.n));
	/* the servers of the current view that have it and are rebuilt; a
	 * client's cache matches them once every live node has the view */
	for (int i = 0; i < S.nsrv; i++) {
		int s = (int)S.srv[i];

		if (S.sv_epoch[s] != S.epoch || tok_server_rebuilding(S.t.sv[s])) {
			settled = false;
			continue;
		}
		tok_server_foreach(S.t.sv[s], collect_srv, (void *)(intptr_t)s);
	}
	for (int n = 0; n < S.t.n; n++)
		if (S.alive[n] && S.cl_epoch[n] != S.epoch)
			settled = false;
	for (size_t ki = 0; ki < NKEYS; ki++) {
		const struct srec *v = srv_recs.v[ki];

		for (size_t i = 0; i < srv_recs.n[ki]; i++)
			for (size_t j = i + 1; j < srv_recs.n[ki]; j++)
				if (v[i].node != v[j].node && tok_range_overlap(v[i].r, v[j].r) &&
				    tok_modes_conflict((enum tok_mode)v[i].mode, (enum tok_mode)v[j].mode))
					failf("server grants conflict on %s/%" PRIu64 ": node %u %s %s, node %u %s %s",
					      tok_kind_name(v[i].k.kind), v[i].k.obj, v[i].node,
					      tok_mode_name(v[i].mode), rstr(v[i].r, b1, sizeof(b1)),
					      v[j].node, tok_mode_name(v[j].mode), rstr(v[j].r, b2, sizeof(b2)));
	}
	for (int n = 0; n < S.t.n; n++) {
		cur_node = n;
		tok_client_foreach(S.t.cl[n], collect_client, NULL);
	}
	for (size_t ki = 0; ki < NKEYS && settled; ki++)
		for (size_t i = 0; i < cl_pieces.n[ki]; i++) {
			const struct srec *p = &cl_pieces.v[ki][i];

			if (!covered(&srv_recs, &p->k, p->node, p->r, (enum tok_mode)p->mode))
				failf("node %u caches %s %s/%" PRIu64 " %s the server does not give it",
				      p->node, tok_mode_name(p->mode), tok_kind_name(p->k.kind), p->k.obj,
				      rstr(p->r, b1, sizeof(b1)));
		}
	/* holders: covered, no conflicting pair anywhere, causes named */
	for (int n = 0; n < S.t.n; n++)
		for (int w = 0; w < WORKERS; w++)
			for (int i = 0; i < S.w[n][w].n; i++) {
				const struct tok_holder *h = &S.w[n][w].h[i];

				if (h->st == TOK_H_WAIT || h->st == TOK_H_SERVER || h->st == TOK_H_REVOKING ||
				    h->st == TOK_H_FAILWAIT) {
					if (!h->cause)
						failf("node %d worker %d waits without a cause", n, w);
					continue;
				}
				if (h->st != TOK_H_GRANTED)
					continue;
				if (!covered(&cl_pieces, &h->key, (uint32_t)n, h->req, h->mode))
					failf("node %d worker %d holds %s %s/%" PRIu64 " %s not in its cache",
					      n, w, tok_mode_name(h->mode), tok_kind_name(h->key.kind),
					      h->key.obj, rstr(h->req, b1, sizeof(b1)));
				if (ngr < sizeof(gr) / sizeof(gr[0]))
					gr[ngr++] = (struct srec){h->key, (uint32_t)n, (uint8_t)h->mode, h->req};
			}
	/* a crashed node's holds last until its recovery (its writes may
	 * still be on their way to disk): ghosts, as nodes 100 + n */
	for (int g = 0; g < S.nghost && ngr < sizeof(gr) / sizeof(gr[0]); g++)
		gr[ngr++] = (struct srec){S.ghost[g].k, 100u + (uint32_t)S.ghost[g].node,
					  (uint8_t)S.ghost[g].mode, S.ghost[g].r};
	for (size_t i = 0; i < ngr; i++)
		for (size_t j = i + 1; j < ngr; j++)
			if (tok_key_eq(&gr[i].k, &gr[j].k) && tok_range_overlap(gr[i].r, gr[j].r) &&
			    tok_modes_conflict((enum tok_mode)gr[i].mode, (enum tok_mode)gr[j].mode))
				failf("conflicting holders on %s/%" PRIu64 ": node %u %s %s, node %u %s %s",
				      tok_kind_name(gr[i].k.kind), gr[i].k.obj, gr[i].node,
				      tok_mode_name(gr[i].mode), rstr(gr[i].r, b1, sizeof(b1)), gr[j].node,
				      tok_mode_name(gr[j].mode), rstr(gr[j].r, b2, sizeof(b2)));
}

/* ---- one seed ---- */

static void describe_obj(struct mm_hnode *hn, void *arg)
{
	const struct tok_cobj *co = (const struct tok_cobj *)hn;
	struct mm_list *pos;
	char b[600], r1[48], r2[48];

	tok_cobj_dump(co, b, sizeof(b));
	fprintf(stderr, "      node %d: %s\n", (int)(intptr_t)arg, b);
	mm_list_for_each(pos, &co->revokes) {
		const struct tok_crev *rev = mm_list_entry(pos, struct tok_crev, link);

		fprintf(stderr, "        revoke from %d want %s req %s blk %s state %d: %s\n",
			rev->from == TOK_NODE_NONE ? -1 : (int)rev->from, tok_mode_name(rev->mode),
			rstr(rev->req, r1, sizeof(r1)), rstr(rev->blk, r2, sizeof(r2)), rev->st,
			rev->cause ? rev->cause : "-");
	}
	mm_list_for_each(pos, &co->granted) {
		const struct tok_holder *h = mm_list_entry(pos, struct tok_holder, link);

		fprintf(stderr, "        granted %s %s\n", tok_mode_name(h->mode),
			rstr(h->req, r1, sizeof(r1)));
	}
}

static void describe_waiters(void)
{
	for (int n = 0; n < S.t.n; n++)
		mm_htab_each(&S.t.cl[n]->objs, describe_obj, (void *)(intptr_t)n);
	for (int n = 0; n < S.t.n; n++)
		for (int w = 0; w < WORKERS; w++)
			for (int i = 0; i < S.w[n][w].n; i++) {
				const struct tok_holder *h = &S.w[n][w].h[i];

				if (h->st == TOK_H_GRANTED || h->st == TOK_H_IDLE)
					continue;
				fprintf(stderr, "    node %d worker %d: %s/%" PRIu64 " %s state %d waits on %s (node %d)\n",
					n, w, tok_kind_name(h->key.kind), h->key.obj,
					tok_mode_name(h->mode), h->st, h->cause ? h->cause : "?",
					h->cause_node == TOK_NODE_NONE ? -1 : (int)h->cause_node);
			}
}

/* ---- faults ---- */

static struct tok_xport xport_of(int n)
{
	return (struct tok_xport){.send = tk_send, .arg = &S.t.xa[n]};
}

/* What node <o> gives a server it starts: the members (every node it does
 * not know failed) and the failed nodes not recovered. */
static void members_of(int o, uint32_t *mem, size_t *nm, uint32_t *fl, size_t *nf)
{
	*nm = *nf = 0;
	for (int v = 0; v < S.t.n; v++) {
		if (!S.kf[o][v])
			mem[(*nm)++] = (uint32_t)v;
		/* not recovered, even if rejoined since */
		if (S.down[v] && (S.kf[o][v] || S.alive[v]))
			fl[(*nf)++] = (uint32_t)v;
	}
}

static bool is_server(int n)
{
	for (int i = 0; i < S.nsrv; i++)
		if (S.srv[i] == (uint32_t)n)
			return true;
	return false;
}

/* The cluster manager appoints: 1 to 3 live nodes serve the next epoch. */
static void new_view(void)
{
	int cand[TK_MAXN], nc = 0, want = 1 + (int)rn(3);

	for (int n = 0; n < S.t.n; n++)
		if (S.alive[n])
			cand[nc++] = n;
	S.nsrv = 0;
	while (S.nsrv < want && nc) {
		int i = (int)rn((unsigned)nc);

		S.srv[S.nsrv++] = (uint32_t)cand[i];
		cand[i] = cand[--nc];
	}
	S.epoch++;
	S.views++;
	trace("view %u: %d servers, first %u", S.epoch, S.nsrv, S.srv[0]);
}

static void crash(int n)
{
	struct tok_xport x = xport_of(n);
	size_t j = 0;

	trace("n%d CRASH", n);
	S.alive[n] = false;
	S.down[n] = true;
	S.all_knew[n] = false;
	S.crashes++;
	for (int w = 0; w < WORKERS; w++) {
		struct worker *wk = &S.w[n][w];

		for (int i = 0; i < wk->n; i++)
			if (wk->h[i].st == TOK_H_GRANTED)
				S.ghost[S.nghost++] = (struct ghost){n, wk->h[i].key, wk->h[i].mode,
								     wk->h[i].req};
		wk->n = 0;
		wk->st = W_IDLE;
	}
	for (size_t i = 0; i < S.t.nq; i++)
		if (S.t.q[i].from != (uint32_t)n && S.t.q[i].to != (uint32_t)n)
			S.t.q[j++] = S.t.q[i];
	S.t.nq = j;
	j = 0;
	for (size_t i = 0; i < S.npend; i++)
		if (S.pend[i].node != n)
			S.pend[j++] = S.pend[i];
	S.npend = j;
	/* the next incarnation, started at its rejoin */
	tok_client_destroy(S.t.cl[n]);
	tok_server_destroy(S.t.sv[n]);
	S.t.sv[n] = NULL;
	if (tok_client_create((uint32_t)n, &x, &S.t.cl[n]) != MM_OK ||
	    tok_server_create((uint32_t)n, TK_SPACE, &x, &S.t.sv[n]) != MM_OK)
		failf("out of memory recreating node %d", n);
	for (int k = 0; k < TOK_NKINDS; k++)
		if (rn(4))
			tok_client_set_revoke(S.t.cl[n], (enum tok_kind)k, upcall, (void *)(intptr_t)n);
	for (int o = 0; o < S.t.n; o++)
		S.kf[n][o] = false;
	if (is_server(n))
		new_view();
}

static void learn_fail(int o, int v)
{
	trace("n%d learns n%d failed", o, v);
	S.kf[o][v] = true;
	tok_client_node_failed(S.t.cl[o], (uint32_t)v);
	tok_server_node_failed(S.t.sv[o], (uint32_t)v);
}

static bool all_know(int v)
{
	for (int o = 0; o < S.t.n; o++)
		if (S.alive[o] && !S.kf[o][v])
			return false;
	return true;
}

/* The file system's recovery of <v> is done: every server is told. */
static void recover(int v)
{
	int j = 0;

	trace("n%d RECOVERED", v);
	for (int o = 0; o < S.t.n; o++)
		if (S.alive[o])
			tok_server_node_recovered(S.t.sv[o], (uint32_t)v);
	S.down[v] = false;
	S.recoveries++;
	for (int g = 0; g < S.nghost; g++)
		if (S.ghost[g].node != v)
			S.ghost[j++] = S.ghost[g];
	S.nghost = j;
}

static void rejoin(int v)
{
	uint32_t mem[TK_MAXN], fl[TK_MAXN];
	size_t nm, nf;

	trace("n%d REJOINS", v);
	S.alive[v] = true;
	for (int o = 0; o < S.t.n; o++) {
		if (o == v)
			continue;
		S.kf[o][v] = false;
		if (S.alive[o])
			tok_client_node_up(S.t.cl[o], (uint32_t)v);
		S.kf[v][o] = !S.alive[o];	/* one rejoined is up, recovered or not */
		if (S.kf[v][o]) {
			tok_client_node_failed(S.t.cl[v], (uint32_t)o);
			tok_server_node_failed(S.t.sv[v], (uint32_t)o);
		}
	}
	members_of(v, mem, &nm, fl, &nf);
	if (S.epoch > 0 &&
	    tok_server_start_epoch(S.t.sv[v], S.epoch, is_server(v) ? mem : NULL,
				   is_server(v) ? nm : 0, fl, nf) != MM_OK)
		failf("node %d: start_epoch at its rejoin", v);
	S.sv_epoch[v] = S.epoch;
	if (tok_client_set_view(S.t.cl[v], TK_SPACE, S.epoch, S.srv, (size_t)S.nsrv) != MM_OK)
		failf("node %d: set_view at its rejoin", v);
	S.cl_epoch[v] = S.epoch;
}

static void learn_view_server(int o)
{
	uint32_t mem[TK_MAXN], fl[TK_MAXN];
	size_t nm, nf;
	int rc;

	trace("n%d server learns view %u", o, S.epoch);
	members_of(o, mem, &nm, fl, &nf);
	if (!is_server(o)) {
		/* a standby: empty at the new epoch, it only queues newer requests */
		struct tok_xport x = xport_of(o);

		tok_server_destroy(S.t.sv[o]);
		if (tok_server_create((uint32_t)o, TK_SPACE, &x, &S.t.sv[o]) != MM_OK)
			failf("out of memory");
		nm = 0;
	}
	rc = tok_server_start_epoch(S.t.sv[o], S.epoch, mem, nm, fl, nf);
	if (rc != MM_OK)
		failf("node %d: start_epoch %u: %d", o, S.epoch, rc);
	S.sv_epoch[o] = S.epoch;
}

static void learn_view_client(int o)
{
	trace("n%d client learns view %u", o, S.epoch);
	if (tok_client_set_view(S.t.cl[o], TK_SPACE, S.epoch, S.srv, (size_t)S.nsrv) != MM_OK)
		failf("node %d: set_view %u", o, S.epoch);
	S.cl_epoch[o] = S.epoch;
}

/* Pending fault events, one per entry: kind, node, other node. */
struct fev {
	enum { F_LEARN_FAIL, F_RECOVER, F_REJOIN, F_VIEW_SRV, F_VIEW_CL, F_RETRY, F_EXPEL } kind;
	int o, v;
};

static size_t fault_events(struct fev *ev)
{
	size_t n = 0;

	if (!S.faults)
		return 0;
	if (S.cut_b >= 0)
		ev[n++] = (struct fev){F_EXPEL, S.cut_b, S.cut_b};
	for (int v = 0; v < S.t.n; v++) {
		if (S.alive[v]) {
			if (S.sv_epoch[v] < S.epoch)
				ev[n++] = (struct fev){F_VIEW_SRV, v, v};
			if (S.cl_epoch[v] < S.epoch)
				ev[n++] = (struct fev){F_VIEW_CL, v, v};
			if (!mm_list_empty(&S.t.cl[v]->failwait))
				ev[n++] = (struct fev){F_RETRY, v, v};
			continue;
		}
		for (int o = 0; o < S.t.n; o++)
			if (S.alive[o] && !S.kf[o][v])
				ev[n++] = (struct fev){F_LEARN_FAIL, o, v};
		if (all_know(v)) {
			S.all_knew[v] = true;
			if (S.down[v])
				ev[n++] = (struct fev){F_RECOVER, v, v};
			ev[n++] = (struct fev){F_REJOIN, v, v};
		}
	}
	for (int v = 0; v < S.t.n; v++)
		if (S.alive[v] && S.down[v] && S.all_knew[v])	/* rejoined before its recovery */
			ev[n++] = (struct fev){F_RECOVER, v, v};
	return n;
}

static void run_fault(const struct fev *e)
{
	switch (e->kind) {
	case F_LEARN_FAIL:
		learn_fail(e->o, e->v);
		break;
	case F_RECOVER:
		recover(e->v);
		break;
	case F_REJOIN:
		rejoin(e->v);
		break;
	case F_VIEW_SRV:
		learn_view_server(e->o);
		break;
	case F_VIEW_CL:
		learn_view_client(e->o);
		break;
	case F_RETRY:
		trace("n%d retries waits for failed nodes", e->o);
		tok_client_retry_failed(S.t.cl[e->o]);
		break;
	case F_EXPEL:
		trace("n%d expelled (lost its connection to n%d)", e->o, S.cut_a);
		S.cut_a = S.cut_b = -1;
		crash(e->o);
		break;
	}
}

/* One scheduler step; false when nothing could happen. */
static bool step(bool workload)
{
	size_t nready = 0, nfev;
	struct worker *ready[TK_MAXN * WORKERS];
	struct fev fev[TK_MAXN * TK_MAXN + 4 * TK_MAXN];
	unsigned total, pick;

	nfev = fault_events(fev);
	for (int n = 0; n < S.t.n; n++)
		for (int w = 0; w < WORKERS; w++) {
			struct worker *wk = &S.w[n][w];

			if (!S.alive[n])
				continue;
			if ((wk->st == W_IDLE && workload && S.started < OPS) ||
			    (wk->st == W_HOLD && wk->until <= S.step))
				ready[nready++] = wk;
		}
	total = (unsigned)(S.t.nq * 4 + S.npend * 2 + nready * 3 + nfev);
	if (total && workload)
		total++;	/* a drop of unused tokens or a fault, never alone */
	S.step++;
	if (total == 0) {
		/* only holds not yet due: let time pass */
		for (int n = 0; n < S.t.n; n++)
			for (int w = 0; w < WORKERS; w++)
				if (S.w[n][w].st == W_HOLD)
					return true;
		return false;
	}
	pick = rn(total);
	if (pick < S.t.nq * 4) {
		/* mostly the oldest few, sometimes any: delays and reordering */
		size_t i = rn(4) ? rn((unsigned)(S.t.nq < 3 ? S.t.nq : 3)) : rn((unsigned)S.t.nq);
		struct tok_msg m;
		char err[100], b[48];

		/* reassert-done never overtakes what its sender sent that server
		 * before it: the daemon sends a view change's messages to one
		 * node in one frame (tokens/toknet.c), delivered whole or lost
		 * with the connection */
		if (S.t.q[i].len >= 2 && S.t.q[i].buf[1] == TOK_MSG_REASSERT_DONE)
			for (size_t j = 0; j < i; j++)
				if (S.t.q[j].from == S.t.q[i].from && S.t.q[j].to == S.t.q[i].to) {
					i = j;
					break;
				}
		if (!S.alive[S.t.q[i].to] ||
		    (S.cut_b >= 0 && ((S.t.q[i].from == (uint32_t)S.cut_a && S.t.q[i].to == (uint32_t)S.cut_b) ||
				      (S.t.q[i].from == (uint32_t)S.cut_b && S.t.q[i].to == (uint32_t)S.cut_a)))) {
			trace("lost %u->%u (%s)", S.t.q[i].from, S.t.q[i].to,
			      S.alive[S.t.q[i].to] ? "connection lost" : "dead");
			memmove(&S.t.q[i], &S.t.q[i + 1], (S.t.nq - i - 1) * sizeof(*S.t.q));
			S.t.nq--;
			return true;
		}
		if (S.trace && tok_msg_decode(S.t.q[i].buf, S.t.q[i].len, &m, err, sizeof(err)) == MM_OK)
			trace("deliver %u->%u %s %s/%" PRIu64 " %s %s reqid %" PRIu64, S.t.q[i].from,
			      S.t.q[i].to, tok_msg_type_name(m.type), tok_kind_name(m.key.kind),
			      m.key.obj, tok_mode_name(m.mode), rstr(m.r, b, sizeof(b)), m.reqid);
		for (uint16_t e = 0; S.trace && e < m.n; e++)
			trace("  held by %s%u %s %s", (m.ent[e].node & TOK_NODE_FAILED) ? "failed " : "",
			      m.ent[e].node & ~TOK_NODE_FAILED, tok_mode_name(m.ent[e].mode),
			      rstr(m.ent[e].r, b, sizeof(b)));
		if (tk_deliver(&S.t, i) != MM_OK)
			failf("a message was refused");
		return true;
	}
	pick -= (unsigned)S.t.nq * 4;
	if (pick < S.npend * 2) {
		struct pend p = S.pend[pick / 2];

		S.pend[pick / 2] = S.pend[--S.npend];
		trace("n%d upcall %" PRIu64 " done", p.node, p.cookie);
		if (tok_client_upcall_done(S.t.cl[p.node], p.cookie) != MM_OK)
			failf("upcall %" PRIu64 " of node %d unknown", p.cookie, p.node);
		return true;
	}
	pick -= (unsigned)S.npend * 2;
	if (pick < nready * 3) {
		struct worker *w = ready[pick / 3];

		if (w->st == W_IDLE)
			start_worker(w);
		else
			end_worker(w);
		return true;
	}
	pick -= (unsigned)nready * 3;
	if (pick < nfev) {
		run_fault(&fev[pick]);
		return true;
	}
	/* rarely: a node gives back what it does not use, crashes (at most
	 * two down at once, three left alive), or the space gets a new view */
	if (rn(8) == 0) {
		int n = (int)rn((unsigned)S.t.n);

		if (S.alive[n]) {
			trace("n%d drop unused", n);
			tok_client_drop_unused(S.t.cl[n]);
		}
	} else if (S.faults && rn(12) == 0) {
		int n = (int)rn((unsigned)S.t.n), alive = 0, down = 0;

		for (int i = 0; i < S.t.n; i++) {
			alive += S.alive[i];
			down += S.down[i] || !S.alive[i];
		}
		int m = (int)rn((unsigned)S.t.n);

		if (rn(3) == 0 && S.alive[n] && alive > 3 && down < 2) {
			crash(n);
		} else if (rn(2) && S.cut_b < 0 && m != n && S.alive[n] && S.alive[m] && alive > 3 &&
			   down < 2) {
			/* the connection n-m is lost: what is between them is
			 * lost, and m is expelled later (the lease path) */
			trace("connection n%d-n%d lost", m, n);
			S.cut_a = m;
			S.cut_b = n;
			S.cuts++;
		} else if (rn(2)) {
			new_view();
		}
	}
	return true;
}

static bool run_seed(uint64_t seed, int tr, bool faults)
{
	bool ok;

	memset(&S, 0, sizeof(S));
	S.cut_a = S.cut_b = -1;
	S.faults = faults;
	S.seed = seed;
	S.rng = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	S.trace = tr;
	cur_seed = seed;
	{
		int n = (faults ? 4 : 3) + (int)rn(faults ? 4 : 5), ns = 1 + (int)rn(3);

		if (tk_init(&S.t, n, ns) != MM_OK) {
			failf("tk_init");
			return false;
		}
		for (int i = 0; i < n; i++) {
			struct tok_xport x = xport_of(i);

			S.alive[i] = true;
			if (i < ns)
				S.srv[S.nsrv++] = (uint32_t)i;
			else if (faults && tok_server_create((uint32_t)i, TK_SPACE, &x, &S.t.sv[i]) != MM_OK)
				failf("tok_server_create");
		}
		trace("seed %" PRIu64 ": %d nodes, %d servers%s", seed, n, ns, faults ? ", faults" : "");
	}
	for (int n = 0; n < S.t.n; n++) {
		for (int w = 0; w < WORKERS; w++) {
			S.w[n][w].node = n;
			S.w[n][w].id = w;
		}
		for (int k = 0; k < TOK_NKINDS; k++)
			if (rn(4))
				tok_client_set_revoke(S.t.cl[n], (enum tok_kind)k, upcall, (void *)(intptr_t)n);
	}
	/* the workload, then the drain */
	while (!S.fail[0]) {
		bool busy = false;

		if (S.step > STEP_BUDGET) {
			failf("no end after %d steps (livelock?)", STEP_BUDGET);
			break;
		}
		if (!step(S.started < OPS)) {
			for (int n = 0; n < S.t.n; n++)
				for (int w = 0; w < WORKERS; w++)
					busy = busy || (S.alive[n] && S.w[n][w].st != W_IDLE);
			if (busy)
				failf("nothing can happen but holders wait (deadlock)");
			break;
		}
		check();
	}
	/* everyone idle: give back everything, then nothing may be left */
	if (!S.fail[0]) {
		struct tok_server_stats ss;
		struct tok_client_stats cs;

		struct fev fev[TK_MAXN * TK_MAXN + 4 * TK_MAXN];

		/* every fault seen through: learnt, recovered, rejoined */
		while (!S.fail[0] && (S.t.nq || S.npend || fault_events(fev))) {
			step(false);
			check();
		}
		for (int n = 0; n < S.t.n; n++) {
			tok_client_drop_unused(S.t.cl[n]);
			while (S.t.nq || S.npend) {
				step(false);
				check();
			}
		}
		for (int i = 0; i < S.nsrv; i++) {
			int s = (int)S.srv[i];

			tok_server_get_stats(S.t.sv[s], &ss);
			if (ss.objects || ss.records)
				failf("server %d keeps %" PRIu64 " objects, %" PRIu64 " records when all is dropped",
				      s, ss.objects, ss.records);
			tot_grants += ss.grants;
			tot_conflicts += ss.conflicts;
		}
		for (int n = 0; n < S.t.n; n++) {
			tok_client_get_stats(S.t.cl[n], &cs);
			if (cs.objects || cs.pieces || !tok_client_idle(S.t.cl[n]))
				failf("node %d keeps %" PRIu64 " objects, %" PRIu64 " pieces when all is dropped",
				      n, cs.objects, cs.pieces);
		}
	}
	ok = !S.fail[0];
	if (!ok && !tr) {
		fprintf(stderr, "  seed %" PRIu64 " FAILED at step %" PRIu64 ": %s\n", seed, S.step, S.fail);
		describe_waiters();
	}
	tot_steps += S.step;
	tot_msgs += S.t.total;
	tot_crashes += (uint64_t)S.crashes;
	tot_views += (uint64_t)S.views;
	tot_recoveries += (uint64_t)S.recoveries;
	tot_cuts += (uint64_t)S.cuts;
	if (ok) {
		tk_fini(&S.t);
	} else {
		/* waiting holders cannot be destroyed cleanly: leak them on purpose */
		free(S.t.q);
	}
	free(S.pend);
	return ok;
}

static void run_seeds(bool faults)
{
	const char *one = getenv("TOK_SIM_SEED"), *cnt = getenv("TOK_SIM_SEEDS");
	uint64_t n = cnt ? strtoull(cnt, NULL, 0) : DEFAULT_SEEDS, failed = 0, t0 = now_us();
	const char *what = faults ? "TOK_SIM_FAULTS=1 " : "";

	tot_steps = tot_msgs = tot_grants = tot_conflicts = 0;
	tot_crashes = tot_views = tot_recoveries = tot_cuts = 0;
	signal(SIGABRT, on_abort);
	if (one) {
		uint64_t seed = strtoull(one, NULL, 0);
		bool ok;

		if (!!getenv("TOK_SIM_FAULTS") != faults)
			return;
		ok = run_seed(seed, 1, faults);
		fprintf(stderr, "seed %" PRIu64 ": %s%s\n", seed, ok ? "passed" : "FAILED: ", S.fail);
		CU_ASSERT(ok);
		return;
	}
	for (uint64_t seed = 1; seed <= n; seed++) {
		if (run_seed(seed, 0, faults))
			continue;
		failed++;
		fprintf(stderr, "  replay: %sTOK_SIM_SEED=%" PRIu64 " %s; its schedule:\n", what, seed,
			program_invocation_name);
		run_seed(seed, 1, faults);
		if (failed >= 3)
			break;
	}
	printf("\n  tokens sim%s: %" PRIu64 " seeds, %" PRIu64 " failed, %" PRIu64 " steps, %" PRIu64
	       " messages, %" PRIu64 " grants, %" PRIu64 " conflicts, %" PRIu64 " crashes, %" PRIu64
	       " recoveries, %" PRIu64 " lost connections, %" PRIu64 " new views, %.2f s\n",
	       faults ? " with faults" : "", n, failed, tot_steps, tot_msgs, tot_grants, tot_conflicts,
	       tot_crashes, tot_recoveries, tot_cuts, tot_views, (double)(now_us() - t0) / 1e6);
	CU_ASSERT_EQUAL(failed, 0);
}

static void test_sim(void)
{
	run_seeds(false);
}

/* crashes, failures learnt late, recovery, rejoin, failover and new views */
static void test_sim_faults(void)
{
	run_seeds(true);
}

static void register_tests(void)
{
	static const struct mm_test sim[] = {
		{"seeded simulation, 3-7 nodes", test_sim},
		{"seeded simulation with crashes, expels, recovery and failover, 4-7 nodes",
		 test_sim_faults},
	};

	mm_log_set_level(MM_LOG_FATAL);
	MM_ADD_SUITE("tokens simulation", sim);
}

MM_CUNIT_MAIN(register_tests)
