/*
 * fs/vnode.c - the name space operations of fs/fs.h: lookup, create,
 * mkdir, mknod, symlink, link, unlink, rmdir, rename, getattr, setattr,
 * open, release, readdir, statfs, forget.
 *
 * Every operation takes the inode tokens of what it reads (ro) or changes
 * (xw), parents before children and inodes of one level in ascending
 * number (fs/sg_int.h, lock order), then runs one transaction. "." and
 * ".." are not stored: a directory's parent is its inode's rdev field
 * (format.h), 0 for the root, whose parent is itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/acl.h"
#include "fs/sg_int.h"

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

bool sg_is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

static void dir_back(struct fs_inode *in, const struct fs_dir *d)
{
	in->depth = d->depth;
	in->tail_len = d->tail_len;
	if (d->in_inode)
		in->flags |= FS_IF_DATA_IN_INODE;
	else
		in->flags &= ~FS_IF_DATA_IN_INODE;
	if (!d->in_inode)
		in->tail_len = 0;
}

int sg_dir_find(fs_sg *sg, struct fs_inode *dir, const char *name, struct fs_dirent *e)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, NULL, dir, &d);
	rc = fs_dir_lookup(&d, name, strlen(name), e);
	if (rc && rc != MM_ENOENT)
		sg_logf(sg, rc, "directory %" PRIu64 ": %s", dir->ino, d.err);
	return rc == MM_ENOENT ? -ENOENT : fs_errno(rc);
}

int sg_dir_add(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name, uint64_t ino,
	       uint32_t gen, uint8_t type, bool absent)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, tx, dir, &d);
	tx->dview = &d;
	tx->dview_in = dir;
	rc = (absent ? fs_dir_insert_new : fs_dir_insert)(&d, name, strlen(name), ino, gen, type);
	tx->dview = NULL;
	if (d.inode_dirty)
		dir_back(dir, &d);
	if (rc == MM_ETOOBIG)
		return -ENOSPC;
	if (rc && rc != MM_EEXIST)
		sg_logf(sg, rc, "directory %" PRIu64 ": %s", dir->ino, d.err);
	return fs_errno(rc);
}

int sg_dir_del(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, tx, dir, &d);
	tx->dview = &d;
	tx->dview_in = dir;
	rc = fs_dir_remove(&d, name, strlen(name), NULL);
	tx->dview = NULL;
	if (d.inode_dirty)
		dir_back(dir, &d);
	if (rc && rc != MM_ENOENT)
		sg_logf(sg, rc, "directory %" PRIu64 ": %s", dir->ino, d.err);
	return fs_errno(rc);
}

/*
 * Negative lookups. A create is a LOOKUP that finds nothing, then a
 * CREATE of the same name: without this, the name's directory block is
 * walked three times (the lookup, the create's own check, the insert's),
 * each a walk of up to ~2000 entries. A lookup that finds nothing notes
 * the name with the directory's ip->ver; a make under the directory's
 * exclusive token that finds its name noted with the ver it read itself
 * knows the name is absent: no change of the directory's entries can
 * have come in between, since each one replaces the directory's record
 * (its mtime), and dropping or replacing the record bumps ver (sg_iset,
 * a revoke, an aborted transaction, a read from disk). A note is used
 * once. Names longer than NEG_NAME are not noted.
 */
#define NEG_SLOTS 4
#define NEG_NAME 71

struct sg_neg {
	unsigned next;
	struct {
		uint64_t ver;
		uint8_t len;		/* 0: empty */
		char name[NEG_NAME];
	} s[NEG_SLOTS];
};

static void neg_note(struct sg_ino *dip, uint64_t ver, const char *name)
{
	size_t len = strlen(name);
	struct sg_neg *n;

	if (len > NEG_NAME)
		return;
	pthread_mutex_lock(&dip->mu);
	if (!dip->neg)
		dip->neg = calloc(1, sizeof(*dip->neg));
	if ((n = dip->neg)) {
		unsigned k = n->next++ % NEG_SLOTS;

		n->s[k].ver = ver;
		n->s[k].len = (uint8_t)len;
		memcpy(n->s[k].name, name, len);
	}
	pthread_mutex_unlock(&dip->mu);
}

