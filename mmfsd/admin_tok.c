/*
 * mmfsd/admin_tok.c - token test commands of the admin socket (issue 11's
 * real-daemon tests, tests/integration/tokens.sh):
 *
 *   tokstorm  background threads that take random tokens through this
 *             node's toknet, hold them a random while and release them,
 *             logging every grant and release with CLOCK_MONOTONIC for
 *             tests/tools/tokcheck
 *   tokhold   take one token and keep it across admin calls (the frozen
 *             holder test), or give it back
 *
 * tokstorm requests ({"cmd":"tokstorm","op":...}):
 *   start   "space" (number, or a device name), "threads" (1-64), "objects"
 *           (>= 1), "seconds", "hold_ms", "seed", "log" (path, appended),
 *           "kinds" ("br,inode,...", default "inode,br"), "modes" (default
 *           "ro,ws,xw"), "multi" (2-4 distinct objects per acquire, with
 *           toknet_acquire_many), "first" (lowest object id, default 1),
 *           "sequential" (thread k takes objects first+k, first+k+threads,
 *           ... once each, then ends), "acquire_timeout_ms" (default
 *           120000)
 *   status  running, ops, holds, errors, timeouts, latencies, the oldest
 *           acquire still waiting
 *   wait    block until the storm ends, at most "timeout_ms" (default
 *           30000, at most 55000): MM_ETIMEDOUT if it still runs
 *   stop    tell the threads to end (a hold in progress is cut short and
 *           released), log "X <node> <t_ns>", and wait as "wait" does
 *
 * Log lines, one write() each on an O_APPEND file so the lines of several
 * threads never interleave (format: tests/tools/tokcheck.c):
 *   G|R|T <node> <thread> <t_ns> <space> <kind> <obj> <mode> <start> <end>
 * G is stamped after the acquire returned and R before the release is
 * called, so each logged interval lies inside the real hold; T is an
 * acquire that timed out (an error). A multi-acquire logs one line per
 * token. toknet_acquire_many has no timeout: an acquire older than
 * acquire_timeout_ms shows as "stuck" in status (and counts as an error
 * when the storm ends).
 *
 * tokhold requests: "op":"acquire" with "id", "space", "kind", "obj",
 * "mode", "start", "end" (number or "inf"), "timeout_ms" (default 50000):
 * the reply has "granted_ns" (CLOCK_MONOTONIC after the grant) and
 * "waited_ns"; "op":"release" with "id" ("released_ns", stamped before the
 * release); "op":"list".
 *
 * Locks: one static mutex guards the list of per-daemon states; each
 * state's mutex guards its storm's counters and its holds. Neither is held
 * across a toknet call (toknet.h: callers hold no lock a revoke takes).
 * adm_tok_shutdown (from adm_server_stop, before the token service goes)
 * ends the storm and gives back the holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "tokens/toknet.h"
#include "tokens/tokens.h"

#define SUB "tokens"
#define STORM_MAX_THREADS 64
#define STORM_MAX_MULTI 4
#define WAIT_MAX_MS 55000	/* under admcall's 60 s */

struct storm;

struct storm_thread {
	struct storm *s;
	pthread_t th;
	unsigned idx;
	uint64_t rng;
	uint64_t acq_since;	/* mm_now_ns at the acquire in progress, 0: none (s->lock) */
	bool started;
};

struct storm {
	mmfsd *d;
	struct tokadm *a;
	struct toknet *t;
	int fd;
	uint32_t node, space;
	unsigned nthreads, objects, hold_ms;
	uint64_t first;
	bool multi, sequential;
	int acq_timeout_ms;
	uint8_t kinds[TOK_NKINDS];
	unsigned nkinds;
	uint8_t modes[3];
	unsigned nmodes;
	uint64_t started_ns, deadline_ns, ended_ns;
	atomic_bool stop;
	/* under the state's lock */
	unsigned live;		/* threads not finished */
	bool reaping, joined;	/* threads being joined, joined */
	uint64_t ops, holds, errors, timeouts, stuck;
	uint64_t lat_max_ns, lat_sum_ns;
	char first_err[160];
	struct storm_thread th[];
};

