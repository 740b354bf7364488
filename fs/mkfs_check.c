/*
 * fs/mkfs_check.c - open a stripe group read-only and check it: the
 * descriptor by majority, inode file block 0, every replica of every
 * block of the inode file and the two maps, the maps against those
 * blocks, the root directory (contract: fs_open_check in fs/mkfs.h;
 * conventions shared with fs/mkfs.c in fs/mkfs_int.h).
 *
 *   1. descriptor: every disk's slots, descriptor-disk sets newest first
 *   2. tree walks (fs_tree_iterate): pointers, indirect blocks, file
 *      blocks, every replica read and verified before tree.c uses it
 *   3. a read-only fs_bstore over the disks for tree.c, alloc.c and dir.c
 *   4. the checks and fs_open_check
 */
#include "fs/mkfs.h"
#include "fs/mkfs_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "fs/alloc.h"
#include "fs/dir.h"
#include "fs/tree.h"


/* A file's blocks as its tree names them. */
struct rfile {
	struct fs_inode in;
	size_t n, cap;
	uint64_t *idx;		/* file block numbers, ascending */
	struct fs_ptr *ptr;
};

/* A block of files 0 .. 2 (one replica): where and how big. */
struct used {
	fs_da da;
	uint32_t nsub;
	uint64_t ino;
};

struct ck {
	const struct fs_disk_io *io;
	struct fs_sgd *sgd;
	uint32_t fsid, b, s, spb, mpb, ind_sub, maxrep;
	struct rfile f[3];
	struct fs_inode *in;	/* records 0 .. 15 */
	struct used *u;
	size_t nu, capu;
	struct fs_check_summary *sum;
	uint8_t *buf, *buf0;	/* B bytes each */
	/* the indirect block the walk read last (every replica verified),
	 * which tree.c gets next */
	uint8_t *ind, *ind_rep;	/* FS_MB each */
	uint64_t ind_ino, ind_tag;
	fs_da ind_da;		/* replica 0; FS_DA_NONE: none read */
	bool cb_failed;		/* the walk's callback failed: err says why */
	struct fs_bstore bs;	/* section 3, over the disks */
	char *err;
	size_t errsz;
};

static const char *dname(const struct ck *c, uint32_t d)
{
	return c->sgd && d < c->sgd->ndisks ? c->sgd->disk[d].name : "?";
}

static int cread(struct ck *c, uint32_t d, uint64_t off, void *buf, size_t len)
{
	int rc = fs_mkfs_io_rc(c->io->read(c->io->arg, d, off, buf, len));

	if (rc)
		return fs_errf(c->err, c->errsz, rc, "disk %u (%s) offset %" PRIu64 " (%zu bytes): "
			    "read failed: %s", d, dname(c, d), off, len, mm_strerror(rc));
	return MM_OK;
}

/* ---- 1. descriptor ---- */

struct cand {
	uint64_t gen;
	uint32_t n;
	uint32_t d[5];
};

static int cmp_cand(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	return a->gen > b->gen ? -1 : a->gen < b->gen;
}

/* How many of the <n> descriptor disks hold the copy chosen (c->sgd). */
static int count_holders(struct ck *c, const struct fs_sgd_read *rd, uint32_t n)
{
	uint8_t *enc = malloc(FS_SGD_SLOT_BYTES);

	if (!enc || fs_sgd_encode(c->sgd, enc) != MM_OK) {
		free(enc);
		return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
	}
	for (uint32_t k = 0; k < n; k++)
		for (int j = 0; j < 2; j++)
			if (rd[k].slot[j] && !memcmp(rd[k].slot[j], enc, FS_SGD_SLOT_BYTES)) {
				c->sum->desc_ok++;
				break;
			}
	free(enc);
	return MM_OK;
}

/*
 * Read every disk's slots and choose: each valid copy names the
 * descriptor disks; the sets are tried newest first, and the first whose
 * majority choice names that same set wins.
 */
