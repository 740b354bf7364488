/*
 * cluster/etcd.c - etcd v3 client over etcd's JSON gateway (see etcd.h).
 *
 * Map of this file:
 *   1. How the gateway is used, and what etcd 3.4.23 was seen to do
 *   2. base64, integers, JSON access helpers
 *   3. Response parsers (etcd_parse_*; fuzzed by tests/fuzz/fuzz_etcd_json.c)
 *   4. Transport: endpoints, curl handle pool, one request with failover
 *   5. KV, txn, lease and member calls
 *   6. Watch (its own thread, curl multi handle, stream splitter)
 * Related: cluster/etcd_sup.c (runs etcd), cluster/etcd_int.h.
 *
 * ---- 1. The JSON gateway (2026-11-21, etcd 3.4.23 from Debian) ----
 *
 * Requests are HTTP/1.1 POSTs to <endpoint>/v3/<service>/<method> with a
 * JSON body; keys and values are standard base64 with padding. Every
 * request carries "Grpc-Metadata-hasleader: true", which etcd's gRPC
 * interceptor reads as "fail if this member has no leader".
 *
 *   etcd_get/get_prefix  /v3/kv/range        {"key","range_end"}
 *   etcd_put             /v3/kv/put          {"key","value","lease"}
 *   etcd_delete          /v3/kv/deleterange  {"key","range_end"} -> "deleted"
 *   etcd_txn             /v3/kv/txn          {"compare":[{"key","target":
 *                        "MOD","result":"EQUAL","mod_revision"}],"success":
 *                        [{"request_put":{..}}|{"request_delete_range":{..}}],
 *                        "failure":[..]} -> "succeeded"
 *   etcd_lease_grant     /v3/lease/grant     {"TTL"} -> "ID","TTL"
 *   etcd_lease_keepalive /v3/lease/keepalive {"ID"} -> {"result":{"ID","TTL"}}
 *   etcd_lease_revoke    /v3/lease/revoke    {"ID"}
 *   etcd_watch_*         /v3/watch           {"create_request":{..}} (stream)
 *   etcd_member_*        /v3/cluster/member/{list,add,remove}
 *
 * Answers, as measured:
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
 * - Watch: the first message is {"result":{"header":..,"created":true}};
 *   then one message per revision batch: "events":[{"kv":{..}}, {"type":
 *   "DELETE","kv":{"key","mod_revision"}}]. A start revision older than
 *   the compaction answers created, then {"canceled":true,
 *   "compact_revision":"7"}. An empty range answers created+canceled with
 *   "cancel_reason". With "progress_notify":true, a silent watch gets a
 *   header-only message every --experimental-watch-progress-notify-interval
 *   (10 min by default, etcd_sup sets ETCD_PROGRESS_INTERVAL_S); etcd 3.4
 *   has no per-watch interval field. A stream silent for
 *   ETCD_WATCH_IDLE_MS is reconnected from the next revision.
 * - Lost quorum (2 members, one killed -9; heartbeat 20 ms, election 200
 *   ms): WITHOUT the hasleader header a linearizable range hangs and answers
 *   after 5.4 s (5 s + 2 x election timeout) code 14 "request timed out";
 *   put and lease grant answer after 5.4 s code 2 "context deadline
 *   exceeded"; a serializable range answers at once. WITH the header every
 *   call (range, put, txn, grant, keepalive, member list) answers in about
 *   12 ms with code 14 "etcdserver: no leader", once the member noticed it
 *   lost its leader (one election timeout); a watch is canceled with the
 *   stream error "no leader" about 0.7 s after the peer died. Until then a
 *   call may still hang; our deadline (timeout_ms) bounds it.
 * - Member add right after a member restarted: 14 "unhealthy cluster" (the
 *   leader wants all members connected for a while first).
 * - Lease TTLs are raised to etcd's minimum, 1.5 election timeouts
 *   rounded up to whole seconds: grant TTL 1 with election 1000 ms answers
 *   "TTL":"2". Keepalive over a reused connection took about 0.8 ms here.
 * - TLS with --client-cert-auth: a client without a certificate, or with
 *   one from another CA, completes the TLS 1.3 handshake (client side) and
 *   then fails on its first read ("sslv3 alert bad certificate") or, if the
 *   server's close won the race, on its send ("getpeername() failed",
 *   reset). A client trusting the wrong CA fails verification (curl 60).
 *   classify_curl() reports all of these as MM_EAUTH; see there.
 * - The watch's first message confirms creation: etcd_watch_start waits for
 *   it (up to timeout_ms, one pass over the endpoints), so "now" (start_rev
 *   0) means "before etcd_watch_start returned". Callbacks may run before
 *   it returns. A break is reported once per outage (n == 0, err != 0),
 *   then the thread reconnects (next endpoint; back-off 100 ms doubling to
 *   2 s) from the last event's mod_revision + 1, or the last progress
 *   notification's revision + 1.
 *
 * Error mapping (etcd_grpc_to_err): 5 -> MM_ENOENT, 3 -> MM_EINVAL,
 * 6 -> MM_EEXIST, 9 -> MM_EEXIST ("already exist") else MM_ESTATE,
 * 4 and 14 and 2 "deadline exceeded" -> MM_ENOQUORUM (etcd answered but
 * could not commit), 2 "not enough started members" -> MM_ENOQUORUM,
 * 7 -> MM_EPERM, 16 -> MM_EAUTH, 8 -> MM_EBUSY, 10 -> MM_ECONFLICT,
 * 11 -> MM_ERANGE, 12 -> MM_ENOTSUP, 1 -> MM_ECLOSED, others -> MM_EIO.
 * Our own deadline expiring gives MM_ETIMEDOUT; no endpoint reachable gives
 * MM_EUNREACH.
 *
 * Failover: one pass over the endpoints per call, starting with the one
 * that answered last, within one total deadline. The next endpoint is
 * tried after a connection failure, a TLS failure, a "no leader" answer,
 * and, for idempotent calls only (all but txn and member add), after a
 * broken connection or any code-14 answer, since the request may have been
 * applied.
 */
