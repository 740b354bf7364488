/*
 * net/net.h - daemon-to-daemon messaging: connections, framing, RPC.
 *
 * One net_ctx per daemon (tests may create several in one process). It owns
 * a listener, epoll I/O threads, an RPC worker pool, the TLS context, and a
 * connection manager that reaches peers by node number and reconnects on
 * demand.
 *
 * Security (net_config.security):
 *   NET_SEC_PLAIN     no TLS at all (cipherList EMPTY; tests and benchmarks)
 *   NET_SEC_AUTHONLY  TLS 1.3 mutual authentication at connect, against the
 *                     cluster CA; traffic in clear afterwards
 *   NET_SEC_ENCRYPT   TLS 1.3 for all traffic with the configured ciphers
 * A peer whose certificate does not chain to the cluster CA, or that sends
 * another cluster id in its hello, is refused; both sides log why.
 *
 * Return convention: 0 / non-negative on success, MM_E* (common/err.h) on
 * failure. RPC statuses travel as MM_E* codes too: a handler's status is
 * what the caller's net_call() returns.
 *
 * Threads: handlers run on the worker pool unless registered with
 * NET_H_INLINE (then on the I/O thread: must not block). Async reply
 * callbacks run on an I/O thread or the timer thread: they must not block
 * and must not call net_call() (net_call_async() is fine).
 * No net_* function may be called with a lock held that a handler or
 * callback of the same ctx takes.
 */
#ifndef MM_NET_NET_H
#define MM_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct net_ctx net_ctx;
typedef struct net_req net_req;

enum net_security {
	NET_SEC_PLAIN = 0,
	NET_SEC_AUTHONLY = 1,
	NET_SEC_ENCRYPT = 2,
};

struct net_config {
	uint32_t node_id;	/* this node's number, announced in the hello */
	uint64_t cluster_id;	/* peers with another id are refused */
	const char *listen_addr;	/* NULL: outbound connections only */
	uint16_t port;		/* listen port; also the default peer port */
	int io_threads;		/* epoll threads, >= 1 */
	int worker_threads;	/* handler pool, >= 1 */
	uint32_t max_payload;	/* frames larger than this close the connection (0: 64 MiB) */
	enum net_security security;
	const char *ciphers;	/* OpenSSL TLS 1.3 ciphersuites for ENCRYPT */
	const char *ca_file;	/* cluster CA certificate (PEM) */
	const char *cert_file;	/* this node's certificate (PEM) */
	const char *key_file;	/* this node's private key (PEM) */
	int connect_timeout_ms;	/* TCP connect + handshake (<= 0: 10 s) */
	/* Added for net/: requests queued for the worker pool at most (0:
	 * 1024); past it a request is answered MM_EBUSY. */
	uint32_t worker_queue;
};

/* Map a cipherList attribute value ("AUTHONLY", "EMPTY", "AES128-GCM-SHA256",
 * "AES256-GCM-SHA384", ...) to a security mode and TLS 1.3 ciphersuite
 * string. MM_EINVAL for an unknown value. <ciphers> gets "" for
 * PLAIN/AUTHONLY. */
int net_parse_cipherlist(const char *value, enum net_security *sec,
			 char *ciphers, size_t ciphers_sz);

int net_create(const struct net_config *cfg, net_ctx **out);
/* The port the listener is bound to (cfg.port, or the kernel's choice
 * when cfg.port is 0); 0 without a listener. */
uint16_t net_listen_port(const net_ctx *ctx);
/* Close every connection, fail outstanding calls with MM_ESHUTDOWN, join
 * threads, free. Must not be called from a net thread. */
void net_destroy(net_ctx *ctx);

/* --- serving --------------------------------------------------------- */

enum { NET_H_INLINE = 1 };	/* run on the I/O thread; must not block */

/* Handler for request <type>. It must eventually call net_reply() exactly
 * once (from any thread) for a request, and never for a one-way message
 * (net_req_oneway()); for one-way messages the request is freed when the
 * handler returns. Registration must precede the first connection. */
typedef void (*net_handler_fn)(net_req *req, void *arg);
int net_register(net_ctx *ctx, uint16_t type, net_handler_fn fn, void *arg,
		 unsigned flags);

