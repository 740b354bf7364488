/*
 * mmlsdisk - list the disks of a file system.
 *
 *   mmlsdisk Device [-L] [-Y]
 *
 * GPFS's columns: disk name, driver type (nsd), sector size (512),
 * failure group, holds metadata, holds data, status, availability,
 * storage pool; -L adds the disk id (its index in the descriptor, from 1)
 * and remarks ("desc" on the disks holding a descriptor copy), then the
 * descriptor quorum: number of quorum disks (descriptor copies), read and
 * write quorum values (a majority of them). From the descriptor the
 * daemon reads by majority from the disks.
 */
#include <stdio.h>
#include <string.h>

#include "cmds/libfs.h"

int main(int argc, char **argv)
{
	const char *device = NULL;
	bool L = false, Y = false;
	struct cmd_env e;
	json_object *rep, *fss, *f, *s, *disks;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-L"))
			L = true;
		else if (!strcmp(argv[i], "-Y"))
			Y = true;
		else if (argv[i][0] != '-' && !device)
			device = argv[i];
		else {
			fprintf(stderr, "usage: mmlsdisk Device [-L] [-Y]\n");
			return 2;
		}
	}
	if (!device || !strcmp(device, "all")) {
		fprintf(stderr, "usage: mmlsdisk Device [-L] [-Y]\n");
		return 2;
	}
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if (cmd_env_init(&e, "mmlsdisk", true) || cmd_fs_list(&e, device, &rep, &fss))
		return 1;
	if (cmd_fs_errors(&e, fss) || json_object_array_length(fss) != 1) {
		json_object_put(rep);
		return 1;
	}
	f = json_object_array_get_idx(fss, 0);
	json_object_object_get_ex(f, "sgd", &s);
	json_object_object_get_ex(s, "disks", &disks);
	if (Y)
		printf("mmlsdisk::HEADER:version:reserved:reserved:nsdName:driverType:sectorSize:failureGroup:"
		       "metadata:data:status:availability:diskID:storagePool:remarks:\n");
	else if (L)
		printf("disk         driver   sector     failure holds    holds                            "
		       "        storage\n"
		       "name         type       size       group metadata data  status        availability "
		       "disk id pool         remarks\n"
		       "------------ -------- ------ ----------- -------- ----- ------------- ------------ "
		       "------- ------------ ---------\n");
	else
		printf("disk         driver   sector     failure holds    holds                            storage\n"
		       "name         type       size       group metadata data  status        availability pool\n"
		       "------------ -------- ------ ----------- -------- ----- ------------- ------------ ------------\n");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		json_object *d = json_object_array_get_idx(disks, i);
		int u = (int)cmd_ji(d, "usage");
		const char *meta = cmd_fs_holds_meta(u) ? "yes" : "no", *data = cmd_fs_holds_data(u) ? "yes" : "no";
		const char *st = cmd_fs_status_name((int)cmd_ji(d, "status"));
		const char *av = cmd_fs_avail_name((int)cmd_ji(d, "availability"));
		bool desc = json_object_get_boolean(json_object_object_get(d, "desc"));
		char fg[16], id[16];

		snprintf(fg, sizeof(fg), "%lld", cmd_ji(d, "failureGroup"));
		snprintf(id, sizeof(id), "%zu", i + 1);
		if (Y) {
			printf("mmlsdisk::0:1:::");
			cmd_yfield(cmd_js(d, "name"));
			cmd_yfield("nsd");
			cmd_yfield("512");
			cmd_yfield(fg);
			cmd_yfield(meta);
			cmd_yfield(data);
			cmd_yfield(st);
			cmd_yfield(av);
			cmd_yfield(id);
			cmd_yfield(cmd_js(d, "pool"));
			cmd_yfield(desc ? "desc" : "");
			putchar('\n');
		} else if (L) {
			printf("%-12s nsd         512 %11s %-8s %-5s %-13s %-12s %7s %-12s %s\n", cmd_js(d, "name"),
			       fg, meta, data, st, av, id, cmd_js(d, "pool"), desc ? "desc" : "");
		} else {
			printf("%-12s nsd         512 %11s %-8s %-5s %-13s %-12s %s\n", cmd_js(d, "name"), fg, meta,
			       data, st, av, cmd_js(d, "pool"));
		}
	}
	if (L && !Y) {
		long long q = cmd_ji(s, "descQuorum");

		printf("Number of quorum disks: %lld\n", q);
		printf("Read quorum value:      %lld\n", q / 2 + 1);
		printf("Write quorum value:     %lld\n", q / 2 + 1);
	}
	json_object_put(rep);
	cmd_env_free(&e);
	return 0;
}
