/*
 * tests/unit/test_fs_log.c - fs/log.c: the per-node redo log against the
 * contract in fs/log.h, on an in-memory log device and block store (the
 * fskit.h store, limited to the test's blocks).
 *
 *   empty_and_identity  a formatted log replays to nothing; another file
 *                       system's, file's or size's log is refused
 *   basic_replay        sealed blocks changed, forced, replayed onto the
 *                       old disk state: equal to the cache, every block
 *                       verifies, replaying twice changes nothing; whole
 *                       block records split, alloc and free markers
 *   limits              reservations: too big, records past them
 *   crash_sweep         seeded random transactions, a crash after every
 *                       log write in turn (the crashing write torn at a
 *                       chosen length), replay: the blocks equal the cache
 *                       after some transaction between the last one forced
 *                       and the last one committed, never a part of one;
 *                       then the log is reopened over its torn tail, runs
 *                       on and crashes again
 *   wrap_checkpoints    a small log wrapped many times, checkpoints
 *                       flushing the cache, then replay
 *   orphans             orphan records across checkpoints, wraps,
 *                       replay and reopening: the set exactly
 *   group_commit        threads committing and forcing at once: fewer log
 *                       block writes than commits
 *   writer              the writer thread makes full blocks durable with no
 *                       force; without it nothing is written before one
 *   full_log_wait       begins wait on a full log while the flush says
 *                       "busy" and then blocks; no deadlock when it ends
 *                       (the flush forces the log itself)
 *   damaged_log         a bad block in the middle, a lost write: replay
 *                       refuses, naming the block, and applies nothing;
 *                       damage in the newest block ends the log there
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "fs/format.h"
#include "fs/log.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define FSID 0x5eed0001u
#define LOGINO 20u
#define NODE 7u

/* ---- the log device: persists whole writes until it "crashes" ---- */

struct dev {
	uint32_t n;
	uint8_t *blk;			/* what is on disk */
	pthread_mutex_t mu;
	uint64_t writes;		/* protected by mu */
	int64_t crash_after;		/* writes that persist; -1: never */
	uint32_t torn_len;		/* bytes of the crashing write that persist */
	bool crashed;
	unsigned delay_us;
	int64_t read_fail;		/* this block's reads fail; -1: none */
};

static void dev_init(struct dev *d, uint32_t n)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->blk = calloc(n, FS_MB);
	d->crash_after = -1;
	d->read_fail = -1;
	pthread_mutex_init(&d->mu, NULL);
}

static void dev_free(struct dev *d)
{
	free(d->blk);
	pthread_mutex_destroy(&d->mu);
}

static int dev_write(void *arg, uint64_t lblk, const uint8_t *data)
{
	struct dev *d = arg;
	int rc = MM_OK;

	if (d->delay_us)
		usleep(d->delay_us);
	pthread_mutex_lock(&d->mu);
	TCHECK(lblk < d->n, "write of log block %" PRIu64, lblk);
	if (d->crashed) {
		rc = MM_EIO;
	} else if (d->crash_after >= 0 && (int64_t)d->writes >= d->crash_after) {
		memcpy(d->blk + lblk * FS_MB, data, d->torn_len);
		d->crashed = true;
		rc = MM_EIO;
	} else {
		memcpy(d->blk + lblk * FS_MB, data, FS_MB);
	}
	d->writes++;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static int dev_read(void *arg, uint64_t lblk, uint8_t *data)
{
	struct dev *d = arg;

	if ((int64_t)lblk == d->read_fail)
		return MM_EIO;
	memcpy(data, d->blk + lblk * FS_MB, FS_MB);
	return MM_OK;
}

static struct fs_log_io dev_io(struct dev *d)
{
	return (struct fs_log_io){.write = dev_write, .read = dev_read, .arg = d};
}

/* ---- metadata blocks: inodes 100.. blocks 0..NBLK-1 ---- */

#define NINO 2
#define NBLK 6
#define NB (NINO * NBLK)
#define MAXINO 10		/* group_commit: one inode per thread */

/* The fskit.h memory store, limited to blocks 0..nb-1: block i is block
 * i % NBLK of inode 100 + i / NBLK; a get or punch of another is
 * MM_EINVAL. */
struct store {
	struct fk_store s;	/* first: the bstore's arg is the store */
	unsigned nb;
};

static int bidx(const struct store *s, uint64_t ino, uint64_t blk)
{
	if (ino < 100 || blk >= NBLK || (ino - 100) * NBLK + blk >= s->nb)
		return -1;
	return (int)((ino - 100) * NBLK + blk);
}

static int st_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	if (bidx(arg, ino, blk) < 0)
		return MM_EINVAL;
	return fk_get(&((struct store *)arg)->s, ino, blk, write, data);
}

static int st_punch(void *arg, uint64_t ino, uint64_t blk)
{
	if (bidx(arg, ino, blk) < 0)
		return MM_EINVAL;
	return fk_punch(&((struct store *)arg)->s, ino, blk);
}

/* Block i's data, NULL for a hole. */
static uint8_t *st_data(const struct store *s, unsigned i)
{
	return fk_data(&s->s, 100 + i / NBLK, i % NBLK);
}

/* Block i, a new zeroed one. */
static uint8_t *st_make(struct store *s, unsigned i)
{
	return fk_add(&s->s, 100 + i / NBLK, i % NBLK)->data;
}

static void st_drop(struct store *s, unsigned i)
{
	struct fk_blk *b = fk_find(&s->s, 100 + i / NBLK, i % NBLK);

	if (b)
		fk_del(&s->s, b);
}

static void st_init(struct store *s, unsigned nb)
{
	fk_init(&s->s);
	s->nb = nb;
}

static void st_free(struct store *s)
{
	fk_fini(&s->s);
}

/* Block i of <to> becomes block i of <from>. */
static void st_copy_one(struct store *to, const struct store *from, unsigned i)
{
	const uint8_t *d = st_data(from, i);
	uint8_t *t = st_data(to, i);

	if (!d) {
		st_drop(to, i);
		return;
	}
	memcpy(t ? t : st_make(to, i), d, FS_MB);
}

static void st_copy(struct store *to, const struct store *from)
{
	for (unsigned i = 0; i < from->nb; i++)
		st_copy_one(to, from, i);
}

