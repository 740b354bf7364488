/*
 * mmlsmgr - which node manages each file system, and the cluster.
 *
 *   mmlsmgr [Device [Device...]] [-Y]
 *   mmlsmgr -c [-Y]
 *
 * As GPFS prints it: a table "file system / manager node" with each file
 * system's manager as "ip (name)" (the header says which daemon answered),
 * then "Cluster manager node: ip (name)". With Device operands only their
 * rows (an unknown one is an error); -c only the cluster manager line;
 * with no file system at all only that line. -Y: colon-separated lines,
 * a HEADER line per kind (clusterManager, filesystemManager), ':' in a
 * field written %3A. The answer is a daemon's view of the CCR (this
 * node's, else another's: cmd_admin_any), which every node keeps from its
 * watch; it needs an active daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmlsmgr [Device [Device...]] [-Y]\n       mmlsmgr -c [-Y]\n"

/* "ip (name)" of the node fields <prefix>ip / <prefix>name of <o>. */
static void node_text(json_object *o, const char *prefix, char *buf, size_t sz)
{
	char k1[32], k2[32];

	snprintf(k1, sizeof(k1), "%sip", prefix);
	snprintf(k2, sizeof(k2), "%sname", prefix);
	if (!*adm_get_str(o, k1, ""))
		snprintf(buf, sz, "(none)");
	else
		snprintf(buf, sz, "%s (%s)", adm_get_str(o, k1, ""), adm_get_str(o, k2, ""));
}

static const char *strip_dev(const char *d)
{
	return strncmp(d, "/dev/", 5) == 0 ? d + 5 : d;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL, *spaces = NULL;
	bool Y = false, conly = false, header = true;
	size_t n = 0;
	int c, failed = 0;
	char cmtext[320];

	while ((c = getopt(argc, argv, "cYh")) != -1) {
		switch (c) {
		case 'c': conly = true; break;
		case 'Y': Y = true; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (conly && optind < argc) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (cmd_env_init(&e, "mmlsmgr", true))
		return 1;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("lsmgr"));
	if (cmd_request_readonly(&e, req, 10000, &rep)) {
		cmd_env_free(&e);
		return 1;
	}
	if (json_object_object_get_ex(rep, "spaces", &spaces) && json_object_is_type(spaces, json_type_array))
		n = json_object_array_length(spaces);
	node_text(rep, "cm_", cmtext, sizeof(cmtext));

	if (Y && (conly || optind == argc)) {
		printf("mmlsmgr:clusterManager:HEADER:version:reserved:reserved:manager:managerIP:\n");
		fputs("mmlsmgr:clusterManager:0:1:::", stdout);
		cmd_yfield(adm_get_str(rep, "cm_name", ""));
		cmd_yfield(adm_get_str(rep, "cm_ip", ""));
		putchar('\n');
	}
	if (conly) {
		if (!Y)
			printf("Cluster manager node: %s\n", cmtext);
		goto out;
	}
	if (!Y && (n || optind < argc)) {
		char from[320];

		node_text(rep, "from_", from, sizeof(from));
		printf("file system      manager node       [from %s]\n", from);
		printf("---------------- ------------------\n");
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(spaces, i), *sv = NULL;
		const char *dev = adm_get_str(o, "device", "");
		bool want = optind == argc;
		char mgr[320];

		for (int a = optind; a < argc && !want; a++)
			want = strcmp(strip_dev(argv[a]), dev) == 0;
		if (!want)
			continue;
		if (Y) {
			char ep[32];

			if (header)
				printf("mmlsmgr:filesystemManager:HEADER:version:reserved:reserved:filesystem:"
				       "manager:managerIP:fsid:epoch:tokenServers:\n");
			header = false;
			fputs("mmlsmgr:filesystemManager:0:1:::", stdout);
			cmd_yfield(dev);
			cmd_yfield(adm_get_str(o, "name", ""));
			cmd_yfield(adm_get_str(o, "ip", ""));
			cmd_yfield(adm_get_str(o, "fsid", ""));
			snprintf(ep, sizeof(ep), "%s", adm_get_str(o, "epoch", "0"));
			cmd_yfield(ep);
			if (json_object_object_get_ex(o, "servers", &sv) && json_object_is_type(sv, json_type_array))
				for (size_t k = 0; k < json_object_array_length(sv); k++) {
					if (k)
						putchar(';');
					for (const char *s = json_object_get_string(json_object_array_get_idx(sv, k));
					     *s; s++)
						if (*s == ':')
							fputs("%3A", stdout);
						else
							putchar(*s);
				}
			fputs(":\n", stdout);
			continue;
		}
		node_text(o, "", mgr, sizeof(mgr));
		printf("%-16s %s\n", dev, strcmp(mgr, "(none)") ? mgr : "(not appointed)");
	}
	if (Y && header && optind == argc)
		printf("mmlsmgr:filesystemManager:HEADER:version:reserved:reserved:filesystem:"
		       "manager:managerIP:fsid:epoch:tokenServers:\n");
	/* Device operands that name no file system */
	for (int a = optind; a < argc; a++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(strip_dev(argv[a]),
				       adm_get_str(json_object_array_get_idx(spaces, i), "device", "")) == 0;
		if (!found) {
			fflush(stdout);
			cmd_errf(&e, "File system %s is not known to the cluster.", strip_dev(argv[a]));
			failed = 1;
		}
	}
	if (!Y && optind == argc)
		printf("%sCluster manager node: %s\n", n ? "\n" : "", cmtext);
out:
	json_object_put(rep);
	cmd_env_free(&e);
	return failed;
}
