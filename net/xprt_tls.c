/*
 * net/xprt_tls.c - the TLS 1.3 transport (OpenSSL 3), its SSL_CTX, and
 * net_parse_cipherlist().
 *
 * Both sides present a certificate and verify the peer's chain against
 * the cluster CA (mutual authentication). Records are written with
 * SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, so
 * a short write's remainder may be retried from another buffer with the
 * same bytes (net/conn.c copies it to the connection's queue).
 *
 * Records are not written to the socket one by one: the SSL object's
 * write BIO is ours (tls_wbio), a buffer of TLS_WBUF bytes that is sent
 * with one send(2) when full and when flushed (net_xprt_ops.flush, and
 * OpenSSL's own BIO_flush after each handshake flight). A 16 KiB record
 * per system call and per TCP segment costs more than the encryption.
 * ENCRYPT reads through tls_rbio, which reads up to TLS_RBUF bytes per
 * recv(2) and serves OpenSSL's exact-size record reads from it (OpenSSL's
 * own read-ahead moves the unread rest of its buffer to the front for
 * every record). AUTHONLY must read nothing past the hello-ack, so it
 * uses a plain socket BIO without read-ahead.
 *
 * In ENCRYPT with a GCM or ChaCha20 suite, TLS carries only the
 * handshake and the hello: net/xprt_aead.c takes over after the hello,
 * with the read-ahead bytes of tls_rbio (net_tls_leftover()).
 *
 * An SSL object must not be used by two threads at once, while the I/O
 * thread reads and a sender writes concurrently: x->lock is held around
 * every SSL_* call on x->ssl (only for that call, never while waiting for
 * the socket). The OpenSSL error queue is per thread; each call starts
 * with ERR_clear_error() and turns its error into net_xprt_why().
 */
#include "net/xprt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/log.h"
#include "net/net.h"

#define TLS_REC 16384		/* max TLS plaintext record */
#define TLS_WBUF (128 * 1024)	/* ciphertext coalesced per send(2) */
#define TLS_RBUF (64 * 1024)	/* ciphertext read per recv(2) (ENCRYPT) */
#define TLS_DEFAULT_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* SSL_get_error() needs an empty error queue before each SSL call. Our
 * failure paths always empty it, so peek (cheap) before clearing (not). */
static inline void tls_clear_errors(void)
{
	if (ERR_peek_error())
		ERR_clear_error();
}

/* Turn the failed call's SSL error into net_xprt_why(); return its code. */
static int tls_error(SSL *ssl, int err, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	int rc = MM_EAUTH;

	if (err == SSL_ERROR_SSL && e) {
		const char *r = ERR_reason_error_string(e);
		long v = SSL_get_verify_result(ssl);

		if (!r)
			r = "TLS error";
		if (v != X509_V_OK && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
			net_xprt_set_why("%s (%s)", r, X509_verify_cert_error_string(v));
		else
			net_xprt_set_why("%s", r);
	} else if (err == SSL_ERROR_ZERO_RETURN) {
		net_xprt_set_why("connection closed by peer");
		rc = MM_ECLOSED;
	} else if (err == SSL_ERROR_SYSCALL) {
		if (errno && errno != EAGAIN)
			net_xprt_set_why("%s: %s", what, strerror(errno));
		else
			net_xprt_set_why("connection closed by peer");
		rc = MM_ECLOSED;
	} else {
		net_xprt_set_why("%s: SSL error %d", what, err);
	}
	ERR_clear_error();
	return rc;
}

/* ---- the write BIO ----------------------------------------------------
 * Called by OpenSSL with x->lock held (or single-threaded during the
 * handshake), so its buffer needs no lock of its own. */

struct tls_wbuf {
	int fd;
	size_t head, len;	/* unsent bytes are buf[head .. len) */
	uint8_t buf[TLS_WBUF];
};

static BIO_METHOD *wbio_method;
static pthread_once_t wbio_once = PTHREAD_ONCE_INIT;

/* 1: all sent; 0: the socket is full (bytes remain); -1: error (errno). */
static int wbuf_send(struct tls_wbuf *w)
{
	int r = net_sock_send_pending(w->fd, w->buf, w->len, &w->head);

	if (r == 1)
		w->head = w->len = 0;
	return r;
}

static int wbio_write(BIO *b, const char *in, size_t inl, size_t *written)
{
	struct tls_wbuf *w = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (w->len + inl > TLS_WBUF) {
		int r = wbuf_send(w);

		if (r < 0)
			return 0;
		if (w->head > 0) {
			memmove(w->buf, w->buf + w->head, w->len - w->head);
			w->len -= w->head;
			w->head = 0;
		}
		if (w->len + inl > TLS_WBUF) {
			if (w->len > 0) {
				BIO_set_retry_write(b);
				return 0;
			}
			/* larger than the whole buffer (never for records): direct */
			ssize_t n = send(w->fd, in, inl, MSG_NOSIGNAL);

			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				BIO_set_retry_write(b);
				return 0;
			}
			if (n <= 0)
				return 0;
			*written = (size_t)n;
			return 1;
		}
	}
	memcpy(w->buf + w->len, in, inl);
	w->len += inl;
	*written = inl;
	return 1;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_wbuf *w = BIO_get_data(b);
	int r;

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		r = wbuf_send(w);
		if (r == 0)
			BIO_set_retry_write(b);
		return r > 0 ? 1 : 0;
	case BIO_CTRL_WPENDING:
		return (long)(w->len - w->head);
	case BIO_CTRL_PENDING:
		return 0;
	default:
		return 0;
	}
}

