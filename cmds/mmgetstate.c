/*
 * mmgetstate - the GPFS state of nodes.
 *
 *   mmgetstate [-L] [-s] [-v] [-Y] [-a | -N {Node[,Node...] | NodeFile}]
 *
 * Each node is asked itself (its admin socket, or the remote shell), in
 * parallel: a node answers with its own view, so a node cut off from
 * quorum says "arbitrating" whatever the others think. A node with no
 * daemon is "down"; one whose daemon does not answer in time "unknown".
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

struct row {
	const struct cfg_node *node;
	struct cmd_env *e;
	char state[24];
	int quorum, nodes_up, total;
	char remarks[160];
	pthread_t t;
};

static void *query(void *arg)
{
	struct row *r = arg;
	json_object *req = json_object_new_object(), *rep = NULL;
	int rc;

	json_object_object_add(req, "cmd", json_object_new_string("getstate"));
	if (!cmd_addr_is_local(r->node->ip)) {
		char cmd[600], *out = NULL;

		snprintf(cmd, sizeof(cmd), "mmgetstate -Y -N %s", r->node->name);
		rc = cmd_remote(r->e, r->node, cmd, &out);
		snprintf(r->state, sizeof(r->state), "unknown");
		if (rc == 0 && out) {
			/* mmgetstate::0:1:::name:number:state:quorum:up:total:remarks: */
			char *line = strstr(out, "\nmmgetstate::0:");
			char f[12][160] = {{0}};
			int k = 0;

			if (line) {
				for (char *p = line + 1, *s = p; k < 12; p++) {
					if (*p == ':' || *p == '\n' || *p == '\0') {
						snprintf(f[k++], sizeof(f[0]), "%.*s", (int)(p - s), s);
						s = p + 1;
						if (*p != ':')
							break;
					}
				}
				snprintf(r->state, sizeof(r->state), "%s", f[8]);
				r->quorum = atoi(f[9]);
				r->nodes_up = atoi(f[10]);
				r->total = atoi(f[11]);
			}
		}
		free(out);
		json_object_put(req);
		return NULL;
	}
	rc = cmd_admin(r->e, r->node->name, req, 3000, &rep);
	if (rc == MM_OK && adm_get_int(rep, "rc", -1) == 0) {
		snprintf(r->state, sizeof(r->state), "%s", adm_get_str(rep, "state", "unknown"));
		r->quorum = adm_get_int(rep, "quorum_needed", 0);
		r->nodes_up = adm_get_int(rep, "nodes_up", 0);
		r->total = adm_get_int(rep, "total_nodes", 0);
		snprintf(r->remarks, sizeof(r->remarks), "%s", adm_get_str(rep, "remarks", ""));
	} else if (rc == MM_ENOENT || rc == MM_EUNREACH || !cmd_daemon_pid(r->e, r->node->name)) {
		snprintf(r->state, sizeof(r->state), "down");
	} else {
		snprintf(r->state, sizeof(r->state), "unknown");
		snprintf(r->remarks, sizeof(r->remarks), "daemon does not answer (%s)", mm_strerror(rc));
	}
	json_object_put(rep);
	json_object_put(req);
	return NULL;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	const struct cfg_node **nodes = NULL;
	const char *spec = NULL;
	bool all = false, L = false, s = false, Y = false;
	size_t n = 0, qdef = 0, qactive = 0, active = 0;
	struct row *rows;
	int c;

	while ((c = getopt(argc, argv, "aN:LsvYh")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'N': spec = optarg; break;
		case 'L': L = true; break;
		case 's': s = true; break;
		case 'v': break;
		case 'Y': Y = true; break;
		default:
			fprintf(stderr, "usage: mmgetstate [-L] [-s] [-v] [-Y] [-a | -N {Node[,Node...] | NodeFile}]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (cmd_env_init(&e, "mmgetstate", true) || cmd_select_nodes(&e, all, spec, &nodes, &n))
		return 1;
	rows = calloc(n + 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++) {
		rows[i].node = nodes[i];
		rows[i].e = &e;
		pthread_create(&rows[i].t, NULL, query, &rows[i]);
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(rows[i].t, NULL);
	for (size_t i = 0; i < e.def.nnodes; i++)
		qdef += e.def.nodes[i].quorum;

	if (Y) {
		printf("mmgetstate::HEADER:version:reserved:reserved:nodeName:nodeNumber:state:quorum:"
		       "nodesUp:totalNodes:remarks:cnfsState:\n");
		for (size_t i = 0; i < n; i++)
			printf("mmgetstate::0:1:::%s:%u:%s:%d:%d:%d:%s:%s:\n", rows[i].node->name,
			       rows[i].node->number, rows[i].state, rows[i].quorum, rows[i].nodes_up,
			       rows[i].total ? rows[i].total : (int)e.def.nnodes,
			       rows[i].node->quorum ? "quorum node" : "", "");
		goto out;
	}
	if (L) {
		printf("\n Node number  Node name        Quorum  Nodes up  Total nodes  GPFS state    Remarks\n");
		printf("-------------------------------------------------------------------------------------------\n");
	} else {
		printf("\n Node number  Node name        GPFS state\n");
		printf("-------------------------------------------\n");
	}
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];

		if (L) {
			char remarks[200];

			snprintf(remarks, sizeof(remarks), "%s%s%s", r->node->quorum ? "quorum node" : "",
				 r->node->quorum && r->remarks[0] ? "; " : "", r->remarks);
			printf("%8u      %-16s %5d %9d %11d       %-13s %s\n", r->node->number,
			       r->node->name, r->quorum, r->nodes_up,
			       r->total ? r->total : (int)e.def.nnodes, r->state, remarks);
		} else {
			printf("%8u      %-16s %s\n", r->node->number, r->node->name, r->state);
		}
	}
	if (s) {
		int quorum = 0;

		for (size_t i = 0; i < n; i++) {
			bool act = strcmp(rows[i].state, "active") == 0;

			active += act;
			qactive += act && rows[i].node->quorum;
			if (rows[i].quorum > quorum)
				quorum = rows[i].quorum;
		}
		if (!quorum)
			quorum = (int)(qdef / 2 + 1);
		printf("\n Summary information\n---------------------\n");
		printf("Number of nodes defined in the cluster:            %zu\n", e.def.nnodes);
		printf("Number of local nodes active in the cluster:       %zu\n", active);
		printf("Number of remote nodes joined in this cluster:     0\n");
		printf("Number of quorum nodes defined in the cluster:     %zu\n", qdef);
		printf("Number of quorum nodes active in the cluster:      %zu\n", qactive);
		printf("Quorum = %d, Quorum %s\n", quorum,
		       qactive >= (size_t)quorum ? "achieved" : "not achieved");
	}
out:
	free(rows);
	free(nodes);
	cmd_env_free(&e);
	return 0;
}
