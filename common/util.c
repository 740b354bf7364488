/* common/util.c - see util.h. */
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

uint64_t mm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timespec mm_deadline_ts(clockid_t clk, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec += (long)(ns % 1000000000u);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

uint64_t mm_wall_s(void)
{
	return (uint64_t)time(NULL);
}

void mm_wall_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void mm_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int mm_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return MM_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return MM_ERANGE;
	if (*end != '\0')
		return MM_EINVAL;
	*out = v;
	return MM_OK;
}

int mm_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return MM_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return MM_ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return MM_EINVAL;
	}
	if (*end) {
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return MM_EINVAL;
	}
	if (shift && v > (ULLONG_MAX >> shift))
		return MM_ERANGE;
	*out = (uint64_t)v << shift;
	return MM_OK;
}

void mm_format_size(uint64_t v, char *buf, size_t bufsz)
{
	static const char suf[] = "KMGT";
	int i = -1;

	while (v && (v & 1023) == 0 && i < 3) {
		v >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, bufsz, "%llu", (unsigned long long)v);
	else
		snprintf(buf, bufsz, "%llu%c", (unsigned long long)v, suf[i]);
}

int mm_snprintf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MM_EINVAL;
	if ((size_t)n >= sz)
		return MM_ETOOBIG;
	return MM_OK;
}

int mm_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mm_err_from_errno(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return MM_OK;
}

int mm_read_file(const char *path, size_t max, char **out, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf;
	int rc = MM_OK;

	if (fd < 0)
		return mm_err_from_errno(errno);
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return MM_ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap >= max) {
				rc = MM_ETOOBIG;
				break;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = MM_ENOMEM;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = mm_err_from_errno(errno);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	if (lenp)
		*lenp = len;
	return MM_OK;
}

int mm_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	int fd, rc;

	rc = mm_snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (rc)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return mm_err_from_errno(errno);
	if (fchmod(fd, mode) < 0) {
		rc = mm_err_from_errno(errno);
		goto fail;
	}
	rc = mm_write_full(fd, buf, len);
	if (rc)
		goto fail;
	if (fsync(fd) < 0) {
		rc = mm_err_from_errno(errno);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = mm_err_from_errno(errno);
		unlink(tmp);
		return rc;
	}
	return MM_OK;
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

int mm_mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return MM_EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return mm_err_from_errno(errno);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return MM_OK;
}
