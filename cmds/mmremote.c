/*
 * mmremote - internal helper that other nodes' commands run through the
 * remote shell (GPFS has one of the same name).
 *
 *   mmremote admin HEXJSON [NODE]
 *
 * Sends the hex-encoded JSON admin request to the daemon of NODE (which
 * runs on this machine), or without NODE to this machine's daemon as
 * cmd_admin_local chooses it, and prints its reply as one line
 * "mmremote-reply: {...}". Relayed: read-only requests
 * (cmd_readonly_request), and adddisk, which must run where the file
 * system is mounted (cmd_admin_node); other changes go through a local
 * daemon of the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "mmfsd/admin.h"

static int unhex(const char *s, char **out)
{
	size_t n = strlen(s);
	char *b;

	if (n == 0 || n % 2)
		return MM_EINVAL;
	b = malloc(n / 2 + 1);
	if (!b)
		return MM_ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i + 1])) {
			free(b);
			return MM_EINVAL;
		}
		b[i] = (char)v;
	}
	b[n / 2] = '\0';
	*out = b;
	return MM_OK;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *rep = NULL;
	char *js = NULL;
	bool change;
	int rc;

	if ((argc != 3 && argc != 4) || strcmp(argv[1], "admin") != 0) {
		fprintf(stderr, "usage: mmremote admin HEXJSON [NODE] (internal: run through the remote shell)\n");
		return 2;
	}
	if (unhex(argv[2], &js) || !(req = json_tokener_parse(js))) {
		fprintf(stderr, "mmremote: the request is not hex-encoded JSON\n");
		free(js);
		return 2;
	}
	free(js);
	change = !strcmp(adm_get_str(req, "cmd", ""), "adddisk");
	if (!cmd_readonly_request(req) && !change) {
		fprintf(stderr, "mmremote: only read-only requests and adddisk are relayed\n");
		json_object_put(req);
		return 2;
	}
	if (cmd_env_init(&e, "mmremote", true)) {
		json_object_put(req);
		return 1;
	}
	if (argc == 4 && setenv("MMFS_NODE", argv[3], 1)) {
		json_object_put(req);
		cmd_env_free(&e);
		return 1;
	}
	/* adddisk formats the new disks' maps: mmadddisk's own bound */
	rc = cmd_admin_local(&e, req, change ? 900000 : 120000, &rep, NULL, 0);
	json_object_put(req);
	if (rc == MM_OK)
		printf(CMD_REMOTE_REPLY "%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
	cmd_env_free(&e);
	return rc ? 1 : 0;
}
