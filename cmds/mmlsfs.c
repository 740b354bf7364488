/*
 * mmlsfs - list the attributes of file systems.
 *
 *   mmlsfs {Device | all} [-Flag ...] [-Y]
 *
 * GPFS's layout: "flag value description", one attribute a line (with
 * -Y the parseable form, one "mmlsfs::0:1:::" line per attribute). Flags
 * given after the device select attributes (mmlsfs fs1 -B -f). Values come
 * from the descriptor the daemon reads by majority from the disks, and
 * from the CCR record (-n, -d order); only attributes mmfs has are shown.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds/libfs.h"
#include "mmfsd/fsrec.h"

struct attr {
	const char *flag, *yname, *desc;
	char value[2048];
};

static bool selected(int nsel, char **sel, const char *flag)
{
	if (nsel == 0)
		return true;
	for (int i = 0; i < nsel; i++)
		if (!strcmp(sel[i], flag))
			return true;
	return false;
}

static size_t attrs_of(json_object *f, struct attr *a)
{
	json_object *s, *disks;
	struct fsrec *r = calloc(1, sizeof(*r));
	const char *rt = cmd_js(f, "record");
	char err[256], pools[512] = "", date[64];
	time_t ct;
	struct tm tm;
	size_t n = 0;

	json_object_object_get_ex(f, "sgd", &s);
	json_object_object_get_ex(s, "disks", &disks);
	if (!r || fsrec_decode(rt, strlen(rt), r, err, sizeof(err))) {
		free(r);
		return 0;
	}
#define A(F, Y, D, ...) do { a[n].flag = F; a[n].yname = Y; a[n].desc = D; \
		snprintf(a[n].value, sizeof(a[n].value), __VA_ARGS__); n++; } while (0)
	A("-f", "minFragmentSize", "Minimum fragment size in bytes", "%lld", cmd_ji(s, "subblockSize"));
	A("-i", "inodeSize", "Inode size in bytes", "%lld", cmd_ji(s, "inodeSize"));
	A("-I", "indirectBlockSize", "Indirect block size in bytes", "%lld", cmd_ji(s, "mbSize"));
	A("-m", "defaultMetadataReplicas", "Default number of metadata replicas", "%lld", cmd_ji(s, "metaRep"));
	A("-M", "maxMetadataReplicas", "Maximum number of metadata replicas", "%lld", cmd_ji(s, "metaRepMax"));
	A("-r", "defaultDataReplicas", "Default number of data replicas", "%lld", cmd_ji(s, "dataRep"));
	A("-R", "maxDataReplicas", "Maximum number of data replicas", "%lld", cmd_ji(s, "dataRepMax"));
	A("-j", "blockAllocationType", "Block allocation type", "%s",
	  json_object_get_boolean(json_object_object_get(s, "scatter")) ? "scatter" : "cluster");
	A("-D", "fileLockingSemantics", "File locking semantics in effect", "posix");
	A("-k", "ACLSemantics", "ACL semantics in effect", "posix");
	A("-n", "estimatedNumberNodes", "Estimated number of nodes that will mount file system", "%u",
	  r->num_nodes);
	A("-B", "blockSize", "Block size", "%lld", cmd_ji(s, "blockSize"));
	A("-Q", "quotasAccountingEnabled", "Quotas accounting enabled", "none");
	A("-V", "filesystemVersion", "File system version", "%lld (mmfs on-disk format %lld)", cmd_ji(s, "version"),
	  cmd_ji(s, "version"));
	ct = (time_t)cmd_ji(s, "created");
	localtime_r(&ct, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	A("--create-time", "creationTime", "File system creation time", "%s", date);
	A("--inode-limit", "inodeLimit", "Maximum number of inodes", "%lld", cmd_ji(s, "inodeLimit"));
	A("-E", "exactMtime", "Exact mtime mount option", "%s",
	  json_object_get_boolean(json_object_object_get(s, "exactMtime")) ? "yes" : "no");
	A("-L", "logfileSize", "Logfile size", "%lld", cmd_ji(s, "logBytes"));
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		const char *p = cmd_js(json_object_array_get_idx(disks, i), "pool");
		char semi[40];

		snprintf(semi, sizeof(semi), "%s;", p);
		if (!strstr(pools, semi) && strlen(pools) + strlen(semi) < sizeof(pools))
			strcat(pools, semi);
	}
	if (pools[0])
		pools[strlen(pools) - 1] = '\0';
	A("-P", "storagePools", "Disk storage pools in file system", "%s", pools);
	a[n].flag = "-d";
	a[n].yname = "disks";
	a[n].desc = "Disks in file system";
	a[n].value[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		size_t len = strlen(a[n].value);

		snprintf(a[n].value + len, sizeof(a[n].value) - len, "%s%s", i ? ";" : "",
			 cmd_js(json_object_array_get_idx(disks, i), "name"));
	}
	n++;
	A("-A", "automaticMountOption", "Automatic mount option", "%s", cmd_js(s, "automount"));
	A("-T", "defaultMountPoint", "Default mount point", "%s", cmd_js(s, "mountPoint"));
#undef A
	free(r);
	return n;
}

int main(int argc, char **argv)
{
	const char *device = NULL;
	char *sel[64];
	int nsel = 0, bad = 0;
	bool Y = false;
	struct cmd_env e;
	json_object *rep, *fss;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-Y"))
			Y = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: mmlsfs {Device | all} [-Flag ...] [-Y]\n");
			return 0;
		} else if (argv[i][0] == '-' && nsel < 64)
			sel[nsel++] = argv[i];
		else if (!device)
			device = argv[i];
		else {
			fprintf(stderr, "usage: mmlsfs {Device | all} [-Flag ...] [-Y]\n");
			return 2;
		}
	}
	if (!device) {
		fprintf(stderr, "usage: mmlsfs {Device | all} [-Flag ...] [-Y]\n");
		return 2;
	}
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if (cmd_env_init(&e, "mmlsfs", true))
		return 1;
	if (cmd_fs_list(&e, device, &rep, &fss))
		return 1;
	if (json_object_array_length(fss) == 0) {
		cmd_errf(&e, "No file systems were found.");
		json_object_put(rep);
		return 1;
	}
	bad = cmd_fs_errors(&e, fss);
	if (Y)
		printf("mmlsfs::HEADER:version:reserved:reserved:deviceName:fieldName:data:remarks:\n");
	for (size_t i = 0, shown = 0; i < json_object_array_length(fss); i++) {
		json_object *f = json_object_array_get_idx(fss, i), *s;
		struct attr *a = calloc(32, sizeof(*a));
		struct fsrec *r = calloc(1, sizeof(*r));
		const char *rt = cmd_js(f, "record");
		char err[256];
		size_t n;

		if (!a || !r || !json_object_object_get_ex(f, "sgd", &s) ||
		    fsrec_decode(rt, strlen(rt), r, err, sizeof(err))) {
			free(a);
			free(r);
			continue;
		}
		n = attrs_of(f, a);
		if (!Y && !strcmp(device, "all"))
			printf("%sFile system attributes for /dev/%s:\n======================================\n",
			       shown ? "\n" : "", r->device);
		if (!Y) {
			printf("flag                value                    description\n");
			printf("------------------- ------------------------ -----------------------------------\n");
		}
		for (size_t k = 0; k < n; k++) {
			if (!selected(nsel, sel, a[k].flag))
				continue;
			if (Y) {
				printf("mmlsfs::0:1:::");
				cmd_yfield(r->device);
				cmd_yfield(a[k].yname);
				cmd_yfield(a[k].value);
				printf(":\n");
			} else {
				printf(" %-18s %-24s %s\n", a[k].flag, a[k].value, a[k].desc);
			}
		}
		shown++;
		free(a);
		free(r);
	}
	json_object_put(rep);
	cmd_env_free(&e);
	return bad ? 1 : 0;
}
