/*
 * cmds/libcmd.h - what every mm* command shares: finding the state root
 * and the cluster definition, choosing nodes (-a / -N), telling local
 * nodes from remote ones, and talking to daemons.
 *
 * A node is local when its address can be bound on this machine (every
 * 127.x.y.z can): its daemon runs here with state in $MMFS_ROOT/<name>.
 * ($MMFS_ASSUME_LOCAL=1 makes every node local: for tests whose nodes
 * live in network namespaces of this machine. $MMFS_ASSUME_REMOTE, a
 * comma-separated list of addresses, makes those remote: for tests of
 * the remote-shell paths.)
 * Remote nodes are reached with the cluster's remote shell, running the
 * same command there with -N <node>.
 *
 * Messages go to stderr prefixed with the command name, as GPFS does.
 */
#ifndef MM_CMDS_LIBCMD_H
#define MM_CMDS_LIBCMD_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

struct cmd_env {
	const char *prog;		/* "mmgetstate" */
	char root[PATH_MAX];		/* $MMFS_ROOT or /var/mmfs */
	char bindir[PATH_MAX];		/* directory of this program */
	struct cfg_cluster def;		/* valid when have_def */
	bool have_def;
	char def_node[256];		/* the node whose definition we read */
};

/* Fill <e>. With <need_cluster>, load a cluster definition from a local
 * node (preferring $MMFS_NODE, then one with a running daemon) and fail
 * with a message if there is none. */
int cmd_env_init(struct cmd_env *e, const char *prog, bool need_cluster);
void cmd_env_free(struct cmd_env *e);

