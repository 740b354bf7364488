/*
 * bench/tokens_bench.c - the token manager (tokens/), in one process.
 *
 *   tokens_bench memory [-n TOKENS]
 *       Server bytes per token: TOKENS (default 1,000,000) objects with
 *       one record each, created through the server's message path
 *       (tok_server_recv of encoded acquire messages, inode tokens, ro,
 *       from nodes 1-7, as tests/unit/test_tokens.c does), measured with
 *       malloc's own accounting (mallinfo2: uordblks + hblkhd) before the
 *       server is created and after the last grant. Every answer must be
 *       a grant.
 *
 *   tokens_bench scale [-n NODES] [-s SERVERS] [-m ws|xw] [-o OPS] [-f FILES] [-w W]
 *                      [-r REPS]
 *       A simulated cluster: NODES clients (default 10) and SERVERS
 *       dedicated token servers (default 1), connected by one FIFO queue
 *       (this file's transport). Each client runs W workers (default 2,
 *       at most 8); together they
 *       write OPS blocks of 64 KiB (default 512) in order through FILES
 *       shared files (default 8), striped: stripe s of a file is
 *       [s MiB, s+1 MiB), and client i owns stripes k*NODES + i. Block j
 *       of a client lies in its stripe number j / 16 (file (j / 16) %
 *       FILES, k = j / 16 / FILES): one BR holder per block, required =
 *       the block, desired = the stripe, mode -m (default xw). A worker
 *       acquires, is granted, and releases in the next round (the
 *       "write"); each round every worker moves, then every message queued
 *       at the round's start is delivered.
 *         phase own:   every client writes its own stripes (no conflicts)
 *         phase shift: then every client writes the stripes of the next
 *                      client (i + 1), which holds them cached: in xw
 *                      each stripe is a conflict, revoke and grant
 *       Per phase: messages (all, and those in or out of a server) per
 *       operation, the busiest server's share, wall time, and the time
 *       spent inside tok_server_recv (server capacity).
 *
 * Output: one line "tokens_bench: key=value ..." per measurement (per
 * phase for scale); exit status 0 only if everything checked out
 * (no refused message, every op done, the caches consistent).
 */
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "tokens/tok_int.h"
#include "net/net.h"
#include "tokens/tokens.h"
#include "tokens/toknet.h"
#include "bench/benchkit.h"

static uint64_t n_opt;
static uint32_t nodes_opt = 10, servers_opt = 1, ops_opt = 512, files_opt = 8, workers_opt = 2, reps_opt;
static enum tok_mode mode_opt = TOK_XW;
static bool trace;	/* TOKENS_BENCH_TRACE=1: every message delivered, on stderr */

/* ---- memory -------------------------------------------------------------- */

static uint64_t mem_grants, mem_other;

static int mem_send(void *arg, uint32_t to, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	(void)arg;
	(void)to;
	if (len >= 2 && p[1] == TOK_MSG_GRANT)
		mem_grants++;
	else
		mem_other++;
	return MM_OK;
}

static int run_memory(void)
{
	const uint64_t n = n_opt ? n_opt : 1000000;
	struct tok_xport x = {.send = mem_send};
	struct tok_msg m = {.type = TOK_MSG_ACQ, .mode = TOK_RO, .r = {0, TOK_INF},
			    .des = {0, TOK_INF}};
	struct tok_server_stats st;
	struct mallinfo2 before, after;
	struct tok_server *s;
	uint8_t buf[TOK_MSG_MAX];
	uint64_t t0, t1, used;
	int rc;

	before = mallinfo2();
	rc = tok_server_create(0, 1, &x, &s);
	if (rc)
		bench_die("tok_server_create", rc, NULL);
	m.key.space = 1;
	m.key.kind = TOK_INODE;
	t0 = mm_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		size_t len;

		m.key.obj = i + 1;
		m.reqid = i + 1;
		len = tok_msg_encode(&m, buf);
		rc = tok_server_recv(s, (uint32_t)(1 + i % 7), buf, len);
		if (rc)
			bench_die("tok_server_recv", rc, NULL);
	}
	t1 = mm_now_ns();
	after = mallinfo2();
	tok_server_get_stats(s, &st);
	/* small chunks (uordblks) and mmap'ed ones (hblkhd: the bucket array) */
	used = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
	printf("tokens_bench: test=memory tokens=%" PRIu64 " objects=%" PRIu64 " records=%" PRIu64
	       " grants=%" PRIu64 " bytes=%" PRIu64 " bytes_per_token=%.1f seconds=%.3f"
	       " acquires_per_s=%.0f\n",
	       n, st.objects, st.records, mem_grants, used, (double)used / (double)n,
	       (double)(t1 - t0) / 1e9, (double)n / ((double)(t1 - t0) / 1e9));
	tok_server_destroy(s);
	if (st.objects != n || st.records != n || mem_grants != n || mem_other) {
		fprintf(stderr, "tokens_bench: memory: %" PRIu64 " objects, %" PRIu64
			" records, %" PRIu64 " grants, %" PRIu64 " other answers for %" PRIu64
			" acquires\n", st.objects, st.records, mem_grants, mem_other, n);
		return 1;
	}
	return 0;
}

