/*
 * tests/unit/test_fs_order.c - ordered data (fs/README.md, "Ordered
 * data"): writes commit without waiting for their data, and a crash at
 * any log write never shows a file bytes it never held.
 *
 * The crash is a copy of the disks taken inside a log write, the instant
 * it lands (the log is written through the mount's synchronous disk I/O,
 * file blocks through the pagepool's). The file system was filled with
 * one pattern and emptied first, so every block a new file gets held old
 * bytes: a commit made durable before its data would show them.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FSM_FSID 80u
#define FSM_ADDR "127.0.9.73"
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

static int crash_write(void *arg, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	int rc = dk_write(arg, d, off, buf, len);
	bool armed = true;

	if (rc == MM_OK && atomic_compare_exchange_strong(&crash_armed, &armed, false)) {
		pthread_mutex_lock(&disk_mu);
		for (int i = 0; i < NDISK; i++)
			if ((crash[i] = malloc(DISK_BYTES)))
				memcpy(crash[i], disk[i], DISK_BYTES);
		pthread_mutex_unlock(&disk_mu);
		atomic_fetch_add(&crash_taken, 1);
	}
	return rc;
}

static fs_sg *mount_crashable(pp_pool *pool)
{
	struct fs_mount_params mp = {.device = "fs1", .fsid = FSID, .ndisks = NDISK,
				     .dio = {dk_read, crash_write, disk}, .pool = pool, .tok = tn,
				     .node = NODE, .token_timeout_ms = 10000};
	fs_sg *sg = NULL;
	char err[512] = "";
	int rc = fs_sg_mount(&mp, &sg, err, sizeof(err));

	if (rc)
		fprintf(stderr, "mount: %s (%d)\n", err, rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return sg;
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

/* Mounted crash copy: each new file that is there holds only its own
 * bytes up to its size; *whole counts those at their full size. */
static void check_new(fs_sg *sg, const uint8_t *src, const uint8_t *old, int *whole)
{
	uint8_t *buf = malloc(1u << 20);

	*whole = 0;
	for (int i = 0; i < NNEW; i++) {
		struct fs_attr a;
		fs_file *f;
		char name[32];
		ssize_t n;

		snprintf(name, sizeof(name), "new%d", i);
		if (fs_lookup(sg, &root, FS_ROOT_INO, name, &a) != 0)
			continue;
		CU_ASSERT(a.size <= new_len(i));
		if (fs_open(sg, &root, a.ino, O_RDONLY, &f) == 0) {
			n = fs_read(sg, f, buf, 1u << 20, 0);
			CU_ASSERT_EQUAL(n, (ssize_t)a.size);
			if (n > 0 && memcmp(buf, src, (size_t)n) != 0) {
				size_t k = 0;

				while (buf[k] == src[k])
					k++;
				fprintf(stderr, "new%d (size %llu): byte %zu is %s\n", i,
					(unsigned long long)a.size, k,
					buf[k] == old[k % (1u << 20)] ? "the old file's" : "wrong");
				CU_FAIL("a file shows bytes it never held");
			}
			fs_release(sg, f);
		}
		*whole += a.size == new_len(i);
		fs_forget(sg, a.ino, 1);
	}
	free(buf);
}

/*
 * New files are written and not synced; then another file's fsync forces
 * the log, which holds their commits. The disks copied at that log write
 * must show every new file whole, with its own bytes.
 */
static void test_crash_at_log_write(void)
{
	uint8_t *old = pattern(1u << 20, 5), *src = pattern(1u << 20, 9);
	pp_pool *pool;
	fs_sg *sg;
	int whole = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_crashable(pool);
	fill_and_empty(sg, old);
	for (int i = 0; i < NNEW; i++)
		write_new(sg, src, i);
	atomic_store(&crash_taken, 0);
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
	CU_ASSERT_EQUAL(atomic_load(&crash_taken), 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	for (int i = 0; i < NDISK; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(crash[i]);
	pool = mk_pool(crash);
	sg = mount_on(crash, pool);
	check_new(sg, src, old, &whole);
	/* every commit came before the fsync's: all of them are in it */
	CU_ASSERT_EQUAL(whole, NNEW);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(crash);
	for (int i = 0; i < NDISK; i++) {
		free(crash[i]);
		crash[i] = NULL;
	}
	free(old);
	free(src);
}

int main(int argc, char **argv)
{
	CU_pSuite s;

	(void)argc;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fs_order", fsm_setup, fsm_teardown);
	CU_add_test(s, "a crash at a log write: no file shows old bytes", test_crash_at_log_write);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		/* the line tests/check adds up (cunit_main.h's) */
		unsigned run = CU_get_number_of_tests_run(), failed = CU_get_number_of_tests_failed();
		unsigned f = failed + CU_get_number_of_suites_failed();

		printf("unit %s: %u passed, %u failed\n", argv[0], run - failed, f);
		CU_cleanup_registry();
		return f ? 1 : 0;
	}
}
