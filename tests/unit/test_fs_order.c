/*
 * tests/unit/test_fs_order.c - ordered data (fs/README.md, "Ordered
 * data"): writes commit without waiting for their data, and a crash at
 * any log write never shows a file bytes it never held.
 *
 * The crash is a copy of the disks taken inside a log write, the instant
 * it lands (the log is written through the mount's synchronous disk I/O,
 * file blocks through the pagepool's). The file system was filled with
 * one pattern and emptied first, so every block a new file gets held old
 * bytes: a commit made durable before its data would show them. The
 * storm does the same with three threads writing, appending, truncating
 * and removing at once, and runs mmfsck -n on each copy: with metadata
 * in two replicas, a data write landing on a metadata block shows there.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FSM_FSID 80u
#define FSM_ADDR "127.0.9.73"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fsmount.h"

static const struct fs_cred root = {0, 0, 0, {0}, 022};

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 12));
	return p;
}

/* Armed: the next synchronous disk write (a log block) is copied into
 * <crash> with every disk, under disk_mu, right after it lands. */
static atomic_bool crash_armed;
static uint8_t *crash[NDISK];
static atomic_int crash_taken;

/* With crash_last, every log write while armed takes the copy again (the
 * last one before disarming stays). */
static atomic_bool crash_last;

static int crash_write(void *arg, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	int rc = dk_write(arg, d, off, buf, len);
	bool armed = true;

	if (rc == MM_OK && (atomic_load(&crash_last) ? atomic_load(&crash_armed)
		    : atomic_compare_exchange_strong(&crash_armed, &armed, false))) {
		pthread_mutex_lock(&disk_mu);
		for (int i = 0; i < NDISK; i++) {
			if (!crash[i])
				crash[i] = malloc(DISK_BYTES);
			if (crash[i])
				memcpy(crash[i], disk[i], DISK_BYTES);
		}
		pthread_mutex_unlock(&disk_mu);
		atomic_fetch_add(&crash_taken, 1);
	}
	return rc;
}

/* The running mount goes; the crash copy is mounted (its log replays). */
static fs_sg *crash_mount(fs_sg *sg, pp_pool *pool, pp_pool **cpool)
{
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	for (int i = 0; i < NDISK; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(crash[i]);
	*cpool = mk_pool(crash);
	return mount_on(crash, *cpool);
}

/* Unmount the crash copy, mmfsck -n of it, free it. */
static void crash_done(fs_sg *sg, pp_pool *pool)
{
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(crash);
	for (int i = 0; i < NDISK; i++) {
		free(crash[i]);
		crash[i] = NULL;
	}
}

/* Fill the file system with <old> and remove it all, durably: every
 * block allocated afterwards held those bytes. */
static void fill_and_empty(fs_sg *sg, const uint8_t *old)
{
	struct fs_attr a, d;
	fs_file *f;
	uint64_t off = 0;
	ssize_t n;

	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "old", 0644, O_RDWR, &a, &f), 0);
	while ((n = fs_write(sg, &root, f, old, 1u << 20, off)) > 0)
		off += (uint64_t)n;
	CU_ASSERT(off > 150ull << 20);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "old"), 0);
	/* the removal durable, so its space is free to take */
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, ".", &d), 0);
	CU_ASSERT_EQUAL(fs_open(sg, &root, FS_ROOT_INO, O_RDONLY | O_DIRECTORY, &f), 0);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	fs_release(sg, f);
	fs_forget(sg, d.ino, 1);
}

#define NNEW 24

/* New file i: its size, written in appends of a few sizes (in the inode,
 * fragments that grow and move, whole blocks, a block boundary crossed). */
static size_t new_len(int i)
{
	static const size_t len[] = {100, 3000, 5000, 70000, 65536, 200000, 131072 + 1};

	return len[i % 7] * (1 + (size_t)i / 7);
}

static void write_new(fs_sg *sg, const uint8_t *src, int i)
{
	struct fs_attr a;
	fs_file *f;
	char name[32];
	size_t len = new_len(i), step = i % 2 ? 1000 + (size_t)i * 97 : len;

	snprintf(name, sizeof(name), "new%d", i);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f), 0);
	for (size_t off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;

		CU_ASSERT_EQUAL(fs_write(sg, &root, f, src + off, k, off), (ssize_t)k);
	}
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
}

/* Read file <name> of the root whole into <buf> (<cap> bytes): its
 * length, or -1 when it is not there (*a: its attributes). */
static ssize_t read_named(fs_sg *sg, const char *name, uint8_t *buf, size_t cap,
			  struct fs_attr *a)
{
	fs_file *f;
	ssize_t n = -1;

