/*
 * mmfsd/fssvc.c - the mount service (fssvc.h).
 *
 * Parts (options and the marks' JSON are fssvc_util.c): marks in the CCR; the file system's record and disks;
 * mount; unmount; the start-time cleanup of dead mounts; the fsauto
 * worker (mounts gone without mmumount, stale marks, -A yes); start/stop.
 *
 * Lock order: op_lock -> list_lock (leaf); auto.lock alone.
 */
#include "mmfsd/fssvc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/daemon.h"
#include "mmfsd/fe.h"
#include "mmfsd/fsdio.h"
#include "mmfsd/fsrec.h"
#include "mmfsd/nsdsvc.h"

#define SUB "mount"
#define FSSVC_MGR_WAIT_MS 15000	/* for the token space's manager at mount */
#define FSSVC_TOKEN_TIMEOUT_MS 0	/* fs/'s token waits: for ever, as GPFS's */
#define FSSVC_MAX_RETIRED 64		/* mmadddisk runs per mount */

struct mount {
	struct mount *next;
	char device[FS_DEVICE_MAX + 1];
	char mountpoint[256];
	struct fssvc_opts opts;
	char opts_text[128];
	fs_sg *sg;
	struct fsdio *dio;
	fe_session *fe;
	/* fsdios the stripe group used before an mmadddisk switched it to
	 * <dio>: a call in flight may still hold them, so they are closed
	 * only after fs_sg_unmount (fssvc_add_disks) */
	struct fsdio *retired[FSSVC_MAX_RETIRED];
	unsigned nretired;
};

struct fssvc {
	mmfsd *d;
	char mounts_dir[4096];		/* <state>/mounts */
	pthread_mutex_t op_lock;	/* one mount, unmount or mmadddisk at a time */
	pthread_mutex_t list_lock;	/* guards mounts (a leaf) */
	struct mount *mounts;		/* written under op_lock + list_lock */
	struct mm_worker autow;		/* "fsauto" */
	bool auto_done;			/* protected by autow.lock: -A yes tried this run */
	bool started;
};

/* fe_params.gone: fsauto takes such a mount down (reap_gone) */
static void mount_gone(void *arg)
{
	fssvc *s = arg;

	mm_worker_kick(&s->autow);
}

/* ---- marks ---------------------------------------------------------- */

int fssvc_marks(mmfsd *d, struct fssvc_mark **out, size_t *n)
{
	struct etcd_kv *kvs = NULL;
	size_t nkv = 0;
	int rc = clm_ccr_list(mmfsd_clm(d), FSSVC_MARK_PREFIX, &kvs, &nkv);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	*out = calloc(nkv + 1, sizeof(**out));
	if (!*out) {
		etcd_kvs_free(kvs, nkv);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nkv; i++) {
		char e[256];

		if (fssvc_mark_decode(kvs[i].value, kvs[i].value_len, &(*out)[*n], e, sizeof(e))) {
			mm_error(SUB, "CCR key %s: %s: ignored", kvs[i].key, e);
			continue;
		}
		(*out)[(*n)++].mod_rev = kvs[i].mod_rev;
	}
	etcd_kvs_free(kvs, nkv);
	return MM_OK;
}

/* The mark of <device>: MM_ENOENT if none. */
static int mark_get(mmfsd *d, const char *device, struct fssvc_mark *m)
{
	struct fssvc_mark *all = NULL;
	size_t n = 0;
	int rc = fssvc_marks(d, &all, &n);

	if (rc)
		return rc;
	rc = MM_ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].device, device)) {
			*m = all[i];
			rc = MM_OK;
		}
	free(all);
	return rc;
}

bool fssvc_mounted_anywhere(mmfsd *d, const char *device)
{
	struct fssvc_mark m;

	return mark_get(d, device, &m) == MM_OK;
}

static void mark_key(const char *device, char *buf, size_t sz)
{
	snprintf(buf, sz, FSSVC_MARK_PREFIX "%s", device);
}

/* Delete <device>'s mark if it still names this node. */
static void mark_clear(mmfsd *d, const char *device)
{
	struct fssvc_mark m;
	char key[128];
	int rc = mark_get(d, device, &m);

	if (rc == MM_ENOENT)
		return;
	if (rc == MM_OK && m.node != mmfsd_node_number(d))
		return;		/* not ours (any more) */
	mark_key(device, key, sizeof(key));
	if (rc == MM_OK)
		rc = clm_ccr_delete(mmfsd_clm(d), key, m.mod_rev);
	if (rc)
		mm_warn(SUB, "cannot clear the mount mark of %s in the CCR: %s (the next mount on "
			"this node clears it)", device, mm_strerror(rc));
}

/* Node <num> as "127.1.24.1 (name)" into <buf>, its name into <name>. */
static void node_text(mmfsd *d, uint32_t num, char *buf, size_t sz, char *name, size_t namesz)
{
	struct cfg_cluster def;
	const struct cfg_node *n;

	cfg_cluster_init(&def);
	if (clm_cluster_copy(mmfsd_clm(d), &def) == MM_OK && (n = cfg_cluster_node_num(&def, num))) {
		snprintf(buf, sz, "%s (%s)", n->ip, n->name);
		snprintf(name, namesz, "%s", n->name);
	} else {
		snprintf(buf, sz, "number %u", num);
		snprintf(name, namesz, "%u", num);
	}
	cfg_cluster_free(&def);
}

