/*
 * fs/alloc.c - block and inode allocation maps, regions and placement
 * (contract and map layout in fs/alloc.h, design in fs/README.md
 * "Allocation maps").
 *
 *   1. geometry: open, update, chunks, region of an address
 *   2. block map blocks: get (verified), seal, bitmap masks
 *   3. block map operations: format, allocate, free, count, check
 *   4. inode map
 *   5. placement
 *   6. region choice
 */
#include "fs/alloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/err.h"

struct disk_geo {
	uint64_t subblocks;	/* the disk's size, from the descriptor */
	uint64_t nblocks;	/* allocatable full blocks */
	uint32_t per;		/* map blocks set aside per chunk */
	uint8_t usage;		/* enum fs_usage */
	char name[64];
};

struct fs_alloc {
	struct fs_bstore bs;
	uint32_t fsid;		/* low 32 bits: what map block headers carry */
	uint32_t bsize, spb, bpm, nreg;
	uint64_t first;		/* first allocatable subblock of every disk */
	uint64_t inode_limit;
	uint32_t imap_nreg;
	uint32_t ndisks;
	struct disk_geo disk[FS_MAX_DISKS];
	fs_bmap_busy_fn busy;	/* free space not to hand out yet (may be NULL) */
	void *busy_arg;
};

void fs_alloc_set_busy(struct fs_alloc *a, fs_bmap_busy_fn fn, void *arg)
{
	a->busy = fn;
	a->busy_arg = arg;
}

/* ---- 1. geometry ---- */

static int disk_geo_of(const struct fs_alloc *a, const struct fs_sgd_disk *sd, uint32_t d,
		       struct disk_geo *g, char *err, size_t errsz)
{
	uint64_t maxchunk, per;

	memset(g, 0, sizeof(*g));
	memcpy(g->name, sd->name, sizeof(g->name) - 1);
	g->subblocks = sd->subblocks;
	g->usage = sd->usage;
	if (sd->subblocks >= 1ull << 48)
		return fs_errf(err, errsz, MM_EINVAL, "disk %u (%s): %" PRIu64 " subblocks do not fit "
			    "a disk address", d, g->name, sd->subblocks);
	if (sd->usage != FS_USAGE_DESC_ONLY && sd->subblocks > a->first)
		g->nblocks = (sd->subblocks - a->first) / a->spb;
	maxchunk = (g->nblocks + a->nreg - 1) / a->nreg;
	per = (maxchunk + a->bpm - 1) / a->bpm;
	if (per * a->nreg > 1ull << 32)
		return fs_errf(err, errsz, MM_EINVAL, "disk %u (%s): %" PRIu64 " map blocks per region "
			    "times %u regions do not fit 32 bits of map-file block", d, g->name, per,
			    a->nreg);
	g->per = (uint32_t)per;
	return MM_OK;
}

int fs_alloc_open(const struct fs_sgd *sgd, const struct fs_bstore *bs, struct fs_alloc **out,
		  char *err, size_t errsz)
{
	uint32_t b = sgd->block_size;
	struct fs_alloc *a;
	int rc;

	if (b < FS_MIN_BLOCK || b > FS_MAX_BLOCK || (b & (b - 1)))
		return fs_errf(err, errsz, MM_EINVAL, "block size %u is not a power of two in 64 KiB .. "
			    "16 MiB", b);
	if (sgd->subblock_size != fs_subblock(b))
		return fs_errf(err, errsz, MM_EINVAL, "subblock size %u does not go with block size %u "
			    "(%u)", sgd->subblock_size, b, fs_subblock(b));
	if (sgd->mb_size != FS_MB)
		return fs_errf(err, errsz, MM_EINVAL, "metadata block size %u is not %u",
			    sgd->mb_size, FS_MB);
	if (sgd->nregions == 0)
		return fs_errf(err, errsz, MM_EINVAL, "no allocation regions");
	if (sgd->ndisks > FS_MAX_DISKS)
		return fs_errf(err, errsz, MM_EINVAL, "%u disks (at most %u)", sgd->ndisks,
			    FS_MAX_DISKS);
	if (sgd->inode_limit <= FS_FIRST_USER_INO || sgd->inode_limit > 1ull << 48)
		return fs_errf(err, errsz, MM_EINVAL, "inode limit %" PRIu64 " is not in %u .. 2^48",
			    sgd->inode_limit, FS_FIRST_USER_INO + 1);
	a = calloc(1, sizeof(*a));
	if (!a)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory for the allocation maps");
	a->bs = *bs;
	a->fsid = (uint32_t)sgd->fsid;
	a->bsize = b;
	a->spb = b / sgd->subblock_size;
	a->bpm = (FS_MB - FS_MBH_BYTES) * 8 / a->spb;
	a->nreg = sgd->nregions;
	a->first = ((FS_RESERVED_BYTES + b - 1) / b * (uint64_t)b) / sgd->subblock_size;
	a->inode_limit = sgd->inode_limit;
	a->imap_nreg = (uint32_t)((sgd->inode_limit + FS_IMAP_REGION_INODES - 1) /
				  FS_IMAP_REGION_INODES);
	/* masks below are whole bytes of at most 32 bits */
	MM_ASSERT(a->spb % 8 == 0 && a->spb <= 32);
	a->ndisks = sgd->ndisks;
	for (uint32_t d = 0; d < sgd->ndisks; d++) {
		rc = disk_geo_of(a, &sgd->disk[d], d, &a->disk[d], err, errsz);
		if (rc) {
			free(a);
			return rc;
		}
	}
	*out = a;
	return MM_OK;
}

