/*
 * fs/mkfs_int.h - what fs/mkfs.c (writing) and fs/mkfs_check.c (reading)
 * must agree on; not for other callers. 2026-12-08.
 *
 * The trees of files 0 .. 2 are tree.c's (fs/tree.h: numbering, levels,
 * indirect blocks and their headers), pointers max(-M, -R) addresses
 * wide, the file's metadata replication of them set. Beyond tree.c:
 * a metadata file's tree block n names a full block (B bytes) holding its
 * metadata blocks n * B/MB .. (n+1) * B/MB - 1, and an indirect block
 * takes max(1, FS_MB / S) subblocks on disk (a fragment; a full block
 * when B is 64 KiB).
 */
#ifndef MM_FS_MKFS_INT_H
#define MM_FS_MKFS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "fs/format.h"

/* Subblocks an indirect block takes with subblock size <s>. */
static inline uint32_t fs_mkfs_ind_subblocks(uint32_t s)
{
	return s >= FS_MB ? 1 : FS_MB / s;
}

/* A metadata block of all zeros is a hole (never written). */
static inline bool fs_mkfs_all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* A disk I/O's return: a positive value is taken as MM_EIO. */
static inline int fs_mkfs_io_rc(int rc)
{
	return rc > 0 ? MM_EIO : rc;
}

struct fs_disk_io;
/*
 * The descriptor of the stripe group on disks 0 .. <ndisks>-1, as
 * fs_open_check chooses it (every disk's slots; each valid copy names
 * the descriptor disks; the newest set whose majority choice names that
 * same set wins) into <sgd>; <desc_ok> (may be NULL) gets how many of
 * the descriptor disks hold the copy chosen. fs_open_check's errors.
 * fsck (fs/fsck.c) reads the descriptor this way too.
 */
int fs_mkfs_choose_sgd(const struct fs_disk_io *io, uint32_t ndisks, struct fs_sgd *sgd,
		       uint32_t *desc_ok, char *err, size_t errsz);

#endif
