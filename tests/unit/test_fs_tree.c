/*
 * tests/unit/test_fs_tree.c - fs/tree.c against the contract in
 * fs/tree.h: geometry, lookups that read at most <level> indirect blocks,
 * growth that moves the inode's pointers, set / punch / truncate /
 * iterate against a model (block number -> pointer) over seeded random
 * sequences whose block numbers sit near every level boundary and at
 * 2^50 bytes, for maxrep 1..3 and several block sizes; huge sparse
 * trees, damaged blocks, failing callbacks, data in the inode.
 *
 * The harness (struct th) is what sg.c will be:
 *   - the memory fs_bstore of fskit.h: it counts gets, checks every get
 *     is put, and lists the blocks each call touched;
 *   - a fake allocator: unique disk addresses, and a live map (first
 *     address -> kind, owner block) that refuses a double free or a free
 *     of the wrong block, so "every block allocated is reachable or
 *     freed" is a comparison of the live map with a full META iterate;
 *   - a shadow (another fskit.h map) built only from what changed()
 *     reported (alloc_meta starts a block as zeros, as the log's ALLOC
 *     record does): after
 *     every call each touched block must equal its shadow, and the
 *     inode's record before the call with the reported ranges applied
 *     must equal its record after, so an unreported change fails.
 *
 * FS_TREE_OPS=n sets the random operations per configuration (default
 * 5000, 1500 under sanitizers). No threads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/hash.h"
#include "common/wire.h"
#include "fs/format.h"
#include "fs/tree.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define FSID 0x5eed7733u
#define INO 77u
#define KIB 1024u
#define MIB (1024u * 1024u)

#define CHECK_MSG(err, what)                                                          \
	do {                                                                          \
		CU_ASSERT(strstr((err), (what)) != NULL);                             \
		if (!strstr((err), (what)))                                           \
			fprintf(stderr, "  line %d: \"%s\" lacks \"%s\"\n", __LINE__, \
				(err), (what));                                       \
	} while (0)

/* ---- the live map of the fake allocator ---- */

struct live {
	struct mm_hnode hn;
	fs_da da0;
	bool meta;
	uint64_t blk;		/* data: block number; meta: tag */
	struct fs_ptr p;
	bool seen;		/* leak check */
};

static bool live_eq(const struct mm_hnode *n, const void *k)
{
	return ((const struct live *)n)->da0 == *(const fs_da *)k;
}

static struct live *live_find(struct mm_htab *t, fs_da da0)
{
	return (struct live *)mm_htab_find(t, mm_hash_u64(da0), live_eq, &da0);
}

static void live_free_node(struct mm_hnode *n, void *arg)
{
	(void)arg;
	free(n);
}

/* ---- the harness ---- */

struct range {
	uint32_t off, len;
};

struct th {
	struct fk_store st;		/* the memory store (fskit.h), recording */
	/* shadow */
	struct fk_store sh;		/* only its map; its bs unused */
	struct range iranges[64];
	size_t niranges;
	bool ioverflow;
	uint64_t reports;
	/* allocator */
	struct mm_htab live;
	uint64_t next_sub;
	size_t nlive_meta, nlive_data;
	unsigned maxrep;
	uint64_t fail_alloc;		/* the Nth alloc_meta from now fails (0: none) */
	uint64_t fail_free;		/* the Nth free_blk from now fails (0: none) */
	uint64_t allocs, frees_meta, frees_data;
	unsigned bad;			/* allocator complaints */
	/* the file */
	struct fs_bstore bs;
	struct fs_tree t;
	struct fs_inode in;
};

static struct fs_ptr new_ptr(struct th *h)
{
	struct fs_ptr p = {{0}};

	h->next_sub++;
	for (unsigned r = 0; r < h->maxrep; r++)
		p.da[r] = fs_da_make(1 + r, h->next_sub);
	return p;
}

static struct live *live_add(struct th *h, const struct fs_ptr *p, bool meta, uint64_t blk)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		abort();
	l->da0 = p->da[0];
	l->meta = meta;
	l->blk = blk;
	l->p = *p;
	mm_htab_insert(&h->live, &l->hn, mm_hash_u64(l->da0));
	if (meta)
		h->nlive_meta++;
	else
		h->nlive_data++;
	return l;
}

static int fa_alloc_meta(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	struct th *h = arg;
	struct fk_blk *s;

	if (h->fail_alloc && --h->fail_alloc == 0)
		return MM_ERANGE;
	if (ino != INO || !(blk & FS_TAG_IND)) {
		h->bad++;
		return MM_EINVAL;
	}
	*p = new_ptr(h);
	live_add(h, p, true, blk);
	h->allocs++;
	/* the log's ALLOC record: the block starts as zeros */
	s = fk_find(&h->sh, ino, blk);
	if (s) {
		fprintf(stderr, "  alloc_meta of live tag %" PRIx64 "\n", blk);
		h->bad++;
	} else {
		s = fk_add(&h->sh, ino, blk);
	}
	memset(s->data, 0, FS_MB);
	return MM_OK;
}

static int fa_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	struct th *h = arg;
	struct live *l = live_find(&h->live, p->da[0]);
	struct fk_blk *s;

	if (h->fail_free && --h->fail_free == 0)
		return MM_EIO;
	if (ino != INO || !l || l->meta != is_meta || l->blk != blk ||
	    memcmp(&l->p, p, sizeof(*p))) {
		fprintf(stderr, "  bad free: %s blk %" PRIx64 " da %" PRIx64 " (%s)\n",
			is_meta ? "meta" : "data", blk, p->da[0],
			!l ? "not allocated or freed twice" : "wrong owner or kind");
		h->bad++;
		return MM_ESTATE;
	}
	if (is_meta) {
		if (fk_find(&h->st, ino, blk)) {
			fprintf(stderr, "  meta %" PRIx64 " freed but still in the store\n", blk);
			h->bad++;
		}
		s = fk_find(&h->sh, ino, blk);
		if (s)
			fk_del(&h->sh, s);
		h->nlive_meta--;
		h->frees_meta++;
	} else {
		h->nlive_data--;
		h->frees_data++;
	}
	mm_htab_remove(&h->live, &l->hn);
	free(l);
	return MM_OK;
}

static void th_changed(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
		       const uint8_t *bytes)
{
	struct th *h = arg;
	struct fk_blk *s;

	h->reports++;
	if (ino != INO) {
		h->bad++;
		return;
	}
	if (blk == FS_TREE_INODE) {
		TCHECK(bytes == NULL && off + len <= FS_INODE_BYTES, "inode range %u+%u", off, len);
		if (h->niranges == sizeof(h->iranges) / sizeof(h->iranges[0]))
			h->ioverflow = true;
		else
			h->iranges[h->niranges++] = (struct range){off, len};
		return;
	}
	TCHECK(bytes && off + len <= FS_MB, "block range %u+%u", off, len);
	s = fk_find(&h->sh, ino, blk);
	if (!s)	/* a block that existed before this harness saw it: start from the store */
		s = fk_add(&h->sh, ino, blk);
	memcpy(s->data + off, bytes, len);
}

static struct th *th_new(unsigned maxrep, uint32_t bsize)
{
	struct th *h = calloc(1, sizeof(*h));

	CU_ASSERT_FATAL(h != NULL);
	fk_init(&h->st);
	fk_init(&h->sh);
	h->st.record = true;
	CU_ASSERT_FATAL(mm_htab_init(&h->live, 1024) == MM_OK);
	h->maxrep = maxrep;
	h->bs = h->st.bs;
	h->t = (struct fs_tree){.bs = &h->bs, .fsid = FSID, .bsize = bsize, .maxrep = maxrep,
				.alloc_meta = fa_alloc_meta, .free_blk = fa_free,
				.changed = th_changed, .arg = h};
	h->in.ino = INO;
	h->in.gen = 3;
	h->in.mode = S_IFREG | 0644;
	h->in.nlink = 1;
	h->in.data_rep = h->in.meta_rep = (uint8_t)maxrep;
	return h;
}

