/*
 * tests/unit/test_etcd.c - cluster/etcd.c and cluster/etcd_sup.c.
 *
 * Suite "etcd_parse": base64, prefix ends, the response parsers and the
 * watch stream splitter on captured and malformed answers (no etcd).
 * Suite "etcd": a real single-member etcd run by etcd_sup (plain http on
 * 127.0.8.1:23791/23801, data under a mkdtemp dir), then KV, txn, leases,
 * watch, members, failover, deadlines, restart after kill -9. Suite
 * "etcd_cluster": a TLS member (certificates made with the openssl CLI,
 * 127.0.8.1:23792/23802) and a two-member cluster that loses quorum
 * (127.0.8.2/.3). Every etcd started is stopped by the suite cleanup, even
 * after a failed assertion; a crash kills them through PR_SET_PDEATHSIG.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/etcd.h"
#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/unit/cunit_main.h"

#define IP1 "127.0.8.1"
#define EP1 "http://" IP1 ":23791"
#define TIMEOUT_MS 3000

static char tmpdir[64];
static etcd_sup *sup1;
static etcd_client *cli;

/* ---- helpers ---- */

static void run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run_cmd(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
}

/* (also used by suite init, where CU_ASSERT may not be called) */
static etcd_client *client_for(const char *ep, const struct etcd_tls *tls, int timeout_ms)
{
	const char *eps[] = {ep};
	etcd_client *c = NULL;

	if (etcd_client_create(eps, 1, tls, timeout_ms, &c))
		fprintf(stderr, "etcd_client_create(%s) failed\n", ep);
	return c;
}

/* Wait until <c> answers a linearizable read (etcd up and has a leader). */
static bool wait_ready(etcd_client *c, unsigned ms)
{
	uint64_t until = mm_now_ms() + ms;

	while (mm_now_ms() < until) {
		struct etcd_kv kv;
		int rc = etcd_get(c, "/ready-probe", &kv, NULL);

		etcd_kv_clear(&kv);
		if (rc == MM_OK || rc == MM_ENOENT)
			return true;
		mm_sleep_ms(100);
	}
	return false;
}

static int start_member(etcd_sup **out, const char *name, const char *ip, uint16_t cport,
			uint16_t pport, const char *initial_cluster, const struct etcd_tls *tls)
{
	struct etcd_sup_config cfg = {0};
	char dir[128], log[128];

	snprintf(dir, sizeof(dir), "%s/%s.data", tmpdir, name);
	snprintf(log, sizeof(log), "%s/%s.log", tmpdir, name);
	cfg.name = name;
	cfg.data_dir = dir;
	cfg.ip = ip;
	cfg.client_port = cport;
	cfg.peer_port = pport;
	cfg.initial_cluster = initial_cluster;
	cfg.cluster_token = "mmfs-test";
	cfg.heartbeat_ms = 20;
	cfg.election_ms = 200;
	cfg.log_path = log;
	if (tls)
		cfg.tls = *tls;
	return etcd_sup_start(&cfg, out);
}

/* ---- suite etcd_parse ---- */

static void test_b64(void)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy"};
	static const char *const bad[] = {"Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm=v"};
	char *s, *d;
	size_t n;

	for (size_t i = 0; i < MM_ARRAY_SIZE(plain); i++) {
		s = etcd_b64_encode(plain[i], strlen(plain[i]));
		CU_ASSERT_STRING_EQUAL(s, enc[i]);
		CU_ASSERT_EQUAL(etcd_b64_decode(s, strlen(s), &d, &n), MM_OK);
		CU_ASSERT_EQUAL(n, strlen(plain[i]));
		CU_ASSERT_STRING_EQUAL(d, plain[i]);
		free(s);
		free(d);
	}
	for (size_t i = 0; i < MM_ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(etcd_b64_decode(bad[i], strlen(bad[i]), &d, &n), MM_EPROTO);
		CU_ASSERT_PTR_NULL(d);
	}
	/* binary with NULs */
	s = etcd_b64_encode("\0\xff\0", 3);
	CU_ASSERT_EQUAL(etcd_b64_decode(s, strlen(s), &d, &n), MM_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(memcmp(d, "\0\xff\0", 3), 0);
	free(s);
	free(d);
}

