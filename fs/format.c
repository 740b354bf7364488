/*
 * fs/format.c - the on-disk format's codecs (layouts in fs/format.h,
 * design in fs/README.md).
 *
 *   1. metadata block headers: seal, verify
 *   2. directory name hash
 *   3. the stripe group descriptor: encode, check, decode
 *   4. choosing the descriptor from the descriptor disks (majority)
 *   5. inode records: encode, decode
 *   6. block pointers and the pointer tree's arithmetic
 */
#include "fs/format.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bug.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"
#include "nsd/desc.h"
#include "nsd/stanza.h"

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
	blk[5] = FS_MB_VERSION;
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

void fs_mb_header(const uint8_t *blk, struct fs_mbh *x)
{
	x->type = blk[4];
	x->fsid = mm_be32_get(blk + 8);
	x->ino = mm_be64_get(blk + 16);
	x->blk = mm_be64_get(blk + 24);
	x->a = mm_be64_get(blk + 32);
	x->b = mm_be64_get(blk + 40);
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
	if (blk[5] != FS_MB_VERSION)
		BAD(MM_ENOTSUP, "%s block of format version %u; this mmfs reads version %u",
		    fs_btype_name(x.type), blk[5], FS_MB_VERSION);
	crc = block_crc(blk, len);
	if (crc != mm_be32_get(blk + 12))
		BAD(MM_ECHECKSUM, "%s block has a bad checksum (stored %08" PRIx32 ", computed %08"
		    PRIx32 ")", fs_btype_name(x.type), mm_be32_get(blk + 12), crc);
	if (blk[6] || blk[7] || !zeroes(blk + 48, 16))
		BAD(MM_EPROTO, "%s block: reserved header bytes are not zero", fs_btype_name(x.type));
	fs_mb_header(blk, &x);
	if (want && x.type != want)
		BAD(MM_EPROTO, "found a %s block where the %s block belongs", fs_btype_name(x.type),
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

/* ---- 3. the stripe group descriptor ---- */

#define SGD_FIXED_BYTES 16u	/* magic, version, length, CRC: every version */
#define SGD_NDISKS_OFF 440u

_Static_assert(FS_SGD_HDR_BYTES + FS_MAX_DISKS * FS_SGD_DISK_BYTES <= FS_SGD_SLOT_BYTES,
	       "the disk table fits one slot");
_Static_assert(FS_MAX_DISKS < FS_DA_DISK_NONE, "a disk index fits 16 bits");
_Static_assert(sizeof(((struct fs_sgd *)0)->device) == 64 &&
	       sizeof(((struct fs_sgd *)0)->mount_point) == 256 &&
	       sizeof(((struct fs_sgd *)0)->automount) == 16 &&
	       sizeof(((struct fs_sgd_disk *)0)->name) == 64 &&
	       sizeof(((struct fs_sgd_disk *)0)->pool) == 32,
	       "string fields are as wide as in the slot layout");
_Static_assert(sizeof(((struct fs_sgd_disk *)0)->name) == NSD_NAME_MAX + 1,
	       "an NSD name fits the disk table");

/* A string field of <field> bytes: false if <str> does not end inside it. */
static bool str_fits(const char *str, size_t field)
{
	return strnlen(str, field) < field;
}

/* Copy a field out: false unless NUL-terminated and zero after the NUL. */
static bool str_get(const uint8_t *p, size_t field, char *out)
{
	const uint8_t *nul = memchr(p, 0, field);

	if (!nul || !zeroes(nul, field - (size_t)(nul - p)))
		return false;
	memcpy(out, p, field);
	return true;
}

int fs_sgd_encode(const struct fs_sgd *s, uint8_t *slot)
{
	uint32_t used;

	memset(slot, 0, FS_SGD_SLOT_BYTES);
	if (s->ndisks > FS_MAX_DISKS)
		return MM_ETOOBIG;
	if (!str_fits(s->device, sizeof(s->device)) ||
	    !str_fits(s->mount_point, sizeof(s->mount_point)) ||
	    !str_fits(s->automount, sizeof(s->automount)))
		return MM_EINVAL;
	for (uint32_t i = 0; i < s->ndisks; i++)
		if (!str_fits(s->disk[i].name, sizeof(s->disk[i].name)) ||
		    !str_fits(s->disk[i].pool, sizeof(s->disk[i].pool)))
			return MM_EINVAL;
	used = FS_SGD_HDR_BYTES + s->ndisks * FS_SGD_DISK_BYTES;
	mm_be32_put(slot, FS_MAGIC_SGD);
	/* a file system keeps the version it was made with */
	mm_be32_put(slot + 4, s->version >= 1 && s->version <= FS_FORMAT_VERSION ? s->version
										: FS_FORMAT_VERSION);
	mm_be32_put(slot + 8, used);
	mm_be64_put(slot + 16, s->fsid);
	mm_be64_put(slot + 24, s->generation);
	mm_be64_put(slot + 32, s->created);
	memcpy(slot + 40, s->device, strlen(s->device));
	mm_be32_put(slot + 104, s->block_size);
	mm_be32_put(slot + 108, s->subblock_size);
	mm_be32_put(slot + 112, s->mb_size);
	mm_be32_put(slot + 116, s->inode_size);
	slot[120] = s->meta_rep;
	slot[121] = s->meta_rep_max;
	slot[122] = s->data_rep;
	slot[123] = s->data_rep_max;
	mm_be32_put(slot + 124, s->nregions);
	mm_be64_put(slot + 128, s->inode_limit);
	mm_be32_put(slot + 136, s->flags);
	mm_be32_put(slot + 140, s->log_bytes);
	memcpy(slot + 144, s->mount_point, strlen(s->mount_point));
	memcpy(slot + 400, s->automount, strlen(s->automount));
	for (int r = 0; r < FS_MAX_REPLICAS; r++)
		mm_be64_put(slot + 416 + 8 * r, s->ifile0.da[r]);
	mm_be32_put(slot + SGD_NDISKS_OFF, s->ndisks);
	for (uint32_t i = 0; i < s->ndisks; i++) {
		const struct fs_sgd_disk *d = &s->disk[i];
		uint8_t *e = slot + FS_SGD_HDR_BYTES + i * FS_SGD_DISK_BYTES;

		mm_be64_put(e, d->nsd_id);
		memcpy(e + 8, d->name, strlen(d->name));
		mm_be32_put(e + 72, (uint32_t)d->failure_group);
		e[76] = d->usage;
		e[77] = d->status;
		e[78] = d->avail;
		e[79] = d->has_desc ? 1 : 0;
		memcpy(e + 80, d->pool, strlen(d->pool));
		mm_be64_put(e + 112, d->subblocks);
	}
	mm_be32_put(slot + 12, block_crc(slot, used));
	return MM_OK;
}

bool fs_simple_name(const char *n, size_t max)
{
	size_t len = strlen(n);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("._-", n[i]))
			return false;
	return true;
}

int fs_errf(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool printable(const char *n)
{
	for (; *n; n++)
		if (*n < 0x20 || *n > 0x7e)
			return false;
	return true;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static bool usage_meta(uint8_t u)
{
	return u == FS_USAGE_DATA_AND_META || u == FS_USAGE_META_ONLY;
}

static bool usage_data(uint8_t u)
{
	return u == FS_USAGE_DATA_AND_META || u == FS_USAGE_DATA_ONLY;
}

/* Two disks may hold replicas of one thing: failure group -1 shares a
 * point of failure with no other disk. */
static bool fg_apart(int32_t a, int32_t b)
{
	return a == -1 || b == -1 || a != b;
}

int fs_sgd_check(const struct fs_sgd *s, char *err, size_t errsz)
{
	uint32_t per, first, ndesc = 0, meta = 0, data = 0;
	int32_t desc_fg[5];

	if (s->fsid == 0 || s->fsid > FS_FSID_MAX)
		BAD(MM_EPROTO, "file system id %" PRIu64 " is not in 1 .. %u", s->fsid, FS_FSID_MAX);
	if (s->generation == 0)
		BAD(MM_EPROTO, "descriptor generation 0");
	if (!str_fits(s->device, sizeof(s->device)) || !fs_simple_name(s->device, FS_DEVICE_MAX))
		BAD(MM_EPROTO, "device name is not 1 .. %u characters of [A-Za-z0-9._-]",
		    FS_DEVICE_MAX);
	if (!pow2(s->block_size) || s->block_size < FS_MIN_BLOCK || s->block_size > FS_MAX_BLOCK)
		BAD(MM_EPROTO, "%s: block size %" PRIu32 " is not a power of two in %u .. %u",
		    s->device, s->block_size, FS_MIN_BLOCK, FS_MAX_BLOCK);
	if (s->subblock_size != fs_subblock(s->block_size))
		BAD(MM_EPROTO, "%s: subblock size %" PRIu32 " with block size %" PRIu32
		    " (it must be %" PRIu32 ")", s->device, s->subblock_size, s->block_size,
		    fs_subblock(s->block_size));
	if (s->mb_size != FS_MB)
		BAD(MM_EPROTO, "%s: metadata block size %" PRIu32 ", not %u", s->device, s->mb_size,
		    FS_MB);
	if (s->inode_size != FS_INODE_BYTES)
		BAD(MM_EPROTO, "%s: inode size %" PRIu32 ", not %u", s->device, s->inode_size,
		    FS_INODE_BYTES);
	if (s->meta_rep_max < 1 || s->meta_rep_max > FS_MAX_REPLICAS || s->meta_rep < 1 ||
	    s->meta_rep > s->meta_rep_max)
		BAD(MM_EPROTO, "%s: metadata replication %u (maximum %u) is not 1 <= m <= M <= %d",
		    s->device, s->meta_rep, s->meta_rep_max, FS_MAX_REPLICAS);
	if (s->data_rep_max < 1 || s->data_rep_max > FS_MAX_REPLICAS || s->data_rep < 1 ||
	    s->data_rep > s->data_rep_max)
		BAD(MM_EPROTO, "%s: data replication %u (maximum %u) is not 1 <= r <= R <= %d",
		    s->device, s->data_rep, s->data_rep_max, FS_MAX_REPLICAS);
	if (s->nregions < 1)
		BAD(MM_EPROTO, "%s: no allocation regions", s->device);
	if (s->inode_limit < 17 || s->inode_limit > 1ull << 51)
		BAD(MM_EPROTO, "%s: inode limit %" PRIu64 " is not in 17 .. 2^51", s->device,
		    s->inode_limit);
	if (s->flags & ~(uint32_t)(FS_SGD_EXACT_MTIME | FS_SGD_SCATTER))
		BAD(MM_EPROTO, "%s: unknown flags %#" PRIx32, s->device, s->flags);
	if (s->log_bytes % FS_MB || s->log_bytes < 4 * FS_MB)
		BAD(MM_EPROTO, "%s: log size %" PRIu32 " is not a multiple of %u of at least %u",
		    s->device, s->log_bytes, FS_MB, 4 * FS_MB);
	if (!str_fits(s->mount_point, sizeof(s->mount_point)) ||
	    (s->mount_point[0] && s->mount_point[0] != '/') || !printable(s->mount_point))
		BAD(MM_EPROTO, "%s: mount point is not empty or an absolute path of printable ASCII",
		    s->device);
	if (strcmp(s->automount, "yes") && strcmp(s->automount, "no") &&
	    strcmp(s->automount, "automount"))
		BAD(MM_EPROTO, "%s: automount setting is not yes, no or automount", s->device);
	if (s->ndisks < 1 || s->ndisks > FS_MAX_DISKS)
		BAD(MM_EPROTO, "%s: %" PRIu32 " disks (1 .. %d)", s->device, s->ndisks,
		    FS_MAX_DISKS);

	/* full blocks on a disk start at multiples of <per> subblocks, the
	 * first one at or after the reserved area at <first> */
	per = s->block_size / s->subblock_size;
	first = (FS_RESERVED_BYTES / s->subblock_size + per - 1) / per * per;
	for (uint32_t i = 0; i < s->ndisks; i++) {
		const struct fs_sgd_disk *d = &s->disk[i];

		if (!str_fits(d->name, sizeof(d->name)) || !nsd_name_valid(d->name))
			BAD(MM_EPROTO, "%s: disk %" PRIu32 " has an invalid NSD name", s->device, i);
		if (d->nsd_id == 0)
			BAD(MM_EPROTO, "%s: disk %s has NSD id 0", s->device, d->name);
		for (uint32_t j = 0; j < i; j++) {
			if (s->disk[j].nsd_id == d->nsd_id)
				BAD(MM_EPROTO, "%s: disks %s and %s have one NSD id %016" PRIx64,
				    s->device, s->disk[j].name, d->name, d->nsd_id);
			if (strcmp(s->disk[j].name, d->name) == 0)
				BAD(MM_EPROTO, "%s: disk %s appears twice", s->device, d->name);
		}
		if (d->failure_group < -1 || d->failure_group > NSD_FG_MAX)
			BAD(MM_EPROTO, "%s: disk %s: failure group %" PRId32 " is not in -1 .. %d",
			    s->device, d->name, d->failure_group, NSD_FG_MAX);
		if (d->usage > FS_USAGE_DESC_ONLY || d->status > FS_DS_EMPTIED ||
		    d->avail > FS_DA_RECOVERING)
			BAD(MM_EPROTO, "%s: disk %s: usage %u, status %u or availability %u unknown",
			    s->device, d->name, d->usage, d->status, d->avail);
		if (!str_fits(d->pool, sizeof(d->pool)) || !fs_simple_name(d->pool, sizeof(d->pool) - 1))
			BAD(MM_EPROTO, "%s: disk %s: storage pool is not 1 .. 31 characters of "
			    "[A-Za-z0-9._-]", s->device, d->name);
		if (usage_meta(d->usage) && strcmp(d->pool, "system") != 0)
			BAD(MM_EPROTO, "%s: disk %s holds metadata in pool %s, not system", s->device,
			    d->name, d->pool);
		if (d->subblocks >= 1ull << 48 ||
		    (d->usage == FS_USAGE_DESC_ONLY
			     ? d->subblocks <= FS_RESERVED_BYTES / s->subblock_size
			     : d->subblocks < (uint64_t)first + per))
			BAD(MM_EPROTO, "%s: disk %s: size %" PRIu64 " subblocks of %" PRIu32
			    " bytes is too small or too large", s->device, d->name, d->subblocks,
			    s->subblock_size);
		meta += usage_meta(d->usage);
		data += usage_data(d->usage);
		if (d->has_desc) {
			if (ndesc == 5)
				BAD(MM_EPROTO, "%s: more than 5 descriptor disks", s->device);
			for (uint32_t j = 0; j < ndesc; j++)
				if (!fg_apart(desc_fg[j], d->failure_group))
					BAD(MM_EPROTO, "%s: two descriptor disks in failure group %"
					    PRId32, s->device, d->failure_group);
			desc_fg[ndesc++] = d->failure_group;
		}
	}
	if (!meta || !data)
		BAD(MM_EPROTO, "%s: no disk holds %s", s->device, meta ? "data" : "metadata");
	if (ndesc != 1 && ndesc != 3 && ndesc != 5)
		BAD(MM_EPROTO, "%s: %" PRIu32 " descriptor disks, not 1, 3 or 5", s->device, ndesc);

	for (unsigned r = 0; r < FS_MAX_REPLICAS; r++) {
		fs_da a = s->ifile0.da[r];
		const struct fs_sgd_disk *d;
		uint64_t sub = fs_da_sub(a);

		if (a == FS_DA_NONE) {
			if (r == 0)
				BAD(MM_EPROTO, "%s: inode file block 0 has no address", s->device);
			continue;
		}
		if (r >= s->meta_rep_max)
			BAD(MM_EPROTO, "%s: inode file block 0 has replica %u, past the maximum "
			    "metadata replication %u", s->device, r + 1, s->meta_rep_max);
		if (fs_da_disk(a) >= s->ndisks)
			BAD(MM_EPROTO, "%s: inode file block 0 replica %u on disk %" PRIu32 " of %"
			    PRIu32, s->device, r + 1, fs_da_disk(a), s->ndisks);
		d = &s->disk[fs_da_disk(a)];
		if (!usage_meta(d->usage))
			BAD(MM_EPROTO, "%s: inode file block 0 replica %u on disk %s, which holds no "
			    "metadata", s->device, r + 1, d->name);
		if (sub % per || sub < first || sub + per > d->subblocks)
			BAD(MM_EPROTO, "%s: inode file block 0 replica %u at subblock %" PRIu64
			    " of disk %s is not a full block inside its data area", s->device, r + 1,
			    sub, d->name);
		for (unsigned q = 0; q < r; q++) {
			fs_da b = s->ifile0.da[q];

			if (b != FS_DA_NONE && (fs_da_disk(b) == fs_da_disk(a) ||
						!fg_apart(s->disk[fs_da_disk(b)].failure_group,
							  d->failure_group)))
				BAD(MM_EPROTO, "%s: inode file block 0 replicas %u and %u share a "
				    "disk or failure group", s->device, q + 1, r + 1);
		}
	}
	return MM_OK;
}

int fs_sgd_decode(const uint8_t *slot, size_t len, struct fs_sgd *s, char *err, size_t errsz)
{
	uint32_t used, crc, version, ndisks;
	size_t look = len < FS_SGD_SLOT_BYTES ? len : FS_SGD_SLOT_BYTES;

	if (len < 4)
		BAD(MM_EPROTO, "descriptor slot of %zu bytes", len);
	if (mm_be32_get(slot) != FS_MAGIC_SGD)
		BAD(MM_ENOENT, "no stripe group descriptor here (magic %08" PRIx32 ")",
		    mm_be32_get(slot));
	if (len < SGD_FIXED_BYTES)
		BAD(MM_EPROTO, "descriptor cut short at %zu bytes", len);
	used = mm_be32_get(slot + 8);
	if (used < SGD_FIXED_BYTES || used > look)
		BAD(MM_EPROTO, "descriptor length %" PRIu32 " does not fit the %zu bytes of its slot",
		    used, look);
	crc = block_crc(slot, used);
	if (crc != mm_be32_get(slot + 12))
		BAD(MM_ECHECKSUM, "stripe group descriptor has a bad checksum (stored %08" PRIx32
		    ", computed %08" PRIx32 ")", mm_be32_get(slot + 12), crc);
	version = mm_be32_get(slot + 4);
	if (version < 1 || version > FS_FORMAT_VERSION)
		BAD(MM_ENOTSUP, "stripe group descriptor has format version %" PRIu32
		    "; this mmfs reads versions up to %u", version, FS_FORMAT_VERSION);
	if (used < FS_SGD_HDR_BYTES)
		BAD(MM_EPROTO, "descriptor length %" PRIu32 " is shorter than its header", used);
	ndisks = mm_be32_get(slot + SGD_NDISKS_OFF);
	if (ndisks > FS_MAX_DISKS || used != FS_SGD_HDR_BYTES + ndisks * FS_SGD_DISK_BYTES)
		BAD(MM_EPROTO, "descriptor of %" PRIu32 " bytes with %" PRIu32 " disks (at most %d)",
		    used, ndisks, FS_MAX_DISKS);
	if (!zeroes(slot + SGD_NDISKS_OFF + 4, FS_SGD_HDR_BYTES - SGD_NDISKS_OFF - 4))
		BAD(MM_EPROTO, "descriptor: reserved header bytes are not zero");
	if (!zeroes(slot + used, look - used))
		BAD(MM_EPROTO, "descriptor: bytes after its %" PRIu32 " used are not zero", used);

	memset(s, 0, sizeof(*s));
	s->version = version;
	s->fsid = mm_be64_get(slot + 16);
	s->generation = mm_be64_get(slot + 24);
	s->created = mm_be64_get(slot + 32);
	s->block_size = mm_be32_get(slot + 104);
	s->subblock_size = mm_be32_get(slot + 108);
	s->mb_size = mm_be32_get(slot + 112);
	s->inode_size = mm_be32_get(slot + 116);
	s->meta_rep = slot[120];
	s->meta_rep_max = slot[121];
	s->data_rep = slot[122];
	s->data_rep_max = slot[123];
	s->nregions = mm_be32_get(slot + 124);
	s->inode_limit = mm_be64_get(slot + 128);
	s->flags = mm_be32_get(slot + 136);
	s->log_bytes = mm_be32_get(slot + 140);
	if (!str_get(slot + 40, sizeof(s->device), s->device) ||
	    !str_get(slot + 144, sizeof(s->mount_point), s->mount_point) ||
	    !str_get(slot + 400, sizeof(s->automount), s->automount))
		BAD(MM_EPROTO, "descriptor: a name is not NUL-terminated and zero-padded");
	for (int r = 0; r < FS_MAX_REPLICAS; r++)
		s->ifile0.da[r] = mm_be64_get(slot + 416 + 8 * r);
	s->ndisks = ndisks;
	for (uint32_t i = 0; i < ndisks; i++) {
		struct fs_sgd_disk *d = &s->disk[i];
		const uint8_t *e = slot + FS_SGD_HDR_BYTES + i * FS_SGD_DISK_BYTES;

		d->nsd_id = mm_be64_get(e);
		d->failure_group = (int32_t)mm_be32_get(e + 72);
		d->usage = e[76];
		d->status = e[77];
		d->avail = e[78];
		d->has_desc = e[79] & 1;
		d->subblocks = mm_be64_get(e + 112);
		if (e[79] & ~1u || !zeroes(e + 120, 8))
			BAD(MM_EPROTO, "descriptor: disk %" PRIu32 ": reserved bytes are not zero", i);
		if (!str_get(e + 8, sizeof(d->name), d->name) ||
		    !str_get(e + 80, sizeof(d->pool), d->pool))
			BAD(MM_EPROTO, "descriptor: disk %" PRIu32 ": a name is not NUL-terminated "
			    "and zero-padded", i);
	}
	return fs_sgd_check(s, err, errsz);
}

/* ---- 4. choosing the descriptor ---- */

struct sgd_seen {
	int rc[2];		/* fs_sgd_decode's, MM_EIO: unreadable */
	uint64_t gen[2];	/* valid (rc MM_OK) slots only */
	uint32_t crc[2];
};

__attribute__((format(printf, 4, 5)))
static void appendf(char *buf, size_t sz, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, sz - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < sz ? *off + (size_t)n : sz - 1;
}

static bool seen_holds(const struct sgd_seen *d, int j, uint64_t gen, uint32_t crc)
{
	return d->rc[j] == MM_OK && d->gen[j] == gen && d->crc[j] == crc;
}

static const char *slot_state(int rc)
{
	switch (rc) {
	case MM_EIO: return "unreadable";
	case MM_ENOENT: return "empty";
	case MM_ECHECKSUM: return "bad checksum";
	case MM_ENOTSUP: return "another format version";
	default: return "malformed";
	}
}

int fs_sgd_choose(const struct fs_sgd_read *disks, size_t ndisks, struct fs_sgd *out,
		  uint8_t *next, char *err, size_t errsz)
{
	struct sgd_seen *seen;
	char why[160] = "";
	size_t other = 0, best_n = 0, bi = 0, off = 0;
	int bj = 0, rc;
	uint64_t best_gen = 0;
	uint32_t best_crc = 0;

	if (ndisks < 1 || ndisks > FS_MAX_DISKS)
		BAD(MM_EINVAL, "%zu descriptor disks (1 .. %d)", ndisks, FS_MAX_DISKS);
	seen = calloc(ndisks, sizeof(*seen));
	if (!seen)
		BAD(MM_ENOMEM, "no memory to read %zu descriptor disks", ndisks);
	for (size_t i = 0; i < ndisks; i++) {
		bool newer = false;

		for (int j = 0; j < 2; j++) {
			char msg[160];

			if (!disks[i].slot[j]) {
				seen[i].rc[j] = MM_EIO;
				continue;
			}
			rc = fs_sgd_decode(disks[i].slot[j], disks[i].len[j], out, msg, sizeof(msg));
			seen[i].rc[j] = rc;
			if (rc == MM_OK) {
				seen[i].gen[j] = out->generation;
				seen[i].crc[j] = mm_be32_get(disks[i].slot[j] + 12);
			} else if (rc == MM_ENOTSUP) {
				newer = true;
				if (!why[0])
					snprintf(why, sizeof(why), "%s", msg);
			}
		}
		other += newer;
	}
	if (other > ndisks / 2) {
		snprintf(err, errsz, "%s (on %zu of %zu descriptor disks)", why, other, ndisks);
		free(seen);
		return MM_ENOTSUP;
	}

	/* each valid copy is a candidate: the highest generation held by a
	 * majority, the first one found among equals */
	for (size_t i = 0; i < ndisks; i++) {
		for (int j = 0; j < 2; j++) {
			uint64_t g = seen[i].gen[j];
			uint32_t c = seen[i].crc[j];
			size_t n = 0;

			if (seen[i].rc[j] != MM_OK || g < best_gen || (g == best_gen && c == best_crc))
				continue;
			for (size_t k = 0; k < ndisks; k++)
				n += seen_holds(&seen[k], 0, g, c) || seen_holds(&seen[k], 1, g, c);
			if (n > ndisks / 2 && (g > best_gen || n > best_n)) {
				best_gen = g;
				best_crc = c;
				best_n = n;
				bi = i;
				bj = j;
			}
		}
	}
	if (best_gen == 0) {
		appendf(err, errsz, &off, "descriptor quorum not met: no generation is held by a "
			"majority of the %zu descriptor disks (", ndisks);
		for (size_t i = 0; i < ndisks; i++) {
			appendf(err, errsz, &off, "%sdisk %zu:", i ? "; " : "", i);
			for (int j = 0; j < 2; j++) {
				if (seen[i].rc[j] == MM_OK)
					appendf(err, errsz, &off, " slot %d generation %" PRIu64, j,
						seen[i].gen[j]);
				else
					appendf(err, errsz, &off, " slot %d %s", j,
						slot_state(seen[i].rc[j]));
				appendf(err, errsz, &off, j ? "" : ",");
			}
		}
		appendf(err, errsz, &off, ")");
		free(seen);
		return MM_ENOENT;
	}

	rc = fs_sgd_decode(disks[bi].slot[bj], disks[bi].len[bj], out, err, errsz);
	MM_ASSERT(rc == MM_OK);
	for (size_t i = 0; next && i < ndisks; i++) {
		const struct sgd_seen *d = &seen[i];

		if (seen_holds(d, 0, best_gen, best_crc))
			next[i] = 1;
		else if (seen_holds(d, 1, best_gen, best_crc))
			next[i] = 0;
		else if (d->rc[0] != MM_OK)
			next[i] = 0;
		else if (d->rc[1] != MM_OK)
			next[i] = 1;
		else
			next[i] = d->gen[1] < d->gen[0];
	}
	free(seen);
	return rc;
}

/* ---- 5. inode records ---- */

int fs_mb_verify_bs(const struct fs_bstore *bs, const uint8_t *blk, size_t len, unsigned want,
		    uint32_t fsid, uint64_t ino, uint64_t blkno, struct fs_mbh *h, char *err,
		    size_t errsz)
{
	int rc;

	if (bs->checked && bs->checked(bs->arg, blk, false)) {
		if (h)
			fs_mb_header(blk, h);
		return MM_OK;
	}
	rc = fs_mb_verify(blk, len, want, fsid, ino, blkno, h, err, errsz);
	if (rc == MM_OK && bs->checked)
		bs->checked(bs->arg, blk, true);
	return rc;
}

_Static_assert(S_IFMT == 0170000 && S_IFREG == 0100000 && S_IFDIR == 0040000 &&
	       S_IFLNK == 0120000 && S_IFCHR == 0020000 && S_IFBLK == 0060000 &&
	       S_IFIFO == 0010000 && S_IFSOCK == 0140000,
	       "the mode's file types are stored as Linux numbers them");
_Static_assert(FS_TAIL_OFF + FS_TAIL_BYTES == FS_INODE_BYTES, "the tail ends the record");

#define INO_FLAGS (FS_IF_DATA_IN_INODE | FS_IF_XATTR_OVERFLOW | FS_IF_FREE)

static void time_put(uint8_t *p, const struct fs_time *t)
{
	mm_be64_put(p, (uint64_t)t->sec);
	mm_be32_put(p + 8, t->nsec);
}

static void time_get(const uint8_t *p, struct fs_time *t)
{
	t->sec = (int64_t)mm_be64_get(p);
	t->nsec = mm_be32_get(p + 8);
}

void fs_inode_encode(const struct fs_inode *in, uint32_t fsid, uint8_t *rec)
{
	struct fs_mbh h = {.type = FS_BT_INODE, .fsid = fsid, .ino = in->ino, .a = in->gen};
	size_t xl = in->xattr_len < FS_XATTR_AREA ? in->xattr_len : FS_XATTR_AREA;
	size_t tl = in->tail_len < FS_TAIL_BYTES ? in->tail_len : FS_TAIL_BYTES;

	memset(rec, 0, FS_INODE_BYTES);
	mm_be32_put(rec + 64, in->mode);
	mm_be32_put(rec + 68, in->nlink);
	mm_be32_put(rec + 72, in->uid);
	mm_be32_put(rec + 76, in->gid);
	mm_be64_put(rec + 80, in->rdev);
	mm_be64_put(rec + 88, in->size);
	mm_be64_put(rec + 96, in->subblocks);
	time_put(rec + 104, &in->atime);
	time_put(rec + 116, &in->mtime);
	time_put(rec + 128, &in->ctime);
	time_put(rec + 140, &in->crtime);
	mm_be32_put(rec + 152, in->flags);
	rec[156] = in->data_rep;
	rec[157] = in->meta_rep;
	rec[158] = in->level;
	rec[159] = in->depth;
	mm_be16_put(rec + 160, in->xattr_len);
	mm_be16_put(rec + 162, in->tail_len);
	rec[164] = in->xattr_units > 1 ? in->xattr_units : 0;
	for (int r = 0; r < FS_MAX_REPLICAS; r++)
		mm_be64_put(rec + 168 + 8 * r, in->xattr_ovf.da[r]);
	memcpy(rec + FS_XATTR_OFF, in->xattr, xl);
	memcpy(rec + FS_TAIL_OFF, in->tail, in->flags & FS_IF_DATA_IN_INODE ? tl : FS_TAIL_BYTES);
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
}

static bool mode_type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO:
	case S_IFSOCK:
		return true;
	}
	return false;
}

bool fs_xattr_entries_ok(const uint8_t *x, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t nl, vl;

		if (len - off < 4)
			return false;
		nl = x[off + 1];
		vl = fs_xattr_vlen(x + off);
		if (nl == 0 || 4 + nl + vl > len - off)
			return false;
		off += 4 + nl + vl;
	}
	return true;
}

