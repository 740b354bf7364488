/*
 * mmfsck - check and repair an unmounted file system.
 *
 *   mmfsck Device [-n | -y] [-v] [-Y]
 *
 * -n checks and changes nothing; -y repairs everything it can. GPFS asks
 * about each repair when neither is given; mmfsck has no questions to
 * ask, so it then checks only, as with -n, and says so. The daemon
 * (fsck, mmfsd/admin_fsck.c) refuses a mounted file system, reads the
 * disks through its NSD client and runs fs_fsck (fs/fsck.h); its
 * progress and problem lines come back in the reply and are printed in
 * order when it ends: 'Checking "fs1"', each phase with its percentages,
 * each problem ("Error: ..." left, "Repaired: ..." fixed), the counts and
 * the verdict. -v adds where and how long it ran, the descriptor
 * generation and the logs. -Y prints the summary and the problems as
 * colon-separated records (GPFS's -Y layout) and no progress.
 *
 * Exit (e2fsck's codes, as fs/fsck.h): 0 clean; 1 problems found and all
 * fixed; 2 problems remain (-n, or not repairable); 8 could not check
 * (no such file system, mounted, no daemon, I/O error, no descriptor
 * quorum); 16 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "fs/format.h"
#include "fs/fsck.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmfsck Device [-n | -y] [-v] [-Y]\n"
#define EXIT_USAGE 16
/* A file system of many millions of inodes takes long: the daemon
 * answers when it is done, so the command waits for it. */
#define FSCK_TIMEOUT_MS (24 * 3600 * 1000)

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "mmfsck: %s\n", why);
	fputs(USAGE, stderr);
	return EXIT_USAGE;
}

static long long ji(json_object *o, const char *key)
{
	return (long long)adm_get_i64(o, key, 0);
}

/* The progress and problem lines, in order. A -y run checks again after
 * its repairs (fs/fsck.h: passes until one finds nothing); each pass
 * starts with the first phase, so its return marks the next pass. */
static void print_lines(json_object *lines)
{
	size_t n = lines ? json_object_array_length(lines) : 0;
	const char *first = NULL;
	unsigned pass = 1;

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(lines, i);
		const char *problem = adm_get_str(o, "problem", NULL);

		if (problem) {
			printf("%s: %s\n", adm_get_bool(o, "fixed", false) ? "Repaired" : "Error", problem);
		} else if (adm_get_int(o, "pct", 0) == 0) {
			const char *phase = adm_get_str(o, "phase", "");

			if (!first)
				first = phase;
			else if (!strcmp(first, phase))
				printf("Checking again after the repairs (pass %u)\n", ++pass);
			printf("%s\n", phase);
		} else {
			time_t t = (time_t)adm_get_i64(o, "time", 0);
			struct tm tm;
			char ts[64];

			localtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S %Y", &tm);
			printf("   %3d %% complete on %s\n", adm_get_int(o, "pct", 0), ts);
		}
	}
}

static const char *verdict(int exit_code)
{
	switch (exit_code) {
	case FS_FSCK_EXIT_CLEAN: return "File system is clean.";
	case FS_FSCK_EXIT_FIXED: return "File system was repaired: it is clean now.";
	default: return "File system contains unrepaired damage.";
	}
}

static void print_text(json_object *rep, const char *device, bool verbose)
{
	json_object *lines = NULL;
	int x = adm_get_int(rep, "exit", FS_FSCK_EXIT_ERROR);

	printf("Checking \"%s\"\n", device);
	json_object_object_get_ex(rep, "lines", &lines);
	print_lines(lines);
	if (ji(rep, "omitted"))
		printf("... %lld more problems not listed (the first ones are in node %s's mmfs.log)\n",
		       ji(rep, "omitted"), adm_get_str(rep, "node", "?"));
	printf("\n%12lld inodes\n", ji(rep, "inodes"));
	printf("%12lld   directories\n", ji(rep, "dirs"));
	printf("%12lld   files\n", ji(rep, "files"));
	printf("%12lld blocks and fragments (every replica)\n", ji(rep, "blocks"));
	printf("%12lld subblocks\n", ji(rep, "subblocks"));
	if (ji(rep, "orphans"))
		printf("%12lld orphans (unlinked, in use when their node stopped): %s\n",
		       ji(rep, "orphans"), adm_get_bool(rep, "repair", false) ? "freed" :
		       "the node's next mount frees them");
	if (verbose) {
		printf("%12lld logs\n", ji(rep, "logs"));
		printf("%12lld   with transactions to replay\n", ji(rep, "logsDirty"));
		printf("\nChecked on node %s in %lld ms (descriptor generation %lld, %s).\n",
		       adm_get_str(rep, "node", "?"), ji(rep, "elapsedMs"), ji(rep, "generation"),
		       adm_get_bool(rep, "repair", false) ? "-y: repairs written" : "-n: nothing written");
	}
	printf("\n%lld inodes, %lld files, %lld directories, %lld blocks: %lld problem%s found, %lld fixed\n",
	       ji(rep, "inodes"), ji(rep, "files"), ji(rep, "dirs"), ji(rep, "blocks"), ji(rep, "found"),
	       ji(rep, "found") == 1 ? "" : "s", ji(rep, "fixed"));
	printf("%s\n", verdict(x));
	if (x == FS_FSCK_EXIT_LEFT && !adm_get_bool(rep, "repair", false))
		printf("Run mmfsck %s -y to repair it.\n", device);
}

