/*
 * tests/unit/test_fs_mkfs.c - fs/mkfs.c against the contract in fs/mkfs.h:
 * fs_mkfs then fs_open_check over block sizes 64 KiB, 1 MiB and 16 MiB,
 * 1 .. 6 disks of 1 .. 64 GiB in 1 .. 5 failure groups, replication 1 .. 3
 * and usage mixes (failure group -1 disks, -R above -M); tree.c alone
 * reads every tree mkfs wrote (each replica of each indirect block
 * verified, every block written named exactly once); refusals (each
 * naming what is wrong); descriptor disks
 * (1, 3, 5, distinct groups) and damaged slots decided by majority; every
 * stored page of metadata damaged in turn is caught; the same parameters
 * give the same bytes, also over an older file system; every Nth write
 * (and read) failing gives an error naming disk and offset.
 *
 * The disks are memory: 4 KiB pages per stripe group kept in a fskit.h
 * store keyed by (disk, page), pages of zeros never stored, so a 64 GiB
 * disk costs what mkfs writes. No threads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/alloc.h"
#include "fs/format.h"
#include "fs/mkfs.h"
#include "fs/tree.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define PAGE 4096u
#define GiB (1ull << 30)
#define MAXD 8

/* ---- memory disks ---- */

struct mdisks {
	struct fk_store pg;	/* the pages not all zeros: (disk, page), PAGE bytes */
	uint32_t n;
	uint64_t size[MAXD];
	uint64_t writes, reads;
	uint64_t fail_every;	/* every Nth write fails (0: none) */
	uint64_t fail_once;	/* only the Nth write fails */
	uint64_t fail_read_every;
	uint64_t failed;
};

static void md_init(struct mdisks *m, uint32_t n, const uint64_t *size)
{
	memset(m, 0, sizeof(*m));
	fk_init(&m->pg);
	m->pg.bsize = PAGE;
	m->n = n;
	for (uint32_t i = 0; i < n; i++)
		m->size[i] = size[i];
}

static void md_free(struct mdisks *m)
{
	fk_fini(&m->pg);
}

