/*
 * tests/tools/posixcheck.c - POSIX behaviour cases run inside a mounted
 * file system (issue 12, "Tests in make check"), the rules of
 * shared/notes/posix-pitfalls.md among them.
 *
 *   posixcheck DIR [-u UID:GID] [-k CASE,...] [-n N] [-l] [-v]
 *
 * Each run works in a fresh subdirectory DIR/posixcheck.<pid>, removed at
 * the end. Every case runs in its own child process, in its own directory
 * under it, and prints one line:
 *
 *   PASS <case>[ (as U:G)][ (notes)]
 *   FAIL <case>[ (as U:G)]: <what was expected and what happened>
 *   SKIP <case>: <why>
 *
 * errno values are printed by name. The exit status is 1 if any case
 * failed, 2 on bad usage, 0 otherwise.
 *
 * Kinds of case:
 *   any      runs as the invoking user; run as root, it runs a second time
 *            in a child that drops to UID:GID (setgroups, setresgid,
 *            setresuid; -u, default 65534:65534) in a directory that
 *            user owns.
 *   root     needs several identities (permission checks): runs only as
 *            root, which performs each step as a chosen identity in a
 *            forked child with dropped credentials. The identities:
 *              A   UID,   GID,   groups {GID, GID-2}   (owner of files)
 *              Bg  UID-1, GID,   no groups             (group member, primary)
 *              Bs  UID-1, GID-1, groups {GID}          (group member, supplementary)
 *              B   UID-1, GID-1, no groups             (other)
 *              D   UID-2, GID-1, no groups             (a third user)
 *            GS = GID-2 is a group of A's that the B identities are not in.
 *   explicit runs only when named with -k (bigdir: a million entries).
 *
 * -l lists the cases with what each checks; -k runs only the named ones;
 * -n N sets the entries of the "dirsize" case (default 20000); -v prints
 * the notes of passing cases too (they are always printed for failures).
 *
 * Nothing here assumes an atime policy: the "atime" case reads the mount's
 * flags (statvfs f_flag) and checks the behaviour they promise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define CASE_TIMEOUT_S 900	/* a hung case is killed and reported */

/* ---- context and reporting ---- */

struct ctx {
	bool root;		/* the case runs with uid 0 */
	char note[512];		/* appended to PASS in parentheses */
	char msg[2048];		/* why it failed */
};

static struct ctx *C;		/* the running case's context (one per child) */
static uid_t opt_uid = 65534;
static gid_t opt_gid = 65534;
static long opt_n = 20000;
static bool opt_verbose;

static const char *ename(int e)
{
	if (e == 0)
		return "success";
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* Record why the case failed; returns -1 so a case can `return failf(...)`. */
__attribute__((format(printf, 1, 2))) static int failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(C->msg, sizeof(C->msg), fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 1, 2))) static void notef(const char *fmt, ...)
{
	size_t n = strlen(C->note);
	if (n && n < sizeof(C->note) - 2) {
		C->note[n++] = ';';
		C->note[n++] = ' ';
		C->note[n] = 0;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(C->note + n, sizeof(C->note) - n, fmt, ap);
	va_end(ap);
}

/* The call must succeed (return >= 0). */
#define OK(call)                                                                    \
	do {                                                                        \
		if ((long)(call) < 0)                                               \
			return failf("%s: %s, expected success", #call, ename(errno)); \
	} while (0)

/* The call must fail with errno e1 (or e2). */
#define ERR2(call, e1, e2)                                                                 \
	do {                                                                               \
		errno = 0;                                                                 \
		long r_ = (long)(call);                                                    \
		if (r_ >= 0)                                                               \
			return failf("%s: succeeded, expected %s", #call, ename(e1));       \
		if (errno != (e1) && errno != (e2))                                        \
			return failf("%s: %s, expected %s", #call, ename(errno), ename(e1)); \
	} while (0)
#define ERR(call, e) ERR2(call, e, e)

#define CHECK(cond, ...)                          \
	do {                                      \
		if (!(cond))                      \
			return failf(__VA_ARGS__); \
	} while (0)

#define RUN(x)                   \
	do {                     \
		if ((x) < 0)     \
			return -1; \
	} while (0)

/* ---- small helpers ---- */

static int wfile(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return failf("open(%s, O_CREAT): %s", path, ename(errno));
	ssize_t w = write(fd, data, len);
	int e = errno;
	close(fd);
	if (w != (ssize_t)len)
		return failf("write %zu bytes to %s: %zd (%s)", len, path, w, ename(e));
	return 0;
}

static int mkfile(const char *path, mode_t mode)
{
	RUN(wfile(path, "x", 1, mode));
	OK(chmod(path, mode));
	return 0;
}

static int lst(const char *path, struct stat *st)
{
	if (lstat(path, st) < 0)
		return failf("lstat(%s): %s", path, ename(errno));
	return 0;
}

static int readall(const char *path, char *buf, size_t cap, ssize_t *got)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return failf("open(%s, O_RDONLY): %s", path, ename(errno));
	*got = read(fd, buf, cap);
	int e = errno;
	close(fd);
	if (*got < 0)
		return failf("read(%s): %s", path, ename(e));
	return 0;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Let the clock move past the last timestamp the file system took: 20 ms
 * is above any coarse clock tick (4 ms at HZ=250). */
static void tick(void)
{
	sleep_ms(20);
}

static uint8_t pat(uint64_t off, unsigned salt)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

static void fillpat(uint8_t *b, size_t n, uint64_t off, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i, salt);
}

/* pwrite/pread of the whole buffer or a failure naming the file offset */
static int pw(int fd, const void *b, size_t n, off_t off)
{
	ssize_t w = pwrite(fd, b, n, off);
	if (w != (ssize_t)n)
		return failf("pwrite(%zu bytes at %lld): %zd (%s)", n, (long long)off, w,
			     w < 0 ? ename(errno) : "short");
	return 0;
}

static int pr(int fd, void *b, size_t n, off_t off)
{
	ssize_t r = pread(fd, b, n, off);
	if (r != (ssize_t)n)
		return failf("pread(%zu bytes at %lld): %zd (%s)", n, (long long)off, r,
			     r < 0 ? ename(errno) : "short");
	return 0;
}

static int check_pat(int fd, off_t off, size_t n, unsigned salt, const char *what)
{
	uint8_t *b = malloc(n);
	if (!b)
		return failf("out of memory");
	if (pr(fd, b, n, off) < 0) {
		free(b);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (b[i] != pat(off + i, salt)) {
			int r = failf("%s: byte at %lld is 0x%02x, expected 0x%02x", what,
				      (long long)(off + i), b[i], pat(off + i, salt));
			free(b);
			return r;
		}
	}
	free(b);
	return 0;
}

static int check_zero(int fd, off_t off, size_t n, const char *what)
{
	uint8_t *b = malloc(n);
	if (!b)
		return failf("out of memory");
	if (pr(fd, b, n, off) < 0) {
		free(b);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (b[i]) {
			int r = failf("%s: byte at %lld is 0x%02x, expected 0 (a hole or cut tail)",
				      what, (long long)(off + i), b[i]);
			free(b);
			return r;
		}
	}
	free(b);
	return 0;
}

/* ---- acting as another identity ---- */

struct cred {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[4];
};

static struct cred ID_A, ID_Bg, ID_Bs, ID_B, ID_D;
static gid_t GS;	/* a group of A's only */

static void init_ids(void)
{
	GS = opt_gid - 2;
	ID_A = (struct cred){"A", opt_uid, opt_gid, 2, {opt_gid, GS}};
	ID_Bg = (struct cred){"Bg", opt_uid - 1, opt_gid, 0, {0}};
	ID_Bs = (struct cred){"Bs", opt_uid - 1, opt_gid - 1, 1, {opt_gid}};
	ID_B = (struct cred){"B", opt_uid - 1, opt_gid - 1, 0, {0}};
	ID_D = (struct cred){"D", opt_uid - 2, opt_gid - 1, 0, {0}};
}

static int drop_to(const struct cred *c)
{
	if (setgroups(c->ngroups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0)
		return -1;
	return 0;
}

enum opkind {
	OP_OPEN, OP_EXEC, OP_STAT, OP_UNLINK, OP_RENAME, OP_CHMOD, OP_CHOWN, OP_UTIMENS,
	OP_MKDIR, OP_RMDIR, OP_CREAT, OP_WRITE, OP_TRUNC, OP_OPENDIR, OP_SETXATTR,
	OP_GETXATTR,
};

struct op {
	enum opkind kind;
	const char *a, *b;	/* paths (b: rename target, xattr name) */
	int flags;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *ts;	/* OP_UTIMENS: NULL means "now" */
};

static int op_run(const struct op *o)
{
	int fd, r = 0;
	struct stat st;
	char buf[64];
	switch (o->kind) {
	case OP_OPEN:
		fd = open(o->a, o->flags);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	case OP_EXEC: {
		char *argv[] = {(char *)o->a, NULL};
		char *envp[] = {NULL};
		execve(o->a, argv, envp);
		return errno;
	}
	case OP_STAT: r = stat(o->a, &st); break;
	case OP_UNLINK: r = unlink(o->a); break;
	case OP_RENAME: r = rename(o->a, o->b); break;
	case OP_CHMOD: r = chmod(o->a, o->mode); break;
	case OP_CHOWN: r = chown(o->a, o->uid, o->gid); break;
	case OP_UTIMENS: r = utimensat(AT_FDCWD, o->a, o->ts, 0); break;
	case OP_MKDIR: r = mkdir(o->a, o->mode); break;
	case OP_RMDIR: r = rmdir(o->a); break;
	case OP_CREAT:
		fd = open(o->a, O_WRONLY | O_CREAT | O_EXCL, o->mode);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	case OP_WRITE:
		fd = open(o->a, O_WRONLY);
		if (fd < 0)
			return errno;
		r = write(fd, "w", 1) == 1 ? 0 : -1;
		if (r < 0)
			r = errno;
		close(fd);
		return r;
	case OP_TRUNC: r = truncate(o->a, o->flags); break;
	case OP_OPENDIR: {
		DIR *d = opendir(o->a);
		if (!d)
			return errno;
		closedir(d);
		return 0;
	}
	case OP_SETXATTR: r = setxattr(o->a, o->b, "v", 1, 0); break;
	case OP_GETXATTR: r = getxattr(o->a, o->b, buf, sizeof(buf)) < 0 ? -1 : 0; break;
	}
	return r < 0 ? errno : 0;
}

/* Run <o> as <c> in a child; returns 0 or the errno it failed with (or
 * 250: could not drop credentials, 251: the child died). */
static int as_op(const struct cred *c, struct op o)
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		return 251;
	if (p == 0) {
		if (drop_to(c) < 0)
			_exit(250);
		_exit(op_run(&o) & 0xff);
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 251;
}

static const char *rname(int r)
{
	if (r == 250)
		return "could not drop credentials";
	if (r == 251)
		return "the child died";
	return ename(r);
}

static const char *const op_names[] = {
	"open", "execve", "stat", "unlink", "rename", "chmod", "chown", "utimensat",
	"mkdir", "rmdir", "create", "write", "truncate", "opendir", "setxattr", "getxattr",
};

/* <c> does <o>: expect errno <want> (0: success) or <alt>. */
static int want_as(const struct cred *c, struct op o, int want, int alt)
{
	int r = as_op(c, o);
	if (r == want || r == alt)
		return 0;
	return failf("%s (uid %u gid %u) %s(%s%s%s%s): %s, expected %s", c->name, (unsigned)c->uid,
		     (unsigned)c->gid, op_names[o.kind], o.a, o.b ? ", " : "", o.b ? o.b : "",
		     o.kind == OP_OPEN ? ((o.flags & O_ACCMODE) == O_RDONLY ? ", O_RDONLY"
					  : (o.flags & O_ACCMODE) == O_WRONLY ? ", O_WRONLY"
									     : ", O_RDWR")
				       : "",
		     rname(r), ename(want));
}

#define AS(cred, want, ...) RUN(want_as(&(cred), (struct op){__VA_ARGS__}, want, want))
#define AS2(cred, want, alt, ...) RUN(want_as(&(cred), (struct op){__VA_ARGS__}, want, alt))

static int copy_true(const char *path, uid_t uid, gid_t gid)
{
	static char buf[4 << 20];
	const char *src = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
	ssize_t n;
	RUN(readall(src, buf, sizeof(buf), &n));
	RUN(wfile(path, buf, (size_t)n, 0755));
	OK(chown(path, uid, gid));
	return 0;
}

/* ---- permission and ownership (root) ---- */

static int case_perm_bits(void)
{
	static const struct {
		const struct cred *c;
		int class;	/* 0 owner, 1 group, 2 other */
	} who[] = {{&ID_A, 0}, {&ID_Bg, 1}, {&ID_Bs, 1}, {&ID_B, 2}};
	RUN(copy_true("t", ID_A.uid, ID_A.gid));
	for (int k = 0; k < 3; k++) {
		for (int bit = 4; bit >= 1; bit >>= 1) {
			mode_t m = (mode_t)bit << (3 * (2 - k));
			OK(chmod("t", m));
			for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
				int want = who[i].class == k ? 0 : EACCES;
				struct op o = {bit == 4 ? OP_OPEN : bit == 2 ? OP_OPEN : OP_EXEC, "./t",
					       .flags = bit == 4 ? O_RDONLY : O_WRONLY};
				int r = as_op(who[i].c, o);
				if (r != want)
					return failf("mode %04o: %s (uid %u, gid %u%s) %s: %s, expected %s",
						     m, who[i].c->name, (unsigned)who[i].c->uid,
						     (unsigned)who[i].c->gid,
						     who[i].c->ngroups ? ", supplementary group" : "",
						     bit == 4 ? "open O_RDONLY" : bit == 2 ? "open O_WRONLY" : "execve",
						     rname(r), ename(want));
			}
		}
	}
	/* directories: x searches, r lists, w+x creates */
	OK(mkdir("d", 0755));
	RUN(mkfile("d/f", 0644));
	OK(chown("d", ID_A.uid, ID_A.gid));
	for (int k = 0; k < 3; k++) {
		mode_t x = 1u << (3 * (2 - k)), r = 4u << (3 * (2 - k)), w = 2u << (3 * (2 - k));
		for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
			bool mine = who[i].class == k;
			OK(chmod("d", x));
			AS(*who[i].c, mine ? 0 : EACCES, OP_STAT, "d/f");
			AS(*who[i].c, EACCES, OP_OPENDIR, "d");
			OK(chmod("d", r));
			AS(*who[i].c, mine ? 0 : EACCES, OP_OPENDIR, "d");
			AS(*who[i].c, EACCES, OP_STAT, "d/f");
			OK(chmod("d", w | x));
			AS(*who[i].c, mine ? 0 : EACCES, OP_CREAT, "d/n", .mode = 0644);
			if (mine)
				AS(*who[i].c, 0, OP_UNLINK, "d/n");
			OK(chmod("d", w));
			AS(*who[i].c, EACCES, OP_CREAT, "d/n", .mode = 0644);
		}
	}
	return 0;
}

static int case_perm_root(void)
{
	struct cred root = {"root", 0, 0, 0, {0}};
	RUN(mkfile("f", 0));
	OK(chown("f", ID_A.uid, ID_A.gid));
	AS(root, 0, OP_OPEN, "f", .flags = O_RDWR);
	OK(mkdir("d", 0));
	RUN(mkfile("d/f", 0644));
	OK(chmod("d", 0));
	AS(root, 0, OP_STAT, "d/f");
	AS(root, 0, OP_CREAT, "d/g", .mode = 0644);
	AS(root, 0, OP_OPENDIR, "d");
	RUN(copy_true("t", ID_A.uid, ID_A.gid));
	OK(chmod("t", 0644));
	AS(root, EACCES, OP_EXEC, "./t");
	ERR(access("t", X_OK), EACCES);
	OK(chmod("t", 0001));
	AS(root, 0, OP_EXEC, "./t");
	OK(chmod("t", 0100));
	AS(root, 0, OP_EXEC, "./t");
	return 0;
}

static int case_perm_dir_ops(void)
{
	OK(mkdir("d", 0755));
	RUN(mkfile("d/f", 0666));
	OK(mkdir("d/sub", 0755));
	OK(chown("d", ID_A.uid, ID_A.gid));
	OK(chown("d/f", ID_A.uid, ID_A.gid));
	OK(chown("d/sub", ID_A.uid, ID_A.gid));
	AS(ID_B, EACCES, OP_CREAT, "d/x", .mode = 0644);
	AS(ID_B, EACCES, OP_UNLINK, "d/f");
	AS(ID_B, EACCES, OP_RENAME, "d/f", "d/g");
	AS(ID_B, EACCES, OP_MKDIR, "d/y", .mode = 0755);
	AS(ID_B, EACCES, OP_RMDIR, "d/sub");
	AS(ID_B, 0, OP_WRITE, "d/f");	/* the file itself is writable */
	AS(ID_A, 0, OP_CREAT, "d/x", .mode = 0644);
	AS(ID_A, 0, OP_RENAME, "d/f", "d/g");
	AS(ID_A, 0, OP_UNLINK, "d/g");
	AS(ID_A, 0, OP_MKDIR, "d/y", .mode = 0755);
	AS(ID_A, 0, OP_RMDIR, "d/sub");
	return 0;
}

static int case_sticky(void)
{
	OK(mkdir("s", 0777));
	OK(chmod("s", 01777));
	AS(ID_A, 0, OP_CREAT, "s/fa", .mode = 0666);
	AS(ID_A, 0, OP_CREAT, "s/fa2", .mode = 0666);
	AS(ID_B, 0, OP_CREAT, "s/fb", .mode = 0666);
	OK(chmod("s/fa", 0666));	/* the umask took w from group and other */
	AS2(ID_B, EPERM, EACCES, OP_UNLINK, "s/fa");
	AS2(ID_B, EPERM, EACCES, OP_RENAME, "s/fa", "s/fx");
	AS2(ID_B, EPERM, EACCES, OP_RENAME, "s/fb", "s/fa");	/* over A's file */
	AS(ID_B, 0, OP_WRITE, "s/fa");				/* writing is not refused */
	AS(ID_A, 0, OP_RENAME, "s/fa", "s/fa3");
	AS(ID_B, 0, OP_RENAME, "s/fb", "s/fb2");		/* own file */
	AS(ID_B, 0, OP_UNLINK, "s/fb2");
	/* the directory's owner may remove anyone's entry */
	OK(chown("s", ID_D.uid, ID_D.gid));
	AS(ID_D, 0, OP_UNLINK, "s/fa3");
	OK(unlink("s/fa2"));	/* and root */
	/* without the sticky bit anyone with write permission may */
	OK(mkdir("n", 0777));
	OK(chmod("n", 0777));
	AS(ID_A, 0, OP_CREAT, "n/fa", .mode = 0600);
	AS(ID_B, 0, OP_UNLINK, "n/fa");
	return 0;
}

static int case_setgid_dir(void)
{
	struct stat st;
	OK(mkdir("g", 0777));
	OK(chown("g", 0, GS));
	OK(chmod("g", 02777));
	AS(ID_A, 0, OP_CREAT, "g/fa", .mode = 0644);
	RUN(lst("g/fa", &st));
	CHECK(st.st_gid == GS, "file created by A (gid %u) in a setgid dir of group %u has group %u",
	      (unsigned)ID_A.gid, (unsigned)GS, (unsigned)st.st_gid);
	AS(ID_B, 0, OP_CREAT, "g/fb", .mode = 0644);
	RUN(lst("g/fb", &st));
	CHECK(st.st_gid == GS, "file created by non-member B in a setgid dir has group %u, expected %u",
	      (unsigned)st.st_gid, (unsigned)GS);
	AS(ID_A, 0, OP_MKDIR, "g/da", .mode = 0755);
	RUN(lst("g/da", &st));
	CHECK(st.st_gid == GS && (st.st_mode & S_ISGID),
	      "subdir of a setgid dir: group %u mode %04o, expected group %u and the setgid bit",
	      (unsigned)st.st_gid, st.st_mode & 07777, (unsigned)GS);
	AS(ID_A, 0, OP_CREAT, "g/da/fa", .mode = 0644);
	RUN(lst("g/da/fa", &st));
	CHECK(st.st_gid == GS, "file two levels down has group %u, expected %u", (unsigned)st.st_gid,
	      (unsigned)GS);
	OK(mkdir("p", 0777));
	OK(chown("p", 0, GS));
	OK(chmod("p", 0777));
	AS(ID_A, 0, OP_CREAT, "p/fa", .mode = 0644);
	RUN(lst("p/fa", &st));
	CHECK(st.st_gid == ID_A.gid, "file in a non-setgid dir has group %u, expected the creator's %u",
	      (unsigned)st.st_gid, (unsigned)ID_A.gid);
	return 0;
}

/* The mode as `stat -c %A` asks it: statx for STATX_MODE alone, which
 * the kernel answers from its cache unless the mode itself was marked
 * stale (a write that took setuid off once left it cached). */
static int mode_is(const char *path, mode_t want, const char *after)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MODE, &stx) < 0)
		return failf("statx(%s, STATX_MODE): %s", path, ename(errno));
	CHECK((stx.stx_mode & 07777) == want, "after %s: mode %04o, expected %04o", after,
	      stx.stx_mode & 07777, want);
	return 0;
}

