/*
 * mmexpelnode - expel nodes from the cluster now, or list expel requests.
 *
 *   mmexpelnode -N {Node[,Node...] | NodeFile}
 *   mmexpelnode --list
 *
 * -N: this node's daemon asks the cluster manager to expel each node
 * (cluster/expel.c, a request in the CCR), and answers once the node's
 * membership is gone; an expelled node finds its lease revoked and
 * rejoins by itself, as after any expel. The node this runs on may be
 * named; the cluster manager may not (move the role first with mmchmgr
 * -c). --list: the expel requests pending in the CCR (node, requester,
 * age, reason); a request is pending only until the cluster manager
 * serves it, normally a fraction of a second.
 *
 * GPFS's -r (reset the list of expelled nodes) has no use here: an
 * expelled node is not kept out, it rejoins by itself; -r says so.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

static void usage(void)
{
	fprintf(stderr, "usage: mmexpelnode -N {Node[,Node...] | NodeFile}\n"
			"       mmexpelnode --list\n");
}

static int list(struct cmd_env *e)
{
	json_object *req = json_object_new_object(), *rep = NULL, *arr = NULL;
	size_t n = 0;

	json_object_object_add(req, "cmd", json_object_new_string("expel"));
	json_object_object_add(req, "op", json_object_new_string("list"));
	if (cmd_request(e, req, 10000, &rep))
		return 1;
	if (json_object_object_get_ex(rep, "requests", &arr) && json_object_is_type(arr, json_type_array))
		n = json_object_array_length(arr);
	if (n == 0) {
		printf("No expel requests are pending.\n");
		json_object_put(rep);
		return 0;
	}
	printf("%-20s %-20s %6s  %s\n", "Node", "Requested by", "Age", "Reason");
	printf("%-20s %-20s %6s  %s\n", "--------------------", "--------------------", "------",
	       "------");
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i), *t = NULL, *f = NULL, *age = NULL;
		char agebuf[24];

		json_object_object_get_ex(r, "target", &t);
		json_object_object_get_ex(r, "from", &f);
		json_object_object_get_ex(r, "age", &age);
		snprintf(agebuf, sizeof(agebuf), "%llds", (long long)json_object_get_int64(age));
		printf("%-20s %-20s %6s  %s\n", adm_get_str(t, "name", "?"), adm_get_str(f, "name", "?"),
		       agebuf, adm_get_str(r, "why", ""));
	}
	json_object_put(rep);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"list", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cmd_env e;
	const struct cfg_node **sel = NULL;
	json_object *req, *names, *rep = NULL, *done = NULL;
	const char *spec = NULL;
	bool do_list = false;
	struct passwd *pw;
	char user[64];
	size_t n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "N:rh", lopts, NULL)) != -1) {
		switch (c) {
		case 'N': spec = optarg; break;
		case 'l': do_list = true; break;
		case 'r':
			fprintf(stderr, "mmexpelnode: -r: there is no list of expelled nodes to reset: an "
					"expelled node rejoins the cluster by itself\n");
			return 1;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc || do_list == (spec != NULL)) {
		usage();
		return 2;
	}
	if (cmd_env_init(&e, "mmexpelnode", true))
		return 1;
	if (do_list) {
		rc = list(&e);
		cmd_env_free(&e);
		return rc;
	}
	if (cmd_select_nodes(&e, false, spec, &sel, &n)) {
		cmd_env_free(&e);
		return 1;
	}
	pw = getpwuid(getuid());
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "uid %u", (unsigned)getuid());
	req = json_object_new_object();
	names = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("expel"));
	json_object_object_add(req, "op", json_object_new_string("expel"));
	json_object_object_add(req, "nodes", names);
	json_object_object_add(req, "user", json_object_new_string(user));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(names, json_object_new_string(sel[i]->name));
	/* each node may take the daemon's 10 s */
	rc = cmd_request(&e, req, 10000 * (int)n + 5000, &rep);
	if (rc == 0 && json_object_object_get_ex(rep, "expelled", &done))
		for (size_t i = 0; i < json_object_array_length(done); i++) {
			json_object *o = json_object_array_get_idx(done, i);

			printf("Node %s (%s) expelled.\n", adm_get_str(o, "ip", "?"), adm_get_str(o, "name", "?"));
		}
	json_object_put(rep);
	free(sel);
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