int fs_alloc_update(struct fs_alloc *a, const struct fs_sgd *sgd, char *err, size_t errsz)
{
	struct disk_geo g;
	int rc;

	if (sgd->block_size != a->bsize || sgd->nregions != a->nreg)
		return fs_errf(err, errsz, MM_ESTATE, "block size or region count changed (%u, %u -> "
			    "%u, %u): chunks would move", a->bsize, a->nreg, sgd->block_size,
			    sgd->nregions);
	if (sgd->ndisks < a->ndisks || sgd->ndisks > FS_MAX_DISKS)
		return fs_errf(err, errsz, MM_ESTATE, "the descriptor has %u disks, the maps %u",
			    sgd->ndisks, a->ndisks);
	for (uint32_t d = 0; d < a->ndisks; d++) {
		const struct fs_sgd_disk *sd = &sgd->disk[d];
		const struct disk_geo *old = &a->disk[d];

		if (sd->subblocks != old->subblocks ||
		    (sd->usage == FS_USAGE_DESC_ONLY) != (old->usage == FS_USAGE_DESC_ONLY))
			return fs_errf(err, errsz, MM_ESTATE, "disk %u (%s) changed size or descOnly "
				    "usage: its chunks would move", d, old->name);
	}
	for (uint32_t d = a->ndisks; d < sgd->ndisks; d++) {
		rc = disk_geo_of(a, &sgd->disk[d], d, &g, err, errsz);
		if (rc)
			return rc;
	}
	/* all checked: now take them */
	for (uint32_t d = 0; d < sgd->ndisks; d++) {
		disk_geo_of(a, &sgd->disk[d], d, &g, NULL, 0);
		a->disk[d] = g;
	}
	a->ndisks = sgd->ndisks;
	return MM_OK;
}

void fs_alloc_close(struct fs_alloc *a)
{
	free(a);
}

uint32_t fs_alloc_spb(const struct fs_alloc *a)
{
	return a->spb;
}

uint32_t fs_alloc_bpm(const struct fs_alloc *a)
{
	return a->bpm;
}

/* Chunk r's first full block, counted from <first>: floor(r * N / R). */
static uint64_t chunk_lo(const struct fs_alloc *a, const struct disk_geo *g, uint32_t r)
{
	return (uint64_t)((unsigned __int128)g->nblocks * r / a->nreg);
}

int fs_bmap_chunk(const struct fs_alloc *a, uint32_t d, uint32_t r, struct fs_chunk *c)
{
	const struct disk_geo *g;
	uint64_t lo, n;

	if (d >= a->ndisks || r >= a->nreg)
		return MM_EINVAL;
	g = &a->disk[d];
	lo = chunk_lo(a, g, r);
	n = chunk_lo(a, g, r + 1) - lo;
	c->start = a->first + lo * a->spb;
	c->nsub = n * a->spb;
	c->nmap = (uint32_t)((n + a->bpm - 1) / a->bpm);
	c->map0 = ((uint64_t)d << 32) + (uint64_t)r * g->per;
	MM_ASSERT(c->nmap <= g->per);
	return MM_OK;
}

/* Region and chunk-relative block of <da>; false if it is in no chunk. */
static bool locate(const struct fs_alloc *a, fs_da da, uint32_t *r, uint64_t *bi)
{
	uint32_t d = fs_da_disk(da);
	uint64_t sub = fs_da_sub(da), b;
	const struct disk_geo *g;

	if (d >= a->ndisks)
		return false;
	g = &a->disk[d];
	if (sub < a->first)
		return false;
	b = (sub - a->first) / a->spb;
	if (b >= g->nblocks)
		return false;
	/* the largest r with floor(r * N / R) <= b */
	*r = (uint32_t)(((unsigned __int128)(b + 1) * a->nreg - 1) / g->nblocks);
	*bi = b;
	MM_ASSERT(chunk_lo(a, g, *r) <= b && b < chunk_lo(a, g, *r + 1));
	return true;
}

int fs_bmap_region_of(const struct fs_alloc *a, fs_da da, uint32_t *r)
{
	uint64_t bi;

	return locate(a, da, r, &bi) ? MM_OK : MM_EINVAL;
}

/* ---- 2. block map blocks ---- */

enum get_mode {
	GET_READ,
	GET_WRITE,		/* not seen yet: make sure it is no hole first */
	GET_WRITE_SEEN,		/* read and verified a moment ago */
};

/* One block map block in use. */
struct bref {
	uint32_t d, r, j;
	uint64_t blk;		/* map-file block */
	uint64_t covered;	/* chunk blocks it covers */
	uint8_t *data;
	struct fs_mbh h;
	char where[160];
};

static uint8_t *body(const struct bref *m)
{
	return m->data + FS_MBH_BYTES;
}

/* Bytes [off, off + len) of map block <blk> of <ino> are about to change
 * (fs_bstore.changing: a transaction's store then saves and logs only
 * those, not a copy of the whole block per allocation). */
static void changing(const struct fs_alloc *a, uint64_t ino, uint64_t blk, uint32_t off,
		     uint32_t len)
{
	if (a->bs.changing)
		a->bs.changing(a->bs.arg, ino, blk, off, len);
}

static int bmap_get(struct fs_alloc *a, struct bref *m, uint32_t d, uint32_t r, uint32_t j,
		    enum get_mode mode, char *err, size_t errsz)
{
	const struct disk_geo *g = &a->disk[d];
	uint64_t n = chunk_lo(a, g, r + 1) - chunk_lo(a, g, r);
	char msg[160];
	int rc;

