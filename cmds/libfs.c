/* cmds/libfs.c - shared by mmlsfs, mmlsdisk, mmdf (see libfs.h). */
#include "cmds/libfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/format.h"
#include "mmfsd/admin.h"
#include "nsd/stanza.h"

int cmd_fs_list(struct cmd_env *e, const char *device, json_object **rep, json_object **fss)
{
	json_object *req = json_object_new_object();
	int rc;

	*rep = NULL;
	*fss = NULL;
	json_object_object_add(req, "cmd", json_object_new_string("lsfs"));
	json_object_object_add(req, "device", json_object_new_string(device));
	rc = cmd_request(e, req, 120000, rep);
	if (rc)
		return rc;
	if (!json_object_object_get_ex(*rep, "filesystems", fss) || !json_object_is_type(*fss, json_type_array)) {
		cmd_errf(e, "the daemon's reply has no file system list");
		json_object_put(*rep);
		*rep = NULL;
		return 1;
	}
	return 0;
}

int cmd_fs_errors(const struct cmd_env *e, json_object *fss)
{
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(fss); i++) {
		json_object *f = json_object_array_get_idx(fss, i), *s;

		if (json_object_object_get_ex(f, "sgd", &s))
			continue;
		cmd_errf(e, "%s", cmd_js(f, "error")[0] ? cmd_js(f, "error") : "cannot read the file system");
		n++;
	}
	return n;
}

int cmd_fs_stanza_disks(const struct cmd_env *e, const char *file, json_object *disks)
{
	struct nsd_stanza *st = NULL;
	char err[1024];
	size_t n = 0;

	if (nsd_stanza_parse_file(file, &st, &n, err, sizeof(err))) {
		cmd_errf(e, "%s", err);
		return 1;
	}
	if (n == 0) {
		cmd_errf(e, "%s has no %%nsd stanza", file);
		free(st);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *d;

		if (!st[i].nsd[0]) {
			cmd_errf(e, "%s:%d: the stanza names no NSD (nsd=): run mmcrnsd -F %s first, it "
				    "fills the names in", file, st[i].line, file);
			free(st);
			return 1;
		}
		d = json_object_new_object();
		json_object_object_add(d, "nsd", json_object_new_string(st[i].nsd));
		if (st[i].usage_set)
			json_object_object_add(d, "usage", json_object_new_string(nsd_usage_name(st[i].usage)));
		if (st[i].failure_group_set)
			json_object_object_add(d, "failureGroup", json_object_new_int(st[i].failure_group));
		/* the parser gives "system" when pool= is absent, so only another
		 * pool overrides the NSD's, or a usage holding metadata (which
		 * only the system pool may hold) */
		if (strcmp(st[i].pool, "system") || (st[i].usage_set && nsd_usage_metadata(st[i].usage)))
			json_object_object_add(d, "pool", json_object_new_string(st[i].pool));
		json_object_array_add(disks, d);
	}
	free(st);
	return 0;
}

int cmd_fs_print_reply(const struct cmd_env *e, json_object *rep)
{
	json_object *lines;
	int rc;

	if (json_object_object_get_ex(rep, "lines", &lines))
		for (size_t i = 0; i < json_object_array_length(lines); i++)
			printf("%s\n", json_object_get_string(json_object_array_get_idx(lines, i)));
	fflush(stdout);
	rc = adm_get_int(rep, "rc", 1);
	if (rc) {
		char *msg = strdup(adm_get_str(rep, "msg", "failed")), *save = NULL;

		for (char *l = msg ? strtok_r(msg, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			cmd_errf(e, "%s", l);
		free(msg);
	}
	return rc;
}

const char *cmd_fs_usage_name(int usage)
{
	static const char *const n[] = {"dataAndMetadata", "metadataOnly", "dataOnly", "descOnly"};

	return usage >= 0 && usage < 4 ? n[usage] : "?";
}

bool cmd_fs_holds_meta(int usage)
{
	return usage == FS_USAGE_DATA_AND_META || usage == FS_USAGE_META_ONLY;
}

bool cmd_fs_holds_data(int usage)
{
	return usage == FS_USAGE_DATA_AND_META || usage == FS_USAGE_DATA_ONLY;
}

const char *cmd_fs_status_name(int status)
{
	static const char *const n[] = {"ready", "suspended", "being emptied", "emptied"};

	return status >= 0 && status < 4 ? n[status] : "?";
}

const char *cmd_fs_avail_name(int avail)
{
	static const char *const n[] = {"up", "down", "recovering"};

	return avail >= 0 && avail < 3 ? n[avail] : "?";
}

long long cmd_ji(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

const char *cmd_js(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : "";
}
