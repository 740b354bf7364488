/*
 * fs/alloc.h - block and inode allocation maps, regions and placement
 * (fs/README.md "Allocation maps"; the byte layout of the map blocks is
 * below, their header is fs_mbh of format.h). 2026-12-07.
 *
 * A pure module: it reads and writes map blocks only through the caller's
 * struct fs_bstore, takes no token, no lock and starts no thread.
 *
 * Entry points:
 *   fs_alloc_open / _update / _close   the geometry, from the descriptor
 *   fs_bmap_*    the block allocation map (inode 1): format, allocate a
 *                full block or a fragment in a region, free, count,
 *                region of an address, check
 *   fs_imap_*    the inode allocation map (inode 2)
 *   fs_place_*   which disks a file's blocks and replicas go to
 *   fs_alloc_pick_region   the allocation manager's region choice
 *
 * Return convention: MM_OK (0) or a negative MM_E* (common/err.h):
 *   MM_ERANGE    no space: the (disk, region) chunk has no free full block
 *                or no run of k free subblocks inside one full block; the
 *                inode region is full; placement found too few usable
 *                disks or failure groups. This module's ENOSPC: the file
 *                system returns ENOSPC for it.
 *   MM_ESTATE    freeing what is already free (a double free); nothing
 *                was changed. The message names the address.
 *   MM_EINVAL    a bad argument: disk or region out of range, an address
 *                outside every chunk (reserved area, past the end), a run
 *                crossing a full block, a reserved inode.
 *   MM_EPROTO, MM_ECHECKSUM, MM_ENOTSUP   a bad map block (fs_mb_verify,
 *                or counts that do not fit): it is never used.
 *   MM_ENOENT    a block map block is missing (a hole where format wrote
 *                one).
 *   MM_EEXIST    fs_bmap_format of a disk whose map blocks exist.
 *   MM_ECONFLICT a map block changed between the search and the change
 *                of one allocation: the caller broke the per-region
 *                serialisation below.
 *   anything else the fs_bstore returned.
 * Functions taking <err, errsz> write a message there on failure ("block
 * map disk 3 (nsd3) region 5 map block 0 (map-file block ...): ..."),
 * naming disk, region and map block, or the address; <err> may be NULL
 * with <errsz> 0.
 *
 * Threads: a struct fs_alloc is read-only after fs_alloc_open except for
 * fs_alloc_update, which the caller runs alone (under the descriptor
 * change). Calls that change one block-map region or one inode region
 * must be serialised by the caller per region (in sg.c: the region's
 * alloc / ialloc token held xw, plus a per-region mutex); calls on
 * different regions may run at once if the bstore allows it.
 */
#ifndef MM_FS_ALLOC_H
#define MM_FS_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

#define FS_INO_BMAP 1u			/* the block allocation map file */
#define FS_INO_IMAP 2u			/* the inode allocation map file */
#define FS_FIRST_USER_INO 16u		/* inodes 0 .. 15 are never handed out */
#define FS_IMAP_REGION_INODES 65536u	/* inodes per inode region */

