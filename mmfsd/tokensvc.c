/*
 * mmfsd/tokensvc.c - the token service inside mmfsd (tokensvc.h).
 *
 *   1. views: clm_fsmgr to toknet_set_view
 *   2. failed nodes: the hook, or leaseRecoveryWait on the tokrecov thread
 *   3. events and attributes
 *   4. life cycle, diagnostics
 *
 * Lock: rec.lock (the mm_worker's) guards the failed-node table, the
 * hook and the rate samples; a leaf, never held across a toknet call or
 * the hook. vlock serialises the views as a whole (clm events arrive on
 * two threads): taken before toknet calls, never under rec.lock.
 */
#include "mmfsd/tokensvc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "tokens"
#define MAX_FAILED 256
#define MAX_SAMPLES 64

struct failed_node {
	uint32_t node;
	uint64_t since_ns;
	uint64_t deadline_ns;	/* leaseRecoveryWait, when no hook has it */
	bool hook_due;		/* the hook is to be told */
	bool hooked;		/* the hook was told: waiting for recovery_done */
};

struct rate_sample {
	uint32_t space;
	uint64_t at_ns;
	struct tok_server_stats st;
};

struct tokensvc {
	struct tokensvc_config cfg;
	struct toknet *tn;
	clm *clm;			/* set by start */
	uint64_t started_ns;

	pthread_mutex_t vlock;		/* views: one change at a time */
	bool started;			/* protected by vlock */

	struct mm_worker rec;		/* "tokrecov"; its lock guards what follows */
	struct failed_node failed[MAX_FAILED];
	size_t nfailed;
	tokensvc_recovery_fn hook;
	void *hook_arg;
	struct rate_sample samples[MAX_SAMPLES];
	size_t nsamples;
	struct {
		uint64_t fsid, epoch;
	} widened[16];			/* tokrecov only: the epoch last asked to widen */
	uint32_t reports[16];		/* peers that may have lost token messages (rec.lock) */
	size_t nreports;
};

/* ---- 1. views ---- */

static bool space_of(uint64_t fsid, uint32_t *space)
{
	if (fsid > UINT32_MAX) {
		mm_warn(SUB, "token space %016" PRIx64 " cannot be served: token spaces are 32-bit "
			"file system ids", fsid);
		return false;
	}
	*space = (uint32_t)fsid;
	return true;
}

/* With vlock held: the view of <fsid> as the CCR has it. */
static void apply_view(tokensvc *s, uint64_t fsid)
{
	uint32_t servers[CLM_FSMGR_MAX_SERVERS], failed[MAX_FAILED], *members = NULL, space;
	size_t ns = 0, nm = 0, nf;
	uint32_t node = 0;
	uint64_t epoch = 0;
	int rc;

	if (!space_of(fsid, &space))
		return;
	rc = clm_fsmgr(s->clm, fsid, &node, &epoch, servers, &ns);
	if (rc == MM_ENOENT) {
		toknet_set_view(s->tn, space, 0, NULL, 0, NULL, 0, NULL, 0);	/* deleted */
		return;
	}
	if (rc != MM_OK || node == 0 || ns == 0)
		return;	/* no manager now: requests wait for the next view */
	if (epoch > UINT32_MAX) {
		mm_error(SUB, "token space %08" PRIx32 ": epoch %" PRIu64 " past 32 bits", space,
			 epoch);
		return;
	}
	if (clm_members(s->clm, &members, &nm) != MM_OK)
		nm = 0;
	/* this node's cache is a member's too, active or not yet */
	{
		bool self = false;

		for (size_t i = 0; i < nm; i++)
			self |= members[i] == s->cfg.my_node;
		if (!self) {
			uint32_t *m = realloc(members, (nm + 1) * sizeof(*m));

			if (m) {
				members = m;
				members[nm++] = s->cfg.my_node;
			}
		}
	}
	nf = tokensvc_failed_nodes(s, failed, NULL, MAX_FAILED);
	rc = toknet_set_view(s->tn, space, (uint32_t)epoch, servers, ns, members, nm, failed, nf);
	if (rc != MM_OK)
		mm_error(SUB, "token space %08" PRIx32 " epoch %" PRIu64 ": %s", space, epoch,
			 mm_strerror(rc));
	free(members);
}

