/*
 * tokens/toknet.c - tokens over net/ for real threads (toknet.h;
 * tokens/README.md "toknet").
 *
 *   1. outboxes: what one locked tokens call sends, per destination
 *   2. flushing: one frame per destination, messages to self in process
 *   3. the MSG_TOK_BATCH handler
 *   4. revoke threads (and the retry timer)
 *   5. blocking acquire
 *   6. create, stop, destroy
 * Views, failures, limits and diagnostics are toknet_view.c's; what the
 * two share is toknet_int.h.
 *
 * Locks, in the order they may nest:
 *   vmu     serialises toknet_set_view / node events (the view table)
 *   smu     the list of local servers, t->stopped (never held while
 *           taking another lock)
 *   sv->mu  one server: its tok_server, outbox, flushing flag
 *   cmu     the client: tok_client, outbox, flushing flag, waiters, the
 *           revoke callbacks, t->stopping
 *   rmu     the revoke queue (taken under cmu by the upcall)
 * A server lock and cmu are never held together: a message from the
 * client to the local server is delivered after cmu is dropped.
 */
#include "tokens/toknet.h"
#include "tokens/toknet_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/list.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "common/wire.h"

#define SUB "toknet"
#define TN_BATCH_MAX (256u << 10)	/* bytes of messages per frame at most */
#define TN_RETRY_NS (2000ull * 1000000)	/* tok_client_retry_failed period */
#define TN_IDLE_WAIT_MS 2000		/* toknet_stop: wait for the client to go idle */
#define TN_WARN_NS (10000ull * 1000000)	/* rate of "unknown space" warnings */
#define TN_PARK_MAX 8192		/* messages kept for spaces not served (yet) */

/* ---- 1. outboxes ---- */

void out_free(struct tn_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->d[i].buf);
	free(o->d);
	memset(o, 0, sizeof(*o));
}

/* Take what <o> holds, leaving it empty (its lock held). */
static struct tn_out out_take(struct tn_out *o)
{
	struct tn_out r = *o;

	memset(o, 0, sizeof(*o));
	return r;
}

static int out_append(struct tn_out *o, uint32_t to, const void *msg, size_t len)
{
	struct tn_dest *d = NULL;

	if (len == 0 || len > UINT16_MAX)
		return MM_EINVAL;
	/* the last buffer for <to>, unless full: order per destination kept */
	for (size_t i = o->n; i-- > 0;)
		if (o->d[i].node == to) {
			d = &o->d[i];
			break;
		}
	if (d && d->len + 2 + len > TN_BATCH_MAX)
		d = NULL;
	if (!d) {
		if (o->n == o->cap) {
			size_t cap = o->cap ? o->cap * 2 : 4;
			struct tn_dest *nd = realloc(o->d, cap * sizeof(*nd));

			if (!nd)
				return MM_ENOMEM;
			o->d = nd;
			o->cap = cap;
		}
		d = &o->d[o->n++];
		memset(d, 0, sizeof(*d));
		d->node = to;
	}
	if (d->len + 2 + len > d->cap) {
		size_t cap = d->cap ? d->cap : 256;
		uint8_t *nb;

		while (cap < d->len + 2 + len)
			cap *= 2;
		nb = realloc(d->buf, cap);
		if (!nb)
			return MM_ENOMEM;
		d->buf = nb;
		d->cap = cap;
	}
	mm_be16_put(d->buf + d->len, (uint16_t)len);
	memcpy(d->buf + d->len + 2, msg, len);
	d->len += 2 + len;
	d->nmsg++;
	return MM_OK;
}

/* The transports' send: called inside a tokens call, with that
 * instance's lock held: only append. */
int srv_xsend(void *arg, uint32_t to, const void *buf, size_t len)
{
	struct tn_srv *sv = arg;

	return out_append(&sv->out, to, buf, len);
}

static int cli_xsend(void *arg, uint32_t to, const void *buf, size_t len)
{
	struct toknet *t = arg;

	return out_append(&t->cout, to, buf, len);
}

uint64_t xnow(void *arg)
{
	(void)arg;
	return mm_now_ns();
}

