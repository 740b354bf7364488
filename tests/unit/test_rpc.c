/*
 * tests/unit/test_rpc.c - net/ end to end: several net_ctx in one process
 * on 127.0.9.1..4 (kernel-chosen ports), for each security mode (plain,
 * authonly, encrypted): sync and async calls, out-of-order replies,
 * timeouts and late replies, 1 MiB payloads, statuses, unknown types,
 * garbage and oversized frames, refused peers (other CA, other cluster),
 * connection drops, worker-queue overflow, diagnostics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "net/frame.h"
#include "net/keys.h"
#include "net/net.h"
#include "tests/unit/cunit_main.h"

#define CLUSTER 0x00C0FFEE12345678ull
#define IP1 "127.0.9.1"
#define IP2 "127.0.9.2"
#define IP3 "127.0.9.3"
#define IP4 "127.0.9.4"
#define MAXP (4u << 20)

enum {
	T_ECHO = 1,	/* worker: echo */
	T_ECHO_INLINE,	/* inline: echo */
	T_STATUS,	/* reply with the i32 status in the payload */
	T_DEFER,	/* stash; replied later in reverse order */
	T_NEVER,	/* stash; the test replies (late) itself */
	T_ONEWAY,	/* count */
	T_BLOCK,	/* block until released */
	T_UNKNOWN = 999,
};

static char dir[256];
static char logpath[300];
static enum net_security cur_sec;
static net_ctx *A, *B;
static uint16_t portA, portB;

/* ---- fixtures -------------------------------------------------------- */

static void f(char *buf, const char *name)
{
	snprintf(buf, 320, "%s/%s", dir, name);
}

static int make_keys(void)
{
	char err[512], ck[320], cc[320], k[320], c[320];
	const char *ips[] = {IP1, IP2, IP3, IP4};

	snprintf(dir, sizeof(dir), "/tmp/test_rpc.%d", (int)getpid());
	f(k, "c1");
	if (net_keys_gen_cluster(k, "cluster1", err, sizeof(err)))
		return -1;
	f(k, "c2");
	if (net_keys_gen_cluster(k, "cluster2", err, sizeof(err)))
		return -1;
	f(ck, "c1/cluster.key");
	f(cc, "c1/cluster.crt");
	for (int i = 0; i < 4; i++) {
		char kn[32], cn[32];

		snprintf(kn, sizeof(kn), "n%d.key", i + 1);
		snprintf(cn, sizeof(cn), "n%d.crt", i + 1);
		f(k, kn);
		f(c, cn);
		if (net_keys_issue_node(ck, cc, ips[i], k, c, err, sizeof(err)))
			return -1;
	}
	/* node 3 also has a certificate from another cluster's CA */
	f(ck, "c2/cluster.key");
	f(cc, "c2/cluster.crt");
	f(k, "bad3.key");
	f(c, "bad3.crt");
	if (net_keys_issue_node(ck, cc, IP3, k, c, err, sizeof(err)))
		return -1;
	return 0;
}

static char ca1[320], ca2[320], keyf[5][320], crtf[5][320], badk[320], badc[320];
static uint32_t mk_maxp = MAXP;	/* max_payload of the next mk() */
static const char *mk_suites = "TLS_AES_128_GCM_SHA256";	/* ENCRYPT ciphers of mk() */

static net_ctx *mk(uint32_t node, const char *ip, enum net_security sec, bool bad_ca,
		   uint64_t cluster, int workers, uint32_t queue)
{
	struct net_config cfg = {
		.node_id = node,
		.cluster_id = cluster,
		.listen_addr = ip,
		.port = 0,
		.io_threads = 2,
		.worker_threads = workers,
		.worker_queue = queue,
		.max_payload = mk_maxp,
		.security = sec,
		.ciphers = sec == NET_SEC_ENCRYPT ? mk_suites : "",
		.ca_file = bad_ca ? ca2 : ca1,
		.cert_file = bad_ca ? badc : crtf[node],
		.key_file = bad_ca ? badk : keyf[node],
		.connect_timeout_ms = 3000,
	};
	net_ctx *ctx = NULL;

	if (net_create(&cfg, &ctx) != MM_OK)
		return NULL;
	return ctx;
}

/* stashed requests */
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t st_cond = PTHREAD_COND_INITIALIZER;
static net_req *stash[1024];
static int nstash;
static net_req *never[64];
static int nnever;
static int oneways;
static bool block_release;
static int blocked_running;

static void h_echo(net_req *req, void *arg)
{
	size_t len;
	const void *d = net_req_data(req, &len);

	(void)arg;
	net_reply(req, 0, d, len);
}

static void h_status(net_req *req, void *arg)
{
	size_t len;
	const uint8_t *d = net_req_data(req, &len);
	int32_t st = len >= 4 ? (int32_t)mm_be32_get(d) : MM_EINVAL;

	(void)arg;
	net_reply(req, st, "why", 3);
}

static void h_defer(net_req *req, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&st_lock);
	stash[nstash++] = req;
	pthread_cond_broadcast(&st_cond);
	pthread_mutex_unlock(&st_lock);
}

static void h_never(net_req *req, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&st_lock);
	never[nnever++] = req;
	pthread_cond_broadcast(&st_cond);
	pthread_mutex_unlock(&st_lock);
}

static void h_oneway(net_req *req, void *arg)
{
	(void)arg;
	CU_ASSERT_TRUE(net_req_oneway(req));
	pthread_mutex_lock(&st_lock);
	oneways++;
	pthread_cond_broadcast(&st_cond);
	pthread_mutex_unlock(&st_lock);
}

static void h_block(net_req *req, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&st_lock);
	blocked_running++;
	pthread_cond_broadcast(&st_cond);
	while (!block_release)
		pthread_cond_wait(&st_cond, &st_lock);
	pthread_mutex_unlock(&st_lock);
	net_reply(req, 0, NULL, 0);
}

