/*
 * fs/dir.h - directories: extendible hashing over a block store, and
 * small directories in the inode's tail area (2026-12-07; the design is
 * fs/README.md, "Directories: extendible hashing").
 *
 * A pure module: no disk, token, thread or lock of its own. Blocks are
 * reached through a struct fs_bstore (format.h); the directory's inode is
 * the caller's, seen through a struct fs_dir view that the caller fills
 * from the inode, passes to every call, and writes back when the call set
 * <inode_dirty>.
 *
 * ---- on disk ----
 *
 * A directory block (FS_MB, type FS_BT_DIR, block number i = its index in
 * the hash table) is the 64-byte fs_mbh, header fields
 *     a = local depth d (0 .. FS_DIR_MAX_DEPTH; i < 2^d)
 *     b = entry count << 32 | bytes used of the body
 * then the body (FS_DIR_BODY bytes): entries packed from its start, in no
 * particular order, with no gaps; the bytes after them are zero. Removing
 * an entry moves the ones after it down (the block stays packed), so the
 * free space of a block is the single run at its end. Every entry of block
 * i with depth d has hash mod 2^d == i.
 *
 * A directory entry (FS_DIR_ENT_FIXED + name, padded with zeros to 8):
 *     0 8 inode   8 4 generation   12 1 type (DT_*)   13 1 name length
 *     14 8 name hash (fs_name_hash)   22 .. name (1 .. FS_NAME_MAX bytes,
 *     no '/', no NUL; not NUL-terminated)
 *
 * In the inode (FS_IF_DATA_IN_INODE) the tail area holds the same entries
 * packed from its start, <tail_len> bytes of FS_TAIL_BYTES; no header.
 *
 * ---- which blocks an operation touches (for tokens) ----
 *
 * A name of hash h lives in the first block that exists among
 * h mod 2^D, h mod 2^(D-1), ..., h mod 1 (D: the global depth); the block's
 * own depth d then confirms it: h mod 2^d must equal the block's index.
 * fs_dir_block_of() names that block without reading it (holes only).
 *   - lookup and remove read / change that one block;
 *   - insert changes that block, and when it is full splits it: block i of
 *     depth d gives its entries with bit d set to the new block i + 2^d,
 *     both get depth d + 1; if the name's half is still full it splits
 *     again. Every block a split creates has a higher number than every
 *     block the insert touched before it, so a store that takes a block's
 *     dirblk token inside get() takes them in ascending order.
 *   - readdir reads one block at a time and holds none while it calls back.
 * A block that does not confirm the name (its depth says the hash belongs
 * elsewhere: the caller's depth or hole information is stale, e.g. another
 * node split the block) is MM_ECONFLICT: refresh the inode, take the
 * tokens again and retry. Global depth only grows; two views of it merge
 * by max().
 *
 * ---- errors ----
 *
 * Return convention: MM_OK (0) or a count / flag as each call says, or a
 * negative MM_E* (common/err.h). A block or in-inode area that fails
 * verification (fs_mb_verify: checksum, header; then the body: entry
 * lengths, names, every entry's hash in the block's range) is never used:
 * the call returns MM_ECHECKSUM, MM_EPROTO or MM_ENOTSUP and <err> names
 * the directory inode, the block and what was wrong. Errors of the store
 * (get, punch) are returned as they come, with <err> naming the block.
 * A failed insert or remove leaves the directory as it was or (after a
 * completed split) in another consistent state.
 */
#ifndef MM_FS_DIR_H
#define MM_FS_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

#define FS_DIR_BODY (FS_MB - FS_MBH_BYTES)	/* entry bytes in a block */
#define FS_DIR_ENT_FIXED 22u			/* an entry before its name */
#define FS_DIR_MAX_DEPTH 32			/* local and global depth */
/* Bytes of a directory entry whose name is <len> bytes long. */
static inline size_t fs_dir_entsize(size_t len)
{
	return (FS_DIR_ENT_FIXED + len + 7) & ~(size_t)7;
}
/* fs_dir_shrink moves a one-block directory into the inode at or below
 * this many bytes (half the tail area, so insert/remove at the threshold
 * does not convert back and forth). */
