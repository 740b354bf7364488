/*
 * fs/data.c - file data: read, write, truncate, fsync, lseek.
 *
 * Data is not logged (fs/README.md, "The log"). The rule that keeps a
 * crash from showing bytes a file never held: a transaction that makes
 * bytes visible (a new block pointer, or a size that grows over bytes of
 * an existing block) is durable only after those bytes are on disk. A
 * write hands the blocks it exposes to sgorder.c, which writes them
 * before the log write that holds its commit (ordered data); the other
 * paths here still flush them before committing. Overwrites inside the
 * file are pure write-behind. Bytes of the last block past the end of file
 * are undefined on disk; whatever moves the end over them zeroes them.
 * Tiny files live in the inode (logged with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/sg_int.h"

static int br_take(fs_sg *sg, uint64_t ino, enum tok_mode mode, uint64_t off, uint64_t len,
		   struct tok_holder *h)
{
	uint64_t end = len && off + len > off ? off + len : TOK_INF;

	tok_holder_init(h, &(struct tok_key){sg->fsid, TOK_BR, ino}, mode,
			(struct tok_range){off, end}, (struct tok_range){0, TOK_INF});
	return toknet_acquire(sg->tok, h, sg->tok_timeout);
}

/* relatime: atime moves when it is not newer than mtime or ctime, or a
 * day old (mount's atime: every read; noatime: never; nodiratime: never
 * for a directory). */
bool sg_atime_due(const fs_sg *sg, const struct fs_inode *in)
{
	struct fs_time now;

	if (sg->ro || sg->atime == FS_ATIME_NOATIME || (sg->nodiratime && S_ISDIR(in->mode)))
		return false;
	if (sg->atime == FS_ATIME_STRICT)
		return true;
	sg_now(&now);
	return in->atime.sec < in->mtime.sec ||
	       (in->atime.sec == in->mtime.sec && in->atime.nsec <= in->mtime.nsec) ||
	       in->atime.sec < in->ctime.sec ||
	       (in->atime.sec == in->ctime.sec && in->atime.nsec <= in->ctime.nsec) ||
	       now.sec - in->atime.sec >= 24 * 3600;
}

void sg_atime_update(fs_sg *sg, struct sg_ino *ip)
{
	struct tok_holder h;
	struct fs_inode in;
	struct sg_tx *tx;

	if (sg_itok(sg, ip, TOK_XW, &h))
		return;
	if (!sg_iread(sg, ip, &in) && sg_atime_due(sg, &in) && !sg_tx_begin(sg, 0, &tx)) {
		sg_now(&in.atime);
		if (sg_tx_inode(tx, ip, &in))
			sg_tx_abort(tx);
		else
			sg_tx_commit(tx);
	}
	sg_itok_release(sg, &h);
}

ssize_t fs_read(fs_sg *sg, fs_file *f, void *buf, size_t len, uint64_t off)
{
	bool due = false;
	ssize_t n = sg_read(sg, f, buf, len, off, &due);

	if (n >= 0 && due)
		sg_atime_update(sg, f->ip);
	return n;
}

ssize_t sg_read(fs_sg *sg, fs_file *f, void *buf, size_t len, uint64_t off, bool *due)
{
	struct sg_ino *ip = f->ip;
	struct tok_holder ih, bh;
	struct fs_inode in;
	pp_stream *stream = NULL;
	size_t done = 0;
	int rc;

	if (f->dir)
		return -EISDIR;
	rc = sg_itok(sg, ip, TOK_RO, &ih);
	if (rc)
		return fs_errno(rc);
	rc = sg_iread(sg, ip, &in);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	*due = sg_atime_due(sg, &in);
	if (off >= in.size || !len) {
		sg_itok_release(sg, &ih);
		return 0;
	}
	if (len > in.size - off)
		len = (size_t)(in.size - off);
	if (in.flags & FS_IF_DATA_IN_INODE) {
		memcpy(buf, in.tail + off, len);
		sg_itok_release(sg, &ih);
		atomic_fetch_add(&sg->st_reads, 1);
		atomic_fetch_add(&sg->st_rbytes, len);
		return (ssize_t)len;
	}
	rc = br_take(sg, ip->ino, TOK_RO, off, len, &bh);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	/* The open's stream reads ahead (pagepool prefetch); concurrent
	 * readers of one open (the kernel's readahead) that find it busy
	 * read plainly. */
	if (!pthread_mutex_trylock(&f->smu)) {
		if (!f->stream && pp_stream_open(sg->pool, sg->fsid, ip->ino, in.size, &f->stream))
			f->stream = NULL;
		stream = f->stream;
		if (stream)
			pp_stream_set_size(stream, in.size);
		else
			pthread_mutex_unlock(&f->smu);
	}
	while (done < len) {
		uint64_t pos = off + done, blk = pos / sg->B;
		uint32_t boff = (uint32_t)(pos % sg->B);
		size_t n = sg->B - boff;
		pp_buf *b;
		void *d;

		if (n > len - done)
			n = len - done;
		if (stream)
			rc = pp_stream_get(stream, blk, boff, (uint32_t)n, &b, &d);
		else
			rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, ip->ino, blk}, boff,
				    (uint32_t)n, PP_READ, &b, &d);
		if (rc)
			break;
		memcpy((uint8_t *)buf + done, (uint8_t *)d + boff, n);
		pp_release(b);
		done += n;
	}
	if (stream)
		pthread_mutex_unlock(&f->smu);
	toknet_release(sg->tok, &bh);
	sg_itok_release(sg, &ih);
	atomic_fetch_add(&sg->st_reads, 1);
	atomic_fetch_add(&sg->st_rbytes, done);
	if (rc && !done) {
		sg_logf(sg, rc, "inode %" PRIu64 ": read at %" PRIu64, ip->ino, off);
		return fs_errno(rc);
	}
	return (ssize_t)done;
}