static bool st_equal(const struct store *a, const struct store *b)
{
	for (unsigned i = 0; i < a->nb; i++) {
		const uint8_t *x = st_data(a, i), *y = st_data(b, i);

		if (!x != !y || (x && memcmp(x, y, FS_MB)))
			return false;
	}
	return true;
}

static struct fs_bstore bstore(struct store *s)
{
	return (struct fs_bstore){.get = st_get, .put = fk_put, .punch = st_punch, .arg = s};
}

/* Every present block verifies as the block it is. */
static bool st_verify(const struct store *s)
{
	char e[200];

	for (unsigned i = 0; i < s->nb; i++)
		if (st_data(s, i) && fs_mb_verify(st_data(s, i), FS_MB, FS_BT_DIR, FSID, 100 + i / NBLK,
						  i % NBLK, NULL, e, sizeof(e)) != MM_OK) {
			fprintf(stderr, "  block %u: %s\n", i, e);
			return false;
		}
	return true;
}

/* The state hash: each block's CRC (0 for a hole), combined. */
static uint32_t blk_crc(const struct store *s, unsigned i)
{
	const uint8_t *d = st_data(s, i);

	return d ? mm_crc32c_bulk(0, d, FS_MB) | 1 : 0;
}

static uint64_t st_hash_of(const uint32_t *crc, unsigned nb)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned i = 0; i < nb; i++) {
		h ^= crc[i] + (uint64_t)i * 0x9e3779b97f4a7c15ull;
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static uint64_t st_hash(const struct store *s)
{
	uint32_t crc[MAXINO * NBLK];

	for (unsigned i = 0; i < s->nb; i++)
		crc[i] = blk_crc(s, i);
	return st_hash_of(crc, s->nb);
}

/* ---- the cache over the disk store, as the pagepool would keep it ---- */

struct world {
	struct dev dev;
	struct store disk, cache;
	fs_log *log;
	uint64_t first_dirty[NB], last_dirty[NB];	/* 0: clean */
	uint64_t forced;				/* highest LSN forced OK */
	uint64_t ver;					/* header version counter */
	uint32_t crc[NB];				/* of the cache's blocks */
	uint64_t flushes;
	int ckpt_busy;					/* need_checkpoint says busy this often */
	bool cache_torn;				/* a transaction failed half-made */
};

/* Write cache block <i> to disk: the write-ahead rule first. */
static int flush_block(struct world *w, unsigned i)
{
	int rc = fs_log_force(w->log, w->last_dirty[i]);

	if (rc)
		return rc;
	if (w->last_dirty[i] > w->forced)
		w->forced = w->last_dirty[i];
	st_copy_one(&w->disk, &w->cache, i);
	w->first_dirty[i] = w->last_dirty[i] = 0;
	w->flushes++;
	return MM_OK;
}

static int need_ckpt(void *arg, uint64_t lsn)
{
	struct world *w = arg;

	if (w->ckpt_busy > 0) {
		w->ckpt_busy--;
		return MM_EBUSY;
	}
	for (unsigned i = 0; i < NB; i++)
		if (w->first_dirty[i] && w->first_dirty[i] <= lsn) {
			int rc = flush_block(w, i);

			if (rc)
				return rc;
		}
	return MM_OK;
}

static struct fs_log_params params(struct world *w, uint32_t nbufs)
{
	return (struct fs_log_params){
		.io = dev_io(&w->dev), .fsid = FSID, .ino = LOGINO, .node = NODE,
		.nblocks = w->dev.n, .nbufs = nbufs, .need_checkpoint = need_ckpt, .ckpt_arg = w,
	};
}

static void world_init(struct world *w, uint32_t nblocks)
{
	memset(w, 0, sizeof(*w));
	dev_init(&w->dev, nblocks);
	st_init(&w->disk, NB);
	st_init(&w->cache, NB);
	CU_ASSERT_EQUAL(fs_log_format(&(struct fs_log_io){dev_write, dev_read, &w->dev}, FSID,
				      LOGINO, NODE, nblocks), MM_OK);
	w->dev.writes = 0;
}

static void world_free(struct world *w)
{
	fs_log_close(w->log);
	st_free(&w->disk);
	st_free(&w->cache);
	dev_free(&w->dev);
}

static void seal(struct world *w, unsigned i)
{
	fs_mb_seal(st_data(&w->cache, i), FS_MB, &(struct fs_mbh){
		.type = FS_BT_DIR, .fsid = FSID, .ino = 100 + i / NBLK, .blk = i % NBLK,
		.a = ++w->ver});
}

/*
 * One random transaction on the cache, logged: 1..3 blocks; a hole is
 * allocated, a block may be freed, else 1..3 byte ranges change (rarely
 * the whole body: records split and span log blocks) and the block is
 * resealed, its header logged. MM_OK, or the log's error (a crash).
 */
static int random_tx(struct world *w, uint64_t *seed, uint64_t *lsn)
{
	unsigned nblk = 1 + rnd(seed) % 3, idx[3];
	bool whole = false;
	fs_log_tx *tx;
	int rc;

	for (unsigned k = 0; k < nblk; k++) {
		bool again;

		do {
			idx[k] = rnd(seed) % NB;
			again = false;
			for (unsigned j = 0; j < k; j++)
				again |= idx[j] == idx[k];
		} while (again);
	}
	/* at most one whole-block change, 3 ranges + a header for the others */
	rc = fs_log_begin(w->log, fs_log_reserve(12, FS_MB + 2 * (3 * 2048 + FS_MBH_BYTES), 3),
			  &tx);
	if (rc)
		return rc;
	for (unsigned k = 0; k < nblk && rc == MM_OK; k++) {
		unsigned i = idx[k];
		uint64_t ino = 100 + i / NBLK, blk = i % NBLK;
		uint8_t *b = st_data(&w->cache, i);

		if (!b) {
			b = st_make(&w->cache, i);
			seal(w, i);
			rc = fs_log_add_alloc(tx, ino, blk);
			if (rc == MM_OK)
				rc = fs_log_add_bytes(tx, ino, blk, 0, b, FS_MBH_BYTES);
		} else if (rnd(seed) % 12 == 0) {
			st_drop(&w->cache, i);
			rc = fs_log_add_free(tx, ino, blk);
		} else if (!whole && rnd(seed) % 40 == 0) {
			whole = true;
			for (uint32_t o = FS_MBH_BYTES; o < FS_MB; o++)
				b[o] = (uint8_t)rnd(seed);
			seal(w, i);
			rc = fs_log_add_bytes(tx, ino, blk, 0, b, FS_MB);
		} else if (rnd(seed) % 6 == 0) {
			/* a record logged whole (fs_log_add_whole): some
			 * bytes, then zeros over what was there, which replay
			 * must write as zeros */
			uint32_t len = 64 + rnd(seed) % 4096;
			uint32_t off = FS_MBH_BYTES + rnd(seed) % (FS_MB - FS_MBH_BYTES - len);
			uint32_t nz = rnd(seed) % 2 ? 0 : rnd(seed) % len;

			for (uint32_t o = 0; o < len; o++)
				b[off + o] = o < nz ? (uint8_t)(rnd(seed) | 1) : 0;
			rc = fs_log_add_whole(tx, ino, blk, off, b + off, len);
			seal(w, i);
			if (rc == MM_OK)
				rc = fs_log_add_bytes(tx, ino, blk, 0, b, FS_MBH_BYTES);
		} else {
			unsigned nr = 1 + rnd(seed) % 3;

			for (unsigned r = 0; r < nr && rc == MM_OK; r++) {
				uint32_t len = 1 + rnd(seed) % 2048;
				uint32_t off = FS_MBH_BYTES + rnd(seed) % (FS_MB - FS_MBH_BYTES - len);

				for (uint32_t o = 0; o < len; o++)
					b[off + o] = (uint8_t)rnd(seed);
				rc = fs_log_add_bytes(tx, ino, blk, off, b + off, len);
			}
			seal(w, i);
			if (rc == MM_OK)
				rc = fs_log_add_bytes(tx, ino, blk, 0, b, FS_MBH_BYTES);
		}
	}
	if (rc == MM_OK)
		rc = fs_log_commit(tx, lsn);
	if (rc)
		w->cache_torn = true;	/* changed, not logged: compare hashes only */
	for (unsigned k = 0; k < nblk && rc == MM_OK; k++) {
		unsigned i = idx[k];

		if (!w->first_dirty[i])
			w->first_dirty[i] = *lsn;
		w->last_dirty[i] = *lsn;
		w->crc[i] = blk_crc(&w->cache, i);
	}
	fs_log_end(tx);
	CU_ASSERT_EQUAL_FATAL(rc == MM_OK || rc == MM_EIO, true);
	return rc;
}

static int replay(struct dev *d, struct store *s, struct fs_log_replay *out, char *e, size_t esz)
{
	struct fs_log_io io = dev_io(d);
	struct fs_bstore bs = bstore(s);

	return fs_log_replay(&io, FSID, LOGINO, d->n, &bs, NULL, out, e, esz);
}

/* ---- empty_and_identity ---- */

static void test_empty_and_identity(void)
{
	struct world w;
	struct fs_log_replay r;
	struct fs_log_io io;
	struct fs_bstore bs;
	struct fs_log_params p;
	char e[256];

	world_init(&w, 4);
	io = dev_io(&w.dev);
	bs = bstore(&w.disk);
	CU_ASSERT_EQUAL(fs_log_replay(&io, FSID, LOGINO, 4, &bs, NULL, &r, e, sizeof(e)), MM_OK);
	CHECK_U64(r.txs, ==, 0);
	CHECK_U64(r.head_seq, ==, 0);
	CHECK_U64(r.node, ==, NODE);
	CU_ASSERT_EQUAL(fs_log_replay(&io, FSID + 1, LOGINO, 4, &bs, NULL, &r, e, sizeof(e)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "file system"));
	CU_ASSERT_EQUAL(fs_log_replay(&io, FSID, LOGINO + 1, 4, &bs, NULL, &r, e, sizeof(e)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "log file"));
	CU_ASSERT_EQUAL(fs_log_replay(&io, FSID, LOGINO, 3, &bs, NULL, &r, e, sizeof(e)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "a log of 4 blocks"));
	/* another node may replay it, but not open it for writing */
	p = params(&w, 0);
	p.node = NODE + 1;
	CU_ASSERT_EQUAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_EPROTO);
	CU_ASSERT_PTR_NULL(w.log);
	p.node = NODE;
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(fs_log_force(w.log, UINT64_MAX), MM_OK);
	CHECK_U64(w.dev.writes, ==, 0);
	/* an unreadable block may be the newest: the end of the log is
	 * unknown, so nothing is replayed and the error says why */
	for (int64_t b = 0; b < 4; b++) {
		w.dev.read_fail = b;
		CU_ASSERT_EQUAL(fs_log_replay(&io, FSID, LOGINO, 4, &bs, NULL, &r, e, sizeof(e)), MM_EIO);
		CU_ASSERT_PTR_NOT_NULL(strstr(e, "unreadable"));
	}
	w.dev.read_fail = -1;
	/* an unformatted log */
	memset(w.dev.blk, 0, 4 * (size_t)FS_MB);
	CU_ASSERT_EQUAL(fs_log_replay(&io, FSID, LOGINO, 4, &bs, NULL, &r, e, sizeof(e)), MM_ECHECKSUM);
	world_free(&w);
}