/*
 * ---- block map layout (format version 1) ----
 *
 * Units: B block size, S = fs_subblock(B), spb = B / S (16 for 64 KiB
 * blocks, else 32). Subblock numbers count from the disk's byte 0.
 *
 * Allocatable space of disk d: the full blocks from subblock
 *   first = roundup(FS_RESERVED_BYTES, B) / S
 * (the first full block at or after 1 MiB; the same on every disk) up to
 * the last full block that ends at or before the disk's end:
 *   nblocks(d) = (subblocks(d) - first) / spb   (0 if the disk is smaller)
 * A trailing piece shorter than a full block is never allocated, and a
 * descOnly disk has nblocks 0 (it holds no file system blocks).
 *
 * Chunks: region r (0 .. R-1, R = sgd.nregions) owns on every disk the
 * full blocks [lo(r), lo(r + 1)) counted from <first>, where
 *   lo(r) = floor(r * nblocks / R)
 * so chunks are whole full blocks, consecutive, disjoint, cover every
 * allocatable subblock exactly once and differ in size by at most one
 * block (with R > nblocks some chunks are empty).
 *
 * Map blocks: a map block's bitmap covers bpm full blocks,
 *   bpm = (FS_MB - FS_MBH_BYTES) * 8 / spb   (32736 or 16368)
 * and per(d) = ceil(ceil(nblocks / R) / bpm) map blocks are set aside for
 * each chunk of disk d. Map block j (0 .. ceil(chunk blocks / bpm) - 1)
 * of chunk (d, r) is block
 *   (d << 32) + r * per(d) + j
 * of the map file (FS_INO_BMAP); blocks j beyond a short chunk's need are
 * holes. It covers the chunk's full blocks [j * bpm, (j + 1) * bpm).
 * Header (fs_mbh): type FS_BT_BMAP, ino FS_INO_BMAP, blk as above,
 *   a = free subblocks, b = free full blocks (all spb subblocks free)
 * counted over the blocks it covers. Body (from byte FS_MBH_BYTES): bit i
 * (byte i / 8, bit i % 8, least significant first) is subblock i of the
 * covered range, 1 = in use. Bits of blocks past the chunk's end are 1
 * and not counted; bits past bpm * spb are 0.
 *
 * ---- inode map layout ----
 *
 * Inode region r holds inodes [r * 65536, (r + 1) * 65536); there are
 * ceil(inode_limit / 65536) of them. Its map block is block r of the
 * map file FS_INO_IMAP: header type FS_BT_IMAP, ino FS_INO_IMAP, blk r,
 * a = free inodes, b = 0; body bit i (as above) is inode r * 65536 + i,
 * 1 = in use; bits past 65536 are 0. Inodes 0 .. 15 and those at or past
 * inode_limit are in use from the start. A region whose map block is a
 * hole has never been used: everything in it is free but those; its
 * block is written at its first allocation.
 */

/* The geometry of a stripe group's maps, and their block store. */
struct fs_alloc;

/*
 * Read the geometry from descriptor <sgd> (block and subblock size,
 * regions, inode limit, every disk's size and usage); <bs> is copied.
 * MM_EINVAL if the descriptor's values do not fit (sizes, no regions,
 * more map blocks for a disk than 32 bits of map-file block number hold,
 * inode limit not above 16); MM_ENOMEM.
 */
int fs_alloc_open(const struct fs_sgd *sgd, const struct fs_bstore *bs, struct fs_alloc **out,
		  char *err, size_t errsz);
/*
 * The descriptor changed: take its new disks (mmadddisk; format their
 * maps with fs_bmap_format). Nothing that places existing blocks may
 * change: MM_ESTATE if the block size, region count, or an existing
 * disk's size or usage (descOnly or not) differs, or disks went away; the
 * handle is then unchanged. Disk status, availability, pool and failure
 * group may change (they matter to placement only).
 */
int fs_alloc_update(struct fs_alloc *a, const struct fs_sgd *sgd, char *err, size_t errsz);
void fs_alloc_close(struct fs_alloc *a);

/*
 * Free space that must not be handed out yet: busy(arg, d, sub) gives the
 * subblocks of the full block starting at subblock <sub> of disk <d> that
 * allocation skips though the map says they are free (bit k: subblock
 * sub + k). The stripe group's blocks freed by transactions not yet
 * durable (fs/README.md, "Frees"). Called with the region serialised;
 * must be cheap (once per free full block an allocation looks at).
 */
typedef uint32_t (*fs_bmap_busy_fn)(void *arg, uint32_t d, uint64_t sub);
void fs_alloc_set_busy(struct fs_alloc *a, fs_bmap_busy_fn fn, void *arg);

/* Subblocks per full block (spb) and full blocks per map block (bpm). */
uint32_t fs_alloc_spb(const struct fs_alloc *a);
uint32_t fs_alloc_bpm(const struct fs_alloc *a);

/* ---- block allocation map ---- */

