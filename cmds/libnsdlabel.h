/*
 * cmds/libnsdlabel.h - reading and writing NSD descriptors for mmcrnsd and
 * mmdelnsd, here or on the NSD's server.
 *
 * As in GPFS, a disk with servers is prepared on its first server: when
 * that node is another host, the descriptor is probed, written and cleared
 * there through the cluster's remote shell (running `mmcrnsd --label-op`
 * on it), so mmcrnsd works from any node, including ones that do not see
 * the device. Disks without servers, and servers on this host, are
 * handled here.
 *
 * Return convention: 0 or MM_E*, <err> for the operator.
 */
#ifndef MM_CMDS_LIBNSDLABEL_H
#define MM_CMDS_LIBNSDLABEL_H

#include <stddef.h>
#include <stdint.h>

#include "cmds/libcmd.h"
#include "nsd/desc.h"
#include "nsd/stanza.h"

/* The node to work on for a disk with these servers; NULL: this host. */
const struct cfg_node *cmd_label_host(struct cmd_env *e, const char (*servers)[256], int nservers);

struct cmd_probe {
	int size_rc;		/* of nsd_label_size: the device exists and is usable */
	uint64_t size;
	int rc;			/* of nsd_label_read: MM_OK, MM_ENOENT (blank), damaged... */
	struct nsd_desc d;
	char err[600];
};

int cmd_label_probe(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    struct cmd_probe *p);
/* Write <d> (disk_size filled in here or there). */
int cmd_label_write(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    const struct nsd_desc *d, char *err, size_t errsz);
/* Clear the descriptor if it still holds NSD <id>. MM_ESTATE (left alone,
 * nothing of this NSD is there): the device is blank, damaged or holds
 * another NSD; MM_ENOENT: the device is absent; other MM_E*: it could not
 * be read or cleared. */
int cmd_label_clear(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    uint64_t id, char *err, size_t errsz);

/* The remote side: `mmcrnsd --label-op probe|write|clear ARGS...`. Prints
 * one "label-op:" result line; returns the exit status. */
int cmd_label_serve(struct cmd_env *e, int argc, char **argv);

#endif
