/*
 * tests/tools/fsrandom.c - random file operations checked against an
 * in-memory model, in the manner of fsx (issue 12, "Tests in make check").
 *
 *   fsrandom DIR [-s SEED] [-n OPS] [-f FILES] [-S MAXSIZE] [-L MAXLEN]
 *                [-K EVERY] [-r 'CMD'] [-z] [-x] [-k] [-q]
 *
 * Works on FILES files (default 4) in DIR/fsrandom.<SEED>/, each at most
 * MAXSIZE bytes (default 8M; suffixes K, M, G; at most 64G, the model
 * keeps only written 64 KiB chunks). Each operation is drawn from a
 * splitmix64 stream seeded by SEED, so one seed always gives the same
 * operations (the seed is printed; -s repeats a run):
 *
 *   write     pwrite at a random offset: inside the file, across a 4 KiB,
 *             64 KiB or 1 MiB boundary, at the end, or far past it (a
 *             hole); up to MAXLEN bytes (default 256K)
 *   read      pread, every byte compared with the model
 *   truncate  ftruncate up or down
 *   punch     fallocate(PUNCH_HOLE | KEEP_SIZE): the range reads as zeros
 *   falloc    fallocate(0) (the size may grow) or KEEP_SIZE
 *   zero      with -z: fallocate(ZERO_RANGE), with KEEP_SIZE or not:
 *             zeros, and without KEEP_SIZE the size may grow (not in the
 *             default mix, so one seed draws the same operations on file
 *             systems without it, tmpfs for one)
 *   mapread   mmap a range inside the size and compare it
 *   mapwrite  store into an mmap of a range inside the size
 *   reopen    close and open again
 *   fsync     fsync or fdatasync
 *   xattr     with -x: set, replace or remove one of XNAMES user.* names
 *             of the file (values of 0 to 65,536 bytes, most small), or
 *             read one back; a set refused with ENOSPC must leave the old
 *             value (read back at once). Not in the default mix either.
 *
 * After every operation the size (fstat) must equal the model's. Every
 * EVERY operations (default 10000) and at the end, a "remount": all files
 * are closed, CMD (-r, e.g. "mmumount fs1 && mmmount fs1") runs through
 * /bin/sh, the files are opened again and EVERY byte of every file is
 * checked against the model, with its size (holes the file system reports
 * through SEEK_DATA must be zeros in the model; 4 KiB of each is read);
 * with -x every file's names (listxattr) and values too.
 *
 * An operation the file system refuses with EOPNOTSUPP (fallocate,
 * punch, zero range) is dropped from the mix and said so in the summary;
 * KEEP_SIZE past the end refused is dropped alone (the variants within
 * the size stay).
 *
 * On a mismatch it prints the last 30 operations, the file, offset,
 * expected and actual bytes, leaves the files in place and exits 1; other
 * failures (an unexpected errno, CMD failing) exit 2. -k keeps the files
 * after success; -q prints only the summary. FSRANDOM_TRACE=1 in the
 * environment prints every operation to stderr as it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((off_t)64 << 10)
#define LOG_KEEP 30
#define MAX_FILES 64
#define MAX_MODEL ((off_t)64 << 30)

enum { OP_WRITE, OP_READ, OP_TRUNC, OP_PUNCH, OP_FALLOC, OP_MAPREAD, OP_MAPWRITE, OP_REOPEN,
       OP_FSYNC, OP_ZERO, OP_XATTR, OP_NOPS };
static const char *const op_name[] = {"write", "read", "truncate", "punch", "falloc",
				      "mapread", "mapwrite", "reopen", "fsync", "zero", "xattr"};
/* weights of the mix; set to 0 when the file system refuses the operation */
static int weight[OP_NOPS] = {30, 20, 8, 6, 6, 8, 4, 4, 4, 0, 0};
static long xenospc;		/* xattr sets refused for room */
/* fallocate with KEEP_SIZE past the end was refused (EOPNOTSUPP) */
static bool no_keep_past_end;
static long counts[OP_NOPS];

