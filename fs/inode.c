/*
 * fs/inode.c - inodes in memory: the table of inodes this node uses, their
 * inode tokens, reading and caching their records, the revoke callbacks,
 * permissions and attributes.
 *
 * A record is cached (sg_ino.cur, valid) only while this node holds the
 * inode's token without a break: a revoke writes back and invalidates
 * (fs/README.md, "Revoke callbacks"). Writers change a copy and publish
 * it at commit (sg_iset), so readers under ro never see half a change.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "fs/acl.h"
#include "fs/sg_int.h"

int sg_iget(fs_sg *sg, uint64_t ino, struct sg_ino **out)
{
	struct sg_bucket *b = &sg->itab[ino % SG_INO_BUCKETS];
	struct sg_ino *ip;

	pthread_mutex_lock(&b->mu);
	for (ip = b->head; ip; ip = ip->hnext)
		if (ip->ino == ino)
			break;
	if (!ip) {
		ip = calloc(1, sizeof(*ip));
		if (!ip) {
			pthread_mutex_unlock(&b->mu);
			return MM_ENOMEM;
		}
		ip->ino = ino;
		pthread_mutex_init(&ip->mu, NULL);
		ip->hnext = b->head;
		b->head = ip;
	}
	pthread_mutex_lock(&ip->mu);
	ip->refs++;
	pthread_mutex_unlock(&ip->mu);
	pthread_mutex_unlock(&b->mu);
	*out = ip;
	return MM_OK;
}

/* Drop a reference; an inode nobody names any more leaves the table
 * (its token stays cached in the token client until revoked or
 * trimmed by maxFilesToCache). */
void sg_iput(fs_sg *sg, struct sg_ino *ip)
{
	struct sg_bucket *b = &sg->itab[ip->ino % SG_INO_BUCKETS];
	bool gone = false;

	pthread_mutex_lock(&b->mu);
	pthread_mutex_lock(&ip->mu);
	if (--ip->refs == 0 && !ip->nlookup && !ip->nopen) {
		struct sg_ino **pp;

		for (pp = (struct sg_ino **)&b->head; *pp; pp = &(*pp)->hnext)
			if (*pp == ip) {
				*pp = ip->hnext;
				gone = true;
				break;
			}
	}
	pthread_mutex_unlock(&ip->mu);
	pthread_mutex_unlock(&b->mu);
	if (gone) {
		pthread_mutex_destroy(&ip->mu);
		free(ip->neg);
		free(ip->cur);
		free(ip);
	}
}

int sg_itok(fs_sg *sg, struct sg_ino *ip, enum tok_mode mode, struct tok_holder *h)
{
	tok_holder_init(h, &(struct tok_key){sg->fsid, TOK_INODE, ip->ino}, mode,
			(struct tok_range){0, TOK_INF}, (struct tok_range){0, TOK_INF});
	return toknet_acquire(sg->tok, h, sg->tok_timeout);
}

void sg_itok_release(fs_sg *sg, struct tok_holder *h)
{
	toknet_release(sg->tok, h);
}

/* Cache <in> as <ip>'s record (under ip->mu); false when out of memory:
 * then nothing is cached and the next use reads it again. */
static bool cache_set(struct sg_ino *ip, const struct fs_inode *in)
{
	if (!ip->cur && !(ip->cur = malloc(sizeof(*ip->cur))))
		return false;
	*ip->cur = *in;
	return true;
}

int sg_iread(fs_sg *sg, struct sg_ino *ip, struct fs_inode *out)
{
	return sg_iread_ver(sg, ip, out, NULL);
}

int sg_iread_ver(fs_sg *sg, struct sg_ino *ip, struct fs_inode *out, uint64_t *ver)
{
	char err[192];
	uint8_t *data;
	pp_buf *b;
	uint64_t ino = ip->ino;
	uint32_t off = (uint32_t)(ino % FS_INODES_PER_MB) * FS_INODE_BYTES;
	int rc;

	pthread_mutex_lock(&ip->mu);
	if (ip->valid) {
		*out = *ip->cur;
		if (ver)
			*ver = ip->ver;
		pthread_mutex_unlock(&ip->mu);
		return MM_OK;
	}
	pthread_mutex_unlock(&ip->mu);
	rc = pp_get(sg->pool, &(struct pp_tag){sg->mfsid, 0, ino / FS_INODES_PER_MB}, off,
		    FS_INODE_BYTES, PP_READ, &b, (void **)&data);
	if (rc == MM_ENOENT)
		return MM_ENOENT;
	if (rc) {
		sg_logf(sg, rc, "inode %" PRIu64 ": its inode-file block is unreadable", ino);
		return rc;
	}
	if (data[off] == 0 && !memcmp(data + off, data + off + 1, 63)) {
		pp_release(b);
		return MM_ENOENT;	/* never used */
	}
	rc = fs_inode_decode(data + off, sg->fsid, ino, out, err, sizeof(err));
	pp_release(b);
	if (rc) {
		sg_logf(sg, rc, "inode %" PRIu64 ": %s", ino, err);
		return MM_EIO;
	}
	if (out->flags & FS_IF_FREE)
		return MM_ENOENT;
	pthread_mutex_lock(&ip->mu);
	ip->valid = cache_set(ip, out);
	ip->nocaps = false;
	ip->ver++;
	if (ver)
		*ver = ip->ver;
	pthread_mutex_unlock(&ip->mu);
	return MM_OK;
}

