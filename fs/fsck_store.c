/*
 * fs/fsck_store.c - a metadata block store over the disks of an unmounted
 * stripe group (contract in fs/fsck_int.h).
 */
#include "fs/fsck_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hash.h"
#include "fs/mkfs_int.h"
#include "fs/tree.h"

struct dblk {
	struct mm_hnode hn;
	uint64_t ino, blk;
	uint8_t *data;
	bool dirty;	/* to be written at flush */
	bool hole;	/* reads as a hole (zeros on disk if still mapped) */
	int held;
};

struct dkey {
	uint64_t ino, blk;
};

struct fs_ds {
	const struct fs_disk_io *io;
	const struct fs_sgd *sgd;
	uint32_t fsid, b, s, spb, mpb, ind_sub;
	unsigned maxrep;
	struct mm_htab t;
	struct fs_bstore bs;
	fs_ds_alloc_fn alloc;
	void *aarg;
	uint64_t ndirty;
	char err[256];
};

static uint64_t dhash(uint64_t ino, uint64_t blk)
{
	return mm_hash_u64(ino * 0x9e3779b97f4a7c15ull ^ blk);
}

static bool deq(const struct mm_hnode *n, const void *k)
{
	const struct dblk *b = (const struct dblk *)n;
	const struct dkey *key = k;

	return b->ino == key->ino && b->blk == key->blk;
}

static struct dblk *dfind(struct fs_ds *ds, uint64_t ino, uint64_t blk)
{
	struct dkey k = {ino, blk};

	return (struct dblk *)mm_htab_find(&ds->t, dhash(ino, blk), deq, &k);
}

static struct dblk *dadd(struct fs_ds *ds, uint64_t ino, uint64_t blk)
{
	struct dblk *b = calloc(1, sizeof(*b));

	if (!b || !(b->data = calloc(1, FS_MB))) {
		free(b);
		return NULL;
	}
	b->ino = ino;
	b->blk = blk;
	mm_htab_insert(&ds->t, &b->hn, dhash(ino, blk));
	return b;
}

static void set_dirty(struct fs_ds *ds, struct dblk *b)
{
	if (!b->dirty)
		ds->ndirty++;
	b->dirty = true;
}

const struct fs_bstore *fs_ds_bs(struct fs_ds *ds) { return &ds->bs; }
const char *fs_ds_err(const struct fs_ds *ds) { return ds->err; }
unsigned fs_ds_maxrep(const struct fs_ds *ds) { return ds->maxrep; }
uint32_t fs_ds_ind_sub(const struct fs_ds *ds) { return ds->ind_sub; }
uint32_t fs_ds_mpb(const struct fs_ds *ds) { return ds->mpb; }
uint64_t fs_ds_dirty(const struct fs_ds *ds) { return ds->ndirty; }

void fs_ds_set_alloc(struct fs_ds *ds, fs_ds_alloc_fn fn, void *arg)
{
	ds->alloc = fn;
	ds->aarg = arg;
}

void fs_ds_tree(struct fs_ds *ds, struct fs_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->bs = &ds->bs;
	t->fsid = ds->fsid;
	t->bsize = ds->b;
	t->maxrep = ds->maxrep;
}

/* Is <b> a plausible copy of (ino, blk)? Inode file blocks: every record
 * verifies; other blocks: their header and CRC. */
static bool verifies(struct fs_ds *ds, uint64_t ino, uint64_t blk, const uint8_t *b)
{
	if (ino == 0 && !(blk & FS_TAG_IND)) {
		for (uint32_t r = 0; r < FS_INODES_PER_MB; r++)
			if (fs_mb_verify(b + r * FS_INODE_BYTES, FS_INODE_BYTES, FS_BT_INODE, ds->fsid,
					 blk * FS_INODES_PER_MB + r, 0, NULL, NULL, 0) != MM_OK)
				return false;
		return true;
	}
	return fs_mb_verify(b, FS_MB, 0, ds->fsid, ino, blk, NULL, NULL, 0) == MM_OK;
}

static int ds_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data);
static void ds_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty);