static bool zero_page(const uint8_t *p)
{
	for (size_t i = 0; i < PAGE; i += 8)
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static int md_check(struct mdisks *m, uint32_t disk, uint64_t off, size_t len)
{
	if (disk >= m->n || off % PAGE || len % PAGE || off + len > m->size[disk])
		return MM_EINVAL;
	return MM_OK;
}

static int md_write(void *arg, uint32_t disk, uint64_t off, const void *buf, size_t len)
{
	struct mdisks *m = arg;
	const uint8_t *b = buf;
	int rc = md_check(m, disk, off, len);

	TCHECK(rc == MM_OK, "write disk %u off %" PRIu64 " len %zu", disk, off, len);
	if (rc)
		return rc;
	m->writes++;
	if ((m->fail_every && m->writes % m->fail_every == 0) || m->fail_once == m->writes) {
		m->failed++;
		return MM_EIO;
	}
	for (size_t p = 0; p < len; p += PAGE) {
		struct fk_blk *pg = fk_find(&m->pg, disk, (off + p) / PAGE);

		if (zero_page(b + p)) {
			if (pg)
				fk_del(&m->pg, pg);
			continue;
		}
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
	int rc = md_check(m, disk, off, len);

	TCHECK(rc == MM_OK, "read disk %u off %" PRIu64 " len %zu", disk, off, len);
	if (rc)
		return rc;
	m->reads++;
	if (m->fail_read_every && m->reads % m->fail_read_every == 0) {
		m->failed++;
		return MM_EIO;
	}
	for (size_t p = 0; p < len; p += PAGE) {
		struct fk_blk *pg = fk_find(&m->pg, disk, (off + p) / PAGE);

		if (pg)
			memcpy(b + p, pg->data, PAGE);
		else
			memset(b + p, 0, PAGE);
	}
	return MM_OK;
}

static struct fs_disk_io md_io(struct mdisks *m)
{
	return (struct fs_disk_io){md_read, md_write, m};
}

/* Every page of <a> is in <b> with the same bytes, and the counts agree. */
struct cmp_arg {
	struct mdisks *other;
	uint64_t diff;
};

static void cmp_one(struct fk_blk *p, void *arg)
{
	struct cmp_arg *c = arg;
	const struct fk_blk *q = fk_find(&c->other->pg, p->ino, p->blk);

	if (!q || memcmp(p->data, q->data, PAGE))
		c->diff++;
}

/* Pages of <a> missing from <b> or different there. */
static uint64_t md_missing(struct mdisks *a, struct mdisks *b)
{
	struct cmp_arg c = {b, 0};

	fk_each(&a->pg, cmp_one, &c);
	return c.diff;
}

static uint64_t md_diff(struct mdisks *a, struct mdisks *b)
{
	return md_missing(a, b) + md_missing(b, a);
}

/* ---- parameters ---- */

static const char *const names[MAXD] = {"nsd1", "nsd2", "nsd3", "nsd4",
					"nsd5", "nsd6", "nsd7", "nsd8"};

struct layout {
	uint32_t n;
	uint64_t gib[MAXD];
	int32_t fg[MAXD];
	uint8_t usage[MAXD];
	const char *pool[MAXD];
	uint8_t m, mm, r, rr;
	uint32_t ndesc;		/* expected descriptor disks */
};

static void params_of(const struct layout *l, uint32_t bsize, struct fs_mkfs_disk *d,
		      struct fs_mkfs_params *p, uint64_t *size)
{
	memset(p, 0, sizeof(*p));
	for (uint32_t i = 0; i < l->n; i++) {
		d[i] = (struct fs_mkfs_disk){.nsd_id = 0x1000 + i, .name = names[i],
					     .bytes = l->gib[i] * GiB, .failure_group = l->fg[i],
					     .usage = l->usage[i], .pool = l->pool[i]};
		size[i] = d[i].bytes;
	}
	p->device = "fs1";
	p->fsid = 7;
	p->block_size = bsize;
	p->meta_rep = l->m;
	p->meta_rep_max = l->mm;
	p->data_rep = l->r;
	p->data_rep_max = l->rr;
	p->nodes = 2;
	p->created = 1700000000;
	p->ndisks = l->n;
	p->disks = d;
}

#define DM FS_USAGE_DATA_AND_META
#define MO FS_USAGE_META_ONLY
#define DO FS_USAGE_DATA_ONLY
#define DESC FS_USAGE_DESC_ONLY

static const struct layout layouts[] = {
	/* one disk */
	{1, {1}, {1}, {DM}, {NULL}, 1, 1, 1, 1, 1},
	/* two groups, -m 2 -r 2 */
	{2, {4, 4}, {1, 2}, {DM, DM}, {NULL}, 2, 2, 2, 2, 1},
	/* three groups, everything three times */
	{3, {2, 3, 5}, {1, 2, 3}, {DM, DM, DM}, {NULL}, 3, 3, 3, 3, 3},
	/* metadataOnly and dataOnly in two groups, data also in pool "data" */
	{4, {1, 8, 1, 8}, {1, 1, 2, 2}, {MO, DO, MO, DO}, {NULL, "data", NULL, "data"},
	 2, 2, 1, 2, 1},
	/* five groups: five descriptor disks; -m 2 -M 3 */
	{5, {2, 2, 2, 2, 2}, {1, 2, 3, 4, 5}, {DM, DM, DM, DM, DM}, {NULL}, 2, 3, 1, 1, 5},
	/* six disks, four groups (one descOnly), 64 GiB disks */
	{6, {64, 64, 16, 16, 1, 1}, {1, 1, 2, 2, 3, 4}, {DM, DO, MO, DM, DESC, DM}, {NULL},
	 2, 3, 2, 2, 3},
	/* failure group -1 disks are groups of their own */
	{3, {1, 1, 1}, {-1, -1, 7}, {DM, DM, DM}, {NULL}, 1, 1, 1, 1, 3},
	/* three -1 disks are three groups: everything three times */
	{3, {1, 2, 1}, {-1, -1, -1}, {DM, DM, DM}, {NULL}, 3, 3, 3, 3, 3},
	/* -M 1 -R 2: pointers are two addresses wide for every file */
	{2, {2, 2}, {1, 2}, {DM, DM}, {NULL}, 1, 1, 1, 2, 1},
};

/* ---- mkfs + open_check ---- */

struct prog {
	char phase[8][64];
	unsigned last[8];
	unsigned nphase;
	unsigned bad;
};

static void on_progress(void *arg, const char *phase, unsigned pct)
{
	struct prog *p = arg;

	if (p->nphase == 0 || strcmp(p->phase[p->nphase - 1], phase)) {
		if (p->nphase == 8 || pct != 0) {
			p->bad++;
			return;
		}
		snprintf(p->phase[p->nphase], sizeof(p->phase[0]), "%s", phase);
		p->last[p->nphase++] = 0;
		return;
	}
	if (pct < p->last[p->nphase - 1] || pct > 100)
		p->bad++;
	p->last[p->nphase - 1] = pct;
}

static uint64_t t_pages_max;

/* mkfs <l> with <bsize> on fresh memory disks and check everything the
 * summary and the descriptor say. */
static void run_layout(const struct layout *l, uint32_t bsize, uint32_t nodes)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct mdisks md;
	struct fs_disk_io io;
	struct fs_sgd *sgd = malloc(sizeof(*sgd)), *made = malloc(sizeof(*made));
	struct fs_check_summary *sum = malloc(sizeof(*sum));
	struct prog pr = {0};
	char err[1024];
	int rc;

	CU_ASSERT_FATAL(sgd && made && sum);
	params_of(l, bsize, d, &p, size);
	p.nodes = nodes;
	md_init(&md, l->n, size);
	io = md_io(&md);
	rc = fs_mkfs(&p, &io, on_progress, &pr, made, err, sizeof(err));
	if (rc != MM_OK)
		fprintf(stderr, "\n  mkfs %u disks B %u: %s\n", l->n, bsize, err);
	CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
	CU_ASSERT_EQUAL(pr.bad, 0);
	CU_ASSERT_EQUAL(pr.nphase, 5);
	for (unsigned i = 0; i < pr.nphase; i++)
		CU_ASSERT_EQUAL(pr.last[i], 100);
	CU_ASSERT_STRING_EQUAL(pr.phase[0], "Formatting allocation maps");
	CU_ASSERT_STRING_EQUAL(pr.phase[4], "Writing descriptors");

	rc = fs_open_check(&io, l->n, FS_CHECK_FRESH, sgd, sum, err, sizeof(err));
	if (rc != MM_OK)
		fprintf(stderr, "\n  open_check %u disks B %u: %s\n", l->n, bsize, err);
	CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
	CU_ASSERT(memcmp(sgd, made, sizeof(*sgd)) == 0);
	CU_ASSERT_EQUAL(sgd->generation, 1);
	CU_ASSERT_EQUAL(sgd->block_size, bsize);
	CU_ASSERT_EQUAL(sgd->subblock_size, fs_subblock(bsize));
	CU_ASSERT_EQUAL(sgd->meta_rep, l->m);
	CU_ASSERT_EQUAL(sgd->meta_rep_max, l->mm);
	CU_ASSERT_EQUAL(sgd->data_rep, l->r);
	CU_ASSERT_EQUAL(sgd->data_rep_max, l->rr);
	{
		/* 4 per node, at least 8, fewer where the smallest disk's chunk
		 * would hold under 32 full blocks (mkfs.h, "nodes") */
		uint64_t want = nodes * 4 > 8 ? nodes * 4 : 8, smallest = UINT64_MAX;

		for (uint32_t i = 0; i < p.ndisks; i++)
			if (d[i].usage != FS_USAGE_DESC_ONLY) {
				uint64_t n = d[i].bytes > FS_RESERVED_BYTES
						     ? (d[i].bytes - FS_RESERVED_BYTES) / bsize : 0;

				if (n < smallest)
					smallest = n;
			}
		if (smallest != UINT64_MAX && smallest / 32 < want)
			want = smallest / 32 > 8 ? smallest / 32 : 8;
		CU_ASSERT_EQUAL(sgd->nregions, want);
	}
	CU_ASSERT_STRING_EQUAL(sgd->mount_point, "/gpfs/fs1");
	CHECK_U64(sum->ndesc, ==, l->ndesc);
	CHECK_U64(sum->desc_ok, ==, l->ndesc);
	CHECK_U64(sum->inodes_used, ==, 5);
	CHECK_U64(sum->inodes_free, ==, sgd->inode_limit - FS_FIRST_USER_INO);
	/* descriptor disks in distinct groups; ifile0 has -m replicas */
	for (uint32_t i = 0; i < l->n; i++)
		for (uint32_t j = 0; j < i; j++)
			if (sgd->disk[i].has_desc && sgd->disk[j].has_desc && l->fg[i] != -1)
				CU_ASSERT(l->fg[i] != l->fg[j]);
	for (unsigned k = 0; k < FS_MAX_REPLICAS; k++)
		CU_ASSERT((k < l->m) == (sgd->ifile0.da[k] != 0));
	/* per disk: metadata only where metadata goes; counts add up */
	for (uint32_t i = 0; i < l->n; i++) {
		const struct fs_check_disk *cd = &sum->disk[i];
		uint64_t spb = bsize / fs_subblock(bsize);
		uint64_t first = (FS_RESERVED_BYTES + bsize - 1) / bsize * (uint64_t)bsize;
		uint64_t want = l->usage[i] == DESC ? 0 :
				(size[i] - first) / bsize * spb;

		CHECK_U64(cd->alloc_sub, ==, want);
		CHECK_U64(cd->alloc_sub - cd->free_sub, ==, cd->meta_sub);
		CU_ASSERT(cd->free_full * spb <= cd->free_sub);
		if (l->usage[i] == DO || l->usage[i] == DESC)
			CHECK_U64(cd->meta_sub, ==, 0);
		CU_ASSERT(cd->has_desc == sgd->disk[i].has_desc);
	}
	CU_ASSERT(sum->meta_blocks > 0);
	if (md.pg.t.count > t_pages_max)
		t_pages_max = md.pg.t.count;
	ASSERT_NO_TFAILS();
	md_free(&md);
	free(sgd);
	free(made);
	free(sum);
}

static void test_matrix(void)
{
	static const uint32_t bs[] = {64u << 10, 1u << 20, 16u << 20};
	uint64_t t0 = now_us();

	for (size_t b = 0; b < sizeof(bs) / sizeof(bs[0]); b++)
		for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
			run_layout(&layouts[i], bs[b], 2);
	printf("\n  mkfs.matrix: %zu layouts x 3 block sizes in %.0f ms, at most %" PRIu64
	       " pages (%.1f MiB) stored\n", sizeof(layouts) / sizeof(layouts[0]),
	       (now_us() - t0) / 1000.0, t_pages_max, t_pages_max * 4096.0 / (1 << 20));
}

/* -n 32 (128 regions) and -n 200 on the six-disk layout; 4 MiB default block */
static void test_regions(void)
{
	uint64_t t[5];

	t[0] = now_us();
	run_layout(&layouts[5], 64u << 10, 32);
	t[1] = now_us();
	run_layout(&layouts[5], 16u << 20, SANITIZED ? 40 : 100);
	t[2] = now_us();
	run_layout(&layouts[5], 1u << 20, SANITIZED ? 64 : 200);
	t[3] = now_us();
	run_layout(&layouts[2], 4u << 20, 32);
	t[4] = now_us();
	printf("\n  mkfs.regions: six disks of 1 .. 64 GiB: -n 32 B 64 KiB %.0f ms, -n %u B 16 MiB "
	       "%.0f ms, -n %u B 1 MiB %.0f ms; three disks -n 32 B 4 MiB %.0f ms\n",
	       (t[1] - t[0]) / 1000.0, SANITIZED ? 40 : 100, (t[2] - t[1]) / 1000.0,
	       SANITIZED ? 64 : 200,
	       (t[3] - t[2]) / 1000.0, (t[4] - t[3]) / 1000.0);
}

/* ---- refusals ---- */

static void refuse(struct fs_mkfs_params *p, const char *want)
{
	struct mdisks md;
	struct fs_disk_io io;
	uint64_t size[MAXD] = {0};
	char err[512] = "";
	int rc;

	for (uint32_t i = 0; i < p->ndisks && i < MAXD; i++)
		size[i] = p->disks[i].bytes;
	md_init(&md, p->ndisks < MAXD ? p->ndisks : MAXD, size);
	io = md_io(&md);
	rc = fs_mkfs(p, &io, NULL, NULL, NULL, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_EINVAL);
	CU_ASSERT_EQUAL(md.writes, 0);
	if (!strstr(err, want)) {
		CU_FAIL("message");
		fprintf(stderr, "\n  want \"%s\" in \"%s\"\n", want, err);
	}
	CU_ASSERT_EQUAL(fs_mkfs_check(p, NULL, err, sizeof(err)), MM_EINVAL);
	md_free(&md);
}

static void test_refusals(void)
{
	struct fs_mkfs_disk d[MAXD], *many;
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct layout one = layouts[0], two = layouts[1], mix = layouts[3];

	params_of(&one, 1u << 20, d, &p, size);
	p.block_size = 96u << 10;
	refuse(&p, "block size 98304 is not a power of two in 64 KiB .. 16 MiB");
	p.block_size = 32u << 20;
	refuse(&p, "block size 33554432");
	p.block_size = 32u << 10;
	refuse(&p, "block size 32768");
	p.block_size = 1u << 20;
	p.meta_rep = 2;
	p.meta_rep_max = 1;
	refuse(&p, "-m 2 is above -M 1");
	p.meta_rep = 1;
	p.meta_rep_max = 4;
	refuse(&p, "each is 1 .. 3");
	p.meta_rep_max = 2;
	refuse(&p, "-M 2 needs metadata disks in 2 failure groups; the metadata disks are in 1");
	p.meta_rep_max = 1;
	p.data_rep_max = 2;
	refuse(&p, "-R 2 needs data disks in 2 failure groups; those of storage pool system "
	       "are in 1");
	p.data_rep_max = 1;
	p.fsid = 0;
	refuse(&p, "file system id 0");
	p.fsid = FS_FSID_MAX + 1u;
	refuse(&p, "file system id 2147483648");
	p.fsid = 7;
	p.device = "a/b";
	refuse(&p, "file system name 'a/b'");
	p.device = "fs1";
	p.mount_point = "rel";
	refuse(&p, "mount point 'rel'");
	p.mount_point = NULL;
	p.automount = "maybe";
	refuse(&p, "-A maybe");
	p.automount = NULL;
	p.log_bytes = 100000;
	refuse(&p, "log size 100000");
	p.log_bytes = 0;
	p.inode_limit = 16;
	refuse(&p, "--inode-limit 16");
	p.inode_limit = 0;
	p.nodes = FS_MKFS_MAX_NODES + 1;
	refuse(&p, "-n 1048577");
	p.nodes = 2;
	d[0].bytes = 1u << 20;
	refuse(&p, "disk nsd1: 1048576 bytes is too small: the reserved area and 4 blocks of "
	       "1048576 bytes need 5242880");
	d[0].bytes = GiB;
	d[0].failure_group = 70000;
	refuse(&p, "failure group 70000");
	d[0].failure_group = 1;
	d[0].name = "1bad";
	refuse(&p, "NSD name '1bad'");
	d[0].name = "nsd1";
	d[0].nsd_id = 0;
	refuse(&p, "NSD id 0");
	d[0].nsd_id = 1;
	d[0].usage = 9;
	refuse(&p, "usage 9");
	d[0].usage = DM;
	d[0].pool = "data";
	refuse(&p, "disk nsd1: a dataAndMetadata disk must be in storage pool system, not data");
	d[0].pool = NULL;
	d[0].usage = DO;
	refuse(&p, "no disk holds metadata");
	d[0].usage = MO;
	refuse(&p, "no disk holds data");
	p.ndisks = 0;
	refuse(&p, "no disks");

	params_of(&two, 1u << 20, d, &p, size);
	d[1].nsd_id = d[0].nsd_id;
	refuse(&p, "disks 0 (nsd1) and 1 (nsd2) are the same NSD");
	d[1].nsd_id = 99;
	d[1].name = "nsd1";
	refuse(&p, "NSD nsd1 is given twice (disks 0 and 1)");
	d[1].name = "nsd2";
	d[1].failure_group = 1;
	refuse(&p, "-M 2 needs metadata disks in 2 failure groups; the metadata disks are in 1");
	d[1].failure_group = 2;
	d[1].usage = DESC;
	d[1].bytes = FS_RESERVED_BYTES;
	refuse(&p, "a descOnly disk needs");

	/* data in pool "data" spans 2 groups; -R 3 asks for 3 */
	params_of(&mix, 64u << 10, d, &p, size);
	p.data_rep_max = 3;
	refuse(&p, "-R 3 needs data disks in 3 failure groups; those of storage pool data are in 2");
	p.data_rep_max = 2;
	p.meta_rep = 3;
	p.meta_rep_max = 3;
	refuse(&p, "-M 3 needs metadata disks in 3 failure groups; the metadata disks are in 2");

	/* failure group -1: each such disk is a group of its own */
	{
		struct layout neg = layouts[7];

		params_of(&neg, 64u << 10, d, &p, size);
		CU_ASSERT_EQUAL(fs_mkfs_check(&p, NULL, NULL, 0), MM_OK);
		d[2].usage = DO;
		refuse(&p, "-M 3 needs metadata disks in 3 failure groups; the metadata disks are in 2");
		d[2].usage = MO;
		refuse(&p, "-R 3 needs data disks in 3 failure groups; those of storage pool system "
		       "are in 2");
		d[2].usage = DM;
		d[2].failure_group = 5;
		CU_ASSERT_EQUAL(fs_mkfs_check(&p, NULL, NULL, 0), MM_OK);
		d[1].failure_group = 5;
		refuse(&p, "-M 3 needs metadata disks in 3 failure groups; the metadata disks are in 2");
		params_of(&neg, 64u << 10, d, &p, size);
	}

	/* too many disks */
	many = calloc(FS_MAX_DISKS + 1, sizeof(*many));
	CU_ASSERT_FATAL(many != NULL);
	for (uint32_t i = 0; i <= FS_MAX_DISKS; i++)
		many[i] = d[0];
	p.disks = many;
	p.ndisks = FS_MAX_DISKS + 1;
	refuse(&p, "too many disks: 1025 (at most 1024)");
	free(many);

	/* defaults: -M and -R 2 where two groups allow it, else 1 */
	{
		struct fs_sgd *s = malloc(sizeof(*s));
		char err[256];

		params_of(&two, 0, d, &p, size);
		p.meta_rep = p.meta_rep_max = p.data_rep = p.data_rep_max = 0;
		CU_ASSERT_EQUAL_FATAL(fs_mkfs_check(&p, s, err, sizeof(err)), MM_OK);
		CU_ASSERT_EQUAL(s->block_size, FS_MKFS_DEFAULT_BLOCK);
		CU_ASSERT(s->meta_rep == 1 && s->meta_rep_max == 2 && s->data_rep == 1 &&
			  s->data_rep_max == 2);
		CU_ASSERT_EQUAL(s->log_bytes, FS_MKFS_DEFAULT_LOG);
		/* one inode per 16 KiB of metadata space (8 GiB) over -m 1 */
		CHECK_U64(s->inode_limit, ==, 8 * GiB / (16u << 10));
		params_of(&one, 0, d, &p, size);
		p.meta_rep = p.meta_rep_max = p.data_rep = p.data_rep_max = 0;
		CU_ASSERT_EQUAL_FATAL(fs_mkfs_check(&p, s, err, sizeof(err)), MM_OK);
		CU_ASSERT(s->meta_rep_max == 1 && s->data_rep_max == 1);
		/* two -1 disks: two groups, so -M and -R 2 */
		params_of(&two, 0, d, &p, size);
		d[0].failure_group = d[1].failure_group = -1;
		p.meta_rep = p.meta_rep_max = p.data_rep = p.data_rep_max = 0;
		CU_ASSERT_EQUAL_FATAL(fs_mkfs_check(&p, s, err, sizeof(err)), MM_OK);
		CU_ASSERT(s->meta_rep_max == 2 && s->data_rep_max == 2);
		free(s);
	}
}

/* ---- descriptor disks ---- */

static uint32_t desc_of(const struct layout *l, bool *has)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct fs_sgd *s = malloc(sizeof(*s));
	char err[256];
	uint32_t n = 0;

	params_of(l, 1u << 20, d, &p, size);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs_check(&p, s, err, sizeof(err)), MM_OK);
	for (uint32_t i = 0; i < l->n; i++) {
		has[i] = s->disk[i].has_desc;
		n += has[i];
	}
	free(s);
	return n;
}

