/*
 * fs/mkfs.c - format a stripe group (mmcrfs)
 * (contract in fs/mkfs.h, design in fs/README.md).
 *
 *   1. helpers: messages, usage names
 *   2. parameters and the descriptor (fs_mkfs_check), descriptor disks
 *   3. the staging store: the maps in memory while mkfs allocates
 *   4. allocation and trees of the files mkfs makes
 *   5. fs_mkfs
 * The read side (fs_open_check) is fs/mkfs_check.c; the conventions both
 * follow are fs/mkfs_int.h.
 *
 * Trees: every file's pointer tree is built by fs/tree.c (fs_tree_set of
 * each of its blocks, in order, into an inode whose level is already the
 * one its size needs), with its indirect blocks in the staging store and
 * their disk space from the staged maps (alloc_meta, like every other
 * block mkfs allocates); mkfs then writes each indirect block as tree.c
 * sealed it, at the addresses alloc_meta gave.
 */
#include "fs/mkfs.h"
#include "fs/mkfs_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/bug.h"
#include "common/err.h"
#include "common/hash.h"
#include "fs/alloc.h"
#include "fs/dir.h"
#include "fs/tree.h"
#include "nsd/desc.h"
#include "nsd/stanza.h"

/* ---- 1. helpers ---- */

static bool usage_meta(uint8_t u)
{
	return u == FS_USAGE_DATA_AND_META || u == FS_USAGE_META_ONLY;
}

static bool usage_data(uint8_t u)
{
	return u == FS_USAGE_DATA_AND_META || u == FS_USAGE_DATA_ONLY;
}

/* ---- 2. parameters and the descriptor ---- */

static const char *usage_name(uint8_t u)
{
	static const char *const n[] = {"dataAndMetadata", "metadataOnly", "dataOnly",
					"descOnly"};

	return u < 4 ? n[u] : "?";
}

/*
 * Mark the descriptor disks (fs_mkfs_check's comment). A disk's group is
 * the first disk of its failure group (-1: itself).
 */
static uint32_t pick_desc(struct fs_sgd *s)
{
	uint32_t n = s->ndisks, ng = 0, want;
	uint32_t *best = calloc(n, sizeof(*best)), *prio = calloc(n, sizeof(*prio));

	if (!best || !prio) {
		free(best);
		free(prio);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct fs_sgd_disk *di = &s->disk[i];
		uint32_t g, rank = usage_meta(di->usage) ? 0 : di->usage == FS_USAGE_DESC_ONLY ? 1 : 2;

		for (g = 0; g < ng; g++) {
			const struct fs_sgd_disk *dg = &s->disk[best[g]];

			if (di->failure_group != -1 && dg->failure_group == di->failure_group)
				break;
		}
		if (g == ng) {
			best[ng] = i;
			prio[ng++] = rank == 1 ? 0 : rank == 0 ? 1 : 2;
			continue;
		}
		/* the group's disk: metadata, else descOnly, else the first */
		{
			const struct fs_sgd_disk *dg = &s->disk[best[g]];
			uint32_t rg = usage_meta(dg->usage) ? 0 : dg->usage == FS_USAGE_DESC_ONLY ? 1 : 2;

			if (rank < rg)
				best[g] = i;
			if (rank == 1)
				prio[g] = 0;
			else if (rank == 0 && prio[g] > 1)
				prio[g] = 1;
		}
	}
	want = ng >= 5 ? 5 : ng >= 3 ? 3 : 1;
	for (uint32_t p = 0, taken = 0; p < 3 && taken < want; p++)
		for (uint32_t g = 0; g < ng && taken < want; g++)
			if (prio[g] == p) {
				s->disk[best[g]].has_desc = true;
				taken++;
			}
	free(best);
	free(prio);
	return want;
}

/* Failure groups the <kind> disks of <pool> span (as placement counts them:
 * each disk of group -1 is a group of its own). */
static uint32_t groups_of(const struct fs_sgd *s, const char *pool, enum fs_kind kind)
{
	struct fs_place *pl = malloc(sizeof(*pl));
	uint32_t g = 0;

	if (pl && fs_place_init(pl, s, pool, kind, 0) == MM_OK)
		g = fs_place_groups(pl);
	free(pl);
	return g;
}

#define BAD(...) return fs_errf(err, errsz, MM_EINVAL, __VA_ARGS__)

