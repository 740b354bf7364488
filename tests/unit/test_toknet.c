/*
 * tests/unit/test_toknet.c - tokens over net/ (tokens/toknet.c): two or
 * three toknets in one process, each on its own net_ctx (NET_SEC_PLAIN,
 * 127.0.9.60..63, kernel-chosen ports), as the daemon wires them.
 *
 *   grant_cached     a grant, then cached re-acquires that send nothing
 *   conflict_revoke  a conflict, the revoke callback on a revoke thread
 *                    (not a net I/O thread), the waiter granted after
 *                    the holder releases
 *   timeout_cancel   a blocking acquire times out, is withdrawn, and the
 *                    next one is granted; both sides show their waiters
 *   view_change      a new epoch moves the server while one node holds
 *                    and another waits: the new server rebuilds (the
 *                    holder's reassert arrives before it exists: parked)
 *                    and grants nothing that conflicts
 *   node_failure     a failed node's token blocks an acquire until the
 *                    node is recovered
 *   bad_batch        malformed MSG_TOK_BATCH frames are refused and
 *                    counted; the service goes on
 *   many_and_stop    a multi-acquire; shutdown wakes a blocked acquire
 *                    with MM_ESHUTDOWN and gives cached tokens back
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "net/net.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"
#include "tokens/toknet.h"

#define CLUSTER 0x70C0FFEE00000001ull
#define SPACE 0xA1u
#define MAXN 4

static const char *const ips[MAXN + 1] = {"", "127.0.9.60", "127.0.9.61", "127.0.9.62",
					  "127.0.9.63"};
static net_ctx *net[MAXN + 1];
static struct toknet *tn[MAXN + 1];
static int nnodes;

/* ---- fixtures ---- */

static net_ctx *mk_net(uint32_t node)
{
	struct net_config cfg = {
		.node_id = node,
		.cluster_id = CLUSTER,
		.listen_addr = ips[node],
		.port = 0,
		.io_threads = 1,
		.worker_threads = 2,
		.max_payload = 4u << 20,
		.security = NET_SEC_PLAIN,
		.ciphers = "",
		.connect_timeout_ms = 2000,
	};
	net_ctx *ctx = NULL;

	return net_create(&cfg, &ctx) == MM_OK ? ctx : NULL;
}

/* Nodes 1..<n>, each with a toknet (and a bare net for node n+1 if
 * <extra>), every node knowing every other's address. */
static void up(int n, bool extra)
{
	int all = n + (extra ? 1 : 0);

	nnodes = n;
	for (int i = 1; i <= all; i++) {
		net[i] = mk_net((uint32_t)i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(net[i]);
	}
	for (int i = 1; i <= n; i++) {
		struct toknet_config c = {.self = (uint32_t)i, .net = net[i], .revoke_threads = 2};

		CU_ASSERT_EQUAL_FATAL(toknet_create(&c, &tn[i]), MM_OK);
	}
	for (int i = 1; i <= all; i++)
		for (int j = 1; j <= all; j++)
			if (i != j)
				net_peer_set(net[i], (uint32_t)j, ips[j], net_listen_port(net[j]));
}

static void count_srv(void *arg, uint32_t space, const struct tok_server_stats *st,
		      bool rebuilding)
{
	(void)space;
	(void)st;
	(void)rebuilding;
	(*(int *)arg)++;
}

/* Stop the nodes that serve nothing first, as a node's shutdown gives
 * its tokens back to servers still running (each stop would otherwise
 * wait its 2 s for answers that never come), then the rest. */
static void down(void)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 1; i <= nnodes; i++) {
			int ns = 0;

			toknet_servers(tn[i], count_srv, &ns);
			if (pass == 1 || ns == 0)
				toknet_stop(tn[i]);
		}
	for (int i = 1; i <= MAXN; i++)
		if (net[i]) {
			net_destroy(net[i]);
			net[i] = NULL;
		}
	for (int i = 1; i <= nnodes; i++) {
		toknet_destroy(tn[i]);
		tn[i] = NULL;
	}
	nnodes = 0;
}

