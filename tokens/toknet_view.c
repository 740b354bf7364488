/*
 * tokens/toknet_view.c - toknet's views of token spaces (a local server
 * started, restarted or dropped as the view names this node), node
 * failures and recoveries, limits, and the diagnostics (tokens/toknet.h).
 * The transport and threads are toknet.c's.
 */
#include "tokens/toknet.h"
#include "tokens/toknet_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "toknet"

/* ---- 1. servers and views, failures, limits ---- */

static struct tn_view *view_find(struct toknet *t, uint32_t space)
{
	for (size_t i = 0; i < t->nviews; i++)
		if (t->views[i].space == space)
			return &t->views[i];
	return NULL;
}

/*
 * A new server of <space> serving view <epoch> (epoch 0: at once, with no
 * records), then the messages parked for the space, in order and before
 * any newer one: its lock is taken before it is on the list (sv->mu, then
 * smu: the one place they nest).
 */
static int srv_add(struct toknet *t, uint32_t space, uint32_t epoch, const uint32_t *members,
		   size_t nmembers, const uint32_t *failed, size_t nfailed)
{
	struct tn_srv *sv = calloc(1, sizeof(*sv));
	struct tok_xport x = {srv_xsend, xnow, NULL};
	struct tn_parked *parked;
	int rc;

	if (!sv)
		return MM_ENOMEM;
	sv->space = space;
	sv->t = t;
	sv->refs = 1;	/* the list's */
	x.arg = sv;
	pthread_mutex_init(&sv->mu, NULL);
	rc = tok_server_create(t->cfg.self, space, &x, &sv->s);
	if (rc == MM_OK && epoch > 0)
		rc = tok_server_start_epoch(sv->s, epoch, members, nmembers, failed, nfailed);
	if (rc != MM_OK)
		goto fail;
	pthread_mutex_lock(&sv->mu);
	pthread_mutex_lock(&t->smu);
	if (t->stopped) {
		pthread_mutex_unlock(&t->smu);
		pthread_mutex_unlock(&sv->mu);
		rc = MM_ESHUTDOWN;
		goto fail;
	}
	if (t->mem_limit)
		tok_server_set_mem_limit(sv->s, t->mem_limit);
	sv->next = t->srv;
	t->srv = sv;
	sv->refs++;	/* ours, until the replay is done */
	parked = park_take_locked(t, space);
	pthread_mutex_unlock(&t->smu);
	for (struct tn_parked *p = parked; p; p = p->next)
		tok_server_recv(sv->s, p->from, p->msg, p->len);
	park_free(parked);
	srv_unlock_flush(t, sv);
	srv_put(t, sv);
	return MM_OK;
fail:
	out_free(&sv->out);
	tok_server_destroy(sv->s);
	pthread_mutex_destroy(&sv->mu);
	free(sv);
	return rc;
}

/* Unlink the server of <space>, if any, and drop it. */
static void srv_remove(struct toknet *t, uint32_t space)
{
	struct tn_srv **pp, *sv = NULL;

	pthread_mutex_lock(&t->smu);
	for (pp = &t->srv; *pp; pp = &(*pp)->next)
		if ((*pp)->space == space) {
			sv = *pp;
			*pp = sv->next;
			break;
		}
	pthread_mutex_unlock(&t->smu);
	if (sv)
		srv_drop(t, sv);
}

