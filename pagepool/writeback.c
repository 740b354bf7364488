/*
 * pagepool/writeback.c - writing dirty buffers: ordered batches (README.md
 * rules 5, 6 and 7) and the write-behind threads (README.md
 * "Write-behind", PostgreSQL's "Background Writer's Processing").
 *
 * Map of this file:
 *   1. waking write-behind: pp_wb_kick
 *   2. batches: pp_wb_batch_new/free, pp_wb_add, wb_io_done,
 *      pp_wb_rate_add_locked, item_cmp, wb_finish, pp_wb_write,
 *      pp_write_back (a batch of one)
 *   3. write-behind threads: wb_lap, pp_writer_main
 */
#include "pagepool/pagepool_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* set while this thread's write-behind asks a file system for an address */
static __thread bool pp_wb_mapping;

bool pp_in_wb_map(void)
{
	return pp_wb_mapping;
}

void pp_wb_kick(pp_pool *p)
{
	pthread_mutex_lock(&p->wb_mu);
	pthread_cond_broadcast(&p->wb_kick);
	pthread_mutex_unlock(&p->wb_mu);
}

/* ---- batches ----
 *
 * A batch is a set of dirty buffers one thread (a write-behind thread, or
 * one doing a flush) holds pinned and content-locked shared (rule 6). It
 * is sorted by tag, so each disk sees a file's blocks in order; the
 * journal is forced once per file system to the highest LSN in it (rule
 * 5); then every request of every buffer is submitted and the thread
 * waits for all, and lets the buffers go. Locking shared and unlocking
 * happen on that one thread, as pthread rwlocks require.
 */

struct wb_batch *pp_wb_batch_new(pp_pool *p, unsigned cap)
{
	struct wb_batch *bt = NULL;

	for (; cap > 0 && !bt; cap /= 2) {
		bt = calloc(1, sizeof(*bt) + cap * sizeof(bt->item[0]));
		if (bt && !(bt->ios = malloc((size_t)cap * WB_IOS * sizeof(bt->ios[0])))) {
			free(bt);
			bt = NULL;
		}
	}
	if (!bt)
		return NULL;
	bt->p = p;
	bt->cap = cap * 2;
	pp_latch_init(&bt->l);
	return bt;
}

void pp_wb_batch_free(struct wb_batch *bt)
{
	if (!bt)
		return;
	pp_latch_destroy(&bt->l);
	free(bt->ios);
	free(bt);
}

/*
 * Put pinned buffer <b> into batch <bt>, which must have room. WB_ADDED:
 * the batch now owns the pin and a shared content lock. Otherwise the
 * caller keeps its pin: WB_SKIPPED (nothing dirty and no write of it in
 * flight, or left for later as <partial> says) or WB_BUSY (held exclusively, or being written by someone else;
 * never returned with <wait>, which blocks for both instead: only with an
 * empty batch, so the thread holds no other buffer while it waits).
 * <partial> false leaves out a buffer only partly dirty that was not
 * already passed over once (its writer is probably still filling it).
 */
enum wb_claim pp_wb_add(struct wb_batch *bt, struct pp_buf *b, bool wait, bool partial)
{
	struct wb_item *it = &bt->item[bt->n];

	if (wait)
		pthread_rwlock_rdlock(&b->content);
	else if (pthread_rwlock_tryrdlock(&b->content) != 0)
		return WB_BUSY;
	pthread_mutex_lock(&b->mu);
	while (wait && b->writing)
		pthread_cond_wait(&b->cv, &b->mu);
	if (b->writing || !b->dirty || (!partial && b->dirty != cap_mask(b) && !b->wb_seen)) {
		enum wb_claim c = b->writing ? WB_BUSY : WB_SKIPPED;

		if (b->dirty && !b->writing)
			b->wb_seen = true;	/* written at the next pass if still partial */
		pthread_mutex_unlock(&b->mu);
		pthread_rwlock_unlock(&b->content);
		return c;
	}
	MM_ASSERT(buf_ok_locked(b));
	*it = (struct wb_item){.b = b, .bt = bt, .mask = b->dirty, .lsn = b->lsn};
	b->writing = true;
	b->dirty = 0;
	b->lsn = 0;
	b->wb_seen = false;
	pthread_mutex_unlock(&b->mu);
	bt->n++;
	bt->bytes += cap_of(b);
	return WB_ADDED;
}

