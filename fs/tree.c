/*
 * fs/tree.c - a file's pointer tree (contract: fs/tree.h; design:
 * fs/README.md, "Pointer tree").
 *
 *   1. geometry (spans, capacities), errors, calls' common checks
 *   2. indirect blocks: get and verify, seal, report
 *   3. lookup, lookup_at
 *   4. walks over a range: lookup_run, iterate, seek
 *   5. set: grow, create the path, punch
 *   6. truncate and shrink
 *   7. data in the inode -> tree
 */
#include "fs/tree.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- 1. geometry, errors, checks ---- */

struct geo {
	unsigned r;			/* maxrep */
	uint32_t psz;			/* bytes a pointer takes: 8 * r */
	uint32_t ni, nd;		/* pointers in the inode, in an indirect block */
	uint64_t span[FS_MAX_LEVEL + 1];	/* data blocks a level-k pointer covers */
	uint64_t cap[FS_MAX_LEVEL + 1];		/* blocks a level-k tree addresses */
	uint64_t maxblk;		/* fs_tree_max_block(B) */
};

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t x;

	return __builtin_mul_overflow(a, b, &x) ? UINT64_MAX : x;
}

static void geo_init(struct geo *g, unsigned r, uint32_t bsize)
{
	g->r = r;
	g->psz = 8u * r;
	g->ni = fs_inode_nptrs(r);
	g->nd = fs_ind_nptrs(r);
	g->span[0] = 1;
	g->cap[0] = g->ni;
	for (unsigned k = 1; k <= FS_MAX_LEVEL; k++) {
		g->span[k] = mul_sat(g->span[k - 1], g->nd);
		g->cap[k] = mul_sat(g->span[k], g->ni);
	}
	g->maxblk = bsize ? fs_tree_max_block(bsize) : 0;
}

uint64_t fs_tree_blocks(unsigned level, unsigned maxrep)
{
	uint64_t n = fs_inode_nptrs(maxrep);

	for (unsigned k = 0; k < level && n != UINT64_MAX; k++)
		n = mul_sat(n, fs_ind_nptrs(maxrep));
	return n;
}

unsigned fs_tree_level_of(uint64_t n, unsigned maxrep)
{
	for (unsigned k = 0; k <= FS_MAX_LEVEL; k++)
		if (n < fs_tree_blocks(k, maxrep))
			return k;
	return FS_MAX_LEVEL + 1;
}

static unsigned level_for(const struct geo *g, uint64_t n)
{
	unsigned k = 0;

	while (k < FS_MAX_LEVEL && n >= g->cap[k])
		k++;
	return k;
}

/* Record "inode <ino>: <what>" in t->err; returns <rc>. */
__attribute__((format(printf, 4, 5)))
static int fail(struct fs_tree *t, int rc, uint64_t ino, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(t->err, sizeof(t->err), "inode %" PRIu64 ": ", ino);

	if (n < 0 || (size_t)n >= sizeof(t->err))
		return rc;
	va_start(ap, fmt);
	vsnprintf(t->err + n, sizeof(t->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

/* Every call starts here. */
static int check_call(struct fs_tree *t, const struct fs_inode *in, struct geo *g)
{
	t->err[0] = '\0';
	if (t->maxrep < 1 || t->maxrep > FS_MAX_REPLICAS)
		return fail(t, MM_EINVAL, in->ino, "pointer width %u is not 1 .. %u", t->maxrep,
			    FS_MAX_REPLICAS);
	if (t->bsize < FS_MIN_BLOCK || t->bsize > FS_MAX_BLOCK || (t->bsize & (t->bsize - 1)))
		return fail(t, MM_EINVAL, in->ino, "block size %" PRIu32 " is not a power of two "
			    "in %u .. %u", t->bsize, FS_MIN_BLOCK, FS_MAX_BLOCK);
	if (!t->bs)
		return fail(t, MM_EINVAL, in->ino, "no block store given");
	if (in->flags & FS_IF_DATA_IN_INODE)
		return fail(t, MM_ESTATE, in->ino, "the data is in the inode: no pointer tree");
	if (in->level > FS_MAX_LEVEL)
		return fail(t, MM_EPROTO, in->ino, "tree level %u is over %u", in->level,
			    FS_MAX_LEVEL);
	geo_init(g, t->maxrep, t->bsize);
	return MM_OK;
}

static void report(struct fs_tree *t, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
		   const uint8_t *bytes)
{
	if (t->changed && len)
		t->changed(t->arg, ino, blk, off, len, bytes);
}

/* The inode's pointers i .. i + n - 1 changed. */
static void report_iptrs(struct fs_tree *t, const struct geo *g, const struct fs_inode *in,
			 uint32_t i, uint32_t n)
{
	report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_TAIL + i * g->psz, n * g->psz, NULL);
}

static bool area_hole(const uint8_t *area, uint32_t i, const struct geo *g)
{
	const uint8_t *q = area + (size_t)i * g->psz;
	uint64_t w = 0;

	for (unsigned r = 0; r < g->r; r++) {
		uint64_t x;

		memcpy(&x, q + 8 * r, 8);
		w |= x;
	}
	return w == 0;
}

/* ---- 2. indirect blocks ---- */

#define BODY(data) ((data) + FS_MBH_BYTES)

static uint32_t count_ptrs(const uint8_t *body, const struct geo *g)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i < g->nd; i++)
		c += !area_hole(body, i, g);
	return c;
}

