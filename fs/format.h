/*
 * fs/format.h - the on-disk format, version 1 (fs/README.md is the design;
 * this header is the byte-level contract). 2026-12-06.
 *
 * Everything is big-endian. Every metadata block (FS_MB bytes) begins with
 * struct fs_mbh (FS_MBH_BYTES); an inode record (FS_INODE_BYTES) is its
 * own block with its own header. Decoders are strict: every field is
 * checked against its type and range, reserved bytes must be zero, and a
 * failure is MM_EPROTO (malformed), MM_ECHECKSUM (bad CRC) or MM_ENOTSUP
 * (a format version this code does not read) with the reason in <err>;
 * they never read past the buffer they are given.
 *
 * Return convention: MM_OK or a negative MM_E* (common/err.h).
 */
#ifndef MM_FS_FORMAT_H
#define MM_FS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The descriptor's format version: 2 adds xattr overflows of several
 * blocks (xattr_units); a file system of version 1 keeps one block, so a
 * daemon reading only version 1 can still mount it. */
#define FS_FORMAT_VERSION 2u
/* Every metadata block header's version (unchanged by version 2). */
#define FS_MB_VERSION 1u

/* ---- units ---- */
#define FS_MIN_BLOCK (64u << 10)
#define FS_MAX_BLOCK (16u << 20)
#define FS_MB (64u << 10)		/* metadata block */
#define FS_SECTOR 4096u			/* the unit a node writes on its own */
#define FS_INODE_BYTES 4096u
#define FS_INODES_PER_MB (FS_MB / FS_INODE_BYTES)	/* 16 */
#define FS_MAX_REPLICAS 3
#define FS_MAX_DISKS 1024		/* disks in one stripe group (descriptor room) */
#define FS_NAME_MAX 255			/* a directory entry's name, bytes */
#define FS_DEVICE_MAX 63		/* a file system's name */
#define FS_RESERVED_BYTES (1u << 20)	/* per disk: NSD label, descriptor slots */
#define FS_SGD_SLOT_BYTES (256u << 10)
#define FS_SGD_SLOT0 (256u << 10)	/* byte offsets on a descriptor disk */
#define FS_SGD_SLOT1 (512u << 10)

/* The subblock of block size <b>: b / 32, at least 4 KiB (the pagepool's). */
static inline uint32_t fs_subblock(uint32_t b)
{
	return b / 32 > 4096 ? b / 32 : 4096;
}

/* The pagepool registration of a file system's metadata files. */
#define FS_META_BIT 0x80000000u
/* Indirect blocks' tags in the metadata registration (fs/README.md). */
#define FS_TAG_IND (1ull << 63)
/* The xattr overflow block's tag: an "indirect" level no tree has (127),
 * so it is never grown into, and its allocation is logged like an
 * indirect block's (fs/README.md, "Extended attributes and ACLs"). */
#define FS_TAG_XATTR (FS_TAG_IND | 0x7full << 56)
/* An overflow of version 2 has up to FS_XATTR_MAX_UNITS blocks, tags
 * FS_TAG_XATTR + i, all in one run of i * FS_MB bytes a replica (no more
 * than a file system block). */
#define FS_XATTR_MAX_UNITS 4u
static inline int fs_tag_is_xattr(uint64_t blk)
{
	return (blk & ~0xffull) == FS_TAG_XATTR && (blk & 0xff) < FS_XATTR_MAX_UNITS;
}

/* ---- disk addresses ---- */
typedef uint64_t fs_da;			/* disk index << 48 | subblock */
#define FS_DA_NONE 0ull
#define FS_DA_DISK_NONE 0xffffu
static inline fs_da fs_da_make(uint32_t disk, uint64_t subblock)
{
	return (uint64_t)disk << 48 | (subblock & ((1ull << 48) - 1));
}
static inline uint32_t fs_da_disk(fs_da a) { return (uint32_t)(a >> 48); }
static inline uint64_t fs_da_sub(fs_da a) { return a & ((1ull << 48) - 1); }