static int case_suid_clear_write(void)
{
	RUN(mkfile("f", 0644));
	OK(chown("f", ID_A.uid, ID_A.gid));
	OK(chmod("f", 06777));
	RUN(mode_is("f", 06777, "chmod 06777"));
	AS(ID_B, 0, OP_WRITE, "f");
	RUN(mode_is("f", 0777, "a write by non-owner B"));
	OK(chmod("f", 06777));
	AS(ID_A, 0, OP_WRITE, "f");
	RUN(mode_is("f", 0777, "a write by the owner (not root)"));
	OK(chmod("f", 06777));
	AS(ID_B, 0, OP_TRUNC, "f", .flags = 100);
	RUN(mode_is("f", 0777, "truncate by non-owner B"));
	OK(chmod("f", 06777));
	int fd = open("f", O_WRONLY);
	OK(fd);
	ssize_t w = write(fd, "r", 1);
	close(fd);
	CHECK(w == 1, "root's write failed");
	RUN(mode_is("f", 06777, "a write by root (CAP_FSETID keeps the bits)"));
	return 0;
}

/* Root without CAP_FSETID (a container's root, say) runs <what> on
 * <path> in a child that dropped the capability from its effective set:
 * 0 = write a byte, 1 = truncate to 1 byte, 2 = open(O_TRUNC). */
static int as_root_nofsetid(const char *path, int what)
{
	pid_t pid = fork();
	if (pid < 0)
		return failf("fork: %s", ename(errno));
	if (pid == 0) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		int fd;
		if (syscall(SYS_capget, &h, d) != 0)
			_exit(10);
		d[0].effective &= ~(1u << CAP_FSETID);
		if (syscall(SYS_capset, &h, d) != 0)
			_exit(11);
		if (what == 0) {
			fd = open(path, O_WRONLY);
			_exit(fd >= 0 && write(fd, "n", 1) == 1 ? 0 : 12);
		}
		if (what == 1)
			_exit(truncate(path, 1) == 0 ? 0 : 13);
		fd = open(path, O_WRONLY | O_TRUNC);
		_exit(fd >= 0 ? 0 : 14);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return failf("root without CAP_FSETID: %s failed (child status %d)",
			     what == 0 ? "write" : what == 1 ? "truncate" : "open(O_TRUNC)",
			     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

static int case_suid_clear_nofsetid(void)
{
	static const char *const how[] = {"a write", "a truncate", "open(O_TRUNC)"};
	char after[64];
	for (int what = 0; what < 3; what++) {
		RUN(mkfile("f", 0644));
		OK(chmod("f", 06775));
		RUN(as_root_nofsetid("f", what));
		snprintf(after, sizeof(after), "%s by root without CAP_FSETID", how[what]);
		RUN(mode_is("f", 0775, after));
		OK(unlink("f"));
	}
	return 0;
}

/* File capabilities (security.capability, as setcap writes them): a
 * write or truncate by a non-owner who may write the file drops them and
 * succeeds, as on ext4 (the kernel removes the attribute in the writer's
 * name). */
static int case_fcaps_clear_write(void)
{
	/* vfs_cap_data revision 2, effective: cap_net_raw (13) permitted */
	static const uint8_t cap[20] = {1, 0, 0, 2, 0, 0x20};
	char buf[32];

	RUN(mkfile("f", 0666));
	OK(chmod("f", 0666));
	OK(setxattr("f", "security.capability", cap, sizeof(cap), 0));
	CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) == (ssize_t)sizeof(cap),
	      "security.capability not set: %s", ename(errno));
	AS(ID_B, 0, OP_WRITE, "f");
	CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) < 0 && errno == ENODATA,
	      "after a write by non-owner B, security.capability is still there (or: %s)",
	      ename(errno));
	OK(setxattr("f", "security.capability", cap, sizeof(cap), 0));
	AS(ID_B, 0, OP_TRUNC, "f", .flags = 1);
	CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) < 0 && errno == ENODATA,
	      "after a truncate by non-owner B, security.capability is still there (or: %s)",
	      ename(errno));
	/* one who may not write the file cannot remove it */
	OK(setxattr("f", "security.capability", cap, sizeof(cap), 0));
	OK(chmod("f", 0644));
	AS(ID_B, EACCES, OP_WRITE, "f");
	CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) == (ssize_t)sizeof(cap),
	      "a refused write by B removed security.capability");
	/* root's write drops them too (CAP_FSETID keeps setuid, not these) */
	{
		int fd = open("f", O_WRONLY);
		OK(fd);
		ssize_t w = write(fd, "r", 1);
		close(fd);
		CHECK(w == 1, "root's write failed");
	}
	CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) < 0 && errno == ENODATA,
	      "after a write by root, security.capability is still there (or: %s)", ename(errno));
	/* open(O_TRUNC) of an empty file: capabilities go, mtime moves */
	{
		struct stat a, b;
		OK(truncate("f", 0));
		OK(setxattr("f", "security.capability", cap, sizeof(cap), 0));
		struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
		OK(utimensat(AT_FDCWD, "f", old, 0));
		RUN(lst("f", &a));
		int fd = open("f", O_WRONLY | O_TRUNC);
		OK(fd);
		close(fd);
		RUN(lst("f", &b));
		CHECK(b.st_mtime > a.st_mtime, "open(O_TRUNC) of an empty file kept mtime %ld",
		      (long)b.st_mtime);
		CHECK(getxattr("f", "security.capability", buf, sizeof(buf)) < 0 && errno == ENODATA,
		      "after open(O_TRUNC) of an empty file, security.capability is still there "
		      "(or: %s)", ename(errno));
	}
	return 0;
}

static int case_suid_clear_chown(void)
{
	struct stat st;
	RUN(mkfile("f", 0644));
	OK(chown("f", ID_A.uid, ID_A.gid));
	OK(chmod("f", 06755));
	OK(chown("f", ID_A.uid, ID_A.gid));
	RUN(mode_is("f", 0755, "chown by root to the same owner"));
	OK(chmod("f", 06755));
	AS(ID_A, 0, OP_CHOWN, "f", .uid = (uid_t)-1, .gid = GS);
	RUN(mode_is("f", 0755, "chgrp by the owner"));
	RUN(lst("f", &st));
	CHECK(st.st_gid == GS, "chgrp by the owner: group %u, expected %u", (unsigned)st.st_gid,
	      (unsigned)GS);
	/* a directory keeps its setgid bit through chown */
	OK(mkdir("d", 0755));
	OK(chmod("d", 02755));
	OK(chown("d", ID_A.uid, ID_A.gid));
	RUN(mode_is("d", 02755, "chown of a setgid directory"));
	return 0;
}