/* Chunk (d, r): where it lies and its map blocks. */
struct fs_chunk {
	uint64_t start;		/* first subblock (a full block's) */
	uint64_t nsub;		/* subblocks: a multiple of spb, may be 0 */
	uint32_t nmap;		/* map blocks it uses */
	uint64_t map0;		/* map-file block of its map block 0 */
};
/* MM_EINVAL if <d> or <r> is out of range. */
int fs_bmap_chunk(const struct fs_alloc *a, uint32_t d, uint32_t r, struct fs_chunk *c);

/* The region owning disk address <da>; MM_EINVAL (and *r untouched) if
 * it lies in no chunk: unknown disk, reserved area, past the last full
 * block. Frees of other nodes' regions are shipped to their holders. */
int fs_bmap_region_of(const struct fs_alloc *a, fs_da da, uint32_t *r);

/*
 * Write the initial maps of disks <disks>[0 .. n-1]: every allocatable
 * subblock free. mmcrfs (all disks) and mmadddisk (the new ones: nothing
 * else is touched or moved). Every map block is checked first and
 * MM_EEXIST returned (nothing written) if any of them exists. A store
 * error part way leaves the blocks written so far (a retry then gets
 * MM_EEXIST: punch them, or start the file system over).
 */
int fs_bmap_format(struct fs_alloc *a, const uint32_t *disks, size_t n, char *err,
		   size_t errsz);

/* fs_bmap_format of the one chunk (d, r): for formatting a disk added to
 * a mounted file system in transactions of bounded size. MM_EEXIST if
 * its map blocks exist (nothing written). */
int fs_bmap_format_region(struct fs_alloc *a, uint32_t d, uint32_t r, char *err, size_t errsz);

/* One full block on disk <d> in region <r> (the lowest free one that is
 * not busy); MM_ERANGE if the chunk has none. */
int fs_bmap_alloc_block(struct fs_alloc *a, uint32_t r, uint32_t d, fs_da *out, char *err,
			size_t errsz);
/*
 * A fragment of <k> subblocks (1 .. spb) inside one full block on disk
 * <d> in region <r>: best fit among the runs of free subblocks inside
 * partly used full blocks (the shortest run of at least k, the first of
 * equals; it takes the run's start), else the start of the lowest free
 * full block; busy subblocks count as used. MM_ERANGE if neither exists.
 */
int fs_bmap_alloc_frag(struct fs_alloc *a, uint32_t r, uint32_t d, uint32_t k, fs_da *out,
		       char *err, size_t errsz);
/*
 * Grow the fragment of <have> subblocks at <da> to <want> where it is:
 * the subblocks after it in its full block, if all are free and none is
 * busy (a file appended to keeps its place instead of moving, and its
 * bytes need not be written twice). MM_ERANGE if they are not (nothing
 * changed). The caller holds the address's region.
 */
int fs_bmap_extend(struct fs_alloc *a, fs_da da, uint32_t have, uint32_t want, char *err,
		   size_t errsz);
/*
 * Free <nsub> subblocks from <da>: a full block (nsub == spb, aligned) or
 * a fragment (a run inside one full block). MM_ESTATE if any of them is
 * free already (nothing freed); MM_EINVAL if <da> is in no chunk or the
 * run crosses a full block. The caller holds the address's region
 * (fs_bmap_region_of).
 */
int fs_bmap_free(struct fs_alloc *a, fs_da da, uint32_t nsub, char *err, size_t errsz);

struct fs_bmap_count {
	uint64_t free_sub;	/* free subblocks */
	uint64_t free_full;	/* full blocks with every subblock free */
};
/* Free space of region <r> on disk <d> (FS_DA_DISK_NONE: every disk),
 * summed from the map blocks' headers; bitmaps are not looked at. */
int fs_bmap_count(struct fs_alloc *a, uint32_t r, uint32_t d, struct fs_bmap_count *c,
		  char *err, size_t errsz);
/* Check chunk (d, r) against itself (fsck, tests): every map block's
 * header counts equal its bitmap, bits past the chunk are set and past
 * bpm * spb clear; MM_EPROTO with what differs. <c> (may be NULL) gets
 * the counts from the bitmaps. */
int fs_bmap_check(struct fs_alloc *a, uint32_t r, uint32_t d, struct fs_bmap_count *c,
		  char *err, size_t errsz);

/* ---- inode allocation map ---- */

