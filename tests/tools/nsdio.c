/*
 * tests/tools/nsdio.c - drive a daemon's NSD client from the command line
 * (admin commands nsdio and nsdfault, mmfsd/admin_nsdio.c).
 *
 *   nsdio [-n NODE] write NSD OFFSET LENGTH SEED [-b BS] [-d DEPTH]
 *                        [--noverify] [--random COUNT] [--rseed N]
 *   nsdio [-n NODE] read  NSD OFFSET LENGTH SEED [-b BS] [-d DEPTH]
 *                        [--expect FILE] [--noverify] [--random COUNT] [--rseed N]
 *   nsdio [-n NODE] model-run NSD REGION_OFF REGION_LEN OPS SEED MODELFILE
 *   nsdio [-n NODE] model-verify NSD MODELFILE [-b BS] [-d DEPTH]
 *   nsdio [-n NODE] classify NSD OFFSET LENGTH CHUNK SEED [SEED...]
 *   nsdio [-n NODE] fault CALL [NTH] [ERRNO] [--persistent]
 *   nsdio [-n NODE] fault-reset
 *
 * NODE (default $MMFS_NODE, else any local node whose daemon runs) is the
 * node whose daemon does the I/O. Numbers take K, M, G suffixes (powers of
 * 1024). Data is nsd/pattern.h's: each word depends on (seed, offset).
 *
 * --expect FILE: lines "OFFSET LENGTH SEED" ('#' comments; a line
 * "region ..." is ignored): per-range seeds a read must find, later lines
 * overriding earlier ones; other bytes must hold SEED.
 *
 * model-run first writes the whole region with SEED, then runs OPS random
 * operations inside it: writes of 4 KiB..256 KiB at 4 KiB-aligned random
 * offsets with a fresh seed each, reads of the same sizes verified against
 * the in-memory model (one seed per 4 KiB block), and now and then a burst
 * of concurrent random writes (the nsdio "random" mode, whose offsets this
 * program computes the same way the daemon does). At the end it reads the
 * whole region back against the model and writes the model to MODELFILE
 * as "region OFFSET LENGTH" and "OFFSET LENGTH SEED" runs, which
 * model-verify (on any node) checks again.
 *
 * classify reads [OFFSET, +LENGTH) in CHUNK-sized pieces and tells for
 * each piece which of the SEEDs wrote all of it (or none), then prints per
 * seed "seed S: N chunks, first at A, last at B" and "other: N chunks".
 *
 * fault arms nsd/sys.h's failure of system call CALL (pread, pwrite,
 * io_submit, io_getevents, ...) at its NTH next call (default 1) with
 * ERRNO (number or name: EIO, ENOSPC, ...; default EIO); --persistent makes
 * every later call fail too. fault-reset disarms all.
 *
 * Exit status: 0 success, 1 I/O error, data mismatch or no daemon (the
 * daemon's message is printed), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmds/libcmd.h"
#include "common/err.h"
#include "common/util.h"
#include "mmfsd/admin.h"

#define BLK 4096u

static const char *prog = "nsdio";
static struct cmd_env env;
static bool env_ready;		/* the cluster is looked up at the first request */
static int timeout_ms = 600000;
static bool quiet;
static bool silent_fail;	/* classify: a mismatch is an answer, not an error */

struct run {
	uint64_t off, len, seed;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: nsdio [-n NODE] write|read NSD OFFSET LENGTH SEED [-b BS] [-d DEPTH]\n"
		"                 [--expect FILE] [--noverify] [--random COUNT] [--rseed N]\n"
		"       nsdio [-n NODE] model-run NSD REGION_OFF REGION_LEN OPS SEED MODELFILE\n"
		"       nsdio [-n NODE] model-verify NSD MODELFILE [-b BS] [-d DEPTH]\n"
		"       nsdio [-n NODE] classify NSD OFFSET LENGTH CHUNK SEED [SEED...]\n"
		"       nsdio [-n NODE] fault CALL [NTH] [ERRNO] [--persistent]\n"
		"       nsdio [-n NODE] fault-reset\n"
		"  common options: -q (quiet on success), --timeout SECONDS (600)\n");
}