	m->d = d;
	m->r = r;
	m->j = j;
	m->blk = ((uint64_t)d << 32) + (uint64_t)r * g->per + j;
	m->covered = n - (uint64_t)j * a->bpm < a->bpm ? n - (uint64_t)j * a->bpm : a->bpm;
	snprintf(m->where, sizeof(m->where), "block map disk %u (%s) region %u map block %u "
		 "(map-file block %#" PRIx64 ")", d, g->name, r, j, m->blk);
	if (mode == GET_WRITE) {
		rc = a->bs.get(a->bs.arg, FS_INO_BMAP, m->blk, false, &m->data);
		if (rc == MM_OK)
			a->bs.put(a->bs.arg, FS_INO_BMAP, m->blk, m->data, false);
		else if (rc == MM_ENOENT)
			return fs_errf(err, errsz, MM_ENOENT, "%s is missing (a hole)", m->where);
		else
			return fs_errf(err, errsz, rc, "%s: %s", m->where, mm_strerror(rc));
	}
	rc = a->bs.get(a->bs.arg, FS_INO_BMAP, m->blk, mode != GET_READ, &m->data);
	if (rc == MM_ENOENT)
		return fs_errf(err, errsz, MM_ENOENT, "%s is missing (a hole)", m->where);
	if (rc)
		return fs_errf(err, errsz, rc, "%s: %s", m->where, mm_strerror(rc));
	rc = fs_mb_verify_bs(&a->bs, m->data, FS_MB, FS_BT_BMAP, a->fsid, FS_INO_BMAP, m->blk,
			     &m->h, msg, sizeof(msg));
	if (rc == MM_OK && (m->h.a > m->covered * a->spb || m->h.b > m->covered ||
			    m->h.b * a->spb > m->h.a)) {
		snprintf(msg, sizeof(msg), "header counts %" PRIu64 " free subblocks, %" PRIu64
			 " free blocks do not fit its %" PRIu64 " blocks", m->h.a, m->h.b,
			 m->covered);
		rc = MM_EPROTO;
	}
	if (rc) {
		a->bs.put(a->bs.arg, FS_INO_BMAP, m->blk, m->data, false);
		return fs_errf(err, errsz, rc, "%s: %s", m->where, msg);
	}
	return MM_OK;
}

/* Done with <m>; if <dirty>, seal it with its counts first. */
static void bmap_put(struct fs_alloc *a, struct bref *m, bool dirty)
{
	if (dirty) {
		struct fs_mbh h = {.type = FS_BT_BMAP, .fsid = a->fsid, .ino = FS_INO_BMAP,
				   .blk = m->blk, .a = m->h.a, .b = m->h.b};

		changing(a, FS_INO_BMAP, m->blk, 0, FS_MBH_BYTES);
		fs_mb_seal(m->data, FS_MB, &h);
	}
	a->bs.put(a->bs.arg, FS_INO_BMAP, m->blk, m->data, dirty);
	m->data = NULL;
}

/* Full block <i>'s subblocks as a mask (bit k: subblock k, 1: in use). */
static uint32_t mask_get(const uint8_t *bits, uint64_t i, uint32_t spb)
{
	const uint8_t *p = bits + i * (spb / 8);
	uint32_t m = 0;

	for (uint32_t k = 0; k < spb / 8; k++)
		m |= (uint32_t)p[k] << (8 * k);
	return m;
}

static void mask_put(uint8_t *bits, uint64_t i, uint32_t spb, uint32_t m)
{
	uint8_t *p = bits + i * (spb / 8);

	for (uint32_t k = 0; k < spb / 8; k++)
		p[k] = (uint8_t)(m >> (8 * k));
}

/* Block map entry <i> of <m> becomes <bits>. */
static void bmap_set(struct fs_alloc *a, struct bref *m, uint64_t i, uint32_t bits)
{
	changing(a, FS_INO_BMAP, m->blk, (uint32_t)(FS_MBH_BYTES + i * (a->spb / 8)), a->spb / 8);
	mask_put(body(m), i, a->spb, bits);
}

/* <n> bits from bit <off> (off + n <= 32). */
static uint32_t run_mask(uint32_t off, uint32_t n)
{
	return (n >= 32 ? UINT32_MAX : (1u << n) - 1) << off;
}

/* The shortest run of at least <k> clear bits among the low <spb> of <m>:
 * its length (0: none) and start in *at; the first of equals. */
static uint32_t best_run(uint32_t m, uint32_t spb, uint32_t k, uint32_t *at)
{
	uint32_t best = 0, s = 0, e;

	while (s < spb) {
		if (m >> s & 1) {
			s++;
			continue;
		}
		for (e = s; e < spb && !(m >> e & 1); e++)
			;
		if (e - s >= k && (best == 0 || e - s < best)) {
			best = e - s;
			*at = s;
		}
		s = e;
	}
	return best;
}

/* ---- 3. block map operations ---- */

static int check_dr(const struct fs_alloc *a, uint32_t d, uint32_t r, char *err, size_t errsz)
{
	if (d >= a->ndisks)
		return fs_errf(err, errsz, MM_EINVAL, "disk %u is not in the stripe group (%u disks)", d,
			    a->ndisks);
	if (r >= a->nreg)
		return fs_errf(err, errsz, MM_EINVAL, "region %u does not exist (%u regions)", r,
			    a->nreg);
	return MM_OK;
}

/* Write chunk (d, r)'s map blocks (the caller checked they are holes). */
static int format_chunk(struct fs_alloc *a, uint32_t d, uint32_t r, char *err, size_t errsz)
{
	struct fs_chunk c;
	struct bref m;
	int rc;

	fs_bmap_chunk(a, d, r, &c);
	for (uint32_t j = 0; j < c.nmap; j++) {
		uint64_t blocks = c.nsub / a->spb - (uint64_t)j * a->bpm;

		m.blk = c.map0 + j;
		m.covered = blocks < a->bpm ? blocks : a->bpm;
		rc = a->bs.get(a->bs.arg, FS_INO_BMAP, m.blk, true, &m.data);
		if (rc)
			return fs_errf(err, errsz, rc, "block map disk %u region %u map block %u: %s", d,
				       r, j, mm_strerror(rc));
		changing(a, FS_INO_BMAP, m.blk, 0, FS_MB);
		memset(m.data, 0, FS_MB);
		/* blocks past the chunk's end are in use for good */
		memset(body(&m) + m.covered * a->spb / 8, 0xff, (a->bpm - m.covered) * a->spb / 8);
		m.h.a = m.covered * a->spb;
		m.h.b = m.covered;
		bmap_put(a, &m, true);
	}
	return MM_OK;
}