static int check_disks(const struct fs_mkfs_params *p, struct fs_sgd *s, char *err, size_t errsz)
{
	uint32_t b = s->block_size, sub = s->subblock_size;
	uint64_t first = (FS_RESERVED_BYTES + b - 1) / b * (uint64_t)b;
	uint64_t need = first + (uint64_t)FS_MKFS_MIN_BLOCKS * b;

	if (p->ndisks == 0 || !p->disks)
		BAD("no disks");
	if (p->ndisks > FS_MAX_DISKS)
		BAD("too many disks: %u (at most %u)", p->ndisks, FS_MAX_DISKS);
	for (uint32_t i = 0; i < p->ndisks; i++) {
		const struct fs_mkfs_disk *d = &p->disks[i];
		const char *pool = d->pool && d->pool[0] ? d->pool : "system";
		struct fs_sgd_disk *sd = &s->disk[i];

		if (!d->name || !nsd_name_valid(d->name))
			BAD("disk %u: NSD name '%s' is not 1 .. 63 characters of [A-Za-z0-9_] "
			    "starting with a letter or _", i, d->name ? d->name : "(none)");
		if (d->nsd_id == 0)
			BAD("disk %u (%s): NSD id 0", i, d->name);
		if (d->failure_group < -1 || d->failure_group > NSD_FG_MAX)
			BAD("disk %s: failure group %d is not in -1 .. %d", d->name,
			    (int)d->failure_group, NSD_FG_MAX);
		if (d->usage > FS_USAGE_DESC_ONLY)
			BAD("disk %s: usage %u is not dataAndMetadata, metadataOnly, dataOnly or "
			    "descOnly", d->name, d->usage);
		if (!fs_simple_name(pool, sizeof(sd->pool) - 1))
			BAD("disk %s: storage pool '%s' is not 1 .. %zu characters of "
			    "[A-Za-z0-9._-]", d->name, pool, sizeof(sd->pool) - 1);
		if (usage_meta(d->usage) && strcmp(pool, "system") != 0)
			BAD("disk %s: a %s disk must be in storage pool system, not %s", d->name,
			    usage_name(d->usage), pool);
		if (d->usage == FS_USAGE_DESC_ONLY && d->bytes < FS_RESERVED_BYTES + sub)
			BAD("disk %s: %" PRIu64 " bytes is too small: a descOnly disk needs the "
			    "reserved %u bytes and a subblock", d->name, d->bytes, FS_RESERVED_BYTES);
		if (d->usage != FS_USAGE_DESC_ONLY && d->bytes < need)
			BAD("disk %s: %" PRIu64 " bytes is too small: the reserved area and %u "
			    "blocks of %u bytes need %" PRIu64, d->name, d->bytes, FS_MKFS_MIN_BLOCKS,
			    b, need);
		if (d->bytes / sub >= 1ull << 48)
			BAD("disk %s: %" PRIu64 " bytes is more than 2^48 subblocks of %u", d->name,
			    d->bytes, sub);
		for (uint32_t j = 0; j < i; j++) {
			if (p->disks[j].nsd_id == d->nsd_id)
				BAD("disks %u (%s) and %u (%s) are the same NSD (id %016" PRIx64 ")", j,
				    p->disks[j].name, i, d->name, d->nsd_id);
			if (strcmp(p->disks[j].name, d->name) == 0)
				BAD("NSD %s is given twice (disks %u and %u)", d->name, j, i);
		}
		sd->nsd_id = d->nsd_id;
		snprintf(sd->name, sizeof(sd->name), "%s", d->name);
		sd->failure_group = d->failure_group;
		sd->usage = d->usage;
		sd->status = FS_DS_READY;
		sd->avail = FS_DA_UP;
		snprintf(sd->pool, sizeof(sd->pool), "%s", pool);
		sd->subblocks = d->bytes / sub;
	}
	s->ndisks = p->ndisks;
	return MM_OK;
}

/* -m -M -r -R against the failure groups. */
static int check_replication(const struct fs_mkfs_params *p, struct fs_sgd *s, char *err,
			     size_t errsz)
{
	uint32_t mg = groups_of(s, "system", FS_KIND_META), dg = UINT32_MAX;
	const char *dpool = "system";
	unsigned m, mm, r, rr;

	if (mg == 0)
		BAD("no disk holds metadata (usage dataAndMetadata or metadataOnly)");
	for (uint32_t i = 0; i < s->ndisks; i++) {
		uint32_t g;

		if (!usage_data(s->disk[i].usage))
			continue;
		g = groups_of(s, s->disk[i].pool, FS_KIND_DATA);
		if (g < dg) {
			dg = g;
			dpool = s->disk[i].pool;
		}
	}
	if (dg == UINT32_MAX)
		BAD("no disk holds data (usage dataAndMetadata or dataOnly)");
	if (p->meta_rep > FS_MAX_REPLICAS || p->meta_rep_max > FS_MAX_REPLICAS ||
	    p->data_rep > FS_MAX_REPLICAS || p->data_rep_max > FS_MAX_REPLICAS)
		BAD("replication -m %u -M %u -r %u -R %u: each is 1 .. %u", p->meta_rep,
		    p->meta_rep_max, p->data_rep, p->data_rep_max, FS_MAX_REPLICAS);
	m = p->meta_rep ? p->meta_rep : 1;
	r = p->data_rep ? p->data_rep : 1;
	mm = p->meta_rep_max ? p->meta_rep_max : m > (mg >= 2 ? 2 : 1) ? m : (mg >= 2 ? 2 : 1);
	rr = p->data_rep_max ? p->data_rep_max : r > (dg >= 2 ? 2 : 1) ? r : (dg >= 2 ? 2 : 1);
	if (m > mm)
		BAD("-m %u is above -M %u", m, mm);
	if (r > rr)
		BAD("-r %u is above -R %u", r, rr);
	if (mm > mg)
		BAD("-M %u needs metadata disks in %u failure groups; the metadata disks are in %u",
		    mm, mm, mg);
	if (rr > dg)
		BAD("-R %u needs data disks in %u failure groups; those of storage pool %s are "
		    "in %u", rr, rr, dpool, dg);
	s->meta_rep = (uint8_t)m;
	s->meta_rep_max = (uint8_t)mm;
	s->data_rep = (uint8_t)r;
	s->data_rep_max = (uint8_t)rr;
	return MM_OK;
}

