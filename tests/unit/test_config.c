/* tests/unit/test_config.c - config/: attribute table and validation,
 * cfg_set, settings files, node descriptors, cluster definitions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "config/config.h"
#include "tests/unit/cunit_main.h"

static char tmpdir[] = "/tmp/mmfs-test-config-XXXXXX";

/* <hay> contains <needle>; prints both when not. */
static int contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return 1;
	fprintf(stderr, "\n  expected \"%s\"\n  in       \"%s\"\n", needle, hay);
	return 0;
}

static int equals(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n  expected \"%s\"\n  got      \"%s\"\n", want, got);
	return 0;
}

#define CU_ASSERT_CONTAINS(h, n) CU_ASSERT_TRUE(contains((h), (n)))
#define CU_ASSERT_STR(g, w) CU_ASSERT_TRUE(equals((g), (w)))

/* Write <text> to <tmpdir>/<name>; returns the path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return path;
	fputs(text, f);
	fclose(f);
	return path;
}

/* validate <value> for attribute <name>; returns rc, canon/err filled */
static int val(const char *name, const char *value, char *canon, char *err)
{
	const struct cfg_attr *a = cfg_attr_find(name);

	canon[0] = err[0] = '\0';
	if (!a)
		return -999;
	return cfg_attr_validate(a, value, canon, 256, "mmchconfig", err, 512);
}

/* ---- attribute table ---- */

static void test_table(void)
{
	size_t n = cfg_attr_count();
	char canon[256], err[512];

	CU_ASSERT_TRUE(n >= 39);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_attr *a = cfg_attr_at(i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		if (i > 0 && strcasecmp(cfg_attr_at(i - 1)->name, a->name) >= 0)
			CU_FAIL("table not sorted");
		CU_ASSERT_TRUE(a->help && a->help[0]);
		CU_ASSERT_PTR_EQUAL(cfg_attr_find(a->name), a);
		if (a->type == CFG_ENUM)
			CU_ASSERT_PTR_NOT_NULL(a->choices);
		if (a->type == CFG_INT || a->type == CFG_SIZE)
			CU_ASSERT_TRUE(a->min <= a->max);
		/* the default is valid and already canonical */
		CU_ASSERT_EQUAL(cfg_attr_validate(a, a->def, canon, sizeof(canon),
						  "t", err, sizeof(err)), MM_OK);
		if (strcmp(canon, a->def) != 0)
			fprintf(stderr, "\n  %s default %s -> %s (%s)\n", a->name,
				a->def, canon, err);
		CU_ASSERT_STRING_EQUAL(canon, a->def);
	}
	CU_ASSERT_PTR_NULL(cfg_attr_at(n));
	CU_ASSERT_PTR_NOT_NULL(cfg_attr_find("PAGEPOOL"));
	CU_ASSERT_STRING_EQUAL(cfg_attr_find("PAGEPOOL")->name, "pagepool");
	CU_ASSERT_STRING_EQUAL(cfg_attr_find("maxmbps")->name, "maxMBpS");
	CU_ASSERT_PTR_NULL(cfg_attr_find("pagepol"));
	CU_ASSERT_PTR_NULL(cfg_attr_find(""));
	CU_ASSERT_PTR_NULL(cfg_attr_find(NULL));
	/* a few GPFS defaults */
	CU_ASSERT_STRING_EQUAL(cfg_attr_find("pagepool")->def, "1G");
	CU_ASSERT_TRUE(cfg_attr_find("pagepool")->dynamic);
	CU_ASSERT_EQUAL(cfg_attr_find("pagepool")->scope, CFG_SCOPE_NODE);
	CU_ASSERT_FALSE(cfg_attr_find("maxblocksize")->dynamic);
	CU_ASSERT_STRING_EQUAL(cfg_attr_find("cipherList")->def, "AUTHONLY");
	CU_ASSERT_STRING_EQUAL(cfg_attr_find("useNSDserver")->def, "asneeded");
	CU_ASSERT_EQUAL(cfg_attr_find("failureDetectionTime")->min, 2);
}

