/*
 * net/net_int.h - internals of net/ shared by its .c files. Callers use
 * net/net.h only. net/README.md has the invariants and the lock order;
 * the comments here say which lock guards which field.
 *
 * Files:
 *   frame.c      wire codec (pure)          xprt_tcp.c, xprt_tls.c  transports
 *                                           xprt_aead.c  ENCRYPT records
 *   ctx.c        net_create/destroy, handlers, peers, diagnostics
 *   conn.c       connections: connect, accept, handshake, hello, read
 *                path, close          send.c   the send path
 *   io.c         epoll I/O threads and their command queues
 *   rpc.c        calls: ids, table, timer thread, net_call*, net_reply
 *   keys.c       cluster key and node certificates
 */
#ifndef MM_NET_NET_INT_H
#define MM_NET_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/bug.h"
#include "common/thread.h"
#include "net/frame.h"
#include "net/net.h"
#include "net/xprt.h"

/* Read buffer per connection: small frames are parsed from it in place. */
#define NET_RBUF 65536
/* Payloads at least this large are read straight into their final buffer. */
#define NET_BIG_PAYLOAD 16384
/* A blocking sender gives up (and closes the connection) after this. */
#define NET_SEND_TIMEOUT_MS 60000
/* Default worker queue bound (net_config.worker_queue == 0). */
#define NET_DEFAULT_WORKER_QUEUE 1024

/* What an epoll event's data.ptr points at: first member of each source. */
enum net_src_kind { NET_SRC_WAKE = 1, NET_SRC_LISTEN, NET_SRC_CONN };
struct net_src {
	enum net_src_kind kind;
};

/* A deadline in the ctx's timer heap (guarded by ctx->calls_lock). */
enum net_timer_kind { NET_T_CALL = 1, NET_T_CONN };
struct net_timer {
	uint64_t deadline_ns;
	int idx;		/* heap slot, -1 when not queued */
	uint8_t kind;
};

/* Connection states; written only by the owning I/O thread (the first
 * UP and CLOSED transitions under qlock), read by anyone atomically. */
enum net_conn_state {
	CS_CONNECTING = 0,	/* outbound TCP connect in progress */
	CS_HANDSHAKE,		/* TLS handshake */
	CS_HELLO,		/* hello / hello-ack exchange */
	CS_UP,			/* frames flow */
	CS_CLOSED,
};

struct net_outbuf {
	struct net_outbuf *next;
	size_t len, off;
	uint8_t data[];
};

struct net_call;
struct net_io;

struct net_conn {
	struct net_src src;		/* NET_SRC_CONN */
	net_ctx *ctx;			/* holds a ctx reference */
	atomic_int refs;
	struct net_io *io;		/* owning I/O thread (fixed) */
	int fd;				/* closed when the last reference goes */
	struct net_xprt xprt;		/* ops switch tcp<-tls at AUTHONLY; see xprt.h */
	bool outbound;
	bool crc_off;			/* ENCRYPT: data frames carry no payload CRC */
	uint32_t node_id;		/* outbound: target; inbound: from hello */
	char peer[64];			/* "ip:port" */
	char local[64];
	uint64_t created_ns;

	atomic_int state;		/* enum net_conn_state; see above */
	atomic_int close_rc;		/* first closer's MM_E*, 0 = open */
	char close_why[160];		/* written once by the first closer, read at teardown */
	int close_level;		/* its log level (MM_LOG_*), likewise */
	bool torn;			/* owner I/O thread only: teardown done */
	atomic_bool was_up;		/* set by the owner before UP */
	bool registered;		/* peer table points here (ctx->lock) */

	/* --- send side --- */
	pthread_mutex_t wlock;		/* the send lock: held while writing */
	pthread_mutex_t qlock;		/* guards outq*, wblocked, ev_mask, the
					 * UP/CLOSED transitions */
	struct net_outbuf *outq, *outq_tail;
	size_t outq_bytes;
	bool wblocked;			/* non-blocking send hit EAGAIN, EPOLLOUT armed */
	uint32_t ev_mask;		/* current epoll interest */