/* A block pointer: one address per replica, unused ones FS_DA_NONE; on
 * disk only the first <maxrep> are stored (8 bytes each). */
struct fs_ptr {
	fs_da da[FS_MAX_REPLICAS];
};

/* ---- metadata block header (every FS_MB block; every inode) ----
 *   0  4 magic FS_MAGIC_MB ("MMFB")   4  1 type (enum fs_btype)
 *   5  1 format version               6  2 reserved 0
 *   8  4 file system id (low 32 bits of the fsid: its token space)
 *   12 4 CRC32C of the whole block with these 4 bytes zero
 *   16 8 owning inode
 *   24 8 block number in its file (indirect: FS_TAG_IND | level << 56 | index)
 *   32 8 type-specific (see each type)    40 8 type-specific
 *   48 16 reserved 0
 * An inode record uses the same first 16 bytes with magic FS_MAGIC_INODE. */
#define FS_MBH_BYTES 64u
#define FS_MAGIC_MB 0x4d4d4642u		/* "MMFB" */
#define FS_MAGIC_INODE 0x4d4d494eu	/* "MMIN" */

enum fs_btype {
	FS_BT_INODE = 1,	/* an inode record (FS_INODE_BYTES) */
	FS_BT_INDIRECT = 2,	/* pointers of a level of a file's tree */
	FS_BT_DIR = 3,		/* a directory block */
	FS_BT_BMAP = 4,		/* a block allocation map block */
	FS_BT_IMAP = 5,		/* an inode allocation map block */
	FS_BT_LOG = 6,		/* a log block */
	FS_BT_LOGTAB = 7,	/* the log table */
	FS_BT_XATTR = 8,	/* extended attribute overflow */
	FS_BT_NTYPES
};

struct fs_mbh {
	uint8_t type;		/* enum fs_btype */
	uint32_t fsid;
	uint64_t ino, blk;
	uint64_t a, b;		/* type-specific */
};

const char *fs_btype_name(unsigned type);	/* "inode", "indirect", ...; never NULL */
/* Write the header into <blk> (<len> bytes: FS_MB, or FS_INODE_BYTES for an
 * inode) and the CRC over all of it: call last, after the body. */
void fs_mb_seal(uint8_t *blk, size_t len, const struct fs_mbh *h);
/*
 * Verify a block read from disk: magic, type <want> (0: any), version,
 * file system <fsid>, owner <ino> and block number <blk> as expected
 * (UINT64_MAX: not checked), CRC; reserved bytes zero. On success *h
 * (may be NULL) gets the header. MM_ECHECKSUM / MM_EPROTO / MM_ENOTSUP
 * with what was wrong in <err>.
 */
int fs_mb_verify(const uint8_t *blk, size_t len, unsigned want, uint32_t fsid, uint64_t ino,
		 uint64_t blkno, struct fs_mbh *h, char *err, size_t errsz);
/* The header's fields as they stand, nothing verified: for a block that
 * was verified since it was read (fs_bstore.checked). */
void fs_mb_header(const uint8_t *blk, struct fs_mbh *h);

