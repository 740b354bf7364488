/*
 * fs/sgorder.c - ordered data (fs/README.md, "Ordered data"): a write
 * that exposes bytes (a new block, or a size grown over a block's bytes)
 * commits at once instead of waiting for them, and those bytes go to disk
 * before any log write that holds its commit: ext4's data=ordered. The
 * pagepool writes them meanwhile as write-behind; the log write waits
 * only for what is still dirty, in one batch.
 *
 * Why each entry keeps its blocks' addresses: the log write that flushes
 * them may run on a thread whose transaction waits for log room holding
 * the file's indirect blocks (sg_tx_commit). Mapping through the address
 * cache needs no block; where the cache lost an address (a revoke or an
 * abort drops them), reading the tree would wait on that transaction. So
 * on this thread a miss is answered from the entries, the newest for the
 * block: a later write of the same block has its own entry, and a block
 * freed since was dropped from the pool with its dirty bytes.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/sg_int.h"

/* The file system whose log write this thread runs. */
static __thread fs_sg *ord_hook;

/* Ranges one pp_flush_ranges call takes (a stack array). */
#define ORD_CHUNK 256

int sg_ord_add(struct sg_tx *tx, uint64_t ino, uint64_t lo, uint64_t hi)
{
	fs_sg *sg = tx->sg;
	struct sg_ord *e;

	MM_ASSERT(!tx->ord && hi > lo);
	if (!tx->ltx)
		return MM_ENOTSUP;	/* nothing logged: the caller writes them itself */
	e = malloc(sizeof(*e) + (hi - lo) * sizeof(e->m[0]));
	if (!e)
		return MM_ENOMEM;
	e->next = NULL;
	atomic_init(&e->lsn, SG_ORD_PENDING);
	e->ino = ino;
	e->lo = lo;
	e->hi = hi;
	for (uint64_t b = lo; b < hi; b++) {
		int rc = sg_map_data(sg, &(struct pp_tag){sg->fsid, ino, b}, &e->m[b - lo]);

		if (rc) {
			free(e);
			return rc;
		}
	}
	pthread_mutex_lock(&sg->ord_mu);
	*sg->ord_tailp = e;
	sg->ord_tailp = &e->next;
	pthread_mutex_unlock(&sg->ord_mu);
	tx->ord = e;
	fs_log_publish(tx->ltx, &e->lsn);
	return MM_OK;
}

void sg_ord_committed(struct sg_tx *tx, uint64_t lsn)
{
	if (!tx->ord)
		return;
	/* published, the entry is the log writer's (which may have freed it
	 * by now); an empty commit logged nothing and published nothing:
	 * due at the next log write */
	if (!lsn)
		atomic_store(&tx->ord->lsn, 0);
	tx->ord = NULL;
}

void sg_ord_drop(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;
	struct sg_ord **pp;

	if (!tx->ord)
		return;
	pthread_mutex_lock(&sg->ord_mu);
	for (pp = &sg->ord_head; *pp && *pp != tx->ord; pp = &(*pp)->next)
		;
	MM_ASSERT(*pp == tx->ord);
	*pp = tx->ord->next;
	if (sg->ord_tailp == &tx->ord->next)
		sg->ord_tailp = pp;
	pthread_mutex_unlock(&sg->ord_mu);
	free(tx->ord);
	tx->ord = NULL;
}

/* Under ord_mu: the newest entry holding block <blk> of <ino>, or NULL.
 * The later an entry of one file, the newer (one writer a file); those a
 * log write is writing are older than those still queued. */
static const struct sg_ord *ord_find(fs_sg *sg, uint64_t ino, uint64_t blk)
{
	const struct sg_ord *hit = NULL;

	MM_ASSERT_HELD(&sg->ord_mu);
	for (const struct sg_ord *e = sg->ord_done; e; e = e->next)
		if (e->ino == ino && blk >= e->lo && blk < e->hi)
			hit = e;
	for (const struct sg_ord *e = sg->ord_head; e; e = e->next)
		if (e->ino == ino && blk >= e->lo && blk < e->hi)
			hit = e;
	return hit;
}

