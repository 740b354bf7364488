/*
 * fs/sg.c - a mounted stripe group: mount and unmount, the pagepool's
 * map and log callbacks, the block address cache, this node's log and the
 * log table, allocation regions (fs/README.md, "Next: the stripe group at
 * run time"; the lock order is fs/sg_int.h's).
 *
 * Map of this file:
 *   1. helpers: messages, errno, the address cache
 *   2. the map callbacks
 *   3. the log: its I/O, the checkpoint, the log table, making a log (its
 *      replay is sgreplay.c's)
 *   4. regions
 *   5. mount, unmount
 *
 * Why an address cache: write-behind threads call the map callback while
 * holding shared content locks on a batch of buffers; if the callback
 * read an indirect block that a transaction holds exclusively while that
 * transaction waits at commit for an inode-file buffer in the batch, the
 * two would wait on each other. Every block is mapped once by the thread
 * that makes its buffer (under the object's token) and the answer is
 * kept here, so write-behind never reads a block to map one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "fs/fsck.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

#define SUB "fs"

__thread struct sg_tx *sg_cur_tx;


/* ---- 1. helpers ---- */

void sg_logf(fs_sg *sg, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mm_error(SUB, "%s: %s (%s)", sg->device, msg, mm_strerror(rc));
}

int fs_errno(int rc)
{
	switch (rc) {
	case MM_OK: return 0;
	case MM_ENOMEM: return -ENOMEM;
	case MM_EINVAL: return -EINVAL;
	case MM_ENOENT: return -ENOENT;
	case MM_EEXIST: return -EEXIST;
	case MM_ETOOBIG: return -EFBIG;
	case MM_ERANGE: return -ENOSPC;
	case MM_EBUSY: return -EBUSY;
	case MM_EPERM: return -EPERM;
	case MM_ENOTSUP: return -EOPNOTSUPP;
	case MM_ETIMEDOUT: return -ETIMEDOUT;
	case MM_ESHUTDOWN: return -ESHUTDOWN;
	case MM_ENOLEASE: return -EIO;
	default: return rc > 0 ? -rc : -EIO;
	}
}

void sg_set_ifile(fs_sg *sg, const struct fs_inode *in)
{
	pthread_mutex_lock(&sg->ifile_mu);
	sg->ifile = *in;
	pthread_mutex_unlock(&sg->ifile_mu);
}

static uint64_t ac_hash(uint32_t fs, uint64_t ino, uint64_t blk)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ blk * 0xc2b2ae3d27d4eb4full ^ fs;

	return (h ^ h >> 29) % SG_AC_BUCKETS;
}

static bool ac_set(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, const struct pp_map *m,
		   bool overwrite, struct pp_map *old);

static _Atomic uint32_t *ac_ino_slot(fs_sg *sg, uint32_t fs, uint64_t ino)
{
	uint64_t h = (ino ^ (uint64_t)fs << 40) * 0x9e3779b97f4a7c15ull;

	return &sg->ac_ino[(h >> 32) % SG_AC_INO_SLOTS];
}

static _Atomic uint64_t *ac_ino_end(fs_sg *sg, _Atomic uint32_t *slot)
{
	return &sg->ac_ino_end[slot - sg->ac_ino];
}

bool sg_ac_get(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, struct pp_map *m)
{
	struct sg_bucket *b = &sg->actab[ac_hash(fs, ino, blk)];
	bool hit = false;

	if (sg->replaying)
		return false;
	pthread_mutex_lock(&b->mu);
	for (struct sg_ac *a = b->head; a; a = a->next)
		if (a->fs == fs && a->ino == ino && a->blk == blk) {
			*m = a->m;
			hit = true;
			break;
		}
	pthread_mutex_unlock(&b->mu);
	return hit;
}

void sg_ac_put(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, const struct pp_map *m)
{
	ac_set(sg, fs, ino, blk, m, true, NULL);
}

/*
 * What a map callback found: kept only if nothing newer is. A map call
 * (a prefetch, a reader making a buffer) reads the committed record
 * without the inode's token while a transaction may be moving the block;
 * the transaction's address, put first, must not be overwritten by the
 * old one, or write-behind would later write to a run given away.
 */
static void tx_ac_record(struct sg_tx *tx, const struct sg_acundo *u);

/* <tx>: the map read this thread's transaction's copy of the inode, so
 * what it learned is the transaction's to undo. */
static void ac_learn(fs_sg *sg, struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk,
		     const struct pp_map *m)
{
	if (!ac_set(sg, fs, ino, blk, m, false, NULL) && tx && !sg->replaying)
		tx_ac_record(tx, &(struct sg_acundo){.fs = fs, .ino = ino, .blk = blk});
}

/* Says whether an address was cached (and, into <old>, which). */
static bool ac_set(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, const struct pp_map *m,
		   bool overwrite, struct pp_map *old)
{
	struct sg_bucket *b = &sg->actab[ac_hash(fs, ino, blk)];
	_Atomic uint64_t *end = ac_ino_end(sg, ac_ino_slot(sg, fs, ino));
	uint64_t e = atomic_load(end), want = blk == UINT64_MAX ? UINT64_MAX : blk + 1;
	struct sg_ac *a;
	bool had;

	if (sg->replaying)
		return false;
	/* raised before the entry can be found (sg_ac_drop reads it first) */
	while (e < want && !atomic_compare_exchange_weak(end, &e, want))
		;
	pthread_mutex_lock(&b->mu);
	for (a = b->head; a; a = a->next)
		if (a->fs == fs && a->ino == ino && a->blk == blk)
			break;
	if (a && !overwrite) {
		pthread_mutex_unlock(&b->mu);
		return true;
	}
	had = a != NULL;
	if (had && old)
		*old = a->m;
	if (!a && (a = malloc(sizeof(*a)))) {
		a->fs = fs;
		a->ino = ino;
		a->blk = blk;
		a->next = b->head;
		b->head = a;
		atomic_fetch_add(ac_ino_slot(sg, fs, ino), 1);
	}
	if (a)
		a->m = *m;
	pthread_mutex_unlock(&b->mu);
	return had;
}