static void apply_all_views(tokensvc *s)
{
	struct clm_fsmgr *f = NULL;
	size_t n = 0;

	if (clm_fsmgr_list(s->clm, &f, &n) != MM_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (f[i].node)
			apply_view(s, f[i].fsid);
	free(f);
}

/* ---- 2. failed nodes ---- */

static struct failed_node *failed_find(tokensvc *s, uint32_t node)
{
	for (size_t i = 0; i < s->nfailed; i++)
		if (s->failed[i].node == node)
			return &s->failed[i];
	return NULL;
}

/* Forget <node> as failed; true if it was. */
static bool failed_forget(tokensvc *s, uint32_t node)
{
	bool was;

	pthread_mutex_lock(&s->rec.lock);
	struct failed_node *f = failed_find(s, node);

	was = f != NULL;
	if (f)
		*f = s->failed[--s->nfailed];
	pthread_mutex_unlock(&s->rec.lock);
	return was;
}

static uint64_t recovery_wait_ns(tokensvc *s)
{
	int64_t w = cfg_get_int(s->cfg.cfg, "leaseRecoveryWait");

	return (uint64_t)(w > 0 ? w : 35) * 1000000000ull;
}

static void node_failed(tokensvc *s, uint32_t node)
{
	uint64_t now = mm_now_ns();
	bool hook;

	toknet_node_failed(s->tn, node);
	pthread_mutex_lock(&s->rec.lock);
	struct failed_node *f = failed_find(s, node);

	if (!f && s->nfailed < MAX_FAILED) {
		f = &s->failed[s->nfailed++];
		memset(f, 0, sizeof(*f));
		f->node = node;
		f->since_ns = now;
		f->deadline_ns = now + recovery_wait_ns(s);
		f->hook_due = s->hook != NULL;
	}
	hook = s->hook != NULL;
	pthread_mutex_unlock(&s->rec.lock);
	if (!f)
		mm_error(SUB, "more than %d nodes failed at once: node %u's tokens are released at "
			 "once", MAX_FAILED, node);
	if (!f) {
		toknet_node_recovered(s->tn, node);
		return;
	}
	if (hook)
		mm_worker_kick(&s->rec);
	mm_notice(SUB, "node %u failed: its tokens are held until %s", node,
		  hook ? "its recovery is done" : "leaseRecoveryWait passes");
}

static void node_recovered(tokensvc *s, uint32_t node, const char *why)
{
	if (!failed_forget(s, node))
		return;
	toknet_node_recovered(s->tn, node);
	mm_notice(SUB, "node %u recovered (%s): its tokens are released", node, why);
}

void tokensvc_recovery_done(tokensvc *s, uint32_t node)
{
	node_recovered(s, node, "recovery done");
}

void tokensvc_set_recovery_hook(tokensvc *s, tokensvc_recovery_fn fn, void *arg)
{
	pthread_mutex_lock(&s->rec.lock);
	s->hook = fn;
	s->hook_arg = arg;
	for (size_t i = 0; i < s->nfailed; i++) {
		s->failed[i].hook_due = fn && !s->failed[i].hooked;
		if (!fn)
			s->failed[i].hooked = false;
	}
	pthread_mutex_unlock(&s->rec.lock);
	mm_worker_kick(&s->rec);
}

size_t tokensvc_failed_nodes(tokensvc *s, uint32_t *nodes, int64_t *left_s, size_t max)
{
	uint64_t now = mm_now_ns();
	size_t n = 0;

	pthread_mutex_lock(&s->rec.lock);
	for (size_t i = 0; i < s->nfailed && n < max; i++, n++) {
		const struct failed_node *f = &s->failed[i];

		nodes[n] = f->node;
		if (left_s)
			left_s[n] = s->hook ? -1 :
				    f->deadline_ns > now ? (int64_t)((f->deadline_ns - now) / 1000000000ull) :
							   0;
	}
	pthread_mutex_unlock(&s->rec.lock);
	return n;
}

/*
 * Widening: the manager serves a space alone at first; once more than one
 * node has asked its server for tokens, it asks the cluster manager to
 * spread the service over every manager node (clm_fsmgr_spread: a new
 * view, rebuilt). Asked once per epoch of this node's server.
 */
struct widen {
	uint32_t space[16];
	size_t n;
};

static void widen_cb(void *arg, uint32_t space, const struct tok_server_stats *st, bool rebuilding)
{
	struct widen *w = arg;

	if (!rebuilding && st->clients >= 2 && w->n < MM_ARRAY_SIZE(w->space))
		w->space[w->n++] = space;
}

static void widen_spaces(tokensvc *s)
{
	struct widen w = {.n = 0};
	struct clm_fsmgr *f = NULL;
	size_t n = 0;

	toknet_servers(s->tn, widen_cb, &w);
	if (!w.n || clm_fsmgr_list(s->clm, &f, &n) != MM_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		char err[160];

		size_t k;

		if (f[i].spread || f[i].node != s->cfg.my_node)
			continue;
		for (k = 0; k < MM_ARRAY_SIZE(s->widened) && s->widened[k].fsid != f[i].fsid &&
			    s->widened[k].fsid; k++)
			;
		if (k == MM_ARRAY_SIZE(s->widened))
			k = f[i].fsid % MM_ARRAY_SIZE(s->widened);
		if (s->widened[k].fsid == f[i].fsid && s->widened[k].epoch == f[i].epoch)
			continue;
		for (size_t j = 0; j < w.n; j++) {
			if (w.space[j] != f[i].fsid)
				continue;
			s->widened[k].fsid = f[i].fsid;
			s->widened[k].epoch = f[i].epoch;
			if (clm_fsmgr_spread(s->clm, f[i].fsid, true, err, sizeof(err)) == MM_OK)
				mm_notice(SUB, "token space %s: more than one node uses it: its token "
					  "service spreads over the manager nodes", f[i].device);
			else
				mm_warn(SUB, "token space %s: cannot spread its token service: %s",
					f[i].device, err);
		}
	}
	free(f);
}

/*
 * Lost messages: token messages to a peer were not sent, or its connection
 * closed soon after some left. Nobody may wait for them for ever, so the
 * cluster manager is asked to expel one of the two nodes
 * (clm_request_expel; it chooses, GPFS's rules). Queued from net threads,
 * sent on tokrecov (it talks to etcd).
 */
static void report_later(tokensvc *s, uint32_t node)
{
	size_t i;

	pthread_mutex_lock(&s->rec.lock);
	for (i = 0; i < s->nreports && s->reports[i] != node; i++)
		;
	if (i == s->nreports && s->nreports < MM_ARRAY_SIZE(s->reports))
		s->reports[s->nreports++] = node;
	pthread_mutex_unlock(&s->rec.lock);
	mm_worker_kick(&s->rec);
}

static void on_lost(void *arg, uint32_t node, size_t nmsg)
{
	(void)nmsg;
	report_later(arg, node);
}

/* On a net I/O thread: must not block (rec.lock is a leaf). */
static void on_conn(uint32_t node, bool up, void *arg)
{
	tokensvc *s = arg;
	uint64_t last, window;

	if (up || node == s->cfg.my_node)
		return;
	last = toknet_last_sent_ns(s->tn, node);
	window = (uint64_t)cfg_get_int(s->cfg.cfg, "failureDetectionTime") * 1000000000ull;
	if (last && mm_now_ns() - last < window)
		report_later(s, node);
}

static void send_reports(tokensvc *s, const uint32_t *nodes, size_t n)
{
	uint32_t *members = NULL;
	size_t nm = 0;

	if (!n || !s->clm || !clm_io_epoch(s->clm) || clm_members(s->clm, &members, &nm) != MM_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		char err[160];
		bool active = false;

		for (size_t j = 0; j < nm; j++)
			active |= members[j] == nodes[i];
		if (!active)
			continue;	/* gone already: its failure is handled */
		if (clm_request_expel(s->clm, nodes[i], "token messages to it may be lost: "
				      "its connection failed", err, sizeof(err)) == MM_OK) {
			mm_notice(SUB, "node %u: token messages to it may be lost with its "
				  "connection: the cluster manager is asked to expel one of us",
				  nodes[i]);
			continue;
		}
		/* the CCR may be electing a leader (the lost node ran one):
		 * asked again on the next pass, within a second, while the
		 * node is still a member */
		mm_warn(SUB, "node %u: token messages may be lost, and asking for an expel "
			"failed (asked again): %s", nodes[i], err);
		pthread_mutex_lock(&s->rec.lock);
		if (s->nreports < MM_ARRAY_SIZE(s->reports))
			s->reports[s->nreports++] = nodes[i];
		pthread_mutex_unlock(&s->rec.lock);
	}
	free(members);
}

/* The tokrecov thread: tells the hook of new failures, and without a
 * hook releases the tokens of nodes whose leaseRecoveryWait passed; asks
 * to widen a space's token service once more than one node uses it. */
static void *rec_main(void *arg)
{
	tokensvc *s = arg;
	uint64_t wait = 1000;

	pthread_mutex_lock(&s->rec.lock);
	while (mm_worker_wait(&s->rec, wait)) {
		uint64_t now = mm_now_ns(), next = now + 1000000000ull;
		uint32_t due[MAX_FAILED], tell[MAX_FAILED];
		size_t ndue = 0, ntell = 0;
		tokensvc_recovery_fn hook = s->hook;
		void *hook_arg = s->hook_arg;
		uint32_t rep[MM_ARRAY_SIZE(s->reports)];
		size_t nrep = s->nreports;

		memcpy(rep, s->reports, nrep * sizeof(*rep));
		s->nreports = 0;

		for (size_t i = 0; i < s->nfailed; i++) {
			struct failed_node *f = &s->failed[i];

			if (hook && f->hook_due) {
				f->hook_due = false;
				f->hooked = true;
				tell[ntell++] = f->node;
			} else if (!hook && f->deadline_ns <= now) {
				due[ndue++] = f->node;
			} else if (!hook && f->deadline_ns < next) {
				next = f->deadline_ns;
			}
		}
		pthread_mutex_unlock(&s->rec.lock);
		for (size_t i = 0; i < ntell; i++)
			hook(hook_arg, tell[i]);
		for (size_t i = 0; i < ndue; i++)
			node_recovered(s, due[i], "leaseRecoveryWait passed");
		send_reports(s, rep, nrep);
		if (s->clm)
			widen_spaces(s);
		wait = (next - now) / 1000000 + 1;
		pthread_mutex_lock(&s->rec.lock);
	}
	pthread_mutex_unlock(&s->rec.lock);
	return NULL;
}

/* ---- 3. events and attributes ---- */

void tokensvc_event(tokensvc *s, const struct clm_event *ev)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->vlock);
	if (!s->started) {
		pthread_mutex_unlock(&s->vlock);	/* start reads every view */
		return;
	}
	switch (ev->type) {
	case CLM_EV_FSMGR_CHANGED:
		apply_view(s, ev->fsid);
		break;
	case CLM_EV_NODE_EXPELLED:
		if (ev->node != s->cfg.my_node)
			node_failed(s, ev->node);
		else
			toknet_node_failed(s->tn, ev->node);	/* forget the cache */
		break;
	case CLM_EV_NODE_LEFT:
		if (ev->node != s->cfg.my_node) {
			/* a clean shutdown gave its tokens back: nothing to recover */
			toknet_node_failed(s->tn, ev->node);
			failed_forget(s, ev->node);
			toknet_node_recovered(s->tn, ev->node);
		}
		break;
	case CLM_EV_NODE_RESTARTED:
		/* its old cache is gone: its tokens are a failed node's until
		 * recovered, as after an expel; the new one holds nothing */
		if (ev->node != s->cfg.my_node) {
			node_failed(s, ev->node);
			toknet_node_up(s->tn, ev->node);
		}
		break;
	case CLM_EV_NODE_JOINED:
		if (ev->node != s->cfg.my_node)
			toknet_node_up(s->tn, ev->node);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&s->vlock);
}

