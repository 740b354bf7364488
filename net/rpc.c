/*
 * net/rpc.c - remote calls: request ids, the call table, timeouts,
 * replies, and the serving side (dispatch to handlers, net_reply).
 *
 * Principal entry points: net_call_async(), net_call(), net_send_oneway(),
 * net_reply(); net_rpc_reply_in() / net_rpc_request_in() from the read
 * path; the timer thread ("nettimer").
 *
 * Every call in flight is in three places, all guarded by ctx->calls_lock:
 * the id hash (to match its reply), its connection's list (to fail it when
 * the connection closes) and, with a timeout, the timer heap. Whoever
 * unlinks a call from all three under the lock owns its completion, so a
 * call completes exactly once whether its reply, its deadline or its
 * connection's end comes first; the callback then runs with no lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "net/net_int.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* ---- timer heap (calls_lock held) ------------------------------------ */

static void heap_swap(net_ctx *ctx, size_t a, size_t b)
{
	struct net_timer *t = ctx->heap[a];

	ctx->heap[a] = ctx->heap[b];
	ctx->heap[b] = t;
	ctx->heap[a]->idx = (int)a;
	ctx->heap[b]->idx = (int)b;
}

static void heap_up(net_ctx *ctx, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (ctx->heap[p]->deadline_ns <= ctx->heap[i]->deadline_ns)
			break;
		heap_swap(ctx, i, p);
		i = p;
	}
}

static void heap_down(net_ctx *ctx, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < ctx->heap_n && ctx->heap[l]->deadline_ns < ctx->heap[m]->deadline_ns)
			m = l;
		if (r < ctx->heap_n && ctx->heap[r]->deadline_ns < ctx->heap[m]->deadline_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(ctx, i, m);
		i = m;
	}
}

void net_timer_add(net_ctx *ctx, struct net_timer *t)
{
	if (ctx->heap_n == ctx->heap_cap) {
		size_t cap = ctx->heap_cap ? ctx->heap_cap * 2 : 256;
		struct net_timer **h = realloc(ctx->heap, cap * sizeof(*h));

		if (!h) {
			/* no deadline rather than no call: log and go on */
			mm_error("net", "out of memory for a timer; a deadline is lost");
			return;
		}
		ctx->heap = h;
		ctx->heap_cap = cap;
	}
	t->idx = (int)ctx->heap_n;
	ctx->heap[ctx->heap_n++] = t;
	heap_up(ctx, (size_t)t->idx);
	/* Wake the timer thread only if it would sleep past this deadline. */
	if (t->idx == 0 && t->deadline_ns < ctx->timer_wake_ns)
		pthread_cond_signal(&ctx->timer_cond);
}

void net_timer_del(net_ctx *ctx, struct net_timer *t)
{
	size_t i = (size_t)t->idx, last = ctx->heap_n - 1;

	if (t->idx < 0)
		return;
	if (i != last) {
		heap_swap(ctx, i, last);
		ctx->heap_n--;
		heap_down(ctx, i);
		heap_up(ctx, i);
	} else {
		ctx->heap_n--;
	}
	t->idx = -1;
}

/* ---- call table (calls_lock held) ------------------------------------ */

static int calls_grow(net_ctx *ctx)
{
	size_t n = (ctx->cmask + 1) * 2;
	struct net_call **b = calloc(n, sizeof(*b));

	if (!b)
		return MM_ENOMEM;
	for (size_t i = 0; i <= ctx->cmask; i++) {
		struct net_call *c = ctx->cbuckets[i], *next;

		for (; c; c = next) {
			next = c->hnext;
			c->hnext = b[c->id & (n - 1)];
			b[c->id & (n - 1)] = c;
		}
	}
	free(ctx->cbuckets);
	ctx->cbuckets = b;
	ctx->cmask = n - 1;
	return MM_OK;
}

static struct net_call *call_find(net_ctx *ctx, uint64_t id)
{
	struct net_call *c = ctx->cbuckets[id & ctx->cmask];

	while (c && c->id != id)
		c = c->hnext;
	return c;
}

