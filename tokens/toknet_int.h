/*
 * tokens/toknet_int.h - what the files of toknet share (toknet.c: the
 * transport, revoke threads, blocking acquire, create and stop;
 * toknet_view.c: views, failures, limits and diagnostics). Not for other
 * modules. Locks and threads: tokens/README.md "toknet".
 */
#ifndef MM_TOKENS_TOKNET_INT_H
#define MM_TOKENS_TOKNET_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/list.h"
#include "tokens/toknet.h"

#define TN_PARK_NS (30000ull * 1000000)	/* parked messages are kept this long */


struct tn_dest {
	uint32_t node;
	uint8_t *buf;		/* [be16 len][message] ... */
	size_t len, cap;
	size_t nmsg;
};

struct tn_out {
	struct tn_dest *d;
	size_t n, cap;
};

struct toknet;

struct tn_srv {
	struct tn_srv *next;	/* on t->srv, protected by smu */
	unsigned refs;		/* protected by smu: the list's, and each user's */
	uint32_t space;
	struct toknet *t;
	pthread_mutex_t mu;
	struct tok_server *s;	/* protected by mu; NULL once dropped */
	struct tn_out out;	/* protected by mu */
	bool flushing;		/* protected by mu: a thread is sending <out> */
};

/* A server message for a space not (yet) served here: kept a while, as
 * the view that makes this node its server may come after the senders'
 * (their reasserts must not be lost). Protected by smu. */
struct tn_parked {
	struct tn_parked *next;
	uint32_t from, space;
	uint64_t at;		/* mm_now_ns() */
	size_t len;
	uint8_t msg[];
};

/* A space as the last toknet_set_view gave it (protected by vmu). */
struct tn_view {
	uint32_t space, epoch;
};

/* A thread blocked in toknet_acquire / _many (on t->waiters, cmu). */
struct tn_waiter {
	struct mm_list link;
	pthread_cond_t cv;
	bool cv_ready;
	bool done;
	struct tok_multi m;	/* toknet_acquire_many */
};

/* An upcall queued for a revoke thread. */
struct tn_job {
	struct mm_list link;
	struct tok_key k;
	struct tok_range r;
	enum tok_mode want;
	uint64_t cookie;
	toknet_revoke_fn fn;
	void *arg;
};

struct toknet {
	struct toknet_config cfg;

	pthread_mutex_t vmu;
	struct tn_view *views;
	size_t nviews;

	pthread_mutex_t smu;
	struct tn_srv *srv;
	bool stopped;			/* servers gone: messages dropped */
	uint64_t mem_limit;		/* protected by smu */
	struct tn_parked *park, **park_tail;	/* arrival order */
	size_t npark;

	pthread_mutex_t cmu;
	struct tok_client *c;		/* NULL once stopped */
	struct tn_out cout;
	bool cflushing;
	bool stopping;			/* no new acquires */
	struct mm_list waiters;		/* tn_waiter.link */
	unsigned nwaiting;		/* toknet_acquire(_many) callers waiting */
	pthread_cond_t quiet;		/* signalled as callers leave while stopping */
	struct {
		toknet_revoke_fn fn;
		void *arg;
	} up[TOK_NKINDS];
	uint64_t (*lease)(void *arg);	/* toknet_set_lease_check */
	void *lease_arg;
	uint64_t lease_seen;		/* the lease the cache was built under */

	_Atomic(uint64_t) *sent_ns;	/* by node number (TOKNET_MAX_NODES): last frame sent */
	void (*lost)(void *arg, uint32_t node, size_t nmsg);	/* toknet_set_lost_hook */
	void *lost_arg;

	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	struct mm_list rq;		/* tn_job.link */
	bool rstop;
	unsigned rrunning[TOK_NKINDS];	/* jobs whose callback runs now (rmu) */
	pthread_cond_t rdone;		/* one of them returned */
	uint64_t next_retry_ns;
	pthread_t *rth;
	int nrth;

	_Atomic uint64_t st_batches_out, st_msgs_out, st_batches_in, st_msgs_in, st_local,
		st_send_errors, st_bad, st_unknown, st_jobs, st_job_errors;
	_Atomic uint64_t unknown_warned_ns;
};

#define CNT(field, n) atomic_fetch_add_explicit(&t->field, (n), memory_order_relaxed)

/* toknet.c, for toknet_view.c */
void client_unlock_flush(struct toknet *t);
void out_free(struct tn_out *o);
void park_free(struct tn_parked *p);
struct tn_parked *park_take_locked(struct toknet *t, uint32_t space);
void srv_drop(struct toknet *t, struct tn_srv *sv);
struct tn_srv *srv_get(struct toknet *t, uint32_t space);
void srv_put(struct toknet *t, struct tn_srv *sv);
void srv_unlock_flush(struct toknet *t, struct tn_srv *sv);
uint64_t xnow(void *arg);
int srv_xsend(void *arg, uint32_t to, const void *buf, size_t len);

#endif
