/*
 * tokens/tokens.h - distributed tokens: the contract (2026-12-06).
 *
 * Two-level locking as GPFS does it (shared/reference/gpfs-model.md s.2,
 * tokens/README.md): a node asks a token server once for a token on an
 * object, then serves its own callers ("holders") locally; messages flow
 * only when another node wants a conflicting mode.
 *
 *   tok_server   one token space partition: grants, or answers with the
 *                conflicting holders. It never revokes.
 *   tok_client   one node's token cache and its local holders. On a
 *                conflict answer the REQUESTING client sends the revokes,
 *                and retries once every holder has answered.
 *
 * Both are pure state machines: no threads, no locks, no clock. Messages
 * leave through the transport ops given at creation and enter through
 * tok_server_recv / tok_client_recv; revokes reach the upper layer through
 * per-kind callbacks that may complete later (tok_client_upcall_done).
 * The caller serialises all calls on one instance (one lock around it, or
 * one thread); callbacks run inside those calls, on the caller's thread,
 * and may call tok_acquire / tok_release on the same client (they are
 * queued and run before the outer call returns), but transport send must
 * not call back into tokens synchronously.
 *
 * Return convention: int functions return MM_OK or a negative MM_E* code
 * (common/err.h); decoding failures are MM_EPROTO with a reason.
 *
 * Failures (README "Failures"): a token space's servers form a view with
 * an epoch (the CCR appointment's); every message to or from a server
 * carries it, and a new view makes every server of the space forget and
 * rebuild from what the clients reassert, while acquires wait. A failed
 * node's tokens stay, conflicting with everyone (a new incarnation of the
 * node too), until tok_server_node_recovered.
 *
 * The blocking wrapper for real threads and the wiring over net/ are
 * tokens/toknet.h.
 */
#ifndef MM_TOKENS_TOKENS_H
#define MM_TOKENS_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"

#define TOK_INF UINT64_MAX		/* open end of a byte range */
#define TOK_NODE_NONE UINT32_MAX	/* no node */
/* A server record or conflict entry of node N that failed is held by
 * N | TOK_NODE_FAILED until recovery: a node of its own, so it conflicts
 * with N's next incarnation as with anyone. Node numbers stay below it. */
#define TOK_NODE_FAILED 0x80000000u

/* What a token is on. Only TOK_BR tokens carry a byte range; every other
 * kind always covers [0, TOK_INF). */
enum tok_kind {
	TOK_INODE = 0,		/* attributes and metadata of an inode */
	TOK_BR = 1,		/* byte range of one inode's data */
	TOK_DIRBLK = 2,		/* directory block */
	TOK_ALLOC = 3,		/* block allocation region */
	TOK_IALLOC = 4,		/* inode allocation region */
	TOK_META = 5,		/* metanode role of an inode */
	TOK_GENERIC = 6,	/* later uses */
	TOK_NKINDS
};

/* Modes; which conflict is the table in mode.c (README "Modes"). */
enum tok_mode {
	TOK_NONE = 0,		/* nothing held */
	TOK_RO = 1,		/* shared read */
	TOK_WS = 2,		/* shared write: many writers, the metanode reconciles */
	TOK_XW = 3,		/* exclusive */
	TOK_NMODES
};

/* [start, end); end may be TOK_INF. start < end always. */
struct tok_range {
	uint64_t start, end;
};

/* What a token names. For TOK_BR, obj is the inode number. */
struct tok_key {
	uint32_t space;		/* token space = file system id */
	uint8_t kind;		/* enum tok_kind */
	uint64_t obj;
};

/* ---- modes and ranges (mode.c) ---- */

const char *tok_mode_name(enum tok_mode m);	/* "none" "ro" "ws" "xw"; never NULL */
const char *tok_kind_name(enum tok_kind k);	/* "inode" "br" ...; never NULL */
bool tok_modes_conflict(enum tok_mode a, enum tok_mode b);
/* Does holding <held> let a caller have <want>? */
bool tok_mode_covers(enum tok_mode held, enum tok_mode want);
/* What a node holding <held> keeps when another node wants <want>: the
 * strongest mode <held> covers that does not conflict with <want>. */
