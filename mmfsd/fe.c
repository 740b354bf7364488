/*
 * mmfsd/fe.c - a FUSE session: mount, serve, invalidate, unmount (fe.h).
 *
 * Parts: the invalidation queue and its thread; mount (fuse_session_new
 * with allow_other, fsname=<device>, subtype=mmfs, then the loop thread);
 * unmount. The operations are fe_ops.c, the pure helpers (groups of
 * /proc/<pid>/status, fuse.mmfs lines of /proc/self/mountinfo) fe_util.c.
 *
 * Lock order: fe_session.inv_lock is a leaf, never held across a notify
 * or an fs.h call.
 */
#include "mmfsd/fe_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "fe"

/* Queued invalidations beyond this are dropped (and counted): a kernel
 * cache entry then lives until its 1 s timeout, and cached data until
 * the next attribute check sees the new mtime (AUTO_INVAL_DATA). */
#define FE_INV_MAX 100000

/* ---- invalidations -------------------------------------------------- */

static void inv_push(fe_session *s, struct fe_inval *v)
{
	bool dropped = false;

	pthread_mutex_lock(&s->inv_lock);
	if (s->inv_stop || s->inv_queued >= FE_INV_MAX) {
		dropped = !s->inv_stop;
		free(v);
	} else {
		v->next = NULL;
		if (s->inv_tail)
			s->inv_tail->next = v;
		else
			s->inv_head = v;
		s->inv_tail = v;
		s->inv_queued++;
		pthread_cond_signal(&s->inv_cond);
	}
	pthread_mutex_unlock(&s->inv_lock);
	if (dropped && atomic_fetch_add(&s->inv_dropped, 1) == 0)
		mm_warn(SUB, "%s: kernel cache invalidations are coming faster than they can be "
			"sent: some dropped (caches then expire by their 1 s timeouts)", s->device);
}

/* fs_inval_ops: called by fs/ from any thread; only queue. */
static void inv_inode(void *arg, uint64_t ino, int64_t off, int64_t len)
{
	fe_session *s = arg;
	struct fe_inval *v = calloc(1, sizeof(*v));

	if (!v)
		return;
	v->ino = fe_ino_to_fuse(ino);
	v->off = off;
	v->len = len;
	inv_push(s, v);
}

static void inv_entry(void *arg, uint64_t parent, const char *name, size_t namelen)
{
	fe_session *s = arg;
	struct fe_inval *v;

	if (namelen == 0)
		return;
	v = calloc(1, sizeof(*v) + namelen + 1);
	if (!v)
		return;
	v->ino = fe_ino_to_fuse(parent);
	v->namelen = namelen;
	memcpy(v->name, name, namelen);
	inv_push(s, v);
}

static void *inv_main(void *arg)
{
	fe_session *s = arg;

	pthread_mutex_lock(&s->inv_lock);
	for (;;) {
		struct fe_inval *list;

		while (!s->inv_head && !s->inv_stop)
			pthread_cond_wait(&s->inv_cond, &s->inv_lock);
		if (s->inv_stop)
			break;
		list = s->inv_head;
		s->inv_head = s->inv_tail = NULL;
		s->inv_queued = 0;
		pthread_mutex_unlock(&s->inv_lock);
		while (list) {
			struct fe_inval *v = list;
			int rc;

			list = v->next;
			/* -ENOENT: the kernel has nothing cached for it */
			if (v->namelen)
				rc = fuse_lowlevel_notify_inval_entry(s->se, v->ino, v->name, v->namelen);
			else
				rc = fuse_lowlevel_notify_inval_inode(s->se, v->ino, v->off, v->len);
			if (rc == 0)
				atomic_fetch_add_explicit(&s->inv_sent, 1, memory_order_relaxed);
			else if (rc != -ENOENT)
				mm_debug(SUB, "%s: invalidation of inode %llu: %s", s->device,
					 (unsigned long long)v->ino, strerror(-rc));
			free(v);
		}
		pthread_mutex_lock(&s->inv_lock);
	}
	pthread_mutex_unlock(&s->inv_lock);
	return NULL;
}

static void inv_stop(fe_session *s)
{
	struct fe_inval *v;

	pthread_mutex_lock(&s->inv_lock);
	s->inv_stop = true;
	pthread_cond_broadcast(&s->inv_cond);
	pthread_mutex_unlock(&s->inv_lock);
	if (s->inv_running) {
		pthread_join(s->inv_thread, NULL);
		s->inv_running = false;
	}
	/* the kernel mount is gone: what is left has nothing to invalidate */
	while ((v = s->inv_head)) {
		s->inv_head = v->next;
		free(v);
	}
	s->inv_tail = NULL;
	s->inv_queued = 0;
}