/* Every node gets the view: <servers> at <epoch>, all nodes members. */
static void view(uint32_t epoch, const uint32_t *servers, size_t ns)
{
	uint32_t members[MAXN];

	for (int i = 0; i < nnodes; i++)
		members[i] = (uint32_t)i + 1;
	for (int i = 1; i <= nnodes; i++)
		CU_ASSERT_EQUAL(toknet_set_view(tn[i], SPACE, epoch, servers, ns, members,
						(size_t)nnodes, NULL, 0),
				MM_OK);
}

static void hinit(struct tok_holder *h, enum tok_kind kind, uint64_t obj, enum tok_mode mode,
		  uint64_t start, uint64_t end)
{
	struct tok_key k = {.space = SPACE, .kind = kind, .obj = obj};
	struct tok_range r = {start, end};

	tok_holder_init(h, &k, mode, r, r);
}

/* An acquire on its own thread. */
struct bg {
	pthread_t th;
	struct toknet *t;
	struct tok_holder h;
	int timeout_ms;
	atomic_int rc;
	atomic_bool done;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	atomic_store(&b->rc, toknet_acquire(b->t, &b->h, b->timeout_ms));
	atomic_store(&b->done, true);
	return NULL;
}

static void bg_start(struct bg *b, struct toknet *t, int timeout_ms)
{
	b->t = t;
	b->timeout_ms = timeout_ms;
	atomic_store(&b->rc, 1);
	atomic_store(&b->done, false);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&b->th, NULL, bg_main, b), 0);
}

static int bg_join(struct bg *b)
{
	pthread_join(b->th, NULL);
	return atomic_load(&b->rc);
}

/* ---- revoke callbacks ---- */

static atomic_int rv_calls, rv_wrong_thread;
static atomic_uint_fast64_t rv_last_start, rv_last_end;
static atomic_int rv_last_want;

static int revoke_cb(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want)
{
	char name[17] = "";

	(void)arg;
	(void)k;
	prctl(PR_GET_NAME, name, 0, 0, 0);
	if (strncmp(name, "tokrevoke", 9) != 0) {
		fprintf(stderr, "  revoke callback on thread \"%s\"\n", name);
		atomic_fetch_add(&rv_wrong_thread, 1);
	}
	atomic_store(&rv_last_start, r.start);
	atomic_store(&rv_last_end, r.end);
	atomic_store(&rv_last_want, (int)want);
	mm_sleep_ms(20);	/* a flush takes a while: nothing else waits on it */
	atomic_fetch_add(&rv_calls, 1);
	return MM_OK;
}

/* ---- tests ---- */

static void test_grant_cached(void)
{
	const uint32_t servers[] = {1};
	struct tok_holder h;
	struct toknet_stats s0, s1;
	struct tok_client_stats c0, c1;

	wd_arm("grant_cached", 60);
	up(2, false);
	view(1, servers, 1);
	hinit(&h, TOK_INODE, 5, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_OK);
	toknet_release(tn[2], &h);
	toknet_get_stats(tn[2], &s0);
	toknet_client_stats(tn[2], &c0);
	CU_ASSERT_TRUE(s0.batches_out >= 1);
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_OK);
		toknet_release(tn[2], &h);
	}
	toknet_get_stats(tn[2], &s1);
	toknet_client_stats(tn[2], &c1);
	CHECK_U64(s1.msgs_out, ==, s0.msgs_out);	/* cached: no messages */
	CHECK_U64(c1.local_grants, >=, c0.local_grants + 100);
	CHECK_U64(c1.server_requests, ==, c0.server_requests);

	/* the server's own node: its messages to itself stay in process (the
	 * grant to node 2 may be counted only after node 2 saw it: settle) */
	mm_sleep_ms(100);
	toknet_get_stats(tn[1], &s0);
	hinit(&h, TOK_INODE, 6, TOK_RO, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[1], &h, 5000), MM_OK);
	toknet_release(tn[1], &h);
	toknet_get_stats(tn[1], &s1);
	CHECK_U64(s1.local_msgs, >=, s0.local_msgs + 2);	/* acquire, grant */
	CHECK_U64(s1.batches_out, ==, s0.batches_out);
	down();
	wd_disarm();
}

