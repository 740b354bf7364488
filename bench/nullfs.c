/*
 * bench/nullfs.c - the null FUSE file system: the baseline for `bench/run
 * fs`, the cost of the FUSE round trip with no storage underneath
 * (shared/notes/fuse-ceiling.md, configuration "base").
 *
 *   nullfs [-v] [-p] MOUNTPOINT
 *
 * Runs in the foreground until the mount point is unmounted (umount,
 * fusermount3 -u) or it gets SIGTERM/SIGINT/SIGHUP (then it unmounts).
 * Prints "nullfs: mounted MOUNTPOINT" on stdout once the mount is up; -v
 * prints request counts on stderr at exit. -p mounts with the options a
 * multi-user file system needs, as mmfs's mount has them
 * (default_permissions,allow_other): the kernel then checks permissions
 * itself, and asks GETATTR of a directory whose attributes a change in it
 * invalidated (after every create) before its next path walk through it.
 *
 * What it is, and why (a fair baseline is as cheap as a FUSE file system
 * can be while still being one):
 * - Real metadata in memory: a directory tree (flat directories, and
 *   subdirectories for untar), one hash table of inodes by number and one
 *   of directory entries by (directory, name), lookup counts, forget,
 *   link counts; an inode lives until it is both unlinked and forgotten.
 *   Regular files, directories, symlinks, hard links, device nodes, fifos.
 * - Data is discarded: a write's bytes reach this process (one copy from
 *   the kernel into user memory, the read(2) of /dev/fuse), only the size
 *   is kept. A read is answered with zeros up to the stored size.
 * - libfuse low-level API, the multithreaded loop with libfuse's defaults
 *   (up to 10 threads), max_write 1 MiB, no splice, no writeback cache,
 *   entry and attribute timeouts 1 s, negative entries cached 1 s.
 * - flush, fsync, access and the xattr calls are not implemented: libfuse
 *   answers ENOSYS once and the kernel stops sending them (the cheapest a
 *   FUSE file system can be; a real one pays a round trip for each).
 * - One mutex guards all metadata (taken for microseconds; on 2 CPUs a
 *   finer scheme would only add cost). Timestamps are the wall clock.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse3/fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NF_TIMEOUT 1.0
#define NF_MAX_WRITE (1u << 20)
#define NF_ZEROS (1u << 20) /* the largest read the kernel sends at max_pages 256 */

struct nf_dirent;

struct nf_inode {
	fuse_ino_t ino;
	struct nf_inode *hnext; /* chain in nf.inodes */
	uint64_t nlookup;	/* references the kernel holds (lookup counts) */
	mode_t mode;
	nlink_t nlink;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	off_t size;
	struct timespec atime, mtime, ctime;
	char *target; /* symlink */
	/* directories: entries in creation order (readdir cookies increase
	 * along the list, so a cookie stays valid while entries come and go) */
	struct nf_dirent *first, *last;
	uint64_t next_cookie;
	uint64_t nentries;
	fuse_ino_t parent;
};

struct nf_dirent {
	struct nf_dirent *hnext; /* chain in nf.dirents */
	struct nf_dirent *prev, *next;
	struct nf_inode *dir, *child;
	uint64_t cookie;
	uint64_t hash;
	char name[];
};

struct nf_table {
	void **b;
	size_t mask; /* buckets - 1, a power of two minus one */
	size_t count;
};

struct nf {
	pthread_mutex_t lock; /* guards everything below and every inode */
	struct nf_table inodes;
	struct nf_table dirents;
	fuse_ino_t next_ino;
	uint64_t n_write, n_read, max_write_seen, n_make, n_lookup, n_forget, n_getattr;
};

static char nf_zeros[NF_ZEROS]; /* never written: bss, the zero page */

static uint64_t nf_hash_name(fuse_ino_t dir, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)dir * 0x9e3779b97f4a7c15ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h ^ (h >> 29);
}

static uint64_t nf_hash_ino(fuse_ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull;

	return h ^ (h >> 31);
}

