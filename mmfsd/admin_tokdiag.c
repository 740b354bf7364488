/*
 * mmfsd/admin_tokdiag.c - the token sections of mmdiag: --tokenmgr (every
 * token server on this node), --tokens (this node's token cache and its
 * local waiters), and the token lines of --waiters.
 *
 * Everything is copied under the tokens locks (toknet's diagnostics
 * callbacks only copy or count) and formatted afterwards.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/tokensvc.h"
#include "tokens/toknet.h"

#define MAX_SERVERS 64
#define MAX_HOLDER_NODES 64
#define MAX_PIECES 1000
#define MAX_WAITERS 1000

static void range_str(struct tok_range r, char *buf, size_t sz)
{
	if (r.end == TOK_INF)
		snprintf(buf, sz, "%" PRIu64 "-inf", r.start);
	else
		snprintf(buf, sz, "%" PRIu64 "-%" PRIu64, r.start, r.end);
}

/* ---- --tokenmgr ---- */

struct srv_row {
	uint32_t space;
	struct tok_server_stats st;
	bool rebuilding;
};

struct srv_list {
	struct srv_row rows[MAX_SERVERS];
	size_t n;
};

static void srv_copy(void *arg, uint32_t space, const struct tok_server_stats *st, bool rebuilding)
{
	struct srv_list *l = arg;

	if (l->n < MAX_SERVERS)
		l->rows[l->n++] = (struct srv_row){space, *st, rebuilding};
}

struct rec_count {
	uint64_t by_kind[TOK_NKINDS];
	uint64_t failed;		/* records held by failed nodes */
	uint32_t nodes[MAX_HOLDER_NODES];
	size_t nnodes;
	bool more_nodes;
};

static void rec_count(void *arg, const struct tok_key *k, uint32_t node, enum tok_mode mode,
		      struct tok_range r)
{
	struct rec_count *c = arg;
	size_t i;

