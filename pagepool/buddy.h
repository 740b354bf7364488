/*
 * pagepool/buddy.h - a binary buddy allocator over the pool's memory, in
 * units of PP_MIN_BLOCK. Buffers are power-of-two runs of units (a
 * block, or the start of one: a fragment), so a freed run merges with its
 * buddy and one eviction of a block-sized buffer makes room for another
 * of the same size.
 *
 * Not thread-safe: the pool calls it under its allocation lock.
 */
#ifndef MM_PAGEPOOL_BUDDY_H
#define MM_PAGEPOOL_BUDDY_H

#include <stdint.h>

#define PP_BUDDY_MAX_ORDER 8	/* 2^8 units of 64 KiB = 16 MiB */

struct pp_buddy {
	uint32_t nunits;
	int32_t head[PP_BUDDY_MAX_ORDER + 1];	/* first free run of each order, -1 */
	int32_t *next, *prev;			/* free-list links per unit */
	int8_t *order;				/* order of a free run at its first unit, else -1 */
	uint32_t free_units;
};

int pp_buddy_init(struct pp_buddy *b, uint32_t nunits);
void pp_buddy_free_all(struct pp_buddy *b);
/* First unit of a free run of 2^order units, or -1. */
int64_t pp_buddy_alloc(struct pp_buddy *b, unsigned order);
void pp_buddy_release(struct pp_buddy *b, uint32_t unit, unsigned order);

#endif
