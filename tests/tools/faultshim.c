/*
 * tests/tools/faultshim.c - an LD_PRELOAD library that makes a correct
 * file system look broken, to show that posixcheck, fsrandom and
 * crashcheck notice (tests/tools/README.md, "Can the tools fail?").
 * Built as build/tools/faultshim.so (its own Makefile rule).
 *
 *   FAULTSHIM_OP=write|trunc|rename|utimens|mode  which fault (required)
 *   FAULTSHIM_AFTER=N    leave the first N matching calls alone (default 0)
 *   FAULTSHIM_COUNT=M    then fault M calls (default 1; 0: every one)
 *   FAULTSHIM_PATH=S     only calls on paths (or fds whose path) contain S
 *
 * The faults, each a bug FUSE file systems have had:
 *   write    pwrite/pwrite64/write store the data with one byte (the middle
 *            one) flipped, and report success
 *   trunc    ftruncate/truncate shrinking to an unaligned size stop at the
 *            next 4 KiB boundary: the size is wrong and the cut bytes stay
 *   rename   rename/renameat/renameat2 report success and do nothing
 *   utimens  utimensat/futimens drop the nanoseconds of explicit times
 *   mode     chmod/fchmod/fchmodat drop the setuid, setgid and sticky bits
 *
 * Counting is per process (a forked child starts from its parent's
 * count). The first few faults are reported on stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static const char *cfg_op(void)
{
	const char *s = getenv("FAULTSHIM_OP");
	return s ? s : "";
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 0) : dflt;
}

static long seen, done_faults;

static bool path_matches(const char *path)
{
	const char *want = getenv("FAULTSHIM_PATH");
	return !want || !*want || (path && strstr(path, want));
}

static bool fd_matches(int fd)
{
	const char *want = getenv("FAULTSHIM_PATH");
	if (!want || !*want)
		return true;
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = 0;
	return strstr(path, want) != NULL;
}

/* Is this (matching) call of fault <op> to be faulted? */
static bool strike(const char *op, bool matches)
{
	if (strcmp(cfg_op(), op) || !matches)
		return false;
	long after = env_long("FAULTSHIM_AFTER", 0), count = env_long("FAULTSHIM_COUNT", 1);
	long n = seen++;
	if (n < after || (count > 0 && done_faults >= count))
		return false;
	done_faults++;
	return true;
}

static void say(const char *fmt, ...)
{
	if (done_faults > 3)
		return;
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0) {
		ssize_t w = write(2, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
		(void)w;
	}
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static ssize_t flipped_write(int fd, const void *b, size_t n, off_t off, bool positional)
{
	char *copy = malloc(n);
	if (!copy)
		return -1;
	memcpy(copy, b, n);
	copy[n / 2] ^= 0x5a;
	say("faultshim: write #%ld (fd %d, %zu bytes at %lld): byte %zu flipped\n", seen, fd, n,
	    positional ? (long long)off : -1ll, n / 2);
	ssize_t r = positional ? REAL(pwrite64)(fd, copy, n, off) : REAL(write)(fd, copy, n);
	free(copy);
	return r;
}

ssize_t pwrite64(int fd, const void *b, size_t n, off_t off)
{
	if (n && strike("write", fd_matches(fd)))
		return flipped_write(fd, b, n, off, true);
	return REAL(pwrite64)(fd, b, n, off);
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
	return pwrite64(fd, b, n, off);
}

ssize_t write(int fd, const void *b, size_t n)
{
	if (fd > 2 && n && strike("write", fd_matches(fd)))
		return flipped_write(fd, b, n, 0, false);
	return REAL(write)(fd, b, n);
}

static off_t bad_len(off_t cur, off_t len)
{
	if (len >= cur || len % 4096 == 0)
		return len;
	off_t up = (len + 4095) & ~(off_t)4095;
	return up < cur ? up : cur;
}

int ftruncate64(int fd, off_t len)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && bad_len(st.st_size, len) != len && strike("trunc", fd_matches(fd))) {
		say("faultshim: ftruncate #%ld (fd %d) to %lld stops at %lld\n", seen, fd, (long long)len,
		    (long long)bad_len(st.st_size, len));
		len = bad_len(st.st_size, len);
	}
	return REAL(ftruncate64)(fd, len);
}

int ftruncate(int fd, off_t len)
{
	return ftruncate64(fd, len);
}

int truncate64(const char *p, off_t len)
{
	struct stat st;
	if (stat(p, &st) == 0 && bad_len(st.st_size, len) != len && strike("trunc", path_matches(p))) {
		say("faultshim: truncate #%ld (%s) to %lld stops at %lld\n", seen, p, (long long)len,
		    (long long)bad_len(st.st_size, len));
		len = bad_len(st.st_size, len);
	}
	return REAL(truncate64)(p, len);
}

int truncate(const char *p, off_t len)
{
	return truncate64(p, len);
}

int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags)
{
	if (strike("rename", path_matches(o) || path_matches(n))) {
		say("faultshim: rename #%ld (%s -> %s) not done\n", seen, o, n);
		return 0;
	}
	return REAL(renameat2)(ofd, o, nfd, n, flags);
}

int renameat(int ofd, const char *o, int nfd, const char *n)
{
	return renameat2(ofd, o, nfd, n, 0);
}

int rename(const char *o, const char *n)
{
	return renameat2(AT_FDCWD, o, AT_FDCWD, n, 0);
}

static const struct timespec *drop_ns(const struct timespec *t, struct timespec *out, const char *what)
{
	if (!t)
		return t;
	bool changed = false;
	for (int i = 0; i < 2; i++) {
		out[i] = t[i];
		if (t[i].tv_nsec != UTIME_NOW && t[i].tv_nsec != UTIME_OMIT && t[i].tv_nsec) {
			out[i].tv_nsec = 0;
			changed = true;
		}
	}
	if (!changed || !strike("utimens", path_matches(what)))
		return t;
	say("faultshim: utimens #%ld (%s): nanoseconds dropped\n", seen, what ? what : "fd");
	return out;
}

int utimensat(int dfd, const char *p, const struct timespec t[2], int flags)
{
	struct timespec b[2];
	return REAL(utimensat)(dfd, p, drop_ns(t, b, p), flags);
}

int futimens(int fd, const struct timespec t[2])
{
	struct timespec b[2];
	return REAL(futimens)(fd, drop_ns(t, b, NULL));
}

static mode_t strip(mode_t m, const char *what)
{
	if (!(m & 07000) || !strike("mode", path_matches(what)))
		return m;
	say("faultshim: chmod #%ld (%s) %04o: special bits dropped\n", seen, what ? what : "fd", m);
	return m & 0777;
}

int chmod(const char *p, mode_t m)
{
	return REAL(chmod)(p, strip(m, p));
}

int fchmod(int fd, mode_t m)
{
	return REAL(fchmod)(fd, strip(m, NULL));
}

int fchmodat(int dfd, const char *p, mode_t m, int flags)
{
	return REAL(fchmodat)(dfd, p, strip(m, p), flags);
}
