/*
 * tests/unit/test_fs_fsck.c - fs/fsck.c against fs/fsck.h: file systems
 * made by fs_mkfs on memory disks and populated by a builder here that
 * uses the pure modules (alloc.c for inodes and blocks, tree.c for
 * pointers, dir.c for entries, fs_inode_encode) through the disk store
 * of fs/fsck_int.h; then damaged one way at a time. For each damage:
 * fsck -n finds exactly that problem (its line names it) and exits 2,
 * fsck -y fixes it (exit 1) and a second -n finds nothing (exit 0). An
 * undamaged file system is clean, with the counts the builder made, and
 * fs_open_check still accepts every repaired one.
 *
 * Layout: 3 disks of 48 MiB in failure groups 1 .. 3 (three descriptor
 * copies), B = 64 KiB, -m 2 -M 2 -r 1 -R 2 (metadata replicated, so a
 * damaged replica is found and rewritten from the good one). No threads.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/alloc.h"
#include "fs/dir.h"
#include "fs/format.h"
#include "fs/fsck.h"
#include "fs/fsck_int.h"
#include "fs/log.h"
#include "fs/mkfs.h"
#include "fs/tree.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#define PAGE 4096u
#define MiB (1ull << 20)
#define ND 3

/* ---- memory disks: pages not all zeros, keyed (disk, page) ---- */

struct mdisks {
	struct fk_store pg;
	uint64_t size;
	uint64_t writes;
};

static void md_init(struct mdisks *m)
{
	memset(m, 0, sizeof(*m));
	fk_init(&m->pg);
	m->pg.bsize = PAGE;
	m->size = 48 * MiB;
}

static int md_write(void *arg, uint32_t disk, uint64_t off, const void *buf, size_t len)
{
	struct mdisks *m = arg;
	const uint8_t *b = buf;

	if (disk >= ND || off % PAGE || len % PAGE || off + len > m->size)
		return MM_EINVAL;
	m->writes++;
	for (size_t p = 0; p < len; p += PAGE) {
		struct fk_blk *pg = fk_find(&m->pg, disk, (off + p) / PAGE);

		if (!pg)
			pg = fk_add(&m->pg, disk, (off + p) / PAGE);
		memcpy(pg->data, b + p, PAGE);
	}
	return MM_OK;
}

static int md_read(void *arg, uint32_t disk, uint64_t off, void *buf, size_t len)
{
	struct mdisks *m = arg;
	uint8_t *b = buf;

	if (disk >= ND || off % PAGE || len % PAGE || off + len > m->size)
		return MM_EINVAL;
	for (size_t p = 0; p < len; p += PAGE) {
		struct fk_blk *pg = fk_find(&m->pg, disk, (off + p) / PAGE);

		if (pg)
			memcpy(b + p, pg->data, PAGE);
		else
			memset(b + p, 0, PAGE);
	}
	return MM_OK;
}

/* The byte at (disk, off) xor <x>. */
static void md_flip(struct mdisks *m, uint32_t disk, uint64_t off, uint8_t x)
{
	struct fk_blk *pg = fk_find(&m->pg, disk, off / PAGE);

	if (!pg)
		pg = fk_add(&m->pg, disk, off / PAGE);
	pg->data[off % PAGE] ^= x;
}

/* ---- the file system and the builder ---- */

struct tfs {
	struct mdisks md;
	struct fs_disk_io io;
	struct fs_sgd *sgd;
	struct fs_ds *ds;
	struct fs_alloc *a;
	/* what the builder made */
	uint64_t nind, dir_a, dir_big, file_small, file_big, file_frag, nfiles, ndirs;
};

static int b_alloc(void *arg, uint64_t ino, bool ind, unsigned nrep, struct fs_ptr *p)
{
	struct tfs *t = arg;
	struct fs_place pl;
	uint32_t disks[FS_MAX_REPLICAS];
	int rc;

	(void)ind;	/* with B = 64 KiB an indirect block is a full block */
	rc = fs_place_init(&pl, t->sgd, "system", FS_KIND_META, ino);
	if (rc == MM_OK)
		rc = fs_place_block(&pl, ino, nrep, NULL, disks);
	memset(p, 0, sizeof(*p));
	for (unsigned k = 0; k < nrep && rc == MM_OK; k++) {
		rc = MM_ERANGE;
		for (uint32_t r = 0; r < t->sgd->nregions && rc == MM_ERANGE; r++)
			rc = fs_bmap_alloc_block(t->a, r, disks[k], &p->da[k], NULL, 0);
	}
	return rc;
}

