/*
 * fs/fsck.h - check and repair an unmounted stripe group (mmfsck -n / -y;
 * fs/README.md, "fsck"). 2026-12-09.
 *
 * A pure module over the same injected disk I/O as mkfs (struct
 * fs_disk_io, fs/mkfs.h): no thread, token or lock of its own. The file
 * system must not be mounted anywhere while it runs (mmfsck checks that
 * before calling it).
 *
 * What it checks, in order (each problem is one line to p->log, naming
 * the inode, block or disk):
 *   1. the descriptor: chosen by majority as a mount does; every
 *      descriptor disk that does not hold the chosen copy (repair: the
 *      copy is written to it)
 *   2. logs: every node's log named by the log table (inode 4, layout in
 *      fs/README.md "fsck") is replayed before anything is checked, as a
 *      mount would; with repair the replayed blocks are written and the
 *      log is checkpointed (clean); without, the replay stays in memory
 *      and "log of node N is dirty: would replay" is reported
 *   3. inodes: every record of the inode file decodes; reserved inodes
 *      0 .. 4 of their types; every pointer tree (every replica of every
 *      indirect and metadata block read and verified); data block
 *      addresses on data disks, metadata on metadata disks, inside the
 *      allocatable space, aligned; no block claimed twice (by two files
 *      or twice in one: the later claim loses it); subblocks-used counts
 *   4. directories: every block (dir.c), every entry's inode in use with
 *      its generation and type, every name found by a lookup; no "." or
 *      ".." entries (they are made up by the vnode layer), one entry per
 *      directory, the root named by none; directory nlink = 2 + its
 *      subdirectories, a file's nlink = the entries naming it; inodes no
 *      entry reaches: in lost+found (made at the root if missing) as
 *      "#<ino>", or freed when their nlink was 0
 *   5. the maps: block map bits in use exactly for the blocks the files
 *      use, header counts; inode map bits exactly for the records in use
 * With repair every fix is written back through <io> at the end, each
 * changed metadata block resealed and written to every replica, and the
 * result is checked again (a second pass must find nothing).
 *
 * Return: MM_OK when the check ran (r->exit says what it found), or a
 * negative MM_E* when it could not (bad arguments; no descriptor quorum:
 * MM_ENOENT, MM_ENOTSUP for another format version; an I/O error) with
 * <err> saying why; r->exit is then FS_FSCK_EXIT_ERROR.
 */
#ifndef MM_FS_FSCK_H
#define MM_FS_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/mkfs.h"

/* Exit codes (mmfsck's, after e2fsck's). */
enum {
	FS_FSCK_EXIT_CLEAN = 0,		/* no problem found */
	FS_FSCK_EXIT_FIXED = 1,		/* problems found, all fixed */
	FS_FSCK_EXIT_LEFT = 2,		/* problems remain (-n, or unrepairable) */
	FS_FSCK_EXIT_ERROR = 8,		/* could not check: I/O error, no descriptor */
};

enum fs_fsck_repair {
	FS_FSCK_NO = 0,			/* -n: read only */
	FS_FSCK_YES = 1,		/* -y: repair everything it can */
};

/* Progress: the phase ("Checking inodes", ...) and 0 .. 100 in it (each
 * phase reports 0 and 100). */
typedef void (*fs_fsck_progress_fn)(void *arg, const char *phase, unsigned pct);
/* One problem, one line, no newline: "inode 77 block 3: ...". <fixed>:
 * the repair was made (it is written at the end). */
typedef void (*fs_fsck_log_fn)(void *arg, const char *line, bool fixed);

struct fs_fsck_params {
	enum fs_fsck_repair repair;
	bool no_replay;			/* do not look at the logs (default: replay) */
	fs_fsck_progress_fn progress;	/* may be NULL */
	fs_fsck_log_fn log;		/* may be NULL */
	void *arg;			/* for both */
};

struct fs_fsck_report {
	uint64_t inodes;		/* records in use */
	uint64_t dirs, files;		/* directories; everything else in use */
	uint64_t blocks;		/* full blocks and fragments reached (one per replica) */
	uint64_t subblocks;		/* subblocks they take */
	uint64_t logs, logs_dirty;	/* logs in the log table; with transactions to replay */
	uint64_t orphans;		/* unlinked files in use when a node stopped, which
					 * its log names: its next mount (or -y) frees them */
	uint64_t found;			/* problems found */
	uint64_t fixed;			/* of those, fixed */
	int exit;			/* FS_FSCK_EXIT_* */
	uint64_t generation;		/* the descriptor's */
};

/*
 * Check (and with p->repair, repair) the stripe group on disks 0 ..
 * <ndisks>-1 of <io>. <p> may be NULL (check only, replay in memory).
 * <r> (may be NULL) gets the counts. See above.
 */
int fs_fsck(const struct fs_disk_io *io, uint32_t ndisks, const struct fs_fsck_params *p,
	    struct fs_fsck_report *r, char *err, size_t errsz);

/* The log table (inode 4): node <node>'s log inode is at body slot node %
 * FS_LOGTAB_SLOTS of block node / FS_LOGTAB_SLOTS (fs/README.md, "fsck"). */
#define FS_LOGTAB_ENTRY 16u
#define FS_LOGTAB_SLOTS ((FS_MB - FS_MBH_BYTES) / FS_LOGTAB_ENTRY)

#endif
