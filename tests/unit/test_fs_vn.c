/*
 * tests/unit/test_fs_vn.c - a mounted stripe group (fs/fs.h, as
 * test_fs_sg.c) seen partly from inside (fs/sg_int.h): what the create
 * path's shortcuts must keep true. A name a lookup noted absent, then
 * made another way, is found by the next make; a transaction that grew a
 * file and aborted leaves none of the growth's buffers; the address
 * cache's drops find every block of an inode, by range or all; a failed
 * growth of a fragment writes nothing over the fragment after it; the
 * inode file's revoke keeps the inode records cached; an O_TMPFILE file
 * is an orphan until named; write-behind never maps by reading while
 * maxFilesToCache trims tokens under four writing threads; blocks that
 * fallocate KEEP_SIZE puts past the end become fragments when the end
 * reaches them; readdir moves a directory's atime, nodiratime not.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FSM_FSID 81u
#define FSM_ADDR "127.0.9.74"
#include "fs/sg_int.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fsmount.h"
#include "tests/unit/fsfiles.h"

/*
 * A lookup that finds nothing lets the next create of that name skip
 * its own search (vnode.c, "Negative lookups"): every way a name can
 * come into the directory in between must void that, or the name is
 * there twice. Each way runs in a directory in the inode and in one of
 * blocks; then a create after a lookup takes the name, and a second one
 * finds it.
 */
static void test_negative_lookups(void)
{
	static const char *const how[] = {"mknod", "symlink", "link", "rename", "mkdir",
					  "create", "unlink+create"};
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, d, t;
	fs_file *f;
	char name[64];

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int big = 0; big < 2; big++) {
		int n = 0;

		snprintf(name, sizeof(name), "neg%d", big);
		CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, name, 0755, &d), 0);
		for (int i = 0; big && i < 400; i++, n++) {
			snprintf(name, sizeof(name), "filler-%04d-with-a-longer-name", i);
			mkfile(sg, d.ino, name, NULL, 0);
		}
		mkfile(sg, d.ino, "target", NULL, 0);
		mkfile(sg, d.ino, "victim", NULL, 0);
		n += 2;
		CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, d.ino, "target", &t), 0);
		for (size_t k = 0; k < sizeof(how) / sizeof(how[0]); k++) {
			int rc = -1;

			snprintf(name, sizeof(name), "x-%s", how[k]);
			CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, name, &a), -ENOENT);
			if (!strcmp(how[k], "mknod"))
				rc = fs_mknod(sg, &root, d.ino, name, S_IFIFO | 0644, 0, &a);
			else if (!strcmp(how[k], "symlink"))
				rc = fs_symlink(sg, &root, d.ino, name, "target", &a);
			else if (!strcmp(how[k], "link"))
				rc = fs_link(sg, &root, t.ino, d.ino, name, &a);
			else if (!strcmp(how[k], "rename"))
				rc = fs_rename(sg, &root, d.ino, "victim", d.ino, name, 0);
			else if (!strcmp(how[k], "mkdir"))
				rc = fs_mkdir(sg, &root, d.ino, name, 0755, &a);
			else if (!strcmp(how[k], "create") || !strcmp(how[k], "unlink+create")) {
				rc = fs_create(sg, &root, d.ino, name, 0644, O_CREAT | O_EXCL | O_RDWR,
					       &a, &f);
				if (!rc)
					fs_release(sg, f);
			}
			CU_ASSERT_EQUAL(rc, 0);
			if (rc == 0 && strcmp(how[k], "rename"))
				fs_forget(sg, a.ino, 1);
			n += strcmp(how[k], "rename") != 0;
			if (!strcmp(how[k], "unlink+create")) {
				/* gone and noted absent, then back by another
				 * create: the note must not outlive it */
				CU_ASSERT_EQUAL(fs_unlink(sg, &root, d.ino, name), 0);
				CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, name, &a), -ENOENT);
				mkfile(sg, d.ino, name, NULL, 0);
			}
			/* the name is there: both makes must find it */
			CU_ASSERT_EQUAL(fs_create(sg, &root, d.ino, name, 0644,
						  O_CREAT | O_EXCL | O_RDWR, &a, &f), -EEXIST);
			CU_ASSERT_EQUAL(fs_mkdir(sg, &root, d.ino, name, 0755, &a), -EEXIST);
		}
		/* the fast path itself: looked up, created, then found */
		for (int i = 0; i < 50; i++, n++) {
			snprintf(name, sizeof(name), "fresh-%d", i);
			CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, name, &a), -ENOENT);
			CU_ASSERT_EQUAL(fs_create(sg, &root, d.ino, name, 0644,
						  O_CREAT | O_EXCL | O_RDWR, &a, &f), 0);
			fs_release(sg, f);
			fs_forget(sg, a.ino, 1);
			CU_ASSERT_EQUAL(fs_create(sg, &root, d.ino, name, 0644,
						  O_CREAT | O_EXCL | O_RDWR, &a, &f), -EEXIST);
		}
		fs_forget(sg, t.ino, 1);
		CU_ASSERT_EQUAL(count_dir(sg, d.ino), n);
		fs_forget(sg, d.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

/*
 * A transaction that grew a metadata file and then aborted (white box:
 * the inode file grows while it allocates inodes). The blocks it grew
 * by had buffers of zeros, dirty, with cached addresses that the abort
 * frees: they must be gone from the pagepool, so that no write-behind
 * writes them there later (over whatever gets those addresses next) or
 * fails the file system when it finds their addresses gone.
 */
static void test_abort_after_growth(void)
{
	struct sg_grown g = {0};
	struct sg_tx *tx;
	pp_pool *pool;
	fs_sg *sg;
	uint64_t ino;
	uint8_t *junk = pattern(2u << 20, 31);
	int n = 0, rc;

	fsm_mkfs(256u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(sg_tx_begin(sg, 0, &tx), MM_OK);
	while (tx->ngrown == 0 && n < 4096) {
		rc = sg_tx_alloc_inode(tx, &ino);
		CU_ASSERT_EQUAL(rc, MM_OK);
		if (rc)
			break;
		n++;
	}
	CU_ASSERT_FATAL(tx->ngrown > 0);
	g = tx->grown[0];
	CU_ASSERT(g.ino == 0 && g.n > 1);
	sg_tx_abort(tx);
	/* nothing of them is left to write (a stale buffer's write finds its
	 * address gone: an error that fails the file system) */
	CU_ASSERT_EQUAL(pp_flush(pool, sg->mfsid, g.ino, g.lo, g.lo + g.n), MM_OK);
	/* the space is handed out again (a file's data, the inode file
	 * growing for real): every byte where it belongs */
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "after-%d", i);
		mkfile(sg, FS_ROOT_INO, name, junk + i * 4096, i % 4 ? 4096 : 1u << 20);
	}
	CU_ASSERT_EQUAL(pp_flush_fs(pool, FSID), MM_OK);
	CU_ASSERT_EQUAL(pp_flush_fs(pool, FSID | FS_META_BIT), MM_OK);
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "after-%d", i);
		check_file(sg, FS_ROOT_INO, name, junk + i * 4096, i % 4 ? 4096 : 1u << 20);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	free(junk);
	fprintf(stderr, "abort after growth: %d inodes allocated before the inode file grew by %"
		PRIu64 " blocks\n", n, g.n);
}

