/*
 * net/ctx.c - a net_ctx: creation and destruction, handler registry,
 * per-type counters, the peer table (connection manager), diagnostics.
 *
 * Lifetime: the ctx is reference counted: the user holds one reference
 * (dropped by net_destroy) and every connection one. net_destroy stops
 * everything that runs (threads, sockets, the pool); the memory stays
 * until the last connection is freed, which may be after a handler's
 * late net_reply() on a request it kept.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net_int.h"

#define DEFAULT_MAX_PAYLOAD (64u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000

/* ---- lifetime -------------------------------------------------------- */

static void ctx_free(net_ctx *ctx)
{
	for (size_t i = 0; i < NET_PEER_BUCKETS; i++) {
		struct net_peer *p, *next;

		for (p = ctx->peers[i]; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	for (size_t i = 0; i < 256; i++) {
		net_handler_slot *hp = atomic_load_explicit(&ctx->hpage[i], memory_order_relaxed);

		if (hp) {
			for (size_t j = 0; j < 256; j++)
				free(atomic_load_explicit(&hp[j], memory_order_relaxed));
			free(hp);
		}
		free(atomic_load_explicit(&ctx->spage[i], memory_order_relaxed));
	}
	if (ctx->tls)
		net_tls_ctx_free(ctx->tls);
	net_rpc_free(ctx);
	net_io_free(ctx);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->lock);
	free((char *)ctx->cfg.listen_addr);
	free((char *)ctx->cfg.ciphers);
	free((char *)ctx->cfg.ca_file);
	free((char *)ctx->cfg.cert_file);
	free((char *)ctx->cfg.key_file);
	free(ctx);
}

void net_ctx_put(net_ctx *ctx)
{
	if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
		ctx_free(ctx);
}

static int dup_str(const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return MM_OK;
	*dst = strdup(src);
	return *dst ? MM_OK : MM_ENOMEM;
}

static int ctx_listen(net_ctx *ctx)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char port[8];
	int fd, one = 1, e;

	snprintf(port, sizeof(port), "%u", ctx->cfg.port);
	e = getaddrinfo(ctx->cfg.listen_addr, port, &hints, &ai);
	if (e) {
		mm_error("net", "listen address %s: %s", ctx->cfg.listen_addr, gai_strerror(e));
		return MM_EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		freeaddrinfo(ai);
		mm_error("net", "socket: %s", strerror(e));
		return mm_err_from_errno(e);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		e = errno;
		freeaddrinfo(ai);
		close(fd);
		mm_error("net", "cannot listen on %s port %u: %s", ctx->cfg.listen_addr,
			 ctx->cfg.port, strerror(e));
		return e == EADDRINUSE ? MM_EBUSY : mm_err_from_errno(e);
	}
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		ctx->listen_port = ntohs(sa.ss_family == AF_INET6
					 ? ((struct sockaddr_in6 *)&sa)->sin6_port
					 : ((struct sockaddr_in *)&sa)->sin_port);
	ctx->listen_fd = fd;
	return net_io_listen(ctx);
}

int net_create(const struct net_config *cfg, net_ctx **out)
{
	struct sigaction sa;
	net_ctx *ctx;
	int rc;

	if (!cfg || !out || cfg->io_threads < 1 || cfg->worker_threads < 1 ||
	    cfg->security < NET_SEC_PLAIN || cfg->security > NET_SEC_ENCRYPT)
		return MM_EINVAL;
	/* A peer's reset must not kill the process: TLS writes go through
	 * write(2), which raises SIGPIPE (our own sends use MSG_NOSIGNAL). */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return MM_ENOMEM;
	ctx->cfg = *cfg;
	if (dup_str(&ctx->cfg.listen_addr, cfg->listen_addr) ||
	    dup_str(&ctx->cfg.ciphers, cfg->ciphers) || dup_str(&ctx->cfg.ca_file, cfg->ca_file) ||
	    dup_str(&ctx->cfg.cert_file, cfg->cert_file) ||
	    dup_str(&ctx->cfg.key_file, cfg->key_file)) {
		rc = MM_ENOMEM;
		goto fail_early;
	}
	if (!ctx->cfg.max_payload)
		ctx->cfg.max_payload = DEFAULT_MAX_PAYLOAD;
	if (ctx->cfg.connect_timeout_ms <= 0)
		ctx->cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!ctx->cfg.worker_queue)
		ctx->cfg.worker_queue = NET_DEFAULT_WORKER_QUEUE;
	atomic_init(&ctx->refs, 1);
	ctx->listen_fd = -1;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_cond_init(&ctx->cond, NULL);
	rc = net_rpc_init(ctx);
	if (rc)
		goto fail;
	if (cfg->security != NET_SEC_PLAIN) {
		rc = net_tls_ctx_create(&ctx->cfg, &ctx->tls);
		if (rc)
			goto fail;
	}
	rc = mm_pool_create("netw", cfg->worker_threads, ctx->cfg.worker_queue, &ctx->pool);
	if (rc)
		goto fail;
	rc = net_io_start(ctx);
	if (rc)
		goto fail;
	if (ctx->cfg.listen_addr) {
		rc = ctx_listen(ctx);
		if (rc)
			goto fail;
	}
	{
		char where[96] = ", outbound only";

		if (cfg->listen_addr)
			snprintf(where, sizeof(where), ", listening on %s port %u", cfg->listen_addr,
				 ctx->listen_port);
		mm_info("net", "node %u ready%s, %s, %d I/O threads, %d workers", cfg->node_id,
			where, cfg->security == NET_SEC_ENCRYPT ? "encrypted"
			: cfg->security == NET_SEC_AUTHONLY ? "authonly" : "plain",
			cfg->io_threads, cfg->worker_threads);
	}
	*out = ctx;
	return MM_OK;
