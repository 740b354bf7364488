/*
 * mmdiag - daemon diagnostics.
 *
 *   mmdiag [--version] [--config] [--network] [--stats] [--waiters [ms]] [--nsd]
 *          [--pagepool] [--tokenmgr] [--tokens]
 *
 * Speaks to the daemon of $MMFS_NODE, or of any local node.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"version", no_argument, NULL, 'v'},
		{"config", no_argument, NULL, 'c'},
		{"network", no_argument, NULL, 'n'},
		{"stats", no_argument, NULL, 's'},
		{"waiters", optional_argument, NULL, 'w'},
		{"nsd", no_argument, NULL, 'd'},
		{"pagepool", no_argument, NULL, 'p'},
		{"tokenmgr", no_argument, NULL, 'm'},
		{"tokens", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *what[8];
	int nwhat = 0, c, rc = 0, threshold = -1;
	struct cmd_env e;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'v': what[nwhat++] = "version"; break;
		case 'c': what[nwhat++] = "config"; break;
		case 'n': what[nwhat++] = "network"; break;
		case 's': what[nwhat++] = "stats"; break;
		case 'd': what[nwhat++] = "nsd"; break;
		case 'p': what[nwhat++] = "pagepool"; break;
		case 'm': what[nwhat++] = "tokenmgr"; break;
		case 't': what[nwhat++] = "tokens"; break;
		case 'w':
			what[nwhat++] = "waiters";
			if (optarg)
				threshold = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: mmdiag [--version] [--config] [--network] [--stats] "
					"[--waiters[=ms]] [--nsd] [--pagepool] [--tokenmgr] "
					"[--tokens]\n");
			return c == 'h' ? 0 : 2;
		}
		if (nwhat == 8)
			break;
	}
	if (nwhat == 0)
		what[nwhat++] = "waiters";
	cmd_env_init(&e, "mmdiag", true);
	for (int i = 0; i < nwhat && !rc; i++) {
		json_object *req = json_object_new_object(), *rep = NULL;

		json_object_object_add(req, "cmd", json_object_new_string("diag"));
		json_object_object_add(req, "what", json_object_new_string(what[i]));
		if (threshold >= 0)
			json_object_object_add(req, "threshold_ms", json_object_new_int(threshold));
		rc = cmd_request(&e, req, 10000, &rep);
		if (!rc)
			fputs(adm_get_str(rep, "text", ""), stdout);
		json_object_put(rep);
	}
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
