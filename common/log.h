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
 */
#ifndef MM_COMMON_LOG_H
#define MM_COMMON_LOG_H

#include <stdbool.h>

enum mm_log_level {
	MM_LOG_DEBUG = 0,
	MM_LOG_INFO,
	MM_LOG_NOTICE,
	MM_LOG_WARN,
	MM_LOG_ERROR,
	MM_LOG_FATAL,
};

/*
 * Open <path> for appending (created 0640). <to_stderr> also copies every
 * line to stderr (foreground mode). Lines below <min_level> are dropped.
 * Returns 0 or an MM_E* code; on failure logging stays on stderr.
 */
int mm_log_open(const char *path, bool to_stderr, int min_level);
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

#endif
