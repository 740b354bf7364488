/*
 * net/keys.c - cluster CA and node certificates (see keys.h), OpenSSL 3.
 *
 * Certificates are X.509 v3 with a random 159-bit serial, SHA-256
 * signatures, SubjectKeyIdentifier and AuthorityKeyIdentifier, so that
 * OpenSSL, Go's crypto/x509 (etcd) and libcurl all accept them:
 *   CA:   basicConstraints critical CA:TRUE; keyUsage critical
 *         keyCertSign, cRLSign, digitalSignature
 *   node: basicConstraints critical CA:FALSE; keyUsage critical
 *         digitalSignature (the ECDSA key signs); extendedKeyUsage serverAuth,
 *         clientAuth (etcd uses one certificate for both); subjectAltName
 *         IP:<ip>, DNS:<ip> (only DNS: when <ip> is a host name)
 * notBefore is an hour back to tolerate clock skew between nodes.
 * Keys are written PKCS#8 PEM with mode 0600, atomically (tmp + rename).
 */
#include "net/keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/util.h"

#define CA_DAYS 3650
#define NODE_DAYS 3650

static void set_err(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "<msg>: <OpenSSL reason>" into <err>; clears the error queue. */
static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;
	size_t n;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
		n = strlen(err);
		if (r && n < errsz)
			snprintf(err + n, errsz - n, ": %s", r);
	}
	ERR_clear_error();
}

static EVP_PKEY *gen_key(void)
{
	return EVP_EC_gen("P-256");
}

static int rand_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *ai = NULL;
	int ok = 0;

	/* 159 random bits: positive and at most 20 octets (RFC 5280 4.1.2.2) */
	if (bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
		ok = X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ok;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A v3 certificate for <key> named CN=<cn>, valid <days>, not yet signed. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) || !rand_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"mmfs", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_pubkey(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* PEM of a private key (mode 0600) or certificate (0644), atomically. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert, char *err, size_t errsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	if (!b) {
		set_err(err, errsz, "%s", path);
		return MM_ENOMEM;
	}
	if (key ? !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		: !PEM_write_bio_X509(b, cert)) {
		set_err(err, errsz, "%s: encoding", path);
		BIO_free(b);
		return MM_EIO;
	}
	len = BIO_get_mem_data(b, &data);
	rc = mm_write_file_atomic(path, data, (size_t)len, key ? 0600 : 0644);
	if (rc == MM_OK && key)
		chmod(path, 0600);	/* whatever the umask did */
	if (rc && err)
		snprintf(err, errsz, "%s: cannot write (%s)", path, mm_strerror(rc));
	BIO_free(b);
	return rc;
}

static EVP_PKEY *load_key(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f) {
		if (err)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		set_err(err, errsz, "%s: not a PEM private key", path);
	return k;
}

static X509 *load_cert(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f) {
		if (err)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		set_err(err, errsz, "%s: not a PEM certificate", path);
	return x;
}

