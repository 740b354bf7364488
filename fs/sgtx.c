/*
 * fs/sgtx.c - transactions of a mounted stripe group: the block store
 * dir.c, tree.c and alloc.c change metadata through, block and inode
 * allocation, and commit into this node's log (frees: sgfree.c).
 *
 * A transaction holds every metadata buffer it changes exclusively from
 * its first write get to its commit, so write-behind never writes a
 * change before its log record is durable (the pagepool's write-ahead
 * rule takes the commit LSN given to pp_mark_dirty). What changed is
 * found by comparing each buffer with a copy taken at its first write
 * get: the pure modules need not report their changes, and only the
 * bytes that differ are logged. Abort puts the copies back.
 *
 * Map of this file:
 *   1. the buffers: get, put, punch, diff
 *   2. (the read-only store and the views for dir.c / tree.c: sgro.c)
 *   3. allocation: blocks, metadata blocks, inodes; growing a metadata file
 *   4. begin, commit, abort
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

#define SUB "fs"

/* ---- 1. the buffers ---- */

struct sg_txbuf *sg_tx_find(struct sg_tx *tx, uint64_t ino, uint64_t blk)
{
	for (int i = 0; i < tx->nbuf; i++)
		if (tx->buf[i].ino == ino && tx->buf[i].blk == blk)
			return &tx->buf[i];
	return NULL;
}

static int tx_grow(struct sg_tx *tx, uint64_t ino, uint64_t blk);

/* Pin block (ino, blk) of the metadata registration exclusively for
 * <tx>, copying it first so commit can log what changed. A hole that is
 * written makes its file grow (tx_grow). */
enum tb_how { TB_COPY, TB_LAZY, TB_RANGED };

static int tx_get_buf2(struct sg_tx *tx, uint64_t ino, uint64_t blk, bool write, enum tb_how how,
		       struct sg_txbuf **out);

static int tx_get_buf(struct sg_tx *tx, uint64_t ino, uint64_t blk, bool write,
		      struct sg_txbuf **out)
{
	return tx_get_buf2(tx, ino, blk, write, TB_COPY, out);
}

/* Save record <k> of lazy inode-file block <tb> before it changes. */
static void tb_save(struct sg_txbuf *tb, unsigned k)
{
	if (!tb->lazy || (tb->saved >> k & 1))
		return;
	memcpy(tb->orig + (size_t)k * FS_INODE_BYTES, tb->data + (size_t)k * FS_INODE_BYTES,
	       FS_INODE_BYTES);
	tb->saved |= (uint16_t)(1u << k);
}

/* Someone else than commit writes <tb>: every record saved. */
static void tb_unlazy(struct sg_txbuf *tb)
{
	for (unsigned k = 0; tb->lazy && k < FS_INODES_PER_MB; k++)
		tb_save(tb, k);
	tb->lazy = false;
}

/* Ranged <tb>: bytes [off, off + len) are about to change: save the
 * chunks that hold them, those not saved yet. */
static void tb_save_range(struct sg_txbuf *tb, uint32_t off, uint32_t len)
{
	uint32_t c0, c1;

	if (!tb->ranged || !len)
		return;
	if (off >= FS_MB)
		return;
	if (len > FS_MB - off)
		len = FS_MB - off;
	c0 = off / SG_TX_CHUNK;
	c1 = (off + len - 1) / SG_TX_CHUNK;
	for (uint32_t c = c0; c <= c1; c++)
		if (!(tb->csaved >> c & 1)) {
#ifdef MM_DEBUG
			/* named before it changes, not after */
			MM_ASSERT(!tb->shadow || !memcmp(tb->shadow + (size_t)c * SG_TX_CHUNK,
							 tb->data + (size_t)c * SG_TX_CHUNK,
							 SG_TX_CHUNK));
#endif
			memcpy(tb->orig + (size_t)c * SG_TX_CHUNK, tb->data + (size_t)c * SG_TX_CHUNK,
			       SG_TX_CHUNK);
			tb->csaved |= 1ull << c;
		}
}

/* A user that does not name its changes writes ranged <tb>: all saved. */
static void tb_unrange(struct sg_txbuf *tb)
{
	if (!tb->ranged)
		return;
	tb_save_range(tb, 0, FS_MB);
	tb->ranged = false;
#ifdef MM_DEBUG
	free(tb->shadow);
	tb->shadow = NULL;
#endif
}

/*
 * Where metadata block <blk> of <ino> is, as this transaction sees it.
 * sg_map_meta reads the file's indirect blocks from the pool, shared;
 * one this transaction holds for writing (it grew the file) would wait
 * for itself, so then the walk goes through the transaction's own
 * buffers.
 */
static int tx_map_meta(struct sg_tx *tx, uint64_t ino, uint64_t blk, struct pp_map *m)
{
	fs_sg *sg = tx->sg;
	struct fs_inode *in = NULL;
	struct fs_ptr p;
	struct fs_tree *t;
	bool mine = false;
	int rc;

	for (int i = 0; i < tx->nbuf && !mine; i++)
		mine = tx->buf[i].ino == ino && tx->buf[i].write && (tx->buf[i].blk & FS_TAG_IND) &&
		       !fs_tag_is_xattr(tx->buf[i].blk);
	if (!mine)
		return sg_map_meta(sg, ino, blk, m);
	if (sg_ac_get(sg, sg->mfsid, ino, blk, m))
		return MM_OK;
	for (int i = 0; i < tx->nino && !in; i++)
		if (tx->ino[i].ip->ino == ino)
			in = tx->ino[i].in;
	if (!in)
		return sg_map_meta(sg, ino, blk, m);
	t = sg_tx_tree(tx, ino);
	rc = fs_tree_lookup(t, in, blk / sg->mbper, &p);
	if (rc < 0) {
		sg_logf(sg, rc, "%s", t->err);
		return rc;
	}
	if (rc == 0)
		return MM_ENOENT;
	sg_ptr_to_map(sg, &p, (uint32_t)(blk % sg->mbper) * FS_MB, 0, m);
	sg_tx_ac_put(tx, sg->mfsid, ino, blk, m);
	return MM_OK;
}