int fs_ds_inode(struct fs_ds *ds, uint64_t ino, struct fs_inode *in, uint8_t *raw)
{
	uint8_t *b;
	char msg[192];
	int rc = ds_get(ds, 0, ino / FS_INODES_PER_MB, false, &b);

	if (rc) {
		if (rc != MM_ENOENT)
			snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 ": inode file block %"
				 PRIu64 ": %s", ino, ino / FS_INODES_PER_MB, mm_strerror(rc));
		return rc;
	}
	if (raw)
		memcpy(raw, b + ino % FS_INODES_PER_MB * FS_INODE_BYTES, FS_INODE_BYTES);
	/* a record of zeros was never used (the runtime grows the inode
	 * file by whole zeroed blocks): free, like a hole */
	if (fs_mkfs_all_zero(b + ino % FS_INODES_PER_MB * FS_INODE_BYTES, FS_INODE_BYTES)) {
		ds_put(ds, 0, ino / FS_INODES_PER_MB, b, false);
		return MM_ENOENT;
	}
	rc = fs_inode_decode(b + ino % FS_INODES_PER_MB * FS_INODE_BYTES, ds->fsid, ino, in, msg,
			     sizeof(msg));
	ds_put(ds, 0, ino / FS_INODES_PER_MB, b, false);
	if (rc)
		snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 ": %s", ino, msg);
	return rc;
}

int fs_ds_put_raw_inode(struct fs_ds *ds, uint64_t ino, const uint8_t *rec)
{
	uint8_t *b;
	int rc = ds_get(ds, 0, ino / FS_INODES_PER_MB, true, &b);

	if (rc)
		return rc;
	memcpy(b + ino % FS_INODES_PER_MB * FS_INODE_BYTES, rec, FS_INODE_BYTES);
	ds_put(ds, 0, ino / FS_INODES_PER_MB, b, true);
	return MM_OK;
}

int fs_ds_put_inode(struct fs_ds *ds, const struct fs_inode *in)
{
	uint8_t *rec = malloc(FS_INODE_BYTES);
	int rc;

	if (!rec)
		return MM_ENOMEM;
	fs_inode_encode(in, ds->fsid, rec);
	rc = fs_ds_put_raw_inode(ds, in->ino, rec);
	free(rec);
	return rc;
}

int fs_ds_where(struct fs_ds *ds, uint64_t ino, uint64_t blk, struct fs_ptr *p, uint32_t *off)
{
	struct fs_inode *in;
	struct fs_tree t;
	int rc;

	memset(p, 0, sizeof(*p));
	*off = 0;
	if (ino == 0 && !(blk & FS_TAG_IND) && blk < ds->mpb) {
		*p = ds->sgd->ifile0;
		*off = (uint32_t)(blk * FS_MB);
		return 1;
	}
	in = malloc(sizeof(*in));
	if (!in)
		return MM_ENOMEM;
	rc = fs_ds_inode(ds, ino, in, NULL);
	if (rc == MM_OK && fs_tag_is_xattr(blk)) {
		rc = (in->flags & FS_IF_XATTR_OVERFLOW) && blk - FS_TAG_XATTR < in->xattr_units;
		if (rc) {
			*p = in->xattr_ovf;
			*off = (uint32_t)(blk - FS_TAG_XATTR) * FS_MB;
		}
		free(in);
		return rc;
	}
	if (rc == MM_ENOENT || (rc == MM_OK && (in->flags & (FS_IF_FREE | FS_IF_DATA_IN_INODE)))) {
		free(in);
		return 0;
	}
	if (rc) {
		free(in);
		return rc;
	}
	fs_ds_tree(ds, &t);
	if (blk & FS_TAG_IND) {
		rc = fs_tree_lookup_at(&t, in, fs_tree_tag_level(blk), fs_tree_tag_index(blk), p);
	} else {
		rc = fs_tree_lookup(&t, in, blk / ds->mpb, p);
		*off = (uint32_t)(blk % ds->mpb * FS_MB);
	}
	if (rc < 0)
		snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 ": %s", ino, t.err);
	free(in);
	return rc;
}

/* Read (ino, blk) at <p> + <off> into <b>: the first replica that
 * verifies, else the first readable one. */
static int read_blk(struct fs_ds *ds, uint64_t ino, uint64_t blk, const struct fs_ptr *p,
		    uint32_t off, uint8_t *b)
{
	int first = -1, rc = MM_EIO;
	uint8_t *tmp = malloc(FS_MB);

	if (!tmp)
		return MM_ENOMEM;
	for (unsigned k = 0; k < FS_MAX_REPLICAS; k++) {
		fs_da da = p->da[k];

		if (!da)
			continue;
		if (fs_da_disk(da) >= ds->sgd->ndisks ||
		    (fs_da_sub(da) * ds->s + off + FS_MB) / ds->s > ds->sgd->disk[fs_da_disk(da)].subblocks)
			continue;
		rc = fs_mkfs_io_rc(ds->io->read(ds->io->arg, fs_da_disk(da),
						fs_da_sub(da) * ds->s + off, tmp, FS_MB));
		if (rc)
			continue;
		if (verifies(ds, ino, blk, tmp)) {
			memcpy(b, tmp, FS_MB);
			free(tmp);
			return MM_OK;
		}
		if (first < 0) {
			first = (int)k;
			memcpy(b, tmp, FS_MB);
		}
	}
	free(tmp);
	if (first >= 0)
		return MM_OK;
	snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 " block %#" PRIx64 ": no replica "
		 "readable (%s)", ino, blk, mm_strerror(rc));
	return rc ? rc : MM_EIO;
}

