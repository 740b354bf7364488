/* tests/unit/test_common.c - common/: crc32c, wire codec, sizes, errors, pool, log, bug. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/list.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/thread.h"
#include "common/util.h"
#include "common/waiter.h"
#include "common/wire.h"
#include "tests/unit/cunit_main.h"

static void test_crc32c_vectors(void)
{
	uint8_t zeros[32] = {0}, ones[32];

	memset(ones, 0xff, sizeof(ones));
	CU_ASSERT_EQUAL(mm_crc32c(0, "123456789", 9), 0xE3069283u);
	/* RFC 3720 B.4 test vectors */
	CU_ASSERT_EQUAL(mm_crc32c(0, zeros, 32), 0x8A9136AAu);
	CU_ASSERT_EQUAL(mm_crc32c(0, ones, 32), 0x62A8AB43u);
	/* incremental equals one-shot */
	CU_ASSERT_EQUAL(mm_crc32c(mm_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_crc_bulk(void)
{
	static uint8_t buf[300000];
	unsigned seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	CU_ASSERT_EQUAL(mm_crc32c_bulk(0, "123456789", 9), 0xE3069283u);
	for (int i = 0; i < 200; i++) {
		size_t off, len;

		seed = seed * 1103515245u + 12345u;
		off = (seed >> 8) % 64;
		seed = seed * 1103515245u + 12345u;
		len = i < 50 ? (size_t)i * 17 : (seed >> 4) % (sizeof(buf) - 64);
		for (int path = 0; path <= 2; path++) {
			CU_ASSERT_EQUAL(mm_crc32c_path(0, buf + off, len, path), mm_crc32c(0, buf + off, len));
			CU_ASSERT_EQUAL(mm_crc32c_path(7, buf + off, len, path), mm_crc32c(7, buf + off, len));
		}
		CU_ASSERT_EQUAL(mm_crc32c_bulk(0xdeadbeef, buf + off, len), mm_crc32c(0xdeadbeef, buf + off, len));
	}
	/* boundaries of the three-stream and folding loops */
	for (size_t len = 0; len < 1100; len++)
		for (int path = 1; path <= 2; path++)
			CU_ASSERT_EQUAL(mm_crc32c_path(1, buf + 5, len, path), mm_crc32c(1, buf + 5, len));
	for (size_t len = 3 * 8192 - 9; len < 3 * 8192 + 9; len++)
		for (int path = 1; path <= 2; path++)
			CU_ASSERT_EQUAL(mm_crc32c_path(0, buf + 3, len, path), mm_crc32c(0, buf + 3, len));
}

static void test_wire_roundtrip(void)
{
	mm_wbuf w;
	mm_rbuf r;
	char s[16];

	mm_wbuf_init(&w);
	mm_put_u8(&w, 0xAB);
	mm_put_u16(&w, 0xBEEF);
	mm_put_u32(&w, 0xDEADBEEF);
	mm_put_u64(&w, 0x0123456789ABCDEFull);
	mm_put_str(&w, "hello");
	CU_ASSERT_TRUE(mm_wbuf_ok(&w));
	CU_ASSERT_EQUAL(w.len, 1 + 2 + 4 + 8 + 4 + 5);
	CU_ASSERT_EQUAL(w.buf[1], 0xBE);	/* big-endian */

	mm_rbuf_init(&r, w.buf, w.len);
	CU_ASSERT_EQUAL(mm_get_u8(&r), 0xAB);
	CU_ASSERT_EQUAL(mm_get_u16(&r), 0xBEEF);
	CU_ASSERT_EQUAL(mm_get_u32(&r), 0xDEADBEEF);
	CU_ASSERT_EQUAL(mm_get_u64(&r), 0x0123456789ABCDEFull);
	mm_get_str(&r, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "hello");
	CU_ASSERT_TRUE(mm_rbuf_ok(&r));
	CU_ASSERT_EQUAL(mm_rbuf_left(&r), 0);
	/* reading past the end fails and stays failed */
	CU_ASSERT_EQUAL(mm_get_u32(&r), 0);
	CU_ASSERT_FALSE(mm_rbuf_ok(&r));

	/* a string longer than the destination is rejected */
	mm_rbuf_init(&r, w.buf + 15, w.len - 15);
	mm_get_str(&r, s, 5);
	CU_ASSERT_FALSE(mm_rbuf_ok(&r));
	CU_ASSERT_STRING_EQUAL(s, "");
	mm_wbuf_free(&w);
}

static void test_wire_embedded_nul(void)
{
	uint8_t buf[] = {0, 0, 0, 3, 'a', 0, 'b'};
	mm_rbuf r;
	char s[8];

	mm_rbuf_init(&r, buf, sizeof(buf));
	mm_get_str(&r, s, sizeof(s));
	CU_ASSERT_FALSE(mm_rbuf_ok(&r));
}

/* mm_deadline_ts: the sum carries into seconds, never leaves tv_nsec at or
 * past a second, and lands <ns> after now on the clock asked for. */
static void test_deadline_ts(void)
{
	static const clockid_t clk[] = {CLOCK_REALTIME, CLOCK_MONOTONIC};

	for (unsigned i = 0; i < 2; i++) {
		static const uint64_t ns[] = {0, 1, 999999999, 1000000000, 1500000000, 3999999999u};

		for (unsigned k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
			struct timespec before, after, d;
			int64_t lo, hi, at;

			clock_gettime(clk[i], &before);
			d = mm_deadline_ts(clk[i], ns[k]);
			clock_gettime(clk[i], &after);
			CU_ASSERT(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
			lo = (int64_t)before.tv_sec * 1000000000 + before.tv_nsec + (int64_t)ns[k];
			hi = (int64_t)after.tv_sec * 1000000000 + after.tv_nsec + (int64_t)ns[k];
			at = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec;
			CU_ASSERT(at >= lo && at <= hi);
		}
	}
}

static void test_sizes(void)
{
	uint64_t v;
	int64_t i;
	char buf[32];

	CU_ASSERT_EQUAL(mm_parse_size("512M", &v), MM_OK);
	CU_ASSERT_EQUAL(v, 512ull << 20);
	CU_ASSERT_EQUAL(mm_parse_size("4g", &v), MM_OK);
	CU_ASSERT_EQUAL(v, 4ull << 30);
	CU_ASSERT_EQUAL(mm_parse_size("64KiB", &v), MM_OK);
	CU_ASSERT_EQUAL(v, 65536);
	CU_ASSERT_EQUAL(mm_parse_size("12", &v), MM_OK);
	CU_ASSERT_EQUAL(v, 12);
	CU_ASSERT_EQUAL(mm_parse_size("12X", &v), MM_EINVAL);
	CU_ASSERT_EQUAL(mm_parse_size("-1", &v), MM_EINVAL);
	CU_ASSERT_EQUAL(mm_parse_size("", &v), MM_EINVAL);
	CU_ASSERT_EQUAL(mm_parse_size("99999999999999T", &v), MM_ERANGE);
	mm_format_size(512ull << 20, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "512M");
	mm_format_size(1000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1000");
	CU_ASSERT_EQUAL(mm_parse_i64("42", &i), MM_OK);
	CU_ASSERT_EQUAL(i, 42);
	CU_ASSERT_EQUAL(mm_parse_i64("42a", &i), MM_EINVAL);
	CU_ASSERT_EQUAL(mm_parse_i64(" 42", &i), MM_EINVAL);
}

static void test_errors(void)
{
	CU_ASSERT_STRING_EQUAL(mm_strerror(MM_OK), "success");
	CU_ASSERT_STRING_EQUAL(mm_errname(MM_ETIMEDOUT), "MM_ETIMEDOUT");
	CU_ASSERT_STRING_EQUAL(mm_strerror(-999), "unknown error");
	CU_ASSERT_STRING_EQUAL(mm_strerror(5), "unknown error");
	for (int rc = 0; rc >= MM_ERR_MIN; rc--)
		CU_ASSERT_STRING_NOT_EQUAL(mm_strerror(rc), "unknown error");
}

static int pool_count;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void pool_job(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	pool_count++;
	pthread_mutex_unlock(&pool_lock);
}

static void slow_job(void *arg)
{
	(void)arg;
	usleep(20000);
}

static void test_pool(void)
{
	mm_pool *p;
	int busy = 0;

	CU_ASSERT_EQUAL_FATAL(mm_pool_create("t", 3, 16, &p), MM_OK);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(mm_pool_submit(p, pool_job, NULL), MM_OK);
	mm_pool_destroy(p);	/* runs what was queued */
	CU_ASSERT_EQUAL(pool_count, 1000);

	CU_ASSERT_EQUAL_FATAL(mm_pool_create("t", 1, 2, &p), MM_OK);
	for (int i = 0; i < 10; i++)
		if (mm_pool_try_submit(p, slow_job, NULL) == MM_EBUSY)
			busy++;
	CU_ASSERT_TRUE(busy > 0);	/* bounded queue sheds load */
	mm_pool_destroy(p);
}

static int waiter_seen;

static void waiter_cb(const char *thread, const char *what, uint64_t age_ms, void *arg)
{
	(void)thread;
	if (strcmp(what, (const char *)arg) == 0 && age_ms >= 30)
		waiter_seen++;
}

static void test_waiters(void)
{
	int a = mm_waiter_begin("disk read nsd1"), b = mm_waiter_begin("token revoke");

	CU_ASSERT_TRUE(a >= 0 && b >= 0 && a != b);
	usleep(40000);
	waiter_seen = 0;
	mm_waiters_each(30, waiter_cb, "disk read nsd1");
	CU_ASSERT_EQUAL(waiter_seen, 1);
	mm_waiter_end(a);
	waiter_seen = 0;
	mm_waiters_each(30, waiter_cb, "disk read nsd1");
	CU_ASSERT_EQUAL(waiter_seen, 0);	/* ended waits are gone */
	waiter_seen = 0;
	mm_waiters_each(10000, waiter_cb, "token revoke");
	CU_ASSERT_EQUAL(waiter_seen, 0);	/* younger than the threshold */
	mm_waiter_end(b);
	mm_waiter_end(-1);			/* a full table's -1 is harmless */
}

static void *held_elsewhere(void *arg)
{
	return (void *)(uintptr_t)mm_mutex_held(arg);
}

static void test_bug(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_t t;
	void *other = NULL;
	int fds[2], status = 0, x = 7;
	char out[512] = "";
	ssize_t n, got = 0;
	pid_t pid;

	CU_ASSERT_FALSE(mm_mutex_held(&m));
	pthread_mutex_lock(&m);
	CU_ASSERT_TRUE(mm_mutex_held(&m));
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, held_elsewhere, &m), 0);
	pthread_join(t, &other);
	CU_ASSERT_PTR_NULL(other);	/* held, but not by that thread */
	pthread_mutex_unlock(&m);
	CU_ASSERT_FALSE(mm_mutex_held(&m));

	/* a false condition passes; a true one logs the dump and aborts */
	MM_BUG_ON(&x, x != 7);
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		MM_BUG_ON(&x, x == 7);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(fds[0]);
	waitpid(pid, &status, 0);
	CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "BUG: x == 7"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "test_bug"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "no dump hook"));
}

