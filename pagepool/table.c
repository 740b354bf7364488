/*
 * pagepool/table.c - the buffer table: which descriptor holds which tag,
 * and pins (README.md rules 2 and 3).
 *
 * The table is NPART hash partitions, each a mutex over chains of
 * descriptors. A pin is taken only under the partition's lock, so a thread
 * that holds it and sees no pins may unhash the buffer (evict.c, flush.c);
 * pins are dropped without it (unpin() in pagepool_int.h).
 *
 * Map of this file:
 *   1. hashing: tag_hash, part_of, pp_unhash_locked, pp_lock_home
 *   2. pinning: pp_pin_buf (find or make), pp_is_cached (a look, no pin),
 *      pp_pin_hashed and pp_pin_if (scans over descriptors)
 */
#include "pagepool/pagepool_int.h"

#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static uint32_t tag_hash(const struct pp_tag *t)
{
	uint64_t h = t->ino * 0x9E3779B97F4A7C15ull ^ (t->blk + 0x632BE59BD9B4E019ull) *
		     0xBF58476D1CE4E5B9ull ^ t->fs;

	h ^= h >> 31;
	return (uint32_t)(h ^ (h >> 17));
}

static struct part *part_of(pp_pool *p, const struct pp_tag *t, uint32_t *bucket)
{
	uint32_t h = tag_hash(t);

	*bucket = (h / NPART) & (p->nbucket - 1);
	return &p->part[h % NPART];
}

/* With the part lock and b->mu: take <b> out of its chain. Only an
 * unpinned, clean, idle buffer leaves the table (rules 3 and 4). */
void pp_unhash_locked(pp_pool *p, struct pp_buf *b)
{
	uint32_t bk;
	struct part *pt = part_of(p, &b->tag, &bk);
	struct pp_buf **pp;

	MM_ASSERT_HELD(&pt->mu);
	MM_ASSERT_HELD(&b->mu);
	MM_BUG_ON(b, !is_hashed(b) || pins_of(b) != 0 || b->dirty || b->reading || b->writing);
	for (pp = &pt->bucket[bk]; *pp && *pp != b; pp = &(*pp)->hnext)
		;
	MM_BUG_ON(b, *pp != b);		/* hashed, yet not in its chain */
	*pp = b->hnext;
	b->hnext = NULL;
	atomic_fetch_sub_explicit(ino_slot(p, b->tag.fs, b->tag.ino), 1, memory_order_relaxed);
	atomic_store_explicit(&b->hashed, false, memory_order_release);
}

/*
 * Lock the partition <b> is hashed in and return it, or NULL if it is not
 * hashed. <hashed> is read before <home> (acquire): hashing stores home
 * first, so a buffer seen hashed is seen with its home, and while we hold
 * that partition's lock it stays there with a stable tag.
 */
struct part *pp_lock_home(pp_pool *p, struct pp_buf *b)
{
	for (;;) {
		struct part *pt;

		if (!is_hashed(b))
			return NULL;
		pt = &p->part[atomic_load_explicit(&b->home, memory_order_relaxed)];
		pthread_mutex_lock(&pt->mu);
		if (is_hashed(b) && &p->part[atomic_load_explicit(&b->home, memory_order_relaxed)] == pt)
			return pt;
		pthread_mutex_unlock(&pt->mu);
	}
}

/* Pinned buffer for <t>, made if absent: then as large as the block, or
 * as the part of it the file uses (pp_map.len) if that is less, but at
 * least [0, end). */
