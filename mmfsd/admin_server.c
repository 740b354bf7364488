/*
 * mmfsd/admin_server.c - serves the admin socket (protocol: admin.h).
 *
 * One accept thread; each connection is handled on a small pool so that a
 * slow command (a CCR transaction while quorum is being lost) never stops
 * mmgetstate from answering. Every peer's credentials are checked before
 * a byte of its request is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/strbuf.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "common/waiter.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "pagepool/pagepool.h"
#include "mmfsd/daemon.h"

#define SUB "admin"

struct adm_server {
	mmfsd *d;
	int lfd;
	int stop_pipe[2];
	char path[PATH_MAX];
	pthread_t thread;
	mm_pool *pool;
};

struct adm_conn {
	adm_server *s;
	int fd;
};

/* ---- text replies --------------------------------------------------- */

static void reply_text(json_object *rep, struct mm_sb *t)
{
	json_object_object_add(rep, "text", json_object_new_string(t->p && !t->oom ? t->p : ""));
	mm_sb_free(t);
}

void adm_set_rc(json_object *rep, int rc, const char *msg)
{
	json_object_object_add(rep, "rc", json_object_new_int(rc));
	if (rc && msg)
		json_object_object_add(rep, "msg", json_object_new_string(msg));
}

/* ---- commands ------------------------------------------------------ */

static void cmd_getstate(mmfsd *d, json_object *req, json_object *rep)
{
	struct clm_status st;
	const char *remarks;
	(void)req;

	clm_get_status(mmfsd_clm(d), &st);
	json_object_object_add(rep, "node", json_object_new_string(mmfsd_node_name(d)));
	json_object_object_add(rep, "number", json_object_new_int((int)mmfsd_node_number(d)));
	json_object_object_add(rep, "state", json_object_new_string(clm_state_name(st.state)));
	json_object_object_add(rep, "cm", json_object_new_int((int)st.cm));
	json_object_object_add(rep, "quorum_nodes", json_object_new_int((int)st.quorum_nodes));
	json_object_object_add(rep, "quorum_needed", json_object_new_int((int)st.quorum_needed));
	json_object_object_add(rep, "nodes_up", json_object_new_int((int)st.nodes_up));
	json_object_object_add(rep, "total_nodes", json_object_new_int((int)st.total_nodes));
	json_object_object_add(rep, "lease_ms_left", json_object_new_int64((int64_t)st.lease_ms_left));
	json_object_object_add(rep, "joins", json_object_new_int((int)st.joins));
	json_object_object_add(rep, "expels", json_object_new_int((int)st.expels));
	json_object_object_add(rep, "reason", json_object_new_string(st.reason));
	json_object_object_add(rep, "pid", json_object_new_int((int)getpid()));
	remarks = st.state != CLM_ACTIVE ? st.reason : "";
	json_object_object_add(rep, "remarks", json_object_new_string(remarks));
	adm_set_rc(rep, MM_OK, NULL);
}

static void cmd_lscluster(mmfsd *d, json_object *req, json_object *rep)
{
	struct cfg_cluster def;
	char *text = NULL;
	int rc;
	(void)req;

	cfg_cluster_init(&def);
	rc = clm_cluster_copy(mmfsd_clm(d), &def);
	if (!rc)
		rc = cfg_cluster_format(&def, &text);
	cfg_cluster_free(&def);
	if (!rc)
		json_object_object_add(rep, "text", json_object_new_string(text));
	free(text);
	adm_set_rc(rep, rc, mm_strerror(rc));
}

size_t adm_str_array(json_object *req, const char *key, const char ***out)
{
	json_object *a;
	size_t n;

	*out = NULL;
	if (!json_object_object_get_ex(req, key, &a) || !json_object_is_type(a, json_type_array))
		return 0;
	n = json_object_array_length(a);
	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return 0;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);

		(*out)[i] = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	}
	return n;
}

