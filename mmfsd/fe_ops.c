/*
 * mmfsd/fe_ops.c - the FUSE low-level operations: each one fs.h call.
 *
 * Shaped like libfuse's example/passthrough_ll.c: one static handler per
 * operation, one `fe_ops` table, exactly one fuse_reply_* on every path.
 * Every handler that names an object builds the caller's fs_cred first
 * (req_cred): fs.h checks permissions, and so does the kernel
 * (default_permissions with POSIX ACLs: path walks through cached
 * dentries reach no handler).
 *
 * Lookup counts: every entry reply (lookup, create, mknod, mkdir,
 * symlink, link, readdirplus) hands the kernel the lookup fs.h counted;
 * when the reply does not reach the kernel (the request was interrupted:
 * fuse_reply_* fails), the count is given back here with fs_forget, and
 * a created file's handle with fs_release, since the kernel will never
 * send FORGET or RELEASE for it.
 */
#include "mmfsd/fe_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"

#define SUB "fe"

/* ---- helpers -------------------------------------------------------- */

static fe_session *req_session(fuse_req_t req)
{
	fe_session *s = fuse_req_userdata(req);

	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	return s;
}

/* fs.h returns negative errnos; anything else (a stray MM_E* or a
 * positive value) would reach the kernel as nonsense, so it is EIO. */
static int err_of(long rc)
{
	return rc < 0 && rc >= -4095 ? (int)-rc : EIO;
}

static void reply_rc(fuse_req_t req, long rc)
{
	fuse_reply_err(req, rc >= 0 ? 0 : err_of(rc));
}

/*
 * The caller: fsuid/fsgid, umask (FUSE_CAP_DONT_MASK: the kernel sends it
 * and leaves the mode alone, so a default ACL can replace it) and the
 * supplementary groups, which the kernel does not send: they are read
 * from /proc/<tid>/task/<tid>/status of the calling thread when a check
 * first needs them (sg_in_group: the caller is not in the file's group
 * by its own gid), at most once a request; read for every request they
 * cost a non-root caller ~15 us each (LOOKUP p50 32-37 us against 19-21).
 * A request runs on one worker thread from req_cred to its reply; a cred
 * used on another thread (pid not this thread's request's) reads them
 * each time. A request from no process (pid 0) or from one already gone
 * has no supplementary groups.
 */
static __thread struct {
	int32_t pid;
	bool loaded;
	struct fs_cred g;
} req_groups;

static void load_groups(int32_t pid, struct fs_cred *g)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	g->ngroups = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	fe_parse_groups(buf, g);
}

static bool cred_in_group(const struct fs_cred *c, uint32_t gid)
{
	struct fs_cred other, *g = &req_groups.g;

	if (req_groups.pid != c->pid) {
		g = &other;
		load_groups(c->pid, g);
	} else if (!req_groups.loaded) {
		load_groups(c->pid, g);
		req_groups.loaded = true;
	}
	for (uint32_t i = 0; i < g->ngroups && i < FS_MAX_GROUPS; i++)
		if (g->groups[i] == gid)
			return true;
	return false;
}

static void req_cred(fuse_req_t req, struct fs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(c, 0, sizeof(*c));
	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->umask = ctx->umask;
	c->fsetid = FS_FSETID_UNKNOWN;
	c->pid = (int32_t)ctx->pid;
	req_groups.pid = c->pid;
	req_groups.loaded = false;
	if (ctx->pid > 0)
		c->in_group = cred_in_group;
}

/* With HANDLE_KILLPRIV_V2 the kernel says whether the caller of a write,
 * a truncate or an O_TRUNC open lacks CAP_FSETID (<kill>): exact where
 * "uid 0" is a guess (root without the capability, as in a container,
 * loses setuid by writing; xfstests' killpriv cases check both). */
