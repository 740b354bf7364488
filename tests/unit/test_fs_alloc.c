/*
 * tests/unit/test_fs_alloc.c - fs/alloc: block and inode allocation maps,
 * regions and placement, against the contract and map layout in
 * fs/alloc.h.
 *
 * The maps live in fskit.h's memory fs_bstore (it counts gets and puts,
 * so every path is seen to put what it got). The
 * block map is checked against a model: one byte per subblock of every
 * disk; the model predicts exactly which address each allocation must
 * return (lowest free full block; best fit, first of equals), and the map
 * blocks in the store are decoded by the documented layout and compared
 * with it bit for bit. Geometry is checked against an independent
 * computation of chunk bounds. No threads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/alloc.h"
#include "fs/format.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define FSID 0x5eed1234u
#define MIB (1u << 20)

/* Assert that <err> mentions <what>, printing it if not. */
#define CHECK_MSG(err, what)                                                          \
	do {                                                                          \
		CU_ASSERT(strstr((err), (what)) != NULL);                             \
		if (!strstr((err), (what)))                                           \
			fprintf(stderr, "  line %d: \"%s\" lacks \"%s\"\n", __LINE__, \
				(err), (what));                                       \
	} while (0)

/* ---- the memory block store (fskit.h), and snapshots of it ---- */

/* A copy of every block, to show later that nothing changed. */
struct snap {
	size_t n;
	struct { uint64_t ino, blk; uint8_t *data; } *v;
};

static void snap_one(struct fk_blk *b, void *arg)
{
	struct snap *sn = arg;

	sn->v[sn->n].ino = b->ino;
	sn->v[sn->n].blk = b->blk;
	sn->v[sn->n].data = malloc(FS_MB);
	memcpy(sn->v[sn->n].data, b->data, FS_MB);
	sn->n++;
}

static void ms_snap(struct fk_store *s, struct snap *sn)
{
	sn->n = 0;
	sn->v = calloc(s->t.count + 1, sizeof(*sn->v));
	fk_each(s, snap_one, sn);
}

/* Blocks of <sn> that differ now (or are gone). */
static size_t ms_changed(struct fk_store *s, struct snap *sn)
{
	size_t bad = 0;

	for (size_t i = 0; i < sn->n; i++) {
		uint8_t *now = fk_data(s, sn->v[i].ino, sn->v[i].blk);

		bad += !now || memcmp(now, sn->v[i].data, FS_MB) != 0;
	}
	return bad;
}

static void snap_free(struct snap *sn)
{
	for (size_t i = 0; i < sn->n; i++)
		free(sn->v[i].data);
	free(sn->v);
}

/* ---- descriptors ---- */

static struct fs_sgd *mk_sgd(uint32_t bsize, uint32_t nreg, uint32_t ndisks, const uint64_t *subs)
{
	struct fs_sgd *s = calloc(1, sizeof(*s));

	s->version = FS_FORMAT_VERSION;
	s->fsid = 0xabcdull << 32 | FSID;
	snprintf(s->device, sizeof(s->device), "fs1");
	s->block_size = bsize;
	s->subblock_size = fs_subblock(bsize);
	s->mb_size = FS_MB;
	s->inode_size = FS_INODE_BYTES;
	s->meta_rep = s->meta_rep_max = s->data_rep = s->data_rep_max = 1;
	s->nregions = nreg;
	s->inode_limit = 1u << 20;
	s->ndisks = ndisks;
	for (uint32_t d = 0; d < ndisks; d++) {
		struct fs_sgd_disk *k = &s->disk[d];

		snprintf(k->name, sizeof(k->name), "nsd%u", d);
		k->nsd_id = 100 + d;
		k->failure_group = (int32_t)d;
		k->usage = FS_USAGE_DATA_AND_META;
		k->status = FS_DS_READY;
		k->avail = FS_DA_UP;
		snprintf(k->pool, sizeof(k->pool), "system");
		k->subblocks = subs ? subs[d] : 0;
	}
	return s;
}

/* The first allocatable subblock, computed here on its own. */
static uint64_t t_first(uint32_t b)
{
	uint64_t blk0 = MIB % b ? MIB / b + 1 : MIB / b;

	return blk0 * (b / fs_subblock(b));
}

static struct fs_alloc *open_ok(const struct fs_sgd *sgd, struct fk_store *ms)
{
	struct fs_bstore bs = ms->bs;
	struct fs_alloc *a = NULL;
	char err[256] = "";
	int rc = fs_alloc_open(sgd, &bs, &a, err, sizeof(err));

	CU_ASSERT_EQUAL(rc, MM_OK);
	if (rc)
		fprintf(stderr, "  fs_alloc_open: %s\n", err);
	return a;
}

static void format_all(struct fs_alloc *a, uint32_t ndisks)
{
	uint32_t disks[16];
	char err[256] = "";
	int rc;

	for (uint32_t d = 0; d < ndisks; d++)
		disks[d] = d;
	rc = fs_bmap_format(a, disks, ndisks, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_OK);
	if (rc)
		fprintf(stderr, "  fs_bmap_format: %s\n", err);
}

static const uint32_t block_sizes[] = {
	64u << 10, 128u << 10, 256u << 10, 512u << 10, 1u << 20,
	2u << 20, 4u << 20, 8u << 20, 16u << 20,
};
#define NBSIZES (sizeof(block_sizes) / sizeof(block_sizes[0]))

/* ---- geometry: chunks cover every allocatable subblock once ---- */

static void check_geometry(uint32_t b, uint32_t nreg, uint64_t size)
{
	uint32_t spb = b / fs_subblock(b);
	uint64_t first = t_first(b), nblocks, next, maxn = 0, minn = UINT64_MAX, nextmap;
	struct fs_sgd *sgd = mk_sgd(b, nreg, 2, (uint64_t[]){size, size});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	struct fs_chunk c;
	uint32_t r;

	if (!a)
		goto out;
	nblocks = size > first ? (size - first) / spb : 0;
	next = first;
	nextmap = 0;
	for (r = 0; r < nreg; r++) {
		CU_ASSERT_EQUAL_FATAL(fs_bmap_chunk(a, 1, r, &c), MM_OK);
		/* consecutive, aligned, whole blocks, map blocks disjoint */
		CHECK_U64(c.start, ==, next);
		CHECK_U64(c.start % spb, ==, 0);
		CHECK_U64(c.nsub % spb, ==, 0);
		CHECK_U64(c.nmap, ==, (c.nsub / spb + fs_alloc_bpm(a) - 1) / fs_alloc_bpm(a));
		CHECK_U64(c.map0 >> 32, ==, 1);
		CHECK_U64(c.map0, >=, nextmap);
		nextmap = c.map0 + c.nmap;
		next = c.start + c.nsub;
		maxn = c.nsub > maxn ? c.nsub : maxn;
		minn = c.nsub < minn ? c.nsub : minn;
		if (c.nsub) {
			uint64_t probe[3] = {c.start, c.start + c.nsub / 2, c.start + c.nsub - 1};

			for (int i = 0; i < 3; i++) {
				uint32_t rr = UINT32_MAX;

				CU_ASSERT_EQUAL(fs_bmap_region_of(a, fs_da_make(1, probe[i]), &rr),
						MM_OK);
				CHECK_U64(rr, ==, r);
			}
		}
	}
	/* together: [first, first + nblocks * spb), sizes within one block */
	CHECK_U64(next, ==, first + nblocks * spb);
	CHECK_U64(maxn - minn, <=, spb);
	CU_ASSERT_EQUAL(fs_bmap_chunk(a, 1, nreg, &c), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_chunk(a, 2, 0, &c), MM_EINVAL);
	/* nothing outside */
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, fs_da_make(1, first - 1), &r), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, fs_da_make(1, 0), &r), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, fs_da_make(1, first + nblocks * spb), &r), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, fs_da_make(2, first), &r), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, FS_DA_NONE, &r), MM_EINVAL);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

