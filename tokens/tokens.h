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
 * Not built yet (later increments of issue 11): node failure (tokens held
 * by a failed node, recovery hook), server failover and rebuild,
 * tokenMemLimit / maxFilesToCache, a blocking wrapper for real threads,
 * daemon wiring over net/.
 */
#ifndef MM_TOKENS_TOKENS_H
#define MM_TOKENS_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/list.h"

#define TOK_INF UINT64_MAX		/* open end of a byte range */
#define TOK_NODE_NONE UINT32_MAX	/* no node */

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
	 * before return. MM_OK or an error (the message is lost; a later
	 * increment recovers through failure handling). Must not call back
	 * into tokens. */
	int (*send)(void *arg, uint32_t to, const void *buf, size_t len);
	void *arg;
};

/* Is the message in <buf> for a server (true) or a client (false)?
 * MM_EPROTO-level garbage answers false; the client's decoder refuses it. */
bool tok_msg_for_server(const void *buf, size_t len);

/* ---- server (server.c) ---- */

struct tok_server;

int tok_server_create(uint32_t self, const struct tok_xport *x, struct tok_server **out);
/* Frees every record (holders' tokens are forgotten). */
void tok_server_destroy(struct tok_server *s);
/* One message from node <from>. MM_OK, or MM_EPROTO (logged, dropped). */
int tok_server_recv(struct tok_server *s, uint32_t from, const void *buf, size_t len);

struct tok_server_stats {
	uint64_t objects, records;	/* live */
	uint64_t grants, conflicts, relinquishes, refused;
	uint64_t msgs_in, msgs_out;
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
};

/* Fill <h>; for kinds other than TOK_BR the ranges become [0, TOK_INF). */
void tok_holder_init(struct tok_holder *h, const struct tok_key *k, enum tok_mode mode,
		     struct tok_range req, struct tok_range des);

int tok_client_create(uint32_t self, const struct tok_xport *x, struct tok_client **out);
/* Only when idle: no holder queued or granted (MM_BUG_ON otherwise). */
void tok_client_destroy(struct tok_client *c);
/* Servers of every space, for tok_server_for (copied). */
int tok_client_set_servers(struct tok_client *c, const uint32_t *nodes, size_t n);
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
};
void tok_client_get_stats(const struct tok_client *c, struct tok_client_stats *st);
/* Visit every cached piece: this node holds <mode> on <k> over <r>. */
void tok_client_foreach(const struct tok_client *c,
			void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode,
				   struct tok_range r),
			void *arg);
/* Is the client idle: nothing queued, in flight, or being revoked? */
bool tok_client_idle(const struct tok_client *c);

#endif
