/*
 * mmfsd/fsrec.c - the CCR record of a file system (see fsrec.h): the
 * encoder, the strict decoder, the checks both share, and the fsid
 * choice.
 */
#include "mmfsd/fsrec.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/mkfs.h"

static const char *const state_names[] = {"creating", "ready"};

const char *fsrec_state_name(enum fsrec_state s)
{
	return (unsigned)s < 2 ? state_names[s] : "?";
}

void fsrec_key(const char *device, char *buf, size_t sz)
{
	snprintf(buf, sz, FSREC_CCR_PREFIX "%s", device);
}

void fsrec_fsid_key(uint32_t fsid, char *buf, size_t sz)
{
	snprintf(buf, sz, FSREC_FSID_PREFIX "%" PRIu32, fsid);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint32_t fsrec_lowest_free(const uint32_t *used, size_t n)
{
	uint32_t *s = malloc((n + 1) * sizeof(*s)), want = 1;

	if (!s)
		return 0;
	if (n) {
		memcpy(s, used, n * sizeof(*s));
		qsort(s, n, sizeof(*s), cmp_u32);
	}
	for (size_t i = 0; i < n && want <= FS_FSID_MAX; i++)
		if (s[i] == want)
			want++;
	free(s);
	return want <= FS_FSID_MAX ? want : 0;
}

int fsrec_encode(const struct fsrec *r, char **out)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	*out = NULL;
	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return MM_ENOMEM;
	}
	json_object_object_add(o, "version", json_object_new_int(FSREC_VERSION));
	json_object_object_add(o, "device", json_object_new_string(r->device));
	json_object_object_add(o, "fsid", json_object_new_int64(r->fsid));
	json_object_object_add(o, "state", json_object_new_string(fsrec_state_name(r->state)));
	for (uint32_t i = 0; i < r->ndisks && i < FS_MAX_DISKS; i++) {
		json_object *d = json_object_new_object();
		char id[32];

		nsd_id_format(r->disk[i].id, id, sizeof(id));
		json_object_object_add(d, "nsd", json_object_new_string(r->disk[i].name));
		json_object_object_add(d, "id", json_object_new_string(id));
		json_object_array_add(arr, d);
	}
	json_object_object_add(o, "disks", arr);
	json_object_object_add(o, "mountPoint", json_object_new_string(r->mount_point));
	json_object_object_add(o, "automount", json_object_new_string(r->automount));
	json_object_object_add(o, "numNodes", json_object_new_int64(r->num_nodes));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)r->created));
	json_object_object_add(o, "createdOn", json_object_new_string(r->created_on));
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return *out ? MM_OK : MM_ENOMEM;
}

static int bad(char *err, size_t errsz, const char *fmt, const char *what)
{
	snprintf(err, errsz, fmt, what);
	return MM_EPROTO;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

int fsrec_check(const struct fsrec *r, char *err, size_t errsz)
{
	if (!fs_simple_name(r->device, FS_DEVICE_MAX))
		return bad(err, errsz, "file system record: invalid device name%s", "");
	if (r->fsid < 1 || r->fsid > FS_FSID_MAX)
		return bad(err, errsz, "file system record %s: fsid out of range", r->device);
	if (r->state != FSREC_CREATING && r->state != FSREC_READY)
		return bad(err, errsz, "file system record %s: invalid state", r->device);
	if (r->mount_point[0] != '/' || !printable(r->mount_point) ||
	    strnlen(r->mount_point, sizeof(r->mount_point)) >= sizeof(r->mount_point))
		return bad(err, errsz, "file system record %s: invalid mountPoint", r->device);
	if (strcmp(r->automount, "yes") && strcmp(r->automount, "no") && strcmp(r->automount, "automount"))
		return bad(err, errsz, "file system record %s: automount is not yes, no or automount",
			   r->device);
	if (r->num_nodes < 1 || r->num_nodes > FS_MKFS_MAX_NODES)
		return bad(err, errsz, "file system record %s: numNodes out of range", r->device);
	if (r->created > INT64_MAX)
		return bad(err, errsz, "file system record %s: created out of range", r->device);
	if (!r->created_on[0] || !printable(r->created_on) ||
	    strnlen(r->created_on, sizeof(r->created_on)) >= sizeof(r->created_on))
		return bad(err, errsz, "file system record %s: invalid createdOn", r->device);
	if (r->ndisks < 1 || r->ndisks > FS_MAX_DISKS)
		return bad(err, errsz, "file system record %s: disks: 1 to 1024 needed", r->device);
	for (uint32_t i = 0; i < r->ndisks; i++) {
		if (!nsd_name_valid(r->disk[i].name) || !r->disk[i].id)
			return bad(err, errsz, "file system record %s: disks: invalid NSD name or id",
				   r->device);
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(r->disk[k].name, r->disk[i].name) || r->disk[k].id == r->disk[i].id)
				return bad(err, errsz, "file system record %s: disks: an NSD is named twice",
					   r->device);
	}
	return MM_OK;
}

/* String member <key> into <buf> (<sz> with the NUL). */
static int get_str(json_object *o, const char *key, char *buf, size_t sz, char *err, size_t errsz)
{
	json_object *v;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return bad(err, errsz, "file system record: \"%s\" missing or not a string", key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len >= sz || strlen(s) != len)
		return bad(err, errsz, "file system record: \"%s\" too long or holds a NUL", key);
	memcpy(buf, s, len + 1);
	return MM_OK;
}

