/* cmds/libfs.c - shared by mmlsfs, mmlsdisk, mmdf (see libfs.h). */
#include "cmds/libfs.h"

#include <stdio.h>
#include <string.h>

#include "fs/format.h"
#include "mmfsd/admin.h"

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
