/*
 * tests/unit/test_tokens.c - tokens/: the tables, range arithmetic,
 * grants, revokes, multi-acquire and the codec, against the contract in
 * tokens/tokens.h and the numbered invariants of tokens/README.md.
 *
 * Scenarios run on tokkit.h's in-process network: every message waits in
 * one queue until the test delivers it, so each interleaving is written
 * out step by step (like PostgreSQL's isolation specs) and message counts
 * are exact. Range arithmetic is checked property-style against a
 * brute-force model: one mode per cell of a 63-cell line whose last cell
 * stands for [62, inf). No threads.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"
#include "tests/unit/tokkit.h"
#include "tokens/tok_int.h"
#include "tokens/tokens.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static const struct tok_range ALL = {0, TOK_INF};

static void on_grant(struct tok_holder *h, void *arg)
{
	(void)h;
	(*(int *)arg)++;
}

static struct tok_key br(uint64_t ino)
{
	return (struct tok_key){.space = 1, .kind = TOK_BR, .obj = ino};
}

static void hold(struct tok_holder *h, struct tok_key k, enum tok_mode m, uint64_t s, uint64_t e,
		 uint64_t ds, uint64_t de, int *flag)
{
	tok_holder_init(h, &k, m, (struct tok_range){s, e}, (struct tok_range){ds, de});
	h->done = on_grant;
	h->arg = flag;
}

/* Does the server hold exactly (node, mode, [s, e)) for key <k>? */
struct find_rec {
	struct tok_key k;
	uint32_t node;
	enum tok_mode mode;
	struct tok_range r;
	int found;
};

static void find_cb(void *arg, const struct tok_key *k, uint32_t node, enum tok_mode mode,
		    struct tok_range r)
{
	struct find_rec *f = arg;

	if (tok_key_eq(k, &f->k) && node == f->node && mode == f->mode && r.start == f->r.start &&
	    r.end == f->r.end)
		f->found++;
}

static int server_has(struct tok_server *s, struct tok_key k, uint32_t node, enum tok_mode m,
		      uint64_t start, uint64_t end)
{
	struct find_rec f = {k, node, m, {start, end}, 0};

	tok_server_foreach(s, find_cb, &f);
	return f.found;
}

/* ---- the tables ---- */

static void test_conflict_table(void)
{
	/* the table of README "Modes", written out again by hand */
	static const int want[TOK_NMODES][TOK_NMODES] = {
		/*        none ro ws xw */
		/*none*/ {0, 0, 0, 0},
		/*ro  */ {0, 0, 1, 1},
		/*ws  */ {0, 1, 0, 1},
		/*xw  */ {0, 1, 1, 1},
	};

	CU_ASSERT_STRING_EQUAL(tok_mode_name(TOK_RO), "ro");
	CU_ASSERT_STRING_EQUAL(tok_mode_name(TOK_WS), "ws");
	CU_ASSERT_STRING_EQUAL(tok_mode_name(TOK_XW), "xw");
	CU_ASSERT_STRING_EQUAL(tok_mode_name((enum tok_mode)9), "?");
	CU_ASSERT_STRING_EQUAL(tok_kind_name(TOK_BR), "br");
	CU_ASSERT_STRING_EQUAL(tok_kind_name(TOK_META), "meta");
	for (int a = 0; a < TOK_NMODES; a++) {
		for (int b = 0; b < TOK_NMODES; b++) {
			enum tok_mode j = tok_mode_join((enum tok_mode)a, (enum tok_mode)b);
			enum tok_mode k = tok_mode_keep((enum tok_mode)a, (enum tok_mode)b);

			CU_ASSERT_EQUAL(tok_modes_conflict((enum tok_mode)a, (enum tok_mode)b),
					want[a][b]);
			CU_ASSERT_EQUAL(tok_modes_conflict((enum tok_mode)a, (enum tok_mode)b),
					tok_modes_conflict((enum tok_mode)b, (enum tok_mode)a));
			/* join covers both, and is the weakest that does */
			CU_ASSERT(tok_mode_covers(j, (enum tok_mode)a));
			CU_ASSERT(tok_mode_covers(j, (enum tok_mode)b));
			for (int m = 0; m < TOK_NMODES; m++)
				if (tok_mode_covers((enum tok_mode)m, (enum tok_mode)a) &&
				    tok_mode_covers((enum tok_mode)m, (enum tok_mode)b))
					CU_ASSERT(tok_mode_covers((enum tok_mode)m, j));
			/* what a holder keeps is part of what it had, and fits the wanted */
			CU_ASSERT(tok_mode_covers((enum tok_mode)a, k));
			if (b != TOK_NONE)
				CU_ASSERT(!tok_modes_conflict(k, (enum tok_mode)b));
			/* a local holder that does not conflict with the wanted mode
			 * stays covered by what its node keeps */
			for (int h = 0; h < TOK_NMODES; h++)
				if (tok_mode_covers((enum tok_mode)a, (enum tok_mode)h) &&
				    !tok_modes_conflict((enum tok_mode)h, (enum tok_mode)b))
					CU_ASSERT(tok_mode_covers(k, (enum tok_mode)h));
			/* covering a mode means conflicting with at least what it does */
			if (tok_mode_covers((enum tok_mode)a, (enum tok_mode)b))
				for (int m = 0; m < TOK_NMODES; m++)
					if (tok_modes_conflict((enum tok_mode)b, (enum tok_mode)m))
						CU_ASSERT(tok_modes_conflict((enum tok_mode)a,
									     (enum tok_mode)m));
		}
	}
	CU_ASSERT_EQUAL(tok_mode_keep(TOK_XW, TOK_RO), TOK_RO);	/* a writer keeps reading */
	CU_ASSERT(!tok_modes_conflict(TOK_WS, TOK_WS));		/* many writers, metanode merges */
}

