/*
 * mmlsnsd - list Network Shared Disks.
 *
 *   mmlsnsd [-F | -d "DiskName[;DiskName...]"] [-L | -m | -X] [-Y]
 *
 * Default: file system, disk name, NSD servers. -L adds the NSD volume id;
 * -m maps each NSD to its device and the nodes that serve it; -X adds the
 * device type. -F lists free disks only (not in a file system); -d only
 * the NSDs named (each must exist). -Y: colon-separated lines with a
 * HEADER line, for the view chosen (-m/-X: one line per NSD and node),
 * ':' inside a field written %3A as GPFS does. Columns are as wide as
 * their longest entry. With no NSD to list: "No disks were found.".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/util.h"
#include "mmfsd/admin.h"
#include "nsd/desc.h"
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

#define USAGE "usage: mmlsnsd [-F | -d \"DiskName[;DiskName...]\"] [-L | -m | -X] [-Y]\n"

static int maxw(int w, const char *s)
{
	int l = (int)strlen(s);

	return l > w ? l : w;
}

static void servers_of(const struct nsd_record *r, char sep, char *buf, size_t sz)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int k = 0; k < r->nservers && len < sz; k++)
		len += (size_t)snprintf(buf + len, sz - len, "%s%s", k ? (char[]){sep, 0} : "", r->servers[k]);
}

/* One row of the -m / -X view: an NSD and a node that reaches it. */
static void map_row(const struct nsd_record *r, int k, const char **node, const char **remark)
{
	*node = r->nservers ? r->servers[k] : "(any node)";
	*remark = r->nservers ? "server node" : "directly attached";
}

static void print_map(const struct nsd_record *r, size_t n, bool X, bool Y)
{
	int wn = (int)strlen("Disk name"), wi = (int)strlen("NSD volume ID"), wd = (int)strlen("Device");
	int wt = (int)strlen("Devtype"), wo = (int)strlen("Node name");

	if (Y) {
		printf("mmlsnsd::HEADER:version:reserved:reserved:diskName:volumeId:localDiskName:%s"
		       "nodeName:remarks:\n", X ? "deviceType:" : "");
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < (r[i].nservers ? r[i].nservers : 1); k++) {
				const char *node, *remark;
				char id[32];

				map_row(&r[i], k, &node, &remark);
				nsd_id_format(r[i].id, id, sizeof(id));
				fputs("mmlsnsd::0:1:::", stdout);
				cmd_yfield(r[i].name);
				cmd_yfield(id);
				cmd_yfield(r[i].device);
				if (X)
					cmd_yfield(devtype(r[i].device));
				cmd_yfield(node);
				cmd_yfield(remark);
				putchar('\n');
			}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		wn = maxw(wn, r[i].name);
		wi = maxw(wi, "0000000000000000");
		wd = maxw(wd, r[i].device);
		wt = maxw(wt, devtype(r[i].device));
		for (int k = 0; k < r[i].nservers; k++)
			wo = maxw(wo, r[i].servers[k]);
		wo = maxw(wo, r[i].nservers ? "" : "(any node)");
	}
	printf("\n %-*s  %-*s  %-*s  ", wn, "Disk name", wi, "NSD volume ID", wd, "Device");
	if (X)
		printf("%-*s  ", wt, "Devtype");
	printf("%-*s  %s\n", wo, "Node name", "Remarks");
	{
		int total = 1 + wn + 2 + wi + 2 + wd + 2 + (X ? wt + 2 : 0) + wo + 2 + (int)strlen("directly attached");

		for (int c = 0; c < total; c++)
			putchar('-');
		putchar('\n');
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < (r[i].nservers ? r[i].nservers : 1); k++) {
			const char *node, *remark;
			char id[32];

			map_row(&r[i], k, &node, &remark);
			nsd_id_format(r[i].id, id, sizeof(id));
			printf(" %-*s  %-*s  %-*s  ", wn, r[i].name, wi, id, wd, r[i].device);
			if (X)
				printf("%-*s  ", wt, devtype(r[i].device));
			printf("%-*s  %s\n", wo, node, remark);
		}
}

