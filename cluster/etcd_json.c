/*
 * cluster/etcd_json.c - reading etcd's JSON gateway: the strict parsers of
 * every answer, the watch stream's messages and its splitter, base64, and
 * the mapping of etcd's error codes to MM_E*.
 *
 * Entry points (cluster/etcd_int.h): etcd_parse_range, _header_only,
 * _deleterange, _txn, _lease_grant, _lease_keepalive, _member_list,
 * _member_add, _watch_msg; etcd_jsplit_init/feed/free; etcd_b64_encode,
 * etcd_b64_decode; etcd_grpc_to_err. Public (etcd.h): etcd_kv_clear,
 * etcd_kvs_free. Fuzzed by tests/fuzz/fuzz_etcd_json.c.
 *
 * Map of this file:
 *   1. The answers, as measured, and the error mapping
 *   2. base64, integers, JSON access helpers
 *   3. Response parsers (etcd_parse_*)
 *   4. The watch stream: messages and splitter
 * Related: cluster/etcd.c (the client; how the gateway is called, what
 * etcd was seen to do), cluster/etcd_req.c (request bodies),
 * cluster/etcd_watch.c (the watch), cluster/etcd_int.h.
 *
 * ---- 1. The answers (2026-11-21, etcd 3.4.23 from Debian) ----
 *
 * As measured (how requests are sent, and the transport's findings:
 * etcd.c; the watch stream's messages: etcd_watch.c):
 * - int64 fields are JSON strings ("revision":"5"); uint64 member IDs too,
 *   and they exceed INT64_MAX. Fields at their default value are omitted:
 *   no "kvs" for an empty range, no "value" for an empty value, no
 *   "succeeded" for a failed txn, no "deleted" when nothing was deleted,
 *   no "type" for a PUT event, no "revision" in member-call headers.
 *   Requests may send int64s as strings; we always do.
 * - Unary errors: HTTP 4xx/5xx with {"error":"msg","message":"msg","code":N}
 *   (gRPC code). Seen: 5 NotFound ("requested lease not found", "member not
 *   found"), 3 InvalidArgument (bad base64, bad JSON, "duplicate key given
 *   in txn request"), 9 FailedPrecondition ("Peer URLs already exists"),
 *   14 Unavailable ("no leader", "request timed out", "unhealthy cluster"
 *   right after a member restarted), 2 Unknown ("context deadline
 *   exceeded"; "re-configuration failed due to not enough started
 *   members"). A wrong path answers 404 "Not Found" in plain text.
 * - Streaming methods (watch, lease keepalive) wrap each message as
 *   {"result":{...}} and an error as {"error":{"grpc_code":14,"http_code":
 *   503,"message":"etcdserver: no leader","http_status":"..."}}. Messages
 *   end with "\n". Keepalive answers one message and ends the response, so
 *   the connection is kept alive and reused.
 * - Keepalive of an expired or unknown lease is NOT an error: it answers
 *   {"result":{"header":{..},"ID":"..."}} with no "TTL". We map that to
 *   MM_ENOENT. Revoke of an unknown lease is code 5 (MM_ENOENT).
 * - A put with an unknown lease: code 5 "requested lease not found".
 *
 * Error mapping (etcd_grpc_to_err): 5 -> MM_ENOENT, 3 -> MM_EINVAL,
 * 6 -> MM_EEXIST, 9 -> MM_EEXIST ("already exist") else MM_ESTATE,
 * 4 and 14 and 2 "deadline exceeded" -> MM_ENOQUORUM (etcd answered but
 * could not commit), 2 "not enough started members" -> MM_ENOQUORUM,
 * 7 -> MM_EPERM, 16 -> MM_EAUTH, 8 -> MM_EBUSY, 10 -> MM_ECONFLICT,
 * 11 -> MM_ERANGE, 12 -> MM_ENOTSUP, 1 -> MM_ECLOSED, others -> MM_EIO.
 * (The transport's own failures, MM_ETIMEDOUT and MM_EUNREACH: etcd.c.)
 */
#include "cluster/etcd.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "etcd"