static void test_key_order_and_server_for(void)
{
	struct tok_key a = {1, TOK_INODE, 5}, b = {1, TOK_BR, 2}, c = {2, TOK_INODE, 1};
	uint32_t servers[3] = {7, 8, 9};
	int hits[3] = {0, 0, 0};

	CU_ASSERT(tok_key_cmp(&a, 0, &b, 0) < 0);	/* kind before object */
	CU_ASSERT(tok_key_cmp(&b, 0, &c, 0) < 0);	/* space first */
	CU_ASSERT(tok_key_cmp(&b, 10, &b, 20) < 0);	/* then range start */
	CU_ASSERT_EQUAL(tok_key_cmp(&b, 10, &b, 10), 0);
	CU_ASSERT_EQUAL(tok_server_for(servers, 0, &a), TOK_NODE_NONE);
	for (uint64_t i = 0; i < 3000; i++) {
		struct tok_key k = {1, TOK_INODE, i};
		uint32_t s = tok_server_for(servers, 3, &k);

		CU_ASSERT(s >= 7 && s <= 9);
		hits[s - 7]++;
		/* every range of one inode goes to one server: the key has no range */
		CU_ASSERT_EQUAL(tok_server_for(servers, 3, &k), s);
	}
	for (int i = 0; i < 3; i++)
		CU_ASSERT(hits[i] > 800);	/* spread by hash */
}

/* ---- range lists against a bitmap model ---- */

#define CELLS 63	/* cell 62 is [62, inf) */

static uint64_t cell_end(unsigned e)
{
	return e >= CELLS ? TOK_INF : e;
}

/* cells [lo, hi) of a range */
static void cells_of(struct tok_range r, unsigned *lo, unsigned *hi)
{
	*lo = (unsigned)r.start;
	*hi = r.end == TOK_INF ? CELLS : (unsigned)r.end;
}

static struct tok_range rand_range(uint64_t *s)
{
	unsigned a = (unsigned)(rnd(s) % (CELLS - 1)), b = a + 1 + (unsigned)(rnd(s) % (CELLS - a));

	return (struct tok_range){a, cell_end(b)};
}

static bool model_matches(const struct tok_rec *head, uint8_t model[3][CELLS])
{
	uint8_t got[3][CELLS];

	memset(got, 0, sizeof(got));
	for (const struct tok_rec *x = head; x; x = x->next) {
		unsigned lo, hi;

		cells_of((struct tok_range){x->start, x->end}, &lo, &hi);
		if (x->node >= 3 || hi > CELLS || (x->end != TOK_INF && x->end >= CELLS))
			return false;
		for (unsigned i = lo; i < hi; i++) {
			if (got[x->node][i])
				return false;
			got[x->node][i] = x->mode;
		}
	}
	return memcmp(got, model, sizeof(got)) == 0;
}

static bool blocks(uint8_t model[3][CELLS], uint32_t node, unsigned cell, enum tok_mode m)
{
	for (uint32_t n = 0; n < 3; n++) {
		enum tok_mode c = (enum tok_mode)model[n][cell];

		if (n == node ? !tok_mode_covers(m, c) : tok_modes_conflict(c, m))
			return true;
	}
	return false;
}

static void test_range_model(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned checked_extend = 0;

	for (int round = 0; round < 40; round++) {
		struct tok_rec *head = NULL;
		uint8_t model[3][CELLS];
		long nrec = 0;
		char why[200];

		memset(model, 0, sizeof(model));
		for (int step = 0; step < 300; step++) {
			uint32_t node = (uint32_t)(rnd(&seed) % 3);
			struct tok_range r = rand_range(&seed);
			enum tok_mode m = (enum tok_mode)(1 + rnd(&seed) % 3);
			unsigned lo, hi;
			bool cov = true, conf = false;
			enum tok_mode over = TOK_NONE;

			cells_of(r, &lo, &hi);
			/* questions first, on the current state */
			for (unsigned i = lo; i < hi; i++) {
				cov = cov && tok_mode_covers((enum tok_mode)model[node][i], m) &&
				      model[node][i] != TOK_NONE;
				conf = conf || tok_modes_conflict((enum tok_mode)model[node][i], m);
				over = tok_mode_join(over, (enum tok_mode)model[node][i]);
			}
			CU_ASSERT_EQUAL(tok_rl_covers(head, node, r, m), cov);
			CU_ASSERT_EQUAL(tok_rl_conflicts(head, node, r, m), conf);
			CU_ASSERT_EQUAL(tok_rl_mode_over(head, node, r), over);
			/* the grant range, where its precondition holds */
			{
				struct tok_range d = rand_range(&seed), g;
				bool ok = true;
				unsigned dlo, dhi, glo, ghi;

				if (d.start > r.start)
					d.start = r.start;
				if (d.end < r.end)
					d.end = r.end;
				for (unsigned i = lo; i < hi; i++)
					ok = ok && !blocks(model, node, i, m);
				if (ok) {
					g = tok_rl_extend(head, node, r, d, m);
					cells_of(d, &dlo, &dhi);
					cells_of(g, &glo, &ghi);
					CU_ASSERT(g.start <= r.start && g.end >= r.end);
					CU_ASSERT(g.start >= d.start && g.end <= d.end);
					for (unsigned i = glo; i < ghi; i++)
						CU_ASSERT(!blocks(model, node, i, m));
					if (glo > dlo)
						CU_ASSERT(blocks(model, node, glo - 1, m));
					if (ghi < dhi)
						CU_ASSERT(blocks(model, node, ghi, m));
					checked_extend++;
				}
			}
			/* then a change */
			if (rnd(&seed) % 2) {
				CU_ASSERT_EQUAL(tok_rl_set(&head, node, r, m, &nrec), MM_OK);
				for (unsigned i = lo; i < hi; i++)
					model[node][i] = (uint8_t)m;
			} else {
				CU_ASSERT_EQUAL(tok_rl_keep(&head, node, r, m, &nrec), MM_OK);
				for (unsigned i = lo; i < hi; i++)
					model[node][i] = (uint8_t)tok_mode_keep((enum tok_mode)model[node][i], m);
			}
			CU_ASSERT(tok_rl_check(head, why, sizeof(why)));
			if (!model_matches(head, model)) {
				CU_FAIL("range list differs from the bitmap model");
				break;
			}
		}
		{
			long count = 0;

			for (struct tok_rec *x = head; x; x = x->next)
				count++;
			CHECK_U64(count, ==, nrec);
		}
		tok_rl_free(&head, &nrec);
		CHECK_U64(nrec, ==, 0);
	}
	CU_ASSERT(checked_extend > 1000);
}

