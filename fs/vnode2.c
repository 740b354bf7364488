/*
 * fs/vnode2.c - the rest of fs/fs.h's name space and attribute calls:
 * rename, setattr, open / release, readdir, statfs (vnode.c has the
 * helpers' twins: this file keeps its own small ones to stay readable).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/acl.h"
#include "fs/sg_int.h"

struct vn {
	struct sg_ino *ip;
	struct tok_holder h;
	bool held;
	struct fs_inode in;
};

static int vget(fs_sg *sg, uint64_t ino, enum tok_mode mode, struct vn *v)
{
	int rc;

	memset(v, 0, sizeof(*v));
	rc = sg_iget(sg, ino, &v->ip);
	if (rc)
		return fs_errno(rc);
	rc = sg_itok(sg, v->ip, mode, &v->h);
	if (!rc) {
		v->held = true;
		rc = sg_iread(sg, v->ip, &v->in);
	}
	if (rc) {
		if (v->held)
			sg_itok_release(sg, &v->h);
		sg_iput(sg, v->ip);
		v->ip = NULL;
		return rc == MM_ENOENT ? -ESTALE : fs_errno(rc);
	}
	return 0;
}

static void vput(fs_sg *sg, struct vn *v)
{
	if (!v->ip)
		return;
	sg_itok_release(sg, &v->h);
	sg_iput(sg, v->ip);
	v->ip = NULL;
}

static void now_m_c(struct fs_inode *in, bool m)
{
	struct fs_time t;

	sg_now(&t);
	if (m)
		in->mtime = t;
	in->ctime = t;
}

static uint8_t dtype(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return DT_DIR;
	case S_IFREG: return DT_REG;
	case S_IFLNK: return DT_LNK;
	case S_IFCHR: return DT_CHR;
	case S_IFBLK: return DT_BLK;
	case S_IFIFO: return DT_FIFO;
	case S_IFSOCK: return DT_SOCK;
	default: return DT_UNKNOWN;
	}
}

static void dback(struct fs_inode *in, const struct fs_dir *d)
{
	in->depth = d->depth;
	in->tail_len = d->in_inode ? d->tail_len : 0;
	if (d->in_inode)
		in->flags |= FS_IF_DATA_IN_INODE;
	else
		in->flags &= ~FS_IF_DATA_IN_INODE;
}

static int dfind(fs_sg *sg, struct fs_inode *dir, const char *name, struct fs_dirent *e)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, NULL, dir, &d);
	rc = fs_dir_lookup(&d, name, strlen(name), e);
	return rc == MM_ENOENT ? -ENOENT : fs_errno(rc);
}

static int dadd(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name,
		uint64_t ino, uint32_t gen, uint8_t type)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, tx, dir, &d);
	tx->dview = &d;
	tx->dview_in = dir;
	rc = fs_dir_insert(&d, name, strlen(name), ino, gen, type);
	tx->dview = NULL;
	if (d.inode_dirty)
		dback(dir, &d);
	if (rc && rc != MM_EEXIST)
		sg_logf(sg, rc, "directory %" PRIu64 ": %s", dir->ino, d.err);
	return rc == MM_ETOOBIG ? -ENOSPC : fs_errno(rc);
}

static int ddel(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, tx, dir, &d);
	tx->dview = &d;
	tx->dview_in = dir;
	rc = fs_dir_remove(&d, name, strlen(name), NULL);
	tx->dview = NULL;
	if (d.inode_dirty)
		dback(dir, &d);
	return fs_errno(rc);
}

static int dempty(fs_sg *sg, struct fs_inode *in)
{
	struct fs_dir d;
	int rc;

	sg_dir_view(sg, NULL, in, &d);
	rc = fs_dir_is_empty(&d);
	return rc < 0 ? fs_errno(rc) : rc;
}

static bool sticky(const struct fs_cred *c, const struct fs_inode *dir, const struct fs_inode *v)
{
	return (dir->mode & S_ISVTX) && c->uid != 0 && c->uid != dir->uid && c->uid != v->uid;
}

/*
 * Is <anc> an ancestor of (or) directory <ino>? Walks the parents (rdev)
 * up from <ino>; the rename mutex keeps the shape still on this node.
 * <held> (n of them) are directories the caller holds xw: their records
 * are read from <hin>, not through another token (which would wait on
 * the caller itself).
 */
