/*
 * pagepool/pagepool.h - the per-node block cache every block of every
 * mounted file system passes through.
 *
 * Blocks are named (fs, inode, block number): struct pp_tag. A file system
 * registers itself with its block size and a mapper from tags to disk
 * addresses (pp_fs_ops); the pool reads and writes blocks through an I/O
 * backend (pp_io_ops: the NSD client in mmfsd, a memory disk in tests).
 *
 * Memory: one region of `size` bytes allocated at pp_pool_create (mlock'ed
 * where permitted), never exceeded; pp_pool_resize moves its end online. A buffer holds one block, or the first
 * part of one (a fragment: pp_map.len): its memory is a contiguous run
 * from a buddy allocator, of the block's size or the power of two of 64
 * KiB units that covers the fragment, and its content is valid per
 * subblock (block size / 32, at least 4 KiB), so a small read of a large
 * block reads only the subblocks it needs.
 *
 * Rules (pagepool/README.md numbers them):
 *   - A buffer returned by pp_get() is pinned and content-locked (shared for
 *     PP_READ, exclusive otherwise) until pp_release(). A pinned buffer is
 *     never evicted, and its memory never moves.
 *   - Data is written to disk only by the pool (write-behind threads,
 *     pp_flush, eviction never writes: it skips dirty buffers), and only
 *     once the journal sequence given to pp_mark_dirty() is durable
 *     (fs ops log_force): the write-ahead rule.
 *   - A write-behind error is kept on the inode and returned by the next
 *     pp_flush() of that inode (fsync/close), then cleared. Never dropped.
 *
 * Threads: every function may be called from any thread except the pool's
 * own (I/O completion callbacks run on the backend's threads and only touch
 * pool state). pp_get() may block (reading, waiting for memory); callers
 * hold no pool buffer while calling it for another block of the same
 * inode in a way that could wait on itself (documented per function).
 *
 * Return convention: 0 or a negative MM_E* code (common/err.h).
 */
#ifndef MM_PAGEPOOL_PAGEPOOL_H
#define MM_PAGEPOOL_PAGEPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PP_MAX_REPLICAS 3
#define PP_MIN_BLOCK (64u << 10)
#define PP_MAX_BLOCK (16u << 20)
#define PP_SUBBLOCKS 32		/* per block, each at least 4 KiB */
#define PP_MIN_POOL (1u << 20)

typedef struct pp_pool pp_pool;
typedef struct pp_buf pp_buf;

struct pp_tag {
	uint32_t fs;
	uint64_t ino;
	uint64_t blk;
};

/* Where a block lives: one address per replica (NSD id, byte offset). */
struct pp_map {
	/* Bytes of the block the file uses, from its start: less than the
	 * block size for a fragment (a small file, a file's last block); 0:
	 * all of it. A hint, also with MM_ENOENT: a new buffer for the block
	 * gets only as much memory as that (64 KiB units, at least a
	 * subblock), and grows if a later pp_get() reaches past it. */
	uint32_t len;
	/* len bounds the block on disk (the disk space after it is another
	 * file's): write-behind writes no dirty byte past it (README.md
	 * rule 12). Otherwise len is only the hint above. */
	bool bounded;
	int nrep;
	struct {
		uint64_t nsd_id;
		uint64_t offset;
	} rep[PP_MAX_REPLICAS];
};

/* What a file system gives the pool. Called on pool threads and callers'
 * threads, never with a pool mutex held (a buffer's content lock may be:
 * pagepool/README.md, "Lock order"). */
/* True inside map when write-behind (of a write-behind thread or a flush)
 * asks, holding the content locks of the buffers it is writing: the file
 * system must answer without waiting for another buffer. */
