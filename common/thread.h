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
#include <stdint.h>

/* Start a thread whose log lines carry <name> (at most 15 chars shown). */
int mm_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

/*
 * Condition variables on CLOCK_MONOTONIC. Every timed wait in mmfs goes
 * through these (tests/check's lint step enforces it), so a step of the
 * wall clock can neither stretch nor cut a wait.
 */
int mm_cond_init(pthread_cond_t *c);
/* Wait on <c> (made by mm_cond_init) with <m> held, at most <ms>
 * milliseconds: 0 when signalled (or spuriously woken), MM_ETIMEDOUT. */
int mm_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ms);
/* The same until mm_now_ns() reaches <deadline_ns>. */
int mm_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline_ns);

/*
 * A thread that sleeps until it is kicked, a timeout passes, or it is
 * told to stop. Its owner keeps its own fields under <lock> too:
 *
 *   pthread_mutex_lock(&w->lock);
 *   while (mm_worker_wait(w, 1000))	// lock held in and out
 *           ... do what is wanted, dropping the lock around slow work ...
 *   pthread_mutex_unlock(&w->lock);
 */
struct mm_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* CLOCK_MONOTONIC */
	bool stop;			/* protected by lock */
	bool kicked;			/* protected by lock */
	bool running;			/* owner only: thread started */
};

int mm_worker_init(struct mm_worker *w);
/* Start <fn>(<arg>) on a thread named <name>. */
int mm_worker_start(struct mm_worker *w, const char *name, void *(*fn)(void *), void *arg);
/* With <lock> held: return at once if kicked since the last call (false
 * if told to stop), else wait up to <ms> for a kick or a stop. */
bool mm_worker_wait(struct mm_worker *w, uint64_t ms);
/* Wake the worker (its next mm_worker_wait returns at once). */
void mm_worker_kick(struct mm_worker *w);
/* Tell it to stop, wake it and join it (not from the worker itself). */
void mm_worker_stop(struct mm_worker *w);
/* After mm_worker_stop (or if it never started). */
void mm_worker_destroy(struct mm_worker *w);

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