bool sg_ord_map(fs_sg *sg, const struct pp_tag *t, struct pp_map *m)
{
	const struct sg_ord *hit;

	if (ord_hook != sg || t->fs != sg->fsid)
		return false;
	pthread_mutex_lock(&sg->ord_mu);
	hit = ord_find(sg, t->ino, t->blk);
	if (hit)
		*m = hit->m[t->blk - hit->lo];
	pthread_mutex_unlock(&sg->ord_mu);
	return hit != NULL;
}

int sg_ord_write(void *arg, uint64_t lsn)
{
	fs_sg *sg = arg;
	struct sg_ord **pp, *e, *done = NULL, **dtail = &done;
	struct pp_range r[ORD_CHUNK];
	size_t n = 0;

	pthread_mutex_lock(&sg->ord_mu);
	MM_ASSERT(!sg->ord_done);
	for (pp = &sg->ord_head; (e = *pp);) {
		uint64_t l = atomic_load_explicit(&e->lsn, memory_order_acquire);

		if (l != SG_ORD_PENDING && l <= lsn) {
			*pp = e->next;
			e->next = NULL;
			*dtail = e;
			dtail = &e->next;
		} else {
			pp = &e->next;
		}
	}
	sg->ord_tailp = pp;
	sg->ord_done = done;
	pthread_mutex_unlock(&sg->ord_mu);
	if (!done)
		return atomic_load(&sg->data_err);
	ord_hook = sg;
	for (e = done; e; e = e->next) {
		r[n++] = (struct pp_range){e->ino, e->lo, e->hi};
		if (n == ORD_CHUNK || !e->next) {
			pp_flush_ranges(sg->pool, sg->fsid, r, n);
			n = 0;
		}
	}
	ord_hook = NULL;
	pthread_mutex_lock(&sg->ord_mu);
	sg->ord_done = NULL;
	pthread_mutex_unlock(&sg->ord_mu);
	while (done) {
		e = done->next;
		free(done);
		done = e;
	}
	/* a failed write of them (or of any data) is on the inode for its
	 * fsync, and here: the log goes no further */
	return atomic_load(&sg->data_err);
}

/*
 * Block <blk> of <ino> is about to move (a fragment grown) or to be
 * dropped from the pool unwritten (freed): if an entry not yet written
 * holds it, the log write of that entry's commit would find it elsewhere
 * or gone, so it is written now, to the address that entry gave it.
 * Called holding no buffer of the file's data.
 */
void sg_ord_settle(fs_sg *sg, uint64_t ino, uint64_t blk)
{
	bool held;

	pthread_mutex_lock(&sg->ord_mu);
	held = ord_find(sg, ino, blk) != NULL;
	pthread_mutex_unlock(&sg->ord_mu);
	if (!held)
		return;
	ord_hook = sg;
	pp_flush_ranges(sg->pool, sg->fsid, &(struct pp_range){ino, blk, blk + 1}, 1);
	ord_hook = NULL;
}

void sg_data_write_failed(void *arg, const struct pp_tag *t, int rc)
{
	fs_sg *sg = arg;
	int none = 0;

	if (atomic_compare_exchange_strong(&sg->data_err, &none, rc ? rc : MM_EIO)) {
		sg_logf(sg, rc,
			"write of data block %" PRIu64 " of inode %" PRIu64 " failed: the file "
			"system is failed on this node; every change now fails with EIO until it is "
			"unmounted, and the log keeps no change that could show the block's old bytes",
			t->blk, t->ino);
		none = 0;
		atomic_compare_exchange_strong(&sg->meta_err, &none, rc ? rc : MM_EIO);
	}
}

void sg_ord_init(fs_sg *sg)
{
	pthread_mutex_init(&sg->ord_mu, NULL);
	sg->ord_head = NULL;
	sg->ord_tailp = &sg->ord_head;
}

void sg_ord_fini(fs_sg *sg)
{
	while (sg->ord_head) {
		struct sg_ord *e = sg->ord_head->next;

		free(sg->ord_head);
		sg->ord_head = e;
	}
	sg->ord_tailp = &sg->ord_head;
	pthread_mutex_destroy(&sg->ord_mu);
}