static int parse_errno(const char *s)
{
	static const struct {
		const char *name;
		int val;
	} names[] = {
		{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EAGAIN", EAGAIN}, {"EINTR", EINTR},
		{"ENOMEM", ENOMEM}, {"EBADF", EBADF}, {"EINVAL", EINVAL}, {"ENXIO", ENXIO},
		{"EROFS", EROFS}, {"EPERM", EPERM}, {"EACCES", EACCES}, {"ENODEV", ENODEV},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].val;
	if (!mm_parse_size(s, &v) && v > 0 && v < 4096)
		return (int)v;
	return -1;
}

/* ---- the admin round trip -------------------------------------------- */

/* Send <req> (consumed) to the daemon. 0 with *rep set on rc 0; else the
 * daemon's message printed and 1 returned. */
static int call(json_object *req, json_object **rep, const char *what)
{
	json_object *r = NULL;
	char used[256] = "";
	int rc;

	if (!env_ready) {
		if (cmd_env_init(&env, prog, true)) {
			json_object_put(req);
			return 1;
		}
		env_ready = true;
	}
	rc = cmd_admin_local(&env, req, timeout_ms, &r, used, sizeof(used));
	json_object_put(req);
	if (rc) {
		/* cmd_admin_local printed why */
		return 1;
	}
	rc = adm_get_int(r, "rc", MM_EPROTO);
	if (rc && silent_fail && rc == MM_ECHECKSUM) {
		json_object_put(r);
		return 1;
	}
	if (rc) {
		json_object *mm;

		fprintf(stderr, "%s: node %s: %s failed (%s): %s\n", prog, used, what, mm_errname(rc),
			adm_get_str(r, "msg", mm_strerror(rc)));
		if (json_object_object_get_ex(r, "mismatch", &mm))
			fprintf(stderr, "%s: first mismatching byte offset %" PRId64 "\n", prog,
				json_object_get_int64(mm));
		if (json_object_object_get_ex(r, "bytes", &mm))
			fprintf(stderr, "%s: %" PRId64 " bytes done before the failure\n", prog,
				json_object_get_int64(mm));
		json_object_put(r);
		return 1;
	}
	if (rep)
		*rep = r;
	else
		json_object_put(r);
	return 0;
}

struct io_args {
	const char *nsd;
	const char *op;
	uint64_t off, len, seed, bs, depth;
	bool verify, random;
	uint64_t count, rseed;
	const struct run *runs;
	size_t nruns;
};

static json_object *io_request(const struct io_args *a)
{
	json_object *req = json_object_new_object();

	json_object_object_add(req, "cmd", json_object_new_string("nsdio"));
	json_object_object_add(req, "nsd", json_object_new_string(a->nsd));
	json_object_object_add(req, "op", json_object_new_string(a->op));
	json_object_object_add(req, "offset", json_object_new_int64((int64_t)a->off));
	json_object_object_add(req, "length", json_object_new_int64((int64_t)a->len));
	json_object_object_add(req, "bs", json_object_new_int64((int64_t)a->bs));
	json_object_object_add(req, "depth", json_object_new_int64((int64_t)a->depth));
	json_object_object_add(req, "seed", json_object_new_int64((int64_t)a->seed));
	json_object_object_add(req, "verify", json_object_new_boolean(a->verify));
	if (a->random) {
		json_object_object_add(req, "random", json_object_new_boolean(true));
		json_object_object_add(req, "count", json_object_new_int64((int64_t)a->count));
		json_object_object_add(req, "rseed", json_object_new_int64((int64_t)a->rseed));
	}
	if (a->nruns) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < a->nruns; i++) {
			json_object *r = json_object_new_array();

			json_object_array_add(r, json_object_new_int64((int64_t)a->runs[i].off));
			json_object_array_add(r, json_object_new_int64((int64_t)a->runs[i].len));
			json_object_array_add(r, json_object_new_int64((int64_t)a->runs[i].seed));
			json_object_array_add(arr, r);
		}
		json_object_object_add(req, "expect", arr);
	}
	return req;
}