/*
 * A file's last block is a fragment, and the next file's fragment
 * follows it on disk. A posix_fallocate that would grow the first to a
 * whole block fails (ENOSPC): the first's buffer must hold nothing dirty
 * past its run that write-behind would write over the second. fsstress
 * (creat and fallocate at ENOSPC) found both halves: fallocate zeroed
 * the old last block's tail before growing it, and the pool wrote dirty
 * bytes past a fragment's run. Either fix alone passes this test.
 */
static void test_fragment_neighbour(void)
{
	uint8_t *a = pattern(10u << 10, 41), *b = pattern(10u << 10, 43);
	uint8_t *chunk = pattern(1u << 20, 47);
	struct pp_map ma, mb;
	struct fs_attr fa, fb, big;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *f;
	uint64_t off = 0;
	ssize_t n;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	mkfile(sg, FS_ROOT_INO, "a", a, 10u << 10);
	mkfile(sg, FS_ROOT_INO, "b", b, 10u << 10);
	CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, FS_ROOT_INO, "a", &fa), 0);
	CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, FS_ROOT_INO, "b", &fb), 0);
	CU_ASSERT_EQUAL_FATAL(sg_map_data(sg, &(struct pp_tag){sg->fsid, fa.ino, 0}, &ma), 0);
	CU_ASSERT_EQUAL_FATAL(sg_map_data(sg, &(struct pp_tag){sg->fsid, fb.ino, 0}, &mb), 0);
	/* the layout the test is about (the allocator's best fit) */
	CU_ASSERT_FATAL(ma.len >= (10u << 10) && ma.len < (64u << 10));
	CU_ASSERT_EQUAL_FATAL(mb.rep[0].nsd_id, ma.rep[0].nsd_id);
	CU_ASSERT_EQUAL_FATAL(mb.rep[0].offset, ma.rep[0].offset + ma.len);
	/* full of data */
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "big", 0644, O_RDWR, &big, &f), 0);
	while ((n = fs_write(sg, &root, f, chunk, 1u << 20, off)) > 0)
		off += (uint64_t)n;
	CU_ASSERT_EQUAL(n, -ENOSPC);
	fs_release(sg, f);
	fs_forget(sg, big.ino, 1);
	CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, fa.ino, O_RDWR, &f), 0);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, 0, 0, 200u << 10), -ENOSPC);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	fs_release(sg, f);
	fs_forget(sg, fa.ino, 1);
	fs_forget(sg, fb.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	check_file(sg, FS_ROOT_INO, "a", a, 10u << 10);
	check_file(sg, FS_ROOT_INO, "b", b, 10u << 10);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
	free(a);
	free(b);
	free(chunk);
}

/* White box: cached addresses of (fs, ino) in the address cache. */
static unsigned ac_count(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, bool any_blk)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < SG_AC_BUCKETS; i++) {
		pthread_mutex_lock(&sg->actab[i].mu);
		for (struct sg_ac *a = sg->actab[i].head; a; a = a->next)
			n += a->fs == fs && a->ino == ino && (any_blk || a->blk == blk);
		pthread_mutex_unlock(&sg->actab[i].mu);
	}
	return n;
}

/*
 * The address cache's drops (white box): a drop of every block of an
 * inode visits only the buckets of blocks below the highest one ever
 * cached for its slot, and must still find each, the highest and an
 * indirect block's tag included; a partial drop keeps the rest.
 */
