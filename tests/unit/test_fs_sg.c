/*
 * tests/unit/test_fs_sg.c - a mounted stripe group (fs/fs.h) on memory
 * disks: a real pagepool, real tokens over loopback (one node serving
 * its own space), the log. Names, data, sparse files, growth of
 * directories into blocks, remount, and a crash (a snapshot of the disks
 * taken after fsync, mounted on its own: the log replays).
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FSM_FSID 77u
#define FSM_ADDR "127.0.9.70"
#include "tests/unit/fsmount.h"
#include "tests/unit/fsfiles.h"
#include "tests/unit/testkit.h"

static void run_basic(uint32_t bsize)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, d1;
	uint8_t *small = pattern(1000, 1), *mid = pattern(3 * bsize + 123, 2),
		*big = pattern(2u << 20, 3);
	fs_file *f;
	char name[64];
	struct fs_statfs st;

	fsm_mkfs(bsize);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	mkfile(sg, FS_ROOT_INO, "small", small, 1000);
	mkfile(sg, FS_ROOT_INO, "mid", mid, 3 * bsize + 123);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d1", 0755, &d1), 0);
	mkfile(sg, d1.ino, "big", big, 2u << 20);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d1", 0755, &a), -EEXIST);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "nope", &a), -ENOENT);
	/* a directory that grows into blocks and splits */
	for (int i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "file-with-a-longer-name-%05d", i);
		mkfile(sg, d1.ino, name, name, strlen(name));
	}
	CU_ASSERT_EQUAL(count_dir(sg, d1.ino), 2501);
	CU_ASSERT_EQUAL(fs_getattr(sg, FS_ROOT_INO, &a), 0);
	CU_ASSERT_EQUAL(a.nlink, 3);
	/* sparse: a byte far out, holes read as zeros */
	{
		struct fs_attr sa;
		uint8_t b = 0x5a, buf[4096];

		CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "sparse", 0644, O_RDWR, &sa, &f), 0);
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, &b, 1, (5ull << 30) + 7), 1);
		CU_ASSERT_EQUAL(fs_read(sg, f, buf, sizeof(buf), 1ull << 30), (ssize_t)sizeof(buf));
		CU_ASSERT_EQUAL(buf[0] | buf[4095], 0);
		CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_DATA), (int64_t)((5ull << 30) / bsize * bsize));
		CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_HOLE), 0);
		fs_release(sg, f);
		fs_forget(sg, sa.ino, 1);
	}
	/* rename, link, unlink, rmdir, symlink */
	CU_ASSERT_EQUAL(fs_rename(sg, &root, FS_ROOT_INO, "small", d1.ino, "small2", 0), 0);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "small", &a), -ENOENT);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, d1.ino, "small2", &a), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_link(sg, &root, a.ino, FS_ROOT_INO, "hard", &a), 0);
	CU_ASSERT_EQUAL(a.nlink, 2);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, "sl", "d1/small2", &a), 0);
	fs_forget(sg, a.ino, 1);
	/* targets past the inode's tail area (2896 bytes), up to PATH_MAX - 1 */
	{
		static char tgt[PATH_MAX + 1], back[PATH_MAX + 1];
		static const size_t lens[] = {2896, 2897, 4000, PATH_MAX - 1};

		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			char nm[16];

			for (size_t i = 0; i < lens[k]; i++)
				tgt[i] = (char)('a' + (i * 7 + k) % 26);
			tgt[lens[k]] = '\0';
			snprintf(nm, sizeof(nm), "long%zu", k);
			CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, nm, tgt, &a), 0);
			CU_ASSERT_EQUAL(a.size, lens[k]);
			memset(back, 0, sizeof(back));
			CU_ASSERT_EQUAL(fs_readlink(sg, a.ino, back, PATH_MAX), (ssize_t)lens[k]);
			CU_ASSERT_EQUAL(memcmp(back, tgt, lens[k]), 0);
			CU_ASSERT_EQUAL(fs_readlink(sg, a.ino, back, lens[k] - 1), -ERANGE);
			fs_forget(sg, a.ino, 1);
		}
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "long2"), 0);
		memset(tgt, 'x', PATH_MAX);
		tgt[PATH_MAX] = '\0';
		CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, "toolong", tgt, &a), -ENAMETOOLONG);
	}
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, FS_ROOT_INO, "d1"), -ENOTEMPTY);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, d1.ino, "sub", 0700, &a), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_rename(sg, &root, d1.ino, "sub", FS_ROOT_INO, "sub", 0), 0);
	CU_ASSERT_EQUAL(fs_rename(sg, &root, FS_ROOT_INO, "d1", d1.ino, "x", 0), -EINVAL);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "sub", &a), 0);
	fs_forget(sg, a.ino, 1);
	{
		struct fs_attr p;

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, a.ino, "..", &p), 0);
		CU_ASSERT_EQUAL(p.ino, FS_ROOT_INO);
		fs_forget(sg, p.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, FS_ROOT_INO, "sub"), 0);
	fs_forget(sg, d1.ino, 1);
	CU_ASSERT_EQUAL(fs_statfs(sg, &st), 0);
	CU_ASSERT(st.bfree < st.blocks);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);

	/* remount: everything is there */
	sg = mount_on(disk, pool);
	check_file(sg, FS_ROOT_INO, "mid", mid, 3 * bsize + 123);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "d1", &d1), 0);
	check_file(sg, d1.ino, "big", big, 2u << 20);
	check_file(sg, d1.ino, "small2", small, 1000);
	check_file(sg, FS_ROOT_INO, "hard", small, 1000);
	snprintf(name, sizeof(name), "file-with-a-longer-name-%05d", 1234);
	check_file(sg, d1.ino, name, (const uint8_t *)name, strlen(name));
	CU_ASSERT_EQUAL(count_dir(sg, d1.ino), 2502);
	{
		char t[64];

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "sl", &a), 0);
		CU_ASSERT_EQUAL(fs_readlink(sg, a.ino, t, sizeof(t)), 9);
		CU_ASSERT(!memcmp(t, "d1/small2", 9));
		fs_forget(sg, a.ino, 1);
	}
	/* truncate down and up: zeros past the old end */
	{
		struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 100};
		uint8_t buf[300];

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "mid", &a), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
		sa.size = 300;
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
		CU_ASSERT_EQUAL(fs_open(sg, &root, a.ino, O_RDONLY, &f), 0);
		CU_ASSERT_EQUAL(fs_read(sg, f, buf, 300, 0), 300);
		CU_ASSERT(!memcmp(buf, mid, 100));
		for (int i = 100; i < 300; i++)
			CU_ASSERT_EQUAL_FATAL(buf[i], 0);
		fs_release(sg, f);
		fs_forget(sg, a.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "mid"), 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	free(small);
	free(mid);
	free(big);
}