void sg_iset(struct sg_ino *ip, const struct fs_inode *in)
{
	pthread_mutex_lock(&ip->mu);
	if (in->flags & FS_IF_FREE)
		sg_iforget_locked(ip);
	else
		ip->valid = cache_set(ip, in);
	ip->ver++;
	pthread_mutex_unlock(&ip->mu);
}

void sg_iforget_locked(struct sg_ino *ip)
{
	ip->valid = false;
	free(ip->cur);
	ip->cur = NULL;
}


/* Under the table's lock (the inode may be let go meanwhile): whether
 * inode <ino>'s cached record says it has blocks (true when unknown), and
 * with <forget> its record is dropped. */
static bool inode_has_blocks(fs_sg *sg, uint64_t ino, bool forget)
{
	struct sg_bucket *b = &sg->itab[ino % SG_INO_BUCKETS];
	bool blocks = true;

	pthread_mutex_lock(&b->mu);
	for (struct sg_ino *ip = b->head; ip; ip = ip->hnext)
		if (ip->ino == ino) {
			pthread_mutex_lock(&ip->mu);
			if (ip->valid)
				blocks = !(ip->cur->flags & FS_IF_DATA_IN_INODE) || ip->cur->level ||
					 ip->cur->subblocks;
			if (forget) {
				sg_iforget_locked(ip);
				ip->ver++;
			}
			pthread_mutex_unlock(&ip->mu);
			break;
		}
	pthread_mutex_unlock(&b->mu);
	return blocks;
}

/*
 * The inode file and the two allocation maps: their inode token covers
 * their record and their tree (indirect blocks, addresses), not their
 * blocks' contents, which each inode's token and each region's token
 * cover (fs/README.md, "Inodes"). Writing back and dropping every cached
 * inode record here, as a file's revoke does with its blocks, made each
 * maxFilesToCache trim of the inode file's token (it is taken only to
 * grow the file, so it ages first) a sync write of every dirty record and
 * a disk read for every later stat.
 */
static int revoke_map_file(fs_sg *sg, uint64_t ino, enum tok_mode want)
{
	int rc;

	rc = pp_flush(sg->pool, sg->mfsid, 0, ino / FS_INODES_PER_MB, ino / FS_INODES_PER_MB + 1);
	if (!rc)
		rc = pp_flush(sg->pool, sg->mfsid, ino, FS_TAG_IND, UINT64_MAX);
	if (want == TOK_RO)
		return rc;
	inode_has_blocks(sg, ino, true);
	pp_invalidate(sg->pool, sg->mfsid, ino, FS_TAG_IND, UINT64_MAX);
	/* the tree's addresses only: the records' blocks stay cached, and a
	 * dirty one must keep its address (sg.c, "Why an address cache": a
	 * write-behind that maps by reading the tree can deadlock). Their
	 * addresses never change: these files only grow. */
	sg_ac_drop(sg, sg->mfsid, ino, FS_TAG_IND, UINT64_MAX);
	return rc;
}

/* Another node wants inode <k->obj>: write back what this node changed
 * (its record's sector, its directory and indirect blocks), and if it
 * may not even read any more, forget them. An inode whose record says it
 * has no block (its data, entries or target in the record) has nothing
 * cached but that sector: the scans of every buffer and every cached
 * address are skipped (maxFilesToCache revokes many such inodes). */
int sg_revoke_inode(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want)
{
	fs_sg *sg = arg;
	uint64_t ino = k->obj;
	bool blocks;
	int rc;

	(void)r;
	if (k->space != sg->fsid)
		return MM_OK;
	if (ino == 0 || ino == FS_INO_BMAP || ino == FS_INO_IMAP)
		return revoke_map_file(sg, ino, want);
	blocks = inode_has_blocks(sg, ino, false);
	rc = pp_flush(sg->pool, sg->mfsid, 0, ino / FS_INODES_PER_MB, ino / FS_INODES_PER_MB + 1);
	if (!rc && blocks)
		rc = pp_flush(sg->pool, sg->mfsid, ino, 0, UINT64_MAX);
	if (want == TOK_RO)
		return rc;
	blocks = inode_has_blocks(sg, ino, true) || blocks;
	if (blocks) {
		int rc2;

		pp_invalidate(sg->pool, sg->mfsid, ino, 0, UINT64_MAX);
		sg_ac_drop(sg, sg->mfsid, ino, 0, UINT64_MAX);
		/* the data's addresses go with the inode (another node may move
		 * its blocks), so the data goes too: a buffer kept would be
		 * dirtied again without a cached address, and write-behind
		 * would read the tree to map it (sg.c, "Why an address cache") */
		rc2 = pp_flush(sg->pool, sg->fsid, ino, 0, UINT64_MAX);
		if (!rc)
			rc = rc2;
		pp_invalidate(sg->pool, sg->fsid, ino, 0, UINT64_MAX);
		sg_ac_drop(sg, sg->fsid, ino, 0, UINT64_MAX);
	}
	if (sg->inval_set && sg->inval.inode)
		sg->inval.inode(sg->inval.arg, ino, 0, 0);
	return rc;
}

