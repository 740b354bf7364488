/*
 * bench/pingpong.c - the floor for small-message round trips: a minimal
 * TCP ping-pong over loopback, client (parent) and echo server (forked
 * child) in one program, blocking send()/recv() with TCP_NODELAY, no
 * framing, no threads, no event loop.
 *
 *   pingpong [-a IP] [-S size] [-d depth] [-t secs] [-w warmup]
 *
 * -d 1 (default): send one message, wait for its echo, repeat.
 * -d N: N messages in flight; each echo received sends the next one
 *       (the baseline for pipelined RPCs).
 * Prints "pingpong: size=.. depth=.. seconds=.. roundtrips=.. rate=.."
 * with rate in round trips per second, all measured.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* 1: all <len> bytes read; 0: orderly EOF before any byte; -1: error. */
static int recv_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n == 0)
			return got ? -1 : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

static int send_full(int fd, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void server(int lfd, size_t size)
{
	uint8_t *buf = malloc(size);
	int fd, r;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (!buf)
		_exit(1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	close(lfd);
	nodelay(fd);
	while ((r = recv_full(fd, buf, size)) == 1)
		if (send_full(fd, buf, size))
			_exit(1);
	_exit(r == 0 ? 0 : 1);
}

int main(int argc, char **argv)
{
	const char *ip = "127.0.9.31";
	size_t size = 64;
	int depth = 1, opt, lfd, fd, status;
	double secs = 3, warm = 0.5;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	uint64_t t_meas, t_end = 0, t0 = 0, t1 = 0, n = 0, n0 = 0, n1 = 0;
	uint8_t *out, *in;
	bool meas = false;
	pid_t pid;

	while ((opt = getopt(argc, argv, "a:S:d:t:w:")) != -1) {
		switch (opt) {
		case 'a': ip = optarg; break;
		case 'S': size = (size_t)strtoul(optarg, NULL, 0); break;
		case 'd': depth = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		default:
			fprintf(stderr, "usage: pingpong [-a IP] [-S size] [-d depth] [-t secs] [-w warmup]\n");
			return 2;
		}
	}
	if (size == 0 || depth < 1 || secs <= 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "pingpong: bad arguments\n");
		return 2;
	}
	out = malloc(size);
	in = malloc(size);
	if (!out || !in)
		die("malloc");
	for (size_t i = 0; i < size; i++)
		out[i] = (uint8_t)(i * 131 + 7);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("listen");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		server(lfd, size);
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	nodelay(fd);

	t_meas = now_ns() + (uint64_t)(warm * 1e9);
	for (int i = 0; i < depth; i++)
		if (send_full(fd, out, size))
			die("send");
	for (;;) {
		uint64_t now;

		if (recv_full(fd, in, size) != 1)
			die("recv");
		if (memcmp(in, out, size) != 0) {
			fprintf(stderr, "pingpong: echo differs\n");
			return 1;
		}
		n++;
		now = now_ns();
		if (!meas && now >= t_meas) {
			t0 = now;
			n0 = n;
			t_end = t0 + (uint64_t)(secs * 1e9);
			meas = true;
		} else if (meas && now >= t_end) {
			t1 = now;
			n1 = n;
			break;
		}
		if (send_full(fd, out, size))
			die("send");
	}
	/* the depth-1 echoes still in flight, then the server's EOF */
	shutdown(fd, SHUT_WR);
	while (recv_full(fd, in, size) == 1)
		;
	close(fd);
	free(out);
	free(in);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	printf("pingpong: size=%zu depth=%d seconds=%.3f roundtrips=%llu rate=%.0f\n", size, depth,
	       (double)(t1 - t0) / 1e9, (unsigned long long)(n1 - n0),
	       (double)(n1 - n0) / ((double)(t1 - t0) / 1e9));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