/* ---- the read BIO (ENCRYPT) ------------------------------------------- */

struct tls_rbuf {
	int fd;
	size_t head, len;	/* unread bytes are buf[head .. len) */
	uint8_t buf[TLS_RBUF];
};

static BIO_METHOD *rbio_method;
static int rbio_type;		/* BIO_method_type() of tls_rbio */

static int rbio_read(BIO *b, char *out, size_t outl, size_t *readbytes)
{
	struct tls_rbuf *r = BIO_get_data(b);
	size_t k;

	BIO_clear_retry_flags(b);
	if (r->head == r->len) {
		ssize_t n;

		r->head = r->len = 0;
		do
			n = recv(r->fd, r->buf, TLS_RBUF, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			BIO_set_retry_read(b);
			return 0;
		}
		if (n <= 0)
			return 0;	/* EOF or error (errno): SSL_ERROR_SYSCALL */
		r->len = (size_t)n;
	}
	k = r->len - r->head;
	if (k > outl)
		k = outl;
	memcpy(out, r->buf + r->head, k);
	r->head += k;
	*readbytes = k;
	return 1;
}

static long rbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_rbuf *r = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_PENDING:
		return (long)(r->len - r->head);
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

static int wbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int wbio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static void wbio_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mmfs-tls-wbuf");

	if (m && BIO_meth_set_write_ex(m, wbio_write) && BIO_meth_set_ctrl(m, wbio_ctrl) &&
	    BIO_meth_set_create(m, wbio_create) && BIO_meth_set_destroy(m, wbio_destroy))
		wbio_method = m;
	else
		BIO_meth_free(m);
	rbio_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	m = BIO_meth_new(rbio_type, "mmfs-tls-rbuf");
	if (m && BIO_meth_set_read_ex(m, rbio_read) && BIO_meth_set_ctrl(m, rbio_ctrl) &&
	    BIO_meth_set_create(m, wbio_create) && BIO_meth_set_destroy(m, wbio_destroy))
		rbio_method = m;
	else
		BIO_meth_free(m);
}