static int choose_sgd(struct ck *c, uint32_t ndisks)
{
	uint8_t **slot = calloc((size_t)ndisks * 2, sizeof(*slot));
	struct cand *cand = calloc((size_t)ndisks * 2, sizeof(*cand));
	struct fs_sgd_read rd[5];
	size_t ncand = 0;
	char msg[1024], first[1024] = "";
	int rc = MM_OK, first_rc = MM_OK;

	if (!slot || !cand) {
		rc = fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
		goto out;
	}
	for (uint32_t d = 0; d < ndisks; d++) {
		for (int k = 0; k < 2; k++) {
			uint8_t *b = malloc(FS_SGD_SLOT_BYTES);

			if (!b) {
				rc = fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
				goto out;
			}
			if (fs_mkfs_io_rc(c->io->read(c->io->arg, d, k ? FS_SGD_SLOT1 : FS_SGD_SLOT0, b,
					      FS_SGD_SLOT_BYTES)) != MM_OK ||
			    memcmp(b, "MMSG", 4) != 0) {
				free(b);	/* unreadable or empty: holds nothing */
				continue;
			}
			slot[2 * d + k] = b;
			if (fs_sgd_decode(b, FS_SGD_SLOT_BYTES, c->sgd, msg, sizeof(msg)) != MM_OK)
				continue;
			cand[ncand].gen = c->sgd->generation;
			for (uint32_t i = 0; i < c->sgd->ndisks && cand[ncand].n < 5; i++)
				if (c->sgd->disk[i].has_desc)
					cand[ncand].d[cand[ncand].n++] = i;
			ncand++;
		}
	}
	if (ncand == 0) {
		rc = fs_errf(c->err, c->errsz, MM_ENOENT, "no valid stripe group descriptor on any "
			  "of the %u disks", ndisks);
		goto out;
	}
	qsort(cand, ncand, sizeof(*cand), cmp_cand);
	for (size_t i = 0; i < ncand; i++) {
		bool same = true, tried = false;

		for (size_t j = 0; j < i && !tried; j++)
			tried = cand[j].n == cand[i].n &&
				!memcmp(cand[j].d, cand[i].d, cand[i].n * sizeof(cand[i].d[0]));
		if (tried)
			continue;
		for (uint32_t k = 0; k < cand[i].n; k++) {
			uint32_t d = cand[i].d[k];

			rd[k].slot[0] = d < ndisks ? slot[2 * d] : NULL;
			rd[k].slot[1] = d < ndisks ? slot[2 * d + 1] : NULL;
			rd[k].len[0] = rd[k].len[1] = FS_SGD_SLOT_BYTES;
		}
		rc = fs_sgd_choose(rd, cand[i].n, c->sgd, NULL, msg, sizeof(msg));
		if (rc == MM_OK) {
			uint32_t n = 0;

			for (uint32_t d = 0; d < c->sgd->ndisks; d++)
				if (c->sgd->disk[d].has_desc)
					same = same && n < cand[i].n && cand[i].d[n++] == d;
			if (same && n == cand[i].n) {
				rc = count_holders(c, rd, n);
				goto out;
			}
			rc = MM_EPROTO;
			snprintf(msg, sizeof(msg), "the copy chosen names other descriptor disks");
		}
		if (first_rc == MM_OK) {
			first_rc = rc;
			snprintf(first, sizeof(first), "%s", msg);
		}
	}
	{
		char map[128] = "";
		size_t off = 0;

		for (uint32_t k = 0; k < cand[0].n && off < sizeof(map); k++)
			off += (size_t)snprintf(map + off, sizeof(map) - off, "%s%u", k ? ", " : "",
						cand[0].d[k]);
		rc = fs_errf(c->err, c->errsz, first_rc, "stripe group descriptor: %s [descriptor "
			  "disks 0 .. %u are disks %s]", first, cand[0].n - 1, map);
	}
out:
	for (uint32_t i = 0; slot && i < 2 * ndisks; i++)
		free(slot[i]);
	free(slot);
	free(cand);
	return rc;
}

int fs_mkfs_choose_sgd(const struct fs_disk_io *io, uint32_t ndisks, struct fs_sgd *sgd,
		       uint32_t *desc_ok, char *err, size_t errsz)
{
	struct ck c = {.io = io, .sgd = sgd, .err = err, .errsz = errsz};
	int rc;

	c.sum = calloc(1, sizeof(*c.sum));
	if (!c.sum)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	rc = choose_sgd(&c, ndisks);
	if (desc_ok)
		*desc_ok = c.sum->desc_ok;
	free(c.sum);
	return rc;
}

/* ---- 2. walking the trees ---- */

static int add_used(struct ck *c, fs_da da, uint32_t nsub, uint64_t ino)
{
	if (c->nu == c->capu) {
		size_t cap = c->capu ? c->capu * 2 : 64;
		struct used *u = realloc(c->u, cap * sizeof(*u));

		if (!u)
			return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
		c->u = u;
		c->capu = cap;
	}
	c->u[c->nu++] = (struct used){da, nsub, ino};
	return MM_OK;
}

/* A pointer of inode <ino> with <nrep> replicas: exactly those set, on
 * disks of the descriptor, at an aligned address. */