/*
 * An existing mark <old> met while taking one for this node: MM_OK to
 * replace it as stale (this node's, nothing here behind it), else an
 * error with <err> naming the holder.
 */
typedef int (*mark_judge_fn)(mmfsd *d, const char *device, const struct fssvc_mark *old,
			     char *err, size_t errsz);

/*
 * Take <device>'s mark for this node: create-if-absent, so of two nodes
 * taking it at once exactly one wins; a mark found is replaced only if
 * <judge> calls it stale. <what> ("mount", "check") names the mark in
 * messages.
 */
static int mark_create(mmfsd *d, const char *device, const char *mountpoint, const char *opts,
		       const char *what, mark_judge_fn judge, char *err, size_t errsz)
{
	struct fssvc_mark m = {0};
	char key[128], *val = NULL;
	int rc = MM_ECONFLICT;

	snprintf(m.device, sizeof(m.device), "%s", device);
	m.node = mmfsd_node_number(d);
	snprintf(m.mountpoint, sizeof(m.mountpoint), "%s", mountpoint);
	snprintf(m.opts, sizeof(m.opts), "%s", opts);
	if (fssvc_mark_encode(&m, &val))
		return MM_ENOMEM;
	mark_key(device, key, sizeof(key));
	for (int tries = 0; tries < 3 && rc == MM_ECONFLICT; tries++) {
		const char *k = key, *v = val;
		struct fssvc_mark old;
		char e[256] = "";

		rc = clm_ccr_create(mmfsd_clm(d), &k, &v, 1, e, sizeof(e));
		if (rc != MM_EEXIST) {
			if (rc)
				snprintf(err, errsz, "cannot record the %s of %s in the CCR: %s", what,
					 device, e[0] ? e : mm_strerror(rc));
			break;
		}
		rc = mark_get(d, device, &old);
		if (rc == MM_ENOENT) {
			rc = MM_ECONFLICT;	/* gone meanwhile */
			continue;
		}
		if (rc) {
			snprintf(err, errsz, "cannot read the mount mark of %s: %s", device,
				 mm_strerror(rc));
			break;
		}
		rc = judge(d, device, &old, err, errsz);
		if (rc)
			break;
		mm_notice(SUB, "%s: a %s mark of this node's previous run is replaced", device,
			  strcmp(old.opts, FSSVC_FSCK_OPTS) ? "mount" : "mmfsck");
		rc = clm_ccr_delete(mmfsd_clm(d), key, old.mod_rev);
		if (rc && rc != MM_ECONFLICT) {
			snprintf(err, errsz, "cannot replace the stale mount mark of %s: %s", device,
				 mm_strerror(rc));
			break;
		}
		rc = MM_ECONFLICT;
	}
	if (rc == MM_ECONFLICT)
		snprintf(err, errsz, "the mount mark of %s keeps changing: try again", device);
	free(val);
	return rc;
}

/* A mount meets <old>: another node's mount, or a check running anywhere,
 * keeps it out. */
static int judge_mount(mmfsd *d, const char *device, const struct fssvc_mark *old, char *err,
		       size_t errsz)
{
	bool self = old->node == mmfsd_node_number(d);
	char who[320], name[256];

	if (!strcmp(old->opts, FSSVC_FSCK_OPTS) && (!self || adm_fsck_running(device))) {
		node_text(d, old->node, who, sizeof(who), name, sizeof(name));
		snprintf(err, errsz, "%s is being checked by mmfsck on node %s: mount it when the "
			 "check ends", device, who);
		return MM_EBUSY;
	}
	if (!self) {
		node_text(d, old->node, who, sizeof(who), name, sizeof(name));
		snprintf(err, errsz, "%s is mounted on node %s%s: in this release a file system is "
			 "mounted on one node at a time (mmumount %s -N %s first)", device, who,
			 clm_is_member(mmfsd_clm(d), old->node) ? "" :
			 " (not active now: its mount is cleared when its daemon starts)", device,
			 name);
		return MM_EBUSY;
	}
	return MM_OK;
}

/* A check meets <old>: any mount keeps it out, and so does another
 * node's check; this node's own is stale (the caller holds the only one
 * that runs here). */
static int judge_fsck(mmfsd *d, const char *device, const struct fssvc_mark *old, char *err,
		      size_t errsz)
{
	char who[320], name[256];

	node_text(d, old->node, who, sizeof(who), name, sizeof(name));
	if (strcmp(old->opts, FSSVC_FSCK_OPTS)) {
		snprintf(err, errsz, "file system %s is mounted on node %s: mmfsck checks an "
			 "unmounted file system only; unmount it everywhere first (mmumount %s -a)",
			 device, who, device);
		return MM_EBUSY;
	}
	if (old->node != mmfsd_node_number(d)) {
		snprintf(err, errsz, "mmfsck of %s is already running on node %s", device, who);
		return MM_EBUSY;
	}
	return MM_OK;
}

static int mark_take(fssvc *s, const char *device, const char *mountpoint, const char *opts,
		     char *err, size_t errsz)
{
	return mark_create(s->d, device, mountpoint, opts, "mount", judge_mount, err, errsz);
}

int fssvc_fsck_claim(mmfsd *d, const char *device, char *err, size_t errsz)
{
	return mark_create(d, device, "", FSSVC_FSCK_OPTS, "check", judge_fsck, err, errsz);
}