static void test_range_split_merge(void)
{
	struct tok_rec *head = NULL;
	long nrec = 0;
	char why[200];

	/* [0, inf) xw, then a reader takes [10, 20): split in three */
	tok_rl_set(&head, 1, ALL, TOK_XW, &nrec);
	tok_rl_keep(&head, 1, (struct tok_range){10, 20}, TOK_RO, &nrec);
	CU_ASSERT_EQUAL(nrec, 3);
	CU_ASSERT(tok_rl_covers(head, 1, (struct tok_range){10, 20}, TOK_RO));
	CU_ASSERT(!tok_rl_covers(head, 1, (struct tok_range){9, 20}, TOK_XW));
	/* upgrading the middle back merges them into one */
	tok_rl_set(&head, 1, (struct tok_range){10, 20}, TOK_XW, &nrec);
	CU_ASSERT_EQUAL(nrec, 1);
	CU_ASSERT(head && head->start == 0 && head->end == TOK_INF);
	/* giving up [5, inf) leaves [0, 5) */
	tok_rl_keep(&head, 1, (struct tok_range){5, TOK_INF}, TOK_XW, &nrec);
	CU_ASSERT(nrec == 1 && head->end == 5);
	CU_ASSERT(tok_rl_check(head, why, sizeof(why)));
	tok_rl_free(&head, &nrec);
}

/* ---- grants ---- */

static void test_first_writer_whole_file(void)
{
	struct tk_net t;
	struct tok_holder h;
	int g = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	hold(&h, br(5), TOK_XW, 0, 4096, 0, TOK_INF, &g);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &h), MM_OK);
	CU_ASSERT_EQUAL(g, 0);
	tk_pump(&t);
	CU_ASSERT_EQUAL(g, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 1, TOK_XW, 0, TOK_INF), 1);
	tok_release(t.cl[1], &h);
	/* then every read and write of the file on that node is local */
	tk_zero_counts(&t);
	for (uint64_t off = 0; off < 100 * 4096; off += 4096) {
		hold(&h, br(5), off % 8192 ? TOK_RO : TOK_XW, off, off + 4096, off, TOK_INF, &g);
		CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &h), MM_OK);
		CU_ASSERT_EQUAL(h.st, TOK_H_GRANTED);	/* at once */
		tok_release(t.cl[1], &h);
	}
	CHECK_U64(t.total, ==, 0);
	CHECK_U64(g, ==, 101);
	tk_fini(&t);
}

static void test_required_desired(void)
{
	struct tk_net t;
	struct tok_holder h1, h2, h3;
	int g1 = 0, g2 = 0, g3 = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 4, 1), MM_OK);
	/* node 1: exactly [100, 200), it desired no more */
	hold(&h1, br(5), TOK_XW, 100, 200, 100, 200, &g1);
	tok_acquire(t.cl[1], &h1);
	tk_pump(&t);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 1, TOK_XW, 100, 200), 1);
	tok_release(t.cl[1], &h1);
	/* node 2 requires [300, 310), desires all: gets what is free around it */
	hold(&h2, br(5), TOK_XW, 300, 310, 0, TOK_INF, &g2);
	tok_acquire(t.cl[2], &h2);
	tk_pump(&t);
	CU_ASSERT_EQUAL(g2, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 2, TOK_XW, 200, TOK_INF), 1);
	/* node 3 reads [150, 160): node 1 is revoked down to ro (nobody uses
	 * it), node 2 keeps its part (its holder is on [300, 310)) */
	hold(&h3, br(5), TOK_RO, 150, 160, 0, TOK_INF, &g3);
	tok_acquire(t.cl[3], &h3);
	tk_pump(&t);
	CU_ASSERT_EQUAL(g3, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 1, TOK_RO, 100, 200), 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 2, TOK_XW, 200, TOK_INF), 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(5), 3, TOK_RO, 0, 200), 1);
	tok_release(t.cl[2], &h2);
	tok_release(t.cl[3], &h3);
	tk_fini(&t);
}

/* Two nodes writing one file sequentially, at A < B: after one conflict
 * they hold [A, B) and [B, inf), and then exchange no more messages. */
static void test_two_sequential_writers(void)
{
	const uint64_t A = 4096, B = 1 << 20, IO = 4096;
	struct tk_net t;
	struct tok_holder ha, hb;
	int ga = 0, gb = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	hold(&ha, br(9), TOK_XW, A, A + IO, A, TOK_INF, &ga);
	tok_acquire(t.cl[1], &ha);
	tk_pump(&t);
	CU_ASSERT_EQUAL(ga, 1);
	CHECK_U64(t.total, ==, 2);	/* acquire, grant */
	tok_release(t.cl[1], &ha);
	/* A's writer is at its second block when B starts */
	hold(&ha, br(9), TOK_XW, A + IO, A + 2 * IO, A + IO, TOK_INF, &ga);
	tok_acquire(t.cl[1], &ha);
	CU_ASSERT_EQUAL(ha.st, TOK_H_GRANTED);
	tk_zero_counts(&t);
	hold(&hb, br(9), TOK_XW, B, B + IO, B, TOK_INF, &gb);
	tok_acquire(t.cl[2], &hb);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 1);
	/* acquire, conflict, revoke, relinquish, ack, revoked, acquire, grant */
	CHECK_U64(t.total, ==, 8);
	CHECK_U64(t.sent[TOK_MSG_REVOKE], ==, 1);
	CHECK_U64(t.sent[TOK_MSG_RELINQ], ==, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(9), 1, TOK_XW, A, B), 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(9), 2, TOK_XW, B, TOK_INF), 1);
	tok_release(t.cl[1], &ha);
	tok_release(t.cl[2], &hb);
	/* both go on writing: no messages at all */
	tk_zero_counts(&t);
	for (uint64_t i = 2; i < 200; i++) {
		hold(&ha, br(9), TOK_XW, A + i * IO, A + (i + 1) * IO, A + i * IO, TOK_INF, &ga);
		hold(&hb, br(9), TOK_XW, B + i * IO, B + (i + 1) * IO, B + i * IO, TOK_INF, &gb);
		tok_acquire(t.cl[1], &ha);
		tok_acquire(t.cl[2], &hb);
		CU_ASSERT(ha.st == TOK_H_GRANTED && hb.st == TOK_H_GRANTED);
		tok_release(t.cl[1], &ha);
		tok_release(t.cl[2], &hb);
	}
	CHECK_U64(t.total, ==, 0);
	tk_fini(&t);
}

