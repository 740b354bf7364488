/*
 * mmdelfs - delete a file system.
 *
 *   mmdelfs Device [-p]
 *
 * Refused while the file system is mounted. The daemon zeroes the
 * descriptor slots of every disk (nothing mounts it afterwards), deletes
 * its token space, then in one CCR transaction its record and fsid claim,
 * freeing its NSDs (mmfsd/admin_fs.c). A disk that cannot be written
 * stops it, unless -p (the disk is permanently damaged): then it goes on
 * and says how many disks kept their descriptor. A record that mmcrfs
 * left "creating" is removed the same way. Exit 0: deleted; 1: refused or
 * failed (the message says what is left and what to run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "mmfsd/admin.h"

int main(int argc, char **argv)
{
	const char *device = NULL;
	bool p = false;
	struct cmd_env e;
	json_object *req, *rep = NULL, *lines;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p"))
			p = true;
		else if (argv[i][0] != '-' && !device)
			device = argv[i];
		else {
			fprintf(stderr, "usage: mmdelfs Device [-p]\n");
			return 2;
		}
	}
	if (!device) {
		fprintf(stderr, "usage: mmdelfs Device [-p]\n");
		return 2;
	}
	if (cmd_env_init(&e, "mmdelfs", true))
		return 1;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("delfs"));
	json_object_object_add(req, "device", json_object_new_string(device));
	json_object_object_add(req, "permanent", json_object_new_boolean(p));
	rc = cmd_admin_local(&e, req, 300000, &rep, NULL, 0);
	json_object_put(req);
	if (rc)
		return 1;
	rc = adm_get_int(rep, "rc", 1);
	if (json_object_object_get_ex(rep, "lines", &lines) && (rc == 0 || json_object_array_length(lines) > 0))
		for (size_t i = 0; rc == 0 && i < json_object_array_length(lines); i++)
			printf("%s\n", json_object_get_string(json_object_array_get_idx(lines, i)));
	fflush(stdout);
	if (rc) {
		char *msg = strdup(adm_get_str(rep, "msg", "failed")), *save = NULL;

		for (char *l = strtok_r(msg, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			cmd_errf(&e, "%s", l);
		free(msg);
	}
	json_object_put(rep);
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