static void th_free(struct th *h)
{
	CU_ASSERT_EQUAL(h->st.held, 0);
	CU_ASSERT_EQUAL(h->bad, 0);
	fk_fini(&h->st);
	fk_fini(&h->sh);
	mm_htab_each(&h->live, live_free_node, NULL);
	mm_htab_free(&h->live);
	free(h);
}

/* ---- checking one call's reports ---- */

struct call {
	uint8_t before[FS_INODE_BYTES];
	uint64_t gets;
};

static void call_begin(struct th *h, struct call *c)
{
	fs_inode_encode(&h->in, FSID, c->before);
	h->st.ntouched = 0;
	h->niranges = 0;
	h->ioverflow = false;
	c->gets = h->st.gets;
}

/*
 * After a call: nothing pinned; every block it touched equals its shadow
 * (or both are gone); the inode's record equals the old one with the
 * reported ranges applied. Returns false (and says why) on a mismatch.
 */
static bool call_end(struct th *h, struct call *c, const char *what)
{
	uint8_t after[FS_INODE_BYTES];
	bool ok = true;

	if (h->st.held != 0) {
		fprintf(stderr, "  %s: %ld blocks still held\n", what, h->st.held);
		ok = false;
	}
	for (size_t i = 0; i < h->st.ntouched; i++) {
		struct fk_blk *b = fk_find(&h->st, h->st.touched[i].ino, h->st.touched[i].blk);
		struct fk_blk *s = fk_find(&h->sh, h->st.touched[i].ino, h->st.touched[i].blk);

		if (!b && !s)
			continue;
		if (!b || !s || memcmp(b->data, s->data, FS_MB)) {
			size_t off = 0;

			while (b && s && off < FS_MB && b->data[off] == s->data[off])
				off++;
			fprintf(stderr, "  %s: block %" PRIx64 " %s (first difference at byte %zu)\n",
				what, h->st.touched[i].blk,
				!b ? "gone but not freed" : !s ? "has no shadow" :
				"differs from what was reported", off);
			ok = false;
			break;
		}
	}
	fs_inode_encode(&h->in, FSID, after);
	if (h->ioverflow) {
		memcpy(c->before, after, FS_INODE_BYTES);	/* too many to track: accept */
	} else {
		for (size_t i = 0; i < h->niranges; i++)
			memcpy(c->before + h->iranges[i].off, after + h->iranges[i].off,
			       h->iranges[i].len);
	}
	if (memcmp(c->before + FS_MBH_BYTES, after + FS_MBH_BYTES,
		   FS_INODE_BYTES - FS_MBH_BYTES)) {
		size_t off = FS_MBH_BYTES;

		while (c->before[off] == after[off])
			off++;
		fprintf(stderr, "  %s: inode byte %zu changed without a report\n", what, off);
		ok = false;
	}
	return ok;
}

/* ---- reachability: every live allocation is in the tree, and only those ---- */

struct reach {
	struct th *h;
	uint64_t meta, data;
	unsigned bad;
};

static int reach_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct reach *r = arg;
	struct live *l = live_find(&r->h->live, p->da[0]);
	uint64_t blk = level ? fs_tree_tag(level, index) : index;

	if (!l || l->seen || l->meta != (level > 0) || l->blk != blk ||
	    memcmp(&l->p, p, sizeof(*p))) {
		if (r->bad++ < 5)
			fprintf(stderr, "  reach: level %u index %" PRIu64 " da %" PRIx64 ": %s\n",
				level, index, p->da[0], !l ? "not live" : l->seen ? "twice" :
				"wrong owner");
		return 0;
	}
	l->seen = true;
	if (level) {
		r->meta++;
		if (!fk_find(&r->h->st, INO, blk) && r->bad++ < 5)
			fprintf(stderr, "  reach: indirect %" PRIx64 " not in the store\n", blk);
	} else {
		r->data++;
	}
	return 0;
}

static void unsee(struct mm_hnode *n, void *arg)
{
	(void)arg;
	((struct live *)n)->seen = false;
}

/* No leak, no dangling pointer: returns false with a reason. */
static bool check_reach(struct th *h)
{
	struct reach r = {.h = h};
	int rc = fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX, FS_TREE_ITER_META, reach_fn, &r);

	mm_htab_each(&h->live, unsee, NULL);
	if (rc != 0) {
		fprintf(stderr, "  reach: iterate %d: %s\n", rc, h->t.err);
		return false;
	}
	if (r.bad || r.meta != h->nlive_meta || r.data != h->nlive_data ||
	    h->st.t.count != h->nlive_meta || h->sh.t.count != h->nlive_meta) {
		fprintf(stderr, "  reach: %" PRIu64 "/%zu indirect, %" PRIu64 "/%zu data reachable/"
			"live, %zu in the store, %zu shadows, %u bad\n", r.meta, h->nlive_meta,
			r.data, h->nlive_data, h->st.t.count, h->sh.t.count, r.bad);
		return false;
	}
	return true;
}

/* ---- the model: block number -> pointer ---- */

struct ment {
	struct mm_hnode hn;
	uint64_t n;
	struct fs_ptr p;
};

static bool ment_eq(const struct mm_hnode *x, const void *k)
{
	return ((const struct ment *)x)->n == *(const uint64_t *)k;
}