/* ---- 2. base64, integers, JSON access helpers ---- */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = b64_chars[v >> 6 & 63];
		*o++ = b64_chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *outlen)
{
	size_t pad = 0, olen, i, o = 0;
	char *buf;

	*out = NULL;
	*outlen = 0;
	if (slen % 4)
		return MM_EPROTO;
	if (slen && s[slen - 1] == '=')
		pad++;
	if (slen > 1 && s[slen - 2] == '=')
		pad++;
	olen = slen / 4 * 3 - pad;
	buf = malloc(olen + 1);
	if (!buf)
		return MM_ENOMEM;
	for (i = 0; i < slen; i += 4) {
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			int d;

			if (s[i + k] == '=') {
				if (i + 4 != slen || k < 4 - pad) {
					free(buf);
					return MM_EPROTO;
				}
				d = 0;
			} else if ((d = b64_val((unsigned char)s[i + k])) < 0) {
				free(buf);
				return MM_EPROTO;
			}
			v = v << 6 | (uint32_t)d;
		}
		for (int k = 2; k >= 0 && o < olen; k--)
			buf[o++] = (char)(v >> (8 * k) & 0xff);
	}
	buf[olen] = '\0';
	*out = buf;
	*outlen = olen;
	return MM_OK;
}

/* Strict decimal: optional '-' (if <neg_ok>), 1..20 digits, nothing else. */
static int parse_dec(const char *s, size_t len, bool neg_ok, uint64_t *mag, bool *neg)
{
	uint64_t v = 0;
	size_t i = 0;

	*neg = false;
	if (len && s[0] == '-' && neg_ok) {
		*neg = true;
		i = 1;
	}
	if (i == len)
		return MM_EPROTO;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return MM_EPROTO;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return MM_EPROTO;
		v = v * 10 + d;
	}
	*mag = v;
	return MM_OK;
}

/* Member <k> of object <o>, NULL if absent or JSON null. */
static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

/* int64 field: absent -> 0; "123" or 123; anything else MM_EPROTO. */
static int jget_i64(json_object *o, const char *k, int64_t *out)
{
	json_object *v = jget(o, k);
	uint64_t mag;
	bool neg;

	*out = 0;
	if (!v)
		return MM_OK;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return MM_OK;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    parse_dec(json_object_get_string(v), (size_t)json_object_get_string_len(v),
		      true, &mag, &neg))
		return MM_EPROTO;
	if (mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return MM_EPROTO;
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return MM_OK;
}

/* uint64 field (member IDs): absent -> 0; decimal string or non-negative int. */
static int jget_u64(json_object *o, const char *k, uint64_t *out)
{
	json_object *v = jget(o, k);
	bool neg;

	*out = 0;
	if (!v)
		return MM_OK;
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return MM_EPROTO;
		*out = json_object_get_uint64(v);
		return MM_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		return MM_EPROTO;
	return parse_dec(json_object_get_string(v), (size_t)json_object_get_string_len(v),
			 false, out, &neg);
}

static int jget_bool(json_object *o, const char *k, bool *out)
{
	json_object *v = jget(o, k);

	*out = false;
	if (!v)
		return MM_OK;
	if (!json_object_is_type(v, json_type_boolean))
		return MM_EPROTO;
	*out = json_object_get_boolean(v);
	return MM_OK;
}

/* Optional string field into <buf> (truncated); absent -> "". */
static int jget_str(json_object *o, const char *k, char *buf, size_t bufsz)
{
	json_object *v = jget(o, k);

	buf[0] = '\0';
	if (!v)
		return MM_OK;
	if (!json_object_is_type(v, json_type_string))
		return MM_EPROTO;
	snprintf(buf, bufsz, "%s", json_object_get_string(v));
	return MM_OK;
}

/* Optional base64 field, decoded into a malloc'd NUL-terminated buffer
 * (absent -> ""). */
static int jget_b64(json_object *o, const char *k, char **out, size_t *len)
{
	json_object *v = jget(o, k);

	if (!v) {
		*len = 0;
		*out = strdup("");
		return *out ? MM_OK : MM_ENOMEM;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*out = NULL;
		*len = 0;
		return MM_EPROTO;
	}
	return etcd_b64_decode(json_object_get_string(v),
			       (size_t)json_object_get_string_len(v), out, len);
}

/* Optional member of type <t>: absent -> NULL and 0; wrong type MM_EPROTO. */
static int jget_typed(json_object *o, const char *k, json_type t, json_object **out)
{
	*out = jget(o, k);
	if (*out && !json_object_is_type(*out, t)) {
		*out = NULL;
		return MM_EPROTO;
	}
	return MM_OK;
}

static int proto_err(const char *what, const char *why)
{
	mm_warn(SUB, "malformed %s answer from etcd: %s", what, why);
	return MM_EPROTO;
}

/*
 * Parse <body> as exactly one JSON object (whitespace around it allowed).
 * Returns the object (json_object_put it) or NULL after logging.
 */
