/*
 * fs/format.c - the on-disk format's codecs (layouts in fs/format.h,
 * design in fs/README.md).
 *
 *   1. metadata block headers: seal, verify
 *   2. directory name hash
 */
#include "fs/format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"

/* ---- 1. metadata block headers ---- */

static const char *const btype_names[FS_BT_NTYPES] = {
	[FS_BT_INODE] = "inode",
	[FS_BT_INDIRECT] = "indirect",
	[FS_BT_DIR] = "directory",
	[FS_BT_BMAP] = "block map",
	[FS_BT_IMAP] = "inode map",
	[FS_BT_LOG] = "log",
	[FS_BT_LOGTAB] = "log table",
	[FS_BT_XATTR] = "xattr",
};

const char *fs_btype_name(unsigned type)
{
	return type > 0 && type < FS_BT_NTYPES ? btype_names[type] : "unknown";
}

static uint32_t block_crc(const uint8_t *blk, size_t len)
{
	static const uint8_t zero[4];
	uint32_t crc = mm_crc32c_bulk(0, blk, 12);

	crc = mm_crc32c_bulk(crc, zero, 4);
	return mm_crc32c_bulk(crc, blk + 16, len - 16);
}

void fs_mb_seal(uint8_t *blk, size_t len, const struct fs_mbh *h)
{
	mm_be32_put(blk, h->type == FS_BT_INODE ? FS_MAGIC_INODE : FS_MAGIC_MB);
	blk[4] = h->type;
	blk[5] = FS_FORMAT_VERSION;
	blk[6] = blk[7] = 0;
	mm_be32_put(blk + 8, h->fsid);
	mm_be64_put(blk + 16, h->ino);
	mm_be64_put(blk + 24, h->blk);
	mm_be64_put(blk + 32, h->a);
	mm_be64_put(blk + 40, h->b);
	memset(blk + 48, 0, 16);
	mm_be32_put(blk + 12, block_crc(blk, len));
}

#define BAD(rc, ...)                                    \
	do {                                            \
		snprintf(err, errsz, __VA_ARGS__);      \
		return (rc);                            \
	} while (0)

static bool zeroes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

int fs_mb_verify(const uint8_t *blk, size_t len, unsigned want, uint32_t fsid, uint64_t ino,
		 uint64_t blkno, struct fs_mbh *h, char *err, size_t errsz)
{
	uint32_t magic, crc;
	struct fs_mbh x;

	if (len < FS_MBH_BYTES)
		BAD(MM_EPROTO, "block of %zu bytes is shorter than its header", len);
	magic = mm_be32_get(blk);
	x.type = blk[4];
	if (magic != FS_MAGIC_MB && magic != FS_MAGIC_INODE)
		BAD(MM_EPROTO, "no metadata block here (magic %08" PRIx32 ")", magic);
	if ((magic == FS_MAGIC_INODE) != (x.type == FS_BT_INODE) || x.type == 0 ||
	    x.type >= FS_BT_NTYPES)
		BAD(MM_EPROTO, "block type %u does not match its magic %08" PRIx32, x.type, magic);
	if (blk[5] != FS_FORMAT_VERSION)
		BAD(MM_ENOTSUP, "%s block of format version %u; this mmfs reads version %u",
		    fs_btype_name(x.type), blk[5], FS_FORMAT_VERSION);
	crc = block_crc(blk, len);
	if (crc != mm_be32_get(blk + 12))
		BAD(MM_ECHECKSUM, "%s block has a bad checksum (stored %08" PRIx32 ", computed %08"
		    PRIx32 ")", fs_btype_name(x.type), mm_be32_get(blk + 12), crc);
	if (blk[6] || blk[7] || !zeroes(blk + 48, 16))
		BAD(MM_EPROTO, "%s block: reserved header bytes are not zero", fs_btype_name(x.type));
	x.fsid = mm_be32_get(blk + 8);
	x.ino = mm_be64_get(blk + 16);
	x.blk = mm_be64_get(blk + 24);
	x.a = mm_be64_get(blk + 32);
	x.b = mm_be64_get(blk + 40);
	if (want && x.type != want)
		BAD(MM_EPROTO, "a %s block where a %s block belongs", fs_btype_name(x.type),
		    fs_btype_name(want));
	if (x.fsid != fsid)
		BAD(MM_EPROTO, "%s block of file system %08" PRIx32 ", not %08" PRIx32,
		    fs_btype_name(x.type), x.fsid, fsid);
	if (ino != UINT64_MAX && x.ino != ino)
		BAD(MM_EPROTO, "%s block of inode %" PRIu64 " where inode %" PRIu64 "'s belongs",
		    fs_btype_name(x.type), x.ino, ino);
	if (blkno != UINT64_MAX && x.blk != blkno)
		BAD(MM_EPROTO, "%s block %" PRIu64 " of inode %" PRIu64 " where block %" PRIu64
		    " belongs", fs_btype_name(x.type), x.blk, x.ino, blkno);
	if (h)
		*h = x;
	return MM_OK;
}

/* ---- 2. the directory name hash ----
 *
 * FNV-1a over the bytes, then splitmix64's finaliser so every bit depends
 * on every byte: extendible hashing uses the low bits, readdir the
 * reversed ones. Part of the format: never change it within a version.
 */
uint64_t fs_name_hash(const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}
