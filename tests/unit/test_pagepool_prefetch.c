/*
 * tests/unit/test_pagepool_prefetch.c - the prefetch section of
 * pagepool/pagepool.h: streams (pp_stream_open/close/set_size/get/get_info),
 * pattern detection, read-ahead, adaptive depth, scan resistance, and the
 * prefetch counters of pp_stats.
 *
 * The backend (struct slowbe) is written for prefetch: every read is
 * queued to a few backend threads that complete them in FIFO order after a
 * fixed delay (set per test, 0..5 ms, changeable while running), so a read
 * ahead is observable: a block prefetched early is cached when the reader
 * gets there. The backend can also hold reads (queued, not completed) to
 * test what waits for them. It has no stored data: a read fills the buffer
 * with a pattern that is a function of (NSD, disk offset), so every byte
 * the reader gets is checked. It counts reads and bytes per block (the fake
 * file systems map block (fs, ino, blk) to NSD <fs>, offset
 * (ino * MAX_BLK + blk) * block size, so a disk address names its block),
 * and flags transfers that cross a block or are not 4 KiB aligned.
 *
 * File systems: FSA 256 KiB blocks (8 KiB subblocks), FSB 64 KiB, FSC 1 MiB.
 * map() counts calls for blocks it cannot be asked about (beyond MAX_BLK:
 * e.g. a backward stream running below block 0).
 *
 * Threads other than CUnit's never call CU_ASSERT: they count failures with
 * TCHECK. A SIGALRM watchdog turns a hang into a failed run naming the
 * test. Checks that depend on timing use generous margins; the exact ones
 * are made after the backend is quiet (quiesce()). MMFS_TEST_VERBOSE=1
 * prints the numbers behind each check and the pool's log.
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

#include "common/err.h"
#include "common/log.h"
#include "pagepool/pagepool.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"

#define KIB (1u << 10)
#define MIB (1u << 20)

static bool verbose;

#define VLOG(...)                                     \
	do {                                          \
		if (verbose)                          \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

/* ---- small helpers ---- */

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}



/* ---- the fake file systems ---- */

#define MAX_INO 8
#define MAX_BLK 2048
#define NKEY (MAX_INO * MAX_BLK)
#define NFSID 4		/* fs ids 1..3 */

struct tfs {
	uint32_t fs, bs;
	atomic_uint bad;	/* map() asked about a block it cannot be asked about */
};

static struct tfs FSA = {.fs = 1, .bs = 256 * KIB};
static struct tfs FSB = {.fs = 2, .bs = 64 * KIB};
static struct tfs FSC = {.fs = 3, .bs = 1 * MIB};
static struct tfs *const all_fs[] = {&FSA, &FSB, &FSC};

static uint32_t fs_bs(uint64_t fs)
{
	return fs == 1 ? FSA.bs : fs == 2 ? FSB.bs : fs == 3 ? FSC.bs : 0;
}

static uint64_t bkey(uint64_t ino, uint64_t blk)
{
	return ino * MAX_BLK + blk;
}