/* Not CU_ASSERT: also called from suite init, outside any test. */
static int reg_all(net_ctx *c)
{
	if (net_register(c, T_ECHO, h_echo, NULL, 0) ||
	    net_register(c, T_ECHO_INLINE, h_echo, NULL, NET_H_INLINE) ||
	    net_register(c, T_STATUS, h_status, NULL, 0) ||
	    net_register(c, T_DEFER, h_defer, NULL, NET_H_INLINE) ||
	    net_register(c, T_NEVER, h_never, NULL, 0) ||
	    net_register(c, T_ONEWAY, h_oneway, NULL, 0) ||
	    net_register(c, T_BLOCK, h_block, NULL, 0) ||
	    net_register(c, T_ECHO, h_echo, NULL, 0) != MM_EEXIST) {
		fprintf(stderr, "net_register failed\n");
		return -1;
	}
	return 0;
}

/* Wait until *<counter> >= <n> (st_lock), at most <ms>. */
static bool wait_count(int *counter, int n, int ms)
{
	uint64_t end = mm_now_ms() + (uint64_t)ms;
	bool ok;

	pthread_mutex_lock(&st_lock);
	while (*counter < n && mm_now_ms() < end) {
		pthread_mutex_unlock(&st_lock);
		mm_sleep_ms(2);
		pthread_mutex_lock(&st_lock);
	}
	ok = *counter >= n;
	pthread_mutex_unlock(&st_lock);
	return ok;
}

static int suite_init(enum net_security sec)
{
	cur_sec = sec;
	A = mk(1, IP1, sec, false, CLUSTER, 4, 0);
	B = mk(2, IP2, sec, false, CLUSTER, 4, 0);
	if (!A || !B)
		return -1;
	if (reg_all(A) || reg_all(B))
		return -1;
	portA = net_listen_port(A);
	portB = net_listen_port(B);
	if (!portA || !portB)
		return -1;
	if (net_peer_set(A, 2, IP2, portB) || net_peer_set(B, 1, IP1, portA))
		return -1;
	return 0;
}

static int suite_clean(void)
{
	net_destroy(A);
	net_destroy(B);
	A = B = NULL;
	return 0;
}

static int global_init(void);
static int init_plain(void) { return global_init() ? -1 : suite_init(NET_SEC_PLAIN); }
static int init_auth(void) { return suite_init(NET_SEC_AUTHONLY); }
static int init_enc(void) { return suite_init(NET_SEC_ENCRYPT); }

static const char *sec_label(void)
{
	return cur_sec == NET_SEC_ENCRYPT ? "encrypt" : cur_sec == NET_SEC_AUTHONLY ? "authonly" : "plain";
}

/* ---- tests, run once per security mode -------------------------------- */

static void test_sync(void)
{
	void *r = NULL;
	size_t rl = 0;
	uint64_t t0;
	int n = 2000;

	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, "hello", 5, 5000, &r, &rl), 0);
	CU_ASSERT_EQUAL(rl, 5);
	CU_ASSERT_TRUE(r && memcmp(r, "hello", 5) == 0);
	free(r);
	/* the other way, over the same or a second connection */
	CU_ASSERT_EQUAL(net_call(B, 1, T_ECHO_INLINE, "back", 4, 5000, &r, &rl), 0);
	CU_ASSERT_TRUE(rl == 4 && r && memcmp(r, "back", 4) == 0);
	free(r);
	/* empty request and reply */
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, NULL, 0, 5000, &r, &rl), 0);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(rl, 0);
	/* unknown peer */
	CU_ASSERT_EQUAL(net_call(A, 77, T_ECHO, "x", 1, 1000, NULL, NULL), MM_EUNREACH);
	/* a quick rate figure: small synchronous round trips, inline handler */
	t0 = mm_now_ns();
	for (int i = 0; i < n; i++) {
		uint32_t v = (uint32_t)i;

		if (net_call(A, 2, T_ECHO_INLINE, &v, 4, 5000, &r, &rl) != 0 || rl != 4 ||
		    memcmp(r, &v, 4) != 0) {
			CU_FAIL("sync echo");
			free(r);
			break;
		}
		free(r);
	}
	printf("\n    [%s] %d sync round trips (inline): %.0f/s", sec_label(), n,
	       n * 1e9 / (double)(mm_now_ns() - t0));
	t0 = mm_now_ns();
	for (int i = 0; i < n; i++) {
		if (net_call(A, 2, T_ECHO, &i, 4, 5000, NULL, NULL) != 0) {
			CU_FAIL("sync echo worker");
			break;
		}
	}
	printf("; (worker pool): %.0f/s ", n * 1e9 / (double)(mm_now_ns() - t0));
}

#define NASYNC 200
struct acall {
	int idx;
	int status;
	int calls;
	bool match;
};
static struct acall acalls[NASYNC];
static int adone;

static void async_cb(int status, const void *data, size_t len, void *arg)
{
	struct acall *a = arg;
	uint32_t want = (uint32_t)a->idx * 3 + 1;

	pthread_mutex_lock(&st_lock);
	a->status = status;
	a->calls++;
	a->match = len == 4 && data && mm_be32_get(data) == want;
	adone++;
	pthread_mutex_unlock(&st_lock);
}

static void *reply_reverse(void *arg)
{
	int n = *(int *)arg;

	for (int i = n - 1; i >= 0; i--) {
		net_req *req;
		size_t len;
		const uint8_t *d;
		uint8_t out[4];

		pthread_mutex_lock(&st_lock);
		req = stash[i];
		stash[i] = NULL;
		pthread_mutex_unlock(&st_lock);
		d = net_req_data(req, &len);
		mm_be32_put(out, len == 4 ? mm_be32_get(d) * 3 + 1 : 0);
		CU_ASSERT_EQUAL(net_reply(req, 0, out, 4), MM_OK);
	}
	return NULL;
}