/* Verify indirect block (level, index) of <ino>: header, width, count.
 * *count gets the count of non-hole pointers. */
static int ind_verify(struct fs_tree *t, const struct geo *g, uint64_t ino, unsigned level,
		      uint64_t index, const uint8_t *data, uint32_t *count)
{
	char why[160];
	struct fs_mbh h;
	uint32_t c;
	int rc;

	rc = fs_mb_verify_bs(t->bs, data, FS_MB, FS_BT_INDIRECT, t->fsid, ino,
			     fs_tree_tag(level, index), &h, why, sizeof(why));
	if (rc < 0)
		return fail(t, rc, ino, "indirect block level %u index %" PRIu64 ": %s", level,
			    index, why);
	if (h.a != g->r)
		return fail(t, MM_EPROTO, ino, "indirect block level %u index %" PRIu64 ": pointers "
			    "of %" PRIu64 " replicas, the file's are %u", level, index, h.a, g->r);
	c = count_ptrs(BODY(data), g);
	if (h.b != c)
		return fail(t, MM_EPROTO, ino, "indirect block level %u index %" PRIu64 ": header "
			    "counts %" PRIu64 " pointers, the block holds %" PRIu32, level, index,
			    h.b, c);
	*count = c;
	return MM_OK;
}

/* Get and verify indirect block (level, index), which its parent says
 * exists. On failure nothing is held. */
static int ind_get(struct fs_tree *t, const struct geo *g, uint64_t ino, unsigned level,
		   uint64_t index, bool write, uint8_t **data, uint32_t *count)
{
	const struct fs_bstore *bs = t->bs;
	uint64_t tag = fs_tree_tag(level, index);
	uint32_t c = 0;
	int rc;

	rc = bs->get(bs->arg, ino, tag, write, data);
	if (rc == MM_ENOENT)
		return fail(t, MM_EPROTO, ino, "indirect block level %u index %" PRIu64 " is "
			    "missing although its pointer is set", level, index);
	if (rc < 0)
		return fail(t, rc, ino, "indirect block level %u index %" PRIu64 ": %s", level,
			    index, mm_strerror(rc));
	rc = ind_verify(t, g, ino, level, index, *data, &c);
	if (rc < 0) {
		bs->put(bs->arg, ino, tag, *data, false);
		return rc;
	}
	if (count)
		*count = c;
	return MM_OK;
}

static void ind_put(struct fs_tree *t, uint64_t ino, unsigned level, uint64_t index,
		    uint8_t *data, bool dirty)
{
	t->bs->put(t->bs->arg, ino, fs_tree_tag(level, index), data, dirty);
}

/* Seal a changed block and report its header (after its pointers). */
static void ind_seal(struct fs_tree *t, const struct geo *g, uint64_t ino, unsigned level,
		     uint64_t index, uint8_t *data, uint32_t count)
{
	struct fs_mbh h = {.type = FS_BT_INDIRECT, .fsid = t->fsid, .ino = ino,
			   .blk = fs_tree_tag(level, index), .a = g->r, .b = count};

	fs_mb_seal(data, FS_MB, &h);
	report(t, ino, h.blk, 0, FS_MBH_BYTES, data);
}

/* Pointer <i> of a block changed (it is final). */
static void report_slot(struct fs_tree *t, const struct geo *g, uint64_t ino, unsigned level,
			uint64_t index, const uint8_t *data, uint32_t i, uint32_t n)
{
	uint32_t off = FS_MBH_BYTES + i * g->psz;

	report(t, ino, fs_tree_tag(level, index), off, n * g->psz, data + off);
}

/* Drop a freed indirect block from the store, then give its space back. */
static int ind_free(struct fs_tree *t, uint64_t ino, unsigned level, uint64_t index,
		    const struct fs_ptr *p)
{
	uint64_t tag = fs_tree_tag(level, index);
	int rc = t->bs->punch ? t->bs->punch(t->bs->arg, ino, tag) : MM_OK;

	if (rc < 0)
		return fail(t, rc, ino, "punching indirect block level %u index %" PRIu64 ": %s",
			    level, index, mm_strerror(rc));
	rc = t->free_blk(t->arg, ino, tag, p, true);
	if (rc < 0)
		return fail(t, rc, ino, "freeing indirect block level %u index %" PRIu64 ": %s",
			    level, index, mm_strerror(rc));
	return MM_OK;
}

