/*
 * fs/log.c - the per-node physical redo log (contract and layouts in
 * fs/log.h, design in fs/README.md "The log").
 *
 *   1. layouts: record and log block headers
 *   2. the scan: read a log, find its head, tail and end, check records
 *      (used by replay and by open)
 *   3. replay
 *   4. the writer: format, open, close, block buffers, force
 *   5. transactions, space and checkpoints
 *
 * Locking: struct fs_log's fields after <mu> are protected by it; io
 * calls and need_checkpoint run with it dropped. Only the thread that set
 * <writing> touches <wbuf> and writes; only the one that set
 * <ckpt_running> calls need_checkpoint.
 */
#include "fs/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/thread.h"
#include "common/wire.h"
#include "fs/oset.h"

#define BODY ((uint64_t)FS_LOG_BODY)
/* The largest payload: a record is at most one log block's body, so a
 * record never spans more than two blocks (see fs_log_open). */
#define PAYLOAD_MAX (FS_LOG_BODY - FS_LOG_REC_HDR)
#define BYTES_MAX (PAYLOAD_MAX - 24u)	/* bytes one FS_LOGR_BYTES record carries */

_Static_assert(FS_LOG_BODY % 8 == 0, "records are 8-byte aligned in every block");

#define ERR(rc_, ...)                                   \
	do {                                            \
		if (err)                                \
			snprintf(err, errsz, __VA_ARGS__); \
		return (rc_);                           \
	} while (0)

/* ---- 1. layouts ---- */

/* Offsets in a log block's header after the fs_mbh (log.h). */
enum { LB_NODE = 64, LB_NBLOCKS = 68, LB_USED = 72, LB_RSV = 76, LB_TAIL = 80, LB_RSV2 = 88 };
/* Offsets in a record header. */
enum { R_LSN = 0, R_TX = 8, R_TYPE = 16, R_RSV = 17, R_LEN = 20, R_CRC = 24, R_RSV2 = 28 };

static uint64_t seq_of(uint64_t lsn) { return lsn / BODY + 1; }

/* The record CRC: the payload, then the header with its CRC field zero. */
static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t plen)
{
	uint8_t h[FS_LOG_REC_HDR];

	memcpy(h, hdr, sizeof(h));
	memset(h + R_CRC, 0, 4);
	return mm_crc32c(mm_crc32c_bulk(0, payload, plen), h, sizeof(h));
}

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

/* ---- 2. the scan ---- */

enum { B_BAD, B_OK, B_TORN };

/* A transaction cut off by a crash and abandoned when the log was
 * reopened after it (the next unit starts while it is open). */
struct range {
	uint64_t start, end;
};

struct scan {
	uint32_t fsid, n;
	uint64_t ino;
	uint8_t *all;		/* n * FS_MB: the whole log */
	uint8_t *state;		/* B_* per log file block */
	int *rrc;		/* read errors */
	uint64_t head;		/* highest valid sequence */
	bool torn;		/* block head + 1 is a torn write, read record by record */
	bool have_node;
	uint32_t node;
	uint64_t tail;		/* replay starts here */
	uint64_t valid_end;	/* stream bytes before it are in verified blocks */
	uint64_t avail;		/* stream bytes before it can be read */
	uint64_t stop;		/* where the records stop: writing resumes here */
	uint64_t end;		/* end of the last committed unit */
	uint64_t txs, records;
	struct range *aband;
	size_t naband, aband_cap;
	uint8_t *rec;		/* one record */
	struct oset orph;	/* the orphan set at the end */
	struct { uint64_t ino; bool add; } *pend;	/* the open transaction's */
	size_t npend, pend_cap;
};

static uint8_t *blk_at(struct scan *s, uint64_t seq)
{
	return s->all + ((seq - 1) % s->n) * (size_t)FS_MB;
}

/* Copy stream bytes [p, p+len) (below s->avail). */
static void sread(struct scan *s, uint64_t p, uint8_t *out, size_t len)
{
	while (len) {
		size_t off = p % BODY, k = BODY - off < len ? BODY - off : len;

		memcpy(out, blk_at(s, seq_of(p)) + FS_LOG_HDR + off, k);
		out += k;
		p += k;
		len -= k;
	}
}

static void scan_free(struct scan *s)
{
	free(s->all);
	free(s->state);
	free(s->rrc);
	free(s->aband);
	free(s->rec);
	free(s->pend);
	oset_clear(&s->orph);
}