static void test_async_out_of_order(void)
{
	pthread_t t;
	int n = NASYNC, ok = 0;

	pthread_mutex_lock(&st_lock);
	nstash = 0;
	adone = 0;
	memset(acalls, 0, sizeof(acalls));
	pthread_mutex_unlock(&st_lock);
	for (int i = 0; i < n; i++) {
		uint8_t p[4];

		acalls[i].idx = i;
		mm_be32_put(p, (uint32_t)i);
		CU_ASSERT_EQUAL(net_call_async(A, 2, T_DEFER, p, 4, 10000, async_cb, &acalls[i]), MM_OK);
	}
	CU_ASSERT_TRUE_FATAL(wait_count(&nstash, n, 5000));
	/* replies come from another thread, last request first */
	pthread_create(&t, NULL, reply_reverse, &n);
	CU_ASSERT_TRUE(wait_count(&adone, n, 5000));
	pthread_join(t, NULL);
	mm_sleep_ms(20);
	pthread_mutex_lock(&st_lock);
	for (int i = 0; i < n; i++)
		ok += acalls[i].calls == 1 && acalls[i].status == 0 && acalls[i].match;
	CU_ASSERT_EQUAL(adone, n);
	pthread_mutex_unlock(&st_lock);
	CU_ASSERT_EQUAL(ok, n);
}

static void test_timeout_late_reply(void)
{
	uint64_t t0;
	void *r = NULL;
	size_t rl;
	int rc;

	pthread_mutex_lock(&st_lock);
	nnever = 0;
	pthread_mutex_unlock(&st_lock);
	t0 = mm_now_ms();
	rc = net_call(A, 2, T_NEVER, "zz", 2, 200, &r, &rl);
	CU_ASSERT_EQUAL(rc, MM_ETIMEDOUT);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_TRUE(mm_now_ms() - t0 >= 190 && mm_now_ms() - t0 < 2000);
	CU_ASSERT_TRUE(wait_count(&nnever, 1, 2000));
	/* the late reply goes out and is dropped by the caller's side */
	pthread_mutex_lock(&st_lock);
	if (nnever > 0)
		CU_ASSERT_EQUAL(net_reply(never[--nnever], 0, "late", 4), MM_OK);
	pthread_mutex_unlock(&st_lock);
	mm_sleep_ms(50);
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, "still", 5, 5000, &r, &rl), 0);
	CU_ASSERT_TRUE(rl == 5 && r && memcmp(r, "still", 5) == 0);
	free(r);
}

static void test_big_payload(void)
{
	size_t n = 1u << 20, rl = 0;
	uint8_t *p = malloc(n);
	void *r = NULL;
	uint64_t t0;
	int iters = 16;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + (i >> 11));
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, p, n, 10000, &r, &rl), 0);
	CU_ASSERT_EQUAL(rl, n);
	CU_ASSERT_TRUE(r && memcmp(r, p, n) == 0);
	free(r);
	/* inline handler, other direction */
	CU_ASSERT_EQUAL(net_call(B, 1, T_ECHO_INLINE, p, n, 10000, &r, &rl), 0);
	CU_ASSERT_TRUE(rl == n && r && memcmp(r, p, n) == 0);
	free(r);
	t0 = mm_now_ns();
	for (int i = 0; i < iters; i++) {
		p[i] ^= 0x5a;
		if (net_call(A, 2, T_ECHO, p, n, 10000, &r, &rl) != 0 || rl != n ||
		    memcmp(r, p, n) != 0)
			CU_FAIL("1 MiB echo");
		free(r);
	}
	printf("\n    [%s] 1 MiB echo: %.0f MB/s each way ", sec_label(),
	       iters * (double)n / 1e6 / ((double)(mm_now_ns() - t0) / 1e9));
	/* over the limit: refused locally */
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, p, MAXP + 1, 1000, NULL, NULL), MM_ETOOBIG);
	free(p);
}

/* Several threads, mixed sizes, both directions, inline and pool echo:
 * frames must never interleave, whatever partial writes and queueing. */
struct mixarg {
	int t;
	int ok, n;
};

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void *mix_caller(void *p)
{
	static const size_t sizes[] = {0, 100, 20000, 300000, 1u << 20, 65536, 17};
	struct mixarg *a = p;
	uint8_t *buf = malloc(1u << 20);

	for (int i = 0; i < a->n; i++) {
		size_t n = sizes[(size_t)(i + a->t) % MM_ARRAY_SIZE(sizes)], rl = 0;
		net_ctx *from = (i + a->t) % 3 ? A : B;
		uint32_t to = from == A ? 2 : 1;
		void *r = NULL;

		fill(buf, n, (unsigned)(a->t * 1000 + i));
		if (net_call(from, to, i % 2 ? T_ECHO_INLINE : T_ECHO, buf, n, 20000, &r, &rl) == 0 &&
		    rl == n && (n == 0 || memcmp(r, buf, n) == 0))
			a->ok++;
		free(r);
	}
	free(buf);
	return NULL;
}

static int mix_async_ok;

static void mix_async_cb(int status, const void *data, size_t len, void *arg)
{
	uintptr_t v = (uintptr_t)arg;

	pthread_mutex_lock(&st_lock);
	if (status == 0 && len == sizeof(v) && memcmp(data, &v, sizeof(v)) == 0)
		mix_async_ok++;
	pthread_mutex_unlock(&st_lock);
}

/* Async calls and oneways on the same connections, so that callers that
 * read their own replies meet frames they must hand back. */
static void *mix_async(void *p)
{
	int *n = p;

	for (uintptr_t i = 0; i < (uintptr_t)*n; i++) {
		net_ctx *from = i % 2 ? A : B;

		if (net_call_async(from, from == A ? 2 : 1, T_ECHO_INLINE, &i, sizeof(i), 20000,
				   mix_async_cb, (void *)i) != MM_OK)
			CU_FAIL("net_call_async");
		if (net_send_oneway(from, from == A ? 2 : 1, T_ONEWAY, "o", 1) != MM_OK)
			CU_FAIL("net_send_oneway");
		if (i % 8 == 0)
			mm_sleep_ms(1);
	}
	return NULL;
}

static void test_concurrent_mixed(void)
{
	struct mixarg a[4];
	pthread_t t[4], ta;
	int nasync = 200;

	pthread_mutex_lock(&st_lock);
	mix_async_ok = 0;
	oneways = 0;
	pthread_mutex_unlock(&st_lock);
	pthread_create(&ta, NULL, mix_async, &nasync);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct mixarg){.t = i, .n = 14};
		pthread_create(&t[i], NULL, mix_caller, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(a[i].ok, a[i].n);
	}
	pthread_join(ta, NULL);
	CU_ASSERT_TRUE(wait_count(&mix_async_ok, nasync, 10000));
	CU_ASSERT_TRUE(wait_count(&oneways, nasync, 10000));
}

