/*
 * mmfsd/admin_int.h - shared by the admin command handlers (admin_*.c);
 * not for other modules.
 */
#ifndef MM_MMFSD_ADMIN_INT_H
#define MM_MMFSD_ADMIN_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmfsd/daemon.h"
#include "nsd/stanza.h"

/* Set "rc" (and "msg" when rc != 0) in <rep>. */
void adm_set_rc(json_object *rep, int rc, const char *msg);
/* False (and an error in <rep>) unless this node is active. */
bool adm_require_active(mmfsd *d, json_object *rep, const char *prog);
/* Strings of array <key> of <req>; *out malloc'd (pointers into req). */
size_t adm_str_array(json_object *req, const char *key, const char ***out);

/* admin_nsd.c */
struct nsd_record;
/* All NSD records of the CCR; *recs malloc'd, mod revisions in *revs
 * (<revs> may be NULL). Undecodable records are logged and skipped. */
int adm_nsd_load(mmfsd *d, struct nsd_record **recs, int64_t **revs, size_t *n, char *err,
		 size_t errsz);
void adm_cmd_crnsd(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_lsnsd(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_delnsd(mmfsd *d, json_object *req, json_object *rep);

/* admin_fs.c: mmcrfs, mmlsfs / mmlsdisk / mmdf, mmdelfs */
void adm_cmd_crfs(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_lsfs(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_delfs(mmfsd *d, json_object *req, json_object *rep);
/* The CCR record of <device> and its mod revision (<rev> may be NULL):
 * MM_ENOENT ("file system X does not exist" in <err>) if none. */
struct fsrec;
int adm_fs_load(mmfsd *d, const char *device, struct fsrec *r, int64_t *rev, char *err, size_t errsz);
/* fsdio over NSDs <ids> (<names> for messages) in that order,
 * rescanning the NSD table first if one is unknown to it; <err> on
 * failure. */
struct fsdio;
int adm_nsds_open(mmfsd *d, const uint64_t *ids, const char *const *names, uint32_t n,
		  struct fsdio **out, char *err, size_t errsz);
/* The same over the record's NSDs in descriptor order; NULL with <err>
 * on failure. */
struct fsdio *adm_fs_open_disks(mmfsd *d, const struct fsrec *r, char *err, size_t errsz);
/* Is file system <device> mounted on any node? The seam for mounts:
 * false until they exist (mmdelfs refuses a mounted file system). */
bool adm_fs_is_mounted(mmfsd *d, const char *device);
/* Append a line (a '\n' before it unless <buf> is empty) to <buf>. */
void adm_add_msg(char *buf, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An NSD usage as a descriptor's (enum fs_usage); MM_EINVAL for one a
 * file system cannot hold. */
int adm_fs_usage_of(enum nsd_usage u, uint8_t *out);
/* mmcrfs's and mmadddisk's check of <n> new disks, disk i being disk i
 * of <f>: each answers (its label read through the NSD client gives
 * disk[i].bytes) and, with <verify>, holds no file system descriptor.
 * Every refusal is appended to <err> (adm_add_msg), naming the NSD. */
struct fs_mkfs_disk;
int adm_fs_probe(mmfsd *d, struct fsdio *f, struct fs_mkfs_disk *disk, uint32_t n, bool verify,
		 char *err, size_t errsz);
/* Zero both descriptor slots on disks 0 .. <ndisks>-1 of <io> (so
 * nothing mounts a file system from them); with <tolerate>, go on past a
 * disk that fails and count it in *failed. <err> names the first failure. */
int adm_fs_clear_desc(struct fsdio *io, uint32_t ndisks, bool tolerate, unsigned *failed,
		      char *err, size_t errsz);

/* admin_adddisk.c: mmadddisk */
void adm_cmd_adddisk(mmfsd *d, json_object *req, json_object *rep);

/* admin_fsck.c: mmfsck */
void adm_cmd_fsck(mmfsd *d, json_object *req, json_object *rep);
/* Does an mmfsck of <device> run in this daemon now? (The mount service
 * refuses a mount meanwhile.) */
bool adm_fsck_running(const char *device);

/* admin_mgr.c */
void adm_cmd_lsmgr(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_chmgr(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_tokspace(mmfsd *d, json_object *req, json_object *rep);

/* admin_mount.c */
void adm_cmd_mount(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_umount(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_lsmount(mmfsd *d, json_object *req, json_object *rep);

/* admin_expel.c */
void adm_cmd_expel(mmfsd *d, json_object *req, json_object *rep);
/* admin_tok.c: token test commands (tokens.sh) */
void adm_cmd_tokstorm(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_tokhold(mmfsd *d, json_object *req, json_object *rep);
/* End this node's storm and give back its held tokens: after the last
 * admin command, before the token service stops. */
void adm_tok_shutdown(mmfsd *d);

/* admin_nsdio.c */
void adm_cmd_nsddiscover(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_nsdio(mmfsd *d, json_object *req, json_object *rep);
void adm_cmd_nsdfault(mmfsd *d, json_object *req, json_object *rep);
/* Text of mmdiag --nsd, malloc'd (NULL: out of memory). */
char *adm_diag_nsd(mmfsd *d);

/* admin_tokdiag.c: texts of mmdiag --tokenmgr and --tokens, malloc'd
 * (NULL: out of memory); the token lines of --waiters (older than
 * <min_ms>) appended to <t>. */
struct mm_sb;
char *adm_diag_tokenmgr(mmfsd *d);
char *adm_diag_tokens(mmfsd *d);
void adm_diag_tok_waiters(mmfsd *d, uint64_t min_ms, struct mm_sb *t);

#endif
