/*
 * fs/logscan.c - reading a per-node log (contract in fs/log.h, design in
 * fs/README.md "The log"): the scan that finds a log's head, tail and
 * end and checks every record, and replay over it. fs_log_open (log.c)
 * runs the same scan to learn where writing resumes, so a surviving node
 * replaying another's log and a node reopening its own agree.
 *
 *   1. the scan: read the log, chain the blocks, check the records
 *   2. replay
 */
#include "fs/log_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/wire.h"

/* ---- 1. the scan ---- */

uint8_t *logscan_blk(struct scan *s, uint64_t seq)
{
	return s->all + ((seq - 1) % s->n) * (size_t)FS_MB;
}

/* Copy stream bytes [p, p+len) (below s->avail). */
static void sread(struct scan *s, uint64_t p, uint8_t *out, size_t len)
{
	while (len) {
		size_t off = p % BODY, k = BODY - off < len ? BODY - off : len;

		memcpy(out, logscan_blk(s, seq_of(p)) + FS_LOG_HDR + off, k);
		out += k;
		p += k;
		len -= k;
	}
}

void logscan_free(struct scan *s)
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
	return mm_be32_get(logscan_blk(s, seq) + LB_USED);
}

/* Head, tail, the chain of blocks between them, the torn block. */
static int scan_chain(struct scan *s, char *err, size_t errsz)
{
	char why[200];
	uint64_t h = s->head, ts;

	s->tail = h ? mm_be64_get(logscan_blk(s, h) + LB_TAIL) : 0;
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
		uint8_t *b = logscan_blk(s, q);

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
	case FS_LOGR_ZERO:
		return plen == 24 && mm_be32_get(pl + 20) &&
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

int logscan_run(const struct fs_log_io *io, struct scan *s, char *err, size_t errsz)
{
	int rc = scan_read(io, s, err, errsz);

	if (rc == MM_OK)
		rc = scan_chain(s, err, errsz);
	if (rc == MM_OK)
		rc = scan_records(s, err, errsz);
	return rc;
}

/* ---- 2. replay ---- */

static int apply(const struct fs_bstore *bs, const uint8_t *r)
{
	const uint8_t *pl = r + FS_LOG_REC_HDR;
	uint64_t ino = mm_be64_get(pl), blk = mm_be64_get(pl + 8);
	uint8_t *data;
	int rc;

	switch (r[R_TYPE]) {
	case FS_LOGR_BYTES:
	case FS_LOGR_ZERO:
	case FS_LOGR_ALLOC:
		rc = bs->get(bs->arg, ino, blk, true, &data);
		if (rc)
			return rc;
		if (r[R_TYPE] == FS_LOGR_ALLOC)
			memset(data, 0, FS_MB);
		else if (r[R_TYPE] == FS_LOGR_ZERO)
			memset(data + mm_be32_get(pl + 16), 0, mm_be32_get(pl + 20));
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
		  const struct fs_bstore *bs, int (*txdone)(void *arg), struct fs_log_replay *out,
		  char *err, size_t errsz)
{
	struct scan s = {.fsid = fsid, .ino = ino, .n = nblocks};
	size_t a = 0;
	int rc;

	if (nblocks < FS_LOG_MIN_BLOCKS)
		ERR(MM_EINVAL, "a log of %u blocks (at least %u)", nblocks, FS_LOG_MIN_BLOCKS);
	rc = logscan_run(io, &s, err, errsz);
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
			if (!rc && txdone && s.rec[R_TYPE] == FS_LOGR_COMMIT)
				rc = txdone(bs->arg);
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
	logscan_free(&s);
	return rc;
}

void fs_log_replay_done(struct fs_log_replay *r)
{
	free(r->orphans);
	r->orphans = NULL;
	r->norphans = 0;
}
