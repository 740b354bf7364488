/*
 * net/xprt.h - transports (internal to net/): one table of operations per
 * transport type, modelled on redis ConnectionType and haproxy xprt_ops.
 *
 * A transport moves bytes over one connected, non-blocking socket. The
 * connection code (net/conn.c) only calls through x->ops, so another
 * transport (RDMA verbs for bulk data) can slot in with its own table.
 *
 * Types:
 *   net_xprt_tcp  plain TCP: recv/sendmsg on the socket
 *   net_xprt_tls  TLS 1.3 via OpenSSL (net/xprt_tls.c)
 *   net_xprt_aead our AEAD records keyed from TLS (net/xprt_aead.c)
 * In NET_SEC_AUTHONLY a connection starts on net_xprt_tls and switches
 * x->ops to net_xprt_tcp after the hello exchange; in NET_SEC_ENCRYPT to
 * net_xprt_aead (GCM and ChaCha20 suites; see net/README.md).
 *
 * Return convention: >= 0 success (bytes for read/writev), else
 * NET_XPRT_WANT_READ / NET_XPRT_WANT_WRITE (would block: wait for the
 * socket to become readable / writable and call again with the same
 * bytes), or an MM_E* code. On MM_E* the reason is in net_xprt_why() of
 * the calling thread (like OpenSSL's per-thread error queue).
 *
 * Threads: read() is called only by the holder of the connection's
 * receive token (its I/O thread; on TCP also a blocking net_call() caller
 * reading its own reply); writev() and flush() by whoever holds the
 * connection's send lock; reading and writing may run at once, and the
 * transport protects its own state (TLS takes x->lock around each SSL
 * call; aead keeps separate send and receive state and takes no lock).
 * attach/handshake/close are single-threaded.
 */
#ifndef MM_NET_XPRT_H
#define MM_NET_XPRT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_XPRT_WANT_READ (-1000)
#define NET_XPRT_WANT_WRITE (-1001)

struct net_xprt;

struct net_xprt_ops {
	const char *name;	/* "tcp", "tls" */
	/* Readiness of the socket covers every byte the transport holds: a
	 * short read() means "drained until the next EPOLLIN". False for TLS,
	 * whose decrypted records can wait inside the SSL object. */
	bool exact_readiness;
	/* Set up transport state on connected socket <x->fd>: <tls_ctx> is the
	 * SSL_CTX (NULL for tcp), <server> the accepting side. */
	int (*attach)(struct net_xprt *x, void *tls_ctx, bool server);
	/* One step of the connect- or accept-side handshake: 0 when done. */
	int (*handshake)(struct net_xprt *x);
	/* Read up to <len> bytes into <buf>: > 0 bytes read; MM_ECLOSED at the
	 * peer's orderly close. */
	ssize_t (*read)(struct net_xprt *x, void *buf, size_t len);
	/* Write from <iovcnt> buffers; may be short (returns bytes taken).
	 * Bytes taken may still sit in the transport (TLS coalesces records
	 * into large sends): flush() pushes them out. */
	ssize_t (*writev)(struct net_xprt *x, const struct iovec *iov, int iovcnt);
	/* 0 once nothing written is left inside the transport, else
	 * NET_XPRT_WANT_WRITE (call again when writable) or MM_E*. */
	int (*flush)(struct net_xprt *x);
	/* Bytes held inside the transport that socket readiness does not show. */
	bool (*pending)(struct net_xprt *x);
	/* Free transport state (never closes x->fd, never sends anything). */
	void (*close)(struct net_xprt *x);
};

struct net_xprt {
	const struct net_xprt_ops *ops;
	int fd;
	void *ssl;		/* SSL *; TLS only */
	pthread_mutex_t lock;	/* TLS: serializes SSL_* calls on ssl */
	uint8_t *scratch;	/* TLS: record packing; send-lock holder only */
	void *aead;		/* aead: struct aead (net/xprt_aead.c) */
};

extern const struct net_xprt_ops net_xprt_tcp;
extern const struct net_xprt_ops net_xprt_tls;
extern const struct net_xprt_ops net_xprt_aead;

/* Why the calling thread's last transport call failed ("" if unknown). */
const char *net_xprt_why(void);
/* Set the calling thread's reason (printf-style). */
void net_xprt_set_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- TLS context (net/xprt_tls.c) ------------------------------------- */

struct net_config;
/* Build the SSL_CTX for cfg->security (AUTHONLY or ENCRYPT): TLS 1.3 only,
 * our certificate and key, peers verified against cfg->ca_file, no session
 * tickets. Logs and returns MM_EINVAL / MM_EAUTH naming the bad file. */
int net_tls_ctx_create(const struct net_config *cfg, void **out);

/*
 * Send buf[*head .. len) on non-blocking socket <fd>, advancing *head.
 * 1: all sent; 0: the socket is full (bytes remain); -1: error (errno set,
 * EPIPE for a zero-length send). Shared by transports that stage records.
 */
int net_sock_send_pending(int fd, const uint8_t *buf, size_t len, size_t *head);
void net_tls_ctx_free(void *tls_ctx);
/* AUTHONLY switch check: true if the SSL object holds no unread bytes. */
bool net_tls_drained(struct net_xprt *x);
/* ENCRYPT switch check: false if the SSL object holds undelivered
 * plaintext; else <rest>/<len> are the ciphertext bytes its read buffer
 * took from the socket beyond the last TLS record (valid until close). */
bool net_tls_leftover(struct net_xprt *x, const uint8_t **rest, size_t *len);

/* --- after the hello in ENCRYPT (net/xprt_aead.c) --------------------- */

/* Derive the per-direction record keys from TLS connection <x> (<server>:
 * the accepting side), free its TLS state and switch x->ops to
 * net_xprt_aead. MM_ENOTSUP (nothing changed, stay on TLS) for suites
 * without a record cipher here (CCM); MM_EPROTO if TLS still holds
 * plaintext; MM_ENOMEM / MM_EAUTH (x unchanged). Single-threaded: the
 * owning I/O thread before the connection goes UP. */
int net_aead_switch(struct net_xprt *x, bool server);

#endif