static void print_y(json_object *rep, const char *device)
{
	json_object *lines = NULL;
	char buf[32];

	printf("mmfsck::HEADER:version:reserved:reserved:deviceName:mode:inodes:directories:files:blocks:"
	       "subblocks:logs:dirtyLogs:problemsFound:problemsFixed:problemsNotListed:exitCode:\n");
	printf("mmfsck::0:1:::");
	cmd_yfield(device);
	printf("%s:", adm_get_bool(rep, "repair", false) ? "repair" : "check");
	static const char *const keys[] = {"inodes", "dirs", "files", "blocks", "subblocks", "logs",
					    "logsDirty", "found", "fixed", "omitted", "exit"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(buf, sizeof(buf), "%lld", ji(rep, keys[i]));
		cmd_yfield(buf);
	}
	printf("\n");
	printf("mmfsck:problem:HEADER:version:reserved:reserved:deviceName:fixed:problem:\n");
	json_object_object_get_ex(rep, "lines", &lines);
	for (size_t i = 0; lines && i < json_object_array_length(lines); i++) {
		json_object *o = json_object_array_get_idx(lines, i);
		const char *problem = adm_get_str(o, "problem", NULL);

		if (!problem)
			continue;
		printf("mmfsck:problem:0:1:::");
		cmd_yfield(device);
		cmd_yfield(adm_get_bool(o, "fixed", false) ? "yes" : "no");
		cmd_yfield(problem);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	const char *device = NULL;
	bool n = false, y = false, verbose = false, yformat = false;
	struct cmd_env e;
	json_object *req, *rep = NULL;
	int rc, x;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-n"))
			n = true;
		else if (!strcmp(a, "-y"))
			y = true;
		else if (!strcmp(a, "-v") || !strcmp(a, "-V"))
			verbose = true;
		else if (!strcmp(a, "-Y"))
			yformat = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(USAGE, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			char why[160];

			snprintf(why, sizeof(why), "unknown option %.100s", a);
			return usage(why);
		} else if (device) {
			return usage("one Device only");
		} else {
			device = a;
		}
	}
	if (!device)
		return usage("no Device given");
	if (n && y)
		return usage("-n (check only) and -y (repair) exclude each other");
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if (!fs_simple_name(device, FS_DEVICE_MAX))
		return usage("Device: 1 to 63 letters, digits, '.', '_' or '-'");
	if (cmd_env_init(&e, "mmfsck", true))
		return FS_FSCK_EXIT_ERROR;
	if (!n && !y)
		fprintf(stderr, "mmfsck: neither -n nor -y given: checking only, as with -n (nothing is "
				"repaired; mmfsck %s -y repairs)\n", device);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("fsck"));
	json_object_object_add(req, "device", json_object_new_string(device));
	json_object_object_add(req, "repair", json_object_new_boolean(y));
	rc = cmd_admin_local(&e, req, FSCK_TIMEOUT_MS, &rep, NULL, 0);
	json_object_put(req);
	if (rc) {
		cmd_env_free(&e);
		return FS_FSCK_EXIT_ERROR;
	}
	rc = adm_get_int(rep, "rc", MM_EPROTO);
	if (rc) {
		char *msg = strdup(adm_get_str(rep, "msg", "failed")), *save = NULL;

		for (char *l = msg ? strtok_r(msg, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			cmd_errf(&e, "%s", l);
		free(msg);
		x = FS_FSCK_EXIT_ERROR;
	} else {
		x = adm_get_int(rep, "exit", FS_FSCK_EXIT_ERROR);
		if (x != FS_FSCK_EXIT_CLEAN && x != FS_FSCK_EXIT_FIXED && x != FS_FSCK_EXIT_LEFT) {
			cmd_errf(&e, "the daemon answered exit code %d, which mmfsck does not know", x);
			x = FS_FSCK_EXIT_ERROR;
		}
		if (yformat)
			print_y(rep, device);
		else
			print_text(rep, device, verbose);
	}
	fflush(stdout);
	json_object_put(rep);
	cmd_env_free(&e);
	return x;
}
