/* cmds/libcmd.c - see libcmd.h. */
#include "cmds/libcmd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "mmfsd/admin.h"

void cmd_errf(const struct cmd_env *e, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", e->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cmd_timestamp(char *buf, size_t sz)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%a %b %e %H:%M:%S UTC %Y", &tm);
}

bool cmd_addr_is_local(const char *ip)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd;
	bool ok;
	const char *assume = getenv("MMFS_ASSUME_LOCAL"), *remote = getenv("MMFS_ASSUME_REMOTE");

	/* tests that put nodes in network namespaces share one file system */
	if (assume && strcmp(assume, "1") == 0)
		return true;
	/* tests of the remote-shell paths: these loopback addresses are "elsewhere" */
	for (const char *p = remote; p && *p; p += strcspn(p, ","), p += *p == ',') {
		size_t l = strcspn(p, ",");

		if (l == strlen(ip) && strncmp(p, ip, l) == 0)
			return false;
	}
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		return false;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

void cmd_sock_path(const struct cmd_env *e, const char *node, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s/%s", e->root, node, ADM_SOCK_NAME);
}

void cmd_pid_path(const struct cmd_env *e, const char *node, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s/mmfsd.pid", e->root, node);
}

int cmd_daemon_pid(const struct cmd_env *e, const char *node)
{
	char path[PATH_MAX], *text = NULL;
	int64_t pid;

	cmd_pid_path(e, node, path, sizeof(path));
	if (mm_read_file(path, 64, &text, NULL))
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (mm_parse_i64(text, &pid) || pid <= 1 || kill((pid_t)pid, 0) < 0) {
		free(text);
		return 0;
	}
	free(text);
	{
		/* a killed daemon stays a zombie until reaped: not running */
		char stat[64], buf[256];
		FILE *f;

		snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)pid);
		f = fopen(stat, "r");
		if (f) {
			char *p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;

			fclose(f);
			if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
				return 0;
		}
	}
	return (int)pid;
}

int cmd_admin(const struct cmd_env *e, const char *node, json_object *req,
	      int timeout_ms, json_object **rep)
{
	char path[PATH_MAX];

	cmd_sock_path(e, node, path, sizeof(path));
	return adm_call(path, req, timeout_ms, rep);
}

static int load_def(struct cmd_env *e, const char *node)
{
	char path[PATH_MAX], err[512];
	int rc;

	snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", e->root, node);
	if (access(path, R_OK) != 0)
		return MM_ENOENT;
	cfg_cluster_init(&e->def);
	rc = cfg_cluster_load(&e->def, path, err, sizeof(err));
	if (rc) {
		cmd_errf(e, "%s", err);
		cfg_cluster_free(&e->def);
		return rc;
	}
	snprintf(e->def_node, sizeof(e->def_node), "%s", node);
	e->have_def = true;
	return MM_OK;
}

int cmd_env_init(struct cmd_env *e, const char *prog, bool need_cluster)
{
	const char *root = getenv("MMFS_ROOT"), *node = getenv("MMFS_NODE");
	char self[PATH_MAX];
	ssize_t n;

	memset(e, 0, sizeof(*e));
	e->prog = prog;
	cfg_cluster_init(&e->def);
	snprintf(e->root, sizeof(e->root), "%s", root && *root ? root : "/var/mmfs");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(e->bindir, sizeof(e->bindir), "%s", self);
	}
	if (!need_cluster)
		return MM_OK;
	if (node && *node) {
		if (load_def(e, node) == MM_OK)
			return MM_OK;
		cmd_errf(e, "node %s (from $MMFS_NODE) has no cluster definition under %s", node,
			 e->root);
		return MM_ENOENT;
	}
	/* prefer a node whose daemon runs: its copy follows the CCR */
	for (int pass = 0; pass < 2; pass++) {
		DIR *dir = opendir(e->root);
		struct dirent *de;

		if (!dir)
			break;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			if (pass == 0 && !cmd_daemon_pid(e, de->d_name))
				continue;
			if (load_def(e, de->d_name) == MM_OK) {
				closedir(dir);
				return MM_OK;
			}
		}
		closedir(dir);
	}
	cmd_errf(e, "this node does not belong to a cluster (no definition under %s; "
		    "set $MMFS_ROOT or run mmcrcluster)", e->root);
	return MM_ENOENT;
}