void fssvc_fsck_release(mmfsd *d, const char *device)
{
	mark_clear(d, device);
}

/* ---- the file system's record and disks ----------------------------- */

/* <name> ("fs1", "/dev/fs1" or a mount point) -> its record. */
static int rec_find(mmfsd *d, const char *name, struct fsrec *r, char *err, size_t errsz)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	const char *dev = strncmp(name, "/dev/", 5) == 0 ? name + 5 : name;
	int rc = clm_ccr_list(mmfsd_clm(d), FSREC_CCR_PREFIX, &kvs, &n);

	if (rc) {
		snprintf(err, errsz, "cannot read the file systems in the CCR: %s", mm_strerror(rc));
		return rc;
	}
	rc = MM_ENOENT;
	for (size_t i = 0; i < n && rc == MM_ENOENT; i++) {
		struct fsrec *t = malloc(sizeof(*t));
		char e[256];

		if (!t) {
			rc = MM_ENOMEM;
			break;
		}
		if (fsrec_decode(kvs[i].value, kvs[i].value_len, t, e, sizeof(e)) == MM_OK &&
		    (!strcmp(t->device, dev) || (dev[0] == '/' && !strcmp(t->mount_point, dev)))) {
			*r = *t;
			rc = MM_OK;
		}
		free(t);
	}
	etcd_kvs_free(kvs, n);
	if (rc == MM_ENOENT)
		snprintf(err, errsz, "file system %s does not exist", name);
	return rc;
}

static int disks_open(mmfsd *d, const struct fsrec *r, struct fsdio **out, char *err, size_t errsz)
{
	uint64_t *ids = calloc(r->ndisks, sizeof(*ids));
	const char **names = calloc(r->ndisks, sizeof(*names));
	bool unknown = false;
	int rc;

	if (!ids || !names) {
		free(ids);
		free(names);
		return MM_ENOMEM;
	}
	for (uint32_t i = 0; i < r->ndisks; i++) {
		nsd_entry *e = nsd_table_get(nsd_svc_table(mmfsd_nsd(d)), r->disk[i].id);

		ids[i] = r->disk[i].id;
		names[i] = r->disk[i].name;
		unknown |= !e;
		if (e)
			nsd_entry_put(e);
	}
	if (unknown) {
		char e2[256];

		/* NSDs made since this node's last scan */
		nsd_svc_scan_now(mmfsd_nsd(d), e2, sizeof(e2));
	}
	rc = fsdio_open(nsd_svc_client(mmfsd_nsd(d)), ids, names, r->ndisks, out);
	if (rc)
		snprintf(err, errsz, "cannot open the disks of %s: %s", r->device, mm_strerror(rc));
	free(ids);
	free(names);
	return rc;
}

/* Wait (CLOCK_MONOTONIC) for the cluster manager to appoint a manager
 * of space <fsid>: fs/'s first token needs the space's view. */
static int wait_manager(mmfsd *d, const struct fsrec *r, char *err, size_t errsz)
{
	uint64_t end = mm_now_ms() + FSSVC_MGR_WAIT_MS;
	uint32_t node = 0;
	uint64_t epoch = 0;
	int rc;

	for (;;) {
		rc = clm_fsmgr(mmfsd_clm(d), r->fsid, &node, &epoch, NULL, NULL);
		if (rc == MM_OK && node)
			return MM_OK;
		if (mm_now_ms() >= end)
			break;
		mm_sleep_ms(100);
	}
	snprintf(err, errsz, "%s: %s", r->device,
		 rc == MM_ENOENT ? "its token space does not exist in the CCR (was mmcrfs completed?)"
				 : "no file system manager was appointed within 15 s");
	return rc == MM_ENOENT ? MM_ENOENT : MM_ETIMEDOUT;
}

/* ---- the mount list and the state files ----------------------------- */

static struct mount *find_locked(fssvc *s, const char *device)
{
	for (struct mount *m = s->mounts; m; m = m->next)
		if (!strcmp(m->device, device))
			return m;
	return NULL;
}

static void state_file(fssvc *s, const char *device, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s", s->mounts_dir, device);
}

/* ---- mount ---------------------------------------------------------- */