#define XNAMES 12
#define XVAL_MAX 65536

struct mfile {
	char path[PATH_MAX];
	int fd;
	off_t size;
	uint8_t **chunk;	/* CHUNK bytes each; NULL reads as zeros */
	/* user.fr<i>: absent when xlen[i] < 0, else xlen[i] bytes from xseed[i] */
	int32_t xlen[XNAMES];
	uint64_t xseed[XNAMES];
};

static struct mfile files[MAX_FILES];
static int nfiles = 4;
static off_t maxsize = 8 << 20;
static size_t maxlen = 256 << 10;
static uint64_t seed, rng;
static long opno;
static uint8_t *buf, *rbuf;
static char logring[LOG_KEEP][200];
static bool quiet;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

__attribute__((format(printf, 1, 2))) static void logop(const char *fmt, ...)
{
	char *s = logring[opno % LOG_KEEP];
	int k = snprintf(s, sizeof(logring[0]), "#%ld ", opno);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s + k, sizeof(logring[0]) - (size_t)k, fmt, ap);
	va_end(ap);
	/* FSRANDOM_TRACE: every operation as it is done, to stderr */
	if (getenv("FSRANDOM_TRACE"))
		fprintf(stderr, "%s\n", s);
}

static void print_log(void)
{
	printf("last operations (oldest first):\n");
	for (long i = opno - LOG_KEEP + 1; i <= opno; i++)
		if (i >= 0 && logring[i % LOG_KEEP][0])
			printf("  %s\n", logring[i % LOG_KEEP]);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	printf("fsrandom: seed %" PRIu64 ", op #%ld: ", seed, opno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	print_log();
	exit(2);
}

/* ---- the model ---- */

static void m_write(struct mfile *f, off_t off, const uint8_t *src, size_t len)
{
	while (len) {
		off_t ci = off / CHUNK, co = off % CHUNK;
		size_t n = (size_t)(CHUNK - co) < len ? (size_t)(CHUNK - co) : len;
		if (!f->chunk[ci]) {
			f->chunk[ci] = calloc(1, CHUNK);
			if (!f->chunk[ci])
				die("out of memory for the model");
		}
		memcpy(f->chunk[ci] + co, src, n);
		off += (off_t)n, src += n, len -= n;
	}
}

static void m_zero(struct mfile *f, off_t off, off_t len)
{
	while (len > 0) {
		off_t ci = off / CHUNK, co = off % CHUNK;
		off_t n = CHUNK - co < len ? CHUNK - co : len;
		if (f->chunk[ci]) {
			if (n == CHUNK) {
				free(f->chunk[ci]);
				f->chunk[ci] = NULL;
			} else {
				memset(f->chunk[ci] + co, 0, (size_t)n);
			}
		}
		off += n, len -= n;
	}
}

static void m_read(const struct mfile *f, off_t off, uint8_t *dst, size_t len)
{
	while (len) {
		off_t ci = off / CHUNK, co = off % CHUNK;
		size_t n = (size_t)(CHUNK - co) < len ? (size_t)(CHUNK - co) : len;
		if (f->chunk[ci])
			memcpy(dst, f->chunk[ci] + co, n);
		else
			memset(dst, 0, n);
		off += (off_t)n, dst += n, len -= n;
	}
}

/* First offset in [off, off + len) where the model holds a non-zero byte, or -1. */
static off_t m_nonzero(const struct mfile *f, off_t off, off_t len)
{
	while (len > 0) {
		off_t ci = off / CHUNK, co = off % CHUNK;
		off_t n = CHUNK - co < len ? CHUNK - co : len;
		if (f->chunk[ci])
			for (off_t i = 0; i < n; i++)
				if (f->chunk[ci][co + i])
					return off + i;
		off += n, len -= n;
	}
	return -1;
}

static void m_truncate(struct mfile *f, off_t size)
{
	if (size < f->size)
		m_zero(f, size, f->size - size);
	f->size = size;
}

/* ---- checking ---- */

static void mismatch(const struct mfile *f, off_t off, const uint8_t *want, const uint8_t *got,
		     size_t len, const char *how)
{
	size_t first = 0, bad = 0;
	for (size_t i = 0; i < len; i++)
		if (want[i] != got[i]) {
			if (!bad)
				first = i;
			bad++;
		}
	fflush(stdout);
	printf("fsrandom: MISMATCH (seed %" PRIu64 ", op #%ld, %s) in %s at offset %lld: expected 0x%02x, got 0x%02x; %zu of %zu bytes in [%lld, %lld) differ\n",
	       seed, opno, how, f->path, (long long)(off + (off_t)first), want[first], got[first], bad, len,
	       (long long)off, (long long)(off + (off_t)len));
	size_t s = first >= 8 ? first - 8 : 0, e = s + 32 < len ? s + 32 : len;
	printf("  offset        expected  actual\n");
	for (size_t i = s; i < e; i++)
		printf("  %-12lld  0x%02x      0x%02x%s\n", (long long)(off + (off_t)i), want[i], got[i],
		       want[i] != got[i] ? "  <" : "");
	print_log();
	exit(1);
}

static void check_range(struct mfile *f, off_t off, const uint8_t *got, size_t len, const char *how)
{
	m_read(f, off, rbuf, len);
	if (memcmp(rbuf, got, len))
		mismatch(f, off, rbuf, got, len, how);
}

static void check_size(struct mfile *f, const char *after)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		die("fstat %s: %s", f->path, strerror(errno));
	if (st.st_size != f->size) {
		fflush(stdout);
		printf("fsrandom: MISMATCH (seed %" PRIu64 ", op #%ld) size of %s after %s is %lld, expected %lld\n",
		       seed, opno, f->path, after, (long long)st.st_size, (long long)f->size);
		print_log();
		exit(1);
	}
}

