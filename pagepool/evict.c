/*
 * pagepool/evict.c - buffer memory and victim selection: descriptors,
 * buddy runs, the clock sweep (README.md "Victims", rules 1, 4 and 10).
 * As PostgreSQL keeps victim selection in freelist.c, the replacement
 * policy lives here and nowhere else; it runs under alloc_mu.
 *
 * Map of this file:
 *   1. descriptors in and out: tag_store, pp_free_buf_locked
 *   2. victims (the clock): pp_try_evict_locked, evict_one_locked
 *   3. memory for a buffer: take_run_locked, pp_alloc_buf, pp_grow_buf
 *      (a fragment buffer moving to a larger run), pp_release_unused
 *   4. more descriptors (create, grow): pp_add_descs
 */
#include "pagepool/pagepool_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* A descriptor's tag changes only while it is out of the hash, under
 * alloc_mu; it is read only with its home partition locked (pp_lock_home) or
 * alloc_mu held, so no reader sees it change. The stores are atomic only
 * because scans may look at a descriptor that is being re-tagged before
 * they find it unhashed. */
static void tag_store(struct pp_buf *b, const struct pp_tag *t)
{
	POKE(b->tag.fs, t->fs);
	POKE(b->tag.ino, t->ino);
	POKE(b->tag.blk, t->blk);
}

/* With alloc_mu: give <b>'s memory and descriptor back; it is out of the
 * table (or never went in) and unpinned. */
void pp_free_buf_locked(pp_pool *p, struct pp_buf *b)
{
	unsigned order = atomic_load_explicit(&b->order, memory_order_relaxed);

	MM_ASSERT_HELD(&p->alloc_mu);
	MM_BUG_ON(b, is_hashed(b) || pins_of(b) != 0 || !b->data);
	pp_buddy_release(&p->buddy, b->unit, order);
	add(&p->used, -(int64_t)((uint64_t)UNIT << order));
	add(&p->buffers, -1);
	b->data = NULL;
	b->fs = NULL;
	b->fnext = p->free_descs;
	p->free_descs = b;
}

/* With alloc_mu: take <b> out if it is unpinned, clean and idle. */
bool pp_try_evict_locked(pp_pool *p, struct pp_buf *b)
{
	struct part *pt;
	uint32_t pf = 0;
	bool gone = false;

	MM_ASSERT_HELD(&p->alloc_mu);
	pt = pp_lock_home(p, b);
	if (!pt)
		return false;
	if (atomic_load_explicit(&b->pins, memory_order_acquire) == 0) {
		pthread_mutex_lock(&b->mu);
		if (!b->dirty && !b->reading && !b->writing) {
			pp_unhash_locked(p, b);
			gone = true;
			pf = b->pf_id;
			b->pf_id = 0;
		}
		pthread_mutex_unlock(&b->mu);
	}
	pthread_mutex_unlock(&pt->mu);
	if (!gone)
		return false;
	pp_free_buf_locked(p, b);
	add(&p->evictions, 1);
	if (pf)
		pp_stream_note(p, pf, false);
	return true;
}

/*
 * With alloc_mu: evict one clean, unpinned buffer chosen by the clock
 * (pagepool/README.md, "Victims"). Returns false if a whole sweep found
 * none. Buffers with a usage count get it lowered and are passed over once.
 */
static bool evict_one_locked(pp_pool *p)
{
	MM_ASSERT_HELD(&p->alloc_mu);
	/* First one lap for a buffer nobody uses (usage 0: what sequential
	 * readers and prefetch left behind), aging nothing on the way: while
	 * a scan supplies such buffers, the working set keeps its usage counts
	 * however long the scan. The lap is of descriptors (one per 64 KiB
	 * unit), most of them idle with large blocks: cheap atomic loads. */
	for (uint32_t n = 0; n < atomic_load_explicit(&p->ndesc, memory_order_relaxed); n++) {
		struct pp_buf *b = desc_at(p, p->hand);

		p->hand = (p->hand + 1) % atomic_load_explicit(&p->ndesc, memory_order_relaxed);
		if (is_hashed(b) && atomic_load_explicit(&b->pins, memory_order_acquire) == 0 &&
		    atomic_load_explicit(&b->usage, memory_order_relaxed) == 0 && pp_try_evict_locked(p, b))
			return true;
	}
	for (uint32_t n = 0; n < 6 * atomic_load_explicit(&p->ndesc, memory_order_relaxed); n++) {
		struct pp_buf *b = desc_at(p, p->hand);

		p->hand = (p->hand + 1) % atomic_load_explicit(&p->ndesc, memory_order_relaxed);
		if (!is_hashed(b) || atomic_load_explicit(&b->pins, memory_order_acquire) > 0)
			continue;
		if (atomic_load_explicit(&b->usage, memory_order_relaxed) > 0) {
			atomic_fetch_sub_explicit(&b->usage, 1, memory_order_relaxed);
			continue;
		}
		if (pp_try_evict_locked(p, b))
			return true;
	}
	return false;
}

/* With alloc_mu: the first unit of a free run of 2^<order> units (and a
 * free descriptor too if <desc>), evicting and waiting for write-behind
 * as needed. */
static uint32_t take_run_locked(pp_pool *p, unsigned order, bool desc)
{
	int64_t unit;

	MM_ASSERT_HELD(&p->alloc_mu);
	for (;;) {
		unit = !desc || p->free_descs ? pp_buddy_alloc(&p->buddy, order) : -1;
		if (unit >= 0)
			break;
		if (evict_one_locked(p))
			continue;
		/* everything is pinned or dirty: let write-behind clean some */
		{
			pthread_mutex_unlock(&p->alloc_mu);
			pp_wb_kick(p);
			pthread_mutex_lock(&p->alloc_mu);
			mm_cond_wait_ms(&p->space, &p->alloc_mu, 10);
		}
	}
	add(&p->used, (int64_t)((uint64_t)UNIT << order));
	return (uint32_t)unit;
}

