/*
 * pagepool/pagepool.c - the pool as a whole: inode write errors, create,
 * destroy, file system registration, statistics. pagepool.h is the
 * contract, README.md the rules, the lock order and the file table;
 * pagepool_int.h what the files share.
 *
 * Map of this file:
 *   1. the buffer dump of MM_BUG_ON: pp_buf_dump
 *   2. inode write errors: pp_error_record, pp_error_take
 *   3. pp_pool_create, pp_pool_destroy
 *   4. pp_fs_register, pp_fs_unregister
 *   5. pp_get_stats
 */
#include "pagepool/pagepool_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/*
 * The dump hook of MM_BUG_ON(b, ...) (common/bug.h): a buffer's tag, its
 * state in the table, pins and usage, its content lock as glibc's rwlock
 * shows it, the valid and dirty subblock masks, journal record, flags and
 * prefetch mark, memory run. It may run with any lock held, b->mu too, so
 * it takes none and allocates nothing: the fields are read as they are
 * (relaxed), which is what a dying process can get.
 */
void pp_buf_dump(const void *buf_, char *buf, size_t sz)
{
	struct pp_buf *b = (struct pp_buf *)buf_;
	unsigned readers = PEEK(b->content.__data.__readers);
	int writer = PEEK(b->content.__data.__cur_writer);
	struct pp_fs *f = PEEK(b->fs);
	bool hashed = atomic_load_explicit(&b->hashed, memory_order_relaxed);

	snprintf(buf, sz,
		 "pp_buf %p: tag fs %u inode %" PRIu64 " block %" PRIu64 "; %s (partition %u); "
		 "pins %d, usage %u; content lock: %u reader(s)%s, writer tid %d; "
		 "valid 0x%08x dirty 0x%08x (subblock %u bytes) lsn %" PRIu64 "; "
		 "flags%s%s%s%s; prefetch mark %u; memory unit %u order %u (%u bytes) at %p",
		 buf_, PEEK(b->tag.fs), PEEK(b->tag.ino), PEEK(b->tag.blk),
		 hashed ? "in the table" : f ? "out of the table" : "free",
		 atomic_load_explicit(&b->home, memory_order_relaxed),
		 atomic_load_explicit(&b->pins, memory_order_relaxed),
		 atomic_load_explicit(&b->usage, memory_order_relaxed), readers >> 3,
		 (readers & 2) ? ", write-locked" : "", writer,
		 PEEK(b->valid), PEEK(b->dirty), f ? f->sub : 0, PEEK(b->lsn),
		 PEEK(b->reading) ? " reading" : "", PEEK(b->writing) ? " writing" : "",
		 PEEK(b->marked) ? " marked" : "", PEEK(b->wb_seen) ? " wb_seen" : "",
		 PEEK(b->pf_id), b->unit, atomic_load_explicit(&b->order, memory_order_relaxed),
		 UNIT << atomic_load_explicit(&b->order, memory_order_relaxed), (void *)PEEK(b->data));
}

void pp_error_record(pp_pool *p, uint32_t fs, uint64_t ino, int rc)
{
	struct ino_err *e;

	pthread_mutex_lock(&p->err_mu);
	for (e = p->errs; e; e = e->next)
		if (e->fs == fs && e->ino == ino)
			break;
	if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
		e->fs = fs;
		e->ino = ino;
		e->next = p->errs;
		p->errs = e;
	}
	if (e && !e->rc)
		e->rc = rc;
	pthread_mutex_unlock(&p->err_mu);
}

int pp_error_take(pp_pool *p, uint32_t fs, uint64_t ino)
{
	struct ino_err **pp, *e;
	int rc = 0;

	pthread_mutex_lock(&p->err_mu);
	for (pp = &p->errs; (e = *pp) != NULL; pp = &e->next)
		if (e->fs == fs && e->ino == ino) {
			rc = e->rc;
			*pp = e->next;
			free(e);
			break;
		}
	pthread_mutex_unlock(&p->err_mu);
	return rc;
}

