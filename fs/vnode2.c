/*
 * fs/vnode2.c - the rest of fs/fs.h's name space and attribute calls:
 * rename, setattr, open / release, readdir, statfs, over the helpers
 * shared with vnode.c (sg_vn_get, sg_dir_*: fs/sg_int.h).
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

static int is_ancestor(fs_sg *sg, uint64_t anc, uint64_t ino, const struct fs_inode **hin, int n)
{
	for (int depth = 0; depth < 4096; depth++) {
		struct sg_vn v;
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
			rc = sg_vn_get(sg, ino, TOK_RO, &v);
			if (rc)
				return rc;
			up = v.in.rdev;
			sg_vn_put(sg, &v);
		}
		ino = up ? up : FS_ROOT_INO;
	}
	return -ELOOP;
}

/* ---- rename ---- */

int fs_rename(fs_sg *sg, const struct fs_cred *c, uint64_t odir, const char *oname,
	      uint64_t ndir, const char *nname, unsigned flags)
{
	struct sg_vn od = {0}, nd = {0}, sv = {0}, tv = {0};
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
	if (sg_is_dot(oname) || sg_is_dot(nname))
		return -EBUSY;
	if (cross) {
		pthread_mutex_lock(&sg->rename_mu);
		locked = true;
	}
	/* directories in ascending order, then the two children */
	rc = sg_vn_get(sg, odir <= ndir ? odir : ndir, TOK_XW, odir <= ndir ? &od : &nd);
	if (!rc && cross)
		rc = sg_vn_get(sg, odir < ndir ? ndir : odir, TOK_XW, odir < ndir ? &nd : &od);
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
		rc = sg_dir_find(sg, &od.in, oname, &se);
	if (rc)
		goto out;
	rc = sg_dir_find(sg, ndp, nname, &te);
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
			rc = sg_vn_get(sg, b, TOK_XW, &tv);
			if (!rc)
				rc = sg_vn_get(sg, a, TOK_XW, &sv);
		} else {
			rc = sg_vn_get(sg, a, TOK_XW, &sv);
			if (!rc && have_t)
				rc = sg_vn_get(sg, b, TOK_XW, &tv);
		}
	}
	if (rc)
		goto out;
	if (sg_sticky_denies(c, &od.in, &sv.in) || (have_t && sg_sticky_denies(c, ndp, &tv.in))) {
		rc = -EPERM;
		goto out;
	}
	if (have_t && !exch) {
		if (S_ISDIR(sv.in.mode) && !S_ISDIR(tv.in.mode))
			rc = -ENOTDIR;
		else if (!S_ISDIR(sv.in.mode) && S_ISDIR(tv.in.mode))
			rc = -EISDIR;
		else if (S_ISDIR(tv.in.mode)) {
			rc = sg_dir_empty(sg, &tv.in);
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
		rc = sg_dir_del(sg, tx, &od.in, oname);
		if (!rc)
			rc = sg_dir_del(sg, tx, ndp, nname);
		if (!rc)
			rc = sg_dir_add(sg, tx, &od.in, oname, tv.in.ino, tv.in.gen, sg_dtype(tv.in.mode), false);
		if (!rc)
			rc = sg_dir_add(sg, tx, ndp, nname, sv.in.ino, sv.in.gen, sg_dtype(sv.in.mode), false);
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
			sg_touch(&tv.in, false, true);
		}
	} else {
		if (have_t) {
			rc = sg_dir_del(sg, tx, ndp, nname);
			if (S_ISDIR(tv.in.mode)) {
				tv.in.nlink = 0;
				ndp->nlink--;
			} else {
				tv.in.nlink--;
			}
			sg_touch(&tv.in, false, true);
		}
		if (!rc)
			rc = sg_dir_del(sg, tx, &od.in, oname);
		if (!rc)
			rc = sg_dir_add(sg, tx, ndp, nname, sv.in.ino, sv.in.gen, sg_dtype(sv.in.mode), false);
		if (!rc && cross && S_ISDIR(sv.in.mode)) {
			od.in.nlink--;
			nd.in.nlink++;
			sv.in.rdev = nd.in.ino;
		}
	}
	if (rc)
		goto abort;
	sg_touch(&sv.in, false, true);
	sg_touch(&od.in, true, true);
	if (cross)
		sg_touch(&nd.in, true, true);
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
	sg_vn_put(sg, &tv);
	sg_vn_put(sg, &sv);
	sg_vn_put(sg, &nd);
	sg_vn_put(sg, &od);
	if (locked)
		pthread_mutex_unlock(&sg->rename_mu);
	return rc;
}

/* ---- setattr ---- */

