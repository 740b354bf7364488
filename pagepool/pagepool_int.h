/*
 * pagepool/pagepool_int.h - what the files of pagepool/ share: the pool,
 * the buffer descriptor, file system slots, streams, and the internal
 * routines one file calls in another. Only the .c files of pagepool/ include it;
 * callers use pagepool.h. (Named like net/net_int.h and config/config_int.h.)
 *
 * Locks: which lock guards which field is said beside each field; the
 * order they are taken in is stated once, in pagepool/README.md, "Lock
 * order". A routine named *_locked is called with the lock it names
 * (MM_ASSERT_HELD says so in debug builds).
 *
 * Assertions (common/bug.h): MM_BUG_ON(b, ...) catches a buffer state
 * change README.md says cannot happen (a pin dropped below zero, a pinned
 * or dirty or busy buffer leaving the table, a write or read finishing
 * that never started, memory moving under a read) and dumps the buffer
 * with pp_buf_dump (pagepool.c); MM_ASSERT checks what costs more (whole
 * invariants: buf_ok_locked, lock ownership) in debug builds only.
 *
 * Map of this header:
 *   1. constants and types: file system slot, buffer descriptor, hash
 *      partition, inode error, stream, pool
 *   2. small helpers (counters, descriptors, tags, subblock masks, pins,
 *      invariants)
 *   3. routines by the file that defines them
 */
#ifndef MM_PAGEPOOL_PAGEPOOL_INT_H
#define MM_PAGEPOOL_PAGEPOOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/thread.h"
#include "pagepool/buddy.h"
#include "pagepool/pagepool.h"

#define SUB "pagepool"		/* log subsystem */
#define NPART 64		/* hash partitions */
#define PP_INO_SLOTS 65536u	/* per-file buffer counts (hashed by fs, ino) */
#define MAX_FS 64		/* file systems registered at once */
#define UNIT PP_MIN_BLOCK	/* buddy unit: 64 KiB */
#define DCHUNK 1024u		/* descriptors made at once */
#define RUNS_MAX (PP_SUBBLOCKS / 2 + 1)	/* most runs of adjacent subblocks in a mask */

/* ---- 1. types ---- */

struct pp_fs {
	atomic_bool used;
	atomic_bool paused;		/* pp_fs_pause: write-behind leaves it alone */
	_Atomic uint32_t id;
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
	_Atomic uint8_t order;		/* of its memory run: a prefix of the block, or all
					 * of it (atomic: read without the content lock) */
	atomic_bool hashed;		/* written under the home partition's lock */
	_Atomic uint8_t home;		/* partition it is hashed in (same) */
	atomic_int pins;		/* up only under the part lock */
	_Atomic uint8_t usage;		/* clock usage count */
	atomic_bool checked;		/* pp_set_checked since the last read into it */
	/* set (under mu) before <dirty> first becomes non-zero, cleared
	 * (under mu) once it is clean and not being written: a lap of
	 * write-behind passes over a buffer without it taking no lock */
	atomic_bool dirtyish;
	uint32_t idx;			/* its number: desc_at(p, idx) == this */
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

struct pp_pool {
	struct pp_config cfg;
	uint8_t *mem;			/* maxsz reserved, [0, memsz) usable */
	_Atomic size_t memsz;		/* pp_pool_resize moves it */
	size_t maxsz;
	bool locked;
	uint32_t max_units;
	pthread_mutex_t resize_mu;	/* one resize at a time (first in the lock order) */

	pthread_mutex_t alloc_mu;
	pthread_cond_t space;		/* memory may have been freed */
	struct pp_buddy buddy;
	struct pp_buf **dchunk;		/* descriptors, DCHUNK per chunk, max_units in all */
	_Atomic uint32_t ndesc;		/* made so far (grows with the pool) */
	/* bit i: descriptor i is dirtyish (set_dirtyish). A lap of
	 * write-behind reads these words, not every descriptor: a pool of
	 * mostly clean buffers made each lap a cache miss per descriptor */
	_Atomic uint64_t *dmap;
	uint32_t loose;			/* runs taken for a grow, not yet attached */
	struct pp_buf *free_descs;
	uint32_t hand;			/* clock */

