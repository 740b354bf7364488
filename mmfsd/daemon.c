/*
 * mmfsd/daemon.c - bring a node's daemon up and down (see daemon.h).
 *
 * mmfsd_open takes the pid lock (one daemon per state dir), opens the log
 * and reads the definition and settings; mmfsd_start then starts the
 * subsystems of the table `subsystems[]` in its order, and mmfsd_stop
 * stops them in reverse. Each entry also names the dynamic attributes it
 * applies and handles cluster events: adding a subsystem is one entry.
 */
#include "mmfsd/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "common/wire.h"
#include "mmfsd/fssvc.h"
#include "mmfsd/nsdsvc.h"
#include "mmfsd/tokensvc.h"
#include "net/keys.h"
#include "pagepool/nsdio.h"
#include "pagepool/pagepool.h"

#define SUB "mmfsd"

struct mmfsd {
	struct mmfsd_paths paths;
	struct mmfsd_options opt;
	char node_name[256];
	uint32_t node_num;
	char node_ip[64];
	bool quorum_node;
	struct cfg_cluster def;
	cfg_set *cfg;
	int pid_fd;
	int stop_pipe[2];
	uint64_t started_at;
	_Atomic uint64_t lease_stopped_ms;	/* when lease-bound work stopped, 0 = running */

	net_ctx *net;
	etcd_sup *etcd;
	clm *clm;
	nsd_svc *nsd;
	tokensvc *tok;
	pp_pool *pool;
	fssvc *fs;
	adm_server *adm;

	size_t nstarted;		/* subsystems[0 .. nstarted) were started */

	/* pagepool resizes (mmchconfig pagepool) run on their own thread: a
	 * shrink may write dirty data and wait for pinned buffers */
	struct mm_worker pool_worker;	/* "pp-resize" */
	bool pool_resize;		/* protected by pool_worker.lock: pagepool changed */

	struct mm_worker peer;		/* "peer" */
	bool reconcile;			/* protected by peer.lock: definition changed */
	/* d->etcd is replaced only by the peer thread, under peer.lock;
	 * other threads read it under peer.lock (mmfsd_etcd_info) */
};

int mmfsd_paths_init(struct mmfsd_paths *p, const char *root, const char *node)
{
	int rc = 0;

	memset(p, 0, sizeof(*p));
	rc |= mm_snprintf(p->root, sizeof(p->root), "%s", root);
	rc |= mm_snprintf(p->state, sizeof(p->state), "%s/%s", root, node);
	rc |= mm_snprintf(p->sdrfs, sizeof(p->sdrfs), "%s/mmsdrfs.cfg", p->state);
	rc |= mm_snprintf(p->local_cfg, sizeof(p->local_cfg), "%s/mmfs.cfg", p->state);
	rc |= mm_snprintf(p->log, sizeof(p->log), "%s/mmfs.log", p->state);
	rc |= mm_snprintf(p->pid, sizeof(p->pid), "%s/mmfsd.pid", p->state);
	rc |= mm_snprintf(p->sock, sizeof(p->sock), "%s/mmfsd.sock", p->state);
	rc |= mm_snprintf(p->ssl, sizeof(p->ssl), "%s/ssl", p->state);
	rc |= mm_snprintf(p->ca_crt, sizeof(p->ca_crt), "%s/ssl/cluster.crt", p->state);
	rc |= mm_snprintf(p->ca_key, sizeof(p->ca_key), "%s/ssl/cluster.key", p->state);
	rc |= mm_snprintf(p->node_crt, sizeof(p->node_crt), "%s/ssl/node.crt", p->state);
	rc |= mm_snprintf(p->node_key, sizeof(p->node_key), "%s/ssl/node.key", p->state);
	rc |= mm_snprintf(p->etcd_dir, sizeof(p->etcd_dir), "%s/etcd", p->state);
	rc |= mm_snprintf(p->etcd_log, sizeof(p->etcd_log), "%s/etcd.log", p->state);
	rc |= mm_snprintf(p->etcd_join, sizeof(p->etcd_join), "%s/etcd.join", p->state);
	/* a Unix socket path is limited to 108 bytes */
	if (strlen(p->sock) >= 108)
		return MM_ETOOBIG;
	return rc ? MM_ETOOBIG : MM_OK;
}

/* ---- pid lock ------------------------------------------------------ */

static int pid_lock(mmfsd *d, char *err, size_t errsz)
{
	char buf[32];
	int fd = open(d->paths.pid, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		snprintf(err, errsz, "cannot open %s: %s", d->paths.pid, strerror(errno));
		return mm_err_from_errno(errno);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errsz, "mmfsd is already running for node %s (pid %s, lock %s)",
			 d->opt.node, buf[0] ? buf : "?", d->paths.pid);
		close(fd);
		return MM_EBUSY;
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0) {
		snprintf(err, errsz, "cannot write %s: %s", d->paths.pid, strerror(errno));
		close(fd);
		return MM_EIO;
	}
	d->pid_fd = fd;
	return MM_OK;
}