/* Forget one address; says whether it was cached (and, into <old> if not
 * NULL, which). */
static bool ac_take(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, struct pp_map *old)
{
	struct sg_bucket *b = &sg->actab[ac_hash(fs, ino, blk)];
	struct sg_ac **pp;
	bool had = false;

	pthread_mutex_lock(&b->mu);
	for (pp = (struct sg_ac **)&b->head; *pp; pp = &(*pp)->next)
		if ((*pp)->fs == fs && (*pp)->ino == ino && (*pp)->blk == blk) {
			struct sg_ac *a = *pp;

			*pp = a->next;
			if (old)
				*old = a->m;
			free(a);
			atomic_fetch_sub(ac_ino_slot(sg, fs, ino), 1);
			had = true;
			break;
		}
	pthread_mutex_unlock(&b->mu);
	return had;
}

/*
 * A transaction's change to the address cache, with what it replaced
 * kept in the transaction (newest last), so that an abort puts back just
 * that: dropping every address of the inodes it touched would leave
 * their earlier dirty buffers for write-behind to map by reading, which
 * may deadlock ("Map callbacks" in fs/README.md). Without room for the
 * record, the abort falls back to that drop (tx->acu_lost).
 */
static void tx_ac_change(struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk,
			 const struct pp_map *m)
{
	fs_sg *sg = tx->sg;
	struct sg_acundo u = {.fs = fs, .ino = ino, .blk = blk};

	if (sg->replaying)
		return;
	u.had = m ? ac_set(sg, fs, ino, blk, m, true, &u.m) : ac_take(sg, fs, ino, blk, &u.m);
	tx_ac_record(tx, &u);
}

static void tx_ac_record(struct sg_tx *tx, const struct sg_acundo *u)
{
	if (tx->nacu == tx->capacu) {
		int cap = tx->capacu ? 2 * tx->capacu : 16;
		struct sg_acundo *n = realloc(tx->acu, (size_t)cap * sizeof(*n));

		if (!n) {
			tx->acu_lost = true;
			return;
		}
		tx->acu = n;
		tx->capacu = cap;
	}
	tx->acu[tx->nacu++] = *u;
}

void sg_tx_ac_put(struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk,
		  const struct pp_map *m)
{
	tx_ac_change(tx, fs, ino, blk, m);
}

void sg_tx_ac_drop(struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk)
{
	tx_ac_change(tx, fs, ino, blk, NULL);
}

void sg_tx_fresh_data(struct sg_tx *tx, uint64_t ino, uint64_t blk)
{
	tx_ac_record(tx, &(struct sg_acundo){.fs = tx->sg->fsid, .ino = ino, .blk = blk,
					     .discard = true});
}

void sg_tx_ac_undo(struct sg_tx *tx)
{
	fs_sg *sg = tx->sg;

	for (int i = tx->nacu; i-- > 0;) {
		struct sg_acundo *u = &tx->acu[i];

		/* a block the file did not have: its buffer (zeros or the
		 * write's bytes, dirty) goes, any write of it in flight waited
		 * for while its run is still this transaction's; kept, it
		 * would be written with no address to write it to, and that
		 * fails the file system (sg_data_write_failed) */
		if (u->discard)
			pp_discard(sg->pool, u->fs, u->ino, u->blk, u->blk + 1);
		else if (u->had)
			ac_set(sg, u->fs, u->ino, u->blk, &u->m, true, NULL);
		else
			ac_take(sg, u->fs, u->ino, u->blk, NULL);
	}
	tx->nacu = 0;
}

/* Forget addresses of blocks [lo, hi) of <ino> (freed, or the inode let go). */
void sg_ac_drop(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t lo, uint64_t hi)
{
	_Atomic uint32_t *cnt = ac_ino_slot(sg, fs, ino);
	uint64_t end;

	if (!atomic_load(cnt))
		return;
	/* nothing at or past the slot's end was ever cached: a revoke's
	 * "every block" of a small file is its few blocks */
	end = atomic_load(ac_ino_end(sg, cnt));
	if (hi > end)
		hi = end;
	if (lo >= hi)
		return;
	if (hi - lo <= 64) {
		/* a few blocks: their buckets only */
		for (uint64_t blk = lo; blk < hi; blk++)
			ac_take(sg, fs, ino, blk, NULL);
		return;
	}
	for (uint32_t i = 0; i < SG_AC_BUCKETS; i++) {
		struct sg_bucket *b = &sg->actab[i];
		struct sg_ac **pp;

		pthread_mutex_lock(&b->mu);
		for (pp = (struct sg_ac **)&b->head; *pp;) {
			struct sg_ac *a = *pp;

			if (a->fs == fs && a->ino == ino && a->blk >= lo && a->blk < hi) {
				*pp = a->next;
				free(a);
				atomic_fetch_sub(cnt, 1);
			} else {
				pp = &a->next;
			}
		}
		pthread_mutex_unlock(&b->mu);
	}
}