static int mount_one(fssvc *s, const struct fsrec *r, const struct fssvc_opts *o, char *err,
		     size_t errsz)
{
	mmfsd *d = s->d;
	struct mount *m = calloc(1, sizeof(*m));
	struct fs_mount_params p = {0};
	struct fe_params fp = {0};
	char path[4200];
	int rc;

	if (!m)
		return MM_ENOMEM;
	snprintf(m->device, sizeof(m->device), "%s", r->device);
	snprintf(m->mountpoint, sizeof(m->mountpoint), "%s", r->mount_point);
	m->opts = *o;
	fssvc_format_opts(o, m->opts_text, sizeof(m->opts_text));

	rc = mark_take(s, r->device, m->mountpoint, m->opts_text, err, errsz);
	if (rc)
		goto fail;
	rc = wait_manager(d, r, err, errsz);
	if (rc)
		goto fail_mark;
	rc = disks_open(d, r, &m->dio, err, errsz);
	if (rc)
		goto fail_mark;
	p.device = r->device;
	p.fsid = r->fsid;
	p.ndisks = r->ndisks;
	p.dio = fsdio_ops(m->dio);
	p.pool = mmfsd_pool(d);
	p.tok = mmfsd_toknet(d);
	p.node = mmfsd_node_number(d);
	p.readonly = o->readonly;
	p.atime = o->atime;
	p.nodiratime = o->nodiratime;
	p.token_timeout_ms = FSSVC_TOKEN_TIMEOUT_MS;
	rc = fs_sg_mount(&p, &m->sg, err, errsz);
	if (rc < 0) {
		if (!err[0]) {
			char e2[256];

			fsdio_error(m->dio, e2, sizeof(e2));
			snprintf(err, errsz, "%s: %s%s%s", r->device, strerror(-rc), e2[0] ? ": " : "", e2);
		}
		rc = mm_err_from_errno(-rc);
		goto fail_dio;
	}
	/* the mount point is made if missing, as GPFS's mmmount does */
	rc = mm_mkdir_p(m->mountpoint, 0755);
	if (rc) {
		snprintf(err, errsz, "cannot make mount point %s: %s", m->mountpoint, mm_strerror(rc));
		goto fail_sg;
	}
	fp.sg = m->sg;
	fp.device = r->device;
	fp.mountpoint = m->mountpoint;
	fp.readonly = o->readonly;
	fp.nosuid = o->nosuid;
	fp.nodev = o->nodev;
	fp.noexec = o->noexec;
	fp.noatime = o->atime == FS_ATIME_NOATIME;
	/* worker1Threads bounds the workers; libfuse starts one when the
	 * last idle one takes a request. None is ever ended: with a bound
	 * on idle workers, two busy callers made libfuse end and start a
	 * thread every few requests (dozens a second, create rates -15%) */
	fp.max_threads = (unsigned)cfg_get_int(mmfsd_cfg(d), "worker1Threads");
	fp.max_idle = fp.max_threads;
	fp.gone = mount_gone;
	fp.gone_arg = s;
	rc = fe_mount(&fp, &m->fe, err, errsz);
	if (rc)
		goto fail_sg;
	state_file(s, r->device, path, sizeof(path));
	if (mm_mkdir_p(s->mounts_dir, 0700) ||
	    mm_write_file_atomic(path, m->mountpoint, strlen(m->mountpoint), 0600))
		mm_warn(SUB, "cannot write %s: a mount left by a crash of this daemon would not be "
			"cleaned at its next start", path);
	pthread_mutex_lock(&s->list_lock);
	m->next = s->mounts;
	s->mounts = m;
	pthread_mutex_unlock(&s->list_lock);
	mm_notice(SUB, "file system %s mounted on %s (%s)", r->device, m->mountpoint, m->opts_text);
	return MM_OK;
fail_sg:
	fs_sg_unmount(m->sg, true);
fail_dio:
	fsdio_close(m->dio);
fail_mark:
	mark_clear(d, r->device);
fail:
	free(m);
	return rc;
}

static int unmount_one(fssvc *s, struct mount *m, bool force, char *err, size_t errsz);

struct has_ctx {
	const char *want;
	bool found;
};

static void has_one(void *arg, const char *mountpoint, const char *source)
{
	struct has_ctx *c = arg;

	(void)source;
	if (!strcmp(mountpoint, c->want))
		c->found = true;
}

/* The kernel still shows a fuse.mmfs mount of <device> on <mountpoint>
 * (true when /proc/self/mountinfo cannot be read). */
static bool kernel_mounted(const char *device, const char *mountpoint)
{
	struct has_ctx c = {mountpoint, false};
	char *info = NULL;

	if (mm_read_file("/proc/self/mountinfo", 16u << 20, &info, NULL) != MM_OK)
		return true;
	fe_mountinfo_each(info, device, has_one, &c);
	free(info);
	return c.found;
}

/*
 * With op_lock: <m>'s kernel mount went (umount(8)) and fsauto has not
 * taken it down yet. Right after a umount the FUSE loop may not have
 * seen its connection end (its workers may be busy for a while on a
 * loaded node): a mount the kernel no longer shows went if its
 * connection is gone too (fusectl; the unmount then waits for the loop),
 * and without fusectl it is given a moment. One detached but still in
 * use (umount -l) keeps serving.
 */
static bool mount_went(struct mount *m)
{
	if (fe_gone(m->fe))
		return true;
	if (kernel_mounted(m->device, m->mountpoint))
		return false;
	switch (fe_conn_alive(m->fe)) {
	case 0:
		return true;
	case 1:
		return false;
	}
	for (int i = 0; i < 200 && !fe_gone(m->fe); i++)
		mm_sleep_ms(10);
	return fe_gone(m->fe);
}