#include "cluster/etcd.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/thread.h"
#include "common/util.h"
#include "common/waiter.h"

#define SUB "etcd"
#define POOL_MAX 16		/* idle curl handles kept per client */

/* ---- 2. base64, integers, JSON helpers ---- */

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

/* ---- 4. Transport ---- */

/* An endpoint list, immutable once built; calls in flight hold a ref. */
struct ep_list {
	unsigned refs;		/* protected by etcd_client.lock */
	size_t n;
	char *url[];		/* "http://1.2.3.4:2379", no trailing '/' */
};

struct etcd_client {
	pthread_mutex_t lock;
	struct ep_list *eps;		/* protected by lock */
	size_t pref;			/* protected by lock: index in eps that answered last */
	CURL *idle[POOL_MAX];		/* protected by lock: idle easy handles */
	size_t nidle;			/* protected by lock */
	char *ca, *cert, *key;		/* immutable */
	int timeout_ms;			/* immutable */
	struct curl_slist *hdrs;	/* immutable */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static void ep_list_unref(etcd_client *c, struct ep_list *l)
{
	bool last;

	if (!l)
		return;
	pthread_mutex_lock(&c->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (!last)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->url[i]);
	free(l);
}

/* Returns the current list with a reference, and the preferred index. */
static struct ep_list *ep_list_get(etcd_client *c, size_t *pref)
{
	struct ep_list *l;

	pthread_mutex_lock(&c->lock);
	l = c->eps;
	l->refs++;
	*pref = c->pref;
	pthread_mutex_unlock(&c->lock);
	return l;
}

static void ep_list_answered(etcd_client *c, struct ep_list *l, size_t i)
{
	pthread_mutex_lock(&c->lock);
	if (c->eps == l)
		c->pref = i;
	pthread_mutex_unlock(&c->lock);
}

static struct ep_list *ep_list_build(const char *const *endpoints, size_t n, bool tls)
{
	struct ep_list *l;