static void test_basic_64k(void)
{
	run_basic(64u << 10);
}

static void test_basic_256k(void)
{
	run_basic(256u << 10);
}

/* A few files with 1 MiB blocks: their records are in the inode file's
 * first block, past its first metadata block, and fsck must count them;
 * one disk is dataOnly, which no metadata (the log) may use. */
static void test_few_files_big_blocks(void)
{
	pp_pool *pool;
	fs_sg *sg;

	/* and a dataOnly disk: the log, a metadata file, must stay off it */
	fsm_last_data_only = true;
	fsm_mkfs(1u << 20);
	fsm_last_data_only = false;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		mkfile(sg, FS_ROOT_INO, name, name, strlen(name));
	}
	/* files written as cp writes them, 128 KiB at a time (fragments
	 * growing run by run), then all removed: nothing may stay allocated */
	{
		uint8_t *chunk = pattern(128u << 10, 31);

		for (int i = 0; i < 12; i++) {
			char name[16];
			struct fs_attr a;
			fs_file *f;
			uint64_t size = (uint64_t)(i * 173 + 7) * 3001 % (3u << 20);

			snprintf(name, sizeof(name), "c%d", i);
			CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f), 0);
			for (uint64_t off = 0; off < size; off += 128u << 10) {
				size_t n = size - off < (128u << 10) ? (size_t)(size - off) : 128u << 10;

				CU_ASSERT_EQUAL(fs_write(sg, &root, f, chunk, n, off), (ssize_t)n);
			}
			fs_release(sg, f);
			fs_forget(sg, a.ino, 1);
		}
		for (int i = 0; i < 12; i++) {
			char name[16];

			snprintf(name, sizeof(name), "c%d", i);
			CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, name), 0);
		}
		free(chunk);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* After a remount of crash copy <snap>: unmount, mmfsck -n of the copy,
 * free it. */
static void snap_done(fs_sg *sg, pp_pool *pool, uint8_t *snap[NDISK])
{
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(snap);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
}

/* A crash: the disks as they are right after an fsync, with the daemon
 * still running, mount on their own and show every fsynced byte. */
static void test_crash_replay(void)
{
	pp_pool *pool, *pool2;
	fs_sg *sg;
	struct fs_attr a, g;
	fs_file *f, *gf;
	uint8_t *data = pattern(700000, 9), *snap[NDISK];
	char name[32];

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		mkfile(sg, FS_ROOT_INO, name, data + i, 1000 + (size_t)i * 3000);
	}
	/* a file unlinked while open and still open at the crash: an
	 * orphan, freed by the mount after the crash (mount_on's unmount
	 * then finds it free: fsck_clean counts no orphan nor leak) */
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "gone", 0644, O_RDWR, &g, &gf), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, gf, data, 300000, 0), 300000);
	CU_ASSERT_EQUAL(fs_fsync(sg, gf, false), 0);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "gone"), 0);
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "synced", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 700000, 0), 700000);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	fsm_snapshot(snap);
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	fs_release(sg, gf);
	fs_forget(sg, g.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);

	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	check_file(sg, FS_ROOT_INO, "synced", data, 700000);
	for (int i = 0; i < 200; i += 17) {
		snprintf(name, sizeof(name), "f%d", i);
		check_file(sg, FS_ROOT_INO, name, data + i, 1000 + (size_t)i * 3000);
	}
	CU_ASSERT_EQUAL(count_dir(sg, FS_ROOT_INO), 201);
	CU_ASSERT_EQUAL(fs_getattr(sg, g.ino, &a), -ESTALE);	/* freed */
	snap_done(sg, pool2, snap);
	free(data);
}

/* fsync of the root directory: the whole log durable to here */
static void fsync_root(fs_sg *sg)
{
	fs_file *dir;

	CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, FS_ROOT_INO, O_RDONLY | O_DIRECTORY, &dir), 0);
	CU_ASSERT_EQUAL(fs_fsync(sg, dir, false), 0);
	fs_release(sg, dir);
}

/* A crash now (the log durable, the disks copied to <snap>), then the
 * mount goes with its pool: a pool of 4 MiB over the copy, for the
 * remount. */
static pp_pool *crash_small_pool(fs_sg *sg, pp_pool *pool, uint8_t *snap[NDISK])
{
	fsync_root(sg);
	fsm_snapshot(snap);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool_bytes = 4u << 20;
	pool = mk_pool(snap);
	pool_bytes = FSM_POOL_BYTES;
	return pool;
}

/*
 * A crash after changes that touch more metadata blocks than the next
 * mount's pagepool can hold dirty: a chmod of each of 4,000 files dirties
 * 250 inode blocks of 64 KiB, and the remount's pool of 4 MiB lets 32 be
 * dirty. The replay must write as it goes (it used to wait for room that
 * the paused write-behind never made: the mount hung).
 */
