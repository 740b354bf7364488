/*
 * tokens/tok_int.h - what the files of tokens/ share: the message codec,
 * range lists, the server and client structures. Internal routines: only
 * called by tokens/ and its tests. Invariants: tokens/README.md.
 */
#ifndef MM_TOKENS_TOK_INT_H
#define MM_TOKENS_TOK_INT_H

#include "common/hash.h"
#include "common/list.h"
#include "tokens/tokens.h"

/* ---- modes (mode.c): the tables, as data ---- */

/* join: the weakest mode covering both (an upgrade asks for it) */
enum tok_mode tok_mode_join(enum tok_mode a, enum tok_mode b);
bool tok_kind_valid(unsigned kind);
bool tok_mode_valid(unsigned mode);	/* RO, WS or XW (a mode one can ask for) */
uint64_t tok_key_hash(const struct tok_key *k);
static inline bool tok_key_eq(const struct tok_key *a, const struct tok_key *b)
{
	return a->space == b->space && a->kind == b->kind && a->obj == b->obj;
}

/* ---- messages (proto.c) ----
 *
 * Every message is TOK_MSG_HDR bytes, then for CONFLICT <n> entries of
 * TOK_MSG_ENT bytes. Big-endian:
 *   0  1 version (TOK_PROTO_VERSION)    1  1 type (enum tok_msg_type)
 *   2  1 kind    3  1 mode               4  4 space
 *   8  8 reqid   16 8 object
 *   24 8 range start   32 8 range end    (ACQ/REVOKE: required; GRANT: granted;
 *   40 8 desired start 48 8 desired end   RELINQ: given up; ACKs: 0 .. 0)
 *   56 2 n (CONFLICT entries, else 0)    58 2 reserved, 0
 *   60 4 epoch of the space's view (messages to or from a server; 0 between clients)
 * entry: 0 4 node (| TOK_NODE_FAILED), 4 1 mode, 5 3 reserved 0, 8 8 start, 16 8 end
 * REASSERT_DONE names its space only (kind inode, object 0); RECOVERED
 * carries the recovered node as its object.
 */
#define TOK_PROTO_VERSION 2u
#define TOK_MSG_HDR 64u
#define TOK_MSG_ENT 24u
#define TOK_MAX_CONFLICTS 64u
#define TOK_MSG_MAX (TOK_MSG_HDR + TOK_MAX_CONFLICTS * TOK_MSG_ENT)

enum tok_msg_type {
	TOK_MSG_ACQ = 1,	/* client -> server: mode, required, desired */
	TOK_MSG_GRANT = 2,	/* server -> client: mode over range */
	TOK_MSG_CONFLICT = 3,	/* server -> client: mode asked (joined), required, holders */
	TOK_MSG_REVOKE = 4,	/* requester -> holder: mode wanted, required, desired */
	TOK_MSG_REVOKED = 5,	/* holder -> requester: done (reqid of the REVOKE) */
	TOK_MSG_RELINQ = 6,	/* holder -> server: apply keep(., mode) over range */
	TOK_MSG_RELINQ_ACK = 7,	/* server -> holder */
	TOK_MSG_REASSERT = 8,	/* client -> new server: this node holds mode over range */
	TOK_MSG_REASSERT_DONE = 9,	/* client -> new server: all reasserted for epoch */
	TOK_MSG_RECOVERED = 10,	/* server -> client: failed node <obj> recovered, ask again */
	TOK_MSG_DROP = 11,	/* server -> holder: tokenMemLimit, give it back if unused */
	TOK_MSG_NTYPES
};

struct tok_ent {
	uint32_t node;
	uint8_t mode;
	struct tok_range r;
};

struct tok_msg {
	uint8_t type;
	uint8_t mode;
	uint32_t epoch;
	struct tok_key key;
	uint64_t reqid;
	struct tok_range r, des;
	uint16_t n;
	struct tok_ent ent[TOK_MAX_CONFLICTS];
};

const char *tok_msg_type_name(unsigned type);
/* Encode <m> into <out> (TOK_MSG_MAX bytes); returns the length. */
size_t tok_msg_encode(const struct tok_msg *m, uint8_t *out);
/* Strict: MM_OK, or MM_EPROTO with the reason in <err>. */
int tok_msg_decode(const void *buf, size_t len, struct tok_msg *m, char *err, size_t errsz);