/* ---- scale: the transport ------------------------------------------------ */

#define SC_BLOCK (64u << 10)
#define SC_STRIPE_BLOCKS 16u
#define SC_STRIPE ((uint64_t)SC_BLOCK * SC_STRIPE_BLOCKS)
#define SC_WORKERS_MAX 8
#define SC_SPACE 1u
#define SC_INO0 1000u

struct qmsg {
	uint32_t from, to, len;
	uint8_t buf[TOK_MSG_MAX];
};

/* One FIFO for the whole cluster: a ring that doubles when full. */
struct simq {
	struct qmsg *m;
	size_t cap, head, n;
};

struct sim;

struct sc_xarg {
	struct sim *sim;
	uint32_t node;
};

enum { W_IDLE, W_WAIT, W_GRANTED };

struct sc_worker {
	struct tok_holder h;
	int st;
};

struct sc_node {
	struct tok_client *c;
	struct sc_xarg xa;
	uint32_t next_op;
	struct sc_worker w[SC_WORKERS_MAX];
};

struct sim {
	uint32_t n, ns;			/* clients; servers: node ids 0..ns-1, clients ns.. */
	struct tok_server **sv;
	struct sc_xarg *sxa;
	struct sc_node *cn;
	struct simq q;
	uint64_t sent[TOK_MSG_NTYPES], total;
	uint64_t *srv_msgs;		/* per server: in + out */
	uint64_t srv_ns;		/* inside tok_server_recv, all servers */
	uint64_t *srv_ns_of;		/* per server */
	int err;
};

static int q_push(struct simq *q, uint32_t from, uint32_t to, const void *buf, size_t len)
{
	struct qmsg *m;

	if (len > TOK_MSG_MAX)
		return MM_EINVAL;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 1024;
		struct qmsg *nm = malloc(cap * sizeof(*nm));

		if (!nm)
			return MM_ENOMEM;
		for (size_t i = 0; i < q->n; i++) {
			const struct qmsg *o = &q->m[(q->head + i) % q->cap];

			nm[i].from = o->from;
			nm[i].to = o->to;
			nm[i].len = o->len;
			memcpy(nm[i].buf, o->buf, o->len);
		}
		free(q->m);
		q->m = nm;
		q->cap = cap;
		q->head = 0;
	}
	m = &q->m[(q->head + q->n) % q->cap];
	m->from = from;
	m->to = to;
	m->len = (uint32_t)len;
	memcpy(m->buf, buf, len);
	q->n++;
	return MM_OK;
}

static int sc_send(void *arg, uint32_t to, const void *buf, size_t len)
{
	struct sc_xarg *xa = arg;
	struct sim *sim = xa->sim;
	const uint8_t *p = buf;
	int rc;

	if (to >= sim->ns + sim->n)
		return MM_EINVAL;
	rc = q_push(&sim->q, xa->node, to, buf, len);
	if (rc)
		return rc;
	if (len >= 2 && p[1] < TOK_MSG_NTYPES)
		sim->sent[p[1]]++;
	sim->total++;
	if (xa->node < sim->ns)
		sim->srv_msgs[xa->node]++;
	if (to < sim->ns)
		sim->srv_msgs[to]++;
	return MM_OK;
}

/* Deliver the oldest message. */
static void q_deliver(struct sim *sim)
{
	struct simq *q = &sim->q;
	struct qmsg *m = &q->m[q->head];
	struct qmsg copy;
	int rc;

	/* the call may queue more (and grow the ring): work on a copy */
	copy.from = m->from;
	copy.to = m->to;
	copy.len = m->len;
	memcpy(copy.buf, m->buf, m->len);
	q->head = (q->head + 1) % q->cap;
	q->n--;
	if (trace) {
		struct tok_msg tm;
		char err[100];

		if (tok_msg_decode(copy.buf, copy.len, &tm, err, sizeof(err)) == MM_OK)
			fprintf(stderr, "  %u -> %u %s %s obj %" PRIu64 " [%" PRIu64 ", %" PRIu64
				") des [%" PRIu64 ", %" PRIu64 ") n %u reqid %" PRIu64 "\n", copy.from,
				copy.to, tok_msg_type_name(tm.type), tok_mode_name(tm.mode),
				tm.key.obj, tm.r.start, tm.r.end, tm.des.start, tm.des.end, tm.n,
				tm.reqid);
	}
	if (tok_msg_for_server(copy.buf, copy.len)) {
		uint64_t t0 = mm_now_ns();

		rc = copy.to < sim->ns ? tok_server_recv(sim->sv[copy.to], copy.from, copy.buf,
							 copy.len)
				       : MM_EINVAL;
		t0 = mm_now_ns() - t0;
		sim->srv_ns += t0;
		if (copy.to < sim->ns)
			sim->srv_ns_of[copy.to] += t0;
	} else {
		rc = copy.to >= sim->ns ? tok_client_recv(sim->cn[copy.to - sim->ns].c, copy.from,
							  copy.buf, copy.len)
					: MM_EINVAL;
	}
	if (rc && !sim->err) {
		fprintf(stderr, "tokens_bench: message %u from node %u to node %u: %s\n",
			copy.len >= 2 ? copy.buf[1] : 0, copy.from, copy.to, mm_strerror(rc));
		sim->err = rc;
	}
}

