/*
 * pagepool/resize.c - pp_pool_resize (README.md "Resizing online").
 *
 * Map of this file:
 *   1. pool_grow: map, lock, describe, raise the buddy limit
 *   2. pool_shrink: lower the limit, empty what lies past it, give back
 *   3. pp_pool_resize
 */
#include "pagepool/pagepool_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static int pool_grow(pp_pool *p, uint32_t old, uint32_t n)
{
	uint8_t *lo = p->mem + (size_t)old * UNIT;
	size_t len = (size_t)(n - old) * UNIT;
	int rc;

	MM_ASSERT_HELD(&p->resize_mu);
	if (mprotect(lo, len, PROT_READ | PROT_WRITE) != 0) {
		mm_error(SUB, "cannot grow the pagepool by %zu bytes: %s", len, strerror(errno));
		return MM_ENOMEM;
	}
	if (p->locked && mlock(lo, len) != 0)
		mm_warn(SUB, "cannot lock the %zu bytes the pagepool grew by: %s (they may be paged)",
			len, strerror(errno));
	rc = pp_add_descs(p, n);
	if (rc) {
		if (p->locked)
			munlock(lo, len);
		mprotect(lo, len, PROT_NONE);
		return rc;
	}
	pthread_mutex_lock(&p->alloc_mu);
	pp_buddy_set_limit(&p->buddy, n);
	atomic_store_explicit(&p->memsz, (size_t)n * UNIT, memory_order_relaxed);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
	return MM_OK;
}

/*
 * Lower the limit first, so nothing new lands past it, then empty the
 * units past it: evict what is clean and idle, write what is dirty (in
 * batches, never waiting for a content lock, so the deadline holds), and
 * go round until no run is held there. Only then is the memory given back.
 * At the deadline the limit goes back up and MM_EBUSY says why.
 */
static int pool_shrink(pp_pool *p, uint32_t old, uint32_t n, unsigned timeout_ms)
{
	uint64_t deadline = mm_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct wb_batch *bt = pp_wb_batch_new(p, WB_BATCH);
	uint8_t *lo = p->mem + (size_t)n * UNIT;
	size_t len = (size_t)(old - n) * UNIT;
	bool held;

	MM_ASSERT_HELD(&p->resize_mu);
	if (!bt)
		return MM_ENOMEM;
	pthread_mutex_lock(&p->alloc_mu);
	pp_buddy_set_limit(&p->buddy, n);
	atomic_store_explicit(&p->memsz, (size_t)n * UNIT, memory_order_relaxed);
	pthread_mutex_unlock(&p->alloc_mu);
	for (;;) {
		for (uint32_t i = 0, nd = ndesc_of(p); i < nd; i++) {
			struct pp_buf *b = desc_at(p, i);
			bool in;

			pthread_mutex_lock(&p->alloc_mu);
			in = b->data && b->unit >= n && !pp_try_evict_locked(p, b);
			pthread_mutex_unlock(&p->alloc_mu);
			if (!in || !pp_pin_hashed(p, b))
				continue;
			if (pp_wb_add(bt, b, false, true) != WB_ADDED)
				unpin(b);
			else if (bt->n == bt->cap)
				pp_wb_write(bt);
		}
		pp_wb_write(bt);
		pthread_mutex_lock(&p->alloc_mu);
		held = pp_buddy_held_in(&p->buddy, n, old);
		if (held && mm_now_ns() > deadline) {
			pp_buddy_set_limit(&p->buddy, old);
			atomic_store_explicit(&p->memsz, (size_t)old * UNIT, memory_order_relaxed);
			pthread_cond_broadcast(&p->space);
		}
		pthread_mutex_unlock(&p->alloc_mu);
		if (!held)
			break;
		if (mm_now_ns() > deadline) {
			pp_wb_batch_free(bt);
			return MM_EBUSY;
		}
		mm_sleep_ms(2);
	}
	pp_wb_batch_free(bt);
	if (p->locked)
		munlock(lo, len);
	madvise(lo, len, MADV_DONTNEED);
	mprotect(lo, len, PROT_NONE);
	return MM_OK;
}

int pp_pool_resize(pp_pool *p, uint64_t size, unsigned timeout_ms)
{
	uint64_t step = (uint64_t)UNIT << PP_BUDDY_MAX_ORDER, need = 0;
	uint32_t old, n;
	int rc = MM_OK;

	size = size / step * step;
	if (size > p->maxsz)
		return MM_ETOOBIG;
	for (int i = 0; i < MAX_FS; i++)
		if (atomic_load_explicit(&p->fs[i].used, memory_order_acquire) &&
		    2ull * p->fs[i].bsize > need)
			need = 2ull * p->fs[i].bsize;
	if (size < step || size < need)
		return MM_EINVAL;
	n = (uint32_t)(size / UNIT);
	pthread_mutex_lock(&p->resize_mu);
	old = (uint32_t)(pool_bytes(p) / UNIT);
	if (n > old)
		rc = pool_grow(p, old, n);
	else if (n < old)
		rc = pool_shrink(p, old, n, timeout_ms);
	pthread_mutex_unlock(&p->resize_mu);
	if (rc)
		mm_warn(SUB, "pagepool stays %zu bytes, not %" PRIu64 ": %s", (size_t)old * UNIT, size,
			rc == MM_EBUSY ? "buffers past the new size stayed pinned" : mm_strerror(rc));
	else if (n != old)
		mm_notice(SUB, "pagepool resized from %zu to %" PRIu64 " bytes", (size_t)old * UNIT,
			  size);
	return rc;
}
