/* mmfsd/nsdsvc.c - see nsdsvc.h. */
#include "mmfsd/nsdsvc.h"

#include <glob.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "nsd/proto.h"

#define SUB "nsd"

struct nsd_svc {
	struct nsd_svc_config cfg;
	char name[300];
	_Atomic(clm *) clm;		/* set by nsd_svc_start (release) */
	nsd_table *tab;
	nsd_server *srv;
	nsd_client *cli;
	pthread_mutex_t scan_lock;	/* one scan at a time */
	uint64_t scan_began_ns;		/* the last scan's start; under scan_lock */
	struct mm_worker scan;		/* "nsd-scan"; its lock guards want_scan */
	bool want_scan;
};

/* ---- fencing -------------------------------------------------------- */

static int fence(uint32_t node, uint64_t recv_ns, void *arg)
{
	nsd_svc *s = arg;
	clm *c = atomic_load_explicit(&s->clm, memory_order_acquire);

	if (!c || !clm_lease_valid(c) || recv_ns < clm_lease_since_ns(c))
		return MM_ENOLEASE;
	return clm_is_member(c, node) ? MM_OK : MM_EFENCED;
}

static bool is_member(uint32_t node, void *arg)
{
	nsd_svc *s = arg;
	clm *c = atomic_load_explicit(&s->clm, memory_order_acquire);

	return c && clm_is_member(c, node);
}

static uint64_t io_epoch(void *arg)
{
	nsd_svc *s = arg;
	clm *c = atomic_load_explicit(&s->clm, memory_order_acquire);

	return c ? clm_io_epoch(c) : 0;
}

/* ---- discovery ------------------------------------------------------ */