/* Was <name> noted absent at <ver>, the directory's ver now? Takes the note. */
static bool neg_take(struct sg_ino *dip, uint64_t ver, const char *name)
{
	size_t len = strlen(name);
	bool hit = false;
	struct sg_neg *n;

	pthread_mutex_lock(&dip->mu);
	if ((n = dip->neg))
		for (unsigned k = 0; k < NEG_SLOTS && !hit; k++)
			if (n->s[k].len == len && n->s[k].ver == ver && ver == dip->ver &&
			    !memcmp(n->s[k].name, name, len)) {
				n->s[k].len = 0;
				hit = true;
			}
	pthread_mutex_unlock(&dip->mu);
	return hit;
}

/* The parent of directory <in>: its rdev (format.h; the root's is itself). */
static uint64_t dir_parent(fs_sg *sg, struct fs_inode *in)
{
	(void)sg;
	return in->rdev ? in->rdev : FS_ROOT_INO;
}

int sg_dir_empty(fs_sg *sg, struct fs_inode *in)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, NULL, in, &d);
	rc = fs_dir_is_empty(&d);
	return rc < 0 ? fs_errno(rc) : rc;
}

static uint32_t new_gen(void)
{
	static atomic_uint g;
	struct fs_time t;

	sg_now(&t);
	return (uint32_t)(t.sec << 12) + atomic_fetch_add(&g, 1);
}

static void lookup_ref(struct sg_ino *ip)
{
	pthread_mutex_lock(&ip->mu);
	if (ip->nlookup++ == 0 && !ip->nopen)
		ip->refs++;	/* the kernel's names hold one reference */
	pthread_mutex_unlock(&ip->mu);
}

/* ---- lookup, getattr ---- */

/* Attributes of <ino>, counting a lookup (readdirplus). */
int sg_lookup_ino(fs_sg *sg, uint64_t ino, struct fs_attr *out)
{
	struct sg_vn v;
	int rc = sg_vn_get(sg, ino, TOK_RO, &v);

	if (rc)
		return rc;
	sg_fill_attr(sg, &v.in, out);
	lookup_ref(v.ip);
	sg_vn_put(sg, &v);
	return 0;
}

int fs_lookup(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name,
	      struct fs_attr *out)
{
	struct sg_vn d, v;
	struct fs_dirent e;
	uint64_t ino;
	int rc;

	rc = check_name(name);
	if (rc)
		return rc;
	rc = sg_vn_get(sg, dir, TOK_RO, &d);
	if (rc)
		return rc;
	/* "." of any inode is a lookup by number (a file handle's, fs.h):
	 * one no name reaches any more is stale */
	if (!strcmp(name, ".") && d.in.nlink == 0)
		rc = -ESTALE;
	else if (!S_ISDIR(d.in.mode) && strcmp(name, "."))
		rc = -ENOTDIR;
	else if (c && S_ISDIR(d.in.mode))
		rc = sg_perm(c, &d.in, 1);
	if (!rc) {
		if (!strcmp(name, "."))
			ino = dir;
		else if (!strcmp(name, ".."))
			ino = dir_parent(sg, &d.in);
		else if (!(rc = sg_dir_find(sg, &d.in, name, &e)))
			ino = e.ino;
		else if (rc == -ENOENT)
			neg_note(d.ip, d.ver, name);
	}
	atomic_fetch_add(&sg->st_lookups, 1);
	if (!rc && ino == dir) {
		sg_fill_attr(sg, &d.in, out);
		lookup_ref(d.ip);
		sg_vn_put(sg, &d);
		return 0;
	}
	if (rc) {
		sg_vn_put(sg, &d);
		return rc;
	}
	/* ".." is the parent: take it after letting the child go */
	if (!strcmp(name, "..")) {
		sg_vn_put(sg, &d);
		rc = sg_vn_get(sg, ino, TOK_RO, &v);
	} else {
		rc = sg_vn_get(sg, ino, TOK_RO, &v);
		sg_vn_put(sg, &d);
	}
	if (rc)
		return rc == -ESTALE ? -ENOENT : rc;
	sg_fill_attr(sg, &v.in, out);
	lookup_ref(v.ip);
	sg_vn_put(sg, &v);
	return 0;
}