static void cmd_chconfig(mmfsd *d, json_object *req, json_object *rep)
{
	const char **names, **values, **nodes;
	size_t n = adm_str_array(req, "names", &names);
	size_t nv = adm_str_array(req, "values", &values);
	size_t nn = adm_str_array(req, "nodes", &nodes);
	char err[512] = "";
	int rc;

	if (n == 0 || n != nv) {
		adm_set_rc(rep, MM_EINVAL, "mmchconfig: no attribute=value given");
	} else if (clm_get_state(mmfsd_clm(d)) != CLM_ACTIVE) {
		adm_set_rc(rep, MM_ENOQUORUM, "mmchconfig: this node is not active (no quorum): "
					  "the CCR cannot be changed now");
	} else {
		rc = clm_config_change(mmfsd_clm(d), names, values, n, nodes, nn, err, sizeof(err));
		adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
	}
	free(names);
	free(values);
	free(nodes);
}

/* The CCR's configuration values; the command formats them (cmds/libcfglist.c). */
static void cmd_lsconfig(mmfsd *d, json_object *req, json_object *rep)
{
	struct clm_config_value *v = NULL;
	struct cfg_cluster def;
	json_object *arr;
	size_t n = 0;
	char msg[300], id[32];
	int rc;

	(void)req;
	cfg_cluster_init(&def);
	rc = clm_config_list(mmfsd_clm(d), &def, &v, &n);
	if (rc) {
		snprintf(msg, sizeof(msg), "mmlsconfig: cannot read the CCR: %s", mm_strerror(rc));
		adm_set_rc(rep, rc, msg);
		cfg_cluster_free(&def);
		return;
	}
	snprintf(id, sizeof(id), "%" PRIu64, def.id);
	json_object_object_add(rep, "clusterName", json_object_new_string(def.name));
	json_object_object_add(rep, "clusterId", json_object_new_string(id));
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(v[i].name));
		json_object_object_add(o, "value", json_object_new_string(v[i].value));
		if (v[i].node[0])
			json_object_object_add(o, "node", json_object_new_string(v[i].node));
		json_object_array_add(arr, o);
	}
	json_object_object_add(rep, "values", arr);
	free(v);
	cfg_cluster_free(&def);
	adm_set_rc(rep, MM_OK, NULL);
}

/* Reply of a membership change: the new definition, maybe a join string. */
static void membership_reply(json_object *rep, int rc, const char *err, char *text, char *join)
{
	if (text)
		json_object_object_add(rep, "text", json_object_new_string(text));
	if (join)
		json_object_object_add(rep, "join", json_object_new_string(join));
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
	free(text);
	free(join);
}

bool adm_require_active(mmfsd *d, json_object *rep, const char *prog)
{
	char msg[160];

	if (clm_get_state(mmfsd_clm(d)) == CLM_ACTIVE)
		return true;
	snprintf(msg, sizeof(msg), "%s: this node is not active (no quorum): the cluster "
		 "definition cannot be changed now", prog);
	adm_set_rc(rep, MM_ENOQUORUM, msg);
	return false;
}

static void cmd_addnode(mmfsd *d, json_object *req, json_object *rep)
{
	json_object *a;
	struct clm_new_node *nv;
	size_t n;
	char err[512] = "", *text = NULL, *join = NULL;
	int rc;

	if (!adm_require_active(d, rep, "mmaddnode"))
		return;
	if (!json_object_object_get_ex(req, "nodes", &a) || !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) == 0) {
		adm_set_rc(rep, MM_EINVAL, "mmaddnode: no node given");
		return;
	}
	nv = calloc(n, sizeof(*nv));
	if (!nv) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);

		snprintf(nv[i].name, sizeof(nv[i].name), "%s", adm_get_str(o, "name", ""));
		snprintf(nv[i].ip, sizeof(nv[i].ip), "%s", adm_get_str(o, "ip", ""));
		snprintf(nv[i].admin, sizeof(nv[i].admin), "%s", adm_get_str(o, "admin", ""));
		nv[i].quorum = adm_get_int(o, "quorum", 0) != 0;
		nv[i].manager = adm_get_int(o, "manager", 0) != 0;
	}
	rc = clm_node_add(mmfsd_clm(d), nv, n, &text, &join, err, sizeof(err));
	free(nv);
	membership_reply(rep, rc, err, text, join);
}

