/* common/log.c - see log.h. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;		/* protected by log_lock */
static char *log_path;		/* protected by log_lock */
static bool log_stderr = true;	/* protected by log_lock */
static int log_min = MM_LOG_INFO;
static _Thread_local char thread_name[16] = "";

static const char level_letter[] = "DINWEX";

int mm_log_open(const char *path, bool to_stderr, int min_level)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return mm_err_from_errno(errno);
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = strdup(path);
	log_stderr = to_stderr;
	log_min = min_level;
	pthread_mutex_unlock(&log_lock);
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
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	free(log_path);
	log_path = NULL;
	log_stderr = true;
	pthread_mutex_unlock(&log_lock);
}

void mm_log_set_level(int min_level)
{
	__atomic_store_n(&log_min, min_level, __ATOMIC_RELAXED);
}

void mm_log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	prctl(PR_SET_NAME, thread_name, 0, 0, 0);
}

void mm_logf(int level, const char *subsys, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;

	if (level < __atomic_load_n(&log_min, __ATOMIC_RELAXED))
		return;
	if (level < MM_LOG_DEBUG || level > MM_LOG_FATAL)
		level = MM_LOG_ERROR;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d_%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ld+0000: [%c] [%s] %s: ",
		      (long)tv.tv_usec / 1000, level_letter[level],
		      thread_name[0] ? thread_name : "-", subsys ? subsys : "-");
	va_start(ap, fmt);
	if (n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0 && write(log_fd, line, n) < 0) {
		/* nowhere better to report a failing log write */
	}
	if (log_stderr || log_fd < 0) {
		if (write(STDERR_FILENO, line, n) < 0) {
		}
	}
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}