int fssvc_mount(fssvc *s, const char *device, const char *opts, char *err, size_t errsz)
{
	struct fssvc_opts o;
	struct fsrec *r = malloc(sizeof(*r));
	int rc;

	err[0] = '\0';
	if (!r)
		return MM_ENOMEM;
	rc = fssvc_parse_opts(opts, &o, err, errsz);
	if (rc)
		goto out;
	if (clm_get_state(mmfsd_clm(s->d)) != CLM_ACTIVE) {
		snprintf(err, errsz, "this node is not active (no quorum): nothing can be mounted now");
		rc = MM_ENOQUORUM;
		goto out;
	}
	rc = rec_find(s->d, device, r, err, errsz);
	if (rc)
		goto out;
	if (r->state != FSREC_READY) {
		snprintf(err, errsz, "file system %s is %s: mmcrfs did not complete (mmdelfs it)",
			 r->device, fsrec_state_name(r->state));
		rc = MM_ESTATE;
		goto out;
	}
	pthread_mutex_lock(&s->op_lock);
	pthread_mutex_lock(&s->list_lock);
	{
		struct mount *m = find_locked(s, r->device);

		pthread_mutex_unlock(&s->list_lock);
		/* "umount; mmmount" must not race reap_gone */
		if (m && mount_went(m) && unmount_one(s, m, true, err, errsz) == MM_OK)
			m = NULL;
		if (m) {
			snprintf(err, errsz, "%s is already mounted on this node at %s", r->device,
				 m->mountpoint);
			rc = MM_EEXIST;
		}
	}
	if (!rc)
		rc = mount_one(s, r, &o, err, errsz);
	pthread_mutex_unlock(&s->op_lock);
out:
	free(r);
	return rc;
}

/* ---- unmount -------------------------------------------------------- */

