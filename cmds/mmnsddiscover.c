/*
 * mmnsddiscover - rediscover the paths to NSDs.
 *
 *   mmnsddiscover [-d "DiskName[;DiskName...]"] [-a | -N Node[,Node...]]
 *
 * Each named node (default: the local one) rescans: it reads the NSD
 * table, probes each NSD's device (on its servers, or everywhere for
 * directly attached NSDs) and the nsdDevices list, matches descriptors by
 * NSD id, and reports per NSD where it is reached locally or why not.
 * -d reports only the NSDs named (each must exist). -a asks every node of
 * the cluster.
 *
 * The nodes are asked at once, each with a bounded wait (QUERY_MS, as
 * mmgetstate): a node whose daemon is down, frozen or does not answer in
 * time is reported unreachable, and the others' answers are printed, in
 * the order the nodes were selected. Exit 1 if any node failed.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/thread.h"
#include "common/util.h"
#include "mmfsd/admin.h"
#include "nsd/desc.h"
#include "nsd/record.h"

#define QUERY_MS 3000		/* one node's rescan and answer */
#define REMOTE_MS 15000		/* the same through the remote shell */

#define USAGE "usage: mmnsddiscover [-d \"DiskName[;DiskName...]\"] [-a | -N Node[,Node...]]\n"

/* One node's query; <done> and the results are guarded by struct run's lock. */
struct query {
	struct run *run;
	const struct cfg_node *node;
	bool remote;			/* through the remote shell */
	json_object *req;		/* local: this thread's own request */
	bool done;
	bool late;			/* no answer by the backstop deadline */
	int rc;				/* MM_E* from reaching the node */
	json_object *rep;		/* local: the daemon's answer */
	char *out;			/* remote: its output */
};