static int case_chmod_rules(void)
{
	RUN(mkfile("f", 0666));
	OK(chown("f", ID_A.uid, ID_A.gid));
	AS(ID_B, EPERM, OP_CHMOD, "f", .mode = 0777);
	AS(ID_A, 0, OP_CHMOD, "f", .mode = 0600);
	RUN(mode_is("f", 0600, "chmod by the owner"));
	OK(chmod("f", 0640));
	/* setgid on a file of a group the owner is not in is dropped (or refused) */
	OK(chown("f", ID_A.uid, ID_B.gid));
	int r = as_op(&ID_A, (struct op){OP_CHMOD, "f", .mode = 02755});
	struct stat st;
	RUN(lst("f", &st));
	CHECK(r == 0 || r == EPERM, "A chmod 02755 of a file of group %u: %s",
	      (unsigned)ID_B.gid, rname(r));
	CHECK(!(st.st_mode & S_ISGID),
	      "A (not in group %u) set the setgid bit: mode %04o, expected it dropped",
	      (unsigned)ID_B.gid, st.st_mode & 07777);
	return 0;
}

static int case_chown_rules(void)
{
	struct stat st, st2;
	RUN(mkfile("f", 0644));
	OK(chown("f", ID_A.uid, ID_A.gid));
	AS(ID_A, EPERM, OP_CHOWN, "f", .uid = ID_B.uid, .gid = (gid_t)-1);
	AS(ID_A, 0, OP_CHOWN, "f", .uid = ID_A.uid, .gid = (gid_t)-1);
	AS(ID_A, 0, OP_CHOWN, "f", .uid = (uid_t)-1, .gid = GS);
	AS(ID_A, EPERM, OP_CHOWN, "f", .uid = (uid_t)-1, .gid = ID_B.gid);
	AS(ID_B, EPERM, OP_CHOWN, "f", .uid = (uid_t)-1, .gid = ID_B.gid);
	AS(ID_B, EPERM, OP_CHOWN, "f", .uid = ID_B.uid, .gid = (gid_t)-1);
	RUN(lst("f", &st));
	CHECK(st.st_uid == ID_A.uid && st.st_gid == GS, "owner %u:%u, expected %u:%u",
	      (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)ID_A.uid, (unsigned)GS);
	tick();
	OK(chown("f", (uid_t)-1, (gid_t)-1));
	RUN(lst("f", &st2));
	CHECK(st2.st_uid == st.st_uid && st2.st_gid == st.st_gid && st2.st_mode == st.st_mode,
	      "chown(-1, -1) changed owner or mode");
	CHECK(ts_cmp(st2.st_ctim, st.st_ctim) > 0, "chown(-1, -1) did not change ctime");
	OK(chown("f", ID_D.uid, ID_D.gid));
	RUN(lst("f", &st));
	CHECK(st.st_uid == ID_D.uid && st.st_gid == ID_D.gid, "root's chown: owner %u:%u",
	      (unsigned)st.st_uid, (unsigned)st.st_gid);
	return 0;
}

static int case_utimes_rules(void)
{
	struct stat st0, st;
	static const struct timespec now2[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	static const struct timespec omit2[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	static const struct timespec expl[2] = {{1000000000, 5}, {1000000001, 7}};
	RUN(mkfile("f", 0666));
	OK(chown("f", ID_A.uid, ID_A.gid));
	RUN(lst("f", &st0));
	tick();
	AS(ID_B, 0, OP_UTIMENS, "f", .ts = NULL);
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_ctim, st0.st_ctim) > 0, "utimensat(NULL) by a writer did not change ctime");
	AS(ID_B, 0, OP_UTIMENS, "f", .ts = now2);
	AS(ID_B, 0, OP_UTIMENS, "f", .ts = omit2);
	AS(ID_B, EPERM, OP_UTIMENS, "f", .ts = expl);
	OK(chmod("f", 0644));
	AS2(ID_B, EACCES, EPERM, OP_UTIMENS, "f", .ts = NULL);
	AS(ID_A, 0, OP_UTIMENS, "f", .ts = expl);
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_atim, expl[0]) == 0 && ts_cmp(st.st_mtim, expl[1]) == 0,
	      "owner's explicit times not kept: atime %lld.%09ld mtime %lld.%09ld",
	      (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec,
	      st.st_mtim.tv_nsec);
	OK(utimensat(AT_FDCWD, "f", expl, 0));	/* root */
	return 0;
}

/* ---- POSIX ACLs through system.posix_acl_* (the kernel's xattr format) ---- */

enum { ACL_UO = 0x01, ACL_U = 0x02, ACL_GO = 0x04, ACL_G = 0x08, ACL_M = 0x10, ACL_O = 0x20 };
#define ACL_UNDEF_ID 0xffffffffu

struct acl_e {
	uint16_t tag, perm;
	uint32_t id;
};

/* Encode: a little-endian u32 version 2, then {u16 tag, u16 perm, u32 id}
 * per entry, entries sorted by tag then id (the caller's order). */
static size_t acl_enc(uint8_t *out, const struct acl_e *e, int n)
{
	uint32_t v = 2;
	memcpy(out, &v, 4);
	for (int i = 0; i < n; i++) {
		uint8_t *p = out + 4 + 8 * i;
		p[0] = e[i].tag & 0xff, p[1] = e[i].tag >> 8;
		p[2] = e[i].perm & 0xff, p[3] = e[i].perm >> 8;
		for (int k = 0; k < 4; k++)
			p[4 + k] = (e[i].id >> (8 * k)) & 0xff;
	}
	return 4 + 8 * (size_t)n;
}

static int acl_set(const char *path, const char *name, const struct acl_e *e, int n)
{
	uint8_t buf[4 + 8 * 16];
	size_t len = acl_enc(buf, e, n);
	if (setxattr(path, name, buf, len, 0) < 0)
		return failf("setxattr(%s, %s, %d entries): %s", path, name, n, ename(errno));
	return 0;
}

/* Does <path>'s ACL <name> hold an entry <tag> (id <id>) with <perm>? */
static int acl_has(const char *path, const char *name, uint16_t tag, uint32_t id, int perm)
{
	uint8_t buf[4096];
	ssize_t n = getxattr(path, name, buf, sizeof(buf));
	if (n < 0)
		return failf("getxattr(%s, %s): %s", path, name, ename(errno));
	CHECK(n >= 4 && (n - 4) % 8 == 0 && buf[0] == 2,
	      "%s of %s: %zd bytes, version %u: not an ACL", name, path, n, buf[0]);
	for (ssize_t i = 4; i < n; i += 8) {
		uint16_t t = buf[i] | buf[i + 1] << 8, p = buf[i + 2] | buf[i + 3] << 8;
		uint32_t x = buf[i + 4] | buf[i + 5] << 8 | buf[i + 6] << 16 | (uint32_t)buf[i + 7] << 24;
		if (t == tag && (tag != ACL_U && tag != ACL_G ? true : x == id))
			return perm < 0 || p == perm ? 0
						     : failf("%s of %s: entry tag %#x has perm %o, expected %o",
							     name, path, tag, p, perm);
	}
	return failf("%s of %s: no entry with tag %#x id %u", name, path, tag, id);
}

static int case_acl_minimal(void)
{
	struct stat st;
	RUN(mkfile("f", 0777));
	struct acl_e min[] = {{ACL_UO, 6, ACL_UNDEF_ID}, {ACL_GO, 4, ACL_UNDEF_ID}, {ACL_O, 0, ACL_UNDEF_ID}};
	RUN(acl_set("f", "system.posix_acl_access", min, 3));
	RUN(lst("f", &st));
	CHECK((st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode),
	      "a minimal ACL rw-,r--,--- set mode %06o, expected 0100640", st.st_mode);
	uint8_t buf[256];
	ssize_t n = getxattr("f", "system.posix_acl_access", buf, sizeof(buf));
	CHECK(n < 0 ? errno == ENODATA : n == 28,
	      "getxattr of a minimal ACL: %zd (%s), expected 28 bytes or ENODATA", n,
	      n < 0 ? ename(errno) : "");
	OK(chmod("f", 0751));
	n = getxattr("f", "system.posix_acl_access", buf, sizeof(buf));
	if (n >= 0) {
		RUN(acl_has("f", "system.posix_acl_access", ACL_UO, 0, 7));
		RUN(acl_has("f", "system.posix_acl_access", ACL_GO, 0, 5));
		RUN(acl_has("f", "system.posix_acl_access", ACL_O, 0, 1));
	}
	/* no OTHER entry: not a valid ACL */
	uint8_t bad[64];
	size_t bl = acl_enc(bad, min, 2);
	ERR(setxattr("f", "system.posix_acl_access", bad, bl, 0), EINVAL);
	return 0;
}

static int case_acl_default(void)
{
	struct stat st;
	OK(mkdir("d", 0777));
	struct acl_e def[] = {{ACL_UO, 7, ACL_UNDEF_ID}, {ACL_GO, 5, ACL_UNDEF_ID}, {ACL_O, 0, ACL_UNDEF_ID}};
	RUN(acl_set("d", "system.posix_acl_default", def, 3));
	umask(077);	/* a default ACL replaces the umask */
	int fd = open("d/f", O_CREAT | O_WRONLY, 0666);
	OK(fd);
	close(fd);
	OK(mkdir("d/s", 0777));
	umask(022);
	RUN(lst("d/f", &st));
	CHECK((st.st_mode & 0777) == 0640, "file under a default ACL rwx,r-x,--- (umask 077): mode %04o, expected 0640",
	      st.st_mode & 07777);
	RUN(lst("d/s", &st));
	CHECK((st.st_mode & 0777) == 0750, "dir under a default ACL rwx,r-x,---: mode %04o, expected 0750",
	      st.st_mode & 07777);
	RUN(acl_has("d/s", "system.posix_acl_default", ACL_GO, 0, 5));
	/* an extended default: the named entry reaches new files' access ACL */
	struct acl_e ext[] = {{ACL_UO, 7, ACL_UNDEF_ID}, {ACL_U, 5, 12345}, {ACL_GO, 5, ACL_UNDEF_ID},
			      {ACL_M, 7, ACL_UNDEF_ID}, {ACL_O, 0, ACL_UNDEF_ID}};
	OK(mkdir("e", 0777));
	RUN(acl_set("e", "system.posix_acl_default", ext, 5));
	fd = open("e/f", O_CREAT | O_WRONLY, 0666);
	OK(fd);
	close(fd);
	RUN(lst("e/f", &st));
	CHECK((st.st_mode & 0777) == 0660, "file under an extended default ACL: mode %04o, expected 0660 (mask rw-)",
	      st.st_mode & 07777);
	RUN(acl_has("e/f", "system.posix_acl_access", ACL_U, 12345, 5));
	RUN(acl_has("e/f", "system.posix_acl_access", ACL_M, 0, 6));
	return 0;
}

static int case_acl_named(void)
{
	RUN(mkfile("f", 0600));
	OK(chown("f", ID_A.uid, ID_A.gid));
	struct acl_e a[] = {{ACL_UO, 6, ACL_UNDEF_ID}, {ACL_U, 4, ID_B.uid}, {ACL_GO, 0, ACL_UNDEF_ID},
			    {ACL_M, 4, ACL_UNDEF_ID}, {ACL_O, 0, ACL_UNDEF_ID}};
	RUN(acl_set("f", "system.posix_acl_access", a, 5));
	RUN(mode_is("f", 0640, "an ACL with mask r--"));
	AS(ID_B, 0, OP_OPEN, "f", .flags = O_RDONLY);
	AS(ID_B, EACCES, OP_OPEN, "f", .flags = O_WRONLY);
	AS(ID_D, EACCES, OP_OPEN, "f", .flags = O_RDONLY);
	OK(chmod("f", 0600));	/* the group bits are the mask: now --- */
	AS(ID_B, EACCES, OP_OPEN, "f", .flags = O_RDONLY);
	struct acl_e g[] = {{ACL_UO, 6, ACL_UNDEF_ID}, {ACL_GO, 0, ACL_UNDEF_ID}, {ACL_G, 4, ID_A.gid},
			    {ACL_M, 4, ACL_UNDEF_ID}, {ACL_O, 0, ACL_UNDEF_ID}};
	OK(chown("f", ID_A.uid, GS));
	RUN(acl_set("f", "system.posix_acl_access", g, 5));
	AS(ID_Bs, 0, OP_OPEN, "f", .flags = O_RDONLY);	/* named group, supplementary */
	AS(ID_B, EACCES, OP_OPEN, "f", .flags = O_RDONLY);
	OK(removexattr("f", "system.posix_acl_access"));
	AS(ID_Bs, EACCES, OP_OPEN, "f", .flags = O_RDONLY);
	return 0;
}

/* ---- rename ---- */

static int case_rename_file(void)
{
	struct stat sa, sb, s2;
	char buf[16];
	ssize_t n;
	RUN(wfile("a", "AAAA", 4, 0644));
	RUN(wfile("b", "BB", 2, 0644));
	OK(link("b", "b2"));
	RUN(lst("a", &sa));
	OK(rename("a", "b"));
	ERR(lstat("a", &sb), ENOENT);
	RUN(lst("b", &sb));
	RUN(lst("b2", &s2));
	CHECK(sb.st_ino == sa.st_ino, "b is inode %llu after the rename, expected a's %llu",
	      (unsigned long long)sb.st_ino, (unsigned long long)sa.st_ino);
	CHECK(s2.st_nlink == 1, "the replaced inode (still at b2) has nlink %lu, expected 1",
	      (unsigned long)s2.st_nlink);
	RUN(readall("b", buf, sizeof(buf), &n));
	CHECK(n == 4 && !memcmp(buf, "AAAA", 4), "b holds %zd bytes, not a's content", n);
	/* onto itself, and onto a hard link of the same inode: nothing happens */
	OK(rename("b", "b"));
	OK(link("b", "c"));
	OK(rename("b", "c"));
	RUN(lst("b", &sb));
	RUN(lst("c", &s2));
	CHECK(sb.st_ino == s2.st_ino && sb.st_nlink == 2,
	      "rename onto a hard link of the same inode changed something: nlink %lu",
	      (unsigned long)sb.st_nlink);
	ERR(rename("missing", "x"), ENOENT);
	/* a symlink moves, not its target */
	OK(symlink("c", "l"));
	OK(rename("l", "l2"));
	RUN(lst("l2", &sb));
	CHECK(S_ISLNK(sb.st_mode), "renamed symlink is not a symlink");
	RUN(lst("c", &sb));
	return 0;
}

