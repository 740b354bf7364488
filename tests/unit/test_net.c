/* tests/unit/test_net.c - net/: frame and hello codec, CRC, cipherList, keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/util.h"
#include "common/wire.h"
#include "net/frame.h"
#include "net/keys.h"
#include "net/net.h"
#include "tests/unit/cunit_main.h"

#define LIMIT (1u << 20)

static size_t make_frame(uint8_t *buf, uint8_t kind, uint16_t type, int32_t status, uint64_t id,
			 const void *payload, uint32_t len)
{
	net_frame_build(buf, kind, type, status, id, payload, len);
	if (len)
		memcpy(buf + NET_FRAME_HDR_LEN, payload, len);
	return NET_FRAME_HDR_LEN + len;
}

/* Recompute the header CRC after tampering with a header field. */
static void reseal(uint8_t *buf)
{
	mm_be32_put(buf + 28, mm_crc32c(0, buf, 28));
}

static void test_frame_roundtrip(void)
{
	static uint8_t buf[NET_FRAME_HDR_LEN + 70000], payload[70000];
	struct net_frame_hdr h;
	const uint8_t *p;
	uint32_t lens[] = {0, 1, 31, 4096, 70000};

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < MM_ARRAY_SIZE(lens); k++) {
		for (uint8_t kind = NET_K_REQUEST; kind <= NET_K_MAX; kind++) {
			size_t n = make_frame(buf, kind, (uint16_t)(1000 + kind), -(int)kind,
					      0x0102030405060708ull + kind, payload, lens[k]);
			int rc = net_frame_decode(buf, n, LIMIT, &h, &p);

			CU_ASSERT_EQUAL(rc, (int)n);
			CU_ASSERT_EQUAL(h.kind, kind);
			CU_ASSERT_EQUAL(h.type, 1000 + kind);
			CU_ASSERT_EQUAL(h.status, -(int)kind);
			CU_ASSERT_EQUAL(h.id, 0x0102030405060708ull + kind);
			CU_ASSERT_EQUAL(h.len, lens[k]);
			CU_ASSERT_EQUAL(memcmp(p, payload, lens[k]), 0);
		}
	}
	/* explicit big-endian layout */
	make_frame(buf, NET_K_REPLY, 0xABCD, -5, 0x1122334455667788ull, "xyz", 3);
	CU_ASSERT_EQUAL(mm_be32_get(buf), NET_FRAME_MAGIC);
	CU_ASSERT_EQUAL(buf[0], 'M');
	CU_ASSERT_EQUAL(buf[4], NET_FRAME_VERSION);
	CU_ASSERT_EQUAL(buf[5], NET_K_REPLY);
	CU_ASSERT_EQUAL(buf[6], 0xAB);
	CU_ASSERT_EQUAL(buf[7], 0xCD);
	CU_ASSERT_EQUAL(mm_be32_get(buf + 8), (uint32_t)-5);
	CU_ASSERT_EQUAL(buf[12], 0x11);
	CU_ASSERT_EQUAL(mm_be32_get(buf + 20), 3);
	CU_ASSERT_EQUAL(mm_be32_get(buf + 24), mm_crc32c(0, "xyz", 3));
	/* two frames back to back: decode returns the first's size */
	{
		size_t a = make_frame(buf, NET_K_ONEWAY, 1, 0, 1, "ab", 2);
		size_t b = make_frame(buf + a, NET_K_ONEWAY, 2, 0, 2, "cde", 3);

		CU_ASSERT_EQUAL(net_frame_decode(buf, a + b, LIMIT, &h, &p), (int)a);
		CU_ASSERT_EQUAL(net_frame_decode(buf + a, b, LIMIT, &h, &p), (int)b);
		CU_ASSERT_EQUAL(h.type, 2);
	}
}