/* One nsdio request; prints a summary line unless <quiet_one>. */
static int do_io(const struct io_args *a, bool quiet_one)
{
	json_object *rep = NULL;
	char what[200];
	int rc;

	snprintf(what, sizeof(what), "%s of NSD %s [%" PRIu64 ", +%" PRIu64 ") seed %" PRIu64,
		 a->op, a->nsd, a->off, a->len, a->seed);
	rc = call(io_request(a), &rep, what);
	if (rc)
		return rc;
	if (!quiet_one && !quiet) {
		int64_t bytes = 0, usec = 0, ios = 0, cpu = 0;
		json_object *v;

		if (json_object_object_get_ex(rep, "bytes", &v))
			bytes = json_object_get_int64(v);
		if (json_object_object_get_ex(rep, "usec", &v))
			usec = json_object_get_int64(v);
		if (json_object_object_get_ex(rep, "ios", &v))
			ios = json_object_get_int64(v);
		if (json_object_object_get_ex(rep, "cpu_usec", &v))
			cpu = json_object_get_int64(v);
		printf("%s: %s ok: %" PRId64 " bytes in %" PRId64 " requests, %.3f s, %.1f MB/s, "
		       "daemon cpu %.3f s%s\n", prog, what, bytes, ios, usec / 1e6,
		       usec ? bytes / (double)usec : 0.0, cpu / 1e6,
		       !strcmp(a->op, "read") && a->verify ? ", data verified" : "");
	}
	json_object_put(rep);
	return 0;
}

/* ---- runs files ------------------------------------------------------ */

static int read_runs(const char *path, struct run **out, size_t *n, uint64_t *roff, uint64_t *rlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	struct run *runs = NULL;
	size_t cnt = 0, cap = 0;
	int lineno = 0;
	bool have_region = false;

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, c;
		char *p = line;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (sscanf(p, "region %llu %llu", &a, &b) == 2) {
			if (roff)
				*roff = a;
			if (rlen)
				*rlen = b;
			have_region = true;
			continue;
		}
		if (sscanf(p, "%llu %llu %llu", &a, &b, &c) != 3) {
			fprintf(stderr, "%s: %s:%d: expected \"OFFSET LENGTH SEED\"\n", prog, path, lineno);
			fclose(f);
			free(runs);
			return 2;
		}
		if (cnt == cap) {
			struct run *nr = realloc(runs, (cap = cap ? 2 * cap : 64) * sizeof(*nr));

			if (!nr) {
				fclose(f);
				free(runs);
				return 1;
			}
			runs = nr;
		}
		runs[cnt++] = (struct run){a, b, c};
	}
	fclose(f);
	if ((roff || rlen) && !have_region) {
		fprintf(stderr, "%s: %s: no \"region OFFSET LENGTH\" line\n", prog, path);
		free(runs);
		return 2;
	}
	*out = runs;
	*n = cnt;
	return 0;
}

/* ---- the model -------------------------------------------------------- */

struct model {
	uint64_t off, len, nblk;
	uint64_t *seed;		/* per 4 KiB block */
};

