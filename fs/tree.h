/*
 * fs/tree.h - a file's pointer tree (block map): which disk addresses hold
 * block n of inode I, and its write side (2026-12-08; the design is
 * fs/README.md, "Inodes and the inode file", "Pointer tree", "Pagepool
 * tags").
 *
 * A pure module: no disk, token, lock, thread or state of its own. The
 * caller owns the struct fs_inode and holds whatever tokens and locks
 * protect it and its indirect blocks; indirect blocks are reached through
 * a struct fs_bstore (format.h); disk space for new indirect blocks, the
 * freeing of blocks and the reporting of changed bytes (for the log) are
 * callbacks in struct fs_tree. The pagepool's map callback is the main
 * reader (fs_tree_lookup, fs_tree_lookup_at), sg.c the writer.
 *
 * Entry points:
 *   fs_tree_lookup / _lookup_at / _lookup_run   read: one block, any
 *                                tree block, a run of blocks
 *   fs_tree_set                  point block n at a pointer (or punch it)
 *   fs_tree_truncate             free everything past a new end
 *   fs_tree_iterate, fs_tree_seek_data / _seek_hole   the mapped blocks
 *   fs_tree_from_inline          a data-in-inode file becomes a tree
 *
 * ---- the tree ----
 *
 * Units: r = maxrep (the file's pointer width: max(-M, -R) of the file
 * system, the same for every file; fs/README.md, "Disk addresses"), ni = fs_inode_nptrs(r) pointers in
 * the inode (362, 181, 120), nd = fs_ind_nptrs(r) in an indirect block
 * (8184, 4092, 2728). Block numbers n count data blocks of the file (of
 * size B for a data file, FS_MB for a metadata file: the tree does not
 * care).
 *
 * A pointer at level 0 is a data block; a pointer at level k >= 1 is an
 * indirect block "of level k", which holds nd pointers of level k - 1 and
 * covers span(k) = nd^k data blocks: indirect block (k, x) covers blocks
 * [x * span(k), (x + 1) * span(k)), and its pointer j is the level k - 1
 * block x * nd + j. Every pointer in the inode is at the inode's level L:
 * inode pointer i covers [i * span(L), (i + 1) * span(L)), so a tree of
 * level L addresses fs_tree_blocks(L, r) = ni * span(L) blocks.
 *
 * Growing (fs_tree_set of a block past fs_tree_blocks(L)): the inode's
 * pointers move into a new indirect block (L + 1, 0) and the inode points
 * at it alone, as GPFS does; repeated until the block fits. Existing
 * indirect blocks keep their (level, index), so their tags stay valid. A
 * tree whose inode holds no pointer just takes the new level. Shrinking
 * (fs_tree_truncate) is the reverse.
 *
 * Indirect block (k, x) of inode I is block FS_TAG_IND | k << 56 | x of I
 * in the bstore (fs_tree_tag; the pagepool's metadata tag). On disk it is
 * FS_MB bytes: the fs_mbh, sealed (fs_mb_seal), type FS_BT_INDIRECT, ino
 * I, blk its tag, a = r, b = the number of its pointers that are not
 * holes (1 .. nd: an indirect block that becomes empty is freed); then
 * nd pointers of r big-endian addresses each (the body is exactly nd * 8
 * * r bytes for every r). Every get is verified: fs_mb_verify, a == r,
 * and b equal to the count of non-hole pointers. A hole is a pointer
 * whose r addresses are all 0, at any level; a hole at level k is
 * span(k) data blocks of holes and is never read.
 *
 * The largest block number is fs_tree_max_block(B) - 1: byte offsets stay
 * below 2^63 (fs_inode_decode's size limit). With every B and r that is
 * level 4 at most (2^50 bytes: level 3 at B = 64 KiB, level 2 at 16 MiB).
 *
 * ---- callbacks and what the caller logs ----
 *
 * alloc_meta(arg, ino, blk, &p): disk space for a new indirect block of
 * <ino> whose tag is <blk>; fill <p> with up to r addresses (the rest
 * 0). The caller logs it as allocated (fs_log_add_alloc: replay zeroes
 * it); the module then writes the whole block in memory but reports only
 * the bytes that are not zero. An error is returned as it came, and
 * nothing was changed.
 *
 * free_blk(arg, ino, blk, &p, is_meta): <p> is no longer used: a data
 * block (is_meta false, blk its block number) or an indirect block
 * (is_meta true, blk its tag: the module has already put and punched it
 * from the bstore; the caller logs fs_log_add_free). Called after the
 * pointer to it was zeroed in memory (children before their parent), so
 * an error leaks the rest of what was being freed (mmfsck reclaims it)
 * and never frees anything twice; the error is returned.
 *
 * changed(arg, ino, blk, off, len, bytes): bytes [off, off + len) of
 * metadata block (ino, blk) now hold <bytes> (valid during the call;
 * final for this call: nothing reported changes again before the call
 * returns), to log with fs_log_add_bytes. A changed indirect block is
 * sealed and its header [0, FS_MBH_BYTES) reported after its pointers.
 * blk FS_TREE_INODE means the inode's own record (fs_inode_encode
 * layout: FS_TREE_IOFF_* below): <bytes> is NULL; the caller encodes the
 * inode after the call and logs the ranges (and the record's header, for
 * its CRC) or the whole record. May be NULL.
 *
 * ---- blocks held (for tokens and the pagepool) ----
 *
 * Indirect blocks are got top-down (inode level first), at most one per
 * level at once plus, in fs_tree_set, the new ones; every call puts
 * everything it got on every path. A read-only call gets them with
 * write false; fs_tree_set and fs_tree_truncate get the blocks they may
 * change with write true. A new indirect block is got (write) after
 * alloc_meta returned its pointer and before its parent points at it.
 *
 * ---- errors ----
 *
 * Return convention: MM_OK (0) or a non-negative count / flag as each call
 * says, or a negative MM_E* (common/err.h), with t->err saying what was
 * wrong ("inode 77: indirect block level 2 index 5: indirect block has a
 * bad checksum ..."):
 *   MM_ESTATE    the inode holds its data (FS_IF_DATA_IN_INODE): no tree
 *   MM_ERANGE    a block number at or past fs_tree_max_block(B)
 *   MM_EINVAL    a bad argument (maxrep, block size, a missing callback)
 *   MM_EPROTO, MM_ECHECKSUM, MM_ENOTSUP   an indirect block that fails
 *                verification (never used), one the bstore does not have
 *                although its pointer is set (MM_EPROTO), or an inode
 *                level over FS_MAX_LEVEL
 *   anything else a callback or the bstore returned.
 * fs_tree_set leaves the tree unchanged on every error. fs_tree_truncate
 * leaves a consistent tree that may still hold some of what was past the
 * end (call it again) and may have leaked blocks (see free_blk).
 *
 * Threads: none. A struct fs_tree is used by one thread at a time (it
 * holds the error text); it is cheap to fill on the stack per call.
 */
