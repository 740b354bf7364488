/*
 * cluster/etcd_int.h - internals of the etcd client shared by its files
 * (etcd.c: client and transport; etcd_req.c: request bodies; etcd_json.c:
 * answers; etcd_watch.c: watches), etcd_sup.c, tests/unit/test_etcd.c and
 * the fuzz target tests/fuzz/fuzz_etcd_json.c. Not for other callers: use
 * cluster/etcd.h.
 *
 * Map: limits; answers (etcd_json.c); request bodies (etcd_req.c); the
 * transport lent by etcd.c to etcd_watch.c.
 *
 * Every parser takes the raw bytes of one HTTP response body (<body>,
 * <len>; no NUL terminator needed, any byte values allowed) and returns 0,
 * an MM_E* code mapped from an etcd error answer (see etcd_json.c), or
 * MM_EPROTO (logged) for anything malformed. On error the outputs are left
 * empty (nothing to free).
 */
#ifndef MM_CLUSTER_ETCD_INT_H
#define MM_CLUSTER_ETCD_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/etcd.h"

/* Largest response body (or one watch stream message) accepted. */
#define ETCD_MAX_BODY (64u << 20)
/* etcd_sup passes this as --experimental-watch-progress-notify-interval;
 * a watch stream silent for ETCD_WATCH_IDLE_MS is reconnected. */
#define ETCD_PROGRESS_INTERVAL_S 5
#define ETCD_WATCH_IDLE_MS (3 * ETCD_PROGRESS_INTERVAL_S * 1000)

/* ---- answers (etcd_json.c) ---- */

/* Standard base64 with padding (what etcd's gateway emits and accepts). */
char *etcd_b64_encode(const void *data, size_t len);	/* malloc'd, NULL on ENOMEM */
/* Strict decode into a malloc'd NUL-terminated buffer. MM_EPROTO if invalid. */
int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *outlen);

/* Map a gRPC status code (+ message) of an etcd error answer to MM_E*. */
int etcd_grpc_to_err(int code, const char *msg);

/* /v3/kv/range: all kvs (malloc'd array, etcd_kvs_free) and header revision. */
int etcd_parse_range(const char *body, size_t len, struct etcd_kv **kvs,
		     size_t *n, int64_t *rev);
/* /v3/kv/put, /v3/lease/revoke, member remove: only the header (or error). */
int etcd_parse_header_only(const char *body, size_t len, int64_t *rev);
/* /v3/kv/deleterange: number of keys deleted. */
int etcd_parse_deleterange(const char *body, size_t len, int64_t *deleted);
/* /v3/kv/txn */
int etcd_parse_txn(const char *body, size_t len, bool *succeeded, int64_t *rev);
/* /v3/lease/grant */
int etcd_parse_lease_grant(const char *body, size_t len, int64_t *id, int64_t *ttl);
/* /v3/lease/keepalive: {"result":{...,"TTL":"n"}}; no TTL (expired or
 * unknown lease) -> MM_ENOENT. */
int etcd_parse_lease_keepalive(const char *body, size_t len, int64_t *ttl);
/* /v3/cluster/member/list (and remove, which lists the members left). */
int etcd_parse_member_list(const char *body, size_t len,
			   struct etcd_member **out, size_t *n);
/* /v3/cluster/member/add: the new member's ID. */
int etcd_parse_member_add(const char *body, size_t len, uint64_t *id);

/* One message of the /v3/watch stream, decoded. */
struct etcd_watch_msg {
	int err;			/* stream error answer, mapped; 0 if none */
	bool created, canceled;
	int64_t rev;			/* header revision */
	int64_t compact_rev;		/* canceled because compacted */
	char cancel_reason[128];
	struct etcd_event *ev;		/* malloc'd */
	size_t nev;
};
int etcd_parse_watch_msg(const char *obj, size_t len, struct etcd_watch_msg *m);
void etcd_watch_msg_clear(struct etcd_watch_msg *m);

/*
 * Splits a byte stream of concatenated JSON objects (whitespace between
 * them) into whole objects, whatever the chunk boundaries. <fn> gets each
 * complete object; a non-zero return stops feeding and is returned.
 */