static void test_prefix_end(void)
{
	size_t n;
	char *e;

	e = etcd_prefix_end("/a/", 3, &n);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(memcmp(e, "/a0", 3), 0);
	free(e);
	e = etcd_prefix_end("a\xff", 2, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(e[0], 'b');
	free(e);
	e = etcd_prefix_end("", 0, &n);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(e[0], '\0');
	free(e);
}

#define HDR "\"header\":{\"cluster_id\":\"1117073281521502607\",\"member_id\":" \
	    "\"15380119947701860417\",\"revision\":\"4\",\"raft_term\":\"2\"}"

static void test_parse_range(void)
{
	const char *ok = "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
			 "\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"AGE=\","
			 "\"lease\":\"4053699257883351309\"},{\"key\":\"bm8=\"}],\"count\":\"2\"}\n";
	const char *bad[] = {
		"", "{", "[]", "null", "{\"kvs\":[]}",		/* no header */
		"{" HDR ",\"kvs\":{}}", "{" HDR ",\"kvs\":[1]}",
		"{" HDR ",\"kvs\":[{\"key\":\"!!\"}]}", "{" HDR ",\"kvs\":[{}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"version\":\"x\"}]}",
		"{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"version\":true}]}",
		"{" HDR "} trailing", "{" HDR "}{}", "Not Found",
		"{\"header\":{\"revision\":\"99999999999999999999\"}}",
		"{\"header\":{\"revision\":\"-\"}}",
	};
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;

	CU_ASSERT_EQUAL(etcd_parse_range(ok, strlen(ok), &kvs, &n, &rev), MM_OK);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(rev, 4);
	if (n == 2) {
		CU_ASSERT_STRING_EQUAL(kvs[0].key, "foo");
		CU_ASSERT_EQUAL(kvs[0].value_len, 2);
		CU_ASSERT_EQUAL(memcmp(kvs[0].value, "\0a", 2), 0);
		CU_ASSERT_EQUAL(kvs[0].create_rev, 2);
		CU_ASSERT_EQUAL(kvs[0].mod_rev, 3);
		CU_ASSERT_EQUAL(kvs[0].version, 2);
		CU_ASSERT_EQUAL(kvs[0].lease, 4053699257883351309LL);
		CU_ASSERT_STRING_EQUAL(kvs[1].key, "no");
		CU_ASSERT_EQUAL(kvs[1].value_len, 0);
		CU_ASSERT_STRING_EQUAL(kvs[1].value, "");
	}
	etcd_kvs_free(kvs, n);
	for (size_t i = 0; i < MM_ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(etcd_parse_range(bad[i], strlen(bad[i]), &kvs, &n, &rev), MM_EPROTO);
		CU_ASSERT_PTR_NULL(kvs);
	}
	/* a NUL inside the body */
	CU_ASSERT_EQUAL(etcd_parse_range("{" HDR "}\0", sizeof("{" HDR "}"), &kvs, &n, &rev),
			MM_EPROTO);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *body;
		int rc;
	} cases[] = {
		{"{\"error\":\"etcdserver: requested lease not found\",\"message\":"
		 "\"etcdserver: requested lease not found\",\"code\":5}", MM_ENOENT},
		{"{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\","
		 "\"code\":14}", MM_ENOQUORUM},
		{"{\"error\":\"context deadline exceeded\",\"message\":\"context deadline "
		 "exceeded\",\"code\":2}", MM_ENOQUORUM},
		{"{\"error\":\"illegal base64 data at input byte 0\",\"code\":3}", MM_EINVAL},
		{"{\"error\":\"etcdserver: Peer URLs already exists\",\"code\":9}", MM_EEXIST},
		{"{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no "
		 "leader\",\"http_status\":\"Service Unavailable\"}}", MM_ENOQUORUM},
		{"{\"error\":\"x\",\"code\":\"5\"}", MM_EPROTO},
		{"{\"error\":7}", MM_EPROTO},
		{"{\"error\":{\"message\":\"x\"}}", MM_EPROTO},
	};
	int64_t rev, ttl;

	for (size_t i = 0; i < MM_ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL(etcd_parse_header_only(cases[i].body, strlen(cases[i].body), &rev),
				cases[i].rc);
		CU_ASSERT_EQUAL(etcd_parse_lease_keepalive(cases[i].body, strlen(cases[i].body),
							   &ttl), cases[i].rc);
	}
}

static void test_parse_misc(void)
{
	const char *txn_ok = "{" HDR ",\"succeeded\":true,\"responses\":[{\"response_put\":"
			     "{\"header\":{\"revision\":\"3\"}}}]}";
	const char *txn_bad = "{" HDR ",\"succeeded\":\"yes\"}";
	const char *ml_bad = "{\"header\":{},\"members\":[{\"ID\":\"-1\"}]}";
	const char *txn_fail = "{" HDR ",\"responses\":[{\"response_range\":{}}]}";
	const char *grant = "{" HDR ",\"ID\":\"4053699257883351307\",\"TTL\":\"2\"}";
	const char *ka = "{\"result\":{" HDR ",\"ID\":\"4053699257883351309\",\"TTL\":\"2\"}}\n";
	const char *ka_gone = "{\"result\":{" HDR ",\"ID\":\"4053699257883351309\"}}\n";
	const char *del = "{" HDR ",\"deleted\":\"2\"}";
	const char *ml = "{\"header\":{\"raft_term\":\"2\"},\"members\":[{\"ID\":"
			 "\"15380119947701860417\",\"name\":\"m1\",\"peerURLs\":[\"http://"
			 "127.0.0.91:2380\"],\"clientURLs\":[\"http://127.0.0.91:2379\"]},"
			 "{\"ID\":\"2550646445624677909\",\"peerURLs\":[\"http://127.0.0.93:2380\"]}]}";
	const char *madd = "{\"header\":{},\"member\":{\"ID\":\"2550646445624677909\","
			   "\"peerURLs\":[\"http://127.0.0.93:2380\"]},\"members\":[]}";
	struct etcd_member *ms;
	bool succ;
	int64_t rev, id, ttl, d;
	uint64_t mid;
	size_t n;

	CU_ASSERT_EQUAL(etcd_parse_txn(txn_ok, strlen(txn_ok), &succ, &rev), MM_OK);
	CU_ASSERT_TRUE(succ);
	CU_ASSERT_EQUAL(etcd_parse_txn(txn_fail, strlen(txn_fail), &succ, &rev), MM_OK);
	CU_ASSERT_FALSE(succ);
	CU_ASSERT_EQUAL(etcd_parse_txn(txn_bad, strlen(txn_bad), &succ, &rev), MM_EPROTO);
	CU_ASSERT_EQUAL(etcd_parse_lease_grant(grant, strlen(grant), &id, &ttl), MM_OK);
	CU_ASSERT_EQUAL(id, 4053699257883351307LL);
	CU_ASSERT_EQUAL(ttl, 2);
	CU_ASSERT_EQUAL(etcd_parse_lease_keepalive(ka, strlen(ka), &ttl), MM_OK);
	CU_ASSERT_EQUAL(ttl, 2);
	CU_ASSERT_EQUAL(etcd_parse_lease_keepalive(ka_gone, strlen(ka_gone), &ttl), MM_ENOENT);
	CU_ASSERT_EQUAL(etcd_parse_lease_keepalive(grant, strlen(grant), &ttl), MM_EPROTO);
	CU_ASSERT_EQUAL(etcd_parse_deleterange(del, strlen(del), &d), MM_OK);
	CU_ASSERT_EQUAL(d, 2);
	CU_ASSERT_EQUAL(etcd_parse_member_list(ml, strlen(ml), &ms, &n), MM_OK);
	CU_ASSERT_EQUAL(n, 2);
	if (n == 2) {
		CU_ASSERT_EQUAL(ms[0].id, 15380119947701860417ULL);
		CU_ASSERT_STRING_EQUAL(ms[0].name, "m1");
		CU_ASSERT_STRING_EQUAL(ms[0].client_url, "http://127.0.0.91:2379");
		CU_ASSERT_STRING_EQUAL(ms[1].name, "");
		CU_ASSERT_STRING_EQUAL(ms[1].client_url, "");
		CU_ASSERT_STRING_EQUAL(ms[1].peer_url, "http://127.0.0.93:2380");
	}
	free(ms);
	CU_ASSERT_EQUAL(etcd_parse_member_add(madd, strlen(madd), &mid), MM_OK);
	CU_ASSERT_EQUAL(mid, 2550646445624677909ULL);
	CU_ASSERT_EQUAL(etcd_parse_member_list(ml_bad, strlen(ml_bad), &ms, &n), MM_EPROTO);
}

