/*
 * mmlsconfig - list configuration attributes from the CCR.
 *
 *   mmlsconfig [Attribute ...] [-Y]
 *
 * The values come from a daemon (this node's, another local node's, or a
 * quorum node's through the remote shell: cmd_admin_any), else from this
 * node's local copy of the cluster definition, which holds the values
 * effective on this node and may be stale (also when the daemon that
 * answered cannot read the CCR, having no quorum); stderr says which when
 * it is not this node's daemon. One formatter prints both (libcfglist.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds/libcfglist.h"
#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

/* The values from a daemon, else from the local copy. */
static int load(struct cmd_env *e, struct cmd_cfg_list *l)
{
	json_object *req = json_object_new_object(), *rep = NULL;
	int rc;

	json_object_object_add(req, "cmd", json_object_new_string("lsconfig"));
	rc = cmd_admin_any(e, req, 10000, &rep);
	json_object_put(req);
	if (rc == MM_ENOENT) {
		cmd_note_local_copy(e);
		return cmd_cfg_list_from_def(&e->def, l);
	}
	if (adm_get_int(rep, "rc", MM_EPROTO) != MM_OK) {
		/* a daemon without quorum cannot read the CCR: GPFS still answers */
		cmd_reply_rc(e, rep, 0);
		json_object_put(rep);
		cmd_errf(e, "answering from the local copy of the cluster definition (may be stale)");
		return cmd_cfg_list_from_def(&e->def, l);
	}
	if ((rc = cmd_cfg_list_from_reply(rep, l)))
		cmd_errf(e, "malformed reply from the daemon");
	json_object_put(rep);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	struct cmd_cfg_list l;
	bool Y = false, header = true;
	int c, failed = 0;

	while ((c = getopt(argc, argv, "Yh")) != -1) {
		if (c == 'Y') {
			Y = true;
			continue;
		}
		fprintf(stderr, "usage: mmlsconfig [Attribute ...] [-Y]\n");
		return c == 'h' ? 0 : 2;
	}
	if (cmd_env_init(&e, "mmlsconfig", true))
		return 1;
	if (load(&e, &l)) {
		cmd_env_free(&e);
		return 1;
	}
	if (optind == argc)
		cmd_cfg_list_print(stdout, &l, NULL, Y, true);
	for (int i = optind; i < argc; i++) {
		const struct cfg_attr *a = cfg_attr_find(argv[i]);

		if (!a) {
			fflush(stdout);
			cmd_errf(&e, "unknown attribute %s", argv[i]);
			failed = 1;
			continue;
		}
		/* one header line for several attributes in -Y mode */
		cmd_cfg_list_print(stdout, &l, a, Y, header);
		header = false;
	}
	cmd_cfg_list_free(&l);
	cmd_env_free(&e);
	return failed;
}
