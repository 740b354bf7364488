/*
 * cluster/etcd.c - etcd v3 client over etcd's JSON gateway (see etcd.h):
 * endpoints, one request with failover, and the KV, txn, lease and member
 * calls.
 *
 * Entry points: etcd_client_create/destroy/set_endpoints, etcd_get,
 * etcd_get_prefix, etcd_put, etcd_delete, etcd_txn, etcd_lease_grant,
 * etcd_lease_keepalive, etcd_lease_revoke, etcd_member_list/add/remove.
 * Lent to etcd_watch.c (cluster/etcd_int.h): etcd_ep_list_get/unref,
 * etcd_setup_handle, etcd_classify_curl, etcd_connect_timeout_ms,
 * etcd_err_worse.
 *
 * Map of this file:
 *   1. How the gateway is used, and what etcd 3.4.23 was seen to do
 *   2. Transport: endpoints, curl handle pool, one request with failover
 *   3. KV, txn, lease and member calls
 * Related: cluster/etcd_req.c (request bodies), cluster/etcd_json.c
 * (answers: parsers, error mapping, base64), cluster/etcd_watch.c (the
 * watch), cluster/etcd_sup.c (runs etcd), cluster/etcd_int.h.
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
 * Answers, as measured (their formats and etcd's error codes:
 * etcd_json.c; the watch: etcd_watch.c):
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
 *   etcd_classify_curl() reports all of these as MM_EAUTH; see there.
 *
 * Our own deadline expiring gives MM_ETIMEDOUT; no endpoint reachable gives
 * MM_EUNREACH (error answers are mapped by etcd_grpc_to_err, etcd_json.c).
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/waiter.h"

#define SUB "etcd"

/* ---- 2. Transport ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

void etcd_ep_list_unref(etcd_client *c, struct etcd_ep_list *l)
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
struct etcd_ep_list *etcd_ep_list_get(etcd_client *c, size_t *pref)
{
	struct etcd_ep_list *l;

	pthread_mutex_lock(&c->lock);
	l = c->eps;
	l->refs++;
	*pref = c->pref;
	pthread_mutex_unlock(&c->lock);
	return l;
}

static void ep_list_answered(etcd_client *c, struct etcd_ep_list *l, size_t i)
{
	pthread_mutex_lock(&c->lock);
	if (c->eps == l)
		c->pref = i;
	pthread_mutex_unlock(&c->lock);
}

static struct etcd_ep_list *ep_list_build(const char *const *endpoints, size_t n, bool tls)
{
	struct etcd_ep_list *l;

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
		etcd_ep_list_unref(c, c->eps);
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
	struct etcd_ep_list *l = ep_list_build(endpoints, n, c->ca != NULL), *old;
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
	etcd_ep_list_unref(c, old);
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
	if (c->nidle < ETCD_POOL_MAX) {
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

int etcd_connect_timeout_ms(const etcd_client *c)
{
	return MM_MIN(1000, MM_MAX(100, c->timeout_ms / 2));
}

/* Options common to unary calls and watches. */
void etcd_setup_handle(etcd_client *c, CURL *h, const char *url, char *errbuf)
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
int etcd_classify_curl(CURL *h, CURLcode rc, const char *errbuf, bool tls,
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
int etcd_err_worse(int a, int b)
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
	struct etcd_ep_list *l;
	size_t pref;
	CURL *h;
	int err = MM_OK;

	memset(out, 0, sizeof(*out));
	h = handle_get(c);
	if (!h)
		return MM_ENOMEM;
	l = etcd_ep_list_get(c, &pref);
	for (size_t k = 0; k < l->n; k++) {
		size_t i = (pref + k) % l->n;
		uint64_t now = mm_now_ms();
		long remain, status = 0;
		bool next, maybe_sent;
		CURLcode rc;
		int one;

		if (now >= deadline) {
			err = etcd_err_worse(err, MM_ETIMEDOUT);
			break;
		}
		remain = (long)(deadline - now);
		if (mm_snprintf(url, sizeof(url), "%s%s", l->url[i], path)) {
			err = etcd_err_worse(err, MM_EINVAL);
			continue;
		}
		curl_easy_reset(h);
		etcd_setup_handle(c, h, url, errbuf);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rbuf_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, remain);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)MM_MIN(remain, (long)etcd_connect_timeout_ms(c)));
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
				err = etcd_err_worse(err, MM_ENOQUORUM);
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
		one = etcd_classify_curl(h, rc, errbuf, c->ca != NULL, &next, &maybe_sent);
		err = etcd_err_worse(err, one);
		/* each retry of an unreachable endpoint: once while it lasts,
		 * "answers again" when it ends (common/log.h) */
		mm_log_trouble(l->url[i], MM_LOG_INFO, SUB, "%s: %s (%s)", l->url[i],
			       errbuf[0] ? errbuf : curl_easy_strerror(rc), mm_errname(one));
		mm_debug(SUB, "%s%s: %s", l->url[i], path, mm_errname(one));
		if (!next || (maybe_sent && !idempotent))
			break;
	}
	etcd_ep_list_unref(c, l);
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

