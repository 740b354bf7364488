/*
 * fs/fsck_dir.c - fsck's directories, links and lost+found (phase 4 of
 * fs/fsck.c; contract in fs/fsck.h, shared state in fs/fsck_priv.h).
 *
 *   1. reading a directory: readdir, a lookup of every name; when a
 *      block is damaged, every entry of the blocks that verify (salvage)
 *   2. entries against the inodes; a directory with a bad entry or
 *      damage is rebuilt from the entries kept
 *   3. connectivity: directories the root does not reach and files no
 *      entry names go to lost+found
 *   4. link counts
 */
#include "fs/fsck_priv.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/dir.h"
#include "fs/tree.h"

struct ent {
	uint64_t ino;
	uint32_t gen;
	uint8_t type, namelen;
	char name[FS_NAME_MAX + 1];
};

struct ents {
	struct ent *v;
	size_t n, cap;
};

static int ents_add(struct ents *e, uint64_t ino, uint32_t gen, uint8_t type, const char *name,
		    size_t len)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 32;
		struct ent *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return MM_ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n] = (struct ent){.ino = ino, .gen = gen, .type = type, .namelen = (uint8_t)len};
	memcpy(e->v[e->n].name, name, len);
	e->v[e->n].name[len] = 0;
	e->n++;
	return MM_OK;
}

/* ---- a directory view whose inode the store may change ---- */

/* The store under a directory operation: before it allocates the
 * directory's first block (in-inode entries moving to block 0), the
 * record must already say "block form" (dir.h, fs_dir_insert). */
struct dwrap {
	struct fk *f;
	struct fs_dir *d;
	struct fs_inode *in;
	const struct fs_bstore *under;
	struct fs_bstore bs;
};

static int dw_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct dwrap *w = arg;
	int rc;

	if (write && ino == w->in->ino && !(blk & FS_TAG_IND)) {
		rc = w->under->get(w->under->arg, ino, blk, false, data);
		if (rc == MM_OK) {
			w->under->put(w->under->arg, ino, blk, *data, false);
		} else if (rc == MM_ENOENT && !w->d->in_inode &&
			   (w->in->flags & FS_IF_DATA_IN_INODE)) {
			w->in->flags &= ~FS_IF_DATA_IN_INODE;
			memset(w->in->tail, 0, FS_TAIL_BYTES);
			w->in->tail_len = 0;
			w->in->depth = w->d->depth;
			w->in->size = 0;
			rc = fk_write_inode(w->f, w->in);
			if (rc)
				return rc;
		}
	}
	return w->under->get(w->under->arg, ino, blk, write, data);
}

static void dw_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct dwrap *w = arg;

	w->under->put(w->under->arg, ino, blk, data, dirty);
}

static int dw_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct dwrap *w = arg;

	return w->under->punch(w->under->arg, ino, blk);
}

/* Fill <d> (and <w>) from inode <in>: <tail> is FS_TAIL_BYTES of the
 * caller's. */
static void dview(struct fk *f, struct fs_inode *in, struct fs_dir *d, struct dwrap *w,
		  uint8_t *tail)
{
	memset(d, 0, sizeof(*d));
	*w = (struct dwrap){f, d, in, fs_ds_bs(f->ds), {dw_get, dw_put, dw_punch, NULL}};
	w->bs.arg = w;
	memcpy(tail, in->tail, FS_TAIL_BYTES);
	d->bs = &w->bs;
	d->fsid = f->fsid;
	d->ino = in->ino;
	d->depth = in->depth;
	d->in_inode = in->flags & FS_IF_DATA_IN_INODE;
	d->tail = tail;
	d->tail_len = in->tail_len;
}

/* After a change through <d>: the record as the view says (the pointers
 * are the store's). */
static int dsync(struct fk *f, struct fs_inode *in, struct fs_dir *d)
{
	int rc = fk_read_inode(f, in->ino, in);

	if (rc)
		return rc;
	in->depth = d->depth;
	if (d->in_inode) {
		in->flags |= FS_IF_DATA_IN_INODE;
		memcpy(in->tail, d->tail, FS_TAIL_BYTES);
		in->tail_len = d->tail_len;
		in->size = d->tail_len;
		in->level = 0;
	} else {
		in->flags &= ~FS_IF_DATA_IN_INODE;
		in->tail_len = 0;
	}
	return fk_write_inode(f, in);
}