struct split_ctx {
	int n;
	char objs[8][512];
};

static int split_cb(const char *obj, size_t len, void *arg)
{
	struct split_ctx *x = arg;

	if (x->n < 8 && len < 512) {
		memcpy(x->objs[x->n], obj, len);
		x->objs[x->n][len] = '\0';
	}
	x->n++;
	return 0;
}

static void test_jsplit(void)
{
	const char *stream =
		"{\"result\":{\"header\":{\"revision\":\"7\"},\"created\":true}}\n"
		"{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"kv\":{\"key\":"
		"\"dy8x\",\"mod_revision\":\"8\",\"value\":\"e30=\"}}]}}\n"
		"{\"result\":{\"header\":{\"revision\":\"10\"},\"events\":[{\"type\":\"DELETE\","
		"\"kv\":{\"key\":\"dy8x\",\"mod_revision\":\"10\"}}]}}\n"
		"{\"x\":\"a \\\" } { string\"}\n";
	size_t len = strlen(stream);

	/* every split point, and byte by byte */
	for (size_t cut = 0; cut <= len; cut++) {
		struct etcd_jsplit s;
		struct split_ctx x = {0};

		etcd_jsplit_init(&s);
		CU_ASSERT_EQUAL(etcd_jsplit_feed(&s, stream, cut, split_cb, &x), 0);
		CU_ASSERT_EQUAL(etcd_jsplit_feed(&s, stream + cut, len - cut, split_cb, &x), 0);
		CU_ASSERT_EQUAL(x.n, 4);
		CU_ASSERT_STRING_EQUAL(x.objs[3], "{\"x\":\"a \\\" } { string\"}");
		etcd_jsplit_free(&s);
	}
	{
		struct etcd_jsplit s;
		struct split_ctx x = {0};
		struct etcd_watch_msg m;

		etcd_jsplit_init(&s);
		for (size_t i = 0; i < len; i++)
			CU_ASSERT_EQUAL(etcd_jsplit_feed(&s, stream + i, 1, split_cb, &x), 0);
		CU_ASSERT_EQUAL(x.n, 4);
		CU_ASSERT_EQUAL(etcd_parse_watch_msg(x.objs[0], strlen(x.objs[0]), &m), MM_OK);
		CU_ASSERT_TRUE(m.created);
		CU_ASSERT_EQUAL(m.rev, 7);
		etcd_watch_msg_clear(&m);
		CU_ASSERT_EQUAL(etcd_parse_watch_msg(x.objs[1], strlen(x.objs[1]), &m), MM_OK);
		CU_ASSERT_EQUAL(m.nev, 1);
		if (m.nev == 1) {
			CU_ASSERT_EQUAL(m.ev[0].type, ETCD_EV_PUT);
			CU_ASSERT_STRING_EQUAL(m.ev[0].kv.key, "w/1");
			CU_ASSERT_STRING_EQUAL(m.ev[0].kv.value, "{}");
		}
		etcd_watch_msg_clear(&m);
		CU_ASSERT_EQUAL(etcd_parse_watch_msg(x.objs[2], strlen(x.objs[2]), &m), MM_OK);
		CU_ASSERT_EQUAL(m.nev, 1);
		if (m.nev == 1) {
			CU_ASSERT_EQUAL(m.ev[0].type, ETCD_EV_DELETE);
			CU_ASSERT_EQUAL(m.ev[0].kv.mod_rev, 10);
		}
		etcd_watch_msg_clear(&m);
		CU_ASSERT_EQUAL(etcd_parse_watch_msg(x.objs[3], strlen(x.objs[3]), &m), MM_EPROTO);
		etcd_jsplit_free(&s);
	}
	{
		struct etcd_jsplit s;
		struct split_ctx x = {0};

		etcd_jsplit_init(&s);
		CU_ASSERT_EQUAL(etcd_jsplit_feed(&s, "{}\n x", 5, split_cb, &x), MM_EPROTO);
		etcd_jsplit_free(&s);
	}
}

/* ---- suite etcd: one member ---- */

static int ensure_tmpdir(void)
{
	if (tmpdir[0])
		return 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mmfs-test-etcd-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		return 1;
	}
	return 0;
}

static int etcd_init(void)
{
	if (ensure_tmpdir())
		return 1;
	if (start_member(&sup1, "node1", IP1, 23791, 23801, NULL, NULL))
		return 1;
	cli = client_for(EP1, NULL, TIMEOUT_MS);
	if (!cli || !wait_ready(cli, 15000)) {
		fprintf(stderr, "etcd did not come up; see %s/node1.log\n", tmpdir);
		return 1;
	}
	return 0;
}

static int etcd_cleanup(void)
{
	etcd_client_destroy(cli);
	cli = NULL;
	etcd_sup_stop(sup1, 2000);
	sup1 = NULL;
	return 0;
}