void sg_ptr_to_map(fs_sg *sg, const struct fs_ptr *p, uint32_t off, uint32_t len,
		   struct pp_map *m)
{
	memset(m, 0, sizeof(*m));
	m->len = len;
	/* a fragment's run: the space after it is someone else's */
	m->bounded = len != 0;
	for (int r = 0; r < FS_MAX_REPLICAS; r++) {
		uint32_t d;

		if (!p->da[r])
			continue;
		d = fs_da_disk(p->da[r]);
		if (d >= sg->sgd.ndisks)
			continue;
		m->rep[m->nrep].nsd_id = sg->sgd.disk[d].nsd_id;
		m->rep[m->nrep].offset = fs_da_sub(p->da[r]) * sg->S + off;
		m->nrep++;
	}
}

/* ---- 2. the map callbacks ---- */

/* The record of <ino> to map its blocks: this thread's transaction's
 * copy, the inode file's, the cached one, or read. */
static int map_inode(fs_sg *sg, uint64_t ino, struct fs_inode *out, struct sg_tx **txcopy)
{
	struct sg_tx *tx = sg_cur_tx;
	char err[192];
	uint8_t *data;
	pp_buf *b;
	int rc;

	*txcopy = NULL;
	if (tx && tx->sg == sg)
		for (int i = 0; i < tx->nino; i++)
			if (tx->ino[i].ip->ino == ino) {
				*out = *tx->ino[i].in;
				*txcopy = tx;
				return MM_OK;
			}
	if (ino == 0) {
		pthread_mutex_lock(&sg->ifile_mu);
		*out = sg->ifile;
		pthread_mutex_unlock(&sg->ifile_mu);
		return MM_OK;
	}
	{
		struct sg_bucket *bk = &sg->itab[ino % SG_INO_BUCKETS];
		bool hit = false;

		pthread_mutex_lock(&bk->mu);
		for (struct sg_ino *ip = bk->head; ip; ip = ip->hnext)
			if (ip->ino == ino) {
				pthread_mutex_lock(&ip->mu);
				if (ip->valid) {
					*out = *ip->cur;
					hit = true;
				}
				pthread_mutex_unlock(&ip->mu);
				break;
			}
		pthread_mutex_unlock(&bk->mu);
		if (hit)
			return MM_OK;
	}
	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, 0, ino / FS_INODES_PER_MB},
		    (uint32_t)(ino % FS_INODES_PER_MB) * FS_INODE_BYTES, FS_INODE_BYTES, PP_READ, &b,
		    (void **)&data);
	if (rc)
		return rc;
	rc = fs_inode_decode(data + (ino % FS_INODES_PER_MB) * FS_INODE_BYTES, sg->fsid, ino, out,
			     err, sizeof(err));
	pp_release(b);
	if (rc)
		sg_logf(sg, rc, "inode %" PRIu64 ": %s", ino, err);
	return rc;
}

/* A map that must read: never for write-behind ("Why an address cache"),
 * except during the replay, which keeps no addresses and runs alone.
 * Counted (tests assert none) and said once (a hang after it has its
 * cause in the log); the map goes on, which may deadlock. */
static void wb_miss(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk)
{
	static atomic_bool said;

	if (!pp_in_wb_map() || sg->replaying)
		return;
	atomic_fetch_add(&sg->st_wb_miss, 1);
	if (!atomic_exchange(&said, true))
		mm_error(SUB, "%s: write-behind of fs %" PRIu32 " inode %" PRIu64 " block %" PRIu64
			 " found no cached address: it reads the file's tree, which can deadlock",
			 sg->device, fs, ino, blk);
}

int sg_map_data(void *arg, const struct pp_tag *t, struct pp_map *m)
{
	fs_sg *sg = arg;
	struct sg_tx *tx;
	struct fs_inode in;
	struct fs_ptr p;
	struct fs_tree tr;
	int rc;

	if (sg_ac_get(sg, t->fs, t->ino, t->blk, m) || sg_ord_map(sg, t, m))
		return MM_OK;
	wb_miss(sg, t->fs, t->ino, t->blk);
	rc = map_inode(sg, t->ino, &in, &tx);
	if (rc)
		return rc;
	if (in.flags & FS_IF_DATA_IN_INODE)
		return MM_ENOENT;
	sg_ro_tree(sg, &tr);
	rc = fs_tree_lookup(&tr, &in, t->blk, &p);
	if (rc < 0) {
		sg_logf(sg, rc, "%s", tr.err);
		return rc;
	}
	if (rc == 0)
		return MM_ENOENT;
	{
		uint32_t nsub = sg_nsub(sg, t->blk, in.size);

		sg_ptr_to_map(sg, &p, 0, nsub && nsub < sg->B / sg->S ? nsub * sg->S : 0, m);
	}
	ac_learn(sg, tx, t->fs, t->ino, t->blk, m);
	return MM_OK;
}