/* tx_get_buf; <how>: TB_LAZY, an inode-file block of records commit
 * encodes (struct sg_txbuf, lazy); TB_RANGED, a block whose user names
 * every change first (ranged). Either only when the buffer is new to the
 * transaction and not fresh. */
static int tx_get_buf2(struct sg_tx *tx, uint64_t ino, uint64_t blk, bool write, enum tb_how how,
		       struct sg_txbuf **out)
{
	fs_sg *sg = tx->sg;
	struct sg_txbuf *tb = sg_tx_find(tx, ino, blk);
	struct pp_map m;
	bool fresh = false;
	int rc;

	if (tb) {
		*out = tb;
		return MM_OK;
	}
	if (tx->nbuf == tx->cap) {
		int cap = tx->cap ? tx->cap * 2 : 16;
		struct sg_txbuf *nb;

		if (cap > SG_TX_HARDBUF)
			return MM_ETOOBIG;
		nb = realloc(tx->buf, (size_t)cap * sizeof(*nb));
		if (!nb)
			return MM_ENOMEM;
		tx->buf = nb;
		tx->cap = cap;
	}
	if (write && !(blk & FS_TAG_IND)) {
		rc = tx_map_meta(tx, ino, blk, &m);
		if (rc == MM_ENOENT) {
			rc = tx_grow(tx, ino, blk);
			if (rc)
				return rc;
			tb = sg_tx_find(tx, ino, blk);
			if (tb) {
				*out = tb;
				return MM_OK;
			}
		} else if (rc) {
			return rc;
		}
	}
	/* an indirect block this transaction just allocated: nothing to
	 * read (tree.c writes all of it), and its allocation is logged, so
	 * replay starts it from zeros and only what differs is logged */
	for (int i = 0; write && (blk & FS_TAG_IND) && i < tx->nfresh; i++)
		if (tx->fresh_ino[i] == ino && tx->fresh_tag[i] == blk)
			fresh = true;
	tb = &tx->buf[tx->nbuf];
	memset(tb, 0, sizeof(*tb));
	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, ino, blk}, 0, FS_MB,
		    fresh ? PP_OVERWRITE : write ? PP_MODIFY : PP_READ, &tb->b, (void **)&tb->data);
	if (rc)
		return rc;
	tb->ino = ino;
	tb->blk = blk;
	tb->write = write;
	tb->fresh = fresh;
	if (write) {
		tb->orig = sg_mb_get(sg);
		if (!tb->orig) {
			pp_release(tb->b);
			return MM_ENOMEM;
		}
		if (fresh) {
			memset(tb->data, 0, FS_MB);
			memset(tb->orig, 0, FS_MB);
		} else if (how == TB_LAZY && ino == 0 && !(blk & FS_TAG_IND)) {
			tb->lazy = true;
		} else if (how == TB_RANGED) {
			tb->ranged = true;
#ifdef MM_DEBUG
			tb->shadow = malloc(FS_MB);
			if (tb->shadow)
				memcpy(tb->shadow, tb->data, FS_MB);
#endif
		} else {
			memcpy(tb->orig, tb->data, FS_MB);
		}
	}
	tx->nbuf++;
	*out = tb;
	return MM_OK;
}

static int bs_get(struct sg_tx *tx, uint64_t ino, uint64_t blk, bool write, bool ranged,
		  uint8_t **data)
{
	struct sg_txbuf *tb;
	int rc;

	rc = tx_get_buf2(tx, ino, blk, write, ranged ? TB_RANGED : TB_COPY, &tb);
	if (rc)
		return rc;
	if (write && tb->lazy)
		tb_unlazy(tb);
	if (write && !ranged)
		tb_unrange(tb);
	if (write && !tb->write) {
		/* read first, now changed: take it exclusively (the shared
		 * hold is this transaction's own, so nothing moved) */
		int i = (int)(tb - tx->buf);

		pp_release(tb->b);
		tx->buf[i] = tx->buf[--tx->nbuf];
		return bs_get(tx, ino, blk, true, ranged, data);
	}
	if (!write && !tb->fresh && fs_mkfs_all_zero(tb->data, FS_MBH_BYTES) &&
	    fs_mkfs_all_zero(tb->data, FS_MB))
		return MM_ENOENT;
	tb->refs++;
	*data = tb->data;
	return MM_OK;
}

int sg_tx_bs_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	return bs_get(arg, ino, blk, write, false, data);
}

/* tx->dbs: blocks got for writing are not copied; their user names each
 * change first (sg_tx_bs_changing). */
int sg_tx_bs_get_ranged(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	return bs_get(arg, ino, blk, write, true, data);
}

void sg_tx_bs_changing(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len)
{
	struct sg_txbuf *tb = sg_tx_find(arg, ino, blk);

	MM_ASSERT(tb && tb->write);
	if (tb)
		tb_save_range(tb, off, len);
}