static int tls_attach(struct net_xprt *x, void *tls_ctx, bool server)
{
	SSL *ssl;
	BIO *rb = NULL, *wb = NULL;
	struct tls_wbuf *w;

	pthread_once(&wbio_once, wbio_init);
	ssl = SSL_new(tls_ctx);
	w = malloc(sizeof(*w));
	x->scratch = malloc(TLS_REC);
	if (ssl && w && x->scratch && wbio_method && rbio_method) {
		/* SSL_CTX_get_read_ahead: set for ENCRYPT only (net_tls_ctx_create) */
		if (SSL_CTX_get_read_ahead(tls_ctx)) {
			struct tls_rbuf *r = malloc(sizeof(*r));

			rb = r ? BIO_new(rbio_method) : NULL;
			if (rb) {
				r->fd = x->fd;
				r->head = r->len = 0;
				BIO_set_data(rb, r);
			} else {
				free(r);
			}
			SSL_set_read_ahead(ssl, 0);	/* exact reads from our buffer */
		} else {
			rb = BIO_new_socket(x->fd, BIO_NOCLOSE);
		}
		wb = BIO_new(wbio_method);
	}
	if (!rb || !wb) {
		net_xprt_set_why("TLS setup failed");
		BIO_free(rb);
		BIO_free(wb);
		SSL_free(ssl);
		free(w);
		free(x->scratch);
		x->scratch = NULL;
		ERR_clear_error();
		return MM_ENOMEM;
	}
	w->fd = x->fd;
	w->head = w->len = 0;
	BIO_set_data(wb, w);
	SSL_set_bio(ssl, rb, wb);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	x->ssl = ssl;
	return MM_OK;
}

static int tls_flush(struct net_xprt *x)
{
	struct tls_wbuf *w;
	int r;

	pthread_mutex_lock(&x->lock);
	w = BIO_get_data(SSL_get_wbio(x->ssl));
	r = wbuf_send(w);
	pthread_mutex_unlock(&x->lock);
	if (r > 0)
		return MM_OK;
	if (r == 0)
		return NET_XPRT_WANT_WRITE;
	net_xprt_set_why("write: %s", strerror(errno));
	return MM_ECLOSED;
}