static void test_replay_past_pool(void)
{
	enum { NF = 4000 };
	pp_pool *pool;
	fs_sg *sg;
	uint8_t *snap[NDISK];
	char name[32];

	fsm_log_bytes = 32u << 20;	/* no checkpoint among the chmods */
	fsm_mkfs(64u << 10);
	fsm_log_bytes = 0;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < NF; i++) {
		struct fs_attr a;
		fs_file *f;

		snprintf(name, sizeof(name), "c%d", i);
		CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f), 0);
		fs_release(sg, f);
		fs_forget(sg, a.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);	/* a clean log */
	sg = mount_on(disk, pool);
	for (int i = 0; i < NF; i++) {
		struct fs_attr a;
		struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 0600};

		snprintf(name, sizeof(name), "c%d", i);
		CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, FS_ROOT_INO, name, &a), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
		fs_forget(sg, a.ino, 1);
	}
	pool = crash_small_pool(sg, pool, snap);
	wd_arm("replay past the pool", 120);
	sg = mount_on(snap, pool);
	wd_disarm();
	for (int i = 0; i < NF; i++) {
		struct fs_attr a;

		snprintf(name, sizeof(name), "c%d", i);
		if (fs_lookup(sg, &root, FS_ROOT_INO, name, &a) != 0) {
			CU_FAIL("a file is missing after the replay");
			break;
		}
		if ((a.mode & 07777) != 0600) {
			fprintf(stderr, "%s: mode %o after the replay\n", name, a.mode & 07777);
			CU_FAIL("a chmod is missing after the replay");
			fs_forget(sg, a.ino, 1);
			break;
		}
		fs_forget(sg, a.ino, 1);
	}
	snap_done(sg, pool, snap);
}

/*
 * A crash after 15 files made in each of 100 directories: 100 directory
 * blocks the replay must hold dirty to its end (their addresses may be
 * freed later in a log). A 4 MiB pool cannot: the mount fails with a
 * message saying to raise pagepool, and writes nothing; a 64 MiB one then
 * mounts and finds every file.
 */
static void test_replay_too_big(void)
{
	enum { ND = 100 };
	pp_pool *pool;
	fs_sg *sg;
	uint8_t *snap[NDISK];
	char name[32];
	struct fs_mount_params mp = {.device = "fs1", .fsid = FSID, .ndisks = NDISK,
				     .dio = {dk_read, dk_write, snap}, .tok = tn, .node = NODE,
				     .token_timeout_ms = 10000};
	char err[512] = "";
	uint64_t ino[ND];

	fsm_log_bytes = 32u << 20;
	fsm_mkfs(64u << 10);
	fsm_log_bytes = 0;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < ND; i++) {
		struct fs_attr d;

		snprintf(name, sizeof(name), "d%d", i);
		CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, name, 0755, &d), 0);
		ino[i] = mkfile(sg, d.ino, "f", name, strlen(name));
		/* past what the inode holds (2,896 bytes): a block */
		for (int k = 0; k < 14; k++) {
			char lng[256];

			snprintf(lng, sizeof(lng), "%0200d", k);
			mkfile(sg, d.ino, lng, NULL, 0);
		}
		fs_forget(sg, d.ino, 1);
	}
	pool = crash_small_pool(sg, pool, snap);
	mp.pool = pool;
	wd_arm("replay too big for the pool", 120);
	sg = NULL;
	{
		int rc = fs_sg_mount(&mp, &sg, err, sizeof(err));

		wd_disarm();
		fprintf(stderr, "mount with a 4 MiB pool: %d: %s\n", rc, err);
		CU_ASSERT_NOT_EQUAL(rc, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "raise pagepool"));
	}
	CU_ASSERT_PTR_NULL(sg);
	pp_pool_destroy(pool);

	pool = mk_pool(snap);
	sg = mount_on(snap, pool);
	for (int i = 0; i < ND; i++) {
		struct fs_attr d, a;

		snprintf(name, sizeof(name), "d%d", i);
		if (fs_lookup(sg, &root, FS_ROOT_INO, name, &d) != 0) {
			CU_FAIL("a directory is missing after the replay");
			break;
		}
		CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, "f", &a), 0);
		CU_ASSERT_EQUAL(a.ino, ino[i]);
		fs_forget(sg, a.ino, 1);
		fs_forget(sg, d.ino, 1);
	}
	snap_done(sg, pool, snap);
}

/* A crash after a directory grew, emptied and went, and a big file's
 * indirect blocks were freed, all in the log's span: the replay dirties
 * blocks that its end no longer maps, and the mount still succeeds. */
static void test_crash_freed_meta(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr d, a;
	uint8_t *snap[NDISK], *data = pattern(1u << 20, 3);
	char name[64];

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d", 0755, &d), 0);
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "a-rather-long-name-to-fill-blocks-%d", i);
		mkfile(sg, d.ino, name, data, 100);
	}
	/* a file with indirect blocks (64 KiB blocks: past the direct ones) */
	mkfile(sg, FS_ROOT_INO, "big", data, 1u << 20);
	{
		struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 1u << 20};

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "big", &a), 0);
		for (int k = 0; k < 20; k++) {
			fs_file *f;

			sa.size = (k % 2) ? (1u << 20) : 0;
			CU_ASSERT_EQUAL(fs_open(sg, &root, a.ino, O_RDWR, &f), 0);
			if (sa.size) {
				CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 1u << 20, 64ull << 20),
						1 << 20);
			} else {
				CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, f, &a), 0);
			}
			CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
			fs_release(sg, f);
		}
		fs_forget(sg, a.ino, 1);
	}
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "a-rather-long-name-to-fill-blocks-%d", i);
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, d.ino, name), 0);
	}
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, FS_ROOT_INO, "d"), 0);
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "big"), 0);
	fsync_root(sg);
	fsm_snapshot(snap);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool = mk_pool(snap);
	sg = mount_on(snap, pool);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "d", &a), -ENOENT);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "big", &a), -ENOENT);
	snap_done(sg, pool, snap);
	free(data);
}

/*
 * readdirplus of a directory while it is renamed back and forth in its
 * parent: rename takes the parent's token then the moved directory's;
 * readdir held the directory's and looked ".." up, taking the parent's:
 * both waited for ever (a stress run hung every caller in seconds).
 */
struct rr_arg {
	fs_sg *sg;
	uint64_t parent;
	atomic_bool stop;
	int bad;
};

static void *rr_renamer(void *arg)
{
	struct rr_arg *r = arg;

	for (int i = 0; !atomic_load(&r->stop); i++)
		if (fs_rename(r->sg, &root, r->parent, i % 2 ? "b" : "a", r->parent,
			      i % 2 ? "a" : "b", 0))
			r->bad++;
	return NULL;
}

