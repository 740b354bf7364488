/*
 * tests/unit/testkit.h - helpers shared by the threaded unit tests: a
 * xorshift generator, a monotonic clock, checks made off the CUnit thread
 * (TCHECK, collected by ASSERT_NO_TFAILS on the CUnit thread), CHECK_U64
 * (an assertion that prints both values), and a watchdog that turns a hang
 * into a failure naming the test. Header-only: every test is its own
 * program.
 */
#ifndef MM_TESTS_UNIT_TESTKIT_H
#define MM_TESTS_UNIT_TESTKIT_H

#include <CUnit/CUnit.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static inline uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- failure checks off the CUnit thread ---- */

static atomic_uint tfails;
static pthread_mutex_t tfail_mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 3, 4)))
static inline void tfail(int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&tfails, 1) >= 10)
		return;
	pthread_mutex_lock(&tfail_mu);
	fprintf(stderr, "  line %d: check failed: %s: ", line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&tfail_mu);
}

#define TCHECK(cond, ...)                                    \
	do {                                                 \
		if (!(cond))                                 \
			tfail(__LINE__, #cond, __VA_ARGS__); \
	} while (0)

#define ASSERT_NO_TFAILS() CU_ASSERT_EQUAL(atomic_exchange(&tfails, 0), 0)

/* CU_ASSERT with the values printed when it fails. */
#define CHECK_U64(a, op, b)                                                                   \
	do {                                                                                  \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                              \
		CU_ASSERT(a_ op b_);                                                          \
		if (!(a_ op b_))                                                              \
			fprintf(stderr, "  line %d: %s %s %s: %" PRIu64 " vs %" PRIu64 "\n", \
				__LINE__, #a, #op, #b, a_, b_);                               \
	} while (0)

/* ---- watchdog: a hang fails the whole program, naming the test ---- */

static const char *volatile wd_name = "";
static uint64_t wd_t0;

static inline void wd_fire(int sig)
{
	static const char m[] = ": TIMEOUT (deadlock?) in test ";
	const char *prog = program_invocation_short_name, *n = wd_name;

	(void)sig;
	if (write(2, "\n", 1) < 0 || write(2, prog, strlen(prog)) < 0 ||
	    write(2, m, sizeof(m) - 1) < 0 || write(2, n, strlen(n)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	_exit(3);
}

static inline void wd_arm(const char *name, unsigned secs)
{
	wd_t0 = now_us();
	wd_name = name;
	signal(SIGALRM, wd_fire);
	alarm(secs);
}

/* Disarm; with MMFS_TEST_VERBOSE set, print how long the test took. */
static inline void wd_disarm(void)
{
	alarm(0);
	if (getenv("MMFS_TEST_VERBOSE"))
		fprintf(stderr, "  [%s: %.2f s]\n", wd_name, (double)(now_us() - wd_t0) / 1e6);
}

#endif
