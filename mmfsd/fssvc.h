/*
 * mmfsd/fssvc.h - the mount service: mmmount / mmumount of a file system
 * by name on this node, mounts at start (-A yes), unmounts at shutdown,
 * and the cleanup of mounts a killed daemon left behind (2026-12-06,
 * issue 12; mmfsd/README.md "The mount service").
 *
 * A mount: the file system's CCR record (/mmfs/fs/<device>, fsrec.h),
 * then this node's mark /mmfs/mount/<device> created in the CCR (one
 * create-if-absent transaction: in this issue one node mounts a file
 * system at a time, and a second node's mount is refused naming the node
 * that holds the mark), the token space's manager appointed, the disks
 * opened (fsdio.h), fs_sg_mount with the daemon's pagepool and toknet,
 * the mount point made if missing, then the FUSE session (fe.h). Each
 * step is undone if a later one fails. A file <state>/mounts/<device>
 * holds the mount point while mounted, so the next start of this node's
 * daemon finds a mount it left behind (killed: the kernel mount stays,
 * its connection dead) and detaches it before anything mounts.
 *
 * Threads: mount and unmount run on the caller's thread (admin) one at a
 * time; the "fsauto" worker mounts the -A yes file systems once the node
 * is active, and removes this node's stale marks first.
 *
 * Lock order: fssvc.op_lock (one mount, unmount or mmadddisk at a time, held across
 * the CCR, fs/ and FUSE calls) -> fssvc.list_lock (the mount list, a
 * leaf). fssvc.auto.lock (the worker's) is never held with either.
 *
 * Return convention: MM_OK or a negative MM_E* with a message for the
 * operator in <err>.
 */
#ifndef MM_MMFSD_FSSVC_H
#define MM_MMFSD_FSSVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"

struct mmfsd;
struct clm_event;
typedef struct fssvc fssvc;

#define FSSVC_MARK_PREFIX "/mmfs/mount/"
/* The options of the mark mmfsck takes while it checks a file system:
 * a mount anywhere is refused meanwhile, naming the node. */
#define FSSVC_FSCK_OPTS "mmfsck"

/* mmmount -o: ro, rw, atime (strictatime), noatime, relatime,
 * nodiratime, diratime, suid, nosuid, dev, nodev, exec, noexec
 * (comma-separated; later ones win). */
struct fssvc_opts {
	bool readonly;
	enum fs_atime atime;
	bool nodiratime;
	bool nosuid, nodev, noexec;
};
/* Parse <s> (NULL or "": the defaults: rw, relatime, suid, dev, exec);
 * MM_EINVAL naming the first unknown option. Pure. */
int fssvc_parse_opts(const char *s, struct fssvc_opts *o, char *err, size_t errsz);
/* The canonical text of <o> ("rw,relatime,suid,dev,exec"). */
void fssvc_format_opts(const struct fssvc_opts *o, char *buf, size_t sz);

int fssvc_create(struct mmfsd *d, fssvc **out);
/* Detach the mounts a previous run of this daemon left (before anything
 * can mount), then start the fsauto worker. */
int fssvc_start(fssvc *s, char *err, size_t errsz);
/* Force-unmount everything (mmshutdown unmounts first), the marks
 * cleared while this node is still a member. */
void fssvc_stop(fssvc *s);
void fssvc_destroy(fssvc *s);
/* Cluster events: becoming active or a new manager appointment wake the
 * fsauto worker. */
void fssvc_event(fssvc *s, const struct clm_event *ev);

/* Mount <device> ("fs1", "/dev/fs1" or its mount point) with <opts>. */
int fssvc_mount(fssvc *s, const char *device, const char *opts, char *err, size_t errsz);
/* MM_ENOENT if it is not mounted here; MM_EBUSY if in use (no <force>). */
int fssvc_unmount(fssvc *s, const char *device, bool force, char *err, size_t errsz);

