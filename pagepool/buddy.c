/* pagepool/buddy.c - see buddy.h. */
#include "pagepool/buddy.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static void push(struct pp_buddy *b, uint32_t u, unsigned o)
{
	b->order[u] = (int8_t)o;
	b->prev[u] = -1;
	b->next[u] = b->head[o];
	if (b->head[o] >= 0)
		b->prev[b->head[o]] = (int32_t)u;
	b->head[o] = (int32_t)u;
	b->free_units += 1u << o;
}

static void unlink_run(struct pp_buddy *b, uint32_t u)
{
	unsigned o = (unsigned)b->order[u];

	if (b->prev[u] >= 0)
		b->next[b->prev[u]] = b->next[u];
	else
		b->head[o] = b->next[u];
	if (b->next[u] >= 0)
		b->prev[b->next[u]] = b->prev[u];
	b->order[u] = -1;
	b->free_units -= 1u << o;
}

/* Free run <unit> of 2^<order>, merged with free buddies below the limit. */
static void free_run(struct pp_buddy *b, uint32_t unit, unsigned order)
{
	while (order < PP_BUDDY_MAX_ORDER) {
		uint32_t buddy = unit ^ (1u << order);

		if (buddy >= b->limit || buddy + (1u << order) > b->limit ||
		    b->order[buddy] != (int8_t)order)
			break;
		unlink_run(b, buddy);
		if (buddy < unit)
			unit = buddy;
		order++;
	}
	push(b, unit, order);
}

/* Free the units of [lo, hi) that no allocated run holds. */
static void free_range(struct pp_buddy *b, uint32_t lo, uint32_t hi)
{
	for (uint32_t u = lo; u < hi;) {
		unsigned o = PP_BUDDY_MAX_ORDER;

		if (b->held[u] >= 0) {
			u += 1u << b->held[u];
			continue;
		}
		/* the largest aligned run from u inside [lo, hi) with nothing held */
		for (;;) {
			int clear = (u & ((1u << o) - 1)) == 0 && u + (1u << o) <= hi;

			for (uint32_t k = u; clear && k < u + (1u << o); k++)
				clear = b->held[k] < 0;
			if (clear || o == 0)
				break;
			o--;
		}
		free_run(b, u, o);
		u += 1u << o;
	}
}

int pp_buddy_init(struct pp_buddy *b, uint32_t nunits, uint32_t max_units)
{
	memset(b, 0, sizeof(*b));
	if (max_units < nunits)
		max_units = nunits;
	b->max_units = max_units;
	b->next = malloc((max_units + 1) * sizeof(*b->next));
	b->prev = malloc((max_units + 1) * sizeof(*b->prev));
	b->order = malloc(max_units + 1);
	b->held = malloc(max_units + 1);
	if (!b->next || !b->prev || !b->order || !b->held) {
		pp_buddy_free_all(b);
		return MM_ENOMEM;
	}
	for (unsigned o = 0; o <= PP_BUDDY_MAX_ORDER; o++)
		b->head[o] = -1;
	memset(b->order, -1, max_units + 1);
	memset(b->held, -1, max_units + 1);
	b->limit = nunits;
	free_range(b, 0, nunits);
	return MM_OK;
}

void pp_buddy_free_all(struct pp_buddy *b)
{
	free(b->next);
	free(b->prev);
	free(b->order);
	free(b->held);
	b->next = b->prev = NULL;
	b->order = b->held = NULL;
}

int64_t pp_buddy_alloc(struct pp_buddy *b, unsigned order)
{
	unsigned o = order;
	uint32_t u;

	while (o <= PP_BUDDY_MAX_ORDER && b->head[o] < 0)
		o++;
	if (o > PP_BUDDY_MAX_ORDER)
		return -1;
	u = (uint32_t)b->head[o];
	unlink_run(b, u);
	/* split down, returning the upper halves */
	while (o > order) {
		o--;
		push(b, u + (1u << o), o);
	}
	b->held[u] = (int8_t)order;
	return u;
}

void pp_buddy_release(struct pp_buddy *b, uint32_t unit, unsigned order)
{
	b->held[unit] = -1;
	if (unit >= b->limit)
		return;		/* past a lowered limit: the memory is going away */
	free_run(b, unit, order);
}

void pp_buddy_set_limit(struct pp_buddy *b, uint32_t n)
{
	uint32_t old = b->limit;

	if (n > b->max_units)
		n = b->max_units;
	if (n < old) {
		for (unsigned o = 0; o <= PP_BUDDY_MAX_ORDER; o++) {
			int32_t u = b->head[o];

			while (u >= 0) {
				int32_t nx = b->next[u];

				if ((uint32_t)u >= n)
					unlink_run(b, (uint32_t)u);
				u = nx;
			}
		}
		b->limit = n;
	} else if (n > old) {
		b->limit = n;
		free_range(b, old, n);
	}
}

int pp_buddy_held_in(const struct pp_buddy *b, uint32_t lo, uint32_t hi)
{
	for (uint32_t u = 0; u < hi && u < b->max_units;) {
		if (b->held[u] >= 0) {
			if (u + (1u << b->held[u]) > lo)
				return 1;
			u += 1u << b->held[u];
		} else {
			u++;
		}
	}
	return 0;
}
