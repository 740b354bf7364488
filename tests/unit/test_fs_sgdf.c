/*
 * tests/unit/test_fs_sgdf.c - mmdf of a mounted stripe group (fs.h,
 * fs_sg_df; fs/sgdf.c): its figures are what fs_open_check reads from
 * the disks once the file system is unmounted (free subblocks and full
 * blocks per disk, inodes used and free), they move by exactly the
 * space a file written while mounted takes, a removed file's space is
 * free at once (the busy set counts free), and writers running
 * alongside see no torn snapshot. On memory disks (fsmount.h).
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FSM_FSID 79u
#define FSM_ADDR "127.0.9.72"
#include "fs/alloc.h"
#include "tests/unit/fsmount.h"

static const struct fs_cred root = {0, 0, 0, {0}, 022};

/* Inodes 5 .. 15 are in use in the inode map but never records. */
#define RESERVED_UNUSED 11u

static struct fs_df *df_of(fs_sg *sg)
{
	struct fs_df *d = calloc(1, sizeof(*d));
	char err[512] = "";
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	rc = fs_sg_df(sg, d, NULL, err, sizeof(err));
	if (rc)
		fprintf(stderr, "fs_sg_df: %d %s\n", rc, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return d;
}

static uint64_t free_sub(const struct fs_df *d)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < d->ndisks; i++)
		n += d->disk[i].free_sub;
	return n;
}

static uint64_t free_full(const struct fs_df *d)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < d->ndisks; i++)
		n += d->disk[i].free_full;
	return n;
}

/* A file of <len> bytes; its subblocks (every replica, indirect blocks
 * too) into *nsub. */
static uint64_t mkfile(fs_sg *sg, uint64_t dir, const char *name, size_t len, uint32_t S,
		       uint64_t *nsub)
{
	struct fs_attr a;
	fs_file *f = NULL;
	uint8_t *buf = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + len);
	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, dir, name, 0644, O_CREAT | O_RDWR, &a, &f), 0);
	if (len)
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, buf, len, 0), (ssize_t)len);
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	CU_ASSERT_EQUAL(fs_getattr(sg, a.ino, &a), 0);
	fs_forget(sg, a.ino, 1);
	if (nsub)
		*nsub = a.blocks * 512 / S;
	free(buf);
	return a.ino;
}

/* The figures of <d> (taken right before the unmount) against
 * fs_open_check of the disks now. */
static void same_as_disks(const struct fs_df *d)
{
	struct fs_disk_io io = {dk_read, dk_write, disk};
	struct fs_check_summary *sum = calloc(1, sizeof(*sum));
	char err[512] = "";
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sum);
	rc = fs_open_check(&io, ndisks_now, 0, NULL, sum, err, sizeof(err));
	if (rc)
		fprintf(stderr, "fs_open_check: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
	CU_ASSERT_EQUAL(d->ndisks, ndisks_now);
	for (uint32_t i = 0; i < d->ndisks; i++) {
		if (d->disk[i].free_sub != sum->disk[i].free_sub ||
		    d->disk[i].free_full != sum->disk[i].free_full)
			fprintf(stderr, "disk %u: mounted free %llu sub %llu full, disks %llu sub %llu "
				"full\n", i, (unsigned long long)d->disk[i].free_sub,
				(unsigned long long)d->disk[i].free_full,
				(unsigned long long)sum->disk[i].free_sub,
				(unsigned long long)sum->disk[i].free_full);
		CU_ASSERT_EQUAL(d->disk[i].alloc_sub, sum->disk[i].alloc_sub);
		CU_ASSERT_EQUAL(d->disk[i].free_sub, sum->disk[i].free_sub);
		CU_ASSERT_EQUAL(d->disk[i].free_full, sum->disk[i].free_full);
	}
	if (d->inodes_used != sum->inodes_used || d->inodes_free != sum->inodes_free)
		fprintf(stderr, "inodes: mounted %llu used %llu free, disks %llu used %llu free\n",
			(unsigned long long)d->inodes_used, (unsigned long long)d->inodes_free,
			(unsigned long long)sum->inodes_used, (unsigned long long)sum->inodes_free);
	CU_ASSERT_EQUAL(d->inodes_used, sum->inodes_used);
	CU_ASSERT_EQUAL(d->inodes_free, sum->inodes_free);
	free(sum);
}

/*
 * Files written and some removed while mounted: the figures move by
 * each file's subblocks, a removed file's space is free at once, and at
 * the end they equal what the disks say after the unmount.
 */