enum tok_mode tok_mode_keep(enum tok_mode held, enum tok_mode want);
static inline bool tok_range_overlap(struct tok_range a, struct tok_range b)
{
	return a.start < b.end && b.start < a.end;
}
/* The total order of multi-acquire: space, kind, object, range start. */
int tok_key_cmp(const struct tok_key *a, uint64_t astart, const struct tok_key *b, uint64_t bstart);
/* Which of <servers> (n >= 1 node ids) serves <k>: a hash of (space,
 * kind, object), never of the range, so one inode's ranges meet on one
 * server. The CCR wiring will give the list. */
uint32_t tok_server_for(const uint32_t *servers, size_t n, const struct tok_key *k);

/* ---- transport ---- */

struct tok_xport {
	/* Queue <len> bytes for node <to>; the bytes are copied or sent
	 * before return. MM_OK or an error: the message is lost, which only
	 * happens when the connection to <to> is lost, and then one of the
	 * two nodes is expelled (the lease path) or the space gets a new
	 * view; both recover what was in flight. Must not call back into
	 * tokens. */
	int (*send)(void *arg, uint32_t to, const void *buf, size_t len);
	/* Monotonic nanoseconds, for waiters' ages (mmdiag --waiters); may
	 * be NULL (ages are then 0). The simulation passes its step count. */
	uint64_t (*now)(void *arg);
	void *arg;
};

/* Is the message in <buf> for a server (true) or a client (false)?
 * MM_EPROTO-level garbage answers false; the client's decoder refuses it. */
bool tok_msg_for_server(const void *buf, size_t len);

/* ---- server (server.c) ---- */

struct tok_server;

/* A server of token space <space> at epoch 0, serving at once with no
 * records (a space's first server, and tests). */
int tok_server_create(uint32_t self, uint32_t space, const struct tok_xport *x,
		      struct tok_server **out);
/* Frees every record (holders' tokens are forgotten). */
void tok_server_destroy(struct tok_server *s);
/* One message from node <from>. MM_OK, or MM_EPROTO (logged, dropped).
 * A request of an older epoch is dropped (its sender resends under the
 * new view); one of a newer epoch waits for the new view. */
int tok_server_recv(struct tok_server *s, uint32_t from, const void *buf, size_t len);

/*
 * Serve view <epoch> (> the current one): forget every record and
 * rebuild from the reasserts of <members> (the nodes whose caches may
 * hold tokens of the space: every active node). Requests wait, queued,
 * until each member has sent its reassert-done for <epoch> or failed
 * (tok_server_node_failed). <failed> are nodes that failed and are not
 * recovered: their tokens are unknown, so every acquire in the space
 * conflicts with them until tok_server_node_recovered. MM_EINVAL if
 * <epoch> is not newer.
 */
int tok_server_start_epoch(struct tok_server *s, uint32_t epoch, const uint32_t *members,
			   size_t nmembers, const uint32_t *failed, size_t nfailed);
bool tok_server_rebuilding(const struct tok_server *s);
uint32_t tok_server_epoch(const struct tok_server *s);
/* Node <node> failed (expelled, died, shut down): its records become held
 * by <node> | TOK_NODE_FAILED, and a rebuild stops waiting for it (its
 * tokens then unknown: see tok_server_start_epoch). */
void tok_server_node_failed(struct tok_server *s, uint32_t node);
/* The upper layer recovered <node> (log replayed, or leaseRecoveryWait
 * passed): its tokens go, and each node that met them in a conflict is
 * told to ask again. */
void tok_server_node_recovered(struct tok_server *s, uint32_t node);
/* tokenMemLimit: past <bytes> of records the server asks holders to give
 * back tokens nobody uses, least recently used first (a clock sweep);
 * 0: no limit. */
void tok_server_set_mem_limit(struct tok_server *s, uint64_t bytes);

struct tok_server_stats {
	uint64_t objects, records;	/* live */
	uint64_t bytes;			/* live, as tokenMemLimit counts them */
	uint64_t grants, conflicts, relinquishes, refused;
	uint64_t msgs_in, msgs_out;
	uint64_t failed_conflicts;	/* conflicts naming a failed node */
	uint64_t rebuilds, reasserts, queued;	/* queued: requests waiting now */
	uint64_t drops_asked;		/* tokenMemLimit: give-back requests */
	uint32_t epoch;
	uint32_t waiting_for;		/* members not yet reasserted */
	uint32_t clients;		/* distinct nodes that acquired here, counted to 8 */
};
void tok_server_get_stats(const struct tok_server *s, struct tok_server_stats *st);
/* Visit every holder record: node <node> holds <mode> on <k> over <r>. */
void tok_server_foreach(const struct tok_server *s,
			void (*fn)(void *arg, const struct tok_key *k, uint32_t node,
				   enum tok_mode mode, struct tok_range r),
			void *arg);