static json_object *parse_object(const char *body, size_t len, const char *what)
{
	json_tokener *tok;
	json_object *o;
	size_t end;

	if (!body || len == 0) {
		proto_err(what, "empty body");
		return NULL;
	}
	if (len > ETCD_MAX_BODY || memchr(body, '\0', len)) {
		proto_err(what, len > ETCD_MAX_BODY ? "body too large" : "NUL byte in body");
		return NULL;
	}
	tok = json_tokener_new_ex(32);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		char why[96];

		snprintf(why, sizeof(why), "not JSON (%s)",
			 o ? "trailing data" :
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		json_tokener_free(tok);
		proto_err(what, why);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", body[end])) {
			json_object_put(o);
			proto_err(what, "trailing data after the JSON object");
			return NULL;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		proto_err(what, "not a JSON object");
		return NULL;
	}
	return o;
}

int etcd_grpc_to_err(int code, const char *msg)
{
	if (!msg)
		msg = "";
	switch (code) {
	case 1:			/* Canceled */
		return MM_ECLOSED;
	case 2:			/* Unknown */
		if (strstr(msg, "deadline exceeded") || strstr(msg, "not enough started"))
			return MM_ENOQUORUM;
		return MM_EIO;
	case 3:			/* InvalidArgument */
		return MM_EINVAL;
	case 4:			/* DeadlineExceeded */
		return MM_ENOQUORUM;
	case 5:			/* NotFound */
		return MM_ENOENT;
	case 6:			/* AlreadyExists */
		return MM_EEXIST;
	case 7:			/* PermissionDenied */
		return MM_EPERM;
	case 8:			/* ResourceExhausted */
		return MM_EBUSY;
	case 9:			/* FailedPrecondition */
		return strstr(msg, "already exist") ? MM_EEXIST : MM_ESTATE;
	case 10:		/* Aborted */
		return MM_ECONFLICT;
	case 11:		/* OutOfRange */
		return MM_ERANGE;
	case 12:		/* Unimplemented */
		return MM_ENOTSUP;
	case 14:		/* Unavailable */
		return MM_ENOQUORUM;
	case 16:		/* Unauthenticated */
		return MM_EAUTH;
	default:		/* 13 Internal, 15 DataLoss, unknown codes */
		return MM_EIO;
	}
}

/*
 * If <o> is an etcd error answer (unary or stream form), return its
 * MM_E* code (< 0); 0 if it is not; MM_EPROTO if "error" is malformed.
 */
static int check_error(json_object *o, const char *what)
{
	json_object *e = jget(o, "error"), *v;
	const char *msg = "";
	int code = 2;

	if (!e)
		return MM_OK;
	if (json_object_is_type(e, json_type_object)) {
		v = jget(e, "grpc_code");
		if (!v || !json_object_is_type(v, json_type_int))
			return proto_err(what, "stream error without grpc_code");
		code = json_object_get_int(v);
		v = jget(e, "message");
		if (v && json_object_is_type(v, json_type_string))
			msg = json_object_get_string(v);
	} else if (json_object_is_type(e, json_type_string)) {
		msg = json_object_get_string(e);
		v = jget(o, "code");
		if (v) {
			if (!json_object_is_type(v, json_type_int))
				return proto_err(what, "error code is not an integer");
			code = json_object_get_int(v);
		} else if (!*msg) {
			return MM_OK;	/* LeaseGrantResponse's empty "error" */
		}
		v = jget(o, "message");
		if (v && json_object_is_type(v, json_type_string) && *json_object_get_string(v))
			msg = json_object_get_string(v);
	} else {
		return proto_err(what, "\"error\" is neither a string nor an object");
	}
	if (code == 0)
		return proto_err(what, "error answer with code 0");
	mm_debug(SUB, "%s: etcd answered error %d: %s", what, code, msg);
	return etcd_grpc_to_err(code, msg);
}

/* Open an answer: parse, map an error answer, check the header object
 * and fetch its revision (<rev> may be NULL). */
static int open_answer(const char *body, size_t len, const char *what,
		       json_object **out, int64_t *rev)
{
	json_object *o = parse_object(body, len, what), *h;
	int rc;

	*out = NULL;
	if (!o)
		return MM_EPROTO;
	rc = check_error(o, what);
	if (rc == MM_OK) {
		h = jget(o, "header");
		if (!h || !json_object_is_type(h, json_type_object))
			rc = proto_err(what, "no header");
		else if (jget_i64(h, "revision", rev ? rev : &(int64_t){0}))
			rc = proto_err(what, "bad header revision");
	}
	if (rc) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return MM_OK;
}