static void run_figures(uint32_t bsize)
{
	static const size_t sizes[] = {0, 100, 5000, 70000, 300001, (1u << 20) + 3000, 4u << 20,
				       65536, 3 * 4096 + 1};
	const size_t nf = sizeof(sizes) / sizeof(sizes[0]);
	uint64_t nsub[sizeof(sizes) / sizeof(sizes[0])], ino, n, lim;
	struct fs_df *d0, *d1, *d2, *d3, *d4;
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	struct fs_attr a;
	pp_pool *pool;
	fs_sg *sg;
	uint32_t S;
	char name[32], err[256];
	uint64_t added = 0, removed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sgd);
	fsm_mkfs(bsize);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	S = fs_sg_sgd(sg)->subblock_size;
	lim = fs_sg_sgd(sg)->inode_limit;
	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d", 0755, &a), 0);
	fs_forget(sg, a.ino, 1);
	/* the descriptor comes with the figures */
	d0 = calloc(1, sizeof(*d0));
	CU_ASSERT_EQUAL_FATAL(fs_sg_df(sg, d0, sgd, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sgd->ndisks, NDISK);
	CU_ASSERT_EQUAL(d0->ndisks, NDISK);
	CU_ASSERT_EQUAL(sgd->fsid, FSID);
	for (uint32_t i = 0; i < d0->ndisks; i++) {
		CU_ASSERT(d0->disk[i].free_full * (bsize / S) <= d0->disk[i].free_sub);
		CU_ASSERT(d0->disk[i].free_sub <= d0->disk[i].alloc_sub);
	}
	CU_ASSERT_EQUAL(d0->inodes_used + d0->inodes_free, lim - RESERVED_UNUSED);

	for (size_t i = 0; i < nf; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		mkfile(sg, a.ino, name, sizes[i], S, &nsub[i]);
		added += nsub[i];
	}
	d1 = df_of(sg);
	CU_ASSERT_EQUAL(d1->inodes_used, d0->inodes_used + nf);
	CU_ASSERT_EQUAL(d1->inodes_free, d0->inodes_free - nf);
	/* the directory's blocks and new inode-file blocks come on top */
	CU_ASSERT(free_sub(d0) - free_sub(d1) >= added);
	CU_ASSERT(free_sub(d0) - free_sub(d1) <= added + 4 * bsize / S);

	/* removed: free at once, though the space is busy until the log is
	 * durable (fs/README.md, "Frees") */
	for (size_t i = 0; i < nf; i += 2) {
		snprintf(name, sizeof(name), "f%zu", i);
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, a.ino, name), 0);
		removed += nsub[i];
	}
	d2 = df_of(sg);
	CU_ASSERT_EQUAL(free_sub(d2) - free_sub(d1), removed);
	CU_ASSERT_EQUAL(d2->inodes_used, d1->inodes_used - (nf + 1) / 2);

	/* a file of known size: its inode first, then its bytes */
	ino = mkfile(sg, FS_ROOT_INO, "probe", 0, S, NULL);
	d3 = df_of(sg);
	{
		size_t len = (2u << 20) + 5 * 1024 + 17;
		uint8_t *buf = calloc(1, len);
		fs_file *f = NULL;
		uint64_t full = len / bsize, frag = (len % bsize + S - 1) / S;

		CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, ino, O_RDWR, &f), 0);
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, buf, len, 0), (ssize_t)len);
		CU_ASSERT_EQUAL(fs_release(sg, f), 0);
		CU_ASSERT_EQUAL(fs_getattr(sg, ino, &a), 0);
		n = a.blocks * 512 / S;
		/* data: full blocks and one fragment, plus indirect blocks */
		CU_ASSERT(n >= full * (bsize / S) + frag);
		d4 = df_of(sg);
		CU_ASSERT_EQUAL(free_sub(d3) - free_sub(d4), n);
		/* every full block of the data took a free full block; the
		 * fragment may have gone into a partly used one */
		CU_ASSERT(free_full(d3) - free_full(d4) >= full);
		CU_ASSERT(free_full(d3) - free_full(d4) <= (n + bsize / S - 1) / (bsize / S) + 1);
		CU_ASSERT_EQUAL(d4->inodes_used, d3->inodes_used);
		free(buf);
	}
	CU_ASSERT_EQUAL(d3->inodes_used, d2->inodes_used + 1);

	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	same_as_disks(d4);
	fsck_clean(disk);
	free(d0);
	free(d1);
	free(d2);
	free(d3);
	free(d4);
	free(sgd);
}