uint16_t net_req_type(const net_req *req);
uint32_t net_req_node(const net_req *req);	/* authenticated peer node */
/* When the request's header was read (mm_now_ns(), this node's monotonic
 * clock): lets a handler refuse requests that arrived in an earlier epoch
 * of something, such as its own lease (nsd/server.h). */
uint64_t net_req_recv_ns(const net_req *req);
bool net_req_oneway(const net_req *req);
/* The payload; valid until net_reply() (or handler return for one-way). */
const void *net_req_data(const net_req *req, size_t *len);
/* Send <status> and <len> bytes (copied) back, free <req>. If the
 * connection is gone the reply is dropped and MM_ECLOSED returned. */
int net_reply(net_req *req, int status, const void *data, size_t len);

/* --- connection manager ---------------------------------------------- */

/* Tell the manager where node <node_id> listens (<port> 0: cfg.port).
 * Changing the address of a known node closes its connection. */
int net_peer_set(net_ctx *ctx, uint32_t node_id, const char *addr, uint16_t port);
/* Close the connection to <node_id> and forget its address; calls in
 * flight to it fail with MM_ECLOSED. */
void net_peer_forget(net_ctx *ctx, uint32_t node_id);

/* Called on an I/O thread whenever a connection to or from <node_id>
 * becomes established (up) or closes (!up). */
typedef void (*net_conn_event_fn)(uint32_t node_id, bool up, void *arg);
void net_set_conn_event(net_ctx *ctx, net_conn_event_fn fn, void *arg);

/* --- calling --------------------------------------------------------- */

/* <status> is the handler's status, or a local error (MM_ETIMEDOUT,
 * MM_EUNREACH, MM_ECLOSED, MM_EAUTH, MM_ESHUTDOWN). <data> is valid only
 * during the callback. Called exactly once per successful
 * net_call_async(), on an I/O or timer thread. */
typedef void (*net_reply_fn)(int status, const void *data, size_t len, void *arg);

/* Queue a request to <node>; connects first if needed. <data> is copied.
 * <timeout_ms> <= 0: no deadline.
 * Replies may arrive in any order; each is matched by request id. Returns
 * MM_OK once queued (the callback reports the outcome) or an error without
 * calling back. */
int net_call_async(net_ctx *ctx, uint32_t node, uint16_t type,
		   const void *data, size_t len, int timeout_ms,
		   net_reply_fn cb, void *arg);

/* Blocking wrapper. On success (return >= 0, the handler's status) the
 * reply is in *reply (malloc'd, free() it; NULL when empty). */
int net_call(net_ctx *ctx, uint32_t node, uint16_t type, const void *data,
	     size_t len, int timeout_ms, void **reply, size_t *reply_len);

/* Fire-and-forget message; no reply. */
int net_send_oneway(net_ctx *ctx, uint32_t node, uint16_t type,
		    const void *data, size_t len);

/* --- diagnostics (mmdiag --network, --stats, --waiters) --------------- */

struct net_conn_info {
	uint32_t node_id;
	char peer[64];		/* "ip:port" */
	char state[16];		/* "connecting", "handshake", "up", "closed" */
	bool outbound;
	enum net_security security;
	uint64_t msgs_sent, msgs_recv, bytes_sent, bytes_recv;
	uint32_t calls_pending;
};
/* Snapshot of all connections; *out is malloc'd (free()). */
int net_conn_list(net_ctx *ctx, struct net_conn_info **out, size_t *n);

struct net_type_stats {
	uint16_t type;
	uint64_t calls_sent, replies_ok, replies_err, timeouts;
	uint64_t total_rtt_us;	/* over replies received */
	uint64_t requests_served;
};
/* Per message type counters, types with any traffic; *out malloc'd. */
int net_stats(net_ctx *ctx, struct net_type_stats **out, size_t *n);

/* Calls outstanding for at least <min_age_ms>: one callback each, made
 * with the ctx's internal lock dropped. */
typedef void (*net_waiter_fn)(uint32_t node, uint16_t type, uint64_t age_ms, void *arg);
void net_waiters(net_ctx *ctx, uint64_t min_age_ms, net_waiter_fn fn, void *arg);

#endif