/* ---- 2. flushing ----
 *
 * After a locked call, the thread that finds no flush under way becomes
 * the flusher of that instance: it takes the outbox, drops the lock,
 * sends, and loops until the outbox stays empty. Others only leave their
 * messages behind. So each instance's messages leave in the order it
 * produced them, one sender at a time, and no tokens lock is held while
 * sending. Messages to self are delivered in process by the flusher,
 * which may make it the flusher of the other side for a while; never
 * recursively under a lock.
 */

static void deliver(struct toknet *t, uint32_t from, const uint8_t *msg, size_t len);

/* When a frame last left for <node>: a connection that closes soon after
 * may have lost it (toknet_last_sent_ns). */
static void note_sent(struct toknet *t, uint32_t node)
{
	if (t->sent_ns && node < TOKNET_MAX_NODES)
		atomic_store_explicit(&t->sent_ns[node], mm_now_ns(), memory_order_relaxed);
}

static void send_out(struct toknet *t, struct tn_out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		struct tn_dest *d = &o->d[i];

		if (d->node == t->cfg.self) {
			size_t off = 0;

			while (off + 2 <= d->len) {
				size_t ml = mm_be16_get(d->buf + off);

				deliver(t, t->cfg.self, d->buf + off + 2, ml);
				off += 2 + ml;
			}
			CNT(st_local, d->nmsg);
			continue;
		}
		int rc = net_send_oneway(t->cfg.net, d->node, MSG_TOK_BATCH, d->buf, d->len);

		note_sent(t, d->node);
		if (rc == MM_OK) {
			CNT(st_batches_out, 1);
			CNT(st_msgs_out, d->nmsg);
		} else {
			CNT(st_send_errors, d->nmsg);
			mm_warn(SUB, "%zu token messages to node %u lost: %s", d->nmsg, d->node,
				mm_strerror(rc));
			if (t->lost)
				t->lost(t->lost_arg, d->node, d->nmsg);
		}
	}
}

/* With cmu held; returns with it dropped, the client's outbox sent. */
void client_unlock_flush(struct toknet *t)
{
	if (t->cflushing || t->cout.n == 0) {
		pthread_mutex_unlock(&t->cmu);
		return;
	}
	t->cflushing = true;
	for (;;) {
		struct tn_out o = out_take(&t->cout);

		if (o.n == 0)
			break;
		pthread_mutex_unlock(&t->cmu);
		send_out(t, &o);
		out_free(&o);
		pthread_mutex_lock(&t->cmu);
	}
	t->cflushing = false;
	pthread_mutex_unlock(&t->cmu);
}

/* With sv->mu held; returns with it dropped. */
void srv_unlock_flush(struct toknet *t, struct tn_srv *sv)
{
	if (sv->flushing || sv->out.n == 0) {
		pthread_mutex_unlock(&sv->mu);
		return;
	}
	sv->flushing = true;
	for (;;) {
		struct tn_out o = out_take(&sv->out);

		if (o.n == 0)
			break;
		pthread_mutex_unlock(&sv->mu);
		send_out(t, &o);
		out_free(&o);
		pthread_mutex_lock(&sv->mu);
	}
	sv->flushing = false;
	pthread_mutex_unlock(&sv->mu);
}

/* The server of <space> with a reference, or NULL. */
struct tn_srv *srv_get(struct toknet *t, uint32_t space)
{
	struct tn_srv *sv;

	pthread_mutex_lock(&t->smu);
	for (sv = t->srv; sv; sv = sv->next)
		if (sv->space == space) {
			sv->refs++;
			break;
		}
	pthread_mutex_unlock(&t->smu);
	return sv;
}

void srv_put(struct toknet *t, struct tn_srv *sv)
{
	bool last;

	pthread_mutex_lock(&t->smu);
	last = --sv->refs == 0;
	pthread_mutex_unlock(&t->smu);
	if (!last)
		return;
	/* nobody can reach it any more; a flusher holds a reference */
	tok_server_destroy(sv->s);
	out_free(&sv->out);
	pthread_mutex_destroy(&sv->mu);
	free(sv);
}

