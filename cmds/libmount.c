/*
 * cmds/libmount.c - shared by mmmount, mmumount and mmlsmount
 * (libmount.h).
 */
#include "cmds/libmount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "mmfsd/admin.h"

#define MOUNT_TIMEOUT_MS 180000	/* a mount replays a log; an unmount writes back */

json_object *cmd_lsmount(struct cmd_env *e)
{
	json_object *req = json_object_new_object(), *rep = NULL;

	json_object_object_add(req, "cmd", json_object_new_string("lsmount"));
	if (cmd_request_readonly(e, req, 30000, &rep))
		return NULL;
	return rep;
}

size_t cmd_mount_devices(json_object *ls, const char *name, const char ***out)
{
	json_object *a;
	size_t n = 0;

	*out = NULL;
	if (strcmp(name, "all") != 0) {
		*out = calloc(1, sizeof(**out));
		if (!*out)
			return 0;
		(*out)[0] = name;
		return 1;
	}
	if (!ls || !json_object_object_get_ex(ls, "filesystems", &a))
		return 0;
	*out = calloc(json_object_array_length(a) + 1, sizeof(**out));
	if (!*out)
		return 0;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		(*out)[n++] = adm_get_str(json_object_array_get_idx(a, i), "device", "");
	return n;
}

static bool ignored(int rc, const int *ignore)
{
	for (; ignore && *ignore; ignore++)
		if (rc == *ignore)
			return true;
	return false;
}

/* One request to one daemon (<node> NULL: this node's). */
static int one(struct cmd_env *e, const char *node, json_object *req, const int *ignore,
	       bool name_node)
{
	json_object *rep = NULL;
	int rc = node ? cmd_admin(e, node, req, MOUNT_TIMEOUT_MS, &rep)
		      : cmd_admin_local(e, req, MOUNT_TIMEOUT_MS, &rep, NULL, 0);

	if (rc == MM_OK)
		rc = adm_get_int(rep, "rc", MM_EPROTO);
	else if (node)
		cmd_errf(e, "node %s: the daemon does not answer: %s", node, mm_strerror(rc));
	else
		rc = MM_EUNREACH;	/* cmd_admin_local said why */
	if (rc && rep && !ignored(rc, ignore)) {
		if (name_node && node)
			cmd_errf(e, "node %s: %s", node, adm_get_str(rep, "msg", mm_strerror(rc)));
		else
			cmd_errf(e, "%s", adm_get_str(rep, "msg", mm_strerror(rc)));
	}
	json_object_put(rep);
	return rc && !ignored(rc, ignore) ? 1 : 0;
}

int cmd_mount_request(struct cmd_env *e, const char *cmd, const char *const *devs, size_t ndevs,
		      json_object *extra, bool all, const char *spec, const char *remote,
		      const char *remote_opts, const int *ignore)
{
	const struct cfg_node **nodes = NULL;
	size_t nn = 0;
	int failed = 0;

	if ((all || spec) && cmd_select_nodes(e, all, spec, &nodes, &nn))
		return 1;
	for (size_t k = 0; k < ndevs; k++) {
		json_object *req = json_object_new_object();

		json_object_object_add(req, "cmd", json_object_new_string(cmd));
		json_object_object_add(req, "device", json_object_new_string(devs[k]));
		if (extra) {
			json_object_object_foreach(extra, key, val)
				json_object_object_add(req, key, json_object_get(val));
		}
		if (!all && !spec) {
			failed += one(e, NULL, req, ignore, false);
		} else {
			for (size_t i = 0; i < nn; i++) {
				char line[1200], *out = NULL;

				if (cmd_addr_is_local(nodes[i]->ip)) {
					failed += one(e, nodes[i]->name, req, ignore, nn > 1);
					continue;
				}
				snprintf(line, sizeof(line), "%s %s %s -N %s", remote, devs[k], remote_opts,
					 nodes[i]->name);
				if (cmd_remote(e, nodes[i], line, &out) != 0) {
					cmd_errf(e, "node %s: %s", nodes[i]->name,
						 out && *out ? out : "the remote command failed");
					failed++;
				}
				free(out);
			}
		}
		json_object_put(req);
	}
	free(nodes);
	return failed;
}