/* Everything but the disks' usage of each other: fills <s>. */
static int build_sgd(const struct fs_mkfs_params *p, struct fs_sgd *s, char *err, size_t errsz)
{
	uint32_t b, nodes, log;
	uint64_t meta_bytes = 0;
	const char *am;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!p)
		BAD("no parameters");
	if (!p->device || !fs_simple_name(p->device, FS_DEVICE_MAX))
		BAD("file system name '%s' is not 1 .. %u characters of [A-Za-z0-9._-]",
		    p->device ? p->device : "(none)", FS_DEVICE_MAX);
	if (p->fsid == 0 || p->fsid > FS_FSID_MAX)
		BAD("file system id %u is not in 1 .. %u", p->fsid, FS_FSID_MAX);
	b = p->block_size ? p->block_size : FS_MKFS_DEFAULT_BLOCK;
	if (b < FS_MIN_BLOCK || b > FS_MAX_BLOCK || (b & (b - 1)))
		BAD("block size %u is not a power of two in 64 KiB .. 16 MiB", b);
	nodes = p->nodes ? p->nodes : FS_MKFS_DEFAULT_NODES;
	if (nodes > FS_MKFS_MAX_NODES)
		BAD("-n %u: at most %u nodes", nodes, FS_MKFS_MAX_NODES);
	log = p->log_bytes ? p->log_bytes : FS_MKFS_DEFAULT_LOG;
	if (log % FS_MB || log < 4 * FS_MB)
		BAD("log size %u is not a multiple of %u bytes of at least %u", log, FS_MB,
		    4 * FS_MB);
	if (p->mount_point) {
		if (p->mount_point[0] != '/' || strlen(p->mount_point) >= sizeof(s->mount_point))
			BAD("mount point '%s' is not an absolute path of at most %zu bytes",
			    p->mount_point, sizeof(s->mount_point) - 1);
		for (const char *c = p->mount_point; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				BAD("mount point '%s' has a character that is not printable ASCII",
				    p->mount_point);
		snprintf(s->mount_point, sizeof(s->mount_point), "%s", p->mount_point);
	} else {
		snprintf(s->mount_point, sizeof(s->mount_point), "/gpfs/%s", p->device);
	}
	am = p->automount ? p->automount : "yes";
	if (strcmp(am, "yes") && strcmp(am, "no") && strcmp(am, "automount"))
		BAD("-A %s: yes, no or automount", am);
	snprintf(s->automount, sizeof(s->automount), "%s", am);

	s->version = FS_FORMAT_VERSION;
	s->fsid = p->fsid;
	snprintf(s->device, sizeof(s->device), "%s", p->device);
	s->created = p->created ? p->created : (uint64_t)time(NULL);
	s->generation = 1;
	s->block_size = b;
	s->subblock_size = fs_subblock(b);
	s->mb_size = FS_MB;
	s->inode_size = FS_INODE_BYTES;
	s->nregions = nodes * 4 > 8 ? nodes * 4 : 8;
	/* A region's chunk of a disk keeps at least 32 full blocks: a small
	 * file system split in as many regions as -n asks would leave each
	 * node's region a few blocks (and each chunk's metadata reserve a
	 * large share of it). */
	{
		uint64_t smallest = UINT64_MAX;

		for (uint32_t i = 0; i < p->ndisks && p->disks; i++) {
			uint64_t n = p->disks[i].usage == FS_USAGE_DESC_ONLY ? UINT64_MAX
				     : p->disks[i].bytes > FS_RESERVED_BYTES
					     ? (p->disks[i].bytes - FS_RESERVED_BYTES) / b
					     : 0;

			if (n < smallest)
				smallest = n;
		}
		if (smallest != UINT64_MAX && smallest / 32 < s->nregions)
			s->nregions = smallest / 32 > 8 ? (uint32_t)(smallest / 32) : 8;
	}
	s->flags = (p->exact_mtime ? FS_SGD_EXACT_MTIME : 0) | (p->scatter ? FS_SGD_SCATTER : 0);
	s->log_bytes = log;

	rc = check_disks(p, s, err, errsz);
	if (rc)
		return rc;
	rc = check_replication(p, s, err, errsz);
	if (rc)
		return rc;
	if (p->inode_limit) {
		if (p->inode_limit <= FS_FIRST_USER_INO || p->inode_limit > 1ull << 48)
			BAD("--inode-limit %" PRIu64 " is not in %u .. 2^48", p->inode_limit,
			    FS_FIRST_USER_INO + 1);
		s->inode_limit = p->inode_limit;
	} else {
		for (uint32_t i = 0; i < s->ndisks; i++)
			if (usage_meta(s->disk[i].usage))
				meta_bytes += s->disk[i].subblocks * s->subblock_size;
		s->inode_limit = meta_bytes / s->meta_rep / (16u << 10);
		if (s->inode_limit < FS_IMAP_REGION_INODES)
			s->inode_limit = FS_IMAP_REGION_INODES;
		if (s->inode_limit > 1ull << 32)
			s->inode_limit = 1ull << 32;
	}
	if (pick_desc(s) == 0)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	return MM_OK;
}