static int tf_map(void *arg, const struct pp_tag *t, struct pp_map *out)
{
	struct tfs *f = arg;

	if (t->fs != f->fs || t->ino >= MAX_INO || t->blk >= MAX_BLK) {
		atomic_fetch_add(&f->bad, 1);
		return MM_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->nrep = 1;
	out->rep[0].nsd_id = f->fs;
	out->rep[0].offset = bkey(t->ino, t->blk) * f->bs;
	return 0;
}

static int tf_log_force(void *arg, uint64_t lsn)
{
	(void)arg;
	(void)lsn;
	return 0;
}

static const struct pp_fs_ops tf_ops = {.map = tf_map, .log_force = tf_log_force};

/* The data of disk word at byte offset <o> (a multiple of 8) of NSD <nsd>. */
static uint64_t pat_word(uint64_t nsd, uint64_t o)
{
	uint64_t x = (o + 1) * 0x9E3779B97F4A7C15ull ^ (nsd << 56);

	return x ^ (x >> 29);
}

/* ---- the slow backend ---- */

#define BE_THREADS 8

struct slowbe {
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* queue changed, hold changed, stop */
	pthread_cond_t idle;	/* something completed */
	struct pp_io **q;	/* FIFO: q[0..qn) */
	size_t qn, qcap;
	pthread_t thr[BE_THREADS];
	unsigned nthr;
	bool stop, hold;
	unsigned delay_us;
	uint64_t submitted, done_called, inflight;	/* inflight: until done() returned */
	uint64_t reads, read_bytes, writes;
	uint64_t bad_io, misaligned;
	uint32_t *nreads[NFSID];	/* per block key */
	uint64_t *nbytes[NFSID];
};

static int be_submit(void *arg, struct pp_io *io)
{
	struct slowbe *be = arg;
	uint32_t bs;

	pthread_mutex_lock(&be->mu);
	bs = io ? fs_bs(io->nsd_id) : 0;
	if (!io || !io->done || !io->buf || io->len == 0 || !bs || io->offset / bs >= NKEY ||
	    io->offset % bs + io->len > bs) {
		be->bad_io++;
		pthread_mutex_unlock(&be->mu);
		return MM_EINVAL;
	}
	if (io->offset % 4096 || io->len % 4096 || (uintptr_t)io->buf % 4096)
		be->misaligned++;
	if (io->write) {
		be->writes++;	/* nothing is ever dirtied here */
	} else {
		be->reads++;
		be->read_bytes += io->len;
		be->nreads[io->nsd_id][io->offset / bs]++;
		be->nbytes[io->nsd_id][io->offset / bs] += io->len;
	}
	be->submitted++;
	be->inflight++;
	if (be->qn == be->qcap) {
		be->qcap = be->qcap ? be->qcap * 2 : 256;
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
	struct slowbe *be = arg;

	pthread_mutex_lock(&be->mu);
	for (;;) {
		struct pp_io *io;
		unsigned d;

		while (!(be->qn && !be->hold) && !(be->stop && be->qn == 0))
			pthread_cond_wait(&be->cv, &be->mu);
		if (be->qn == 0)
			break;
		io = be->q[0];
		memmove(be->q, be->q + 1, (be->qn - 1) * sizeof(*be->q));
		be->qn--;
		d = be->delay_us;
		pthread_mutex_unlock(&be->mu);
		if (d)
			usleep(d);
		if (!io->write) {
			uint8_t *p = io->buf;

			for (size_t i = 0; i + 8 <= io->len; i += 8) {
				uint64_t w = pat_word(io->nsd_id, io->offset + i);

				memcpy(p + i, &w, 8);
			}
		}
		pthread_mutex_lock(&be->mu);
		be->done_called++;
		pthread_mutex_unlock(&be->mu);
		io->done(io, 0);	/* <io> may be gone after this */
		pthread_mutex_lock(&be->mu);
		be->inflight--;
		pthread_cond_broadcast(&be->idle);
	}
	pthread_mutex_unlock(&be->mu);
	return NULL;
}

static void be_init(struct slowbe *be, unsigned delay_us)
{
	memset(be, 0, sizeof(*be));
	pthread_mutex_init(&be->mu, NULL);
	pthread_cond_init(&be->cv, NULL);
	pthread_cond_init(&be->idle, NULL);
	be->delay_us = delay_us;
	for (int i = 0; i < NFSID; i++) {
		be->nreads[i] = calloc(NKEY, sizeof(uint32_t));
		be->nbytes[i] = calloc(NKEY, sizeof(uint64_t));
		if (!be->nreads[i] || !be->nbytes[i])
			abort();
	}
	be->nthr = BE_THREADS;
	for (unsigned i = 0; i < be->nthr; i++)
		if (pthread_create(&be->thr[i], NULL, be_thread, be) != 0)
			abort();
}

static void be_fini(struct slowbe *be)
{
	uint64_t t0 = now_us();

	pthread_mutex_lock(&be->mu);
	be->hold = false;
	pthread_cond_broadcast(&be->cv);
	/* The pool is gone: nothing may be in flight. A completion counts down
	 * just after its done() returned, so give the last ones a moment. */
	while (be->inflight && now_us() - t0 < 1000000) {
		pthread_mutex_unlock(&be->mu);
		sleep_ms(1);
		pthread_mutex_lock(&be->mu);
	}
	CU_ASSERT_EQUAL(be->inflight, 0);
	be->stop = true;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	for (unsigned i = 0; i < be->nthr; i++)
		pthread_join(be->thr[i], NULL);
	CU_ASSERT_EQUAL(be->bad_io, 0);
	CU_ASSERT_EQUAL(be->misaligned, 0);
	CU_ASSERT_EQUAL(be->writes, 0);
	for (int i = 0; i < NFSID; i++) {
		free(be->nreads[i]);
		free(be->nbytes[i]);
	}
	free(be->q);
	pthread_cond_destroy(&be->cv);
	pthread_cond_destroy(&be->idle);
	pthread_mutex_destroy(&be->mu);
}

static void be_set_delay(struct slowbe *be, unsigned us)
{
	pthread_mutex_lock(&be->mu);
	be->delay_us = us;
	pthread_mutex_unlock(&be->mu);
}

static void be_hold(struct slowbe *be, bool hold)
{
	pthread_mutex_lock(&be->mu);
	be->hold = hold;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

static uint64_t be_val(struct slowbe *be, const uint64_t *field)
{
	uint64_t v;

	pthread_mutex_lock(&be->mu);
	v = *field;
	pthread_mutex_unlock(&be->mu);
	return v;
}

/* Reads of block (fs, ino, blk) so far, and their bytes. */
static uint32_t blk_reads(struct slowbe *be, const struct tfs *f, uint64_t ino, uint64_t blk)
{
	uint32_t v;

	pthread_mutex_lock(&be->mu);
	v = be->nreads[f->fs][bkey(ino, blk)];
	pthread_mutex_unlock(&be->mu);
	return v;
}

static uint64_t blk_bytes(struct slowbe *be, const struct tfs *f, uint64_t ino, uint64_t blk)
{
	uint64_t v;

	pthread_mutex_lock(&be->mu);
	v = be->nbytes[f->fs][bkey(ino, blk)];
	pthread_mutex_unlock(&be->mu);
	return v;
}

/* Reads of blocks [lo, hi) of an inode. */
static uint64_t range_reads(struct slowbe *be, const struct tfs *f, uint64_t ino, uint64_t lo,
			    uint64_t hi)
{
	uint64_t v = 0;

	pthread_mutex_lock(&be->mu);
	for (uint64_t b = lo; b < hi && b < MAX_BLK; b++)
		v += be->nreads[f->fs][bkey(ino, b)];
	pthread_mutex_unlock(&be->mu);
	return v;
}

static uint64_t range_bytes(struct slowbe *be, const struct tfs *f, uint64_t ino, uint64_t lo,
			    uint64_t hi)
{
	uint64_t v = 0;

	pthread_mutex_lock(&be->mu);
	for (uint64_t b = lo; b < hi && b < MAX_BLK; b++)
		v += be->nbytes[f->fs][bkey(ino, b)];
	pthread_mutex_unlock(&be->mu);
	return v;
}

/* Highest block of the inode read so far, or -1. */
static int64_t max_read_blk(struct slowbe *be, const struct tfs *f, uint64_t ino)
{
	int64_t m = -1;

	pthread_mutex_lock(&be->mu);
	for (int64_t b = MAX_BLK - 1; b >= 0 && m < 0; b--)
		if (be->nreads[f->fs][bkey(ino, (uint64_t)b)])
			m = b;
	pthread_mutex_unlock(&be->mu);
	return m;
}

/* Wait until nothing is submitted nor completing for <quiet_ms> in a row
 * (prefetch queued in the pool but not yet submitted shows up within it). */
static void quiesce(struct slowbe *be, unsigned quiet_ms)
{
	uint64_t t0 = now_us(), last = UINT64_MAX;

	for (;;) {
		uint64_t sub, infl;

		pthread_mutex_lock(&be->mu);
		sub = be->submitted;
		infl = be->inflight;
		pthread_mutex_unlock(&be->mu);
		if (infl == 0 && sub == last)
			return;
		if (now_us() - t0 > 3000000) {
			CU_FAIL("backend never went quiet");
			return;
		}
		last = infl == 0 ? sub : UINT64_MAX;
		sleep_ms(quiet_ms);
	}
}

/* ---- pool set-up ---- */

static pp_pool *pool_up(struct slowbe *be, uint64_t size, unsigned pct, unsigned threads,
			unsigned delay_us)
{
	struct pp_config c = {.size = size,
			      .io = {.submit = be_submit},
			      .io_arg = be,
			      .prefetch_threads = threads,
			      .prefetch_pct = pct};
	pp_pool *p = NULL;

	be_init(be, delay_us);
	if (pp_pool_create(&c, &p) != 0 || !p) {
		CU_FAIL("pp_pool_create");
		return NULL;
	}
	/* a file system needs room for two of its blocks */
	for (size_t i = 0; i < sizeof(all_fs) / sizeof(all_fs[0]); i++)
		if (2ull * all_fs[i]->bs <= size)
			CU_ASSERT_EQUAL(pp_fs_register(p, all_fs[i]->fs, all_fs[i]->bs, &tf_ops,
						       all_fs[i]), 0);
	return p;
}

static void pool_down(pp_pool *p, struct slowbe *be)
{
	pp_pool_destroy(p);
	be_fini(be);
	for (size_t i = 0; i < sizeof(all_fs) / sizeof(all_fs[0]); i++)
		CU_ASSERT_EQUAL(atomic_exchange(&all_fs[i]->bad, 0), 0);
	ASSERT_NO_TFAILS();
}

static struct pp_stats stats(pp_pool *p)
{
	struct pp_stats st;

	memset(&st, 0, sizeof(st));
	pp_get_stats(p, &st);
	return st;
}

static struct pp_stream_info info(pp_stream *s)
{
	struct pp_stream_info i;

	memset(&i, 0xA5, sizeof(i));	/* every field must be filled in */
	pp_stream_get_info(s, &i);
	return i;
}

static const char *pat_name(enum pp_pattern pt)
{
	switch (pt) {
	case PP_PAT_NONE: return "none";
	case PP_PAT_FORWARD: return "forward";
	case PP_PAT_BACKWARD: return "backward";
	case PP_PAT_STRIDED: return "strided";
	case PP_PAT_RANDOM: return "random";
	}
	return "?";
}

static void vinfo(const char *what, pp_stream *s)
{
	struct pp_stream_info i = info(s);

	VLOG("  %s: pattern %s stride %" PRId64 " depth %u issued %" PRIu64 " used %" PRIu64
	     " wasted %" PRIu64 " waits %" PRIu64 "\n",
	     what, pat_name(i.pattern), i.stride, i.depth, i.issued, i.used, i.wasted, i.waits);
}

/* Check [off, off+len) of block data <d> against the pattern: every word
 * of each 4 KiB edge, every 16th word between (this keeps the sanitizer
 * runs short; a wrong block, offset or missing read shows everywhere). */
static bool data_ok(const struct tfs *f, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
		    const void *d)
{
	uint64_t base = bkey(ino, blk) * f->bs;
	const uint8_t *p = d;

	for (uint32_t i = off; i + 8 <= off + len;
	     i += (i < off + 4096 || i + 4096 >= off + len) ? 8 : 128) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w != pat_word(f->fs, base + i)) {
			fprintf(stderr, "  data: fs %u ino %" PRIu64 " blk %" PRIu64 " byte %u wrong\n",
				f->fs, ino, blk, i);
			return false;
		}
	}
	return true;
}

static atomic_uint data_bad;

/* pp_stream_get of [off, off+len) of block <blk>, check the data, release. */
static int sget(pp_stream *s, const struct tfs *f, uint64_t ino, uint64_t blk, uint32_t off,
		uint32_t len)
{
	pp_buf *b = NULL;
	void *d = NULL;
	int rc = pp_stream_get(s, blk, off, len, &b, &d);

	if (rc != 0)
		return rc;
	if (!b || !d) {
		atomic_fetch_add(&data_bad, 1);
		return MM_EINVAL;
	}
	if (!data_ok(f, ino, blk, off, len, d))
		atomic_fetch_add(&data_bad, 1);
	pp_release(b);
	return 0;
}

/* The same at file position <pos> (the range must not cross a block). */
static int sget_pos(pp_stream *s, const struct tfs *f, uint64_t ino, uint64_t pos, uint32_t len)
{
	return sget(s, f, ino, pos / f->bs, (uint32_t)(pos % f->bs), len);
}

/* Plain pp_get(PP_READ) of a whole block, checked. */
static int pget(pp_pool *p, const struct tfs *f, uint64_t ino, uint64_t blk)
{
	struct pp_tag t = {f->fs, ino, blk};
	pp_buf *b = NULL;
	void *d = NULL;
	int rc = pp_get(p, &t, 0, f->bs, PP_READ, &b, &d);

	if (rc != 0)
		return rc;
	if (!data_ok(f, ino, blk, 0, f->bs, d))
		atomic_fetch_add(&data_bad, 1);
	pp_release(b);
	return 0;
}

#define ASSERT_DATA_OK() CU_ASSERT_EQUAL(atomic_exchange(&data_bad, 0), 0)

static pp_stream *sopen(pp_pool *p, const struct tfs *f, uint64_t ino, uint64_t size)
{
	pp_stream *s = NULL;
	int rc = pp_stream_open(p, f->fs, ino, size, &s);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(s);
	return rc == 0 ? s : NULL;
}

/* ==== 1. pattern detection ==== */

static void test_pattern_forward(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 0);
	const uint64_t nblk = 64, size = nblk * FSA.bs;
	pp_stream *s;
	struct pp_stream_info i;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("pattern_forward", 20);
	s = sopen(p, &FSA, 1, size);
	CU_ASSERT_FATAL(s != NULL);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_NONE);
	CU_ASSERT_EQUAL(i.issued, 0);
	CU_ASSERT_EQUAL(i.used, 0);
	CU_ASSERT_EQUAL(i.wasted, 0);
	CU_ASSERT_EQUAL(i.waits, 0);
	CU_ASSERT_EQUAL(i.depth, 2);	/* "starts at 2" */

	/* One access: too few to know anything, nothing read ahead. */
	CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, 0, 64 * KIB), 0);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_NONE);
	CU_ASSERT_EQUAL(i.issued, 0);
	CU_ASSERT(i.waits >= 1);	/* a miss */
	/* Two: one step forward is not yet two accesses agreeing. */
	CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, 64 * KIB, 64 * KIB), 0);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_NONE);
	CU_ASSERT_EQUAL(i.issued, 0);
	/* Three: two agree, the pattern is acted on. */
	CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, 128 * KIB, 64 * KIB), 0);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_FORWARD);
	CU_ASSERT(i.issued > 0);
	for (unsigned k = 3; k < 8; k++)
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, (uint64_t)k * 64 * KIB, 64 * KIB), 0);
	vinfo("forward after 8", s);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_FORWARD);
	CU_ASSERT(i.issued > 0);
	for (unsigned k = 8; k < 64; k++)
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, (uint64_t)k * 64 * KIB, 64 * KIB), 0);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	pp_stream_close(s);

	/* Forward with overlap: each access starts inside the last one
	 * (64 KiB reads 32 KiB apart, inside 1 MiB blocks). */
	s = sopen(p, &FSC, 2, 32ull * FSC.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (unsigned k = 0; k < 16; k++)
		CU_ASSERT_EQUAL(sget_pos(s, &FSC, 2, (uint64_t)k * 32 * KIB, 64 * KIB), 0);
	vinfo("forward overlapping", s);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	pp_stream_close(s);

	/* Whole blocks of 1 MiB. */
	s = sopen(p, &FSC, 1, 32ull * FSC.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (unsigned k = 0; k < 6; k++)
		CU_ASSERT_EQUAL(sget(s, &FSC, 1, k, 0, FSC.bs), 0);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	pp_stream_close(s);
	quiesce(&be, 20);
	/* Nothing read past the ends of the files. */
	CU_ASSERT_EQUAL(range_reads(&be, &FSA, 1, nblk, MAX_BLK), 0);
	CU_ASSERT_EQUAL(range_reads(&be, &FSC, 2, 32, MAX_BLK), 0);
	CU_ASSERT_EQUAL(range_reads(&be, &FSC, 1, 32, MAX_BLK), 0);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

static void test_pattern_backward(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 0);
	const uint64_t nblk = 16, size = nblk * FSA.bs;
	pp_stream *s;
	struct pp_stream_info i;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("pattern_backward", 20);
	s = sopen(p, &FSA, 1, size);
	CU_ASSERT_FATAL(s != NULL);
	/* 64 KiB reads, each ending where the last started, down to byte 0. */
	for (uint64_t k = 1; k <= size / (64 * KIB); k++) {
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, size - k * 64 * KIB, 64 * KIB), 0);
		if (k <= 2) {
			i = info(s);
			CU_ASSERT_EQUAL(i.pattern, PP_PAT_NONE);
			CU_ASSERT_EQUAL(i.issued, 0);
		}
		if (k == 8) {
			vinfo("backward after 8", s);
			i = info(s);
			CU_ASSERT_EQUAL(i.pattern, PP_PAT_BACKWARD);
			CU_ASSERT(i.issued > 0);
		}
	}
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_BACKWARD);
	quiesce(&be, 20);
	pp_stream_close(s);
	/* Whole 64 KiB blocks, backward, to block 0: no block "below 0". */
	s = sopen(p, &FSB, 3, 40ull * FSB.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (int64_t b = 39; b >= 0; b--)
		CU_ASSERT_EQUAL(sget(s, &FSB, 3, (uint64_t)b, 0, FSB.bs), 0);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_BACKWARD);
	quiesce(&be, 20);
	pp_stream_close(s);
	CU_ASSERT_EQUAL(atomic_load(&FSA.bad), 0);
	CU_ASSERT_EQUAL(atomic_load(&FSB.bad), 0);
	CU_ASSERT_EQUAL(range_reads(&be, &FSB, 3, 40, MAX_BLK), 0);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

