/*
 * mmlscluster - show the cluster definition.
 *
 *   mmlscluster [-Y]
 *
 * Read from a daemon (the CCR's current copy): this node's, another local
 * node's, or a quorum node's through the remote shell (cmd_admin_any),
 * else from the local definition; stderr says which when it is not this
 * node's own daemon.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

int main(int argc, char **argv)
{
	struct cmd_env e;
	struct cfg_cluster def;
	json_object *req, *rep = NULL;
	bool Y = false;
	int c;

	while ((c = getopt(argc, argv, "Yh")) != -1) {
		if (c == 'Y') {
			Y = true;
			continue;
		}
		fprintf(stderr, "usage: mmlscluster [-Y]\n");
		return c == 'h' ? 0 : 2;
	}
	if (cmd_env_init(&e, "mmlscluster", true))
		return 1;
	cfg_cluster_init(&def);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("lscluster"));
	if (cmd_admin_any(&e, req, 3000, &rep) == MM_OK) {
		char err[256];

		if (adm_get_int(rep, "rc", -1) != 0 ||
		    cfg_cluster_parse(&def, adm_get_str(rep, "text", ""), "mmfsd", err, sizeof(err)))
			cmd_errf(&e, "the daemon's reply is not usable: %s",
				 adm_get_int(rep, "rc", -1) != 0 ? adm_get_str(rep, "msg", "error") : err);
	}
	json_object_put(req);
	json_object_put(rep);
	if (!def.nnodes) {
		cmd_note_local_copy(&e);
		cfg_cluster_free(&def);
		def = e.def;
		cfg_cluster_init(&e.def);
	}
	if (Y) {
		printf("mmlscluster::HEADER:version:reserved:reserved:clusterName:clusterId:"
		       "uidDomain:rshPath:rcpPath:repositoryType:\n");
		printf("mmlscluster::0:1:::%s:%" PRIu64 ":%s:%s:%s:CCR:\n", def.name, def.id, def.name,
		       def.rsh, def.rcp);
		printf("mmlscluster:clusterNode:HEADER:version:reserved:reserved:nodeNumber:"
		       "daemonNodeName:ipAddress:adminNodeName:designation:\n");
		for (size_t i = 0; i < def.nnodes; i++)
			printf("mmlscluster:clusterNode:0:1:::%u:%s:%s:%s:%s:\n", def.nodes[i].number,
			       def.nodes[i].name, def.nodes[i].ip, def.nodes[i].admin,
			       cfg_designation(def.nodes[i].quorum, def.nodes[i].manager));
	} else {
		printf("\nGPFS cluster information\n========================\n");
		printf("  GPFS cluster name:         %s\n", def.name);
		printf("  GPFS cluster id:           %" PRIu64 "\n", def.id);
		printf("  GPFS UID domain:           %s\n", def.name);
		printf("  Remote shell command:      %s\n", def.rsh);
		printf("  Remote file copy command:  %s\n", def.rcp);
		printf("  Repository type:           CCR\n");
		printf("\n Node  Daemon node name  IP address       Admin node name  Designation\n");
		printf("------------------------------------------------------------------------\n");
		for (size_t i = 0; i < def.nnodes; i++)
			printf("%4u   %-17s %-16s %-16s %s\n", def.nodes[i].number, def.nodes[i].name,
			       def.nodes[i].ip, def.nodes[i].admin,
			       cfg_designation(def.nodes[i].quorum, def.nodes[i].manager));
		printf("\n");
	}
	cfg_cluster_free(&def);
	cmd_env_free(&e);
	return 0;
}