/* Are all of chunk (d, r)'s map blocks holes? MM_OK, MM_EEXIST, or the
 * store's error. */
static int chunk_holes(struct fs_alloc *a, uint32_t d, uint32_t r, char *err, size_t errsz)
{
	struct fs_chunk c;
	int rc;

	fs_bmap_chunk(a, d, r, &c);
	for (uint32_t j = 0; j < c.nmap; j++) {
		uint64_t blk = c.map0 + j;
		uint8_t *data;

		rc = a->bs.get(a->bs.arg, FS_INO_BMAP, blk, false, &data);
		if (rc == MM_OK) {
			a->bs.put(a->bs.arg, FS_INO_BMAP, blk, data, false);
			return fs_errf(err, errsz, MM_EEXIST, "block map disk %u (%s) region %u map "
				       "block %u exists: the disk has maps", d, a->disk[d].name, r, j);
		}
		if (rc != MM_ENOENT)
			return fs_errf(err, errsz, rc, "block map disk %u region %u map block %u: %s",
				       d, r, j, mm_strerror(rc));
	}
	return MM_OK;
}

int fs_bmap_format_region(struct fs_alloc *a, uint32_t d, uint32_t r, char *err, size_t errsz)
{
	int rc = check_dr(a, d, r, err, errsz);

	if (!rc)
		rc = chunk_holes(a, d, r, err, errsz);
	if (!rc)
		rc = format_chunk(a, d, r, err, errsz);
	return rc;
}

int fs_bmap_format(struct fs_alloc *a, const uint32_t *disks, size_t n, char *err, size_t errsz)
{
	int rc;

	/* every map block must be a hole before anything is written */
	for (size_t x = 0; x < n; x++) {
		uint32_t d = disks[x];

		rc = check_dr(a, d, 0, err, errsz);
		if (rc)
			return rc;
		for (uint32_t r = 0; r < a->nreg; r++) {
			rc = chunk_holes(a, d, r, err, errsz);
			if (rc)
				return rc;
		}
	}
	for (size_t x = 0; x < n; x++)
		for (uint32_t r = 0; r < a->nreg; r++) {
			rc = format_chunk(a, disks[x], r, err, errsz);
			if (rc)
				return rc;
		}
	return MM_OK;
}

/* Take the lowest free full block of map block <j> of chunk (d, r) and
 * mark its first <k> subblocks in use. */
/* Subblocks of the full block at chunk block <i> of map block <m> that
 * are free but not to be handed out (the caller's busy set). */
static uint32_t busy_of(struct fs_alloc *a, const struct bref *m, uint64_t start, uint64_t i)
{
	if (!a->busy)
		return 0;
	return a->busy(a->busy_arg, m->d, start + ((uint64_t)m->j * a->bpm + i) * a->spb);
}

/* <k> subblocks at the start of the lowest free full block of chunk (d,
 * r) from map block <j0> on, skipping blocks the busy set holds any of. */
static int take_full(struct fs_alloc *a, uint32_t d, uint32_t r, uint32_t j0, uint32_t k,
		     fs_da *out, char *err, size_t errsz)
{
	struct fs_chunk c;
	struct bref m;
	bool busy = false;
	int rc;

	fs_bmap_chunk(a, d, r, &c);
	for (uint32_t j = j0; j < c.nmap; j++) {
		rc = bmap_get(a, &m, d, r, j, GET_READ, err, errsz);
		if (rc)
			return rc;
		if (m.h.b == 0) {
			bmap_put(a, &m, false);
			continue;
		}
		bmap_put(a, &m, false);
		rc = bmap_get(a, &m, d, r, j, GET_WRITE_SEEN, err, errsz);
		if (rc)
			return rc;
		for (uint64_t i = 0; i < m.covered; i++) {
			if (mask_get(body(&m), i, a->spb))
				continue;
			if (busy_of(a, &m, c.start, i)) {
				busy = true;
				continue;
			}
			bmap_set(a, &m, i, run_mask(0, k));
			m.h.a -= k;
			m.h.b--;
			bmap_put(a, &m, true);
			*out = fs_da_make(d, c.start + ((uint64_t)j * a->bpm + i) * a->spb);
			return MM_OK;
		}
		bmap_put(a, &m, false);
		if (!busy)
			return fs_errf(err, errsz, MM_EPROTO, "%s: its header counts %" PRIu64
				       " free full blocks, its bitmap none", m.where, m.h.b);
	}
	return fs_errf(err, errsz, MM_ERANGE, "block map disk %u (%s) region %u: no free full "
		       "block%s", d, a->disk[d].name, r, busy ? " (some freed, not yet durable)" : "");
}

int fs_bmap_alloc_block(struct fs_alloc *a, uint32_t r, uint32_t d, fs_da *out, char *err,
			size_t errsz)
{
	int rc;

	rc = check_dr(a, d, r, err, errsz);
	if (rc)
		return rc;
	return take_full(a, d, r, 0, a->spb, out, err, errsz);
}