static int nf_table_init(struct nf_table *t, size_t buckets)
{
	t->b = calloc(buckets, sizeof(*t->b));
	t->mask = buckets - 1;
	t->count = 0;
	return t->b ? 0 : -ENOMEM;
}

/* Double the inode table when it is fuller than one entry per bucket. */
static void nf_inodes_grow(struct nf *nf)
{
	struct nf_table *t = &nf->inodes;
	size_t n = (t->mask + 1) * 2, i;
	void **b;

	if (t->count <= t->mask + 1)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (i = 0; i <= t->mask; i++) {
		struct nf_inode *in = t->b[i], *next;

		for (; in; in = next) {
			size_t k = nf_hash_ino(in->ino) & (n - 1);

			next = in->hnext;
			in->hnext = b[k];
			b[k] = in;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = n - 1;
}

static void nf_dirents_grow(struct nf *nf)
{
	struct nf_table *t = &nf->dirents;
	size_t n = (t->mask + 1) * 2, i;
	void **b;

	if (t->count <= t->mask + 1)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i <= t->mask; i++) {
		struct nf_dirent *d = t->b[i], *next;

		for (; d; d = next) {
			size_t k = d->hash & (n - 1);

			next = d->hnext;
			d->hnext = b[k];
			b[k] = d;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = n - 1;
}

static struct nf_inode *nf_iget(struct nf *nf, fuse_ino_t ino)
{
	struct nf_inode *in = nf->inodes.b[nf_hash_ino(ino) & nf->inodes.mask];

	while (in && in->ino != ino)
		in = in->hnext;
	return in;
}

static struct nf_dirent *nf_dget(struct nf *nf, struct nf_inode *dir, const char *name)
{
	uint64_t h = nf_hash_name(dir->ino, name);
	struct nf_dirent *d = nf->dirents.b[h & nf->dirents.mask];

	while (d && !(d->hash == h && d->dir == dir && strcmp(d->name, name) == 0))
		d = d->hnext;
	return d;
}

static void nf_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static struct nf_inode *nf_inode_new(struct nf *nf, mode_t mode, const struct fuse_ctx *ctx)
{
	struct nf_inode *in = calloc(1, sizeof(*in));
	size_t k;

	if (!in)
		return NULL;
	in->ino = nf->next_ino++;
	in->mode = mode;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->uid = ctx ? ctx->uid : 0;
	in->gid = ctx ? ctx->gid : 0;
	in->next_cookie = 3; /* 1 and 2 are "." and ".." */
	nf_now(&in->mtime);
	in->atime = in->ctime = in->mtime;
	k = nf_hash_ino(in->ino) & nf->inodes.mask;
	in->hnext = nf->inodes.b[k];
	nf->inodes.b[k] = in;
	nf->inodes.count++;
	nf_inodes_grow(nf);
	return in;
}

/* Free an inode nobody names and the kernel has forgotten. */
static void nf_inode_maybe_free(struct nf *nf, struct nf_inode *in)
{
	struct nf_inode **p;

	if (in->nlink > 0 || in->nlookup > 0 || in->ino == FUSE_ROOT_ID)
		return;
	for (p = (struct nf_inode **)&nf->inodes.b[nf_hash_ino(in->ino) & nf->inodes.mask]; *p != in;
	     p = &(*p)->hnext)
		;
	*p = in->hnext;
	nf->inodes.count--;
	free(in->target);
	free(in);
}

static int nf_link_add(struct nf *nf, struct nf_inode *dir, const char *name, struct nf_inode *child)
{
	size_t len = strlen(name);
	struct nf_dirent *d = malloc(sizeof(*d) + len + 1);
	size_t k;

	if (!d)
		return -ENOMEM;
	memcpy(d->name, name, len + 1);
	d->dir = dir;
	d->child = child;
	d->hash = nf_hash_name(dir->ino, name);
	d->cookie = dir->next_cookie++;
	d->next = NULL;
	d->prev = dir->last;
	if (dir->last)
		dir->last->next = d;
	else
		dir->first = d;
	dir->last = d;
	dir->nentries++;
	k = d->hash & nf->dirents.mask;
	d->hnext = nf->dirents.b[k];
	nf->dirents.b[k] = d;
	nf->dirents.count++;
	nf_dirents_grow(nf);
	nf_now(&dir->mtime);
	dir->ctime = dir->mtime;
	return 0;
}

/* Remove the entry (not the inode: the caller drops the link count). */
static void nf_link_del(struct nf *nf, struct nf_dirent *d)
{
	struct nf_dirent **p = (struct nf_dirent **)&nf->dirents.b[d->hash & nf->dirents.mask];
	struct nf_inode *dir = d->dir;

	while (*p != d)
		p = &(*p)->hnext;
	*p = d->hnext;
	nf->dirents.count--;
	if (d->prev)
		d->prev->next = d->next;
	else
		dir->first = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		dir->last = d->prev;
	dir->nentries--;
	nf_now(&dir->mtime);
	dir->ctime = dir->mtime;
	free(d);
}

static void nf_stat(const struct nf_inode *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = in->mode;
	st->st_nlink = in->nlink;
	st->st_uid = in->uid;
	st->st_gid = in->gid;
	st->st_rdev = in->rdev;
	st->st_size = in->size;
	st->st_blksize = NF_MAX_WRITE;
	st->st_blocks = (in->size + 511) / 512;
	st->st_atim = in->atime;
	st->st_mtim = in->mtime;
	st->st_ctim = in->ctime;
}

/* Fill e for in and count the lookup the reply gives the kernel. */
static void nf_entry(struct nf_inode *in, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr_timeout = NF_TIMEOUT;
	e->entry_timeout = NF_TIMEOUT;
	nf_stat(in, &e->attr);
	in->nlookup++;
}

static struct nf *nf_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void nf_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = NF_MAX_WRITE;
	/* fuse-ceiling.md: splice loses on this kernel, writeback cache too */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
			FUSE_CAP_WRITEBACK_CACHE);
}

static void nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nf *nf = nf_of(req);
	struct fuse_entry_param e;
	struct nf_inode *dir;
	struct nf_dirent *d;

	pthread_mutex_lock(&nf->lock);
	nf->n_lookup++;
	dir = nf_iget(nf, parent);
	if (!dir || !S_ISDIR(dir->mode)) {
		pthread_mutex_unlock(&nf->lock);
		fuse_reply_err(req, dir ? ENOTDIR : ENOENT);
		return;
	}
	if (strcmp(name, ".") == 0)
		nf_entry(dir, &e);
	else if (strcmp(name, "..") == 0)
		nf_entry(nf_iget(nf, dir->parent), &e);
	else if ((d = nf_dget(nf, dir, name)))
		nf_entry(d->child, &e);
	else {
		/* a negative entry, cached by the kernel for the timeout */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = NF_TIMEOUT;
	}
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_entry(req, &e);
}