static int dir_insert(struct fk *f, uint64_t dino, const char *name, uint64_t ino, uint32_t gen,
		      uint8_t type)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint8_t *tail = malloc(FS_TAIL_BYTES);
	struct fs_dir d;
	struct dwrap w;
	int rc = MM_ENOMEM;

	if (!in || !tail)
		goto out;
	rc = fk_read_inode(f, dino, in);
	if (rc)
		goto out;
	dview(f, in, &d, &w, tail);
	rc = fs_dir_insert(&d, name, strlen(name), ino, gen, type);
	if (rc)
		fk_unrepairable(f, "directory %" PRIu64 ": adding '%s': %s", dino, name, d.err);
	else
		rc = dsync(f, in, &d);
out:
	free(in);
	free(tail);
	return rc;
}

static int dir_remove(struct fk *f, uint64_t dino, const char *name)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint8_t *tail = malloc(FS_TAIL_BYTES);
	struct fs_dir d;
	struct dwrap w;
	int rc = MM_ENOMEM;

	if (!in || !tail)
		goto out;
	rc = fk_read_inode(f, dino, in);
	if (rc)
		goto out;
	dview(f, in, &d, &w, tail);
	rc = fs_dir_remove(&d, name, strlen(name), NULL);
	if (rc)
		fk_unrepairable(f, "directory %" PRIu64 ": removing '%s': %s", dino, name, d.err);
	else
		rc = dsync(f, in, &d);
out:
	free(in);
	free(tail);
	return rc;
}

/* ---- 1. reading ---- */

static int rd_cb(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	(void)cookie;
	return ents_add(arg, e->ino, e->gen, e->type, e->name, e->namelen);
}

/* Entries packed in <p> (<len> bytes), as dir.h lays them out; stops at
 * the first that does not parse. */
static int parse(const uint8_t *p, size_t len, struct ents *e)
{
	size_t off = 0;

	while (off + FS_DIR_ENT_FIXED <= len) {
		uint8_t nl = p[off + 13];
		const char *name = (const char *)p + off + FS_DIR_ENT_FIXED;

		if (nl == 0 || off + FS_DIR_ENT_FIXED + nl > len || memchr(name, '/', nl) ||
		    memchr(name, 0, nl))
			break;
		if (ents_add(e, mm_be64_get(p + off), mm_be32_get(p + off + 8), p[off + 12], name,
			     nl))
			return MM_ENOMEM;
		off += fs_dir_entsize(nl);
	}
	return MM_OK;
}

/* Every entry that can still be read: the in-inode area, or each block
 * that verifies. */
static int salvage(struct fk *f, const struct fs_inode *in, struct ents *e)
{
	const struct fs_bstore *bs = fs_ds_bs(f->ds);

	e->n = 0;
	if (in->flags & FS_IF_DATA_IN_INODE)
		return parse(in->tail, in->tail_len, e);
	for (uint64_t blk = 0; blk < (in->size + FS_MB - 1) / FS_MB; blk++) {
		struct fs_mbh h;
		uint8_t *b;
		int rc = bs->get(bs->arg, in->ino, blk, false, &b);

		if (rc)
			continue;
		if (fs_mb_verify(b, FS_MB, FS_BT_DIR, f->fsid, in->ino, blk, &h, NULL, 0) == MM_OK) {
			size_t used = (size_t)(h.b & 0xffffffffu);

			rc = parse(b + FS_MBH_BYTES, used < FS_DIR_BODY ? used : FS_DIR_BODY, e);
		}
		bs->put(bs->arg, in->ino, blk, b, false);
		if (rc)
			return rc;
	}
	return MM_OK;
}

/* The entries of directory <in> into <e>; *damaged and <why> if the
 * directory cannot be read as it is. */