int fs_bmap_alloc_frag(struct fs_alloc *a, uint32_t r, uint32_t d, uint32_t k, fs_da *out,
		       char *err, size_t errsz)
{
	struct { uint32_t j, at, len; uint64_t i; } best = {0};
	uint32_t full = UINT32_MAX, fullmask = run_mask(0, a->spb);
	struct fs_chunk c;
	struct bref m;
	uint32_t bits;
	int rc;

	rc = check_dr(a, d, r, err, errsz);
	if (rc)
		return rc;
	if (k < 1 || k > a->spb)
		return fs_errf(err, errsz, MM_EINVAL, "a fragment of %u subblocks (1 .. %u)", k, a->spb);
	fs_bmap_chunk(a, d, r, &c);
	/* best fit among partly used full blocks, stopping at an exact one */
	for (uint32_t j = 0; j < c.nmap && best.len != k; j++) {
		rc = bmap_get(a, &m, d, r, j, GET_READ, err, errsz);
		if (rc)
			return rc;
		if (full == UINT32_MAX && m.h.b > 0)
			full = j;
		/* with a busy set, free full blocks may hold busy runs: look */
		if (m.h.a - m.h.b * a->spb >= k || (a->busy && m.h.b > 0)) {
			for (uint64_t i = 0; i < m.covered; i++) {
				uint32_t mk = mask_get(body(&m), i, a->spb), at = 0, len;

				if (mk == fullmask)
					continue;
				mk |= busy_of(a, &m, c.start, i);
				if (mk == 0 || mk == fullmask)
					continue;
				len = best_run(mk, a->spb, k, &at);
				if (len && (best.len == 0 || len < best.len)) {
					best.j = j;
					best.i = i;
					best.at = at;
					best.len = len;
					if (len == k)
						break;
				}
			}
		}
		bmap_put(a, &m, false);
	}
	if (best.len == 0) {
		if (full == UINT32_MAX)
			return fs_errf(err, errsz, MM_ERANGE, "block map disk %u (%s) region %u: no "
				    "run of %u free subblocks", d, a->disk[d].name, r, k);
		return take_full(a, d, r, full, k, out, err, errsz);
	}
	rc = bmap_get(a, &m, d, r, best.j, GET_WRITE_SEEN, err, errsz);
	if (rc)
		return rc;
	bits = mask_get(body(&m), best.i, a->spb);
	if (bits & run_mask(best.at, k)) {
		/* the caller let another allocation in between */
		bmap_put(a, &m, false);
		return fs_errf(err, errsz, MM_ECONFLICT, "%s changed under an allocation", m.where);
	}
	bmap_set(a, &m, best.i, bits | run_mask(best.at, k));
	m.h.a -= k;
	if (bits == 0)
		m.h.b--;	/* a free block that busy subblocks made look partly used */
	bmap_put(a, &m, true);
	*out = fs_da_make(d, c.start + ((uint64_t)best.j * a->bpm + best.i) * a->spb + best.at);
	return MM_OK;
}

/* Where the run at <da> lies: its region, its offset in its full block,
 * and that block's index in its (disk, region) chunk. */
static int locate_run(struct fs_alloc *a, fs_da da, uint32_t *r, uint32_t *off, uint64_t *rb,
		      char *err, size_t errsz)
{
	uint32_t d = fs_da_disk(da);
	uint64_t sub = fs_da_sub(da), bi;

	if (!locate(a, da, r, &bi))
		return fs_errf(err, errsz, MM_EINVAL, "disk address %#" PRIx64 " (disk %u subblock %"
			    PRIu64 ") lies in no allocation region", da, d, sub);
	*off = (uint32_t)((sub - a->first) % a->spb);
	*rb = bi - chunk_lo(a, &a->disk[d], *r);
	return MM_OK;
}

int fs_bmap_extend(struct fs_alloc *a, fs_da da, uint32_t have, uint32_t want, char *err,
		   size_t errsz)
{
	uint32_t d = fs_da_disk(da), r, off, bits, rm;
	uint64_t sub = fs_da_sub(da), rb;
	struct bref m;
	int rc;

	rc = locate_run(a, da, &r, &off, &rb, err, errsz);
	if (rc)
		return rc;
	if (have < 1 || want <= have || off + want > a->spb)
		return MM_ERANGE;
	rc = bmap_get(a, &m, d, r, (uint32_t)(rb / a->bpm), GET_WRITE, err, errsz);
	if (rc)
		return rc;
	bits = mask_get(body(&m), rb % a->bpm, a->spb);
	rm = run_mask(off + have, want - have);
	if ((bits & rm) || (a->busy && (a->busy(a->busy_arg, d, sub - off) & rm))) {
		bmap_put(a, &m, false);
		return MM_ERANGE;
	}
	/* (the block holds the fragment: it was partly used already) */
	bmap_set(a, &m, rb % a->bpm, bits | rm);
	m.h.a -= want - have;
	bmap_put(a, &m, true);
	return MM_OK;
}

int fs_bmap_free(struct fs_alloc *a, fs_da da, uint32_t nsub, char *err, size_t errsz)
{
	uint32_t d = fs_da_disk(da), r, off, bits, rm;
	uint64_t sub = fs_da_sub(da), rb;
	struct bref m;
	int rc;

	rc = locate_run(a, da, &r, &off, &rb, err, errsz);
	if (rc)
		return rc;
	if (nsub < 1 || off + nsub > a->spb)
		return fs_errf(err, errsz, MM_EINVAL, "disk %u subblocks %" PRIu64 "+%u: not a run "
			    "inside one full block", d, sub, nsub);
	rc = bmap_get(a, &m, d, r, (uint32_t)(rb / a->bpm), GET_WRITE, err, errsz);
	if (rc)
		return rc;
	bits = mask_get(body(&m), rb % a->bpm, a->spb);
	rm = run_mask(off, nsub);
	if ((bits & rm) != rm) {
		uint32_t k = (uint32_t)__builtin_ctz(rm & ~bits);

		bmap_put(a, &m, false);
		return fs_errf(err, errsz, MM_ESTATE, "double free: disk %u (%s) subblocks %" PRIu64
			    "+%u (disk address %#" PRIx64 "): subblock %" PRIu64 " is free "
			    "already (region %u)", d, a->disk[d].name, sub, nsub, da,
			    sub - off + k, r);
	}
	bits &= ~rm;
	m.h.a += nsub;
	if (bits == 0)
		m.h.b++;
	bmap_set(a, &m, rb % a->bpm, bits);
	bmap_put(a, &m, true);
	return MM_OK;
}

