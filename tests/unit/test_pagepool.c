/*
 * tests/unit/test_pagepool.c - pagepool/: the block cache, tested against
 * the contract in pagepool/pagepool.h (and the numbered rules of
 * pagepool/README.md where the header defers to them).
 *
 * The pool runs over an in-memory I/O backend (struct membe) written here:
 * four sparse "disks" (NSD ids 0..3) of 64 KiB chunks allocated on first
 * write (unwritten chunks read as zeros). submit() completes either inline
 * (BE_INLINE: done() is called before submit returns, on the caller's
 * thread) or on one backend thread (BE_ASYNC) that takes a random queued
 * transfer (so transfers complete out of order) after a random small delay.
 * Data moves at completion time. The backend counts transfers and bytes,
 * checks every transfer (ids, bounds, 4 KiB alignment as the NSD disk
 * layer needs), fails transfers that touch an injected range with MM_EIO
 * (at completion, or refused at submit), scribbles on the buffer of a
 * failed read, and logs every write with the journal's durable LSN at the
 * time. With stamps on, it also checks the write-ahead rule exactly: test
 * data carries its LSN in every word, and no written word may carry an
 * LSN that is not yet durable.
 *
 * The fake file systems map (fs, ino, blk) round-robin over the four NSDs:
 * key = ino * 1000 + blk, NSD key % 4, offset base + key / 4 * block size
 * (a striped file). FS1: 256 KiB blocks, FS2: 1 MiB, FS3: 64 KiB (4 KiB
 * subblocks, the minimum), FS4: 256 KiB with two replicas. FS1 inode 2
 * and FS2 inode 5 are "fragments": map() gives a pp_map.len of 16 and 40
 * KiB, so their buffers start small and grow (every test that uses them,
 * the stress test too, goes through that path). Inode HOLE_INO
 * is a hole (map gives MM_ENOENT). log_force() advances a fake journal's
 * durable LSN (the max forced); the tests hand out LSNs from its counter.
 *
 * Threads other than CUnit's never call CU_ASSERT (CUnit is not thread
 * safe): they count failures through TCHECK, and the test asserts the count.
 * A SIGALRM watchdog turns a deadlock into a failed run naming the test.
 * Seeds are fixed; timing is not, so the stress tests check invariants
 * that hold for every interleaving. MMFS_TEST_VERBOSE=1 shows the log.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "pagepool/buddy.h"
#include "pagepool/pagepool.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"

#define KIB (1u << 10)
#define MIB (1u << 20)
/* the tests' smallest pool: room for one 16 MiB block's worth of buffers */
#define POOL_MIN ((uint64_t)PP_MAX_BLOCK)

/* ---- small helpers ---- */

static void fill_rand(void *buf, size_t len, uint64_t *s)
{
	uint8_t *p = buf;
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= len; i += 8) {
		w = rnd(s);
		memcpy(p + i, &w, 8);
	}
	if (i < len) {
		w = rnd(s);
		memcpy(p + i, &w, len - i);
	}
}

static uint32_t sub_size(uint32_t bs)
{
	uint32_t s = bs / PP_SUBBLOCKS;

	return s < 4096 ? 4096 : s;
}

/* 0 if equal, else prints where <got> first differs from <want>. */
static int cmp_report(const char *what, const struct pp_tag *t, uint32_t base, const uint8_t *got,
		      const uint8_t *want, size_t len)
{
	size_t i;

	if (memcmp(got, want, len) == 0)
		return 0;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	fprintf(stderr, "  %s: fs %u ino %" PRIu64 " blk %" PRIu64 ": byte %zu differs (got %02x want %02x)\n",
		what, t->fs, t->ino, t->blk, base + i, got[i], want[i]);
	return 1;
}


/* ---- the fake journal ---- */

static struct {
	pthread_mutex_t mu;
	uint64_t next;		/* last LSN handed out */
	uint64_t durable;	/* max LSN forced */
	uint64_t forces, beyond;	/* log_force calls; of which for an LSN never handed out */
	unsigned slow_us;	/* log_force sleeps this long before it is durable */
} journal = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t jn_append(void)
{
	uint64_t v;

	pthread_mutex_lock(&journal.mu);
	v = ++journal.next;
	pthread_mutex_unlock(&journal.mu);
	return v;
}

static uint64_t jn_durable(void)
{
	uint64_t v;

	pthread_mutex_lock(&journal.mu);
	v = journal.durable;
	pthread_mutex_unlock(&journal.mu);
	return v;
}

/* ---- the fake file systems ---- */

#define NDISK 4
#define HOLE_INO 15
#define MAX_INO 16
#define MAX_BLK 1000

struct fakefs {
	uint32_t fs, bs;
	uint64_t base, rep_base;
	int nrep;
	atomic_uint bad;	/* map() asked about a tag it cannot be asked about */
	uint64_t frag_ino;	/* map() says this inode's blocks are fragments... */
	uint32_t frag_len;	/* ...of this many bytes (pp_map.len) */
	bool frag_bounded;	/* ...and nothing past them is written (pp_map.bounded) */
};

static struct fakefs FS1 = {.fs = 1, .bs = 256 * KIB, .base = 0, .nrep = 1,
			    .frag_ino = 2, .frag_len = 16 * KIB};
static struct fakefs FS2 = {.fs = 2, .bs = 1 * MIB, .base = 1ull << 30, .nrep = 1,
			    .frag_ino = 5, .frag_len = 40 * KIB};
static struct fakefs FS3 = {.fs = 3, .bs = 64 * KIB, .base = 5ull << 30, .nrep = 1};
static struct fakefs FS4 = {.fs = 4, .bs = 256 * KIB, .base = 6ull << 30, .rep_base = 1ull << 30,
			    .nrep = 2};

static int ff_map(void *arg, const struct pp_tag *t, struct pp_map *out)
{
	struct fakefs *f = arg;
	uint64_t key;

	if (t->fs != f->fs || t->ino >= MAX_INO || t->blk >= MAX_BLK) {
		atomic_fetch_add(&f->bad, 1);
		return MM_EINVAL;
	}
	if (t->ino == HOLE_INO)
		return MM_ENOENT;
	key = t->ino * 1000 + t->blk;
	memset(out, 0, sizeof(*out));
	if (f->frag_ino && t->ino == f->frag_ino) {
		out->len = f->frag_len;
		out->bounded = f->frag_bounded;
	}
	out->nrep = f->nrep;
	for (int r = 0; r < f->nrep; r++) {
		out->rep[r].nsd_id = (key + (uint64_t)r) % NDISK;
		out->rep[r].offset = f->base + (uint64_t)r * f->rep_base + key / NDISK * f->bs;
	}
	return 0;
}

static int ff_log_force(void *arg, uint64_t lsn)
{
	unsigned slow;

	(void)arg;
	pthread_mutex_lock(&journal.mu);
	slow = journal.slow_us;
	pthread_mutex_unlock(&journal.mu);
	if (slow)
		usleep(slow);
	pthread_mutex_lock(&journal.mu);
	journal.forces++;
	if (lsn > journal.next)
		journal.beyond++;
	if (lsn > journal.durable)
		journal.durable = lsn;
	pthread_mutex_unlock(&journal.mu);
	return 0;
}

/* pp_fs_ops.write_failed: failed buffers per inode (below 16); calls
 * with another error than the backend's MM_EIO (CUnit is not for the
 * write-behind threads) */
static atomic_uint ff_wfailed[16], ff_wfailed_odd;

static void ff_write_failed(void *arg, const struct pp_tag *t, int rc)
{
	(void)arg;
	if (rc != MM_EIO)
		atomic_fetch_add(&ff_wfailed_odd, 1);
	if (t->ino < 16)
		atomic_fetch_add(&ff_wfailed[t->ino], 1);
}

static const struct pp_fs_ops ff_ops = {.map = ff_map, .log_force = ff_log_force,
					.write_failed = ff_write_failed};

/* ---- the in-memory I/O backend ---- */

#define CHUNK (64u * KIB)
#define DISK_VSIZE (8ull << 30)
#define NCHUNK (DISK_VSIZE / CHUNK)
#define IO_ALIGN 4096u
#define STAMP_MAGIC 0x57A3F00Du

enum be_mode { BE_INLINE, BE_ASYNC };

struct fail_rule {
	uint64_t nsd, lo, hi;
	bool write;
	bool at_submit;		/* submit() refuses it (no callback) */
};

struct wrec {
	uint64_t nsd, off, len, durable;
};

struct membe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t **chunk[NDISK];
	enum be_mode mode;
	unsigned delay_us;	/* async: up to this long before a transfer (1 in 4) */
	struct pp_io **q;
	size_t qn, qcap;
	pthread_t thr;
	bool stop;
	uint64_t rng;
	uint64_t reads, read_bytes, writes, write_bytes, rd_fail, wr_fail;
	uint64_t bad_io, misaligned, pending;
	struct fail_rule fail[32];
	int nfail;
	struct wrec *wlog;
	size_t wn, wcap;
	bool stamps;
	uint64_t stamp_viol, stamp_max;
	bool hold_writes;	/* async: writes wait in the queue while set */
};

/* Caller holds be->mu. */
static void disk_copy(struct membe *be, uint64_t nsd, uint64_t off, void *buf, size_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t ci = off / CHUNK;
		size_t co = off % CHUNK, n = CHUNK - co;
		uint8_t *c;

		if (n > len)
			n = len;
		c = be->chunk[nsd][ci];
		if (write) {
			if (!c) {
				c = calloc(1, CHUNK);
				if (!c)
					abort();
				be->chunk[nsd][ci] = c;
			}
			memcpy(c + co, p, n);
		} else if (c) {
			memcpy(p, c + co, n);
		} else {
			memset(p, 0, n);
		}
		p += n;
		off += n;
		len -= n;
	}
}

/* Direct access to replica <rep> of a block's disk copy (test side). */
static void blk_disk(struct membe *be, struct fakefs *f, uint64_t ino, uint64_t blk, int rep,
		     uint32_t off, void *buf, uint32_t len, bool write)
{
	struct pp_tag t = {f->fs, ino, blk};
	struct pp_map m;

	if (ff_map(f, &t, &m) != 0)
		abort();
	pthread_mutex_lock(&be->mu);
	disk_copy(be, m.rep[rep].nsd_id, m.rep[rep].offset + off, buf, len, write);
	pthread_mutex_unlock(&be->mu);
}

/* Fail transfers in direction <write> touching the disk copy of a block. */
static void be_fail_block(struct membe *be, struct fakefs *f, uint64_t ino, uint64_t blk, bool write,
			  bool at_submit)
{
	struct pp_tag t = {f->fs, ino, blk};
	struct pp_map m;

	if (ff_map(f, &t, &m) != 0)
		abort();
	pthread_mutex_lock(&be->mu);
	for (int r = 0; r < m.nrep && be->nfail < 32; r++)
		be->fail[be->nfail++] = (struct fail_rule){m.rep[r].nsd_id, m.rep[r].offset,
							   m.rep[r].offset + f->bs, write, at_submit};
	pthread_mutex_unlock(&be->mu);
}

static void be_fail_clear(struct membe *be)
{
	pthread_mutex_lock(&be->mu);
	be->nfail = 0;
	pthread_mutex_unlock(&be->mu);
}

static const struct fail_rule *be_match(struct membe *be, const struct pp_io *io)
{
	for (int i = 0; i < be->nfail; i++) {
		const struct fail_rule *r = &be->fail[i];

		if (r->write == io->write && r->nsd == io->nsd_id && io->offset < r->hi &&
		    io->offset + io->len > r->lo)
			return r;
	}
	return NULL;
}

/* Highest LSN stamped in <buf>; caller holds be->mu. */
static void be_stamp_check(struct membe *be, const void *buf, size_t len)
{
	uint64_t max = 0, w, dur = jn_durable();

	for (size_t i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, (const uint8_t *)buf + i, 8);
		if ((w >> 32) == STAMP_MAGIC && (w & 0xFFFFFFFFu) > max)
			max = w & 0xFFFFFFFFu;
	}
	if (max > be->stamp_max)
		be->stamp_max = max;
	if (max > dur) {
		if (be->stamp_viol++ < 5)
			fprintf(stderr, "  write-ahead violated: data of LSN %" PRIu64 " written, durable %" PRIu64 "\n",
				max, dur);
	}
}

