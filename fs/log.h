/*
 * fs/log.h - the per-node physical redo log: records, transactions, group
 * commit, checkpoints, replay (fs/README.md, "The log"). 2026-12-07.
 *
 * A pure module: the log file's blocks are read and written through an
 * injected struct fs_log_io, metadata blocks are changed at replay through
 * a struct fs_bstore (format.h), and the flush a checkpoint needs is the
 * caller's need_checkpoint callback. The stripe group runs it on NSD
 * writes and pagepool buffers; tests run it in memory with crashes.
 *
 * ---- LSNs and the stream ----
 * The log is one byte stream cut into log blocks. An LSN is a position in
 * that stream (64 bits, grows for the life of the log, never reused): a
 * record's LSN is where it starts. Log block sequence s (1, 2, ...) holds
 * stream bytes [(s-1) * FS_LOG_BODY, s * FS_LOG_BODY) after its header and
 * lives in log file block (s-1) mod nblocks, so the wrap count is
 * (s-1) / nblocks. Records may span log blocks; a block is left for the
 * next only when full.
 *
 * A transaction's commit LSN is the end of its commit record (the LSN
 * just past it), never 0. force(lsn) makes every stream byte before <lsn>
 * durable, so force(commit LSN) makes the transaction durable; the
 * pagepool's write-ahead rule (pp_mark_dirty's LSN, pp_fs_ops.log_force)
 * is exactly that call.
 *
 * ---- log block (FS_MB bytes) ----
 *   0  64 struct fs_mbh, sealed (fs_mb_seal): type FS_BT_LOG, fsid, ino =
 *         the log file's inode, blk = log file block, a = sequence (0: an
 *         empty block from fs_log_format), b = LSN of the block's first
 *         body byte ((a-1) * FS_LOG_BODY; 0 when empty)
 *   64  4 node (whose log)     68 4 nblocks (the log's size)
 *   72  4 used: body bytes holding records (FS_LOG_BODY when full)
 *   76  4 reserved 0           80 8 tail: the oldest LSN whose changes may
 *                                   not be on disk, when this was written
 *   88 40 reserved 0           128 .. FS_MB: body (records, then zeros)
 * A block is rewritten in place while it fills (group commit), so the
 * current block's last write may be torn: see "Replay".
 *
 * ---- record (big-endian; starts at its LSN; 8-byte aligned) ----
 *   0 8 LSN    8 8 transaction LSN (its first record's; a checkpoint: its own)
 *   16 1 type (enum fs_logr)   17 3 reserved 0   20 4 payload length
 *   24 4 CRC32C of the payload and then of these 32 bytes with this field 0
 *   28 4 reserved 0            32 payload, zero padding to a multiple of 8
 * Payloads:
 *   FS_LOGR_BYTES   ino 8, blk 8, off 4, len 4, then <len> bytes: metadata
 *                   block (ino, blk) bytes [off, off+len) become these
 *                   (off + len <= FS_MB; a whole block is one record)
 *   FS_LOGR_ALLOC   ino 8, blk 8: the block is newly allocated: it becomes
 *                   all zeros (the transaction then logs what it writes)
 *   FS_LOGR_FREE    ino 8, blk 8: the block is freed (bstore punch)
 *   FS_LOGR_COMMIT  records 4 (the transaction's, before this one), 0 4
 *   FS_LOGR_CKPT    tail 8: changes before this LSN are all on disk
 *   FS_LOGR_ORPHAN, FS_LOGR_UNORPHAN   ino 8, 0 8: see "Orphans"
 *   FS_LOGR_ORPHANS count 8, then <count> inode numbers of 8 bytes
 *                   (count <= FS_LOG_ORPHANS_MAX)
 * A transaction's records are gathered in memory and appended together
 * with its commit record under the log mutex, so they are contiguous in
 * the stream: transactions never interleave, and every record names its
 * transaction's first LSN so replay can check it.
 *
 * ---- sealed blocks ----
 * Records are physical: the bytes logged are applied as they are. A
 * transaction that changes a metadata block seals it (fs_mb_seal) and
 * logs its header too ([0, FS_MBH_BYTES): fs_log_add_bytes with off 0,
 * or the whole changed range including it), so replaying all of a
 * committed transaction's records leaves blocks whose CRC verifies. Bytes
 * a transaction does not log must not change.
 *
 * ---- Write-ahead, checkpoints, space ----
 * Log space is reserved when a transaction begins (fs_log_begin), before
 * the caller takes block locks, so commit never waits for space. The
 * records from the tail (the last checkpoint) to the end may not be
 * overwritten. When a reservation does not fit, begin runs a checkpoint
 * on its own thread: need_checkpoint(arg, lsn) with lsn = the end of the
 * log (or the start of the oldest transaction committed but not yet
 * ended, see fs_log_end), which must return 0 only once every metadata
 * block changed by a transaction with commit LSN <= lsn is on disk (it
 * may call fs_log_force: the pagepool's flush does, for the write-ahead
 * rule); then a FS_LOGR_CKPT record is appended and forced and the tail
 * moves to lsn. A nonzero return (MM_EBUSY: nothing flushable now) makes
 * begin wait and try again after FS_LOG_RETRY_MS (or sooner when a
 * transaction ends); begin returns only a persistent error other than
 * MM_EBUSY. One checkpoint runs at a time; other begins wait for it. One
 * log block is kept free of transactions for checkpoint records.
 *
 * ---- Replay ----
 * fs_log_replay reads every block, takes the highest valid sequence H as
 * the head and H's header's tail T as the start, then checks that blocks
 * T..H hold consecutive sequences and verify: a block that does not is an
 * error naming it (MM_ECHECKSUM / MM_EPROTO, "log block 7 (sequence 39):
 * bad checksum; the committed transactions after it cannot be replayed")
 * and nothing is applied: committed transactions after a hole are never
 * skipped silently. If H is full, the block after it may hold a torn
 * write (its checksum fails but its header names sequence H+1): its
 * records are taken while each one's CRC verifies and its LSN is its
 * stream position, and the log ends at the first that does not. A torn
 * rewrite of the current block keeps the records of its earlier writes
 * (they are the same bytes). Damage inside the newest block cannot be
 * told from a torn write: it ends the log there. Then every transaction
 * from T whose commit record is present is applied in LSN order through
 * the bstore; a transaction without its commit record is ignored.
 * Replay is idempotent, reads the log only, and works on any node's log;
 * a block of another file system, another log file or a log of another
 * size is refused (MM_EPROTO).
 *
 * ---- Orphans ----
 * An orphan is an inode with no links that is still in use on the node
 * (open, or known to the kernel): it is freed when that ends, and after a
 * crash by whoever replays the log. The log keeps the set: a
 * transaction's ORPHAN / UNORPHAN records change it when it commits, and
 * a checkpoint logs the whole set (FS_LOGR_ORPHANS, durable before the
 * tail moves) after its target, so the records from any tail on give the
 * set: replay starts empty, an ORPHANS record replaces it, a committed
 * transaction's records change it. fs_log_open recovers it and
 * fs_log_replay reports it. Only the first FS_LOG_ORPHANS_MAX orphans
 * are carried across a checkpoint (the rest would leak at a crash there:
 * mmfsck finds them).
 *
 * ---- Threads ----
 * A log object has one mutex and one condition variable (common/thread.h).
 * Every call may come from any thread; a transaction (fs_log_tx) is used
 * by one thread at a time. io.write, io.read and need_checkpoint are
 * called without the log mutex held, on the calling thread.
 *
 * Return convention: MM_OK or a negative MM_E* (common/err.h). After a
 * log write fails the log is failed: every later begin, commit and force
 * returns that error (the stripe group must unmount).
 */