/* ---- the stripe group descriptor ----
 *
 * One slot (FS_SGD_SLOT_BYTES), version 1, big-endian; every byte past
 * <length> is zero. Bytes 0 .. 16 mean the same in every format version,
 * so a reader tells another version's descriptor (MM_ENOTSUP) from a
 * damaged one (MM_ECHECKSUM):
 *   0   4 magic FS_MAGIC_SGD ("MMSG")   4 4 format version
 *   8   4 length: the bytes used, FS_SGD_HDR_BYTES + ndisks * FS_SGD_DISK_BYTES
 *   12  4 CRC32C of bytes [0, length) with these 4 bytes zero
 *   16  8 fsid          24 8 generation      32 8 created
 *   40 64 device name
 *   104 4 block size    108 4 subblock size  112 4 mb size   116 4 inode size
 *   120 1 meta_rep  121 1 meta_rep_max  122 1 data_rep  123 1 data_rep_max
 *   124 4 nregions      128 8 inode limit    136 4 flags     140 4 log bytes
 *   144 256 mount point                      400 16 automount
 *   416 24 ifile0: FS_MAX_REPLICAS disk addresses (unused ones 0)
 *   440 4 ndisks        444 .. 512 reserved 0
 *   512 .. length: the disk table, ndisks entries of FS_SGD_DISK_BYTES:
 *     0 8 NSD id   8 64 NSD name   72 4 failure group (signed)
 *     76 1 usage   77 1 status     78 1 availability
 *     79 1 flags (bit 0: holds a descriptor copy; the rest 0)
 *     80 32 storage pool           112 8 size in subblocks   120 8 reserved 0
 * Strings are NUL-terminated inside their field and zero-padded after
 * the NUL, so a descriptor has exactly one encoding. The table of
 * FS_MAX_DISKS entries takes 128 KiB + 512 bytes: half the slot is spare.
 */
#define FS_MAGIC_SGD 0x4d4d5347u	/* "MMSG" */
#define FS_SGD_HDR_BYTES 512u
#define FS_SGD_DISK_BYTES 128u
/* The file system id is the token space (32-bit, mmfsd/tokensvc.h) and,
 * with FS_META_BIT or-ed in, the pagepool registration of its metadata:
 * so 1 .. 2^31 - 1. */
#define FS_FSID_MAX 0x7fffffffu

enum fs_usage {
	FS_USAGE_DATA_AND_META = 0,
	FS_USAGE_META_ONLY = 1,
	FS_USAGE_DATA_ONLY = 2,
	FS_USAGE_DESC_ONLY = 3,
};
enum fs_disk_status { FS_DS_READY = 0, FS_DS_SUSPENDED, FS_DS_EMPTYING, FS_DS_EMPTIED };
enum fs_disk_avail { FS_DA_UP = 0, FS_DA_DOWN, FS_DA_RECOVERING };

struct fs_sgd_disk {
	uint64_t nsd_id;
	char name[64];		/* NSD name, NUL-terminated */
	int32_t failure_group;
	uint8_t usage;		/* enum fs_usage */
	uint8_t status;		/* enum fs_disk_status */
	uint8_t avail;		/* enum fs_disk_avail */
	bool has_desc;		/* holds a descriptor copy */
	char pool[32];		/* storage pool, "system" by default */
	uint64_t subblocks;	/* size in subblocks (from byte 0) */
};

enum {
	FS_SGD_EXACT_MTIME = 1u << 0,	/* -E yes */
	FS_SGD_SCATTER = 1u << 1,	/* -j scatter (else cluster) */
};

struct fs_sgd {
	uint32_t version;
	uint64_t fsid;
	char device[FS_DEVICE_MAX + 1];
	uint64_t created;	/* seconds since the epoch */
	uint64_t generation;
	uint32_t block_size, subblock_size, mb_size, inode_size;
	uint8_t meta_rep, meta_rep_max, data_rep, data_rep_max;
	uint32_t nregions;	/* block allocation regions */
	uint64_t inode_limit;
	uint32_t flags;		/* FS_SGD_* */
	uint32_t log_bytes;	/* -L, per node */
	char mount_point[256];
	char automount[16];	/* "yes" "no" "automount" */
	struct fs_ptr ifile0;	/* inode file block 0 */
	uint32_t ndisks;
	struct fs_sgd_disk disk[FS_MAX_DISKS];
};