static void test_geometry(void)
{
	static const uint32_t nregs[] = {1, 2, 3, 7, 8, 64, 1000};

	for (size_t i = 0; i < NBSIZES; i++) {
		uint32_t b = block_sizes[i], spb = b / fs_subblock(b);
		uint64_t first = t_first(b), bpm = (FS_MB - FS_MBH_BYTES) * 8 / spb;
		uint64_t sizes[] = {
			0, first - 1, first, first + 1, first + spb - 1, first + spb,
			first + spb * 5 + 3, first + spb * 1000 + 7,
			first + spb * (bpm * 3 + 17) + spb - 1,
		};

		/* the first full block at or after 1 MiB */
		CHECK_U64(first * fs_subblock(b), >=, MIB);
		CHECK_U64((first - spb) * fs_subblock(b), <, MIB);
		CHECK_U64(first % spb, ==, 0);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t n = 0; n < sizeof(nregs) / sizeof(nregs[0]); n++)
				check_geometry(b, nregs[n], sizes[s]);
	}
}

static void test_open_refusals(void)
{
	struct fs_sgd *sgd = mk_sgd(256u << 10, 4, 1, (uint64_t[]){1u << 20});
	struct fk_store *ms = fk_new();
	struct fs_bstore bs = ms->bs;
	struct fs_alloc *a = NULL;
	char err[256];

	sgd->block_size = 96u << 10;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_EINVAL);
	sgd->block_size = 256u << 10;
	sgd->subblock_size = 4096;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_EINVAL);
	sgd->subblock_size = 8192;
	sgd->nregions = 0;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_EINVAL);
	sgd->nregions = 4;
	sgd->inode_limit = 16;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_EINVAL);
	sgd->inode_limit = 1000;
	sgd->disk[0].subblocks = 1ull << 48;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_EINVAL);
	CHECK_MSG(err, "nsd0");
	CU_ASSERT_PTR_NULL(a);
	sgd->disk[0].subblocks = 1u << 20;
	CU_ASSERT_EQUAL(fs_alloc_open(sgd, &bs, &a, err, sizeof(err)), MM_OK);
	CHECK_U64(fs_alloc_spb(a), ==, 32);
	CHECK_U64(fs_alloc_bpm(a), ==, 16368);
	fs_alloc_close(a);
	free(sgd);
	fk_free(ms);
}

/* ---- the model ---- */

struct model {
	uint32_t nd, nreg, spb;
	uint64_t size[8];
	uint8_t *used[8];	/* per subblock of each disk: 1 in use */
};

static void model_init(struct model *m, const struct fs_sgd *sgd)
{
	memset(m, 0, sizeof(*m));
	m->nd = sgd->ndisks;
	m->nreg = sgd->nregions;
	m->spb = sgd->block_size / sgd->subblock_size;
	for (uint32_t d = 0; d < m->nd; d++) {
		m->size[d] = sgd->disk[d].subblocks;
		m->used[d] = calloc(m->size[d] + 1, 1);
	}
}

static void model_fini(struct model *m)
{
	for (uint32_t d = 0; d < m->nd; d++)
		free(m->used[d]);
}

static void model_counts(const struct model *m, uint32_t d, const struct fs_chunk *c,
			 struct fs_bmap_count *n)
{
	n->free_sub = n->free_full = 0;
	for (uint64_t b = c->start; b < c->start + c->nsub; b += m->spb) {
		uint32_t f = 0;

		for (uint32_t k = 0; k < m->spb; k++)
			f += !m->used[d][b + k];
		n->free_sub += f;
		n->free_full += f == m->spb;
	}
}

/* Where a full block must come from: the lowest free one. */
static uint64_t model_full(const struct model *m, uint32_t d, const struct fs_chunk *c)
{
	for (uint64_t b = c->start; b < c->start + c->nsub; b += m->spb) {
		uint32_t k;

		for (k = 0; k < m->spb && !m->used[d][b + k]; k++)
			;
		if (k == m->spb)
			return b;
	}
	return UINT64_MAX;
}

/* Where a fragment of <k> must go: the shortest run >= k inside a partly
 * used block (first of equals), else the lowest free block's start. */
static uint64_t model_frag(const struct model *m, uint32_t d, const struct fs_chunk *c, uint32_t k)
{
	uint64_t best = UINT64_MAX, bestlen = UINT64_MAX;

	for (uint64_t b = c->start; b < c->start + c->nsub; b += m->spb) {
		uint32_t f = 0, s = 0;

		for (uint32_t x = 0; x < m->spb; x++)
			f += !m->used[d][b + x];
		if (f == 0 || f == m->spb)
			continue;
		while (s < m->spb) {
			uint32_t e = s;

			if (m->used[d][b + s]) {
				s++;
				continue;
			}
			while (e < m->spb && !m->used[d][b + e])
				e++;
			if (e - s >= k && e - s < bestlen) {
				bestlen = e - s;
				best = b + s;
			}
			s = e;
		}
	}
	return best != UINT64_MAX ? best : model_full(m, d, c);
}

/* The maps in the store equal the model bit for bit (decoded by the
 * documented layout), header counts equal the bitmaps, fs_bmap_count and
 * fs_bmap_check agree, and every get was put. */
static void model_check(struct fs_alloc *a, struct fk_store *ms, const struct model *m)
{
	uint32_t bpm = fs_alloc_bpm(a);
	char err[256] = "";

	for (uint32_t r = 0; r < m->nreg; r++) {
		struct fs_bmap_count tot = {0}, all;

		for (uint32_t d = 0; d < m->nd; d++) {
			struct fs_bmap_count want, got, chk;
			struct fs_chunk c;
			uint64_t bad = 0;

			fs_bmap_chunk(a, d, r, &c);
			model_counts(m, d, &c, &want);
			CU_ASSERT_EQUAL(fs_bmap_count(a, r, d, &got, err, sizeof(err)), MM_OK);
			CHECK_U64(got.free_sub, ==, want.free_sub);
			CHECK_U64(got.free_full, ==, want.free_full);
			CU_ASSERT_EQUAL(fs_bmap_check(a, r, d, &chk, err, sizeof(err)), MM_OK);
			CHECK_U64(chk.free_sub, ==, want.free_sub);
			CHECK_U64(chk.free_full, ==, want.free_full);
			tot.free_sub += want.free_sub;
			tot.free_full += want.free_full;
			for (uint32_t j = 0; j < c.nmap; j++) {
				const uint8_t *blk = fk_data(ms, FS_INO_BMAP, c.map0 + j);
				const uint8_t *bits = blk + FS_MBH_BYTES;
				uint64_t s0 = c.start + (uint64_t)j * bpm * m->spb;
				uint64_t n = c.start + c.nsub - s0;

				CU_ASSERT_PTR_NOT_NULL_FATAL(blk);
				n = n < (uint64_t)bpm * m->spb ? n : (uint64_t)bpm * m->spb;
				for (uint64_t i = 0; i < n; i++)
					bad += (uint8_t)(bits[i / 8] >> (i % 8) & 1) !=
					       m->used[d][s0 + i];
			}
			CHECK_U64(bad, ==, 0);
		}
		CU_ASSERT_EQUAL(fs_bmap_count(a, r, FS_DA_DISK_NONE, &all, err, sizeof(err)), MM_OK);
		CHECK_U64(all.free_sub, ==, tot.free_sub);
		CHECK_U64(all.free_full, ==, tot.free_full);
	}
	CU_ASSERT_EQUAL(ms->held, 0);
}

struct ext {
	fs_da da;
	uint32_t n;
};

struct model_stats {
	uint64_t ops, allocs, frees, nospace, doubles, checks;
};