#ifndef MM_FS_TREE_H
#define MM_FS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

/* changed(): the inode record itself, not a bstore block. */
#define FS_TREE_INODE UINT64_MAX
/* Byte offsets of the inode fields this module changes, in the record
 * fs_inode_encode writes (format.h). */
#define FS_TREE_IOFF_FLAGS 152u		/* 4 bytes */
#define FS_TREE_IOFF_LEVEL 158u		/* 1 byte */
#define FS_TREE_IOFF_TAIL_LEN 162u	/* 2 bytes */
#define FS_TREE_IOFF_TAIL FS_TAIL_OFF	/* the pointers: FS_TAIL_BYTES */

/* The bstore block number (and pagepool tag) of indirect block (level,
 * index): level 1 .. FS_MAX_LEVEL, index < 2^56. */
static inline uint64_t fs_tree_tag(unsigned level, uint64_t index)
{
	return FS_TAG_IND | (uint64_t)level << 56 | index;
}
static inline unsigned fs_tree_tag_level(uint64_t tag)
{
	return (unsigned)(tag >> 56 & 0x7f);
}
static inline uint64_t fs_tree_tag_index(uint64_t tag)
{
	return tag & ((1ull << 56) - 1);
}

/* Blocks a tree of <level> addresses with <maxrep>-wide pointers:
 * fs_inode_nptrs * fs_ind_nptrs^level, saturating at UINT64_MAX. */