static uint64_t xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Runs of equal seeds over blocks [b0, b1). *out malloc'd. */
static size_t model_runs(const struct model *m, uint64_t b0, uint64_t b1, struct run **out)
{
	struct run *runs = NULL;
	size_t n = 0, cap = 0;

	for (uint64_t b = b0; b < b1;) {
		uint64_t e = b + 1;

		while (e < b1 && m->seed[e] == m->seed[b])
			e++;
		if (n == cap) {
			struct run *nr = realloc(runs, (cap = cap ? 2 * cap : 64) * sizeof(*nr));

			if (!nr) {
				free(runs);
				*out = NULL;
				return 0;
			}
			runs = nr;
		}
		runs[n++] = (struct run){m->off + b * BLK, (e - b) * BLK, m->seed[b]};
		b = e;
	}
	*out = runs;
	return n;
}

static int model_read(const char *nsd, const struct model *m, uint64_t b0, uint64_t b1,
		      uint64_t bs, uint64_t depth, bool q)
{
	struct run *runs = NULL;
	size_t n = model_runs(m, b0, b1, &runs);
	struct io_args a = {
		.nsd = nsd, .op = "read", .off = m->off + b0 * BLK, .len = (b1 - b0) * BLK,
		.seed = n ? runs[0].seed : 0, .bs = bs, .depth = depth, .verify = true,
		.runs = runs, .nruns = n,
	};
	int rc;

	if (!runs)
		return 1;
	rc = do_io(&a, q);
	free(runs);
	return rc;
}

static int model_save(const char *path, const char *nsd, const struct model *m)
{
	struct run *runs = NULL;
	size_t n = model_runs(m, 0, m->nblk, &runs);
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || !runs) {
		fprintf(stderr, "%s: %s: %s\n", prog, tmp, strerror(errno));
		if (f)
			fclose(f);
		free(runs);
		return 1;
	}
	fprintf(f, "# nsdio model of NSD %s: %zu runs\nregion %" PRIu64 " %" PRIu64 "\n", nsd, n,
		m->off, m->len);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", runs[i].off, runs[i].len,
			runs[i].seed);
	free(runs);
	if (fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	return 0;
}

