/*
 * mmnsddiscover - rediscover the paths to NSDs.
 *
 *   mmnsddiscover [-a | -N Node[,Node...]]
 *
 * Each named node (default: the local one) rescans: it reads the NSD
 * table, probes each NSD's device (on its servers, or everywhere for
 * directly attached NSDs) and the nsdDevices list, matches descriptors by
 * NSD id, and reports per NSD where it is reached locally or why not.
 * -a asks every node of the cluster; nodes whose daemon is down are
 * reported and skipped.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

static int one(struct cmd_env *e, const char *node)
{
	json_object *req, *rep = NULL, *arr;
	int rc;

	if (node) {
		const struct cfg_node *n = cfg_cluster_node(&e->def, node);

		if (n && !cmd_addr_is_local(n->ip)) {
			/* another host: run ourselves there, for that node */
			char cmd[600], *out = NULL;

			snprintf(cmd, sizeof(cmd), "mmnsddiscover -N %s", n->name);
			rc = cmd_remote(e, n, cmd, &out);
			if (out)
				fputs(out, stdout);
			free(out);
			if (rc != 0)
				fprintf(stderr, "mmnsddiscover: %s: remote run failed (%d)\n", node, rc);
			return rc;
		}
	}
	req = json_object_new_object();

	json_object_object_add(req, "cmd", json_object_new_string("nsddiscover"));
	if (node)
		rc = cmd_admin(e, node, req, 60000, &rep);
	else
		rc = cmd_admin_local(e, req, 60000, &rep, NULL, 0);
	json_object_put(req);
	if (rc == 0)
		rc = cmd_reply_rc(e, rep, adm_get_int(rep, "rc", MM_EPROTO));
	else if (node)
		fprintf(stderr, "mmnsddiscover: %s: the daemon is not reachable: %s\n", node,
			mm_strerror(rc));
	if (rc == 0) {
		printf("mmnsddiscover: %s: %d NSD%s reached locally\n", node ? node : "this node",
		       adm_get_int(rep, "local", 0), adm_get_int(rep, "local", 0) == 1 ? "" : "s");
		if (json_object_object_get_ex(rep, "nsds", &arr))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				json_object *o = json_object_array_get_idx(arr, i);

				printf("  %-16s %-16s %s\n", adm_get_str(o, "name", "?"),
				       adm_get_str(o, "id", "?"), adm_get_str(o, "status", "?"));
			}
	}
	json_object_put(rep);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	const char *nodes = NULL;
	bool all = false;
	int c, bad = 0;

	while ((c = getopt(argc, argv, "aN:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'N': nodes = optarg; break;
		default:
			fprintf(stderr, "usage: mmnsddiscover [-a | -N Node[,Node...]]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mmnsddiscover: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (cmd_env_init(&e, "mmnsddiscover", true))
		return 1;
	if (!all && !nodes) {
		bad = one(&e, NULL) != 0;
	} else {
		const struct cfg_node **sel = NULL;
		size_t n = 0;

		if (cmd_select_nodes(&e, all, nodes, &sel, &n)) {
			cmd_env_free(&e);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			bad += one(&e, sel[i]->name) != 0;
		free(sel);
	}
	cmd_env_free(&e);
	return bad ? 1 : 0;
}
