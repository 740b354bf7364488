/* pagepool/buddy.c - see buddy.h. */
#include "pagepool/buddy.h"

#include <stdlib.h>

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

int pp_buddy_init(struct pp_buddy *b, uint32_t nunits)
{
	b->nunits = nunits;
	b->free_units = 0;
	b->next = malloc((nunits + 1) * sizeof(*b->next));
	b->prev = malloc((nunits + 1) * sizeof(*b->prev));
	b->order = malloc(nunits + 1);
	if (!b->next || !b->prev || !b->order) {
		pp_buddy_free_all(b);
		return MM_ENOMEM;
	}
	for (unsigned o = 0; o <= PP_BUDDY_MAX_ORDER; o++)
		b->head[o] = -1;
	for (uint32_t u = 0; u < nunits; u++)
		b->order[u] = -1;
	/* the largest aligned runs that fit, left to right */
	for (uint32_t u = 0; u < nunits;) {
		unsigned o = PP_BUDDY_MAX_ORDER;

		while (o > 0 && ((u & ((1u << o) - 1)) != 0 || u + (1u << o) > nunits))
			o--;
		push(b, u, o);
		u += 1u << o;
	}
	return MM_OK;
}

void pp_buddy_free_all(struct pp_buddy *b)
{
	free(b->next);
	free(b->prev);
	free(b->order);
	b->next = b->prev = NULL;
	b->order = NULL;
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
	return u;
}

void pp_buddy_release(struct pp_buddy *b, uint32_t unit, unsigned order)
{
	while (order < PP_BUDDY_MAX_ORDER) {
		uint32_t buddy = unit ^ (1u << order);

		if (buddy >= b->nunits || buddy + (1u << order) > b->nunits ||
		    b->order[buddy] != (int8_t)order)
			break;
		unlink_run(b, buddy);
		if (buddy < unit)
			unit = buddy;
		order++;
	}
	push(b, unit, order);
}
