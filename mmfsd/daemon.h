/*
 * mmfsd/daemon.h - one node's daemon: its state directory, configuration,
 * network context, cluster membership and admin server.
 *
 * Life cycle (main.c): mmfsd_open() -> mmfsd_start() -> wait for a signal
 * or an admin "shutdown" -> mmfsd_stop() -> mmfsd_close(). Several daemons
 * can live in one process (tests): nothing here is global.
 *
 * Threads: admin connections are served on the admin thread; net
 * handlers on net's pools; cluster events on clm threads. The mmfsd
 * struct itself is immutable after mmfsd_start() except where noted.
 */
#ifndef MM_MMFSD_DAEMON_H
#define MM_MMFSD_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/clm.h"
#include "cluster/etcd.h"
#include "config/config.h"
#include "net/net.h"

#define MMFS_VERSION "0.1.0"

/* Daemon-to-daemon message types of the cluster layer (0x01xx). */
enum {
	MSG_CLUSTER_PING = 0x0101,	/* who are you, what state, who is CM */
};

struct mmfsd_paths {
	char root[PATH_MAX];		/* $MMFS_ROOT */
	char state[PATH_MAX];		/* <root>/<node> */
	char sdrfs[PATH_MAX];		/* cluster definition (local copy) */
	char local_cfg[PATH_MAX];	/* local settings (libconfig), optional */
	char log[PATH_MAX];
	char pid[PATH_MAX];
	char sock[PATH_MAX];
	char ssl[PATH_MAX];		/* <state>/ssl */
	char ca_crt[PATH_MAX], ca_key[PATH_MAX], node_crt[PATH_MAX], node_key[PATH_MAX];
	char etcd_dir[PATH_MAX], etcd_log[PATH_MAX];
	char etcd_join[PATH_MAX];	/* initial-cluster of a member added later */
};

typedef struct mmfsd mmfsd;

struct mmfsd_options {
	const char *root;	/* NULL: $MMFS_ROOT or /var/mmfs */
	const char *node;	/* node name (state dir name) */
	bool foreground;
	const char *etcd_binary;	/* NULL: "etcd" */
};

/* Fill <p> for node <node> under <root>. */
int mmfsd_paths_init(struct mmfsd_paths *p, const char *root, const char *node);

/* Load the node's definition and settings, take the pid lock, open the
 * log. <err> gets a message for the operator on failure. */
int mmfsd_open(const struct mmfsd_options *opt, mmfsd **out, char *err, size_t errsz);
/* Keys, network, etcd (quorum nodes), cluster membership, admin socket. */
int mmfsd_start(mmfsd *d, char *err, size_t errsz);
/* Ask the main loop to stop (async-signal-safe). */
void mmfsd_request_stop(mmfsd *d);
/* Block until a stop is requested (by signal or admin). */
void mmfsd_wait(mmfsd *d);
void mmfsd_stop(mmfsd *d);
void mmfsd_close(mmfsd *d);

/* Accessors for the admin server and diagnostics. */
const struct mmfsd_paths *mmfsd_get_paths(mmfsd *d);
clm *mmfsd_clm(mmfsd *d);
net_ctx *mmfsd_net(mmfsd *d);
/* The NSD service (mmfsd/nsdsvc.h); NULL before start. */
struct nsd_svc *mmfsd_nsd(mmfsd *d);
/* The pagepool (pagepool/pagepool.h); NULL before start. */
struct pp_pool *mmfsd_pool(mmfsd *d);
/* This node's tokens (tokens/toknet.h), made with the network; NULL
 * before. Calls after the daemon stopped its token service answer
 * MM_ESHUTDOWN. */
struct toknet *mmfsd_toknet(mmfsd *d);
/* The token service around it (mmfsd/tokensvc.h): recovery hook,
 * failed nodes, rates for mmdiag. */
struct tokensvc *mmfsd_tokensvc(mmfsd *d);
/* The mount service (mmfsd/fssvc.h); NULL before start. */
struct fssvc *mmfsd_fssvc(mmfsd *d);
cfg_set *mmfsd_cfg(mmfsd *d);
uint32_t mmfsd_node_number(mmfsd *d);
const char *mmfsd_node_name(mmfsd *d);
/* etcd child pid (0 if none runs here) and restart count. */
void mmfsd_etcd_info(mmfsd *d, int *pid, unsigned *restarts);
uint64_t mmfsd_started_at(mmfsd *d);

/* Admin server (admin_server.c). */
typedef struct adm_server adm_server;
int adm_server_start(mmfsd *d, const char *sock_path, adm_server **out);
void adm_server_stop(adm_server *s);

#endif