int sg_map_meta(fs_sg *sg, uint64_t ino, uint64_t blk, struct pp_map *m)
{
	struct sg_tx *tx;
	struct fs_inode in;
	struct fs_ptr p;
	struct fs_tree tr;
	uint32_t off = 0;
	int rc;

	if (sg_ac_get(sg, sg->mfsid, ino, blk, m))
		return MM_OK;
	if (ino == 0 && blk < sg->mbper) {
		sg_ptr_to_map(sg, &sg->sgd.ifile0, (uint32_t)blk * FS_MB, FS_MB, m);
		m->len = 0;
		sg_ac_put(sg, sg->mfsid, ino, blk, m);
		return MM_OK;
	}
	wb_miss(sg, sg->mfsid, ino, blk);
	rc = map_inode(sg, ino, &in, &tx);
	if (rc)
		return rc;
	if (fs_tag_is_xattr(blk)) {
		if (!(in.flags & FS_IF_XATTR_OVERFLOW) || blk - FS_TAG_XATTR >= in.xattr_units)
			return MM_ENOENT;
		sg_ptr_to_map(sg, &in.xattr_ovf, (uint32_t)(blk - FS_TAG_XATTR) * FS_MB, 0, m);
		ac_learn(sg, tx, sg->mfsid, ino, blk, m);
		return MM_OK;
	}
	if (in.flags & FS_IF_DATA_IN_INODE)
		return MM_ENOENT;
	sg_ro_tree(sg, &tr);
	if (blk & FS_TAG_IND) {
		rc = fs_tree_lookup_at(&tr, &in, fs_tree_tag_level(blk), fs_tree_tag_index(blk), &p);
	} else {
		off = (uint32_t)(blk % sg->mbper) * FS_MB;
		rc = fs_tree_lookup(&tr, &in, blk / sg->mbper, &p);
	}
	if (rc < 0) {
		sg_logf(sg, rc, "%s", tr.err);
		return rc;
	}
	if (rc == 0)
		return MM_ENOENT;
	sg_ptr_to_map(sg, &p, off, 0, m);
	ac_learn(sg, tx, sg->mfsid, ino, blk, m);
	return MM_OK;
}

static int map_meta_cb(void *arg, const struct pp_tag *t, struct pp_map *m)
{
	return sg_map_meta(arg, t->ino, t->blk, m);
}

static int log_force_cb(void *arg, uint64_t lsn)
{
	fs_sg *sg = arg;

	return sg->log ? fs_log_force(sg->log, lsn) : MM_OK;
}

/* ---- 3. the log ---- */

static int log_rw(fs_sg *sg, uint64_t lblk, uint8_t *data, bool write)
{
	const struct fs_ptr *p;
	uint32_t off;
	int rc = MM_EIO, ok = 0;

	if (lblk >= sg->log_nblocks)
		return MM_EINVAL;
	p = &sg->log_map[lblk / sg->mbper];
	off = (uint32_t)(lblk % sg->mbper) * FS_MB;
	for (int r = 0; r < FS_MAX_REPLICAS; r++) {
		uint32_t d;
		uint64_t pos;

		if (!p->da[r])
			continue;
		d = fs_da_disk(p->da[r]);
		pos = fs_da_sub(p->da[r]) * sg->S + off;
		rc = write ? sg->dio.write(sg->dio.arg, d, pos, data, FS_MB)
			   : sg->dio.read(sg->dio.arg, d, pos, data, FS_MB);
		rc = fs_mkfs_io_rc(rc);
		if (rc) {
			sg_logf(sg, rc, "log of node %u: %s of block %" PRIu64 " on disk %s",
				sg->node, write ? "write" : "read", lblk, sg->sgd.disk[d].name);
			if (write)
				return rc;	/* every replica or the log is failed */
			continue;
		}
		if (!write)
			return MM_OK;
		ok++;
	}
	return ok ? MM_OK : rc;
}

static int log_write(void *arg, uint64_t lblk, const uint8_t *data)
{
	return log_rw(arg, lblk, (uint8_t *)data, true);
}

static int log_read(void *arg, uint64_t lblk, uint8_t *data)
{
	return log_rw(arg, lblk, data, false);
}

/* Every metadata buffer dirtied before the checkpoint's target is written
 * or failed when the flush returns (a write in flight is waited for, and
 * meta_write_failed runs before it ends): a failure keeps the tail. */
static int need_checkpoint(void *arg, uint64_t lsn)
{
	fs_sg *sg = arg;
	int rc;

	(void)lsn;
	pp_flush_fs(sg->pool, sg->fsid);
	rc = pp_flush_fs(sg->pool, sg->mfsid);
	return rc ? rc : atomic_load_explicit(&sg->meta_err, memory_order_acquire);
}

static void meta_write_failed(void *arg, const struct pp_tag *t, int rc)
{
	fs_sg *sg = arg;
	int none = 0;

	if (atomic_compare_exchange_strong(&sg->meta_err, &none, rc ? rc : MM_EIO))
		sg_logf(sg, rc,
			"write of metadata block %" PRIu64 " of inode %" PRIu64 " failed: the file "
			"system is failed on this node; every change now fails with EIO until it is "
			"unmounted, and the next mount replays the log, which still holds the change",
			t->blk, t->ino);
}

/* The log table (inode 4): fs/fsck.h's layout, FS_LOGTAB_ENTRY-byte slots
 * (node 4, reserved 4, log inode 8) after the header, whose <a> counts
 * the slots in use. */
#define LT_PER FS_LOGTAB_SLOTS

static int logtab_get(fs_sg *sg, uint64_t *log_ino, char *err, size_t errsz)
{
	struct fs_bstore bs;
	uint8_t *data;
	uint64_t blk = sg->node / LT_PER;
	int rc;

	sg_ro_bstore(sg, &bs);
	*log_ino = 0;
	rc = bs.get(bs.arg, SG_LOG_INO, blk, false, &data);
	if (rc == MM_ENOENT)
		return MM_OK;
	if (rc)
		return fs_errf(err, errsz, rc, "log table block %" PRIu64 " unreadable", blk);
	rc = fs_mb_verify(data, FS_MB, FS_BT_LOGTAB, sg->fsid, SG_LOG_INO, blk, NULL, err, errsz);
	if (!rc)
		*log_ino = mm_be64_get(data + FS_MBH_BYTES + (sg->node % LT_PER) * FS_LOGTAB_ENTRY + 8);
	bs.put(bs.arg, SG_LOG_INO, blk, data, false);
	return rc;
}