static int tls_handshake(struct net_xprt *x)
{
	int r, e;

	tls_clear_errors();
	errno = 0;
	r = SSL_do_handshake(x->ssl);
	if (r == 1)
		return MM_OK;
	e = SSL_get_error(x->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return NET_XPRT_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return NET_XPRT_WANT_WRITE;
	r = tls_error(x->ssl, e, "handshake");
	return r == MM_ECLOSED ? MM_EUNREACH : r;
}

static ssize_t tls_read(struct net_xprt *x, void *buf, size_t len)
{
	int r, e = SSL_ERROR_NONE, rc = MM_OK;

	if (len > INT_MAX)
		len = INT_MAX;
	pthread_mutex_lock(&x->lock);
	tls_clear_errors();
	errno = 0;
	r = SSL_read(x->ssl, buf, (int)len);
	if (r <= 0) {
		e = SSL_get_error(x->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			rc = tls_error(x->ssl, e, "read");
	}
	pthread_mutex_unlock(&x->lock);
	if (r > 0)
		return r;
	if (e == SSL_ERROR_WANT_READ)
		return NET_XPRT_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return NET_XPRT_WANT_WRITE;
	return rc;
}

/*
 * SSL_write has no writev: pack small pieces into one record in
 * x->scratch, hand large pieces over directly. The packing depends only
 * on the bytes still to send, so a retry after WANT_WRITE presents the
 * same first bytes again, as OpenSSL requires.
 */
static ssize_t tls_writev(struct net_xprt *x, const struct iovec *iov, int iovcnt)
{
	size_t total = 0, off = 0;
	int i = 0;

	while (i < iovcnt) {
		const uint8_t *p;
		size_t n, left = iov[i].iov_len - off;
		int r, e = SSL_ERROR_NONE, rc = MM_OK;

		if (left == 0) {
			i++;
			off = 0;
			continue;
		}
		if (left >= TLS_REC) {
			p = (const uint8_t *)iov[i].iov_base + off;
			n = left > (1u << 30) ? (1u << 30) : left;
		} else {
			size_t o = off;
			int j = i;

			n = 0;
			while (j < iovcnt && n < TLS_REC) {
				size_t take = iov[j].iov_len - o;

				if (take > TLS_REC - n)
					take = TLS_REC - n;
				memcpy(x->scratch + n, (const uint8_t *)iov[j].iov_base + o, take);
				n += take;
				o += take;
				if (o == iov[j].iov_len) {
					j++;
					o = 0;
				}
			}
			p = x->scratch;
		}
		pthread_mutex_lock(&x->lock);
		tls_clear_errors();
		errno = 0;
		r = SSL_write(x->ssl, p, (int)n);
		if (r <= 0) {
			e = SSL_get_error(x->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				rc = tls_error(x->ssl, e, "write");
		}
		pthread_mutex_unlock(&x->lock);
		if (r <= 0) {
			if (total)
				return (ssize_t)total;
			if (e == SSL_ERROR_WANT_READ)
				return NET_XPRT_WANT_READ;
			if (e == SSL_ERROR_WANT_WRITE)
				return NET_XPRT_WANT_WRITE;
			return rc;
		}
		total += (size_t)r;
		/* advance (i, off) by r bytes */
		for (size_t adv = (size_t)r; adv;) {
			size_t l = iov[i].iov_len - off;

			if (adv < l) {
				off += adv;
				adv = 0;
			} else {
				adv -= l;
				i++;
				off = 0;
			}
		}
	}
	return (ssize_t)total;
}

static bool tls_pending(struct net_xprt *x)
{
	bool p;

	pthread_mutex_lock(&x->lock);
	p = SSL_has_pending(x->ssl) != 0 || BIO_pending(SSL_get_rbio(x->ssl)) > 0;
	pthread_mutex_unlock(&x->lock);
	return p;
}

bool net_tls_drained(struct net_xprt *x)
{
	return SSL_pending(x->ssl) == 0 && SSL_has_pending(x->ssl) == 0 &&
	       BIO_pending(SSL_get_rbio(x->ssl)) == 0;
}

bool net_tls_leftover(struct net_xprt *x, const uint8_t **rest, size_t *len)
{
	BIO *rb = SSL_get_rbio(x->ssl);

	*rest = NULL;
	*len = 0;
	if (SSL_pending(x->ssl) != 0 || SSL_has_pending(x->ssl) != 0)
		return false;
	if (rbio_method && BIO_method_type(rb) == rbio_type) {
		struct tls_rbuf *r = BIO_get_data(rb);

		*rest = r->buf + r->head;
		*len = r->len - r->head;
		return true;
	}
	return BIO_pending(rb) == 0;
}

/* Never SSL_shutdown(): in AUTHONLY the socket carries clear frames after
 * the hello, and a close_notify record would be read as garbage. */
static void tls_close(struct net_xprt *x)
{
	SSL_free(x->ssl);
	x->ssl = NULL;
	free(x->scratch);
	x->scratch = NULL;
}

const struct net_xprt_ops net_xprt_tls = {
	.name = "tls",
	.exact_readiness = false,
	.attach = tls_attach,
	.handshake = tls_handshake,
	.read = tls_read,
	.writev = tls_writev,
	.flush = tls_flush,
	.pending = tls_pending,
	.close = tls_close,
};

/* ---- SSL_CTX --------------------------------------------------------- */

static int tls_fail(SSL_CTX *c, int rc, const char *what, const char *file)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	mm_error("net", "TLS setup: %s %s: %s", what, file ? file : "(none)",
		 r ? r : "failed");
	ERR_clear_error();
	SSL_CTX_free(c);
	return rc;
}

int net_tls_ctx_create(const struct net_config *cfg, void **out)
{
	const char *suites = TLS_DEFAULT_SUITES;
	STACK_OF(X509_NAME) *cas;
	SSL_CTX *c;

	ERR_clear_error();
	if (!cfg->ca_file || !cfg->cert_file || !cfg->key_file) {
		mm_error("net", "TLS setup: ca_file, cert_file and key_file are required");
		return MM_EINVAL;
	}
	c = SSL_CTX_new(TLS_method());
	if (!c)
		return tls_fail(NULL, MM_ENOMEM, "SSL_CTX_new", NULL);
	if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1)
		return tls_fail(c, MM_ENOTSUP, "TLS 1.3", NULL);
	if (cfg->security == NET_SEC_ENCRYPT && cfg->ciphers && cfg->ciphers[0])
		suites = cfg->ciphers;
	if (SSL_CTX_set_ciphersuites(c, suites) != 1)
		return tls_fail(c, MM_EINVAL, "ciphersuites", suites);
	if (SSL_CTX_use_certificate_chain_file(c, cfg->cert_file) != 1)
		return tls_fail(c, MM_EINVAL, "certificate", cfg->cert_file);
	if (SSL_CTX_use_PrivateKey_file(c, cfg->key_file, SSL_FILETYPE_PEM) != 1)
		return tls_fail(c, MM_EINVAL, "private key", cfg->key_file);
	if (SSL_CTX_check_private_key(c) != 1)
		return tls_fail(c, MM_EINVAL, "key does not match certificate", cfg->key_file);
	if (SSL_CTX_load_verify_locations(c, cfg->ca_file, NULL) != 1)
		return tls_fail(c, MM_EINVAL, "CA certificate", cfg->ca_file);
	cas = SSL_load_client_CA_file(cfg->ca_file);
	if (cas)
		SSL_CTX_set_client_CA_list(c, cas);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* OpenSSL caches a certificate's decoded extensions (key ids, usage)
	 * inside the shared X509 object the first time a verification needs
	 * them; two handshakes on two I/O threads would race on that (TSan
	 * sees it). Fill the caches now, while we are single-threaded. */
	{
		STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(c));

		for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
			X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

			if (x)
				X509_check_purpose(x, -1, 0);
		}
		if (SSL_CTX_get0_certificate(c))
			X509_check_purpose(SSL_CTX_get0_certificate(c), -1, 0);
	}
	/* No session tickets: nothing may arrive after the handshake that the
	 * AUTHONLY switch would leave behind in the SSL object. */
	SSL_CTX_set_num_tickets(c, 0);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
			       SSL_OP_NO_RENEGOTIATION);
	/* NO_AUTO_CHAIN: send our certificate only; peers hold the CA. */
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
			    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
	/* The ctx's read-ahead flag only selects the read BIO (tls_attach):
	 * AUTHONLY reads exactly one record at a time from the socket, so the
	 * clear bytes behind the hello-ack record stay in the socket; ENCRYPT
	 * reads ahead through tls_rbio. */
	SSL_CTX_set_read_ahead(c, cfg->security == NET_SEC_ENCRYPT);
	ERR_clear_error();
	*out = c;
	return MM_OK;
}