static int rr_plus_fn(void *arg, const char *name, uint64_t ino, uint8_t type, uint64_t cookie,
		      const struct fs_attr *attr)
{
	struct rr_arg *r = arg;

	(void)name, (void)ino, (void)type, (void)cookie;
	if (attr)
		fs_forget(r->sg, attr->ino, 1);
	return 0;
}

static void test_readdir_rename(void)
{
	pp_pool *pool;
	struct rr_arg r = {0};
	struct fs_attr p, a;
	fs_file *f;
	pthread_t th;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	r.sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(r.sg, &root, FS_ROOT_INO, "p", 0755, &p), 0);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(r.sg, &root, p.ino, "a", 0755, &a), 0);
	mkfile(r.sg, a.ino, "x", "x", 1);
	r.parent = p.ino;
	CU_ASSERT_EQUAL_FATAL(fs_open(r.sg, &root, a.ino, O_RDONLY | O_DIRECTORY, &f), 0);
	wd_arm("readdir while renamed", 60);
	pthread_create(&th, NULL, rr_renamer, &r);
	for (int i = 0; i < 3000; i++)
		if (fs_readdir(r.sg, f, 0, true, rr_plus_fn, &r))
			r.bad++;
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	wd_disarm();
	CU_ASSERT_EQUAL(r.bad, 0);
	fs_release(r.sg, f);
	fs_forget(r.sg, a.ino, 1);
	fs_forget(r.sg, p.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(r.sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* fallocate: zeros allocated and the size extended; punching frees
 * whole blocks and zeroes the edges; fsck agrees afterwards. */
static void test_fallocate(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, b;
	fs_file *f;
	uint32_t bs = 64u << 10;
	uint8_t *data = pattern(10 * bs, 5), *buf = malloc(10 * bs);

	fsm_mkfs(bs);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "fa", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, "abc", 3, 0), 3);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0, 0, 3 * bs + 100), 0);
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &b), 0);
	CU_ASSERT_EQUAL(b.size, 3 * bs + 100);
	CU_ASSERT(b.blocks >= (3 * bs + 100) / 512);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, 4 * bs, 0), 3 * bs + 100);
	CU_ASSERT(!memcmp(buf, "abc", 3));
	for (uint32_t i = 3; i < 3 * bs + 100; i++)
		if (buf[i]) {
			CU_FAIL("fallocate: not zero");
			break;
		}
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 10 * bs, 0), (ssize_t)(10 * bs));
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0x02 | 0x01, bs + 10, 3 * bs), 0);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, 10 * bs, 0), (ssize_t)(10 * bs));
	CU_ASSERT(!memcmp(buf, data, bs + 10));
	for (uint32_t i = bs + 10; i < 4 * bs + 10; i++)
		if (buf[i]) {
			fprintf(stderr, "punch: byte %u is %u\n", i, buf[i]);
			CU_FAIL("punch: not zero");
			break;
		}
	CU_ASSERT(!memcmp(buf + 4 * bs + 10, data + 4 * bs + 10, 6 * bs - 10));
	CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_HOLE), (int64_t)(2 * bs));
	CU_ASSERT_EQUAL(fs_lseek(sg, f, 2 * bs, SEEK_DATA), (int64_t)(4 * bs));
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &b), 0);
	CU_ASSERT_EQUAL(b.blocks, 8ull * bs / 512);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0x08, 0, bs), -EOPNOTSUPP);
	/* ZERO_RANGE: zeros over data and over the hole punched above, the
	 * edges kept, the range allocated again; without KEEP_SIZE the size
	 * grows (with it past the end: test_fs_vn) */
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 10 * bs, 0), (ssize_t)(10 * bs));
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0x02 | 0x01, 2 * bs, bs), 0);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0x10 | 0x01, bs + 7, 3 * bs), 0);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, 10 * bs, 0), (ssize_t)(10 * bs));
	CU_ASSERT(!memcmp(buf, data, bs + 7));
	for (uint32_t i = bs + 7; i < 4 * bs + 7; i++)
		if (buf[i]) {
			CU_FAIL("zero range: not zero");
			break;
		}
	CU_ASSERT(!memcmp(buf + 4 * bs + 7, data + 4 * bs + 7, 6 * bs - 7));
	CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_HOLE), (int64_t)(10 * bs));	/* allocated */
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0x10, 9 * bs + 5, 2 * bs), 0);
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &b), 0);
	CU_ASSERT_EQUAL(b.size, 11 * bs + 5);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, 10 * bs, 2 * bs), (ssize_t)(9 * bs + 5));
	CU_ASSERT(!memcmp(buf + 2 * bs + 7, data + 4 * bs + 7, 5 * bs - 2));
	for (uint32_t i = 7 * bs + 5; i < 9 * bs + 5; i++)
		if (buf[i]) {
			CU_FAIL("zero range past the end: not zero");
			break;
		}
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	/* far past the end of a file whose last block is a fragment: that
	 * block becomes whole, the range gets its block, nothing between
	 * (stress-ng fsize: a walk over every block between hung here) */
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "far", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 5000, 0), 5000);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0, 1ull << 54, 1), 0);
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &b), 0);
	CU_ASSERT_EQUAL(b.size, (1ull << 54) + 1);
	/* a whole block, a 1-subblock fragment, and the indirect blocks
	 * that reach 2^54 (nothing filled between) */
	CU_ASSERT(b.blocks >= (bs + bs / 16) / 512 && b.blocks < 8ull * bs / 512);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, 2 * bs, 0), (ssize_t)(2 * bs));
	CU_ASSERT(!memcmp(buf, data, 5000));
	CU_ASSERT_EQUAL(buf[5000], 0);
	CU_ASSERT_EQUAL(buf[2 * bs - 1], 0);
	CU_ASSERT_EQUAL(fs_lseek(sg, f, bs, SEEK_DATA), (int64_t)((1ull << 54) / bs * bs));
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	free(data);
	free(buf);
}

/* Threads at once: each makes, writes, renames and removes files in a
 * directory of its own and in a shared one, while another appends to one
 * file that the others read; everything checked afterwards, and fsck. */