	if (!endpoints || n == 0)
		return NULL;
	l = calloc(1, sizeof(*l) + n * sizeof(char *));
	if (!l)
		return NULL;
	l->refs = 1;
	for (size_t i = 0; i < n; i++) {
		const char *e = endpoints[i];
		size_t len;

		if (!e || !*e)
			goto fail;
		if (strstr(e, "://"))
			l->url[i] = strdup(e);
		else if (asprintf(&l->url[i], "%s://%s", tls ? "https" : "http", e) < 0)
			l->url[i] = NULL;
		if (!l->url[i])
			goto fail;
		l->n = i + 1;
		len = strlen(l->url[i]);
		while (len > 0 && l->url[i][len - 1] == '/')
			l->url[i][--len] = '\0';
	}
	return l;
fail:
	for (size_t i = 0; i < l->n; i++)
		free(l->url[i]);
	free(l);
	return NULL;
}

int etcd_client_create(const char *const *endpoints, size_t n,
		       const struct etcd_tls *tls, int timeout_ms,
		       etcd_client **out)
{
	etcd_client *c;
	bool use_tls = tls && tls->ca_file;

	*out = NULL;
	if (!endpoints || n == 0 || timeout_ms <= 0)
		return MM_EINVAL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		mm_error(SUB, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
		return MM_ESYS;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return MM_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->timeout_ms = timeout_ms;
	c->eps = ep_list_build(endpoints, n, use_tls);
	if (!c->eps)
		goto fail;
	if (use_tls) {
		c->ca = strdup(tls->ca_file);
		c->cert = tls->cert_file ? strdup(tls->cert_file) : NULL;
		c->key = tls->key_file ? strdup(tls->key_file) : NULL;
		if (!c->ca || (tls->cert_file && !c->cert) || (tls->key_file && !c->key))
			goto fail;
	}
	c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (c->hdrs)
		c->hdrs = curl_slist_append(c->hdrs, "Grpc-Metadata-hasleader: true");
	if (c->hdrs)
		c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	if (!c->hdrs)
		goto fail;
	*out = c;
	return MM_OK;
fail:
	etcd_client_destroy(c);
	return MM_ENOMEM;
}

void etcd_client_destroy(etcd_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	if (c->eps) {
		c->eps->refs = 1;	/* no call may be in flight now */
		ep_list_unref(c, c->eps);
	}
	curl_slist_free_all(c->hdrs);
	free(c->ca);
	free(c->cert);
	free(c->key);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int etcd_client_set_endpoints(etcd_client *c, const char *const *endpoints, size_t n)
{
	struct ep_list *l = ep_list_build(endpoints, n, c->ca != NULL), *old;
	const char *prev;

	if (!l)
		return endpoints && n ? MM_ENOMEM : MM_EINVAL;
	pthread_mutex_lock(&c->lock);
	old = c->eps;
	/* keep preferring the endpoint that answered last if it stayed */
	prev = old->url[c->pref < old->n ? c->pref : 0];
	c->pref = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->url[i], prev)) {
			c->pref = i;
			break;
		}
	}
	c->eps = l;
	pthread_mutex_unlock(&c->lock);
	ep_list_unref(c, old);
	return MM_OK;
}

static CURL *handle_get(etcd_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_reset(h);	/* keeps its live connections */
	else
		h = curl_easy_init();
	return h;
}

static void handle_put(etcd_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->nidle < POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* Response body being collected. */
struct rbuf {
	struct mm_sb sb;
	bool toobig;
};

static size_t rbuf_write(char *data, size_t sz, size_t nmemb, void *arg)
{
	struct rbuf *b = arg;
	size_t n = sz * nmemb;

	if (b->sb.len + n > ETCD_MAX_BODY) {
		b->toobig = true;
		return 0;
	}
	mm_sb_put(&b->sb, data, n);
	return b->sb.oom ? 0 : n;
}

static int connect_timeout_ms(const etcd_client *c)
{
	return MM_MIN(1000, MM_MAX(100, c->timeout_ms / 2));
}

/* Options common to unary calls and watches. */
static void setup_handle(etcd_client *c, CURL *h, const char *url, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	if (c->ca) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		if (c->cert)
			curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
		if (c->key)
			curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
}

/* How a failed transfer went: the MM_E* code, whether the next endpoint
 * may be tried, and whether etcd may have received the request. */
static int classify_curl(CURL *h, CURLcode rc, const char *errbuf, bool tls,
			 bool *next, bool *maybe_sent)
{
	curl_off_t conn = 0;

	*next = true;
	*maybe_sent = false;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return MM_EUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(h, tls ? CURLINFO_APPCONNECT_TIME_T : CURLINFO_CONNECT_TIME_T,
				  &conn);
		if (conn == 0)
			return MM_EUNREACH;	/* connect (or TLS handshake) timed out */
		*maybe_sent = true;
		return MM_ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return MM_EAUTH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		/*
		 * TLS 1.3: the server checks our certificate after the client
		 * finished the handshake; a refusal arrives as an alert on the
		 * first read, or, if the server closed first, as a reset on our
		 * send. So: a connection made by this transfer, handshake done,
		 * closed before any answer byte, is taken as a refusal.
		 */
		if (tls) {
			long nconn = 0, hdr = 0;

			curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &conn);
			curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
			curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hdr);
			if (strstr(errbuf, "alert") || (conn > 0 && nconn > 0 && hdr == 0))
				return MM_EAUTH;
		}
		*maybe_sent = true;
		return MM_EUNREACH;
	case CURLE_WRITE_ERROR:
		*next = false;
		return MM_ETOOBIG;
	case CURLE_OUT_OF_MEMORY:
		*next = false;
		return MM_ENOMEM;
	default:
		*maybe_sent = true;
		return MM_EUNREACH;
	}
}