static struct ment *model_find(struct mm_htab *m, uint64_t n)
{
	return (struct ment *)mm_htab_find(m, mm_hash_u64(n), ment_eq, &n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct collect {
	uint64_t *n;
	struct fs_ptr *p;
	size_t count, cap;
	uint64_t last;
	bool order_ok;
};

static int collect_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct collect *c = arg;

	if (level)
		return 0;
	if (c->count && index <= c->last)
		c->order_ok = false;
	c->last = index;
	if (c->count == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->n = realloc(c->n, c->cap * sizeof(*c->n));
		c->p = realloc(c->p, c->cap * sizeof(*c->p));
		if (!c->n || !c->p)
			abort();
	}
	c->n[c->count] = index;
	c->p[c->count++] = *p;
	return 0;
}

struct keys {
	uint64_t *k;
	size_t n;
};

static void keys_fn(struct mm_hnode *x, void *arg)
{
	struct keys *k = arg;

	k->k[k->n++] = ((struct ment *)x)->n;
}

/* Iterate over [from, to) equals the model's blocks there, in order. */
static bool check_iterate(struct th *h, struct mm_htab *m, uint64_t from, uint64_t to)
{
	struct collect c = {.order_ok = true};
	struct keys k = {.k = malloc((m->count + 1) * sizeof(uint64_t))};
	size_t j = 0;
	bool ok = true;
	int rc;

	if (!k.k)
		abort();
	mm_htab_each(m, keys_fn, &k);
	qsort(k.k, k.n, sizeof(*k.k), cmp_u64);
	rc = fs_tree_iterate(&h->t, &h->in, from, to, 0, collect_fn, &c);
	if (rc != 0 || !c.order_ok)
		ok = false;
	for (size_t i = 0; i < k.n && ok; i++) {
		if (k.k[i] < from || k.k[i] >= to)
			continue;
		if (j >= c.count || c.n[j] != k.k[i] ||
		    memcmp(&c.p[j], &model_find(m, k.k[i])->p, sizeof(struct fs_ptr)))
			ok = false;
		j++;
	}
	if (j != c.count)
		ok = false;
	if (!ok)
		fprintf(stderr, "  iterate [%" PRIu64 ", %" PRIu64 "): rc %d, %zu blocks, model %zu"
			" (%s)\n", from, to, rc, c.count, j, h->t.err);
	free(k.k);
	free(c.n);
	free(c.p);
	return ok;
}

/* seek_data and seek_hole from <from> agree with the model. */
static bool check_seek(struct th *h, struct mm_htab *m, uint64_t from)
{
	struct keys k = {.k = malloc((m->count + 1) * sizeof(uint64_t))};
	uint64_t got_n = 0;
	bool ok = true;

	if (!k.k)
		abort();
	mm_htab_each(m, keys_fn, &k);
	qsort(k.k, k.n, sizeof(*k.k), cmp_u64);
	/* seek from <from>: the first key >= from, the first non-key >= from */
	if (from < fs_tree_max_block(h->t.bsize)) {
		size_t i = 0;
		uint64_t data = 0, hole = from;
		int want = 0, got;

		while (i < k.n && k.k[i] < from)
			i++;
		if (i < k.n) {
			data = k.k[i];
			want = 1;
		}
		while (i < k.n && k.k[i] == hole)
			i++, hole++;
		got = fs_tree_seek_data(&h->t, &h->in, from, &got_n);
		if (got != want || (want && got_n != data)) {
			fprintf(stderr, "  seek_data %" PRIu64 ": %d %" PRIu64 ", model %d %" PRIu64
				"\n", from, got, got_n, want, data);
			ok = false;
		}
		got = fs_tree_seek_hole(&h->t, &h->in, from, &got_n);
		if (got != MM_OK || got_n != hole) {
			fprintf(stderr, "  seek_hole %" PRIu64 ": %d %" PRIu64 ", model %" PRIu64 "\n",
				from, got, got_n, hole);
			ok = false;
		}
	}
	free(k.k);
	return ok;
}

/* ---- 1. geometry ---- */

static const uint32_t bsizes[] = {64 * KIB, 256 * KIB, 1 * MIB, 16 * MIB};

static void test_geometry(void)
{
	for (unsigned r = 1; r <= FS_MAX_REPLICAS; r++) {
		uint64_t ni = fs_inode_nptrs(r), nd = fs_ind_nptrs(r);

		/* the indirect block body is exactly nd pointers */
		CHECK_U64(nd * 8 * r, ==, FS_MB - FS_MBH_BYTES);
		CHECK_U64(fs_tree_blocks(0, r), ==, ni);
		CHECK_U64(fs_tree_blocks(2, r), ==, ni * nd * nd);
		CU_ASSERT_EQUAL(fs_tree_level_of(0, r), 0);
		CU_ASSERT_EQUAL(fs_tree_level_of(ni - 1, r), 0);
		CU_ASSERT_EQUAL(fs_tree_level_of(ni, r), 1);
		CU_ASSERT_EQUAL(fs_tree_level_of(ni * nd - 1, r), 1);
		CU_ASSERT_EQUAL(fs_tree_level_of(ni * nd, r), 2);
		for (size_t b = 0; b < sizeof(bsizes) / sizeof(bsizes[0]); b++) {
			uint32_t B = bsizes[b];
			uint64_t last = (1ull << 50) / B - 1;
			unsigned L = fs_tree_level_of(last, r);

			/* format.h's byte view agrees */
			for (unsigned l = 0; l <= FS_MAX_LEVEL; l++) {
				uint64_t bytes;

				if (__builtin_mul_overflow(fs_tree_blocks(l, r), (uint64_t)B, &bytes))
					bytes = UINT64_MAX;
				CHECK_U64(fs_tree_max_bytes(l, r, B), ==, bytes);
			}
			CU_ASSERT(L <= 4);
			CU_ASSERT_EQUAL(L, fs_tree_level_for(1ull << 50, r, B));
			CU_ASSERT(fs_tree_level_of(fs_tree_max_block(B) - 1, r) <= FS_MAX_LEVEL);
		}
	}
	CU_ASSERT_EQUAL(fs_tree_tag_level(fs_tree_tag(3, 12345)), 3);
	CU_ASSERT_EQUAL(fs_tree_tag_index(fs_tree_tag(6, (1ull << 56) - 1)), (1ull << 56) - 1);
}

/* ---- 2. small trees: level 0, growth, lookups, punch ---- */

static void put_n(struct th *h, uint64_t n, struct fs_ptr *out)
{
	struct fs_ptr p = new_ptr(h), old;
	struct call c;

	call_begin(h, &c);
	CU_ASSERT_EQUAL_FATAL(fs_tree_set(&h->t, &h->in, n, &p, &old), 1);
	CU_ASSERT(call_end(h, &c, "set"));
	CU_ASSERT(fs_ptr_is_hole(&old));
	live_add(h, &p, false, n);
	if (out)
		*out = p;
}

static void test_growth(void)
{
	for (unsigned r = 1; r <= FS_MAX_REPLICAS; r++) {
		struct th *h = th_new(r, 256 * KIB);
		uint32_t ni = fs_inode_nptrs(r), nd = fs_ind_nptrs(r);
		struct fs_ptr *p = calloc(ni, sizeof(*p)), q, hi, top;
		struct fk_blk *b;

		CU_ASSERT_FATAL(p != NULL);
		/* every other inode slot at level 0: no indirect block */
		for (uint32_t i = 0; i < ni; i += 2)
			put_n(h, i, &p[i]);
		CU_ASSERT_EQUAL(h->in.level, 0);
		CU_ASSERT_EQUAL(h->st.gets, 0);
		/* block ni: level 1, the inode's pointers moved into (1, 0) */
		put_n(h, ni, &q);
		CU_ASSERT_EQUAL(h->in.level, 1);
		b = fk_find(&h->st, INO, fs_tree_tag(1, 0));
		CU_ASSERT_FATAL(b != NULL);
		for (uint32_t i = 0; i < ni; i++) {
			struct fs_ptr x;

			fs_ptr_get(b->data + FS_MBH_BYTES, i, r, &x);
			CU_ASSERT(i % 2 ? fs_ptr_is_hole(&x) : !memcmp(&x, &p[i], sizeof(x)));
		}
		for (uint32_t i = 1; i < ni; i++) {
			struct fs_ptr x;

			fs_ptr_get(h->in.tail, i, r, &x);
			CU_ASSERT(fs_ptr_is_hole(&x));
		}
		/* lookups read exactly one block now */
		for (uint32_t i = 0; i <= ni; i++) {
			struct fs_ptr x;
			uint64_t g0 = h->st.gets;
			int rc = fs_tree_lookup(&h->t, &h->in, i, &x);

			CU_ASSERT_EQUAL(rc, i % 2 && i < ni ? 0 : 1);
			CU_ASSERT(!memcmp(&x, i == ni ? &q : i % 2 ? &(struct fs_ptr){{0}} : &p[i],
					  sizeof(x)));
			CHECK_U64(h->st.gets - g0, ==, 1);
		}
		/* a block past level 1 grows two levels at once: (2,0), (3,0) */
		{
			uint64_t n = fs_tree_blocks(2, r) + 5;

			put_n(h, n, &hi);
			CU_ASSERT_EQUAL(h->in.level, 3);
			CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(2, 0)) != NULL);
			CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(3, 0)) != NULL);
			CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(1, n / nd)) != NULL);
			CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(2, n / nd / nd)) != NULL);
			/* (1, 0) kept its tag and contents */
			CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &top), 1);
			CU_ASSERT(!memcmp(&top, &p[0], sizeof(top)));
			CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, 3, 0, &top), 1);
			{
				struct fs_ptr ip;

				fs_ptr_get(h->in.tail, 0, r, &ip);
				CU_ASSERT(!memcmp(&ip, &top, sizeof(ip)));
			}
		}
		CU_ASSERT(check_reach(h));
		/* punch everything: emptied indirect blocks are freed */
		for (uint32_t i = 0; i <= ni; i++) {
			uint64_t n = i == ni ? ni : i;
			struct fs_ptr old, zero = {{0}};
			struct call c;

			call_begin(h, &c);
			CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, n, &zero, &old),
					i % 2 && i < ni ? 0 : 1);
			CU_ASSERT(call_end(h, &c, "punch"));
			if (!fs_ptr_is_hole(&old))
				CU_ASSERT_EQUAL(fa_free(h, INO, n, &old, false), MM_OK);
		}
		/* (1, 0) and (2, 0) emptied and went; (3, 0) holds hi's path */
		CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(1, 0)) == NULL);
		CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(2, 0)) == NULL);
		CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(3, 0)) != NULL);
		CU_ASSERT(check_reach(h));
		{
			struct fs_ptr old, zero = {{0}};
			uint64_t n = fs_tree_blocks(2, r) + 5;
			struct call c;

			call_begin(h, &c);
			CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, n, &zero, &old), 1);
			CU_ASSERT(call_end(h, &c, "punch hi"));
			CU_ASSERT(!memcmp(&old, &hi, sizeof(old)));
			CU_ASSERT_EQUAL(fa_free(h, INO, n, &old, false), MM_OK);
		}
		CU_ASSERT_EQUAL(h->st.t.count, 0);	/* every indirect block went */
		CU_ASSERT_EQUAL(h->in.level, 3);	/* punch does not shrink */
		CU_ASSERT(check_reach(h));
		/* setting the same pointer twice is no change */
		put_n(h, 7, &q);
		{
			struct call c;
			uint64_t a0 = h->allocs;

			call_begin(h, &c);
			CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, 7, &q, NULL), 0);
			CU_ASSERT(call_end(h, &c, "same"));
			CU_ASSERT_EQUAL(h->allocs, a0);
		}
		/* truncate to 0 shrinks to level 0 and frees all */
		{
			struct call c;

			call_begin(h, &c);
			CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 1);
			CU_ASSERT(call_end(h, &c, "truncate 0"));
			CU_ASSERT_EQUAL(h->in.level, 0);
			CU_ASSERT_EQUAL(h->nlive_data + h->nlive_meta, 0);
			CU_ASSERT_EQUAL(h->st.t.count, 0);
		}
		free(p);
		ASSERT_NO_TFAILS();
		th_free(h);
	}
}