/* tree.c's alloc_meta while the store grows a tree: the caller's
 * allocator, counting what it gave. */
struct ds_cb {
	struct fs_ds *ds;
	unsigned nrep;
	uint64_t n;
};

static int alloc_ind_cb(void *arg, uint64_t ino, uint64_t tag, struct fs_ptr *p)
{
	struct ds_cb *c = arg;
	int rc;

	(void)tag;
	rc = c->ds->alloc(c->ds->aarg, ino, true, c->nrep, p);
	c->n += rc == MM_OK;
	return rc;
}

/* Setting a pointer frees nothing. */
static int no_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	(void)is_meta;
	return MM_EPROTO;
}

/* A hole of a metadata file gets a full block (the other metadata blocks
 * in it become holes too, written as zeros). */
static int alloc_tree_block(struct fs_ds *ds, uint64_t ino, uint64_t blk)
{
	struct fs_inode *in = malloc(sizeof(*in));
	struct fs_ptr p;
	struct fs_tree t;
	uint64_t tb = blk / ds->mpb;
	struct ds_cb c = {ds, 0, 0};
	int rc;

	if (!in)
		return MM_ENOMEM;
	rc = fs_ds_inode(ds, ino, in, NULL);
	if (rc == MM_OK && (in->flags & (FS_IF_FREE | FS_IF_DATA_IN_INODE)))
		rc = MM_ESTATE;
	if (rc == MM_OK)
		rc = ds->alloc(ds->aarg, ino, false, in->meta_rep, &p);
	if (rc) {
		snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 ": no block for metadata block %"
			 PRIu64 ": %s", ino, blk, mm_strerror(rc));
		free(in);
		return rc;
	}
	fs_ds_tree(ds, &t);
	c.nrep = in->meta_rep;
	t.alloc_meta = alloc_ind_cb;
	t.free_blk = no_free;
	t.arg = &c;
	rc = fs_tree_set(&t, in, tb, &p, NULL);
	if (rc < 0) {
		snprintf(ds->err, sizeof(ds->err), "inode %" PRIu64 ": %s", ino, t.err);
		free(in);
		return rc;
	}
	in->subblocks += (c.n * ds->ind_sub + ds->spb) * in->meta_rep;
	if ((blk + 1) * FS_MB > in->size)
		in->size = (blk + 1) * FS_MB;
	rc = fs_ds_put_inode(ds, in);
	free(in);
	if (rc)
		return rc;
	for (uint32_t s = 0; s < ds->mpb; s++) {
		uint64_t mb = tb * ds->mpb + s;
		struct dblk *b = dfind(ds, ino, mb);

		if (!b && !(b = dadd(ds, ino, mb)))
			return MM_ENOMEM;
		memset(b->data, 0, FS_MB);
		b->hole = true;
		set_dirty(ds, b);
	}
	return MM_OK;
}

static int ds_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct fs_ds *ds = arg;
	struct dblk *b = dfind(ds, ino, blk);
	struct fs_ptr p;
	uint32_t off;
	int rc;

	if (b && b->hole && write && !(blk & FS_TAG_IND)) {
		/* punched (or never written): is it still mapped? */
		rc = fs_ds_where(ds, ino, blk, &p, &off);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (!ds->alloc)
				return MM_ENOTSUP;
			rc = alloc_tree_block(ds, ino, blk);
			if (rc)
				return rc;
		}
		b = dfind(ds, ino, blk);
	}
	if (!b) {
		rc = fs_ds_where(ds, ino, blk, &p, &off);
		if (rc < 0)
			return rc;
		b = dfind(ds, ino, blk);	/* the lookup may have read it */
	}
	if (!b) {
		if (rc == 0 && !write)
			return MM_ENOENT;
		if (rc == 0 && !(blk & FS_TAG_IND)) {
			if (!ds->alloc)
				return MM_ENOTSUP;
			rc = alloc_tree_block(ds, ino, blk);
			if (rc)
				return rc;
			b = dfind(ds, ino, blk);
		} else {
			/* an indirect block tree.c allocated, or a block on disk */
			b = dadd(ds, ino, blk);
			if (!b)
				return MM_ENOMEM;
			if (rc == 1) {
				rc = read_blk(ds, ino, blk, &p, off, b->data);
				if (rc) {
					mm_htab_remove(&ds->t, &b->hn);
					free(b->data);
					free(b);
					return rc;
				}
				b->hole = fs_mkfs_all_zero(b->data, FS_MB);
			} else {
				set_dirty(ds, b);
			}
		}
	}
	if (b->hole) {
		if (!write)
			return MM_ENOENT;
		b->hole = false;
		memset(b->data, 0, FS_MB);
	}
	b->held++;
	*data = b->data;
	return MM_OK;
}

