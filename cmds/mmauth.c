/*
 * mmauth - the cluster's key.
 *
 *   mmauth genkey new     create $MMFS_ROOT/ssl/cluster.{key,crt} (mmcrcluster
 *                         installs them on every node)
 *   mmauth show           fingerprint of the key in use and the cipherList
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/util.h"
#include "net/keys.h"

static int usage(void)
{
	fprintf(stderr, "usage: mmauth genkey new\n       mmauth show\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	char dir[PATH_MAX], crt[PATH_MAX], err[512], fp[256];
	int rc;

	if (argc < 2)
		return usage();
	cmd_env_init(&e, "mmauth", false);
	snprintf(dir, sizeof(dir), "%s/ssl", e.root);
	if (strcmp(argv[1], "genkey") == 0) {
		if (argc != 3 || strcmp(argv[2], "new") != 0)
			return usage();
		rc = mm_mkdir_p(dir, 0700);
		if (rc) {
			cmd_errf(&e, "cannot create %s: %s", dir, mm_strerror(rc));
			return 1;
		}
		rc = net_keys_gen_cluster(dir, "mmfs cluster", err, sizeof(err));
		if (rc == MM_EEXIST) {
			cmd_errf(&e, "a cluster key already exists in %s; remove it first to replace it", dir);
			return 1;
		}
		if (rc) {
			cmd_errf(&e, "%s", err);
			return 1;
		}
		snprintf(crt, sizeof(crt), "%s/cluster.crt", dir);
		net_keys_fingerprint(crt, fp, sizeof(fp));
		printf("mmauth: Generated the cluster key in %s\nmmauth: Fingerprint (SHA-256): %s\n"
		       "mmauth: Command successfully completed\n", dir, fp);
		return 0;
	}
	if (strcmp(argv[1], "show") == 0) {
		if (cmd_env_init(&e, "mmauth", true) == 0)
			snprintf(crt, sizeof(crt), "%s/%s/ssl/cluster.crt", e.root, e.def_node);
		else
			snprintf(crt, sizeof(crt), "%s/cluster.crt", dir);
		rc = net_keys_fingerprint(crt, fp, sizeof(fp));
		if (rc) {
			cmd_errf(&e, "no cluster key at %s: %s", crt, mm_strerror(rc));
			return 1;
		}
		printf("Cluster name:        %s\n", e.have_def ? e.def.name : "(none)");
		printf("Key file:            %s\n", crt);
		printf("SHA-256 fingerprint: %s\n", fp);
		for (size_t i = 0; i < e.def.nattrs; i++)
			if (strcasecmp(e.def.attr_names[i], "cipherList") == 0)
				printf("Cipher list:         %s\n", e.def.attr_values[i]);
		cmd_env_free(&e);
		return 0;
	}
	return usage();
}
