/*
 * fs/fsck_priv.h - what fs/fsck.c (descriptor, logs, inodes and trees,
 * maps) and fs/fsck_dir.c (directories, links, lost+found) share; not
 * for other callers. 2026-12-09.
 */
#ifndef MM_FS_FSCK_PRIV_H
#define MM_FS_FSCK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/alloc.h"
#include "fs/fsck.h"
#include "fs/fsck_int.h"

enum { IS_FREE = 0, IS_USED = 1, IS_BAD = 2 };

/* What fsck knows of one inode. */
struct fk_ino {
	uint32_t gen, mode, nlink;
	uint8_t state;		/* IS_* */
	bool log;		/* a node's log file (named by the log table) */
	bool orphan;		/* a log names it an orphan (fs/log.h, "Orphans") */
	bool meta;		/* a metadata file: full blocks on metadata disks */
	bool reached;		/* connectivity: reached from the root */
	uint32_t refs;		/* directory entries naming it */
	uint32_t subdirs;	/* a directory's subdirectory entries */
	uint64_t parent;	/* a directory: the directory naming it (0: none) */
};

struct fk {
	const struct fs_disk_io *io;
	uint32_t ndisks;
	const struct fs_fsck_params *p;
	struct fs_fsck_report *r;
	bool repair, quiet;
	bool stop;		/* unrepairable or an I/O error: stop this pass */
	int fatal;		/* the I/O error that stopped it (0: none) */
	char *err;
	size_t errsz;

	struct fs_sgd *sgd;
	uint32_t fsid, b, s, spb, mpb, ind_sub;
	unsigned maxrep;
	uint64_t first;		/* first allocatable subblock of every disk */
	struct fs_ds *ds;
	struct fs_alloc *a;

	uint64_t ninodes, cap;	/* inode file records; fk_ino entries allocated */
	struct fk_ino *ii;
	uint8_t **claim;	/* per disk: subblocks in use by some file */
	uint32_t *cursor;	/* per disk: where the allocator looks first */
	uint64_t lf;		/* lost+found (0: none yet) */

	const char *phase;
	unsigned last_pct;
};

/* One problem: counted, logged; <fixed> when a repair was made. */
__attribute__((format(printf, 3, 4)))
void fk_problem(struct fk *f, bool fixed, const char *fmt, ...);
/* Stop the pass: something fsck cannot repair. */
__attribute__((format(printf, 2, 3)))
void fk_unrepairable(struct fk *f, const char *fmt, ...);
void fk_progress(struct fk *f, const char *phase, uint64_t done, uint64_t total);

bool fk_claimed(const struct fk *f, fs_da da, uint32_t n);
void fk_claim(struct fk *f, fs_da da, uint32_t n, bool on);
/* Free inode <ino>: its blocks unclaimed, a free record written. */
int fk_clear_inode(struct fk *f, uint64_t ino);
int fk_read_inode(struct fk *f, uint64_t ino, struct fs_inode *in);
/* Step 3 (fsck_logs.c): replay every node's log in the log table. */
void fk_check_logs(struct fk *f);
int fk_write_inode(struct fk *f, const struct fs_inode *in);
/* The DT_* type of mode <m>. */
uint8_t fk_dt(uint32_t m);

/* fsck_dir.c: directories, links, orphans (phase 4). */
int fk_dirs(struct fk *f);

/* Disk <d>'s NSD name ("?" past the table). */
const char *fk_dname(const struct fk *f, uint32_t d);
/* fsck_maps.c: the block map and the inode map against the claims and
 * the inode records; with repair they are rewritten. */
int fk_check_bmap(struct fk *f);
int fk_check_imap(struct fk *f);

#endif