/* ---- 3. random operations against the model ---- */

/* A block number near a boundary of the tree's geometry, or random. */
static uint64_t pick_block(uint64_t *seed, unsigned r, uint32_t B)
{
	uint64_t maxblk = fs_tree_max_block(B), nd = fs_ind_nptrs(r), n, base;
	uint64_t far = (1ull << 50) / B;
	unsigned k;

	switch (rnd(seed) % 8) {
	case 0:	/* near a level's capacity */
		base = fs_tree_blocks((unsigned)(rnd(seed) % 4), r);
		break;
	case 1:	/* near a multiple of an indirect block's span */
		k = 1 + (unsigned)(rnd(seed) % 3);
		base = (1 + rnd(seed) % 4);
		for (unsigned i = 0; i < k; i++)
			base *= nd;
		break;
	case 2:	/* 2^50 bytes */
		base = far;
		break;
	case 3:	/* the very end */
		base = maxblk;
		break;
	case 4:	/* the first few blocks */
		base = 0;
		break;
	case 5:	/* random, log-uniform */
		base = rnd(seed) & ((1ull << (rnd(seed) % 48)) - 1);
		break;
	default:	/* dense near the start of level 1 */
		base = fs_inode_nptrs(r) + rnd(seed) % (2 * nd);
		break;
	}
	n = base + rnd(seed) % 5 - 2;
	if (n > base + 2)	/* wrapped below 0 */
		n = rnd(seed) % 3;
	return n < maxblk ? n : maxblk - 1 - rnd(seed) % 3;
}

static uint64_t nops(void)
{
	const char *e = getenv("FS_TREE_OPS");

	return e ? strtoull(e, NULL, 0) : SANITIZED ? 1500 : 5000;
}

struct rstats {
	uint64_t sets, punches, lookups, truncs, runs, freed, maxlevel;
};

/* Drop model entries at or past <first>. */
struct drop {
	struct mm_htab *m;
	uint64_t first;
	uint64_t n;
};

static void drop_fn(struct mm_hnode *x, void *arg)
{
	struct drop *d = arg;

	if (((struct ment *)x)->n >= d->first) {
		mm_htab_remove(d->m, x);
		free(x);
		d->n++;
	}
}

static void model_free_fn(struct mm_hnode *x, void *arg)
{
	(void)arg;
	free(x);
}

static void random_run(unsigned r, uint32_t B, uint64_t seed, struct rstats *st)
{
	struct th *h = th_new(r, B);
	struct mm_htab m;
	uint64_t ops = nops(), maxblk = fs_tree_max_block(B);
	unsigned fails = 0;

	CU_ASSERT_FATAL(mm_htab_init(&m, 1024) == MM_OK);
	for (uint64_t op = 0; op < ops && fails < 3; op++) {
		uint64_t what = rnd(&seed) % 100, n = pick_block(&seed, r, B);
		struct ment *e = model_find(&m, n);
		struct call c;
		char label[96];
		bool ok = true;

		snprintf(label, sizeof(label), "r%u B%u op %" PRIu64, r, B, op);
		call_begin(h, &c);
		if (what < 45) {	/* set */
			struct fs_ptr p = new_ptr(h), old;
			int rc = fs_tree_set(&h->t, &h->in, n, &p, &old);

			ok = rc == 1 && (e ? !memcmp(&old, &e->p, sizeof(old)) : fs_ptr_is_hole(&old));
			if (e && !fs_ptr_is_hole(&old))
				fa_free(h, INO, n, &old, false);
			if (!e) {
				e = calloc(1, sizeof(*e));
				e->n = n;
				mm_htab_insert(&m, &e->hn, mm_hash_u64(n));
			}
			e->p = p;
			live_add(h, &p, false, n);
			st->sets++;
		} else if (what < 60) {	/* punch: a block of the model or any */
			struct fs_ptr old, zero = {{0}};
			int rc = fs_tree_set(&h->t, &h->in, n, &zero, &old);

			ok = rc == (e ? 1 : 0) &&
			     (e ? !memcmp(&old, &e->p, sizeof(old)) : fs_ptr_is_hole(&old));
			if (e) {
				fa_free(h, INO, n, &old, false);
				mm_htab_remove(&m, &e->hn);
				free(e);
			}
			st->punches++;
		} else if (what < 90) {	/* lookup, reading at most <level> blocks */
			struct fs_ptr p;
			int rc = fs_tree_lookup(&h->t, &h->in, n, &p);

			ok = rc == (e ? 1 : 0) &&
			     !memcmp(&p, e ? &e->p : &(struct fs_ptr){{0}}, sizeof(p)) &&
			     h->st.gets - c.gets <= h->in.level;
			if (e && h->st.gets - c.gets != h->in.level && n < fs_tree_blocks(h->in.level, r))
				ok = false;	/* a mapped block reads exactly level blocks */
			st->lookups++;
		} else if (what < 97) {	/* a run */
			uint64_t first = n > 50 ? n - rnd(&seed) % 50 : 0, cnt = 1 + rnd(&seed) % 300;
			struct fs_ptr *p;
			int64_t mapped, want = 0;

			if (cnt > maxblk - first)
				cnt = maxblk - first;
			p = malloc(cnt * sizeof(*p));
			mapped = fs_tree_lookup_run(&h->t, &h->in, first, cnt, p);
			for (uint64_t i = 0; i < cnt && ok; i++) {
				struct ment *x = model_find(&m, first + i);

				want += x != NULL;
				if (memcmp(&p[i], x ? &x->p : &(struct fs_ptr){{0}}, sizeof(*p)))
					ok = false;
			}
			ok = ok && mapped == want;
			free(p);
			st->runs++;
		} else {	/* truncate at a boundary (plus a partial block sometimes) */
			uint64_t bytes = n * (uint64_t)B + (rnd(&seed) % 2 ? rnd(&seed) % B : 0);
			uint64_t first = bytes / B + (bytes % B != 0);
			struct drop d = {.m = &m, .first = first};
			int64_t rc;

			uint64_t max = rnd(&seed) % 2 ? 1 + rnd(&seed) % 200 : 0;
			bool more = true;

			if (rnd(&seed) % 4 == 0)
				bytes = first = 0, d.first = 0;
			/* with a budget: in steps, each a consistent tree */
			for (rc = 0; more && ok;) {
				int64_t x = fs_tree_truncate(&h->t, &h->in, bytes, max, &more);

				ok = x >= 0 && (!max || (uint64_t)x <= max) && (!more || max);
				rc += x;
			}
			mm_htab_each(&m, drop_fn, &d);
			ok = ok && rc >= 0 && (uint64_t)rc == d.n &&
			     h->in.level <= fs_tree_level_of(first ? first - 1 : 0, r);
			st->truncs++;
			st->freed += d.n;
		}
		if (!ok)
			fprintf(stderr, "  %s (kind %" PRIu64 ", block %" PRIu64 ", level %u): wrong "
				"answer; err \"%s\"\n", label, what, n, h->in.level, h->t.err);
		if (!call_end(h, &c, label))
			ok = false;
		if (h->bad)
			ok = false;
		if (h->in.level > st->maxlevel)
			st->maxlevel = h->in.level;
		if (op % 100 == 99 || op + 1 == ops) {
			uint64_t from = m.count ? pick_block(&seed, r, B) : 0;

			if (!check_reach(h) || !check_iterate(h, &m, 0, UINT64_MAX) ||
			    !check_iterate(h, &m, n / 2, n + 1000) ||
			    !check_iterate(h, &m, from, UINT64_MAX) || !check_seek(h, &m, from) ||
			    !check_seek(h, &m, n))
				ok = false;
		}
		CU_ASSERT(ok);
		fails += !ok;
	}
	ASSERT_NO_TFAILS();
	mm_htab_each(&m, model_free_fn, NULL);
	mm_htab_free(&m);
	th_free(h);
}