void cmd_errf(const struct cmd_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if <ip> is an address of this machine. */
bool cmd_addr_is_local(const char *ip);

/* Path of node <name>'s admin socket / pid file. */
void cmd_sock_path(const struct cmd_env *e, const char *node, char *buf, size_t sz);
void cmd_pid_path(const struct cmd_env *e, const char *node, char *buf, size_t sz);
/* Pid of a running daemon for <node> (pid file + process alive), or 0. */
int cmd_daemon_pid(const struct cmd_env *e, const char *node);

/*
 * Select nodes: <all> (-a), or <spec> (-N: names, a node file, or "all"),
 * or, if neither, the local nodes. *out is a malloc'd array of pointers
 * into e->def. Unknown names fail with a message naming them.
 */
int cmd_select_nodes(struct cmd_env *e, bool all, const char *spec,
		     const struct cfg_node ***out, size_t *n);

/* Send <req> to node <node>'s daemon; reply in *rep. */
int cmd_admin(const struct cmd_env *e, const char *node, json_object *req,
	      int timeout_ms, json_object **rep);
/* The same to the daemon this command speaks for: $MMFS_NODE if set,
 * else any local node whose daemon answers. <used> (may be NULL) gets its
 * name. Prints a message and fails if none runs. */
int cmd_admin_local(struct cmd_env *e, json_object *req, int timeout_ms,
		    json_object **rep, char *used, size_t usedsz);
/* Print the reply's msg (or <what>: strerror) when rc != 0; returns rc. */
int cmd_reply_rc(const struct cmd_env *e, json_object *rep, int rc);
/*
 * The usual round trip: cmd_admin_local(), then cmd_reply_rc(). Consumes
 * <req>. On success *rep (if <rep> is not NULL) holds the reply, for the
 * caller to json_object_put(); on failure the message was printed and
 * nothing is left to free.
 */
int cmd_request(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep);
/*
 * Read-only requests (lsconfig, lscluster, lsnsd), which GPFS answers with
 * the daemon down. cmd_admin_any sends <req> (not consumed) to the first
 * daemon that answers: this node's ($MMFS_NODE), any local node's, then
 * a quorum node's on another machine through the remote shell (running
 * "mmremote admin", bounded by cmd_remote_timeout_s()). When the answer
 * is not from this node's own daemon it says which on stderr. *rep is
 * the reply (its "rc" may be an error); MM_ENOENT if no daemon answered,
 * with nothing printed: the caller then answers from the local copy
 * (e->def) and says so with cmd_note_local_copy().
 */
#define CMD_REMOTE_REPLY "mmremote-reply: "
bool cmd_readonly_request(json_object *req);
int cmd_admin_any(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep);
void cmd_note_local_copy(const struct cmd_env *e);
/* cmd_request() for read-only requests, through cmd_admin_any(): for a
 * command that has no local copy to fall back on (mmlsnsd). */
int cmd_request_readonly(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep);

/*
 * Send <req> (not consumed) to node <n>'s daemon wherever it runs: on
 * this machine directly (MM_EUNREACH when it is not running), elsewhere
 * through the remote shell with "mmremote admin" (which relays read-only
 * requests and the few changes that must run where a file system is
 * mounted: adddisk), bounded by the remote timeout plus <timeout_ms>.
 */
int cmd_admin_node(struct cmd_env *e, const struct cfg_node *n, json_object *req, int timeout_ms,
		   json_object **rep);

/* After NSDs were labelled or cleared: have the local daemon rescan and
 * tell every active node to do the same (best effort, asynchronous on the
 * other nodes; they also rescan when they meet an NSD they do not know). */
void cmd_nsd_rediscover(struct cmd_env *e);

/*
 * Remote steps are bounded: ssh and scp (the default remote shell and
 * copy) get "-o ConnectTimeout=10 -o BatchMode=yes" (never a password
 * prompt), and every remote step, whatever the remote shell, is killed
 * with its whole process group after cmd_remote_timeout_s() seconds
 * (CMD_REMOTE_TIMEOUT_S, or $MMFS_REMOTE_TIMEOUT from 1 to 3600), which
 * then fails with MM_ETIMEDOUT.
 */
#define CMD_REMOTE_TIMEOUT_S 60
#define CMD_CONNECT_TIMEOUT_S 10
int cmd_remote_timeout_s(void);

/* Run "/bin/sh -c <shcmd>" with stdin from /dev/null, stdout and stderr
 * captured into *out (malloc'd, may stay NULL; <out> may be NULL), in its
 * own process group, killed after <timeout_s> seconds. Returns the exit
 * status, MM_ETIMEDOUT, or another negative MM_E*. Output that the shell's
 * leftover children write after it exited is not waited for. */
int cmd_run_bounded(const char *shcmd, int timeout_s, char **out);

/* Run <cmdline> on remote node <n> with the cluster's remote shell
 * (bounded as above); output captured into *out (malloc'd, may be NULL).
 * Returns the exit status or a negative MM_E* (MM_ETIMEDOUT: no answer in
 * time). */
int cmd_remote(const struct cmd_env *e, const struct cfg_node *n, const char *cmdline,
	       char **out);
/* The same with another bound, for a remote step that itself waits
 * (mmshutdown -t): <timeout_s> seconds. */
int cmd_remote_timed(const struct cmd_env *e, const struct cfg_node *n, const char *cmdline,
		     int timeout_s, char **out);
/* The same with the remote shell of definition <def> (not yet e->def). */
int cmd_remote_def(const struct cmd_env *e, const struct cfg_cluster *def,
		   const struct cfg_node *n, const char *cmdline, char **out);

/*
 * Before anything is written for a new node <n> that is not on this
 * machine: it answers through the remote shell of <def> within the remote
 * timeout, and has no cluster definition yet. Prints the reason (naming
 * the node as unreachable, or as already in a cluster) and returns
 * non-zero otherwise.
 */
int cmd_check_new_remote(const struct cmd_env *e, const struct cfg_cluster *def,
			 const struct cfg_node *n);

/*
 * Install cluster definition <def> on node <n> (local state dir, or through
 * the remote shell and copy, each step bounded as above): mmsdrfs.cfg
 * always; the cluster key files from <keydir> unless it is NULL; etcd.join
 * with <join> unless NULL. A remote node that does not answer in time
 * gives MM_ETIMEDOUT, one that refuses MM_EUNREACH.
 */
int cmd_install_node(const struct cmd_env *e, const struct cfg_cluster *def,
		     const struct cfg_node *n, const char *keydir, const char *join);

/* Resolve a host name to an address (IPv4 preferred); 0 or a getaddrinfo code. */
int cmd_resolve(const char *name, char *ip, size_t ipsz);

/* Parse a definition sent by a daemon; attributes are taken from <attrs_from>. */
int cmd_parse_def(const struct cmd_env *e, const char *text, const struct cfg_cluster *attrs_from,
		  struct cfg_cluster *out);

/* Print one -Y field and its ':' (a ':' inside is written %3A, as GPFS does). */
void cmd_yfield(const char *s);

/* "Sat Nov 21 18:32:20 UTC 2026" for messages. */
void cmd_timestamp(char *buf, size_t sz);

#endif