/*
 * Encode into one slot (FS_SGD_SLOT_BYTES, zeroed here first) with
 * version FS_FORMAT_VERSION (s->version is not looked at). MM_ETOOBIG if
 * the disk table does not fit (ndisks > FS_MAX_DISKS); MM_EINVAL if a
 * string does not end inside its field. Nothing else is checked: call
 * fs_sgd_check first to write only what fs_sgd_decode accepts.
 */
int fs_sgd_encode(const struct fs_sgd *s, uint8_t *slot);
/*
 * Is <s> a descriptor fs_sgd_decode accepts? MM_OK or MM_EPROTO with the
 * first thing wrong in <err>. The checks, in order:
 *   - fsid 1 .. FS_FSID_MAX; generation >= 1 (0 stands for "none")
 *   - device 1 .. FS_DEVICE_MAX bytes of [A-Za-z0-9._-]
 *   - block size a power of two in [FS_MIN_BLOCK, FS_MAX_BLOCK],
 *     subblock == fs_subblock(block), mb == FS_MB, inode == FS_INODE_BYTES
 *   - replication: meta and data maxima 1 .. FS_MAX_REPLICAS, defaults
 *     1 .. their maxima
 *   - nregions >= 1; inode limit 17 .. 2^51 (inodes 0..15 are reserved;
 *     the inode file's size stays a positive 64-bit offset)
 *   - flags only FS_SGD_*; log bytes a multiple of FS_MB, >= 4 * FS_MB
 *   - mount point "" or "/..." of printable ASCII; automount "yes", "no"
 *     or "automount"
 *   - ndisks 1 .. FS_MAX_DISKS; per disk: NSD id != 0 and unique, NSD
 *     name valid (nsd_name_valid) and unique, failure group -1 ..
 *     NSD_FG_MAX, usage/status/avail one of their enums, pool 1 .. 31
 *     bytes of [A-Za-z0-9._-] and "system" for a disk holding metadata,
 *     size below 2^48 subblocks and past the reserved area: a descOnly
 *     disk holds both slots (> FS_RESERVED_BYTES / S subblocks), any other
 *     at least one full block after it
 *   - some disk holds metadata and some disk holds data
 *   - 1, 3 or 5 descriptor disks, in distinct failure groups (-1, "no
 *     group", is distinct from every disk)
 *   - ifile0: replica 0 set, none past meta_rep_max; each set one on a
 *     distinct metadata disk of a distinct failure group (-1 aside), at a
 *     full block (subblock a multiple of B / S) at or after 1 MiB that
 *     ends inside the disk
 */
int fs_sgd_check(const struct fs_sgd *s, char *err, size_t errsz);
/*
 * Decode and check one slot: the first <len> bytes of it (at least its
 * used length; at most FS_SGD_SLOT_BYTES are looked at, and those past
 * the used length must be zero). MM_ENOENT without the magic (an empty
 * slot); MM_ECHECKSUM; MM_ENOTSUP for another format version, naming
 * both; MM_EPROTO for a length that does not fit, reserved bytes not
 * zero, a string not terminated or not zero-padded, or whatever
 * fs_sgd_check refuses. <s> is zeroed first (disks past ndisks stay
 * zero), so two decodes of one descriptor compare equal with memcmp; it
 * is undefined after a failure.
 */
int fs_sgd_decode(const uint8_t *slot, size_t len, struct fs_sgd *s, char *err, size_t errsz);
/* What one descriptor disk gave: its two slots (NULL: unreadable). */
struct fs_sgd_read {
	const uint8_t *slot[2];
	size_t len[2];
};
/*
 * The descriptor of a stripe group from its <ndisks> descriptor disks
 * (1 .. FS_MAX_DISKS; an unreadable disk counts, holding nothing): a
 * disk "holds" generation g if either of its slots decodes with
 * generation g (writes alternate slots, so a disk whose newest write was
 * torn still holds the one before). Copies of one generation are the
 * same descriptor only if their CRCs agree too. The highest generation a
 * majority of the disks hold wins, decoded into <out>; a newer generation
 * held by a minority was a change that did not finish and is ignored.
 * <next> (ndisks entries, may be NULL): the slot each disk's next write
 * must use: the one not holding the chosen generation (1 if both do); on
 * a disk without it, a slot that holds nothing valid, else the one of the
 * older generation (0 on a tie). MM_ENOENT when no generation has a
 * majority ("descriptor quorum not met"), with what each disk held in
 * <err>; MM_ENOTSUP when a majority of the disks hold a descriptor of
 * another format version (an upgrade this code cannot read: taking the
 * older version 1 copy beside it would go back in time), with decode's
 * message; MM_EINVAL for ndisks out of range; MM_ENOMEM. <out> is
 * undefined after a failure.
 */
