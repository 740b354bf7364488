/*
 * net/send.c - writing frames to a connection, from any thread.
 *
 * Entry points: net_conn_send() (one frame), net_conn_frame() (its
 * header), net_conn_flush_queued() / net_conn_out_ready() (the I/O
 * thread, when a connection comes up or EPOLLOUT fires).
 *
 * wlock is the send lock: its holder alone writes to the transport.
 * Writers that must not block (I/O and timer threads) only trylock it;
 * when it is busy they append a copy to outq, and whoever holds wlock
 * flushes outq before writing anything of its own and re-checks outq
 * after unlocking (conn_wunlock), so nothing queued is stranded. A
 * non-blocking writer that meets a full socket leaves the rest in outq,
 * sets wblocked and arms EPOLLOUT; the I/O thread flushes on EPOLLOUT.
 * Blocking writers (user and worker threads) poll the socket themselves.
 * A frame is never interleaved with another: bytes of a partly written
 * frame are always at the head of outq. See README "Sending".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net_int.h"

static int conn_send_error(struct net_conn *c, ssize_t n)
{
	char who[96];

	(void)n;
	/* an up connection's end is logged once, at teardown */
	if (!net_conn_closing(c) && !atomic_load_explicit(&c->was_up, memory_order_acquire))
		mm_warn("net", "write to %s failed: %s", net_conn_who(c, who, sizeof(who)),
			net_xprt_why());
	net_conn_close_why(c, MM_ECLOSED, MM_LOG_WARN, "write failed: %s", net_xprt_why());
	return MM_ECLOSED;
}

/* Append the bytes of <iov> after the first <skip> to outq. <blocked>:
 * the socket is full, arm EPOLLOUT. MM_ECLOSED if the connection closed. */
static int conn_enqueue(struct net_conn *c, const struct iovec *iov, int cnt, size_t skip,
			bool blocked)
{
	struct net_outbuf *b;
	size_t total = 0, off = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	b = malloc(sizeof(*b) + total - skip);
	if (!b)
		return MM_ENOMEM;
	b->next = NULL;
	b->len = total - skip;
	b->off = 0;
	for (int i = 0; i < cnt; i++) {
		size_t l = iov[i].iov_len, s = 0;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		s = skip;
		skip = 0;
		memcpy(b->data + off, (const uint8_t *)iov[i].iov_base + s, l - s);
		off += l - s;
	}
	pthread_mutex_lock(&c->qlock);
	if (net_conn_st(c) == CS_CLOSED) {
		pthread_mutex_unlock(&c->qlock);
		free(b);
		return net_conn_end_rc(c);
	}
	if (c->outq_tail)
		c->outq_tail->next = b;
	else
		c->outq = b;
	c->outq_tail = b;
	c->outq_bytes += b->len;
	if (blocked) {
		c->wblocked = true;
		net_conn_set_events_locked(c, c->ev_mask | EPOLLOUT);
	}
	pthread_mutex_unlock(&c->qlock);
	return MM_OK;
}

/* Wait until the transport can make progress; wlock held. */
static int conn_wait_writable(struct net_conn *c, ssize_t want, uint64_t deadline)
{
	struct pollfd pfd = {.fd = c->fd, .events = want == NET_XPRT_WANT_READ ? POLLIN : POLLOUT};
	uint64_t now = mm_now_ns();
	int ms;

	if (net_conn_closing(c))
		return MM_ECLOSED;
	if (now >= deadline) {
		/* an up connection's end is logged once, at teardown */
		if (!atomic_load_explicit(&c->was_up, memory_order_acquire)) {
			char who[96];

			mm_warn("net", "write to %s stalled for %d s, closing",
				net_conn_who(c, who, sizeof(who)), NET_SEND_TIMEOUT_MS / 1000);
		}
		net_conn_close_why(c, MM_ECLOSED, MM_LOG_WARN, "write stalled for %d s",
				   NET_SEND_TIMEOUT_MS / 1000);
		return MM_ECLOSED;
	}
	ms = (int)MM_MIN((deadline - now) / 1000000u + 1, 1000u);
	if (want == NET_XPRT_WANT_READ)
		ms = 1;	/* the I/O thread reads; just retry soon */
	if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
		return conn_send_error(c, MM_ESYS);
	return MM_OK;
}

/* Push out what the transport itself still holds; wlock held. A
 * non-blocking caller leaves it to EPOLLOUT (wblocked). */
