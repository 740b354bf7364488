/*
 * tests/tools/crashcheck.c - a metadata and data storm whose aftermath can
 * be checked after a crash (issue 12, "Crash consistency").
 *
 *   crashcheck write DIR -j JOURNAL [-s SEED] [-n OPS] [-t SECONDS] [-S MAXFILE] [-x]
 *   crashcheck verify DIR -j JOURNAL
 *
 * write runs, in DIR (on the file system under test), a storm of creates,
 * writes, truncates, renames between directories, unlinks (some of files
 * kept open and written on after), mkdir/rmdir of
 * scratch directories and "seals" (below) until OPS operations (default
 * 10000 if neither -n nor -t is given; -n 0 with -t: until the time is up)
 * or SECONDS have passed, or it is killed, or the file system fails it
 * (exit 3: expected when mmfsd is killed under it). JOURNAL must be on a
 * DIFFERENT file system that survives the crash; every journal line is
 * written with one write() and fdatasync'd before the storm goes on.
 * verify runs after the crash and the remount, and exits 1 if any rule
 * below is broken (each breach printed), 2 on bad usage or an unreadable
 * journal, 0 otherwise.
 *
 * Layout. DIR/d0 .. DIR/d3 are made (and fsynced, with DIR) before the
 * storm and never move; scratch directories DIR/t<k> come and go. Every
 * file is DIR/<dir>/f<id>.<n>: <id> is unique for the run and never
 * reused, <n> counts the file's renames. No hard links are made.
 *
 * Content. A file is a sequence of 16-byte records, every write and every
 * truncate being 16-byte aligned. The record at offset <o> of file <id>
 * written by the file's <g>-th write is
 *     u32 id, u32 g (>= 1), u64 o XOR (id * 0x9E3779B97F4A7C15)
 * (little-endian); a record never written (a hole, an extension, a
 * truncated-then-extended range) is 16 zero bytes.
 *
 * Seals. To seal file <id> the writer fsyncs it, then fsyncs DIR, every
 * d<k> and every existing t<k> (so its name and any earlier renames are
 * durable), then appends to the journal
 *     S <id> <path relative to DIR> <size> <off>+<len>@<gen> ...
 * listing every run of non-zero records with its generation. A sealed
 * file lives in a d<k>. Before the writer changes a sealed file in any
 * way (write, truncate, rename, unlink) it appends
 *     U <id>
 * and from then on the file is unsealed until sealed again.
 *
 * The rules verify checks (the journal's last complete line counts; a
 * torn last line is ignored):
 *   1. Every file whose last journal record is S exists at exactly that
 *      path, with exactly that size and content (every byte).
 *   2. Every regular file under DIR is named f<id>.<n>, and each <id>
 *      appears at most once (a rename is atomic: never both names).
 *   3. No foreign bytes: every 16-byte record of every file is either all
 *      zero or a record of that file's own <id> for that very offset (any
 *      generation >= 1). So a block of another file, data left from a
 *      freed block, or a record at the wrong offset is caught; a partial
 *      trailing record must be a zero or own-record prefix.
 *   4. Xattrs: with -x the storm also sets and removes user.cc on its files
 *      (values of 12 to 65,536 bytes, made of the file's id, the xattr's
 *      generation and its length; a seal lists it as " X <len>@<xgen>").
 *      A sealed file has exactly the value its seal lists (none if it
 *      lists none), and any file's user.cc, if present, is a whole value
 *      of its own id (no value of another file, none torn).
 * Nothing is claimed for unsealed files beyond 2, 3 and 4: their lost
 * writes, sizes and even existence are the crash's business.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define NDIRS 4
#define MAX_T 8
#define MAX_LIVE 256
#define REC 16
#define IDMUL 0x9E3779B97F4A7C15ull
#define XNAME "user.cc"
#define XMAX 65536

static void usage(void)
{
	fprintf(stderr, "usage: crashcheck write DIR -j JOURNAL [-s SEED] [-n OPS] [-t SECONDS] [-S MAXFILE] [-x]\n"
			"       crashcheck verify DIR -j JOURNAL\n");
	exit(2);
}

static void put_rec(uint8_t *p, uint32_t id, uint32_t gen, uint64_t off)
{
	uint64_t o = off ^ ((uint64_t)id * IDMUL);
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(id >> (8 * i));
		p[4 + i] = (uint8_t)(gen >> (8 * i));
	}
	for (int i = 0; i < 8; i++)
		p[8 + i] = (uint8_t)(o >> (8 * i));
}

/* The user.cc value <len> (12 .. XMAX) of file <id>, generation <xg>:
 * id, xg and len (u32 little-endian), then bytes made from all three. */
