/*
 * bench/rpc_bench.c - net/ RPC throughput and round trips between two
 * processes on loopback: the parent is the client node (1, default
 * 127.0.9.11), a forked child the server node (2, default 127.0.9.12).
 * Both run a net_ctx configured like mmfsd's (1 I/O thread, 4 workers);
 * certificates come from a fresh cluster key in a temporary directory.
 *
 *   rpc_bench bulk [options]   SIZE-byte requests, empty replies, DEPTH in
 *                              flight (issued by the main thread: it waits
 *                              on a window semaphore that reply callbacks
 *                              post); reports request bytes per second
 *   rpc_bench rtt [options]    SIZE-byte echo: DEPTH 1 = net_call() in a
 *                              loop; DEPTH > 1 = DEPTH net_call_async()
 *                              calls kept in flight, each reply callback
 *                              issuing the next call (-I main: the main
 *                              thread issues them, as in bulk)
 *
 * Options:
 *   -c CIPHERLIST  EMPTY (plain), AUTHONLY (default), AES128-GCM-SHA256, ...
 *   -S SIZE        payload bytes (bulk default 1 MiB, rtt default 64)
 *   -d DEPTH       calls in flight (bulk default 8, rtt default 1)
 *   -t SECONDS     measured time (default 4)
 *   -w SECONDS     warm-up before it (default 0.5)
 *   -H inline|worker   server handler: NET_H_INLINE or the worker pool
 *   -I main|callback   who issues pipelined calls (see above)
 *   -i N, -W N     I/O threads, worker threads on both nodes (1, 4)
 *   -a IP, -b IP   client and server addresses
 *
 * Output: one line "rpc_bench: key=value ..." (test, sec, size, depth,
 * handler, issuer, seconds, calls, bytes, rate (calls/s), mbps (10^6
 * bytes/s), lat_us (mean per call), cpu_client, cpu_server (% of one CPU
 * over the measured window), cpu_us (CPU time of both processes per
 * call, microseconds: less sensitive to other load than the rates)).
 * All figures are measured; exit status 0 only if every call in the
 * window succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/keys.h"
#include "net/net.h"
#include "bench/benchkit.h"

#define CLUSTER_ID 0x00BE4C4A12345678ull
#define CLIENT_NODE 1
#define SERVER_NODE 2
#define CALL_TIMEOUT_MS 30000

enum {
	T_SINK_INLINE = 1,	/* reply empty */
	T_SINK_WORKER,
	T_ECHO_INLINE,		/* reply with the request's payload */
	T_ECHO_WORKER,
};

static struct opts {
	bool bulk;
	const char *cipherlist;
	size_t size;
	int depth;
	double secs, warm;
	bool worker;		/* -H worker */
	bool cb_issuer;		/* -I callback */
	int io_threads, workers;
	const char *client_ip, *server_ip;
} o;

static char dir[] = "/tmp/rpc_bench.XXXXXX";
static char ca_crt[64], ca_key[64], n_key[3][64], n_crt[3][64];

static void die(const char *what, int rc)
{
	fprintf(stderr, "rpc_bench: %s: %s\n", what, rc ? mm_strerror(rc) : strerror(errno));
	exit(1);
}

/* ---- keys ------------------------------------------------------------- */

static void keys_make(void)
{
	char err[512];
	const char *ips[3] = {NULL, o.client_ip, o.server_ip};
	int rc;

	if (!mkdtemp(dir))
		die("mkdtemp", 0);
	snprintf(ca_key, sizeof(ca_key), "%s/cluster.key", dir);
	snprintf(ca_crt, sizeof(ca_crt), "%s/cluster.crt", dir);
	rc = net_keys_gen_cluster(dir, "rpcbench", err, sizeof(err));
	if (rc) {
		fprintf(stderr, "rpc_bench: cluster key: %s\n", err);
		exit(1);
	}
	for (int n = 1; n <= 2; n++) {
		snprintf(n_key[n], sizeof(n_key[n]), "%s/node%d.key", dir, n);
		snprintf(n_crt[n], sizeof(n_crt[n]), "%s/node%d.crt", dir, n);
		rc = net_keys_issue_node(ca_key, ca_crt, ips[n], n_key[n], n_crt[n], err,
					 sizeof(err));
		if (rc) {
			fprintf(stderr, "rpc_bench: node certificate: %s\n", err);
			exit(1);
		}
	}
}

static void keys_remove(void)
{
	const char *files[] = {ca_key, ca_crt, n_key[1], n_crt[1], n_key[2], n_crt[2]};

	for (size_t i = 0; i < MM_ARRAY_SIZE(files); i++)
		if (files[i][0])
			unlink(files[i]);
	rmdir(dir);
}