#ifndef MM_FS_LOG_H
#define MM_FS_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

#define FS_LOG_HDR 128u				/* log block header */
#define FS_LOG_BODY (FS_MB - FS_LOG_HDR)	/* stream bytes per log block */
#define FS_LOG_REC_HDR 32u
#define FS_LOG_MIN_BLOCKS 3u
#define FS_LOG_DEFAULT_BUFS 8u
#define FS_LOG_RETRY_MS 10u
#define FS_LOG_ORPHANS_MAX 4096u	/* orphans a checkpoint carries */

enum fs_logr {
	FS_LOGR_BYTES = 1,
	FS_LOGR_ALLOC = 2,
	FS_LOGR_FREE = 3,
	FS_LOGR_COMMIT = 4,
	FS_LOGR_CKPT = 5,
	FS_LOGR_ORPHAN = 6,	/* in a transaction: an inode is an orphan */
	FS_LOGR_UNORPHAN = 7,	/* in a transaction: it is not any more */
	FS_LOGR_ORPHANS = 8,	/* on its own: the whole orphan set */
	FS_LOGR_ZERO = 9,	/* bytes [off, off+len) of a block become zeros */
	FS_LOGR_NTYPES
};

/* Log bytes one record with a payload of <payload> bytes takes. */
static inline uint64_t fs_log_rec_bytes(uint64_t payload)
{
	return (FS_LOG_REC_HDR + payload + 7) & ~7ull;
}
/* What fs_log_begin should reserve for a transaction of <nbytes> byte
 * changes (fs_log_add_bytes) totalling <bytes> bytes, and <nmarks>
 * alloc / free markers. */
