/*
 * pagepool/flush.c - pp_flush, pp_invalidate, pp_drop_inode, pp_drop_fs
 * (README.md rules 7 and 8): scans over the descriptors that write a
 * range in batches, then take its buffers out once nobody pins them.
 *
 * Map of this file:
 *   1. flush: flush_claim, pp_flush_scan, pp_flush_ranges, pp_flush
 *   2. drop: drop_scan, pp_invalidate, pp_drop_inode, pp_drop_fs
 *   3. discard: pp_discard (dirty or not, never written)
 */
#include "pagepool/pagepool_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* A range this short is looked up block by block in the table instead of
 * scanning every descriptor (a file system frees or flushes one block). */
#define PP_SHORT_RANGE 16u

/* Put pinned <b> into <bt>, writing the batch first if <b> must be waited
 * for (held exclusively, or being written) or the batch is full. */
static void flush_claim(struct wb_batch *bt, struct pp_buf *b)
{
	switch (pp_wb_add(bt, b, false, true)) {
	case WB_ADDED:
		break;
	case WB_SKIPPED:
		unpin(b);
		break;
	case WB_BUSY:
		/* wait for it holding no other buffer */
		pp_wb_write(bt);
		if (pp_wb_add(bt, b, true, true) != WB_ADDED)
			unpin(b);
		break;
	}
	if (bt->n == bt->cap)
		pp_wb_write(bt);
}

/* Write every dirty buffer in the range, in batches, and wait. */
void pp_flush_scan(pp_pool *p, uint32_t fs, uint64_t ino, bool any_ino, uint64_t lo,
		   uint64_t hi)
{
	struct wb_batch *bt;

	if (!any_ino && !ino_cached(p, fs, ino))
		return;
	if (!any_ino)
		ino_clamp(p, fs, ino, &hi);
	if (!any_ino && lo >= hi)
		return;
	if (!any_ino && hi - lo <= PP_SHORT_RANGE) {
		for (uint64_t blk = lo; blk < hi; blk++) {
			struct pp_buf *b = pp_lookup_pin(p, &(struct pp_tag){fs, ino, blk});

			if (b)
				pp_write_back(p, b);
		}
		return;
	}
	bt = pp_wb_batch_new(p, WB_BATCH);

	for (uint32_t i = 0, n = ndesc_of(p); i < n; i++) {
		struct pp_buf *b = desc_at(p, i);

		if (!pp_pin_if(p, b, fs, ino, any_ino, lo, hi))
			continue;
		if (!bt) {
			pp_write_back(p, b);
			continue;
		}
		flush_claim(bt, b);
	}
	if (bt) {
		pp_wb_write(bt);
		pp_wb_batch_free(bt);
	}
}

/*
 * pp_flush_ranges' claim: as flush_claim, but a buffer held exclusively
 * or being written is waited for only while it is dirty or its write is
 * in flight, polling, never blocking on its content lock: a clean buffer
 * may be held by a thread that waits for this caller (a file system's
 * log write: a fragment moving holds its buffer, clean, while its
 * allocation forces the log).
 */
static void ranges_claim(struct wb_batch *bt, struct pp_buf *b)
{
	for (;;) {
		enum wb_claim c = pp_wb_add(bt, b, false, true);
		bool busy;

		if (c == WB_ADDED)
			break;
		pthread_mutex_lock(&b->mu);
		busy = c == WB_BUSY && (b->dirty || b->writing);
		pthread_mutex_unlock(&b->mu);
		if (!busy) {
			unpin(b);
			break;
		}
		/* hold nothing while waiting */
		pp_wb_write(bt);
		mm_sleep_ms(1);
	}
	if (bt->n == bt->cap)
		pp_wb_write(bt);
}

void pp_flush_ranges(pp_pool *p, uint32_t fs, const struct pp_range *r, size_t n)
{
	struct wb_batch *bt;

	if (!fs_get(p, fs) || !n)
		return;
	add(&p->flushes, 1);
	/* larger than write-behind's: one wait for many small files */
	bt = pp_wb_batch_new(p, 8 * WB_BATCH);
	for (size_t i = 0; i < n; i++) {
		if (!ino_cached(p, fs, r[i].ino))
			continue;
		if (!bt) {
			/* no memory for a batch: blocking, block by block */
			pp_flush_scan(p, fs, r[i].ino, false, r[i].lo, r[i].hi);
			continue;
		}
		for (uint64_t blk = r[i].lo; blk < r[i].hi; blk++) {
			struct pp_buf *b = pp_lookup_pin(p, &(struct pp_tag){fs, r[i].ino, blk});

			if (b)
				ranges_claim(bt, b);
		}
	}
	if (bt) {
		pp_wb_write(bt);
		pp_wb_batch_free(bt);
	}
}