bool pp_in_wb_map(void);
struct pp_fs_ops {
	/* Disk addresses of block <t>. MM_ENOENT: a hole (reads give zeros,
	 * the block must be mapped before it is written). */
	int (*map)(void *arg, const struct pp_tag *t, struct pp_map *out);
	/* Make journal records up to <lsn> durable (blocks). */
	int (*log_force)(void *arg, uint64_t lsn);
	/* Optional: the write of block <t> failed with <rc>; the buffer is
	 * clean now and may be dropped, so what it held is gone but for the
	 * journal. Called once per failed buffer, before pp_flush returns
	 * and before a flush waiting for that write sees it end, holding the
	 * buffer's content lock shared: it must not take buffers or block. */
	void (*write_failed)(void *arg, const struct pp_tag *t, int rc);
};

/* One disk transfer of the I/O backend. */
struct pp_io {
	uint64_t nsd_id, offset;
	size_t len;
	void *buf;
	bool write;
	void (*done)(struct pp_io *io, int rc);	/* exactly once */
	void *arg;
};

struct pp_io_ops {
	/* Start <io>; 0 and io->done later, or an error and no callback.
	 * Called with no pool mutex held; io->done may run on any thread,
	 * also inside submit before it returns, and must not block. */
	int (*submit)(void *arg, struct pp_io *io);
};

struct pp_config {
	uint64_t size;			/* bytes of buffer memory (pagepool), >= PP_MIN_POOL;
					 * a file system needs room for two of its blocks */
	uint64_t max_size;		/* the most pp_pool_resize may grow it to: address
					 * space reserved, not memory (0: size) */
	struct pp_io_ops io;
	void *io_arg;
	unsigned writers;		/* write-behind threads, each with one batch of up to
					 * 16 blocks in flight (0: 4) */
	unsigned dirty_pct;		/* writers throttle past this share dirty, 1..90 (0: 50) */
	bool lock_memory;		/* try mlock (logged if refused) */
	unsigned prefetch_threads;	/* prefetchThreads (0: 16): they make buffers and
					 * start reads, which complete on the backend's
					 * threads, so one keeps many reads in flight */
	unsigned prefetch_pct;		/* prefetchPct: most of the pool one stream
					 * may read ahead, in percent (0: 20, at most 90) */
};

enum pp_mode {
	PP_READ,	/* read [off, off+len); content lock shared */
	PP_OVERWRITE,	/* the caller overwrites all of [off, off+len): nothing read */
	PP_MODIFY,	/* read [off, off+len), the caller changes part of it */
};

int pp_pool_create(const struct pp_config *cfg, pp_pool **out);
/*
 * Make the pool <size> bytes, rounded down to a multiple of 16 MiB, while
 * it is in use (mmchconfig pagepool=... -i). Growing maps, locks and
 * describes more memory at once. Shrinking first stops handing out memory
 * past the new size, then evicts what lies there and writes what is dirty
 * there, and gives the memory back once none of it is held; if pinned
 * buffers still hold some after <timeout_ms>, the pool keeps its size and
 * MM_EBUSY says so. MM_ETOOBIG past max_size, MM_EINVAL under 16 MiB or
 * under two blocks of a registered file system. May block (writes): call
 * it holding no buffer.
 */
int pp_pool_resize(pp_pool *p, uint64_t size, unsigned timeout_ms);
/* Write back everything dirty (errors logged), free. No buffer may be held. */
void pp_pool_destroy(pp_pool *p);

/* Register file system <fs> (block size a power of two in
 * [PP_MIN_BLOCK, PP_MAX_BLOCK]); MM_EEXIST if already there. */
int pp_fs_register(pp_pool *p, uint32_t fs, uint32_t block_size, const struct pp_fs_ops *ops,
		   void *arg);
/* While <pause>: write-behind threads leave <fs>'s dirty buffers alone
 * (pp_flush, pp_flush_fs and the drops still write them). For a file
 * system replaying its log, whose blocks cannot all be mapped until the
 * replay is done. Its threads are not throttled at the dirty limit (no
 * write-behind would end the wait): it must keep what it dirties meanwhile
 * under the limit itself (pp_get_stats, pp_flush). MM_ENOENT for an
 * unknown fs. */