#define NTHR 4
#define NITER 150

#define TERR(t, what, rc) do { (t)->errors++; if ((t)->errors < 4) fprintf(stderr, "thread %d iter %d: %s: %d\n", (t)->id, i, what, (int)(rc)); } while (0)

struct thr {
	fs_sg *sg;
	int id;
	uint64_t dir, shared, log_ino;
	int errors;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	char name[64], name2[64];
	uint8_t buf[20000], rb[20000];
	struct fs_attr a;
	fs_file *f;

	for (int i = 0; i < NITER; i++) {
		size_t len = (size_t)(i * 997 + t->id * 131) % sizeof(buf);

		memset(buf, 'a' + t->id, len);
		snprintf(name, sizeof(name), "t%d-%d", t->id, i);
		int rc = fs_create(t->sg, &root, i % 2 ? t->shared : t->dir, name, 0644, O_RDWR, &a, &f);
		ssize_t nn;

		if (rc) {
			TERR(t, "create", rc);
			continue;
		}
		if ((nn = fs_write(t->sg, &root, f, buf, len, 0)) != (ssize_t)len)
			TERR(t, "write", nn);
		if ((nn = fs_read(t->sg, f, rb, sizeof(rb), 0)) != (ssize_t)len || memcmp(rb, buf, len))
			TERR(t, "read", nn);
		fs_release(t->sg, f);
		fs_forget(t->sg, a.ino, 1);
		if (i % 3 == 0) {
			snprintf(name2, sizeof(name2), "r%d-%d", t->id, i);
			if ((rc = fs_rename(t->sg, &root, i % 2 ? t->shared : t->dir, name, t->shared,
					    name2, 0)))
				TERR(t, "rename", rc);
		} else if (i % 3 == 1) {
			if ((rc = fs_unlink(t->sg, &root, i % 2 ? t->shared : t->dir, name)))
				TERR(t, "unlink", rc);
		}
		/* the shared log: an append, then a read of some of it */
		if (fs_open(t->sg, &root, t->log_ino, O_RDWR | O_APPEND, &f) == 0) {
			char line[32];
			int n = snprintf(line, sizeof(line), "%d:%04d\n", t->id, i);

			ssize_t w;

			if ((w = fs_write(t->sg, &root, f, line, (size_t)n, 0)) != n)
				TERR(t, "append", w);
			if ((w = fs_read(t->sg, f, rb, 4096, (uint64_t)i * 7)) < 0)
				TERR(t, "read log", w);
			fs_release(t->sg, f);
		} else {
			TERR(t, "open log", -1);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, sh, lg;
	struct thr t[NTHR];
	pthread_t th[NTHR];
	char name[32];
	int total = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "shared", 0755, &sh), 0);
	lg.ino = mkfile(sg, FS_ROOT_INO, "log", NULL, 0);
	for (int i = 0; i < NTHR; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, name, 0755, &a), 0);
		t[i] = (struct thr){sg, i, a.ino, sh.ino, lg.ino, 0};
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (int i = 0; i < NTHR; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(t[i].errors, 0);
		total += count_dir(sg, t[i].dir);
		fs_forget(sg, t[i].dir, 1);
	}
	/* per thread: i % 3 == 2 stays where made; i % 3 == 0 moved to shared */
	{
		int mine = 0, moved = 0;

		for (int i = 0; i < NITER; i++) {
			if (i % 3 == 2 && i % 2 == 0)
				mine++;
			if (i % 3 == 0 || (i % 3 == 2 && i % 2))
				moved++;
		}
		CU_ASSERT_EQUAL(total, NTHR * mine);
		CU_ASSERT_EQUAL(count_dir(sg, sh.ino), NTHR * moved);
	}
	CU_ASSERT_EQUAL(fs_getattr(sg, lg.ino, &a), 0);
	CU_ASSERT_EQUAL(a.size, (uint64_t)NTHR * NITER * 7);
	fs_forget(sg, sh.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* A full file system: ENOSPC, nothing written before it lost, space back
 * after an unlink. */
static void test_enospc(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a;
	fs_file *f;
	uint8_t *chunk = pattern(1u << 20, 11), *rb = malloc(1u << 20);
	uint64_t off = 0;
	ssize_t n = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "big", 0644, O_RDWR, &a, &f), 0);
	while ((n = fs_write(sg, &root, f, chunk, 1u << 20, off)) == (ssize_t)(1u << 20))
		off += (uint64_t)n;
	if (n > 0)
		off += (uint64_t)n;
	CU_ASSERT(off > 100ull << 20);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, chunk, 1u << 20, off), -ENOSPC);
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &a), 0);
	CU_ASSERT_EQUAL(a.size, off);
	{
		/* df: the metadata reserve is free but not available to data
		 * (ext4 leaves its reserve out of f_bavail too) */
		struct fs_statfs st;

		CU_ASSERT_EQUAL(fs_statfs(sg, &st), 0);
		if (st.bavail * st.frsize >= (64u << 10))
			fprintf(stderr, "full: bfree %llu bavail %llu (x %u bytes)\n",
				(unsigned long long)st.bfree, (unsigned long long)st.bavail,
				(unsigned)st.frsize);
		CU_ASSERT(st.bavail * st.frsize < (64u << 10));
		CU_ASSERT(st.bfree * st.frsize >= (1u << 20));
	}
	for (uint64_t p = 0; p + (1u << 20) <= off; p += 7ull << 20) {
		CU_ASSERT_EQUAL(fs_read(sg, f, rb, 1u << 20, p), (ssize_t)(1u << 20));
		CU_ASSERT(!memcmp(rb, chunk, 1u << 20));
	}
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "big"), 0);
	mkfile(sg, FS_ROOT_INO, "after", chunk, 1u << 20);
	check_file(sg, FS_ROOT_INO, "after", chunk, 1u << 20);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	free(chunk);
	free(rb);
}

/*
 * Every Nth disk write fails: operations fail with a clear error, and
 * every file whose fsync succeeded reads back after a remount on good
 * disks (the log replays), with fsck clean.
 */