static void put_xval(uint8_t *b, uint32_t id, uint32_t xg, uint32_t len)
{
	for (int i = 0; i < 4; i++) {
		b[i] = (uint8_t)(id >> (8 * i));
		b[4 + i] = (uint8_t)(xg >> (8 * i));
		b[8 + i] = (uint8_t)(len >> (8 * i));
	}
	for (uint32_t i = 12; i < len; i++)
		b[i] = (uint8_t)(id * 31 + xg * 7 + len + i * 131 + (i >> 9));
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ---- write ---- */

struct wfile {
	uint32_t id, n;		/* n: renames so far */
	int dir;		/* 0..NDIRS-1: d<dir>; NDIRS + k: t<k> */
	uint32_t gen;		/* writes so far */
	uint64_t size;
	uint32_t *g;		/* generation per record (0: zero) */
	bool sealed;
	uint32_t xgen, xlen;	/* user.cc: sets so far; its length (0: none) */
};

static const char *top;
static int jfd = -1;
static struct wfile live[MAX_LIVE];
static int nlive;
static bool tdir[MAX_T];
static int tcount[MAX_T];
static uint64_t maxfile = 256 << 10, rng;
static uint32_t next_id = 1;
static bool xattrs;		/* -x */
static long ops_done;

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

/* The file system failed the storm: expected when it is killed under us. */
__attribute__((noreturn, format(printf, 1, 2))) static void gone(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "crashcheck write: after %ld ops: ", ops_done);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(3);
}

static void dname(int dir, char *out, size_t cap)
{
	if (dir < NDIRS)
		snprintf(out, cap, "d%d", dir);
	else
		snprintf(out, cap, "t%d", dir - NDIRS);
}

static void rel(const struct wfile *f, char *out, size_t cap)
{
	char d[16];
	dname(f->dir, d, sizeof(d));
	snprintf(out, cap, "%s/f%u.%u", d, f->id, f->n);
}

static void abspath(const char *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", top, r);
}

static void journal(const char *line)
{
	size_t n = strlen(line);
	if (write(jfd, line, n) != (ssize_t)n || fdatasync(jfd) < 0) {
		fprintf(stderr, "crashcheck write: journal: %s\n", strerror(errno));
		exit(2);
	}
}

static void fsync_path(const char *p, bool dir)
{
	int fd = open(p, dir ? O_RDONLY | O_DIRECTORY : O_RDWR);
	if (fd < 0 || fsync(fd) < 0)
		gone("fsync %s: %s", p, strerror(errno));
	close(fd);
}

static void unseal(struct wfile *f)
{
	if (!f->sealed)
		return;
	char line[64];
	snprintf(line, sizeof(line), "U %u\n", f->id);
	journal(line);
	f->sealed = false;
}

static void seal(struct wfile *f)
{
	char r[64], p[PATH_MAX], d[16];
	rel(f, r, sizeof(r));
	abspath(r, p, sizeof(p));
	fsync_path(p, false);
	fsync_path(top, true);
	for (int i = 0; i < NDIRS + MAX_T; i++) {
		if (i >= NDIRS && !tdir[i - NDIRS])
			continue;
		dname(i, d, sizeof(d));
		abspath(d, p, sizeof(p));
		fsync_path(p, true);
	}
	size_t cap = 256 + (size_t)(f->size / REC) * 40, k;
	char *line = malloc(cap);
	if (!line)
		gone("out of memory");
	k = (size_t)snprintf(line, cap, "S %u %s %" PRIu64, f->id, r, f->size);
	uint64_t nrec = f->size / REC;
	for (uint64_t i = 0; i < nrec;) {
		uint64_t j = i + 1;
		while (j < nrec && f->g[j] == f->g[i])
			j++;
		if (f->g[i])
			k += (size_t)snprintf(line + k, cap - k, " %" PRIu64 "+%" PRIu64 "@%u", i * REC,
					      (j - i) * REC, f->g[i]);
		i = j;
	}
	if (f->xlen)
		k += (size_t)snprintf(line + k, cap - k, " X %u@%u", f->xlen, f->xgen);
	snprintf(line + k, cap - k, "\n");
	journal(line);
	free(line);
	f->sealed = true;
}

