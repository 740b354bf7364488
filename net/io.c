/*
 * net/io.c - epoll I/O threads ("netio0", "netio1", ...).
 *
 * Each connection belongs to one I/O thread for its whole life (round
 * robin at creation); only that thread reads it, changes its state and
 * tears it down, so the receive side needs no lock. The listener lives on
 * thread 0. Other threads talk to an I/O thread through its command queue
 * (io->lock) and an eventfd; commands run after each batch of events, so a
 * connection is never freed while an event for it is still being handled.
 *
 * Interest is level-triggered: EPOLLIN always (once connected), EPOLLOUT
 * only while connecting, during a handshake that wants to write, or while
 * a non-blocking send waits for room (conn->wblocked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net_int.h"

#define IO_EVENTS 64

struct net_io *net_io_pick(net_ctx *ctx)
{
	unsigned i = atomic_fetch_add_explicit(&ctx->rr, 1, memory_order_relaxed);

	return &ctx->io[i % (unsigned)ctx->nio];
}

int net_io_add(struct net_io *io, struct net_conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		mm_error("net", "epoll add: %s", strerror(errno));
		return mm_err_from_errno(errno);
	}
	return MM_OK;
}

int net_io_mod(struct net_conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (epoll_ctl(c->io->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0 && errno != ENOENT)
		return mm_err_from_errno(errno);
	return MM_OK;
}

void net_io_del(struct net_conn *c)
{
	epoll_ctl(c->io->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

void net_io_post(struct net_io *io, enum net_cmd_kind kind, struct net_conn *c)
{
	struct net_cmd *cmd = calloc(1, sizeof(*cmd));
	uint64_t one = 1;

	if (!cmd) {
		/* Cannot queue: the connection stays marked closing; its next
		 * event is ignored. Leak rather than free under the I/O thread. */
		mm_error("net", "out of memory posting an I/O command");
		return;
	}
	cmd->kind = kind;
	cmd->conn = c;
	pthread_mutex_lock(&io->lock);
	if (io->stopped) {
		/* net_destroy is past this thread (every connection is torn
		 * down already): nothing left to do */
		pthread_mutex_unlock(&io->lock);
		free(cmd);
		if (c)
			net_conn_put(c);
		return;
	}
	if (io->cmds_tail)
		io->cmds_tail->next = cmd;
	else
		io->cmds = cmd;
	io->cmds_tail = cmd;
	pthread_mutex_unlock(&io->lock);
	if (net_cur_io != io && write(io->evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice; nothing to do */
	}
}

/* Run queued commands; true when told to stop. */
static bool io_run_cmds(struct net_io *io)
{
	struct net_cmd *cmd, *next;
	bool stop = false;

	pthread_mutex_lock(&io->lock);
	cmd = io->cmds;
	io->cmds = io->cmds_tail = NULL;
	pthread_mutex_unlock(&io->lock);
	for (; cmd; cmd = next) {
		next = cmd->next;
		if (cmd->kind == NET_CMD_CLOSE) {
			net_conn_teardown(cmd->conn);
			net_conn_put(cmd->conn);
		} else if (cmd->kind == NET_CMD_READ) {
			net_conn_rerun(cmd->conn);	/* skips torn connections */
			net_conn_put(cmd->conn);
		} else if (cmd->kind == NET_CMD_STOP) {
			stop = true;
		}
		free(cmd);
	}
	return stop;
}

static void io_accept(net_ctx *ctx)
{
	for (;;) {
		int fd = accept4(ctx->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				mm_warn("net", "accept: %s", strerror(errno));
			return;
		}
		net_conn_accept(ctx, fd);
	}
}