static void test_desc_disks(void)
{
	bool h[MAXD];
	/* group 1 holds a dataOnly disk first: its metadata disk is taken */
	struct layout a = {2, {1, 1}, {1, 1}, {DO, DM}, {NULL}, 1, 1, 1, 1, 1};
	/* four groups: three taken, the descOnly one first */
	struct layout b = {4, {1, 1, 1, 1}, {1, 2, 3, 4}, {DM, DO, DM, DESC}, {NULL},
			   1, 1, 1, 1, 3};
	/* eight disks in six groups: five taken, metadata groups before data */
	struct layout c = {8, {1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 2, 3, 4, 5, 6, 6},
			   {DO, DO, DM, MO, DO, DM, DM, MO}, {NULL}, 1, 1, 1, 1, 5};
	/* two groups: one descriptor disk */
	struct layout e = {4, {1, 1, 1, 1}, {1, 2, 1, 2}, {DM, DM, DM, DM}, {NULL},
			   1, 1, 1, 1, 1};

	CU_ASSERT_EQUAL(desc_of(&a, h), 1);
	CU_ASSERT(!h[0] && h[1]);
	CU_ASSERT_EQUAL(desc_of(&b, h), 3);
	CU_ASSERT(h[0] && !h[1] && h[2] && h[3]);
	CU_ASSERT_EQUAL(desc_of(&c, h), 5);
	/* metadata groups 2, 3, 5, 6 (disks 2, 3, 5, 6), then data group 1 (disk 0) */
	CU_ASSERT(h[0] && !h[1] && h[2] && h[3] && !h[4] && h[5] && h[6] && !h[7]);
	CU_ASSERT_EQUAL(desc_of(&e, h), 1);
	CU_ASSERT(h[0]);
}