/* Random allocations and frees on <nd> disks of block size <b>. */
static void run_model(uint32_t b, uint64_t seed, unsigned nops, struct model_stats *st)
{
	uint64_t s = seed, first = t_first(b), sizes[4];
	uint32_t spb = b / fs_subblock(b), nreg = 1 + (uint32_t)(rnd(&s) % 9), nd = 4;
	struct ext *ex = calloc(nops + 1, sizeof(*ex)), ring[64];
	unsigned nex = 0, nring = 0, nrange = 0, ndouble = 0, nalloc = 0, nfree = 0;
	struct fk_store *ms = fk_new();
	struct model m;
	struct fs_sgd *sgd;
	struct fs_alloc *a;
	char err[256] = "";

	sizes[0] = first + spb * (50 + rnd(&s) % 350) + rnd(&s) % spb;
	sizes[1] = first + spb * 3 + 1;		/* fewer blocks than regions, often */
	sizes[2] = first + spb * (100 + rnd(&s) % 1900) + rnd(&s) % spb;
	sizes[3] = first + spb * 100;		/* descOnly: holds nothing */
	sgd = mk_sgd(b, nreg, nd, sizes);
	sgd->disk[3].usage = FS_USAGE_DESC_ONLY;
	model_init(&m, sgd);
	a = open_ok(sgd, ms);
	if (!a)
		goto out;
	format_all(a, nd);
	model_check(a, ms, &m);
	for (unsigned op = 0; op < nops; op++) {
		unsigned x = (unsigned)(rnd(&s) % 100), alloc_pct = op < nops * 6 / 10 ? 75 : 35;

		if (x < alloc_pct || nex == 0) {
			/* mostly the big disks; the tiny and the descOnly one now and then */
			uint32_t w = (uint32_t)(rnd(&s) % 100), r = (uint32_t)(rnd(&s) % nreg), k, rr;
			uint32_t d = w < 40 ? 0 : w < 85 ? 2 : w < 95 ? 1 : 3;
			bool frag = rnd(&s) % 10 < 6;
			struct fs_chunk c;
			uint64_t want, sub;
			fs_da da = 0;
			int rc;

			k = frag ? 1 + (uint32_t)(rnd(&s) % spb) : spb;
			fs_bmap_chunk(a, d, r, &c);
			want = frag ? model_frag(&m, d, &c, k) : model_full(&m, d, &c);
			rc = frag ? fs_bmap_alloc_frag(a, r, d, k, &da, err, sizeof(err))
				  : fs_bmap_alloc_block(a, r, d, &da, err, sizeof(err));
			if (want == UINT64_MAX) {
				CU_ASSERT_EQUAL(rc, MM_ERANGE);
				nrange++;
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
			sub = fs_da_sub(da);
			CHECK_U64(fs_da_disk(da), ==, d);
			CHECK_U64(sub, ==, want);
			CHECK_U64(sub * fs_subblock(b), >=, MIB);
			CHECK_U64((sub - first) / spb, ==, (sub + k - 1 - first) / spb);
			CU_ASSERT_EQUAL(fs_bmap_region_of(a, da, &rr), MM_OK);
			CHECK_U64(rr, ==, r);
			for (uint32_t i = 0; i < k; i++) {
				CU_ASSERT_EQUAL(m.used[d][sub + i], 0);	/* never handed out twice */
				m.used[d][sub + i] = 1;
			}
			ex[nex++] = (struct ext){da, k};
			nalloc++;
		} else if (x < alloc_pct + 5 && nring) {
			/* free again what was freed: refused unless all of it is in use again */
			struct ext e = ring[rnd(&s) % nring];
			uint32_t d = fs_da_disk(e.da), inuse = 0;
			int rc;

			for (uint32_t i = 0; i < e.n; i++)
				inuse += m.used[d][fs_da_sub(e.da) + i];
			if (inuse == e.n)
				continue;
			rc = fs_bmap_free(a, e.da, e.n, err, sizeof(err));
			CU_ASSERT_EQUAL(rc, MM_ESTATE);
			if (rc == MM_ESTATE)
				CHECK_MSG(err, "double free");
			ndouble++;
		} else {
			unsigned i = (unsigned)(rnd(&s) % nex);
			struct ext e = ex[i];
			uint32_t d = fs_da_disk(e.da), t = e.n;
			int rc;

			/* the whole run, or its tail (a file shrinking) */
			if (e.n > 1 && rnd(&s) % 3 == 0)
				t = 1 + (uint32_t)(rnd(&s) % (e.n - 1));
			rc = fs_bmap_free(a, e.da + (e.n - t), t, err, sizeof(err));
			CU_ASSERT_EQUAL(rc, MM_OK);
			if (rc)
				fprintf(stderr, "  free: %s\n", err);
			for (uint32_t k = e.n - t; k < e.n; k++)
				m.used[d][fs_da_sub(e.da) + k] = 0;
			ring[nring < 64 ? nring++ : rnd(&s) % 64] = (struct ext){e.da + (e.n - t), t};
			nfree++;
			if (t == e.n)
				ex[i] = ex[--nex];
			else
				ex[i].n -= t;
		}
		if (op % 1000 == 999)
			model_check(a, ms, &m);
	}
	model_check(a, ms, &m);
	CHECK_U64(nrange, >, 0);	/* the small disks ran full */
	CHECK_U64(ndouble, >, 0);
	st->ops += nops;
	st->allocs += nalloc;
	st->frees += nfree;
	st->nospace += nrange;
	st->doubles += ndouble;
	st->checks += nops / 1000 + 3;
	while (nex) {
		nex--;
		CU_ASSERT_EQUAL(fs_bmap_free(a, ex[nex].da, ex[nex].n, err, sizeof(err)), MM_OK);
		for (uint32_t k = 0; k < ex[nex].n; k++)
			m.used[fs_da_disk(ex[nex].da)][fs_da_sub(ex[nex].da) + k] = 0;
	}
	model_check(a, ms, &m);
	/* the reserved area and the descOnly disk were never in use */
	for (uint32_t d = 0; d < nd; d++) {
		uint64_t used = 0;

		for (uint64_t i = 0; i < m.size[d]; i++)
			used += m.used[d][i];
		CHECK_U64(used, ==, 0);
	}
	fs_alloc_close(a);
out:
	model_fini(&m);
	free(sgd);
	free(ex);
	fk_free(ms);
}

static void test_model_all_sizes(void)
{
	unsigned nops = SANITIZED ? 1500 : 6000;
	struct model_stats st = {0};
	uint64_t t0 = now_us();

	for (size_t i = 0; i < NBSIZES; i++)
		for (uint64_t seed = 1; seed <= 2; seed++)
			run_model(block_sizes[i], seed * 0x9e3779b97f4a7c15ull + i, nops, &st);
	printf("\n  fs_alloc.model: %" PRIu64 " ops over %zu block sizes: %" PRIu64 " allocations, %"
	       PRIu64 " frees, %" PRIu64 " no-space answers, %" PRIu64 " double frees refused, %"
	       PRIu64 " full map comparisons, %.2f s\n", st.ops, NBSIZES, st.allocs, st.frees,
	       st.nospace, st.doubles, st.checks, (double)(now_us() - t0) / 1e6);
}

/* ---- chunks of several map blocks ---- */

/* Reseal block map block <mapblk> with the counts of its first <covered>
 * blocks' bits (a test doctoring the bitmap). */
static void reseal_bmap(uint8_t *blk, uint64_t mapblk, uint32_t spb, uint64_t covered)
{
	struct fs_mbh h = {.type = FS_BT_BMAP, .fsid = FSID, .ino = FS_INO_BMAP, .blk = mapblk};

	for (uint64_t i = 0; i < covered; i++) {
		uint32_t f = 0;

		for (uint32_t k = 0; k < spb; k++)
			f += !(blk[FS_MBH_BYTES + (i * spb + k) / 8] >> ((i * spb + k) % 8) & 1);
		h.a += f;
		h.b += f == spb;
	}
	fs_mb_seal(blk, FS_MB, &h);
}

static void multi_map(uint32_t b)
{
	uint32_t spb = b / fs_subblock(b), bpm = (FS_MB - FS_MBH_BYTES) * 8 / spb, r;
	uint64_t first = t_first(b), per_chunk = 2ull * bpm + 5, st;
	struct fs_sgd *sgd = mk_sgd(b, 2, 1, (uint64_t[]){first + 2 * per_chunk * spb + 3});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	struct fs_bmap_count n;
	struct fs_chunk c;
	uint8_t *m0, *m1;
	char err[256] = "";
	fs_da da;

	if (!a)
		goto out;
	format_all(a, 1);
	fs_bmap_chunk(a, 0, 1, &c);
	CHECK_U64(c.nmap, ==, 3);
	CHECK_U64(c.map0, ==, 3);
	CHECK_U64(c.nsub, ==, per_chunk * spb);
	st = c.start;
	CHECK_U64(ms->t.count, ==, 6);		/* map-file blocks 0 .. 5 */
	m0 = fk_data(ms, FS_INO_BMAP, 3);
	m1 = fk_data(ms, FS_INO_BMAP, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m1);
	CU_ASSERT_PTR_NOT_NULL(fk_data(ms, FS_INO_BMAP, 5));
	/* map block 0: all in use but subblocks 0 .. 2 of its block 7 */
	memset(m0 + FS_MBH_BYTES, 0xff, (size_t)bpm * spb / 8);
	m0[FS_MBH_BYTES + 7 * spb / 8] = 0xf8;
	reseal_bmap(m0, 3, spb, bpm);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 1, 0, 2, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, st + 7 * spb));
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 1, 0, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, st + (uint64_t)bpm * spb));
	/* map block 1 full too: the last five blocks, in map block 2 */
	memset(m1 + FS_MBH_BYTES, 0xff, (size_t)bpm * spb / 8);
	reseal_bmap(m1, 4, spb, bpm);
	for (uint64_t i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 1, 0, &da, err, sizeof(err)), MM_OK);
		CHECK_U64(da, ==, fs_da_make(0, st + (2ull * bpm + i) * spb));
	}
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 1, 0, &da, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 1, 0, 2, &da, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 1, 0, 1, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, st + 7 * spb + 2));
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 1, 0, 1, &da, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 1, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, 0);
	/* frees land in the right map block */
	da = fs_da_make(0, st + (2ull * bpm + 3) * spb);
	CU_ASSERT_EQUAL(fs_bmap_region_of(a, da, &r), MM_OK);
	CHECK_U64(r, ==, 1);
	CU_ASSERT_EQUAL(fs_bmap_free(a, da, spb, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_free(a, da, spb, err, sizeof(err)), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(0, st + ((uint64_t)bpm + 100) * spb + 1), 3, err,
				    sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 1, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, spb + 3);
	CHECK_U64(n.free_full, ==, 1);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 1, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, spb + 3);
	/* region 0 untouched */
	CU_ASSERT_EQUAL(fs_bmap_count(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, per_chunk * spb);
	CHECK_U64(n.free_full, ==, per_chunk);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, NULL, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

static void test_multi_map_blocks(void)
{
	multi_map(64u << 10);
	multi_map(16u << 20);
}

/* ---- full disks, empty chunks, bad arguments ---- */

static void test_full_and_enospc(void)
{
	const uint32_t b = 256u << 10, spb = 32;
	uint64_t first = t_first(b);
	struct fs_sgd *sgd = mk_sgd(b, 5, 3, (uint64_t[]){first + 10 * spb, first + 2 * spb + 31,
							    first - 5});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	struct fs_bmap_count n;
	struct fs_chunk c;
	fs_da da, da1;
	char err[256] = "";

	if (!a)
		goto out;
	format_all(a, 3);
	/* disk 0: two blocks per region */
	fs_bmap_chunk(a, 0, 4, &c);
	CHECK_U64(c.nsub, ==, 2 * spb);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 4, 0, &da1, err, sizeof(err)), MM_OK);
	CHECK_U64(da1, ==, fs_da_make(0, c.start));
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 4, 0, &da, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 4, 0, &da, err, sizeof(err)), MM_ERANGE);
	CHECK_MSG(err, "region 4");
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 4, 0, 1, &da, err, sizeof(err)), MM_ERANGE);
	for (uint32_t r = 0; r < 4; r++) {
		CU_ASSERT_EQUAL(fs_bmap_count(a, r, 0, &n, err, sizeof(err)), MM_OK);
		CHECK_U64(n.free_full, ==, 2);
	}
	/* a freed block takes a fragment, then the best fit of the rest */
	CU_ASSERT_EQUAL(fs_bmap_free(a, da1, spb, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 4, 0, 1, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, da1);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 4, 0, spb - 1, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, da1 + 1);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 4, 0, 1, &da, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 4, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, 0);
	/* a whole block freed in two pieces counts as a free block again */
	CU_ASSERT_EQUAL(fs_bmap_free(a, da1 + 1, spb - 1, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 4, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_full, ==, 0);
	CU_ASSERT_EQUAL(fs_bmap_free(a, da1, 1, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 4, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_full, ==, 1);
	/* disk 1: 2 blocks over 5 regions: chunks of 0, 0, 1, 0, 1 blocks */
	for (uint32_t r = 0; r < 5; r++) {
		uint64_t want = r == 2 || r == 4;

		fs_bmap_chunk(a, 1, r, &c);
		CHECK_U64(c.nsub, ==, want * spb);
		CU_ASSERT_EQUAL(fs_bmap_count(a, r, 1, &n, err, sizeof(err)), MM_OK);
		CHECK_U64(n.free_full, ==, want);
		CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, r, 1, &da, err, sizeof(err)),
				want ? MM_OK : MM_ERANGE);
		CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, r, 1, &da, err, sizeof(err)), MM_ERANGE);
	}
	/* disk 2 is smaller than the reserved area */
	for (uint32_t r = 0; r < 5; r++) {
		CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, r, 2, 3, &da, err, sizeof(err)), MM_ERANGE);
		CU_ASSERT_EQUAL(fs_bmap_count(a, r, 2, &n, err, sizeof(err)), MM_OK);
		CHECK_U64(n.free_sub, ==, 0);
	}
	/* bad arguments */
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 5, 0, &da, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 0, 3, &da, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 0, &da, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, spb + 1, &da, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(0, 1), 1, err, sizeof(err)), MM_EINVAL);
	CHECK_MSG(err, "no allocation region");
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(0, first + spb - 1), 2, err, sizeof(err)),
			MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(0, first), 0, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 5, FS_DA_DISK_NONE, &n, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* ---- busy space: freed, not yet durable, never handed out ---- */

