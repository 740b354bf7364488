/*
 * mmfsd/admin_adddisk.c - the admin command "adddisk" (mmadddisk): new
 * NSDs join a file system, mounted or not (request and reply fields:
 * mmfsd/README.md, "Admin commands"; the design: "mmadddisk").
 *
 * In order:
 *   1. checks that need no claim: the file system exists and is ready,
 *      it is not mounted on another node (the disks are added where it
 *      is mounted), every NSD of the stanzas exists and belongs to no
 *      file system (all refusals named at once), each answers through
 *      the NSD client (its size), with -v yes none holds a descriptor
 *   2. an earlier mmadddisk that wrote the descriptor but not the record
 *      (its NSDs say "fs": this file system, the record does not list
 *      them) is finished: the record takes the descriptor's disks
 *   3. the claim, one CCR transaction: every new NSD record's "fs",
 *      compared with what was read (two commands cannot claim one NSD)
 *   4. the new disks' descriptor slots zeroed
 *   5. fssvc_add_disks: the mounted stripe group (this node's mount, or
 *      one mounted in the daemon for the purpose) formats their maps and
 *      writes the descriptor's next generation; then, still under the
 *      mount service's lock, the record's NSD list becomes the
 *      descriptor's (compare-and-swap; never shortened)
 * A failure before the descriptor named the disks frees the NSDs again
 * (nothing else changed: map blocks formatted for them are outside the
 * descriptor, and mmfsck reclaims them). A failure after it (the
 * record's update) leaves the disks in the file system and its NSDs
 * claimed, the record short: mounted here, the file system goes on
 * using them; a mount elsewhere is refused (the disk count differs)
 * until mmadddisk is run again with the same stanza, which finishes at
 * step 2.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define TRIES 5

struct add {
	mmfsd *d;
	const char *device;
	struct fsrec *rec;
	uint32_t n;			/* the stanzas' NSDs */
	struct fs_mkfs_disk disk[FS_MAX_DISKS];
	char name[FS_MAX_DISKS][NSD_NAME_MAX + 1];
	char pool[FS_MAX_DISKS][32];
	bool pending[FS_MAX_DISKS];	/* claimed for this file system by an earlier run */
	bool claimed;			/* step 3 done: release on failure */
	char other[256];		/* the node that has it mounted (refused) */
	json_object *lines;
	char err[4096];
};

__attribute__((format(printf, 2, 3)))
static void line(struct add *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(a->lines, json_object_new_string(buf));
}

/* The record's disks hold NSD <id>? */
static bool in_record(const struct fsrec *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->ndisks; i++)
		if (r->disk[i].id == id)
			return true;
	return false;
}

/*
 * The stanzas against the NSD records: each must exist, be named once,
 * and belong to no file system (or to this one without being in its
 * record: a run that did not finish). Fills a->disk with the stanza's
 * usage, failure group and pool where given, else the NSD's. Every
 * refusal is named.
 */