static void xpread(struct mfile *f, uint8_t *dst, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(f->fd, dst + done, len - done, off + (off_t)done);
		if (r < 0)
			die("pread %s (%zu at %lld): %s", f->path, len, (long long)off, strerror(errno));
		if (r == 0) {
			fflush(stdout);
			printf("fsrandom: MISMATCH (seed %" PRIu64 ", op #%ld) %s: end of file at %lld, expected data up to %lld\n",
			       seed, opno, f->path, (long long)(off + (off_t)done), (long long)(off + (off_t)len));
			print_log();
			exit(1);
		}
		done += (size_t)r;
	}
}

/* Every byte of <f> against the model (the remount check). */
static void check_all(struct mfile *f)
{
	check_size(f, "reopen");
	bool seek_ok = true;
	off_t pos = 0;
	const size_t piece = 1 << 20;
	uint8_t *got = malloc(piece);
	if (!got)
		die("out of memory");
	while (pos < f->size) {
		off_t d = pos, h = f->size;
		if (seek_ok) {
			d = lseek(f->fd, pos, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				d = f->size;
			else if (d < 0) {
				seek_ok = false, d = pos;
			}
		}
		if (d > pos) {
			/* a hole the file system reports: the model must be zero there */
			off_t nz = m_nonzero(f, pos, d - pos);
			if (nz >= 0) {
				fflush(stdout);
				printf("fsrandom: MISMATCH (seed %" PRIu64 ", op #%ld) %s: SEEK_DATA from %lld skips to %lld, but the model holds 0x%02x at %lld\n",
				       seed, opno, f->path, (long long)pos, (long long)d,
				       f->chunk[nz / CHUNK][nz % CHUNK], (long long)nz);
				print_log();
				exit(1);
			}
			size_t n = d - pos < 4096 ? (size_t)(d - pos) : 4096;
			xpread(f, got, n, pos);
			check_range(f, pos, got, n, "full check, start of a hole");
			pos = d;
			if (pos >= f->size)
				break;
		}
		if (seek_ok) {
			h = lseek(f->fd, pos, SEEK_HOLE);
			if (h < 0 || h > f->size)
				h = f->size;
		}
		while (pos < h) {
			size_t n = h - pos < (off_t)piece ? (size_t)(h - pos) : piece;
			xpread(f, got, n, pos);
			check_range(f, pos, got, n, "full check");
			pos += (off_t)n;
		}
	}
	uint8_t c;
	if (pread(f->fd, &c, 1, f->size) != 0)
		die("%s: a read at the size (%lld) returned data or failed", f->path, (long long)f->size);
	free(got);
}

/* ---- operations ---- */

static void fopen_rw(struct mfile *f)
{
	f->fd = open(f->path, O_RDWR | O_CREAT, 0644);
	if (f->fd < 0)
		die("open %s: %s", f->path, strerror(errno));
}

static void fill(uint8_t *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x = rnd();
		memcpy(b + i, &x, 8);
	}
	for (; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* A random offset for <len> bytes of <f>: inside, across a boundary, at
 * the end, or far past it. */
static off_t pick_off(const struct mfile *f, size_t len)
{
	off_t lim = maxsize - (off_t)len, o;
	if (lim <= 0)
		return 0;
	switch (below(10)) {
	case 0: case 1: case 2: case 3: case 4:
		o = (off_t)below((uint64_t)f->size + 1);
		break;
	case 5: case 6: {
		static const off_t bs[] = {4096, 65536, 1 << 20};
		off_t b = bs[below(3)];
		off_t k = (off_t)below((uint64_t)(maxsize / b) + 1);
		o = k * b - (off_t)below(len + 1);
		break;
	}
	case 7:
		o = f->size;
		break;
	default:
		o = (off_t)below((uint64_t)lim + 1);
		break;
	}
	if (o < 0)
		o = 0;
	return o > lim ? lim : o;
}

static size_t pick_len(void)
{
	switch (below(4)) {
	case 0: return 1 + below(64);
	case 1: return 1 + below(8192);
	default: return 1 + below(maxlen);
	}
}

/* The bytes of an xattr value of <len> from <vseed> into <b>. */
static void xfill(uint8_t *b, size_t len, uint64_t vseed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((vseed >> (i % 8 * 8)) + i * 131 + (i >> 9));
}

/* user.fr<i> of <f> reads back as the model says. */
static void xcheck(struct mfile *f, int i, const char *when)
{
	static uint8_t want[XVAL_MAX], got[XVAL_MAX + 1];
	char name[32];
	ssize_t n;

	snprintf(name, sizeof(name), "user.fr%d", i);
	n = fgetxattr(f->fd, name, got, sizeof(got));
	if (f->xlen[i] < 0) {
		if (n >= 0 || errno != ENODATA)
			die("%s %s %s: getxattr gave %zd (%s), the model has none", when, f->path,
			    name, n, n < 0 ? strerror(errno) : "a value");
		return;
	}
	xfill(want, (size_t)f->xlen[i], f->xseed[i]);
	if (n != f->xlen[i] || memcmp(want, got, (size_t)n))
		die("%s %s %s: getxattr gave %zd bytes (%s), the model %d bytes", when, f->path,
		    name, n, n < 0 ? strerror(errno) : n == f->xlen[i] ? "they differ" : "", f->xlen[i]);
}

/* Every name of <f> (listxattr) and value against the model. */
static void xcheck_all(struct mfile *f)
{
	char list[XNAMES * 16 + 4096];
	ssize_t n = flistxattr(f->fd, list, sizeof(list));
	int want = 0, seen = 0;

	if (n < 0)
		die("listxattr %s: %s", f->path, strerror(errno));
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		if (!strncmp(list + off, "user.fr", 7))
			seen++;
	for (int i = 0; i < XNAMES; i++) {
		want += f->xlen[i] >= 0;
		xcheck(f, i, "after the remount,");
	}
	if (seen != want)
		die("listxattr %s: %d user.fr* names, the model %d", f->path, seen, want);
}

/* A value length: most small, some filling blocks, a few of 64 KiB. */
static size_t xpick_len(void)
{
	switch (below(20)) {
	case 0:
		return XVAL_MAX - below(2) * below(600);
	case 1: case 2: case 3:
		return (size_t)below(30000);
	case 4: case 5: case 6: case 7: case 8: case 9:
		return (size_t)below(4000);
	default:
		return (size_t)below(100);
	}
}

static void do_xattr(struct mfile *f)
{
	static uint8_t v[XVAL_MAX];
	int i = (int)below(XNAMES), how = (int)below(10);
	char name[32];

	snprintf(name, sizeof(name), "user.fr%d", i);
	if (how < 2) {
		logop("%s getxattr %s (model %d bytes)", f->path, name, f->xlen[i]);
		xcheck(f, i, "getxattr");
	} else if (how < 4) {
		logop("%s removexattr %s (model %d bytes)", f->path, name, f->xlen[i]);
		if (fremovexattr(f->fd, name) < 0) {
			if (errno != ENODATA)
				die("removexattr %s %s: %s", f->path, name, strerror(errno));
			if (f->xlen[i] >= 0)
				die("removexattr %s %s: ENODATA, the model has %d bytes", f->path,
				    name, f->xlen[i]);
		} else if (f->xlen[i] < 0) {
			die("removexattr %s %s: done, the model has no such name", f->path, name);
		}
		f->xlen[i] = -1;
	} else {
		size_t len = xpick_len();
		uint64_t vs = rnd();

		xfill(v, len, vs);
		logop("%s setxattr %s len=%zu (model %d bytes)", f->path, name, len, f->xlen[i]);
		if (fsetxattr(f->fd, name, v, len, 0) < 0) {
			if (errno != ENOSPC)
				die("setxattr %s %s (%zu bytes): %s", f->path, name, len, strerror(errno));
			xenospc++;
			xcheck(f, i, "after a setxattr refused with ENOSPC,");	/* nothing lost */
			return;
		}
		f->xlen[i] = (int32_t)len;
		f->xseed[i] = vs;
	}
}

static void do_op(int op, struct mfile *f)
{
	size_t len = pick_len();
	off_t off, old = f->size;
	counts[op]++;
	switch (op) {
	case OP_WRITE: {
		off = pick_off(f, len);
		fill(buf, len);
		logop("%s write off=%lld len=%zu (size %lld)", f->path, (long long)off, len, (long long)old);
		ssize_t w = pwrite(f->fd, buf, len, off);
		if (w != (ssize_t)len)
			die("pwrite %s (%zu at %lld): %zd %s", f->path, len, (long long)off, w,
			    w < 0 ? strerror(errno) : "short");
		m_write(f, off, buf, len);
		if (off + (off_t)len > f->size)
			f->size = off + (off_t)len;
		break;
	}
	case OP_READ: {
		if (!f->size) {
			logop("%s read of an empty file", f->path);
			uint8_t c;
			if (pread(f->fd, &c, 1, 0) != 0)
				die("read of an empty file returned data");
			break;
		}
		off = (off_t)below((uint64_t)f->size);
		if ((off_t)len > f->size - off)
			len = (size_t)(f->size - off);
		logop("%s read off=%lld len=%zu (size %lld)", f->path, (long long)off, len, (long long)old);
		xpread(f, buf, len, off);
		check_range(f, off, buf, len, "read");
		break;
	}
	case OP_TRUNC: {
		off_t ns;
		switch (below(3)) {
		case 0: ns = (off_t)below((uint64_t)f->size + 1); break;
		case 1: ns = f->size + (off_t)below(maxlen); break;
		default: ns = (off_t)below((uint64_t)maxsize + 1); break;
		}
		if (ns > maxsize)
			ns = maxsize;
		logop("%s truncate %lld -> %lld", f->path, (long long)old, (long long)ns);
		if (ftruncate(f->fd, ns) < 0)
			die("ftruncate %s to %lld: %s", f->path, (long long)ns, strerror(errno));
		m_truncate(f, ns);
		break;
	}
	case OP_PUNCH: {
		off = pick_off(f, len);
		logop("%s punch off=%lld len=%zu (size %lld)", f->path, (long long)off, len, (long long)old);
		if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) < 0) {
			if (errno == EOPNOTSUPP) {
				weight[OP_PUNCH] = 0;
				return;
			}
			die("punch %s (%zu at %lld): %s", f->path, len, (long long)off, strerror(errno));
		}
		if (off < f->size)
			m_zero(f, off, (off + (off_t)len > f->size ? f->size : off + (off_t)len) - off);
		break;
	}
	case OP_FALLOC:
	case OP_ZERO: {
		bool keep = below(2), zero = op == OP_ZERO;
		off = pick_off(f, len);
		if (keep && no_keep_past_end && off + (off_t)len > f->size)
			keep = false;
		logop("%s %s%s off=%lld len=%zu (size %lld)", f->path, op_name[op],
		      keep ? " KEEP_SIZE" : "", (long long)off, len, (long long)old);
		if (fallocate(f->fd, (zero ? FALLOC_FL_ZERO_RANGE : 0) | (keep ? FALLOC_FL_KEEP_SIZE : 0),
			      off, (off_t)len) < 0) {
			if (errno == EOPNOTSUPP && keep && off + (off_t)len > f->size) {
				no_keep_past_end = true;	/* refused, nothing done */
				return;
			}
			if (errno == EOPNOTSUPP) {
				weight[op] = 0;
				return;
			}
			die("%s %s (%zu at %lld): %s", op_name[op], f->path, len, (long long)off,
			    strerror(errno));
		}
		if (zero && off < f->size)
			m_zero(f, off, (off + (off_t)len > f->size ? f->size : off + (off_t)len) - off);
		if (!keep && off + (off_t)len > f->size)
			f->size = off + (off_t)len;
		break;
	}
	case OP_MAPREAD:
	case OP_MAPWRITE: {
		if (!f->size) {
			logop("%s %s of an empty file (skipped)", f->path, op_name[op]);
			break;
		}
		off = (off_t)below((uint64_t)f->size);
		if ((off_t)len > f->size - off)
			len = (size_t)(f->size - off);
		off_t pg = off & ~(off_t)4095;
		size_t mlen = len + (size_t)(off - pg);
		logop("%s %s off=%lld len=%zu (size %lld)", f->path, op_name[op], (long long)off, len,
		      (long long)old);
		uint8_t *m = mmap(NULL, mlen, op == OP_MAPREAD ? PROT_READ : PROT_READ | PROT_WRITE,
				  MAP_SHARED, f->fd, pg);
		if (m == MAP_FAILED)
			die("mmap %s (%zu at %lld): %s", f->path, mlen, (long long)pg, strerror(errno));
		if (op == OP_MAPREAD) {
			memcpy(buf, m + (off - pg), len);
			munmap(m, mlen);
			check_range(f, off, buf, len, "mmap read");
		} else {
			fill(buf, len);
			memcpy(m + (off - pg), buf, len);
			if (below(2) && msync(m, mlen, MS_SYNC) < 0)
				die("msync %s: %s", f->path, strerror(errno));
			munmap(m, mlen);
			m_write(f, off, buf, len);
		}
		break;
	}
	case OP_REOPEN:
		logop("%s close and reopen", f->path);
		if (close(f->fd) < 0)
			die("close %s: %s", f->path, strerror(errno));
		fopen_rw(f);
		break;
	case OP_XATTR:
		do_xattr(f);
		break;
	case OP_FSYNC: {
		bool data = below(2);
		logop("%s %s", f->path, data ? "fdatasync" : "fsync");
		if ((data ? fdatasync(f->fd) : fsync(f->fd)) < 0)
			die("%s %s: %s", data ? "fdatasync" : "fsync", f->path, strerror(errno));
		break;
	}
	}
	check_size(f, op_name[op]);
}