static void strided_one(pp_pool *p, uint64_t ino, uint64_t stride, uint64_t first)
{
	pp_stream *s = sopen(p, &FSA, ino, 64ull * MIB);
	struct pp_stream_info i;

	if (!s)
		return;
	for (unsigned k = 0; k < 12; k++)
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, ino, first + k * stride, 64 * KIB), 0);
	vinfo("strided", s);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_STRIDED);
	CHECK_U64(i.stride, ==, stride);
	CU_ASSERT(i.issued > 0);
	pp_stream_close(s);
}

static void test_pattern_strided(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 0);

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("pattern_strided", 20);
	/* 64 KiB every 1 MiB over 256 KiB blocks: every 4th block. */
	strided_one(p, 1, 1 * MIB, 0);
	/* Every 320 KiB: the offset inside the block moves. */
	strided_one(p, 2, 320 * KIB, 0);
	/* 64 KiB every 192 KiB, starting mid-block. */
	strided_one(p, 3, 192 * KIB, 128 * KIB);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* Random blocks, none continuing a pattern of the two before. */
static uint64_t next_random(uint64_t *seed, const int64_t *prev, int n, uint64_t nblk)
{
	for (;;) {
		int64_t b = (int64_t)(rnd(seed) % nblk);

		if (n >= 1 && (b == prev[n - 1] || b == prev[n - 1] + 1 || b == prev[n - 1] - 1))
			continue;
		if (n >= 2 && b - prev[n - 1] == prev[n - 1] - prev[n - 2])
			continue;
		return (uint64_t)b;
	}
}