void cmd_env_free(struct cmd_env *e)
{
	cfg_cluster_free(&e->def);
}

int cmd_select_nodes(struct cmd_env *e, bool all, const char *spec,
		     const struct cfg_node ***out, size_t *n)
{
	const struct cfg_node **v = calloc(e->def.nnodes + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return MM_ENOMEM;
	if (all || (spec && strcmp(spec, "all") == 0)) {
		for (size_t i = 0; i < e->def.nnodes; i++)
			v[k++] = &e->def.nodes[i];
	} else if (spec) {
		struct cfg_node_desc *d = NULL;
		size_t nd = 0;
		char err[512];
		int rc = cfg_parse_nodes_arg(spec, &d, &nd, err, sizeof(err));

		if (rc) {
			cmd_errf(e, "%s", err);
			free(v);
			return rc;
		}
		for (size_t i = 0; i < nd; i++) {
			const struct cfg_node *nn = cfg_cluster_node(&e->def, d[i].name);

			if (!nn) {
				cmd_errf(e, "node %s does not belong to cluster %s", d[i].name, e->def.name);
				free(d);
				free(v);
				return MM_ENOENT;
			}
			bool dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= v[j] == nn;
			if (!dup)
				v[k++] = nn;
		}
		free(d);
	} else {
		for (size_t i = 0; i < e->def.nnodes; i++)
			if (cmd_addr_is_local(e->def.nodes[i].ip))
				v[k++] = &e->def.nodes[i];
		if (k == 0) {
			cmd_errf(e, "no node of cluster %s is on this machine: use -a or -N", e->def.name);
			free(v);
			return MM_ENOENT;
		}
	}
	*out = v;
	*n = k;
	return MM_OK;
}

int cmd_admin_local(struct cmd_env *e, json_object *req, int timeout_ms,
		    json_object **rep, char *used, size_t usedsz)
{
	const char *node = getenv("MMFS_NODE");
	int rc = MM_ENOENT;

	if (node && *node) {
		rc = cmd_admin(e, node, req, timeout_ms, rep);
		if (rc == MM_OK && used)
			snprintf(used, usedsz, "%s", node);
		if (rc)
			cmd_errf(e, "cannot reach the mmfsd of node %s: %s (is it started? see mmstartup)",
				 node, rc == MM_ENOENT || rc == MM_EUNREACH ? "daemon not running"
									    : mm_strerror(rc));
		return rc;
	}
	const char *tried = NULL;

	for (size_t i = 0; e->have_def && i < e->def.nnodes; i++) {
		const struct cfg_node *n = &e->def.nodes[i];

		if (!cmd_addr_is_local(n->ip) || !cmd_daemon_pid(e, n->name))
			continue;
		rc = cmd_admin(e, n->name, req, timeout_ms, rep);
		if (rc == MM_OK) {
			if (used)
				snprintf(used, usedsz, "%s", n->name);
			return MM_OK;
		}
		tried = n->name;
	}
	/* a daemon that runs but did not answer is not "no mmfsd" */
	if (tried) {
		cmd_errf(e, "the mmfsd of node %s on this machine did not answer: %s%s", tried,
			 mm_strerror(rc), rc == MM_ETIMEDOUT ? " (it may be busy: see mmdiag --waiters)"
							    : "");
		return rc;
	}
	cmd_errf(e, "no mmfsd is running on this machine%s%s", e->have_def ? " for cluster " : "",
		 e->have_def ? e->def.name : "");
	return rc ? rc : MM_ENOENT;
}

int cmd_reply_rc(const struct cmd_env *e, json_object *rep, int rc)
{
	if (rc)
		return rc;
	rc = adm_get_int(rep, "rc", MM_EPROTO);
	if (rc) {
		const char *msg = adm_get_str(rep, "msg", mm_strerror(rc));

		/* daemon messages already name the command when it matters */
		if (strncmp(msg, e->prog, strlen(e->prog)) == 0)
			fprintf(stderr, "%s\n", msg);
		else
			cmd_errf(e, "%s", msg);
	}
	return rc;
}

int cmd_remote_timeout_s(void)
{
	const char *v = getenv("MMFS_REMOTE_TIMEOUT");
	int64_t t;

	if (v && *v && mm_parse_i64(v, &t) == MM_OK && t >= 1 && t <= 3600)
		return (int)t;
	return CMD_REMOTE_TIMEOUT_S;
}

/* Append <n> bytes to the malloc'd string *out (NULL: discard). */
static void out_append(char **out, size_t *len, const char *buf, size_t n)
{
	char *np;

	if (!out)
		return;
	np = realloc(*out, *len + n + 1);
	if (!np)
		return;
	memcpy(np + *len, buf, n);
	*len += n;
	np[*len] = '\0';
	*out = np;
}

int cmd_run_bounded(const char *shcmd, int timeout_s, char **out)
{
	uint64_t deadline = mm_now_ms() + (uint64_t)timeout_s * 1000u;
	int fds[2], st = 0, devnull;
	bool eof = false, exited = false;
	size_t len = 0;
	pid_t pid;

	if (out)
		*out = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mm_err_from_errno(errno);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return mm_err_from_errno(errno);
	}
	if (pid == 0) {
		/* own process group, so a timeout kills the shell and all it started */
		setpgid(0, 0);
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0 && dup2(devnull, 0) == 0 && devnull != 0)
			close(devnull);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execl("/bin/sh", "sh", "-c", shcmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: whichever runs first */
	close(fds[1]);
	while (!exited || !eof) {
		uint64_t now = mm_now_ms();
		struct pollfd pfd = {fds[0], POLLIN, 0};
		char buf[4096];

		if (now >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fds[0]);
			return MM_ETIMEDOUT;
		}
		if (!exited && waitpid(pid, &st, WNOHANG) == pid)
			exited = true;
		if (eof) {
			mm_sleep_ms(20);
			continue;
		}
		/* once the shell is gone, take what is buffered and stop: a
		 * process it left behind may hold the pipe open for good */
		int pr = poll(&pfd, 1, exited ? 0 : (int)(deadline - now < 100 ? deadline - now : 100));

		if (pr > 0) {
			ssize_t r = read(fds[0], buf, sizeof(buf));

			if (r > 0)
				out_append(out, &len, buf, (size_t)r);
			else if (r == 0 || errno != EINTR)
				eof = true;
		} else if (pr == 0 && exited) {
			eof = true;
		}
	}
	close(fds[0]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : MM_ESYS;
}

/* "-o ConnectTimeout=.. -o BatchMode=yes " if <prog> is ssh or scp: they
 * would otherwise wait for a password or a dead host without bound. */
static const char *ssh_opts(const char *prog, char *buf, size_t sz)
{
	size_t n = strcspn(prog, " \t");
	const char *base = prog;

	for (size_t i = 0; i < n; i++)
		if (prog[i] == '/')
			base = prog + i + 1;
	n -= (size_t)(base - prog);
	if ((n == 3 && (strncmp(base, "ssh", 3) == 0 || strncmp(base, "scp", 3) == 0))) {
		int t = cmd_remote_timeout_s();

		snprintf(buf, sz, "-o ConnectTimeout=%d -o BatchMode=yes ",
			 t < CMD_CONNECT_TIMEOUT_S ? t : CMD_CONNECT_TIMEOUT_S);
	} else {
		buf[0] = '\0';
	}
	return buf;
}

/* Run <cmdline> on <n> with the remote shell of <def>, killed after <timeout_s>. */
static int remote_run_timed(const struct cmd_env *e, const struct cfg_cluster *def,
			    const struct cfg_node *n, const char *cmdline, int timeout_s, char **out)
{
	const char *rsh = def->rsh[0] ? def->rsh : "/usr/bin/ssh";
	char *full = NULL, opts[96];
	int rc;

	if (out)
		*out = NULL;
	/* the remote side runs the same installation under the same root */
	if (asprintf(&full, "%s %s%s 'MMFS_ROOT=%s PATH=%s:$PATH %s'", rsh,
		     ssh_opts(rsh, opts, sizeof(opts)), n->admin[0] ? n->admin : n->name,
		     e->root, e->bindir, cmdline) < 0)
		return MM_ENOMEM;
	rc = cmd_run_bounded(full, timeout_s, out);
	free(full);
	return rc;
}

static int remote_run(const struct cmd_env *e, const struct cfg_cluster *def,
		      const struct cfg_node *n, const char *cmdline, char **out)
{
	return remote_run_timed(e, def, n, cmdline, cmd_remote_timeout_s(), out);
}

/* Say why remote step <prog> on <n> failed: its exit and first output line. */
static void remote_failed(const struct cmd_env *e, const struct cfg_node *n, const char *prog,
			  int rc, const char *out)
{
	if (rc == MM_ETIMEDOUT)
		cmd_errf(e, "node %s: %s did not finish within %d seconds", n->name, prog,
			 cmd_remote_timeout_s());
	else
		cmd_errf(e, "node %s: %s failed (%s %d)%s%.*s", n->name, prog,
			 rc < 0 ? mm_strerror(rc) : "exit", rc, out && *out ? ": " : "",
			 out ? (int)strcspn(out, "\n") : 0, out ? out : "");
}

/* Copy local files <from> (space-separated) to <n>:<dest> with the remote
 * copy command of <def>, bounded in time. */
static int remote_copy(const struct cmd_env *e, const struct cfg_cluster *def,
		       const struct cfg_node *n, const char *from, const char *dest)
{
	const char *rcp = def->rcp[0] ? def->rcp : "/usr/bin/scp";
	char *full = NULL, *out = NULL, opts[96];
	int rc;

	if (asprintf(&full, "%s %s-q -p %s %s:%s/%s/%s", rcp, ssh_opts(rcp, opts, sizeof(opts)),
		     from, n->admin[0] ? n->admin : n->name, e->root, n->name, dest) < 0)
		return MM_ENOMEM;
	rc = cmd_run_bounded(full, cmd_remote_timeout_s(), &out);
	if (rc != 0)
		remote_failed(e, n, rcp, rc, out);
	free(full);
	free(out);
	return rc == 0 ? MM_OK : rc == MM_ETIMEDOUT ? MM_ETIMEDOUT : MM_EUNREACH;
}

int cmd_remote(const struct cmd_env *e, const struct cfg_node *n, const char *cmdline,
	       char **out)
{
	return remote_run(e, &e->def, n, cmdline, out);
}

int cmd_remote_timed(const struct cmd_env *e, const struct cfg_node *n, const char *cmdline,
		     int timeout_s, char **out)
{
	return remote_run_timed(e, &e->def, n, cmdline, timeout_s, out);
}

int cmd_remote_def(const struct cmd_env *e, const struct cfg_cluster *def,
		   const struct cfg_node *n, const char *cmdline, char **out)
{
	return remote_run(e, def, n, cmdline, out);
}

int cmd_check_new_remote(const struct cmd_env *e, const struct cfg_cluster *def,
			 const struct cfg_node *n)
{
	char cmd[PATH_MAX + 128], *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "echo mmfs-reachable; test -e %s/%s/mmsdrfs.cfg && echo mmfs-has-cluster",
		 e->root, n->name);
	rc = cmd_remote_def(e, def, n, cmd, &out);
	if (out)
		out[strcspn(out, "\n")] = '\0';	/* first line: the reason */
	if (rc == MM_ETIMEDOUT) {
		cmd_errf(e, "node %s is unreachable: %s %s did not answer within %d seconds", n->name,
			 def->rsh, n->admin, cmd_remote_timeout_s());
	} else if (!out || !strstr(out, "mmfs-reachable")) {
		cmd_errf(e, "node %s is unreachable: %s %s failed (%s %d)%s%.200s", n->name, def->rsh,
			 n->admin, rc < 0 ? mm_strerror(rc) : "exit", rc, out && *out ? ": " : "",
			 out ? out : "");
		rc = MM_EUNREACH;
	} else if (strstr(out, "mmfs-has-cluster")) {
		cmd_errf(e, "node %s already belongs to a cluster (%s/%s/mmsdrfs.cfg exists there)",
			 n->name, e->root, n->name);
		rc = MM_EEXIST;
	} else {
		rc = MM_OK;
	}
	free(out);
	return rc;
}