int fs_getattr(fs_sg *sg, uint64_t ino, struct fs_attr *out)
{
	struct sg_vn v;
	int rc = sg_vn_get(sg, ino, TOK_RO, &v);

	if (rc)
		return rc;
	sg_fill_attr(sg, &v.in, out);
	sg_vn_put(sg, &v);
	return 0;
}

int fs_access(fs_sg *sg, const struct fs_cred *c, uint64_t ino, int mask)
{
	struct sg_vn v;
	int rc = sg_vn_get(sg, ino, TOK_RO, &v);

	if (rc)
		return rc;
	rc = mask ? sg_perm(c, &v.in, mask & 7) : 0;
	sg_vn_put(sg, &v);
	return rc;
}

/* ---- making objects ---- */

/*
 * A new object named <name> in <dir>; with no name, an anonymous regular
 * file (O_TMPFILE): no links, an orphan from its first commit, the
 * directory untouched (read only for its permission, group and default
 * ACL), freed at its last close unless fs_link names it first.
 */
static int make(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
		uint64_t rdev, const char *target, struct fs_attr *out, struct sg_ino **ipout)
{
	struct sg_vn d;
	struct sg_tx *tx = NULL;
	struct sg_ino *ip = NULL;
	struct tok_holder h;
	struct fs_inode in;
	struct fs_dirent e;
	uint64_t ino;
	const bool anon = !name;
	bool held = false, absent = false;
	int rc;

	if (sg->ro)
		return -EROFS;
	if (!anon && (rc = check_name(name)))
		return rc;
	if (!anon && sg_is_dot(name))
		return -EEXIST;
	/* PATH_MAX counts the terminating NUL (symlink(2)) */
	if (target && strlen(target) >= PATH_MAX)
		return -ENAMETOOLONG;
	rc = sg_vn_get(sg, dir, anon ? TOK_RO : TOK_XW, &d);
	if (rc)
		return rc;
	if (!S_ISDIR(d.in.mode))
		rc = -ENOTDIR;
	else if (d.in.nlink == 0)
		rc = -ENOENT;
	else
		rc = sg_perm(c, &d.in, 3);
	if (!rc && !anon)
		absent = neg_take(d.ip, d.ver, name);
	if (!rc && !anon && !absent) {
		rc = sg_dir_find(sg, &d.in, name, &e);
		rc = rc == -ENOENT ? 0 : rc ? rc : -EEXIST;
	}
	if (!rc && S_ISDIR(mode) && d.in.nlink >= 0xfffffff0u)
		rc = -EMLINK;
	if (!rc)
		rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (rc)
		goto out;
	rc = fs_errno(sg_tx_alloc_inode(tx, &ino));
	if (!rc)
		rc = fs_errno(sg_iget(sg, ino, &ip));
	if (!rc) {
		rc = fs_errno(sg_itok(sg, ip, TOK_XW, &h));
		held = !rc;
	}
	if (rc)
		goto abort;
	memset(&in, 0, sizeof(in));
	in.ino = ino;
	/* a default ACL of the directory takes the umask's place (fs/acl.h) */
	rc = sg_acl_inherit(&d.in, &in, &mode);
	if (rc < 0)
		goto abort;
	if (rc == 0 && !S_ISLNK(mode))
		mode &= ~c->umask | S_IFMT;
	rc = 0;
	in.gen = new_gen();
	in.mode = mode;
	in.uid = c->uid;
	in.gid = c->gid;
	if (d.in.mode & S_ISGID) {
		in.gid = d.in.gid;
		if (S_ISDIR(mode))
			in.mode |= S_ISGID;
	} else if ((in.mode & S_ISGID) && c->uid != 0 && !sg_in_group(c, in.gid)) {
		in.mode &= ~(uint32_t)S_ISGID;
	}
	in.nlink = anon ? 0 : S_ISDIR(mode) ? 2 : 1;
	in.data_rep = sg->sgd.data_rep;
	in.meta_rep = sg->sgd.meta_rep;
	if (S_ISCHR(mode) || S_ISBLK(mode))
		in.rdev = rdev;
	sg_now(&in.crtime);
	in.atime = in.mtime = in.ctime = in.crtime;
	if (S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode))
		in.flags = FS_IF_DATA_IN_INODE;
	if (S_ISLNK(mode)) {
		size_t n = strlen(target);

		in.size = n;
		if (n <= FS_TAIL_BYTES) {
			memcpy(in.tail, target, n);
			in.tail_len = (uint16_t)n;
		} else {
			/* past the tail area: in block 0, on disk before the
			 * entry that names it commits */
			bool flush0;

			rc = fs_errno(sg_data_from_bytes(sg, tx, &in, target, &flush0));
			if (!rc && flush0)
				rc = fs_errno(pp_flush(sg->pool, sg->fsid, ino, 0, 1));
			if (rc)
				goto abort;
		}
	}
	if (S_ISDIR(mode)) {
		/* its ".." names the parent, which gains a link from it */
		in.rdev = d.in.ino;
		d.in.nlink++;
	}
	if (!rc && !anon)
		rc = fs_errno(sg_tx_inode(tx, d.ip, &d.in));
	if (!rc)
		rc = fs_errno(sg_tx_inode(tx, ip, &in));
	if (!rc && !anon)
		rc = sg_dir_add(sg, tx, &d.in, name, ino, in.gen, sg_dtype(mode), absent);
	if (rc)
		goto abort;
	if (!anon)
		sg_touch(&d.in, true, true);
	rc = fs_errno(sg_tx_commit(tx));
	tx = NULL;
	if (rc)
		goto out;
	atomic_fetch_add(&sg->st_creates, 1);
	sg_fill_attr(sg, &in, out);
	lookup_ref(ip);
	if (ipout) {
		pthread_mutex_lock(&ip->mu);
		ip->refs++;
		pthread_mutex_unlock(&ip->mu);
		*ipout = ip;
	}
	goto out;