/* Why block at <pos> is bad, for the error message. */
static void bad_reason(struct scan *s, uint32_t pos, char *buf, size_t sz)
{
	if (s->rrc[pos]) {
		snprintf(buf, sz, "unreadable (%s)", mm_strerror(s->rrc[pos]));
		return;
	}
	if (fs_mb_verify(s->all + (size_t)pos * FS_MB, FS_MB, FS_BT_LOG, s->fsid, s->ino, pos, NULL,
			 buf, sz) == MM_OK)
		snprintf(buf, sz, "damaged");
}

/* Read and classify every block. A block that verifies as a metadata
 * block but names another file system, file, position or log size
 * refuses the whole log; one that does not verify is bad (an error only
 * where the live log needs it). */
static int scan_read(const struct fs_log_io *io, struct scan *s, char *err, size_t errsz)
{
	char why[200];

	s->all = malloc((size_t)s->n * FS_MB);
	s->state = calloc(s->n, 1);
	s->rrc = calloc(s->n, sizeof(int));
	s->rec = malloc(FS_LOG_BODY);
	if (!s->all || !s->state || !s->rrc || !s->rec)
		ERR(MM_ENOMEM, "no memory to read a log of %u blocks", s->n);
	for (uint32_t pos = 0; pos < s->n; pos++) {
		uint8_t *b = s->all + (size_t)pos * FS_MB;
		struct fs_mbh h;
		uint64_t seq;
		uint32_t used, node;

		s->rrc[pos] = io->read(io->arg, pos, b);
		if (s->rrc[pos])	/* it may hold the newest records: where the log ends is unknown */
			ERR(s->rrc[pos], "log block %u: unreadable (%s): the end of the log cannot be found, "
			    "so nothing is replayed", pos, mm_strerror(s->rrc[pos]));
		if (fs_mb_verify(b, FS_MB, 0, mm_be32_get(b + 8), UINT64_MAX, UINT64_MAX, &h, why,
				 sizeof(why)) != MM_OK)
			continue;	/* B_BAD */
		if (h.type != FS_BT_LOG)
			ERR(MM_EPROTO, "log block %u is a %s block, not a log block", pos,
			    fs_btype_name(h.type));
		if (h.fsid != s->fsid)
			ERR(MM_EPROTO, "log block %u belongs to file system %08" PRIx32 ", not %08"
			    PRIx32, pos, h.fsid, s->fsid);
		if (h.ino != s->ino || h.blk != pos)
			ERR(MM_EPROTO, "log block %u is block %" PRIu64 " of log file %" PRIu64
			    ", not block %u of log file %" PRIu64, pos, h.blk, h.ino, pos, s->ino);
		seq = h.a;
		used = mm_be32_get(b + LB_USED);
		node = mm_be32_get(b + LB_NODE);
		if (mm_be32_get(b + LB_NBLOCKS) != s->n)
			ERR(MM_EPROTO, "log block %u belongs to a log of %u blocks, not %u", pos,
			    mm_be32_get(b + LB_NBLOCKS), s->n);
		if (s->have_node && node != s->node)
			ERR(MM_EPROTO, "log block %u is node %u's, the blocks before it node %u's",
			    pos, node, s->node);
		if (used > BODY || (seq == 0 && used) || (seq && (seq - 1) % s->n != pos) ||
		    h.b != (seq ? (seq - 1) * BODY : 0) || mm_be32_get(b + LB_RSV) ||
		    mm_be64_get(b + LB_TAIL) > (seq ? (seq - 1) * BODY + used : 0))
			ERR(MM_EPROTO, "log block %u (sequence %" PRIu64 "): inconsistent header "
			    "(used %u, first LSN %" PRIu64 ", tail %" PRIu64 ")", pos, seq, used, h.b,
			    mm_be64_get(b + LB_TAIL));
		for (unsigned i = LB_RSV2; i < FS_LOG_HDR; i++)
			if (b[i])
				ERR(MM_EPROTO, "log block %u: reserved header bytes are not zero", pos);
		s->have_node = true;
		s->node = node;
		s->state[pos] = B_OK;
		if (seq > s->head)
			s->head = seq;
	}
	if (!s->have_node)
		ERR(MM_ECHECKSUM, "no valid block in the log (%u blocks): not formatted, or "
		    "destroyed", s->n);
	return MM_OK;
}