static void be_complete(struct membe *be, struct pp_io *io)
{
	int rc = 0;

	pthread_mutex_lock(&be->mu);
	if (be_match(be, io)) {
		rc = MM_EIO;
		if (io->write) {
			be->wr_fail++;
		} else {
			be->rd_fail++;
			memset(io->buf, 0xEE, io->len);	/* a failed read leaves garbage */
		}
	} else {
		if (io->write && be->stamps)
			be_stamp_check(be, io->buf, io->len);
		disk_copy(be, io->nsd_id, io->offset, io->buf, io->len, io->write);
	}
	pthread_mutex_unlock(&be->mu);
	io->done(io, rc);	/* <io> may be gone after this */
	pthread_mutex_lock(&be->mu);
	be->pending--;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

static int be_submit(void *arg, struct pp_io *io)
{
	struct membe *be = arg;
	const struct fail_rule *r;

	pthread_mutex_lock(&be->mu);
	if (!io || !io->done || !io->buf || io->len == 0 || io->nsd_id >= NDISK ||
	    io->offset + io->len > DISK_VSIZE || io->offset + io->len < io->offset) {
		be->bad_io++;
		pthread_mutex_unlock(&be->mu);
		return MM_EINVAL;
	}
	if (io->offset % IO_ALIGN || io->len % IO_ALIGN || (uintptr_t)io->buf % IO_ALIGN)
		be->misaligned++;
	r = be_match(be, io);
	if (r && r->at_submit) {
		if (io->write)
			be->wr_fail++;
		else
			be->rd_fail++;
		pthread_mutex_unlock(&be->mu);
		return MM_EIO;
	}
	if (io->write) {
		be->writes++;
		be->write_bytes += io->len;
		if (be->wn == be->wcap) {
			be->wcap = be->wcap ? be->wcap * 2 : 1024;
			be->wlog = realloc(be->wlog, be->wcap * sizeof(*be->wlog));
			if (!be->wlog)
				abort();
		}
		be->wlog[be->wn++] = (struct wrec){io->nsd_id, io->offset, io->len, jn_durable()};
		if (be->stamps)
			be_stamp_check(be, io->buf, io->len);
	} else {
		be->reads++;
		be->read_bytes += io->len;
	}
	be->pending++;
	if (be->mode == BE_INLINE) {
		pthread_mutex_unlock(&be->mu);
		be_complete(be, io);
		return 0;
	}
	if (be->qn == be->qcap) {
		be->qcap = be->qcap ? be->qcap * 2 : 64;
		be->q = realloc(be->q, be->qcap * sizeof(*be->q));
		if (!be->q)
			abort();
	}
	be->q[be->qn++] = io;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	return 0;
}

static void *be_thread(void *arg)
{
	struct membe *be = arg;

	pthread_mutex_lock(&be->mu);
	for (;;) {
		struct pp_io *io;
		size_t i;
		unsigned d = 0;

		size_t ready;

		for (;;) {
			ready = be->qn;
			if (be->hold_writes) {	/* only reads may complete */
				ready = 0;
				for (size_t k = 0; k < be->qn; k++)
					ready += !be->q[k]->write;
			}
			if (ready || (be->stop && be->qn == 0))
				break;
			pthread_cond_wait(&be->cv, &be->mu);
		}
		if (be->qn == 0)
			break;
		i = rnd(&be->rng) % be->qn;
		while (be->hold_writes && be->q[i]->write)
			i = (i + 1) % be->qn;
		io = be->q[i];
		be->q[i] = be->q[--be->qn];
		if (be->delay_us && rnd(&be->rng) % 4 == 0)
			d = (unsigned)(rnd(&be->rng) % be->delay_us) + 1;
		pthread_mutex_unlock(&be->mu);
		if (d)
			usleep(d);
		be_complete(be, io);
		pthread_mutex_lock(&be->mu);
	}
	pthread_mutex_unlock(&be->mu);
	return NULL;
}

static void be_init(struct membe *be, enum be_mode mode, unsigned delay_us)
{
	memset(be, 0, sizeof(*be));
	pthread_mutex_init(&be->mu, NULL);
	pthread_cond_init(&be->cv, NULL);
	for (int i = 0; i < NDISK; i++) {
		be->chunk[i] = calloc(NCHUNK, sizeof(uint8_t *));
		if (!be->chunk[i])
			abort();
	}
	be->mode = mode;
	be->delay_us = delay_us;
	be->rng = 0x243F6A8885A308D3ull;
	if (mode == BE_ASYNC && pthread_create(&be->thr, NULL, be_thread, be) != 0)
		abort();
}

static void be_fini(struct membe *be)
{
	uint64_t t0 = now_us();

	pthread_mutex_lock(&be->mu);
	/* The pool is gone: nothing may be in flight (it would complete into
	 * freed memory). A completion counts down just after its done()
	 * returned, so give the last ones a moment. */
	while (be->pending && now_us() - t0 < 1000000) {
		pthread_mutex_unlock(&be->mu);
		usleep(1000);
		pthread_mutex_lock(&be->mu);
	}
	CU_ASSERT_EQUAL(be->pending, 0);
	be->stop = true;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	if (be->mode == BE_ASYNC)
		pthread_join(be->thr, NULL);
	CU_ASSERT_EQUAL(be->bad_io, 0);
	CU_ASSERT_EQUAL(be->misaligned, 0);
	for (int i = 0; i < NDISK; i++) {
		for (uint64_t c = 0; c < NCHUNK; c++)
			free(be->chunk[i][c]);
		free(be->chunk[i]);
	}
	free(be->q);
	free(be->wlog);
	pthread_cond_destroy(&be->cv);
	pthread_mutex_destroy(&be->mu);
}

static uint64_t be_get(struct membe *be, const uint64_t *field)
{
	uint64_t v;

	pthread_mutex_lock(&be->mu);
	v = *field;
	pthread_mutex_unlock(&be->mu);
	return v;
}

static void be_hold_writes(struct membe *be, bool hold)
{
	pthread_mutex_lock(&be->mu);
	be->hold_writes = hold;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

/* Open the write gate after <ms> milliseconds. */
struct gate_timer {
	struct membe *be;
	unsigned ms;
	pthread_t th;
};

static void *gate_timer_main(void *arg)
{
	struct gate_timer *g = arg;

	usleep(g->ms * 1000);
	be_hold_writes(g->be, false);
	return NULL;
}

static void be_open_later(struct gate_timer *g, struct membe *be, unsigned ms)
{
	g->be = be;
	g->ms = ms;
	pthread_create(&g->th, NULL, gate_timer_main, g);
}

/* ---- pool set-up ---- */

/* pp_config.max_size of the next pool_up (0: none) */
static uint64_t pool_max_size;

static pp_pool *pool_up(struct membe *be, enum be_mode mode, unsigned delay_us, uint64_t size,
			unsigned writers, unsigned dirty_pct)
{
	struct pp_config c = {.size = size,
			      .max_size = pool_max_size,
			      .io = {.submit = be_submit},
			      .io_arg = be,
			      .writers = writers,
			      .dirty_pct = dirty_pct};
	pp_pool *p = NULL;

	be_init(be, mode, delay_us);
	pthread_mutex_lock(&journal.mu);
	journal.slow_us = 0;
	pthread_mutex_unlock(&journal.mu);
	if (pp_pool_create(&c, &p) != 0 || !p) {
		CU_FAIL("pp_pool_create");
		return NULL;
	}
	CU_ASSERT_EQUAL(pp_fs_register(p, FS1.fs, FS1.bs, &ff_ops, &FS1), 0);
	CU_ASSERT_EQUAL(pp_fs_register(p, FS2.fs, FS2.bs, &ff_ops, &FS2), 0);
	CU_ASSERT_EQUAL(pp_fs_register(p, FS3.fs, FS3.bs, &ff_ops, &FS3), 0);
	CU_ASSERT_EQUAL(pp_fs_register(p, FS4.fs, FS4.bs, &ff_ops, &FS4), 0);
	return p;
}

static void pool_down(pp_pool *p, struct membe *be)
{
	pp_pool_destroy(p);
	be_fini(be);
	CU_ASSERT_EQUAL(atomic_exchange(&FS1.bad, 0), 0);
	CU_ASSERT_EQUAL(atomic_exchange(&FS2.bad, 0), 0);
	CU_ASSERT_EQUAL(atomic_exchange(&FS3.bad, 0), 0);
	CU_ASSERT_EQUAL(atomic_exchange(&FS4.bad, 0), 0);
	ASSERT_NO_TFAILS();
}

static struct pp_stats stats(pp_pool *p)
{
	struct pp_stats st;

	memset(&st, 0, sizeof(st));
	pp_get_stats(p, &st);
	return st;
}

/* Overwrite [off, off+len) of a block with <src> and mark it dirty. */
static int put(pp_pool *p, struct fakefs *f, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
	       const void *src, uint64_t lsn)
{
	struct pp_tag t = {f->fs, ino, blk};
	pp_buf *b = NULL;
	void *d = NULL;
	int rc = pp_get(p, &t, off, len, PP_OVERWRITE, &b, &d);

	if (rc != 0)
		return rc;
	memcpy((uint8_t *)d + off, src, len);
	pp_mark_dirty(b, off, len, lsn);
	pp_release(b);
	return 0;
}

/* Read [off, off+len) through the pool into <dst>. */
static int get(pp_pool *p, struct fakefs *f, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
	       void *dst)
{
	struct pp_tag t = {f->fs, ino, blk};
	pp_buf *b = NULL;
	void *d = NULL;
	int rc = pp_get(p, &t, off, len, PP_READ, &b, &d);

	if (rc != 0)
		return rc;
	memcpy(dst, (uint8_t *)d + off, len);
	pp_release(b);
	return 0;
}

static void expect_get_rc(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
			  enum pp_mode mode, int want)
{
	struct pp_tag t = {fs, ino, blk};
	pp_buf *b = NULL;
	void *d = NULL;
	int rc = pp_get(p, &t, off, len, mode, &b, &d);

	CU_ASSERT_EQUAL(rc, want);
	if (rc != want)
		fprintf(stderr, "  pp_get(fs %u, off %u, len %u, mode %d) = %d, want %d\n", fs, off, len,
			(int)mode, rc, want);
	if (rc == 0)
		pp_release(b);
}

/* ==== 1. basic: write, hit, flush, miss, errors ==== */

static void test_basic(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_INLINE, 0, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs, off = 3 * sub_size(bs), len = 64 * KIB;
	uint8_t *pat = malloc(bs), *tmp = malloc(bs), *zero = calloc(1, bs);
	uint64_t seed = 1, r0;
	struct pp_stats s0, s1;

	CU_ASSERT_FATAL(p && pat && tmp && zero);
	wd_arm("basic", 30);
	fill_rand(pat, bs, &seed);

	CU_ASSERT_EQUAL(put(p, &FS1, 3, 5, off, len, pat + off, 0), 0);
	s0 = stats(p);
	CU_ASSERT(s0.buffers_dirty >= 1);
	CU_ASSERT(s0.dirty_bytes >= len);
	CU_ASSERT(s0.used >= bs && s0.used <= POOL_MIN);
	CU_ASSERT_EQUAL(s0.size, POOL_MIN);

	/* A hit: same bytes, nothing read. */
	r0 = be_get(&be, &be.reads);
	memset(tmp, 0, bs);
	CU_ASSERT_EQUAL(get(p, &FS1, 3, 5, off, len, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat + off, len), 0);
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.hits, s0.hits + 1);
	CU_ASSERT_EQUAL(s1.misses, s0.misses);
	CU_ASSERT_EQUAL(be_get(&be, &be.reads), r0);

	/* Flush: on disk, clean. */
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 3, 5, 6), 0);
	blk_disk(&be, &FS1, 3, 5, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp + off, pat + off, len), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, zero, off), 0);	/* nothing else written over */
	CU_ASSERT_EQUAL(memcmp(tmp + off + len, zero, bs - off - len), 0);
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.buffers_dirty, 0);
	CU_ASSERT_EQUAL(s1.dirty_bytes, 0);
	CU_ASSERT(s1.writes >= 1 && s1.write_bytes >= len);

	/* Drop, then a miss reads it back. */
	CU_ASSERT_EQUAL(pp_drop_inode(p, FS1.fs, 3), 0);
	s0 = stats(p);
	CU_ASSERT_EQUAL(s0.buffers, 0);
	CU_ASSERT_EQUAL(s0.used, 0);
	r0 = be_get(&be, &be.reads);
	memset(tmp, 0, bs);
	CU_ASSERT_EQUAL(get(p, &FS1, 3, 5, off, len, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat + off, len), 0);
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.misses, s0.misses + 1);
	CU_ASSERT(be_get(&be, &be.reads) > r0);
	CU_ASSERT(s1.reads > s0.reads);
	/* The whole block: the rest is what the disk had (zeros). */
	CU_ASSERT_EQUAL(get(p, &FS1, 3, 5, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + off, pat + off, len), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, zero, off), 0);

	/* Errors. */
	expect_get_rc(p, 99, 3, 5, 0, 4096, PP_READ, MM_ENOENT);
	expect_get_rc(p, 99, 3, 5, 0, 4096, PP_OVERWRITE, MM_ENOENT);
	expect_get_rc(p, FS1.fs, 3, 5, bs, 1, PP_READ, MM_EINVAL);
	expect_get_rc(p, FS1.fs, 3, 5, bs - 4096, 8192, PP_READ, MM_EINVAL);
	expect_get_rc(p, FS1.fs, 3, 5, 0, bs + 1, PP_MODIFY, MM_EINVAL);
	expect_get_rc(p, FS1.fs, 3, 5, 0xFFFFF000u, 0x2000u, PP_OVERWRITE, MM_EINVAL);	/* wraps */
	expect_get_rc(p, FS1.fs, 3, 5, 4096, 0xFFFFFFFFu, PP_READ, MM_EINVAL);
	expect_get_rc(p, FS2.fs, 3, 5, MIB - 1, 2, PP_READ, MM_EINVAL);
	expect_get_rc(p, FS2.fs, 3, 5, MIB - 1, 1, PP_READ, 0);
	CU_ASSERT_EQUAL(pp_fs_register(p, FS1.fs, FS1.bs, &ff_ops, &FS1), MM_EEXIST);
	CU_ASSERT(pp_fs_register(p, 50, 3 * 64 * KIB, &ff_ops, &FS1) < 0);	/* not a power of two */
	CU_ASSERT(pp_fs_register(p, 51, 32 * KIB, &ff_ops, &FS1) < 0);		/* too small */
	CU_ASSERT(pp_fs_register(p, 52, 32 * MIB, &ff_ops, &FS1) < 0);		/* too large */
	expect_get_rc(p, 50, 1, 1, 0, 4096, PP_READ, MM_ENOENT);

	/* A hole reads as zeros and reads nothing. */
	r0 = be_get(&be, &be.reads);
	memset(tmp, 0x5A, bs);
	CU_ASSERT_EQUAL(get(p, &FS1, HOLE_INO, 2, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, zero, bs), 0);
	CU_ASSERT_EQUAL(be_get(&be, &be.reads), r0);

	/* Unregister writes dirty data, then the fs is unknown. */
	CU_ASSERT_EQUAL(put(p, &FS3, 2, 9, 0, FS3.bs, pat, 0), 0);
	CU_ASSERT_EQUAL(pp_fs_unregister(p, FS3.fs), 0);
	blk_disk(&be, &FS3, 2, 9, 0, 0, tmp, FS3.bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, pat, FS3.bs), 0);
	expect_get_rc(p, FS3.fs, 2, 9, 0, 4096, PP_READ, MM_ENOENT);
	CU_ASSERT_EQUAL(pp_fs_register(p, FS3.fs, FS3.bs, &ff_ops, &FS3), 0);

	/* Replicas: a flush writes every copy. */
	CU_ASSERT_EQUAL(put(p, &FS4, 1, 2, 0, FS4.bs, pat, 0), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS4.fs, 1, 0, UINT64_MAX), 0);
	for (int r = 0; r < 2; r++) {
		blk_disk(&be, &FS4, 1, 2, r, 0, tmp, FS4.bs, false);
		CU_ASSERT_EQUAL(memcmp(tmp, pat, FS4.bs), 0);
	}

	/* Destroy writes back what is dirty. */
	CU_ASSERT_EQUAL(put(p, &FS1, 4, 7, 0, bs, pat, 0), 0);
	pp_pool_destroy(p);
	blk_disk(&be, &FS1, 4, 7, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, pat, bs), 0);
	be_fini(&be);
	ASSERT_NO_TFAILS();
	wd_disarm();
	free(pat);
	free(tmp);
	free(zero);
}