static void nf_forget_locked(struct nf *nf, fuse_ino_t ino, uint64_t n)
{
	struct nf_inode *in = nf_iget(nf, ino);

	nf->n_forget++;
	if (!in)
		return;
	in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
	nf_inode_maybe_free(nf, in);
}

static void nf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct nf *nf = nf_of(req);

	pthread_mutex_lock(&nf->lock);
	nf_forget_locked(nf, ino, nlookup);
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_none(req);
}

static void nf_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fd)
{
	struct nf *nf = nf_of(req);
	size_t i;

	pthread_mutex_lock(&nf->lock);
	for (i = 0; i < count; i++)
		nf_forget_locked(nf, fd[i].ino, fd[i].nlookup);
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_none(req);
}

static void nf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *in;
	struct stat st;

	(void)fi;
	pthread_mutex_lock(&nf->lock);
	nf->n_getattr++;
	in = nf_iget(nf, ino);
	if (in)
		nf_stat(in, &st);
	pthread_mutex_unlock(&nf->lock);
	if (in)
		fuse_reply_attr(req, &st, NF_TIMEOUT);
	else
		fuse_reply_err(req, ENOENT);
}

static void nf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *in;
	struct timespec now;
	struct stat st;
	int err = 0;

	(void)fi;
	nf_now(&now);
	pthread_mutex_lock(&nf->lock);
	in = nf_iget(nf, ino);
	if (!in) {
		err = ENOENT;
	} else if ((to_set & FUSE_SET_ATTR_SIZE) && !S_ISREG(in->mode)) {
		err = S_ISDIR(in->mode) ? EISDIR : EINVAL;
	} else {
		if (to_set & FUSE_SET_ATTR_MODE)
			in->mode = (in->mode & S_IFMT) | (attr->st_mode & 07777);
		if (to_set & FUSE_SET_ATTR_UID)
			in->uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			in->gid = attr->st_gid;
		if (to_set & FUSE_SET_ATTR_SIZE) {
			in->size = attr->st_size;
			in->mtime = now;
		}
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			in->atime = now;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			in->atime = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			in->mtime = now;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			in->mtime = attr->st_mtim;
		in->ctime = (to_set & FUSE_SET_ATTR_CTIME) ? attr->st_ctim : now;
		nf_stat(in, &st);
	}
	pthread_mutex_unlock(&nf->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, NF_TIMEOUT);
}

