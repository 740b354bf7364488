/*
 * nsd/server.h - the NSD server: sector reads and writes of this node's
 * local NSDs on behalf of other nodes (MSG_NSD_READ, MSG_NSD_WRITE).
 *
 * Service is asynchronous: the net worker that receives a request
 * validates it, admits it and submits it to the disk; the disk's
 * completion thread sends the reply. No thread waits on a disk, so
 * nsdMaxWorkerThreads bounds requests in service (GPFS's meaning: one
 * server thread per request in service) rather than a thread count, and
 * max_bytes bounds the data buffers they hold. A request over either
 * bound is answered MM_EBUSY at once (the client backs off and retries),
 * so memory never grows with the offered load.
 *
 * Every request is checked in this order, each refusal answered with an
 * MM_E* status and a message naming this server and the cause:
 *   1. the decoder (nsd/proto.h): MM_EPROTO
 *   2. fencing (config.fence): MM_ENOLEASE when this server's own lease
 *      lapsed, or the request arrived under an earlier lease (it must not
 *      write for anyone: the client fails over), or
 *      MM_EFENCED when the requester is not an active member (expelled
 *      nodes get nothing, whatever they still believe)
 *   3. the NSD: MM_ENOENT unless this node reaches it locally
 *   4. the range: MM_EINVAL for misalignment to the disk's sector size,
 *      a range past the end of the disk; MM_EPERM for a write touching the
 *      NSD descriptor (the first NSD_DESC_BYTES)
 *   5. with NSD_PF_CHECKSUM, a write whose data does not match its CRC32C:
 *      MM_ECHECKSUM (nothing is written)
 *   6. admission: MM_EBUSY; MM_ESHUTDOWN once nsd_server_stop() began.
 *   7. writes: fencing again, right before the disk (the thread may have
 *      been stopped since step 2).
 * A disk error is answered MM_EIO, never with data.
 *
 * Threads: handlers run on net's worker pool, replies are sent from the
 * disk completion threads. fence() is called on worker threads and must
 * not block.
 */
#ifndef MM_NSD_SERVER_H
#define MM_NSD_SERVER_H

#include <stdint.h>

#include "net/net.h"
#include "nsd/table.h"

typedef struct nsd_server nsd_server;

/*
 * 0 to serve now a request of node <node> that arrived at <recv_ns>
 * (net_req_recv_ns), else MM_ENOLEASE (this server's lease lapsed, or the
 * request arrived under an earlier lease of it: a server frozen past its
 * lease must not act on what it received before, even once it has
 * rejoined) or MM_EFENCED (the requester is not an active member).
 */
typedef int (*nsd_fence_fn)(uint32_t node, uint64_t recv_ns, void *arg);

struct nsd_server_config {
	net_ctx *net;
	nsd_table *tab;
	const char *name;		/* this server in messages: "node 2 (c1n2)" */
	unsigned max_requests;		/* in service at once (nsdMaxWorkerThreads) */
	uint64_t max_bytes;		/* data buffers held at once */
	nsd_fence_fn fence;		/* NULL: serve everyone (tests) */
	void *fence_arg;
	/* This node's lease epoch (nsd/client.h nsd_may_io_fn): each write is
	 * stamped with it at admission, so the disk's gate (nsd/disk.h) drops
	 * it if the lease changes before it reaches the disk. NULL: unstamped. */
	uint64_t (*epoch)(void *arg);
	void *epoch_arg;
	/* Before refusing a request for an NSD <tab> does not know: bring the
	 * table up to date if it may be older than the request (received at
	 * <recv_ns>), since the NSD may have been created, and its rescan
	 * announced, after this node last read it. Runs on a service thread;
	 * may block. NULL: refuse at once. */
	void (*refresh)(uint64_t recv_ns, void *arg);
	void *refresh_arg;
};

struct nsd_server_stats {
	uint64_t requests;		/* served successfully */
	uint64_t bytes_read, bytes_written;
	uint64_t refused_fenced, refused_nolease, refused_busy, refused_invalid;
	uint64_t errors;		/* disk errors answered MM_EIO */
	unsigned in_service, peak_in_service;
	uint64_t bytes_held, max_bytes;
	unsigned max_requests;
};

/* Registers the handlers: call before <net> has connections. */
int nsd_server_create(const struct nsd_server_config *cfg, nsd_server **out);
/* Refuse new requests and wait until every admitted one was answered. */
void nsd_server_stop(nsd_server *s);
/* After nsd_server_stop() and net_destroy() (handlers hold <s>). */
void nsd_server_destroy(nsd_server *s);
void nsd_server_get_stats(nsd_server *s, struct nsd_server_stats *st);

#endif