static int match(struct add *a, json_object *disks)
{
	struct nsd_record *all = NULL;
	size_t nall = 0;
	int rc = adm_nsd_load(a->d, &all, NULL, &nall, a->err, sizeof(a->err));

	if (rc)
		return rc;
	a->err[0] = '\0';
	for (uint32_t i = 0; i < a->n; i++) {
		json_object *s = json_object_array_get_idx(disks, i);
		const char *nm = adm_get_str(s, "nsd", "");
		struct fs_mkfs_disk *k = &a->disk[i];
		const struct nsd_record *nr = NULL;
		enum nsd_usage u;
		const char *us = adm_get_str(s, "usage", NULL), *pool;

		for (size_t j = 0; j < nall && !nr; j++)
			if (!strcmp(all[j].name, nm))
				nr = &all[j];
		for (uint32_t m = 0; m < i; m++)
			if (!strcmp(a->name[m], nm)) {
				adm_add_msg(a->err, sizeof(a->err), "NSD %s is named twice in the stanza file", nm);
				rc = MM_EINVAL;
			}
		snprintf(a->name[i], sizeof(a->name[i]), "%s", nm);
		k->name = a->name[i];
		if (!nr) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s does not exist (mmcrnsd makes it; mmlsnsd "
				    "lists the NSDs)", nm);
			rc = MM_ENOENT;
			continue;
		}
		k->nsd_id = nr->id;
		a->pending[i] = false;
		if (!strcmp(nr->fs, a->device) && in_record(a->rec, nr->id)) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s is already a disk of file system %s", nm,
				    a->device);
			rc = MM_EEXIST;
			continue;
		} else if (!strcmp(nr->fs, a->device)) {
			a->pending[i] = true;
		} else if (nr->fs[0]) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s belongs to file system %s", nm, nr->fs);
			rc = MM_EBUSY;
			continue;
		}
		u = nr->usage;
		if (us && nsd_usage_parse(us, &u)) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s: usage %s is not known", nm, us);
			rc = MM_EINVAL;
		} else if (adm_fs_usage_of(u, &k->usage)) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s: usage %s cannot be in a file system", nm,
				    nsd_usage_name(u));
			rc = MM_EINVAL;
		}
		k->failure_group = (int32_t)adm_get_int(s, "failureGroup", nr->failure_group);
		pool = adm_get_str(s, "pool", nr->pool);
		if (strlen(pool) >= sizeof(a->pool[i])) {
			adm_add_msg(a->err, sizeof(a->err), "NSD %s: storage pool name %s is longer than 31 "
				    "characters", nm, pool);
			rc = MM_EINVAL;
		}
		snprintf(a->pool[i], sizeof(a->pool[i]), "%s", pool);
		k->pool = a->pool[i];
	}
	free(all);
	return rc;
}

/*
 * Set the "fs" of the NSDs <ids> (<n>) to <to> where it is now <from>,
 * in one transaction, retried while another change raced it. With
 * <strict>, an NSD whose "fs" is neither is a refusal naming it (the
 * claim); without, it is left alone (the release).
 */
static int set_fs(mmfsd *d, const uint64_t *ids, uint32_t n, const char *from, const char *to,
		  bool strict, char *err, size_t errsz)
{
	int rc = MM_OK;

	for (int t = 0; t < TRIES; t++) {
		struct nsd_record *all = NULL;
		int64_t *revs = NULL;
		size_t nall = 0, k = 0;
		struct clm_ccr_change *ch = calloc(n + 1, sizeof(*ch));
		char **vals = calloc(n + 1, sizeof(*vals)), (*keys)[128] = calloc(n + 1, sizeof(*keys));

		rc = ch && vals && keys ? adm_nsd_load(d, &all, &revs, &nall, err, errsz) : MM_ENOMEM;
		for (size_t j = 0; !rc && j < nall; j++) {
			bool want = false;

			for (uint32_t i = 0; i < n; i++)
				want |= all[j].id == ids[i];
			if (!want || !strcmp(all[j].fs, to))
				continue;
			if (strcmp(all[j].fs, from)) {
				if (strict) {
					snprintf(err, errsz, "NSD %s was taken by file system %s meanwhile",
						 all[j].name, all[j].fs);
					rc = MM_EBUSY;
				}
				continue;
			}
			snprintf(all[j].fs, sizeof(all[j].fs), "%s", to);
			snprintf(keys[k], sizeof(keys[k]), NSD_CCR_PREFIX "%s", all[j].name);
			if (nsd_record_encode(&all[j], &vals[k]))
				rc = MM_ENOMEM;
			ch[k] = (struct clm_ccr_change){keys[k], vals[k], revs[j]};
			k++;
		}
		if (!rc && k)
			rc = clm_ccr_update(mmfsd_clm(d), ch, k, err, errsz);
		for (size_t i = 0; vals && i < k; i++)
			free(vals[i]);
		free(vals);
		free(keys);
		free(ch);
		free(all);
		free(revs);
		if (rc != MM_ECONFLICT)
			break;
	}
	return rc;
}

/*
 * The record's NSD list becomes <sgd>'s (fssvc_add's done): compared
 * and swapped, retried; a record already as long is left alone (another
 * run wrote it), one whose disks are not a prefix of the descriptor's
 * is MM_EPROTO.
 */