static void wb_io_done(struct pp_io *io, int rc)
{
	struct wb_item *it = io->arg;

	pp_latch_down(&it->bt->l, &it->rc, rc);
}

/* With wb_mu: <bytes> were written now. The rate shown is what the last
 * whole second wrote: one bucket per second, no history to keep. */
void pp_wb_rate_add_locked(pp_pool *p, uint64_t bytes)
{
	uint64_t sec = mm_now_ns() / 1000000000ull;

	MM_ASSERT_HELD(&p->wb_mu);
	if (sec != p->wb_sec) {
		p->wb_last_rate = sec == p->wb_sec + 1 ? p->wb_sec_bytes : 0;
		p->wb_sec = sec;
		p->wb_sec_bytes = 0;
	}
	p->wb_sec_bytes += bytes;
}

/* Buffers without a journal sequence first (pp_wb_write), then by tag. */
static int item_cmp(const void *a, const void *b)
{
	const struct wb_item *ia = a, *ib = b;
	const struct pp_tag *x = &ia->b->tag, *y = &ib->b->tag;

	if ((ia->lsn != 0) != (ib->lsn != 0))
		return ia->lsn != 0 ? 1 : -1;

	if (x->fs != y->fs)
		return x->fs < y->fs ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/*
 * The subblocks a block's run holds on disk (the map's len: a fragment's
 * run is shorter than the block). Dirty bytes past it are not the file's
 * on disk, where the next file's space follows: they are dropped, never
 * written there (README.md rule 12). A file system that grows the run dirties them
 * again once the map says so.
 */
static uint32_t run_mask(const struct pp_fs *f, const struct pp_map *m)
{
	uint32_t n;

	if (!m->bounded || m->len == 0)
		return UINT32_MAX;
	n = (uint32_t)((m->len + f->sub - 1) / f->sub);
	return n >= PP_SUBBLOCKS ? UINT32_MAX : (1u << n) - 1;
}

/* A buffer of the batch was written (or failed): account, report, let go. */
static void wb_finish(pp_pool *p, struct wb_item *it)
{
	struct pp_buf *b = it->b;

	for (unsigned i = 0; i < it->nio; i++) {
		add(&p->writes, 1);
		add(&p->write_bytes, (int64_t)it->io[i].len);
	}
	if (it->rc) {
		add(&p->write_errors, 1);
		pp_error_record(p, b->tag.fs, b->tag.ino, it->rc);
		if (b->fs->ops.write_failed)
			b->fs->ops.write_failed(b->fs->arg, &b->tag, it->rc);
		mm_error(SUB, "write-behind of fs %u inode %" PRIu64 " block %" PRIu64 " failed: %s "
			 "(reported to the next fsync)", b->tag.fs, b->tag.ino, b->tag.blk,
			 mm_strerror(it->rc));
	}
	pthread_mutex_lock(&b->mu);
	MM_BUG_ON(b, !b->writing);	/* rule 6: a write ends only once */
	b->writing = false;
	if (!b->dirty) {
		add(&p->buffers_dirty, -1);
		set_dirtyish(b, false);
	}
	add(&p->dirty_bytes, -(int64_t)((uint64_t)__builtin_popcount(it->mask) * b->fs->sub));
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_rwlock_unlock(&b->content);
	unpin(b);
}

/* Write items [lo, hi) of batch <bt> (sorted): force each file system's
 * log to the highest LSN among them, map, submit every request, wait,
 * let the buffers go. */
static uint64_t wb_write_items(struct wb_batch *bt, unsigned lo, unsigned hi)
{
	pp_pool *p = bt->p;
	unsigned total = 0;
	uint64_t written = 0;

	for (unsigned i = lo, j; i < hi; i = j) {
		struct pp_fs *f = bt->item[i].b->fs;
		uint64_t lsn = 0;
		int rc = 0;

		for (j = i; j < hi && bt->item[j].b->fs == f; j++)
			if (bt->item[j].lsn > lsn)
				lsn = bt->item[j].lsn;
		if (lsn && f->ops.log_force) {
			add(&p->log_forces, 1);
			rc = f->ops.log_force(f->arg, lsn);
		}
		for (unsigned k = i; k < j; k++)
			bt->item[k].rc = rc;
	}
	for (unsigned i = lo; i < hi; i++) {
		struct wb_item *it = &bt->item[i];
		struct pp_fs *f = it->b->fs;
		struct pp_map m = {0};

		it->nio = 0;
		it->io = bt->ios + (size_t)i * WB_IOS;
		if (it->rc)
			continue;
		pp_wb_mapping = true;
		it->rc = f->ops.map(f->arg, &it->b->tag, &m);
		pp_wb_mapping = false;
		if (!it->rc && (m.nrep < 1 || m.nrep > PP_MAX_REPLICAS))
			it->rc = MM_EINVAL;
		for (int r = 0; !it->rc && r < m.nrep; r++)
			it->nio += pp_build_ios(it->b, it->mask & run_mask(f, &m), true, &m, r,
						it->io + it->nio, wb_io_done, it);
		total += it->nio;
	}
	/* count every request before the first can complete */
	pp_latch_set(&bt->l, total);
	for (unsigned i = lo; i < hi; i++)
		for (unsigned k = 0; k < bt->item[i].nio; k++)
			pp_submit_io(p, &bt->item[i].io[k]);
	pp_latch_wait(&bt->l);
	for (unsigned i = lo; i < hi; i++)
		for (unsigned k = 0; k < bt->item[i].nio; k++)
			written += bt->item[i].io[k].len;
	for (unsigned i = lo; i < hi; i++)
		wb_finish(p, &bt->item[i]);
	return written;
}

/*
 * Write batch <bt> and empty it (see above). Errors are recorded on the
 * inodes (rule 7): a flush returns them. Buffers without a journal
 * sequence (file data) are written and let go before the log is forced
 * for the others: a file system may write data at a log write (ordered
 * data, fs/README.md), which must not wait for data this batch holds.
 */
void pp_wb_write(struct wb_batch *bt)
{
	pp_pool *p = bt->p;
	unsigned n = bt->n, nplain = 0;
	uint64_t written = 0;

	if (n == 0)
		return;
	qsort(bt->item, n, sizeof(bt->item[0]), item_cmp);
	for (unsigned i = 0; i < n; i++)
		nplain += bt->item[i].lsn == 0;
	if (nplain && nplain < n) {
		/* item_cmp put them first */
		written = wb_write_items(bt, 0, nplain);
		written += wb_write_items(bt, nplain, n);
	} else {
		written = wb_write_items(bt, 0, n);
	}
	bt->n = 0;
	bt->bytes = 0;
	pthread_mutex_lock(&p->wb_mu);
	pp_wb_rate_add_locked(p, written);
	pthread_cond_broadcast(&p->wb_clean);
	pthread_mutex_unlock(&p->wb_mu);
	pthread_mutex_lock(&p->alloc_mu);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
}

/* Write pinned buffer <b> if it is dirty, waiting for its content lock and
 * for a write of it in flight, and unpin it: a batch of one, for a thread
 * that holds no other buffer. */
void pp_write_back(pp_pool *p, struct pp_buf *b)
{
	struct wb_batch *bt = pp_wb_batch_new(p, 1);

	if (!bt) {
		mm_error(SUB, "out of memory writing fs %u inode %" PRIu64 " block %" PRIu64,
			 b->tag.fs, b->tag.ino, b->tag.blk);
		pp_error_record(p, b->tag.fs, b->tag.ino, MM_ENOMEM);
		unpin(b);
		return;
	}
	if (pp_wb_add(bt, b, true, true) == WB_ADDED)
		pp_wb_write(bt);
	else
		unpin(b);
	pp_wb_batch_free(bt);
}

/* ---- write-behind threads ---- */

#define WB_CHUNK 64	/* descriptors a writer takes from the shared hand at once */

/*
 * One lap of a write-behind thread over the descriptors, from the shared
 * hand in chunks (so a batch gathers neighbours, which are mostly blocks
 * allocated one after another), writing batches of at most <cap> bytes.
 * Whole dirty blocks go at once; a partly dirty one waits a lap (its
 * writer is probably still filling it) unless dirty data is over the
 * limit. The number of buffers written.
 */
static unsigned wb_lap(pp_pool *p, struct wb_batch *bt, uint64_t cap)
{
	uint32_t nd = ndesc_of(p), chunk = nd < WB_CHUNK ? nd : WB_CHUNK;
	unsigned wrote = 0;

	for (uint32_t seen = 0; seen < nd && ld(&p->dirty_bytes) > 0; seen += chunk) {
		uint32_t i0 = atomic_fetch_add_explicit(&p->wb_hand, chunk, memory_order_relaxed);
		bool partial = ld(&p->dirty_bytes) > dirty_limit(p);

		for (uint32_t k = 0; k < chunk; k++) {
			uint32_t i = (i0 + k) % nd;
			struct pp_buf *b;

			/* clean and not being written: nothing to do, and no
			 * lock taken nor descriptor touched to find that out
			 * (one clean buffer in a large pool is most of them);
			 * a word of clean ones at once */
			if (i % 64 == 0 && k + 64 <= chunk && !dmap_word(p, i)) {
				k += 63;
				continue;
			}
			if (!dirtyish_bit(p, i))
				continue;
			b = desc_at(p, i);
			if (!atomic_load_explicit(&b->dirtyish, memory_order_acquire) ||
			    !pp_pin_hashed(p, b))
				continue;
			if (atomic_load_explicit(&b->fs->paused, memory_order_relaxed) ||
			    pp_wb_add(bt, b, false, partial) != WB_ADDED) {
				unpin(b);
				continue;
			}
			if (bt->n == bt->cap || bt->bytes >= cap) {
				wrote += bt->n;
				pp_wb_write(bt);
			}
		}
	}
	wrote += bt->n;
	pp_wb_write(bt);
	return wrote;
}

/*
 * A write-behind thread: laps while they find work, then sleeps until
 * kicked (dirty data past half the limit, someone waiting for memory or
 * for the limit) or 100 ms passed. Each thread has one batch in flight;
 * a batch is at most a quarter of the dirty limit shared by the threads.
 */
void *pp_writer_main(void *arg)
{
	pp_pool *p = arg;
	struct wb_batch *bt = NULL;
	uint64_t cap = dirty_limit(p) / 4 / p->cfg.writers;

	pthread_mutex_lock(&p->wb_mu);
	while (!p->wb_stop) {
		unsigned wrote = 0;

		pthread_mutex_unlock(&p->wb_mu);
		if (!bt && !(bt = pp_wb_batch_new(p, WB_BATCH)))
			mm_error(SUB, "write-behind thread: out of memory for a batch; retrying");
		if (bt)
			wrote = wb_lap(p, bt, cap);
		pthread_mutex_lock(&p->wb_mu);
		if (p->wb_stop)
			break;
		if (wrote && ld(&p->dirty_bytes) > 0)
			continue;
		mm_cond_wait_ms(&p->wb_kick, &p->wb_mu, 100);
	}
	pthread_mutex_unlock(&p->wb_mu);
	pp_wb_batch_free(bt);
	return NULL;
}