/* ---- scale: the cluster -------------------------------------------------- */

static void sc_granted(struct tok_holder *h, void *arg)
{
	struct sc_worker *w = arg;

	(void)h;
	w->st = W_GRANTED;
}

static void sim_init(struct sim *sim, uint32_t n, uint32_t ns)
{
	uint32_t *servers = calloc(ns, sizeof(*servers));
	int rc;

	memset(sim, 0, sizeof(*sim));
	sim->n = n;
	sim->ns = ns;
	sim->sv = calloc(ns, sizeof(*sim->sv));
	sim->sxa = calloc(ns, sizeof(*sim->sxa));
	sim->srv_msgs = calloc(ns, sizeof(*sim->srv_msgs));
	sim->srv_ns_of = calloc(ns, sizeof(*sim->srv_ns_of));
	sim->cn = calloc(n, sizeof(*sim->cn));
	if (!servers || !sim->sv || !sim->sxa || !sim->srv_msgs || !sim->srv_ns_of || !sim->cn)
		bench_die("calloc", MM_ENOMEM, NULL);
	for (uint32_t i = 0; i < ns; i++) {
		struct tok_xport x = {.send = sc_send, .arg = &sim->sxa[i]};

		sim->sxa[i] = (struct sc_xarg){sim, i};
		servers[i] = i;
		rc = tok_server_create(i, SC_SPACE, &x, &sim->sv[i]);
		if (rc)
			bench_die("tok_server_create", rc, NULL);
	}
	for (uint32_t i = 0; i < n; i++) {
		struct sc_node *nd = &sim->cn[i];
		struct tok_xport x = {.send = sc_send, .arg = &nd->xa};

		nd->xa = (struct sc_xarg){sim, ns + i};
		rc = tok_client_create(ns + i, &x, &nd->c);
		if (rc)
			bench_die("tok_client_create", rc, NULL);
		rc = tok_client_set_view(nd->c, SC_SPACE, 0, servers, ns);
		if (rc)
			bench_die("tok_client_set_view", rc, NULL);
	}
	free(servers);
}

static void sim_fini(struct sim *sim)
{
	for (uint32_t i = 0; i < sim->n; i++)
		tok_client_destroy(sim->cn[i].c);
	for (uint32_t i = 0; i < sim->ns; i++)
		tok_server_destroy(sim->sv[i]);
	free(sim->cn);
	free(sim->sv);
	free(sim->sxa);
	free(sim->srv_msgs);
	free(sim->srv_ns_of);
	free(sim->q.m);
}

/* Block <op> of client <idx> writing the stripes of client <owner>. */
static void sc_holder(struct sim *sim, struct sc_worker *w, uint32_t owner, uint32_t op)
{
	uint32_t t = op / SC_STRIPE_BLOCKS, file = t % files_opt, k = t / files_opt;
	uint64_t stripe = (uint64_t)k * sim->n + owner;
	uint64_t s0 = stripe * SC_STRIPE, b0 = s0 + (uint64_t)(op % SC_STRIPE_BLOCKS) * SC_BLOCK;
	struct tok_key key = {.space = SC_SPACE, .kind = TOK_BR, .obj = SC_INO0 + file};

	tok_holder_init(&w->h, &key, mode_opt, (struct tok_range){b0, b0 + SC_BLOCK},
			(struct tok_range){s0, s0 + SC_STRIPE});
	w->h.done = sc_granted;
	w->h.arg = w;
}

struct phase_stats {
	uint64_t ops, msgs, srv_msgs, srv_max, srv_ns, srv_ns_max, wall_ns, rounds;
	uint64_t sent[TOK_MSG_NTYPES];
};

