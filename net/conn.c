/*
 * net/conn.c - one connection's life: connect or accept, TLS handshake,
 * hello exchange, reading frames, sending frames, closing.
 *
 * Principal entry points:
 *   net_conn_get_for()   the connection calls to a node use (connects)
 *   net_conn_accept()    a socket from the listener
 *   net_conn_event()     epoll readiness, on the owning I/O thread
 *   net_conn_close()     ask for a close, from any thread
 *   net_conn_teardown()  the close itself, on the owning I/O thread
 *
 * Map of this file: references; creation; handshake and hello; the read
 * path (receive token); a blocking caller reading its own reply
 * (net_conn_sync_wait); close and teardown. The send path is in send.c.
 *
 * States (net_int.h enum net_conn_state), see net/README.md:
 *   outbound: CONNECTING -> [HANDSHAKE] -> HELLO -> UP -> CLOSED
 *   inbound:                [HANDSHAKE] -> HELLO -> UP -> CLOSED
 * Any state may go to CLOSED. Only the owning I/O thread changes state.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net_int.h"

_Thread_local bool net_nonblocking_thread;
_Thread_local struct net_io *net_cur_io;

static const char *const state_names[] = {
	[CS_CONNECTING] = "connecting",
	[CS_HANDSHAKE] = "handshake",
	[CS_HELLO] = "handshake",
	[CS_UP] = "up",
	[CS_CLOSED] = "closed",
};

/* MM_BUG_ON's dump (common/bug.h): fields read without locks. */
void net_conn_dump(const void *obj, char *buf, size_t sz)
{
	const struct net_conn *c = obj;
	int st = atomic_load_explicit(&c->state, memory_order_relaxed);

	snprintf(buf, sz, "net_conn %p: state %d (%s), %s node %u peer %s local %s, refs %d, "
		 "close_rc %d, torn %d, was_up %d, registered %d, outq %zu bytes, calls %u%s",
		 obj, st, st >= CS_CONNECTING && st <= CS_CLOSED ? state_names[st] : "?",
		 c->outbound ? "outbound to" : "inbound from", c->node_id, c->peer, c->local,
		 atomic_load_explicit(&c->refs, memory_order_relaxed),
		 atomic_load_explicit(&c->close_rc, memory_order_relaxed), c->torn,
		 atomic_load_explicit(&c->was_up, memory_order_relaxed), c->registered,
		 c->outq_bytes,
		 atomic_load_explicit(&c->ncalls, memory_order_relaxed), c->calls_closed ? " (closed to calls)" : "");
}

const char *net_conn_state_name(int state)
{
	if (state < CS_CONNECTING || state > CS_CLOSED)
		return "?";
	return state_names[state];
}

static const char *sec_name(enum net_security s)
{
	return s == NET_SEC_ENCRYPT ? "encrypted" : s == NET_SEC_AUTHONLY ? "authonly" : "plain";
}

/* What calls on a closing connection fail with: MM_ESHUTDOWN when the ctx
 * stops, MM_ECLOSED once it was up, else why it never came up
 * (MM_EAUTH, MM_ENOMEM, or MM_EUNREACH for everything else). */
int net_conn_end_rc(const struct net_conn *c)
{
	int rc = net_conn_closing(c);

	if (rc == MM_ESHUTDOWN)
		return rc;
	if (atomic_load_explicit(&c->was_up, memory_order_acquire))
		return MM_ECLOSED;
	return rc == MM_EAUTH || rc == MM_ENOMEM ? rc : MM_EUNREACH;
}

/* "node 3 (127.0.9.3:1191)" or "127.0.0.1:40000" for unidentified peers. */
const char *net_conn_who(const struct net_conn *c, char *buf, size_t sz)
{
	if (c->outbound || net_conn_st(c) == CS_UP)
		snprintf(buf, sz, "node %u (%s)", c->node_id, c->peer);
	else
		snprintf(buf, sz, "%s", c->peer);
	return buf;
}

/* ---- references ------------------------------------------------------ */

void net_conn_ref(struct net_conn *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void conn_free(struct net_conn *c)
{
	net_ctx *ctx = c->ctx;
	struct net_outbuf *b, *nb;

	if (c->xprt.ops)
		c->xprt.ops->close(&c->xprt);
	if (c->fd >= 0)
		close(c->fd);
	for (b = c->outq; b; b = nb) {
		nb = b->next;
		free(b);
	}
	free(c->rbuf);
	free(c->rown);
	pthread_mutex_destroy(&c->xprt.lock);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->qlock);
	free(c);
	net_ctx_put(ctx);
}

void net_conn_put(struct net_conn *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		conn_free(c);
}

/* ---- creation -------------------------------------------------------- */

void net_sockaddr_str(const struct sockaddr *sa, char *buf, size_t sz)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, sz, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, sz, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, sz, "?");
	}
}