struct busy_set {
	uint32_t d;
	uint64_t sub[4];
	uint32_t mask[4];
	int n;
	int calls;
};

static uint32_t busy_fn(void *arg, uint32_t d, uint64_t sub)
{
	struct busy_set *b = arg;

	b->calls++;
	for (int i = 0; i < b->n; i++)
		if (d == b->d && sub == b->sub[i])
			return b->mask[i];
	return 0;
}

static void test_busy(void)
{
	const uint32_t b = 256u << 10, spb = 32;
	uint64_t first = t_first(b);
	struct fs_sgd *sgd = mk_sgd(b, 1, 1, (uint64_t[]){first + 4 * spb});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	struct busy_set bs = {.d = 0};
	struct fs_bmap_count n;
	fs_da da, got[4];
	char err[256] = "";

	if (!a)
		goto out;
	format_all(a, 1);
	fs_alloc_set_busy(a, busy_fn, &bs);
	/* blocks 0 and 2 busy (one whole, one in part): full blocks come
	 * from 1 and 3, and then none */
	bs.n = 2;
	bs.sub[0] = first;
	bs.mask[0] = UINT32_MAX;
	bs.sub[1] = first + 2 * spb;
	bs.mask[1] = 0xf0;
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 0, 0, &got[0], err, sizeof(err)), MM_OK);
	CHECK_U64(got[0], ==, fs_da_make(0, first + spb));
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 0, 0, &got[1], err, sizeof(err)), MM_OK);
	CHECK_U64(got[1], ==, fs_da_make(0, first + 3 * spb));
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 0, 0, &da, err, sizeof(err)), MM_ERANGE);
	CHECK_MSG(err, "not yet durable");
	CU_ASSERT(bs.calls > 0);
	/* a fragment fits around the busy run of block 2: subblocks 0-3,
	 * then 8 onward; never 4-7 nor block 0 */
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 4, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, first + 2 * spb));
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 20, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, first + 2 * spb + 8));
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 5, &da, err, sizeof(err)), MM_ERANGE);
	/* the counts stay true to the bitmaps */
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, spb + 4 + 4);
	CHECK_U64(n.free_full, ==, 1);
	/* durable now: everything free is handed out again */
	bs.n = 0;
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 4, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, first + 2 * spb + 4));
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 0, 0, &da, err, sizeof(err)), MM_OK);
	CHECK_U64(da, ==, fs_da_make(0, first));
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, 4);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* A fragment grows where it is only into free, not busy subblocks of its
 * own full block; a refusal changes nothing. */
