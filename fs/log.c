/*
 * fs/log.c - the per-node physical redo log (contract and layouts in
 * fs/log.h, design in fs/README.md "The log").
 *
 *   1. the writer: format, open, close, block buffers, force, the
 *      writer thread
 *   2. transactions, space and checkpoints
 * The scan and replay are logscan.c's (log_int.h: what both share).
 *
 * Locking: struct fs_log's fields after <mu> are protected by it; io
 * calls and need_checkpoint run with it dropped. Only the thread that set
 * <writing> touches <wbuf> and writes; only the one that set
 * <ckpt_running> calls need_checkpoint.
 */
#include "fs/log_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/thread.h"
#include "common/wire.h"

/* ---- 1. the writer ---- */

/* Seal log file block <pos> holding sequence <seq> (0: empty). */
static void lb_seal(uint8_t *blk, const struct fs_log_params *p, uint32_t pos, uint64_t seq,
		    uint32_t used, uint64_t tail)
{
	struct fs_mbh h = {
		.type = FS_BT_LOG, .fsid = p->fsid, .ino = p->ino, .blk = pos,
		.a = seq, .b = seq ? (seq - 1) * BODY : 0,
	};

	mm_be32_put(blk + LB_NODE, p->node);
	mm_be32_put(blk + LB_NBLOCKS, p->nblocks);
	mm_be32_put(blk + LB_USED, used);
	mm_be32_put(blk + LB_RSV, 0);
	mm_be64_put(blk + LB_TAIL, tail);
	memset(blk + LB_RSV2, 0, FS_LOG_HDR - LB_RSV2);
	fs_mb_seal(blk, FS_MB, &h);
}


struct lbuf {
	uint64_t seq;		/* the log block it holds; 0: none */
	uint8_t *data;		/* FS_MB; its body is the stream's bytes */
};

struct fs_log_tx {
	fs_log *log;
	uint64_t reserve;	/* log bytes reserved (0 once committed) */
	uint8_t *buf;		/* its records, LSNs and CRCs filled at commit */
	size_t len, cap;
	uint32_t nrec;
	bool committed;
	uint64_t start;		/* its first LSN, once committed */
	fs_log_tx *prev, *next;	/* log->pinned; protected by log->mu */
	_Atomic uint64_t *publish;	/* gets the commit LSN under log->mu */
};

struct fs_log {
	struct fs_log_params p;
	uint32_t nbufs;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* any change of the fields below */
	/* protected by mu */
	uint64_t end;		/* next record's LSN: a unit boundary */
	uint64_t durable;	/* every byte before it is on disk */
	uint64_t tail;		/* oldest LSN whose changes may not be on disk */
	uint64_t tail_dur;	/* the tail in the last completed write */
	uint64_t reserved;	/* by open transactions */
	struct lbuf *bufs;	/* block seq in bufs[seq % nbufs] */
	uint8_t *wbuf;		/* the block being written (by the writer) */
	bool writing, ckpt_running;
	bool stop;		/* the writer thread is to end */
	bool has_writer;
	pthread_t writer;
	pthread_cond_t wcv;	/* for the writer: a block filled, or stop */
	int err;		/* sticky: a write failed */
	unsigned ntx;		/* open transactions */
	fs_log_tx *pinned, *pinned_last;	/* committed, not ended, by LSN */
	struct oset orph;	/* the orphan set, as of the end of the log */
	struct fs_log_stats st;
};

int fs_log_format(const struct fs_log_io *io, uint32_t fsid, uint64_t ino, uint32_t node,
		  uint32_t nblocks)
{
	struct fs_log_params p = {.fsid = fsid, .ino = ino, .node = node, .nblocks = nblocks};
	uint8_t *b;
	int rc = MM_OK;

	if (nblocks < FS_LOG_MIN_BLOCKS)
		return MM_EINVAL;
	b = calloc(1, FS_MB);
	if (!b)
		return MM_ENOMEM;
	for (uint32_t pos = 0; pos < nblocks && rc == MM_OK; pos++) {
		lb_seal(b, &p, pos, 0, 0, 0);
		rc = io->write(io->arg, pos, b);
	}
	free(b);
	return rc > 0 ? MM_EIO : rc;
}