static int case_rename_dir(void)
{
	struct stat st, p0, p1;
	OK(mkdir("x", 0755));
	RUN(mkfile("x/f", 0644));
	OK(mkdir("y", 0755));
	OK(mkdir("z", 0755));
	RUN(mkfile("z/f", 0644));
	RUN(mkfile("file", 0644));
	RUN(lst(".", &p0));
	OK(rename("x", "y"));	/* over an empty directory */
	RUN(lst("y/f", &st));
	ERR(lstat("x", &st), ENOENT);
	RUN(lst(".", &p1));
	CHECK(p1.st_nlink == p0.st_nlink - 1, "parent nlink %lu after a dir replaced an empty dir, expected %lu",
	      (unsigned long)p1.st_nlink, (unsigned long)p0.st_nlink - 1);
	ERR2(rename("y", "z"), ENOTEMPTY, EEXIST);
	ERR(rename("y", "file"), ENOTDIR);
	ERR(rename("file", "y"), EISDIR);
	OK(mkdir("y/sub", 0755));
	ERR(rename("y", "y/sub/z"), EINVAL);
	ERR(rename("y", "y/z"), EINVAL);
	ERR(rename("file", "file/x"), ENOTDIR);
	RUN(lst("y/sub", &st));
	return 0;
}

static int nlink_is(const char *path, nlink_t want, const char *after)
{
	struct stat st;
	RUN(lst(path, &st));
	CHECK(st.st_nlink == want, "after %s: %s has nlink %lu, expected %lu", after, path,
	      (unsigned long)st.st_nlink, (unsigned long)want);
	return 0;
}

static int case_rename_dotdot(void)
{
	struct stat b, dd;
	OK(mkdir("a", 0755));
	OK(mkdir("b", 0755));
	OK(mkdir("a/s", 0755));
	OK(mkdir("a/s/t", 0755));
	RUN(nlink_is("a", 3, "mkdir a/s"));
	OK(rename("a/s", "b/s"));
	RUN(lst("b", &b));
	RUN(lst("b/s/..", &dd));
	CHECK(dd.st_ino == b.st_ino, "b/s/.. is inode %llu, expected b (%llu)", (unsigned long long)dd.st_ino,
	      (unsigned long long)b.st_ino);
	RUN(nlink_is("a", 2, "moving a/s out"));
	RUN(nlink_is("b", 3, "moving s into b"));
	RUN(nlink_is("b/s", 3, "moving s (with subdir t)"));
	/* the moved directory's .. works for lookups through it */
	RUN(mkfile("b/s/../marker", 0644));
	RUN(lst("b/marker", &b));
	return 0;
}

static int case_rename_flags(void)
{
	struct stat st;
	RUN(wfile("f", "F", 1, 0644));
	RUN(wfile("g", "G", 1, 0644));
	ERR(renameat2(AT_FDCWD, "f", AT_FDCWD, "g", RENAME_NOREPLACE), EEXIST);
	OK(renameat2(AT_FDCWD, "f", AT_FDCWD, "h", RENAME_NOREPLACE));
	ERR(lstat("f", &st), ENOENT);
	/* exchange a file and a directory in different parents */
	OK(mkdir("d1", 0755));
	OK(mkdir("d2", 0755));
	RUN(wfile("d1/x", "X", 1, 0644));
	OK(mkdir("d2/y", 0755));
	OK(mkdir("d2/y/sub", 0755));
	RUN(mkfile("d2/y/inner", 0644));
	OK(renameat2(AT_FDCWD, "d1/x", AT_FDCWD, "d2/y", RENAME_EXCHANGE));
	RUN(lst("d1/x", &st));
	CHECK(S_ISDIR(st.st_mode), "d1/x is not the directory after RENAME_EXCHANGE");
	RUN(lst("d1/x/inner", &st));
	RUN(lst("d2/y", &st));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 1, "d2/y is not the file after RENAME_EXCHANGE");
	RUN(nlink_is("d1", 3, "RENAME_EXCHANGE brought a directory in"));
	RUN(nlink_is("d2", 2, "RENAME_EXCHANGE took a directory out"));
	struct stat d1, dd;
	RUN(lst("d1", &d1));
	RUN(lst("d1/x/..", &dd));
	CHECK(dd.st_ino == d1.st_ino, "the exchanged directory's .. is inode %llu, expected d1 %llu",
	      (unsigned long long)dd.st_ino, (unsigned long long)d1.st_ino);
	ERR(renameat2(AT_FDCWD, "h", AT_FDCWD, "absent", RENAME_EXCHANGE), ENOENT);
	ERR(renameat2(AT_FDCWD, "h", AT_FDCWD, "g", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	return 0;
}

/* ---- link counts ---- */

static int case_nlink(void)
{
	RUN(mkfile("f", 0644));
	RUN(nlink_is("f", 1, "create"));
	OK(link("f", "g"));
	RUN(nlink_is("f", 2, "link"));
	ERR(link("f", "g"), EEXIST);
	ERR(link("missing", "h"), ENOENT);
	OK(unlink("g"));
	RUN(nlink_is("f", 1, "unlink of the second name"));
	OK(mkdir("d", 0755));
	RUN(nlink_is("d", 2, "mkdir"));
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "d/s%d", i);
		OK(mkdir(p, 0755));
	}
	RUN(mkfile("d/file", 0644));
	OK(symlink("x", "d/link"));
	RUN(nlink_is("d", 5, "three subdirectories (and a file and a symlink)"));
	OK(rmdir("d/s1"));
	RUN(nlink_is("d", 4, "rmdir of one subdirectory"));
	ERR(link("d", "d2"), EPERM);
	struct stat st;
	RUN(lst("..", &st));
	return 0;
}

static int case_unlink_open(void)
{
	char buf[64];
	struct stat st;
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	RUN(pw(fd, "hello, world", 12, 0));
	OK(unlink("f"));
	ERR(lstat("f", &st), ENOENT);
	OK(fstat(fd, &st));
	CHECK(st.st_nlink == 0, "fstat of an unlinked open file: nlink %lu, expected 0",
	      (unsigned long)st.st_nlink);
	RUN(pr(fd, buf, 12, 0));
	CHECK(!memcmp(buf, "hello, world", 12), "content changed after unlink");
	RUN(pw(fd, "again", 5, 1 << 20));
	RUN(pr(fd, buf, 5, 1 << 20));
	CHECK(!memcmp(buf, "again", 5), "a write after unlink did not read back");
	OK(fstat(fd, &st));
	CHECK(st.st_size == (1 << 20) + 5, "size %lld after a write past the end, expected %d",
	      (long long)st.st_size, (1 << 20) + 5);
	OK(ftruncate(fd, 3));
	OK(fsync(fd));
	close(fd);
	return 0;
}

/* ---- times ---- */

struct tsnap {
	struct timespec a, m, c;
};

/* Put <p>'s mtime far in the past, note its times, and let the clock move. */
static int snap(const char *p, struct tsnap *t)
{
	struct timespec old[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
	struct stat st;
	OK(utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW));
	RUN(lst(p, &st));
	t->a = st.st_atim, t->m = st.st_mtim, t->c = st.st_ctim;
	tick();
	return 0;
}

/* <p>'s mtime (if <m>) and ctime changed since <t>, after <what>. */
static int changed(const char *p, const struct tsnap *t, bool m, const char *what)
{
	struct stat st;
	RUN(lst(p, &st));
	CHECK(ts_cmp(st.st_ctim, t->c) > 0, "%s did not change the ctime of %s", what, p);
	if (m)
		CHECK(ts_cmp(st.st_mtim, t->m) > 0, "%s did not change the mtime of %s", what, p);
	return 0;
}

static int case_times_data(void)
{
	struct tsnap t;
	RUN(mkfile("f", 0644));
	RUN(snap("f", &t));
	int fd = open("f", O_WRONLY);
	OK(fd);
	RUN(pw(fd, "data", 4, 10));
	RUN(changed("f", &t, true, "write"));
	RUN(snap("f", &t));
	OK(ftruncate(fd, 100));
	RUN(changed("f", &t, true, "ftruncate up"));
	RUN(snap("f", &t));
	OK(ftruncate(fd, 5));
	RUN(changed("f", &t, true, "ftruncate down"));
	close(fd);
	RUN(snap("f", &t));
	OK(truncate("f", 0));
	RUN(changed("f", &t, true, "truncate(path)"));
	return 0;
}

static int case_times_dir(void)
{
	struct tsnap t, tf;
	OK(mkdir("d", 0755));
	OK(mkdir("e", 0755));
	RUN(snap("d", &t));
	RUN(mkfile("d/f", 0644));
	RUN(changed("d", &t, true, "create in d"));
	RUN(snap("d", &t));
	RUN(snap("d/f", &tf));
	OK(link("d/f", "d/g"));
	RUN(changed("d", &t, true, "link in d"));
	RUN(changed("d/f", &tf, false, "link (the target inode)"));
	RUN(snap("d", &t));
	RUN(snap("d/f", &tf));
	OK(unlink("d/g"));
	RUN(changed("d", &t, true, "unlink in d"));
	RUN(changed("d/f", &tf, false, "unlink of another name (the target inode)"));
	struct tsnap te;
	RUN(snap("d", &t));
	RUN(snap("e", &te));
	RUN(snap("d/f", &tf));
	OK(rename("d/f", "e/f"));
	RUN(changed("d", &t, true, "rename out of d"));
	RUN(changed("e", &te, true, "rename into e"));
	RUN(changed("e/f", &tf, false, "rename (the moved inode)"));
	RUN(snap("d", &t));
	OK(mkdir("d/s", 0755));
	RUN(changed("d", &t, true, "mkdir in d"));
	RUN(snap("d", &t));
	OK(rmdir("d/s"));
	RUN(changed("d", &t, true, "rmdir in d"));
	RUN(snap("d", &t));
	OK(symlink("target", "d/l"));
	RUN(changed("d", &t, true, "symlink in d"));
	RUN(snap("d", &t));
	OK(mkfifo("d/p", 0644));
	RUN(changed("d", &t, true, "mkfifo in d"));
	return 0;
}

static int case_times_attr(void)
{
	struct tsnap t;
	struct stat st;
	RUN(mkfile("f", 0644));
	RUN(snap("f", &t));
	OK(chmod("f", 0600));
	RUN(changed("f", &t, false, "chmod"));
	RUN(snap("f", &t));
	OK(chown("f", getuid(), getgid()));
	RUN(changed("f", &t, false, "chown to the same owner"));
	RUN(snap("f", &t));
	OK(chown("f", (uid_t)-1, (gid_t)-1));
	RUN(changed("f", &t, false, "chown(-1, -1)"));
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_mtim, t.m) == 0, "chmod/chown changed mtime");
	RUN(snap("f", &t));
	OK(setxattr("f", "user.t", "1", 1, 0));
	RUN(changed("f", &t, false, "setxattr"));
	RUN(snap("f", &t));
	OK(removexattr("f", "user.t"));
	RUN(changed("f", &t, false, "removexattr"));
	return 0;
}

static int case_atime(void)
{
	struct statvfs sv;
	struct stat st;
	char b[4];
	OK(statvfs(".", &sv));
	const char *mode = sv.f_flag & ST_NOATIME ? "noatime" : sv.f_flag & ST_RELATIME ? "relatime" : "strictatime";
	RUN(wfile("f", "data", 4, 0644));
	struct timespec t[2] = {{1000000000, 0}, {2000000000, 0}};	/* atime before mtime */
	OK(utimensat(AT_FDCWD, "f", t, 0));
	int fd = open("f", O_RDONLY);
	OK(fd);
	RUN(pr(fd, b, 4, 0));
	close(fd);
	RUN(lst("f", &st));
	bool moved = st.st_atim.tv_sec != 1000000000;
	notef("mount: %s; a read %s atime", mode, moved ? "updated" : "kept");
	if (sv.f_flag & ST_NOATIME)
		CHECK(!moved, "noatime mount: a read changed atime");
	else
		CHECK(moved, "%s mount: a read of a file whose atime was older than its mtime left atime alone", mode);
	if (sv.f_flag & ST_RELATIME) {
		/* relatime: an atime newer than mtime and ctime and under a day
		 * old is left alone (set an hour ahead: ctime is now) */
		struct timespec t2[2] = {{time(NULL) + 3600, 0}, {1000000000, 0}};
		OK(utimensat(AT_FDCWD, "f", t2, 0));
		struct stat s0;
		RUN(lst("f", &s0));
		tick();
		fd = open("f", O_RDONLY);
		OK(fd);
		RUN(pr(fd, b, 4, 0));
		close(fd);
		RUN(lst("f", &st));
		CHECK(ts_cmp(st.st_atim, s0.st_atim) == 0, "relatime: a read moved a recent atime newer than mtime");
	}
	return 0;
}

static int case_utimens(void)
{
	struct stat st;
	struct timespec t[2] = {{1234567890, 123456789}, {1234567891, 987654321}};
	RUN(mkfile("f", 0644));
	OK(utimensat(AT_FDCWD, "f", t, 0));
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_atim, t[0]) == 0 && ts_cmp(st.st_mtim, t[1]) == 0,
	      "times set to %lld.%09ld / %lld.%09ld read back as %lld.%09ld / %lld.%09ld",
	      (long long)t[0].tv_sec, t[0].tv_nsec, (long long)t[1].tv_sec, t[1].tv_nsec,
	      (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec,
	      st.st_mtim.tv_nsec);
	struct timespec om[2] = {{0, UTIME_OMIT}, {1500000000, 1}};
	OK(utimensat(AT_FDCWD, "f", om, 0));
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_atim, t[0]) == 0, "UTIME_OMIT changed atime");
	CHECK(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 1, "mtime %lld.%09ld, expected 1500000000.000000001",
	      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec before, after;
	clock_gettime(CLOCK_REALTIME, &before);
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	int fd = open("f", O_RDONLY);
	OK(fd);
	OK(futimens(fd, now));
	close(fd);
	clock_gettime(CLOCK_REALTIME, &after);
	RUN(lst("f", &st));
	before.tv_sec -= 1;	/* the kernel's coarse clock may lag the fine one */
	CHECK(ts_cmp(st.st_atim, before) >= 0 && ts_cmp(st.st_atim, after) <= 0,
	      "UTIME_NOW atime %lld.%09ld outside [%lld.%09ld, %lld.%09ld]", (long long)st.st_atim.tv_sec,
	      st.st_atim.tv_nsec, (long long)before.tv_sec, before.tv_nsec, (long long)after.tv_sec,
	      after.tv_nsec);
	CHECK(st.st_mtim.tv_sec == 1500000000, "UTIME_OMIT through futimens changed mtime");
	struct timespec old[2] = {{-1, 500000000}, {-86400 * 365, 0}};	/* before 1970 */
	OK(utimensat(AT_FDCWD, "f", old, 0));
	RUN(lst("f", &st));
	CHECK(ts_cmp(st.st_atim, old[0]) == 0 && ts_cmp(st.st_mtim, old[1]) == 0,
	      "times before 1970 read back as %lld.%09ld / %lld", (long long)st.st_atim.tv_sec,
	      st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec);
	return 0;
}