/* Unlink <sv> (on the list, smu held by the caller), then drop its server. */
void srv_drop(struct toknet *t, struct tn_srv *sv)
{
	struct tok_server *s;

	pthread_mutex_lock(&sv->mu);
	s = sv->s;
	sv->s = NULL;
	pthread_mutex_unlock(&sv->mu);
	tok_server_destroy(s);
	srv_put(t, sv);	/* the list's reference */
}

static void warn_unknown_space(struct toknet *t, uint32_t from, uint32_t space, uint64_t n,
			       const char *why)
{
	uint64_t now = mm_now_ns(), last = atomic_load(&t->unknown_warned_ns);

	CNT(st_unknown, n);
	if ((last && now - last < TN_WARN_NS) ||
	    !atomic_compare_exchange_strong(&t->unknown_warned_ns, &last, now))
		return;
	mm_warn(SUB, "token message from node %u for space %08" PRIx32 ", which no server here "
		"serves, dropped %s (%" PRIu64 " such so far; its sender asks again under the next "
		"view)", from, space, why, atomic_load(&t->st_unknown));
}

/* With smu held: forget parked messages past their time (or the oldest,
 * to make room). */
static void park_expire_locked(struct toknet *t, uint64_t now, bool room)
{
	while (t->park && (now - t->park->at > TN_PARK_NS || (room && t->npark >= TN_PARK_MAX))) {
		struct tn_parked *p = t->park;
		bool old = now - p->at > TN_PARK_NS;

		t->park = p->next;
		if (!t->park)
			t->park_tail = &t->park;
		t->npark--;
		warn_unknown_space(t, p->from, p->space, 1,
				   old ? "after 30 s" : "(too many waiting)");
		free(p);
	}
}

/* The server of <space> with a reference; if none, <msg> is parked. */
static struct tn_srv *srv_get_or_park(struct toknet *t, uint32_t space, uint32_t from,
				      const uint8_t *msg, size_t len)
{
	struct tn_srv *sv;
	struct tn_parked *p;
	uint64_t now = mm_now_ns();

	pthread_mutex_lock(&t->smu);
	for (sv = t->srv; sv; sv = sv->next)
		if (sv->space == space) {
			sv->refs++;
			pthread_mutex_unlock(&t->smu);
			return sv;
		}
	if (t->stopped) {
		pthread_mutex_unlock(&t->smu);
		return NULL;
	}
	park_expire_locked(t, now, true);
	p = malloc(sizeof(*p) + len);
	if (p) {
		p->next = NULL;
		p->from = from;
		p->space = space;
		p->at = now;
		p->len = len;
		memcpy(p->msg, msg, len);
		*t->park_tail = p;
		t->park_tail = &p->next;
		t->npark++;
	}
	pthread_mutex_unlock(&t->smu);
	if (!p)
		warn_unknown_space(t, from, space, 1, "(out of memory)");
	return NULL;
}

/* With smu held: unlink the parked messages of <space>, in order. */
struct tn_parked *park_take_locked(struct toknet *t, uint32_t space)
{
	struct tn_parked *got = NULL, **gt = &got, **pp = &t->park;

	while (*pp) {
		struct tn_parked *p = *pp;

		if (p->space != space) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		t->npark--;
		p->next = NULL;
		*gt = p;
		gt = &p->next;
	}
	t->park_tail = &t->park;
	while (*t->park_tail)
		t->park_tail = &(*t->park_tail)->next;
	return got;
}

void park_free(struct tn_parked *p)
{
	while (p) {
		struct tn_parked *n = p->next;

		free(p);
		p = n;
	}
}

/* One message from <from> (maybe self) to the local server or client. */
static void deliver(struct toknet *t, uint32_t from, const uint8_t *msg, size_t len)
{
	if (tok_msg_for_server(msg, len)) {
		uint32_t space = len >= 8 ? mm_be32_get(msg + 4) : 0;
		struct tn_srv *sv = srv_get_or_park(t, space, from, msg, len);

		if (!sv)
			return;
		pthread_mutex_lock(&sv->mu);
		if (sv->s)
			tok_server_recv(sv->s, from, msg, len);	/* logs and drops garbage */
		srv_unlock_flush(t, sv);
		srv_put(t, sv);
		return;
	}
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_recv(t->c, from, msg, len);
	client_unlock_flush(t);
}