/* A descriptor with a run of 2^<order> units of memory (all of a block of
 * <f>, or a prefix of it) tagged <t>, not yet in the hash. */
struct pp_buf *pp_alloc_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t,
			    uint8_t usage, unsigned order)
{
	struct pp_buf *b = NULL;
	uint32_t unit;

	pthread_mutex_lock(&p->alloc_mu);
	unit = take_run_locked(p, order, true);
	b = p->free_descs;
	/* a free descriptor is out of the table, unpinned, with no memory */
	MM_BUG_ON(b, is_hashed(b) || pins_of(b) != 0 || b->data);
	p->free_descs = b->fnext;
	b->fnext = NULL;
	b->unit = unit;
	atomic_store_explicit(&b->order, (uint8_t)order, memory_order_relaxed);
	b->data = p->mem + (size_t)unit * UNIT;
	b->fs = f;
	tag_store(b, t);
	pthread_mutex_lock(&b->mu);
	MM_BUG_ON(b, b->dirty || b->reading || b->writing);	/* rule 4 */
	b->valid = b->dirty = 0;
	atomic_store(&b->checked, false);
	set_dirtyish(b, false);
	b->lsn = 0;
	b->reading = b->writing = false;
	b->marked = false;
	b->wb_seen = false;
	b->pf_id = 0;
	pthread_mutex_unlock(&b->mu);
	atomic_store_explicit(&b->usage, usage, memory_order_relaxed);
	atomic_store_explicit(&b->pins, 0, memory_order_relaxed);
	pthread_mutex_unlock(&p->alloc_mu);
	add(&p->buffers, 1);
	return b;
}

/*
 * Give pinned buffer <b> memory for at least [0, end) of its block: a
 * larger run, the old bytes copied over (README rule 10). Exclusive
 * content lock for the move: whoever looks at b->data holds the content
 * lock, so nobody sees it change.
 */
void pp_grow_buf(pp_pool *p, struct pp_buf *b, uint32_t end)
{
	unsigned order = order_for(b->fs, end), old_order;
	uint32_t unit, old_unit;

	MM_BUG_ON(b, pins_of(b) <= 0);	/* only a pinned buffer grows */
	pthread_mutex_lock(&p->alloc_mu);
	unit = take_run_locked(p, order, false);
	p->loose++;	/* a shrinking pool waits for it to be attached */
	pthread_mutex_unlock(&p->alloc_mu);
	pthread_rwlock_wrlock(&b->content);
	/* a prefetch read in flight writes into the old run (rule 11) */
	pthread_mutex_lock(&b->mu);
	while (b->reading)
		pthread_cond_wait(&b->cv, &b->mu);
	MM_BUG_ON(b, b->writing);	/* a write holds the lock shared (rule 6) */
	pthread_mutex_unlock(&b->mu);
	old_order = atomic_load_explicit(&b->order, memory_order_relaxed);
	if (old_order < order)
		memcpy(p->mem + (size_t)unit * UNIT, b->data, (size_t)UNIT << old_order);
	pthread_mutex_lock(&p->alloc_mu);
	if (old_order >= order) {
		/* another thread grew it meanwhile: ours goes back */
		old_unit = unit;
		old_order = order;
	} else {
		old_unit = b->unit;
		b->data = p->mem + (size_t)unit * UNIT;
		b->unit = unit;
		atomic_store_explicit(&b->order, (uint8_t)order, memory_order_relaxed);
		add(&p->grows, 1);
	}
	p->loose--;
	pp_buddy_release(&p->buddy, old_unit, old_order);
	add(&p->used, -(int64_t)((uint64_t)UNIT << old_order));
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
	pthread_rwlock_unlock(&b->content);
}

void pp_release_unused(pp_pool *p, struct pp_buf *b)
{
	pthread_mutex_lock(&p->alloc_mu);
	pp_free_buf_locked(p, b);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
}

/* Descriptors for at least <n> units: whole chunks, made and initialised
 * first, then linked and published under alloc_mu (scans read ndesc with
 * acquire, so they see the chunk). Callers serialise (create, resize_mu). */
int pp_add_descs(pp_pool *p, uint32_t n)
{
	while (ndesc_of(p) < n) {
		uint32_t c = ndesc_of(p) / DCHUNK;
		struct pp_buf *chunk = calloc(DCHUNK, sizeof(*chunk));

		if (!chunk)
			return MM_ENOMEM;
		for (uint32_t i = 0; i < DCHUNK; i++) {
			chunk[i].p = p;
			chunk[i].idx = c * DCHUNK + i;
			pthread_rwlock_init(&chunk[i].content, NULL);
			pthread_mutex_init(&chunk[i].mu, NULL);
			pthread_cond_init(&chunk[i].cv, NULL);
		}
		pthread_mutex_lock(&p->alloc_mu);
		p->dchunk[c] = chunk;
		for (uint32_t i = DCHUNK; i-- > 0;) {
			chunk[i].fnext = p->free_descs;
			p->free_descs = &chunk[i];
		}
		atomic_store_explicit(&p->ndesc,
				      atomic_load_explicit(&p->ndesc, memory_order_relaxed) + DCHUNK,
				      memory_order_release);
		pthread_mutex_unlock(&p->alloc_mu);
	}
	return MM_OK;
}