/* ---- 3. KV, txn, lease and member calls ---- */

/* Send <body> (a request from etcd_req.c, freed here; NULL: it could not
 * be made) and hand the answer to the caller. */
static int call(etcd_client *c, const char *path, char *body, bool idempotent,
		struct rbuf *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!body)
		return MM_ENOMEM;
	rc = etcd_post(c, path, body, idempotent, out);
	free(body);
	return rc;
}

int etcd_get(etcd_client *c, const char *key, struct etcd_kv *out, int64_t *rev)
{
	struct etcd_kv *kvs;
	struct rbuf b;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!key || !*key)
		return MM_EINVAL;
	rc = call(c, "/v3/kv/range", etcd_req_range(key, false), true, &b);
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
	struct rbuf b;
	int rc;

	*out = NULL;
	*n = 0;
	if (!prefix)
		return MM_EINVAL;
	rc = call(c, "/v3/kv/range", etcd_req_range(prefix, true), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_range(b.sb.p, b.sb.len, out, n, rev);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_put(etcd_client *c, const char *key, const void *val, size_t len,
	     int64_t lease)
{
	struct rbuf b;
	int rc;

	if (!key || !*key || (!val && len))
		return MM_EINVAL;
	rc = call(c, "/v3/kv/put", etcd_req_put(key, val, len, lease), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_delete(etcd_client *c, const char *key, bool prefix, int64_t *deleted)
{
	struct rbuf b;
	int64_t d = 0;
	int rc;

	if (deleted)
		*deleted = 0;
	if (!key || (!*key && !prefix))
		return MM_EINVAL;
	rc = call(c, "/v3/kv/deleterange", etcd_req_range(key, prefix), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_deleterange(b.sb.p, b.sb.len, &d);
	mm_sb_free(&b.sb);
	if (rc == MM_OK && deleted)
		*deleted = d;
	return rc;
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
	struct rbuf b;
	int rc;

	*succeeded = false;
	/* etcd_req_txn relies on these checks (it indexes its tables by them) */
	for (size_t i = 0; i < ncmp; i++)
		if (!cmp[i].key || !*cmp[i].key || (unsigned)cmp[i].target > ETCD_CMP_LEASE ||
		    (unsigned)cmp[i].result > ETCD_GREATER ||
		    (cmp[i].target == ETCD_CMP_VALUE && !cmp[i].value))
			return MM_EINVAL;
	if ((nok && !ok_ops) || (nfail && !fail_ops) || (ncmp && !cmp) ||
	    !valid_ops(ok_ops, nok) || !valid_ops(fail_ops, nfail))
		return MM_EINVAL;
	/* not idempotent: a retry after a lost answer could see its own write */
	rc = call(c, "/v3/kv/txn", etcd_req_txn(cmp, ncmp, ok_ops, nok, fail_ops, nfail), false,
		  &b);
	if (rc)
		return rc;
	rc = etcd_parse_txn(b.sb.p, b.sb.len, succeeded, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_lease_grant(etcd_client *c, int ttl_s, int64_t *id)
{
	struct rbuf b;
	int64_t ttl;
	int rc;

	*id = 0;
	if (ttl_s <= 0)
		return MM_EINVAL;
	rc = call(c, "/v3/lease/grant", etcd_req_i64("TTL", ttl_s), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_lease_grant(b.sb.p, b.sb.len, id, &ttl);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl)
{
	struct rbuf b;
	int64_t t = 0;
	int rc;

	if (ttl)
		*ttl = 0;
	rc = call(c, "/v3/lease/keepalive", etcd_req_i64("ID", id), true, &b);
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
	struct rbuf b;
	int rc;

	rc = call(c, "/v3/lease/revoke", etcd_req_i64("ID", id), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_list(etcd_client *c, struct etcd_member **out, size_t *n)
{
	struct rbuf b;
	int rc;

	*out = NULL;
	*n = 0;
	rc = call(c, "/v3/cluster/member/list", etcd_req_empty(), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_member_list(b.sb.p, b.sb.len, out, n);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_add(etcd_client *c, const char *peer_url, uint64_t *id)
{
	struct rbuf b;
	int rc;

	*id = 0;
	if (!peer_url || !*peer_url)
		return MM_EINVAL;
	rc = call(c, "/v3/cluster/member/add", etcd_req_member_add(peer_url), false, &b);
	if (rc)
		return rc;
	rc = etcd_parse_member_add(b.sb.p, b.sb.len, id);
	mm_sb_free(&b.sb);
	return rc;
}

int etcd_member_remove(etcd_client *c, uint64_t id)
{
	struct rbuf b;
	int rc;

	rc = call(c, "/v3/cluster/member/remove", etcd_req_u64("ID", id), true, &b);
	if (rc)
		return rc;
	rc = etcd_parse_header_only(b.sb.p, b.sb.len, NULL);
	mm_sb_free(&b.sb);
	return rc;
}