void sg_tx_bs_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct sg_tx *tx = arg;
	struct sg_txbuf *tb = sg_tx_find(tx, ino, blk);

	(void)data;
	if (!tb)
		return;
	if (tb->refs)
		tb->refs--;
	if (dirty)
		tb->dirty = true;
	/* read-only buffers nobody uses any more go at once: they keep
	 * nothing the commit needs */
	if (!tb->write && !tb->refs) {
		int i = (int)(tb - tx->buf);

		pp_release(tb->b);
		tx->buf[i] = tx->buf[--tx->nbuf];
	}
}

int sg_tx_bs_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct sg_tx *tx = arg;
	struct sg_txbuf *tb;
	int rc;

	if (blk & FS_TAG_IND) {
		/* tree.c freed it (free_blk follows): drop the buffer after
		 * commit, before its space is freed */
		tb = sg_tx_find(tx, ino, blk);
		if (tb) {
			tb->punched = true;
			tb->dirty = false;
		}
		return MM_OK;
	}
	rc = tx_get_buf(tx, ino, blk, true, &tb);
	if (rc)
		return rc;
	tb_unrange(tb);
	memset(tb->data, 0, FS_MB);
	tb->dirty = true;
	return MM_OK;
}

int sg_tx_log(struct sg_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len)
{
	struct sg_txbuf *tb = sg_tx_find(tx, ino, blk);

	(void)off;
	(void)len;
	if (!tb || !tb->write)
		return MM_EINVAL;
	tb->dirty = true;
	return MM_OK;
}

/* ---- 3. allocation ---- */

int sg_tx_lock_alloc(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;
	int rc = MM_OK;

	if (tx->alloc_locked)
		return MM_OK;
	pthread_mutex_lock(&sg->alloc_mu);
	tx->alloc_locked = true;
	if (!sg->breg_held)
		rc = sg_region_alloc(sg, false);
	return rc;
}

/* Full blocks of each (disk, region) chunk that data does not take: a
 * 32nd, at least 2 (mkfs makes chunks of 32 blocks or more), so a file
 * system full of data still grows directories and takes a new disk's
 * maps (mmadddisk after ENOSPC). */
#define SG_META_RESERVE_DIV 32u
#define SG_META_RESERVE_MIN 2u

uint64_t sg_data_keep(fs_sg *sg, const struct fs_chunk *ch)
{
	uint64_t keep = ch->nsub / fs_alloc_spb(sg->alloc) / SG_META_RESERVE_DIV;

	return keep < SG_META_RESERVE_MIN ? SG_META_RESERVE_MIN : keep;
}

static bool data_reserved(fs_sg *sg, uint32_t r, uint32_t d)
{
	struct fs_bmap_count c;
	struct fs_chunk ch;

	if (fs_bmap_chunk(sg->alloc, d, r, &ch) || fs_bmap_count(sg->alloc, r, d, &c, NULL, 0))
		return false;
	return c.free_full <= sg_data_keep(sg, &ch);
}

/*
 * <nrep> replicas of <nsub> subblocks (a full block when nsub is the
 * block's subblocks) for block <n> of file <ino>, of <kind>, in this
 * node's region; a full region moves to the next.
 */
static int alloc_space_once(struct sg_tx *tx, uint64_t ino, uint64_t n, unsigned nrep,
			    enum fs_kind kind, uint32_t nsub, struct fs_ptr *p)
{
	fs_sg *sg = tx->sg;
	struct fs_place *pl;
	uint32_t spb = fs_alloc_spb(sg->alloc), disks[FS_MAX_REPLICAS];
	bool *full;
	int rc, tries = 0;

	rc = sg_tx_lock_alloc(tx);
	if (rc)
		return rc;
	sg_q_refresh(sg);
	pl = malloc(sizeof(*pl));
	full = calloc(FS_MAX_DISKS, sizeof(*full));
	if (!pl || !full) {
		free(pl);
		free(full);
		return MM_ENOMEM;
	}
	rc = fs_place_init(pl, &sg->sgd, NULL, kind, ino);
	while (!rc) {
		int r;

		memset(p, 0, sizeof(*p));
		rc = fs_place_block(pl, n, nrep, full, disks);
		if (rc == MM_ERANGE) {
			/* every disk full in this region: the next one */
			if (++tries > (int)sg->sgd.nregions)
				break;
			rc = sg_region_alloc(sg, false);
			memset(full, 0, FS_MAX_DISKS * sizeof(*full));
			continue;
		}
		if (rc)
			break;
		for (r = 0; r < (int)nrep; r++) {
			/* data leaves each chunk a reserve for metadata (a
			 * directory that grows, the maps of a disk being added),
			 * so a file system full of data still works */
			if (kind == FS_KIND_DATA && data_reserved(sg, sg->breg, disks[r])) {
				rc = MM_ERANGE;
				break;
			}
			rc = nsub == spb ? fs_bmap_alloc_block(sg->alloc, sg->breg, disks[r],
							       &p->da[r], tx->msg, sizeof(tx->msg))
					 : fs_bmap_alloc_frag(sg->alloc, sg->breg, disks[r], nsub,
							      &p->da[r], tx->msg, sizeof(tx->msg));
			if (rc)
				break;
		}
		if (rc == MM_ERANGE) {
			/* give back what this round took, mark the disk full */
			for (int k = 0; k < r; k++)
				fs_bmap_free(sg->alloc, p->da[k], nsub, NULL, 0);
			full[disks[r]] = true;
			rc = MM_OK;
			continue;
		}
		break;
	}
	free(pl);
	free(full);
	if (!rc)
		atomic_fetch_add(&sg->st_balloc, 1);
	return rc;
}