static void test_frame_rejects(void)
{
	uint8_t buf[256], good[256];
	struct net_frame_hdr h;
	const uint8_t *p;
	size_t n = make_frame(good, NET_K_REQUEST, 7, 0, 42, "hello world", 11);

	/* truncated header, at every length */
	for (size_t l = 0; l < NET_FRAME_HDR_LEN; l++)
		CU_ASSERT_EQUAL(net_frame_decode(good, l, LIMIT, &h, &p), MM_ERANGE);
	CU_ASSERT_EQUAL(net_frame_hdr_decode(good, 31, LIMIT, &h), MM_ERANGE);
	/* truncated payload */
	for (size_t l = NET_FRAME_HDR_LEN; l < n; l++)
		CU_ASSERT_EQUAL(net_frame_decode(good, l, LIMIT, &h, &p), MM_ERANGE);
	/* oversized length */
	CU_ASSERT_EQUAL(net_frame_decode(good, n, 10, &h, &p), MM_ETOOBIG);
	CU_ASSERT_EQUAL(net_frame_decode(good, n, 11, &h, &p), (int)n);
	memcpy(buf, good, n);
	mm_be32_put(buf + 20, 0xFFFFFFFFu);
	reseal(buf);
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_ETOOBIG);
	/* bad magic */
	memcpy(buf, good, n);
	buf[0] = 'X';
	reseal(buf);
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_EPROTO);
	/* bad version */
	memcpy(buf, good, n);
	buf[4] = NET_FRAME_VERSION + 1;
	reseal(buf);
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_ENOTSUP);
	/* unknown kind */
	memcpy(buf, good, n);
	buf[5] = 0;
	reseal(buf);
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_EINVAL);
	buf[5] = NET_K_MAX + 1;
	reseal(buf);
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_EINVAL);
	/* header checksum: every single bit flip in bytes 5..31 is caught */
	for (size_t bit = 5 * 8; bit < NET_FRAME_HDR_LEN * 8; bit++) {
		memcpy(buf, good, n);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_ECHECKSUM);
	}
	/* payload checksum */
	memcpy(buf, good, n);
	buf[NET_FRAME_HDR_LEN + 3] ^= 0x10;
	CU_ASSERT_EQUAL(net_frame_decode(buf, n, LIMIT, &h, &p), MM_EIO);
	CU_ASSERT_EQUAL(net_frame_hdr_decode(buf, n, LIMIT, &h), MM_OK);
	CU_ASSERT_EQUAL(net_frame_payload_check(&h, buf + NET_FRAME_HDR_LEN), MM_EIO);
	/* every error has its own description */
	CU_ASSERT_STRING_EQUAL(net_frame_strerror(MM_ERANGE), "truncated frame");
	CU_ASSERT_STRING_EQUAL(net_frame_strerror(MM_EIO), "bad payload checksum");
	CU_ASSERT_STRING_EQUAL(net_frame_strerror(MM_ECHECKSUM), "bad header checksum");
}

static void test_hello_codec(void)
{
	struct net_hello a = {.node_id = 3, .cluster_id = 0xFEEDFACE12345678ull,
			      .security = NET_SEC_AUTHONLY}, b;
	uint8_t buf[NET_HELLO_MAX_LEN];
	size_t n;

	n = net_hello_encode(&a, buf, sizeof(buf));
	CU_ASSERT_EQUAL(n, 24);
	CU_ASSERT_EQUAL(net_hello_decode(buf, n, &b), MM_OK);
	CU_ASSERT_EQUAL(b.node_id, 3);
	CU_ASSERT_EQUAL(b.cluster_id, 0xFEEDFACE12345678ull);
	CU_ASSERT_EQUAL(b.security, NET_SEC_AUTHONLY);
	CU_ASSERT_STRING_EQUAL(b.reason, "");
	snprintf(a.reason, sizeof(a.reason), "cluster id mismatch");
	n = net_hello_encode(&a, buf, sizeof(buf));
	CU_ASSERT_EQUAL(net_hello_decode(buf, n, &b), MM_OK);
	CU_ASSERT_STRING_EQUAL(b.reason, "cluster id mismatch");
	/* strictness */
	CU_ASSERT_EQUAL(net_hello_decode(buf, n - 1, &b), MM_EPROTO);
	CU_ASSERT_EQUAL(net_hello_decode(buf, 10, &b), MM_EPROTO);
	buf[n] = 0;
	CU_ASSERT_EQUAL(net_hello_decode(buf, n + 1, &b), MM_EPROTO);
	buf[12] = 9;
	CU_ASSERT_EQUAL(net_hello_decode(buf, n, &b), MM_EPROTO);
	buf[12] = 0;
	buf[13] = 1;
	CU_ASSERT_EQUAL(net_hello_decode(buf, n, &b), MM_EPROTO);
	buf[13] = 0;
	mm_be32_put(buf + 20, 100000);
	CU_ASSERT_EQUAL(net_hello_decode(buf, n, &b), MM_EPROTO);
}