fail:
	net_destroy(ctx);
	return rc;
fail_early:
	free((char *)ctx->cfg.listen_addr);
	free((char *)ctx->cfg.ciphers);
	free((char *)ctx->cfg.ca_file);
	free((char *)ctx->cfg.cert_file);
	free((char *)ctx->cfg.key_file);
	free(ctx);
	return rc;
}

void net_destroy(net_ctx *ctx)
{
	struct net_conn **all = NULL, *c;
	size_t n = 0;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = true;
	if (ctx->nconns)
		all = malloc(ctx->nconns * sizeof(*all));
	for (c = ctx->conns; c && all; c = c->cnext) {
		net_conn_ref(c);
		all[n++] = c;
	}
	pthread_mutex_unlock(&ctx->lock);
	for (size_t i = 0; i < n; i++) {
		net_conn_close(all[i], MM_ESHUTDOWN);
		net_conn_put(all[i]);
	}
	free(all);
	pthread_mutex_lock(&ctx->lock);
	while (ctx->nconns) {
		/* conns missed above (no memory for the array): close them here */
		for (c = ctx->conns; c; c = c->cnext)
			net_conn_close(c, MM_ESHUTDOWN);
		pthread_cond_wait(&ctx->cond, &ctx->lock);
	}
	pthread_mutex_unlock(&ctx->lock);
	net_io_stop(ctx);
	if (ctx->pool)
		mm_pool_destroy(ctx->pool);
	ctx->pool = NULL;
	net_rpc_stop(ctx);
	if (ctx->listen_fd >= 0)
		close(ctx->listen_fd);
	ctx->listen_fd = -1;
	net_ctx_put(ctx);
}

uint16_t net_listen_port(const net_ctx *ctx)
{
	return ctx->listen_port;
}

/* ---- handlers and counters ------------------------------------------- */

int net_register(net_ctx *ctx, uint16_t type, net_handler_fn fn, void *arg, unsigned flags)
{
	net_handler_slot *page;
	struct net_handler *h, *expect = NULL;

	if (!ctx || !fn || (flags & ~(unsigned)NET_H_INLINE))
		return MM_EINVAL;
	page = atomic_load_explicit(&ctx->hpage[type >> 8], memory_order_acquire);
	if (!page) {
		net_handler_slot *np = calloc(256, sizeof(*np)), *none = NULL;

		if (!np)
			return MM_ENOMEM;
		if (atomic_compare_exchange_strong_explicit(&ctx->hpage[type >> 8], &none, np,
							    memory_order_acq_rel, memory_order_acquire)) {
			page = np;
		} else {
			free(np);
			page = none;
		}
	}
	h = malloc(sizeof(*h));
	if (!h)
		return MM_ENOMEM;
	h->fn = fn;
	h->arg = arg;
	h->flags = flags;
	if (!atomic_compare_exchange_strong_explicit(&page[type & 255], &expect, h,
						     memory_order_acq_rel, memory_order_acquire)) {
		free(h);
		return MM_EEXIST;
	}
	return MM_OK;
}

const struct net_handler *net_handler_get(net_ctx *ctx, uint16_t type)
{
	net_handler_slot *page = atomic_load_explicit(&ctx->hpage[type >> 8], memory_order_acquire);

	return page ? atomic_load_explicit(&page[type & 255], memory_order_acquire) : NULL;
}

struct net_tstats *net_tstats_get(net_ctx *ctx, uint16_t type)
{
	struct net_tstats *page = atomic_load_explicit(&ctx->spage[type >> 8],
						       memory_order_acquire);

	if (!page) {
		struct net_tstats *np = calloc(256, sizeof(*np)), *none = NULL;

		if (!np)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(&ctx->spage[type >> 8], &none, np,
							    memory_order_acq_rel, memory_order_acquire)) {
			page = np;
		} else {
			free(np);
			page = none;
		}
	}
	return &page[type & 255];
}

