/*
 * fs/sgro.c - the read-only block store of a mounted stripe group and the
 * views dir.c and tree.c read through (sg_int.h; the transactions' own
 * store is sgtx.c's).
 *
 * Without a transaction on this thread, blocks are read straight from the
 * pagepool; a thread in a transaction reads the transaction's buffers
 * (it holds them exclusively: a second pp_get would wait on itself), and
 * its writes (alloc.c's store is this one) go to the transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

#define RO_HELD 16
static __thread struct {
	uint8_t *d;
	pp_buf *b;
} ro_held[RO_HELD];
static __thread int ro_n;

static int ro_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	fs_sg *sg = arg;
	struct sg_tx *tx = sg_cur_tx;
	pp_buf *b;
	uint8_t *d;
	int rc;

	if (tx && tx->sg == sg && (write || sg_tx_find(tx, ino, blk)))
		return sg_tx_bs_get(tx, ino, blk, write, data);
	if (write)
		return MM_EPERM;
	if (ro_n == RO_HELD)
		return MM_ETOOBIG;
	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, ino, blk}, 0, FS_MB, PP_READ, &b,
		    (void **)&d);
	if (rc)
		return rc;
	if (fs_mkfs_all_zero(d, FS_MBH_BYTES) && fs_mkfs_all_zero(d, FS_MB)) {
		pp_release(b);
		return MM_ENOENT;
	}
	ro_held[ro_n].d = d;
	ro_held[ro_n].b = b;
	ro_n++;
	*data = d;
	return MM_OK;
}

static void ro_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	fs_sg *sg = arg;
	struct sg_tx *tx = sg_cur_tx;

	for (int i = ro_n - 1; i >= 0; i--)
		if (ro_held[i].d == data) {
			pp_release(ro_held[i].b);
			ro_held[i] = ro_held[--ro_n];
			return;
		}
	if (tx && tx->sg == sg)
		sg_tx_bs_put(tx, ino, blk, data, dirty);
}

/* fs_bstore.checked of both stores: the buffer holding <data> is this
 * thread's, in its transaction or among its read-only holds. */
bool sg_bs_checked(void *arg, const uint8_t *data, bool set)
{
	struct sg_tx *tx = sg_cur_tx;
	pp_buf *b = NULL;

	(void)arg;
	for (int i = 0; tx && i < tx->nbuf && !b; i++)
		if (tx->buf[i].data == data)
			b = tx->buf[i].b;
	for (int i = ro_n - 1; i >= 0 && !b; i--)
		if (ro_held[i].d == data)
			b = ro_held[i].b;
	if (!b)
		return false;
	if (set)
		pp_set_checked(b);
	return pp_checked(b);
}

static int ro_punch(void *arg, uint64_t ino, uint64_t blk)
{
	fs_sg *sg = arg;
	struct sg_tx *tx = sg_cur_tx;

	if (tx && tx->sg == sg)
		return sg_tx_bs_punch(tx, ino, blk);
	return MM_EPERM;
}

void sg_ro_bstore(fs_sg *sg, struct fs_bstore *bs)
{
	bs->get = ro_get;
	bs->put = ro_put;
	bs->punch = ro_punch;
	bs->arg = sg;
	bs->checked = sg_bs_checked;
	bs->changing = NULL;
}

static int alloc_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	fs_sg *sg = arg;
	struct sg_tx *tx = sg_cur_tx;

	if (write && tx && tx->sg == sg)
		return sg_tx_bs_get_ranged(tx, ino, blk, true, data);
	return ro_get(arg, ino, blk, write, data);
}

static void alloc_changing(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len)
{
	fs_sg *sg = arg;
	struct sg_tx *tx = sg_cur_tx;

	if (tx && tx->sg == sg)
		sg_tx_bs_changing(tx, ino, blk, off, len);
}

void sg_alloc_bstore(fs_sg *sg, struct fs_bstore *bs)
{
	sg_ro_bstore(sg, bs);
	bs->get = alloc_get;
	bs->changing = alloc_changing;
}

void sg_ro_tree(fs_sg *sg, struct fs_tree *t)
{
	static __thread struct fs_bstore bs;

	memset(t, 0, sizeof(*t));
	sg_ro_bstore(sg, &bs);
	t->bs = &bs;
	t->fsid = sg->fsid;
	t->bsize = sg->B;
	t->maxrep = sg->maxrep;
}

static int dir_exists(void *arg, uint64_t ino, uint64_t blk)
{
	struct pp_map m;
	int rc;

	rc = sg_map_meta(arg, ino, blk, &m);
	if (rc == MM_ENOENT)
		return 0;
	if (rc)
		return rc;
	/* mapped: a tree block exists, but the metadata block in it may
	 * still be all zeros (a hole): the get tells */
	return 1;
}

void sg_dir_view(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, struct fs_dir *d)
{
	static __thread struct fs_bstore bs;

	memset(d, 0, sizeof(*d));
	if (tx)
		d->bs = &tx->dbs;
	else {
		sg_ro_bstore(sg, &bs);
		d->bs = &bs;
	}
	d->exists = NULL;
	(void)dir_exists;
	d->fsid = sg->fsid;
	d->ino = in->ino;
	d->depth = in->depth;
	d->in_inode = (in->flags & FS_IF_DATA_IN_INODE) != 0;
	d->tail = in->tail;
	d->tail_len = in->tail_len;
}
