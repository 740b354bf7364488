/*
 * pagepool/pagepool.c - see pagepool.h and README.md (the numbered rules).
 *
 * Map of this file:
 *   1. types: pool, buffer descriptor, file systems, inode errors
 *   2. memory: descriptors and buddy runs, victim selection (clock)
 *   3. disk I/O: synchronous waits over the async backend
 *   4. write-back of one buffer (the write-ahead rule lives here)
 *   5. pp_get / pp_mark_dirty / pp_release
 *   6. flush, invalidate, drop
 *   7. write-behind threads, throttling
 *   8. create, destroy, registration, statistics
 *   9. resizing online
 *
 * Locks, in the order they may be taken:
 *   alloc_mu (descriptor free list, buddy, victim hand)
 *     -> part[i].mu (one hash partition: chains, and pins going up)
 *   b->content (rwlock, the data) -> b->mu (masks, I/O state)
 *   alloc_mu -> st_mu -> s->mu (a stream) -> part[i].mu (prefetch lookups)
 *   fs_mu, err_mu, wb_mu: leaves.
 * A pin is taken only under the partition lock, so whoever holds that lock
 * and sees pins == 0 may take the buffer out; pins go down atomically.
 */
#include "pagepool/pagepool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "pagepool/buddy.h"

#define SUB "pagepool"
#define NPART 64
#define MAX_FS 64
#define UNIT PP_MIN_BLOCK

/* ---- 1. types ---- */

struct pp_fs {
	bool used;
	uint32_t id;
	uint32_t bsize, sub;		/* block and subblock size */
	unsigned order;			/* buddy order of a block */
	struct pp_fs_ops ops;
	void *arg;
};

struct pp_buf {
	struct pp_tag tag;		/* fixed while in the hash */
	pp_pool *p;
	struct pp_fs *fs;
	uint8_t *data;			/* moves only under an exclusive content lock */
	uint32_t unit;
	uint8_t order;			/* of its memory run: a prefix of the block, or all
					 * of it (atomic: read without the content lock) */
	bool hashed;			/* written under the home partition's lock */
	uint8_t home;			/* partition it is hashed in (same) */
	int pins;			/* atomic; up only under the part lock */
	uint8_t usage;			/* clock usage count, atomic */
	struct pp_buf *hnext;		/* part lock */
	struct pp_buf *fnext;		/* alloc_mu: free descriptors */
	pthread_rwlock_t content;
	pthread_mutex_t mu;		/* guards what follows */
	pthread_cond_t cv;
	uint32_t valid, dirty;		/* subblock masks */
	uint64_t lsn;			/* journal record the dirty data needs durable */
	bool reading, writing;
	bool marked;			/* the exclusive holder dirtied it (content lock) */
	bool wb_seen;			/* partly dirty, passed over once by write-behind */
	uint32_t pf_id;			/* stream that prefetched it, until first read */
};

struct part {
	pthread_mutex_t mu;
	struct pp_buf **bucket;
};

struct ino_err {
	uint32_t fs;
	uint64_t ino;
	int rc;
	struct ino_err *next;
};

struct pp_pool {
	struct pp_config cfg;
	uint8_t *mem;			/* maxsz reserved, [0, memsz) usable */
	size_t memsz;			/* atomic: pp_pool_resize moves it */
	size_t maxsz;
	bool locked;
	uint32_t max_units;
	pthread_mutex_t resize_mu;	/* one resize at a time; before alloc_mu */

	pthread_mutex_t alloc_mu;
	pthread_cond_t space;		/* memory may have been freed */
	struct pp_buddy buddy;
	struct pp_buf **dchunk;		/* descriptors, DCHUNK per chunk, max_units in all */
	uint32_t ndesc;			/* made so far (atomic; grows with the pool) */
	uint32_t loose;			/* runs taken for a grow, not yet attached */
	struct pp_buf *free_descs;
	uint32_t hand;			/* clock */

	struct part part[NPART];
	uint32_t nbucket;		/* per partition, power of two */

	pthread_mutex_t fs_mu;		/* registration; lookups take none */
	struct pp_fs fs[MAX_FS];
	uint32_t nfs;			/* slots ever used (atomic) */

	pthread_mutex_t err_mu;
	struct ino_err *errs;

	pthread_mutex_t wb_mu;
	pthread_cond_t wb_kick, wb_clean;
	bool wb_stop;
	pthread_t *writers;
	unsigned nwriters;
	uint32_t wb_hand;
	uint64_t wb_sec, wb_sec_bytes, wb_last_rate;	/* flush rate, under wb_mu */

	mm_pool *pf_pool;		/* prefetch threads */
	pthread_mutex_t st_mu;		/* guards the stream list (a leaf but for s->mu) */
	struct pp_stream *streams;
	uint32_t next_stream_id;

	/* atomics */
	uint64_t prefetch_issued, prefetch_used, prefetch_wasted, reader_waits;
	uint64_t used, dirty_bytes, buffers, buffers_dirty;
	uint64_t hits, misses, reads, read_bytes, writes, write_bytes;
	uint64_t write_errors, read_errors, evictions, throttle_waits, log_forces, flushes, grows;
};

static void add(uint64_t *c, int64_t v)
{
	__atomic_add_fetch(c, (uint64_t)v, __ATOMIC_RELAXED);
}