static int model_run(const char *nsd, uint64_t roff, uint64_t rlen, uint64_t ops, uint64_t seed,
		     const char *path)
{
	struct model m = {.off = roff, .len = rlen, .nblk = rlen / BLK};
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull, nw = 0, nr = 0, nb = 0;
	uint64_t wbytes = 0, rbytes = 0;
	int rc;

	if (roff % BLK || rlen % BLK || rlen < 64 * BLK || roff < BLK) {
		fprintf(stderr, "%s: model-run: the region must be 4 KiB aligned, at least 256 KiB and "
			"above the descriptor (first 4 KiB)\n", prog);
		return 2;
	}
	if (!rng)
		rng = 1;
	m.seed = calloc(m.nblk, sizeof(*m.seed));
	if (!m.seed)
		return 1;
	/* a known starting point: the whole region with <seed> */
	{
		struct io_args a = {.nsd = nsd, .op = "write", .off = roff, .len = rlen, .seed = seed,
				    .bs = 1 << 20, .depth = 8, .verify = true};

		rc = do_io(&a, true);
		if (rc)
			goto out;
		for (uint64_t b = 0; b < m.nblk; b++)
			m.seed[b] = seed;
	}
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t kind = xs64(&rng) % 20;
		uint64_t nblk = 1 + xs64(&rng) % 64;	/* 4 KiB .. 256 KiB */
		uint64_t b0 = xs64(&rng) % (m.nblk - nblk + 1);
		uint64_t fresh = seed * 1000003ull + op + 1;

		if (kind < 10) {
			struct io_args a = {.nsd = nsd, .op = "write", .off = roff + b0 * BLK,
					    .len = nblk * BLK, .seed = fresh, .bs = nblk * BLK,
					    .depth = 1, .verify = true};

			rc = do_io(&a, true);
			if (rc) {
				fprintf(stderr, "%s: model-run: operation %" PRIu64 " (write) failed\n",
					prog, op);
				goto out;
			}
			for (uint64_t b = b0; b < b0 + nblk; b++)
				m.seed[b] = fresh;
			nw++;
			wbytes += a.len;
		} else if (kind < 18) {
			rc = model_read(nsd, &m, b0, b0 + nblk, nblk * BLK, 1, true);
			if (rc) {
				fprintf(stderr, "%s: model-run: operation %" PRIu64 " (read of [%" PRIu64
					", +%" PRIu64 ")) failed\n", prog, op, roff + b0 * BLK, nblk * BLK);
				goto out;
			}
			nr++;
			rbytes += nblk * BLK;
		} else {
			/* a burst of concurrent random writes, all with one seed:
			 * the daemon draws offsets with xorshift from rseed */
			uint64_t bsb = 1 + xs64(&rng) % 16, slots = m.nblk / bsb;
			uint64_t count = 8 + xs64(&rng) % 25, rseed = xs64(&rng) & 0x7fffffffffffull;
			uint64_t st = rseed | 1;
			struct io_args a = {.nsd = nsd, .op = "write", .off = roff,
					    .len = slots * bsb * BLK, .seed = fresh, .bs = bsb * BLK,
					    .depth = 8, .verify = true, .random = true,
					    .count = count, .rseed = rseed};

			rc = do_io(&a, true);
			if (rc) {
				fprintf(stderr, "%s: model-run: operation %" PRIu64 " (burst of %" PRIu64
					" random writes) failed\n", prog, op, count);
				goto out;
			}
			for (uint64_t i = 0; i < count; i++) {
				uint64_t s0;

				st ^= st << 13;
				st ^= st >> 7;
				st ^= st << 17;
				s0 = (st % slots) * bsb;
				for (uint64_t b = s0; b < s0 + bsb; b++)
					m.seed[b] = fresh;
			}
			nb++;
			wbytes += count * bsb * BLK;
		}
	}
	rc = model_read(nsd, &m, 0, m.nblk, 1 << 20, 8, true);
	if (rc) {
		fprintf(stderr, "%s: model-run: the final read of the whole region failed\n", prog);
		goto out;
	}
	rc = model_save(path, nsd, &m);
	if (!rc && !quiet)
		printf("%s: model-run NSD %s [%" PRIu64 ", +%" PRIu64 "): %" PRIu64 " writes, %" PRIu64
		       " bursts, %" PRIu64 " reads verified (%.1f MB written, %.1f MB read), region "
		       "verified, model in %s\n", prog, nsd, roff, rlen, nw, nb, nr, wbytes / 1e6,
		       rbytes / 1e6, path);
out:
	free(m.seed);
	return rc;
}

static int model_verify(const char *nsd, const char *path, uint64_t bs, uint64_t depth)
{
	struct run *runs = NULL;
	size_t n = 0;
	uint64_t roff = 0, rlen = 0;
	int rc = read_runs(path, &runs, &n, &roff, &rlen);
	struct io_args a;

	if (rc)
		return rc;
	if (n == 0 || rlen == 0) {
		fprintf(stderr, "%s: %s: an empty model\n", prog, path);
		free(runs);
		return 2;
	}
	a = (struct io_args){.nsd = nsd, .op = "read", .off = roff, .len = rlen, .seed = runs[0].seed,
			     .bs = bs, .depth = depth, .verify = true, .runs = runs, .nruns = n};
	rc = do_io(&a, true);
	if (!rc && !quiet)
		printf("%s: model-verify NSD %s [%" PRIu64 ", +%" PRIu64 "): %zu runs verified\n", prog,
		       nsd, roff, rlen, n);
	free(runs);
	return rc;
}

/* ---- classify --------------------------------------------------------- */