/* Every client writes OPS blocks of client (i + shift)'s stripes. */
static int sc_phase(struct sim *sim, uint32_t shift, struct phase_stats *ps)
{
	uint64_t total = (uint64_t)sim->n * ops_opt, done = 0, t0, srv0 = sim->srv_ns;
	uint64_t sent0[TOK_MSG_NTYPES], total0 = sim->total;
	uint64_t *srv0m = calloc(sim->ns, sizeof(*srv0m)), *srv0t = calloc(sim->ns, sizeof(*srv0t));
	unsigned idle_rounds = 0;

	if (!srv0m || !srv0t)
		bench_die("calloc", MM_ENOMEM, NULL);
	memcpy(sent0, sim->sent, sizeof(sent0));
	memcpy(srv0m, sim->srv_msgs, sim->ns * sizeof(*srv0m));
	memcpy(srv0t, sim->srv_ns_of, sim->ns * sizeof(*srv0t));
	memset(ps, 0, sizeof(*ps));
	for (uint32_t i = 0; i < sim->n; i++)
		sim->cn[i].next_op = 0;
	t0 = mm_now_ns();
	while (done < total) {
		bool moved = false;
		size_t deliver;

		for (uint32_t i = 0; i < sim->n; i++) {
			struct sc_node *nd = &sim->cn[i];

			for (uint32_t j = 0; j < workers_opt; j++) {
				struct sc_worker *w = &nd->w[j];
				int rc;

				if (w->st == W_GRANTED) {
					tok_release(nd->c, &w->h);
					w->st = W_IDLE;
					done++;
					moved = true;
				}
				if (w->st != W_IDLE || nd->next_op >= ops_opt)
					continue;
				sc_holder(sim, w, (i + shift) % sim->n, nd->next_op++);
				w->st = W_WAIT;
				rc = tok_acquire(nd->c, &w->h);
				if (rc)
					bench_die("tok_acquire", rc, NULL);
				moved = true;
			}
		}
		deliver = sim->q.n;
		if (deliver)
			moved = true;
		while (deliver--)
			q_deliver(sim);
		ps->rounds++;
		if (sim->err)
			return 1;
		if (!moved && ++idle_rounds > 2) {
			fprintf(stderr, "tokens_bench: stuck: %" PRIu64 " of %" PRIu64
				" operations done, nothing queued\n", done, total);
			for (uint32_t i = 0; i < sim->n && i < 4; i++)
				for (uint32_t j = 0; j < workers_opt; j++) {
					const struct sc_worker *w = &sim->cn[i].w[j];

					fprintf(stderr, "  node %u worker %u: %d holder %d [%" PRIu64
						", %" PRIu64 ") waits for %s\n", sim->ns + i, j, w->st,
						(int)w->h.st, w->h.req.start, w->h.req.end,
						w->h.cause ? w->h.cause : "-");
				}
			return 1;
		}
		if (moved)
			idle_rounds = 0;
	}
	while (sim->q.n)	/* nothing should be left; deliver it anyway */
		q_deliver(sim);
	ps->wall_ns = mm_now_ns() - t0;
	ps->ops = done;
	ps->msgs = sim->total - total0;
	for (int t = 0; t < TOK_MSG_NTYPES; t++)
		ps->sent[t] = sim->sent[t] - sent0[t];
	for (uint32_t i = 0; i < sim->ns; i++) {
		uint64_t d = sim->srv_msgs[i] - srv0m[i];

		ps->srv_msgs += d;
		if (d > ps->srv_max)
			ps->srv_max = d;
		d = sim->srv_ns_of[i] - srv0t[i];
		if (d > ps->srv_ns_max)
			ps->srv_ns_max = d;
	}
	ps->srv_ns = sim->srv_ns - srv0;
	free(srv0m);
	free(srv0t);
	return sim->err ? 1 : 0;
}

static void sc_print(uint32_t n, uint32_t ns, uint32_t reps, const char *phase,
		     const struct phase_stats *ps)
{
	double ops = (double)ps->ops, wall = (double)ps->wall_ns / 1e9;
	uint64_t srv_in = ps->sent[TOK_MSG_ACQ] + ps->sent[TOK_MSG_RELINQ];

	printf("tokens_bench: test=scale phase=%s nodes=%u servers=%u mode=%s files=%u workers=%u"
	       " reps=%u ops=%" PRIu64
	       " rounds=%" PRIu64 " msgs=%" PRIu64 " msgs_per_op=%.4f srv_msgs=%" PRIu64
	       " srv_msgs_per_op=%.4f srv_max_per_op=%.4f seconds=%.3f ops_per_s=%.0f"
	       " srv_msgs_per_s=%.0f srv_busy_s=%.4f srv_max_busy_s=%.4f srv_us_per_msg=%.3f"
	       " srv_requests_per_s=%.0f"
	       " acquires=%" PRIu64
	       " grants=%" PRIu64 " conflicts=%" PRIu64 " revokes=%" PRIu64
	       " relinquishes=%" PRIu64 " msgs_per_acquire=%.2f\n",
	       phase, n, ns, tok_mode_name(mode_opt), files_opt, workers_opt, reps, ps->ops, ps->rounds,
	       ps->msgs, (double)ps->msgs / ops, ps->srv_msgs, (double)ps->srv_msgs / ops,
	       (double)ps->srv_max / ops, wall, ops / wall, (double)ps->srv_msgs / wall,
	       (double)ps->srv_ns / 1e9, (double)ps->srv_ns_max / 1e9,
	       srv_in ? (double)ps->srv_ns / 1e3 / (double)srv_in : 0.0,
	       ps->srv_ns ? (double)srv_in / ((double)ps->srv_ns / 1e9) : 0.0,
	       ps->sent[TOK_MSG_ACQ], ps->sent[TOK_MSG_GRANT], ps->sent[TOK_MSG_CONFLICT],
	       ps->sent[TOK_MSG_REVOKE], ps->sent[TOK_MSG_RELINQ],
	       ps->sent[TOK_MSG_GRANT] ? (double)ps->msgs / (double)ps->sent[TOK_MSG_GRANT]
				       : 0.0);
}