/* ---- damage ---- */

/* mkfs <l> (B 64 KiB, -n 2) onto <md>. */
static void make(const struct layout *l, struct mdisks *md, uint32_t bsize)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct fs_disk_io io;
	char err[512];

	params_of(l, bsize, d, &p, size);
	md_init(md, l->n, size);
	io = md_io(md);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
}

static int check(struct mdisks *md, char *err, size_t errsz)
{
	struct fs_disk_io io = md_io(md);

	return fs_open_check(&io, md->n, FS_CHECK_FRESH, NULL, NULL, err, errsz);
}

static void flip(struct mdisks *md, uint32_t disk, uint64_t off)
{
	struct fk_blk *pg = fk_find(&md->pg, disk, off / PAGE);

	CU_ASSERT_FATAL(pg != NULL);
	pg->data[off % PAGE] ^= 0x10;
}

static void test_desc_majority(void)
{
	/* five descriptor disks: two damaged still open; three do not */
	struct mdisks md;
	char err[1024];

	make(&layouts[4], &md, 64u << 10);
	flip(&md, 0, FS_SGD_SLOT0 + 100);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	flip(&md, 3, FS_SGD_SLOT0 + 8);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	flip(&md, 4, FS_SGD_SLOT0 + 600);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT(strstr(err, "descriptor quorum not met") != NULL);
	CU_ASSERT(strstr(err, "descriptor disks 0 .. 4 are disks 0, 1, 2, 3, 4") != NULL);
	flip(&md, 4, FS_SGD_SLOT0 + 600);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	md_free(&md);

	/* three: one damaged opens, two do not */
	make(&layouts[2], &md, 64u << 10);
	flip(&md, 1, FS_SGD_SLOT0 + 4000);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	flip(&md, 2, FS_SGD_SLOT0 + 20);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT(strstr(err, "quorum") != NULL);
	md_free(&md);

	/* one: damaged, nothing opens; no descriptor at all */
	make(&layouts[0], &md, 64u << 10);
	flip(&md, 0, FS_SGD_SLOT0 + 20);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_ENOENT);
	md_free(&md);
	{
		uint64_t size = GiB;

		md_init(&md, 1, &size);
		CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_ENOENT);
		CU_ASSERT(strstr(err, "no valid stripe group descriptor on any of the 1 disks") != NULL);
		md_free(&md);
	}
	/* the wrong number of disks */
	make(&layouts[1], &md, 64u << 10);
	{
		struct fs_disk_io io = md_io(&md);

		CU_ASSERT_EQUAL(fs_open_check(&io, 1, 0, NULL, NULL, err, sizeof(err)), MM_EPROTO);
		CU_ASSERT(strstr(err, "names 2 disks, 1 given") != NULL);
	}
	md_free(&md);
}

