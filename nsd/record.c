/* nsd/record.c - the CCR entry of an NSD (see record.h). */
#include "nsd/record.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int nsd_record_encode(const struct nsd_record *r, char **out)
{
	json_object *o = json_object_new_object(), *sv = json_object_new_array();
	char id[32];

	if (!o || !sv) {
		json_object_put(o);
		json_object_put(sv);
		return MM_ENOMEM;
	}
	nsd_id_format(r->id, id, sizeof(id));
	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "device", json_object_new_string(r->device));
	for (int i = 0; i < r->nservers; i++)
		json_object_array_add(sv, json_object_new_string(r->servers[i]));
	json_object_object_add(o, "servers", sv);
	json_object_object_add(o, "usage", json_object_new_string(nsd_usage_name(r->usage)));
	json_object_object_add(o, "failureGroup", json_object_new_int(r->failure_group));
	json_object_object_add(o, "pool", json_object_new_string(r->pool));
	json_object_object_add(o, "fs", json_object_new_string(r->fs));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)r->created));
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return *out ? MM_OK : MM_ENOMEM;
}

static int get_str(json_object *o, const char *key, char *buf, size_t sz, char *err, size_t errsz)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(err, errsz, "NSD record: \"%s\" missing or not a string", key);
		return MM_EPROTO;
	}
	s = json_object_get_string(v);
	if (strlen(s) >= sz) {
		snprintf(err, errsz, "NSD record: \"%s\" too long", key);
		return MM_EPROTO;
	}
	strcpy(buf, s);
	return MM_OK;
}

int nsd_record_decode(const char *text, size_t len, struct nsd_record *r,
		      char *err, size_t errsz)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL, *v;
	char buf[256];
	int rc = MM_EPROTO;

	memset(r, 0, sizeof(*r));
	if (!tok)
		return MM_ENOMEM;
	if (len > (1u << 20) || !(o = json_tokener_parse_ex(tok, text, (int)len)) ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(err, errsz, "NSD record is not a JSON object");
		goto out;
	}
	if ((rc = get_str(o, "name", r->name, sizeof(r->name), err, errsz)) ||
	    (rc = get_str(o, "id", buf, sizeof(buf), err, errsz)) ||
	    (rc = get_str(o, "device", r->device, sizeof(r->device), err, errsz)) ||
	    (rc = get_str(o, "pool", r->pool, sizeof(r->pool), err, errsz)) ||
	    (rc = get_str(o, "fs", r->fs, sizeof(r->fs), err, errsz)))
		goto out;
	rc = MM_EPROTO;
	if (!nsd_name_valid(r->name)) {
		snprintf(err, errsz, "NSD record: invalid name \"%s\"", r->name);
		goto out;
	}
	if (nsd_id_parse(buf, &r->id)) {
		snprintf(err, errsz, "NSD record %s: invalid id \"%s\"", r->name, buf);
		goto out;
	}
	if (get_str(o, "usage", buf, sizeof(buf), err, errsz) || nsd_usage_parse(buf, &r->usage)) {
		snprintf(err, errsz, "NSD record %s: invalid usage", r->name);
		goto out;
	}
	if (!json_object_object_get_ex(o, "failureGroup", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < -1 || json_object_get_int64(v) > NSD_FG_MAX) {
		snprintf(err, errsz, "NSD record %s: invalid failureGroup", r->name);
		goto out;
	}
	r->failure_group = (int)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "created", &v) && json_object_is_type(v, json_type_int))
		r->created = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "servers", &v) || !json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) > NSD_MAX_SERVERS) {
		snprintf(err, errsz, "NSD record %s: invalid servers", r->name);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *s = json_object_array_get_idx(v, i);

		if (!json_object_is_type(s, json_type_string) ||
		    strlen(json_object_get_string(s)) >= sizeof(r->servers[0]) ||
		    !*json_object_get_string(s)) {
			snprintf(err, errsz, "NSD record %s: invalid server entry", r->name);
			goto out;
		}
		strcpy(r->servers[r->nservers++], json_object_get_string(s));
	}
	rc = MM_OK;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

void nsd_record_from_stanza(struct nsd_record *r, const struct nsd_stanza *s)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", s->nsd);
	snprintf(r->device, sizeof(r->device), "%s", s->device);
	for (int i = 0; i < s->nservers; i++)
		snprintf(r->servers[i], sizeof(r->servers[i]), "%s", s->servers[i]);
	r->nservers = s->nservers;
	r->usage = s->usage;
	r->failure_group = s->failure_group;
	snprintf(r->pool, sizeof(r->pool), "%s", s->pool);
}