static void test_random(void)
{
	static const uint32_t B[] = {64 * KIB, 1 * MIB, 16 * MIB};
	struct rstats st = {0};
	uint64_t seed = 0x7ee5eed;

	wd_arm("random", SANITIZED ? 240 : 60);
	for (unsigned r = 1; r <= FS_MAX_REPLICAS; r++)
		for (size_t b = 0; b < sizeof(B) / sizeof(B[0]); b++)
			random_run(r, B[b], seed + r * 1000 + b, &st);
	wd_disarm();
	fprintf(stderr, "\n  random: %" PRIu64 " sets, %" PRIu64 " punches, %" PRIu64 " lookups, %"
		PRIu64 " runs, %" PRIu64 " truncates freeing %" PRIu64 " blocks, max level %"
		PRIu64 "\n", st.sets, st.punches, st.lookups, st.runs, st.truncs, st.freed,
		st.maxlevel);
}

/* ---- 4. huge sparse trees: a block at 0 and one at 2^50 - B ---- */

static void test_sparse(void)
{
	for (unsigned r = 1; r <= FS_MAX_REPLICAS; r++) {
		for (size_t b = 0; b < sizeof(bsizes) / sizeof(bsizes[0]); b++) {
			uint32_t B = bsizes[b];
			struct th *h = th_new(r, B);
			uint64_t far = (1ull << 50) / B - 1, got, g0;
			unsigned L = fs_tree_level_of(far, r);
			struct fs_ptr p0, pf, x;
			struct call c;
			int64_t rc;

			put_n(h, 0, &p0);
			put_n(h, far, &pf);
			CU_ASSERT_EQUAL(h->in.level, L);
			/* chain (k, 0) for k = 1..L, and far's path: its blocks below the
			 * top have index >= ni, its top block is (L, 0) only if far <
			 * span(L) */
			CHECK_U64(h->st.t.count, ==,
				  L + (L - 1) + (far >= fs_tree_blocks(L, r) / fs_inode_nptrs(r)));
			g0 = h->st.gets;
			CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, far, &x), 1);
			CU_ASSERT(!memcmp(&x, &pf, sizeof(x)));
			CHECK_U64(h->st.gets - g0, ==, L);
			g0 = h->st.gets;
			CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, far / 2, &x), 0);
			CU_ASSERT(h->st.gets - g0 <= 2);	/* the hole is seen high */
			/* iterate the whole 2^50: reads only the blocks there */
			g0 = h->st.gets;
			CU_ASSERT(check_reach(h));
			CHECK_U64(h->st.gets - g0, ==, h->st.t.count);
			CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, 1, &got), 1);
			CHECK_U64(got, ==, far);
			CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, far + 1, &got), 0);
			CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, 0, &got), MM_OK);
			CHECK_U64(got, ==, 1);
			CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, far, &got), MM_OK);
			CHECK_U64(got, ==, far + 1);
			/* truncate to one block: frees far and its path, without walking holes */
			g0 = h->st.gets;
			call_begin(h, &c);
			rc = fs_tree_truncate(&h->t, &h->in, B / 2, 0, NULL);
			CU_ASSERT(call_end(h, &c, "sparse truncate"));
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT(h->st.gets - g0 <= 3u * L);
			CU_ASSERT_EQUAL(h->in.level, 0);
			CU_ASSERT_EQUAL(h->st.t.count, 0);
			CU_ASSERT_EQUAL(h->nlive_data, 1);
			CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &x), 1);
			CU_ASSERT(!memcmp(&x, &p0, sizeof(x)));
			CU_ASSERT(check_reach(h));
			/* the largest block number works too; one past it is refused */
			put_n(h, fs_tree_max_block(B) - 1, NULL);
			CU_ASSERT(check_reach(h));
			CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, fs_tree_max_block(B), &pf, NULL),
					MM_ERANGE);
			CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, fs_tree_max_block(B), &x),
					MM_ERANGE);
			CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 2);
			CU_ASSERT_EQUAL(h->nlive_data + h->nlive_meta, 0);
			ASSERT_NO_TFAILS();
			th_free(h);
		}
	}
}

/* An inode at FS_MAX_LEVEL (spans past 2^64 with maxrep 1) still works:
 * every block is under inode pointer 0, and truncate shrinks it. */
static void test_deep(void)
{
	const uint32_t B = 64 * KIB;
	struct th *h = th_new(1, B);
	uint64_t last = fs_tree_max_block(B) - 1, g0;
	struct fs_ptr p0, pl, x;
	struct call c;

	CU_ASSERT_FATAL(fs_tree_blocks(5, 1) == UINT64_MAX);	/* saturated */
	h->in.level = FS_MAX_LEVEL;
	put_n(h, 0, &p0);
	put_n(h, last, &pl);
	CU_ASSERT_EQUAL(h->in.level, FS_MAX_LEVEL);
	g0 = h->st.gets;
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, last, &x), 1);
	CU_ASSERT(!memcmp(&x, &pl, sizeof(x)));
	CHECK_U64(h->st.gets - g0, ==, FS_MAX_LEVEL);
	CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, FS_MAX_LEVEL, 0, &x), 1);
	CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, FS_MAX_LEVEL, 1, &x), MM_ERANGE);
	CU_ASSERT(check_reach(h));
	call_begin(h, &c);
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, B, 0, NULL), 1);
	CU_ASSERT(call_end(h, &c, "deep truncate"));
	CU_ASSERT_EQUAL(h->in.level, 0);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &x), 1);
	CU_ASSERT(!memcmp(&x, &p0, sizeof(x)));
	CU_ASSERT(check_reach(h));
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 1);
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 5. iterate, runs, lookup_at ---- */

struct meta_order {
	uint64_t last_data;
	unsigned nmeta, ndata;
	bool ok;
	struct th *h;
	unsigned stop_after;
};