static int check_ptr(struct ck *c, uint64_t ino, const struct fs_ptr *p, unsigned nrep,
		     bool full, const char *what)
{
	for (unsigned k = 0; k < FS_MAX_REPLICAS; k++) {
		fs_da da = p->da[k];

		if ((k < nrep) != (da != FS_DA_NONE))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " %s: replica %u "
				    "is %s (the file has %u replicas)", ino, what, k,
				    da ? "set" : "missing", nrep);
		if (!da)
			continue;
		if (fs_da_disk(da) >= c->sgd->ndisks ||
		    (full && fs_da_sub(da) % c->spb) ||
		    fs_da_sub(da) + (full ? c->spb : c->ind_sub) >
			    c->sgd->disk[fs_da_disk(da)].subblocks)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " %s: replica %u "
				    "address %#" PRIx64 " is not a %s on a disk", ino, what, k, da,
				    full ? "full block" : "block");
	}
	return MM_OK;
}

/* Verify every metadata block in (replica 0 of) file block <i>: holes
 * (all zero) only in the maps. */
static int verify_fblock(struct ck *c, uint64_t ino, uint64_t i, const uint8_t *b, fs_da da)
{
	uint64_t nmb = (c->f[ino].in.size + FS_MB - 1) / FS_MB;
	char msg[256];
	int rc;

	for (uint32_t s = 0; s < c->mpb && i * c->mpb + s < nmb; s++) {
		const uint8_t *mb = b + (size_t)s * FS_MB;
		uint64_t blk = i * c->mpb + s;

		if (fs_mkfs_all_zero(mb, FS_MB)) {
			if (ino == 0 && blk == 0)
				return fs_errf(c->err, c->errsz, MM_EPROTO, "disk %u (%s) subblock %"
					    PRIu64 ": inode file block %" PRIu64 " is missing",
					    fs_da_disk(da), dname(c, fs_da_disk(da)), fs_da_sub(da), blk);
			continue;	/* a hole (an inode-file block of records never used) */
		}
		if (ino == 0) {
			for (uint32_t r = 0; r < FS_INODES_PER_MB; r++) {
				uint64_t n = blk * FS_INODES_PER_MB + r;
				struct fs_inode *in = &c->in[r];

				/* a record of zeros was never used (the runtime grows the
				 * inode file by zeroed blocks): free, as fsck takes it */
				if (blk > 0 && fs_mkfs_all_zero(mb + r * FS_INODE_BYTES, FS_INODE_BYTES))
					continue;
				if (blk > 0)
					in = malloc(sizeof(*in));
				if (!in)
					return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
				rc = fs_inode_decode(mb + r * FS_INODE_BYTES, c->fsid, n, in, msg,
						     sizeof(msg));
				if (rc == MM_OK && !(in->flags & FS_IF_FREE))
					c->sum->inodes_used++;
				if (blk > 0)
					free(in);
				if (rc)
					return fs_errf(c->err, c->errsz, rc, "disk %u (%s) subblock %"
						    PRIu64 ": inode %" PRIu64 ": %s", fs_da_disk(da),
						    dname(c, fs_da_disk(da)), fs_da_sub(da), n, msg);
			}
		} else {
			rc = fs_mb_verify(mb, FS_MB, ino == FS_INO_BMAP ? FS_BT_BMAP : FS_BT_IMAP,
					  c->fsid, ino, blk, NULL, msg, sizeof(msg));
			if (rc)
				return fs_errf(c->err, c->errsz, rc, "disk %u (%s) subblock %" PRIu64
					    ": %s block %" PRIu64 ": %s", fs_da_disk(da),
					    dname(c, fs_da_disk(da)), fs_da_sub(da),
					    ino == FS_INO_BMAP ? "block map" : "inode map", blk, msg);
		}
		c->sum->meta_blocks++;
	}
	return MM_OK;
}

