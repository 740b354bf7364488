/*
 * fs/mkfs.h - format a stripe group (mmcrfs), and open one read-only to
 * check it (the first steps of a mount; mmlsfs / mmdf figures). The
 * design is fs/README.md; the byte layouts are format.h and alloc.h.
 * 2026-12-08.
 *
 * A pure module over an injected disk I/O interface (struct fs_disk_io):
 * tests give memory disks, mmcrfs the NSD client. No thread, token or
 * lock of its own.
 *
 * ---- what fs_mkfs writes ----
 *   every disk   both descriptor slots zeroed first (a half-made file
 *                system has no descriptor: nothing mounts it)
 *   inode 1      the block allocation map (fs_bmap_format, all disks)
 *   inode 2      the inode allocation map (fs_imap_format: region 0)
 *   inode 0      the inode file: block 0 holds inodes 0 .. 15:
 *                0 the inode file, 1 and 2 the maps, 3 the root directory
 *                (empty, entries in the inode, 040755 root:root, nlink 2),
 *                4 the log table (an empty file: per-node logs are made at
 *                their node's first mount), 5 .. 15 free records
 *   descriptor   generation 1 into slot 0 of each descriptor disk, last
 * Every block those files use is allocated through alloc.c, so the block
 * map accounts for all of them. Files 0 .. 2 are metadata files: their
 * pointers name full blocks of B bytes, each holding B / FS_MB metadata
 * blocks (file block i holds metadata blocks i * B/MB ..); mkfs writes
 * every such block whole, zeros where a metadata block is a hole (a
 * metadata block of all zeros reads as a hole). Replicas: -m copies on
 * distinct failure groups (fs_place_block; each disk of failure group -1
 * is a group of its own). The pointer tree of each file is tree.c's
 * (fs/tree.h), pointers max(-M, -R) addresses wide, and has the level its
 * size needs (fs_tree_level_for): the block map file is sparse (disk d's
 * blocks start at metadata block d << 32), so with more than one disk it
 * has indirect blocks (see mkfs.c, "trees").
 *
 * How the maps' own blocks are allocated (the chicken and the egg): the
 * maps are formatted into memory (a staging store), every block mkfs
 * needs is then allocated from them (lowest region first, per disk), and
 * only then is anything written: the maps go to disk last, holding their
 * own blocks as used. Memory: the whole map while mkfs runs (ndisks *
 * nregions * at least one FS_MB block).
 *
 * Return convention: MM_OK or a negative MM_E* (common/err.h), with a
 * message in <err> (may be NULL with errsz 0):
 *   MM_EINVAL   a parameter is wrong (nothing written): the message names
 *               it and what is allowed
 *   MM_ERANGE   the metadata disks have no room for the maps
 *   MM_ENOMEM
 *   the disk I/O's error, naming disk, NSD name and byte offset: the
 *               disks hold a partial format without a valid descriptor;
 *               running fs_mkfs again finishes it
 * fs_open_check: the codes of fs_sgd_choose, fs_mb_verify, fs_inode_decode,
 * alloc.c and the disk I/O, and MM_EPROTO for what does not add up.
 */
#ifndef MM_FS_MKFS_H
#define MM_FS_MKFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

/*
 * Disk I/O: <disk> is the index into the descriptor's disk table (the
 * order of fs_mkfs_params.disks); <off> and <len> are multiples of 4 KiB.
 * Synchronous; MM_OK or a negative MM_E*. mkfs writes at most one full
 * block (B bytes) or a descriptor's two slots at a time.
 */
struct fs_disk_io {
	int (*read)(void *arg, uint32_t disk, uint64_t off, void *buf, size_t len);
	int (*write)(void *arg, uint32_t disk, uint64_t off, const void *buf, size_t len);
	void *arg;
};

/* Defaults (mmcrfs's when an option is not given). */
#define FS_MKFS_DEFAULT_BLOCK (4u << 20)	/* -B */
#define FS_MKFS_DEFAULT_NODES 32u		/* -n */
#define FS_MKFS_DEFAULT_LOG (16u << 20)		/* -L */
#define FS_MKFS_MIN_BLOCKS 4u			/* full blocks past the reserved area */
#define FS_MKFS_MAX_NODES (1u << 20)

/* One disk of the stanza file. */
struct fs_mkfs_disk {
	uint64_t nsd_id;	/* != 0, unique */
	const char *name;	/* NSD name (nsd_name_valid), unique */
	uint64_t bytes;		/* the disk's size */
	int32_t failure_group;	/* -1 .. NSD_FG_MAX */
	uint8_t usage;		/* enum fs_usage */
	const char *pool;	/* NULL or "": "system" (every metadata disk's) */
};

