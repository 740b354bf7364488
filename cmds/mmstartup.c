/*
 * mmstartup - start mmfsd on nodes.
 *
 *   mmstartup [-a | -N {Node[,Node...] | NodeFile}]
 *
 * Without -a or -N: every node of the cluster on this machine. Local
 * daemons are started in parallel; each reports ready or why not.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "common/err.h"

int main(int argc, char **argv)
{
	struct cmd_env e;
	const struct cfg_node **nodes = NULL;
	const char *spec = NULL;
	bool all = false;
	size_t n = 0;
	pid_t *pids;
	char ts[64], daemon[PATH_MAX];
	int c, failed = 0;

	while ((c = getopt(argc, argv, "aN:h")) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'N': spec = optarg; break;
		default:
			fprintf(stderr, "usage: mmstartup [-a | -N {Node[,Node...] | NodeFile}]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (cmd_env_init(&e, "mmstartup", true) || cmd_select_nodes(&e, all, spec, &nodes, &n))
		return 1;
	cmd_timestamp(ts, sizeof(ts));
	printf("%s: mmstartup: Starting GPFS ...\n", ts);
	fflush(stdout);
	snprintf(daemon, sizeof(daemon), "%s/mmfsd", e.bindir);
	pids = calloc(n + 1, sizeof(*pids));
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *nd = nodes[i];

		if (!cmd_addr_is_local(nd->ip)) {
			char cmd[600];

			snprintf(cmd, sizeof(cmd), "mmstartup -N %s", nd->name);
			pids[i] = fork();
			if (pids[i] == 0)
				_exit(cmd_remote(&e, nd, cmd, NULL) == 0 ? 0 : 1);
			continue;
		}
		if (cmd_daemon_pid(&e, nd->name)) {
			printf("mmstartup: mmfsd is already running on node %s\n", nd->name);
			pids[i] = 0;
			continue;
		}
		pids[i] = fork();
		if (pids[i] == 0) {
			execl(daemon, "mmfsd", "-R", e.root, "-N", nd->name, (char *)NULL);
			fprintf(stderr, "mmstartup: cannot run %s: %m\n", daemon);
			_exit(127);
		}
	}
	for (size_t i = 0; i < n; i++) {
		int st;

		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "mmstartup: mmfsd did not start on node %s\n", nodes[i]->name);
			failed++;
		}
	}
	free(pids);
	free(nodes);
	cmd_env_free(&e);
	return failed ? 1 : 0;
}
