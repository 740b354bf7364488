/*
 * fs/fsck.c - check and repair an unmounted stripe group (contract in
 * fs/fsck.h, design in fs/README.md "fsck").
 *
 *   1. problems, progress, claims, inode helpers
 *   2. the descriptor
 *   3. (logs: the log table, replay: fs/fsck_logs.c)
 *   4. inodes and their trees: every record, every pointer, every replica
 *   5. (the maps, rebuilt from what the files use and compared: fs/fsck_maps.c)
 *   6. one pass, and fs_fsck (repair passes until one finds nothing)
 * Directories, links and lost+found are fs/fsck_dir.c. Everything is
 * read and changed through the metadata store of fs/fsck_int.h; with
 * repair it is written at the end of the pass.
 */
#include "fs/fsck.h"
#include "fs/fsck_priv.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/log.h"
#include "fs/mkfs_int.h"
#include "fs/tree.h"

/* ---- 1. helpers ---- */

void fk_problem(struct fk *f, bool fixed, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	f->r->found++;
	f->r->fixed += fixed;
	if (!f->p->log || f->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->p->log(f->p->arg, line, fixed);
}

void fk_unrepairable(struct fk *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->stop = true;
	fk_problem(f, false, "%s: cannot repair", line);
}

void fk_progress(struct fk *f, const char *phase, uint64_t done, uint64_t total)
{
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

	if (!f->p->progress || f->quiet)
		return;
	if (phase != f->phase) {
		f->phase = phase;
		f->last_pct = 0;
		f->p->progress(f->p->arg, phase, 0);
		if (pct == 0)
			return;
	}
	if (pct / 10 > f->last_pct / 10 || (pct == 100 && f->last_pct != 100)) {
		f->last_pct = pct;
		f->p->progress(f->p->arg, phase, pct);
	}
}

const char *fk_dname(const struct fk *f, uint32_t d)
{
	return d < f->sgd->ndisks ? f->sgd->disk[d].name : "?";
}

uint8_t fk_dt(uint32_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return DT_DIR;
	case S_IFLNK: return DT_LNK;
	case S_IFCHR: return DT_CHR;
	case S_IFBLK: return DT_BLK;
	case S_IFIFO: return DT_FIFO;
	case S_IFSOCK: return DT_SOCK;
	default: return DT_REG;
	}
}

bool fk_claimed(const struct fk *f, fs_da da, uint32_t n)
{
	const uint8_t *m = f->claim[fs_da_disk(da)];

	for (uint64_t i = fs_da_sub(da) - f->first; i < fs_da_sub(da) - f->first + n; i++)
		if (m[i / 8] >> (i % 8) & 1)
			return true;
	return false;
}

void fk_claim(struct fk *f, fs_da da, uint32_t n, bool on)
{
	uint8_t *m = f->claim[fs_da_disk(da)];

	for (uint64_t i = fs_da_sub(da) - f->first; i < fs_da_sub(da) - f->first + n; i++) {
		if (on)
			m[i / 8] |= (uint8_t)(1u << (i % 8));
		else
			m[i / 8] &= (uint8_t)~(1u << (i % 8));
	}
}

/* Full blocks on disk <d> (0 for descOnly and tiny disks). */
static uint64_t nblocks_of(const struct fk *f, uint32_t d)
{
	const struct fs_sgd_disk *sd = &f->sgd->disk[d];

	if (sd->usage == FS_USAGE_DESC_ONLY || sd->subblocks < f->first)
		return 0;
	return (sd->subblocks - f->first) / f->spb;
}

int fk_read_inode(struct fk *f, uint64_t ino, struct fs_inode *in)
{
	int rc = fs_ds_inode(f->ds, ino, in, NULL);

	if (rc && rc != MM_ENOENT && rc != MM_EPROTO && rc != MM_ECHECKSUM && rc != MM_ENOTSUP) {
		f->stop = true;
		f->fatal = rc;
		fs_errf(f->err, f->errsz, rc, "%s", fs_ds_err(f->ds));
	}
	return rc;
}

int fk_write_inode(struct fk *f, const struct fs_inode *in)
{
	int rc = fs_ds_put_inode(f->ds, in);

	if (rc) {
		f->stop = true;
		f->fatal = rc;
		fs_errf(f->err, f->errsz, rc, "inode %" PRIu64 ": %s", in->ino, fs_ds_err(f->ds));
	}
	return rc;
}

/* A free record for <ino> whose generation was <gen>. */
static int write_free(struct fk *f, uint64_t ino, uint32_t gen)
{
	struct fs_inode *in = calloc(1, sizeof(*in));
	int rc;

	if (!in)
		return MM_ENOMEM;
	in->ino = ino;
	in->gen = gen;
	in->flags = FS_IF_FREE;
	rc = fk_write_inode(f, in);
	free(in);
	return rc;
}

/* ---- the allocator repairs use: free space from the claims ---- */

static int find_full(struct fk *f, uint32_t d, fs_da *da)
{
	uint64_t n = nblocks_of(f, d);

	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = (f->cursor[d] + k) % n;
		fs_da x = fs_da_make(d, f->first + i * f->spb);

		if (!fk_claimed(f, x, f->spb)) {
			f->cursor[d] = (uint32_t)(i + 1);
			*da = x;
			return MM_OK;
		}
	}
	return MM_ERANGE;
}