struct pages {
	uint64_t *key;
	size_t n;
};

/* disk << 48 | page */
static void page_key(struct fk_blk *b, void *arg)
{
	struct pages *p = arg;

	p->key[p->n++] = b->ino << 48 | b->blk;
}

static int cmp_key(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Every stored page past the descriptor slots is metadata mkfs wrote:
 * a damaged byte in any of them is found, with the disk named. */
static void damage_each(const struct layout *l, uint32_t bsize, size_t stride)
{
	struct mdisks md;
	struct pages pg;
	char err[1024];
	size_t tried = 0, caught = 0, named = 0;
	uint64_t seed = 0x5eed, t0 = now_us();

	make(l, &md, bsize);
	pg.key = malloc(md.pg.t.count * sizeof(*pg.key));
	pg.n = 0;
	fk_each(&md.pg, page_key, &pg);
	qsort(pg.key, pg.n, sizeof(*pg.key), cmp_key);
	for (size_t i = 0; i < pg.n; i += stride) {
		uint32_t disk = (uint32_t)(pg.key[i] >> 48);
		uint64_t off = (pg.key[i] & ((1ull << 48) - 1)) * PAGE + rnd(&seed) % PAGE;
		int rc;

		if (off < FS_RESERVED_BYTES)
			continue;
		flip(&md, disk, off);
		rc = check(&md, err, sizeof(err));
		flip(&md, disk, off);
		tried++;
		caught += rc != MM_OK;
		named += rc != MM_OK && strstr(err, "disk ") != NULL;
		if (rc == MM_OK)
			fprintf(stderr, "\n  not caught: disk %u offset %" PRIu64 "\n", disk, off);
	}
	CU_ASSERT(tried > 10);
	CHECK_U64(caught, ==, tried);
	CHECK_U64(named, ==, tried);
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	printf("\n  mkfs.damage: %u disks B %u: %zu of %zu pages damaged in turn, all caught "
	       "(%.0f ms)\n", l->n, bsize, tried, pg.n, (now_us() - t0) / 1000.0);
	free(pg.key);
	md_free(&md);
}

static void test_damage_each(void)
{
	damage_each(&layouts[1], 64u << 10, SANITIZED ? 5 : 1);
	damage_each(&layouts[3], 1u << 20, SANITIZED ? 11 : 3);
	/* six disks, -M 3: the block map file has indirect blocks */
	damage_each(&layouts[5], 16u << 20, SANITIZED ? 67 : 23);
}

/* ---- the trees, as tree.c reads them ---- */

/* Every write mkfs made past the reserved area (descriptors are below). */
struct wrec {
	uint32_t disk, len;
	uint64_t off;
	unsigned hits;		/* pointers naming it */
};

struct wlog {
	struct mdisks *md;
	struct wrec *w;
	size_t n, cap;
};

static int log_write(void *arg, uint32_t disk, uint64_t off, const void *buf, size_t len)
{
	struct wlog *l = arg;
	int rc = md_write(l->md, disk, off, buf, len);

	if (rc == MM_OK && off >= FS_RESERVED_BYTES) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->w = realloc(l->w, l->cap * sizeof(*l->w));
			if (!l->w)
				abort();
		}
		l->w[l->n++] = (struct wrec){disk, (uint32_t)len, off, 0};
	}
	return rc;
}