#undef BAD

int fs_mkfs_check(const struct fs_mkfs_params *p, struct fs_sgd *out, char *err, size_t errsz)
{
	struct fs_sgd *s = malloc(sizeof(*s));
	int rc;

	if (!s)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	rc = build_sgd(p, s, err, errsz);
	if (rc == MM_OK && out)
		memcpy(out, s, sizeof(*s));
	free(s);
	return rc;
}

/* ---- 3. the staging store ---- */

struct sblk {
	struct mm_hnode hn;
	uint64_t ino, blk;
	uint8_t data[FS_MB];
};

struct skey {
	uint64_t ino, blk;
};

static uint64_t skey_hash(uint64_t ino, uint64_t blk)
{
	return mm_hash_u64(ino * 0x9e3779b97f4a7c15ull ^ blk);
}

static bool skey_eq(const struct mm_hnode *n, const void *k)
{
	const struct sblk *b = (const struct sblk *)n;
	const struct skey *key = k;

	return b->ino == key->ino && b->blk == key->blk;
}

static struct sblk *st_find(struct mm_htab *t, uint64_t ino, uint64_t blk)
{
	struct skey k = {ino, blk};

	return (struct sblk *)mm_htab_find(t, skey_hash(ino, blk), skey_eq, &k);
}

static int st_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct mm_htab *t = arg;
	struct sblk *b = st_find(t, ino, blk);

	if (!b) {
		if (!write)
			return MM_ENOENT;
		b = calloc(1, sizeof(*b));
		if (!b)
			return MM_ENOMEM;
		b->ino = ino;
		b->blk = blk;
		mm_htab_insert(t, &b->hn, skey_hash(ino, blk));
	}
	*data = b->data;
	return MM_OK;
}

static void st_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)data;
	(void)dirty;
}

static int st_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct mm_htab *t = arg;
	struct sblk *b = st_find(t, ino, blk);

	if (b) {
		mm_htab_remove(t, &b->hn);
		free(b);
	}
	return MM_OK;
}

static void st_free_one(struct mm_hnode *n, void *arg)
{
	mm_htab_remove(arg, n);
	free(n);
}

/* ---- 4. allocation and trees ---- */

/* A metadata file mkfs makes: its blocks, then its inode's fields. */
struct mfile {
	uint64_t ino;
	uint64_t size;
	unsigned level;
	size_t n;		/* file blocks */
	uint64_t *idx;		/* their numbers, ascending */
	struct fs_ptr *ptr;
	uint64_t subblocks;	/* every replica, indirect blocks too */
	uint8_t tail[FS_TAIL_BYTES];
	struct fs_place pl;
};

/* An indirect block tree.c made: it is block <tag> of <ino> in the
 * staging store. */
struct ind {
	uint64_t ino, tag;
	struct fs_ptr ptr;
};

struct mk {
	const struct fs_mkfs_params *p;
	const struct fs_disk_io *io;
	fs_mkfs_progress_fn progress;
	void *parg;
	const char *phase;
	unsigned last_pct;
	struct fs_sgd *sgd;
	struct fs_alloc *a;
	struct mm_htab st;
	uint32_t b, s, spb, mpb, ind_sub;
	unsigned mrep, maxrep;
	uint32_t *cursor;	/* per disk: the region mkfs allocates from */
	bool *full;		/* per disk: no region has room */
	struct mfile f[3];
	struct ind *inds;
	size_t nind, capind;
	char *err;
	size_t errsz;
};

/* One replica's <nsub> subblocks on disk <d>, from the lowest region
 * with room. MM_ERANGE if none has. */