/* ---- range lists (range.c) ----
 *
 * A list of records (node, mode, [start, end)) sorted by start, then node.
 * One node's records never overlap, and two of them that touch have
 * different modes (merged otherwise). The server keeps one per object with
 * every node's records; a client keeps one with its own (node = self).
 */
struct tok_rec {
	struct tok_rec *next;
	uint64_t start, end;
	uint32_t node;
	uint8_t mode;
	uint8_t flags;		/* reserved: TOK_REC_FAILED for a failed holder (later) */
};

/* <node>'s records over <r> become <mode> (gaps filled); MM_ENOMEM. */
int tok_rl_set(struct tok_rec **head, uint32_t node, struct tok_range r, enum tok_mode mode,
	       long *nrec);
/* <node>'s records over <r> become keep(mode, <want>); MM_ENOMEM. */
int tok_rl_keep(struct tok_rec **head, uint32_t node, struct tok_range r, enum tok_mode want,
		long *nrec);
void tok_rl_free(struct tok_rec **head, long *nrec);
/* The join of <node>'s modes over <r> (TOK_NONE if none). */
enum tok_mode tok_rl_mode_over(const struct tok_rec *head, uint32_t node, struct tok_range r);
/* Does <node> hold all of <r> with modes covering <want>? */
bool tok_rl_covers(const struct tok_rec *head, uint32_t node, struct tok_range r,
		   enum tok_mode want);
/* Does <node> hold any of <r> in a mode that conflicts with <want>? */
bool tok_rl_conflicts(const struct tok_rec *head, uint32_t node, struct tok_range r,
		      enum tok_mode want);
/*
 * The grant computation: the largest range that contains <req>, lies in
 * <des>, and where no record of another node conflicts with <mode> and no
 * record of <node> has a mode <mode> does not cover. <req> itself must be
 * free of such records (the caller checked).
 */
struct tok_range tok_rl_extend(const struct tok_rec *head, uint32_t node, struct tok_range req,
			       struct tok_range des, enum tok_mode mode);
/* Structural check of the list invariants; false with a reason. */
bool tok_rl_check(const struct tok_rec *head, char *why, size_t whysz);

/* ---- server (server.c) ---- */

enum { TOK_SOBJ_REF = 1, TOK_SOBJ_ASKED = 2 };

struct tok_sobj {
	struct mm_hnode hn;
	struct tok_rec *recs;
	uint64_t obj;
	uint32_t space;
	uint8_t kind;
	uint8_t flags;		/* TOK_SOBJ_*: the tokenMemLimit clock sweep */
};

/* A request that waits for the rebuild (or for this server's next view). */
struct tok_qmsg {
	struct mm_list link;
	uint32_t from;
	struct tok_msg m;
};

/* A failed node: the nodes told of its tokens in a conflict, to tell
 * again once it is recovered. */
struct tok_failed {
	uint32_t node;
	bool unknown;		/* failed during a rebuild: its tokens unknown */
	uint32_t *askers;
	size_t nask, cap;
};

struct tok_server {
	uint32_t self;
	uint32_t space;
	uint32_t epoch;
	bool rebuilding;
	struct tok_xport x;
	struct mm_htab objs;		/* tok_sobj by key */
	long nrec;
	uint32_t *await;		/* members whose reassert-done is awaited */
	size_t nawait;
	struct tok_failed *failed;	/* failed, not recovered */
	size_t nfailed;
	struct mm_list queue;		/* tok_qmsg, arrival order */
	uint64_t mem_limit;
	size_t hand;			/* the clock sweep's bucket */
	uint64_t next_id;
	uint32_t clients[8];		/* distinct nodes that asked (the first 8) */
	struct tok_server_stats st;
	uint8_t buf[TOK_MSG_MAX];
};

/* ---- client (client.c, revoke.c) ---- */

enum tok_rstate {
	TOK_R_NEW,		/* waiting for the object's server request to finish */
	TOK_R_DRAIN,		/* waiting for conflicting local holders to go */
	TOK_R_UPCALL,		/* the kind's revoke callback is running */
	TOK_R_SEND,		/* waiting to send the relinquish */
	TOK_R_ACK,		/* relinquish sent, waiting for the server */
};