/* ---- log: repeated lines, troubles, one file per run ---- */

static uint64_t fake_ms;

static uint64_t fake_clock(void)
{
	return fake_ms;
}

static char log_dir[64];

static void log_dir_make(void)
{
	snprintf(log_dir, sizeof(log_dir), "/tmp/mmfs-test-log.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(log_dir));
}

static void log_dir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", log_dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* The file <path> as a string (caller frees). */
static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL(mm_read_file(path, 1 << 20, &buf, &len), MM_OK);
	return buf ? buf : strdup("");
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static int lines_of(const char *hay)
{
	return count_of(hay, "\n");
}

static void log_start(void)
{
	char p[128];

	log_dir_make();
	snprintf(p, sizeof(p), "%s/t.log", log_dir);
	fake_ms = 1000000;
	mm_log_set_clock(fake_clock);
	mm_log_set_ratelimit(30000, 3);
	CU_ASSERT_EQUAL_FATAL(mm_log_open(p, false, MM_LOG_INFO), MM_OK);
}

static char *log_stop(void)
{
	char p[128], *s;

	mm_log_close();		/* writes what is still held back */
	snprintf(p, sizeof(p), "%s/t.log", log_dir);
	s = slurp(p);
	mm_log_set_clock(NULL);
	mm_log_set_ratelimit(30000, 3);
	mm_log_set_level(MM_LOG_INFO);
	log_dir_remove();
	return s;
}

static void test_log_repeats(void)
{
	char *s;

	log_start();
	for (int i = 0; i < 10; i++) {
		mm_warn("t", "cannot renew lease: unreachable; lease valid %d ms more", 4000 - i * 100);
		if (i == 5)
			mm_info("t", "node 3 joined");	/* a different message in between */
		fake_ms += 100;
	}
	/* different in anything but a duration: never held back */
	for (int i = 1; i <= 12; i++)
		mm_info("t", "connect to 10.0.0.%d failed", i);
	mm_info("t", "node 12 down");
	mm_info("t", "node 13 down");
	mm_warn("t", "node 3 joined");		/* same text, other level */
	/* and the first occurrence of anything new is always written */
	mm_info("t", "same text at first");
	mm_log_flush_repeats();			/* nothing due yet */
	fake_ms += 30000;
	mm_log_flush_repeats();			/* the window is over: one summary */
	mm_warn("t", "cannot renew lease: unreachable; lease valid %d ms more", 1);
	fake_ms += 30000;
	mm_log_flush_repeats();			/* still noisy: held, then summarised */
	fake_ms += 30000;
	mm_log_flush_repeats();			/* a quiet window: forgotten */
	mm_warn("t", "cannot renew lease: unreachable; lease valid %d ms more", 2);
	mm_log_set_level(MM_LOG_DEBUG);
	for (int i = 0; i < 5; i++)
		mm_debug("t", "debug line");
	s = log_stop();

	CU_ASSERT_EQUAL(count_of(s, "] t: cannot renew lease"), 3 + 1);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 7 times in the last 31 s: [cannot renew lease: "
				    "unreachable; lease valid 3100 ms more]"), 1);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 1 time in the last 30 s: [cannot renew lease: "
				    "unreachable; lease valid 1 ms more]"), 1);
	CU_ASSERT_EQUAL(count_of(s, "[W] [-] t: message repeated"), 2);
	CU_ASSERT_EQUAL(count_of(s, "lease valid 2 ms more\n"), 1);	/* fresh after a quiet window */
	CU_ASSERT_EQUAL(count_of(s, "[I] [-] t: node 3 joined\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "[W] [-] t: node 3 joined\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, " failed\n"), 12);
	CU_ASSERT_EQUAL(count_of(s, "node 12 down\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "node 13 down\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "same text at first\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "debug line\n"), 5);
	CU_ASSERT_EQUAL(lines_of(s), 4 + 2 + 2 + 12 + 2 + 1 + 5);
	free(s);

	/* held-back lines are accounted for when the log closes */
	log_start();
	for (int i = 0; i < 5; i++)
		mm_error("t", "disk gone after %d.5 s", i);
	s = log_stop();
	CU_ASSERT_EQUAL(count_of(s, "disk gone after"), 3 + 1);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 2 times in the last 1 s: [disk gone after 4.5 s]"), 1);
	free(s);
}

static void test_log_trouble(void)
{
	char *s;

	log_start();
	mm_log_cleared("http://a:2379", MM_LOG_INFO, "etcd", "a answers");	/* not in trouble */
	for (int i = 0; i < 5; i++) {
		mm_log_trouble("http://a:2379", MM_LOG_INFO, "etcd", "http://a:2379: refused after %d ms", i);
		mm_log_trouble("http://b:2379", MM_LOG_INFO, "etcd", "http://b:2379: refused after %d ms", i);
		fake_ms += 1000;
	}
	mm_log_trouble("http://a:2379", MM_LOG_INFO, "etcd", "http://a:2379: TLS handshake failed");
	fake_ms += 7000;
	mm_log_cleared("http://a:2379", MM_LOG_INFO, "etcd", "http://a:2379 answers again");
	mm_log_cleared("http://a:2379", MM_LOG_INFO, "etcd", "http://a:2379 answers again");
	/* c fails, is not asked for long, fails again: the trouble restarts */
	mm_log_trouble("http://c:2379", MM_LOG_INFO, "etcd", "http://c:2379: refused");
	fake_ms += 61000;
	mm_log_trouble("http://c:2379", MM_LOG_INFO, "etcd", "http://c:2379: refused");
	fake_ms += 2000;
	mm_log_cleared("http://c:2379", MM_LOG_INFO, "etcd", "http://c:2379 answers again");
	s = log_stop();
	CU_ASSERT_EQUAL(count_of(s, "http://c:2379: refused\n"), 2);
	CU_ASSERT_EQUAL(count_of(s, "http://c:2379 answers again (after 2 s, 1 failure)\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "http://a:2379: refused after 0 ms\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "http://b:2379: refused after 0 ms\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "http://a:2379: TLS handshake failed\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 4 times in the last 12 s: [http://a:2379: refused after 4 ms]"), 1);
	CU_ASSERT_EQUAL(count_of(s, "http://a:2379 answers again (after 12 s, 6 failures)\n"), 1);
	CU_ASSERT_EQUAL(count_of(s, "a answers"), 0);
	/* b's repeats are held until the window ends, then accounted for */
	CU_ASSERT_EQUAL(count_of(s, "message repeated 4 times in the last 73 s: [http://b:2379: refused after 4 ms]"), 1);
	CU_ASSERT_TRUE(strstr(s, "[http://a:2379: refused after 4 ms]") < strstr(s, "answers again"));
	CU_ASSERT_EQUAL(lines_of(s), 3 + 1 + 1 + 1 + 2 + 1);
	free(s);
}

static void *log_flood(void *arg)
{
	for (int i = 0; i < 1000; i++)
		mm_warn("t", "flood from %s after %d ms", (const char *)arg, i);
	return NULL;
}

static void test_log_threads(void)
{
	pthread_t t[4];
	char *s;

	log_start();
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, log_flood, i % 2 ? "odd" : "even"), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	s = log_stop();
	/* two messages, each written 3 times, 1997 repeats counted at close */
	CU_ASSERT_EQUAL(count_of(s, "] t: flood from even after"), 3);
	CU_ASSERT_EQUAL(count_of(s, "] t: flood from odd after"), 3);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 1997 times in the last 1 s: [flood from even after"), 1);
	CU_ASSERT_EQUAL(count_of(s, "message repeated 1997 times in the last 1 s: [flood from odd after"), 1);
	CU_ASSERT_EQUAL(lines_of(s), 8);
	free(s);
}

static int runs_in(const char *dir, const char *node)
{
	char cmd[256], buf[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^mmfs\\.log\\.2[0-9.]*\\.%s\\(\\.[0-9]*\\)\\?$'", dir, node);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	pclose(f);
	return atoi(buf);
}

static void link_of(const char *dir, const char *name, char *out, size_t sz)
{
	char p[256];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	n = readlink(p, out, sz - 1);
	out[n > 0 ? n : 0] = 0;
}

static void test_log_runs(void)
{
	char p[256], path[256], latest[256], prev[256], first[256] = "", last[256] = "", *s;
	const char *node = "10.0.0.1";

	log_dir_make();
	/* an old single mmfs.log becomes the previous run's log */
	snprintf(p, sizeof(p), "%s/mmfs.log", log_dir);
	CU_ASSERT_EQUAL(mm_write_file_atomic(p, "old run\n", 8, 0640), MM_OK);
	/* old runs of this node and one of another node */
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/mmfs.log.2020.01.01.00.00.0%d.%s", log_dir, i, node);
		CU_ASSERT_EQUAL(mm_write_file_atomic(p, "x\n", 2, 0640), MM_OK);
	}
	snprintf(p, sizeof(p), "%s/mmfs.log.2020.01.01.00.00.00.10.0.0.2", log_dir);
	CU_ASSERT_EQUAL(mm_write_file_atomic(p, "x\n", 2, 0640), MM_OK);

	CU_ASSERT_EQUAL_FATAL(mm_log_open_run(log_dir, node, 10, false, MM_LOG_INFO, path, sizeof(path)), MM_OK);
	mm_log_set_clock(fake_clock);	/* fresh limiter */
	mm_notice("t", "run %d", 0);
	link_of(log_dir, "mmfs.log.latest", latest, sizeof(latest));
	link_of(log_dir, "mmfs.log.previous", prev, sizeof(prev));
	link_of(log_dir, "mmfs.log", p, sizeof(p));
	CU_ASSERT_STRING_EQUAL(p, latest);
	CU_ASSERT_PTR_NOT_NULL(strstr(path, latest));
	CU_ASSERT_EQUAL(strncmp(latest, "mmfs.log.2", 10), 0);
	snprintf(p, sizeof(p), "%s/mmfs.log.previous", log_dir);
	s = slurp(p);
	CU_ASSERT_STRING_EQUAL(s, "old run\n");
	free(s);
	snprintf(p, sizeof(p), "%s/mmfs.log", log_dir);
	s = slurp(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "] t: run 0\n"));
	free(s);
	CU_ASSERT_EQUAL(runs_in(log_dir, node), 5);

	/* twelve more starts (within a second or two): ten files kept */
	for (int i = 1; i <= 12; i++) {
		snprintf(last, sizeof(last), "%s", latest);
		CU_ASSERT_EQUAL_FATAL(mm_log_open_run(log_dir, node, 10, false, MM_LOG_INFO, NULL, 0), MM_OK);
		mm_notice("t", "run %d", i);
		link_of(log_dir, "mmfs.log.latest", latest, sizeof(latest));
		link_of(log_dir, "mmfs.log.previous", prev, sizeof(prev));
		CU_ASSERT_STRING_EQUAL(prev, last);
		CU_ASSERT_STRING_NOT_EQUAL(latest, last);
		if (i == 3)
			snprintf(first, sizeof(first), "%s/%s", log_dir, latest);
	}
	CU_ASSERT_EQUAL(runs_in(log_dir, node), 10);
	if (runs_in(log_dir, node) != 10) {
		snprintf(p, sizeof(p), "ls -la %s", log_dir);
		CU_ASSERT_EQUAL(system(p), 0);
	}
	CU_ASSERT_EQUAL(runs_in(log_dir, "10.0.0.2"), 1);	/* not ours: kept */
	snprintf(p, sizeof(p), "%s/mmfs.log.2020.01.01.00.00.02.%s", log_dir, node);
	CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);		/* the oldest went first */
	CU_ASSERT_EQUAL(access(first, F_OK), 0);		/* run 3 is one of the last 10 */
	snprintf(p, sizeof(p), "%s/mmfs.log", log_dir);
	s = slurp(p);
	CU_ASSERT_STRING_EQUAL(strstr(s, "] t: ") ? strstr(s, "] t: ") : "", "] t: run 12\n");
	free(s);
	snprintf(p, sizeof(p), "%s/mmfs.log.previous", log_dir);
	s = slurp(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "] t: run 11\n"));
	free(s);
	CU_ASSERT_EQUAL(mm_log_open_run(log_dir, "a/b", 10, false, MM_LOG_INFO, NULL, 0), MM_EINVAL);
	mm_log_close();
	mm_log_set_clock(NULL);
	log_dir_remove();
}