static int log_read(void *arg, uint32_t disk, uint64_t off, void *buf, size_t len)
{
	return md_read(((struct wlog *)arg)->md, disk, off, buf, len);
}

/* A bstore of indirect blocks straight from the memory disks: replica
 * <rep> of each, found by tree.c itself (fs_tree_lookup_at one level up,
 * which gets its own ancestors the same way). */
struct tstore {
	struct mdisks *md;
	const struct fs_tree *cfg;	/* bs, fsid, bsize, maxrep */
	const struct fs_inode *in;
	unsigned rep;
	uint32_t s;
};

static int ts_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct tstore *ts = arg;
	struct fs_tree t = *ts->cfg;
	struct fs_ptr p;
	uint8_t *b;
	int rc;

	if (write || ino != ts->in->ino || !(blk & FS_TAG_IND))
		return write ? MM_ENOTSUP : MM_ENOENT;
	rc = fs_tree_lookup_at(&t, ts->in, fs_tree_tag_level(blk), fs_tree_tag_index(blk), &p);
	if (rc != 1)
		return rc < 0 ? rc : MM_ENOENT;
	if (!p.da[ts->rep])
		return MM_ENOENT;
	b = malloc(FS_MB);
	if (!b)
		return MM_ENOMEM;
	rc = md_read(ts->md, fs_da_disk(p.da[ts->rep]), fs_da_sub(p.da[ts->rep]) * ts->s, b, FS_MB);
	if (rc) {
		free(b);
		return rc;
	}
	*data = b;
	return MM_OK;
}

static void ts_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)dirty;
	free(data);
}

static int ts_punch(void *arg, uint64_t ino, uint64_t blk)
{
	(void)arg;
	(void)ino;
	(void)blk;
	return MM_ENOTSUP;
}

struct tent {
	unsigned level;
	uint64_t index;
	struct fs_ptr p;
};

struct tlist {
	struct tent *e;
	size_t n, cap;
};

static int collect_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct tlist *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			abort();
	}
	l->e[l->n++] = (struct tent){level, index, *p};
	return 0;
}

/* Mark the write of <len> bytes at <da>; false if mkfs made none. */
static bool hit(struct wlog *wl, fs_da da, uint32_t s, uint32_t len)
{
	for (size_t i = 0; i < wl->n; i++)
		if (wl->w[i].disk == fs_da_disk(da) && wl->w[i].off == fs_da_sub(da) * s &&
		    wl->w[i].len == len) {
			wl->w[i].hits++;
			return true;
		}
	return false;
}

static bool level0_has(const struct tlist *l, uint64_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].level == 0 && l->e[i].index == n)
			return true;
	return false;
}

/*
 * mkfs <l> with <bsize>, then read files 0 .. 2 with tree.c alone: every
 * indirect block, each replica in turn, passes tree.c's verification
 * (header, checksum, a = maxrep, b = its non-hole pointers); every block
 * fs_tree_lookup maps is one mkfs wrote whole (B bytes; FS_MB for an
 * indirect block) holding that file's metadata block; holes read as
 * holes; and every block mkfs wrote past the reserved area is named by
 * exactly one pointer of one replica.
 */
