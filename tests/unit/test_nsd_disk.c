/*
 * tests/unit/test_nsd_disk.c - nsd/disk: O_DIRECT/libaio I/O, merging,
 * validation, and SQLite-style fault injection through nsd/sys.h.
 *
 * Disks are 64 MiB sparse files in /tmp (ext4: O_DIRECT) and /dev/shm
 * (tmpfs); the buffered fallback is forced by failing open(O_DIRECT) with
 * EINVAL. Each fault test raises N until the operation completes, once with
 * a transient and once with a persistent fault, then checks the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nsd/disk.h"
#include "nsd/sys.h"
#include "tests/unit/cunit_main.h"

#define DISK_SIZE (64u << 20)

static char path_tmp[64], path_shm[64];

static void make_file(char *path, const char *tmpl)
{
	int fd;

	snprintf(path, 64, "%s", tmpl);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, DISK_SIZE) != 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Fill <buf> with a pattern of (<seed>, absolute offset). */
static void fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	uint64_t *p = buf;

	for (size_t i = 0; i < len / 8; i++)
		p[i] = (seed * 0x9E3779B97F4A7C15ull) ^ (off + i * 8);
}

static nsd_disk *open_disk(const char *path, unsigned qd, bool sync_backend)
{
	struct nsd_disk_opts o = {.queue_depth = qd, .sync_backend = sync_backend};
	nsd_disk *d = NULL;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_open(path, &o, &d), 0);
	return d;
}

/* ---- random writes then verified reads, against a shadow copy ---- */

/* The last RW_WIN bytes of the disk get random I/O and are fully verified. */
#define RW_WIN (16u << 20)
#define RW_BASE ((uint64_t)DISK_SIZE - RW_WIN)

static void random_rw(nsd_disk *d)
{
	uint32_t s = nsd_disk_sector_size(d);
	uint8_t *shadow = calloc(1, RW_WIN);
	void *buf = NULL;
	size_t maxlen = 256u << 10;

	CU_ASSERT_FATAL(shadow != NULL);
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, maxlen, &buf), 0);
	CU_ASSERT_EQUAL((uintptr_t)buf % s, 0);
	for (uint64_t off = 0; off < RW_WIN; off += maxlen) {	/* what earlier tests left */
		CU_ASSERT_EQUAL(nsd_disk_read(d, RW_BASE + off, buf, maxlen), 0);
		memcpy(shadow + off, buf, maxlen);
	}
	for (int i = 0; i < 100; i++) {
		size_t len = (1 + rnd() % (maxlen / s)) * s;
		uint64_t off = (rnd() % ((RW_WIN - len) / s + 1)) * s;

		fill(buf, off, len, rnd());
		CU_ASSERT_EQUAL(nsd_disk_write(d, RW_BASE + off, buf, len), 0);
		memcpy(shadow + off, buf, len);
	}
	for (int i = 0; i < 100; i++) {
		size_t len = (1 + rnd() % (maxlen / s)) * s;
		uint64_t off = (rnd() % ((RW_WIN - len) / s + 1)) * s;

		memset(buf, 0xAA, len);
		CU_ASSERT_EQUAL(nsd_disk_read(d, RW_BASE + off, buf, len), 0);
		CU_ASSERT(memcmp(buf, shadow + off, len) == 0);
	}
	/* the whole window */
	for (uint64_t off = 0; off < RW_WIN; off += maxlen) {
		CU_ASSERT_EQUAL(nsd_disk_read(d, RW_BASE + off, buf, maxlen), 0);
		CU_ASSERT(memcmp(buf, shadow + off, maxlen) == 0);
	}
	nsd_disk_buf_free(buf);
	free(shadow);
}

static void test_open_geometry(void)
{
	nsd_disk *d = open_disk(path_tmp, 0, false);
	struct nsd_disk_stats st;
	nsd_disk *bad = (nsd_disk *)1;

	CU_ASSERT_EQUAL(nsd_disk_size(d), DISK_SIZE);
	CU_ASSERT(nsd_disk_sector_size(d) == 512 || nsd_disk_sector_size(d) == 4096);
	CU_ASSERT_TRUE(nsd_disk_direct(d));	/* ext4 */
	nsd_disk_stats(d, &st);
	CU_ASSERT_EQUAL(st.queue_depth, NSD_DISK_DEFAULT_QD);
	CU_ASSERT_TRUE(st.aio);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);

	CU_ASSERT_EQUAL(nsd_disk_open("/nonexistent/nsd", NULL, &bad), MM_ENOENT);
	CU_ASSERT_PTR_NULL(bad);
	CU_ASSERT_EQUAL(nsd_disk_open("/tmp", NULL, &bad), MM_EINVAL);
}