bool fs_xattr_ovf_ok(const uint8_t *bodies, uint64_t len, unsigned units)
{
	const size_t cap = (size_t)units * (FS_MB - FS_MBH_BYTES);

	return fs_xattr_ovf_blocks(len) == units && fs_xattr_entries_ok(bodies, len) &&
	       zeroes(bodies + len, cap - len);
}

int fs_inode_decode(const uint8_t *rec, uint32_t fsid, uint64_t ino, struct fs_inode *in,
		    char *err, size_t errsz)
{
	struct fs_mbh h;
	uint32_t type;
	bool dii, dev;
	int rc;

	rc = fs_mb_verify(rec, FS_INODE_BYTES, FS_BT_INODE, fsid, ino, 0, &h, err, errsz);
	if (rc != MM_OK)
		return rc;
	if (h.b != 0 || h.a > UINT32_MAX)
		BAD(MM_EPROTO, "inode %" PRIu64 ": header fields %#" PRIx64 " %#" PRIx64
		    " (generation < 2^32, then 0)", h.ino, h.a, h.b);
	memset(in, 0, sizeof(*in));
	in->ino = h.ino;
	in->gen = (uint32_t)h.a;
	in->mode = mm_be32_get(rec + 64);
	in->nlink = mm_be32_get(rec + 68);
	in->uid = mm_be32_get(rec + 72);
	in->gid = mm_be32_get(rec + 76);
	in->rdev = mm_be64_get(rec + 80);
	in->size = mm_be64_get(rec + 88);
	in->subblocks = mm_be64_get(rec + 96);
	time_get(rec + 104, &in->atime);
	time_get(rec + 116, &in->mtime);
	time_get(rec + 128, &in->ctime);
	time_get(rec + 140, &in->crtime);
	in->flags = mm_be32_get(rec + 152);
	in->data_rep = rec[156];
	in->meta_rep = rec[157];
	in->level = rec[158];
	in->depth = rec[159];
	in->xattr_len = mm_be16_get(rec + 160);
	in->tail_len = mm_be16_get(rec + 162);
	for (int r = 0; r < FS_MAX_REPLICAS; r++)
		in->xattr_ovf.da[r] = mm_be64_get(rec + 168 + 8 * r);
	memcpy(in->xattr, rec + FS_XATTR_OFF, FS_XATTR_AREA);
	memcpy(in->tail, rec + FS_TAIL_OFF, FS_TAIL_BYTES);

	if (!zeroes(rec + 165, 3))
		BAD(MM_EPROTO, "inode %" PRIu64 ": reserved bytes are not zero", in->ino);
	in->xattr_units = rec[164] ? rec[164] : (in->flags & FS_IF_XATTR_OVERFLOW) ? 1 : 0;
	if (in->xattr_units > FS_XATTR_MAX_UNITS || (rec[164] == 1) ||
	    (rec[164] && !(in->flags & FS_IF_XATTR_OVERFLOW)))
		BAD(MM_EPROTO, "inode %" PRIu64 ": xattr overflow of %u blocks (2 .. %u, and "
		    "only with an overflow)", in->ino, rec[164], FS_XATTR_MAX_UNITS);
	if (in->flags & ~(uint32_t)INO_FLAGS)
		BAD(MM_EPROTO, "inode %" PRIu64 ": unknown flags %#" PRIx32, in->ino, in->flags);
	if (!(in->flags & FS_IF_XATTR_OVERFLOW) != !in->xattr_ovf.da[0] ||
	    (!in->xattr_ovf.da[0] && (in->xattr_ovf.da[1] || in->xattr_ovf.da[2])) ||
	    (!in->xattr_ovf.da[1] && in->xattr_ovf.da[2]))
		BAD(MM_EPROTO, "inode %" PRIu64 ": xattr overflow flag and pointer %#" PRIx64
		    " %#" PRIx64 " %#" PRIx64 " disagree", in->ino, in->xattr_ovf.da[0],
		    in->xattr_ovf.da[1], in->xattr_ovf.da[2]);
	if (in->atime.nsec >= 1000000000u || in->mtime.nsec >= 1000000000u ||
	    in->ctime.nsec >= 1000000000u || in->crtime.nsec >= 1000000000u)
		BAD(MM_EPROTO, "inode %" PRIu64 ": a time has 10^9 nanoseconds or more", in->ino);
	if (in->flags & FS_IF_FREE) {
		if (in->flags != FS_IF_FREE || in->mode || in->nlink || in->uid || in->gid ||
		    in->rdev || in->size || in->subblocks || in->data_rep || in->meta_rep ||
		    in->level || in->depth || in->xattr_len || in->tail_len ||
		    !zeroes(rec + 168, FS_INODE_BYTES - 168))
			BAD(MM_EPROTO, "inode %" PRIu64 ": a free record holds more than its "
			    "generation and times", in->ino);
		return MM_OK;
	}

	type = in->mode & S_IFMT;
	dev = type == S_IFCHR || type == S_IFBLK;
	dii = in->flags & FS_IF_DATA_IN_INODE;
	if (!mode_type_ok(in->mode) || in->mode & ~(uint32_t)(S_IFMT | 07777))
		BAD(MM_EPROTO, "inode %" PRIu64 ": mode %#" PRIo32 " is not a file type and "
		    "permissions", in->ino, in->mode);
	if (in->data_rep < 1 || in->data_rep > FS_MAX_REPLICAS || in->meta_rep < 1 ||
	    in->meta_rep > FS_MAX_REPLICAS)
		BAD(MM_EPROTO, "inode %" PRIu64 ": replication %u data, %u metadata (1 .. %d)",
		    in->ino, in->data_rep, in->meta_rep, FS_MAX_REPLICAS);
	if ((in->flags & FS_IF_XATTR_OVERFLOW) && !in->xattr_ovf.da[in->meta_rep - 1])
		BAD(MM_EPROTO, "inode %" PRIu64 ": xattr overflow block has fewer replicas than "
		    "the file's %u", in->ino, in->meta_rep);
	if (in->meta_rep < FS_MAX_REPLICAS && in->xattr_ovf.da[in->meta_rep])
		BAD(MM_EPROTO, "inode %" PRIu64 ": xattr overflow block has more replicas than "
		    "the file's %u", in->ino, in->meta_rep);
	if (in->level > FS_MAX_LEVEL)
		BAD(MM_EPROTO, "inode %" PRIu64 ": indirection level %u (at most %d)", in->ino,
		    in->level, FS_MAX_LEVEL);
	if (in->size > INT64_MAX)
		BAD(MM_EPROTO, "inode %" PRIu64 ": size %" PRIu64 " is past 2^63 - 1", in->ino,
		    in->size);
	/* a directory's rdev is its parent directory (0: the root, whose
	 * parent is itself) */
	if (in->rdev && !dev && !S_ISDIR(in->mode))
		BAD(MM_EPROTO, "inode %" PRIu64 ": device number on a file that is not a device",
		    in->ino);
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK && (in->size || in->level))
		BAD(MM_EPROTO, "inode %" PRIu64 ": a device, FIFO or socket of size %" PRIu64
		    " or level %u", in->ino, in->size, in->level);
	if (in->depth >= 64 || (in->depth && type != S_IFDIR))
		BAD(MM_EPROTO, "inode %" PRIu64 ": directory depth %u", in->ino, in->depth);
	if (in->xattr_len > FS_XATTR_AREA || !fs_xattr_entries_ok(in->xattr, in->xattr_len) ||
	    !zeroes(in->xattr + in->xattr_len, FS_XATTR_AREA - in->xattr_len))
		BAD(MM_EPROTO, "inode %" PRIu64 ": xattr area of %u bytes is malformed", in->ino,
		    in->xattr_len);
	if (in->tail_len > FS_TAIL_BYTES)
		BAD(MM_EPROTO, "inode %" PRIu64 ": tail length %u (at most %u)", in->ino,
		    in->tail_len, FS_TAIL_BYTES);
	if (!dii) {
		if (in->tail_len)
			BAD(MM_EPROTO, "inode %" PRIu64 ": tail length %u with pointers in the tail",
			    in->ino, in->tail_len);
		return MM_OK;
	}
	if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		BAD(MM_EPROTO, "inode %" PRIu64 ": data in the inode of a device, FIFO or socket",
		    in->ino);
	if (in->level || in->depth || in->size > FS_TAIL_BYTES ||
	    (type != S_IFDIR && in->tail_len != in->size))
		BAD(MM_EPROTO, "inode %" PRIu64 ": data in the inode with size %" PRIu64
		    ", tail length %u, level %u, depth %u", in->ino, in->size, in->tail_len,
		    in->level, in->depth);
	if (!zeroes(in->tail + in->tail_len, FS_TAIL_BYTES - in->tail_len))
		BAD(MM_EPROTO, "inode %" PRIu64 ": bytes after the %u of data in the inode are not "
		    "zero", in->ino, in->tail_len);
	return MM_OK;
}