static int fk_alloc(void *arg, uint64_t ino, bool ind, unsigned nrep, struct fs_ptr *p)
{
	struct fk *f = arg;
	struct fs_place *pl = malloc(sizeof(*pl));
	bool *full = calloc(FS_MAX_DISKS, sizeof(*full));
	uint32_t disks[FS_MAX_REPLICAS];
	int rc = MM_ENOMEM;

	if (!pl || !full)
		goto out;
	rc = fs_place_init(pl, f->sgd, "system", FS_KIND_META, ino);
	while (rc == MM_OK) {
		unsigned k;

		rc = fs_place_block(pl, ino, nrep, full, disks);
		if (rc)
			break;
		memset(p, 0, sizeof(*p));
		for (k = 0; k < nrep; k++)
			if (find_full(f, disks[k], &p->da[k]) != MM_OK) {
				full[disks[k]] = true;
				break;
			}
		if (k == nrep) {
			for (k = 0; k < nrep; k++)
				fk_claim(f, p->da[k], ind ? f->ind_sub : f->spb, true);
			break;
		}
	}
out:
	free(pl);
	free(full);
	return rc;
}

/* ---- 2. the descriptor ---- */

static int check_sgd(struct fk *f, uint8_t *fixslot)
{
	uint8_t *enc = malloc(FS_SGD_SLOT_BYTES), *slot = malloc(FS_SGD_SLOT_BYTES);
	struct fs_sgd *tmp = malloc(sizeof(*tmp));
	int rc = MM_OK;

	if (!enc || !slot || !tmp) {
		rc = fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
		goto out;
	}
	fs_sgd_encode(f->sgd, enc);
	for (uint32_t d = 0; d < f->sgd->ndisks; d++) {
		uint64_t gen[2] = {0, 0};
		bool holds = false;

		if (!f->sgd->disk[d].has_desc)
			continue;
		for (int k = 0; k < 2; k++) {
			if (fs_mkfs_io_rc(f->io->read(f->io->arg, d, k ? FS_SGD_SLOT1 : FS_SGD_SLOT0,
						      slot, FS_SGD_SLOT_BYTES)) != MM_OK)
				continue;
			if (!memcmp(slot, enc, FS_SGD_SLOT_BYTES))
				holds = true;
			else if (fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, tmp, NULL, 0) == MM_OK)
				gen[k] = tmp->generation;
		}
		if (holds)
			continue;
		/* the slot a write of the next generation would use: the older */
		fixslot[d] = (uint8_t)(1 + (gen[1] < gen[0]));
		fk_problem(f, f->repair, "descriptor disk %u (%s) does not hold the descriptor of "
			   "generation %" PRIu64 " (its slots: generation %" PRIu64 ", %" PRIu64 "; 0: "
			   "none valid)%s", d, fk_dname(f, d), f->sgd->generation, gen[0], gen[1],
			   f->repair ? ": rewritten" : "");
	}
out:
	free(enc);
	free(slot);
	free(tmp);
	return rc;
}

static int write_sgd(struct fk *f, const uint8_t *fixslot)
{
	uint8_t *enc = malloc(FS_SGD_SLOT_BYTES);
	int rc = MM_OK;

	if (!enc)
		return fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
	fs_sgd_encode(f->sgd, enc);
	for (uint32_t d = 0; d < f->sgd->ndisks && rc == MM_OK; d++) {
		if (!fixslot[d])
			continue;
		rc = fs_mkfs_io_rc(f->io->write(f->io->arg, d, fixslot[d] == 1 ? FS_SGD_SLOT0 :
						FS_SGD_SLOT1, enc, FS_SGD_SLOT_BYTES));
		if (rc)
			fs_errf(f->err, f->errsz, rc, "disk %u (%s): writing the descriptor failed: %s",
				d, fk_dname(f, d), mm_strerror(rc));
	}
	free(enc);
	return rc;
}

/* ---- 4. inodes and trees ---- */

/* One replica of one block a file's tree names. */
struct claim {
	fs_da da;
	uint32_t nsub;
	uint64_t blk;		/* block number, or indirect tag */
	bool data;		/* a data block of a data file */
	bool taken;		/* claimed by this inode */
};

struct walk {
	struct fk *f;
	struct fs_inode *in;
	bool meta;
	struct claim *c;
	size_t n, cap;
	uint64_t *punch;	/* data blocks to punch (bad or lost claims) */
	size_t npunch, cappunch;
	bool damaged;		/* a metadata pointer is bad: the inode cannot be kept */
	char why[256];
};

static int push_punch(struct walk *w, uint64_t n)
{
	if (w->npunch && w->punch[w->npunch - 1] == n)
		return MM_OK;
	if (w->npunch == w->cappunch) {
		size_t cap = w->cappunch ? 2 * w->cappunch : 16;
		uint64_t *p = realloc(w->punch, cap * sizeof(*p));

		if (!p)
			return MM_ENOMEM;
		w->punch = p;
		w->cappunch = cap;
	}
	w->punch[w->npunch++] = n;
	return MM_OK;
}