static void cred_fsetid(const fe_session *s, struct fs_cred *c, bool kill)
{
	if (atomic_load_explicit(&s->killpriv_v2, memory_order_relaxed))
		c->fsetid = kill ? FS_FSETID_NO : FS_FSETID_YES;
}

static void attr_to_stat(const struct fs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fe_ino_to_fuse(a->ino);
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = a->blksize;
	st->st_atim.tv_sec = a->atime.sec;
	st->st_atim.tv_nsec = a->atime.nsec;
	st->st_mtim.tv_sec = a->mtime.sec;
	st->st_mtim.tv_nsec = a->mtime.nsec;
	st->st_ctim.tv_sec = a->ctime.sec;
	st->st_ctim.tv_nsec = a->ctime.nsec;
}

static void fill_entry(const struct fs_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = fe_ino_to_fuse(a->ino);
	e->generation = a->gen;
	attr_to_stat(a, &e->attr);
	e->attr_timeout = FE_TIMEOUT_S;
	e->entry_timeout = FE_TIMEOUT_S;
}

/* Entry reply for an object fs.h counted a lookup of. */
static void reply_entry(fe_session *s, fuse_req_t req, const struct fs_attr *a)
{
	struct fuse_entry_param e;

	fill_entry(a, &e);
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget(s->sg, a->ino, 1);
}

static fs_file *fh_of(const struct fuse_file_info *fi)
{
	return (fs_file *)(uintptr_t)fi->fh;
}

/* O_DIRECT opens bypass the kernel's page cache (FOPEN_DIRECT_IO): the
 * coherent path, at 4-6 GB/s on the ceiling runs. Others go through the
 * page cache, dropped at each open (no keep_cache: another node's writes
 * must be seen at open without a lease to say the cache is still good). */
static void set_open_flags(struct fuse_file_info *fi)
{
	fi->direct_io = (fi->flags & O_DIRECT) != 0;
	fi->keep_cache = 0;
	/* close() does not write the file's data, as on GPFS and ext4:
	 * write-behind writes it, fsync makes it durable and reports a
	 * failed write (fs/README.md, "Data"); other nodes see it through
	 * the tokens, not through close-to-open flushes. POSIX locks are the
	 * kernel's. So no FLUSH round trip per close: a create was four
	 * round trips (LOOKUP, CREATE, GETATTR of the directory, FLUSH). */
	fi->noflush = 1;
}

/* One read buffer per worker thread, grown to the largest read it served
 * (at most max_write): a 1 MiB malloc per read would be an mmap and a
 * munmap each time. Freed when libfuse ends the thread. */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static bool buf_key_ok;

struct tbuf {
	size_t size;
	bool owned;		/* not kept by the thread: the caller frees it */
	char data[];
};

static void buf_key_make(void)
{
	buf_key_ok = pthread_key_create(&buf_key, free) == 0;
	if (!buf_key_ok)
		mm_warn(SUB, "no thread-specific read buffers: reads allocate per request");
}

static struct tbuf *thread_buf(size_t size)
{
	struct tbuf *b = NULL;

	pthread_once(&buf_once, buf_key_make);
	if (buf_key_ok) {
		b = pthread_getspecific(buf_key);
		if (b && b->size >= size)
			return b;
		free(b);
		pthread_setspecific(buf_key, NULL);
	}
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	b->owned = !buf_key_ok || pthread_setspecific(buf_key, b) != 0;
	return b;
}