/* ---- basic_replay ---- */

static void test_basic_replay(void)
{
	struct world w;
	struct store s1;
	struct fs_log_replay r;
	uint64_t seed = 42, lsn = 0, h;
	char e[256];

	world_init(&w, 8);
	struct fs_log_params p = params(&w, 0);

	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	for (int k = 0; k < 40; k++)
		CU_ASSERT_EQUAL(random_tx(&w, &seed, &lsn), MM_OK);
	CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
	/* disk still holds the state before: replay brings the cache back */
	st_init(&s1, NB);
	st_copy(&s1, &w.disk);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CHECK_U64(r.txs, ==, 40);
	CU_ASSERT_FALSE(r.torn);
	CHECK_U64(r.end, ==, lsn);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));
	CU_ASSERT_TRUE(st_verify(&s1));
	h = st_hash(&s1);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CHECK_U64(st_hash(&s1), ==, h);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));
	/* replayed onto a disk flushed to some later state: the same */
	for (unsigned i = 0; i < NB; i += 2)
		if (w.first_dirty[i])
			CU_ASSERT_EQUAL(flush_block(&w, i), MM_OK);
	st_copy(&s1, &w.disk);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));
	st_free(&s1);
	world_free(&w);
}

/* ---- limits ---- */

static void test_limits(void)
{
	struct world w;
	struct fs_log_params p;
	fs_log_tx *tx;
	uint8_t b[4096] = {0};
	uint64_t lsn;
	char e[256];

	world_init(&w, 4);
	p = params(&w, 3);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	CHECK_U64(fs_log_tx_max(w.log), ==, 2 * FS_LOG_BODY);
	CU_ASSERT_EQUAL(fs_log_begin(w.log, 2 * FS_LOG_BODY + 1, &tx), MM_ETOOBIG);
	CU_ASSERT_EQUAL_FATAL(fs_log_begin(w.log, fs_log_reserve(1, 100, 0), &tx), MM_OK);
	CU_ASSERT_EQUAL(fs_log_add_bytes(tx, 100, 0, 10, b, 100), MM_OK);
	CU_ASSERT_EQUAL(fs_log_add_bytes(tx, 100, 0, 10, b, 100), MM_ETOOBIG);
	CU_ASSERT_EQUAL(fs_log_add_bytes(tx, 100, 0, FS_MB - 10, b, 11), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_OK);
	CU_ASSERT(lsn > 0);
	CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_ESTATE);
	fs_log_end(tx);
	/* an aborted transaction logs nothing; an empty one commits nothing */
	CU_ASSERT_EQUAL_FATAL(fs_log_begin(w.log, 4096, &tx), MM_OK);
	CU_ASSERT_EQUAL(fs_log_add_free(tx, 100, 1), MM_OK);
	fs_log_end(tx);
	CU_ASSERT_EQUAL_FATAL(fs_log_begin(w.log, 4096, &tx), MM_OK);
	CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_OK);
	CHECK_U64(lsn, ==, 0);
	fs_log_end(tx);
	struct fs_log_stats st;
	fs_log_get_stats(w.log, &st);
	CHECK_U64(st.commits, ==, 1);
	CHECK_U64(st.reserved, ==, 0);
	world_free(&w);
}

