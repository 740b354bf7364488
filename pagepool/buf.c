/*
 * pagepool/buf.c - the calls on one buffer (pagepool.h): pp_get and its
 * parts, pp_mark_dirty, pp_lock / pp_unlock / pp_unpin / pp_release, and
 * the throttling of writers past the dirty limit (README.md rules 2, 9
 * and 10).
 *
 * Map of this file:
 *   1. make_valid: reading the missing subblocks under the content lock
 *   2. pp_get_buf, lock_buf, pp_get
 *   3. pp_mark_dirty
 *   4. pp_lock, pp_unpin, unlock_buf (the throttle), pp_release, pp_unlock
 */
#include "pagepool/pagepool_int.h"

#include <inttypes.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* Make the subblocks of <need> valid, reading what is missing, and wait
 * for a read in flight (someone else's, or a prefetch's without a content
 * lock: rule 11). The caller holds the content lock (either mode). With
 * <take_pf>, a real read: hand back and clear the prefetch mark in the
 * same critical section (the hit path takes b->mu once). */
static int make_valid(pp_pool *p, struct pp_buf *b, uint32_t need, bool *waited,
		      uint32_t *take_pf)
{
	struct pp_read rd;
	uint32_t missing;
	int rc = 0;

	MM_ASSERT(content_locked(b));
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (b->reading) {
			*waited = true;
			pthread_cond_wait(&b->cv, &b->mu);
		}
		missing = need & ~b->valid;
		if (!missing)
			break;
		*waited = true;
		b->reading = true;
		pthread_mutex_unlock(&b->mu);
		rd = (struct pp_read){.p = p, .b = b, .mask = missing};
		pp_read_start(&rd);
		pthread_mutex_lock(&b->mu);
		while (!rd.done)
			pthread_cond_wait(&b->cv, &b->mu);
		rc = rd.rc;
		if (rc)
			break;
	}
	if (!rc && take_pf) {
		*take_pf = b->pf_id;
		b->pf_id = 0;
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static int lock_buf(pp_pool *p, struct pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode,
		    bool bump, bool hit, void **data, bool *waited);

/*
 * pp_get with the stream's details: <bump> raises the clock usage on a
 * hit (not for sequential readers), *waited says the caller had to wait
 * for a read.
 */
int pp_get_buf(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len,
	       enum pp_mode mode, bool bump, pp_buf **out, void **data, bool *waited)
{
	struct pp_fs *f = fs_get(p, t->fs);
	struct pp_buf *b;
	bool hit;
	int rc;

	*out = NULL;
	*data = NULL;
	*waited = false;
	if (!f)
		return MM_ENOENT;
	if (len == 0 || off >= f->bsize || len > f->bsize - off)
		return MM_EINVAL;
	/* scan resistance: what a sequential reader brings in goes first */
	b = pp_pin_buf(p, f, t, bump, bump ? 1 : 0, off + len, &hit);
	rc = lock_buf(p, b, off, len, mode, bump, hit, data, waited);
	if (rc) {
		unpin(b);
		return rc;
	}
	*out = b;
	return MM_OK;
}

/*
 * Content-lock pinned buffer <b> in <mode> with [off, off+len) valid (the
 * rest of pp_get_buf; <hit>: the buffer was found, not made). On an error
 * the lock is dropped and the pin kept.
 */
static int lock_buf(pp_pool *p, struct pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode,
		    bool bump, bool hit, void **data, bool *waited)
{
	struct pp_fs *f = b->fs;
	uint32_t need, edges = 0, was_pf = 0;
	int rc;

	MM_BUG_ON(b, pins_of(b) <= 0);	/* rule 2: a pin before the content lock */
	*waited = false;
	for (;;) {
		if (cap_of(b) < off + len)
			pp_grow_buf(p, b, off + len);
		if (mode == PP_READ)
			pthread_rwlock_rdlock(&b->content);
		else
			pthread_rwlock_wrlock(&b->content);
		if (cap_of(b) >= off + len)
			break;
		pthread_rwlock_unlock(&b->content);
	}
	need = sub_mask(f, off, len);
	if (mode == PP_OVERWRITE) {
		/* only subblocks the caller covers partly need their old bytes */
		if (off % f->sub)
			edges |= sub_mask(f, off, 1);
		if ((off + len) % f->sub)
			edges |= sub_mask(f, off + len - 1, 1);
		rc = edges ? make_valid(p, b, edges, waited, NULL) : MM_OK;
		if (!rc) {
			pthread_mutex_lock(&b->mu);
			/* a prefetch read in flight lands in the same memory
			 * (rule 11); none starts while we hold the lock */
			while (b->reading)
				pthread_cond_wait(&b->cv, &b->mu);
			b->valid |= need;
			was_pf = b->pf_id;
			b->pf_id = 0;
			pthread_mutex_unlock(&b->mu);
		}
	} else {
		rc = make_valid(p, b, need, waited, &was_pf);
		hit = hit && !*waited;
	}
	add(hit ? &p->hits : &p->misses, 1);
	if (rc) {
		pthread_rwlock_unlock(&b->content);
		return rc;
	}
	/* read once by a sequential reader: first to go now */
	if (was_pf && !bump)
		atomic_store_explicit(&b->usage, 0, memory_order_relaxed);
	if (was_pf)
		pp_stream_note(p, was_pf, true);
	*data = b->data;
	return MM_OK;
}

int pp_get(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len, enum pp_mode mode,
	   pp_buf **out, void **data)
{
	bool waited;

	return pp_get_buf(p, t, off, len, mode, true, out, data, &waited);
}

bool pp_checked(pp_buf *b)
{
	return atomic_load(&b->checked);
}

void pp_set_checked(pp_buf *b)
{
	atomic_store(&b->checked, true);
}

void pp_mark_dirty(pp_buf *b, uint32_t off, uint32_t len, uint64_t lsn)
{
	struct pp_fs *f = b->fs;
	uint32_t mask, added;

	if (len == 0 || off >= f->bsize || len > f->bsize - off)
		return;
	if (off + len > cap_of(b)) {
		/* the caller wrote past what it asked pp_get for */
		mm_error(SUB, "pp_mark_dirty of fs %u inode %" PRIu64 " block %" PRIu64 " bytes %u-%u: "
			 "past the %u bytes held (ignored beyond)", b->tag.fs, b->tag.ino, b->tag.blk,
			 off, off + len, cap_of(b));
		if (off >= cap_of(b))
			return;
		len = cap_of(b) - off;
	}
	mask = sub_mask(f, off, len);
	MM_ASSERT(content_held_excl(b));	/* rule 2 */
	pthread_mutex_lock(&b->mu);
	MM_BUG_ON(b, b->reading);	/* changed under a read in flight (rule 11) */
	added = mask & ~b->dirty;
	if (!b->dirty && added)
		add(&b->p->buffers_dirty, 1);
	if (mask)
		set_dirtyish(b, true);
	b->dirty |= mask;
	b->valid |= mask;
	b->marked = true;
	if (lsn > b->lsn)
		b->lsn = lsn;
	MM_ASSERT(buf_ok_locked(b));
	pthread_mutex_unlock(&b->mu);
	add(&b->p->dirty_bytes, (int64_t)((uint64_t)__builtin_popcount(added) * f->sub));
}

int pp_lock(pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode, void **data)
{
	bool waited;

	*data = NULL;
	if (len == 0 || off >= b->fs->bsize || len > b->fs->bsize - off)
		return MM_EINVAL;
	return lock_buf(b->p, b, off, len, mode, true, true, data, &waited);
}

void pp_unpin(pp_buf *b)
{
	unpin(b);
}

/* Drop the content lock of <b> (and its pin if <drop_pin>), then throttle
 * a thread that dirtied it. */
static void unlock_buf(pp_buf *b, bool drop_pin)
{
	pp_pool *p = b->p;
	bool dirtied, paused;

	/* only an exclusive holder sets it, so a shared holder reads false */
	dirtied = b->marked;
	if (dirtied)
		b->marked = false;
	/* no write-behind would end the wait of a paused file system's
	 * thread: it bounds what it dirties itself (pp_fs_pause) */
	paused = dirtied && atomic_load_explicit(&b->fs->paused, memory_order_relaxed);
	pthread_rwlock_unlock(&b->content);
	if (drop_pin)
		unpin(b);
	if (!dirtied || paused)
		return;
	/* throttle writers past the dirty limit, holding no content lock: a
	 * pin does not stop write-behind, so it can clean what we dirtied */
	if (ld(&p->dirty_bytes) > dirty_limit(p) / 2)
		pp_wb_kick(p);
	if (ld(&p->dirty_bytes) > dirty_limit(p)) {
		add(&p->throttle_waits, 1);
		pthread_mutex_lock(&p->wb_mu);
		while (ld(&p->dirty_bytes) > dirty_limit(p) && !p->wb_stop) {
			pthread_cond_broadcast(&p->wb_kick);
			mm_cond_wait_ms(&p->wb_clean, &p->wb_mu, 50);
		}
		pthread_mutex_unlock(&p->wb_mu);
	}
}

void pp_release(pp_buf *b)
{
	unlock_buf(b, true);
}

void pp_unlock(pp_buf *b)
{
	unlock_buf(b, false);
}
