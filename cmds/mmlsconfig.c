/*
 * mmlsconfig - list configuration attributes from the CCR.
 *
 *   mmlsconfig [Attribute ...] [-Y]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

static int list(struct cmd_env *e, const char *attr, bool Y, bool header)
{
	json_object *req = json_object_new_object(), *rep = NULL;
	int rc;

	json_object_object_add(req, "cmd", json_object_new_string("lsconfig"));
	if (attr)
		json_object_object_add(req, "attr", json_object_new_string(attr));
	json_object_object_add(req, "Y", json_object_new_int(Y));
	rc = cmd_request(e, req, 10000, &rep);
	if (!rc) {
		const char *t = adm_get_str(rep, "text", "");

		/* one header line for several attributes in -Y mode */
		if (Y && !header && strncmp(t, "mmlsconfig::HEADER", 18) == 0)
			t = strchr(t, '\n') ? strchr(t, '\n') + 1 : t;
		fputs(t, stdout);
	}
	json_object_put(rep);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	bool Y = false;
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
	if (optind == argc)
		failed = list(&e, NULL, Y, true) != 0;
	for (int i = optind; i < argc; i++)
		failed |= list(&e, argv[i], Y, i == optind) != 0;
	cmd_env_free(&e);
	return failed;
}
