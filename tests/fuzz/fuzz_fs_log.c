/*
 * tests/fuzz/fuzz_fs_log.c - libFuzzer target for log replay
 * (fs_log_replay, fs/log.c, contract in fs/log.h) on a log read from
 * disk: whatever its blocks hold, replay returns an error or succeeds,
 * never crashes, leaks or keeps a block, and changes nothing but blocks
 * of the two inodes the store has (100, 101; at most FZ_MAXBLK blocks,
 * each exactly FS_MB bytes, so a write past one is a sanitizer report).
 *
 * Input:
 *   byte 0  bits 0-1 log blocks - 3 (3 .. 6)
 *           bit 2: synthesize (else overlay)
 *           bit 3: reseal the overlaid blocks' CRC
 *           bits 4-7: v, 1 .. 6: the read of log block v - 1 fails (MM_EIO)
 *   overlay: 3 bytes offset (mod the log's bytes), then the rest of the
 *           input replaces the log's bytes from there (up to its end).
 *           The log under it is a real one: formatted and written by
 *           fs_log_open / begin / add / commit / force, three committed
 *           transactions and an uncommitted one.
 *   synthesize: 2 bytes: the tail (x 8); then records, each 1 byte type,
 *           1 byte flags (bit 0 starts a transaction: its tx LSN is its
 *           own, bit 1 a wrong LSN), 2 bytes payload length, the payload
 *           (zero-padded): each record gets a correct CRC, and the blocks
 *           that hold them correct headers (sequence 1.., used, the
 *           tail), so the record checks behind the CRCs are reached.
 * Replay runs twice: a success must be repeatable with the same result
 * (replay is idempotent) unless the store ran out of blocks. A refusal of
 * the log (MM_EPROTO, MM_ECHECKSUM, MM_ENOTSUP) must say why.
 * Seeds: tests/fuzz/seeds/fuzz_fs_log/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "fs/format.h"
#include "fs/log.h"
#include "tests/fuzz/fuzz_fs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSID 0x5eed0001u
#define LOGINO 50u
#define NODE 3u
#define MAXLB 6u

struct dev {
	uint8_t *b;		/* n * FS_MB */
	uint32_t n;
	uint32_t fail;		/* the block whose read fails (>= n: none) */
};

static int dev_write(void *arg, uint64_t lblk, const uint8_t *data)
{
	struct dev *d = arg;

	if (lblk >= d->n)
		abort();
	memcpy(d->b + lblk * FS_MB, data, FS_MB);
	return MM_OK;
}

static int dev_read(void *arg, uint64_t lblk, uint8_t *data)
{
	struct dev *d = arg;

	if (lblk >= d->n)
		abort();
	if (lblk == d->fail)
		return MM_EIO;
	memcpy(data, d->b + lblk * FS_MB, FS_MB);
	return MM_OK;
}

static int no_ckpt(void *arg, uint64_t lsn)
{
	(void)arg;
	(void)lsn;
	return MM_OK;
}

/* A real log of n blocks: three committed transactions, one not. */
static uint8_t base[MAXLB - 2][MAXLB * FS_MB];

static void make_base(uint32_t n)
{
	struct dev d = {base[n - 3], n, UINT32_MAX};
	struct fs_log_params p = {
		.io = {dev_write, dev_read, &d}, .fsid = FSID, .ino = LOGINO, .node = NODE,
		.nblocks = n, .need_checkpoint = no_ckpt,
	};
	static uint8_t blk[FS_MB];
	struct fs_mbh h = {.type = FS_BT_DIR, .fsid = FSID, .ino = 100};
	fs_log *log;
	fs_log_tx *tx;
	uint64_t lsn;
	char err[256];

	if (fs_log_format(&p.io, FSID, LOGINO, NODE, n) != MM_OK ||
	    fs_log_open(&p, &log, err, sizeof(err)) != MM_OK)
		abort();
	for (unsigned t = 0; t < 4; t++) {
		h.blk = t;
		memset(blk + FS_MBH_BYTES, 'a' + t, 300);
		fs_mb_seal(blk, FS_MB, &h);
		if (fs_log_begin(log, fs_log_reserve(2, FS_MBH_BYTES + 300, 2), &tx) != MM_OK ||
		    fs_log_add_alloc(tx, 100, t) != MM_OK ||
		    fs_log_add_bytes(tx, 100, t, 0, blk, FS_MBH_BYTES + 300) != MM_OK ||
		    fs_log_add_free(tx, 101, t) != MM_OK)
			abort();
		if (t < 3 && fs_log_commit(tx, &lsn) != MM_OK)
			abort();
		fs_log_end(tx);
	}
	if (fs_log_force(log, UINT64_MAX) != MM_OK)
		abort();
	fs_log_close(log);
}

/* ---- synthesized logs ---- */