static void test_conflict_revoke(void)
{
	const uint32_t servers[] = {1};
	struct tok_holder h1;
	struct bg b = {0};

	wd_arm("conflict_revoke", 60);
	atomic_store(&rv_calls, 0);
	atomic_store(&rv_wrong_thread, 0);
	up(2, false);
	view(1, servers, 1);
	toknet_set_revoke(tn[1], TOK_BR, revoke_cb, NULL);
	/* node 1 writes [0, 1M): its first writer token is [0, inf) */
	hinit(&h1, TOK_BR, 42, TOK_XW, 0, 1 << 20);
	h1.des.end = TOK_INF;
	CU_ASSERT_EQUAL(toknet_acquire(tn[1], &h1, 5000), MM_OK);
	/* node 2 wants [2M, 3M): node 1 keeps what it uses, gives up the rest */
	hinit(&b.h, TOK_BR, 42, TOK_XW, 2 << 20, 3 << 20);
	b.h.des.end = TOK_INF;
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &b.h, 5000), MM_OK);
	CU_ASSERT_EQUAL(atomic_load(&rv_calls), 1);
	CU_ASSERT_EQUAL(atomic_load(&rv_wrong_thread), 0);
	CU_ASSERT_EQUAL(atomic_load(&rv_last_want), TOK_XW);
	CHECK_U64(atomic_load(&rv_last_start), <=, 2 << 20);
	CHECK_U64(atomic_load(&rv_last_start), >=, 1 << 20);
	toknet_release(tn[2], &b.h);

	/* node 2 now wants what node 1's holder uses: it waits for the release */
	hinit(&b.h, TOK_BR, 42, TOK_RO, 0, 4096);
	bg_start(&b, tn[2], 10000);
	mm_sleep_ms(300);
	CU_ASSERT_FALSE(atomic_load(&b.done));
	toknet_release(tn[1], &h1);
	CU_ASSERT_EQUAL(bg_join(&b), MM_OK);
	CU_ASSERT_EQUAL(atomic_load(&rv_calls), 2);
	CU_ASSERT_EQUAL(atomic_load(&rv_wrong_thread), 0);
	CU_ASSERT_EQUAL(atomic_load(&rv_last_want), TOK_RO);
	toknet_release(tn[2], &b.h);
	{
		struct toknet_stats s;

		toknet_get_stats(tn[1], &s);
		CHECK_U64(s.revoke_jobs, ==, 2);
	}
	down();
	wd_disarm();
}

struct wcount {
	int holders, revokes;
	uint32_t revoke_node, cause_node;
	bool named;
};

static void count_waiter(void *arg, const struct tok_waiter *w)
{
	struct wcount *c = arg;

	if (w->revoke) {
		c->revokes++;
		c->revoke_node = w->node;
	} else {
		c->holders++;
		c->cause_node = w->cause_node;
	}
	c->named |= w->cause && w->cause[0];
}

/* ---- unregistering while revokes run ---- */

static atomic_int ur_in, ur_calls, ur_after;
static atomic_bool ur_gone;

static int slow_cb(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want)
{
	(void)arg, (void)k, (void)r, (void)want;
	if (atomic_load(&ur_gone))
		atomic_fetch_add(&ur_after, 1);	/* called after unregistration */
	atomic_fetch_add(&ur_in, 1);
	mm_sleep_ms(50);
	atomic_fetch_add(&ur_calls, 1);
	atomic_fetch_sub(&ur_in, 1);
	return MM_OK;
}

/* toknet_set_revoke(NULL) with revokes running and queued: it returns
 * only once none runs, none is called after, and every token still goes
 * back (the other node's acquires succeed). Unmount frees what the
 * callback uses right after it. */
