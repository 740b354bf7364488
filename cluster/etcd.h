/*
 * cluster/etcd.h - a small etcd v3 client over the JSON gateway (libcurl +
 * json-c), and the supervisor that runs etcd as a child of mmfsd.
 *
 * Keys and values are byte strings; the client base64-encodes them. Every
 * request has a deadline (etcd_client_create's <timeout_ms>); on a
 * connection failure or timeout the next endpoint is tried, and an
 * endpoint that answered last is tried first next time. Reads are
 * linearizable (they need etcd's quorum), so a successful read is also a
 * quorum check.
 *
 * Thread-safety: an etcd_client may be used from many threads at once
 * (each call uses its own curl handle). A watch runs on its own thread.
 *
 * Errors: MM_ENOENT (key absent / lease not found), MM_EUNREACH (no
 * endpoint answered), MM_ETIMEDOUT, MM_ENOQUORUM (etcd answered but could
 * not reach consensus), MM_EPROTO (unparseable answer), MM_EAUTH (TLS).
 */
#ifndef MM_CLUSTER_ETCD_H
#define MM_CLUSTER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct etcd_client etcd_client;
typedef struct etcd_watch etcd_watch;

struct etcd_tls {
	const char *ca_file;	/* NULL: plain http */
	const char *cert_file;
	const char *key_file;
};

/* <endpoints>: "https://127.0.0.1:2379" ... (copied). */
int etcd_client_create(const char *const *endpoints, size_t n,
		       const struct etcd_tls *tls, int timeout_ms,
		       etcd_client **out);
void etcd_client_destroy(etcd_client *c);
/* Replace the endpoint list (membership changed). */
int etcd_client_set_endpoints(etcd_client *c, const char *const *endpoints, size_t n);

struct etcd_kv {
	char *key;		/* NUL-terminated */
	char *value;		/* NUL-terminated (values may hold NULs: use len) */
	size_t value_len;
	int64_t create_rev, mod_rev, version, lease;
};
void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);

/* Get one key. MM_ENOENT if absent. <rev> (may be NULL): store revision. */
int etcd_get(etcd_client *c, const char *key, struct etcd_kv *out, int64_t *rev);
/* All keys under <prefix>, sorted by key. *out malloc'd (etcd_kvs_free). */
int etcd_get_prefix(etcd_client *c, const char *prefix, struct etcd_kv **out,
		    size_t *n, int64_t *rev);
int etcd_put(etcd_client *c, const char *key, const void *val, size_t len,
	     int64_t lease);
/* Delete <key> (or every key under it if <prefix>); *deleted may be NULL. */
int etcd_delete(etcd_client *c, const char *key, bool prefix, int64_t *deleted);

enum etcd_cmp_target { ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE, ETCD_CMP_LEASE };
enum etcd_cmp_result { ETCD_EQUAL, ETCD_NOT_EQUAL, ETCD_LESS, ETCD_GREATER };
struct etcd_cmp {
	const char *key;
	enum etcd_cmp_target target;
	enum etcd_cmp_result result;
	int64_t num;		/* VERSION/CREATE/MOD/LEASE */
	const char *value;	/* VALUE (NUL-terminated) */
};
enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE };
struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	const void *value;
	size_t len;
	int64_t lease;
};
/* Atomic compare-and-swap. *succeeded tells which branch ran. */
int etcd_txn(etcd_client *c, const struct etcd_cmp *cmp, size_t ncmp,
	     const struct etcd_op *ok_ops, size_t nok,
	     const struct etcd_op *fail_ops, size_t nfail, bool *succeeded);

int etcd_lease_grant(etcd_client *c, int ttl_s, int64_t *id);
/* Renew; *ttl gets the remaining TTL. MM_ENOENT if the lease is gone. */
int etcd_lease_keepalive(etcd_client *c, int64_t id, int64_t *ttl);
int etcd_lease_revoke(etcd_client *c, int64_t id);

enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };
struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;	/* for DELETE only key and mod_rev are set */
};
/* Called on the watch thread for each batch of events. Must not block for
 * long. <n> == 0 with <err> != 0 reports that the stream broke; the watch
 * then reconnects by itself from the last seen revision + 1 (it reports
 * MM_ECONFLICT if that revision was compacted, and restarts from now). */
typedef void (*etcd_watch_fn)(const struct etcd_event *ev, size_t n, int err, void *arg);
/* Watch every key under <prefix> from revision <start_rev> (0: now). */
int etcd_watch_start(etcd_client *c, const char *prefix, int64_t start_rev,
		     etcd_watch_fn fn, void *arg, etcd_watch **out);
/* Stop and join; no callback runs after it returns. */
void etcd_watch_stop(etcd_watch *w);

struct etcd_member {
	uint64_t id;
	char name[64];
	char peer_url[128];
	char client_url[128];	/* empty for a member not yet started */
};
int etcd_member_list(etcd_client *c, struct etcd_member **out, size_t *n);
int etcd_member_add(etcd_client *c, const char *peer_url, uint64_t *id);
int etcd_member_remove(etcd_client *c, uint64_t id);

/* ---- the etcd child process ---- */

typedef struct etcd_sup etcd_sup;

struct etcd_sup_config {
	const char *binary;		/* "etcd" (PATH) unless set */
	const char *name;		/* member name, "node1" */
	const char *data_dir;
	const char *ip;			/* listen/advertise address */
	uint16_t client_port, peer_port;
	const char *initial_cluster;	/* "node1=https://127.0.0.1:2380,..." */
	bool initial_existing;		/* --initial-cluster-state existing */
	const char *cluster_token;
	struct etcd_tls tls;		/* server + peer TLS; NULL ca_file: plain */
	int heartbeat_ms, election_ms;
	const char *log_path;		/* etcd's stdout/stderr go here */
};

/* Start etcd and a supervising thread that restarts it when it exits
 * (logging why), with a back-off. */
int etcd_sup_start(const struct etcd_sup_config *cfg, etcd_sup **out);
/* SIGTERM, then SIGKILL after <grace_ms>; join the thread; free. */
void etcd_sup_stop(etcd_sup *s, int grace_ms);
int etcd_sup_pid(etcd_sup *s);		/* current child pid or -1 */
unsigned etcd_sup_restarts(etcd_sup *s);

#endif