static void remount(const char *cmd)
{
	logop("remount%s%s, then check every byte", cmd ? ": " : "", cmd ? cmd : "");
	for (int i = 0; i < nfiles; i++)
		if (close(files[i].fd) < 0)
			die("close %s: %s", files[i].path, strerror(errno));
	if (cmd) {
		fflush(stdout);
		int st = system(cmd);
		if (st != 0)
			die("remount command '%s' failed (status %d)", cmd, st);
	}
	for (int i = 0; i < nfiles; i++) {
		fopen_rw(&files[i]);
		check_all(&files[i]);
		if (weight[OP_XATTR])
			xcheck_all(&files[i]);
	}
}

static off_t parse_size(const char *s, const char *opt)
{
	char *end;
	double v = strtod(s, &end);
	off_t mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1 << 10, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1 << 20, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1 << 30, end++;
	if (*end || v <= 0) {
		fprintf(stderr, "fsrandom: %s %s: expected a size such as 4096, 64K, 8M\n", opt, s);
		exit(2);
	}
	return (off_t)(v * (double)mul);
}

static long parse_num(const char *s, const char *opt, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi) {
		fprintf(stderr, "fsrandom: %s %s: expected a number %ld..%ld\n", opt, s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *cmd = NULL;
	long nops = 100000, every = 10000;
	bool keep = false, have_seed = false;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "-s") && more) {
			char *end;
			seed = strtoull(argv[++i], &end, 0);
			if (*end) {
				fprintf(stderr, "fsrandom: -s %s: expected a number\n", argv[i]);
				return 2;
			}
			have_seed = true;
		} else if (!strcmp(a, "-n") && more) {
			nops = parse_num(argv[++i], "-n", 0, LONG_MAX);
		} else if (!strcmp(a, "-f") && more) {
			nfiles = (int)parse_num(argv[++i], "-f", 1, MAX_FILES);
		} else if (!strcmp(a, "-S") && more) {
			maxsize = parse_size(argv[++i], "-S");
		} else if (!strcmp(a, "-L") && more) {
			maxlen = (size_t)parse_size(argv[++i], "-L");
		} else if (!strcmp(a, "-K") && more) {
			every = parse_num(argv[++i], "-K", 1, LONG_MAX);
		} else if (!strcmp(a, "-r") && more) {
			cmd = argv[++i];
		} else if (!strcmp(a, "-z")) {
			weight[OP_ZERO] = 4;
		} else if (!strcmp(a, "-x")) {
			weight[OP_XATTR] = 6;
		} else if (!strcmp(a, "-k")) {
			keep = true;
		} else if (!strcmp(a, "-q")) {
			quiet = true;
		} else if (a[0] != '-' && !dir) {
			dir = a;
		} else {
			fprintf(stderr, "usage: fsrandom DIR [-s SEED] [-n OPS] [-f FILES] [-S MAXSIZE] [-L MAXLEN] [-K EVERY] [-r 'CMD'] [-z] [-x] [-k] [-q]\n");
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "usage: fsrandom DIR [-s SEED] [-n OPS] [-f FILES] [-S MAXSIZE] [-L MAXLEN] [-K EVERY] [-r 'CMD'] [-z] [-x] [-k] [-q]\n");
		return 2;
	}
	if (maxsize > MAX_MODEL || maxsize < 4096) {
		fprintf(stderr, "fsrandom: -S %lld: between 4K and 64G\n", (long long)maxsize);
		return 2;
	}
	if (maxlen > (size_t)maxsize)
		maxlen = (size_t)maxsize;
	if (maxlen > (64 << 20)) {
		fprintf(stderr, "fsrandom: -L: at most 64M\n");
		return 2;
	}
	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		seed %= 1000000000000ull;
	}
	rng = seed;
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/fsrandom.%" PRIu64, dir, seed);
	if (mkdir(sub, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fsrandom: mkdir %s: %s\n", sub, strerror(errno));
		return 2;
	}
	buf = malloc(maxlen);
	rbuf = malloc(maxlen > (1 << 20) ? maxlen : (1 << 20));
	if (!buf || !rbuf)
		die("out of memory");
	size_t nchunks = (size_t)((maxsize + CHUNK - 1) / CHUNK) + 1;
	for (int i = 0; i < nfiles; i++) {
		struct mfile *f = &files[i];
		snprintf(f->path, sizeof(f->path), "%s/f%d", sub, i);
		f->chunk = calloc(nchunks, sizeof(*f->chunk));
		if (!f->chunk)
			die("out of memory");
		for (int k = 0; k < XNAMES; k++)
			f->xlen[k] = -1;
		unlink(f->path);
		fopen_rw(f);
	}
	if (!quiet)
		printf("fsrandom: seed %" PRIu64 ", %ld ops on %d files of up to %lld bytes in %s, a full check every %ld%s%s\n",
		       seed, nops, nfiles, (long long)maxsize, sub, every, cmd ? " after: " : "", cmd ? cmd : "");
	int total = 0;
	for (int i = 0; i < OP_NOPS; i++)
		total += weight[i];
	long checks = 0;
	off_t biggest = 0;
	for (opno = 0; opno < nops; opno++) {
		total = 0;
		for (int i = 0; i < OP_NOPS; i++)
			total += weight[i];
		int r = (int)below((uint64_t)total), op = 0;
		while (r >= weight[op])
			r -= weight[op++];
		struct mfile *f = &files[below((uint64_t)nfiles)];
		do_op(op, f);
		if (f->size > biggest)
			biggest = f->size;
		if ((opno + 1) % every == 0 && opno + 1 < nops) {
			remount(cmd);
			checks++;
			if (!quiet)
				printf("fsrandom: %ld ops, full check %ld passed\n", opno + 1, checks);
		}
	}
	remount(cmd);
	checks++;
	char mix[512] = "";
	size_t k = 0;
	for (int i = 0; i < OP_NOPS; i++)
		k += (size_t)snprintf(mix + k, sizeof(mix) - k, "%s%s %ld", i ? ", " : "", op_name[i], counts[i]);
	if (weight[OP_XATTR])
		k += (size_t)snprintf(mix + k, sizeof(mix) - k, "; xattr sets refused for room %ld",
				      xenospc);
	printf("fsrandom: PASS seed %" PRIu64 ": %ld ops (%s), %ld full checks, largest file %lld bytes%s%s%s%s\n",
	       seed, nops, mix, checks, (long long)biggest,
	       weight[OP_PUNCH] ? "" : "; punch hole unsupported (EOPNOTSUPP), dropped",
	       weight[OP_FALLOC] ? "" : "; fallocate unsupported (EOPNOTSUPP), dropped",
	       weight[OP_ZERO] || !counts[OP_ZERO] ? "" : "; zero range unsupported (EOPNOTSUPP), dropped",
	       no_keep_past_end ? "; KEEP_SIZE past the end unsupported (EOPNOTSUPP), dropped" : "");
	for (int i = 0; i < nfiles; i++) {
		close(files[i].fd);
		if (!keep)
			unlink(files[i].path);
	}
	if (!keep)
		rmdir(sub);
	return 0;
}
