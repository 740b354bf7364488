/*
 * cluster/etcd_req.c - writing etcd's JSON gateway: the body of every
 * request the client sends, and the key range of a prefix.
 *
 * Entry points (cluster/etcd_int.h): etcd_req_range, etcd_req_put,
 * etcd_req_txn, etcd_req_i64, etcd_req_u64, etcd_req_empty,
 * etcd_req_member_add, etcd_req_watch; etcd_prefix_end.
 * Each etcd_req_* returns the request's JSON text, malloc'd (free()), or
 * NULL on ENOMEM; its arguments were checked by the caller (etcd.c,
 * etcd_watch.c). Keys and values are sent as standard base64 with
 * padding, int64s (and uint64 member IDs) as decimal strings.
 *
 * Map of this file:
 *   1. JSON builders (base64 and integer fields, key ranges)
 *   2. Request bodies, one per kind of call
 *   3. Prefix ranges
 * Related: cluster/etcd.c (which call sends which body where),
 * cluster/etcd_json.c (the answers; base64), cluster/etcd_int.h.
 */
#include "cluster/etcd.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"

/* ---- 1. JSON builders ---- */

/* JSON request builders: they return false on ENOMEM (the object is
 * then freed by the caller with json_object_put as usual). */
static bool jadd(json_object *o, const char *k, json_object *v)
{
	if (!v)
		return false;
	json_object_object_add(o, k, v);
	return true;
}

static bool jadd_b64(json_object *o, const char *k, const void *data, size_t len)
{
	char *s = etcd_b64_encode(data, len);
	bool ok = s && jadd(o, k, json_object_new_string(s));

	free(s);
	return ok;
}

static bool jadd_i64(json_object *o, const char *k, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return jadd(o, k, json_object_new_string(buf));
}

static bool jadd_u64(json_object *o, const char *k, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return jadd(o, k, json_object_new_string(buf));
}

/* "key" and, for a prefix, "range_end" of a range request. */
static bool jadd_range(json_object *o, const char *key, bool prefix)
{
	size_t klen = strlen(key), elen;
	char *end;
	bool ok;

	if (!prefix)
		return jadd_b64(o, "key", key, klen);
	end = etcd_prefix_end(key, klen, &elen);
	/* the empty prefix is key "\0" .. range_end "\0": every key */
	ok = end && jadd_b64(o, "key", klen ? key : "", klen ? klen : 1) &&
	     jadd_b64(o, "range_end", end, elen);
	free(end);
	return ok;
}

static const char *const cmp_target[] = {
	[ETCD_CMP_VERSION] = "VERSION", [ETCD_CMP_CREATE] = "CREATE",
	[ETCD_CMP_MOD] = "MOD", [ETCD_CMP_VALUE] = "VALUE", [ETCD_CMP_LEASE] = "LEASE",
};
static const char *const cmp_field[] = {
	[ETCD_CMP_VERSION] = "version", [ETCD_CMP_CREATE] = "create_revision",
	[ETCD_CMP_MOD] = "mod_revision", [ETCD_CMP_VALUE] = "value", [ETCD_CMP_LEASE] = "lease",
};
static const char *const cmp_result[] = {
	[ETCD_EQUAL] = "EQUAL", [ETCD_NOT_EQUAL] = "NOT_EQUAL",
	[ETCD_LESS] = "LESS", [ETCD_GREATER] = "GREATER",
};