static void test_status_and_unknown(void)
{
	uint8_t p[4];
	void *r = NULL;
	size_t rl;

	mm_be32_put(p, (uint32_t)MM_EPERM);
	CU_ASSERT_EQUAL(net_call(A, 2, T_STATUS, p, 4, 5000, &r, &rl), MM_EPERM);
	CU_ASSERT_PTR_NULL(r);	/* no reply data on error */
	mm_be32_put(p, 7);
	CU_ASSERT_EQUAL(net_call(A, 2, T_STATUS, p, 4, 5000, &r, &rl), 7);
	CU_ASSERT_TRUE(rl == 3 && r && memcmp(r, "why", 3) == 0);
	free(r);
	CU_ASSERT_EQUAL(net_call(A, 2, T_UNKNOWN, "?", 1, 5000, NULL, NULL), MM_ENOTSUP);
	/* oneway: no reply, handler runs */
	pthread_mutex_lock(&st_lock);
	oneways = 0;
	pthread_mutex_unlock(&st_lock);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(net_send_oneway(A, 2, T_ONEWAY, "o", 1), MM_OK);
	CU_ASSERT_EQUAL(net_send_oneway(A, 2, T_UNKNOWN, "o", 1), MM_OK);
	CU_ASSERT_TRUE(wait_count(&oneways, 10, 3000));
}

/* Connect a raw TCP socket to <ip>:<port>. */
static int raw_connect(const char *ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* True if the server closes <fd> within <ms>. */
static bool closed_by_peer(int fd, int ms)
{
	uint64_t end = mm_now_ms() + (uint64_t)ms;
	char buf[4096];

	while (mm_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

static void test_garbage_peer(void)
{
	char junk[200];
	int fd;
	void *r = NULL;
	size_t rl;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 13 + 7);
	fd = raw_connect(IP2, portB);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	CU_ASSERT_TRUE(closed_by_peer(fd, 3000));
	close(fd);
	/* a peer that says nothing at all is dropped at the handshake deadline;
	 * meanwhile the others are served */
	fd = raw_connect(IP2, portB);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, "ok", 2, 5000, &r, &rl), 0);
	free(r);
	close(fd);

	if (cur_sec == NET_SEC_PLAIN) {
		/* a valid hello, then frames that must close the connection */
		uint8_t buf[512], hb[NET_HELLO_MAX_LEN];
		struct net_hello h = {.node_id = 9, .cluster_id = CLUSTER, .security = NET_SEC_PLAIN};
		size_t n = net_hello_encode(&h, hb, sizeof(hb));
		struct net_frame_hdr fh;
		const uint8_t *pl;
		ssize_t got;
		int rc;

		for (int variant = 0; variant < 3; variant++) {
			fd = raw_connect(IP2, portB);
			CU_ASSERT_TRUE_FATAL(fd >= 0);
			net_frame_build(buf, NET_K_HELLO, 0, 0, 0, hb, (uint32_t)n);
			memcpy(buf + NET_FRAME_HDR_LEN, hb, n);
			CU_ASSERT_EQUAL(write(fd, buf, NET_FRAME_HDR_LEN + n), (ssize_t)(NET_FRAME_HDR_LEN + n));
			got = read(fd, buf, sizeof(buf));
			CU_ASSERT_TRUE(got >= NET_FRAME_HDR_LEN);
			rc = got > 0 ? net_frame_decode(buf, (size_t)got, 1024, &fh, &pl) : -1;
			CU_ASSERT_TRUE(rc > 0);
			CU_ASSERT_TRUE(rc > 0 && fh.kind == NET_K_HELLO_ACK && fh.status == 0);
			if (variant == 0) {	/* oversized */
				net_frame_build(buf, NET_K_REQUEST, T_ECHO, 0, 1, NULL, 0);
				mm_be32_put(buf + 20, MAXP + 1);
				mm_be32_put(buf + 28, mm_crc32c_bulk(0, buf, 28));
			} else if (variant == 1) {	/* bad payload checksum */
				net_frame_build(buf, NET_K_REQUEST, T_ECHO, 0, 1, "abcd", 4);
				memcpy(buf + NET_FRAME_HDR_LEN, "abce", 4);
			} else {	/* a second hello */
				net_frame_build(buf, NET_K_HELLO, 0, 0, 0, hb, (uint32_t)n);
				memcpy(buf + NET_FRAME_HDR_LEN, hb, n);
			}
			CU_ASSERT_TRUE(write(fd, buf, NET_FRAME_HDR_LEN + (variant == 1 ? 4 : variant == 2 ? n : 0)) > 0);
			CU_ASSERT_TRUE(closed_by_peer(fd, 3000));
			close(fd);
		}
		/* a hello from another cluster is refused with a reason */
		fd = raw_connect(IP2, portB);
		h.cluster_id = CLUSTER + 1;
		n = net_hello_encode(&h, hb, sizeof(hb));
		net_frame_build(buf, NET_K_HELLO, 0, 0, 0, hb, (uint32_t)n);
		memcpy(buf + NET_FRAME_HDR_LEN, hb, n);
		CU_ASSERT_EQUAL(write(fd, buf, NET_FRAME_HDR_LEN + n), (ssize_t)(NET_FRAME_HDR_LEN + n));
		got = read(fd, buf, sizeof(buf));
		rc = got > 0 ? net_frame_decode(buf, (size_t)got, 1024, &fh, &pl) : -1;
		CU_ASSERT_TRUE_FATAL(rc > 0);
		CU_ASSERT_EQUAL(fh.status, MM_EAUTH);
		CU_ASSERT_EQUAL(net_hello_decode(pl, fh.len, &h), MM_OK);
		CU_ASSERT_PTR_NOT_NULL(strstr(h.reason, "cluster id"));
		CU_ASSERT_TRUE(closed_by_peer(fd, 3000));
		close(fd);
	}
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, "ok", 2, 5000, &r, &rl), 0);
	free(r);
}

