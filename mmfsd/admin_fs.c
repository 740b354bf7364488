/*
 * mmfsd/admin_fs.c - the file system commands of the admin socket:
 *   crfs   mmcrfs: check, claim, format, register
 *   lsfs   mmlsfs / mmlsdisk / mmdf: each file system's record, descriptor
 *          and space figures
 *   delfs  mmdelfs: clear the descriptors, free the NSDs, drop the token
 *          space and the record
 * (request and reply fields: mmfsd/README.md, "Admin commands").
 *
 * mmcrfs, in order (a failure at any step undoes the ones before, so a
 * refused or failed mmcrfs leaves nothing registered):
 *   1. checks that need no claim: the device name is free, every NSD of
 *      the stanzas exists and belongs to no file system (all named at
 *      once), the parameters pass fs_mkfs_check, every NSD answers (its
 *      label read through the NSD client gives its size), and with -v yes
 *      no disk holds a file system descriptor
 *   2. the claim, one CCR transaction: the record (state "creating"), the
 *      fsid claim (the lowest free fsid, see fsrec.h) and every NSD
 *      record's "fs", each compared with what was read: two mmcrfs of one
 *      name, one NSD or one fsid cannot both win (the loser is told which)
 *   3. fs_mkfs through fsdio, then fs_open_check of what was written
 *   4. the token space (clm_tokspace_create with the fsid)
 *   5. the record becomes "ready" (compare-and-swap)
 * Undo: the token space is deleted, the descriptors zeroed (nothing
 * mounts a half-made file system), the claim's keys deleted and the NSDs
 * freed in one transaction; if the undo itself fails, the message says
 * to run mmdelfs, which removes a "creating" record too.
 *
 * Figures (fs_figures): of a file system mounted on this node, from its
 * mounted stripe group (fs_sg_df through fssvc_df: the maps in use);
 * otherwise from the disks, the descriptor by majority and the maps'
 * headers (fs_open_check), which lag the node that has it mounted, if
 * any: the reply names that node (mountedOn) and says where the figures
 * came from (figuresFrom).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/mkfs.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/fsdio.h"
#include "mmfsd/fsrec.h"
#include "mmfsd/fssvc.h"
#include "mmfsd/nsdsvc.h"
#include "nsd/record.h"

#define SUB "fs"
#define CLAIM_TRIES 5

bool adm_fs_is_mounted(mmfsd *d, const char *device)
{
	/* a mount mark in the CCR (mmfsd/fssvc.h) */
	return fssvc_mounted_anywhere(d, device);
}

/* ---- records ---------------------------------------------------------- */

/* (admin_int.h) */
int adm_fs_load(mmfsd *d, const char *device, struct fsrec *r, int64_t *rev, char *err, size_t errsz)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	char key[128];
	int rc;

	fsrec_key(device, key, sizeof(key));
	rc = clm_ccr_list(mmfsd_clm(d), key, &kvs, &n);
	if (rc) {
		snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
		return rc;
	}
	rc = MM_ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(kvs[i].key, key))
			continue;	/* a prefix match: fs10 for fs1 */
		rc = fsrec_decode(kvs[i].value, kvs[i].value_len, r, err, errsz);
		if (rc)
			mm_error(SUB, "CCR key %s: %s", key, err);
		if (rev)
			*rev = kvs[i].mod_rev;
	}
	etcd_kvs_free(kvs, n);
	if (rc == MM_ENOENT)
		snprintf(err, errsz, "file system %s does not exist", device);
	return rc;
}

/* Every record (undecodable ones logged and skipped); *out malloc'd. */
static int fs_load_all(mmfsd *d, struct fsrec **out, size_t *n, char *err, size_t errsz)
{
	struct etcd_kv *kvs = NULL;
	size_t nkv = 0;
	int rc = clm_ccr_list(mmfsd_clm(d), FSREC_CCR_PREFIX, &kvs, &nkv);

	*out = NULL;
	*n = 0;
	if (rc) {
		snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
		return rc;
	}
	*out = calloc(nkv + 1, sizeof(**out));
	if (!*out) {
		etcd_kvs_free(kvs, nkv);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nkv; i++) {
		char e[256];

		if (fsrec_decode(kvs[i].value, kvs[i].value_len, &(*out)[*n], e, sizeof(e)))
			mm_error(SUB, "CCR key %s: %s: ignored", kvs[i].key, e);
		else
			(*n)++;
	}
	etcd_kvs_free(kvs, nkv);
	return MM_OK;
}

/* fsids in use: claims, records, and token spaces made otherwise (the
 * tokspace test command); *out malloc'd. */
static int fsids_used(mmfsd *d, uint32_t **out, size_t *n)
{
	struct etcd_kv *kvs = NULL;
	struct clm_fsmgr *sp = NULL;
	size_t nkv = 0, nsp = 0;
	int rc = clm_ccr_list(mmfsd_clm(d), FSREC_FSID_PREFIX, &kvs, &nkv);

	*out = NULL;
	*n = 0;
	if (rc || (rc = clm_fsmgr_list(mmfsd_clm(d), &sp, &nsp))) {
		etcd_kvs_free(kvs, nkv);
		return rc;
	}
	*out = calloc(nkv + nsp + 1, sizeof(**out));
	if (!*out) {
		etcd_kvs_free(kvs, nkv);
		free(sp);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nkv; i++) {
		unsigned long v = strtoul(kvs[i].key + strlen(FSREC_FSID_PREFIX), NULL, 10);

		if (v >= 1 && v <= FS_FSID_MAX)
			(*out)[(*n)++] = (uint32_t)v;
	}
	for (size_t i = 0; i < nsp; i++)
		if (sp[i].fsid >= 1 && sp[i].fsid <= FS_FSID_MAX)
			(*out)[(*n)++] = (uint32_t)sp[i].fsid;
	etcd_kvs_free(kvs, nkv);
	free(sp);
	return MM_OK;
}

/* (admin_int.h) */
int adm_nsds_open(mmfsd *d, const uint64_t *ids, const char *const *names, uint32_t n,
		  struct fsdio **out, char *err, size_t errsz)
{
	bool unknown = false;
	int rc;