#define FS_DIR_SHRINK_BYTES (FS_TAIL_BYTES / 2)

/* fs_dir_block_of: the entries are in the inode, not in a block. */
#define FS_DIR_IN_INODE UINT64_MAX

/*
 * Readdir cookies: an entry's cookie is max(reverse(hash) >> 1,
 * FS_DIR_COOKIE_MIN), so cookies are positive 63-bit numbers, stable
 * while names come and go and blocks split, and increasing in the order
 * readdir returns entries. Cookies 0 .. FS_DIR_COOKIE_MIN - 1 are "before
 * every entry": the caller may give them to entries it makes up ("." and
 * ".."). Entries with equal cookies are returned together.
 */
#define FS_DIR_COOKIE_MIN 8ull
#define FS_DIR_COOKIE_MAX 0x7fffffffffffffffull

/* One directory entry, as lookup, remove and readdir give it. */
struct fs_dirent {
	uint64_t ino;
	uint32_t gen;
	uint8_t type;			/* DT_* */
	uint8_t namelen;
	uint64_t hash;
	char name[FS_NAME_MAX + 1];	/* NUL-terminated copy */
};

/*
 * The caller's view of one directory: how to reach its blocks, and the
 * inode fields the module reads and may change. Filled by the caller
 * (from the inode it holds under its token) before a call; after a call
 * that set <inode_dirty> the caller writes <depth>, <in_inode>, the tail
 * area and <tail_len> back to the inode (and FS_IF_DATA_IN_INODE from
 * <in_inode>). Used by one thread at a time; the module keeps no pointer
 * to it after a call returns.
 */
struct fs_dir {
	/* --- set by the caller --- */
	const struct fs_bstore *bs;	/* the directory file's blocks */
	/* Optional: does block <blk> of <ino> exist (1), is it a hole (0),
	 * or an error (< 0)? Answered from the pointer tree, no block read;
	 * <arg> is bs->arg. NULL: holes are found with get (read) and put. */
	int (*exists)(void *arg, uint64_t ino, uint64_t blk);
	uint32_t fsid;			/* low 32 bits of the file system id */
	uint64_t ino;			/* the directory's inode number */
	/* Tests only: another name hash (NULL: fs_name_hash). */
	uint64_t (*hash)(const char *name, size_t len);

	/* --- inode fields: in, and out when inode_dirty --- */
	uint8_t depth;			/* global depth D (block form) */
	bool in_inode;			/* entries in the tail area */
	uint8_t *tail;			/* the inode's tail area, FS_TAIL_BYTES */
	uint16_t tail_len;		/* bytes of it used */

	/* --- out --- */
	bool inode_dirty;		/* a field above changed; cleared by no call */
	char err[192];			/* why the last call failed */
};

/*
 * An empty directory in the inode: in_inode, tail_len 0, depth 0, the
 * tail area zeroed; sets inode_dirty. Needs bs only later.
 */
void fs_dir_init_empty(struct fs_dir *d);

/*
 * Is <name> (<len> bytes) a possible entry name? MM_OK; MM_ETOOBIG if
 * longer than FS_NAME_MAX (the caller's ENAMETOOLONG); MM_EINVAL if empty
 * or it holds '/' or NUL. "." and ".." are names like any other here: the
 * vnode layer decides about them. Every call taking a name checks it
 * first and returns these codes.
 */
int fs_dir_check_name(const char *name, size_t len);

/*
 * The block that holds <name> now (or would hold it after an insert that
 * does not split), FS_DIR_IN_INODE for a directory in the inode: the
 * dirblk token to take before lookup, insert or remove. Probes holes
 * only (exists, or get/put of the holes and of the block found: the block
 * is not verified). The answer is a hint: the following call confirms it
 * and returns MM_ECONFLICT if it changed.
 */
int fs_dir_block_of(struct fs_dir *d, const char *name, size_t len, uint64_t *blk);