	/* handshake output (owner I/O thread only) */
	uint8_t hs_out[NET_FRAME_HDR_LEN + NET_HELLO_MAX_LEN];
	size_t hs_len, hs_off;
	bool hs_busy;			/* hs_out not yet all sent and flushed */
	bool hs_up_after;		/* acceptor: go UP once hs_out is sent */
	int hs_fail_rc;			/* acceptor: close with this once sent */

	/* --- receive side: whoever holds the receive token (rtoken): the
	 * I/O thread, or a net_call() caller reading its own reply --- */
	atomic_int rtoken;		/* 0 free, 1 I/O thread, 2 caller */
	uint8_t *rbuf;
	size_t rhead, rtail;
	bool rbig;			/* reading a big payload into rdst */
	struct net_frame_hdr rh;	/* its header */
	uint8_t *rdst;			/* final buffer (in rreq or rown) */
	size_t rgot;
	uint32_t rcrc;			/* CRC32C of rdst[0 .. rgot) */
	net_req *rreq;			/* request being filled */
	void *rown;			/* reply buffer being filled (malloc) */
	struct net_conn *rerun_next;	/* io->rerun list (TLS pending bytes) */
	bool on_rerun;

	/* --- calls (ctx->calls_lock) --- */
	struct net_call *calls;		/* calls sent on this connection */
	_Atomic uint32_t ncalls;	/* written under calls_lock, read by anyone */
	bool calls_closed;		/* no more calls may be added */
	int calls_rc;			/* ... and new ones fail with this */
	struct net_timer hs_timer;	/* connect/handshake deadline; holds a ref */
	struct net_conn *tnext;		/* timer thread's expired list (its own) */

	/* --- ctx->conns list (ctx->lock) --- */
	struct net_conn *cnext, *cprev;

	/* counters */
	_Atomic uint64_t msgs_sent, msgs_recv, bytes_sent, bytes_recv;
};

struct net_req {
	struct net_conn *conn;		/* holds a reference */
	const struct net_handler *h;	/* set when dispatched */
	uint64_t id;
	uint64_t recv_ns;		/* mm_now_ns() when its header was read */
	uint32_t node;
	uint32_t len;
	uint16_t type;
	uint8_t kind;
	uint8_t data[];
};

/* Blocking net_call waiter (on the caller's stack). The completer writes
 * status/data/len, then stores done = 1 (release) and futex-wakes it; the
 * caller may return as soon as it sees done, so the completer touches
 * nothing after the store (a wake on a dead address is harmless: futex
 * waiters always re-check their word). */
struct net_sync {
	atomic_int done;		/* futex word */
	int status;
	void *data;
	size_t len;
};

struct net_call {
	struct net_timer t;		/* NET_T_CALL; ctx->calls_lock */
	uint64_t id;
	uint64_t start_ns;
	uint32_t node;
	uint16_t type;
	net_reply_fn cb;
	void *arg;
	struct net_sync *sync;		/* net_call() waiter, else NULL */
	struct net_conn *conn;		/* bound connection (no reference: the
					 * connection completes its calls before
					 * it goes away) */
	struct net_call *hnext;		/* id hash chain   (calls_lock) */
	struct net_call *cnext, *cprev;	/* conn->calls     (calls_lock) */
};

struct net_handler {
	net_handler_fn fn;
	void *arg;
	unsigned flags;
};
/* An entry of a handler page: installed once by compare-and-swap. */
typedef _Atomic(struct net_handler *) net_handler_slot;

struct net_tstats {
	_Atomic uint64_t calls_sent, replies_ok, replies_err, timeouts, total_rtt_us,
		 requests_served;
};

struct net_peer {
	uint32_t node_id;
	bool has_addr;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char addr_str[64];
	struct net_conn *conn;		/* the connection calls use; may be NULL
					 * (holds no reference: cleared by the
					 * connection's teardown) */
	struct net_peer *next;
};

enum net_cmd_kind { NET_CMD_CLOSE = 1, NET_CMD_STOP, NET_CMD_READ };
struct net_cmd {
	enum net_cmd_kind kind;
	struct net_conn *conn;		/* holds a reference */
	struct net_cmd *next;
};