/* Is <da> a place for <nsub> subblocks of this kind? NULL if so, else why not. */
static const char *bad_addr(struct fk *f, fs_da da, uint32_t nsub, bool meta)
{
	uint32_t d = fs_da_disk(da);
	uint64_t s = fs_da_sub(da);
	uint8_t u;

	if (d >= f->sgd->ndisks)
		return "names no disk";
	u = f->sgd->disk[d].usage;
	if (meta ? (u != FS_USAGE_META_ONLY && u != FS_USAGE_DATA_AND_META) :
		   (u != FS_USAGE_DATA_ONLY && u != FS_USAGE_DATA_AND_META))
		return meta ? "is not on a metadata disk" : "is not on a data disk";
	if (s < f->first || s + nsub > f->first + nblocks_of(f, d) * f->spb)
		return "lies outside the disk's file system blocks";
	if (nsub == f->spb ? (s - f->first) % f->spb : (s - f->first) % f->spb + nsub > f->spb)
		return nsub == f->spb ? "is not a full block" : "crosses a full block";
	return NULL;
}

/* Every replica of metadata block (ino, blk) at <p> + <off>: if one
 * verifies and another does not (or differs), rewrite them all. */
static void check_replicas(struct fk *f, uint64_t ino, uint64_t blk, const struct fs_ptr *p,
			   uint32_t off, unsigned nrep, unsigned type)
{
	uint8_t *b[FS_MAX_REPLICAS] = {0};
	bool ok[FS_MAX_REPLICAS] = {0}, any = false, bad = false;
	unsigned badk = 0;

	if (nrep < 2)
		return;
	for (unsigned k = 0; k < nrep; k++) {
		fs_da da = p->da[k];

		b[k] = malloc(FS_MB);
		if (!b[k])
			goto out;
		if (fs_mkfs_io_rc(f->io->read(f->io->arg, fs_da_disk(da), fs_da_sub(da) * f->s + off,
					      b[k], FS_MB)) != MM_OK) {
			ok[k] = false;
		} else if (fs_mkfs_all_zero(b[k], FS_MB)) {
			ok[k] = type != FS_BT_INDIRECT && type != FS_BT_INODE;
		} else if (type == FS_BT_INODE) {
			ok[k] = true;
			for (uint32_t r = 0; r < FS_INODES_PER_MB && ok[k]; r++)
				ok[k] = fs_mb_verify(b[k] + r * FS_INODE_BYTES, FS_INODE_BYTES,
						     FS_BT_INODE, f->fsid, blk * FS_INODES_PER_MB + r,
						     0, NULL, NULL, 0) == MM_OK;
		} else {
			ok[k] = fs_mb_verify(b[k], FS_MB, type, f->fsid, ino, blk, NULL, NULL, 0) ==
				MM_OK;
		}
		any |= ok[k];
	}
	for (unsigned k = 0; k < nrep; k++) {
		unsigned g = 0;

		while (g < nrep && !ok[g])
			g++;
		if (!ok[k] || (g < nrep && memcmp(b[k], b[g], FS_MB))) {
			bad = true;
			badk = k;
			break;
		}
	}
	if (any && bad) {
		const struct fs_bstore *bs = fs_ds_bs(f->ds);
		uint8_t *x;

		char what[64];

		if (fs_tag_is_xattr(blk))
			snprintf(what, sizeof(what), "xattr overflow block %u",
				 (unsigned)(blk - FS_TAG_XATTR));
		else
			snprintf(what, sizeof(what), "block %#" PRIx64, blk);
		fk_problem(f, f->repair, "inode %" PRIu64 " %s: replica %u (disk %u "
			   "(%s) subblock %" PRIu64 ") is damaged or differs%s", ino, what, badk,
			   fs_da_disk(p->da[badk]), fk_dname(f, fs_da_disk(p->da[badk])),
			   fs_da_sub(p->da[badk]), f->repair ? ": rewritten from a good one" : "");
		if (f->repair) {
			if (bs->get(bs->arg, ino, blk, false, &x) == MM_OK) {
				bs->put(bs->arg, ino, blk, x, false);
				fs_ds_rewrite(f->ds, ino, blk);
			} else {
				bs->punch(bs->arg, ino, blk);
			}
		}
	}
out:
	for (unsigned k = 0; k < nrep; k++)
		free(b[k]);
}

/* The block type of a metadata file's blocks. */
static unsigned meta_type(const struct fk *f, uint64_t ino)
{
	if (ino == 0)
		return FS_BT_INODE;
	if (ino == FS_INO_BMAP)
		return FS_BT_BMAP;
	if (ino == FS_INO_IMAP)
		return FS_BT_IMAP;
	if (ino == 4)
		return FS_BT_LOGTAB;
	if (f->ii[ino].log)
		return FS_BT_LOG;
	return FS_BT_DIR;
}