/* ---- 3. the MSG_TOK_BATCH handler ---- */

int toknet_batch_check(const void *buf, size_t len, size_t *n, char *why, size_t whysz)
{
	const uint8_t *p = buf;
	size_t off = 0, k = 0;

	while (off < len) {
		size_t ml;

		if (len - off < 2) {
			snprintf(why, whysz, "1 byte left at offset %zu where a 2-byte length belongs", off);
			return MM_EPROTO;
		}
		ml = mm_be16_get(p + off);
		if (ml == 0) {
			snprintf(why, whysz, "message %zu at offset %zu has length 0", k, off);
			return MM_EPROTO;
		}
		if (ml > len - off - 2) {
			snprintf(why, whysz, "message %zu at offset %zu says %zu bytes, %zu left", k, off,
				 ml, len - off - 2);
			return MM_EPROTO;
		}
		off += 2 + ml;
		k++;
	}
	if (k == 0) {
		snprintf(why, whysz, "empty batch");
		return MM_EPROTO;
	}
	*n = k;
	return MM_OK;
}

/* On a net I/O thread (NET_H_INLINE): tokens calls never block, and the
 * revoke upcalls they make only queue a job. */
static void batch_handler(net_req *req, void *arg)
{
	struct toknet *t = arg;
	uint32_t from = net_req_node(req);
	size_t len = 0, n = 0, off = 0;
	const uint8_t *p = net_req_data(req, &len);
	char why[128];

	if (!net_req_oneway(req)) {
		mm_error(SUB, "node %u sent a token batch as a request, not one-way: refused", from);
		net_reply(req, MM_EPROTO, NULL, 0);
		return;
	}
	if (toknet_batch_check(p, len, &n, why, sizeof(why)) != MM_OK) {
		CNT(st_bad, 1);
		mm_error(SUB, "malformed token batch from node %u (%zu bytes) refused: %s", from, len,
			 why);
		return;
	}
	CNT(st_batches_in, 1);
	CNT(st_msgs_in, n);
	/* a run of messages for one instance goes in under one lock, so what
	 * they produce leaves as one frame per destination too */
	while (off < len) {
		size_t ml = mm_be16_get(p + off);
		const uint8_t *m = p + off + 2;
		uint32_t space;
		struct tn_srv *sv;

		if (!tok_msg_for_server(m, ml)) {
			pthread_mutex_lock(&t->cmu);
			for (;;) {
				if (t->c)
					tok_client_recv(t->c, from, m, ml);
				off += 2 + ml;
				if (off >= len)
					break;
				ml = mm_be16_get(p + off);
				m = p + off + 2;
				if (tok_msg_for_server(m, ml))
					break;
			}
			client_unlock_flush(t);
			continue;
		}
		space = ml >= 8 ? mm_be32_get(m + 4) : 0;
		sv = srv_get_or_park(t, space, from, m, ml);
		if (!sv) {
			off += 2 + ml;	/* parked, or dropped */
			continue;
		}
		pthread_mutex_lock(&sv->mu);
		for (;;) {
			if (sv->s)
				tok_server_recv(sv->s, from, m, ml);	/* logs and drops garbage */
			off += 2 + ml;
			if (off >= len)
				break;
			ml = mm_be16_get(p + off);
			m = p + off + 2;
			if (!tok_msg_for_server(m, ml) || ml < 8 || mm_be32_get(m + 4) != space)
				break;
		}
		srv_unlock_flush(t, sv);
		srv_put(t, sv);
	}
}

/* ---- 4. revoke threads ---- */

/* The core's upcall, under cmu: queue the job, answer TOK_ASYNC. */
static int upcall(void *arg, struct tok_client *c, const struct tok_key *k, struct tok_range r,
		  enum tok_mode want, uint64_t cookie)
{
	struct toknet *t = arg;
	toknet_revoke_fn fn = t->up[k->kind].fn;
	struct tn_job *j;