static void test_unregister_waits(void)
{
	enum { N = 8 };
	const uint32_t servers[] = {1};
	struct tok_holder h;
	static struct bg b[N];
	int calls;

	wd_arm("unregister_waits", 60);
	atomic_store(&ur_in, 0);
	atomic_store(&ur_calls, 0);
	atomic_store(&ur_after, 0);
	atomic_store(&ur_gone, false);
	up(2, false);
	view(1, servers, 1);
	toknet_set_revoke(tn[1], TOK_INODE, slow_cb, NULL);
	for (int i = 0; i < N; i++) {
		hinit(&h, TOK_INODE, 100 + (uint64_t)i, TOK_XW, 0, TOK_INF);
		CU_ASSERT_EQUAL(toknet_acquire(tn[1], &h, 5000), MM_OK);
		toknet_release(tn[1], &h);	/* cached on node 1 */
	}
	for (int i = 0; i < N; i++) {
		hinit(&b[i].h, TOK_INODE, 100 + (uint64_t)i, TOK_XW, 0, TOK_INF);
		bg_start(&b[i], tn[2], 10000);
	}
	for (int i = 0; i < 200 && atomic_load(&ur_in) == 0; i++)
		mm_sleep_ms(5);
	CU_ASSERT(atomic_load(&ur_in) > 0);
	toknet_set_revoke(tn[1], TOK_INODE, NULL, NULL);
	atomic_store(&ur_gone, true);
	CU_ASSERT_EQUAL(atomic_load(&ur_in), 0);	/* none runs after the return */
	calls = atomic_load(&ur_calls);
	CU_ASSERT(calls < N);				/* the queued ones were not called */
	for (int i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(bg_join(&b[i]), MM_OK);
		toknet_release(tn[2], &b[i].h);
	}
	CU_ASSERT_EQUAL(atomic_load(&ur_after), 0);
	CU_ASSERT_EQUAL(atomic_load(&ur_calls), calls);
	down();
	wd_disarm();
}

static void test_timeout_cancel(void)
{
	const uint32_t servers[] = {1};
	struct tok_holder h1, h2;
	struct bg b = {0};
	struct wcount w2 = {0}, w1 = {0};
	uint64_t t0;

	wd_arm("timeout_cancel", 60);
	up(2, false);
	view(1, servers, 1);
	hinit(&h1, TOK_INODE, 7, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[1], &h1, 5000), MM_OK);
	hinit(&h2, TOK_INODE, 7, TOK_XW, 0, TOK_INF);
	t0 = now_us();
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h2, 300), MM_ETIMEDOUT);
	CHECK_U64(now_us() - t0, >=, 290000);
	CHECK_U64(now_us() - t0, <, 5000000);
	CU_ASSERT_EQUAL(h2.st, TOK_H_IDLE);

	/* a waiter shows on both sides: the holder waiting, the revoke served */
	hinit(&b.h, TOK_INODE, 7, TOK_RO, 0, TOK_INF);
	bg_start(&b, tn[2], 10000);
	mm_sleep_ms(300);
	toknet_client_waiters(tn[2], count_waiter, &w2);
	toknet_client_waiters(tn[1], count_waiter, &w1);
	CU_ASSERT_EQUAL(w2.holders, 1);
	CU_ASSERT_TRUE(w2.named);
	/* also the revoke of the withdrawn acquire: it stands until served */
	CHECK_U64(w1.revokes, >=, 1);
	CU_ASSERT_EQUAL(w1.revoke_node, 2);
	toknet_release(tn[1], &h1);
	CU_ASSERT_EQUAL(bg_join(&b), MM_OK);
	toknet_release(tn[2], &b.h);
	down();
	wd_disarm();
}

struct srvinfo {
	int n;
	uint32_t epoch;
	bool rebuilding;
	uint64_t records;
};

static void srv_cb(void *arg, uint32_t space, const struct tok_server_stats *st, bool rebuilding)
{
	struct srvinfo *s = arg;

	(void)space;
	s->n++;
	s->epoch = st->epoch;
	s->rebuilding = rebuilding;
	s->records = st->records;
}