/* ---- peers ----------------------------------------------------------- */

struct net_peer *net_peer_find(net_ctx *ctx, uint32_t node)
{
	struct net_peer *p = ctx->peers[node % NET_PEER_BUCKETS];

	while (p && p->node_id != node)
		p = p->next;
	return p;
}

static struct net_peer *peer_add(net_ctx *ctx, uint32_t node)
{
	struct net_peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->node_id = node;
	p->next = ctx->peers[node % NET_PEER_BUCKETS];
	ctx->peers[node % NET_PEER_BUCKETS] = p;
	return p;
}

int net_peer_set(net_ctx *ctx, uint32_t node_id, const char *addr, uint16_t port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	struct net_peer *p;
	struct net_conn *old = NULL;
	char portstr[8];
	int e;

	if (!ctx || !addr)
		return MM_EINVAL;
	snprintf(portstr, sizeof(portstr), "%u", port ? port : ctx->cfg.port);
	e = getaddrinfo(addr, portstr, &hints, &ai);
	if (e) {
		mm_warn("net", "address of node %u, %s: %s", node_id, addr, gai_strerror(e));
		return MM_EINVAL;
	}
	pthread_mutex_lock(&ctx->lock);
	p = net_peer_find(ctx, node_id);
	if (!p)
		p = peer_add(ctx, node_id);
	if (!p) {
		pthread_mutex_unlock(&ctx->lock);
		freeaddrinfo(ai);
		return MM_ENOMEM;
	}
	if (p->has_addr && (p->addrlen != ai->ai_addrlen || memcmp(&p->addr, ai->ai_addr, ai->ai_addrlen))) {
		old = p->conn;
		p->conn = NULL;
		if (old)
			net_conn_ref(old);
	}
	memset(&p->addr, 0, sizeof(p->addr));
	memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
	p->addrlen = ai->ai_addrlen;
	p->has_addr = true;
	net_sockaddr_str(ai->ai_addr, p->addr_str, sizeof(p->addr_str));
	pthread_mutex_unlock(&ctx->lock);
	freeaddrinfo(ai);
	if (old) {
		/* logged once, at teardown */
		net_conn_close_why(old, MM_ECLOSED, MM_LOG_INFO, "the node moved to %s:%s", addr,
				   portstr);
		net_conn_put(old);
	}
	return MM_OK;
}

void net_peer_forget(net_ctx *ctx, uint32_t node_id)
{
	struct net_peer **pp, *p = NULL;
	struct net_conn **close_list = NULL, *c;
	size_t n = 0;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	for (pp = &ctx->peers[node_id % NET_PEER_BUCKETS]; *pp; pp = &(*pp)->next) {
		if ((*pp)->node_id == node_id) {
			p = *pp;
			*pp = p->next;
			break;
		}
	}
	if (ctx->nconns)
		close_list = malloc(ctx->nconns * sizeof(*close_list));
	for (c = ctx->conns; c && close_list; c = c->cnext) {
		bool match;

		pthread_mutex_lock(&c->qlock);
		match = c->node_id == node_id &&
			(c->outbound || net_conn_st(c) == CS_UP);
		pthread_mutex_unlock(&c->qlock);
		if (match) {
			net_conn_ref(c);
			close_list[n++] = c;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	free(p);
	for (size_t i = 0; i < n; i++) {
		net_conn_close(close_list[i], MM_ECLOSED);
		net_conn_put(close_list[i]);
	}
	free(close_list);
}

/* An inbound connection came up: calls to its node may use it. */
void net_peer_conn_up(net_ctx *ctx, struct net_conn *c)
{
	struct net_peer *p;
	char addr[sizeof(p->addr_str)] = "";

	pthread_mutex_lock(&ctx->lock);
	p = net_peer_find(ctx, c->node_id);
	if (!p && !c->outbound)
		p = peer_add(ctx, c->node_id);
	if (p && (!p->conn || net_conn_closing(p->conn)))
		p->conn = c;
	if (p && p->has_addr)
		snprintf(addr, sizeof(addr), "%s", p->addr_str);
	pthread_mutex_unlock(&ctx->lock);
	/* connect failures to it (logged by address) are over, whichever
	 * side connected */
	if (addr[0])
		mm_log_cleared(addr, MM_LOG_INFO, "net", "node %u (%s) reachable again", c->node_id,
			       addr);
}

void net_conn_unlink(net_ctx *ctx, struct net_conn *c)
{
	struct net_peer *p;

	pthread_mutex_lock(&ctx->lock);
	if (c->cprev)
		c->cprev->cnext = c->cnext;
	else
		ctx->conns = c->cnext;
	if (c->cnext)
		c->cnext->cprev = c->cprev;
	c->cnext = c->cprev = NULL;
	ctx->nconns--;
	p = net_peer_find(ctx, c->node_id);
	if (p && p->conn == c)
		p->conn = NULL;
	if (ctx->nconns == 0)
		pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->lock);
}

void net_set_conn_event(net_ctx *ctx, net_conn_event_fn fn, void *arg)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->ev_fn = fn;
	ctx->ev_arg = arg;
	pthread_mutex_unlock(&ctx->lock);
}