static void put_rec(uint8_t *stream, uint64_t p, uint8_t type, uint64_t txlsn, uint32_t plen,
		    uint32_t size)
{
	uint8_t *r = stream + p;
	uint32_t c;

	mm_be64_put(r, p);
	mm_be64_put(r + 8, txlsn);
	r[16] = type;
	mm_be32_put(r + 20, plen);
	c = mm_crc32c_bulk(0, r + FS_LOG_REC_HDR, size - FS_LOG_REC_HDR < plen ?
						      size - FS_LOG_REC_HDR : plen);
	mm_be32_put(r + 24, mm_crc32c(c, r, FS_LOG_REC_HDR));
}

static uint8_t stream[MAXLB * FS_LOG_BODY];

static void synthesize(struct fz_in *in, struct dev *d)
{
	uint64_t cap = (uint64_t)d->n * FS_LOG_BODY, p = 0, tx = 0, tail;
	uint64_t nseq;

	memset(stream, 0, cap);
	tail = fz_u(in, 2) * 8;
	while (in->n && p + FS_LOG_REC_HDR <= cap) {
		uint8_t type = (uint8_t)fz_u(in, 1), fl = (uint8_t)fz_u(in, 1);
		uint32_t plen = (uint32_t)fz_u(in, 2);
		uint64_t size = fs_log_rec_bytes(plen), lsn = p;

		if (size > cap - p)
			size = cap - p;
		fz_bytes(in, stream + p + FS_LOG_REC_HDR, size - FS_LOG_REC_HDR < plen ?
							   size - FS_LOG_REC_HDR : plen);
		if (fl & 1)
			tx = p;
		put_rec(stream, p, type, tx, plen, (uint32_t)size);
		if (fl & 2)
			mm_be64_put(stream + p, lsn + 8);
		p += size;
	}
	nseq = (p + FS_LOG_BODY - 1) / FS_LOG_BODY;
	for (uint32_t i = 0; i < d->n; i++) {
		uint8_t *b = d->b + (size_t)i * FS_MB;
		uint64_t seq = i < nseq ? i + 1 : 0;
		uint64_t used = seq ? p - i * (uint64_t)FS_LOG_BODY : 0;
		struct fs_mbh h = {
			.type = FS_BT_LOG, .fsid = FSID, .ino = LOGINO, .blk = i,
			.a = seq, .b = seq ? (seq - 1) * FS_LOG_BODY : 0,
		};

		memset(b, 0, FS_MB);
		if (used > FS_LOG_BODY)
			used = FS_LOG_BODY;
		if (seq)
			memcpy(b + FS_LOG_HDR, stream + i * (size_t)FS_LOG_BODY, used);
		mm_be32_put(b + 64, NODE);
		mm_be32_put(b + 68, d->n);
		mm_be32_put(b + 72, (uint32_t)used);
		mm_be64_put(b + 80, seq ? tail : 0);
		fs_mb_seal(b, FS_MB, &h);
	}
}

static uint8_t dev_b[MAXLB * FS_MB];

static void check(int rc, const char *err)
{
	if ((rc == MM_EPROTO || rc == MM_ECHECKSUM || rc == MM_ENOTSUP) && err[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fz_in in = {data, size};
	struct dev d;
	struct fz_store st;
	struct fs_log_io io = {dev_write, dev_read, NULL};
	struct fs_log_replay r1, r2;
	char err[256] = "";
	unsigned flags;
	int rc, rc2;

	if (!ready) {
		mm_log_set_level(MM_LOG_FATAL);
		for (uint32_t n = 3; n <= MAXLB; n++)
			make_base(n);
		ready = true;
	}
	flags = (unsigned)fz_u(&in, 1);
	d = (struct dev){dev_b, 3 + (flags & 3), UINT32_MAX};
	if ((flags >> 4) >= 1 && (flags >> 4) <= MAXLB)
		d.fail = (flags >> 4) - 1;
	io.arg = &d;
	if (flags & 4) {
		synthesize(&in, &d);
	} else {
		size_t len = (size_t)d.n * FS_MB, off = (size_t)(fz_u(&in, 3) % len), k;

		memcpy(d.b, base[d.n - 3], len);
		k = fz_bytes(&in, d.b + off, len - off);
		if (flags & 8)
			for (size_t b = off / FS_MB; k && b <= (off + k - 1) / FS_MB; b++)
				fz_fix_crc(d.b + b * FS_MB, FS_MB);
	}

	fz_store_init(&st);
	st.ino_lo = 100;
	st.ino_hi = 101;
	rc = fs_log_replay(&io, FSID, LOGINO, d.n, &st.bs, NULL, &r1, err, sizeof(err));
	check(rc, err);
	err[0] = '\0';
	rc2 = fs_log_replay(&io, FSID, LOGINO, d.n, &st.bs, NULL, &r2, err, sizeof(err));
	check(rc2, err);
	if (rc == MM_OK && rc2 != MM_ERANGE &&
	    (rc2 != MM_OK || r1.txs != r2.txs || r1.records != r2.records || r1.end != r2.end ||
	     r1.head_seq != r2.head_seq || r1.tail != r2.tail || r1.norphans != r2.norphans))
		abort();
	if (rc == MM_OK)
		fs_log_replay_done(&r1);
	if (rc2 == MM_OK)
		fs_log_replay_done(&r2);
	fz_store_done(&st);
	return 0;
}