/* Local holders: readers share, a writer waits for them, no messages. */
static void test_local_holders(void)
{
	struct tk_net t;
	struct tok_holder r1, r2, w;
	struct tok_key k = {1, TOK_INODE, 77};
	int g = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 2, 1), MM_OK);
	hold(&w, k, TOK_XW, 0, TOK_INF, 0, TOK_INF, &g);
	tok_acquire(t.cl[1], &w);
	tk_pump(&t);
	tok_release(t.cl[1], &w);
	tk_zero_counts(&t);
	hold(&r1, k, TOK_RO, 0, TOK_INF, 0, TOK_INF, &g);
	hold(&r2, k, TOK_RO, 0, TOK_INF, 0, TOK_INF, &g);
	hold(&w, k, TOK_XW, 0, TOK_INF, 0, TOK_INF, &g);
	tok_acquire(t.cl[1], &r1);
	tok_acquire(t.cl[1], &r2);
	tok_acquire(t.cl[1], &w);
	CU_ASSERT(r1.st == TOK_H_GRANTED && r2.st == TOK_H_GRANTED);
	CU_ASSERT_EQUAL(w.st, TOK_H_WAIT);
	CU_ASSERT_STRING_EQUAL(w.cause, "a local holder");
	tok_release(t.cl[1], &r1);
	CU_ASSERT_EQUAL(w.st, TOK_H_WAIT);
	tok_release(t.cl[1], &r2);
	CU_ASSERT_EQUAL(w.st, TOK_H_GRANTED);
	tok_release(t.cl[1], &w);
	CHECK_U64(t.total, ==, 0);
	CU_ASSERT(tok_client_idle(t.cl[1]));
	tk_fini(&t);
}

/*
 * Two nodes upgrading ro to xw on one inode (PostgreSQL's
 * deadlock-simple, with tokens): both hold ro cached, both ask for xw at
 * once, the server answers each with a conflict naming the other. Neither
 * uses its ro token any more, so both give it up and one gets xw; the
 * other waits, naming the holder, until that one releases.
 */
static void test_two_upgraders(void)
{
	struct tk_net t;
	struct tok_holder h1, h2;
	struct tok_key k = {1, TOK_INODE, 7};
	int g1 = 0, g2 = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	/* step "read1", "read2": both cache ro */
	hold(&h1, k, TOK_RO, 0, TOK_INF, 0, TOK_INF, &g1);
	hold(&h2, k, TOK_RO, 0, TOK_INF, 0, TOK_INF, &g2);
	tok_acquire(t.cl[1], &h1);
	tok_acquire(t.cl[2], &h2);
	tk_pump(&t);
	CU_ASSERT(g1 == 1 && g2 == 1);
	tok_release(t.cl[1], &h1);
	tok_release(t.cl[2], &h2);
	/* step "up1", "up2": both ask for xw before the server sees either */
	hold(&h1, k, TOK_XW, 0, TOK_INF, 0, TOK_INF, &g1);
	hold(&h2, k, TOK_XW, 0, TOK_INF, 0, TOK_INF, &g2);
	tok_acquire(t.cl[1], &h1);
	tok_acquire(t.cl[2], &h2);
	CU_ASSERT_EQUAL(t.nq, 2);
	/* step "serve1", "serve2": two conflicts */
	tk_deliver(&t, 0);
	tk_deliver(&t, 0);
	CHECK_U64(t.sent[TOK_MSG_CONFLICT], ==, 2);
	tk_pump(&t);
	/* one of them has it; the other waits on it by name */
	CU_ASSERT_EQUAL(g1 + g2, 3);
	{
		struct tok_holder *won = g1 == 2 ? &h1 : &h2, *lost = g1 == 2 ? &h2 : &h1;
		struct tok_client *wc = g1 == 2 ? t.cl[1] : t.cl[2];
		uint32_t wnode = g1 == 2 ? 1 : 2;

		CU_ASSERT_EQUAL(lost->st, TOK_H_REVOKING);
		CU_ASSERT_EQUAL(lost->cause_node, wnode);
		tok_release(wc, won);
		tk_pump(&t);
		CU_ASSERT_EQUAL(lost->st, TOK_H_GRANTED);
		tok_release(g1 == 2 ? t.cl[2] : t.cl[1], lost);
	}
	CU_ASSERT_EQUAL(g1 + g2, 4);
	tk_fini(&t);
}

/* ---- multi-acquire ---- */

struct mdone {
	int done;
};

static void multi_done(struct tok_multi *m, void *arg)
{
	(void)m;
	((struct mdone *)arg)->done++;
}