struct etcd_jsplit {
	char *buf;		/* bytes of the object being collected */
	size_t len, cap;
	int depth;		/* brace/bracket depth; 0 between objects */
	bool in_str, esc;
};
typedef int (*etcd_jsplit_fn)(const char *obj, size_t len, void *arg);
void etcd_jsplit_init(struct etcd_jsplit *s);
void etcd_jsplit_free(struct etcd_jsplit *s);
/* MM_EPROTO on a byte that cannot start an object, MM_ETOOBIG past
 * ETCD_MAX_BODY, else fn's first non-zero return, else 0. */
int etcd_jsplit_feed(struct etcd_jsplit *s, const char *data, size_t len,
		     etcd_jsplit_fn fn, void *arg);

/* ---- request bodies (etcd_req.c) ----
 *
 * Each returns the JSON text of one request, malloc'd (free()), or NULL on
 * ENOMEM. The caller has checked the arguments (etcd.c's calls).
 */

/* /v3/kv/range and /v3/kv/deleterange: <key>, or every key under it. */
char *etcd_req_range(const char *key, bool prefix);
/* /v3/kv/put; <lease> 0: none. */
char *etcd_req_put(const char *key, const void *val, size_t len, int64_t lease);
/* /v3/kv/txn */
char *etcd_req_txn(const struct etcd_cmp *cmp, size_t ncmp,
		   const struct etcd_op *ok_ops, size_t nok,
		   const struct etcd_op *fail_ops, size_t nfail);
/* {"<field>":"<v>"}: lease grant ("TTL"), keepalive and revoke ("ID"). */
char *etcd_req_i64(const char *field, int64_t v);
/* The same for a uint64 (member remove's "ID"). */
char *etcd_req_u64(const char *field, uint64_t v);
/* {} (member list). */
char *etcd_req_empty(void);
/* /v3/cluster/member/add */
char *etcd_req_member_add(const char *peer_url);
/* /v3/watch create request for the raw range <key>..<end> (<end> may hold
 * a NUL) from <start_rev> (0: now), with progress notifications. */
char *etcd_req_watch(const char *key, size_t klen, const char *end, size_t elen,
		     int64_t start_rev);

/* Key range end for "every key under <prefix>" (etcd's prefix rule).
 * Returns a malloc'd byte string of *outlen bytes, NULL on ENOMEM. */
char *etcd_prefix_end(const char *prefix, size_t plen, size_t *outlen);

/* ---- the transport (etcd.c), lent to etcd_watch.c ---- */

#define ETCD_POOL_MAX 16		/* idle curl handles kept per client */

/* An endpoint list, immutable once built; calls in flight hold a ref. */
struct etcd_ep_list {
	unsigned refs;		/* protected by etcd_client.lock */
	size_t n;
	char *url[];		/* "http://1.2.3.4:2379", no trailing '/' */
};

struct etcd_client {
	pthread_mutex_t lock;
	struct etcd_ep_list *eps;	/* protected by lock */
	size_t pref;			/* protected by lock: index in eps that answered last */
	CURL *idle[ETCD_POOL_MAX];	/* protected by lock: idle easy handles */
	size_t nidle;			/* protected by lock */
	char *ca, *cert, *key;		/* immutable */
	int timeout_ms;			/* immutable */
	struct curl_slist *hdrs;	/* immutable */
};

/* The current endpoint list with a reference, and the preferred index
 * (the endpoint that answered last). Takes and drops <c>'s lock. */
struct etcd_ep_list *etcd_ep_list_get(etcd_client *c, size_t *pref);
/* Drop a reference from etcd_ep_list_get; the last one frees the list. */
void etcd_ep_list_unref(etcd_client *c, struct etcd_ep_list *l);
/* Connect timeout of one attempt: half the deadline, 100 ms to 1 s. */
int etcd_connect_timeout_ms(const etcd_client *c);
/* Options common to unary calls and watches (URL, TCP, headers, TLS);
 * <errbuf> (CURL_ERROR_SIZE) gets curl's message. */
void etcd_setup_handle(etcd_client *c, CURL *h, const char *url, char *errbuf);
/* How a failed transfer went: the MM_E* code, whether the next endpoint
 * may be tried (*next), and whether etcd may have received the request
 * (*maybe_sent). <tls>: the client uses TLS. */
int etcd_classify_curl(CURL *h, CURLcode rc, const char *errbuf, bool tls,
		       bool *next, bool *maybe_sent);
/* Keep the more telling of two failures (MM_EUNREACH says least). */
int etcd_err_worse(int a, int b);

#endif