static int open_f(const struct wfile *f, int flags)
{
	char r[64], p[PATH_MAX];
	rel(f, r, sizeof(r));
	abspath(r, p, sizeof(p));
	int fd = open(p, flags, 0644);
	if (fd < 0)
		gone("open %s: %s", p, strerror(errno));
	return fd;
}

static int pick_dir(void)
{
	int k = (int)below(NDIRS + MAX_T);
	if (k >= NDIRS && !tdir[k - NDIRS])
		k = (int)below(NDIRS);
	return k;
}

static void op_create(void)
{
	if (nlive == MAX_LIVE)
		return;
	struct wfile *f = &live[nlive];
	*f = (struct wfile){.id = next_id++, .dir = pick_dir()};
	f->g = calloc(maxfile / REC, sizeof(uint32_t));
	if (!f->g)
		gone("out of memory");
	close(open_f(f, O_RDWR | O_CREAT | O_EXCL));
	nlive++;
	if (f->dir >= NDIRS)
		tcount[f->dir - NDIRS]++;
}

static void op_write(struct wfile *f)
{
	uint64_t nrec = maxfile / REC;
	uint64_t a = below(nrec), len = 1 + below(below(4) ? 64 : 4096);
	if (a + len > nrec)
		len = nrec - a;
	unseal(f);
	uint8_t *b = malloc(len * REC);
	if (!b)
		gone("out of memory");
	f->gen++;
	for (uint64_t i = 0; i < len; i++)
		put_rec(b + i * REC, f->id, f->gen, (a + i) * REC);
	int fd = open_f(f, O_RDWR);
	ssize_t w = pwrite(fd, b, len * REC, (off_t)(a * REC));
	if (w != (ssize_t)(len * REC))
		gone("pwrite f%u: %s", f->id, w < 0 ? strerror(errno) : "short");
	close(fd);
	free(b);
	for (uint64_t i = 0; i < len; i++)
		f->g[a + i] = f->gen;
	if ((a + len) * REC > f->size)
		f->size = (a + len) * REC;
}

/* Set user.cc (mostly small, some filling blocks, a few of 64 KiB), or
 * remove it. */
static void op_xattr(struct wfile *f)
{
	static uint8_t v[XMAX];
	char r[64], p[PATH_MAX];
	uint32_t len;

	unseal(f);
	rel(f, r, sizeof(r));
	abspath(r, p, sizeof(p));
	if (f->xlen && below(4) == 0) {
		if (removexattr(p, XNAME) < 0)
			gone("removexattr f%u: %s", f->id, strerror(errno));
		f->xlen = 0;
		return;
	}
	switch (below(10)) {
	case 0:
		len = XMAX - (uint32_t)below(100);
		break;
	case 1: case 2:
		len = 12 + (uint32_t)below(30000);
		break;
	default:
		len = 12 + (uint32_t)below(3000);
	}
	put_xval(v, f->id, f->xgen + 1, len);
	if (setxattr(p, XNAME, v, len, 0) < 0)
		gone("setxattr f%u (%u bytes): %s", f->id, len, strerror(errno));
	f->xgen++;
	f->xlen = len;
}

static void op_truncate(struct wfile *f)
{
	uint64_t ns = below(maxfile / REC + 1) * REC;
	unseal(f);
	int fd = open_f(f, O_RDWR);
	if (ftruncate(fd, (off_t)ns) < 0)
		gone("ftruncate f%u: %s", f->id, strerror(errno));
	close(fd);
	for (uint64_t i = ns / REC; i < f->size / REC; i++)
		f->g[i] = 0;
	f->size = ns;
}

static void op_rename(struct wfile *f)
{
	char r0[64], r1[64], p0[PATH_MAX], p1[PATH_MAX];
	unseal(f);
	rel(f, r0, sizeof(r0));
	int old = f->dir;
	f->dir = pick_dir();
	f->n++;
	rel(f, r1, sizeof(r1));
	abspath(r0, p0, sizeof(p0));
	abspath(r1, p1, sizeof(p1));
	if (rename(p0, p1) < 0)
		gone("rename %s %s: %s", p0, p1, strerror(errno));
	if (old >= NDIRS)
		tcount[old - NDIRS]--;
	if (f->dir >= NDIRS)
		tcount[f->dir - NDIRS]++;
}