static void test_multi_acquire(void)
{
	uint64_t seed = 12345;

	/* rename: two directories and two inodes, asked in opposite orders
	 * by two nodes, under 300 random delivery orders */
	for (int round = 0; round < 300; round++) {
		struct tk_net t;
		struct tok_holder h[2][4];
		struct tok_holder *hp[2][4];
		struct tok_multi m[2];
		struct mdone d[2] = {{0}, {0}};
		int dummy = 0;
		const struct tok_key keys[4] = {{1, TOK_INODE, 10}, {1, TOK_INODE, 11},
						{1, TOK_DIRBLK, 10}, {1, TOK_DIRBLK, 11}};

		CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 2), MM_OK);
		for (int n = 0; n < 2; n++) {
			for (int i = 0; i < 4; i++) {
				int ki = n ? 3 - i : i;

				hold(&h[n][i], keys[ki], TOK_XW, 0, TOK_INF, 0, TOK_INF, &dummy);
				hp[n][i] = &h[n][i];
			}
			CU_ASSERT_EQUAL(tok_acquire_many(t.cl[n + 1], &m[n], hp[n], 4, multi_done, &d[n]),
					MM_OK);
			/* sorted into the total order */
			for (int i = 1; i < 4; i++)
				CU_ASSERT(tok_key_cmp(&hp[n][i - 1]->key, 0, &hp[n][i]->key, 0) < 0);
		}
		for (int steps = 0; steps < 100000 && (d[0].done == 0 || d[1].done == 0); steps++) {
			if (t.nq) {
				tk_deliver(&t, rnd(&seed) % t.nq);
				continue;
			}
			/* a node that has all four releases them */
			for (int n = 0; n < 2; n++)
				if (d[n].done == 1) {
					for (int i = 0; i < 4; i++)
						tok_release(t.cl[n + 1], hp[n][i]);
					d[n].done = 2;
				}
			if (!t.nq && d[0].done != 1 && d[1].done != 1 && (d[0].done == 0 || d[1].done == 0))
				break;	/* stuck */
		}
		if (d[0].done == 0 || d[1].done == 0) {
			CU_FAIL("multi-acquire did not complete");
			fprintf(stderr, "  round %d stuck: %s / %s\n", round,
				hp[0][m[0].next]->cause, hp[1][m[1].next]->cause);
			tk_fini(&t);
			return;
		}
		for (int n = 0; n < 2; n++)
			if (d[n].done == 1)
				for (int i = 0; i < 4; i++)
					tok_release(t.cl[n + 1], hp[n][i]);
		tk_pump(&t);
		tk_fini(&t);
	}
	/* two holders overlapping on one object: refused */
	{
		struct tk_net t;
		struct tok_holder a, b;
		struct tok_holder *v[2] = {&a, &b};
		struct tok_multi m;
		struct mdone d = {0};
		int dummy = 0;

		tk_init(&t, 2, 1);
		hold(&a, br(3), TOK_XW, 0, 100, 0, 100, &dummy);
		hold(&b, br(3), TOK_RO, 50, 150, 50, 150, &dummy);
		CU_ASSERT_EQUAL(tok_acquire_many(t.cl[1], &m, v, 2, multi_done, &d), MM_EINVAL);
		hold(&b, br(3), TOK_RO, 100, 150, 100, 150, &dummy);
		CU_ASSERT_EQUAL(tok_acquire_many(t.cl[1], &m, v, 2, multi_done, &d), MM_OK);
		tk_pump(&t);
		CU_ASSERT_EQUAL(d.done, 1);
		tok_release(t.cl[1], &a);
		tok_release(t.cl[1], &b);
		tk_fini(&t);
	}
}

/* ---- asynchronous upcalls ---- */

struct upcalls {
	int n;
	uint64_t cookie;
	struct tok_range r;
	enum tok_mode mode;
};

static int async_upcall(void *arg, struct tok_client *c, const struct tok_key *k,
			struct tok_range r, enum tok_mode want, uint64_t cookie)
{
	struct upcalls *u = arg;

	(void)c;
	(void)k;
	u->n++;
	u->cookie = cookie;
	u->r = r;
	u->mode = want;
	return TOK_ASYNC;
}

static void test_async_upcall(void)
{
	struct tk_net t;
	struct tok_holder w, r;
	struct upcalls u = {0};
	int gw = 0, gr = 0;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	tok_client_set_revoke(t.cl[1], TOK_BR, async_upcall, &u);
	hold(&w, br(4), TOK_XW, 0, 10, 0, TOK_INF, &gw);
	tok_acquire(t.cl[1], &w);
	tk_pump(&t);
	tok_release(t.cl[1], &w);
	hold(&r, br(4), TOK_RO, 0, 10, 0, TOK_INF, &gr);
	tok_acquire(t.cl[2], &r);
	tk_pump(&t);
	/* the writer is flushing: the reader waits, nothing relinquished yet */
	CU_ASSERT_EQUAL(u.n, 1);
	CU_ASSERT_EQUAL(u.mode, TOK_RO);		/* a reader wants it: flush, keep reading */
	CU_ASSERT_EQUAL(tok_mode_keep(TOK_XW, u.mode), TOK_RO);
	CU_ASSERT(u.r.start == 0 && u.r.end == TOK_INF);
	CU_ASSERT_EQUAL(gr, 0);
	CU_ASSERT_EQUAL(t.sent[TOK_MSG_RELINQ], 0);
	CU_ASSERT_EQUAL(tok_client_upcall_done(t.cl[1], u.cookie + 1000), MM_ENOENT);
	CU_ASSERT_EQUAL(tok_client_upcall_done(t.cl[1], u.cookie), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gr, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(4), 1, TOK_RO, 0, TOK_INF), 1);
	tok_release(t.cl[2], &r);
	tk_fini(&t);
}

/* ---- memory ---- */

static int null_send(void *arg, uint32_t to, const void *buf, size_t len)
{
	(void)arg;
	(void)to;
	(void)buf;
	(void)len;
	return MM_OK;
}

/* A failed node's token stays, conflicting, until its recovery; the
 * waiter says why, and the server's word wakes it. */
static void test_failed_node_until_recovery(void)
{
	struct tk_net t;
	struct tok_holder a, b;
	int ga = 0, gb = 0;
	struct tok_server_stats ss;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	hold(&a, br(3), TOK_XW, 0, 10, 0, TOK_INF, &ga);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &a), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(ga, 1);
	/* node 1 dies holding [0, inf) xw: every node learns it */
	tok_server_node_failed(t.sv[0], 1);
	tok_client_node_failed(t.cl[2], 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(3), 1 | TOK_NODE_FAILED, TOK_XW, 0, TOK_INF), 1);
	hold(&b, br(3), TOK_RO, 5, 6, 5, 6, &gb);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[2], &b), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 0);
	CU_ASSERT_EQUAL(b.st, TOK_H_FAILWAIT);
	CU_ASSERT_EQUAL(b.cause_node, 1);
	CU_ASSERT_EQUAL(t.sent[TOK_MSG_REVOKE], 0);	/* nobody revokes a dead node */
	/* asking again before the recovery changes nothing */
	tok_client_retry_failed(t.cl[2]);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 0);
	CU_ASSERT_EQUAL(b.st, TOK_H_FAILWAIT);
	tok_server_get_stats(t.sv[0], &ss);
	CU_ASSERT(ss.failed_conflicts >= 2);
	/* recovered: the token goes, the waiter is told and granted */
	tok_server_node_recovered(t.sv[0], 1);
	CU_ASSERT_EQUAL(t.sent[TOK_MSG_RECOVERED], 1);
	CU_ASSERT_EQUAL(gb, 0);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(3), 1 | TOK_NODE_FAILED, TOK_XW, 0, TOK_INF), 0);
	tok_release(t.cl[2], &b);
	tok_client_drop_unused(t.cl[2]);
	tk_pump(&t);
	/* node 1's next incarnation starts empty */
	tok_client_destroy(t.cl[1]);
	{
		struct tok_xport x = {.send = tk_send, .arg = &t.xa[1]};
		uint32_t srv = 0;

		CU_ASSERT_EQUAL(tok_client_create(1, &x, &t.cl[1]), MM_OK);
		tok_client_set_view(t.cl[1], TK_SPACE, 0, &srv, 1);
	}
	tk_fini(&t);
}

