/*
 * tokens/multi.c - several tokens in one call (rename needs four), taken
 * one at a time in the total order of tok_key_cmp: (space, kind, object,
 * range start). A caller holds only tokens that sort before the one it
 * waits for, so no cycle of waits can form across nodes (GFS2's
 * nq_m_sync, "in deadlock free order").
 */
#include "tokens/tok_int.h"

#include <stdlib.h>

#include "common/err.h"

static int holder_cmp(const void *a, const void *b)
{
	const struct tok_holder *x = *(struct tok_holder *const *)a;
	const struct tok_holder *y = *(struct tok_holder *const *)b;

	return tok_key_cmp(&x->key, x->req.start, &y->key, y->req.start);
}

static void multi_step(struct tok_holder *h, void *arg)
{
	struct tok_multi *m = arg;

	(void)h;
	if (++m->next < m->n) {
		/* validated up front: cannot fail but for memory, which leaves
		 * the rest to the caller's done with m->next < m->n */
		if (tok_acquire(m->c, m->hs[m->next]) == MM_OK)
			return;
	}
	m->done(m, m->arg);
}

int tok_acquire_many(struct tok_client *c, struct tok_multi *m, struct tok_holder **hs, size_t n,
		     void (*done)(struct tok_multi *m, void *arg), void *arg)
{
	if (n == 0 || !done)
		return MM_EINVAL;
	qsort(hs, n, sizeof(*hs), holder_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct tok_holder *h = hs[i];

		if (h->st != TOK_H_IDLE || !tok_mode_valid(h->mode) || !tok_kind_valid(h->key.kind) ||
		    h->req.start >= h->req.end)
			return MM_EINVAL;
		for (size_t j = i + 1; j < n && tok_key_eq(&hs[j]->key, &h->key); j++)
			if (tok_range_overlap(hs[j]->req, h->req))
				return MM_EINVAL;
	}
	m->c = c;
	m->hs = hs;
	m->n = n;
	m->next = 0;
	m->done = done;
	m->arg = arg;
	for (size_t i = 0; i < n; i++) {
		hs[i]->done = multi_step;
		hs[i]->arg = m;
		hs[i]->multi = m;
	}
	return tok_acquire(c, hs[0]);
}