static void test_rw_direct(void)
{
	nsd_disk *d = open_disk(path_tmp, 8, false);

	random_rw(d);
	CU_ASSERT_EQUAL(nsd_disk_flush(d), 0);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_rw_shm(void)
{
	nsd_disk *d = open_disk(path_shm, 8, false);

	random_rw(d);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_rw_fallback(void)
{
	nsd_disk *d;
	struct nsd_disk_stats st;

	/* open(O_DIRECT) -> EINVAL, as on file systems without O_DIRECT */
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_OPEN, 1, EINVAL, false), 0);
	d = open_disk(path_shm, 8, false);
	nsd_sys_reset();
	CU_ASSERT_FALSE(nsd_disk_direct(d));
	uint64_t syncs = nsd_sys_calls(NSD_SYS_FDATASYNC);
	random_rw(d);
	CU_ASSERT(nsd_sys_calls(NSD_SYS_FDATASYNC) >= syncs + 100);
	nsd_disk_stats(d, &st);
	CU_ASSERT_FALSE(st.direct);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_rw_sync_backend(void)
{
	nsd_disk *d = open_disk(path_shm, 4, true);
	struct nsd_disk_stats st;

	random_rw(d);
	nsd_disk_stats(d, &st);
	CU_ASSERT_FALSE(st.aio);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

/* ---- many concurrent async requests ---- */

struct conc_arg {
	nsd_disk *d;
	int id;
	atomic_int *done;
	atomic_int *errs;
};

#define CONC_THREADS 4
#define CONC_REQS 128
#define CONC_LEN 16384

static void conc_cb(struct nsd_req *r, int rc, void *arg)
{
	struct conc_arg *a = arg;

	(void)r;
	if (rc)
		atomic_fetch_add(a->errs, 1);
	atomic_fetch_add(a->done, 1);
}

static void *conc_thread(void *arg)
{
	struct conc_arg *a = arg;
	struct nsd_req *reqs = calloc(CONC_REQS, sizeof(*reqs));
	void *bufs[CONC_REQS];

	for (int i = 0; i < CONC_REQS; i++) {
		uint64_t off = ((uint64_t)a->id * CONC_REQS + (uint64_t)i) * 2 * CONC_LEN;

		nsd_disk_buf_alloc(a->d, CONC_LEN, &bufs[i]);
		fill(bufs[i], off, CONC_LEN, 7);
		reqs[i] = (struct nsd_req){.offset = off, .len = CONC_LEN, .buf = bufs[i],
					   .op = NSD_WRITE, .done = conc_cb, .arg = a};
		if (nsd_disk_submit(a->d, &reqs[i]) != 0)
			atomic_fetch_add(a->errs, 1000);
	}
	while (atomic_load(a->done) < CONC_THREADS * CONC_REQS && atomic_load(a->errs) == 0)
		mm_sleep_ms(1);
	for (int i = 0; i < CONC_REQS; i++)
		nsd_disk_buf_free(bufs[i]);
	free(reqs);
	return NULL;
}

static void test_concurrent_async(void)
{
	nsd_disk *d = open_disk(path_tmp, 16, false);
	pthread_t t[CONC_THREADS];
	struct conc_arg a[CONC_THREADS];
	atomic_int done = 0, errs = 0;
	struct nsd_disk_stats st;
	void *buf;

	for (int i = 0; i < CONC_THREADS; i++) {
		a[i] = (struct conc_arg){.d = d, .id = i, .done = &done, .errs = &errs};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, conc_thread, &a[i]), 0);
	}
	for (int i = 0; i < CONC_THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&done), CONC_THREADS * CONC_REQS);
	CU_ASSERT_EQUAL(atomic_load(&errs), 0);
	nsd_disk_stats(d, &st);
	CU_ASSERT_EQUAL(st.writes, CONC_THREADS * CONC_REQS);
	CU_ASSERT_EQUAL(st.bytes_written, (uint64_t)CONC_THREADS * CONC_REQS * CONC_LEN);
	CU_ASSERT(st.lat_max_ns > 0 && st.lat_total_ns >= st.lat_max_ns);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT_EQUAL(st.queued, 0);

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, CONC_LEN, &buf), 0);
	for (int i = 0; i < CONC_THREADS * CONC_REQS; i++) {
		uint64_t off = (uint64_t)i * 2 * CONC_LEN;
		uint64_t want[CONC_LEN / 8];

		fill(want, off, CONC_LEN, 7);
		CU_ASSERT_EQUAL(nsd_disk_read(d, off, buf, CONC_LEN), 0);
		CU_ASSERT(memcmp(buf, want, CONC_LEN) == 0);
	}
	nsd_disk_buf_free(buf);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