static void test_pattern_random(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 0);
	const uint64_t nblk = 1000;
	int64_t prev[64];
	uint64_t seed = 0x9E3779B97F4A7C15ull, issued;
	pp_stream *s;
	struct pp_stream_info i;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("pattern_random", 20);
	/* Random from the start: never a prefetch. */
	s = sopen(p, &FSA, 1, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (int n = 0; n < 40; n++) {
		prev[n] = (int64_t)next_random(&seed, prev, n, nblk);
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, (uint64_t)prev[n], 0, 64 * KIB), 0);
	}
	vinfo("random", s);
	i = info(s);
	CU_ASSERT_EQUAL(i.pattern, PP_PAT_RANDOM);
	CU_ASSERT_EQUAL(i.issued, 0);
	CU_ASSERT_EQUAL(stats(p).prefetch_issued, 0);
	pp_stream_close(s);

	/* Forward, then random: issuing stops; then forward again: it resumes. */
	s = sopen(p, &FSA, 2, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (unsigned b = 0; b < 8; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	CU_ASSERT(info(s).issued > 0);
	prev[0] = 7;
	for (int n = 1; n < 3; n++) {
		prev[n] = (int64_t)next_random(&seed, prev, n, nblk);
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, (uint64_t)prev[n], 0, FSA.bs), 0);
	}
	quiesce(&be, 20);
	issued = info(s).issued;
	for (int n = 3; n < 30; n++) {
		prev[n] = (int64_t)next_random(&seed, prev, n, nblk);
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, (uint64_t)prev[n], 0, FSA.bs), 0);
		CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_RANDOM);
	}
	vinfo("forward then random", s);
	CHECK_U64(info(s).issued, ==, issued);
	for (unsigned b = 500; b < 508; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	vinfo("random then forward", s);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	CHECK_U64(info(s).issued, >, issued);
	quiesce(&be, 20);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* ==== 2. forward prefetch ==== */

static void test_forward_prefetch(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 3000);
	const uint64_t nblk = 40;
	pp_stream *s;
	struct pp_stream_info i0, i1;
	struct pp_stats s0, s1;
	uint64_t w0, waits_late;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("forward_prefetch", 30);
	s = sopen(p, &FSA, 1, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 10; b++) {
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
		sleep_ms(1);	/* the reader works on the block */
	}
	quiesce(&be, 20);
	vinfo("forward after 10 blocks", s);
	/* Depth >= 2: the next two blocks are already read... */
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 10), 1);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 11), 1);
	CHECK_U64(blk_bytes(&be, &FSA, 1, 10), ==, FSA.bs);
	/* ...so the reader's get of block 10 is a hit: no read, no wait. */
	s0 = stats(p);
	i0 = info(s);
	CU_ASSERT(i0.issued > 0);
	CU_ASSERT_EQUAL(sget(s, &FSA, 1, 10, 0, FSA.bs), 0);
	s1 = stats(p);
	i1 = info(s);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 10), 1);
	CHECK_U64(s1.hits, ==, s0.hits + 1);
	CHECK_U64(s1.misses, ==, s0.misses);
	CHECK_U64(i1.waits, ==, i0.waits);
	CHECK_U64(i1.used, ==, i0.used + 1);
	CHECK_U64(s1.prefetch_used, ==, s0.prefetch_used + 1);
	/* The rest at the reader's pace: the read-ahead keeps ahead of it. */
	w0 = i1.waits;
	for (uint64_t b = 11; b < nblk; b++) {
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
		if (b == 25)
			w0 = info(s).waits;
		sleep_ms(1);
	}
	quiesce(&be, 20);
	vinfo("forward at the end", s);
	i1 = info(s);
	waits_late = i1.waits - w0;	/* over blocks 26..39 */
	VLOG("  waits over the last 14 blocks: %" PRIu64 "\n", waits_late);
	CHECK_U64(waits_late, <=, 7);	/* timing: half the blocks, generous */
	CU_ASSERT(i1.used >= 20);
	CU_ASSERT(i1.used <= i1.issued);
	CU_ASSERT_EQUAL(i1.wasted, 0);
	s1 = stats(p);
	CHECK_U64(s1.prefetch_issued, >=, i1.issued);
	CHECK_U64(s1.prefetch_used, >=, i1.used);
	CU_ASSERT_EQUAL(s1.prefetch_wasted, 0);
	CHECK_U64(s1.reader_waits, >=, i1.waits);
	/* Every block read exactly once (reader and prefetch never both read a
	 * block: the pool holds the whole file), nothing past the end. */
	CHECK_U64(range_bytes(&be, &FSA, 1, 0, nblk), ==, nblk * FSA.bs);
	CHECK_U64(range_reads(&be, &FSA, 1, nblk, MAX_BLK), ==, 0);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* A stream over blocks the pool already holds queues no prefetch: what is
 * cached costs a lookup, not a job on a prefetch thread. Half the file is
 * loaded by plain gets; a stream then reads it all: only the other half is
 * prefetched, and every block was read from disk once. */
