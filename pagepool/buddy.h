/*
 * pagepool/buddy.h - a binary buddy allocator over the pool's memory, in
 * units of PP_MIN_BLOCK. Buffers are power-of-two runs of units (a
 * block, or the start of one: a fragment), so a freed run merges with its
 * buddy and one eviction of a block-sized buffer makes room for another
 * of the same size.
 *
 * The units in use are [0, limit) of at most max_units: a pool resized
 * online moves the limit. Past it nothing is handed out, a run released
 * there is dropped, and runs never merge across it. Allocated runs are
 * remembered (at their first unit), so raising the limit frees exactly
 * the units nobody holds.
 *
 * Not thread-safe: the pool calls it under its allocation lock.
 */
#ifndef MM_PAGEPOOL_BUDDY_H
#define MM_PAGEPOOL_BUDDY_H

#include <stdint.h>

#define PP_BUDDY_MAX_ORDER 8	/* 2^8 units of 64 KiB = 16 MiB */

struct pp_buddy {
	uint32_t limit, max_units;
	int32_t head[PP_BUDDY_MAX_ORDER + 1];	/* first free run of each order, -1 */
	int32_t *next, *prev;			/* free-list links per unit */
	int8_t *order;				/* order of a free run at its first unit, else -1 */
	int8_t *held;				/* order of an allocated run at its first unit, else -1 */
	uint32_t free_units;
};

/* Units [0, nunits) free, room to grow to <max_units>. */
int pp_buddy_init(struct pp_buddy *b, uint32_t nunits, uint32_t max_units);
void pp_buddy_free_all(struct pp_buddy *b);
/* First unit of a free run of 2^order units below the limit, or -1. */
int64_t pp_buddy_alloc(struct pp_buddy *b, unsigned order);
/* Give back a run from pp_buddy_alloc (dropped if it lies past the limit). */
void pp_buddy_release(struct pp_buddy *b, uint32_t unit, unsigned order);
/* Move the limit to <n> (<= max_units, a multiple of 2^PP_BUDDY_MAX_ORDER
 * unless it is max_units, so no run straddles it). Lowering it takes the
 * free runs past it out; the runs allocated there stay the caller's to
 * release (dropped then). Raising it frees every unit in the new range
 * that no allocated run covers. */
void pp_buddy_set_limit(struct pp_buddy *b, uint32_t n);
/* Whether an allocated run starts at or covers a unit in [lo, hi). */
int pp_buddy_held_in(const struct pp_buddy *b, uint32_t lo, uint32_t hi);

#endif