/* ---- merging ---- */

#define MERGE_N 32
#define MERGE_LEN 4096

static void test_merge(void)
{
	nsd_disk *d = open_disk(path_tmp, 4, false);
	struct nsd_req reqs[MERGE_N], *rp[MERGE_N];
	atomic_int done = 0, errs = 0;
	struct conc_arg a = {.d = d, .done = &done, .errs = &errs};
	struct nsd_disk_stats st0, st;
	uint8_t *big;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, MERGE_N * MERGE_LEN, (void **)&big), 0);
	for (int round = 0; round < 2; round++) {
		enum nsd_op op = round == 0 ? NSD_WRITE : NSD_READ;

		if (op == NSD_WRITE)
			fill(big, 1 << 20, MERGE_N * MERGE_LEN, 11);
		else
			memset(big, 0, MERGE_N * MERGE_LEN);
		atomic_store(&done, 0);
		nsd_disk_stats(d, &st0);
		for (int i = 0; i < MERGE_N; i++) {
			reqs[i] = (struct nsd_req){.offset = (1 << 20) + (uint64_t)i * MERGE_LEN,
						   .len = MERGE_LEN, .buf = big + i * MERGE_LEN,
						   .op = op, .done = conc_cb, .arg = &a};
			rp[i] = &reqs[i];
		}
		CU_ASSERT_EQUAL(nsd_disk_submit_batch(d, rp, MERGE_N), 0);
		while (atomic_load(&done) < MERGE_N)
			mm_sleep_ms(1);
		nsd_disk_stats(d, &st);
		CU_ASSERT_EQUAL(st.merged - st0.merged, MERGE_N - 1);
		CU_ASSERT_EQUAL(st.iocbs - st0.iocbs, 1);
	}
	CU_ASSERT_EQUAL(atomic_load(&errs), 0);
	{
		uint8_t *want = malloc(MERGE_N * MERGE_LEN);

		fill(want, 1 << 20, MERGE_N * MERGE_LEN, 11);
		CU_ASSERT(memcmp(big, want, MERGE_N * MERGE_LEN) == 0);
		free(want);
	}

	/* not merged: a gap, and a change of direction */
	atomic_store(&done, 0);
	nsd_disk_stats(d, &st0);
	for (int i = 0; i < 4; i++) {
		reqs[i] = (struct nsd_req){.offset = (2 << 20) + (uint64_t)i * 2 * MERGE_LEN,
					   .len = MERGE_LEN, .buf = big + i * MERGE_LEN,
					   .op = i == 3 ? NSD_READ : NSD_WRITE, .done = conc_cb, .arg = &a};
		rp[i] = &reqs[i];
	}
	reqs[3].offset = reqs[2].offset + MERGE_LEN;
	CU_ASSERT_EQUAL(nsd_disk_submit_batch(d, rp, 4), 0);
	while (atomic_load(&done) < 4)
		mm_sleep_ms(1);
	nsd_disk_stats(d, &st);
	CU_ASSERT_EQUAL(st.merged - st0.merged, 0);
	CU_ASSERT_EQUAL(st.iocbs - st0.iocbs, 4);
	nsd_disk_buf_free(big);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

/* ---- validation ---- */