static int read_dir(struct fk *f, struct fs_inode *in, struct ents *e, bool *damaged, char *why,
		    size_t whysz)
{
	uint8_t *tail = malloc(FS_TAIL_BYTES);
	struct fs_dir d;
	struct dwrap w;
	int rc;

	if (!tail)
		return MM_ENOMEM;
	*damaged = false;
	e->n = 0;
	dview(f, in, &d, &w, tail);
	rc = fs_dir_readdir(&d, 0, rd_cb, e);
	if (rc == MM_ENOMEM)
		goto out;
	if (rc < 0) {
		*damaged = true;
		snprintf(why, whysz, "%s", d.err);
		rc = salvage(f, in, e);
		goto out;
	}
	rc = MM_OK;
	for (size_t i = 0; i < e->n; i++) {
		struct fs_dirent x;
		int lr = fs_dir_lookup(&d, e->v[i].name, e->v[i].namelen, &x);

		if (lr != MM_OK || x.ino != e->v[i].ino) {
			*damaged = true;
			snprintf(why, whysz, "entry '%s' is not found by a lookup (%s): the hash "
				 "structure is damaged", e->v[i].name, lr ? d.err : "another inode");
			break;
		}
	}
out:
	free(tail);
	return rc;
}

/* ---- 2. entries ---- */

/* Why entry <x> of directory <dino> cannot stay (NULL: it can). */
static const char *bad_entry(struct fk *f, uint64_t dino, const struct ent *x, char *buf,
			     size_t sz)
{
	const struct fk_ino *t;

	if (!strcmp(x->name, ".") || !strcmp(x->name, ".."))
		return "'.' and '..' are not stored";
	if (x->ino == 3)
		return "names the root directory";
	if (x->ino < FS_FIRST_USER_INO || x->ino >= f->ninodes) {
		snprintf(buf, sz, "names inode %" PRIu64 ", which no file can have", x->ino);
		return buf;
	}
	t = &f->ii[x->ino];
	if (t->state != IS_USED || t->log) {
		snprintf(buf, sz, "names inode %" PRIu64 ", which is %s", x->ino,
			 t->log ? "a log file" : "free");
		return buf;
	}
	if (t->gen != x->gen) {
		snprintf(buf, sz, "names inode %" PRIu64 " generation %u; the inode has %u", x->ino,
			 x->gen, t->gen);
		return buf;
	}
	if (S_ISDIR(t->mode) && t->parent) {
		snprintf(buf, sz, "names directory %" PRIu64 ", which directory %" PRIu64
			 " names already", x->ino, t->parent);
		return buf;
	}
	if (x->ino == dino)
		return "names the directory itself";
	return NULL;
}

/* Give back the blocks of a directory being rebuilt. */
static int unclaim_cb(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	struct fk *f = arg;

	(void)ino;
	(void)blk;
	for (unsigned k = 0; k < FS_MAX_REPLICAS; k++)
		if (p->da[k] && fs_da_disk(p->da[k]) < f->sgd->ndisks)
			fk_claim(f, p->da[k], is_meta ? f->ind_sub : f->spb, false);
	return MM_OK;
}

static int no_alloc(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	return MM_ENOTSUP;
}

/* Directory <in> anew, empty in the inode; its blocks given back. */
static int dir_reset(struct fk *f, struct fs_inode *in)
{
	struct fs_tree t;

	if (!(in->flags & FS_IF_DATA_IN_INODE)) {
		const struct fs_bstore *bs = fs_ds_bs(f->ds);
		int64_t rc;

		/* its blocks read so far are gone too */
		for (uint64_t blk = 0; blk < (in->size + FS_MB - 1) / FS_MB; blk++)
			bs->punch(bs->arg, in->ino, blk);

		fs_ds_tree(f->ds, &t);
		t.free_blk = unclaim_cb;
		t.alloc_meta = no_alloc;
		t.arg = f;
		rc = fs_tree_truncate(&t, in, 0, 0, NULL);
		if (rc < 0) {
			fk_unrepairable(f, "directory %" PRIu64 ": freeing its blocks: %s", in->ino,
					t.err);
			return (int)rc;
		}
		/* a level-0 tree whose pointers are all holes now */
		for (size_t i = 0; i < FS_TAIL_BYTES; i++)
			if (in->tail[i]) {
				fk_unrepairable(f, "directory %" PRIu64 ": blocks left after freeing",
						in->ino);
				return MM_EPROTO;
			}
	}
	in->flags |= FS_IF_DATA_IN_INODE;
	memset(in->tail, 0, FS_TAIL_BYTES);
	in->tail_len = 0;
	in->level = 0;
	in->depth = 0;
	in->size = 0;
	in->subblocks = 0;
	return fk_write_inode(f, in);
}