/* Zero bytes [from, to) of one existing block of the file (the end of
 * file moves over them); nothing if the block is a hole. */
static int zero_range(fs_sg *sg, struct fs_inode *in, uint64_t from, uint64_t to)
{
	uint64_t blk = from / sg->B;
	uint32_t boff = (uint32_t)(from % sg->B), n;
	struct fs_tree tr;
	struct fs_ptr p;
	pp_buf *b;
	void *d;
	int rc;

	if (to <= from)
		return MM_OK;
	if (to > (blk + 1) * sg->B)
		to = (blk + 1) * sg->B;
	n = (uint32_t)(to - from);
	sg_ro_tree(sg, &tr);
	rc = fs_tree_lookup(&tr, in, blk, &p);
	if (rc <= 0)
		return rc;
	rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in->ino, blk}, boff, n, PP_MODIFY, &b, &d);
	if (rc)
		return rc;
	memset((uint8_t *)d + boff, 0, n);
	pp_mark_dirty(b, boff, n, 0);
	pp_release(b);
	return MM_OK;
}

/*
 * The subblocks a run grew by are past the end of file, so zeros: made
 * so in its buffer (dirty, written with the rest) rather than read from
 * the disk, where they hold whatever the space held before, just for
 * the write that follows to cover part of them.
 */
static int zero_new_tail(fs_sg *sg, const struct fs_inode *in, uint64_t n, uint32_t have,
			 uint32_t want)
{
	pp_buf *b;
	void *d;
	int rc;

	rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in->ino, n}, have * sg->S,
		    (want - have) * sg->S, PP_OVERWRITE, &b, &d);
	if (rc)
		return rc;
	memset((uint8_t *)d + (size_t)have * sg->S, 0, (size_t)(want - have) * sg->S);
	pp_mark_dirty(b, have * sg->S, (want - have) * sg->S, 0);
	pp_release(b);
	return MM_OK;
}

/*
 * A fragment grows where it is when the subblocks after it are free in
 * every replica's full block, in this node's region (a file appended to
 * in small writes, such as an untar's, would otherwise move at every
 * subblock it crosses, its old bytes written first where they were:
 * sgorder.c). MM_ERANGE: it cannot (nothing changed).
 */
static int extend_in_place(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, uint64_t n,
			   const struct fs_ptr *old, uint32_t have, uint32_t want)
{
	unsigned nrep = in->data_rep ? in->data_rep : 1;
	struct pp_map m;
	int r, rc;

	rc = sg_tx_lock_alloc(tx);
	if (rc)
		return rc;
	if (!sg->breg_held)
		return MM_ERANGE;
	for (r = 0; r < FS_MAX_REPLICAS; r++) {
		uint32_t reg;

		if (!old->da[r])
			continue;
		if (fs_bmap_region_of(sg->alloc, old->da[r], &reg) || reg != sg->breg)
			break;
		rc = fs_bmap_extend(sg->alloc, old->da[r], have, want, tx->msg, sizeof(tx->msg));
		if (rc)
			break;
	}
	if (r < FS_MAX_REPLICAS) {
		/* give back what the replicas before took */
		for (int k = 0; k < r; k++)
			if (old->da[k])
				fs_bmap_free(sg->alloc, fs_da_make(fs_da_disk(old->da[k]),
								   fs_da_sub(old->da[k]) + have),
					     want - have, NULL, 0);
		return rc && rc != MM_ERANGE ? rc : MM_ERANGE;
	}
	in->subblocks += (uint64_t)(want - have) * nrep;
	atomic_fetch_add(&sg->st_balloc, 1);
	sg_ptr_to_map(sg, old, 0, want < sg->B / sg->S ? want * sg->S : 0, &m);
	sg_tx_ac_put(tx, sg->fsid, in->ino, n, &m);
	return zero_new_tail(sg, in, n, have, want);
}

/*
 * Make block <n> of <in> take <want> subblocks where it takes <have> now
 * (0: a hole): a new block or fragment (*fresh), a fragment moved to a
 * larger run (its bytes stay in the pagepool buffer, dirty, which is
 * written to the new place; the old run is freed after commit), or a run
 * whose tail is freed. Subblock counts follow. A new run's buffer is
 * zeros, dirty, unless the caller fills all of it itself (<filled>:
 * fs_write, which zeroes what its bytes do not cover).
 */