	for (uint32_t i = 0; i < n && !unknown; i++) {
		nsd_entry *e = nsd_table_get(nsd_svc_table(mmfsd_nsd(d)), ids[i]);

		unknown |= !e;
		if (e)
			nsd_entry_put(e);
	}
	if (unknown) {
		char e2[256];

		/* NSDs made since the last scan, or a lost rescan message */
		nsd_svc_scan_now(mmfsd_nsd(d), e2, sizeof(e2));
	}
	rc = fsdio_open(nsd_svc_client(mmfsd_nsd(d)), ids, names, n, out);
	if (rc)
		snprintf(err, errsz, "cannot open the disks: %s", mm_strerror(rc));
	return rc;
}

/* (admin_int.h) */
struct fsdio *adm_fs_open_disks(mmfsd *d, const struct fsrec *r, char *err, size_t errsz)
{
	uint64_t ids[FS_MAX_DISKS];
	const char *names[FS_MAX_DISKS];
	struct fsdio *f = NULL;

	for (uint32_t i = 0; i < r->ndisks; i++) {
		ids[i] = r->disk[i].id;
		names[i] = r->disk[i].name;
	}
	adm_nsds_open(d, ids, names, r->ndisks, &f, err, errsz);
	return f;
}

/* ---- figures ------------------------------------------------------- */

/* Where a file system's figures came from (the lsfs reply says; mmdf
 * acts on it). */
struct figsrc {
	bool from_mount;	/* this node's mounted stripe group (fs_sg_df) */
	bool partial;		/* the disks gave the descriptor only */
	char other[256];	/* the node that has it mounted, when not this one */
	char other_ip[64];
};

/* Who holds <device>'s mount mark: 1 this node, 0 no node or another
 * (named in <src>; an mmfsck's mark names no mount), -1 the CCR could
 * not be read. */