/* File block <i> of <ino>: read and verify every replica, all alike. */
static int leaf(struct ck *c, uint64_t ino, uint64_t i, const struct fs_ptr *p)
{
	struct rfile *f = &c->f[ino];
	uint64_t len;
	int rc;

	if (i * (uint64_t)c->b >= f->in.size)
		return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 ": block %" PRIu64
			    " lies past the file's %" PRIu64 " bytes", ino, i, f->in.size);
	/* the metadata blocks of it inside the file */
	len = (f->in.size - i * (uint64_t)c->b + FS_MB - 1) / FS_MB * FS_MB;
	if (len > c->b)
		len = c->b;
	rc = check_ptr(c, ino, p, f->in.meta_rep, true, "block pointer");
	for (unsigned k = 0; k < f->in.meta_rep && rc == MM_OK; k++) {
		fs_da da = p->da[k];
		uint8_t *b = k ? c->buf : c->buf0;

		rc = cread(c, fs_da_disk(da), fs_da_sub(da) * c->s, b, len);
		/* replica 0 verified, the others the same bytes */
		if (rc == MM_OK && k == 0)
			rc = verify_fblock(c, ino, i, b, da);
		if (rc == MM_OK && k && memcmp(b, c->buf0, len))
			rc = fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " block %" PRIu64
				  ": replica %u (disk %u (%s) subblock %" PRIu64 ") differs from "
				  "replica 0", ino, i, k, fs_da_disk(da), dname(c, fs_da_disk(da)),
				  fs_da_sub(da));
		if (rc == MM_OK)
			rc = add_used(c, da, c->spb, ino);
		c->sum->disk_blocks++;
	}
	if (rc)
		return rc;
	if ((f->n & (f->n - 1)) == 0) {
		size_t cap = f->n ? f->n * 2 : 1;
		uint64_t *idx = realloc(f->idx, cap * sizeof(*idx));
		struct fs_ptr *ptr;

		if (!idx)
			return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
		f->idx = idx;
		ptr = realloc(f->ptr, cap * sizeof(*ptr));
		if (!ptr)
			return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");
		f->ptr = ptr;
	}
	f->idx[f->n] = i;
	f->ptr[f->n++] = *p;
	return MM_OK;
}

/* Indirect block (level, index) of <ino> at <p>: read every replica,
 * verify it (header, checksum; the replicas alike), and keep replica 0
 * for tree.c's get, which follows (tree.c then checks its own rules). */
static int ind_block(struct ck *c, uint64_t ino, unsigned level, uint64_t index,
		     const struct fs_ptr *p)
{
	uint64_t tag = fs_tree_tag(level, index);
	int rc;

	c->ind_da = FS_DA_NONE;
	rc = check_ptr(c, ino, p, c->f[ino].in.meta_rep, false, "indirect pointer");
	for (unsigned k = 0; k < c->f[ino].in.meta_rep && rc == MM_OK; k++) {
		fs_da da = p->da[k];
		uint8_t *b = k ? c->ind_rep : c->ind;
		char msg[256];

		rc = cread(c, fs_da_disk(da), fs_da_sub(da) * c->s, b, FS_MB);
		if (rc)
			break;
		rc = fs_mb_verify(b, FS_MB, FS_BT_INDIRECT, c->fsid, ino, tag, NULL, msg,
				  sizeof(msg));
		if (rc == MM_OK && k && memcmp(b, c->ind, FS_MB)) {
			rc = MM_EPROTO;
			snprintf(msg, sizeof(msg), "replica %u differs from replica 0", k);
		}
		if (rc)
			rc = fs_errf(c->err, c->errsz, rc, "disk %u (%s) subblock %" PRIu64
				  ": inode %" PRIu64 " indirect block level %u index %" PRIu64
				  ": %s", fs_da_disk(da), dname(c, fs_da_disk(da)),
				  fs_da_sub(da), ino, level, index, msg);
		else
			rc = add_used(c, da, c->ind_sub, ino);
		c->sum->meta_blocks++;
		c->sum->disk_blocks++;
	}
	if (rc)
		return rc;
	c->ind_ino = ino;
	c->ind_tag = tag;
	c->ind_da = p->da[0];
	return MM_OK;
}

struct walk_arg {
	struct ck *c;
	uint64_t ino;
};

static int walk_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct walk_arg *w = arg;
	int rc = level ? ind_block(w->c, w->ino, level, index, p) : leaf(w->c, w->ino, index, p);

	if (rc)
		w->c->cb_failed = true;
	return rc;
}

static void tree_of(struct ck *c, struct fs_tree *t, const struct fs_bstore *bs)
{
	memset(t, 0, sizeof(*t));
	t->bs = bs;
	t->fsid = c->fsid;
	t->bsize = c->b;
	t->maxrep = c->maxrep;
}

/* Every block and indirect block of file <ino> (c->f[ino].in), in order,
 * through tree.c. */
static int walk(struct ck *c, uint64_t ino)
{
	struct walk_arg w = {c, ino};
	struct fs_tree t;
	int rc;

	tree_of(c, &t, &c->bs);
	c->cb_failed = false;
	c->ind_da = FS_DA_NONE;
	rc = fs_tree_iterate(&t, &c->f[ino].in, 0, UINT64_MAX, FS_TREE_ITER_META, walk_fn, &w);
	if (rc == 0 || c->cb_failed)
		return rc;
	/* tree.c refused what it got: the indirect block read last */
	if (c->ind_da != FS_DA_NONE)
		return fs_errf(c->err, c->errsz, rc < 0 ? rc : MM_EPROTO, "disk %u (%s) subblock %"
			    PRIu64 ": %s", fs_da_disk(c->ind_da), dname(c, fs_da_disk(c->ind_da)),
			    fs_da_sub(c->ind_da), t.err);
	return fs_errf(c->err, c->errsz, rc < 0 ? rc : MM_EPROTO, "%s", t.err);
}