static int walk_cb(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct walk *w = arg;
	struct fk *f = w->f;
	struct fs_inode *in = w->in;
	bool meta = w->meta || level > 0;
	unsigned nrep = meta ? in->meta_rep : in->data_rep;
	uint32_t nsub = level ? f->ind_sub : f->spb;
	uint64_t blk = level ? fs_tree_tag(level, index) : index;
	const char *why = NULL;
	unsigned k;

	/* a data file's last block, when the file ends inside it: a fragment */
	if (!meta && index * (uint64_t)f->b < in->size && in->size < (index + 1) * (uint64_t)f->b)
		nsub = (uint32_t)((in->size - index * (uint64_t)f->b + f->s - 1) / f->s);
	for (k = 0; k < FS_MAX_REPLICAS && !why; k++) {
		if ((k < nrep) != (p->da[k] != FS_DA_NONE))
			why = p->da[k] ? "has more replicas than the file" :
					 "has fewer replicas than the file";
		else if (p->da[k])
			why = bad_addr(f, p->da[k], nsub, meta);
	}
	if (why) {
		k--;
		if (level == 0 && !w->meta) {
			fk_problem(f, f->repair, "inode %" PRIu64 " block %" PRIu64 ": replica %u "
				   "address %#" PRIx64 " %s%s", in->ino, index, k, p->da[k], why,
				   f->repair ? ": block punched (a hole)" : "");
			return push_punch(w, index);
		}
		w->damaged = true;
		if (level)
			snprintf(w->why, sizeof(w->why), "indirect block level %u index %" PRIu64
				 ": replica %u address %#" PRIx64 " %s", level, index, k, p->da[k],
				 why);
		else
			snprintf(w->why, sizeof(w->why), "block %" PRIu64 ": replica %u address %#"
				 PRIx64 " %s", index, k, p->da[k], why);
		return 1;
	}
	if (level)
		check_replicas(f, in->ino, blk, p, 0, nrep, FS_BT_INDIRECT);
	else if (w->meta)
		for (uint32_t s = 0; s < f->mpb && (index * f->mpb + s) * FS_MB < in->size; s++)
			check_replicas(f, in->ino, index * f->mpb + s, p, s * FS_MB, nrep,
				       meta_type(f, in->ino));
	for (k = 0; k < nrep; k++) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 64;
			struct claim *c = realloc(w->c, cap * sizeof(*c));

			if (!c)
				return MM_ENOMEM;
			w->c = c;
			w->cap = cap;
		}
		w->c[w->n++] = (struct claim){p->da[k], nsub, blk, level == 0 && !w->meta, false};
	}
	return 0;
}

/* tree.c frees nothing fsck has to know of: the maps are rebuilt from
 * the claims. */
static int free_none(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	(void)is_meta;
	return MM_OK;
}

static int alloc_none(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	return MM_ENOTSUP;
}

/* Walk <in>'s tree into w (claims, punches, damage). */
static int walk_tree(struct fk *f, struct fs_inode *in, struct walk *w)
{
	struct fs_tree t;
	int rc;

	w->n = w->npunch = 0;
	w->damaged = false;
	w->in = in;
	w->meta = f->ii[in->ino].meta;
	fs_ds_tree(f->ds, &t);
	rc = fs_tree_iterate(&t, in, 0, UINT64_MAX, FS_TREE_ITER_META, walk_cb, w);
	if (rc < 0 && rc != MM_ENOMEM && !w->damaged) {
		w->damaged = true;
		snprintf(w->why, sizeof(w->why), "%s", t.err);
	}
	return rc == MM_ENOMEM ? rc : MM_OK;
}

/* Punch w's data blocks from <in> (its claims not yet taken). */
static int punch_blocks(struct fk *f, struct fs_inode *in, struct walk *w)
{
	struct fs_tree t;
	struct fs_ptr hole = {{0}};

	fs_ds_tree(f->ds, &t);
	t.alloc_meta = alloc_none;
	t.free_blk = free_none;
	for (size_t i = 0; i < w->npunch; i++) {
		int rc = fs_tree_set(&t, in, w->punch[i], &hole, NULL);

		if (rc < 0)
			return rc;
	}
	return fk_write_inode(f, in);
}

/* Give back the xattr overflow's claims (an inode cleared). */
static void xattr_unclaim(struct fk *f, const struct fs_inode *in)
{
	uint32_t n = f->ind_sub * in->xattr_units;

	if (!(in->flags & FS_IF_XATTR_OVERFLOW))
		return;
	for (unsigned k = 0; k < in->meta_rep; k++)
		if (fk_claimed(f, in->xattr_ovf.da[k], n))
			fk_claim(f, in->xattr_ovf.da[k], n, false);
}

/*
 * Inode <in>'s xattr overflow (xattr_units blocks in one run a replica):
 * its addresses, replicas, headers and entries. A good one is claimed
 * and its subblocks returned; a bad one is reported and, repairing,
 * dropped (its attributes are lost; the inode's count loses its
 * subblocks) and 0 returned.
 */