static bool log_has(const char *needle)
{
	char *text = NULL;
	size_t len;
	bool found;

	if (mm_read_file(logpath, 64u << 20, &text, &len))
		return false;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

static void test_refused_peers(void)
{
	net_ctx *C;
	char needle[128];
	int rc;

	/* node 3 with another cluster's CA (TLS), or another cluster id */
	if (cur_sec == NET_SEC_PLAIN)
		C = mk(3, IP3, cur_sec, false, CLUSTER + 1, 2, 0);
	else
		C = mk(3, IP3, cur_sec, true, CLUSTER, 2, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(C);
	CU_ASSERT_EQUAL(reg_all(C), 0);
	CU_ASSERT_EQUAL(net_peer_set(A, 3, IP3, net_listen_port(C)), MM_OK);
	CU_ASSERT_EQUAL(net_peer_set(C, 1, IP1, portA), MM_OK);
	rc = net_call(A, 3, T_ECHO, "x", 1, 5000, NULL, NULL);
	if (rc != MM_EAUTH)
		printf("\n  call to a refused peer: %s\n", mm_errname(rc));
	CU_ASSERT_TRUE(rc == MM_EAUTH || rc == MM_EUNREACH);
	rc = net_call(C, 1, T_ECHO, "x", 1, 5000, NULL, NULL);
	CU_ASSERT_TRUE(rc == MM_EAUTH || rc == MM_EUNREACH);
	/* refused again on the next call (it reconnects) */
	rc = net_call(A, 3, T_ECHO, "x", 1, 5000, NULL, NULL);
	CU_ASSERT_TRUE(rc == MM_EAUTH || rc == MM_EUNREACH);
	if (cur_sec != NET_SEC_PLAIN) {
		/* both sides logged why */
		snprintf(needle, sizeof(needle), "TLS handshake with %s:%u (node 3) failed: certificate verify failed",
			 IP3, net_listen_port(C));
		CU_ASSERT_TRUE(log_has(needle));
		CU_ASSERT_TRUE(log_has("TLS handshake with " IP1 ":"));
		CU_ASSERT_TRUE(log_has("failed: tlsv1 alert unknown ca"));
	} else {
		CU_ASSERT_TRUE(log_has("refusing connection from " IP1));
		CU_ASSERT_TRUE(log_has("refused our connection: cluster id"));
	}
	net_destroy(C);
	/* the good pair still works */
	CU_ASSERT_EQUAL(net_call(A, 2, T_ECHO, "x", 1, 5000, NULL, NULL), 0);
}

struct drop_cb {
	int status[16];
	int n;
};

static void drop_cb(int status, const void *data, size_t len, void *arg)
{
	struct drop_cb *d = arg;

	(void)data;
	(void)len;
	pthread_mutex_lock(&st_lock);
	d->status[d->n++] = status;
	pthread_mutex_unlock(&st_lock);
}

static void waiter_cb(uint32_t node, uint16_t type, uint64_t age_ms, void *arg)
{
	int *n = arg;

	if (node == 3 && type == T_NEVER && age_ms < 60000)
		(*n)++;
}

static void test_conn_drop(void)
{
	struct drop_cb a_side = {.n = 0}, d_side = {.n = 0};
	net_ctx *D = mk(3, IP3, cur_sec, false, CLUSTER, 2, 0);
	struct net_conn_info *ci = NULL;
	size_t nci = 0;
	int waiting = 0, late_rc;
	void *r = NULL;
	size_t rl;

	CU_ASSERT_PTR_NOT_NULL_FATAL(D);
	CU_ASSERT_EQUAL(reg_all(D), 0);
	pthread_mutex_lock(&st_lock);
	nnever = 0;
	pthread_mutex_unlock(&st_lock);
	CU_ASSERT_EQUAL(net_peer_set(A, 3, IP3, net_listen_port(D)), MM_OK);
	CU_ASSERT_EQUAL(net_peer_set(D, 1, IP1, portA), MM_OK);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(net_call_async(A, 3, T_NEVER, "a", 1, 20000, drop_cb, &a_side), MM_OK);
	CU_ASSERT_TRUE(wait_count(&nnever, 4, 5000));
	/* D's own calls to A, in flight when D goes away */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(net_call_async(D, 1, T_NEVER, "d", 1, 20000, drop_cb, &d_side), MM_OK);
	CU_ASSERT_TRUE(wait_count(&nnever, 7, 5000));

	/* diagnostics while calls wait */
	CU_ASSERT_EQUAL(net_conn_list(A, &ci, &nci), MM_OK);
	{
		bool up3 = false;

		for (size_t i = 0; i < nci; i++)
			if (ci[i].node_id == 3 && !strcmp(ci[i].state, "up") && ci[i].outbound &&
			    ci[i].calls_pending == 4 && ci[i].msgs_sent >= 4)
				up3 = true;
		CU_ASSERT_TRUE(up3);
	}
	free(ci);
	net_waiters(A, 0, waiter_cb, &waiting);
	CU_ASSERT_EQUAL(waiting, 4);
	waiting = 0;
	net_waiters(A, 100000, waiter_cb, &waiting);
	CU_ASSERT_EQUAL(waiting, 0);

	net_destroy(D);
	CU_ASSERT_TRUE(wait_count(&a_side.n, 4, 5000));
	CU_ASSERT_EQUAL(d_side.n, 3);	/* all failed before net_destroy returned */
	pthread_mutex_lock(&st_lock);
	for (int i = 0; i < a_side.n; i++)
		CU_ASSERT_EQUAL(a_side.status[i], MM_ECLOSED);
	for (int i = 0; i < d_side.n; i++)
		CU_ASSERT_EQUAL(d_side.status[i], MM_ESHUTDOWN);
	pthread_mutex_unlock(&st_lock);

	/* late replies: D's requests after D is gone, A's after the calls failed */
	pthread_mutex_lock(&st_lock);
	while (nnever > 0) {
		net_req *req = never[--nnever];

		late_rc = net_reply(req, 0, "late", 4);
		CU_ASSERT_TRUE(late_rc == MM_OK || late_rc == MM_ECLOSED);
	}
	pthread_mutex_unlock(&st_lock);

	/* node 3 is gone: refused; then it comes back on another port */
	late_rc = net_call(A, 3, T_ECHO, "x", 1, 3000, NULL, NULL);
	if (late_rc != MM_EUNREACH)
		printf("\n  call to a dead node: %s\n", mm_errname(late_rc));
	CU_ASSERT_EQUAL(late_rc, MM_EUNREACH);
	D = mk(3, IP3, cur_sec, false, CLUSTER, 2, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(D);
	CU_ASSERT_EQUAL(reg_all(D), 0);
	CU_ASSERT_EQUAL(net_peer_set(A, 3, IP3, net_listen_port(D)), MM_OK);
	CU_ASSERT_EQUAL(net_call(A, 3, T_ECHO, "back", 4, 5000, &r, &rl), 0);
	CU_ASSERT_TRUE(rl == 4 && r && memcmp(r, "back", 4) == 0);
	free(r);
	/* forget: in-flight calls fail MM_ECLOSED, then the node is unknown */
	a_side.n = 0;
	pthread_mutex_lock(&st_lock);
	nnever = 0;
	pthread_mutex_unlock(&st_lock);
	CU_ASSERT_EQUAL(net_call_async(A, 3, T_NEVER, "f", 1, 20000, drop_cb, &a_side), MM_OK);
	CU_ASSERT_TRUE(wait_count(&nnever, 1, 5000));
	net_peer_forget(A, 3);
	CU_ASSERT_TRUE(wait_count(&a_side.n, 1, 5000));
	CU_ASSERT_EQUAL(a_side.status[0], MM_ECLOSED);
	CU_ASSERT_EQUAL(net_call(A, 3, T_ECHO, "x", 1, 1000, NULL, NULL), MM_EUNREACH);
	net_destroy(D);
	pthread_mutex_lock(&st_lock);
	while (nnever > 0)
		net_reply(never[--nnever], 0, NULL, 0);
	pthread_mutex_unlock(&st_lock);
}

static void test_stats(void)
{
	struct net_type_stats *s = NULL;
	size_t n = 0;
	bool echo = false, served = false;

	CU_ASSERT_EQUAL(net_stats(A, &s, &n), MM_OK);
	for (size_t i = 0; i < n; i++) {
		if (s[i].type == T_ECHO && s[i].calls_sent > 0 && s[i].replies_ok > 0 &&
		    s[i].total_rtt_us > 0)
			echo = true;
		if (s[i].type == T_NEVER)
			CU_ASSERT_TRUE(s[i].timeouts >= 1);
	}
	free(s);
	CU_ASSERT_EQUAL(net_stats(B, &s, &n), MM_OK);
	for (size_t i = 0; i < n; i++)
		if (s[i].type == T_ECHO && s[i].requests_served > 0)
			served = true;
	free(s);
	CU_ASSERT_TRUE(echo);
	CU_ASSERT_TRUE(served);
}

/* ---- mode-independent tests (plain) ----------------------------------- */

static struct drop_cb busy;

static void test_worker_queue_full(void)
{
	net_ctx *E = mk(4, IP4, NET_SEC_PLAIN, false, CLUSTER, 1, 2);
	net_ctx *F = mk(3, IP3, NET_SEC_PLAIN, false, CLUSTER, 1, 0);
	int nbusy = 0, nok = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(E);
	CU_ASSERT_PTR_NOT_NULL_FATAL(F);
	CU_ASSERT_EQUAL(reg_all(E), 0);
	CU_ASSERT_EQUAL(net_peer_set(F, 4, IP4, net_listen_port(E)), MM_OK);
	pthread_mutex_lock(&st_lock);
	block_release = false;
	blocked_running = 0;
	pthread_mutex_unlock(&st_lock);
	busy.n = 0;
	/* one runs and blocks, two queue, the rest are answered MM_EBUSY */
	CU_ASSERT_EQUAL(net_call_async(F, 4, T_BLOCK, NULL, 0, 10000, drop_cb, &busy), MM_OK);
	CU_ASSERT_TRUE(wait_count(&blocked_running, 1, 3000));
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(net_call_async(F, 4, T_BLOCK, NULL, 0, 10000, drop_cb, &busy), MM_OK);
	CU_ASSERT_TRUE(wait_count(&busy.n, 3, 3000));
	pthread_mutex_lock(&st_lock);
	block_release = true;
	pthread_cond_broadcast(&st_cond);
	pthread_mutex_unlock(&st_lock);
	CU_ASSERT_TRUE(wait_count(&busy.n, 6, 3000));
	pthread_mutex_lock(&st_lock);
	for (int i = 0; i < busy.n; i++) {
		nbusy += busy.status[i] == MM_EBUSY;
		nok += busy.status[i] == 0;
	}
	pthread_mutex_unlock(&st_lock);
	CU_ASSERT_EQUAL(nbusy, 3);
	CU_ASSERT_EQUAL(nok, 3);
	net_destroy(F);
	net_destroy(E);
}

struct crossarg {
	net_ctx *ctx;
	uint32_t to;
	int ok;
};

static void *cross_caller(void *p)
{
	struct crossarg *a = p;

	for (int i = 0; i < 200; i++) {
		void *r = NULL;
		size_t rl;

		if (net_call(a->ctx, a->to, i % 2 ? T_ECHO : T_ECHO_INLINE, &i, sizeof(i), 5000, &r, &rl) == 0 &&
		    rl == sizeof(i) && memcmp(r, &i, sizeof(i)) == 0)
			a->ok++;
		free(r);
	}
	return NULL;
}

static void test_simultaneous_connect(void)
{
	net_ctx *E = mk(4, IP4, NET_SEC_AUTHONLY, false, CLUSTER, 2, 0);
	net_ctx *F = mk(3, IP3, NET_SEC_AUTHONLY, false, CLUSTER, 2, 0);
	struct crossarg a[4];
	pthread_t t[4];

	CU_ASSERT_PTR_NOT_NULL_FATAL(E);
	CU_ASSERT_PTR_NOT_NULL_FATAL(F);
	CU_ASSERT_EQUAL(reg_all(E), 0);
	CU_ASSERT_EQUAL(reg_all(F), 0);
	CU_ASSERT_EQUAL(net_peer_set(F, 4, IP4, net_listen_port(E)), MM_OK);
	CU_ASSERT_EQUAL(net_peer_set(E, 3, IP3, net_listen_port(F)), MM_OK);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct crossarg){i % 2 ? E : F, i % 2 ? 3 : 4, 0};
		pthread_create(&t[i], NULL, cross_caller, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(a[i].ok, 200);
	}
	net_destroy(F);
	net_destroy(E);
}

/* ENCRYPT records (net/xprt_aead.c): frames of every size class, one
 * record, several, not a multiple of anything, up to 64 MiB - 1. */
static void encrypt_sizes(const char *suites, size_t max, const char *xprt)
{
	static const size_t sizes[] = {0, 1, 16383, 16384, 16385, 65535, 65536, 65537,
				       1u << 20, (64u << 20) - 1};
	net_ctx *E, *F;
	uint8_t *p = malloc(64u << 20);
	char needle[64];

	mk_maxp = 64u << 20;
	mk_suites = suites;
	E = mk(4, IP4, NET_SEC_ENCRYPT, false, CLUSTER, 2, 0);
	F = mk(3, IP3, NET_SEC_ENCRYPT, false, CLUSTER, 2, 0);
	mk_maxp = MAXP;
	mk_suites = "TLS_AES_128_GCM_SHA256";
	CU_ASSERT_PTR_NOT_NULL_FATAL(E);
	CU_ASSERT_PTR_NOT_NULL_FATAL(F);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(reg_all(E), 0);
	CU_ASSERT_EQUAL(reg_all(F), 0);
	CU_ASSERT_EQUAL(net_peer_set(F, 4, IP4, net_listen_port(E)), MM_OK);
	CU_ASSERT_EQUAL(net_peer_set(E, 3, IP3, net_listen_port(F)), MM_OK);
	for (size_t i = 0; i < MM_ARRAY_SIZE(sizes) && sizes[i] <= max; i++) {
		size_t n = sizes[i], rl = 0;
		void *r = NULL;

		fill(p, n, (unsigned)i);
		CU_ASSERT_EQUAL(net_call(F, 4, i % 2 ? T_ECHO_INLINE : T_ECHO, p, n, 60000, &r, &rl), 0);
		CU_ASSERT_EQUAL(rl, n);
		CU_ASSERT_TRUE(n == 0 || (r && memcmp(r, p, n) == 0));
		free(r);
		r = NULL;
		if (n > (4u << 20))
			continue;
		CU_ASSERT_EQUAL(net_call(E, 3, T_ECHO, p, n, 60000, &r, &rl), 0);
		CU_ASSERT_TRUE(rl == n && (n == 0 || (r && memcmp(r, p, n) == 0)));
		free(r);
	}
	snprintf(needle, sizeof(needle), "to node 4 (%s:%u) up (encrypted, %s)", IP4,
		 net_listen_port(E), xprt);
	CU_ASSERT_TRUE(log_has(needle));
	free(p);
	net_destroy(F);
	net_destroy(E);
}

/* ENCRYPT records (net/xprt_aead.c): frames of every size class, one
 * record, several, not a multiple of anything, up to 64 MiB - 1; every
 * suite (CCM stays on TLS records). */
static void test_encrypt_sizes(void)
{
	encrypt_sizes("TLS_AES_128_GCM_SHA256", 64u << 20, "aead");
	encrypt_sizes("TLS_AES_256_GCM_SHA384", 1u << 20, "aead");
	encrypt_sizes("TLS_CHACHA20_POLY1305_SHA256", 1u << 20, "aead");
	encrypt_sizes("TLS_AES_128_CCM_SHA256", 1u << 20, "tls");
}

/* A TCP relay that flips one byte going to the server when armed. */
struct relay {
	int lfd;
	uint16_t port, dst_port;
	atomic_int arm;		/* corrupt the next chunk */
	atomic_int flipped;
	atomic_int stop;
	pthread_t t;
};

static void relay_pipe(struct relay *rl, int a, int b)
{
	uint8_t buf[65536];

	while (!atomic_load_explicit(&rl->stop, memory_order_acquire)) {
		struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};

		if (poll(pf, 2, 50) <= 0)
			continue;
		for (int k = 0; k < 2; k++) {
			ssize_t n, off = 0;

			if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[k].fd, buf, sizeof(buf));
			if (n <= 0)
				return;
			if (k == 0 && n > 64 && atomic_exchange_explicit(&rl->arm, 0,
									 memory_order_acq_rel)) {
				buf[n / 2] ^= 0x01;
				atomic_store_explicit(&rl->flipped, 1, memory_order_release);
			}
			while (off < n) {
				ssize_t w = write(k == 0 ? b : a, buf + off, (size_t)(n - off));

				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

static void *relay_main(void *arg)
{
	struct relay *rl = arg;

	while (!atomic_load_explicit(&rl->stop, memory_order_acquire)) {
		struct pollfd pf = {.fd = rl->lfd, .events = POLLIN};
		int a, b;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		a = accept(rl->lfd, NULL, NULL);
		if (a < 0)
			continue;
		b = raw_connect(IP4, rl->dst_port);
		if (b >= 0) {
			relay_pipe(rl, a, b);
			close(b);
		}
		close(a);
	}
	return NULL;
}

static void test_encrypt_corrupt(void)
{
	struct relay rl = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	net_ctx *E, *F, *G;
	size_t n = 1u << 20, len = 0;
	uint8_t *p = malloc(n);
	void *r = NULL;

	E = mk(4, IP4, NET_SEC_ENCRYPT, false, CLUSTER, 2, 0);
	F = mk(3, IP3, NET_SEC_ENCRYPT, false, CLUSTER, 2, 0);
	G = mk(2, IP2, NET_SEC_ENCRYPT, false, CLUSTER, 2, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(E);
	CU_ASSERT_PTR_NOT_NULL_FATAL(F);
	CU_ASSERT_PTR_NOT_NULL_FATAL(G);
	CU_ASSERT_EQUAL(reg_all(E), 0);
	rl.dst_port = net_listen_port(E);
	rl.lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, IP4, &sa.sin_addr);
	CU_ASSERT_EQUAL_FATAL(bind(rl.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CU_ASSERT_EQUAL_FATAL(listen(rl.lfd, 4), 0);
	getsockname(rl.lfd, (struct sockaddr *)&sa, &sl);
	rl.port = ntohs(sa.sin_port);
	pthread_create(&rl.t, NULL, relay_main, &rl);
	CU_ASSERT_EQUAL(net_peer_set(F, 4, IP4, rl.port), MM_OK);
	CU_ASSERT_EQUAL(net_peer_set(G, 4, IP4, rl.dst_port), MM_OK);
	fill(p, n, 77);

	CU_ASSERT_EQUAL(net_call(F, 4, T_ECHO, "hi", 2, 5000, &r, &len), 0);
	free(r);
	r = NULL;
	atomic_store_explicit(&rl.arm, 1, memory_order_release);
	CU_ASSERT_NOT_EQUAL(net_call(F, 4, T_ECHO, p, n, 5000, &r, &len), 0);
	free(r);
	r = NULL;
	CU_ASSERT_TRUE(atomic_load_explicit(&rl.flipped, memory_order_acquire));
	mm_sleep_ms(50);
	CU_ASSERT_TRUE(log_has("failed authentication"));
	/* E keeps serving others, and F again once it reconnects */
	CU_ASSERT_EQUAL(net_call(G, 4, T_ECHO, p, n, 5000, &r, &len), 0);
	CU_ASSERT_TRUE(len == n && r && memcmp(r, p, n) == 0);
	free(r);
	r = NULL;
	CU_ASSERT_EQUAL(net_call(F, 4, T_ECHO, p, n, 5000, &r, &len), 0);
	CU_ASSERT_TRUE(len == n && r && memcmp(r, p, n) == 0);
	free(r);
	atomic_store_explicit(&rl.stop, 1, memory_order_release);
	pthread_join(rl.t, NULL);
	close(rl.lfd);
	net_destroy(G);
	net_destroy(F);
	net_destroy(E);
	free(p);
}

static void test_bad_config(void)
{
	struct net_config cfg = {.node_id = 1, .io_threads = 1, .worker_threads = 1,
				 .security = NET_SEC_ENCRYPT, .ca_file = "/nonexistent/ca.crt",
				 .cert_file = crtf[1], .key_file = keyf[1]};
	net_ctx *c = NULL;

	CU_ASSERT_NOT_EQUAL(net_create(&cfg, &c), MM_OK);
	CU_ASSERT_PTR_NULL(c);
	cfg.ca_file = ca1;
	cfg.key_file = keyf[2];	/* does not match the certificate */
	CU_ASSERT_NOT_EQUAL(net_create(&cfg, &c), MM_OK);
	cfg.io_threads = 0;
	CU_ASSERT_EQUAL(net_create(&cfg, &c), MM_EINVAL);
	/* no listener: outbound only */
	cfg.io_threads = 1;
	cfg.key_file = keyf[1];
	CU_ASSERT_EQUAL(net_create(&cfg, &c), MM_OK);
	CU_ASSERT_EQUAL(net_listen_port(c), 0);
	net_destroy(c);
}

static int global_init(void)
{
	if (make_keys())
		return -1;
	f(ca1, "c1/cluster.crt");
	f(ca2, "c2/cluster.crt");
	for (int i = 1; i <= 4; i++) {
		char n[32];

		snprintf(n, sizeof(n), "n%d.key", i);
		f(keyf[i], n);
		snprintf(n, sizeof(n), "n%d.crt", i);
		f(crtf[i], n);
	}
	f(badk, "bad3.key");
	f(badc, "bad3.crt");
	snprintf(logpath, sizeof(logpath), "%s/test.log", dir);
	mm_log_open(logpath, true, MM_LOG_INFO);
	return 0;
}

static int global_clean(void)
{
	char cmd[300];

	mm_log_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void register_tests(void)
{
	static const struct mm_test mode_tests[] = {
		{"sync calls", test_sync},
		{"async, replies out of order", test_async_out_of_order},
		{"timeout and late reply", test_timeout_late_reply},
		{"1 MiB payload", test_big_payload},
		{"concurrent callers, mixed sizes", test_concurrent_mixed},
		{"status, unknown type, oneway", test_status_and_unknown},
		{"garbage and malformed peers", test_garbage_peer},
		{"refused peer", test_refused_peers},
		{"connection drop, forget, reconnect", test_conn_drop},
		{"stats", test_stats},
	};
	static const struct mm_test misc_tests[] = {
		{"worker queue full -> MM_EBUSY", test_worker_queue_full},
		{"simultaneous connect both ways", test_simultaneous_connect},
		{"bad configurations", test_bad_config},
		{"encrypt: frame sizes up to 64 MiB - 1", test_encrypt_sizes},
		{"encrypt: corrupted record closes the connection", test_encrypt_corrupt},
	};
	static const struct {
		const char *name;
		CU_InitializeFunc init;
	} modes[] = {
		{"rpc plain", init_plain},
		{"rpc authonly", init_auth},
		{"rpc encrypt", init_enc},
	};
	CU_pSuite s;

	for (size_t m = 0; m < MM_ARRAY_SIZE(modes); m++) {
		s = CU_add_suite(modes[m].name, modes[m].init, suite_clean);
		for (size_t i = 0; i < MM_ARRAY_SIZE(mode_tests); i++)
			CU_add_test(s, mode_tests[i].name, mode_tests[i].fn);
	}
	s = CU_add_suite("rpc misc", NULL, global_clean);
	for (size_t i = 0; i < MM_ARRAY_SIZE(misc_tests); i++)
		CU_add_test(s, misc_tests[i].name, misc_tests[i].fn);
}

MM_CUNIT_MAIN(register_tests)