int toknet_set_view(struct toknet *t, uint32_t space, uint32_t epoch, const uint32_t *servers,
		    size_t n, const uint32_t *members, size_t nmembers, const uint32_t *failed,
		    size_t nfailed)
{
	struct tn_view *v;
	struct tn_srv *sv;
	bool serve = false;
	int rc = MM_OK;

	if (!t || (n && !servers) || (nmembers && !members) || (nfailed && !failed))
		return MM_EINVAL;
	for (size_t i = 0; i < n; i++)
		serve |= servers[i] == t->cfg.self;
	pthread_mutex_lock(&t->vmu);
	v = view_find(t, space);
	if (n == 0) {
		/* the space was deleted: nothing more to serve */
		srv_remove(t, space);
		if (v)
			*v = t->views[--t->nviews];
		goto out;
	}
	if (v && epoch <= v->epoch)
		goto out;	/* not newer */
	if (!v) {
		struct tn_view *nv = realloc(t->views, (t->nviews + 1) * sizeof(*nv));

		if (!nv) {
			rc = MM_ENOMEM;
			goto out;
		}
		t->views = nv;
		v = &t->views[t->nviews++];
		v->space = space;
	}
	v->epoch = epoch;
	/* the server first, so this node's own reasserts find it in the epoch */
	if (!serve) {
		srv_remove(t, space);
	} else {
		sv = srv_get(t, space);
		if (!sv) {
			rc = srv_add(t, space, epoch, members, nmembers, failed, nfailed);
		} else {
			pthread_mutex_lock(&sv->mu);
			if (sv->s && epoch > tok_server_epoch(sv->s))
				rc = tok_server_start_epoch(sv->s, epoch, members, nmembers, failed,
							    nfailed);
			srv_unlock_flush(t, sv);
			srv_put(t, sv);
		}
		if (rc == MM_OK)
			mm_info(SUB, "serving tokens of space %08" PRIx32 " at epoch %" PRIu32
				" (%zu servers, rebuilding from %zu members, %zu failed)", space,
				epoch, n, nmembers, nfailed);
		else
			mm_error(SUB, "cannot serve tokens of space %08" PRIx32 " at epoch %" PRIu32
				 ": %s", space, epoch, mm_strerror(rc));
	}
	pthread_mutex_lock(&t->cmu);
	if (t->c) {
		int crc = tok_client_set_view(t->c, space, epoch, servers, n);

		if (crc != MM_OK) {
			mm_error(SUB, "view of space %08" PRIx32 " at epoch %" PRIu32 ": %s", space,
				 epoch, mm_strerror(crc));
			rc = rc ? rc : crc;
		}
	}
	client_unlock_flush(t);
out:
	pthread_mutex_unlock(&t->vmu);
	return rc;
}

/* Call <fn> on every local server, one at a time, under its lock. */
static void each_server(struct toknet *t, void (*fn)(struct tn_srv *sv, void *arg), void *arg)
{
	struct tn_srv **list = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&t->smu);
	for (struct tn_srv *sv = t->srv; sv; sv = sv->next) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct tn_srv **nl = realloc(list, nc * sizeof(*nl));

			if (!nl) {
				mm_error(SUB, "out of memory: a node event or diagnostic misses "
					 "some token servers");
				break;
			}
			list = nl;
			cap = nc;
		}
		sv->refs++;
		list[n++] = sv;
	}
	pthread_mutex_unlock(&t->smu);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&list[i]->mu);
		if (list[i]->s)
			fn(list[i], arg);
		srv_unlock_flush(t, list[i]);
		srv_put(t, list[i]);
	}
	free(list);
}

static void srv_failed(struct tn_srv *sv, void *arg)
{
	tok_server_node_failed(sv->s, *(const uint32_t *)arg);
}

static void srv_recovered(struct tn_srv *sv, void *arg)
{
	tok_server_node_recovered(sv->s, *(const uint32_t *)arg);
}

static void srv_limit(struct tn_srv *sv, void *arg)
{
	tok_server_set_mem_limit(sv->s, *(const uint64_t *)arg);
}

void toknet_node_failed(struct toknet *t, uint32_t node)
{
	if (node == t->cfg.self) {
		/* expelled: the servers hold what this node had as a failed
		 * node's; the cache is stale and goes, its callers are told */
		pthread_mutex_lock(&t->cmu);
		if (t->c)
			tok_client_reset(t->c);
		t->lease_seen = 0;	/* the next lease is a fresh start */
		client_unlock_flush(t);
		return;
	}
	pthread_mutex_lock(&t->vmu);
	each_server(t, srv_failed, &node);
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_node_failed(t->c, node);
	client_unlock_flush(t);
	pthread_mutex_unlock(&t->vmu);
}