struct piece_count {
	uint64_t n;
};

static void count_piece(void *arg, const struct tok_key *k, enum tok_mode mode,
			struct tok_range r)
{
	(void)k;
	(void)mode;
	(void)r;
	((struct piece_count *)arg)->n++;
}

/* Every client idle, and the servers hold exactly the clients' pieces. */
static int sc_check(const struct sim *sim)
{
	struct piece_count pc = {0};
	uint64_t recs = 0, refused = 0;

	for (uint32_t i = 0; i < sim->n; i++) {
		struct tok_client_stats cs;

		if (!tok_client_idle(sim->cn[i].c)) {
			fprintf(stderr, "tokens_bench: node %u is not idle at the end\n",
				sim->ns + i);
			return 1;
		}
		tok_client_foreach(sim->cn[i].c, count_piece, &pc);
		tok_client_get_stats(sim->cn[i].c, &cs);
		refused += cs.refused;
	}
	for (uint32_t i = 0; i < sim->ns; i++) {
		struct tok_server_stats st;

		tok_server_get_stats(sim->sv[i], &st);
		recs += st.records;
		refused += st.refused;
	}
	if (recs != pc.n || refused) {
		fprintf(stderr, "tokens_bench: servers hold %" PRIu64 " records, clients %" PRIu64
			" pieces; %" PRIu64 " messages refused\n", recs, pc.n, refused);
		return 1;
	}
	return 0;
}

static void ps_add(struct phase_stats *a, const struct phase_stats *b)
{
	a->ops += b->ops;
	a->msgs += b->msgs;
	a->srv_msgs += b->srv_msgs;
	a->srv_max += b->srv_max;
	a->srv_ns += b->srv_ns;
	a->srv_ns_max += b->srv_ns_max;
	a->wall_ns += b->wall_ns;
	a->rounds += b->rounds;
	for (int t = 0; t < TOK_MSG_NTYPES; t++)
		a->sent[t] += b->sent[t];
}

/* REPS runs of a fresh cluster (default: enough for 1000 clients' worth
 * of operations, so small clusters are timed over as much work). */
static int run_scale(void)
{
	struct phase_stats own = {0}, shift = {0}, p;
	uint32_t reps = reps_opt ? reps_opt : (1000 + nodes_opt - 1) / nodes_opt;
	struct sim sim;
	int rc = 0;

	if (nodes_opt < 2 || servers_opt < 1 || ops_opt < 1 || files_opt < 1 || workers_opt < 1 ||
	    workers_opt > SC_WORKERS_MAX)
		bench_die("scale", MM_EINVAL, "need -n >= 2, -s >= 1, -o >= 1, -f >= 1, -w 1..8");
	for (uint32_t r = 0; r < reps && !rc; r++) {
		sim_init(&sim, nodes_opt, servers_opt);
		rc = sc_phase(&sim, 0, &p);
		if (!rc)
			rc = sc_check(&sim);
		ps_add(&own, &p);
		if (!rc)
			rc = sc_phase(&sim, 1, &p);
		if (!rc)
			rc = sc_check(&sim);
		ps_add(&shift, &p);
		sim_fini(&sim);
	}
	if (rc)
		return rc;
	sc_print(nodes_opt, servers_opt, reps, "own", &own);
	sc_print(nodes_opt, servers_opt, reps, "shift", &shift);
	return 0;
}


/* ---- toknet: nodes over net/ on loopback ---------------------------------- */

#define TN_CLUSTER 0x00BE4C4A70CE4E75ull
#define TN_SPACE 7u
#define TN_MAXN 3

static const char *const tn_ip[TN_MAXN] = {NULL, "127.0.9.41", "127.0.9.42"};

struct tn_node {
	net_ctx *net;
	struct toknet *t;
};

static struct tn_node tn[TN_MAXN];
static uint32_t tn_n;

static int noop_revoke(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want)
{
	(void)arg;
	(void)k;
	(void)r;
	(void)want;
	return MM_OK;
}

/* Nodes 1..n, each a net_ctx (PLAIN, 1 I/O thread, 4 workers, like
 * mmfsd's) and a toknet; node 1 serves space TN_SPACE (epoch 1, rebuilt
 * from every node's reasserts). <upcall>: a no-op revoke callback for
 * every kind, run on the revoke threads. */
