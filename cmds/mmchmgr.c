/*
 * mmchmgr - move a file system manager, or the cluster manager.
 *
 *   mmchmgr Device [Node]
 *   mmchmgr -c [Node]
 *
 * Device: the cluster manager appoints Node (a manager node, active)
 * manager of the file system; without Node the active manager node that
 * manages the fewest file systems. -c: the cluster manager hands its role
 * to Node (a quorum node, active), or to another active quorum node. The
 * daemon asks the cluster manager through the CCR and answers once the
 * CCR shows the change (cluster/fsmgr.c); a refused or unknown node is
 * named with the reason. Prints what GPFS prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

#define USAGE "usage: mmchmgr {Device | -c} [Node]\n"

static void node_text(json_object *o, const char *prefix, char *buf, size_t sz)
{
	char k1[32], k2[32];

	snprintf(k1, sizeof(k1), "%sip", prefix);
	snprintf(k2, sizeof(k2), "%sname", prefix);
	snprintf(buf, sz, "%s (%s)", adm_get_str(o, k1, ""), adm_get_str(o, k2, ""));
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL;
	bool cm = false;
	const char *device = "", *node = "";
	char from[320], to[320];
	int c;

	while ((c = getopt(argc, argv, "ch")) != -1) {
		if (c == 'c') {
			cm = true;
			continue;
		}
		fputs(USAGE, stderr);
		return c == 'h' ? 0 : 2;
	}
	if (!cm && optind < argc)
		device = argv[optind++];
	if (optind < argc)
		node = argv[optind++];
	if (optind < argc || (!cm && !*device)) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (cmd_env_init(&e, "mmchmgr", true))
		return 1;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("chmgr"));
	json_object_object_add(req, "cm", json_object_new_int(cm));
	json_object_object_add(req, "device", json_object_new_string(device));
	json_object_object_add(req, "node", json_object_new_string(node));
	if (cmd_request(&e, req, 30000, &rep)) {
		cmd_env_free(&e);
		return 1;
	}
	node_text(rep, "old_", from, sizeof(from));
	node_text(rep, "new_", to, sizeof(to));
	if (cm) {
		if (adm_get_int(rep, "old_number", 0) == adm_get_int(rep, "new_number", 0)) {
			printf("Node %s is already the cluster manager.\n", to);
		} else {
			printf("Appointing node %s as cluster manager\n", to);
			printf("Node %s has taken over as cluster manager\n", to);
		}
	} else {
		const char *dev = adm_get_str(rep, "device", device);

		if (adm_get_int(rep, "old_number", 0) == adm_get_int(rep, "new_number", 0)) {
			printf("Node %s is already the manager for %s.\n", to, dev);
		} else {
			if (adm_get_int(rep, "old_number", 0)) {
				printf("Sending migrate request to current manager node %s.\n", from);
				printf("Node %s resigned as manager for %s.\n", from, dev);
			}
			printf("Node %s appointed as manager for %s.\n", to, dev);
		}
	}
	json_object_put(rep);
	cmd_env_free(&e);
	return 0;
}
