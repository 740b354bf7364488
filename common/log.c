/*
 * common/log.c - see log.h.
 *
 * Parts:
 *   1. state and line formatting
 *   2. repeated lines: the rate limiter (rl_*) and troubles (tr_*)
 *   3. the public logging calls
 *   4. files: open, one file per run (mm_log_open_run), reopen, close
 *
 * Everything below is protected by log_lock, except log_min (atomic) and
 * the thread name (thread-local).
 */
#include "common/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

/* ---- 1. state and line formatting ---------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;		/* protected by log_lock */
static char *log_path;		/* protected by log_lock */
static bool log_stderr = true;	/* protected by log_lock */
static atomic_int log_min = MM_LOG_INFO;
static _Thread_local char thread_name[16] = "";

static const char level_letter[] = "DINWEX";

#define LINE_MAX_LEN 2048

/* "2026-11-21_18:32:20.123+0000: [N] [main] cluster: " into <line>. */
static size_t line_prefix(char *line, size_t sz, int level, const char *thread,
			  const char *subsys)
{
	struct timeval tv;
	struct tm tm;
	size_t n;
	int k;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sz, "%Y-%m-%d_%H:%M:%S", &tm);
	k = snprintf(line + n, sz - n, ".%03ld+0000: [%c] [%s] %s: ", (long)tv.tv_usec / 1000,
		     level_letter[level], thread[0] ? thread : "-", subsys ? subsys : "-");
	n += k > 0 ? (size_t)k : 0;
	return n < sz ? n : sz - 1;
}

/* Write one complete line (ending in '\n'). Caller holds log_lock. */
static void emit(const char *line, size_t n)
{
	if (log_fd >= 0 && write(log_fd, line, n) < 0) {
		/* nowhere better to report a failing log write */
	}
	if (log_stderr || log_fd < 0) {
		if (write(STDERR_FILENO, line, n) < 0) {
		}
	}
}

/* Format and write "<prefix><text>\n". Caller holds log_lock. */
static void emit_text(int level, const char *thread, const char *subsys, const char *text)
{
	char line[LINE_MAX_LEN];
	size_t n = line_prefix(line, sizeof(line), level, thread, subsys);
	size_t t = strlen(text);

	if (t > sizeof(line) - 2 - n)
		t = sizeof(line) - 2 - n;
	memcpy(line + n, text, t);
	n += t;
	line[n++] = '\n';
	emit(line, n);
}

/* ---- 2. repeated lines ------------------------------------------------ */

#define RL_SLOTS 64
#define RL_KEY 256	/* masked text kept for the comparison (the hash covers all) */
#define RL_TEXT 512	/* last held-back text, quoted in the summary */
#define TR_SLOTS 32

struct rl_entry {
	bool used;
	bool noisy;		/* a summary was written: hold back every repeat */
	int level;
	uint64_t hash;		/* of level, subsystem and the whole masked text */
	uint64_t trouble;	/* hash of the trouble key it was logged under, or 0 */
	uint64_t start_ms;	/* this window's start */
	unsigned written;	/* lines written in this window */
	unsigned held;		/* repeats held back in this window */
	char subsys[16];
	char thread[16];	/* of the last held-back repeat */
	char key[RL_KEY];	/* masked text */
	char last[RL_TEXT];	/* text of the last held-back repeat */
};

struct tr_entry {
	bool used;
	uint64_t hash;		/* of the key */
	uint64_t since_ms;	/* first failure */
	uint64_t last_ms;	/* latest failure */
	unsigned count;		/* failures reported */
	char key[128];
};

static struct rl_entry rl[RL_SLOTS];	/* protected by log_lock */
static struct tr_entry tr[TR_SLOTS];	/* protected by log_lock */
static unsigned rl_interval_ms = 30000;	/* protected by log_lock */
static unsigned rl_burst = 3;		/* protected by log_lock */
static uint64_t rl_next_due = UINT64_MAX; /* protected by log_lock: earliest window end */
static uint64_t (*rl_clock)(void);	/* protected by log_lock; NULL: mm_now_ms */

static uint64_t rl_now(void)
{
	return rl_clock ? rl_clock() : mm_now_ms();
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ull, s, strlen(s));

	return h ? h : 1;	/* 0 means "none" */
}

static const char *const dur_units[] = {
	"milliseconds", "millisecond", "seconds", "second", "minutes", "secs", "sec", "min",
	"ms", "us", "ns", "s",
};

