/*
 * mmfsd/fe.h - the FUSE front end: one kernel mount of one mounted stripe
 * group (fs/fs.h), served by the libfuse3 low-level API inside mmfsd
 * (2026-12-06; mmfsd/README.md "The FUSE front end" has the choices and
 * shared/notes/fuse-ceiling.md the measurements behind them).
 *
 * Each FUSE operation is translated into one fs.h call with the caller's
 * credentials (fs.h checks permissions itself: no default_permissions);
 * the front end keeps no state of its own but the kernel's handles: the
 * inode number (FUSE_ROOT_ID 1 <-> FS_ROOT_INO 3, every other number as
 * the file system's), the generation in fuse_entry_param, and an open
 * file's fs_file pointer in fuse_file_info.fh. No file descriptor per
 * inode or open file.
 *
 * Threads: a session has its loop thread ("fe-<device>") with libfuse's
 * worker threads under it (at most <max_threads>; more than <max_idle> idle end), and
 * one invalidation thread ("feinv-<device>") that alone calls
 * fuse_lowlevel_notify_inval_inode / _entry: fs/ calls the fs_inval_ops
 * of fe_mount from any thread, and they only queue (a notify from a
 * request handler, or from a revoke a handler waits for, can deadlock on
 * the kernel's page locks: libfuse issue 341).
 *
 * Return convention: MM_OK or a negative MM_E* (common/err.h), with a
 * message for the operator in <err>.
 */
#ifndef MM_MMFSD_FE_H
#define MM_MMFSD_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"

typedef struct fe_session fe_session;

struct fe_params {
	fs_sg *sg;			/* mounted; outlives the session */
	const char *device;		/* fsname in /proc/mounts: "fs1" */
	const char *mountpoint;		/* an existing directory */
	bool readonly;			/* kernel "ro" too */
	bool nosuid, nodev, noexec;	/* kernel mount flags (default: suid, dev, exec) */
	bool noatime;			/* shown as the kernel's noatime (fs/ keeps atime itself) */
	unsigned max_threads;		/* libfuse workers (worker1Threads) */
	unsigned max_idle;		/* idle workers kept */
	/* The kernel mount ended without fe_unmount: umount(8), fusermount
	 * -u, the last user of a lazy unmount leaving, or an aborted
	 * connection. Called once, from the loop thread, after fe_gone
	 * turned true; it must only queue (the owner then takes the file
	 * system down with fe_unmount, fs_sg_unmount and fe_free). May be
	 * NULL. */
	void (*gone)(void *arg);
	void *gone_arg;
};

/* Mount <p->mountpoint> (allow_other) and start serving it. */
int fe_mount(const struct fe_params *p, fe_session **out, char *err, size_t errsz);

/*
 * Take the kernel mount down. Without <force>: umount2(0), MM_EBUSY (and
 * the session still serving) if a process uses it. With <force>: the
 * connection is aborted (its users get ENOTCONN) and the mount detached.
 * On success the loop and invalidation threads are joined, the fs_inval_ops
 * unregistered (fs_sg_set_inval NULL) and the kernel connection closed;
 * the caller then unmounts the stripe group (fs_sg_unmount) and only then
 * calls fe_free, so that a callback fs/ had already begun finds the
 * session (it queues nothing once the invalidation thread stopped).
 */
int fe_unmount(fe_session *s, bool force, char *err, size_t errsz);
/* After fe_unmount (or a failed fe_mount's cleanup) and fs_sg_unmount. */
void fe_free(fe_session *s);

/* The kernel mount ended on its own (fe_params.gone was called). */
bool fe_gone(const fe_session *s);

/* Requests served since the mount (mmdiag). */
uint64_t fe_requests(const fe_session *s);

/* ---- pure helpers (unit-tested) ---- */

/* FUSE inode number <-> the file system's. */
static inline uint64_t fe_ino_to_fs(uint64_t fuse_ino) { return fuse_ino == 1 ? FS_ROOT_INO : fuse_ino; }
static inline uint64_t fe_ino_to_fuse(uint64_t fs_ino) { return fs_ino == FS_ROOT_INO ? 1 : fs_ino; }

/*
 * The supplementary groups of the "Groups:" line of a /proc/<pid>/status
 * text <status> into c->groups (at most FS_MAX_GROUPS, more are dropped:
 * fs.h's limit). MM_OK, or MM_ENOENT if the text has no Groups line.
 */
int fe_parse_groups(const char *status, struct fs_cred *c);

/*
 * Mount points of fuse.mmfs mounts in a /proc/self/mountinfo text: for
 * each whose source is <device> (NULL: any), <fn>(<arg>, mountpoint,
 * source). Octal escapes (\040) are decoded. Returns the count.
 */
size_t fe_mountinfo_each(const char *mountinfo, const char *device,
			 void (*fn)(void *arg, const char *mountpoint, const char *source),
			 void *arg);
/*
 * The mount on top at <mountpoint> (the last entry of that mount point,
 * any type) in a /proc/self/mountinfo text: its device number
 * ("major:minor") into <majmin>. false when nothing is mounted there.
 */
bool fe_mountinfo_top(const char *mountinfo, const char *mountpoint, char *majmin, size_t cap);
/* Whether <s>'s FUSE connection still exists in the kernel (the fusectl
 * file system): 1 yes, 0 no (its loop is ending or ended), -1 unknown. */
int fe_conn_alive(const fe_session *s);

#endif