static int resize_block2(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, uint64_t n,
			 uint32_t have, uint32_t want, bool filled, bool *fresh)
{
	unsigned nrep = in->data_rep ? in->data_rep : 1;
	struct fs_ptr old = {0}, p;
	struct fs_tree tr, *t;
	struct pp_map m;
	int rc, nf0;

	*fresh = false;
	if (have == want)
		return MM_OK;
	if (have) {
		sg_ro_tree(sg, &tr);
		rc = fs_tree_lookup(&tr, in, n, &old);
		if (rc <= 0)
			return rc ? rc : MM_EPROTO;
	}
	if (want && want < have) {
		/* the tail's bytes still dirty in the buffer go to the run
		 * they belong to now, while it is this file's: after the free
		 * write-behind must never write them there */
		rc = pp_flush(sg->pool, sg->fsid, in->ino, n, n + 1);
		if (rc)
			return rc;
		nf0 = tx->nfree;
		for (int r = 0; r < FS_MAX_REPLICAS; r++) {
			struct fs_ptr tail = {0};

			if (!old.da[r])
				continue;
			tail.da[0] = fs_da_make(fs_da_disk(old.da[r]), fs_da_sub(old.da[r]) + want);
			rc = sg_tx_free(tx, &tail, have - want, false, in->ino, n);
			if (rc)
				return rc;
		}
		for (int i = nf0; i < tx->nfree; i++)
			tx->fr[i].moved = true;
		in->subblocks -= (uint64_t)(have - want) * nrep;
		sg_ptr_to_map(sg, &old, 0, want * sg->S, &m);
		sg_tx_ac_put(tx, sg->fsid, in->ino, n, &m);
		return MM_OK;
	}
	if (have && want > have) {
		rc = extend_in_place(sg, tx, in, n, &old, have, want);
		if (rc != MM_ERANGE)
			return rc;
	}
	/* A run that moves: its bytes are read into the buffer, held
	 * exclusively (a write of it to the old run in flight finishes
	 * first) while the address changes, and only then dirtied: no write
	 * can go to the old run once it is freed and someone else's. */
	pp_buf *ob = NULL;

	if (have) {
		void *d;

		/* an earlier write's commit, not yet durable, has the run
		 * where it is: its bytes go there first (sgorder.c), and the
		 * buffer is clean while held across the allocation below,
		 * which may wait for the log */
		sg_ord_settle(sg, in->ino, n);

		rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in->ino, n}, 0, have * sg->S,
			    PP_MODIFY, &ob, &d);
		if (rc)
			return rc;
	}
	rc = sg_tx_alloc_data_n(tx, in, n, want, &p);
	if (!rc) {
		t = sg_tx_tree(tx, in->ino);
		rc = fs_tree_set(t, in, n, &p, NULL);
		if (rc < 0) {
			int frc, nf = tx->nfree;

			sg_logf(sg, rc, "%s", t->err);
			/* the tree still has the old run (or a hole) there: the
			 * cached address must not send write-behind to the new
			 * run, and the new run goes back at commit, which a
			 * write that filled earlier blocks still makes */
			sg_tx_ac_drop(tx, sg->fsid, in->ino, n);
			frc = sg_tx_free(tx, &p, want, false, in->ino, n);
			for (int i = nf; i < tx->nfree; i++)
				tx->fr[i].moved = true;
			if (frc)
				rc = frc;
		}
	}
	if (ob) {
		if (rc >= 0)
			pp_mark_dirty(ob, 0, have * sg->S, 0);
		pp_release(ob);
	}
	if (rc < 0)
		return rc;
	if (have) {
		nf0 = tx->nfree;
		rc = sg_tx_free(tx, &old, have, false, in->ino, n);
		if (rc)
			return rc;
		for (int i = nf0; i < tx->nfree; i++)
			tx->fr[i].moved = true;
	}
	in->subblocks += (uint64_t)(want - have) * nrep;
	*fresh = !have;
	if (have)
		return zero_new_tail(sg, in, n, have, want);
	sg_tx_fresh_data(tx, in->ino, n);
	if (!filled) {
		/* a new run holds what its disk held before: zeros, written
		 * before anything points at it (the caller flushes), are what
		 * the file has there until it writes */
		pp_buf *b;
		void *d;

		rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in->ino, n}, 0, want * sg->S,
			    PP_OVERWRITE, &b, &d);
		if (rc)
			return rc;
		memset(d, 0, (size_t)want * sg->S);
		pp_mark_dirty(b, 0, want * sg->S, 0);
		pp_release(b);
	}
	return MM_OK;
}

static int resize_block(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, uint64_t n,
			uint32_t have, uint32_t want, bool *fresh)
{
	return resize_block2(sg, tx, in, n, have, want, false, fresh);
}

/* What block <n> takes now: its share of the size, or a whole block for
 * a block mapped past the end (KEEP_SIZE's). */
static int have_of(fs_sg *sg, const struct fs_inode *in, uint64_t n, uint32_t *have)
{
	struct fs_tree tr;
	struct fs_ptr p;
	int rc;

	sg_ro_tree(sg, &tr);
	rc = fs_tree_lookup(&tr, in, n, &p);
	if (rc < 0)
		return rc;
	*have = rc == 0 ? 0 : sg_nsub(sg, n, in->size) ? sg_nsub(sg, n, in->size) : sg->B / sg->S;
	return MM_OK;
}

/* A file in the inode moves to block 0 (it is about to outgrow the tail
 * area): the bytes are written there first. */
int sg_data_from_bytes(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, const void *src,
		       bool *flush0)
{
	struct fs_ptr p = {0};
	struct fs_tree *t;
	int rc;

	*flush0 = false;
	if (in->size) {
		pp_buf *b;
		void *d;

		uint32_t run = sg_nsub(sg, 0, in->size) * sg->S;

		rc = sg_tx_alloc_data_n(tx, in, 0, sg_nsub(sg, 0, in->size), &p);
		if (rc)
			return rc;
		sg_tx_fresh_data(tx, in->ino, 0);
		/* whole subblocks, zeros past the size: nothing is read from
		 * the new run's old contents */
		rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in->ino, 0}, 0, run, PP_OVERWRITE,
			    &b, &d);
		if (rc)
			return rc;
		memcpy(d, src, in->size);
		memset((uint8_t *)d + in->size, 0, run - in->size);
		pp_mark_dirty(b, 0, run, 0);
		pp_release(b);
		in->subblocks += (uint64_t)sg_nsub(sg, 0, in->size) * (in->data_rep ? in->data_rep : 1);
		*flush0 = true;
	}
	t = sg_tx_tree(tx, in->ino);
	rc = fs_tree_from_inline(t, in, &p);
	if (rc < 0)
		sg_logf(sg, rc, "%s", t->err);
	return rc < 0 ? rc : MM_OK;
}

