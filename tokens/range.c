/*
 * tokens/range.c - range lists: who holds which mode over which bytes of
 * one object (tok_int.h). The server keeps every node's records of an
 * object in one list, a client its own; both change them only through
 * tok_rl_set (a grant) and tok_rl_keep (a relinquish), so a client's list
 * stays the server's records of that node, applied in the same order.
 *
 *   1. rewriting one node's records: rl_rewrite, tok_rl_set, tok_rl_keep
 *   2. questions: mode over, covers, conflicts, extend (the grant range)
 *   3. tok_rl_check (tests and MM_ASSERT)
 */
#include "tokens/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"

/* ---- 1. rewriting ---- */

struct piece {
	uint64_t start, end;
	uint8_t mode;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Insert <r> into the list sorted by (start, node). */
static void rl_insert(struct tok_rec **head, struct tok_rec *r)
{
	struct tok_rec **pp = head;

	while (*pp && ((*pp)->start < r->start ||
		       ((*pp)->start == r->start && (*pp)->node < r->node)))
		pp = &(*pp)->next;
	r->next = *pp;
	*pp = r;
}

/*
 * <node>'s records over <r> become keep(mode, <want>) (set == false), or
 * all of <r> becomes <want> (set == true). Allocates everything it may
 * need before touching the list, so MM_ENOMEM leaves it as it was.
 */
static int rl_rewrite(struct tok_rec **head, uint32_t node, struct tok_range r,
		      enum tok_mode want, bool set, long *nrec)
{
	struct tok_rec *spare[2] = {NULL, NULL}, *mine = NULL, **pp, *x;
	struct piece small[16], *p = small;
	size_t n = 0, np = 0, i, out;

	for (x = *head; x; x = x->next)
		n += x->node == node;
	if (n == 0 && !set)
		return MM_OK;
	if (n + 3 > sizeof(small) / sizeof(small[0]))
		p = malloc((n + 3) * sizeof(*p));
	spare[0] = malloc(sizeof(struct tok_rec));
	spare[1] = malloc(sizeof(struct tok_rec));
	if (!p || !spare[0] || !spare[1]) {
		if (p != small)
			free(p);
		free(spare[0]);
		free(spare[1]);
		return MM_ENOMEM;
	}
	/* take the node's records off the list, cut them at r */
	for (pp = head; *pp;) {
		x = *pp;
		if (x->node != node) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		x->next = mine;
		mine = x;
		if (x->start < r.start)
			p[np++] = (struct piece){x->start, x->end < r.start ? x->end : r.start, x->mode};
		if (x->end > r.end)
			p[np++] = (struct piece){x->start > r.end ? x->start : r.end, x->end, x->mode};
		if (!set && tok_range_overlap((struct tok_range){x->start, x->end}, r))
			p[np++] = (struct piece){x->start > r.start ? x->start : r.start,
						 x->end < r.end ? x->end : r.end,
						 (uint8_t)tok_mode_keep(x->mode, want)};
	}
	if (set)
		p[np++] = (struct piece){r.start, r.end, (uint8_t)want};
	MM_ASSERT(np <= n + 3);
	qsort(p, np, sizeof(*p), piece_cmp);
	/* merge touching pieces of one mode, drop TOK_NONE */
	for (i = 0, out = 0; i < np; i++) {
		if (p[i].mode == TOK_NONE)
			continue;
		if (out && p[out - 1].end == p[i].start && p[out - 1].mode == p[i].mode)
			p[out - 1].end = p[i].end;
		else
			p[out++] = p[i];
	}
	/* put them back, reusing records */
	spare[0]->next = spare[1];
	spare[1]->next = mine;
	mine = spare[0];
	*nrec -= (long)n;
	for (i = 0; i < out; i++) {
		x = mine;
		mine = x->next;
		x->start = p[i].start;
		x->end = p[i].end;
		x->mode = p[i].mode;
		x->node = node;
		x->flags = 0;
		rl_insert(head, x);
		(*nrec)++;
	}
	while (mine) {
		x = mine->next;
		free(mine);
		mine = x;
	}
	if (p != small)
		free(p);
	return MM_OK;
}

int tok_rl_set(struct tok_rec **head, uint32_t node, struct tok_range r, enum tok_mode mode,
	       long *nrec)
{
	return rl_rewrite(head, node, r, mode, true, nrec);
}

int tok_rl_keep(struct tok_rec **head, uint32_t node, struct tok_range r, enum tok_mode want,
		long *nrec)
{
	return rl_rewrite(head, node, r, want, false, nrec);
}

void tok_rl_free(struct tok_rec **head, long *nrec)
{
	struct tok_rec *x, *next;

	for (x = *head; x; x = next) {
		next = x->next;
		free(x);
		(*nrec)--;
	}
	*head = NULL;
}

/* ---- 2. questions ---- */

static inline bool rec_overlaps(const struct tok_rec *x, struct tok_range r)
{
	return x->start < r.end && r.start < x->end;
}

enum tok_mode tok_rl_mode_over(const struct tok_rec *head, uint32_t node, struct tok_range r)
{
	enum tok_mode m = TOK_NONE;