static void apply_limits(tokensvc *s)
{
	uint64_t mem = cfg_get_size(s->cfg.cfg, "tokenMemLimit");
	int64_t files = cfg_get_int(s->cfg.cfg, "maxFilesToCache");

	toknet_set_limits(s->tn, mem, files > 0 ? (size_t)files : 0);
}

void tokensvc_attr_changed(tokensvc *s, const char *name)
{
	if (!s || !s->tn)
		return;
	apply_limits(s);
	mm_info(SUB, "%s applied: tokenMemLimit %" PRIu64 " bytes per server, maxFilesToCache %"
		PRId64, name, cfg_get_size(s->cfg.cfg, "tokenMemLimit"),
		cfg_get_int(s->cfg.cfg, "maxFilesToCache"));
}

/* ---- 4. life cycle, diagnostics ---- */

int tokensvc_create(const struct tokensvc_config *cfg, tokensvc **out)
{
	tokensvc *s = calloc(1, sizeof(*s));
	int64_t files = cfg_get_int(cfg->cfg, "maxFilesToCache");
	struct toknet_config tc = {
		.self = cfg->my_node,
		.net = cfg->net,
		.revoke_threads = 2,
		.mem_limit = cfg_get_size(cfg->cfg, "tokenMemLimit"),
		.cache_limit = files > 0 ? (size_t)files : 0,
	};
	int rc;

	*out = NULL;
	if (!s)
		return MM_ENOMEM;
	s->cfg = *cfg;
	pthread_mutex_init(&s->vlock, NULL);
	mm_worker_init(&s->rec);
	s->started_ns = mm_now_ns();
	rc = toknet_create(&tc, &s->tn);
	*out = s;	/* a toknet made but not started still needs destroy */
	if (rc == MM_OK) {
		toknet_set_lost_hook(s->tn, on_lost, s);
		net_set_conn_event(cfg->net, on_conn, s);
	}
	return rc;
}