struct held {
	struct held *next;
	char id[64];
	bool granted;		/* under the state's lock */
	struct tok_holder h;
};

/* one per daemon (several daemons may live in one process) */
struct tokadm {
	struct tokadm *next;
	mmfsd *d;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC: a storm thread ended, or stop */
	struct storm *storm;
	struct held *holds;
	bool shutdown;
};

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tokadm *all;

static struct tokadm *tokadm_get(mmfsd *d, bool create)
{
	struct tokadm *a;

	pthread_mutex_lock(&all_lock);
	for (a = all; a; a = a->next)
		if (a->d == d)
			break;
	if (!a && create) {
		a = calloc(1, sizeof(*a));
		if (a) {
			a->d = d;
			pthread_mutex_init(&a->lock, NULL);
			if (mm_cond_init(&a->cond)) {
				pthread_mutex_destroy(&a->lock);
				free(a);
				a = NULL;
			} else {
				a->next = all;
				all = a;
			}
		}
	}
	pthread_mutex_unlock(&all_lock);
	return a;
}

/* ---- request fields ---------------------------------------------------- */

/* "end": a number or "inf" */
static int get_end(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;
	const char *s;
	char *e;

	*out = TOK_INF;
	if (!json_object_object_get_ex(o, key, &v))
		return MM_OK;
	if (!json_object_is_type(v, json_type_string)) {
		int64_t n = json_object_get_int64(v);

		if (n <= 0)
			return MM_EINVAL;
		*out = (uint64_t)n;
		return MM_OK;
	}
	s = json_object_get_string(v);
	if (strcmp(s, "inf") == 0)
		return MM_OK;
	errno = 0;
	*out = strtoull(s, &e, 10);
	return !*s || *e || errno || !*out ? MM_EINVAL : MM_OK;
}

static int parse_kind(const char *s, enum tok_kind *out)
{
	for (int k = 0; k < TOK_NKINDS; k++)
		if (strcmp(s, tok_kind_name((enum tok_kind)k)) == 0) {
			*out = (enum tok_kind)k;
			return MM_OK;
		}
	return MM_EINVAL;
}

static int parse_mode(const char *s, enum tok_mode *out)
{
	for (int m = TOK_RO; m < TOK_NMODES; m++)
		if (strcmp(s, tok_mode_name((enum tok_mode)m)) == 0) {
			*out = (enum tok_mode)m;
			return MM_OK;
		}
	return MM_EINVAL;
}

/* "space": a number, or a device name (its fsid's low 32 bits: the
 * token space of a file system is its id) */
static int get_space(mmfsd *d, json_object *req, uint32_t *out, char *err, size_t errsz)
{
	json_object *v;
	struct clm_fsmgr f;
	const char *dev;

	if (!json_object_object_get_ex(req, "space", &v)) {
		snprintf(err, errsz, "\"space\" (a number or a device) is required");
		return MM_EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		int64_t n = json_object_get_int64(v);

		if (n <= 0 || n > UINT32_MAX) {
			snprintf(err, errsz, "space %" PRId64 " out of range", n);
			return MM_EINVAL;
		}
		*out = (uint32_t)n;
		return MM_OK;
	}
	dev = json_object_get_string(v);
	if (!strncmp(dev, "/dev/", 5))
		dev += 5;
	if (clm_fsmgr_find(mmfsd_clm(d), dev, &f)) {
		snprintf(err, errsz, "no token space for device %.64s", dev);
		return MM_ENOENT;
	}
	*out = (uint32_t)f.fsid;
	return MM_OK;
}