uint64_t fs_tree_blocks(unsigned level, unsigned maxrep);
/* One past the largest block number of block size <b>: 2^63 / b. */
static inline uint64_t fs_tree_max_block(uint32_t b)
{
	return (1ull << 63) / b;
}
/* The lowest level whose tree addresses block <n> (FS_MAX_LEVEL + 1 if
 * none). */
unsigned fs_tree_level_of(uint64_t n, unsigned maxrep);

/* The caller's view of one file system's trees; filled per call (or per
 * thread), read by the module, which keeps no pointer to it. */
struct fs_tree {
	/* --- set by the caller --- */
	const struct fs_bstore *bs;	/* indirect blocks (by fs_tree_tag) */
	uint32_t fsid;			/* low 32 bits, as in fs_mbh */
	uint32_t bsize;			/* data block size B (for byte sizes) */
	unsigned maxrep;		/* this file's pointer width, 1 .. 3 */
	/* fs_tree_set (when it needs a new indirect block); see above. */
	int (*alloc_meta)(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p);
	/* fs_tree_set (emptied indirect blocks) and fs_tree_truncate. */
	int (*free_blk)(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p,
			bool is_meta);
	/* Every changed byte range (may be NULL). */
	void (*changed)(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
			const uint8_t *bytes);
	void *arg;			/* for the three callbacks */

	/* --- out --- */
	char err[192];			/* why the last call failed */
};

/* Is <p> a hole (every address 0)? */
static inline bool fs_ptr_is_hole(const struct fs_ptr *p)
{
	return (p->da[0] | p->da[1] | p->da[2]) == 0;
}

/*
 * The pointer of block <n> of <in> into *p: 1 if mapped, 0 for a hole
 * (*p all zeros; also past what the tree addresses), < 0 on error
 * (MM_ERANGE for n >= fs_tree_max_block). Reads at most in->level
 * indirect blocks (none for a hole high in the tree).
 */
int fs_tree_lookup(struct fs_tree *t, const struct fs_inode *in, uint64_t n, struct fs_ptr *p);

/*
 * The pointer at <level> of the tree block (level, index): level 0 is the
 * data block <index> (fs_tree_lookup), level k >= 1 the indirect block
 * (k, index), i.e. where the bstore block fs_tree_tag(k, index) lives on
 * disk (the pagepool map callback's question). 1 / 0 / < 0 as lookup; a
 * level above the inode's is 0; MM_EINVAL for a level over FS_MAX_LEVEL.
 * Reads at most in->level - level indirect blocks.
 */
int fs_tree_lookup_at(struct fs_tree *t, const struct fs_inode *in, unsigned level,
		      uint64_t index, struct fs_ptr *p);

/*
 * The pointers of blocks <first> .. <first> + <count> - 1 into p[0 ..
 * count-1] (holes all zeros): the number of mapped ones, or < 0 on error
 * (p is then undefined). Reads every indirect block that covers part of
 * the run and is not a hole exactly once, and no other.
 */
int64_t fs_tree_lookup_run(struct fs_tree *t, const struct fs_inode *in, uint64_t first,
			   uint64_t count, struct fs_ptr *p);