/* ---- list, hash table, string buffer ---- */

struct item {
	struct mm_list link;
	struct mm_hnode hn;
	uint64_t key;
};

static void test_list(void)
{
	MM_LIST_HEAD(head);
	struct item it[5];
	struct mm_list *pos, *tmp;
	uint64_t order = 0;

	CU_ASSERT_TRUE(mm_list_empty(&head));
	CU_ASSERT_PTR_NULL(mm_list_first(&head));
	for (int i = 0; i < 5; i++) {
		it[i].key = (uint64_t)i;
		mm_list_init(&it[i].link);
		CU_ASSERT_FALSE(mm_list_linked(&it[i].link));
		if (i % 2)
			mm_list_add_tail(&head, &it[i].link);
		else
			mm_list_add_head(&head, &it[i].link);
	}
	mm_list_for_each(pos, &head)	/* 4 2 0 1 3 */
		order = order * 10 + mm_list_entry(pos, struct item, link)->key;
	CU_ASSERT_EQUAL(order, 42013u);
	mm_list_move_tail(&head, &it[4].link);
	mm_list_for_each_safe(pos, tmp, &head)
		if (mm_list_entry(pos, struct item, link)->key % 2 == 0 &&
		    mm_list_entry(pos, struct item, link)->key != 4)
			mm_list_del(pos);
	order = 0;
	mm_list_for_each(pos, &head)
		order = order * 10 + mm_list_entry(pos, struct item, link)->key;
	CU_ASSERT_EQUAL(order, 134u);
	CU_ASSERT_FALSE(mm_list_linked(&it[2].link));
}

