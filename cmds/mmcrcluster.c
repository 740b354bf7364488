/*
 * mmcrcluster - define a cluster.
 *
 *   mmcrcluster -N NodeFile|NodeDesc[,NodeDesc...] [-C ClusterName]
 *               [-r RemoteShell] [-R RemoteCopy] [-c ConfigFile]
 *               [--port N] [--etcd-ports CLIENT:PEER]
 *
 * Writes the cluster definition and the cluster key into every node's
 * state directory ($MMFS_ROOT/<node>), locally or through the remote
 * shell. Nothing is started: mmstartup does that, and the first quorum
 * node to reach etcd quorum seeds the CCR from this definition.
 */
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/util.h"
#include "net/keys.h"

static void usage(void)
{
	fprintf(stderr, "usage: mmcrcluster -N {NodeFile | NodeDesc[,NodeDesc...]} [-C ClusterName]\n"
			"                   [-r RemoteShellCommand] [-R RemoteFileCopyCommand]\n"
			"                   [-c ConfigFile] [--port Port] [--etcd-ports Client:Peer]\n"
			"  NodeDesc: NodeName:NodeDesignations[:AdminNodeName]\n"
			"  NodeDesignations: quorum|nonquorum and manager|client, e.g. quorum-manager\n");
}

/* -r / -R: a full path to an executable (GPFS wants it fully qualified),
 * which may be followed by options. */