static void trees_of(const struct layout *l, uint32_t bsize)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct mdisks md;
	struct wlog wl = {.md = &md};
	struct fs_disk_io io = {log_read, log_write, &wl};
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	struct fs_inode *in = malloc(3 * sizeof(*in));
	uint8_t *blk = malloc(bsize);
	uint32_t s = fs_subblock(bsize), mpb = bsize / FS_MB;
	unsigned maxrep;
	size_t nind = 0, nblk = 0;
	char err[512];

	CU_ASSERT_FATAL(sgd && in && blk);
	params_of(l, bsize, d, &p, size);
	md_init(&md, l->n, size);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &io, NULL, NULL, sgd, err, sizeof(err)), MM_OK);
	maxrep = sgd->meta_rep_max > sgd->data_rep_max ? sgd->meta_rep_max : sgd->data_rep_max;
	CU_ASSERT_EQUAL_FATAL(md_read(&md, fs_da_disk(sgd->ifile0.da[0]),
				      fs_da_sub(sgd->ifile0.da[0]) * s, blk, FS_MB), MM_OK);
	for (uint64_t ino = 0; ino < 3; ino++)
		CU_ASSERT_EQUAL_FATAL(fs_inode_decode(blk + ino * FS_INODE_BYTES, sgd->fsid, ino,
						      &in[ino], err, sizeof(err)), MM_OK);
	for (uint64_t ino = 0; ino < 3; ino++) {
		struct tstore ts = {&md, NULL, &in[ino], 0, s};
		struct fs_bstore bs = {ts_get, ts_put, ts_punch, &ts};
		struct fs_tree t = {.bs = &bs, .fsid = sgd->fsid, .bsize = bsize, .maxrep = maxrep};
		struct tlist all = {0};
		uint64_t nb = (in[ino].size + bsize - 1) / bsize;
		int rc;

		ts.cfg = &t;
		CU_ASSERT_EQUAL(in[ino].meta_rep, l->m);
		/* each replica of every indirect block verifies under tree.c */
		for (unsigned r = 0; r < in[ino].meta_rep; r++) {
			struct tlist one = {0};

			ts.rep = r;
			rc = fs_tree_iterate(&t, &in[ino], 0, UINT64_MAX, FS_TREE_ITER_META, collect_fn,
					     r ? (void *)&one : (void *)&all);
			if (rc)
				fprintf(stderr, "\n  inode %" PRIu64 " replica %u: %s\n", ino, r, t.err);
			CU_ASSERT_EQUAL(rc, 0);
			if (r) {
				CU_ASSERT_EQUAL(one.n, all.n);
				for (size_t i = 0; i < one.n && i < all.n; i++)
					CU_ASSERT(one.e[i].level == all.e[i].level &&
						  one.e[i].index == all.e[i].index &&
						  !memcmp(&one.e[i].p, &all.e[i].p, sizeof(one.e[i].p)));
				free(one.e);
			}
		}
		ts.rep = 0;
		CU_ASSERT(all.n > 0);
		for (size_t i = 0; i < all.n; i++) {
			const struct tent *e = &all.e[i];
			struct fs_ptr q;

			/* lookup (and lookup_at) agree with the walk */
			CU_ASSERT_EQUAL(fs_tree_lookup_at(&t, &in[ino], e->level, e->index, &q), 1);
			CU_ASSERT(!memcmp(&q, &e->p, sizeof(q)));
			for (unsigned k = 0; k < FS_MAX_REPLICAS; k++) {
				if (k >= in[ino].meta_rep) {
					CU_ASSERT_EQUAL(e->p.da[k], 0);
					continue;
				}
				if (!hit(&wl, e->p.da[k], s, e->level ? FS_MB : bsize)) {
					CU_FAIL("a pointer names no block mkfs wrote");
					fprintf(stderr, "\n  inode %" PRIu64 " level %u index %" PRIu64
						" replica %u: %#" PRIx64 "\n", ino, e->level, e->index, k,
						e->p.da[k]);
				}
			}
			if (e->level) {
				nind++;
				continue;
			}
			nblk++;
			CU_ASSERT(e->index < nb);
			CU_ASSERT_EQUAL(fs_tree_lookup(&t, &in[ino], e->index, &q), 1);
			/* the block holds this file's metadata blocks e->index * B/MB .. */
			CU_ASSERT_EQUAL_FATAL(md_read(&md, fs_da_disk(e->p.da[0]),
						      fs_da_sub(e->p.da[0]) * s, blk, bsize), MM_OK);
			for (uint32_t m = 0; m < mpb; m++) {
				const uint8_t *mb = blk + (size_t)m * FS_MB;
				uint64_t n = e->index * mpb + m;
				struct fs_inode rec;
				bool zero = true;

				for (size_t b = 0; b < FS_MB && zero; b++)
					zero = mb[b] == 0;
				if (zero)
					continue;
				if (ino == 0) {
					CU_ASSERT_EQUAL(fs_inode_decode(mb, sgd->fsid, n * FS_INODES_PER_MB,
									&rec, err, sizeof(err)), MM_OK);
				} else {
					CU_ASSERT_EQUAL(fs_mb_verify(mb, FS_MB, ino == 1 ? FS_BT_BMAP :
								     FS_BT_IMAP, sgd->fsid, ino, n, NULL,
								     err, sizeof(err)), MM_OK);
				}
			}
			/* the neighbours that are holes read as holes */
			if (e->index + 1 < nb && !level0_has(&all, e->index + 1))
				CU_ASSERT_EQUAL(fs_tree_lookup(&t, &in[ino], e->index + 1, &q), 0);
			if (e->index > 0 && !level0_has(&all, e->index - 1))
				CU_ASSERT_EQUAL(fs_tree_lookup(&t, &in[ino], e->index - 1, &q), 0);
		}
		/* every block of the first 512 (all of a small file) */
		for (uint64_t n = 0; n < nb && n < 512; n++) {
			struct fs_ptr q;

			CU_ASSERT_EQUAL(fs_tree_lookup(&t, &in[ino], n, &q), level0_has(&all, n));
		}
		free(all.e);
	}
	/* nothing written that no pointer names, nothing named twice */
	for (size_t i = 0; i < wl.n; i++)
		if (wl.w[i].hits != 1) {
			CU_FAIL("a block mkfs wrote is not named exactly once");
			fprintf(stderr, "\n  disk %u offset %" PRIu64 " (%u bytes): named %u times\n",
				wl.w[i].disk, wl.w[i].off, wl.w[i].len, wl.w[i].hits);
		}
	CU_ASSERT(nblk >= 3);
	if (l->n > 1)
		CU_ASSERT(nind > 0);	/* the block map file is sparse: indirect blocks */
	/* and fs_open_check, which walks with tree.c too */
	{
		struct fs_disk_io mio = md_io(&md);

		CU_ASSERT_EQUAL(fs_open_check(&mio, l->n, FS_CHECK_FRESH, NULL, NULL, err,
					      sizeof(err)), MM_OK);
	}
	free(wl.w);
	md_free(&md);
	free(blk);
	free(in);
	free(sgd);
}

