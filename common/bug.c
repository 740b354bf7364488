/*
 * common/bug.c - MM_BUG_ON / MM_ASSERT failure paths (bug.h).
 */
#include "common/bug.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

void mm_dump_ptr(const void *obj, char *buf, size_t sz)
{
	snprintf(buf, sz, "object at %p (no dump hook for its type)", obj);
}

void mm_bug(const char *what, const char *file, int line, const char *func,
	    mm_dump_fn dump, const void *obj)
{
	char text[2048] = "";

	if (dump && obj)
		dump(obj, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "(null object)");
	mm_fatal("bug", "%s:%d %s: BUG: %s; %s", file, line, func, what, text);
	abort();
}

void mm_assert_fail(const char *what, const char *file, int line, const char *func)
{
	mm_fatal("bug", "%s:%d %s: assertion failed: %s", file, line, func, what);
	abort();
}

bool mm_mutex_held(const pthread_mutex_t *m)
{
	return m->__data.__owner == (int)syscall(SYS_gettid);
}