static uint64_t ld(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#define DCHUNK 1024u

static struct pp_buf *desc_at(pp_pool *p, uint32_t i)
{
	return &p->dchunk[i / DCHUNK][i % DCHUNK];
}

static uint32_t ndesc_of(pp_pool *p)
{
	return __atomic_load_n(&p->ndesc, __ATOMIC_ACQUIRE);
}

static size_t pool_bytes(pp_pool *p)
{
	return __atomic_load_n(&p->memsz, __ATOMIC_RELAXED);
}

static uint32_t tag_hash(const struct pp_tag *t)
{
	uint64_t h = t->ino * 0x9E3779B97F4A7C15ull ^ (t->blk + 0x632BE59BD9B4E019ull) *
		     0xBF58476D1CE4E5B9ull ^ t->fs;

	h ^= h >> 31;
	return (uint32_t)(h ^ (h >> 17));
}

/* A descriptor's tag changes only while it is out of the hash, under
 * alloc_mu; it is read only with its home partition locked (lock_home) or
 * alloc_mu held, so no reader sees it change. The stores are atomic only
 * because scans may look at a descriptor that is being re-tagged before
 * they find it unhashed. */
static void tag_store(struct pp_buf *b, const struct pp_tag *t)
{
	__atomic_store_n(&b->tag.fs, t->fs, __ATOMIC_RELAXED);
	__atomic_store_n(&b->tag.ino, t->ino, __ATOMIC_RELAXED);
	__atomic_store_n(&b->tag.blk, t->blk, __ATOMIC_RELAXED);
}

static bool is_hashed(const struct pp_buf *b)
{
	return __atomic_load_n(&b->hashed, __ATOMIC_ACQUIRE);
}

static bool tag_eq(const struct pp_tag *a, const struct pp_tag *b)
{
	return a->fs == b->fs && a->ino == b->ino && a->blk == b->blk;
}

/* No lock: pp_get() calls this, and the hit path takes no global lock. A
 * slot's fields are written before its <used> is set (release), and stay
 * until the file system is unregistered, which its users must not race. */
static struct pp_fs *fs_get(pp_pool *p, uint32_t id)
{
	uint32_t n = __atomic_load_n(&p->nfs, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n; i++) {
		struct pp_fs *f = &p->fs[i];

		if (__atomic_load_n(&f->used, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&f->id, __ATOMIC_RELAXED) == id)
			return f;
	}
	return NULL;
}

/* Subblocks covering [off, off+len). */
static uint32_t sub_mask(const struct pp_fs *f, uint32_t off, uint32_t len)
{
	uint32_t first = off / f->sub, last = (off + len - 1) / f->sub;

	if (last - first + 1 >= 32)
		return UINT32_MAX;
	return ((1u << (last - first + 1)) - 1) << first;
}

static void record_error(pp_pool *p, uint32_t fs, uint64_t ino, int rc)
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

static int take_error(pp_pool *p, uint32_t fs, uint64_t ino)
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


struct pp_stream {
	pp_pool *p;
	struct pp_fs *f;
	uint32_t fs, id;
	uint64_t ino;
	struct pp_stream *next;		/* st_mu */
	pthread_mutex_t mu;		/* guards what follows */
	pthread_cond_t idle;
	uint64_t size;
	bool have_last;
	uint64_t last_off, last_len;
	int64_t last_delta;
	enum pp_pattern pat, cand;
	int agree;
	unsigned depth, max_depth;
	uint64_t fwd_hi, bwd_lo;	/* read-ahead frontiers, bytes */
	int64_t str_next;		/* next strided position not yet queued */
	unsigned inflight;
	uint64_t issued, used, wasted, waits;
	uint64_t svc_ns, gap_ns, last_ns;	/* moving averages */
};

/* The stream <id> is told one of its prefetched blocks was read (used) or
 * evicted unread (wasted: it reads ahead less). Called with no pool lock
 * but possibly alloc_mu (eviction): st_mu and s->mu are leaves. */
static void stream_note(pp_pool *p, uint32_t id, bool used)
{
	struct pp_stream *s;

	add(used ? &p->prefetch_used : &p->prefetch_wasted, 1);
	pthread_mutex_lock(&p->st_mu);
	for (s = p->streams; s && s->id != id; s = s->next)
		;
	if (s) {
		pthread_mutex_lock(&s->mu);
		if (used) {
			s->used++;
		} else {
			s->wasted++;
			if (s->depth > 1)
				s->depth /= 2;
		}
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&p->st_mu);
}

/* ---- 2. memory ---- */

static struct part *part_of(pp_pool *p, const struct pp_tag *t, uint32_t *bucket)
{
	uint32_t h = tag_hash(t);

	*bucket = (h / NPART) & (p->nbucket - 1);
	return &p->part[h % NPART];
}

/* With the part lock: take <b> out of its chain. */
static void unhash_locked(pp_pool *p, struct pp_buf *b)
{
	uint32_t bk;
	struct part *pt = part_of(p, &b->tag, &bk);
	struct pp_buf **pp;

	for (pp = &pt->bucket[bk]; *pp; pp = &(*pp)->hnext)
		if (*pp == b) {
			*pp = b->hnext;
			break;
		}
	b->hnext = NULL;
	__atomic_store_n(&b->hashed, false, __ATOMIC_RELEASE);
}

/*
 * Lock the partition <b> is hashed in and return it, or NULL if it is not
 * hashed. <hashed> is read before <home> (acquire): hashing stores home
 * first, so a buffer seen hashed is seen with its home, and while we hold
 * that partition's lock it stays there with a stable tag.
 */
static struct part *lock_home(pp_pool *p, struct pp_buf *b)
{
	for (;;) {
		struct part *pt;

		if (!is_hashed(b))
			return NULL;
		pt = &p->part[__atomic_load_n(&b->home, __ATOMIC_RELAXED)];
		pthread_mutex_lock(&pt->mu);
		if (is_hashed(b) && &p->part[__atomic_load_n(&b->home, __ATOMIC_RELAXED)] == pt)
			return pt;
		pthread_mutex_unlock(&pt->mu);
	}
}

/* With alloc_mu: give <b>'s memory and descriptor back. */
static void free_buf_locked(pp_pool *p, struct pp_buf *b)
{
	unsigned order = __atomic_load_n(&b->order, __ATOMIC_RELAXED);

	pp_buddy_release(&p->buddy, b->unit, order);
	add(&p->used, -(int64_t)((uint64_t)UNIT << order));
	add(&p->buffers, -1);
	b->data = NULL;
	b->fs = NULL;
	b->fnext = p->free_descs;
	p->free_descs = b;
}

/*
 * With alloc_mu: evict one clean, unpinned buffer chosen by the clock
 * (pagepool/README.md, "Victims"). Returns false if a whole sweep found
 * none. Buffers with a usage count get it lowered and are passed over once.
 */
/* With alloc_mu: take <b> out if it is unpinned, clean and idle. */
static bool try_evict_locked(pp_pool *p, struct pp_buf *b)
{
	struct part *pt = lock_home(p, b);
	uint32_t pf = 0;
	bool gone = false;

	if (!pt)
		return false;
	if (__atomic_load_n(&b->pins, __ATOMIC_ACQUIRE) == 0) {
		pthread_mutex_lock(&b->mu);
		if (!b->dirty && !b->reading && !b->writing) {
			unhash_locked(p, b);
			gone = true;
			pf = b->pf_id;
			b->pf_id = 0;
		}
		pthread_mutex_unlock(&b->mu);
	}
	pthread_mutex_unlock(&pt->mu);
	if (!gone)
		return false;
	free_buf_locked(p, b);
	add(&p->evictions, 1);
	if (pf)
		stream_note(p, pf, false);
	return true;
}

static bool evict_one_locked(pp_pool *p)
{
	/* First one lap for a buffer nobody uses (usage 0: what sequential
	 * readers and prefetch left behind), aging nothing on the way: while
	 * a scan supplies such buffers, the working set keeps its usage counts
	 * however long the scan. The lap is of descriptors (one per 64 KiB
	 * unit), most of them idle with large blocks: cheap atomic loads. */
	for (uint32_t n = 0; n < p->ndesc; n++) {
		struct pp_buf *b = desc_at(p, p->hand);

		p->hand = (p->hand + 1) % p->ndesc;
		if (is_hashed(b) && __atomic_load_n(&b->pins, __ATOMIC_ACQUIRE) == 0 &&
		    __atomic_load_n(&b->usage, __ATOMIC_RELAXED) == 0 && try_evict_locked(p, b))
			return true;
	}
	for (uint32_t n = 0; n < 6 * p->ndesc; n++) {
		struct pp_buf *b = desc_at(p, p->hand);

		p->hand = (p->hand + 1) % p->ndesc;
		if (!is_hashed(b) || __atomic_load_n(&b->pins, __ATOMIC_ACQUIRE) > 0)
			continue;
		if (__atomic_load_n(&b->usage, __ATOMIC_RELAXED) > 0) {
			__atomic_sub_fetch(&b->usage, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (try_evict_locked(p, b))
			return true;
	}
	return false;
}

static void wb_kick(pp_pool *p)
{
	pthread_mutex_lock(&p->wb_mu);
	pthread_cond_broadcast(&p->wb_kick);
	pthread_mutex_unlock(&p->wb_mu);
}

/* With alloc_mu: the first unit of a free run of 2^<order> units (and a
 * free descriptor too if <desc>), evicting and waiting for write-behind
 * as needed. */
static uint32_t take_run_locked(pp_pool *p, unsigned order, bool desc)
{
	int64_t unit;

	for (;;) {
		unit = !desc || p->free_descs ? pp_buddy_alloc(&p->buddy, order) : -1;
		if (unit >= 0)
			break;
		if (evict_one_locked(p))
			continue;
		/* everything is pinned or dirty: let write-behind clean some */
		{
			struct timespec ts;

			pthread_mutex_unlock(&p->alloc_mu);
			wb_kick(p);
			pthread_mutex_lock(&p->alloc_mu);
			ts = mm_deadline_ts(CLOCK_REALTIME, 10 * 1000000);
			pthread_cond_timedwait(&p->space, &p->alloc_mu, &ts);
		}
	}
	add(&p->used, (int64_t)((uint64_t)UNIT << order));
	return (uint32_t)unit;
}

/* A descriptor with a run of 2^<order> units of memory (all of a block of
 * <f>, or a prefix of it) tagged <t>, not yet in the hash. */
static struct pp_buf *alloc_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t,
			       uint8_t usage, unsigned order)
{
	struct pp_buf *b = NULL;
	uint32_t unit;

	pthread_mutex_lock(&p->alloc_mu);
	unit = take_run_locked(p, order, true);
	b = p->free_descs;
	p->free_descs = b->fnext;
	b->fnext = NULL;
	b->unit = unit;
	__atomic_store_n(&b->order, (uint8_t)order, __ATOMIC_RELAXED);
	b->data = p->mem + (size_t)unit * UNIT;
	b->fs = f;
	tag_store(b, t);
	pthread_mutex_lock(&b->mu);
	b->valid = b->dirty = 0;
	b->lsn = 0;
	b->reading = b->writing = false;
	b->marked = false;
	b->wb_seen = false;
	b->pf_id = 0;
	pthread_mutex_unlock(&b->mu);
	__atomic_store_n(&b->usage, usage, __ATOMIC_RELAXED);
	__atomic_store_n(&b->pins, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->alloc_mu);
	add(&p->buffers, 1);
	return b;
}

/* Bytes of the block <b>'s memory holds (from the block's start). */
static uint32_t cap_of(const struct pp_buf *b)
{
	return UNIT << __atomic_load_n(&b->order, __ATOMIC_RELAXED);
}

/* Subblocks that lie in <b>'s memory. */
static uint32_t cap_mask(const struct pp_buf *b)
{
	uint32_t n = cap_of(b) / b->fs->sub;

	return n >= 32 ? UINT32_MAX : (1u << n) - 1;
}

/* The buddy order of a buffer of <f> holding at least [0, bytes). */
static unsigned order_for(const struct pp_fs *f, uint32_t bytes)
{
	unsigned order = 0;

	if (bytes < f->sub)
		bytes = f->sub;
	while (order < f->order && (UNIT << order) < bytes)
		order++;
	return order;
}

/*
 * Give pinned buffer <b> memory for at least [0, end) of its block: a
 * larger run, the old bytes copied over (README rule 10). Exclusive
 * content lock for the move: whoever looks at b->data holds the content
 * lock, so nobody sees it change.
 */
static void grow_buf(pp_pool *p, struct pp_buf *b, uint32_t end)
{
	unsigned order = order_for(b->fs, end), old_order;
	uint32_t unit, old_unit;

	pthread_mutex_lock(&p->alloc_mu);
	unit = take_run_locked(p, order, false);
	p->loose++;	/* a shrinking pool waits for it to be attached */
	pthread_mutex_unlock(&p->alloc_mu);
	pthread_rwlock_wrlock(&b->content);
	old_order = __atomic_load_n(&b->order, __ATOMIC_RELAXED);
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
		__atomic_store_n(&b->order, (uint8_t)order, __ATOMIC_RELAXED);
		add(&p->grows, 1);
	}
	p->loose--;
	pp_buddy_release(&p->buddy, old_unit, old_order);
	add(&p->used, -(int64_t)((uint64_t)UNIT << old_order));
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
	pthread_rwlock_unlock(&b->content);
}

static void release_unused(pp_pool *p, struct pp_buf *b)
{
	pthread_mutex_lock(&p->alloc_mu);
	free_buf_locked(p, b);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
}

/* ---- 3. disk I/O ---- */

/* Requests in flight for one waiting thread (a read, a write-behind
 * batch): set to their number before the first is submitted, counted
 * down by the completions, which keep the first error in a slot of the
 * caller's under the latch's lock. */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned left;
};