static uint32_t used_of(struct scan *s, uint64_t seq)
{
	return mm_be32_get(blk_at(s, seq) + LB_USED);
}

/* Head, tail, the chain of blocks between them, the torn block. */
static int scan_chain(struct scan *s, char *err, size_t errsz)
{
	char why[200];
	uint64_t h = s->head, ts;

	s->tail = h ? mm_be64_get(blk_at(s, h) + LB_TAIL) : 0;
	s->valid_end = h ? (h - 1) * BODY + used_of(s, h) : 0;
	s->avail = s->valid_end;
	ts = seq_of(s->tail);
	/* (the tail never passes what was durable when a header was written;
	 * ts == h + 1 - n is a full log: the writer does not reuse ts's block) */
	if (h && ts + s->n <= h)
		ERR(MM_EPROTO, "log block %" PRIu64 " (sequence %" PRIu64 "): tail %" PRIu64
		    " is in a block already reused", (h - 1) % s->n, h, s->tail);
	for (uint64_t q = ts; q <= h; q++) {
		uint32_t pos = (uint32_t)((q - 1) % s->n);
		uint8_t *b = blk_at(s, q);

		if (s->state[pos] != B_OK) {
			bad_reason(s, pos, why, sizeof(why));
			ERR(s->rrc[pos] ? s->rrc[pos] : MM_ECHECKSUM, "log block %u (sequence %"
			    PRIu64 "): %s; the committed transactions after it (to sequence %"
			    PRIu64 ") cannot be replayed", pos, q, why, h);
		}
		if (mm_be64_get(b + 32) != q)
			ERR(MM_EPROTO, "log block %u holds sequence %" PRIu64 " where sequence %"
			    PRIu64 " belongs (a lost write); the committed transactions after it (to "
			    "sequence %" PRIu64 ") cannot be replayed", pos, mm_be64_get(b + 32), q,
			    h);
		if (q < h && used_of(s, q) != BODY)
			ERR(MM_EPROTO, "log block %u (sequence %" PRIu64 ") is not full but sequence %"
			    PRIu64 " follows it", pos, q, h);
	}
	/* A torn write of the block after a full head: its header (a prefix
	 * of the write) names it; its records are checked one by one. */
	if (s->valid_end == h * BODY) {
		uint32_t pos = (uint32_t)(h % s->n);
		uint8_t *b = s->all + (size_t)pos * FS_MB;

		if (s->state[pos] == B_BAD && !s->rrc[pos] && mm_be32_get(b) == FS_MAGIC_MB &&
		    b[4] == FS_BT_LOG && mm_be32_get(b + 8) == s->fsid &&
		    mm_be64_get(b + 16) == s->ino && mm_be64_get(b + 24) == pos &&
		    mm_be64_get(b + 32) == h + 1) {
			s->torn = true;
			s->state[pos] = B_TORN;
			s->avail = (h + 1) * BODY;
		}
	}
	return MM_OK;
}

static bool zeroes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Is a record's payload well-formed for its type? */
static bool payload_ok(uint8_t type, const uint8_t *pl, uint32_t plen, uint64_t lsn)
{
	switch (type) {
	case FS_LOGR_BYTES:
		return plen > 24 && plen - 24 == mm_be32_get(pl + 20) &&
		       (uint64_t)mm_be32_get(pl + 16) + mm_be32_get(pl + 20) <= FS_MB;
	case FS_LOGR_ALLOC:
	case FS_LOGR_FREE:
		return plen == 16;
	case FS_LOGR_COMMIT:
		return plen == 8 && mm_be32_get(pl + 4) == 0;
	case FS_LOGR_CKPT:
		return plen == 8 && mm_be64_get(pl) <= lsn;
	case FS_LOGR_ORPHAN:
	case FS_LOGR_UNORPHAN:
		return plen == 16 && mm_be64_get(pl) && !mm_be64_get(pl + 8);
	case FS_LOGR_ORPHANS:
		if (plen < 8 || mm_be64_get(pl) > FS_LOG_ORPHANS_MAX ||
		    plen != 8 + 8 * mm_be64_get(pl))
			return false;
		for (uint32_t o = 8; o < plen; o += 8)
			if (!mm_be64_get(pl + o))
				return false;
		return true;
	}
	return false;
}