/* ---- 3. a read-only store over the disks (files 0 .. 2) ---- */

static int ck_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct ck *c = arg;
	const struct rfile *f;
	size_t lo = 0, hi;
	uint8_t *b;
	int rc = MM_ENOENT;

	if (write)
		return MM_ENOTSUP;
	if (ino > 2)
		return MM_ENOENT;
	if (blk & FS_TAG_IND) {
		/* the walk read and verified it just before */
		if (c->ind_da == FS_DA_NONE || ino != c->ind_ino || blk != c->ind_tag)
			return MM_ENOENT;
		b = malloc(FS_MB);
		if (!b)
			return MM_ENOMEM;
		memcpy(b, c->ind, FS_MB);
		*data = b;
		return MM_OK;
	}
	f = &c->f[ino];
	if (blk >= (f->in.size + FS_MB - 1) / FS_MB)
		return MM_ENOENT;
	hi = f->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->idx[mid] < blk / c->mpb)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->n || f->idx[lo] != blk / c->mpb)
		return MM_ENOENT;
	b = malloc(FS_MB);
	if (!b)
		return MM_ENOMEM;
	for (unsigned k = 0; k < FS_MAX_REPLICAS && f->ptr[lo].da[k]; k++) {
		fs_da da = f->ptr[lo].da[k];

		rc = fs_mkfs_io_rc(c->io->read(c->io->arg, fs_da_disk(da),
				       fs_da_sub(da) * c->s + (blk % c->mpb) * FS_MB, b, FS_MB));
		if (rc == MM_OK)
			break;
	}
	if (rc == MM_OK && fs_mkfs_all_zero(b, FS_MB))
		rc = MM_ENOENT;
	if (rc) {
		free(b);
		return rc;
	}
	*data = b;
	return MM_OK;
}

static void ck_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)dirty;
	free(data);
}

static int ck_punch(void *arg, uint64_t ino, uint64_t blk)
{
	(void)arg;
	(void)ino;
	(void)blk;
	return MM_ENOTSUP;
}


/* ---- 4. the checks ---- */

static int cmp_used(const void *x, const void *y)
{
	const struct used *a = x, *b = y;

	return a->da < b->da ? -1 : a->da > b->da;
}

/* Inodes 0 .. 15 as mkfs makes them (and as a mount needs them). */
static int check_inodes(struct ck *c, unsigned flags)
{
	static const char *const what[] = {"the inode file", "the block map file",
					   "the inode map file", "the root directory",
					   "the log table"};

	for (uint64_t i = 0; i < FS_INODES_PER_MB; i++) {
		const struct fs_inode *in = &c->in[i];
		bool want_dir = i == 3;

		if (i >= 5) {
			if ((flags & FS_CHECK_FRESH) && !(in->flags & FS_IF_FREE))
				return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " is in use "
					    "in a new file system", i);
			continue;
		}
		if ((in->flags & FS_IF_FREE) || (want_dir ? !S_ISDIR(in->mode) : !S_ISREG(in->mode)))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " (%s) is %s",
				    i, what[i], in->flags & FS_IF_FREE ? "free" :
				    "not of its type");
		if (i != 3 && (in->flags & FS_IF_DATA_IN_INODE))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " (%s) has data "
				    "in the inode", i, what[i]);
		if (in->meta_rep > c->sgd->meta_rep_max)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " (%s) has %u "
				    "metadata replicas (-M %u)", i, what[i], in->meta_rep,
				    c->sgd->meta_rep_max);
		if ((flags & FS_CHECK_FRESH) && i != 3 &&
		    in->level != fs_tree_level_for(in->size, c->maxrep, c->b))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " (%s): level %u "
				    "for %" PRIu64 " bytes (want %u)", i, what[i], in->level,
				    in->size, fs_tree_level_for(in->size, c->maxrep, c->b));
	}
	if (c->in[3].uid || c->in[3].gid)
		return fs_errf(c->err, c->errsz, MM_EPROTO, "the root directory is not root's");
	return MM_OK;
}