/* Keep the more telling of two failures (EUNREACH says least). */
static int worse(int a, int b)
{
	if (a == MM_OK)
		return b;
	if (b == MM_EUNREACH)
		return a;
	return b;
}

/*
 * POST <body> to <path> on the endpoints, one pass, within the client's
 * deadline. On 0, <out> holds the answer body of the endpoint that
 * answered (which may be an etcd error answer for the parser to map).
 * <idempotent>: a retry on another endpoint cannot apply it twice.
 */
static int etcd_post(etcd_client *c, const char *path, const char *body,
		     bool idempotent, struct rbuf *out)
{
	uint64_t deadline = mm_now_ms() + (uint64_t)c->timeout_ms;
	char errbuf[CURL_ERROR_SIZE], url[512];
	struct ep_list *l;
	size_t pref;
	CURL *h;
	int err = MM_OK;

	memset(out, 0, sizeof(*out));
	h = handle_get(c);
	if (!h)
		return MM_ENOMEM;
	l = ep_list_get(c, &pref);
	for (size_t k = 0; k < l->n; k++) {
		size_t i = (pref + k) % l->n;
		uint64_t now = mm_now_ms();
		long remain, status = 0;
		bool next, maybe_sent;
		CURLcode rc;
		int one;

		if (now >= deadline) {
			err = worse(err, MM_ETIMEDOUT);
			break;
		}
		remain = (long)(deadline - now);
		if (mm_snprintf(url, sizeof(url), "%s%s", l->url[i], path)) {
			err = worse(err, MM_EINVAL);
			continue;
		}
		curl_easy_reset(h);
		setup_handle(c, h, url, errbuf);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rbuf_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, remain);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)MM_MIN(remain, (long)connect_timeout_ms(c)));
		out->sb.len = 0;
		out->toobig = false;
		{
			int w;
			char what[200];

			/* slow CCR calls show up in mmdiag --waiters */
			snprintf(what, sizeof(what), "etcd request %s", url);
			w = mm_waiter_begin(what);
			rc = curl_easy_perform(h);
			mm_waiter_end(w);
		}
		if (rc == CURLE_OK) {
			bool is_err, no_leader;

			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			/* "no leader" is refused before anything is proposed: any
			 * call may go elsewhere; other Unavailable answers only
			 * if a second attempt cannot apply it twice */
			is_err = out->sb.p && (status >= 400 ||
					    (out->sb.len >= 8 && !memcmp(out->sb.p, "{\"error\"", 8)));
			no_leader = is_err && memmem(out->sb.p, out->sb.len, "etcdserver: no leader", 21);
			if (no_leader || (is_err && status == 503 && idempotent)) {
				/* once while it lasts; "answers again" when it ends */
				mm_log_trouble(l->url[i], MM_LOG_INFO, SUB,
					       "%s: %s member unavailable, trying the next endpoint",
					       l->url[i], no_leader ? "no leader:" : "");
				mm_debug(SUB, "%s%s: member unavailable", l->url[i], path);
				err = worse(err, MM_ENOQUORUM);
				if (k + 1 < l->n)
					continue;
			}
			if (!no_leader) {
				mm_log_cleared(l->url[i], MM_LOG_INFO, SUB, "%s answers again", l->url[i]);
				ep_list_answered(c, l, i);
			}
			err = MM_OK;	/* the parser maps an error answer */
			break;
		}
		if (out->toobig) {
			mm_warn(SUB, "%s%s: answer larger than %u bytes", l->url[i], path,
				ETCD_MAX_BODY);
			err = MM_ETOOBIG;
			break;
		}
		one = classify_curl(h, rc, errbuf, c->ca != NULL, &next, &maybe_sent);
		err = worse(err, one);
		/* each retry of an unreachable endpoint: once while it lasts,
		 * "answers again" when it ends (common/log.h) */
		mm_log_trouble(l->url[i], MM_LOG_INFO, SUB, "%s: %s (%s)", l->url[i],
			       errbuf[0] ? errbuf : curl_easy_strerror(rc), mm_errname(one));
		mm_debug(SUB, "%s%s: %s", l->url[i], path, mm_errname(one));
		if (!next || (maybe_sent && !idempotent))
			break;
	}
	ep_list_unref(c, l);
	handle_put(c, h);
	if (err) {
		mm_sb_free(&out->sb);
		memset(out, 0, sizeof(*out));
	} else if (!out->sb.p) {
		out->sb.p = strdup("");	/* parsers report the empty body */
		if (!out->sb.p)
			err = MM_ENOMEM;
	}
	return err;
}