int fs_bmap_count(struct fs_alloc *a, uint32_t r, uint32_t d, struct fs_bmap_count *c,
		  char *err, size_t errsz)
{
	uint32_t d0 = d, d1 = d + 1;
	struct fs_chunk ch;
	struct bref m;
	int rc;

	if (d == FS_DA_DISK_NONE) {
		d0 = 0;
		d1 = a->ndisks;
		if (r >= a->nreg)
			return check_dr(a, 0, r, err, errsz);
	} else {
		rc = check_dr(a, d, r, err, errsz);
		if (rc)
			return rc;
	}
	c->free_sub = c->free_full = 0;
	for (d = d0; d < d1; d++) {
		fs_bmap_chunk(a, d, r, &ch);
		for (uint32_t j = 0; j < ch.nmap; j++) {
			rc = bmap_get(a, &m, d, r, j, GET_READ, err, errsz);
			if (rc)
				return rc;
			c->free_sub += m.h.a;
			c->free_full += m.h.b;
			bmap_put(a, &m, false);
		}
	}
	return MM_OK;
}

int fs_bmap_check(struct fs_alloc *a, uint32_t r, uint32_t d, struct fs_bmap_count *c,
		  char *err, size_t errsz)
{
	uint32_t fullmask = run_mask(0, a->spb);
	struct fs_bmap_count sum = {0};
	struct fs_chunk ch;
	struct bref m;
	int rc;

	rc = check_dr(a, d, r, err, errsz);
	if (rc)
		return rc;
	fs_bmap_chunk(a, d, r, &ch);
	for (uint32_t j = 0; j < ch.nmap; j++) {
		uint64_t fs = 0, ff = 0, tail = FS_MB - FS_MBH_BYTES - (uint64_t)a->bpm * a->spb / 8;
		const uint8_t *end;

		rc = bmap_get(a, &m, d, r, j, GET_READ, err, errsz);
		if (rc)
			return rc;
		for (uint64_t i = 0; i < a->bpm; i++) {
			uint32_t bits = mask_get(body(&m), i, a->spb);

			if (i >= m.covered) {
				if (bits != fullmask) {
					bmap_put(a, &m, false);
					return fs_errf(err, errsz, MM_EPROTO, "%s: block %" PRIu64 " past "
						    "the chunk's end is marked free", m.where, i);
				}
				continue;
			}
			fs += a->spb - (uint32_t)__builtin_popcount(bits);
			ff += bits == 0;
		}
		end = body(&m) + (uint64_t)a->bpm * a->spb / 8;
		for (uint64_t x = 0; x < tail; x++) {
			if (end[x]) {
				bmap_put(a, &m, false);
				return fs_errf(err, errsz, MM_EPROTO, "%s: bits past its map are set",
					    m.where);
			}
		}
		if (fs != m.h.a || ff != m.h.b) {
			bmap_put(a, &m, false);
			return fs_errf(err, errsz, MM_EPROTO, "%s: header counts %" PRIu64 " free "
				    "subblocks and %" PRIu64 " free blocks, its bitmap %" PRIu64
				    " and %" PRIu64, m.where, m.h.a, m.h.b, fs, ff);
		}
		sum.free_sub += fs;
		sum.free_full += ff;
		bmap_put(a, &m, false);
	}
	if (c)
		*c = sum;
	return MM_OK;
}

/* ---- 4. inode map ---- */

uint32_t fs_imap_nregions(const struct fs_alloc *a)
{
	return a->imap_nreg;
}

static bool bit_get(const uint8_t *bits, uint64_t i)
{
	return bits[i / 8] >> (i % 8) & 1;
}