/* ==== 2. sub-block reads ==== */

static void test_subblock_reads(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 50, POOL_MIN, 0, 0);
	uint8_t *a = malloc(MIB), *bpat = malloc(MIB), *tmp = malloc(MIB);
	uint64_t seed = 2, r0, dr, total = 0;
	const uint32_t sb2 = sub_size(FS2.bs);	/* 32 KiB */

	CU_ASSERT_FATAL(p && a && bpat && tmp);
	wd_arm("subblock_reads", 30);
	fill_rand(a, MIB, &seed);
	fill_rand(bpat, MIB, &seed);
	blk_disk(&be, &FS2, 2, 7, 0, 0, a, MIB, true);
	blk_disk(&be, &FS2, 2, 8, 0, 0, a, MIB, true);
	blk_disk(&be, &FS1, 2, 7, 0, 0, a, FS1.bs, true);
	blk_disk(&be, &FS3, 2, 7, 0, 0, a, FS3.bs, true);

	/* 4 KiB inside subblock 1 of a 1 MiB block: that subblock only. */
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS2, 2, 7, 9 * 4096, 4096, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, a + 9 * 4096, 4096), 0);
	dr = be_get(&be, &be.read_bytes) - r0;
	total += dr;
	CU_ASSERT(dr < MIB);
	CU_ASSERT_EQUAL(dr, sb2);
	if (dr > sb2)
		fprintf(stderr, "  4 KiB read of a 1 MiB block read %" PRIu64 " bytes\n", dr);

	/* 4 KiB across subblocks 4 and 5: those two. */
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS2, 2, 7, 5 * sb2 - 2048, 4096, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, a + 5 * sb2 - 2048, 4096), 0);
	dr = be_get(&be, &be.read_bytes) - r0;
	total += dr;
	CU_ASSERT_EQUAL(dr, 2 * sb2);

	/* Valid subblocks are not read again: the whole block costs the rest. */
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS2, 2, 7, 0, MIB, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, a, MIB), 0);
	total += be_get(&be, &be.read_bytes) - r0;
	CU_ASSERT(total <= MIB);
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS2, 2, 7, 0, MIB, tmp), 0);
	CU_ASSERT_EQUAL(be_get(&be, &be.read_bytes), r0);

	/* 256 KiB blocks: 8 KiB subblocks; 64 KiB blocks: 4 KiB (the minimum). */
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS1, 2, 7, 7 * 8192 + 5, 1, tmp), 0);
	CU_ASSERT_EQUAL(tmp[0], a[7 * 8192 + 5]);
	dr = be_get(&be, &be.read_bytes) - r0;
	CU_ASSERT_EQUAL(dr, 8192);
	r0 = be_get(&be, &be.read_bytes);
	CU_ASSERT_EQUAL(get(p, &FS3, 2, 7, 100, 100, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, a + 100, 100), 0);
	dr = be_get(&be, &be.read_bytes) - r0;
	CU_ASSERT_EQUAL(dr, 4096);	/* subblocks are at least 4 KiB */
	if (dr != 4096)
		fprintf(stderr, "  100 bytes of a 64 KiB block read %" PRIu64 " bytes\n", dr);

	/* A dirty subblock is not read over when the rest of the block is. */
	CU_ASSERT_EQUAL(put(p, &FS2, 2, 8, 3 * sb2, sb2, bpat, 0), 0);
	CU_ASSERT_EQUAL(get(p, &FS2, 2, 8, 0, MIB, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, a, 3 * sb2), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + 3 * sb2, bpat, sb2), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + 4 * sb2, a + 4 * sb2, MIB - 4 * sb2), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 2, 8, 9), 0);
	blk_disk(&be, &FS2, 2, 8, 0, 0, tmp, MIB, false);
	CU_ASSERT_EQUAL(memcmp(tmp, a, 3 * sb2), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + 3 * sb2, bpat, sb2), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + 4 * sb2, a + 4 * sb2, MIB - 4 * sb2), 0);

	pool_down(p, &be);
	wd_disarm();
	free(a);
	free(bpat);
	free(tmp);
}

/* ==== 3. PP_MODIFY keeps the unchanged part ==== */