int pp_flush(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	add(&p->flushes, 1);
	pp_flush_scan(p, fs, ino, false, blk_lo, blk_hi);
	return pp_error_take(p, fs, ino);
}

/* Flush, then take every matching buffer out once nobody pins it. */
int pp_fs_pause(pp_pool *p, uint32_t fs, bool pause)
{
	struct pp_fs *f = fs_get(p, fs);

	if (!f)
		return MM_ENOENT;
	atomic_store(&f->paused, pause);
	return MM_OK;
}

int pp_flush_fs(pp_pool *p, uint32_t fs)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	add(&p->flushes, 1);
	pp_flush_scan(p, fs, 0, true, 0, UINT64_MAX);
	return MM_OK;
}

/*
 * Take <b> out if it holds a block of the range once nobody pins it and
 * no read or write of it is in flight. Dirty, it is written first (and
 * waited for), or with <discard> its dirty bytes are forgotten unwritten
 * (freed blocks).
 */
static void drop_one(pp_pool *p, struct pp_buf *b, uint32_t fs, uint64_t ino, bool any_ino,
		     uint64_t lo, uint64_t hi, bool discard)
{
	for (;;) {
		struct part *pt = pp_lock_home(p, b);
		bool gone = false, retry = false, was_dirty = false;

		if (!pt)
			return;
		if (in_range(&b->tag, fs, ino, any_ino, lo, hi)) {
			pthread_mutex_lock(&b->mu);
			if (atomic_load_explicit(&b->pins, memory_order_acquire) == 0 &&
			    (!b->dirty || discard) && !b->reading && !b->writing) {
				if (b->dirty) {
					add(&p->dirty_bytes,
					    -(int64_t)((uint64_t)__builtin_popcount(b->dirty) * b->fs->sub));
					add(&p->buffers_dirty, -1);
					b->dirty = 0;
					b->lsn = 0;
					set_dirtyish(b, false);
					was_dirty = true;
				}
				pp_unhash_locked(p, b);
				gone = true;
			} else {
				retry = true;
			}
			pthread_mutex_unlock(&b->mu);
		}
		pthread_mutex_unlock(&pt->mu);
		if (gone) {
			pthread_mutex_lock(&p->alloc_mu);
			pp_free_buf_locked(p, b);
			pthread_cond_broadcast(&p->space);
			pthread_mutex_unlock(&p->alloc_mu);
			if (was_dirty) {
				pthread_mutex_lock(&p->wb_mu);
				pthread_cond_broadcast(&p->wb_clean);
				pthread_mutex_unlock(&p->wb_mu);
			}
			return;
		}
		if (!retry)
			return;
		/* pinned or dirtied again meanwhile: write it, wait a moment */
		if (!discard && pp_pin_if(p, b, fs, ino, any_ino, lo, hi))
			pp_write_back(p, b);
		mm_sleep_ms(1);
	}
}

static int drop_scan(pp_pool *p, uint32_t fs, uint64_t ino, bool any_ino, uint64_t lo,
		     uint64_t hi, bool discard)
{
	if (!discard)
		pp_flush_scan(p, fs, ino, any_ino, lo, hi);
	if (!any_ino && !ino_cached(p, fs, ino))
		return MM_OK;
	if (!any_ino)
		ino_clamp(p, fs, ino, &hi);
	if (!any_ino && lo >= hi)
		return MM_OK;
	if (!any_ino && hi - lo <= PP_SHORT_RANGE) {
		for (uint64_t blk = lo; blk < hi; blk++) {
			struct pp_buf *b = pp_lookup_pin(p, &(struct pp_tag){fs, ino, blk});

			if (b) {
				/* descriptors live as long as the pool: the pointer
				 * stays good unpinned; drop_one checks the tag again */
				unpin(b);
				drop_one(p, b, fs, ino, any_ino, lo, hi, discard);
			}
		}
		return MM_OK;
	}
	for (uint32_t i = 0, n = ndesc_of(p); i < n; i++)
		drop_one(p, desc_at(p, i), fs, ino, any_ino, lo, hi, discard);
	return MM_OK;
}

int pp_invalidate(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, ino, false, blk_lo, blk_hi, false);
}

int pp_drop_inode(pp_pool *p, uint32_t fs, uint64_t ino)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, ino, false, 0, UINT64_MAX, false);
}

int pp_drop_fs(pp_pool *p, uint32_t fs)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, 0, true, 0, UINT64_MAX, false);
}

/* ---- 3. discard ---- */

int pp_discard(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, ino, false, blk_lo, blk_hi, true);
}