/* ---- open ---------------------------------------------------------- */

static int load_settings(mmfsd *d, char *err, size_t errsz)
{
	const struct cfg_node *me;
	int rc;

	cfg_cluster_init(&d->def);
	rc = cfg_cluster_load(&d->def, d->paths.sdrfs, err, errsz);
	if (rc)
		return rc;
	me = cfg_cluster_node(&d->def, d->opt.node);
	if (!me) {
		snprintf(err, errsz, "node %s is not defined in %s", d->opt.node, d->paths.sdrfs);
		return MM_ENOENT;
	}
	snprintf(d->node_name, sizeof(d->node_name), "%s", me->name);
	snprintf(d->node_ip, sizeof(d->node_ip), "%s", me->ip);
	d->node_num = me->number;
	d->quorum_node = me->quorum;

	d->cfg = cfg_set_new();
	if (!d->cfg)
		return MM_ENOMEM;
	/* defaults, then the cluster's values, then this node's own file */
	for (size_t i = 0; i < d->def.nattrs; i++) {
		rc = cfg_set_value(d->cfg, d->def.attr_names[i], d->def.attr_values[i],
				   d->paths.sdrfs, err, errsz);
		if (rc)
			return rc;
	}
	if (access(d->paths.local_cfg, F_OK) == 0) {
		rc = cfg_load_file(d->cfg, d->paths.local_cfg, err, errsz);
		if (rc)
			return rc;
	}
	return cfg_set_check(d->cfg, err, errsz);
}

static int log_level_of(cfg_set *cfg)
{
	char v[32];

	if (cfg_get(cfg, "mmfsLogLevel", v, sizeof(v)))
		return MM_LOG_INFO;
	if (!strcasecmp(v, "debug"))
		return MM_LOG_DEBUG;
	if (!strcasecmp(v, "notice"))
		return MM_LOG_NOTICE;
	if (!strcasecmp(v, "warning"))
		return MM_LOG_WARN;
	if (!strcasecmp(v, "error"))
		return MM_LOG_ERROR;
	return MM_LOG_INFO;
}

