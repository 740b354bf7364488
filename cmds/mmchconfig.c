/*
 * mmchconfig - change configuration attributes in the CCR.
 *
 *   mmchconfig Attribute=value[,Attribute=value...] [-i | -I] [-N {Node[,Node...] | all}]
 *
 * The change is one compare-and-swap transaction done by a local daemon;
 * every daemon applies dynamic attributes as soon as it sees the change.
 * -i / -I are accepted for compatibility: dynamic attributes always apply
 * at once and are always stored.
 *
 * After the change the output says which of the attributes are not
 * dynamic (they take effect at the next mmstartup), and warns about
 * values stored but not honoured by this build (verbsRdma=enable without
 * an RDMA transport), as GPFS stores them too.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

/* Values this build accepts and stores but cannot act on (canonical form). */
static const struct {
	const char *attr, *value, *why;
} unhonoured[] = {
	{"verbsRdma", "enable", "this build has no RDMA transport: NSD data keeps going over TCP"},
	{"verbsRdmaSend", "yes", "this build has no RDMA transport: daemon messages keep going over TCP"},
};

/* What the administrator needs to know about <name>=<value> once stored. */
static void after_change(const char *name, const char *value)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	char canon[256], err[256];

	if (!a)
		return;
	if (!a->dynamic)
		printf("mmchconfig: attribute %s takes effect at the next mmstartup of the daemons\n",
		       a->name);
	if (cfg_attr_validate(a, value, canon, sizeof(canon), "mmchconfig", err, sizeof(err)))
		return;
	for (size_t i = 0; i < sizeof(unhonoured) / sizeof(unhonoured[0]); i++)
		if (strcmp(a->name, unhonoured[i].attr) == 0 && strcmp(canon, unhonoured[i].value) == 0)
			printf("mmchconfig: warning: %s %s is stored, but %s\n", a->name, canon,
			       unhonoured[i].why);
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *names, *values, *nodes;
	const char *spec = NULL;
	char *list, *tok, *save;
	int c, rc;

	while ((c = getopt(argc, argv, "iIN:h")) != -1) {
		switch (c) {
		case 'i':
		case 'I':
			break;
		case 'N':
			spec = optarg;
			break;
		default:
			fprintf(stderr, "usage: mmchconfig Attribute=value[,Attribute=value...] [-i | -I] "
					"[-N {Node[,Node...] | NodeFile | all}]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mmchconfig: expected one Attribute=value[,Attribute=value...] argument\n");
		return 2;
	}
	if (cmd_env_init(&e, "mmchconfig", true))
		return 1;
	req = json_object_new_object();
	names = json_object_new_array();
	values = json_object_new_array();
	nodes = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("chconfig"));
	json_object_object_add(req, "names", names);
	json_object_object_add(req, "values", values);
	json_object_object_add(req, "nodes", nodes);
	list = strdup(argv[optind]);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok || !eq[1]) {
			cmd_errf(&e, "\"%s\" is not of the form Attribute=value", tok);
			return 1;
		}
		*eq = '\0';
		json_object_array_add(names, json_object_new_string(tok));
		json_object_array_add(values, json_object_new_string(eq + 1));
	}
	free(list);
	if (spec && strcmp(spec, "all") != 0) {
		const struct cfg_node **sel = NULL;
		size_t n = 0;

		if (cmd_select_nodes(&e, false, spec, &sel, &n))
			return 1;
		for (size_t i = 0; i < n; i++)
			json_object_array_add(nodes, json_object_new_string(sel[i]->name));
		free(sel);
	}
	/* cmd_request consumes req: keep the lists for the notes below */
	json_object_get(names);
	json_object_get(values);
	rc = cmd_request(&e, req, 30000, NULL);
	if (rc) {
		json_object_put(names);
		json_object_put(values);
		return 1;
	}
	for (size_t i = 0; i < json_object_array_length(names); i++)
		after_change(json_object_get_string(json_object_array_get_idx(names, i)),
			     json_object_get_string(json_object_array_get_idx(values, i)));
	json_object_put(names);
	json_object_put(values);
	printf("mmchconfig: Command successfully completed\n");
	printf("mmchconfig: Propagating the cluster configuration data to all\n"
	       "  affected nodes.  This is an asynchronous process.\n");
	cmd_env_free(&e);
	return 0;
}