static void test_extend(void)
{
	const uint32_t b = 256u << 10, spb = 32;
	uint64_t first = t_first(b);
	struct fs_sgd *sgd = mk_sgd(b, 1, 1, (uint64_t[]){first + 4 * spb});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	struct busy_set bs = {.d = 0};
	struct fs_bmap_count n;
	fs_da f1, f2;
	char err[256] = "";

	if (!a)
		goto out;
	format_all(a, 1);
	fs_alloc_set_busy(a, busy_fn, &bs);
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 3, &f1, err, sizeof(err)), MM_OK);
	CHECK_U64(f1, ==, fs_da_make(0, first));
	/* 3 -> 10 subblocks: 3 .. 9 were free */
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f1, 3, 10, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, 4 * spb - 10);
	/* the next fragment goes after it, so it cannot grow into that */
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 0, 0, 2, &f2, err, sizeof(err)), MM_OK);
	CHECK_U64(f2, ==, fs_da_make(0, first + 10));
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f1, 10, 11, err, sizeof(err)), MM_ERANGE);
	/* past its full block: never */
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f2, 2, spb - 9, err, sizeof(err)), MM_ERANGE);
	/* busy subblocks (freed, not yet durable) are not taken */
	bs.n = 1;
	bs.sub[0] = first;
	bs.mask[0] = 1u << 14;
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f2, 2, 6, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f2, 2, 4, err, sizeof(err)), MM_OK);
	bs.n = 0;
	CU_ASSERT_EQUAL(fs_bmap_extend(a, f2, 4, 6, err, sizeof(err)), MM_OK);
	/* the refusals changed nothing; the counts follow the bitmaps */
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_sub, ==, 4 * spb - 16);
	CHECK_U64(n.free_full, ==, 3);
	CU_ASSERT_EQUAL(fs_bmap_free(a, f2, 6, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_free(a, f1, 10, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 0, 0, &n, err, sizeof(err)), MM_OK);
	CHECK_U64(n.free_full, ==, 4);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* ---- mmadddisk: a new disk's maps, nothing moved ---- */

static void test_add_disk(void)
{
	const uint32_t b = 1u << 20, spb = 32;
	uint64_t first = t_first(b), s = 42;
	struct fs_sgd *sgd = mk_sgd(b, 4, 4, (uint64_t[]){first + 300 * spb + 7, first + 41 * spb,
							    first + 77 * spb, first + 50 * spb});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a;
	struct fs_bmap_count n;
	struct ext ex[200];
	uint32_t regs[200], disk3 = 3;
	struct snap sn;
	size_t before;
	char err[256] = "";

	sgd->ndisks = 2;
	a = open_ok(sgd, ms);
	if (!a)
		goto out;
	format_all(a, 2);
	for (int i = 0; i < 200; i++) {
		uint32_t d = (uint32_t)(rnd(&s) % 2), r = (uint32_t)(rnd(&s) % 4);
		uint32_t k = 1 + (uint32_t)(rnd(&s) % spb);

		if (fs_bmap_alloc_frag(a, r, d, k, &ex[i].da, err, sizeof(err)) != MM_OK)
			ex[i].n = 0;
		else
			ex[i].n = k;
		regs[i] = r;
	}
	ms_snap(ms, &sn);
	before = ms->t.count;
	/* disk 2 joins */
	sgd->ndisks = 3;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_format(a, (uint32_t[]){2}, 1, err, sizeof(err)), MM_OK);
	CHECK_U64(ms_changed(ms, &sn), ==, 0);
	CHECK_U64(ms->t.count, ==, before + 4);
	for (int i = 0; i < 200; i++) {
		uint32_t r;

		if (!ex[i].n)
			continue;
		CU_ASSERT_EQUAL(fs_bmap_region_of(a, ex[i].da, &r), MM_OK);
		CHECK_U64(r, ==, regs[i]);
	}
	for (uint32_t r = 0; r < 4; r++) {
		fs_da da;

		CU_ASSERT_EQUAL(fs_bmap_count(a, r, 2, &n, err, sizeof(err)), MM_OK);
		CHECK_U64(n.free_full, ==, r < 3 ? 19 : 20);	/* 77 blocks over 4 */
		CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, r, 2, &da, err, sizeof(err)), MM_OK);
		CHECK_U64(fs_da_disk(da), ==, 2);
	}
	/* the maps of a disk that has them are never written over */
	CU_ASSERT_EQUAL(fs_bmap_format(a, (uint32_t[]){0}, 1, err, sizeof(err)), MM_EEXIST);
	CHECK_MSG(err, "nsd0");
	sgd->ndisks = 4;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_OK);
	before = ms->t.count;
	CU_ASSERT_EQUAL(fs_bmap_format(a, (uint32_t[]){3, 1}, 2, err, sizeof(err)), MM_EEXIST);
	CHECK_U64(ms->t.count, ==, before);	/* nothing written for disk 3 either */
	CU_ASSERT_EQUAL(fs_bmap_format(a, &disk3, 1, err, sizeof(err)), MM_OK);
	/* what must not change */
	sgd->disk[0].subblocks += spb;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_ESTATE);
	CHECK_MSG(err, "nsd0");
	sgd->disk[0].subblocks -= spb;
	sgd->disk[1].usage = FS_USAGE_DESC_ONLY;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_ESTATE);
	sgd->disk[1].usage = FS_USAGE_DATA_ONLY;
	sgd->nregions = 5;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_ESTATE);
	sgd->nregions = 4;
	sgd->ndisks = 3;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_ESTATE);
	sgd->ndisks = 4;
	/* what may */
	sgd->disk[1].failure_group = 9;
	sgd->disk[1].status = FS_DS_SUSPENDED;
	CU_ASSERT_EQUAL(fs_alloc_update(a, sgd, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(ms->held, 0);
	snap_free(&sn);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* ---- a bad map block is an error naming it, never used ---- */

static void test_corrupt_maps(void)
{
	const uint32_t b = 1u << 20, spb = 32;
	uint64_t first = t_first(b);
	struct fs_sgd *sgd = mk_sgd(b, 3, 2, (uint64_t[]){first + 90 * spb, first + 60 * spb});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a = open_ok(sgd, ms);
	uint8_t *blk, *other, save[FS_MB];
	uint64_t mb = (1ull << 32) + 2, nfree;	/* disk 1 region 2 map block 0 */
	struct fs_bmap_count n;
	struct fs_chunk c;
	char err[256] = "";
	fs_da da;

	if (!a)
		goto out;
	format_all(a, 2);
	fs_bmap_chunk(a, 1, 2, &c);
	CHECK_U64(c.map0, ==, mb);
	blk = fk_data(ms, FS_INO_BMAP, mb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(blk);
	memcpy(save, blk, FS_MB);
	/* a flipped bit */
	blk[FS_MBH_BYTES + 3] ^= 0x10;
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 2, 1, &da, err, sizeof(err)), MM_ECHECKSUM);
	CHECK_MSG(err, "disk 1 (nsd1) region 2 map block 0");
	CHECK_MSG(err, "checksum");
	CU_ASSERT_EQUAL(fs_bmap_alloc_frag(a, 2, 1, 3, &da, err, sizeof(err)), MM_ECHECKSUM);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 2, 1, &n, err, sizeof(err)), MM_ECHECKSUM);
	CU_ASSERT_EQUAL(fs_bmap_count(a, 2, FS_DA_DISK_NONE, &n, err, sizeof(err)), MM_ECHECKSUM);
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(1, c.start), spb, err, sizeof(err)),
			MM_ECHECKSUM);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 2, 1, &n, err, sizeof(err)), MM_ECHECKSUM);
	/* the other chunks still work */
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 1, 1, &da, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 2, 0, &da, err, sizeof(err)), MM_OK);
	/* another chunk's block in its place */
	other = fk_data(ms, FS_INO_BMAP, (1ull << 32) + 1);
	memcpy(blk, other, FS_MB);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 2, 1, &da, err, sizeof(err)), MM_EPROTO);
	CHECK_MSG(err, "region 2 map block 0");
	/* another file system's */
	memcpy(blk, save, FS_MB);
	fs_mb_seal(blk, FS_MB, &(struct fs_mbh){.type = FS_BT_BMAP, .fsid = FSID + 1,
						 .ino = FS_INO_BMAP, .blk = mb, .a = 20 * spb,
						 .b = 20});
	CU_ASSERT_EQUAL(fs_bmap_count(a, 2, 1, &n, err, sizeof(err)), MM_EPROTO);
	/* counts that cannot be */
	fs_mb_seal(blk, FS_MB, &(struct fs_mbh){.type = FS_BT_BMAP, .fsid = FSID,
						 .ino = FS_INO_BMAP, .blk = mb, .a = 20 * spb + 1,
						 .b = 20});
	CU_ASSERT_EQUAL(fs_bmap_count(a, 2, 1, &n, err, sizeof(err)), MM_EPROTO);
	CHECK_MSG(err, "header counts");
	/* counts that can be but are wrong: only the check sees them */
	fs_mb_seal(blk, FS_MB, &(struct fs_mbh){.type = FS_BT_BMAP, .fsid = FSID,
						 .ino = FS_INO_BMAP, .blk = mb, .a = 20 * spb - 1,
						 .b = 19});
	CU_ASSERT_EQUAL(fs_bmap_count(a, 2, 1, &n, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 2, 1, &n, err, sizeof(err)), MM_EPROTO);
	CHECK_MSG(err, "header counts");
	/* a free block past the chunk's end */
	memcpy(blk, save, FS_MB);
	blk[FS_MBH_BYTES + 20 * spb / 8] = 0;
	reseal_bmap(blk, mb, spb, 20);
	CU_ASSERT_EQUAL(fs_bmap_check(a, 2, 1, &n, err, sizeof(err)), MM_EPROTO);
	CHECK_MSG(err, "past the chunk");
	/* header says free blocks, bitmap has none */
	memset(blk + FS_MBH_BYTES, 0xff, 20 * spb / 8);
	fs_mb_seal(blk, FS_MB, &(struct fs_mbh){.type = FS_BT_BMAP, .fsid = FSID,
						 .ino = FS_INO_BMAP, .blk = mb, .a = spb, .b = 1});
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 2, 1, &da, err, sizeof(err)), MM_EPROTO);
	/* a hole where a map block belongs */
	fk_punch(ms, FS_INO_BMAP, mb);
	CU_ASSERT_EQUAL(fs_bmap_alloc_block(a, 2, 1, &da, err, sizeof(err)), MM_ENOENT);
	CHECK_MSG(err, "missing");
	CU_ASSERT_EQUAL(fs_bmap_free(a, fs_da_make(1, c.start), spb, err, sizeof(err)), MM_ENOENT);
	CHECK_U64(fk_data(ms, FS_INO_BMAP, mb) == NULL, ==, 1);	/* no block made */
	/* the store failing */
	ms->fail_rc = MM_EIO;
	ms->fail_every = 1;
	CU_ASSERT_EQUAL(fs_bmap_count(a, 0, 0, &n, err, sizeof(err)), MM_EIO);
	CU_ASSERT_EQUAL(fs_imap_count(a, 0, &nfree, err, sizeof(err)), MM_EIO);
	ms->fail_every = 0;
	/* inode map */
	CU_ASSERT_EQUAL(fs_imap_format(a, err, sizeof(err)), MM_OK);
	blk = fk_data(ms, FS_INO_IMAP, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(blk);
	blk[FS_MBH_BYTES + 100] ^= 1;
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 0, &nfree, err, sizeof(err)), MM_ECHECKSUM);
	CHECK_MSG(err, "inode map region 0");
	CU_ASSERT_EQUAL(fs_imap_free(a, 800, err, sizeof(err)), MM_ECHECKSUM);
	CU_ASSERT_EQUAL(fs_imap_count(a, 0, &nfree, err, sizeof(err)), MM_ECHECKSUM);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* ---- placement ---- */