static void call_link(net_ctx *ctx, struct net_call *call, struct net_conn *conn)
{
	struct net_call **b;

	if (ctx->ncalls >= 2 * (ctx->cmask + 1))
		calls_grow(ctx);	/* on failure the chains just get longer */
	b = &ctx->cbuckets[call->id & ctx->cmask];
	call->hnext = *b;
	*b = call;
	ctx->ncalls++;
	call->conn = conn;
	call->cprev = NULL;
	call->cnext = conn->calls;
	if (conn->calls)
		conn->calls->cprev = call;
	conn->calls = call;
	atomic_store_explicit(&conn->ncalls,
			      atomic_load_explicit(&conn->ncalls, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	if (call->t.deadline_ns)
		net_timer_add(ctx, &call->t);
}

static void call_unlink(net_ctx *ctx, struct net_call *call)
{
	struct net_call **pp = &ctx->cbuckets[call->id & ctx->cmask];
	struct net_conn *conn = call->conn;

	while (*pp != call)
		pp = &(*pp)->hnext;
	*pp = call->hnext;
	ctx->ncalls--;
	if (call->cprev)
		call->cprev->cnext = call->cnext;
	else
		conn->calls = call->cnext;
	if (call->cnext)
		call->cnext->cprev = call->cprev;
	atomic_store_explicit(&conn->ncalls,
			      atomic_load_explicit(&conn->ncalls, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	net_timer_del(ctx, &call->t);
}

/* ---- completion (no lock held) --------------------------------------- */

/* Complete <call> and free it. <owned>, if set, is a malloc'd buffer
 * holding <data>: a blocking caller takes it over, else it is freed. */
static void call_finish(net_ctx *ctx, struct net_call *call, int status, const void *data,
			size_t len, void *owned, bool timed_out)
{
	struct net_tstats *st = net_tstats_get(ctx, call->type);

	if (st) {
		if (timed_out)
			net_atomic_add(&st->timeouts, 1);
		else if (status >= 0)
			net_atomic_add(&st->replies_ok, 1);
		else
			net_atomic_add(&st->replies_err, 1);
	}
	if (call->sync) {
		struct net_sync *s = call->sync;
		void *buf = NULL;

		if (len && status >= 0) {
			if (owned) {
				buf = owned;
				owned = NULL;
			} else if ((buf = malloc(len)) != NULL) {
				memcpy(buf, data, len);
			} else {
				status = MM_ENOMEM;
			}
		}
		s->status = status;
		s->data = buf;
		s->len = buf ? len : 0;
		atomic_store_explicit(&s->done, 1, memory_order_release);
		syscall(SYS_futex, &s->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		/* <s> may be gone now */
	} else {
		call->cb(status, len ? data : NULL, len, call->arg);
	}
	free(owned);
	free(call);
}

void net_rpc_reply_in(struct net_conn *c, const struct net_frame_hdr *h,
		      const void *data, void *owned)
{
	net_ctx *ctx = c->ctx;
	struct net_call *call;
	struct net_tstats *st;

	pthread_mutex_lock(&ctx->calls_lock);
	call = call_find(ctx, h->id);
	if (call && call->conn == c)
		call_unlink(ctx, call);
	else
		call = NULL;
	pthread_mutex_unlock(&ctx->calls_lock);
	if (!call) {
		mm_debug("net", "reply %llu from node %u matches no call (late), dropped",
			 (unsigned long long)h->id, c->node_id);
		free(owned);
		return;
	}
	st = net_tstats_get(ctx, call->type);
	if (st)
		net_atomic_add(&st->total_rtt_us, (mm_now_ns() - call->start_ns) / 1000u);
	call_finish(ctx, call, h->status, data, h->len, owned, false);
}

void net_conn_fail_calls(struct net_conn *c, int rc)
{
	net_ctx *ctx = c->ctx;
	struct net_call *list = NULL, *call;

	pthread_mutex_lock(&ctx->calls_lock);
	c->calls_closed = true;
	c->calls_rc = rc;
	while ((call = c->calls) != NULL) {
		call_unlink(ctx, call);
		call->cnext = list;
		list = call;
	}
	pthread_mutex_unlock(&ctx->calls_lock);
	while ((call = list) != NULL) {
		list = call->cnext;
		call_finish(ctx, call, rc, NULL, 0, NULL, false);
	}
}

/* ---- timer thread ---------------------------------------------------- */

static void *timer_main(void *arg)
{
	net_ctx *ctx = arg;

	net_nonblocking_thread = true;
	pthread_mutex_lock(&ctx->calls_lock);
	while (!ctx->timer_stop) {
		uint64_t now = mm_now_ns();
		struct net_call *calls = NULL;
		struct net_conn *conns = NULL;

		while (ctx->heap_n && ctx->heap[0]->deadline_ns <= now) {
			struct net_timer *t = ctx->heap[0];

			net_timer_del(ctx, t);
			if (t->kind == NET_T_CALL) {
				struct net_call *call = container_of(t, struct net_call, t);

				call_unlink(ctx, call);
				call->cnext = calls;
				calls = call;
			} else {
				struct net_conn *c = container_of(t, struct net_conn, hs_timer);

				/* the heap's reference passes to us */
				c->tnext = conns;
				conns = c;
			}
		}
		if (calls || conns) {
			pthread_mutex_unlock(&ctx->calls_lock);
			while (calls) {
				struct net_call *call = calls;

				calls = call->cnext;
				call_finish(ctx, call, MM_ETIMEDOUT, NULL, 0, NULL, true);
			}
			while (conns) {
				struct net_conn *c = conns;

				conns = c->tnext;
				if (net_conn_st(c) < CS_UP) {
					mm_warn("net", "connection %s %s%s timed out in state %s after %d ms",
						c->outbound ? "to" : "from", c->peer,
						c->outbound ? "" : " (inbound)",
						net_conn_state_name(net_conn_st(c)),
						ctx->cfg.connect_timeout_ms);
					net_conn_close(c, MM_EUNREACH);
				}
				net_conn_put(c);
			}
			pthread_mutex_lock(&ctx->calls_lock);
			continue;
		}
		ctx->timer_wake_ns = ctx->heap_n ? ctx->heap[0]->deadline_ns : now + 1000000000u;
		mm_cond_wait_until(&ctx->timer_cond, &ctx->calls_lock, ctx->timer_wake_ns);
		ctx->timer_wake_ns = 0;
	}
	pthread_mutex_unlock(&ctx->calls_lock);
	return NULL;
}

int net_rpc_init(net_ctx *ctx)
{
	int rc;

	pthread_mutex_init(&ctx->calls_lock, NULL);
	mm_cond_init(&ctx->timer_cond);
	ctx->cbuckets = calloc(1024, sizeof(*ctx->cbuckets));
	if (!ctx->cbuckets)
		return MM_ENOMEM;
	ctx->cmask = 1023;
	atomic_init(&ctx->next_id, 1);
	rc = mm_thread_start(&ctx->timer_thread, "nettimer", timer_main, ctx);
	if (rc)
		return rc;
	ctx->timer_started = true;
	return MM_OK;
}

void net_rpc_stop(net_ctx *ctx)
{
	if (!ctx->timer_started)
		return;
	pthread_mutex_lock(&ctx->calls_lock);
	ctx->timer_stop = true;
	pthread_cond_signal(&ctx->timer_cond);
	pthread_mutex_unlock(&ctx->calls_lock);
	pthread_join(ctx->timer_thread, NULL);
	ctx->timer_started = false;
}

void net_rpc_free(net_ctx *ctx)
{
	free(ctx->cbuckets);
	free(ctx->heap);
	pthread_cond_destroy(&ctx->timer_cond);
	pthread_mutex_destroy(&ctx->calls_lock);
}

/* ---- calling --------------------------------------------------------- */

/* Start a call. With <connp> (blocking calls) the connection is handed
 * back with a reference on success, for net_conn_sync_wait(). */
static int call_start(net_ctx *ctx, uint32_t node, uint16_t type, const void *data, size_t len,
		      int timeout_ms, net_reply_fn cb, void *arg, struct net_sync *sync,
		      struct net_conn **connp)
{
	uint8_t hdr[NET_FRAME_HDR_LEN];
	struct net_conn *c;
	struct net_call *call;
	struct net_tstats *st;
	uint64_t id;
	int rc;

	if (len > ctx->cfg.max_payload)
		return MM_ETOOBIG;
	if (len && !data)
		return MM_EINVAL;
	c = net_conn_get_for(ctx, node, &rc);
	if (!c)
		return rc;
	call = malloc(sizeof(*call));
	if (!call) {
		net_conn_put(c);
		return MM_ENOMEM;
	}
	id = atomic_fetch_add_explicit(&ctx->next_id, 1, memory_order_relaxed);
	*call = (struct net_call){
		.t = {.idx = -1, .kind = NET_T_CALL},
		.id = id,
		.start_ns = mm_now_ns(),
		.node = node,
		.type = type,
		.cb = cb,
		.arg = arg,
		.sync = sync,
	};
	if (timeout_ms > 0)
		call->t.deadline_ns = call->start_ns + (uint64_t)timeout_ms * 1000000u;
	/* checksum before taking any lock */
	net_conn_frame(c, hdr, NET_K_REQUEST, type, 0, id, data, (uint32_t)len);

	pthread_mutex_lock(&ctx->calls_lock);
	if (c->calls_closed) {
		/* it ended between net_conn_get_for() and here */
		rc = c->calls_rc;
		pthread_mutex_unlock(&ctx->calls_lock);
		free(call);
		net_conn_put(c);
		return rc;
	}
	call_link(ctx, call, c);
	pthread_mutex_unlock(&ctx->calls_lock);
	st = net_tstats_get(ctx, type);
	if (st)
		net_atomic_add(&st->calls_sent, 1);

	rc = net_conn_send(c, hdr, data, len);
	if (rc) {
		/* Take the call back unless the connection's end already did
		 * (then its callback has run or is running: report success). */
		pthread_mutex_lock(&ctx->calls_lock);
		call = call_find(ctx, id);
		if (call)
			call_unlink(ctx, call);
		pthread_mutex_unlock(&ctx->calls_lock);
		if (call) {
			free(call);
			if (st)
				net_atomic_add(&st->replies_err, 1);
		} else {
			rc = MM_OK;
		}
	}
	if (connp && rc == MM_OK)
		*connp = c;
	else
		net_conn_put(c);
	return rc;
}

bool net_rpc_is_sync(net_ctx *ctx, uint64_t id)
{
	struct net_call *call;
	bool sync;

	pthread_mutex_lock(&ctx->calls_lock);
	call = call_find(ctx, id);
	sync = call && call->sync;
	pthread_mutex_unlock(&ctx->calls_lock);
	return sync;
}

int net_call_async(net_ctx *ctx, uint32_t node, uint16_t type, const void *data, size_t len,
		   int timeout_ms, net_reply_fn cb, void *arg)
{
	if (!ctx || !cb)
		return MM_EINVAL;
	return call_start(ctx, node, type, data, len, timeout_ms, cb, arg, NULL, NULL);
}

int net_call(net_ctx *ctx, uint32_t node, uint16_t type, const void *data, size_t len,
	     int timeout_ms, void **reply, size_t *reply_len)
{
	struct net_sync s = {.done = 0};
	struct net_conn *c = NULL;
	int rc;

	if (reply)
		*reply = NULL;
	if (reply_len)
		*reply_len = 0;
	if (!ctx)
		return MM_EINVAL;
	/* A net thread waiting here would wait for itself. */
	if (net_nonblocking_thread)
		return MM_ESTATE;
	rc = call_start(ctx, node, type, data, len, timeout_ms, NULL, NULL, &s, &c);
	if (rc == MM_OK) {
		/* read the reply ourselves if we can (conn.c), else sleep */
		net_conn_sync_wait(c, &s.done);
		net_conn_put(c);
		/* A futex word rather than a mutex and condition variable: the
		 * woken caller does not then block again on a mutex the I/O
		 * thread still holds (one context switch less per call). No
		 * spinning first: on two cores the spinner takes the CPU that
		 * the reply path needs (measured slower). */
		while (!atomic_load_explicit(&s.done, memory_order_acquire))
			syscall(SYS_futex, &s.done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		rc = s.status;
		if (reply) {
			*reply = s.data;
			if (reply_len)
				*reply_len = s.len;
		} else {
			free(s.data);
		}
	}
	return rc;
}

int net_send_oneway(net_ctx *ctx, uint32_t node, uint16_t type, const void *data, size_t len)
{
	uint8_t hdr[NET_FRAME_HDR_LEN];
	struct net_conn *c;
	struct net_tstats *st;
	int rc;

	if (!ctx)
		return MM_EINVAL;
	if (len > ctx->cfg.max_payload)
		return MM_ETOOBIG;
	if (len && !data)
		return MM_EINVAL;
	c = net_conn_get_for(ctx, node, &rc);
	if (!c)
		return rc;
	net_conn_frame(c, hdr, NET_K_ONEWAY, type, 0, 0, data, (uint32_t)len);
	rc = net_conn_send(c, hdr, data, len);
	st = net_tstats_get(ctx, type);
	if (st && rc == MM_OK)
		net_atomic_add(&st->calls_sent, 1);
	net_conn_put(c);
	return rc;
}

/* ---- serving --------------------------------------------------------- */

net_req *net_req_alloc(struct net_conn *c, const struct net_frame_hdr *h)
{
	net_req *req = malloc(sizeof(*req) + h->len);

	if (!req)
		return NULL;
	net_conn_ref(c);
	req->conn = c;
	req->h = NULL;
	req->id = h->id;
	req->recv_ns = mm_now_ns();
	req->node = c->node_id;
	req->len = h->len;
	req->type = h->type;
	req->kind = h->kind;
	return req;
}

void net_req_free(net_req *req)
{
	struct net_conn *c = req->conn;

	free(req);
	net_conn_put(c);
}

static void req_run(net_req *req)
{
	const struct net_handler *h = req->h;
	net_ctx *ctx = req->conn->ctx;
	bool oneway = req->kind == NET_K_ONEWAY;
	struct net_tstats *st = net_tstats_get(ctx, req->type);

	if (st)
		net_atomic_add(&st->requests_served, 1);
	h->fn(req, h->arg);
	if (oneway)
		net_req_free(req);
	/* a request is the handler's until it calls net_reply() */
}

static void req_job(void *arg)
{
	req_run(arg);
}

void net_rpc_request_in(struct net_conn *c, const struct net_frame_hdr *h, net_req *req)
{
	net_ctx *ctx = c->ctx;
	const struct net_handler *hd = net_handler_get(ctx, h->type);
	int rc;

	if (!hd) {
		mm_warn("net", "unknown message type %u (%s) from node %u (%s)%s", h->type,
			net_frame_kind_name(h->kind), c->node_id, c->peer,
			h->kind == NET_K_REQUEST ? ", answering MM_ENOTSUP" : ", dropped");
		if (h->kind == NET_K_REQUEST)
			net_reply(req, MM_ENOTSUP, NULL, 0);
		else
			net_req_free(req);
		return;
	}
	req->h = hd;
	if (hd->flags & NET_H_INLINE) {
		req_run(req);
		return;
	}
	rc = mm_pool_try_submit(ctx->pool, req_job, req);
	if (rc == MM_OK)
		return;
	{
		uint64_t now = mm_now_ns();
		uint64_t last = atomic_load_explicit(&ctx->busy_log_ns, memory_order_relaxed);

		if (now - last > 1000000000u &&
		    atomic_compare_exchange_strong_explicit(&ctx->busy_log_ns, &last, now,
							    memory_order_relaxed, memory_order_relaxed))
			mm_warn("net", "worker queue full (%s): %s type %u from node %u %s",
				mm_errname(rc), net_frame_kind_name(h->kind), h->type, c->node_id,
				h->kind == NET_K_REQUEST ? "answered MM_EBUSY" : "dropped");
	}
	if (h->kind == NET_K_REQUEST)
		net_reply(req, rc == MM_ESHUTDOWN ? MM_ESHUTDOWN : MM_EBUSY, NULL, 0);
	else
		net_req_free(req);
}

uint16_t net_req_type(const net_req *req)
{
	return req->type;
}

uint32_t net_req_node(const net_req *req)
{
	return req->node;
}

uint64_t net_req_recv_ns(const net_req *req)
{
	return req->recv_ns;
}

bool net_req_oneway(const net_req *req)
{
	return req->kind == NET_K_ONEWAY;
}

const void *net_req_data(const net_req *req, size_t *len)
{
	if (len)
		*len = req->len;
	return req->len ? req->data : NULL;
}

int net_reply(net_req *req, int status, const void *data, size_t len)
{
	uint8_t hdr[NET_FRAME_HDR_LEN];
	struct net_conn *c;
	int rc;

	if (!req)
		return MM_EINVAL;
	if (req->kind == NET_K_ONEWAY)
		return MM_EINVAL;	/* freed when the handler returns */
	c = req->conn;
	if (len && !data)
		len = 0;
	if (len > c->ctx->cfg.max_payload) {
		mm_warn("net", "reply of %zu bytes to type %u is over the limit", len, req->type);
		status = MM_ETOOBIG;
		len = 0;
	}
	net_conn_frame(c, hdr, NET_K_REPLY, req->type, status, req->id, data, (uint32_t)len);
	rc = net_conn_send(c, hdr, data, len);
	net_req_free(req);
	/* the contract: a reply to a gone connection is dropped, MM_ECLOSED */
	return rc < 0 && rc != MM_ENOMEM ? MM_ECLOSED : rc;
}
