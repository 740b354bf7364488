/*
 * cluster/etcd_sup.c - run etcd as a supervised child of mmfsd (etcd.h).
 *
 * etcd_sup_start() builds etcd's command line once, then starts the
 * supervising thread "etcd-sup", which forks etcd, waits for it to exit,
 * logs why, and forks it again after a back-off (200 ms doubling to 5 s;
 * back to 200 ms once a child ran 30 s). The fork happens on that thread
 * because PR_SET_PDEATHSIG fires when the forking *thread* exits: the
 * child gets SIGKILL when the supervisor thread (or all of mmfsd) dies.
 *
 * Child state: own process group (a ^C on mmfsd's terminal does not reach
 * it), stdin /dev/null, stdout+stderr appended to log_path, every other fd
 * closed, signal mask and SIGPIPE disposition reset, environment inherited.
 *
 * Condition waits use CLOCK_MONOTONIC.
 * The pid is only cleared after waitid(WNOWAIT) saw the exit and before
 * the zombie is reaped, under <lock>, so etcd_sup_stop never signals a pid
 * that was already reused by another process.
 */
#include "cluster/etcd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"

#define SUB "etcd"
#define BACKOFF_MIN_MS 200u
#define BACKOFF_MAX_MS 5000u
#define STABLE_MS 30000u	/* a child that ran this long resets the back-off */
#define MAX_ARGS 48

extern char **environ;

struct etcd_sup {
	char *path;			/* resolved binary */
	char *argv[MAX_ARGS];		/* malloc'd strings, NULL-terminated */
	char *log_path;			/* NULL: /dev/null */
	pthread_t thr;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* signals pid/stopping/started changes */
	pid_t pid;			/* protected by lock: running child or -1 */
	unsigned restarts;		/* protected by lock */
	bool stopping;			/* protected by lock */
	int started;			/* protected by lock: 1 pending, 0 ok, <0 failed */
};