int pp_fs_pause(pp_pool *p, uint32_t fs, bool pause);
/* Drop every buffer of <fs> (pp_drop_fs) and forget it. */
int pp_fs_unregister(pp_pool *p, uint32_t fs);

/*
 * Pin block <t> with [off, off+len) valid (read from disk if needed, except
 * PP_OVERWRITE) and content-locked. *data points at the block's byte 0;
 * the buffer holds at least [0, off+len) of the block (all of it, or a
 * prefix where pp_map.len says the file uses only that), and the caller
 * touches only [off, off+len). Bytes outside the valid subblocks are
 * undefined. Blocks
 * while another thread holds the buffer's content lock in a conflicting
 * mode, while its subblocks are read, and while the pool has no memory to
 * give (then write-behind frees some). MM_EIO (read failed; nothing
 * cached), MM_EINVAL (range), MM_ENOENT (unknown fs).
 */
int pp_get(pp_pool *p, const struct pp_tag *t, uint32_t off, uint32_t len, enum pp_mode mode,
	   pp_buf **out, void **data);
/* [off, off+len) of a buffer held exclusively was changed: dirty, to be
 * written after journal record <lsn> is durable (0: no constraint). */
void pp_mark_dirty(pp_buf *b, uint32_t off, uint32_t len, uint64_t lsn);
/* Unlock and unpin. A thread that dirtied the buffer (pp_mark_dirty) waits
 * here, holding nothing of it, while dirty data is over the dirty limit. */
void pp_release(pp_buf *b);

/*
 * Did a holder of <b> verify its bytes since they were last read from
 * disk (pp_set_checked)? Every read into the buffer and its reuse for
 * another block clear it. Lets a file system verify a metadata block's
 * checksum once per read from disk instead of on every get: the changes
 * its own holders make under the exclusive content lock, it seals
 * itself. Call with the content lock held.
 */
bool pp_checked(pp_buf *b);
void pp_set_checked(pp_buf *b);

/*
 * Pins apart from content locks (pagepool/README.md, rule 2): pp_get() +
 * pp_unlock() leaves a buffer pinned but unlocked, so it stays cached and
 * is found again without a lookup; pp_lock() takes the content lock again
 * (and reads what [off, off+len) lacks, as pp_get); pp_unpin() lets it go.
 * pp_release() is pp_unlock() + pp_unpin(). Data may be touched only under
 * the content lock: while a buffer is only pinned, its memory may move (a
 * fragment growing) and other threads may change its bytes. pp_invalidate()
 * and the drops wait for every pin to go, so hold such pins briefly and
 * drop them when a token is revoked.
 */
void pp_unlock(pp_buf *b);
int pp_lock(pp_buf *b, uint32_t off, uint32_t len, enum pp_mode mode, void **data);
void pp_unpin(pp_buf *b);

/* Write every dirty block of inode <ino> with blk_lo <= blk < blk_hi and
 * wait; returns the first write error seen for the inode since the last
 * flush (and clears it). */
int pp_flush(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi);
/* Blocks [lo, hi) of inode <ino>. */
struct pp_range {
	uint64_t ino, lo, hi;
};
/* Write every dirty block of the <n> ranges of file system <fs> in shared
 * batches (one wait for them all, not one per range) and wait, a write of
 * one of them in flight too. A buffer someone holds exclusively is
 * waited for (polling) only while it is dirty: a clean one is passed
 * over, whoever holds it. Errors stay recorded on their inodes for their
 * next pp_flush and go to ops.write_failed, as write-behind's do. */
void pp_flush_ranges(pp_pool *p, uint32_t fs, const struct pp_range *r, size_t n);
/* Write every dirty block of file system <fs> and wait (a log
 * checkpoint); write errors stay recorded on their inodes for their next
 * pp_flush. MM_ENOENT for an unknown fs. */