uint64_t fs_log_tx_max(const fs_log *log)
{
	uint64_t a = (log->nbufs - 1) * BODY, b = (log->p.nblocks - 2) * BODY;

	return a < b ? a : b;
}

static void write_blocks(fs_log *log, uint64_t lsn);
static void write_one(fs_log *log, uint64_t seq);

/* The writer thread: each full block not yet durable is written (the
 * group commit of everything in it), so that commits find free buffers. */
static void *writer_main(void *arg)
{
	fs_log *log = arg;

	pthread_mutex_lock(&log->mu);
	while (!log->stop) {
		uint64_t full = log->end - log->end % BODY;

		if (log->err || log->writing || log->durable >= full) {
			/* a commit that fills a block signals (not each one:
			 * a wake-up per commit cost a futex call each) */
			pthread_cond_wait(&log->wcv, &log->mu);
			continue;
		}
		log->writing = true;
		write_blocks(log, full);
		log->writing = false;
		pthread_cond_broadcast(&log->cv);
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

int fs_log_open(const struct fs_log_params *p, fs_log **out, char *err, size_t errsz)
{
	struct scan s = {.fsid = p->fsid, .ino = p->ino, .n = p->nblocks};
	uint64_t stop;
	fs_log *log;
	int rc;

	*out = NULL;
	if (p->nblocks < FS_LOG_MIN_BLOCKS || !p->io.write || !p->io.read || p->nbufs == 1)
		ERR(MM_EINVAL, "bad log parameters (%u blocks, %u buffers)", p->nblocks, p->nbufs);
	rc = logscan_run(&p->io, &s, err, errsz);
	if (rc == MM_OK && s.node != p->node) {
		if (err)
			snprintf(err, errsz, "the log is node %u's, not node %u's", s.node, p->node);
		rc = MM_EPROTO;
	}
	log = rc == MM_OK ? calloc(1, sizeof(*log)) : NULL;
	if (rc == MM_OK && !log)
		rc = MM_ENOMEM;
	if (rc) {
		logscan_free(&s);
		return rc;
	}
	log->p = *p;
	log->nbufs = p->nbufs ? p->nbufs : FS_LOG_DEFAULT_BUFS;
	pthread_mutex_init(&log->mu, NULL);
	mm_cond_init(&log->cv);
	mm_cond_init(&log->wcv);
	log->bufs = calloc(log->nbufs, sizeof(*log->bufs));
	log->wbuf = malloc(FS_MB);
	for (uint32_t i = 0; log->bufs && i < log->nbufs; i++)
		if (!(log->bufs[i].data = malloc(FS_MB)))
			rc = MM_ENOMEM;
	if (!log->bufs || !log->wbuf || rc) {
		logscan_free(&s);
		fs_log_close(log);
		ERR(MM_ENOMEM, "no memory for the log's buffers");
	}
	/*
	 * Resume where the records stop (after an uncommitted transaction,
	 * which the next unit abandons; over a torn write). That is in the
	 * newest block, or at the start of the next: a record is at most
	 * one body long, so one that started earlier ended in a verified
	 * block. The tail stays the log's own.
	 */
	stop = s.stop;
	log->end = log->durable = s.stop;
	log->tail = log->tail_dur = s.tail;
	log->orph = s.orph;
	s.orph = (struct oset){0};
	if (s.stop) {	/* the newest block: appended to, or rewritten by a checkpoint */
		struct lbuf *b = &log->bufs[seq_of(s.stop - 1) % log->nbufs];

		b->seq = seq_of(s.stop - 1);
		memset(b->data, 0, FS_MB);
		memcpy(b->data + FS_LOG_HDR, logscan_blk(&s, b->seq) + FS_LOG_HDR,
		       (s.stop - 1) % BODY + 1);
	}
	logscan_free(&s);
	/*
	 * The newest block is written again at once, as the log now holds
	 * it, to every replica. A crash between the replicas' writes of a
	 * block leaves them different: the appends that follow rewrite a
	 * block the records stop inside, but not a full one (they go on in
	 * the next), which would then stay different until the log wraps:
	 * mmfsck finds it, and a read of the other replica later would see
	 * another log.
	 */
	if (stop) {
		pthread_mutex_lock(&log->mu);
		log->writing = true;
		write_one(log, seq_of(stop - 1));
		log->writing = false;
		rc = log->err;
		pthread_mutex_unlock(&log->mu);
		if (rc) {
			fs_log_close(log);
			ERR(rc, "cannot write the log's newest block again");
		}
	}
	if (p->writer) {
		rc = mm_thread_start(&log->writer, "log-writer", writer_main, log);
		if (rc) {
			fs_log_close(log);
			ERR(rc, "cannot start the log writer thread");
		}
		log->has_writer = true;
	}
	*out = log;
	return MM_OK;
}

void fs_log_close(fs_log *log)
{
	if (!log)
		return;
	MM_ASSERT(log->ntx == 0);
	if (log->has_writer) {
		pthread_mutex_lock(&log->mu);
		log->stop = true;
		pthread_cond_signal(&log->wcv);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->writer, NULL);
	}
	for (uint32_t i = 0; log->bufs && i < log->nbufs; i++)
		free(log->bufs[i].data);
	pthread_mutex_destroy(&log->mu);
	pthread_cond_destroy(&log->cv);
	pthread_cond_destroy(&log->wcv);
	oset_clear(&log->orph);
	free(log->bufs);
	free(log->wbuf);
	free(log);
}

/* Append <len> bytes at the end of the stream; the buffers of the blocks
 * they reach must be free (their old blocks durable). */
static void put_stream(fs_log *log, const uint8_t *src, size_t len)
{
	MM_ASSERT_HELD(&log->mu);
	while (len) {
		uint64_t seq = seq_of(log->end);
		size_t off = log->end % BODY, k = BODY - off < len ? BODY - off : len;
		struct lbuf *b = &log->bufs[seq % log->nbufs];

		if (b->seq != seq) {
			MM_ASSERT(b->seq < seq && log->durable >= b->seq * BODY);
			b->seq = seq;
			memset(b->data, 0, FS_MB);
		}
		memcpy(b->data + FS_LOG_HDR + off, src, k);
		log->end += k;
		src += k;
		len -= k;
	}
}

/*
 * Write log block <seq> with all that is in it so far (the group commit)
 * and the current tail. The caller set log->writing; the mutex is dropped
 * around the write.
 */
static void write_one(fs_log *log, uint64_t seq)
{
	uint64_t start = (seq - 1) * BODY;
	uint64_t wend = log->end < start + BODY ? log->end : start + BODY, wtail = log->tail;
	struct lbuf *b = &log->bufs[seq % log->nbufs];
	int rc;

	/* never overwrite what the durable tail still needs (log.h) */
	MM_BUG_ON(log, b->seq != seq || (seq > log->p.nblocks &&
					 seq - log->p.nblocks >= seq_of(log->tail_dur)));
	memcpy(log->wbuf, b->data, FS_MB);
	lb_seal(log->wbuf, &log->p, (uint32_t)((seq - 1) % log->p.nblocks), seq,
		(uint32_t)(wend - start), wtail);
	pthread_mutex_unlock(&log->mu);
	rc = log->p.ordered ? log->p.ordered(log->p.ckpt_arg, wend) : MM_OK;
	if (rc == MM_OK)
		rc = log->p.io.write(log->p.io.arg, (seq - 1) % log->p.nblocks, log->wbuf);
	pthread_mutex_lock(&log->mu);
	log->st.writes++;
	if (rc) {
		log->err = rc < 0 ? rc : MM_EIO;
		return;
	}
	if (wend > log->durable)
		log->durable = wend;
	if (wtail > log->tail_dur)
		log->tail_dur = wtail;
	pthread_cond_broadcast(&log->cv);
}

/* Write blocks until everything before <lsn> is durable (log->writing set). */
static void write_blocks(fs_log *log, uint64_t lsn)
{
	while (!log->err && log->durable < lsn)
		write_one(log, seq_of(log->durable));
}

static int force_locked(fs_log *log, uint64_t lsn)
{
	bool counted = false;

	if (lsn > log->end)
		lsn = log->end;
	while (log->durable < lsn && !log->err) {
		if (!counted) {
			log->st.forces++;
			counted = true;
		}
		if (log->writing) {
			pthread_cond_wait(&log->cv, &log->mu);
			continue;
		}
		log->writing = true;
		write_blocks(log, lsn);
		log->writing = false;
		pthread_cond_broadcast(&log->cv);
	}
	return log->durable >= lsn ? MM_OK : log->err;
}

int fs_log_force(fs_log *log, uint64_t lsn)
{
	int rc;

	pthread_mutex_lock(&log->mu);
	rc = force_locked(log, lsn);
	pthread_mutex_unlock(&log->mu);
	return rc;
}

/* Make room in the block buffers for <len> more bytes at the end (the
 * blocks they reach must not hold blocks not yet durable). */
static int room_locked(fs_log *log, uint64_t len)
{
	for (;;) {
		uint64_t last = seq_of(log->end + len - 1);
		uint64_t need = last > log->nbufs ? (last - log->nbufs) * BODY : 0;
		int rc;

		if (log->err)
			return log->err;
		if (log->durable >= need)
			return MM_OK;
		rc = force_locked(log, need);
		if (rc)
			return rc;
	}
}

uint64_t fs_log_durable(fs_log *log)
{
	uint64_t d;

	pthread_mutex_lock(&log->mu);
	d = log->durable;
	pthread_mutex_unlock(&log->mu);
	return d;
}

void fs_log_get_stats(fs_log *log, struct fs_log_stats *st)
{
	pthread_mutex_lock(&log->mu);
	*st = log->st;
	st->end = log->end;
	st->durable = log->durable;
	st->tail = log->tail;
	st->reserved = log->reserved;
	pthread_mutex_unlock(&log->mu);
}

/* ---- 2. transactions, space and checkpoints ---- */

/* Stream bytes below this may hold transactions: one block short of
 * overwriting the block of the durable tail (kept for checkpoints). */
static uint64_t tx_limit(const fs_log *log)
{
	return (seq_of(log->tail_dur) - 1 + log->p.nblocks - 1) * BODY;
}

/*
 * With the mutex held (dropped meanwhile): ask the caller to flush up to
 * the end of the log (or the oldest pinned transaction), then log a
 * checkpoint record and force it. MM_OK also when another thread's
 * checkpoint was waited for; MM_EBUSY when nothing can move now.
 */
/* The orphan set as one record, made durable (before the checkpoint
 * moves the tail past the records that made the set). */
static int put_orphans_locked(fs_log *log)
{
	size_t size = fs_log_rec_bytes(8 + 8 * (uint64_t)FS_LOG_ORPHANS_MAX), n;
	uint8_t *r = malloc(size);
	uint32_t plen;
	int rc;

	if (!r)
		return MM_ENOMEM;
	rc = room_locked(log, size);
	if (rc) {
		free(r);
		return rc;
	}
	memset(r, 0, size);
	n = oset_list(&log->orph, (uint64_t *)(void *)(r + FS_LOG_REC_HDR + 8), FS_LOG_ORPHANS_MAX);
	if (log->orph.n > n)
		log->st.orphans_dropped += log->orph.n - n;
	for (size_t k = 0; k < n; k++) {
		uint8_t *e = r + FS_LOG_REC_HDR + 8 + 8 * k;
		uint64_t v;

		memcpy(&v, e, 8);
		mm_be64_put(e, v);
	}
	plen = (uint32_t)(8 + 8 * n);
	mm_be64_put(r + R_LSN, log->end);
	mm_be64_put(r + R_TX, log->end);
	r[R_TYPE] = FS_LOGR_ORPHANS;
	mm_be32_put(r + R_LEN, plen);
	mm_be64_put(r + FS_LOG_REC_HDR, n);
	mm_be32_put(r + R_CRC, rec_crc(r, r + FS_LOG_REC_HDR, plen));
	put_stream(log, r, fs_log_rec_bytes(plen));
	free(r);
	return force_locked(log, log->end);
}

static int checkpoint_locked(fs_log *log)
{
	uint64_t target, need;
	uint8_t r[FS_LOG_REC_HDR + 8];
	int rc;

	if (log->err)
		return log->err;
	if (log->ckpt_running) {
		pthread_cond_wait(&log->cv, &log->mu);
		return MM_OK;
	}
	target = log->pinned ? log->pinned->start : log->end;
	if (target <= log->tail)
		return MM_EBUSY;
	log->ckpt_running = true;
	pthread_mutex_unlock(&log->mu);
	rc = log->p.need_checkpoint ? log->p.need_checkpoint(log->p.ckpt_arg, target) : MM_OK;
	pthread_mutex_lock(&log->mu);
	/* a log write that failed during the flush keeps the tail (the force
	 * below passes a durable target whatever log->err says) */
	if (rc == MM_OK && log->err)
		rc = log->err;
	/* the tail never passes the durable log (replay trusts it) */
	if (rc == MM_OK)
		rc = force_locked(log, target);
	/*
	 * Reopened over a torn write that had moved the tail, the log may be
	 * fuller than the tail it recovered allows, up to its last block:
	 * then the newest block is rewritten first with the new tail (a torn
	 * rewrite loses nothing: its records are the same bytes).
	 */
	need = sizeof(r) + (log->orph.n ? fs_log_rec_bytes(8 + 8 * (uint64_t)FS_LOG_ORPHANS_MAX) : 0);
	if (rc == MM_OK && log->end + need > tx_limit(log) + BODY && log->end) {
		while (log->writing && !log->err)
			pthread_cond_wait(&log->cv, &log->mu);
		log->tail = target;
		log->writing = true;
		write_one(log, seq_of(log->end - 1));
		log->writing = false;
		pthread_cond_broadcast(&log->cv);
		rc = log->err;
	}
	/* the set, durable after the target and before the tail moves: a
	 * replay from the new tail starts from it */
	if (rc == MM_OK && log->orph.n)
		rc = put_orphans_locked(log);
	if (rc == MM_OK)
		rc = room_locked(log, sizeof(r));
	if (rc == MM_OK) {
		memset(r, 0, sizeof(r));
		mm_be64_put(r + R_LSN, log->end);
		mm_be64_put(r + R_TX, log->end);
		r[R_TYPE] = FS_LOGR_CKPT;
		mm_be32_put(r + R_LEN, 8);
		mm_be64_put(r + FS_LOG_REC_HDR, target);
		mm_be32_put(r + R_CRC, rec_crc(r, r + FS_LOG_REC_HDR, 8));
		put_stream(log, r, sizeof(r));
		log->tail = target;
		log->st.checkpoints++;
		rc = force_locked(log, log->end);
	}
	log->ckpt_running = false;
	pthread_cond_broadcast(&log->cv);
	return rc;
}

int fs_log_checkpoint(fs_log *log)
{
	int rc;

	pthread_mutex_lock(&log->mu);
	rc = checkpoint_locked(log);
	pthread_mutex_unlock(&log->mu);
	return rc;
}

int fs_log_begin(fs_log *log, uint64_t reserve, fs_log_tx **out)
{
	fs_log_tx *tx;
	bool waited = false;
	int rc = MM_OK;

	*out = NULL;
	if (reserve < fs_log_rec_bytes(8))
		reserve = fs_log_rec_bytes(8);
	if (reserve > fs_log_tx_max(log))
		return MM_ETOOBIG;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return MM_ENOMEM;
	tx->log = log;
	tx->reserve = reserve;
	pthread_mutex_lock(&log->mu);
	while (!log->err && log->end + log->reserved + reserve > tx_limit(log)) {
		if (!waited) {
			log->st.space_waits++;
			waited = true;
		}
		rc = checkpoint_locked(log);
		if (rc == MM_EBUSY)
			rc = mm_cond_wait_ms(&log->cv, &log->mu, FS_LOG_RETRY_MS);
		if (rc != MM_OK && rc != MM_ETIMEDOUT)
			break;
		rc = MM_OK;
	}
	if (log->err)
		rc = log->err;
	if (rc == MM_OK) {
		log->reserved += reserve;
		log->ntx++;
	}
	pthread_mutex_unlock(&log->mu);
	if (rc) {
		free(tx);
		return rc;
	}
	*out = tx;
	return MM_OK;
}

/* Room for a record of <plen> payload bytes (and the commit record). */
static uint8_t *tx_rec(fs_log_tx *tx, uint8_t type, uint32_t plen)
{
	size_t size = fs_log_rec_bytes(plen);
	uint8_t *r;

	/* every record leaves room for the commit record */
	if (tx->committed ||
	    tx->len + size + (type == FS_LOGR_COMMIT ? 0 : fs_log_rec_bytes(8)) > tx->reserve)
		return NULL;
	if (tx->len + size > tx->cap) {
		size_t cap = tx->cap ? tx->cap : 1024;
		uint8_t *b;

		while (cap < tx->len + size)
			cap *= 2;
		b = realloc(tx->buf, cap);
		if (!b)
			return NULL;
		tx->buf = b;
		tx->cap = cap;
	}
	r = tx->buf + tx->len;
	memset(r, 0, size);
	r[R_TYPE] = type;
	mm_be32_put(r + R_LEN, plen);
	tx->len += size;
	return r;
}

/* Finish a record built by tx_rec: the payload's CRC, until commit. */
static void tx_done(fs_log_tx *tx, uint8_t *r, bool counted)
{
	mm_be32_put(r + R_CRC, mm_crc32c_bulk(0, r + FS_LOG_REC_HDR, mm_be32_get(r + R_LEN)));
	if (counted)
		tx->nrec++;
}

static int tx_err(fs_log_tx *tx, uint32_t plen)
{
	return tx->committed ? MM_ESTATE :
	       tx->len + fs_log_rec_bytes(plen) + fs_log_rec_bytes(8) > tx->reserve ? MM_ETOOBIG :
	       MM_ENOMEM;
}

int fs_log_add_bytes(fs_log_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, const void *bytes,
		     uint32_t len)
{
	const uint8_t *src = bytes;

	if ((uint64_t)off + len > FS_MB || !len)
		return MM_EINVAL;
	while (len) {
		uint32_t k = len < BYTES_MAX ? len : BYTES_MAX;
		uint8_t *r = tx_rec(tx, FS_LOGR_BYTES, 24 + k), *pl;

		if (!r)
			return tx_err(tx, 24 + k);
		pl = r + FS_LOG_REC_HDR;
		mm_be64_put(pl, ino);
		mm_be64_put(pl + 8, blk);
		mm_be32_put(pl + 16, off);
		mm_be32_put(pl + 20, k);
		memcpy(pl + 24, src, k);
		tx_done(tx, r, true);
		off += k;
		src += k;
		len -= k;
	}
	return MM_OK;
}

int fs_log_add_whole(fs_log_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, const void *bytes,
		     uint32_t len)
{
	const uint8_t *src = bytes;
	uint32_t n = len;
	uint8_t *r;

	if ((uint64_t)off + len > FS_MB || !len)
		return MM_EINVAL;
	while (n >= 8 && !memcmp(src + n - 8, "\0\0\0\0\0\0\0\0", 8))
		n -= 8;
	while (n && !src[n - 1])
		n--;
	if (len - n < 64)
		return fs_log_add_bytes(tx, ino, blk, off, bytes, len);
	if (n) {
		int rc = fs_log_add_bytes(tx, ino, blk, off, bytes, n);

		if (rc)
			return rc;
	}
	r = tx_rec(tx, FS_LOGR_ZERO, 24);
	if (!r)
		return tx_err(tx, 24);
	mm_be64_put(r + FS_LOG_REC_HDR, ino);
	mm_be64_put(r + FS_LOG_REC_HDR + 8, blk);
	mm_be32_put(r + FS_LOG_REC_HDR + 16, off + n);
	mm_be32_put(r + FS_LOG_REC_HDR + 20, len - n);
	tx_done(tx, r, true);
	return MM_OK;
}

static int add_mark(fs_log_tx *tx, uint8_t type, uint64_t ino, uint64_t blk)
{
	uint8_t *r = tx_rec(tx, type, 16);

	if (!r)
		return tx_err(tx, 16);
	mm_be64_put(r + FS_LOG_REC_HDR, ino);
	mm_be64_put(r + FS_LOG_REC_HDR + 8, blk);
	tx_done(tx, r, true);
	return MM_OK;
}

int fs_log_add_alloc(fs_log_tx *tx, uint64_t ino, uint64_t blk)
{
	return add_mark(tx, FS_LOGR_ALLOC, ino, blk);
}

int fs_log_add_free(fs_log_tx *tx, uint64_t ino, uint64_t blk)
{
	return add_mark(tx, FS_LOGR_FREE, ino, blk);
}

int fs_log_add_orphan(fs_log_tx *tx, uint64_t ino)
{
	return ino ? add_mark(tx, FS_LOGR_ORPHAN, ino, 0) : MM_EINVAL;
}

int fs_log_add_unorphan(fs_log_tx *tx, uint64_t ino)
{
	return ino ? add_mark(tx, FS_LOGR_UNORPHAN, ino, 0) : MM_EINVAL;
}

int fs_log_orphans(fs_log *log, uint64_t **out, size_t *n)
{
	int rc = MM_OK;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&log->mu);
	if (log->orph.n) {
		*out = malloc(log->orph.n * sizeof(uint64_t));
		if (*out)
			*n = oset_list(&log->orph, *out, log->orph.n);
		else
			rc = MM_ENOMEM;
	}
	pthread_mutex_unlock(&log->mu);
	return rc;
}