/* ---- the device: what libfuse 3.14 does not pass on ----------------- */

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)	/* kernel 6.6 (protocol 7.39) */
#endif

/* The request this worker read last: libfuse's loop hands a request to
 * the operation on the thread that read it, and 3.14 drops these flags */
static __thread uint32_t req_write_flags, req_open_flags;
static __thread bool req_tmpfile;

uint32_t fe_req_write_flags(void)
{
	return req_write_flags;
}

uint32_t fe_req_open_flags(void)
{
	return req_open_flags;
}

bool fe_req_tmpfile(void)
{
	return req_tmpfile;
}

/*
 * libfuse 3.14 knows neither FUSE_HANDLE_KILLPRIV_V2 nor
 * FUSE_DIRECT_IO_ALLOW_MMAP, so its INIT reply never asks for them: the
 * device's reads and writes go through these two (fuse_session_custom_io),
 * which note what the kernel's INIT offers and add those two flags to the
 * reply when it offers them.
 *  - KILLPRIV_V2: the file system drops setuid/setgid and
 *    security.capability on write and truncate (fs/data.c, vnode2.c), and
 *    the kernel marks the mount SB_NOSEC; otherwise it asks for
 *    security.capability (a GETXATTR round trip) before every write.
 *  - DIRECT_IO_ALLOW_MMAP: a shared mmap of a file opened O_DIRECT
 *    (FOPEN_DIRECT_IO) works instead of failing with ENODEV.
 * dev_read also keeps each request's write or open flags (above), and
 * hands libfuse an O_TMPFILE open (FUSE_TMPFILE, kernel 6.1; 3.14 would
 * answer ENOSYS) as the CREATE it is built like: the same fuse_create_in,
 * the name "/" (the kernel's unnamed dentry), the same reply; op_create
 * knows it by req_tmpfile. Every other byte passes through unchanged but
 * those two INIT reply flags.
 */
static ssize_t dev_read(int fd, void *buf, size_t len, void *ud)
{
	fe_session *s = ud;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *h = buf;

	req_write_flags = req_open_flags = 0;
	req_tmpfile = false;
	if (n >= (ssize_t)(sizeof(*h) + sizeof(struct fuse_create_in)) &&
	    h->opcode == FUSE_TMPFILE) {
		((struct fuse_in_header *)buf)->opcode = FUSE_CREATE;
		req_tmpfile = true;
	}
	if (n >= (ssize_t)(sizeof(*h) + sizeof(struct fuse_write_in)) && h->opcode == FUSE_WRITE)
		req_write_flags = ((const struct fuse_write_in *)(h + 1))->write_flags;
	else if (n >= (ssize_t)(sizeof(*h) + sizeof(struct fuse_open_in)) && h->opcode == FUSE_OPEN)
		req_open_flags = ((const struct fuse_open_in *)(h + 1))->open_flags;

	if (n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, flags2)) &&
	    h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(h + 1);
		uint64_t flags = in->flags;

		if ((flags & FUSE_INIT_EXT) &&
		    n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, unused)))
			flags |= (uint64_t)in->flags2 << 32;
		s->kflags = flags;
		atomic_store(&s->init_unique, h->unique);
	}
	return n;
}

static ssize_t dev_writev(int fd, struct iovec *iov, int count, void *ud)
{
	fe_session *s = ud;
	uint64_t u = atomic_load_explicit(&s->init_unique, memory_order_relaxed);

	if (u && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    ((struct fuse_out_header *)iov[0].iov_base)->unique == u &&
	    ((struct fuse_out_header *)iov[0].iov_base)->error == 0 &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, unused)) {
		struct fuse_init_out *o = iov[1].iov_base;

		if (s->kflags & FUSE_HANDLE_KILLPRIV_V2)
			o->flags |= FUSE_HANDLE_KILLPRIV_V2;
		if ((s->kflags & FUSE_DIRECT_IO_ALLOW_MMAP) && (o->flags & FUSE_INIT_EXT))
			o->flags2 |= (uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
		s->init_flags = o->flags | (uint64_t)o->flags2 << 32;
		atomic_store(&s->killpriv_v2, (o->flags & FUSE_HANDLE_KILLPRIV_V2) != 0);
		atomic_store(&s->init_unique, 0);
		mm_info(SUB, "%s: FUSE %u.%u; the file system drops privileges on writes itself: %s; "
			"shared mmap of O_DIRECT files: %s", s->device, o->major, o->minor,
			(o->flags & FUSE_HANDLE_KILLPRIV_V2) ? "yes" : "no (the kernel asks first)",
			(s->init_flags & FUSE_DIRECT_IO_ALLOW_MMAP) ? "yes" : "no (ENODEV)");
	}
	return writev(fd, iov, count);
}

/* ---- the loop ------------------------------------------------------- */