static void modify_one(enum be_mode mode)
{
	struct membe be;
	pp_pool *p = pool_up(&be, mode, 50, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs;
	uint8_t *a = malloc(bs), *want = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 3;
	struct pp_tag t = {FS1.fs, 4, 2};
	pp_buf *b;
	void *d;
	uint32_t off;

	CU_ASSERT_FATAL(p && a && want && tmp);
	fill_rand(a, bs, &seed);
	blk_disk(&be, &FS1, 4, 2, 0, 0, a, bs, true);
	memcpy(want, a, bs);

	/* Read 50 bytes inside subblock 1, change 20 of them. */
	off = 8192 + 100;
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &t, off, 50, PP_MODIFY, &b, &d), 0);
	CU_ASSERT_EQUAL(memcmp((uint8_t *)d + off, a + off, 50), 0);
	fill_rand((uint8_t *)d + off + 10, 20, &seed);
	memcpy(want + off + 10, (uint8_t *)d + off + 10, 20);
	pp_mark_dirty(b, off + 10, 20, 0);
	pp_release(b);

	/* At the end of the block, across two subblocks: change all of it. */
	off = bs - 5000;
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &t, off, 5000, PP_MODIFY, &b, &d), 0);
	CU_ASSERT_EQUAL(memcmp((uint8_t *)d + off, a + off, 5000), 0);
	fill_rand((uint8_t *)d + off, 5000, &seed);
	memcpy(want + off, (uint8_t *)d + off, 5000);
	pp_mark_dirty(b, off, 5000, 0);
	pp_release(b);

	CU_ASSERT_EQUAL(get(p, &FS1, 4, 2, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(cmp_report("cached after modify", &t, 0, tmp, want, bs), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 4, 0, UINT64_MAX), 0);
	blk_disk(&be, &FS1, 4, 2, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(cmp_report("disk after modify", &t, 0, tmp, want, bs), 0);
	CU_ASSERT_EQUAL(pp_drop_inode(p, FS1.fs, 4), 0);
	CU_ASSERT_EQUAL(get(p, &FS1, 4, 2, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(cmp_report("re-read after modify", &t, 0, tmp, want, bs), 0);

	pool_down(p, &be);
	free(a);
	free(want);
	free(tmp);
}

static void test_modify(void)
{
	wd_arm("modify", 30);
	modify_one(BE_INLINE);
	modify_one(BE_ASYNC);
	wd_disarm();
}

/*
 * PP_OVERWRITE of a range that does not cover whole subblocks: "the caller
 * overwrites all of [off, off+len)" promises nothing about the rest of the
 * subblock, so the pool must not lose it (read the edges, or write only the
 * bytes marked dirty): the rest of the block is the disk's data.
 */
static void test_overwrite_partial(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_INLINE, 0, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs, off = 8192 + 1000, len = 100;
	uint8_t *a = malloc(bs), *want = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 33;
	struct pp_tag t = {FS1.fs, 4, 3};

	CU_ASSERT_FATAL(p && a && want && tmp);
	wd_arm("overwrite_partial", 30);
	fill_rand(a, bs, &seed);
	blk_disk(&be, &FS1, 4, 3, 0, 0, a, bs, true);
	memcpy(want, a, bs);
	fill_rand(want + off, len, &seed);
	CU_ASSERT_EQUAL(put(p, &FS1, 4, 3, off, len, want + off, 0), 0);
	CU_ASSERT_EQUAL(get(p, &FS1, 4, 3, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(cmp_report("cached after partial overwrite", &t, 0, tmp, want, bs), 0);
	CU_ASSERT_EQUAL(pp_drop_inode(p, FS1.fs, 4), 0);
	blk_disk(&be, &FS1, 4, 3, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(cmp_report("disk after partial overwrite", &t, 0, tmp, want, bs), 0);
	pool_down(p, &be);
	wd_disarm();
	free(a);
	free(want);
	free(tmp);
}

/* ==== content locks: exclusive excludes, shared shares ==== */

struct lockarg {
	pp_pool *p;
	struct pp_tag t;
	enum pp_mode mode;
	atomic_int state;	/* 1: holding, 2: about to release */
	atomic_int go;		/* main says: release */
	bool saw_go;
};

/* Take the block in <mode>; exclusive: write 0x77 and hold 100 ms; shared:
 * hold until main says go (at most 0.5 s). */
static void *lock_holder(void *arg)
{
	struct lockarg *la = arg;
	pp_buf *b;
	void *d;
	int rc = pp_get(la->p, &la->t, 0, 4096, la->mode, &b, &d);
	uint64_t t0 = now_us();

	TCHECK(rc == 0, "holder pp_get %d", rc);
	if (rc != 0) {
		atomic_store(&la->state, 2);
		return NULL;
	}
	if (la->mode != PP_READ) {
		memset(d, 0x77, 4096);
		pp_mark_dirty(b, 0, 4096, 0);
	}
	atomic_store(&la->state, 1);
	if (la->mode != PP_READ) {
		usleep(100 * 1000);
	} else {
		while (!atomic_load(&la->go) && now_us() - t0 < 500000)
			usleep(1000);
		la->saw_go = atomic_load(&la->go);
	}
	atomic_store(&la->state, 2);
	pp_release(b);
	return NULL;
}

static void test_content_locks(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 20, POOL_MIN, 0, 0);
	struct lockarg la = {.p = p, .t = {FS1.fs, 5, 1}, .mode = PP_OVERWRITE};
	pthread_t th;
	pp_buf *b;
	void *d;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("content_locks", 30);
	/* A reader waits for an exclusive holder, then sees its data. */
	pthread_create(&th, NULL, lock_holder, &la);
	while (atomic_load(&la.state) == 0)
		usleep(100);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &la.t, 0, 4096, PP_READ, &b, &d), 0);
	CU_ASSERT_EQUAL(atomic_load(&la.state), 2);
	CU_ASSERT_EQUAL(((uint8_t *)d)[0], 0x77);
	CU_ASSERT_EQUAL(((uint8_t *)d)[4095], 0x77);
	pp_release(b);
	pthread_join(th, NULL);

	/* Two readers hold it at once. */
	la.mode = PP_READ;
	atomic_store(&la.state, 0);
	atomic_store(&la.go, 0);
	pthread_create(&th, NULL, lock_holder, &la);
	while (atomic_load(&la.state) == 0)
		usleep(100);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &la.t, 0, 4096, PP_READ, &b, &d), 0);
	CU_ASSERT_EQUAL(atomic_load(&la.state), 1);
	atomic_store(&la.go, 1);
	pp_release(b);
	pthread_join(th, NULL);
	CU_ASSERT(la.saw_go);

	/* A writer waits for a reader. */
	atomic_store(&la.state, 0);
	atomic_store(&la.go, 0);
	pthread_create(&th, NULL, lock_holder, &la);
	while (atomic_load(&la.state) == 0)
		usleep(100);
	{
		struct lockarg *lp = &la;
		uint64_t t0 = now_us();

		/* the holder gives up after 0.5 s without go: we must not get it before */
		CU_ASSERT_EQUAL_FATAL(pp_get(p, &lp->t, 0, 4096, PP_MODIFY, &b, &d), 0);
		CU_ASSERT_EQUAL(atomic_load(&lp->state), 2);
		CU_ASSERT(now_us() - t0 >= 300000);
		pp_release(b);
	}
	pthread_join(th, NULL);
	CU_ASSERT(!la.saw_go);
	pool_down(p, &be);
	wd_disarm();
}

/* ==== 4. model-checked stress ==== */

#define ST_THREADS 4
#if defined(__SANITIZE_THREAD__)
#define ST_ROUNDS 3	/* ThreadSanitizer runs this ~20 times slower */
#define ST_OPS 150
#else
#define ST_ROUNDS 12
#define ST_OPS 400
#endif

struct sblock {
	pthread_rwlock_t lk;	/* taken before the pool buffer; guards model */
	struct pp_tag tag;
	uint32_t bs;
	uint8_t *model;
};

struct sinode {
	struct fakefs *f;
	uint64_t ino;
	unsigned first, nblk;
};

struct stress {
	pp_pool *p;
	struct sblock *blk;
	unsigned nblk;
	struct sinode ino[8];
	unsigned nino;
	unsigned ops;
};

struct sthread {
	struct stress *s;
	uint64_t rng;
	pthread_t th;
	uint8_t *tmp;
};

static void st_range(uint64_t *rng, uint32_t bs, uint32_t *off, uint32_t *len)
{
	uint32_t sub = sub_size(bs), max;

	if (rnd(rng) % 8 == 0) {
		*off = 0;
		*len = bs;
		return;
	}
	*off = (uint32_t)(rnd(rng) % bs);
	max = bs - *off;
	if (max > 3 * sub)
		max = 3 * sub;
	*len = 1 + (uint32_t)(rnd(rng) % max);
}

static void st_op(struct sthread *th)
{
	struct stress *s = th->s;
	uint64_t r = rnd(&th->rng) % 100;
	pp_buf *b;
	void *d;
	int rc;

	if (r < 88) {
		struct sblock *sb = &s->blk[rnd(&th->rng) % s->nblk];
		uint32_t bs = sb->bs, sub = sub_size(bs), nsub = bs / sub, off, len;

		if (r < 35) {
			st_range(&th->rng, bs, &off, &len);
			pthread_rwlock_rdlock(&sb->lk);
			rc = pp_get(s->p, &sb->tag, off, len, PP_READ, &b, &d);
			TCHECK(rc == 0, "read rc %d", rc);
			if (rc == 0) {
				TCHECK(cmp_report("stress read", &sb->tag, off, (uint8_t *)d + off,
						  sb->model + off, len) == 0,
				       "read [%u,+%u)", off, len);
				pp_release(b);
			}
			pthread_rwlock_unlock(&sb->lk);
		} else if (r < 58) {
			uint32_t s0 = (uint32_t)(rnd(&th->rng) % nsub), n, lim = nsub - s0;

			n = 1 + (uint32_t)(rnd(&th->rng) % (lim < 6 ? lim : 6));
			if (rnd(&th->rng) % 8 == 0) {
				s0 = 0;
				n = nsub;
			}
			off = s0 * sub;
			len = n * sub;
			pthread_rwlock_wrlock(&sb->lk);
			rc = pp_get(s->p, &sb->tag, off, len, PP_OVERWRITE, &b, &d);
			TCHECK(rc == 0, "overwrite rc %d", rc);
			if (rc == 0) {
				fill_rand((uint8_t *)d + off, len, &th->rng);
				memcpy(sb->model + off, (uint8_t *)d + off, len);
				if (n > 1 && rnd(&th->rng) % 2) {	/* marked in two parts */
					pp_mark_dirty(b, off, sub, jn_append());
					pp_mark_dirty(b, off + sub, len - sub, jn_append());
				} else {
					pp_mark_dirty(b, off, len, jn_append());
				}
				pp_release(b);
			}
			pthread_rwlock_unlock(&sb->lk);
		} else {
			uint32_t a, e;

			st_range(&th->rng, bs, &off, &len);
			a = off + (uint32_t)(rnd(&th->rng) % len);
			e = a + 1 + (uint32_t)(rnd(&th->rng) % (off + len - a));
			pthread_rwlock_wrlock(&sb->lk);
			rc = pp_get(s->p, &sb->tag, off, len, PP_MODIFY, &b, &d);
			TCHECK(rc == 0, "modify rc %d", rc);
			if (rc == 0) {
				TCHECK(cmp_report("stress modify-read", &sb->tag, off, (uint8_t *)d + off,
						  sb->model + off, len) == 0,
				       "modify [%u,+%u)", off, len);
				fill_rand((uint8_t *)d + a, e - a, &th->rng);
				memcpy(sb->model + a, (uint8_t *)d + a, e - a);
				pp_mark_dirty(b, a, e - a, jn_append());
				pp_release(b);
			}
			pthread_rwlock_unlock(&sb->lk);
		}
	} else {
		struct sinode *in = &s->ino[rnd(&th->rng) % s->nino];
		uint64_t lo = rnd(&th->rng) % in->nblk, hi = lo + 1 + rnd(&th->rng) % (in->nblk - lo);

		if (rnd(&th->rng) % 4 == 0)
			hi = UINT64_MAX;
		if (r < 94) {
			rc = pp_flush(s->p, in->f->fs, in->ino, lo, hi);
			TCHECK(rc == 0, "flush rc %d", rc);
		} else if (r < 99) {
			rc = pp_invalidate(s->p, in->f->fs, in->ino, lo, hi);
			TCHECK(rc == 0, "invalidate rc %d", rc);
		} else {
			rc = pp_drop_inode(s->p, in->f->fs, in->ino);
			TCHECK(rc == 0, "drop_inode rc %d", rc);
		}
	}
}

static void *st_thread(void *arg)
{
	struct sthread *th = arg;

	for (unsigned i = 0; i < th->s->ops; i++)
		st_op(th);
	return NULL;
}

/* A thread that moves the pool between its size and twice that while the
 * stress threads run, and leaves it at its size. */
struct resizer {
	pp_pool *p;
	uint64_t size;
	atomic_int stop;
	unsigned grows, shrinks, busy;
	pthread_t th;
};

static void *resizer_main(void *arg)
{
	struct resizer *r = arg;
	bool big = false;
	int rc;

	while (!atomic_load(&r->stop)) {
		rc = pp_pool_resize(r->p, big ? r->size : 2 * r->size, 500);
		TCHECK(rc == 0 || rc == MM_EBUSY, "pp_pool_resize: %d", rc);
		if (rc == 0) {
			big = !big;
			if (big)
				r->grows++;
			else
				r->shrinks++;
		} else {
			r->busy++;
		}
		usleep(3000);
	}
	while (big && (rc = pp_pool_resize(r->p, r->size, 500)) != 0)
		TCHECK(rc == MM_EBUSY, "pp_pool_resize back: %d", rc);
	return NULL;
}

static void stress_one(enum be_mode mode, unsigned writers, unsigned rounds, unsigned ops,
		       bool resize)
{
	struct membe be;
	const uint64_t psize = POOL_MIN;
	pp_pool *p;
	struct resizer rz = {0};

	pool_max_size = resize ? 2 * psize : 0;
	p = pool_up(&be, mode, 30, psize, writers, 0);
	pool_max_size = 0;
	struct stress s = {.p = p, .ops = ops};
	struct sthread th[ST_THREADS];
	uint64_t seed = 4 + (uint64_t)mode, data = 0;
	unsigned bad = 0;

	CU_ASSERT_FATAL(p != NULL);
	/* FS1: 3 inodes x 16 blocks of 256 KiB; FS2: 5 x 14 of 1 MiB: 82 MiB,
	 * five times the pool. */
	for (unsigned i = 0; i < 3; i++)
		s.ino[s.nino++] = (struct sinode){&FS1, 1 + i, 0, 16};
	for (unsigned i = 0; i < 5; i++)
		s.ino[s.nino++] = (struct sinode){&FS2, 1 + i, 0, 14};
	for (unsigned i = 0; i < s.nino; i++) {
		s.ino[i].first = s.nblk;
		s.nblk += s.ino[i].nblk;
	}
	s.blk = calloc(s.nblk, sizeof(*s.blk));
	CU_ASSERT_FATAL(s.blk != NULL);
	for (unsigned i = 0; i < s.nino; i++) {
		for (unsigned j = 0; j < s.ino[i].nblk; j++) {
			struct sblock *sb = &s.blk[s.ino[i].first + j];

			pthread_rwlock_init(&sb->lk, NULL);
			sb->tag = (struct pp_tag){s.ino[i].f->fs, s.ino[i].ino, j};
			sb->bs = s.ino[i].f->bs;
			sb->model = malloc(sb->bs);
			CU_ASSERT_FATAL(sb->model != NULL);
			fill_rand(sb->model, sb->bs, &seed);
			blk_disk(&be, s.ino[i].f, s.ino[i].ino, j, 0, 0, sb->model, sb->bs, true);
			data += sb->bs;
		}
	}
	CU_ASSERT(data > 5 * psize);

	for (unsigned round = 0; round < rounds && !bad; round++) {
		struct pp_stats st;

		if (resize) {
			rz.p = p;
			rz.size = psize;
			atomic_store(&rz.stop, 0);
			pthread_create(&rz.th, NULL, resizer_main, &rz);
		}
		for (unsigned i = 0; i < ST_THREADS; i++) {
			th[i].s = &s;
			th[i].rng = 0x9E3779B97F4A7C15ull * (round * ST_THREADS + i + 1) + (uint64_t)mode;
			pthread_create(&th[i].th, NULL, st_thread, &th[i]);
		}
		for (unsigned i = 0; i < ST_THREADS; i++)
			pthread_join(th[i].th, NULL);
		if (resize) {
			atomic_store(&rz.stop, 1);
			pthread_join(rz.th, NULL);
			CU_ASSERT_EQUAL(stats(p).size, psize);
		}
		/* Every block through the pool equals the model. */
		for (unsigned i = 0; i < s.nblk; i++) {
			struct sblock *sb = &s.blk[i];
			pp_buf *b;
			void *d;
			int rc = pp_get(p, &sb->tag, 0, sb->bs, PP_READ, &b, &d);

			CU_ASSERT_EQUAL(rc, 0);
			if (rc != 0) {
				bad++;
				continue;
			}
			if (cmp_report("stress verify", &sb->tag, 0, d, sb->model, sb->bs)) {
				fprintf(stderr, "  (round %u, %s backend)\n", round,
					mode == BE_INLINE ? "inline" : "async");
				bad++;
			}
			pp_release(b);
		}
		CU_ASSERT_EQUAL(bad, 0);
		st = stats(p);
		CU_ASSERT(st.used <= psize);
		CU_ASSERT_EQUAL(atomic_load(&tfails), 0);
		if (atomic_load(&tfails))
			bad++;
	}
	{
		struct pp_stats st = stats(p);

		if (getenv("MMFS_TEST_VERBOSE"))
			fprintf(stderr, "  hits %" PRIu64 " misses %" PRIu64 " evictions %" PRIu64
				" writes %" PRIu64 " throttled %" PRIu64 " log forces %" PRIu64
				" grows %" PRIu64 "\n", st.hits, st.misses, st.evictions, st.writes,
				st.throttle_waits, st.log_forces, st.grows);
		CU_ASSERT(st.evictions > 0);	/* the pool was much smaller than the data */
		if (resize) {
			if (getenv("MMFS_TEST_VERBOSE"))
				fprintf(stderr, "  resizes: %u grows, %u shrinks, %u refused (pinned)\n",
					rz.grows, rz.shrinks, rz.busy);
			CU_ASSERT(rz.grows > 0 && rz.shrinks > 0);
		}
		CU_ASSERT(st.grows > 0);	/* fragment buffers grew under the load */
		CU_ASSERT(st.hits > 0 && st.misses > 0);
	}
	CU_ASSERT_EQUAL(pp_drop_fs(p, FS1.fs), 0);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FS2.fs), 0);
	{
		struct pp_stats st = stats(p);

		CU_ASSERT_EQUAL(st.buffers, 0);
		CU_ASSERT_EQUAL(st.buffers_dirty, 0);
		CU_ASSERT_EQUAL(st.dirty_bytes, 0);
	}
	/* The disks equal the model. */
	bad = 0;
	for (unsigned i = 0; i < s.nino; i++) {
		for (unsigned j = 0; j < s.ino[i].nblk; j++) {
			struct sblock *sb = &s.blk[s.ino[i].first + j];
			uint8_t *tmp = malloc(sb->bs);

			CU_ASSERT_FATAL(tmp != NULL);
			blk_disk(&be, s.ino[i].f, s.ino[i].ino, j, 0, 0, tmp, sb->bs, false);
			if (cmp_report("stress disk", &sb->tag, 0, tmp, sb->model, sb->bs))
				bad++;
			free(tmp);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	pool_down(p, &be);
	for (unsigned i = 0; i < s.nblk; i++) {
		pthread_rwlock_destroy(&s.blk[i].lk);
		free(s.blk[i].model);
	}
	free(s.blk);
}

static void test_stress_inline(void)
{
	wd_arm("stress_inline", 90);
	stress_one(BE_INLINE, 0, ST_ROUNDS, ST_OPS, false);
	wd_disarm();
}

static void test_stress_async(void)
{
	wd_arm("stress_async", 90);
	stress_one(BE_ASYNC, 1, ST_ROUNDS, ST_OPS, false);
	wd_disarm();
}

/* The same while another thread grows and shrinks the pool (2x) all along:
 * the model still holds, and the pool ends at its size. */
static void test_stress_resize(void)
{
	wd_arm("stress_resize", 120);
	stress_one(BE_ASYNC, 2, ST_ROUNDS, ST_OPS, true);
	wd_disarm();
}

/* ==== 5. invalidate writes dirty data first, waits for pins ==== */

struct pinarg {
	pp_pool *p;
	struct pp_tag t;
	const uint8_t *want;
	uint32_t len;
	atomic_int pinned, released;
};

static void *pin_holder(void *arg)
{
	struct pinarg *pa = arg;
	pp_buf *b;
	void *d;
	int rc = pp_get(pa->p, &pa->t, 0, pa->len, PP_READ, &b, &d);

	TCHECK(rc == 0, "pin pp_get %d", rc);
	atomic_store(&pa->pinned, 1);
	if (rc != 0) {
		atomic_store(&pa->released, 1);
		return NULL;
	}
	usleep(150 * 1000);
	/* Pinned memory never moves, nor changes under a shared lock. */
	TCHECK(memcmp(d, pa->want, pa->len) == 0, "pinned data changed");
	atomic_store(&pa->released, 1);
	pp_release(b);
	return NULL;
}

/*
 * A flush or an invalidate of "every block" of a file looks only below
 * the highest block ever cached for its slot (a small file's few blocks,
 * not every descriptor): it must still reach that highest one, and the
 * others, with a long range scanned and a short one looked up.
 */
static void test_whole_file_ranges(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 100, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs;
	static const uint64_t blks[][3] = {{0, 5, 9}, {0, 3, 999}};
	uint8_t *pat = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 11;

	CU_ASSERT_FATAL(p && pat && tmp);
	wd_arm("whole_file_ranges", 30);
	for (int c = 0; c < 2; c++) {
		uint64_t ino = 11 + (uint64_t)c;
		struct pp_stats s0;

		for (int k = 0; k < 3; k++) {
			fill_rand(pat, bs, &seed);
			pat[0] = (uint8_t)(blks[c][k] + 1);
			CU_ASSERT_EQUAL(put(p, &FS1, ino, blks[c][k], 0, bs, pat, 0), 0);
		}
		CU_ASSERT(stats(p).dirty_bytes >= 3ull * bs);
		CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, ino, 0, UINT64_MAX), 0);
		CU_ASSERT_EQUAL(stats(p).dirty_bytes, 0);
		for (int k = 0; k < 3; k++) {
			blk_disk(&be, &FS1, ino, blks[c][k], 0, 0, tmp, bs, false);
			CU_ASSERT_EQUAL(tmp[0], (uint8_t)(blks[c][k] + 1));
		}
		s0 = stats(p);
		CU_ASSERT_EQUAL(pp_invalidate(p, FS1.fs, ino, 0, UINT64_MAX), 0);
		CU_ASSERT_EQUAL(stats(p).buffers, s0.buffers - 3);
	}
	wd_disarm();
	free(pat);
	free(tmp);
	pool_down(p, &be);
}