static void cmd_delnode(mmfsd *d, json_object *req, json_object *rep)
{
	const char **names;
	size_t n = adm_str_array(req, "names", &names);
	char err[512] = "", *text = NULL;
	int rc;

	if (!adm_require_active(d, rep, "mmdelnode")) {
		free(names);
		return;
	}
	rc = clm_node_delete(mmfsd_clm(d), names, n, &text, err, sizeof(err));
	free(names);
	membership_reply(rep, rc, err, text, NULL);
}

static void cmd_chnode(mmfsd *d, json_object *req, json_object *rep)
{
	const char **names;
	size_t n = adm_str_array(req, "names", &names);
	char err[512] = "", *text = NULL, *join = NULL;
	int rc;

	if (!adm_require_active(d, rep, "mmchnode")) {
		free(names);
		return;
	}
	rc = clm_node_change(mmfsd_clm(d), names, n, adm_get_int(req, "quorum", -1),
			     adm_get_int(req, "manager", -1), &text, &join, err, sizeof(err));
	free(names);
	membership_reply(rep, rc, err, text, join);
}

/* Test hook: arm a fault in this daemon's next membership change. */
static void cmd_memberfault(mmfsd *d, json_object *req, json_object *rep)
{
	const char *point = adm_get_str(req, "point", ""), *action = adm_get_str(req, "action", "fail");
	int rc;

	(void)d;
	rc = clm_change_fault(point, (unsigned)adm_get_int(req, "nth", 1), action,
			      (unsigned)adm_get_int(req, "secs", 0));
	if (rc == MM_OK)
		mm_notice(SUB, "test: membership change fault armed: %s %s", point[0] ? point : "(none)",
			  action);
	adm_set_rc(rep, rc, rc ? "memberfault: point is intent|etcd|commit, action fail|pause|stop" : NULL);
}

static const char *sec_name(enum net_security s)
{
	return s == NET_SEC_PLAIN ? "plain" : s == NET_SEC_AUTHONLY ? "authonly" : "encrypted";
}

