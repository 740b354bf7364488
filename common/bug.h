/*
 * common/bug.h - assertions that check invariants (2026-12-06).
 *
 *   MM_ASSERT(cond)         checked in debug and sanitizer builds (MM_DEBUG,
 *                           set by the Makefile's asan/tsan/fuzz builds and
 *                           DEBUG=1); compiles to nothing otherwise, so it
 *                           may sit on hot paths.
 *   MM_BUG_ON(obj, cond)    always checked: if <cond> holds, logs the
 *                           condition, where, and a dump of <obj> through
 *                           the dump hook of its type, then aborts. For
 *                           impossible state-machine transitions: carrying
 *                           on would corrupt data or hang.
 *   MM_ASSERT_HELD(mutex)   MM_ASSERT that the calling thread holds
 *                           <mutex> (a pthread_mutex_t *).
 *
 * Dump hooks: a type that MM_BUG_ON may name gets a line in MM_BUG_DUMP
 * below, with its hook declared against a forward declaration, so common/
 * still depends on nothing: the hook lives in the module that owns the
 * type. A hook writes a few lines of text about the object into <buf>; it
 * must not take locks (the caller may hold them) and must not allocate.
 * A pointer of another type dumps as its address.
 */
#ifndef MM_COMMON_BUG_H
#define MM_COMMON_BUG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef void (*mm_dump_fn)(const void *obj, char *buf, size_t sz);

/* Log "<file>:<line> <func>: BUG: <what>" and the dump, then abort(). */
void mm_bug(const char *what, const char *file, int line, const char *func,
	    mm_dump_fn dump, const void *obj) __attribute__((noreturn, cold));
/* The same for MM_ASSERT (no object). */
void mm_assert_fail(const char *what, const char *file, int line, const char *func)
	__attribute__((noreturn, cold));
/* True if the calling thread holds <m> (glibc records every mutex's owner). */
bool mm_mutex_held(const pthread_mutex_t *m);

void mm_dump_ptr(const void *obj, char *buf, size_t sz);

/* ---- per-type dump hooks (each defined in its own module) ---- */
struct net_conn;
void net_conn_dump(const void *conn, char *buf, size_t sz);		/* net/conn.c */
struct clm;
void clm_dump(const void *clm, char *buf, size_t sz);			/* cluster/clm_status.c */
struct pp_buf;
void pp_buf_dump(const void *buf_, char *buf, size_t sz);		/* pagepool/ */
struct nsd_io;
void nsd_io_dump(const void *io, char *buf, size_t sz);		/* nsd/client.c */
struct tok_holder;
void tok_holder_dump(const void *h, char *buf, size_t sz);		/* tokens/client.c */
struct tok_cobj;
void tok_cobj_dump(const void *co, char *buf, size_t sz);		/* tokens/client.c */
struct tok_client;
void tok_client_dump(const void *c, char *buf, size_t sz);		/* tokens/client.c */
struct tok_rec;
void tok_rec_dump(const void *rec, char *buf, size_t sz);		/* tokens/server.c */

#define MM_BUG_DUMP(obj) _Generic((obj),				\
	struct net_conn *: net_conn_dump,				\
	const struct net_conn *: net_conn_dump,				\
	struct clm *: clm_dump,						\
	const struct clm *: clm_dump,					\
	struct pp_buf *: pp_buf_dump,					\
	const struct pp_buf *: pp_buf_dump,				\
	struct nsd_io *: nsd_io_dump,					\
	const struct nsd_io *: nsd_io_dump,				\
	struct tok_holder *: tok_holder_dump,				\
	const struct tok_holder *: tok_holder_dump,			\
	struct tok_cobj *: tok_cobj_dump,				\
	const struct tok_cobj *: tok_cobj_dump,				\
	struct tok_client *: tok_client_dump,				\
	const struct tok_client *: tok_client_dump,			\
	struct tok_rec *: tok_rec_dump,					\
	const struct tok_rec *: tok_rec_dump,				\
	default: mm_dump_ptr)

#define MM_BUG_ON(obj, cond)						\
	do {								\
		if (__builtin_expect(!!(cond), 0))			\
			mm_bug(#cond, __FILE__, __LINE__, __func__,	\
			       MM_BUG_DUMP(obj), (obj));		\
	} while (0)

#ifdef MM_DEBUG
#define MM_ASSERT(cond)							\
	do {								\
		if (__builtin_expect(!(cond), 0))			\
			mm_assert_fail(#cond, __FILE__, __LINE__, __func__); \
	} while (0)
#else
#define MM_ASSERT(cond) do { (void)sizeof(!(cond)); } while (0)
#endif

#define MM_ASSERT_HELD(m) MM_ASSERT(mm_mutex_held(m))

#endif