static void test_invalidate(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 100, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs;
	uint8_t *pat[8], *tmp = malloc(bs);
	uint64_t seed = 5, r0;
	struct pp_stats s0, s1;
	struct pinarg pa;
	pthread_t th;

	CU_ASSERT_FATAL(p && tmp);
	wd_arm("invalidate", 30);
	for (int i = 0; i < 8; i++) {
		pat[i] = malloc(bs);
		CU_ASSERT_FATAL(pat[i] != NULL);
		fill_rand(pat[i], bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS1, 6, (uint64_t)i, 0, bs, pat[i], 0), 0);
	}
	CU_ASSERT_EQUAL(pp_invalidate(p, FS1.fs, 6, 0, 8), 0);
	for (int i = 0; i < 8; i++) {
		blk_disk(&be, &FS1, 6, (uint64_t)i, 0, 0, tmp, bs, false);
		CU_ASSERT_EQUAL(memcmp(tmp, pat[i], bs), 0);
	}
	s0 = stats(p);
	CU_ASSERT_EQUAL(s0.buffers, 0);
	CU_ASSERT_EQUAL(s0.dirty_bytes, 0);
	r0 = be_get(&be, &be.reads);
	for (int i = 0; i < 8; i++) {
		CU_ASSERT_EQUAL(get(p, &FS1, 6, (uint64_t)i, 0, bs, tmp), 0);
		CU_ASSERT_EQUAL(memcmp(tmp, pat[i], bs), 0);
	}
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.misses, s0.misses + 8);
	CU_ASSERT(be_get(&be, &be.reads) >= r0 + 8);

	/* A partial range: [2,5) goes, the others stay cached. */
	for (int i = 0; i < 8; i++) {
		fill_rand(pat[i], bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS1, 6, (uint64_t)i, 0, bs, pat[i], 0), 0);
	}
	CU_ASSERT_EQUAL(pp_invalidate(p, FS1.fs, 6, 2, 5), 0);
	for (int i = 2; i < 5; i++) {
		blk_disk(&be, &FS1, 6, (uint64_t)i, 0, 0, tmp, bs, false);
		CU_ASSERT_EQUAL(memcmp(tmp, pat[i], bs), 0);
	}
	s0 = stats(p);
	CU_ASSERT_EQUAL(s0.buffers, 5);
	r0 = be_get(&be, &be.reads);
	CU_ASSERT_EQUAL(get(p, &FS1, 6, 0, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat[0], bs), 0);
	CU_ASSERT_EQUAL(get(p, &FS1, 6, 7, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat[7], bs), 0);
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.hits, s0.hits + 2);
	CU_ASSERT_EQUAL(be_get(&be, &be.reads), r0);
	CU_ASSERT_EQUAL(get(p, &FS1, 6, 3, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat[3], bs), 0);
	CU_ASSERT(be_get(&be, &be.reads) > r0);

	/* Invalidate waits for a pin to go. */
	memset(&pa, 0, sizeof(pa));
	pa.p = p;
	pa.t = (struct pp_tag){FS1.fs, 6, 3};
	pa.want = pat[3];
	pa.len = bs;
	pthread_create(&th, NULL, pin_holder, &pa);
	while (!atomic_load(&pa.pinned))
		usleep(100);
	CU_ASSERT_EQUAL(pp_invalidate(p, FS1.fs, 6, 0, 8), 0);
	CU_ASSERT_EQUAL(atomic_load(&pa.released), 1);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(get(p, &FS1, 6, 3, 0, bs, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, pat[3], bs), 0);

	/* "Checked" (a file system verified the bytes): kept while the
	 * buffer stays cached, cleared when its bytes come from the disk
	 * again (after an invalidate: a new buffer, a read). */
	{
		pp_buf *b;
		void *d;

		CU_ASSERT_EQUAL_FATAL(pp_get(p, &(struct pp_tag){FS1.fs, 6, 1}, 0, bs, PP_READ, &b, &d), 0);
		CU_ASSERT_FALSE(pp_checked(b));		/* read from the disk above */
		pp_set_checked(b);
		CU_ASSERT_TRUE(pp_checked(b));
		pp_release(b);
		CU_ASSERT_EQUAL_FATAL(pp_get(p, &(struct pp_tag){FS1.fs, 6, 1}, 0, bs, PP_MODIFY, &b, &d), 0);
		CU_ASSERT_TRUE(pp_checked(b));		/* cached, not read again */
		pp_release(b);
		CU_ASSERT_EQUAL(pp_invalidate(p, FS1.fs, 6, 1, 2), 0);
		CU_ASSERT_EQUAL_FATAL(pp_get(p, &(struct pp_tag){FS1.fs, 6, 1}, 0, bs, PP_READ, &b, &d), 0);
		CU_ASSERT_FALSE(pp_checked(b));		/* read again */
		pp_release(b);
	}

	/* Discard (freed blocks): dirty buffers go without a write, the
	 * dirty count with them; a later read gets what the disk holds. */
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 6, 0, 8), 0);
	blk_disk(&be, &FS1, 6, 4, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, pat[4], bs), 0);
	CU_ASSERT_EQUAL(pp_fs_pause(p, FS1.fs, true), 0);	/* no write-behind meanwhile */
	for (int i = 4; i < 6; i++) {
		fill_rand(pat[i], bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS1, 6, (uint64_t)i, 0, bs, pat[i], 0), 0);
	}
	r0 = be_get(&be, &be.writes);
	CU_ASSERT(stats(p).dirty_bytes > 0);
	CU_ASSERT_EQUAL(pp_discard(p, FS1.fs, 6, 4, 6), 0);
	CU_ASSERT_EQUAL(pp_discard(p, FS1.fs, 99, 0, UINT64_MAX), 0);	/* nothing cached */
	s1 = stats(p);
	CU_ASSERT_EQUAL(s1.dirty_bytes, 0);
	CU_ASSERT_EQUAL(s1.buffers_dirty, 0);
	CU_ASSERT_EQUAL(pp_fs_pause(p, FS1.fs, false), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 6, 0, 8), 0);
	CU_ASSERT_EQUAL(be_get(&be, &be.writes), r0);
	CU_ASSERT_EQUAL(get(p, &FS1, 6, 4, 0, bs, tmp), 0);
	CU_ASSERT(memcmp(tmp, pat[4], bs) != 0);	/* the old bytes, from the disk */

	pool_down(p, &be);
	wd_disarm();
	for (int i = 0; i < 8; i++)
		free(pat[i]);
	free(tmp);
}

/* ==== 6. dirty limit throttles writers; used never exceeds size ==== */

struct dlarg {
	pp_pool *p;
	uint64_t ino;
	unsigned nblk;
	atomic_int *stop;
	uint64_t max_used, max_dirty, over, samples;
	uint64_t size;
};

static void *dl_writer(void *arg)
{
	struct dlarg *a = arg;
	uint8_t *buf = malloc(FS1.bs);
	uint64_t seed = 600 + a->ino;

	TCHECK(buf != NULL, "malloc");
	if (!buf)
		return NULL;
	for (unsigned i = 0; i < a->nblk; i++) {
		int rc;

		fill_rand(buf, FS1.bs, &seed);
		rc = put(a->p, &FS1, a->ino, i, 0, FS1.bs, buf, jn_append());
		TCHECK(rc == 0, "put rc %d", rc);
	}
	free(buf);
	return NULL;
}

static void *dl_monitor(void *arg)
{
	struct dlarg *a = arg;

	while (!atomic_load(a->stop)) {
		struct pp_stats st = stats(a->p);

		a->samples++;
		if (st.used > a->max_used)
			a->max_used = st.used;
		if (st.dirty_bytes > a->max_dirty)
			a->max_dirty = st.dirty_bytes;
		if (st.used > a->size)
			a->over++;
		usleep(20);
	}
	return NULL;
}

static void test_dirty_limit(void)
{
	struct membe be;
	const uint64_t size = POOL_MIN;
	const unsigned pct = 10, nw = 4, nblk = 40;
	pp_pool *p = pool_up(&be, BE_ASYNC, 300, size, 1, pct);
	pthread_t wt[4], mt;
	struct dlarg wa[4], ma;
	atomic_int stop = 0;
	struct pp_stats st;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("dirty_limit", 60);
	memset(&ma, 0, sizeof(ma));
	ma.p = p;
	ma.stop = &stop;
	ma.size = size;
	pthread_create(&mt, NULL, dl_monitor, &ma);
	for (unsigned i = 0; i < nw; i++) {
		memset(&wa[i], 0, sizeof(wa[i]));
		wa[i].p = p;
		wa[i].ino = 1 + i;
		wa[i].nblk = nblk;
		pthread_create(&wt[i], NULL, dl_writer, &wa[i]);
	}
	for (unsigned i = 0; i < nw; i++)
		pthread_join(wt[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(mt, NULL);
	st = stats(p);
	CU_ASSERT(st.throttle_waits > 0);
	CU_ASSERT_EQUAL(ma.over, 0);
	CU_ASSERT(ma.max_used <= size);
	CU_ASSERT(ma.samples > 10);
	/* Writers are throttled after releasing, so the limit can be passed by
	 * about a block per writer; not by the whole pool. */
	CU_ASSERT(ma.max_dirty <= size * pct / 100 + 2 * nw * FS1.bs);
	if (st.throttle_waits == 0 || ma.max_dirty > size * pct / 100 + 2 * nw * FS1.bs)
		fprintf(stderr, "  throttle_waits %" PRIu64 ", max dirty %" PRIu64 " (limit %" PRIu64 ")\n",
			st.throttle_waits, ma.max_dirty, size * pct / 100);
	/* Everything reached the disk. */
	for (unsigned i = 0; i < nw; i++)
		CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 1 + i, 0, UINT64_MAX), 0);
	{
		uint8_t *buf = malloc(FS1.bs), *tmp = malloc(FS1.bs);

		for (unsigned i = 0; i < nw && buf && tmp; i++) {
			uint64_t seed = 600 + 1 + i;

			for (unsigned j = 0; j < nblk; j++) {
				fill_rand(buf, FS1.bs, &seed);
				blk_disk(&be, &FS1, 1 + i, j, 0, 0, tmp, FS1.bs, false);
				CU_ASSERT_EQUAL(memcmp(tmp, buf, FS1.bs), 0);
			}
		}
		free(buf);
		free(tmp);
	}
	pool_down(p, &be);
	wd_disarm();
}

/* ==== 7. write-ahead: no data written before its LSN is durable ==== */

struct waarg {
	pp_pool *p;
	uint64_t ino;
	unsigned ops;
	uint64_t rng;
};