/* Make a node named name in parent; on success fills e (one lookup). */
static int nf_make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
		   const char *target, struct fuse_entry_param *e)
{
	struct nf *nf = nf_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct nf_inode *dir, *in = NULL;
	char *t = NULL;
	int err = 0;

	if (strlen(name) > 255)
		return ENAMETOOLONG;
	if (target && !(t = strdup(target)))
		return ENOMEM;
	pthread_mutex_lock(&nf->lock);
	dir = nf_iget(nf, parent);
	if (!dir)
		err = ENOENT;
	else if (!S_ISDIR(dir->mode))
		err = ENOTDIR;
	else if (dir->nlink == 0)
		err = ENOENT; /* removed directory */
	else if (nf_dget(nf, dir, name))
		err = EEXIST;
	else if (!(in = nf_inode_new(nf, mode, ctx)))
		err = ENOMEM;
	if (!err) {
		in->rdev = rdev;
		in->target = t;
		t = NULL;
		if (in->target)
			in->size = (off_t)strlen(in->target);
		if (S_ISDIR(mode))
			in->parent = dir->ino;
		if (nf_link_add(nf, dir, name, in)) {
			in->nlink = 0;
			nf_inode_maybe_free(nf, in);
			err = ENOMEM;
		} else {
			if (S_ISDIR(mode))
				dir->nlink++;
			nf->n_make++;
			nf_entry(in, e);
		}
	}
	pthread_mutex_unlock(&nf->lock);
	free(t);
	return err;
}

static void nf_reply_make(fuse_req_t req, int err, struct fuse_entry_param *e)
{
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, e);
}

static void nf_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;

	nf_reply_make(req, nf_make(req, parent, name, mode, rdev, NULL, &e), &e);
}

static void nf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;

	nf_reply_make(req, nf_make(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL, &e), &e);
}

static void nf_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	nf_reply_make(req, nf_make(req, parent, name, S_IFLNK | 0777, 0, link, &e), &e);
}

static void nf_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err = nf_make(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, &e);

	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = 0;
	fuse_reply_create(req, &e, fi);
}

static void nf_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct nf *nf = nf_of(req);
	char buf[4096];
	struct nf_inode *in;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	in = nf_iget(nf, ino);
	if (!in || !in->target)
		err = in ? EINVAL : ENOENT;
	else
		snprintf(buf, sizeof(buf), "%s", in->target);
	pthread_mutex_unlock(&nf->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, buf);
}