static void *loop_main(void *arg)
{
	fe_session *s = arg;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();

	if (!cfg) {
		s->loop_rc = MM_ENOMEM;
		mm_error(SUB, "%s: out of memory starting the FUSE loop: the mount will not answer",
			 s->device);
		return NULL;
	}
	fuse_loop_cfg_set_max_threads(cfg, s->max_threads);
	fuse_loop_cfg_set_idle_threads(cfg, s->max_idle);
	fuse_loop_cfg_set_clone_fd(cfg, 0);	/* gave nothing on the ceiling runs */
	s->loop_rc = fuse_session_loop_mt(s->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	mm_info(SUB, "%s: FUSE loop ended (%d)", s->device, s->loop_rc);
	if (!atomic_load(&s->unmounting)) {
		atomic_store(&s->gone, true);
		if (s->gone_fn)
			s->gone_fn(s->gone_arg);
	}
	return NULL;
}

bool fe_gone(const fe_session *s)
{
	return atomic_load(&s->gone);
}

/* ---- mount / unmount ------------------------------------------------ */

int fe_mount(const struct fe_params *p, fe_session **out, char *err, size_t errsz)
{
	fe_session *s;
	struct stat st;
	char opts[512], thread[32];
	char *argv[4];
	struct fuse_args args;
	int rc;

	*out = NULL;
	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		snprintf(err, errsz, "cannot mount %s: /dev/fuse: %s (is the fuse module loaded?)",
			 p->device, strerror(errno));
		return MM_ENOENT;
	}
	if (stat(p->mountpoint, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "cannot mount %s: mount point %s is not a directory", p->device,
			 p->mountpoint);
		return MM_EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return MM_ENOMEM;
	s->sg = p->sg;
	snprintf(s->device, sizeof(s->device), "%s", p->device);
	snprintf(s->mountpoint, sizeof(s->mountpoint), "%s", p->mountpoint);
	s->readonly = p->readonly;
	s->max_threads = p->max_threads ? p->max_threads : 4;
	s->max_idle = p->max_idle ? p->max_idle : 2;
	s->gone_fn = p->gone;
	s->gone_arg = p->gone_arg;
	if (s->max_idle > s->max_threads)
		s->max_idle = s->max_threads;
	pthread_mutex_init(&s->inv_lock, NULL);
	mm_cond_init(&s->inv_cond);

	/* allow_other: every user of the node reaches the mount, as GPFS's.
	 * default_permissions: the kernel checks the mode and POSIX ACLs
	 * (FUSE_CAP_POSIX_ACL) itself, on every path walk: without it a
	 * cached dentry lets a walk through a directory the caller may not
	 * search, since the kernel sends no lookup then. fs.h checks again
	 * with the caller's credentials on every call that reaches it.
	 * libfuse mounts nosuid,nodev unless told suid,dev. */
	snprintf(opts, sizeof(opts), "allow_other,default_permissions,fsname=%s,subtype=mmfs,%s,%s,%s%s%s",
		 p->device, p->readonly ? "ro" : "rw", p->nosuid ? "nosuid" : "suid",
		 p->nodev ? "nodev" : "dev", p->noexec ? ",noexec" : "", p->noatime ? ",noatime" : "");
	argv[0] = (char *)"mmfsd";
	argv[1] = (char *)"-o";
	argv[2] = opts;
	argv[3] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(3, argv);
	s->se = fuse_session_new(&args, &fe_ops, sizeof(fe_ops), s);
	if (!s->se) {
		snprintf(err, errsz, "cannot mount %s: libfuse refused the options %s (its reason is "
			 "in mmfsd.stderr)", p->device, opts);
		rc = MM_EINVAL;
		goto fail;
	}
	if (fuse_session_mount(s->se, s->mountpoint) != 0) {
		snprintf(err, errsz, "cannot mount %s on %s: the kernel refused the FUSE mount (its "
			 "reason is in mmfsd.stderr)", p->device, s->mountpoint);
		rc = MM_EIO;
		goto fail;
	}
	/* which mount is ours: umount(8) and a new mount at the same path
	 * can come between fe_unmount's decision and its umount2 */
	{
		char *mi = NULL;

		if (mm_read_file("/proc/self/mountinfo", 16u << 20, &mi, NULL) == MM_OK &&
		    !fe_mountinfo_top(mi, s->mountpoint, s->majmin, sizeof(s->majmin)))
			s->majmin[0] = '\0';
		free(mi);
	}
	{
		const struct fuse_custom_io io = {.read = dev_read, .writev = dev_writev};

		if (fuse_session_custom_io(s->se, &io, fuse_session_fd(s->se)) != 0) {
			snprintf(err, errsz, "cannot set up the FUSE device of %s", p->device);
			rc = MM_ENOMEM;
			goto fail_mounted;
		}
	}
	snprintf(thread, sizeof(thread), "feinv-%s", p->device);
	rc = mm_thread_start(&s->inv_thread, thread, inv_main, s);
	if (rc) {
		snprintf(err, errsz, "cannot start the invalidation thread of %s", p->device);
		goto fail_mounted;
	}
	s->inv_running = true;
	{
		struct fs_inval_ops ops = {.inode = inv_inode, .entry = inv_entry, .arg = s};

		fs_sg_set_inval(s->sg, &ops);
	}
	snprintf(thread, sizeof(thread), "fe-%s", p->device);
	rc = mm_thread_start(&s->loop, thread, loop_main, s);
	if (rc) {
		snprintf(err, errsz, "cannot start the FUSE loop of %s", p->device);
		fs_sg_set_inval(s->sg, NULL);
		goto fail_mounted;
	}
	s->loop_running = true;
	mm_info(SUB, "%s: FUSE session on %s (%s; %u workers at most)", p->device, s->mountpoint, opts,
		  s->max_threads);
	*out = s;
	return MM_OK;
fail_mounted:
	inv_stop(s);
	umount2(s->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW);
	fuse_session_unmount(s->se);
fail:
	fe_free(s);
	return rc;
}

/* Is the mount on top at our mount point ours? (Unknown: yes.) After a
 * umount(8), another mount may sit there, which umount2 must not touch. */
static bool ours_on_top(const fe_session *s)
{
	char *mi = NULL, mm[32];
	bool top, yes;

	if (!s->majmin[0] || mm_read_file("/proc/self/mountinfo", 16u << 20, &mi, NULL) != MM_OK)
		return true;
	top = fe_mountinfo_top(mi, s->mountpoint, mm, sizeof(mm));
	yes = top && strcmp(mm, s->majmin) == 0;
	free(mi);
	return yes;
}

int fe_conn_alive(const fe_session *s)
{
	const char *ctl = "/sys/fs/fuse/connections";
	unsigned maj, min;
	struct statfs sf;
	char path[96];

	if (!s->majmin[0] || sscanf(s->majmin, "%u:%u", &maj, &min) != 2 || maj != 0 ||
	    statfs(ctl, &sf) != 0 || sf.f_type != 0x65735543 /* FUSECTL_SUPER_MAGIC */)
		return -1;
	snprintf(path, sizeof(path), "%s/%u", ctl, min);
	return access(path, F_OK) == 0;
}

int fe_unmount(fe_session *s, bool force, char *err, size_t errsz)
{
	bool ours = ours_on_top(s);

	/* a busy refusal below leaves the session serving, and the loop's
	 * end then is not this call's: cleared again on that path */
	atomic_store(&s->unmounting, true);
	if (!ours) {
		/* umount(8) took ours down; what is there now is not ours */
	} else if (!force) {
		if (umount2(s->mountpoint, UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
			int e = errno;

			snprintf(err, errsz, "%s on %s: %s", s->device, s->mountpoint,
				 e == EBUSY ? "the file system is busy (open files, or a process's "
					      "working directory): use -f to force" : strerror(e));
			atomic_store(&s->unmounting, false);
			return e == EBUSY ? MM_EBUSY : mm_err_from_errno(e);
		}
		/* EINVAL: not mounted any more (umount(8) took it down) */
	} else {
		/* MNT_FORCE aborts the FUSE connection (processes in the
		 * file system get ENOTCONN at once instead of hanging); the
		 * mount is then detached even if still in use */
		if (umount2(s->mountpoint, MNT_FORCE | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL)
			umount2(s->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW);
	}
	/* the kernel connection is gone: the workers read ENODEV and end */
	fuse_session_exit(s->se);
	if (s->loop_running) {
		pthread_join(s->loop, NULL);
		s->loop_running = false;
	}
	fs_sg_set_inval(s->sg, NULL);
	inv_stop(s);
	fuse_session_unmount(s->se);	/* closes /dev/fuse (nothing left to unmount) */
	mm_info(SUB, "%s: FUSE session on %s ended%s (%llu requests, %llu invalidations sent)", s->device,
		  s->mountpoint, force ? " (forced)" : "",
		  (unsigned long long)atomic_load(&s->requests),
		  (unsigned long long)atomic_load(&s->inv_sent));
	return MM_OK;
}

void fe_free(fe_session *s)
{
	if (!s)
		return;
	if (s->se)
		fuse_session_destroy(s->se);
	pthread_cond_destroy(&s->inv_cond);
	pthread_mutex_destroy(&s->inv_lock);
	free(s);
}

uint64_t fe_requests(const fe_session *s)
{
	return atomic_load(&((fe_session *)s)->requests);
}
