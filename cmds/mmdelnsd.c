/*
 * mmdelnsd - delete Network Shared Disks.
 *
 *   mmdelnsd {"DiskName[;DiskName...]" | -F StanzaFile}
 *
 * Only NSDs that belong to no file system. The CCR record goes first (so
 * no node starts to use the disk meanwhile), then the descriptor on the
 * disk is cleared if it still holds that NSD: on its first server (through
 * the remote shell when that is another host), else here.
 *
 * Exit 0: every NSD named is deleted, and its descriptor cleared or found
 * not to be there any more (blank, damaged, or another NSD's: left
 * alone). 1: nothing deleted (a name refused), or an NSD deleted whose
 * descriptor could not be cleared (device absent, I/O error, server
 * unreachable). 2: usage, including an empty or invalid name list.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "cmds/libnsdlabel.h"
#include "common/err.h"
#include "mmfsd/admin.h"
#include "nsd/label.h"
#include "nsd/record.h"
#include "nsd/stanza.h"

/* Add <name> to <names> once ("nsd1;nsd1" deletes nsd1). */
static void add_name(json_object *names, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(names); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(names, i)), name) == 0)
			return;
	json_object_array_add(names, json_object_new_string(name));
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	json_object *req, *names, *rep = NULL, *gone;
	const char *file = NULL;
	char err[1024];
	int c, rc, warn = 0;

	while ((c = getopt(argc, argv, "F:h")) != -1) {
		if (c == 'F') {
			file = optarg;
			continue;
		}
		fprintf(stderr, "usage: mmdelnsd {\"DiskName[;DiskName...]\" | -F StanzaFile}\n");
		return c == 'h' ? 0 : 2;
	}
	if ((file && optind != argc) || (!file && optind != argc - 1)) {
		fprintf(stderr, "usage: mmdelnsd {\"DiskName[;DiskName...]\" | -F StanzaFile}\n");
		return 2;
	}
	req = json_object_new_object();
	names = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("delnsd"));
	json_object_object_add(req, "names", names);
	if (file) {
		struct nsd_stanza *st;
		size_t n;

		if (nsd_stanza_parse_file(file, &st, &n, err, sizeof(err))) {
			fprintf(stderr, "mmdelnsd: %s\n", err);
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			if (!st[i].nsd[0]) {
				fprintf(stderr, "mmdelnsd: %s:%d: the stanza names no NSD (nsd=)\n", file,
					st[i].line);
				return 1;
			}
			add_name(names, st[i].nsd);
		}
		free(st);
	} else {
		char *list = strdup(argv[optind]), *tok, *save;

		for (tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
			if (!nsd_name_valid(tok)) {
				fprintf(stderr, "mmdelnsd: \"%s\" is not a valid NSD name\n", tok);
				return 2;
			}
			add_name(names, tok);
		}
		free(list);
	}
	if (json_object_array_length(names) == 0) {
		fprintf(stderr, "mmdelnsd: no NSD named%s%s\n", file ? " in " : "", file ? file : "");
		fprintf(stderr, "usage: mmdelnsd {\"DiskName[;DiskName...]\" | -F StanzaFile}\n");
		return 2;
	}
	if (cmd_env_init(&e, "mmdelnsd", true))
		return 1;
	rc = cmd_request(&e, req, 30000, &rep);
	if (rc)
		return 1;
	json_object_object_get_ex(rep, "records", &gone);
	for (size_t i = 0; gone && i < json_object_array_length(gone); i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(gone, i));
		struct nsd_record r;

		if (nsd_record_decode(t, strlen(t), &r, err, sizeof(err)))
			continue;
		{
			const struct cfg_node *host = cmd_label_host(&e, (const char (*)[256])r.servers,
								     r.nservers);

			rc = cmd_label_clear(&e, host, r.device, r.id, err, sizeof(err));
			if (rc == MM_ESTATE) {
				/* nothing of this NSD on the disk: nothing left to do */
				printf("mmdelnsd: NSD %s deleted; %s: left alone\n", r.name, err);
			} else if (rc) {
				cmd_errf(&e, "NSD %s is deleted, but its descriptor could not be cleared: %s "
					     "(a leftover that mmcrnsd -v no may overwrite)", r.name, err);
				warn++;
			} else {
				printf("mmdelnsd: Processing disk %s\n", r.name);
			}
		}
	}
	cmd_nsd_rediscover(&e);
	printf("mmdelnsd: Propagating the cluster configuration data to all\n"
	       "  affected nodes.  This is an asynchronous process.\n");
	json_object_put(rep);
	cmd_env_free(&e);
	return warn ? 1 : 0;
}