static void nf_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct nf *nf = nf_of(req);
	struct fuse_entry_param e;
	struct nf_inode *in, *dir;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	in = nf_iget(nf, ino);
	dir = nf_iget(nf, newparent);
	if (!in || !dir || dir->nlink == 0)
		err = ENOENT;
	else if (!S_ISDIR(dir->mode))
		err = ENOTDIR;
	else if (S_ISDIR(in->mode))
		err = EPERM;
	else if (nf_dget(nf, dir, newname))
		err = EEXIST;
	else if (nf_link_add(nf, dir, newname, in))
		err = ENOMEM;
	else {
		in->nlink++;
		nf_now(&in->ctime);
		nf_entry(in, &e);
	}
	pthread_mutex_unlock(&nf->lock);
	nf_reply_make(req, err, &e);
}

/* Drop the entry d and one link of its inode (two links for a directory:
 * its own "." and the parent's ".."). */
static void nf_unlink_entry(struct nf *nf, struct nf_dirent *d)
{
	struct nf_inode *in = d->child, *dir = d->dir;

	nf_link_del(nf, d);
	if (S_ISDIR(in->mode)) {
		in->nlink = 0;
		dir->nlink--;
	} else {
		in->nlink--;
	}
	nf_now(&in->ctime);
	nf_inode_maybe_free(nf, in);
}

static void nf_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool want_dir)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *dir;
	struct nf_dirent *d = NULL;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	dir = nf_iget(nf, parent);
	if (!dir)
		err = ENOENT;
	else if (!S_ISDIR(dir->mode))
		err = ENOTDIR;
	else if (!(d = nf_dget(nf, dir, name)))
		err = ENOENT;
	else if (want_dir && !S_ISDIR(d->child->mode))
		err = ENOTDIR;
	else if (!want_dir && S_ISDIR(d->child->mode))
		err = EISDIR;
	else if (want_dir && d->child->nentries)
		err = ENOTEMPTY;
	else
		nf_unlink_entry(nf, d);
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_err(req, err);
}

static void nf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	nf_remove(req, parent, name, false);
}

static void nf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	nf_remove(req, parent, name, true);
}

/* Is a an ancestor of (or the same directory as) b? */
static bool nf_is_ancestor(struct nf *nf, struct nf_inode *a, struct nf_inode *b)
{
	while (b) {
		if (b == a)
			return true;
		if (b->ino == FUSE_ROOT_ID)
			return false;
		b = nf_iget(nf, b->parent);
	}
	return false;
}

static void nf_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *dir, *ndir, *in;
	struct nf_dirent *d, *nd;
	int err = 0;

	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, WHITEOUT: not here */
		return;
	}
	if (strlen(newname) > 255) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	pthread_mutex_lock(&nf->lock);
	dir = nf_iget(nf, parent);
	ndir = nf_iget(nf, newparent);
	d = dir ? nf_dget(nf, dir, name) : NULL;
	nd = ndir ? nf_dget(nf, ndir, newname) : NULL;
	in = d ? d->child : NULL;
	if (!d || !ndir || ndir->nlink == 0)
		err = ENOENT;
	else if (nd && nd->child == in)
		err = 0; /* same inode: nothing to do (POSIX) */
	else if (nd && (flags & RENAME_NOREPLACE))
		err = EEXIST;
	else if (S_ISDIR(in->mode) && nf_is_ancestor(nf, in, ndir))
		err = EINVAL;
	else if (nd && S_ISDIR(in->mode) && !S_ISDIR(nd->child->mode))
		err = ENOTDIR;
	else if (nd && !S_ISDIR(in->mode) && S_ISDIR(nd->child->mode))
		err = EISDIR;
	else if (nd && S_ISDIR(nd->child->mode) && nd->child->nentries)
		err = ENOTEMPTY;
	else if (nf_link_add(nf, ndir, newname, in))
		err = ENOMEM;
	else {
		/* the new entry is at the end of ndir's list; drop the old
		 * target, then the old name */
		if (nd)
			nf_unlink_entry(nf, nd);
		nf_link_del(nf, d);
		if (S_ISDIR(in->mode) && dir != ndir) {
			dir->nlink--;
			ndir->nlink++;
			in->parent = ndir->ino;
		}
		nf_now(&in->ctime);
	}
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_err(req, err);
}