static int b_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	(void)is_meta;
	return MM_EPROTO;
}

static void t_open(struct tfs *t)
{
	CU_ASSERT_EQUAL_FATAL(fs_ds_open(&t->io, t->sgd, &t->ds), MM_OK);
	CU_ASSERT_EQUAL_FATAL(fs_alloc_open(t->sgd, fs_ds_bs(t->ds), &t->a, NULL, 0), MM_OK);
	fs_ds_set_alloc(t->ds, b_alloc, t);
}

static void t_close(struct tfs *t)
{
	CU_ASSERT_EQUAL(fs_ds_flush(t->ds), MM_OK);
	fs_alloc_close(t->a);
	fs_ds_close(t->ds);
	t->a = NULL;
	t->ds = NULL;
}

static void t_mkfs(struct tfs *t)
{
	static const char *const names[ND] = {"nsd1", "nsd2", "nsd3"};
	struct fs_mkfs_disk d[ND];
	struct fs_mkfs_params p = {.device = "fs1", .fsid = 9, .block_size = 64 << 10,
				   .meta_rep = 2, .meta_rep_max = 2, .data_rep = 1,
				   .data_rep_max = 2, .nodes = 1, .inode_limit = 2048,
				   .log_bytes = 4 * FS_MB, .created = 1700000000, .ndisks = ND,
				   .disks = d};
	char err[512];

	memset(t, 0, sizeof(*t));
	md_init(&t->md);
	t->io = (struct fs_disk_io){md_read, md_write, &t->md};
	t->sgd = malloc(sizeof(*t->sgd));
	for (uint32_t i = 0; i < ND; i++)
		d[i] = (struct fs_mkfs_disk){.nsd_id = 0x100 + i, .name = names[i],
					     .bytes = t->md.size, .failure_group = (int32_t)i + 1};
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &t->io, NULL, NULL, t->sgd, err, sizeof(err)), MM_OK);
}

static void t_free(struct tfs *t)
{
	fk_fini(&t->md.pg);
	free(t->sgd);
}

/* A new inode of <mode> (its record's block made if it is a hole). */
static uint64_t b_inode(struct tfs *t, uint32_t mode, uint32_t nlink)
{
	struct fs_inode *in = calloc(1, sizeof(*in));
	uint64_t ino;
	uint32_t gen = 0;

	CU_ASSERT_EQUAL_FATAL(fs_imap_alloc(t->a, 0, 0, &ino, NULL, 0), MM_OK);
	if (fs_ds_inode(t->ds, ino, in, NULL) == MM_ENOENT) {
		for (uint64_t i = ino / 16 * 16; i < ino / 16 * 16 + 16; i++) {
			memset(in, 0, sizeof(*in));
			in->ino = i;
			in->flags = FS_IF_FREE;
			CU_ASSERT_EQUAL(fs_ds_put_inode(t->ds, in), MM_OK);
		}
	} else {
		gen = in->gen;
	}
	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->gen = gen + 1;
	in->mode = mode;
	in->nlink = nlink;
	in->data_rep = 1;
	in->meta_rep = 2;
	in->mtime.sec = 1700000000;
	if (S_ISDIR(mode))
		in->flags = FS_IF_DATA_IN_INODE;
	CU_ASSERT_EQUAL(fs_ds_put_inode(t->ds, in), MM_OK);
	free(in);
	return ino;
}

/* The store under dir.c: the record says "block form" before block 0 of
 * a directory leaving its inode is allocated (fs_dir_insert's rule). */
struct bdw {
	struct tfs *t;
	struct fs_dir *d;
	uint64_t ino;
	struct fs_bstore bs;
};