static void test_view_change(void)
{
	const uint32_t s1[] = {1}, s3[] = {3};
	struct tok_holder h2;
	struct bg b = {0};
	struct srvinfo si = {0};

	wd_arm("view_change", 60);
	up(3, false);
	view(1, s1, 1);
	hinit(&h2, TOK_INODE, 9, TOK_RO, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h2, 5000), MM_OK);
	hinit(&b.h, TOK_INODE, 9, TOK_XW, 0, TOK_INF);
	bg_start(&b, tn[3], 20000);
	mm_sleep_ms(200);
	CU_ASSERT_FALSE(atomic_load(&b.done));

	/* epoch 2: node 3 serves. Nodes 1 and 2 learn it first, so node 2's
	 * reassert reaches node 3 before its server exists. */
	view(2, s3, 1);
	mm_sleep_ms(300);
	CU_ASSERT_FALSE(atomic_load(&b.done));	/* rebuilt: node 2's ro still conflicts */
	toknet_servers(tn[1], srv_cb, &si);
	CU_ASSERT_EQUAL(si.n, 0);
	memset(&si, 0, sizeof(si));
	toknet_servers(tn[3], srv_cb, &si);
	CU_ASSERT_EQUAL(si.n, 1);
	CU_ASSERT_EQUAL(si.epoch, 2);
	CU_ASSERT_FALSE(si.rebuilding);
	CHECK_U64(si.records, >=, 1);
	/* an older epoch is ignored */
	CU_ASSERT_EQUAL(toknet_set_view(tn[1], SPACE, 1, s1, 1, NULL, 0, NULL, 0), MM_OK);
	memset(&si, 0, sizeof(si));
	toknet_servers(tn[1], srv_cb, &si);
	CU_ASSERT_EQUAL(si.n, 0);

	toknet_release(tn[2], &h2);
	CU_ASSERT_EQUAL(bg_join(&b), MM_OK);
	toknet_release(tn[3], &b.h);
	down();
	wd_disarm();
}

static void test_node_failure(void)
{
	const uint32_t servers[] = {1};
	struct tok_holder h2;
	struct bg b = {0};
	struct srvinfo si = {0};

	wd_arm("node_failure", 60);
	up(3, false);
	view(1, servers, 1);
	hinit(&h2, TOK_INODE, 11, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h2, 5000), MM_OK);
	toknet_release(tn[2], &h2);	/* cached at node 2 */

	/* node 2 "dies" (its toknet keeps running but nobody asks it) */
	toknet_node_failed(tn[1], 2);
	toknet_node_failed(tn[3], 2);
	hinit(&b.h, TOK_INODE, 11, TOK_RO, 0, TOK_INF);
	bg_start(&b, tn[3], 20000);
	mm_sleep_ms(500);
	CU_ASSERT_FALSE(atomic_load(&b.done));	/* the failed node's token stands */
	toknet_servers(tn[1], srv_cb, &si);
	CU_ASSERT_EQUAL(si.n, 1);
	toknet_node_recovered(tn[1], 2);
	CU_ASSERT_EQUAL(bg_join(&b), MM_OK);
	toknet_release(tn[3], &b.h);
	toknet_node_up(tn[3], 2);
	toknet_node_up(tn[1], 2);

	/* node 2 learns that it was itself expelled while it waits: the wait
	 * ends with MM_ENOLEASE and its cache is gone */
	{
		struct tok_holder h3;
		struct bg b2 = {0};
		struct tok_client_stats cs;

		hinit(&h3, TOK_INODE, 12, TOK_XW, 0, TOK_INF);
		CU_ASSERT_EQUAL(toknet_acquire(tn[3], &h3, 5000), MM_OK);
		hinit(&b2.h, TOK_INODE, 12, TOK_RO, 0, TOK_INF);
		bg_start(&b2, tn[2], 20000);
		mm_sleep_ms(300);
		CU_ASSERT_FALSE(atomic_load(&b2.done));
		toknet_node_failed(tn[2], 2);
		CU_ASSERT_EQUAL(bg_join(&b2), MM_ENOLEASE);
		CU_ASSERT_EQUAL(b2.h.st, TOK_H_IDLE);
		toknet_client_stats(tn[2], &cs);
		CU_ASSERT_EQUAL(cs.objects, 0);
		CU_ASSERT_EQUAL(cs.resets, 1);
		toknet_release(tn[3], &h3);
	}
	down();
	wd_disarm();
}

/* Self-fencing: a grant is only used under the lease the cache was built
 * under. */
static atomic_uint_fast64_t fake_lease;

static uint64_t fake_lease_fn(void *arg)
{
	(void)arg;
	return atomic_load(&fake_lease);
}