int pp_pool_create(const struct pp_config *cfg, pp_pool **out)
{
	pp_pool *p;
	uint32_t nunits;
	int rc;

	if (!cfg->io.submit || cfg->size < PP_MIN_POOL || cfg->dirty_pct > 90)
		return MM_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return MM_ENOMEM;
	p->cfg = *cfg;
	if (!p->cfg.writers)
		p->cfg.writers = 4;	/* each with one batch in flight */
	if (!p->cfg.dirty_pct)
		p->cfg.dirty_pct = 50;
	if (!p->cfg.prefetch_threads)
		p->cfg.prefetch_threads = 16;
	if (!p->cfg.prefetch_pct)
		p->cfg.prefetch_pct = 20;
	if (p->cfg.prefetch_pct > 90)
		p->cfg.prefetch_pct = 90;
	{
		uint64_t max = cfg->max_size > cfg->size ? cfg->max_size : cfg->size;

		p->max_units = (uint32_t)(max / UNIT);
		nunits = (uint32_t)(cfg->size / UNIT);
	}
	atomic_init(&p->memsz, (size_t)nunits * UNIT);
	p->maxsz = (size_t)p->max_units * UNIT;
	/* the most it may grow to is reserved, only the pool is usable */
	p->mem = mmap(NULL, p->maxsz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		      0);
	if (p->mem == MAP_FAILED) {
		free(p);
		return MM_ENOMEM;
	}
	if (mprotect(p->mem, pool_bytes(p), PROT_READ | PROT_WRITE) != 0) {
		munmap(p->mem, p->maxsz);
		free(p);
		return MM_ENOMEM;
	}
	/* 2 MiB pages where the kernel has them to give: every O_DIRECT
	 * disk transfer and every FUSE reply pins the pages of the buffer
	 * it uses, 256 of them per MiB in 4 KiB pages (a tenth of mmfsd's
	 * CPU in streaming reads and writes) */
	madvise(p->mem, p->maxsz, MADV_HUGEPAGE);
	if (cfg->lock_memory) {
		if (mlock(p->mem, pool_bytes(p)) == 0)
			p->locked = true;
		else
			mm_warn(SUB, "cannot lock %zu bytes of pagepool in memory: %s (it may be paged)",
				pool_bytes(p), strerror(errno));
	}
	pthread_mutex_init(&p->resize_mu, NULL);
	pthread_mutex_init(&p->alloc_mu, NULL);
	mm_cond_init(&p->space);
	pthread_mutex_init(&p->fs_mu, NULL);
	pthread_mutex_init(&p->err_mu, NULL);
	pthread_mutex_init(&p->wb_mu, NULL);
	mm_cond_init(&p->wb_kick);
	mm_cond_init(&p->wb_clean);
	pthread_mutex_init(&p->st_mu, NULL);
	rc = pp_buddy_init(&p->buddy, nunits, p->max_units);
	if (!rc)
		rc = mm_pool_create("pp-prefetch", (int)p->cfg.prefetch_threads, 4096, &p->pf_pool);
	p->dchunk = calloc((p->max_units + DCHUNK - 1) / DCHUNK, sizeof(*p->dchunk));
	p->dmap = calloc((p->max_units + DCHUNK - 1) / DCHUNK * (DCHUNK / 64), sizeof(*p->dmap));
	/* chains of about one buffer at the largest size it may grow to */
	for (p->nbucket = 1; p->nbucket * NPART < p->max_units || p->nbucket * NPART < 2 * nunits;
	     p->nbucket <<= 1)
		;
	for (int i = 0; i < NPART; i++) {
		pthread_mutex_init(&p->part[i].mu, NULL);
		p->part[i].bucket = calloc(p->nbucket, sizeof(*p->part[i].bucket));
		if (!p->part[i].bucket)
			rc = MM_ENOMEM;
	}
	if (!rc && p->dchunk && p->dmap)
		rc = pp_add_descs(p, nunits);
	if (rc || !p->dchunk || !p->dmap) {
		pp_pool_destroy(p);
		return rc ? rc : MM_ENOMEM;
	}
	p->writers = calloc(p->cfg.writers, sizeof(*p->writers));
	for (unsigned i = 0; p->writers && i < p->cfg.writers; i++) {
		if (mm_thread_start(&p->writers[i], "pp-writer", pp_writer_main, p))
			break;
		p->nwriters++;
	}
	if (p->nwriters == 0) {
		pp_pool_destroy(p);
		return MM_ESYS;
	}
	mm_info(SUB, "pagepool of %zu bytes (%u units of 64 KiB%s, up to %zu bytes online), %u "
		"write-behind threads", pool_bytes(p), nunits, p->locked ? ", locked in memory" : "",
		p->maxsz, p->nwriters);
	*out = p;
	return MM_OK;
}

