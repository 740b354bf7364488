/*
 * tokens/toknet.h - tokens over net/ for real threads (2026-12-06).
 *
 * One toknet per daemon: this node's tok_client, and a tok_server for
 * each token space whose view names this node among its servers. It
 * carries the core's messages as one-way net/ frames of type MSG_TOK_BATCH,
 * batching every message one tokens call produces for one node into one
 * frame; runs the per-kind
 * revoke callbacks on its own revoke threads (never on net I/O threads);
 * and gives callers a blocking acquire on CLOCK_MONOTONIC.
 *
 * The daemon (mmfsd/tokensvc.c) feeds it the cluster's facts: views from
 * the CCR appointments (clm_fsmgr), node failures and recoveries, limits.
 * toknet itself never reads the CCR, so benchmarks and tests can run
 * several toknets in one process over loopback.
 *
 * Locks (tokens/README.md "toknet"): one mutex around the client, one
 * around each server; messages are sent with no tokens lock held, one
 * MSG_TOK_BATCH frame per destination and flush. Callers of toknet_*
 * hold no lock a revoke callback takes.
 *
 * Life: toknet_create before net's first connection; toknet_stop while
 * net runs (gives tokens back); toknet_destroy after net_destroy.
 *
 * Return convention: MM_OK or a negative MM_E* (common/err.h).
 */
#ifndef MM_TOKENS_TOKNET_H
#define MM_TOKENS_TOKNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "tokens/tokens.h"

/* Daemon-to-daemon message types of tokens (0x03xx). */
enum {
	MSG_TOK_BATCH = 0x0301,	/* one-way: token messages, each preceded by its 2-byte length */
};

struct toknet;

struct toknet_config {
	uint32_t self;		/* this node's number */
	net_ctx *net;		/* registered on: toknet_create must precede net's first connection */
	int revoke_threads;	/* >= 1 */
	uint64_t mem_limit;	/* tokenMemLimit, bytes per local server; 0: none */
	size_t cache_limit;	/* maxFilesToCache: objects in the client cache; 0: none */
};

/* MM_OK, or an error: if *out is set even so (the handler was registered,
 * a thread did not start), it is stopped and still needs toknet_destroy
 * after net_destroy. */
int toknet_create(const struct toknet_config *cfg, struct toknet **out);
/*
 * Leave, in this order: wake every blocked toknet_acquire with
 * MM_ESHUTDOWN (its holder withdrawn); give back every cached token no
 * holder uses (tok_client_drop_unused) and wait up to 2 s for the client
 * to go idle, so a clean shutdown leaves nothing for recovery; run the
 * revoke jobs still queued and join the revoke threads; free the servers
 * and the client (tokens still granted are forgotten: the core requires
 * none); wake toknet_acquire_many callers (MM_ESHUTDOWN). Messages that
 * arrive afterwards are dropped. Needs cfg.net still running. Idempotent.
 */
void toknet_stop(struct toknet *t);
/* toknet_stop if not done, then free <t>. After net_destroy(cfg.net):
 * net keeps its MSG_TOK_BATCH handler, whose argument is <t>, for its
 * whole life (net has no unregister). */
void toknet_destroy(struct toknet *t);

/* Counters of the glue itself (the core's are tok_*_stats). */
struct toknet_stats {
	uint64_t batches_out, msgs_out;	/* frames sent, messages in them */
	uint64_t batches_in, msgs_in;	/* frames received, messages in them */
	uint64_t local_msgs;		/* messages to self, delivered in process */
	uint64_t send_errors;		/* net_send_oneway failed: messages lost */
	uint64_t bad_batches;		/* malformed frames refused */
	uint64_t unknown_space;		/* server messages for a space not served here */
	uint64_t revoke_jobs;		/* upcalls run on revoke threads */
	uint64_t revoke_errors;		/* ... that returned an error */
};
void toknet_get_stats(struct toknet *t, struct toknet_stats *st);

/* The framing of one MSG_TOK_BATCH payload: messages, each preceded by
 * its big-endian 16-bit length (1 .. 65535). MM_OK and *n messages, or
 * MM_EPROTO with the reason in <why> (truncated length or message, a zero
 * length). Pure: for the handler, tests and fuzzing. */
int toknet_batch_check(const void *buf, size_t len, size_t *n, char *why, size_t whysz);

/*
 * The view of <space> at <epoch> (the CCR appointment's): <servers>
 * serve it (manager first). If this node is one of them it starts (or
 * restarts, for a newer epoch) a server that rebuilds from <members>'
 * reasserts, with <failed> (failed, not yet recovered) treated as holding
 * unknown tokens; if not, a server it ran for the space is dropped. The
 * client then moves to the view. An epoch not newer than the current one
 * is ignored (MM_OK). <n> 0 forgets the space (it was deleted).
 */
int toknet_set_view(struct toknet *t, uint32_t space, uint32_t epoch, const uint32_t *servers,
		    size_t n, const uint32_t *members, size_t nmembers, const uint32_t *failed,
		    size_t nfailed);