static int add_aband(struct scan *s, uint64_t start, uint64_t end)
{
	if (s->naband == s->aband_cap) {
		size_t cap = s->aband_cap ? 2 * s->aband_cap : 8;
		struct range *r = realloc(s->aband, cap * sizeof(*r));

		if (!r)
			return MM_ENOMEM;
		s->aband = r;
		s->aband_cap = cap;
	}
	s->aband[s->naband++] = (struct range){start, end};
	return MM_OK;
}

/* An orphan change of the transaction being scanned: it counts at its
 * commit record. */
static int pend_add(struct scan *s, uint64_t ino, bool add)
{
	if (s->npend == s->pend_cap) {
		size_t cap = s->pend_cap ? 2 * s->pend_cap : 8;
		void *p = realloc(s->pend, cap * sizeof(*s->pend));

		if (!p)
			return MM_ENOMEM;
		s->pend = p;
		s->pend_cap = cap;
	}
	s->pend[s->npend].ino = ino;
	s->pend[s->npend++].add = add;
	return MM_OK;
}

/*
 * Walk the records from the tail: each must sit at its LSN and verify.
 * In verified blocks a bad one is corruption; one reaching past them (a
 * torn or unwritten block) ends the log.
 */
static int scan_records(struct scan *s, char *err, size_t errsz)
{
	uint64_t p = s->tail, txstart = UINT64_MAX;
	uint32_t nrec = 0;
	uint8_t *r = s->rec;

	s->end = p;
	while (p + FS_LOG_REC_HDR <= s->avail) {
		uint32_t plen, size;
		uint8_t type;
		uint64_t txlsn;
		const char *bad = NULL;

		sread(s, p, r, FS_LOG_REC_HDR);
		plen = mm_be32_get(r + R_LEN);
		type = r[R_TYPE];
		txlsn = mm_be64_get(r + R_TX);
		size = plen <= PAYLOAD_MAX ? (uint32_t)fs_log_rec_bytes(plen) : 0;
		if (mm_be64_get(r + R_LSN) != p)
			bad = "is not at its LSN";
		else if (type == 0 || type >= FS_LOGR_NTYPES || r[R_RSV] || r[R_RSV + 1] ||
			 r[R_RSV + 2] || mm_be32_get(r + R_RSV2) || !size)
			bad = "has a malformed header";
		else if (p + size > s->avail)
			break;	/* continues in a block not written: the end */
		if (!bad) {
			sread(s, p + FS_LOG_REC_HDR, r + FS_LOG_REC_HDR, size - FS_LOG_REC_HDR);
			if (rec_crc(r, r + FS_LOG_REC_HDR, plen) != mm_be32_get(r + R_CRC))
				bad = "has a bad checksum";
			else if (!payload_ok(type, r + FS_LOG_REC_HDR, plen, p) ||
				 !zeroes(r + FS_LOG_REC_HDR + plen, size - FS_LOG_REC_HDR - plen))
				bad = "has a malformed payload";
		}
		if (bad) {
			if (p + (size ? size : FS_LOG_REC_HDR) <= s->valid_end)
				ERR(MM_ECHECKSUM, "log block %" PRIu64 " (sequence %" PRIu64 "): the "
				    "record at LSN %" PRIu64 " %s", (seq_of(p) - 1) % s->n, seq_of(p),
				    p, bad);
			break;	/* the torn write: the end */
		}
		if (txlsn == p && txstart != UINT64_MAX) {
			/* a unit starts inside a transaction: that one was cut
			 * off by a crash and the log reopened after it */
			if (add_aband(s, txstart, p))
				ERR(MM_ENOMEM, "no memory");
			txstart = UINT64_MAX;
			s->npend = 0;
		}
		if (type == FS_LOGR_CKPT || type == FS_LOGR_ORPHANS) {
			if (txlsn != p)
				ERR(MM_EPROTO, "log block %" PRIu64 ": %s record at LSN %" PRIu64
				    " inside a transaction", (seq_of(p) - 1) % s->n,
				    type == FS_LOGR_CKPT ? "checkpoint" : "orphan set", p);
			if (type == FS_LOGR_ORPHANS) {
				const uint8_t *pl = r + FS_LOG_REC_HDR;

				oset_clear(&s->orph);
				for (uint32_t o = 8; o < plen; o += 8)
					if (oset_add(&s->orph, mm_be64_get(pl + o)))
						ERR(MM_ENOMEM, "no memory");
			}
			s->end = p + size;
		} else {
			if (txstart == UINT64_MAX) {
				if (txlsn != p)
					ERR(MM_EPROTO, "log block %" PRIu64 ": the record at LSN %"
					    PRIu64 " belongs to transaction %" PRIu64 ", which is not "
					    "in the log", (seq_of(p) - 1) % s->n, p, txlsn);
				txstart = p;
				nrec = 0;
			} else if (txlsn != txstart) {
				ERR(MM_EPROTO, "log block %" PRIu64 ": the record at LSN %" PRIu64
				    " of transaction %" PRIu64 " inside transaction %" PRIu64,
				    (seq_of(p) - 1) % s->n, p, txlsn, txstart);
			}
			if (type == FS_LOGR_COMMIT) {
				if (mm_be32_get(r + FS_LOG_REC_HDR) != nrec)
					ERR(MM_EPROTO, "log block %" PRIu64 ": the commit at LSN %"
					    PRIu64 " counts %u records, the log has %u",
					    (seq_of(p) - 1) % s->n, p, mm_be32_get(r + FS_LOG_REC_HDR),
					    nrec);
				s->txs++;
				s->records += nrec;
				txstart = UINT64_MAX;
				s->end = p + size;
				for (size_t k = 0; k < s->npend; k++)
					if (!s->pend[k].add)
						oset_del(&s->orph, s->pend[k].ino);
					else if (oset_add(&s->orph, s->pend[k].ino))
						ERR(MM_ENOMEM, "no memory");
				s->npend = 0;
			} else {
				nrec++;
				if ((type == FS_LOGR_ORPHAN || type == FS_LOGR_UNORPHAN) &&
				    pend_add(s, mm_be64_get(r + FS_LOG_REC_HDR),
					     type == FS_LOGR_ORPHAN))
					ERR(MM_ENOMEM, "no memory");
			}
		}
		p += size;
	}
	s->stop = p;
	return MM_OK;
}