static void latch_init(struct latch *l)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->left = 0;
}

static void latch_destroy(struct latch *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

static void latch_set(struct latch *l, unsigned n)
{
	pthread_mutex_lock(&l->mu);
	l->left = n;
	pthread_mutex_unlock(&l->mu);
}

static void latch_down(struct latch *l, int *slot, int rc)
{
	pthread_mutex_lock(&l->mu);
	if (rc && !*slot)
		*slot = rc;
	if (--l->left == 0)
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->left > 0)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

/* Submit <io>; a refusal completes it at once with the error. */
static void submit_io(pp_pool *p, struct pp_io *io)
{
	int rc = p->cfg.io.submit(p->cfg.io_arg, io);

	if (rc)
		io->done(io, rc);
}

struct io_wait {
	struct latch l;
	int rc;
};

static void io_done(struct pp_io *io, int rc)
{
	struct io_wait *w = io->arg;

	latch_down(&w->l, &w->rc, rc);
}

/* Requests for the subblocks of <mask> of <b> on replica <r> of <m>, one
 * per run of adjacent subblocks, into <ios> (room for PP_SUBBLOCKS / 2 + 1:
 * the most runs a mask has); their number. */
static unsigned build_ios(struct pp_buf *b, uint32_t mask, bool write, const struct pp_map *m,
			  int r, struct pp_io *ios, void (*done)(struct pp_io *, int), void *arg)
{
	struct pp_fs *f = b->fs;
	unsigned n = 0;

	for (unsigned s = 0; s < PP_SUBBLOCKS;) {
		unsigned e = s;

		if (!(mask & (1u << s))) {
			s++;
			continue;
		}
		while (e + 1 < PP_SUBBLOCKS && (mask & (1u << (e + 1))))
			e++;
		ios[n++] = (struct pp_io){
			.nsd_id = m->rep[r].nsd_id,
			.offset = m->rep[r].offset + (uint64_t)s * f->sub,
			.len = (size_t)(e - s + 1) * f->sub,
			.buf = b->data + (size_t)s * f->sub,
			.write = write,
			.done = done,
			.arg = arg,
		};
		s = e + 1;
	}
	return n;
}

#define RUNS_MAX (PP_SUBBLOCKS / 2 + 1)

/* Read the subblocks of <mask> of <b> from replica <r> of <m>; blocks
 * until all completed; the first error. */
static int read_rep(pp_pool *p, struct pp_buf *b, uint32_t mask, const struct pp_map *m, int r)
{
	struct pp_io ios[RUNS_MAX];
	struct io_wait w = {.rc = 0};
	unsigned n;

	latch_init(&w.l);
	n = build_ios(b, mask, false, m, r, ios, io_done, &w);
	latch_set(&w.l, n);
	for (unsigned i = 0; i < n; i++)
		submit_io(p, &ios[i]);
	latch_wait(&w.l);
	latch_destroy(&w.l);
	for (unsigned i = 0; i < n; i++) {
		add(&p->reads, 1);
		add(&p->read_bytes, (int64_t)ios[i].len);
	}
	return w.rc;
}

/* Read the subblocks of <mask> of <b> from the first replica that succeeds
 * (in map order); a hole reads as zeros. */
static int read_subblocks(pp_pool *p, struct pp_buf *b, uint32_t mask)
{
	struct pp_fs *f = b->fs;
	struct pp_map m = {0};
	int rc;

	rc = f->ops.map(f->arg, &b->tag, &m);
	if (rc == MM_ENOENT) {
		for (unsigned s = 0; s < PP_SUBBLOCKS; s++)
			if (mask & (1u << s))
				memset(b->data + (size_t)s * f->sub, 0, f->sub);
		return MM_OK;
	}
	if (rc)
		return rc;
	if (m.nrep < 1 || m.nrep > PP_MAX_REPLICAS)
		return MM_EINVAL;
	for (int r = 0; r < m.nrep; r++) {
		rc = read_rep(p, b, mask, &m, r);
		if (!rc)
			break;
	}
	return rc;
}

static void unpin(struct pp_buf *b)
{
	__atomic_sub_fetch(&b->pins, 1, __ATOMIC_RELEASE);
}

/* ---- 4. write-back, in ordered batches ----
 *
 * A batch is a set of dirty buffers one thread (a write-behind thread, or
 * one doing a flush) holds pinned and content-locked shared (rule 6). It
 * is sorted by tag, so each disk sees a file's blocks in order; the
 * journal is forced once per file system to the highest LSN in it (rule
 * 5); then every request of every buffer is submitted and the thread
 * waits for all, and lets the buffers go. Locking shared and unlocking
 * happen on that one thread, as pthread rwlocks require.
 */
#define WB_BATCH 16		/* buffers a batch holds at most */

struct wb_batch;

struct wb_item {
	struct pp_buf *b;
	struct wb_batch *bt;
	uint32_t mask;			/* the subblocks being written */
	uint64_t lsn;
	int rc;				/* first error, under bt->l.mu once submitted */
	unsigned nio;
	struct pp_io io[RUNS_MAX * PP_MAX_REPLICAS];
};

struct wb_batch {
	pp_pool *p;
	struct latch l;			/* its requests in flight */
	unsigned n, cap;
	uint64_t bytes;			/* of the buffers in it */
	struct wb_item item[];
};

enum wb_claim { WB_ADDED, WB_SKIPPED, WB_BUSY };

static struct wb_batch *wb_batch_new(pp_pool *p, unsigned cap)
{
	struct wb_batch *bt = NULL;

	for (; cap > 0 && !bt; cap /= 2)
		bt = calloc(1, sizeof(*bt) + cap * sizeof(bt->item[0]));
	if (!bt)
		return NULL;
	bt->p = p;
	bt->cap = cap * 2;
	latch_init(&bt->l);
	return bt;
}

static void wb_batch_free(struct wb_batch *bt)
{
	if (!bt)
		return;
	latch_destroy(&bt->l);
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
static enum wb_claim wb_add(struct wb_batch *bt, struct pp_buf *b, bool wait, bool partial)
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

	latch_down(&it->bt->l, &it->rc, rc);
}

/* With wb_mu: <bytes> were written now. The rate shown is what the last
 * whole second wrote: one bucket per second, no history to keep. */
static void rate_add(pp_pool *p, uint64_t bytes)
{
	uint64_t sec = mm_now_ns() / 1000000000ull;

	if (sec != p->wb_sec) {
		p->wb_last_rate = sec == p->wb_sec + 1 ? p->wb_sec_bytes : 0;
		p->wb_sec = sec;
		p->wb_sec_bytes = 0;
	}
	p->wb_sec_bytes += bytes;
}

static int item_cmp(const void *a, const void *b)
{
	const struct pp_tag *x = &((const struct wb_item *)a)->b->tag;
	const struct pp_tag *y = &((const struct wb_item *)b)->b->tag;

	if (x->fs != y->fs)
		return x->fs < y->fs ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->blk < y->blk ? -1 : x->blk > y->blk;
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
		record_error(p, b->tag.fs, b->tag.ino, it->rc);
		mm_error(SUB, "write-behind of fs %u inode %" PRIu64 " block %" PRIu64 " failed: %s "
			 "(reported to the next fsync)", b->tag.fs, b->tag.ino, b->tag.blk,
			 mm_strerror(it->rc));
	}
	pthread_mutex_lock(&b->mu);
	b->writing = false;
	if (!b->dirty)
		add(&p->buffers_dirty, -1);
	add(&p->dirty_bytes, -(int64_t)((uint64_t)__builtin_popcount(it->mask) * b->fs->sub));
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_rwlock_unlock(&b->content);
	unpin(b);
}