static uint64_t check_xattr(struct fk *f, struct fs_inode *in)
{
	const struct fs_bstore *bs = fs_ds_bs(f->ds);
	const struct fs_ptr *p = &in->xattr_ovf;
	unsigned units = in->xattr_units;
	uint32_t run = f->ind_sub * units;
	uint64_t sub = (uint64_t)run * in->meta_rep, len = 0;
	const size_t body = FS_MB - FS_MBH_BYTES;
	uint8_t *all = NULL;
	char why[192] = "";
	struct fs_mbh h;
	uint8_t *b;
	unsigned k;

	if (!(in->flags & FS_IF_XATTR_OVERFLOW))
		return 0;
	if (units < 1 || (uint64_t)units * FS_MB > (uint64_t)f->spb * f->s)
		snprintf(why, sizeof(why), "%u blocks do not fit in a file system block", units);
	for (k = 0; k < in->meta_rep && !why[0]; k++) {
		const char *w = bad_addr(f, p->da[k], run, true);

		if (!w && fk_claimed(f, p->da[k], run))
			w = "is already used by another block";
		if (w)
			snprintf(why, sizeof(why), "replica %u address %#" PRIx64 " %s", k,
				 p->da[k], w);
	}
	if (!why[0] && !(all = calloc(units, body)))
		snprintf(why, sizeof(why), "out of memory");
	for (unsigned i = 0; i < units && !why[0]; i++) {
		uint64_t tag = FS_TAG_XATTR + i;

		check_replicas(f, in->ino, tag, p, i * FS_MB, in->meta_rep, FS_BT_XATTR);
		if (bs->get(bs->arg, in->ino, tag, false, &b) != MM_OK) {
			snprintf(why, sizeof(why), "block %u cannot be read", i);
			break;
		}
		if (fs_mb_verify(b, FS_MB, FS_BT_XATTR, f->fsid, in->ino, tag, &h, why,
				 sizeof(why)) == MM_OK) {
			if (h.b || (i && h.a))
				snprintf(why, sizeof(why), "block %u: header %" PRIu64 " %" PRIu64, i,
					 h.a, h.b);
			memcpy(all + i * body, b + FS_MBH_BYTES, body);
			if (i == 0)
				len = h.a;
		}
		bs->put(bs->arg, in->ino, tag, b, false);
	}
	if (!why[0] && (len == 0 || !fs_xattr_ovf_ok(all, len, units)))
		snprintf(why, sizeof(why), "entries of %" PRIu64 " bytes in %u blocks are malformed",
			 len, units);
	free(all);
	if (!why[0]) {
		for (k = 0; k < in->meta_rep; k++) {
			fk_claim(f, p->da[k], run, true);
			f->r->blocks += units;
		}
		f->r->subblocks += sub;
		return sub;
	}
	fk_problem(f, f->repair, "inode %" PRIu64 ": xattr overflow: %s%s", in->ino, why,
		   f->repair ? ": dropped, with the attributes it held" : "");
	if (f->repair) {
		memset(&in->xattr_ovf, 0, sizeof(in->xattr_ovf));
		in->flags &= ~(uint32_t)FS_IF_XATTR_OVERFLOW;
		in->xattr_units = 0;
		in->subblocks -= in->subblocks >= sub ? sub : in->subblocks;
		fk_write_inode(f, in);
	}
	return 0;
}

static const char *kind_of(const struct fs_inode *in)
{
	return S_ISDIR(in->mode) ? "directory" : "file";
}

int fk_clear_inode(struct fk *f, uint64_t ino)
{
	struct fs_inode *in = malloc(sizeof(*in));
	struct walk w = {.f = f};
	uint32_t gen = f->ii[ino].gen;
	int rc = MM_ENOMEM;

	if (!in)
		return rc;
	/* give back what it claimed (when its tree can be read) */
	rc = fk_read_inode(f, ino, in);
	if (rc == MM_OK && !(in->flags & (FS_IF_FREE | FS_IF_DATA_IN_INODE)) &&
	    f->ii[ino].state == IS_USED && walk_tree(f, in, &w) == MM_OK && !w.damaged) {
		for (size_t i = 0; i < w.n; i++)
			fk_claim(f, w.c[i].da, w.c[i].nsub, false);
	}
	if (rc == MM_OK && f->ii[ino].state == IS_USED && !(in->flags & FS_IF_FREE))
		xattr_unclaim(f, in);
	rc = write_free(f, ino, gen);
	f->ii[ino].state = IS_FREE;
	free(w.c);
	free(w.punch);
	free(in);
	return rc;
}

/* Inode <ino> (in use): its tree, claims, subblocks (<xsub> of them its
 * xattr overflow block's, already claimed). */