/*
 * Make block <n> point at *p and give the pointer it had in *old (may be
 * NULL). The old data block is the caller's (fs_tree_set frees only
 * indirect blocks). Returns 1 if the tree changed, 0 if not (p equals the
 * old pointer), < 0 on error (nothing changed).
 *
 * A pointer that is not a hole: grows the level while n is past what it
 * addresses (see "Growing"), and creates the missing indirect blocks on
 * n's path (alloc_meta, then a write get of the new tag; at most in->level
 * reads of existing ones). A hole (punching block n): if an indirect
 * block becomes empty it is freed (free_blk) and its parent's pointer
 * zeroed, up to the inode; the level does not shrink. Reports every
 * changed range (the inode's level and pointers included).
 */
int fs_tree_set(struct fs_tree *t, struct fs_inode *in, uint64_t n, const struct fs_ptr *p,
		struct fs_ptr *old);

/*
 * Free every data block and indirect block past the end of a file of
 * <size> bytes (blocks n >= ceil(size / bsize)), zeroing their pointers,
 * then lower the level while a lower one addresses every kept block
 * (moving the pointers of indirect block (L, 0) into the inode and
 * freeing it). Holes are skipped at every level without reading them:
 * the work is proportional to the pointers in the indirect blocks freed
 * or changed. Does not change the size, subblocks or times (the caller
 * does, in the same transaction), nor the last kept block (a fragment or
 * partial block is the caller's).
 *
 * <max> (0: no limit) bounds the data blocks freed by this call, so a
 * transaction's log reservation bounds it too: the call stops once <max>
 * are freed with *more (may be NULL) true, leaving a consistent tree
 * whose blocks past the end are fewer; call again (a new transaction)
 * until *more is false. Data blocks are freed in increasing order, each
 * indirect block after the blocks under it. Returns the number of data
 * blocks freed, or < 0 (see "errors"; a failing free_blk leaks at most
 * the rest of one level-1 indirect block's blocks).
 */
int64_t fs_tree_truncate(struct fs_tree *t, struct fs_inode *in, uint64_t size, uint64_t max,
			 bool *more);

/* fs_tree_iterate's callback: the pointer <p> at (level, index): level 0
 * a data block (index = n), level >= 1 an indirect block (with
 * FS_TREE_ITER_META). Return 0 to go on, 1 to stop, < 0 to stop with that
 * error. No block is held during the call; <fn> must not change this
 * tree (changes are not seen). */
typedef int (*fs_tree_iter_fn)(void *arg, unsigned level, uint64_t index,
			       const struct fs_ptr *p);
enum {
	FS_TREE_ITER_META = 1u << 0,	/* also each indirect block, before its blocks */
};

/*
 * Call <fn> for each mapped block n in [from, to) (to UINT64_MAX: the
 * whole tree) in increasing order, and with FS_TREE_ITER_META for each
 * indirect block covering part of the range, before the blocks under it.
 * Holes are skipped at every level without reading. Returns 0 at the end,
 * 1 if <fn> stopped it, or an error (<fn>'s included). Each indirect
 * block is read once; its pointers are copied (a buffer of at most
 * in->level * FS_MB bytes, MM_ENOMEM) so none is held during <fn>.
 */
int fs_tree_iterate(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t to,
		    unsigned flags, fs_tree_iter_fn fn, void *arg);

/* SEEK_DATA / SEEK_HOLE in blocks: the first mapped block >= <from>
 * into *n (1), or 0 if there is none; the first hole >= <from> (always
 * found: the tree ends in holes; the caller clamps to the size). */
int fs_tree_seek_data(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t *n);
int fs_tree_seek_hole(struct fs_tree *t, const struct fs_inode *in, uint64_t from, uint64_t *n);

/*
 * A data-in-inode file (FS_IF_DATA_IN_INODE) becomes a tree of level 0
 * whose block 0 is *p0 (the caller wrote the data there first; a hole
 * for an empty file): the flag is cleared, the tail area zeroed,
 * tail_len 0. MM_ESTATE if the flag is not set. Reports the inode's
 * flags, tail length and tail area.
 */
int fs_tree_from_inline(struct fs_tree *t, struct fs_inode *in, const struct fs_ptr *p0);

#endif