static int record_update(void *arg, const struct fs_sgd *sgd, char *err, size_t errsz)
{
	struct add *a = arg;
	struct fsrec *r = malloc(sizeof(*r));
	int rc = r ? MM_OK : MM_ENOMEM;

	for (int t = 0; !rc && t < TRIES; t++) {
		struct clm_ccr_change ch;
		char key[128], *val = NULL;
		int64_t rev = 0;

		if ((rc = adm_fs_load(a->d, a->device, r, &rev, err, errsz)))
			break;
		if (r->ndisks >= sgd->ndisks)
			break;
		for (uint32_t i = 0; i < r->ndisks && !rc; i++)
			if (r->disk[i].id != sgd->disk[i].nsd_id) {
				snprintf(err, errsz, "the CCR's record of %s lists NSD %s as disk %u, the "
					 "descriptor %s", a->device, r->disk[i].name, i, sgd->disk[i].name);
				rc = MM_EPROTO;
			}
		if (rc)
			break;
		for (uint32_t i = r->ndisks; i < sgd->ndisks; i++) {
			snprintf(r->disk[i].name, sizeof(r->disk[i].name), "%s", sgd->disk[i].name);
			r->disk[i].id = sgd->disk[i].nsd_id;
		}
		r->ndisks = sgd->ndisks;
		fsrec_key(a->device, key, sizeof(key));
		rc = fsrec_encode(r, &val);
		ch = (struct clm_ccr_change){key, val, rev};
		if (!rc)
			rc = clm_ccr_update(mmfsd_clm(a->d), &ch, 1, err, errsz);
		free(val);
		if (rc != MM_ECONFLICT)
			break;
		rc = MM_OK;
	}
	if (rc == MM_OK && r)
		*a->rec = *r;
	free(r);
	return rc;
}

/*
 * Step 2: the descriptor (this node's mount's, or read from the record's
 * disks and the pending ones) names disks past the record's: they were
 * added by a run that did not record them. The record takes them; they
 * are dropped from the disks to add.
 */
static int finish_earlier(struct add *a)
{
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	uint64_t ids[FS_MAX_DISKS];
	const char *names[FS_MAX_DISKS];
	uint32_t nd = a->rec->ndisks, old = a->rec->ndisks, k = 0;
	struct fsdio *f = NULL;
	int rc = sgd ? MM_OK : MM_ENOMEM;

	if (!rc && fssvc_sgd(mmfsd_fssvc(a->d), a->device, sgd) != MM_OK) {
		struct fs_disk_io io;

		for (uint32_t i = 0; i < nd; i++) {
			ids[i] = a->rec->disk[i].id;
			names[i] = a->rec->disk[i].name;
		}
		for (uint32_t i = 0; i < a->n; i++)
			if (a->pending[i] && nd < FS_MAX_DISKS) {
				ids[nd] = a->disk[i].nsd_id;
				names[nd++] = a->disk[i].name;
			}
		rc = adm_nsds_open(a->d, ids, names, nd, &f, a->err, sizeof(a->err));
		if (!rc) {
			io = fsdio_ops(f);
			rc = fs_read_sgd(&io, nd, sgd, NULL, a->err, sizeof(a->err));
		}
		fsdio_close(f);
	}
	if (rc || sgd->ndisks <= a->rec->ndisks)
		goto out;
	for (uint32_t i = a->rec->ndisks; i < sgd->ndisks; i++) {
		bool found = false;

		for (uint32_t j = 0; j < a->n; j++)
			found |= a->pending[j] && a->disk[j].nsd_id == sgd->disk[i].nsd_id;
		if (!found) {
			snprintf(a->err, sizeof(a->err), "the descriptor of %s names disk %s, which its CCR "
				 "record does not list: an earlier mmadddisk did not finish; name %s in "
				 "the stanza file too", a->device, sgd->disk[i].name, sgd->disk[i].name);
			rc = MM_ESTATE;
			goto out;
		}
	}
	if ((rc = record_update(a, sgd, a->err, sizeof(a->err))))
		goto out;
	for (uint32_t i = 0; i < a->n; i++) {
		bool done = false;

		for (uint32_t j = old; j < sgd->ndisks; j++)
			done |= a->pending[i] && a->disk[i].nsd_id == sgd->disk[j].nsd_id;
		if (done) {
			line(a, "Disk %s was added by an earlier mmadddisk that did not finish: recorded now",
			     a->disk[i].name);
			continue;
		}
		if (k != i) {
			a->disk[k] = a->disk[i];
			a->pending[k] = a->pending[i];
			memcpy(a->name[k], a->name[i], sizeof(a->name[k]));
			memcpy(a->pool[k], a->pool[i], sizeof(a->pool[k]));
			a->disk[k].name = a->name[k];
			a->disk[k].pool = a->pool[k];
		}
		k++;
	}
	a->n = k;
out:
	free(sgd);
	return rc;
}