/* The nsdDevices list, globs expanded; *out malloc'd strings. */
static size_t scan_list(nsd_svc *s, char ***out)
{
	char v[4096], *save = NULL;
	char **list = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (cfg_get(s->cfg.cfg, "nsdDevices", v, sizeof(v)) || !v[0])
		return 0;
	for (char *tok = strtok_r(v, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		glob_t g;

		if (glob(tok, GLOB_NOCHECK, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			if (n == cap) {
				char **nl = realloc(list, (cap = cap ? 2 * cap : 16) * sizeof(*nl));

				if (!nl)
					break;
				list = nl;
			}
			list[n] = strdup(g.gl_pathv[i]);
			if (list[n])
				n++;
		}
		globfree(&g);
	}
	*out = list;
	return n;
}

static int do_scan(nsd_svc *s, char *err, size_t errsz)
{
	clm *c = atomic_load_explicit(&s->clm, memory_order_acquire);
	struct etcd_kv *kvs = NULL;
	struct nsd_def *defs = NULL;
	struct cfg_cluster def;
	char **scan = NULL;
	size_t nkv = 0, n = 0, nscan;
	int rc;

	if (!c) {
		snprintf(err, errsz, "the NSD service is not started");
		return MM_ESTATE;
	}
	cfg_cluster_init(&def);
	rc = clm_cluster_copy(c, &def);
	if (!rc)
		rc = clm_ccr_list(c, NSD_CCR_PREFIX, &kvs, &nkv);
	if (rc) {
		snprintf(err, errsz, "cannot read the NSD table from the CCR: %s", mm_strerror(rc));
		cfg_cluster_free(&def);
		return rc;
	}
	defs = calloc(nkv + 1, sizeof(*defs));
	if (!defs) {
		etcd_kvs_free(kvs, nkv);
		cfg_cluster_free(&def);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nkv; i++) {
		struct nsd_def *d = &defs[n];
		char e[256];
		bool mine = false;

		if (nsd_record_decode(kvs[i].value, kvs[i].value_len, &d->rec, e, sizeof(e))) {
			mm_error(SUB, "CCR key %s: %s: ignored", kvs[i].key, e);
			continue;
		}
		for (int k = 0; k < d->rec.nservers; k++) {
			const struct cfg_node *node = cfg_cluster_node(&def, d->rec.servers[k]);

			if (!node) {
				mm_warn(SUB, "NSD %s: server %s is not a node of this cluster: ignored",
					d->rec.name, d->rec.servers[k]);
				continue;
			}
			d->servers[d->nservers++] = node->number;
			if (node->number == s->cfg.my_node)
				mine = true;
		}
		/* no servers: directly attached, every node should see it */
		d->scan_device = mine || d->rec.nservers == 0;
		n++;
	}
	nscan = scan_list(s, &scan);
	rc = nsd_table_update(s->tab, defs, n, (const char *const *)scan, nscan);
	if (rc >= 0)
		mm_info(SUB, "discovery: %zu NSDs known, %d reached locally", n, rc);
	else
		snprintf(err, errsz, "discovery failed: %s", mm_strerror(rc));
	for (size_t i = 0; i < nscan; i++)
		free(scan[i]);
	free(scan);
	free(defs);
	etcd_kvs_free(kvs, nkv);
	cfg_cluster_free(&def);
	return rc;
}

int nsd_svc_scan_now(nsd_svc *s, char *err, size_t errsz)
{
	int rc;

	pthread_mutex_lock(&s->scan_lock);
	s->scan_began_ns = mm_now_ns();
	rc = do_scan(s, err, errsz);
	pthread_mutex_unlock(&s->scan_lock);
	return rc;
}

/* A request named an NSD we do not know. A scan begun after it arrived
 * read a CCR that already held every NSD its sender knew of, so one scan
 * answers a burst of such requests, and a requester naming a bogus id
 * costs at most one scan per request wave. */
static void refresh(uint64_t recv_ns, void *arg)
{
	nsd_svc *s = arg;
	char err[256];

	pthread_mutex_lock(&s->scan_lock);
	if (s->scan_began_ns <= recv_ns) {
		s->scan_began_ns = mm_now_ns();
		if (do_scan(s, err, sizeof(err)) < 0)
			mm_warn(SUB, "rescan for an unknown NSD: %s", err);
	}
	pthread_mutex_unlock(&s->scan_lock);
}

void nsd_svc_request_scan(nsd_svc *s)
{
	pthread_mutex_lock(&s->scan.lock);
	s->want_scan = true;
	pthread_mutex_unlock(&s->scan.lock);
	mm_worker_kick(&s->scan);
}

static void *scan_main(void *arg)
{
	nsd_svc *s = arg;

	/* wake at least every second: a wanted scan waits for the node to
	 * become active, and a failed one is retried */
	pthread_mutex_lock(&s->scan.lock);
	while (mm_worker_wait(&s->scan, 1000)) {
		clm *c = atomic_load_explicit(&s->clm, memory_order_relaxed);

		if (s->want_scan && clm_get_state(c) == CLM_ACTIVE) {
			char err[256];
			int rc;

			s->want_scan = false;
			pthread_mutex_unlock(&s->scan.lock);
			rc = nsd_svc_scan_now(s, err, sizeof(err));
			pthread_mutex_lock(&s->scan.lock);
			if (rc < 0) {
				mm_warn(SUB, "%s: trying again", err);
				s->want_scan = true;
			}
		}
	}
	pthread_mutex_unlock(&s->scan.lock);
	return NULL;
}

static void rescan_handler(net_req *req, void *arg)
{
	nsd_svc *s = arg;

	mm_debug(SUB, "node %u asks for an NSD rescan", net_req_node(req));
	nsd_svc_request_scan(s);
	if (!net_req_oneway(req))
		net_reply(req, MM_OK, NULL, 0);
}

void nsd_svc_broadcast_rescan(nsd_svc *s)
{
	clm *c = atomic_load_explicit(&s->clm, memory_order_relaxed);
	uint32_t *nodes = NULL;
	size_t n = 0;

	if (!c || clm_members(c, &nodes, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (nodes[i] != s->cfg.my_node)
			net_send_oneway(s->cfg.net, nodes[i], MSG_NSD_RESCAN, NULL, 0);
	free(nodes);
}

/* ---- settings ------------------------------------------------------- */

static void apply_settings(nsd_svc *s)
{
	char v[64];
	enum nsd_path_policy p = NSD_PATH_ASNEEDED;

	if (cfg_get(s->cfg.cfg, "useNSDserver", v, sizeof(v)) == 0 && nsd_path_policy_parse(v, &p))
		mm_warn(SUB, "useNSDserver %s is not understood: using asneeded", v);
	nsd_client_set_policy(s->cli, p);
}

/*
 * This node lost its lease: drop every daemon connection, unread requests
 * included. Called on the clm thread before it seeks a new lease, so no
 * request sent to this node under its old lease can be read under the new
 * one; what was already read is refused by its arrival time (fence()).
 */
static void drop_connections(nsd_svc *s)
{
	clm *c = atomic_load_explicit(&s->clm, memory_order_acquire);
	struct cfg_cluster def;

	cfg_cluster_init(&def);
	if (!c || clm_cluster_copy(c, &def))
		return;
	for (size_t i = 0; i < def.nnodes; i++) {
		if (def.nodes[i].number == s->cfg.my_node)
			continue;
		net_peer_forget(s->cfg.net, def.nodes[i].number);
		net_peer_set(s->cfg.net, def.nodes[i].number, def.nodes[i].ip, def.port);
	}
	mm_notice(SUB, "lease lost: closed every daemon connection, so requests sent under the "
		  "old lease are never served");
	cfg_cluster_free(&def);
}

void nsd_svc_attr_changed(nsd_svc *s, const char *name)
{
	if (strcmp(name, "useNSDserver") == 0)
		apply_settings(s);
	else if (strcmp(name, "nsdDevices") == 0)
		nsd_svc_request_scan(s);
}

void nsd_svc_event(nsd_svc *s, const struct clm_event *ev)
{
	switch (ev->type) {
	case CLM_EV_QUORUM_LOST:
		drop_connections(s);
		break;
	case CLM_EV_QUORUM_REGAINED:
		nsd_svc_request_scan(s);
		break;
	case CLM_EV_CLUSTER_CHANGED:
		nsd_svc_request_scan(s);	/* server names may map to other nodes */
		break;
	default:
		break;
	}
}

/* ---- life cycle ----------------------------------------------------- */

int nsd_svc_create(const struct nsd_svc_config *cfg, nsd_svc **out)
{
	nsd_svc *s = calloc(1, sizeof(*s));
	struct nsd_table_config tc = {0};
	struct nsd_server_config sc = {0};
	struct nsd_client_config cc = {0};
	int64_t fdt = cfg_get_int(cfg->cfg, "failureDetectionTime");
	uint64_t pool = cfg_get_size(cfg->cfg, "pagepool");
	int rc;

	if (!s)
		return MM_ENOMEM;
	s->cfg = *cfg;
	snprintf(s->name, sizeof(s->name), "node %u (%s)", cfg->my_node, cfg->node_name);
	pthread_mutex_init(&s->scan_lock, NULL);
	mm_worker_init(&s->scan);
	tc.cluster_id = cfg->cluster_id;
	/* no write reaches a disk from this node outside the lease it was
	 * accepted under, whether it came from a client here or elsewhere */
	tc.disk_opts.gate = io_epoch;
	tc.disk_opts.gate_arg = s;
	rc = nsd_table_create(&tc, &s->tab);
	if (rc)
		goto fail;
	sc.net = cfg->net;
	sc.tab = s->tab;
	sc.name = s->name;
	sc.max_requests = (unsigned)cfg_get_int(cfg->cfg, "nsdMaxWorkerThreads");
	sc.max_bytes = pool / 100 * (uint64_t)cfg_get_int(cfg->cfg, "nsdBufSpace");
	sc.fence = fence;
	sc.fence_arg = s;
	sc.epoch = io_epoch;
	sc.epoch_arg = s;
	sc.refresh = refresh;
	sc.refresh_arg = s;
	rc = nsd_server_create(&sc, &s->srv);
	if (rc)
		goto fail;
	rc = net_register(cfg->net, MSG_NSD_RESCAN, rescan_handler, s, NET_H_INLINE);
	if (rc)
		goto fail;
	cc.net = cfg->net;
	cc.tab = s->tab;
	cc.my_node = cfg->my_node;
	cc.may_io = io_epoch;
	cc.may_io_arg = s;
	cc.is_member = is_member;
	cc.is_member_arg = s;
	cc.recovery_wait_ms = (int)cfg_get_int(cfg->cfg, "leaseRecoveryWait") * 1000;
	/* a server that neither answers nor drops the connection is given
	 * the time the cluster takes to expel it */
	cc.timeout_ms = (int)(fdt > 0 ? fdt : 35) * 1000;
	{
		char v[16];

		cc.checksum = cfg_get(cfg->cfg, "nsdChecksum", v, sizeof(v)) == 0 &&
			      (!strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "true"));
	}
	rc = nsd_client_create(&cc, &s->cli);
	if (rc)
		goto fail;
	apply_settings(s);
	*out = s;
	return MM_OK;
fail:
	nsd_svc_destroy(s);
	return rc;
}

int nsd_svc_start(nsd_svc *s, clm *c)
{
	int rc;

	atomic_store_explicit(&s->clm, c, memory_order_release);
	rc = mm_worker_start(&s->scan, "nsd-scan", scan_main, s);
	if (rc)
		return rc;
	nsd_svc_request_scan(s);
	return MM_OK;
}

void nsd_svc_stop(nsd_svc *s)
{
	if (!s)
		return;
	mm_worker_stop(&s->scan);
	if (s->cli) {
		nsd_client_destroy(s->cli);
		s->cli = NULL;
	}
	nsd_server_stop(s->srv);
}

void nsd_svc_destroy(nsd_svc *s)
{
	if (!s)
		return;
	nsd_svc_stop(s);
	nsd_server_destroy(s->srv);
	nsd_table_destroy(s->tab);
	pthread_mutex_destroy(&s->scan_lock);
	mm_worker_destroy(&s->scan);
	free(s);
}

nsd_table *nsd_svc_table(nsd_svc *s) { return s->tab; }
nsd_client *nsd_svc_client(nsd_svc *s) { return s->cli; }
nsd_server *nsd_svc_server(nsd_svc *s) { return s->srv; }