static inline uint32_t fs_imap_region_of(uint64_t ino)
{
	return (uint32_t)(ino / FS_IMAP_REGION_INODES);
}
/* The number of inode regions: ceil(inode_limit / 65536). */
uint32_t fs_imap_nregions(const struct fs_alloc *a);
/* Write region 0's map block (inodes 0 .. 15 in use); the other regions
 * stay holes until used. MM_EEXIST if it exists. */
int fs_imap_format(struct fs_alloc *a, char *err, size_t errsz);
/*
 * A free inode of region <r>: the first free at or after <hint> (wrapping
 * around the region) when <hint> lies in the region, else the lowest
 * free. Never one of 0 .. 15 or at or past the inode limit. MM_ERANGE if
 * the region is full.
 */
int fs_imap_alloc(struct fs_alloc *a, uint32_t r, uint64_t hint, uint64_t *ino, char *err,
		  size_t errsz);
/* MM_ESTATE if <ino> is free already; MM_EINVAL for 0 .. 15 or past the
 * limit. */
int fs_imap_free(struct fs_alloc *a, uint64_t ino, char *err, size_t errsz);
/* Free inodes of region <r>, from its header. */
int fs_imap_count(struct fs_alloc *a, uint32_t r, uint64_t *nfree, char *err, size_t errsz);
/* Is <ino> in use? (fsck, tests) */
int fs_imap_test(struct fs_alloc *a, uint64_t ino, bool *used, char *err, size_t errsz);

/* ---- placement (pure functions of the descriptor) ---- */

enum fs_kind { FS_KIND_DATA = 0, FS_KIND_META = 1 };

/* The disks a file's blocks of one kind go to. */
struct fs_place {
	uint32_t n;			/* usable disks */
	uint32_t start;			/* position of the file's block 0 */
	uint16_t disk[FS_MAX_DISKS];	/* descriptor indexes, ascending */
	int32_t fg[FS_MAX_DISKS];	/* their failure groups */
};

/*
 * The order for blocks of kind <kind> of file <ino> in storage pool
 * <pool> (NULL: "system"; metadata always lives in "system"): the disks
 * of that pool whose usage takes the kind (data: dataOnly and
 * dataAndMetadata; metadata: metadataOnly and dataAndMetadata; descOnly
 * never), status ready and availability up, by descriptor index. start is
 * a pseudo-random function of <ino> (mod n) with FS_SGD_SCATTER in
 * sgd.flags, else 0. MM_ERANGE if no disk qualifies.
 */
int fs_place_init(struct fs_place *p, const struct fs_sgd *sgd, const char *pool,
		  enum fs_kind kind, uint64_t ino);
/* Distinct failure groups among p's disks (the most replicas it places);
 * each disk of failure group -1 counts as a group of its own (it shares
 * no point of failure with any disk, as in fs_sgd_check). */
uint32_t fs_place_groups(const struct fs_place *p);
/*
 * Disks for the <nrep> (1 .. FS_MAX_REPLICAS) replicas of block <n>:
 * replica 0 is the disk at position (start + n) mod p.n, or the next one
 * in order that is not full; replica k the next disk after replica k-1 in
 * that order, not full, whose failure group no earlier replica used
 * (-1 is never "used": two replicas may go on two -1 disks).
 * <full> (descriptor-indexed, may be NULL): disks the caller found full
 * in its region. <out>[0 .. nrep-1] gets descriptor indexes. MM_ERANGE
 * if fewer than <nrep> disks fit (every disk full, or too few failure
 * groups among those not full); MM_EINVAL for a bad <nrep>.
 */
int fs_place_block(const struct fs_place *p, uint64_t n, unsigned nrep, const bool *full,
		   uint32_t *out);

/* ---- region choice (the allocation manager) ---- */

/*
 * The emptiest region no node holds: the largest <nfree>[r] (in any unit)
 * with !held[r] (held may be NULL), the lowest index among equals.
 * MM_ERANGE if every unheld region has nothing free (or all are held).
 */
int fs_alloc_pick_region(const uint64_t *nfree, const bool *held, uint32_t n);

#endif
