/*
 * fs/sgreplay.c - the mount's replay of this node's log (fs/README.md, "The
 * stripe group at run time"): applied through the pagepool with the
 * metadata write-behind paused, bounded by writing the files that never
 * give a block back as it goes, and ended by dropping what the log freed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

#define SUB "fs"

/* Replay writes through the pagepool with no mapping needed up front: a
 * block a replayed transaction allocated is a hole until the same
 * transaction's inode record is applied after it, so nothing is written
 * but between transactions (rp_txdone) and at the end. */
struct rp_ctx {
	fs_sg *sg;
	int n;
	struct {
		uint8_t *d;
		pp_buf *b;
	} held[16];
	/* blocks of files that can lose them (inodes past the maps) that
	 * the replay dirtied: a later transaction may have freed them */
	struct pp_tag *dirt;
	size_t ndirt, cap;
	int err;			/* out of memory for <dirt> */
	char toobig[320];		/* why the replay stopped, for the mount's error */
	uint64_t flushes;		/* bounded-memory writes on the way */
	uint64_t after;			/* dirty bytes the last one left */
};

/* The inode file and the two maps never give a block back: what the
 * replay wrote into them has the same address at its end. */
#define RP_STABLE_INO 3u

static int rp_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct rp_ctx *c = arg;
	fs_sg *sg = c->sg;
	pp_buf *b;
	uint8_t *d;
	int rc;

	if (c->n == (int)(sizeof(c->held) / sizeof(c->held[0])))
		return MM_ETOOBIG;
	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, ino, blk}, 0, FS_MB,
		    write ? PP_MODIFY : PP_READ, &b, (void **)&d);
	if (rc)
		return rc;
	if (!write && fs_mkfs_all_zero(d, FS_MB)) {
		pp_release(b);
		return MM_ENOENT;
	}
	c->held[c->n].d = d;
	c->held[c->n].b = b;
	c->n++;
	*data = d;
	return MM_OK;
}

static void rp_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct rp_ctx *c = arg;

	if (dirty && ino >= RP_STABLE_INO &&
	    (!c->ndirt || c->dirt[c->ndirt - 1].ino != ino || c->dirt[c->ndirt - 1].blk != blk)) {
		if (c->ndirt == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 1024;
			struct pp_tag *d = realloc(c->dirt, cap * sizeof(*d));

			if (d) {
				c->dirt = d;
				c->cap = cap;
			} else {
				c->err = MM_ENOMEM;
			}
		}
		if (c->ndirt < c->cap)
			c->dirt[c->ndirt++] = (struct pp_tag){c->sg->mfsid, ino, blk};
	}
	for (int i = c->n - 1; i >= 0; i--)
		if (c->held[i].d == data) {
			if (dirty)
				pp_mark_dirty(c->held[i].b, 0, FS_MB, 0);
			pp_release(c->held[i].b);
			c->held[i] = c->held[--c->n];
			return;
		}
}

static int rp_punch(void *arg, uint64_t ino, uint64_t blk)
{
	uint8_t *d;
	int rc = rp_get(arg, ino, blk, true, &d);

	if (rc)
		return rc;
	memset(d, 0, FS_MB);
	rp_put(arg, ino, blk, d, true);
	return MM_OK;
}