/* A new server rebuilds from the clients' reasserts; acquires wait for it
 * and are then served, with no conflicting pair across the move. */
static void test_rebuild_on_new_view(void)
{
	struct tk_net t;
	struct tok_holder a, b;
	int ga = 0, gb = 0;
	uint32_t members[3] = {0, 1, 2}, newsrv = 2;
	struct tok_server_stats ss;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 3), MM_OK);
	hold(&a, br(8), TOK_XW, 100, 200, 0, TOK_INF, &ga);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &a), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(ga, 1);
	/* node 2 becomes the only server at epoch 1; node 0 asks before it
	 * has learnt the view, node 1 has not reasserted yet */
	CU_ASSERT_EQUAL(tok_server_start_epoch(t.sv[2], 1, members, 3, NULL, 0), MM_OK);
	CU_ASSERT(tok_server_rebuilding(t.sv[2]));
	CU_ASSERT_EQUAL(tok_client_set_view(t.cl[0], TK_SPACE, 1, &newsrv, 1), MM_OK);
	hold(&b, br(8), TOK_RO, 150, 160, 150, 160, &gb);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[0], &b), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 0);
	tok_server_get_stats(t.sv[2], &ss);
	CU_ASSERT_EQUAL(ss.queued, 1);
	CU_ASSERT_EQUAL(ss.waiting_for, 2);
	/* an old view is refused */
	CU_ASSERT_EQUAL(tok_client_set_view(t.cl[0], TK_SPACE, 0, &newsrv, 1), MM_EINVAL);
	CU_ASSERT_EQUAL(tok_client_set_view(t.cl[1], TK_SPACE, 1, &newsrv, 1), MM_OK);
	CU_ASSERT_EQUAL(tok_client_set_view(t.cl[2], TK_SPACE, 1, &newsrv, 1), MM_OK);
	tk_pump(&t);
	CU_ASSERT(!tok_server_rebuilding(t.sv[2]));
	/* node 1's reasserted xw is revoked for node 0, not granted over */
	CU_ASSERT_EQUAL(gb, 0);
	CU_ASSERT_EQUAL(b.st, TOK_H_REVOKING);
	tok_release(t.cl[1], &a);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gb, 1);
	CU_ASSERT_EQUAL(server_has(t.sv[2], br(8), 0, TOK_RO, 150, 160), 1);
	tok_release(t.cl[0], &b);
	for (int i = 0; i < 3; i++)
		tok_client_drop_unused(t.cl[i]);
	tk_pump(&t);
	tok_server_get_stats(t.sv[2], &ss);
	CU_ASSERT_EQUAL(ss.records, 0);
	tk_fini(&t);
}

/* tokenMemLimit asks holders to give back what they do not use;
 * maxFilesToCache bounds the client's own cache; cancel withdraws. */
static void test_limits_and_cancel(void)
{
	struct tk_net t;
	struct tok_holder h, busy, c1;
	int g = 0, gbusy = 0, gc = 0;
	struct tok_server_stats ss;
	struct tok_client_stats cs;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	hold(&busy, br(1), TOK_RO, 0, 1, 0, 1, &gbusy);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &busy), MM_OK);
	for (uint64_t i = 2; i < 2002; i++) {
		struct tok_key k = {.space = 1, .kind = TOK_INODE, .obj = i};

		tok_holder_init(&h, &k, TOK_RO, ALL, ALL);
		h.done = on_grant;
		h.arg = &g;
		CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &h), MM_OK);
		tk_pump(&t);
		tok_release(t.cl[1], &h);
	}
	CU_ASSERT_EQUAL(g, 2000);
	tok_server_get_stats(t.sv[0], &ss);
	CU_ASSERT_EQUAL(ss.objects, 2001);
	tok_server_set_mem_limit(t.sv[0], ss.bytes / 2);
	tk_pump(&t);
	tok_server_get_stats(t.sv[0], &ss);
	CU_ASSERT(ss.drops_asked > 0);
	CU_ASSERT(ss.objects < 2001);
	/* the token in use stays */
	CU_ASSERT_EQUAL(server_has(t.sv[0], br(1), 1, TOK_RO, 0, 1), 1);
	/* maxFilesToCache 100 on node 2: its cache stays near it, but the
	 * allocation regions it used stay cached (never given back for it) */
	for (uint64_t i = 0; i < 4; i++) {
		struct tok_key k = {.space = 1, .kind = i % 2 ? TOK_IALLOC : TOK_ALLOC, .obj = i};

		tok_holder_init(&h, &k, TOK_XW, ALL, ALL);
		CU_ASSERT_EQUAL(tok_acquire(t.cl[2], &h), MM_OK);
		tk_pump(&t);
		tok_release(t.cl[2], &h);
	}
	tok_client_set_cache_limit(t.cl[2], 100);
	for (uint64_t i = 5000; i < 5500; i++) {
		struct tok_key k = {.space = 1, .kind = TOK_INODE, .obj = i};

		tok_holder_init(&h, &k, TOK_RO, ALL, ALL);
		CU_ASSERT_EQUAL(tok_acquire(t.cl[2], &h), MM_OK);
		tk_pump(&t);
		tok_release(t.cl[2], &h);
	}
	tk_pump(&t);
	tok_client_get_stats(t.cl[2], &cs);
	CU_ASSERT(cs.objects <= 105);
	CU_ASSERT(cs.cache_drops >= 400);
	for (uint64_t i = 0; i < 4; i++) {
		struct tok_key k = {.space = 1, .kind = i % 2 ? TOK_IALLOC : TOK_ALLOC, .obj = i};

		CU_ASSERT_EQUAL(server_has(t.sv[0], k, 2, TOK_XW, 0, TOK_INF), 1);
	}
	/* cancel: in flight at the server, then the grant is only cached */
	hold(&c1, br(1), TOK_XW, 0, 1, 0, 1, &gc);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[2], &c1), MM_OK);
	CU_ASSERT_EQUAL(c1.st, TOK_H_SERVER);
	tok_cancel(t.cl[2], &c1);
	CU_ASSERT_EQUAL(c1.st, TOK_H_IDLE);
	tk_pump(&t);		/* conflict with node 1: dropped, no revoke */
	CU_ASSERT_EQUAL(gc, 0);
	/* cancel while revoking: the late answer is stale */
	hold(&c1, br(1), TOK_XW, 0, 1, 0, 1, &gc);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[2], &c1), MM_OK);
	while (c1.st != TOK_H_REVOKING && t.nq)
		tk_deliver(&t, 0);
	CU_ASSERT_EQUAL(c1.st, TOK_H_REVOKING);
	tok_cancel(t.cl[2], &c1);
	tok_release(t.cl[1], &busy);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gc, 0);
	tok_client_get_stats(t.cl[2], &cs);
	CU_ASSERT(cs.stale >= 1);
	CU_ASSERT(tok_client_idle(t.cl[2]));
	for (int i = 0; i < 3; i++)
		tok_client_drop_unused(t.cl[i]);
	tk_pump(&t);
	tok_server_get_stats(t.sv[0], &ss);
	CU_ASSERT_EQUAL(ss.objects, 0);
	tk_fini(&t);
}