	struct part part[NPART];
	uint32_t nbucket;		/* per partition, power of two */
	/* buffers in the table per (fs, ino) hash slot: a flush or drop of
	 * a whole file with none skips the scan over every descriptor (a
	 * file system revokes many inodes that have nothing cached) */
	_Atomic uint32_t inocnt[PP_INO_SLOTS];
	/* per slot: above every block number ever hashed for the files that
	 * share it (it only grows): a flush or drop of "every block" of a
	 * small file looks its few blocks up instead of scanning every
	 * descriptor (16,384 of them in a 1 GiB pool, per revoke) */
	_Atomic uint64_t inoend[PP_INO_SLOTS];

	pthread_mutex_t fs_mu;		/* registration; lookups take none */
	struct pp_fs fs[MAX_FS];
	_Atomic uint32_t nfs;		/* slots ever used */

	pthread_mutex_t err_mu;
	struct ino_err *errs;

	pthread_mutex_t wb_mu;
	pthread_cond_t wb_kick, wb_clean;
	bool wb_stop;
	pthread_t *writers;
	unsigned nwriters;
	_Atomic uint32_t wb_hand;
	uint64_t wb_sec, wb_sec_bytes, wb_last_rate;	/* flush rate, under wb_mu */

	mm_pool *pf_pool;		/* prefetch threads */
	pthread_mutex_t st_mu;		/* guards the stream list */
	struct pp_stream *streams;
	uint32_t next_stream_id;