static bool item_eq(const struct mm_hnode *n, const void *key)
{
	const struct item *it = (const struct item *)((const char *)n - offsetof(struct item, hn));

	return it->key == *(const uint64_t *)key;
}

static void count_node(struct mm_hnode *n, void *arg)
{
	(void)n;
	(*(size_t *)arg)++;
}

static void test_hash(void)
{
	enum { N = 5000 };
	struct item *it = calloc(N, sizeof(*it));
	struct mm_htab t;
	size_t seen = 0;

	CU_ASSERT_EQUAL_FATAL(mm_htab_init(&t, 4), MM_OK);
	CU_ASSERT_EQUAL(t.nbuckets, 16u);
	for (uint64_t i = 0; i < N; i++) {
		it[i].key = i * 7919;
		CU_ASSERT_EQUAL(mm_htab_insert(&t, &it[i].hn, mm_hash_u64(it[i].key)), MM_OK);
	}
	CU_ASSERT_EQUAL(t.count, (size_t)N);
	CU_ASSERT_TRUE(t.nbuckets >= N);	/* grew */
	for (uint64_t i = 0; i < N; i++) {
		uint64_t k = i * 7919, missing = k + 1;

		CU_ASSERT_PTR_EQUAL(mm_htab_find(&t, mm_hash_u64(k), item_eq, &k), &it[i].hn);
		CU_ASSERT_PTR_NULL(mm_htab_find(&t, mm_hash_u64(missing), item_eq, &missing));
	}
	for (uint64_t i = 0; i < N; i += 2)
		mm_htab_remove(&t, &it[i].hn);
	CU_ASSERT_EQUAL(t.count, (size_t)N / 2);
	mm_htab_each(&t, count_node, &seen);
	CU_ASSERT_EQUAL(seen, (size_t)N / 2);
	{
		uint64_t k = 2 * 7919, k3 = 3 * 7919;

		CU_ASSERT_PTR_NULL(mm_htab_find(&t, mm_hash_u64(k), item_eq, &k));
		CU_ASSERT_PTR_EQUAL(mm_htab_find(&t, mm_hash_u64(k3), item_eq, &k3), &it[3].hn);
	}
	mm_htab_free(&t);
	free(it);
}