	if (fs_lookup(sg, &root, FS_ROOT_INO, name, a) != 0)
		return -1;
	if (fs_open(sg, &root, a->ino, O_RDONLY, &f) == 0) {
		n = fs_read(sg, f, buf, cap, 0);
		CU_ASSERT_EQUAL(n, (ssize_t)a->size);
		fs_release(sg, f);
	} else {
		CU_FAIL("open of a file that is there");
	}
	fs_forget(sg, a->ino, 1);
	return n;
}

/* Mounted crash copy: each new file that is there holds only its own
 * bytes up to its size; *whole counts those at their full size. */
static void check_new(fs_sg *sg, const uint8_t *src, const uint8_t *old, int *whole)
{
	uint8_t *buf = malloc(1u << 20);

	*whole = 0;
	for (int i = 0; i < NNEW; i++) {
		struct fs_attr a;
		char name[32];
		ssize_t n;

		snprintf(name, sizeof(name), "new%d", i);
		n = read_named(sg, name, buf, 1u << 20, &a);
		if (n < 0)
			continue;
		CU_ASSERT(a.size <= new_len(i));
		if (n > 0 && memcmp(buf, src, (size_t)n) != 0) {
			size_t k = 0;

			while (buf[k] == src[k])
				k++;
			fprintf(stderr, "new%d (size %llu): byte %zu is %s\n", i,
				(unsigned long long)a.size, k,
				buf[k] == old[k % (1u << 20)] ? "the old file's" : "wrong");
			CU_FAIL("a file shows bytes it never held");
		}
		*whole += a.size == new_len(i);
	}
	free(buf);
}

/*
 * New files are written and not synced; then another file's fsync forces
 * the log, which holds their commits. The disks copied at the last log
 * write of that fsync must show every new file whole, with its own bytes.
 */
static void test_crash_at_log_write(void)
{
	uint8_t *old = pattern(1u << 20, 5), *src = pattern(1u << 20, 9);
	pp_pool *pool;
	fs_sg *sg;
	int whole = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_dio(disk, pool, crash_write);
	fill_and_empty(sg, old);
	for (int i = 0; i < NNEW; i++)
		write_new(sg, src, i);
	atomic_store(&crash_taken, 0);
	atomic_store(&crash_last, true);
	atomic_store(&crash_armed, true);
	{
		struct fs_attr a;
		fs_file *f;

		CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "sync", 0644, O_RDWR, &a,
						&f), 0);
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, "x", 1, 0), 1);
		CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
		fs_release(sg, f);
		fs_forget(sg, a.ino, 1);
	}
	atomic_store(&crash_armed, false);
	atomic_store(&crash_last, false);
	CU_ASSERT(atomic_load(&crash_taken) >= 1);
	sg = crash_mount(sg, pool, &pool);
	check_new(sg, src, old, &whole);
	/* every commit came before the fsync's: all of them are in it */
	CU_ASSERT_EQUAL(whole, NNEW);
	crash_done(sg, pool);
	free(old);
	free(src);
}

/* ---- a storm of writers, truncates and removals, crashed at a log write ----
 *
 * Each file's bytes are 16-byte records [id][offset][round]: a record
 * read back is all zeros (never written, or truncated away and grown
 * again) or names that file and that offset. Anything else is bytes the
 * file never held: another file's, or its own in the wrong place.
 */
#define REC 16
#define SNTHR 3
#define SNFILES 8		/* per thread */
#define SFILE_MAX (600u << 10)

struct storm {
	fs_sg *sg;
	int t;
	unsigned seed;
	atomic_bool *stop;
	unsigned ops;
};

static void rec_fill(uint8_t *b, uint32_t id, uint64_t off, size_t len)
{
	for (size_t k = 0; k < len; k += REC) {
		uint64_t o = off + k;

		memcpy(b + k, &id, 4);
		memcpy(b + k + 4, &o, 8);
		memset(b + k + 12, 0xa5, 4);
	}
}