/* If a duration unit starts at <p> (and a word ends there), its length. */
static size_t unit_at(const char *p)
{
	for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		size_t l = strlen(dur_units[i]);

		if (strncmp(p, dur_units[i], l) == 0 && !isalnum((unsigned char)p[l]) && p[l] != '_')
			return l;
	}
	return 0;
}

/*
 * Copy <in> to <out> with the numbers of durations ("12 ms", "4s",
 * "1.5 seconds") replaced by '#'. A number that is part of another token
 * (an address 127.1.18.2, a name node12) is kept.
 */
static void mask_durations(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; in[i] && o + 1 < outsz;) {
		unsigned char prev = i ? (unsigned char)in[i - 1] : ' ';

		if (isdigit((unsigned char)in[i]) && !isalnum(prev) && prev != '.' && prev != '_' &&
		    prev != ':' && prev != '-') {
			size_t j = i;

			while (isdigit((unsigned char)in[j]))
				j++;
			if (in[j] == '.' && isdigit((unsigned char)in[j + 1])) {
				j++;
				while (isdigit((unsigned char)in[j]))
					j++;
			}
			if (unit_at(in + j) || (in[j] == ' ' && unit_at(in + j + 1))) {
				out[o++] = '#';
				i = j;
				continue;
			}
			while (i < j && o + 1 < outsz)
				out[o++] = in[i++];
			continue;
		}
		out[o++] = in[i++];
	}
	out[o] = '\0';
}

/* Write <e>'s "message repeated" line, if it held anything back. */
static void rl_summary(struct rl_entry *e, uint64_t now)
{
	char text[RL_TEXT + 100];
	uint64_t s = (now - e->start_ms + 500) / 1000;

	if (!e->held)
		return;
	snprintf(text, sizeof(text), "message repeated %u time%s in the last %llu s: [%s]",
		 e->held, e->held == 1 ? "" : "s", (unsigned long long)(s ? s : 1), e->last);
	emit_text(e->level, e->thread, e->subsys, text);
	e->held = 0;
}

/* End the windows that are over: summaries for floods, forget quiet ones. */
static void rl_roll(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (now < rl_next_due)
		return;
	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_entry *e = &rl[i];

		if (!e->used)
			continue;
		if (now - e->start_ms >= rl_interval_ms) {
			if (e->held) {
				rl_summary(e, now);
				e->noisy = true;
				e->written = 0;
				e->start_ms = now;
			} else {
				e->used = false;
				continue;
			}
		}
		if (e->start_ms + rl_interval_ms < next)
			next = e->start_ms + rl_interval_ms;
	}
	rl_next_due = next;
}

/*
 * Decide whether the line <text> of <level>/<subsys> is written (true) or
 * held back, and account for it. <trouble>: its trouble key's hash or 0;
 * <burst>: lines per window. Caller holds log_lock.
 */
static bool rl_admit(int level, const char *subsys, const char *text, uint64_t trouble,
		     unsigned burst, uint64_t now)
{
	char masked[LINE_MAX_LEN];
	struct rl_entry *e = NULL, *victim = NULL;
	uint64_t h;

	if (!rl_interval_ms || level == MM_LOG_DEBUG)
		return true;
	rl_roll(now);
	mask_durations(text, masked, sizeof(masked));
	h = fnv1a(0xcbf29ce484222325ull, subsys ? subsys : "-", strlen(subsys ? subsys : "-") + 1);
	h = fnv1a(h, &level, sizeof(level));
	h = fnv1a(h, masked, strlen(masked));
	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_entry *x = &rl[i];

		if (!x->used) {
			if (!victim || victim->used)
				victim = x;
			continue;
		}
		if (x->hash == h && x->level == level && strcmp(x->subsys, subsys ? subsys : "-") == 0 &&
		    strncmp(x->key, masked, RL_KEY - 1) == 0) {
			e = x;
			break;
		}
		if (!victim || (victim->used && x->start_ms < victim->start_ms))
			victim = x;
	}
	if (!e) {
		/* a new message: always written; evict the oldest if full */
		if (victim->used)
			rl_summary(victim, now);
		e = victim;
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->level = level;
		e->hash = h;
		e->trouble = trouble;
		e->start_ms = now;
		e->written = 1;
		snprintf(e->subsys, sizeof(e->subsys), "%s", subsys ? subsys : "-");
		snprintf(e->key, sizeof(e->key), "%s", masked);
		if (now + rl_interval_ms < rl_next_due)
			rl_next_due = now + rl_interval_ms;
		return true;
	}
	if (trouble)
		e->trouble = trouble;
	if (!e->noisy && e->written < burst) {
		e->written++;
		return true;
	}
	e->held++;
	snprintf(e->last, sizeof(e->last), "%s", text);
	snprintf(e->thread, sizeof(e->thread), "%s", thread_name[0] ? thread_name : "-");
	return false;
}