struct net_io {
	net_ctx *ctx;
	int idx;
	pthread_t thread;
	bool started;
	int epfd;
	int evfd;			/* eventfd: wakes epoll_wait for cmds */
	struct net_src wake_src;
	pthread_mutex_t lock;		/* guards cmds, stopped */
	struct net_cmd *cmds, *cmds_tail;
	bool stopped;			/* joined: commands are dropped */
	struct net_conn *rerun;		/* owner thread only */
};

#define NET_PEER_BUCKETS 64

struct net_ctx {
	struct net_config cfg;		/* strings are owned copies */
	atomic_int refs;		/* the user + one per connection */

	pthread_mutex_t lock;		/* peers, conns, stopping, ev_fn */
	pthread_cond_t cond;		/* conns list became empty */
	struct net_peer *peers[NET_PEER_BUCKETS];
	struct net_conn *conns;
	size_t nconns;
	bool stopping;
	net_conn_event_fn ev_fn;
	void *ev_arg;

	/* handlers: pages of 256 types, pages and entries installed atomically */
	_Atomic(net_handler_slot *) hpage[256];
	_Atomic(struct net_tstats *) spage[256];	/* stats pages, installed atomically */

	void *tls;			/* SSL_CTX, NULL for PLAIN */
	struct net_src listen_src;
	int listen_fd;
	uint16_t listen_port;
	struct net_io *io;
	int nio;
	atomic_uint rr;			/* round robin over io[] */
	mm_pool *pool;

	/* calls and timers */
	pthread_mutex_t calls_lock;
	pthread_cond_t timer_cond;
	struct net_call **cbuckets;	/* id hash */
	size_t cmask, ncalls;
	struct net_timer **heap;
	size_t heap_n, heap_cap;
	uint64_t timer_wake_ns;		/* when the timer thread plans to wake */
	bool timer_stop;
	pthread_t timer_thread;
	bool timer_started;
	_Atomic uint64_t next_id;
	_Atomic uint64_t busy_log_ns;	/* rate limit of EBUSY warnings */
};

/* True on net I/O and timer threads: they never block on a socket. */
extern _Thread_local bool net_nonblocking_thread;
/* The I/O thread running on this thread, if any. */
extern _Thread_local struct net_io *net_cur_io;

/* ctx.c */
struct net_peer *net_peer_find(net_ctx *ctx, uint32_t node);
void net_ctx_put(net_ctx *ctx);
const struct net_handler *net_handler_get(net_ctx *ctx, uint16_t type);
struct net_tstats *net_tstats_get(net_ctx *ctx, uint16_t type);
void net_peer_conn_up(net_ctx *ctx, struct net_conn *c);
void net_conn_unlink(net_ctx *ctx, struct net_conn *c);
void net_fire_conn_event(net_ctx *ctx, uint32_t node, bool up);

static inline int net_conn_st(const struct net_conn *c)
{
	return atomic_load_explicit(&c->state, memory_order_acquire);
}

static inline int net_conn_closing(const struct net_conn *c)
{
	return atomic_load_explicit(&c->close_rc, memory_order_acquire);
}

/* May a connection go from state <from> to <to>? (README, "A connection's
 * state path"; CLOSED is reached from anywhere, and left never.) */
static inline bool net_conn_st_ok(int from, int to)
{
	switch (to) {
	case CS_HANDSHAKE:
		return from == CS_CONNECTING;
	case CS_HELLO:
		return from == CS_CONNECTING || from == CS_HANDSHAKE;
	case CS_UP:
		return from == CS_HELLO;
	case CS_CLOSED:
		return from != CS_CLOSED;
	}
	return false;
}

/* Set the state: only along the state path, by the owning I/O thread, and
 * the UP and CLOSED transitions with qlock held. */
static inline void net_conn_set_st(struct net_conn *c, int s)
{
	MM_BUG_ON(c, !net_conn_st_ok(atomic_load_explicit(&c->state, memory_order_relaxed), s));
	if (s == CS_UP || s == CS_CLOSED)
		MM_ASSERT_HELD(&c->qlock);
	atomic_store_explicit(&c->state, s, memory_order_release);
}