/* ---- client (client.c, revoke.c, multi.c) ---- */

struct tok_client;
struct tok_holder;

/* Granted: <h> holds its token until tok_release. Runs inside a tokens
 * call on the caller's thread. */
typedef void (*tok_granted_fn)(struct tok_holder *h, void *arg);

/* The per-kind revoke upcall: another node wants <want> over <r> of <k>,
 * so after the call each part of this node's token there drops to
 * tok_mode_keep(held, <want>): flush the dirty data of <r>, and invalidate
 * what the node may no longer read. Return MM_OK when done, or TOK_ASYNC
 * and call tok_client_upcall_done(c, <cookie>) later. No local holder
 * whose mode conflicts with <want> uses <r> during the call, and none may
 * start. */
#define TOK_ASYNC 1
typedef int (*tok_revoke_fn)(void *arg, struct tok_client *c, const struct tok_key *k,
			     struct tok_range r, enum tok_mode want, uint64_t cookie);

enum tok_hstate {
	TOK_H_IDLE = 0,		/* not queued */
	TOK_H_WAIT,		/* waiting on <cause> */
	TOK_H_SERVER,		/* its request is at the server */
	TOK_H_REVOKING,		/* revokes sent to conflicting nodes */
	TOK_H_GRANTED,
	TOK_H_FAILWAIT,		/* a failed node holds a conflicting token: waits for its recovery */
	TOK_H_LOST,		/* tok_client_reset took its token: release or cancel it */
};

/*
 * A holder: one caller's hold on one token (like gfs2_holder). Owned by
 * the caller, who fills key/mode/req/des (tok_holder_init) and keeps it in
 * place from tok_acquire until tok_release. Fields below "private" belong
 * to tokens; <cause> names what a waiting holder waits for (static text).
 */
struct tok_holder {
	struct tok_key key;
	enum tok_mode mode;
	struct tok_range req;	/* must hold */
	struct tok_range des;	/* would like (contains req) */
	tok_granted_fn done;
	void *arg;
	/* private */
	enum tok_hstate st;
	const char *cause;
	uint32_t cause_node;	/* node named by <cause>, or TOK_NODE_NONE */
	struct mm_list link;	/* on its object's waiting or granted list */
	struct mm_list clink;	/* client: revoking list, or completion queue */
	struct tok_cobj *co;
	uint64_t reqid;
	unsigned nrev;		/* revoke answers still awaited */
	struct tok_multi *multi;
	uint64_t since;		/* xport now at tok_acquire */
};

/* Fill <h>; for kinds other than TOK_BR the ranges become [0, TOK_INF). */
void tok_holder_init(struct tok_holder *h, const struct tok_key *k, enum tok_mode mode,
		     struct tok_range req, struct tok_range des);

int tok_client_create(uint32_t self, const struct tok_xport *x, struct tok_client **out);
/* Frees the cache. Holders still queued or granted are forgotten (their
 * storage is the caller's): for shutdown, after waking their threads. */
void tok_client_destroy(struct tok_client *c);
/*
 * The view of space <space>: its servers (for tok_server_for, copied) at
 * <epoch>. A newer epoch than the client's abandons the space's requests
 * in flight (they are asked again), reasserts every cached piece of the
 * space to its new server and sends each server reassert-done; the same
 * epoch only sets the list (first use). Acquires in a space with no view
 * fail with MM_ESTATE. MM_EINVAL for an older epoch or no servers.
 */
int tok_client_set_view(struct tok_client *c, uint32_t space, uint32_t epoch,
			const uint32_t *servers, size_t n);
/* Node <node> failed: revokes sent to it will not be answered, so the
 * holders waiting for them ask the server again; conflicts naming it wait
 * for its recovery (the server's word, or tok_client_retry_failed). */