/* mmcrfs's options; 0 / NULL means the default. */
struct fs_mkfs_params {
	const char *device;	/* file system name: 1 .. FS_DEVICE_MAX of [A-Za-z0-9._-] */
	uint32_t fsid;		/* 1 .. FS_FSID_MAX (no default) */
	uint32_t block_size;	/* -B: a power of two, 64 KiB .. 16 MiB */
	/* -m -M -r -R, 1 .. FS_MAX_REPLICAS. Defaults: -m 1, -r 1; -M and
	 * -R the default replication, raised to 2 when the (metadata / data)
	 * disks span two failure groups or more (GPFS's -M 2 -R 2 where the
	 * disks allow them). Refused: a default above its maximum, and a
	 * maximum above the failure groups its disks span. */
	uint8_t meta_rep, meta_rep_max, data_rep, data_rep_max;
	uint32_t nodes;		/* -n: regions = max(8, 4 * nodes), fewer where a region's
				 * chunk of the smallest disk would hold under 32 full
				 * blocks (at least 8); 1 .. FS_MKFS_MAX_NODES */
	bool scatter;		/* -j scatter (else cluster) */
	bool exact_mtime;	/* -E yes */
	const char *mount_point;	/* -T: "/..." (NULL: "/gpfs/<device>") */
	const char *automount;		/* -A: "yes" "no" "automount" (NULL: "yes") */
	uint64_t inode_limit;	/* --inode-limit: 17 .. 2^48 (0: one inode per
				 * 16 KiB of metadata space over -m, at least
				 * 65536, at most 2^32) */
	uint32_t log_bytes;	/* -L: a multiple of FS_MB, >= 4 * FS_MB */
	uint64_t created;	/* seconds since the epoch (0: now); the same
				 * parameters give the same bytes on disk */
	uint32_t ndisks;	/* 1 .. FS_MAX_DISKS */
	const struct fs_mkfs_disk *disks;
};

/* Progress: <phase> (mmcrfs prints it: "Creating Allocation Maps", ...)
 * and how far it is, 0 .. 100 (each phase reports 0 and 100). */
typedef void (*fs_mkfs_progress_fn)(void *arg, const char *phase, unsigned pct);

/*
 * Check <p> and build the descriptor mkfs would write into <out> (may be
 * NULL), except ifile0 (unset) and the generation (1): no I/O. Which
 * disks hold a descriptor: as many failure groups as there are, 1, 3 or
 * 5 (5 from five groups, 3 from three or four, else 1), one disk a group
 * (failure group -1: every such disk is a group of its own); a group's
 * disk is its first metadata disk, else its first descOnly disk, else
 * its first; groups with a descOnly disk are taken first (such a disk
 * exists to hold one), then those with a metadata disk, in disk order.
 */
int fs_mkfs_check(const struct fs_mkfs_params *p, struct fs_sgd *out, char *err, size_t errsz);

/*
 * Format a stripe group on <p->disks> (see above). <progress> may be
 * NULL. <out> (may be NULL) gets the descriptor written.
 */
int fs_mkfs(const struct fs_mkfs_params *p, const struct fs_disk_io *io,
	    fs_mkfs_progress_fn progress, void *parg, struct fs_sgd *out, char *err,
	    size_t errsz);

/* ---- the read side ---- */

struct fs_check_disk {
	uint64_t alloc_sub;	/* allocatable subblocks (the disk's chunks) */
	uint64_t free_sub;	/* free subblocks, from the map blocks' headers */
	uint64_t free_full;	/* free full blocks */
	uint64_t meta_sub;	/* subblocks of the blocks files 0 .. 2 use */
	bool has_desc;		/* holds a descriptor copy */
};

struct fs_check_summary {
	uint64_t generation;	/* of the descriptor chosen */
	uint32_t ndisks, ndesc;
	uint32_t desc_ok;	/* descriptor disks holding the chosen copy */
	uint64_t inodes_used;	/* records of the inode file not free */
	uint64_t inodes_free;	/* the inode map's free inodes */
	uint64_t meta_blocks;	/* metadata blocks read and verified (every replica) */
	uint64_t disk_blocks;	/* full blocks and indirect blocks of files 0 .. 2 (every replica) */
	struct fs_check_disk disk[FS_MAX_DISKS];
};

enum {
	/* A file system as fs_mkfs left it: the maps' used space is exactly
	 * the blocks of files 0 .. 2, and the root directory is empty. */
	FS_CHECK_FRESH = 1u << 0,
};

/*
 * Open the stripe group on disks 0 .. <ndisks>-1 read-only and check it:
 *   - read both descriptor slots of every disk and choose by majority of
 *     the descriptor disks (fs_sgd_choose; a copy names which disks hold
 *     one; the newest set that is consistent wins); its disk count must
 *     be <ndisks>
 *   - read inode file block 0 (every replica: the same bytes), decode
 *     inodes 0 .. 15 (0 .. 4 as fs_mkfs makes them, 5 .. 15 free or in
 *     use), walk the pointer trees of files 0 .. 2 reading and verifying
 *     every replica of every indirect and metadata block
 *   - the root directory: a lookup of a missing name is MM_ENOENT (a
 *     root whose entries are in blocks is not read without FS_CHECK_FRESH)
 *   - the maps: every chunk's bitmap agrees with its header
 *     (fs_bmap_check), every block of files 0 .. 2 is marked in use, no
 *     two overlap, inodes 0 .. 4 are in use in the inode map
 *   - with FS_CHECK_FRESH: per disk, free + the blocks of files 0 .. 2 ==
 *     the allocatable space; the root directory and the log table are
 *     empty, inodes 5 .. 15 free, each tree of the level its size needs
 * <out> (may be NULL) gets the descriptor, <sum> (may be NULL) the
 * figures. Errors name the disk, the block and what was wrong.
 */
int fs_open_check(const struct fs_disk_io *io, uint32_t ndisks, unsigned flags,
		  struct fs_sgd *out, struct fs_check_summary *sum, char *err, size_t errsz);

/*
 * Only the descriptor: read both slots of disks 0 .. <ndisks>-1 and
 * choose by majority of the descriptor disks, as fs_open_check does
 * first (a mount reads nothing else up front). <desc_ok> (may be NULL):
 * the descriptor disks holding the chosen copy.
 */
int fs_read_sgd(const struct fs_disk_io *io, uint32_t ndisks, struct fs_sgd *out,
		uint32_t *desc_ok, char *err, size_t errsz);

#endif