/* Stop the handshake timer if armed, dropping the reference it held. */
static void conn_cancel_hs_timer(net_ctx *ctx, struct net_conn *c)
{
	bool had_timer = false;

	pthread_mutex_lock(&ctx->calls_lock);
	if (c->hs_timer.idx >= 0) {
		net_timer_del(ctx, &c->hs_timer);
		had_timer = true;
	}
	pthread_mutex_unlock(&ctx->calls_lock);
	if (had_timer)
		net_conn_put(c);
}

static void sock_tune(int fd)
{
	int one = 1;

	/* Small frames go out at once; big ones are one writev anyway. Buffer
	 * sizes are left to the kernel's autotuning, which grows them to
	 * tcp_wmem/tcp_rmem max; a fixed SO_SNDBUF would cap it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static struct net_conn *conn_new(net_ctx *ctx, int fd, bool outbound)
{
	struct net_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->rbuf = malloc(NET_RBUF);
	if (!c->rbuf) {
		free(c);
		return NULL;
	}
	c->src.kind = NET_SRC_CONN;
	c->ctx = ctx;
	atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	atomic_init(&c->refs, 1);	/* the I/O thread's (epoll registration) */
	c->fd = fd;
	c->outbound = outbound;
	c->created_ns = mm_now_ns();
	c->xprt.fd = fd;
	c->xprt.ops = ctx->tls ? &net_xprt_tls : &net_xprt_tcp;
	c->crc_off = ctx->cfg.security == NET_SEC_ENCRYPT;
	pthread_mutex_init(&c->xprt.lock, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_init(&c->qlock, NULL);
	c->hs_timer.idx = -1;
	c->hs_timer.kind = NET_T_CONN;
	c->io = net_io_pick(ctx);
	return c;
}

/* Link <c> into ctx->conns (ctx->lock held) and arm its handshake deadline. */
static void conn_link(net_ctx *ctx, struct net_conn *c)
{
	c->cnext = ctx->conns;
	if (ctx->conns)
		ctx->conns->cprev = c;
	ctx->conns = c;
	ctx->nconns++;

	net_conn_ref(c);	/* the timer's */
	pthread_mutex_lock(&ctx->calls_lock);
	c->hs_timer.deadline_ns = mm_now_ns() + (uint64_t)ctx->cfg.connect_timeout_ms * 1000000u;
	net_timer_add(ctx, &c->hs_timer);
	pthread_mutex_unlock(&ctx->calls_lock);
}

/* ctx->lock held. Start a non-blocking connect to peer <p>. */
int net_conn_connect(net_ctx *ctx, struct net_peer *p, struct net_conn **out)
{
	struct net_conn *c;
	int fd, rc;

	fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = mm_err_from_errno(errno);
		mm_error("net", "socket for node %u: %s", p->node_id, strerror(errno));
		return rc;
	}
	sock_tune(fd);
	/* Leave from our own address, so peers (and their logs) see the
	 * address of this node rather than the primary one of the host. */
	if (ctx->cfg.listen_addr) {
		struct addrinfo hints = {.ai_family = p->addr.ss_family,
					 .ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *ai;

		if (getaddrinfo(ctx->cfg.listen_addr, "0", &hints, &ai) == 0) {
			bool any = (ai->ai_family == AF_INET &&
				    ((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr == INADDR_ANY) ||
				   (ai->ai_family == AF_INET6 &&
				    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr));

			if (!any && bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
				mm_debug("net", "bind to %s for node %u: %s", ctx->cfg.listen_addr,
					 p->node_id, strerror(errno));
			freeaddrinfo(ai);
		}
	}
	if (connect(fd, (struct sockaddr *)&p->addr, p->addrlen) < 0 && errno != EINPROGRESS) {
		rc = mm_err_from_errno(errno);
		mm_log_trouble(p->addr_str, MM_LOG_WARN, "net", "connect to node %u (%s) failed: %s",
			       p->node_id, p->addr_str, strerror(errno));
		close(fd);
		return rc == MM_ENOMEM ? rc : MM_EUNREACH;
	}
	c = conn_new(ctx, fd, true);
	if (!c) {
		close(fd);
		return MM_ENOMEM;
	}
	c->node_id = p->node_id;
	snprintf(c->peer, sizeof(c->peer), "%s", p->addr_str);
	atomic_init(&c->state, CS_CONNECTING);
	conn_link(ctx, c);
	c->ev_mask = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
	rc = net_io_add(c->io, c, c->ev_mask);
	if (rc) {
		net_conn_close(c, rc);
		/* the close command finds it unregistered; teardown copes */
	}
	*out = c;
	return MM_OK;
}

int net_conn_accept(net_ctx *ctx, int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct net_conn *c;
	int rc;

	sock_tune(fd);
	c = conn_new(ctx, fd, false);
	if (!c) {
		close(fd);
		return MM_ENOMEM;
	}
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
		net_sockaddr_str((struct sockaddr *)&sa, c->peer, sizeof(c->peer));
	if (ctx->tls) {
		rc = c->xprt.ops->attach(&c->xprt, ctx->tls, true);
		if (rc) {
			mm_error("net", "connection from %s: %s", c->peer, net_xprt_why());
			c->xprt.ops = NULL;
			net_conn_put(c);
			return rc;
		}
		atomic_init(&c->state, CS_HANDSHAKE);
	} else {
		atomic_init(&c->state, CS_HELLO);
	}
	pthread_mutex_lock(&ctx->lock);
	if (ctx->stopping) {
		pthread_mutex_unlock(&ctx->lock);
		net_conn_put(c);
		return MM_ESHUTDOWN;
	}
	conn_link(ctx, c);
	pthread_mutex_unlock(&ctx->lock);
	mm_debug("net", "connection from %s accepted", c->peer);
	c->ev_mask = EPOLLIN | EPOLLRDHUP;
	rc = net_io_add(c->io, c, c->ev_mask);
	if (rc)
		net_conn_close(c, rc);
	return MM_OK;
}

struct net_conn *net_conn_get_for(net_ctx *ctx, uint32_t node, int *rc)
{
	struct net_peer *p;
	struct net_conn *c = NULL;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->stopping) {
		*rc = MM_ESHUTDOWN;
		goto out;
	}
	p = net_peer_find(ctx, node);
	if (p && p->conn && !net_conn_closing(p->conn)) {
		c = p->conn;
		net_conn_ref(c);
		goto out;
	}
	if (!p || !p->has_addr) {
		*rc = MM_EUNREACH;
		goto out;
	}
	*rc = net_conn_connect(ctx, p, &c);
	if (*rc == MM_OK) {
		p->conn = c;
		net_conn_ref(c);
	}
out:
	pthread_mutex_unlock(&ctx->lock);
	return c;
}

/* epoll interest; qlock held. */
void net_conn_set_events_locked(struct net_conn *c, uint32_t mask)
{
	if (mask != c->ev_mask && net_conn_st(c) != CS_CLOSED) {
		c->ev_mask = mask;
		net_io_mod(c, mask);
	}
}

static void conn_set_events(struct net_conn *c, uint32_t mask)
{
	pthread_mutex_lock(&c->qlock);
	net_conn_set_events_locked(c, mask);
	pthread_mutex_unlock(&c->qlock);
}

/* ---- handshake and hello --------------------------------------------- */

static void conn_read(struct net_conn *c);

/* A failure before the connection is up: calls on it see <rc>. */
static void conn_fail(struct net_conn *c, int rc)
{
	net_conn_close(c, rc);
}

static void conn_proto_error(struct net_conn *c, const char *fmt, const char *arg)
{
	char who[96], what[160];

	snprintf(what, sizeof(what), fmt, arg);
	if (net_conn_st(c) == CS_UP) {
		/* logged once, at teardown */
		net_conn_close_why(c, MM_ECLOSED, MM_LOG_WARN, "protocol error: %s", what);
		return;
	}
	mm_warn("net", "closing connection %s %s: %s", c->outbound ? "to" : "from",
		net_conn_who(c, who, sizeof(who)), what);
	conn_fail(c, MM_EPROTO);
}

/* Write hs_out; then go UP or close as the acceptor decided. */
static void conn_hs_flush(struct net_conn *c);

static void conn_send_hello(struct net_conn *c, uint8_t kind, int status, const char *reason)
{
	net_ctx *ctx = c->ctx;
	struct net_hello h = {
		.node_id = ctx->cfg.node_id,
		.cluster_id = ctx->cfg.cluster_id,
		.security = (uint8_t)ctx->cfg.security,
	};
	size_t n;

	snprintf(h.reason, sizeof(h.reason), "%s", reason ? reason : "");
	n = net_hello_encode(&h, c->hs_out + NET_FRAME_HDR_LEN,
			     sizeof(c->hs_out) - NET_FRAME_HDR_LEN);
	net_frame_build(c->hs_out, kind, 0, status, 0, c->hs_out + NET_FRAME_HDR_LEN, (uint32_t)n);
	c->hs_len = NET_FRAME_HDR_LEN + n;
	c->hs_off = 0;
	c->hs_busy = true;
	conn_hs_flush(c);
}

static void conn_go_up(struct net_conn *c)
{
	net_ctx *ctx = c->ctx;
	char who[96];

	if (ctx->cfg.security == NET_SEC_AUTHONLY) {
		/* Nothing may be left inside TLS: the next byte on the socket
		 * is the first clear frame. See README "AUTHONLY". */
		if (c->rhead != c->rtail || !net_tls_drained(&c->xprt)) {
			conn_proto_error(c, "%s", "data after the hello inside TLS");
			return;
		}
		c->xprt.ops->close(&c->xprt);
		c->xprt.ops = &net_xprt_tcp;
	} else if (ctx->cfg.security == NET_SEC_ENCRYPT) {
		/* Our own records from here on; the peer switches at the same
		 * point of the stream. See README "records after the hello". */
		int rc = c->rhead != c->rtail ? MM_EPROTO : net_aead_switch(&c->xprt, !c->outbound);

		if (rc != MM_OK && rc != MM_ENOTSUP) {
			conn_proto_error(c, "%s", c->rhead != c->rtail ? "data after the hello inside TLS"
								     : net_xprt_why());
			return;
		}
	}
	conn_cancel_hs_timer(ctx, c);

	atomic_store_explicit(&c->was_up, true, memory_order_release);
	pthread_mutex_lock(&c->qlock);
	net_conn_set_st(c, CS_UP);
	net_conn_set_events_locked(c, EPOLLIN | EPOLLRDHUP);
	pthread_mutex_unlock(&c->qlock);
	net_peer_conn_up(ctx, c);
	mm_info("net", "connection %s %s up (%s, %s)", c->outbound ? "to" : "from",
		net_conn_who(c, who, sizeof(who)), sec_name(ctx->cfg.security), c->xprt.ops->name);
	net_fire_conn_event(ctx, c->node_id, true);
	net_conn_flush_queued(c);
}

static void conn_hs_flush(struct net_conn *c)
{
	char who[96];
	int rc;

	while (c->hs_off < c->hs_len) {
		struct iovec iov = {c->hs_out + c->hs_off, c->hs_len - c->hs_off};
		ssize_t n = c->xprt.ops->writev(&c->xprt, &iov, 1);

		if (n == NET_XPRT_WANT_WRITE || n == NET_XPRT_WANT_READ) {
			conn_set_events(c, EPOLLIN | EPOLLRDHUP |
					   (n == NET_XPRT_WANT_WRITE ? EPOLLOUT : 0));
			return;
		}
		if (n < 0) {
			mm_warn("net", "hello to %s failed: %s", net_conn_who(c, who, sizeof(who)),
				net_xprt_why());
			conn_fail(c, n == MM_EAUTH ? MM_EAUTH : MM_EUNREACH);
			return;
		}
		c->hs_off += (size_t)n;
		net_atomic_add(&c->bytes_sent, (uint64_t)n);
	}
	rc = c->xprt.ops->flush(&c->xprt);
	if (rc == NET_XPRT_WANT_WRITE) {
		conn_set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		return;
	}
	if (rc < 0) {
		mm_warn("net", "hello to %s failed: %s", net_conn_who(c, who, sizeof(who)),
			net_xprt_why());
		conn_fail(c, MM_EUNREACH);
		return;
	}
	c->hs_busy = false;
	conn_set_events(c, EPOLLIN | EPOLLRDHUP);
	if (c->hs_fail_rc) {
		conn_fail(c, c->hs_fail_rc);
	} else if (c->hs_up_after) {
		c->hs_up_after = false;
		conn_go_up(c);
	}
}

static void conn_hello_in(struct net_conn *c, const struct net_frame_hdr *h, const uint8_t *p)
{
	net_ctx *ctx = c->ctx;
	struct net_hello hello;
	char reason[NET_HELLO_REASON_MAX] = "";
	int rc = net_hello_decode(p, h->len, &hello);

	if (c->outbound) {
		if (h->kind != NET_K_HELLO_ACK || rc) {
			conn_proto_error(c, "expected a hello-ack, got %s",
					 rc ? "a malformed one" : net_frame_kind_name(h->kind));
			return;
		}
		if (h->status != 0) {
			mm_warn("net", "node %u (%s) refused our connection: %s", c->node_id,
				c->peer, hello.reason[0] ? hello.reason : mm_strerror(h->status));
			conn_fail(c, MM_EAUTH);
			return;
		}
		if (hello.cluster_id != ctx->cfg.cluster_id)
			snprintf(reason, sizeof(reason), "cluster id %016llx does not match ours (%016llx)",
				 (unsigned long long)hello.cluster_id,
				 (unsigned long long)ctx->cfg.cluster_id);
		else if (hello.node_id != c->node_id)
			snprintf(reason, sizeof(reason), "it answered as node %u", hello.node_id);
		else if (hello.security != ctx->cfg.security)
			snprintf(reason, sizeof(reason), "its security mode is %s, ours %s",
				 sec_name(hello.security), sec_name(ctx->cfg.security));
		if (reason[0]) {
			mm_warn("net", "refusing connection to node %u (%s): %s", c->node_id,
				c->peer, reason);
			conn_fail(c, MM_EAUTH);
			return;
		}
		conn_go_up(c);
		return;
	}
	if (h->kind != NET_K_HELLO || rc || c->hs_len) {
		conn_proto_error(c, "expected a hello, got %s",
				 rc ? "a malformed one" : net_frame_kind_name(h->kind));
		return;
	}
	if (hello.cluster_id != ctx->cfg.cluster_id)
		snprintf(reason, sizeof(reason), "cluster id %016llx does not match ours (%016llx)",
			 (unsigned long long)hello.cluster_id,
			 (unsigned long long)ctx->cfg.cluster_id);
	else if (hello.security != ctx->cfg.security)
		snprintf(reason, sizeof(reason), "security mode %s does not match ours (%s)",
			 sec_name(hello.security), sec_name(ctx->cfg.security));
	pthread_mutex_lock(&c->qlock);	/* node_id is read by others once UP */
	c->node_id = hello.node_id;
	pthread_mutex_unlock(&c->qlock);
	if (reason[0]) {
		mm_warn("net", "refusing connection from %s (node %u): %s", c->peer,
			hello.node_id, reason);
		c->hs_fail_rc = MM_EAUTH;
		conn_send_hello(c, NET_K_HELLO_ACK, MM_EAUTH, reason);
	} else {
		c->hs_up_after = true;
		conn_send_hello(c, NET_K_HELLO_ACK, 0, NULL);
	}
}

static void conn_handshake(struct net_conn *c)
{
	char who[96];
	int rc = c->xprt.ops->handshake(&c->xprt);

	if (rc == NET_XPRT_WANT_READ) {
		conn_set_events(c, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if (rc == NET_XPRT_WANT_WRITE) {
		conn_set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		return;
	}
	if (rc < 0) {
		if (c->outbound)
			snprintf(who, sizeof(who), " (node %u)", c->node_id);
		else
			who[0] = 0;
		mm_warn("net", "TLS handshake with %s%s failed: %s", c->peer, who, net_xprt_why());
		conn_fail(c, rc);
		return;
	}
	net_conn_set_st(c, CS_HELLO);
	conn_set_events(c, EPOLLIN | EPOLLRDHUP);
	if (c->outbound)
		conn_send_hello(c, NET_K_HELLO, 0, NULL);
	if (!net_conn_closing(c))
		conn_read(c);	/* records may already sit inside TLS */
}

static void conn_connected(struct net_conn *c)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(int);
	int err = 0, rc;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		mm_log_trouble(c->peer, MM_LOG_WARN, "net", "connect to node %u (%s) failed: %s",
			       c->node_id, c->peer, strerror(err));
		conn_fail(c, MM_EUNREACH);
		return;
	}
	len = sizeof(sa);
	if (getsockname(c->fd, (struct sockaddr *)&sa, &len) == 0)
		net_sockaddr_str((struct sockaddr *)&sa, c->local, sizeof(c->local));
	if (c->ctx->tls) {
		rc = c->xprt.ops->attach(&c->xprt, c->ctx->tls, false);
		if (rc) {
			mm_error("net", "connection to node %u: %s", c->node_id, net_xprt_why());
			c->xprt.ops = &net_xprt_tcp;
			conn_fail(c, rc);
			return;
		}
		net_conn_set_st(c, CS_HANDSHAKE);
		conn_handshake(c);
		return;
	}
	net_conn_set_st(c, CS_HELLO);
	conn_set_events(c, EPOLLIN | EPOLLRDHUP);
	conn_send_hello(c, NET_K_HELLO, 0, NULL);
}

/* ---- read path ------------------------------------------------------- */

static void conn_bad_frame(struct net_conn *c, int rc)
{
	conn_proto_error(c, "%s", net_frame_strerror(rc));
}

/* One complete frame. <req> or <owned> hold a big payload that was read
 * into them (then <payload> points into it); both NULL when <payload>
 * lies in rbuf. Consumes <req> and <owned>. */
static void conn_deliver(struct net_conn *c, const struct net_frame_hdr *h,
			 const uint8_t *payload, net_req *req, void *owned, bool crc_done)
{
	bool hello = h->kind == NET_K_HELLO || h->kind == NET_K_HELLO_ACK;
	int rc = crc_done || (c->crc_off && !hello) ? MM_OK : net_frame_payload_check(h, payload);

	if (rc) {
		conn_bad_frame(c, rc);
		goto drop;
	}
	net_atomic_add(&c->msgs_recv, 1);
	if (net_conn_st(c) == CS_CLOSED)
		goto drop;	/* torn down meanwhile (a sync caller reading) */
	if (net_conn_st(c) != CS_UP) {
		if (h->kind == NET_K_HELLO || h->kind == NET_K_HELLO_ACK)
			conn_hello_in(c, h, payload);
		else
			conn_proto_error(c, "%s before the hello", net_frame_kind_name(h->kind));
		goto drop;
	}
	switch (h->kind) {
	case NET_K_REQUEST:
	case NET_K_ONEWAY:
		if (!req) {
			req = net_req_alloc(c, h);
			if (!req) {
				mm_error("net", "out of memory for a request from node %u", c->node_id);
				conn_fail(c, MM_ENOMEM);
				goto drop;
			}
			memcpy(req->data, payload, h->len);
		}
		net_rpc_request_in(c, h, req);
		free(owned);
		return;
	case NET_K_REPLY:
		net_rpc_reply_in(c, h, payload, owned);
		if (req)
			net_req_free(req);
		return;
	default:
		conn_proto_error(c, "unexpected %s", net_frame_kind_name(h->kind));
		goto drop;
	}
drop:
	if (req)
		net_req_free(req);
	free(owned);
}

/* A payload too big for rbuf: allocate its final home. */
static int conn_big_start(struct net_conn *c, const struct net_frame_hdr *h)
{
	c->rh = *h;
	c->rgot = 0;
	if (h->kind == NET_K_REQUEST || h->kind == NET_K_ONEWAY) {
		c->rreq = net_req_alloc(c, h);
		if (!c->rreq)
			return MM_ENOMEM;
		c->rdst = c->rreq->data;
	} else {
		c->rown = malloc(h->len);
		if (!c->rown)
			return MM_ENOMEM;
		c->rdst = c->rown;
	}
	c->rbig = true;
	return MM_OK;
}

static void conn_big_done(struct net_conn *c)
{
	struct net_frame_hdr h = c->rh;
	net_req *req = c->rreq;
	void *own = c->rown;
	const uint8_t *p = c->rdst;

	c->rbig = false;
	c->rreq = NULL;
	c->rown = NULL;
	c->rdst = NULL;
	if (!c->crc_off && c->rcrc != h.payload_crc) {
		conn_bad_frame(c, MM_EIO);
		if (req)
			net_req_free(req);
		free(own);
		return;
	}
	conn_deliver(c, &h, p, req, own, true);
}

/* Parse the complete frames in rbuf. */
static void conn_parse(struct net_conn *c)
{
	while (!net_conn_closing(c) && !c->rbig && c->rtail - c->rhead >= NET_FRAME_HDR_LEN) {
		uint32_t limit = net_conn_st(c) == CS_UP ? c->ctx->cfg.max_payload : NET_HELLO_MAX_LEN;
		struct net_frame_hdr h;
		size_t avail;
		int rc = net_frame_hdr_decode(c->rbuf + c->rhead, NET_FRAME_HDR_LEN, limit, &h);

		if (rc) {
			conn_bad_frame(c, rc);
			return;
		}
		avail = c->rtail - c->rhead - NET_FRAME_HDR_LEN;
		if (avail >= h.len) {
			const uint8_t *p = c->rbuf + c->rhead + NET_FRAME_HDR_LEN;

			/* rbuf is not touched again until the next read */
			c->rhead += NET_FRAME_HDR_LEN + h.len;
			conn_deliver(c, &h, p, NULL, NULL, false);
			continue;
		}
		if (h.len < NET_BIG_PAYLOAD)
			break;	/* wait for the rest in rbuf */
		if (conn_big_start(c, &h)) {
			mm_error("net", "out of memory for a %u byte payload from %s", h.len, c->peer);
			conn_fail(c, MM_ENOMEM);
			return;
		}
		memcpy(c->rdst, c->rbuf + c->rhead + NET_FRAME_HDR_LEN, avail);
		c->rgot = avail;
		c->rcrc = c->crc_off ? 0 : mm_crc32c_bulk(0, c->rdst, avail);
		c->rhead = c->rtail = 0;
	}
	if (c->rhead == c->rtail)
		c->rhead = c->rtail = 0;
}

static void conn_read_error(struct net_conn *c, ssize_t n)
{
	char who[96];
	int st = net_conn_st(c);

	if (st == CS_UP) {
		/* logged once, at teardown */
		if (n == MM_ECLOSED)
			net_conn_close_why(c, MM_ECLOSED, MM_LOG_INFO, "by the peer");
		else
			net_conn_close_why(c, MM_ECLOSED, MM_LOG_WARN, "%s", net_xprt_why());
		return;
	}
	if (n == MM_EAUTH) {
		/* TLS 1.3: a client learns that the server refused its certificate
		 * only when it reads the alert, after its side of the handshake. */
		if (c->outbound)
			snprintf(who, sizeof(who), " (node %u)", c->node_id);
		else
			who[0] = 0;
		mm_warn("net", "TLS handshake with %s%s failed: %s", c->peer, who, net_xprt_why());
		conn_fail(c, MM_EAUTH);
		return;
	}
	mm_warn("net", "connection %s %s failed during the handshake: %s",
		c->outbound ? "to" : "from", net_conn_who(c, who, sizeof(who)), net_xprt_why());
	conn_fail(c, MM_EUNREACH);
}

/* The receive token: whoever holds it owns rbuf and every r* field. The
 * I/O thread takes it for each read; a net_call() caller may take it to
 * read its own reply (net_conn_sync_wait). Never waited for: a failed
 * take means the holder reads. */
enum { RT_FREE = 0, RT_IO = 1, RT_CALLER = 2 };

static bool rtoken_take(struct net_conn *c, int who)
{
	int expect = RT_FREE;

	return atomic_compare_exchange_strong_explicit(&c->rtoken, &expect, who,
						       memory_order_acquire, memory_order_relaxed);
}

static void rtoken_drop(struct net_conn *c)
{
	atomic_store_explicit(&c->rtoken, RT_FREE, memory_order_release);
}

static void conn_read_locked(struct net_conn *c)
{
	const struct net_xprt_ops *ops = c->xprt.ops;
	int budget = 64;

	/* frames a sync caller read but left to us (net_conn_sync_wait) */
	conn_parse(c);
	while (!net_conn_closing(c)) {
		size_t want;
		ssize_t n;

		ops = c->xprt.ops;	/* AUTHONLY switches it mid-loop */
		if (budget-- == 0) {
			if (ops->pending(&c->xprt) && !c->on_rerun) {
				c->on_rerun = true;
				net_conn_ref(c);
				c->rerun_next = c->io->rerun;
				c->io->rerun = c;
			}
			return;
		}
		if (c->rbig) {
			want = c->rh.len - c->rgot;
			n = ops->read(&c->xprt, c->rdst + c->rgot, want);
			if (n == NET_XPRT_WANT_READ || n == NET_XPRT_WANT_WRITE)
				return;
			if (n < 0) {
				conn_read_error(c, n);
				return;
			}
			/* checksum while the bytes are still in the cache */
			if (!c->crc_off)
				c->rcrc = mm_crc32c_bulk(c->rcrc, c->rdst + c->rgot, (size_t)n);
			c->rgot += (size_t)n;
			net_atomic_add(&c->bytes_recv, (uint64_t)n);
			if (c->rgot == c->rh.len) {
				conn_big_done(c);
				conn_parse(c);
			}
		} else {
			if (c->rhead > 0) {
				memmove(c->rbuf, c->rbuf + c->rhead, c->rtail - c->rhead);
				c->rtail -= c->rhead;
				c->rhead = 0;
			}
			want = NET_RBUF - c->rtail;
			n = ops->read(&c->xprt, c->rbuf + c->rtail, want);
			if (n == NET_XPRT_WANT_READ || n == NET_XPRT_WANT_WRITE)
				return;
			if (n < 0) {
				conn_read_error(c, n);
				return;
			}
			c->rtail += (size_t)n;
			net_atomic_add(&c->bytes_recv, (uint64_t)n);
			conn_parse(c);
		}
		/* A short read drained the socket; epoll reports the next bytes. */
		if ((size_t)n < want && ops->exact_readiness && c->xprt.ops == ops)
			return;
	}
}

static void conn_read(struct net_conn *c)
{
	if (!rtoken_take(c, RT_IO))
		return;	/* a caller is reading; it hands back what it cannot use */
	conn_read_locked(c);
	rtoken_drop(c);
}

void net_conn_rerun(struct net_conn *c)
{
	if (!c->torn && !net_conn_closing(c) && net_conn_st(c) >= CS_HELLO)
		conn_read(c);
}

/* ---- a sync caller reads its own reply ---------------------------------
 *
 * On a plain TCP connection (PLAIN, or AUTHONLY once up) a net_call()
 * caller waiting for its reply takes the receive token, turns EPOLLIN off
 * and reads the socket itself: the reply then costs one wakeup (the
 * caller's) instead of two (the I/O thread's, then the caller's). It only
 * delivers small replies to blocking calls, which run no user code; at
 * the first other frame (a request, a oneway, a reply to an async call, a
 * big payload) it stops and hands everything back: EPOLLIN on again, the
 * token dropped, and the I/O thread nudged if bytes wait in rbuf.
 */
enum { SYNC_MORE, SYNC_STOP };

static int sync_parse(struct net_conn *c)
{
	net_ctx *ctx = c->ctx;

	while (c->rtail - c->rhead >= NET_FRAME_HDR_LEN) {
		struct net_frame_hdr h;
		const uint8_t *p;
		int rc = net_frame_hdr_decode(c->rbuf + c->rhead, NET_FRAME_HDR_LEN,
					      ctx->cfg.max_payload, &h);

		if (rc) {
			conn_bad_frame(c, rc);
			return SYNC_STOP;
		}
		if (h.kind != NET_K_REPLY || h.len >= NET_BIG_PAYLOAD || !net_rpc_is_sync(ctx, h.id))
			return SYNC_STOP;
		if (c->rtail - c->rhead - NET_FRAME_HDR_LEN < h.len)
			return SYNC_MORE;
		p = c->rbuf + c->rhead + NET_FRAME_HDR_LEN;
		c->rhead += NET_FRAME_HDR_LEN + h.len;
		conn_deliver(c, &h, p, NULL, NULL, false);
	}
	if (c->rhead == c->rtail)
		c->rhead = c->rtail = 0;
	return SYNC_MORE;
}

void net_conn_sync_wait(struct net_conn *c, const atomic_int *done)
{
	bool pending;

	if (net_conn_st(c) != CS_UP || c->xprt.ops != &net_xprt_tcp ||
	    atomic_load_explicit(done, memory_order_acquire) || !rtoken_take(c, RT_CALLER))
		return;
	if (c->rbig || net_conn_closing(c)) {
		rtoken_drop(c);
		return;
	}
	/* Other interest changes derive from ev_mask, so EPOLLIN stays off
	 * until we turn it on again. */
	pthread_mutex_lock(&c->qlock);
	net_conn_set_events_locked(c, c->ev_mask & ~(uint32_t)(EPOLLIN | EPOLLRDHUP));
	pthread_mutex_unlock(&c->qlock);

	while (!atomic_load_explicit(done, memory_order_acquire) && !net_conn_closing(c)) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (sync_parse(c) == SYNC_STOP || atomic_load_explicit(done, memory_order_acquire))
			break;
		if (c->rhead > 0) {
			memmove(c->rbuf, c->rbuf + c->rhead, c->rtail - c->rhead);
			c->rtail -= c->rhead;
			c->rhead = 0;
		}
		n = net_xprt_tcp.read(&c->xprt, c->rbuf + c->rtail, NET_RBUF - c->rtail);
		if (n == NET_XPRT_WANT_READ) {
			/* a timeout or a close elsewhere sets <done>: look again soon */
			poll(&pfd, 1, 5);
			continue;
		}
		if (n < 0) {
			if (!net_conn_closing(c))	/* else it is our own shutdown() */
				conn_read_error(c, n);
			break;
		}
		c->rtail += (size_t)n;
		net_atomic_add(&c->bytes_recv, (uint64_t)n);
	}

	pthread_mutex_lock(&c->qlock);
	net_conn_set_events_locked(c, c->ev_mask | EPOLLIN | EPOLLRDHUP);
	pthread_mutex_unlock(&c->qlock);
	pending = c->rtail > c->rhead;
	rtoken_drop(c);
	/* Bytes already in rbuf raise no EPOLLIN: nudge the I/O thread. */
	if (pending && !net_conn_closing(c)) {
		net_conn_ref(c);
		net_io_post(c->io, NET_CMD_READ, c);
	}
}

/* ---- events, close, teardown ----------------------------------------- */

void net_conn_event(struct net_conn *c, uint32_t ev)
{
	if (c->torn || net_conn_closing(c))
		return;
	switch (net_conn_st(c)) {
	case CS_CONNECTING:
		conn_connected(c);
		break;
	case CS_HANDSHAKE:
		conn_handshake(c);
		break;
	case CS_HELLO:
		if (c->hs_busy) {
			conn_hs_flush(c);
			if (net_conn_closing(c) || c->hs_busy)
				break;
		}
		conn_read(c);
		break;
	case CS_UP:
		if (ev & EPOLLOUT)
			net_conn_out_ready(c);
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
			conn_read(c);
		break;
	default:
		break;
	}
}

static void conn_close_as(struct net_conn *c, int rc, int level, const char *why)
{
	int zero = 0;

	if (rc == 0)
		rc = MM_ECLOSED;
	if (!atomic_compare_exchange_strong_explicit(&c->close_rc, &zero, rc, memory_order_acq_rel,
						     memory_order_acquire))
		return;
	/* the close command below orders this before teardown reads it */
	if (why)
		snprintf(c->close_why, sizeof(c->close_why), "%s", why);
	c->close_level = why ? level : MM_LOG_INFO;
	/* Wake a sender blocked in poll() and tell the peer at once. */
	shutdown(c->fd, SHUT_RDWR);
	net_conn_ref(c);
	net_io_post(c->io, NET_CMD_CLOSE, c);
}

void net_conn_close(struct net_conn *c, int rc)
{
	conn_close_as(c, rc, MM_LOG_INFO, NULL);
}

void net_conn_close_why(struct net_conn *c, int rc, int level, const char *fmt, ...)
{
	char why[sizeof(c->close_why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conn_close_as(c, rc, level, why);
}

void net_conn_teardown(struct net_conn *c)
{
	net_ctx *ctx = c->ctx;
	int rc = net_conn_closing(c), call_rc;

	if (c->torn)
		return;
	c->torn = true;
	pthread_mutex_lock(&c->qlock);
	net_conn_set_st(c, CS_CLOSED);
	pthread_mutex_unlock(&c->qlock);
	net_io_del(c);
	if (c->rreq) {
		net_req_free(c->rreq);
		c->rreq = NULL;
	}
	net_conn_unlink(ctx, c);

	conn_cancel_hs_timer(ctx, c);

	call_rc = net_conn_end_rc(c);
	net_conn_fail_calls(c, call_rc);
	if (atomic_load_explicit(&c->was_up, memory_order_relaxed)) {
		/* the one line for the end of a connection that was up, with
		 * its cause (net_conn_close_why) */
		mm_logf(c->close_why[0] ? c->close_level : MM_LOG_INFO, "net",
			"connection %s node %u (%s) closed: %s (%s)", c->outbound ? "to" : "from",
			c->node_id, c->peer, c->close_why[0] ? c->close_why : mm_strerror(rc),
			mm_errname(rc));
		net_fire_conn_event(ctx, c->node_id, false);
	}
	net_conn_put(c);	/* the I/O thread's */
}
