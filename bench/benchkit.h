/*
 * bench/benchkit.h - helpers shared by the benchmark programs (each is its
 * own program, so header-only).
 */
#ifndef MM_BENCH_BENCHKIT_H
#define MM_BENCH_BENCHKIT_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

/* utime + stime of process <pid> (0: self), in seconds; 0 if unknown. */
static inline double bench_cpu_secs(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* fields after "(comm)": state is field 3, utime 14, stime 15 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Print "<program>: <what>: <cause>[: <msg>]" and exit 1; the cause is
 * mm_strerror(rc), or errno's text when rc is 0. */
static inline void bench_die(const char *what, int rc, const char *msg)
{
	fprintf(stderr, "%s: %s: %s%s%s\n", program_invocation_short_name, what,
		rc ? mm_strerror(rc) : strerror(errno), msg && *msg ? ": " : "", msg ? msg : "");
	exit(1);
}

/* Sleep until mm_now_ns() reaches <t> (monotonic). */
static inline void bench_sleep_until(uint64_t t)
{
	uint64_t now;

	while ((now = mm_now_ns()) < t) {
		struct timespec ts = {(time_t)((t - now) / 1000000000u),
				      (long)((t - now) % 1000000000u)};

		nanosleep(&ts, NULL);
	}
}

#endif
