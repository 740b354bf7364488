/*
 * net/xprt_aead.c - the ENCRYPT transport after the hello: our own AEAD
 * records on the raw socket, keyed from the TLS 1.3 handshake.
 *
 * Entry points: net_aead_switch() (net/conn.c, conn_go_up(): derive the
 * keys from the SSL object, then take over the socket) and the
 * net_xprt_aead table. Record format, key and nonce rules, and why this
 * is safe: net/README.md "NET_SEC_ENCRYPT: records after the hello".
 *
 * Threads: the send direction (tx, obuf) belongs to the holder of the
 * connection's send lock (writev, flush); the receive direction (rx,
 * ibuf) to the holder of the receive token (read, pending). The two
 * share nothing, so a reader never waits for a writer: no lock here.
 *
 * Record: be32 L (1 .. AEAD_REC), then L bytes of ciphertext, then a
 * 16-byte tag. The 4 length bytes are the AAD. The nonce is 4 zero bytes
 * and the be64 count of records sent before in this direction; the key
 * changes every 2^AEAD_EPOCH_BITS records (key_e = HMAC-SHA256(secret,
 * "mmfs key" || be64 e)).
 */
#include "net/xprt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "common/err.h"

#define AEAD_REC (64 * 1024)		/* max plaintext per record */
#define AEAD_PFX 4			/* be32 plaintext length */
#define AEAD_TAG 16
#define AEAD_OVH (AEAD_PFX + AEAD_TAG)
#define AEAD_OBUF (4 * (AEAD_REC + AEAD_OVH))	/* sealed records per send */
#define AEAD_IBUF (8 * (AEAD_REC + AEAD_OVH))	/* ciphertext read ahead */
#define AEAD_SPLIT 16384		/* a piece this big starts its own record */
#define AEAD_EPOCH_BITS 20		/* new key every 2^20 records */
#define AEAD_SECRET 32

_Static_assert(AEAD_IBUF >= 2 * (AEAD_REC + AEAD_OVH), "ibuf holds a record after any head");

struct aead_dir {
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *cipher;
	size_t keylen;
	uint64_t seq;			/* records done in this direction */
	uint8_t secret[AEAD_SECRET];	/* from the TLS exporter */
};