int net_keys_gen_cluster(const char *dir, const char *cn, char *err, size_t errsz)
{
	char kpath[4096], cpath[4096];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc;

	if (!dir || !cn || !*cn)
		return MM_EINVAL;
	if (mm_snprintf(kpath, sizeof(kpath), "%s/cluster.key", dir) ||
	    mm_snprintf(cpath, sizeof(cpath), "%s/cluster.crt", dir))
		return MM_ETOOBIG;
	if (access(kpath, F_OK) == 0) {
		if (err)
			snprintf(err, errsz, "%s already exists", kpath);
		return MM_EEXIST;
	}
	rc = mm_mkdir_p(dir, 0700);
	if (rc) {
		if (err)
			snprintf(err, errsz, "%s: cannot create (%s)", dir, mm_strerror(rc));
		return rc;
	}
	key = gen_key();
	if (!key) {
		set_err(err, errsz, "generating the cluster key");
		return MM_ENOMEM;
	}
	x = new_cert(key, cn, CA_DAYS);
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
	    !add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, x, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, key, EVP_sha256())) {
		set_err(err, errsz, "building the cluster certificate");
		rc = MM_EINVAL;
		goto out;
	}
	rc = write_pem(kpath, key, NULL, err, errsz);
	if (rc == MM_OK)
		rc = write_pem(cpath, NULL, x, err, errsz);
	if (rc)
		unlink(kpath);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int net_keys_issue_node(const char *ca_key, const char *ca_crt, const char *node_ip,
			const char *out_key, const char *out_crt, char *err, size_t errsz)
{
	unsigned char bin[16];
	char san[600];
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	bool is_ip;
	int rc = MM_EINVAL;

	if (!ca_key || !ca_crt || !node_ip || !*node_ip || !out_key || !out_crt ||
	    strlen(node_ip) > 255 || strpbrk(node_ip, ",\n"))
		return MM_EINVAL;
	is_ip = inet_pton(AF_INET, node_ip, bin) == 1 || inet_pton(AF_INET6, node_ip, bin) == 1;
	if (is_ip)
		snprintf(san, sizeof(san), "IP:%s,DNS:%s", node_ip, node_ip);
	else
		snprintf(san, sizeof(san), "DNS:%s", node_ip);
	cakey = load_key(ca_key, err, errsz);
	if (!cakey)
		goto out;
	ca = load_cert(ca_crt, err, errsz);
	if (!ca)
		goto out;
	if (X509_check_private_key(ca, cakey) != 1) {
		set_err(err, errsz, "%s does not match %s", ca_key, ca_crt);
		goto out;
	}
	key = gen_key();
	if (!key) {
		set_err(err, errsz, "generating the node key");
		rc = MM_ENOMEM;
		goto out;
	}
	x = new_cert(key, node_ip, NODE_DAYS);
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !add_ext(x, ca, NID_subject_alt_name, san) ||
	    !add_ext(x, ca, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, ca, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, cakey, EVP_sha256())) {
		set_err(err, errsz, "building the certificate for %s", node_ip);
		goto out;
	}
	rc = write_pem(out_key, key, NULL, err, errsz);
	if (rc == MM_OK)
		rc = write_pem(out_crt, NULL, x, err, errsz);
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	ERR_clear_error();
	return rc;
}

int net_keys_node_valid(const char *ca_crt, const char *crt, const char *node_ip)
{
	X509 *ca = NULL, *x = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *sc = NULL;
	unsigned char bin[16];
	int ok = 0;

	if (!ca_crt || !crt || !node_ip)
		return 0;
	ca = load_cert(ca_crt, NULL, 0);
	x = load_cert(crt, NULL, 0);
	store = X509_STORE_new();
	sc = X509_STORE_CTX_new();
	if (!ca || !x || !store || !sc || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(sc, store, x, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(sc) != 1)
		goto out;
	if (X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) != 1)
		goto out;
	if (inet_pton(AF_INET, node_ip, bin) == 1 || inet_pton(AF_INET6, node_ip, bin) == 1)
		ok = X509_check_ip_asc(x, node_ip, 0) == 1;
	else
		ok = X509_check_host(x, node_ip, 0, 0, NULL) == 1;
out:
	X509_STORE_CTX_free(sc);
	X509_STORE_free(store);
	X509_free(x);
	X509_free(ca);
	ERR_clear_error();
	return ok;
}

int net_keys_fingerprint(const char *crt, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	X509 *x;

	if (!crt || !out)
		return MM_EINVAL;
	x = load_cert(crt, NULL, 0);
	if (!x)
		return MM_ENOENT;
	if (X509_digest(x, EVP_sha256(), md, &n) != 1) {
		X509_free(x);
		ERR_clear_error();
		return MM_EINVAL;
	}
	X509_free(x);
	if (outsz < (size_t)n * 3)
		return MM_ETOOBIG;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 3 * i, outsz - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return MM_OK;
}