/* comma-separated names into <out> (distinct); 0 when one is unknown */
static unsigned parse_list(const char *s, bool kinds, uint8_t *out, unsigned max)
{
	char buf[128], *save = NULL, *p;
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		enum tok_kind k;
		enum tok_mode m;
		uint8_t v;
		bool dup = false;

		if (kinds ? parse_kind(p, &k) : parse_mode(p, &m))
			return 0;
		v = kinds ? (uint8_t)k : (uint8_t)m;
		for (unsigned i = 0; i < n; i++)
			dup |= out[i] == v;
		if (!dup && n < max)
			out[n++] = v;
	}
	return n;
}

/* ---- the storm ------------------------------------------------------- */

static uint64_t rnd(uint64_t *x)	/* xorshift64* */
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

static void log_line(struct storm *s, char type, unsigned thread, uint64_t t,
		     const struct tok_holder *h)
{
	char buf[200], end[24];
	int n;

	if (h->req.end == TOK_INF)
		snprintf(end, sizeof(end), "inf");
	else
		snprintf(end, sizeof(end), "%" PRIu64, h->req.end);
	n = snprintf(buf, sizeof(buf), "%c %u %u %" PRIu64 " %u %s %" PRIu64 " %s %" PRIu64 " %s\n",
		     type, s->node, thread, t, h->key.space, tok_kind_name((enum tok_kind)h->key.kind),
		     h->key.obj, tok_mode_name(h->mode), h->req.start, end);
	if (write(s->fd, buf, (size_t)n) != n) {
		int e = errno;

		pthread_mutex_lock(&s->a->lock);
		s->errors++;
		if (!s->first_err[0])
			snprintf(s->first_err, sizeof(s->first_err), "log write: %s", strerror(e));
		pthread_mutex_unlock(&s->a->lock);
	}
}

/* A random kind and mode on object <obj> for thread <st> into <h> */
static void pick(struct storm_thread *st, struct tok_holder *h, uint64_t obj)
{
	struct storm *s = st->s;
	struct tok_key k = {.space = s->space};
	enum tok_mode mode = (enum tok_mode)s->modes[rnd(&st->rng) % s->nmodes];
	struct tok_range req = {0, TOK_INF}, des = {0, TOK_INF};

	k.kind = s->kinds[rnd(&st->rng) % s->nkinds];
	k.obj = obj;
	if (k.kind == TOK_BR) {
		/* ranges of 1-16 blocks in the first 256 KiB; the desired range
		 * is the required one, or open ended from it, or the whole file */
		uint64_t r = rnd(&st->rng);

		req.start = (r % 64) * 4096;
		req.end = req.start + (1 + (r >> 8) % 16) * 4096;
		switch ((r >> 16) % 4) {
		case 0:
			des = (struct tok_range){req.start, TOK_INF};
			break;
		case 1:
			break;	/* [0, inf) */
		default:
			des = req;
		}
	}
	tok_holder_init(h, &k, mode, req, des);
}

static void storm_err(struct tokadm *a, struct storm *s, int rc, const char *what)
{
	pthread_mutex_lock(&a->lock);
	s->errors++;
	if (rc == MM_ETIMEDOUT)
		s->timeouts++;
	if (!s->first_err[0])
		snprintf(s->first_err, sizeof(s->first_err), "%s: %s", what, mm_strerror(rc));
	pthread_mutex_unlock(&a->lock);
}