static int from_inline(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, bool *flush0)
{
	return sg_data_from_bytes(sg, tx, in, in->tail, flush0);
}

ssize_t fs_write(fs_sg *sg, const struct fs_cred *c, fs_file *f, const void *buf, size_t len,
		 uint64_t off)
{
	struct sg_ino *ip = f->ip;
	struct tok_holder ih, bh;
	struct fs_inode in;
	struct sg_tx *tx = NULL;
	uint64_t end, old, newsize, flush_lo = UINT64_MAX, grown = UINT64_MAX;
	bool flush0 = false, expose, dropped = false;
	size_t done = 0;
	int rc;

	if (sg->ro)
		return -EROFS;
	if (f->dir)
		return -EISDIR;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	rc = sg_itok(sg, ip, TOK_XW, &ih);
	if (rc)
		return fs_errno(rc);
	rc = sg_iread(sg, ip, &in);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	if (f->flags & O_APPEND)
		off = in.size;
	if (!len) {
		sg_itok_release(sg, &ih);
		return 0;
	}
	end = off + len;
	if (end < off || end > (uint64_t)INT64_MAX ||
	    end / sg->B >= fs_tree_max_block(sg->B)) {
		sg_itok_release(sg, &ih);
		return -EFBIG;
	}
	rc = br_take(sg, ip->ino, TOK_XW, off, len, &bh);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	old = in.size;
	atomic_store(&ip->wrote, true);
	rc = sg_tx_begin(sg, 0, &tx);
	if (rc)
		goto out;
	if (in.flags & FS_IF_DATA_IN_INODE) {
		if (end <= FS_TAIL_BYTES) {
			if (off > in.size)
				memset(in.tail + in.size, 0, off - in.size);
			memcpy(in.tail + off, buf, len);
			if (end > in.size)
				in.size = end;
			in.tail_len = (uint16_t)in.size;
			done = len;
			goto meta;
		}
		rc = from_inline(sg, tx, &in, &flush0);
		if (rc)
			goto out;
	}
	newsize = end > old ? end : old;
	expose = end > old || flush0;
	/* The old last block, a fragment, takes its new size (whole before
	 * a later block) before the zeros below dirty its buffer past the
	 * fragment: a write of that buffer to the old, shorter run would
	 * spill over whatever follows it on disk. */
	if (old % sg->B && off > old) {
		uint64_t l = old / sg->B;
		uint32_t have;
		bool fresh;

		rc = have_of(sg, &in, l, &have);
		if (!rc)
			rc = resize_block(sg, tx, &in, l, have, sg_nsub(sg, l, newsize), &fresh);
		if (rc)
			goto out;
		flush_lo = grown = l;
	}
	/* the end of file moves over undefined bytes of its last block */
	if (off > old && old % sg->B) {
		rc = zero_range(sg, &in, old, off);
		if (rc)
			goto out;
	}
	while (done < len) {
		uint64_t pos = off + done, blk = pos / sg->B;
		uint32_t boff = (uint32_t)(pos % sg->B), have;
		size_t n = sg->B - boff;
		bool fresh = false;
		pp_buf *b;
		void *d;

		if (n > len - done)
			n = len - done;
		rc = MM_OK;
		if (blk == grown)
			have = sg_nsub(sg, blk, newsize);	/* already grown above */
		else
			rc = have_of(sg, &in, blk, &have);
		if (!rc)
			rc = resize_block2(sg, tx, &in, blk, have, sg_nsub(sg, blk, newsize), true,
					   &fresh);
		if (rc)
			break;
		if (have != sg_nsub(sg, blk, newsize))
			expose = true;
		if (fresh) {
			/* a new block (a hole filled, or the file grown): every
			 * byte of its run that the write does not cover is zero,
			 * on disk too, before anything points at it */
			uint32_t run = sg_nsub(sg, blk, newsize) * sg->S;

			if (run < boff + n)
				run = (uint32_t)(boff + n);
			rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in.ino, blk}, 0, run,
				    PP_OVERWRITE, &b, &d);
			if (!rc) {
				memset(d, 0, boff);
				memset((uint8_t *)d + boff + n, 0, run - boff - n);
			}
		} else {
			bool whole = boff % sg->S == 0 && (n % sg->S == 0 || pos + n >= old);

			rc = pp_get(sg->pool, &(struct pp_tag){sg->fsid, in.ino, blk}, boff,
				    (uint32_t)n, whole ? PP_OVERWRITE : PP_MODIFY, &b, &d);
		}
		if (rc)
			break;
		memcpy((uint8_t *)d + boff, (const uint8_t *)buf + done, n);
		if (fresh)
			pp_mark_dirty(b, 0, sg_nsub(sg, blk, newsize) * sg->S > boff + n
						    ? sg_nsub(sg, blk, newsize) * sg->S
						    : (uint32_t)(boff + n), 0);
		else
			pp_mark_dirty(b, boff, (uint32_t)n, 0);
		pp_release(b);
		done += n;
	}
	if (rc < 0 && !done)
		goto out;
	rc = MM_OK;
	if (off + done > in.size)
		in.size = off + done;
	/* data before the pointer or size that shows it (see the top):
	 * written before the log holds the commit, or here */
	if (expose && done) {
		uint64_t lo = flush0 ? 0 : flush_lo < off / sg->B ? flush_lo : off / sg->B;
		uint64_t hi = (off + done - 1) / sg->B + 1;

		if (sg_ord_add(tx, in.ino, lo, hi) != MM_OK) {
			rc = pp_flush(sg->pool, sg->fsid, in.ino, lo, hi);
			if (rc)
				goto out;
		}
	}
