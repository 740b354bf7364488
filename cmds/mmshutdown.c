/*
 * mmshutdown - stop mmfsd on nodes.
 *
 *   mmshutdown [-t UnmountTimeout] [-a | -N {Node[,Node...] | NodeFile}]
 *
 * Asks each daemon to leave the cluster and exit, waits up to the timeout
 * (default 60 s), then sends SIGTERM and, 5 s later, SIGKILL.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/util.h"

static bool alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int main(int argc, char **argv)
{
	struct cmd_env e;
	const struct cfg_node **nodes = NULL;
	const char *spec = NULL;
	bool all = false;
	size_t n = 0;
	int c, timeout = 60, failed = 0, *pids;
	char ts[64];

	while ((c = getopt(argc, argv, "aN:t:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'N': spec = optarg; break;
		case 't': timeout = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mmshutdown [-t UnmountTimeout] [-a | -N {Node[,Node...] | NodeFile}]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (timeout <= 0)
		timeout = 60;
	if (cmd_env_init(&e, "mmshutdown", true) || cmd_select_nodes(&e, all, spec, &nodes, &n))
		return 1;
	cmd_timestamp(ts, sizeof(ts));
	printf("%s: mmshutdown: Starting force unmount of GPFS file systems\n", ts);
	printf("%s: mmshutdown: Shutting down GPFS daemons\n", ts);
	fflush(stdout);
	pids = calloc(n + 1, sizeof(*pids));
	for (size_t i = 0; i < n; i++) {
		json_object *req, *rep = NULL;

		if (!cmd_addr_is_local(nodes[i]->ip)) {
			char cmd[600];

			snprintf(cmd, sizeof(cmd), "mmshutdown -t %d -N %s", timeout, nodes[i]->name);
			/* the remote side waits up to <timeout> itself */
			if (cmd_remote_timed(&e, nodes[i], cmd, timeout + cmd_remote_timeout_s(), NULL) != 0)
				failed++;
			continue;
		}
		pids[i] = cmd_daemon_pid(&e, nodes[i]->name);
		if (!pids[i])
			continue;
		req = json_object_new_object();
		json_object_object_add(req, "cmd", json_object_new_string("shutdown"));
		if (cmd_admin(&e, nodes[i]->name, req, 5000, &rep) != MM_OK)
			kill(pids[i], SIGTERM);
		json_object_put(req);
		json_object_put(rep);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t deadline = mm_now_ms() + (uint64_t)timeout * 1000;

		if (!pids[i])
			continue;
		while (alive(pids[i]) && mm_now_ms() < deadline)
			mm_sleep_ms(50);
		if (alive(pids[i])) {
			fprintf(stderr, "mmshutdown: mmfsd on node %s (pid %d) did not stop in %d s: "
					"sending SIGTERM\n", nodes[i]->name, pids[i], timeout);
			kill(pids[i], SIGTERM);
			deadline = mm_now_ms() + 5000;
			while (alive(pids[i]) && mm_now_ms() < deadline)
				mm_sleep_ms(50);
		}
		if (alive(pids[i])) {
			fprintf(stderr, "mmshutdown: killing mmfsd on node %s (pid %d)\n", nodes[i]->name,
				pids[i]);
			kill(pids[i], SIGKILL);
			failed++;
		}
	}
	cmd_timestamp(ts, sizeof(ts));
	printf("%s: mmshutdown: Finished\n", ts);
	free(pids);
	free(nodes);
	cmd_env_free(&e);
	return failed ? 1 : 0;
}