/* Byte-range revoke: write the range's dirty blocks; drop them if this
 * node may no longer read them. */
int sg_revoke_br(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want)
{
	fs_sg *sg = arg;
	uint64_t lo = r.start / sg->B;
	uint64_t hi = r.end == TOK_INF ? UINT64_MAX : (r.end + sg->B - 1) / sg->B;

	if (k->space != sg->fsid)
		return MM_OK;
	if (want == TOK_RO)
		return pp_flush(sg->pool, sg->fsid, k->obj, lo, hi);
	if (sg->inval_set && sg->inval.inode)
		sg->inval.inode(sg->inval.arg, k->obj, (int64_t)r.start,
				r.end == TOK_INF ? 0 : (int64_t)(r.end - r.start));
	return pp_invalidate(sg->pool, sg->fsid, k->obj, lo, hi);
}

void sg_now(struct fs_time *t)
{
	struct timespec ts;

	mm_wall_ts(&ts);
	t->sec = ts.tv_sec;
	t->nsec = (uint32_t)ts.tv_nsec;
}

void sg_fill_attr(fs_sg *sg, const struct fs_inode *in, struct fs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = in->ino;
	a->gen = in->gen;
	a->mode = in->mode;
	a->nlink = in->nlink;
	a->uid = in->uid;
	a->gid = in->gid;
	a->rdev = S_ISCHR(in->mode) || S_ISBLK(in->mode) ? in->rdev : 0;
	a->size = in->size;
	a->blocks = in->subblocks * (sg->S / 512);
	a->blksize = sg->B;
	a->atime = in->atime;
	a->mtime = in->mtime;
	a->ctime = in->ctime;
	a->crtime = in->crtime;
}

bool sg_in_group(const struct fs_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	if (c->in_group)
		return c->in_group(c, gid);
	for (uint32_t i = 0; i < c->ngroups && i < FS_MAX_GROUPS; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* POSIX permission check of <mask> (R_OK 4, W_OK 2, X_OK 1) on <in>:
 * 0 or MM_EPERM-free -EACCES as a negative errno. Root passes except for
 * execute of a file with no execute bit at all. POSIX ACLs: see xattr.c
 * (the mode's group bits are the ACL mask, so a file without an extended
 * ACL is checked exactly by its mode). */
int sg_perm(const struct fs_cred *c, const struct fs_inode *in, int mask)
{
	uint32_t m = in->mode, bits;
	int rc;

	if (c->uid == 0) {
		if ((mask & 1) && !S_ISDIR(m) && !(m & 0111))
			return -EACCES;
		return 0;
	}
	rc = sg_acl_perm(c, in, mask);
	if (rc <= 0)
		return rc;
	if (c->uid == in->uid)
		bits = m >> 6 & 7;
	else if (sg_in_group(c, in->gid))
		bits = m >> 3 & 7;
	else
		bits = m & 7;
	return (bits & (uint32_t)mask) == (uint32_t)mask ? 0 : -EACCES;
}

/* ---- an inode for an operation, and small shared rules ---- */

int sg_vn_get(fs_sg *sg, uint64_t ino, enum tok_mode mode, struct sg_vn *v)
{
	int rc;

	memset(v, 0, sizeof(*v));
	rc = sg_iget(sg, ino, &v->ip);
	if (rc)
		return fs_errno(rc);
	rc = sg_itok(sg, v->ip, mode, &v->h);
	if (!rc) {
		v->held = true;
		rc = sg_iread_ver(sg, v->ip, &v->in, &v->ver);
	}
	if (rc) {
		if (v->held)
			sg_itok_release(sg, &v->h);
		sg_iput(sg, v->ip);
		v->ip = NULL;
		v->held = false;
		return rc == MM_ENOENT ? -ESTALE : fs_errno(rc);
	}
	return 0;
}

void sg_vn_put(fs_sg *sg, struct sg_vn *v)
{
	if (!v->ip)
		return;
	if (v->held)
		sg_itok_release(sg, &v->h);
	sg_iput(sg, v->ip);
	v->ip = NULL;
	v->held = false;
}

uint8_t sg_dtype(uint32_t mode)
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

void sg_touch(struct fs_inode *in, bool m, bool c)
{
	struct fs_time now;

	sg_now(&now);
	if (m)
		in->mtime = now;
	if (c)
		in->ctime = now;
}

bool sg_sticky_denies(const struct fs_cred *c, const struct fs_inode *dir,
		      const struct fs_inode *victim)
{
	return (dir->mode & S_ISVTX) && c->uid != 0 && c->uid != dir->uid && c->uid != victim->uid;
}
