/*
 * mmmount - mount file systems.
 *
 *   mmmount {Device | MountPoint | all} [-o MountOptions] [-a | -N {Node[,Node...] | NodeFile}]
 *
 * Without -a or -N: on this node. Each node's daemon mounts the file
 * system at its -T mount point (made if missing) through FUSE; options
 * ro, rw, atime, noatime, relatime, suid, nosuid, dev, nodev, exec,
 * noexec (mmfsd/fssvc.h). In this release a file system is mounted on
 * one node at a time: another node's mount is refused, naming the node
 * that has it. "all" mounts every file system not yet mounted.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libmount.h"
#include "common/err.h"

#define USAGE "usage: mmmount {Device | MountPoint | all} [-o MountOptions] [-a | -N {Node[,Node...] | NodeFile}]\n"

int main(int argc, char **argv)
{
	struct cmd_env e;
	const char *spec = NULL, *opts = "", **devs = NULL;
	json_object *ls = NULL, *extra;
	static const int ignore_all[] = {MM_EEXIST, 0};
	char ts[64], ropts[600] = "";
	bool all = false;
	size_t n;
	int c, failed;

	while ((c = getopt(argc, argv, "aN:o:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'N': spec = optarg; break;
		case 'o': opts = optarg; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || (all && spec)) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (strchr(opts, ' ') || strchr(opts, '\'')) {
		fprintf(stderr, "mmmount: mount options may not contain spaces or quotes: %s\n", opts);
		return 2;
	}
	if (cmd_env_init(&e, "mmmount", true))
		return 1;
	if (!strcmp(argv[optind], "all") && !(ls = cmd_lsmount(&e))) {
		cmd_env_free(&e);
		return 1;
	}
	n = cmd_mount_devices(ls, argv[optind], &devs);
	cmd_timestamp(ts, sizeof(ts));
	printf("%s: mmmount: Mounting file systems ...\n", ts);
	fflush(stdout);
	extra = json_object_new_object();
	json_object_object_add(extra, "options", json_object_new_string(opts));
	if (opts[0])
		snprintf(ropts, sizeof(ropts), "-o %s", opts);
	failed = cmd_mount_request(&e, "mount", devs, n, extra, all, spec, "mmmount", ropts,
				   strcmp(argv[optind], "all") ? NULL : ignore_all);
	json_object_put(extra);
	json_object_put(ls);
	free(devs);
	cmd_env_free(&e);
	return failed ? 1 : 0;
}