int fs_sgd_choose(const struct fs_sgd_read *disks, size_t ndisks, struct fs_sgd *out,
		  uint8_t *next, char *err, size_t errsz);

/* ---- inodes ---- */
enum {
	FS_IF_DATA_IN_INODE = 1u << 0,	/* the tail area holds the data / entries / target */
	FS_IF_XATTR_OVERFLOW = 1u << 1,	/* more xattrs in the overflow block */
	FS_IF_FREE = 1u << 2,		/* an unused record (after unlink) */
};

struct fs_time {
	int64_t sec;
	uint32_t nsec;
};

/*
 * One inode record (FS_INODE_BYTES). Layout after the 64-byte header
 * (owning inode = this inode's number, block number 0, type-specific
 * header fields: a = generation (< 2^32), b = 0):
 *   64  4 mode   68 4 nlink   72 4 uid   76 4 gid
 *   80  8 rdev: a device's number; a directory's parent directory (its
 *         ".." entry, which is not stored; 0 for the root: itself)
 *   88  8 size   96 8 subblocks used
 *   104 12 atime  116 12 mtime  128 12 ctime  140 12 crtime (8 sec, 4 nsec)
 *   152 4 flags (FS_IF_*)  156 1 data replicas  157 1 metadata replicas
 *   158 1 indirection level  159 1 directory global depth
 *   160 2 xattr area length used  162 2 tail length used
 *   164 1 blocks of the xattr overflow when more than one (version 2),
 *         else 0   165 3 reserved 0
 *   168 24 xattr overflow: a pointer of 3 addresses (the file's metadata
 *          replicas; the rest 0; all 0: none), each the start of a run of
 *          xattr_units metadata blocks
 *   192 .. 192 + FS_XATTR_AREA: xattr area: entries of
 *          [1 namespace | 0x80 when the value length has bit 16][1 name
 *          len][2 value len, bits 0-15][name][value]
 *   FS_TAIL_OFF .. 4096: the tail area: data in the inode, or the
 *          pointers (each maxrep * 8 bytes)
 */
#define FS_XATTR_AREA 1008u
#define FS_XATTR_OFF 192u
#define FS_MAX_LEVEL 6			/* deepest pointer tree */
#define FS_TAIL_OFF (FS_XATTR_OFF + FS_XATTR_AREA)
#define FS_TAIL_BYTES (FS_INODE_BYTES - FS_TAIL_OFF)	/* 2896 */

struct fs_inode {
	uint64_t ino;
	uint32_t gen;
	uint32_t mode, nlink, uid, gid;
	uint64_t rdev, size, subblocks;
	struct fs_time atime, mtime, ctime, crtime;
	uint32_t flags;
	uint8_t data_rep, meta_rep, level, depth;
	uint16_t xattr_len, tail_len;
	struct fs_ptr xattr_ovf;	/* the overflow block (FS_TAG_XATTR) */
	uint8_t xattr_units;		/* its blocks: 1 .. FS_XATTR_MAX_UNITS, 0 without one */
	uint8_t xattr[FS_XATTR_AREA];
	uint8_t tail[FS_TAIL_BYTES];
};