/*
 * mmadddisk's part on this node (mmfsd/admin_adddisk.c checks and claims
 * the NSDs first, and zeroes their descriptor slots). Under op_lock:
 *   - <a->rec->device> mounted here (mmmount): its stripe group takes the
 *     disks; a new fsdio over its descriptor's disks and the new ones (in
 *     that order) replaces the mount's, and the old one stays open until
 *     unmount (fs_sg_add_disks switches to the new one while calls may
 *     still be using the old);
 *   - mounted on another node: MM_EBUSY, a->other_node and <err> name it;
 *   - mounted nowhere: this node's mount mark is taken (so no node mounts
 *     meanwhile; mmlsmount shows it mounted here for that time), the
 *     stripe group mounted in the daemon without FUSE, the disks added,
 *     the stripe group unmounted and the mark cleared.
 * After fs_sg_add_disks succeeded (a->added), a->done (may be NULL) runs
 * with the new descriptor, still under op_lock and before any unmount:
 * the record's update. Its failure is returned (a->added stays true).
 * Before that, a failure leaves the file system as it was (fs.h).
 */
struct fsrec;
struct fssvc_add {
	const struct fsrec *rec;		/* the record (unmounted: its disks are the
						 * descriptor's, in order) */
	const struct fs_mkfs_disk *disk;	/* the new disks */
	uint32_t n;
	int (*done)(void *arg, const struct fs_sgd *sgd, char *err, size_t errsz);
	void *arg;
	/* out */
	bool added, was_mounted;
	uint32_t other_node;			/* MM_EBUSY: the node that has it mounted */
	char other_name[256];			/* its name */
};
int fssvc_add_disks(fssvc *s, struct fssvc_add *a, char *err, size_t errsz);
/* A copy of the descriptor of <device>'s stripe group if it is mounted
 * on this node (MM_ENOENT if not). */
int fssvc_sgd(fssvc *s, const char *device, struct fs_sgd *out);
/* mmdf of <device> mounted on this node: fs_sg_df of its stripe group
 * (the figures of the maps in use, and the descriptor they are of, into
 * <sgd>, may be NULL). MM_ENOENT (and <err>) if it is not mounted here;
 * another MM_E* with <err> if the maps could not be read. */
int fssvc_df(fssvc *s, const char *device, struct fs_df *out, struct fs_sgd *sgd, char *err,
	     size_t errsz);

/* This node's mounts. */
struct fssvc_mount_info {
	char device[FS_DEVICE_MAX + 1];
	char mountpoint[256];
	char opts[128];
	uint64_t requests;		/* FUSE requests served */
};
/* *out malloc'd. */
int fssvc_list(fssvc *s, struct fssvc_mount_info **out, size_t *n);

/* The marks in the CCR: who has what mounted. */
struct fssvc_mark {
	char device[FS_DEVICE_MAX + 1];
	uint32_t node;
	char mountpoint[256];
	char opts[128];
	int64_t mod_rev;
};
/* Every mark (undecodable ones logged and skipped); *out malloc'd. */
int fssvc_marks(struct mmfsd *d, struct fssvc_mark **out, size_t *n);
/* Is <device> mounted on some node (a mark exists)? False if the CCR
 * cannot be read. For mmdelfs. */
bool fssvc_mounted_anywhere(struct mmfsd *d, const char *device);

/* mmfsck: take <device>'s mark for this node (create-if-absent), so no
 * node mounts it while the check runs. MM_EBUSY with <err> naming the
 * node that has it mounted or checked; a stale fsck mark of this node
 * (a daemon killed mid-check) is replaced. Release deletes it. */
int fssvc_fsck_claim(struct mmfsd *d, const char *device, char *err, size_t errsz);
void fssvc_fsck_release(struct mmfsd *d, const char *device);

/* JSON text of a mark / its parse (pure, unit-tested). */
int fssvc_mark_encode(const struct fssvc_mark *m, char **out);
int fssvc_mark_decode(const char *text, size_t len, struct fssvc_mark *m, char *err, size_t errsz);

#endif