static int data_free(struct fs_tree *t, uint64_t ino, uint64_t n, const struct fs_ptr *p)
{
	int rc = t->free_blk(t->arg, ino, n, p, false);

	if (rc < 0)
		return fail(t, rc, ino, "freeing block %" PRIu64 ": %s", n, mm_strerror(rc));
	return MM_OK;
}

/* ---- 3. lookup ---- */

int fs_tree_lookup_at(struct fs_tree *t, const struct fs_inode *in, unsigned level,
		      uint64_t index, struct fs_ptr *p)
{
	struct geo g;
	uint64_t base;
	unsigned L;
	int rc = check_call(t, in, &g);

	memset(p, 0, sizeof(*p));
	if (rc < 0)
		return rc;
	if (level > FS_MAX_LEVEL)
		return fail(t, MM_EINVAL, in->ino, "tree level %u is over %u", level, FS_MAX_LEVEL);
	base = mul_sat(index, g.span[level]);	/* first data block it covers */
	if (base >= g.maxblk)
		return fail(t, MM_ERANGE, in->ino, "block %" PRIu64 " at level %u is past the "
			    "largest file", index, level);
	L = in->level;
	if (level > L || base >= g.cap[L])
		return 0;
	fs_ptr_get(in->tail, (uint32_t)(base / g.span[L]), g.r, p);
	for (unsigned k = L; k > level && !fs_ptr_is_hole(p); k--) {
		uint64_t x = base / g.span[k];
		uint8_t *data;

		rc = ind_get(t, &g, in->ino, k, x, false, &data, NULL);
		if (rc < 0) {
			memset(p, 0, sizeof(*p));
			return rc;
		}
		fs_ptr_get(BODY(data), (uint32_t)(base / g.span[k - 1] % g.nd), g.r, p);
		ind_put(t, in->ino, k, x, data, false);
	}
	return !fs_ptr_is_hole(p);
}

int fs_tree_lookup(struct fs_tree *t, const struct fs_inode *in, uint64_t n, struct fs_ptr *p)
{
	return fs_tree_lookup_at(t, in, 0, n, p);
}

/* ---- 4. walks over a range ----
 *
 * A walk visits, in order, the non-hole pointers under the inode that
 * cover part of [from, to): pointers at level 0 always, indirect ones
 * with FS_TREE_ITER_META. It descends into an indirect block while
 * holding its parent (top-down, one block per level); in copy mode it
 * copies each block's pointers and puts it before going on, so the
 * callback runs with nothing held.
 */
struct walk {
	struct fs_tree *t;
	const struct geo *g;
	uint64_t ino;
	uint64_t from, to;
	unsigned flags;
	fs_tree_iter_fn fn;
	void *arg;
	uint8_t *copy;		/* copy mode: FS_MB per level, level k at (k - 1) * FS_MB */
};

/* The <nslots> pointers of level <plevel> at <area>; slot j is tree block
 * (plevel, x0 + j). */