static void test_strbuf(void)
{
	struct mm_sb b = MM_SB_INIT;
	char *s;

	s = mm_sb_steal(&b);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	for (int i = 0; i < 1000; i++)
		mm_sb_printf(&b, "%d,", i);
	mm_sb_put(&b, "end", 3);
	CU_ASSERT_FALSE(b.oom);
	CU_ASSERT_EQUAL(b.len, strlen(b.p));
	CU_ASSERT_EQUAL(strncmp(b.p, "0,1,2,", 6), 0);
	CU_ASSERT_STRING_EQUAL(b.p + b.len - 8, "998,999,end" + 3);
	s = mm_sb_steal(&b);
	CU_ASSERT_PTR_NULL(b.p);
	CU_ASSERT_EQUAL(b.len, 0u);
	free(s);
}

/* ---- timed waits against a wall clock that jumps ----
 * test_common is linked with --wrap=clock_gettime: every clock_gettime in
 * mmfs goes through here, and CLOCK_REALTIME can be made to jump. */
int __real_clock_gettime(clockid_t clk, struct timespec *ts);
static _Atomic long wall_shift_s;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
	int rc = __real_clock_gettime(clk, ts);

	if (rc == 0 && clk == CLOCK_REALTIME)
		ts->tv_sec += wall_shift_s;
	return rc;
}