/* ---- crash_sweep ---- */

struct epoch {
	uint64_t ntx;			/* committed this epoch */
	uint64_t *lsn;			/* [k]: commit LSN of transaction k (1-based) */
	uint64_t *hash;			/* [k]: cache state after k (0: as recovered) */
	uint64_t stopped;		/* the crash hit during transaction stopped+1 */
};

static struct {
	uint64_t runs, epochs, writes, torn_heads, ignored_bytes, replayed_txs, lost_txs;
	uint64_t max_wraps;
} sweep;

/* Run up to <ntx> random transactions, forcing some, flushing some. */
static void run_epoch(struct world *w, uint64_t *seed, uint64_t ntx, struct epoch *ep)
{
	ep->ntx = 0;
	ep->hash[0] = st_hash_of(w->crc, NB);
	ep->lsn[0] = 0;
	for (uint64_t k = 1; k <= ntx; k++) {
		uint64_t lsn;

		if (random_tx(w, seed, &lsn))
			break;
		ep->ntx = k;
		ep->lsn[k] = lsn;
		ep->hash[k] = st_hash_of(w->crc, NB);
		if (rnd(seed) % 3 == 0) {
			if (fs_log_force(w->log, lsn))
				break;
			if (lsn > w->forced)
				w->forced = lsn;
		}
		if (rnd(seed) % 6 == 0) {
			unsigned i = rnd(seed) % NB;

			if (w->first_dirty[i] && flush_block(w, i))
				break;
		}
	}
}

/* Crash now: replay what the device holds onto the disk state and check
 * it against the epoch; the recovered state becomes disk and cache. */