void toknet_node_recovered(struct toknet *t, uint32_t node)
{
	if (node == t->cfg.self)
		return;
	pthread_mutex_lock(&t->vmu);
	each_server(t, srv_recovered, &node);
	pthread_mutex_unlock(&t->vmu);
}

void toknet_node_up(struct toknet *t, uint32_t node)
{
	if (node == t->cfg.self)
		return;
	pthread_mutex_lock(&t->vmu);
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_node_up(t->c, node);
	client_unlock_flush(t);
	pthread_mutex_unlock(&t->vmu);
}

void toknet_set_limits(struct toknet *t, uint64_t mem_limit, size_t cache_limit)
{
	pthread_mutex_lock(&t->smu);
	t->mem_limit = mem_limit;
	pthread_mutex_unlock(&t->smu);
	each_server(t, srv_limit, &mem_limit);
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_set_cache_limit(t->c, cache_limit);
	client_unlock_flush(t);
}

/* ---- 2. diagnostics ---- */

void toknet_get_stats(struct toknet *t, struct toknet_stats *st)
{
	st->batches_out = atomic_load(&t->st_batches_out);
	st->msgs_out = atomic_load(&t->st_msgs_out);
	st->batches_in = atomic_load(&t->st_batches_in);
	st->msgs_in = atomic_load(&t->st_msgs_in);
	st->local_msgs = atomic_load(&t->st_local);
	st->send_errors = atomic_load(&t->st_send_errors);
	st->bad_batches = atomic_load(&t->st_bad);
	st->unknown_space = atomic_load(&t->st_unknown);
	st->revoke_jobs = atomic_load(&t->st_jobs);
	st->revoke_errors = atomic_load(&t->st_job_errors);
}

void toknet_client_stats(struct toknet *t, struct tok_client_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_get_stats(t->c, st);
	pthread_mutex_unlock(&t->cmu);
}

void toknet_client_pieces(struct toknet *t,
			  void (*fn)(void *arg, const struct tok_key *k, enum tok_mode mode,
				     struct tok_range r),
			  void *arg)
{
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_foreach(t->c, fn, arg);
	pthread_mutex_unlock(&t->cmu);
}

void toknet_client_waiters(struct toknet *t, void (*fn)(void *arg, const struct tok_waiter *w),
			   void *arg)
{
	pthread_mutex_lock(&t->cmu);
	if (t->c)
		tok_client_waiters(t->c, fn, arg);
	pthread_mutex_unlock(&t->cmu);
}

struct srv_visit {
	void (*fn)(void *arg, uint32_t space, const struct tok_server_stats *st, bool rebuilding);
	void *arg;
};

static void srv_visit(struct tn_srv *sv, void *arg)
{
	struct srv_visit *v = arg;
	struct tok_server_stats st;

	tok_server_get_stats(sv->s, &st);
	v->fn(v->arg, sv->space, &st, tok_server_rebuilding(sv->s));
}

void toknet_servers(struct toknet *t,
		    void (*fn)(void *arg, uint32_t space, const struct tok_server_stats *st,
			       bool rebuilding),
		    void *arg)
{
	struct srv_visit v = {fn, arg};

	each_server(t, srv_visit, &v);
}

void toknet_server_records(struct toknet *t, uint32_t space,
			   void (*fn)(void *arg, const struct tok_key *k, uint32_t node,
				      enum tok_mode mode, struct tok_range r),
			   void *arg)
{
	struct tn_srv *sv = srv_get(t, space);

	if (!sv)
		return;
	pthread_mutex_lock(&sv->mu);
	if (sv->s)
		tok_server_foreach(sv->s, fn, arg);
	pthread_mutex_unlock(&sv->mu);
	srv_put(t, sv);
}