static void test_validate_int(void)
{
	char c[256], e[512];

	CU_ASSERT_EQUAL(val("failureDetectionTime", "10", c, e), MM_OK);
	CU_ASSERT_STR(c, "10");
	CU_ASSERT_EQUAL(val("failureDetectionTime", " 2 ", c, e), MM_OK);
	CU_ASSERT_STR(c, "2");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "+300", c, e), MM_OK);
	CU_ASSERT_STR(c, "300");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "1", c, e), MM_ERANGE);
	CU_ASSERT_STR(e, "mmchconfig: failureDetectionTime: 1 is below the minimum 2");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "301", c, e), MM_ERANGE);
	CU_ASSERT_STR(e, "mmchconfig: failureDetectionTime: 301 is above the maximum 300");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "-5", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("failureDetectionTime", "abc", c, e), MM_EINVAL);
	CU_ASSERT_STR(e, "mmchconfig: failureDetectionTime: \"abc\" is not an integer");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "1.5", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("failureDetectionTime", "", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("failureDetectionTime", "10s", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("failureDetectionTime", "99999999999999999999", c, e), MM_ERANGE);
	CU_ASSERT_CONTAINS(e, "out of range");
	CU_ASSERT_EQUAL(val("failureDetectionTime", "DEFAULT", c, e), MM_OK);
	CU_ASSERT_STR(c, "35");
	CU_ASSERT_EQUAL(val("tscTcpPort", "65535", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("tscTcpPort", "65536", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("tscTcpPort", "0", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("prefetchPct", "60", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("prefetchPct", "61", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("maxTcpConnsPerNodeConn", "9", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("ccrHeartbeatMs", "9", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("ccrElectionTimeoutMs", "10000", c, e), MM_OK);
	/* a NULL source leaves the prefix out */
	CU_ASSERT_EQUAL(cfg_attr_validate(cfg_attr_find("prefetchPct"), "0", c,
					  sizeof(c), NULL, e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_STR(e, "prefetchPct: 0 is below the minimum 1");
	/* too small a canon buffer */
	CU_ASSERT_EQUAL(cfg_attr_validate(cfg_attr_find("prefetchPct"), "20", c,
					  2, NULL, e, sizeof(e)), MM_ETOOBIG);
}

static void test_validate_size(void)
{
	char c[256], e[512];

	CU_ASSERT_EQUAL(val("pagepool", "512m", c, e), MM_OK);
	CU_ASSERT_STR(c, "512M");
	CU_ASSERT_EQUAL(val("pagepool", "4G", c, e), MM_OK);
	CU_ASSERT_STR(c, "4G");
	CU_ASSERT_EQUAL(val("pagepool", "4GiB", c, e), MM_OK);
	CU_ASSERT_STR(c, "4G");
	CU_ASSERT_EQUAL(val("pagepool", "0512M", c, e), MM_OK);
	CU_ASSERT_STR(c, "512M");
	CU_ASSERT_EQUAL(val("pagepool", "4194304", c, e), MM_OK);
	CU_ASSERT_STR(c, "4194304");
	CU_ASSERT_EQUAL(val("pagepool", "4M", c, e), MM_OK);	/* min */
	CU_ASSERT_EQUAL(val("pagepool", "256G", c, e), MM_OK);	/* max */
	CU_ASSERT_EQUAL(val("pagepool", "12X", c, e), MM_EINVAL);
	CU_ASSERT_STR(e, "mmchconfig: pagepool: \"12X\" is not a size (use e.g. 512M, 4G)");
	CU_ASSERT_EQUAL(val("pagepool", "M", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("pagepool", "-1G", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("pagepool", "1M", c, e), MM_ERANGE);
	CU_ASSERT_STR(e, "mmchconfig: pagepool: 1M is below the minimum 4M");
	CU_ASSERT_EQUAL(val("pagepool", "257G", c, e), MM_ERANGE);
	CU_ASSERT_STR(e, "mmchconfig: pagepool: 257G is above the maximum 256G");
	CU_ASSERT_EQUAL(val("pagepool", "99999999T", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("pagepool", "default", c, e), MM_OK);
	CU_ASSERT_STR(c, "1G");
	CU_ASSERT_EQUAL(val("maxblocksize", "32K", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("maxblocksize", "16M", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("maxblocksize", "32M", c, e), MM_ERANGE);
	CU_ASSERT_EQUAL(val("seqDiscardThreshold", "0", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("writebehindThreshold", "512k", c, e), MM_OK);
	CU_ASSERT_STR(c, "512K");
}

static void test_validate_bool_enum(void)
{
	char c[256], e[512];

	CU_ASSERT_EQUAL(val("autoload", "YES", c, e), MM_OK);
	CU_ASSERT_STR(c, "yes");
	CU_ASSERT_EQUAL(val("autoload", "true", c, e), MM_OK);
	CU_ASSERT_STR(c, "yes");
	CU_ASSERT_EQUAL(val("autoload", "1", c, e), MM_OK);
	CU_ASSERT_STR(c, "yes");
	CU_ASSERT_EQUAL(val("autoload", "False", c, e), MM_OK);
	CU_ASSERT_STR(c, "no");
	CU_ASSERT_EQUAL(val("autoload", "0", c, e), MM_OK);
	CU_ASSERT_STR(c, "no");
	CU_ASSERT_EQUAL(val("autoload", "maybe", c, e), MM_EINVAL);
	CU_ASSERT_STR(e, "mmchconfig: autoload: \"maybe\" is not yes or no");
	CU_ASSERT_EQUAL(val("autoload", "DeFaUlT", c, e), MM_OK);
	CU_ASSERT_STR(c, "no");

	CU_ASSERT_EQUAL(val("verbsRdma", "ENABLE", c, e), MM_OK);
	CU_ASSERT_STR(c, "enable");
	CU_ASSERT_EQUAL(val("verbsRdma", "on", c, e), MM_EINVAL);
	CU_ASSERT_STR(e, "mmchconfig: verbsRdma: \"on\" is not one of enable, disable");
	CU_ASSERT_EQUAL(val("mmfsLogLevel", "Warning", c, e), MM_OK);
	CU_ASSERT_STR(c, "warning");
	CU_ASSERT_EQUAL(val("useNSDserver", "asfound", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("useNSDserver", "sometimes", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("readReplicaPolicy", "DEFAULT", c, e), MM_OK);
	CU_ASSERT_STR(c, "default");
	CU_ASSERT_EQUAL(val("readReplicaPolicy", "fastest", c, e), MM_OK);
}

static void test_validate_string(void)
{
	char c[256], e[512], big[400];

	CU_ASSERT_EQUAL(val("cipherList", "authonly", c, e), MM_OK);
	CU_ASSERT_STR(c, "AUTHONLY");
	CU_ASSERT_EQUAL(val("cipherList", "EMPTY", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("cipherList", "aes256-gcm-sha384", c, e), MM_OK);
	CU_ASSERT_STR(c, "AES256-GCM-SHA384");
	CU_ASSERT_EQUAL(val("cipherList", "tls_aes_128_gcm_sha256", c, e), MM_OK);
	CU_ASSERT_STR(c, "TLS_AES_128_GCM_SHA256");
	CU_ASSERT_EQUAL(val("cipherList", "RC4-MD5", c, e), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "mmchconfig: cipherList: \"RC4-MD5\" is not a cipher list");
	CU_ASSERT_EQUAL(val("cipherList", "TLS_", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("cipherList", "TLS_A B", c, e), MM_EINVAL);

	CU_ASSERT_EQUAL(val("dataStructureDump", "/var/mmfs/dump", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("dataStructureDump", "dump", c, e), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "not an absolute path");

	CU_ASSERT_EQUAL(val("minReleaseLevel", "5.1.0.0", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("minReleaseLevel", "5", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("minReleaseLevel", "", c, e), MM_OK);
	CU_ASSERT_EQUAL(val("minReleaseLevel", "5.x", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("minReleaseLevel", "5.1.", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("minReleaseLevel", "1.2.3.4.5", c, e), MM_EINVAL);

	CU_ASSERT_EQUAL(val("tiebreakerDisks", "nsd1; nsd2;nsd3", c, e), MM_OK);
	CU_ASSERT_STR(c, "nsd1;nsd2;nsd3");
	CU_ASSERT_EQUAL(val("tiebreakerDisks", "no", c, e), MM_OK);
	CU_ASSERT_STR(c, "");
	CU_ASSERT_EQUAL(val("tiebreakerDisks", "a;b;c;d", c, e), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "more than 3");
	CU_ASSERT_EQUAL(val("tiebreakerDisks", "a;a", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("tiebreakerDisks", "a;", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("tiebreakerDisks", "a,b", c, e), MM_EINVAL);

	CU_ASSERT_EQUAL(val("verbsPorts", "mlx5_0/1   mlx5_1/1/2", c, e), MM_OK);
	CU_ASSERT_STR(c, "mlx5_0/1 mlx5_1/1/2");
	CU_ASSERT_EQUAL(val("verbsPorts", "mlx5_0/x", c, e), MM_EINVAL);
	CU_ASSERT_EQUAL(val("verbsPorts", "mlx5_0//1", c, e), MM_EINVAL);

	/* control characters and length */
	CU_ASSERT_EQUAL(val("verbsPorts", "a\nb", c, e), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "\"a\\x0ab\" contains a control character");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(val("minReleaseLevel", big, c, e), MM_ETOOBIG);
	CU_ASSERT_CONTAINS(e, "longer than 255");
	big[255] = '\0';
	CU_ASSERT_EQUAL(val("verbsPorts", big, c, e), MM_OK);
}

/* ---- cfg_set ---- */

static void test_set_basic(void)
{
	cfg_set *s = cfg_set_new();
	char buf[256], e[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(cfg_get_size(s, "pagepool"), 1ull << 30);
	CU_ASSERT_EQUAL(cfg_get_int(s, "failureDetectionTime"), 35);
	CU_ASSERT_FALSE(cfg_get_bool(s, "autoload"));
	CU_ASSERT_TRUE(cfg_is_default(s, "pagepool"));

	CU_ASSERT_EQUAL(cfg_set_value(s, "PagePool", "512m", "mmchconfig", e,
				      sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_get(s, "pagepool", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "512M");
	CU_ASSERT_EQUAL(cfg_get_size(s, "PAGEPOOL"), 512ull << 20);
	CU_ASSERT_FALSE(cfg_is_default(s, "pagepool"));
	CU_ASSERT_EQUAL(cfg_set_value(s, "autoload", "yes", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(cfg_get_bool(s, "autoload"));
	CU_ASSERT_EQUAL(cfg_set_value(s, "failureDetectionTime", "10", "x", e,
				      sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_get_int(s, "failureDetectionTime"), 10);

	/* a bad value leaves the old one */
	CU_ASSERT_EQUAL(cfg_set_value(s, "pagepool", "12X", "mmchconfig", e,
				      sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "mmchconfig: pagepool: \"12X\" is not a size (use e.g. 512M, 4G)");
	CU_ASSERT_EQUAL(cfg_get_size(s, "pagepool"), 512ull << 20);
	CU_ASSERT_EQUAL(cfg_set_value(s, "failureDetectionTime", "1", "mmchconfig",
				      e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_STR(e, "mmchconfig: failureDetectionTime: 1 is below the minimum 2");

	/* DEFAULT resets */
	CU_ASSERT_EQUAL(cfg_set_value(s, "pagepool", "DEFAULT", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(cfg_is_default(s, "pagepool"));
	CU_ASSERT_EQUAL(cfg_get_size(s, "pagepool"), 1ull << 30);

	/* buffer too small, unknown names */
	CU_ASSERT_EQUAL(cfg_get(s, "pagepool", buf, 2), MM_ETOOBIG);
	CU_ASSERT_EQUAL(cfg_get(s, "nosuch", buf, sizeof(buf)), MM_ENOENT);

	/* wrong type or unknown: 0 / false and an error in the log */
	CU_ASSERT_EQUAL(cfg_get_int(s, "pagepool"), 0);
	CU_ASSERT_EQUAL(cfg_get_size(s, "failureDetectionTime"), 0);
	CU_ASSERT_FALSE(cfg_get_bool(s, "pagepool"));
	CU_ASSERT_EQUAL(cfg_get_int(s, "nosuch"), 0);
	CU_ASSERT_EQUAL(cfg_get_size(s, NULL), 0);
	CU_ASSERT_FALSE(cfg_is_default(s, "nosuch"));
	cfg_set_free(s);
	cfg_set_free(NULL);
}

static void test_did_you_mean(void)
{
	cfg_set *s = cfg_set_new();
	char e[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(cfg_set_value(s, "pagepol", "1G", "mmchconfig", e,
				      sizeof(e)), MM_ENOENT);
	CU_ASSERT_STR(e, "mmchconfig: unknown attribute \"pagepol\"; did you mean pagepool?");
	CU_ASSERT_EQUAL(cfg_set_value(s, "workerThreads", "8", "mmchconfig", e,
				      sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "did you mean worker1Threads?");
	CU_ASSERT_EQUAL(cfg_set_value(s, "failureDetetcionTime", "8", "mmchconfig",
				      e, sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "did you mean failureDetectionTime?");
	CU_ASSERT_EQUAL(cfg_set_value(s, "zzzzzzzz", "8", "mmchconfig", e,
				      sizeof(e)), MM_ENOENT);
	CU_ASSERT_STR(e, "mmchconfig: unknown attribute \"zzzzzzzz\"");
	cfg_set_free(s);
}

static void test_set_check(void)
{
	cfg_set *s = cfg_set_new();
	char e[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(cfg_set_check(s, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_value(s, "ccrHeartbeatMs", "300", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_check(s, e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "ccrElectionTimeoutMs (1000) must be at least 5 x ccrHeartbeatMs (300)");
	CU_ASSERT_EQUAL(cfg_set_value(s, "ccrElectionTimeoutMs", "1500", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_check(s, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_value(s, "nsdMinWorkerThreads", "600", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_check(s, e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "nsdMinWorkerThreads (600) must not exceed nsdMaxWorkerThreads (512)");
	CU_ASSERT_EQUAL(cfg_set_value(s, "nsdMinWorkerThreads", "DEFAULT", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_value(s, "minMissedPingTimeout", "100", "x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_set_check(s, e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "minMissedPingTimeout (100) must not exceed maxMissedPingTimeout (60)");
	cfg_set_free(s);
}

struct thr_arg {
	cfg_set *s;
	int bad;
};

static void *writer(void *p)
{
	struct thr_arg *a = p;
	char e[256];

	for (int i = 0; i < 20000; i++)
		if (cfg_set_value(a->s, "pagepool", i % 2 ? "512M" : "2G", "t", e,
				  sizeof(e)) != MM_OK)
			a->bad++;
	return NULL;
}

static void *reader(void *p)
{
	struct thr_arg *a = p;
	char buf[64];

	for (int i = 0; i < 20000; i++) {
		uint64_t v = cfg_get_size(a->s, "pagepool");

		if (v != 512ull << 20 && v != 2ull << 30 && v != 1ull << 30)
			a->bad++;
		if (cfg_get(a->s, "pagepool", buf, sizeof(buf)) != MM_OK ||
		    (strcmp(buf, "512M") && strcmp(buf, "2G") && strcmp(buf, "1G")))
			a->bad++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct thr_arg a = {cfg_set_new(), 0}, b = {a.s, 0};
	pthread_t t1, t2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a.s);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t1, NULL, writer, &a), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t2, NULL, reader, &b), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CU_ASSERT_EQUAL(a.bad, 0);
	CU_ASSERT_EQUAL(b.bad, 0);
	CU_ASSERT_EQUAL(cfg_get_size(a.s, "pagepool"), 512ull << 20);
	cfg_set_free(a.s);
}

/* ---- settings files ---- */

static void test_load_ok(void)
{
	cfg_set *s = cfg_set_new();
	char e[512], buf[256];
	const char *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	p = write_tmp("ok.cfg",
		      "# local settings\n"
		      "attributes = {\n"
		      "  pagepool = \"512m\";\n"
		      "  failureDetectionTime = 10;\n"
		      "  autoload = true;\n"
		      "  maxMBpS = 5000000000L;\n"		/* out of range */
		      "};\n");
	CU_ASSERT_EQUAL(cfg_load_file(s, p, e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_CONTAINS(e, "ok.cfg:6: maxMBpS: 5000000000 is above the maximum 100000");
	CU_ASSERT_TRUE(cfg_is_default(s, "pagepool"));	/* all or nothing */

	p = write_tmp("ok.cfg",
		      "# local settings\n"
		      "attributes = {\n"
		      "  pagepool = \"512m\";\n"
		      "  failureDetectionTime = 10;\n"
		      "  autoload = true;\n"
		      "  maxMBpS = 4000L;\n"
		      "  VERBSRDMA = \"enable\";\n"
		      "};\n"
		      "nodeName = \"gpfs01\";\n"
		      "clusterDef = \"/var/mmfs/gen/mmsdrfs\";\n");
	CU_ASSERT_EQUAL(cfg_load_file(s, p, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_get_size(s, "pagepool"), 512ull << 20);
	CU_ASSERT_EQUAL(cfg_get(s, "pagepool", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "512M");
	CU_ASSERT_EQUAL(cfg_get_int(s, "failureDetectionTime"), 10);
	CU_ASSERT_TRUE(cfg_get_bool(s, "autoload"));
	CU_ASSERT_EQUAL(cfg_get_int(s, "maxMBpS"), 4000);
	CU_ASSERT_EQUAL(cfg_get(s, "verbsRdma", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "enable");
	CU_ASSERT_EQUAL(cfg_local_get(s, "nodeName", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "gpfs01");
	CU_ASSERT_EQUAL(cfg_local_get(s, "clusterDef", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_EQUAL(cfg_local_get(s, "clusterDef", buf, 4), MM_ETOOBIG);
	CU_ASSERT_EQUAL(cfg_local_get(s, "nosuch", buf, sizeof(buf)), MM_ENOENT);

	/* a second file overrides what it names and keeps the rest */
	p = write_tmp("two.cfg", "attributes = { pagepool = \"2G\"; };\n"
		      "nodeName = \"gpfs02\";\n");
	CU_ASSERT_EQUAL(cfg_load_file(s, p, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_get_size(s, "pagepool"), 2ull << 30);
	CU_ASSERT_EQUAL(cfg_get_int(s, "failureDetectionTime"), 10);
	CU_ASSERT_EQUAL(cfg_local_get(s, "nodeName", buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "gpfs02");

	/* empty file: nothing changes */
	p = write_tmp("empty.cfg", "# nothing\n");
	CU_ASSERT_EQUAL(cfg_load_file(s, p, e, sizeof(e)), MM_OK);
	cfg_set_free(s);
}

/* Load <text>; expect <rc> and <msg> (after "<tmpdir>/bad.cfg") in err. */
static void load_bad(const char *text, int rc, const char *msg)
{
	cfg_set *s = cfg_set_new();
	char e[512], want[512];
	const char *p = write_tmp("bad.cfg", text);

	snprintf(want, sizeof(want), "%s%s", p, msg);
	CU_ASSERT_EQUAL(cfg_load_file(s, p, e, sizeof(e)), rc);
	CU_ASSERT_CONTAINS(e, want);
	/* nothing was applied */
	CU_ASSERT_TRUE(cfg_is_default(s, "pagepool"));
	cfg_set_free(s);
}

static void test_load_errors(void)
{
	char e[512];
	cfg_set *s = cfg_set_new();

	/* libconfig syntax error, with its line */
	load_bad("attributes = {\n  pagepool = \"1G\";\n  autoload = ;\n};\n",
		 MM_EINVAL, ":3: syntax error");
	/* unknown attribute with a suggestion */
	load_bad("attributes = {\n  pagepool = \"1G\";\n\n  pagepol = \"1G\";\n};\n",
		 MM_ENOENT, ":4: unknown attribute \"pagepol\"; did you mean pagepool?");
	/* bad value on line 7 */
	load_bad("attributes = {\n\n\n\n\n  autoload = yes;\n  pagepool = \"12X\";\n};\n",
		 MM_EINVAL, ":6: syntax error");
	load_bad("attributes = {\n\n\n\n\n  autoload = true;\n  pagepool = \"12X\";\n};\n",
		 MM_EINVAL, ":7: pagepool: \"12X\" is not a size (use e.g. 512M, 4G)");
	load_bad("attributes = {\n  failureDetectionTime = 1;\n};\n",
		 MM_ERANGE, ":2: failureDetectionTime: 1 is below the minimum 2");
	/* unknown top-level group */
	load_bad("atributes = { pagepool = \"1G\"; };\n",
		 MM_EINVAL, ":1: unknown group \"atributes\"; did you mean attributes?");
	load_bad("\nfoo = ( 1, 2 );\n", MM_EINVAL, ":2: unknown group \"foo\"");
	/* top-level non-string */
	load_bad("pagepool = 5;\n", MM_EINVAL, ":1: top-level setting \"pagepool\" must be a string");
	/* attributes of the wrong shape */
	load_bad("attributes = ( 1 );\n", MM_EINVAL, ":1: attributes must be a group");
	load_bad("attributes = { pagepool = 1.5; };\n", MM_EINVAL, ":1: pagepool: 1.5 is not allowed");
	load_bad("attributes = { pagepool = { a = 1; }; };\n", MM_EINVAL,
		 ":1: pagepool: must be a string, an integer or a boolean");
	/* the same attribute twice, spelled differently */
	load_bad("attributes = {\n pagepool = \"1G\";\n PAGEPOOL = \"2G\";\n};\n",
		 MM_EINVAL, ":3: pagepool: set twice (also on line 2)");
	/* integers libconfig would truncate */
	load_bad("attributes = {\n pagepool = 5000000000;\n};\n", MM_ERANGE,
		 ":2: integer \"5000000000\" does not fit in 32 bits");
	load_bad("attributes = { maxMBpS = 0xffffffff; };\n", MM_ERANGE,
		 ":1: integer \"0xffffffff\" does not fit in 32 bits");
	load_bad("attributes = { maxMBpS = 99999999999999999999L; };\n", MM_ERANGE,
		 ":1: integer \"99999999999999999999L\" does not fit in 64 bits");
	/* @include */
	load_bad("\n@include \"/etc/passwd\"\n", MM_EINVAL, ":2: @include is not supported");
	/* cross-attribute rule over the whole file */
	load_bad("attributes = { ccrHeartbeatMs = 500; };\n", MM_EINVAL,
		 ": ccrElectionTimeoutMs (1000) must be at least 5 x ccrHeartbeatMs (500)");
	/* local string with a control character */
	load_bad("nodeName = \"a\\nb\";\n", MM_EINVAL, ":1: nodeName: \"a\\x0ab\" contains a control character");

	/* but strings with '#', numbers in strings and comments are fine */
	CU_ASSERT_EQUAL(cfg_load_file(s, write_tmp("c.cfg",
		"// comment 5000000000\n/* 99999999999 */\n"
		"nodeName = \"x 5000000000 # y\";\n"
		"attributes = { ccrElectionTimeoutMs = 2000; ccrHeartbeatMs = 400; };\n"),
		e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(cfg_get_int(s, "ccrHeartbeatMs"), 400);

	/* missing file */
	CU_ASSERT_EQUAL(cfg_load_file(s, "/nonexistent/x.cfg", e, sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "/nonexistent/x.cfg: cannot read");
	cfg_set_free(s);
}

/* Parse <text> as a cluster definition; returns rc, message in e. */
static int cluster_try(const char *text, char *e, size_t esz)
{
	struct cfg_cluster c;
	int rc;

	cfg_cluster_init(&c);
	e[0] = '\0';
	rc = cfg_cluster_parse(&c, text, "s", e, esz);
	cfg_cluster_free(&c);
	return rc;
}

/* What libconfig 1.5 would get wrong or leak on is refused before it
 * runs (config/lcsyntax.c); messages look like libconfig's. */
static void test_lc_syntax(void)
{
	char e[512];

	/* syntax errors whose offending token is a string (libconfig leaks) */
	CU_ASSERT_EQUAL(cluster_try("a = 1 \"x\";", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	CU_ASSERT_EQUAL(cluster_try("a = 1;\n\n\"x\n\ny\" = 2;", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:5: syntax error");	/* where the string ends */
	/* a comment at the very end needs a newline, as in libconfig */
	CU_ASSERT_EQUAL(cluster_try("a = 1; # c", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	/* an unterminated string at the end is dropped, as in libconfig
	 * (then "a" is an unknown setting) */
	CU_ASSERT_EQUAL(cluster_try("a = 1; \"abc", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: unknown setting \"a\"");
	/* no trailing commas in libconfig 1.5 lists */
	CU_ASSERT_EQUAL(cluster_try("a = ( 1, );", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	CU_ASSERT_EQUAL(cluster_try("a = 1;;", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	CU_ASSERT_EQUAL(cluster_try("a = 1.5L;", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	CU_ASSERT_EQUAL(cluster_try("a = \xff;", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: syntax error");
	/* what libconfig itself reports, through libconfig */
	CU_ASSERT_EQUAL(cluster_try("a = 1;\na = 2;", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:2: duplicate setting name");
	CU_ASSERT_EQUAL(cluster_try("a = [1, \"x\"];", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: mismatched element type in array");
	/* valid libconfig: separators optional, ':' for '=', comments */
	CU_ASSERT_EQUAL(cluster_try("a : 1 b = .5e3, c = [0x10, 2] /* x\n */ d = \"\\\"\" "
				    "\"y\" // z\n", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: unknown setting \"a\"");
	/* 64-bit integers: L suffix; beyond 64 bits, refused */
	CU_ASSERT_EQUAL(cluster_try("a = -2147483648; b = 9223372036854775807L;"
				    "c = -9223372036854775808L; d = 0x7fffffffffffffffL;",
				    e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "s:1: unknown setting \"a\"");
	CU_ASSERT_EQUAL(cluster_try("a = -2147483649;", e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_CONTAINS(e, "s:1: integer \"-2147483649\" does not fit in 32 bits");
	CU_ASSERT_EQUAL(cluster_try("a = 9223372036854775808L;", e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_CONTAINS(e, "does not fit in 64 bits");
	CU_ASSERT_EQUAL(cluster_try("\n\na = 0x8000000000000000L;", e, sizeof(e)), MM_ERANGE);
	CU_ASSERT_CONTAINS(e, "s:3: integer \"0x8000000000000000L\" does not fit in 64 bits");
	/* deep nesting */
	{
		char deep[300];

		memset(deep, '(', sizeof(deep));
		memcpy(deep, "a = ", 4);
		deep[sizeof(deep) - 1] = '\0';
		CU_ASSERT_EQUAL(cluster_try(deep, e, sizeof(e)), MM_ETOOBIG);
		CU_ASSERT_CONTAINS(e, "s:1: nested more than");
	}
}

/* ---- node descriptors ---- */

static void test_node_list_ok(void)
{
	struct cfg_node_desc *d;
	size_t n;
	char e[512];

	CU_ASSERT_EQUAL_FATAL(cfg_parse_node_list(
		"n1:quorum-manager, n2 ,n3:client:n3-admin.example.com,"
		"n4:manager-quorum,n5:quorum,n6:nonquorum-manager,10.0.0.7,"
		"[fe80::1]:quorum:[::1],2001:db8::9,n8::n8a",
		&d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(n, 10);
	CU_ASSERT_STRING_EQUAL(d[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(d[0].admin, "n1");
	CU_ASSERT_TRUE(d[0].quorum && d[0].manager);
	CU_ASSERT_STRING_EQUAL(d[1].name, "n2");
	CU_ASSERT_FALSE(d[1].quorum || d[1].manager);
	CU_ASSERT_STRING_EQUAL(d[2].admin, "n3-admin.example.com");
	CU_ASSERT_FALSE(d[2].quorum || d[2].manager);
	CU_ASSERT_TRUE(d[3].quorum && d[3].manager);
	CU_ASSERT_TRUE(d[4].quorum && !d[4].manager);
	CU_ASSERT_TRUE(!d[5].quorum && d[5].manager);
	CU_ASSERT_STRING_EQUAL(d[6].name, "10.0.0.7");
	CU_ASSERT_STRING_EQUAL(d[7].name, "fe80::1");
	CU_ASSERT_STRING_EQUAL(d[7].admin, "::1");
	CU_ASSERT_TRUE(d[7].quorum);
	CU_ASSERT_STRING_EQUAL(d[8].name, "2001:db8::9");
	CU_ASSERT_STRING_EQUAL(d[9].admin, "n8a");
	free(d);

	CU_ASSERT_EQUAL(cfg_parse_node_list("gpfs01", &d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(n, 1);
	free(d);
}

static void list_bad(const char *spec, const char *msg)
{
	struct cfg_node_desc *d = (void *)1;
	size_t n = 99;
	char e[512] = "";

	CU_ASSERT_NOT_EQUAL(cfg_parse_node_list(spec, &d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_CONTAINS(e, msg);
}

static void test_node_list_errors(void)
{
	char longname[300];

	list_bad("", "no nodes given");
	list_bad(NULL, "no nodes given");
	list_bad("n1,,n2", "node list item 2 (\"\"): empty node descriptor");
	list_bad("n1,", "node list item 2 (\"\"): empty node descriptor");
	list_bad("n1,:quorum", "node list item 2 (\":quorum\"): empty node name");
	list_bad("n1,n2,N1:quorum", "node list item 3 (\"N1:quorum\"): duplicate node N1 (first as item 1)");
	list_bad("n1,n2:quorum:n1", "item 2 (\"n2:quorum:n1\"): duplicate admin node name n1");
	list_bad("n1:quorom", "node list item 1 (\"n1:quorom\"): unknown designation \"quorom\"");
	list_bad("n1:quorum-nonquorum", "item 1 (\"n1:quorum-nonquorum\"): conflicting designations quorum and nonquorum");
	list_bad("n1:client-manager", "conflicting designations client and manager");
	list_bad("n1:quorum-quorum", "designation quorum given twice");
	list_bad("n1:quorum-", "empty designation");
	list_bad("n1:quorum:a1:x", "item 1 (\"n1:quorum:a1:x\"): too many fields");
	list_bad("fe80::1:quorum", "write IPv6 addresses in brackets");
	list_bad("n_1,n 2", "item 2 (\"n 2\"): \"n 2\" contains an invalid character ' '");
	list_bad("n1:quorum:", "empty admin node name");
	list_bad("n1::bad/admin", "admin node name: \"bad/admin\" contains an invalid character '/'");
	list_bad("1.2.3.999", "\"1.2.3.999\" is not a valid IPv4 address");
	list_bad("a..b", "empty label");
	list_bad(".a", "empty label");
	list_bad("-a", "label starting with '-'");
	list_bad("a-.b", "label ending in '-'");
	list_bad("[gpfs01]:quorum", "brackets are only for IPv6 addresses");
	list_bad("[::1:quorum", "'[' without ']'");
	list_bad("[::1]x:quorum", "unexpected text after ']'");
	list_bad("[::zz]:quorum", "is not a valid IPv6 address");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	list_bad(longname, "longer than 255");
	memset(longname, 'a', 64);
	longname[64] = '\0';
	list_bad(longname, "label longer than 63");
}

static void test_node_file(void)
{
	struct cfg_node_desc *d;
	size_t n;
	char e[512], want[512];
	const char *p;

	p = write_tmp("nodes.ok",
		      "# cluster nodes\n"
		      "\n"
		      "gpfs01:quorum-manager   \n"
		      "   gpfs02:quorum # second\r\n"
		      "\t\n"
		      "gpfs03\n"
		      "gpfs04:client:gpfs04-adm");
	CU_ASSERT_EQUAL_FATAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(d[1].name, "gpfs02");
	CU_ASSERT_TRUE(d[1].quorum && !d[1].manager);
	CU_ASSERT_STRING_EQUAL(d[3].admin, "gpfs04-adm");
	free(d);

	/* -N: a readable file is a node file, anything else a list */
	CU_ASSERT_EQUAL(cfg_parse_nodes_arg(p, &d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(n, 4);
	free(d);
	CU_ASSERT_EQUAL(cfg_parse_nodes_arg("gpfs01,gpfs02:quorum", &d, &n, e,
					    sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(n, 2);
	free(d);
	CU_ASSERT_EQUAL(cfg_parse_nodes_arg("/nonexistent/nodes", &d, &n, e,
					    sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "\"/nonexistent/nodes\" is not a readable node file");
	CU_ASSERT_PTR_NULL(d);

	/* errors name the file and line */
	p = write_tmp("nodes.bad", "gpfs01:quorum\n# c\n\ngpfs02:quorum:x:y\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s:4: too many fields", p);
	CU_ASSERT_CONTAINS(e, want);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(n, 0);

	p = write_tmp("nodes.bad", "gpfs01\ngpfs02:boss\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown designation \"boss\"", p);
	CU_ASSERT_CONTAINS(e, want);

	p = write_tmp("nodes.bad", "gpfs01\n\ngpfs01:quorum\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EEXIST);
	snprintf(want, sizeof(want), "%s:3: duplicate node gpfs01 (first on line 1)", p);
	CU_ASSERT_CONTAINS(e, want);

	p = write_tmp("nodes.bad", "gpfs01:quorum-nonquorum\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s:1: conflicting designations", p);
	CU_ASSERT_CONTAINS(e, want);

	p = write_tmp("nodes.bad", "gpfs01\n:quorum\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s:2: empty node name", p);
	CU_ASSERT_CONTAINS(e, want);

	p = write_tmp("nodes.bad", "gpfs01,gpfs02\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s:1: \"gpfs01,gpfs02\" contains an invalid character ','", p);
	CU_ASSERT_CONTAINS(e, want);

	p = write_tmp("nodes.bad", "# only comments\n\n");
	CU_ASSERT_EQUAL(cfg_parse_node_file(p, &d, &n, e, sizeof(e)), MM_EINVAL);
	snprintf(want, sizeof(want), "%s: no node descriptors", p);
	CU_ASSERT_CONTAINS(e, want);

	CU_ASSERT_EQUAL(cfg_parse_node_file("/nonexistent/nodes", &d, &n, e,
					    sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "/nonexistent/nodes: cannot read");

	/* from memory, with a NUL byte */
	CU_ASSERT_EQUAL(cfg_parse_node_text("a\nb\0c\n", 6, "mem", &d, &n, e,
					    sizeof(e)), MM_EINVAL);
	CU_ASSERT_STR(e, "mem:2: contains a NUL byte");
	CU_ASSERT_EQUAL(cfg_parse_node_text("a\nb", 3, "mem", &d, &n, e,
					    sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(n, 2);
	free(d);
}

static void test_node_limit(void)
{
	size_t cap = (CFG_MAX_NODES + 2) * 16;
	char *text = malloc(cap), e[512];
	struct cfg_node_desc *d;
	size_t n, o = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (int i = 0; i < CFG_MAX_NODES; i++)
		o += (size_t)snprintf(text + o, cap - o, "node%d\n", i);
	CU_ASSERT_EQUAL(cfg_parse_node_text(text, o, "big", &d, &n, e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(n, CFG_MAX_NODES);
	free(d);
	o += (size_t)snprintf(text + o, cap - o, "one-more\n");
	CU_ASSERT_EQUAL(cfg_parse_node_text(text, o, "big", &d, &n, e, sizeof(e)), MM_ETOOBIG);
	CU_ASSERT_CONTAINS(e, "big:1025: more than 1024 nodes");
	free(text);
}

/* ---- cluster definition ---- */

static const char cluster_text[] =
	"cluster = {\n"
	"  name = \"demo.127.0.0.1\";\n"
	"  id = \"1234567890123456789\";\n"
	"  rsh = \"/usr/bin/ssh\";\n"
	"  rcp = \"/usr/bin/scp\";\n"
	"  port = 1191;\n"
	"  etcdClientPort = 2379;\n"
	"  etcdPeerPort = 2380;\n"
	"  generation = 1;\n"
	"};\n"
	"nodes = (\n"
	"  { number = 2; name = \"127.0.0.2\"; ip = \"127.0.0.2\"; admin = \"127.0.0.2\"; designation = \"quorum\"; },\n"
	"  { number = 1; name = \"127.0.0.1\"; ip = \"127.0.0.1\"; admin = \"127.0.0.1\"; designation = \"manager-quorum\"; },\n"
	"  { number = 3; name = \"node3\"; ip = \"::1\"; admin = \"node3-adm\"; designation = \"\"; }\n"
	");\n"
	"attributes = ( { name = \"PAGEPOOL\"; value = \"512m\"; },\n"
	"               { name = \"autoload\"; value = \"true\"; } );\n";

static int cluster_equal(const struct cfg_cluster *a, const struct cfg_cluster *b)
{
	if (strcmp(a->name, b->name) || a->id != b->id || strcmp(a->rsh, b->rsh) ||
	    strcmp(a->rcp, b->rcp) || a->port != b->port ||
	    a->etcd_client_port != b->etcd_client_port ||
	    a->etcd_peer_port != b->etcd_peer_port ||
	    a->generation != b->generation || a->nnodes != b->nnodes ||
	    a->nattrs != b->nattrs)
		return 0;
	for (size_t i = 0; i < a->nnodes; i++) {
		const struct cfg_node *x = &a->nodes[i], *y = &b->nodes[i];

		if (x->number != y->number || strcmp(x->name, y->name) ||
		    strcmp(x->ip, y->ip) || strcmp(x->admin, y->admin) ||
		    x->quorum != y->quorum || x->manager != y->manager)
			return 0;
	}
	for (size_t i = 0; i < a->nattrs; i++)
		if (strcmp(a->attr_names[i], b->attr_names[i]) ||
		    strcmp(a->attr_values[i], b->attr_values[i]))
			return 0;
	return 1;
}

static void test_cluster_roundtrip(void)
{
	struct cfg_cluster c, d;
	char e[512], path[256];
	char *text;
	struct stat st;

	cfg_cluster_init(&c);
	cfg_cluster_init(&d);
	CU_ASSERT_EQUAL(c.port, 1191);
	CU_ASSERT_EQUAL_FATAL(cfg_cluster_parse(&c, cluster_text, "ccr", e, sizeof(e)), MM_OK);
	CU_ASSERT_STRING_EQUAL(c.name, "demo.127.0.0.1");
	CU_ASSERT_EQUAL(c.id, 1234567890123456789ull);
	CU_ASSERT_EQUAL(c.generation, 1);
	CU_ASSERT_EQUAL_FATAL(c.nnodes, 3);
	CU_ASSERT_EQUAL(c.nodes[0].number, 1);	/* sorted by number */
	CU_ASSERT_TRUE(c.nodes[0].quorum && c.nodes[0].manager);
	CU_ASSERT_EQUAL(c.nodes[2].number, 3);
	CU_ASSERT_FALSE(c.nodes[2].quorum || c.nodes[2].manager);
	CU_ASSERT_EQUAL(cfg_cluster_quorum_count(&c), 2);
	CU_ASSERT_EQUAL_FATAL(c.nattrs, 2);
	CU_ASSERT_STRING_EQUAL(c.attr_names[0], "pagepool");
	CU_ASSERT_STRING_EQUAL(c.attr_values[0], "512M");
	CU_ASSERT_STRING_EQUAL(c.attr_values[1], "yes");

	/* lookups */
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node(&c, "NODE3"), &c.nodes[2]);
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node(&c, "0:0::1"), &c.nodes[2]);
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node(&c, "node3-adm"), &c.nodes[2]);
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node(&c, "127.0.0.2"), &c.nodes[1]);
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node(&c, "2"), &c.nodes[1]);
	CU_ASSERT_PTR_NULL(cfg_cluster_node(&c, "9"));
	CU_ASSERT_PTR_NULL(cfg_cluster_node(&c, "nosuch"));
	CU_ASSERT_PTR_EQUAL(cfg_cluster_node_num(&c, 3), &c.nodes[2]);
	CU_ASSERT_PTR_NULL(cfg_cluster_node_num(&c, 0));
	CU_ASSERT_STRING_EQUAL(cfg_designation(true, true), "quorum-manager");
	CU_ASSERT_STRING_EQUAL(cfg_designation(true, false), "quorum");
	CU_ASSERT_STRING_EQUAL(cfg_designation(false, true), "manager");
	CU_ASSERT_STRING_EQUAL(cfg_designation(false, false), "");

	/* strings that need escaping, 64-bit numbers */
	strcpy(c.rsh, "/opt/my \"ssh\" \\wrapper");
	c.generation = 0x123456789ull;
	c.nodes[2].number = 4000000000u;
	c.id = UINT64_MAX;
	CU_ASSERT_EQUAL_FATAL(cfg_cluster_format(&c, &text), MM_OK);
	CU_ASSERT_EQUAL(cfg_cluster_parse(&d, text, "fmt", e, sizeof(e)), MM_OK);
	if (!cluster_equal(&c, &d))
		fprintf(stderr, "\n%s\n%s\n", text, e);
	CU_ASSERT_TRUE(cluster_equal(&c, &d));
	free(text);

	/* save / load through a file, mode 0644 */
	snprintf(path, sizeof(path), "%s/mmsdrfs", tmpdir);
	CU_ASSERT_EQUAL(cfg_cluster_save(&c, path), MM_OK);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	CU_ASSERT_EQUAL(cfg_cluster_load(&d, path, e, sizeof(e)), MM_OK);
	CU_ASSERT_TRUE(cluster_equal(&c, &d));
	CU_ASSERT_EQUAL(cfg_cluster_load(&d, "/nonexistent/mmsdrfs", e, sizeof(e)), MM_ENOENT);
	CU_ASSERT_CONTAINS(e, "/nonexistent/mmsdrfs: cannot read");
	CU_ASSERT_TRUE(cluster_equal(&c, &d));	/* unchanged on failure */

	cfg_cluster_free(&c);
	cfg_cluster_free(&d);
	CU_ASSERT_EQUAL(c.nnodes, 0);
	CU_ASSERT_PTR_NULL(c.nodes);
}

/* Replace the first <from> in cluster_text by <to> and parse; expect
 * failure with <msg> in the error. */
static void cluster_bad(const char *from, const char *to, const char *msg)
{
	char text[4096], e[512];
	const char *at = strstr(cluster_text, from);
	struct cfg_cluster c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - cluster_text),
		 cluster_text, to, at + strlen(from));
	cfg_cluster_init(&c);
	CU_ASSERT_NOT_EQUAL(cfg_cluster_parse(&c, text, "ccr", e, sizeof(e)), MM_OK);
	CU_ASSERT_CONTAINS(e, msg);
	CU_ASSERT_EQUAL(c.nnodes, 0);
	cfg_cluster_free(&c);
}

static void test_cluster_errors(void)
{
	cluster_bad("  rsh = \"/usr/bin/ssh\";\n", "",
		    "ccr:1: cluster: missing field \"rsh\"");
	cluster_bad("port = 1191", "port = 70000",
		    "ccr:6: cluster: port 70000 is out of range 1..65535");
	cluster_bad("port = 1191", "port = 0", "ccr:6: cluster: port 0 is out of range");
	cluster_bad("port = 1191", "port = \"1191\"", "ccr:6: cluster: port must be an integer");
	cluster_bad("port = 1191", "port = 2379", "etcdPeerPort must all differ");
	cluster_bad("id = \"1234567890123456789\"", "id = \"12x\"", "ccr:3: cluster: id: must be");
	cluster_bad("id = \"1234567890123456789\"", "id = \"99999999999999999999\"", "ccr:3: cluster: id");
	cluster_bad("id = \"1234567890123456789\"", "id = 5", "ccr:3: cluster: id must be a string");
	cluster_bad("name = \"demo.127.0.0.1\"", "name = \"de mo\"", "ccr:2: cluster: name: use letters");
	cluster_bad("rsh = \"/usr/bin/ssh\"", "rsh = \"ssh\"", "ccr:4: cluster: rsh: must be an absolute path");
	cluster_bad("generation = 1", "generation = -1", "ccr:9: cluster: generation -1 is out of range");
	cluster_bad("generation = 1;", "generation = 1; gen = 2;", "ccr:9: cluster: unknown field \"gen\"");
	cluster_bad("designation = \"quorum\"", "designation = \"quorum-boss\"",
		    "ccr:12: node entry 1: designation: unknown designation \"boss\"");
	cluster_bad("designation = \"quorum\"", "designation = \"quorum-nonquorum\"",
		    "ccr:12: node entry 1: designation: conflicting designations");
	cluster_bad("number = 1;", "number = 2;", "ccr:13: node entry 2: number: same as in node entry 1");
	cluster_bad("number = 1;", "number = 0;", "ccr:13: node entry 2: number 0 is out of range");
	cluster_bad("name = \"node3\"", "name = \"127.0.0.2\"",
		    "ccr:14: node entry 3: name: same as in node entry 1");
	cluster_bad("ip = \"::1\"", "ip = \"127.0.0.1\"", "ccr:14: node entry 3: ip: same as in node entry 2");
	cluster_bad("ip = \"::1\"", "ip = \"localhost\"", "ccr:14: node entry 3: ip: not an IPv4 or IPv6 address");
	cluster_bad("admin = \"node3-adm\"; ", "", "ccr:14: node entry 3: missing field \"admin\"");
	cluster_bad("name = \"node3\"", "name = \"no de\"", "ccr:14: node entry 3: name: \"no de\" contains an invalid character");
	cluster_bad("designation = \"\"; }", "designation = \"\"; zone = 1; }", "unknown field \"zone\"");
	cluster_bad("nodes = (", "nodez = (", "ccr:11: unknown setting \"nodez\"; did you mean nodes?");
	cluster_bad("value = \"512m\"", "value = \"12X\"",
		    "ccr:16: pagepool: \"12X\" is not a size");
	cluster_bad("name = \"PAGEPOOL\"", "name = \"pagepol\"",
		    "ccr:16: unknown attribute \"pagepol\"; did you mean pagepool?");
	cluster_bad("name = \"autoload\"", "name = \"pagepool\"",
		    "ccr:17: attribute entry 2: pagepool is set twice");
	cluster_bad("attributes = (", "attributes = {", "ccr:16: syntax error");
	cluster_bad("generation = 1", "generation = 3000000000", "ccr:9: integer \"3000000000\" does not fit in 32 bits");
}

static void test_cluster_errors2(void)
{
	struct cfg_cluster c;
	char e[512];

	cfg_cluster_init(&c);
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c, "nodes = ();", "x", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x: missing cluster = { ... };");
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c, "cluster = ( 1 );", "x", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x:1: cluster must be a group");
	/* no nodes at all, and no quorum node */
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c,
		"cluster = { name = \"a\"; id = \"1\"; rsh = \"/s\"; rcp = \"/c\"; port = 1;"
		" etcdClientPort = 2; etcdPeerPort = 3; generation = 0; };", "x", e,
		sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x: missing nodes = ( ... );");
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c,
		"cluster = { name = \"a\"; id = \"1\"; rsh = \"/s\"; rcp = \"/c\"; port = 1;"
		" etcdClientPort = 2; etcdPeerPort = 3; generation = 0; };\nnodes = ();", "x", e,
		sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x:2: nodes: no nodes");
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c,
		"cluster = { name = \"a\"; id = \"1\"; rsh = \"/s\"; rcp = \"/c\"; port = 1;"
		" etcdClientPort = 2; etcdPeerPort = 3; generation = 0; };\nnodes = ("
		"{ number = 1; name = \"a\"; ip = \"1.1.1.1\"; admin = \"a\"; designation = \"manager\"; });",
		"x", e, sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x:2: nodes: no quorum node");
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c,
		"cluster = { name = \"a\"; id = \"1\"; rsh = \"/s\"; rcp = \"/c\"; port = 1;"
		" etcdClientPort = 2; etcdPeerPort = 3; generation = 0; };\nnodes = ("
		"{ number = 1; name = \"a\"; ip = \"1.1.1.1\"; admin = \"a\"; designation = \"quorum\"; });",
		"x", e, sizeof(e)), MM_OK);
	CU_ASSERT_EQUAL(c.nattrs, 0);
	cfg_cluster_free(&c);
	CU_ASSERT_EQUAL(cfg_cluster_parse(&c, "@include \"/etc/passwd\"\n", "x", e,
					  sizeof(e)), MM_EINVAL);
	CU_ASSERT_CONTAINS(e, "x:1: @include is not supported");
}

static void test_cluster_name_check(void)
{
	char why[256], longest[CFG_CLUSTER_NAME_MAX + 2];

	CU_ASSERT_EQUAL(cfg_cluster_name_check("gpfs.example.com", why, sizeof(why)), MM_OK);
	CU_ASSERT_EQUAL(cfg_cluster_name_check("test.127.0.0.1", why, sizeof(why)), MM_OK);
	CU_ASSERT_EQUAL(cfg_cluster_name_check("a_b-c.1", why, sizeof(why)), MM_OK);
	CU_ASSERT_EQUAL(cfg_cluster_name_check("9lives", why, sizeof(why)), MM_OK);
	memset(longest, 'a', CFG_CLUSTER_NAME_MAX);
	longest[CFG_CLUSTER_NAME_MAX] = '\0';
	CU_ASSERT_EQUAL(cfg_cluster_name_check(longest, why, sizeof(why)), MM_OK);
	strcat(longest, "b");
	CU_ASSERT_EQUAL(cfg_cluster_name_check(longest, why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "65 characters long: at most 64");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "empty cluster name");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("bad name", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "\"bad name\" contains an invalid character ' '");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("a/b", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "invalid character '/'");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("fe80::1", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "invalid character ':'");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("a\tb", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "(0x09)");
	CU_ASSERT_EQUAL(cfg_cluster_name_check(".hidden", why, sizeof(why)), MM_EINVAL);
	CU_ASSERT_CONTAINS(why, "must start with a letter or a digit");
	CU_ASSERT_EQUAL(cfg_cluster_name_check("-x", why, sizeof(why)), MM_EINVAL);
	/* every name it accepts is one the cluster definition parser takes back */
	{
		struct cfg_cluster c;
		char text[512], e[512];

		cfg_cluster_init(&c);
		snprintf(text, sizeof(text),
			 "cluster = { name = \"%s\"; id = \"1\"; rsh = \"/s\"; rcp = \"/c\"; port = 1;"
			 " etcdClientPort = 2; etcdPeerPort = 3; generation = 0; };\nnodes = ("
			 "{ number = 1; name = \"a\"; ip = \"1.1.1.1\"; admin = \"a\"; designation = \"quorum\"; });",
			 "a_b-c.1");
		CU_ASSERT_EQUAL(cfg_cluster_parse(&c, text, "x", e, sizeof(e)), MM_OK);
		cfg_cluster_free(&c);
	}
}

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : 1;
}

static int suite_clean(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : 1;
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"attribute table", test_table},
		{"validate int", test_validate_int},
		{"validate size", test_validate_size},
		{"validate bool and enum", test_validate_bool_enum},
		{"validate string", test_validate_string},
		{"cfg_set basics", test_set_basic},
		{"did you mean", test_did_you_mean},
		{"cross-attribute checks", test_set_check},
		{"two threads set and get", test_threads},
		{"settings file loads", test_load_ok},
		{"settings file errors", test_load_errors},
		{"libconfig syntax pre-check", test_lc_syntax},
		{"node list", test_node_list_ok},
		{"node list errors", test_node_list_errors},
		{"node file", test_node_file},
		{"node count limit", test_node_limit},
		{"cluster round trip", test_cluster_roundtrip},
		{"cluster errors", test_cluster_errors},
		{"cluster errors, whole file", test_cluster_errors2},
		{"cluster name check", test_cluster_name_check},
	};
	CU_pSuite s = CU_add_suite("config", suite_init, suite_clean);

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
}

MM_CUNIT_MAIN(register_tests)