static int take(struct mk *m, uint64_t ino, uint32_t d, uint32_t nsub, fs_da *da)
{
	char msg[256];
	int rc;

	for (; m->cursor[d] < m->sgd->nregions; m->cursor[d]++) {
		if (nsub == m->spb)
			rc = fs_bmap_alloc_block(m->a, m->cursor[d], d, da, msg, sizeof(msg));
		else
			rc = fs_bmap_alloc_frag(m->a, m->cursor[d], d, nsub, da, msg, sizeof(msg));
		if (rc == MM_OK)
			return MM_OK;
		if (rc != MM_ERANGE)
			return fs_errf(m->err, m->errsz, rc, "allocating for inode %" PRIu64 ": %s", ino,
				    msg);
	}
	return MM_ERANGE;
}

/* Block <n> of file <f> (or an indirect block placed as <n>): <nsub>
 * subblocks on mrep disks of distinct failure groups. */
static int alloc_meta(struct mk *m, struct mfile *f, uint64_t n, uint32_t nsub,
		      struct fs_ptr *out)
{
	uint32_t disks[FS_MAX_REPLICAS];
	char msg[256];
	unsigned k;
	int rc;

	for (;;) {
		if (fs_place_block(&f->pl, n, m->mrep, m->full, disks) != MM_OK)
			return fs_errf(m->err, m->errsz, MM_ERANGE, "no room for the metadata of "
				    "inode %" PRIu64 ": %u replicas need metadata disks with free "
				    "space in %u failure groups", f->ino, m->mrep, m->mrep);
		memset(out, 0, sizeof(*out));
		for (k = 0; k < m->mrep; k++) {
			rc = take(m, f->ino, disks[k], nsub, &out->da[k]);
			if (rc == MM_ERANGE) {
				m->full[disks[k]] = true;
				break;
			}
			if (rc)
				return rc;
		}
		if (k == m->mrep) {
			f->subblocks += (uint64_t)nsub * m->mrep;
			return MM_OK;
		}
		for (unsigned q = 0; q < k; q++) {
			rc = fs_bmap_free(m->a, out->da[q], nsub, msg, sizeof(msg));
			if (rc)
				return fs_errf(m->err, m->errsz, rc, "%s", msg);
		}
	}
}

static int add_block(struct mfile *f, uint64_t i)
{
	if (f->n && f->idx[f->n - 1] == i)
		return MM_OK;
	if ((f->n & (f->n - 1)) == 0) {
		size_t cap = f->n ? f->n * 2 : 1;
		uint64_t *idx = realloc(f->idx, cap * sizeof(*idx));
		struct fs_ptr *ptr;

		if (!idx)
			return MM_ENOMEM;
		f->idx = idx;
		ptr = realloc(f->ptr, cap * sizeof(*ptr));
		if (!ptr)
			return MM_ENOMEM;
		f->ptr = ptr;
	}
	f->idx[f->n++] = i;
	return MM_OK;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

struct collect {
	uint64_t ino;
	uint64_t *blk;
	size_t n;
};

static void collect_one(struct mm_hnode *n, void *arg)
{
	const struct sblk *b = (const struct sblk *)n;
	struct collect *c = arg;

	if (b->ino == c->ino && !(b->blk & FS_TAG_IND))
		c->blk[c->n++] = b->blk;
}

/* File <f>'s blocks from the staged metadata blocks of its inode; its
 * size is up to its last staged block, at least <minsize>. */
static int plan_file(struct mk *m, struct mfile *f, uint64_t minsize)
{
	struct collect c = {.ino = f->ino};
	int rc = MM_OK;

	c.blk = malloc((m->st.count + 1) * sizeof(*c.blk));
	if (!c.blk)
		return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
	mm_htab_each(&m->st, collect_one, &c);
	qsort(c.blk, c.n, sizeof(*c.blk), cmp_u64);
	f->size = minsize;
	for (size_t i = 0; i < c.n && rc == MM_OK; i++) {
		rc = add_block(f, c.blk[i] / m->mpb);
		if ((c.blk[i] + 1) * FS_MB > f->size)
			f->size = (c.blk[i] + 1) * FS_MB;
	}
	free(c.blk);
	if (rc)
		return fs_errf(m->err, m->errsz, rc, "no memory");
	f->level = fs_tree_level_for(f->size, m->maxrep, m->b);
	if (f->level > FS_MAX_LEVEL)
		return fs_errf(m->err, m->errsz, MM_ERANGE, "inode %" PRIu64 ": %" PRIu64 " bytes need "
			    "a deeper tree than %u levels", f->ino, f->size, FS_MAX_LEVEL);
	if (fs_place_init(&f->pl, m->sgd, "system", FS_KIND_META, f->ino) != MM_OK)
		return fs_errf(m->err, m->errsz, MM_ERANGE, "no metadata disk");
	return MM_OK;
}

static int alloc_file(struct mk *m, struct mfile *f)
{
	for (size_t i = 0; i < f->n; i++) {
		int rc = alloc_meta(m, f, f->idx[i], m->spb, &f->ptr[i]);

		if (rc)
			return rc;
	}
	return MM_OK;
}

/* tree.c's callbacks while mkfs builds file <f>'s tree. */
struct tree_arg {
	struct mk *m;
	struct mfile *f;
	bool failed;		/* tree_alloc failed: m->err says why */
};

/* A new indirect block: placed as block <index> of the file (its index
 * at its level), fs_mkfs_ind_subblocks of each replica, like any other
 * metadata block mkfs allocates. */
static int tree_alloc(void *arg, uint64_t ino, uint64_t tag, struct fs_ptr *p)
{
	struct tree_arg *ta = arg;
	struct mk *m = ta->m;
	int rc;

	(void)ino;
	if (m->nind == m->capind) {
		size_t cap = m->capind ? m->capind * 2 : 16;
		struct ind *ni = realloc(m->inds, cap * sizeof(*ni));

		if (!ni) {
			ta->failed = true;
			return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
		}
		m->inds = ni;
		m->capind = cap;
	}
	rc = alloc_meta(m, ta->f, fs_tree_tag_index(tag), m->ind_sub, p);
	if (rc) {
		ta->failed = true;
		return rc;
	}
	m->inds[m->nind++] = (struct ind){ta->f->ino, tag, *p};
	return MM_OK;
}

/* mkfs only sets pointers: tree.c frees nothing. */
static int tree_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p,
		     bool is_meta)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	(void)is_meta;
	return MM_EPROTO;
}