int mmfsd_open(const struct mmfsd_options *opt, mmfsd **out, char *err, size_t errsz)
{
	mmfsd *d = calloc(1, sizeof(*d));
	char runlog[4096];
	int rc;

	if (!d)
		return MM_ENOMEM;
	d->opt = *opt;
	d->pid_fd = -1;
	d->stop_pipe[0] = d->stop_pipe[1] = -1;
	mm_worker_init(&d->peer);
	mm_worker_init(&d->pool_worker);
	rc = mmfsd_paths_init(&d->paths, opt->root, opt->node);
	if (rc) {
		snprintf(err, errsz, "state directory path %s/%s is too long", opt->root, opt->node);
		goto fail;
	}
	if (access(d->paths.sdrfs, R_OK) != 0) {
		snprintf(err, errsz, "node %s does not belong to a cluster (%s: %s); run mmcrcluster first",
			 opt->node, d->paths.sdrfs, strerror(errno));
		rc = MM_ENOENT;
		goto fail;
	}
	rc = pid_lock(d, err, errsz);
	if (rc)
		goto fail;
	if (pipe2(d->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = mm_err_from_errno(errno);
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		goto fail;
	}
	rc = load_settings(d, err, errsz);
	if (rc)
		goto fail;
	/* a new mmfs.log.<date>.<node> per start; mmfs.log, mmfs.log.latest
	 * and mmfs.log.previous are symlinks (common/log.h) */
	rc = mm_log_open_run(d->paths.state, opt->node, MM_LOG_KEEP_RUNS, opt->foreground,
			     log_level_of(d->cfg), runlog, sizeof(runlog));
	if (rc) {
		snprintf(err, errsz, "cannot open log %s: %s", d->paths.log, mm_strerror(rc));
		goto fail;
	}
	if (!opt->foreground) {
		/* a detached daemon's stderr (mmfsd.stderr, appended by every
		 * run) gets only what bypasses the log: sanitizer reports,
		 * library messages, a crash's last words. Mark where each run
		 * begins, and which log file is that run's. */
		time_t now = time(NULL);
		struct tm tm;
		char ts[32];

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d_%H:%M:%S+0000", &tm);
		dprintf(STDERR_FILENO, "%s: mmfsd pid %d started; its log is %s\n", ts, (int)getpid(),
			runlog);
	}
	mm_notice(SUB, "mmfsd %s starting for node %u (%s), pid %d, cluster %s",
		  MMFS_VERSION, d->node_num, d->node_name, (int)getpid(), d->def.name);
	*out = d;
	return MM_OK;
fail:
	mmfsd_close(d);
	return rc;
}

/* ---- start --------------------------------------------------------- */

static int ensure_node_cert(mmfsd *d, char *err, size_t errsz)
{
	if (access(d->paths.ca_crt, R_OK) != 0 || access(d->paths.ca_key, R_OK) != 0) {
		snprintf(err, errsz, "cluster key missing in %s: run mmauth genkey new and mmcrcluster",
			 d->paths.ssl);
		return MM_ENOENT;
	}
	if (net_keys_node_valid(d->paths.ca_crt, d->paths.node_crt, d->node_ip) == 1)
		return MM_OK;
	mm_info(SUB, "issuing this node's certificate for %s", d->node_ip);
	return net_keys_issue_node(d->paths.ca_key, d->paths.ca_crt, d->node_ip,
				   d->paths.node_key, d->paths.node_crt, err, errsz);
}

/* Ping: reply with our node number, state and cluster manager. */
static void ping_handler(net_req *req, void *arg)
{
	mmfsd *d = arg;
	uint8_t buf[16];

	mm_be32_put(buf, d->node_num);
	mm_be32_put(buf + 4, d->clm ? (uint32_t)clm_get_state(d->clm) : CLM_ARBITRATING);
	mm_be32_put(buf + 8, d->clm ? clm_cluster_manager(d->clm) : 0);
	mm_be32_put(buf + 12, 0);
	net_reply(req, MM_OK, buf, sizeof(buf));
}

static int start_net(mmfsd *d, char *err, size_t errsz)
{
	struct net_config nc = {0};
	char cl[256], ciphers[256];
	enum net_security sec;
	int rc;

	cfg_get(d->cfg, "cipherList", cl, sizeof(cl));
	rc = net_parse_cipherlist(cl, &sec, ciphers, sizeof(ciphers));
	if (rc) {
		snprintf(err, errsz, "cipherList %s is not supported", cl);
		return rc;
	}
	nc.node_id = d->node_num;
	nc.cluster_id = d->def.id;
	nc.listen_addr = d->node_ip;
	nc.port = d->def.port;
	nc.io_threads = 1;
	nc.worker_threads = 4;
	nc.max_payload = 64u << 20;
	nc.security = sec;
	nc.ciphers = ciphers;
	nc.ca_file = d->paths.ca_crt;
	nc.cert_file = d->paths.node_crt;
	nc.key_file = d->paths.node_key;
	nc.connect_timeout_ms = 3000;
	rc = net_create(&nc, &d->net);
	if (rc) {
		snprintf(err, errsz, "cannot listen on %s:%u: %s", d->node_ip, d->def.port,
			 mm_strerror(rc));
		return rc;
	}
	rc = net_register(d->net, MSG_CLUSTER_PING, ping_handler, d, NET_H_INLINE);
	if (rc)
		return rc;
	{
		struct nsd_svc_config sc = {
			.net = d->net,
			.cfg = d->cfg,
			.cluster_id = d->def.id,
			.my_node = d->node_num,
			.node_name = d->node_name,
		};

		rc = nsd_svc_create(&sc, &d->nsd);
		if (rc) {
			snprintf(err, errsz, "cannot set up the NSD service: %s", mm_strerror(rc));
			return rc;
		}
	}
	{
		struct tokensvc_config tc = {
			.net = d->net,
			.cfg = d->cfg,
			.my_node = d->node_num,
		};

		/* registers MSG_TOK_BATCH: before any peer is configured */
		rc = tokensvc_create(&tc, &d->tok);
		if (rc) {
			snprintf(err, errsz, "cannot set up the token service: %s", mm_strerror(rc));
			return rc;
		}
	}
	for (size_t i = 0; i < d->def.nnodes; i++)
		if (d->def.nodes[i].number != d->node_num)
			net_peer_set(d->net, d->def.nodes[i].number, d->def.nodes[i].ip, d->def.port);
	mm_info(SUB, "listening on %s:%u (%s)", d->node_ip, d->def.port, cl);
	return MM_OK;
}

static int start_etcd(mmfsd *d, char *err, size_t errsz)
{
	struct etcd_sup_config ec = {0};
	char initial[8192] = "", name[32], token[64];
	size_t len = 0;
	int rc;

	for (size_t i = 0; i < d->def.nnodes; i++) {
		const struct cfg_node *n = &d->def.nodes[i];

		if (!n->quorum)
			continue;
		len += (size_t)snprintf(initial + len, sizeof(initial) - len, "%snode%u=https://%s:%u",
					len ? "," : "", n->number, n->ip, d->def.etcd_peer_port);
		if (len >= sizeof(initial)) {
			snprintf(err, errsz, "too many quorum nodes for the etcd command line");
			return MM_ETOOBIG;
		}
	}
	/* a quorum node added to a running cluster joins the existing members */
	if (access(d->paths.etcd_dir, F_OK) != 0 && access(d->paths.etcd_join, R_OK) == 0) {
		char *join = NULL;

		if (mm_read_file(d->paths.etcd_join, sizeof(initial) - 1, &join, NULL) == 0) {
			join[strcspn(join, "\n")] = '\0';
			snprintf(initial, sizeof(initial), "%s", join);
			ec.initial_existing = true;
			mm_notice(SUB, "joining the existing etcd members: %s", initial);
		}
		free(join);
	}
	snprintf(name, sizeof(name), "node%u", d->node_num);
	snprintf(token, sizeof(token), "mmfs-%" PRIu64, d->def.id);
	ec.name = name;
	ec.data_dir = d->paths.etcd_dir;
	ec.ip = d->node_ip;
	ec.client_port = d->def.etcd_client_port;
	ec.peer_port = d->def.etcd_peer_port;
	ec.initial_cluster = initial;
	ec.cluster_token = token;
	ec.tls = (struct etcd_tls){d->paths.ca_crt, d->paths.node_crt, d->paths.node_key};
	ec.heartbeat_ms = (int)cfg_get_int(d->cfg, "ccrHeartbeatMs");
	ec.election_ms = (int)cfg_get_int(d->cfg, "ccrElectionTimeoutMs");
	ec.log_path = d->paths.etcd_log;
	ec.binary = d->opt.etcd_binary;
	{
		etcd_sup *sup = NULL;

		rc = etcd_sup_start(&ec, &sup);
		pthread_mutex_lock(&d->peer.lock);
		d->etcd = sup;
		pthread_mutex_unlock(&d->peer.lock);
	}
	if (rc)
		snprintf(err, errsz, "cannot start etcd: %s", mm_strerror(rc));
	return rc;
}

static int rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	/* only ever our own etcd data directory */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
	return system(cmd) == 0 ? MM_OK : MM_EIO;
}