static int bdw_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct bdw *w = arg;
	const struct fs_bstore *u = fs_ds_bs(w->t->ds);

	if (write && ino == w->ino && !w->d->in_inode) {
		struct fs_inode *in = malloc(sizeof(*in));

		if (fs_ds_inode(w->t->ds, ino, in, NULL) == MM_OK && (in->flags & FS_IF_DATA_IN_INODE)) {
			in->flags &= ~FS_IF_DATA_IN_INODE;
			memset(in->tail, 0, FS_TAIL_BYTES);
			in->tail_len = 0;
			in->size = 0;
			fs_ds_put_inode(w->t->ds, in);
		}
		free(in);
	}
	return u->get(u->arg, ino, blk, write, data);
}

static void bdw_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	const struct fs_bstore *u = fs_ds_bs(((struct bdw *)arg)->t->ds);

	u->put(u->arg, ino, blk, data, dirty);
}

static int bdw_punch(void *arg, uint64_t ino, uint64_t blk)
{
	const struct fs_bstore *u = fs_ds_bs(((struct bdw *)arg)->t->ds);

	return u->punch(u->arg, ino, blk);
}

/* Add <name> -> <ino> to directory <dino>. */
static void b_link(struct tfs *t, uint64_t dino, const char *name, uint64_t ino, uint32_t gen,
		   uint8_t type)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint8_t tail[FS_TAIL_BYTES];
	struct fs_dir d;
	struct bdw w = {t, &d, dino, {bdw_get, bdw_put, bdw_punch, NULL}};

	w.bs.arg = &w;
	CU_ASSERT_EQUAL_FATAL(fs_ds_inode(t->ds, dino, in, NULL), MM_OK);
	memset(&d, 0, sizeof(d));
	memcpy(tail, in->tail, sizeof(tail));
	d.bs = &w.bs;
	d.fsid = (uint32_t)t->sgd->fsid;
	d.ino = dino;
	d.depth = in->depth;
	d.in_inode = in->flags & FS_IF_DATA_IN_INODE;
	d.tail = tail;
	d.tail_len = in->tail_len;
	CU_ASSERT_EQUAL(fs_dir_insert(&d, name, strlen(name), ino, gen, type), MM_OK);
	CU_ASSERT_EQUAL_FATAL(fs_ds_inode(t->ds, dino, in, NULL), MM_OK);
	in->depth = d.depth;
	if (d.in_inode) {
		memcpy(in->tail, tail, sizeof(tail));
		in->tail_len = d.tail_len;
		in->size = d.tail_len;
	}
	CU_ASSERT_EQUAL(fs_ds_put_inode(t->ds, in), MM_OK);
	free(in);
}

static uint32_t gen_of(struct tfs *t, uint64_t ino)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint32_t g = 0;

	if (fs_ds_inode(t->ds, ino, in, NULL) == MM_OK)
		g = in->gen;
	free(in);
	return g;
}

static void set_nlink(struct tfs *t, uint64_t ino, int delta)
{
	struct fs_inode *in = malloc(sizeof(*in));

	CU_ASSERT_EQUAL_FATAL(fs_ds_inode(t->ds, ino, in, NULL), MM_OK);
	in->nlink = (uint32_t)((int)in->nlink + delta);
	CU_ASSERT_EQUAL(fs_ds_put_inode(t->ds, in), MM_OK);
	free(in);
}

/* tree.c's new indirect blocks (two replicas), counted in nind. */
static int t_ind(void *arg, uint64_t ino, uint64_t tag, struct fs_ptr *p)
{
	struct tfs *t = arg;

	(void)tag;
	t->nind++;
	return b_alloc(t, ino, true, 2, p);
}

static uint64_t b_mkdir(struct tfs *t, uint64_t parent, const char *name)
{
	uint64_t ino = b_inode(t, S_IFDIR | 0755, 2);

	b_link(t, parent, name, ino, gen_of(t, ino), DT_DIR);
	set_nlink(t, parent, 1);
	t->ndirs++;
	return ino;
}

/* A file whose blocks <blks> (ascending) are mapped, of <size> bytes:
 * full blocks, the last a fragment when the file ends inside it. */