static int mark_holder(mmfsd *d, const char *device, struct figsrc *src)
{
	struct fssvc_mark *marks = NULL;
	size_t n = 0;
	int mine = 0;

	if (fssvc_marks(d, &marks, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct cfg_cluster def;
		const struct cfg_node *nd;

		if (strcmp(marks[i].device, device) || !strcmp(marks[i].opts, FSSVC_FSCK_OPTS))
			continue;
		if (marks[i].node == mmfsd_node_number(d)) {
			mine = 1;
			continue;
		}
		cfg_cluster_init(&def);
		clm_cluster_copy(mmfsd_clm(d), &def);
		nd = cfg_cluster_node_num(&def, marks[i].node);
		if (nd) {
			snprintf(src->other, sizeof(src->other), "%s", nd->name);
			snprintf(src->other_ip, sizeof(src->other_ip), "%s", nd->ip);
		} else {
			snprintf(src->other, sizeof(src->other), "%u", marks[i].node);
			snprintf(src->other_ip, sizeof(src->other_ip), "node number %u", marks[i].node);
		}
		cfg_cluster_free(&def);
	}
	free(marks);
	return mine;
}

/*
 * The figures of <r> mounted on this node: the mounted stripe group's
 * maps (fssvc_df), which are current where the disks' lag; the
 * descriptor is the mount's, and only how many descriptor disks hold it
 * is read from the disks (mmlsdisk's "desc" column is the descriptor's).
 * MM_ENOENT: not mounted here after all (a mark left by mmadddisk's
 * mount, or unmounted meanwhile): the caller reads the disks.
 */
static int figures_mounted(mmfsd *d, const struct fsrec *r, struct fs_sgd *sgd,
			   struct fs_check_summary *sum, char *err, size_t errsz)
{
	struct fs_df *df = malloc(sizeof(*df));
	struct fsdio *f;
	int rc;

	if (!df)
		return MM_ENOMEM;
	rc = fssvc_df(mmfsd_fssvc(d), r->device, df, sgd, err, errsz);
	if (rc) {
		free(df);
		return rc;
	}
	memset(sum, 0, sizeof(*sum));
	sum->generation = sgd->generation;
	sum->ndisks = df->ndisks;
	sum->inodes_used = df->inodes_used;
	sum->inodes_free = df->inodes_free;
	for (uint32_t i = 0; i < df->ndisks; i++) {
		sum->disk[i].alloc_sub = df->disk[i].alloc_sub;
		sum->disk[i].free_sub = df->disk[i].free_sub;
		sum->disk[i].free_full = df->disk[i].free_full;
		sum->disk[i].has_desc = sgd->disk[i].has_desc;
		sum->ndesc += sgd->disk[i].has_desc;
	}
	free(df);
	/* best effort: the figures stand without it */
	f = sgd->ndisks == r->ndisks ? adm_fs_open_disks(d, r, err, errsz) : NULL;
	if (f) {
		struct fs_disk_io io = fsdio_ops(f);
		struct fs_sgd *tmp = malloc(sizeof(*tmp));
		char e2[512];

		if (tmp && fs_read_sgd(&io, r->ndisks, tmp, &sum->desc_ok, e2, sizeof(e2)))
			sum->desc_ok = 0;
		free(tmp);
		fsdio_close(f);
	}
	err[0] = '\0';
	return MM_OK;
}

/*
 * The descriptor and space figures of file system <r>. Mounted on this
 * node: from the mounted stripe group (figures_mounted). Otherwise from
 * its disks: the descriptor by majority, the free space from the maps'
 * headers (fs_open_check). A file system mounted elsewhere has disks
 * that lag that node's log and pagepool and may not add up while it
 * changes (right after mmadddisk, a new disk's maps): then the
 * descriptor alone is read and src->partial says so, <err> why the
 * figures are missing; src->other names the node that has it mounted
 * (mmdf asks that node's daemon when it runs on this machine).
 */
static int fs_figures(mmfsd *d, const struct fsrec *r, struct fs_sgd *sgd, struct fs_check_summary *sum,
		      struct figsrc *src, char *err, size_t errsz)
{
	struct fsdio *f;
	struct fs_disk_io io;
	int rc;

	memset(src, 0, sizeof(*src));
	/* the mount service is asked only when the mark says it may answer:
	 * it waits for a mount or unmount in progress on this node */
	if (mark_holder(d, r->device, src) != 0) {
		rc = figures_mounted(d, r, sgd, sum, err, errsz);
		if (rc == MM_OK)
			src->from_mount = true;
		else if (rc != MM_ENOENT)
			return rc;	/* mounted here, and its maps unreadable: say so */
		err[0] = '\0';
	}
	if (!src->from_mount) {
		f = adm_fs_open_disks(d, r, err, errsz);
		if (!f)
			return MM_ENOMEM;
		io = fsdio_ops(f);
		rc = fs_open_check(&io, r->ndisks, 0, sgd, sum, err, errsz);
		if (rc && rc != MM_ENOMEM && adm_fs_is_mounted(d, r->device)) {
			char e2[1024];
			uint32_t ok = 0;

			memset(sum, 0, sizeof(*sum));
			if (fs_read_sgd(&io, r->ndisks, sgd, &ok, e2, sizeof(e2)) == MM_OK) {
				src->partial = true;
				sum->desc_ok = ok;
				for (uint32_t i = 0; i < sgd->ndisks; i++)
					sum->ndesc += sgd->disk[i].has_desc;
				rc = MM_OK;
			}
		}
		fsdio_close(f);
		if (rc)
			return rc;
	}
	if (sgd->fsid != r->fsid || strcmp(sgd->device, r->device)) {
		snprintf(err, errsz, "the descriptor on the disks is of file system %s (fsid %" PRIu64
			 "), the CCR's record of %s (fsid %u)", sgd->device, sgd->fsid, r->device, r->fsid);
		return MM_EPROTO;
	}
	return MM_OK;
}

static json_object *sgd_json(const struct fs_sgd *s, const struct fs_check_summary *sum)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "version", json_object_new_int64(s->version));
	json_object_object_add(o, "fsid", json_object_new_int64((int64_t)s->fsid));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)s->generation));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)s->created));
	json_object_object_add(o, "blockSize", json_object_new_int64(s->block_size));
	json_object_object_add(o, "subblockSize", json_object_new_int64(s->subblock_size));
	json_object_object_add(o, "mbSize", json_object_new_int64(s->mb_size));
	json_object_object_add(o, "inodeSize", json_object_new_int64(s->inode_size));
	json_object_object_add(o, "metaRep", json_object_new_int(s->meta_rep));
	json_object_object_add(o, "metaRepMax", json_object_new_int(s->meta_rep_max));
	json_object_object_add(o, "dataRep", json_object_new_int(s->data_rep));
	json_object_object_add(o, "dataRepMax", json_object_new_int(s->data_rep_max));
	json_object_object_add(o, "regions", json_object_new_int64(s->nregions));
	json_object_object_add(o, "inodeLimit", json_object_new_int64((int64_t)s->inode_limit));
	json_object_object_add(o, "exactMtime", json_object_new_boolean(s->flags & FS_SGD_EXACT_MTIME));
	json_object_object_add(o, "scatter", json_object_new_boolean(s->flags & FS_SGD_SCATTER));
	json_object_object_add(o, "logBytes", json_object_new_int64(s->log_bytes));
	json_object_object_add(o, "mountPoint", json_object_new_string(s->mount_point));
	json_object_object_add(o, "automount", json_object_new_string(s->automount));
	json_object_object_add(o, "inodesUsed", json_object_new_int64((int64_t)sum->inodes_used));
	json_object_object_add(o, "inodesFree", json_object_new_int64((int64_t)sum->inodes_free));
	json_object_object_add(o, "descQuorum", json_object_new_int64(sum->ndesc));
	json_object_object_add(o, "descOk", json_object_new_int64(sum->desc_ok));
	for (uint32_t i = 0; i < s->ndisks; i++) {
		const struct fs_sgd_disk *k = &s->disk[i];
		const struct fs_check_disk *c = &sum->disk[i];
		json_object *dj = json_object_new_object();

		json_object_object_add(dj, "name", json_object_new_string(k->name));
		json_object_object_add(dj, "failureGroup", json_object_new_int(k->failure_group));
		json_object_object_add(dj, "usage", json_object_new_int(k->usage));
		json_object_object_add(dj, "status", json_object_new_int(k->status));
		json_object_object_add(dj, "availability", json_object_new_int(k->avail));
		json_object_object_add(dj, "desc", json_object_new_boolean(k->has_desc));
		json_object_object_add(dj, "pool", json_object_new_string(k->pool));
		json_object_object_add(dj, "subblocks", json_object_new_int64((int64_t)k->subblocks));
		json_object_object_add(dj, "allocSub", json_object_new_int64((int64_t)c->alloc_sub));
		json_object_object_add(dj, "freeSub", json_object_new_int64((int64_t)c->free_sub));
		json_object_object_add(dj, "freeFull", json_object_new_int64((int64_t)c->free_full));
		json_object_array_add(arr, dj);
	}
	json_object_object_add(o, "disks", arr);
	return o;
}