/*
 * Find <name>: MM_OK and its entry in *out (may be NULL), or MM_ENOENT.
 * Reads exactly one directory block (besides hole probes) in block form,
 * none in the inode form.
 */
int fs_dir_lookup(struct fs_dir *d, const char *name, size_t len, struct fs_dirent *out);

/*
 * Add <name> -> (<ino>, <gen>, <type>). MM_EEXIST if the name is there
 * (nothing changed). In the inode while the tail area has room; when it
 * has not, every entry moves to a new block 0 (depth 0) and the
 * directory is in block form from then on (inode_dirty). In block form
 * the tail area is the inode's pointer area, so the conversion zeroes it
 * and clears <in_inode> before it asks the store for block 0 (a store
 * that keeps the pointer tree there sees a file with no blocks), and
 * restores both if that get fails. A full block
 * splits (see above; the global depth grows when a split goes deeper,
 * inode_dirty). MM_ETOOBIG if the name's block is full at
 * FS_DIR_MAX_DEPTH (only with a pathological hash: the caller's ENOSPC).
 */
int fs_dir_insert(struct fs_dir *d, const char *name, size_t len, uint64_t ino, uint32_t gen,
		  uint8_t type);
/*
 * fs_dir_insert of a name the caller knows is not there (it looked, and
 * nothing can have changed the directory since: fs/README.md, "Negative
 * lookups"): the name is not searched for, so its block is not walked.
 * A name that is there after all would be there twice.
 */
int fs_dir_insert_new(struct fs_dir *d, const char *name, size_t len, uint64_t ino, uint32_t gen,
		      uint8_t type);

/*
 * Remove <name>: MM_OK and the entry it had in *old (may be NULL), or
 * MM_ENOENT. Changes one block (or the tail area). Blocks are never
 * merged or freed here; see fs_dir_shrink.
 */
int fs_dir_remove(struct fs_dir *d, const char *name, size_t len, struct fs_dirent *old);

/*
 * Move a small directory back into the inode: when it is one block
 * (depth 0) of at most FS_DIR_SHRINK_BYTES, block 0 is punched and then
 * its entries are written to the tail area (inode_dirty). 1 if it moved,
 * 0 if not (already in the inode, deeper, or too big), < 0 on error
 * (nothing changed). Changes the inode: the caller holds it exclusively
 * (and block 0's token).
 */
int fs_dir_shrink(struct fs_dir *d);

/*
 * Readdir's callback: entry <e> and <cookie>, the cookie to resume after
 * it. Return 0 to go on, 1 to stop, < 0 to stop with that error (readdir
 * returns it). A stop takes effect after the last entry with the same
 * cookie: the rest of that group is still called back (its returns other
 * than errors are ignored), so a caller that resumes from <cookie> loses
 * none of them. <e> is valid during the call only.
 */
typedef int (*fs_dir_readdir_fn)(const struct fs_dirent *e, uint64_t cookie, void *arg);

/*
 * Call <fn> for each entry whose cookie is greater than <cookie> (0 or
 * anything below FS_DIR_COOKIE_MIN: from the start) in increasing cookie
 * order. Returns 0 at the end of the directory, 1 if <fn> stopped it, or
 * an error (MM_EINVAL for a cookie above FS_DIR_COOKIE_MAX; MM_ENOMEM; a
 * block's or <fn>'s error). Reads the blocks one at a time; each is put
 * before its entries are called back. Entries present from the first
 * call to the last of a readdir that resumes with the cookies it was
 * given are returned exactly once; none is returned twice.
 */
int fs_dir_readdir(struct fs_dir *d, uint64_t cookie, fs_dir_readdir_fn fn, void *arg);

/*
 * 1 if the directory has no entries, 0 if it has, < 0 on error. In the
 * inode: free. In block form: reads blocks in readdir order until one
 * holds an entry (all of them for an empty directory that was large).
 */
int fs_dir_is_empty(struct fs_dir *d);

/* The readdir cookie of an entry of hash <hash>. */
uint64_t fs_dir_cookie(uint64_t hash);

#endif