static struct fs_sgd *place_sgd(uint32_t ndisks, const int32_t *fgs)
{
	struct fs_sgd *sgd = mk_sgd(1u << 20, 8, ndisks, NULL);

	for (uint32_t d = 0; d < ndisks; d++) {
		sgd->disk[d].subblocks = 1u << 20;
		if (fgs)
			sgd->disk[d].failure_group = fgs[d];
	}
	return sgd;
}

static void test_place_round_robin(void)
{
	struct fs_sgd *sgd = place_sgd(5, NULL);
	struct fs_place *p = malloc(sizeof(*p));
	bool full[5] = {false};
	uint32_t out[3];

	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 12345), MM_OK);
	CHECK_U64(p->n, ==, 5);
	CHECK_U64(p->start, ==, 0);		/* -j cluster */
	CHECK_U64(fs_place_groups(p), ==, 5);
	for (uint64_t n = 0; n < 20; n++) {
		CU_ASSERT_EQUAL(fs_place_block(p, n, 1, NULL, out), MM_OK);
		CHECK_U64(out[0], ==, n % 5);
	}
	/* a full disk is skipped: its blocks go to the next one */
	full[2] = true;
	CU_ASSERT_EQUAL(fs_place_block(p, 2, 1, full, out), MM_OK);
	CHECK_U64(out[0], ==, 3);
	CU_ASSERT_EQUAL(fs_place_block(p, 1, 1, full, out), MM_OK);
	CHECK_U64(out[0], ==, 1);
	full[3] = full[4] = true;
	CU_ASSERT_EQUAL(fs_place_block(p, 2, 1, full, out), MM_OK);
	CHECK_U64(out[0], ==, 0);		/* wraps around */
	full[0] = full[1] = true;
	CU_ASSERT_EQUAL(fs_place_block(p, 2, 1, full, out), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_place_block(p, 2, 0, NULL, out), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_place_block(p, 2, FS_MAX_REPLICAS + 1, NULL, out), MM_EINVAL);
	/* a huge block number */
	CU_ASSERT_EQUAL(fs_place_block(p, UINT64_MAX, 1, NULL, out), MM_OK);
	CHECK_U64(out[0], ==, UINT64_MAX % 5);
	free(p);
	free(sgd);
}

static void test_place_scatter(void)
{
	const uint32_t nd = 7, nino = SANITIZED ? 14000 : 70000;
	struct fs_sgd *sgd = place_sgd(nd, NULL);
	struct fs_place *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
	uint32_t hist[7] = {0}, out[1], same = 0;

	sgd->flags |= FS_SGD_SCATTER;
	for (uint64_t ino = 16; ino < 16 + nino; ino++) {
		CU_ASSERT_EQUAL_FATAL(fs_place_init(p, sgd, "system", FS_KIND_DATA, ino), MM_OK);
		CU_ASSERT_FATAL(p->start < nd);
		hist[p->start]++;
		CU_ASSERT_EQUAL(fs_place_init(q, sgd, "system", FS_KIND_DATA, ino + 1), MM_OK);
		same += p->start == q->start;
		CU_ASSERT_EQUAL(fs_place_block(p, 3, 1, NULL, out), MM_OK);
		CHECK_U64(out[0], ==, (p->start + 3) % nd);
	}
	/* spread: every start within 10% of its share; neighbours unrelated */
	for (uint32_t i = 0; i < nd; i++) {
		CHECK_U64(hist[i], >, nino / nd * 9 / 10);
		CHECK_U64(hist[i], <, nino / nd * 11 / 10);
	}
	CHECK_U64(same, <, nino / nd * 12 / 10);
	/* a function of the inode only */
	fs_place_init(p, sgd, NULL, FS_KIND_DATA, 777);
	fs_place_init(q, sgd, NULL, FS_KIND_DATA, 777);
	CHECK_U64(p->start, ==, q->start);
	free(p);
	free(q);
	free(sgd);
}

static void test_place_replicas(void)
{
	struct fs_sgd *sgd = place_sgd(6, (int32_t[]){1, 1, 2, 2, 3, 3});
	struct fs_place *p = malloc(sizeof(*p));
	uint32_t out[3];
	bool full[6];
	uint64_t s = 7;

	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_META, 99), MM_OK);
	CHECK_U64(fs_place_groups(p), ==, 3);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 3, NULL, out), MM_OK);
	CHECK_U64(out[0], ==, 0);
	CHECK_U64(out[1], ==, 2);
	CHECK_U64(out[2], ==, 4);
	CU_ASSERT_EQUAL(fs_place_block(p, 1, 3, NULL, out), MM_OK);
	CHECK_U64(out[0], ==, 1);
	CHECK_U64(out[1], ==, 2);
	CHECK_U64(out[2], ==, 4);
	CU_ASSERT_EQUAL(fs_place_block(p, 5, 3, NULL, out), MM_OK);
	CHECK_U64(out[0], ==, 5);
	CHECK_U64(out[1], ==, 0);
	CHECK_U64(out[2], ==, 2);
	/* random full sets: replicas on distinct groups, none full, replica 0
	 * the first disk from the block's position that is not full */
	for (int i = 0; i < 2000; i++) {
		uint64_t n = rnd(&s) % 1000;
		unsigned nrep = 1 + (unsigned)(rnd(&s) % 3), groups = 0;
		bool seen[4] = {false};
		int rc;

		for (int d = 0; d < 6; d++) {
			full[d] = rnd(&s) % 4 == 0;
			if (!full[d] && !seen[sgd->disk[d].failure_group]) {
				seen[sgd->disk[d].failure_group] = true;
				groups++;
			}
		}
		rc = fs_place_block(p, n, nrep, full, out);
		CU_ASSERT_EQUAL(rc, groups >= nrep ? MM_OK : MM_ERANGE);
		if (rc)
			continue;
		for (unsigned k = 0; k < nrep; k++) {
			CU_ASSERT(!full[out[k]]);
			for (unsigned j = 0; j < k; j++)
				CU_ASSERT(sgd->disk[out[k]].failure_group !=
					  sgd->disk[out[j]].failure_group);
		}
		for (uint64_t x = n % 6; x != out[0]; x = (x + 1) % 6)
			CU_ASSERT(full[x]);
	}
	free(p);
	free(sgd);
}

