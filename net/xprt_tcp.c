/*
 * net/xprt_tcp.c - the plain TCP transport (see xprt.h), and the
 * per-thread "why" string shared by all transports.
 */
#include "net/xprt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"

static _Thread_local char xprt_why[256];

const char *net_xprt_why(void)
{
	return xprt_why;
}

void net_xprt_set_why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xprt_why, sizeof(xprt_why), fmt, ap);
	va_end(ap);
}

static int tcp_attach(struct net_xprt *x, void *tls_ctx, bool server)
{
	(void)x;
	(void)tls_ctx;
	(void)server;
	return MM_OK;
}

static int tcp_handshake(struct net_xprt *x)
{
	(void)x;
	return MM_OK;
}

static ssize_t tcp_read(struct net_xprt *x, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(x->fd, buf, len, 0);

		if (n > 0)
			return n;
		if (n == 0) {
			net_xprt_set_why("connection closed by peer");
			return MM_ECLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NET_XPRT_WANT_READ;
		net_xprt_set_why("read: %s", strerror(errno));
		return errno == ECONNRESET ? MM_ECLOSED : mm_err_from_errno(errno);
	}
}

static ssize_t tcp_writev(struct net_xprt *x, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	for (;;) {
		ssize_t n = sendmsg(x->fd, &m, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NET_XPRT_WANT_WRITE;
		net_xprt_set_why("write: %s", strerror(errno));
		return errno == EPIPE || errno == ECONNRESET ? MM_ECLOSED
							      : mm_err_from_errno(errno);
	}
}

static int tcp_flush(struct net_xprt *x)
{
	(void)x;
	return MM_OK;
}

static bool tcp_pending(struct net_xprt *x)
{
	(void)x;
	return false;
}

static void tcp_close(struct net_xprt *x)
{
	(void)x;
}

const struct net_xprt_ops net_xprt_tcp = {
	.name = "tcp",
	.exact_readiness = true,
	.attach = tcp_attach,
	.handshake = tcp_handshake,
	.read = tcp_read,
	.writev = tcp_writev,
	.flush = tcp_flush,
	.pending = tcp_pending,
	.close = tcp_close,
};

int net_sock_send_pending(int fd, const uint8_t *buf, size_t len, size_t *head)
{
	while (*head < len) {
		ssize_t n = send(fd, buf + *head, len - *head, MSG_NOSIGNAL);

		if (n > 0) {
			*head += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 1;
}