static bool check_crash(struct world *w, struct epoch *ep, const char *what)
{
	struct fs_log_replay r;
	struct store again;
	uint64_t lo = 0, h;
	int64_t found = -1;
	char e[256];
	int rc;

	fs_log_close(w->log);
	w->log = NULL;
	for (uint64_t k = 1; k <= ep->ntx; k++)
		if (ep->lsn[k] <= w->forced)
			lo = k;
	rc = replay(&w->dev, &w->disk, &r, e, sizeof(e));
	if (rc != MM_OK) {
		fprintf(stderr, "  %s: replay: %s: %s\n", what, mm_strerror(rc), e);
		CU_FAIL("replay failed");
		return false;
	}
	h = st_hash(&w->disk);
	for (uint64_t k = lo; k <= ep->ntx; k++)
		if (ep->hash[k] == h)
			found = (int64_t)k;
	if (found < 0) {
		fprintf(stderr, "  %s: the replayed state is no state between transaction %" PRIu64
			" (forced) and %" PRIu64 " (committed); replay: %" PRIu64 " txs, end %"
			PRIu64 ", torn %d\n", what, lo, ep->ntx, r.txs, r.end, r.torn);
		CU_FAIL("replayed state");
		return false;
	}
	if ((uint64_t)found == ep->ntx && !w->cache_torn && !st_equal(&w->disk, &w->cache)) {
		CU_FAIL("replayed state differs from the cache");
		return false;
	}
	CU_ASSERT_TRUE(st_verify(&w->disk));
	/* idempotent */
	st_init(&again, NB);
	st_copy(&again, &w->disk);
	CU_ASSERT_EQUAL(replay(&w->dev, &again, NULL, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(st_equal(&again, &w->disk));
	st_free(&again);
	sweep.torn_heads += r.torn;
	sweep.ignored_bytes += r.ignored;
	sweep.replayed_txs += r.txs;
	sweep.lost_txs += ep->ntx - (uint64_t)found;
	if (r.head_seq / w->dev.n > sweep.max_wraps)
		sweep.max_wraps = r.head_seq / w->dev.n;
	/* the recovered state is on disk; the cache starts from it */
	st_copy(&w->cache, &w->disk);
	memset(w->first_dirty, 0, sizeof(w->first_dirty));
	memset(w->last_dirty, 0, sizeof(w->last_dirty));
	for (unsigned i = 0; i < NB; i++)
		w->crc[i] = blk_crc(&w->cache, i);
	w->forced = 0;
	w->cache_torn = false;
	return true;
}

/* One run: <epochs> times (run, crash, replay, check, reopen). The first
 * crash is after <crash_at> writes with the crashing write torn at
 * <torn>; later ones at random points. */
static bool crash_run(uint64_t seed0, int64_t crash_at, uint32_t torn, int epochs, uint64_t ntx,
		      uint64_t *writes_out)
{
	struct world w;
	struct epoch ep;
	uint64_t seed = seed0;
	char e[256], what[96];
	bool ok = true;

	world_init(&w, 5);
	ep.lsn = calloc(ntx + 1, sizeof(uint64_t));
	ep.hash = calloc(ntx + 1, sizeof(uint64_t));
	for (unsigned i = 0; i < NB; i++)
		w.crc[i] = 0;
	for (int k = 0; k < epochs && ok; k++) {
		struct fs_log_params p = params(&w, 3);
		int rc;

		/* the machine is back: open writes the newest block again */
		w.dev.crashed = false;
		w.dev.crash_after = -1;
		rc = fs_log_open(&p, &w.log, e, sizeof(e));
		if (rc) {
			fprintf(stderr, "  seed %" PRIu64 " crash %" PRId64 " epoch %d: open: %s: %s\n",
				seed0, crash_at, k, mm_strerror(rc), e);
			CU_FAIL("open after replay");
			break;
		}
		w.dev.crashed = false;
		w.dev.writes = 0;
		w.dev.crash_after = k == 0 ? crash_at : (int64_t)(rnd(&seed) % 40);
		w.dev.torn_len = k == 0 ? torn : (uint32_t)(rnd(&seed) % FS_MB);
		run_epoch(&w, &seed, ntx, &ep);
		if (writes_out && k == 0)
			*writes_out = w.dev.writes;
		sweep.writes += w.dev.writes;
		snprintf(what, sizeof(what), "seed %" PRIu64 " crash %" PRId64 " torn %u epoch %d",
			 seed0, crash_at, torn, k);
		ok = check_crash(&w, &ep, what);
		sweep.epochs++;
	}
	sweep.runs++;
	free(ep.lsn);
	free(ep.hash);
	world_free(&w);
	return ok;
}

static void test_crash_sweep(void)
{
	const unsigned seeds = SANITIZED ? 3 : 14;
	const uint64_t ntx = 60;
	uint64_t points = 0;

	wd_arm("crash_sweep", SANITIZED ? 300 : 120);
	memset(&sweep, 0, sizeof(sweep));
	for (unsigned s = 1; s <= seeds; s++) {
		uint64_t seed = 0x9e3779b97f4a7c15ull * s, w = 0, t = seed;

		if (!crash_run(seed, -1, 0, 1, ntx, &w))
			break;
		/* every crash point of the first epoch; torn lengths: nothing,
		 * inside the header, past it, a random prefix, all but a byte */
		for (uint64_t c = 0; c <= w; c++) {
			static const uint32_t fixed[] = {0, 20, 100, FS_MB - 1};
			uint32_t torn = c % 5 == 4 ? (uint32_t)(rnd(&t) % FS_MB) : fixed[c % 5];

			points++;
			if (!crash_run(seed, (int64_t)c, torn, 3, ntx, NULL))
				goto out;
		}
	}
out:
	printf("\n  fs_log.crash: %u seeds, %" PRIu64 " crash points, %" PRIu64 " runs, %" PRIu64
	       " crash+replay epochs, %" PRIu64 " log writes, %" PRIu64 " torn heads read, %"
	       PRIu64 " txs replayed, %" PRIu64 " committed txs not durable and lost, %" PRIu64
	       " bytes of torn/uncommitted tail ignored, up to %" PRIu64 " wraps\n", seeds, points,
	       sweep.runs, sweep.epochs, sweep.writes, sweep.torn_heads, sweep.replayed_txs,
	       sweep.lost_txs, sweep.ignored_bytes, sweep.max_wraps);
	wd_disarm();
}

/* ---- wrap_checkpoints ---- */

static void test_wrap_checkpoints(void)
{
	struct world w;
	struct fs_log_params p;
	struct fs_log_stats st;
	struct fs_log_replay r;
	struct store s1;
	uint64_t seed = 7, lsn = 0;
	const int n = SANITIZED ? 600 : 3000;
	char e[256];

	wd_arm("wrap_checkpoints", 120);
	world_init(&w, 4);
	p = params(&w, 0);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	w.ckpt_busy = 3;
	for (int k = 0; k < n; k++) {
		CU_ASSERT_EQUAL_FATAL(random_tx(&w, &seed, &lsn), MM_OK);
		if (k % 7 == 0)
			CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
	}
	CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
	fs_log_get_stats(w.log, &st);
	printf("\n  fs_log.wrap: %d txs, %" PRIu64 " bytes logged in a log of 4 blocks (%.1f "
	       "wraps), %" PRIu64 " checkpoints, %" PRIu64 " begins waited, %" PRIu64 " block "
	       "writes, %" PRIu64 " metadata block flushes\n", n, st.bytes,
	       (double)st.end / (4.0 * FS_LOG_BODY), st.checkpoints, st.space_waits, st.writes,
	       w.flushes);
	CU_ASSERT(st.end > 5 * 4 * (uint64_t)FS_LOG_BODY);
	CU_ASSERT(st.checkpoints > 5);
	CU_ASSERT(st.tail > 0);
	st_init(&s1, NB);
	st_copy(&s1, &w.disk);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));
	CU_ASSERT_TRUE(st_verify(&s1));
	CHECK_U64(r.tail, ==, st.tail);
	CU_ASSERT(r.head_seq > 4 * 5);
	st_free(&s1);
	world_free(&w);
	wd_disarm();
}

/* ---- orphans ---- */

#define ORPH0 1000u
#define NORPH 300u

static bool orphans_match(const uint64_t *v, size_t n, const bool *model)
{
	size_t want = 0;
	bool seen[NORPH] = {false};

	for (unsigned i = 0; i < NORPH; i++)
		want += model[i];
	if (n != want)
		return false;
	for (size_t k = 0; k < n; k++) {
		if (v[k] < ORPH0 || v[k] >= ORPH0 + NORPH || !model[v[k] - ORPH0] ||
		    seen[v[k] - ORPH0])
			return false;
		seen[v[k] - ORPH0] = true;
	}
	return true;
}

/* Orphan records in transactions, a small log wrapping so checkpoints
 * move the tail past the records that made the set: replay and reopen
 * give the set exactly; an uncommitted transaction's change does not
 * count. */
