/*
 * fs/sgfree.c - frees of a mounted stripe group: applied to the block map
 * inside the transaction that stops using the space, and kept from reuse
 * until that transaction is durable (fs/README.md, "Frees").
 *
 * Why both: the free must be logged with the change that drops the
 * pointer, or a crash between the two leaks the space (mmfsck would find
 * it). But the space must not go to another file before the freeing
 * transaction is durable: the new owner writes its data straight to
 * disk, and a crash that lost the freeing transaction would give the
 * space back to its old owner with the new owner's bytes in it. So freed
 * subblocks wait in a busy set, keyed by full block, that allocation
 * skips (fs_alloc_set_busy) until the log is durable past their commit.
 *
 * An entry is pinned by each commit that freed into it until that commit
 * has dropped the freed blocks' buffers (a dirty buffer written to the
 * old place after another file took it would overwrite that file).
 *
 * Lock order: sg->q_mu is a leaf (fs/sg_int.h); allocation calls the busy
 * function under sg->alloc_mu.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/sg_int.h"

#define SUB "fs"

static uint32_t q_hash(uint32_t d, uint64_t sub)
{
	uint64_t x = sub * 0x9e3779b97f4a7c15ull ^ d;

	return (uint32_t)(x >> 40) % SG_Q_BUCKETS;
}

static struct sg_quar **q_find(fs_sg *sg, uint32_t d, uint64_t sub)
{
	struct sg_quar **pp = &sg->qtab[q_hash(d, sub)];

	while (*pp && ((*pp)->d != d || (*pp)->sub != sub))
		pp = &(*pp)->next;
	return pp;
}

uint32_t sg_q_busy(void *arg, uint32_t d, uint64_t sub)
{
	fs_sg *sg = arg;
	struct sg_quar **pp, *q;
	uint32_t m = 0;

	if (!atomic_load(&sg->q_n))
		return 0;
	pthread_mutex_lock(&sg->q_mu);
	pp = q_find(sg, d, sub);
	q = *pp;
	if (q && !q->pins && q->lsn <= sg->q_durable) {
		*pp = q->next;
		free(q);
		atomic_fetch_sub(&sg->q_n, 1);
	} else if (q) {
		m = q->mask;
	}
	pthread_mutex_unlock(&sg->q_mu);
	return m;
}

/* Pin <nsub> subblocks at <da> (inside one full block) as freed by a
 * commit in progress. */
static int q_pin(fs_sg *sg, fs_da da, uint32_t nsub)
{
	uint32_t spb = fs_alloc_spb(sg->alloc), d = fs_da_disk(da);
	/* full blocks start at multiples of spb (alloc.h: the first one is
	 * a whole number of blocks from the disk's start) */
	uint64_t s = fs_da_sub(da), first = s - s % spb;
	uint32_t off = (uint32_t)(s - first);
	struct sg_quar **pp, *q;

	pthread_mutex_lock(&sg->q_mu);
	pp = q_find(sg, d, first);
	q = *pp;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&sg->q_mu);
			return MM_ENOMEM;
		}
		q->d = d;
		q->sub = first;
		*pp = q;
		atomic_fetch_add(&sg->q_n, 1);
	}
	q->mask |= (nsub >= 32 ? UINT32_MAX : (1u << nsub) - 1) << off;
	q->pins++;
	pthread_mutex_unlock(&sg->q_mu);
	return MM_OK;
}

/* The commit that pinned <da> is done: reusable once <lsn> is durable. */
static void q_unpin(fs_sg *sg, fs_da da, uint64_t lsn)
{
	uint32_t spb = fs_alloc_spb(sg->alloc);
	uint64_t s = fs_da_sub(da), first = s - s % spb;
	struct sg_quar *q;

	pthread_mutex_lock(&sg->q_mu);
	q = *q_find(sg, fs_da_disk(da), first);
	MM_ASSERT(q && q->pins > 0);
	q->pins--;
	if (lsn > q->lsn)
		q->lsn = lsn;
	if (lsn > sg->q_maxlsn)
		sg->q_maxlsn = lsn;
	pthread_mutex_unlock(&sg->q_mu);
}

/* Drop every entry whose commit is durable (the busy function drops
 * them lazily, but only those an allocation looks at). */
static void q_sweep(fs_sg *sg)
{
	pthread_mutex_lock(&sg->q_mu);
	for (uint32_t i = 0; i < SG_Q_BUCKETS; i++) {
		struct sg_quar **pp = &sg->qtab[i];

		while (*pp) {
			struct sg_quar *q = *pp;

			if (!q->pins && q->lsn <= sg->q_durable) {
				*pp = q->next;
				free(q);
				atomic_fetch_sub(&sg->q_n, 1);
			} else {
				pp = &q->next;
			}
		}
	}
	pthread_mutex_unlock(&sg->q_mu);
}