/* With op_lock held: take <m> down; on success it is off the list and freed. */
static int unmount_one(fssvc *s, struct mount *m, bool force, char *err, size_t errsz)
{
	char path[4200];
	int rc = fe_unmount(m->fe, force, err, errsz);

	if (rc)
		return rc;
	pthread_mutex_lock(&s->list_lock);
	for (struct mount **pp = &s->mounts; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	pthread_mutex_unlock(&s->list_lock);
	/* The kernel is gone, so no handle can be used again; an open file
	 * whose RELEASE the kernel dropped when the connection ended
	 * (background requests are aborted at unmount) is fs/'s -EBUSY: the
	 * forced unmount then closes it. */
	rc = fs_sg_unmount(m->sg, force);
	if (rc == -EBUSY) {
		mm_info(SUB, "%s: files the kernel never released are closed", m->device);
		rc = fs_sg_unmount(m->sg, true);
	}
	if (rc < 0)
		mm_error(SUB, "%s: unmount of the stripe group: %s", m->device, strerror(-rc));
	fe_free(m->fe);
	fsdio_close(m->dio);
	for (unsigned i = 0; i < m->nretired; i++)
		fsdio_close(m->retired[i]);
	mark_clear(s->d, m->device);
	state_file(s, m->device, path, sizeof(path));
	unlink(path);
	mm_notice(SUB, "file system %s unmounted from %s%s", m->device, m->mountpoint,
		  force ? " (forced)" : "");
	free(m);
	if (rc < 0) {
		snprintf(err, errsz, "unmounted, but writing its last changes failed: %s (see the "
			 "daemon log)", strerror(-rc));
		return mm_err_from_errno(-rc);
	}
	return MM_OK;
}

/* Unmount <device> (or the mount on that path); <gone_only>: only if its
 * kernel mount went away (reap_gone), not a mount that took its place. */
static int unmount_dev(fssvc *s, const char *device, bool force, bool gone_only, char *err,
		       size_t errsz)
{
	const char *dev = strncmp(device, "/dev/", 5) == 0 ? device + 5 : device;
	struct mount *m = NULL;
	int rc;

	err[0] = '\0';
	pthread_mutex_lock(&s->op_lock);
	pthread_mutex_lock(&s->list_lock);
	for (struct mount *i = s->mounts; i && !m; i = i->next)
		if (!strcmp(i->device, dev) || !strcmp(i->mountpoint, device))
			m = i;
	pthread_mutex_unlock(&s->list_lock);
	if (!m || (gone_only && !fe_gone(m->fe))) {
		snprintf(err, errsz, "%s is not mounted on this node", device);
		rc = MM_ENOENT;
	} else {
		rc = unmount_one(s, m, force, err, errsz);
	}
	pthread_mutex_unlock(&s->op_lock);
	return rc;
}

int fssvc_unmount(fssvc *s, const char *device, bool force, char *err, size_t errsz)
{
	return unmount_dev(s, device, force, false, err, errsz);
}

int fssvc_list(fssvc *s, struct fssvc_mount_info **out, size_t *n)
{
	size_t k = 0, cap = 0;

	pthread_mutex_lock(&s->list_lock);
	for (struct mount *m = s->mounts; m; m = m->next)
		cap++;
	*out = calloc(cap + 1, sizeof(**out));
	if (*out)
		for (struct mount *m = s->mounts; m; m = m->next, k++) {
			snprintf((*out)[k].device, sizeof((*out)[k].device), "%s", m->device);
			snprintf((*out)[k].mountpoint, sizeof((*out)[k].mountpoint), "%s", m->mountpoint);
			snprintf((*out)[k].opts, sizeof((*out)[k].opts), "%s", m->opts_text);
			(*out)[k].requests = fe_requests(m->fe);
		}
	pthread_mutex_unlock(&s->list_lock);
	*n = k;
	return *out ? MM_OK : MM_ENOMEM;
}

/* ---- mmadddisk ------------------------------------------------------ */

/*
 * fsdio over <sgd>'s disks then <a>'s new ones, and fs_sg_add_disks with
 * it. The new fsdio is given to the stripe group even when the call
 * fails (fs/ may have switched to it before the descriptor write
 * failed), so it goes to *keep, for the caller to close after unmount.
 */
static int add_to_sg(mmfsd *d, fs_sg *sg, struct fssvc_add *a, struct fsdio **keep, char *err,
		     size_t errsz)
{
	const struct fs_sgd *sgd = fs_sg_sgd(sg);
	uint32_t old = sgd->ndisks, n = old + a->n;
	uint64_t *ids = calloc(n, sizeof(*ids));
	const char **names = calloc(n, sizeof(*names));
	struct fs_disk_io io;
	int rc;

	*keep = NULL;
	if (!ids || !names) {
		rc = MM_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < old; i++) {
		ids[i] = sgd->disk[i].nsd_id;
		names[i] = sgd->disk[i].name;
	}
	for (uint32_t i = 0; i < a->n; i++) {
		ids[old + i] = a->disk[i].nsd_id;
		names[old + i] = a->disk[i].name;
	}
	rc = fsdio_open(nsd_svc_client(mmfsd_nsd(d)), ids, names, n, keep);
	if (rc) {
		snprintf(err, errsz, "cannot open the disks: %s", mm_strerror(rc));
		goto out;
	}
	io = fsdio_ops(*keep);
	rc = fs_sg_add_disks(sg, a->disk, a->n, &io, err, errsz);
	if (rc < 0) {
		char e2[256];

		fsdio_error(*keep, e2, sizeof(e2));
		if (!err[0] || (e2[0] && !strstr(err, e2)))
			snprintf(err + strlen(err), errsz - strlen(err), "%s%s", err[0] ? ": " : "",
				 e2[0] ? e2 : strerror(-rc));
		rc = mm_err_from_errno(-rc);
		goto out;
	}
	a->added = true;
	if (a->done)
		rc = a->done(a->arg, fs_sg_sgd(sg), err, errsz);
out:
	free(ids);
	free(names);
	return rc;
}

int fssvc_add_disks(fssvc *s, struct fssvc_add *a, char *err, size_t errsz)
{
	mmfsd *d = s->d;
	const struct fsrec *r = a->rec;
	struct fs_mount_params p = {0};
	struct fsdio *dio = NULL, *keep = NULL;
	struct mount *m;
	fs_sg *sg = NULL;
	int rc, urc;

	err[0] = '\0';
	a->added = a->was_mounted = false;
	a->other_node = 0;
	a->other_name[0] = '\0';
	pthread_mutex_lock(&s->op_lock);
	pthread_mutex_lock(&s->list_lock);
	m = find_locked(s, r->device);
	pthread_mutex_unlock(&s->list_lock);
	if (m) {
		/* mounted here: op_lock keeps it mounted through the call */
		a->was_mounted = true;
		if (m->nretired == FSSVC_MAX_RETIRED) {
			snprintf(err, errsz, "%s has had %u mmadddisk runs since it was mounted: "
				 "unmount and mount it first", r->device, FSSVC_MAX_RETIRED);
			rc = MM_ERANGE;
			goto out;
		}
		rc = add_to_sg(d, m->sg, a, &keep, err, errsz);
		if (keep) {
			/* the stripe group may use either fsdio until unmount */
			m->retired[m->nretired++] = m->dio;
			m->dio = keep;
		}
		goto out;
	}
	/* mounted nowhere (or elsewhere: the mark tells) */
	rc = mark_take(s, r->device, r->mount_point, "rw", err, errsz);
	if (rc == MM_EBUSY) {
		struct fssvc_mark mk;
		char who[320];

		if (mark_get(d, r->device, &mk) == MM_OK) {
			a->other_node = mk.node;
			node_text(d, mk.node, who, sizeof(who), a->other_name, sizeof(a->other_name));
			snprintf(err, errsz, "%s is mounted on node %s: run mmadddisk on that node "
				 "(MMFS_NODE=%s mmadddisk ...) or unmount it first", r->device, who,
				 a->other_name);
		}
		goto out;
	}
	if (rc)
		goto out;
	rc = wait_manager(d, r, err, errsz);
	if (!rc)
		rc = disks_open(d, r, &dio, err, errsz);
	if (rc)
		goto mark;
	p.device = r->device;
	p.fsid = r->fsid;
	p.ndisks = r->ndisks;
	p.dio = fsdio_ops(dio);
	p.pool = mmfsd_pool(d);
	p.tok = mmfsd_toknet(d);
	p.node = mmfsd_node_number(d);
	p.atime = FS_ATIME_RELATIME;
	p.token_timeout_ms = FSSVC_TOKEN_TIMEOUT_MS;
	rc = fs_sg_mount(&p, &sg, err, errsz);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s: cannot mount it to add the disks: %s", r->device,
				 strerror(-rc));
		rc = mm_err_from_errno(-rc);
		goto dio;
	}
	mm_info(SUB, "%s mounted in the daemon (no FUSE) for mmadddisk", r->device);
	rc = add_to_sg(d, sg, a, &keep, err, errsz);
	urc = fs_sg_unmount(sg, true);
	if (urc < 0) {
		mm_error(SUB, "%s: unmount after mmadddisk: %s", r->device, strerror(-urc));
		if (!rc) {
			snprintf(err, errsz, "the disks were added, but writing the last changes at "
				 "unmount failed: %s (see the daemon log; mmfsck %s -n checks it)",
				 strerror(-urc), r->device);
			rc = mm_err_from_errno(-urc);
		}
	}
	fsdio_close(keep);