/* Overwrite a random run of subblocks with words (STAMP_MAGIC, lsn). */
static void *wa_thread(void *arg)
{
	struct waarg *a = arg;
	const uint32_t bs = FS1.bs, sub = sub_size(bs);

	for (unsigned i = 0; i < a->ops; i++) {
		struct pp_tag t = {FS1.fs, a->ino, rnd(&a->rng) % 16};
		uint32_t s0 = (uint32_t)(rnd(&a->rng) % 32), n = 1 + (uint32_t)(rnd(&a->rng) % (32 - s0));
		pp_buf *b;
		void *d;
		int rc = pp_get(a->p, &t, s0 * sub, n * sub, PP_OVERWRITE, &b, &d);

		TCHECK(rc == 0, "pp_get %d", rc);
		if (rc != 0)
			continue;
		/* The LSN is taken with the buffer held, as a journal would. */
		{
			uint64_t lsn = jn_append(), w = ((uint64_t)STAMP_MAGIC << 32) | lsn;

			for (uint32_t o = s0 * sub; o < (s0 + n) * sub; o += 8)
				memcpy((uint8_t *)d + o, &w, 8);
			pp_mark_dirty(b, s0 * sub, n * sub, lsn);
		}
		pp_release(b);
		if (rnd(&a->rng) % 40 == 0) {
			rc = pp_flush(a->p, FS1.fs, a->ino, 0, UINT64_MAX);
			TCHECK(rc == 0, "pp_flush %d", rc);
		}
	}
	return NULL;
}

static void write_ahead_one(enum be_mode mode)
{
	struct membe be;
	pp_pool *p = pool_up(&be, mode, 100, POOL_MIN, 2, 20);
	struct waarg a[2];
	pthread_t th[2];
	uint64_t lsn, forces0;
	uint8_t *buf = malloc(FS1.bs), *tmp = malloc(FS1.bs);
	uint64_t seed = 7;

	CU_ASSERT_FATAL(p && buf && tmp);
	pthread_mutex_lock(&be.mu);
	be.stamps = true;
	pthread_mutex_unlock(&be.mu);
	pthread_mutex_lock(&journal.mu);
	journal.slow_us = 200;
	pthread_mutex_unlock(&journal.mu);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct waarg){p, 7 + (uint64_t)i, 400, 0x1234567ull * (uint64_t)(i + 1) + (uint64_t)mode};
		pthread_create(&th[i], NULL, wa_thread, &a[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 7, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 8, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(be_get(&be, &be.stamp_viol), 0);
	CU_ASSERT(be_get(&be, &be.stamp_max) > 0);
	CU_ASSERT(stats(p).log_forces > 0);

	/* One block, one LSN: pp_flush forces the journal to it first. */
	fill_rand(buf, FS1.bs, &seed);
	lsn = jn_append();
	CU_ASSERT(jn_durable() < lsn);
	forces0 = stats(p).log_forces;
	CU_ASSERT_EQUAL(put(p, &FS1, 9, 0, 0, FS1.bs, buf, lsn), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, 1), 0);
	CU_ASSERT(jn_durable() >= lsn);
	CU_ASSERT(stats(p).log_forces > forces0);
	blk_disk(&be, &FS1, 9, 0, 0, 0, tmp, FS1.bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, buf, FS1.bs), 0);
	/* Every logged write happened with the durable LSN at least that of
	 * the block's last mark before it: for this block, the last write. */
	pthread_mutex_lock(&be.mu);
	{
		struct pp_tag t = {FS1.fs, 9, 0};
		struct pp_map m;
		bool found = false;

		ff_map(&FS1, &t, &m);
		for (size_t i = 0; i < be.wn; i++) {
			if (be.wlog[i].nsd == m.rep[0].nsd_id && be.wlog[i].off >= m.rep[0].offset &&
			    be.wlog[i].off < m.rep[0].offset + FS1.bs) {
				found = true;
				CU_ASSERT(be.wlog[i].durable >= lsn);
			}
		}
		CU_ASSERT(found);
	}
	pthread_mutex_unlock(&be.mu);
	pthread_mutex_lock(&journal.mu);
	CU_ASSERT_EQUAL(journal.beyond, 0);
	journal.slow_us = 0;
	pthread_mutex_unlock(&journal.mu);
	pool_down(p, &be);
	free(buf);
	free(tmp);
}

static void test_write_ahead(void)
{
	wd_arm("write_ahead", 60);
	write_ahead_one(BE_INLINE);
	write_ahead_one(BE_ASYNC);
	wd_disarm();
}

/* ==== 8. write errors: returned by the next flush, once ==== */

static void write_error_one(bool at_submit)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 50, POOL_MIN, 1, 10);
	const uint32_t bs = FS1.bs;
	uint8_t *x = malloc(bs), *y = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 8, t0;
	struct pp_stats st;
	int rc;

	CU_ASSERT_FATAL(p && x && y && tmp);
	fill_rand(x, bs, &seed);
	fill_rand(y, bs, &seed);
	for (uint64_t blk = 0; blk < 2; blk++)
		be_fail_block(&be, &FS1, 9, blk, true, at_submit);
	for (int i = 0; i < 16; i++)
		atomic_store(&ff_wfailed[i], 0);

	/* Ino 9 fails, ino 10 does not. */
	for (uint64_t blk = 0; blk < 2; blk++) {
		CU_ASSERT_EQUAL(put(p, &FS1, 9, blk, 0, bs, x, 0), 0);
		CU_ASSERT_EQUAL(put(p, &FS1, 10, blk, 0, bs, y, 0), 0);
	}
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, UINT64_MAX), MM_EIO);
	/* the file system heard of each failed buffer before the flush ended */
	CU_ASSERT_EQUAL(atomic_load(&ff_wfailed[9]), 2);
	CU_ASSERT_EQUAL(atomic_load(&ff_wfailed[10]), 0);
	st = stats(p);
	CU_ASSERT(st.write_errors > 0);
	CU_ASSERT(be_get(&be, &be.wr_fail) > 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 10, 0, UINT64_MAX), 0);
	for (uint64_t blk = 0; blk < 2; blk++) {
		blk_disk(&be, &FS1, 10, blk, 0, 0, tmp, bs, false);
		CU_ASSERT_EQUAL(memcmp(tmp, y, bs), 0);
	}
	/*
	 * The second flush, writes still failing: the header promises the
	 * error is returned by the next flush "then cleared", and README rule 7
	 * says the buffer is clean after the failed write (not retried), so
	 * there is nothing left to write and no new error: 0.
	 */
	rc = pp_flush(p, FS1.fs, 9, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, UINT64_MAX), 0);

	/* A write-behind failure (nobody flushing) is kept for the next flush,
	 * even when the disk has recovered by then. */
	be_fail_block(&be, &FS1, 11, 0, true, at_submit);
	CU_ASSERT_EQUAL(put(p, &FS1, 11, 0, 0, bs, x, 0), 0);
	for (uint64_t blk = 0; blk < 12; blk++)	/* past the dirty limit: write-behind runs */
		CU_ASSERT_EQUAL(put(p, &FS1, 12, blk, 0, bs, y, 0), 0);
	t0 = now_us();
	while (stats(p).write_errors == st.write_errors && now_us() - t0 < 5000000)
		usleep(1000);
	CU_ASSERT(stats(p).write_errors > st.write_errors);	/* write-behind tried it */
	be_fail_clear(&be);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 12, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 11, 0, UINT64_MAX), MM_EIO);
	CU_ASSERT_EQUAL(atomic_load(&ff_wfailed[11]), 1);	/* write-behind's failure too */
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 11, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(atomic_load(&ff_wfailed[9]), 2);	/* no write, no new call */
	CU_ASSERT_EQUAL(atomic_load(&ff_wfailed_odd), 0);
	/* The disk works again: new data of ino 9 gets there. */
	CU_ASSERT_EQUAL(put(p, &FS1, 9, 0, 0, bs, y, 0), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, UINT64_MAX), 0);
	blk_disk(&be, &FS1, 9, 0, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, y, bs), 0);
	pool_down(p, &be);
	free(x);
	free(y);
	free(tmp);
}

static void test_write_error(void)
{
	wd_arm("write_error", 60);
	write_error_one(false);
	write_error_one(true);
	wd_disarm();
}

/* Read errors: MM_EIO, nothing cached, the next read works. */
static void read_error_one(bool at_submit, enum pp_mode mode)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 50, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs;
	uint8_t *a = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 9;
	struct pp_stats s0, s1;
	struct pp_tag t = {FS1.fs, 13, 0};
	pp_buf *b;
	void *d;

	CU_ASSERT_FATAL(p && a && tmp);
	fill_rand(a, bs, &seed);
	blk_disk(&be, &FS1, 13, 0, 0, 0, a, bs, true);
	be_fail_block(&be, &FS1, 13, 0, false, at_submit);
	s0 = stats(p);
	expect_get_rc(p, FS1.fs, 13, 0, 0, bs, mode, MM_EIO);
	expect_get_rc(p, FS1.fs, 13, 0, 4096, 100, mode, MM_EIO);
	s1 = stats(p);
	CU_ASSERT(s1.read_errors > s0.read_errors);
	be_fail_clear(&be);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &t, 0, bs, mode, &b, &d), 0);
	CU_ASSERT_EQUAL(memcmp(d, a, bs), 0);
	pp_release(b);
	CU_ASSERT_EQUAL(pp_drop_inode(p, FS1.fs, 13), 0);
	blk_disk(&be, &FS1, 13, 0, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, a, bs), 0);	/* no garbage written back */
	pool_down(p, &be);
	free(a);
	free(tmp);
}

static void test_read_error(void)
{
	wd_arm("read_error", 30);
	read_error_one(false, PP_READ);
	read_error_one(true, PP_READ);
	read_error_one(false, PP_MODIFY);
	read_error_one(true, PP_MODIFY);
	wd_disarm();
}

/* pp_flush waits for a write of the block already in flight (started by
 * another flush or write-behind), not only for the writes it starts. */
struct flusharg {
	pp_pool *p;
	uint64_t ino;
	int rc;
};

static void *flusher(void *arg)
{
	struct flusharg *a = arg;

	a->rc = pp_flush(a->p, FS1.fs, a->ino, 0, UINT64_MAX);
	return NULL;
}

static void test_flush_waits_inflight(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 0, 0);
	const uint32_t bs = FS1.bs;
	uint8_t *x = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 11, t0;
	struct flusharg fa;
	struct gate_timer g;
	pthread_t th;

	CU_ASSERT_FATAL(p && x && tmp);
	wd_arm("flush_waits_inflight", 30);
	fill_rand(x, bs, &seed);
	CU_ASSERT_EQUAL(put(p, &FS1, 3, 0, 0, bs, x, 0), 0);
	be_hold_writes(&be, true);
	fa = (struct flusharg){p, 3, -100};
	pthread_create(&th, NULL, flusher, &fa);
	t0 = now_us();
	while (be_get(&be, &be.writes) == 0 && now_us() - t0 < 5000000)
		usleep(1000);
	CU_ASSERT(be_get(&be, &be.writes) > 0);	/* the first flush's write is queued */
	be_open_later(&g, &be, 200);
	t0 = now_us();
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 3, 0, UINT64_MAX), 0);
	blk_disk(&be, &FS1, 3, 0, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, x, bs), 0);	/* on disk when pp_flush returned */
	CU_ASSERT(now_us() - t0 >= 100000);
	pthread_join(g.th, NULL);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(fa.rc, 0);
	pool_down(p, &be);
	wd_disarm();
	free(x);
	free(tmp);
}

/* README rule 9: "A thread that made a buffer dirty is throttled in
 * pp_release()". A reader that dirtied nothing is not, even when the block
 * it read is dirty and the pool is past its dirty limit. */
struct dirtier {
	pp_pool *p;
	unsigned n;
	pthread_t th;
};

static void *dirtier_main(void *arg)
{
	struct dirtier *a = arg;
	uint8_t *buf = malloc(FS1.bs);
	uint64_t seed = 12;

	for (unsigned i = 0; buf && i < a->n; i++) {
		fill_rand(buf, FS1.bs, &seed);
		TCHECK(put(a->p, &FS1, 4, i, 0, FS1.bs, buf, 0) == 0, "put %u", i);
	}
	free(buf);
	return NULL;
}

static void test_reader_not_throttled(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 1, 10);
	struct dirtier w = {.p = p, .n = 10};	/* 2.5 MiB dirty, limit 1.6 MiB */
	struct gate_timer g;
	uint8_t tmp[64];
	uint64_t t0, waits;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("reader_not_throttled", 30);
	be_hold_writes(&be, true);
	pthread_create(&w.th, NULL, dirtier_main, &w);
	t0 = now_us();
	while (stats(p).throttle_waits == 0 && now_us() - t0 < 5000000)
		usleep(1000);
	CU_ASSERT(stats(p).throttle_waits > 0);	/* the writer is held */
	be_open_later(&g, &be, 300);
	waits = stats(p).throttle_waits;
	t0 = now_us();
	/* blocks 0..6 are cached, one is being written (held), the rest dirty */
	for (uint64_t blk = 0; blk < 7; blk++)
		CU_ASSERT_EQUAL(get(p, &FS1, 4, blk, 0, sizeof(tmp), tmp), 0);
	CU_ASSERT(now_us() - t0 < 150000);
	CU_ASSERT_EQUAL(stats(p).throttle_waits, waits);
	pthread_join(g.th, NULL);
	pthread_join(w.th, NULL);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 4, 0, UINT64_MAX), 0);
	pool_down(p, &be);
	wd_disarm();
}

/* ==== 9. a pool full of dirty blocks does not deadlock ==== */

