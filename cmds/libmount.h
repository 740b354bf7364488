/*
 * cmds/libmount.h - what mmmount, mmumount and mmlsmount share: the file
 * systems a name stands for ("all" or one), and one request per node
 * (-a / -N: local daemons directly, other machines through the remote
 * shell running the same command with -N; neither: this node's daemon).
 */
#ifndef MM_CMDS_LIBMOUNT_H
#define MM_CMDS_LIBMOUNT_H

#include <json-c/json.h>
#include <stdbool.h>

#include "cmds/libcmd.h"

/* The daemon's lsmount reply (any daemon answers: read-only); NULL with
 * the message printed if none does. */
json_object *cmd_lsmount(struct cmd_env *e);
/* Device names of <name> ("all": every file system of <ls>; one name is
 * taken as given, the daemon checks it); *out malloc'd, pointing into
 * <ls> or at <name>. */
size_t cmd_mount_devices(json_object *ls, const char *name, const char ***out);

/*
 * Send {"cmd": <cmd>, "device": each of <devs>, <extra> members} to the
 * daemon of every selected node. On another machine the command
 * "<remote> <device> <remote_opts> -N <node>" runs instead. A reply whose rc
 * is in <ignore> (0-terminated, e.g. MM_EEXIST for "mount all") is not a
 * failure. Messages name the node when there is more than one. Returns
 * the number of failures.
 */
int cmd_mount_request(struct cmd_env *e, const char *cmd, const char *const *devs, size_t ndevs,
		      json_object *extra, bool all, const char *spec, const char *remote,
		      const char *remote_opts, const int *ignore);

#endif