static void test_ac_drop(void)
{
	static const uint64_t blks[] = {0, 3, 63, 64, 70, 5000, FS_TAG_IND | 7};
	struct pp_map m = {.len = 4096, .nrep = 1};
	pp_pool *pool;
	fs_sg *sg;
	const uint32_t fs = 0x77;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (uint64_t ino = 900001; ino < 900001 + 64; ino++) {
		for (size_t k = 0; k < sizeof(blks) / sizeof(blks[0]); k++)
			if (ino % 2 || blks[k] < 64)
				sg_ac_put(sg, fs, ino, blks[k], &m);
	}
	for (uint64_t ino = 900001; ino < 900001 + 64; ino++) {
		CU_ASSERT(ac_count(sg, fs, ino, 0, true) >= 3);
		if (ino % 4 == 0) {
			sg_ac_drop(sg, fs, ino, 0, 4);
			CU_ASSERT_EQUAL(ac_count(sg, fs, ino, 0, false), 0);
			CU_ASSERT_EQUAL(ac_count(sg, fs, ino, 3, false), 0);
			CU_ASSERT_EQUAL(ac_count(sg, fs, ino, 63, false), 1);
		}
		if (ino % 3 == 0) {
			/* the indirect block's tag alone, then the rest */
			sg_ac_drop(sg, fs, ino, FS_TAG_IND, FS_TAG_IND + 8);
			CU_ASSERT_EQUAL(ac_count(sg, fs, ino, FS_TAG_IND | 7, false), 0);
		}
		sg_ac_drop(sg, fs, ino, 0, UINT64_MAX);
		CU_ASSERT_EQUAL(ac_count(sg, fs, ino, 0, true), 0);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

/*
 * The inode file's token covers its record and its tree, not the inode
 * records in its blocks (each inode's own token does): its revoke (a
 * maxFilesToCache trim, since it is taken only to grow the file) must
 * leave them cached. It once dropped them all, so every stat after it
 * read its record from disk.
 */
static void test_ifile_revoke_keeps_records(void)
{
	enum { N = 48 };
	struct tok_key k0 = {FSID, TOK_INODE, 0};
	uint64_t ino[N];
	struct pp_stats before, after;
	pp_pool *pool;
	fs_sg *sg;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "r%d", i);
		ino[i] = mkfile(sg, FS_ROOT_INO, name, NULL, 0);
	}
	CU_ASSERT_EQUAL(sg_revoke_inode(sg, &k0, (struct tok_range){0, TOK_INF}, TOK_NONE), 0);
	/* their blocks' addresses stay cached too: write-behind of a record
	 * block dirtied later must not read the inode file's tree to map it
	 * (sg.c, "Why an address cache"); that read deadlocked against a
	 * transaction holding the tree block */
	for (int i = 0; i < N; i++) {
		uint64_t blk = ino[i] / FS_INODES_PER_MB;

		if (blk >= sg->mbper)
			CU_ASSERT_EQUAL(ac_count(sg, sg->mfsid, 0, blk, false), 1);
	}
	pp_get_stats(pool, &before);
	for (int i = 0; i < N; i++) {
		struct fs_attr la;
		char name[32];

		snprintf(name, sizeof(name), "r%d", i);
		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, name, &la), 0);
		CU_ASSERT_EQUAL(la.ino, ino[i]);
		fs_forget(sg, la.ino, 1);
	}
	pp_get_stats(pool, &after);
	CU_ASSERT_EQUAL(after.reads - before.reads, 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

/*
 * Creates, writes and unlinks from four threads with maxFilesToCache at
 * 40: the token client keeps trimming inode tokens, the inode file's
 * among them, and their revokes drop cached addresses while write-behind
 * runs, and older files are written again. No write-behind map may find
 * no cached address (sg.c, "Why an address cache", st_wb_miss): the
 * inode file's revoke once dropped its records' addresses,
 * and a create storm hung; a file's revoke dropped its data's addresses
 * but kept the data, which a later write dirtied.
 */
enum { STORM_FILES = 300, STORM_BYTES = 3901 };

struct storm {
	fs_sg *sg;
	uint64_t dir;
	int id, errors;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	uint8_t buf[STORM_BYTES];
	char name[32];

	memset(buf, 'a' + s->id, sizeof(buf));
	for (int i = 0; i < STORM_FILES; i++) {
		struct fs_attr a;
		fs_file *f;

		snprintf(name, sizeof(name), "t%d-%d", s->id, i);
		if (fs_create(s->sg, &root, s->dir, name, 0644, O_CREAT | O_EXCL | O_RDWR, &a, &f)) {
			s->errors++;
			break;
		}
		s->errors += fs_write(s->sg, &root, f, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf);
		s->errors += fs_release(s->sg, f) != 0;
		fs_forget(s->sg, a.ino, 1);
		if (i % 3 == 2) {
			snprintf(name, sizeof(name), "t%d-%d", s->id, i - 2);
			s->errors += fs_unlink(s->sg, &root, s->dir, name) != 0;
		}
		/* an older file again: its data may still be cached after its
		 * token was trimmed, and a write to a cached block maps nothing */
		if (i >= 10 && (i - 10) % 3) {
			snprintf(name, sizeof(name), "t%d-%d", s->id, i - 10);
			if (fs_lookup(s->sg, &root, s->dir, name, &a) ||
			    fs_open(s->sg, &root, a.ino, O_RDWR, &f)) {
				s->errors++;
				break;
			}
			s->errors += fs_write(s->sg, &root, f, buf, 100, 1000) != 100;
			s->errors += fs_release(s->sg, f) != 0;
			fs_forget(s->sg, a.ino, 1);
		}
	}
	return NULL;
}

static void test_trim_storm(void)
{
	struct storm st[4];
	pthread_t th[4];
	uint8_t want[STORM_BYTES];
	struct fs_attr d;
	pp_pool *pool;
	fs_sg *sg;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	toknet_set_limits(tn, 0, 40);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "own", 0755, &d), 0);
	for (int i = 0; i < 4; i++) {
		/* two threads in the root, two in a directory of their own */
		st[i] = (struct storm){sg, i < 2 ? FS_ROOT_INO : d.ino, i, 0};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, storm_main, &st[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(st[i].errors, 0);
	}
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(count_dir(sg, FS_ROOT_INO), 1 + 2 * 2 * STORM_FILES / 3);
	CU_ASSERT_EQUAL(count_dir(sg, d.ino), 2 * 2 * STORM_FILES / 3);
	memset(want, 'a' + 3, sizeof(want));
	check_file(sg, d.ino, "t3-299", want, sizeof(want));
	toknet_set_limits(tn, 0, 0);
	/* what is still dirty goes out now, through the same maps */
	CU_ASSERT_EQUAL(pp_flush_fs(pool, sg->fsid), 0);
	CU_ASSERT_EQUAL(pp_flush_fs(pool, sg->mfsid), 0);
	CU_ASSERT_EQUAL(atomic_load(&sg->st_wb_miss), 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* Close <f> (inode <ino>, <name> in the root), unmount, mount again and
 * check that <name> holds <len> bytes of <data>; fsck finds it clean. */
static void close_remount_check(fs_sg *sg, pp_pool *pool, fs_file *f, uint64_t ino,
				const char *name, const uint8_t *data, size_t len)
{
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	fs_forget(sg, ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	check_file(sg, FS_ROOT_INO, name, data, len);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/*
 * An aborted transaction puts back just the addresses it changed: a
 * file's data written before it, still dirty, keeps the address
 * write-behind maps it by; and a block it gave a file loses its buffer
 * with its run. sg_tx_abort once dropped every address of its
 * inodes, and write-behind then read the file's tree to map those
 * buffers, which can deadlock (fs/README.md, "Map callbacks"); a fault
 * run of test_fs_sg met it after a log write failed.
 */
static void test_abort_keeps_addresses(void)
{
	enum { NB = 4, BS = 64u << 10 };
	uint8_t *data = malloc(NB * BS);
	struct sg_ino *ip;
	struct tok_holder h;
	struct fs_inode in;
	struct sg_tx *tx;
	struct fs_ptr p;
	struct pp_map m;
	struct fs_attr a;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *f;

	for (size_t i = 0; i < NB * BS; i++)
		data[i] = (uint8_t)(i * 7 + i / 4093);
	fsm_mkfs(BS);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "ab", 0644, O_RDWR, &a, &f), 0);
	/* the data stays dirty until the abort is over */
	CU_ASSERT_EQUAL(pp_fs_pause(pool, sg->fsid, true), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, NB * BS, 0), (ssize_t)(NB * BS));
	CU_ASSERT_EQUAL_FATAL(sg_iget(sg, a.ino, &ip), 0);
	CU_ASSERT_EQUAL_FATAL(sg_itok(sg, ip, TOK_XW, &h), 0);
	CU_ASSERT_EQUAL_FATAL(sg_iread(sg, ip, &in), 0);
	CU_ASSERT_EQUAL_FATAL(sg_tx_begin(sg, 0, &tx), 0);
	CU_ASSERT_EQUAL(sg_tx_inode(tx, ip, &in), 0);
	CU_ASSERT_EQUAL(sg_tx_alloc_data(tx, &in, 10, &p), 0);
	CU_ASSERT(sg_ac_get(sg, sg->fsid, a.ino, 10, &m));
	/* the new block's buffer, dirty, as fs_write leaves it before a
	 * later block fails (ENOSPC: fsstress met it on a full disk) */
	sg_tx_fresh_data(tx, a.ino, 10);
	{
		pp_buf *b;
		void *d;

		CU_ASSERT_EQUAL_FATAL(pp_get(pool, &(struct pp_tag){sg->fsid, a.ino, 10}, 0, BS,
					     PP_OVERWRITE, &b, &d), 0);
		memset(d, 0x5a, BS);
		pp_mark_dirty(b, 0, BS, 0);
		pp_release(b);
	}
	sg_tx_abort(tx);
	CU_ASSERT(!sg_ac_get(sg, sg->fsid, a.ino, 10, &m));
	for (uint64_t b = 0; b < NB; b++)
		CU_ASSERT(sg_ac_get(sg, sg->fsid, a.ino, b, &m));
	sg_itok_release(sg, &h);
	sg_iput(sg, ip);
	CU_ASSERT_EQUAL(pp_fs_pause(pool, sg->fsid, false), 0);
	/* nothing left to write at a block the file does not have: such a
	 * write fails, and a failed data write fails the file system */
	CU_ASSERT_EQUAL(pp_flush_fs(pool, sg->fsid), 0);
	CU_ASSERT_EQUAL(atomic_load(&sg->st_wb_miss), 0);
	CU_ASSERT_EQUAL(atomic_load(&sg->data_err), 0);
	close_remount_check(sg, pool, f, a.ino, "ab", data, NB * BS);
	free(data);
}

/*
 * A file written in small appends, as tar writes (a first write short
 * enough to stay in the inode, then 10 KiB at a time), grows its last
 * block's fragment where it is, and nothing is read from the disk for
 * it: the subblocks it grows by are zeros in the buffer, not the run's
 * old contents read back for the write to cover part of. Once every
 * growth moved the fragment (its old bytes written where they were
 * first) and read the new subblock: 3,000 reads of 100 MB in an untar of
 * 119 MiB.
 */
static void append_in_place(unsigned rep)
{
	enum { BS = 256u << 10, TOTAL = 300000, STEP = 10240, FIRST = 700 };
	uint8_t *data = malloc(TOTAL);
	struct pp_stats before, after;
	struct pp_map m0, m;
	struct fs_attr a;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *f;
	int moves = 0;
	size_t off;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 13 + i / 1021 + rep);
	fsm_data_rep = rep;
	fsm_mkfs(BS);
	fsm_data_rep = 0;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "ap", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, FIRST, 0), FIRST);
	pp_get_stats(pool, &before);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data + FIRST, STEP, FIRST), STEP);
	CU_ASSERT_FATAL(sg_ac_get(sg, sg->fsid, a.ino, 0, &m0));
	for (off = FIRST + STEP; off < BS; off += STEP) {
		size_t n = TOTAL - off < STEP ? TOTAL - off : STEP;

		CU_ASSERT_EQUAL(fs_write(sg, &root, f, data + off, n, off), (ssize_t)n);
		CU_ASSERT_FATAL(sg_ac_get(sg, sg->fsid, a.ino, 0, &m));
		CU_ASSERT_EQUAL(m.nrep, (int)rep);
		moves += m.rep[0].offset != m0.rep[0].offset ||
			 m.rep[rep - 1].offset != m0.rep[rep - 1].offset;
		m0 = m;
	}
	/* on into the second block, which is new: nothing to read either */
	for (; off < TOTAL; off += STEP) {
		size_t n = TOTAL - off < STEP ? TOTAL - off : STEP;

		CU_ASSERT_EQUAL(fs_write(sg, &root, f, data + off, n, off), (ssize_t)n);
	}
	pp_get_stats(pool, &after);
	CU_ASSERT_EQUAL(after.reads - before.reads, 0);
	/* the first place may have had no room after it; then it moves once
	 * to the start of a free block and grows there */
	CU_ASSERT(moves <= 1);
	if (moves > 1)
		fprintf(stderr, "append: the fragment moved %d times\n", moves);
	close_remount_check(sg, pool, f, a.ino, "ap", data, TOTAL);
	free(data);
}

