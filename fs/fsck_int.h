/*
 * fs/fsck_int.h - a metadata block store over the disks of an unmounted
 * stripe group (fs/fsck_store.c): what fs/fsck.c checks and repairs
 * through, and what tests use to build populated file systems with the
 * pure modules (tree.c, dir.c, alloc.c). Not for the mounted runtime
 * (sg.c caches metadata in the pagepool under tokens). 2026-12-09.
 *
 * Block (ino, blk) of the store is metadata block <blk> of inode <ino>
 * (FS_MB bytes), or an indirect block of any file when blk is a
 * fs_tree_tag. Where it lives: indirect blocks by fs_tree_lookup_at;
 * metadata block n of a metadata file in tree block n / (B / FS_MB) at
 * offset (n mod (B / FS_MB)) * FS_MB (fs/mkfs_int.h); inode records in
 * inode file block ino / 16. The inode file's block 0 is where the
 * descriptor says (ifile0), which also breaks the recursion.
 *
 * Blocks are read once (the first replica that verifies, else the first
 * readable: the caller's verification then names what is wrong) and kept
 * in memory; changes stay there until fs_ds_flush writes every changed
 * block to every replica its pointer names, after resolving addresses
 * in the final state (so the order of changes does not matter, as in a
 * log replay). A get of a hole for writing allocates through the
 * caller's alloc callback (a full block for a metadata block, with the
 * inode's tree grown by tree.c; indirect blocks tree.c asks for come
 * from the same callback); without one it is MM_ENOTSUP. Memory: every
 * block read stays cached until fs_ds_close (fsck reads each once).
 *
 * Return convention: MM_OK or a negative MM_E*; ds->err says why.
 */
#ifndef MM_FS_FSCK_INT_H
#define MM_FS_FSCK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"
#include "fs/mkfs.h"
#include "fs/tree.h"

/* Space for a new block of inode <ino>: a full block (ind false) or an
 * indirect block (ind true, fs_mkfs_ind_subblocks subblocks), <nrep>
 * replicas into <p> (the rest 0), on metadata disks of distinct failure
 * groups. */
typedef int (*fs_ds_alloc_fn)(void *arg, uint64_t ino, bool ind, unsigned nrep, struct fs_ptr *p);

struct fs_ds;

/* A store over <io> for the stripe group of descriptor <sgd> (kept by
 * pointer: it must outlive the store). */
int fs_ds_open(const struct fs_disk_io *io, const struct fs_sgd *sgd, struct fs_ds **out);
void fs_ds_close(struct fs_ds *ds);
/* The fs_bstore interface (valid until close). */
const struct fs_bstore *fs_ds_bs(struct fs_ds *ds);
void fs_ds_set_alloc(struct fs_ds *ds, fs_ds_alloc_fn fn, void *arg);
/* Why the last call failed. */
const char *fs_ds_err(const struct fs_ds *ds);

/* Pointer width (max(-M, -R)), subblocks of an indirect block, B / FS_MB. */
unsigned fs_ds_maxrep(const struct fs_ds *ds);
uint32_t fs_ds_ind_sub(const struct fs_ds *ds);
uint32_t fs_ds_mpb(const struct fs_ds *ds);
/* A struct fs_tree over the store (no callbacks but alloc_meta / free_blk
 * as given, may be NULL). */
void fs_ds_tree(struct fs_ds *ds, struct fs_tree *t);

/* Inode <ino>'s record, decoded (MM_ENOENT: its inode file block is a
 * hole); <raw> (may be NULL) gets the record's bytes whatever decode says. */
int fs_ds_inode(struct fs_ds *ds, uint64_t ino, struct fs_inode *in, uint8_t *raw);
/* Write <in> (sealed) into its record. */
int fs_ds_put_inode(struct fs_ds *ds, const struct fs_inode *in);
/* Write raw bytes of a record (tests damage records with it). */
int fs_ds_put_raw_inode(struct fs_ds *ds, uint64_t ino, const uint8_t *rec);

/* Where (ino, blk) lives: 1 and *p, *off (byte offset in the block the
 * pointer names), 0 for a hole, < 0 on error. */
int fs_ds_where(struct fs_ds *ds, uint64_t ino, uint64_t blk, struct fs_ptr *p, uint32_t *off);
/* Mark a cached block to be written to every replica at flush (a replica
 * was found bad). */
void fs_ds_rewrite(struct fs_ds *ds, uint64_t ino, uint64_t blk);
/* Changed blocks not yet flushed. */
uint64_t fs_ds_dirty(const struct fs_ds *ds);
/* Write every changed block; MM_OK or the disk I/O's error. */
int fs_ds_flush(struct fs_ds *ds);
/* Forget every change (fsck -n after an in-memory replay). */
void fs_ds_discard(struct fs_ds *ds);

#endif