static json_object *build_cmp(const struct etcd_cmp *cmp)
{
	json_object *o = json_object_new_object();
	bool ok;

	if (!o)
		return NULL;
	ok = jadd_b64(o, "key", cmp->key, strlen(cmp->key)) &&
	     jadd(o, "target", json_object_new_string(cmp_target[cmp->target])) &&
	     jadd(o, "result", json_object_new_string(cmp_result[cmp->result]));
	if (ok && cmp->target == ETCD_CMP_VALUE)
		ok = jadd_b64(o, "value", cmp->value, strlen(cmp->value));
	else if (ok)
		ok = jadd_i64(o, cmp_field[cmp->target], cmp->num);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *build_op(const struct etcd_op *op)
{
	json_object *o = json_object_new_object(), *r = json_object_new_object();
	bool ok = o && r;

	if (ok && op->type == ETCD_OP_PUT) {
		ok = jadd_b64(r, "key", op->key, strlen(op->key)) &&
		     jadd_b64(r, "value", op->value ? op->value : "", op->len) &&
		     (op->lease == 0 || jadd_i64(r, "lease", op->lease));
		if (ok) {
			ok = jadd(o, "request_put", r);
			r = NULL;
		}
	} else if (ok) {
		ok = jadd_b64(r, "key", op->key, strlen(op->key));
		if (ok) {
			ok = jadd(o, "request_delete_range", r);
			r = NULL;
		}
	}
	json_object_put(r);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- 2. Request bodies ---- */

/* The text of <req> (consumed); NULL if <ok> is false (a builder ran out
 * of memory), <req> is NULL, or the text cannot be made. */
static char *req_text(json_object *req, bool ok)
{
	const char *s = NULL;
	char *text = NULL;

	if (ok && req)
		s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s)
		text = strdup(s);
	json_object_put(req);
	return text;
}

char *etcd_req_range(const char *key, bool prefix)
{
	json_object *req = json_object_new_object();

	return req_text(req, req && jadd_range(req, key, prefix));
}

char *etcd_req_put(const char *key, const void *val, size_t len, int64_t lease)
{
	json_object *req = json_object_new_object();

	return req_text(req, req && jadd_b64(req, "key", key, strlen(key)) &&
			jadd_b64(req, "value", val ? val : "", len) &&
			(lease == 0 || jadd_i64(req, "lease", lease)));
}

char *etcd_req_txn(const struct etcd_cmp *cmp, size_t ncmp,
		   const struct etcd_op *ok_ops, size_t nok,
		   const struct etcd_op *fail_ops, size_t nfail)
{
	json_object *req, *arr;
	bool ok = true;

	req = json_object_new_object();
	if (!req)
		return NULL;
	if (ncmp) {
		ok = (arr = json_object_new_array()) && jadd(req, "compare", arr);
		for (size_t i = 0; ok && i < ncmp; i++) {
			json_object *o = build_cmp(&cmp[i]);

			ok = o && json_object_array_add(arr, o) == 0;
		}
	}
	if (ok && nok) {
		ok = (arr = json_object_new_array()) && jadd(req, "success", arr);
		for (size_t i = 0; ok && i < nok; i++) {
			json_object *o = build_op(&ok_ops[i]);

			ok = o && json_object_array_add(arr, o) == 0;
		}
	}
	if (ok && nfail) {
		ok = (arr = json_object_new_array()) && jadd(req, "failure", arr);
		for (size_t i = 0; ok && i < nfail; i++) {
			json_object *o = build_op(&fail_ops[i]);

			ok = o && json_object_array_add(arr, o) == 0;
		}
	}
	return req_text(req, ok);
}

char *etcd_req_i64(const char *field, int64_t v)
{
	json_object *req = json_object_new_object();

	return req_text(req, req && jadd_i64(req, field, v));
}

char *etcd_req_u64(const char *field, uint64_t v)
{
	json_object *req = json_object_new_object();

	return req_text(req, req && jadd_u64(req, field, v));
}

char *etcd_req_empty(void)
{
	json_object *req = json_object_new_object();

	return req_text(req, req != NULL);
}

char *etcd_req_member_add(const char *peer_url)
{
	json_object *req, *arr, *url;

	req = json_object_new_object();
	return req_text(req, req && (arr = json_object_new_array()) && jadd(req, "peerURLs", arr) &&
			(url = json_object_new_string(peer_url)) &&
			json_object_array_add(arr, url) == 0);
}

char *etcd_req_watch(const char *key, size_t klen, const char *end, size_t elen,
		     int64_t start_rev)
{
	json_object *req = json_object_new_object(), *cr = json_object_new_object();
	bool ok;

	ok = req && cr && jadd_b64(cr, "key", key, klen) &&
	     jadd_b64(cr, "range_end", end, elen) &&
	     (start_rev == 0 || jadd_i64(cr, "start_revision", start_rev)) &&
	     jadd(cr, "progress_notify", json_object_new_boolean(1));
	if (ok) {
		ok = jadd(req, "create_request", cr);
		cr = NULL;
	}
	json_object_put(cr);
	return req_text(req, ok);
}

/* ---- 3. Prefix ranges ---- */

char *etcd_prefix_end(const char *prefix, size_t plen, size_t *outlen)
{
	char *end = malloc(plen ? plen : 1);
	size_t n = plen;

	if (!end)
		return NULL;
	memcpy(end, prefix, plen);
	while (n > 0) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			*outlen = n;
			return end;
		}
		n--;
	}
	/* empty prefix or all 0xff: "\0" means "to the end of the keyspace" */
	end[0] = '\0';
	*outlen = 1;
	return end;
}