void sg_q_refresh(fs_sg *sg)
{
	if (atomic_load(&sg->q_n) && sg->log)
		sg->q_durable = fs_log_durable(sg->log);
}

bool sg_q_force(fs_sg *sg)
{
	uint64_t want;

	if (!atomic_load(&sg->q_n))
		return false;
	pthread_mutex_lock(&sg->q_mu);
	want = sg->q_maxlsn;
	pthread_mutex_unlock(&sg->q_mu);
	if (sg->log && fs_log_force(sg->log, want))
		return false;
	sg_q_refresh(sg);
	return true;
}

void sg_q_clear(fs_sg *sg)
{
	for (uint32_t i = 0; i < SG_Q_BUCKETS; i++)
		while (sg->qtab[i]) {
			struct sg_quar *q = sg->qtab[i];

			sg->qtab[i] = q->next;
			free(q);
		}
	atomic_store(&sg->q_n, 0);
}

/* Free one run in the block map inside <tx>. Another region's frees take
 * that region's token briefly (with several nodes mounting, frees are
 * shipped to the region's holder instead). */
static int free_one(struct sg_tx *tx, const struct sg_free *f)
{
	fs_sg *sg = tx->sg;
	struct tok_holder h;
	uint32_t r;
	int rc;

	if (fs_bmap_region_of(sg->alloc, f->da, &r))
		return fs_errf(tx->msg, sizeof(tx->msg), MM_EINVAL, "disk address %#" PRIx64
			       " lies in no region", (uint64_t)f->da);
	if (r == sg->breg && sg->breg_held)
		return fs_bmap_free(sg->alloc, f->da, f->nsub, tx->msg, sizeof(tx->msg));
	tok_holder_init(&h, &(struct tok_key){sg->fsid, TOK_ALLOC, r}, TOK_XW,
			(struct tok_range){0, TOK_INF}, (struct tok_range){0, TOK_INF});
	rc = toknet_acquire(sg->tok, &h, sg->tok_timeout);
	if (rc)
		return fs_errf(tx->msg, sizeof(tx->msg), rc, "region %u's token for a free", r);
	rc = fs_bmap_free(sg->alloc, f->da, f->nsub, tx->msg, sizeof(tx->msg));
	toknet_release(sg->tok, &h);
	return rc;
}

int sg_tx_apply_frees(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;
	int rc;

	if (!tx->nfree)
		return MM_OK;
	rc = sg_tx_lock_alloc(tx);
	if (rc)
		return rc;
	for (int i = 0; i < tx->nfree; i++) {
		struct sg_free *f = &tx->fr[i];

		/* A free that fails leaks the space (mmfsck reclaims it) but
		 * keeps the rest of the transaction: never freed twice. */
		rc = free_one(tx, f);
		if (rc) {
			mm_error(SUB, "%s: freeing a block: %s", sg->device, tx->msg);
			continue;
		}
		rc = q_pin(sg, f->da, f->nsub);
		if (rc)
			return rc;	/* the bitmap change is aborted with the rest */
		f->pinned = true;
		atomic_fetch_add(&sg->st_bfree, 1);
	}
	return MM_OK;
}

void sg_frees_done(fs_sg *sg, const struct sg_free *fr, int n, uint64_t lsn, bool committed)
{
	for (int i = 0; committed && i < n; i++) {
		uint32_t fs = fr[i].meta ? sg->mfsid : sg->fsid;

		if (!fr[i].pinned || fr[i].moved) {
			/* a fragment that moved lives on elsewhere: its buffer stays */
		} else if (fr[i].metafile) {
			/* a directory's block holds metadata blocks, cached in the
			 * metadata registration */
			uint64_t lo = fr[i].blk * sg->mbper;

			pp_discard(sg->pool, sg->mfsid, fr[i].ino, lo, lo + sg->mbper);
			sg_ac_drop(sg, sg->mfsid, fr[i].ino, lo, lo + sg->mbper);
		} else {
			uint64_t end = fr[i].blk + (fr[i].nblk ? fr[i].nblk : 1);

			/* never written: what a freed block held does not matter,
			 * and its address may be unknown by now (a write of it
			 * would fail and report an error to the file's fsync);
			 * unless a log write still to come makes the write that
			 * exposed it durable without this free (sgorder.c) */
			if (!fr[i].meta)
				sg_ord_settle(sg, fr[i].ino, fr[i].blk);
			pp_discard(sg->pool, fs, fr[i].ino, fr[i].blk, end);
			sg_ac_drop(sg, fs, fr[i].ino, fr[i].blk, end);
		}
	}
	for (int i = 0; i < n; i++)
		if (fr[i].pinned)
			q_unpin(sg, fr[i].da, lsn);
	/* many frees waiting (a big rm -rf): make them durable and drop
	 * them, rather than keep an entry per block until allocation
	 * passes by */
	if (atomic_load(&sg->q_n) > SG_Q_SWEEP && sg_q_force(sg))
		q_sweep(sg);
}