/* ---- xattrs ---- */

static bool list_has(const char *list, ssize_t n, const char *name)
{
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return true;
	return false;
}

static int case_xattr(void)
{
	char buf[256], list[4096];
	RUN(mkfile("f", 0644));
	ERR(getxattr("f", "user.a", buf, sizeof(buf)), ENODATA);
	OK(setxattr("f", "user.a", "value-a", 7, 0));
	OK(setxattr("f", "user.b", "", 0, 0));
	ssize_t n = getxattr("f", "user.a", buf, sizeof(buf));
	CHECK(n == 7 && !memcmp(buf, "value-a", 7), "getxattr user.a: %zd bytes", n);
	n = getxattr("f", "user.a", NULL, 0);
	CHECK(n == 7, "getxattr(size 0) of a 7-byte value gave %zd", n);
	ERR(getxattr("f", "user.a", buf, 3), ERANGE);
	n = getxattr("f", "user.b", buf, sizeof(buf));
	CHECK(n == 0, "getxattr of an empty value: %zd (%s)", n, n < 0 ? ename(errno) : "");
	ERR(setxattr("f", "user.a", "x", 1, XATTR_CREATE), EEXIST);
	ERR(setxattr("f", "user.c", "x", 1, XATTR_REPLACE), ENODATA);
	OK(setxattr("f", "user.a", "longer value", 12, XATTR_REPLACE));
	n = getxattr("f", "user.a", buf, sizeof(buf));
	CHECK(n == 12 && !memcmp(buf, "longer value", 12), "XATTR_REPLACE not read back (%zd bytes)", n);
	OK(setxattr("f", "user.c", "c", 1, XATTR_CREATE));
	n = listxattr("f", list, sizeof(list));
	CHECK(n > 0 && list_has(list, n, "user.a") && list_has(list, n, "user.b") && list_has(list, n, "user.c"),
	      "listxattr (%zd bytes) lacks user.a, user.b or user.c", n);
	ssize_t need = listxattr("f", NULL, 0);
	CHECK(need == n, "listxattr(size 0) gave %zd, the list is %zd", need, n);
	ERR(listxattr("f", list, 2), ERANGE);
	OK(removexattr("f", "user.b"));
	ERR(removexattr("f", "user.b"), ENODATA);
	ERR(getxattr("f", "user.b", buf, sizeof(buf)), ENODATA);
	n = listxattr("f", list, sizeof(list));
	CHECK(n > 0 && !list_has(list, n, "user.b") && list_has(list, n, "user.a"),
	      "listxattr after removexattr user.b is wrong");
	/* names: 255 bytes in all is the limit */
	char name[300] = "user.";
	memset(name + 5, 'n', 250);
	name[255] = 0;
	OK(setxattr("f", name, "1", 1, 0));
	name[255] = 'n';
	name[256] = 0;
	ERR(setxattr("f", name, "1", 1, 0), ERANGE);
	ERR(setxattr("f", "nonamespace", "1", 1, 0), EOPNOTSUPP);
	/* a fd works as a path does */
	int fd = open("f", O_RDONLY);
	OK(fd);
	n = fgetxattr(fd, "user.c", buf, sizeof(buf));
	close(fd);
	CHECK(n == 1 && buf[0] == 'c', "fgetxattr user.c: %zd", n);
	/* survives a rename and a hard link */
	OK(rename("f", "g"));
	OK(link("g", "h"));
	n = getxattr("h", "user.c", buf, sizeof(buf));
	CHECK(n == 1 && buf[0] == 'c', "xattr lost through rename + link: %zd", n);
	return 0;
}

static int case_xattr_limits(void)
{
	static char v[65537];
	RUN(mkfile("f", 0644));
	memset(v, 'v', sizeof(v));
	ERR(setxattr("f", "user.big", v, 65537, 0), E2BIG);
	size_t lo = 0, hi = 65536;	/* lo accepted, hi+1 refused */
	if (setxattr("f", "user.big", v, hi, 0) == 0) {
		lo = hi;
	} else {
		hi -= 1;
		while (lo < hi) {
			size_t mid = (lo + hi + 1) / 2;
			if (setxattr("f", "user.big", v, mid, 0) == 0) {
				lo = mid;
			} else {
				CHECK(errno == ENOSPC || errno == E2BIG || errno == ERANGE,
				      "setxattr of %zu bytes: %s (expected ENOSPC, E2BIG or ERANGE)", mid,
				      ename(errno));
				hi = mid - 1;
			}
		}
	}
	CHECK(lo >= 1000, "the largest xattr value accepted is %zu bytes (fewer than 1000)", lo);
	char *r = malloc(lo + 1);
	ssize_t n = getxattr("f", "user.big", r, lo + 1);
	bool same = n == (ssize_t)lo && !memcmp(r, v, lo);
	free(r);
	CHECK(same, "the %zu-byte value read back as %zd bytes", lo, n);
	OK(removexattr("f", "user.big"));
	int count = 0;
	char name[32], val[100];
	memset(val, 'x', sizeof(val));
	for (; count < 1000; count++) {
		snprintf(name, sizeof(name), "user.n%04d", count);
		if (setxattr("f", name, val, sizeof(val), 0) < 0) {
			CHECK(errno == ENOSPC || errno == E2BIG, "the %dth xattr: %s", count + 1, ename(errno));
			break;
		}
	}
	notef("largest value %zu bytes; %d%s xattrs of 100 bytes on one file", lo, count,
	      count == 1000 ? " (stopped)" : "");
	return 0;
}

static int case_xattr_perm(void)
{
	char b[16];
	RUN(mkfile("f", 0644));
	OK(setxattr("f", "user.x", "1", 1, 0));
	OK(chmod("f", 0444));
	if (C->root) {
		OK(setxattr("f", "user.y", "1", 1, 0));
		notef("root: setxattr on a read-only file allowed");
	} else {
		ERR(setxattr("f", "user.y", "1", 1, 0), EACCES);
		ERR(removexattr("f", "user.x"), EACCES);
		OK(chmod("f", 0));
		ERR(getxattr("f", "user.x", b, sizeof(b)), EACCES);
		OK(chmod("f", 0644));
	}
	OK(symlink("f", "l"));
	ERR(lsetxattr("l", "user.x", "1", 1, 0), EPERM);
	OK(mkfifo("p", 0644));
	ERR(setxattr("p", "user.x", "1", 1, 0), EPERM);
	if (!C->root)
		ERR(setxattr("f", "trusted.x", "1", 1, 0), EPERM);
	return 0;
}

/* ---- sizes ---- */

static int case_sparse(void)
{
	struct stat st;
	const off_t far = 64 << 20;
	uint8_t b[4096];
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	fillpat(b, sizeof(b), 0, 1);
	RUN(pw(fd, b, 4096, 0));
	fillpat(b, sizeof(b), far, 1);
	RUN(pw(fd, b, 4096, far));
	OK(fsync(fd));
	RUN(check_zero(fd, 4096, 1 << 20, "the hole after the first block"));
	RUN(check_zero(fd, far / 2, 1 << 20, "the middle of the hole"));
	RUN(check_zero(fd, far - 65536, 65536, "the end of the hole"));
	RUN(check_pat(fd, far, 4096, 1, "the data past the hole"));
	OK(fstat(fd, &st));
	CHECK(st.st_size == far + 4096, "size %lld, expected %lld", (long long)st.st_size, (long long)(far + 4096));
	CHECK((off_t)st.st_blocks * 512 < far / 4, "st_blocks %lld for a file of two 4 KiB blocks (%lld bytes)",
	      (long long)st.st_blocks, (long long)st.st_size);
	off_t d = lseek(fd, 0, SEEK_DATA);
	CHECK(d == 0, "SEEK_DATA from 0: %lld", (long long)d);
	off_t h = lseek(fd, 0, SEEK_HOLE);
	CHECK(h >= 4096 && h < far, "SEEK_HOLE from 0: %lld, expected in [4096, %lld)", (long long)h, (long long)far);
	d = lseek(fd, 1 << 20, SEEK_DATA);
	CHECK(d > (1 << 20) && d <= far, "SEEK_DATA from 1 MiB: %lld (%s), expected in (1 MiB, %lld]",
	      (long long)d, d < 0 ? ename(errno) : "no hole reported", (long long)far);
	h = lseek(fd, far, SEEK_HOLE);
	CHECK(h == far + 4096, "SEEK_HOLE in the last block: %lld, expected the size %lld", (long long)h,
	      (long long)(far + 4096));
	ERR(lseek(fd, far + 4096, SEEK_DATA), ENXIO);
	ERR(lseek(fd, far + 8192, SEEK_HOLE), ENXIO);
	/* truncate up leaves zeros */
	OK(ftruncate(fd, far + (8 << 20)));
	RUN(check_zero(fd, far + 4096, 4 << 20, "the tail after truncate up"));
	close(fd);
	notef("st_blocks %lld for %lld bytes", (long long)st.st_blocks, (long long)st.st_size);
	return 0;
}

static int case_large(void)
{
	static const off_t offs[] = {(1ll << 31) - 1000, (1ll << 32) - 1000, (4ll << 30) + (1 << 20) + 12345,
				     (1ll << 40) + 7777};
	const size_t len = 100 << 10;
	struct stat st;
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	uint8_t *b = malloc(len);
	CHECK(b, "out of memory");
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		fillpat(b, len, offs[i], 2);
		if (pw(fd, b, len, offs[i]) < 0) {
			free(b);
			return -1;
		}
	}
	free(b);
	OK(fstat(fd, &st));
	off_t end = offs[3] + (off_t)len;
	CHECK(st.st_size == end, "size %lld, expected %lld", (long long)st.st_size, (long long)end);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		RUN(check_pat(fd, offs[i], len, 2, "data written at a large offset"));
		RUN(check_zero(fd, offs[i] - 8192, 8192, "the hole before it"));
	}
	off_t d = lseek(fd, (1ll << 33), SEEK_DATA);
	CHECK(d > (1ll << 33) && d <= offs[3], "SEEK_DATA from 8 GiB: %lld", (long long)d);
	off_t cut = offs[2] + 50000;
	OK(ftruncate(fd, cut));
	OK(fstat(fd, &st));
	CHECK(st.st_size == cut, "size %lld after ftruncate to %lld", (long long)st.st_size, (long long)cut);
	RUN(check_pat(fd, offs[2], 50000, 2, "the bytes before the cut"));
	char c;
	CHECK(pread(fd, &c, 1, cut) == 0, "a read at the new end returned data");
	OK(ftruncate(fd, end));
	RUN(check_zero(fd, cut, (size_t)(offs[2] + (off_t)len - cut), "the re-extended tail"));
	RUN(check_zero(fd, offs[3], len, "the block past 2^40 after cut and re-extension"));
	close(fd);
	return 0;
}

/*
 * Truncating down past pointer-tree boundaries. mmfs (fs/format.h) keeps
 * 2896 / (8 r) pointers in the inode and (65536 - 64) / (8 r) per indirect
 * block for r replicas, at block sizes 64 KiB .. 16 MiB: the boundaries
 * are ni * B (the inode's direct span), ni * B + nd * B (the second
 * indirect block) and ni * nd * B (a second level). Those for B in 64 KiB,
 * 256 KiB, 1 MiB and r = 1, 2, plus a few small ones, get an 8 KiB
 * pattern across them; then, from the top down, the file is cut 1000 bytes
 * below each boundary, the bytes below the cut are checked, the file is
 * extended back and everything above the cut must read as zeros.
 */
static int case_truncate_indirect(void)
{
	off_t bnd[64];
	int n = 0;
	const off_t lim = 1ll << 43;
	for (off_t B = 64 << 10; B <= (1 << 20); B *= 4) {
		for (int r = 1; r <= 2; r++) {
			off_t ni = 2896 / (8 * r), nd = (65536 - 64) / (8 * r);
			off_t c[] = {ni * B, ni * B + nd * B, ni * nd * B};
			for (int k = 0; k < 3; k++)
				if (c[k] < lim)
					bnd[n++] = c[k];
		}
	}
	bnd[n++] = 65536;
	bnd[n++] = 1 << 20;
	bnd[n++] = 4ll << 30;
	/* sort, dedupe */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && bnd[j] < bnd[j - 1]; j--) {
			off_t x = bnd[j];
			bnd[j] = bnd[j - 1];
			bnd[j - 1] = x;
		}
	int m = 0;
	for (int i = 0; i < n; i++)
		if (!m || bnd[m - 1] != bnd[i])
			bnd[m++] = bnd[i];
	n = m;
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	uint8_t b[8192];
	for (int i = 0; i < n; i++) {
		fillpat(b, sizeof(b), bnd[i] - 4096, 3);
		RUN(pw(fd, b, sizeof(b), bnd[i] - 4096));
	}
	off_t size = bnd[n - 1] + 4096;
	for (int i = n - 1; i >= 0; i--) {
		off_t cut = bnd[i] - 1000;
		OK(ftruncate(fd, cut));
		struct stat st;
		OK(fstat(fd, &st));
		CHECK(st.st_size == cut, "size %lld after ftruncate to %lld", (long long)st.st_size, (long long)cut);
		RUN(check_pat(fd, bnd[i] - 4096, 3096, 3, "the bytes just below the cut"));
		OK(ftruncate(fd, size));
		RUN(check_zero(fd, cut, 1000 + 4096, "the re-extended bytes above the cut"));
		for (int j = i + 1; j < n; j++)
			RUN(check_zero(fd, bnd[j] - 4096, 8192, "an earlier chunk above the cut"));
		for (int j = 0; j < i; j++)
			RUN(check_pat(fd, bnd[j] - 4096, 8192, 3, "a chunk below the cut"));
	}
	close(fd);
	notef("%d boundaries, highest %lld", n, (long long)bnd[n - 1]);
	return 0;
}

