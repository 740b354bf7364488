/*
 * tests/unit/tokkit.h - an in-process network for tokens/ tests: <n>
 * nodes, each with a tok_client, the first <ns> also with a tok_server
 * (the server list of every client). Messages sit in one queue until the
 * test delivers them: tk_pump() in order, or tk_deliver(i) any one, so a
 * test or a seeded scheduler chooses every interleaving. Counts messages
 * by type. Header-only, shared by test_tokens.c and test_tokens_sim.c.
 */
#ifndef MM_TESTS_UNIT_TOKKIT_H
#define MM_TESTS_UNIT_TOKKIT_H

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tokens/tok_int.h"

#define TK_MAXN 8
#define TK_SPACE 1	/* the one token space of the tests */

/* a conflict names at most TK_MAXN - 1 holders */
#define TK_MSG_MAX (TOK_MSG_HDR + TK_MAXN * TOK_MSG_ENT)

struct tk_msg {
	uint32_t from, to;
	uint32_t len;
	uint64_t seq;
	uint8_t buf[TK_MSG_MAX];
};

struct tk_net;

struct tk_xarg {
	struct tk_net *t;
	uint32_t node;
};

struct tk_net {
	int n, ns;
	struct tok_client *cl[TK_MAXN];
	struct tok_server *sv[TK_MAXN];
	struct tk_xarg xa[TK_MAXN];
	struct tk_msg *q;
	size_t nq, cap;
	uint64_t seq;
	uint64_t sent[TOK_MSG_NTYPES];
	uint64_t total;
};

static int tk_send(void *arg, uint32_t to, const void *buf, size_t len)
{
	struct tk_xarg *xa = arg;
	struct tk_net *t = xa->t;
	struct tk_msg *m;

	if ((int)to >= t->n || len > TK_MSG_MAX)
		return MM_EINVAL;
	if (t->nq == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tk_msg *q = realloc(t->q, cap * sizeof(*q));

		if (!q)
			return MM_ENOMEM;
		t->q = q;
		t->cap = cap;
	}
	m = &t->q[t->nq++];
	m->from = xa->node;
	m->to = to;
	m->len = (uint32_t)len;
	m->seq = ++t->seq;
	memcpy(m->buf, buf, len);
	if (len >= 2 && m->buf[1] < TOK_MSG_NTYPES)
		t->sent[m->buf[1]]++;
	t->total++;
	return MM_OK;
}

static inline int tk_init(struct tk_net *t, int n, int ns)
{
	uint32_t servers[TK_MAXN];

	memset(t, 0, sizeof(*t));
	t->n = n;
	t->ns = ns;
	for (int i = 0; i < n; i++) {
		struct tok_xport x = {.send = tk_send, .arg = &t->xa[i]};

		t->xa[i] = (struct tk_xarg){t, (uint32_t)i};
		if (tok_client_create((uint32_t)i, &x, &t->cl[i]) != MM_OK)
			return MM_ENOMEM;
		if (i < ns && tok_server_create((uint32_t)i, TK_SPACE, &x, &t->sv[i]) != MM_OK)
			return MM_ENOMEM;
		servers[i] = (uint32_t)i;
	}
	for (int i = 0; i < n; i++)
		tok_client_set_view(t->cl[i], TK_SPACE, 0, servers, (size_t)ns);
	return MM_OK;
}

static inline void tk_fini(struct tk_net *t)
{
	for (int i = 0; i < t->n; i++) {
		tok_client_destroy(t->cl[i]);
		tok_server_destroy(t->sv[i]);
	}
	free(t->q);
	memset(t, 0, sizeof(*t));
}

/* Deliver queued message <i> (later ones keep their order). */
static inline int tk_deliver(struct tk_net *t, size_t i)
{
	struct tk_msg m = t->q[i];

	memmove(&t->q[i], &t->q[i + 1], (t->nq - i - 1) * sizeof(*t->q));
	t->nq--;
	if (tok_msg_for_server(m.buf, m.len))
		return t->sv[m.to] ? tok_server_recv(t->sv[m.to], m.from, m.buf, m.len) : MM_EINVAL;
	return tok_client_recv(t->cl[m.to], m.from, m.buf, m.len);
}

/* Deliver everything in order, including what the deliveries send. */
static inline void tk_pump(struct tk_net *t)
{
	while (t->nq)
		tk_deliver(t, 0);
}

static inline void tk_zero_counts(struct tk_net *t)
{
	memset(t->sent, 0, sizeof(t->sent));
	t->total = 0;
}

#endif