/* The end of a round trip: print a failure, free what the caller does not
 * take. Consumes <req> and <r>. */
static int request_done(struct cmd_env *e, json_object *req, json_object *r, int rc,
			json_object **rep)
{
	rc = cmd_reply_rc(e, r, rc);
	json_object_put(req);
	if (rc || !rep) {
		json_object_put(r);
		r = NULL;
	}
	if (rep)
		*rep = r;
	return rc;
}

int cmd_request(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep)
{
	json_object *r = NULL;
	int rc = cmd_admin_local(e, req, timeout_ms, &r, NULL, 0);

	return request_done(e, req, r, rc, rep);
}

int cmd_resolve(const char *name, char *ip, size_t ipsz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(name, NULL, &hints, &res);

	if (rc)
		return rc;
	/* prefer IPv4: loopback clusters use 127.x addresses */
	for (struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, (socklen_t)ipsz);
			freeaddrinfo(res);
			return 0;
		}
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, ip, (socklen_t)ipsz);
	freeaddrinfo(res);
	return 0;
}

static int copy_file(const char *from, const char *to, unsigned mode)
{
	char *buf = NULL;
	size_t len;
	int rc = mm_read_file(from, 1 << 20, &buf, &len);

	if (rc)
		return rc;
	rc = mm_write_file_atomic(to, buf, len, mode);
	free(buf);
	return rc;
}