static void stop_etcd(mmfsd *d);

/*
 * The cluster definition changed (mmaddnode, mmdelnode, mmchnode): follow
 * it. Peers come and go; if this node became a quorum node it starts an
 * etcd member that joins the existing ones; if it stopped being one, its
 * member was already removed from etcd, so the process and its data go.
 * Runs on the peer thread, which alone replaces d->def and d->etcd.
 */
static void reconcile(mmfsd *d)
{
	struct cfg_cluster cur;
	const struct cfg_node *me;
	char err[256];

	cfg_cluster_init(&cur);
	if (clm_cluster_copy(d->clm, &cur))
		return;
	for (size_t i = 0; i < cur.nnodes; i++)
		if (cur.nodes[i].number != d->node_num)
			net_peer_set(d->net, cur.nodes[i].number, cur.nodes[i].ip, cur.port);
	for (size_t i = 0; i < d->def.nnodes; i++)
		if (!cfg_cluster_node_num(&cur, d->def.nodes[i].number))
			net_peer_forget(d->net, d->def.nodes[i].number);
	me = cfg_cluster_node_num(&cur, d->node_num);
	if (!me) {
		mm_warn(SUB, "this node was deleted from the cluster definition");
	} else if (me->quorum && !d->quorum_node) {
		char extra[192], *join = NULL;

		snprintf(extra, sizeof(extra), "node%u=https://%s:%u", d->node_num, d->node_ip,
			 cur.etcd_peer_port);
		if (clm_etcd_initial_cluster(d->clm, extra, &join) == 0) {
			mm_write_file_atomic(d->paths.etcd_join, join, strlen(join), 0600);
			free(join);
			rm_rf(d->paths.etcd_dir);
			cfg_cluster_free(&d->def);
			d->def = cur;
			cfg_cluster_init(&cur);
			d->quorum_node = true;
			if (start_etcd(d, err, sizeof(err)))
				mm_error(SUB, "cannot start etcd as a new quorum node: %s", err);
			else
				mm_notice(SUB, "this node is now a quorum node: etcd member started");
		}
	} else if (!me->quorum && d->quorum_node) {
		stop_etcd(d);
		rm_rf(d->paths.etcd_dir);
		unlink(d->paths.etcd_join);
		d->quorum_node = false;
		mm_notice(SUB, "this node is no longer a quorum node: etcd member stopped");
	}
	if (cur.nnodes) {
		cfg_cluster_free(&d->def);
		d->def = cur;
	} else {
		cfg_cluster_free(&cur);
	}
}

/*
 * The peer thread keeps a daemon connection to the cluster manager while
 * active, and while arbitrating asks the quorum nodes who manages the
 * cluster: a node that cannot join leaves a trace on both sides (a
 * refused handshake is logged by both daemons).
 */