abort:
	if (tx)
		sg_tx_abort(tx);
out:
	if (held)
		sg_itok_release(sg, &h);
	if (ip)
		sg_iput(sg, ip);
	sg_vn_put(sg, &d);
	return rc;
}

int fs_mknod(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	     uint64_t rdev, struct fs_attr *out)
{
	uint32_t t = mode & S_IFMT;

	if (t == 0)
		t = S_IFREG;
	if (t != S_IFREG && t != S_IFCHR && t != S_IFBLK && t != S_IFIFO && t != S_IFSOCK)
		return -EINVAL;
	if ((t == S_IFCHR || t == S_IFBLK) && c->uid != 0)
		return -EPERM;
	return make(sg, c, dir, name, t | (mode & 07777), rdev, NULL, out, NULL);
}

int fs_mkdir(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	     struct fs_attr *out)
{
	return make(sg, c, dir, name, S_IFDIR | (mode & 07777), 0, NULL, out, NULL);
}

int fs_symlink(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name,
	       const char *target, struct fs_attr *out)
{
	if (!target[0])
		return -ENOENT;
	return make(sg, c, dir, name, S_IFLNK | 0777, 0, target, out, NULL);
}

ssize_t fs_readlink(fs_sg *sg, uint64_t ino, char *buf, size_t size)
{
	struct sg_vn v;
	int rc = sg_vn_get(sg, ino, TOK_RO, &v);
	ssize_t n;

	if (rc)
		return rc;
	if (!S_ISLNK(v.in.mode)) {
		sg_vn_put(sg, &v);
		return -EINVAL;
	}
	if (v.in.flags & FS_IF_DATA_IN_INODE) {
		n = v.in.tail_len;
		if ((size_t)n > size)
			n = -ERANGE;
		else
			memcpy(buf, v.in.tail, (size_t)n);
	} else if (v.in.size > size) {
		n = -ERANGE;
	} else {
		/* a long target lives in block 0 (make) */
		struct fs_file f = {.ip = v.ip, .flags = O_RDONLY};
		bool due;

		pthread_mutex_init(&f.smu, NULL);
		n = sg_read(sg, &f, buf, (size_t)v.in.size, 0, &due);
		if (f.stream)
			pp_stream_close(f.stream);
		pthread_mutex_destroy(&f.smu);
		if (n >= 0 && (uint64_t)n != v.in.size)
			n = -EIO;
	}
	sg_vn_put(sg, &v);
	return n;
}

static struct fs_file *file_new(struct sg_ino *ip, int flags)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ip = ip;
	f->flags = flags;
	pthread_mutex_init(&f->smu, NULL);
	f->dir = false;	/* both callers make a regular file */
	pthread_mutex_lock(&ip->mu);
	if (ip->nopen++ == 0 && !ip->nlookup)
		ip->refs++;
	pthread_mutex_unlock(&ip->mu);
	return f;
}