meta:
	{
		struct fs_time now;

		sg_now(&now);
		in.mtime = in.ctime = now;
	}
	if (c && !fs_cred_fsetid(c) && (in.mode & (S_ISUID | S_ISGID))) {
		uint32_t m0 = in.mode;

		sg_drop_suid(c, &in);
		dropped = in.mode != m0;
	}
	/* a positive errno: fs_errno below passes it on */
	rc = -sg_kill_caps(sg, tx, ip, &in);
	if (rc)
		goto out;
	rc = sg_tx_commit_inode(tx, ip, &in);
	tx = NULL;
	if (!rc && dropped)
		atomic_store(&f->privs_dropped, true);
out:
	if (tx)
		sg_tx_abort(tx);
	toknet_release(sg->tok, &bh);
	sg_itok_release(sg, &ih);
	if (rc)
		return rc == MM_ERANGE ? -ENOSPC : fs_errno(rc);
	atomic_fetch_add(&sg->st_writes, 1);
	atomic_fetch_add(&sg->st_wbytes, done);
	return (ssize_t)done;
}

/* The block the end of a file of <size> lies in, if mapped, takes the
 * fragment that size gives it (what it takes now is by <in>'s size). */
static int fit_end_block(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, uint64_t size)
{
	uint64_t e = size / sg->B;
	uint32_t have;
	bool fresh;
	int rc;

	rc = have_of(sg, in, e, &have);
	if (!rc && have)
		rc = resize_block(sg, tx, in, e, have, sg_nsub(sg, e, size), &fresh);
	return rc;
}

/* A file in its inode moves to block 0 (blocks are about to be given to
 * it), in a transaction of its own. */
static int out_of_inode(fs_sg *sg, struct sg_ino *ip, struct fs_inode *in)
{
	struct sg_tx *tx;
	bool flush0;
	int rc;

	rc = sg_tx_begin(sg, 0, &tx);
	if (rc)
		return rc;
	rc = from_inline(sg, tx, in, &flush0);
	if (!rc && flush0)
		rc = pp_flush(sg->pool, sg->fsid, in->ino, 0, 1);
	if (!rc)
		rc = sg_tx_inode(tx, ip, in);
	if (rc) {
		sg_tx_abort(tx);
		return rc;
	}
	return sg_tx_commit(tx);
}

/* Set the size of <in> (token xw held by the caller), in transactions of
 * bounded size; <in> is updated and committed. */
int sg_truncate(fs_sg *sg, struct sg_ino *ip, struct fs_inode *in, uint64_t size)
{
	struct sg_tx *tx;
	int rc;

	atomic_store(&ip->wrote, true);
	if (size > (uint64_t)INT64_MAX || size / sg->B >= fs_tree_max_block(sg->B))
		return MM_ETOOBIG;
	if (in->flags & FS_IF_DATA_IN_INODE) {
		if (size <= FS_TAIL_BYTES || S_ISDIR(in->mode)) {
			rc = sg_tx_begin(sg, 0, &tx);
			if (rc)
				return rc;
			if (size > in->size)
				memset(in->tail + in->size, 0, size - in->size);
			else
				memset(in->tail + size, 0, in->size - size);
			in->size = size;
			if (!S_ISDIR(in->mode))
				in->tail_len = (uint16_t)size;
			return sg_tx_commit_inode(tx, ip, in);
		}
		/* growing past the tail area: block 0 holds the bytes */
		rc = out_of_inode(sg, ip, in);
		if (rc)
			return rc;
	}
	if (size > in->size) {
		uint64_t old = in->size, l = old / sg->B;
		bool fresh;

		rc = sg_tx_begin(sg, 0, &tx);
		if (rc)
			return rc;
		if (old % sg->B) {
			uint32_t have;

			/* the old last block grows (a larger fragment, or whole) and
			 * its bytes past the old end become zeros, on disk before
			 * the size that shows them */
			rc = have_of(sg, in, l, &have);
			if (!rc)
				rc = resize_block(sg, tx, in, l, have, sg_nsub(sg, l, size), &fresh);
			if (!rc)
				rc = zero_range(sg, in, old, size);
			if (!rc)
				rc = pp_flush(sg->pool, sg->fsid, in->ino, l, l + 1);
			if (rc) {
				sg_tx_abort(tx);
				return rc;
			}
		}
		/* the new end inside a whole block that KEEP_SIZE put past the
		 * old end: it becomes the last fragment */
		if (size % sg->B && (size / sg->B != l || !(old % sg->B)) &&
		    (rc = fit_end_block(sg, tx, in, size)) != MM_OK) {
			sg_tx_abort(tx);
			return rc;
		}
		in->size = size;
		return sg_tx_commit_inode(tx, ip, in);
	}
	for (;;) {
		struct fs_tree *t;
		bool more = false;
		int64_t n;
		int nf0;

		rc = sg_tx_begin(sg, 0, &tx);
		if (rc)
			return rc;
		tx->frag_size = S_ISDIR(in->mode) ? UINT64_MAX : in->size;
		tx->metafile = S_ISDIR(in->mode);	/* the blocks freed have the old size's shapes */
		nf0 = tx->nfree;
		t = sg_tx_tree(tx, in->ino);
		n = fs_tree_truncate(t, in, size, SG_TX_MAXFREE / FS_MAX_REPLICAS / 2, &more);
		if (n < 0) {
			sg_logf(sg, (int)n, "%s", t->err);
			sg_tx_abort(tx);
			return (int)n;
		}
		for (int i = nf0; i < tx->nfree; i++)
			if (!tx->fr[i].meta)	/* indirect blocks: counted at commit */
				in->subblocks -= in->subblocks >= tx->fr[i].nsub ? tx->fr[i].nsub
										 : in->subblocks;
		/* the new last block keeps a fragment of what it still holds */
		if (!more && size % sg->B && (rc = fit_end_block(sg, tx, in, size)) != MM_OK) {
			sg_tx_abort(tx);
			return rc;
		}
		if (!more)
			in->size = size;
		rc = sg_tx_inode(tx, ip, in);
		if (rc) {
			sg_tx_abort(tx);
			return rc;
		}
		rc = sg_tx_commit(tx);
		if (rc || !more)
			return rc;
	}
}