static void never_cb(struct nsd_req *r, int rc, void *arg)
{
	(void)r;
	(void)rc;
	(void)arg;
	CU_FAIL("callback of a rejected request");
}

static void test_invalid(void)
{
	nsd_disk *d = open_disk(path_tmp, 4, false);
	uint32_t s = nsd_disk_sector_size(d);
	struct nsd_disk_stats st0, st;
	struct nsd_req r, ok, *rp[2];
	uint8_t *buf;
	struct nsd_disk_opts ro = {.readonly = true};
	nsd_disk *rd;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, 2 << 20, (void **)&buf), 0);
	nsd_disk_stats(d, &st0);
	ok = (struct nsd_req){.offset = 0, .len = s, .buf = buf, .op = NSD_READ, .done = never_cb};

	r = ok; r.offset = 1;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.offset = s / 2;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.len = s + 1;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.len = 0;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.buf = buf + 1;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.buf = NULL;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.len = NSD_DISK_MAX_IO + s;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.offset = DISK_SIZE;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.offset = DISK_SIZE - s; r.len = 2 * s;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.offset = UINT64_MAX - s + 1;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.op = (enum nsd_op)7;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	r = ok; r.done = NULL;
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), MM_EINVAL);
	/* a batch with one bad request queues none */
	r = ok; r.offset = 3;
	rp[0] = &ok;
	rp[1] = &r;
	CU_ASSERT_EQUAL(nsd_disk_submit_batch(d, rp, 2), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_disk_read(d, 1, buf, s), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_disk_write(d, DISK_SIZE, buf, s), MM_EINVAL);
	/* the last sector is fine */
	CU_ASSERT_EQUAL(nsd_disk_read(d, DISK_SIZE - s, buf, s), 0);
	nsd_disk_stats(d, &st);
	CU_ASSERT_EQUAL(st.iocbs - st0.iocbs, 1);
	CU_ASSERT_EQUAL(nsd_disk_buf_alloc(d, 0, (void **)&r.buf), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);

	CU_ASSERT_EQUAL_FATAL(nsd_disk_open(path_tmp, &ro, &rd), 0);
	CU_ASSERT_EQUAL(nsd_disk_write(rd, 0, buf, s), MM_EPERM);
	CU_ASSERT_EQUAL(nsd_disk_read(rd, 0, buf, s), 0);
	CU_ASSERT_EQUAL(nsd_disk_close(rd), 0);
	nsd_disk_buf_free(buf);
}

/* ---- fault injection ---- */

#define F_OPS 8
#define F_LEN 8192
#define F_STRIDE (64 * 1024)

/*
 * Write then read F_OPS blocks with the <nth> call of <id> failing
 * (once or from then on), for nth = 1, 2, ... until no call failed.
 * A request that reports 0 must have done exactly its job; one that
 * reports an error may have done it or not, but must say MM_EIO. After
 * each round the disk is checked with the fault disarmed.
 */