/* with one copy of the data, and with two: each grows where it is */
static void test_append_in_place(void)
{
	append_in_place(1);
	append_in_place(2);
}

/*
 * A caller's supplementary groups are asked for (fs_cred.in_group) only
 * when a check needs them: the FUSE front end reads them from /proc,
 * which cost an unprivileged caller more than most requests when it was
 * done for every one. The owner, and a member by its own gid, never
 * ask; a member by a supplementary group is let in by the answer.
 */
static int in_group_calls;

static bool in_group_500(const struct fs_cred *c, uint32_t gid)
{
	(void)c;
	in_group_calls++;
	return gid == 500;
}

static void test_groups_lazy(void)
{
	struct fs_cred owner = {.uid = 1000, .gid = 1000, .umask = 022, .in_group = in_group_500};
	struct fs_cred bygid = {.uid = 1001, .gid = 500, .umask = 022, .in_group = in_group_500};
	struct fs_cred bysupp = {.uid = 1002, .gid = 1002, .umask = 022, .in_group = in_group_500};
	struct fs_cred none = bysupp;
	struct fs_setattr sa = {.mask = FS_SET_UID | FS_SET_GID | FS_SET_MODE, .uid = 1000,
				.gid = 500, .mode = 0640};
	struct fs_attr a;
	pp_pool *pool;
	fs_sg *sg;
	uint64_t ino;

	none.in_group = NULL;
	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	ino = mkfile(sg, FS_ROOT_INO, "g", "x", 1);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, ino, &sa, NULL, &a), 0);
	in_group_calls = 0;
	CU_ASSERT_EQUAL(fs_access(sg, &owner, ino, R_OK | W_OK), 0);
	CU_ASSERT_EQUAL(fs_access(sg, &bygid, ino, R_OK), 0);
	CU_ASSERT_EQUAL(in_group_calls, 0);
	CU_ASSERT_EQUAL(fs_access(sg, &bysupp, ino, R_OK), 0);
	CU_ASSERT(in_group_calls > 0);
	CU_ASSERT_EQUAL(fs_access(sg, &bysupp, ino, W_OK), -EACCES);
	/* without the callback and without the group: other's bits */
	CU_ASSERT_EQUAL(fs_access(sg, &none, ino, R_OK), -EACCES);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