static void test_prefetch_skips_cached(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 500);
	const uint64_t nblk = 32;
	pp_stream *s;
	struct pp_stream_info in;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("prefetch_skips_cached", 30);
	for (uint64_t b = 0; b < nblk / 2; b++)
		CU_ASSERT_EQUAL(pget(p, &FSA, 2, b), 0);
	quiesce(&be, 20);
	s = sopen(p, &FSA, 2, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < nblk; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	in = info(s);
	vinfo("over a half-cached file", s);
	/* the stream is sequential after two accesses and reads ahead from
	 * there; nothing of the cached first half is queued */
	CHECK_U64(in.issued, <=, nblk / 2);
	CHECK_U64(in.issued, >=, nblk / 2 - 4);
	CHECK_U64(range_reads(&be, &FSA, 2, 0, nblk), ==, nblk);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* The stream's file size bounds the read-ahead, also when it changes. */
static void test_file_size(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 2000);
	pp_stream *s;
	uint64_t before[MAX_BLK];

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("file_size", 30);
	/* 10 blocks and 100 KiB: block 10 is partly in the file, 11 is not. */
	s = sopen(p, &FSA, 1, 10ull * FSA.bs + 100 * KIB);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 10; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
	CU_ASSERT_EQUAL(sget(s, &FSA, 1, 10, 0, 100 * KIB), 0);
	quiesce(&be, 20);
	CHECK_U64(range_reads(&be, &FSA, 1, 11, MAX_BLK), ==, 0);
	CHECK_U64(blk_bytes(&be, &FSA, 1, 10), <=, FSA.bs);
	pp_stream_close(s);

	/* Grows: read-ahead goes past the old end. */
	s = sopen(p, &FSA, 2, 20ull * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 16; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	CHECK_U64(range_reads(&be, &FSA, 2, 20, MAX_BLK), ==, 0);
	pp_stream_set_size(s, 40ull * FSA.bs);
	for (uint64_t b = 16; b < 20; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	CHECK_U64(blk_reads(&be, &FSA, 2, 20), ==, 1);	/* before the reader got there */
	CHECK_U64(range_reads(&be, &FSA, 2, 40, MAX_BLK), ==, 0);
	/* Shrinks: nothing more is read past the new end. */
	pp_stream_set_size(s, 24ull * FSA.bs);
	for (uint64_t b = 0; b < MAX_BLK; b++)
		before[b] = blk_reads(&be, &FSA, 2, b);
	for (uint64_t b = 20; b < 24; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 2, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	for (uint64_t b = 24; b < MAX_BLK; b++)
		if (blk_reads(&be, &FSA, 2, b) != before[b]) {
			CU_FAIL("read past the shrunk file size");
			fprintf(stderr, "  block %" PRIu64 " read after set_size(24 blocks)\n", b);
			break;
		}
	vinfo("file_size", s);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/*
 * Prefetch reads are asynchronous: with ONE prefetch thread and the
 * backend holding every read, a stream that asks for several blocks ahead
 * has all of them submitted at once (a thread that read synchronously
 * would sit in the first). When the reads complete, a plain reader that
 * was waiting on one of them gets its data without reading it again.
 */
struct getter {
	pp_pool *p;
	uint64_t blk;
	atomic_bool done;
	int rc;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;

	g->rc = pget(g->p, &FSA, 1, g->blk);
	atomic_store(&g->done, true);
	return NULL;
}

static void test_prefetch_async(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 1, 0);	/* one prefetch thread */
	pp_stream *s;
	struct pp_stream_info i0, i1;
	uint64_t queued = 0, issued = 0, t0;
	struct getter g;
	pthread_t th;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("prefetch_async", 30);
	/* a 4-block file read in order: the pattern is forward, nothing can
	 * be read past the end, and the reader waited (depth doubled) */
	s = sopen(p, &FSA, 1, 4ull * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 4; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	i0 = info(s);
	vinfo("after 4 blocks", s);
	CU_ASSERT_EQUAL(i0.pattern, PP_PAT_FORWARD);
	CHECK_U64(i0.depth, >=, 4);
	/* Reads now stay queued in the backend. The file grows; the reader
	 * reads block 3 again (cached: it does not block), which queues a
	 * read-ahead of <depth> blocks from block 4. */
	be_hold(&be, true);
	pp_stream_set_size(s, 64ull * FSA.bs);
	CU_ASSERT_EQUAL(sget(s, &FSA, 1, 3, 0, FSA.bs), 0);
	i1 = info(s);
	issued = i1.issued - i0.issued;
	VLOG("  read-ahead queued %" PRIu64 " blocks at depth %u\n", issued, i1.depth);
	CHECK_U64(issued, >=, 4);
	/* every one of them reaches the backend, though one thread runs the
	 * jobs and none has completed */
	t0 = now_us();
	while (now_us() - t0 < 3000000) {
		pthread_mutex_lock(&be.mu);
		queued = be.qn;
		pthread_mutex_unlock(&be.mu);
		if (queued >= issued)
			break;
		sleep_ms(1);
	}
	VLOG("  %" PRIu64 " reads in flight at once with one prefetch thread\n", queued);
	CHECK_U64(queued, ==, issued);
	CHECK_U64(be_val(&be, &be.done_called), ==, be_val(&be, &be.submitted) - queued);
	/* a plain reader of block 4 waits for the prefetch read in flight */
	g = (struct getter){.p = p, .blk = 4};
	atomic_store(&g.done, false);
	pthread_create(&th, NULL, getter_main, &g);
	sleep_ms(50);
	CU_ASSERT(!atomic_load(&g.done));
	be_hold(&be, false);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(g.rc, 0);
	quiesce(&be, 20);
	/* the completion made the block valid: read once, by the prefetch */
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 4), 1);
	for (uint64_t b = 4; b < 4 + issued; b++)
		CHECK_U64(blk_bytes(&be, &FSA, 1, b), ==, FSA.bs);
	/* the stream reads on from the cache */
	for (uint64_t b = 4; b < 4 + issued; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 4 + issued - 1), 1);
	vinfo("at the end", s);
	CU_ASSERT(info(s).used >= issued - 1);	/* block 4 went to the plain reader first */
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* ==== 3. backward and strided prefetch ==== */

static void test_backward_prefetch(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 3000);
	const uint64_t nblk = 40;
	pp_stream *s;
	struct pp_stream_info i0, i1;
	struct pp_stats s0, s1;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("backward_prefetch", 30);
	s = sopen(p, &FSA, 1, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = nblk - 1; b >= 30; b--) {
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
		sleep_ms(1);
	}
	quiesce(&be, 20);
	vinfo("backward after 10 blocks", s);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 29), 1);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 28), 1);
	s0 = stats(p);
	i0 = info(s);
	CU_ASSERT_EQUAL(sget(s, &FSA, 1, 29, 0, FSA.bs), 0);
	s1 = stats(p);
	i1 = info(s);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 29), 1);
	CHECK_U64(s1.hits, ==, s0.hits + 1);
	CHECK_U64(i1.used, ==, i0.used + 1);
	CHECK_U64(i1.waits, ==, i0.waits);
	for (int64_t b = 28; b >= 0; b--) {
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, (uint64_t)b, 0, FSA.bs), 0);
		sleep_ms(1);
	}
	quiesce(&be, 20);
	vinfo("backward at block 0", s);
	i1 = info(s);
	CU_ASSERT_EQUAL(i1.pattern, PP_PAT_BACKWARD);
	CU_ASSERT(i1.used >= 20);
	CU_ASSERT(i1.used <= i1.issued);
	CU_ASSERT_EQUAL(atomic_load(&FSA.bad), 0);	/* nothing "below" block 0 */
	CHECK_U64(range_bytes(&be, &FSA, 1, 0, nblk), ==, nblk * FSA.bs);
	CHECK_U64(range_reads(&be, &FSA, 1, nblk, MAX_BLK), ==, 0);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* 64 KiB at 128 KiB into every 4th block (1 MiB stride, 256 KiB blocks). */