/* ---- operations ----------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	struct fs_attr a;
	int rc;

	req_cred(req, &c);
	rc = fs_lookup(s->sg, &c, fe_ino_to_fs(parent), name, &a);
	if (rc == -ENOENT) {
		/* a negative entry, cached for the entry timeout: a failed
		 * path walk (PATH searches, make's stat storms) costs one
		 * round trip per second instead of one per call */
		struct fuse_entry_param e = {.ino = 0, .entry_timeout = FE_TIMEOUT_S};

		fuse_reply_entry(req, &e);
	} else if (rc < 0) {
		reply_rc(req, rc);
	} else {
		reply_entry(s, req, &a);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fe_session *s = req_session(req);

	fs_forget(s->sg, fe_ino_to_fs(ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fe_session *s = req_session(req);

	for (size_t i = 0; i < count; i++)
		fs_forget(s->sg, fe_ino_to_fs(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_attr a;
	struct stat st;
	int rc;

	(void)fi;
	rc = fs_getattr(s->sg, fe_ino_to_fs(ino), &a);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, FE_TIMEOUT_S);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_setattr sa = {0};
	struct fs_cred c;
	struct fs_attr a;
	struct stat st;
	int rc;

	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.mask |= FS_SET_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.mask |= FS_SET_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.mask |= FS_SET_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.mask |= FS_SET_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	/* the kernel sets ATIME with ATIME_NOW ("now"): the two differ in
	 * who may do it (write permission vs ownership), so keep them apart */
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.mask |= FS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.mask |= FS_SET_ATIME;
		sa.atime = (struct fs_time){attr->st_atim.tv_sec, (uint32_t)attr->st_atim.tv_nsec};
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.mask |= FS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.mask |= FS_SET_MTIME;
		sa.mtime = (struct fs_time){attr->st_mtim.tv_sec, (uint32_t)attr->st_mtim.tv_nsec};
	}
	/* the kernel's FATTR_KILL_SUIDGID (FUSE_HANDLE_KILLPRIV_V2, fe.c) is
	 * libfuse's KILL_SUID bit: setuid, and setgid if group-executable */
	if (to_set & FUSE_SET_ATTR_KILL_SUID)
		sa.mask |= FS_SET_KILL_SUIDGID;
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa.mask |= FS_SET_CTIME;
		sa.ctime = (struct fs_time){attr->st_ctim.tv_sec, (uint32_t)attr->st_ctim.tv_nsec};
	}
	req_cred(req, &c);
	if (to_set & FUSE_SET_ATTR_SIZE)
		cred_fsetid(s, &c, (to_set & FUSE_SET_ATTR_KILL_SUID) != 0);
	rc = fs_setattr(s->sg, &c, fe_ino_to_fs(ino), &sa, fi ? fh_of(fi) : NULL, &a);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, FE_TIMEOUT_S);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	fe_session *s = req_session(req);
	char buf[PATH_MAX + 1];
	ssize_t n = fs_readlink(s->sg, fe_ino_to_fs(ino), buf, PATH_MAX);

	if (n < 0) {
		reply_rc(req, n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	struct fs_attr a;
	int rc;

	req_cred(req, &c);
	rc = fs_mknod(s->sg, &c, fe_ino_to_fs(parent), name, mode, rdev, &a);
	if (rc < 0)
		reply_rc(req, rc);
	else
		reply_entry(s, req, &a);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	struct fs_attr a;
	int rc;

	req_cred(req, &c);
	rc = fs_mkdir(s->sg, &c, fe_ino_to_fs(parent), name, mode, &a);
	if (rc < 0)
		reply_rc(req, rc);
	else
		reply_entry(s, req, &a);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fe_session *s = req_session(req);
	struct fs_cred c;

	req_cred(req, &c);
	reply_rc(req, fs_unlink(s->sg, &c, fe_ino_to_fs(parent), name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fe_session *s = req_session(req);
	struct fs_cred c;

	req_cred(req, &c);
	reply_rc(req, fs_rmdir(s->sg, &c, fe_ino_to_fs(parent), name));
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	struct fs_attr a;
	int rc;

	req_cred(req, &c);
	rc = fs_symlink(s->sg, &c, fe_ino_to_fs(parent), name, link, &a);
	if (rc < 0)
		reply_rc(req, rc);
	else
		reply_entry(s, req, &a);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fe_session *s = req_session(req);
	unsigned fl = 0;
	struct fs_cred c;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);	/* RENAME_WHITEOUT: overlayfs only */
		return;
	}
	if (flags & RENAME_NOREPLACE)
		fl |= FS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		fl |= FS_RENAME_EXCHANGE;
	req_cred(req, &c);
	reply_rc(req, fs_rename(s->sg, &c, fe_ino_to_fs(parent), name, fe_ino_to_fs(newparent),
				newname, fl));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	struct fs_attr a;
	int rc;

	req_cred(req, &c);
	rc = fs_link(s->sg, &c, fe_ino_to_fs(ino), fe_ino_to_fs(newparent), newname, &a);
	if (rc < 0)
		reply_rc(req, rc);
	else
		reply_entry(s, req, &a);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	fs_file *f = NULL;
	int rc;

	req_cred(req, &c);
	if (fi->flags & O_TRUNC)
		cred_fsetid(s, &c, (fe_req_open_flags() & FUSE_OPEN_KILL_SUIDGID) != 0);
	rc = fs_open(s->sg, &c, fe_ino_to_fs(ino), fi->flags, &f);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	set_open_flags(fi);
	/* O_TRUNC took setuid off: as after a write (op_write) */
	if (fs_file_privs_dropped(f))
		fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0);
	if (fuse_reply_open(req, fi) != 0)
		fs_release(s->sg, f);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct tbuf *b = thread_buf(size ? size : 1);
	ssize_t n;

	(void)ino;
	if (!b) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_read(s->sg, fh_of(fi), b->data, size, (uint64_t)off);
	if (n < 0)
		reply_rc(req, n);
	else
		fuse_reply_buf(req, b->data, (size_t)n);
	if (b->owned)
		free(b);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	ssize_t n;

	req_cred(req, &c);
	cred_fsetid(s, &c, (fe_req_write_flags() & FUSE_WRITE_KILL_SUIDGID) != 0);
	n = fs_write(s->sg, &c, fh_of(fi), buf, size, (uint64_t)off);
	/* The kernel invalidates mtime, ctime and size after a write, not
	 * the mode: without this a stat asking the mode alone (stat -c %A)
	 * shows the setuid bit the write took off, for the attribute
	 * timeout. Before the reply, and attributes only (off -1): no page
	 * lock the writer holds is touched. */
	if (n > 0 && fs_file_privs_dropped(fh_of(fi)))
		fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0);
	if (n < 0)
		reply_rc(req, n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);

	(void)ino;
	reply_rc(req, fs_flush(s->sg, fh_of(fi)));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);

	(void)ino;
	reply_rc(req, fs_release(s->sg, fh_of(fi)));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);

	(void)ino;
	reply_rc(req, fs_fsync(s->sg, fh_of(fi), datasync != 0));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	fs_file *f = NULL;
	int rc;

	req_cred(req, &c);
	rc = fs_open(s->sg, &c, fe_ino_to_fs(ino), fi->flags | O_DIRECTORY, &f);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	if (fuse_reply_open(req, fi) != 0)
		fs_release(s->sg, f);
}