	(void)c;
	if (!fn)
		return MM_OK;	/* unregistered since: nothing to flush */
	j = malloc(sizeof(*j));
	if (!j) {
		/* better late than a token given up unflushed */
		mm_error(SUB, "out of memory queueing a revoke of %s %" PRIu64 ": run in place",
			 tok_kind_name(k->kind), k->obj);
		fn(t->up[k->kind].arg, k, r, want);
		return MM_OK;
	}
	j->k = *k;
	j->r = r;
	j->want = want;
	j->cookie = cookie;
	j->fn = fn;
	j->arg = t->up[k->kind].arg;
	pthread_mutex_lock(&t->rmu);
	mm_list_add_tail(&t->rq, &j->link);
	pthread_cond_signal(&t->rcv);
	pthread_mutex_unlock(&t->rmu);
	return TOK_ASYNC;
}

static void *revoke_main(void *arg)
{
	struct toknet *t = arg;

	pthread_mutex_lock(&t->rmu);
	for (;;) {
		uint64_t now = mm_now_ns();
		struct tn_job *j;

		if (mm_list_empty(&t->rq)) {
			if (t->rstop)
				break;
			if (now >= t->next_retry_ns) {
				/* holders waiting for a failed node's recovery ask again */
				t->next_retry_ns = now + TN_RETRY_NS;
				pthread_mutex_unlock(&t->rmu);
				pthread_mutex_lock(&t->cmu);
				if (t->c)
					tok_client_retry_failed(t->c);
				client_unlock_flush(t);
				pthread_mutex_lock(&t->rmu);
				continue;
			}
			mm_cond_wait_until(&t->rcv, &t->rmu, t->next_retry_ns);
			continue;
		}
		j = mm_list_entry(mm_list_first(&t->rq), struct tn_job, link);
		mm_list_del(&j->link);
		t->rrunning[j->k.kind]++;
		pthread_mutex_unlock(&t->rmu);

		/* fn NULL: its registration went while it waited (see
		 * toknet_set_revoke): the token is given back unflushed */
		int rc = j->fn ? j->fn(j->arg, &j->k, j->r, j->want) : MM_OK;

		pthread_mutex_lock(&t->rmu);
		t->rrunning[j->k.kind]--;
		pthread_cond_broadcast(&t->rdone);
		pthread_mutex_unlock(&t->rmu);

		CNT(st_jobs, 1);
		if (rc != MM_OK) {
			CNT(st_job_errors, 1);
			mm_warn(SUB, "revoke callback of %s token %08" PRIx32 ":%" PRIu64 " failed: %s "
				"(the token is given up anyway)", tok_kind_name(j->k.kind), j->k.space,
				j->k.obj, mm_strerror(rc));
		}
		pthread_mutex_lock(&t->cmu);
		if (t->c)
			tok_client_upcall_done(t->c, j->cookie);
		client_unlock_flush(t);
		free(j);
		pthread_mutex_lock(&t->rmu);
	}
	pthread_mutex_unlock(&t->rmu);
	return NULL;
}

void toknet_set_revoke(struct toknet *t, enum tok_kind kind, toknet_revoke_fn fn, void *arg)
{
	struct mm_list *pos;

	if ((unsigned)kind >= TOK_NKINDS)
		return;
	pthread_mutex_lock(&t->cmu);
	t->up[kind].fn = fn;
	t->up[kind].arg = arg;
	if (t->c)
		tok_client_set_revoke(t->c, kind, fn ? upcall : NULL, t);
	pthread_mutex_unlock(&t->cmu);
	if (fn)
		return;
	/*
	 * Unregistered: what it was registered for (a file system being
	 * unmounted) is about to go. Queued revokes of this kind must not
	 * call it any more, and one running now must end before we return:
	 * a callback that ran on after the unmount freed its stripe group
	 * crashed mmfsd (a cp -a of 2,000 files, then mmumount).
	 */
	pthread_mutex_lock(&t->rmu);
	mm_list_for_each(pos, &t->rq) {
		struct tn_job *j = mm_list_entry(pos, struct tn_job, link);

		if (j->k.kind == kind)
			j->fn = NULL;
	}
	while (t->rrunning[kind])
		pthread_cond_wait(&t->rdone, &t->rmu);
	pthread_mutex_unlock(&t->rmu);
}

/* ---- 5. blocking acquire ---- */