/* The block map against the blocks of files 0 .. 2. */
static int check_maps(struct ck *c, struct fs_alloc *a, unsigned flags)
{
	struct fs_bstore bs = {ck_get, ck_put, ck_punch, c};
	uint32_t bpm = fs_alloc_bpm(a);
	char msg[512];
	int rc;

	qsort(c->u, c->nu, sizeof(*c->u), cmp_used);
	for (size_t i = 0; i < c->nu; i++) {
		const struct used *u = &c->u[i];
		uint32_t d = fs_da_disk(u->da), r;
		uint64_t rel, bit;
		struct fs_chunk ch;
		uint8_t *mb;

		if (i > 0 && fs_da_disk(c->u[i - 1].da) == d &&
		    fs_da_sub(c->u[i - 1].da) + c->u[i - 1].nsub > fs_da_sub(u->da))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "disk %u (%s) subblock %" PRIu64
				    " is used twice (inodes %" PRIu64 " and %" PRIu64 ")", d,
				    dname(c, d), fs_da_sub(u->da), c->u[i - 1].ino, u->ino);
		if (fs_bmap_region_of(a, u->da, &r) != MM_OK)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "disk %u (%s) subblock %" PRIu64
				    " of inode %" PRIu64 " lies in no region", d, dname(c, d),
				    fs_da_sub(u->da), u->ino);
		fs_bmap_chunk(a, d, r, &ch);
		rel = fs_da_sub(u->da) - ch.start;
		bit = rel % ((uint64_t)bpm * c->spb);
		rc = bs.get(c, FS_INO_BMAP, ch.map0 + rel / ((uint64_t)bpm * c->spb), false, &mb);
		if (rc)
			return fs_errf(c->err, c->errsz, rc, "block map disk %u region %u: %s", d, r,
				    mm_strerror(rc));
		for (uint32_t k = 0; k < u->nsub; k++) {
			uint64_t x = bit + k;

			if (!(mb[FS_MBH_BYTES + x / 8] >> (x % 8) & 1)) {
				bs.put(c, FS_INO_BMAP, 0, mb, false);
				return fs_errf(c->err, c->errsz, MM_EPROTO, "disk %u (%s) subblock %"
					    PRIu64 " of inode %" PRIu64 " is free in the block map",
					    d, dname(c, d), fs_da_sub(u->da) + k, u->ino);
			}
		}
		bs.put(c, FS_INO_BMAP, 0, mb, false);
		c->sum->disk[d].meta_sub += u->nsub;
	}
	for (uint32_t d = 0; d < c->sgd->ndisks; d++) {
		struct fs_check_disk *cd = &c->sum->disk[d];

		cd->has_desc = c->sgd->disk[d].has_desc;
		for (uint32_t r = 0; r < c->sgd->nregions; r++) {
			struct fs_bmap_count bc, hc;
			struct fs_chunk ch;

			fs_bmap_chunk(a, d, r, &ch);
			rc = fs_bmap_check(a, r, d, &bc, msg, sizeof(msg));
			if (rc == MM_OK)
				rc = fs_bmap_count(a, r, d, &hc, msg, sizeof(msg));
			if (rc)
				return fs_errf(c->err, c->errsz, rc, "%s", msg);
			cd->alloc_sub += ch.nsub;
			cd->free_sub += hc.free_sub;
			cd->free_full += hc.free_full;
		}
		if ((flags & FS_CHECK_FRESH) && cd->alloc_sub - cd->free_sub != cd->meta_sub)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "disk %u (%s): %" PRIu64 " of %"
				    PRIu64 " subblocks are in use in the block map, but files 0 .. "
				    "2 use %" PRIu64, d, dname(c, d), cd->alloc_sub - cd->free_sub,
				    cd->alloc_sub, cd->meta_sub);
	}
	/* the inode map */
	{
		uint64_t nfree, lim = c->sgd->inode_limit;
		uint64_t r0 = lim < FS_IMAP_REGION_INODES ? lim : FS_IMAP_REGION_INODES;
		bool inuse;

		rc = fs_imap_count(a, 0, &nfree, msg, sizeof(msg));
		for (uint64_t i = 0; i < 5 && rc == MM_OK; i++) {
			rc = fs_imap_test(a, i, &inuse, msg, sizeof(msg));
			if (rc == MM_OK && !inuse)
				return fs_errf(c->err, c->errsz, MM_EPROTO, "inode %" PRIu64 " is free "
					    "in the inode map", i);
		}
		if (rc)
			return fs_errf(c->err, c->errsz, rc, "%s", msg);
		if ((flags & FS_CHECK_FRESH) && nfree != r0 - FS_FIRST_USER_INO)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode map region 0 counts %"
				    PRIu64 " free inodes, a new file system %" PRIu64, nfree,
				    r0 - FS_FIRST_USER_INO);
		/* every region: a node allocates from its own (sg.c starts
		 * node n at region 7n mod their number), and a hole counts as
		 * never used */
		c->sum->inodes_free = nfree;
		for (uint32_t r = 1; rc == MM_OK && r < fs_imap_nregions(a); r++) {
			rc = fs_imap_count(a, r, &nfree, msg, sizeof(msg));
			c->sum->inodes_free += nfree;
		}
		if (rc)
			return fs_errf(c->err, c->errsz, rc, "%s", msg);
	}
	return MM_OK;
}

