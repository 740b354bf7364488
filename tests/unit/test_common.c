/* tests/unit/test_common.c - common/: crc32c, wire codec, sizes, errors, pool. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/crc32c.h"
#include "common/err.h"
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

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"crc32c vectors", test_crc32c_vectors},
		{"wire round trip", test_wire_roundtrip},
		{"wire rejects embedded NUL", test_wire_embedded_nul},
		{"size parsing", test_sizes},
		{"deadline timespec", test_deadline_ts},
		{"error messages", test_errors},
		{"worker pool", test_pool},
		{"waiter registry", test_waiters},
		{"MM_BUG_ON and mutex ownership", test_bug},
	};
	MM_ADD_SUITE("common", tests);
}

MM_CUNIT_MAIN(register_tests)