static void bit_put(uint8_t *bits, uint64_t i, bool v)
{
	if (v)
		bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* Is inode <ino> in use from the start (reserved, or at or past the limit)? */
static bool ino_fixed(const struct fs_alloc *a, uint64_t ino)
{
	return ino < FS_FIRST_USER_INO || ino >= a->inode_limit;
}

/* Free inodes of region <r> before its first use. */
static uint64_t imap_initial_free(const struct fs_alloc *a, uint32_t r)
{
	uint64_t lo = (uint64_t)r * FS_IMAP_REGION_INODES, hi = lo + FS_IMAP_REGION_INODES;

	if (hi > a->inode_limit)
		hi = a->inode_limit;
	if (lo < FS_FIRST_USER_INO)
		lo = FS_FIRST_USER_INO;
	return hi > lo ? hi - lo : 0;
}

/* Region <r>'s map block as it is before its first use. */
static void imap_initial(const struct fs_alloc *a, uint32_t r, uint8_t *data)
{
	uint64_t base = (uint64_t)r * FS_IMAP_REGION_INODES;

	changing(a, FS_INO_IMAP, r, 0, FS_MB);
	memset(data, 0, FS_MB);
	for (uint64_t i = 0; i < FS_IMAP_REGION_INODES; i++)
		if (ino_fixed(a, base + i))
			bit_put(data + FS_MBH_BYTES, i, true);
}

static void imap_seal(const struct fs_alloc *a, uint32_t r, uint8_t *data, uint64_t nfree)
{
	struct fs_mbh h = {.type = FS_BT_IMAP, .fsid = a->fsid, .ino = FS_INO_IMAP, .blk = r,
			   .a = nfree};

	changing(a, FS_INO_IMAP, r, 0, FS_MBH_BYTES);
	fs_mb_seal(data, FS_MB, &h);
}

/*
 * Get region <r>'s map block, verified, into *data and *h; the caller
 * puts it. MM_ENOENT (no message, *data NULL): a hole, the region is
 * untouched. With <write> the block is got for writing after a read
 * verified it or found the hole; a hole's block is then initialised
 * (not sealed) and *h gets its counts.
 */
static int imap_get(struct fs_alloc *a, uint32_t r, bool write, uint8_t **data,
		    struct fs_mbh *h, char *err, size_t errsz)
{
	char msg[160];
	bool hole = false;
	int rc;

	rc = a->bs.get(a->bs.arg, FS_INO_IMAP, r, false, data);
	if (rc == MM_ENOENT) {
		*data = NULL;
		if (!write)
			return MM_ENOENT;
		hole = true;
	} else if (rc) {
		return fs_errf(err, errsz, rc, "inode map region %u: %s", r, mm_strerror(rc));
	} else {
		rc = fs_mb_verify_bs(&a->bs, *data, FS_MB, FS_BT_IMAP, a->fsid, FS_INO_IMAP, r, h,
				     msg, sizeof(msg));
		if (rc == MM_OK && (h->a > FS_IMAP_REGION_INODES || h->b != 0)) {
			snprintf(msg, sizeof(msg), "header counts %" PRIu64 " free inodes (b %"
				 PRIu64 ")", h->a, h->b);
			rc = MM_EPROTO;
		}
		if (rc == MM_OK && !write)
			return MM_OK;
		a->bs.put(a->bs.arg, FS_INO_IMAP, r, *data, false);
		*data = NULL;
		if (rc)
			return fs_errf(err, errsz, rc, "inode map region %u (map-file block %u): %s", r,
				    r, msg);
	}
	rc = a->bs.get(a->bs.arg, FS_INO_IMAP, r, true, data);
	if (rc)
		return fs_errf(err, errsz, rc, "inode map region %u: %s", r, mm_strerror(rc));
	if (hole) {
		imap_initial(a, r, *data);
		h->a = imap_initial_free(a, r);
		h->b = 0;
	}
	return MM_OK;
}

int fs_imap_format(struct fs_alloc *a, char *err, size_t errsz)
{
	uint8_t *data;
	int rc;

	rc = a->bs.get(a->bs.arg, FS_INO_IMAP, 0, false, &data);
	if (rc == MM_OK) {
		a->bs.put(a->bs.arg, FS_INO_IMAP, 0, data, false);
		return fs_errf(err, errsz, MM_EEXIST, "inode map region 0 exists");
	}
	if (rc != MM_ENOENT)
		return fs_errf(err, errsz, rc, "inode map region 0: %s", mm_strerror(rc));
	rc = a->bs.get(a->bs.arg, FS_INO_IMAP, 0, true, &data);
	if (rc)
		return fs_errf(err, errsz, rc, "inode map region 0: %s", mm_strerror(rc));
	imap_initial(a, 0, data);
	imap_seal(a, 0, data, imap_initial_free(a, 0));
	a->bs.put(a->bs.arg, FS_INO_IMAP, 0, data, true);
	return MM_OK;
}

/* The first clear bit of <bits> in [from, to), or UINT64_MAX. */
static uint64_t first_clear(const uint8_t *bits, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to;) {
		if (i % 8 == 0 && i + 8 <= to && bits[i / 8] == 0xff) {
			i += 8;
			continue;
		}
		if (!bit_get(bits, i))
			return i;
		i++;
	}
	return UINT64_MAX;
}

int fs_imap_alloc(struct fs_alloc *a, uint32_t r, uint64_t hint, uint64_t *ino, char *err,
		  size_t errsz)
{
	uint64_t base = (uint64_t)r * FS_IMAP_REGION_INODES, from = 0, i;
	struct fs_mbh h;
	uint8_t *data;
	int rc;

	if (r >= a->imap_nreg)
		return fs_errf(err, errsz, MM_EINVAL, "inode region %u does not exist (%u regions)", r,
			    a->imap_nreg);
	if (hint >= base && hint - base < FS_IMAP_REGION_INODES)
		from = hint - base;
	rc = imap_get(a, r, true, &data, &h, err, errsz);
	if (rc)
		return rc;
	if (h.a == 0) {
		a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
		return fs_errf(err, errsz, MM_ERANGE, "inode region %u is full", r);
	}
	i = first_clear(data + FS_MBH_BYTES, from, FS_IMAP_REGION_INODES);
	if (i == UINT64_MAX)
		i = first_clear(data + FS_MBH_BYTES, 0, from);
	if (i == UINT64_MAX || ino_fixed(a, base + i)) {
		a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
		return fs_errf(err, errsz, MM_EPROTO, "inode map region %u: its header counts %" PRIu64
			    " free inodes, its bitmap %s", r, h.a,
			    i == UINT64_MAX ? "none" : "a reserved one");
	}
	changing(a, FS_INO_IMAP, r, (uint32_t)(FS_MBH_BYTES + i / 8), 1);
	bit_put(data + FS_MBH_BYTES, i, true);
	imap_seal(a, r, data, h.a - 1);
	a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, true);
	*ino = base + i;
	return MM_OK;
}