static int walk_ptrs(struct walk *w, unsigned plevel, const uint8_t *area, uint32_t nslots,
		     uint64_t x0)
{
	const struct geo *g = w->g;
	uint64_t span = g->span[plevel];
	uint32_t j = 0;
	int rc;

	if (w->from / span > x0)
		j = (uint32_t)(w->from / span - x0 < nslots ? w->from / span - x0 : nslots);
	for (; j < nslots; j++) {
		uint64_t x = x0 + j;
		struct fs_ptr p;
		uint8_t *data;
		uint32_t c;

		if (mul_sat(x, span) >= w->to)
			break;
		if (area_hole(area, j, g))
			continue;
		fs_ptr_get(area, j, g->r, &p);
		if (plevel == 0 || (w->flags & FS_TREE_ITER_META)) {
			rc = w->fn(w->arg, plevel, x, &p);
			if (rc)
				return rc;
		}
		if (plevel == 0)
			continue;
		rc = ind_get(w->t, g, w->ino, plevel, x, false, &data, &c);
		if (rc < 0)
			return rc;
		if (w->copy) {
			uint8_t *body = w->copy + (size_t)(plevel - 1) * FS_MB;

			memcpy(body, BODY(data), (size_t)g->nd * g->psz);
			ind_put(w->t, w->ino, plevel, x, data, false);
			rc = walk_ptrs(w, plevel - 1, body, g->nd, x * g->nd);
		} else {
			rc = walk_ptrs(w, plevel - 1, BODY(data), g->nd, x * g->nd);
			ind_put(w->t, w->ino, plevel, x, data, false);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int walk(struct fs_tree *t, const struct geo *g, const struct fs_inode *in,
		uint64_t from, uint64_t to, unsigned flags, bool copy, fs_tree_iter_fn fn,
		void *arg)
{
	struct walk w = {.t = t, .g = g, .ino = in->ino, .from = from,
			 .to = to < g->maxblk ? to : g->maxblk, .flags = flags, .fn = fn,
			 .arg = arg};
	int rc;

	if (w.from >= w.to)
		return 0;
	if (copy && in->level) {
		w.copy = malloc((size_t)in->level * FS_MB);
		if (!w.copy)
			return fail(t, MM_ENOMEM, in->ino, "no memory for a walk of %u levels",
				    in->level);
	}
	rc = walk_ptrs(&w, in->level, in->tail, g->ni, 0);
	free(w.copy);
	return rc;
}

struct run {
	uint64_t first;
	struct fs_ptr *p;
	int64_t mapped;
};

static int run_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct run *r = arg;

	(void)level;
	r->p[index - r->first] = *p;
	r->mapped++;
	return 0;
}

int64_t fs_tree_lookup_run(struct fs_tree *t, const struct fs_inode *in, uint64_t first,
			   uint64_t count, struct fs_ptr *p)
{
	struct run r = {.first = first, .p = p};
	struct geo g;
	int rc = check_call(t, in, &g);

	if (rc < 0)
		return rc;
	if (first > g.maxblk || count > g.maxblk - first)
		return fail(t, MM_ERANGE, in->ino, "blocks %" PRIu64 " + %" PRIu64 " are past the "
			    "largest file", first, count);
	memset(p, 0, count * sizeof(*p));
	rc = walk(t, &g, in, first, first + count, 0, false, run_fn, &r);
	return rc < 0 ? rc : r.mapped;
}

int fs_tree_iterate(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t to,
		    unsigned flags, fs_tree_iter_fn fn, void *arg)
{
	struct geo g;
	int rc = check_call(t, in, &g);

	if (rc < 0)
		return rc;
	if (flags & ~(unsigned)FS_TREE_ITER_META)
		return fail(t, MM_EINVAL, in->ino, "unknown iterate flags %#x", flags);
	rc = walk(t, &g, in, from, to, flags, true, fn, arg);
	return rc < 0 ? rc : rc ? 1 : 0;
}

static int first_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	(void)level;
	(void)p;
	*(uint64_t *)arg = index;
	return 1;
}

int fs_tree_seek_data(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t *n)
{
	struct geo g;
	int rc = check_call(t, in, &g);

	if (rc < 0)
		return rc;
	rc = walk(t, &g, in, from, UINT64_MAX, 0, false, first_fn, n);
	return rc < 0 ? rc : rc ? 1 : 0;
}

static int hole_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	uint64_t *next = arg;

	(void)level;
	(void)p;
	if (index > *next)
		return 1;	/* *next is a hole */
	*next = index + 1;
	return 0;
}

int fs_tree_seek_hole(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t *n)
{
	struct geo g;
	int rc = check_call(t, in, &g);

	if (rc < 0)
		return rc;
	*n = from;
	rc = walk(t, &g, in, from, UINT64_MAX, 0, false, hole_fn, n);
	return rc < 0 ? rc : MM_OK;
}

/* ---- 5. set ----
 *
 * Four phases, so an error changes nothing: (1) get (write) the existing
 * indirect blocks on n's path, (2) allocate the missing ones, (3) get
 * them (write), (4) change everything in memory, seal, report, put. With
 * growth the path holds no existing block: block n lies past what the
 * old tree addresses, so its path leaves the old top level at a pointer
 * the move left empty.
 */
struct node {
	unsigned level;
	uint64_t index;
	uint8_t *data;		/* held (write) */
	struct fs_ptr ptr;	/* its disk pointer (new blocks) */
	uint32_t count;		/* non-hole pointers */
	bool is_new, allocated, got, dirty;
};

struct plan {
	struct node node[2 * FS_MAX_LEVEL];
	unsigned nn;
	struct node *path[FS_MAX_LEVEL + 1];	/* path[k]: n's level-k block */
	struct node *chain[FS_MAX_LEVEL + 1];	/* growth: the new (k, 0) */
};

static struct node *plan_add(struct plan *pl, unsigned level, uint64_t index, bool is_new)
{
	struct node *nd = &pl->node[pl->nn++];

	memset(nd, 0, sizeof(*nd));
	nd->level = level;
	nd->index = index;
	nd->is_new = is_new;
	return nd;
}