static int install_local(const struct cmd_env *e, const struct cfg_cluster *def,
			 const struct cfg_node *n, const char *keydir, const char *join)
{
	char dir[PATH_MAX], p[PATH_MAX], from[PATH_MAX];
	static const char *const keys[] = {"cluster.key", "cluster.crt"};
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s/ssl", e->root, n->name);
	rc = mm_mkdir_p(dir, 0700);
	if (rc)
		return rc;
	chmod(dir, 0700);
	for (size_t i = 0; keydir && i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", keydir, keys[i]);
		snprintf(p, sizeof(p), "%s/%s", dir, keys[i]);
		if ((rc = copy_file(from, p, 0600)))
			return rc;
	}
	if (join) {
		snprintf(p, sizeof(p), "%s/%s/etcd.join", e->root, n->name);
		if ((rc = mm_write_file_atomic(p, join, strlen(join), 0600)))
			return rc;
	}
	snprintf(p, sizeof(p), "%s/%s/mmsdrfs.cfg", e->root, n->name);
	return cfg_cluster_save(def, p);
}

static int put_remote(const struct cmd_env *e, const struct cfg_cluster *def,
		      const struct cfg_node *n, const char *text, const char *dest)
{
	char tmp[] = "/tmp/mmfs-install.XXXXXX";
	int fd = mkstemp(tmp), rc;

	if (fd < 0)
		return MM_EIO;
	rc = mm_write_full(fd, text, strlen(text));
	close(fd);
	if (!rc)
		rc = remote_copy(e, def, n, tmp, dest);
	unlink(tmp);
	return rc;
}