static void tn_start(uint32_t n, bool upcall)
{
	uint32_t servers[1] = {1}, members[TN_MAXN];
	int rc;

	tn_n = n;
	for (uint32_t i = 1; i <= n; i++) {
		struct net_config cfg = {
			.node_id = i,
			.cluster_id = TN_CLUSTER,
			.listen_addr = tn_ip[i],
			.io_threads = 1,
			.worker_threads = 4,
			.security = NET_SEC_PLAIN,
			.ciphers = "",
			.connect_timeout_ms = 5000,
		};
		struct toknet_config tc = {.self = i, .revoke_threads = 2};

		rc = net_create(&cfg, &tn[i].net);
		if (rc)
			bench_die("net_create", rc, tn_ip[i]);
		tc.net = tn[i].net;
		rc = toknet_create(&tc, &tn[i].t);
		if (rc)
			bench_die("toknet_create", rc, NULL);
		if (upcall)
			for (int k = 0; k < TOK_NKINDS; k++)
				toknet_set_revoke(tn[i].t, (enum tok_kind)k, noop_revoke, NULL);
		members[i - 1] = i;
	}
	for (uint32_t i = 1; i <= n; i++)
		for (uint32_t j = 1; j <= n; j++)
			if (i != j) {
				rc = net_peer_set(tn[i].net, j, tn_ip[j], net_listen_port(tn[j].net));
				if (rc)
					bench_die("net_peer_set", rc, NULL);
			}
	for (uint32_t i = 1; i <= n; i++) {
		rc = toknet_set_view(tn[i].t, TN_SPACE, 1, servers, 1, members, n, NULL, 0);
		if (rc)
			bench_die("toknet_set_view", rc, NULL);
	}
}

static void tn_finish(void)
{
	for (uint32_t i = tn_n; i >= 1; i--)	/* clients first, the server last */
		toknet_stop(tn[i].t);
	for (uint32_t i = 1; i <= tn_n; i++)
		net_destroy(tn[i].net);
	for (uint32_t i = 1; i <= tn_n; i++)
		toknet_destroy(tn[i].t);
}

static double secs_opt = 3, warm_opt = 0.5;
static int depth_opt = 64;
static bool upcall_opt;

static uint64_t secs_ns(double sec)
{
	return (uint64_t)(sec * 1e9);
}

static void tn_holder(struct tok_holder *h, uint64_t obj, enum tok_mode mode)
{
	struct tok_key k = {.space = TN_SPACE, .kind = TOK_INODE, .obj = obj};

	tok_holder_init(h, &k, mode, (struct tok_range){0, TOK_INF},
			(struct tok_range){0, TOK_INF});
}

/* ---- local: cached acquire + release vs a mutex ---------------------------- */

struct loop_res {
	uint64_t n, ns;
};

/* Call <fn>(<arg>) in batches of 1024 for <secs> after <warm>. */
static struct loop_res timed_loop(void (*fn)(void *arg), void *arg)
{
	uint64_t t0 = mm_now_ns(), ta = 0, n = 0, na = 0, now;
	bool meas = false;

	for (;;) {
		for (int i = 0; i < 1024; i++)
			fn(arg);
		n += 1024;
		now = mm_now_ns();
		if (!meas && now - t0 >= secs_ns(warm_opt)) {
			meas = true;
			ta = now;
			na = n;
		} else if (meas && now - ta >= secs_ns(secs_opt)) {
			return (struct loop_res){n - na, now - ta};
		}
	}
}

static pthread_mutex_t bench_mu = PTHREAD_MUTEX_INITIALIZER;

static void mutex_pair(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bench_mu);
	pthread_mutex_unlock(&bench_mu);
}

struct local_arg {
	struct toknet *t;
	struct tok_holder h;
	int err;
};

static void token_pair(void *arg)
{
	struct local_arg *a = arg;
	int rc = toknet_acquire(a->t, &a->h, 0);

	if (rc) {
		if (!a->err)
			a->err = rc;
		return;
	}
	toknet_release(a->t, &a->h);
}

static void *local_thread(void *arg)
{
	struct local_arg *a = arg;
	struct loop_res *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	*r = timed_loop(token_pair, a);
	return r;
}

static int run_local(void)
{
	struct local_arg a[2] = {0};
	struct tok_client_stats before, after;
	struct loop_res mu, tk, two[2];
	pthread_t th[2];
	int rc;

	tn_start(1, false);
	for (int i = 0; i < 2; i++) {
		a[i].t = tn[1].t;
		tn_holder(&a[i].h, 100 + (uint64_t)i, TOK_XW);
		rc = toknet_acquire(a[i].t, &a[i].h, 10000);	/* from the server, once */
		if (rc)
			bench_die("first toknet_acquire", rc, NULL);
		toknet_release(a[i].t, &a[i].h);
	}
	mu = timed_loop(mutex_pair, NULL);
	toknet_client_stats(tn[1].t, &before);
	tk = timed_loop(token_pair, &a[0]);
	toknet_client_stats(tn[1].t, &after);
	/* two threads, each on its own cached token: the client lock shared */
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, local_thread, &a[i]))
			bench_die("pthread_create", 0, NULL);
	for (int i = 0; i < 2; i++) {
		void *r;

		pthread_join(th[i], &r);
		if (!r)
			bench_die("local thread", MM_ENOMEM, NULL);
		two[i] = *(struct loop_res *)r;
		free(r);
	}
	tn_finish();
	if (a[0].err || a[1].err)
		bench_die("toknet_acquire", a[0].err ? a[0].err : a[1].err, NULL);
	printf("tokens_bench: test=local seconds=%.3f pairs=%" PRIu64 " rate=%.0f ns_per_pair=%.1f"
	       " mutex_pairs=%" PRIu64 " mutex_rate=%.0f mutex_ns=%.1f server_requests=%" PRIu64
	       " two_threads_rate=%.0f\n",
	       (double)tk.ns / 1e9, tk.n, (double)tk.n / ((double)tk.ns / 1e9),
	       (double)tk.ns / (double)tk.n, mu.n, (double)mu.n / ((double)mu.ns / 1e9),
	       (double)mu.ns / (double)mu.n, after.server_requests - before.server_requests,
	       (double)two[0].n / ((double)two[0].ns / 1e9) +
		       (double)two[1].n / ((double)two[1].ns / 1e9));
	return after.server_requests != before.server_requests;
}