static inline uint64_t fs_log_reserve(uint32_t nbytes, uint64_t bytes, uint32_t nmarks)
{
	return nbytes * fs_log_rec_bytes(24) + bytes + 7ull * nbytes +
	       nmarks * fs_log_rec_bytes(16) + fs_log_rec_bytes(8);
}

/* The log file's blocks. Both calls are synchronous: write returns once
 * the FS_MB bytes of <data> are durable at log file block <lblk> (or
 * failed: the log is then failed), read fills <data>. Called without the
 * log mutex, possibly from several threads at once for read; one write at
 * a time per log. */
struct fs_log_io {
	int (*write)(void *arg, uint64_t lblk, const uint8_t *data);
	int (*read)(void *arg, uint64_t lblk, uint8_t *data);
	void *arg;
};

struct fs_log_params {
	struct fs_log_io io;
	uint32_t fsid;		/* low 32 bits of the fsid, as in fs_mbh */
	uint64_t ino;		/* the log file's inode */
	uint32_t node;		/* whose log: written into every block */
	uint32_t nblocks;	/* log file blocks, >= FS_LOG_MIN_BLOCKS */
	uint32_t nbufs;		/* log blocks kept in memory (0: FS_LOG_DEFAULT_BUFS,
				 * at least 2); a transaction is at most
				 * nbufs - 1 blocks of records */
	/* A thread ("log-writer") writes each block once it is full, so a
	 * committing transaction seldom waits for a write to free a buffer;
	 * forces still write what they need themselves. fs_log_close stops
	 * it. */
	bool writer;
	/* See "Write-ahead, checkpoints, space" above. */
	int (*need_checkpoint)(void *arg, uint64_t lsn);
	/* Optional: called before each log block write, which makes every
	 * transaction ending at or before <lsn> durable, without the log's
	 * mutex; the caller's ordered data goes to disk here (fs/README.md,
	 * "Ordered data"). An error fails the write, and the log with it. */
	int (*ordered)(void *arg, uint64_t lsn);
	void *ckpt_arg;
};

typedef struct fs_log fs_log;
typedef struct fs_log_tx fs_log_tx;

/* Write all <nblocks> blocks of a log empty (sequence 0). */
int fs_log_format(const struct fs_log_io *io, uint32_t fsid, uint64_t ino, uint32_t node,
		  uint32_t nblocks);

/*
 * Open a log for writing by <p->node>. The log is scanned as replay does
 * (the same errors, in <err>) and writing continues after its last
 * committed transaction: a torn or uncommitted tail is overwritten. Its
 * tail stays where the log's last checkpoint put it, so replay it first
 * (fs_log_replay) and let the replayed blocks be flushed by the next
 * checkpoint (dirty with LSN 0). Writes nothing until the first force or,
 * with p->writer, until a block fills.
 */
int fs_log_open(const struct fs_log_params *p, fs_log **out, char *err, size_t errsz);
/* Free the log. No transaction may be open; nothing is written (force
 * first to keep what was committed). */
void fs_log_close(fs_log *log);

/*
 * Start a transaction with <reserve> bytes of log space (fs_log_reserve),
 * waiting (and checkpointing) until they are free; hold no metadata block
 * lock while calling it. MM_ETOOBIG: more than fs_log_tx_max().
 */
int fs_log_begin(fs_log *log, uint64_t reserve, fs_log_tx **out);
uint64_t fs_log_tx_max(const fs_log *log);
/* Log that metadata block (<ino>, <blk>) bytes [off, off+len) become
 * <bytes>. MM_ETOOBIG: over the reservation; MM_EINVAL: off+len > FS_MB. */
int fs_log_add_bytes(fs_log_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, const void *bytes,
		     uint32_t len);
/* The same for a range logged whole (an inode record, an indirect block),
 * whose trailing zeros, 64 bytes or more, go as one FS_LOGR_ZERO record
 * (payload: ino, blk, off, len): a record that is mostly zeros costs its
 * bytes in the log, not its size. Never more log than fs_log_add_bytes. */