/* ---- 6. block pointers and the tree ---- */

void fs_ptr_get(const uint8_t *area, uint32_t i, unsigned maxrep, struct fs_ptr *p)
{
	const uint8_t *q = area + (size_t)i * 8 * maxrep;

	MM_ASSERT(maxrep >= 1 && maxrep <= FS_MAX_REPLICAS);
	for (unsigned r = 0; r < FS_MAX_REPLICAS; r++)
		p->da[r] = r < maxrep ? mm_be64_get(q + 8 * r) : FS_DA_NONE;
}

void fs_ptr_put(uint8_t *area, uint32_t i, unsigned maxrep, const struct fs_ptr *p)
{
	uint8_t *q = area + (size_t)i * 8 * maxrep;

	MM_ASSERT(maxrep >= 1 && maxrep <= FS_MAX_REPLICAS);
	for (unsigned r = 0; r < maxrep; r++)
		mm_be64_put(q + 8 * r, p->da[r]);
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t fs_tree_max_bytes(unsigned level, unsigned maxrep, uint32_t b)
{
	uint64_t n;

	MM_ASSERT(maxrep >= 1 && maxrep <= FS_MAX_REPLICAS);
	n = fs_inode_nptrs(maxrep);
	for (unsigned l = 0; l < level && n != UINT64_MAX; l++)
		n = mul_sat(n, fs_ind_nptrs(maxrep));
	return mul_sat(n, b);
}

unsigned fs_tree_level_for(uint64_t size, unsigned maxrep, uint32_t b)
{
	for (unsigned l = 0; l <= FS_MAX_LEVEL; l++)
		if (size <= fs_tree_max_bytes(l, maxrep, b))
			return l;
	return FS_MAX_LEVEL + 1;
}