struct aead {
	int fd;
	struct aead_dir tx, rx;
	/* send side (send-lock holder): unsent ciphertext obuf[ohead .. olen) */
	uint8_t *obuf;
	size_t ohead, olen;
	/* receive side (receive-token holder): undecrypted ibuf[ihead .. itail),
	 * decrypted but not yet handed out ibuf[phead .. ptail) */
	uint8_t *ibuf;
	size_t ihead, itail, phead, ptail;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Key <dir> for the epoch of its next record. */
static int dir_key(struct aead_dir *d, bool enc)
{
	static const char label[] = "mmfs key";
	uint8_t msg[sizeof(label) - 1 + 8], key[32];
	unsigned int klen = sizeof(key);
	int ok;

	memcpy(msg, label, sizeof(label) - 1);
	put_be64(msg + sizeof(label) - 1, d->seq >> AEAD_EPOCH_BITS);
	if (!HMAC(EVP_sha256(), d->secret, AEAD_SECRET, msg, sizeof(msg), key, &klen))
		return MM_ENOMEM;
	ok = enc ? EVP_EncryptInit_ex(d->ctx, d->cipher, NULL, key, NULL)
		 : EVP_DecryptInit_ex(d->ctx, d->cipher, NULL, key, NULL);
	OPENSSL_cleanse(key, sizeof(key));
	return ok == 1 ? MM_OK : MM_ENOMEM;
}

static void dir_nonce(const struct aead_dir *d, uint8_t iv[12])
{
	memset(iv, 0, 4);
	put_be64(iv + 4, d->seq);
}

/* Next record's nonce; rekeys at an epoch boundary. */
static int dir_next(struct aead_dir *d, bool enc, uint8_t iv[12])
{
	if (d->seq == UINT64_MAX) {
		net_xprt_set_why("record counter exhausted");
		return MM_ECLOSED;
	}
	if (d->seq && (d->seq & ((1ull << AEAD_EPOCH_BITS) - 1)) == 0 && dir_key(d, enc)) {
		net_xprt_set_why("record key change failed");
		return MM_ENOMEM;
	}
	dir_nonce(d, iv);
	return MM_OK;
}

/* ---- send ------------------------------------------------------------ */

/* 1: all sent; 0: socket full; -1: error (errno). */
static int obuf_send(struct aead *a)
{
	int r = net_sock_send_pending(a->fd, a->obuf, a->olen, &a->ohead);

	if (r == 1)
		a->ohead = a->olen = 0;
	return r;
}

/* Seal one record from iov[*i] + *off on into obuf; advance (*i, *off). */
static ssize_t seal_record(struct aead *a, const struct iovec *iov, int iovcnt, int *i,
			   size_t *off)
{
	uint8_t iv[12], *out = a->obuf + a->olen, *ct = out + AEAD_PFX;
	size_t len = 0;
	int outl, rc;

	/* how much: up to AEAD_REC; stop before a big piece that follows */
	for (int j = *i; j < iovcnt && len < AEAD_REC; j++) {
		size_t avail = iov[j].iov_len - (j == *i ? *off : 0);

		if (j > *i && len > 0 && avail >= AEAD_SPLIT)
			break;
		len += avail < AEAD_REC - len ? avail : AEAD_REC - len;
	}
	rc = dir_next(&a->tx, true, iv);
	if (rc)
		return rc;
	put_be32(out, (uint32_t)len);
	if (EVP_EncryptInit_ex(a->tx.ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(a->tx.ctx, NULL, &outl, out, AEAD_PFX) != 1)
		goto fail;
	for (size_t done = 0; done < len;) {
		size_t take = iov[*i].iov_len - *off;

		if (take > len - done)
			take = len - done;
		if (take && EVP_EncryptUpdate(a->tx.ctx, ct + done, &outl,
					      (const uint8_t *)iov[*i].iov_base + *off, (int)take) != 1)
			goto fail;
		done += take;
		*off += take;
		if (*off == iov[*i].iov_len) {
			(*i)++;
			*off = 0;
		}
	}
	if (EVP_EncryptFinal_ex(a->tx.ctx, ct + len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->tx.ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, ct + len) != 1)
		goto fail;
	a->tx.seq++;
	a->olen += AEAD_OVH + len;
	return (ssize_t)len;
fail:
	net_xprt_set_why("record encryption failed");
	return MM_EIO;
}

static ssize_t aead_writev(struct net_xprt *x, const struct iovec *iov, int iovcnt)
{
	struct aead *a = x->aead;
	size_t total = 0, off = 0;
	int i = 0;

	for (;;) {
		int r;

		while (i < iovcnt && iov[i].iov_len == off) {
			i++;
			off = 0;
		}
		/* seal while obuf has room for a full record */
		while (i < iovcnt && a->olen + AEAD_REC + AEAD_OVH <= AEAD_OBUF) {
			ssize_t n = seal_record(a, iov, iovcnt, &i, &off);

			if (n < 0)
				return total ? (ssize_t)total : n;
			total += (size_t)n;
			while (i < iovcnt && iov[i].iov_len == off) {
				i++;
				off = 0;
			}
		}
		r = obuf_send(a);
		if (r < 0) {
			net_xprt_set_why("write: %s", strerror(errno));
			return total ? (ssize_t)total : MM_ECLOSED;
		}
		if (i == iovcnt)
			return (ssize_t)total;
		if (r == 0) {
			/* compact so that the next call has room to seal */
			if (a->ohead > 0) {
				memmove(a->obuf, a->obuf + a->ohead, a->olen - a->ohead);
				a->olen -= a->ohead;
				a->ohead = 0;
			}
			if (total)
				return (ssize_t)total;
			if (a->olen + AEAD_REC + AEAD_OVH > AEAD_OBUF)
				return NET_XPRT_WANT_WRITE;
		}
	}
}

static int aead_flush(struct net_xprt *x)
{
	int r = obuf_send(x->aead);

	if (r > 0)
		return MM_OK;
	if (r == 0)
		return NET_XPRT_WANT_WRITE;
	net_xprt_set_why("write: %s", strerror(errno));
	return MM_ECLOSED;
}

/* ---- receive --------------------------------------------------------- */

/* Open the complete record at ibuf + ihead (plaintext length <len>) into
 * <dst>; the tag is checked before anything is used. */
static int open_record(struct aead *a, uint8_t *dst, size_t len)
{
	uint8_t iv[12], *pfx = a->ibuf + a->ihead, *ct = pfx + AEAD_PFX;
	int outl, rc = dir_next(&a->rx, false, iv);

	if (rc)
		return rc;
	if (EVP_DecryptInit_ex(a->rx.ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_DecryptUpdate(a->rx.ctx, NULL, &outl, pfx, AEAD_PFX) != 1 ||
	    EVP_DecryptUpdate(a->rx.ctx, dst, &outl, ct, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->rx.ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, ct + len) != 1 ||
	    EVP_DecryptFinal_ex(a->rx.ctx, dst + len, &outl) != 1) {
		net_xprt_set_why("record %llu failed authentication",
				 (unsigned long long)a->rx.seq);
		return MM_EPROTO;
	}
	a->rx.seq++;
	a->ihead += AEAD_OVH + len;
	return MM_OK;
}

/* Plaintext length of the complete record at ihead, 0 if incomplete,
 * or MM_EPROTO for an impossible length. */
static ssize_t record_ready(struct aead *a)
{
	size_t have = a->itail - a->ihead;
	uint32_t len;

	if (have < AEAD_PFX)
		return 0;
	len = get_be32(a->ibuf + a->ihead);
	if (len == 0 || len > AEAD_REC) {
		net_xprt_set_why("bad record length %u", len);
		return MM_EPROTO;
	}
	return have >= AEAD_OVH + len ? (ssize_t)len : 0;
}

static ssize_t aead_read(struct net_xprt *x, void *buf, size_t len)
{
	struct aead *a = x->aead;
	uint8_t *dst = buf;
	size_t got = 0;

	if (a->phead < a->ptail) {
		got = a->ptail - a->phead;
		if (got > len)
			got = len;
		memcpy(dst, a->ibuf + a->phead, got);
		a->phead += got;
		return (ssize_t)got;
	}
	for (;;) {
		ssize_t r = record_ready(a);
		ssize_t n;

		if (r < 0)
			return r;
		if (r > 0) {
			size_t l = (size_t)r;
			int rc;

			if (len - got >= l) {
				/* straight into the caller's buffer */
				rc = open_record(a, dst + got, l);
				if (rc)
					return rc;
				got += l;
				if (got == len)
					return (ssize_t)got;
				continue;
			}
			if (got)
				return (ssize_t)got;
			/* in place, handed out piecewise */
			a->phead = a->ihead + AEAD_PFX;
			a->ptail = a->phead + l;
			rc = open_record(a, a->ibuf + a->phead, l);
			if (rc) {
				a->phead = a->ptail = 0;
				return rc;
			}
			memcpy(dst, a->ibuf + a->phead, len);
			a->phead += len;
			return (ssize_t)len;
		}
		if (got)
			return (ssize_t)got;
		/* need more ciphertext; keep room for a whole record */
		if (a->ihead == a->itail) {
			a->ihead = a->itail = 0;
		} else if (AEAD_IBUF - a->ihead < AEAD_REC + AEAD_OVH) {
			memmove(a->ibuf, a->ibuf + a->ihead, a->itail - a->ihead);
			a->itail -= a->ihead;
			a->ihead = 0;
		}
		a->phead = a->ptail = 0;
		do
			n = recv(a->fd, a->ibuf + a->itail, AEAD_IBUF - a->itail, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return NET_XPRT_WANT_READ;
		if (n < 0) {
			net_xprt_set_why("read: %s", strerror(errno));
			return MM_ECLOSED;
		}
		if (n == 0) {
			if (a->itail > a->ihead) {
				net_xprt_set_why("connection closed inside a record");
				return MM_EPROTO;
			}
			net_xprt_set_why("connection closed by peer");
			return MM_ECLOSED;
		}
		a->itail += (size_t)n;
	}
}

static bool aead_pending(struct net_xprt *x)
{
	struct aead *a = x->aead;

	return a->phead < a->ptail || record_ready(a) != 0;
}

static void dir_free(struct aead_dir *d)
{
	EVP_CIPHER_CTX_free(d->ctx);
	d->ctx = NULL;
	OPENSSL_cleanse(d->secret, sizeof(d->secret));
}

static void aead_close(struct net_xprt *x)
{
	struct aead *a = x->aead;

	if (!a)
		return;
	dir_free(&a->tx);
	dir_free(&a->rx);
	free(a->obuf);
	free(a->ibuf);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	x->aead = NULL;
}

static int aead_attach(struct net_xprt *x, void *tls_ctx, bool server)
{
	(void)x;
	(void)tls_ctx;
	(void)server;
	return MM_ENOTSUP;	/* entered only through net_aead_switch() */
}

static int aead_handshake(struct net_xprt *x)
{
	(void)x;
	return MM_OK;
}

const struct net_xprt_ops net_xprt_aead = {
	.name = "aead",
	.exact_readiness = false,
	.attach = aead_attach,
	.handshake = aead_handshake,
	.read = aead_read,
	.writev = aead_writev,
	.flush = aead_flush,
	.pending = aead_pending,
	.close = aead_close,
};

/* ---- the switch ------------------------------------------------------ */

static int dir_init(struct aead_dir *d, SSL *ssl, const EVP_CIPHER *cipher, const char *label,
		    bool enc)
{
	d->cipher = cipher;
	d->keylen = (size_t)EVP_CIPHER_get_key_length(cipher);
	d->seq = 0;
	if (SSL_export_keying_material(ssl, d->secret, AEAD_SECRET, label, strlen(label), NULL, 0,
				       0) != 1)
		return MM_EAUTH;
	d->ctx = EVP_CIPHER_CTX_new();
	if (!d->ctx || dir_key(d, enc))
		return MM_ENOMEM;
	return MM_OK;
}

int net_aead_switch(struct net_xprt *x, bool server)
{
	SSL *ssl = x->ssl;
	const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
	const EVP_CIPHER *cipher;
	struct aead *a;
	const uint8_t *rest;
	size_t nrest;
	int rc;

	if (!sc)
		return MM_ENOTSUP;
	switch (SSL_CIPHER_get_id(sc) & 0xffff) {
	case 0x1301:		/* TLS_AES_128_GCM_SHA256 */
		cipher = EVP_aes_128_gcm();
		break;
	case 0x1302:		/* TLS_AES_256_GCM_SHA384 */
		cipher = EVP_aes_256_gcm();
		break;
	case 0x1303:		/* TLS_CHACHA20_POLY1305_SHA256 */
		cipher = EVP_chacha20_poly1305();
		break;
	default:
		return MM_ENOTSUP;	/* CCM suites stay on TLS records */
	}
	if (!net_tls_leftover(x, &rest, &nrest) || nrest > AEAD_IBUF) {
		net_xprt_set_why("data after the hello inside TLS");
		return MM_EPROTO;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return MM_ENOMEM;
	a->fd = x->fd;
	a->obuf = malloc(AEAD_OBUF);
	a->ibuf = malloc(AEAD_IBUF);
	rc = a->obuf && a->ibuf ? MM_OK : MM_ENOMEM;
	if (!rc)
		rc = dir_init(&a->tx, ssl, cipher,
			      server ? "EXPERIMENTAL mmfs s2c" : "EXPERIMENTAL mmfs c2s", true);
	if (!rc)
		rc = dir_init(&a->rx, ssl, cipher,
			      server ? "EXPERIMENTAL mmfs c2s" : "EXPERIMENTAL mmfs s2c", false);
	if (rc) {
		net_xprt_set_why("cannot derive record keys");
		x->aead = a;
		aead_close(x);
		return rc;
	}
	/* ciphertext of our records the TLS read buffer already holds */
	memcpy(a->ibuf, rest, nrest);
	a->itail = nrest;
	x->ops->close(x);	/* the TLS state; nothing is sent */
	x->aead = a;
	x->ops = &net_xprt_aead;
	return MM_OK;
}