int fs_create(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name, uint32_t mode,
	      int flags, struct fs_attr *out, fs_file **f)
{
	struct sg_ino *ip = NULL;
	int rc;

	rc = make(sg, c, dir, name, S_IFREG | (mode & 07777), 0, NULL, out, &ip);
	if (rc == -EEXIST && !(flags & O_EXCL) && !sg_is_dot(name)) {
		/* O_CREAT of an existing file: open it */
		rc = fs_lookup(sg, c, dir, name, out);
		if (rc)
			return rc;
		if (S_ISDIR(out->mode)) {
			fs_forget(sg, out->ino, 1);
			return -EISDIR;
		}
		rc = fs_open(sg, c, out->ino, flags, f);
		if (rc) {
			fs_forget(sg, out->ino, 1);
			return rc;
		}
		return fs_getattr(sg, out->ino, out);
	}
	if (rc)
		return rc;
	*f = file_new(ip, flags);
	sg_iput(sg, ip);
	return *f ? 0 : -ENOMEM;
}

int fs_tmpfile(fs_sg *sg, const struct fs_cred *c, uint64_t dir, uint32_t mode, int flags,
	       struct fs_attr *out, fs_file **f)
{
	struct sg_ino *ip = NULL;
	int rc;

	rc = make(sg, c, dir, NULL, S_IFREG | (mode & 07777), 0, NULL, out, &ip);
	if (rc)
		return rc;
	/* as the kernel's I_LINKABLE: O_EXCL asks that it never be named */
	pthread_mutex_lock(&ip->mu);
	ip->linkable = !(flags & O_EXCL);
	pthread_mutex_unlock(&ip->mu);
	*f = file_new(ip, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	sg_iput(sg, ip);
	return *f ? 0 : -ENOMEM;
}

/* ---- links ---- */

/* An anonymous file (fs_tmpfile) may be named once; after that it is
 * like any other, and the next unlink of its last name is final. */
static bool is_linkable(struct sg_ino *ip)
{
	bool yes;

	pthread_mutex_lock(&ip->mu);
	yes = ip->linkable;
	pthread_mutex_unlock(&ip->mu);
	return yes;
}

static void linked(struct sg_ino *ip)
{
	pthread_mutex_lock(&ip->mu);
	ip->linkable = false;
	pthread_mutex_unlock(&ip->mu);
}

int fs_link(fs_sg *sg, const struct fs_cred *c, uint64_t ino, uint64_t dir, const char *name,
	    struct fs_attr *out)
{
	struct sg_vn d, v;
	struct sg_tx *tx;
	struct fs_dirent e;
	int rc;