static void test_place_too_few_groups(void)
{
	struct fs_sgd *sgd = place_sgd(4, (int32_t[]){1, 1, 2, 2});
	struct fs_place *p = malloc(sizeof(*p));
	uint32_t out[3];
	bool full[4] = {false, false, true, true};

	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 5), MM_OK);
	CHECK_U64(fs_place_groups(p), ==, 2);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 3, NULL, out), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 2, NULL, out), MM_OK);
	/* a group whose disks are all full does not count */
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 2, full, out), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 1, full, out), MM_OK);
	free(p);
	free(sgd);
	/* failure group -1: each such disk is a group of its own (GPFS: no
	 * point of failure in common with any other disk) */
	sgd = place_sgd(3, (int32_t[]){-1, -1, -1});
	p = malloc(sizeof(*p));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 5), MM_OK);
	CHECK_U64(fs_place_groups(p), ==, 3);
	for (uint64_t n = 0; n < 6; n++) {
		CU_ASSERT_EQUAL(fs_place_block(p, n, 3, NULL, out), MM_OK);
		CU_ASSERT(out[0] == n % 3 && out[1] == (n + 1) % 3 && out[2] == (n + 2) % 3);
	}
	/* two of them full: one replica left */
	{
		bool f2[3] = {true, false, true};

		CU_ASSERT_EQUAL(fs_place_block(p, 0, 2, f2, out), MM_ERANGE);
		CU_ASSERT_EQUAL(fs_place_block(p, 0, 1, f2, out), MM_OK);
		CU_ASSERT_EQUAL(out[0], 1);
	}
	free(p);
	free(sgd);
	/* -1 disks beside named groups: 1, 1, -1, 2, -1 are four groups; a
	 * replica never shares group 1 or 2, but two may be on -1 disks */
	sgd = place_sgd(5, (int32_t[]){1, 1, -1, 2, -1});
	p = malloc(sizeof(*p));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 5), MM_OK);
	CHECK_U64(fs_place_groups(p), ==, 4);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 3, NULL, out), MM_OK);
	CU_ASSERT(out[0] == 0 && out[1] == 2 && out[2] == 3);
	CU_ASSERT_EQUAL(fs_place_block(p, 2, 3, NULL, out), MM_OK);
	CU_ASSERT(out[0] == 2 && out[1] == 3 && out[2] == 4);
	CU_ASSERT_EQUAL(fs_place_block(p, 4, 3, NULL, out), MM_OK);
	CU_ASSERT(out[0] == 4 && out[1] == 0 && out[2] == 2);
	{
		/* group 2 and disk 0 full: 1 (group 1), 2 (-1), 4 (-1) */
		bool f5[5] = {true, false, false, true, false};

		CU_ASSERT_EQUAL(fs_place_block(p, 0, 3, f5, out), MM_OK);
		CU_ASSERT(out[0] == 1 && out[1] == 2 && out[2] == 4);
	}
	free(p);
	free(sgd);
	/* one named group plus one -1 disk: two groups, not three */
	sgd = place_sgd(3, (int32_t[]){4, 4, -1});
	p = malloc(sizeof(*p));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 5), MM_OK);
	CHECK_U64(fs_place_groups(p), ==, 2);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 3, NULL, out), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_place_block(p, 1, 2, NULL, out), MM_OK);
	CU_ASSERT(out[0] == 1 && out[1] == 2);
	free(p);
	free(sgd);
}

static bool same_disks(const struct fs_place *p, const uint32_t *want, uint32_t n)
{
	if (p->n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (p->disk[i] != want[i])
			return false;
	return true;
}

static void test_place_usage(void)
{
	struct fs_sgd *sgd = place_sgd(8, NULL);
	struct fs_place *p = malloc(sizeof(*p));

	sgd->disk[0].usage = FS_USAGE_META_ONLY;
	sgd->disk[1].usage = FS_USAGE_DATA_ONLY;
	sgd->disk[2].usage = FS_USAGE_DATA_AND_META;
	sgd->disk[3].usage = FS_USAGE_DESC_ONLY;
	sgd->disk[4].usage = FS_USAGE_DATA_ONLY;
	sgd->disk[4].status = FS_DS_SUSPENDED;
	sgd->disk[5].usage = FS_USAGE_DATA_AND_META;
	sgd->disk[5].avail = FS_DA_DOWN;
	sgd->disk[6].usage = FS_USAGE_DATA_ONLY;
	snprintf(sgd->disk[6].pool, sizeof(sgd->disk[6].pool), "fast");
	sgd->disk[7].usage = FS_USAGE_META_ONLY;
	sgd->disk[7].avail = FS_DA_RECOVERING;
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, "system", FS_KIND_DATA, 20), MM_OK);
	CU_ASSERT(same_disks(p, (uint32_t[]){1, 2}, 2));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_META, 20), MM_OK);
	CU_ASSERT(same_disks(p, (uint32_t[]){0, 2}, 2));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, "fast", FS_KIND_DATA, 20), MM_OK);
	CU_ASSERT(same_disks(p, (uint32_t[]){6}, 1));
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, "fast", FS_KIND_META, 20), MM_OK);
	CU_ASSERT(same_disks(p, (uint32_t[]){0, 2}, 2));	/* metadata lives in system */
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, "slow", FS_KIND_DATA, 20), MM_ERANGE);
	CHECK_U64(p->n, ==, 0);
	CU_ASSERT_EQUAL(fs_place_block(p, 0, 1, NULL, (uint32_t[1]){0}), MM_ERANGE);
	/* the descOnly disk never, whatever the kind */
	for (uint32_t d = 0; d < 8; d++)
		if (d != 3)
			sgd->disk[d].usage = FS_USAGE_DESC_ONLY;
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_DATA, 1), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_place_init(p, sgd, NULL, FS_KIND_META, 1), MM_ERANGE);
	free(p);
	free(sgd);
}

/* ---- inode map ---- */