/* Undo phases 1 .. 3. */
static void plan_abort(struct fs_tree *t, struct plan *pl, uint64_t ino)
{
	for (unsigned i = pl->nn; i-- > 0;) {
		struct node *nd = &pl->node[i];

		if (nd->got)
			ind_put(t, ino, nd->level, nd->index, nd->data, false);
		if (nd->got && nd->is_new && t->bs->punch)
			(void)t->bs->punch(t->bs->arg, ino, fs_tree_tag(nd->level, nd->index));
		if (nd->allocated)
			(void)t->free_blk(t->arg, ino, fs_tree_tag(nd->level, nd->index), &nd->ptr,
					  true);
	}
}

static void node_put(struct fs_tree *t, const struct geo *g, uint64_t ino, struct node *nd)
{
	if (nd->dirty)
		ind_seal(t, g, ino, nd->level, nd->index, nd->data, nd->count);
	ind_put(t, ino, nd->level, nd->index, nd->data, nd->dirty);
}

/* Pointer <i> of node <nd> (NULL: the inode) becomes *p. */
static void node_set(struct fs_tree *t, const struct geo *g, struct fs_inode *in,
		     struct node *nd, uint32_t i, const struct fs_ptr *p)
{
	if (!nd) {
		fs_ptr_put(in->tail, i, g->r, p);
		report_iptrs(t, g, in, i, 1);
		return;
	}
	nd->count += fs_ptr_is_hole(p) ? 0u : 1u;
	nd->count -= area_hole(BODY(nd->data), i, g) ? 0u : 1u;
	fs_ptr_put(BODY(nd->data), i, g->r, p);
	nd->dirty = true;
	report_slot(t, g, in->ino, nd->level, nd->index, nd->data, i, 1);
}

/* Slot of block n's path in its level-k parent (the inode at the top). */
static uint32_t slot_in(const struct geo *g, unsigned L, unsigned k, uint64_t n)
{
	return (uint32_t)(k == L ? n / g->span[L] : n / g->span[k] % g->nd);
}

static int set_punch(struct fs_tree *t, const struct geo *g, struct fs_inode *in, uint64_t n,
		     struct fs_ptr *old);

int fs_tree_set(struct fs_tree *t, struct fs_inode *in, uint64_t n, const struct fs_ptr *p,
		struct fs_ptr *old)
{
	struct fs_ptr prev;
	struct plan pl;
	struct geo g;
	unsigned L, L2;
	struct node *parent;
	bool grow, chain;
	int rc = check_call(t, in, &g);

	if (old)
		memset(old, 0, sizeof(*old));
	if (rc < 0)
		return rc;
	if (n >= g.maxblk)
		return fail(t, MM_ERANGE, in->ino, "block %" PRIu64 " is past the largest file (%"
			    PRIu64 " blocks of %" PRIu32 ")", n, g.maxblk, t->bsize);
	for (unsigned r = g.r; r < FS_MAX_REPLICAS; r++)
		if (p->da[r])
			return fail(t, MM_EINVAL, in->ino, "pointer for block %" PRIu64 " has a "
				    "replica %u past the file's %u", n, r, g.r);
	if (fs_ptr_is_hole(p))
		return set_punch(t, &g, in, n, old);
	if (!t->alloc_meta || !t->free_blk)
		return fail(t, MM_EINVAL, in->ino, "no alloc_meta or free_blk callback");

	L = in->level;
	L2 = level_for(&g, n);
	if (L2 < L)
		L2 = L;
	grow = L2 > L;
	chain = false;
	if (grow)
		for (uint32_t i = 0; i < g.ni && !chain; i++)
			chain = !area_hole(in->tail, i, &g);

	/* 1. the existing path (none with growth), then the plan */
	memset(&pl, 0, sizeof(pl));
	if (chain)
		for (unsigned k = L + 1; k <= L2; k++)
			pl.chain[k] = plan_add(&pl, k, 0, true);
	parent = NULL;
	for (unsigned k = L2; k >= 1; k--) {
		uint64_t x = n / g.span[k];
		struct node *nd;

		if (chain && k > L && x == 0) {
			nd = pl.chain[k];
		} else if (grow || (parent && parent->is_new) ||
			   area_hole(parent ? BODY(parent->data) : in->tail, slot_in(&g, L2, k, n),
				     &g)) {
			nd = plan_add(&pl, k, x, true);
		} else {
			nd = plan_add(&pl, k, x, false);
			rc = ind_get(t, &g, in->ino, k, x, true, &nd->data, &nd->count);
			if (rc < 0) {
				pl.nn--;
				plan_abort(t, &pl, in->ino);
				return rc;
			}
			nd->got = true;
		}
		pl.path[k] = nd;
		parent = nd;
	}
	/* the old pointer: a new leaf block holds none */
	if (L2 == 0)
		fs_ptr_get(in->tail, slot_in(&g, L2, 0, n), g.r, &prev);
	else if (!pl.path[1]->is_new)
		fs_ptr_get(BODY(pl.path[1]->data), slot_in(&g, L2, 0, n), g.r, &prev);
	else
		memset(&prev, 0, sizeof(prev));
	if (old)
		*old = prev;
	if (!memcmp(&prev, p, sizeof(prev))) {
		plan_abort(t, &pl, in->ino);
		return 0;
	}