static uint64_t files_free(fs_sg *sg)
{
	struct fs_statfs st;

	CU_ASSERT_EQUAL(fs_statfs(sg, &st), 0);
	return st.ffree;
}

/*
 * O_TMPFILE (fs_tmpfile): a file with no name is an orphan from its
 * first commit. Named by fs_link it is an ordinary file that outlives a
 * crash; with O_EXCL it can never be named; unnamed, its last close and
 * forget free it, and a crash leaves it to the next mount to free.
 */
static void test_tmpfile(void)
{
	uint8_t *data = pattern(200000, 4), *snap[NDISK];
	struct fs_attr a, b, x, la;
	fs_file *fa, *fb, *fx;
	uint64_t ffree;
	pp_pool *pool, *pool2;
	fs_sg *sg;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	ffree = files_free(sg);

	/* unnamed, then gone with its last reference */
	CU_ASSERT_EQUAL_FATAL(fs_tmpfile(sg, &root, FS_ROOT_INO, 0600, O_RDWR, &x, &fx), 0);
	CU_ASSERT_EQUAL(x.nlink, 0);
	CU_ASSERT_TRUE(S_ISREG(x.mode));
	CU_ASSERT_EQUAL(fs_write(sg, &root, fx, data, 100000, 0), 100000);
	CU_ASSERT_EQUAL(count_dir(sg, FS_ROOT_INO), 0);
	CU_ASSERT_EQUAL(files_free(sg), ffree - 1);
	CU_ASSERT_EQUAL(fs_release(sg, fx), 0);
	fs_forget(sg, x.ino, 1);
	CU_ASSERT_EQUAL(fs_getattr(sg, x.ino, &la), -ESTALE);
	CU_ASSERT_EQUAL(files_free(sg), ffree);

	/* O_EXCL: never named */
	CU_ASSERT_EQUAL_FATAL(fs_tmpfile(sg, &root, FS_ROOT_INO, 0600, O_RDWR | O_EXCL, &x, &fx), 0);
	CU_ASSERT_EQUAL(fs_link(sg, &root, x.ino, FS_ROOT_INO, "x", &la), -ENOENT);

	/* named: nlink 1, its bytes under the name, the orphan gone */
	CU_ASSERT_EQUAL_FATAL(fs_tmpfile(sg, &root, FS_ROOT_INO, 0640, O_RDWR, &a, &fa), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, fa, data, 200000, 0), 200000);
	CU_ASSERT_EQUAL(fs_link(sg, &root, a.ino, FS_ROOT_INO, "named", &la), 0);
	CU_ASSERT_EQUAL(la.nlink, 1);
	CU_ASSERT_EQUAL(la.ino, a.ino);
	CU_ASSERT_EQUAL(fs_link(sg, &root, a.ino, FS_ROOT_INO, "named2", &la), 0);
	CU_ASSERT_EQUAL(la.nlink, 2);
	fs_forget(sg, a.ino, 2);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "named2"), 0);
	CU_ASSERT_EQUAL(fs_fsync(sg, fa, false), 0);

	/* unnamed at the crash, its creation durable */
	CU_ASSERT_EQUAL_FATAL(fs_tmpfile(sg, &root, FS_ROOT_INO, 0600, O_RDWR, &b, &fb), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, fb, data, 150000, 0), 150000);
	CU_ASSERT_EQUAL(fs_fsync(sg, fb, false), 0);
	fsm_snapshot(snap);
	CU_ASSERT_EQUAL(fs_release(sg, fa), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_release(sg, fb), 0);
	fs_forget(sg, b.ino, 1);
	CU_ASSERT_EQUAL(fs_release(sg, fx), 0);
	fs_forget(sg, x.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);

	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	check_file(sg, FS_ROOT_INO, "named", data, 200000);
	CU_ASSERT_EQUAL(count_dir(sg, FS_ROOT_INO), 1);
	CU_ASSERT_EQUAL(fs_getattr(sg, b.ino, &la), -ESTALE);	/* the mount freed it */
	CU_ASSERT_EQUAL(fs_getattr(sg, x.ino, &la), -ESTALE);
	CU_ASSERT_EQUAL(files_free(sg), ffree - 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	fsck_clean(snap);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
	free(data);
}