static uint64_t b_file(struct tfs *t, uint64_t parent, const char *name, const uint64_t *blks,
		       size_t n, uint64_t size)
{
	uint64_t ino = b_inode(t, S_IFREG | 0644, 1);
	struct fs_inode *in = malloc(sizeof(*in));
	struct fs_tree tr;
	uint32_t s = t->sgd->subblock_size, b = t->sgd->block_size, spb = b / s;
	struct fs_place pl;

	fs_ds_tree(t->ds, &tr);
	tr.alloc_meta = t_ind;
	tr.free_blk = b_free;
	tr.arg = t;
	CU_ASSERT_EQUAL_FATAL(fs_ds_inode(t->ds, ino, in, NULL), MM_OK);
	in->size = size;
	CU_ASSERT_EQUAL_FATAL(fs_place_init(&pl, t->sgd, NULL, FS_KIND_DATA, ino), MM_OK);
	for (size_t i = 0; i < n; i++) {
		struct fs_ptr p = {{0}};
		uint32_t disk, nsub = spb;
		int rc = MM_ERANGE;

		if (blks[i] * b < size && size < (blks[i] + 1) * b)
			nsub = (uint32_t)((size - blks[i] * b + s - 1) / s);
		CU_ASSERT_EQUAL(fs_place_block(&pl, blks[i], 1, NULL, &disk), MM_OK);
		for (uint32_t r = 0; r < t->sgd->nregions && rc == MM_ERANGE; r++)
			rc = nsub == spb ? fs_bmap_alloc_block(t->a, r, disk, &p.da[0], NULL, 0) :
					   fs_bmap_alloc_frag(t->a, r, disk, nsub, &p.da[0], NULL, 0);
		CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
		in->subblocks += nsub;
		/* indirect blocks tree.c makes (t_ind counts them): 2 replicas */
		t->nind = 0;
		CU_ASSERT_FATAL(fs_tree_set(&tr, in, blks[i], &p, NULL) >= 0);
		in->subblocks += t->nind * spb * 2;
	}
	CU_ASSERT_EQUAL(fs_ds_put_inode(t->ds, in), MM_OK);
	free(in);
	if (parent)
		b_link(t, parent, name, ino, gen_of(t, ino), DT_REG);
	t->nfiles++;
	return ino;
}


/* The populated file system every test starts from. */
static void t_build(struct tfs *t)
{
	uint64_t big[] = {0, 1, 500};	/* block 500: an indirect block (181 in the inode) */
	uint64_t one[] = {0};
	char name[32];

	t_mkfs(t);
	t_open(t);
	t->dir_a = b_mkdir(t, 3, "a");
	t->dir_big = b_mkdir(t, t->dir_a, "big");
	t->file_small = b_file(t, 3, "small", one, 1, 65536);
	t->file_big = b_file(t, t->dir_a, "sparse", big, 3, 501 * 65536ull);
	t->file_frag = b_file(t, t->dir_a, "frag", one, 1, 10000);
	/* enough names for dir_big to leave its inode for blocks */
	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%03d", i);
		b_file(t, t->dir_big, name, NULL, 0, 0);
	}
	t_close(t);
}

/* ---- running fsck ---- */

struct run {
	char lines[64][512];
	unsigned n;
	unsigned phases;
};

static void log_cb(void *arg, const char *line, bool fixed)
{
	struct run *r = arg;

	(void)fixed;
	if (r->n < 64)
		snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s", line);
}

static void prog_cb(void *arg, const char *phase, unsigned pct)
{
	struct run *r = arg;

	(void)phase;
	r->phases += pct == 100;
}

static int run(struct tfs *t, bool repair, struct fs_fsck_report *rep, struct run *r)
{
	struct fs_fsck_params p = {.repair = repair ? FS_FSCK_YES : FS_FSCK_NO, .log = log_cb,
				   .progress = prog_cb, .arg = r};
	char err[512] = "";
	int rc;

	memset(r, 0, sizeof(*r));
	rc = fs_fsck(&t->io, ND, &p, rep, err, sizeof(err));
	TCHECK(rc == MM_OK, "fsck: %s: %s", mm_errname(rc), err);
	return rc;
}

static bool has_line(const struct run *r, const char *want)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strstr(r->lines[i], want))
			return true;
	return false;
}

static void dump(const char *what, const struct run *r)
{
	for (unsigned i = 0; i < r->n; i++)
		printf("  %s: %s\n", what, r->lines[i]);
}

/* -n finds <want> (every line of it contains <want2> too, if given),
 * -y fixes, -n is clean, and fs_open_check accepts it. */