static int scan_log(const struct fs_log_io *io, struct scan *s, char *err, size_t errsz)
{
	int rc = scan_read(io, s, err, errsz);

	if (rc == MM_OK)
		rc = scan_chain(s, err, errsz);
	if (rc == MM_OK)
		rc = scan_records(s, err, errsz);
	return rc;
}

/* ---- 3. replay ---- */

static int apply(const struct fs_bstore *bs, const uint8_t *r)
{
	const uint8_t *pl = r + FS_LOG_REC_HDR;
	uint64_t ino = mm_be64_get(pl), blk = mm_be64_get(pl + 8);
	uint8_t *data;
	int rc;

	switch (r[R_TYPE]) {
	case FS_LOGR_BYTES:
	case FS_LOGR_ALLOC:
		rc = bs->get(bs->arg, ino, blk, true, &data);
		if (rc)
			return rc;
		if (r[R_TYPE] == FS_LOGR_ALLOC)
			memset(data, 0, FS_MB);
		else
			memcpy(data + mm_be32_get(pl + 16), pl + 24, mm_be32_get(pl + 20));
		bs->put(bs->arg, ino, blk, data, true);
		return MM_OK;
	case FS_LOGR_FREE:
		rc = bs->punch(bs->arg, ino, blk);
		return rc == MM_ENOENT ? MM_OK : rc;
	}
	return MM_OK;
}