static struct tr_entry *tr_find(uint64_t h, const char *key)
{
	for (size_t i = 0; i < TR_SLOTS; i++)
		if (tr[i].used && tr[i].hash == h && strncmp(tr[i].key, key, sizeof(tr[i].key) - 1) == 0)
			return &tr[i];
	return NULL;
}

/* ---- 3. logging calls ------------------------------------------------- */

/*
 * The one path of every line: format, rate-limit, write. <trouble> and
 * <burst> as for rl_admit (burst 0: the configured one).
 */
static void vlog(int level, const char *subsys, uint64_t trouble, unsigned burst,
		 const char *suffix, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	size_t n, msg;
	int k;

	if (level < MM_LOG_DEBUG || level > MM_LOG_FATAL)
		level = MM_LOG_ERROR;
	n = msg = line_prefix(line, sizeof(line), level, thread_name, subsys);
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n += k > 0 ? (size_t)k : 0;
	if (suffix && n < sizeof(line)) {
		k = snprintf(line + n, sizeof(line) - n, "%s", suffix);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n] = '\0';

	pthread_mutex_lock(&log_lock);
	if (rl_admit(level, subsys, line + msg, trouble, burst ? burst : rl_burst, rl_now())) {
		line[n++] = '\n';
		emit(line, n);
	}
	pthread_mutex_unlock(&log_lock);
}