static int case_truncate(void)
{
	struct stat st;
	uint8_t b[100];
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	fillpat(b, sizeof(b), 0, 4);
	RUN(pw(fd, b, 100, 0));
	OK(ftruncate(fd, 50));
	OK(ftruncate(fd, 5000));
	RUN(check_pat(fd, 0, 50, 4, "bytes below the cut"));
	RUN(check_zero(fd, 50, 4950, "the extension after a cut"));
	OK(truncate("f", 10));
	OK(fstat(fd, &st));
	CHECK(st.st_size == 10, "size %lld after truncate(path, 10)", (long long)st.st_size);
	close(fd);
	fd = open("f", O_RDONLY);
	OK(fd);
	ERR2(ftruncate(fd, 0), EINVAL, EBADF);
	close(fd);
	ERR(truncate("f", -1), EINVAL);
	OK(mkdir("d", 0755));
	ERR(truncate("d", 0), EISDIR);
	return 0;
}

static int case_append(void)
{
	char buf[256];
	struct stat st;
	int a = open("f", O_WRONLY | O_CREAT | O_APPEND, 0644);
	OK(a);
	int b = open("f", O_WRONLY | O_APPEND);
	OK(b);
	int plain = open("f", O_RDWR);
	OK(plain);
	char A[100], B[50], X[10];
	memset(A, 'A', sizeof(A));
	memset(B, 'B', sizeof(B));
	memset(X, 'X', sizeof(X));
	CHECK(write(a, A, 100) == 100, "write A");
	CHECK(write(b, B, 50) == 50, "write B");
	OK(lseek(a, 0, SEEK_SET));
	CHECK(write(a, "C", 1) == 1, "write C");
	CHECK(pwrite(plain, X, 10, 20) == 10, "pwrite X");
	CHECK(write(b, "D", 1) == 1, "write D");
	off_t pos = lseek(b, 0, SEEK_CUR);
	CHECK(pos == 152, "the O_APPEND fd's offset after its write is %lld, expected 152", (long long)pos);
	OK(fstat(plain, &st));
	CHECK(st.st_size == 152, "size %lld, expected 152", (long long)st.st_size);
	RUN(pr(plain, buf, 152, 0));
	for (int i = 0; i < 152; i++) {
		char want = i < 20 ? 'A' : i < 30 ? 'X' : i < 100 ? 'A' : i < 150 ? 'B' : i == 150 ? 'C' : 'D';
		CHECK(buf[i] == want, "byte %d is '%c', expected '%c' (two O_APPEND fds and a plain one)", i,
		      buf[i], want);
	}
	close(a);
	close(b);
	close(plain);
	return 0;
}

static int case_o_trunc_excl(void)
{
	struct stat st;
	struct tsnap t;
	RUN(wfile("f", "0123456789", 10, 0644));
	RUN(snap("f", &t));
	int fd = open("f", O_WRONLY | O_TRUNC);
	OK(fd);
	close(fd);
	RUN(lst("f", &st));
	CHECK(st.st_size == 0, "size %lld after O_TRUNC", (long long)st.st_size);
	RUN(changed("f", &t, true, "open(O_TRUNC)"));
	ERR(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	OK(mkdir("d", 0755));
	ERR(open("d", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	OK(symlink("target", "dangling"));
	ERR(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	ERR(lstat("target", &st), ENOENT);
	OK(symlink("f", "tofile"));
	ERR(open("tofile", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	fd = open("dangling", O_WRONLY | O_CREAT, 0644);	/* creates the target */
	OK(fd);
	close(fd);
	RUN(lst("target", &st));
	CHECK(S_ISREG(st.st_mode), "O_CREAT through a dangling symlink did not create its target");
	fd = open("new", O_RDWR | O_CREAT | O_EXCL, 0600);
	OK(fd);
	close(fd);
	return 0;
}

static int case_names(void)
{
	char n255[256], n256[257];
	struct stat st;
	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	int fd = open(n255, O_CREAT | O_WRONLY, 0644);
	OK(fd);
	close(fd);
	RUN(lst(n255, &st));
	ERR(open(n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	ERR(mkdir(n256, 0755), ENAMETOOLONG);
	ERR(lstat(n256, &st), ENAMETOOLONG);
	ERR(symlink("x", n256), ENAMETOOLONG);
	ERR(link(n255, n256), ENAMETOOLONG);
	ERR(rename(n255, n256), ENAMETOOLONG);
	ERR(mknod(n256, S_IFIFO | 0644, 0), ENAMETOOLONG);
	DIR *d = opendir(".");
	CHECK(d, "opendir .");
	bool seen = false;
	for (struct dirent *e; (e = readdir(d));)
		seen |= !strcmp(e->d_name, n255);
	closedir(d);
	CHECK(seen, "readdir does not return the 255-byte name");
	/* a path of 15 components of 250 bytes (3,765 bytes) works; past 4,095 fails */
	char comp[251], path[4400] = "";
	memset(comp, 'c', 250);
	comp[250] = 0;
	size_t len = 0;
	int depth = 0;
	for (; depth < 15; depth++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s", depth ? "/" : "", comp);
		OK(mkdir(path, 0755));
	}
	strcat(path, "/f");
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	OK(fd);
	close(fd);
	char longp[4400];
	snprintf(longp, sizeof(longp), "%.*s/%s/%s", (int)len, path, comp, comp);
	ERR(lstat(longp, &st), ENAMETOOLONG);
	OK(unlink(path));
	path[len] = 0;
	size_t full = len;
	for (; depth > 0; depth--) {
		OK(rmdir(path));
		char *s = strrchr(path, '/');
		if (s)
			*s = 0;
	}
	len = full;
	notef("path of %zu bytes", len);
	return 0;
}

static int case_eloop(void)
{
	struct stat st;
	RUN(mkfile("f", 0644));
	OK(symlink("b", "a"));
	OK(symlink("a", "b"));
	ERR(open("a", O_RDONLY), ELOOP);
	ERR(stat("a", &st), ELOOP);
	ERR(open("a/x", O_RDONLY), ELOOP);
	OK(symlink("f", "l"));
	ERR(open("l", O_RDONLY | O_NOFOLLOW), ELOOP);
	int fd = open("l", O_RDONLY);
	OK(fd);
	close(fd);
	/* a chain of 8 resolves; one of 50 does not */
	char a[16], b[16];
	for (int i = 0; i < 50; i++) {
		snprintf(a, sizeof(a), "c%d", i);
		snprintf(b, sizeof(b), i ? "c%d" : "f", i - 1);
		OK(symlink(b, a));
	}
	OK(stat("c7", &st));
	ERR(stat("c49", &st), ELOOP);
	char t[64];
	ssize_t n = readlink("l", t, sizeof(t));
	CHECK(n == 1 && t[0] == 'f', "readlink: %zd", n);
	RUN(lst("l", &st));
	CHECK(st.st_size == 1, "lstat of a symlink to \"f\": size %lld, expected 1", (long long)st.st_size);
	n = readlink("c12", t, 2);	/* truncated, not terminated */
	CHECK(n == 2 && t[0] == 'c' && t[1] == '1', "readlink into 2 bytes: %zd", n);
	ERR(readlink("f", t, sizeof(t)), EINVAL);
	/* targets up to PATH_MAX - 1 bytes (past what an inode holds), read
	 * back exactly; PATH_MAX is ENAMETOOLONG */
	static char big[PATH_MAX + 1], back[PATH_MAX + 1];
	static const size_t lens[] = {3000, PATH_MAX - 1};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < lens[k]; i++)
			big[i] = (char)('a' + (i * 13 + k) % 26);
		big[lens[k]] = 0;
		snprintf(a, sizeof(a), "long%zu", k);
		OK(symlink(big, a));
		n = readlink(a, back, sizeof(back));
		CHECK(n == (ssize_t)lens[k] && !memcmp(back, big, lens[k]),
		      "readlink of a %zu-byte target: %zd", lens[k], n);
		RUN(lst(a, &st));
		CHECK(st.st_size == (off_t)lens[k], "lstat size %lld of a %zu-byte target",
		      (long long)st.st_size, lens[k]);
	}
	OK(unlink("long0"));
	memset(big, 'z', PATH_MAX);
	big[PATH_MAX] = 0;
	ERR(symlink(big, "toolong"), ENAMETOOLONG);
	return 0;
}

static int case_notdir_isdir(void)
{
	char b[8];
	RUN(mkfile("f", 0644));
	OK(mkdir("d", 0755));
	ERR(open("f/x", O_RDONLY), ENOTDIR);
	ERR(open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	ERR(mkdir("f/x", 0755), ENOTDIR);
	ERR(open("f/", O_RDONLY), ENOTDIR);
	ERR(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	ERR(open("d", O_WRONLY), EISDIR);
	ERR(open("d", O_RDWR), EISDIR);
	ERR(unlink("d"), EISDIR);
	ERR(rmdir("f"), ENOTDIR);
	int fd = open("d", O_RDONLY);
	OK(fd);
	ERR(read(fd, b, sizeof(b)), EISDIR);
	close(fd);
	ERR(opendir("f") ? 0 : -1, ENOTDIR);
	return 0;
}

static int case_rmdir(void)
{
	OK(mkdir("d", 0755));
	RUN(mkfile("d/f", 0644));
	ERR2(rmdir("d"), ENOTEMPTY, EEXIST);
	ERR(rmdir("d/."), EINVAL);
	ERR(rmdir("."), EINVAL);
	ERR2(rmdir("d/.."), ENOTEMPTY, EEXIST);
	ERR(rmdir("missing"), ENOENT);
	OK(unlink("d/f"));
	OK(mkdir("d/s", 0755));
	ERR2(rmdir("d"), ENOTEMPTY, EEXIST);
	OK(rmdir("d/s"));
	OK(rmdir("d"));
	return 0;
}

static int case_mknod(void)
{
	struct stat st;
	struct statvfs sv;
	OK(mkfifo("p", 0644));
	RUN(lst("p", &st));
	CHECK(S_ISFIFO(st.st_mode), "mkfifo made mode %06o", st.st_mode);
	int fd = open("p", O_RDONLY | O_NONBLOCK);
	OK(fd);
	int w = open("p", O_WRONLY | O_NONBLOCK);
	OK(w);
	CHECK(write(w, "z", 1) == 1, "write to the fifo");
	char c = 0;
	CHECK(read(fd, &c, 1) == 1 && c == 'z', "read from the fifo");
	close(w);
	close(fd);
	OK(mknod("s", S_IFSOCK | 0644, 0));
	RUN(lst("s", &st));
	CHECK(S_ISSOCK(st.st_mode), "mknod S_IFSOCK made mode %06o", st.st_mode);
	/* a bound unix socket appears as a socket node */
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);
	OK(sk);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, "sk");
	OK(bind(sk, (struct sockaddr *)&sa, sizeof(sa)));
	close(sk);
	RUN(lst("sk", &st));
	CHECK(S_ISSOCK(st.st_mode), "a bound socket's node has mode %06o", st.st_mode);
	OK(statvfs(".", &sv));
	if (C->root) {
		OK(mknod("null", S_IFCHR | 0666, makedev(1, 3)));
		RUN(lst("null", &st));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
		      "char device: mode %06o rdev %u:%u, expected 1:3", st.st_mode, major(st.st_rdev),
		      minor(st.st_rdev));
		if (sv.f_flag & ST_NODEV) {
			ERR(open("null", O_RDONLY), EACCES);
			notef("nodev mount: opening the device refused");
		} else {
			fd = open("null", O_RDWR);
			OK(fd);
			CHECK(read(fd, &c, 1) == 0 && write(fd, "x", 1) == 1,
			      "the char device 1:3 does not behave as /dev/null");
			close(fd);
		}
		OK(mknod("blk", S_IFBLK | 0600, makedev(7, 200)));
		RUN(lst("blk", &st));
		CHECK(S_ISBLK(st.st_mode) && st.st_rdev == makedev(7, 200), "block device node wrong");
	} else {
		ERR(mknod("null", S_IFCHR | 0666, makedev(1, 3)), EPERM);
	}
	ERR(mknod("p", S_IFIFO | 0644, 0), EEXIST);
	return 0;
}

static int case_umask(void)
{
	struct stat st;
	umask(027);
	int fd = open("f", O_CREAT | O_WRONLY, 0666);
	OK(fd);
	close(fd);
	OK(mkdir("d", 0777));
	OK(mkfifo("p", 0666));
	umask(0);
	fd = open("g", O_CREAT | O_WRONLY, 0666);
	OK(fd);
	close(fd);
	umask(022);
	RUN(lst("f", &st));
	CHECK((st.st_mode & 07777) == 0640, "create 0666 under umask 027: %04o", st.st_mode & 07777);
	RUN(lst("d", &st));
	CHECK((st.st_mode & 07777) == 0750, "mkdir 0777 under umask 027: %04o", st.st_mode & 07777);
	RUN(lst("p", &st));
	CHECK((st.st_mode & 07777) == 0640, "mkfifo 0666 under umask 027: %04o", st.st_mode & 07777);
	RUN(lst("g", &st));
	CHECK((st.st_mode & 07777) == 0666, "create 0666 under umask 0: %04o", st.st_mode & 07777);
	return 0;
}

/* ---- readdir while another thread creates and removes ---- */

#define RD_KEEP 3000	/* present for the whole scan */
#define RD_VICTIMS 1000	/* removed during it */
#define RD_NEW_MAX (1 << 22)	/* created during it: the writer stops there */

struct rd_state {
	atomic_bool stop;
	atomic_int created, removed;
	int err;
};

static void *rd_writer(void *arg)
{
	struct rd_state *s = arg;
	char p[64];
	for (int i = 0; !atomic_load(&s->stop) && i < RD_NEW_MAX; i++) {
		snprintf(p, sizeof(p), "d/n%07d", i);
		int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
		if (fd < 0) {
			s->err = errno;
			break;
		}
		close(fd);
		atomic_fetch_add(&s->created, 1);
		if (i < RD_VICTIMS) {
			snprintf(p, sizeof(p), "d/v%05d", i);
			if (unlink(p) < 0) {
				s->err = errno;
				break;
			}
			atomic_fetch_add(&s->removed, 1);
		}
	}
	return NULL;
}

/* One scan: <chunk> entries at a time; between chunks, the position is
 * taken with telldir and the directory reopened and seekdir'ed there
 * (what a resumed getdents from a cookie does); with chunk 0 one
 * opendir, with a telldir/seekdir to the same place every 37 entries. */
static int rd_scan(int chunk, uint8_t *keep, uint8_t *vic, uint8_t *nw, int *newseen)
{
	DIR *d = opendir("d");
	if (!d)
		return failf("opendir: %s", ename(errno));
	int since = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			int er = errno;
			closedir(d);
			if (er)
				return failf("readdir: %s", ename(er));
			break;
		}
		const char *n = e->d_name;
		if (n[0] == 'k') {
			int i = atoi(n + 1);
			if (keep[i]++)
				return closedir(d), failf("scan (chunk %d): %s returned twice", chunk, n);
		} else if (n[0] == 'v') {
			int i = atoi(n + 1);
			if (vic[i]++)
				return closedir(d), failf("scan (chunk %d): %s returned twice", chunk, n);
		} else if (n[0] == 'n') {
			/* a name created during the scan may or may not appear, once */
			int i = atoi(n + 1);
			if (i >= 0 && i < RD_NEW_MAX && nw[i]++)
				return closedir(d), failf("scan (chunk %d): %s returned twice", chunk, n);
			(*newseen)++;
		}
		since++;
		if (chunk && since == chunk) {
			long pos = telldir(d);
			closedir(d);
			d = opendir("d");
			if (!d)
				return failf("reopen: %s", ename(errno));
			seekdir(d, pos);
			since = 0;
		} else if (!chunk && since % 37 == 0) {
			seekdir(d, telldir(d));
		}
	}
	for (int i = 0; i < RD_KEEP; i++)
		if (keep[i] != 1)
			return failf("scan (chunk %d): k%05d, present throughout, returned %d times", chunk, i, keep[i]);
	return 0;
}

static int case_readdir_concurrent(void)
{
	char p[64];
	OK(mkdir("d", 0755));
	for (int i = 0; i < RD_KEEP; i++) {
		snprintf(p, sizeof(p), "d/k%05d", i);
		RUN(mkfile(p, 0644));
	}
	for (int i = 0; i < RD_VICTIMS; i++) {
		snprintf(p, sizeof(p), "d/v%05d", i);
		RUN(mkfile(p, 0644));
	}
	static const int chunks[] = {0, 100, 7, 1000};
	struct rd_state s = {0};
	pthread_t th;
	if (pthread_create(&th, NULL, rd_writer, &s))
		return failf("pthread_create");
	int rc = 0, total_new = 0;
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]) && !rc; c++) {
		uint8_t keep[RD_KEEP] = {0}, vic[RD_VICTIMS] = {0};
		uint8_t *nw = calloc(RD_NEW_MAX, 1);
		int newseen = 0;
		rc = nw ? rd_scan(chunks[c], keep, vic, nw, &newseen) : failf("out of memory");
		free(nw);
		total_new += newseen;
	}
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	if (rc)
		return rc;
	CHECK(!s.err, "the creating thread failed: %s", ename(s.err));
	/* every name created by the writer is there now, once */
	DIR *d = opendir("d");
	CHECK(d, "opendir");
	int n = 0, want = RD_KEEP + (RD_VICTIMS - atomic_load(&s.removed)) + atomic_load(&s.created);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	CHECK(n == want, "after the writer stopped readdir gives %d names, expected %d", n, want);
	notef("%d created and %d removed during 4 scans; new names seen %d times", atomic_load(&s.created),
	      atomic_load(&s.removed), total_new);
	return 0;
}