/* Write batch <bt> and empty it (see above). Errors are recorded on the
 * inodes (rule 7): a flush returns them. */
static void wb_write(struct wb_batch *bt)
{
	pp_pool *p = bt->p;
	unsigned n = bt->n, total = 0;
	uint64_t written = 0;

	if (n == 0)
		return;
	qsort(bt->item, n, sizeof(bt->item[0]), item_cmp);
	for (unsigned i = 0, j; i < n; i = j) {
		struct pp_fs *f = bt->item[i].b->fs;
		uint64_t lsn = 0;
		int rc = 0;

		for (j = i; j < n && bt->item[j].b->fs == f; j++)
			if (bt->item[j].lsn > lsn)
				lsn = bt->item[j].lsn;
		if (lsn && f->ops.log_force) {
			add(&p->log_forces, 1);
			rc = f->ops.log_force(f->arg, lsn);
		}
		for (unsigned k = i; k < j; k++)
			bt->item[k].rc = rc;
	}
	for (unsigned i = 0; i < n; i++) {
		struct wb_item *it = &bt->item[i];
		struct pp_fs *f = it->b->fs;
		struct pp_map m = {0};

		it->nio = 0;
		if (it->rc)
			continue;
		it->rc = f->ops.map(f->arg, &it->b->tag, &m);
		if (!it->rc && (m.nrep < 1 || m.nrep > PP_MAX_REPLICAS))
			it->rc = MM_EINVAL;
		for (int r = 0; !it->rc && r < m.nrep; r++)
			it->nio += build_ios(it->b, it->mask, true, &m, r, it->io + it->nio,
					     wb_io_done, it);
		total += it->nio;
	}
	/* count every request before the first can complete */
	latch_set(&bt->l, total);
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < bt->item[i].nio; k++)
			submit_io(p, &bt->item[i].io[k]);
	latch_wait(&bt->l);
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < bt->item[i].nio; k++)
			written += bt->item[i].io[k].len;
	for (unsigned i = 0; i < n; i++)
		wb_finish(p, &bt->item[i]);
	bt->n = 0;
	bt->bytes = 0;
	pthread_mutex_lock(&p->wb_mu);
	rate_add(p, written);
	pthread_cond_broadcast(&p->wb_clean);
	pthread_mutex_unlock(&p->wb_mu);
	pthread_mutex_lock(&p->alloc_mu);
	pthread_cond_broadcast(&p->space);
	pthread_mutex_unlock(&p->alloc_mu);
}

/* Write pinned buffer <b> if it is dirty, waiting for its content lock and
 * for a write of it in flight, and unpin it: a batch of one, for a thread
 * that holds no other buffer. */
static void write_back(pp_pool *p, struct pp_buf *b)
{
	struct wb_batch *bt = wb_batch_new(p, 1);

	if (!bt) {
		mm_error(SUB, "out of memory writing fs %u inode %" PRIu64 " block %" PRIu64,
			 b->tag.fs, b->tag.ino, b->tag.blk);
		record_error(p, b->tag.fs, b->tag.ino, MM_ENOMEM);
		unpin(b);
		return;
	}
	if (wb_add(bt, b, true, true) == WB_ADDED)
		wb_write(bt);
	else
		unpin(b);
	wb_batch_free(bt);
}

/* ---- 5. get, dirty, release ---- */

/* Pinned buffer for <t>, made if absent: then as large as the block, or
 * as the part of it the file uses (pp_map.len) if that is less, but at
 * least [0, end). */
static struct pp_buf *pin_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, bool bump,
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
		__atomic_add_fetch(&b->pins, 1, __ATOMIC_ACQUIRE);
		if (bump && __atomic_load_n(&b->usage, __ATOMIC_RELAXED) < 5)
			__atomic_add_fetch(&b->usage, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&pt->mu);
		*hit = true;
		return b;
	}
	pthread_mutex_unlock(&pt->mu);
	rc = f->ops.map(f->arg, t, &m);
	if ((rc == MM_OK || rc == MM_ENOENT) && m.len > 0 && m.len < f->bsize)
		want = m.len < end ? end : m.len;
	nb = alloc_buf(p, f, t, new_usage, order_for(f, want));
	pthread_mutex_lock(&pt->mu);
	for (b = pt->bucket[bk]; b && !tag_eq(&b->tag, t); b = b->hnext)
		;
	if (b) {
		/* another thread made it meanwhile */
		__atomic_add_fetch(&b->pins, 1, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&pt->mu);
		release_unused(p, nb);
		*hit = true;
		return b;
	}
	__atomic_store_n(&nb->pins, 1, __ATOMIC_RELAXED);
	nb->hnext = pt->bucket[bk];
	pt->bucket[bk] = nb;
	__atomic_store_n(&nb->home, (uint8_t)(pt - p->part), __ATOMIC_RELAXED);
	__atomic_store_n(&nb->hashed, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pt->mu);
	*hit = false;
	return nb;
}