static void test_lease_check(void)
{
	const uint32_t servers[] = {1};
	struct tok_holder h;
	struct tok_client_stats cs;

	wd_arm("lease_check", 60);
	up(2, false);
	view(1, servers, 1);
	atomic_store(&fake_lease, 0);
	toknet_set_lease_check(tn[2], fake_lease_fn, NULL);
	atomic_store(&fake_lease, 5);
	hinit(&h, TOK_INODE, 21, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_OK);	/* the first lease */
	toknet_release(tn[2], &h);
	/* no valid lease: refused, the cache kept (the servers still count it) */
	atomic_store(&fake_lease, 0);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_ENOLEASE);
	CU_ASSERT_EQUAL(h.st, TOK_H_IDLE);
	toknet_client_stats(tn[2], &cs);
	CU_ASSERT_EQUAL(cs.objects, 1);
	CU_ASSERT_EQUAL(cs.resets, 0);
	/* a new lease: expelled and back; the stale cache goes, then it works */
	atomic_store(&fake_lease, 6);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_ENOLEASE);
	toknet_client_stats(tn[2], &cs);
	CU_ASSERT_EQUAL(cs.resets, 1);
	CU_ASSERT_EQUAL(cs.objects, 0);
	/* the server still has node 2's old token until it learns the expel */
	toknet_node_failed(tn[1], 2);
	toknet_node_recovered(tn[1], 2);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_OK);
	toknet_release(tn[2], &h);
	toknet_set_lease_check(tn[2], NULL, NULL);
	down();
	wd_disarm();
}

/* Token messages that cannot be sent are reported (the daemon asks for an
 * expel), and the time of the last frame to a node is kept. */
static atomic_int lost_calls;
static atomic_uint lost_node;

static void lost_cb(void *arg, uint32_t node, size_t nmsg)
{
	(void)arg;
	(void)nmsg;
	atomic_store(&lost_node, node);
	atomic_fetch_add(&lost_calls, 1);
}

static void test_lost_messages(void)
{
	const uint32_t servers[] = {9};	/* no such node: nothing reaches it */
	struct tok_holder h;

	wd_arm("lost_messages", 60);
	up(2, false);
	atomic_store(&lost_calls, 0);
	toknet_set_lost_hook(tn[2], lost_cb, NULL);
	view(1, servers, 1);
	hinit(&h, TOK_INODE, 31, TOK_RO, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 300), MM_ETIMEDOUT);
	CU_ASSERT(atomic_load(&lost_calls) >= 1);
	CU_ASSERT_EQUAL(atomic_load(&lost_node), 9);
	CU_ASSERT(toknet_last_sent_ns(tn[2], 9) > 0);
	CU_ASSERT_EQUAL(toknet_last_sent_ns(tn[2], 1), 0);
	CU_ASSERT_EQUAL(toknet_last_sent_ns(tn[2], TOKNET_MAX_NODES), 0);
	down();
	wd_disarm();
}

static void test_bad_batch(void)
{
	const uint32_t servers[] = {1};
	static const uint8_t trunc_len[] = {0x00};
	static const uint8_t zero_len[] = {0x00, 0x00, 0x00, 0x01, 0xAA};
	static const uint8_t too_long[] = {0x00, 0x40, 1, 2, 3};
	uint8_t garbage[2 + 64] = {0, 64};
	struct toknet_stats s;
	struct tok_holder h;
	size_t n = 0;
	char why[128];

	/* the framing alone */
	CU_ASSERT_EQUAL(toknet_batch_check(trunc_len, sizeof(trunc_len), &n, why, sizeof(why)),
			MM_EPROTO);
	CU_ASSERT_EQUAL(toknet_batch_check(zero_len, sizeof(zero_len), &n, why, sizeof(why)),
			MM_EPROTO);
	CU_ASSERT_EQUAL(toknet_batch_check(too_long, sizeof(too_long), &n, why, sizeof(why)),
			MM_EPROTO);
	CU_ASSERT_EQUAL(toknet_batch_check(NULL, 0, &n, why, sizeof(why)), MM_EPROTO);
	CU_ASSERT_EQUAL(toknet_batch_check(garbage, sizeof(garbage), &n, why, sizeof(why)), MM_OK);
	CU_ASSERT_EQUAL(n, 1);

	wd_arm("bad_batch", 60);
	up(2, true);	/* node 3: a bare net_ctx sending by hand */
	view(1, servers, 1);
	CU_ASSERT_EQUAL(net_send_oneway(net[3], 1, MSG_TOK_BATCH, trunc_len, sizeof(trunc_len)), MM_OK);
	CU_ASSERT_EQUAL(net_send_oneway(net[3], 1, MSG_TOK_BATCH, zero_len, sizeof(zero_len)), MM_OK);
	CU_ASSERT_EQUAL(net_send_oneway(net[3], 1, MSG_TOK_BATCH, too_long, sizeof(too_long)), MM_OK);
	CU_ASSERT_EQUAL(net_send_oneway(net[3], 1, MSG_TOK_BATCH, NULL, 0), MM_OK);
	/* good framing, a garbage message: the core refuses it */
	memset(garbage + 2, 0xEE, 64);
	CU_ASSERT_EQUAL(net_send_oneway(net[3], 1, MSG_TOK_BATCH, garbage, sizeof(garbage)), MM_OK);
	/* as a request rather than one-way: refused with MM_EPROTO */
	CU_ASSERT_EQUAL(net_call(net[3], 1, MSG_TOK_BATCH, garbage, sizeof(garbage), 5000, NULL,
				 NULL),
			MM_EPROTO);
	toknet_get_stats(tn[1], &s);
	CHECK_U64(s.bad_batches, ==, 4);
	CHECK_U64(s.batches_in, >=, 1);
	/* the service goes on */
	hinit(&h, TOK_INODE, 1, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &h, 5000), MM_OK);
	toknet_release(tn[2], &h);
	down();
	wd_disarm();
}