/* conn.c */
void net_sockaddr_str(const struct sockaddr *sa, char *buf, size_t sz);
/* What calls on a closing connection fail with (see conn.c). */
int net_conn_end_rc(const struct net_conn *c);
/* "node 3 (127.0.9.3:1191)", or "ip:port" for an unidentified peer. */
const char *net_conn_who(const struct net_conn *c, char *buf, size_t sz);
/* Change the epoll interest; qlock held. */
void net_conn_set_events_locked(struct net_conn *c, uint32_t mask);
struct net_conn *net_conn_get_for(net_ctx *ctx, uint32_t node, int *rc);
int net_conn_connect(net_ctx *ctx, struct net_peer *p, struct net_conn **out);
int net_conn_accept(net_ctx *ctx, int fd);
void net_conn_ref(struct net_conn *c);
void net_conn_put(struct net_conn *c);
void net_conn_close(struct net_conn *c, int rc);
/*
 * As net_conn_close, and if this is the first close, <why> (printf) is
 * the cause logged, at <level>, in the one line that reports the end of
 * a connection that was up ("connection to node 2 (...) closed: <why>").
 * Closers of an up connection say why here instead of logging it.
 */
void net_conn_close_why(struct net_conn *c, int rc, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void net_conn_teardown(struct net_conn *c);
void net_conn_event(struct net_conn *c, uint32_t events);
void net_conn_rerun(struct net_conn *c);
/* A net_call() caller waits for <done> by reading the connection itself
 * if it can (plain TCP, up, nobody else reading); returns when <done> is
 * set or it has handed reading back to the I/O thread. */
void net_conn_sync_wait(struct net_conn *c, const atomic_int *done);

/* send.c */
int net_conn_send(struct net_conn *c, const uint8_t *hdr, const void *data, size_t len);
void net_conn_flush_queued(struct net_conn *c);	/* I/O thread: went UP */
void net_conn_out_ready(struct net_conn *c);	/* I/O thread: EPOLLOUT */
/* net_frame_build() for a data frame on <c>: no payload CRC on ENCRYPT
 * connections (see README, "Checksums"). */
void net_conn_frame(const struct net_conn *c, uint8_t *hdr, uint8_t kind, uint16_t type,
		    int32_t status, uint64_t id, const void *data, uint32_t len);
const char *net_conn_state_name(int state);

/* io.c */
int net_io_start(net_ctx *ctx);
void net_io_stop(net_ctx *ctx);
int net_io_add(struct net_io *io, struct net_conn *c, uint32_t events);
int net_io_mod(struct net_conn *c, uint32_t events);
void net_io_del(struct net_conn *c);
int net_io_listen(net_ctx *ctx);
void net_io_free(net_ctx *ctx);
void net_io_post(struct net_io *io, enum net_cmd_kind kind, struct net_conn *c);
struct net_io *net_io_pick(net_ctx *ctx);

/* rpc.c */
int net_rpc_init(net_ctx *ctx);
void net_rpc_stop(net_ctx *ctx);
void net_rpc_free(net_ctx *ctx);
void net_timer_add(net_ctx *ctx, struct net_timer *t);	/* calls_lock held */
void net_timer_del(net_ctx *ctx, struct net_timer *t);	/* calls_lock held */
void net_conn_fail_calls(struct net_conn *c, int rc);
/* True if request <id> is a blocking net_call() still waiting. */
bool net_rpc_is_sync(net_ctx *ctx, uint64_t id);
void net_rpc_reply_in(struct net_conn *c, const struct net_frame_hdr *h,
		      const void *data, void *owned);
void net_rpc_request_in(struct net_conn *c, const struct net_frame_hdr *h,
			net_req *req);
net_req *net_req_alloc(struct net_conn *c, const struct net_frame_hdr *h);
void net_req_free(net_req *req);

/* Counters (msgs_*, bytes_*, struct net_tstats): relaxed, read for statistics. */
static inline uint64_t net_atomic_add(_Atomic uint64_t *p, uint64_t v)
{
	return atomic_fetch_add_explicit(p, v, memory_order_relaxed) + v;
}

static inline uint64_t net_atomic_get(const _Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

#endif