static void full_dirty_one(enum be_mode mode, unsigned pct)
{
	struct membe be;
	const uint32_t bs = FS2.bs;
	const unsigned n = (unsigned)(POOL_MIN / bs);	/* blocks the pool holds */
	pp_pool *p = pool_up(&be, mode, 100, POOL_MIN, 1, pct);
	uint8_t *buf = malloc(bs), *tmp = malloc(bs);
	uint64_t seed;

	CU_ASSERT_FATAL(p && buf && tmp);
	seed = 90;
	for (unsigned i = 0; i < 4 * n; i++) {
		fill_rand(buf, bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS2, 14, i, 0, bs, buf, jn_append()), 0);
	}
	CU_ASSERT(stats(p).used <= POOL_MIN);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 14, 0, UINT64_MAX), 0);
	seed = 90;
	for (unsigned i = 0; i < 4 * n; i++) {
		fill_rand(buf, bs, &seed);
		blk_disk(&be, &FS2, 14, i, 0, 0, tmp, bs, false);
		CU_ASSERT_EQUAL(memcmp(tmp, buf, bs), 0);
	}
	pool_down(p, &be);
	free(buf);
	free(tmp);
}

/* dirty_pct above 90 is taken as 50 by pp_pool_create (not in the header):
 * 90 is the fullest the pool can be made to get. */
/* Pins apart from content locks: a buffer left pinned but unlocked
 * (pp_unlock) is not evicted while the pool churns through eight times
 * its size, pp_lock finds it without a disk read (also exclusively, and
 * growing a fragment), and pp_unpin lets it go. */
static void test_pin_apart(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 2, 0);
	const uint32_t bs = FS1.bs;
	uint8_t *x = malloc(bs), *tmp = malloc(bs);
	struct pp_tag ta = {FS1.fs, 7, 0}, tf = {FS2.fs, 5, 3};
	uint64_t seed = 41, r0;
	pp_buf *a, *fr;
	void *d;

	CU_ASSERT_FATAL(p && x && tmp);
	wd_arm("pin_apart", 60);
	fill_rand(x, bs, &seed);
	blk_disk(&be, &FS1, 7, 0, 0, 0, x, bs, true);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &ta, 0, bs, PP_READ, &a, &d), 0);
	pp_unlock(a);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &tf, 0, 8 * KIB, PP_READ, &fr, &d), 0);
	pp_unlock(fr);
	for (unsigned i = 0; i < 8 * POOL_MIN / bs; i++)
		CU_ASSERT_EQUAL(get(p, &FS1, 8, i, 0, bs, tmp), 0);
	CHECK_U64(stats(p).evictions, >, 0);
	r0 = be_get(&be, &be.reads);
	CU_ASSERT_EQUAL_FATAL(pp_lock(a, 0, bs, PP_READ, &d), 0);
	CHECK_U64(be_get(&be, &be.reads), ==, r0);	/* still there */
	CU_ASSERT_EQUAL(memcmp(d, x, bs), 0);
	pp_unlock(a);
	/* exclusively: change it while pinned across the lock */
	CU_ASSERT_EQUAL_FATAL(pp_lock(a, 4096, 4096, PP_MODIFY, &d), 0);
	memset((uint8_t *)d + 4096, 0x5A, 4096);
	pp_mark_dirty(a, 4096, 4096, 0);
	pp_unlock(a);
	pp_unpin(a);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 7, 0, 1), 0);
	memset(x + 4096, 0x5A, 4096);
	blk_disk(&be, &FS1, 7, 0, 0, 0, tmp, bs, false);
	CU_ASSERT_EQUAL(memcmp(tmp, x, bs), 0);
	/* a pinned fragment grows when locked for more */
	CU_ASSERT_EQUAL_FATAL(pp_lock(fr, 0, FS2.bs, PP_READ, &d), 0);
	CHECK_U64(stats(p).grows, >=, 1);
	pp_unlock(fr);
	CU_ASSERT_EQUAL(pp_lock(fr, 0, 0, PP_READ, &d), MM_EINVAL);	/* no lock taken */
	pp_unpin(fr);
	/* nothing pinned is left: the whole file system can go */
	CU_ASSERT_EQUAL(pp_drop_fs(p, FS1.fs), 0);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FS2.fs), 0);
	CHECK_U64(stats(p).buffers, ==, 0);
	pool_down(p, &be);
	wd_disarm();
	free(x);
	free(tmp);
}

/* ==== resizing online (mmchconfig pagepool -i) ==== */

/* The buddy allocator's moving limit (pagepool/buddy.h): runs handed out
 * never overlap and never pass the limit; a run released past a lowered
 * limit is dropped; raising the limit frees exactly what nobody holds and
 * merges it back into whole 16 MiB runs. */
static void test_buddy_limit(void)
{
	struct pp_buddy bd;
	uint8_t *own = calloc(2048, 1);
	struct {
		uint32_t u;
		unsigned o;
	} runs[2048];
	unsigned nr = 0, bad = 0;
	uint64_t seed = 61;
	int64_t u;

	CU_ASSERT_FATAL(own && pp_buddy_init(&bd, 1000, 2048) == 0);
	CU_ASSERT_EQUAL(bd.free_units, 1000);
	pp_buddy_set_limit(&bd, 512);
	CU_ASSERT_EQUAL(bd.free_units, 512);
	for (;;) {
		unsigned o = (unsigned)(rnd(&seed) % 4);

		if ((u = pp_buddy_alloc(&bd, o)) < 0 && (u = pp_buddy_alloc(&bd, 0)) < 0)
			break;
		if (u < 0)
			break;
		o = bd.held[u] >= 0 ? (unsigned)bd.held[u] : 99;
		for (uint32_t k = (uint32_t)u; k < (uint32_t)u + (1u << o); k++)
			bad += k >= 512 || own[k]++;
		runs[nr].u = (uint32_t)u;
		runs[nr++].o = o;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(bd.free_units, 0);
	CU_ASSERT(pp_buddy_held_in(&bd, 0, 512));
	CU_ASSERT(!pp_buddy_held_in(&bd, 512, 2048));
	/* raise the limit with everything below held: exactly [512, 2048) frees */
	pp_buddy_set_limit(&bd, 2048);
	CU_ASSERT_EQUAL(bd.free_units, 1536);
	/* lower it again with a run held past it, release that run: dropped */
	u = pp_buddy_alloc(&bd, 8);
	CU_ASSERT(u >= 512);
	pp_buddy_set_limit(&bd, 512);
	CU_ASSERT_EQUAL(bd.free_units, 0);
	CU_ASSERT(pp_buddy_held_in(&bd, 512, 2048));
	if (u >= 0)
		pp_buddy_release(&bd, (uint32_t)u, 8);
	CU_ASSERT(!pp_buddy_held_in(&bd, 512, 2048));
	CU_ASSERT_EQUAL(bd.free_units, 0);
	for (unsigned i = 0; i < nr; i++)
		pp_buddy_release(&bd, runs[i].u, runs[i].o);
	CU_ASSERT_EQUAL(bd.free_units, 512);
	pp_buddy_set_limit(&bd, 2048);
	CU_ASSERT_EQUAL(bd.free_units, 2048);
	for (unsigned k = 0; k < 8; k++)	/* all merged: eight 16 MiB runs */
		CU_ASSERT(pp_buddy_alloc(&bd, 8) >= 0);
	CU_ASSERT_EQUAL(bd.free_units, 0);
	pp_buddy_free_all(&bd);
	free(own);
}

/*
 * pp_pool_resize: a grown pool holds more without evicting; a shrink
 * writes the dirty data past the new size and keeps every byte readable;
 * a shrink that meets buffers pinned past the new size gives up at its
 * deadline with MM_EBUSY and leaves the pool as it was, and succeeds once
 * they are unpinned; sizes out of bounds are refused.
 */
static void test_resize(void)
{
	struct membe be;
	pp_pool *p;
	const uint32_t bs = FS1.bs;
	const unsigned n = 200;
	uint8_t *x = malloc(bs), *tmp = malloc(bs);
	uint64_t seed = 51;
	pp_buf **held = calloc(n, sizeof(*held));
	struct pp_stats st;
	void *d;

	pool_max_size = 64 * MIB;
	p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 2, 0);
	pool_max_size = 0;
	CU_ASSERT_FATAL(p && x && tmp && held);
	wd_arm("resize", 60);
	st = stats(p);
	CHECK_U64(st.size, ==, POOL_MIN);
	CHECK_U64(st.max_size, ==, 64 * MIB);
	CU_ASSERT_EQUAL(pp_pool_resize(p, 128 * MIB, 100), MM_ETOOBIG);
	CU_ASSERT_EQUAL(pp_pool_resize(p, 8 * MIB, 100), MM_EINVAL);

	/* grown: 50 MiB of blocks stay without an eviction */
	CU_ASSERT_EQUAL_FATAL(pp_pool_resize(p, 64 * MIB, 1000), 0);
	CHECK_U64(stats(p).size, ==, 64 * MIB);
	for (unsigned i = 0; i < n; i++) {
		fill_rand(x, bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS1, 9, i, 0, bs, x, 0), 0);
	}
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, UINT64_MAX), 0);
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL(get(p, &FS1, 9, i, 0, bs, tmp), 0);
	st = stats(p);
	CHECK_U64(st.evictions, ==, 0);
	CHECK_U64(st.used, >, 32 * MIB);

	/* dirty again, then shrunk: every byte still there */
	seed = 52;
	for (unsigned i = 0; i < n; i++) {
		fill_rand(x, bs, &seed);
		CU_ASSERT_EQUAL(put(p, &FS1, 9, i, 0, bs, x, 0), 0);
	}
	CU_ASSERT_EQUAL(pp_pool_resize(p, POOL_MIN, 5000), 0);
	st = stats(p);
	CHECK_U64(st.size, ==, POOL_MIN);
	CHECK_U64(st.used, <=, POOL_MIN);
	seed = 52;
	for (unsigned i = 0; i < n; i++) {
		fill_rand(x, bs, &seed);
		CU_ASSERT_EQUAL(get(p, &FS1, 9, i, 0, bs, tmp), 0);
		if (memcmp(tmp, x, bs) != 0) {
			CU_FAIL("block changed by the shrink");
			break;
		}
	}
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 9, 0, UINT64_MAX), 0);

	/* pinned past the new size: refused at the deadline, nothing lost */
	CU_ASSERT_EQUAL_FATAL(pp_pool_resize(p, 32 * MIB, 1000), 0);
	for (unsigned i = 0; i < 120; i++) {
		struct pp_tag t = {FS1.fs, 9, i};

		CU_ASSERT_EQUAL_FATAL(pp_get(p, &t, 0, bs, PP_READ, &held[i], &d), 0);
		pp_unlock(held[i]);
	}
	CU_ASSERT_EQUAL(pp_pool_resize(p, POOL_MIN, 300), MM_EBUSY);
	CHECK_U64(stats(p).size, ==, 32 * MIB);
	for (unsigned i = 0; i < 120; i++)
		pp_unpin(held[i]);
	CU_ASSERT_EQUAL(pp_pool_resize(p, POOL_MIN, 5000), 0);
	CHECK_U64(stats(p).size, ==, POOL_MIN);
	seed = 52;
	for (unsigned i = 0; i < n; i++) {
		fill_rand(x, bs, &seed);
		CU_ASSERT_EQUAL(get(p, &FS1, 9, i, 0, bs, tmp), 0);
		if (memcmp(tmp, x, bs) != 0) {
			CU_FAIL("block changed by a refused shrink");
			break;
		}
	}
	pool_down(p, &be);
	wd_disarm();
	free(held);
	free(x);
	free(tmp);
}

/* ==== fragments: buffers that hold only the start of a block ==== */

struct fragholder {
	pp_pool *p;
	const uint8_t *want;
	atomic_int state;	/* 1: holding, 2: done */
	bool same;		/* what it held stayed the same while held */
};

static void *frag_holder(void *arg)
{
	struct fragholder *h = arg;
	struct pp_tag t = {FS2.fs, 5, 1};
	pp_buf *b;
	void *d;

	if (pp_get(h->p, &t, 0, 8 * KIB, PP_READ, &b, &d) != 0) {
		atomic_store(&h->state, 2);
		return NULL;
	}
	atomic_store(&h->state, 1);
	usleep(300000);
	h->same = memcmp(d, h->want, 8 * KIB) == 0;
	pp_release(b);
	atomic_store(&h->state, 2);
	return NULL;
}

/*
 * pp_map.len: 200 blocks of an inode whose blocks are 40 KiB fragments of
 * 1 MiB blocks fit a 16 MiB pool (64 KiB each; as whole blocks they would
 * need 200 MiB) and are all read back without a disk read. A write past a
 * fragment grows its buffer, keeping what it held; the move waits for a
 * thread holding the buffer shared, whose bytes stay put meanwhile.
 */
/*
 * README.md rule 12: a bounded map's len is the block's run on disk, and
 * what follows it there is another file's. Bytes dirtied past it (a
 * file system's zeros past a fragment whose growth then failed) are
 * dropped, not written over the neighbour; within it they are written.
 * Unbounded, len stays a hint and everything dirty is written.
 */