	/* 2. allocate, 3. get the new blocks */
	for (unsigned i = 0; i < pl.nn; i++) {
		struct node *nd = &pl.node[i];
		uint64_t tag = fs_tree_tag(nd->level, nd->index);

		if (!nd->is_new)
			continue;
		rc = t->alloc_meta(t->arg, in->ino, tag, &nd->ptr);
		if (rc < 0) {
			plan_abort(t, &pl, in->ino);
			return fail(t, rc, in->ino, "allocating indirect block level %u index %"
				    PRIu64 ": %s", nd->level, nd->index, mm_strerror(rc));
		}
		nd->allocated = true;
		for (unsigned r = g.r; r < FS_MAX_REPLICAS; r++)
			nd->ptr.da[r] = FS_DA_NONE;
		if (fs_ptr_is_hole(&nd->ptr)) {
			plan_abort(t, &pl, in->ino);
			return fail(t, MM_EINVAL, in->ino, "alloc_meta gave no address for indirect "
				    "block level %u index %" PRIu64, nd->level, nd->index);
		}
		rc = t->bs->get(t->bs->arg, in->ino, tag, true, &nd->data);
		if (rc < 0) {
			plan_abort(t, &pl, in->ino);
			return fail(t, rc, in->ino, "new indirect block level %u index %" PRIu64
				    ": %s", nd->level, nd->index, mm_strerror(rc));
		}
		nd->got = true;
		memset(nd->data, 0, FS_MB);
		nd->dirty = true;
	}

	/* 4. change: the growth chain, the level, the path, the pointer */
	if (chain) {
		struct node *c = pl.chain[L + 1];

		memcpy(BODY(c->data), in->tail, (size_t)g.ni * g.psz);
		c->count = count_ptrs(BODY(c->data), &g);
		report_slot(t, &g, in->ino, c->level, 0, c->data, 0, g.ni);
		for (unsigned k = L + 2; k <= L2; k++)
			node_set(t, &g, in, pl.chain[k], 0, &pl.chain[k - 1]->ptr);
		memset(in->tail, 0, (size_t)g.ni * g.psz);
		fs_ptr_put(in->tail, 0, g.r, &pl.chain[L2]->ptr);
		report_iptrs(t, &g, in, 0, g.ni);
	}
	if (grow) {
		in->level = (uint8_t)L2;
		report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_LEVEL, 1, NULL);
	}
	for (unsigned k = L2; k >= 1; k--) {
		struct node *nd = pl.path[k];

		if (nd->is_new && !(chain && k > L && nd->index == 0))
			node_set(t, &g, in, k == L2 ? NULL : pl.path[k + 1], slot_in(&g, L2, k, n),
				 &nd->ptr);
	}
	node_set(t, &g, in, L2 ? pl.path[1] : NULL, slot_in(&g, L2, 0, n), p);
	for (unsigned i = 0; i < pl.nn; i++)
		node_put(t, &g, in->ino, &pl.node[i]);
	return 1;
}

/* Punch block n: zero its pointer, free the indirect blocks that empties. */
static int set_punch(struct fs_tree *t, const struct geo *g, struct fs_inode *in, uint64_t n,
		     struct fs_ptr *old)
{
	struct node nodes[FS_MAX_LEVEL + 1], *path[FS_MAX_LEVEL + 1] = {0};
	unsigned L = in->level, top;
	struct fs_ptr prev, zero = {0};
	int rc = MM_OK;