static void test_strided_prefetch(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 3000);
	const uint64_t stride = 1 * MIB, first = 128 * KIB, len = 64 * KIB, nstride = 40;
	const uint64_t per = stride / FSA.bs;	/* blocks per stride */
	pp_stream *s;
	struct pp_stream_info i0, i1;
	struct pp_stats s0, s1;
	uint64_t between = 0, over = 0;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("strided_prefetch", 30);
	s = sopen(p, &FSA, 1, nstride * stride);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t k = 0; k < 10; k++) {
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, first + k * stride, (uint32_t)len), 0);
		sleep_ms(1);
	}
	quiesce(&be, 20);
	vinfo("strided after 10", s);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 10 * per), 1);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 11 * per), 1);
	s0 = stats(p);
	i0 = info(s);
	CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, first + 10 * stride, (uint32_t)len), 0);
	s1 = stats(p);
	i1 = info(s);
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 1, 10 * per), 1);
	CHECK_U64(s1.hits, ==, s0.hits + 1);
	CHECK_U64(i1.used, ==, i0.used + 1);
	for (uint64_t k = 11; k < nstride; k++) {
		CU_ASSERT_EQUAL(sget_pos(s, &FSA, 1, first + k * stride, (uint32_t)len), 0);
		sleep_ms(1);
	}
	quiesce(&be, 20);
	vinfo("strided at the end", s);
	i1 = info(s);
	CU_ASSERT_EQUAL(i1.pattern, PP_PAT_STRIDED);
	CU_ASSERT(i1.used >= 15);
	/* Only the strided ranges were read. */
	for (uint64_t b = 0; b < nstride * per; b++) {
		uint64_t n = blk_bytes(&be, &FSA, 1, b);

		if (b % per)
			between += n;
		else if (n > len)
			over += n - len;
	}
	VLOG("  strided: %" PRIu64 " bytes read between strides, %" PRIu64 " beyond the ranges\n",
	     between, over);
	CHECK_U64(between, ==, 0);
	CHECK_U64(over, ==, 0);
	CHECK_U64(range_reads(&be, &FSA, 1, nstride * per, MAX_BLK), ==, 0);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* ==== 4. depth ==== */

/* A slow disk and a reader that never pauses: the depth grows, up to
 * prefetch_pct of the pool; never more blocks ahead than that. */