void tok_client_node_failed(struct tok_client *c, uint32_t node);
/* Node <node> is active again (its new incarnation holds nothing). */
void tok_client_node_up(struct tok_client *c, uint32_t node);
/*
 * This node was expelled: the servers now hold every token it had as a
 * failed node's, until its recovery. Forget the whole cache and what is in
 * flight. Every holder becomes TOK_H_LOST: a granted one must stop using
 * its token (tok_release or tok_cancel makes it idle), a waiting one has
 * its done called (for a tok_multi, the multi's done with next < n). The
 * views and failed nodes are kept; acquires work again at once (they wait
 * for this node's own recovery at the servers).
 */
void tok_client_reset(struct tok_client *c);
/* Holders waiting for a failed node's recovery ask their server again
 * (the daemon calls it every few seconds: a recovery whose news was lost
 * with a connection is seen anyway). */
void tok_client_retry_failed(struct tok_client *c);
/* maxFilesToCache: past <max> cached objects, unused ones are given back,
 * least recently used first, in batches; 0: no limit. Allocation region
 * tokens (TOK_ALLOC, TOK_IALLOC) are never given back for it. */
void tok_client_set_cache_limit(struct tok_client *c, size_t max);
/* The revoke upcall of <kind>; none = nothing to flush. */
void tok_client_set_revoke(struct tok_client *c, enum tok_kind kind, tok_revoke_fn fn, void *arg);
int tok_client_recv(struct tok_client *c, uint32_t from, const void *buf, size_t len);
/* An upcall that answered TOK_ASYNC is finished. */
int tok_client_upcall_done(struct tok_client *c, uint64_t cookie);

/*
 * Acquire <h>: MM_OK and h->done is called (maybe before return, if the
 * cached token suffices and no local holder conflicts) or later from a
 * tokens call. MM_EINVAL for a bad mode, kind or range.
 */
int tok_acquire(struct tok_client *c, struct tok_holder *h);
/* Drop a granted hold; the token stays cached. */
void tok_release(struct tok_client *c, struct tok_holder *h);
/* Withdraw <h> whatever its state (a granted one is released): afterwards
 * it is idle and tokens never touch it again; an answer still on its way
 * for it is applied to the cache or ignored. A tok_multi is withdrawn by
 * cancelling all its holders (its done is then never called). */
void tok_cancel(struct tok_client *c, struct tok_holder *h);

/*
 * Acquire <n> holders as one: they are taken one at a time in the total
 * order of tok_key_cmp (the array is sorted in place), so two nodes never
 * deadlock. <done>(<arg>) runs once all are granted. MM_EINVAL if two of
 * them overlap on one object (a caller holding both would wait on itself).
 * <m> is caller storage kept until done.
 */
struct tok_multi {
	struct tok_client *c;
	struct tok_holder **hs;
	size_t n, next;
	void (*done)(struct tok_multi *m, void *arg);
	void *arg;
};
int tok_acquire_many(struct tok_client *c, struct tok_multi *m, struct tok_holder **hs, size_t n,
		     void (*done)(struct tok_multi *m, void *arg), void *arg);

/* Give back every cached token no holder uses (relinquished to the
 * servers; the cache is empty once they answer). */
void tok_client_drop_unused(struct tok_client *c);

struct tok_client_stats {
	uint64_t objects, pieces;	/* live cache */
	uint64_t local_grants, server_requests, conflicts, revokes_sent, revokes_served;
	uint64_t relinquishes, msgs_in, msgs_out, refused;
	uint64_t reasserts, resent, failed_waits, drops_asked, cache_drops, stale, resets;
};
void tok_client_get_stats(const struct tok_client *c, struct tok_client_stats *st);
/* Visit every cached piece: this node holds <mode> on <k> over <r>. */
void tok_client_foreach(const struct tok_client *c,
			void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode,
				   struct tok_range r),
			void *arg);
/* Is the client idle: nothing queued, in flight, or being revoked? */
bool tok_client_idle(const struct tok_client *c);

/* A waiting holder (revoke false) or a revoke being served (revoke true:
 * <node> is the requester, TOK_NODE_NONE for a give-back), for mmdiag
 * --waiters: what it waits for (<cause>, <cause_node>) since <since_ns>
 * (xport now). */
struct tok_waiter {
	struct tok_key key;
	enum tok_mode mode;
	struct tok_range r;
	bool revoke;
	uint32_t node;
	const char *cause;
	uint32_t cause_node;
	uint64_t since_ns;
};
void tok_client_waiters(const struct tok_client *c,
			void (*fn)(void *arg, const struct tok_waiter *w), void *arg);

#endif