static int alloc_space(struct sg_tx *tx, uint64_t ino, uint64_t n, unsigned nrep,
		       enum fs_kind kind, uint32_t nsub, struct fs_ptr *p)
{
	int rc = alloc_space_once(tx, ino, n, nrep, kind, nsub, p);

	/* no space: some may be freed but not yet durable; make it so */
	if (rc == MM_ERANGE && sg_q_force(tx->sg)) {
		if (!tx->sg->breg_held)
			rc = sg_region_alloc(tx->sg, false);
		if (rc == MM_ERANGE || !rc)
			rc = alloc_space_once(tx, ino, n, nrep, kind, nsub, p);
	}
	return rc;
}

int sg_tx_alloc_data_n(struct sg_tx *tx, const struct fs_inode *in, uint64_t n, uint32_t nsub,
		       struct fs_ptr *p)
{
	fs_sg *sg = tx->sg;
	uint32_t spb = fs_alloc_spb(sg->alloc);
	int rc = alloc_space(tx, in->ino, n, in->data_rep ? in->data_rep : 1, FS_KIND_DATA, nsub, p);
	struct pp_map m;

	if (!rc) {
		sg_ptr_to_map(sg, p, 0, nsub < spb ? nsub * sg->S : 0, &m);
		sg_tx_ac_put(tx, sg->fsid, in->ino, n, &m);
	}
	return rc;
}

int sg_tx_alloc_meta_block(struct sg_tx *tx, uint64_t ino, uint64_t n, unsigned nrep,
			   struct fs_ptr *p)
{
	return alloc_space(tx, ino, n, nrep, FS_KIND_META, fs_alloc_spb(tx->sg->alloc), p);
}

int sg_tx_alloc_data(struct sg_tx *tx, const struct fs_inode *in, uint64_t n, struct fs_ptr *p)
{
	return sg_tx_alloc_data_n(tx, in, n, fs_alloc_spb(tx->sg->alloc), p);
}

uint32_t sg_nsub(const fs_sg *sg, uint64_t n, uint64_t size)
{
	uint64_t start = n * sg->B;

	if (start >= size)
		return 0;
	if (size - start >= sg->B)
		return sg->B / sg->S;
	return (uint32_t)((size - start + sg->S - 1) / sg->S);
}

/* Indirect blocks count in their inode's subblocks (tree.c changes the
 * tree, not the count): kept per inode, added at commit. */
static void sub_delta(struct sg_tx *tx, uint64_t ino, int64_t d)
{
	int i;

	for (i = 0; i < tx->nsd; i++)
		if (tx->sd[i].ino == ino)
			break;
	if (i == tx->nsd) {
		if (tx->nsd == SG_TX_MAXINO)
			return;
		tx->sd[tx->nsd].ino = ino;
		tx->sd[tx->nsd++].delta = 0;
	}
	tx->sd[i].delta += d;
}

/* tree.c: space for a new indirect block (a metadata fragment). */
static int tx_alloc_meta(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	struct sg_tx *tx = arg;
	fs_sg *sg = tx->sg;
	struct pp_map m;
	int rc;

	rc = alloc_space(tx, ino, fs_tree_tag_index(blk), sg->sgd.meta_rep, FS_KIND_META,
			 fs_mkfs_ind_subblocks(sg->S), p);
	if (rc)
		return rc;
	for (int r = 0; r < FS_MAX_REPLICAS; r++)
		if (p->da[r])
			sub_delta(tx, ino, fs_mkfs_ind_subblocks(sg->S));
	sg_ptr_to_map(sg, p, 0, 0, &m);
	sg_tx_ac_put(tx, sg->mfsid, ino, blk, &m);
	if (tx->nfresh < (int)(sizeof(tx->fresh_tag) / sizeof(tx->fresh_tag[0]))) {
		tx->fresh_ino[tx->nfresh] = ino;
		tx->fresh_tag[tx->nfresh++] = blk;
	}
	if (tx->ltx)
		rc = fs_log_add_alloc(tx->ltx, ino, blk);
	return rc;
}

int sg_tx_alloc_space(struct sg_tx *tx, uint64_t ino, unsigned nrep, uint32_t nsub,
		      struct fs_ptr *p)
{
	return alloc_space(tx, ino, 0, nrep, FS_KIND_META, nsub, p);
}

int sg_tx_free(struct sg_tx *tx, const struct fs_ptr *p, uint32_t nsub, bool meta, uint64_t ino,
	       uint64_t blk)
{
	if (tx->nfree == SG_TX_MAXFREE)
		return MM_ETOOBIG;
	for (int r = 0; r < FS_MAX_REPLICAS; r++) {
		if (!p->da[r])
			continue;
		if (tx->nfree == SG_TX_MAXFREE)
			return MM_ETOOBIG;
		tx->fr[tx->nfree++] =
			(struct sg_free){.da = p->da[r], .nsub = nsub, .meta = meta, .ino = ino, .blk = blk};
	}
	return MM_OK;
}

