/*
 * mmchnode - change node designations.
 *
 *   mmchnode {--quorum | --nonquorum} [--manager | --client] -N {Node[,Node...] | NodeFile}
 *
 * At most one of each pair: --quorum with --nonquorum, or --manager with
 * --client, is a usage error naming both (repeating the same one is fine).
 *
 * --quorum adds an etcd member for the node (one node at a time), which
 * its daemon starts, joining the others; --nonquorum removes it. A node
 * that is down gets the new definition in its state directory now.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

static void usage(void)
{
	fprintf(stderr, "usage: mmchnode [--quorum | --nonquorum] [--manager | --client] "
			"-N {Node[,Node...] | NodeFile}\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"quorum", no_argument, NULL, 'q'},
		{"nonquorum", no_argument, NULL, 'Q'},
		{"manager", no_argument, NULL, 'm'},
		{"client", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cmd_env e;
	const struct cfg_node **sel = NULL;
	json_object *req, *names, *rep = NULL;
	const char *spec = NULL;
	int c, rc, quorum = -1, manager = -1;
	const char *qopt = NULL, *mopt = NULL;	/* the option that set each */
	size_t n = 0;

	while ((c = getopt_long(argc, argv, "N:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
		case 'Q':
			/* one designation per axis: refuse a contradiction, not "last wins" */
			if (qopt && quorum != (c == 'q')) {
				fprintf(stderr, "mmchnode: %s and %s contradict each other: give one\n",
					qopt, c == 'q' ? "--quorum" : "--nonquorum");
				usage();
				return 2;
			}
			quorum = c == 'q';
			qopt = c == 'q' ? "--quorum" : "--nonquorum";
			break;
		case 'm':
		case 'c':
			if (mopt && manager != (c == 'm')) {
				fprintf(stderr, "mmchnode: %s and %s contradict each other: give one\n",
					mopt, c == 'm' ? "--manager" : "--client");
				usage();
				return 2;
			}
			manager = c == 'm';
			mopt = c == 'm' ? "--manager" : "--client";
			break;
		case 'N': spec = optarg; break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (!spec || optind != argc || (quorum < 0 && manager < 0)) {
		usage();
		return 2;
	}
	if (cmd_env_init(&e, "mmchnode", true) || cmd_select_nodes(&e, false, spec, &sel, &n))
		return 1;
	req = json_object_new_object();
	names = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("chnode"));
	json_object_object_add(req, "names", names);
	json_object_object_add(req, "quorum", json_object_new_int(quorum));
	json_object_object_add(req, "manager", json_object_new_int(manager));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(names, json_object_new_string(sel[i]->name));
	rc = cmd_request(&e, req, 60000, &rep);
	if (rc)
		return 1;
	/* nodes that are down learn the change from their own files */
	for (size_t i = 0; i < n; i++) {
		struct cfg_cluster own, def;
		char path[PATH_MAX], err[256];
		const struct cfg_node *nd;

		if (!cmd_addr_is_local(sel[i]->ip) || cmd_daemon_pid(&e, sel[i]->name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", e.root, sel[i]->name);
		cfg_cluster_init(&own);
		if (cfg_cluster_load(&own, path, err, sizeof(err)) ||
		    cmd_parse_def(&e, adm_get_str(rep, "text", ""), &own, &def)) {
			cfg_cluster_free(&own);
			continue;
		}
		nd = cfg_cluster_node(&def, sel[i]->name);
		if (nd && cmd_install_node(&e, &def, nd, NULL,
					   nd->quorum && quorum == 1 ? adm_get_str(rep, "join", NULL) : NULL))
			cmd_errf(&e, "could not update the files of node %s", sel[i]->name);
		cfg_cluster_free(&own);
		cfg_cluster_free(&def);
	}
	printf("mmchnode: Command successfully completed\n"
	       "mmchnode: Propagating the cluster configuration data to all\n"
	       "  affected nodes.  This is an asynchronous process.\n");
	json_object_put(rep);
	free(sel);
	cmd_env_free(&e);
	return 0;
}