struct pp_buf *pp_pin_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, bool bump,
			  uint8_t new_usage, uint32_t end, bool *hit)
{
	uint32_t bk, want = f->bsize;
	struct part *pt = part_of(p, t, &bk);
	struct pp_buf *b, *nb;
	struct pp_map m = {0};
	int rc;

	pthread_mutex_lock(&pt->mu);
	for (b = pt->bucket[bk]; b && !tag_eq(&b->tag, t); b = b->hnext)
		;
	if (b) {
		pin_locked(pt, b);
		if (bump && atomic_load_explicit(&b->usage, memory_order_relaxed) < 5)
			atomic_fetch_add_explicit(&b->usage, 1, memory_order_relaxed);
		pthread_mutex_unlock(&pt->mu);
		*hit = true;
		return b;
	}
	pthread_mutex_unlock(&pt->mu);
	rc = f->ops.map(f->arg, t, &m);
	if ((rc == MM_OK || rc == MM_ENOENT) && m.len > 0 && m.len < f->bsize)
		want = m.len < end ? end : m.len;
	nb = pp_alloc_buf(p, f, t, new_usage, order_for(f, want));
	pthread_mutex_lock(&pt->mu);
	for (b = pt->bucket[bk]; b && !tag_eq(&b->tag, t); b = b->hnext)
		;
	if (b) {
		/* another thread made it meanwhile */
		pin_locked(pt, b);
		pthread_mutex_unlock(&pt->mu);
		pp_release_unused(p, nb);
		*hit = true;
		return b;
	}
	MM_BUG_ON(nb, is_hashed(nb) || pins_of(nb) != 0);
	ino_end_raise(p, &nb->tag);
	atomic_store_explicit(&nb->pins, 1, memory_order_relaxed);
	nb->hnext = pt->bucket[bk];
	pt->bucket[bk] = nb;
	atomic_store_explicit(&nb->home, (uint8_t)(pt - p->part), memory_order_relaxed);
	atomic_fetch_add_explicit(ino_slot(p, nb->tag.fs, nb->tag.ino), 1, memory_order_release);
	atomic_store_explicit(&nb->hashed, true, memory_order_release);
	pthread_mutex_unlock(&pt->mu);
	*hit = false;
	return nb;
}

/* [off, off+len) of block <t> is in the pool already, or being read. */
bool pp_is_cached(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, uint32_t off,
		  uint32_t len)
{
	uint32_t bk, need = sub_mask(f, off, len);
	struct part *pt = part_of(p, t, &bk);
	struct pp_buf *b;
	bool in = false;

	pthread_mutex_lock(&pt->mu);
	for (b = pt->bucket[bk]; b && !tag_eq(&b->tag, t); b = b->hnext)
		;
	if (b) {
		pthread_mutex_lock(&b->mu);
		in = b->reading || (need & ~b->valid) == 0;
		pthread_mutex_unlock(&b->mu);
	}
	pthread_mutex_unlock(&pt->mu);
	return in;
}

/* The descriptor holding <t>, pinned, or NULL if none does. */
struct pp_buf *pp_lookup_pin(pp_pool *p, const struct pp_tag *t)
{
	uint32_t bk;
	struct part *pt = part_of(p, t, &bk);
	struct pp_buf *b;

	pthread_mutex_lock(&pt->mu);
	for (b = pt->bucket[bk]; b && !tag_eq(&b->tag, t); b = b->hnext)
		;
	if (b)
		pin_locked(pt, b);
	pthread_mutex_unlock(&pt->mu);
	return b;
}

/* Pin descriptor <b> if it is hashed, whatever its tag. */
bool pp_pin_hashed(pp_pool *p, struct pp_buf *b)
{
	struct part *pt = pp_lock_home(p, b);

	if (!pt)
		return false;
	pin_locked(pt, b);
	pthread_mutex_unlock(&pt->mu);
	return true;
}

/* Pin descriptor <b> if it is hashed and matches; false otherwise. */
bool pp_pin_if(pp_pool *p, struct pp_buf *b, uint32_t fs, uint64_t ino, bool any_ino,
	       uint64_t lo, uint64_t hi)
{
	struct part *pt = pp_lock_home(p, b);
	bool ok;

	if (!pt)
		return false;
	ok = in_range(&b->tag, fs, ino, any_ino, lo, hi);
	if (ok)
		pin_locked(pt, b);
	pthread_mutex_unlock(&pt->mu);
	return ok;
}