void fs_log_publish(fs_log_tx *tx, _Atomic uint64_t *lsn)
{
	tx->publish = lsn;
}

int fs_log_commit(fs_log_tx *tx, uint64_t *lsn)
{
	fs_log *log = tx->log;
	uint8_t *r;
	int rc;

	*lsn = 0;
	if (tx->committed)
		return MM_ESTATE;
	if (tx->nrec == 0)
		return MM_OK;
	r = tx_rec(tx, FS_LOGR_COMMIT, 8);	/* the reservation kept room for it */
	if (!r)
		return MM_ENOMEM;
	mm_be32_put(r + FS_LOG_REC_HDR, tx->nrec);
	tx_done(tx, r, false);
	pthread_mutex_lock(&log->mu);
	rc = room_locked(log, tx->len);
	if (rc) {
		tx->len -= fs_log_rec_bytes(8);
		pthread_mutex_unlock(&log->mu);
		return rc;
	}
	/* the LSNs are known now: finish each record's header and CRC */
	for (size_t o = 0; o < tx->len;) {
		uint8_t *h = tx->buf + o;
		uint32_t plen = mm_be32_get(h + R_LEN), pcrc = mm_be32_get(h + R_CRC);

		mm_be64_put(h + R_LSN, log->end + o);
		mm_be64_put(h + R_TX, log->end);
		memset(h + R_CRC, 0, 4);
		mm_be32_put(h + R_CRC, mm_crc32c(pcrc, h, FS_LOG_REC_HDR));
		o += fs_log_rec_bytes(plen);
		/* the set changes as the log does (a checkpoint carries it) */
		if (h[R_TYPE] == FS_LOGR_UNORPHAN)
			oset_del(&log->orph, mm_be64_get(h + FS_LOG_REC_HDR));
		else if (h[R_TYPE] == FS_LOGR_ORPHAN &&
			 oset_add(&log->orph, mm_be64_get(h + FS_LOG_REC_HDR)))
			log->st.orphans_dropped++;	/* no memory: mmfsck finds it after a crash */
	}
	MM_ASSERT(log->end + tx->len <= tx_limit(log) + BODY);
	tx->start = log->end;
	if (log->has_writer && seq_of(log->end) != seq_of(log->end + tx->len))
		pthread_cond_signal(&log->wcv);
	put_stream(log, tx->buf, tx->len);
	*lsn = log->end;
	if (tx->publish)
		atomic_store_explicit(tx->publish, log->end, memory_order_release);
	tx->committed = true;
	log->reserved -= tx->reserve;
	tx->reserve = 0;
	tx->prev = log->pinned_last;
	if (log->pinned_last)
		log->pinned_last->next = tx;
	else
		log->pinned = tx;
	log->pinned_last = tx;
	log->st.commits++;
	log->st.records += tx->nrec;
	log->st.bytes += tx->len;
	pthread_cond_broadcast(&log->cv);
	pthread_mutex_unlock(&log->mu);
	free(tx->buf);
	tx->buf = NULL;
	tx->len = tx->cap = 0;
	return MM_OK;
}

void fs_log_end(fs_log_tx *tx)
{
	fs_log *log;

	if (!tx)
		return;
	log = tx->log;
	pthread_mutex_lock(&log->mu);
	if (tx->committed) {
		if (tx->prev)
			tx->prev->next = tx->next;
		else
			log->pinned = tx->next;
		if (tx->next)
			tx->next->prev = tx->prev;
		else
			log->pinned_last = tx->prev;
	}
	log->reserved -= tx->reserve;
	log->ntx--;
	pthread_cond_broadcast(&log->cv);
	pthread_mutex_unlock(&log->mu);
	free(tx->buf);
	free(tx);
}
