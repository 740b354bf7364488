/*
 * mmlsnsd - list Network Shared Disks.
 *
 *   mmlsnsd [-F] [-L | -m | -X] [-Y]
 *
 * Default: file system, disk name, NSD servers. -L adds the NSD volume id;
 * -m maps each NSD to its device and the nodes that serve it; -X adds the
 * device type. -F lists free disks only (not in a file system).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"
#include "nsd/record.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct nsd_record *)a)->name, ((const struct nsd_record *)b)->name);
}

static const char *devtype(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return "-";
	return S_ISBLK(st.st_mode) ? "generic" : S_ISREG(st.st_mode) ? "file" : "-";
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL, *arr;
	struct nsd_record *r;
	size_t n = 0, cnt;
	bool L = false, m = false, X = false, Y = false, F = false;
	int c, rc;

	while ((c = getopt(argc, argv, "FLmMXYh")) != -1) {
		switch (c) {
		case 'F': F = true; break;
		case 'L': L = true; break;
		case 'm': case 'M': m = true; break;
		case 'X': X = true; break;
		case 'Y': Y = true; break;
		default:
			fprintf(stderr, "usage: mmlsnsd [-F] [-L | -m | -X] [-Y]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (cmd_env_init(&e, "mmlsnsd", true))
		return 1;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("lsnsd"));
	rc = cmd_request_readonly(&e, req, 10000, &rep);
	if (rc)
		return 1;
	json_object_object_get_ex(rep, "records", &arr);
	cnt = arr ? json_object_array_length(arr) : 0;
	r = calloc(cnt + 1, sizeof(*r));
	for (size_t i = 0; r && i < cnt; i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(arr, i));
		char err[256];

		if (nsd_record_decode(t, strlen(t), &r[n], err, sizeof(err)) == 0 && (!F || !r[n].fs[0]))
			n++;
	}
	qsort(r, n, sizeof(*r), by_name);
	if (Y) {
		printf("mmlsnsd::HEADER:version:reserved:reserved:fileSystem:diskName:volumeId:device:"
		       "servers:usage:failureGroup:pool:\n");
		for (size_t i = 0; i < n; i++) {
			char id[32], sv[NSD_MAX_SERVERS * 257] = "";

			nsd_id_format(r[i].id, id, sizeof(id));
			for (int k = 0; k < r[i].nservers; k++)
				strcat(strcat(sv, k ? ";" : ""), r[i].servers[k]);
			printf("mmlsnsd::0:1:::%s:%s:%s:%s:%s:%s:%d:%s:\n", r[i].fs, r[i].name, id,
			       r[i].device, sv, nsd_usage_name(r[i].usage), r[i].failure_group, r[i].pool);
		}
	} else if (m || X) {
		printf("\n %-12s %-18s %-24s %s%-20s %s\n", "Disk name", "NSD volume ID", "Device",
		       X ? "Devtype  " : "", "Node name", "Remarks");
		printf("------------------------------------------------------------------------------------------\n");
		for (size_t i = 0; i < n; i++) {
			char id[32];

			nsd_id_format(r[i].id, id, sizeof(id));
			char dt[16] = "";

			if (X)
				snprintf(dt, sizeof(dt), "%-9s", devtype(r[i].device));
			if (r[i].nservers == 0)
				printf(" %-12s %-18s %-24s %s%-20s %s\n", r[i].name, id, r[i].device, dt,
				       "(any node)", "directly attached");
			for (int k = 0; k < r[i].nservers; k++)
				printf(" %-12s %-18s %-24s %s%-20s %s\n", r[i].name, id, r[i].device, dt,
				       r[i].servers[k], "server node");
		}
	} else {
		printf("\n %-13s %-12s %s%s\n", "File system", "Disk name", L ? "NSD volume ID      " : "",
		       "NSD servers");
		printf("---------------------------------------------------------------------------\n");
		for (size_t i = 0; i < n; i++) {
			char id[32], sv[NSD_MAX_SERVERS * 257] = "";

			nsd_id_format(r[i].id, id, sizeof(id));
			for (int k = 0; k < r[i].nservers; k++)
				strcat(strcat(sv, k ? "," : ""), r[i].servers[k]);
			printf(" %-13s %-12s %s%s%s\n", r[i].fs[0] ? r[i].fs : "(free disk)", r[i].name,
			       L ? id : "", L ? "   " : "", r[i].nservers ? sv : "(directly attached)");
		}
	}
	free(r);
	json_object_put(rep);
	cmd_env_free(&e);
	return 0;
}