int fs_imap_free(struct fs_alloc *a, uint64_t ino, char *err, size_t errsz)
{
	uint32_t r = fs_imap_region_of(ino);
	uint64_t i = ino % FS_IMAP_REGION_INODES;
	struct fs_mbh h;
	uint8_t *data;
	int rc;

	if (ino_fixed(a, ino))
		return fs_errf(err, errsz, MM_EINVAL, "inode %" PRIu64 " is %s", ino,
			    ino < FS_FIRST_USER_INO ? "reserved" : "past the inode limit");
	rc = imap_get(a, r, false, &data, &h, err, errsz);
	if (rc == MM_ENOENT)
		return fs_errf(err, errsz, MM_ESTATE, "double free: inode %" PRIu64 " is free already "
			    "(inode region %u was never used)", ino, r);
	if (rc)
		return rc;
	if (!bit_get(data + FS_MBH_BYTES, i)) {
		a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
		return fs_errf(err, errsz, MM_ESTATE, "double free: inode %" PRIu64 " is free already "
			    "(inode region %u)", ino, r);
	}
	a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
	rc = a->bs.get(a->bs.arg, FS_INO_IMAP, r, true, &data);
	if (rc)
		return fs_errf(err, errsz, rc, "inode map region %u: %s", r, mm_strerror(rc));
	changing(a, FS_INO_IMAP, r, (uint32_t)(FS_MBH_BYTES + i / 8), 1);
	bit_put(data + FS_MBH_BYTES, i, false);
	imap_seal(a, r, data, h.a + 1);
	a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, true);
	return MM_OK;
}

int fs_imap_count(struct fs_alloc *a, uint32_t r, uint64_t *nfree, char *err, size_t errsz)
{
	struct fs_mbh h;
	uint8_t *data;
	int rc;

	if (r >= a->imap_nreg)
		return fs_errf(err, errsz, MM_EINVAL, "inode region %u does not exist (%u regions)", r,
			    a->imap_nreg);
	rc = imap_get(a, r, false, &data, &h, err, errsz);
	if (rc == MM_ENOENT) {
		*nfree = imap_initial_free(a, r);
		return MM_OK;
	}
	if (rc)
		return rc;
	*nfree = h.a;
	a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
	return MM_OK;
}

int fs_imap_test(struct fs_alloc *a, uint64_t ino, bool *used, char *err, size_t errsz)
{
	uint32_t r = fs_imap_region_of(ino);
	struct fs_mbh h;
	uint8_t *data;
	int rc;

	if (ino_fixed(a, ino)) {
		*used = true;
		return MM_OK;
	}
	rc = imap_get(a, r, false, &data, &h, err, errsz);
	if (rc == MM_ENOENT) {
		*used = false;
		return MM_OK;
	}
	if (rc)
		return rc;
	*used = bit_get(data + FS_MBH_BYTES, ino % FS_IMAP_REGION_INODES);
	a->bs.put(a->bs.arg, FS_INO_IMAP, r, data, false);
	return MM_OK;
}

/* ---- 5. placement ---- */

static bool usage_takes(uint8_t usage, enum fs_kind kind)
{
	switch (usage) {
	case FS_USAGE_DATA_AND_META:
		return true;
	case FS_USAGE_META_ONLY:
		return kind == FS_KIND_META;
	case FS_USAGE_DATA_ONLY:
		return kind == FS_KIND_DATA;
	default:
		return false;	/* descOnly, or unknown */
	}
}

/* splitmix64's finaliser: the scatter start of a file. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Do two disks of failure groups <a> and <b> share a point of failure?
 * -1 (GPFS) shares none with any disk: each -1 disk is a group of its own,
 * as fs_sgd_check counts them. */
static bool fg_same(int32_t a, int32_t b)
{
	return a == b && a != -1;
}

int fs_place_init(struct fs_place *p, const struct fs_sgd *sgd, const char *pool,
		  enum fs_kind kind, uint64_t ino)
{
	uint32_t nd = sgd->ndisks < FS_MAX_DISKS ? sgd->ndisks : FS_MAX_DISKS;

	if (!pool || kind == FS_KIND_META)
		pool = "system";
	p->n = 0;
	p->start = 0;
	for (uint32_t d = 0; d < nd; d++) {
		const struct fs_sgd_disk *sd = &sgd->disk[d];

		if (!usage_takes(sd->usage, kind) || sd->status != FS_DS_READY ||
		    sd->avail != FS_DA_UP || strncmp(sd->pool, pool, sizeof(sd->pool)) != 0)
			continue;
		p->disk[p->n] = (uint16_t)d;
		p->fg[p->n] = sd->failure_group;
		p->n++;
	}
	if (p->n == 0)
		return MM_ERANGE;
	if (sgd->flags & FS_SGD_SCATTER)
		p->start = (uint32_t)(mix64(ino) % p->n);
	return MM_OK;
}

uint32_t fs_place_groups(const struct fs_place *p)
{
	uint32_t groups = 0;

	for (uint32_t i = 0; i < p->n; i++) {
		uint32_t k;

		for (k = 0; k < i && !fg_same(p->fg[k], p->fg[i]); k++)
			;
		groups += k == i;
	}
	return groups;
}

int fs_place_block(const struct fs_place *p, uint64_t n, unsigned nrep, const bool *full,
		   uint32_t *out)
{
	int32_t used[FS_MAX_REPLICAS];
	uint64_t pos;
	unsigned k = 0;

	if (nrep < 1 || nrep > FS_MAX_REPLICAS)
		return MM_EINVAL;
	if (p->n == 0)
		return MM_ERANGE;
	pos = (p->start + n % p->n) % p->n;
	for (uint32_t i = 0; i < p->n && k < nrep; i++) {
		uint32_t x = (uint32_t)((pos + i) % p->n), q;

		if (full && full[p->disk[x]])
			continue;
		for (q = 0; q < k && !fg_same(used[q], p->fg[x]); q++)
			;
		if (q < k)
			continue;
		used[k] = p->fg[x];
		out[k++] = p->disk[x];
	}
	return k == nrep ? MM_OK : MM_ERANGE;
}

/* ---- 6. region choice ---- */

int fs_alloc_pick_region(const uint64_t *nfree, const bool *held, uint32_t n)
{
	int best = MM_ERANGE;

	for (uint32_t r = 0; r < n && r <= INT32_MAX; r++) {
		if ((held && held[r]) || nfree[r] == 0)
			continue;
		if (best < 0 || nfree[r] > nfree[best])
			best = (int)r;
	}
	return best;
}