/* The file's allocated subblocks (st_blocks in S units), its size, and
 * that its bytes read back as <want>. */
static void check_ks(fs_sg *sg, fs_file *f, uint64_t ino, const uint8_t *want, uint64_t size,
		     uint64_t subblocks, const char *when)
{
	struct fs_attr b;
	uint8_t *buf = malloc(size + 4096);

	CU_ASSERT_EQUAL(fs_getattr(sg, ino, &b), 0);
	if (b.size != size || b.blocks != subblocks * (4096 / 512))
		fprintf(stderr, "%s: size %" PRIu64 " (want %" PRIu64 "), %" PRIu64
			" subblocks (want %" PRIu64 ")\n", when, b.size, size, b.blocks / 8, subblocks);
	CU_ASSERT_EQUAL(b.size, size);
	CU_ASSERT_EQUAL(b.blocks, subblocks * (4096 / 512));
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, size + 4096, 0), (ssize_t)size);
	CU_ASSERT(!memcmp(buf, want, size));
	free(buf);
}

/*
 * fallocate KEEP_SIZE past the end of file gives the file whole blocks
 * of zeros after the block it ends in (that one keeps its fragment); the
 * size stays. When the end moves into one of them (a write, a truncate
 * up) it becomes the last fragment; a punch past the end and a truncate
 * to the same size free them; ZERO_RANGE with KEEP_SIZE past the end
 * works; a file in its inode leaves it first. fsck agrees, and a remount
 * reads the same. 64 KiB blocks of 16 subblocks of 4 KiB.
 */