/* ---- mmap, fsync, statfs ---- */

static int case_mmap(void)
{
	const size_t len = 64 << 10;
	uint8_t *b = malloc(len), r[256];
	CHECK(b, "out of memory");
	fillpat(b, len, 0, 5);
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	int rc = pw(fd, b, len, 0);
	if (rc) {
		free(b);
		return rc;
	}
	uint8_t *m = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		free(b);
		return failf("mmap: %s", ename(errno));
	}
	bool same = !memcmp(m, b, len);
	free(b);
	CHECK(same, "the mapping differs from what write() wrote");
	RUN(pw(fd, "written-by-pwrite", 17, 5000));
	CHECK(!memcmp(m + 5000, "written-by-pwrite", 17), "a pwrite is not visible through the mapping");
	memcpy(m + 9000, "stored-via-mmap", 15);
	RUN(pr(fd, r, 15, 9000));
	CHECK(!memcmp(r, "stored-via-mmap", 15), "a store into the mapping is not visible to pread");
	OK(msync(m, len, MS_SYNC));
	OK(ftruncate(fd, 2 * len));
	for (size_t i = len; i < 2 * len; i++)
		CHECK(m[i] == 0, "byte %zu of the mapping after ftruncate up is 0x%02x", i, m[i]);
	memcpy(m + len + 10, "tail", 4);
	OK(msync(m, 2 * len, MS_SYNC));
	munmap(m, 2 * len);
	close(fd);
	fd = open("f", O_RDONLY);
	OK(fd);
	RUN(pr(fd, r, 4, len + 10));
	CHECK(!memcmp(r, "tail", 4), "a store into the mapping's extension was lost after munmap");
	RUN(pr(fd, r, 15, 9000));
	CHECK(!memcmp(r, "stored-via-mmap", 15), "a store into the mapping was lost after munmap");
	close(fd);
	return 0;
}

/* A shared mapping of a file opened O_DIRECT (fsx -Z does it): the
 * mount asks for FUSE_DIRECT_IO_ALLOW_MMAP, which kernels before 6.6
 * do not have (mmap then fails with ENODEV: noted there, not failed). */
static int case_mmap_odirect(void)
{
	const size_t len = 64 << 10;
	uint8_t *b = aligned_alloc(4096, len);
	struct utsname u;
	unsigned maj = 0, min = 0;
	CHECK(b, "out of memory");
	fillpat(b, len, 0, 7);
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (fd < 0) {
		free(b);
		return failf("open O_DIRECT: %s", ename(errno));
	}
	ssize_t w = pwrite(fd, b, len, 0);
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		close(fd);
		free(b);
		if (e == ENODEV && uname(&u) == 0 && sscanf(u.release, "%u.%u", &maj, &min) == 2 &&
		    (maj < 6 || (maj == 6 && min < 6)))
		{
			notef("not run: kernel %s has no FUSE_DIRECT_IO_ALLOW_MMAP (6.6)", u.release);
			return 0;
		}
		return failf("mmap of an O_DIRECT descriptor: %s", ename(e));
	}
	bool same = w == (ssize_t)len && !memcmp(m, b, len);
	memcpy(m + 100, "via-mmap", 8);
	int ms = msync(m, len, MS_SYNC);
	munmap(m, len);
	ssize_t n = pread(fd, b, 4096, 0);
	close(fd);
	bool seen = n == 4096 && !memcmp(b + 100, "via-mmap", 8);
	free(b);
	CHECK(same, "the mapping differs from what the O_DIRECT write wrote");
	CHECK(ms == 0, "msync: %s", ename(errno));
	CHECK(seen, "a store into the mapping is not seen by an O_DIRECT read");
	return 0;
}

static bool entry_count_is(const char *dir, int want)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return false;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n == want;
}

/* open(O_TMPFILE): a file with no name, named by linkat through
 * /proc/self/fd (not with O_EXCL), freed at its last close. */
static int case_tmpfile(void)
{
	const size_t len = 100 << 10;
	uint8_t b[4096];
	char proc[64];
	struct stat st, sn;
	struct statvfs v0, v1;
	struct utsname u;
	unsigned maj = 0, min = 0;
	OK(mkdir("t", 0755));
	/* the files of the cases before go when the kernel forgets them,
	 * which it sends a moment after their unlinks: count from a steady
	 * figure (once a late forget made it look as if an inode leaked) */
	OK(statvfs("t", &v0));
	for (int i = 0; i < 40; i++) {
		sleep_ms(100);
		OK(statvfs("t", &v1));
		if (v1.f_ffree == v0.f_ffree)
			break;
		v0 = v1;
	}
	int fd = open("t", O_TMPFILE | O_RDWR, 0640);
	if (fd < 0 && errno == EOPNOTSUPP && uname(&u) == 0 &&
	    sscanf(u.release, "%u.%u", &maj, &min) == 2 && (maj < 6 || (maj == 6 && min < 1))) {
		notef("not run: kernel %s has no FUSE_TMPFILE (6.1)", u.release);
		return 0;
	}
	OK(fd);
	OK(fstat(fd, &st));
	mode_t um = umask(0);
	umask(um);
	CHECK(S_ISREG(st.st_mode) && st.st_nlink == 0, "fstat: mode %o nlink %lu, expected a regular file "
	      "with no links", st.st_mode, (unsigned long)st.st_nlink);
	CHECK((st.st_mode & 07777) == (0640 & ~um), "mode %o, expected %o", st.st_mode & 07777, 0640 & ~um);
	CHECK(st.st_uid == geteuid(), "owner %u, expected %u", st.st_uid, geteuid());
	CHECK(entry_count_is("t", 0), "the directory lists an entry for the unnamed file");
	for (size_t o = 0; o < len; o += sizeof(b)) {
		fillpat(b, sizeof(b), o, 8);
		RUN(pw(fd, b, sizeof(b), (off_t)o));
	}
	RUN(check_pat(fd, 0, len, 8, "the unnamed file"));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	OK(linkat(AT_FDCWD, proc, AT_FDCWD, "t/named", AT_SYMLINK_FOLLOW));
	OK(stat("t/named", &sn));
	CHECK(sn.st_ino == st.st_ino && sn.st_nlink == 1, "t/named: inode %lu nlink %lu, expected %lu and 1",
	      (unsigned long)sn.st_ino, (unsigned long)sn.st_nlink, (unsigned long)st.st_ino);
	close(fd);
	fd = open("t/named", O_RDONLY);
	OK(fd);
	RUN(check_pat(fd, 0, len, 8, "t/named"));
	close(fd);

	/* O_EXCL: never linkable */
	fd = open("t", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	OK(fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ERR(linkat(AT_FDCWD, proc, AT_FDCWD, "t/excl", AT_SYMLINK_FOLLOW), ENOENT);
	close(fd);

	/* unnamed: the inode and its 1 MiB come back after the close */
	uint8_t *m = malloc(1 << 20);
	CHECK(m, "out of memory");
	fillpat(m, 1 << 20, 0, 9);
	fd = open("t", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0) {
		free(m);
		return failf("open O_TMPFILE: %s", ename(errno));
	}
	ssize_t w = pwrite(fd, m, 1 << 20, 0);
	free(m);
	CHECK(w == 1 << 20, "pwrite of 1 MiB: %zd (%s)", w, ename(errno));
	OK(fsync(fd));
	OK(statvfs("t", &v1));
	CHECK(v1.f_ffree < v0.f_ffree, "f_ffree %llu with two new files, %llu before",
	      (unsigned long long)v1.f_ffree, (unsigned long long)v0.f_ffree);
	close(fd);
	/* the kernel forgets the inode after the close returns */
	for (int i = 0; i < 100; i++) {
		OK(statvfs("t", &v1));
		if (v1.f_ffree == v0.f_ffree - 1)
			break;
		sleep_ms(50);
	}
	CHECK(v1.f_ffree == v0.f_ffree - 1, "f_ffree %llu after the unnamed files closed, expected %llu "
	      "(one file kept)", (unsigned long long)v1.f_ffree, (unsigned long long)v0.f_ffree - 1);
	CHECK(entry_count_is("t", 1), "the directory does not list just t/named");
	return 0;
}

static int case_fsync(void)
{
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	RUN(pw(fd, "x", 1, 123456));
	OK(fsync(fd));
	OK(fdatasync(fd));
	OK(syncfs(fd));
	close(fd);
	fd = open("f", O_RDONLY);
	OK(fd);
	OK(fsync(fd));	/* a read-only fd may be synced */
	close(fd);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	OK(fd);
	OK(fsync(fd));
	OK(fdatasync(fd));
	close(fd);
	return 0;
}

static int case_statfs(void)
{
	struct statvfs a, b, c;
	OK(statvfs(".", &a));
	CHECK(a.f_bsize > 0 && a.f_frsize > 0, "block sizes %lu/%lu", a.f_bsize, a.f_frsize);
	CHECK(a.f_blocks > 0 && a.f_bfree <= a.f_blocks && a.f_bavail <= a.f_bfree,
	      "blocks %llu free %llu avail %llu", (unsigned long long)a.f_blocks, (unsigned long long)a.f_bfree,
	      (unsigned long long)a.f_bavail);
	CHECK(a.f_ffree <= a.f_files, "inodes %llu free %llu", (unsigned long long)a.f_files,
	      (unsigned long long)a.f_ffree);
	CHECK(a.f_namemax >= 255, "f_namemax %lu", a.f_namemax);
	const size_t chunk = 1 << 20, total = 32 << 20;
	uint8_t *buf = malloc(chunk);
	CHECK(buf, "out of memory");
	fillpat(buf, chunk, 0, 6);
	int fd = open("f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	OK(fd);
	for (size_t o = 0; o < total; o += chunk)
		if (pw(fd, buf, chunk, (off_t)o) < 0) {
			free(buf);
			return -1;
		}
	free(buf);
	OK(fsync(fd));
	close(fd);
	OK(statvfs(".", &b));
	OK(unlink("f"));
	sync();
	sleep_ms(200);
	OK(statvfs(".", &c));
	double used = ((double)a.f_bfree - (double)b.f_bfree) * a.f_frsize;
	double freed = ((double)c.f_bfree - (double)b.f_bfree) * a.f_frsize;
	notef("32 MiB written: free space fell %.1f MiB, unlink gave back %.1f MiB", used / 1048576,
	      freed / 1048576);
	CHECK(used >= total / 2, "writing 32 MiB lowered f_bfree by only %.1f MiB", used / 1048576);
	CHECK(freed >= total / 2, "unlinking it raised f_bfree by only %.1f MiB", freed / 1048576);
	return 0;
}

/* ---- a directory of many entries ---- */

static int big_dir(long n)
{
	char p[64];
	OK(mkdir("d", 0755));
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "d/e%08ld", i);
		int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
		if (fd < 0)
			return failf("create of entry %ld (%s): %s", i, p, ename(errno));
		close(fd);
	}
	struct stat st;
	for (long i = n - 1; i >= 0; i -= 1) {
		snprintf(p, sizeof(p), "d/e%08ld", i);
		if (lstat(p, &st) < 0)
			return failf("lookup of entry %ld of %ld: %s", i, n, ename(errno));
	}
	snprintf(p, sizeof(p), "d/e%08ld", n);
	ERR(lstat(p, &st), ENOENT);
	uint8_t *seen = calloc((size_t)n, 1);
	CHECK(seen, "out of memory");
	DIR *d = opendir("d");
	long cnt = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		long i = atol(e->d_name + 1);
		if (e->d_name[0] != 'e' || i < 0 || i >= n || seen[i]++) {
			closedir(d);
			free(seen);
			return failf("readdir returned %s %s", e->d_name, i >= 0 && i < n ? "twice" : "(not created)");
		}
		cnt++;
	}
	if (d)
		closedir(d);
	free(seen);
	CHECK(cnt == n, "readdir returned %ld of %ld entries", cnt, n);
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "d/e%08ld", i);
		if (unlink(p) < 0)
			return failf("unlink of entry %ld: %s", i, ename(errno));
	}
	OK(rmdir("d"));
	notef("%ld entries", n);
	return 0;
}