static void print_list(const struct nsd_record *r, size_t n, bool L, bool Y)
{
	int wf = (int)strlen("File system"), wn = (int)strlen("Disk name"), wi = (int)strlen("NSD volume ID");
	int ws = (int)strlen("NSD servers");
	char sv[NSD_MAX_SERVERS * 257], id[32];

	if (Y) {
		printf("mmlsnsd::HEADER:version:reserved:reserved:fileSystem:diskName:volumeId:device:"
		       "servers:usage:failureGroup:pool:\n");
		for (size_t i = 0; i < n; i++) {
			char fg[16];

			nsd_id_format(r[i].id, id, sizeof(id));
			servers_of(&r[i], ';', sv, sizeof(sv));
			snprintf(fg, sizeof(fg), "%d", r[i].failure_group);
			fputs("mmlsnsd::0:1:::", stdout);
			cmd_yfield(r[i].fs);
			cmd_yfield(r[i].name);
			cmd_yfield(id);
			cmd_yfield(r[i].device);
			cmd_yfield(sv);
			cmd_yfield(nsd_usage_name(r[i].usage));
			cmd_yfield(fg);
			cmd_yfield(r[i].pool);
			putchar('\n');
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		servers_of(&r[i], ',', sv, sizeof(sv));
		wf = maxw(wf, r[i].fs[0] ? r[i].fs : "(free disk)");
		wn = maxw(wn, r[i].name);
		wi = maxw(wi, "0000000000000000");
		ws = maxw(ws, r[i].nservers ? sv : "(directly attached)");
	}
	printf("\n %-*s  %-*s  ", wf, "File system", wn, "Disk name");
	if (L)
		printf("%-*s  ", wi, "NSD volume ID");
	printf("%s\n", "NSD servers");
	{
		int total = 1 + wf + 2 + wn + 2 + (L ? wi + 2 : 0) + ws;

		for (int c = 0; c < total; c++)
			putchar('-');
		putchar('\n');
	}
	for (size_t i = 0; i < n; i++) {
		nsd_id_format(r[i].id, id, sizeof(id));
		servers_of(&r[i], ',', sv, sizeof(sv));
		printf(" %-*s  %-*s  ", wf, r[i].fs[0] ? r[i].fs : "(free disk)", wn, r[i].name);
		if (L)
			printf("%-*s  ", wi, id);
		printf("%s\n", r[i].nservers ? sv : "(directly attached)");
	}
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL, *arr = NULL;
	struct nsd_record *r;
	size_t n = 0, cnt, nwant = 0;
	char *want[256];
	const char *dlist = NULL;
	bool L = false, m = false, X = false, Y = false, F = false;
	int c, rc, bad = 0;

	while ((c = getopt(argc, argv, "d:FLmMXYh")) != -1) {
		switch (c) {
		case 'd': dlist = optarg; break;
		case 'F': F = true; break;
		case 'L': L = true; break;
		case 'm': case 'M': m = true; break;
		case 'X': X = true; break;
		case 'Y': Y = true; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mmlsnsd: unexpected argument %s\n" USAGE, argv[optind]);
		return 2;
	}
	if (dlist && F) {
		fprintf(stderr, "mmlsnsd: -d and -F cannot be combined\n" USAGE);
		return 2;
	}
	if (dlist) {
		char *list = strdup(dlist), *tok, *save;

		for (tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
			if (!nsd_name_valid(tok)) {
				fprintf(stderr, "mmlsnsd: -d: \"%s\" is not a valid NSD name\n", tok);
				return 2;
			}
			if (nwant == MM_ARRAY_SIZE(want)) {
				fprintf(stderr, "mmlsnsd: -d: at most %zu names\n", MM_ARRAY_SIZE(want));
				return 2;
			}
			want[nwant++] = tok;
		}
		if (nwant == 0) {
			fprintf(stderr, "mmlsnsd: -d names no NSD\n" USAGE);
			return 2;
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
		bool keep = !nwant;

		if (nsd_record_decode(t, strlen(t), &r[n], err, sizeof(err)) != 0)
			continue;
		for (size_t k = 0; k < nwant && !keep; k++)
			keep = strcmp(want[k], r[n].name) == 0;
		if (keep && (!F || !r[n].fs[0]))
			n++;
	}
	for (size_t k = 0; k < nwant; k++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(want[k], r[i].name) == 0;
		if (!found) {
			cmd_errf(&e, "NSD %s does not exist", want[k]);
			bad++;
		}
	}
	if (bad) {
		free(r);
		json_object_put(rep);
		cmd_env_free(&e);
		return 1;
	}
	qsort(r, n, sizeof(*r), by_name);
	if (n == 0 && !Y)
		printf("mmlsnsd: No %sdisks were found.\n", F ? "free " : "");
	else if (m || X)
		print_map(r, n, X, Y);
	else
		print_list(r, n, L, Y);
	free(r);
	json_object_put(rep);
	cmd_env_free(&e);
	return 0;
}
