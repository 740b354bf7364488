/*
 * tests/fuzz/fuzz_fs_meta.c - libFuzzer target for the on-disk format's
 * decoders (fs/format.c, contract in fs/format.h).
 *
 * Every input is read three ways:
 *   1. a stripe group descriptor slot (fs_sgd_decode), and three
 *      descriptor disks made of it (fs_sgd_choose);
 *   2. an inode record (fs_inode_decode; the input cut or zero-padded to
 *      FS_INODE_BYTES);
 *   3. a metadata block (fs_mb_verify).
 * Each is tried as given and again with its CRC recomputed, so the field
 * checks behind the CRC are reached too. A refusal must carry a reason
 * and one of the documented codes; an accepted descriptor or inode must
 * re-encode to exactly its bytes and decode again to the same struct; an
 * accepted block's header must re-seal to its bytes (abort otherwise).
 * Seeds (a slot, inodes, a directory block): tests/fuzz/seeds/fuzz_fs_meta/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"
#include "fs/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The format's CRC: [0, len) with bytes 12..16 taken as zero. */
static void fix_crc(uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t c = mm_crc32c_bulk(0, p, 12);

	c = mm_crc32c_bulk(c, zero, 4);
	mm_be32_put(p + 12, mm_crc32c_bulk(c, p + 16, len - 16));
}

static void refused(int rc, const char *err, bool enoent_ok)
{
	if (err[0] == '\0')
		abort();
	if (rc != MM_EPROTO && rc != MM_ECHECKSUM && rc != MM_ENOTSUP &&
	    !(enoent_ok && rc == MM_ENOENT))
		abort();
}

/* ---- 1. descriptor slots ---- */

static struct fs_sgd sa, sb;
static uint8_t fixed[FS_SGD_SLOT_BYTES], again[FS_SGD_SLOT_BYTES];

static void one_slot(const uint8_t *slot, size_t len)
{
	size_t look = len < FS_SGD_SLOT_BYTES ? len : FS_SGD_SLOT_BYTES;
	char err[256] = "";
	int rc;

	rc = fs_sgd_decode(slot, len, &sa, err, sizeof(err));
	if (rc != MM_OK) {
		refused(rc, err, true);
		return;
	}
	if (sa.version < 1 || sa.version > FS_FORMAT_VERSION ||
	    fs_sgd_check(&sa, err, sizeof(err)) != MM_OK)
		abort();
	if (fs_sgd_encode(&sa, again) != MM_OK || memcmp(again, slot, look) != 0)
		abort();
	if (fs_sgd_decode(again, FS_SGD_SLOT_BYTES, &sb, err, sizeof(err)) != MM_OK ||
	    memcmp(&sa, &sb, sizeof(sa)) != 0)
		abort();
}

static void slots(const uint8_t *data, size_t size)
{
	size_t n = size < FS_SGD_SLOT_BYTES ? size : FS_SGD_SLOT_BYTES;
	struct fs_sgd_read rd[3] = {
		{{fixed, data}, {n, size}},
		{{fixed, NULL}, {n, 0}},
		{{NULL, data}, {0, size}},
	};
	uint8_t next[3];
	char err[512] = "";
	int rc;

	one_slot(data, size);
	memcpy(fixed, data, n);
	if (n >= 16) {
		uint32_t used = mm_be32_get(fixed + 8);

		if (used >= 16 && used <= n)
			fix_crc(fixed, used);
	}
	one_slot(fixed, n);

	rc = fs_sgd_choose(rd, 3, &sa, next, err, sizeof(err));
	if (rc == MM_OK) {
		/* at least two disks hold it, so the fixed slot decoded */
		if (next[0] > 1 || next[1] > 1 || next[2] > 1 ||
		    fs_sgd_decode(fixed, n, &sb, err, sizeof(err)) != MM_OK)
			abort();
	} else if ((rc != MM_ENOENT && rc != MM_ENOTSUP) || err[0] == '\0') {
		abort();
	}
}

/* ---- 2. inode records ---- */

static struct fs_inode ia, ib;
static uint8_t rec[FS_INODE_BYTES], rec2[FS_INODE_BYTES];

static void one_inode(const uint8_t *r)
{
	uint32_t fsid = mm_be32_get(r + 8);
	char err[256] = "";
	int rc;

	rc = fs_inode_decode(r, fsid, UINT64_MAX, &ia, err, sizeof(err));
	if (rc != MM_OK) {
		refused(rc, err, false);
		return;
	}
	if (ia.ino != mm_be64_get(r + 16))
		abort();
	fs_inode_encode(&ia, fsid, rec2);
	if (memcmp(rec2, r, FS_INODE_BYTES) != 0)
		abort();
	if (fs_inode_decode(rec2, fsid, ia.ino, &ib, err, sizeof(err)) != MM_OK ||
	    memcmp(&ia, &ib, sizeof(ia)) != 0)
		abort();
	/* another inode's number is refused */
	if (fs_inode_decode(r, fsid, ia.ino + 1, &ib, err, sizeof(err)) != MM_EPROTO)
		abort();
}

static void inodes(const uint8_t *data, size_t size)
{
	memset(rec, 0, sizeof(rec));
	memcpy(rec, data, size < FS_INODE_BYTES ? size : FS_INODE_BYTES);
	one_inode(rec);
	fix_crc(rec, FS_INODE_BYTES);
	one_inode(rec);
}

/* ---- 3. metadata blocks ---- */

static uint8_t blk[FS_MB], blk2[FS_MB];

static void one_block(const uint8_t *b, size_t len)
{
	uint32_t fsid = len >= 12 ? mm_be32_get(b + 8) : 0;
	struct fs_mbh h;
	char err[256] = "";
	int rc;

	rc = fs_mb_verify(b, len, 0, fsid, UINT64_MAX, UINT64_MAX, &h, err, sizeof(err));
	if (rc != MM_OK) {
		refused(rc, err, false);
		return;
	}
	if (h.type == 0 || h.type >= FS_BT_NTYPES || h.fsid != fsid)
		abort();
	/* the header re-seals to the same bytes */
	memcpy(blk2, b, len);
	fs_mb_seal(blk2, len, &h);
	if (memcmp(blk2, b, len) != 0)
		abort();
	if (fs_mb_verify(b, len, h.type, fsid, h.ino, h.blk, NULL, err, sizeof(err)) != MM_OK)
		abort();
	/* another block number is refused (UINT64_MAX would mean "unchecked") */
	if (fs_mb_verify(b, len, h.type, fsid, h.ino, h.blk + 1 == UINT64_MAX ? 0 : h.blk + 1, NULL,
			 err, sizeof(err)) != MM_EPROTO)
		abort();
}

static void blocks(const uint8_t *data, size_t size)
{
	size_t n = size < FS_MB ? size : FS_MB;

	one_block(data, n);
	if (n < 16)
		return;
	memcpy(blk, data, n);
	fix_crc(blk, n);
	one_block(blk, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	slots(data, size);
	inodes(data, size);
	blocks(data, size);
	return 0;
}