/* <device> mounted on another node? Its mark, the node named in <err>. */
static bool mounted_elsewhere(struct add *a)
{
	struct fssvc_mark *marks = NULL;
	size_t n = 0;
	bool other = false;

	if (fssvc_marks(a->d, &marks, &n))
		return false;	/* fssvc_add_disks checks again under its lock */
	for (size_t i = 0; i < n; i++) {
		struct cfg_cluster def;
		const struct cfg_node *nd;

		if (strcmp(marks[i].device, a->device) || marks[i].node == mmfsd_node_number(a->d))
			continue;
		other = true;
		cfg_cluster_init(&def);
		clm_cluster_copy(mmfsd_clm(a->d), &def);
		nd = cfg_cluster_node_num(&def, marks[i].node);
		snprintf(a->other, sizeof(a->other), "%s", nd ? nd->name : "?");
		snprintf(a->err, sizeof(a->err), "%s is mounted on node %s (%s): run mmadddisk on that "
			 "node (MMFS_NODE=%s mmadddisk ...) or unmount it first", a->device,
			 nd ? nd->ip : "?", a->other, a->other);
		cfg_cluster_free(&def);
	}
	free(marks);
	return other;
}

void adm_cmd_adddisk(mmfsd *d, json_object *req, json_object *rep)
{
	struct add *a = calloc(1, sizeof(*a));
	json_object *disks = NULL;
	struct fsdio *io = NULL;
	struct fssvc_add fa = {0};
	uint64_t ids[FS_MAX_DISKS];
	const char *names[FS_MAX_DISKS];
	int rc = MM_OK;

	if (!a || !(a->rec = calloc(1, sizeof(*a->rec)))) {
		adm_set_rc(rep, MM_ENOMEM, "mmadddisk: out of memory");
		free(a);
		return;
	}
	a->d = d;
	a->lines = json_object_new_array();
	json_object_object_add(rep, "lines", a->lines);
	if (!adm_require_active(d, rep, "mmadddisk"))
		goto free;
	a->device = adm_get_str(req, "device", "");
	if (!strncmp(a->device, "/dev/", 5))
		a->device += 5;
	if (!json_object_object_get_ex(req, "disks", &disks) || !json_object_is_type(disks, json_type_array) ||
	    json_object_array_length(disks) < 1 || json_object_array_length(disks) > FS_MAX_DISKS) {
		snprintf(a->err, sizeof(a->err), "the stanza file names no NSD (or more than %d)", FS_MAX_DISKS);
		rc = MM_EINVAL;
		goto done;
	}
	a->n = (uint32_t)json_object_array_length(disks);

	/* 1. checks */
	if ((rc = adm_fs_load(d, a->device, a->rec, NULL, a->err, sizeof(a->err))))
		goto done;
	if (a->rec->state != FSREC_READY) {
		snprintf(a->err, sizeof(a->err), "file system %s is %s: mmcrfs did not complete (mmdelfs "
			 "it)", a->device, fsrec_state_name(a->rec->state));
		rc = MM_ESTATE;
		goto done;
	}
	if (mounted_elsewhere(a)) {
		rc = MM_EBUSY;
		goto done;
	}
	if ((rc = match(a, disks)))
		goto done;
	if (a->rec->ndisks + a->n > FS_MAX_DISKS) {
		snprintf(a->err, sizeof(a->err), "%s has %u disks: %u more would pass the limit of %d",
			 a->device, a->rec->ndisks, a->n, FS_MAX_DISKS);
		rc = MM_ERANGE;
		goto done;
	}
	for (uint32_t i = 0; i < a->n; i++) {
		ids[i] = a->disk[i].nsd_id;
		names[i] = a->disk[i].name;
	}
	if ((rc = adm_nsds_open(d, ids, names, a->n, &io, a->err, sizeof(a->err))))
		goto done;
	a->err[0] = '\0';
	if ((rc = adm_fs_probe(d, io, a->disk, a->n, adm_get_bool(req, "verify", true), a->err,
			       sizeof(a->err))))
		goto done;

	/* 2. an earlier run that did not finish */
	for (uint32_t i = 0; i < a->n; i++)
		if (a->pending[i]) {
			rc = finish_earlier(a);
			break;
		}
	if (rc)
		goto done;
	if (!a->n) {
		line(a, "Completed adding disks to file system %s.", a->device);
		goto done;
	}

	/* 3. the claim */
	for (uint32_t i = 0; i < a->n; i++)
		ids[i] = a->disk[i].nsd_id;
	if ((rc = set_fs(d, ids, a->n, "", a->device, true, a->err, sizeof(a->err))))
		goto done;
	a->claimed = true;

	/* 4. zeroed slots (the disks were opened in stanza order; after step 2
	 * they are the first a->n only if nothing was dropped: reopen) */
	fsdio_close(io);
	io = NULL;
	for (uint32_t i = 0; i < a->n; i++)
		names[i] = a->disk[i].name;
	if ((rc = adm_nsds_open(d, ids, names, a->n, &io, a->err, sizeof(a->err))))
		goto done;
	{
		unsigned failed = 0;

		if ((rc = adm_fs_clear_desc(io, a->n, false, &failed, a->err, sizeof(a->err))))
			goto done;
	}

	/* 5. the stripe group */
	line(a, "The following disks of %s will be formatted on node %s:", a->device, mmfsd_node_name(d));
	for (uint32_t i = 0; i < a->n; i++)
		line(a, "    %s: size %" PRIu64 " MB", a->disk[i].name, a->disk[i].bytes >> 20);
	line(a, "Extending Allocation Map");
	fa.rec = a->rec;
	fa.disk = a->disk;
	fa.n = a->n;
	fa.done = record_update;
	fa.arg = a;
	rc = fssvc_add_disks(mmfsd_fssvc(d), &fa, a->err, sizeof(a->err));
	if (rc == MM_OK) {
		line(a, "Checking Allocation Map for storage pool %s", a->disk[0].pool);
		line(a, "Completed adding disks to file system %s.", a->device);
		mm_notice(SUB, "mmadddisk %s: %u disks added (%s)", a->device, a->n,
			  fa.was_mounted ? "mounted here" : "mounted in the daemon for it");
	}
done:
	if (rc && a->claimed && !fa.added) {
		char e[1024] = "";

		if (set_fs(d, ids, a->n, a->device, "", false, e, sizeof(e))) {
			mm_error(SUB, "mmadddisk %s undo: %s", a->device, e);
			adm_add_msg(a->err, sizeof(a->err), "the NSDs could not be freed (%s): rerun mmadddisk "
				    "with the same stanza file", e);
		} else {
			adm_add_msg(a->err, sizeof(a->err), "no disk was added: the NSDs are free again");
		}
	} else if (rc && fa.added) {
		adm_add_msg(a->err, sizeof(a->err), "the descriptor of %s names the new disks and %s uses "
			    "them, but its CCR record does not list them yet: rerun mmadddisk %s with the "
			    "same stanza file to finish (until then only this node's mount works)",
			    a->device, fa.was_mounted ? "the mount here" : "the file system", a->device);
	}
	if (rc) {
		if (fa.other_name[0])
			snprintf(a->other, sizeof(a->other), "%s", fa.other_name);
		if (a->other[0])
			json_object_object_add(rep, "mountedOn", json_object_new_string(a->other));
		mm_warn(SUB, "mmadddisk %s failed: %s", a->device, a->err);
	}
	adm_set_rc(rep, rc, a->err[0] ? a->err : mm_strerror(rc));
free:
	fsdio_close(io);
	free(a->rec);
	free(a);
}