static void test_many_and_stop(void)
{
	const uint32_t servers[] = {1, 2};
	struct tok_holder hs[4], *hp[4], h1;
	struct tok_client_stats cs;
	struct bg b = {0};

	wd_arm("many_and_stop", 60);
	up(2, false);
	view(1, servers, 2);
	for (int i = 0; i < 4; i++) {
		hinit(&hs[i], TOK_INODE, 100 + (uint64_t)(3 - i), TOK_XW, 0, TOK_INF);
		hp[i] = &hs[i];
	}
	CU_ASSERT_EQUAL(toknet_acquire_many(tn[2], hp, 4), MM_OK);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(hs[i].st, TOK_H_GRANTED);
		toknet_release(tn[2], &hs[i]);
	}
	/* node 1 holds one of them; node 2 blocks on it, then shuts down */
	hinit(&h1, TOK_INODE, 101, TOK_XW, 0, TOK_INF);
	CU_ASSERT_EQUAL(toknet_acquire(tn[1], &h1, 5000), MM_OK);
	hinit(&b.h, TOK_INODE, 101, TOK_RO, 0, TOK_INF);
	bg_start(&b, tn[2], 0);
	mm_sleep_ms(200);
	CU_ASSERT_FALSE(atomic_load(&b.done));
	toknet_stop(tn[2]);
	CU_ASSERT_EQUAL(bg_join(&b), MM_ESHUTDOWN);
	CU_ASSERT_EQUAL(toknet_acquire(tn[2], &b.h, 100), MM_ESHUTDOWN);
	/* node 2 gave its cached tokens back: node 1's servers show none of it */
	mm_sleep_ms(100);
	toknet_client_stats(tn[2], &cs);	/* stopped: zeros */
	CHECK_U64(cs.objects, ==, 0);
	toknet_release(tn[1], &h1);
	down();
	wd_disarm();
}

static char logpath[64];

static void rm_log(void)
{
	if (!getenv("MMFS_TEST_KEEP"))
		unlink(logpath);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"grant_cached", test_grant_cached},
		{"conflict_revoke", test_conflict_revoke},
		{"unregister_waits", test_unregister_waits},
		{"timeout_cancel", test_timeout_cancel},
		{"view_change", test_view_change},
		{"node_failure", test_node_failure},
		{"lease_check", test_lease_check},
		{"lost_messages", test_lost_messages},
		{"bad_batch", test_bad_batch},
		{"many_and_stop", test_many_and_stop},
	};

	/* the daemons' log lines: kept with MMFS_TEST_KEEP, on stderr too with
	 * MMFS_TEST_VERBOSE */
	snprintf(logpath, sizeof(logpath), "/tmp/test_toknet.%d.log", (int)getpid());
	mm_log_open(logpath, getenv("MMFS_TEST_VERBOSE") != NULL, MM_LOG_INFO);
	atexit(rm_log);
	MM_ADD_SUITE("toknet", tests);
}

MM_CUNIT_MAIN(register_tests)