static void test_kv(void)
{
	struct etcd_kv kv, *kvs;
	int64_t rev, rev2, del;
	size_t n;

	CU_ASSERT_EQUAL(etcd_put(cli, "/kv/a", "alpha", 5, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/kv/b", "b\0eta", 5, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/kv/c", NULL, 0, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/kw", "x", 1, 0), MM_OK);	/* outside the prefix */
	CU_ASSERT_EQUAL(etcd_get(cli, "/kv/a", &kv, &rev), MM_OK);
	CU_ASSERT_STRING_EQUAL(kv.key, "/kv/a");
	CU_ASSERT_EQUAL(kv.value_len, 5);
	CU_ASSERT_STRING_EQUAL(kv.value, "alpha");
	CU_ASSERT_EQUAL(kv.version, 1);
	CU_ASSERT_TRUE(kv.mod_rev > 0 && kv.mod_rev <= rev);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_get(cli, "/kv/b", &kv, NULL), MM_OK);
	CU_ASSERT_EQUAL(kv.value_len, 5);
	CU_ASSERT_EQUAL(memcmp(kv.value, "b\0eta", 5), 0);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_get(cli, "/kv/c", &kv, NULL), MM_OK);
	CU_ASSERT_EQUAL(kv.value_len, 0);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_get(cli, "/kv/none", &kv, NULL), MM_ENOENT);
	CU_ASSERT_EQUAL(etcd_put(cli, "/kv/a", "alpha2", 6, 0), MM_OK);

	CU_ASSERT_EQUAL(etcd_get_prefix(cli, "/kv/", &kvs, &n, &rev2), MM_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_TRUE(rev2 > rev);
	if (n == 3) {
		CU_ASSERT_STRING_EQUAL(kvs[0].key, "/kv/a");
		CU_ASSERT_STRING_EQUAL(kvs[0].value, "alpha2");
		CU_ASSERT_EQUAL(kvs[0].version, 2);
		CU_ASSERT_STRING_EQUAL(kvs[1].key, "/kv/b");
		CU_ASSERT_STRING_EQUAL(kvs[2].key, "/kv/c");
	}
	etcd_kvs_free(kvs, n);
	CU_ASSERT_EQUAL(etcd_get_prefix(cli, "/nothing/", &kvs, &n, NULL), MM_OK);
	CU_ASSERT_EQUAL(n, 0);

	CU_ASSERT_EQUAL(etcd_delete(cli, "/kv/a", false, &del), MM_OK);
	CU_ASSERT_EQUAL(del, 1);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/kv/a", false, &del), MM_OK);
	CU_ASSERT_EQUAL(del, 0);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/kv/", true, &del), MM_OK);
	CU_ASSERT_EQUAL(del, 2);
	CU_ASSERT_EQUAL(etcd_get(cli, "/kw", &kv, NULL), MM_OK);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/kw", false, NULL), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "", "x", 1, 0), MM_EINVAL);
	/* a lease that does not exist */
	CU_ASSERT_EQUAL(etcd_put(cli, "/kv/l", "x", 1, 12345), MM_ENOENT);
}

#define RACE_ROUNDS 15

/* Read-modify-write of a counter with a CAS on its mod revision. */
static void *cas_worker(void *arg)
{
	int *conflicts = arg;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		for (;;) {
			struct etcd_kv kv;
			char buf[32];
			bool ok;
			int rc = etcd_get(cli, "/cas/counter", &kv, NULL);

			if (rc)
				return (void *)1;
			snprintf(buf, sizeof(buf), "%ld", atol(kv.value) + 1);
			struct etcd_cmp cmp = {.key = "/cas/counter", .target = ETCD_CMP_MOD,
					       .result = ETCD_EQUAL, .num = kv.mod_rev};
			struct etcd_op op = {.type = ETCD_OP_PUT, .key = "/cas/counter",
					     .value = buf, .len = strlen(buf)};

			etcd_kv_clear(&kv);
			rc = etcd_txn(cli, &cmp, 1, &op, 1, NULL, 0, &ok);
			if (rc)
				return (void *)1;
			if (ok)
				break;
			(*conflicts)++;
		}
	}
	return NULL;
}

static void test_txn(void)
{
	struct etcd_cmp absent = {.key = "/cas/new", .target = ETCD_CMP_VERSION,
				  .result = ETCD_EQUAL, .num = 0};
	struct etcd_op create = {.type = ETCD_OP_PUT, .key = "/cas/new", .value = "v1", .len = 2};
	struct etcd_op mark = {.type = ETCD_OP_PUT, .key = "/cas/lost", .value = "1", .len = 1};
	struct etcd_cmp val = {.key = "/cas/new", .target = ETCD_CMP_VALUE,
			       .result = ETCD_EQUAL, .value = "v1"};
	struct etcd_op del = {.type = ETCD_OP_DELETE, .key = "/cas/new"};
	struct etcd_kv kv;
	pthread_t t1, t2;
	int c1 = 0, c2 = 0;
	void *r1, *r2;
	bool ok;

	CU_ASSERT_EQUAL(etcd_txn(cli, &absent, 1, &create, 1, NULL, 0, &ok), MM_OK);
	CU_ASSERT_TRUE(ok);
	/* second create loses and runs the failure branch */
	CU_ASSERT_EQUAL(etcd_txn(cli, &absent, 1, &create, 1, &mark, 1, &ok), MM_OK);
	CU_ASSERT_FALSE(ok);
	CU_ASSERT_EQUAL(etcd_get(cli, "/cas/lost", &kv, NULL), MM_OK);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_txn(cli, &val, 1, &del, 1, NULL, 0, &ok), MM_OK);
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(etcd_get(cli, "/cas/new", &kv, NULL), MM_ENOENT);

	/* two writers racing: every increment persists */
	CU_ASSERT_EQUAL(etcd_put(cli, "/cas/counter", "0", 1, 0), MM_OK);
	pthread_create(&t1, NULL, cas_worker, &c1);
	pthread_create(&t2, NULL, cas_worker, &c2);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	CU_ASSERT_PTR_NULL(r1);
	CU_ASSERT_PTR_NULL(r2);
	CU_ASSERT_EQUAL(etcd_get(cli, "/cas/counter", &kv, NULL), MM_OK);
	CU_ASSERT_EQUAL(atol(kv.value ? kv.value : "0"), 2 * RACE_ROUNDS);
	printf("(%d CAS conflicts) ", c1 + c2);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/cas/", true, NULL), MM_OK);
}

