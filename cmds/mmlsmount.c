/*
 * mmlsmount - which nodes have a file system mounted.
 *
 *   mmlsmount {Device | all} [-L] [-Y]
 *
 * As GPFS prints it: "File system fs1 is mounted on 1 nodes." (with -L a
 * colon and one line per node: address, name, cluster), or "File system
 * fs1 is not mounted."; -Y: one line per mount (device, node number,
 * name, address, mount point, options). From the mount marks in the CCR
 * (mmfsd/fssvc.h); any daemon answers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libmount.h"
#include "common/err.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmlsmount {Device | all} [-L] [-Y]\n"

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *ls, *mounts, *fss;
	const char **devs = NULL;
	bool longf = false, yfmt = false;
	const char *name;
	size_t n;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "LYh")) != -1) {
		switch (c) {
		case 'L': longf = true; break;
		case 'Y': yfmt = true; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fputs(USAGE, stderr);
		return 2;
	}
	name = argv[optind];
	if (!strncmp(name, "/dev/", 5))
		name += 5;
	if (cmd_env_init(&e, "mmlsmount", true))
		return 1;
	if (!(ls = cmd_lsmount(&e))) {
		cmd_env_free(&e);
		return 1;
	}
	json_object_object_get_ex(ls, "mounts", &mounts);
	json_object_object_get_ex(ls, "filesystems", &fss);
	n = cmd_mount_devices(ls, name, &devs);
	if (strcmp(name, "all") != 0) {
		bool known = false;

		for (size_t i = 0; fss && i < json_object_array_length(fss); i++)
			known |= !strcmp(adm_get_str(json_object_array_get_idx(fss, i), "device", ""), name);
		if (!known) {
			cmd_errf(&e, "File system %s is not known to the GPFS cluster.", name);
			rc = 1;
			n = 0;
		}
	}
	if (yfmt && n)
		printf("mmlsmount::HEADER:version:reserved:reserved:deviceName:nodeNumber:nodeName:"
		       "nodeIP:mountPoint:options:\n");
	for (size_t k = 0; k < n; k++) {
		size_t count = 0;

		for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++)
			count += !strcmp(adm_get_str(json_object_array_get_idx(mounts, i), "device", ""),
					 devs[k]);
		if (!yfmt) {
			if (count == 0)
				printf("File system %s is not mounted.\n", devs[k]);
			else
				printf("File system %s is mounted on %zu nodes%s\n", devs[k], count,
				       longf ? ":" : ".");
		}
		for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++) {
			json_object *m = json_object_array_get_idx(mounts, i);

			if (strcmp(adm_get_str(m, "device", ""), devs[k]))
				continue;
			if (yfmt) {
				char num[32];

				printf("mmlsmount::0:1:::");
				cmd_yfield(devs[k]);
				snprintf(num, sizeof(num), "%d", adm_get_int(m, "node", 0));
				cmd_yfield(num);
				cmd_yfield(adm_get_str(m, "name", ""));
				cmd_yfield(adm_get_str(m, "ip", ""));
				cmd_yfield(adm_get_str(m, "mountpoint", ""));
				cmd_yfield(adm_get_str(m, "options", ""));
				printf("\n");
			} else if (longf) {
				printf("  %-15s %-24s %s\n", adm_get_str(m, "ip", ""),
				       adm_get_str(m, "name", ""), adm_get_str(ls, "cluster", ""));
			}
		}
	}
	if (n == 0 && !strcmp(name, "all")) {
		printf("mmlsmount: No file systems were found.\n");
	}
	free(devs);
	json_object_put(ls);
	cmd_env_free(&e);
	return rc;
}