static int is_ancestor(fs_sg *sg, uint64_t anc, uint64_t ino, const struct fs_inode **hin, int n)
{
	for (int depth = 0; depth < 4096; depth++) {
		struct vn v;
		uint64_t up = 0;
		bool found = false;
		int rc;

		if (ino == anc)
			return 1;
		if (ino == FS_ROOT_INO)
			return 0;
		for (int i = 0; i < n; i++)
			if (hin[i]->ino == ino) {
				up = hin[i]->rdev;
				found = true;
			}
		if (!found) {
			rc = vget(sg, ino, TOK_RO, &v);
			if (rc)
				return rc;
			up = v.in.rdev;
			vput(sg, &v);
		}
		ino = up ? up : FS_ROOT_INO;
	}
	return -ELOOP;
}

/* ---- rename ---- */

int fs_rename(fs_sg *sg, const struct fs_cred *c, uint64_t odir, const char *oname,
	      uint64_t ndir, const char *nname, unsigned flags)
{
	struct vn od = {0}, nd = {0}, sv = {0}, tv = {0};
	struct fs_inode *ndp;
	struct fs_dirent se, te;
	struct sg_tx *tx = NULL;
	bool cross = odir != ndir, have_t = false, locked = false;
	bool exch = flags & FS_RENAME_EXCHANGE;
	int rc;

	if (sg->ro)
		return -EROFS;
	if ((flags & FS_RENAME_EXCHANGE) && (flags & FS_RENAME_NOREPLACE))
		return -EINVAL;
	if (strlen(oname) > FS_NAME_MAX || strlen(nname) > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(oname, ".") || !strcmp(oname, "..") || !strcmp(nname, ".") ||
	    !strcmp(nname, ".."))
		return -EBUSY;
	if (cross) {
		pthread_mutex_lock(&sg->rename_mu);
		locked = true;
	}
	/* directories in ascending order, then the two children */
	rc = vget(sg, odir <= ndir ? odir : ndir, TOK_XW, odir <= ndir ? &od : &nd);
	if (!rc && cross)
		rc = vget(sg, odir < ndir ? ndir : odir, TOK_XW, odir < ndir ? &nd : &od);
	if (rc)
		goto out;
	ndp = cross ? &nd.in : &od.in;
	if (!S_ISDIR(od.in.mode) || !S_ISDIR(ndp->mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	rc = sg_perm(c, &od.in, 3);
	if (!rc && cross)
		rc = sg_perm(c, &nd.in, 3);
	if (!rc)
		rc = dfind(sg, &od.in, oname, &se);
	if (rc)
		goto out;
	rc = dfind(sg, ndp, nname, &te);
	if (rc && rc != -ENOENT)
		goto out;
	have_t = rc == 0;
	rc = 0;
	if (exch && !have_t) {
		rc = -ENOENT;
		goto out;
	}
	if (have_t && (flags & FS_RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (have_t && te.ino == se.ino)
		goto out;	/* two names of one inode: nothing to do */
	if (cross && (se.ino == ndir || (have_t && exch && te.ino == odir))) {
		rc = -EINVAL;	/* a directory into itself */
		goto out;
	}
	{
		uint64_t a = se.ino, b = have_t ? te.ino : 0;

		if (have_t && b < a) {
			rc = vget(sg, b, TOK_XW, &tv);
			if (!rc)
				rc = vget(sg, a, TOK_XW, &sv);
		} else {
			rc = vget(sg, a, TOK_XW, &sv);
			if (!rc && have_t)
				rc = vget(sg, b, TOK_XW, &tv);
		}
	}
	if (rc)
		goto out;
	if (sticky(c, &od.in, &sv.in) || (have_t && sticky(c, ndp, &tv.in))) {
		rc = -EPERM;
		goto out;
	}
	if (have_t && !exch) {
		if (S_ISDIR(sv.in.mode) && !S_ISDIR(tv.in.mode))
			rc = -ENOTDIR;
		else if (!S_ISDIR(sv.in.mode) && S_ISDIR(tv.in.mode))
			rc = -EISDIR;
		else if (S_ISDIR(tv.in.mode)) {
			rc = dempty(sg, &tv.in);
			rc = rc == 1 ? 0 : rc == 0 ? -ENOTEMPTY : rc;
		}
		if (rc)
			goto out;
	}
	/* a directory moving to another parent: not into itself, and its
	 * ".." changes, which needs write permission on it */
	const struct fs_inode *held[4] = {&od.in, ndp, &sv.in, have_t ? &tv.in : &sv.in};

	if (cross && S_ISDIR(sv.in.mode)) {
		rc = is_ancestor(sg, se.ino, ndir, held, 4);
		if (rc == 1)
			rc = -EINVAL;
		if (!rc)
			rc = sg_perm(c, &sv.in, 2);
	}
	if (!rc && cross && exch && have_t && S_ISDIR(tv.in.mode)) {
		rc = is_ancestor(sg, te.ino, odir, held, 4);
		if (rc == 1)
			rc = -EINVAL;
		if (!rc)
			rc = sg_perm(c, &tv.in, 2);
	}
	if (rc)
		goto out;
	rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (rc)
		goto out;
	rc = fs_errno(sg_tx_inode(tx, od.ip, &od.in));
	if (!rc && cross)
		rc = fs_errno(sg_tx_inode(tx, nd.ip, &nd.in));
	if (!rc)
		rc = fs_errno(sg_tx_inode(tx, sv.ip, &sv.in));
	if (!rc && have_t)
		rc = fs_errno(sg_tx_inode(tx, tv.ip, &tv.in));
	if (rc)
		goto abort;
	if (exch) {
		rc = ddel(sg, tx, &od.in, oname);
		if (!rc)
			rc = ddel(sg, tx, ndp, nname);
		if (!rc)
			rc = dadd(sg, tx, &od.in, oname, tv.in.ino, tv.in.gen, dtype(tv.in.mode));
		if (!rc)
			rc = dadd(sg, tx, ndp, nname, sv.in.ino, sv.in.gen, dtype(sv.in.mode));
		if (!rc && cross && S_ISDIR(sv.in.mode) != S_ISDIR(tv.in.mode)) {
			if (S_ISDIR(sv.in.mode)) {
				od.in.nlink--;
				nd.in.nlink++;
			} else {
				nd.in.nlink--;
				od.in.nlink++;
			}
		}
		if (!rc && cross && S_ISDIR(sv.in.mode))
			sv.in.rdev = nd.in.ino;
		if (!rc && cross && S_ISDIR(tv.in.mode))
			tv.in.rdev = od.in.ino;
		if (!rc) {
			now_m_c(&tv.in, false);
		}
	} else {
		if (have_t) {
			rc = ddel(sg, tx, ndp, nname);
			if (S_ISDIR(tv.in.mode)) {
				tv.in.nlink = 0;
				ndp->nlink--;
			} else {
				tv.in.nlink--;
			}
			now_m_c(&tv.in, false);
		}
		if (!rc)
			rc = ddel(sg, tx, &od.in, oname);
		if (!rc)
			rc = dadd(sg, tx, ndp, nname, sv.in.ino, sv.in.gen, dtype(sv.in.mode));
		if (!rc && cross && S_ISDIR(sv.in.mode)) {
			od.in.nlink--;
			nd.in.nlink++;
			sv.in.rdev = nd.in.ino;
		}
	}
	if (rc)
		goto abort;
	now_m_c(&sv.in, false);
	now_m_c(&od.in, true);
	if (cross)
		now_m_c(&nd.in, true);
	rc = fs_errno(sg_tx_commit(tx));
	tx = NULL;
	/* a replaced target that nobody names any more is freed */
	if (!rc && have_t && !exch && tv.in.nlink == 0) {
		bool unused;

		pthread_mutex_lock(&tv.ip->mu);
		unused = !tv.ip->nlookup && !tv.ip->nopen;
		pthread_mutex_unlock(&tv.ip->mu);
		if (unused)
			sg_ifree(sg, tv.ip);
	}
	goto out;
abort:
	sg_tx_abort(tx);
out:
	vput(sg, &tv);
	vput(sg, &sv);
	vput(sg, &nd);
	vput(sg, &od);
	if (locked)
		pthread_mutex_unlock(&sg->rename_mu);
	return rc;
}

/* ---- setattr ---- */

int fs_setattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const struct fs_setattr *sa,
	       fs_file *f, struct fs_attr *out)
{
	struct vn v;
	struct sg_tx *tx;
	unsigned m = sa->mask;
	bool owner, root = c->uid == 0;
	int rc;

	if (sg->ro)
		return -EROFS;
	rc = vget(sg, ino, TOK_XW, &v);
	if (rc)
		return rc;
	owner = c->uid == v.in.uid;
	/* the kernel clears setuid/setgid when a non-owner writes (FUSE sends
	 * it as a mode change in the writer's name): allowed to anyone who
	 * may write the file, since only those bits go */
	if ((m & FS_SET_MODE) && !owner && !root &&
	    !((sa->mode & 07777) == (v.in.mode & 07777 & ~(uint32_t)(S_ISUID | S_ISGID)) &&
	      (v.in.mode & (S_ISUID | S_ISGID)) && sg_perm(c, &v.in, 2) == 0))
		rc = -EPERM;
	if (!rc && (m & FS_SET_UID) && sa->uid != v.in.uid && !root)
		rc = -EPERM;
	if (!rc && (m & FS_SET_GID) && sa->gid != v.in.gid && !root &&
	    (!owner || !sg_in_group(c, sa->gid)))
		rc = -EPERM;
	if (!rc && (m & FS_SET_SIZE)) {
		if (S_ISDIR(v.in.mode))
			rc = -EISDIR;
		else if (!S_ISREG(v.in.mode))
			rc = -EINVAL;
		else if (!(f && (f->flags & O_ACCMODE) != O_RDONLY))
			rc = sg_perm(c, &v.in, 2);
	}
	if (!rc && (m & (FS_SET_ATIME | FS_SET_MTIME)) && !owner && !root)
		rc = -EPERM;
	if (!rc && (m & (FS_SET_ATIME_NOW | FS_SET_MTIME_NOW)) && !(m & (FS_SET_ATIME | FS_SET_MTIME)) &&
	    !owner && !root)
		rc = sg_perm(c, &v.in, 2);
	if (!rc && (m & FS_SET_CTIME) && !owner && !root)
		rc = -EPERM;
	if (rc) {
		vput(sg, &v);
		return rc;
	}
	if ((m & FS_SET_SIZE) && sa->size != v.in.size) {
		rc = fs_errno(sg_truncate(sg, v.ip, &v.in, sa->size));
		if (rc) {
			vput(sg, &v);
			return rc;
		}
		now_m_c(&v.in, true);
		if (!root)
			v.in.mode &= ~(uint32_t)(S_ISUID | ((v.in.mode & 010) ? S_ISGID : 0));
	}
	rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (rc) {
		vput(sg, &v);
		return rc;
	}
	if (m & FS_SET_MODE) {
		uint32_t mode = sa->mode & 07777;

		if (!root && (mode & S_ISGID) && !sg_in_group(c, v.in.gid))
			mode &= ~(uint32_t)S_ISGID;
		v.in.mode = (v.in.mode & S_IFMT) | mode;
		/* a stored access ACL follows the mode (fs/acl.h) */
		rc = sg_acl_chmod(&v.in);
		if (rc) {
			sg_tx_abort(tx);
			vput(sg, &v);
			return rc;
		}
	}
	if (m & (FS_SET_UID | FS_SET_GID)) {
		bool changed = ((m & FS_SET_UID) && sa->uid != v.in.uid) ||
			       ((m & FS_SET_GID) && sa->gid != v.in.gid);

		if (m & FS_SET_UID)
			v.in.uid = sa->uid;
		if (m & FS_SET_GID)
			v.in.gid = sa->gid;
		/* chown clears setuid, and setgid of a group-executable file */
		if (!S_ISDIR(v.in.mode) && (changed || !root))
			v.in.mode &= ~(uint32_t)(S_ISUID | ((v.in.mode & 010) ? S_ISGID : 0));
	}
	if (m & FS_SET_ATIME)
		v.in.atime = sa->atime;
	if (m & FS_SET_MTIME)
		v.in.mtime = sa->mtime;
	if (m & (FS_SET_ATIME_NOW | FS_SET_MTIME_NOW)) {
		struct fs_time t;

		sg_now(&t);
		if (m & FS_SET_ATIME_NOW)
			v.in.atime = t;
		if (m & FS_SET_MTIME_NOW)
			v.in.mtime = t;
	}
	sg_now(&v.in.ctime);
	if (m & FS_SET_CTIME)
		v.in.ctime = sa->ctime;
	rc = fs_errno(sg_tx_inode(tx, v.ip, &v.in));
	if (rc)
		sg_tx_abort(tx);
	else
		rc = fs_errno(sg_tx_commit(tx));
	if (!rc)
		sg_fill_attr(sg, &v.in, out);
	vput(sg, &v);
	return rc;
}

/* ---- open, release ---- */

int fs_open(fs_sg *sg, const struct fs_cred *c, uint64_t ino, int flags, fs_file **out)
{
	struct vn v;
	struct fs_file *f;
	int acc = flags & O_ACCMODE, mask = 0, rc;

	rc = vget(sg, ino, TOK_RO, &v);
	if (rc)
		return rc;
	/* execve opens with the kernel's FMODE_EXEC (0x20, no open(2) flag
	 * on this ABI): execute permission, not read */
	if (flags & 0x20)
		mask |= 1;
	else if (acc == O_RDONLY || acc == O_RDWR)
		mask |= 4;
	if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC))
		mask |= 2;
	if (S_ISDIR(v.in.mode) && (mask & 2))
		rc = -EISDIR;
	else if ((flags & O_DIRECTORY) && !S_ISDIR(v.in.mode))
		rc = -ENOTDIR;
	else if (S_ISLNK(v.in.mode))
		rc = -ELOOP;
	else if (c)
		rc = sg_perm(c, &v.in, mask);
	if (!rc && (mask & 2) && sg->ro)
		rc = -EROFS;
	vput(sg, &v);
	if (rc)
		return rc;
	if ((flags & O_TRUNC) && S_ISREG(v.in.mode) && v.in.size) {
		struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 0};
		struct fs_attr a;
		struct fs_cred root = {0};

		rc = fs_setattr(sg, c ? c : &root, ino, &sa, NULL, &a);
		if (rc == -EACCES)
			rc = fs_setattr(sg, &root, ino, &sa, NULL, &a);
		if (rc)
			return rc;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	rc = fs_errno(sg_iget(sg, ino, &f->ip));
	if (rc) {
		free(f);
		return rc;
	}
	f->flags = flags;
	pthread_mutex_init(&f->smu, NULL);
	f->dir = S_ISDIR(v.in.mode);
	pthread_mutex_lock(&f->ip->mu);
	if (f->ip->nopen++ == 0 && !f->ip->nlookup)
		f->ip->refs++;
	pthread_mutex_unlock(&f->ip->mu);
	sg_iput(sg, f->ip);	/* the open holds its own reference */
	*out = f;
	return 0;
}

uint64_t fs_file_ino(const fs_file *f)
{
	return f->ip->ino;
}

int fs_release(fs_sg *sg, fs_file *f)
{
	struct sg_ino *ip = f->ip;
	bool last;

	if (f->stream)
		pp_stream_close(f->stream);
	pthread_mutex_destroy(&f->smu);
	pthread_mutex_lock(&ip->mu);
	ip->nopen--;
	last = !ip->nopen && !ip->nlookup;
	ip->refs++;
	pthread_mutex_unlock(&ip->mu);
	free(f);
	if (last) {
		struct tok_holder h;
		struct fs_inode in;

		if (!sg->ro && !sg_itok(sg, ip, TOK_XW, &h)) {
			if (!sg_iread(sg, ip, &in) && in.nlink == 0)
				sg_ifree(sg, ip);
			sg_itok_release(sg, &h);
		}
		sg_iput(sg, ip);	/* the open's reference */
	}
	sg_iput(sg, ip);
	return 0;
}

/* ---- readdir ---- */

struct rd_arg {
	fs_sg *sg;
	fs_readdir_fn fn;
	void *arg;
	bool plus, stopped;
	int err;
};

static int rd_one(struct rd_arg *a, const char *name, uint64_t ino, uint8_t type, uint64_t cookie)
{
	struct fs_attr at, *ap = NULL;
	int rc;

	if (a->plus) {
		if (sg_lookup_ino(a->sg, ino, &at) == 0)
			ap = &at;
		else
			return 0;	/* gone meanwhile */
	}
	rc = a->fn(a->arg, name, ino, type, cookie, ap);
	if (rc && ap)
		fs_forget(a->sg, ino, 1);
	if (rc)
		a->stopped = true;
	return rc;
}

static int rd_fn(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	struct rd_arg *a = arg;

	if (a->stopped)
		return 1;
	if (!strcmp(e->name, ".."))
		return 0;
	return rd_one(a, e->name, e->ino, e->type, cookie) ? 1 : 0;
}

int fs_readdir(fs_sg *sg, fs_file *dir, uint64_t cookie, bool plus, fs_readdir_fn fn, void *arg)
{
	struct vn v;
	struct rd_arg a = {sg, fn, arg, plus, false, 0};
	struct fs_dir d;
	uint64_t parent;
	int rc;

	rc = vget(sg, dir->ip->ino, TOK_RO, &v);
	if (rc)
		return rc;
	if (!S_ISDIR(v.in.mode)) {
		vput(sg, &v);
		return -ENOTDIR;
	}
	parent = v.in.rdev ? v.in.rdev : v.in.ino;
	if (cookie < 1 && rd_one(&a, ".", v.in.ino, DT_DIR, 1))
		goto out;
	if (cookie < 2 && rd_one(&a, "..", parent, DT_DIR, 2))
		goto out;
	sg_dir_view(sg, NULL, &v.in, &d);
	rc = fs_dir_readdir(&d, cookie < FS_DIR_COOKIE_MIN ? 0 : cookie, rd_fn, &a);
	if (rc < 0) {
		sg_logf(sg, rc, "directory %" PRIu64 ": %s", v.in.ino, d.err);
		rc = fs_errno(rc);
	} else {
		rc = 0;
	}
out:
	vput(sg, &v);
	return rc;
}

/* ---- statfs ---- */

int fs_statfs(fs_sg *sg, struct fs_statfs *out)
{
	uint64_t total = 0, fsub = 0, ffree = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	for (uint32_t d = 0; d < sg->sgd.ndisks; d++) {
		for (uint32_t r = 0; r < sg->sgd.nregions; r++) {
			struct fs_chunk ch;

			if (!fs_bmap_chunk(sg->alloc, d, r, &ch))
				total += ch.nsub;
		}
	}
	for (uint32_t r = 0; r < sg->sgd.nregions; r++) {
		struct fs_bmap_count bc;

		rc = fs_bmap_count(sg->alloc, r, FS_DA_DISK_NONE, &bc, NULL, 0);
		if (rc)
			return fs_errno(rc);
		fsub += bc.free_sub;
	}
	for (uint32_t r = 0; r < fs_imap_nregions(sg->alloc); r++) {
		uint64_t n;

		if (!fs_imap_count(sg->alloc, r, &n, NULL, 0))
			ffree += n;
	}
	out->bsize = sg->B;
	out->frsize = sg->S;
	out->blocks = total;
	out->bfree = fsub;
	out->bavail = fsub;
	out->files = sg->sgd.inode_limit;
	out->ffree = ffree;
	out->namemax = FS_NAME_MAX;
	out->fsid = sg->fsid;
	return 0;
}