static void *io_main(void *arg)
{
	struct net_io *io = arg;
	net_ctx *ctx = io->ctx;
	struct epoll_event ev[IO_EVENTS];
	bool stop = false;

	net_nonblocking_thread = true;
	net_cur_io = io;
	while (!stop) {
		int n = epoll_wait(io->epfd, ev, IO_EVENTS, io->rerun ? 0 : -1);
		struct net_conn *r;
		bool has_cmds;

		if (n < 0) {
			if (errno != EINTR) {
				mm_error("net", "epoll_wait: %s", strerror(errno));
				mm_sleep_ms(10);
			}
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			struct net_src *s = ev[i].data.ptr;

			switch (s->kind) {
			case NET_SRC_WAKE: {
				uint64_t v;

				if (read(io->evfd, &v, sizeof(v)) < 0) {
					/* EAGAIN: another wakeup already drained it */
				}
				break;
			}
			case NET_SRC_LISTEN:
				io_accept(ctx);
				break;
			case NET_SRC_CONN:
				net_conn_event((struct net_conn *)s, ev[i].events);
				break;
			}
		}
		/* TLS connections with decrypted bytes that epoll cannot see */
		r = io->rerun;
		io->rerun = NULL;
		while (r) {
			struct net_conn *next = r->rerun_next;

			r->on_rerun = false;
			r->rerun_next = NULL;
			if (!r->torn)
				net_conn_rerun(r);
			net_conn_put(r);
			r = next;
		}
		pthread_mutex_lock(&io->lock);
		has_cmds = io->cmds != NULL;
		pthread_mutex_unlock(&io->lock);
		if (has_cmds)
			stop = io_run_cmds(io);
	}
	return NULL;
}

int net_io_start(net_ctx *ctx)
{
	ctx->io = calloc((size_t)ctx->cfg.io_threads, sizeof(*ctx->io));
	if (!ctx->io)
		return MM_ENOMEM;
	ctx->nio = ctx->cfg.io_threads;
	for (int i = 0; i < ctx->nio; i++) {
		struct net_io *io = &ctx->io[i];

		io->ctx = ctx;
		io->idx = i;
		io->epfd = -1;
		io->evfd = -1;
		pthread_mutex_init(&io->lock, NULL);
	}
	for (int i = 0; i < ctx->nio; i++) {
		struct net_io *io = &ctx->io[i];
		struct epoll_event ev = {.events = EPOLLIN};
		char name[16];
		int rc;

		io->epfd = epoll_create1(EPOLL_CLOEXEC);
		io->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (io->epfd < 0 || io->evfd < 0) {
			mm_error("net", "epoll/eventfd: %s", strerror(errno));
			return mm_err_from_errno(errno);
		}
		io->wake_src.kind = NET_SRC_WAKE;
		ev.data.ptr = &io->wake_src;
		if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->evfd, &ev) < 0)
			return mm_err_from_errno(errno);
		snprintf(name, sizeof(name), "netio%d", i);
		rc = mm_thread_start(&io->thread, name, io_main, io);
		if (rc)
			return rc;
		io->started = true;
	}
	return MM_OK;
}

int net_io_listen(net_ctx *ctx)
{
	struct epoll_event ev = {.events = EPOLLIN};

	ctx->listen_src.kind = NET_SRC_LISTEN;
	ev.data.ptr = &ctx->listen_src;
	if (epoll_ctl(ctx->io[0].epfd, EPOLL_CTL_ADD, ctx->listen_fd, &ev) < 0)
		return mm_err_from_errno(errno);
	return MM_OK;
}

void net_io_stop(net_ctx *ctx)
{
	if (!ctx->io)
		return;
	for (int i = 0; i < ctx->nio; i++) {
		struct net_io *io = &ctx->io[i];

		if (io->started) {
			net_io_post(io, NET_CMD_STOP, NULL);
			pthread_join(io->thread, NULL);
			io->started = false;
		}
		pthread_mutex_lock(&io->lock);
		io->stopped = true;
		pthread_mutex_unlock(&io->lock);
		/* commands that raced with the stop */
		io_run_cmds(io);
		if (io->epfd >= 0)
			close(io->epfd);
		if (io->evfd >= 0)
			close(io->evfd);
		io->epfd = io->evfd = -1;
	}
}

void net_io_free(net_ctx *ctx)
{
	if (!ctx->io)
		return;
	for (int i = 0; i < ctx->nio; i++) {
		struct net_io *io = &ctx->io[i];

		if (io->epfd >= 0)
			close(io->epfd);
		if (io->evfd >= 0)
			close(io->evfd);
		pthread_mutex_destroy(&io->lock);
	}
	free(ctx->io);
	ctx->io = NULL;
}
