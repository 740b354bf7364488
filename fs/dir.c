/*
 * fs/dir.c - directories: extendible hashing over a block store, and
 * entries in the inode's tail area while they fit (contract: fs/dir.h;
 * design: fs/README.md, "Directories: extendible hashing").
 *
 *   1. hashes, cookies, errors
 *   2. entries and entry areas (a block's body or the tail area): encode,
 *      parse and verify, find, remove
 *   3. blocks: probing holes, get and verify, seal and put, split
 *   4. lookup, insert, remove, shrink
 *   5. readdir and is_empty: a walk over the blocks in reversed-hash order
 */
#include "fs/dir.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"

/* ---- 1. hashes, cookies, errors ---- */

static inline uint64_t low_mask(unsigned bits)
{
	return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}

static uint64_t rev64(uint64_t x)
{
	x = (x >> 1 & 0x5555555555555555ull) | (x & 0x5555555555555555ull) << 1;
	x = (x >> 2 & 0x3333333333333333ull) | (x & 0x3333333333333333ull) << 2;
	x = (x >> 4 & 0x0f0f0f0f0f0f0f0full) | (x & 0x0f0f0f0f0f0f0f0full) << 4;
	return __builtin_bswap64(x);
}

uint64_t fs_dir_cookie(uint64_t hash)
{
	uint64_t c = rev64(hash) >> 1;

	return c < FS_DIR_COOKIE_MIN ? FS_DIR_COOKIE_MIN : c;
}

static uint64_t name_hash(const struct fs_dir *d, const char *name, size_t len)
{
	return d->hash ? d->hash(name, len) : fs_name_hash(name, len);
}