/* Where each block of log file <in> lives (the log writes past the
 * pagepool, straight to every replica). */
static int log_map_load(fs_sg *sg, const struct fs_inode *in, char *err, size_t errsz)
{
	uint32_t ntb = (sg->log_nblocks + sg->mbper - 1) / sg->mbper;
	struct fs_tree tr;
	int rc;

	free(sg->log_map);
	sg->log_map = calloc(ntb, sizeof(*sg->log_map));
	if (!sg->log_map)
		return MM_ENOMEM;
	sg_ro_tree(sg, &tr);
	for (uint32_t i = 0; i < ntb; i++) {
		rc = fs_tree_lookup(&tr, in, i, &sg->log_map[i]);
		if (rc <= 0)
			return fs_errf(err, errsz, rc ? rc : MM_EPROTO,
				       "log file inode %" PRIu64 " block %u: %s", in->ino, i,
				       rc ? tr.err : "a hole");
	}
	return MM_OK;
}

/* This node's first mount of the file system: a log file of -L bytes,
 * formatted, then named in the log table. Not logged (there is no log
 * yet): everything is written before the table names it, so a crash
 * part way leaks an inode and blocks (mmfsck reclaims them) and never
 * names a log that is not whole. */
static int log_create(fs_sg *sg, char *err, size_t errsz)
{
	struct sg_tx *tx = NULL;
	struct sg_ino *ip = NULL, *lt = NULL;
	struct fs_inode in, ltin;
	struct fs_log_io io = {log_write, log_read, sg};
	uint32_t ntb;
	uint64_t ino, blk = sg->node / LT_PER;
	struct tok_holder h, lth;
	uint8_t *data;
	int rc;

	sg->log_nblocks = sg->sgd.log_bytes / FS_MB;
	ntb = (sg->log_nblocks + sg->mbper - 1) / sg->mbper;
	rc = sg_tx_begin(sg, 0, &tx);
	if (rc)
		return fs_errf(err, errsz, rc, "cannot start making this node's log");
	rc = sg_tx_alloc_inode(tx, &ino);
	if (!rc)
		rc = sg_iget(sg, ino, &ip);
	if (!rc)
		rc = sg_itok(sg, ip, TOK_XW, &h);
	if (rc) {
		sg_tx_abort(tx);
		if (ip)
			sg_iput(sg, ip);
		return fs_errf(err, errsz, rc, "no inode for this node's log");
	}
	memset(&in, 0, sizeof(in));
	in.ino = ino;
	in.gen = 1;
	in.mode = S_IFREG | 0600;
	in.nlink = 1;
	in.size = (uint64_t)sg->log_nblocks * FS_MB;
	in.data_rep = sg->sgd.meta_rep;
	in.meta_rep = sg->sgd.meta_rep;
	sg_now(&in.mtime);
	in.atime = in.ctime = in.crtime = in.mtime;
	rc = sg_tx_inode(tx, ip, &in);
	for (uint32_t i = 0; !rc && i < ntb; i++) {
		struct fs_ptr p;

		/* a metadata file: its blocks are full blocks of metadata, on
		 * metadata disks (a dataOnly disk must not hold a log) */
		rc = sg_tx_alloc_meta_block(tx, ino, i, in.meta_rep, &p);
		in.subblocks += (uint64_t)fs_alloc_spb(sg->alloc) * in.meta_rep;
		if (!rc) {
			struct fs_tree *t = sg_tx_tree(tx, ino);

			rc = fs_tree_set(t, &in, i, &p, NULL);
			if (rc > 0)
				rc = MM_OK;
			else if (rc < 0)
				fs_errf(err, errsz, rc, "%s", t->err);
		}
	}
	if (!rc)
		rc = sg_tx_commit(tx);
	else
		sg_tx_abort(tx);
	if (!rc)
		rc = pp_flush_fs(sg->pool, sg->mfsid);
	if (!rc)
		rc = log_map_load(sg, &in, err, errsz);
	if (!rc)
		rc = fs_log_format(&io, sg->fsid, ino, sg->node, sg->log_nblocks);
	sg_itok_release(sg, &h);
	sg_iput(sg, ip);
	if (rc)
		return fs_errf(err, errsz, rc, "cannot make this node's log (%s)", err ? err : "");

	/* name it in the log table */
	rc = sg_iget(sg, SG_LOG_INO, &lt);
	if (rc)
		return fs_errf(err, errsz, rc, "log table");
	rc = sg_itok(sg, lt, TOK_XW, &lth);
	if (!rc)
		rc = sg_iread(sg, lt, &ltin);
	if (!rc)
		rc = sg_tx_begin(sg, 0, &tx);
	if (!rc) {
		rc = sg_tx_inode(tx, lt, &ltin);
		if (!rc)
			rc = tx->bs.get(tx->bs.arg, SG_LOG_INO, blk, true, &data);
		if (!rc) {
			uint8_t *e = data + FS_MBH_BYTES + (sg->node % LT_PER) * FS_LOGTAB_ENTRY;
			uint64_t used = 0;

			if (fs_mkfs_all_zero(data, FS_MBH_BYTES))
				memset(data, 0, FS_MB);
			memset(e, 0, FS_LOGTAB_ENTRY);
			mm_be32_put(e, sg->node);
			mm_be64_put(e + 8, ino);
			for (uint32_t i = 0; i < LT_PER; i++)
				if (!fs_mkfs_all_zero(data + FS_MBH_BYTES + i * FS_LOGTAB_ENTRY,
						      FS_LOGTAB_ENTRY))
					used++;
			fs_mb_seal(data, FS_MB,
				   &(struct fs_mbh){.type = FS_BT_LOGTAB, .fsid = sg->fsid,
						    .ino = SG_LOG_INO, .blk = blk, .a = used});
			tx->bs.put(tx->bs.arg, SG_LOG_INO, blk, data, true);
			if ((blk + 1) * FS_MB > ltin.size)
				ltin.size = (blk + 1) * FS_MB;
		}
		if (!rc)
			rc = sg_tx_commit(tx);
		else
			sg_tx_abort(tx);
	}
	if (!rc)
		rc = pp_flush_fs(sg->pool, sg->mfsid);
	sg_itok_release(sg, &lth);
	sg_iput(sg, lt);
	if (rc)
		return fs_errf(err, errsz, rc, "cannot name this node's log in the log table");
	sg->log_ino = ino;
	return MM_OK;
}