static void *storm_main(void *arg)
{
	struct storm_thread *st = arg;
	struct storm *s = st->s;
	struct tokadm *a = s->a;
	struct tok_holder hs[STORM_MAX_MULTI], *hp[STORM_MAX_MULTI];
	uint64_t next_obj = s->first + st->idx, last_obj = s->first + s->objects - 1;

	while (!atomic_load(&s->stop) && mm_now_ns() < s->deadline_ns) {
		unsigned n = 1, hold;
		uint64_t t0, t1, lat;
		int rc;

		if (s->sequential) {
			if (next_obj > last_obj)
				break;
			pick(st, &hs[0], next_obj);
			next_obj += s->nthreads;
		} else {
			if (s->multi) {
				n = 2 + (unsigned)(rnd(&st->rng) % (STORM_MAX_MULTI - 1));
				if ((uint64_t)n > (uint64_t)s->objects * s->nkinds)
					n = s->objects * s->nkinds;	/* < 4 */
			}
			for (unsigned i = 0; i < n; i++) {
				bool dup;

				do {	/* distinct objects: acquire_many refuses overlaps */
					pick(st, &hs[i], s->first + rnd(&st->rng) % s->objects);
					dup = false;
					for (unsigned j = 0; j < i; j++)
						dup |= hs[j].key.kind == hs[i].key.kind &&
						       hs[j].key.obj == hs[i].key.obj;
				} while (dup);
			}
		}
		for (unsigned i = 0; i < n; i++)
			hp[i] = &hs[i];
		t0 = mm_now_ns();
		pthread_mutex_lock(&a->lock);
		st->acq_since = t0;
		pthread_mutex_unlock(&a->lock);
		if (n == 1)
			rc = toknet_acquire(s->t, &hs[0], s->acq_timeout_ms);
		else
			rc = toknet_acquire_many(s->t, hp, n);
		t1 = mm_now_ns();	/* the grant stamp: after the acquire returned */
		lat = t1 - t0;
		pthread_mutex_lock(&a->lock);
		st->acq_since = 0;
		if (!rc) {
			s->ops++;
			s->holds += n;
			s->lat_sum_ns += lat;
			if (lat > s->lat_max_ns)
				s->lat_max_ns = lat;
			if (lat > (uint64_t)s->acq_timeout_ms * 1000000u)
				s->stuck++;	/* a multi-acquire past the bound */
		}
		pthread_mutex_unlock(&a->lock);
		if (rc) {
			if (rc == MM_ETIMEDOUT)
				for (unsigned i = 0; i < n; i++)
					log_line(s, 'T', st->idx, t1, hp[i]);
			storm_err(a, s, rc, n == 1 ? "toknet_acquire" : "toknet_acquire_many");
			if (rc == MM_ESHUTDOWN)
				break;
			if (rc != MM_ETIMEDOUT)
				mm_sleep_ms(10);	/* no view yet, or the like: do not spin */
			continue;
		}
		for (unsigned i = 0; i < n; i++)
			log_line(s, 'G', st->idx, t1, hp[i]);
		hold = s->hold_ms ? (unsigned)(rnd(&st->rng) % (s->hold_ms + 1)) : 0;
		if (hold) {
			uint64_t until = t1 + (uint64_t)hold * 1000000u;

			pthread_mutex_lock(&a->lock);
			while (!atomic_load(&s->stop) && mm_now_ns() < until)
				mm_cond_wait_until(&a->cond, &a->lock, until);
			pthread_mutex_unlock(&a->lock);
		}
		t1 = mm_now_ns();	/* the release stamp: before the release */
		for (unsigned i = 0; i < n; i++)
			log_line(s, 'R', st->idx, t1, hp[i]);
		for (unsigned i = 0; i < n; i++)
			toknet_release(s->t, hp[i]);
	}
	pthread_mutex_lock(&a->lock);
	if (--s->live == 0) {
		s->ended_ns = mm_now_ns();
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* With a->lock held: join a finished storm's threads (once; a second
 * caller waits for the first one's joins). */
static void storm_reap(struct tokadm *a, struct storm *s)
{
	if (s->live || s->joined)
		return;
	if (s->reaping) {
		while (!s->joined)
			pthread_cond_wait(&a->cond, &a->lock);
		return;
	}
	s->reaping = true;
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < s->nthreads; i++)
		if (s->th[i].started)
			pthread_join(s->th[i].th, NULL);
	pthread_mutex_lock(&a->lock);
	s->joined = true;
	pthread_cond_broadcast(&a->cond);
}

static void storm_free(struct storm *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* With a->lock held: wait until the storm ends or <ms> pass. */
static bool storm_wait(struct tokadm *a, struct storm *s, uint64_t ms)
{
	uint64_t until = mm_now_ns() + ms * 1000000u;

	while (s->live && mm_now_ns() < until)
		mm_cond_wait_until(&a->cond, &a->lock, until);
	storm_reap(a, s);
	return s->live == 0;
}

/* With a->lock held. */
static void storm_report(struct storm *s, json_object *rep)
{
	uint64_t now = mm_now_ns(), oldest = 0;

	for (unsigned i = 0; i < s->nthreads; i++)
		if (s->th[i].acq_since && now - s->th[i].acq_since > oldest)
			oldest = now - s->th[i].acq_since;
	json_object_object_add(rep, "running", json_object_new_boolean(s->live > 0));
	json_object_object_add(rep, "node", json_object_new_int64(s->node));
	json_object_object_add(rep, "space", json_object_new_int64(s->space));
	json_object_object_add(rep, "threads", json_object_new_int64(s->nthreads));
	json_object_object_add(rep, "live", json_object_new_int64(s->live));
	json_object_object_add(rep, "ops", json_object_new_int64((int64_t)s->ops));
	json_object_object_add(rep, "holds", json_object_new_int64((int64_t)s->holds));
	json_object_object_add(rep, "errors", json_object_new_int64((int64_t)(s->errors + s->stuck)));
	json_object_object_add(rep, "timeouts", json_object_new_int64((int64_t)s->timeouts));
	json_object_object_add(rep, "stuck", json_object_new_int64((int64_t)s->stuck));
	json_object_object_add(rep, "max_latency_ms",
			       json_object_new_double((double)s->lat_max_ns / 1e6));
	json_object_object_add(rep, "avg_latency_ms",
			       json_object_new_double(s->ops ? (double)s->lat_sum_ns / (double)s->ops / 1e6
							     : 0.0));
	json_object_object_add(rep, "oldest_acquire_ms",
			       json_object_new_double((double)oldest / 1e6));
	json_object_object_add(rep, "elapsed_ms",
			       json_object_new_int64((int64_t)(((s->live ? now : s->ended_ns) -
								s->started_ns) / 1000000u)));
	json_object_object_add(rep, "first_error", json_object_new_string(s->first_err));
}

static void storm_start(mmfsd *d, struct tokadm *a, json_object *req, json_object *rep)
{
	struct toknet *t = mmfsd_toknet(d);
	int64_t threads = adm_get_i64(req, "threads", 4), objects = adm_get_i64(req, "objects", 16);
	int64_t seconds = adm_get_i64(req, "seconds", 10), hold_ms = adm_get_i64(req, "hold_ms", 10);
	int64_t first = adm_get_i64(req, "first", 1), acq_to = adm_get_i64(req, "acquire_timeout_ms", 120000);
	uint64_t seed = (uint64_t)adm_get_i64(req, "seed", 1);
	const char *path = adm_get_str(req, "log", "");
	char err[200] = "";
	uint32_t space;
	struct storm *s;
	int rc;

	if (!t) {
		adm_set_rc(rep, MM_ESTATE, "tokstorm: the token service is not running");
		return;
	}
	rc = get_space(d, req, &space, err, sizeof(err));
	if (rc) {
		adm_set_rc(rep, rc, err);
		return;
	}
	if (threads < 1 || threads > STORM_MAX_THREADS || objects < 1 || objects > INT32_MAX ||
	    seconds < 1 || seconds > 3600 || hold_ms < 0 || hold_ms > 60000 || first < 0 ||
	    acq_to < 1 || acq_to > 3600000 || !*path) {
		adm_set_rc(rep, MM_EINVAL, "tokstorm: threads 1-64, objects >= 1, seconds 1-3600, "
			   "hold_ms 0-60000, acquire_timeout_ms > 0 and a log path");
		return;
	}
	s = calloc(1, sizeof(*s) + (size_t)threads * sizeof(s->th[0]));
	if (!s) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		return;
	}
	s->d = d;
	s->a = a;
	s->t = t;
	s->node = mmfsd_node_number(d);
	s->space = space;
	s->nthreads = (unsigned)threads;
	s->objects = (unsigned)objects;
	s->first = (uint64_t)first;
	s->hold_ms = (unsigned)hold_ms;
	s->multi = adm_get_bool(req, "multi", false);
	s->sequential = adm_get_bool(req, "sequential", false);
	s->acq_timeout_ms = (int)acq_to;
	s->nkinds = parse_list(adm_get_str(req, "kinds", "inode,br"), true, s->kinds, TOK_NKINDS);
	s->nmodes = parse_list(adm_get_str(req, "modes", "ro,ws,xw"), false, s->modes, 3);
	if (!s->nkinds || !s->nmodes || (s->multi && s->sequential)) {
		free(s);
		adm_set_rc(rep, MM_EINVAL, "tokstorm: kinds are inode, br, dirblk, alloc, ialloc, meta, "
			   "generic; modes ro, ws, xw; multi and sequential do not mix");
		return;
	}
	s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		rc = mm_err_from_errno(errno);
		snprintf(err, sizeof(err), "tokstorm: cannot open %s: %s", path, strerror(errno));
		free(s);
		adm_set_rc(rep, rc, err);
		return;
	}

	pthread_mutex_lock(&a->lock);
	if (a->storm) {
		storm_reap(a, a->storm);
		if (a->storm->live) {
			pthread_mutex_unlock(&a->lock);
			storm_free(s);
			adm_set_rc(rep, MM_EBUSY, "tokstorm: a storm is running on this node");
			return;
		}
		storm_free(a->storm);
		a->storm = NULL;
	}
	if (a->shutdown) {
		pthread_mutex_unlock(&a->lock);
		storm_free(s);
		adm_set_rc(rep, MM_ESHUTDOWN, NULL);
		return;
	}
	a->storm = s;
	s->started_ns = mm_now_ns();
	s->deadline_ns = s->started_ns + (uint64_t)seconds * 1000000000u;
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct storm_thread *st = &s->th[i];

		st->s = s;
		st->idx = i;
		st->rng = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)s->node << 40) ^
			  ((uint64_t)i << 20) ^ 0x5DEECE66Dull;
		if (!st->rng)
			st->rng = 1;
		s->live++;
		if (mm_thread_start(&st->th, "tokstorm", storm_main, st)) {
			s->live--;
			continue;
		}
		st->started = true;
	}
	if (!s->live)
		s->ended_ns = mm_now_ns();
	mm_notice(SUB, "test: token storm on space %u: %u threads, %u objects from %" PRIu64
		  ", %" PRId64 " s, hold up to %u ms, seed %" PRIu64 "%s%s, log %s",
		  space, s->live, s->objects, s->first, seconds, s->hold_ms, seed,
		  s->multi ? ", multi" : "", s->sequential ? ", sequential" : "", path);
	storm_report(s, rep);
	rc = s->live == s->nthreads ? MM_OK : MM_ESYS;
	pthread_mutex_unlock(&a->lock);
	adm_set_rc(rep, rc, rc ? "tokstorm: could not start every thread" : NULL);
}