/* File <f>'s tree through tree.c: its inode's level and pointers into
 * f->level and f->tail, its indirect blocks into the staging store (and
 * m->inds). */
static int build_tree(struct mk *m, struct mfile *f)
{
	struct fs_bstore bs = {st_get, st_put, st_punch, &m->st};
	struct tree_arg ta = {m, f, false};
	struct fs_tree t = {.bs = &bs, .fsid = (uint32_t)m->sgd->fsid, .bsize = m->b,
			    .maxrep = m->maxrep, .alloc_meta = tree_alloc, .free_blk = tree_free,
			    .arg = &ta};
	struct fs_inode *in = calloc(1, sizeof(*in));
	int rc = MM_OK;

	if (!in)
		return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
	in->ino = f->ino;
	in->level = (uint8_t)f->level;
	for (size_t i = 0; i < f->n; i++) {
		rc = fs_tree_set(&t, in, f->idx[i], &f->ptr[i], NULL);
		if (rc < 0) {
			if (!ta.failed)	/* else m->err says why already */
				fs_errf(m->err, m->errsz, rc, "building the tree: %s", t.err);
			goto out;
		}
	}
	rc = MM_OK;
	MM_ASSERT(in->level == f->level);
	memcpy(f->tail, in->tail, FS_TAIL_BYTES);
out:
	free(in);
	return rc;
}

/* ---- 5. fs_mkfs ---- */

static void progress(struct mk *m, const char *phase, uint64_t done, uint64_t total)
{
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

	if (!m->progress)
		return;
	if (phase != m->phase) {
		m->phase = phase;
		m->last_pct = 0;
		m->progress(m->parg, phase, 0);
		if (pct == 0)
			return;
	}
	if (pct / 10 > m->last_pct / 10 || (pct == 100 && m->last_pct != 100)) {
		m->last_pct = pct;
		m->progress(m->parg, phase, pct);
	}
}

static int dwrite(struct mk *m, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	int rc = fs_mkfs_io_rc(m->io->write(m->io->arg, d, off, buf, len));

	if (rc)
		return fs_errf(m->err, m->errsz, rc, "disk %u (%s) offset %" PRIu64 " (%zu bytes): "
			    "write failed: %s", d, m->sgd->disk[d].name, off, len, mm_strerror(rc));
	return MM_OK;
}

/* Write file <f>'s blocks: block 0 of the inode file is <ifile>, the
 * others come from the staging store (zeros for holes). */
static int write_file(struct mk *m, struct mfile *f, const uint8_t *ifile, uint8_t *buf,
		      const char *phase, uint64_t *done, uint64_t total)
{
	for (size_t i = 0; i < f->n; i++) {
		if (ifile) {
			memcpy(buf, ifile, m->b);
		} else {
			memset(buf, 0, m->b);
			for (uint32_t s = 0; s < m->mpb; s++) {
				struct sblk *sb = st_find(&m->st, f->ino, f->idx[i] * m->mpb + s);

				if (sb)
					memcpy(buf + (size_t)s * FS_MB, sb->data, FS_MB);
			}
		}
		for (unsigned k = 0; k < m->mrep; k++) {
			fs_da da = f->ptr[i].da[k];
			int rc = dwrite(m, fs_da_disk(da), fs_da_sub(da) * m->s, buf, m->b);

			if (rc)
				return rc;
			progress(m, phase, ++*done, total);
		}
	}
	return MM_OK;
}

static void inode_common(struct fs_inode *in, uint64_t ino, const struct mk *m)
{
	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->atime.sec = in->mtime.sec = in->ctime.sec = in->crtime.sec =
		(int64_t)m->sgd->created;
}