static void op_unlink(int i)
{
	struct wfile *f = &live[i];
	char r[64], p[PATH_MAX];
	unseal(f);
	rel(f, r, sizeof(r));
	abspath(r, p, sizeof(p));
	if (unlink(p) < 0)
		gone("unlink %s: %s", p, strerror(errno));
	if (f->dir >= NDIRS)
		tcount[f->dir - NDIRS]--;
	free(f->g);
	live[i] = live[--nlive];
}

/* Unlinked while open and written on through the descriptor: an orphan
 * that a crash leaves for the next mount to free. Up to HELD of them
 * stay open at once. */
#define HELD 8
static int held[HELD] = {-1, -1, -1, -1, -1, -1, -1, -1};
static unsigned nheld;

static void op_unlink_open(int i)
{
	struct wfile *f = &live[i];
	char r[64], p[PATH_MAX], buf[4096];
	int fd;

	rel(f, r, sizeof(r));
	abspath(r, p, sizeof(p));
	fd = open(p, O_RDWR);
	if (fd < 0)
		gone("open %s: %s", p, strerror(errno));
	op_unlink(i);
	memset(buf, 0x6f, sizeof(buf));
	if (pwrite(fd, buf, sizeof(buf), (off_t)below(1u << 20)) < 0)
		gone("write to an unlinked file: %s", strerror(errno));
	if (held[nheld % HELD] >= 0)
		close(held[nheld % HELD]);
	held[nheld++ % HELD] = fd;
}

static void op_tdir(void)
{
	int k = (int)below(MAX_T);
	char d[16], p[PATH_MAX];
	dname(NDIRS + k, d, sizeof(d));
	abspath(d, p, sizeof(p));
	if (!tdir[k]) {
		if (mkdir(p, 0755) < 0)
			gone("mkdir %s: %s", p, strerror(errno));
		tdir[k] = true;
	} else if (tcount[k] == 0) {
		if (rmdir(p) < 0)
			gone("rmdir %s: %s", p, strerror(errno));
		tdir[k] = false;
	}
}

static int cmd_write(uint64_t seed, long nops, long secs)
{
	char p[PATH_MAX], line[128];
	rng = seed;
	for (int i = 0; i < NDIRS; i++) {
		snprintf(p, sizeof(p), "%s/d%d", top, i);
		if (mkdir(p, 0755) < 0) {
			fprintf(stderr, "crashcheck write: mkdir %s: %s (DIR must be empty)\n", p, strerror(errno));
			return 2;
		}
		fsync_path(p, true);
	}
	fsync_path(top, true);
	snprintf(line, sizeof(line), "crashcheck 1 seed %" PRIu64 " maxfile %" PRIu64 "\n", seed, maxfile);
	journal(line);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long seals = 0;
	for (ops_done = 0; nops == 0 || ops_done < nops; ops_done++) {
		if (secs) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= secs)
				break;
		}
		unsigned r = (unsigned)below(100);
		if (nlive < 4 || r < (nlive < 64 ? 10u : 4u)) {
			op_create();
			continue;
		}
		int i = (int)below((uint64_t)nlive);
		struct wfile *f = &live[i];
		if (r >= 46 && r < 50 && xattrs)
			op_xattr(f);
		else if (r < 50)
			op_write(f);
		else if (r < 58)
			op_truncate(f);
		else if (r < 68)
			op_rename(f);
		else if (r < 72 && nlive > 8)
			op_unlink(i);
		else if (r < 74 && nlive > 8)
			op_unlink_open(i);
		else if (r < 80)
			op_tdir();
		else if (f->dir < NDIRS && !f->sealed && (r < 92 || f->gen > 0))
			seal(f), seals++;
		else
			op_write(f);
	}
	printf("crashcheck write: seed %" PRIu64 ": %ld ops, %d files live, %ld seals\n", seed, ops_done, nlive, seals);
	return 0;
}

/* ---- verify ---- */

struct run {
	uint64_t off, len;
	uint32_t gen;
};

struct sealrec {
	uint32_t id;
	bool sealed;		/* the last record is S */
	char path[128];
	uint64_t size;
	struct run *runs;
	int nruns;
	uint32_t xlen, xgen;	/* user.cc the seal lists (xlen 0: none) */
};

