/*
 * fs/fs.h - a mounted stripe group and its vnode API: what the FUSE front
 * end (mmfsd/fe_*.c) and the tests call (2026-12-06; fs/README.md, "Next:
 * the stripe group at run time", is the design).
 *
 * A mount (fs_sg_mount) ties the on-disk format (format.h, alloc.h,
 * dir.h, tree.h, log.h) to this node's pagepool (two registrations:
 * fsid for data blocks, fsid | FS_META_BIT for metadata blocks), its
 * token client (toknet: every object is touched under a token of kind
 * inode, br, dirblk, alloc or ialloc in the token space <fsid>) and its
 * disks (a synchronous struct fs_disk_io for the descriptor and the log;
 * the pagepool's own backend for every cached block).
 *
 * Objects are named by inode number; the caller (FUSE) keeps the
 * generation beside it and gets -ESTALE when an inode was reused. Every
 * call that names a directory entry takes a NUL-terminated name of one
 * component.
 *
 * Return convention, unlike the rest of mmfs: 0 (or a count) on success,
 * a NEGATIVE ERRNO (-ENOENT, -EACCES, ...) on failure, so the front end
 * answers FUSE without translating. Internal MM_E* codes are mapped once,
 * in fs_errno(); a damaged block is -EIO with a message naming the file
 * system, disk and block in the daemon log.
 *
 * Threads: every call may run on any thread, many at once; there is no
 * file-system-wide lock on the data or lookup path (fs/README.md, "Lock
 * order"). Callbacks given to fs_readdir run with no lock held.
 */
#ifndef MM_FS_FS_H
#define MM_FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/format.h"
#include "fs/mkfs.h"

struct pp_pool;
struct toknet;

typedef struct fs_sg fs_sg;		/* a mounted stripe group */
typedef struct fs_file fs_file;		/* an open file or directory */

#define FS_ROOT_INO 3u

/* ---- mount ---- */

enum fs_atime {
	FS_ATIME_RELATIME = 0,	/* default: update when older than mtime/ctime or a day */
	FS_ATIME_STRICT,	/* atime: every read */
	FS_ATIME_NOATIME,
};

struct fs_mount_params {
	const char *device;		/* for messages: "fs1" */
	uint32_t fsid;			/* expected (the CCR record's); 0: take the descriptor's */
	uint32_t ndisks;		/* disks 0 .. ndisks-1 of <dio>, the descriptor's order */
	struct fs_disk_io dio;		/* synchronous: descriptor, log */
	struct pp_pool *pool;		/* this node's pagepool (its backend reaches the disks) */
	struct toknet *tok;		/* this node's tokens; the space <fsid> has a view */
	uint32_t node;			/* this node's number: its log */
	bool readonly;			/* ro: no log opened, every change -EROFS */
	enum fs_atime atime;
	bool nodiratime;		/* a directory's atime never moves (readdir) */
	int token_timeout_ms;		/* 0: wait for ever */
};

/*
 * Mount: read the descriptor by majority, check its version, register
 * the two pagepool file systems, find (or make, at the first mount of
 * this node) this node's log in the log table and replay it, open it,
 * take an inode region and a block region. <err> names what failed
 * ("fs1: descriptor quorum not met: ...").
 */
int fs_sg_mount(const struct fs_mount_params *p, fs_sg **out, char *err, size_t errsz);
/*
 * Unmount: with open files and <force> false, -EBUSY; else write every
 * dirty block, checkpoint the log (a clean log: nothing to replay),
 * give the tokens back, unregister from the pagepool, free.
 */
int fs_sg_unmount(fs_sg *sg, bool force);
/*
 * mmadddisk: add <n> disks (checked by the caller: free NSDs, their
 * descriptor slots zeroed) to the mounted stripe group: their block maps
 * are formatted in one logged transaction, the descriptor's next
 * generation is written to the descriptor disks, and new blocks go to
 * them at once. <dio> (may be NULL): the disk I/O now covering the new
 * disks too (indexes after the old ones), kept by the mount from then on.
 * Negative errno and <err> on failure; the file system is unchanged
 * unless the descriptor was written.
 */
