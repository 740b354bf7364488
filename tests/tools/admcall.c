/*
 * admcall - send one admin request to a node's mmfsd and print the reply
 * (tests: the admin test hooks have no mm* command of their own).
 *
 *   admcall NODE '{"cmd":"memberfault","point":"etcd","nth":1,"action":"fail"}'
 *
 * Exit status: 0 if the daemon answered rc 0, 1 if it answered an error
 * or could not be reached (the message is printed), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: admcall NODE JSON-REQUEST\n");
		return 2;
	}
	req = json_tokener_parse(argv[2]);
	if (!req || !json_object_is_type(req, json_type_object)) {
		fprintf(stderr, "admcall: the request is not a JSON object: %s\n", argv[2]);
		json_object_put(req);
		return 2;
	}
	if (cmd_env_init(&e, "admcall", true)) {
		json_object_put(req);
		return 1;
	}
	rc = cmd_admin(&e, argv[1], req, 60000, &rep);
	json_object_put(req);
	if (rep)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	if (!rc)
		rc = cmd_reply_rc(&e, rep, rc);
	else
		fprintf(stderr, "admcall: node %s: %s\n", argv[1], mm_strerror(rc));
	json_object_put(rep);
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