static int case_dirsize(void) { return big_dir(opt_n); }
static int case_bigdir(void) { return big_dir(1000000); }

/* ---- the case table ---- */

enum { K_ANY, K_ROOT, K_EXPLICIT };

static const struct pcase {
	const char *name;
	int (*fn)(void);
	int kind;
	const char *what;
} cases[] = {
	{"perm_bits", case_perm_bits, K_ROOT, "r/w/x of owner, group (primary and supplementary), other; dir search/list/create"},
	{"perm_root", case_perm_root, K_ROOT, "root bypasses r/w/search, but exec needs some x bit"},
	{"perm_dir_ops", case_perm_dir_ops, K_ROOT, "create/unlink/rename/mkdir/rmdir need write on the dir"},
	{"sticky", case_sticky, K_ROOT, "sticky dirs: unlink/rename by non-owner refused; dir owner and root may"},
	{"setgid_dir", case_setgid_dir, K_ROOT, "setgid dirs: new files take the dir's group, new dirs the bit"},
	{"suid_clear_write", case_suid_clear_write, K_ROOT, "setuid/setgid cleared by a non-root write/truncate"},
	{"suid_clear_nofsetid", case_suid_clear_nofsetid, K_ROOT, "setuid/setgid cleared by root's write/truncate/O_TRUNC without CAP_FSETID"},
	{"suid_clear_chown", case_suid_clear_chown, K_ROOT, "setuid/setgid cleared by chown"},
	{"fcaps_clear_write", case_fcaps_clear_write, K_ROOT, "file capabilities dropped by any write/truncate (a non-owner's succeeds), O_TRUNC of an empty file too"},
	{"chmod_rules", case_chmod_rules, K_ROOT, "chmod by non-owner EPERM; setgid of a foreign group dropped"},
	{"chown_rules", case_chown_rules, K_ROOT, "chown needs root; chgrp needs ownership and membership; chown -1 -1"},
	{"utimes_rules", case_utimes_rules, K_ROOT, "UTIME_NOW needs write permission, explicit times ownership"},
	{"acl_named", case_acl_named, K_ROOT, "ACL named user / named group grant access, mask limits it"},
	{"acl_minimal", case_acl_minimal, K_ANY, "a minimal access ACL sets the mode; invalid ACL EINVAL"},
	{"acl_default", case_acl_default, K_ANY, "default ACLs inherited by new files and dirs, umask ignored"},
	{"rename_file", case_rename_file, K_ANY, "rename over a file, onto itself and a hard link, of a symlink"},
	{"rename_dir", case_rename_dir, K_ANY, "over an empty dir, ENOTEMPTY, ENOTDIR, EISDIR, into itself EINVAL"},
	{"rename_dotdot", case_rename_dotdot, K_ANY, ".. and link counts of a moved directory"},
	{"rename_flags", case_rename_flags, K_ANY, "RENAME_NOREPLACE, RENAME_EXCHANGE of a file and a dir"},
	{"nlink", case_nlink, K_ANY, "link counts of files and directories; link to a dir EPERM"},
	{"unlink_open", case_unlink_open, K_ANY, "an unlinked open file: nlink 0, still read and written"},
	{"times_data", case_times_data, K_ANY, "mtime/ctime on write, ftruncate, truncate"},
	{"times_dir", case_times_dir, K_ANY, "parent mtime/ctime on create, link, unlink, rename, mkdir, rmdir, symlink, mkfifo; target ctime"},
	{"times_attr", case_times_attr, K_ANY, "ctime on chmod, chown (also -1 -1), setxattr, removexattr"},
	{"atime", case_atime, K_ANY, "atime on read as the mount's atime flags promise (reported)"},
	{"utimens", case_utimens, K_ANY, "nanoseconds kept, UTIME_OMIT, UTIME_NOW, times before 1970"},
	{"xattr", case_xattr, K_ANY, "user.* set/get/list/remove, CREATE/REPLACE, ERANGE, ENODATA, 255-byte names"},
	{"xattr_limits", case_xattr_limits, K_ANY, "the largest value and number of xattrs (reported)"},
	{"xattr_perm", case_xattr_perm, K_ANY, "user xattrs need write permission; none on symlinks and fifos"},
	{"sparse", case_sparse, K_ANY, "holes read as zeros, SEEK_DATA/SEEK_HOLE, st_blocks below the size"},
	{"large", case_large, K_ANY, "writes across 2^31, 2^32, at 4 GiB + x and 2^40 + x; cut and re-extend"},
	{"truncate_indirect", case_truncate_indirect, K_ANY, "truncate down past pointer-tree boundaries, then re-extend"},
	{"truncate", case_truncate, K_ANY, "truncate up/down, on a read-only fd, of a dir"},
	{"append", case_append, K_ANY, "O_APPEND from two fds always writes at the end"},
	{"o_trunc_excl", case_o_trunc_excl, K_ANY, "O_TRUNC; O_EXCL (also on a dangling symlink); O_CREAT through one"},
	{"names", case_names, K_ANY, "255-byte names work, 256 ENAMETOOLONG; paths to 4,095 bytes"},
	{"eloop", case_eloop, K_ANY, "symlink loops and chains ELOOP, O_NOFOLLOW, readlink, targets up to PATH_MAX - 1"},
	{"notdir_isdir", case_notdir_isdir, K_ANY, "ENOTDIR and EISDIR cases"},
	{"rmdir", case_rmdir, K_ANY, "rmdir of non-empty, ., .., missing"},
	{"mknod", case_mknod, K_ANY, "fifo, socket (mknod and bind); as root char and block devices"},
	{"umask", case_umask, K_ANY, "umask on create, mkdir, mkfifo"},
	{"readdir_concurrent", case_readdir_concurrent, K_ANY, "readdir with telldir/seekdir while a thread creates and removes"},
	{"mmap", case_mmap, K_ANY, "mmap and read/write of one file see each other"},
	{"mmap_odirect", case_mmap_odirect, K_ANY, "a shared mapping of a file opened O_DIRECT"},
	{"tmpfile", case_tmpfile, K_ANY, "O_TMPFILE: unnamed, linkat names it (not with O_EXCL), freed at close"},
	{"fsync", case_fsync, K_ANY, "fsync/fdatasync/syncfs of files and dirs return 0"},
	{"statfs", case_statfs, K_ANY, "statvfs values sane; writing and unlinking move the free count"},
	{"dirsize", case_dirsize, K_ANY, "a directory of -n N entries: every lookup, readdir complete"},
	{"bigdir", case_bigdir, K_EXPLICIT, "a directory of 1,000,000 entries (only with -k bigdir)"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- running ---- */

static int rm_pre(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)f;
	if (type == FTW_D || type == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)f;
	if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static void rm_rf(const char *p)
{
	nftw(p, rm_pre, 32, FTW_PHYS);
	nftw(p, rm_one, 32, FTW_PHYS | FTW_DEPTH);
}

/* Run case <pc> in <dir>, as <drop> (NULL: as we are). Returns 0 pass,
 * 1 fail. */
static int run_case(const struct pcase *pc, const char *dir, const struct cred *drop)
{
	char as[64] = "";
	if (drop)
		snprintf(as, sizeof(as), " (as %u:%u)", (unsigned)drop->uid, (unsigned)drop->gid);
	if (mkdir(dir, 0755) < 0 || (drop && chown(dir, drop->uid, drop->gid) < 0)) {
		printf("FAIL %s%s: could not make its directory %s: %s\n", pc->name, as, dir, ename(errno));
		return 1;
	}
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		struct ctx cx = {0};
		C = &cx;
		if (drop && drop_to(drop) < 0) {
			printf("FAIL %s%s: could not drop credentials: %s\n", pc->name, as, ename(errno));
			_exit(1);
		}
		cx.root = geteuid() == 0;
		umask(022);
		alarm(CASE_TIMEOUT_S);
		if (chdir(dir) < 0) {
			printf("FAIL %s%s: chdir %s: %s\n", pc->name, as, dir, ename(errno));
			_exit(1);
		}
		int rc = pc->fn();
		if (rc == 0) {
			if (cx.note[0] && opt_verbose)
				printf("PASS %s%s (%s)\n", pc->name, as, cx.note);
			else
				printf("PASS %s%s\n", pc->name, as);
		} else {
			printf("FAIL %s%s: %s%s%s%s\n", pc->name, as, cx.msg, cx.note[0] ? " (" : "", cx.note,
			       cx.note[0] ? ")" : "");
		}
		fflush(stdout);
		_exit(rc == 0 ? 0 : 1);
	}
	int st = 0;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	rm_rf(dir);
	if (WIFSIGNALED(st)) {
		printf("FAIL %s%s: the case died of signal %s%s\n", pc->name, as, sigabbrev_np(WTERMSIG(st)),
		       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
		return 1;
	}
	return WEXITSTATUS(st) != 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: posixcheck DIR [-u UID:GID] [-k case,...] [-n N] [-l] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *top = NULL, *only = NULL;
	bool list = false;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-l")) {
			list = true;
		} else if (!strcmp(a, "-v")) {
			opt_verbose = true;
		} else if (!strcmp(a, "-u") && i + 1 < argc) {
			unsigned u, g;
			char extra;
			if (sscanf(argv[++i], "%u:%u%c", &u, &g, &extra) != 2 || u < 3 || g < 3 || u >= 65535 ||
			    g >= 65535) {
				fprintf(stderr, "posixcheck: -u %s: expected UID:GID, each 3..65534\n", argv[i]);
				exit(2);
			}
			opt_uid = u, opt_gid = g;
		} else if (!strcmp(a, "-k") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(a, "-n") && i + 1 < argc) {
			char *end;
			opt_n = strtol(argv[++i], &end, 10);
			if (*end || opt_n < 1 || opt_n > 100000000) {
				fprintf(stderr, "posixcheck: -n %s: expected a count 1..100000000\n", argv[i]);
				exit(2);
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "posixcheck: unknown option %s\n", a);
			usage();
		} else if (!top) {
			top = a;
		} else {
			usage();
		}
	}
	if (list) {
		for (size_t i = 0; i < NCASES; i++)
			printf("%-20s %-8s %s\n", cases[i].name,
			       cases[i].kind == K_ROOT ? "root" : cases[i].kind == K_EXPLICIT ? "explicit" : "any",
			       cases[i].what);
		return 0;
	}
	if (!top)
		usage();
	bool want[NCASES];
	for (size_t i = 0; i < NCASES; i++)
		want[i] = cases[i].kind != K_EXPLICIT;
	if (only) {
		memset(want, 0, sizeof(want));
		char *s = strdup(only), *save = NULL;
		for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			size_t i;
			for (i = 0; i < NCASES && strcmp(cases[i].name, t); i++)
				;
			if (i == NCASES) {
				fprintf(stderr, "posixcheck: -k: no case named '%s' (-l lists them)\n", t);
				exit(2);
			}
			want[i] = true;
		}
		free(s);
	}
	struct stat st;
	if (stat(top, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "posixcheck: %s: not a directory (%s)\n", top, stat(top, &st) < 0 ? ename(errno) : "");
		exit(2);
	}
	char *rtop = realpath(top, NULL);
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s/posixcheck.%d", rtop, (int)getpid());
	free(rtop);
	if (mkdir(base, 0755) < 0 || chmod(base, 0755) < 0) {
		fprintf(stderr, "posixcheck: mkdir %s: %s\n", base, ename(errno));
		exit(2);
	}
	bool root = geteuid() == 0;
	init_ids();
	struct cred me = {"user", opt_uid, opt_gid, 1, {opt_gid}};
	if (root) {
		int r = as_op(&me, (struct op){OP_OPENDIR, base});
		if (r) {
			fprintf(stderr, "posixcheck: %s is not reachable as %u:%u (%s): every directory above it needs search (x) permission for other users\n",
				base, (unsigned)opt_uid, (unsigned)opt_gid, rname(r));
			rm_rf(base);
			exit(2);
		}
	}
	int pass = 0, fail = 0, skip = 0;
	for (size_t i = 0; i < NCASES; i++) {
		if (!want[i])
			continue;
		char dir[PATH_MAX + 64];
		if (cases[i].kind == K_ROOT && !root) {
			printf("SKIP %s: needs root (it acts as several users)\n", cases[i].name);
			skip++;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", base, cases[i].name);
		int f = run_case(&cases[i], dir, NULL);
		f ? fail++ : pass++;
		if (root && cases[i].kind != K_ROOT) {
			snprintf(dir, sizeof(dir), "%s/%s.u", base, cases[i].name);
			f = run_case(&cases[i], dir, &me);
			f ? fail++ : pass++;
		}
	}
	rm_rf(base);
	printf("posixcheck: %d passed, %d failed, %d skipped (%s)\n", pass, fail, skip, base);
	return fail ? 1 : 0;
}