/* ---- grant: new tokens from one server to one client, many in flight ------- */

static _Atomic uint64_t g_done;
static atomic_bool g_stop;
static atomic_int g_err;

static void *grant_thread(void *arg)
{
	uint64_t base = ((uint64_t)(uintptr_t)arg + 1) << 40, i = 0;
	struct tok_holder h;

	while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		int rc;

		tn_holder(&h, base + i++, TOK_RO);
		rc = toknet_acquire(tn[2].t, &h, 30000);
		if (rc) {
			int zero = 0;

			atomic_compare_exchange_strong(&g_err, &zero, rc);
			break;
		}
		toknet_release(tn[2].t, &h);
		atomic_fetch_add_explicit(&g_done, 1, memory_order_relaxed);
	}
	return NULL;
}

static int run_grant(void)
{
	pthread_t *th = calloc((size_t)depth_opt, sizeof(*th));
	struct tok_client_stats cs;
	struct toknet_stats ns1, ns2;
	uint64_t t0, ta, tb, na, nb;
	double cpu_a, cpu_b;
	struct tok_holder h;
	int rc;

	if (!th || depth_opt < 1)
		bench_die("grant", MM_EINVAL, "-d must be >= 1");
	tn_start(2, upcall_opt);
	tn_holder(&h, 1, TOK_RO);	/* connect, and wait out the rebuild */
	rc = toknet_acquire(tn[2].t, &h, 10000);
	if (rc)
		bench_die("first toknet_acquire", rc, NULL);
	toknet_release(tn[2].t, &h);
	t0 = mm_now_ns();
	for (int i = 0; i < depth_opt; i++)
		if (pthread_create(&th[i], NULL, grant_thread, (void *)(uintptr_t)i))
			bench_die("pthread_create", 0, NULL);
	bench_sleep_until(t0 + secs_ns(warm_opt));
	ta = mm_now_ns();
	na = atomic_load(&g_done);
	cpu_a = bench_cpu_secs(0);
	bench_sleep_until(ta + secs_ns(secs_opt));
	tb = mm_now_ns();
	nb = atomic_load(&g_done);
	cpu_b = bench_cpu_secs(0);
	atomic_store(&g_stop, true);
	for (int i = 0; i < depth_opt; i++)
		pthread_join(th[i], NULL);
	toknet_client_stats(tn[2].t, &cs);
	toknet_get_stats(tn[1].t, &ns1);
	toknet_get_stats(tn[2].t, &ns2);
	tn_finish();
	free(th);
	printf("tokens_bench: test=grant threads=%d upcall=%d seconds=%.3f grants=%" PRIu64
	       " rate=%.0f cpu_us=%.1f client_objects=%" PRIu64 " server_requests=%" PRIu64
	       " batches_out=%" PRIu64 " msgs_out=%" PRIu64 " srv_batches_out=%" PRIu64
	       " srv_msgs_out=%" PRIu64 " errors=%d\n",
	       depth_opt, upcall_opt, (double)(tb - ta) / 1e9, nb - na,
	       (double)(nb - na) / ((double)(tb - ta) / 1e9),
	       nb > na ? 1e6 * (cpu_b - cpu_a) / (double)(nb - na) : 0.0, cs.objects,
	       cs.server_requests, ns2.batches_out, ns2.msgs_out, ns1.batches_out, ns1.msgs_out,
	       atomic_load(&g_err));
	if (atomic_load(&g_err))
		fprintf(stderr, "tokens_bench: grant: toknet_acquire: %s\n",
			mm_strerror(atomic_load(&g_err)));
	return atomic_load(&g_err) || nb == na;
}

/* ---- pingpong: two nodes alternately take one object xw ------------------- */

static pthread_mutex_t pp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cv = PTHREAD_COND_INITIALIZER;
static uint32_t pp_turn = 1;
static uint64_t pp_switches;