static void *peer_main(void *arg)
{
	mmfsd *d = arg;
	size_t rr = 0;

	uint64_t period = 0;

	pthread_mutex_lock(&d->peer.lock);
	while (mm_worker_wait(&d->peer, period)) {
		uint32_t target = 0;
		int64_t fdt = cfg_get_int(d->cfg, "failureDetectionTime");
		bool again = d->reconcile;

		period = (uint64_t)(fdt > 0 ? fdt : 35) * 1000 / 4;
		d->reconcile = false;
		pthread_mutex_unlock(&d->peer.lock);
		if (again)
			reconcile(d);
		if (clm_get_state(d->clm) == CLM_ACTIVE) {
			uint32_t cm = clm_cluster_manager(d->clm);

			if (cm && cm != d->node_num)
				target = cm;
		} else {
			for (size_t k = 0; k < d->def.nnodes && !target; k++) {
				const struct cfg_node *n = &d->def.nodes[rr++ % d->def.nnodes];

				if (n->quorum && n->number != d->node_num)
					target = n->number;
			}
		}
		if (target) {
			void *rep = NULL;
			size_t len = 0;
			int rc = net_call(d->net, target, MSG_CLUSTER_PING, NULL, 0, 2000, &rep, &len);

			if (rc >= 0 && len >= 12)
				mm_debug(SUB, "node %u answers: state %u, cluster manager %u", target,
					 mm_be32_get((uint8_t *)rep + 4), mm_be32_get((uint8_t *)rep + 8));
			else if (rc < 0)
				mm_debug(SUB, "ping node %u: %s", target, mm_strerror(rc));
			free(rep);
		}
		pthread_mutex_lock(&d->peer.lock);
	}
	pthread_mutex_unlock(&d->peer.lock);
	return NULL;
}

/* The daemon's own: lease-bound work stopping and resuming, the log level. */
static void daemon_event(mmfsd *d, const struct clm_event *ev)
{
	switch (ev->type) {
	case CLM_EV_QUORUM_LOST:	/* quorum gone, or our lease dropped */
	case CLM_EV_NODE_EXPELLED:
		if (ev->node == d->node_num) {
			uint64_t zero = 0;

			if (atomic_compare_exchange_strong_explicit(&d->lease_stopped_ms, &zero,
								    mm_now_ms() | 1, memory_order_acq_rel,
								    memory_order_acquire))
				mm_warn(SUB, "lease-bound operations stopped until this node rejoins");
		}
		break;
	case CLM_EV_QUORUM_REGAINED:
		if (ev->node == d->node_num) {
			uint64_t since = atomic_exchange_explicit(&d->lease_stopped_ms, 0,
								  memory_order_acq_rel);

			if (since)
				mm_notice(SUB, "lease-bound operations resumed: this node rejoined "
					  "after %llu s", (unsigned long long)((mm_now_ms() - since + 500) / 1000));
		}
		break;
	default:
		break;
	}
}

static void daemon_attr(mmfsd *d, const char *name)
{
	(void)name;	/* mmfsLogLevel */
	mm_log_set_level(log_level_of(d->cfg));
}

/*
 * The pagepool: allocated (and locked in memory where permitted) at start,
 * of the size the pagepool attribute has then, within pagepoolMaxPhysMemPct
 * of physical memory, which is also how far a later mmchconfig pagepool
 * may grow it online (the pool thread resizes it; address space for that
 * is reserved, not memory).
 */
static uint64_t pool_cap(mmfsd *d)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)psz / 100 *
	       (uint64_t)cfg_get_int(d->cfg, "pagepoolMaxPhysMemPct");
}

static void *pool_main(void *arg)
{
	mmfsd *d = arg;

	pthread_mutex_lock(&d->pool_worker.lock);
	while (mm_worker_wait(&d->pool_worker, 60000)) {
		uint64_t want, cap;

		if (!d->pool_resize)
			continue;
		d->pool_resize = false;
		pthread_mutex_unlock(&d->pool_worker.lock);
		want = cfg_get_size(d->cfg, "pagepool");
		cap = pool_cap(d);
		if (cap && want > cap) {
			mm_warn(SUB, "pagepool %" PRIu64 " bytes is over pagepoolMaxPhysMemPct of physical "
				"memory: using %" PRIu64, want, cap);
			want = cap;
		}
		/* logs what it did, or why not */
		pp_pool_resize(d->pool, want, 30000);
		pthread_mutex_lock(&d->pool_worker.lock);
	}
	pthread_mutex_unlock(&d->pool_worker.lock);
	return NULL;
}