/* Under cmu, inside a tokens call. */
static void granted(struct tok_holder *h, void *arg)
{
	struct tn_waiter *w = arg;

	(void)h;
	w->done = true;
	if (w->cv_ready)
		pthread_cond_signal(&w->cv);
}

static void multi_done(struct tok_multi *m, void *arg)
{
	struct tn_waiter *w = arg;

	(void)m;
	w->done = true;
	if (w->cv_ready)
		pthread_cond_signal(&w->cv);
}

/* With cmu held: make <w> a waiter (its condition variable on first use). */
static int waiter_enter(struct toknet *t, struct tn_waiter *w)
{
	if (!w->cv_ready) {
		if (mm_cond_init(&w->cv) != 0)
			return MM_ENOMEM;
		w->cv_ready = true;
	}
	mm_list_add_tail(&t->waiters, &w->link);
	t->nwaiting++;
	return MM_OK;
}

static void waiter_leave(struct toknet *t, struct tn_waiter *w)
{
	mm_list_del(&w->link);
	t->nwaiting--;
	if (t->stopping)
		pthread_cond_broadcast(&t->quiet);
}

uint64_t toknet_last_sent_ns(struct toknet *t, uint32_t node)
{
	if (!t || !t->sent_ns || node >= TOKNET_MAX_NODES)
		return 0;
	return atomic_load_explicit(&t->sent_ns[node], memory_order_relaxed);
}

void toknet_set_lost_hook(struct toknet *t, void (*fn)(void *arg, uint32_t node, size_t nmsg),
			  void *arg)
{
	t->lost_arg = arg;
	t->lost = fn;
}

void toknet_set_lease_check(struct toknet *t, uint64_t (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&t->cmu);
	t->lease = fn;
	t->lease_arg = arg;
	t->lease_seen = fn ? fn(arg) : 0;
	pthread_mutex_unlock(&t->cmu);
}

/*
 * With cmu held, after a grant: may this node use it? Not without a valid
 * lease (it lapsed, so the cluster is about to hold this node's tokens as
 * a failed node's; or quorum is short). With a new lease the node was
 * expelled and joined again: the cache is stale and goes now, before the
 * daemon's own expel event may arrive. The cache is kept while the lease
 * is only invalid: the servers still count those tokens as this node's
 * until they learn of an expel, and a cache that forgot them would answer
 * their revokes with nothing given (the requester asking again forever).
 */
static bool lease_lost(struct toknet *t)
{
	uint64_t now;

	if (!t->lease || !t->c)
		return false;
	now = t->lease(t->lease_arg);
	if (!now)
		return true;
	if (now == t->lease_seen)
		return false;
	if (!t->lease_seen) {
		t->lease_seen = now;	/* the first lease: the cache was empty */
		return false;
	}
	mm_warn(SUB, "this node's lease changed (it was expelled): its token cache is dropped");
	tok_client_reset(t->c);	/* the grant just made too: the caller asks again */
	t->lease_seen = now;
	return true;
}

int toknet_acquire(struct toknet *t, struct tok_holder *h, int timeout_ms)
{
	struct tn_waiter w = {0};
	uint64_t deadline = timeout_ms > 0 ? mm_now_ns() + (uint64_t)timeout_ms * 1000000 : 0;
	int rc;

	if (!t || !h)
		return MM_EINVAL;
	h->done = granted;
	h->arg = &w;
	pthread_mutex_lock(&t->cmu);
	if (t->stopping || !t->c) {
		pthread_mutex_unlock(&t->cmu);
		return MM_ESHUTDOWN;
	}
	rc = tok_acquire(t->c, h);
	if (rc == MM_OK && w.done && lease_lost(t)) {
		tok_cancel(t->c, h);
		rc = MM_ENOLEASE;
	}
	if (rc != MM_OK || w.done) {
		client_unlock_flush(t);	/* the cached fast path: nothing to send */
		return rc;
	}
	rc = waiter_enter(t, &w);
	if (rc != MM_OK) {
		tok_cancel(t->c, h);
		client_unlock_flush(t);
		return rc;
	}
	client_unlock_flush(t);		/* the request leaves */
	pthread_mutex_lock(&t->cmu);
	while (!w.done && !t->stopping) {
		if (!deadline)
			pthread_cond_wait(&w.cv, &t->cmu);
		else if (mm_cond_wait_until(&w.cv, &t->cmu, deadline) == MM_ETIMEDOUT)
			break;
	}
	if (w.done && (h->st == TOK_H_LOST || lease_lost(t))) {
		rc = MM_ENOLEASE;	/* this node was expelled meanwhile */
		tok_cancel(t->c, h);
	} else if (w.done) {
		rc = MM_OK;
	} else {
		rc = t->stopping ? MM_ESHUTDOWN : MM_ETIMEDOUT;
		if (t->c)
			tok_cancel(t->c, h);
	}
	waiter_leave(t, &w);
	client_unlock_flush(t);
	pthread_cond_destroy(&w.cv);
	return rc;
}

