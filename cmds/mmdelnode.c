/*
 * mmdelnode - delete nodes from the cluster.
 *
 *   mmdelnode -N {Node[,Node...] | NodeFile}
 *
 * The nodes must be down (mmshutdown -N first). Their etcd members are
 * removed, then the definition; local state directories of deleted nodes
 * are removed.
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
	struct cmd_env e;
	const struct cfg_node **sel = NULL;
	json_object *req, *names;
	const char *spec = NULL;
	size_t n = 0;
	int c, rc;

	while ((c = getopt(argc, argv, "N:ah")) != -1) {
		if (c == 'N') {
			spec = optarg;
			continue;
		}
		if (c == 'a')
			fprintf(stderr, "mmdelnode: -a (delete the whole cluster) is not supported: "
					"mmshutdown -a and remove the state directories\n");
		else
			fprintf(stderr, "usage: mmdelnode -N {Node[,Node...] | NodeFile}\n");
		return c == 'h' ? 0 : 2;
	}
	if (!spec || optind != argc) {
		fprintf(stderr, "usage: mmdelnode -N {Node[,Node...] | NodeFile}\n");
		return 2;
	}
	if (cmd_env_init(&e, "mmdelnode", true) || cmd_select_nodes(&e, false, spec, &sel, &n))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (cmd_addr_is_local(sel[i]->ip) && cmd_daemon_pid(&e, sel[i]->name)) {
			cmd_errf(&e, "GPFS is still running on node %s: run mmshutdown -N %s first",
				 sel[i]->name, sel[i]->name);
			return 1;
		}
	req = json_object_new_object();
	names = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("delnode"));
	json_object_object_add(req, "names", names);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(names, json_object_new_string(sel[i]->name));
	printf("mmdelnode: Verifying GPFS is stopped on all affected nodes ...\n");
	fflush(stdout);
	rc = cmd_request(&e, req, 60000, NULL);
	if (rc)
		return 1;
	for (size_t i = 0; i < n; i++) {
		char cmd[PATH_MAX + 64];

		if (cmd_addr_is_local(sel[i]->ip))
			snprintf(cmd, sizeof(cmd), "rm -rf -- '%s/%s'", e.root, sel[i]->name);
		else
			snprintf(cmd, sizeof(cmd), "true");
		if (system(cmd) != 0)
			cmd_errf(&e, "could not remove the state of node %s", sel[i]->name);
		printf("mmdelnode: Node %s deleted\n", sel[i]->name);
	}
	printf("mmdelnode: Command successfully completed\n");
	free(sel);
	cmd_env_free(&e);
	return 0;
}