static void test_trees(void)
{
	static const uint32_t bs[] = {64u << 10, 1u << 20, 16u << 20};
	size_t nl = sizeof(layouts) / sizeof(layouts[0]);

	for (size_t b = 0; b < sizeof(bs) / sizeof(bs[0]); b++)
		for (size_t i = 0; i < nl; i++)
			trees_of(&layouts[i], bs[b]);
}

/* ---- same parameters, same bytes ---- */

static void test_idempotent(void)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD];
	struct mdisks a, b;
	struct fs_disk_io ia, ib;
	char err[512];

	params_of(&layouts[5], 1u << 20, d, &p, size);
	md_init(&a, layouts[5].n, size);
	md_init(&b, layouts[5].n, size);
	ia = md_io(&a);
	ib = md_io(&b);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &ia, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &ia, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &ib, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	CHECK_U64(md_diff(&a, &b), ==, 0);

	/* over an older file system of another block size and region count */
	p.block_size = 64u << 10;
	p.nodes = 40;
	p.fsid = 9;
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &ia, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	p.block_size = 1u << 20;
	p.nodes = 2;
	p.fsid = 7;
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &ia, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(check(&a, err, sizeof(err)), MM_OK);
	/* the new file system's pages are all there, as on fresh disks */
	CHECK_U64(md_missing(&b, &a), ==, 0);
	md_free(&a);
	md_free(&b);
}

/* ---- I/O faults ---- */

static void test_write_faults(void)
{
	struct fs_mkfs_disk d[MAXD];
	struct fs_mkfs_params p;
	uint64_t size[MAXD], total;
	struct mdisks md;
	struct fs_disk_io io;
	char err[512];
	size_t bad = 0, opened = 0;
	uint64_t t0 = now_us();

	params_of(&layouts[5], 1u << 20, d, &p, size);
	md_init(&md, layouts[5].n, size);
	io = md_io(&md);
	CU_ASSERT_EQUAL_FATAL(fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err)), MM_OK);
	total = md.writes;
	/* every Nth write fails */
	for (uint64_t n = 1; n <= total; n += n < 8 ? 1 : n / 4) {
		md.writes = 0;
		md.fail_every = n;
		err[0] = 0;
		if (fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err)) != MM_EIO ||
		    !strstr(err, "disk ") || !strstr(err, " offset ") || !strstr(err, "write failed"))
			bad++;
	}
	md.fail_every = 0;
	/* only the Nth: an error naming it; the disks open fully or not at all;
	 * mkfs again finishes the job */
	for (uint64_t n = 1; n <= total; n++) {
		int rc;

		md.writes = 0;
		md.fail_once = n;
		rc = fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err));
		md.fail_once = 0;
		if (rc != MM_EIO || !strstr(err, "disk ") || !strstr(err, " offset "))
			bad++;
		rc = check(&md, err, sizeof(err));
		opened += rc == MM_OK;
		if (n % 7 == 0 || n == total) {
			if (fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err)) != MM_OK ||
			    check(&md, err, sizeof(err)) != MM_OK)
				bad++;
		}
	}
	CHECK_U64(bad, ==, 0);
	/* a failed last descriptor write of three leaves a majority */
	CU_ASSERT(opened >= 1 && opened <= 2);
	printf("\n  mkfs.faults: %" PRIu64 " writes per mkfs; each failed alone; %zu of them left "
	       "a file system that opens (%.0f ms)\n", total, opened, (now_us() - t0) / 1000.0);

	/* read faults in open_check */
	bad = 0;
	md.reads = 0;
	CU_ASSERT_EQUAL(check(&md, err, sizeof(err)), MM_OK);
	total = md.reads;
	for (uint64_t n = 1; n <= total; n += n < 16 ? 1 : n / 8) {
		int rc;

		md.reads = 0;
		md.fail_read_every = n;
		rc = check(&md, err, sizeof(err));
		md.fail_read_every = 0;
		/* descriptor slots that fail count as holding nothing: a majority may
		 * still open; every other read failure is an error naming the disk */
		if (rc != MM_OK && !strstr(err, "disk"))
			bad++;
	}
	CHECK_U64(bad, ==, 0);
	ASSERT_NO_TFAILS();
	md_free(&md);
}

static void register_fs_mkfs(void)
{
	static const struct mm_test make_tests[] = {
		{"mkfs + open_check: 9 layouts x 64 KiB, 1 MiB, 16 MiB", test_matrix},
		{"tree.c reads the trees mkfs wrote", test_trees},
		{"more regions, default block size", test_regions},
		{"same parameters, same bytes; over an older file system", test_idempotent},
	};
	static const struct mm_test params[] = {
		{"refusals name what is wrong; nothing written", test_refusals},
		{"descriptor disks: 1, 3, 5 in distinct groups", test_desc_disks},
	};
	static const struct mm_test damage[] = {
		{"damaged descriptor slots: majority", test_desc_majority},
		{"every metadata page damaged in turn is caught", test_damage_each},
		{"every Nth write / read fails", test_write_faults},
	};

	MM_ADD_SUITE("fs_mkfs make", make_tests);
	MM_ADD_SUITE("fs_mkfs params", params);
	MM_ADD_SUITE("fs_mkfs damage", damage);
}

MM_CUNIT_MAIN(register_fs_mkfs)