static void test_keep_size_past_end(void)
{
	enum { BS = 64u << 10, SPB = 16 };
	uint8_t *want = calloc(1, 6 * BS);
	struct fs_setattr sa = {.mask = FS_SET_SIZE};
	struct fs_attr a, t;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *f, *g;
	char tiny[5] = "";

	fsm_mkfs(BS);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "ks", 0644, O_RDWR, &a, &f), 0);
	memset(want, 'a', 5000);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, want, 5000, 0), 5000);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, FALLOC_FL_KEEP_SIZE, 100, 5 * BS - 100), 0);
	check_ks(sg, f, a.ino, want, 5000, 2 + 4 * SPB, "keep size past the end");
	CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_HOLE), 5000);
	CU_ASSERT_EQUAL(fs_lseek(sg, f, 5000, SEEK_DATA), -ENXIO);
	/* a write ends the file inside block 2: 0 and 1 whole, 2 a fragment
	 * of one subblock, 3 and 4 whole past the end */
	memset(want + 2 * BS + 10, 'b', 100);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, want + 2 * BS + 10, 100, 2 * BS + 10), 100);
	check_ks(sg, f, a.ino, want, 2 * BS + 110, 2 * SPB + 1 + 2 * SPB, "write into block 2");
	/* a truncate up into block 3: 2 whole, 3 a fragment, 4 past the end */
	sa.size = 3 * BS + 7;
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &t), 0);
	check_ks(sg, f, a.ino, want, 3 * BS + 7, 3 * SPB + 1 + SPB, "truncate up into block 3");
	/* a punch past the end frees block 4, and nothing else */
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     3 * BS + 7, 4 * BS), 0);
	check_ks(sg, f, a.ino, want, 3 * BS + 7, 3 * SPB + 1, "punch past the end");
	/* ZERO_RANGE | KEEP_SIZE over data and past the end */
	memset(want + BS, 'c', 2 * BS + 7);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, want + BS, 2 * BS + 7, BS), 2 * BS + 7);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				     2 * BS, 3 * BS), 0);
	memset(want + 2 * BS, 0, BS + 7);
	check_ks(sg, f, a.ino, want, 3 * BS + 7, 3 * SPB + 1 + SPB, "zero range past the end");
	/* a truncate to the same size frees what lies past the end */
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &t), 0);
	check_ks(sg, f, a.ino, want, 3 * BS + 7, 3 * SPB + 1, "truncate to the same size");
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, f, FALLOC_FL_KEEP_SIZE, 4 * BS, 2 * BS), 0);
	check_ks(sg, f, a.ino, want, 3 * BS + 7, 3 * SPB + 1 + 2 * SPB, "keep size again");
	/* a file in its inode leaves it */
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "ki", 0644, O_RDWR, &t, &g), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, g, "tiny", 4, 0), 4);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &root, g, FALLOC_FL_KEEP_SIZE, 0, 2 * BS), 0);
	CU_ASSERT_EQUAL(fs_read(sg, g, tiny, 4, 0), 4);
	CU_ASSERT(!memcmp(tiny, "tiny", 4));
	check_ks(sg, g, t.ino, (const uint8_t *)"tiny", 4, 1 + SPB, "a file in its inode");
	CU_ASSERT_EQUAL(fs_release(sg, g), 0);
	fs_forget(sg, t.ino, 1);
	close_remount_check(sg, pool, f, a.ino, "ks", want, 3 * BS + 7);
	free(want);
}

/*
 * POSIX: a read of a directory marks its atime for update, as a read of a
 * file does (readdir once never moved it). Under relatime the first
 * readdir after a change moves it, the next not; nodiratime keeps a
 * directory's atime while a file's still moves.
 */
static void test_readdir_atime(void)
{
	struct fs_setattr sa = {.mask = FS_SET_ATIME | FS_SET_MTIME, .atime = {1000, 0},
				.mtime = {2000, 0}};
	struct fs_attr d, x, y;
	pp_pool *pool;
	fs_sg *sg;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "dd", 0755, &d), 0);
	mkfile(sg, d.ino, "f", "x", 1);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, d.ino, &sa, NULL, &x), 0);
	CU_ASSERT_EQUAL(count_dir(sg, d.ino), 1);
	CU_ASSERT_EQUAL(fs_getattr(sg, d.ino, &x), 0);
	CU_ASSERT(x.atime.sec > 2000);
	CU_ASSERT_EQUAL(x.mtime.sec, 2000);
	CU_ASSERT_EQUAL(count_dir(sg, d.ino), 1);
	CU_ASSERT_EQUAL(fs_getattr(sg, d.ino, &y), 0);
	CU_ASSERT(x.atime.sec == y.atime.sec && x.atime.nsec == y.atime.nsec);
	/* nodiratime: the directory's stays, a file's moves */
	sg->nodiratime = true;
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, d.ino, &sa, NULL, &x), 0);
	CU_ASSERT_EQUAL(count_dir(sg, d.ino), 1);
	CU_ASSERT_EQUAL(fs_getattr(sg, d.ino, &x), 0);
	CU_ASSERT_EQUAL(x.atime.sec, 1000);
	{
		fs_file *f;
		char c;

		CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, d.ino, "f", &y), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, y.ino, &sa, NULL, &y), 0);
		CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, y.ino, O_RDONLY, &f), 0);
		CU_ASSERT_EQUAL(fs_read(sg, f, &c, 1, 0), 1);
		CU_ASSERT_EQUAL(fs_getattr(sg, y.ino, &y), 0);
		CU_ASSERT(y.atime.sec > 2000);
		fs_release(sg, f);
		fs_forget(sg, y.ino, 1);
	}
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/*
 * A write that takes setuid/setgid off tells the front end once
 * (fs_file_privs_dropped), which drops the kernel's cached mode: the
 * kernel invalidates a write's mtime and size, not the mode, so `stat -c
 * %A` showed the bit gone from the file for the attribute timeout
 * (xfstests generic/355). A write that drops nothing, or root's, says
 * nothing.
 */
