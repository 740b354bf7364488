/*
 * mmfsd/admin_fsck.c - the admin request "fsck" (mmfsck): check, and with
 * "repair" repair, an unmounted file system through this node's NSD
 * client (fs_fsck over fsdio, fs/fsck.h). Request and reply fields:
 * mmfsd/README.md, "Admin commands".
 *
 * In order:
 *   1. the record (/mmfs/fs/<device>) must exist and be "ready"
 *   2. no other fsck of it runs in this daemon (the disks would be read
 *      and repaired twice at once)
 *   3. the mount mark in the CCR, taken for the check (fssvc_fsck_claim):
 *      refused when the file system is mounted anywhere or checked by
 *      another daemon (fs_fsck assumes nobody else writes); with it no
 *      node mounts it until the check ends
 *   4. fsdio over the record's NSDs; when the descriptor can be read and
 *      is of another file system (the NSDs were relabelled, the record is
 *      stale), nothing is checked or written: repairing someone else's
 *      disks is the one thing fsck must never do
 *   5. fs_fsck; its progress and problem lines are collected in order,
 *      as the command prints them (the admin protocol has one reply per
 *      request, so they come back when it ends)
 * The reply's rc is MM_OK when the check ran, whatever it found ("exit"
 * says: 0 clean, 1 all fixed, 2 problems left); an error rc when it could
 * not check (msg says why; the command exits 8).
 *
 * A badly damaged file system can have a problem per inode: the reply
 * keeps the first FSCK_MAX_PROBLEM_LINES problem lines (the counts are
 * always complete) and says how many it left out; the daemon log gets
 * the first FSCK_MAX_LOG_LINES of them and the summary.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "fs/fsck.h"
#include "fs/mkfs.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/fsdio.h"
#include "mmfsd/fsrec.h"
#include "mmfsd/fssvc.h"

#define SUB "fsck"
#define FSCK_MAX_PROBLEM_LINES 10000
#define FSCK_MAX_LOG_LINES 200
#define FSCK_MAX_RUNNING 16

/* ---- one fsck per file system in this daemon ---- */

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static char running[FSCK_MAX_RUNNING][FS_DEVICE_MAX + 1];

/* Claim <device>: false if an fsck of it (or FSCK_MAX_RUNNING of any)
 * already runs here. */
static bool running_claim(const char *device, bool *full)
{
	int free_slot = -1;
	bool ok = true;

	pthread_mutex_lock(&running_lock);
	for (int i = 0; i < FSCK_MAX_RUNNING; i++) {
		if (!running[i][0] && free_slot < 0)
			free_slot = i;
		else if (!strcmp(running[i], device))
			ok = false;
	}
	*full = ok && free_slot < 0;
	if (ok && free_slot >= 0)
		snprintf(running[free_slot], sizeof(running[free_slot]), "%s", device);
	pthread_mutex_unlock(&running_lock);
	return ok && free_slot >= 0;
}

bool adm_fsck_running(const char *device)
{
	bool yes = false;

	pthread_mutex_lock(&running_lock);
	for (int i = 0; i < FSCK_MAX_RUNNING; i++)
		yes |= !strcmp(running[i], device);
	pthread_mutex_unlock(&running_lock);
	return yes;
}

static void running_release(const char *device)
{
	pthread_mutex_lock(&running_lock);
	for (int i = 0; i < FSCK_MAX_RUNNING; i++)
		if (!strcmp(running[i], device))
			running[i][0] = '\0';
	pthread_mutex_unlock(&running_lock);
}

/* ---- collecting the lines ---- */

struct fsck_run {
	const char *device;
	json_object *lines;		/* {phase, pct} and {problem, fixed}, in order */
	uint64_t problems;		/* problem lines seen */
	uint64_t omitted;		/* of those, not in <lines> */
};

static void on_progress(void *arg, const char *phase, unsigned pct)
{
	struct fsck_run *c = arg;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "phase", json_object_new_string(phase));
	json_object_object_add(o, "pct", json_object_new_int((int)pct));
	/* the command prints when it ends: the time each step was reached */
	json_object_object_add(o, "time", json_object_new_int64((int64_t)time(NULL)));
	json_object_array_add(c->lines, o);
}

static void on_problem(void *arg, const char *line, bool fixed)
{
	struct fsck_run *c = arg;
	json_object *o;

	c->problems++;
	if (c->problems <= FSCK_MAX_LOG_LINES)
		mm_warn(SUB, "%s: %s%s", c->device, line, fixed ? " (fixed)" : "");
	if (c->problems > FSCK_MAX_PROBLEM_LINES) {
		c->omitted++;
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "problem", json_object_new_string(line));
	json_object_object_add(o, "fixed", json_object_new_boolean(fixed));
	json_object_array_add(c->lines, o);
}