/* Pointers the tail area holds for a file of <maxrep> replicas. */
static inline uint32_t fs_inode_nptrs(unsigned maxrep)
{
	return FS_TAIL_BYTES / (8u * maxrep);
}
/* Pointers in one indirect block. */
static inline uint32_t fs_ind_nptrs(unsigned maxrep)
{
	return (FS_MB - FS_MBH_BYTES) / (8u * maxrep);
}

/* Write <in> as a sealed record into <rec> (FS_INODE_BYTES) of file
 * system <fsid>: only xattr_len bytes of the xattr area and, with data in
 * the inode, tail_len bytes of the tail are copied (the rest is zero);
 * with pointers, the whole tail area. */
void fs_inode_encode(const struct fs_inode *in, uint32_t fsid, uint8_t *rec);
/*
 * Verify and decode a record (FS_INODE_BYTES) read from disk: the header
 * as fs_mb_verify checks it (type FS_BT_INODE, file system <fsid>, inode
 * <ino> (UINT64_MAX: any), block number 0, CRC), then every field:
 *   - b == 0, generation < 2^32; the reserved bytes 164..168 zero
 *   - flags only FS_IF_*; FS_IF_XATTR_OVERFLOW set iff the overflow
 *     pointer is not all 0; its first address is not 0 and no address
 *     follows a 0 one
 *   - every time's nsec < 10^9
 *   - a free record (FS_IF_FREE) keeps only its number, generation and
 *     times: every other field and both areas are zero, no other flag
 *   - else: mode is S_IFREG/DIR/LNK/CHR/BLK/FIFO/SOCK with permission
 *     bits (07777) only; data and metadata replicas 1 .. FS_MAX_REPLICAS;
 *     level <= FS_MAX_LEVEL; size <= INT64_MAX; rdev 0 unless a device or a directory;
 *     size 0 and level 0 for devices, FIFOs and sockets; depth < 64 and
 *     only for a directory
 *   - xattr_len <= FS_XATTR_AREA, its entries ([1 ns][1 name len >= 1][2
 *     value len][name][value]) fill exactly xattr_len, the rest is zero
 *   - tail_len <= FS_TAIL_BYTES; with FS_IF_DATA_IN_INODE (only regular
 *     files, directories, symlinks): level 0, size <= FS_TAIL_BYTES,
 *     tail_len == size for a file or symlink (directory depth 0), the
 *     rest of the tail zero; with pointers tail_len is 0
 * MM_OK, or fs_mb_verify's code, or MM_EPROTO with the reason in <err>.
 */
int fs_inode_decode(const uint8_t *rec, uint32_t fsid, uint64_t ino, struct fs_inode *in,
		    char *err, size_t errsz);

/* Do xattr entries ([1 ns | 0x80 for bit 16 of the value length][1 name
 * len >= 1][2 value len, bits 0-15][name][value]) fill exactly <len>
 * bytes of <x>? (The inode's area; the overflow's bodies end to end: each
 * of its blocks FS_BT_XATTR, owner the inode, block number FS_TAG_XATTR +
 * i, header b = 0, a = the length used in the first, 0 in the others;
 * past the length every body is zero.) */
bool fs_xattr_entries_ok(const uint8_t *x, size_t len);

/* Blocks an xattr overflow of <len> bytes of entries takes (at least 1). */
static inline unsigned fs_xattr_ovf_blocks(uint64_t len)
{
	const uint64_t body = FS_MB - FS_MBH_BYTES;

	return len ? (unsigned)((len + body - 1) / body) : 1u;
}

/* Do an overflow's <units> bodies, end to end at <bodies>, hold entries
 * filling exactly <len> bytes, the rest zero, in no more blocks than
 * <len> needs? (Read by the mount and by mmfsck.) */
bool fs_xattr_ovf_ok(const uint8_t *bodies, uint64_t len, unsigned units);