/* This node expelled and alive: its cache goes, its holders are lost,
 * and its next acquire waits for its own recovery at the server. */
static void test_reset_after_expel(void)
{
	struct tk_net t;
	struct tok_holder g, w, again;
	int gg = 0, gw = 0, ga = 0;
	struct tok_client_stats cs;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 3, 1), MM_OK);
	hold(&g, br(6), TOK_XW, 0, 10, 0, TOK_INF, &gg);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &g), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(gg, 1);
	hold(&w, br(6), TOK_XW, 5, 6, 5, 6, &gw);	/* waits for the local holder */
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &w), MM_OK);
	CU_ASSERT_EQUAL(w.st, TOK_H_WAIT);
	/* node 1 is expelled: the server learns it, node 1 resets */
	tok_server_node_failed(t.sv[0], 1);
	tok_client_reset(t.cl[1]);
	CU_ASSERT_EQUAL(g.st, TOK_H_LOST);
	CU_ASSERT_EQUAL(w.st, TOK_H_LOST);
	CU_ASSERT_EQUAL(gw, 1);		/* told, as lost */
	tok_client_get_stats(t.cl[1], &cs);
	CU_ASSERT_EQUAL(cs.objects, 0);
	CU_ASSERT_EQUAL(cs.pieces, 0);
	tok_release(t.cl[1], &g);		/* a no-op for a lost holder */
	CU_ASSERT_EQUAL(g.st, TOK_H_IDLE);
	tok_cancel(t.cl[1], &w);
	CU_ASSERT_EQUAL(w.st, TOK_H_IDLE);
	/* rejoined: its old token is the failed node's until recovery */
	hold(&again, br(6), TOK_RO, 0, 1, 0, 1, &ga);
	CU_ASSERT_EQUAL(tok_acquire(t.cl[1], &again), MM_OK);
	tk_pump(&t);
	CU_ASSERT_EQUAL(again.st, TOK_H_FAILWAIT);
	tok_server_node_recovered(t.sv[0], 1);
	tk_pump(&t);
	CU_ASSERT_EQUAL(ga, 1);
	tok_release(t.cl[1], &again);
	tok_client_drop_unused(t.cl[1]);
	tk_pump(&t);
	tk_fini(&t);
}

static void test_bytes_per_token(void)
{
	const uint64_t n = SANITIZED ? 100000 : 1000000;
	struct tok_xport x = {.send = null_send};
	struct tok_server *s;
	struct tok_server_stats st;
	struct tok_msg m = {.type = TOK_MSG_ACQ, .mode = TOK_RO, .r = ALL, .des = ALL};
	uint8_t buf[TOK_MSG_MAX];
	struct mallinfo2 before, after;
	double per;

	before = mallinfo2();
	CU_ASSERT_EQUAL_FATAL(tok_server_create(0, 1, &x, &s), MM_OK);
	m.key.space = 1;
	m.key.kind = TOK_INODE;
	for (uint64_t i = 0; i < n; i++) {
		size_t len;

		m.key.obj = i + 1;
		m.reqid = i + 1;
		len = tok_msg_encode(&m, buf);
		tok_server_recv(s, (uint32_t)(1 + i % 7), buf, len);
	}
	after = mallinfo2();
	tok_server_get_stats(s, &st);
	CHECK_U64(st.objects, ==, n);
	CHECK_U64(st.records, ==, n);
	/* small chunks (uordblks) and mmap'ed ones (hblkhd: the bucket array) */
	per = (double)((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd)) / (double)n;
	if (SANITIZED) {
		printf("\n  tokens.memory: %" PRIu64 " tokens; bytes per token not measured "
		       "(the sanitizer's allocator)\n", n);
	} else {
		printf("\n  tokens.memory: %" PRIu64 " tokens, %.1f bytes per token on the server "
		       "(object, holder record, hash bucket, malloc overhead)\n", n, per);
		CU_ASSERT(per <= 128.0);
	}
	tok_server_destroy(s);
}

/* ---- malformed messages ---- */

static size_t valid_acq(uint8_t *buf)
{
	struct tok_msg m = {.type = TOK_MSG_ACQ, .mode = TOK_XW, .key = br(3), .reqid = 9,
			    .r = {10, 20}, .des = {0, TOK_INF}};

	return tok_msg_encode(&m, buf);
}