int pp_flush_fs(pp_pool *p, uint32_t fs);
/* Flush, then drop the blocks of the range from the cache (a revoked read
 * token): later pp_get() reads them again. Waits for pins to go. */
int pp_invalidate(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi);
/* Drop the blocks of the range from the cache without writing them,
 * dirty or not (blocks freed: what they held no longer matters, and
 * their addresses may be gone). Waits for pins and I/O in flight. */
int pp_discard(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk_lo, uint64_t blk_hi);
/* Flush and drop everything of an inode / a file system. */
int pp_drop_inode(pp_pool *p, uint32_t fs, uint64_t ino);
int pp_drop_fs(pp_pool *p, uint32_t fs);

/* ---- prefetch ----------------------------------------------------------
 *
 * A stream is one reader of one inode (an open file). pp_stream_get() is
 * pp_get(PP_READ) that also tells the stream where the reader is: the
 * stream classifies the access pattern and reads ahead on the prefetch
 * threads:
 *   forward   each access starts where the last ended (or inside it)
 *   backward  each access ends where the last started
 *   strided   the same size at a constant distance larger than the size
 *   random    anything else: prefetch stops until a pattern shows again
 * Two accesses in a row must agree before a pattern is acted on. The depth
 * (blocks, or strides, ahead) starts at 2, doubles when the reader had to
 * wait for a block, halves when a prefetched block is evicted unused, is
 * raised to cover the measured read time at the reader's pace, and is
 * capped by prefetch_pct of the pool. Blocks read by a sequential stream
 * are the first the clock evicts, so a large scan does not flush out the
 * working set. A stream's file size bounds what it reads ahead.
 */
typedef struct pp_stream pp_stream;

enum pp_pattern {
	PP_PAT_NONE = 0,	/* too few accesses yet */
	PP_PAT_FORWARD,
	PP_PAT_BACKWARD,
	PP_PAT_STRIDED,
	PP_PAT_RANDOM,
};

struct pp_stream_info {
	enum pp_pattern pattern;
	int64_t stride;		/* bytes between accesses (strided) */
	unsigned depth;		/* current read-ahead depth */
	uint64_t issued;	/* prefetch reads queued */
	uint64_t used;		/* prefetched blocks later read by the reader */
	uint64_t wasted;	/* prefetched blocks evicted unread */
	uint64_t waits;		/* reader accesses that missed or waited */
};

int pp_stream_open(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t file_size,
		   pp_stream **out);
/* Wait for the stream's prefetches in flight, free it. */
void pp_stream_close(pp_stream *s);
/* The file grew or shrank (bounds read-ahead). */
void pp_stream_set_size(pp_stream *s, uint64_t file_size);
/* pp_get(PP_READ) of [off, off+len) of block <blk>, as the stream's reader. */
int pp_stream_get(pp_stream *s, uint64_t blk, uint32_t off, uint32_t len, pp_buf **out,
		  void **data);
void pp_stream_get_info(pp_stream *s, struct pp_stream_info *out);

struct pp_stats {
	uint64_t size, used, dirty_bytes;
	uint64_t dirty_limit;			/* writers are throttled past it */
	uint64_t buffers, buffers_dirty;
	uint64_t hits, misses;			/* pp_get: all subblocks valid or not */
	uint64_t reads, read_bytes, writes, write_bytes;
	uint64_t write_errors, read_errors;
	uint64_t evictions, throttle_waits, log_forces;
	uint64_t prefetch_issued, prefetch_used, prefetch_wasted, reader_waits;
	uint64_t flushes;			/* pp_flush calls (fsync, revokes) */
	uint64_t grows;				/* prefix buffers moved to a larger run */
	uint64_t flush_rate;			/* bytes written in the last whole second */
	unsigned writers, prefetch_threads;	/* threads, as configured */
	uint64_t max_size;			/* pp_pool_resize may grow it to */
};
void pp_get_stats(pp_pool *p, struct pp_stats *st);

#endif