void adm_cmd_lsfs(mmfsd *d, json_object *req, json_object *rep)
{
	const char *want = adm_get_str(req, "device", "all");
	struct fsrec *recs = NULL;
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	struct fs_check_summary *sum = malloc(sizeof(*sum));
	json_object *arr = json_object_new_array();
	char err[1024] = "";
	size_t n = 0, found = 0;
	int rc;

	if (!strncmp(want, "/dev/", 5))
		want += 5;
	rc = !sgd || !sum ? MM_ENOMEM : fs_load_all(d, &recs, &n, err, sizeof(err));
	for (size_t i = 0; rc == MM_OK && i < n; i++) {
		json_object *o;
		char *t = NULL, e[1024] = "";
		struct figsrc src;

		if (strcmp(want, "all") && strcmp(want, recs[i].device))
			continue;
		found++;
		o = json_object_new_object();
		if (fsrec_encode(&recs[i], &t) == MM_OK)
			json_object_object_add(o, "record", json_object_new_string(t));
		free(t);
		if (recs[i].state != FSREC_READY) {
			snprintf(e, sizeof(e), "file system %s is being created, or its mmcrfs failed "
				 "part way (mmdelfs %s removes it)", recs[i].device, recs[i].device);
		} else if (fs_figures(d, &recs[i], sgd, sum, &src, e, sizeof(e)) == MM_OK) {
			char t2[1600];

			json_object_object_add(o, "sgd", sgd_json(sgd, sum));
			json_object_object_add(o, "figuresFrom", json_object_new_string(
				src.from_mount ? "mount" : src.partial ? "descriptor" : "disks"));
			if (src.other[0])
				json_object_object_add(o, "mountedOn", json_object_new_string(src.other));
			if (src.partial && src.other[0]) {
				/* mmlsdisk and mmlsfs need only the descriptor */
				snprintf(t2, sizeof(t2), "%s is mounted on node %s (%s): its free space is "
					 "current only there, and read from its disks here it does not add "
					 "up while it changes (%s): run mmdf on that node (MMFS_NODE=%s mmdf "
					 "%s) or try again", recs[i].device, src.other_ip, src.other, e,
					 src.other, recs[i].device);
				json_object_object_add(o, "figuresError", json_object_new_string(t2));
			} else if (src.partial) {
				snprintf(t2, sizeof(t2), "the free space of %s cannot be read from its disks "
					 "while it is mounted and changing (%s): try again", recs[i].device, e);
				json_object_object_add(o, "figuresError", json_object_new_string(t2));
			} else if (src.other[0]) {
				snprintf(t2, sizeof(t2), "%s is mounted on node %s (%s): these figures are "
					 "read from its disks and may lag that node's (blocks still in its log "
					 "and pagepool); run mmdf on that node (MMFS_NODE=%s mmdf %s) for "
					 "current ones", recs[i].device, src.other_ip, src.other, src.other,
					 recs[i].device);
				json_object_object_add(o, "figuresNote", json_object_new_string(t2));
			}
			e[0] = '\0';
			json_object_object_add(o, "mounted",
					       json_object_new_boolean(adm_fs_is_mounted(d, recs[i].device)));
		}
		if (e[0])
			json_object_object_add(o, "error", json_object_new_string(e));
		json_object_array_add(arr, o);
	}
	if (rc == MM_OK && !found && strcmp(want, "all")) {
		snprintf(err, sizeof(err), "file system %s does not exist", want);
		rc = MM_ENOENT;
	}
	json_object_object_add(rep, "filesystems", arr);
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
	free(recs);
	free(sgd);
	free(sum);
}

/* ---- crfs ------------------------------------------------------------- */

struct crfs {
	mmfsd *d;
	struct fsrec *rec;
	struct fs_mkfs_params p;
	struct fs_mkfs_disk disk[FS_MAX_DISKS];
	char pool[FS_MAX_DISKS][32];
	json_object *lines;		/* the reply's progress lines */
	struct fsdio *io;
	int64_t rec_rev;		/* the claim's revision of the record */
	bool claimed, tokspace, formatted;
	char err[2048];
};

__attribute__((format(printf, 2, 3)))
static void line(struct crfs *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(c->lines, json_object_new_string(buf));
}

static void on_progress(void *arg, const char *phase, unsigned pct)
{
	struct crfs *c = arg;
	char ts[64];
	time_t now = time(NULL);
	struct tm tm;

	if (pct == 0) {
		line(c, "%s", phase);
	} else if (pct == 100) {
		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S %Y", &tm);
		line(c, "   100 %% complete on %s", ts);
	}
}

/* (admin_int.h) */
int adm_fs_usage_of(enum nsd_usage u, uint8_t *out)
{
	switch (u) {
	case NSD_USAGE_DATA_AND_METADATA: *out = FS_USAGE_DATA_AND_META; return MM_OK;
	case NSD_USAGE_METADATA_ONLY: *out = FS_USAGE_META_ONLY; return MM_OK;
	case NSD_USAGE_DATA_ONLY: *out = FS_USAGE_DATA_ONLY; return MM_OK;
	case NSD_USAGE_DESC_ONLY: *out = FS_USAGE_DESC_ONLY; return MM_OK;
	default: return MM_EINVAL;
	}
}

/* (admin_int.h) */
void adm_add_msg(char *buf, size_t sz, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len && len + 2 < sz) {
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, sz - len, fmt, ap);
	va_end(ap);
}

/*
 * The stanzas' NSDs against the NSD table: each must exist and belong to
 * no file system (every refusal is named). Fills c->disk (usage, failure
 * group and pool from the stanza where given, else the NSD's) and the
 * record's disks; <revs> gets each NSD record's revision, <nrec> its
 * record.
 */
static int match_nsds(struct crfs *c, json_object *disks, struct nsd_record *nrec, int64_t *revs)
{
	struct nsd_record *all = NULL;
	int64_t *allrev = NULL;
	size_t nall = 0, n = json_object_array_length(disks);
	int rc = adm_nsd_load(c->d, &all, &allrev, &nall, c->err, sizeof(c->err));

	if (rc)
		return rc;
	c->err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(disks, i);
		const char *name = adm_get_str(s, "nsd", "");
		struct fs_mkfs_disk *k = &c->disk[i];
		size_t j;

		for (j = 0; j < nall && strcmp(all[j].name, name); j++)
			;
		for (size_t m = 0; m < i; m++)
			if (!strcmp(c->rec->disk[m].name, name)) {
				adm_add_msg(c->err, sizeof(c->err), "NSD %s is named twice in the stanza file", name);
				rc = MM_EINVAL;
			}
		if (j == nall) {
			adm_add_msg(c->err, sizeof(c->err), "NSD %s does not exist (mmcrnsd makes it; mmlsnsd "
				"lists the NSDs)", name);
			rc = MM_ENOENT;
			continue;
		}
		if (all[j].fs[0]) {
			adm_add_msg(c->err, sizeof(c->err), "NSD %s belongs to file system %s", name, all[j].fs);
			rc = MM_EBUSY;
			continue;
		}
		nrec[i] = all[j];
		revs[i] = allrev[j];
		snprintf(c->rec->disk[i].name, sizeof(c->rec->disk[i].name), "%s", name);
		c->rec->disk[i].id = all[j].id;
		k->nsd_id = all[j].id;
		k->name = c->rec->disk[i].name;
		{
			enum nsd_usage u = all[j].usage;
			const char *us = adm_get_str(s, "usage", NULL);

			if (us && nsd_usage_parse(us, &u)) {
				adm_add_msg(c->err, sizeof(c->err), "NSD %s: usage %s is not known", name, us);
				rc = MM_EINVAL;
			} else if (adm_fs_usage_of(u, &k->usage)) {
				adm_add_msg(c->err, sizeof(c->err), "NSD %s: usage %s cannot be in a file system",
					name, nsd_usage_name(u));
				rc = MM_EINVAL;
			}
		}
		k->failure_group = (int32_t)adm_get_int(s, "failureGroup", all[j].failure_group);
		snprintf(c->pool[i], sizeof(c->pool[i]), "%s", adm_get_str(s, "pool", all[j].pool));
		if (strlen(adm_get_str(s, "pool", all[j].pool)) >= sizeof(c->pool[i])) {
			adm_add_msg(c->err, sizeof(c->err), "NSD %s: storage pool name %s is longer than 31 "
				"characters", name, adm_get_str(s, "pool", all[j].pool));
			rc = MM_EINVAL;
		}
		k->pool = c->pool[i];
	}
	free(all);
	free(allrev);
	return rc;
}