/* One readdir reply being filled. */
struct rd_ctx {
	fuse_req_t req;
	fe_session *s;
	char *buf;
	size_t size, used;
	bool plus;
	uint64_t *counted;		/* plus: inodes whose lookup the kernel is handed */
	size_t ncounted, cap;
	int err;
};

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int rd_entry(void *arg, const char *name, uint64_t ino, uint8_t type, uint64_t cookie,
		    const struct fs_attr *attr)
{
	struct rd_ctx *r = arg;
	size_t room = r->size - r->used, need;

	if (!r->plus || !attr) {
		struct stat st = {0};

		st.st_ino = fe_ino_to_fuse(ino);
		st.st_mode = (mode_t)type << 12;	/* DTTOIF */
		if (r->plus) {
			/* no attributes for this one: a plain entry, which
			 * the kernel takes as "look it up when needed" */
			struct fuse_entry_param e = {0};

			e.attr = st;
			need = fuse_add_direntry_plus(r->req, r->buf + r->used, room, name, &e,
						      (off_t)cookie);
		} else {
			need = fuse_add_direntry(r->req, r->buf + r->used, room, name, &st,
						 (off_t)cookie);
		}
		if (need > room)
			return 1;
		r->used += need;
		return 0;
	}
	{
		struct fuse_entry_param e;

		fill_entry(attr, &e);
		need = fuse_add_direntry_plus(r->req, r->buf + r->used, room, name, &e, (off_t)cookie);
	}
	/* an entry refused (1) is not consumed: fs_readdir forgets the
	 * lookup it counted for it itself */
	if (need > room)
		return 1;
	r->used += need;
	/* the kernel takes a lookup only for an entry that is not "." or
	 * ".." (fuse_direntplus_link): give those back */
	if (is_dot(name)) {
		fs_forget(r->s->sg, attr->ino, 1);
		return 0;
	}
	if (r->ncounted == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		uint64_t *p = realloc(r->counted, cap * sizeof(*p));

		if (!p) {
			/* consumed but not recordable: end the reply before it */
			r->used -= need;
			r->err = ENOMEM;
			return 1;
		}
		r->counted = p;
		r->cap = cap;
	}
	r->counted[r->ncounted++] = attr->ino;
	return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	fe_session *s = req_session(req);
	struct rd_ctx r = {.req = req, .s = s, .size = size, .plus = plus};
	int rc;

	r.buf = malloc(size ? size : 1);
	if (!r.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_readdir(s->sg, fh_of(fi), (uint64_t)off, plus, rd_entry, &r);
	if (rc < 0 && r.used == 0) {
		reply_rc(req, rc);
	} else if (r.err && r.used == 0) {
		fuse_reply_err(req, r.err);
	} else if (fuse_reply_buf(req, r.buf, r.used) != 0) {
		/* interrupted: the kernel got none of these lookups */
		for (size_t i = 0; i < r.ncounted; i++)
			fs_forget(s->sg, r.counted[i], 1);
	}
	free(r.counted);
	free(r.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);

	(void)ino;
	reply_rc(req, fs_release(s->sg, fh_of(fi)));
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);

	(void)ino;
	reply_rc(req, fs_fsync(s->sg, fh_of(fi), datasync != 0));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	fe_session *s = req_session(req);
	struct fs_statfs f;
	struct statvfs sv;
	int rc;

	(void)ino;
	rc = fs_statfs(s->sg, &f);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = f.bsize;
	sv.f_frsize = f.frsize;
	sv.f_blocks = f.blocks;
	sv.f_bfree = f.bfree;
	sv.f_bavail = f.bavail;
	sv.f_files = f.files;
	sv.f_ffree = f.ffree;
	sv.f_favail = f.ffree;
	sv.f_fsid = f.fsid;
	sv.f_namemax = f.namemax;
	fuse_reply_statfs(req, &sv);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fe_session *s = req_session(req);
	struct fs_cred c;

	req_cred(req, &c);
	reply_rc(req, fs_setxattr(s->sg, &c, fe_ino_to_fs(ino), name, value, size, flags));
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	char *buf = NULL;
	ssize_t n;

	req_cred(req, &c);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_getxattr(s->sg, &c, fe_ino_to_fs(ino), name, buf, size);
	if (n < 0)
		reply_rc(req, n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	char *buf = NULL;
	ssize_t n;

	req_cred(req, &c);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_listxattr(s->sg, &c, fe_ino_to_fs(ino), buf, size);
	if (n < 0)
		reply_rc(req, n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fe_session *s = req_session(req);
	struct fs_cred c;

	req_cred(req, &c);
	reply_rc(req, fs_removexattr(s->sg, &c, fe_ino_to_fs(ino), name));
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fe_session *s = req_session(req);
	struct fs_cred c;

	req_cred(req, &c);
	reply_rc(req, fs_access(s->sg, &c, fe_ino_to_fs(ino), mask));
}

/* CREATE answers with the full attributes and the open file in one round
 * trip (fuse-ceiling.md: ~15k creates/s is the FUSE floor; a LOOKUP +
 * MKNOD + OPEN sequence would cost three). */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fuse_entry_param e;
	struct fs_cred c;
	struct fs_attr a;
	fs_file *f = NULL;
	int rc;

	req_cred(req, &c);
	if (fe_req_tmpfile())
		rc = fs_tmpfile(s->sg, &c, fe_ino_to_fs(parent), mode, fi->flags, &a, &f);
	else
		rc = fs_create(s->sg, &c, fe_ino_to_fs(parent), name, mode, fi->flags, &a, &f);
	if (rc < 0) {
		reply_rc(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	set_open_flags(fi);
	fill_entry(&a, &e);
	if (fuse_reply_create(req, &e, fi) != 0) {
		fs_release(s->sg, f);
		fs_forget(s->sg, a.ino, 1);
	}
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	struct fs_cred c;
	int rc;

	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	req_cred(req, &c);
	rc = fs_fallocate(s->sg, &c, fh_of(fi), mode, (uint64_t)off, (uint64_t)len);
	if (fs_file_privs_dropped(fh_of(fi)))	/* as after a write (op_write) */
		fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0);
	reply_rc(req, rc);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	fe_session *s = req_session(req);
	int64_t r;

	(void)ino;
	r = fs_lseek(s->sg, fh_of(fi), off, whence);
	if (r < 0)
		reply_rc(req, r);
	else
		fuse_reply_lseek(req, r);
}

/*
 * The connection's settings, each from fuse-ceiling.md: max_write 1 MiB
 * (max_pages follows it); no writeback cache (the kernel would own
 * size/mtime and dirty pages another node cannot invalidate, and it was
 * slower for stat, unlink and streaming writes); no splice (reads 2.4x
 * slower on this kernel); readdirplus; parallel lookups and readdirs in
 * one directory (fs.h has no directory-wide lock); O_TRUNC in OPEN
 * (fs_open truncates); the umask sent, not applied (fs.h applies it
 * unless a default ACL replaces it); setuid/setgid and capabilities
 * dropped by fs.h on write, truncate and chown (HANDLE_KILLPRIV: no extra
 * SETATTR; fe.c adds HANDLE_KILLPRIV_V2, which libfuse 3.14 cannot ask
 * for: no GETXATTR before each write); POSIX_ACL: with default_permissions
 * the kernel checks mode and ACLs on every walk, and fs.h checks again;
 * EXPORT_SUPPORT: a file handle (open_by_handle_at, an NFS export) of an
 * inode the kernel no longer caches is looked up as "." of its number,
 * and a directory's parent as "..", both fs_lookup's.
 */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	fe_session *s = userdata;
	unsigned want = FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ATOMIC_O_TRUNC |
			FUSE_CAP_DONT_MASK | FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_ASYNC_READ |
			FUSE_CAP_ASYNC_DIO | FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_CACHE_SYMLINKS |
			FUSE_CAP_POSIX_ACL | FUSE_CAP_EXPORT_SUPPORT;

	conn->max_write = FE_MAX_WRITE;
	conn->want |= want & conn->capable;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ |
				  FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	if ((want & ~conn->capable) & (FUSE_CAP_DONT_MASK | FUSE_CAP_ATOMIC_O_TRUNC))
		mm_warn(SUB, "%s: the kernel lacks a FUSE capability the front end relies on "
			"(capable 0x%x)", s->device, conn->capable);
	mm_info(SUB, "%s: FUSE protocol %u.%u, max_write %u, capabilities 0x%x", s->device,
		conn->proto_major, conn->proto_minor, conn->max_write, conn->want);
}

const struct fuse_lowlevel_ops fe_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.create = op_create,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
};