void adm_cmd_tokstorm(mmfsd *d, json_object *req, json_object *rep)
{
	const char *op = adm_get_str(req, "op", "");
	struct tokadm *a = tokadm_get(d, true);
	int64_t ms = adm_get_i64(req, "timeout_ms", 30000);
	struct storm *s;
	bool stop;

	if (!a) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		return;
	}
	if (strcmp(op, "start") == 0) {
		storm_start(d, a, req, rep);
		return;
	}
	stop = strcmp(op, "stop") == 0;
	if (!stop && strcmp(op, "status") != 0 && strcmp(op, "wait") != 0) {
		adm_set_rc(rep, MM_EINVAL, "tokstorm: op is start, status, wait or stop");
		return;
	}
	if (ms < 0 || ms > WAIT_MAX_MS)
		ms = WAIT_MAX_MS;
	pthread_mutex_lock(&a->lock);
	s = a->storm;
	if (!s) {
		pthread_mutex_unlock(&a->lock);
		adm_set_rc(rep, MM_ENOENT, "tokstorm: no storm was started on this node");
		return;
	}
	if (stop && s->live) {
		char buf[64];
		int n;

		atomic_store(&s->stop, true);
		pthread_cond_broadcast(&a->cond);
		n = snprintf(buf, sizeof(buf), "X %u %" PRIu64 "\n", s->node, mm_now_ns());
		if (write(s->fd, buf, (size_t)n) != n)
			s->errors++;
	}
	if (strcmp(op, "status") != 0)
		storm_wait(a, s, (uint64_t)ms);
	else
		storm_reap(a, s);
	storm_report(s, rep);
	if (strcmp(op, "status") != 0 && s->live)
		adm_set_rc(rep, MM_ETIMEDOUT, "tokstorm: still running");
	else
		adm_set_rc(rep, MM_OK, NULL);
	pthread_mutex_unlock(&a->lock);
}