/* (admin_int.h) */
int adm_fs_probe(mmfsd *d, struct fsdio *f, struct fs_mkfs_disk *disk, uint32_t n, bool verify,
		 char *err, size_t errsz)
{
	uint8_t *buf = nsd_io_buf_alloc(2 * FS_SGD_SLOT_BYTES);
	struct fs_disk_io io = fsdio_ops(f);
	int rc = MM_OK;

	if (!buf)
		return MM_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = disk[i].name;
		struct nsd_desc nd;
		char e[1024];
		int r = io.read(io.arg, i, 0, buf, NSD_DESC_BYTES);

		if (r) {
			fsdio_error(f, e, sizeof(e));
			adm_add_msg(err, errsz, "NSD %s is not reachable from node %s: %s", name,
				mmfsd_node_name(d), e);
			rc = MM_EUNREACH;
			continue;
		}
		if (nsd_desc_decode(buf, NSD_DESC_BYTES, &nd, e, sizeof(e)) || nd.nsd_id != disk[i].nsd_id ||
		    !nd.disk_size) {
			adm_add_msg(err, errsz, "NSD %s: the disk does not hold its label%s%s", name,
				nd.nsd_id != disk[i].nsd_id ? "" : ": ", nd.nsd_id != disk[i].nsd_id ? "" : e);
			rc = MM_EPROTO;
			continue;
		}
		disk[i].bytes = nd.disk_size;
		if (!verify || nd.disk_size < FS_SGD_SLOT1 + FS_SGD_SLOT_BYTES)
			continue;
		r = io.read(io.arg, i, FS_SGD_SLOT0, buf, 2 * FS_SGD_SLOT_BYTES);
		if (r) {
			fsdio_error(f, e, sizeof(e));
			adm_add_msg(err, errsz, "NSD %s: cannot read its descriptor area: %s", name, e);
			rc = MM_EIO;
			continue;
		}
		for (int s = 0; s < 2; s++) {
			struct fs_sgd *sg = malloc(sizeof(*sg));
			int dr = sg ? fs_sgd_decode(buf + (size_t)s * FS_SGD_SLOT_BYTES, FS_SGD_SLOT_BYTES, sg, e,
						    sizeof(e)) : MM_ENOMEM;

			if (dr == MM_OK)
				adm_add_msg(err, errsz, "NSD %s holds a descriptor of file system %s "
					"(fsid %" PRIu64 "); if that file system is gone, rerun with "
					"-v no", name, sg->device, sg->fsid);
			else if (dr != MM_ENOENT)
				adm_add_msg(err, errsz, "NSD %s holds what may be a file system "
					"descriptor (%s); if it is no longer used, rerun with -v no", name, e);
			free(sg);
			if (dr != MM_ENOENT) {
				rc = MM_EBUSY;
				break;
			}
		}
	}
	free(buf);
	return rc;
}

/* The claim (step 2), retried while only the fsid choice raced. */
static int claim(struct crfs *c, json_object *disks)
{
	uint32_t n = c->p.ndisks;
	struct nsd_record *nrec = calloc(n, sizeof(*nrec));
	int64_t *revs = calloc(n, sizeof(*revs));
	struct clm_ccr_change *ch = calloc(n + 2, sizeof(*ch));
	char **vals = calloc(n + 2, sizeof(*vals)), (*keys)[128] = calloc(n + 2, sizeof(*keys));
	int rc = MM_ENOMEM;

	for (int tries = 0; nrec && revs && ch && vals && keys && tries < CLAIM_TRIES; tries++) {
		uint32_t *used = NULL;
		size_t nused = 0;

		for (uint32_t i = 0; i < n + 2; i++) {
			free(vals[i]);
			vals[i] = NULL;
		}
		if ((rc = match_nsds(c, disks, nrec, revs)))
			break;
		if ((rc = fsids_used(c->d, &used, &nused))) {
			snprintf(c->err, sizeof(c->err), "cannot read the CCR: %s", mm_strerror(rc));
			break;
		}
		c->rec->fsid = c->p.fsid = fsrec_lowest_free(used, nused);
		free(used);
		if (!c->rec->fsid) {
			snprintf(c->err, sizeof(c->err), "every file system id is in use");
			rc = MM_ERANGE;
			break;
		}
		fsrec_key(c->rec->device, keys[0], sizeof(keys[0]));
		fsrec_fsid_key(c->rec->fsid, keys[1], sizeof(keys[1]));
		if (fsrec_encode(c->rec, &vals[0]) || !(vals[1] = strdup(c->rec->device))) {
			rc = MM_ENOMEM;
			break;
		}
		ch[0] = (struct clm_ccr_change){keys[0], vals[0], 0};
		ch[1] = (struct clm_ccr_change){keys[1], vals[1], 0};
		for (uint32_t i = 0; i < n; i++) {
			snprintf(nrec[i].fs, sizeof(nrec[i].fs), "%s", c->rec->device);
			snprintf(keys[i + 2], sizeof(keys[i + 2]), NSD_CCR_PREFIX "%s", nrec[i].name);
			if (nsd_record_encode(&nrec[i], &vals[i + 2])) {
				rc = MM_ENOMEM;
				goto out;
			}
			ch[i + 2] = (struct clm_ccr_change){keys[i + 2], vals[i + 2], revs[i]};
		}
		rc = clm_ccr_update(mmfsd_clm(c->d), ch, n + 2, c->err, sizeof(c->err));
		if (rc != MM_ECONFLICT)
			break;
		if (strstr(c->err, keys[0])) {
			snprintf(c->err, sizeof(c->err), "file system %s already exists", c->rec->device);
			rc = MM_EEXIST;
			break;
		}
		/* an NSD or the fsid changed meanwhile: look again (an NSD now
		 * taken is then refused by name) */
		mm_info(SUB, "mmcrfs %s: %s; trying again", c->rec->device, c->err);
	}
	if (rc == MM_OK) {
		struct fsrec tmp;
		char e[256];

		c->claimed = true;
		rc = adm_fs_load(c->d, c->rec->device, &tmp, &c->rec_rev, e, sizeof(e));
		if (rc)
			snprintf(c->err, sizeof(c->err), "the file system's record vanished: %s", e);
	}
out:
	for (uint32_t i = 0; vals && i < n + 2; i++)
		free(vals[i]);
	free(vals);
	free(keys);
	free(ch);
	free(nrec);
	free(revs);
	return rc;
}