static net_ctx *ctx_make(uint32_t node, const char *ip)
{
	struct net_config cfg = {0};
	enum net_security sec;
	char ciphers[256];
	net_ctx *ctx;
	int rc;

	rc = net_parse_cipherlist(o.cipherlist, &sec, ciphers, sizeof(ciphers));
	if (rc)
		die("cipherList", rc);
	cfg.node_id = node;
	cfg.cluster_id = CLUSTER_ID;
	cfg.listen_addr = ip;
	cfg.port = 0;
	cfg.io_threads = o.io_threads;
	cfg.worker_threads = o.workers;
	cfg.max_payload = 64u << 20;
	cfg.security = sec;
	cfg.ciphers = ciphers;
	cfg.ca_file = ca_crt;
	cfg.cert_file = n_crt[node];
	cfg.key_file = n_key[node];
	cfg.connect_timeout_ms = 5000;
	rc = net_create(&cfg, &ctx);
	if (rc)
		die("net_create", rc);
	return ctx;
}

/* ---- server (child process) ------------------------------------------ */

static void h_sink(net_req *req, void *arg)
{
	(void)arg;
	net_reply(req, MM_OK, NULL, 0);
}

static void h_echo(net_req *req, void *arg)
{
	size_t len;
	const void *p = net_req_data(req, &len);

	(void)arg;
	net_reply(req, MM_OK, p, len);
}