/* Inodes 0 .. 15 into the first FS_MB bytes of <blk>. */
static int make_inodes(struct mk *m, uint8_t *blk)
{
	uint32_t fsid = (uint32_t)m->sgd->fsid;
	struct fs_inode *in = malloc(sizeof(*in));
	struct fs_dir dir;

	if (!in)
		return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
	for (uint64_t ino = 0; ino < FS_INODES_PER_MB; ino++) {
		inode_common(in, ino, m);
		if (ino <= 2) {
			struct mfile *f = &m->f[ino];

			in->gen = 1;
			in->mode = S_IFREG;
			in->nlink = 1;
			in->size = f->size;
			in->subblocks = f->subblocks;
			in->level = (uint8_t)f->level;
			in->data_rep = in->meta_rep = (uint8_t)m->mrep;
			memcpy(in->tail, f->tail, FS_TAIL_BYTES);
		} else if (ino == 3) {
			in->gen = 1;
			in->mode = S_IFDIR | 0755;
			in->nlink = 2;
			in->data_rep = m->sgd->data_rep;
			in->meta_rep = (uint8_t)m->mrep;
			memset(&dir, 0, sizeof(dir));
			dir.fsid = fsid;
			dir.ino = ino;
			dir.tail = in->tail;
			fs_dir_init_empty(&dir);
			in->flags = dir.in_inode ? FS_IF_DATA_IN_INODE : 0;
			in->depth = dir.depth;
			in->tail_len = dir.tail_len;
		} else if (ino == 4) {
			in->gen = 1;
			in->mode = S_IFREG;
			in->nlink = 1;
			in->data_rep = in->meta_rep = (uint8_t)m->mrep;
		} else {
			in->flags = FS_IF_FREE;
			in->atime = in->mtime = in->ctime = in->crtime = (struct fs_time){0, 0};
		}
		fs_inode_encode(in, fsid, blk + ino * FS_INODE_BYTES);
	}
	free(in);
	return MM_OK;
}

static void mk_free(struct mk *m)
{
	for (int i = 0; i < 3; i++) {
		free(m->f[i].idx);
		free(m->f[i].ptr);
	}
	free(m->inds);
	if (m->st.buckets) {
		mm_htab_each(&m->st, st_free_one, &m->st);
		mm_htab_free(&m->st);
	}
	if (m->a)
		fs_alloc_close(m->a);
	free(m->cursor);
	free(m->full);
	free(m->sgd);
}

/* Allocate everything in memory (the maps staged): nothing is written. */
static int mk_plan(struct mk *m)
{
	struct fs_bstore bs = {st_get, st_put, st_punch, &m->st};
	uint32_t *all;
	char msg[512];
	int rc;

	rc = fs_alloc_open(m->sgd, &bs, &m->a, msg, sizeof(msg));
	if (rc)
		return fs_errf(m->err, m->errsz, rc, "%s", msg);
	all = malloc(m->sgd->ndisks * sizeof(*all));
	if (!all)
		return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
	for (uint32_t d = 0; d < m->sgd->ndisks; d++)
		all[d] = d;
	rc = fs_bmap_format(m->a, all, m->sgd->ndisks, msg, sizeof(msg));
	free(all);
	if (rc == MM_OK)
		rc = fs_imap_format(m->a, msg, sizeof(msg));
	if (rc)
		return fs_errf(m->err, m->errsz, rc, "formatting the maps in memory: %s", msg);
	for (uint64_t ino = 0; ino < 3; ino++)
		m->f[ino].ino = ino;
	/* the inode file: block 0 (16 inodes); the maps: what format staged */
	rc = add_block(&m->f[0], 0);
	if (rc)
		return fs_errf(m->err, m->errsz, rc, "no memory");
	rc = plan_file(m, &m->f[0], FS_MB);
	if (rc == MM_OK)
		rc = plan_file(m, &m->f[2], (uint64_t)fs_imap_nregions(m->a) * FS_MB);
	if (rc == MM_OK)
		rc = plan_file(m, &m->f[1], 0);
	/* the inode file's block 0 first, so it is the first block of the first
	 * metadata disks; the maps' own blocks change only the maps' contents */
	for (int i = 0; i < 3 && rc == MM_OK; i++)
		rc = alloc_file(m, &m->f[i == 0 ? 0 : i == 1 ? 2 : 1]);
	for (int i = 0; i < 3 && rc == MM_OK; i++)
		rc = build_tree(m, &m->f[i]);
	if (rc)
		return rc;
	m->sgd->ifile0 = m->f[0].ptr[0];
	rc = fs_sgd_check(m->sgd, msg, sizeof(msg));
	if (rc)
		return fs_errf(m->err, m->errsz, MM_EINVAL, "the descriptor mkfs made is refused: %s",
			    msg);
	return MM_OK;
}