/* The value length of the entry at <e> (17 bits: up to XATTR_SIZE_MAX). */
static inline size_t fs_xattr_vlen(const uint8_t *e)
{
	return (size_t)(e[0] & 0x80) << 9 | (size_t)e[2] << 8 | e[3];
}

/* Pointer <i> of a tail area or an indirect block body holding <maxrep>
 * (1 .. FS_MAX_REPLICAS) addresses per pointer: get zeroes the replicas
 * past <maxrep>; put stores only the first <maxrep> (the caller keeps
 * the others 0). */
void fs_ptr_get(const uint8_t *area, uint32_t i, unsigned maxrep, struct fs_ptr *p);
void fs_ptr_put(uint8_t *area, uint32_t i, unsigned maxrep, const struct fs_ptr *p);

/*
 * The largest file a tree of <level> levels holds with <maxrep>-replica
 * pointers and block size <b> (saturating at UINT64_MAX): level 0, the
 * inode's fs_inode_nptrs pointers are blocks; each level more multiplies
 * by fs_ind_nptrs. And the lowest level a file of <size> bytes needs
 * (FS_MAX_LEVEL + 1 if none up to FS_MAX_LEVEL holds it; with B >= 64 KiB
 * level 4 already holds 2^64 - 1 bytes).
 */
uint64_t fs_tree_max_bytes(unsigned level, unsigned maxrep, uint32_t b);
unsigned fs_tree_level_for(uint64_t size, unsigned maxrep, uint32_t b);

/* ---- a block store, for the pure modules and their tests ---- */

/* Metadata blocks of one file by block number; the stripe group gives
 * pagepool buffers under tokens, tests give memory. */
struct fs_bstore {
	/* The FS_MB bytes of block <blk> of inode <ino>, to read (write
	 * false) or change (write true). MM_ENOENT: a hole (only for read;
	 * a write of a hole allocates). The memory stays valid until put. */
	int (*get)(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data);
	/* Done with it; <dirty>: it was changed (the store re-seals nothing:
	 * the caller sealed it). */
	void (*put)(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty);
	/* Free block <blk> of <ino> (it becomes a hole). */
	int (*punch)(void *arg, uint64_t ino, uint64_t blk);
	void *arg;
	/* Optional (NULL: verify every get). For a block got as <data> and
	 * not yet put: has it been verified since it was read from disk
	 * (<set> false), or: it just was (<set> true). A store over a cache
	 * answers from the cache, so a reader checks a block's CRC once per
	 * read from disk, not on every get. */
	bool (*checked)(void *arg, const uint8_t *data, bool set);
	/* Optional (NULL: not needed). A store that has it may hand out a
	 * block got for writing without saving a copy of it first: the
	 * caller calls it before it changes bytes [off, off + len) of the
	 * block, and changes no byte it has not named (a transaction's
	 * store then saves, logs and undoes just those). */
	void (*changing)(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len);
};

/* fs_mb_verify of a block got from <bs> (<blk> still held): when the
 * store says it was verified since it was read from disk, only the
 * header's fields are taken (into *h) and its CRC is not computed again;
 * after a full verify that passes, the store is told. */
int fs_mb_verify_bs(const struct fs_bstore *bs, const uint8_t *blk, size_t len, unsigned want,
		    uint32_t fsid, uint64_t ino, uint64_t blkno, struct fs_mbh *h, char *err,
		    size_t errsz);

/* ---- helpers shared by fs/ ---- */

/* A device or pool name: 1 .. <max> bytes of [A-Za-z0-9._-]. */
bool fs_simple_name(const char *n, size_t max);
/* Format a reason into <err> (when given) and return <rc>. */
__attribute__((format(printf, 4, 5)))
int fs_errf(char *err, size_t errsz, int rc, const char *fmt, ...);

/* The 64-bit hash of a directory entry name (stable on disk: never
 * change it within a format version). */
uint64_t fs_name_hash(const char *name, size_t len);

#endif