static int order_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct meta_order *o = arg;
	struct fs_ptr x;

	if (level) {
		/* before the blocks under it */
		if (o->ndata && o->last_data >= index * fs_tree_blocks(level, o->h->maxrep) /
							fs_inode_nptrs(o->h->maxrep))
			o->ok = false;
		/* lookup_at agrees */
		if (fs_tree_lookup_at(&o->h->t, &o->h->in, level, index, &x) != 1 ||
		    memcmp(&x, p, sizeof(x)))
			o->ok = false;
		o->nmeta++;
	} else {
		o->ndata++;
		o->last_data = index;
	}
	return o->stop_after && o->ndata == o->stop_after ? 1 : 0;
}

static void test_iterate(void)
{
	const unsigned r = 2;
	const uint32_t B = 1 * MIB;
	struct th *h = th_new(r, B);
	uint64_t nd = fs_ind_nptrs(r), ni = fs_inode_nptrs(r);
	uint64_t blocks[] = {0, 1, ni - 1, ni, nd - 1, nd, 5 * nd + 3, nd * nd, nd * nd + 1,
			     ni * nd * nd + 7, 3 * nd * nd * nd + 2};
	struct mm_htab m;
	struct meta_order o = {.ok = true, .h = NULL};
	uint64_t g0, got;
	int rc;

	CU_ASSERT_FATAL(mm_htab_init(&m, 64) == MM_OK);
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		struct ment *e = calloc(1, sizeof(*e));

		e->n = blocks[i];
		put_n(h, blocks[i], &e->p);
		mm_htab_insert(&m, &e->hn, mm_hash_u64(e->n));
	}
	CU_ASSERT_EQUAL(h->in.level, 3);
	CU_ASSERT(check_iterate(h, &m, 0, UINT64_MAX));
	CU_ASSERT(check_iterate(h, &m, 1, nd));
	CU_ASSERT(check_iterate(h, &m, nd, nd + 1));
	CU_ASSERT(check_iterate(h, &m, nd + 1, nd * nd));
	CU_ASSERT(check_iterate(h, &m, nd * nd + 1, UINT64_MAX));
	/* holes are not read: a range with nothing reads only the top blocks */
	g0 = h->st.gets;
	CU_ASSERT(check_iterate(h, &m, 6 * nd, nd * nd - 1));
	CU_ASSERT(h->st.gets - g0 <= 2);
	/* META: each indirect block before its blocks; lookup_at agrees */
	o.h = h;
	g0 = h->st.gets;
	rc = fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX, FS_TREE_ITER_META, order_fn, &o);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(o.ok);
	CU_ASSERT_EQUAL(o.ndata, sizeof(blocks) / sizeof(blocks[0]));
	CHECK_U64(o.nmeta, ==, h->st.t.count);
	/* stop */
	o = (struct meta_order){.ok = true, .h = h, .stop_after = 4};
	CU_ASSERT_EQUAL(fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX, 0, order_fn, &o), 1);
	CU_ASSERT_EQUAL(o.ndata, 4);
	CU_ASSERT_EQUAL(fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX, 7, order_fn, &o), MM_EINVAL);
	/* seek */
	CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, 2, &got), 1);
	CHECK_U64(got, ==, ni - 1);
	CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, 5 * nd + 4, &got), 1);
	CHECK_U64(got, ==, nd * nd);
	CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, ni - 1, &got), MM_OK);
	CHECK_U64(got, ==, ni + 1);
	CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, 5, &got), MM_OK);
	CHECK_U64(got, ==, 5);
	/* a hole of one block */
	{
		struct ment *e = calloc(1, sizeof(*e));

		e->n = 3;
		put_n(h, 3, &e->p);
		mm_htab_insert(&m, &e->hn, mm_hash_u64(3));
		CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, 0, &got), MM_OK);
		CHECK_U64(got, ==, 2);
		CU_ASSERT_EQUAL(fs_tree_seek_hole(&h->t, &h->in, 3, &got), MM_OK);
		CHECK_U64(got, ==, 4);
		CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, 2, &got), 1);
		CHECK_U64(got, ==, 3);
		CU_ASSERT(check_iterate(h, &m, 2, UINT64_MAX));
		for (uint64_t from = 0; from < 6; from++)
			CU_ASSERT(check_seek(h, &m, from));
		CU_ASSERT(check_seek(h, &m, nd * nd));
	}
	/* a run over two level-1 blocks reads each block on its path once */
	{
		struct fs_ptr *p = calloc(2 * nd, sizeof(*p));

		g0 = h->st.gets;
		CU_ASSERT_EQUAL(fs_tree_lookup_run(&h->t, &h->in, 0, 2 * nd, p), 7);
		/* (3,0) (2,0) (1,0) (1,1) */
		CHECK_U64(h->st.gets - g0, ==, 4);
		CU_ASSERT(!fs_ptr_is_hole(&p[nd]) && fs_ptr_is_hole(&p[nd + 1]));
		g0 = h->st.gets;
		CU_ASSERT_EQUAL(fs_tree_lookup_run(&h->t, &h->in, 2 * nd, 2 * nd, p), 0);
		CHECK_U64(h->st.gets - g0, ==, 2);	/* (1, 2), (1, 3) are holes: not read */
		free(p);
	}
	/* lookup_at: levels above the inode's are holes; a bad level is refused */
	{
		struct fs_ptr x;

		CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, 4, 0, &x), 0);
		CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, 7, 0, &x), MM_EINVAL);
		g0 = h->st.gets;
		CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, 1, 5, &x), 1);
		CHECK_U64(h->st.gets - g0, ==, 2);
		CU_ASSERT_EQUAL(fs_tree_lookup_at(&h->t, &h->in, 1, 6, &x), 0);
	}
	CU_ASSERT(check_reach(h));
	mm_htab_each(&m, model_free_fn, NULL);
	mm_htab_free(&m);
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 6. truncate frees exactly what is past the end ---- */

static void test_truncate(void)
{
	const unsigned r = 3;
	const uint32_t B = 64 * KIB;
	struct th *h = th_new(r, B);
	uint64_t nd = fs_ind_nptrs(r), ni = fs_inode_nptrs(r);
	uint64_t dense = 3 * nd + 17;	/* blocks 0 .. dense-1 all mapped: level 1 */
	int64_t rc;
	struct call c;

	for (uint64_t n = 0; n < dense; n++)
		put_n(h, n, NULL);
	put_n(h, ni * nd + 3, NULL);	/* level 2 */
	CU_ASSERT_EQUAL(h->in.level, 2);
	/* a partial last block is kept */
	call_begin(h, &c);
	rc = fs_tree_truncate(&h->t, &h->in, (2 * nd + 5) * (uint64_t)B + 1, 0, NULL);
	CU_ASSERT(call_end(h, &c, "truncate partial"));
	CHECK_U64(rc, ==, dense - (2 * nd + 6) + 1);
	CHECK_U64(h->nlive_data, ==, 2 * nd + 6);
	CU_ASSERT_EQUAL(h->in.level, 1);	/* shrank: ni * nd blocks hold it */
	CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(1, 3)) == NULL);
	CU_ASSERT(check_reach(h));
	/* at a block boundary: block 2 * nd starts a new indirect block, which goes */
	call_begin(h, &c);
	rc = fs_tree_truncate(&h->t, &h->in, 2 * nd * (uint64_t)B, 0, NULL);
	CU_ASSERT(call_end(h, &c, "truncate boundary"));
	CHECK_U64(rc, ==, 6);
	CU_ASSERT(fk_find(&h->st, INO, fs_tree_tag(1, 2)) == NULL);
	CU_ASSERT(check_reach(h));
	/* a size past the tree frees nothing */
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 1ull << 60, 0, NULL), 0);
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 1ull << 63, 0, NULL), MM_EINVAL);
	/* down into the inode: level 0 with ni pointers */
	call_begin(h, &c);
	rc = fs_tree_truncate(&h->t, &h->in, ni * (uint64_t)B, 0, NULL);
	CU_ASSERT(call_end(h, &c, "truncate to level 0"));
	CHECK_U64(rc, ==, 2 * nd - ni);
	CU_ASSERT_EQUAL(h->in.level, 0);
	CU_ASSERT_EQUAL(h->st.t.count, 0);
	CU_ASSERT(check_reach(h));
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), (int64_t)ni);
	CU_ASSERT_EQUAL(h->nlive_data, 0);

	/* with a budget: steps of at most 100 blocks, each a consistent tree */
	for (uint64_t n = 0; n < 2 * nd + 50; n++)
		put_n(h, n, NULL);
	put_n(h, ni * nd * nd + 1, NULL);
	put_n(h, 2 * ni * nd * nd + 3, NULL);
	{
		uint64_t total = h->nlive_data, freed = 0;
		unsigned steps = 0;
		bool more = true;

		while (more && steps < 1000) {
			call_begin(h, &c);
			rc = fs_tree_truncate(&h->t, &h->in, 10 * (uint64_t)B, 100, &more);
			CU_ASSERT(call_end(h, &c, "budget step"));
			CU_ASSERT(rc >= 0 && rc <= 100);
			CU_ASSERT(more || h->in.level == 0);
			freed += (uint64_t)rc;
			steps++;
			if (steps % 8 == 0)
				CU_ASSERT(check_reach(h));
		}
		CHECK_U64(freed, ==, total - 10);
		CU_ASSERT(steps >= (total - 10) / 100);
		CU_ASSERT_EQUAL(h->in.level, 0);
		CU_ASSERT(check_reach(h));
	}
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 10);
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 7. damage ---- */