static void diag_network(mmfsd *d, struct mm_sb *t)
{
	struct net_conn_info *ci = NULL;
	size_t n = 0;

	mm_sb_printf(t, "=== mmdiag: network ===\n\n");
	mm_sb_printf(t, "%-6s %-22s %-10s %-4s %-9s %10s %10s %14s %14s %7s\n", "node", "peer", "state",
		"dir", "security", "msgs-sent", "msgs-recv", "bytes-sent", "bytes-recv", "pending");
	if (net_conn_list(mmfsd_net(d), &ci, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			mm_sb_printf(t, "%-6u %-22s %-10s %-4s %-9s %10" PRIu64 " %10" PRIu64 " %14" PRIu64
				" %14" PRIu64 " %7u\n", ci[i].node_id, ci[i].peer, ci[i].state,
				ci[i].outbound ? "out" : "in", sec_name(ci[i].security), ci[i].msgs_sent,
				ci[i].msgs_recv, ci[i].bytes_sent, ci[i].bytes_recv, ci[i].calls_pending);
		if (n == 0)
			mm_sb_printf(t, "(no connections)\n");
	}
	free(ci);
}

static void diag_stats(mmfsd *d, struct mm_sb *t)
{
	struct net_type_stats *ts = NULL;
	struct clm_status st;
	size_t n = 0;

	clm_get_status(mmfsd_clm(d), &st);
	mm_sb_printf(t, "=== mmdiag: stats ===\n\n");
	mm_sb_printf(t, "cluster: state %s, joins %u, expels %u, cluster manager %u, nodes up %zu\n",
		clm_state_name(st.state), st.joins, st.expels, st.cm, st.nodes_up);
	{
		int pid;
		unsigned restarts;

		mmfsd_etcd_info(d, &pid, &restarts);
		if (pid)
			mm_sb_printf(t, "etcd: pid %d, restarts %u\n", pid, restarts);
	}
	mm_sb_printf(t, "\nRPC counters by message type:\n");
	mm_sb_printf(t, "%-8s %10s %10s %10s %10s %12s %10s\n", "type", "sent", "ok", "errors",
		"timeouts", "avg-rtt-us", "served");
	if (net_stats(mmfsd_net(d), &ts, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			uint64_t replies = ts[i].replies_ok + ts[i].replies_err;

			mm_sb_printf(t, "0x%04x   %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
				" %12" PRIu64 " %10" PRIu64 "\n", ts[i].type, ts[i].calls_sent,
				ts[i].replies_ok, ts[i].replies_err, ts[i].timeouts,
				replies ? ts[i].total_rtt_us / replies : 0, ts[i].requests_served);
		}
	free(ts);
}

static void waiter_line(const char *thread, const char *what, uint64_t age_ms, void *arg)
{
	mm_sb_printf(arg, "Waiting %" PRIu64 ".%03" PRIu64 " sec since ..., thread %s: %s\n",
		age_ms / 1000, age_ms % 1000, thread[0] ? thread : "-", what);
}

struct net_waiter_ctx {
	struct mm_sb *t;
};

static void net_waiter_line(uint32_t node, uint16_t type, uint64_t age_ms, void *arg)
{
	struct net_waiter_ctx *w = arg;

	mm_sb_printf(w->t, "Waiting %" PRIu64 ".%03" PRIu64 " sec: RPC 0x%04x to node %u\n",
		age_ms / 1000, age_ms % 1000, type, node);
}

static void diag_waiters(mmfsd *d, json_object *req, struct mm_sb *t)
{
	int64_t thr = adm_get_int(req, "threshold_ms", -1);
	struct net_waiter_ctx w = {t};

	if (thr < 0)
		thr = cfg_get_int(mmfsd_cfg(d), "waiterThresholdMs");
	mm_sb_printf(t, "=== mmdiag: waiters (longer than %" PRId64 " ms) ===\n", thr);
	mm_waiters_each((uint64_t)thr, waiter_line, t);
	net_waiters(mmfsd_net(d), (uint64_t)thr, net_waiter_line, &w);
	adm_diag_tok_waiters(d, (uint64_t)thr, t);
}

static void diag_config(mmfsd *d, struct mm_sb *t)
{
	cfg_set *cfg = mmfsd_cfg(d);

	mm_sb_printf(t, "=== mmdiag: config ===\n");
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const struct cfg_attr *a = cfg_attr_at(i);
		char v[256];

		if (cfg_get(cfg, a->name, v, sizeof(v)))
			continue;
		/* GPFS marks values that differ from the default with '!' */
		mm_sb_printf(t, "%s %s %s\n", cfg_is_default(cfg, a->name) ? " " : "!", a->name, v);
	}
}

static void diag_pagepool(mmfsd *d, struct mm_sb *t)
{
	struct pp_stats st;

	mm_sb_printf(t, "=== mmdiag: pagepool ===\n\n");
	if (!mmfsd_pool(d)) {
		mm_sb_printf(t, "(no pagepool)\n");
		return;
	}
	pp_get_stats(mmfsd_pool(d), &st);
	mm_sb_printf(t, "size %" PRIu64 " bytes (online up to %" PRIu64 "), in use %" PRIu64 " (%" PRIu64
		" buffers), dirty %" PRIu64 " bytes (%" PRIu64 " buffers)\n", st.size, st.max_size,
		st.used, st.buffers, st.dirty_bytes, st.buffers_dirty);
	mm_sb_printf(t, "hits %" PRIu64 ", misses %" PRIu64 ", evictions %" PRIu64 "\n", st.hits, st.misses,
		st.evictions);
	mm_sb_printf(t, "prefetch: issued %" PRIu64 ", used %" PRIu64 ", wasted %" PRIu64
		", reader waits %" PRIu64 "\n", st.prefetch_issued, st.prefetch_used,
		st.prefetch_wasted, st.reader_waits);
	mm_sb_printf(t, "disk reads %" PRIu64 " (%" PRIu64 " bytes, %" PRIu64 " errors), writes %" PRIu64
		" (%" PRIu64 " bytes, %" PRIu64 " errors)\n", st.reads, st.read_bytes, st.read_errors,
		st.writes, st.write_bytes, st.write_errors);
	mm_sb_printf(t, "write-behind: %u threads, flush rate %" PRIu64 " bytes/s (last second), flushes %"
		PRIu64 ", journal forces %" PRIu64 ", throttle waits %" PRIu64 "\n", st.writers,
		st.flush_rate, st.flushes, st.log_forces, st.throttle_waits);
	mm_sb_printf(t, "prefetch threads %u\n", st.prefetch_threads);
}

static void cmd_diag(mmfsd *d, json_object *req, json_object *rep)
{
	const char *what = adm_get_str(req, "what", "");
	struct mm_sb t = MM_SB_INIT;

	if (!strcmp(what, "version")) {
		mm_sb_printf(&t, "Current mmfs build: \"%s\" (built %s %s).\n", MMFS_VERSION, __DATE__,
			__TIME__);
		/* a date as the commands print one (cmd_timestamp), and how long ago */
		time_t since = (time_t)mmfsd_started_at(d), now = time(NULL);
		int64_t up = now > since ? (int64_t)(now - since) : 0;
		char date[64];
		struct tm tm;

		gmtime_r(&since, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S UTC %Y", &tm);
		mm_sb_printf(&t, "Node %u (%s), daemon pid %d, up since %s (%" PRId64 "d %" PRId64 "h %"
			PRId64 "m %" PRId64 "s).\n", mmfsd_node_number(d), mmfsd_node_name(d),
			(int)getpid(), date, up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	} else if (!strcmp(what, "config")) {
		diag_config(d, &t);
	} else if (!strcmp(what, "network")) {
		diag_network(d, &t);
	} else if (!strcmp(what, "stats")) {
		diag_stats(d, &t);
	} else if (!strcmp(what, "waiters")) {
		diag_waiters(d, req, &t);
	} else if (!strcmp(what, "pagepool")) {
		diag_pagepool(d, &t);
	} else if (!strcmp(what, "nsd") || !strcmp(what, "tokenmgr") || !strcmp(what, "tokens")) {
		char *s = !strcmp(what, "nsd") ? adm_diag_nsd(d) :
			  !strcmp(what, "tokens") ? adm_diag_tokens(d) : adm_diag_tokenmgr(d);

		mm_sb_printf(&t, "%s", s ? s : "");
		free(s);
	} else {
		adm_set_rc(rep, MM_EINVAL, "mmdiag: unknown section (use --version, --config, "
				       "--network, --stats, --waiters, --nsd, --pagepool, --tokenmgr "
				       "or --tokens)");
		free(t.p);
		return;
	}
	reply_text(rep, &t);
	adm_set_rc(rep, MM_OK, NULL);
}

static void cmd_shutdown(mmfsd *d, json_object *req, json_object *rep)
{
	(void)req;
	mm_notice(SUB, "shutdown requested by mmshutdown");
	adm_set_rc(rep, MM_OK, NULL);
	mmfsd_request_stop(d);
}

static const struct {
	const char *name;
	void (*fn)(mmfsd *d, json_object *req, json_object *rep);
} commands[] = {
	{"getstate", cmd_getstate},
	{"shutdown", cmd_shutdown},
	{"lscluster", cmd_lscluster},
	{"chconfig", cmd_chconfig},
	{"lsconfig", cmd_lsconfig},
	{"diag", cmd_diag},
	{"addnode", cmd_addnode},
	{"delnode", cmd_delnode},
	{"chnode", cmd_chnode},
	{"memberfault", cmd_memberfault},
	{"crnsd", adm_cmd_crnsd},
	{"lsnsd", adm_cmd_lsnsd},
	{"delnsd", adm_cmd_delnsd},
	{"crfs", adm_cmd_crfs},
	{"lsfs", adm_cmd_lsfs},
	{"delfs", adm_cmd_delfs},
	{"adddisk", adm_cmd_adddisk},
	{"fsck", adm_cmd_fsck},
	{"nsddiscover", adm_cmd_nsddiscover},
	{"nsdio", adm_cmd_nsdio},
	{"nsdfault", adm_cmd_nsdfault},
	{"lsmgr", adm_cmd_lsmgr},
	{"chmgr", adm_cmd_chmgr},
	{"tokspace", adm_cmd_tokspace},
	{"expel", adm_cmd_expel},
	{"tokstorm", adm_cmd_tokstorm},
	{"tokhold", adm_cmd_tokhold},
	{"mount", adm_cmd_mount},
	{"umount", adm_cmd_umount},
	{"lsmount", adm_cmd_lsmount},
};

/* ---- connections --------------------------------------------------- */

static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		mm_warn(SUB, "admin connection: cannot read peer credentials: %s", strerror(errno));
		return false;
	}
	if (cr.uid == 0 || cr.uid == geteuid())
		return true;
	mm_warn(SUB, "admin connection from uid %u (pid %d) refused: only root or uid %u may "
		"administer this daemon", cr.uid, cr.pid, geteuid());
	return false;
}

static void conn_job(void *arg)
{
	struct adm_conn *c = arg;
	json_object *req = NULL, *rep;
	const char *name;
	int rc, slot;
	char what[96];

	if (!peer_allowed(c->fd))
		goto out;
	rc = adm_recv(c->fd, 10000, &req);
	if (rc) {
		mm_warn(SUB, "bad admin request: %s", mm_strerror(rc));
		goto out;
	}
	rep = json_object_new_object();
	name = adm_get_str(req, "cmd", "");
	snprintf(what, sizeof(what), "admin command %s", name);
	slot = mm_waiter_begin(what);
	rc = MM_ENOTSUP;
	for (size_t i = 0; i < MM_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0) {
			commands[i].fn(c->s->d, req, rep);
			rc = MM_OK;
			break;
		}
	mm_waiter_end(slot);
	if (rc) {
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown admin command \"%.100s\"", name);
		adm_set_rc(rep, rc, msg);
	}
	adm_send(c->fd, rep);
	json_object_put(rep);
	json_object_put(req);
out:
	close(c->fd);
	free(c);
}

