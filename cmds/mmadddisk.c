/*
 * mmadddisk - add disks to a file system, mounted or not.
 *
 *   mmadddisk Device -F StanzaFile [-v yes|no]
 *
 * The stanza file is mmcrnsd's (%nsd stanzas): the NSDs must exist and
 * be free; usage, failureGroup and pool given in a stanza override the
 * NSD's. -v no skips the check that no disk holds a file system
 * descriptor. The command sends one "adddisk" request; the daemon
 * checks the NSDs, claims them, and has the stripe group take them
 * (mmfsd/admin_adddisk.c): where it is mounted on this node, new blocks
 * go to the new disks at once; where it is mounted nowhere, the daemon
 * mounts it without FUSE for the time of the command. When it is mounted
 * on another node, the request goes to that node's daemon, on this
 * machine or through the remote shell (cmd_admin_node); if that cannot
 * be reached, the message names the node to run mmadddisk on. -r (rebalance) and -a (asynchronous) are GPFS's and not
 * supported. Exit 0: added; 1: refused or failed (the message says what
 * state is left); 2: usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libfs.h"
#include "common/err.h"
#include "fs/format.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmadddisk Device -F StanzaFile [-v {yes | no}]\n"

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "mmadddisk: %s\n", why);
	fputs(USAGE, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_object *req = json_object_new_object(), *disks = json_object_new_array(), *rep = NULL;
	const char *file = NULL, *device, *other;
	struct cmd_env e;
	int c, rc;

	json_object_object_add(req, "cmd", json_object_new_string("adddisk"));
	while ((c = getopt_long(argc, argv, "F:v:raN:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': file = optarg; break;
		case 'v':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return usage("-v takes yes or no");
			json_object_object_add(req, "verify", json_object_new_boolean(!strcmp(optarg, "yes")));
			break;
		case 'r':
			return usage("-r (rebalance) is not supported: new blocks go to the new disks, "
				     "existing ones stay where they are");
		case 'a':
			return usage("-a is not supported: mmadddisk returns when the disks are added");
		case 'N':
			return usage("-N is not supported: the node that has the file system mounted "
				     "(or this one) formats the new disks");
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			return usage(NULL);
		}
	}
	if (optind != argc - 1)
		return usage(optind == argc ? "no Device given" : "one Device only");
	if (!file)
		return usage("-F StanzaFile is required");
	device = argv[optind];
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if (!fs_simple_name(device, FS_DEVICE_MAX))
		return usage("Device: 1 to 63 letters, digits, '.', '_' or '-'");
	json_object_object_add(req, "device", json_object_new_string(device));
	if (cmd_env_init(&e, "mmadddisk", true))
		return 1;
	if (cmd_fs_stanza_disks(&e, file, disks)) {
		json_object_put(disks);
		cmd_env_free(&e);
		return 1;
	}
	json_object_object_add(req, "disks", disks);
	rc = cmd_admin_local(&e, req, 900000, &rep, NULL, 0);
	if (rc)
		goto fail;
	other = adm_get_str(rep, "mountedOn", "");
	if (adm_get_int(rep, "rc", 1) == MM_EBUSY && other[0]) {
		const struct cfg_node *n = cfg_cluster_node(&e.def, other);

		/* mounted on another node: its daemon adds them */
		if (n && (!cmd_addr_is_local(n->ip) || cmd_daemon_pid(&e, n->name) > 0)) {
			fprintf(stderr, "mmadddisk: %s is mounted on node %s: the disks are added there\n",
				device, n->name);
			json_object_put(rep);
			rep = NULL;
			if ((rc = cmd_admin_node(&e, n, req, 900000, &rep))) {
				cmd_errf(&e, "cannot reach the daemon of node %s: %s", n->name,
					 mm_strerror(rc));
				goto fail;
			}
		}
	}
	rc = cmd_fs_print_reply(&e, rep);
	json_object_put(rep);
	json_object_put(req);
	cmd_env_free(&e);
	return rc ? 1 : 0;
fail:
	json_object_put(req);
	cmd_env_free(&e);
	return 1;
}