dio:
	fsdio_close(dio);
mark:
	mark_clear(d, r->device);
out:
	pthread_mutex_unlock(&s->op_lock);
	return rc;
}

/* <device>'s mount with op_lock taken (no unmount or mmadddisk until
 * the caller drops it), or NULL (op_lock taken all the same). */
static struct mount *op_find(fssvc *s, const char *device)
{
	struct mount *m;

	pthread_mutex_lock(&s->op_lock);
	pthread_mutex_lock(&s->list_lock);
	m = find_locked(s, device);
	pthread_mutex_unlock(&s->list_lock);
	return m;
}

int fssvc_sgd(fssvc *s, const char *device, struct fs_sgd *out)
{
	struct mount *m = op_find(s, device);
	int rc = MM_ENOENT;

	if (m) {
		*out = *fs_sg_sgd(m->sg);
		rc = MM_OK;
	}
	pthread_mutex_unlock(&s->op_lock);
	return rc;
}

int fssvc_df(fssvc *s, const char *device, struct fs_df *out, struct fs_sgd *sgd, char *err,
	     size_t errsz)
{
	/* op_lock: no unmount or mmadddisk while the maps are read (held
	 * across the fs/ call, as fssvc_sgd holds it across the copy) */
	struct mount *m = op_find(s, device);
	int rc = MM_ENOENT;

	if (m) {
		rc = fs_sg_df(m->sg, out, sgd, err, errsz);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, errsz, "%s: %s", device, strerror(-rc));
			rc = mm_err_from_errno(-rc);
		}
	} else {
		snprintf(err, errsz, "%s is not mounted on this node", device);
	}
	pthread_mutex_unlock(&s->op_lock);
	return rc;
}

/* ---- dead mounts of a previous run ---------------------------------- */

struct dead_ctx {
	const char *want;	/* the recorded mount point */
	const char *device;
	unsigned cleaned;
};

static void dead_one(void *arg, const char *mountpoint, const char *source)
{
	struct dead_ctx *c = arg;
	struct stat st;

	if (strcmp(mountpoint, c->want) != 0)
		return;
	/* our pid lock says the daemon that served it is gone; a dead FUSE
	 * connection answers ENOTCONN at once. Anything else is a live
	 * mount (another node's daemon on this machine): not ours. */
	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return;
	if (umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
		c->cleaned++;
		mm_notice(SUB, "detached a mount of %s on %s left by a previous run of this daemon "
			  "(its FUSE connection was dead)", source, mountpoint);
	} else {
		mm_error(SUB, "cannot detach the dead mount of %s on %s: %s", source, mountpoint,
			 strerror(errno));
	}
}

static void clean_dead_mounts(fssvc *s)
{
	DIR *dir = opendir(s->mounts_dir);
	struct dirent *e;
	char *info = NULL;

	if (!dir)
		return;
	if (mm_read_file("/proc/self/mountinfo", 16u << 20, &info, NULL) != MM_OK)
		info = NULL;
	while ((e = readdir(dir))) {
		char path[4400], *mp = NULL;
		struct dead_ctx c = {0};

		if (e->d_name[0] == '.')
			continue;
		state_file(s, e->d_name, path, sizeof(path));
		if (mm_read_file(path, 4096, &mp, NULL) == MM_OK && info) {
			mp[strcspn(mp, "\n")] = '\0';
			c.want = mp;
			c.device = e->d_name;
			fe_mountinfo_each(info, e->d_name, dead_one, &c);
		}
		free(mp);
		unlink(path);
	}
	closedir(dir);
	free(info);
}

/* ---- fsauto: mounts gone, stale marks, then -A yes ------------------ */

/*
 * A mount whose kernel side went without mmumount (umount(8) of the
 * mount point, fusermount -u, a lazy unmount's last user leaving, an
 * aborted connection) is taken down as mmumount would, GPFS's umount
 * being its mmumount: the stripe group unmounted, its tokens returned
 * and the mount mark cleared, so that mmlsmount tells the truth and a
 * later mmmount, here or on another node, succeeds. A mount still in
 * the kernel (an aborted connection) is detached. A failure waits for
 * the next round (fsauto wakes every few seconds).
 */
static void reap_gone(fssvc *s)
{
	for (;;) {
		char dev[FS_DEVICE_MAX + 1] = "", mp[256] = "", err[512] = "";
		int rc;

		pthread_mutex_lock(&s->list_lock);
		for (struct mount *m = s->mounts; m && !dev[0]; m = m->next)
			if (fe_gone(m->fe)) {
				snprintf(dev, sizeof(dev), "%s", m->device);
				snprintf(mp, sizeof(mp), "%s", m->mountpoint);
			}
		pthread_mutex_unlock(&s->list_lock);
		if (!dev[0])
			return;
		mm_notice(SUB, "%s: its mount on %s went away without mmumount (umount, fusermount "
			  "-u or an aborted connection): unmounting it on this node", dev, mp);
		/* by name, but only the mount that went: an mmmount may have
		 * taken it down and mounted again since the scan (it holds
		 * op_lock for both), and that one stays */
		rc = unmount_dev(s, dev, false, true, err, sizeof(err));
		if (rc == MM_EBUSY)
			rc = unmount_dev(s, dev, true, true, err, sizeof(err));
		if (rc == MM_ENOENT)
			return;
		if (rc) {
			mm_error(SUB, "%s: unmount after its mount went away: %s", dev, err);
			return;
		}
	}
}