static int start_pool(mmfsd *d, char *err, size_t errsz)
{
	struct pp_config pc = {0};
	uint64_t want = cfg_get_size(d->cfg, "pagepool"), cap = pool_cap(d);
	int rc;

	if (cap && want > cap) {
		mm_warn(SUB, "pagepool %" PRIu64 " bytes is over pagepoolMaxPhysMemPct of physical "
			"memory: using %" PRIu64, want, cap);
		want = cap;
	}
	pc.size = want;
	pc.max_size = cap > want ? cap : want;
	pc.lock_memory = true;
	pc.prefetch_threads = (unsigned)cfg_get_int(d->cfg, "prefetchThreads");
	pc.prefetch_pct = (unsigned)cfg_get_int(d->cfg, "prefetchPct");
	pp_nsd_backend(&pc, nsd_svc_client(d->nsd));
	rc = pp_pool_create(&pc, &d->pool);
	if (rc) {
		snprintf(err, errsz, "cannot allocate a pagepool of %" PRIu64 " bytes: %s", want,
			 mm_strerror(rc));
		return rc;
	}
	rc = mm_worker_start(&d->pool_worker, "pp-resize", pool_main, d);
	if (rc)
		snprintf(err, errsz, "cannot start the pagepool resize thread");
	return rc;
}

static void stop_pool(mmfsd *d)
{
	mm_worker_stop(&d->pool_worker);
	/* dirty data goes out, and I/O drains, while this node is still a member */
	pp_pool_destroy(d->pool);
	d->pool = NULL;
}

static void pool_attr(mmfsd *d, const char *name)
{
	(void)name;
	pthread_mutex_lock(&d->pool_worker.lock);
	d->pool_resize = true;	/* the pool thread, if any, resizes */
	pthread_mutex_unlock(&d->pool_worker.lock);
	mm_worker_kick(&d->pool_worker);
}

static int start_peer(mmfsd *d, char *err, size_t errsz)
{
	int rc = mm_worker_start(&d->peer, "peer", peer_main, d);

	if (rc)
		snprintf(err, errsz, "cannot start the peer thread");
	return rc;
}

static void stop_peer(mmfsd *d)
{
	mm_worker_stop(&d->peer);
}

static void peer_event(mmfsd *d, const struct clm_event *ev)
{
	if (ev->type != CLM_EV_CLUSTER_CHANGED)
		return;
	pthread_mutex_lock(&d->peer.lock);
	d->reconcile = true;
	pthread_mutex_unlock(&d->peer.lock);
	mm_worker_kick(&d->peer);
}

static void stop_net(mmfsd *d)
{
	if (d->net) {
		net_destroy(d->net);
		d->net = NULL;
	}
}

static int start_etcd_role(mmfsd *d, char *err, size_t errsz)
{
	if (d->quorum_node)
		return start_etcd(d, err, errsz);
	if (access(d->paths.etcd_dir, F_OK) == 0) {
		mm_notice(SUB, "not a quorum node (any more): removing old etcd data %s",
			  d->paths.etcd_dir);
		rm_rf(d->paths.etcd_dir);
		unlink(d->paths.etcd_join);
	}
	return MM_OK;
}

static void stop_etcd(mmfsd *d)
{
	etcd_sup *old;

	pthread_mutex_lock(&d->peer.lock);
	old = d->etcd;
	d->etcd = NULL;
	pthread_mutex_unlock(&d->peer.lock);
	if (old)
		etcd_sup_stop(old, 3000);
}

static void cluster_event(const struct clm_event *ev, void *arg);

/* The cluster manager's check before it serves an expel request: does
 * <node> answer a ping within a second? */
static int probe_node(void *arg, uint32_t node)
{
	mmfsd *d = arg;
	void *rep = NULL;
	size_t len = 0;
	int rc = d->net ? net_call(d->net, node, MSG_CLUSTER_PING, NULL, 0, 1000, &rep, &len)
			: MM_ESTATE;

	free(rep);
	return rc < 0 ? rc : MM_OK;
}

static int start_cluster(mmfsd *d, char *err, size_t errsz)
{
	struct clm_config cc = {
		.cluster = &d->def,
		.my_node = d->node_num,
		.cfg = d->cfg,
		.tls = {d->paths.ca_crt, d->paths.node_crt, d->paths.node_key},
		.sdrfs_path = d->paths.sdrfs,
		.probe = probe_node,
		.probe_arg = d,
	};
	int rc = clm_create(&cc, &d->clm);

	if (rc) {
		snprintf(err, errsz, "cannot set up cluster membership: %s", mm_strerror(rc));
		return rc;
	}
	clm_subscribe(d->clm, cluster_event, d);
	rc = clm_start(d->clm);
	if (rc)
		snprintf(err, errsz, "cannot start the cluster membership threads: %s", mm_strerror(rc));
	return rc;
}

/* Leave the cluster (lease revoked); the clm itself goes in mmfsd_close. */
static void stop_cluster(mmfsd *d)
{
	if (d->clm)
		clm_stop(d->clm);
}

static int start_nsd(mmfsd *d, char *err, size_t errsz)
{
	int rc = nsd_svc_start(d->nsd, d->clm);

	if (rc)
		snprintf(err, errsz, "cannot start the NSD service: %s", mm_strerror(rc));
	return rc;
}

