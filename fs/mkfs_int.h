/*
 * fs/mkfs_int.h - what fs/mkfs.c (writing) and fs/mkfs_check.c (reading)
 * must agree on; not for other callers. 2026-12-08.
 *
 * ---- trees (until fs/tree.c: the same conventions) ----
 * A metadata file's pointer i names a full block (B bytes) holding its
 * metadata blocks i * B/MB .. (i+1) * B/MB - 1. An inode of level L > 0
 * points at indirect blocks of level L; an indirect block of level l,
 * index x (FS_MB, type FS_BT_INDIRECT, owner the file, block number
 * FS_TAG_IND | l << 56 | x, header a = b = 0) holds fs_ind_nptrs(maxrep)
 * pointers (from byte FS_MBH_BYTES, fs_ptr_put): slot s names the level
 * l-1 block x * nptrs + s, level 0 being the file's blocks. An indirect
 * block takes max(1, FS_MB / S) subblocks (a fragment; a full block when
 * B is 64 KiB). Pointers hold the file's metadata replication of
 * addresses, the rest 0; pointer width is -M (meta_rep_max).
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

#endif
