/*
 * common/waiter.h - registry of blocking operations, for mmdiag --waiters.
 *
 * A thread about to block on something slow (an etcd request, an admin
 * command, later a disk I/O or a token) brackets the wait with
 * mm_waiter_begin()/mm_waiter_end(). mmdiag lists those waiting longer
 * than a threshold, with what they wait on. Process-wide, fixed size
 * (when full, a wait is simply not recorded), lock held only to copy.
 */
#ifndef MM_COMMON_WAITER_H
#define MM_COMMON_WAITER_H

#include <stdint.h>

/* Returns a slot (>= 0) or -1 if the table is full. <what> is copied. */
int mm_waiter_begin(const char *what);
void mm_waiter_end(int slot);

typedef void (*mm_waiter_fn)(const char *thread, const char *what, uint64_t age_ms, void *arg);
/* Call <fn> for every wait older than <min_ms>; <fn> runs without the lock. */
void mm_waiters_each(uint64_t min_ms, mm_waiter_fn fn, void *arg);

#endif