/* The entries of every directory, against the inodes. */
static int check_entries(struct fk *f, struct fs_inode *in, struct ents *e)
{
	char why[256], buf[160];
	bool damaged;
	uint64_t dino = in->ino;
	size_t keep = 0;
	bool change;
	int rc;

	rc = read_dir(f, in, e, &damaged, why, sizeof(why));
	if (rc)
		return rc;
	change = damaged;
	if (damaged)
		fk_problem(f, f->repair, "directory %" PRIu64 ": %s%s", dino, why,
			   f->repair ? ": rebuilt from the entries that can be read" : "");
	for (size_t i = 0; i < e->n; i++) {
		struct ent *x = &e->v[i];
		const char *bad = bad_entry(f, dino, x, buf, sizeof(buf));
		struct fk_ino *t;

		/* the same name twice (only in a damaged directory) */
		for (size_t j = 0; j < keep && !bad; j++)
			if (!strcmp(e->v[j].name, x->name))
				bad = "is there twice";
		if (bad) {
			fk_problem(f, f->repair, "directory %" PRIu64 ": entry '%s' %s%s", dino,
				   x->name, bad, f->repair ? ": removed" : "");
			change = true;
			continue;
		}
		t = &f->ii[x->ino];
		if (x->type != fk_dt(t->mode)) {
			fk_problem(f, f->repair, "directory %" PRIu64 ": entry '%s' has type %u, "
				   "inode %" PRIu64 " is of type %u%s", dino, x->name, x->type, x->ino,
				   fk_dt(t->mode), f->repair ? ": set" : "");
			x->type = fk_dt(t->mode);
			change = true;
		}
		t->refs++;
		if (S_ISDIR(t->mode)) {
			t->parent = dino;
			f->ii[dino].subdirs++;
		}
		e->v[keep++] = *x;
	}
	e->n = keep;
	if (!change || !f->repair)
		return MM_OK;
	rc = dir_reset(f, in);
	for (size_t i = 0; i < e->n && rc == MM_OK && !f->stop; i++)
		rc = dir_insert(f, dino, e->v[i].name, e->v[i].ino, e->v[i].gen, e->v[i].type);
	return f->stop ? MM_OK : rc;
}

/* ---- 3. connectivity ---- */

/* lost+found in the root, made if missing (repair only). */
static int get_lf(struct fk *f)
{
	struct fs_inode *in;
	uint64_t ino = 0;
	int rc;

	if (f->lf)
		return MM_OK;
	in = calloc(1, sizeof(*in));
	if (!in)
		return MM_ENOMEM;
	for (uint64_t i = FS_FIRST_USER_INO; i < f->ninodes && !ino; i++)
		if (f->ii[i].state == IS_FREE)
			ino = i;
	if (!ino && f->ninodes + FS_INODES_PER_MB <= f->cap &&
	    f->ninodes + FS_INODES_PER_MB <= f->sgd->inode_limit) {
		/* a new block of the inode file: free records first */
		ino = f->ninodes;
		for (uint64_t i = ino; i < ino + FS_INODES_PER_MB; i++) {
			memset(in, 0, sizeof(*in));
			in->ino = i;
			in->flags = FS_IF_FREE;
			rc = fk_write_inode(f, in);
			if (rc) {
				free(in);
				return rc;
			}
		}
		f->ninodes += FS_INODES_PER_MB;
	}
	if (!ino) {
		free(in);
		fk_unrepairable(f, "no free inode for lost+found");
		return MM_ERANGE;
	}
	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->gen = f->ii[ino].gen + 1;
	in->mode = S_IFDIR | 0700;
	in->nlink = 2;
	in->data_rep = f->sgd->data_rep;
	in->meta_rep = f->sgd->meta_rep;
	in->flags = FS_IF_DATA_IN_INODE;
	in->atime.sec = in->mtime.sec = in->ctime.sec = in->crtime.sec = (int64_t)time(NULL);
	rc = fk_write_inode(f, in);
	free(in);
	if (rc)
		return rc;
	f->ii[ino] = (struct fk_ino){.gen = f->ii[ino].gen + 1, .mode = S_IFDIR | 0700, .nlink = 2,
				     .state = IS_USED, .meta = true, .refs = 1, .parent = 3};
	rc = dir_insert(f, 3, "lost+found", ino, f->ii[ino].gen, DT_DIR);
	if (rc)
		return rc;
	f->ii[3].subdirs++;
	f->lf = ino;
	f->r->inodes++;
	f->r->dirs++;
	return MM_OK;
}