static void add_u64(json_object *rep, const char *key, uint64_t v)
{
	json_object_object_add(rep, key, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

/* The descriptor, if it can be read, is <r>'s: MM_OK, or MM_EPROTO with
 * <err> naming both. An unreadable descriptor is fs_fsck's to report. */
static int same_fs(struct fsdio *f, const struct fsrec *r, char *err, size_t errsz)
{
	struct fs_disk_io io = fsdio_ops(f);
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	char e[512];
	int rc;

	if (!sgd)
		return MM_ENOMEM;
	rc = fs_read_sgd(&io, r->ndisks, sgd, NULL, e, sizeof(e));
	if (rc == MM_OK && (sgd->fsid != r->fsid || strcmp(sgd->device, r->device))) {
		snprintf(err, errsz, "the descriptor on the disks of %s is of file system %s (fsid %" PRIu64
			 "), the CCR's record of %s (fsid %u): nothing was checked", r->device, sgd->device,
			 sgd->fsid, r->device, r->fsid);
		rc = MM_EPROTO;
	} else {
		rc = MM_OK;
	}
	free(sgd);
	return rc;
}

void adm_cmd_fsck(mmfsd *d, json_object *req, json_object *rep)
{
	const char *device = adm_get_str(req, "device", "");
	bool repair = adm_get_bool(req, "repair", false), claimed = false, full = false, marked = false;
	struct fsrec *r = calloc(1, sizeof(*r));
	struct fsck_run c = {.lines = json_object_new_array()};
	struct fs_fsck_report fr = {.exit = FS_FSCK_EXIT_ERROR};
	struct fs_fsck_params p = {
		.repair = repair ? FS_FSCK_YES : FS_FSCK_NO,
		.progress = on_progress,
		.log = on_problem,
		.arg = &c,
	};
	struct fsdio *io = NULL;
	struct fs_disk_io dio;
	char err[2048] = "";
	uint64_t t0 = mm_now_ns(), ms;
	int rc;

	json_object_object_add(rep, "lines", c.lines);
	if (!r) {
		adm_set_rc(rep, MM_ENOMEM, "mmfsck: out of memory");
		return;
	}
	if (!adm_require_active(d, rep, "mmfsck"))
		goto out;
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	c.device = device;
	if (!fs_simple_name(device, FS_DEVICE_MAX)) {
		snprintf(err, sizeof(err), "\"%.80s\" is not a file system name (1 to %u characters of "
			 "A-Z a-z 0-9 . _ -)", device, FS_DEVICE_MAX);
		rc = MM_EINVAL;
		goto done;
	}
	if ((rc = adm_fs_load(d, device, r, NULL, err, sizeof(err))))
		goto done;
	if (r->state != FSREC_READY) {
		snprintf(err, sizeof(err), "file system %s is being created, or its mmcrfs failed part way "
			 "(mmdelfs %s removes it): there is nothing to check", device, device);
		rc = MM_EBUSY;
		goto done;
	}
	if (!(claimed = running_claim(device, &full))) {
		if (full)
			snprintf(err, sizeof(err), "%d mmfsck runs are under way on node %s: try again "
				 "later", FSCK_MAX_RUNNING, mmfsd_node_name(d));
		else
			snprintf(err, sizeof(err), "mmfsck of %s is already running on node %s", device,
				 mmfsd_node_name(d));
		rc = MM_EBUSY;
		goto done;
	}
	/* the mount mark: refused if mounted anywhere; no node mounts it
	 * while the check runs */
	if ((rc = fssvc_fsck_claim(d, device, err, sizeof(err))))
		goto done;
	marked = true;
	if (!(io = adm_fs_open_disks(d, r, err, sizeof(err)))) {
		rc = MM_ENOMEM;
		goto done;
	}
	if ((rc = same_fs(io, r, err, sizeof(err))))
		goto done;
	mm_notice(SUB, "mmfsck %s %s started", device, repair ? "-y" : "-n");
	dio = fsdio_ops(io);
	rc = fs_fsck(&dio, r->ndisks, &p, &fr, err, sizeof(err));
	ms = (mm_now_ns() - t0) / 1000000u;
	if (rc) {
		char e[1024];

		/* fs_fsck names the block; fsdio the NSD and why it failed */
		fsdio_error(io, e, sizeof(e));
		if (e[0] && !strstr(err, e))
			snprintf(err + strlen(err), sizeof(err) - strlen(err), " (%s)", e);
		mm_error(SUB, "mmfsck %s: could not check: %s", device, err);
		goto done;
	}
	mm_notice(SUB, "mmfsck %s %s: %" PRIu64 " inodes, %" PRIu64 " problems found, %" PRIu64
		  " fixed, exit %d, %" PRIu64 " ms", device, repair ? "-y" : "-n", fr.inodes, fr.found,
		  fr.fixed, fr.exit, ms);
	json_object_object_add(rep, "device", json_object_new_string(device));
	json_object_object_add(rep, "repair", json_object_new_boolean(repair));
	json_object_object_add(rep, "node", json_object_new_string(mmfsd_node_name(d)));
	add_u64(rep, "inodes", fr.inodes);
	add_u64(rep, "dirs", fr.dirs);
	add_u64(rep, "files", fr.files);
	add_u64(rep, "blocks", fr.blocks);
	add_u64(rep, "subblocks", fr.subblocks);
	add_u64(rep, "logs", fr.logs);
	add_u64(rep, "logsDirty", fr.logs_dirty);
	add_u64(rep, "orphans", fr.orphans);
	add_u64(rep, "found", fr.found);
	add_u64(rep, "fixed", fr.fixed);
	add_u64(rep, "generation", fr.generation);
	add_u64(rep, "omitted", c.omitted);
	add_u64(rep, "elapsedMs", ms);
	json_object_object_add(rep, "exit", json_object_new_int(fr.exit));
done:
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
out:
	fsdio_close(io);
	if (marked)
		fssvc_fsck_release(d, device);
	if (claimed)
		running_release(device);
	free(r);
}