void mm_logf(int level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (level < atomic_load_explicit(&log_min, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vlog(level, subsys, 0, 0, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void mm_log_trouble(const char *key, int level, const char *subsys, const char *fmt, ...)
{
	uint64_t h = hash_str(key), now;
	struct tr_entry *t;
	va_list ap;
	int saved = errno;

	pthread_mutex_lock(&log_lock);
	now = rl_now();
	t = tr_find(h, key);
	if (t && now - t->last_ms > 2 * (uint64_t)rl_interval_ms) {
		/* quiet for long (it may have recovered unseen: nothing asked
		 * it): a new trouble, so "after T s" measures this one */
		t->since_ms = now;
		t->count = 0;
	}
	if (!t) {
		struct tr_entry *victim = &tr[0];

		for (size_t i = 0; i < TR_SLOTS; i++) {
			if (!tr[i].used) {
				victim = &tr[i];
				break;
			}
			if (tr[i].since_ms < victim->since_ms)
				victim = &tr[i];
		}
		t = victim;
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->hash = h;
		t->since_ms = now;
		snprintf(t->key, sizeof(t->key), "%s", key);
	}
	t->count++;
	t->last_ms = now;
	pthread_mutex_unlock(&log_lock);
	if (level >= atomic_load_explicit(&log_min, memory_order_relaxed)) {
		va_start(ap, fmt);
		vlog(level, subsys, h, 1, NULL, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void mm_log_cleared(const char *key, int level, const char *subsys, const char *fmt, ...)
{
	uint64_t h = hash_str(key), now, secs;
	struct tr_entry *t;
	unsigned count;
	char suffix[80];
	va_list ap;
	int saved = errno;

	pthread_mutex_lock(&log_lock);
	t = tr_find(h, key);
	if (!t) {
		pthread_mutex_unlock(&log_lock);
		errno = saved;
		return;
	}
	now = rl_now();
	secs = (now - t->since_ms + 500) / 1000;
	count = t->count;
	t->used = false;
	/* the trouble's own repeats are over: say so before it clears */
	for (size_t i = 0; i < RL_SLOTS; i++) {
		if (rl[i].used && rl[i].trouble == h) {
			rl_summary(&rl[i], now);
			rl[i].used = false;
		}
	}
	pthread_mutex_unlock(&log_lock);
	if (level >= atomic_load_explicit(&log_min, memory_order_relaxed)) {
		snprintf(suffix, sizeof(suffix), " (after %llu s, %u failure%s)",
			 (unsigned long long)secs, count, count == 1 ? "" : "s");
		va_start(ap, fmt);
		vlog(level, subsys, 0, 0, suffix, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void mm_log_flush_repeats(void)
{
	pthread_mutex_lock(&log_lock);
	rl_roll(rl_now());
	pthread_mutex_unlock(&log_lock);
}

void mm_log_set_ratelimit(unsigned interval_ms, unsigned burst)
{
	pthread_mutex_lock(&log_lock);
	rl_interval_ms = interval_ms;
	rl_burst = burst ? burst : 1;
	memset(rl, 0, sizeof(rl));
	memset(tr, 0, sizeof(tr));
	rl_next_due = UINT64_MAX;
	pthread_mutex_unlock(&log_lock);
}

void mm_log_set_clock(uint64_t (*now_ms)(void))
{
	pthread_mutex_lock(&log_lock);
	rl_clock = now_ms;
	memset(rl, 0, sizeof(rl));
	memset(tr, 0, sizeof(tr));
	rl_next_due = UINT64_MAX;
	pthread_mutex_unlock(&log_lock);
}

void mm_log_set_level(int min_level)
{
	atomic_store_explicit(&log_min, min_level, memory_order_relaxed);
}

void mm_log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	prctl(PR_SET_NAME, thread_name, 0, 0, 0);
}

/* ---- 4. files ------------------------------------------------------------ */

/* Make <fd> (open on <path>) the log. */
static void log_install(int fd, const char *path, bool to_stderr, int min_level)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = strdup(path);
	log_stderr = to_stderr;
	atomic_store_explicit(&log_min, min_level, memory_order_relaxed);
	pthread_mutex_unlock(&log_lock);
}

int mm_log_open(const char *path, bool to_stderr, int min_level)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return mm_err_from_errno(errno);
	log_install(fd, path, to_stderr, min_level);
	return MM_OK;
}

#define RUN_PREFIX "mmfs.log."
#define RUN_TS_LEN 19	/* YYYY.MM.DD.HH.MM.SS */

/* "mmfs.log.<ts of t>.<node>" with ".<seq>" if seq > 1. */
static int run_name(char *out, size_t sz, time_t t, const char *node, unsigned seq)
{
	struct tm tm;
	char ts[32];
	int k;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y.%m.%d.%H.%M.%S", &tm);
	if (seq > 1)
		k = snprintf(out, sz, RUN_PREFIX "%s.%s.%u", ts, node, seq);
	else
		k = snprintf(out, sz, RUN_PREFIX "%s.%s", ts, node);
	return k > 0 && (size_t)k < sz ? MM_OK : MM_ETOOBIG;
}

/*
 * If <name> is one of <node>'s timestamped logs, its sequence number
 * (1 without a suffix); else 0.
 */
static unsigned run_seq(const char *name, const char *node)
{
	static const char pat[] = "dddd.dd.dd.dd.dd.dd";
	size_t pl = strlen(RUN_PREFIX), nl = strlen(node);
	const char *p;
	char *end;
	unsigned long seq;

	if (strncmp(name, RUN_PREFIX, pl) != 0 || strlen(name) < pl + RUN_TS_LEN + 1 + nl)
		return 0;
	p = name + pl;
	for (size_t i = 0; i < RUN_TS_LEN; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)p[i]) : p[i] != '.')
			return 0;
	p += RUN_TS_LEN;
	if (*p++ != '.' || strncmp(p, node, nl) != 0)
		return 0;
	p += nl;
	if (!*p)
		return 1;
	if (*p != '.' || !isdigit((unsigned char)p[1]))
		return 0;
	errno = 0;
	seq = strtoul(p + 1, &end, 10);
	return *end || errno || seq < 2 || seq > UINT_MAX ? 0 : (unsigned)seq;
}

struct run_file {
	char ts[RUN_TS_LEN + 1];
	unsigned seq;
	char name[NAME_MAX + 1];
};

static int run_cmp(const void *a, const void *b)
{
	const struct run_file *x = a, *y = b;
	int c = strcmp(x->ts, y->ts);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Remove <node>'s oldest timestamped logs in <dir> beyond <keep>, never <a> or <b>. */
static void run_prune(const char *dir, const char *node, unsigned keep, const char *a,
		      const char *b)
{
	DIR *d = opendir(dir);
	struct run_file *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned seq = run_seq(e->d_name, node);

		if (!seq)
			continue;
		if (n == cap) {
			struct run_file *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		memcpy(v[n].ts, e->d_name + strlen(RUN_PREFIX), RUN_TS_LEN);
		v[n].ts[RUN_TS_LEN] = '\0';
		v[n].seq = seq;
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		n++;
	}
	closedir(d);
	if (n > keep) {
		qsort(v, n, sizeof(*v), run_cmp);
		for (size_t i = 0; i < n - keep; i++) {
			char p[PATH_MAX];

			if (strcmp(v[i].name, a) == 0 || strcmp(v[i].name, b) == 0)
				continue;
			if (mm_snprintf(p, sizeof(p), "%s/%s", dir, v[i].name) == MM_OK)
				unlink(p);
		}
	}
	free(v);
}

/* The highest sequence number of <node>'s logs in <dir> named for second <t> (0: none). */
static unsigned run_last_seq(const char *dir, const char *node, time_t t)
{
	char name[NAME_MAX + 1];
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned max = 0;

	if (!d || run_name(name, sizeof(name), t, node, 1)) {
		if (d)
			closedir(d);
		return 0;
	}
	while ((e = readdir(d))) {
		unsigned seq = run_seq(e->d_name, node);

		if (seq > max && strncmp(e->d_name, name, strlen(RUN_PREFIX) + RUN_TS_LEN) == 0)
			max = seq;
	}
	closedir(d);
	return max;
}

/* Point <dir>/<link> at <target> (a name in <dir>), replacing it atomically. */
static int run_link(const char *dir, const char *link, const char *target)
{
	char tmp[PATH_MAX], dst[PATH_MAX];

	if (mm_snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, link) ||
	    mm_snprintf(dst, sizeof(dst), "%s/%s", dir, link))
		return MM_ETOOBIG;
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, dst) < 0) {
		int rc = mm_err_from_errno(errno);

		unlink(tmp);
		return rc;
	}
	return MM_OK;
}

int mm_log_open_run(const char *dir, const char *node, unsigned keep, bool to_stderr,
		    int min_level, char *path_out, size_t path_outsz)
{
	char prev[NAME_MAX + 1] = "", name[NAME_MAX + 1], p[PATH_MAX], q[PATH_MAX];
	struct stat st;
	ssize_t l;
	int fd = -1, rc;

	if (keep < 2)
		keep = 2;
	if (!node[0] || strchr(node, '/'))
		return MM_EINVAL;
	/* the run before: where latest points, or an old single mmfs.log */
	if (mm_snprintf(p, sizeof(p), "%s/mmfs.log.latest", dir))
		return MM_ETOOBIG;
	l = readlink(p, prev, sizeof(prev) - 1);
	prev[l > 0 ? l : 0] = '\0';
	if (strchr(prev, '/'))
		prev[0] = '\0';	/* not one of ours */
	if (mm_snprintf(p, sizeof(p), "%s/mmfs.log", dir))
		return MM_ETOOBIG;
	if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
		for (unsigned seq = 1; seq < 1000; seq++) {
			if (run_name(name, sizeof(name), st.st_mtime, node, seq) ||
			    mm_snprintf(q, sizeof(q), "%s/%s", dir, name))
				return MM_ETOOBIG;
			if (access(q, F_OK) != 0)
				break;
		}
		if (rename(p, q) < 0)
			return mm_err_from_errno(errno);
		if (!prev[0])
			snprintf(prev, sizeof(prev), "%s", name);
	}
	/* this run's file, new; after any other of the same second, even a
	 * pruned one (a reused lower number would sort before its elders) */
	for (unsigned seq = run_last_seq(dir, node, time(NULL)) + 1; fd < 0 && seq < 100000; seq++) {
		if (run_name(name, sizeof(name), time(NULL), node, seq) ||
		    mm_snprintf(q, sizeof(q), "%s/%s", dir, name))
			return MM_ETOOBIG;
		fd = open(q, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno != EEXIST)
			return mm_err_from_errno(errno);
	}
	if (fd < 0)
		return MM_EEXIST;
	rc = prev[0] ? run_link(dir, "mmfs.log.previous", prev) : MM_OK;
	if (!rc)
		rc = run_link(dir, "mmfs.log.latest", name);
	if (!rc)
		rc = run_link(dir, "mmfs.log", name);
	if (rc) {
		close(fd);
		return rc;
	}
	run_prune(dir, node, keep, name, prev);
	log_install(fd, q, to_stderr, min_level);
	if (path_out)
		snprintf(path_out, path_outsz, "%s", q);
	return MM_OK;
}

int mm_log_reopen(void)
{
	int rc = MM_OK;

	pthread_mutex_lock(&log_lock);
	if (log_path) {
		int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

		if (fd < 0) {
			rc = mm_err_from_errno(errno);
		} else {
			if (log_fd >= 0)
				close(log_fd);
			log_fd = fd;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return rc;
}

void mm_log_close(void)
{
	pthread_mutex_lock(&log_lock);
	/* the floods still held back end here: account for them */
	for (size_t i = 0; i < RL_SLOTS; i++) {
		if (rl[i].used)
			rl_summary(&rl[i], rl_now());
		rl[i].used = false;
	}
	memset(tr, 0, sizeof(tr));
	rl_next_due = UINT64_MAX;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	free(log_path);
	log_path = NULL;
	log_stderr = true;
	pthread_mutex_unlock(&log_lock);
}