/* ---- 3. Response parsers ---- */

void etcd_kv_clear(struct etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	if (!kvs)
		return;
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&kvs[i]);
	free(kvs);
}

/* One mvccpb.KeyValue object into <kv>. */
static int parse_kv(json_object *o, struct etcd_kv *kv, const char *what)
{
	size_t klen;
	int rc;

	memset(kv, 0, sizeof(*kv));
	if (!json_object_is_type(o, json_type_object))
		return proto_err(what, "kv is not an object");
	rc = jget_b64(o, "key", &kv->key, &klen);
	if (rc == MM_OK)
		rc = jget_b64(o, "value", &kv->value, &kv->value_len);
	if (rc == MM_OK &&
	    (jget_i64(o, "create_revision", &kv->create_rev) ||
	     jget_i64(o, "mod_revision", &kv->mod_rev) ||
	     jget_i64(o, "version", &kv->version) ||
	     jget_i64(o, "lease", &kv->lease)))
		rc = MM_EPROTO;
	if (rc == MM_OK && klen == 0)
		rc = MM_EPROTO;		/* etcd keys are never empty */
	if (rc) {
		etcd_kv_clear(kv);
		return rc == MM_ENOMEM ? rc : proto_err(what, "bad kv");
	}
	return MM_OK;
}