/* Drain the NSD client and server while still a member. */
static void stop_nsd(mmfsd *d)
{
	nsd_svc_stop(d->nsd);
}

static void nsd_event(mmfsd *d, const struct clm_event *ev)
{
	if (d->nsd)
		nsd_svc_event(d->nsd, ev);
}

static void nsd_attr(mmfsd *d, const char *name)
{
	if (d->nsd)
		nsd_svc_attr_changed(d->nsd, name);
}

static int start_tokens(mmfsd *d, char *err, size_t errsz)
{
	int rc = tokensvc_start(d->tok, d->clm);

	if (rc)
		snprintf(err, errsz, "cannot start the token service: %s", mm_strerror(rc));
	return rc;
}

/* Cached tokens go back to their servers while this node is a member. */
static void stop_tokens(mmfsd *d)
{
	tokensvc_stop(d->tok);
}

static void tokens_event(mmfsd *d, const struct clm_event *ev)
{
	tokensvc_event(d->tok, ev);
}

static void tokens_attr(mmfsd *d, const char *name)
{
	tokensvc_attr_changed(d->tok, name);
}

/* Dead mounts of a previous run are detached here, before the admin
 * socket lets anyone mount; -A yes mounts follow once the node is active. */
static int start_fs(mmfsd *d, char *err, size_t errsz)
{
	int rc = fssvc_create(d, &d->fs);

	if (rc) {
		snprintf(err, errsz, "cannot set up the mount service: %s", mm_strerror(rc));
		return rc;
	}
	return fssvc_start(d->fs, err, errsz);
}

/* Every mount goes (forced) while tokens, pagepool and disks still run. */
static void stop_fs(mmfsd *d)
{
	fssvc_stop(d->fs);
}

static void fs_event(mmfsd *d, const struct clm_event *ev)
{
	fssvc_event(d->fs, ev);
}

static int start_admin(mmfsd *d, char *err, size_t errsz)
{
	int rc = adm_server_start(d, d->paths.sock, &d->adm);

	if (rc)
		snprintf(err, errsz, "cannot open admin socket %s: %s", d->paths.sock, mm_strerror(rc));
	return rc;
}

static void stop_admin(mmfsd *d)
{
	if (d->adm) {
		adm_server_stop(d->adm);
		d->adm = NULL;
	}
}

/*
 * The subsystems, in start order; mmfsd_stop runs them backwards. Each
 * names the dynamic attributes it applies (its <attr> is called when the
 * CCR changes one of them) and gets every cluster event through <event>,
 * in table order, also before it started (handlers check what exists).
 * Why this order: the network first, so peers reach us and the NSD
 * handlers exist (start_net); etcd before membership, which runs on it;
 * the NSD service needs the clm; the pagepool reads and writes through
 * the NSD client and must flush while this node is still a member; the
 * token service after it (the file system above will flush through the
 * pagepool in its revoke callbacks; stopped first, it gives its cached
 * tokens back while the cluster and the servers still run; its handler
 * was registered in start_net); the mount service after the tokens (a
 * mount needs them all; stopped first, mmshutdown unmounts before
 * anything under the file systems goes); the admin socket last, since once it
 * answers everything behind it exists.
 */
static const char *const daemon_attrs[] = {"mmfsLogLevel", NULL};
static const char *const nsd_attrs[] = {"useNSDserver", "nsdDevices", NULL};
static const char *const pool_attrs[] = {"pagepool", NULL};
static const char *const tokens_attrs[] = {"tokenMemLimit", "maxFilesToCache", NULL};

static const struct subsystem {
	const char *name;
	int (*start)(mmfsd *d, char *err, size_t errsz);
	void (*stop)(mmfsd *d);		/* also after a failed start */
	void (*event)(mmfsd *d, const struct clm_event *ev);
	const char *const *attrs;
	void (*attr)(mmfsd *d, const char *name);
} subsystems[] = {
	{"daemon", NULL, NULL, daemon_event, daemon_attrs, daemon_attr},
	{"net", start_net, stop_net, NULL, NULL, NULL},
	{"etcd", start_etcd_role, stop_etcd, NULL, NULL, NULL},
	{"cluster", start_cluster, stop_cluster, NULL, NULL, NULL},
	{"nsd", start_nsd, stop_nsd, nsd_event, nsd_attrs, nsd_attr},
	{"pagepool", start_pool, stop_pool, NULL, pool_attrs, pool_attr},
	{"tokens", start_tokens, stop_tokens, tokens_event, tokens_attrs, tokens_attr},
	{"fs", start_fs, stop_fs, fs_event, NULL, NULL},
	{"peer", start_peer, stop_peer, peer_event, NULL, NULL},
	{"admin", start_admin, stop_admin, NULL, NULL, NULL},
};