static int find_lf(struct fk *f)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint8_t *tail = malloc(FS_TAIL_BYTES);
	struct fs_dirent x;
	struct fs_dir d;
	struct dwrap w;

	if (!in || !tail) {
		free(in);
		free(tail);
		return MM_ENOMEM;
	}
	if (fk_read_inode(f, 3, in) == MM_OK) {
		dview(f, in, &d, &w, tail);
		if (fs_dir_lookup(&d, "lost+found", 10, &x) == MM_OK && x.ino < f->ninodes &&
		    f->ii[x.ino].state == IS_USED && S_ISDIR(f->ii[x.ino].mode) &&
		    f->ii[x.ino].parent == 3)
			f->lf = x.ino;
	}
	free(in);
	free(tail);
	return MM_OK;
}

/* Mark what the root reaches (directories by their parents). */
static void reach(struct fk *f)
{
	bool more = true;

	f->ii[3].reached = true;
	while (more) {
		more = false;
		for (uint64_t i = FS_FIRST_USER_INO; i < f->ninodes; i++) {
			struct fk_ino *x = &f->ii[i];

			if (x->state == IS_USED && S_ISDIR(x->mode) && !x->reached && x->parent &&
			    f->ii[x->parent].reached) {
				x->reached = true;
				more = true;
			}
		}
	}
}

static int link_lf(struct fk *f, uint64_t ino)
{
	char name[32];
	int rc = get_lf(f);

	if (rc)
		return rc;
	snprintf(name, sizeof(name), "#%" PRIu64, ino);
	rc = dir_insert(f, f->lf, name, ino, f->ii[ino].gen, fk_dt(f->ii[ino].mode));
	if (rc)
		return rc;
	f->ii[ino].refs++;
	if (S_ISDIR(f->ii[ino].mode)) {
		f->ii[ino].parent = f->lf;
		f->ii[f->lf].subdirs++;
	}
	return MM_OK;
}

/* The entry naming directory <ino> in <parent>: its name, to remove it. */
static int name_in(struct fk *f, uint64_t parent, uint64_t ino, char *name)
{
	struct fs_inode *in = malloc(sizeof(*in));
	struct ents e = {0};
	bool damaged;
	char why[256];
	int rc = MM_ENOENT;

	if (!in)
		return MM_ENOMEM;
	if (fk_read_inode(f, parent, in) == MM_OK &&
	    read_dir(f, in, &e, &damaged, why, sizeof(why)) == MM_OK)
		for (size_t i = 0; i < e.n && rc; i++)
			if (e.v[i].ino == ino) {
				memcpy(name, e.v[i].name, (size_t)e.v[i].namelen + 1);
				rc = MM_OK;
			}
	free(e.v);
	free(in);
	return rc;
}