static int mk_write(struct mk *m)
{
	uint64_t done = 0, total;
	uint8_t *buf = NULL, *ifile = NULL, *slot = NULL;
	int rc;

	/* 1. no descriptor while the rest is written */
	slot = calloc(1, 2 * FS_SGD_SLOT_BYTES);
	if (!slot)
		return fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
	for (uint32_t d = 0; d < m->sgd->ndisks; d++) {
		rc = dwrite(m, d, FS_SGD_SLOT0, slot, 2 * FS_SGD_SLOT_BYTES);
		if (rc)
			goto out;
		progress(m, "Clearing descriptors", d + 1, m->sgd->ndisks);
	}
	/* 2. the maps and the indirect blocks, then the inode file */
	buf = malloc(m->b);
	ifile = calloc(1, m->b);
	if (!buf || !ifile) {
		rc = fs_errf(m->err, m->errsz, MM_ENOMEM, "no memory");
		goto out;
	}
	total = (m->f[1].n + m->f[2].n + m->nind) * m->mrep;
	rc = write_file(m, &m->f[2], NULL, buf, "Creating Allocation Maps", &done, total);
	if (rc == MM_OK)
		rc = write_file(m, &m->f[1], NULL, buf, "Creating Allocation Maps", &done, total);
	for (size_t i = 0; i < m->nind && rc == MM_OK; i++) {
		struct sblk *sb = st_find(&m->st, m->inds[i].ino, m->inds[i].tag);

		MM_ASSERT(sb != NULL);
		for (unsigned k = 0; k < m->mrep && rc == MM_OK; k++) {
			fs_da da = m->inds[i].ptr.da[k];

			rc = dwrite(m, fs_da_disk(da), fs_da_sub(da) * m->s, sb->data, FS_MB);
			progress(m, "Creating Allocation Maps", ++done, total);
		}
	}
	if (rc)
		goto out;
	rc = make_inodes(m, ifile);
	done = 0;
	if (rc == MM_OK)
		rc = write_file(m, &m->f[0], ifile, buf, "Creating Inode File", &done, m->mrep);
	if (rc)
		goto out;
	/* 3. the descriptor, slot 0 of the descriptor disks (slot 1 is zero) */
	rc = fs_sgd_encode(m->sgd, slot);
	if (rc) {
		rc = fs_errf(m->err, m->errsz, rc, "encoding the descriptor: %s", mm_strerror(rc));
		goto out;
	}
	done = 0;
	total = 0;
	for (uint32_t d = 0; d < m->sgd->ndisks; d++)
		total += m->sgd->disk[d].has_desc;
	for (uint32_t d = 0; d < m->sgd->ndisks; d++) {
		if (!m->sgd->disk[d].has_desc)
			continue;
		rc = dwrite(m, d, FS_SGD_SLOT0, slot, FS_SGD_SLOT_BYTES);
		if (rc)
			goto out;
		progress(m, "Writing descriptors", ++done, total);
	}
out:
	free(buf);
	free(ifile);
	free(slot);
	return rc;
}

int fs_mkfs(const struct fs_mkfs_params *p, const struct fs_disk_io *io,
	    fs_mkfs_progress_fn progress_fn, void *parg, struct fs_sgd *out, char *err,
	    size_t errsz)
{
	struct mk m = {.p = p, .io = io, .progress = progress_fn, .parg = parg, .err = err,
		       .errsz = errsz};
	int rc;

	if (!io || !io->read || !io->write)
		return fs_errf(err, errsz, MM_EINVAL, "no disk I/O");
	m.sgd = malloc(sizeof(*m.sgd));
	if (!m.sgd)
		return fs_errf(err, errsz, MM_ENOMEM, "no memory");
	rc = build_sgd(p, m.sgd, err, errsz);
	if (rc)
		goto out;
	m.b = m.sgd->block_size;
	m.s = m.sgd->subblock_size;
	m.spb = m.b / m.s;
	m.mpb = m.b / FS_MB;
	m.ind_sub = fs_mkfs_ind_subblocks(m.s);
	m.mrep = m.sgd->meta_rep;
	/* one pointer width for every file: max(-M, -R) (README, "Disk addresses") */
	m.maxrep = m.sgd->meta_rep_max > m.sgd->data_rep_max ? m.sgd->meta_rep_max :
							       m.sgd->data_rep_max;
	m.cursor = calloc(m.sgd->ndisks, sizeof(*m.cursor));
	m.full = calloc(FS_MAX_DISKS, sizeof(*m.full));
	if (!m.cursor || !m.full || mm_htab_init(&m.st, 1024) != MM_OK) {
		rc = fs_errf(err, errsz, MM_ENOMEM, "no memory");
		goto out;
	}
	progress(&m, "Formatting allocation maps", 0, 1);
	rc = mk_plan(&m);
	if (rc)
		goto out;
	progress(&m, "Formatting allocation maps", 1, 1);
	rc = mk_write(&m);
	if (rc == MM_OK && out)
		memcpy(out, m.sgd, sizeof(*m.sgd));
out:
	mk_free(&m);
	return rc;
}