static int check_prog(const struct cmd_env *e, char opt, const char *cmd, size_t max)
{
	char path[PATH_MAX];
	size_t n = strcspn(cmd, " \t");

	if (strlen(cmd) >= max) {
		cmd_errf(e, "-%c: longer than %zu characters", opt, max - 1);
		return MM_ETOOBIG;
	}
	if (cmd[0] != '/') {
		cmd_errf(e, "-%c %s: give the full path name of the command", opt, cmd);
		return MM_EINVAL;
	}
	snprintf(path, sizeof(path), "%.*s", (int)n, cmd);
	if (access(path, X_OK) != 0) {
		cmd_errf(e, "-%c %s: %s is not an executable file", opt, cmd, path);
		return MM_ENOENT;
	}
	return MM_OK;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"port", required_argument, NULL, 'P'},
		{"etcd-ports", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *nspec = NULL, *name = NULL, *rsh = "/usr/bin/ssh", *rcp = "/usr/bin/scp";
	const char *cfgfile = NULL;
	struct cmd_env e;
	struct cfg_cluster def;
	struct cfg_node_desc *nd = NULL;
	size_t nn = 0, nq = 0;
	char err[1024], keydir[PATH_MAX], path[PATH_MAX], aip[64];
	bool made_key = false;
	unsigned port = 1191, ecp = 2379, epp = 2380;
	int c, rc;

	cmd_env_init(&e, "mmcrcluster", false);
	while ((c = getopt_long(argc, argv, "N:C:r:R:c:A", lopts, NULL)) != -1) {
		switch (c) {
		case 'N': nspec = optarg; break;
		case 'C': name = optarg; break;
		case 'r': rsh = optarg; break;
		case 'R': rcp = optarg; break;
		case 'c': cfgfile = optarg; break;
		case 'A': break;	/* autoload: set as attribute below */
		case 'P':
			if (sscanf(optarg, "%u", &port) != 1 || port == 0 || port > 65535) {
				cmd_errf(&e, "--port %s: not a port number", optarg);
				return 2;
			}
			break;
		case 'E':
			if (sscanf(optarg, "%u:%u", &ecp, &epp) != 2 || !ecp || !epp || ecp > 65535 ||
			    epp > 65535 || ecp == epp) {
				cmd_errf(&e, "--etcd-ports %s: expected CLIENT:PEER port numbers", optarg);
				return 2;
			}
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (!nspec || optind != argc) {
		usage();
		return 2;
	}
	if (check_prog(&e, 'r', rsh, sizeof(def.rsh)) || check_prog(&e, 'R', rcp, sizeof(def.rcp)))
		return 1;
	if (name && cfg_cluster_name_check(name, err, sizeof(err))) {
		cmd_errf(&e, "-C: %s", err);
		return 1;
	}
	rc = cfg_parse_nodes_arg(nspec, &nd, &nn, err, sizeof(err));
	if (rc) {
		cmd_errf(&e, "%s", err);
		return 1;
	}
	printf("mmcrcluster: Performing preliminary node verification ...\n");
	fflush(stdout);
	cfg_cluster_init(&def);
	def.nodes = calloc(nn, sizeof(*def.nodes));
	if (!def.nodes)
		return 1;
	for (size_t i = 0; i < nn; i++) {
		struct cfg_node *n = &def.nodes[i];

		n->number = (uint32_t)i + 1;
		snprintf(n->name, sizeof(n->name), "%s", nd[i].name);
		snprintf(n->admin, sizeof(n->admin), "%s", nd[i].admin[0] ? nd[i].admin : nd[i].name);
		n->quorum = nd[i].quorum;
		n->manager = nd[i].manager;
		rc = cmd_resolve(n->name, n->ip, sizeof(n->ip));
		if (rc) {
			cmd_errf(&e, "cannot resolve node name %s: %s", n->name, gai_strerror(rc));
			return 1;
		}
		if (strcmp(n->admin, n->name) != 0 &&
		    (rc = cmd_resolve(n->admin, aip, sizeof(aip)))) {
			cmd_errf(&e, "cannot resolve admin node name %s (of node %s): %s", n->admin,
				 n->name, gai_strerror(rc));
			return 1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(def.nodes[j].ip, n->ip) == 0) {
				cmd_errf(&e, "nodes %s and %s have the same address %s", def.nodes[j].name,
					 n->name, n->ip);
				return 1;
			}
		nq += n->quorum;
	}
	def.nnodes = nn;
	if (nq == 0) {
		cmd_errf(&e, "at least one node must be a quorum node (NodeName:quorum-manager)");
		return 1;
	}
	if (nq > 9) {
		cmd_errf(&e, "%zu quorum nodes: at most 9 are supported", nq);
		return 1;
	}
	if (nq % 2 == 0)
		printf("mmcrcluster: Warning: %zu quorum nodes: an odd number survives more failures\n", nq);
	/* GPFS appends the first node's name to a name without a dot */
	if (!name)
		name = def.nodes[0].name;
	if (strchr(name, '.') || strcmp(name, def.nodes[0].name) == 0)
		snprintf(def.name, sizeof(def.name), "%s", name);
	else
		snprintf(def.name, sizeof(def.name), "%s.%s", name, def.nodes[0].name);
	if (cfg_cluster_name_check(def.name, err, sizeof(err))) {
		cmd_errf(&e, "%s%s", err, strcmp(def.name, name) == 0 ? ": give a cluster name with -C"
				 : " (a -C name without a dot gets the first node's name appended): "
				   "give a shorter -C name, or one with a dot");
		return 1;
	}
	if (getrandom(&def.id, sizeof(def.id), 0) != sizeof(def.id)) {
		cmd_errf(&e, "cannot make a cluster id");
		return 1;
	}
	def.id &= INT64_MAX;
	snprintf(def.rsh, sizeof(def.rsh), "%s", rsh);
	snprintf(def.rcp, sizeof(def.rcp), "%s", rcp);
	def.port = (uint16_t)port;
	def.etcd_client_port = (uint16_t)ecp;
	def.etcd_peer_port = (uint16_t)epp;
	def.generation = 1;
	if (cfgfile) {
		cfg_set *s = cfg_set_new();

		rc = s ? cfg_load_file(s, cfgfile, err, sizeof(err)) : MM_ENOMEM;
		if (rc) {
			cmd_errf(&e, "%s", err);
			return 1;
		}
		def.attr_names = calloc(cfg_attr_count(), sizeof(*def.attr_names));
		def.attr_values = calloc(cfg_attr_count(), sizeof(*def.attr_values));
		for (size_t i = 0; i < cfg_attr_count(); i++) {
			const char *an = cfg_attr_at(i)->name;

			if (cfg_is_default(s, an))
				continue;
			snprintf(def.attr_names[def.nattrs], 64, "%s", an);
			cfg_get(s, an, def.attr_values[def.nattrs], 256);
			def.nattrs++;
		}
		if (cfg_set_check(s, err, sizeof(err))) {
			cmd_errf(&e, "%s: %s", cfgfile, err);
			return 1;
		}
		cfg_set_free(s);
	}
	/* refuse before writing anything if a node already has a cluster */
	for (size_t i = 0; i < nn; i++) {
		if (!cmd_addr_is_local(def.nodes[i].ip))
			continue;
		snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", e.root, def.nodes[i].name);
		if (access(path, F_OK) == 0) {
			cmd_errf(&e, "node %s already belongs to a cluster (%s exists): "
				     "remove it with mmdelnode, or delete %s/%s after mmshutdown",
				 def.nodes[i].name, path, e.root, def.nodes[i].name);
			return 1;
		}
	}
	/* remote nodes: answer through the remote shell, and have no cluster yet */
	for (size_t i = 0; i < nn; i++) {
		if (!cmd_addr_is_local(def.nodes[i].ip) &&
		    cmd_check_new_remote(&e, &def, &def.nodes[i]))
			return 1;
	}
	printf("mmcrcluster: Processing quorum and other critical nodes ...\n");
	snprintf(keydir, sizeof(keydir), "%s/ssl", e.root);
	snprintf(path, sizeof(path), "%s/cluster.key", keydir);
	if (access(path, R_OK) != 0) {
		struct stat st;
		bool had_dir = stat(keydir, &st) == 0;

		printf("mmcrcluster: No cluster key in %s: generating one (mmauth genkey new)\n", keydir);
		rc = mm_mkdir_p(keydir, 0700);
		if (rc)
			snprintf(err, sizeof(err), "%s: %s", keydir, mm_strerror(rc));
		else
			rc = net_keys_gen_cluster(keydir, def.name, err, sizeof(err));
		if (rc) {
			cmd_errf(&e, "cannot generate the cluster key: %s", err);
			if (!had_dir)
				rmdir(keydir);
			return 1;
		}
		made_key = true;
	}
	printf("mmcrcluster: Finalizing the cluster data structures ...\n");
	for (size_t i = 0; i < nn; i++) {
		const struct cfg_node *n = &def.nodes[i];

		rc = cmd_install_node(&e, &def, n, keydir, NULL);
		if (rc) {
			cmd_errf(&e, "cannot install the cluster definition on node %s: %s", n->name,
				 rc == MM_ETIMEDOUT ? "node unreachable (no answer in time)"
						    : mm_strerror(rc));
			/* leave no half-made cluster behind on this machine */
			for (size_t j = 0; j <= i; j++) {
				char cmd[PATH_MAX + 32];

				if (!cmd_addr_is_local(def.nodes[j].ip))
					continue;
				snprintf(cmd, sizeof(cmd), "rm -rf -- '%s/%s'", e.root, def.nodes[j].name);
				if (system(cmd) != 0)
					cmd_errf(&e, "could not remove %s/%s", e.root, def.nodes[j].name);
			}
			if (made_key) {
				snprintf(path, sizeof(path), "%s/cluster.key", keydir);
				unlink(path);
				snprintf(path, sizeof(path), "%s/cluster.crt", keydir);
				unlink(path);
				rmdir(keydir);
			}
			return 1;
		}
	}
	printf("mmcrcluster: Cluster %s (id %" PRIu64 ") defined with %zu nodes, %zu quorum nodes\n",
	       def.name, def.id, nn, nq);
	printf("mmcrcluster: Command successfully completed\n");
	cfg_cluster_free(&def);
	free(nd);
	return 0;
}