/* Block <n> of <in>, taking <have> subblocks, becomes a hole; a
 * transaction whose free list fills is committed and *txp begun anew. */
static int punch_block(fs_sg *sg, struct sg_tx **txp, struct sg_ino *ip, struct fs_inode *in,
		       uint64_t n, uint32_t have)
{
	struct sg_tx *tx = *txp;
	struct fs_ptr old_p, hole = {0};
	struct fs_tree *t = sg_tx_tree(tx, in->ino);
	int rc;

	tx->frag_size = in->size;
	rc = fs_tree_set(t, in, n, &hole, &old_p);
	if (rc < 0)
		return rc;
	rc = sg_tx_free(tx, &old_p, have, false, in->ino, n);
	in->subblocks -= (uint64_t)have * (in->data_rep ? in->data_rep : 1);
	if (!rc && tx->nfree > SG_TX_MAXFREE - 2 * FS_MAX_REPLICAS) {
		rc = sg_tx_inode(tx, ip, in);
		if (!rc)
			rc = sg_tx_commit(tx);
		*txp = NULL;
		if (!rc)
			rc = sg_tx_begin(sg, 0, txp);
	}
	return rc;
}

/* Does <in> have a block past its end (fallocate KEEP_SIZE's)? A
 * truncate to the size it has frees them, as a shorter one would. */
bool sg_blocks_past_end(fs_sg *sg, const struct fs_inode *in)
{
	struct fs_tree tr;
	uint64_t n;

	if (!S_ISREG(in->mode) || in->flags & FS_IF_DATA_IN_INODE || !in->subblocks)
		return false;
	sg_ro_tree(sg, &tr);
	return fs_tree_seek_data(&tr, in, (in->size + sg->B - 1) / sg->B, &n) == 1;
}

/* Commit <in> as a fallocate through <f> leaves it: ctime (and mtime if
 * <mtime>) now, and setuid/setgid gone as after a write unless <c> may
 * keep them (CAP_FSETID), which the open file notes for the front end's
 * cached mode (fs_file_privs_dropped). */
static int falloc_commit(const struct fs_cred *c, fs_file *f, struct sg_tx *tx,
			 struct fs_inode *in, bool mtime)
{
	uint32_t m0 = in->mode;
	struct fs_time now;
	int rc;

	if (c && !fs_cred_fsetid(c) && (in->mode & (S_ISUID | S_ISGID)))
		sg_drop_suid(c, in);
	sg_now(&now);
	in->ctime = now;
	if (mtime)
		in->mtime = now;
	rc = sg_tx_commit_inode(tx, f->ip, in);
	if (!rc && in->mode != m0)
		atomic_store(&f->privs_dropped, true);
	return rc;
}

/*
 * FALLOC_FL_KEEP_SIZE past the end: the holes among the blocks wholly past
 * the end of file up to <end> become whole blocks of zeros (on disk before
 * the tree points at them: the file may grow over them later, and must
 * not show what the space held before); the size stays. A block past the
 * end is whole wherever it is (sg_nsub), so the format has room for them;
 * the block the file ends in keeps the fragment its size gives it, so the
 * part of it past the end is not reserved (at most one block's worth).
 * When the file later ends inside one of these blocks, the resizes of
 * fs_write, truncate and fallocate cut it to its fragment, as they cut a
 * block the end moves into.
 */