static void test_faults(void)
{
	static const unsigned every[] = {7, 13, 31, 97};
	uint8_t *data = pattern(300000, 13);

	for (size_t k = 0; k < sizeof(every) / sizeof(every[0]); k++) {
		pp_pool *pool;
		fs_sg *sg;
		bool synced[60] = {false};
		size_t len[60];
		char name[32];
		int nsynced = 0, nerr = 0;

		fsm_mkfs(64u << 10);
		pool = mk_pool(disk);
		sg = mount_on(disk, pool);
		atomic_store(&nwrites, 0);
		atomic_store(&fail_every, every[k]);
		for (int i = 0; i < 60; i++) {
			struct fs_attr a;
			fs_file *f;

			len[i] = (size_t)(i * 4999) % 300000;
			snprintf(name, sizeof(name), "f%d", i);
			if (fs_create(sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f)) {
				nerr++;
				continue;
			}
			if (fs_write(sg, &root, f, data + i, len[i], 0) == (ssize_t)len[i] &&
			    fs_fsync(sg, f, false) == 0) {
				synced[i] = true;
				nsynced++;
			} else {
				nerr++;
			}
			fs_release(sg, f);
			fs_forget(sg, a.ino, 1);
		}
		fs_sg_unmount(sg, true);
		pp_pool_destroy(pool);
		atomic_store(&fail_every, 0);
		CU_ASSERT(nerr > 0);
		pool = mk_pool(disk);
		sg = mount_on(disk, pool);
		for (int i = 0; i < 60; i++)
			if (synced[i]) {
				snprintf(name, sizeof(name), "f%d", i);
				check_file(sg, FS_ROOT_INO, name, data + i, len[i]);
			}
		CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
		pp_pool_destroy(pool);
		fsck_clean(disk);
		fprintf(stderr, "faults every %u writes: %d fsynced, %d failed\n", every[k], nsynced,
			nerr);
	}
	free(data);
}

/*
 * Metadata write-back fails while the log's writes land: the change is in
 * the log only, so no checkpoint may move the tail past it and no new
 * change may begin (a buffer marked clean could be read back stale).
 * Creates go on until the log is full and wants a checkpoint: from then
 * on EIO; remounted, every create that succeeded is there.
 */
static void test_meta_write_fails(void)
{
	pp_pool *pool;
	fs_sg *sg;
	char name[32];
	int n = 0, rc = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	atomic_store(&pool_writes_fail, true);
	while (n < 40000) {
		struct fs_attr a;
		fs_file *f;

		snprintf(name, sizeof(name), "m%d", n);
		rc = fs_create(sg, &root, FS_ROOT_INO, name, 0644, O_RDWR, &a, &f);
		if (rc)
			break;
		fs_release(sg, f);
		fs_forget(sg, a.ino, 1);
		n++;
	}
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT(n > 0);
	{
		struct fs_attr d;

		CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "after", 0755, &d), -EIO);
	}
	fs_sg_unmount(sg, true);
	pp_pool_destroy(pool);
	atomic_store(&pool_writes_fail, false);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	{
		int missing = 0;

		for (int i = 0; i < n; i++) {
			struct fs_attr a;

			snprintf(name, sizeof(name), "m%d", i);
			if (fs_lookup(sg, &root, FS_ROOT_INO, name, &a) == 0)
				fs_forget(sg, a.ino, 1);
			else
				missing++;
		}
		if (missing)
			fprintf(stderr, "%d of %d files created before EIO are missing\n", missing, n);
		CU_ASSERT_EQUAL(missing, 0);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* mmadddisk while mounted: a full file system takes a fourth disk, the
 * write that failed then succeeds with blocks on it; remount and fsck
 * with four disks. */
static void test_add_disk(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a;
	fs_file *f;
	uint8_t *chunk = pattern(1u << 20, 17);
	struct fs_mkfs_disk nd = {.nsd_id = 103, .name = "nsd4", .bytes = DISK_BYTES,
				  .failure_group = 4, .usage = FS_USAGE_DATA_AND_META};
	struct fs_disk_io io = {dk_read, dk_write, disk};
	struct fs_statfs st0, st1;
	uint64_t off = 0;
	char err[512] = "";
	int rc;

	fsm_mkfs(64u << 10);
	memset(disk[3], 0, DISK_BYTES);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "big", 0644, O_RDWR, &a, &f), 0);
	{
		ssize_t n;

		while ((n = fs_write(sg, &root, f, chunk, 1u << 20, off)) > 0)
			off += (uint64_t)n;
		CU_ASSERT_EQUAL(n, -ENOSPC);
	}
	/* a full file system still makes directories (the metadata reserve) */
	{
		struct fs_attr d;

		CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "stillworks", 0755, &d), 0);
		fs_forget(sg, d.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_statfs(sg, &st0), 0);
	ndisks_now = NDISK_MAX;
	rc = fs_sg_add_disks(sg, &nd, 1, &io, err, sizeof(err));
	if (rc)
		fprintf(stderr, "add: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(fs_sg_sgd(sg)->ndisks, 4);
	CU_ASSERT_EQUAL(fs_statfs(sg, &st1), 0);
	CU_ASSERT(st1.blocks > st0.blocks && st1.bfree > st0.bfree + (64ull << 20) / st1.frsize);
	/* the write that failed now goes on: to the new disk */
	if (off % (1u << 20)) {
		ssize_t n = fs_write(sg, &root, f, chunk, (1u << 20) - off % (1u << 20), off);

		CU_ASSERT(n > 0);
		off += (uint64_t)(n > 0 ? n : 0);
	}
	for (int i = 0; i < 20; i++, off += 1u << 20)
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, chunk, 1u << 20, off), (ssize_t)(1u << 20));
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "big", &a), 0);
	CU_ASSERT_EQUAL(a.size, off);
	CU_ASSERT_EQUAL(fs_open(sg, &root, a.ino, O_RDONLY, &f), 0);
	{
		uint8_t *rb = malloc(1u << 20);

		CU_ASSERT_EQUAL(fs_read(sg, f, rb, 1u << 20, off - (1u << 20)), (ssize_t)(1u << 20));
		CU_ASSERT(!memcmp(rb, chunk, 1u << 20));
		CU_ASSERT_EQUAL(fs_read(sg, f, rb, 1u << 20, 0), (ssize_t)(1u << 20));
		CU_ASSERT(!memcmp(rb, chunk, 1u << 20));
		free(rb);
	}
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	ndisks_now = NDISK;
	free(chunk);
}

