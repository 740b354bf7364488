/*
 * mmfsd/main.c - the mmfsd program: options, daemonizing, signals.
 *
 *   mmfsd [-f] [-R root] [-N node]
 *
 * Without -f the daemon detaches, and the parent exits only once the
 * daemon reports that it is ready or why it is not: mmstartup relays that
 * message, so an operator sees "already running" or a bad config line
 * instead of a silent failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "common/err.h"
#include "common/log.h"
#include "mmfsd/daemon.h"

static mmfsd *the_daemon;	/* for the signal handler only */

static void on_signal(int sig)
{
	(void)sig;
	if (the_daemon)
		mmfsd_request_stop(the_daemon);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mmfsd [-f] [-R root] [-N node]\n"
		   "  -f       stay in the foreground, log to stderr too\n"
		   "  -R root  state root (default $MMFS_ROOT or /var/mmfs)\n"
		   "  -N node  node name (default $MMFS_NODE, or the only node under root)\n");
}

/* With no -N: the only node directory under <root> that has a definition. */
static int guess_node(const char *root, char *out, size_t outsz)
{
	DIR *dir = opendir(root);
	struct dirent *e;
	int found = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		char p[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/mmsdrfs.cfg", root, e->d_name);
		if (access(p, F_OK) == 0) {
			snprintf(out, outsz, "%s", e->d_name);
			found++;
		}
	}
	closedir(dir);
	return found;
}

/* Report to the waiting parent (if any) and close the channel. */
static void report(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0) {
	}
	close(fd);
}

int main(int argc, char **argv)
{
	struct mmfsd_options opt = {0};
	char err[1024] = "", node[256] = "";
	int c, rc, ready_fd = -1;
	mmfsd *d = NULL;
	struct sigaction sa = {0};

	while ((c = getopt(argc, argv, "fR:N:h")) != -1) {
		switch (c) {
		case 'f':
			opt.foreground = true;
			break;
		case 'R':
			opt.root = optarg;
			break;
		case 'N':
			opt.node = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Transactions take and give back 64 KiB copies of metadata blocks
	 * many times per metadata operation on every worker thread; with
	 * glibc's default trimming each thread's arena grew and shrank its
	 * heap (mprotect) around them, ~4% of mmfsd's CPU under creates. */
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	if (!opt.root)
		opt.root = getenv("MMFS_ROOT") && *getenv("MMFS_ROOT") ? getenv("MMFS_ROOT") : "/var/mmfs";
	if (!opt.node)
		opt.node = getenv("MMFS_NODE") && *getenv("MMFS_NODE") ? getenv("MMFS_NODE") : NULL;
	if (!opt.node) {
		int n = guess_node(opt.root, node, sizeof(node));

		if (n != 1) {
			fprintf(stderr, "mmfsd: %s; name the node with -N or $MMFS_NODE\n",
				n ? "several nodes are defined under the state root" :
				    "no node is defined under the state root");
			return 2;
		}
		opt.node = node;
	}
	opt.etcd_binary = getenv("MMFS_ETCD");

	if (!opt.foreground) {
		int pfd[2];
		pid_t pid;

		if (pipe(pfd) < 0) {
			perror("mmfsd: pipe");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("mmfsd: fork");
			return 1;
		}
		if (pid > 0) {
			char buf[1100];
			ssize_t n;
			size_t len = 0;

			close(pfd[1]);
			while ((n = read(pfd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
				len += (size_t)n;
			buf[len] = '\0';
			waitpid(pid, NULL, 0);	/* the intermediate child */
			if (strncmp(buf, "ready", 5) == 0)
				return 0;
			fprintf(stderr, "mmfsd: %s\n", len ? buf : "daemon exited during start-up");
			return 1;
		}
		close(pfd[0]);
		setsid();
		pid = fork();
		if (pid < 0)
			_exit(1);
		if (pid > 0)
			_exit(0);
		ready_fd = pfd[1];
		{
			/* stderr keeps what only stderr gets (sanitizer and
			 * library messages, a crash's last words) in the state dir */
			char errpath[4096];
			int nul = open("/dev/null", O_RDWR), efd;

			snprintf(errpath, sizeof(errpath), "%s/%s/mmfsd.stderr", opt.root, opt.node);
			efd = open(errpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(efd >= 0 ? efd : nul, 2);
				if (nul > 2)
					close(nul);
			}
			if (efd > 2)
				close(efd);
		}
		fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	}

	mm_log_thread_name("main");
	rc = mmfsd_open(&opt, &d, err, sizeof(err));
	if (rc) {
		if (opt.foreground)
			fprintf(stderr, "mmfsd: %s\n", err);
		report(ready_fd, err);
		return 1;
	}
	the_daemon = d;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	rc = mmfsd_start(d, err, sizeof(err));
	if (rc) {
		mm_error("mmfsd", "start-up failed: %s", err);
		report(ready_fd, err);
		mmfsd_close(d);
		return 1;
	}
	report(ready_fd, "ready");
	mmfsd_wait(d);
	the_daemon = NULL;
	mmfsd_close(d);
	mm_log_close();
	return 0;
}