int etcd_parse_range(const char *body, size_t len, struct etcd_kv **kvs,
		     size_t *n, int64_t *rev)
{
	json_object *o, *arr;
	struct etcd_kv *out = NULL;
	size_t cnt, i;
	int rc;

	*kvs = NULL;
	*n = 0;
	rc = open_answer(body, len, "range", &o, rev);
	if (rc)
		return rc;
	if (jget_typed(o, "kvs", json_type_array, &arr)) {
		rc = proto_err("range", "kvs is not an array");
		goto out;
	}
	cnt = arr ? json_object_array_length(arr) : 0;
	if (cnt) {
		out = calloc(cnt, sizeof(*out));
		if (!out) {
			rc = MM_ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < cnt; i++) {
		rc = parse_kv(json_object_array_get_idx(arr, i), &out[i], "range");
		if (rc) {
			etcd_kvs_free(out, i);
			goto out;
		}
	}
	*kvs = out;
	*n = cnt;
out:
	json_object_put(o);
	return rc;
}

int etcd_parse_header_only(const char *body, size_t len, int64_t *rev)
{
	json_object *o;
	int rc = open_answer(body, len, "etcd", &o, rev);

	json_object_put(o);
	return rc;
}

int etcd_parse_deleterange(const char *body, size_t len, int64_t *deleted)
{
	json_object *o;
	int rc;

	*deleted = 0;
	rc = open_answer(body, len, "deleterange", &o, NULL);
	if (rc)
		return rc;
	if (jget_i64(o, "deleted", deleted) || *deleted < 0) {
		*deleted = 0;
		rc = proto_err("deleterange", "bad deleted count");
	}
	json_object_put(o);
	return rc;
}

int etcd_parse_txn(const char *body, size_t len, bool *succeeded, int64_t *rev)
{
	json_object *o, *arr;
	int rc;

	*succeeded = false;
	rc = open_answer(body, len, "txn", &o, rev);
	if (rc)
		return rc;
	if (jget_bool(o, "succeeded", succeeded) ||
	    jget_typed(o, "responses", json_type_array, &arr)) {
		*succeeded = false;
		rc = proto_err("txn", "bad succeeded or responses");
	}
	json_object_put(o);
	return rc;
}

int etcd_parse_lease_grant(const char *body, size_t len, int64_t *id, int64_t *ttl)
{
	json_object *o;
	int rc;

	*id = *ttl = 0;
	rc = open_answer(body, len, "lease grant", &o, NULL);
	if (rc)
		return rc;
	if (jget_i64(o, "ID", id) || jget_i64(o, "TTL", ttl) || *id == 0 || *ttl <= 0) {
		*id = *ttl = 0;
		rc = proto_err("lease grant", "bad ID or TTL");
	}
	json_object_put(o);
	return rc;
}

int etcd_parse_lease_keepalive(const char *body, size_t len, int64_t *ttl)
{
	json_object *o = parse_object(body, len, "lease keepalive"), *r, *h;
	int64_t id;
	int rc;

	*ttl = 0;
	if (!o)
		return MM_EPROTO;
	rc = check_error(o, "lease keepalive");
	if (rc)
		goto out;
	r = jget(o, "result");
	if (!r || !json_object_is_type(r, json_type_object)) {
		rc = proto_err("lease keepalive", "no result object");
		goto out;
	}
	h = jget(r, "header");
	if (!h || !json_object_is_type(h, json_type_object) ||
	    jget_i64(r, "ID", &id) || jget_i64(r, "TTL", ttl)) {
		*ttl = 0;
		rc = proto_err("lease keepalive", "bad header, ID or TTL");
		goto out;
	}
	if (*ttl <= 0) {	/* expired or unknown lease: no TTL at all */
		*ttl = 0;
		rc = MM_ENOENT;
	}
out:
	json_object_put(o);
	return rc;
}

/* First string of array member <k> into <buf> ("" if none). */
static int first_url(json_object *m, const char *k, char *buf, size_t bufsz)
{
	json_object *arr, *s;

	buf[0] = '\0';
	if (jget_typed(m, k, json_type_array, &arr))
		return MM_EPROTO;
	if (!arr || json_object_array_length(arr) == 0)
		return MM_OK;
	s = json_object_array_get_idx(arr, 0);
	if (!s || !json_object_is_type(s, json_type_string))
		return MM_EPROTO;
	snprintf(buf, bufsz, "%s", json_object_get_string(s));
	return MM_OK;
}

int etcd_parse_member_list(const char *body, size_t len,
			   struct etcd_member **out, size_t *n)
{
	json_object *o, *arr;
	struct etcd_member *ms = NULL;
	size_t cnt, i;
	int rc;

	*out = NULL;
	*n = 0;
	rc = open_answer(body, len, "member list", &o, NULL);
	if (rc)
		return rc;
	if (jget_typed(o, "members", json_type_array, &arr)) {
		rc = proto_err("member list", "members is not an array");
		goto out;
	}
	cnt = arr ? json_object_array_length(arr) : 0;
	if (cnt) {
		ms = calloc(cnt, sizeof(*ms));
		if (!ms) {
			rc = MM_ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < cnt; i++) {
		json_object *m = json_object_array_get_idx(arr, i);

		if (!m || !json_object_is_type(m, json_type_object) ||
		    jget_u64(m, "ID", &ms[i].id) || ms[i].id == 0 ||
		    jget_str(m, "name", ms[i].name, sizeof(ms[i].name)) ||
		    first_url(m, "peerURLs", ms[i].peer_url, sizeof(ms[i].peer_url)) ||
		    first_url(m, "clientURLs", ms[i].client_url, sizeof(ms[i].client_url))) {
			free(ms);
			ms = NULL;
			rc = proto_err("member list", "bad member");
			goto out;
		}
	}
	*out = ms;
	*n = cnt;
out:
	json_object_put(o);
	return rc;
}

int etcd_parse_member_add(const char *body, size_t len, uint64_t *id)
{
	json_object *o, *m;
	int rc;

	*id = 0;
	rc = open_answer(body, len, "member add", &o, NULL);
	if (rc)
		return rc;
	m = jget(o, "member");
	if (!m || !json_object_is_type(m, json_type_object) ||
	    jget_u64(m, "ID", id) || *id == 0) {
		*id = 0;
		rc = proto_err("member add", "no member ID");
	}
	json_object_put(o);
	return rc;
}

/* ---- 4. The watch stream: messages and splitter ---- */

void etcd_watch_msg_clear(struct etcd_watch_msg *m)
{
	for (size_t i = 0; i < m->nev; i++)
		etcd_kv_clear(&m->ev[i].kv);
	free(m->ev);
	memset(m, 0, sizeof(*m));
}

int etcd_parse_watch_msg(const char *obj, size_t len, struct etcd_watch_msg *m)
{
	json_object *o, *r, *h, *arr;
	size_t cnt;
	int rc;

	memset(m, 0, sizeof(*m));
	o = parse_object(obj, len, "watch");
	if (!o)
		return MM_EPROTO;
	rc = check_error(o, "watch");
	if (rc) {
		/* a well-formed stream error is a message, not a parse failure */
		if (rc != MM_EPROTO) {
			m->err = rc;
			rc = MM_OK;
		}
		goto out;
	}
	r = jget(o, "result");
	if (!r || !json_object_is_type(r, json_type_object)) {
		rc = proto_err("watch", "no result object");
		goto out;
	}
	h = jget(r, "header");
	if (!h || !json_object_is_type(h, json_type_object) ||
	    jget_i64(h, "revision", &m->rev) ||
	    jget_bool(r, "created", &m->created) ||
	    jget_bool(r, "canceled", &m->canceled) ||
	    jget_i64(r, "compact_revision", &m->compact_rev) ||
	    jget_str(r, "cancel_reason", m->cancel_reason, sizeof(m->cancel_reason)) ||
	    jget_typed(r, "events", json_type_array, &arr)) {
		rc = proto_err("watch", "bad header or flags");
		goto out;
	}
	cnt = arr ? json_object_array_length(arr) : 0;
	if (cnt) {
		m->ev = calloc(cnt, sizeof(*m->ev));
		if (!m->ev) {
			rc = MM_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < cnt; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *kv, *t;

		if (!e || !json_object_is_type(e, json_type_object) ||
		    !(kv = jget(e, "kv"))) {
			rc = proto_err("watch", "event without kv");
			goto out;
		}
		t = jget(e, "type");
		if (!t) {
			m->ev[i].type = ETCD_EV_PUT;
		} else if (json_object_is_type(t, json_type_string) &&
			   !strcmp(json_object_get_string(t), "PUT")) {
			m->ev[i].type = ETCD_EV_PUT;
		} else if (json_object_is_type(t, json_type_string) &&
			   !strcmp(json_object_get_string(t), "DELETE")) {
			m->ev[i].type = ETCD_EV_DELETE;
		} else if (json_object_is_type(t, json_type_int) &&
			   (json_object_get_int(t) == 0 || json_object_get_int(t) == 1)) {
			m->ev[i].type = json_object_get_int(t) ? ETCD_EV_DELETE : ETCD_EV_PUT;
		} else {
			rc = proto_err("watch", "bad event type");
			goto out;
		}
		rc = parse_kv(kv, &m->ev[i].kv, "watch");
		if (rc)
			goto out;
		m->nev = i + 1;
	}
out:
	json_object_put(o);
	if (rc)
		etcd_watch_msg_clear(m);
	return rc;
}

void etcd_jsplit_init(struct etcd_jsplit *s)
{
	memset(s, 0, sizeof(*s));
}

void etcd_jsplit_free(struct etcd_jsplit *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static int jsplit_append(struct etcd_jsplit *s, const char *p, size_t n)
{
	if (n == 0)
		return MM_OK;
	if (s->len + n > ETCD_MAX_BODY)
		return MM_ETOOBIG;
	if (s->len + n > s->cap) {
		size_t cap = MM_MAX(s->cap * 2, MM_MAX(s->len + n, (size_t)4096));
		char *b;

		cap = MM_MIN(cap, (size_t)ETCD_MAX_BODY);
		b = realloc(s->buf, cap);
		if (!b)
			return MM_ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return MM_OK;
}

int etcd_jsplit_feed(struct etcd_jsplit *s, const char *data, size_t len,
		     etcd_jsplit_fn fn, void *arg)
{
	size_t i = 0, start = 0;
	int rc;

	while (i < len) {
		char ch = data[i];

		if (s->depth == 0) {
			/* between objects: skip whitespace, expect '{' */
			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
				i++;
				continue;
			}
			if (ch != '{') {
				mm_warn(SUB, "watch stream: unexpected byte 0x%02x between messages",
					(unsigned char)ch);
				return MM_EPROTO;
			}
			start = i;
			s->depth = 1;
			s->in_str = s->esc = false;
			i++;
			continue;
		}
		i++;
		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (ch == '\\')
				s->esc = true;
			else if (ch == '"')
				s->in_str = false;
			continue;
		}
		if (ch == '"') {
			s->in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++s->depth > 64)
				return MM_EPROTO;
		} else if (ch == '}' || ch == ']') {
			if (--s->depth == 0) {
				/* complete object: data[start..i) plus any buffered head */
				if (s->len) {
					rc = jsplit_append(s, data + start, i - start);
					if (rc)
						return rc;
					rc = fn(s->buf, s->len, arg);
					s->len = 0;
				} else {
					if (i - start > ETCD_MAX_BODY)
						return MM_ETOOBIG;
					rc = fn(data + start, i - start, arg);
				}
				if (rc)
					return rc;
			}
		}
	}
	/* keep the unfinished object's bytes for the next chunk */
	if (s->depth > 0)
		return jsplit_append(s, data + start, len - start);
	return MM_OK;
}

