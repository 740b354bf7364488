/*
 * mmcrfs - create a file system.
 *
 *   mmcrfs Device -F StanzaFile [-B BlockSize] [-i 4096] [-L LogSize]
 *          [-m n] [-M n] [-r n] [-R n] [-n NumNodes] [-j cluster|scatter]
 *          [-T MountPoint] [-A yes|no|automount] [--inode-limit N]
 *          [-E yes|no] [-v yes|no]
 *
 * The stanza file is mmcrnsd's (%nsd stanzas, as mmcrnsd rewrote it):
 * the NSDs must exist and be free; usage, failureGroup and pool given in
 * a stanza override the NSD's. The command checks the options' syntax
 * and sends one "crfs" request; the daemon checks the rest (the NSDs,
 * the layout against the failure groups, the disks), claims the NSDs and
 * the name in the CCR, formats through its NSD client and registers the
 * file system (mmfsd/admin_fs.c), returning the progress lines printed
 * here. Exit 0: created; 1: refused or failed (nothing registered, or
 * the message says what to run); 2: usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libfs.h"
#include "common/util.h"
#include "fs/format.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmcrfs Device -F StanzaFile [-B BlockSize] [-i 4096] [-L LogSize]\n" \
	"              [-m n] [-M n] [-r n] [-R n] [-n NumNodes] [-j {cluster | scatter}]\n" \
	"              [-T MountPoint] [-A {yes | no | automount}] [--inode-limit N]\n" \
	"              [-E {yes | no}] [-v {yes | no}]\n"

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "mmcrfs: %s\n", why);
	fputs(USAGE, stderr);
	return 2;
}

static int yesno(const char *opt, const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "no")) {
		*out = !strcmp(v, "yes");
		return 0;
	}
	fprintf(stderr, "mmcrfs: %s takes yes or no, not \"%s\"\n", opt, v);
	return 2;
}

static int rep_arg(const char *opt, const char *v, json_object *req, const char *key)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || end == v || n < 1 || n > FS_MAX_REPLICAS) {
		fprintf(stderr, "mmcrfs: %s takes 1, 2 or 3 replicas, not \"%s\"\n", opt, v);
		return 2;
	}
	json_object_object_add(req, key, json_object_new_int((int)n));
	return 0;
}

static int size_arg(const char *opt, const char *v, json_object *req, const char *key)
{
	uint64_t n;

	if (mm_parse_size(v, &n) || n == 0 || n > (1ull << 40)) {
		fprintf(stderr, "mmcrfs: %s: \"%s\" is not a size (e.g. 256K, 4M)\n", opt, v);
		return 2;
	}
	json_object_object_add(req, key, json_object_new_int64((int64_t)n));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"inode-limit", required_argument, NULL, 'I'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_object *req = json_object_new_object(), *disks = json_object_new_array(), *rep = NULL;
	const char *file = NULL, *device;
	struct cmd_env e;
	bool b;
	int c, rc = 0;

	json_object_object_add(req, "cmd", json_object_new_string("crfs"));
	/* GPFS takes the device first: permute it out of the options */
	while ((c = getopt_long(argc, argv, "F:B:i:L:m:M:r:R:n:j:T:A:E:v:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': file = optarg; break;
		case 'B': rc = size_arg("-B", optarg, req, "blockSize"); break;
		case 'L': rc = size_arg("-L", optarg, req, "logBytes"); break;
		case 'i':
			if (!strcmp(optarg, "512") || !strcmp(optarg, "1024"))
				return usage("-i: inodes are 4096 bytes in mmfs: each inode is a 4 KiB sector "
					     "of its own, so two nodes updating two inodes never write one "
					     "sector (fs/README.md, Units); 512 and 1024 are not supported");
			if (strcmp(optarg, "4096") && strcmp(optarg, "4K") && strcmp(optarg, "4k"))
				return usage("-i takes 4096 (the inode size in bytes)");
			break;
		case 'm': rc = rep_arg("-m", optarg, req, "metaRep"); break;
		case 'M': rc = rep_arg("-M", optarg, req, "metaRepMax"); break;
		case 'r': rc = rep_arg("-r", optarg, req, "dataRep"); break;
		case 'R': rc = rep_arg("-R", optarg, req, "dataRepMax"); break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > (1 << 20))
				return usage("-n takes the number of nodes expected to mount it, 1 to 1048576");
			json_object_object_add(req, "numNodes", json_object_new_int64(v));
			break;
		}
		case 'j':
			if (strcmp(optarg, "cluster") && strcmp(optarg, "scatter"))
				return usage("-j takes cluster or scatter");
			json_object_object_add(req, "allocation", json_object_new_string(optarg));
			break;
		case 'T':
			if (optarg[0] != '/' || strlen(optarg) > 255)
				return usage("-T takes an absolute path (up to 255 characters)");
			json_object_object_add(req, "mountPoint", json_object_new_string(optarg));
			break;
		case 'A':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no") && strcmp(optarg, "automount"))
				return usage("-A takes yes, no or automount");
			json_object_object_add(req, "automount", json_object_new_string(optarg));
			break;
		case 'E':
			if ((rc = yesno("-E", optarg, &b)) == 0)
				json_object_object_add(req, "exactMtime", json_object_new_boolean(b));
			break;
		case 'v':
			if ((rc = yesno("-v", optarg, &b)) == 0)
				json_object_object_add(req, "verify", json_object_new_boolean(b));
			break;
		case 'I': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			/* GPFS's MaxNumInodes[:NumInodesToPreallocate]: nothing is preallocated here */
			if ((*end && *end != ':') || end == optarg || v == 0)
				return usage("--inode-limit takes a number of inodes");
			json_object_object_add(req, "inodeLimit", json_object_new_int64((int64_t)v));
			break;
		}
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			return usage(NULL);
		}
		if (rc)
			return rc;
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
	if (cmd_env_init(&e, "mmcrfs", true))
		return 1;
	if (cmd_fs_stanza_disks(&e, file, disks))
		return 1;
	json_object_object_add(req, "disks", disks);
	rc = cmd_admin_local(&e, req, 900000, &rep, NULL, 0);
	json_object_put(req);
	if (rc) {
		cmd_env_free(&e);
		return 1;
	}
	rc = cmd_fs_print_reply(&e, rep);
	json_object_put(rep);
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
