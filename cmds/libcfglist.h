/*
 * cmds/libcfglist.h - mmlsconfig's data and its one formatter.
 *
 * The values come either from a daemon's "lsconfig" reply (the CCR: the
 * cluster-wide values and the per-node ones) or from a node's local copy
 * of the cluster definition (mmsdrfs.cfg: the values effective on that
 * node, shown as cluster-wide ones), and both print through
 * cmd_cfg_list_print(), so the output does not depend on where the data
 * came from.
 *
 * Return convention: 0 or a negative MM_E*.
 */
#ifndef MM_CMDS_LIBCFGLIST_H
#define MM_CMDS_LIBCFGLIST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

struct cmd_cfg_value {
	char node[256];		/* "" for a cluster-wide value */
	char name[64];
	char value[256];
};

struct cmd_cfg_list {
	char cluster[256];
	uint64_t id;
	size_t n;
	struct cmd_cfg_value *v;	/* malloc'd: cluster-wide values, then per-node
					 * ones grouped by node (reply order) */
};

/* From a daemon's lsconfig reply (see mmfsd/README.md); MM_EPROTO if it
 * is not one. <l> is filled; free with cmd_cfg_list_free. */
int cmd_cfg_list_from_reply(json_object *rep, struct cmd_cfg_list *l);
/* From a local cluster definition: its attributes as cluster-wide values. */
int cmd_cfg_list_from_def(const struct cfg_cluster *def, struct cmd_cfg_list *l);
void cmd_cfg_list_free(struct cmd_cfg_list *l);

/*
 * Print mmlsconfig output for <l> to <f>: everything when <only> is NULL
 * (cluster name and id, cluster-wide values in attribute table order with
 * autoload and cipherList always shown, "[node]" sections, the file
 * system list), else the one attribute <only> (its cluster-wide value or
 * default, then its per-node values). <parseable>: -Y lines, with the
 * HEADER line if <header>.
 */
void cmd_cfg_list_print(FILE *f, const struct cmd_cfg_list *l, const struct cfg_attr *only,
			bool parseable, bool header);

#endif