static struct sealrec *recs;
static size_t nrecs, caprecs;
static long breaches;
static uint8_t *seen_ids;
static size_t seen_cap;

__attribute__((format(printf, 1, 2))) static void breach(const char *fmt, ...)
{
	va_list ap;
	if (breaches < 100) {
		printf("FAIL ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	breaches++;
}

static struct sealrec *rec_of(uint32_t id)
{
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].id == id)
			return &recs[i];
	if (nrecs == caprecs) {
		caprecs = caprecs ? 2 * caprecs : 256;
		recs = realloc(recs, caprecs * sizeof(*recs));
		if (!recs) {
			fprintf(stderr, "crashcheck verify: out of memory\n");
			exit(2);
		}
	}
	recs[nrecs] = (struct sealrec){.id = id};
	return &recs[nrecs++];
}

static int read_journal(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "crashcheck verify: journal %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (line[n - 1] != '\n')
			break;	/* torn by the kill: never fdatasync'd whole */
		if (lineno == 1) {
			if (strncmp(line, "crashcheck 1 ", 13)) {
				fprintf(stderr, "crashcheck verify: %s: not a crashcheck journal\n", path);
				return -1;
			}
			continue;
		}
		uint32_t id;
		int used;
		if (line[0] == 'U' && sscanf(line, "U %" SCNu32, &id) == 1) {
			rec_of(id)->sealed = false;
			continue;
		}
		char rp[128];
		uint64_t size;
		if (line[0] != 'S' || sscanf(line, "S %" SCNu32 " %127s %" SCNu64 "%n", &id, rp, &size, &used) != 3) {
			fprintf(stderr, "crashcheck verify: %s:%ld: malformed line\n", path, lineno);
			return -1;
		}
		struct sealrec *s = rec_of(id);
		free(s->runs);
		s->runs = NULL;
		s->nruns = 0;
		s->sealed = true;
		s->xlen = s->xgen = 0;
		snprintf(s->path, sizeof(s->path), "%s", rp);
		s->size = size;
		for (char *q = line + used; *q && *q != '\n';) {
			struct run r;
			int k;
			if (!strncmp(q, " X ", 3)) {
				if (sscanf(q, " X %" SCNu32 "@%" SCNu32 "%n", &s->xlen, &s->xgen, &k) != 2) {
					fprintf(stderr, "crashcheck verify: %s:%ld: malformed xattr\n", path,
						lineno);
					return -1;
				}
				q += k;
				continue;
			}
			if (sscanf(q, " %" SCNu64 "+%" SCNu64 "@%" SCNu32 "%n", &r.off, &r.len, &r.gen, &k) != 3) {
				fprintf(stderr, "crashcheck verify: %s:%ld: malformed run\n", path, lineno);
				return -1;
			}
			s->runs = realloc(s->runs, (size_t)(s->nruns + 1) * sizeof(*s->runs));
			s->runs[s->nruns++] = r;
			q += k;
		}
	}
	free(line);
	fclose(fp);
	return 0;
}

/* Rule 3 for one file: each record zero or its own. */
static void check_foreign(const char *p, uint32_t id, const uint8_t *b, uint64_t size)
{
	for (uint64_t o = 0; o < size; o += REC) {
		size_t n = size - o < REC ? (size_t)(size - o) : REC;
		const uint8_t *r = b + o;
		bool zero = true;
		for (size_t i = 0; i < n; i++)
			zero &= r[i] == 0;
		if (zero)
			continue;
		uint8_t own[REC];
		uint32_t gen = (uint32_t)r[4] | (uint32_t)r[5] << 8 | (uint32_t)r[6] << 16 | (uint32_t)r[7] << 24;
		put_rec(own, id, gen, o);
		bool ok = gen != 0 || n <= 4;
		for (size_t i = 0; i < n && ok; i++)
			ok = i >= 4 && i < 8 ? true : r[i] == own[i];
		if (ok)
			continue;
		uint32_t other = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
		uint64_t x = 0;
		for (int i = 0; i < 8; i++)
			x |= (uint64_t)r[8 + i] << (8 * i);
		uint64_t ooff = x ^ ((uint64_t)other * IDMUL);
		if (n == REC && other != id && ooff < (1ull << 40) && ooff % REC == 0 && gen)
			breach("%s: foreign bytes at offset %" PRIu64 ": a record of file %u (its offset %" PRIu64 ", generation %u)",
			       p, o, other, ooff, gen);
		else if (n == REC && other == id && gen)
			breach("%s: bytes at offset %" PRIu64 " are its own record for offset %" PRIu64 " (misplaced)", p, o, ooff);
		else
			breach("%s: foreign bytes at offset %" PRIu64 " (neither zero nor a record of file %u)", p, o, id);
		return;	/* one per file */
	}
}