static void expect_fixed(struct tfs *t, const char *want)
{
	struct fs_fsck_report rep;
	struct run r;
	char err[512];

	CU_ASSERT_EQUAL(run(t, false, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_LEFT);
	CU_ASSERT(rep.found >= 1);
	CU_ASSERT_EQUAL(rep.fixed, 0);
	CU_ASSERT(has_line(&r, want));
	if (getenv("FSCK_VERBOSE") || !has_line(&r, want) || rep.exit != FS_FSCK_EXIT_LEFT) {
		printf("\n  wanted '%s'\n", want);
		dump("-n", &r);
	}
	CU_ASSERT_EQUAL(run(t, true, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_FIXED);
	CU_ASSERT(has_line(&r, want));
	if (rep.exit != FS_FSCK_EXIT_FIXED)
		dump("-y", &r);
	CU_ASSERT_EQUAL(run(t, false, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_CLEAN);
	CU_ASSERT_EQUAL(rep.found, 0);
	if (rep.found)
		dump("after -y", &r);
	CU_ASSERT_EQUAL(fs_open_check(&t->io, ND, 0, NULL, NULL, err, sizeof(err)), MM_OK);
}

/* Where metadata block (ino, blk) replica <k> is on disk: disk, byte. */
static void where(struct tfs *t, uint64_t ino, uint64_t blk, unsigned k, uint32_t *disk,
		  uint64_t *off)
{
	struct fs_ptr p;
	uint32_t o;

	t_open(t);
	CU_ASSERT_EQUAL_FATAL(fs_ds_where(t->ds, ino, blk, &p, &o), 1);
	CU_ASSERT_FATAL(p.da[k] != 0);
	*disk = fs_da_disk(p.da[k]);
	*off = fs_da_sub(p.da[k]) * t->sgd->subblock_size + o;
	t_close(t);
}

/* ---- the tests ---- */

static void test_clean(void)
{
	struct fs_fsck_report rep;
	struct run r;
	struct tfs t;
	char err[512];

	t_mkfs(&t);
	CU_ASSERT_EQUAL(run(&t, false, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_CLEAN);
	CU_ASSERT_EQUAL(rep.found, 0);
	CU_ASSERT_EQUAL(rep.inodes, 5);
	CU_ASSERT_EQUAL(rep.dirs, 1);
	dump("fresh", &r);
	t_free(&t);

	t_build(&t);
	CU_ASSERT_EQUAL(fs_open_check(&t.io, ND, 0, NULL, NULL, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(run(&t, false, &rep, &r), MM_OK);
	dump("built", &r);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_CLEAN);
	CU_ASSERT_EQUAL(rep.found, 0);
	CU_ASSERT_EQUAL(rep.dirs, 1 + t.ndirs);
	CU_ASSERT_EQUAL(rep.files, 4 + t.nfiles);
	CU_ASSERT_EQUAL(rep.inodes, 5 + t.ndirs + t.nfiles);
	CU_ASSERT(r.phases >= 5);
	/* -y on a clean one changes nothing */
	t.md.writes = 0;
	CU_ASSERT_EQUAL(run(&t, true, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_CLEAN);
	CU_ASSERT_EQUAL(t.md.writes, 0);
	t_free(&t);
}

static void test_damage_blocks(void)
{
	struct tfs t;
	uint32_t d;
	uint64_t off;
	char want[96];

	/* an inode record (both replicas of its block: no good copy) */
	t_build(&t);
	for (unsigned k = 0; k < 2; k++) {
		where(&t, 0, t.file_frag / 16, k, &d, &off);
		md_flip(&t.md, d, off + t.file_frag % 16 * FS_INODE_BYTES + 100, 0x40);
	}
	snprintf(want, sizeof(want), "inode %" PRIu64 ":", t.file_frag);
	expect_fixed(&t, want);
	t_free(&t);

	/* one replica of an inode file block */
	t_build(&t);
	where(&t, 0, 1, 1, &d, &off);
	md_flip(&t.md, d, off + 200, 1);
	expect_fixed(&t, "inode 0 block 0x1: replica 1");
	t_free(&t);

	/* a directory block, both replicas */
	t_build(&t);
	for (unsigned k = 0; k < 2; k++) {
		where(&t, t.dir_big, 0, k, &d, &off);
		md_flip(&t.md, d, off + 300, 0x10);
	}
	snprintf(want, sizeof(want), "directory %" PRIu64 ":", t.dir_big);
	expect_fixed(&t, want);
	t_free(&t);

	/* one replica of an indirect block */
	t_build(&t);
	where(&t, t.file_big, fs_tree_tag(1, 0), 1, &d, &off);
	md_flip(&t.md, d, off + 80, 0xff);
	snprintf(want, sizeof(want), "inode %" PRIu64 " block %#" PRIx64 ": replica 1",
		 t.file_big, fs_tree_tag(1, 0));
	expect_fixed(&t, want);
	t_free(&t);

	/* both replicas of an indirect block: the file goes */
	t_build(&t);
	for (unsigned k = 0; k < 2; k++) {
		where(&t, t.file_big, fs_tree_tag(1, 0), k, &d, &off);
		md_flip(&t.md, d, off + 80, 0xff);
	}
	snprintf(want, sizeof(want), "inode %" PRIu64 " (file)", t.file_big);
	expect_fixed(&t, want);
	t_free(&t);

	/* a block map block, both replicas */
	t_build(&t);
	for (unsigned k = 0; k < 2; k++) {
		where(&t, FS_INO_BMAP, 0, k, &d, &off);
		md_flip(&t.md, d, off + FS_MBH_BYTES + 7, 0x80);
	}
	expect_fixed(&t, "block map disk 0 (nsd1) region 0 map block 0");
	t_free(&t);

	/* the inode map block, both replicas */
	t_build(&t);
	for (unsigned k = 0; k < 2; k++) {
		where(&t, FS_INO_IMAP, 0, k, &d, &off);
		md_flip(&t.md, d, off + 20, 0x01);
	}
	expect_fixed(&t, "inode map region 0");
	t_free(&t);
}

static void test_damage_claims(void)
{
	struct tfs t;
	struct fs_inode *in = malloc(sizeof(*in));
	struct fs_ptr p, q;
	struct fs_tree tr;
	char want[128];
	fs_da da;

	/* a block claimed twice by two files */
	t_build(&t);
	t_open(&t);
	fs_ds_tree(t.ds, &tr);
	CU_ASSERT_EQUAL(fs_ds_inode(t.ds, t.file_small, in, NULL), MM_OK);
	CU_ASSERT_EQUAL(fs_tree_lookup(&tr, in, 0, &p), 1);
	CU_ASSERT_EQUAL(fs_ds_inode(t.ds, t.file_big, in, NULL), MM_OK);
	tr.alloc_meta = t_ind;
	tr.free_blk = b_free;
	tr.arg = &t;
	CU_ASSERT(fs_tree_set(&tr, in, 1, &p, &q) == 1);
	CU_ASSERT_EQUAL(fs_ds_put_inode(t.ds, in), MM_OK);
	t_close(&t);
	snprintf(want, sizeof(want), "inode %" PRIu64 " block 0x1: disk", t.file_big);
	expect_fixed(&t, want);
	t_free(&t);

	/* a leaked block: in use in the map, no file has it */
	t_build(&t);
	t_open(&t);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(t.a, 5, 1, &da, NULL, 0), MM_OK);
	t_close(&t);
	expect_fixed(&t, "marked in use but used by none");
	t_free(&t);

	/* a file's block free in the map */
	t_build(&t);
	t_open(&t);
	fs_ds_tree(t.ds, &tr);
	CU_ASSERT_EQUAL(fs_ds_inode(t.ds, t.file_small, in, NULL), MM_OK);
	CU_ASSERT_EQUAL(fs_tree_lookup(&tr, in, 0, &p), 1);
	CU_ASSERT_EQUAL(fs_bmap_free(t.a, p.da[0], 16, NULL, 0), MM_OK);
	t_close(&t);
	expect_fixed(&t, "in use but marked free");
	t_free(&t);

	/* map counts that do not match the bitmap (resealed: only the counts) */
	t_build(&t);
	t_open(&t);
	{
		const struct fs_bstore *bs = fs_ds_bs(t.ds);
		uint8_t *b;
		struct fs_mbh h;

		CU_ASSERT_EQUAL_FATAL(bs->get(bs->arg, FS_INO_BMAP, 0, true, &b), MM_OK);
		CU_ASSERT_EQUAL(fs_mb_verify(b, FS_MB, FS_BT_BMAP, 9, 1, 0, &h, NULL, 0), MM_OK);
		h.a -= 3;
		fs_mb_seal(b, FS_MB, &h);
		bs->put(bs->arg, FS_INO_BMAP, 0, b, true);
	}
	t_close(&t);
	expect_fixed(&t, "its header counts are wrong");
	t_free(&t);
	free(in);
}

static void test_damage_links(void)
{
	struct tfs t;
	char want[128];
	uint64_t ino;

	/* a wrong nlink on a file and on a directory */
	t_build(&t);
	t_open(&t);
	set_nlink(&t, t.file_small, 4);
	t_close(&t);
	snprintf(want, sizeof(want), "inode %" PRIu64 " has 5 links", t.file_small);
	expect_fixed(&t, want);
	t_free(&t);

	t_build(&t);
	t_open(&t);
	set_nlink(&t, t.dir_a, 1);
	t_close(&t);
	snprintf(want, sizeof(want), "inode %" PRIu64 " has 4 links", t.dir_a);
	expect_fixed(&t, want);
	t_free(&t);

	/* an entry naming a free inode (one of the inode file), and one past
	 * the inode file */
	t_build(&t);
	t_open(&t);
	{
		struct fs_inode *in = malloc(sizeof(*in));

		for (ino = FS_FIRST_USER_INO; fs_ds_inode(t.ds, ino, in, NULL) == MM_OK &&
					      !(in->flags & FS_IF_FREE); ino++)
			;
		CU_ASSERT_EQUAL(fs_ds_inode(t.ds, ino, in, NULL), MM_OK);
		free(in);
	}
	b_link(&t, t.dir_a, "ghost", ino, 1, DT_REG);
	b_link(&t, t.dir_big, "far", 100000, 1, DT_REG);
	t_close(&t);
	snprintf(want, sizeof(want), "entry 'ghost' names inode %" PRIu64 ", which is free", ino);
	expect_fixed(&t, want);
	t_free(&t);

	/* a file no directory names: to lost+found */
	t_build(&t);
	t_open(&t);
	ino = b_file(&t, 0, NULL, NULL, 0, 0);
	t_close(&t);
	snprintf(want, sizeof(want), "inode %" PRIu64 " (1 links) is named by no directory", ino);
	expect_fixed(&t, want);
	t_free(&t);

	/* a directory no directory names */
	t_build(&t);
	t_open(&t);
	ino = b_inode(&t, S_IFDIR | 0755, 2);
	t_close(&t);
	snprintf(want, sizeof(want), "directory %" PRIu64 " is not reachable", ino);
	expect_fixed(&t, want);
	t_free(&t);
}

static void test_damage_desc(void)
{
	struct tfs t;
	uint8_t *slot = calloc(1, FS_SGD_SLOT_BYTES);

	/* a stale (here: wiped) minority descriptor copy */
	t_build(&t);
	CU_ASSERT_EQUAL(md_write(&t.md, 2, FS_SGD_SLOT0, slot, FS_SGD_SLOT_BYTES), MM_OK);
	expect_fixed(&t, "descriptor disk 2 (nsd3) does not hold");
	t_free(&t);
	free(slot);
}

/* A log in the log table with a committed transaction in it. */
struct lctx {
	struct tfs *t;
	uint64_t ino;
};

static int l_write(void *arg, uint64_t lblk, const uint8_t *data)
{
	struct lctx *l = arg;
	const struct fs_bstore *bs = fs_ds_bs(l->t->ds);
	uint8_t *b;
	int rc = bs->get(bs->arg, l->ino, lblk, true, &b);

	if (rc)
		return rc;
	memcpy(b, data, FS_MB);
	bs->put(bs->arg, l->ino, lblk, b, true);
	return MM_OK;
}

static int l_read(void *arg, uint64_t lblk, uint8_t *data)
{
	struct lctx *l = arg;
	const struct fs_bstore *bs = fs_ds_bs(l->t->ds);
	uint8_t *b;
	int rc = bs->get(bs->arg, l->ino, lblk, false, &b);

	if (rc == MM_ENOENT) {
		memset(data, 0, FS_MB);
		return MM_OK;
	}
	if (rc)
		return rc;
	memcpy(data, b, FS_MB);
	bs->put(bs->arg, l->ino, lblk, b, false);
	return MM_OK;
}

static int l_ckpt(void *arg, uint64_t lsn)
{
	(void)arg;
	(void)lsn;
	return MM_OK;
}

static void test_log(void)
{
	struct fs_fsck_report rep;
	struct run r;
	struct tfs t;
	struct lctx l = {&t, 0};
	struct fs_log_io io = {l_write, l_read, &l};
	const uint32_t nblocks = 4;
	uint8_t *rec = malloc(FS_INODE_BYTES);

	t_build(&t);
	t_open(&t);
	/* the log file: an ordinary metadata file of nblocks blocks */
	l.ino = b_inode(&t, S_IFREG | 0600, 1);
	CU_ASSERT_EQUAL(fs_log_format(&io, 9, l.ino, 1, nblocks), MM_OK);
	/* the log table: node 1 -> l.ino */
	{
		const struct fs_bstore *bs = fs_ds_bs(t.ds);
		struct fs_mbh h = {.type = FS_BT_LOGTAB, .fsid = 9, .ino = 4, .blk = 0, .a = 1};
		uint8_t *b;

		CU_ASSERT_EQUAL_FATAL(bs->get(bs->arg, 4, 0, true, &b), MM_OK);
		mm_be32_put(b + FS_MBH_BYTES + FS_LOGTAB_ENTRY, 1);
		mm_be64_put(b + FS_MBH_BYTES + FS_LOGTAB_ENTRY + 8, l.ino);
		fs_mb_seal(b, FS_MB, &h);
		bs->put(bs->arg, 4, 0, b, true);
	}
	t_close(&t);
	CU_ASSERT_EQUAL(run(&t, false, &rep, &r), MM_OK);
	CU_ASSERT_EQUAL(rep.exit, FS_FSCK_EXIT_CLEAN);
	CU_ASSERT_EQUAL(rep.logs, 1);
	dump("clean log", &r);

	/* one committed transaction: the nlink of file_small becomes 3 (a
	 * change a mount would make with the entries; here it makes fsck's
	 * verdict depend on whether the replay happened) */
	t_open(&t);
	{
		struct fs_log_params lp = {.io = io, .fsid = 9, .ino = l.ino, .node = 1,
					   .nblocks = nblocks, .need_checkpoint = l_ckpt};
		struct fs_inode *in = malloc(sizeof(*in));
		fs_log *log;
		fs_log_tx *tx;
		uint64_t lsn;

		CU_ASSERT_EQUAL_FATAL(fs_log_open(&lp, &log, NULL, 0), MM_OK);
		CU_ASSERT_EQUAL(fs_ds_inode(t.ds, t.file_small, in, NULL), MM_OK);
		fs_inode_encode(in, 9, rec);
		CU_ASSERT_EQUAL(fs_log_begin(log, fs_log_reserve(1, FS_INODE_BYTES, 0), &tx), MM_OK);
		CU_ASSERT_EQUAL(fs_log_add_bytes(tx, 0, t.file_small / 16,
						 (uint32_t)(t.file_small % 16 * FS_INODE_BYTES), rec,
						 FS_INODE_BYTES), MM_OK);
		CU_ASSERT_EQUAL(fs_log_commit(tx, &lsn), MM_OK);
		fs_log_end(tx);
		CU_ASSERT_EQUAL(fs_log_force(log, lsn), MM_OK);
		fs_log_close(log);
		free(in);
	}
	t_close(&t);
	expect_fixed(&t, "log of node 1 (inode");
	free(rec);
	t_free(&t);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{"clean: fresh and populated, -y writes nothing", test_clean},
	{"damaged blocks: inode, replicas, directory, indirect, maps", test_damage_blocks},
	{"claims: twice, leaked, free in the map, map counts", test_damage_claims},
	{"links: nlink, entry to a free inode, orphans to lost+found", test_damage_links},
	{"descriptor: a stale minority copy", test_damage_desc},
	{"log: a dirty log is replayed", test_log},
};

static void reg(void)
{
	MM_ADD_SUITE("fs_fsck", tests);
}

MM_CUNIT_MAIN(reg)