/* Directories made, filled past their inode, emptied and removed, over
 * and over by two threads at once: each next one gets blocks a removed
 * one freed, and none of a removed directory's cached blocks may be
 * written there afterwards (fsck and the kept directories' contents
 * after a remount tell). */
struct reuse_arg {
	fs_sg *sg;
	int id, errors;
};

static void *reuse_main(void *arg)
{
	struct reuse_arg *r = arg;
	struct fs_attr d;
	char name[96], dn[16];

	for (int round = 0; round < 8; round++) {
		snprintf(dn, sizeof(dn), "t%d-r%d", r->id, round);
		if (fs_mkdir(r->sg, &root, FS_ROOT_INO, dn, 0755, &d)) {
			r->errors++;
			continue;
		}
		for (int i = 0; i < 300; i++) {
			struct fs_attr a;
			fs_file *f;

			/* the directories that go have longer names: their blocks
			 * hold bytes past where the next one's end */
			snprintf(name, sizeof(name), round % 2 ? "entry-%d-%d-%05d-with-some-length"
				 : "entry-%d-%d-%05d-with-some-length-and-then-a-good-deal-more",
				 r->id, round, i);
			if (fs_create(r->sg, &root, d.ino, name, 0644, O_RDWR, &a, &f)) {
				r->errors++;
				continue;
			}
			fs_release(r->sg, f);
			fs_forget(r->sg, a.ino, 1);
		}
		if (round % 2 == 0) {
			for (int i = 0; i < 300; i++) {
				snprintf(name, sizeof(name),
					 "entry-%d-%d-%05d-with-some-length-and-then-a-good-deal-more",
					 r->id, round, i);
				if (fs_unlink(r->sg, &root, d.ino, name))
					r->errors++;
			}
			fs_forget(r->sg, d.ino, 1);
			if (fs_rmdir(r->sg, &root, FS_ROOT_INO, dn))
				r->errors++;
		} else {
			fs_forget(r->sg, d.ino, 1);
		}
	}
	return NULL;
}

static void test_dir_reuse(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr d;
	struct reuse_arg ra[2];
	pthread_t th[2];

	fsm_mkfs(64u << 10);
	/* a small pool: blocks are evicted and read again, so what is on
	 * disk is what counts */
	pool_bytes = 4u << 20;
	pool = mk_pool(disk);
	pool_bytes = 64u << 20;
	sg = mount_on(disk, pool);
	/* first one at a time: a file's freed data blocks and a directory's
	 * freed blocks go to the next directory, whose blocks are then read
	 * back from disk alone */
	{
		struct reuse_arg one = {sg, 9, 0};
		uint8_t *junk = pattern(4u << 20, 23);
		char name[64];

		mkfile(sg, FS_ROOT_INO, "junk", junk, 4u << 20);
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "junk"), 0);
		free(junk);
		reuse_main(&one);
		CU_ASSERT_EQUAL(one.errors, 0);
		CU_ASSERT_EQUAL(pp_drop_fs(pool, FSID | FS_META_BIT), MM_OK);
		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "t9-r7", &d), 0);
		for (int i = 0; i < 300; i += 7) {
			struct fs_attr a;

			snprintf(name, sizeof(name), "entry-9-7-%05d-with-some-length", i);
			CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, name, &a), 0);
			fs_forget(sg, a.ino, 1);
		}
		CU_ASSERT_EQUAL(count_dir(sg, d.ino), 300);
		fs_forget(sg, d.ino, 1);
	}
	for (int i = 0; i < 2; i++) {
		ra[i] = (struct reuse_arg){sg, i, 0};
		pthread_create(&th[i], NULL, reuse_main, &ra[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(ra[i].errors, 0);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int t = 0; t < 2; t++)
		for (int round = 1; round < 8; round += 2) {
			char dn[16];

			snprintf(dn, sizeof(dn), "t%d-r%d", t, round);
			CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, FS_ROOT_INO, dn, &d), 0);
			CU_ASSERT_EQUAL(count_dir(sg, d.ino), 300);
			fs_forget(sg, d.ino, 1);
		}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* readdir in pieces (resuming from cookies) while two threads create
 * and remove names in the same directory: no error, no name twice. */
struct rdc {
	fs_sg *sg;
	uint64_t dir;
	int id, errors;
	atomic_bool stop;
};

static void *rdc_writer(void *arg)
{
	struct rdc *r = arg;
	char name[64];

	for (int i = 0; i < 3000; i++) {
		struct fs_attr a;
		fs_file *f;
		int rc;

		snprintf(name, sizeof(name), "w%d-%05d-some-longer-name-here", r->id, i);
		rc = fs_create(r->sg, &root, r->dir, name, 0644, O_RDWR, &a, &f);
		if (rc) {
			fprintf(stderr, "rdc create %s: %d\n", name, rc);
			r->errors++;
			continue;
		}
		fs_release(r->sg, f);
		fs_forget(r->sg, a.ino, 1);
		if (i % 3 == 1) {
			snprintf(name, sizeof(name), "w%d-%05d-some-longer-name-here", r->id, i - 1);
			if ((rc = fs_unlink(r->sg, &root, r->dir, name))) {
				fprintf(stderr, "rdc unlink %s: %d\n", name, rc);
				r->errors++;
			}
		}
	}
	return NULL;
}

struct rdc_scan {
	int n;
	uint64_t last;
};

static int rdc_fn(void *arg, const char *name, uint64_t ino, uint8_t type, uint64_t cookie,
		  const struct fs_attr *attr)
{
	struct rdc_scan *sc = arg;

	(void)name, (void)ino, (void)type, (void)attr;
	if (sc->n == 50)
		return 1;	/* a full "buffer": resume later from the last cookie */
	sc->n++;
	sc->last = cookie;
	return 0;
}