static void *accept_main(void *arg)
{
	adm_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = {{s->lfd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
		struct adm_conn *c;
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		if (mm_pool_try_submit(s->pool, conn_job, c) != MM_OK) {
			close(fd);
			free(c);
		}
	}
	return NULL;
}

int adm_server_start(mmfsd *d, const char *sock_path, adm_server **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	adm_server *s = calloc(1, sizeof(*s));
	mode_t old;
	int rc;

	if (!s)
		return MM_ENOMEM;
	s->d = d;
	s->lfd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	snprintf(s->path, sizeof(s->path), "%s", sock_path);
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		free(s);
		return MM_ETOOBIG;
	}
	strcpy(sa.sun_path, sock_path);
	unlink(sock_path);	/* we hold the pid lock: any socket here is stale */
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		rc = mm_err_from_errno(errno);
		goto fail;
	}
	/* the socket is created 0600 so no other user ever gets a window */
	old = umask(0177);
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(sock_path, 0600) < 0 || listen(s->lfd, 64) < 0) {
		rc = mm_err_from_errno(errno);
		goto fail;
	}
	rc = mm_pool_create("admin", 4, 64, &s->pool);
	if (rc)
		goto fail;
	rc = mm_thread_start(&s->thread, "adminaccept", accept_main, s);
	if (rc)
		goto fail;
	*out = s;
	return MM_OK;
fail:
	if (s->pool)
		mm_pool_destroy(s->pool);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
	free(s);
	return rc;
}

void adm_server_stop(adm_server *s)
{
	char c = 'x';

	if (write(s->stop_pipe[1], &c, 1) < 0) {
	}
	pthread_join(s->thread, NULL);
	mm_pool_destroy(s->pool);
	adm_tok_shutdown(s->d);
	close(s->lfd);
	unlink(s->path);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	free(s);
}