static int tag_cmp(const void *a, const void *b)
{
	const struct pp_tag *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/* Drop, unwritten, the replayed blocks that the state reached no longer
 * maps (a later transaction freed them: a removed directory's blocks, a
 * truncated file's indirect blocks); their space may hold another file's
 * data now. The rest stay dirty. */
static int rp_drop_unmapped(struct rp_ctx *c)
{
	fs_sg *sg = c->sg;
	size_t k = 0;

	if (c->err)
		return c->err;
	if (!c->ndirt)
		return MM_OK;
	qsort(c->dirt, c->ndirt, sizeof(*c->dirt), tag_cmp);
	for (size_t i = 0; i < c->ndirt; i++) {
		struct pp_map m;
		int rc;

		if (k && !tag_cmp(&c->dirt[k - 1], &c->dirt[i]))
			continue;
		rc = sg_map_meta(sg, c->dirt[i].ino, c->dirt[i].blk, &m);
		if (rc == MM_ENOENT) {
			rc = pp_discard(sg->pool, sg->mfsid, c->dirt[i].ino, c->dirt[i].blk,
					c->dirt[i].blk + 1);
			if (rc)
				return rc;
			continue;
		}
		if (rc)
			return rc;
		c->dirt[k++] = c->dirt[i];
	}
	c->ndirt = k;
	return MM_OK;
}

/*
 * After each replayed transaction (fs_log_replay's txdone): past half the
 * dirty limit, write the inode file's and the maps' blocks as this commit
 * left them. The write-behind is paused for the replay, so without this
 * a log that touched more blocks than the pool may hold dirty never
 * finished replaying. Only those files: their blocks keep their address
 * to the end of the log, while a directory's or an indirect block's may be
 * freed by a later transaction and hold another file's data by the crash.
 */
static int rp_txdone(void *arg)
{
	struct rp_ctx *c = arg;
	fs_sg *sg = c->sg;
	struct pp_stats st;
	char err[256];
	int rc;

	pp_get_stats(sg->pool, &st);
	/* what the last write left (blocks it may not write) does not
	 * count: else every transaction would scan the pool again */
	if (st.dirty_bytes <= st.dirty_limit / 2 || st.dirty_bytes <= c->after + st.dirty_limit / 8)
		return MM_OK;
	rc = sg_load_ifile(sg, err, sizeof(err));	/* the inode file may have grown */
	if (rc) {
		sg_logf(sg, rc, "log replay: %s", err);
		return rc;
	}
	for (uint64_t ino = 0; ino < RP_STABLE_INO; ino++)
		pp_flush(sg->pool, sg->mfsid, ino, 0, UINT64_MAX);
	c->flushes++;
	rc = atomic_load_explicit(&sg->meta_err, memory_order_acquire);
	if (rc)
		return rc;
	/* the rest waits for the end: past the limit, the pool would fill
	 * with blocks nothing may write, and the mount wait for ever */
	pp_get_stats(sg->pool, &st);
	c->after = st.dirty_bytes;
	if (st.dirty_bytes > st.dirty_limit) {
		snprintf(c->toobig, sizeof(c->toobig),
			 "%s: log replay: the directory and indirect blocks it changed need more "
			 "than the pagepool's dirty limit (%" PRIu64 " MiB dirty, limit %" PRIu64
			 " MiB); raise pagepool (mmchconfig pagepool=...) and mount again: the log "
			 "is intact",
			 sg->device, st.dirty_bytes >> 20, st.dirty_limit >> 20);
		mm_error(SUB, "%s", c->toobig);
		return MM_ENOMEM;
	}
	return MM_OK;
}

/* Replay this node's log (a crash left it dirty), write what it changed,
 * and forget every address and block cached before it. */
int sg_replay(fs_sg *sg, const struct fs_log_io *io, char *err, size_t errsz)
{
	struct rp_ctx c = {.sg = sg};
	struct fs_bstore bs = {rp_get, rp_put, rp_punch, &c};
	struct fs_log_replay r;
	int rc;

	sg_ac_clear(sg);
	sg->replaying = true;
	/* Write-behind must not map a replayed block before the records
	 * that make it reachable are applied (a block a transaction grew a
	 * file by is a hole until that transaction's inode record is): only
	 * rp_txdone, between transactions, and the flush at the end write. */
	pp_fs_pause(sg->pool, sg->mfsid, true);
	rc = fs_log_replay(io, sg->fsid, sg->log_ino, sg->log_nblocks, &bs, rp_txdone, &r, err,
			   errsz);
	if (rc && c.toobig[0] && err)
		snprintf(err, errsz, "%s", c.toobig);
	if (!rc)
		rc = sg_load_ifile(sg, err, errsz);	/* the inode file's own record, replayed */
	if (!rc) {
		rc = rp_drop_unmapped(&c);
		if (rc)
			fs_errf(err, errsz, rc, "log replay: finding the blocks it freed");
	}
	/* A replay that stopped part way leaves blocks as some transaction
	 * in the middle left them, at addresses a later one may have freed:
	 * none of those is written (the next mount replays it all again). */
	for (size_t i = 0; rc && i < c.ndirt; i++)
		pp_discard(sg->pool, sg->mfsid, c.dirt[i].ino, c.dirt[i].blk, c.dirt[i].blk + 1);
	pp_fs_pause(sg->pool, sg->mfsid, false);
	free(c.dirt);
	if (rc) {
		sg->replaying = false;
		return rc;
	}
	fs_log_replay_done(&r);	/* the orphans: fs_log_open recovers them too */
	if (r.txs)
		mm_notice(SUB, "%s: log of node %u replayed: %" PRIu64 " transactions, %" PRIu64
			  " records%s%s", sg->device, sg->node, r.txs, r.records,
			  r.torn ? " (torn tail ignored)" : "",
			  c.flushes ? " (written back on the way: more than the pagepool holds)" : "");
	/* still "replaying" while the replayed blocks go out: no address is
	 * cached for them, and write-behind maps them by reading the trees,
	 * which no transaction holds before the mount ends (sg.c, "Why an
	 * address cache") */
	sg_ac_clear(sg);
	rc = pp_drop_fs(sg->pool, sg->mfsid);
	sg->replaying = false;
	if (!rc)
		rc = atomic_load_explicit(&sg->meta_err, memory_order_acquire);
	if (rc)
		return fs_errf(err, errsz, rc, "writing the replayed log's blocks failed");
	return MM_OK;
}

