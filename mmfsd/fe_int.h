/*
 * mmfsd/fe_int.h - shared by fe.c (session, invalidation thread) and
 * fe_ops.c (the operations); not for other modules.
 *
 * Lock order (the front end's own; none is held across an fs.h call or a
 * fuse_reply_* / fuse_lowlevel_notify_* call):
 *   fe_session.inv_lock   the invalidation queue (a leaf)
 */
#ifndef MM_MMFSD_FE_INT_H
#define MM_MMFSD_FE_INT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdatomic.h>

#include "mmfsd/fe.h"

#define FE_MAX_WRITE (1u << 20)	/* fuse-ceiling.md: a third less CPU per byte than 128K */
#define FE_TIMEOUT_S 1.0	/* entry, attribute and negative-entry timeouts */

/* One queued kernel cache invalidation. */
struct fe_inval {
	struct fe_inval *next;
	uint64_t ino;			/* FUSE number (inode, or entry's parent) */
	int64_t off, len;		/* inode */
	size_t namelen;			/* entry when > 0 */
	char name[];
};

struct fe_session {
	fs_sg *sg;
	struct fuse_session *se;
	char device[FS_DEVICE_MAX + 1];
	char mountpoint[4096];
	bool readonly;
	unsigned max_threads, max_idle;
	pthread_t loop;			/* runs fuse_session_loop_mt */
	bool loop_running;
	int loop_rc;
	atomic_bool unmounting;		/* fe_unmount began: the loop's end is its */
	atomic_bool gone;		/* the loop ended without fe_unmount */
	char majmin[32];		/* its mount's device number ("0:NN"), "" unknown */
	void (*gone_fn)(void *arg);
	void *gone_arg;

	/* invalidations: fs/ queues, feinv-<device> sends */
	pthread_mutex_t inv_lock;
	pthread_cond_t inv_cond;
	struct fe_inval *inv_head, *inv_tail;	/* protected by inv_lock */
	size_t inv_queued;			/* protected by inv_lock */
	bool inv_stop;				/* protected by inv_lock */
	pthread_t inv_thread;
	bool inv_running;
	_Atomic uint64_t inv_sent, inv_dropped;

	_Atomic uint64_t requests;

	/* the INIT exchange (fe.c, dev_read / dev_writev): the request's
	 * unique until its reply went out, the kernel's offered flags, the
	 * flags the reply gave (flags2 << 32) */
	_Atomic uint64_t init_unique;
	uint64_t kflags, init_flags;
	/* the kernel took FUSE_HANDLE_KILLPRIV_V2: it says in each write,
	 * truncate and O_TRUNC open whether the caller lacks CAP_FSETID */
	atomic_bool killpriv_v2;
};

/* fe.c: the flags libfuse 3.14 drops from the request this thread is
 * serving (FUSE_WRITE's write_flags, FUSE_OPEN's open_flags; 0 for any
 * other request). */
uint32_t fe_req_write_flags(void);
uint32_t fe_req_open_flags(void);
/* the CREATE this thread serves is an O_TMPFILE open (FUSE_TMPFILE) */
bool fe_req_tmpfile(void);

/* fe_ops.c: the operation table (fe.c passes it to fuse_session_new). */
extern const struct fuse_lowlevel_ops fe_ops;

#endif