	if (n >= g->cap[L])
		return 0;
	for (unsigned k = L; k >= 1; k--) {
		const uint8_t *area = k == L ? in->tail : BODY(path[k + 1]->data);
		struct node *nd = &nodes[k];

		if (area_hole(area, slot_in(g, L, k, n), g))
			break;
		memset(nd, 0, sizeof(*nd));
		nd->level = k;
		nd->index = n / g->span[k];
		fs_ptr_get(area, slot_in(g, L, k, n), g->r, &nd->ptr);
		rc = ind_get(t, g, in->ino, k, nd->index, true, &nd->data, &nd->count);
		if (rc < 0)
			break;
		path[k] = nd;
	}
	if (rc < 0 || (L && !path[1])) {
		for (unsigned k = 1; k <= L; k++)
			if (path[k])
				ind_put(t, in->ino, k, path[k]->index, path[k]->data, false);
		return rc;
	}
	fs_ptr_get(L ? BODY(path[1]->data) : in->tail, slot_in(g, L, 0, n), g->r, &prev);
	if (old)
		*old = prev;
	if (fs_ptr_is_hole(&prev)) {
		for (unsigned k = 1; k <= L; k++)
			ind_put(t, in->ino, k, path[k]->index, path[k]->data, false);
		return 0;
	}
	if (!t->free_blk) {
		for (unsigned k = 1; k <= L; k++)
			ind_put(t, in->ino, k, path[k]->index, path[k]->data, false);
		return fail(t, MM_EINVAL, in->ino, "no free_blk callback");
	}
	/* blocks 1 .. top - 1 hold only the path to n: they go; the pointer
	 * to block top - 1 (or to n itself) is zeroed in block <top> (or in
	 * the inode when top > L) */
	top = 1;
	while (top <= L && path[top]->count == 1)
		top++;
	node_set(t, g, in, top > L ? NULL : path[top], slot_in(g, L, top - 1, n), &zero);
	for (unsigned k = 1; k <= L; k++) {
		struct node *nd = path[k];

		if (k < top) {
			int rc2;

			ind_put(t, in->ino, k, nd->index, nd->data, false);
			rc2 = ind_free(t, in->ino, k, nd->index, &nd->ptr);
			if (rc2 < 0 && rc == MM_OK)
				rc = rc2;
		} else {
			node_put(t, g, in->ino, nd);
		}
	}
	return rc < 0 ? rc : 1;
}

/* ---- 6. truncate ----
 *
 * Pointers are zeroed before what they point at is freed (a failing
 * free leaks, never frees twice). A level-1 block entirely past the end
 * whose data blocks fit the budget is detached and freed read-only (its
 * pointers are not rewritten: at most one such block leaks on an error);
 * every other block is descended into with a write get and its pointers
 * zeroed one by one, so a budget can stop anywhere.
 */
struct trunc {
	uint64_t first;		/* first block to free */
	uint64_t budget;	/* data blocks still to free in this call */
	int64_t nfreed;
	bool more;		/* stopped at the budget */
};

/* Free the data blocks of level-1 block <child> (held, detached), then
 * the block. */
static int free_leaf_block(struct fs_tree *t, const struct geo *g, uint64_t ino,
			   struct node *child, struct trunc *tr)
{
	int rc = MM_OK;

	for (uint32_t j = 0; j < g->nd && rc == MM_OK; j++) {
		struct fs_ptr p;

		if (area_hole(BODY(child->data), j, g))
			continue;
		fs_ptr_get(BODY(child->data), j, g->r, &p);
		rc = data_free(t, ino, child->index * g->nd + j, &p);
		if (rc == MM_OK) {
			tr->nfreed++;
			tr->budget--;
		}
	}
	ind_put(t, ino, 1, child->index, child->data, false);
	return rc < 0 ? rc : ind_free(t, ino, 1, child->index, &child->ptr);
}

/*
 * Truncate the pointers of level <plevel> in <nd> (NULL: the inode's
 * tail, plevel its level), slot j being tree block (plevel, x0 + j).
 */
static int trunc_ptrs(struct fs_tree *t, const struct geo *g, struct fs_inode *in,
		      struct node *nd, unsigned plevel, uint64_t x0, struct trunc *tr)
{
	const uint8_t *area = nd ? BODY(nd->data) : in->tail;
	uint32_t nslots = nd ? g->nd : g->ni;
	uint64_t span = g->span[plevel];
	static const struct fs_ptr zero;
	uint32_t j = 0;
	int rc = MM_OK;

	/* slot j covers [(x0 + j) * span, ...): start at the one holding first */
	if (tr->first / span > x0)
		j = (uint32_t)(tr->first / span - x0 < nslots ? tr->first / span - x0 : nslots);
	for (; j < nslots && rc == MM_OK && !tr->more; j++) {
		uint64_t x = x0 + j;
		bool whole = mul_sat(x, span) >= tr->first;
		struct node child;

		if (area_hole(area, j, g) || (plevel == 0 && !whole))
			continue;
		if (tr->budget == 0) {
			tr->more = true;
			break;
		}
		memset(&child, 0, sizeof(child));
		child.level = plevel;
		child.index = x;
		fs_ptr_get(area, j, g->r, &child.ptr);
		if (plevel == 0) {
			node_set(t, g, in, nd, j, &zero);
			rc = data_free(t, in->ino, x, &child.ptr);
			if (rc == MM_OK) {
				tr->nfreed++;
				tr->budget--;
			}
			continue;
		}
		rc = ind_get(t, g, in->ino, plevel, x, true, &child.data, &child.count);
		if (rc < 0)
			break;
		if (plevel == 1 && whole && child.count <= tr->budget) {
			node_set(t, g, in, nd, j, &zero);
			rc = free_leaf_block(t, g, in->ino, &child, tr);
			continue;
		}
		rc = trunc_ptrs(t, g, in, &child, plevel - 1, x * g->nd, tr);
		if (child.count == 0) {
			ind_put(t, in->ino, plevel, x, child.data, false);
			node_set(t, g, in, nd, j, &zero);
			if (rc == MM_OK)
				rc = ind_free(t, in->ino, plevel, x, &child.ptr);
		} else {
			node_put(t, g, in->ino, &child);
		}
	}
	return rc;
}