void net_tls_ctx_free(void *tls_ctx)
{
	SSL_CTX_free(tls_ctx);
}

/* ---- cipherList ------------------------------------------------------ */

static const struct {
	const char *name;	/* cipherList spelling (OpenSSL TLS 1.2 style) */
	const char *suite;	/* TLS 1.3 ciphersuite */
} cipher_map[] = {
	{"AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"},
	{"AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384"},
	{"CHACHA20-POLY1305-SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
	{"CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256"},
	{"AES128-CCM-SHA256", "TLS_AES_128_CCM_SHA256"},
	{"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
	{"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
	{"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
	{"TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256"},
	{"TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256"},
};

int net_parse_cipherlist(const char *value, enum net_security *sec,
			 char *ciphers, size_t ciphers_sz)
{
	char buf[256], *save = NULL, *tok;
	size_t used = 0;
	int n = 0;

	if (!value || !sec || !ciphers || ciphers_sz == 0)
		return MM_EINVAL;
	while (*value == ' ')
		value++;
	if (!strcasecmp(value, "AUTHONLY") || !strcasecmp(value, "EMPTY")) {
		*sec = strcasecmp(value, "AUTHONLY") ? NET_SEC_PLAIN : NET_SEC_AUTHONLY;
		ciphers[0] = 0;
		return MM_OK;
	}
	if (strlen(value) >= sizeof(buf))
		return MM_EINVAL;
	strcpy(buf, value);
	ciphers[0] = 0;
	for (tok = strtok_r(buf, ":, ", &save); tok; tok = strtok_r(NULL, ":, ", &save)) {
		const char *suite = NULL;
		size_t l;

		for (size_t i = 0; i < sizeof(cipher_map) / sizeof(cipher_map[0]); i++)
			if (!strcasecmp(tok, cipher_map[i].name))
				suite = cipher_map[i].suite;
		if (!suite) {
			ciphers[0] = 0;
			return MM_EINVAL;
		}
		l = strlen(suite);
		if (used + l + (n ? 1 : 0) + 1 > ciphers_sz) {
			ciphers[0] = 0;
			return MM_ETOOBIG;
		}
		if (n)
			ciphers[used++] = ':';
		memcpy(ciphers + used, suite, l + 1);
		used += l;
		n++;
	}
	if (n == 0)
		return MM_EINVAL;
	*sec = NET_SEC_ENCRYPT;
	return MM_OK;
}