static void clear_stale_marks(fssvc *s)
{
	struct fssvc_mark *all = NULL;
	size_t n = 0;

	if (fssvc_marks(s->d, &all, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		char key[128];
		bool mine;

		if (all[i].node != mmfsd_node_number(s->d))
			continue;
		pthread_mutex_lock(&s->list_lock);
		mine = find_locked(s, all[i].device) != NULL;
		pthread_mutex_unlock(&s->list_lock);
		if (mine)
			continue;
		mark_key(all[i].device, key, sizeof(key));
		if (clm_ccr_delete(mmfsd_clm(s->d), key, all[i].mod_rev) == MM_OK)
			mm_notice(SUB, "cleared the mount mark of %s left by a previous run of this "
				  "daemon", all[i].device);
	}
	free(all);
}

static void automount(fssvc *s)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	struct fsrec *r = malloc(sizeof(*r));

	if (!r || clm_ccr_list(mmfsd_clm(s->d), FSREC_CCR_PREFIX, &kvs, &n)) {
		free(r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char e[512] = "";
		struct fssvc_mark m;
		int rc;

		if (fsrec_decode(kvs[i].value, kvs[i].value_len, r, e, sizeof(e)) ||
		    strcmp(r->automount, "yes") || r->state != FSREC_READY)
			continue;
		if (mark_get(s->d, r->device, &m) == MM_OK && m.node != mmfsd_node_number(s->d)) {
			char who[320], name[256];

			node_text(s->d, m.node, who, sizeof(who), name, sizeof(name));
			mm_notice(SUB, "%s (-A yes) is not mounted at startup: it is mounted on node %s",
				  r->device, who);
			continue;
		}
		rc = fssvc_mount(s, r->device, NULL, e, sizeof(e));
		if (rc && rc != MM_EEXIST)
			mm_error(SUB, "%s (-A yes) could not be mounted at startup: %s", r->device, e);
	}
	etcd_kvs_free(kvs, n);
	free(r);
}

static void *auto_main(void *arg)
{
	fssvc *s = arg;

	pthread_mutex_lock(&s->autow.lock);
	while (mm_worker_wait(&s->autow, 5000)) {
		pthread_mutex_unlock(&s->autow.lock);
		reap_gone(s);
		pthread_mutex_lock(&s->autow.lock);
		if (s->auto_done || clm_get_state(mmfsd_clm(s->d)) != CLM_ACTIVE)
			continue;
		pthread_mutex_unlock(&s->autow.lock);
		clear_stale_marks(s);
		automount(s);
		pthread_mutex_lock(&s->autow.lock);
		s->auto_done = true;
	}
	pthread_mutex_unlock(&s->autow.lock);
	return NULL;
}

void fssvc_event(fssvc *s, const struct clm_event *ev)
{
	if (!s || !s->started)
		return;
	if ((ev->type == CLM_EV_QUORUM_REGAINED && ev->node == mmfsd_node_number(s->d)) ||
	    ev->type == CLM_EV_FSMGR_CHANGED)
		mm_worker_kick(&s->autow);
}

/* ---- life cycle ----------------------------------------------------- */

int fssvc_create(mmfsd *d, fssvc **out)
{
	fssvc *s = calloc(1, sizeof(*s));

	if (!s)
		return MM_ENOMEM;
	s->d = d;
	snprintf(s->mounts_dir, sizeof(s->mounts_dir), "%s/mounts", mmfsd_get_paths(d)->state);
	pthread_mutex_init(&s->op_lock, NULL);
	pthread_mutex_init(&s->list_lock, NULL);
	mm_worker_init(&s->autow);
	*out = s;
	return MM_OK;
}

int fssvc_start(fssvc *s, char *err, size_t errsz)
{
	int rc;

	clean_dead_mounts(s);
	rc = mm_worker_start(&s->autow, "fsauto", auto_main, s);
	if (rc) {
		snprintf(err, errsz, "cannot start the fsauto thread");
		return rc;
	}
	s->started = true;
	mm_worker_kick(&s->autow);
	return MM_OK;
}

void fssvc_stop(fssvc *s)
{
	if (!s)
		return;
	if (s->started) {
		mm_worker_stop(&s->autow);
		s->started = false;
	}
	pthread_mutex_lock(&s->op_lock);
	while (s->mounts) {
		char err[512] = "";

		if (unmount_one(s, s->mounts, true, err, sizeof(err))) {
			/* a forced FUSE unmount does not fail; if it did, the
			 * mount is dropped from the list and left to the next
			 * start's cleanup rather than looping here */
			struct mount *m = s->mounts;

			mm_error(SUB, "%s: %s", m->device, err);
			pthread_mutex_lock(&s->list_lock);
			s->mounts = m->next;
			pthread_mutex_unlock(&s->list_lock);
		}
	}
	pthread_mutex_unlock(&s->op_lock);
}

void fssvc_destroy(fssvc *s)
{
	if (!s)
		return;
	fssvc_stop(s);
	mm_worker_destroy(&s->autow);
	pthread_mutex_destroy(&s->op_lock);
	pthread_mutex_destroy(&s->list_lock);
	free(s);
}