static void test_orphans(void)
{
	struct world w;
	struct fs_log_params p;
	struct fs_log_stats st;
	struct fs_log_replay r;
	struct store s1;
	bool model[NORPH] = {false};
	uint64_t seed = 11, lsn = 0, *v;
	size_t n;
	const int rounds = SANITIZED ? 300 : 1500;
	char e[256];

	wd_arm("orphans", 120);
	world_init(&w, 4);
	p = params(&w, 0);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	for (int k = 0; k < rounds; k++) {
		fs_log_tx *tx;
		unsigned i = (unsigned)(rnd(&seed) % NORPH);
		bool add = rnd(&seed) % 3 != 0, commit = rnd(&seed) % 11 != 0;

		CU_ASSERT_EQUAL_FATAL(random_tx(&w, &seed, &lsn), MM_OK);
		CU_ASSERT_EQUAL_FATAL(fs_log_begin(w.log, 4096, &tx), MM_OK);
		CU_ASSERT_EQUAL(add ? fs_log_add_orphan(tx, ORPH0 + i) :
				      fs_log_add_unorphan(tx, ORPH0 + i), MM_OK);
		if (commit) {
			CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_OK);
			model[i] = add;
		}
		fs_log_end(tx);
		if (k % 97 == 0) {
			CU_ASSERT_EQUAL(fs_log_orphans(w.log, &v, &n), MM_OK);
			CU_ASSERT_TRUE(orphans_match(v, n, model));
			free(v);
		}
	}
	CU_ASSERT_EQUAL(fs_log_add_orphan(NULL, 0), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
	fs_log_get_stats(w.log, &st);
	CU_ASSERT(st.checkpoints > 3);
	CU_ASSERT(st.tail > 2 * (uint64_t)FS_LOG_BODY);	/* past the first records */
	CHECK_U64(st.orphans_dropped, ==, 0);
	/* a replay from the tail gives the whole set */
	st_init(&s1, NB);
	st_copy(&s1, &w.disk);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));
	CU_ASSERT_TRUE(orphans_match(r.orphans, r.norphans, model));
	fs_log_replay_done(&r);
	CU_ASSERT_PTR_NULL(r.orphans);
	st_free(&s1);
	/* and so does reopening the log */
	fs_log_close(w.log);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(fs_log_orphans(w.log, &v, &n), MM_OK);
	CU_ASSERT_TRUE(orphans_match(v, n, model));
	free(v);
	/* a checkpoint of the reopened log carries them on */
	for (int k = 0; k < 200; k++)
		CU_ASSERT_EQUAL_FATAL(random_tx(&w, &seed, &lsn), MM_OK);
	CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
	CU_ASSERT_EQUAL(fs_log_checkpoint(w.log), MM_OK);
	st_init(&s1, NB);
	st_copy(&s1, &w.disk);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(orphans_match(r.orphans, r.norphans, model));
	fs_log_replay_done(&r);
	st_free(&s1);
	world_free(&w);
	wd_disarm();
}

/* ---- group_commit ---- */

struct gc {
	fs_log *log;
	struct store *cache;
	pthread_mutex_t *mu;	/* the cache's map */
	unsigned t, ncommit;
	atomic_uint_fast64_t *commits;
};

static void *gc_thread(void *arg)
{
	struct gc *g = arg;
	uint64_t seed = 1000 + g->t;

	for (unsigned k = 0; k < g->ncommit; k++) {
		unsigned i = g->t * NBLK + (unsigned)(rnd(&seed) % NBLK);
		uint8_t *b;
		bool fresh;
		uint32_t off = FS_MBH_BYTES + rnd(&seed) % 60000, len = 1 + rnd(&seed) % 300;
		fs_log_tx *tx;
		uint64_t lsn;
		int rc = fs_log_begin(g->log, fs_log_reserve(2, len + FS_MBH_BYTES, 1), &tx);

		TCHECK(rc == MM_OK, "begin: %s", mm_strerror(rc));
		if (rc)
			break;
		/* the cache's map is shared; each thread's blocks are its own */
		pthread_mutex_lock(g->mu);
		b = st_data(g->cache, i);
		fresh = !b;
		if (fresh)
			b = st_make(g->cache, i);
		pthread_mutex_unlock(g->mu);
		if (fresh) {
			TCHECK(fs_log_add_alloc(tx, 100 + i / NBLK, i % NBLK) == MM_OK, "alloc");
		}
		for (uint32_t o = 0; o < len; o++)
			b[off + o] = (uint8_t)rnd(&seed);
		fs_mb_seal(b, FS_MB, &(struct fs_mbh){.type = FS_BT_DIR, .fsid = FSID,
						      .ino = 100 + i / NBLK, .blk = i % NBLK, .a = k});
		TCHECK(fs_log_add_bytes(tx, 100 + i / NBLK, i % NBLK, off, b + off, len) == MM_OK,
		       "bytes");
		TCHECK(fs_log_add_bytes(tx, 100 + i / NBLK, i % NBLK, 0, b, FS_MBH_BYTES) == MM_OK,
		       "header");
		rc = fs_log_commit(tx, &lsn);
		fs_log_end(tx);
		TCHECK(rc == MM_OK, "commit: %s", mm_strerror(rc));
		rc = fs_log_force(g->log, lsn);
		TCHECK(rc == MM_OK, "force: %s", mm_strerror(rc));
		atomic_fetch_add(g->commits, 1);
	}
	return NULL;
}

/* fs_log_replay's txdone: how often it ran */
static uint64_t ntxdone;

static int count_txdone(void *arg)
{
	(void)arg;
	ntxdone++;
	return MM_OK;
}