/* Record "directory inode <ino>: <what>" in d->err; returns <rc>. */
__attribute__((format(printf, 3, 4)))
static int fail(struct fs_dir *d, int rc, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(d->err, sizeof(d->err), "directory inode %" PRIu64 ": ", d->ino);

	if (n < 0 || (size_t)n >= sizeof(d->err))
		return rc;
	va_start(ap, fmt);
	vsnprintf(d->err + n, sizeof(d->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

void fs_dir_init_empty(struct fs_dir *d)
{
	d->depth = 0;
	d->in_inode = true;
	memset(d->tail, 0, FS_TAIL_BYTES);
	d->tail_len = 0;
	d->inode_dirty = true;
}

int fs_dir_check_name(const char *name, size_t len)
{
	if (len == 0)
		return MM_EINVAL;
	if (len > FS_NAME_MAX)
		return MM_ETOOBIG;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return MM_EINVAL;
	return MM_OK;
}

/* Every call starts here: the name (if any) and the view. */
static int check_call(struct fs_dir *d, const char *name, size_t len)
{
	int rc;

	if (name && (rc = fs_dir_check_name(name, len)) < 0)
		return fail(d, rc, "bad entry name (%zu bytes)", len);
	if (!d->bs || !d->tail)
		return fail(d, MM_EINVAL, "no block store or tail area given");
	if (d->depth > FS_DIR_MAX_DEPTH)
		return fail(d, MM_EPROTO, "global depth %u is over %u", d->depth, FS_DIR_MAX_DEPTH);
	if (d->in_inode && d->tail_len > FS_TAIL_BYTES)
		return fail(d, MM_EPROTO, "in-inode entries use %u bytes of %u", d->tail_len,
			    FS_TAIL_BYTES);
	return MM_OK;
}

/* ---- 2. entries and entry areas ---- */

/* Entry fields (fs/dir.h). */
#define E_INO 0
#define E_GEN 8
#define E_TYPE 12
#define E_LEN 13
#define E_HASH 14

/* Entries packed at <p>: a block's body (blk = its number, depth its
 * local depth, data the whole block) or the tail area (blk =
 * FS_DIR_IN_INODE, data NULL). */
struct area {
	uint8_t *p;
	size_t used, cap;
	uint32_t count;
	unsigned depth;
	uint64_t blk;
	uint8_t *data;
	size_t hit;		/* offset of the name looked for, SIZE_MAX: none */
};

/* A name looked for while an area is verified (one pass over it). */
struct want {
	uint64_t h;
	const char *name;
	size_t len;
};

static inline size_t ent_size_at(const struct area *a, size_t off)
{
	return fs_dir_entsize(a->p[off + E_LEN]);
}

static inline uint64_t ent_hash_at(const struct area *a, size_t off)
{
	return mm_be64_get(a->p + off + E_HASH);
}

static void ent_put(uint8_t *p, const char *name, size_t len, uint64_t ino, uint32_t gen,
		    uint8_t type, uint64_t h)
{
	memset(p, 0, fs_dir_entsize(len));
	mm_be64_put(p + E_INO, ino);
	mm_be32_put(p + E_GEN, gen);
	p[E_TYPE] = type;
	p[E_LEN] = (uint8_t)len;
	mm_be64_put(p + E_HASH, h);
	memcpy(p + FS_DIR_ENT_FIXED, name, len);
}

static void ent_get(const uint8_t *p, struct fs_dirent *e)
{
	e->ino = mm_be64_get(p + E_INO);
	e->gen = mm_be32_get(p + E_GEN);
	e->type = p[E_TYPE];
	e->namelen = p[E_LEN];
	e->hash = mm_be64_get(p + E_HASH);
	memcpy(e->name, p + FS_DIR_ENT_FIXED, e->namelen);
	e->name[e->namelen] = '\0';
}

static const char *where(const struct area *a, char *buf, size_t sz)
{
	if (a->blk == FS_DIR_IN_INODE)
		snprintf(buf, sz, "in-inode entries");
	else
		snprintf(buf, sz, "block %" PRIu64, a->blk);
	return buf;
}

/*
 * Verify the entries of <a> (used, cap, depth, blk set), on every get:
 * each fits, its name is not empty, its hash is in the block's range (in
 * the inode: is the name's hash). Sets a->count; <count> (UINT32_MAX:
 * not checked) is what the header says. The bytes of names are checked
 * when they go in and when readdir hands them out, not here: this runs
 * over every entry of a block on every lookup, and finds <w> (may be
 * NULL) on the way: its offset in a->hit.
 */
static int area_verify(struct fs_dir *d, struct area *a, uint32_t count, const struct want *w)
{
	const uint8_t *p = a->p;
	const size_t used = a->used;
	const bool tail = a->blk == FS_DIR_IN_INODE;
	const uint64_t mask = low_mask(a->depth);
	size_t off = 0, hit = SIZE_MAX;
	uint32_t n = 0;
	char wh[48];

	a->hit = SIZE_MAX;
	if (used > a->cap || used % 8)
		return fail(d, MM_EPROTO, "%s: %zu bytes used of %zu", where(a, wh, sizeof(wh)),
			    used, a->cap);
	for (; off < used; n++) {
		size_t len, size;
		uint64_t h;

		if (used - off < FS_DIR_ENT_FIXED)
			return fail(d, MM_EPROTO, "%s: entry at byte %zu is cut short",
				    where(a, wh, sizeof(wh)), off);
		len = p[off + E_LEN];
		size = fs_dir_entsize(len);
		if (size > used - off || len == 0)
			return fail(d, MM_EPROTO, "%s: entry at byte %zu has a name of %zu bytes "
				    "(%zu bytes used)", where(a, wh, sizeof(wh)), off, len, used);
		h = mm_be64_get(p + off + E_HASH);
		if (tail ? h != name_hash(d, (const char *)p + off + FS_DIR_ENT_FIXED, len)
			 : (h & mask) != a->blk)
			return fail(d, MM_EPROTO, "%s: entry at byte %zu has hash %016" PRIx64
				    ", which does not belong here", where(a, wh, sizeof(wh)), off, h);
		if (w && h == w->h && len == w->len &&
		    !memcmp(p + off + FS_DIR_ENT_FIXED, w->name, len))
			hit = off;
		off += size;
	}
	if (count != UINT32_MAX && n != count)
		return fail(d, MM_EPROTO, "%s: header counts %" PRIu32 " entries, body holds %" PRIu32,
			    where(a, wh, sizeof(wh)), count, n);
	a->count = n;
	a->hit = hit;
	return MM_OK;
}

/* Bytes [off, off + len) of <a>'s body are about to change: a block's
 * store may need to know (fs_bstore.changing); the tail area is the
 * inode's, logged with it. Every change to a block's bytes is named here
 * first, the header's by blk_close. */
static void area_changing(struct fs_dir *d, const struct area *a, size_t off, size_t len)
{
	if (a->data && d->bs->changing && len)
		d->bs->changing(d->bs->arg, d->ino, a->blk, (uint32_t)(FS_MBH_BYTES + off),
				(uint32_t)len);
}

static void area_append(struct fs_dir *d, struct area *a, const char *name, size_t len,
			uint64_t ino, uint32_t gen, uint8_t type, uint64_t h)
{
	area_changing(d, a, a->used, fs_dir_entsize(len));
	ent_put(a->p + a->used, name, len, ino, gen, type, h);
	a->used += fs_dir_entsize(len);
	a->count++;
}

/*
 * Drop the entry at <off>. The last entry takes its place when it has
 * the same size (names of one length usually do): two entries' bytes
 * change, not everything after <off>, so an unlink logs tens of bytes
 * of the block instead of half of it. Otherwise the entries after it
 * move down. Order within a block means nothing (readdir sorts).
 */
static void area_cut(struct fs_dir *d, struct area *a, size_t off)
{
	size_t size = ent_size_at(a, off), last = off, next;

	for (next = off; next < a->used; next += ent_size_at(a, next))
		last = next;
	if (last != off && ent_size_at(a, last) == size) {
		area_changing(d, a, off, size);
		area_changing(d, a, last, size);
		memcpy(a->p + off, a->p + last, size);
		memset(a->p + last, 0, size);
		a->used -= size;
		a->count--;
		return;
	}
	area_changing(d, a, off, a->used - off);
	memmove(a->p + off, a->p + off + size, a->used - off - size);
	a->used -= size;
	memset(a->p + a->used, 0, size);
	a->count--;
}

static int tail_open(struct fs_dir *d, struct area *a, const struct want *w)
{
	*a = (struct area){.p = d->tail, .used = d->tail_len, .cap = FS_TAIL_BYTES,
			   .blk = FS_DIR_IN_INODE};
	return area_verify(d, a, UINT32_MAX, w);
}

/* ---- 3. blocks ---- */

static int store_err(struct fs_dir *d, int rc, const char *op, uint64_t blk)
{
	return fail(d, rc, "block %" PRIu64 ": %s failed: %s", blk, op, mm_strerror(rc));
}

/* Is block <blk> a hole (0), there (1), or an error? */
static int blk_exists(struct fs_dir *d, uint64_t blk)
{
	uint8_t *data;
	int rc;

	if (d->exists) {
		rc = d->exists(d->bs->arg, d->ino, blk);
		return rc < 0 ? store_err(d, rc, "exists", blk) : rc > 0;
	}
	rc = d->bs->get(d->bs->arg, d->ino, blk, false, &data);
	if (rc == MM_ENOENT)
		return 0;
	if (rc < 0)
		return store_err(d, rc, "get", blk);
	d->bs->put(d->bs->arg, d->ino, blk, data, false);
	return 1;
}

/*
 * The block that holds hash <h>: the first that exists of h mod 2^D,
 * h mod 2^(D-1), ... Its number in *blk; with <data>, the block itself,
 * got for <write> (not yet verified). A level whose index equals the one
 * above it is not probed twice.
 */
static int probe(struct fs_dir *d, uint64_t h, bool write, uint64_t *blk, uint8_t **data)
{
	for (int lvl = d->depth; lvl >= 0; lvl--) {
		uint64_t i = h & low_mask((unsigned)lvl);
		uint8_t *p;
		int rc;

		if (lvl < d->depth && i == (h & low_mask((unsigned)lvl + 1)))
			continue;	/* the same hole as the level above */
		if (d->exists || write) {
			rc = blk_exists(d, i);
			if (rc < 0)
				return rc;
			if (rc == 0)
				continue;
			*blk = i;
			if (!data)
				return MM_OK;
			rc = d->bs->get(d->bs->arg, d->ino, i, write, data);
			if (rc == MM_ENOENT)
				return fail(d, MM_EPROTO, "block %" PRIu64 " exists but reads as a hole", i);
			return rc < 0 ? store_err(d, rc, "get", i) : MM_OK;
		}
		/* no exists(): the read that finds the block is the read */
		rc = d->bs->get(d->bs->arg, d->ino, i, false, &p);
		if (rc == MM_ENOENT)
			continue;
		if (rc < 0)
			return store_err(d, rc, "get", i);
		*blk = i;
		if (data)
			*data = p;
		else
			d->bs->put(d->bs->arg, d->ino, i, p, false);
		return MM_OK;
	}
	return fail(d, MM_EPROTO, "block 0 is a hole, yet the directory is not in the inode");
}

/*
 * A block verified since it was read, and changed since only by this
 * file (which seals what it writes): its header's count is the count,
 * and <w> (may be NULL) is found without checking anything on the way.
 * Lookups and inserts walk a block of up to ~2000 entries each; the
 * full verify of every entry on every get was most of their cost.
 */
static void area_find(struct area *a, uint32_t count, const struct want *w)
{
	a->count = count;
	a->hit = SIZE_MAX;
	if (!w)
		return;
	for (size_t off = 0; off < a->used; off += ent_size_at(a, off))
		if (ent_hash_at(a, off) == w->h && a->p[off + E_LEN] == w->len &&
		    !memcmp(a->p + off + FS_DIR_ENT_FIXED, w->name, w->len)) {
			a->hit = off;
			return;
		}
}

/* Verify block <blk> just got as <data> (and find <w> in it); on failure
 * it is put. The store's checked flag (fs_bstore.checked) stands for the
 * CRC and every entry: it is set only once both passed, and a block that
 * has it is only searched. */
static int blk_open(struct fs_dir *d, uint64_t blk, uint8_t *data, struct area *a,
		    const struct want *w)
{
	bool trusted = d->bs->checked && d->bs->checked(d->bs->arg, data, false);
	struct fs_mbh h;
	char why[160];
	int rc = MM_OK;

	if (trusted)
		fs_mb_header(data, &h);
	else
		rc = fs_mb_verify(data, FS_MB, FS_BT_DIR, d->fsid, d->ino, blk, &h, why,
				  sizeof(why));
	if (rc < 0) {
		d->bs->put(d->bs->arg, d->ino, blk, data, false);
		return fail(d, rc, "block %" PRIu64 ": %s", blk, why);
	}
	*a = (struct area){.p = data + FS_MBH_BYTES, .used = (uint32_t)h.b, .cap = FS_DIR_BODY,
			   .depth = (unsigned)h.a, .blk = blk, .data = data};
	if (trusted) {
		area_find(a, (uint32_t)(h.b >> 32), w);
		return MM_OK;
	}
	if (h.a > FS_DIR_MAX_DEPTH || (blk & ~low_mask((unsigned)h.a)))
		rc = fail(d, MM_EPROTO, "block %" PRIu64 ": local depth %" PRIu64 " is over %u or "
			  "too small for its number", blk, h.a, FS_DIR_MAX_DEPTH);
	else
		rc = area_verify(d, a, (uint32_t)(h.b >> 32), w);
	if (rc < 0)
		d->bs->put(d->bs->arg, d->ino, blk, data, false);
	else if (d->bs->checked)
		d->bs->checked(d->bs->arg, data, true);
	return rc;
}

/* Done with a block; <dirty>: seal it first. */
static void blk_close(struct fs_dir *d, struct area *a, bool dirty)
{
	if (dirty) {
		struct fs_mbh h = {.type = FS_BT_DIR, .fsid = d->fsid, .ino = d->ino, .blk = a->blk,
				   .a = a->depth, .b = (uint64_t)a->count << 32 | a->used};

		if (d->bs->changing)
			d->bs->changing(d->bs->arg, d->ino, a->blk, 0, FS_MBH_BYTES);
		fs_mb_seal(a->data, FS_MB, &h);
	}
	d->bs->put(d->bs->arg, d->ino, a->blk, a->data, dirty);
	a->data = NULL;
}

/* Find, get and verify the block of hash <h> (and <w> in it), and check
 * that it holds <h> (MM_ECONFLICT if not: the caller's view is stale). */
static int blk_of_hash(struct fs_dir *d, uint64_t h, bool write, struct area *a,
		       const struct want *w)
{
	uint8_t *data;
	uint64_t blk;
	int rc;

	if ((rc = probe(d, h, write, &blk, &data)) < 0)
		return rc;
	if ((rc = blk_open(d, blk, data, a, w)) < 0)
		return rc;
	if ((h & low_mask(a->depth)) != blk) {
		blk_close(d, a, false);
		return fail(d, MM_ECONFLICT, "block %" PRIu64 " (depth %u) does not hold hash %016"
			    PRIx64 ": the directory changed (stale depth or holes)", blk, a->depth, h);
	}
	return MM_OK;
}

/* A new block <blk> of depth <depth>, got for writing (it was a hole). */
static int blk_create(struct fs_dir *d, uint64_t blk, unsigned depth, struct area *a)
{
	uint8_t *data;
	int rc;

	rc = blk_exists(d, blk);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return fail(d, MM_EPROTO, "block %" PRIu64 " exists where a hole belongs", blk);
	rc = d->bs->get(d->bs->arg, d->ino, blk, true, &data);
	if (rc < 0)
		return store_err(d, rc, "get", blk);
	if (d->bs->changing)
		d->bs->changing(d->bs->arg, d->ino, blk, 0, FS_MB);
	memset(data, 0, FS_MB);
	*a = (struct area){.p = data + FS_MBH_BYTES, .cap = FS_DIR_BODY, .depth = depth,
			   .blk = blk, .data = data};
	return MM_OK;
}

/*
 * Split full block <a> (got for writing) of depth d: the new block
 * a->blk + 2^d (*b, got for writing) takes the entries with bit d set;
 * both get depth d + 1, and D follows. Neither is sealed yet. On error
 * nothing changed.
 */
static int blk_split(struct fs_dir *d, struct area *a, struct area *b)
{
	unsigned dd = a->depth;
	size_t w = 0, off, size;
	int rc;

	if (dd >= FS_DIR_MAX_DEPTH)
		return fail(d, MM_ETOOBIG, "block %" PRIu64 " is full at the maximum depth %u",
			    a->blk, FS_DIR_MAX_DEPTH);
	if ((rc = blk_create(d, a->blk | 1ull << dd, dd + 1, b)) < 0)
		return rc;
	area_changing(d, a, 0, a->used);
	for (off = 0; off < a->used; off += size) {
		size = ent_size_at(a, off);
		if (ent_hash_at(a, off) >> dd & 1) {
			memcpy(b->p + b->used, a->p + off, size);
			b->used += size;
			b->count++;
			a->count--;
		} else {
			if (w != off)
				memmove(a->p + w, a->p + off, size);
			w += size;
		}
	}
	memset(a->p + w, 0, a->used - w);
	a->used = w;
	a->depth = dd + 1;
	if (dd + 1 > d->depth) {
		d->depth = (uint8_t)(dd + 1);
		d->inode_dirty = true;
	}
	return MM_OK;
}

/* ---- 4. lookup, insert, remove, shrink ---- */

int fs_dir_block_of(struct fs_dir *d, const char *name, size_t len, uint64_t *blk)
{
	int rc;

	if ((rc = check_call(d, name, len)) < 0)
		return rc;
	if (d->in_inode) {
		*blk = FS_DIR_IN_INODE;
		return MM_OK;
	}
	return probe(d, name_hash(d, name, len), false, blk, NULL);
}

/* Check <name> and open the area that holds it or would (the tail, or
 * its block: for writing if <write>); a.hit is its offset or SIZE_MAX. */
static int open_name(struct fs_dir *d, const char *name, size_t len, bool write,
		     struct want *w, struct area *a)
{
	int rc;

	if ((rc = check_call(d, name, len)) < 0)
		return rc;
	*w = (struct want){name_hash(d, name, len), name, len};
	if (d->in_inode)
		return tail_open(d, a, w);
	return blk_of_hash(d, w->h, write, a, w);
}

int fs_dir_lookup(struct fs_dir *d, const char *name, size_t len, struct fs_dirent *out)
{
	struct want w;
	struct area a;
	size_t off;
	int rc;

	if ((rc = open_name(d, name, len, false, &w, &a)) < 0)
		return rc;
	off = a.hit;
	if (off != SIZE_MAX && out)
		ent_get(a.p + off, out);
	if (a.data)
		blk_close(d, &a, false);
	return off == SIZE_MAX ? MM_ENOENT : MM_OK;
}

/*
 * The tail area is full: its entries go to a new block 0. The tail area
 * is the pointer area in block form, so it is cleared (and in_inode
 * dropped) before the store is asked for block 0, and put back if that
 * fails.
 */
static int tail_to_block(struct fs_dir *d, struct area *t)
{
	uint8_t save[FS_TAIL_BYTES];
	struct area b;
	int rc;

	memcpy(save, d->tail, t->used);
	memset(d->tail, 0, FS_TAIL_BYTES);
	d->in_inode = false;
	d->tail_len = 0;
	d->depth = 0;
	if ((rc = blk_create(d, 0, 0, &b)) < 0) {
		memcpy(d->tail, save, t->used);
		d->tail_len = (uint16_t)t->used;
		d->in_inode = true;
		return rc;
	}
	memcpy(b.p, save, t->used);
	b.used = t->used;
	b.count = t->count;
	blk_close(d, &b, true);
	d->inode_dirty = true;
	return MM_OK;
}

static int insert(struct fs_dir *d, const char *name, size_t len, uint64_t ino, uint32_t gen,
		  uint8_t type, bool search)
{
	size_t need = fs_dir_entsize(len);
	struct area a, b;
	bool changed = false;
	struct want w;
	uint64_t h;
	int rc;

	if ((rc = check_call(d, name, len)) < 0)
		return rc;
	h = name_hash(d, name, len);
	w = (struct want){h, name, len};
	if (d->in_inode) {
		if ((rc = tail_open(d, &a, &w)) < 0)
			return rc;
		if (a.hit != SIZE_MAX)
			return MM_EEXIST;
		if (a.used + need <= a.cap) {
			area_append(d, &a, name, len, ino, gen, type, h);
			d->tail_len = (uint16_t)a.used;
			d->inode_dirty = true;
			return MM_OK;
		}
		if ((rc = tail_to_block(d, &a)) < 0)
			return rc;
	}
	if ((rc = blk_of_hash(d, h, true, &a, search ? &w : NULL)) < 0)
		return rc;
	if (a.hit != SIZE_MAX) {
		blk_close(d, &a, false);
		return MM_EEXIST;
	}
	while (a.used + need > a.cap) {
		if ((rc = blk_split(d, &a, &b)) < 0) {
			blk_close(d, &a, changed);
			return rc;
		}
		changed = true;
		/* keep the half that holds h; the other is done */
		if (h >> (b.depth - 1) & 1) {
			blk_close(d, &a, true);
			a = b;
		} else {
			blk_close(d, &b, true);
		}
	}
	area_append(d, &a, name, len, ino, gen, type, h);
	blk_close(d, &a, true);
	return MM_OK;
}

int fs_dir_insert(struct fs_dir *d, const char *name, size_t len, uint64_t ino, uint32_t gen,
		  uint8_t type)
{
	return insert(d, name, len, ino, gen, type, true);
}

int fs_dir_insert_new(struct fs_dir *d, const char *name, size_t len, uint64_t ino, uint32_t gen,
		      uint8_t type)
{
	return insert(d, name, len, ino, gen, type, false);
}

int fs_dir_remove(struct fs_dir *d, const char *name, size_t len, struct fs_dirent *old)
{
	struct area a;
	struct want w;
	size_t off;
	int rc;

	if ((rc = open_name(d, name, len, true, &w, &a)) < 0)
		return rc;
	off = a.hit;
	if (off == SIZE_MAX) {
		if (a.data)
			blk_close(d, &a, false);
		return MM_ENOENT;
	}
	if (old)
		ent_get(a.p + off, old);
	area_cut(d, &a, off);
	if (a.data) {
		blk_close(d, &a, true);
	} else {
		d->tail_len = (uint16_t)a.used;
		d->inode_dirty = true;
	}
	return MM_OK;
}

int fs_dir_shrink(struct fs_dir *d)
{
	uint8_t save[FS_DIR_SHRINK_BYTES];
	struct area a;
	size_t used;
	int rc;

	if ((rc = check_call(d, NULL, 0)) < 0)
		return rc;
	if (d->in_inode || d->depth > 0)
		return 0;
	if ((rc = blk_of_hash(d, 0, false, &a, NULL)) < 0)
		return rc;
	used = a.used;
	if (a.depth > 0 || used > FS_DIR_SHRINK_BYTES) {
		blk_close(d, &a, false);
		return 0;
	}
	memcpy(save, a.p, used);
	blk_close(d, &a, false);
	rc = d->bs->punch(d->bs->arg, d->ino, 0);
	if (rc < 0)
		return store_err(d, rc, "punch", 0);
	memset(d->tail, 0, FS_TAIL_BYTES);
	memcpy(d->tail, save, used);
	d->tail_len = (uint16_t)used;
	d->in_inode = true;
	d->inode_dirty = true;
	return 1;
}

/* ---- 5. readdir and is_empty ---- */

/*
 * Visit the blocks holding reversed hashes from <r0> on, in order: block
 * i of depth d holds the reversed hashes [rev(i), rev(i) + 2^(64-d)).
 * <visit> sees each block verified (it is put after); it returns 0 to go
 * on, anything else to stop the walk with that value.
 */
typedef int (*visit_fn)(struct fs_dir *d, const struct area *a, void *arg);

static int walk(struct fs_dir *d, uint64_t r0, visit_fn visit, void *arg)
{
	for (;;) {
		struct area a;
		uint64_t start;
		int rc;

		if ((rc = blk_of_hash(d, rev64(r0), false, &a, NULL)) < 0)
			return rc;
		rc = visit(d, &a, arg);
		blk_close(d, &a, false);
		if (rc)
			return rc;
		if (a.depth == 0)
			return 0;
		start = rev64(a.blk);
		r0 = start + (1ull << (64 - a.depth));
		if (r0 == 0)
			return 0;	/* that was the last range */
	}
}

struct rd_ent {
	uint64_t cookie;
	uint32_t off;
};

struct rd {
	uint64_t after;		/* deliver cookies greater than this */
	fs_dir_readdir_fn fn;
	void *arg;
	uint8_t *copy;		/* a block's entries, FS_DIR_BODY */
	struct rd_ent *ents;	/* FS_DIR_BODY / 24 of them */
};

static int rd_cmp(const void *x, const void *y)
{
	const struct rd_ent *a = x, *b = y;

	return a->cookie < b->cookie ? -1 : a->cookie > b->cookie;
}

/* Copy the entries of <a> after rd->after, put nothing, sort, call back. */
static int rd_visit(struct fs_dir *d, const struct area *a, void *arg)
{
	struct rd *rd = arg;
	struct fs_dirent e;
	size_t n = 0;
	bool stop = false;
	uint64_t stop_at = 0;
	char wh[48];

	memcpy(rd->copy, a->p, a->used);
	for (size_t off = 0; off < a->used; off += fs_dir_entsize(rd->copy[off + E_LEN])) {
		uint64_t c = fs_dir_cookie(mm_be64_get(rd->copy + off + E_HASH));

		if (c > rd->after)
			rd->ents[n++] = (struct rd_ent){c, (uint32_t)off};
	}
	qsort(rd->ents, n, sizeof(rd->ents[0]), rd_cmp);
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (stop && rd->ents[i].cookie != stop_at)
			return 1;
		ent_get(rd->copy + rd->ents[i].off, &e);
		if (fs_dir_check_name(e.name, e.namelen) < 0)
			return fail(d, MM_EPROTO, "%s: entry at byte %" PRIu32 " has a bad name",
				    where(a, wh, sizeof(wh)), rd->ents[i].off);
		rc = rd->fn(&e, rd->ents[i].cookie, rd->arg);
		if (rc < 0)
			return rc;
		if (rc > 0 && !stop) {
			stop = true;
			stop_at = rd->ents[i].cookie;
		}
	}
	return stop ? 1 : 0;
}

int fs_dir_readdir(struct fs_dir *d, uint64_t cookie, fs_dir_readdir_fn fn, void *arg)
{
	struct rd rd = {.after = cookie, .fn = fn, .arg = arg};
	int rc;

	if ((rc = check_call(d, NULL, 0)) < 0)
		return rc;
	if (cookie > FS_DIR_COOKIE_MAX)
		return fail(d, MM_EINVAL, "readdir cookie %" PRIu64 " is over 2^63 - 1", cookie);
	if (cookie == FS_DIR_COOKIE_MAX)
		return 0;
	rd.copy = malloc(FS_DIR_BODY);
	rd.ents = malloc(FS_DIR_BODY / 24 * sizeof(rd.ents[0]));
	if (!rd.copy || !rd.ents) {
		rc = fail(d, MM_ENOMEM, "no memory for readdir");
	} else if (d->in_inode) {
		struct area t;

		rc = tail_open(d, &t, NULL);
		if (rc == 0)
			rc = rd_visit(d, &t, &rd);
	} else {
		/* the first reversed hash whose cookie is over <cookie> */
		rc = walk(d, cookie < FS_DIR_COOKIE_MIN ? 0 : (cookie + 1) << 1, rd_visit, &rd);
	}
	free(rd.copy);
	free(rd.ents);
	return rc;
}

static int empty_visit(struct fs_dir *d, const struct area *a, void *arg)
{
	(void)d;
	(void)arg;
	return a->count ? 1 : 0;
}

int fs_dir_is_empty(struct fs_dir *d)
{
	int rc;

	if ((rc = check_call(d, NULL, 0)) < 0)
		return rc;
	if (d->in_inode)
		return d->tail_len == 0;
	rc = walk(d, 0, empty_visit, NULL);
	return rc < 0 ? rc : rc == 0;
}