static int connect(struct fk *f)
{
	int rc = MM_OK;

	if (f->repair)
		rc = find_lf(f);
	reach(f);
	for (uint64_t i = FS_FIRST_USER_INO; i < f->ninodes && rc == MM_OK && !f->stop; i++) {
		struct fk_ino *x = &f->ii[i];
		uint64_t top = i, steps = 0;
		char name[FS_NAME_MAX + 1];

		if (x->state != IS_USED || !S_ISDIR(x->mode) || x->reached)
			continue;
		/* the top of its chain: no parent, or a cycle */
		while (f->ii[top].parent && !f->ii[f->ii[top].parent].reached && steps++ < f->ninodes &&
		       f->ii[top].parent != i)
			top = f->ii[top].parent;
		fk_problem(f, f->repair, "directory %" PRIu64 " is not reachable from the root%s%s",
			   top, f->ii[top].parent ? " (a cycle)" : "",
			   f->repair ? ": moved to lost+found" : "");
		if (!f->repair) {
			/* as if it were attached: its subtree is reported once */
			f->ii[top].reached = true;
			reach(f);
			continue;
		}
		if (f->ii[top].parent) {
			uint64_t p = f->ii[top].parent;

			rc = name_in(f, p, top, name);
			if (rc == MM_OK)
				rc = dir_remove(f, p, name);
			if (rc)
				break;
			f->ii[p].subdirs--;
			f->ii[top].refs--;
			f->ii[top].parent = 0;
		}
		rc = link_lf(f, top);
		reach(f);
	}
	/* files no entry names */
	for (uint64_t i = FS_FIRST_USER_INO; i < f->ninodes && rc == MM_OK && !f->stop; i++) {
		struct fk_ino *x = &f->ii[i];

		if (x->state != IS_USED || S_ISDIR(x->mode) || x->log || x->refs || i == f->lf)
			continue;
		if (x->nlink == 0 && x->orphan) {
			/* not damage: a log says its node's next mount frees it */
			f->r->orphans++;
			if (f->repair)
				rc = fk_clear_inode(f, i);
			continue;
		}
		if (x->nlink == 0) {
			fk_problem(f, f->repair, "inode %" PRIu64 " is in use with no links and no "
				   "entry%s", i, f->repair ? ": freed" : "");
			if (f->repair)
				rc = fk_clear_inode(f, i);
			continue;
		}
		fk_problem(f, f->repair, "inode %" PRIu64 " (%u links) is named by no directory%s", i,
			   x->nlink, f->repair ? ": moved to lost+found" : "");
		if (f->repair)
			rc = link_lf(f, i);
	}
	return rc;
}

/* ---- 4. link counts ---- */

static int check_links(struct fk *f)
{
	struct fs_inode *in = malloc(sizeof(*in));
	int rc = MM_OK;

	if (!in)
		return MM_ENOMEM;
	for (uint64_t i = 3; i < f->ninodes && rc == MM_OK && !f->stop; i++) {
		struct fk_ino *x = &f->ii[i];
		uint32_t want;

		if (x->state != IS_USED || x->log || (i > 3 && i < FS_FIRST_USER_INO))
			continue;
		want = S_ISDIR(x->mode) ? 2 + x->subdirs : x->refs;
		if (want == x->nlink)
			continue;
		fk_problem(f, f->repair, "inode %" PRIu64 " has %u links, %s %u%s", i, x->nlink,
			   S_ISDIR(x->mode) ? "2 + its subdirectories make" : "entries naming it:",
			   want, f->repair ? ": set" : "");
		if (!f->repair)
			continue;
		rc = fk_read_inode(f, i, in);
		if (rc == MM_OK) {
			in->nlink = want;
			rc = fk_write_inode(f, in);
			x->nlink = want;
		}
	}
	free(in);
	return rc;
}

int fk_dirs(struct fk *f)
{
	struct fs_inode *in = malloc(sizeof(*in));
	struct ents e = {0};
	int rc = MM_OK;

	if (!in)
		return MM_ENOMEM;
	f->ii[3].parent = 3;
	for (uint64_t i = 3; i < f->ninodes && rc == MM_OK && !f->stop; i++) {
		fk_progress(f, "Checking directories", i, f->ninodes);
		if (f->ii[i].state != IS_USED || !S_ISDIR(f->ii[i].mode))
			continue;
		if (fk_read_inode(f, i, in) != MM_OK)
			continue;
		rc = check_entries(f, in, &e);
	}
	fk_progress(f, "Checking directories", 1, 1);
	free(e.v);
	free(in);
	if (rc == MM_OK && !f->stop) {
		fk_progress(f, "Checking connectivity", 0, 1);
		rc = connect(f);
		fk_progress(f, "Checking connectivity", 1, 1);
	}
	if (rc == MM_OK && !f->stop)
		rc = check_links(f);
	if (rc && !f->stop) {
		f->stop = true;
		f->fatal = rc;
		fs_errf(f->err, f->errsz, rc, "checking directories: %s", mm_strerror(rc));
	}
	return MM_OK;
}