	for (; head; head = head->next)
		if (head->node == node && rec_overlaps(head, r))
			m = tok_mode_join(m, head->mode);
	return m;
}

bool tok_rl_covers(const struct tok_rec *head, uint32_t node, struct tok_range r,
		   enum tok_mode want)
{
	uint64_t at = r.start;

	/* sorted by start: the node's records must tile r from its start */
	for (; head && at < r.end; head = head->next) {
		if (head->node != node || head->end <= at)
			continue;
		if (head->start > at)
			return false;
		if (!tok_mode_covers(head->mode, want))
			return false;
		at = head->end;
	}
	return at >= r.end;
}

bool tok_rl_conflicts(const struct tok_rec *head, uint32_t node, struct tok_range r,
		      enum tok_mode want)
{
	for (; head; head = head->next)
		if (head->node == node && rec_overlaps(head, r) && tok_modes_conflict(head->mode, want))
			return true;
	return false;
}

struct tok_range tok_rl_extend(const struct tok_rec *head, uint32_t node, struct tok_range req,
			       struct tok_range des, enum tok_mode mode)
{
	struct tok_range g = des;

	for (; head; head = head->next) {
		bool blocks = head->node == node ? !tok_mode_covers(mode, head->mode)
						 : tok_modes_conflict(head->mode, mode);

		if (!blocks || !rec_overlaps(head, des))
			continue;
		MM_BUG_ON(head, rec_overlaps(head, req));
		if (head->end <= req.start) {
			if (head->end > g.start)
				g.start = head->end;
		} else if (head->start < g.end) {
			g.end = head->start;
		}
	}
	return g;
}

/* ---- 3. check ---- */

bool tok_rl_check(const struct tok_rec *head, char *why, size_t whysz)
{
	const struct tok_rec *a, *b;

	for (a = head; a; a = a->next) {
		if (a->start >= a->end || !tok_mode_valid(a->mode)) {
			snprintf(why, whysz, "bad record node %u [%" PRIu64 ",%" PRIu64 ") mode %u",
				 a->node, a->start, a->end, a->mode);
			return false;
		}
		if (a->next && (a->next->start < a->start ||
				(a->next->start == a->start && a->next->node <= a->node))) {
			snprintf(why, whysz, "not sorted at node %u start %" PRIu64, a->node, a->start);
			return false;
		}
		for (b = a->next; b; b = b->next) {
			if (b->node != a->node)
				continue;
			if (b->start < a->end) {
				snprintf(why, whysz, "node %u overlaps itself at %" PRIu64, a->node,
					 b->start);
				return false;
			}
			if (b->start == a->end && b->mode == a->mode) {
				snprintf(why, whysz, "node %u: unmerged %s pieces at %" PRIu64, a->node,
					 tok_mode_name(a->mode), b->start);
				return false;
			}
		}
	}
	return true;
}
