/*
 * common/strbuf.h - a growable string buffer (2026-12-06).
 *
 * Appends never fail outright: an allocation failure sets <oom>, later
 * appends do nothing, and the owner checks <oom> once at the end. <p> is
 * always NUL-terminated once anything was appended (NULL before).
 *
 *   struct mm_sb b = MM_SB_INIT;
 *   mm_sb_printf(&b, "%s=%d\n", name, v);
 *   if (b.oom) ...; use b.p; mm_sb_free(&b);
 */
#ifndef MM_COMMON_STRBUF_H
#define MM_COMMON_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct mm_sb {
	char *p;		/* malloc'd, NUL-terminated */
	size_t len, cap;
	bool oom;
};

#define MM_SB_INIT {NULL, 0, 0, false}

void mm_sb_printf(struct mm_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mm_sb_vprintf(struct mm_sb *b, const char *fmt, va_list ap);
void mm_sb_put(struct mm_sb *b, const char *s, size_t n);
/* Hand the string to the caller (free() it): "" if nothing was appended,
 * NULL on allocation failure. The buffer is empty afterwards. */
char *mm_sb_steal(struct mm_sb *b);
void mm_sb_free(struct mm_sb *b);

#endif