void sg_ac_clear(fs_sg *sg)
{
	for (uint32_t i = 0; i < SG_AC_BUCKETS; i++) {
		struct sg_bucket *b = &sg->actab[i];

		pthread_mutex_lock(&b->mu);
		while (b->head) {
			struct sg_ac *a = b->head;

			b->head = a->next;
			atomic_fetch_sub(ac_ino_slot(sg, a->fs, a->ino), 1);
			free(a);
		}
		pthread_mutex_unlock(&b->mu);
	}
}

static int log_start(fs_sg *sg, char *err, size_t errsz)
{
	struct fs_log_io io = {log_write, log_read, sg};
	struct fs_log_params lp = {0};
	struct sg_ino *ip;
	struct fs_inode in;
	struct tok_holder h;
	int rc;

	rc = logtab_get(sg, &sg->log_ino, err, errsz);
	if (rc)
		return rc;
	if (!sg->log_ino) {
		rc = log_create(sg, err, errsz);
		if (rc)
			return rc;
	} else {
		rc = sg_iget(sg, sg->log_ino, &ip);
		if (rc)
			return fs_errf(err, errsz, rc, "log inode %" PRIu64, sg->log_ino);
		rc = sg_itok(sg, ip, TOK_RO, &h);
		if (!rc) {
			rc = sg_iread(sg, ip, &in);
			sg_itok_release(sg, &h);
		}
		sg_iput(sg, ip);
		if (rc)
			return fs_errf(err, errsz, rc, "log inode %" PRIu64 " unreadable",
				       sg->log_ino);
		sg->log_nblocks = (uint32_t)(in.size / FS_MB);
		rc = log_map_load(sg, &in, err, errsz);
		if (rc)
			return rc;
		rc = sg_replay(sg, &io, err, errsz);
		if (rc)
			return rc;
	}
	lp.io = io;
	lp.fsid = sg->fsid;
	lp.ino = sg->log_ino;
	lp.node = sg->node;
	lp.nblocks = sg->log_nblocks;
	lp.nbufs = SG_LOG_BUFS;
	lp.writer = true;
	lp.need_checkpoint = need_checkpoint;
	lp.ordered = sg_ord_write;
	lp.ckpt_arg = sg;
	rc = fs_log_open(&lp, &sg->log, err, errsz);
	return rc;
}

/* ---- 4. regions ----
 *
 * A node allocates in regions whose token it holds xw for the mount (the
 * file system manager's hand-out of regions comes with several nodes
 * mounting; here the node starts at a region of its own number and moves
 * on when one is full). Called with alloc_mu / ialloc_mu held.
 */
int sg_region_alloc(fs_sg *sg, bool inode)
{
	uint32_t n = inode ? fs_imap_nregions(sg->alloc) : sg->sgd.nregions;
	uint32_t *cur = inode ? &sg->ireg : &sg->breg;
	bool *held = inode ? &sg->ireg_held : &sg->breg_held;
	struct tok_holder *h = inode ? &sg->ireg_h : &sg->breg_h;
	uint32_t next = *held ? (*cur + 1) % n : (sg->node * 7u) % n;
	int rc;

	if (*held) {
		toknet_release(sg->tok, h);
		*held = false;
		if (next == (sg->node * 7u) % n)
			return MM_ERANGE;	/* every region tried */
	}
	tok_holder_init(h, &(struct tok_key){sg->fsid, inode ? TOK_IALLOC : TOK_ALLOC, next}, TOK_XW,
			(struct tok_range){0, TOK_INF}, (struct tok_range){0, TOK_INF});
	rc = toknet_acquire(sg->tok, h, sg->tok_timeout);
	if (rc)
		return rc;
	*cur = next;
	*held = true;
	return MM_OK;
}

static int revoke_region(void *arg, const struct tok_key *k, struct tok_range r,
			 enum tok_mode want)
{
	fs_sg *sg = arg;

	(void)r;
	(void)want;
	return pp_flush(sg->pool, sg->mfsid, k->kind == TOK_IALLOC ? FS_INO_IMAP : FS_INO_BMAP, 0,
			UINT64_MAX);
}

/* ---- 5. mount, unmount ---- */

static int read_sgd(fs_sg *sg, char *err, size_t errsz)
{
	return fs_read_sgd(&sg->dio, sg->ndisks, &sg->sgd, NULL, err, errsz);
}