static uint32_t rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void *storm_main(void *arg)
{
	struct storm *st = arg;
	uint8_t *b = malloc(256u << 10);

	while (!atomic_load(st->stop)) {
		uint32_t id = (uint32_t)(st->t * SNFILES + rnd(&st->seed) % SNFILES) + 1;
		uint32_t op = rnd(&st->seed) % 16;
		struct fs_attr a;
		fs_file *f;
		char name[32];

		snprintf(name, sizeof(name), "s%u", id);
		if (op == 0) {
			if (fs_unlink(st->sg, &root, FS_ROOT_INO, name) == 0)
				st->ops++;
			continue;
		}
		if (fs_create(st->sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f))
			continue;
		if (op < 3) {
			struct fs_setattr sa = {.mask = FS_SET_SIZE,
						.size = rnd(&st->seed) % SFILE_MAX / REC * REC};
			struct fs_attr out;

			(void)fs_setattr(st->sg, &root, a.ino, &sa, f, &out);
		} else {
			size_t len = (1 + rnd(&st->seed) % (op < 10 ? 400 : 16384)) * REC;
			uint64_t off = op < 8 ? a.size : rnd(&st->seed) % SFILE_MAX / REC * REC;

			if (len > 256u << 10)
				len = 256u << 10;
			if (off + len > SFILE_MAX)
				off = SFILE_MAX - len;
			rec_fill(b, id, off, len);
			(void)fs_write(st->sg, &root, f, b, len, off);
		}
		st->ops++;
		fs_release(st->sg, f);
		fs_forget(st->sg, a.ino, 1);
	}
	free(b);
	return NULL;
}

/* The crash copy, mounted: every record of every file is its own or zero. */
static int storm_check(fs_sg *sg)
{
	uint8_t *b = malloc(SFILE_MAX + REC);
	int bad = 0, files = 0;

	for (uint32_t id = 1; id <= SNTHR * SNFILES; id++) {
		static const uint8_t zero[REC];
		struct fs_attr a;
		char name[32];
		ssize_t n;

		snprintf(name, sizeof(name), "s%u", id);
		n = read_named(sg, name, b, SFILE_MAX + REC, &a);
		if (n < 0)
			continue;
		files++;
		for (ssize_t k = 0; k + REC <= n; k += REC) {
			uint32_t rid;
			uint64_t roff;

			if (!memcmp(b + k, zero, REC))
				continue;
			memcpy(&rid, b + k, 4);
			memcpy(&roff, b + k + 4, 8);
			if (rid != id || roff != (uint64_t)k) {
				if (bad++ < 5)
					fprintf(stderr, "s%u (inode %llu, size %llu): offset %zd holds "
						"file %u's offset %llu\n", id, (unsigned long long)a.ino,
						(unsigned long long)a.size, k, rid,
						(unsigned long long)roff);
				break;
			}
		}
	}
	free(b);
	CU_ASSERT(files > 0);
	return bad;
}

/*
 * Three threads write, append, truncate and remove files while the disks
 * are copied inside a log write, several times; each copy mounts with
 * every file's bytes its own, and mmfsck -n finds nothing (metadata kept
 * in two replicas, so a data write landing on a metadata block shows).
 */
static void test_storm_crash(void)
{
	uint8_t *old = pattern(1u << 20, 7);
	int rounds = 6;

	fsm_meta_rep = 2;
	for (int r = 0; r < rounds; r++) {
		atomic_bool stop = false;
		struct storm st[SNTHR];
		pthread_t th[SNTHR];
		pp_pool *pool;
		fs_sg *sg;
		unsigned ops = 0;

		fsm_mkfs(256u << 10);
		pool = mk_pool(disk);
		sg = mount_dio(disk, pool, crash_write);
		fill_and_empty(sg, old);
		atomic_store(&crash_taken, 0);
		for (int t = 0; t < SNTHR; t++) {
			st[t] = (struct storm){sg, t, 1000u * (unsigned)r + (unsigned)t, &stop, 0};
			CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, storm_main, &st[t]), 0);
		}
		usleep(100000 + 50000 * (unsigned)r);
		atomic_store(&crash_armed, true);
		for (int i = 0; i < 400 && !atomic_load(&crash_taken); i++)
			usleep(5000);
		usleep(20000);
		atomic_store(&stop, true);
		for (int t = 0; t < SNTHR; t++) {
			pthread_join(th[t], NULL);
			ops += st[t].ops;
		}
		atomic_store(&crash_armed, false);
		CU_ASSERT_EQUAL_FATAL(atomic_load(&crash_taken), 1);
		sg = crash_mount(sg, pool, &pool);
		CU_ASSERT_EQUAL(storm_check(sg), 0);
		crash_done(sg, pool);
		fprintf(stderr, "storm round %d: %u operations before the crash copy\n", r, ops);
	}
	fsm_meta_rep = 0;
	free(old);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("fs_order", fsm_setup, fsm_teardown);

	CU_add_test(s, "a crash at a log write: no file shows old bytes", test_crash_at_log_write);
	CU_add_test(s, "a storm crashed at log writes: every byte its file's", test_storm_crash);
}

MM_CUNIT_MAIN(register_tests)