static void nf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *in;
	off_t fsize = 0;

	(void)fi;
	pthread_mutex_lock(&nf->lock);
	nf->n_read++;
	in = nf_iget(nf, ino);
	if (in)
		fsize = in->size;
	pthread_mutex_unlock(&nf->lock);
	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (off >= fsize)
		size = 0;
	else if ((off_t)size > fsize - off)
		size = (size_t)(fsize - off);
	if (size > sizeof(nf_zeros))
		size = sizeof(nf_zeros);
	fuse_reply_buf(req, nf_zeros, size);
}

static void nf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *in;
	struct timespec now;

	(void)buf; /* already copied once from the kernel: that is the cost kept */
	(void)fi;
	nf_now(&now);
	pthread_mutex_lock(&nf->lock);
	nf->n_write++;
	if (size > nf->max_write_seen)
		nf->max_write_seen = size;
	in = nf_iget(nf, ino);
	if (in) {
		if (off + (off_t)size > in->size)
			in->size = off + (off_t)size;
		in->mtime = in->ctime = now;
	}
	pthread_mutex_unlock(&nf->lock);
	if (in)
		fuse_reply_write(req, size);
	else
		fuse_reply_err(req, ENOENT);
}

static void nf_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *in;
	int err = 0;

	(void)fi;
	if (mode != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	pthread_mutex_lock(&nf->lock);
	in = nf_iget(nf, ino);
	if (!in)
		err = ENOENT;
	else if (off + len > in->size)
		in->size = off + len;
	pthread_mutex_unlock(&nf->lock);
	fuse_reply_err(req, err);
}

static void nf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct nf *nf = nf_of(req);
	struct nf_inode *dir;
	struct nf_dirent *d;
	struct stat st = {0};
	size_t used = 0, n;
	char *buf;
	int err = 0;

	(void)fi;
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&nf->lock);
	dir = nf_iget(nf, ino);
	if (!dir || !S_ISDIR(dir->mode)) {
		err = dir ? ENOTDIR : ENOENT;
		goto out;
	}
	if (off < 1) {
		st.st_ino = dir->ino;
		st.st_mode = S_IFDIR;
		n = fuse_add_direntry(req, buf + used, size - used, ".", &st, 1);
		if (n > size - used)
			goto out;
		used += n;
	}
	if (off < 2) {
		st.st_ino = dir->parent;
		st.st_mode = S_IFDIR;
		n = fuse_add_direntry(req, buf + used, size - used, "..", &st, 2);
		if (n > size - used)
			goto out;
		used += n;
	}
	for (d = dir->first; d && d->cookie <= (uint64_t)off; d = d->next)
		;
	for (; d; d = d->next) {
		st.st_ino = d->child->ino;
		st.st_mode = d->child->mode & S_IFMT;
		n = fuse_add_direntry(req, buf + used, size - used, d->name, &st, (off_t)d->cookie);
		if (n > size - used)
			break;
		used += n;
	}