static void test_imap_basic(void)
{
	const uint64_t R = FS_IMAP_REGION_INODES, limit = 3 * R + 100;
	struct fs_sgd *sgd = mk_sgd(256u << 10, 4, 1, (uint64_t[]){1u << 20});
	struct fk_store *ms = fk_new();
	struct fs_alloc *a;
	uint64_t ino, nfree;
	char err[256] = "";
	bool used;

	sgd->inode_limit = limit;
	a = open_ok(sgd, ms);
	if (!a)
		goto out;
	CHECK_U64(fs_imap_nregions(a), ==, 4);
	CHECK_U64(fs_imap_region_of(R - 1), ==, 0);
	CHECK_U64(fs_imap_region_of(R), ==, 1);
	CU_ASSERT_EQUAL(fs_imap_format(a, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_imap_format(a, err, sizeof(err)), MM_EEXIST);
	CU_ASSERT_EQUAL(fs_imap_count(a, 0, &nfree, err, sizeof(err)), MM_OK);
	CHECK_U64(nfree, ==, R - 16);
	CU_ASSERT_EQUAL(fs_imap_count(a, 1, &nfree, err, sizeof(err)), MM_OK);
	CHECK_U64(nfree, ==, R);
	CU_ASSERT_EQUAL(fs_imap_count(a, 3, &nfree, err, sizeof(err)), MM_OK);
	CHECK_U64(nfree, ==, 100);
	CU_ASSERT_EQUAL(fs_imap_count(a, 4, &nfree, err, sizeof(err)), MM_EINVAL);
	for (uint64_t i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(fs_imap_test(a, i, &used, err, sizeof(err)), MM_OK);
		CU_ASSERT(used);
		CU_ASSERT_EQUAL(fs_imap_free(a, i, err, sizeof(err)), MM_EINVAL);
	}
	CHECK_MSG(err, "reserved");
	/* lowest free first, reserved never */
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 0, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 16);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 0, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 17);
	/* near a hint */
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 1000, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 1000);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 1000, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 1001);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, R - 1, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, R - 1);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, R - 1, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 18);			/* wrapped within the region */
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 2 * R + 5, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 19);			/* a hint elsewhere: lowest */
	CU_ASSERT_EQUAL(fs_imap_count(a, 0, &nfree, err, sizeof(err)), MM_OK);
	CHECK_U64(nfree, ==, R - 16 - 7);
	/* free, double free */
	CU_ASSERT_EQUAL(fs_imap_free(a, 17, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_imap_free(a, 17, err, sizeof(err)), MM_ESTATE);
	CHECK_MSG(err, "double free: inode 17");
	CU_ASSERT_EQUAL(fs_imap_free(a, 5000, err, sizeof(err)), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_imap_test(a, 17, &used, err, sizeof(err)), MM_OK);
	CU_ASSERT(!used);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 0, 0, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 17);
	/* region 1: a hole until used */
	CU_ASSERT_EQUAL(fs_imap_free(a, R + 5, err, sizeof(err)), MM_ESTATE);
	CHECK_MSG(err, "never used");
	CU_ASSERT(fk_data(ms, FS_INO_IMAP, 1) == NULL);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 1, 0, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, R);
	CU_ASSERT(fk_data(ms, FS_INO_IMAP, 1) != NULL);
	CU_ASSERT_EQUAL(fs_imap_count(a, 1, &nfree, err, sizeof(err)), MM_OK);
	CHECK_U64(nfree, ==, R - 1);
	/* region 3 ends at the limit */
	for (uint64_t i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(fs_imap_alloc(a, 3, 0, &ino, err, sizeof(err)), MM_OK);
		CHECK_U64(ino, ==, 3 * R + i);
	}
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 3, 0, &ino, err, sizeof(err)), MM_ERANGE);
	CHECK_MSG(err, "full");
	CU_ASSERT_EQUAL(fs_imap_free(a, limit, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_imap_free(a, 3 * R + 50, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 3, 0, &ino, err, sizeof(err)), MM_OK);
	CHECK_U64(ino, ==, 3 * R + 50);
	CU_ASSERT_EQUAL(fs_imap_alloc(a, 4, 0, &ino, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(sgd);
	fk_free(ms);
}

/* Random allocations and frees in one region against a bitmap. */
static void test_imap_model(void)
{
	const uint64_t R = FS_IMAP_REGION_INODES;
	const unsigned nops = SANITIZED ? 20000 : 60000;
	struct fs_sgd *sgd = mk_sgd(256u << 10, 4, 1, (uint64_t[]){1u << 20});
	struct fk_store *ms = fk_new();
	uint8_t *used = calloc(R, 1);
	uint64_t s = 3, nfree = 5000, got, nfull = 0;
	struct fs_alloc *a;
	char err[256] = "";

	/* 5000 inodes to give: the region runs full and empties again */
	sgd->inode_limit = 16 + nfree;
	a = open_ok(sgd, ms);
	if (!a)
		goto out;
	memset(used, 1, 16);
	memset(used + 16 + nfree, 1, R - 16 - nfree);
	for (unsigned op = 0; op < nops; op++) {
		bool grow = op < nops / 2 ? rnd(&s) % 10 < 9 : rnd(&s) % 10 < 3;
		uint64_t ino;

		if (grow) {
			uint64_t hint = rnd(&s) % 2 ? rnd(&s) % R : 0, want = UINT64_MAX;
			int rc;

			/* from the hint to the limit (all in use past it), then from 0 */
			for (uint64_t i = hint; i < sgd->inode_limit && want == UINT64_MAX; i++)
				if (!used[i])
					want = i;
			for (uint64_t i = 0; i < hint && want == UINT64_MAX; i++)
				if (!used[i])
					want = i;
			rc = fs_imap_alloc(a, 0, hint, &ino, err, sizeof(err));
			if (want == UINT64_MAX) {
				CU_ASSERT_EQUAL(rc, MM_ERANGE);
				CHECK_U64(nfree, ==, 0);
				nfull++;
				continue;
			}
			CHECK_U64(ino, ==, want);
			CU_ASSERT_EQUAL_FATAL(rc, MM_OK);
			CU_ASSERT_FATAL(ino >= 16 && ino < sgd->inode_limit);
			CU_ASSERT_EQUAL(used[ino], 0);
			used[ino] = 1;
			nfree--;
		} else {
			ino = 16 + rnd(&s) % (sgd->inode_limit - 16);
			CU_ASSERT_EQUAL(fs_imap_free(a, ino, err, sizeof(err)),
					used[ino] ? MM_OK : MM_ESTATE);
			if (used[ino])
				nfree++;
			used[ino] = 0;
		}
		if (op % 4096 == 0) {
			CU_ASSERT_EQUAL(fs_imap_count(a, 0, &got, err, sizeof(err)), MM_OK);
			CHECK_U64(got, ==, nfree);
		}
	}
	for (uint64_t i = 0; i < R; i++) {
		bool u;

		CU_ASSERT_EQUAL(fs_imap_test(a, i, &u, err, sizeof(err)), MM_OK);
		if (u != used[i]) {
			CU_FAIL("inode map differs from the model");
			break;
		}
	}
	CU_ASSERT_EQUAL(fs_imap_count(a, 0, &got, err, sizeof(err)), MM_OK);
	CHECK_U64(got, ==, nfree);
	CHECK_U64(nfull, >, 0);
	CU_ASSERT_EQUAL(ms->held, 0);
	fs_alloc_close(a);
out:
	free(used);
	free(sgd);
	fk_free(ms);
}

/* ---- region choice ---- */

static void test_pick_region(void)
{
	uint64_t nfree[] = {5, 9, 9, 0, 3};
	bool held[5] = {false};
	uint64_t zero[3] = {0};

	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, NULL, 5), 1);
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, held, 5), 1);
	held[1] = true;
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, held, 5), 2);
	held[2] = true;
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, held, 5), 0);
	held[0] = true;
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, held, 5), 4);
	held[4] = true;
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, held, 5), MM_ERANGE);	/* 3 is empty */
	CU_ASSERT_EQUAL(fs_alloc_pick_region(zero, NULL, 3), MM_ERANGE);
	CU_ASSERT_EQUAL(fs_alloc_pick_region(nfree, NULL, 0), MM_ERANGE);
}

static void register_tests(void)
{
	static const struct mm_test bmap[] = {
		{"chunks cover every allocatable subblock once", test_geometry},
		{"descriptor values refused", test_open_refusals},
		{"random allocate/free against a model, all block sizes", test_model_all_sizes},
		{"chunks of several map blocks", test_multi_map_blocks},
		{"full chunks, empty chunks, bad arguments", test_full_and_enospc},
		{"busy space is never handed out", test_busy},
		{"a fragment grows in place into free subblocks only", test_extend},
		{"adding a disk moves nothing", test_add_disk},
		{"corrupted map blocks", test_corrupt_maps},
	};
	static const struct mm_test place[] = {
		{"round robin, full disks skipped", test_place_round_robin},
		{"scatter start spread", test_place_scatter},
		{"replicas in distinct failure groups", test_place_replicas},
		{"too few failure groups", test_place_too_few_groups},
		{"usage, status, availability, pool", test_place_usage},
		{"emptiest unheld region", test_pick_region},
	};
	static const struct mm_test imap[] = {
		{"allocate, hint, free, reserved, limits", test_imap_basic},
		{"random allocate/free against a model", test_imap_model},
	};

	mm_log_set_level(MM_LOG_FATAL);
	MM_ADD_SUITE("fs_alloc block map", bmap);
	MM_ADD_SUITE("fs_alloc placement", place);
	MM_ADD_SUITE("fs_alloc inode map", imap);
}

MM_CUNIT_MAIN(register_tests)