void pp_pool_destroy(pp_pool *p)
{
	if (!p)
		return;
	if (p->dchunk && p->nwriters) {
		for (int i = 0; i < MAX_FS; i++)
			if (atomic_load_explicit(&p->fs[i].used, memory_order_relaxed))
				pp_flush_scan(p, atomic_load_explicit(&p->fs[i].id, memory_order_relaxed),
					      0, true, 0, UINT64_MAX);
	}
	pthread_mutex_lock(&p->wb_mu);
	p->wb_stop = true;
	pthread_cond_broadcast(&p->wb_kick);
	pthread_cond_broadcast(&p->wb_clean);
	pthread_mutex_unlock(&p->wb_mu);
	for (unsigned i = 0; i < p->nwriters; i++)
		pthread_join(p->writers[i], NULL);
	free(p->writers);
	if (p->pf_pool)
		mm_pool_destroy(p->pf_pool);	/* streams were closed: nothing queued */
	for (uint32_t c = 0, nc = atomic_load_explicit(&p->ndesc, memory_order_relaxed) / DCHUNK;
	     p->dchunk && c < nc; c++) {
		for (uint32_t i = 0; i < DCHUNK; i++) {
			/* nobody holds a buffer, no I/O is in flight (streams
			 * are closed): the memory is about to go */
			MM_BUG_ON(&p->dchunk[c][i], pins_of(&p->dchunk[c][i]) != 0 ||
				  p->dchunk[c][i].reading || p->dchunk[c][i].writing);
			pthread_rwlock_destroy(&p->dchunk[c][i].content);
			pthread_mutex_destroy(&p->dchunk[c][i].mu);
			pthread_cond_destroy(&p->dchunk[c][i].cv);
		}
		free(p->dchunk[c]);
	}
	free(p->dchunk);
	free((void *)p->dmap);
	for (int i = 0; i < NPART; i++) {
		pthread_mutex_destroy(&p->part[i].mu);
		free(p->part[i].bucket);
	}
	while (p->errs) {
		struct ino_err *e = p->errs;

		p->errs = e->next;
		free(e);
	}
	pp_buddy_free_all(&p->buddy);
	if (p->locked)
		munlock(p->mem, pool_bytes(p));
	munmap(p->mem, p->maxsz);
	pthread_mutex_destroy(&p->resize_mu);
	pthread_mutex_destroy(&p->alloc_mu);
	pthread_cond_destroy(&p->space);
	pthread_mutex_destroy(&p->fs_mu);
	pthread_mutex_destroy(&p->err_mu);
	pthread_mutex_destroy(&p->wb_mu);
	pthread_cond_destroy(&p->wb_kick);
	pthread_cond_destroy(&p->wb_clean);
	pthread_mutex_destroy(&p->st_mu);
	free(p);
}

