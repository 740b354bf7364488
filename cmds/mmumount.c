/*
 * mmumount - unmount file systems.
 *
 *   mmumount {Device | MountPoint | all} [-f] [-a | -N {Node[,Node...] | NodeFile}]
 *
 * Without -a or -N: on this node. A file system in use (open files, a
 * working directory in it) is refused unless -f, which aborts its
 * connection (processes in it get errors) and detaches it. "all" unmounts
 * every file system mounted on the nodes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libmount.h"
#include "common/err.h"

#define USAGE "usage: mmumount {Device | MountPoint | all} [-f] [-a | -N {Node[,Node...] | NodeFile}]\n"

int main(int argc, char **argv)
{
	struct cmd_env e;
	const char *spec = NULL, **devs = NULL;
	json_object *ls = NULL, *extra;
	static const int ignore_all[] = {MM_ENOENT, 0};
	bool all = false, force = false;
	char ts[64];
	size_t n;
	int c, failed;

	while ((c = getopt(argc, argv, "afN:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'f': force = true; break;
		case 'N': spec = optarg; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || (all && spec)) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (cmd_env_init(&e, "mmumount", true))
		return 1;
	if (!strcmp(argv[optind], "all") && !(ls = cmd_lsmount(&e))) {
		cmd_env_free(&e);
		return 1;
	}
	n = cmd_mount_devices(ls, argv[optind], &devs);
	cmd_timestamp(ts, sizeof(ts));
	printf("%s: mmumount: Unmounting file systems ...\n", ts);
	fflush(stdout);
	extra = json_object_new_object();
	json_object_object_add(extra, "force", json_object_new_boolean(force));
	failed = cmd_mount_request(&e, "umount", devs, n, extra, all, spec, "mmumount",
				   force ? "-f" : "", strcmp(argv[optind], "all") ? NULL : ignore_all);
	json_object_put(extra);
	json_object_put(ls);
	free(devs);
	cmd_env_free(&e);
	return failed ? 1 : 0;
}