/* Rule 1 for one sealed file whose bytes are <b>. */
static void check_sealed(const char *p, const struct sealrec *s, const uint8_t *b, uint64_t size)
{
	if (size != s->size) {
		breach("%s: sealed (fsynced) with size %" PRIu64 ", has size %" PRIu64, p, s->size, size);
		return;
	}
	uint8_t want[REC];
	int ri = 0;
	for (uint64_t o = 0; o < size; o += REC) {
		while (ri < s->nruns && s->runs[ri].off + s->runs[ri].len <= o)
			ri++;
		uint32_t gen = ri < s->nruns && s->runs[ri].off <= o ? s->runs[ri].gen : 0;
		if (gen)
			put_rec(want, s->id, gen, o);
		else
			memset(want, 0, REC);
		size_t n = size - o < REC ? (size_t)(size - o) : REC;
		if (memcmp(b + o, want, n)) {
			breach("%s: sealed (fsynced) content differs at offset %" PRIu64 " (expected %s)", p, o,
			       gen ? "its record of that generation" : "zeros");
			return;
		}
	}
}

/* Rule 4 for file <id> at <p>: user.cc whole and its own; and, sealed
 * (<s> not NULL), the one its seal lists. */
static void check_xattr(const char *p, uint32_t id, const struct sealrec *s)
{
	static uint8_t got[XMAX + 1], want[XMAX];
	ssize_t n = getxattr(p, XNAME, got, sizeof(got));

	if (n < 0 && errno != ENODATA) {
		breach("%s: getxattr %s: %s", p, XNAME, strerror(errno));
		return;
	}
	if (n >= 0) {
		uint32_t xid = n >= 12 ? le32(got) : 0, xg = n >= 12 ? le32(got + 4) : 0;

		if (n < 12 || n > XMAX || le32(got + 8) != (uint32_t)n || xid != id || !xg) {
			breach("%s: %s of %zd bytes is not a whole value of file %u (it names file %u, "
			       "%u bytes)", p, XNAME, n, id, xid, n >= 12 ? le32(got + 8) : 0);
			return;
		}
		put_xval(want, id, xg, (uint32_t)n);
		if (memcmp(got, want, (size_t)n)) {
			breach("%s: %s (generation %u, %zd bytes) differs from what was set", p, XNAME,
			       xg, n);
			return;
		}
	}
	if (!s)
		return;
	if (!s->xlen && n >= 0)
		breach("%s: sealed without %s, has one of %zd bytes", p, XNAME, n);
	else if (s->xlen && (n != (ssize_t)s->xlen || le32(got + 4) != s->xgen))
		breach("%s: sealed with %s %u@%u, has %zd bytes%s", p, XNAME, s->xlen, s->xgen, n,
		       n < 0 ? " (none)" : "");
}

static long nfiles_seen, nsealed_ok;