int fs_log_replay(const struct fs_log_io *io, uint32_t fsid, uint64_t ino, uint32_t nblocks,
		  const struct fs_bstore *bs, struct fs_log_replay *out, char *err, size_t errsz)
{
	struct scan s = {.fsid = fsid, .ino = ino, .n = nblocks};
	size_t a = 0;
	int rc;

	if (nblocks < FS_LOG_MIN_BLOCKS)
		ERR(MM_EINVAL, "a log of %u blocks (at least %u)", nblocks, FS_LOG_MIN_BLOCKS);
	rc = scan_log(io, &s, err, errsz);
	/* Every transaction in [tail, end) is committed but the abandoned
	 * ones; they are applied in LSN order. */
	for (uint64_t p = s.tail; rc == MM_OK && p < s.end;) {
		uint32_t size;

		sread(&s, p, s.rec, FS_LOG_REC_HDR);
		size = (uint32_t)fs_log_rec_bytes(mm_be32_get(s.rec + R_LEN));
		while (a < s.naband && s.aband[a].end <= p)
			a++;
		if (a == s.naband || p < s.aband[a].start) {
			sread(&s, p + FS_LOG_REC_HDR, s.rec + FS_LOG_REC_HDR, size - FS_LOG_REC_HDR);
			rc = apply(bs, s.rec);
			if (rc && err)
				snprintf(err, errsz, "replaying the record at LSN %" PRIu64 ": %s", p,
					 mm_strerror(rc));
		}
		p += size;
	}
	if (rc == MM_OK && out) {
		*out = (struct fs_log_replay){
			.node = s.node, .head_seq = s.torn ? s.head + 1 : s.head, .tail = s.tail,
			.end = s.end, .txs = s.txs, .records = s.records,
			.ignored = s.stop - s.end, .torn = s.torn,
		};
		if (s.orph.n) {
			out->orphans = malloc(s.orph.n * sizeof(uint64_t));
			if (out->orphans)
				out->norphans = oset_list(&s.orph, out->orphans, s.orph.n);
			else
				rc = MM_ENOMEM;
		}
	}
	scan_free(&s);
	return rc;
}

void fs_log_replay_done(struct fs_log_replay *r)
{
	free(r->orphans);
	r->orphans = NULL;
	r->norphans = 0;
}

/* ---- 4. the writer ---- */

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

int fs_log_open(const struct fs_log_params *p, fs_log **out, char *err, size_t errsz)
{
	struct scan s = {.fsid = p->fsid, .ino = p->ino, .n = p->nblocks};
	fs_log *log;
	int rc;

	*out = NULL;
	if (p->nblocks < FS_LOG_MIN_BLOCKS || !p->io.write || !p->io.read || p->nbufs == 1)
		ERR(MM_EINVAL, "bad log parameters (%u blocks, %u buffers)", p->nblocks, p->nbufs);
	rc = scan_log(&p->io, &s, err, errsz);
	if (rc == MM_OK && s.node != p->node) {
		if (err)
			snprintf(err, errsz, "the log is node %u's, not node %u's", s.node, p->node);
		rc = MM_EPROTO;
	}
	log = rc == MM_OK ? calloc(1, sizeof(*log)) : NULL;
	if (rc == MM_OK && !log)
		rc = MM_ENOMEM;
	if (rc) {
		scan_free(&s);
		return rc;
	}
	log->p = *p;
	log->nbufs = p->nbufs ? p->nbufs : FS_LOG_DEFAULT_BUFS;
	pthread_mutex_init(&log->mu, NULL);
	mm_cond_init(&log->cv);
	log->bufs = calloc(log->nbufs, sizeof(*log->bufs));
	log->wbuf = malloc(FS_MB);
	for (uint32_t i = 0; log->bufs && i < log->nbufs; i++)
		if (!(log->bufs[i].data = malloc(FS_MB)))
			rc = MM_ENOMEM;
	if (!log->bufs || !log->wbuf || rc) {
		scan_free(&s);
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
	log->end = log->durable = s.stop;
	log->tail = log->tail_dur = s.tail;
	log->orph = s.orph;
	s.orph = (struct oset){0};
	if (s.stop) {	/* the newest block: appended to, or rewritten by a checkpoint */
		struct lbuf *b = &log->bufs[seq_of(s.stop - 1) % log->nbufs];

		b->seq = seq_of(s.stop - 1);
		memset(b->data, 0, FS_MB);
		memcpy(b->data + FS_LOG_HDR, blk_at(&s, b->seq) + FS_LOG_HDR,
		       (s.stop - 1) % BODY + 1);
	}
	scan_free(&s);
	*out = log;
	return MM_OK;
}

void fs_log_close(fs_log *log)
{
	if (!log)
		return;
	MM_ASSERT(log->ntx == 0);
	for (uint32_t i = 0; log->bufs && i < log->nbufs; i++)
		free(log->bufs[i].data);
	pthread_mutex_destroy(&log->mu);
	pthread_cond_destroy(&log->cv);
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

/* ---- 5. transactions, space and checkpoints ---- */

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
	put_stream(log, tx->buf, tx->len);
	*lsn = log->end;
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