static int keep_past_end(fs_sg *sg, const struct fs_cred *c, fs_file *f, uint64_t off,
			 uint64_t end)
{
	struct sg_ino *ip = f->ip;
	struct tok_holder ih, bh;
	struct fs_inode in;
	struct sg_tx *tx = NULL;
	uint32_t spb = sg->B / sg->S;
	uint64_t n;
	int rc;

	rc = sg_itok(sg, ip, TOK_XW, &ih);
	if (rc)
		return fs_errno(rc);
	rc = sg_iread(sg, ip, &in);
	if (!rc)
		rc = br_take(sg, ip->ino, TOK_XW, off, end - off, &bh);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	atomic_store(&ip->wrote, true);
	if (in.flags & FS_IF_DATA_IN_INODE && (rc = out_of_inode(sg, ip, &in)) != MM_OK)
		goto done;
	rc = sg_tx_begin(sg, 0, &tx);
	n = (in.size + sg->B - 1) / sg->B;
	for (n = n > off / sg->B ? n : off / sg->B; !rc && n * sg->B < end; n++) {
		uint32_t have;
		bool fresh;

		rc = have_of(sg, &in, n, &have);
		if (rc || have)
			continue;
		rc = resize_block(sg, tx, &in, n, 0, spb, &fresh);
		if (!rc)
			rc = pp_flush(sg->pool, sg->fsid, in.ino, n, n + 1);
		if (!rc && tx->nbuf > SG_TX_MAXBUF - 8) {
			/* a long range: several transactions, each whole */
			rc = sg_tx_inode(tx, ip, &in);
			if (!rc)
				rc = sg_tx_commit(tx);
			tx = NULL;
			if (!rc)
				rc = sg_tx_begin(sg, 0, &tx);
		}
	}
	if (!rc) {
		rc = falloc_commit(c, f, tx, &in, false);
		tx = NULL;
	}
done:
	if (tx)
		sg_tx_abort(tx);
	toknet_release(sg->tok, &bh);
	sg_itok_release(sg, &ih);
	return rc == MM_ERANGE ? -ENOSPC : fs_errno(rc);
}

/*
 * fallocate: mode 0 (posix_fallocate) allocates every hole of [off, off +
 * len) as zeros on disk and extends the size; FALLOC_FL_PUNCH_HOLE |
 * FALLOC_FL_KEEP_SIZE frees the whole blocks inside the range and zeroes
 * the edges. FALLOC_FL_ZERO_RANGE (with KEEP_SIZE or not) is the two in
 * turn: the range reads as zeros and is allocated (a crash between leaves
 * it a hole, which reads the same). KEEP_SIZE allocates within the size
 * as mode 0 does, and past it whole blocks (keep_past_end); a punch past
 * the end frees those the range covers. Other modes: EOPNOTSUPP, checked
 * before anything is done.
 */