/* Find <bin> on PATH unless it holds a '/'. malloc'd, NULL if not found. */
static char *resolve_binary(const char *bin)
{
	const char *path = getenv("PATH"), *p;

	if (strchr(bin, '/'))
		return access(bin, X_OK) == 0 ? strdup(bin) : NULL;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *cand;

		if (n && asprintf(&cand, "%.*s/%s", (int)n, p, bin) >= 0) {
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

static int add_arg(etcd_sup *s, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_arg(etcd_sup *s, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n + 1 >= MAX_ARGS)
		return MM_ETOOBIG;
	va_start(ap, fmt);
	r = vasprintf(&s->argv[*n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		s->argv[*n] = NULL;
		return MM_ENOMEM;
	}
	(*n)++;
	return MM_OK;
}

static int build_argv(etcd_sup *s, const struct etcd_sup_config *cfg)
{
	bool tls = cfg->tls.ca_file != NULL;
	const char *sch = tls ? "https" : "http";
	char host[80];
	size_t n = 0;
	int rc = MM_OK;

	/* an IPv6 literal needs brackets in a URL */
	if (mm_snprintf(host, sizeof(host), strchr(cfg->ip, ':') ? "[%s]" : "%s", cfg->ip))
		return MM_EINVAL;
#define ARG(...) do { if (rc == MM_OK) rc = add_arg(s, &n, __VA_ARGS__); } while (0)
	ARG("%s", s->path);
	ARG("--name=%s", cfg->name);
	ARG("--data-dir=%s", cfg->data_dir);
	ARG("--listen-client-urls=%s://%s:%u", sch, host, cfg->client_port);
	ARG("--advertise-client-urls=%s://%s:%u", sch, host, cfg->client_port);
	ARG("--listen-peer-urls=%s://%s:%u", sch, host, cfg->peer_port);
	ARG("--initial-advertise-peer-urls=%s://%s:%u", sch, host, cfg->peer_port);
	if (cfg->initial_cluster)
		ARG("--initial-cluster=%s", cfg->initial_cluster);
	else
		ARG("--initial-cluster=%s=%s://%s:%u", cfg->name, sch, host, cfg->peer_port);
	ARG("--initial-cluster-state=%s", cfg->initial_existing ? "existing" : "new");
	ARG("--initial-cluster-token=%s", cfg->cluster_token ? cfg->cluster_token : "mmfs");
	ARG("--heartbeat-interval=%d", cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 100);
	ARG("--election-timeout=%d", cfg->election_ms > 0 ? cfg->election_ms : 1000);
	ARG("--experimental-watch-progress-notify-interval=%ds", ETCD_PROGRESS_INTERVAL_S);
	ARG("--logger=zap");
	ARG("--log-outputs=stderr");
	if (tls) {
		ARG("--cert-file=%s", cfg->tls.cert_file);
		ARG("--key-file=%s", cfg->tls.key_file);
		ARG("--trusted-ca-file=%s", cfg->tls.ca_file);
		ARG("--client-cert-auth");
		ARG("--peer-cert-file=%s", cfg->tls.cert_file);
		ARG("--peer-key-file=%s", cfg->tls.key_file);
		ARG("--peer-trusted-ca-file=%s", cfg->tls.ca_file);
		ARG("--peer-client-cert-auth");
		/*
		 * etcd also matches a peer's source address against the SAN
		 * of its client certificate. On a loopback cluster every
		 * 127.x peer connects from 127.0.0.1, so that check refuses
		 * them all; the chain check against the cluster CA (holding
		 * the cluster key) is the authentication that matters.
		 */
		ARG("--experimental-peer-skip-client-san-verification");
	}
#undef ARG
	s->argv[n] = NULL;
	return rc;
}

/*
 * Fork and exec etcd. Everything the child needs is prepared here, since
 * between fork and exec a multi-threaded process may only make
 * async-signal-safe calls. Returns the pid or an MM_E* code.
 */
static pid_t spawn(etcd_sup *s)
{
	pid_t parent = getpid(), pid;
	int logfd, nullfd;

	logfd = open(s->log_path ? s->log_path : "/dev/null",
		     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (logfd < 0) {
		int e = errno;

		mm_error(SUB, "cannot open etcd log %s: %s", s->log_path, strerror(e));
		return mm_err_from_errno(e);
	}
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		int e = errno;

		close(logfd);
		return mm_err_from_errno(e);
	}
	pid = fork();
	if (pid == 0) {
		sigset_t all;
		struct sigaction dfl;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)	/* mmfsd died before prctl */
			_exit(127);
		setpgid(0, 0);
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
			for (int fd = 3; fd < 65536; fd++)
				close(fd);
		}
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);	/* ignored ones stay ignored across exec */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execve(s->path, s->argv, environ);
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	if (pid < 0) {
		int e = errno;

		mm_error(SUB, "fork for etcd failed: %s", strerror(e));
		return mm_err_from_errno(e);
	}
	return pid;
}

/* Wait up to <ms> on the condition variable; false once stopping. */
static bool sleep_unless_stopping(etcd_sup *s, unsigned ms)
{
	uint64_t deadline = mm_now_ns() + (uint64_t)ms * 1000000u;
	bool stopping;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		if (mm_cond_wait_until(&s->cond, &s->lock, deadline) == MM_ETIMEDOUT)
			break;
	}
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stopping;
}