static void test_group_commit(void)
{
	enum { T = 8 };
	const unsigned per = SANITIZED ? 60 : 250;
	struct dev d;
	struct store cache, disk;
	struct fs_log_params p;
	struct fs_log_stats st;
	struct fs_log_replay r;
	fs_log *log;
	pthread_t th[T];
	struct gc g[T];
	atomic_uint_fast64_t commits = 0;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	uint64_t t0;
	char e[256];

	wd_arm("group_commit", 120);
	dev_init(&d, 64);
	st_init(&cache, T * NBLK);
	st_init(&disk, T * NBLK);
	p = (struct fs_log_params){.io = dev_io(&d), .fsid = FSID, .ino = LOGINO, .node = NODE,
				   .nblocks = 64};
	CU_ASSERT_EQUAL_FATAL(fs_log_format(&p.io, FSID, LOGINO, NODE, 64), MM_OK);
	d.writes = 0;
	d.delay_us = 200;	/* a disk write takes a while: commits gather */
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &log, e, sizeof(e)), MM_OK);
	t0 = now_us();
	for (unsigned t = 0; t < T; t++) {
		g[t] = (struct gc){.log = log, .cache = &cache, .mu = &mu, .t = t, .ncommit = per,
				   .commits = &commits};
		pthread_create(&th[t], NULL, gc_thread, &g[t]);
	}
	for (unsigned t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	ASSERT_NO_TFAILS();
	fs_log_get_stats(log, &st);
	printf("\n  fs_log.group_commit: %d threads, %" PRIu64 " commits each forced, %" PRIu64
	       " log block writes (%.1f commits per write, 200 us per write), %" PRIu64
	       " forces waited, %.0f commits/s\n", T, st.commits, st.writes,
	       (double)st.commits / (double)(st.writes ? st.writes : 1), st.forces,
	       (double)st.commits * 1e6 / (double)(now_us() - t0));
	CHECK_U64(atomic_load(&commits), ==, (uint64_t)T * per);
	CU_ASSERT(st.writes < st.commits);
	CU_ASSERT(st.writes < st.commits / 2);
	fs_log_close(log);
	d.delay_us = 0;
	ntxdone = 0;
	CU_ASSERT_EQUAL(fs_log_replay(&p.io, FSID, LOGINO, 64, &(struct fs_bstore){
					      st_get, fk_put, st_punch, &disk}, count_txdone, &r, e, sizeof(e)),
			MM_OK);
	CHECK_U64(r.txs, ==, (uint64_t)T * per);
	CHECK_U64(ntxdone, ==, r.txs);	/* once after each transaction */
	CU_ASSERT_TRUE(st_equal(&disk, &cache));
	st_free(&cache);
	st_free(&disk);
	dev_free(&d);
	wd_disarm();
}

/* ---- writer ---- */

/* <n> transactions of 20,000 bytes each, committed, not forced. */
static void commit_unforced(fs_log *log, int n)
{
	static uint8_t junk[20000];

	for (int k = 0; k < n; k++) {
		fs_log_tx *tx;
		uint64_t lsn;

		memset(junk, k + 1, sizeof(junk));
		CU_ASSERT_EQUAL_FATAL(fs_log_begin(log, fs_log_reserve(1, sizeof(junk), 0), &tx),
				      MM_OK);
		CU_ASSERT_EQUAL(fs_log_add_bytes(tx, 100, (uint64_t)k % 3, 0, junk, sizeof(junk)),
				MM_OK);
		CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_OK);
		fs_log_end(tx);
	}
}

/* With p.writer, full blocks become durable without a force (and the
 * partial last one does not); without it nothing is written. */
static void test_writer(void)
{
	struct dev d;
	struct fs_log_params p;
	struct fs_log_stats st;
	struct fs_log_replay r;
	struct store disk;
	fs_log *log;
	uint64_t durable = 0, full;
	char e[256];

	wd_arm("writer", 60);
	dev_init(&d, 64);
	st_init(&disk, NBLK);
	p = (struct fs_log_params){.io = dev_io(&d), .fsid = FSID, .ino = LOGINO, .node = NODE,
				   .nblocks = 64, .nbufs = 8};
	CU_ASSERT_EQUAL_FATAL(fs_log_format(&p.io, FSID, LOGINO, NODE, 64), MM_OK);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &log, e, sizeof(e)), MM_OK);
	commit_unforced(log, 20);
	usleep(100000);
	CHECK_U64(fs_log_durable(log), ==, 0);	/* no writer: nothing until a force */
	fs_log_close(log);

	p.writer = true;
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &log, e, sizeof(e)), MM_OK);
	commit_unforced(log, 20);
	fs_log_get_stats(log, &st);
	full = st.end - st.end % FS_LOG_BODY;
	for (int i = 0; i < 500 && (durable = fs_log_durable(log)) < full; i++)
		usleep(10000);
	CHECK_U64(durable, ==, full);		/* every full block, by the thread */
	CU_ASSERT(full >= 5 * (uint64_t)FS_LOG_BODY);
	fs_log_get_stats(log, &st);
	CHECK_U64(st.forces, ==, 0);
	CU_ASSERT(st.writes >= 5);
	fs_log_close(log);
	/* replay finds every transaction the full blocks hold */
	CU_ASSERT_EQUAL(fs_log_replay(&p.io, FSID, LOGINO, 64, &(struct fs_bstore){
					      st_get, fk_put, st_punch, &disk}, NULL, &r, e, sizeof(e)),
			MM_OK);
	CU_ASSERT(r.txs >= 14 && r.txs < 20);
	st_free(&disk);
	dev_free(&d);
	wd_disarm();
}

/* ---- full_log_wait ---- */

struct fl {
	struct world *w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool flushing, release;		/* protected by mu */
	int busy, calls;
	atomic_uint done;
};

static int fl_ckpt(void *arg, uint64_t lsn)
{
	struct fl *f = arg;
	int rc;

	pthread_mutex_lock(&f->mu);
	f->calls++;
	if (f->busy > 0) {	/* nothing flushable yet */
		f->busy--;
		pthread_mutex_unlock(&f->mu);
		return MM_EBUSY;
	}
	f->flushing = true;
	pthread_cond_broadcast(&f->cv);
	while (!f->release)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	/* the pagepool's flush forces the log first (write-ahead) */
	rc = fs_log_force(f->w->log, lsn);
	TCHECK(rc == MM_OK, "force from the flush: %s", mm_strerror(rc));
	return rc;
}

static void *fl_thread(void *arg)
{
	struct fl *f = arg;
	static uint8_t junk[20000];

	for (int k = 0; k < 20; k++) {
		fs_log_tx *tx;
		uint64_t lsn;
		int rc = fs_log_begin(f->w->log, fs_log_reserve(1, sizeof(junk), 0), &tx);

		TCHECK(rc == MM_OK, "begin: %s", mm_strerror(rc));
		if (rc)
			break;
		rc = fs_log_add_bytes(tx, 100, 1, 100, junk, sizeof(junk));
		if (rc == MM_OK)
			rc = fs_log_commit(tx, &lsn);
		fs_log_end(tx);
		TCHECK(rc == MM_OK, "commit: %s", mm_strerror(rc));
		TCHECK(fs_log_force(f->w->log, lsn) == MM_OK, "force");
	}
	atomic_fetch_add(&f->done, 1);
	return NULL;
}