static uint64_t lease_of(void *arg)
{
	return clm_io_epoch(arg);
}

int tokensvc_start(tokensvc *s, clm *c)
{
	int rc;

	if (!s->tn)
		return MM_ESTATE;
	s->clm = c;
	toknet_set_lease_check(s->tn, lease_of, c);
	rc = mm_worker_start(&s->rec, "tokrecov", rec_main, s);
	if (rc != MM_OK)
		return rc;
	pthread_mutex_lock(&s->vlock);
	s->started = true;
	apply_all_views(s);
	pthread_mutex_unlock(&s->vlock);
	return MM_OK;
}

void tokensvc_stop(tokensvc *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->vlock);
	s->started = false;	/* events are ignored from now on */
	pthread_mutex_unlock(&s->vlock);
	mm_worker_stop(&s->rec);
	toknet_stop(s->tn);
}

void tokensvc_destroy(tokensvc *s)
{
	if (!s)
		return;
	mm_worker_stop(&s->rec);
	toknet_destroy(s->tn);
	mm_worker_destroy(&s->rec);
	pthread_mutex_destroy(&s->vlock);
	free(s);
}

struct toknet *tokensvc_toknet(tokensvc *s)
{
	return s ? s->tn : NULL;
}

void tokensvc_rates(tokensvc *s, uint32_t space, const struct tok_server_stats *st,
		    struct tokensvc_rates *out)
{
	uint64_t now = mm_now_ns();
	struct rate_sample *r = NULL;
	struct tok_server_stats zero = {0};
	const struct tok_server_stats *prev = &zero;
	uint64_t since = s->started_ns;
	double secs;

	pthread_mutex_lock(&s->rec.lock);
	for (size_t i = 0; i < s->nsamples; i++)
		if (s->samples[i].space == space)
			r = &s->samples[i];
	if (r) {
		prev = &r->st;
		since = r->at_ns;
	}
	secs = now > since ? (double)(now - since) / 1e9 : 0;
	memset(out, 0, sizeof(*out));
	out->secs = secs;
	/* a server restarted for a new epoch counts from 0 again */
	if (secs > 0 && st->grants >= prev->grants && st->conflicts >= prev->conflicts) {
		out->grants = (double)(st->grants - prev->grants) / secs;
		out->conflicts = (double)(st->conflicts - prev->conflicts) / secs;
		out->relinquishes = st->relinquishes >= prev->relinquishes ?
			(double)(st->relinquishes - prev->relinquishes) / secs : 0;
		out->drops_asked = st->drops_asked >= prev->drops_asked ?
			(double)(st->drops_asked - prev->drops_asked) / secs : 0;
	}
	if (!r && s->nsamples < MAX_SAMPLES)
		r = &s->samples[s->nsamples++];
	if (r) {
		r->space = space;
		r->at_ns = now;
		r->st = *st;
	}
	pthread_mutex_unlock(&s->rec.lock);
}