static uint64_t real_mono_ms(void)
{
	struct timespec ts;

	__real_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *worker_main(void *arg)
{
	struct mm_worker *w = arg;
	int *rounds = (int *)((char *)w + sizeof(*w));

	pthread_mutex_lock(&w->lock);
	while (mm_worker_wait(w, 50))
		(*rounds)++;
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void test_waits_ignore_wall_clock(void)
{
	static const long shifts[] = {3600, -3600, 86400 * 365};
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	struct {
		struct mm_worker w;
		int rounds;
	} wk;

	CU_ASSERT_EQUAL_FATAL(mm_cond_init(&c), MM_OK);
	for (size_t i = 0; i < MM_ARRAY_SIZE(shifts); i++) {
		uint64_t t0, dt, u0;
		int rc;

		wall_shift_s = 0;
		pthread_mutex_lock(&m);
		t0 = real_mono_ms();
		u0 = mm_now_ns();
		wall_shift_s = shifts[i];	/* the wall clock jumps mid-wait */
		rc = mm_cond_wait_ms(&c, &m, 100);
		dt = real_mono_ms() - t0;
		pthread_mutex_unlock(&m);
		CU_ASSERT_EQUAL(rc, MM_ETIMEDOUT);
		CU_ASSERT_TRUE(dt >= 95 && dt < 2000);	/* neither cut nor stretched */
		CU_ASSERT_TRUE(mm_now_ns() - u0 < 2000000000u);
	}
	wall_shift_s = 0;
	pthread_cond_destroy(&c);

	/* a worker's periodic wake keeps its pace across a jump */
	memset(&wk, 0, sizeof(wk));
	CU_ASSERT_EQUAL_FATAL(mm_worker_init(&wk.w), MM_OK);
	CU_ASSERT_EQUAL_FATAL(mm_worker_start(&wk.w, "t-worker", worker_main, &wk.w), MM_OK);
	usleep(120000);
	wall_shift_s = -7200;
	usleep(300000);
	mm_worker_kick(&wk.w);
	usleep(20000);
	mm_worker_stop(&wk.w);
	mm_worker_destroy(&wk.w);
	wall_shift_s = 0;
	CU_ASSERT_TRUE(wk.rounds >= 5 && wk.rounds <= 12);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"crc32c vectors", test_crc32c_vectors},
		{"crc32c bulk paths equal the plain one", test_crc_bulk},
		{"wire round trip", test_wire_roundtrip},
		{"wire rejects embedded NUL", test_wire_embedded_nul},
		{"size parsing", test_sizes},
		{"deadline timespec", test_deadline_ts},
		{"error messages", test_errors},
		{"worker pool", test_pool},
		{"waiter registry", test_waiters},
		{"MM_BUG_ON and mutex ownership", test_bug},
		{"intrusive list", test_list},
		{"hash table", test_hash},
		{"string buffer", test_strbuf},
		{"timed waits ignore wall clock jumps", test_waits_ignore_wall_clock},
		{"log: repeated lines", test_log_repeats},
		{"log: troubles and their end", test_log_trouble},
		{"log: repeats from several threads", test_log_threads},
		{"log: one file per run", test_log_runs},
	};
	MM_ADD_SUITE("common", tests);
}

MM_CUNIT_MAIN(register_tests)