/* Reseal block <tag> after <mut> changed it (a = width, b = count). */
static void reseal(struct fk_blk *b, uint64_t tag, uint64_t a, uint64_t cnt)
{
	struct fs_mbh hd = {.type = FS_BT_INDIRECT, .fsid = FSID, .ino = INO, .blk = tag,
			    .a = a, .b = cnt};

	fs_mb_seal(b->data, FS_MB, &hd);
}

static void test_damage(void)
{
	const unsigned r = 1;
	struct th *h = th_new(r, 64 * KIB);
	uint64_t nd = fs_ind_nptrs(r), ni = fs_inode_nptrs(r), n = ni * nd + 5;
	uint64_t tag2 = fs_tree_tag(2, 0), tag1 = fs_tree_tag(1, n / nd);
	struct fk_blk *b;
	struct fs_ptr x;
	uint8_t save[FS_MB];
	int rc;

	put_n(h, 3, NULL);
	put_n(h, n, NULL);
	CU_ASSERT_EQUAL(h->in.level, 2);
	CU_ASSERT_EQUAL(h->allocs, 3);	/* (1, 0), (2, 0) and n's (1, ni) */
	b = fk_find(&h->st, INO, tag1);
	CU_ASSERT_FATAL(b != NULL);
	memcpy(save, b->data, FS_MB);

	/* a flipped bit: bad checksum, naming inode, level and index */
	b->data[FS_MBH_BYTES + 8 * (n % nd)] ^= 0x10;
	rc = fs_tree_lookup(&h->t, &h->in, n, &x);
	CU_ASSERT_EQUAL(rc, MM_ECHECKSUM);
	CU_ASSERT(fs_ptr_is_hole(&x));
	CHECK_MSG(h->t.err, "inode 77");
	CHECK_MSG(h->t.err, "level 1");
	{
		char idx[40];

		snprintf(idx, sizeof(idx), "index %" PRIu64, n / nd);
		CHECK_MSG(h->t.err, idx);
	}
	CHECK_MSG(h->t.err, "checksum");
	/* every entry point refuses it, holds nothing, changes nothing */
	{
		struct fs_ptr p = new_ptr(h), *run = calloc(nd, sizeof(*run));
		struct call c;

		call_begin(h, &c);
		CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, n + 1, &p, NULL), MM_ECHECKSUM);
		CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, n, &(struct fs_ptr){{0}}, NULL),
				MM_ECHECKSUM);
		CU_ASSERT_EQUAL(fs_tree_lookup_run(&h->t, &h->in, n - 5, 10, run), MM_ECHECKSUM);
		{
			struct collect col = {0};

			CU_ASSERT_EQUAL(fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX, 0, collect_fn,
							&col), MM_ECHECKSUM);
			free(col.n);
			free(col.p);
		}
		CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, (n - 1) * 64 * KIB, 0, NULL), MM_ECHECKSUM);
		CU_ASSERT_EQUAL(h->st.held, 0);
		CU_ASSERT_EQUAL(h->allocs, 3);
		free(run);
	}
	/* a header count that does not match the pointers */
	memcpy(b->data, save, FS_MB);
	reseal(b, tag1, r, 2);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), MM_EPROTO);
	CHECK_MSG(h->t.err, "counts 2 pointers");
	/* the wrong pointer width */
	reseal(b, tag1, 2, 1);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), MM_EPROTO);
	CHECK_MSG(h->t.err, "replicas");
	/* another block's copy (its tag says index 0) */
	reseal(b, fs_tree_tag(1, 0), r, 1);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), MM_EPROTO);
	CHECK_MSG(h->t.err, "level 1 index");
	/* another file system's */
	{
		struct fs_mbh hd = {.type = FS_BT_INDIRECT, .fsid = FSID + 1, .ino = INO, .blk = tag1,
				    .a = r, .b = 1};

		fs_mb_seal(b->data, FS_MB, &hd);
		CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), MM_EPROTO);
		CHECK_MSG(h->t.err, "file system");
	}
	memcpy(b->data, save, FS_MB);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), 1);
	/* missing although pointed at */
	b = fk_find(&h->st, INO, tag2);
	memcpy(save, b->data, FS_MB);
	fk_del(&h->st, b);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), MM_EPROTO);
	CHECK_MSG(h->t.err, "level 2 index 0 is missing");
	memcpy(fk_add(&h->st, INO, tag2)->data, save, FS_MB);
	/* an inode level past FS_MAX_LEVEL */
	h->in.level = FS_MAX_LEVEL + 1;
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &x), MM_EPROTO);
	CHECK_MSG(h->t.err, "level 7");
	h->in.level = 2;
	CU_ASSERT(check_reach(h));
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 2);
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 8. failing callbacks and the store: set changes nothing ---- */