int fs_log_add_whole(fs_log_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, const void *bytes,
		     uint32_t len);
int fs_log_add_alloc(fs_log_tx *tx, uint64_t ino, uint64_t blk);
int fs_log_add_free(fs_log_tx *tx, uint64_t ino, uint64_t blk);
/* Inode <ino> (not 0) becomes an orphan / stops being one when <tx>
 * commits ("Orphans"). */
int fs_log_add_orphan(fs_log_tx *tx, uint64_t ino);
int fs_log_add_unorphan(fs_log_tx *tx, uint64_t ino);
/* The orphan set now, in no order (after fs_log_open: the orphans the
 * log recovered). *out is malloc'd (NULL when empty): the caller frees. */
int fs_log_orphans(fs_log *log, uint64_t **out, size_t *n);
/*
 * Append the transaction and its commit record to the log (not yet
 * durable: fs_log_force(*lsn)); *lsn gets its commit LSN. Never waits
 * for space; may write older log blocks to free a buffer. Afterwards the
 * caller marks its blocks dirty with *lsn and then calls fs_log_end: until
 * then no checkpoint moves the tail past this transaction. An empty
 * transaction commits nothing (*lsn = 0).
 */
int fs_log_commit(fs_log_tx *tx, uint64_t *lsn);
/* At its commit, store <tx>'s commit LSN in *<lsn> before any log write
 * can include it (under the log's mutex): params.ordered, run by that
 * write, then knows the transaction is in it. An empty transaction
 * stores nothing. */
void fs_log_publish(fs_log_tx *tx, _Atomic uint64_t *lsn);
/* Done with <tx>: after fs_log_commit (its blocks are marked dirty), or
 * instead of it (abort: nothing of it is logged). Frees it. */
void fs_log_end(fs_log_tx *tx);

/* Make every byte of the log before <lsn> durable (group commit: one
 * writer writes each block once for every thread waiting; the others
 * wait for it). An <lsn> past the end means the end. */
int fs_log_force(fs_log *log, uint64_t lsn);
/* Every byte of the log before this LSN is durable. */
uint64_t fs_log_durable(fs_log *log);
/* Run a checkpoint now (see above); MM_EBUSY as need_checkpoint said. */
int fs_log_checkpoint(fs_log *log);

struct fs_log_stats {
	uint64_t commits, records, bytes;	/* appended */
	uint64_t forces;			/* fs_log_force calls that had to wait */
	uint64_t writes;			/* log block writes */
	uint64_t checkpoints, space_waits;
	uint64_t orphans_dropped;		/* orphans a checkpoint could not carry */
	uint64_t end, durable, tail;		/* LSNs */
	uint64_t reserved;			/* by open transactions */
};
void fs_log_get_stats(fs_log *log, struct fs_log_stats *st);

struct fs_log_replay {
	uint32_t node;			/* whose log it is */
	uint64_t head_seq;		/* newest block's sequence (0: empty log) */
	uint64_t tail;			/* replay started here */
	uint64_t end;			/* end of the last committed transaction */
	uint64_t txs, records;		/* applied */
	uint64_t ignored;		/* bytes after <end> ignored: uncommitted or torn */
	bool torn;			/* the newest block was a torn write */
	uint64_t *orphans;		/* the orphan set at the end (malloc'd: */
	size_t norphans;		/* fs_log_replay_done frees it) */
};
/* Free what a successful fs_log_replay put in <r>. */
void fs_log_replay_done(struct fs_log_replay *r);

/*
 * Apply the committed transactions of the log of <nblocks> blocks, log
 * file <ino> of file system <fsid>, to metadata blocks through <bs> (see
 * "Replay"). <out> (may be NULL) says what was found. The whole log is
 * read into memory (nblocks * FS_MB bytes). Errors: MM_ECHECKSUM /
 * MM_EPROTO naming the log block in <err> (nothing applied), MM_ENOMEM,
 * or the bstore's error (then some transactions were applied: run it
 * again). <txdone> (may be NULL) runs after each transaction is applied,
 * with bs->arg: the blocks are then as that commit left them, so a store
 * may write them back there to keep what it holds in memory bounded; an
 * error from it stops the replay.
 */
int fs_log_replay(const struct fs_log_io *io, uint32_t fsid, uint64_t ino, uint32_t nblocks,
		  const struct fs_bstore *bs, int (*txdone)(void *arg), struct fs_log_replay *out,
		  char *err, size_t errsz);

#endif