static void check_tree(struct fk *f, struct fs_inode *in, uint64_t xsub)
{
	struct walk w = {.f = f};
	uint64_t sub = 0;
	size_t lost = 0;
	int rc;

	for (int round = 0; round < 3; round++) {
		rc = walk_tree(f, in, &w);
		if (rc)
			goto nomem;
		if (w.damaged)
			break;
		/* claims: a subblock already claimed is lost by this claim */
		lost = 0;
		for (size_t i = 0; i < w.n; i++) {
			struct claim *c = &w.c[i];

			if (fk_claimed(f, c->da, c->nsub)) {
				fk_problem(f, f->repair && (c->data || in->ino >= FS_FIRST_USER_INO),
					   "inode %" PRIu64 " %s %#" PRIx64 ": disk %u (%s) subblocks %"
					   PRIu64 " .. %" PRIu64 " are already used by another block%s",
					   in->ino, c->data ? "block" : "metadata block", c->blk,
					   fs_da_disk(c->da), fk_dname(f, fs_da_disk(c->da)),
					   fs_da_sub(c->da), fs_da_sub(c->da) + c->nsub - 1,
					   !f->repair ? "" : c->data ? ": block punched (a hole)" :
					   ": inode cleared");
				if (!c->data) {
					w.damaged = true;
					snprintf(w.why, sizeof(w.why), "a metadata block is claimed twice");
					break;
				}
				if (push_punch(&w, c->blk))
					goto nomem;
				lost++;
				continue;
			}
			fk_claim(f, c->da, c->nsub, true);
			c->taken = true;
		}
		if (w.damaged || !w.npunch || !f->repair)
			break;
		/* take the claims back, punch, walk again */
		for (size_t i = 0; i < w.n; i++)
			if (w.c[i].taken)
				fk_claim(f, w.c[i].da, w.c[i].nsub, false);
		if (punch_blocks(f, in, &w) != MM_OK)
			goto out;
	}
	if (w.damaged) {
		/* the claims taken before the damage was seen go back */
		bool fix = f->repair && in->ino >= FS_FIRST_USER_INO;

		fk_problem(f, fix, "inode %" PRIu64 " (%s): %s%s", in->ino, kind_of(in), w.why,
			   fix ? ": inode cleared" : "");
		if (in->ino < FS_FIRST_USER_INO || (f->ii[in->ino].log && f->repair)) {
			if (f->repair)
				fk_unrepairable(f, "inode %" PRIu64, in->ino);
			goto out;
		}
		if (fix) {
			xattr_unclaim(f, in);
			write_free(f, in->ino, in->gen);
			f->ii[in->ino].state = IS_FREE;
		}
		goto out;
	}
	for (size_t i = 0; i < w.n; i++) {
		sub += w.c[i].nsub;
		f->r->blocks++;
	}
	f->r->subblocks += sub;
	sub += xsub;
	if (sub != in->subblocks) {
		fk_problem(f, f->repair, "inode %" PRIu64 ": counts %" PRIu64 " subblocks used, its "
			   "blocks take %" PRIu64 "%s", in->ino, in->subblocks, sub,
			   f->repair ? ": set" : "");
		if (f->repair) {
			in->subblocks = sub;
			fk_write_inode(f, in);
		}
	}
	goto out;
nomem:
	f->stop = true;
	f->fatal = MM_ENOMEM;
	fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
out:
	(void)lost;
	free(w.c);
	free(w.punch);
}

static const char *const resv_what[] = {"the inode file", "the block map file",
					"the inode map file", "the root directory", "the log table"};

/* Every record; then every tree. */
static void check_inodes(struct fk *f)
{
	struct fs_inode *in = malloc(sizeof(*in));
	uint8_t *raw = malloc(FS_INODE_BYTES);

	if (!in || !raw)
		goto nomem;
	for (uint64_t ino = 0; ino < f->ninodes && !f->stop; ino++) {
		struct fk_ino *x = &f->ii[ino];
		int rc = fs_ds_inode(f->ds, ino, in, raw);

		fk_progress(f, "Checking inodes", ino, 2 * f->ninodes);
		if (rc == MM_ENOENT) {
			x->state = IS_FREE;	/* a hole in the inode file: never used */
			continue;
		}
		if (rc && rc != MM_EPROTO && rc != MM_ECHECKSUM && rc != MM_ENOTSUP) {
			f->stop = true;
			f->fatal = rc;
			fs_errf(f->err, f->errsz, rc, "%s", fs_ds_err(f->ds));
			break;
		}
		if (rc) {
			bool fix = f->repair && ino >= 5;

			x->state = IS_BAD;
			fk_problem(f, fix, "%s%s", fs_ds_err(f->ds), fix ? ": inode cleared" : "");
			if (ino < 5) {
				fk_unrepairable(f, "inode %" PRIu64 " (%s) is damaged", ino,
						resv_what[ino]);
				break;
			}
			if (fix) {
				/* a new generation: old handles must not match */
				write_free(f, ino, (uint32_t)mm_be64_get(raw + 32) + 1);
				x->state = IS_FREE;
			}
			continue;
		}
		x->gen = in->gen;
		if (in->flags & FS_IF_FREE) {
			x->state = IS_FREE;
			continue;
		}
		x->state = IS_USED;
		x->mode = in->mode;
		x->nlink = in->nlink;
		x->meta = x->meta || ino <= 4 || S_ISDIR(in->mode) || x->log;
	}
	/* reserved inodes */
	for (uint64_t ino = 0; ino < FS_FIRST_USER_INO && ino < f->ninodes && !f->stop; ino++) {
		struct fk_ino *x = &f->ii[ino];
		bool dir = ino == 3;

		if (ino >= 5) {
			if (x->state == IS_USED) {
				fk_problem(f, f->repair, "reserved inode %" PRIu64 " is in use%s", ino,
					   f->repair ? ": freed" : "");
				if (f->repair)
					fk_clear_inode(f, ino);
			}
			continue;
		}
		if (fk_read_inode(f, ino, in) != MM_OK || x->state != IS_USED ||
		    (dir ? !S_ISDIR(in->mode) : !S_ISREG(in->mode)) ||
		    (!dir && (in->flags & FS_IF_DATA_IN_INODE)))
			fk_unrepairable(f, "inode %" PRIu64 " (%s) is %s", ino, resv_what[ino],
					x->state != IS_USED ? "free" : "not of its type");
	}
	if (!f->stop && f->ninodes) {
		struct fs_tree t;
		struct fs_ptr p0;

		fs_ds_tree(f->ds, &t);
		if (fk_read_inode(f, 0, in) != MM_OK || fs_tree_lookup(&t, in, 0, &p0) != 1 ||
		    memcmp(&p0, &f->sgd->ifile0, sizeof(p0)))
			fk_unrepairable(f, "inode 0: its block 0 is not the one the descriptor names");
	}
	for (uint64_t ino = 0; ino < f->ninodes && !f->stop; ino++) {
		uint64_t xsub;

		fk_progress(f, "Checking inodes", f->ninodes + ino, 2 * f->ninodes);
		if (f->ii[ino].state != IS_USED)
			continue;
		if (fk_read_inode(f, ino, in) != MM_OK)
			continue;
		f->r->inodes++;
		if (S_ISDIR(in->mode))
			f->r->dirs++;
		else
			f->r->files++;
		xsub = check_xattr(f, in);
		if (in->flags & FS_IF_DATA_IN_INODE) {
			if (in->subblocks != xsub) {
				fk_problem(f, f->repair, "inode %" PRIu64 ": data in the inode, but "
					   "counts %" PRIu64 " subblocks used (its xattr block takes %"
					   PRIu64 ")%s", ino, in->subblocks, xsub,
					   f->repair ? ": set" : "");
				if (f->repair) {
					in->subblocks = xsub;
					fk_write_inode(f, in);
				}
			}
			continue;
		}
		check_tree(f, in, xsub);
	}
	fk_progress(f, "Checking inodes", 1, 1);
	free(in);
	free(raw);
	return;
nomem:
	free(in);
	free(raw);
	f->stop = true;
	f->fatal = MM_ENOMEM;
	fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
}