int sg_load_ifile(fs_sg *sg, char *err, size_t errsz)
{
	struct fs_inode in;
	uint8_t *data;
	pp_buf *b;
	int rc;

	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, 0, 0}, 0, FS_INODE_BYTES, PP_READ, &b,
		    (void **)&data);
	if (rc)
		return fs_errf(err, errsz, rc, "inode file block 0 unreadable");
	rc = fs_inode_decode(data, sg->fsid, 0, &in, err, errsz);
	pp_release(b);
	if (rc)
		return rc;
	sg_set_ifile(sg, &in);
	return MM_OK;
}

static void sg_free(fs_sg *sg)
{
	if (!sg)
		return;
	if (sg->log)
		fs_log_close(sg->log);
	sg_ord_fini(sg);
	if (sg->alloc)
		fs_alloc_close(sg->alloc);
	sg_ac_clear(sg);
	for (uint32_t i = 0; i < SG_INO_BUCKETS; i++) {
		while (sg->itab[i].head) {
			struct sg_ino *ip = sg->itab[i].head;

			sg->itab[i].head = ip->hnext;
			pthread_mutex_destroy(&ip->mu);
			free(ip->cur);
			free(ip);
		}
		pthread_mutex_destroy(&sg->itab[i].mu);
	}
	for (uint32_t i = 0; i < SG_AC_BUCKETS; i++)
		pthread_mutex_destroy(&sg->actab[i].mu);
	free(sg->log_map);
	sg_q_clear(sg);
	pthread_mutex_destroy(&sg->q_mu);
	while (sg->nmbfree)
		free(sg->mbfree[--sg->nmbfree]);
	pthread_mutex_destroy(&sg->mbfree_mu);
	free(sg);
}

void *sg_mb_get(fs_sg *sg)
{
	void *p = NULL;

	pthread_mutex_lock(&sg->mbfree_mu);
	if (sg->nmbfree)
		p = sg->mbfree[--sg->nmbfree];
	pthread_mutex_unlock(&sg->mbfree_mu);
	return p ? p : malloc(FS_MB);
}

void sg_mb_put(fs_sg *sg, void *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&sg->mbfree_mu);
	if (sg->nmbfree < SG_MBFREE_KEEP) {
		sg->mbfree[sg->nmbfree++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&sg->mbfree_mu);
	free(p);
}

static const struct pp_fs_ops data_ops = {sg_map_data, log_force_cb, sg_data_write_failed};
static const struct pp_fs_ops meta_ops = {map_meta_cb, log_force_cb, meta_write_failed};

int fs_sg_mount(const struct fs_mount_params *p, fs_sg **out, char *err, size_t errsz)
{
	fs_sg *sg;
	struct fs_bstore bs;
	bool reg_data = false, reg_meta = false;
	int rc;

	if (!p || !p->pool || !p->tok || !p->ndisks || !p->dio.read || !p->dio.write)
		return fs_errf(err, errsz, -EINVAL, "mount: missing parameters");
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return -ENOMEM;
	snprintf(sg->device, sizeof(sg->device), "%s", p->device ? p->device : "?");
	sg->ndisks = p->ndisks;
	sg->dio = p->dio;
	sg->pool = p->pool;
	sg->tok = p->tok;
	sg->node = p->node;
	sg->ro = p->readonly;
	sg->atime = p->atime;
	sg->nodiratime = p->nodiratime;
	sg->tok_timeout = p->token_timeout_ms;
	pthread_mutex_init(&sg->ifile_mu, NULL);
	pthread_mutex_init(&sg->alloc_mu, NULL);
	pthread_mutex_init(&sg->ialloc_mu, NULL);
	pthread_mutex_init(&sg->rename_mu, NULL);
	pthread_mutex_init(&sg->mbfree_mu, NULL);
	sg_ord_init(sg);
	for (uint32_t i = 0; i < SG_INO_BUCKETS; i++)
		pthread_mutex_init(&sg->itab[i].mu, NULL);
	for (uint32_t i = 0; i < SG_AC_BUCKETS; i++)
		pthread_mutex_init(&sg->actab[i].mu, NULL);

	rc = read_sgd(sg, err, errsz);
	if (rc) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err ? err : "");
		fs_errf(err, errsz, rc, "%s: %s", sg->device, why);
		goto fail;
	}
	if (p->fsid && p->fsid != sg->sgd.fsid) {
		rc = fs_errf(err, errsz, MM_EPROTO,
			     "%s: the disks hold file system id %" PRIu64 ", not %u", sg->device,
			     sg->sgd.fsid, p->fsid);
		goto fail;
	}
	if (sg->sgd.ndisks != p->ndisks) {
		rc = fs_errf(err, errsz, MM_EPROTO, "%s: the descriptor names %u disks, not %u",
			     sg->device, sg->sgd.ndisks, p->ndisks);
		goto fail;
	}
	sg->fsid = (uint32_t)sg->sgd.fsid;
	sg->mfsid = sg->fsid | FS_META_BIT;
	sg->B = sg->sgd.block_size;
	sg->S = sg->sgd.subblock_size;
	sg->mbper = sg->B / FS_MB;
	sg->maxrep = sg->sgd.meta_rep_max > sg->sgd.data_rep_max ? sg->sgd.meta_rep_max
								  : sg->sgd.data_rep_max;
	rc = pp_fs_register(sg->pool, sg->fsid, sg->B, &data_ops, sg);
	if (rc) {
		fs_errf(err, errsz, rc, "%s: pagepool registration (already mounted?)", sg->device);
		goto fail;
	}
	reg_data = true;
	rc = pp_fs_register(sg->pool, sg->mfsid, FS_MB, &meta_ops, sg);
	if (rc) {
		fs_errf(err, errsz, rc, "%s: pagepool registration of metadata", sg->device);
		goto fail;
	}
	reg_meta = true;
	toknet_set_revoke(sg->tok, TOK_INODE, sg_revoke_inode, sg);
	toknet_set_revoke(sg->tok, TOK_BR, sg_revoke_br, sg);
	toknet_set_revoke(sg->tok, TOK_ALLOC, revoke_region, sg);
	toknet_set_revoke(sg->tok, TOK_IALLOC, revoke_region, sg);
	rc = sg_load_ifile(sg, err, errsz);
	if (rc)
		goto fail;
	sg_alloc_bstore(sg, &bs);
	rc = fs_alloc_open(&sg->sgd, &bs, &sg->alloc, err, errsz);
	if (rc)
		goto fail;
	fs_alloc_set_busy(sg->alloc, sg_q_busy, sg);
	if (!sg->ro) {
		rc = log_start(sg, err, errsz);
		if (rc)
			goto fail;
		rc = sg_load_ifile(sg, err, errsz);	/* replay may have changed it */
		if (rc)
			goto fail;
		/* what a crash left unlinked but in use (each failure was
		 * logged; they stay orphans for the next mount) */
		(void)sg_orphans_recover(sg);
	}
	mm_notice(SUB, "%s: mounted (fsid %u, block size %u, %u disks%s)", sg->device, sg->fsid,
		  sg->B, sg->sgd.ndisks, sg->ro ? ", read-only" : "");
	*out = sg;
	return MM_OK;