/* A revoke being served (or a drop of an unused token: from = none). */
struct tok_crev {
	struct mm_list link;	/* on its object's revokes */
	struct mm_list ulink;	/* on the client's upcalls while TOK_R_UPCALL */
	struct tok_cobj *co;
	enum tok_rstate st;
	uint32_t from;		/* requester, or TOK_NODE_NONE */
	uint64_t reqid;		/* requester's holder reqid */
	uint64_t cookie;	/* upcall cookie */
	uint8_t mode;		/* what the requester wants */
	struct tok_range req, des;
	struct tok_range blk;	/* range blocked for new conflicting holders */
	const char *cause;
	uint64_t since;		/* xport now when it arrived */
};

enum tok_inflight { TOK_IF_NONE, TOK_IF_ACQ, TOK_IF_RELINQ };

/* One object in a client's cache (like a glock). */
struct tok_cobj {
	struct mm_hnode hn;
	struct tok_key key;
	struct tok_rec *pieces;		/* what this node holds (node = self) */
	struct mm_list waiting;		/* tok_holder.link, FIFO */
	struct mm_list granted;		/* tok_holder.link */
	struct mm_list revokes;		/* tok_crev.link */
	enum tok_inflight inflight;	/* one server request at a time */
	uint64_t if_reqid;
	struct tok_holder *if_h;	/* TOK_IF_ACQ */
	struct tok_crev *if_rev;	/* TOK_IF_RELINQ */
	struct mm_list dirty;		/* on the client's run list */
	struct mm_list lru;		/* the client's objects, least recently acquired first */
};

/* A token space's servers as this client knows them. */
struct tok_view {
	uint32_t space, epoch;
	uint32_t *servers;
	size_t n;
};

struct tok_client {
	uint32_t self;
	struct tok_xport x;
	struct tok_view *views;
	size_t nviews;
	struct {
		tok_revoke_fn fn;
		void *arg;
	} up[TOK_NKINDS];
	struct mm_htab objs;		/* tok_cobj by key */
	struct mm_list revoking;	/* tok_holder.clink: awaiting REVOKED answers */
	struct mm_list completed;	/* tok_holder.clink: granted, callback due */
	struct mm_list run;		/* tok_cobj.dirty: objects to run */
	struct mm_list upcalls;		/* tok_crev.ulink: upcalls not yet done */
	struct mm_list failwait;	/* tok_holder.clink: waiting for a failed node's recovery */
	struct mm_list lru;		/* tok_cobj.lru */
	uint32_t *failed;		/* nodes failed, not seen up again */
	size_t nfailed;
	size_t cache_limit;
	uint32_t moving, failing;	/* arguments of hash walks */
	int depth;			/* nesting of public calls */
	uint64_t next_id;
	long nrec;
	struct tok_client_stats st;
	uint8_t buf[TOK_MSG_MAX];
};

/* client.c */
const struct tok_view *tok_view_of(const struct tok_client *c, uint32_t space);
/* The server of <k> in its space's view (which must exist). */
uint32_t tok_client_server(const struct tok_client *c, const struct tok_key *k);
void tok_client_send(struct tok_client *c, uint32_t to, struct tok_msg *m);
struct tok_cobj *tok_cobj_get(struct tok_client *c, const struct tok_key *k, bool create);
void tok_cobj_kick(struct tok_client *c, struct tok_cobj *co);
void tok_client_enter(struct tok_client *c);
void tok_client_leave(struct tok_client *c);
/* revoke.c */
/* Answer the requester of <rev> (if any) and free it. */
void tok_crev_answer(struct tok_client *c, struct tok_crev *rev);
void tok_run_revokes(struct tok_client *c, struct tok_cobj *co);
bool tok_blocked_by_revoke(const struct tok_cobj *co, const struct tok_holder *h,
			   const struct tok_crev **by);
int tok_client_revoke_in(struct tok_client *c, uint32_t from, const struct tok_msg *m);
int tok_client_relinq_ack(struct tok_client *c, const struct tok_msg *m);
struct tok_crev *tok_crev_new(struct tok_client *c, struct tok_cobj *co, uint32_t from,
			      uint64_t reqid, enum tok_mode mode, struct tok_range req,
			      struct tok_range des);

#endif