static void test_depth_grows_capped(void)
{
	struct slowbe be;
	const uint64_t pool = 32 * MIB, nblk = 80;
	const unsigned pct = 10;
	const uint64_t cap = pool * pct / 100 / FSA.bs;	/* 12 */
	pp_pool *p = pool_up(&be, pool, pct, 8, 4000);
	pp_stream *s;
	unsigned maxd = 0;
	int64_t max_ahead = 0;
	struct pp_stream_info i;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("depth_grows_capped", 30);
	s = sopen(p, &FSA, 1, nblk * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < nblk; b++) {
		int64_t ahead;

		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
		i = info(s);
		if (i.depth > maxd)
			maxd = i.depth;
		ahead = max_read_blk(&be, &FSA, 1) - (int64_t)b;
		if (ahead > max_ahead)
			max_ahead = ahead;
	}
	vinfo("depth at the end", s);
	VLOG("  max depth %u, cap %" PRIu64 ", most blocks read ahead %" PRId64 "\n", maxd, cap,
	     max_ahead);
	i = info(s);
	CU_ASSERT(i.waits > 0);
	CHECK_U64(maxd, >, 2);
	CHECK_U64(maxd, >=, 8);		/* doubling from 2 on every wait */
	CHECK_U64(maxd, <=, cap);
	CHECK_U64(max_ahead, <=, cap + 1);
	quiesce(&be, 20);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* Prefetched blocks evicted before the reader gets to them: wasted, and
 * the depth goes down. */
static void test_depth_shrinks_on_waste(void)
{
	struct slowbe be;
	const uint64_t pool = 16 * MIB;
	const unsigned pct = 50;
	const uint64_t cap = pool * pct / 100 / FSA.bs;	/* 32 */
	pp_pool *p = pool_up(&be, pool, pct, 0, 3000);
	pp_stream *s;
	struct pp_stream_info i1, i2, i3;
	struct pp_stats st;
	uint64_t ahead;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("depth_shrinks_on_waste", 30);
	s = sopen(p, &FSA, 1, 200ull * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 12; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	i1 = info(s);
	vinfo("before the flood", s);
	ahead = range_reads(&be, &FSA, 1, 12, MAX_BLK);
	VLOG("  %" PRIu64 " blocks read ahead\n", ahead);
	CHECK_U64(i1.depth, >, 2);
	CHECK_U64(i1.depth, <=, cap);
	CU_ASSERT(ahead >= 2);
	CU_ASSERT_EQUAL(i1.wasted, 0);
	/* Twice the pool of other blocks: the read-ahead is evicted unused. */
	be_set_delay(&be, 0);
	for (uint64_t b = 0; b < 2 * pool / FSA.bs; b++)
		CU_ASSERT_EQUAL(pget(p, &FSA, 2, b), 0);
	i2 = info(s);
	st = stats(p);
	vinfo("after the flood", s);
	CHECK_U64(i2.wasted, >, 0);
	CHECK_U64(i2.wasted, <=, ahead);
	CHECK_U64(st.prefetch_wasted, >=, i2.wasted);
	CU_ASSERT_EQUAL(i2.used, i1.used);
	/* The reader resumes: the depth is below what it was (halved per
	 * wasted block, whether at eviction or at the next access). */
	CU_ASSERT_EQUAL(sget(s, &FSA, 1, 12, 0, FSA.bs), 0);
	i3 = info(s);
	vinfo("reader resumed", s);
	CU_ASSERT(i2.depth < i1.depth || i3.depth < i1.depth);
	CHECK_U64(i3.depth, <=, cap);
	quiesce(&be, 20);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* A 1 MiB pool of 64 KiB blocks (16 buffers), prefetch_pct 90: streams
 * forward, backward and strided plus a plain reader fight over it. Data
 * stays right, nothing hangs, depth stays under the cap. */
struct tiny_arg {
	pp_pool *p;
	int kind;	/* 0 forward, 1 backward, 2 strided, 3 plain random */
	uint64_t ino;
	uint64_t wasted, used;
	unsigned maxd;
};

#define TINY_NBLK 200u

static void *tiny_main(void *arg)
{
	struct tiny_arg *a = arg;
	const uint64_t size = (uint64_t)TINY_NBLK * FSB.bs;
	pp_stream *s = NULL;
	uint64_t seed = a->ino * 7919 + 1;

	if (a->kind != 3) {
		int rc = pp_stream_open(a->p, FSB.fs, a->ino, size, &s);

		TCHECK(rc == 0 && s, "pp_stream_open = %d", rc);
		if (rc)
			return NULL;
	}
	for (unsigned n = 0; n < 2 * TINY_NBLK; n++) {
		uint64_t b = 0;
		int rc;

		switch (a->kind) {
		case 0: b = n % TINY_NBLK; break;
		case 1: b = TINY_NBLK - 1 - n % TINY_NBLK; break;
		case 2: b = (n * 3) % TINY_NBLK; break;
		default: b = rnd(&seed) % TINY_NBLK; break;
		}
		if (s) {
			struct pp_stream_info i;

			rc = sget(s, &FSB, a->ino, b, 0, FSB.bs);
			pp_stream_get_info(s, &i);
			if (i.depth > a->maxd)
				a->maxd = i.depth;
		} else {
			rc = pget(a->p, &FSB, a->ino, b);
		}
		TCHECK(rc == 0, "get %" PRIu64 " = %d", b, rc);
	}
	if (s) {
		struct pp_stream_info i;

		pp_stream_get_info(s, &i);
		a->wasted = i.wasted;
		a->used = i.used;
		pp_stream_close(s);
	}
	return NULL;
}

static void test_tiny_pool(void)
{
	struct slowbe be;
	const uint64_t pool = 1 * MIB;
	const unsigned pct = 90;
	const uint64_t cap = pool * pct / 100 / FSB.bs;	/* 14 */
	pp_pool *p = pool_up(&be, pool, pct, 4, 300);
	struct tiny_arg a[4];
	pthread_t th[4];
	struct pp_stats st;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("tiny_pool", 60);
	for (int k = 0; k < 4; k++) {
		a[k] = (struct tiny_arg){.p = p, .kind = k, .ino = (uint64_t)k + 1};
		pthread_create(&th[k], NULL, tiny_main, &a[k]);
	}
	for (int k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	st = stats(p);
	VLOG("  tiny pool: issued %" PRIu64 " used %" PRIu64 " wasted %" PRIu64
	     " waits %" PRIu64 "; max depths %u %u %u (cap %" PRIu64 ")\n",
	     st.prefetch_issued, st.prefetch_used, st.prefetch_wasted, st.reader_waits, a[0].maxd,
	     a[1].maxd, a[2].maxd, cap);
	for (int k = 0; k < 3; k++)
		CHECK_U64(a[k].maxd, <=, cap);
	CU_ASSERT(st.prefetch_used + st.prefetch_wasted <= st.prefetch_issued);
	CHECK_U64(st.used, <=, pool);
	quiesce(&be, 20);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FSB.fs), 0);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FSA.fs), 0);
	CU_ASSERT_EQUAL(stats(p).buffers, 0);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* ==== 5. scan resistance ==== */

/* Re-reads of the working set (ino 3 blocks 0..7, each read 4 times: a
 * clock usage count of 4 or so) after a scan of <times> pools' worth of
 * ino 4, by a stream or by plain gets. A clock that lowers the working
 * set's count once per lap of the hand loses it after about 4 laps, so
 * the 8x scan also needs the scan to stay out of the clock's way. */
static uint64_t scan_one(bool stream, uint64_t times, uint64_t *hits_out)
{
	struct slowbe be;
	const uint64_t pool = 16 * MIB, nws = 8, nscan = times * pool / FSA.bs;
	pp_pool *p = pool_up(&be, pool, 0, 0, 0);
	pp_stream *s = NULL;
	uint64_t r0, again;
	struct pp_stats s0, s1;

	if (!p)
		return UINT64_MAX;
	for (int round = 0; round < 4; round++)
		for (uint64_t b = 0; b < nws; b++)
			CU_ASSERT_EQUAL(pget(p, &FSA, 3, b), 0);
	CU_ASSERT_EQUAL(range_reads(&be, &FSA, 3, 0, nws), nws);
	if (stream) {
		s = sopen(p, &FSA, 4, nscan * FSA.bs);
		if (!s) {
			pool_down(p, &be);
			return UINT64_MAX;
		}
	}
	for (uint64_t b = 0; b < nscan; b++)
		CU_ASSERT_EQUAL(stream ? sget(s, &FSA, 4, b, 0, FSA.bs) : pget(p, &FSA, 4, b), 0);
	quiesce(&be, 10);
	if (s) {
		vinfo("scan", s);
		CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
		pp_stream_close(s);
	}
	r0 = range_reads(&be, &FSA, 3, 0, nws);
	s0 = stats(p);
	for (uint64_t b = 0; b < nws; b++)
		CU_ASSERT_EQUAL(pget(p, &FSA, 3, b), 0);
	s1 = stats(p);
	again = range_reads(&be, &FSA, 3, 0, nws) - r0;
	*hits_out = s1.hits - s0.hits;
	ASSERT_DATA_OK();
	pool_down(p, &be);
	return again;
}

static void scan_test(const char *name, uint64_t times)
{
	uint64_t again, hits, plain_again, plain_hits;

	wd_arm(name, 30);
	again = scan_one(true, times, &hits);
	plain_again = UINT64_MAX;
	if (verbose)	/* for comparison only */
		plain_again = scan_one(false, times, &plain_hits);
	VLOG("  %" PRIu64 "x pool scan: working set blocks read again: after a stream %" PRIu64
	     " of 8 (%" PRIu64 " hits), after plain gets %" PRIu64 " of 8\n",
	     times, again, hits, plain_again);
	CHECK_U64(again, <=, 2);
	CHECK_U64(hits, >=, 6);
	wd_disarm();
}

static void test_scan_resistance_4x(void)
{
	scan_test("scan_resistance_4x", 4);
}

static void test_scan_resistance_8x(void)
{
	scan_test("scan_resistance_8x", 8);
}

/* ==== 6. close, drop, destroy ==== */

struct closer {
	pp_stream *s;
	atomic_bool done;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	pp_stream_close(c->s);
	atomic_store(&c->done, true);
	return NULL;
}

static void test_close_waits(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 64 * MIB, 0, 0, 2000);
	pp_stream *s;
	struct closer c;
	pthread_t th;
	uint64_t t0, sub, queued = 0;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("close_waits", 30);
	s = sopen(p, &FSA, 5, 100ull * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	for (uint64_t b = 0; b < 4; b++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 5, b, 0, FSA.bs), 0);
	quiesce(&be, 20);
	/* Reads stay queued in the backend from here; block 4 is already read
	 * ahead, so the reader gets it, and the stream reads further ahead. */
	CU_ASSERT_EQUAL(blk_reads(&be, &FSA, 5, 4), 1);
	sub = be_val(&be, &be.submitted);
	be_hold(&be, true);
	if (blk_reads(&be, &FSA, 5, 4) != 1)
		be_hold(&be, false);	/* not read ahead (failed above): do not hang */
	CU_ASSERT_EQUAL(sget(s, &FSA, 5, 4, 0, FSA.bs), 0);
	t0 = now_us();
	while (now_us() - t0 < 2000000) {
		pthread_mutex_lock(&be.mu);
		queued = be.qn;
		pthread_mutex_unlock(&be.mu);
		if (queued)
			break;
		sleep_ms(1);
	}
	CU_ASSERT(queued > 0);	/* prefetches in flight */
	CU_ASSERT(be_val(&be, &be.submitted) > sub);
	c.s = s;
	atomic_store(&c.done, false);
	pthread_create(&th, NULL, closer_main, &c);
	sleep_ms(100);
	CU_ASSERT(!atomic_load(&c.done));	/* close waits for them */
	be_hold(&be, false);
	pthread_join(th, NULL);
	CU_ASSERT(atomic_load(&c.done));
	/* Everything submitted has completed (done() was called) by the time
	 * close returned, and nothing more is submitted for the stream. */
	pthread_mutex_lock(&be.mu);
	CHECK_U64(be.done_called, ==, be.submitted);
	CHECK_U64(be.qn, ==, 0);
	sub = be.submitted;
	pthread_mutex_unlock(&be.mu);
	sleep_ms(30);
	CHECK_U64(be_val(&be, &be.submitted), ==, sub);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FSA.fs), 0);
	CU_ASSERT_EQUAL(stats(p).buffers, 0);
	CU_ASSERT_EQUAL(pp_fs_unregister(p, FSA.fs), 0);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* Streams opened, read and closed with read-ahead in flight, from several
 * threads at once; a stream that never read; then drop, unregister,
 * destroy. */