static void *pp_thread(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg, other = me == 1 ? 2 : 1;
	struct tok_holder h;

	for (;;) {
		int rc;

		pthread_mutex_lock(&pp_mu);
		while (pp_turn != me && !atomic_load(&g_stop))
			pthread_cond_wait(&pp_cv, &pp_mu);
		pthread_mutex_unlock(&pp_mu);
		if (atomic_load(&g_stop))
			break;
		tn_holder(&h, 5, TOK_XW);
		rc = toknet_acquire(tn[me].t, &h, 30000);
		if (rc) {
			int zero = 0;

			atomic_compare_exchange_strong(&g_err, &zero, rc);
			atomic_store(&g_stop, true);
			pthread_mutex_lock(&pp_mu);
			pthread_cond_broadcast(&pp_cv);
			pthread_mutex_unlock(&pp_mu);
			break;
		}
		pthread_mutex_lock(&pp_mu);
		pp_switches++;
		atomic_store_explicit(&g_done, pp_switches, memory_order_relaxed);
		pp_turn = other;
		pthread_cond_broadcast(&pp_cv);
		pthread_mutex_unlock(&pp_mu);
		toknet_release(tn[me].t, &h);
	}
	return NULL;
}

static int run_pingpong(void)
{
	struct tok_client_stats c1, c2;
	uint64_t t0, ta, tb, na, nb;
	pthread_t th[2];
	double cpu_a, cpu_b;
	struct tok_holder h;
	int rc;

	tn_start(2, upcall_opt);
	tn_holder(&h, 1, TOK_RO);	/* connect, and wait out the rebuild */
	rc = toknet_acquire(tn[2].t, &h, 10000);
	if (rc)
		bench_die("first toknet_acquire", rc, NULL);
	toknet_release(tn[2].t, &h);
	t0 = mm_now_ns();
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, pp_thread, (void *)(uintptr_t)(i + 1)))
			bench_die("pthread_create", 0, NULL);
	bench_sleep_until(t0 + secs_ns(warm_opt));
	ta = mm_now_ns();
	na = atomic_load(&g_done);
	cpu_a = bench_cpu_secs(0);
	bench_sleep_until(ta + secs_ns(secs_opt));
	tb = mm_now_ns();
	nb = atomic_load(&g_done);
	cpu_b = bench_cpu_secs(0);
	pthread_mutex_lock(&pp_mu);
	atomic_store(&g_stop, true);
	pthread_cond_broadcast(&pp_cv);
	pthread_mutex_unlock(&pp_mu);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	toknet_client_stats(tn[1].t, &c1);
	toknet_client_stats(tn[2].t, &c2);
	tn_finish();
	printf("tokens_bench: test=pingpong upcall=%d seconds=%.3f switches=%" PRIu64
	       " rate=%.0f us_per_switch=%.1f cpu_us=%.1f conflicts=%" PRIu64 " revokes_served=%"
	       PRIu64 " server_requests=%" PRIu64 " errors=%d\n",
	       upcall_opt, (double)(tb - ta) / 1e9, nb - na,
	       (double)(nb - na) / ((double)(tb - ta) / 1e9),
	       nb > na ? (double)(tb - ta) / 1e3 / (double)(nb - na) : 0.0,
	       nb > na ? 1e6 * (cpu_b - cpu_a) / (double)(nb - na) : 0.0,
	       c1.conflicts + c2.conflicts, c1.revokes_served + c2.revokes_served,
	       c1.server_requests + c2.server_requests, atomic_load(&g_err));
	if (atomic_load(&g_err))
		fprintf(stderr, "tokens_bench: pingpong: toknet_acquire: %s\n",
			mm_strerror(atomic_load(&g_err)));
	return atomic_load(&g_err) || nb == na;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: tokens_bench memory [-n tokens]\n"
		"       tokens_bench scale [-n nodes] [-s servers] [-m ws|xw] [-o ops] [-f files]\n"
		"                          [-w workers] [-r reps]\n"
		"       tokens_bench local [-t secs] [-W warmup]\n"
		"       tokens_bench grant [-d threads] [-u] [-t secs] [-W warmup]\n"
		"       tokens_bench pingpong [-u] [-t secs] [-W warmup]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *test;
	int opt;

	if (argc < 2)
		usage();
	test = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:m:o:f:w:r:t:W:d:u")) != -1) {
		switch (opt) {
		case 'n':
			n_opt = strtoull(optarg, NULL, 0);
			nodes_opt = (uint32_t)n_opt;
			break;
		case 's': servers_opt = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'm':
			if (!strcmp(optarg, "ws"))
				mode_opt = TOK_WS;
			else if (!strcmp(optarg, "xw"))
				mode_opt = TOK_XW;
			else
				usage();
			break;
		case 'o': ops_opt = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'f': files_opt = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': secs_opt = atof(optarg); break;
		case 'W': warm_opt = atof(optarg); break;
		case 'd': depth_opt = atoi(optarg); break;
		case 'u': upcall_opt = true; break;
		case 'r': reps_opt = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'w': workers_opt = (uint32_t)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	mm_log_set_level(MM_LOG_WARN);
	trace = getenv("TOKENS_BENCH_TRACE") != NULL;
	if (!strcmp(test, "memory"))
		return run_memory();
	if (!strcmp(test, "scale"))
		return run_scale();
	if (secs_opt <= 0 || warm_opt < 0)
		usage();
	if (!strcmp(test, "local"))
		return run_local();
	if (!strcmp(test, "grant"))
		return run_grant();
	if (!strcmp(test, "pingpong"))
		return run_pingpong();
	usage();
	return 2;
}
