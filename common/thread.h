/*
 * common/thread.h - named threads and bounded worker pools.
 *
 * A pool runs submitted jobs on a fixed set of threads. The queue is
 * bounded: a producer that must not block (an epoll I/O thread) uses
 * mm_pool_try_submit() and sheds load on MM_EBUSY; others may wait.
 * Jobs run in submission order per pool, on any of its threads.
 */
#ifndef MM_COMMON_THREAD_H
#define MM_COMMON_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Start a thread whose log lines carry <name> (at most 15 chars shown). */
int mm_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

typedef struct mm_pool mm_pool;
typedef void (*mm_job_fn)(void *arg);

/* <nthreads> workers named "<name>N", queue of at most <qmax> jobs. */
int mm_pool_create(const char *name, int nthreads, size_t qmax, mm_pool **out);
/* Queue a job; MM_EBUSY if the queue is full, MM_ESHUTDOWN if stopping. */
int mm_pool_try_submit(mm_pool *p, mm_job_fn fn, void *arg);
/* Queue a job, waiting for room; MM_ESHUTDOWN if stopping. */
int mm_pool_submit(mm_pool *p, mm_job_fn fn, void *arg);
/* Jobs queued but not started. */
size_t mm_pool_pending(mm_pool *p);
/*
 * Stop accepting jobs, run the ones queued, join the threads and free.
 * Must not be called from one of the pool's own threads.
 */
void mm_pool_destroy(mm_pool *p);

#endif
