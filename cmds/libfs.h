/*
 * cmds/libfs.h - what mmlsfs, mmlsdisk and mmdf share: one "lsfs"
 * request to the local daemon (which reads each file system's descriptor
 * by majority and its maps: mmfsd/admin_fs.c), and the names of the
 * descriptor's enums as GPFS prints them.
 */
#ifndef MM_CMDS_LIBFS_H
#define MM_CMDS_LIBFS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "cmds/libcmd.h"

/*
 * The file systems named <device> ("all": every one) with their record
 * ("record"), descriptor and figures ("sgd", absent when they could not
 * be read: then "error" says why). *rep is the reply (json_object_put),
 * *fss its array. Prints the message and returns non-zero on failure.
 */
int cmd_fs_list(struct cmd_env *e, const char *device, json_object **rep, json_object **fss);
/* Every file system of <fss> that has no "sgd": its error printed.
 * Returns how many. */
int cmd_fs_errors(const struct cmd_env *e, json_object *fss);

/*
 * mmcrfs's and mmadddisk's stanza file <file> as a request's "disks":
 * each %nsd stanza's NSD name, with the usage, failureGroup and pool it
 * gives (which override the NSD's). Prints the message and returns
 * non-zero for a file that does not parse, has no stanza, or a stanza
 * without nsd=.
 */
int cmd_fs_stanza_disks(const struct cmd_env *e, const char *file, json_object *disks);
/* A reply with progress lines: prints "lines" to stdout, then on
 * failure the message to stderr, one line each (the daemon names every
 * refused NSD on a line). Returns the reply's rc. */
int cmd_fs_print_reply(const struct cmd_env *e, json_object *rep);

const char *cmd_fs_usage_name(int usage);	/* "dataAndMetadata", ... */
bool cmd_fs_holds_meta(int usage);
bool cmd_fs_holds_data(int usage);
const char *cmd_fs_status_name(int status);	/* "ready", ... */
const char *cmd_fs_avail_name(int avail);	/* "up", ... */
/* Member accessors of a reply object (0 / "" when absent). */
long long cmd_ji(json_object *o, const char *key);
const char *cmd_js(json_object *o, const char *key);

#endif