static void walk(const char *dirpath, const char *relp)
{
	DIR *d = opendir(dirpath);
	if (!d) {
		breach("%s: cannot open the directory: %s", dirpath, strerror(errno));
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX], r[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dirpath, e->d_name);
		snprintf(r, sizeof(r), "%s%s%s", relp, relp[0] ? "/" : "", e->d_name);
		struct stat st;
		if (lstat(p, &st) < 0) {
			breach("%s: lstat: %s", p, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk(p, r);
			continue;
		}
		uint32_t id, n;
		char extra;
		if (!S_ISREG(st.st_mode) || sscanf(e->d_name, "f%" SCNu32 ".%" SCNu32 "%c", &id, &n, &extra) != 2) {
			breach("%s: not a file the storm made", p);
			continue;
		}
		if (id >= seen_cap) {
			size_t nc = (id + 1) * 2;
			seen_ids = realloc(seen_ids, nc);
			memset(seen_ids + seen_cap, 0, nc - seen_cap);
			seen_cap = nc;
		}
		if (seen_ids[id]++)
			breach("%s: file %u appears under two names", p, id);
		nfiles_seen++;
		uint8_t *b = malloc((size_t)st.st_size + 1);
		int fd = open(p, O_RDONLY);
		ssize_t got = 0;
		if (b && fd >= 0) {
			while (got < st.st_size) {
				ssize_t k = pread(fd, b + got, (size_t)(st.st_size - got), got);
				if (k <= 0)
					break;
				got += k;
			}
		}
		if (fd >= 0)
			close(fd);
		if (!b || got != st.st_size) {
			breach("%s: could not read its %lld bytes (%s)", p, (long long)st.st_size, strerror(errno));
			free(b);
			continue;
		}
		check_foreign(p, id, b, (uint64_t)st.st_size);
		const struct sealrec *sealed = NULL;
		for (size_t i = 0; i < nrecs; i++)
			if (recs[i].id == id && recs[i].sealed) {
				if (strcmp(recs[i].path, r))
					breach("%s: sealed file %u found here, the journal has it at %s", p, id, recs[i].path);
				else {
					long before = breaches;
					check_sealed(p, &recs[i], b, (uint64_t)st.st_size);
					check_xattr(p, id, &recs[i]);
					nsealed_ok += breaches == before;
					sealed = &recs[i];
				}
			}
		if (!sealed)
			check_xattr(p, id, NULL);
		free(b);
	}
	closedir(d);
}

static int cmd_verify(const char *jpath)
{
	if (read_journal(jpath) < 0)
		return 2;
	walk(top, "");
	long sealed = 0;
	for (size_t i = 0; i < nrecs; i++) {
		if (!recs[i].sealed)
			continue;
		sealed++;
		if (recs[i].id >= seen_cap || !seen_ids[recs[i].id])
			breach("%s/%s: sealed (fsynced) file %u is missing", top, recs[i].path, recs[i].id);
	}
	printf("crashcheck verify: %ld files checked for foreign bytes, %ld of %ld sealed files exact: %s (%ld breaches)\n",
	       nfiles_seen, nsealed_ok, sealed, breaches ? "FAIL" : "OK", breaches);
	return breaches ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	const char *cmd = argv[1], *jpath = NULL;
	top = argv[2];
	uint64_t seed = 1;
	long nops = -1, secs = 0;
	for (int i = 3; i < argc; i++) {
		char *end = NULL;
		if (!strcmp(argv[i], "-x")) {
			xattrs = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "-j"))
			jpath = argv[++i];
		else if (!strcmp(argv[i], "-s"))
			seed = strtoull(argv[++i], &end, 0);
		else if (!strcmp(argv[i], "-n"))
			nops = strtol(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "-t"))
			secs = strtol(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "-S"))
			maxfile = strtoull(argv[++i], &end, 0);
		else
			usage();
		if (end && *end) {
			fprintf(stderr, "crashcheck: %s %s: expected a number\n", argv[i - 1], argv[i]);
			return 2;
		}
	}
	if (!jpath) {
		fprintf(stderr, "crashcheck: -j JOURNAL is required (a path on another file system)\n");
		return 2;
	}
	struct stat st;
	if (stat(top, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "crashcheck: %s: not a directory\n", top);
		return 2;
	}
	if (!strcmp(cmd, "write")) {
		if (maxfile < REC || maxfile % REC || maxfile > (64ull << 20)) {
			fprintf(stderr, "crashcheck: -S %" PRIu64 ": a multiple of 16 up to 64M\n", maxfile);
			return 2;
		}
		struct stat js;
		char jdir[PATH_MAX];
		snprintf(jdir, sizeof(jdir), "%s", jpath);
		char *slash = strrchr(jdir, '/');
		if (slash)
			*slash = 0;
		if (stat(slash ? (jdir[0] ? jdir : "/") : ".", &js) == 0 && js.st_dev == st.st_dev)
			fprintf(stderr, "crashcheck write: warning: the journal %s is on the same file system as %s\n",
				jpath, top);
		jfd = open(jpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
		if (jfd < 0) {
			fprintf(stderr, "crashcheck: journal %s: %s\n", jpath, strerror(errno));
			return 2;
		}
		if (nops < 0)
			nops = secs ? 0 : 10000;
		setvbuf(stdout, NULL, _IOLBF, 0);
		return cmd_write(seed, nops, secs);
	}
	if (!strcmp(cmd, "verify"))
		return cmd_verify(jpath);
	usage();
}