static void cluster_event(const struct clm_event *ev, void *arg)
{
	mmfsd *d = arg;

	for (size_t i = 0; i < MM_ARRAY_SIZE(subsystems); i++) {
		const struct subsystem *s = &subsystems[i];

		if (s->event)
			s->event(d, ev);
		if (ev->type != CLM_EV_CONFIG_CHANGED || !ev->attr || !s->attrs)
			continue;
		for (const char *const *a = s->attrs; *a; a++)
			if (strcmp(*a, ev->attr) == 0)
				s->attr(d, ev->attr);
	}
}

int mmfsd_start(mmfsd *d, char *err, size_t errsz)
{
	int rc;

	d->started_at = mm_wall_s();
	rc = ensure_node_cert(d, err, errsz);
	if (rc)
		return rc;
	for (size_t i = 0; i < MM_ARRAY_SIZE(subsystems); i++) {
		if (!subsystems[i].start)
			continue;
		d->nstarted = i + 1;	/* a failed start is stopped too */
		rc = subsystems[i].start(d, err, errsz);
		if (rc) {
			mm_error(SUB, "starting %s failed: %s", subsystems[i].name, err);
			return rc;
		}
	}
	mm_notice(SUB, "mmfsd ready");
	return MM_OK;
}

/* ---- stop ---------------------------------------------------------- */

void mmfsd_request_stop(mmfsd *d)
{
	char c = 's';

	if (write(d->stop_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
}

void mmfsd_wait(mmfsd *d)
{
	for (;;) {
		struct pollfd pfd = {d->stop_pipe[0], POLLIN, 0};
		char c;

		/* once a second: "message repeated" lines of floods that stopped */
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			return;
		mm_log_flush_repeats();
		while (read(d->stop_pipe[0], &c, 1) == 1) {
			if (c == 's')
				return;
			if (c == 'h')
				mm_log_reopen();
		}
	}
}

void mmfsd_stop(mmfsd *d)
{
	if (!d->nstarted)
		return;		/* never started: nothing to say or undo */
	mm_notice(SUB, "shutting down");
	while (d->nstarted > 0) {
		const struct subsystem *s = &subsystems[--d->nstarted];

		if (s->stop)
			s->stop(d);
	}
}

void mmfsd_close(mmfsd *d)
{
	if (!d)
		return;
	mmfsd_stop(d);
	/* after every stop: the NSD service's handlers went with the network,
	 * and clm's etcd client outlived etcd's own stop */
	nsd_svc_destroy(d->nsd);
	d->nsd = NULL;
	fssvc_destroy(d->fs);
	d->fs = NULL;
	tokensvc_destroy(d->tok);	/* net kept its handler until net_destroy */
	d->tok = NULL;
	if (d->clm) {
		clm_destroy(d->clm);
		d->clm = NULL;
	}
	cfg_set_free(d->cfg);
	cfg_cluster_free(&d->def);
	if (d->pid_fd >= 0) {
		mm_notice(SUB, "mmfsd exiting");
		unlink(d->paths.pid);
		close(d->pid_fd);
	}
	if (d->stop_pipe[0] >= 0) {
		close(d->stop_pipe[0]);
		close(d->stop_pipe[1]);
	}
	mm_worker_destroy(&d->peer);
	mm_worker_destroy(&d->pool_worker);
	free(d);
}

/* ---- accessors ----------------------------------------------------- */

const struct mmfsd_paths *mmfsd_get_paths(mmfsd *d) { return &d->paths; }
clm *mmfsd_clm(mmfsd *d) { return d->clm; }
net_ctx *mmfsd_net(mmfsd *d) { return d->net; }
nsd_svc *mmfsd_nsd(mmfsd *d) { return d->nsd; }
pp_pool *mmfsd_pool(mmfsd *d) { return d->pool; }
struct toknet *mmfsd_toknet(mmfsd *d) { return tokensvc_toknet(d->tok); }
tokensvc *mmfsd_tokensvc(mmfsd *d) { return d->tok; }
fssvc *mmfsd_fssvc(mmfsd *d) { return d->fs; }
cfg_set *mmfsd_cfg(mmfsd *d) { return d->cfg; }
uint32_t mmfsd_node_number(mmfsd *d) { return d->node_num; }
const char *mmfsd_node_name(mmfsd *d) { return d->node_name; }
void mmfsd_etcd_info(mmfsd *d, int *pid, unsigned *restarts)
{
	pthread_mutex_lock(&d->peer.lock);
	*pid = d->etcd ? etcd_sup_pid(d->etcd) : 0;
	*restarts = d->etcd ? etcd_sup_restarts(d->etcd) : 0;
	pthread_mutex_unlock(&d->peer.lock);
}
uint64_t mmfsd_started_at(mmfsd *d) { return d->started_at; }