/* Make the subblocks of <need> valid, reading what is missing. The caller
 * holds the content lock (either mode). With <take_pf>, a real read: hand
 * back and clear the prefetch mark in the same critical section (the hit
 * path takes b->mu once). */
static int make_valid(pp_pool *p, struct pp_buf *b, uint32_t need, uint32_t pf_id, bool *waited,
		      uint32_t *take_pf)
{
	uint32_t missing;
	int rc = 0;

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
		if (pf_id && !b->pf_id)
			b->pf_id = pf_id;	/* marked before the data lands: a reader
						 * that waits for it sees the mark */
		pthread_mutex_unlock(&b->mu);
		rc = read_subblocks(p, b, missing);
		pthread_mutex_lock(&b->mu);
		b->reading = false;
		if (!rc)
			b->valid |= missing;
		pthread_cond_broadcast(&b->cv);
		if (rc)
			break;
	}
	if (!rc && take_pf) {
		*take_pf = b->pf_id;
		b->pf_id = 0;
	}
	pthread_mutex_unlock(&b->mu);
	if (rc) {
		add(&p->read_errors, 1);
		mm_error(SUB, "read of fs %u inode %" PRIu64 " block %" PRIu64 " failed: %s",
			 b->tag.fs, b->tag.ino, b->tag.blk, mm_strerror(rc));
	}
	return rc;
}

static int lock_buf(pp_pool *p, struct pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode,
		    bool bump, uint32_t pf_id, bool hit, void **data, bool *waited);

/*
 * pp_get with the prefetch details: <bump> raises the clock usage on a hit
 * (not for sequential readers), <pf_id> marks a prefetch load (the buffer
 * remembers the stream until its first real read), *waited says the
 * caller had to wait for a read.
 */
static int get_buf(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len,
		   enum pp_mode mode, bool bump, uint32_t pf_id, pp_buf **out, void **data,
		   bool *waited)
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
	/* scan resistance: what a sequential reader brings in goes first; a
	 * prefetched block is kept one sweep of the clock until it is read */
	b = pin_buf(p, f, t, bump && !pf_id, bump || pf_id ? 1 : 0, off + len, &hit);
	rc = lock_buf(p, b, off, len, mode, bump, pf_id, hit, data, waited);
	if (rc) {
		unpin(b);
		return rc;
	}
	*out = b;
	return MM_OK;
}

/*
 * Content-lock pinned buffer <b> in <mode> with [off, off+len) valid (the
 * rest of get_buf; <hit>: the buffer was found, not made). On an error
 * the lock is dropped and the pin kept.
 */
static int lock_buf(pp_pool *p, struct pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode,
		    bool bump, uint32_t pf_id, bool hit, void **data, bool *waited)
{
	struct pp_fs *f = b->fs;
	uint32_t need, edges = 0, was_pf = 0;
	int rc;

	*waited = false;
	for (;;) {
		if (cap_of(b) < off + len)
			grow_buf(p, b, off + len);
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
		rc = edges ? make_valid(p, b, edges, pf_id, waited, NULL) : MM_OK;
		if (!rc) {
			pthread_mutex_lock(&b->mu);
			b->valid |= need;
			if (!pf_id) {
				was_pf = b->pf_id;
				b->pf_id = 0;
			}
			pthread_mutex_unlock(&b->mu);
		}
	} else {
		rc = make_valid(p, b, need, pf_id, waited, pf_id ? NULL : &was_pf);
		hit = hit && !*waited;
	}
	if (!pf_id)
		add(hit ? &p->hits : &p->misses, 1);
	if (rc) {
		pthread_rwlock_unlock(&b->content);
		return rc;
	}
	/* read once by a sequential reader: first to go now */
	if (was_pf && !bump)
		__atomic_store_n(&b->usage, 0, __ATOMIC_RELAXED);
	if (was_pf)
		stream_note(p, was_pf, true);
	*data = b->data;
	return MM_OK;
}

int pp_get(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len, enum pp_mode mode,
	   pp_buf **out, void **data)
{
	bool waited;

	return get_buf(p, t, off, len, mode, true, 0, out, data, &waited);
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
	pthread_mutex_lock(&b->mu);
	added = mask & ~b->dirty;
	if (!b->dirty && added)
		add(&b->p->buffers_dirty, 1);
	b->dirty |= mask;
	b->valid |= mask;
	b->marked = true;
	if (lsn > b->lsn)
		b->lsn = lsn;
	pthread_mutex_unlock(&b->mu);
	add(&b->p->dirty_bytes, (int64_t)((uint64_t)__builtin_popcount(added) * f->sub));
}

static uint64_t dirty_limit(pp_pool *p)
{
	return pool_bytes(p) / 100 * p->cfg.dirty_pct;
}