int toknet_acquire_many(struct toknet *t, struct tok_holder **hs, size_t n)
{
	struct tn_waiter w = {0};
	int rc;

	if (!t || (n && !hs))
		return MM_EINVAL;
	pthread_mutex_lock(&t->cmu);
	if (t->stopping || !t->c) {
		pthread_mutex_unlock(&t->cmu);
		return MM_ESHUTDOWN;
	}
	rc = waiter_enter(t, &w);
	if (rc != MM_OK) {
		pthread_mutex_unlock(&t->cmu);
		return rc;
	}
	rc = tok_acquire_many(t->c, &w.m, hs, n, multi_done, &w);
	if (rc == MM_OK) {
		client_unlock_flush(t);
		pthread_mutex_lock(&t->cmu);
		while (!w.done && !t->stopping && t->c)
			pthread_cond_wait(&w.cv, &t->cmu);
		rc = MM_OK;
		if (!w.done || w.m.next < n || lease_lost(t)) {
			/* withdrawn as a whole: every holder cancelled (a done
			 * before the last is this node's expel: all were lost) */
			for (size_t i = 0; i < n && t->c; i++)
				tok_cancel(t->c, hs[i]);
			rc = w.done ? MM_ENOLEASE : MM_ESHUTDOWN;
		}
	}
	waiter_leave(t, &w);
	client_unlock_flush(t);
	pthread_cond_destroy(&w.cv);
	return rc;
}

void toknet_release(struct toknet *t, struct tok_holder *h)
{
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_release(t->c, h);
	client_unlock_flush(t);
}

/* ---- 6. create, stop, destroy ---- */

int toknet_create(const struct toknet_config *cfg, struct toknet **out)
{
	struct toknet *t;
	struct tok_xport x = {cli_xsend, xnow, NULL};
	int rc;

	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->net || cfg->revoke_threads < 1 || cfg->self >= TOK_NODE_FAILED)
		return MM_EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return MM_ENOMEM;
	t->cfg = *cfg;
	pthread_mutex_init(&t->vmu, NULL);
	pthread_mutex_init(&t->smu, NULL);
	pthread_mutex_init(&t->cmu, NULL);
	pthread_mutex_init(&t->rmu, NULL);
	t->sent_ns = calloc(TOKNET_MAX_NODES, sizeof(*t->sent_ns));	/* NULL: not tracked */
	mm_list_init(&t->waiters);
	mm_list_init(&t->rq);
	t->park_tail = &t->park;
	if (mm_cond_init(&t->quiet) != 0 || mm_cond_init(&t->rcv) != 0 ||
	    mm_cond_init(&t->rdone) != 0) {
		rc = MM_ENOMEM;
		goto fail_early;
	}
	t->mem_limit = cfg->mem_limit;
	x.arg = t;
	rc = tok_client_create(cfg->self, &x, &t->c);
	if (rc != MM_OK)
		goto fail_early;
	if (cfg->cache_limit)
		tok_client_set_cache_limit(t->c, cfg->cache_limit);
	rc = net_register(cfg->net, MSG_TOK_BATCH, batch_handler, t, NET_H_INLINE);
	if (rc != MM_OK) {
		mm_error(SUB, "cannot register the token message handler: %s", mm_strerror(rc));
		tok_client_destroy(t->c);
		goto fail_early;
	}
	t->next_retry_ns = mm_now_ns() + TN_RETRY_NS;
	t->rth = calloc((size_t)cfg->revoke_threads, sizeof(*t->rth));
	if (!t->rth) {
		rc = MM_ENOMEM;
		goto fail;
	}
	for (int i = 0; i < cfg->revoke_threads; i++) {
		char name[16];

		snprintf(name, sizeof(name), "tokrevoke%d", i);
		rc = mm_thread_start(&t->rth[i], name, revoke_main, t);
		if (rc != MM_OK)
			goto fail;
		t->nrth++;
	}
	*out = t;
	return MM_OK;