static int check_root(struct ck *c, unsigned flags)
{
	struct fs_bstore bs = {ck_get, ck_put, ck_punch, c};
	static const char missing[] = ".mmfs-open-check-no-such-name";
	const struct fs_inode *in = &c->in[3];
	uint8_t tail[FS_TAIL_BYTES];
	struct fs_dir d;
	int rc;

	/* only files 0 .. 2 are mapped: a root in blocks is tree.c's to read */
	if (!(in->flags & FS_IF_DATA_IN_INODE) && !(flags & FS_CHECK_FRESH))
		return MM_OK;
	memcpy(tail, in->tail, sizeof(tail));
	memset(&d, 0, sizeof(d));
	d.bs = &bs;
	d.fsid = c->fsid;
	d.ino = 3;
	d.depth = in->depth;
	d.in_inode = in->flags & FS_IF_DATA_IN_INODE;
	d.tail = tail;
	d.tail_len = in->tail_len;
	rc = fs_dir_lookup(&d, missing, sizeof(missing) - 1, NULL);
	if (rc != MM_ENOENT)
		return fs_errf(c->err, c->errsz, rc ? rc : MM_EPROTO, "root directory: a lookup of "
			    "a missing name gave %s: %s", mm_errname(rc), rc ? d.err : "found");
	if (flags & FS_CHECK_FRESH) {
		rc = fs_dir_is_empty(&d);
		if (rc != 1)
			return fs_errf(c->err, c->errsz, rc < 0 ? rc : MM_EPROTO, "root directory "
				    "of a new file system is not empty%s%s", rc < 0 ? ": " : "",
				    rc < 0 ? d.err : "");
	}
	return MM_OK;
}

static int open_check(struct ck *c, uint32_t ndisks, unsigned flags)
{
	struct fs_bstore bs = {ck_get, ck_put, ck_punch, c};
	struct fs_alloc *a = NULL;
	char msg[512];
	int rc;

	rc = choose_sgd(c, ndisks);
	if (rc)
		return rc;
	if (c->sgd->ndisks != ndisks)
		return fs_errf(c->err, c->errsz, MM_EPROTO, "file system %s: its descriptor names %u "
			    "disks, %u given", c->sgd->device, c->sgd->ndisks, ndisks);
	c->fsid = (uint32_t)c->sgd->fsid;
	c->b = c->sgd->block_size;
	c->s = c->sgd->subblock_size;
	c->spb = c->b / c->s;
	c->mpb = c->b / FS_MB;
	c->ind_sub = fs_mkfs_ind_subblocks(c->s);
	/* one pointer width for every file: max(-M, -R) */
	c->maxrep = c->sgd->meta_rep_max > c->sgd->data_rep_max ? c->sgd->meta_rep_max :
								  c->sgd->data_rep_max;
	c->bs = (struct fs_bstore){ck_get, ck_put, ck_punch, c};
	c->sum->generation = c->sgd->generation;
	c->sum->ndisks = ndisks;
	for (uint32_t d = 0; d < ndisks; d++)
		c->sum->ndesc += c->sgd->disk[d].has_desc;
	c->buf = malloc(c->b);
	c->buf0 = malloc(c->b);
	c->ind = malloc(FS_MB);
	c->ind_rep = malloc(FS_MB);
	if (!c->buf || !c->buf0 || !c->ind || !c->ind_rep)
		return fs_errf(c->err, c->errsz, MM_ENOMEM, "no memory");

	/* inode 0 from replica 0 of inode file block 0, then every file's tree */
	{
		fs_da da = c->sgd->ifile0.da[0];
		struct fs_ptr p0;
		struct fs_tree t;

		rc = cread(c, fs_da_disk(da), fs_da_sub(da) * c->s, c->buf0, FS_INODE_BYTES);
		if (rc)
			return rc;
		rc = fs_inode_decode(c->buf0, c->fsid, 0, &c->f[0].in, msg, sizeof(msg));
		if (rc)
			return fs_errf(c->err, c->errsz, rc, "disk %u (%s) subblock %" PRIu64 ": inode "
				    "0: %s", fs_da_disk(da), dname(c, fs_da_disk(da)), fs_da_sub(da),
				    msg);
		/* at level 0 the inode names block 0 itself; past it (an inode
		 * file of more blocks than the inode holds pointers: a few
		 * thousand inodes with 64 KiB blocks) through indirect blocks
		 * the walk reads, so the check follows the walk */
		tree_of(c, &t, &c->bs);
		if (c->f[0].in.level == 0 && (fs_tree_lookup(&t, &c->f[0].in, 0, &p0) != 1 ||
					      memcmp(&p0, &c->sgd->ifile0, sizeof(p0))))
			return fs_errf(c->err, c->errsz, MM_EPROTO, "inode 0: its block 0 is not the "
				    "one the descriptor names");
	}
	rc = walk(c, 0);
	if (rc)
		return rc;
	if (!c->f[0].n || c->f[0].idx[0] != 0 ||
	    memcmp(&c->f[0].ptr[0], &c->sgd->ifile0, sizeof(c->f[0].ptr[0])))
		return fs_errf(c->err, c->errsz, MM_EPROTO, "inode 0: its block 0 is not the one the "
			    "descriptor names");
	c->f[1].in = c->in[1];
	c->f[2].in = c->in[2];
	rc = check_inodes(c, flags);
	for (uint64_t ino = 1; ino <= 2 && rc == MM_OK; ino++)
		rc = walk(c, ino);
	if (rc)
		return rc;
	if (c->in[4].size || !fs_mkfs_all_zero(c->in[4].tail, FS_TAIL_BYTES)) {
		if (flags & FS_CHECK_FRESH)
			return fs_errf(c->err, c->errsz, MM_EPROTO, "the log table of a new file "
				    "system is not empty");
	}
	rc = fs_alloc_open(c->sgd, &bs, &a, msg, sizeof(msg));
	if (rc)
		return fs_errf(c->err, c->errsz, rc, "%s", msg);
	rc = check_maps(c, a, flags);
	fs_alloc_close(a);
	if (rc == MM_OK)
		rc = check_root(c, flags);
	return rc;
}