/* Serve until the parent closes <in>; the port goes out on <out>. */
static void server_main(int in, int out)
{
	net_ctx *ctx;
	uint16_t port;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	ctx = ctx_make(SERVER_NODE, o.server_ip);
	if (net_register(ctx, T_SINK_INLINE, h_sink, NULL, NET_H_INLINE) ||
	    net_register(ctx, T_SINK_WORKER, h_sink, NULL, 0) ||
	    net_register(ctx, T_ECHO_INLINE, h_echo, NULL, NET_H_INLINE) ||
	    net_register(ctx, T_ECHO_WORKER, h_echo, NULL, 0))
		die("net_register", MM_EINVAL);
	port = net_listen_port(ctx);
	if (write(out, &port, sizeof(port)) != sizeof(port))
		_exit(1);
	for (;;) {
		ssize_t n = read(in, &c, 1);

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	net_destroy(ctx);
	_exit(0);
}

/* ---- CPU accounting --------------------------------------------------- */

/* ---- client ----------------------------------------------------------- */

static net_ctx *cl;
static uint16_t call_type;
static uint8_t *payload;
static sem_t window;
static _Atomic uint64_t n_done, n_err, n_bad, n_out;
static atomic_bool stopping;
static atomic_int first_err;

static void count_reply(int status, size_t len)
{
	if (status < 0) {
		int zero = 0;

		atomic_compare_exchange_strong_explicit(&first_err, &zero, status,
							memory_order_relaxed, memory_order_relaxed);
		atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
	} else if (len != (o.bulk ? 0 : o.size)) {
		atomic_fetch_add_explicit(&n_bad, 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&n_done, 1, memory_order_release);
}

/* -I main: the main thread waits for a free slot in the window. */
static void cb_window(int status, const void *data, size_t len, void *arg)
{
	(void)data;
	(void)arg;
	count_reply(status, len);
	sem_post(&window);
}

/* -I callback: every reply issues the next call from the I/O thread. */
static void cb_chain(int status, const void *data, size_t len, void *arg)
{
	(void)data;
	(void)arg;
	count_reply(status, len);
	if (!atomic_load_explicit(&stopping, memory_order_acquire)) {
		int rc = net_call_async(cl, SERVER_NODE, call_type, payload, o.size,
					CALL_TIMEOUT_MS, cb_chain, NULL);

		if (rc == MM_OK)
			return;
		count_reply(rc, 0);
	}
	atomic_fetch_sub_explicit(&n_out, 1, memory_order_release);
}

struct snap {
	uint64_t ns, done;
	double cpu_c, cpu_s;
};

static void snap_take(struct snap *s, pid_t server, uint64_t done)
{
	s->ns = mm_now_ns();
	s->done = done;
	s->cpu_c = bench_cpu_secs(0);
	s->cpu_s = bench_cpu_secs(server);
}

static uint64_t secs_ns(double s)
{
	return (uint64_t)(s * 1e9);
}

/* net_call() in a loop. */
static void run_sync(pid_t server, struct snap *a, struct snap *b)
{
	uint64_t t_meas = mm_now_ns() + secs_ns(o.warm), t_end = 0, done = 0;
	bool meas = false;

	for (;;) {
		uint64_t now = mm_now_ns();
		void *rep = NULL;
		size_t rlen = 0;
		int rc;

		if (!meas && now >= t_meas) {
			snap_take(a, server, done);
			t_end = a->ns + secs_ns(o.secs);
			meas = true;
		} else if (meas && now >= t_end) {
			snap_take(b, server, done);
			return;
		}
		rc = net_call(cl, SERVER_NODE, call_type, payload, o.size, CALL_TIMEOUT_MS, &rep,
			      &rlen);
		if (rc < 0) {
			if (!atomic_load_explicit(&first_err, memory_order_relaxed))
				atomic_store_explicit(&first_err, rc, memory_order_relaxed);
			atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
		} else if (rlen != (o.bulk ? 0 : o.size) ||
			   (rlen && memcmp(rep, payload, rlen) != 0)) {
			atomic_fetch_add_explicit(&n_bad, 1, memory_order_relaxed);
		}
		free(rep);
		done++;
		atomic_store_explicit(&n_done, done, memory_order_relaxed);
	}
}

/* DEPTH calls in flight, issued by this thread. */
static void run_window(pid_t server, struct snap *a, struct snap *b)
{
	uint64_t t_meas = mm_now_ns() + secs_ns(o.warm), t_end = 0;
	bool meas = false;

	for (;;) {
		uint64_t now;
		int rc;

		while (sem_wait(&window) < 0 && errno == EINTR)
			;
		now = mm_now_ns();
		if (!meas && now >= t_meas) {
			snap_take(a, server, atomic_load_explicit(&n_done, memory_order_acquire));
			t_end = a->ns + secs_ns(o.secs);
			meas = true;
		} else if (meas && now >= t_end) {
			snap_take(b, server, atomic_load_explicit(&n_done, memory_order_acquire));
			sem_post(&window);
			break;
		}
		rc = net_call_async(cl, SERVER_NODE, call_type, payload, o.size, CALL_TIMEOUT_MS,
				    cb_window, NULL);
		if (rc) {
			count_reply(rc, 0);
			sem_post(&window);
		}
	}
	/* drain: every slot back */
	for (int i = 0; i < o.depth; i++)
		while (sem_wait(&window) < 0 && errno == EINTR)
			;
}

/* DEPTH calls in flight, each reply callback issuing the next. */
static void run_chain(pid_t server, struct snap *a, struct snap *b)
{
	uint64_t t0 = mm_now_ns(), deadline;

	atomic_store_explicit(&n_out, (uint64_t)o.depth, memory_order_release);
	for (int i = 0; i < o.depth; i++) {
		int rc = net_call_async(cl, SERVER_NODE, call_type, payload, o.size,
					CALL_TIMEOUT_MS, cb_chain, NULL);

		if (rc) {
			count_reply(rc, 0);
			atomic_fetch_sub_explicit(&n_out, 1, memory_order_release);
		}
	}
	bench_sleep_until(t0 + secs_ns(o.warm));
	snap_take(a, server, atomic_load_explicit(&n_done, memory_order_acquire));
	bench_sleep_until(a->ns + secs_ns(o.secs));
	snap_take(b, server, atomic_load_explicit(&n_done, memory_order_acquire));
	atomic_store_explicit(&stopping, true, memory_order_release);
	deadline = mm_now_ns() + (uint64_t)CALL_TIMEOUT_MS * 2000000u;
	while (atomic_load_explicit(&n_out, memory_order_acquire) && mm_now_ns() < deadline)
		mm_sleep_ms(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rpc_bench bulk|rtt [-c cipherList] [-S size] [-d depth] [-t secs]\n"
		"       [-w warmup] [-H inline|worker] [-I main|callback] [-i io_threads]\n"
		"       [-W workers] [-a client_ip] [-b server_ip]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int to_child[2], from_child[2], opt, status, rc;
	struct snap a = {0}, b = {0};
	uint16_t port;
	pid_t pid;
	double el, mbps;
	uint64_t calls, e, bad;
	const char *issuer;

	if (argc < 2 || (strcmp(argv[1], "bulk") && strcmp(argv[1], "rtt")))
		usage();
	o.bulk = !strcmp(argv[1], "bulk");
	o.cipherlist = "AUTHONLY";
	o.size = o.bulk ? 1u << 20 : 64;
	o.depth = o.bulk ? 8 : 1;
	o.secs = 4;
	o.warm = 0.5;
	o.io_threads = 1;
	o.workers = 4;
	o.client_ip = "127.0.9.11";
	o.server_ip = "127.0.9.12";
	o.cb_issuer = !o.bulk;
	optind = 2;
	while ((opt = getopt(argc, argv, "c:S:d:t:w:H:I:i:W:a:b:")) != -1) {
		uint64_t v;

		switch (opt) {
		case 'c': o.cipherlist = optarg; break;
		case 'S':
			if (mm_parse_size(optarg, &v) || v > (32u << 20))
				usage();
			o.size = v;
			break;
		case 'd': o.depth = atoi(optarg); break;
		case 't': o.secs = atof(optarg); break;
		case 'w': o.warm = atof(optarg); break;
		case 'H': o.worker = !strcmp(optarg, "worker"); break;
		case 'I': o.cb_issuer = !strcmp(optarg, "callback"); break;
		case 'i': o.io_threads = atoi(optarg); break;
		case 'W': o.workers = atoi(optarg); break;
		case 'a': o.client_ip = optarg; break;
		case 'b': o.server_ip = optarg; break;
		default: usage();
		}
	}
	if (o.depth < 1 || o.secs <= 0 || o.warm < 0 || o.io_threads < 1 || o.workers < 1)
		usage();
	mm_log_set_level(MM_LOG_WARN);
	keys_make();

	if (pipe(to_child) || pipe(from_child))
		die("pipe", 0);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork", 0);
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		server_main(to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (read(from_child[0], &port, sizeof(port)) != sizeof(port)) {
		fprintf(stderr, "rpc_bench: server did not start\n");
		waitpid(pid, NULL, 0);
		keys_remove();
		return 1;
	}

	cl = ctx_make(CLIENT_NODE, o.client_ip);
	rc = net_peer_set(cl, SERVER_NODE, o.server_ip, port);
	if (rc)
		die("net_peer_set", rc);
	payload = malloc(o.size ? o.size : 1);
	if (!payload)
		die("malloc", MM_ENOMEM);
	for (size_t i = 0; i < o.size; i++)
		payload[i] = (uint8_t)(i * 2654435761u >> 13);
	call_type = o.bulk ? (o.worker ? T_SINK_WORKER : T_SINK_INLINE)
			   : (o.worker ? T_ECHO_WORKER : T_ECHO_INLINE);
	/* connect (and handshake) outside the measurement */
	rc = net_call(cl, SERVER_NODE, T_SINK_INLINE, NULL, 0, 10000, NULL, NULL);
	if (rc < 0)
		die("first call", rc);

	if (o.depth == 1) {
		issuer = "sync";
		run_sync(pid, &a, &b);
	} else if (o.cb_issuer) {
		issuer = "callback";
		run_chain(pid, &a, &b);
	} else {
		issuer = "main";
		sem_init(&window, 0, (unsigned)o.depth);
		run_window(pid, &a, &b);
	}

	net_destroy(cl);
	close(to_child[1]);	/* the server's cue to stop */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	keys_remove();

	el = (double)(b.ns - a.ns) / 1e9;
	calls = b.done - a.done;
	mbps = (double)calls * (double)o.size / el / 1e6;
	e = atomic_load_explicit(&n_err, memory_order_relaxed);
	bad = atomic_load_explicit(&n_bad, memory_order_relaxed);
	printf("rpc_bench: test=%s sec=%s size=%zu depth=%d handler=%s issuer=%s seconds=%.3f "
	       "calls=%llu bytes=%llu rate=%.0f mbps=%.1f lat_us=%.1f cpu_client=%.0f "
	       "cpu_server=%.0f cpu_us=%.1f errors=%llu\n",
	       o.bulk ? "bulk" : "rtt", o.cipherlist, o.size, o.depth,
	       o.worker ? "worker" : "inline", issuer, el, (unsigned long long)calls,
	       (unsigned long long)(calls * o.size), (double)calls / el, mbps,
	       calls ? el * 1e6 * o.depth / (double)calls : 0.0,
	       100 * (b.cpu_c - a.cpu_c) / el, 100 * (b.cpu_s - a.cpu_s) / el,
	       calls ? 1e6 * (b.cpu_c - a.cpu_c + b.cpu_s - a.cpu_s) / (double)calls : 0.0,
	       (unsigned long long)(e + bad));
	if (e || bad) {
		fprintf(stderr, "rpc_bench: %llu calls failed (first: %s), %llu bad replies\n",
			(unsigned long long)e,
			mm_strerror(atomic_load_explicit(&first_err, memory_order_relaxed)),
			(unsigned long long)bad);
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "rpc_bench: server exited abnormally (status %d)\n", status);
		return 1;
	}
	return calls ? 0 : 1;
}