int fs_sg_add_disks(fs_sg *sg, const struct fs_mkfs_disk *d, uint32_t n,
		    const struct fs_disk_io *dio, char *err, size_t errsz);
/* The descriptor in use (read-only; valid until unmount). */
const struct fs_sgd *fs_sg_sgd(const fs_sg *sg);

/* The front end's kernel cache invalidations, called by revokes and by
 * changes other nodes made (may be NULL). Called with no fs lock held,
 * from a thread that may block. */
struct fs_inval_ops {
	void (*inode)(void *arg, uint64_t ino, int64_t off, int64_t len);
	void (*entry)(void *arg, uint64_t parent, const char *name, size_t namelen);
	void *arg;
};
void fs_sg_set_inval(fs_sg *sg, const struct fs_inval_ops *ops);

/* ---- the caller ---- */

#define FS_MAX_GROUPS 64
/* Whether a caller keeps setuid/setgid when it writes or truncates
 * (Linux's CAP_FSETID). Unknown (0, what a zeroed fs_cred says): uid 0
 * has it, nobody else does. */
enum { FS_FSETID_UNKNOWN = 0, FS_FSETID_YES = 1, FS_FSETID_NO = 2 };

struct fs_cred {
	uint32_t uid, gid;
	uint32_t ngroups;		/* supplementary groups, at most FS_MAX_GROUPS */
	uint32_t groups[FS_MAX_GROUPS];
	uint32_t umask;			/* applied by create/mkdir/mknod unless a default ACL says otherwise */
	uint32_t fsetid;		/* FS_FSETID_* */
	/* Set: <groups> are not given, and this says whether the caller is in
	 * <gid> (its supplementary groups), asked only when a check needs it
	 * (the FUSE front end reads them from /proc, which costs more than
	 * most requests). <pid> is for it. */
	bool (*in_group)(const struct fs_cred *c, uint32_t gid);
	int32_t pid;
};

static inline bool fs_cred_fsetid(const struct fs_cred *c)
{
	return c->fsetid ? c->fsetid == FS_FSETID_YES : c->uid == 0;
}

/* ---- attributes ---- */

struct fs_attr {
	uint64_t ino;
	uint32_t gen;
	uint32_t mode, nlink, uid, gid;
	uint64_t rdev, size;
	uint64_t blocks;		/* 512-byte units allocated */
	uint32_t blksize;		/* preferred I/O size: the block size */
	struct fs_time atime, mtime, ctime, crtime;
};

enum {
	FS_SET_MODE = 1u << 0,
	FS_SET_UID = 1u << 1,
	FS_SET_GID = 1u << 2,
	FS_SET_SIZE = 1u << 3,
	FS_SET_ATIME = 1u << 4,		/* to sa.atime */
	FS_SET_MTIME = 1u << 5,
	FS_SET_ATIME_NOW = 1u << 6,
	FS_SET_MTIME_NOW = 1u << 7,
	FS_SET_CTIME = 1u << 8,		/* to sa.ctime (FUSE's ctime, root only) */
	/* the caller (the kernel, which knows the writer's capabilities)
	 * says to drop setuid, and setgid of a group-executable file, along
	 * with the rest (FUSE's FATTR_KILL_SUIDGID: a chown, or a truncate by
	 * a process without CAP_FSETID); no permission of its own */
	FS_SET_KILL_SUIDGID = 1u << 9,
};
struct fs_setattr {
	unsigned mask;			/* FS_SET_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct fs_time atime, mtime, ctime;
};

/* ---- names and objects ----
 * Every call returning a struct fs_attr of an object by name
 * (lookup, create, tmpfile, mkdir, mknod, symlink, link) counts one lookup of it
 * for fs_forget, as FUSE's entry replies do. */

/* "." of <dir> is <dir> itself whatever its type (a file handle's lookup
 * by number: -ESTALE once no name reaches it), ".." a directory's parent. */
int fs_lookup(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name,
	      struct fs_attr *out);
/* The kernel forgot <n> lookups of <ino>: an unlinked inode whose last
 * lookup and open go is freed here. */
void fs_forget(fs_sg *sg, uint64_t ino, uint64_t n);
int fs_getattr(fs_sg *sg, uint64_t ino, struct fs_attr *out);
/* <f> may be NULL (truncate by name). Permission rules: chmod by the
 * owner or root, setgid dropped for a non-member; chown by root (the
 * owner may chgrp to a group of its own); truncate needs write
 * permission unless through an fd open for writing; times to now need
 * write permission or ownership, explicit times ownership. Clears
 * setuid/setgid on chown and on truncate by a non-root caller. */
int fs_setattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const struct fs_setattr *sa,
	       fs_file *f, struct fs_attr *out);