fail:
	if (sg->breg_held)
		toknet_release(sg->tok, &sg->breg_h);
	if (sg->ireg_held)
		toknet_release(sg->tok, &sg->ireg_h);
	if (reg_meta)
		pp_fs_unregister(sg->pool, sg->mfsid);
	if (reg_data)
		pp_fs_unregister(sg->pool, sg->fsid);
	sg_free(sg);
	return fs_errno(rc);
}

int fs_sg_unmount(fs_sg *sg, bool force)
{
	int rc = 0;

	for (uint32_t i = 0; i < SG_INO_BUCKETS && !force; i++) {
		pthread_mutex_lock(&sg->itab[i].mu);
		for (struct sg_ino *ip = sg->itab[i].head; ip; ip = ip->hnext)
			if (ip->nopen)
				rc = -EBUSY;
		pthread_mutex_unlock(&sg->itab[i].mu);
	}
	if (rc)
		return rc;
	/* Inodes unlinked while the kernel still named them are freed now. */
	for (uint32_t i = 0; i < SG_INO_BUCKETS; i++)
		for (;;) {
			struct sg_ino *ip = NULL;

			pthread_mutex_lock(&sg->itab[i].mu);
			for (struct sg_ino *q = sg->itab[i].head; q; q = q->hnext)
				if (q->nlookup || q->nopen) {
					ip = q;
					break;
				}
			if (ip) {
				pthread_mutex_lock(&ip->mu);
				ip->nopen = 0;
				ip->refs++;
				pthread_mutex_unlock(&ip->mu);
			}
			pthread_mutex_unlock(&sg->itab[i].mu);
			if (!ip)
				break;
			fs_forget(sg, ip->ino, ip->nlookup);
			sg_iput(sg, ip);
		}
	pp_flush_fs(sg->pool, sg->fsid);
	pp_flush_fs(sg->pool, sg->mfsid);
	if (sg->log) {
		int lrc = fs_log_checkpoint(sg->log);

		if (lrc && lrc != MM_EBUSY)
			sg_logf(sg, lrc, "log checkpoint at unmount");
		fs_log_force(sg->log, UINT64_MAX);
	}
	if (sg->breg_held)
		toknet_release(sg->tok, &sg->breg_h);
	if (sg->ireg_held)
		toknet_release(sg->tok, &sg->ireg_h);
	for (int k = 0; k < TOK_NKINDS; k++)
		toknet_set_revoke(sg->tok, (enum tok_kind)k, NULL, NULL);
	pp_fs_unregister(sg->pool, sg->mfsid);
	pp_fs_unregister(sg->pool, sg->fsid);
	mm_notice(SUB, "%s: unmounted", sg->device);
	sg_free(sg);
	return 0;
}

const struct fs_sgd *fs_sg_sgd(const fs_sg *sg)
{
	return &sg->sgd;
}

void fs_sg_set_inval(fs_sg *sg, const struct fs_inval_ops *ops)
{
	if (ops) {
		sg->inval = *ops;
		sg->inval_set = true;
	} else {
		sg->inval_set = false;
	}
}

void fs_sg_get_stats(fs_sg *sg, struct fs_sg_stats *st)
{
	struct fs_log_stats ls = {0};

	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < SG_INO_BUCKETS; i++) {
		pthread_mutex_lock(&sg->itab[i].mu);
		for (struct sg_ino *ip = sg->itab[i].head; ip; ip = ip->hnext) {
			st->inodes_cached++;
			if (ip->nopen)
				st->inodes_open++;
		}
		pthread_mutex_unlock(&sg->itab[i].mu);
	}
	if (sg->log)
		fs_log_get_stats(sg->log, &ls);
	st->tx_committed = ls.commits;
	st->log_forces = ls.forces;
	st->blocks_allocated = sg->st_balloc;
	st->blocks_freed = sg->st_bfree;
	st->lookups = sg->st_lookups;
	st->creates = sg->st_creates;
	st->removes = sg->st_removes;
	st->reads = sg->st_reads;
	st->writes = sg->st_writes;
	st->read_bytes = sg->st_rbytes;
	st->write_bytes = sg->st_wbytes;
}