/* ---- tokhold ----------------------------------------------------------- */

static void tokhold_acquire(mmfsd *d, struct tokadm *a, json_object *req, json_object *rep)
{
	struct toknet *t = mmfsd_toknet(d);
	const char *id = adm_get_str(req, "id", "");
	int64_t obj = adm_get_i64(req, "obj", 0), start = adm_get_i64(req, "start", 0);
	int64_t to = adm_get_i64(req, "timeout_ms", 50000);
	struct tok_key k = {0};
	struct tok_range r;
	enum tok_kind kind;
	enum tok_mode mode;
	char err[200] = "";
	struct held *h, *x;
	uint64_t t0, t1;
	int rc;

	if (!t) {
		adm_set_rc(rep, MM_ESTATE, "tokhold: the token service is not running");
		return;
	}
	rc = get_space(d, req, &k.space, err, sizeof(err));
	if (rc) {
		adm_set_rc(rep, rc, err);
		return;
	}
	if (!*id || strlen(id) >= sizeof(h->id) || parse_kind(adm_get_str(req, "kind", ""), &kind) ||
	    parse_mode(adm_get_str(req, "mode", ""), &mode) || obj < 0 || start < 0 ||
	    get_end(req, "end", &r.end) || (uint64_t)start >= r.end || to < 1 || to > WAIT_MAX_MS) {
		adm_set_rc(rep, MM_EINVAL, "tokhold: id, kind (inode, br, ...), obj, mode (ro, ws, xw), "
			   "start < end (a number or \"inf\"), timeout_ms 1-55000");
		return;
	}
	k.kind = (uint8_t)kind;
	k.obj = (uint64_t)obj;
	r.start = (uint64_t)start;
	h = calloc(1, sizeof(*h));
	if (!h) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		return;
	}
	snprintf(h->id, sizeof(h->id), "%s", id);
	tok_holder_init(&h->h, &k, mode, r, r);
	/* claim the id before waiting, so two calls cannot both take it */
	pthread_mutex_lock(&a->lock);
	for (x = a->holds; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			break;
	if (x || a->shutdown) {
		pthread_mutex_unlock(&a->lock);
		free(h);
		adm_set_rc(rep, x ? MM_EEXIST : MM_ESHUTDOWN, x ? "tokhold: that id holds a token" : NULL);
		return;
	}
	h->next = a->holds;
	a->holds = h;
	pthread_mutex_unlock(&a->lock);

	t0 = mm_now_ns();
	rc = toknet_acquire(t, &h->h, (int)to);
	t1 = mm_now_ns();
	json_object_object_add(rep, "waited_ns", json_object_new_int64((int64_t)(t1 - t0)));
	if (!rc) {
		pthread_mutex_lock(&a->lock);
		h->granted = true;
		pthread_mutex_unlock(&a->lock);
		json_object_object_add(rep, "granted_ns", json_object_new_int64((int64_t)t1));
		mm_notice(SUB, "test: tokhold %s: %s %s %" PRIu64 " granted after %" PRIu64 " ms", id,
			  tok_kind_name(kind), tok_mode_name(mode), k.obj, (t1 - t0) / 1000000u);
		adm_set_rc(rep, MM_OK, NULL);
		return;
	}
	pthread_mutex_lock(&a->lock);
	for (struct held **pp = &a->holds; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	pthread_mutex_unlock(&a->lock);
	free(h);
	snprintf(err, sizeof(err), "tokhold: acquire: %s", mm_strerror(rc));
	adm_set_rc(rep, rc, err);
}

void adm_cmd_tokhold(mmfsd *d, json_object *req, json_object *rep)
{
	const char *op = adm_get_str(req, "op", ""), *id = adm_get_str(req, "id", "");
	struct tokadm *a = tokadm_get(d, true);
	struct held *h = NULL;
	uint64_t t1;

	if (!a) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		return;
	}
	if (strcmp(op, "acquire") == 0) {
		tokhold_acquire(d, a, req, rep);
		return;
	}
	if (strcmp(op, "list") == 0) {
		json_object *arr = json_object_new_array();

		pthread_mutex_lock(&a->lock);
		for (h = a->holds; h; h = h->next)
			json_object_array_add(arr, json_object_new_string(h->id));
		pthread_mutex_unlock(&a->lock);
		json_object_object_add(rep, "ids", arr);
		adm_set_rc(rep, MM_OK, NULL);
		return;
	}
	if (strcmp(op, "release") != 0) {
		adm_set_rc(rep, MM_EINVAL, "tokhold: op is acquire, release or list");
		return;
	}
	pthread_mutex_lock(&a->lock);
	for (struct held **pp = &a->holds; *pp; pp = &(*pp)->next)
		/* one still being acquired is not ours to release */
		if (strcmp((*pp)->id, id) == 0 && (*pp)->granted) {
			h = *pp;
			*pp = h->next;
			break;
		}
	pthread_mutex_unlock(&a->lock);
	if (!h) {
		adm_set_rc(rep, MM_ENOENT, "tokhold: no token held under that id");
		return;
	}
	t1 = mm_now_ns();	/* before the release */
	toknet_release(mmfsd_toknet(d), &h->h);
	json_object_object_add(rep, "released_ns", json_object_new_int64((int64_t)t1));
	free(h);
	adm_set_rc(rep, MM_OK, NULL);
}