int pp_fs_register(pp_pool *p, uint32_t fs, uint32_t block_size, const struct pp_fs_ops *ops,
		   void *arg)
{
	int slot = -1, rc = MM_OK;
	unsigned order = 0;

	if (!ops || !ops->map || block_size < PP_MIN_BLOCK || block_size > PP_MAX_BLOCK ||
	    (block_size & (block_size - 1)) || (uint64_t)block_size * 2 > pool_bytes(p))
		return MM_EINVAL;
	while ((UNIT << order) < block_size)
		order++;
	pthread_mutex_lock(&p->fs_mu);
	for (int i = 0; i < MAX_FS; i++) {
		bool used = atomic_load_explicit(&p->fs[i].used, memory_order_relaxed);

		if (used && atomic_load_explicit(&p->fs[i].id, memory_order_relaxed) == fs)
			rc = MM_EEXIST;
		if (!used && slot < 0)
			slot = i;
	}
	if (!rc && slot < 0)
		rc = MM_ETOOBIG;
	if (!rc) {
		struct pp_fs *f = &p->fs[slot];

		atomic_store_explicit(&f->id, fs, memory_order_relaxed);
		f->bsize = block_size;
		/* 1/32 of a block, but never below 4 KiB: NSD I/O is 4 KiB aligned */
		f->sub = block_size / PP_SUBBLOCKS < 4096 ? 4096 : block_size / PP_SUBBLOCKS;
		f->order = order;
		f->ops = *ops;
		f->arg = arg;
		atomic_store_explicit(&f->paused, false, memory_order_relaxed);
		atomic_store_explicit(&f->used, true, memory_order_release);
		if ((uint32_t)slot >= atomic_load_explicit(&p->nfs, memory_order_relaxed))
			atomic_store_explicit(&p->nfs, (uint32_t)slot + 1, memory_order_release);
	}
	pthread_mutex_unlock(&p->fs_mu);
	return rc;
}

int pp_fs_unregister(pp_pool *p, uint32_t fs)
{
	int rc = pp_drop_fs(p, fs);

	if (rc)
		return rc;
	pthread_mutex_lock(&p->fs_mu);
	for (int i = 0; i < MAX_FS; i++)
		if (atomic_load_explicit(&p->fs[i].used, memory_order_relaxed) &&
		    atomic_load_explicit(&p->fs[i].id, memory_order_relaxed) == fs)
			atomic_store_explicit(&p->fs[i].used, false, memory_order_release);
	pthread_mutex_unlock(&p->fs_mu);
	return MM_OK;
}

void pp_get_stats(pp_pool *p, struct pp_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = pool_bytes(p);
	st->max_size = p->maxsz;
	st->used = ld(&p->used);
	st->dirty_bytes = ld(&p->dirty_bytes);
	st->dirty_limit = dirty_limit(p);
	st->buffers = ld(&p->buffers);
	st->buffers_dirty = ld(&p->buffers_dirty);
	st->hits = ld(&p->hits);
	st->misses = ld(&p->misses);
	st->reads = ld(&p->reads);
	st->read_bytes = ld(&p->read_bytes);
	st->writes = ld(&p->writes);
	st->write_bytes = ld(&p->write_bytes);
	st->write_errors = ld(&p->write_errors);
	st->read_errors = ld(&p->read_errors);
	st->evictions = ld(&p->evictions);
	st->throttle_waits = ld(&p->throttle_waits);
	st->log_forces = ld(&p->log_forces);
	st->prefetch_issued = ld(&p->prefetch_issued);
	st->prefetch_used = ld(&p->prefetch_used);
	st->prefetch_wasted = ld(&p->prefetch_wasted);
	st->reader_waits = ld(&p->reader_waits);
	st->flushes = ld(&p->flushes);
	st->grows = ld(&p->grows);
	st->writers = p->nwriters;
	st->prefetch_threads = p->cfg.prefetch_threads;
	pthread_mutex_lock(&p->wb_mu);
	pp_wb_rate_add_locked(p, 0);
	st->flush_rate = p->wb_last_rate;
	pthread_mutex_unlock(&p->wb_mu);
}