static void fault_loop(const char *path, bool sync_backend, enum nsd_sys_id id, int err,
		       bool persistent)
{
	nsd_disk *d = open_disk(path, 4, sync_backend);
	uint8_t *wbuf, *rbuf, *oldc, *want;
	unsigned n;
	bool finished = false;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, F_LEN, (void **)&wbuf), 0);
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, F_LEN, (void **)&rbuf), 0);
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, (size_t)F_OPS * F_LEN, (void **)&oldc), 0);
	want = malloc(F_LEN);
	for (int i = 0; i < F_OPS; i++) {
		fill(oldc + i * F_LEN, (uint64_t)i * F_STRIDE, F_LEN, 1000);
		CU_ASSERT_EQUAL(nsd_disk_write(d, (uint64_t)i * F_STRIDE, oldc + i * F_LEN, F_LEN), 0);
	}
	for (n = 1; n < 100 && !finished; n++) {
		int wrc[F_OPS], rrc[F_OPS], nfail = 0;

		nsd_sys_fail(id, n, err, persistent);
		for (int i = 0; i < F_OPS; i++) {
			uint64_t off = (uint64_t)i * F_STRIDE;

			fill(wbuf, off, F_LEN, n);
			wrc[i] = nsd_disk_write(d, off, wbuf, F_LEN);
			memset(rbuf, 0x5A, F_LEN);
			rrc[i] = nsd_disk_read(d, off, rbuf, F_LEN);
			CU_ASSERT(wrc[i] == 0 || wrc[i] == MM_EIO);
			CU_ASSERT(rrc[i] == 0 || rrc[i] == MM_EIO);
			nfail += (wrc[i] != 0) + (rrc[i] != 0);
			if (rrc[i] == 0) {
				if (wrc[i] == 0)
					CU_ASSERT(memcmp(rbuf, wbuf, F_LEN) == 0)
				else
					CU_ASSERT(memcmp(rbuf, wbuf, F_LEN) == 0 ||
						  memcmp(rbuf, oldc + i * F_LEN, F_LEN) == 0)
			}
		}
		nsd_sys_reset();
		if (!persistent && nfail > 1)
			CU_FAIL("a transient fault failed more than one request");
		/* the disk works and holds what the successful writes wrote */
		for (int i = 0; i < F_OPS; i++) {
			uint64_t off = (uint64_t)i * F_STRIDE;

			fill(want, off, F_LEN, n);
			CU_ASSERT_EQUAL(nsd_disk_read(d, off, rbuf, F_LEN), 0);
			if (wrc[i] == 0)
				CU_ASSERT(memcmp(rbuf, want, F_LEN) == 0)
			else
				CU_ASSERT(memcmp(rbuf, want, F_LEN) == 0 ||
					  memcmp(rbuf, oldc + i * F_LEN, F_LEN) == 0)
			memcpy(oldc + i * F_LEN, rbuf, F_LEN);
		}
		finished = nfail == 0;
	}
	CU_ASSERT_TRUE(finished);
	CU_ASSERT(n > 2);	/* the fault did hit at least once */
	CU_ASSERT(nsd_sys_faults(id) > 0);
	nsd_disk_buf_free(wbuf);
	nsd_disk_buf_free(rbuf);
	nsd_disk_buf_free(oldc);
	free(want);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_fault_io_submit(void)
{
	fault_loop(path_tmp, false, NSD_SYS_IO_SUBMIT, EIO, false);
	fault_loop(path_tmp, false, NSD_SYS_IO_SUBMIT, EIO, true);
	fault_loop(path_shm, false, NSD_SYS_IO_SUBMIT, ENOMEM, true);
}

static void test_fault_io_getevents(void)
{
	/* persistent io_getevents failure would hang a blocking call: see below */
	fault_loop(path_tmp, false, NSD_SYS_IO_GETEVENTS, EIO, false);
	fault_loop(path_shm, false, NSD_SYS_IO_GETEVENTS, EFAULT, false);
}

struct one_done {
	atomic_int done;
	atomic_int rc;
};

static void one_cb(struct nsd_req *r, int rc, void *arg)
{
	struct one_done *o = arg;

	(void)r;
	atomic_store(&o->rc, rc);
	atomic_store(&o->done, 1);
}

static void test_fault_io_getevents_persistent(void)
{
	nsd_disk *d = open_disk(path_tmp, 4, false);
	struct one_done o = {0, 0};
	struct nsd_req r;
	uint8_t *buf;
	uint64_t faults0 = nsd_sys_faults(NSD_SYS_IO_GETEVENTS);

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, F_LEN, (void **)&buf), 0);
	fill(buf, 0, F_LEN, 77);
	nsd_sys_fail(NSD_SYS_IO_GETEVENTS, 1, EIO, true);
	r = (struct nsd_req){.offset = 0, .len = F_LEN, .buf = buf, .op = NSD_WRITE,
			     .done = one_cb, .arg = &o};
	CU_ASSERT_EQUAL(nsd_disk_submit(d, &r), 0);
	mm_sleep_ms(60);
	CU_ASSERT_EQUAL(atomic_load(&o.done), 0);	/* cannot be reaped */
	CU_ASSERT(nsd_sys_faults(NSD_SYS_IO_GETEVENTS) > faults0 + 1);
	nsd_sys_reset();
	for (int i = 0; i < 2000 && !atomic_load(&o.done); i++)
		mm_sleep_ms(1);
	CU_ASSERT_EQUAL(atomic_load(&o.done), 1);
	CU_ASSERT_EQUAL(atomic_load(&o.rc), MM_EIO);	/* outcome unknown: not success */
	/* still works */
	CU_ASSERT_EQUAL(nsd_disk_write(d, 0, buf, F_LEN), 0);
	memset(buf, 0, F_LEN);
	CU_ASSERT_EQUAL(nsd_disk_read(d, 0, buf, F_LEN), 0);
	{
		uint8_t want[F_LEN];

		fill(want, 0, F_LEN, 77);
		CU_ASSERT(memcmp(buf, want, F_LEN) == 0);
	}
	nsd_disk_buf_free(buf);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_fault_pwrite(void)
{
	fault_loop(path_tmp, true, NSD_SYS_PWRITE, EIO, false);
	fault_loop(path_tmp, true, NSD_SYS_PWRITE, ENOSPC, true);
	fault_loop(path_tmp, true, NSD_SYS_PREAD, EIO, false);
}

