/*
 * mmfsd/tokensvc.h - the token service inside mmfsd: this node's toknet
 * (tokens/toknet.h) fed with the cluster's facts (2026-12-06).
 *
 * Life cycle, driven by daemon.c:
 *   tokensvc_create()   right after the net context (start_net): makes the
 *                       toknet, which registers MSG_TOK_BATCH before any
 *                       peer is configured
 *   tokensvc_start()    once clm exists: the view of every token space
 *                       (clm_fsmgr_list), the recovery thread
 *   tokensvc_stop()     before the pagepool and the cluster stop: gives
 *                       cached tokens back (toknet_stop)
 *   tokensvc_destroy()  after net_destroy()
 *
 * What it feeds the toknet (tokensvc_event, from clm threads):
 *   CLM_EV_FSMGR_CHANGED   the space's view: its servers and epoch from
 *                          clm_fsmgr; members = the active nodes; failed =
 *                          the nodes failed whose recovery is not done. A
 *                          deleted space is forgotten. Token space =
 *                          fsid (fsids above 2^32 - 1 are skipped with a
 *                          warning: token spaces are 32-bit).
 *   CLM_EV_NODE_RESTARTED  as an expel of the old incarnation, then node up
 *   CLM_EV_NODE_EXPELLED   toknet_node_failed; then the recovery hook, if
 *                          one is registered (it calls
 *                          tokensvc_recovery_done), else leaseRecoveryWait
 *                          seconds later (monotonic clock),
 *                          toknet_node_recovered
 *   CLM_EV_NODE_LEFT       a clean shutdown gave its tokens back:
 *                          node_failed and node_recovered at once
 *   CLM_EV_NODE_JOINED     toknet_node_up
 * and the dynamic attributes tokenMemLimit and maxFilesToCache.
 *
 * Threads: events and attributes on clm threads (never block long: the
 * toknet calls are short); the recovery hook and the leaseRecoveryWait
 * timer on the "tokrecov" thread.
 */
#ifndef MM_MMFSD_TOKENSVC_H
#define MM_MMFSD_TOKENSVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/clm.h"
#include "config/config.h"
#include "net/net.h"
#include "tokens/toknet.h"

typedef struct tokensvc tokensvc;

struct tokensvc_config {
	net_ctx *net;
	cfg_set *cfg;		/* tokenMemLimit, maxFilesToCache, leaseRecoveryWait */
	uint32_t my_node;
};

int tokensvc_create(const struct tokensvc_config *cfg, tokensvc **out);
int tokensvc_start(tokensvc *s, clm *c);
void tokensvc_stop(tokensvc *s);
void tokensvc_destroy(tokensvc *s);

void tokensvc_event(tokensvc *s, const struct clm_event *ev);
/* tokenMemLimit or maxFilesToCache changed in the effective settings. */
void tokensvc_attr_changed(tokensvc *s, const char *name);

/* The toknet (NULL before create). */
struct toknet *tokensvc_toknet(tokensvc *s);

/*
 * The file system layer's recovery (log replay of a failed node): <fn>
 * is called on the tokrecov thread with each node that failed; once its
 * recovery is done it calls tokensvc_recovery_done(<node>) (any thread),
 * and only then are the node's tokens released. With no hook, they are
 * released leaseRecoveryWait seconds after the failure. <fn> NULL
 * unregisters (pending recoveries then fall back to the timer).
 */
typedef void (*tokensvc_recovery_fn)(void *arg, uint32_t node);
void tokensvc_set_recovery_hook(tokensvc *s, tokensvc_recovery_fn fn, void *arg);
void tokensvc_recovery_done(tokensvc *s, uint32_t node);

/* Nodes failed and not yet recovered, for views and mmdiag: up to <max>
 * into <nodes>, and for each the seconds left of leaseRecoveryWait (-1:
 * waiting for the hook) into <left_s> (may be NULL). Returns the count. */
size_t tokensvc_failed_nodes(tokensvc *s, uint32_t *nodes, int64_t *left_s, size_t max);

/* mmdiag --tokenmgr's rates: per second, for server <space>, since the
 * last call for it (or since the service started); <secs> gets the
 * interval. Updates the sample. */
struct tokensvc_rates {
	double grants, conflicts, relinquishes, drops_asked;
	double secs;
};
void tokensvc_rates(tokensvc *s, uint32_t space, const struct tok_server_stats *st,
		    struct tokensvc_rates *out);

#endif