static void test_write_drops_privs_once(void)
{
	const struct fs_cred user = {1000, 1000, 0, {0}, 022};
	struct fs_setattr own = {.mask = FS_SET_UID | FS_SET_GID, .uid = 1000, .gid = 1000};
	struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 06666};
	struct fs_attr a;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *f;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, FS_ROOT_INO, "su", 0666, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &own, NULL, &a), 0);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
	CU_ASSERT_EQUAL(a.mode & 07777, 06666);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, "r", 1, 0), 1);
	CU_ASSERT_FALSE(fs_file_privs_dropped(f));
	CU_ASSERT_EQUAL(fs_write(sg, &user, f, "u", 1, 1), 1);
	CU_ASSERT_TRUE(fs_file_privs_dropped(f));
	CU_ASSERT_FALSE(fs_file_privs_dropped(f));
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &a), 0);
	CU_ASSERT_EQUAL(a.mode & 07777, 02666);	/* setgid without group exec stays */
	CU_ASSERT_EQUAL(fs_write(sg, &user, f, "v", 1, 2), 1);
	CU_ASSERT_FALSE(fs_file_privs_dropped(f));
	/* a fallocate by a user outside the file's group: setgid goes even
	 * without group execute (Linux's setattr_should_drop_sgid) */
	own.uid = own.gid = 0;
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &own, NULL, &a), 0);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
	CU_ASSERT_EQUAL(fs_fallocate(sg, &user, f, 0, 0, 8192), 0);
	CU_ASSERT_TRUE(fs_file_privs_dropped(f));
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &a), 0);
	CU_ASSERT_EQUAL(a.mode & 07777, 0666);
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

/*
 * A file handle's lookup by number (FUSE export support): "." of any
 * inode is that inode, counted as a lookup; ".." of a directory its
 * parent; "." of an inode no name reaches any more is -ESTALE (xfstests
 * generic/426: open_by_handle_at after the kernel dropped its caches).
 */
static void test_lookup_by_number(void)
{
	struct fs_attr d, f, x;
	pp_pool *pool;
	fs_sg *sg;
	fs_file *h;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "hd", 0755, &d), 0);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, d.ino, "hf", 0644, O_RDWR, &f, &h), 0);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, f.ino, ".", &x), 0);
	CU_ASSERT(x.ino == f.ino && x.gen == f.gen && S_ISREG(x.mode));
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, f.ino, "..", &x), -ENOTDIR);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, d.ino, "..", &x), 0);
	CU_ASSERT_EQUAL(x.ino, FS_ROOT_INO);
	fs_forget(sg, FS_ROOT_INO, 1);
	/* unlinked while open: no name reaches it */
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, d.ino, "hf"), 0);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, f.ino, ".", &x), -ESTALE);
	CU_ASSERT_EQUAL(fs_release(sg, h), 0);
	fs_forget(sg, f.ino, 2);
	CU_ASSERT(fs_lookup(sg, &root, f.ino, ".", &x) < 0);
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

static void register_tests(void)
{
	CU_pSuite s = CU_add_suite("fs_vn", fsm_setup, fsm_teardown);

	CU_add_test(s, "a noted absent name, then made another way", test_negative_lookups);
	CU_add_test(s, "an aborted transaction's growth leaves no buffer", test_abort_after_growth);
	CU_add_test(s, "address cache drops, every block and some", test_ac_drop);
	CU_add_test(s, "a failed fallocate writes nothing past a fragment", test_fragment_neighbour);
	CU_add_test(s, "the inode file's revoke keeps the records cached",
		    test_ifile_revoke_keeps_records);
	CU_add_test(s, "O_TMPFILE: unnamed until linked, freed at last close or after a crash",
		    test_tmpfile);
	CU_add_test(s, "four threads' creates under maxFilesToCache trims", test_trim_storm);
	CU_add_test(s, "an aborted transaction keeps its inodes' earlier addresses",
		    test_abort_keeps_addresses);
	CU_add_test(s, "small appends grow the fragment in place, reading nothing",
		    test_append_in_place);
	CU_add_test(s, "supplementary groups are asked for only when a check needs them",
		    test_groups_lazy);
	CU_add_test(s, "fallocate KEEP_SIZE past the end: whole blocks, cut when the end reaches them",
		    test_keep_size_past_end);
	CU_add_test(s, "readdir marks the directory's atime; nodiratime does not",
		    test_readdir_atime);
	CU_add_test(s, "a write or fallocate that drops setuid says so once",
		    test_write_drops_privs_once);
	CU_add_test(s, "lookup by number: \".\" of any inode, stale once unnamed",
		    test_lookup_by_number);
}

MM_CUNIT_MAIN(register_tests)