static void test_fault_fdatasync(void)
{
	/* buffered fallback: a write completes only after fdatasync */
	nsd_sys_fail(NSD_SYS_OPEN, 1, EINVAL, false);
	nsd_disk *d = open_disk(path_shm, 4, false);
	uint8_t *buf;

	nsd_sys_reset();
	CU_ASSERT_FALSE(nsd_disk_direct(d));
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, F_LEN, (void **)&buf), 0);
	nsd_sys_fail(NSD_SYS_FDATASYNC, 1, EIO, false);
	CU_ASSERT_EQUAL(nsd_disk_write(d, 0, buf, F_LEN), MM_EIO);
	CU_ASSERT_EQUAL(nsd_disk_write(d, 0, buf, F_LEN), 0);
	nsd_sys_reset();
	nsd_disk_buf_free(buf);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_retry_eagain(void)
{
	nsd_disk *d = open_disk(path_tmp, 4, false);
	uint8_t *buf;
	struct nsd_disk_stats st;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, F_LEN, (void **)&buf), 0);
	fill(buf, 0, F_LEN, 5);
	nsd_sys_fail(NSD_SYS_IO_SUBMIT, 1, EAGAIN, false);
	CU_ASSERT_EQUAL(nsd_disk_write(d, 0, buf, F_LEN), 0);
	nsd_sys_fail(NSD_SYS_IO_SUBMIT, 1, EINTR, false);
	CU_ASSERT_EQUAL(nsd_disk_write(d, 0, buf, F_LEN), 0);
	nsd_sys_fail(NSD_SYS_IO_GETEVENTS, 1, EINTR, false);
	CU_ASSERT_EQUAL(nsd_disk_read(d, 0, buf, F_LEN), 0);
	nsd_sys_reset();
	nsd_disk_stats(d, &st);
	CU_ASSERT_EQUAL(st.errors, 0);
	nsd_disk_buf_free(buf);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);

	/* faults at open */
	nsd_disk *bad = NULL;
	nsd_sys_fail(NSD_SYS_IO_SETUP, 1, EAGAIN, false);	/* aio-max-nr: sync backend */
	CU_ASSERT_EQUAL(nsd_disk_open(path_tmp, NULL, &bad), 0);
	nsd_sys_reset();
	if (bad) {
		nsd_disk_stats(bad, &st);
		CU_ASSERT_FALSE(st.aio);
		nsd_disk_close(bad);
	}
	nsd_sys_fail(NSD_SYS_FSTAT, 1, EIO, false);
	CU_ASSERT_EQUAL(nsd_disk_open(path_tmp, NULL, &bad), MM_EIO);
	nsd_sys_reset();
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_COUNT, 1, EIO, false), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_PREAD, 0, EIO, false), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_sys_lookup("io_submit"), NSD_SYS_IO_SUBMIT);
	CU_ASSERT_STRING_EQUAL(nsd_sys_name(NSD_SYS_IO_GETEVENTS), "io_getevents");
}

/* ---- the write gate ---- */

static _Atomic uint64_t gate_epoch;

static uint64_t gate_fn(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&gate_epoch, memory_order_seq_cst);
}

struct gate_wait {
	atomic_int done;
	int rc;
};

static void gate_cb(struct nsd_req *r, int rc, void *arg)
{
	struct gate_wait *w = arg;

	(void)r;
	w->rc = rc;
	atomic_store(&w->done, 1);
}