static int classify(const char *nsd, uint64_t off, uint64_t len, uint64_t chunk,
		    const uint64_t *seeds, int nseeds)
{
	uint64_t nchunks = len / chunk, cnt[32] = {0}, first[32], last[32], other = 0;
	uint64_t ofirst = 0, olast = 0;

	if (chunk == 0 || chunk % BLK || len % chunk || off % BLK || nseeds > 31) {
		fprintf(stderr, "%s: classify: CHUNK must be a multiple of 4096 dividing LENGTH "
			"(at most 31 seeds)\n", prog);
		return 2;
	}
	silent_fail = true;
	for (uint64_t i = 0; i < nchunks; i++) {
		uint64_t o = off + i * chunk;
		int k;

		for (k = 0; k < nseeds; k++) {
			struct io_args a = {.nsd = nsd, .op = "read", .off = o, .len = chunk,
					    .seed = seeds[k], .bs = chunk, .depth = 1, .verify = true};

			if (do_io(&a, true) == 0)
				break;
		}
		if (k < nseeds) {
			if (!cnt[k]++)
				first[k] = o;
			last[k] = o;
		} else {
			if (!other++)
				ofirst = o;
			olast = o;
		}
	}
	silent_fail = false;
	printf("%s: classify NSD %s [%" PRIu64 ", +%" PRIu64 ") in %" PRIu64 " chunks of %" PRIu64
	       " bytes\n", prog, nsd, off, len, nchunks, chunk);
	for (int k = 0; k < nseeds; k++) {
		printf("seed %" PRIu64 ": %" PRIu64 " chunks", seeds[k], cnt[k]);
		if (cnt[k])
			printf(", first at %" PRIu64 ", last at %" PRIu64, first[k], last[k]);
		printf("\n");
	}
	printf("other: %" PRIu64 " chunks", other);
	if (other)
		printf(", first at %" PRIu64 ", last at %" PRIu64, ofirst, olast);
	printf("\n");
	return 0;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"expect", required_argument, NULL, 'e'},
		{"noverify", no_argument, NULL, 'V'},
		{"random", required_argument, NULL, 'r'},
		{"rseed", required_argument, NULL, 'R'},
		{"persistent", no_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *node = NULL, *expect = NULL;
	uint64_t bs = 1 << 20, depth = 8, count = 0, rseed = 12345, v;
	bool verify = true, random = false, persistent = false;
	char **pos;
	int npos, c, rc;

	while ((c = getopt_long(argc, argv, "n:b:d:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'n': node = optarg; break;
		case 'b':
			if (mm_parse_size(optarg, &bs) || bs == 0) {
				fprintf(stderr, "%s: -b %s: not a size\n", prog, optarg);
				return 2;
			}
			break;
		case 'd':
			if (mm_parse_size(optarg, &depth) || depth == 0) {
				fprintf(stderr, "%s: -d %s: not a number\n", prog, optarg);
				return 2;
			}
			break;
		case 'q': quiet = true; break;
		case 'e': expect = optarg; break;
		case 'V': verify = false; break;
		case 'r':
			if (mm_parse_size(optarg, &count) || count == 0) {
				fprintf(stderr, "%s: --random %s: not a count\n", prog, optarg);
				return 2;
			}
			random = true;
			break;
		case 'R':
			if (mm_parse_size(optarg, &rseed)) {
				fprintf(stderr, "%s: --rseed %s: not a number\n", prog, optarg);
				return 2;
			}
			break;
		case 'p': persistent = true; break;
		case 't':
			if (mm_parse_size(optarg, &v) || v == 0 || v > 86400) {
				fprintf(stderr, "%s: --timeout %s: seconds expected\n", prog, optarg);
				return 2;
			}
			timeout_ms = (int)v * 1000;
			break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	pos = argv + optind;
	npos = argc - optind;
	if (npos < 1) {
		usage();
		return 2;
	}
	if (node)
		setenv("MMFS_NODE", node, 1);

#define NUM(i, var)                                                                      \
	do {                                                                             \
		if (mm_parse_size(pos[i], &(var))) {                                       \
			fprintf(stderr, "%s: %s: \"%s\" is not a number\n", prog, pos[0], pos[i]); \
			rc = 2;                                                          \
			goto done;                                                       \
		}                                                                        \
	} while (0)

	if (!strcmp(pos[0], "write") || !strcmp(pos[0], "read")) {
		struct io_args a = {.op = pos[0], .bs = bs, .depth = depth, .verify = verify,
				    .random = random, .count = count, .rseed = rseed};
		struct run *runs = NULL;
		size_t n = 0;

		if (npos != 5) {
			usage();
			rc = 2;
			goto done;
		}
		a.nsd = pos[1];
		NUM(2, a.off);
		NUM(3, a.len);
		NUM(4, a.seed);
		if (expect) {
			if (strcmp(pos[0], "read")) {
				fprintf(stderr, "%s: --expect is for reads\n", prog);
				rc = 2;
				goto done;
			}
			rc = read_runs(expect, &runs, &n, NULL, NULL);
			if (rc)
				goto done;
			a.runs = runs;
			a.nruns = n;
		}
		rc = do_io(&a, false);
		free(runs);
	} else if (!strcmp(pos[0], "model-run")) {
		uint64_t roff, rlen, ops, seed;

		if (npos != 7) {
			usage();
			rc = 2;
			goto done;
		}
		NUM(2, roff);
		NUM(3, rlen);
		NUM(4, ops);
		NUM(5, seed);
		rc = model_run(pos[1], roff, rlen, ops, seed, pos[6]);
	} else if (!strcmp(pos[0], "model-verify")) {
		if (npos != 3) {
			usage();
			rc = 2;
			goto done;
		}
		rc = model_verify(pos[1], pos[2], bs, depth);
	} else if (!strcmp(pos[0], "classify")) {
		uint64_t off, len, chunk, seeds[32];

		if (npos < 6 || npos > 5 + 31) {
			usage();
			rc = 2;
			goto done;
		}
		NUM(2, off);
		NUM(3, len);
		NUM(4, chunk);
		for (int i = 5; i < npos; i++)
			NUM(i, seeds[i - 5]);
		rc = classify(pos[1], off, len, chunk, seeds, npos - 5);
	} else if (!strcmp(pos[0], "fault")) {
		uint64_t nth = 1;
		int err = EIO;
		json_object *req;

		if (npos < 2 || npos > 4) {
			usage();
			rc = 2;
			goto done;
		}
		if (npos >= 3)
			NUM(2, nth);
		if (npos == 4 && (err = parse_errno(pos[3])) < 0) {
			fprintf(stderr, "%s: fault: \"%s\" is not an errno\n", prog, pos[3]);
			rc = 2;
			goto done;
		}
		req = json_object_new_object();
		json_object_object_add(req, "cmd", json_object_new_string("nsdfault"));
		json_object_object_add(req, "call", json_object_new_string(pos[1]));
		json_object_object_add(req, "nth", json_object_new_int64((int64_t)nth));
		json_object_object_add(req, "errno", json_object_new_int(err));
		json_object_object_add(req, "persistent", json_object_new_boolean(persistent));
		rc = call(req, NULL, "nsdfault");
		if (!rc && !quiet)
			printf("%s: %s: call %" PRIu64 " from now fails with %s%s\n", prog, pos[1], nth,
			       strerror(err), persistent ? ", and every later one" : "");
	} else if (!strcmp(pos[0], "fault-reset")) {
		json_object *req = json_object_new_object();

		json_object_object_add(req, "cmd", json_object_new_string("nsdfault"));
		json_object_object_add(req, "reset", json_object_new_boolean(true));
		rc = call(req, NULL, "nsdfault reset");
		if (!rc && !quiet)
			printf("%s: every injected fault disarmed\n", prog);
	} else {
		fprintf(stderr, "%s: unknown command \"%s\"\n", prog, pos[0]);
		usage();
		rc = 2;
	}
done:
	if (env_ready)
		cmd_env_free(&env);
	return rc;
}