int fs_access(fs_sg *sg, const struct fs_cred *c, uint64_t ino, int mask);

/* create: O_CREAT semantics (O_EXCL: -EEXIST; an existing file is
 * opened, O_TRUNC truncates it); <flags> are open(2) flags. */
int fs_create(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	      int flags, struct fs_attr *out, fs_file **f);
/* open(O_TMPFILE) in <dir>: an open regular file with no name (nlink 0),
 * freed at its last close and forget unless fs_link names it; with
 * O_EXCL in <flags> it can never be named (fs_link: -ENOENT). Needs write
 * and search permission on <dir>, which does not change. */
int fs_tmpfile(fs_sg *sg, const struct fs_cred *c, uint64_t dir, uint32_t mode, int flags,
	       struct fs_attr *out, fs_file **f);
int fs_mknod(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	     uint64_t rdev, struct fs_attr *out);
int fs_mkdir(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	     struct fs_attr *out);
int fs_symlink(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name,
	       const char *target, struct fs_attr *out);
/* The target into <buf> (not NUL-terminated): its length, or -ERANGE if
 * <size> is too small. */
ssize_t fs_readlink(fs_sg *sg, uint64_t ino, char *buf, size_t size);
int fs_link(fs_sg *sg, const struct fs_cred *c, uint64_t ino, uint64_t dir, const char *name,
	    struct fs_attr *out);
int fs_unlink(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name);
int fs_rmdir(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name);
enum { FS_RENAME_NOREPLACE = 1u << 0, FS_RENAME_EXCHANGE = 1u << 1 };
int fs_rename(fs_sg *sg, const struct fs_cred *c, uint64_t odir, const char *oname,
	      uint64_t ndir, const char *nname, unsigned flags);

/* ---- open files ---- */

/* open(2) of an existing inode (O_TRUNC truncates; directories with
 * O_DIRECTORY semantics for opendir). */
int fs_open(fs_sg *sg, const struct fs_cred *c, uint64_t ino, int flags, fs_file **f);
int fs_release(fs_sg *sg, fs_file *f);
uint64_t fs_file_ino(const fs_file *f);
/* A write or fallocate through <f>, or its open's O_TRUNC, took
 * setuid/setgid off its file since the last call (the call clears it): a
 * front end that caches the mode drops it, as no such reply carries
 * attributes. */
bool fs_file_privs_dropped(fs_file *f);
/* Bytes read (0 at or past the end), or -errno. */
ssize_t fs_read(fs_sg *sg, fs_file *f, void *buf, size_t len, uint64_t off);
/* Bytes written, or -errno (-ENOSPC, -EFBIG past the largest file). With
 * O_APPEND the data goes at the end, whatever <off>. Clears setuid and
 * setgid when a non-root caller writes. */
ssize_t fs_write(fs_sg *sg, const struct fs_cred *c, fs_file *f, const void *buf, size_t len,
		 uint64_t off);
/* Write what this node wrote to the file and report a failed write: for
 * a front end whose close(2) should (the FUSE mount's close does not:
 * FOPEN_NOFLUSH, as GPFS's and ext4's close; fsync reports). */
int fs_flush(fs_sg *sg, fs_file *f);
/* Data, then (unless <datasync> and only times changed) the log. */
int fs_fsync(fs_sg *sg, fs_file *f, bool datasync);
/* 0, FALLOC_FL_KEEP_SIZE (past the size too: whole blocks of zeros after
 * the block the file ends in), FALLOC_FL_PUNCH_HOLE with KEEP_SIZE,
 * FALLOC_FL_ZERO_RANGE (with KEEP_SIZE or not); other modes EOPNOTSUPP. */