/* (admin_int.h) */
int adm_fs_clear_desc(struct fsdio *io, uint32_t ndisks, bool tolerate, unsigned *failed,
			     char *err, size_t errsz)
{
	uint8_t *zero = nsd_io_buf_alloc(2 * FS_SGD_SLOT_BYTES);
	struct fs_disk_io ops = fsdio_ops(io);
	int rc = MM_OK;

	*failed = 0;
	if (!zero)
		return MM_ENOMEM;
	memset(zero, 0, 2 * FS_SGD_SLOT_BYTES);
	for (uint32_t i = 0; i < ndisks; i++) {
		int r = ops.write(ops.arg, i, FS_SGD_SLOT0, zero, 2 * FS_SGD_SLOT_BYTES);

		if (r) {
			char e[1024];

			fsdio_error(io, e, sizeof(e));
			if (!*failed)
				snprintf(err, errsz, "cannot clear the file system descriptor: %s", e);
			(*failed)++;
			if (rc == MM_OK)
				rc = r;
			if (!tolerate)
				break;
		}
	}
	free(zero);
	return rc;
}

/* Drop the claim: the record and the fsid claim go, the NSDs are freed. */
static int unclaim(mmfsd *d, const char *device, uint32_t fsid, int64_t rec_rev, char *err, size_t errsz)
{
	struct nsd_record *all = NULL;
	int64_t *revs = NULL;
	size_t nall = 0, n = 0;
	struct clm_ccr_change *ch = NULL;
	char **vals = NULL, (*keys)[128] = NULL;
	struct etcd_kv *kv = NULL;
	size_t nkv = 0;
	char fkey[128];
	int rc;

	for (int tries = 0; tries < CLAIM_TRIES; tries++) {
		if ((rc = adm_nsd_load(d, &all, &revs, &nall, err, errsz)))
			return rc;
		ch = calloc(nall + 2, sizeof(*ch));
		vals = calloc(nall + 2, sizeof(*vals));
		keys = calloc(nall + 2, sizeof(*keys));
		rc = ch && vals && keys ? MM_OK : MM_ENOMEM;
		n = 0;
		fsrec_key(device, keys[n], sizeof(keys[n]));
		if (!rc)
			ch[n++] = (struct clm_ccr_change){keys[0], NULL, rec_rev};
		fsrec_fsid_key(fsid, fkey, sizeof(fkey));
		if (!rc && !(rc = clm_ccr_list(mmfsd_clm(d), fkey, &kv, &nkv))) {
			for (size_t i = 0; i < nkv; i++)
				if (!strcmp(kv[i].key, fkey) && kv[i].value_len == strlen(device) &&
				    !memcmp(kv[i].value, device, kv[i].value_len)) {
					snprintf(keys[n], sizeof(keys[n]), "%s", fkey);
					ch[n] = (struct clm_ccr_change){keys[n], NULL, kv[i].mod_rev};
					n++;
				}
			etcd_kvs_free(kv, nkv);
		}
		for (size_t i = 0; !rc && i < nall; i++) {
			if (strcmp(all[i].fs, device))
				continue;
			all[i].fs[0] = '\0';
			snprintf(keys[n], sizeof(keys[n]), NSD_CCR_PREFIX "%s", all[i].name);
			if (nsd_record_encode(&all[i], &vals[n]))
				rc = MM_ENOMEM;
			ch[n] = (struct clm_ccr_change){keys[n], vals[n], revs[i]};
			n++;
		}
		if (!rc)
			rc = clm_ccr_update(mmfsd_clm(d), ch, n, err, errsz);
		for (size_t i = 0; vals && i < n; i++)
			free(vals[i]);
		free(vals);
		free(keys);
		free(ch);
		free(all);
		free(revs);
		if (rc != MM_ECONFLICT || strstr(err, FSREC_CCR_PREFIX))
			break;
	}
	return rc;
}

/* Undo what a failed mmcrfs did; appends to c->err what is left. */
static void crfs_undo(struct crfs *c)
{
	char e[1024] = "";
	unsigned failed = 0;
	bool left = false;

	if (c->tokspace && clm_tokspace_delete(mmfsd_clm(c->d), c->rec->fsid, e, sizeof(e))) {
		mm_error(SUB, "mmcrfs %s undo: %s", c->rec->device, e);
		left = true;
	}
	if (c->formatted && adm_fs_clear_desc(c->io, c->p.ndisks, true, &failed, e, sizeof(e))) {
		mm_error(SUB, "mmcrfs %s undo: %s", c->rec->device, e);
		left = true;
	}
	if (c->claimed && unclaim(c->d, c->rec->device, c->rec->fsid, c->rec_rev, e, sizeof(e))) {
		mm_error(SUB, "mmcrfs %s undo: %s", c->rec->device, e);
		left = true;
	}
	if (left)
		adm_add_msg(c->err, sizeof(c->err), "the undo did not finish (%s): run mmdelfs %s to remove "
			"what is left", e, c->rec->device);
	else if (c->claimed)
		adm_add_msg(c->err, sizeof(c->err), "nothing was registered: the NSDs are free again");
}