/* Submit one write stamped <epoch>; its completion status. */
static int gated_write(nsd_disk *d, uint64_t off, void *buf, size_t len, uint64_t epoch)
{
	struct gate_wait w = {.done = 0, .rc = 1};
	struct nsd_req r = {.offset = off, .len = len, .buf = buf, .op = NSD_WRITE,
			    .done = gate_cb, .arg = &w, .epoch = epoch};

	CU_ASSERT_EQUAL_FATAL(nsd_disk_submit(d, &r), 0);
	while (!atomic_load(&w.done))
		mm_sleep_ms(1);
	return w.rc;
}

static void gate_check(const char *path, bool sync_backend)
{
	struct nsd_disk_opts o = {.queue_depth = 4, .sync_backend = sync_backend,
				  .gate = gate_fn};
	size_t len = 64u << 10;
	uint64_t off = 8u << 20;
	nsd_disk *d = NULL;
	void *buf = NULL, *back = NULL;

	CU_ASSERT_EQUAL_FATAL(nsd_disk_open(path, &o, &d), 0);
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, len, &buf), 0);
	CU_ASSERT_EQUAL_FATAL(nsd_disk_buf_alloc(d, len, &back), 0);
	atomic_store_explicit(&gate_epoch, 5, memory_order_seq_cst);
	fill(buf, off, len, 1);
	CU_ASSERT_EQUAL(gated_write(d, off, buf, len, 5), 0);		/* its own lease */
	fill(buf, off, len, 2);
	atomic_store_explicit(&gate_epoch, 6, memory_order_seq_cst);		/* a new lease */
	CU_ASSERT_EQUAL(gated_write(d, off, buf, len, 5), MM_ENOLEASE);
	atomic_store_explicit(&gate_epoch, 0, memory_order_seq_cst);		/* no lease */
	CU_ASSERT_EQUAL(gated_write(d, off, buf, len, 5), MM_ENOLEASE);
	/* neither refused write touched the disk; reads are not gated */
	CU_ASSERT_EQUAL(nsd_disk_read(d, off, back, len), 0);
	fill(buf, off, len, 1);
	CU_ASSERT(memcmp(back, buf, len) == 0);
	/* an unstamped write passes whatever the gate says */
	fill(buf, off, len, 3);
	CU_ASSERT_EQUAL(gated_write(d, off, buf, len, 0), 0);
	CU_ASSERT_EQUAL(nsd_disk_read(d, off, back, len), 0);
	CU_ASSERT(memcmp(back, buf, len) == 0);
	nsd_disk_buf_free(buf);
	nsd_disk_buf_free(back);
	CU_ASSERT_EQUAL(nsd_disk_close(d), 0);
}

static void test_gate(void)
{
	gate_check(path_tmp, false);	/* libaio */
	gate_check(path_shm, true);	/* pwrite on the completion thread */
}

static void test_cleanup(void)
{
	CU_ASSERT_EQUAL(unlink(path_tmp), 0);
	CU_ASSERT_EQUAL(unlink(path_shm), 0);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"open_geometry", test_open_geometry},
		{"rw_direct", test_rw_direct},
		{"rw_shm", test_rw_shm},
		{"rw_fallback", test_rw_fallback},
		{"rw_sync_backend", test_rw_sync_backend},
		{"concurrent_async", test_concurrent_async},
		{"merge", test_merge},
		{"invalid", test_invalid},
		{"fault_io_submit", test_fault_io_submit},
		{"fault_io_getevents", test_fault_io_getevents},
		{"fault_io_getevents_persistent", test_fault_io_getevents_persistent},
		{"fault_pwrite", test_fault_pwrite},
		{"fault_fdatasync", test_fault_fdatasync},
		{"retry_eagain", test_retry_eagain},
		{"gate", test_gate},
		{"cleanup", test_cleanup},
	};

	make_file(path_tmp, "/tmp/nsd_disk_XXXXXX");
	make_file(path_shm, "/dev/shm/nsd_disk_XXXXXX");
	mm_log_set_level(MM_LOG_FATAL);	/* injected faults log errors by design */
	MM_ADD_SUITE("nsd_disk", tests);
}

MM_CUNIT_MAIN(register_tests)
