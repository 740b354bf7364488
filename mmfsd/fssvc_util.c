/*
 * mmfsd/fssvc_util.c - the mount service's pure parts (fssvc.h): mount
 * options, and a mount mark's JSON text. Apart from fssvc.c so unit tests
 * link them without a stripe group.
 */
#include "mmfsd/fssvc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- options -------------------------------------------------------- */

int fssvc_parse_opts(const char *s, struct fssvc_opts *o, char *err, size_t errsz)
{
	char buf[512], *save = NULL;

	memset(o, 0, sizeof(*o));
	o->atime = FS_ATIME_RELATIME;
	if (!s || !*s)
		return MM_OK;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errsz, "mount options too long (%zu characters)", strlen(s));
		return MM_EINVAL;
	}
	strcpy(buf, s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "ro"))
			o->readonly = true;
		else if (!strcmp(t, "rw"))
			o->readonly = false;
		else if (!strcmp(t, "atime") || !strcmp(t, "strictatime"))
			o->atime = FS_ATIME_STRICT;
		else if (!strcmp(t, "noatime"))
			o->atime = FS_ATIME_NOATIME;
		else if (!strcmp(t, "relatime"))
			o->atime = FS_ATIME_RELATIME;
		else if (!strcmp(t, "nodiratime"))
			o->nodiratime = true;
		else if (!strcmp(t, "diratime"))
			o->nodiratime = false;
		else if (!strcmp(t, "suid"))
			o->nosuid = false;
		else if (!strcmp(t, "nosuid"))
			o->nosuid = true;
		else if (!strcmp(t, "dev"))
			o->nodev = false;
		else if (!strcmp(t, "nodev"))
			o->nodev = true;
		else if (!strcmp(t, "exec"))
			o->noexec = false;
		else if (!strcmp(t, "noexec"))
			o->noexec = true;
		else {
			snprintf(err, errsz, "unknown mount option \"%.64s\" (known: ro, rw, atime, "
				 "strictatime, noatime, relatime, nodiratime, diratime, suid, nosuid, "
				 "dev, nodev, exec, noexec)", t);
			return MM_EINVAL;
		}
	}
	return MM_OK;
}

void fssvc_format_opts(const struct fssvc_opts *o, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s,%s,%s,%s,%s%s", o->readonly ? "ro" : "rw",
		 o->atime == FS_ATIME_STRICT ? "atime" : o->atime == FS_ATIME_NOATIME ? "noatime"
										 : "relatime",
		 o->nosuid ? "nosuid" : "suid", o->nodev ? "nodev" : "dev", o->noexec ? "noexec" : "exec",
		 o->nodiratime ? ",nodiratime" : "");
}

/* ---- marks' JSON ---------------------------------------------------- */

int fssvc_mark_encode(const struct fssvc_mark *m, char **out)
{
	json_object *o = json_object_new_object();
	const char *t;

	*out = NULL;
	if (!o)
		return MM_ENOMEM;
	json_object_object_add(o, "device", json_object_new_string(m->device));
	json_object_object_add(o, "node", json_object_new_int64(m->node));
	json_object_object_add(o, "mountpoint", json_object_new_string(m->mountpoint));
	json_object_object_add(o, "options", json_object_new_string(m->opts));
	t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	*out = t ? strdup(t) : NULL;
	json_object_put(o);
	return *out ? MM_OK : MM_ENOMEM;
}

static bool copy_str(json_object *o, const char *key, char *dst, size_t sz)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (strlen(s) >= sz)
		return false;
	strcpy(dst, s);
	return true;
}

int fssvc_mark_decode(const char *text, size_t len, struct fssvc_mark *m, char *err, size_t errsz)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL, *v;
	int64_t node;
	int rc = MM_EPROTO;

	memset(m, 0, sizeof(*m));
	if (!tok)
		return MM_ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errsz, "a mount mark is not a JSON object");
		goto out;
	}
	if (!copy_str(o, "device", m->device, sizeof(m->device)) || !m->device[0] ||
	    !copy_str(o, "mountpoint", m->mountpoint, sizeof(m->mountpoint)) ||
	    !copy_str(o, "options", m->opts, sizeof(m->opts))) {
		snprintf(err, errsz, "a mount mark lacks device, mountpoint or options");
		goto out;
	}
	if (!json_object_object_get_ex(o, "node", &v) || !json_object_is_type(v, json_type_int) ||
	    (node = json_object_get_int64(v)) < 1 || node > UINT32_MAX) {
		snprintf(err, errsz, "mount mark of %s: no valid node number", m->device);
		goto out;
	}
	m->node = (uint32_t)node;
	rc = MM_OK;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}