void adm_cmd_crfs(mmfsd *d, json_object *req, json_object *rep)
{
	struct crfs *c = calloc(1, sizeof(*c));
	json_object *disks = NULL;
	struct fs_disk_io io;
	uint64_t ids[FS_MAX_DISKS];
	const char *names[FS_MAX_DISKS];
	struct fsrec old;
	int64_t rev;
	char e[256];
	int rc = MM_OK;

	if (!c || !(c->rec = calloc(1, sizeof(*c->rec)))) {
		adm_set_rc(rep, MM_ENOMEM, "mmcrfs: out of memory");
		free(c);
		return;
	}
	c->d = d;
	c->lines = json_object_new_array();
	json_object_object_add(rep, "lines", c->lines);
	if (!adm_require_active(d, rep, "mmcrfs"))
		goto free;
	snprintf(c->rec->device, sizeof(c->rec->device), "%s", adm_get_str(req, "device", ""));
	if (!fs_simple_name(adm_get_str(req, "device", ""), FS_DEVICE_MAX)) {
		snprintf(c->err, sizeof(c->err), "\"%s\" is not a valid file system name (1 to %d letters, "
			 "digits, '.', '_' or '-')", adm_get_str(req, "device", ""), FS_DEVICE_MAX);
		rc = MM_EINVAL;
		goto done;
	}
	if (!json_object_object_get_ex(req, "disks", &disks) || !json_object_is_type(disks, json_type_array) ||
	    json_object_array_length(disks) < 1 || json_object_array_length(disks) > FS_MAX_DISKS) {
		snprintf(c->err, sizeof(c->err), "the stanza file names no NSD (or more than %d)", FS_MAX_DISKS);
		rc = MM_EINVAL;
		goto done;
	}
	rc = adm_fs_load(d, c->rec->device, &old, &rev, e, sizeof(e));
	if (rc != MM_ENOENT) {
		if (rc == MM_OK || rc == MM_EPROTO || rc == MM_ENOTSUP) {
			snprintf(c->err, sizeof(c->err), "file system %s already exists", c->rec->device);
			rc = MM_EEXIST;
		} else {
			snprintf(c->err, sizeof(c->err), "%s", e);
		}
		goto done;
	}
	{
		struct clm_fsmgr f;

		if (clm_fsmgr_find(mmfsd_clm(d), c->rec->device, &f) == MM_OK) {
			snprintf(c->err, sizeof(c->err), "%s already names token space %" PRIu64 " (not a file "
				 "system made by mmcrfs)", c->rec->device, f.fsid);
			rc = MM_EEXIST;
			goto done;
		}
	}
	/* the record's own fields */
	c->p.device = c->rec->device;
	c->p.fsid = 1;	/* for the checks; the claim chooses it */
	c->p.block_size = (uint32_t)adm_get_i64(req, "blockSize", 0);
	c->p.meta_rep = (uint8_t)adm_get_int(req, "metaRep", 0);
	c->p.meta_rep_max = (uint8_t)adm_get_int(req, "metaRepMax", 0);
	c->p.data_rep = (uint8_t)adm_get_int(req, "dataRep", 0);
	c->p.data_rep_max = (uint8_t)adm_get_int(req, "dataRepMax", 0);
	c->p.nodes = (uint32_t)adm_get_i64(req, "numNodes", 0);
	c->p.scatter = !strcmp(adm_get_str(req, "allocation", "cluster"), "scatter");
	c->p.exact_mtime = adm_get_bool(req, "exactMtime", false);
	snprintf(c->rec->mount_point, sizeof(c->rec->mount_point), "%s", adm_get_str(req, "mountPoint", ""));
	if (!c->rec->mount_point[0])
		snprintf(c->rec->mount_point, sizeof(c->rec->mount_point), "/gpfs/%s", c->rec->device);
	snprintf(c->rec->automount, sizeof(c->rec->automount), "%s", adm_get_str(req, "automount", "yes"));
	c->p.mount_point = c->rec->mount_point;
	c->p.automount = c->rec->automount;
	c->p.inode_limit = (uint64_t)adm_get_i64(req, "inodeLimit", 0);
	c->p.log_bytes = (uint32_t)adm_get_i64(req, "logBytes", 0);
	c->p.ndisks = (uint32_t)json_object_array_length(disks);
	c->p.disks = c->disk;
	c->rec->ndisks = c->p.ndisks;
	c->rec->num_nodes = c->p.nodes ? c->p.nodes : FS_MKFS_DEFAULT_NODES;
	c->rec->created = (uint64_t)time(NULL);
	c->p.created = c->rec->created;
	snprintf(c->rec->created_on, sizeof(c->rec->created_on), "%s", mmfsd_node_name(d));
	c->rec->state = FSREC_CREATING;

	/* 1. checks before any claim */
	{
		struct nsd_record *nrec = calloc(c->p.ndisks, sizeof(*nrec));
		int64_t *revs = calloc(c->p.ndisks, sizeof(*revs));

		rc = nrec && revs ? match_nsds(c, disks, nrec, revs) : MM_ENOMEM;
		free(nrec);
		free(revs);
		if (rc)
			goto done;
	}
	for (uint32_t i = 0; i < c->p.ndisks; i++) {
		ids[i] = c->disk[i].nsd_id;
		names[i] = c->disk[i].name;
	}
	if ((rc = adm_nsds_open(d, ids, names, c->p.ndisks, &c->io, c->err, sizeof(c->err))))
		goto done;
	c->err[0] = '\0';
	if ((rc = adm_fs_probe(d, c->io, c->disk, c->p.ndisks, adm_get_bool(req, "verify", true), c->err,
			       sizeof(c->err))))
		goto done;
	if ((rc = fs_mkfs_check(&c->p, NULL, c->err, sizeof(c->err))))
		goto done;

	/* 2. the claim */
	if ((rc = claim(c, disks)))
		goto done;
	mm_notice(SUB, "mmcrfs %s: fsid %u, %u disks claimed", c->rec->device, c->rec->fsid, c->p.ndisks);

	/* 3. format */
	line(c, "The following disks of %s will be formatted on node %s:", c->rec->device, mmfsd_node_name(d));
	for (uint32_t i = 0; i < c->p.ndisks; i++)
		line(c, "    %s: size %" PRIu64 " MB", c->disk[i].name, c->disk[i].bytes >> 20);
	line(c, "Formatting file system ...");
	io = fsdio_ops(c->io);
	c->formatted = true;	/* from the first write on, undo clears descriptors */
	rc = fs_mkfs(&c->p, &io, on_progress, c, NULL, c->err, sizeof(c->err));
	if (rc == MM_OK) {
		struct fs_sgd *sg = malloc(sizeof(*sg));
		struct fs_check_summary *sum = malloc(sizeof(*sum));

		rc = sg && sum ? fs_open_check(&io, c->p.ndisks, FS_CHECK_FRESH, sg, sum, c->err, sizeof(c->err))
			       : MM_ENOMEM;
		if (rc)
			adm_add_msg(c->err, sizeof(c->err), "(reading the new file system back failed)");
		free(sg);
		free(sum);
	} else {
		char cause[1024];

		fsdio_error(c->io, cause, sizeof(cause));
		if (cause[0] && !strstr(c->err, cause))
			adm_add_msg(c->err, sizeof(c->err), "%s", cause);
	}
	if (rc)
		goto done;

	/* 4. the token space, 5. the record */
	if ((rc = clm_tokspace_create(mmfsd_clm(d), c->rec->fsid, c->rec->device, c->err, sizeof(c->err))))
		goto done;
	c->tokspace = true;
	{
		struct clm_ccr_change ch;
		char key[128], *val = NULL;

		c->rec->state = FSREC_READY;
		fsrec_key(c->rec->device, key, sizeof(key));
		rc = fsrec_encode(c->rec, &val);
		ch = (struct clm_ccr_change){key, val, c->rec_rev};
		if (!rc)
			rc = clm_ccr_update(mmfsd_clm(d), &ch, 1, c->err, sizeof(c->err));
		free(val);
	}
	if (rc)
		goto done;
	line(c, "Completed creation of file system /dev/%s.", c->rec->device);
	mm_notice(SUB, "file system %s created (fsid %u, %u disks)", c->rec->device, c->rec->fsid,
		  c->p.ndisks);
done:
	if (rc) {
		crfs_undo(c);
		mm_warn(SUB, "mmcrfs %s failed: %s", c->rec->device, c->err);
	}
	adm_set_rc(rep, rc, c->err[0] ? c->err : mm_strerror(rc));
free:
	fsdio_close(c->io);
	free(c->rec);
	free(c);
}

