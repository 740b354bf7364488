/*
 * mmaddnode - add nodes to a running cluster.
 *
 *   mmaddnode -N {NodeDesc[,NodeDesc...] | NodeFile}
 *
 * A local daemon makes the change (an etcd member for each new quorum
 * node, then the definition in the CCR); this command then installs the
 * definition and the cluster key on the new nodes. Start them with
 * mmstartup -N.
 */
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

/*
 * The definition each daemon running on this machine keeps follows the
 * CCR a moment later (its etcd watch), and the next command here reads
 * one of those copies: `mmstartup -N` of a new node right after this
 * once found it "does not belong to the cluster". Wait, at most 10 s,
 * until every such copy names the new nodes, as GPFS's mmaddnode
 * returns once the definition is everywhere.
 */
static void wait_local_copies(const struct cmd_env *e, const struct cfg_node_desc *nd, size_t nn)
{
	for (int t = 0; t < 100; t++) {
		DIR *dir = opendir(e->root);
		struct dirent *de;
		bool all = true;

		while (dir && all && (de = readdir(dir))) {
			struct cfg_cluster c;
			char path[PATH_MAX], err[256];

			if (de->d_name[0] == '.' || !cmd_daemon_pid(e, de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", e->root, de->d_name);
			cfg_cluster_init(&c);
			if (cfg_cluster_load(&c, path, err, sizeof(err)) != MM_OK)
				all = false;
			for (size_t i = 0; all && i < nn; i++)
				all = cfg_cluster_node(&c, nd[i].name) != NULL;
			cfg_cluster_free(&c);
		}
		if (dir)
			closedir(dir);
		if (all)
			return;
		usleep(100 * 1000);
	}
	printf("mmaddnode: the daemons on this node have not yet received the new definition; "
	       "commands here may not know the new nodes for a few seconds\n");
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	struct cfg_node_desc *nd = NULL;
	struct cfg_cluster def;
	json_object *req, *arr, *rep = NULL;
	const char *spec = NULL;
	char err[512], ip[64], aip[64], keydir[PATH_MAX], path[PATH_MAX];
	size_t nn = 0;
	int c, rc;

	while ((c = getopt(argc, argv, "N:h")) != -1) {
		if (c == 'N') {
			spec = optarg;
			continue;
		}
		fprintf(stderr, "usage: mmaddnode -N {NodeDesc[,NodeDesc...] | NodeFile}\n");
		return c == 'h' ? 0 : 2;
	}
	if (!spec || optind != argc) {
		fprintf(stderr, "usage: mmaddnode -N {NodeDesc[,NodeDesc...] | NodeFile}\n");
		return 2;
	}
	if (cmd_env_init(&e, "mmaddnode", true))
		return 1;
	rc = cfg_parse_nodes_arg(spec, &nd, &nn, err, sizeof(err));
	if (rc) {
		cmd_errf(&e, "%s", err);
		return 1;
	}
	req = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("addnode"));
	json_object_object_add(req, "nodes", arr);
	for (size_t i = 0; i < nn; i++) {
		json_object *o = json_object_new_object();

		rc = cmd_resolve(nd[i].name, ip, sizeof(ip));
		if (rc) {
			cmd_errf(&e, "cannot resolve node name %s: %s", nd[i].name, gai_strerror(rc));
			return 1;
		}
		if (nd[i].admin[0] && strcmp(nd[i].admin, nd[i].name) != 0 &&
		    (rc = cmd_resolve(nd[i].admin, aip, sizeof(aip)))) {
			cmd_errf(&e, "cannot resolve admin node name %s (of node %s): %s", nd[i].admin,
				 nd[i].name, gai_strerror(rc));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", e.root, nd[i].name);
		if (cmd_addr_is_local(ip) && access(path, F_OK) == 0) {
			cmd_errf(&e, "node %s already belongs to a cluster (%s exists)", nd[i].name, path);
			return 1;
		}
		if (!cmd_addr_is_local(ip)) {
			struct cfg_node probe = {0};

			snprintf(probe.name, sizeof(probe.name), "%s", nd[i].name);
			snprintf(probe.ip, sizeof(probe.ip), "%s", ip);
			snprintf(probe.admin, sizeof(probe.admin), "%s",
				 nd[i].admin[0] ? nd[i].admin : nd[i].name);
			if (cmd_check_new_remote(&e, &e.def, &probe))
				return 1;
		}
		json_object_object_add(o, "name", json_object_new_string(nd[i].name));
		json_object_object_add(o, "ip", json_object_new_string(ip));
		json_object_object_add(o, "admin", json_object_new_string(nd[i].admin));
		json_object_object_add(o, "quorum", json_object_new_int(nd[i].quorum));
		json_object_object_add(o, "manager", json_object_new_int(nd[i].manager));
		json_object_array_add(arr, o);
	}
	printf("mmaddnode: Verifying GPFS is stopped on all affected nodes ...\n");
	fflush(stdout);
	rc = cmd_request(&e, req, 60000, &rep);
	if (rc)
		return 1;
	if (cmd_parse_def(&e, adm_get_str(rep, "text", ""), &e.def, &def))
		return 1;
	snprintf(keydir, sizeof(keydir), "%s/%s/ssl", e.root, e.def_node);
	for (size_t i = 0; i < nn; i++) {
		const struct cfg_node *n = cfg_cluster_node(&def, nd[i].name);

		if (!n)
			continue;
		rc = cmd_install_node(&e, &def, n, keydir, n->quorum ? adm_get_str(rep, "join", NULL) : NULL);
		if (rc) {
			cmd_errf(&e, "node %s was added, but its files could not be installed: %s",
				 n->name, mm_strerror(rc));
			return 1;
		}
		printf("mmaddnode: Node %s added as node %u%s\n", n->name, n->number,
		       n->quorum ? " (quorum node)" : "");
	}
	wait_local_copies(&e, nd, nn);
	printf("mmaddnode: Command successfully completed\n"
	       "mmaddnode: Start the new nodes with: mmstartup -N ");
	for (size_t i = 0; i < nn; i++)
		printf("%s%s", i ? "," : "", nd[i].name);
	printf("\n");
	json_object_put(rep);
	cfg_cluster_free(&def);
	free(nd);
	cmd_env_free(&e);
	return 0;
}