struct run {
	struct cmd_env *e;
	const char *names;		/* -d, as given; NULL: all */
	json_object *want;		/* -d, as an array of names */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *query_main(void *arg)
{
	struct query *q = arg;
	struct run *r = q->run;
	json_object *rep = NULL;
	char *out = NULL;
	int rc;

	if (q->remote) {
		/* another host: run ourselves there, for that node */
		char cmd[2048];

		snprintf(cmd, sizeof(cmd), "mmnsddiscover -N %s%s%s%s", q->node->name,
			 r->names ? " -d \"" : "", r->names ? r->names : "", r->names ? "\"" : "");
		rc = cmd_remote(r->e, q->node, cmd, &out);
	} else {
		rc = cmd_admin(r->e, q->node->name, q->req, QUERY_MS, &rep);
	}
	pthread_mutex_lock(&r->lock);
	if (q->late) {
		/* reported already; main may be exiting */
		pthread_mutex_unlock(&r->lock);
		json_object_put(rep);
		free(out);
		return NULL;
	}
	q->rc = rc;
	q->rep = rep;
	q->out = out;
	q->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Print one node's answer; 0 if it answered and rescanned. */
static int report(struct run *r, struct query *q, const char *label)
{
	json_object *arr;
	int rc = q->rc;

	if (q->late) {
		fprintf(stderr, "mmnsddiscover: %s: unreachable: no answer within %d seconds%s\n", label,
			(q->remote ? REMOTE_MS : QUERY_MS) / 1000 + 1,
			q->remote ? " through the remote shell" : "");
		return MM_ETIMEDOUT;
	}
	if (q->remote) {
		if (q->out)
			fputs(q->out, stdout);
		if (rc != 0)
			fprintf(stderr, "mmnsddiscover: %s: remote run failed (%d)\n", label, rc);
		return rc;
	}
	if (rc == 0)
		rc = cmd_reply_rc(r->e, q->rep, adm_get_int(q->rep, "rc", MM_EPROTO));
	else
		fprintf(stderr, "mmnsddiscover: %s: unreachable: %s\n", label,
			rc == MM_ETIMEDOUT ? "the daemon did not answer within 3 seconds"
			: rc == MM_ENOENT || rc == MM_EUNREACH ? "the daemon is not running"
			: mm_strerror(rc));
	if (rc)
		return rc;
	printf("mmnsddiscover: %s: %d NSD%s reached locally\n", label, adm_get_int(q->rep, "local", 0),
	       adm_get_int(q->rep, "local", 0) == 1 ? "" : "s");
	if (json_object_object_get_ex(q->rep, "nsds", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *o = json_object_array_get_idx(arr, i);

			printf("  %-16s %-16s %s\n", adm_get_str(o, "name", "?"),
			       adm_get_str(o, "id", "?"), adm_get_str(o, "status", "?"));
		}
	return 0;
}

/* The local daemon's node, as cmd_admin_local would pick it. */
static const struct cfg_node *local_node(struct cmd_env *e)
{
	const char *env = getenv("MMFS_NODE");

	if (env && *env)
		return cfg_cluster_node(&e->def, env);
	for (size_t i = 0; i < e->def.nnodes; i++)
		if (cmd_addr_is_local(e->def.nodes[i].ip) && cmd_daemon_pid(e, e->def.nodes[i].name))
			return &e->def.nodes[i];
	return NULL;
}

/* -d: every name must be an NSD of the cluster (asked of the local daemon). */
static int check_names(struct cmd_env *e, json_object *want)
{
	json_object *req = json_object_new_object(), *rep = NULL, *arr = NULL;
	int rc, bad = 0;

	json_object_object_add(req, "cmd", json_object_new_string("lsnsd"));
	rc = cmd_request(e, req, 10000, &rep);
	if (rc)
		return rc;
	json_object_object_get_ex(rep, "records", &arr);
	for (size_t i = 0; i < json_object_array_length(want); i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(want, i));
		bool found = false;

		for (size_t k = 0; arr && k < json_object_array_length(arr) && !found; k++) {
			const char *t = json_object_get_string(json_object_array_get_idx(arr, k));
			struct nsd_record rec;
			char err[256];

			found = nsd_record_decode(t, strlen(t), &rec, err, sizeof(err)) == 0 &&
				strcmp(rec.name, name) == 0;
		}
		if (!found) {
			cmd_errf(e, "NSD %s does not exist", name);
			bad++;
		}
	}
	json_object_put(rep);
	return bad ? MM_ENOENT : MM_OK;
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	struct run run = {.e = &e, .lock = PTHREAD_MUTEX_INITIALIZER};
	const struct cfg_node **sel = NULL;
	const char *nodes = NULL;
	struct query *qs;
	uint64_t deadline;
	bool all = false, any_remote = false;
	size_t n = 0, left = 0;
	int c, bad = 0;

	mm_cond_init(&run.cond);
	while ((c = getopt(argc, argv, "ad:N:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'd': run.names = optarg; break;
		case 'N': nodes = optarg; break;
		default:
			fputs(USAGE, stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mmnsddiscover: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (run.names) {
		char *list = strdup(run.names), *tok, *save;

		run.want = json_object_new_array();
		for (tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
			if (!nsd_name_valid(tok)) {
				fprintf(stderr, "mmnsddiscover: -d: \"%s\" is not a valid NSD name\n", tok);
				return 2;
			}
			json_object_array_add(run.want, json_object_new_string(tok));
		}
		free(list);
		if (json_object_array_length(run.want) == 0) {
			fprintf(stderr, "mmnsddiscover: -d names no NSD\n" USAGE);
			return 2;
		}
	}
	if (cmd_env_init(&e, "mmnsddiscover", true))
		return 1;
	if (run.want && check_names(&e, run.want)) {
		cmd_env_free(&e);
		return 1;
	}
	if (!all && !nodes) {
		const struct cfg_node *self = local_node(&e);

		if (!self) {
			cmd_errf(&e, "no mmfsd is running on this machine for cluster %s", e.def.name);
			cmd_env_free(&e);
			return 1;
		}
		sel = calloc(1, sizeof(*sel));
		sel[0] = self;
		n = 1;
	} else if (cmd_select_nodes(&e, all, nodes, &sel, &n)) {
		cmd_env_free(&e);
		return 1;
	}
	qs = calloc(n + 1, sizeof(*qs));
	for (size_t i = 0; i < n; i++) {
		pthread_t t;

		qs[i].run = &run;
		qs[i].node = sel[i];
		qs[i].remote = !cmd_addr_is_local(sel[i]->ip);
		any_remote |= qs[i].remote;
		if (!qs[i].remote) {
			/* built here: json-c's reference counts are not for threads */
			qs[i].req = json_object_new_object();
			json_object_object_add(qs[i].req, "cmd", json_object_new_string("nsddiscover"));
			if (run.want) {
				json_object *names = json_object_new_array();

				for (size_t k = 0; k < json_object_array_length(run.want); k++)
					json_object_array_add(names, json_object_new_string(json_object_get_string(
						json_object_array_get_idx(run.want, k))));
				json_object_object_add(qs[i].req, "names", names);
			}
		}
		if (pthread_create(&t, NULL, query_main, &qs[i]) == 0) {
			pthread_detach(t);
		} else {
			qs[i].rc = MM_ESYS;
			qs[i].done = true;
		}
	}
	/* a backstop past each query's own timeout: a node that still has
	 * not answered (a connect stuck on a frozen daemon's full backlog, a
	 * hung remote shell) is reported and left behind */
	deadline = mm_now_ns() + ((any_remote ? REMOTE_MS : QUERY_MS) + 1000) * 1000000ull;
	pthread_mutex_lock(&run.lock);
	for (size_t i = 0; i < n; i++) {
		while (!qs[i].done && mm_cond_wait_until(&run.cond, &run.lock, deadline) == MM_OK)
			;
		if (!qs[i].done) {
			qs[i].late = true;
			left++;
		}
	}
	pthread_mutex_unlock(&run.lock);
	for (size_t i = 0; i < n; i++)
		bad += report(&run, &qs[i], all || nodes ? sel[i]->name : "this node") != 0;
	fflush(stdout);
	if (left)
		return 1;	/* threads left behind still use <e>: they die with us */
	for (size_t i = 0; i < n; i++) {
		json_object_put(qs[i].req);
		json_object_put(qs[i].rep);
		free(qs[i].out);
	}
	free(qs);
	free(sel);
	json_object_put(run.want);
	cmd_env_free(&e);
	return bad ? 1 : 0;
}