static void ds_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct fs_ds *ds = arg;
	struct dblk *b = dfind(ds, ino, blk);

	(void)data;
	if (!b)
		return;
	b->held--;
	if (dirty)
		set_dirty(ds, b);
}

static int ds_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct fs_ds *ds = arg;
	struct dblk *b = dfind(ds, ino, blk);

	if (!b && !(b = dadd(ds, ino, blk)))
		return MM_ENOMEM;
	memset(b->data, 0, FS_MB);
	b->hole = true;
	set_dirty(ds, b);
	return MM_OK;
}

void fs_ds_rewrite(struct fs_ds *ds, uint64_t ino, uint64_t blk)
{
	struct dblk *b = dfind(ds, ino, blk);

	if (b)
		set_dirty(ds, b);
}

struct collect {
	struct dblk **v;
	size_t n;
};

static void collect_one(struct mm_hnode *n, void *arg)
{
	struct collect *c = arg;
	struct dblk *b = (struct dblk *)n;

	if (b->dirty)
		c->v[c->n++] = b;
}

int fs_ds_flush(struct fs_ds *ds)
{
	struct collect c = {calloc(ds->ndirty + 1, sizeof(*c.v)), 0};
	int rc = MM_OK;

	if (!c.v)
		return MM_ENOMEM;
	mm_htab_each(&ds->t, collect_one, &c);
	for (size_t i = 0; i < c.n && rc == MM_OK; i++) {
		struct dblk *b = c.v[i];
		struct fs_ptr p;
		uint32_t off;

		rc = fs_ds_where(ds, b->ino, b->blk, &p, &off);
		if (rc <= 0)
			continue;	/* freed since, or an error (below) */
		rc = MM_OK;
		for (unsigned k = 0; k < FS_MAX_REPLICAS && rc == MM_OK; k++) {
			fs_da da = p.da[k];

			if (!da || fs_da_disk(da) >= ds->sgd->ndisks)
				continue;
			rc = fs_mkfs_io_rc(ds->io->write(ds->io->arg, fs_da_disk(da),
							 fs_da_sub(da) * ds->s + off, b->data, FS_MB));
			if (rc)
				snprintf(ds->err, sizeof(ds->err), "disk %u (%s) subblock %" PRIu64
					 ": write of inode %" PRIu64 " block %#" PRIx64 " failed: %s",
					 fs_da_disk(da), ds->sgd->disk[fs_da_disk(da)].name,
					 fs_da_sub(da), b->ino, b->blk, mm_strerror(rc));
		}
	}
	if (rc == MM_OK) {
		for (size_t i = 0; i < c.n; i++)
			c.v[i]->dirty = false;
		ds->ndirty = 0;
	}
	free(c.v);
	return rc;
}

static void free_one(struct mm_hnode *n, void *arg)
{
	struct dblk *b = (struct dblk *)n;

	mm_htab_remove(arg, n);
	free(b->data);
	free(b);
}

void fs_ds_discard(struct fs_ds *ds)
{
	mm_htab_each(&ds->t, free_one, &ds->t);
	ds->ndirty = 0;
}

int fs_ds_open(const struct fs_disk_io *io, const struct fs_sgd *sgd, struct fs_ds **out)
{
	struct fs_ds *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return MM_ENOMEM;
	if (mm_htab_init(&ds->t, 1024) != MM_OK) {
		free(ds);
		return MM_ENOMEM;
	}
	ds->io = io;
	ds->sgd = sgd;
	ds->fsid = (uint32_t)sgd->fsid;
	ds->b = sgd->block_size;
	ds->s = sgd->subblock_size;
	ds->spb = ds->b / ds->s;
	ds->mpb = ds->b / FS_MB;
	ds->ind_sub = fs_mkfs_ind_subblocks(ds->s);
	ds->maxrep = sgd->meta_rep_max > sgd->data_rep_max ? sgd->meta_rep_max : sgd->data_rep_max;
	ds->bs = (struct fs_bstore){ds_get, ds_put, ds_punch, ds};
	*out = ds;
	return MM_OK;
}

void fs_ds_close(struct fs_ds *ds)
{
	if (!ds)
		return;
	fs_ds_discard(ds);
	mm_htab_free(&ds->t);
	free(ds);
}