static int install_remote(const struct cmd_env *e, const struct cfg_cluster *def,
			  const struct cfg_node *n, const char *keydir, const char *join)
{
	char cmd[PATH_MAX * 3], *text = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "mkdir -p -m 0700 %s/%s/ssl", e->root, n->name);
	/* the definition being installed names the remote shell, not e->def */
	rc = remote_run(e, def, n, cmd, &text);
	if (rc)
		remote_failed(e, n, def->rsh, rc, text);
	free(text);
	text = NULL;
	if (rc)
		return rc == MM_ETIMEDOUT ? rc : MM_EUNREACH;
	if (keydir) {
		snprintf(cmd, sizeof(cmd), "%s/cluster.key %s/cluster.crt", keydir, keydir);
		if ((rc = remote_copy(e, def, n, cmd, "ssl/")))
			return rc;
	}
	if (join && (rc = put_remote(e, def, n, join, "etcd.join")))
		return rc;
	rc = cfg_cluster_format(def, &text);
	if (!rc)
		rc = put_remote(e, def, n, text, "mmsdrfs.cfg");
	free(text);
	return rc;
}

int cmd_install_node(const struct cmd_env *e, const struct cfg_cluster *def,
		     const struct cfg_node *n, const char *keydir, const char *join)
{
	return cmd_addr_is_local(n->ip) ? install_local(e, def, n, keydir, join)
					: install_remote(e, def, n, keydir, join);
}