static int tx_free_blk(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p,
		       bool is_meta)
{
	struct sg_tx *tx = arg;
	fs_sg *sg = tx->sg;
	int rc, nf0;
	uint32_t nsub = fs_alloc_spb(sg->alloc);

	/* a data file's last block is a fragment for the size it had */
	if (is_meta)
		nsub = fs_mkfs_ind_subblocks(sg->S);
	else if (tx->frag_size != UINT64_MAX && sg_nsub(sg, blk, tx->frag_size))
		nsub = sg_nsub(sg, blk, tx->frag_size);
	nf0 = tx->nfree;
	rc = sg_tx_free(tx, p, nsub, is_meta, ino, blk);
	for (int i = nf0; !rc && !is_meta && tx->metafile && i < tx->nfree; i++)
		tx->fr[i].metafile = true;
	if (!rc && is_meta)
		for (int r = 0; r < FS_MAX_REPLICAS; r++)
			if (p->da[r])
				sub_delta(tx, ino, -(int64_t)nsub);
	if (!rc && is_meta && tx->ltx)
		rc = fs_log_add_free(tx->ltx, ino, blk);
	return rc;
}

struct fs_tree *sg_tx_tree(struct sg_tx *tx, uint64_t ino)
{
	fs_sg *sg = tx->sg;
	struct fs_tree *t = &tx->tree;

	memset(t, 0, sizeof(*t));
	t->bs = &tx->bs;
	t->fsid = sg->fsid;
	t->bsize = sg->B;
	t->maxrep = sg->maxrep;
	t->alloc_meta = tx_alloc_meta;
	t->free_blk = tx_free_blk;
	t->arg = tx;
	tx->tree_ino = ino;
	return t;
}

/* The inode of <ino> inside <tx>: the one a caller gave, or taken here
 * (token xw, read) and kept to commit (growing a map or the inode file). */
static int tx_inode_of(struct sg_tx *tx, uint64_t ino, struct fs_inode **out)
{
	fs_sg *sg = tx->sg;
	struct sg_ino *ip;
	int rc, k;

	for (int i = 0; i < tx->nino; i++)
		if (tx->ino[i].ip->ino == ino) {
			*out = tx->ino[i].in;
			return MM_OK;
		}
	if (tx->nown == SG_TX_MAXINO || tx->nino == SG_TX_MAXINO)
		return MM_ETOOBIG;
	rc = sg_iget(sg, ino, &ip);
	if (rc)
		return rc;
	k = tx->nown;
	rc = sg_itok(sg, ip, TOK_XW, &tx->own_h[k]);
	if (rc) {
		sg_iput(sg, ip);
		return rc;
	}
	rc = sg_iread(sg, ip, &tx->own_in[k]);
	if (!rc)
		rc = sg_tx_inode(tx, ip, &tx->own_in[k]);
	if (rc) {
		sg_itok_release(sg, &tx->own_h[k]);
		sg_iput(sg, ip);
		return rc;
	}
	tx->own_ip[k] = ip;
	tx->nown++;
	*out = &tx->own_in[k];
	return MM_OK;
}

/*
 * A metadata file's block <blk> is a hole in a tree block that does not
 * exist: allocate that full block, point the file's tree at it and make
 * every metadata block in it zeros (logged as allocated: replay zeroes
 * them too, so a crash never leaves stale bytes read as metadata).
 */
static int tx_grow(struct sg_tx *tx, uint64_t ino, uint64_t blk)
{
	fs_sg *sg = tx->sg;
	uint64_t tb = blk / sg->mbper;
	struct fs_inode *in;
	struct fs_ptr p;
	struct fs_tree *t;
	struct pp_map m;
	int rc;

	rc = tx_inode_of(tx, ino, &in);
	if (rc)
		return rc;
	if (tx->ngrown == tx->capgrown) {
		int cap = tx->capgrown ? 2 * tx->capgrown : 4;
		struct sg_grown *g = realloc(tx->grown, (size_t)cap * sizeof(*g));

		if (!g)
			return MM_ENOMEM;
		tx->grown = g;
		tx->capgrown = cap;
	}
	if (tx->dview && tx->dview_in == in && !tx->dview->in_inode) {
		in->flags &= ~FS_IF_DATA_IN_INODE;
		in->tail_len = 0;
		in->level = 0;
	}
	if (in->flags & FS_IF_DATA_IN_INODE)
		return MM_ESTATE;
	rc = alloc_space(tx, ino, tb, in->meta_rep ? in->meta_rep : sg->sgd.meta_rep,
			 FS_KIND_META, fs_alloc_spb(sg->alloc), &p);
	if (rc)
		return rc;
	t = sg_tx_tree(tx, ino);
	rc = fs_tree_set(t, in, tb, &p, NULL);
	if (rc < 0) {
		sg_logf(sg, rc, "%s", t->err);
		return rc;
	}
	if (in->size < (tb + 1) * sg->B)
		in->size = (tb + 1) * sg->B;
	in->subblocks += fs_alloc_spb(sg->alloc) * (in->meta_rep ? in->meta_rep : 1);
	tx->grown[tx->ngrown++] = (struct sg_grown){ino, tb * sg->mbper, sg->mbper};
	for (uint32_t j = 0; j < sg->mbper; j++) {
		uint64_t mb = tb * sg->mbper + j;
		pp_buf *b;
		void *d;

		sg_ptr_to_map(sg, &p, j * FS_MB, 0, &m);
		sg_tx_ac_put(tx, sg->mfsid, ino, mb, &m);
		if (tx->ltx) {
			rc = fs_log_add_alloc(tx->ltx, ino, mb);
			if (rc)
				return rc;
		}
		if (mb == blk)
			continue;
		rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, ino, mb}, 0, FS_MB, PP_OVERWRITE,
			    &b, &d);
		if (rc)
			return rc;
		memset(d, 0, FS_MB);
		pp_mark_dirty(b, 0, FS_MB, 0);
		pp_release(b);
	}
	{
		struct sg_txbuf *tbuf;

		rc = tx_get_buf(tx, ino, blk, true, &tbuf);
		if (rc)
			return rc;
		memset(tbuf->data, 0, FS_MB);
		/* its allocation is logged: replay zeroes it, then applies what
		 * differs from zeros */
		memset(tbuf->orig, 0, FS_MB);
		tbuf->fresh = true;
		tbuf->dirty = true;
	}
	return MM_OK;
}