/* The cluster lost node <node>: every local server keeps its tokens as
 * failed, the client stops waiting for its answers. <node> this node: it
 * was expelled, its cache is forgotten (tok_client_reset), and blocked
 * acquires return MM_ENOLEASE. */
void toknet_node_failed(struct toknet *t, uint32_t node);
/* The recovery of <node> is done (the hook, or leaseRecoveryWait): every
 * local server lets its tokens go. */
void toknet_node_recovered(struct toknet *t, uint32_t node);
/* <node> is active again. */
void toknet_node_up(struct toknet *t, uint32_t node);
void toknet_set_limits(struct toknet *t, uint64_t mem_limit, size_t cache_limit);
/* Self-fencing: <fn>(<arg>) is this node's lease (0: none valid; a new
 * value each time it joins again: clm_io_epoch). Every grant is checked
 * against it; a lease lapsed or changed since the cache was built drops
 * the cache (tok_client_reset) and the acquire returns MM_ENOLEASE, so a
 * node thawed past its lease never uses a token the cluster gave away.
 * NULL: no check (tests). */
void toknet_set_lease_check(struct toknet *t, uint64_t (*fn)(void *arg), void *arg);

/* Lost messages. The transport loses token messages only with a
 * connection, and then one of the two nodes must be expelled (or the
 * space get a new view) so that nobody waits for them for ever: the
 * daemon asks the cluster manager (clm_request_expel). <fn>(<arg>, node,
 * n) is called, on the sending thread with no lock held, when <n>
 * messages for <node> could not be sent; set before traffic starts.
 * toknet_last_sent_ns: when a frame last left for <node> (0: never, or a
 * node number >= TOKNET_MAX_NODES), to judge whether a connection that
 * closed may have lost some. */
#define TOKNET_MAX_NODES 16384u
void toknet_set_lost_hook(struct toknet *t, void (*fn)(void *arg, uint32_t node, size_t nmsg),
			  void *arg);
uint64_t toknet_last_sent_ns(struct toknet *t, uint32_t node);

/* The revoke callback of <kind>, run on a revoke thread: flush or
 * invalidate <r> of <k> so this node can drop to tok_mode_keep(held,
 * <want>). May block on disk I/O; must not acquire tokens. Its return is
 * logged if not MM_OK (the token is given up anyway). */
typedef int (*toknet_revoke_fn)(void *arg, const struct tok_key *k, struct tok_range r,
				enum tok_mode want);
/* Register <fn> for <kind>, or with NULL unregister it: then revokes of
 * <kind> still queued give their tokens back without calling the old
 * callback, and the call returns only once no callback of <kind> runs,
 * so its <arg> may be freed. Never call it from a revoke callback. */
void toknet_set_revoke(struct toknet *t, enum tok_kind kind, toknet_revoke_fn fn, void *arg);

/* Block until <h> (tok_holder_init'd) is granted: MM_OK; MM_ETIMEDOUT
 * after <timeout_ms> (> 0; <= 0 waits for ever), the holder withdrawn
 * (tok_cancel); MM_ENOLEASE if this node was expelled meanwhile (the
 * holder withdrawn); MM_ESHUTDOWN; MM_ESTATE if the space has no view yet;
 * MM_EINVAL. Sets h->done and h->arg (toknet's own). */
int toknet_acquire(struct toknet *t, struct tok_holder *h, int timeout_ms);
/* Block until all of <hs> are granted, taken in the total order
 * (tok_acquire_many; <hs> is sorted in place): MM_OK, MM_ESHUTDOWN,
 * MM_ESTATE, MM_EINVAL. No timeout (a multi-acquire cannot be withdrawn
 * half way); on MM_ESHUTDOWN it returns only once the client is freed,
 * so tokens never touch <hs> again. */
int toknet_acquire_many(struct toknet *t, struct tok_holder **hs, size_t n);
void toknet_release(struct toknet *t, struct tok_holder *h);

/* Diagnostics, each under the right lock: client and server statistics,
 * the client's pieces and waiters, every local server's records. The
 * callbacks run with a tokens lock held: they must only copy. */
void toknet_client_stats(struct toknet *t, struct tok_client_stats *st);
void toknet_client_pieces(struct toknet *t,
			  void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode,
				     struct tok_range r),
			  void *arg);
void toknet_client_waiters(struct toknet *t, void (*fn)(void *arg, const struct tok_waiter *w),
			   void *arg);
/* One call per local server: its space, statistics, and whether it is
 * rebuilding (tok_server_rebuilding). */
void toknet_servers(struct toknet *t,
		    void (*fn)(void *arg, uint32_t space, const struct tok_server_stats *st,
			       bool rebuilding),
		    void *arg);
void toknet_server_records(struct toknet *t, uint32_t space,
			   void (*fn)(void *arg, const struct tok_key *k, uint32_t node,
				      enum tok_mode mode, struct tok_range r),
			   void *arg);

#endif