int pp_lock(pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode, void **data)
{
	bool waited;

	*data = NULL;
	if (len == 0 || off >= b->fs->bsize || len > b->fs->bsize - off)
		return MM_EINVAL;
	return lock_buf(b->p, b, off, len, mode, true, 0, true, data, &waited);
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
	bool dirtied;

	/* only an exclusive holder sets it, so a shared holder reads false */
	dirtied = b->marked;
	if (dirtied)
		b->marked = false;
	pthread_rwlock_unlock(&b->content);
	if (drop_pin)
		unpin(b);
	if (!dirtied)
		return;
	/* throttle writers past the dirty limit, holding no content lock: a
	 * pin does not stop write-behind, so it can clean what we dirtied */
	if (ld(&p->dirty_bytes) > dirty_limit(p) / 2)
		wb_kick(p);
	if (ld(&p->dirty_bytes) > dirty_limit(p)) {
		add(&p->throttle_waits, 1);
		pthread_mutex_lock(&p->wb_mu);
		while (ld(&p->dirty_bytes) > dirty_limit(p) && !p->wb_stop) {
			struct timespec ts = mm_deadline_ts(CLOCK_REALTIME, 50 * 1000000);

			pthread_cond_broadcast(&p->wb_kick);
			pthread_cond_timedwait(&p->wb_clean, &p->wb_mu, &ts);
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

/* ---- 5b. prefetch streams ---- */

struct pf_job {
	struct pp_stream *s;
	uint64_t blk;
	uint32_t off, len;
};

static void pf_run(void *arg)
{
	struct pf_job *j = arg;
	struct pp_stream *s = j->s;
	struct pp_tag t = {s->fs, s->ino, j->blk};
	uint64_t t0 = mm_now_ns();
	pp_buf *b;
	void *data;
	bool waited;

	if (get_buf(s->p, &t, j->off, j->len, PP_READ, false, s->id, &b, &data, &waited) == 0)
		pp_release(b);
	pthread_mutex_lock(&s->mu);
	if (waited) {
		uint64_t ns = mm_now_ns() - t0;

		s->svc_ns = s->svc_ns ? (7 * s->svc_ns + ns) / 8 : ns;
	}
	if (--s->inflight == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	free(j);
}

/* [off, off+len) of block <t> is in the pool already, or being read. */
static bool is_cached(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, uint32_t off,
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

/* With s->mu: queue a prefetch of [off, off+len) of block <blk>; false if
 * it could not be queued now (the caller tries again at the next access).
 * What the pool has already costs a lookup, not a job. */
static bool pf_queue(struct pp_stream *s, uint64_t blk, uint32_t off, uint32_t len)
{
	struct pp_tag t = {s->fs, s->ino, blk};
	struct pf_job *j;

	if (len == 0 || is_cached(s->p, s->f, &t, off, len))
		return true;
	if (s->inflight >= 2 * s->max_depth + 2)
		return false;
	j = malloc(sizeof(*j));
	if (!j)
		return false;
	*j = (struct pf_job){s, blk, off, len};
	s->inflight++;
	if (mm_pool_try_submit(s->p->pf_pool, pf_run, j) != MM_OK) {
		s->inflight--;
		free(j);
		return false;
	}
	s->issued++;
	add(&s->p->prefetch_issued, 1);
	return true;
}

/* With s->mu: queue the bytes [pos, pos+len) of the file, split by block;
 * false if some could not be queued. */
static bool pf_range(struct pp_stream *s, uint64_t pos, uint64_t len)
{
	uint32_t bs = s->f->bsize;

	if (pos >= s->size)
		return true;
	if (len > s->size - pos)
		len = s->size - pos;
	while (len > 0) {
		uint32_t in = (uint32_t)(pos % bs);
		uint32_t n = len < (uint64_t)(bs - in) ? (uint32_t)len : bs - in;

		if (!pf_queue(s, pos / bs, in, n))
			return false;
		pos += n;
		len -= n;
	}
	return true;
}

/* With s->mu: what the access at [off, off+len) says about the pattern. */
static void classify(struct pp_stream *s, uint64_t off, uint64_t len)
{
	enum pp_pattern cand;
	int64_t delta = (int64_t)(off - s->last_off);

	if (!s->have_last) {
		s->have_last = true;
		s->last_off = off;
		s->last_len = len;
		return;
	}
	if (off >= s->last_off && off <= s->last_off + s->last_len)
		cand = PP_PAT_FORWARD;
	else if (off < s->last_off && off + len >= s->last_off)
		cand = PP_PAT_BACKWARD;
	else if (delta == s->last_delta && delta != 0 &&
		 (uint64_t)(delta < 0 ? -delta : delta) > len)
		cand = PP_PAT_STRIDED;
	else
		cand = PP_PAT_RANDOM;
	s->agree = cand == s->cand ? s->agree + 1 : 1;
	s->cand = cand;
	if (cand == PP_PAT_RANDOM) {
		s->pat = PP_PAT_RANDOM;	/* stop at once */
	} else if (cand != s->pat && (s->agree >= 2 || cand == PP_PAT_STRIDED)) {
		/* strided needs three accesses to be seen at all: enough */
		s->pat = cand;
		s->fwd_hi = 0;
		s->bwd_lo = UINT64_MAX;
		s->str_next = 0;
		if (s->depth < 2)
			s->depth = 2;
	}
	s->last_delta = delta;
	s->last_off = off;
	s->last_len = len;
}

/* With s->mu: read ahead from the access at [off, off+len). */
static void read_ahead(struct pp_stream *s, uint64_t off, uint64_t len)
{
	uint64_t bs = s->f->bsize, depth = s->depth;

	if (s->svc_ns && s->gap_ns) {
		/* cover one read's service time at the reader's pace */
		uint64_t want = s->svc_ns / s->gap_ns + 1;

		if (want > depth)
			depth = want < s->max_depth ? want : s->max_depth;
	}
	switch (s->pat) {
	case PP_PAT_FORWARD: {
		uint64_t from = (off + len + bs - 1) / bs * bs, to = from + depth * bs;

		uint64_t q;

		if (from < s->fwd_hi)
			from = s->fwd_hi;
		/* the frontier moves only over what was queued */
		for (q = from; q < to && q < s->size; q += bs)
			if (!pf_range(s, q, bs))
				break;
		if (q > s->fwd_hi)
			s->fwd_hi = q;
		break;
	}
	case PP_PAT_BACKWARD: {
		uint64_t cur = off / bs * bs, lo = cur > depth * bs ? cur - depth * bs : 0;
		uint64_t from = cur < s->bwd_lo ? cur : s->bwd_lo;

		uint64_t q;

		for (q = from; q > lo; q -= bs)
			if (!pf_range(s, q - bs, bs))
				break;
		if (q < s->bwd_lo)
			s->bwd_lo = q;
		break;
	}
	case PP_PAT_STRIDED: {
		int64_t stride = s->last_delta;

		for (uint64_t k = 1; k <= depth; k++) {
			int64_t pos = (int64_t)off + (int64_t)k * stride;

			if (pos < 0 || (uint64_t)pos >= s->size)
				break;
			if (stride > 0 ? pos < s->str_next : (s->str_next && pos > s->str_next))
				continue;
			if (!pf_range(s, (uint64_t)pos, len))
				break;
			s->str_next = stride > 0 ? pos + 1 : pos - 1;
		}
		break;
	}
	default:
		break;
	}
}

int pp_stream_open(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t file_size, pp_stream **out)
{
	struct pp_fs *f = fs_get(p, fs);
	struct pp_stream *s;
	uint64_t max;

	if (!f)
		return MM_ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return MM_ENOMEM;
	s->p = p;
	s->f = f;
	s->fs = fs;
	s->ino = ino;
	s->size = file_size;
	s->depth = 2;
	max = pool_bytes(p) / 100 * p->cfg.prefetch_pct / f->bsize;
	s->max_depth = max < 1 ? 1 : max > 1024 ? 1024 : (unsigned)max;
	if (s->depth > s->max_depth)
		s->depth = s->max_depth;
	s->bwd_lo = UINT64_MAX;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_mutex_lock(&p->st_mu);
	s->id = ++p->next_stream_id ? p->next_stream_id : ++p->next_stream_id;
	s->next = p->streams;
	p->streams = s;
	pthread_mutex_unlock(&p->st_mu);
	*out = s;
	return MM_OK;
}

void pp_stream_close(pp_stream *s)
{
	pp_pool *p;
	struct pp_stream **pp;

	if (!s)
		return;
	p = s->p;
	pthread_mutex_lock(&p->st_mu);
	for (pp = &p->streams; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	pthread_mutex_unlock(&p->st_mu);
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->idle);
	free(s);
}

void pp_stream_set_size(pp_stream *s, uint64_t file_size)
{
	pthread_mutex_lock(&s->mu);
	s->size = file_size;
	pthread_mutex_unlock(&s->mu);
}

int pp_stream_get(pp_stream *s, uint64_t blk, uint32_t off, uint32_t len, pp_buf **out,
		  void **data)
{
	struct pp_tag t = {s->fs, s->ino, blk};
	uint64_t pos = blk * s->f->bsize + off, now = mm_now_ns();
	enum pp_pattern pat;
	bool seq, waited;
	int rc;

	if (len == 0 || off >= s->f->bsize || len > s->f->bsize - off)
		return MM_EINVAL;	/* before it can move the stream */
	pthread_mutex_lock(&s->mu);
	if (s->last_ns) {
		uint64_t gap = now - s->last_ns;

		s->gap_ns = s->gap_ns ? (7 * s->gap_ns + gap) / 8 : gap;
	}
	s->last_ns = now;
	classify(s, pos, len);
	read_ahead(s, pos, len);
	pat = s->pat;
	seq = pat == PP_PAT_FORWARD || pat == PP_PAT_BACKWARD;
	pthread_mutex_unlock(&s->mu);

	rc = get_buf(s->p, &t, off, len, PP_READ, !seq, 0, out, data, &waited);
	if (rc == 0 && waited) {
		add(&s->p->reader_waits, 1);
		pthread_mutex_lock(&s->mu);
		s->waits++;
		/* the reader waited on a pattern: read further ahead */
		if (pat != PP_PAT_RANDOM && pat != PP_PAT_NONE)
			s->depth = s->depth * 2 < s->max_depth ? s->depth * 2 : s->max_depth;
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

void pp_stream_get_info(pp_stream *s, struct pp_stream_info *out)
{
	pthread_mutex_lock(&s->mu);
	*out = (struct pp_stream_info){
		.pattern = s->pat,
		.stride = s->pat == PP_PAT_STRIDED ? s->last_delta : 0,
		.depth = s->depth,
		.issued = s->issued,
		.used = s->used,
		.wasted = s->wasted,
		.waits = s->waits,
	};
	pthread_mutex_unlock(&s->mu);
}

/* ---- 6. flush, invalidate, drop ---- */

static bool in_range(const struct pp_tag *t, uint32_t fs, uint64_t ino, bool any_ino,
		     uint64_t lo, uint64_t hi)
{
	return t->fs == fs && (any_ino || t->ino == ino) && t->blk >= lo && t->blk < hi;
}

/* Pin descriptor <b> if it is hashed, whatever its tag. */
static bool pin_hashed(pp_pool *p, struct pp_buf *b)
{
	struct part *pt = lock_home(p, b);

	if (!pt)
		return false;
	__atomic_add_fetch(&b->pins, 1, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&pt->mu);
	return true;
}

/* Pin descriptor <b> if it is hashed and matches; false otherwise. */
static bool pin_if(pp_pool *p, struct pp_buf *b, uint32_t fs, uint64_t ino, bool any_ino,
		   uint64_t lo, uint64_t hi)
{
	struct part *pt = lock_home(p, b);
	bool ok;

	if (!pt)
		return false;
	ok = in_range(&b->tag, fs, ino, any_ino, lo, hi);
	if (ok)
		__atomic_add_fetch(&b->pins, 1, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&pt->mu);
	return ok;
}

/* Write every dirty buffer in the range, in batches, and wait. */
static void flush_scan(pp_pool *p, uint32_t fs, uint64_t ino, bool any_ino, uint64_t lo,
		       uint64_t hi)
{
	struct wb_batch *bt = wb_batch_new(p, WB_BATCH);

	for (uint32_t i = 0, n = ndesc_of(p); i < n; i++) {
		struct pp_buf *b = desc_at(p, i);

		if (!pin_if(p, b, fs, ino, any_ino, lo, hi))
			continue;
		if (!bt) {
			write_back(p, b);
			continue;
		}
		switch (wb_add(bt, b, false, true)) {
		case WB_ADDED:
			break;
		case WB_SKIPPED:
			unpin(b);
			break;
		case WB_BUSY:
			/* held exclusively, or being written: wait for it
			 * holding no other buffer */
			wb_write(bt);
			if (wb_add(bt, b, true, true) != WB_ADDED)
				unpin(b);
			break;
		}
		if (bt->n == bt->cap)
			wb_write(bt);
	}
	if (bt) {
		wb_write(bt);
		wb_batch_free(bt);
	}
}

int pp_flush(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	add(&p->flushes, 1);
	flush_scan(p, fs, ino, false, blk_lo, blk_hi);
	return take_error(p, fs, ino);
}

/* Flush, then take every matching buffer out once nobody pins it. */
static int drop_scan(pp_pool *p, uint32_t fs, uint64_t ino, bool any_ino, uint64_t lo,
		     uint64_t hi)
{
	flush_scan(p, fs, ino, any_ino, lo, hi);
	for (uint32_t i = 0, n = ndesc_of(p); i < n; i++) {
		struct pp_buf *b = desc_at(p, i);

		for (;;) {
			struct part *pt = lock_home(p, b);
			bool gone = false, retry = false;

			if (!pt)
				break;
			if (in_range(&b->tag, fs, ino, any_ino, lo, hi)) {
				pthread_mutex_lock(&b->mu);
				if (__atomic_load_n(&b->pins, __ATOMIC_ACQUIRE) == 0 && !b->dirty &&
				    !b->reading && !b->writing) {
					unhash_locked(p, b);
					gone = true;
				} else {
					retry = true;
				}
				pthread_mutex_unlock(&b->mu);
			}
			pthread_mutex_unlock(&pt->mu);
			if (gone) {
				pthread_mutex_lock(&p->alloc_mu);
				free_buf_locked(p, b);
				pthread_cond_broadcast(&p->space);
				pthread_mutex_unlock(&p->alloc_mu);
				break;
			}
			if (!retry)
				break;
			/* pinned or dirtied again meanwhile: write it, wait a moment */
			if (pin_if(p, b, fs, ino, any_ino, lo, hi))
				write_back(p, b);
			mm_sleep_ms(1);
		}
	}
	return MM_OK;
}

int pp_invalidate(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, ino, false, blk_lo, blk_hi);
}

int pp_drop_inode(pp_pool *p, uint32_t fs, uint64_t ino)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, ino, false, 0, UINT64_MAX);
}

int pp_drop_fs(pp_pool *p, uint32_t fs)
{
	if (!fs_get(p, fs))
		return MM_ENOENT;
	return drop_scan(p, fs, 0, true, 0, UINT64_MAX);
}

/* ---- 7. write-behind ---- */

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
		uint32_t i0 = __atomic_fetch_add(&p->wb_hand, chunk, __ATOMIC_RELAXED);
		bool partial = ld(&p->dirty_bytes) > dirty_limit(p);

		for (uint32_t k = 0; k < chunk; k++) {
			struct pp_buf *b = desc_at(p, (i0 + k) % nd);

			if (!pin_hashed(p, b))
				continue;
			if (wb_add(bt, b, false, partial) != WB_ADDED) {
				unpin(b);
				continue;
			}
			if (bt->n == bt->cap || bt->bytes >= cap) {
				wrote += bt->n;
				wb_write(bt);
			}
		}
	}
	wrote += bt->n;
	wb_write(bt);
	return wrote;
}

/*
 * A write-behind thread: laps while they find work, then sleeps until
 * kicked (dirty data past half the limit, someone waiting for memory or
 * for the limit) or 100 ms passed. Each thread has one batch in flight;
 * a batch is at most a quarter of the dirty limit shared by the threads.
 */
static void *writer_main(void *arg)
{
	pp_pool *p = arg;
	struct wb_batch *bt = NULL;
	uint64_t cap = dirty_limit(p) / 4 / p->cfg.writers;

	pthread_mutex_lock(&p->wb_mu);
	while (!p->wb_stop) {
		struct timespec ts;
		unsigned wrote = 0;

		pthread_mutex_unlock(&p->wb_mu);
		if (!bt && !(bt = wb_batch_new(p, WB_BATCH)))
			mm_error(SUB, "write-behind thread: out of memory for a batch; retrying");
		if (bt)
			wrote = wb_lap(p, bt, cap);
		pthread_mutex_lock(&p->wb_mu);
		if (p->wb_stop)
			break;
		if (wrote && ld(&p->dirty_bytes) > 0)
			continue;
		ts = mm_deadline_ts(CLOCK_REALTIME, 100 * 1000000);
		pthread_cond_timedwait(&p->wb_kick, &p->wb_mu, &ts);
	}
	pthread_mutex_unlock(&p->wb_mu);
	wb_batch_free(bt);
	return NULL;
}

/* ---- 8. create, destroy, registration, statistics ---- */

/* Descriptors for at least <n> units: whole chunks, made and initialised
 * first, then linked and published under alloc_mu (scans read ndesc with
 * acquire, so they see the chunk). Callers serialise (create, resize_mu). */
static int add_descs(pp_pool *p, uint32_t n)
{
	while (ndesc_of(p) < n) {
		uint32_t c = ndesc_of(p) / DCHUNK;
		struct pp_buf *chunk = calloc(DCHUNK, sizeof(*chunk));

		if (!chunk)
			return MM_ENOMEM;
		for (uint32_t i = 0; i < DCHUNK; i++) {
			chunk[i].p = p;
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
		__atomic_store_n(&p->ndesc, p->ndesc + DCHUNK, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&p->alloc_mu);
	}
	return MM_OK;
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
	p->memsz = (size_t)nunits * UNIT;
	p->maxsz = (size_t)p->max_units * UNIT;
	/* the most it may grow to is reserved, only the pool is usable */
	p->mem = mmap(NULL, p->maxsz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		      0);
	if (p->mem == MAP_FAILED) {
		free(p);
		return MM_ENOMEM;
	}
	if (mprotect(p->mem, p->memsz, PROT_READ | PROT_WRITE) != 0) {
		munmap(p->mem, p->maxsz);
		free(p);
		return MM_ENOMEM;
	}
	if (cfg->lock_memory) {
		if (mlock(p->mem, p->memsz) == 0)
			p->locked = true;
		else
			mm_warn(SUB, "cannot lock %zu bytes of pagepool in memory: %s (it may be paged)",
				p->memsz, strerror(errno));
	}
	pthread_mutex_init(&p->resize_mu, NULL);
	pthread_mutex_init(&p->alloc_mu, NULL);
	pthread_cond_init(&p->space, NULL);
	pthread_mutex_init(&p->fs_mu, NULL);
	pthread_mutex_init(&p->err_mu, NULL);
	pthread_mutex_init(&p->wb_mu, NULL);
	pthread_cond_init(&p->wb_kick, NULL);
	pthread_cond_init(&p->wb_clean, NULL);
	pthread_mutex_init(&p->st_mu, NULL);
	rc = pp_buddy_init(&p->buddy, nunits, p->max_units);
	if (!rc)
		rc = mm_pool_create("pp-prefetch", (int)p->cfg.prefetch_threads, 4096, &p->pf_pool);
	p->dchunk = calloc((p->max_units + DCHUNK - 1) / DCHUNK, sizeof(*p->dchunk));
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
	if (!rc && p->dchunk)
		rc = add_descs(p, nunits);
	if (rc || !p->dchunk) {
		pp_pool_destroy(p);
		return rc ? rc : MM_ENOMEM;
	}
	p->writers = calloc(p->cfg.writers, sizeof(*p->writers));
	for (unsigned i = 0; p->writers && i < p->cfg.writers; i++) {
		if (mm_thread_start(&p->writers[i], "pp-writer", writer_main, p))
			break;
		p->nwriters++;
	}
	if (p->nwriters == 0) {
		pp_pool_destroy(p);
		return MM_ESYS;
	}
	mm_info(SUB, "pagepool of %zu bytes (%u units of 64 KiB%s, up to %zu bytes online), %u "
		"write-behind threads", p->memsz, nunits, p->locked ? ", locked in memory" : "",
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
			if (p->fs[i].used)
				flush_scan(p, p->fs[i].id, 0, true, 0, UINT64_MAX);
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
	for (uint32_t c = 0; p->dchunk && c < p->ndesc / DCHUNK; c++) {
		for (uint32_t i = 0; i < DCHUNK; i++) {
			pthread_rwlock_destroy(&p->dchunk[c][i].content);
			pthread_mutex_destroy(&p->dchunk[c][i].mu);
			pthread_cond_destroy(&p->dchunk[c][i].cv);
		}
		free(p->dchunk[c]);
	}
	free(p->dchunk);
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
		munlock(p->mem, p->memsz);
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
		bool used = __atomic_load_n(&p->fs[i].used, __ATOMIC_RELAXED);

		if (used && p->fs[i].id == fs)
			rc = MM_EEXIST;
		if (!used && slot < 0)
			slot = i;
	}
	if (!rc && slot < 0)
		rc = MM_ETOOBIG;
	if (!rc) {
		struct pp_fs *f = &p->fs[slot];

		__atomic_store_n(&f->id, fs, __ATOMIC_RELAXED);
		f->bsize = block_size;
		/* 1/32 of a block, but never below 4 KiB: NSD I/O is 4 KiB aligned */
		f->sub = block_size / PP_SUBBLOCKS < 4096 ? 4096 : block_size / PP_SUBBLOCKS;
		f->order = order;
		f->ops = *ops;
		f->arg = arg;
		__atomic_store_n(&f->used, true, __ATOMIC_RELEASE);
		if ((uint32_t)slot >= p->nfs)
			__atomic_store_n(&p->nfs, (uint32_t)slot + 1, __ATOMIC_RELEASE);
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
		if (__atomic_load_n(&p->fs[i].used, __ATOMIC_RELAXED) && p->fs[i].id == fs)
			__atomic_store_n(&p->fs[i].used, false, __ATOMIC_RELEASE);
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
	rate_add(p, 0);
	st->flush_rate = p->wb_last_rate;
	pthread_mutex_unlock(&p->wb_mu);
}

/* ---- 9. resizing online ---- */

static int pool_grow(pp_pool *p, uint32_t old, uint32_t n)
{
	uint8_t *lo = p->mem + (size_t)old * UNIT;
	size_t len = (size_t)(n - old) * UNIT;
	int rc;

	if (mprotect(lo, len, PROT_READ | PROT_WRITE) != 0) {
		mm_error(SUB, "cannot grow the pagepool by %zu bytes: %s", len, strerror(errno));
		return MM_ENOMEM;
	}
	if (p->locked && mlock(lo, len) != 0)
		mm_warn(SUB, "cannot lock the %zu bytes the pagepool grew by: %s (they may be paged)",
			len, strerror(errno));
	rc = add_descs(p, n);
	if (rc) {
		if (p->locked)
			munlock(lo, len);
		mprotect(lo, len, PROT_NONE);
		return rc;
	}
	pthread_mutex_lock(&p->alloc_mu);
	pp_buddy_set_limit(&p->buddy, n);
	__atomic_store_n(&p->memsz, (size_t)n * UNIT, __ATOMIC_RELAXED);
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
	struct wb_batch *bt = wb_batch_new(p, WB_BATCH);
	uint8_t *lo = p->mem + (size_t)n * UNIT;
	size_t len = (size_t)(old - n) * UNIT;
	bool held;

	if (!bt)
		return MM_ENOMEM;
	pthread_mutex_lock(&p->alloc_mu);
	pp_buddy_set_limit(&p->buddy, n);
	__atomic_store_n(&p->memsz, (size_t)n * UNIT, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->alloc_mu);
	for (;;) {
		for (uint32_t i = 0, nd = ndesc_of(p); i < nd; i++) {
			struct pp_buf *b = desc_at(p, i);
			bool in;

			pthread_mutex_lock(&p->alloc_mu);
			in = b->data && b->unit >= n && !try_evict_locked(p, b);
			pthread_mutex_unlock(&p->alloc_mu);
			if (!in || !pin_hashed(p, b))
				continue;
			if (wb_add(bt, b, false, true) != WB_ADDED)
				unpin(b);
			else if (bt->n == bt->cap)
				wb_write(bt);
		}
		wb_write(bt);
		pthread_mutex_lock(&p->alloc_mu);
		held = pp_buddy_held_in(&p->buddy, n, old);
		if (held && mm_now_ns() > deadline) {
			pp_buddy_set_limit(&p->buddy, old);
			__atomic_store_n(&p->memsz, (size_t)old * UNIT, __ATOMIC_RELAXED);
			pthread_cond_broadcast(&p->space);
		}
		pthread_mutex_unlock(&p->alloc_mu);
		if (!held)
			break;
		if (mm_now_ns() > deadline) {
			wb_batch_free(bt);
			return MM_EBUSY;
		}
		mm_sleep_ms(2);
	}
	wb_batch_free(bt);
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
		if (__atomic_load_n(&p->fs[i].used, __ATOMIC_ACQUIRE) &&
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