static void test_readdir_concurrent(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr d;
	struct rdc w[2];
	pthread_t th[2];
	int scans = 0, errors = 0;

	fsm_mkfs(256u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d", 0755, &d), 0);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct rdc){.sg = sg, .dir = d.ino, .id = i};
		pthread_create(&th[i], NULL, rdc_writer, &w[i]);
	}
	for (int k = 0; k < 200; k++) {
		fs_file *f;
		uint64_t cookie = 0;

		if (fs_open(sg, &root, d.ino, O_RDONLY | O_DIRECTORY, &f)) {
			errors++;
			continue;
		}
		for (;;) {
			struct rdc_scan sc = {0, cookie};
			int rc = fs_readdir(sg, f, cookie, k % 2, rdc_fn, &sc);

			if (rc) {
				fprintf(stderr, "readdir: %d\n", rc);
				errors++;
				break;
			}
			if (sc.n < 50)
				break;
			cookie = sc.last;
		}
		fs_release(sg, f);
		scans++;
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].errors, 0);
	}
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(count_dir(sg, d.ino), 2 * 2000);
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/*
 * A crash after a file was removed and its space written by another: the
 * removal may be lost with the crash, but then its space must still hold
 * its own bytes (frees wait for the removing transaction to be durable).
 */
static void test_crash_reuse(void)
{
	pp_pool *pool, *pool2;
	fs_sg *sg;
	struct fs_attr a;
	uint8_t *da = pattern(200000, 41), *db = pattern(200000, 43), *snap[NDISK];
	fs_file *f;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "a", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, da, 200000, 0), 200000);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	/* a goes (not forced by anyone), b takes its space and writes it */
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "a"), 0);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "b", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, db, 200000, 0), 200000);
	fsm_snapshot(snap);
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	for (int i = 0; i < NDISK; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(snap[i]);
	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	/* whatever the crash kept, a file named a holds a's bytes */
	if (fs_lookup(sg, &root, FS_ROOT_INO, "a", &a) == 0) {
		fs_forget(sg, a.ino, 1);
		check_file(sg, FS_ROOT_INO, "a", da, 200000);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	/* the crash may leave an unlinked inode and blocks to reclaim */
	fsck_repair_clean(snap);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
	free(da);
	free(db);
}

static void test_errors(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, d;
	struct fs_cred user = {1000, 1000, 0, {0}, 022};
	char longname[300];

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	memset(longname, 'a', 256);
	longname[256] = 0;
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, longname, 0755, &a), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &user, FS_ROOT_INO, "u", 0755, &a), -EACCES);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "tmp", 01777, &d), 0);
	{
		struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 01777};

		CU_ASSERT_EQUAL(fs_setattr(sg, &root, d.ino, &sa, NULL, &d), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &user, d.ino, &sa, NULL, &d), -EPERM);
	}
	mkfile(sg, d.ino, "rootfile", "x", 1);
	{
		struct fs_attr x, y;
		struct fs_setattr sa = {.mask = FS_SET_ATIME | FS_SET_MTIME,
					.atime = {1000, 0}, .mtime = {2000, 0}};
		fs_file *f;
		char c;

		/* relatime: an atime older than mtime moves on read, a newer one not */
		CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, "rootfile", &x), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, x.ino, &sa, NULL, &x), 0);
		CU_ASSERT_EQUAL(fs_open(sg, &root, x.ino, O_RDONLY, &f), 0);
		CU_ASSERT_EQUAL(fs_read(sg, f, &c, 1, 0), 1);
		CU_ASSERT_EQUAL(fs_getattr(sg, x.ino, &y), 0);
		CU_ASSERT(y.atime.sec > 2000);
		CU_ASSERT_EQUAL(fs_read(sg, f, &c, 1, 0), 1);
		CU_ASSERT_EQUAL(fs_getattr(sg, x.ino, &x), 0);
		CU_ASSERT(x.atime.sec == y.atime.sec && x.atime.nsec == y.atime.nsec);
		CU_ASSERT_EQUAL(x.mtime.sec, 2000);
		fs_release(sg, f);
		fs_forget(sg, x.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_unlink(sg, &user, d.ino, "rootfile"), -EPERM);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &user, d.ino, "mine", 0755, &a), 0);
	CU_ASSERT_EQUAL(a.uid, 1000);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_rmdir(sg, &user, d.ino, "mine"), 0);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "tmp"), -EISDIR);
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, d.ino, "rootfile"), -ENOTDIR);
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

int main(int argc, char **argv)
{
	CU_pSuite s;

	(void)argc;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fs_sg", fsm_setup, fsm_teardown);
	CU_add_test(s, "basic, 64 KiB blocks", test_basic_64k);
	CU_add_test(s, "basic, 256 KiB blocks (4 metadata blocks a block)", test_basic_256k);
	CU_add_test(s, "a few files, 1 MiB blocks", test_few_files_big_blocks);
	CU_add_test(s, "crash: replay after fsync", test_crash_replay);
	CU_add_test(s, "crash: a removed file's space written by another", test_crash_reuse);
	CU_add_test(s, "crash: a replay larger than the pagepool", test_replay_past_pool);
	CU_add_test(s, "crash: metadata blocks freed in the log's span", test_crash_freed_meta);
	CU_add_test(s, "crash: a replay that cannot fit the pagepool", test_replay_too_big);
	CU_add_test(s, "errors and permissions", test_errors);
	CU_add_test(s, "fallocate and punch", test_fallocate);
	CU_add_test(s, "threads at once", test_threads);
	CU_add_test(s, "ENOSPC", test_enospc);
	CU_add_test(s, "every Nth disk write fails", test_faults);
	CU_add_test(s, "metadata write-back fails, the log's writes land", test_meta_write_fails);
	CU_add_test(s, "a disk added while mounted", test_add_disk);
	CU_add_test(s, "directories removed and their blocks reused", test_dir_reuse);
	CU_add_test(s, "readdir while names come and go", test_readdir_concurrent);
	CU_add_test(s, "readdirplus of a directory renamed meanwhile", test_readdir_rename);
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