int sg_tx_alloc_inode(struct sg_tx *tx, uint64_t *ino)
{
	fs_sg *sg = tx->sg;
	struct pp_map m;
	int rc = MM_OK, tries = 0;

	if (!tx->ialloc_locked) {
		pthread_mutex_lock(&sg->ialloc_mu);
		tx->ialloc_locked = true;
		if (!sg->ireg_held)
			rc = sg_region_alloc(sg, true);
	}
	while (!rc) {
		rc = fs_imap_alloc(sg->alloc, sg->ireg, sg->ihint, ino, tx->msg, sizeof(tx->msg));
		if (rc != MM_ERANGE)
			break;
		if (++tries > (int)fs_imap_nregions(sg->alloc))
			break;
		rc = sg_region_alloc(sg, true);
	}
	if (rc)
		return rc;
	sg->ihint = *ino + 1;
	/* the inode file's size counts every record in use (fsck reads that
	 * many): a record past it, in a block the file already has (a block
	 * holds B / MB metadata blocks), grows the size */
	{
		uint64_t need = (*ino / FS_INODES_PER_MB + 1) * (uint64_t)FS_MB;
		struct fs_inode cur;

		pthread_mutex_lock(&sg->ifile_mu);
		cur = sg->ifile;
		pthread_mutex_unlock(&sg->ifile_mu);
		if (cur.size < need) {
			struct fs_inode *in0;

			rc = tx_inode_of(tx, 0, &in0);
			if (rc)
				return rc;
			if (in0->size < need)
				in0->size = need;
		}
	}
	/* its record's inode-file block must exist before commit writes it */
	rc = sg_map_meta(sg, 0, *ino / FS_INODES_PER_MB, &m);
	if (rc == MM_ENOENT) {
		struct sg_txbuf *tb;

		/* grow the inode file now, but let the new block go: commit
		 * takes inode-file blocks in ascending order, and holding this
		 * one through the body would invert that (its zeros are
		 * harmless on disk early, and its allocation is logged) */
		rc = tx_get_buf(tx, 0, *ino / FS_INODES_PER_MB, true, &tb);
		if (!rc) {
			int i = (int)(tb - tx->buf);

			pp_mark_dirty(tb->b, 0, FS_MB, 0);
			pp_release(tb->b);
			sg_mb_put(sg, tb->orig);
			tx->buf[i] = tx->buf[--tx->nbuf];
		}
	}
	return rc;
}

int sg_tx_free_inode(struct sg_tx *tx, uint64_t ino)
{
	fs_sg *sg = tx->sg;

	if (!tx->ialloc_locked) {
		pthread_mutex_lock(&sg->ialloc_mu);
		tx->ialloc_locked = true;
	}
	return fs_imap_free(sg->alloc, ino, tx->msg, sizeof(tx->msg));
}

/* ---- 4. begin, commit, abort ---- */

int sg_tx_begin(fs_sg *sg, uint64_t reserve, struct sg_tx **out)
{
	struct sg_tx *tx;
	int rc;

	if (sg_cur_tx)
		return MM_ESTATE;	/* one transaction a thread */
	rc = atomic_load_explicit(&sg->meta_err, memory_order_acquire);
	if (rc)
		return rc;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return MM_ENOMEM;
	tx->sg = sg;
	tx->frag_size = UINT64_MAX;
	tx->bs = (struct fs_bstore){sg_tx_bs_get, sg_tx_bs_put, sg_tx_bs_punch, tx, sg_bs_checked,
				    NULL};
	tx->dbs = (struct fs_bstore){sg_tx_bs_get_ranged, sg_tx_bs_put, sg_tx_bs_punch, tx,
				     sg_bs_checked, sg_tx_bs_changing};
	if (sg->log) {
		uint64_t max = fs_log_tx_max(sg->log);

		if (!reserve)
			reserve = max < (1u << 20) ? max : (1u << 20);
		rc = fs_log_begin(sg->log, reserve, &tx->ltx);
		if (rc) {
			free(tx);
			return rc;
		}
	}
	sg_cur_tx = tx;
	*out = tx;
	return MM_OK;
}

int sg_tx_inode(struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in)
{
	for (int i = 0; i < tx->nino; i++)
		if (tx->ino[i].ip == ip) {
			tx->ino[i].in = in;
			return MM_OK;
		}
	if (tx->nino == SG_TX_MAXINO)
		return MM_ETOOBIG;
	tx->ino[tx->nino].ip = ip;
	tx->ino[tx->nino].in = in;
	tx->nino++;
	return MM_OK;
}