static void test_bounded_run(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 2, 0);
	uint8_t *x = malloc(128 * KIB), *old = malloc(128 * KIB), *tmp = malloc(128 * KIB);
	uint64_t seed = 37;
	struct pp_stats st;

	CU_ASSERT_FATAL(p && x && old && tmp);
	fill_rand(x, 128 * KIB, &seed);
	fill_rand(old, 128 * KIB, &seed);
	/* the neighbour's bytes on disk, after block 9's 40 KiB run */
	blk_disk(&be, &FS2, 5, 9, 0, 0, old, 128 * KIB, true);
	blk_disk(&be, &FS2, 5, 10, 0, 0, old, 128 * KIB, true);
	FS2.frag_bounded = true;
	CU_ASSERT_EQUAL(put(p, &FS2, 5, 9, 0, 128 * KIB, x, 0), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 5, 9, 10), 0);
	blk_disk(&be, &FS2, 5, 9, 0, 0, tmp, 128 * KIB, false);
	/* the run: 40 KiB, in whole subblocks of 32 KiB */
	CU_ASSERT_EQUAL(memcmp(tmp, x, 64 * KIB), 0);
	CU_ASSERT_EQUAL(memcmp(tmp + 64 * KIB, old + 64 * KIB, 64 * KIB), 0);
	pp_get_stats(p, &st);
	CHECK_U64(st.dirty_bytes, ==, 0);	/* dropped, not left to write */
	/* unbounded: the hint only, all of it written */
	FS2.frag_bounded = false;
	CU_ASSERT_EQUAL(put(p, &FS2, 5, 10, 0, 128 * KIB, x, 0), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 5, 10, 11), 0);
	blk_disk(&be, &FS2, 5, 10, 0, 0, tmp, 128 * KIB, false);
	CU_ASSERT_EQUAL(memcmp(tmp, x, 128 * KIB), 0);
	pool_down(p, &be);
	free(x);
	free(old);
	free(tmp);
}

static void test_fragments(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, POOL_MIN, 2, 0);
	const unsigned n = 200;
	uint8_t *x = malloc(64 * KIB), *y = malloc(64 * KIB), *tmp = malloc(64 * KIB);
	uint64_t seed = 31, reads0;
	struct pp_stats st;
	struct fragholder h;
	pthread_t th;
	pp_buf *b;
	void *d;
	struct pp_tag t1 = {FS2.fs, 5, 1};

	CU_ASSERT_FATAL(p && x && y && tmp);
	wd_arm("fragments", 60);
	fill_rand(x, 64 * KIB, &seed);
	fill_rand(y, 64 * KIB, &seed);
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL(put(p, &FS2, 5, i, 0, 8 * KIB, x, 0), 0);
	pp_get_stats(p, &st);
	CHECK_U64(st.used, <=, (uint64_t)n * 64 * KIB);
	CHECK_U64(st.buffers, ==, n);
	reads0 = be_get(&be, &be.reads);
	for (unsigned i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(get(p, &FS2, 5, i, 0, 8 * KIB, tmp), 0);
		CU_ASSERT_EQUAL(memcmp(tmp, x, 8 * KIB), 0);
	}
	CHECK_U64(be_get(&be, &be.reads), ==, reads0);	/* all were still there */
	pp_get_stats(p, &st);
	CHECK_U64(st.evictions, ==, 0);

	/* grow block 0 by writing at 512 KiB: the first 8 KiB stay */
	CU_ASSERT_EQUAL(put(p, &FS2, 5, 0, 512 * KIB, 64 * KIB, y, 0), 0);
	pp_get_stats(p, &st);
	CHECK_U64(st.grows, >=, 1);
	CU_ASSERT_EQUAL(get(p, &FS2, 5, 0, 0, 8 * KIB, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, x, 8 * KIB), 0);
	CU_ASSERT_EQUAL(get(p, &FS2, 5, 0, 512 * KIB, 64 * KIB, tmp), 0);
	CU_ASSERT_EQUAL(memcmp(tmp, y, 64 * KIB), 0);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 5, 0, UINT64_MAX), 0);
	blk_disk(&be, &FS2, 5, 0, 0, 0, tmp, 8 * KIB, false);
	CU_ASSERT_EQUAL(memcmp(tmp, x, 8 * KIB), 0);
	blk_disk(&be, &FS2, 5, 0, 0, 512 * KIB, tmp, 64 * KIB, false);
	CU_ASSERT_EQUAL(memcmp(tmp, y, 64 * KIB), 0);

	/* a grow waits for a shared holder, whose bytes do not move */
	h = (struct fragholder){.p = p, .want = x};
	pthread_create(&th, NULL, frag_holder, &h);
	while (atomic_load(&h.state) == 0)
		usleep(1000);
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &t1, 0, FS2.bs, PP_MODIFY, &b, &d), 0);
	CU_ASSERT_EQUAL(atomic_load(&h.state), 2);
	CU_ASSERT_EQUAL(memcmp(d, x, 8 * KIB), 0);
	memcpy((uint8_t *)d + FS2.bs - 64 * KIB, y, 64 * KIB);
	pp_mark_dirty(b, FS2.bs - 64 * KIB, 64 * KIB, 0);
	pp_release(b);
	pthread_join(th, NULL);
	CU_ASSERT(h.same);
	CU_ASSERT_EQUAL(pp_flush(p, FS2.fs, 5, 0, UINT64_MAX), 0);
	blk_disk(&be, &FS2, 5, 1, 0, FS2.bs - 64 * KIB, tmp, 64 * KIB, false);
	CU_ASSERT_EQUAL(memcmp(tmp, y, 64 * KIB), 0);
	pp_get_stats(p, &st);
	CHECK_U64(st.used, <=, st.size);
	pool_down(p, &be);
	wd_disarm();
	free(x);
	free(y);
	free(tmp);
}

/* Write-behind (README "Write-behind"): one thread keeps a whole batch in
 * flight, sorted by block, and a partly dirty block is written too, a lap
 * later. Sixteen whole blocks are dirtied in reverse order while held (so
 * write-behind sees them together); with writes held in the backend, one
 * write-behind thread must have several queued at once, and they must
 * reach the disks in ascending block order (one break allowed: a timer
 * wake-up between two releases may split the batch). */
static void test_write_behind_batches(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_ASYNC, 0, 32 * MIB, 1, 50);
	const uint32_t bs = FS1.bs, n = 16;
	pp_buf *held[16];
	uint8_t *x = malloc(bs);
	uint64_t seed = 21, t0, pend = 0, last = 0, key, prev = 0;
	unsigned descents = 0;
	size_t nw;

	CU_ASSERT_FATAL(p && x);
	wd_arm("write_behind_batches", 30);
	fill_rand(x, bs, &seed);
	be_hold_writes(&be, true);
	for (uint32_t i = 0; i < n; i++) {
		struct pp_tag t = {FS1.fs, 5, n - 1 - i};
		void *d;

		CU_ASSERT_FATAL(pp_get(p, &t, 0, bs, PP_OVERWRITE, &held[i], &d) == 0);
		memcpy(d, x, bs);
		pp_mark_dirty(held[i], 0, bs, 0);
	}
	for (uint32_t i = 0; i < n; i++)
		pp_release(held[i]);
	/* wait until the queue stops growing */
	t0 = now_us();
	while (now_us() - t0 < 5000000) {
		pend = be_get(&be, &be.pending);
		if (pend == n)
			break;
		if (pend && pend == last && now_us() - t0 > 1000000)
			break;
		last = pend;
		usleep(50000);
	}
	CU_ASSERT(pend >= 2);	/* several writes of one thread in flight */
	be_hold_writes(&be, false);
	CU_ASSERT_EQUAL(pp_flush(p, FS1.fs, 5, 0, UINT64_MAX), 0);
	pthread_mutex_lock(&be.mu);
	nw = be.wn;
	for (size_t i = 0; i < be.wn; i++) {
		key = (be.wlog[i].off - FS1.base) / bs * NDISK + be.wlog[i].nsd;
		if (i && key < prev)
			descents++;
		prev = key;
	}
	pthread_mutex_unlock(&be.mu);
	CU_ASSERT_EQUAL(nw, n);	/* each block once, whole */
	CU_ASSERT(descents <= 1);
	if (descents > 1)
		fprintf(stderr, "  write-behind order: %u descents in %zu writes\n", descents, nw);

	/* a partly dirty block is not left behind: written without a flush */
	CU_ASSERT_EQUAL(put(p, &FS1, 6, 0, 0, 8 * KIB, x, 0), 0);
	t0 = now_us();
	while (be_get(&be, &be.writes) == n && now_us() - t0 < 5000000)
		usleep(10000);
	CU_ASSERT_EQUAL(be_get(&be, &be.writes), n + 1);

	/* mmdiag's figures: the flush rate is what the last whole second
	 * wrote, so within two seconds it shows the bytes above, then 0 */
	{
		struct pp_stats st;
		uint64_t rate = 0;

		t0 = now_us();
		while (now_us() - t0 < 2500000 && rate == 0) {
			pp_get_stats(p, &st);
			rate = st.flush_rate;
			usleep(20000);
		}
		CU_ASSERT(rate > 0 && rate <= (uint64_t)n * bs + 8 * KIB);
		usleep(2100000);
		pp_get_stats(p, &st);
		CU_ASSERT_EQUAL(st.flush_rate, 0);
		CU_ASSERT(st.flushes >= 1);
		CU_ASSERT_EQUAL(st.writers, 1);
	}
	pool_down(p, &be);
	wd_disarm();
	free(x);
}

static void test_full_dirty(void)
{
	wd_arm("full_dirty", 60);
	full_dirty_one(BE_INLINE, 90);
	full_dirty_one(BE_ASYNC, 90);
	full_dirty_one(BE_ASYNC, 0);
	wd_disarm();
}

/* ==== assertions: the buffer dump, and MM_BUG_ON on an impossible pin ==== */

static bool has(const char *text, const char *what)
{
	if (strstr(text, what))
		return true;
	fprintf(stderr, "  \"%s\" not in: %s\n", what, text);
	return false;
}

/* In a forked child (one thread at the fork: CUnit's; the child makes its
 * own pool): release a buffer twice. The second unpin takes the pin count
 * below zero, which MM_BUG_ON catches: the child aborts, and its log
 * (stderr, read through a pipe) carries the dump. */
static void bug_child(int fd)
{
	struct membe be;
	pp_pool *p;
	pp_buf *b = NULL;
	void *d = NULL;
	struct pp_tag t = {FS1.fs, 6, 4};

	dup2(fd, 2);
	alarm(20);
	mm_log_set_level(MM_LOG_FATAL);
	p = pool_up(&be, BE_INLINE, 0, POOL_MIN, 0, 0);
	if (!p || pp_get(p, &t, 0, 4096, PP_READ, &b, &d) != 0)
		_exit(2);
	pp_release(b);
	pp_release(b);	/* dies here */
	_exit(3);
}

static void test_bug_on_dump(void)
{
	struct membe be;
	pp_pool *p = pool_up(&be, BE_INLINE, 0, POOL_MIN, 0, 0);
	struct pp_tag t = {FS1.fs, 7, 3};
	pp_buf *b = NULL;
	void *d = NULL;
	char text[2048], out[8192];
	int fds[2], status = 0;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("bug_on_dump", 30);
	/* the dump of a buffer held exclusively, partly dirty */
	CU_ASSERT_EQUAL_FATAL(pp_get(p, &t, 0, 2 * sub_size(FS1.bs), PP_OVERWRITE, &b, &d), 0);
	memset(d, 0x5A, 2 * sub_size(FS1.bs));
	pp_mark_dirty(b, 0, 2 * sub_size(FS1.bs), 0);
	pp_buf_dump(b, text, sizeof(text));
	if (getenv("MMFS_TEST_VERBOSE"))
		fprintf(stderr, "  dump: %s\n", text);
	CU_ASSERT(has(text, "tag fs 1 inode 7 block 3"));
	CU_ASSERT(has(text, "in the table"));
	CU_ASSERT(has(text, "pins 1"));
	CU_ASSERT(has(text, "write-locked"));
	CU_ASSERT(has(text, "valid 0x00000003 dirty 0x00000003"));
	CU_ASSERT(has(text, "flags marked"));
	pp_release(b);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FS1.fs), 0);
	pool_down(p, &be);

	/* MM_BUG_ON fires on a pin count below zero, with the dump */
	CU_ASSERT_FATAL(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		bug_child(fds[1]);
	}
	close(fds[1]);
	while (n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(fds[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
		fprintf(stderr, "  child status 0x%x, output: %s\n", status, out);
	CU_ASSERT(has(out, "BUG:"));
	CU_ASSERT(has(out, "tag fs 1 inode 6 block 4"));
	CU_ASSERT(has(out, "pins -1"));
	wd_disarm();
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"basic", test_basic},
		{"subblock_reads", test_subblock_reads},
		{"modify", test_modify},
		{"overwrite_partial", test_overwrite_partial},
		{"content_locks", test_content_locks},
		{"stress_inline", test_stress_inline},
		{"stress_async", test_stress_async},
		{"stress_resize", test_stress_resize},
		{"invalidate", test_invalidate},
		{"whole-file flush and invalidate reach the highest block", test_whole_file_ranges},
		{"flush_waits_inflight", test_flush_waits_inflight},
		{"dirty_limit", test_dirty_limit},
		{"write_ahead", test_write_ahead},
		{"write_error", test_write_error},
		{"read_error", test_read_error},
		{"reader_not_throttled", test_reader_not_throttled},
		{"full_dirty", test_full_dirty},
		{"write_behind_batches", test_write_behind_batches},
		{"fragments", test_fragments},
		{"a bounded run: nothing written past it", test_bounded_run},
		{"pin_apart", test_pin_apart},
		{"resize", test_resize},
		{"buddy_limit", test_buddy_limit},
		{"bug_on_dump", test_bug_on_dump},
	};

	if (!getenv("MMFS_TEST_VERBOSE"))
		mm_log_set_level(MM_LOG_FATAL);	/* injected faults log errors by design */
	MM_ADD_SUITE("pagepool", tests);
}

MM_CUNIT_MAIN(register_tests)