	if (sg->ro)
		return -EROFS;
	rc = check_name(name);
	if (rc)
		return rc;
	if (sg_is_dot(name))
		return -EEXIST;
	rc = sg_vn_get(sg, dir, TOK_XW, &d);
	if (rc)
		return rc;
	rc = sg_vn_get(sg, ino, TOK_XW, &v);
	if (rc) {
		sg_vn_put(sg, &d);
		return rc;
	}
	if (!S_ISDIR(d.in.mode))
		rc = -ENOTDIR;
	else if (S_ISDIR(v.in.mode))
		rc = -EPERM;
	else if (v.in.nlink == 0 && !is_linkable(v.ip))
		rc = -ENOENT;	/* unlinked, or an O_TMPFILE | O_EXCL file */
	else if (v.in.nlink >= 0xfffffff0u)
		rc = -EMLINK;
	else
		rc = sg_perm(c, &d.in, 3);
	if (!rc) {
		rc = sg_dir_find(sg, &d.in, name, &e);
		rc = rc == -ENOENT ? 0 : rc ? rc : -EEXIST;
	}
	if (!rc)
		rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (!rc) {
		v.in.nlink++;
		sg_touch(&v.in, false, true);
		sg_touch(&d.in, true, true);
		rc = fs_errno(sg_tx_inode(tx, d.ip, &d.in));
		if (!rc)
			rc = fs_errno(sg_tx_inode(tx, v.ip, &v.in));
		if (!rc)
			rc = sg_dir_add(sg, tx, &d.in, name, v.in.ino, v.in.gen, sg_dtype(v.in.mode), false);
		if (rc)
			sg_tx_abort(tx);
		else
			rc = fs_errno(sg_tx_commit(tx));
	}
	if (!rc) {
		linked(v.ip);
		sg_fill_attr(sg, &v.in, out);
		lookup_ref(v.ip);
	}
	sg_vn_put(sg, &v);
	sg_vn_put(sg, &d);
	return rc;
}

/* Remove <name> from <dir>: a file (dir false) or an empty directory. */
static int remove_name(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name,
		       bool isdir)
{
	struct sg_vn d, v;
	struct sg_tx *tx;
	struct fs_dirent e;
	int rc;

	if (sg->ro)
		return -EROFS;
	rc = check_name(name);
	if (rc)
		return rc;
	if (isdir && !strcmp(name, "."))
		return -EINVAL;
	if (isdir && !strcmp(name, ".."))
		return -ENOTEMPTY;
	if (!isdir && sg_is_dot(name))
		return -EISDIR;
	rc = sg_vn_get(sg, dir, TOK_XW, &d);
	if (rc)
		return rc;
	if (!S_ISDIR(d.in.mode))
		rc = -ENOTDIR;
	else
		rc = sg_perm(c, &d.in, 3);
	if (!rc)
		rc = sg_dir_find(sg, &d.in, name, &e);
	if (rc) {
		sg_vn_put(sg, &d);
		return rc;
	}
	rc = sg_vn_get(sg, e.ino, TOK_XW, &v);
	if (rc) {
		sg_vn_put(sg, &d);
		return rc;
	}
	if (isdir && !S_ISDIR(v.in.mode))
		rc = -ENOTDIR;
	else if (!isdir && S_ISDIR(v.in.mode))
		rc = -EISDIR;
	else if (sg_sticky_denies(c, &d.in, &v.in))
		rc = -EPERM;
	else if (isdir) {
		rc = sg_dir_empty(sg, &v.in);
		rc = rc == 1 ? 0 : rc == 0 ? -ENOTEMPTY : rc;
	}
	if (!rc)
		rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (!rc) {
		if (isdir) {
			v.in.nlink = 0;
			d.in.nlink--;
		} else {
			v.in.nlink--;
		}
		sg_touch(&v.in, false, true);
		sg_touch(&d.in, true, true);
		rc = fs_errno(sg_tx_inode(tx, d.ip, &d.in));
		if (!rc)
			rc = fs_errno(sg_tx_inode(tx, v.ip, &v.in));
		if (!rc)
			rc = sg_dir_del(sg, tx, &d.in, name);
		if (rc)
			sg_tx_abort(tx);
		else
			rc = fs_errno(sg_tx_commit(tx));
	}
	/* no kernel invalidation: the kernel made this change itself (other
	 * nodes' changes reach it through revokes) */
	if (!rc)
		atomic_fetch_add(&sg->st_removes, 1);
	sg_vn_put(sg, &d);
	/* the last name of an inode nobody uses: free it now */
	if (!rc && v.in.nlink == 0) {
		bool unused;

		pthread_mutex_lock(&v.ip->mu);
		unused = !v.ip->nlookup && !v.ip->nopen;
		pthread_mutex_unlock(&v.ip->mu);
		if (unused)
			sg_ifree(sg, v.ip);
	}
	sg_vn_put(sg, &v);
	return rc;
}

int fs_unlink(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name)
{
	return remove_name(sg, c, dir, name, false);
}

int fs_rmdir(fs_sg *sg, const struct fs_cred *c, uint64_t dir, const char *name)
{
	return remove_name(sg, c, dir, name, true);
}

/* Free inode <ip> (nlink 0, unused): its blocks, then its record and
 * number. Called holding its token xw (or none: takes it). */
int sg_ifree(fs_sg *sg, struct sg_ino *ip)
{
	struct fs_inode in;
	struct sg_tx *tx;
	int rc;

	bool blocks;

	rc = sg_iread(sg, ip, &in);
	if (rc || in.nlink)
		return rc;
	/* an inode that never had a block has nothing in the pagepool */
	blocks = !(in.flags & FS_IF_DATA_IN_INODE) || in.level || in.subblocks;
	if (blocks || in.size) {
		rc = sg_truncate(sg, ip, &in, 0);
		if (rc)
			return rc;
	}
	rc = sg_tx_begin(sg, 0, &tx);
	if (rc)
		return rc;
	rc = sg_xattr_drop(tx, &in);
	if (rc) {
		sg_tx_abort(tx);
		return rc;
	}
	{
		uint32_t gen = in.gen;
		struct fs_time t = in.ctime;

		memset(&in, 0, sizeof(in));
		in.ino = ip->ino;
		in.gen = gen;
		in.flags = FS_IF_FREE;
		in.atime = in.mtime = in.ctime = in.crtime = t;
	}
	rc = sg_tx_inode(tx, ip, &in);
	if (!rc)
		rc = sg_tx_free_inode(tx, ip->ino);
	if (rc) {
		sg_tx_abort(tx);
		return rc;
	}
	rc = sg_tx_commit(tx);
	if (blocks) {
		pp_invalidate(sg->pool, sg->fsid, ip->ino, 0, UINT64_MAX);
		pp_invalidate(sg->pool, sg->mfsid, ip->ino, 0, UINT64_MAX);
		sg_ac_drop(sg, sg->fsid, ip->ino, 0, UINT64_MAX);
		sg_ac_drop(sg, sg->mfsid, ip->ino, 0, UINT64_MAX);
	}
	return rc;
}

int sg_orphans_recover(fs_sg *sg)
{
	uint64_t *v;
	size_t n, freed = 0;
	int rc, first = MM_OK;

	if (!sg->log)
		return MM_OK;
	rc = fs_log_orphans(sg->log, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct sg_ino *ip;
		struct tok_holder h;
		struct fs_inode in;
		struct sg_tx *tx = NULL;

		rc = sg_iget(sg, v[i], &ip);
		if (rc)
			break;
		rc = sg_itok(sg, ip, TOK_XW, &h);
		if (!rc) {
			rc = sg_iread(sg, ip, &in);
			if (rc == MM_OK && in.nlink == 0) {
				/* its free says it is no orphan any more */
				rc = sg_ifree(sg, ip);
				freed += rc == MM_OK;
			} else if (rc == MM_OK || rc == MM_ENOENT) {
				/* linked again, or freed already: just no orphan */
				rc = sg_tx_begin(sg, 0, &tx);
				if (!rc)
					rc = fs_log_add_unorphan(tx->ltx, v[i]);
				if (!rc)
					rc = sg_tx_commit(tx);
				else if (tx)
					sg_tx_abort(tx);
			}
			sg_itok_release(sg, &h);
		}
		sg_iput(sg, ip);
		if (rc) {
			sg_logf(sg, rc, "orphan inode %" PRIu64 " not freed", v[i]);
			if (!first)
				first = rc;
		}
	}
	free(v);
	if (n)
		mm_notice("fs", "%s: %zu orphan inodes (no links, in use at the crash): %zu freed",
			  sg->device, n, freed);
	return first;
}

/* Release a kernel or open reference; the last one of an unlinked inode
 * frees it. */
static void unref(fs_sg *sg, struct sg_ino *ip)
{
	bool last;

	pthread_mutex_lock(&ip->mu);
	last = !ip->nlookup && !ip->nopen;
	pthread_mutex_unlock(&ip->mu);
	if (last) {
		struct tok_holder h;

		if (!sg->ro && !sg_itok(sg, ip, TOK_XW, &h)) {
			sg_ifree(sg, ip);
			sg_itok_release(sg, &h);
		}
		sg_iput(sg, ip);	/* the names' reference */
	}
}

void fs_forget(fs_sg *sg, uint64_t ino, uint64_t n)
{
	struct sg_bucket *b = &sg->itab[ino % SG_INO_BUCKETS];
	struct sg_ino *ip;

	pthread_mutex_lock(&b->mu);
	for (ip = b->head; ip; ip = ip->hnext)
		if (ip->ino == ino)
			break;
	if (ip) {
		pthread_mutex_lock(&ip->mu);
		ip->nlookup = ip->nlookup > n ? ip->nlookup - n : 0;
		ip->refs++;
		pthread_mutex_unlock(&ip->mu);
	}
	pthread_mutex_unlock(&b->mu);
	if (!ip)
		return;
	unref(sg, ip);
	sg_iput(sg, ip);
}