static void test_lease(void)
{
	struct etcd_kv kv;
	int64_t id, id2, ttl;
	uint64_t t0;

	CU_ASSERT_EQUAL(etcd_lease_grant(cli, 2, &id), MM_OK);
	CU_ASSERT_NOT_EQUAL(id, 0);
	CU_ASSERT_EQUAL(etcd_put(cli, "/lease/a", "x", 1, id), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(cli, "/lease/a", &kv, NULL), MM_OK);
	CU_ASSERT_EQUAL(kv.lease, id);
	etcd_kv_clear(&kv);
	t0 = mm_now_ns();
	for (int i = 0; i < 20; i++) {		/* latency with a reused connection */
		CU_ASSERT_EQUAL(etcd_lease_keepalive(cli, id, &ttl), MM_OK);
		CU_ASSERT_EQUAL(ttl, 2);
	}
	printf("(keepalive %llu us each) ", (unsigned long long)((mm_now_ns() - t0) / 20000));
	CU_ASSERT_EQUAL(etcd_lease_revoke(cli, id), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(cli, "/lease/a", &kv, NULL), MM_ENOENT);
	CU_ASSERT_EQUAL(etcd_lease_keepalive(cli, id, &ttl), MM_ENOENT);
	CU_ASSERT_EQUAL(etcd_lease_revoke(cli, id), MM_ENOENT);

	/* expiry: TTL 2, no keepalive */
	CU_ASSERT_EQUAL(etcd_lease_grant(cli, 2, &id2), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/lease/b", "y", 1, id2), MM_OK);
	mm_sleep_ms(1000);
	CU_ASSERT_EQUAL(etcd_get(cli, "/lease/b", &kv, NULL), MM_OK);
	etcd_kv_clear(&kv);
	mm_sleep_ms(2600);
	CU_ASSERT_EQUAL(etcd_get(cli, "/lease/b", &kv, NULL), MM_ENOENT);
	CU_ASSERT_EQUAL(etcd_lease_keepalive(cli, id2, &ttl), MM_ENOENT);
	CU_ASSERT_EQUAL(ttl, 0);
	CU_ASSERT_EQUAL(etcd_lease_grant(cli, 0, &id2), MM_EINVAL);
}

struct wctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;				/* events seen */
	int errs;			/* break reports */
	int last_err;
	enum etcd_event_type type[16];
	char key[16][32];
	int64_t rev[16];
	bool stopped;			/* set after etcd_watch_stop returned */
	int after_stop;			/* callbacks after that: must stay 0 */
};

