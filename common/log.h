/*
 * common/log.h - the daemon log (mmfs.log) and stderr logging.
 *
 * Line format, as GPFS prints it plus thread and subsystem:
 *   2026-11-21_18:32:20.123+0000: [N] [main] cluster: node 2 joined
 * Levels and their letters: D debug, I info, N notice, W warning,
 * E error, X fatal/exception.
 *
 * The log is process-wide (one daemon, one log). All calls are thread-safe;
 * a line is written with one write(2) so lines of threads never interleave.
 * Before mm_log_open() everything goes to stderr.
 *
 * Files (mm_log_open_run): each start of the daemon begins a new file
 * mmfs.log.<YYYY.MM.DD.HH.MM.SS>.<node> (UTC, as GPFS names them), with
 * the symlinks mmfs.log.latest (this run), mmfs.log.previous (the run
 * before) and mmfs.log (= latest, for readers of the single-file name).
 *
 * Repeated lines (rate limiting, 2026-12-06): a line whose text equals one
 * of the same level and subsystem written less than an interval ago
 * (default 30 s) is written at most 3 times per interval; the repeats
 * beyond are counted, and once the interval has passed one line
 *   message repeated 35 times in the last 30 s: [<the last one's text>]
 * stands for them. A message that keeps coming gets that one line per
 * interval, until an interval passes without it. Durations in the text
 * ("after 12 ms", "lease valid 3456 ms more", "4s") are masked before
 * the comparison, so lines differing only in them count as repeats; any
 * other difference (an address, a node number, an error) makes it a
 * different message, which is never held back. The first occurrence of a
 * message is always written. Debug lines are never held back.
 */
#ifndef MM_COMMON_LOG_H
#define MM_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mm_log_level {
	MM_LOG_DEBUG = 0,
	MM_LOG_INFO,
	MM_LOG_NOTICE,
	MM_LOG_WARN,
	MM_LOG_ERROR,
	MM_LOG_FATAL,
};

/* how many timestamped logs mm_log_open_run keeps (this run's included) */
#define MM_LOG_KEEP_RUNS 10

/*
 * Open <path> for appending (created 0640). <to_stderr> also copies every
 * line to stderr (foreground mode). Lines below <min_level> are dropped.
 * Returns 0 or an MM_E* code; on failure logging stays on stderr.
 */
int mm_log_open(const char *path, bool to_stderr, int min_level);

/*
 * Begin this run's log in directory <dir> for node <node>: create
 * <dir>/mmfs.log.<YYYY.MM.DD.HH.MM.SS>.<node> (the current UTC time; a
 * second start within the same second adds ".2", ".3"...), point
 * mmfs.log.previous where mmfs.log.latest pointed, mmfs.log.latest and
 * mmfs.log at the new file (relative symlinks, each replaced atomically),
 * and remove this node's oldest timestamped logs beyond <keep> (at least
 * 2). A regular file mmfs.log (the single ever-growing log of older
 * versions) is first renamed to the timestamped name of its mtime, so it
 * becomes the previous log. Then as mm_log_open(). If <path_out> is not
 * NULL it receives the new file's path. Returns 0 or an MM_E* code.
 */
int mm_log_open_run(const char *dir, const char *node, unsigned keep, bool to_stderr,
		    int min_level, char *path_out, size_t path_outsz);

/* Write pending "message repeated" lines, then stop logging to the file. */
void mm_log_close(void);
void mm_log_set_level(int min_level);
/* Reopen the log file at the same path (after rotation). */
int mm_log_reopen(void);

/* Name the calling thread in log lines (and in /proc via prctl). */
void mm_log_thread_name(const char *name);

void mm_logf(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define mm_debug(sub, ...) mm_logf(MM_LOG_DEBUG, sub, __VA_ARGS__)
#define mm_info(sub, ...) mm_logf(MM_LOG_INFO, sub, __VA_ARGS__)
#define mm_notice(sub, ...) mm_logf(MM_LOG_NOTICE, sub, __VA_ARGS__)
#define mm_warn(sub, ...) mm_logf(MM_LOG_WARN, sub, __VA_ARGS__)
#define mm_error(sub, ...) mm_logf(MM_LOG_ERROR, sub, __VA_ARGS__)
#define mm_fatal(sub, ...) mm_logf(MM_LOG_FATAL, sub, __VA_ARGS__)

/*
 * A condition that persists over retries (an unreachable endpoint, a
 * lease that cannot be renewed), named by <key> (e.g. the endpoint's URL):
 *
 * mm_log_trouble() logs its line as mm_logf() does, but a repeat of the
 * same text while the condition lasts is held back at once (not after 3),
 * and counted in the "message repeated" line; a different text (a new
 * cause) is written. It notes when the condition began and how often it
 * was reported.
 *
 * A trouble not reported for two intervals (60 s) starts afresh: what is
 * no longer asked may have recovered unseen.
 *
 * mm_log_cleared() logs its line only if <key> is in trouble, with
 * " (after <T> s, <N> failures)" appended, first writing the pending
 * "message repeated" line of that trouble; then forgets <key>. Called on
 * every success, it costs a lookup.
 *
 * Up to 32 keys are tracked; a 33rd evicts the oldest (whose cleared line
 * is then not written). Keys are process-wide: two clients of one
 * endpoint share its trouble.
 */
void mm_log_trouble(const char *key, int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void mm_log_cleared(const char *key, int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Write the "message repeated" lines that are due. The daemon calls it
 * about once a second, so a summary appears when a flood stops even if
 * nothing else is logged; any log call does the same.
 */
void mm_log_flush_repeats(void);

/*
 * Rate-limit settings: <interval_ms> (0: nothing is held back) and
 * <burst> lines of one message per interval. Default 30000 and 3.
 */
void mm_log_set_ratelimit(unsigned interval_ms, unsigned burst);

/* Tests: the millisecond clock of the rate limiter (NULL: monotonic). */
void mm_log_set_clock(uint64_t (*now_ms)(void));

#endif