static void tx_end(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;

	if (tx->ltx)
		fs_log_end(tx->ltx);
	if (tx->alloc_locked)
		pthread_mutex_unlock(&sg->alloc_mu);
	if (tx->ialloc_locked)
		pthread_mutex_unlock(&sg->ialloc_mu);
	for (int i = 0; i < tx->nown; i++) {
		sg_itok_release(sg, &tx->own_h[i]);
		sg_iput(sg, tx->own_ip[i]);
	}
	for (int i = 0; i < tx->nbuf; i++) {
		sg_mb_put(sg, tx->buf[i].orig);
#ifdef MM_DEBUG
		free(tx->buf[i].shadow);
#endif
	}
	free(tx->buf);
	tx->buf = NULL;
	free(tx->grown);
	tx->grown = NULL;
	free(tx->acu);
	tx->acu = NULL;
	sg_cur_tx = NULL;
}

void sg_tx_abort(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;

	for (int i = 0; i < tx->nbuf; i++) {
		struct sg_txbuf *tb = &tx->buf[i];

		if (tb->write && !tb->fresh && tb->lazy) {
			for (unsigned k = 0; k < FS_INODES_PER_MB; k++)
				if (tb->saved >> k & 1)
					memcpy(tb->data + (size_t)k * FS_INODE_BYTES,
					       tb->orig + (size_t)k * FS_INODE_BYTES, FS_INODE_BYTES);
		} else if (tb->write && !tb->fresh && tb->ranged) {
			for (unsigned c = 0; c < 64; c++)
				if (tb->csaved >> c & 1)
					memcpy(tb->data + (size_t)c * SG_TX_CHUNK,
					       tb->orig + (size_t)c * SG_TX_CHUNK, SG_TX_CHUNK);
		} else if (tb->write && !tb->fresh) {
			memcpy(tb->data, tb->orig, FS_MB);
		}
		else if (tb->fresh)
			memset(tb->data, 0, FS_MB);
		pp_release(tb->b);
		if (tx->acu_lost && (tb->fresh || ((tb->blk & FS_TAG_IND) && tb->ino != 0)))
			sg_ac_drop(sg, sg->mfsid, tb->ino, tb->blk, tb->blk + 1);
	}
	/* Blocks a file grew by are gone with the growth: their buffers
	 * (dirty zeros, once written by write-behind to an address the abort
	 * frees, or failing when it finds the address gone) are dropped, and
	 * any write of them in flight waited for, while the allocation lock
	 * still keeps those addresses from being handed out again. */
	for (int i = 0; i < tx->ngrown; i++) {
		struct sg_grown *g = &tx->grown[i];

		pp_discard(sg->pool, sg->mfsid, g->ino, g->lo, g->lo + g->n);
		if (tx->acu_lost)
			sg_ac_drop(sg, sg->mfsid, g->ino, g->lo, g->lo + g->n);
	}
	/* the addresses it cached or dropped, as they were: a fresh block's
	 * goes, and an earlier dirty buffer of its inodes keeps the one
	 * write-behind maps it by ("Map callbacks" in fs/README.md) */
	sg_tx_ac_undo(tx);
	sg_ord_drop(tx);
	/* what the inodes looked like is on disk: read it again */
	for (int i = 0; i < tx->nino; i++) {
		pthread_mutex_lock(&tx->ino[i].ip->mu);
		sg_iforget_locked(tx->ino[i].ip);
		tx->ino[i].ip->ver++;
		pthread_mutex_unlock(&tx->ino[i].ip->mu);
		/* (the inode file only grows, and its growth is undone above:
		 * losing its other addresses would send each commit's record
		 * lookups through its indirect blocks) */
		if (!tx->acu_lost || tx->ino[i].ip->ino == 0)
			continue;
		sg_ac_drop(sg, sg->fsid, tx->ino[i].ip->ino, 0, UINT64_MAX);
		sg_ac_drop(sg, sg->mfsid, tx->ino[i].ip->ino, 0, UINT64_MAX);
	}
	tx_end(tx);
	free(tx);
}

static int cmp_txino(const void *a, const void *b)
{
	const struct sg_txino *x = a, *y = b;

	return x->ip->ino < y->ip->ino ? -1 : x->ip->ino > y->ip->ino;
}

int sg_tx_commit_inode(struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in)
{
	int rc = sg_tx_inode(tx, ip, in);

	if (rc) {
		sg_tx_abort(tx);
		return rc;
	}
	return sg_tx_commit(tx);
}

/*
 * An inode whose last link goes becomes an orphan in the log (fs/log.h,
 * "Orphans") until it is freed, at once or at its last close or forget:
 * a crash in between leaves it to the replaying node to free, so nothing
 * leaks (fs/README.md, "Orphans").
 */
static int tx_orphan(struct sg_tx *tx, struct sg_ino *ip, const struct fs_inode *in)
{
	bool was_linked;

	if (!tx->ltx || ip->ino < FS_FIRST_USER_INO)
		return MM_OK;
	if (in->flags & FS_IF_FREE)
		return fs_log_add_unorphan(tx->ltx, ip->ino);
	/* (a record not cached: adding an orphan twice changes nothing; a new
	 * inode's is not cached: an O_TMPFILE file is an orphan at birth) */
	pthread_mutex_lock(&ip->mu);
	was_linked = !ip->valid || ip->cur->nlink > 0;
	pthread_mutex_unlock(&ip->mu);
	if (in->nlink == 0 && was_linked)
		return fs_log_add_orphan(tx->ltx, ip->ino);
	if (in->nlink > 0 && !was_linked)
		return fs_log_add_unorphan(tx->ltx, ip->ino);	/* an O_TMPFILE file named */
	return MM_OK;
}

