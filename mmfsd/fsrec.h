/*
 * mmfsd/fsrec.h - a file system as the cluster knows it: its record in
 * the CCR, /mmfs/fs/<device>, written by mmcrfs (the daemon's crfs) and
 * read by mmlsfs, mmlsdisk, mmdf, mmdelfs and, later, mount.
 * 2026-12 (issue 12).
 *
 * The descriptor on the disks (fs/format.h, struct fs_sgd) is the truth
 * about the stripe group; the record says where to find it (the NSDs in
 * descriptor order: disk index i of the descriptor is disks[i]), which
 * token space is its (fsid), whether it is complete, and the few options
 * mmlsfs shows that the descriptor does not hold (-n as given).
 *
 * Stored as one JSON object, versioned ("version": FSREC_VERSION); the
 * decoder is strict, because the CCR is shared input: every field must be
 * present with its type and range, no other field may be, names and ids
 * are unique, nothing but white space may follow the object. A record
 * of a newer version is MM_ENOTSUP (naming both
 * versions), anything else wrong MM_EPROTO; <err> says what. Encoding is
 * canonical: decode(encode(r)) == r, and encode(decode(t)) is the text
 * the encoder writes.
 *
 * Keys beside it: /mmfs/fsid/<fsid> (decimal) holds the device name: the
 * claim of an fsid, created in the same transaction as the record, so two
 * file systems never get one fsid. NSD records (nsd/record.h) name the
 * file system they belong to in "fs".
 *
 * States: "creating" from mmcrfs's first transaction (the NSDs are
 * claimed, the disks are being formatted) to its last; "ready" after. A
 * record left "creating" (a daemon died during mmcrfs) is removed by
 * mmdelfs. Return convention: MM_OK or a negative MM_E* (common/err.h).
 */
#ifndef MM_MMFSD_FSREC_H
#define MM_MMFSD_FSREC_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"
#include "nsd/desc.h"

#define FSREC_CCR_PREFIX "/mmfs/fs/"
#define FSREC_FSID_PREFIX "/mmfs/fsid/"
#define FSREC_VERSION 1u
#define FSREC_MAX_TEXT (1u << 20)

enum fsrec_state {
	FSREC_CREATING = 0,
	FSREC_READY = 1,
};

struct fsrec_disk {
	char name[NSD_NAME_MAX + 1];
	uint64_t id;		/* NSD id, != 0 */
};

struct fsrec {
	char device[FS_DEVICE_MAX + 1];	/* fs_simple_name */
	uint32_t fsid;			/* 1 .. FS_FSID_MAX */
	enum fsrec_state state;
	char mount_point[256];		/* "/..." printable ASCII */
	char automount[16];		/* "yes" "no" "automount" */
	uint32_t num_nodes;		/* -n, 1 .. FS_MKFS_MAX_NODES */
	uint64_t created;		/* seconds since the epoch */
	char created_on[256];		/* node that formatted it, non-empty */
	uint32_t ndisks;		/* 1 .. FS_MAX_DISKS */
	struct fsrec_disk disk[FS_MAX_DISKS];	/* descriptor order */
};

/* "creating" / "ready". */
const char *fsrec_state_name(enum fsrec_state s);

/* JSON text of <r> (not checked: encode only what fsrec_check accepts);
 * *out malloc'd. */
int fsrec_encode(const struct fsrec *r, char **out);
/* Is <r> a record fsrec_decode accepts? MM_OK or MM_EPROTO, <err>. */
int fsrec_check(const struct fsrec *r, char *err, size_t errsz);
/* Parse <len> bytes of <text> (not NUL-terminated) into <r> (zeroed
 * first, so two decodes of one record compare equal with memcmp). */
int fsrec_decode(const char *text, size_t len, struct fsrec *r, char *err, size_t errsz);

/* The CCR keys of a record and of an fsid claim. */
void fsrec_key(const char *device, char *buf, size_t sz);
void fsrec_fsid_key(uint32_t fsid, char *buf, size_t sz);

/*
 * The lowest fsid in 1 .. FS_FSID_MAX not in <used> (<n> entries, any
 * order, 0s ignored); 0 if all are taken. Pure: unit-tested.
 */
uint32_t fsrec_lowest_free(const uint32_t *used, size_t n);

#endif