/* ---- delfs ------------------------------------------------------------ */

void adm_cmd_delfs(mmfsd *d, json_object *req, json_object *rep)
{
	const char *device = adm_get_str(req, "device", "");
	bool permanent = adm_get_bool(req, "permanent", false);
	struct fsrec *r = calloc(1, sizeof(*r));
	json_object *lines = json_object_new_array();
	struct fsdio *io = NULL;
	char err[2048] = "", e[1024] = "";
	unsigned failed = 0;
	int64_t rev = 0;
	int rc;

	json_object_object_add(rep, "lines", lines);
	if (!r) {
		adm_set_rc(rep, MM_ENOMEM, "mmdelfs: out of memory");
		return;
	}
	if (!adm_require_active(d, rep, "mmdelfs"))
		goto out;
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if ((rc = adm_fs_load(d, device, r, &rev, err, sizeof(err))))
		goto done;
	if (adm_fs_is_mounted(d, device)) {
		snprintf(err, sizeof(err), "file system %s is mounted: unmount it everywhere first (mmumount "
			 "%s -a)", device, device);
		rc = MM_EBUSY;
		goto done;
	}
	json_object_array_add(lines, json_object_new_string("All data on the following disks of the file "
							    "system will be destroyed:"));
	for (uint32_t i = 0; i < r->ndisks; i++) {
		char l[128];

		snprintf(l, sizeof(l), "    %s", r->disk[i].name);
		json_object_array_add(lines, json_object_new_string(l));
	}
	if (!(io = adm_fs_open_disks(d, r, err, sizeof(err)))) {
		rc = MM_ENOMEM;
		goto done;
	}
	rc = adm_fs_clear_desc(io, r->ndisks, permanent, &failed, err, sizeof(err));
	if (rc && !permanent) {
		adm_add_msg(err, sizeof(err), "nothing was deleted; if that disk is permanently damaged, "
			"mmdelfs %s -p deletes the file system without it", device);
		goto done;
	}
	if (failed) {
		snprintf(e, sizeof(e), "%u disk%s could not be cleared (-p: deleted anyway)", failed,
			 failed == 1 ? "" : "s");
		json_object_array_add(lines, json_object_new_string(e));
		mm_warn(SUB, "mmdelfs %s -p: %s: %s", device, e, err);
		err[0] = '\0';
	}
	rc = clm_tokspace_delete(mmfsd_clm(d), r->fsid, e, sizeof(e));
	if (rc == MM_ENOENT)
		rc = MM_OK;	/* a "creating" record has none yet, or a rerun */
	if (rc) {
		snprintf(err, sizeof(err), "the descriptors are cleared but the token space could not be "
			 "deleted (%s): run mmdelfs %s again", e, device);
		goto done;
	}
	if ((rc = unclaim(d, device, r->fsid, rev, err, sizeof(err)))) {
		adm_add_msg(err, sizeof(err), "the descriptors are cleared but the CCR still holds %s: run "
			"mmdelfs %s again", device, device);
		goto done;
	}
	{
		char l[160];

		snprintf(l, sizeof(l), "Completed deletion of file system /dev/%s.", device);
		json_object_array_add(lines, json_object_new_string(l));
	}
	mm_notice(SUB, "file system %s (fsid %u) deleted", device, r->fsid);
done:
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
out:
	fsdio_close(io);
	free(r);
}