/* Integer member <key> in [lo, hi]. */
static int get_int(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err,
		   size_t errsz)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return bad(err, errsz, "file system record: \"%s\" missing or not an integer", key);
	*out = json_object_get_int64(v);
	/* json-c saturates what does not fit: INT64_MAX is refused with it */
	if (*out < lo || *out > hi || *out == INT64_MAX)
		return bad(err, errsz, "file system record: \"%s\" out of range", key);
	return MM_OK;
}

static bool only_keys(json_object *o, const char *const *keys, size_t n, const char **extra)
{
	json_object_object_foreach(o, k, v) {
		size_t i;
		(void)v;

		for (i = 0; i < n && strcmp(k, keys[i]); i++)
			;
		if (i == n) {
			*extra = k;
			return false;
		}
	}
	return true;
}

static int decode_disks(json_object *o, struct fsrec *r, char *err, size_t errsz)
{
	static const char *const dkeys[] = {"nsd", "id"};
	json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(o, "disks", &arr) || !json_object_is_type(arr, json_type_array))
		return bad(err, errsz, "file system record: \"%s\" missing or not an array", "disks");
	n = json_object_array_length(arr);
	if (n < 1 || n > FS_MAX_DISKS)
		return bad(err, errsz, "file system record: %s: 1 to 1024 disks needed", "disks");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);
		const char *extra = "";
		char id[32];
		int rc;

		if (!json_object_is_type(d, json_type_object))
			return bad(err, errsz, "file system record: %s: an entry is not an object", "disks");
		if (!only_keys(d, dkeys, 2, &extra))
			return bad(err, errsz, "file system record: disks: unknown field \"%.64s\"", extra);
		if ((rc = get_str(d, "nsd", r->disk[i].name, sizeof(r->disk[i].name), err, errsz)) ||
		    (rc = get_str(d, "id", id, sizeof(id), err, errsz)))
			return rc;
		if (nsd_id_parse(id, &r->disk[i].id))
			return bad(err, errsz, "file system record: disks: invalid NSD id \"%.32s\"", id);
		/* one encoding per record: the id as nsd_id_format writes it */
		{
			char again[32];

			nsd_id_format(r->disk[i].id, again, sizeof(again));
			if (strcmp(again, id))
				return bad(err, errsz, "file system record: disks: NSD id \"%.32s\" is not "
					   "16 upper-case hex digits", id);
		}
	}
	r->ndisks = (uint32_t)n;
	return MM_OK;
}

int fsrec_decode(const char *text, size_t len, struct fsrec *r, char *err, size_t errsz)
{
	static const char *const keys[] = {"version", "device", "fsid", "state", "disks", "mountPoint",
					   "automount", "numNodes", "created", "createdOn"};
	json_tokener *tok;
	json_object *o = NULL;
	const char *extra = "";
	char state[16];
	int64_t v;
	int rc = MM_EPROTO;

	memset(r, 0, sizeof(*r));
	if (len > FSREC_MAX_TEXT || memchr(text, 0, len))
		return bad(err, errsz, "file system record: %s", "too long, or holds a NUL byte");
	if (!(tok = json_tokener_new()))
		return MM_ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object) || json_tokener_get_parse_end(tok) != len) {
		rc = bad(err, errsz, "file system record is not %s", "one JSON object");
		goto out;
	}
	if ((rc = get_int(o, "version", 1, INT32_MAX, &v, err, errsz)))
		goto out;
	if (v != FSREC_VERSION) {
		snprintf(err, errsz, "file system record has version %" PRId64 "; this mmfs reads "
			 "version %u", v, FSREC_VERSION);
		rc = MM_ENOTSUP;
		goto out;
	}
	rc = MM_EPROTO;
	if (!only_keys(o, keys, sizeof(keys) / sizeof(keys[0]), &extra)) {
		snprintf(err, errsz, "file system record: unknown field \"%.64s\"", extra);
		goto out;
	}
	if ((rc = get_str(o, "device", r->device, sizeof(r->device), err, errsz)) ||
	    (rc = get_int(o, "fsid", 1, FS_FSID_MAX, &v, err, errsz)))
		goto out;
	r->fsid = (uint32_t)v;
	if ((rc = get_str(o, "state", state, sizeof(state), err, errsz)))
		goto out;
	if (!strcmp(state, "creating"))
		r->state = FSREC_CREATING;
	else if (!strcmp(state, "ready"))
		r->state = FSREC_READY;
	else {
		rc = bad(err, errsz, "file system record: state \"%s\" is not creating or ready", state);
		goto out;
	}
	if ((rc = decode_disks(o, r, err, errsz)) ||
	    (rc = get_str(o, "mountPoint", r->mount_point, sizeof(r->mount_point), err, errsz)) ||
	    (rc = get_str(o, "automount", r->automount, sizeof(r->automount), err, errsz)) ||
	    (rc = get_int(o, "numNodes", 1, FS_MKFS_MAX_NODES, &v, err, errsz)))
		goto out;
	r->num_nodes = (uint32_t)v;
	if ((rc = get_int(o, "created", 0, INT64_MAX, &v, err, errsz)))
		goto out;
	r->created = (uint64_t)v;
	if ((rc = get_str(o, "createdOn", r->created_on, sizeof(r->created_on), err, errsz)))
		goto out;
	rc = fsrec_check(r, err, errsz);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}