int cmd_parse_def(const struct cmd_env *e, const char *text, const struct cfg_cluster *attrs_from,
		  struct cfg_cluster *out)
{
	char err[512];
	int rc;

	cfg_cluster_init(out);
	rc = cfg_cluster_parse(out, text, "daemon reply", err, sizeof(err));
	if (rc) {
		cmd_errf(e, "%s", err);
		return rc;
	}
	if (attrs_from && attrs_from->nattrs) {
		out->attr_names = calloc(attrs_from->nattrs, sizeof(*out->attr_names));
		out->attr_values = calloc(attrs_from->nattrs, sizeof(*out->attr_values));
		if (!out->attr_names || !out->attr_values)
			return MM_ENOMEM;
		memcpy(out->attr_names, attrs_from->attr_names, attrs_from->nattrs * sizeof(*out->attr_names));
		memcpy(out->attr_values, attrs_from->attr_values,
		       attrs_from->nattrs * sizeof(*out->attr_values));
		out->nattrs = attrs_from->nattrs;
	}
	return MM_OK;
}

/* ---- read-only requests with this node's daemon down ---- */

static const char *const readonly_cmds[] = {"lsconfig", "lscluster", "lsnsd", "lsmgr", "lsmount",
						    "lsfs", NULL};

bool cmd_readonly_request(json_object *req)
{
	const char *c = adm_get_str(req, "cmd", "");

	for (size_t i = 0; readonly_cmds[i]; i++)
		if (strcmp(c, readonly_cmds[i]) == 0)
			return true;
	return false;
}

/* Ask node <n>'s daemon through the remote shell ("mmremote admin HEX
 * NODE": NODE picks that node's daemon where one machine runs several),
 * bounded by <timeout_s> seconds. */