int fs_open_check(const struct fs_disk_io *io, uint32_t ndisks, unsigned flags,
		  struct fs_sgd *out, struct fs_check_summary *sum, char *err, size_t errsz)
{
	struct ck c = {.io = io, .err = err, .errsz = errsz};
	int rc;

	if (!io || !io->read)
		return fs_errf(err, errsz, MM_EINVAL, "no disk I/O");
	if (ndisks == 0 || ndisks > FS_MAX_DISKS)
		return fs_errf(err, errsz, MM_EINVAL, "%u disks (1 .. %u)", ndisks, FS_MAX_DISKS);
	c.sgd = malloc(sizeof(*c.sgd));
	c.sum = calloc(1, sizeof(*c.sum));
	c.in = calloc(FS_INODES_PER_MB, sizeof(*c.in));
	if (!c.sgd || !c.sum || !c.in)
		rc = fs_errf(err, errsz, MM_ENOMEM, "no memory");
	else
		rc = open_check(&c, ndisks, flags);
	if (rc == MM_OK && out)
		memcpy(out, c.sgd, sizeof(*c.sgd));
	if (rc == MM_OK && sum)
		memcpy(sum, c.sum, sizeof(*c.sum));
	for (int i = 0; i < 3; i++) {
		free(c.f[i].idx);
		free(c.f[i].ptr);
	}
	free(c.u);
	free(c.buf);
	free(c.buf0);
	free(c.ind);
	free(c.ind_rep);
	free(c.in);
	free(c.sum);
	free(c.sgd);
	return rc;
}

int fs_read_sgd(const struct fs_disk_io *io, uint32_t ndisks, struct fs_sgd *out,
		uint32_t *desc_ok, char *err, size_t errsz)
{
	struct ck c = {.io = io, .err = err, .errsz = errsz, .sgd = out};
	int rc;

	if (!io || !io->read)
		return fs_errf(err, errsz, MM_EINVAL, "no disk I/O");
	if (ndisks == 0 || ndisks > FS_MAX_DISKS)
		return fs_errf(err, errsz, MM_EINVAL, "%u disks (1 .. %u)", ndisks, FS_MAX_DISKS);
	c.sum = calloc(1, sizeof(*c.sum));
	if (!c.sum)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	rc = choose_sgd(&c, ndisks);
	if (rc == MM_OK && desc_ok)
		*desc_ok = c.sum->desc_ok;
	free(c.sum);
	return rc;
}