	(void)mode;
	(void)r;
	if (k->kind < TOK_NKINDS)
		c->by_kind[k->kind]++;
	if (node & TOK_NODE_FAILED)
		c->failed++;
	for (i = 0; i < c->nnodes && c->nodes[i] != node; i++)
		;
	if (i == c->nnodes) {
		if (c->nnodes < MAX_HOLDER_NODES)
			c->nodes[c->nnodes++] = node;
		else
			c->more_nodes = true;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static const char *device_of(const struct clm_fsmgr *f, size_t nf, uint32_t space)
{
	for (size_t i = 0; i < nf; i++)
		if (f[i].fsid == space)
			return f[i].device;
	return "?";
}

char *adm_diag_tokenmgr(mmfsd *d)
{
	struct toknet *tn = mmfsd_toknet(d);
	tokensvc *ts = mmfsd_tokensvc(d);
	struct mm_sb t = MM_SB_INIT;
	struct srv_list *l = calloc(1, sizeof(*l));
	struct clm_fsmgr *f = NULL;
	size_t nf = 0;
	uint64_t limit = cfg_get_size(mmfsd_cfg(d), "tokenMemLimit");
	char lim[32];

	mm_sb_printf(&t, "=== mmdiag: tokenmgr ===\n\n");
	if (!tn || !l) {
		mm_sb_printf(&t, "(no token service)\n");
		free(l);
		return t.oom ? (free(t.p), NULL) : t.p;
	}
	if (mmfsd_clm(d))
		clm_fsmgr_list(mmfsd_clm(d), &f, &nf);
	toknet_servers(tn, srv_copy, l);
	mm_format_size(limit, lim, sizeof(lim));
	mm_sb_printf(&t, "Token servers on this node: %zu (tokenMemLimit %s per server)\n", l->n,
		     lim);
	for (size_t i = 0; i < l->n; i++) {
		const struct srv_row *s = &l->rows[i];
		struct rec_count c = {0};
		struct tokensvc_rates r;
		char nodes[512] = "";
		size_t off = 0;

		toknet_server_records(tn, s->space, rec_count, &c);
		tokensvc_rates(ts, s->space, &s->st, &r);
		qsort(c.nodes, c.nnodes, sizeof(c.nodes[0]), cmp_u32);
		for (size_t k = 0; k < c.nnodes && off < sizeof(nodes) - 24; k++)
			off += (size_t)snprintf(nodes + off, sizeof(nodes) - off, "%s%u%s", k ? "," : "",
						c.nodes[k] & ~TOK_NODE_FAILED,
						c.nodes[k] & TOK_NODE_FAILED ? "(failed)" : "");
		if (c.more_nodes)
			snprintf(nodes + off, sizeof(nodes) - off, ",...");
		mm_sb_printf(&t, "\nspace %08" PRIx32 " (%s): epoch %" PRIu32 ", %s", s->space,
			     device_of(f, nf, s->space), s->st.epoch,
			     s->rebuilding ? "REBUILDING" : "serving");
		if (s->rebuilding)
			mm_sb_printf(&t, " (waiting for %" PRIu32 " members' reasserts)",
				     s->st.waiting_for);
		mm_sb_printf(&t, ", %" PRIu64 " requests queued\n", s->st.queued);
		mm_sb_printf(&t, "  objects %" PRIu64 ", records %" PRIu64 ", holder nodes %zu%s [%s]\n",
			     s->st.objects, s->st.records, c.nnodes, c.more_nodes ? "+" : "", nodes);
		mm_sb_printf(&t, "  tokens by kind:");
		for (int k = 0; k < TOK_NKINDS; k++)
			mm_sb_printf(&t, " %s %" PRIu64, tok_kind_name((enum tok_kind)k), c.by_kind[k]);
		mm_sb_printf(&t, "\n  memory %" PRIu64 " bytes of %" PRIu64 " (%.1f%%), drops asked %"
			     PRIu64 " (%.1f/s)\n", s->st.bytes, limit,
			     limit ? 100.0 * (double)s->st.bytes / (double)limit : 0.0, s->st.drops_asked,
			     r.drops_asked);
		mm_sb_printf(&t, "  grants %" PRIu64 " (%.1f/s), conflicts %" PRIu64 " (%.1f/s: each a "
			     "revoke round by the requester), relinquishes %" PRIu64 " (%.1f/s), "
			     "refused %" PRIu64 "; rates over the last %.1f s\n", s->st.grants, r.grants,
			     s->st.conflicts, r.conflicts, s->st.relinquishes, r.relinquishes,
			     s->st.refused, r.secs);
		mm_sb_printf(&t, "  failed-node records %" PRIu64 ", conflicts with failed nodes %" PRIu64
			     ", rebuilds %" PRIu64 ", reasserts %" PRIu64 ", messages in %" PRIu64
			     " out %" PRIu64 "\n", c.failed, s->st.failed_conflicts, s->st.rebuilds,
			     s->st.reasserts, s->st.msgs_in, s->st.msgs_out);
	}
	{
		uint32_t fn[64];
		int64_t left[64];
		size_t n = tokensvc_failed_nodes(ts, fn, left, 64);

		mm_sb_printf(&t, "\nFailed nodes whose tokens are held until recovery: %zu\n", n);
		for (size_t i = 0; i < n; i++) {
			if (left[i] < 0)
				mm_sb_printf(&t, "  node %u: waiting for its recovery\n", fn[i]);
			else
				mm_sb_printf(&t, "  node %u: released in %" PRId64 " s (leaseRecoveryWait)\n",
					     fn[i], left[i]);
		}
	}
	free(f);
	free(l);
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* ---- --tokens ---- */

struct piece_row {
	struct tok_key k;
	enum tok_mode mode;
	struct tok_range r;
};

struct piece_list {
	struct piece_row *rows;
	size_t n, total;
};

static void piece_copy(void *arg, const struct tok_key *k, enum tok_mode mode, struct tok_range r)
{
	struct piece_list *l = arg;

	if (l->n < MAX_PIECES)
		l->rows[l->n++] = (struct piece_row){*k, mode, r};
	l->total++;
}

static int piece_cmp(const void *a, const void *b)
{
	const struct piece_row *x = a, *y = b;

	return tok_key_cmp(&x->k, x->r.start, &y->k, y->r.start);
}

struct waiter_list {
	struct tok_waiter *rows;
	size_t n, total;
};

static void waiter_copy(void *arg, const struct tok_waiter *w)
{
	struct waiter_list *l = arg;

	if (l->n < MAX_WAITERS)
		l->rows[l->n++] = *w;	/* <cause> is static text */
	l->total++;
}

static void waiter_line(struct mm_sb *t, const struct tok_waiter *w, uint64_t now)
{
	uint64_t age = now > w->since_ns ? (now - w->since_ns) / 1000000 : 0;
	char r[64], cn[32] = "";

	range_str(w->r, r, sizeof(r));
	if (w->cause_node != TOK_NODE_NONE)
		snprintf(cn, sizeof(cn), " (node %u%s)", w->cause_node & ~TOK_NODE_FAILED,
			 w->cause_node & TOK_NODE_FAILED ? ", failed" : "");
	if (w->revoke)
		mm_sb_printf(t, "Waiting %" PRIu64 ".%03" PRIu64 " sec: token revoke of %s %08" PRIx32
			     ":%" PRIu64 " [%s] to %s for %s%u: %s%s\n", age / 1000, age % 1000,
			     tok_kind_name(w->key.kind), w->key.space, w->key.obj, r,
			     tok_mode_name(w->mode), w->node == TOK_NODE_NONE ? "a give-back" : "node ",
			     w->node == TOK_NODE_NONE ? 0 : w->node, w->cause ? w->cause : "?", cn);
	else
		mm_sb_printf(t, "Waiting %" PRIu64 ".%03" PRIu64 " sec: token %s %s %08" PRIx32 ":%"
			     PRIu64 " [%s]: %s%s\n", age / 1000, age % 1000, tok_mode_name(w->mode),
			     tok_kind_name(w->key.kind), w->key.space, w->key.obj, r,
			     w->cause ? w->cause : "?", cn);
}

char *adm_diag_tokens(mmfsd *d)
{
	struct toknet *tn = mmfsd_toknet(d);
	struct mm_sb t = MM_SB_INIT;
	struct piece_list pl = {0};
	struct waiter_list wl = {0};
	struct tok_client_stats cs;
	struct toknet_stats ns;
	uint64_t now = mm_now_ns();

	mm_sb_printf(&t, "=== mmdiag: tokens ===\n\n");
	if (!tn) {
		mm_sb_printf(&t, "(no token service)\n");
		return t.oom ? (free(t.p), NULL) : t.p;
	}
	pl.rows = calloc(MAX_PIECES, sizeof(*pl.rows));
	wl.rows = calloc(MAX_WAITERS, sizeof(*wl.rows));
	if (!pl.rows || !wl.rows) {
		free(pl.rows);
		free(wl.rows);
		mm_sb_free(&t);
		return NULL;
	}
	toknet_client_stats(tn, &cs);
	toknet_get_stats(tn, &ns);
	toknet_client_pieces(tn, piece_copy, &pl);
	toknet_client_waiters(tn, waiter_copy, &wl);
	mm_sb_printf(&t, "cache: objects %" PRIu64 " (maxFilesToCache %" PRId64 "), pieces %" PRIu64
		     "\n", cs.objects, cfg_get_int(mmfsd_cfg(d), "maxFilesToCache"), cs.pieces);
	mm_sb_printf(&t, "local grants %" PRIu64 ", server requests %" PRIu64 ", conflicts %" PRIu64
		     ", revokes sent %" PRIu64 ", revokes served %" PRIu64 ", relinquishes %" PRIu64
		     "\n", cs.local_grants, cs.server_requests, cs.conflicts, cs.revokes_sent,
		     cs.revokes_served, cs.relinquishes);
	mm_sb_printf(&t, "reasserts %" PRIu64 ", resent %" PRIu64 ", failed-node waits %" PRIu64
		     ", drops asked %" PRIu64 ", cache drops %" PRIu64 ", refused %" PRIu64
		     ", stale %" PRIu64 "\n", cs.reasserts, cs.resent, cs.failed_waits,
		     cs.drops_asked, cs.cache_drops, cs.refused, cs.stale);
	mm_sb_printf(&t, "transport: batches out %" PRIu64 " (%" PRIu64 " messages), in %" PRIu64
		     " (%" PRIu64 " messages), to self %" PRIu64 ", send errors %" PRIu64
		     ", bad batches %" PRIu64 ", unknown-space drops %" PRIu64 ", revoke callbacks %"
		     PRIu64 " (%" PRIu64 " failed)\n", ns.batches_out, ns.msgs_out, ns.batches_in,
		     ns.msgs_in, ns.local_msgs, ns.send_errors, ns.bad_batches, ns.unknown_space,
		     ns.revoke_jobs, ns.revoke_errors);
	qsort(pl.rows, pl.n, sizeof(*pl.rows), piece_cmp);
	mm_sb_printf(&t, "\nHeld tokens: %zu\n", pl.total);
	if (pl.n)
		mm_sb_printf(&t, "%-8s %-7s %-20s %-4s %s\n", "space", "kind", "object", "mode", "range");
	for (size_t i = 0; i < pl.n; i++) {
		char r[64];

		range_str(pl.rows[i].r, r, sizeof(r));
		mm_sb_printf(&t, "%08" PRIx32 " %-7s %-20" PRIu64 " %-4s %s\n", pl.rows[i].k.space,
			     tok_kind_name(pl.rows[i].k.kind), pl.rows[i].k.obj,
			     tok_mode_name(pl.rows[i].mode), r);
	}
	if (pl.total > pl.n)
		mm_sb_printf(&t, "... and %zu more\n", pl.total - pl.n);
	mm_sb_printf(&t, "\nLocal waiters: %zu\n", wl.total);
	for (size_t i = 0; i < wl.n; i++)
		waiter_line(&t, &wl.rows[i], now);
	free(pl.rows);
	free(wl.rows);
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* ---- --waiters ---- */

void adm_diag_tok_waiters(mmfsd *d, uint64_t min_ms, struct mm_sb *t)
{
	struct toknet *tn = mmfsd_toknet(d);
	struct waiter_list wl = {0};
	uint64_t now = mm_now_ns();

	if (!tn)
		return;
	wl.rows = calloc(MAX_WAITERS, sizeof(*wl.rows));
	if (!wl.rows)
		return;
	toknet_client_waiters(tn, waiter_copy, &wl);
	for (size_t i = 0; i < wl.n; i++)
		if (now > wl.rows[i].since_ns && (now - wl.rows[i].since_ns) / 1000000 >= min_ms)
			waiter_line(t, &wl.rows[i], now);
	free(wl.rows);
}