out:
	pthread_mutex_unlock(&nf->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void nf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct nf *nf = nf_of(req);
	struct statvfs sv = {0};

	(void)ino;
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = sv.f_bfree = sv.f_bavail = 1ull << 40; /* 4 PiB: data is discarded */
	pthread_mutex_lock(&nf->lock);
	sv.f_files = nf->inodes.count + (1ull << 32);
	sv.f_ffree = sv.f_favail = 1ull << 32;
	pthread_mutex_unlock(&nf->lock);
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* Free everything (at exit, after the session: no request can run). */
static void nf_destroy_all(struct nf *nf)
{
	size_t i;

	for (i = 0; i <= nf->dirents.mask; i++) {
		struct nf_dirent *d = nf->dirents.b[i], *next;

		for (; d; d = next) {
			next = d->hnext;
			free(d);
		}
	}
	for (i = 0; i <= nf->inodes.mask; i++) {
		struct nf_inode *in = nf->inodes.b[i], *next;

		for (; in; in = next) {
			next = in->hnext;
			free(in->target);
			free(in);
		}
	}
	free(nf->dirents.b);
	free(nf->inodes.b);
	pthread_mutex_destroy(&nf->lock);
}

static const struct fuse_lowlevel_ops nf_ops = {
	.init = nf_init,
	.lookup = nf_lookup,
	.forget = nf_forget,
	.forget_multi = nf_forget_multi,
	.getattr = nf_getattr,
	.setattr = nf_setattr,
	.readlink = nf_readlink,
	.mknod = nf_mknod,
	.mkdir = nf_mkdir,
	.unlink = nf_unlink,
	.rmdir = nf_rmdir,
	.symlink = nf_symlink,
	.rename = nf_rename,
	.link = nf_link,
	.read = nf_read,
	.write = nf_write,
	.readdir = nf_readdir,
	.statfs = nf_statfs,
	.create = nf_create,
	.fallocate = nf_fallocate,
};

static void usage(void)
{
	fprintf(stderr, "usage: nullfs [-v] [-p] MOUNTPOINT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc;
	struct fuse_session *se;
	struct nf nf = {.next_ino = FUSE_ROOT_ID};
	struct nf_inode *root;
	const char *mnt;
	bool verbose = false, perm = false;
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "vp")) != -1) {
		if (opt == 'v')
			verbose = true;
		else if (opt == 'p')
			perm = true;
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	mnt = argv[optind];

	pthread_mutex_init(&nf.lock, NULL);
	if (nf_table_init(&nf.inodes, 1024) || nf_table_init(&nf.dirents, 1024)) {
		fprintf(stderr, "nullfs: out of memory\n");
		return 1;
	}
	root = nf_inode_new(&nf, S_IFDIR | 0755, NULL);
	if (!root) {
		fprintf(stderr, "nullfs: out of memory\n");
		return 1;
	}
	root->parent = FUSE_ROOT_ID;
	root->nlookup = 1; /* the kernel's reference to the root, never forgotten */

	if (fuse_opt_add_arg(&args, "nullfs") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, perm ? "fsname=nullfs,subtype=nullfs,default_permissions,allow_other"
				       : "fsname=nullfs,subtype=nullfs")) {
		fprintf(stderr, "nullfs: out of memory\n");
		return 1;
	}
	se = fuse_session_new(&args, &nf_ops, sizeof(nf_ops), &nf);
	if (!se) {
		fprintf(stderr, "nullfs: fuse_session_new failed\n");
		goto out_args;
	}
	if (fuse_set_signal_handlers(se)) {
		fprintf(stderr, "nullfs: cannot set signal handlers\n");
		goto out_session;
	}
	if (fuse_session_mount(se, mnt)) {
		fprintf(stderr, "nullfs: cannot mount on %s\n", mnt);
		goto out_signals;
	}
	printf("nullfs: mounted %s\n", mnt);
	fflush(stdout);

	lc = fuse_loop_cfg_create(); /* libfuse's defaults: up to 10 threads */
	if (!lc) {
		fprintf(stderr, "nullfs: out of memory\n");
		fuse_session_unmount(se);
		goto out_signals;
	}
	rc = fuse_session_loop_mt(se, lc) ? 1 : 0;
	fuse_loop_cfg_destroy(lc);
	fuse_session_unmount(se);
	if (verbose)
		fprintf(stderr,
			"nullfs: writes=%llu max_write_seen=%llu reads=%llu made=%llu lookups=%llu "
			"getattrs=%llu forgets=%llu inodes_left=%zu\n",
			(unsigned long long)nf.n_write, (unsigned long long)nf.max_write_seen,
			(unsigned long long)nf.n_read, (unsigned long long)nf.n_make,
			(unsigned long long)nf.n_lookup, (unsigned long long)nf.n_getattr,
			(unsigned long long)nf.n_forget, nf.inodes.count);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	nf_destroy_all(&nf);
	return rc;
}