static void *sup_main(void *arg)
{
	etcd_sup *s = arg;
	unsigned backoff = BACKOFF_MIN_MS;

	for (;;) {
		uint64_t t0;
		siginfo_t si;
		pid_t pid;
		char why[64];

		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		pid = spawn(s);
		if (pid > 0)
			s->pid = pid;
		if (s->started == 1) {
			s->started = pid > 0 ? MM_OK : (int)pid;
			pthread_cond_broadcast(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
		t0 = mm_now_ms();
		if (pid > 0) {
			mm_info(SUB, "etcd started (pid %d)", (int)pid);
			/* see the exit without reaping, so the pid stays ours */
			memset(&si, 0, sizeof(si));
			while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
				;
			pthread_mutex_lock(&s->lock);
			s->pid = -1;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			if (si.si_code == CLD_EXITED)
				snprintf(why, sizeof(why), "exited with status %d", si.si_status);
			else
				snprintf(why, sizeof(why), "killed by signal %d", si.si_status);
		} else {
			snprintf(why, sizeof(why), "could not be started (%s)", mm_errname((int)pid));
		}
		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			mm_info(SUB, "etcd (pid %d) %s; stopped", (int)pid, why);
			break;
		}
		pthread_mutex_unlock(&s->lock);
		if (mm_now_ms() - t0 >= STABLE_MS)
			backoff = BACKOFF_MIN_MS;
		mm_warn(SUB, "etcd (pid %d) %s; restarting in %u ms", (int)pid, why, backoff);
		if (!sleep_unless_stopping(s, backoff))
			break;
		backoff = MM_MIN(backoff * 2, BACKOFF_MAX_MS);
		pthread_mutex_lock(&s->lock);
		s->restarts++;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void sup_free(etcd_sup *s)
{
	for (size_t i = 0; i < MAX_ARGS && s->argv[i]; i++)
		free(s->argv[i]);
	free(s->path);
	free(s->log_path);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int etcd_sup_start(const struct etcd_sup_config *cfg, etcd_sup **out)
{
	etcd_sup *s;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->name || !*cfg->name || !cfg->data_dir || !cfg->ip ||
	    !cfg->client_port || !cfg->peer_port ||
	    (cfg->tls.ca_file && (!cfg->tls.cert_file || !cfg->tls.key_file)))
		return MM_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return MM_ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	mm_cond_init(&s->cond);
	s->pid = -1;
	s->started = 1;
	s->path = resolve_binary(cfg->binary ? cfg->binary : "etcd");
	if (!s->path) {
		mm_error(SUB, "etcd binary %s not found", cfg->binary ? cfg->binary : "etcd");
		sup_free(s);
		return MM_ENOENT;
	}
	if (cfg->log_path && !(s->log_path = strdup(cfg->log_path))) {
		sup_free(s);
		return MM_ENOMEM;
	}
	rc = build_argv(s, cfg);
	if (rc == MM_OK)
		rc = mm_mkdir_p(cfg->data_dir, 0700);
	if (rc == MM_OK)
		rc = mm_thread_start(&s->thr, "etcd-sup", sup_main, s);
	if (rc) {
		sup_free(s);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	while (s->started == 1)
		pthread_cond_wait(&s->cond, &s->lock);
	rc = s->started;
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		etcd_sup_stop(s, 0);
		return rc;
	}
	mm_info(SUB, "supervising etcd member %s (client %s:%u, peer %s:%u, %s)", cfg->name,
		cfg->ip, cfg->client_port, cfg->ip, cfg->peer_port,
		cfg->tls.ca_file ? "TLS" : "plain");
	*out = s;
	return MM_OK;
}

void etcd_sup_stop(etcd_sup *s, int grace_ms)
{
	uint64_t deadline;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	if (s->pid > 0)
		kill(s->pid, SIGTERM);
	deadline = mm_now_ms() + (uint64_t)MM_MAX(grace_ms, 0);
	while (s->pid > 0) {
		uint64_t now = mm_now_ms();
		unsigned ms;

		if (now >= deadline) {
			mm_warn(SUB, "etcd (pid %d) still running %d ms after SIGTERM: SIGKILL",
				(int)s->pid, grace_ms);
			kill(s->pid, SIGKILL);
			break;
		}
		ms = (unsigned)(deadline - now);
		mm_cond_wait_ms(&s->cond, &s->lock, ms);
	}
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thr, NULL);
	sup_free(s);
}

int etcd_sup_pid(etcd_sup *s)
{
	int pid;

	pthread_mutex_lock(&s->lock);
	pid = s->pid;
	pthread_mutex_unlock(&s->lock);
	return pid;
}

unsigned etcd_sup_restarts(etcd_sup *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->restarts;
	pthread_mutex_unlock(&s->lock);
	return n;
}