fail:
	/* net holds <t> as its handler's argument: stopped, not freed */
	toknet_stop(t);
	mm_error(SUB, "cannot start the token threads: %s (token service off)", mm_strerror(rc));
	*out = t;
	return rc;
fail_early:
	pthread_mutex_destroy(&t->vmu);
	pthread_mutex_destroy(&t->smu);
	pthread_mutex_destroy(&t->cmu);
	pthread_mutex_destroy(&t->rmu);
	free(t);
	return rc;
}

void toknet_stop(struct toknet *t)
{
	struct tok_client *c;
	struct tn_srv *list;
	struct mm_list *pos;
	uint64_t deadline;
	bool idle = false;

	if (!t)
		return;
	pthread_mutex_lock(&t->cmu);
	if (t->stopping) {
		pthread_mutex_unlock(&t->cmu);
		return;
	}
	t->stopping = true;
	mm_list_for_each(pos, &t->waiters) {
		struct tn_waiter *w = mm_list_entry(pos, struct tn_waiter, link);

		pthread_cond_signal(&w->cv);
	}
	while (t->nwaiting > 0)	/* each withdraws its holders */
		pthread_cond_wait(&t->quiet, &t->cmu);
	/* tokens nobody uses go back to their servers: nothing for recovery */
	if (t->c)
		tok_client_drop_unused(t->c);
	client_unlock_flush(t);
	deadline = mm_now_ns() + TN_IDLE_WAIT_MS * 1000000ull;
	while (!idle) {
		pthread_mutex_lock(&t->cmu);
		idle = !t->c || tok_client_idle(t->c);
		pthread_mutex_unlock(&t->cmu);
		if (idle)
			break;
		if (mm_now_ns() >= deadline) {
			mm_warn(SUB, "token client still busy after %d ms: leaving anyway (the servers "
				"recover what it held)", TN_IDLE_WAIT_MS);
			break;
		}
		mm_sleep_ms(5);
	}
	pthread_mutex_lock(&t->rmu);
	t->rstop = true;
	pthread_cond_broadcast(&t->rcv);
	pthread_mutex_unlock(&t->rmu);
	for (int i = 0; i < t->nrth; i++)
		pthread_join(t->rth[i], NULL);
	t->nrth = 0;
	pthread_mutex_lock(&t->smu);
	t->stopped = true;
	list = t->srv;
	t->srv = NULL;
	park_free(t->park);
	t->park = NULL;
	t->park_tail = &t->park;
	t->npark = 0;
	pthread_mutex_unlock(&t->smu);
	while (list) {
		struct tn_srv *sv = list;

		list = sv->next;
		srv_drop(t, sv);
	}
	pthread_mutex_lock(&t->cmu);
	c = t->c;
	t->c = NULL;
	tok_client_destroy(c);
	pthread_mutex_unlock(&t->cmu);
}

void toknet_destroy(struct toknet *t)
{
	if (!t)
		return;
	toknet_stop(t);
	/* a revoke job queued after the threads went (none should be) */
	while (!mm_list_empty(&t->rq)) {
		struct tn_job *j = mm_list_entry(mm_list_first(&t->rq), struct tn_job, link);

		mm_list_del(&j->link);
		free(j);
	}
	out_free(&t->cout);
	free(t->rth);
	free(t->views);
	pthread_cond_destroy(&t->quiet);
	pthread_cond_destroy(&t->rcv);
	pthread_cond_destroy(&t->rdone);
	pthread_mutex_destroy(&t->vmu);
	pthread_mutex_destroy(&t->smu);
	pthread_mutex_destroy(&t->cmu);
	pthread_mutex_destroy(&t->rmu);
	free(t->sent_ns);
	free(t);
}