static void test_malformed(void)
{
	struct {
		const char *what;
		size_t off;	/* byte to change, or SIZE_MAX: length change */
		uint8_t val;
		long dlen;
	} cases[] = {
		{"short", SIZE_MAX, 0, -1},
		{"trailing byte", SIZE_MAX, 0, +1},
		{"version", 0, 1, 0},
		{"type 0", 1, 0, 0},
		{"type 99", 1, 99, 0},
		{"kind", 2, 7, 0},
		{"mode none", 3, 0, 0},
		{"mode 4", 3, 4, 0},
		{"reserved", 58, 1, 0},
		{"reqid 0", 15, 0, 0},
		{"empty range", 31, 20, 0},
		{"desired misses required", 47, 15, 0},
		{"entries on an acquire", 57, 1, 0},
	};
	struct tk_net t;
	uint8_t buf[TOK_MSG_MAX + 1];
	struct tok_msg m;
	char err[200];
	size_t len;

	CU_ASSERT_EQUAL_FATAL(tk_init(&t, 2, 1), MM_OK);
	len = valid_acq(buf);
	CU_ASSERT_EQUAL(tok_msg_decode(buf, len, &m, err, sizeof(err)), MM_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t l = valid_acq(buf);

		if (cases[i].off == SIZE_MAX) {
			buf[l] = 0;
			l = (size_t)((long)l + cases[i].dlen);
		} else {
			buf[cases[i].off] = cases[i].val;
		}
		err[0] = '\0';
		CU_ASSERT_EQUAL(tok_msg_decode(buf, l, &m, err, sizeof(err)), MM_EPROTO);
		if (err[0] == '\0')
			fprintf(stderr, "  %s: refused without a reason\n", cases[i].what);
		CU_ASSERT(err[0] != '\0');
		CU_ASSERT_EQUAL(tok_server_recv(t.sv[0], 1, buf, l), MM_EPROTO);
		CU_ASSERT_EQUAL(tok_client_recv(t.cl[1], 0, buf, l), MM_EPROTO);
	}
	/* a non-range kind with a partial range */
	{
		struct tok_msg x = {.type = TOK_MSG_ACQ, .mode = TOK_RO, .reqid = 1,
				    .key = {1, TOK_INODE, 3}, .r = {0, 10}, .des = {0, 10}};

		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_msg_decode(buf, len, &m, err, sizeof(err)), MM_EPROTO);
	}
	/* conflicts: none, too many, an entry naming no node */
	{
		struct tok_msg x = {.type = TOK_MSG_CONFLICT, .mode = TOK_RO, .reqid = 1, .key = br(2),
				    .r = {0, 10}, .n = 1};

		x.ent[0] = (struct tok_ent){3, TOK_XW, {0, TOK_INF}};
		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_msg_decode(buf, len, &m, err, sizeof(err)), MM_OK);
		mm_be16_put(buf + 56, 0);
		CU_ASSERT_EQUAL(tok_msg_decode(buf, TOK_MSG_HDR, &m, err, sizeof(err)), MM_EPROTO);
		mm_be16_put(buf + 56, TOK_MAX_CONFLICTS + 1);
		CU_ASSERT_EQUAL(tok_msg_decode(buf, len, &m, err, sizeof(err)), MM_EPROTO);
		mm_be16_put(buf + 56, 1);
		mm_be32_put(buf + TOK_MSG_HDR, TOK_NODE_NONE);
		CU_ASSERT_EQUAL(tok_msg_decode(buf, len, &m, err, sizeof(err)), MM_EPROTO);
	}
	/* well-formed but unexpected: refused by the state machines */
	{
		struct tok_msg x = {.type = TOK_MSG_GRANT, .mode = TOK_RO, .reqid = 5, .key = br(2),
				    .r = {0, 10}};
		struct tok_client_stats cs;

		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_client_recv(t.cl[1], 0, buf, len), MM_EPROTO);
		CU_ASSERT_EQUAL(tok_server_recv(t.sv[0], 1, buf, len), MM_EPROTO);
		x = (struct tok_msg){.type = TOK_MSG_RELINQ_ACK, .reqid = 5, .key = br(2)};
		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_client_recv(t.cl[1], 0, buf, len), MM_EPROTO);
		/* a late answer to a holder cancelled or asked again: stale */
		x = (struct tok_msg){.type = TOK_MSG_REVOKED, .reqid = 5, .key = br(2)};
		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_client_recv(t.cl[1], 0, buf, len), MM_OK);
		tok_client_get_stats(t.cl[1], &cs);
		CU_ASSERT(cs.refused >= 2);
		CU_ASSERT_EQUAL(cs.stale, 1);
		CU_ASSERT_EQUAL(cs.objects, 0);
	}
	/* a relinquish of nothing is answered (idempotent) */
	{
		struct tok_msg x = {.type = TOK_MSG_RELINQ, .mode = TOK_XW, .reqid = 5, .key = br(2),
				    .r = {0, 10}};

		len = tok_msg_encode(&x, buf);
		CU_ASSERT_EQUAL(tok_server_recv(t.sv[0], 1, buf, len), MM_OK);
		CU_ASSERT_EQUAL(t.sent[TOK_MSG_RELINQ_ACK], 1);
	}
	tk_fini(&t);
}

static void register_tests(void)
{
	static const struct mm_test tables[] = {
		{"conflict, covers, join and keep tables", test_conflict_table},
		{"key order, server by hash", test_key_order_and_server_for},
	};
	static const struct mm_test ranges[] = {
		{"split and merge", test_range_split_merge},
		{"random ranges against a bitmap model", test_range_model},
	};
	static const struct mm_test flows[] = {
		{"first writer gets [0, inf)", test_first_writer_whole_file},
		{"required and desired ranges", test_required_desired},
		{"two sequential writers, counting messages", test_two_sequential_writers},
		{"local holders share and exclude", test_local_holders},
		{"two nodes upgrading ro to xw", test_two_upgraders},
		{"ordered multi-acquire", test_multi_acquire},
		{"asynchronous revoke upcall", test_async_upcall},
		{"a failed node's tokens stay until its recovery", test_failed_node_until_recovery},
		{"a new view rebuilds from reasserts", test_rebuild_on_new_view},
		{"tokenMemLimit, maxFilesToCache, cancel", test_limits_and_cancel},
		{"reset after this node's expel", test_reset_after_expel},
	};
	static const struct mm_test misc[] = {
		{"malformed messages", test_malformed},
		{"server bytes per token", test_bytes_per_token},
	};

	mm_log_set_level(MM_LOG_FATAL);
	MM_ADD_SUITE("tokens tables", tables);
	MM_ADD_SUITE("tokens ranges", ranges);
	MM_ADD_SUITE("tokens flows", flows);
	MM_ADD_SUITE("tokens protocol and memory", misc);
}

MM_CUNIT_MAIN(register_tests)