/* ---- 6. a pass ---- */

static int setup(struct fk *f)
{
	struct fs_inode *in = malloc(sizeof(*in));
	char msg[512];
	int rc;

	if (!in)
		return fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
	f->fsid = (uint32_t)f->sgd->fsid;
	f->b = f->sgd->block_size;
	f->s = f->sgd->subblock_size;
	f->spb = f->b / f->s;
	f->mpb = f->b / FS_MB;
	f->ind_sub = fs_mkfs_ind_subblocks(f->s);
	f->maxrep = f->sgd->meta_rep_max > f->sgd->data_rep_max ? f->sgd->meta_rep_max :
								  f->sgd->data_rep_max;
	f->first = (FS_RESERVED_BYTES + f->b - 1) / f->b * (uint64_t)f->b / f->s;
	rc = fs_ds_open(f->io, f->sgd, &f->ds);
	if (rc == MM_OK)
		rc = fs_alloc_open(f->sgd, fs_ds_bs(f->ds), &f->a, msg, sizeof(msg));
	if (rc) {
		free(in);
		return fs_errf(f->err, f->errsz, rc, "%s", rc == MM_ENOMEM ? "no memory" : msg);
	}
	if (f->repair)
		fs_ds_set_alloc(f->ds, fk_alloc, f);
	f->claim = calloc(f->sgd->ndisks, sizeof(*f->claim));
	f->cursor = calloc(f->sgd->ndisks, sizeof(*f->cursor));
	if (!f->claim || !f->cursor)
		goto nomem;
	for (uint32_t d = 0; d < f->sgd->ndisks; d++) {
		f->claim[d] = calloc(nblocks_of(f, d) * f->spb / 8 + 8, 1);
		if (!f->claim[d])
			goto nomem;
	}
	/* inode 0: how many records */
	rc = fs_ds_inode(f->ds, 0, in, NULL);
	if (rc) {
		if (rc == MM_EPROTO || rc == MM_ECHECKSUM || rc == MM_ENOTSUP || rc == MM_ENOENT) {
			fk_unrepairable(f, "inode 0 (the inode file): %s", fs_ds_err(f->ds));
			f->ninodes = 0;
		} else {
			free(in);
			return fs_errf(f->err, f->errsz, rc, "%s", fs_ds_err(f->ds));
		}
	} else {
		f->ninodes = in->size / FS_INODE_BYTES;
		if (f->ninodes > f->sgd->inode_limit)
			f->ninodes = f->sgd->inode_limit;
		if (f->ninodes < FS_INODES_PER_MB)
			f->ninodes = 0;
		if (!f->ninodes)
			fk_unrepairable(f, "inode 0 (the inode file): %" PRIu64 " bytes", in->size);
	}
	free(in);
	/* room for the inodes lost+found may need */
	f->cap = f->ninodes + FS_INODES_PER_MB;
	f->ii = calloc(f->cap, sizeof(*f->ii));
	if (!f->ii)
		goto nomem;
	return MM_OK;
nomem:
	free(in);
	return fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
}