	/* counters: relaxed, through add() and ld() */
	_Atomic uint64_t prefetch_issued, prefetch_used, prefetch_wasted, reader_waits;
	_Atomic uint64_t used, dirty_bytes, buffers, buffers_dirty;
	_Atomic uint64_t hits, misses, reads, read_bytes, writes, write_bytes;
	_Atomic uint64_t write_errors, read_errors, evictions, throttle_waits, log_forces, flushes,
		grows;
};

/* ---- 2. small helpers ---- */

/*
 * A relaxed atomic load (PEEK) or store (POKE) of an object that is not of
 * an _Atomic type and cannot be: glibc's rwlock internals, the fields of
 * the public struct pp_tag (tag_store), and the fields pp_buf_dump reads
 * without b->mu. What the GCC builtins did on the plain object; _Atomic T
 * has T's size and alignment for the types used (checked below).
 */
#define PEEK(x) atomic_load_explicit((const _Atomic __typeof__(x) *)&(x), memory_order_relaxed)
#define POKE(x, v) atomic_store_explicit((_Atomic __typeof__(x) *)&(x), (v), memory_order_relaxed)
#define PP_SAME_AS_ATOMIC(T) \
	_Static_assert(sizeof(_Atomic(T)) == sizeof(T) && _Alignof(_Atomic(T)) == _Alignof(T), \
		       "_Atomic " #T " is laid out as " #T)
PP_SAME_AS_ATOMIC(bool);
PP_SAME_AS_ATOMIC(int);
PP_SAME_AS_ATOMIC(unsigned);
PP_SAME_AS_ATOMIC(uint32_t);
PP_SAME_AS_ATOMIC(uint64_t);
PP_SAME_AS_ATOMIC(void *);

static inline void add(_Atomic uint64_t *c, int64_t v)
{
	atomic_fetch_add_explicit(c, (uint64_t)v, memory_order_relaxed);
}

static inline uint64_t ld(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline struct pp_buf *desc_at(pp_pool *p, uint32_t i)
{
	return &p->dchunk[i / DCHUNK][i % DCHUNK];
}

/* Under b->mu, so the bit and the flag agree whenever the lock is free. */
static inline void set_dirtyish(struct pp_buf *b, bool on)
{
	_Atomic uint64_t *w = &b->p->dmap[b->idx / 64];
	uint64_t bit = 1ull << (b->idx % 64);

	/* most calls change nothing (a buffer recycled was clean): no
	 * read-modify-write of a word other threads' buffers share */
	if (atomic_load_explicit(&b->dirtyish, memory_order_relaxed) == on)
		return;
	atomic_store_explicit(&b->dirtyish, on, memory_order_release);
	if (on)
		atomic_fetch_or_explicit(w, bit, memory_order_release);
	else
		atomic_fetch_and_explicit(w, ~bit, memory_order_release);
}

static inline uint64_t dmap_word(pp_pool *p, uint32_t i)
{
	return atomic_load_explicit(&p->dmap[i / 64], memory_order_acquire);
}

static inline bool dirtyish_bit(pp_pool *p, uint32_t i)
{
	return dmap_word(p, i) >> (i % 64) & 1;
}

static inline uint32_t ndesc_of(pp_pool *p)
{
	return atomic_load_explicit(&p->ndesc, memory_order_acquire);
}

static inline size_t pool_bytes(pp_pool *p)
{
	return atomic_load_explicit(&p->memsz, memory_order_relaxed);
}

static inline uint64_t dirty_limit(pp_pool *p)
{
	return pool_bytes(p) / 100 * p->cfg.dirty_pct;
}

static inline bool is_hashed(const struct pp_buf *b)
{
	return atomic_load_explicit(&b->hashed, memory_order_acquire);
}

static inline _Atomic uint32_t *ino_slot(pp_pool *p, uint32_t fs, uint64_t ino)
{
	uint64_t h = (ino ^ (uint64_t)fs << 40) * 0x9E3779B97F4A7C15ull;

	return &p->inocnt[(h >> 32) % PP_INO_SLOTS];
}

static inline _Atomic uint64_t *ino_end(pp_pool *p, _Atomic uint32_t *slot)
{
	return &p->inoend[slot - p->inocnt];
}

/* Before a buffer of <t> can be found in the table: its slot's end
 * covers it. */
static inline void ino_end_raise(pp_pool *p, const struct pp_tag *t)
{
	_Atomic uint64_t *end = ino_end(p, ino_slot(p, t->fs, t->ino));
	uint64_t e = atomic_load(end), want = t->blk == UINT64_MAX ? UINT64_MAX : t->blk + 1;

	while (e < want && !atomic_compare_exchange_weak(end, &e, want))
		;
}

/* [lo, *hi) of file (fs, ino), clamped to what was ever cached of the
 * files of its slot. */
static inline void ino_clamp(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t *hi)
{
	uint64_t end = atomic_load(ino_end(p, ino_slot(p, fs, ino)));

	if (*hi > end)
		*hi = end;
}

/* May file (fs, ino) have buffers in the table? (No: certainly none.) */
static inline bool ino_cached(pp_pool *p, uint32_t fs, uint64_t ino)
{
	return atomic_load_explicit(ino_slot(p, fs, ino), memory_order_acquire) != 0;
}

static inline bool tag_eq(const struct pp_tag *a, const struct pp_tag *b)
{
	return a->fs == b->fs && a->ino == b->ino && a->blk == b->blk;
}

static inline bool in_range(const struct pp_tag *t, uint32_t fs, uint64_t ino, bool any_ino,
			    uint64_t lo, uint64_t hi)
{
	return t->fs == fs && (any_ino || t->ino == ino) && t->blk >= lo && t->blk < hi;
}

/* No lock: pp_get() calls this, and the hit path takes no global lock. A
 * slot's fields are written before its <used> is set (release), and stay
 * until the file system is unregistered, which its users must not race. */
static inline struct pp_fs *fs_get(pp_pool *p, uint32_t id)
{
	uint32_t n = atomic_load_explicit(&p->nfs, memory_order_acquire);

	for (uint32_t i = 0; i < n; i++) {
		struct pp_fs *f = &p->fs[i];

		if (atomic_load_explicit(&f->used, memory_order_acquire) &&
		    atomic_load_explicit(&f->id, memory_order_relaxed) == id)
			return f;
	}
	return NULL;
}

/* Subblocks covering [off, off+len). */
static inline uint32_t sub_mask(const struct pp_fs *f, uint32_t off, uint32_t len)
{
	uint32_t first = off / f->sub, last = (off + len - 1) / f->sub;

	if (last - first + 1 >= 32)
		return UINT32_MAX;
	return ((1u << (last - first + 1)) - 1) << first;
}

/* Bytes of the block <b>'s memory holds (from the block's start). */
static inline uint32_t cap_of(const struct pp_buf *b)
{
	return UNIT << atomic_load_explicit(&b->order, memory_order_relaxed);
}

/* Subblocks that lie in <b>'s memory. */
static inline uint32_t cap_mask(const struct pp_buf *b)
{
	uint32_t n = cap_of(b) / b->fs->sub;

	return n >= 32 ? UINT32_MAX : (1u << n) - 1;
}

/* The buddy order of a buffer of <f> holding at least [0, bytes). */
static inline unsigned order_for(const struct pp_fs *f, uint32_t bytes)
{
	unsigned order = 0;

	if (bytes < f->sub)
		bytes = f->sub;
	while (order < f->order && (UNIT << order) < bytes)
		order++;
	return order;
}

static inline int pins_of(const struct pp_buf *b)
{
	return atomic_load_explicit(&b->pins, memory_order_acquire);
}

/* Pin <b>, hashed in partition <pt> whose lock is held (rule 3). */
static inline void pin_locked(struct part *pt, struct pp_buf *b)
{
	MM_ASSERT_HELD(&pt->mu);
	(void)pt;
	atomic_fetch_add_explicit(&b->pins, 1, memory_order_acquire);
}

/* Drop a pin (rule 3: without the partition lock). */
static inline void unpin(struct pp_buf *b)
{
	MM_BUG_ON(b, atomic_fetch_sub_explicit(&b->pins, 1, memory_order_release) <= 0);
}

/* For MM_ASSERT only (glibc's rwlock internals, as mm_mutex_held reads
 * the mutex owner): someone holds <b>'s content lock; the caller holds
 * it exclusively. */
static inline bool content_locked(struct pp_buf *b)
{
	return (PEEK(b->content.__data.__readers) >> 3) > 0 || PEEK(b->content.__data.__cur_writer) != 0;
}

static inline bool content_held_excl(struct pp_buf *b)
{
	return PEEK(b->content.__data.__cur_writer) == (int)syscall(SYS_gettid);
}

/*
 * With b->mu: the invariants of a hashed buffer's state (README.md
 * "Rules"), for MM_ASSERT: dirty subblocks are valid, both lie in its
 * memory, dirty data has no journal record without dirty subblocks, a
 * buffer being read or written is pinned (by the I/O), the usage count
 * is at most 5.
 */
static inline bool buf_ok_locked(struct pp_buf *b)
{
	MM_ASSERT_HELD(&b->mu);
	return (b->dirty & ~b->valid) == 0 && (b->valid & ~cap_mask(b)) == 0 &&
	       (b->dirty || !b->lsn) && (!(b->reading || b->writing) || pins_of(b) > 0) &&
	       atomic_load_explicit(&b->usage, memory_order_relaxed) <= 5;
}

/* ---- 3. routines shared between the files ---- */

/* pagepool.c: the pool, registration, inode errors */
void pp_error_record(pp_pool *p, uint32_t fs, uint64_t ino, int rc);
int pp_error_take(pp_pool *p, uint32_t fs, uint64_t ino);

/* table.c: the buffer table and pins */
void pp_unhash_locked(pp_pool *p, struct pp_buf *b);
struct part *pp_lock_home(pp_pool *p, struct pp_buf *b);
struct pp_buf *pp_pin_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, bool bump,
			  uint8_t new_usage, uint32_t end, bool *hit);
bool pp_pin_hashed(pp_pool *p, struct pp_buf *b);
struct pp_buf *pp_lookup_pin(pp_pool *p, const struct pp_tag *t);
bool pp_pin_if(pp_pool *p, struct pp_buf *b, uint32_t fs, uint64_t ino, bool any_ino,
	       uint64_t lo, uint64_t hi);
bool pp_is_cached(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, uint32_t off,
		  uint32_t len);

/* evict.c: memory, descriptors, victims */
void pp_free_buf_locked(pp_pool *p, struct pp_buf *b);
bool pp_try_evict_locked(pp_pool *p, struct pp_buf *b);
struct pp_buf *pp_alloc_buf(pp_pool *p, struct pp_fs *f, const struct pp_tag *t, uint8_t usage,
			    unsigned order);
void pp_release_unused(pp_pool *p, struct pp_buf *b);
void pp_grow_buf(pp_pool *p, struct pp_buf *b, uint32_t end);
int pp_add_descs(pp_pool *p, uint32_t n);

/* io.c: requests to the backend */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned left;
};
void pp_latch_init(struct latch *l);
void pp_latch_destroy(struct latch *l);
void pp_latch_set(struct latch *l, unsigned n);
void pp_latch_down(struct latch *l, int *slot, int rc);
void pp_latch_wait(struct latch *l);
void pp_submit_io(pp_pool *p, struct pp_io *io);
unsigned pp_build_ios(struct pp_buf *b, uint32_t mask, bool write, const struct pp_map *m, int r,
		      struct pp_io *ios, void (*done)(struct pp_io *, int), void *arg);
/*
 * One read of the subblocks <mask> of buffer <b>, set up by the caller
 * (p, b, mask, fini), who has set b->reading under b->mu while holding
 * b's content lock (rule 11). It ends exactly once, maybe before
 * pp_read_start returns: the subblocks valid (or not, rc != 0, logged),
 * b->reading false, rc and done set under b->mu, b->cv broadcast; then
 * fini(rd, rc) if not NULL, which owns <rd> from there. With fini NULL
 * the starter waits on b->cv for rd->done and must keep <rd> until then.
 */
struct pp_read {
	pp_pool *p;
	struct pp_buf *b;
	uint32_t mask;
	void (*fini)(struct pp_read *rd, int rc);	/* on the completing thread */
	bool done;			/* under b->mu */
	int rc;				/* set with done */
	/* io.c's */
	struct pp_map m;
	int r;				/* the replica being read */
	atomic_uint left;		/* its requests in flight */
	atomic_int err;			/* its first error */
	unsigned nio;
	struct pp_io io[RUNS_MAX];
};
void pp_read_start(struct pp_read *rd);

/* buf.c: get, dirty, release */
int pp_get_buf(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len,
	       enum pp_mode mode, bool bump, pp_buf **out, void **data, bool *waited);

/* writeback.c: batches and write-behind threads */
#define WB_BATCH 16		/* buffers a batch holds at most */
enum wb_claim { WB_ADDED, WB_SKIPPED, WB_BUSY };
struct wb_batch;
struct wb_item {
	struct pp_buf *b;
	struct wb_batch *bt;
	uint32_t mask;			/* the subblocks being written */
	uint64_t lsn;
	int rc;				/* first error, under bt->l.mu once submitted */
	unsigned nio;
	struct pp_io *io;		/* WB_IOS of bt->ios, given when it is written */
};
#define WB_IOS (RUNS_MAX * PP_MAX_REPLICAS)
struct wb_batch {
	pp_pool *p;
	struct latch l;			/* its requests in flight */
	unsigned n, cap;
	uint64_t bytes;			/* of the buffers in it */
	/* cap * WB_IOS requests, not zeroed (each is built whole before it is
	 * used): the items stay small to sort, and a batch of 128 is not a
	 * 370 KiB calloc on every flush */
	struct pp_io *ios;
	struct wb_item item[];
};
struct wb_batch *pp_wb_batch_new(pp_pool *p, unsigned cap);
void pp_wb_batch_free(struct wb_batch *bt);
enum wb_claim pp_wb_add(struct wb_batch *bt, struct pp_buf *b, bool wait, bool partial);
void pp_wb_write(struct wb_batch *bt);
void pp_write_back(pp_pool *p, struct pp_buf *b);
void pp_wb_kick(pp_pool *p);
void pp_wb_rate_add_locked(pp_pool *p, uint64_t bytes);
void *pp_writer_main(void *arg);

/* flush.c: flush, invalidate, drop */
void pp_flush_scan(pp_pool *p, uint32_t fs, uint64_t ino, bool any_ino, uint64_t lo,
		   uint64_t hi);

/* prefetch.c: streams */
void pp_stream_note(pp_pool *p, uint32_t id, bool used);

#endif