struct churn_arg {
	pp_pool *p;
	const struct tfs *f;
	uint64_t ino;
};

static void *churn_main(void *arg)
{
	struct churn_arg *a = arg;

	for (unsigned round = 0; round < 12; round++) {
		pp_stream *s = NULL;
		int rc = pp_stream_open(a->p, a->f->fs, a->ino, 64ull * a->f->bs, &s);
		uint64_t start = (round * 7) % 40;

		TCHECK(rc == 0 && s, "open = %d", rc);
		if (rc)
			return NULL;
		for (uint64_t b = start; b < start + 5; b++) {
			rc = sget(s, a->f, a->ino, round % 2 ? b : 63 - b, 0, a->f->bs);
			TCHECK(rc == 0, "sget = %d", rc);
		}
		if (round % 5 == 4)
			pp_stream_set_size(s, 0);
		pp_stream_close(s);
	}
	return NULL;
}

static void test_close_churn(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 16 * MIB, 0, 2, 1000);
	struct churn_arg a[6];
	pthread_t th[6];
	pp_stream *s = NULL;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("close_churn", 60);
	/* Open and close, nothing read. */
	CU_ASSERT_EQUAL(pp_stream_open(p, FSA.fs, 1, 0, &s), 0);
	if (s)
		pp_stream_close(s);
	for (int k = 0; k < 6; k++) {
		a[k] = (struct churn_arg){.p = p, .f = k % 2 ? &FSB : &FSA, .ino = (uint64_t)k / 2 + 1};
		pthread_create(&th[k], NULL, churn_main, &a[k]);
	}
	for (int k = 0; k < 6; k++)
		pthread_join(th[k], NULL);
	CU_ASSERT_EQUAL(pp_drop_fs(p, FSA.fs), 0);
	CU_ASSERT_EQUAL(pp_fs_unregister(p, FSB.fs), 0);
	/* A stream closed right away with its read-ahead in flight, then the
	 * pool destroyed. */
	s = sopen(p, &FSC, 2, 64ull * FSC.bs);
	if (s) {
		for (uint64_t b = 0; b < 4; b++)
			CU_ASSERT_EQUAL(sget(s, &FSC, 2, b, 0, 256 * KIB), 0);
		pp_stream_close(s);
	}
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

/* Bad ranges are refused as by pp_get; the stream goes on. */
static void test_stream_errors(void)
{
	struct slowbe be;
	pp_pool *p = pool_up(&be, 16 * MIB, 0, 0, 0);
	pp_stream *s;
	pp_buf *b = NULL;
	void *d = NULL;

	CU_ASSERT_FATAL(p != NULL);
	wd_arm("stream_errors", 20);
	s = sopen(p, &FSA, 1, 16ull * FSA.bs);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(pp_stream_get(s, 0, FSA.bs, 1, &b, &d), MM_EINVAL);
	CU_ASSERT_EQUAL(pp_stream_get(s, 0, FSA.bs - 4096, 8192, &b, &d), MM_EINVAL);
	CU_ASSERT_EQUAL(pp_stream_get(s, 0, 4096, 0xFFFFFFFFu, &b, &d), MM_EINVAL);
	for (uint64_t k = 0; k < 6; k++)
		CU_ASSERT_EQUAL(sget(s, &FSA, 1, k, 0, FSA.bs), 0);
	CU_ASSERT_EQUAL(info(s).pattern, PP_PAT_FORWARD);
	quiesce(&be, 20);
	pp_stream_close(s);
	ASSERT_DATA_OK();
	wd_disarm();
	pool_down(p, &be);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"pattern_forward", test_pattern_forward},
		{"pattern_backward", test_pattern_backward},
		{"pattern_strided", test_pattern_strided},
		{"pattern_random", test_pattern_random},
		{"forward_prefetch", test_forward_prefetch},
		{"prefetch_skips_cached", test_prefetch_skips_cached},
		{"prefetch_async", test_prefetch_async},
		{"file_size", test_file_size},
		{"backward_prefetch", test_backward_prefetch},
		{"strided_prefetch", test_strided_prefetch},
		{"depth_grows_capped", test_depth_grows_capped},
		{"depth_shrinks_on_waste", test_depth_shrinks_on_waste},
		{"tiny_pool", test_tiny_pool},
		{"scan_resistance_4x", test_scan_resistance_4x},
		{"scan_resistance_8x", test_scan_resistance_8x},
		{"close_waits", test_close_waits},
		{"close_churn", test_close_churn},
		{"stream_errors", test_stream_errors},
	};

	verbose = getenv("MMFS_TEST_VERBOSE") != NULL;
	if (!verbose)
		mm_log_set_level(MM_LOG_FATAL);
	MM_ADD_SUITE("pagepool_prefetch", tests);
}

MM_CUNIT_MAIN(register_tests)
