/*
 * common/util.h - time, sizes, and small helpers shared by every module.
 */
#ifndef MM_COMMON_UTIL_H
#define MM_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Monotonic clock. */
uint64_t mm_now_ns(void);
static inline uint64_t mm_now_ms(void) { return mm_now_ns() / 1000000u; }
/* Wall clock, seconds since the epoch. */
uint64_t mm_wall_s(void);
/* The wall clock to the nanosecond: file times (never for intervals). */
struct timespec;
void mm_wall_ts(struct timespec *ts);
void mm_sleep_ms(unsigned ms);
/* <ns> from now on clock <clk>, as a timed condition wait wants it:
 * CLOCK_REALTIME for default condition variables, CLOCK_MONOTONIC for
 * those made with that clock. */
struct timespec mm_deadline_ts(clockid_t clk, uint64_t ns);

/*
 * Parse a size such as "512M", "4G", "64K", "1048576" (K/M/G/T are powers
 * of 1024, case-insensitive). Returns 0 or MM_EINVAL / MM_ERANGE.
 */
int mm_parse_size(const char *s, uint64_t *out);
/* Parse a decimal integer that must fill the whole string. */
int mm_parse_i64(const char *s, int64_t *out);
/* Format <v> as the shortest exact "4G"/"512M"/"123" form into <buf>. */
void mm_format_size(uint64_t v, char *buf, size_t bufsz);

/* snprintf that reports truncation as MM_ETOOBIG instead of silently. */
int mm_snprintf(char *buf, size_t sz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write all of <len> bytes (retrying short writes and EINTR). */
int mm_write_full(int fd, const void *buf, size_t len);
/* Read a whole small file (<= max bytes) into a NUL-terminated malloc'd buffer. */
int mm_read_file(const char *path, size_t max, char **out, size_t *len);
/* Write a file atomically: tmp file + fsync + rename. */
int mm_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode);
/* mkdir -p with <mode> for created components. */
int mm_mkdir_p(const char *path, unsigned mode);

#endif