static int buf_rank(const struct sg_txbuf *b)
{
	if (b->ino == 0 && !(b->blk & FS_TAG_IND))
		return 0;
	if ((b->blk & FS_TAG_IND) && !fs_tag_is_xattr(b->blk))
		return 1 + (FS_MAX_LEVEL - (int)fs_tree_tag_level(b->blk));
	return 2 + FS_MAX_LEVEL;
}

static int cmp_txbuf(const void *a, const void *b)
{
	const struct sg_txbuf *x = a, *y = b;
	int rx = buf_rank(x), ry = buf_rank(y);

	if (rx != ry)
		return rx - ry;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

int sg_tx_commit(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;
	uint64_t lsn = 0;
	struct sg_free *fr = NULL;
	int nfr = tx->nfree, rc = MM_OK;

	/* frees first: they change map blocks, logged with the rest */
	rc = sg_tx_apply_frees(tx);
	if (rc) {
		sg_logf(sg, rc, "transaction aborted");
		sg_frees_done(sg, tx->fr, tx->nfree, 0, false);
		sg_tx_abort(tx);
		return rc;
	}
	for (int k = 0; k < tx->nsd; k++)
		for (int i = 0; i < tx->nino; i++)
			if (tx->ino[i].ip->ino == tx->sd[k].ino) {
				int64_t v = (int64_t)tx->ino[i].in->subblocks + tx->sd[k].delta;

				tx->ino[i].in->subblocks = v < 0 ? 0 : (uint64_t)v;
			}
	/* inode records last, in ascending order (the lock order) */
	qsort(tx->ino, tx->nino, sizeof(tx->ino[0]), cmp_txino);
	/* Where each record's block is, found before any is held: finding
	 * one reads the inode file's indirect blocks, which a transaction
	 * growing the inode file holds while it waits for the blocks we
	 * would hold (an unlink and a create deadlocked so). */
	for (int i = 0; i < tx->nino && !rc; i++) {
		uint64_t blk = tx->ino[i].ip->ino / FS_INODES_PER_MB;
		struct pp_map m;

		if (!sg_tx_find(tx, 0, blk) && (blk >= sg->mbper))
			rc = tx_map_meta(tx, 0, blk, &m);
		if (rc == MM_ENOENT)
			rc = MM_OK;	/* a block the commit grows */
	}
	for (int i = 0; i < tx->nino && !rc; i++) {
		uint64_t ino = tx->ino[i].ip->ino;
		struct sg_txbuf *tb;

		rc = tx_orphan(tx, tx->ino[i].ip, tx->ino[i].in);
		if (rc)
			break;

		rc = tx_get_buf2(tx, 0, ino / FS_INODES_PER_MB, true, TB_LAZY, &tb);
		if (rc)
			break;
		tb_save(tb, (unsigned)(ino % FS_INODES_PER_MB));
		fs_inode_encode(tx->ino[i].in, sg->fsid,
				tb->data + (ino % FS_INODES_PER_MB) * FS_INODE_BYTES);
		tb->dirty = true;
	}
	/* Replay maps each block through the records applied before it, so
	 * the inode records go first, then indirect blocks from the top
	 * level down, then the rest. */
	if (!rc)
		if (tx->nbuf)
			qsort(tx->buf, tx->nbuf, sizeof(tx->buf[0]), cmp_txbuf);
	if (!rc && tx->ltx)
		for (int i = 0; i < tx->nbuf && !rc; i++)
			if (tx->buf[i].write && tx->buf[i].dirty && !tx->buf[i].punched)
				rc = sg_tx_diff(tx, &tx->buf[i], &tx->buf[i].lo, &tx->buf[i].hi);
	if (!rc && tx->ltx)
		rc = fs_log_commit(tx->ltx, &lsn);
	if (rc) {
		sg_logf(sg, rc, "transaction aborted");
		sg_frees_done(sg, tx->fr, tx->nfree, 0, false);
		sg_tx_abort(tx);
		return rc;
	}
	sg_ord_committed(tx, lsn);
	for (int i = 0; i < tx->nbuf; i++) {
		struct sg_txbuf *tb = &tx->buf[i];

		if (tb->write && (tb->dirty || tb->fresh) && !tb->punched) {
			/* a fresh block is zeros in memory but not on disk: all of
			 * it is written (the log only needs what differs from the
			 * zeros its allocation record gives replay) */
			if (!tx->ltx || tb->fresh) {
				tb->lo = 0;
				tb->hi = FS_MB;
			}
			if (tb->hi > tb->lo)
				pp_mark_dirty(tb->b, tb->lo, tb->hi - tb->lo, lsn);
		}
		pp_release(tb->b);
	}
	for (int i = 0; i < tx->nino; i++) {
		sg_iset(tx->ino[i].ip, tx->ino[i].in);
		if (tx->ino[i].ip->ino == 0)
			sg_set_ifile(sg, tx->ino[i].in);
	}
	atomic_fetch_add(&sg->st_tx, 1);
	if (nfr) {
		fr = malloc(nfr * sizeof(*fr));
		if (fr)
			memcpy(fr, tx->fr, nfr * sizeof(*fr));
		else
			sg_frees_done(sg, tx->fr, nfr, lsn, true);
	}
	tx_end(tx);
	free(tx);
	/* after the transaction's buffers are released: dropping a freed
	 * directory block's buffers waits for them */
	if (fr) {
		sg_frees_done(sg, fr, nfr, lsn, true);
		free(fr);
	}
	return rc;
}