static void test_failures(void)
{
	const unsigned r = 2;
	struct th *h = th_new(r, 64 * KIB);
	uint64_t nd = fs_ind_nptrs(r), ni = fs_inode_nptrs(r);
	uint64_t targets[] = {ni + 1, ni * nd * nd + 9, 7 * nd + 1};
	struct fs_ptr p;
	unsigned tried = 0;

	for (uint64_t i = 0; i < ni; i += 3)
		put_n(h, i, NULL);
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		/* fail the k-th alloc_meta, then the k-th get, for every k until it works */
		for (int kind = 0; kind < 2; kind++) {
			for (uint64_t k = 1;; k++) {
				struct fs_inode before = h->in;
				uint64_t ndata = h->nlive_data, nmeta = h->nlive_meta;
				size_t nst = h->st.t.count;
				struct call c;
				int rc;

				p = new_ptr(h);
				if (kind == 0)
					h->fail_alloc = k;
				else
					h->st.fail_in = k;
				call_begin(h, &c);
				rc = fs_tree_set(&h->t, &h->in, targets[t] + kind, &p, NULL);
				h->fail_alloc = h->st.fail_in = 0;
				CU_ASSERT(call_end(h, &c, "failing set"));
				if (rc == 1) {
					live_add(h, &p, false, targets[t] + kind);
					break;
				}
				tried++;
				CU_ASSERT_EQUAL(rc, kind == 0 ? MM_ERANGE : MM_EIO);
				CU_ASSERT(!memcmp(&before, &h->in, sizeof(before)));
				CU_ASSERT_EQUAL(h->nlive_data, ndata);
				CU_ASSERT_EQUAL(h->nlive_meta, nmeta);
				CU_ASSERT_EQUAL(h->st.t.count, nst);
				CU_ASSERT(check_reach(h));
				if (k > 20)
					break;
			}
		}
	}
	CU_ASSERT(tried >= 6);
	/* a failing free in truncate leaks, never frees twice; a retry finishes */
	{
		uint64_t live0 = h->nlive_data + h->nlive_meta;
		int64_t rc;
		unsigned k;

		for (k = 1; k < 1000; k++) {
			h->fail_free = k;
			rc = fs_tree_truncate(&h->t, &h->in, 0, 0, NULL);
			h->fail_free = 0;
			if (rc >= 0)
				break;
			CU_ASSERT_EQUAL(rc, MM_EIO);
			CU_ASSERT_EQUAL(h->st.held, 0);
			CU_ASSERT_EQUAL(h->bad, 0);
		}
		CU_ASSERT(k > 1 && k < 1000);
		CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 0);
		CU_ASSERT_EQUAL(h->in.level, 0);
		/* what is still live leaked: unreachable, never freed twice, and
		 * at most a level-1 block's worth per failure; leaked indirect
		 * blocks stay in the store, detached (unless their own free
		 * failed: they were punched first) */
		CU_ASSERT_EQUAL(h->bad, 0);
		CU_ASSERT(h->nlive_data + h->nlive_meta > 0);
		CU_ASSERT(h->nlive_data + h->nlive_meta < live0);
		CHECK_U64(h->st.t.count, <=, h->nlive_meta);
		{
			struct reach rr = {.h = h};

			CU_ASSERT_EQUAL(fs_tree_iterate(&h->t, &h->in, 0, UINT64_MAX,
							FS_TREE_ITER_META, reach_fn, &rr), 0);
			CU_ASSERT_EQUAL(rr.meta + rr.data, 0);
		}
		mm_htab_each(&h->live, live_free_node, NULL);
		mm_htab_free(&h->live);
		mm_htab_init(&h->live, 16);
		h->nlive_data = h->nlive_meta = 0;
	}
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 9. data in the inode, and bad arguments ---- */

static void test_inline(void)
{
	struct th *h = th_new(2, 64 * KIB);
	struct fs_ptr p = new_ptr(h), x;
	struct call c;
	uint64_t n;

	h->in.flags = FS_IF_DATA_IN_INODE;
	h->in.size = h->in.tail_len = 5;
	memcpy(h->in.tail, "hello", 5);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &x), MM_ESTATE);
	CHECK_MSG(h->t.err, "in the inode");
	CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, 0, &p, NULL), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_tree_iterate(&h->t, &h->in, 0, 9, 0, collect_fn, NULL), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_tree_seek_data(&h->t, &h->in, 0, &n), MM_ESTATE);
	CU_ASSERT_EQUAL(fs_tree_lookup_run(&h->t, &h->in, 0, 1, &x), MM_ESTATE);
	/* the conversion */
	call_begin(h, &c);
	CU_ASSERT_EQUAL(fs_tree_from_inline(&h->t, &h->in, &p), MM_OK);
	CU_ASSERT(call_end(h, &c, "from inline"));
	live_add(h, &p, false, 0);
	CU_ASSERT_EQUAL(h->in.flags & FS_IF_DATA_IN_INODE, 0);
	CU_ASSERT_EQUAL(h->in.tail_len, 0);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, 0, &x), 1);
	CU_ASSERT(!memcmp(&x, &p, sizeof(x)));
	CU_ASSERT_EQUAL(fs_tree_from_inline(&h->t, &h->in, &p), MM_ESTATE);
	/* the record it gives decodes */
	{
		uint8_t rec[FS_INODE_BYTES];
		struct fs_inode back;
		char err[128];

		fs_inode_encode(&h->in, FSID, rec);
		CU_ASSERT_EQUAL(fs_inode_decode(rec, FSID, INO, &back, err, sizeof(err)), MM_OK);
	}
	/* bad arguments */
	{
		struct fs_tree t = h->t;
		struct fs_ptr wide = p;

		t.maxrep = 4;
		CU_ASSERT_EQUAL(fs_tree_lookup(&t, &h->in, 0, &x), MM_EINVAL);
		t = h->t;
		t.bsize = 96 * KIB;
		CU_ASSERT_EQUAL(fs_tree_lookup(&t, &h->in, 0, &x), MM_EINVAL);
		t = h->t;
		t.alloc_meta = NULL;
		wide = new_ptr(h);
		CU_ASSERT_EQUAL(fs_tree_set(&t, &h->in, 1000, &wide, NULL), MM_EINVAL);
		wide.da[2] = 99;	/* maxrep is 2 */
		CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, 1, &wide, NULL), MM_EINVAL);
		CHECK_MSG(h->t.err, "replica 2");
	}
	CU_ASSERT(check_reach(h));
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 1);
	ASSERT_NO_TFAILS();
	th_free(h);
}

/* ---- 10. the harness itself catches an unreported change ---- */

static void test_harness(void)
{
	struct th *h = th_new(1, 64 * KIB);
	uint64_t n = fs_inode_nptrs(1) + 1;
	struct fs_ptr x;
	struct call c;
	struct fk_blk *b;
	void (*changed)(void *, uint64_t, uint64_t, uint32_t, uint32_t, const uint8_t *);

	put_n(h, n, NULL);
	/* a store change nobody reported */
	call_begin(h, &c);
	CU_ASSERT_EQUAL(fs_tree_lookup(&h->t, &h->in, n, &x), 1);
	b = fk_find(&h->st, INO, fs_tree_tag(1, 0));
	b->data[FS_MB - 1] ^= 1;
	fprintf(stderr, "\n  (a mismatch report is expected here:)\n");
	CU_ASSERT(!call_end(h, &c, "harness"));
	b->data[FS_MB - 1] ^= 1;
	/* an inode change nobody reported */
	call_begin(h, &c);
	h->in.tail[8] ^= 1;
	CU_ASSERT(!call_end(h, &c, "harness inode"));
	h->in.tail[8] ^= 1;
	/* without reports, a set fails the check */
	changed = h->t.changed;
	h->t.changed = NULL;
	call_begin(h, &c);
	{
		struct fs_ptr p = new_ptr(h);

		CU_ASSERT_EQUAL(fs_tree_set(&h->t, &h->in, n + 1, &p, NULL), 1);
		live_add(h, &p, false, n + 1);
	}
	CU_ASSERT(!call_end(h, &c, "harness silent set"));
	h->t.changed = changed;
	CU_ASSERT_EQUAL(fs_tree_truncate(&h->t, &h->in, 0, 0, NULL), 2);
	ASSERT_NO_TFAILS();
	th_free(h);
}

static void register_fs_tree(void)
{
	static const struct mm_test geometry[] = {
		{"geometry and tags", test_geometry},
		{"harness catches unreported changes", test_harness},
	};
	static const struct mm_test ops[] = {
		{"growth moves pointers, punch frees", test_growth},
		{"iterate, runs, lookup_at, seek", test_iterate},
		{"truncate frees exactly past the end", test_truncate},
		{"sparse 2^50 trees", test_sparse},
		{"an inode at the deepest level", test_deep},
		{"random ops against a model", test_random},
	};
	static const struct mm_test damage[] = {
		{"damaged indirect blocks", test_damage},
		{"failing callbacks change nothing", test_failures},
		{"data in the inode, bad arguments", test_inline},
	};

	MM_ADD_SUITE("fs_tree geometry", geometry);
	MM_ADD_SUITE("fs_tree operations", ops);
	MM_ADD_SUITE("fs_tree damage", damage);
}

MM_CUNIT_MAIN(register_fs_tree)