static void test_cipherlist(void)
{
	enum net_security sec;
	char c[128];

	CU_ASSERT_EQUAL(net_parse_cipherlist("AUTHONLY", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_EQUAL(sec, NET_SEC_AUTHONLY);
	CU_ASSERT_STRING_EQUAL(c, "");
	CU_ASSERT_EQUAL(net_parse_cipherlist("authonly", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_EQUAL(sec, NET_SEC_AUTHONLY);
	CU_ASSERT_EQUAL(net_parse_cipherlist("EMPTY", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_EQUAL(sec, NET_SEC_PLAIN);
	CU_ASSERT_STRING_EQUAL(c, "");
	CU_ASSERT_EQUAL(net_parse_cipherlist("AES128-GCM-SHA256", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_EQUAL(sec, NET_SEC_ENCRYPT);
	CU_ASSERT_STRING_EQUAL(c, "TLS_AES_128_GCM_SHA256");
	CU_ASSERT_EQUAL(net_parse_cipherlist("AES256-GCM-SHA384", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_STRING_EQUAL(c, "TLS_AES_256_GCM_SHA384");
	CU_ASSERT_EQUAL(net_parse_cipherlist("CHACHA20-POLY1305-SHA256", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_STRING_EQUAL(c, "TLS_CHACHA20_POLY1305_SHA256");
	CU_ASSERT_EQUAL(net_parse_cipherlist("TLS_AES_256_GCM_SHA384", &sec, c, sizeof(c)), MM_OK);
	CU_ASSERT_EQUAL(sec, NET_SEC_ENCRYPT);
	CU_ASSERT_STRING_EQUAL(c, "TLS_AES_256_GCM_SHA384");
	CU_ASSERT_EQUAL(net_parse_cipherlist("AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384", &sec, c,
					     sizeof(c)), MM_OK);
	CU_ASSERT_STRING_EQUAL(c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	CU_ASSERT_EQUAL(net_parse_cipherlist("RC4-MD5", &sec, c, sizeof(c)), MM_EINVAL);
	CU_ASSERT_EQUAL(net_parse_cipherlist("", &sec, c, sizeof(c)), MM_EINVAL);
	CU_ASSERT_EQUAL(net_parse_cipherlist("AUTHONLY:AES128-GCM-SHA256", &sec, c, sizeof(c)),
			MM_EINVAL);
	CU_ASSERT_EQUAL(net_parse_cipherlist(NULL, &sec, c, sizeof(c)), MM_EINVAL);
	CU_ASSERT_EQUAL(net_parse_cipherlist("AES128-GCM-SHA256", &sec, c, 8), MM_ETOOBIG);
}

/* ---- keys ---- */

static char tmpdir[256];

static void path(char *buf, const char *name)
{
	snprintf(buf, 512, "%s/%s", tmpdir, name);
}

static X509 *read_cert(const char *p)
{
	FILE *f = fopen(p, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static void test_keys(void)
{
	char err[512], a[512], b[512], ck[512], cc[512], nk[512], nc[512], fp[128];
	struct stat st;
	X509 *x;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_net.%d", (int)getpid());
	path(a, "c1");
	path(b, "c2");
	CU_ASSERT_EQUAL_FATAL(net_keys_gen_cluster(a, "cluster1.example", err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(net_keys_gen_cluster(a, "cluster1.example", err, sizeof(err)), MM_EEXIST);
	CU_ASSERT_EQUAL_FATAL(net_keys_gen_cluster(b, "cluster2.example", err, sizeof(err)), MM_OK);
	path(ck, "c1/cluster.key");
	path(cc, "c1/cluster.crt");
	path(nk, "node.key");
	path(nc, "node.crt");
	CU_ASSERT_EQUAL(stat(ck, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(net_keys_issue_node(ck, cc, "127.0.9.1", nk, nc, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(stat(nk, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_TRUE(net_keys_node_valid(cc, nc, "127.0.9.1"));
	CU_ASSERT_FALSE(net_keys_node_valid(cc, nc, "127.0.9.2"));
	path(a, "c2/cluster.crt");
	CU_ASSERT_FALSE(net_keys_node_valid(a, nc, "127.0.9.1"));
	/* the CA itself is no node certificate */
	CU_ASSERT_FALSE(net_keys_node_valid(cc, cc, "127.0.9.1"));
	/* missing files, and errors that name the file */
	path(a, "nope.key");
	CU_ASSERT_NOT_EQUAL(net_keys_issue_node(a, cc, "127.0.9.1", nk, nc, err, sizeof(err)), MM_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope.key"));
	CU_ASSERT_FALSE(net_keys_node_valid(cc, a, "127.0.9.1"));

	/* the certificate's shape, as etcd (Go) and libcurl need it */
	x = read_cert(nc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(X509_get_version(x), X509_VERSION_3);
	CU_ASSERT_EQUAL(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	CU_ASSERT_EQUAL(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
	CU_ASSERT_EQUAL(X509_check_ca(x), 0);
	CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(x));
	CU_ASSERT_PTR_NOT_NULL(X509_get0_authority_key_id(x));
	CU_ASSERT_EQUAL(X509_check_host(x, "127.0.9.1", 0, 0, NULL), 1);
	CU_ASSERT_EQUAL(X509_check_ip_asc(x, "127.0.9.1", 0), 1);
	X509_free(x);
	x = read_cert(cc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_TRUE(X509_check_ca(x) >= 1);
	CU_ASSERT_TRUE(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(x));
	X509_free(x);

	CU_ASSERT_EQUAL(net_keys_fingerprint(nc, fp, sizeof(fp)), MM_OK);
	CU_ASSERT_EQUAL(strlen(fp), 95);
	CU_ASSERT_EQUAL(fp[2], ':');
	CU_ASSERT_EQUAL(net_keys_fingerprint(nc, fp, 10), MM_ETOOBIG);

	/* a host name gets a DNS SAN only */
	CU_ASSERT_EQUAL(net_keys_issue_node(ck, cc, "node1.example", nk, nc, err, sizeof(err)), MM_OK);
	CU_ASSERT_TRUE(net_keys_node_valid(cc, nc, "node1.example"));

	snprintf(a, sizeof(a), "rm -rf %s", tmpdir);
	CU_ASSERT_EQUAL(system(a), 0);
}

static void register_tests(void)
{
	static const struct mm_test frame_tests[] = {
		{"frame round trip", test_frame_roundtrip},
		{"frame rejects malformed", test_frame_rejects},
		{"hello codec", test_hello_codec},
	};
	static const struct mm_test misc_tests[] = {
		{"cipherList parsing", test_cipherlist},
		{"cluster key and node certificates", test_keys},
	};

	MM_ADD_SUITE("net frame", frame_tests);
	MM_ADD_SUITE("net config and keys", misc_tests);
}

MM_CUNIT_MAIN(register_tests)