static void test_figures_64k(void)
{
	run_figures(64u << 10);
}

static void test_figures_256k(void)
{
	run_figures(256u << 10);
}

/* Several inode regions: node 1 allocates inodes in region 7, which the
 * disks' count must include too (fs_open_check counted region 0 only). */
static void test_figures_inode_regions(void)
{
	fsm_inode_limit = 8 * FS_IMAP_REGION_INODES;
	run_figures(64u << 10);
	fsm_inode_limit = 0;
}

/* ---- writers running while the figures are taken ---- */

#define NWR 4

struct wr {
	fs_sg *sg;
	uint64_t dir;
	uint32_t S;
	int id;
	atomic_bool *stop;
	int errors;
};

static void *wr_main(void *arg)
{
	struct wr *w = arg;
	uint8_t *buf = calloc(1, 300000);
	int i = 0;

	while (!atomic_load(w->stop) && i < 400) {
		char name[32];
		struct fs_attr a;
		fs_file *f = NULL;
		size_t len = (size_t)(i * 7919 + w->id * 131) % 300000;

		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		if (fs_create(w->sg, &root, w->dir, name, 0644, O_CREAT | O_RDWR, &a, &f)) {
			w->errors++;
			break;
		}
		if (fs_write(w->sg, &root, f, buf, len, 0) != (ssize_t)len)
			w->errors++;
		fs_release(w->sg, f);
		fs_forget(w->sg, a.ino, 1);
		if (i % 3 != 2) {
			snprintf(name, sizeof(name), "w%d-%d", w->id, i - i % 3);
			if (i % 3 == 1 && fs_unlink(w->sg, &root, w->dir, name))
				w->errors++;
		}
		i++;
	}
	free(buf);
	return NULL;
}

static void test_writers(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct wr w[NWR];
	pthread_t th[NWR];
	atomic_bool stop = false;
	struct fs_df *d = NULL;
	uint32_t S, spb;
	uint64_t lim, taken = 0;

	fsm_mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	S = fs_sg_sgd(sg)->subblock_size;
	spb = (64u << 10) / S;
	lim = fs_sg_sgd(sg)->inode_limit;
	for (int i = 0; i < NWR; i++) {
		struct fs_attr a;
		char name[16];

		snprintf(name, sizeof(name), "wd%d", i);
		CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, FS_ROOT_INO, name, 0755, &a), 0);
		w[i] = (struct wr){sg, a.ino, S, i, &stop, 0};
		pthread_create(&th[i], NULL, wr_main, &w[i]);
	}
	/* each snapshot holds together while the maps change under it */
	for (int k = 0; k < 200; k++) {
		free(d);
		d = df_of(sg);
		taken++;
		CU_ASSERT_EQUAL(d->inodes_used + d->inodes_free, lim - RESERVED_UNUSED);
		for (uint32_t i = 0; i < d->ndisks; i++) {
			CU_ASSERT(d->disk[i].free_full * spb <= d->disk[i].free_sub);
			CU_ASSERT(d->disk[i].free_sub <= d->disk[i].alloc_sub);
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NWR; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].errors, 0);
		fs_forget(sg, w[i].dir, 1);
	}
	CU_ASSERT(taken == 200);
	free(d);
	d = df_of(sg);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	same_as_disks(d);
	fsck_clean(disk);
	free(d);
}

static void test_errors(void)
{
	struct fs_df *d = calloc(1, sizeof(*d));
	char err[256] = "";

	CU_ASSERT_EQUAL(fs_sg_df(NULL, d, NULL, err, sizeof(err)), -EINVAL);
	CU_ASSERT(strstr(err, "fs_sg_df") != NULL);
	free(d);
}

int main(int argc, char **argv)
{
	CU_pSuite s;

	(void)argc;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fs_sgdf", fsm_setup, fsm_teardown);
	CU_add_test(s, "figures move with writes and frees, equal the disks', 64 KiB blocks",
		    test_figures_64k);
	CU_add_test(s, "the same, 256 KiB blocks", test_figures_256k);
	CU_add_test(s, "the same, eight inode regions", test_figures_inode_regions);
	CU_add_test(s, "snapshots while writers run", test_writers);
	CU_add_test(s, "bad arguments", test_errors);
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