/* Lower the level while level - 1 addresses every block below <first>. */
static int shrink(struct fs_tree *t, const struct geo *g, struct fs_inode *in, uint64_t first)
{
	while (in->level > 0 && first <= g->cap[in->level - 1]) {
		unsigned L = in->level;
		struct fs_ptr p;
		uint8_t *data;
		uint32_t count;
		int rc;

		for (uint32_t i = 1; i < g->ni; i++)
			if (!area_hole(in->tail, i, g))
				return MM_OK;	/* cannot happen after a truncate */
		if (area_hole(in->tail, 0, g)) {
			in->level = (uint8_t)(L - 1);
			report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_LEVEL, 1, NULL);
			continue;
		}
		fs_ptr_get(in->tail, 0, g->r, &p);
		rc = ind_get(t, g, in->ino, L, 0, false, &data, &count);
		if (rc < 0)
			return rc;
		for (uint32_t i = g->ni; i < g->nd; i++)
			if (!area_hole(BODY(data), i, g)) {
				ind_put(t, in->ino, L, 0, data, false);
				return MM_OK;	/* cannot happen after a truncate */
			}
		memcpy(in->tail, BODY(data), (size_t)g->ni * g->psz);
		ind_put(t, in->ino, L, 0, data, false);
		in->level = (uint8_t)(L - 1);
		report_iptrs(t, g, in, 0, g->ni);
		report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_LEVEL, 1, NULL);
		rc = ind_free(t, in->ino, L, 0, &p);
		if (rc < 0)
			return rc;
	}
	return MM_OK;
}

int64_t fs_tree_truncate(struct fs_tree *t, struct fs_inode *in, uint64_t size, uint64_t max,
			 bool *more)
{
	struct trunc tr = {.budget = max ? max : UINT64_MAX};
	struct geo g;
	int rc = check_call(t, in, &g);

	if (more)
		*more = false;
	if (rc < 0)
		return rc;
	if (size > INT64_MAX)
		return fail(t, MM_EINVAL, in->ino, "size %" PRIu64 " is over 2^63 - 1", size);
	if (!t->free_blk)
		return fail(t, MM_EINVAL, in->ino, "no free_blk callback");
	tr.first = size / t->bsize + (size % t->bsize != 0);
	if (tr.first < g.cap[in->level])
		rc = trunc_ptrs(t, &g, in, NULL, in->level, 0, &tr);
	if (rc == MM_OK && !tr.more)
		rc = shrink(t, &g, in, tr.first);
	if (more)
		*more = tr.more;
	return rc < 0 ? rc : tr.nfreed;
}

/* ---- 7. data in the inode -> tree ---- */

int fs_tree_from_inline(struct fs_tree *t, struct fs_inode *in, const struct fs_ptr *p0)
{
	unsigned r = t->maxrep;

	t->err[0] = '\0';
	if (!(in->flags & FS_IF_DATA_IN_INODE))
		return fail(t, MM_ESTATE, in->ino, "the data is not in the inode");
	if (r < 1 || r > FS_MAX_REPLICAS)
		return fail(t, MM_EINVAL, in->ino, "pointer width %u is not 1 .. %u", r,
			    FS_MAX_REPLICAS);
	for (unsigned i = r; i < FS_MAX_REPLICAS; i++)
		if (p0->da[i])
			return fail(t, MM_EINVAL, in->ino, "block 0's pointer has a replica %u "
				    "past the file's %u", i, r);
	in->flags &= ~(uint32_t)FS_IF_DATA_IN_INODE;
	memset(in->tail, 0, FS_TAIL_BYTES);
	in->tail_len = 0;
	in->level = 0;
	fs_ptr_put(in->tail, 0, r, p0);
	report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_FLAGS, 4, NULL);
	report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_LEVEL, 1, NULL);
	report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_TAIL_LEN, 2, NULL);
	report(t, in->ino, FS_TREE_INODE, FS_TREE_IOFF_TAIL, FS_TAIL_BYTES, NULL);
	return MM_OK;
}