int fs_fallocate(fs_sg *sg, const struct fs_cred *c, fs_file *f, int mode, uint64_t off,
		 uint64_t len)
{
	struct sg_ino *ip = f->ip;
	struct tok_holder ih, bh;
	struct fs_inode in;
	struct sg_tx *tx = NULL;
	uint64_t end = off + len, old;
	bool punch = mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	bool zero = (mode & ~FALLOC_FL_KEEP_SIZE) == FALLOC_FL_ZERO_RANGE;
	int rc;

	if (sg->ro)
		return -EROFS;
	if (f->dir)
		return -EISDIR;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (mode != 0 && !punch && !zero && mode != FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (!len || end < off || end > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (end / sg->B >= fs_tree_max_block(sg->B))
		return -EFBIG;
	rc = sg_itok(sg, ip, TOK_XW, &ih);
	if (rc)
		return fs_errno(rc);
	rc = sg_iread(sg, ip, &in);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	if (mode == FALLOC_FL_KEEP_SIZE) {
		sg_itok_release(sg, &ih);
		if (end <= in.size)
			return fs_fallocate(sg, c, f, 0, off, len);
		rc = off < in.size ? fs_fallocate(sg, c, f, 0, off, in.size - off) : 0;
		return rc ? rc : keep_past_end(sg, c, f, off, end);
	}
	if (zero) {
		bool keep = mode & FALLOC_FL_KEEP_SIZE;

		sg_itok_release(sg, &ih);
		rc = off < in.size ? fs_fallocate(sg, c, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						  off, len)
				   : 0;
		return rc ? rc : fs_fallocate(sg, c, f, keep ? FALLOC_FL_KEEP_SIZE : 0, off, len);
	}
	rc = br_take(sg, ip->ino, TOK_XW, off, len, &bh);
	if (rc) {
		sg_itok_release(sg, &ih);
		return fs_errno(rc);
	}
	old = in.size;
	atomic_store(&ip->wrote, true);
	if (punch) {
		/* the range past the end of file: only KEEP_SIZE's whole
		 * blocks are there, holding zeros; those it covers go */
		uint64_t past = end > old ? end : 0;

		if (end > old)
			end = old;
		rc = MM_OK;
		if (off >= end && !past)
			goto done;
		if (in.flags & FS_IF_DATA_IN_INODE) {
			if (off >= end)
				goto done;
			rc = sg_tx_begin(sg, 0, &tx);
			if (rc)
				goto done;
			memset(in.tail + off, 0, end - off);
			goto commit;
		}
		/* the edges: zeros in place */
		if (off < end)
			rc = zero_range(sg, &in, off, end);
		if (!rc && off < end && end / sg->B != off / sg->B && end % sg->B)
			rc = zero_range(sg, &in, end / sg->B * sg->B, end);
		if (rc)
			goto done;
		rc = sg_tx_begin(sg, 0, &tx);
		if (rc)
			goto done;
		/* whole blocks (and a last fragment wholly inside) become holes */
		for (uint64_t n = (off + sg->B - 1) / sg->B; n * sg->B < end && !rc; n++) {
			uint32_t have;

			if ((n + 1) * sg->B > end && end < old)
				break;
			rc = have_of(sg, &in, n, &have);
			if (!rc && have)
				rc = punch_block(sg, &tx, ip, &in, n, have);
		}
		if (past && !rc) {
			uint64_t n, from = (old + sg->B - 1) / sg->B;
			struct fs_tree tr;
			int found = 0;

			if (from < (off + sg->B - 1) / sg->B)
				from = (off + sg->B - 1) / sg->B;
			sg_ro_tree(sg, &tr);
			while (!rc && (found = fs_tree_seek_data(&tr, &in, from, &n)) == 1 &&
			       (n + 1) * sg->B <= past) {
				rc = punch_block(sg, &tx, ip, &in, n, sg->B / sg->S);
				from = n + 1;
			}
			if (!rc && found < 0)
				rc = found;
		}
		if (rc < 0)
			goto done;
		rc = MM_OK;
		goto commit;
	}
	/* mode 0: every hole of the range allocated as zeros */
	{
		uint64_t newsize = end > old ? end : old;

		if (in.flags & FS_IF_DATA_IN_INODE && newsize <= FS_TAIL_BYTES) {
			rc = sg_tx_begin(sg, 0, &tx);
			if (rc)
				goto done;
			if (newsize > in.size)
				memset(in.tail + in.size, 0, newsize - in.size);
			in.size = newsize;
			in.tail_len = (uint16_t)newsize;
			goto commit;
		}
		if (in.flags & FS_IF_DATA_IN_INODE && (rc = out_of_inode(sg, ip, &in)) != MM_OK)
			goto done;
		rc = sg_tx_begin(sg, 0, &tx);
		if (rc)
			goto done;
		/* the old last block (a fragment that grows whole), then the
		 * range's blocks: never the ones between (a range far past the
		 * end would walk billions of them) */
		const uint64_t first = off / sg->B;

		for (uint64_t n = old % sg->B && old / sg->B < first ? old / sg->B : first;
		     n * sg->B < newsize && !rc; n = n < first ? first : n + 1) {
			uint32_t have = 0, want = sg_nsub(sg, n, newsize);
			bool fresh, flush;

			rc = have_of(sg, &in, n, &have);
			flush = have != want;
			if (!rc && flush)
				rc = resize_block(sg, tx, &in, n, have, want, &fresh);
			/* the old last block: zeros past the old end, once its
			 * run holds them (fs_write's order: zeros dirtied first
			 * would be written past the old, shorter run if the
			 * growth failed or came later) */
			if (!rc && n == old / sg->B && old % sg->B) {
				rc = zero_range(sg, &in, old, newsize);
				flush = true;
			}
			if (!rc && flush)
				rc = pp_flush(sg->pool, sg->fsid, in.ino, n, n + 1);
			if (!rc && tx->nbuf > SG_TX_MAXBUF - 8) {
				/* a long range: several transactions, each whole */
				uint64_t keep = in.size;

				in.size = (n + 1) * sg->B < newsize ? (n + 1) * sg->B : newsize;
				if (in.size < keep)
					in.size = keep;
				rc = sg_tx_inode(tx, ip, &in);
				if (!rc)
					rc = sg_tx_commit(tx);
				tx = NULL;
				if (!rc)
					rc = sg_tx_begin(sg, 0, &tx);
			}
		}
		if (rc)
			goto done;
		in.size = newsize;
	}
commit:
	rc = falloc_commit(c, f, tx, &in, !punch && in.size != old);
	tx = NULL;
done:
	if (tx)
		sg_tx_abort(tx);
	toknet_release(sg->tok, &bh);
	sg_itok_release(sg, &ih);
	return rc == MM_ERANGE ? -ENOSPC : fs_errno(rc);
}

int fs_flush(fs_sg *sg, fs_file *f)
{
	if (f->dir || !atomic_exchange(&f->ip->wrote, false))
		return 0;
	return fs_errno(pp_flush(sg->pool, sg->fsid, f->ip->ino, 0, UINT64_MAX));
}

int fs_fsync(fs_sg *sg, fs_file *f, bool datasync)
{
	int rc = MM_OK;

	(void)datasync;
	if (!f->dir && atomic_exchange(&f->ip->wrote, false))
		rc = pp_flush(sg->pool, sg->fsid, f->ip->ino, 0, UINT64_MAX);
	if (!rc && sg->log)
		rc = fs_log_force(sg->log, UINT64_MAX);
	return fs_errno(rc);
}

int64_t fs_lseek(fs_sg *sg, fs_file *f, int64_t off, int whence)
{
	struct tok_holder ih;
	struct fs_inode in;
	struct fs_tree tr;
	uint64_t n, pos;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0)
		return -ENXIO;
	rc = sg_itok(sg, f->ip, TOK_RO, &ih);
	if (rc)
		return fs_errno(rc);
	rc = sg_iread(sg, f->ip, &in);
	if (rc || (uint64_t)off >= in.size) {
		sg_itok_release(sg, &ih);
		return rc ? fs_errno(rc) : -ENXIO;
	}
	if (in.flags & FS_IF_DATA_IN_INODE) {
		sg_itok_release(sg, &ih);
		return whence == SEEK_DATA ? off : (int64_t)in.size;
	}
	sg_ro_tree(sg, &tr);
	if (whence == SEEK_DATA) {
		rc = fs_tree_seek_data(&tr, &in, (uint64_t)off / sg->B, &n);
		pos = rc == 1 ? n * sg->B : in.size;
		if (rc == 1 && pos < (uint64_t)off)
			pos = (uint64_t)off;
	} else {
		rc = fs_tree_seek_hole(&tr, &in, (uint64_t)off / sg->B, &n);
		pos = n * sg->B;
		if (pos < (uint64_t)off)
			pos = (uint64_t)off;
		if (pos > in.size)
			pos = in.size;
	}
	sg_itok_release(sg, &ih);
	if (rc < 0)
		return fs_errno(rc);
	if (whence == SEEK_DATA && pos >= in.size)
		return -ENXIO;
	return (int64_t)pos;
}