void adm_tok_shutdown(mmfsd *d)
{
	struct tokadm *a = tokadm_get(d, false), **pp;
	struct toknet *t = mmfsd_toknet(d);
	struct held *h, *mine = NULL;
	bool live = false;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->shutdown = true;
	if (a->storm) {
		atomic_store(&a->storm->stop, true);
		pthread_cond_broadcast(&a->cond);
		/* a thread in an acquire ends with it: toknet_acquire is bounded,
		 * acquire_many ends when the service stops */
		live = !storm_wait(a, a->storm, 10000);
		if (live)
			mm_warn(SUB, "test: token storm threads still in an acquire at shutdown");
		else
			storm_free(a->storm);
		a->storm = NULL;
	}
	/* no admin command runs any more (the admin pool is gone) */
	while ((h = a->holds)) {
		a->holds = h->next;
		h->next = mine;
		mine = h;
	}
	pthread_mutex_unlock(&a->lock);
	while ((h = mine)) {
		mine = h->next;
		if (t && h->granted)
			toknet_release(t, &h->h);
		free(h);
	}
	pthread_mutex_lock(&all_lock);
	for (pp = &all; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	pthread_mutex_unlock(&all_lock);
	if (!live) {	/* else its threads still use it: left behind */
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->lock);
		free(a);
	}
}