int fs_fallocate(fs_sg *sg, const struct fs_cred *c, fs_file *f, int mode, uint64_t off,
		 uint64_t len);
/* SEEK_DATA / SEEK_HOLE (and SEEK_SET/CUR/END are the kernel's): the
 * offset, or -ENXIO. */
int64_t fs_lseek(fs_sg *sg, fs_file *f, int64_t off, int whence);

/* ---- directories ---- */

/* One entry: <cookie> resumes after it. <attr> with plus (readdirplus;
 * counts a lookup, as fs_lookup), else NULL; NULL for "." and ".." always
 * (the kernel takes no attributes for them, and looking ".." up under the
 * directory's token would take the parent's after the child's, the
 * reverse of rename's order: a deadlock). Return 0 to go on, 1 to
 * stop before this entry is consumed (a full FUSE buffer: the entry is
 * given again when the caller resumes from the previous cookie). */
typedef int (*fs_readdir_fn)(void *arg, const char *name, uint64_t ino, uint8_t type,
			     uint64_t cookie, const struct fs_attr *attr);
/* Entries after <cookie> (0: from the start, "." and ".." first). */
int fs_readdir(fs_sg *sg, fs_file *dir, uint64_t cookie, bool plus, fs_readdir_fn fn,
	       void *arg);

/* ---- file system ---- */

struct fs_statfs {
	uint64_t bsize, frsize;		/* block size, subblock size */
	uint64_t blocks, bfree, bavail;	/* in frsize units; bavail: what data may
					 * take (not the metadata reserve, not
					 * metadataOnly disks) */
	uint64_t files, ffree;
	uint32_t namemax;
	uint64_t fsid;
};
int fs_statfs(fs_sg *sg, struct fs_statfs *out);

/*
 * mmdf of a mounted file system (fs/sgdf.c): per disk and for inodes,
 * the figures fs_open_check (mkfs.h) reads from the disks of an
 * unmounted one, taken from this node's maps, which are current while
 * the disks' copies lag (map blocks in the log and the pagepool). One
 * consistent snapshot: the allocator's locks are held while it is taken,
 * so a transaction's allocations and frees count wholly or not at all.
 * Space freed but not yet reusable (the busy set, fs/README.md "Frees")
 * counts as free: it is free in the map and reusable once the log is
 * durable. Disk i of <out> is disk i of the descriptor in use, which
 * <sgd> (may be NULL) gets, copied in the same snapshot. 0, or a
 * negative errno with <err> naming the map block that could not be
 * read (-EIO for a damaged one).
 */
struct fs_df_disk {
	uint64_t alloc_sub;		/* allocatable subblocks (the disk's chunks) */
	uint64_t free_sub;		/* free subblocks, full blocks' included */
	uint64_t free_full;		/* full blocks with every subblock free */
};
struct fs_df {
	uint32_t ndisks;		/* the descriptor's */
	uint64_t inodes_used;		/* inodes in use, as records (reserved 5 .. 15 not) */
	uint64_t inodes_free;		/* free below the inode limit */
	struct fs_df_disk disk[FS_MAX_DISKS];
};
int fs_sg_df(fs_sg *sg, struct fs_df *out, struct fs_sgd *sgd, char *err, size_t errsz);

/* ---- extended attributes (user., trusted., security., system.posix_acl_*) ---- */

int fs_setxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		const void *value, size_t size, int flags);
/* The value's size; with <size> 0 only the size; -ERANGE if too small;
 * -ENODATA if absent. */
ssize_t fs_getxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		    void *value, size_t size);
ssize_t fs_listxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, char *list, size_t size);
int fs_removexattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name);

/* ---- diagnostics ---- */

struct fs_sg_stats {
	uint64_t inodes_cached, inodes_open;
	uint64_t tx_committed, log_forces;
	uint64_t blocks_allocated, blocks_freed;
	uint64_t lookups, creates, removes, reads, writes;
	uint64_t read_bytes, write_bytes;
};
void fs_sg_get_stats(fs_sg *sg, struct fs_sg_stats *st);

/* MM_E* (common/err.h) to a negative errno. */
int fs_errno(int mm_rc);

#endif