static void test_full_log_wait(void)
{
	enum { T = 4 };
	struct world w;
	struct fl f = {.w = &w, .busy = 5};
	struct fs_log_params p;
	struct fs_log_stats st;
	pthread_t th[T];
	char e[256];

	wd_arm("full_log_wait", 60);
	world_init(&w, 3);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	p = params(&w, 0);
	p.need_checkpoint = fl_ckpt;
	p.ckpt_arg = &f;
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	for (unsigned t = 0; t < T; t++)
		pthread_create(&th[t], NULL, fl_thread, &f);
	/* the log fills; the flush is busy 5 times, then runs until released */
	pthread_mutex_lock(&f.mu);
	while (!f.flushing)
		pthread_cond_wait(&f.cv, &f.mu);
	pthread_mutex_unlock(&f.mu);
	usleep(50 * 1000);
	fs_log_get_stats(w.log, &st);
	CU_ASSERT(st.space_waits >= 1);
	CHECK_U64(atomic_load(&f.done), ==, 0);	/* everybody waits for space */
	pthread_mutex_lock(&f.mu);
	f.release = true;
	pthread_cond_broadcast(&f.cv);
	pthread_mutex_unlock(&f.mu);
	for (unsigned t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	ASSERT_NO_TFAILS();
	fs_log_get_stats(w.log, &st);
	printf("\n  fs_log.full: %d threads x 20 txs of 20 KB in a 3-block log: %" PRIu64
	       " checkpoints, %" PRIu64 " begins waited, %d need_checkpoint calls (5 busy)\n", T,
	       st.checkpoints, st.space_waits, f.calls);
	CHECK_U64(atomic_load(&f.done), ==, T);
	CU_ASSERT(st.checkpoints >= 2);
	CHECK_U64(st.commits, ==, T * 20);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
	world_free(&w);
	wd_disarm();
}

/* ---- damaged_log ---- */

static void test_damaged_log(void)
{
	struct world w;
	struct fs_log_params p;
	struct fs_log_replay r;
	struct store s1;
	uint8_t *old = malloc(FS_MB), *save = malloc(FS_MB);
	uint64_t seed = 99, lsn = 0, h0;
	char e[256];
	int rc;

	world_init(&w, 16);
	p = params(&w, 0);
	CU_ASSERT_EQUAL_FATAL(fs_log_open(&p, &w.log, e, sizeof(e)), MM_OK);
	/* a log of 5+ blocks, no checkpoint: the tail stays 0 */
	for (int k = 0; k < 70; k++) {
		CU_ASSERT_EQUAL_FATAL(random_tx(&w, &seed, &lsn), MM_OK);
		CU_ASSERT_EQUAL(fs_log_force(w.log, lsn), MM_OK);
		if (k == 5)
			memcpy(old, w.dev.blk + 2 * (size_t)FS_MB, FS_MB);
	}
	struct fs_log_stats st;
	fs_log_get_stats(w.log, &st);
	if (st.end <= 4 * (uint64_t)FS_LOG_BODY || st.end >= 15 * (uint64_t)FS_LOG_BODY)
		fprintf(stderr, "  end %" PRIu64 "\n", st.end);
	CU_ASSERT_FATAL(st.end > 4 * (uint64_t)FS_LOG_BODY && st.end < 15 * (uint64_t)FS_LOG_BODY);
	CHECK_U64(st.tail, ==, 0);
	st_init(&s1, NB);
	h0 = st_hash(&w.disk);

	/* a bit flipped in the middle: refused, naming the block; nothing applied */
	memcpy(save, w.dev.blk + 2 * (size_t)FS_MB, FS_MB);
	w.dev.blk[2 * (size_t)FS_MB + 5000] ^= 0x10;
	st_copy(&s1, &w.disk);
	rc = replay(&w.dev, &s1, &r, e, sizeof(e));
	CU_ASSERT_EQUAL(rc, MM_ECHECKSUM);
	printf("\n  fs_log.damaged: %s\n", e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "log block 2 (sequence 3)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "cannot be replayed"));
	CHECK_U64(st_hash(&s1), ==, h0);
	CU_ASSERT_EQUAL(fs_log_open(&p, &(fs_log *){NULL}, e, sizeof(e)), MM_ECHECKSUM);

	/* a lost write: an older version of the block */
	memcpy(w.dev.blk + 2 * (size_t)FS_MB, old, FS_MB);
	rc = replay(&w.dev, &s1, &r, e, sizeof(e));
	printf("  fs_log.damaged: %s\n", e);
	CU_ASSERT(rc == MM_EPROTO || rc == MM_ECHECKSUM);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "log block 2"));
	CHECK_U64(st_hash(&s1), ==, h0);
	memcpy(w.dev.blk + 2 * (size_t)FS_MB, save, FS_MB);
	CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(st_equal(&s1, &w.cache));

	/* damage in the newest block reads as a torn write: the log ends there */
	{
		uint64_t head = (st.end - 1) / FS_LOG_BODY + 1, used = st.end - (head - 1) * FS_LOG_BODY;

		w.dev.blk[(head - 1) * FS_MB + FS_LOG_HDR + used / 2] ^= 1;
		st_copy(&s1, &w.disk);
		CU_ASSERT_EQUAL(replay(&w.dev, &s1, &r, e, sizeof(e)), MM_OK);
		CU_ASSERT_TRUE(r.torn);
		CU_ASSERT(r.txs < 70);
		CU_ASSERT(r.end < st.end);
		CU_ASSERT_TRUE(st_verify(&s1));
	}
	st_free(&s1);
	free(old);
	free(save);
	world_free(&w);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"empty_and_identity", test_empty_and_identity},
		{"basic_replay", test_basic_replay},
		{"limits", test_limits},
		{"crash_sweep", test_crash_sweep},
		{"wrap_checkpoints", test_wrap_checkpoints},
		{"orphans", test_orphans},
		{"group_commit", test_group_commit},
		{"writer", test_writer},
		{"full_log_wait", test_full_log_wait},
		{"damaged_log", test_damaged_log},
	};

	MM_ADD_SUITE("fs_log", tests);
}

MM_CUNIT_MAIN(register_tests)