static void teardown(struct fk *f)
{
	if (f->a)
		fs_alloc_close(f->a);
	fs_ds_close(f->ds);
	for (uint32_t d = 0; f->claim && d < f->sgd->ndisks; d++)
		free(f->claim[d]);
	free(f->claim);
	free(f->cursor);
	free(f->ii);
	f->a = NULL;
	f->ds = NULL;
	f->claim = NULL;
	f->cursor = NULL;
	f->ii = NULL;
}

/* One pass: check (and repair). MM_OK or the error that stopped it. */
static int one_pass(struct fk *f)
{
	uint8_t *fixslot = NULL;
	uint32_t desc_ok;
	int rc;

	f->stop = false;
	f->fatal = 0;
	f->lf = 0;
	f->phase = NULL;
	fk_progress(f, "Reading the descriptor", 0, 1);
	rc = fs_mkfs_choose_sgd(f->io, f->ndisks, f->sgd, &desc_ok, f->err, f->errsz);
	if (rc)
		return rc;
	if (f->sgd->ndisks != f->ndisks)
		return fs_errf(f->err, f->errsz, MM_EPROTO, "file system %s: its descriptor names %u "
			       "disks, %u given", f->sgd->device, f->sgd->ndisks, f->ndisks);
	f->r->generation = f->sgd->generation;
	fixslot = calloc(f->sgd->ndisks, 1);
	if (!fixslot)
		return fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
	rc = check_sgd(f, fixslot);
	fk_progress(f, "Reading the descriptor", 1, 1);
	if (rc == MM_OK)
		rc = setup(f);
	if (rc == MM_OK && !f->stop && !f->p->no_replay)
		fk_check_logs(f);
	if (rc == MM_OK && !f->stop)
		check_inodes(f);
	if (rc == MM_OK && !f->stop)
		rc = fk_dirs(f);
	/* the maps last: repairs above change the claims; a map block written
	 * anew may take a block, so go again until nothing changes */
	for (int round = 0; rc == MM_OK && !f->stop && round < 3; round++) {
		int b, i;
		bool q = f->quiet;

		if (round)
			f->quiet = true;	/* reported in round 0 */
		b = fk_check_bmap(f);
		i = fk_check_imap(f);
		f->quiet = q;
		if (b < 0 || i < 0)
			rc = fs_errf(f->err, f->errsz, MM_ENOMEM, "no memory");
		if (!f->repair || (!b && !i))
			break;
	}
	if (rc == MM_OK && f->fatal)
		rc = f->fatal;
	if (rc == MM_OK && f->repair) {
		fk_progress(f, "Writing repairs", 0, 1);
		rc = fs_ds_flush(f->ds);
		if (rc)
			fs_errf(f->err, f->errsz, rc, "%s", fs_ds_err(f->ds));
		if (rc == MM_OK)
			rc = write_sgd(f, fixslot);
		fk_progress(f, "Writing repairs", 1, 1);
	}
	free(fixslot);
	teardown(f);
	return rc;
}

int fs_fsck(const struct fs_disk_io *io, uint32_t ndisks, const struct fs_fsck_params *p,
	    struct fs_fsck_report *r, char *err, size_t errsz)
{
	static const struct fs_fsck_params none;
	struct fs_fsck_report rep, total;
	struct fk f = {.io = io, .ndisks = ndisks, .p = p ? p : &none, .err = err, .errsz = errsz};
	int rc;

	memset(&total, 0, sizeof(total));
	total.exit = FS_FSCK_EXIT_ERROR;
	if (r)
		*r = total;
	if (!io || !io->read || (f.p->repair && !io->write))
		return fs_errf(err, errsz, MM_EINVAL, "no disk I/O");
	if (ndisks == 0 || ndisks > FS_MAX_DISKS)
		return fs_errf(err, errsz, MM_EINVAL, "%u disks (1 .. %u)", ndisks, FS_MAX_DISKS);
	f.sgd = malloc(sizeof(*f.sgd));
	if (!f.sgd)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	f.repair = f.p->repair == FS_FSCK_YES;
	/* with repair: passes until one finds nothing (each repair may show
	 * what the damage hid); the first pass's findings are the report */
	for (int pass = 0; pass < 4; pass++) {
		memset(&rep, 0, sizeof(rep));
		f.r = &rep;
		rc = one_pass(&f);
		if (rc)
			break;
		total.inodes = rep.inodes;
		total.dirs = rep.dirs;
		total.files = rep.files;
		total.blocks = rep.blocks;
		total.subblocks = rep.subblocks;
		total.logs = rep.logs > total.logs ? rep.logs : total.logs;
		total.logs_dirty += rep.logs_dirty;
		total.found += rep.found;
		total.fixed += rep.fixed;
		total.generation = rep.generation;
		if (!f.repair || rep.found == 0 || f.stop)
			break;
	}
	if (rc == MM_OK) {
		if (total.found == 0)
			total.exit = FS_FSCK_EXIT_CLEAN;
		else if (f.repair && !f.stop && rep.found == 0 && total.fixed == total.found)
			total.exit = FS_FSCK_EXIT_FIXED;
		else
			total.exit = FS_FSCK_EXIT_LEFT;
	}
	if (r)
		*r = total;
	free(f.sgd);
	return rc;
}