/* ---- 5. KV, txn, lease and member calls ---- */

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

/* Send <req> (consumed) and hand the answer to the caller. */
static int call(etcd_client *c, const char *path, json_object *req, bool ok,
		bool idempotent, struct rbuf *out)
{
	const char *body;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ok || !req) {
		json_object_put(req);
		return MM_ENOMEM;
	}
	body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = body ? etcd_post(c, path, body, idempotent, out) : MM_ENOMEM;
	json_object_put(req);
	return rc;
}

int etcd_get(etcd_client *c, const char *key, struct etcd_kv *out, int64_t *rev)
{
	json_object *req = json_object_new_object();
	struct etcd_kv *kvs;
	struct rbuf b;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!key || !*key) {
		json_object_put(req);
		return MM_EINVAL;
	}
	rc = call(c, "/v3/kv/range", req, req && jadd_range(req, key, false), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_range(b.sb.p, b.sb.len, &kvs, &n, rev);
	mm_sb_free(&b.sb);
	if (rc)
		return rc;
	if (n == 0)
		return MM_ENOENT;
	*out = kvs[0];
	memset(&kvs[0], 0, sizeof(kvs[0]));
	etcd_kvs_free(kvs, n);
	return MM_OK;
}

int etcd_get_prefix(etcd_client *c, const char *prefix, struct etcd_kv **out,
		    size_t *n, int64_t *rev)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int rc;

	*out = NULL;
	*n = 0;
	if (!prefix) {
		json_object_put(req);
		return MM_EINVAL;
	}
	rc = call(c, "/v3/kv/range", req, req && jadd_range(req, prefix, true), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_range(b.sb.p, b.sb.len, out, n, rev);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_put(etcd_client *c, const char *key, const void *val, size_t len,
	     int64_t lease)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	bool ok;
	int rc;

	if (!key || !*key || (!val && len)) {
		json_object_put(req);
		return MM_EINVAL;
	}
	ok = req && jadd_b64(req, "key", key, strlen(key)) &&
	     jadd_b64(req, "value", val ? val : "", len) &&
	     (lease == 0 || jadd_i64(req, "lease", lease));
	rc = call(c, "/v3/kv/put", req, ok, true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_delete(etcd_client *c, const char *key, bool prefix, int64_t *deleted)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int64_t d = 0;
	int rc;

	if (deleted)
		*deleted = 0;
	if (!key || (!*key && !prefix)) {
		json_object_put(req);
		return MM_EINVAL;
	}
	rc = call(c, "/v3/kv/deleterange", req, req && jadd_range(req, key, prefix), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_deleterange(b.sb.p, b.sb.len, &d);
	mm_sb_free(&b.sb);
	if (rc == MM_OK && deleted)
		*deleted = d;
	return rc;
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

static bool valid_ops(const struct etcd_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ops[i].key || !*ops[i].key ||
		    (ops[i].type != ETCD_OP_PUT && ops[i].type != ETCD_OP_DELETE) ||
		    (ops[i].type == ETCD_OP_PUT && !ops[i].value && ops[i].len))
			return false;
	return true;
}

int etcd_txn(etcd_client *c, const struct etcd_cmp *cmp, size_t ncmp,
	     const struct etcd_op *ok_ops, size_t nok,
	     const struct etcd_op *fail_ops, size_t nfail, bool *succeeded)
{
	json_object *req, *arr;
	struct rbuf b;
	bool ok = true;
	int rc;

	*succeeded = false;
	for (size_t i = 0; i < ncmp; i++)
		if (!cmp[i].key || !*cmp[i].key || (unsigned)cmp[i].target > ETCD_CMP_LEASE ||
		    (unsigned)cmp[i].result > ETCD_GREATER ||
		    (cmp[i].target == ETCD_CMP_VALUE && !cmp[i].value))
			return MM_EINVAL;
	if ((nok && !ok_ops) || (nfail && !fail_ops) || (ncmp && !cmp) ||
	    !valid_ops(ok_ops, nok) || !valid_ops(fail_ops, nfail))
		return MM_EINVAL;
	req = json_object_new_object();
	if (!req)
		return MM_ENOMEM;
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
	/* not idempotent: a retry after a lost answer could see its own write */
	rc = call(c, "/v3/kv/txn", req, ok, false, &b);
	if (rc)
		return rc;
	rc = etcd_parse_txn(b.sb.p, b.sb.len, succeeded, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_lease_grant(etcd_client *c, int ttl_s, int64_t *id)
{
	json_object *req;
	struct rbuf b;
	int64_t ttl;
	int rc;

	*id = 0;
	if (ttl_s <= 0)
		return MM_EINVAL;
	req = json_object_new_object();
	rc = call(c, "/v3/lease/grant", req, req && jadd_i64(req, "TTL", ttl_s), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_lease_grant(b.sb.p, b.sb.len, id, &ttl);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int64_t t = 0;
	int rc;

	if (ttl)
		*ttl = 0;
	rc = call(c, "/v3/lease/keepalive", req, req && jadd_i64(req, "ID", id), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_lease_keepalive(b.sb.p, b.sb.len, &t);
	mm_sb_free(&b.sb);
	if (rc == MM_OK && ttl)
		*ttl = t;
	return rc;
}

int etcd_lease_revoke(etcd_client *c, int64_t id)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int rc;

	rc = call(c, "/v3/lease/revoke", req, req && jadd_i64(req, "ID", id), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_list(etcd_client *c, struct etcd_member **out, size_t *n)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int rc;

	*out = NULL;
	*n = 0;
	rc = call(c, "/v3/cluster/member/list", req, req != NULL, true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_member_list(b.sb.p, b.sb.len, out, n);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_add(etcd_client *c, const char *peer_url, uint64_t *id)
{
	json_object *req, *arr, *url;
	struct rbuf b;
	bool ok;
	int rc;

	*id = 0;
	if (!peer_url || !*peer_url)
		return MM_EINVAL;
	req = json_object_new_object();
	ok = req && (arr = json_object_new_array()) && jadd(req, "peerURLs", arr) &&
	     (url = json_object_new_string(peer_url)) &&
	     json_object_array_add(arr, url) == 0;
	rc = call(c, "/v3/cluster/member/add", req, ok, false, &b);
	if (rc)
		return rc;
	rc = etcd_parse_member_add(b.sb.p, b.sb.len, id);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_remove(etcd_client *c, uint64_t id)
{
	json_object *req = json_object_new_object();
	struct rbuf b;
	int rc;

	rc = call(c, "/v3/cluster/member/remove", req, req && jadd_u64(req, "ID", id), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

/* ---- 6. Watch ---- */

/*
 * The watch thread runs connections one after another on one easy handle
 * inside a multi handle, so that etcd_watch_stop can wake curl_multi_poll
 * at once (curl_multi_wakeup) instead of waiting for a progress callback.
 */
struct etcd_watch {
	etcd_client *c;
	char *key, *end;		/* raw key range (end may hold a NUL) */
	size_t klen, elen;
	etcd_watch_fn fn;
	void *arg;
	CURLM *multi;
	CURL *h;
	pthread_t thr;
	atomic_bool stop;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* signals a change of start_rc */
	int start_rc;			/* protected by lock: 1 pending, 0 created, <0 failed */

	/* watch thread only: */
	bool started;			/* the first stream was created */
	bool healthy;			/* no break reported since the last creation */
	int64_t next_rev;		/* resume from here; 0: now */
	struct etcd_jsplit split;
	bool created;			/* this connection's stream was created */
	int stream_err;			/* why this connection's stream is ending */
	uint64_t last_rx_ms;
};

/* Tell etcd_watch_start how the start went; false if it gave up already. */
static bool watch_set_start(etcd_watch *w, int rc)
{
	bool won = false;

	pthread_mutex_lock(&w->lock);
	if (w->start_rc == 1) {
		w->start_rc = rc;
		won = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return won;
}

/* Report a broken stream once per outage (and never before the start). */
static void watch_report(etcd_watch *w, int err)
{
	if (!w->started || !w->healthy)
		return;
	w->healthy = false;
	w->fn(NULL, 0, err, w->arg);
}

/* One complete stream message (called by the splitter). */
static int watch_on_msg(const char *obj, size_t len, void *arg)
{
	etcd_watch *w = arg;
	struct etcd_watch_msg m;
	int rc = etcd_parse_watch_msg(obj, len, &m);

	if (rc)
		return rc;
	if (m.err) {
		mm_info(SUB, "watch stream ended by etcd: %s", mm_errname(m.err));
		rc = m.err;
		goto out;
	}
	if (m.created) {
		w->created = true;
		if (w->next_rev == 0)
			w->next_rev = m.rev + 1;	/* events after the creation */
		if (!w->started) {
			if (!watch_set_start(w, MM_OK)) {
				atomic_store(&w->stop, true);	/* the starter timed out */
				rc = MM_ESHUTDOWN;
				goto out;
			}
			w->started = true;
		}
		w->healthy = true;
	}
	if (m.canceled) {
		if (m.compact_rev > 0) {
			mm_warn(SUB, "watch from revision %lld: compacted up to %lld; restarting from now",
				(long long)w->next_rev, (long long)m.compact_rev);
			w->next_rev = 0;
			if (w->started) {
				w->healthy = true;	/* always report this one */
				watch_report(w, MM_ECONFLICT);
			}
			rc = MM_ECONFLICT;
		} else {
			mm_warn(SUB, "watch canceled by etcd: %s",
				m.cancel_reason[0] ? m.cancel_reason : "no reason given");
			rc = MM_ESTATE;
		}
		goto out;
	}
	if (m.nev) {
		w->next_rev = m.ev[m.nev - 1].kv.mod_rev + 1;
		w->fn(m.ev, m.nev, 0, w->arg);
	} else if (!m.created && m.rev >= w->next_rev) {
		w->next_rev = m.rev + 1;	/* progress: all up to m.rev was sent */
	}
out:
	etcd_watch_msg_clear(&m);
	return rc;
}

static size_t watch_write(char *data, size_t sz, size_t nmemb, void *arg)
{
	etcd_watch *w = arg;
	size_t n = sz * nmemb;
	int rc;

	w->last_rx_ms = mm_now_ms();
	rc = etcd_jsplit_feed(&w->split, data, n, watch_on_msg, w);
	if (rc) {
		w->stream_err = rc;
		return 0;	/* abort this connection */
	}
	return n;
}

enum { WATCH_STOPPED = 1, WATCH_IDLE = 2 };

/* Run one watch connection to <url> until it ends. Returns WATCH_STOPPED,
 * WATCH_IDLE (silent for too long) or an MM_E* code (< 0). */
static int watch_once(etcd_watch *w, const char *url)
{
	json_object *req = json_object_new_object(), *cr = json_object_new_object();
	char errbuf[CURL_ERROR_SIZE];
	const char *body;
	int result = MM_OK, running = 1;
	bool ok;

	ok = req && cr && jadd_b64(cr, "key", w->key, w->klen) &&
	     jadd_b64(cr, "range_end", w->end, w->elen) &&
	     (w->next_rev == 0 || jadd_i64(cr, "start_revision", w->next_rev)) &&
	     jadd(cr, "progress_notify", json_object_new_boolean(1));
	if (ok) {
		ok = jadd(req, "create_request", cr);
		cr = NULL;
	}
	json_object_put(cr);
	body = ok ? json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	if (!body) {
		json_object_put(req);
		return MM_ENOMEM;
	}
	curl_easy_reset(w->h);
	setup_handle(w->c, w->h, url, errbuf);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout_ms(w->c));
	etcd_jsplit_free(&w->split);
	w->created = false;
	w->stream_err = MM_OK;
	w->last_rx_ms = mm_now_ms();
	curl_multi_add_handle(w->multi, w->h);
	for (;;) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(w->multi, &running);
		while ((msg = curl_multi_info_read(w->multi, &left))) {
			bool next, maybe_sent;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (w->stream_err)
				result = w->stream_err;
			else if (msg->data.result == CURLE_OK)
				result = MM_ECLOSED;	/* etcd ended the stream */
			else
				result = classify_curl(w->h, msg->data.result, errbuf,
						       w->c->ca != NULL, &next, &maybe_sent);
			/* a reconnect loop: each cause once while it lasts */
			if (!w->stream_err)
				mm_log_trouble(url, MM_LOG_INFO, SUB, "watch on %s ended: %s (%s)", url,
					       errbuf[0] ? errbuf : curl_easy_strerror(msg->data.result),
					       mm_errname(result));
			running = 0;
		}
		if (!running)
			break;
		if (atomic_load(&w->stop)) {
			result = WATCH_STOPPED;
			break;
		}
		if (mm_now_ms() - w->last_rx_ms > ETCD_WATCH_IDLE_MS) {
			mm_info(SUB, "watch on %s silent for %d ms, reconnecting", url,
				ETCD_WATCH_IDLE_MS);
			result = WATCH_IDLE;
			break;
		}
		curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(w->multi, w->h);
	json_object_put(req);
	if (result == MM_OK)
		result = MM_ECLOSED;
	return result;
}

/* Sleep <ms> unless stopped; true if stopped. */
static bool watch_pause(etcd_watch *w, unsigned ms)
{
	uint64_t until = mm_now_ms() + ms;

	while (!atomic_load(&w->stop)) {
		uint64_t now = mm_now_ms();

		if (now >= until)
			return false;
		curl_multi_poll(w->multi, NULL, 0, (int)(until - now), NULL);
	}
	return true;
}

static void *watch_main(void *arg)
{
	etcd_watch *w = arg;
	unsigned backoff = 100, start_fails = 0;
	int start_err = MM_OK;
	size_t epi = 0;
	bool first = true;

	while (!atomic_load(&w->stop)) {
		struct ep_list *l;
		size_t pref, n;
		char url[512];
		int rc;

		l = ep_list_get(w->c, &pref);
		n = l->n;
		if (first)
			epi = pref;
		first = false;
		rc = mm_snprintf(url, sizeof(url), "%s/v3/watch", l->url[epi % n]);
		ep_list_unref(w->c, l);
		if (rc == MM_OK)
			rc = watch_once(w, url);
		if (rc == WATCH_STOPPED)
			break;
		if (rc == MM_ECONFLICT)
			continue;		/* restart from now, same endpoint */
		epi++;				/* otherwise try the next endpoint */
		if (!w->started) {
			/* like a unary call: one pass over the endpoints */
			if (rc != WATCH_IDLE)
				start_err = worse(start_err, rc);
			if (++start_fails >= n) {
				watch_set_start(w, start_err ? start_err : MM_ETIMEDOUT);
				break;
			}
			continue;
		}
		if (rc == WATCH_IDLE) {
			if (w->created)
				continue;	/* was fine, went silent: reconnect quietly */
			rc = MM_ETIMEDOUT;	/* never confirmed: a failure */
		}
		watch_report(w, rc);
		if (w->created && rc != MM_ESTATE)
			backoff = 100;		/* it worked a moment ago */
		if (watch_pause(w, backoff))
			break;
		backoff = MM_MIN(backoff * 2, 2000u);
	}
	return NULL;
}

int etcd_watch_start(etcd_client *c, const char *prefix, int64_t start_rev,
		     etcd_watch_fn fn, void *arg, etcd_watch **out)
{
	etcd_watch *w;
	uint64_t deadline;
	int rc;

	*out = NULL;
	if (!c || !prefix || !fn || start_rev < 0)
		return MM_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return MM_ENOMEM;
	w->c = c;
	w->fn = fn;
	w->arg = arg;
	w->next_rev = start_rev;
	w->start_rc = 1;
	w->healthy = true;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->lock, NULL);
	mm_cond_init(&w->cond);
	etcd_jsplit_init(&w->split);
	w->klen = strlen(prefix);
	w->key = malloc(w->klen ? w->klen : 1);
	w->end = etcd_prefix_end(prefix, w->klen, &w->elen);
	w->multi = curl_multi_init();
	w->h = curl_easy_init();
	if (!w->key || !w->end || !w->multi || !w->h) {
		rc = MM_ENOMEM;
		goto fail;
	}
	if (w->klen) {
		memcpy(w->key, prefix, w->klen);
	} else {
		w->key[0] = '\0';	/* every key: "\0" .. "\0" */
		w->klen = 1;
	}
	rc = mm_thread_start(&w->thr, "etcd-watch", watch_main, w);
	if (rc)
		goto fail;
	/* wait for etcd to confirm the watch (or one pass to fail) */
	deadline = mm_now_ms() + (uint64_t)c->timeout_ms;
	pthread_mutex_lock(&w->lock);
	while (w->start_rc == 1) {
		uint64_t now = mm_now_ms();

		if (now >= deadline) {
			w->start_rc = MM_ETIMEDOUT;
			break;
		}
		mm_cond_wait_ms(&w->cond, &w->lock, deadline - now);
	}
	rc = w->start_rc;
	pthread_mutex_unlock(&w->lock);
	if (rc) {
		mm_warn(SUB, "watch on prefix \"%s\" could not start: %s", prefix, mm_errname(rc));
		atomic_store(&w->stop, true);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thr, NULL);
		goto fail;
	}
	*out = w;
	return MM_OK;
fail:
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->h)
		curl_easy_cleanup(w->h);
	etcd_jsplit_free(&w->split);
	free(w->key);
	free(w->end);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

void etcd_watch_stop(etcd_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thr, NULL);
	curl_multi_cleanup(w->multi);
	curl_easy_cleanup(w->h);
	etcd_jsplit_free(&w->split);
	free(w->key);
	free(w->end);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