static void watch_cb(const struct etcd_event *ev, size_t n, int err, void *arg)
{
	struct wctx *x = arg;

	pthread_mutex_lock(&x->lock);
	if (x->stopped)
		x->after_stop++;
	if (err) {
		x->errs++;
		x->last_err = err;
	}
	for (size_t i = 0; i < n; i++, x->n++) {
		if (x->n >= 16)
			continue;
		x->type[x->n] = ev[i].type;
		snprintf(x->key[x->n], sizeof(x->key[0]), "%s", ev[i].kv.key);
		x->rev[x->n] = ev[i].kv.mod_rev;
	}
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static bool wait_events(struct wctx *x, int n, unsigned ms)
{
	uint64_t until = mm_now_ms() + ms;
	bool ok;

	pthread_mutex_lock(&x->lock);
	while (x->n < n && mm_now_ms() < until) {
		pthread_mutex_unlock(&x->lock);
		mm_sleep_ms(10);
		pthread_mutex_lock(&x->lock);
	}
	ok = x->n >= n;
	pthread_mutex_unlock(&x->lock);
	return ok;
}

static void test_watch(void)
{
	struct wctx x = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct wctx y = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	etcd_watch *w = NULL, *w2 = NULL;
	struct etcd_kv kv;
	int64_t rev0;
	uint64_t t0;

	CU_ASSERT_EQUAL(etcd_put(cli, "/w0", "-", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(cli, "/w0", &kv, &rev0), MM_OK);
	etcd_kv_clear(&kv);
	CU_ASSERT_EQUAL_FATAL(etcd_watch_start(cli, "/w/", 0, watch_cb, &x, &w), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/w/a", "1", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/x/outside", "1", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(cli, "/w/b", "2", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/w/a", false, NULL), MM_OK);
	CU_ASSERT_TRUE(wait_events(&x, 3, 5000));
	pthread_mutex_lock(&x.lock);
	CU_ASSERT_EQUAL(x.n, 3);
	CU_ASSERT_EQUAL(x.type[0], ETCD_EV_PUT);
	CU_ASSERT_STRING_EQUAL(x.key[0], "/w/a");
	CU_ASSERT_EQUAL(x.type[1], ETCD_EV_PUT);
	CU_ASSERT_STRING_EQUAL(x.key[1], "/w/b");
	CU_ASSERT_EQUAL(x.type[2], ETCD_EV_DELETE);
	CU_ASSERT_STRING_EQUAL(x.key[2], "/w/a");
	CU_ASSERT_TRUE(x.rev[0] < x.rev[1] && x.rev[1] < x.rev[2]);
	CU_ASSERT_EQUAL(x.errs, 0);
	pthread_mutex_unlock(&x.lock);

	/* replay from an old revision on a second watch */
	CU_ASSERT_EQUAL(etcd_watch_start(cli, "/w/", rev0, watch_cb, &y, &w2), MM_OK);
	CU_ASSERT_TRUE(wait_events(&y, 3, 5000));
	CU_ASSERT_STRING_EQUAL(y.key[2], "/w/a");
	CU_ASSERT_EQUAL(y.type[2], ETCD_EV_DELETE);

	t0 = mm_now_ms();
	etcd_watch_stop(w);
	CU_ASSERT_TRUE(mm_now_ms() - t0 < 500);
	printf("(watch stop %llu ms) ", (unsigned long long)(mm_now_ms() - t0));
	pthread_mutex_lock(&x.lock);
	x.stopped = true;
	pthread_mutex_unlock(&x.lock);
	CU_ASSERT_EQUAL(etcd_put(cli, "/w/c", "3", 1, 0), MM_OK);
	CU_ASSERT_TRUE(wait_events(&y, 4, 5000));	/* the other watch still runs */
	etcd_watch_stop(w2);
	mm_sleep_ms(100);
	pthread_mutex_lock(&x.lock);
	CU_ASSERT_EQUAL(x.after_stop, 0);
	CU_ASSERT_EQUAL(x.n, 3);
	pthread_mutex_unlock(&x.lock);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/w", true, NULL), MM_OK);
	CU_ASSERT_EQUAL(etcd_delete(cli, "/x/", true, NULL), MM_OK);

	/* a start revision older than the compaction: MM_ECONFLICT, then
	 * the watch goes on from "now" */
	{
		struct wctx z = {.lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER};
		int64_t now_rev;

		CU_ASSERT_EQUAL(etcd_put(cli, "/w0", "+", 1, 0), MM_OK);
		CU_ASSERT_EQUAL(etcd_get(cli, "/w0", &kv, &now_rev), MM_OK);
		etcd_kv_clear(&kv);
		run_cmd("ETCDCTL_API=3 etcdctl --endpoints=%s compact %lld >/dev/null", EP1,
			(long long)now_rev);
		CU_ASSERT_EQUAL_FATAL(etcd_watch_start(cli, "/w/", rev0, watch_cb, &z, &w), MM_OK);
		t0 = mm_now_ms();
		pthread_mutex_lock(&z.lock);
		while (z.errs == 0 && mm_now_ms() - t0 < 3000) {
			pthread_mutex_unlock(&z.lock);
			mm_sleep_ms(10);
			pthread_mutex_lock(&z.lock);
		}
		CU_ASSERT_EQUAL(z.errs, 1);
		CU_ASSERT_EQUAL(z.last_err, MM_ECONFLICT);
		CU_ASSERT_EQUAL(z.n, 0);
		pthread_mutex_unlock(&z.lock);
		mm_sleep_ms(100);	/* let it re-create the watch from now */
		CU_ASSERT_EQUAL(etcd_put(cli, "/w/after", "1", 1, 0), MM_OK);
		CU_ASSERT_TRUE(wait_events(&z, 1, 5000));
		CU_ASSERT_STRING_EQUAL(z.key[0], "/w/after");
		etcd_watch_stop(w);
		CU_ASSERT_EQUAL(etcd_delete(cli, "/w", true, NULL), MM_OK);
	}
}

static void test_members(void)
{
	struct etcd_member *ms = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL(etcd_member_list(cli, &ms, &n), MM_OK);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1) {
		CU_ASSERT_STRING_EQUAL(ms[0].name, "node1");
		CU_ASSERT_STRING_EQUAL(ms[0].client_url, EP1);
		CU_ASSERT_STRING_EQUAL(ms[0].peer_url, "http://" IP1 ":23801");
		CU_ASSERT_NOT_EQUAL(ms[0].id, 0);
	}
	free(ms);
	CU_ASSERT_EQUAL(etcd_member_remove(cli, 12345), MM_ENOENT);
}

/* A TCP listener that never accepts: connections succeed, nothing answers. */
static int black_hole(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = inet_addr(IP1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_failover(void)
{
	const char *eps[] = {"http://" IP1 ":1", EP1};
	const char *dead[] = {"http://" IP1 ":2"};
	struct etcd_kv kv;
	etcd_client *c = NULL;
	etcd_watch *w = NULL;
	struct wctx x = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

	CU_ASSERT_EQUAL_FATAL(etcd_client_create(eps, 2, NULL, TIMEOUT_MS, &c), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(c, "/fo/a", "1", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(c, "/fo/a", &kv, NULL), MM_OK);
	etcd_kv_clear(&kv);
	/* a watch fails over too */
	CU_ASSERT_EQUAL(etcd_watch_start(c, "/fo/", 0, watch_cb, &x, &w), MM_OK);
	CU_ASSERT_EQUAL(etcd_put(c, "/fo/b", "1", 1, 0), MM_OK);
	CU_ASSERT_TRUE(wait_events(&x, 1, 5000));
	etcd_watch_stop(w);
	/* the endpoint list can change under a live client */
	CU_ASSERT_EQUAL(etcd_client_set_endpoints(c, dead, 1), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(c, "/fo/a", &kv, NULL), MM_EUNREACH);
	CU_ASSERT_EQUAL(etcd_watch_start(c, "/fo/", 0, watch_cb, &x, &w), MM_EUNREACH);
	CU_ASSERT_EQUAL(etcd_client_set_endpoints(c, eps, 2), MM_OK);
	CU_ASSERT_EQUAL(etcd_delete(c, "/fo/", true, NULL), MM_OK);
	etcd_client_destroy(c);
}

static void test_deadline(void)
{
	uint16_t port = 0;
	int fd = black_hole(&port);
	char ep[64];
	const char *eps[] = {ep};
	struct etcd_kv kv;
	etcd_client *c = NULL;
	etcd_watch *w = NULL;
	struct wctx x = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	uint64_t t0, dt;
	int rc;

	CU_ASSERT_FATAL(fd >= 0);
	snprintf(ep, sizeof(ep), "http://%s:%u", IP1, port);
	CU_ASSERT_EQUAL_FATAL(etcd_client_create(eps, 1, NULL, 700, &c), MM_OK);
	t0 = mm_now_ms();
	rc = etcd_get(c, "/x", &kv, NULL);
	dt = mm_now_ms() - t0;
	CU_ASSERT_EQUAL(rc, MM_ETIMEDOUT);
	CU_ASSERT_TRUE(dt >= 600 && dt < 1500);
	t0 = mm_now_ms();
	rc = etcd_txn(c, NULL, 0, NULL, 0, NULL, 0, &(bool){false});
	CU_ASSERT_EQUAL(rc, MM_ETIMEDOUT);
	CU_ASSERT_TRUE(mm_now_ms() - t0 < 1500);
	t0 = mm_now_ms();
	CU_ASSERT_NOT_EQUAL(etcd_watch_start(c, "/x", 0, watch_cb, &x, &w), MM_OK);
	CU_ASSERT_TRUE(mm_now_ms() - t0 < 1500);
	printf("(get on a silent endpoint: %s after %llu ms) ", mm_errname(rc),
	       (unsigned long long)dt);
	etcd_client_destroy(c);
	close(fd);
}

static void test_sup_restart(void)
{
	struct etcd_kv kv;
	int pid = etcd_sup_pid(sup1), pid2 = -1;
	unsigned r0 = etcd_sup_restarts(sup1);
	uint64_t until;

	struct wctx x = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	etcd_watch *w = NULL;

	CU_ASSERT_EQUAL(etcd_put(cli, "/restart/keep", "data", 4, 0), MM_OK);
	CU_ASSERT_EQUAL_FATAL(etcd_watch_start(cli, "/restart/", 0, watch_cb, &x, &w), MM_OK);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	until = mm_now_ms() + 5000;
	while (mm_now_ms() < until) {
		pid2 = etcd_sup_pid(sup1);
		if (pid2 > 0 && pid2 != pid)
			break;
		mm_sleep_ms(20);
	}
	CU_ASSERT(pid2 > 0 && pid2 != pid);
	CU_ASSERT_EQUAL(etcd_sup_restarts(sup1), r0 + 1);
	CU_ASSERT_TRUE(wait_ready(cli, 10000));
	CU_ASSERT_EQUAL(etcd_get(cli, "/restart/keep", &kv, NULL), MM_OK);
	CU_ASSERT_STRING_EQUAL(kv.value ? kv.value : "", "data");
	etcd_kv_clear(&kv);
	/* the watch reported the break once and resumed by itself */
	CU_ASSERT_EQUAL(etcd_put(cli, "/restart/new", "1", 1, 0), MM_OK);
	CU_ASSERT_TRUE(wait_events(&x, 1, 5000));
	pthread_mutex_lock(&x.lock);
	CU_ASSERT_EQUAL(x.errs, 1);
	CU_ASSERT_STRING_EQUAL(x.key[0], "/restart/new");
	pthread_mutex_unlock(&x.lock);
	etcd_watch_stop(w);
}

/* ---- suite etcd_cluster: TLS, and quorum loss ---- */

static etcd_sup *sup_tls, *sup_q1, *sup_q2;

static int cluster_cleanup(void)
{
	etcd_sup_stop(sup_tls, 2000);
	etcd_sup_stop(sup_q1, 1000);
	etcd_sup_stop(sup_q2, 1000);
	sup_tls = sup_q1 = sup_q2 = NULL;
	return 0;
}

static void test_tls(void)
{
	char ca[128], crt[128], key[128], bcrt[128], bkey[128], ca2[128];
	struct etcd_tls tls = {ca, crt, key}, notls_cert = {ca, NULL, NULL};
	struct etcd_tls wrong_ca = {ca2, crt, key}, other = {ca, bcrt, bkey};
	const char *ep = "https://" IP1 ":23792";
	struct etcd_kv kv;
	etcd_client *c;
	int rc;

	snprintf(ca, sizeof(ca), "%s/ca.crt", tmpdir);
	snprintf(crt, sizeof(crt), "%s/node.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/node.key", tmpdir);
	snprintf(ca2, sizeof(ca2), "%s/ca2.crt", tmpdir);
	snprintf(bcrt, sizeof(bcrt), "%s/bad.crt", tmpdir);
	snprintf(bkey, sizeof(bkey), "%s/bad.key", tmpdir);
	run_cmd("cd %s && exec >openssl.log 2>&1 && "
		"printf 'subjectAltName=IP:%s\\nextendedKeyUsage=serverAuth,clientAuth\\n' >ext && "
		"for c in ca ca2; do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		"-nodes -keyout $c.key -out $c.crt -days 2 -subj /CN=$c || exit 1; done && "
		"for p in node:ca bad:ca2; do n=${p%%:*}; a=${p#*:}; "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key "
		"-out $n.csr -subj /CN=$n && openssl x509 -req -in $n.csr -CA $a.crt -CAkey $a.key "
		"-CAcreateserial -days 2 -extfile ext -out $n.crt || exit 1; done",
		tmpdir, IP1);
	CU_ASSERT_EQUAL_FATAL(start_member(&sup_tls, "tls1", IP1, 23792, 23802, NULL, &tls), MM_OK);
	c = client_for(ep, &tls, TIMEOUT_MS);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_TRUE(wait_ready(c, 15000));
	CU_ASSERT_EQUAL(etcd_put(c, "/tls/a", "secret", 6, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_get(c, "/tls/a", &kv, NULL), MM_OK);
	CU_ASSERT_STRING_EQUAL(kv.value ? kv.value : "", "secret");
	etcd_kv_clear(&kv);
	etcd_client_destroy(c);

	/* no client certificate; a certificate of another CA; a wrong CA */
	c = client_for(ep, &notls_cert, TIMEOUT_MS);
	CU_ASSERT_FATAL(c != NULL);
	rc = etcd_get(c, "/tls/a", &kv, NULL);
	printf("(no client cert: %s) ", mm_errname(rc));
	CU_ASSERT_EQUAL(rc, MM_EAUTH);
	etcd_client_destroy(c);
	c = client_for(ep, &other, TIMEOUT_MS);
	rc = etcd_get(c, "/tls/a", &kv, NULL);
	printf("(foreign cert: %s) ", mm_errname(rc));
	CU_ASSERT_EQUAL(rc, MM_EAUTH);
	etcd_client_destroy(c);
	c = client_for(ep, &wrong_ca, TIMEOUT_MS);
	rc = etcd_get(c, "/tls/a", &kv, NULL);
	printf("(wrong CA: %s) ", mm_errname(rc));
	CU_ASSERT_EQUAL(rc, MM_EAUTH);
	etcd_client_destroy(c);
	/* plain http to a TLS port */
	c = client_for("http://" IP1 ":23792", NULL, TIMEOUT_MS);
	rc = etcd_get(c, "/tls/a", &kv, NULL);
	CU_ASSERT_NOT_EQUAL(rc, MM_OK);
	etcd_client_destroy(c);
	etcd_sup_stop(sup_tls, 2000);
	sup_tls = NULL;
}

static void test_no_quorum(void)
{
	const char *ic = "q1=http://127.0.8.2:23803,q2=http://127.0.8.3:23804";
	struct wctx x = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	etcd_client *c1, *c2;
	etcd_watch *w = NULL;
	struct etcd_kv kv;
	uint64_t t0, dt;
	int64_t lease;
	int rc;

	CU_ASSERT_EQUAL_FATAL(start_member(&sup_q1, "q1", "127.0.8.2", 23793, 23803, ic, NULL),
			      MM_OK);
	CU_ASSERT_EQUAL_FATAL(start_member(&sup_q2, "q2", "127.0.8.3", 23794, 23804, ic, NULL),
			      MM_OK);
	c1 = client_for("http://127.0.8.2:23793", NULL, TIMEOUT_MS);
	c2 = client_for("http://127.0.8.3:23794", NULL, TIMEOUT_MS);
	CU_ASSERT_TRUE(wait_ready(c1, 15000));
	CU_ASSERT_TRUE(wait_ready(c2, 5000));
	CU_ASSERT_EQUAL(etcd_put(c1, "/q/a", "1", 1, 0), MM_OK);
	CU_ASSERT_EQUAL(etcd_lease_grant(c1, 10, &lease), MM_OK);
	CU_ASSERT_EQUAL_FATAL(etcd_watch_start(c1, "/q/", 0, watch_cb, &x, &w), MM_OK);

	etcd_sup_stop(sup_q2, 1000);
	sup_q2 = NULL;
	t0 = mm_now_ms();
	pthread_mutex_lock(&x.lock);
	while (x.errs == 0 && mm_now_ms() - t0 < 3000) {
		pthread_mutex_unlock(&x.lock);
		mm_sleep_ms(10);
		pthread_mutex_lock(&x.lock);
	}
	printf("(watch break after %llu ms: %s) ", (unsigned long long)(mm_now_ms() - t0),
	       mm_errname(x.last_err));
	CU_ASSERT_EQUAL(x.errs, 1);
	CU_ASSERT_EQUAL(x.last_err, MM_ENOQUORUM);
	pthread_mutex_unlock(&x.lock);
	etcd_watch_stop(w);
	mm_sleep_ms(300);	/* > election timeout: q1 knows it has no leader */
	t0 = mm_now_ms();
	rc = etcd_get(c1, "/q/a", &kv, NULL);
	dt = mm_now_ms() - t0;
	printf("(read without quorum: %s after %llu ms) ", mm_errname(rc),
	       (unsigned long long)dt);
	CU_ASSERT(rc == MM_ENOQUORUM || rc == MM_ETIMEDOUT);
	CU_ASSERT_TRUE(dt <= TIMEOUT_MS + 500);
	t0 = mm_now_ms();
	rc = etcd_put(c1, "/q/a", "2", 1, 0);
	dt = mm_now_ms() - t0;
	printf("(put: %s after %llu ms) ", mm_errname(rc), (unsigned long long)dt);
	CU_ASSERT(rc == MM_ENOQUORUM || rc == MM_ETIMEDOUT);
	rc = etcd_lease_keepalive(c1, lease, NULL);
	printf("(keepalive: %s) ", mm_errname(rc));
	CU_ASSERT(rc == MM_ENOQUORUM || rc == MM_ETIMEDOUT);
	etcd_client_destroy(c1);
	etcd_client_destroy(c2);
	/* a member without quorum: SIGTERM may not be enough */
	t0 = mm_now_ms();
	etcd_sup_stop(sup_q1, 1000);
	sup_q1 = NULL;
	CU_ASSERT_TRUE(mm_now_ms() - t0 < 3000);
}

static void register_tests(void)
{
	static const struct mm_test parse_tests[] = {
		{"base64", test_b64},
		{"prefix_end", test_prefix_end},
		{"parse_range", test_parse_range},
		{"parse_errors", test_parse_errors},
		{"parse_misc", test_parse_misc},
		{"stream_split", test_jsplit},
	};
	static const struct mm_test etcd_tests[] = {
		{"kv", test_kv},
		{"txn_cas", test_txn},
		{"lease", test_lease},
		{"watch", test_watch},
		{"members", test_members},
		{"failover", test_failover},
		{"deadline", test_deadline},
		{"sup_restart", test_sup_restart},
	};
	static const struct mm_test cluster_tests[] = {
		{"tls", test_tls},
		{"no_quorum", test_no_quorum},
	};
	CU_pSuite s;

	MM_ADD_SUITE("etcd_parse", parse_tests);
	s = CU_add_suite("etcd", etcd_init, etcd_cleanup);
	for (size_t i = 0; i < MM_ARRAY_SIZE(etcd_tests); i++)
		CU_add_test(s, etcd_tests[i].name, etcd_tests[i].fn);
	s = CU_add_suite("etcd_cluster", ensure_tmpdir, cluster_cleanup);
	for (size_t i = 0; i < MM_ARRAY_SIZE(cluster_tests); i++)
		CU_add_test(s, cluster_tests[i].name, cluster_tests[i].fn);
}

static void cleanup_at_exit(void)
{
	char cmd[128];

	etcd_cleanup();
	cluster_cleanup();
	if (tmpdir[0] && !getenv("MMFS_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	curl_global_cleanup();
}

static void register_all(void)
{
	mm_log_set_level(getenv("MMFS_TEST_VERBOSE") ? MM_LOG_DEBUG : MM_LOG_ERROR);
	atexit(cleanup_at_exit);
	register_tests();
}

MM_CUNIT_MAIN(register_all)