static int admin_remote(const struct cmd_env *e, const struct cfg_node *n, json_object *req,
			int timeout_s, json_object **rep)
{
	const char *js = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(js), at;
	char *cmd = malloc(len * 2 + strlen(n->name) + 64), *out = NULL, *line;
	int rc;

	if (!cmd)
		return MM_ENOMEM;
	/* hex: the request goes through two shells unharmed */
	strcpy(cmd, "mmremote admin ");
	for (size_t i = 0; i < len; i++)
		sprintf(cmd + 15 + 2 * i, "%02x", (unsigned char)js[i]);
	at = 15 + 2 * len;
	if (n->name[strspn(n->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] == '\0')
		sprintf(cmd + at, " %s", n->name);
	rc = cmd_remote_timed(e, n, cmd, timeout_s, &out);
	free(cmd);
	line = out ? strstr(out, CMD_REMOTE_REPLY) : NULL;
	if (line && (line == out || line[-1] == '\n')) {
		line += strlen(CMD_REMOTE_REPLY);
		line[strcspn(line, "\n")] = '\0';
		*rep = json_tokener_parse(line);
		rc = *rep ? MM_OK : MM_EPROTO;
	} else if (rc >= 0) {
		rc = MM_EUNREACH;
	}
	free(out);
	return rc;
}

int cmd_admin_node(struct cmd_env *e, const struct cfg_node *n, json_object *req, int timeout_ms,
		   json_object **rep)
{
	int remote_s = cmd_remote_timeout_s();

	*rep = NULL;
	if (cmd_addr_is_local(n->ip)) {
		if (cmd_daemon_pid(e, n->name) <= 0)
			return MM_EUNREACH;
		return cmd_admin(e, n->name, req, timeout_ms, rep);
	}
	/* the remote shell's own start, then the request's bound */
	return admin_remote(e, n, req, remote_s + (timeout_ms + 999) / 1000, rep);
}

int cmd_admin_any(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep)
{
	const char *self = getenv("MMFS_NODE");
	bool have_self = self && *self;

	*rep = NULL;
	if (have_self && cmd_daemon_pid(e, self) && cmd_admin(e, self, req, timeout_ms, rep) == MM_OK)
		return MM_OK;
	json_object_put(*rep);
	*rep = NULL;
	for (size_t i = 0; e->have_def && i < e->def.nnodes; i++) {
		const struct cfg_node *n = &e->def.nodes[i];

		if ((have_self && strcmp(n->name, self) == 0) || !cmd_addr_is_local(n->ip) ||
		    !cmd_daemon_pid(e, n->name))
			continue;
		if (cmd_admin(e, n->name, req, timeout_ms, rep) == MM_OK) {
			if (have_self)
				cmd_errf(e, "the daemon of node %s is down; answering from the daemon "
					    "of node %s", self, n->name);
			return MM_OK;
		}
		json_object_put(*rep);
		*rep = NULL;
	}
	/* a quorum node elsewhere, through the remote shell (bounded) */
	for (size_t i = 0; e->have_def && cmd_readonly_request(req) && i < e->def.nnodes; i++) {
		const struct cfg_node *n = &e->def.nodes[i];

		if (!n->quorum || cmd_addr_is_local(n->ip))
			continue;
		if (admin_remote(e, n, req, cmd_remote_timeout_s(), rep) == MM_OK) {
			cmd_errf(e, "the daemon on this node is down; answering from the daemon of "
				    "quorum node %s (through %s)", n->name, e->def.rsh);
			return MM_OK;
		}
		json_object_put(*rep);
		*rep = NULL;
	}
	return MM_ENOENT;
}

void cmd_note_local_copy(const struct cmd_env *e)
{
	cmd_errf(e, "the daemon on this node is down; answering from the local copy of the "
		    "cluster definition (may be stale)");
}

int cmd_request_readonly(struct cmd_env *e, json_object *req, int timeout_ms, json_object **rep)
{
	json_object *r = NULL;
	int rc = cmd_admin_any(e, req, timeout_ms, &r);

	if (rc == MM_ENOENT)
		cmd_errf(e, "no daemon answered: none runs on this machine%s, and no quorum node "
			    "answered through the remote shell", e->have_def ? " for this cluster" : "");
	return request_done(e, req, r, rc, rep);
}

void cmd_nsd_rediscover(struct cmd_env *e)
{
	json_object *req = json_object_new_object(), *rep = NULL;

	json_object_object_add(req, "cmd", json_object_new_string("nsddiscover"));
	json_object_object_add(req, "broadcast", json_object_new_boolean(1));
	if (cmd_admin_local(e, req, 30000, &rep, NULL, 0) == 0 && adm_get_int(rep, "rc", 0) != 0)
		fprintf(stderr, "%s: warning: NSD rediscovery: %s\n", e->prog,
			adm_get_str(rep, "msg", "failed"));
	json_object_put(req);
	json_object_put(rep);
}

void cmd_yfield(const char *s)
{
	for (; *s; s++)
		if (*s == ':')
			fputs("%3A", stdout);
		else
			putchar(*s);
	putchar(':');
}
