/*
 * common/strbuf.c - the growable string buffer (strbuf.h).
 */
#include "common/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct mm_sb *b, size_t more)
{
	size_t want = b->len + more + 1, cap;
	char *np;

	if (b->oom)
		return false;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

void mm_sb_vprintf(struct mm_sb *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
}

void mm_sb_printf(struct mm_sb *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mm_sb_vprintf(b, fmt, ap);
	va_end(ap);
}

void mm_sb_put(struct mm_sb *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

char *mm_sb_steal(struct mm_sb *b)
{
	char *s = b->oom ? NULL : b->p ? b->p : strdup("");

	if (b->oom)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
	return s;
}

void mm_sb_free(struct mm_sb *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}