void net_fire_conn_event(net_ctx *ctx, uint32_t node, bool up)
{
	net_conn_event_fn fn;
	void *arg;

	pthread_mutex_lock(&ctx->lock);
	fn = ctx->ev_fn;
	arg = ctx->ev_arg;
	pthread_mutex_unlock(&ctx->lock);
	if (fn)
		fn(node, up, arg);
}

/* ---- diagnostics ----------------------------------------------------- */

int net_conn_list(net_ctx *ctx, struct net_conn_info **out, size_t *n)
{
	struct net_conn_info *v;
	struct net_conn *c;
	size_t i = 0;

	if (!ctx || !out || !n)
		return MM_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	v = calloc(ctx->nconns ? ctx->nconns : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&ctx->lock);
		return MM_ENOMEM;
	}
	for (c = ctx->conns; c; c = c->cnext, i++) {
		struct net_conn_info *e = &v[i];

		pthread_mutex_lock(&c->qlock);
		e->node_id = c->node_id;
		snprintf(e->state, sizeof(e->state), "%s",
			 net_conn_state_name(net_conn_st(c)));
		pthread_mutex_unlock(&c->qlock);
		snprintf(e->peer, sizeof(e->peer), "%s", c->peer);
		e->outbound = c->outbound;
		e->security = ctx->cfg.security;
		e->msgs_sent = net_atomic_get(&c->msgs_sent);
		e->msgs_recv = net_atomic_get(&c->msgs_recv);
		e->bytes_sent = net_atomic_get(&c->bytes_sent);
		e->bytes_recv = net_atomic_get(&c->bytes_recv);
		e->calls_pending = atomic_load_explicit(&c->ncalls, memory_order_relaxed);
	}
	pthread_mutex_unlock(&ctx->lock);
	*out = v;
	*n = i;
	return MM_OK;
}

int net_stats(net_ctx *ctx, struct net_type_stats **out, size_t *n)
{
	struct net_type_stats *v = NULL;
	size_t cnt = 0, cap = 0;

	if (!ctx || !out || !n)
		return MM_EINVAL;
	for (unsigned pg = 0; pg < 256; pg++) {
		struct net_tstats *page = atomic_load_explicit(&ctx->spage[pg],
							       memory_order_acquire);

		for (unsigned j = 0; page && j < 256; j++) {
			struct net_type_stats s = {
				.type = (uint16_t)(pg << 8 | j),
				.calls_sent = net_atomic_get(&page[j].calls_sent),
				.replies_ok = net_atomic_get(&page[j].replies_ok),
				.replies_err = net_atomic_get(&page[j].replies_err),
				.timeouts = net_atomic_get(&page[j].timeouts),
				.total_rtt_us = net_atomic_get(&page[j].total_rtt_us),
				.requests_served = net_atomic_get(&page[j].requests_served),
			};

			if (!s.calls_sent && !s.replies_ok && !s.replies_err && !s.timeouts &&
			    !s.requests_served)
				continue;
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct net_type_stats *nv = realloc(v, nc * sizeof(*nv));

				if (!nv) {
					free(v);
					return MM_ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			v[cnt++] = s;
		}
	}
	*out = v;
	*n = cnt;
	return MM_OK;
}

void net_waiters(net_ctx *ctx, uint64_t min_age_ms, net_waiter_fn fn, void *arg)
{
	struct waiter {
		uint32_t node;
		uint16_t type;
		uint64_t age_ms;
	} *v = NULL;
	size_t cnt = 0, cap = 0;
	uint64_t now = mm_now_ns();

	if (!ctx || !fn)
		return;
	pthread_mutex_lock(&ctx->calls_lock);
	for (size_t b = 0; b <= ctx->cmask; b++) {
		for (struct net_call *c = ctx->cbuckets[b]; c; c = c->hnext) {
			uint64_t age = (now - c->start_ns) / 1000000u;

			if (age < min_age_ms)
				continue;
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct waiter *nv = realloc(v, nc * sizeof(*nv));

				if (!nv)
					goto done;
				v = nv;
				cap = nc;
			}
			v[cnt++] = (struct waiter){c->node, c->type, age};
		}
	}
done:
	pthread_mutex_unlock(&ctx->calls_lock);
	for (size_t i = 0; i < cnt; i++)
		fn(v[i].node, v[i].type, v[i].age_ms, arg);
	free(v);
}