static int conn_xflush(struct net_conn *c, bool nb, uint64_t deadline)
{
	for (;;) {
		int rc = c->xprt.ops->flush(&c->xprt);

		if (rc == MM_OK)
			return MM_OK;
		if (rc != NET_XPRT_WANT_WRITE)
			return conn_send_error(c, rc);
		if (nb) {
			pthread_mutex_lock(&c->qlock);
			c->wblocked = true;
			net_conn_set_events_locked(c, c->ev_mask | EPOLLOUT);
			pthread_mutex_unlock(&c->qlock);
			return MM_OK;
		}
		rc = conn_wait_writable(c, NET_XPRT_WANT_WRITE, deadline);
		if (rc)
			return rc;
	}
}

static uint64_t send_deadline(void)
{
	return mm_now_ns() + (uint64_t)NET_SEND_TIMEOUT_MS * 1000000u;
}

/* Write all of <iov> minus the first <skip> bytes, blocking; wlock held. */
static int conn_write_blocking(struct net_conn *c, const struct iovec *iov0, int cnt, size_t skip)
{
	struct iovec iov[4];
	uint64_t deadline = send_deadline();
	int i = 0, rc;

	memcpy(iov, iov0, sizeof(*iov) * (size_t)cnt);
	for (;;) {
		ssize_t n;

		while (i < cnt && skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			i++;
		}
		if (i == cnt)
			return conn_xflush(c, false, deadline);
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + skip;
		iov[i].iov_len -= skip;
		skip = 0;
		n = c->xprt.ops->writev(&c->xprt, iov + i, cnt - i);
		if (n == NET_XPRT_WANT_WRITE || n == NET_XPRT_WANT_READ) {
			rc = conn_wait_writable(c, n, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (n < 0)
			return conn_send_error(c, n);
		net_atomic_add(&c->bytes_sent, (uint64_t)n);
		skip = (size_t)n;
	}
}

/* Remove the fully sent head buffer <b> of outq and free it; wlock held. */
static void outq_pop(struct net_conn *c, struct net_outbuf *b)
{
	pthread_mutex_lock(&c->qlock);
	c->outq = b->next;
	if (!c->outq)
		c->outq_tail = NULL;
	c->outq_bytes -= b->len;
	pthread_mutex_unlock(&c->qlock);
	free(b);
}

/* Flush outq without blocking; wlock held. */
static int conn_flush_nb(struct net_conn *c)
{
	for (;;) {
		struct net_outbuf *b;
		struct iovec iov;
		ssize_t n;

		pthread_mutex_lock(&c->qlock);
		b = c->outq;
		if (net_conn_st(c) != CS_UP)
			b = NULL;
		pthread_mutex_unlock(&c->qlock);
		if (!b) {
			if (net_conn_st(c) == CS_CLOSED)
				return MM_ECLOSED;
			return net_conn_st(c) == CS_UP ? conn_xflush(c, true, 0) : MM_OK;
		}
		iov.iov_base = b->data + b->off;
		iov.iov_len = b->len - b->off;
		n = c->xprt.ops->writev(&c->xprt, &iov, 1);
		if (n == NET_XPRT_WANT_WRITE || n == NET_XPRT_WANT_READ) {
			pthread_mutex_lock(&c->qlock);
			c->wblocked = true;
			net_conn_set_events_locked(c, c->ev_mask | EPOLLOUT);
			pthread_mutex_unlock(&c->qlock);
			return MM_OK;
		}
		if (n < 0)
			return conn_send_error(c, n);
		net_atomic_add(&c->bytes_sent, (uint64_t)n);
		b->off += (size_t)n;
		if (b->off == b->len) {
			outq_pop(c, b);
		}
	}
}

/* Flush outq, blocking; wlock held. */
static int conn_flush_blocking(struct net_conn *c)
{
	for (;;) {
		struct net_outbuf *b;
		struct iovec iov;
		int rc;

		pthread_mutex_lock(&c->qlock);
		b = c->outq;
		pthread_mutex_unlock(&c->qlock);
		if (net_conn_st(c) == CS_CLOSED)
			return MM_ECLOSED;
		if (!b)
			return conn_xflush(c, false, send_deadline());
		iov.iov_base = b->data;
		iov.iov_len = b->len;
		rc = conn_write_blocking(c, &iov, 1, b->off);
		if (rc)
			return rc;
		outq_pop(c, b);
	}
}

/* Release wlock; then flush what others queued meanwhile. */
static void conn_wunlock(struct net_conn *c)
{
	for (;;) {
		bool need;

		pthread_mutex_unlock(&c->wlock);
		pthread_mutex_lock(&c->qlock);
		need = c->outq && !c->wblocked && net_conn_st(c) == CS_UP;
		pthread_mutex_unlock(&c->qlock);
		if (!need || pthread_mutex_trylock(&c->wlock) != 0)
			return;
		conn_flush_nb(c);
	}
}

/* On the I/O thread: the connection went UP, or EPOLLOUT fired. */
void net_conn_flush_queued(struct net_conn *c)
{
	if (pthread_mutex_trylock(&c->wlock) != 0)
		return;	/* the holder flushes in conn_wunlock() */
	conn_flush_nb(c);
	conn_wunlock(c);
}

void net_conn_out_ready(struct net_conn *c)
{
	pthread_mutex_lock(&c->qlock);
	c->wblocked = false;
	net_conn_set_events_locked(c, c->ev_mask & ~(uint32_t)EPOLLOUT);
	pthread_mutex_unlock(&c->qlock);
	net_conn_flush_queued(c);
}

void net_conn_frame(const struct net_conn *c, uint8_t *hdr, uint8_t kind, uint16_t type,
		    int32_t status, uint64_t id, const void *data, uint32_t len)
{
	struct net_frame_hdr h = {
		.kind = kind,
		.type = type,
		.status = status,
		.id = id,
		.len = len,
	};

	if (!c->crc_off) {
		net_frame_build(hdr, kind, type, status, id, data, len);
		return;
	}
	net_frame_hdr_encode(&h, hdr);	/* payload_crc 0: the AEAD tag authenticates it */
}

int net_conn_send(struct net_conn *c, const uint8_t *hdr, const void *data, size_t len)
{
	struct iovec iov[2] = {{(void *)hdr, NET_FRAME_HDR_LEN}, {(void *)data, len}};
	int cnt = len ? 2 : 1, rc = MM_OK, st;
	size_t total = NET_FRAME_HDR_LEN + len;
	bool nb = net_nonblocking_thread, qempty;
	ssize_t n;

	if (nb) {
		if (pthread_mutex_trylock(&c->wlock) != 0) {
			rc = conn_enqueue(c, iov, cnt, 0, false);
			if (rc == MM_OK && pthread_mutex_trylock(&c->wlock) == 0) {
				conn_flush_nb(c);
				conn_wunlock(c);
			}
			goto counted;
		}
	} else {
		pthread_mutex_lock(&c->wlock);
	}
	pthread_mutex_lock(&c->qlock);
	st = net_conn_st(c);
	qempty = c->outq == NULL;
	pthread_mutex_unlock(&c->qlock);
	if (st == CS_CLOSED || net_conn_closing(c)) {
		rc = net_conn_end_rc(c);
		goto out;
	}
	if (st != CS_UP) {
		/* flushed by the I/O thread when the connection comes up */
		rc = conn_enqueue(c, iov, cnt, 0, false);
		goto out;
	}
	if (!qempty) {
		rc = nb ? conn_flush_nb(c) : conn_flush_blocking(c);
		if (rc)
			goto out;
		pthread_mutex_lock(&c->qlock);
		qempty = c->outq == NULL;
		pthread_mutex_unlock(&c->qlock);
		if (!qempty) {
			rc = conn_enqueue(c, iov, cnt, 0, false);
			goto out;
		}
	}
	n = c->xprt.ops->writev(&c->xprt, iov, cnt);
	if (n == NET_XPRT_WANT_WRITE || n == NET_XPRT_WANT_READ)
		n = 0;
	if (n < 0) {
		rc = conn_send_error(c, n);
		goto out;
	}
	net_atomic_add(&c->bytes_sent, (uint64_t)n);
	if ((size_t)n < total)
		rc = nb ? conn_enqueue(c, iov, cnt, (size_t)n, true)
			: conn_write_blocking(c, iov, cnt, (size_t)n);
	else
		rc = conn_xflush(c, nb, send_deadline());
out:
	conn_wunlock(c);
counted:
	if (rc == MM_OK)
		net_atomic_add(&c->msgs_sent, 1);
	return rc;
}