int fs_setattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const struct fs_setattr *sa,
	       fs_file *f, struct fs_attr *out)
{
	struct sg_vn v;
	struct sg_tx *tx;
	unsigned m = sa->mask;
	bool owner, root = c->uid == 0;
	int rc;

	if (sg->ro)
		return -EROFS;
	rc = sg_vn_get(sg, ino, TOK_XW, &v);
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
		sg_vn_put(sg, &v);
		return rc;
	}
	if ((m & FS_SET_SIZE) && (sa->size != v.in.size || sg_blocks_past_end(sg, &v.in))) {
		rc = fs_errno(sg_truncate(sg, v.ip, &v.in, sa->size));
		if (rc) {
			sg_vn_put(sg, &v);
			return rc;
		}
		sg_touch(&v.in, true, true);
		if (!fs_cred_fsetid(c))
			sg_drop_suid(c, &v.in);
	}
	rc = fs_errno(sg_tx_begin(sg, 0, &tx));
	if (rc) {
		sg_vn_put(sg, &v);
		return rc;
	}
	/* a truncate drops the file's capabilities, as a write does */
	if ((m & FS_SET_SIZE) && S_ISREG(v.in.mode)) {
		rc = sg_kill_caps(sg, tx, v.ip, &v.in);
		if (rc) {
			sg_tx_abort(tx);
			sg_vn_put(sg, &v);
			return rc;
		}
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
			sg_vn_put(sg, &v);
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
			sg_drop_suid(NULL, &v.in);
	}
	if ((m & FS_SET_KILL_SUIDGID) && !S_ISDIR(v.in.mode))
		sg_drop_suid(c, &v.in);
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
	sg_vn_put(sg, &v);
	return rc;
}

/* ---- open, release ---- */

int fs_open(fs_sg *sg, const struct fs_cred *c, uint64_t ino, int flags, fs_file **out)
{
	struct sg_vn v;
	struct fs_file *f;
	int acc = flags & O_ACCMODE, mask = 0, rc;
	bool dropped = false;

	rc = sg_vn_get(sg, ino, TOK_RO, &v);
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
	sg_vn_put(sg, &v);
	if (rc)
		return rc;
	/* an empty file too: O_TRUNC moves mtime and drops capabilities
	 * whatever the size (Linux's do_truncate) */
	if ((flags & O_TRUNC) && S_ISREG(v.in.mode)) {
		struct fs_setattr sa = {.mask = FS_SET_SIZE | FS_SET_MTIME_NOW, .size = 0};
		struct fs_attr a;
		struct fs_cred root = {0};

		rc = fs_setattr(sg, c ? c : &root, ino, &sa, NULL, &a);
		if (rc == -EACCES)
			rc = fs_setattr(sg, &root, ino, &sa, NULL, &a);
		if (rc)
			return rc;
		dropped = ((a.mode ^ v.in.mode) & (S_ISUID | S_ISGID)) != 0;
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
	atomic_store(&f->privs_dropped, dropped);
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

bool fs_file_privs_dropped(fs_file *f)
{
	return atomic_exchange(&f->privs_dropped, false);
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

	/* "." and "..": no attributes (fs.h). A child's token is taken
	 * under its directory's, as rename takes them; ".." would be the
	 * parent's under the child's */
	if (a->plus && !sg_is_dot(name)) {
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
	struct sg_vn v;
	struct rd_arg a = {sg, fn, arg, plus, false, 0};
	struct fs_dir d;
	uint64_t parent;
	bool due;
	int rc;

	rc = sg_vn_get(sg, dir->ip->ino, TOK_RO, &v);
	if (rc)
		return rc;
	if (!S_ISDIR(v.in.mode)) {
		sg_vn_put(sg, &v);
		return -ENOTDIR;
	}
	parent = v.in.rdev ? v.in.rdev : v.in.ino;
	/* POSIX: a read of a directory marks its atime, as of a file */
	due = sg_atime_due(sg, &v.in);
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
	sg_vn_put(sg, &v);
	if (!rc && due)
		sg_atime_update(sg, dir->ip);
	return rc;
}

/* ---- statfs ---- */

int fs_statfs(fs_sg *sg, struct fs_statfs *out)
{
	uint64_t total = 0, fsub = 0, avail = 0, ffree = 0, spb = fs_alloc_spb(sg->alloc);
	int rc;

	memset(out, 0, sizeof(*out));
	for (uint32_t d = 0; d < sg->sgd.ndisks; d++) {
		bool data = sg->sgd.disk[d].usage == FS_USAGE_DATA_AND_META ||
			    sg->sgd.disk[d].usage == FS_USAGE_DATA_ONLY;

		for (uint32_t r = 0; r < sg->sgd.nregions; r++) {
			struct fs_bmap_count bc;
			struct fs_chunk ch;
			uint64_t keep;

			if (fs_bmap_chunk(sg->alloc, d, r, &ch))
				continue;
			total += ch.nsub;
			rc = fs_bmap_count(sg->alloc, r, d, &bc, NULL, 0);
			if (rc)
				return fs_errno(rc);
			fsub += bc.free_sub;
			/* what data may take (f_bavail): not a metadataOnly
			 * disk, nor the reserve data leaves each chunk */
			keep = sg_data_keep(sg, &ch);
			if (data && bc.free_full > keep)
				avail += bc.free_sub - keep * spb;
		}
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
	out->bavail = avail;
	out->files = sg->sgd.inode_limit;
	out->ffree = ffree;
	out->namemax = FS_NAME_MAX;
	out->fsid = sg->fsid;
	return 0;
}
