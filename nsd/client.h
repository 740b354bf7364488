/*
 * nsd/client.h - NSD I/O for the layers above: one asynchronous interface
 * whether a disk is local or reached through NSD servers.
 *
 * Path choice, per request, by the policy (useNSDserver):
 *   asneeded (and asfound)  the local disk if this node reaches it, else
 *                           the NSD's servers in list order
 *   always                  the servers only, even where a local path exists
 *   never                   the local disk only
 * A local disk error, or a server that fails (connection closed or refused,
 * timeout, its lease lapsed, it does not reach the disk, a disk error
 * there, a checksum mismatch) costs a retry on the next path: the request
 * fails only when no path is left, and then its message names the NSD, the
 * sector range and the cause on every path tried. A server answering
 * MM_EBUSY is asked again after a back-off; one answering MM_EFENCED while
 * this node holds a valid lease is asked again for a while (the server may
 * not have seen this node join yet). A server that failed is passed over
 * by later requests for a few seconds (then tried again first).
 *
 * Silent servers: a write whose server does not answer in timeout_ms may
 * still be sitting in that server, and could land after a retry on
 * another server has been overtaken by newer data. So it is not re-driven
 * elsewhere while the server is an active member (it is asked again, at
 * most three times, then the write fails with MM_ETIMEDOUT); once the
 * server has been expelled, the write waits recovery_wait_ms
 * (leaseRecoveryWait) for anything still in flight there, then goes to the
 * next server. Servers re-check their lease right before each write, so
 * this bound only has to cover the instant between that check and the
 * disk. Reads, and servers whose connection closed (the process is gone),
 * fail over at once.
 *
 * Fencing: no request leaves this node unless may_io() says its lease is
 * valid and has been since the request was submitted (MM_ENOLEASE
 * otherwise): an expelled node stops itself, and servers refuse it anyway.
 *
 * Requests: offset, length and buffer address are multiples of
 * NSD_IO_ALIGN, 0 < len <= NSD_IO_MAX. Writes may not touch the NSD
 * descriptor (offset < NSD_DESC_BYTES): MM_EPERM. With checksums on
 * (nsdChecksum), served data carries a CRC32C computed on the buffer at one
 * end and checked at the other.
 *
 * Threads: submit from any thread. done() runs exactly once per accepted
 * request, on a disk completion, net I/O or the client's retry thread; it
 * must not block (it may submit). The blocking wrappers must not be called
 * from done(). Return: 0 or MM_E*.
 */
#ifndef MM_NSD_CLIENT_H
#define MM_NSD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "nsd/disk.h"
#include "nsd/table.h"

#define NSD_IO_ALIGN 4096u
#define NSD_IO_MAX (16u << 20)

typedef struct nsd_client nsd_client;

enum nsd_path_policy {
	NSD_PATH_ASNEEDED = 0,
	NSD_PATH_ALWAYS,
	NSD_PATH_NEVER,
};
/* "asneeded", "asfound", "always", "never"; MM_EINVAL otherwise. */
int nsd_path_policy_parse(const char *s, enum nsd_path_policy *p);

/*
 * Non-zero while this node may issue I/O: an epoch that changes whenever
 * the node loses its lease and gets a new one (the lease id). A request
 * is only ever sent in the epoch it was submitted in: one submitted before
 * an expel fails with MM_ENOLEASE, even if the node has rejoined since.
 */
typedef uint64_t (*nsd_may_io_fn)(void *arg);

/* True if <node> is an active cluster member as this node sees it. */
typedef bool (*nsd_member_fn)(uint32_t node, void *arg);

struct nsd_client_config {
	net_ctx *net;			/* NULL: local disks only */
	nsd_table *tab;
	uint32_t my_node;
	nsd_may_io_fn may_io;		/* NULL: always, epoch 1 */
	void *may_io_arg;
	int timeout_ms;			/* per attempt at a server (0: 30 s) */
	int retry_ms;			/* how long EBUSY/EFENCED are retried (0: 10 s) */
	int down_ms;			/* a failed server is passed over this long (0: 5 s) */
	nsd_member_fn is_member;	/* NULL: a silent server counts as fenced at once */
	void *is_member_arg;
	int recovery_wait_ms;		/* leaseRecoveryWait: see "Silent servers" */
	enum nsd_path_policy policy;
	bool checksum;
};

struct nsd_io;
typedef void (*nsd_io_done_fn)(struct nsd_io *io, int rc);

struct nsd_io {
	uint64_t nsd_id;
	enum nsd_op op;
	uint64_t offset;
	size_t len;
	void *buf;
	nsd_io_done_fn done;
	void *arg;
	char err[768];			/* why it failed (rc != 0) */
	/* private */
	nsd_client *c;
	nsd_entry *e;
	nsd_ldisk *ld;
	nsd_disk *ldisk;
	struct nsd_req lreq;
	uint32_t servers[NSD_MAX_SERVERS];
	int nservers;
	uint32_t tried;			/* bit i: servers[i] was tried */
	bool local_tried;
	int cur;			/* index of the server asked now, -1: none */
	int crc_retries;
	int last_rc;			/* error of the last path tried */
	int timeouts;			/* silent answers from the current server */
	bool go_next;			/* the retry thread moves on to the next path */
	uint64_t t_start_ns, retry_until_ns, due_ns;
	uint64_t epoch, fence_until_ns;
	size_t cause_len;
	char cause[512];
	struct nsd_io *next;
	uint8_t stage;			/* NSD_IO_*: see client.c */
};

/* A request's life cycle (private): submitted requests are IN_FLIGHT on
 * a path, or QUEUED for the retry thread, until finish() makes them DONE,
 * exactly once. Any other move is a bug (MM_BUG_ON, nsd_io_dump). */
enum { NSD_IO_IDLE = 0, NSD_IO_IN_FLIGHT, NSD_IO_QUEUED, NSD_IO_DONE };

int nsd_client_create(const struct nsd_client_config *cfg, nsd_client **out);
/* Refuse new requests, wait for the ones in flight, free. */
void nsd_client_destroy(nsd_client *c);

void nsd_client_set_policy(nsd_client *c, enum nsd_path_policy p);
void nsd_client_set_checksum(nsd_client *c, bool on);

/* Returns 0 and later calls io->done once, or an error (MM_EINVAL,
 * MM_EPERM, MM_ENOENT for an unknown NSD, MM_ENOLEASE, MM_ESHUTDOWN) with
 * io->err set and no call. */
int nsd_client_submit(nsd_client *c, struct nsd_io *io);

/* Blocking wrappers; <err> (may be NULL) gets the message on failure. */
int nsd_client_read(nsd_client *c, uint64_t nsd_id, uint64_t offset, void *buf, size_t len,
		    char *err, size_t errsz);
int nsd_client_write(nsd_client *c, uint64_t nsd_id, uint64_t offset, const void *buf,
		     size_t len, char *err, size_t errsz);

/* NSD_IO_ALIGN-aligned buffer (free with free()). */
void *nsd_io_buf_alloc(size_t len);

#endif
