/* common/thread.c - see thread.h. */
#include "common/thread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

struct thread_start {
	char name[16];
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start s = *(struct thread_start *)p;

	free(p);
	mm_log_thread_name(s.name);
	return s.fn(s.arg);
}

int mm_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	struct thread_start *s = malloc(sizeof(*s));
	int e;

	if (!s)
		return MM_ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fn = fn;
	s->arg = arg;
	e = pthread_create(t, NULL, thread_trampoline, s);
	if (e) {
		free(s);
		return mm_err_from_errno(e);
	}
	return MM_OK;
}

struct job {
	mm_job_fn fn;
	void *arg;
};

struct mm_pool {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;	/* signalled when a job is queued or stopping */
	pthread_cond_t nonfull;		/* signalled when a job is taken */
	struct job *ring;		/* protected by lock */
	size_t qmax, head, count;	/* protected by lock */
	bool stopping;			/* protected by lock */
	int nthreads;
	pthread_t *threads;
};

static void *pool_main(void *arg)
{
	mm_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job j;

		while (p->count == 0 && !p->stopping)
			pthread_cond_wait(&p->nonempty, &p->lock);
		if (p->count == 0)
			break;
		j = p->ring[p->head];
		p->head = (p->head + 1) % p->qmax;
		p->count--;
		pthread_cond_signal(&p->nonfull);
		pthread_mutex_unlock(&p->lock);
		j.fn(j.arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mm_pool_create(const char *name, int nthreads, size_t qmax, mm_pool **out)
{
	mm_pool *p;
	int rc;

	if (nthreads < 1 || qmax < 1)
		return MM_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return MM_ENOMEM;
	p->ring = calloc(qmax, sizeof(*p->ring));
	p->threads = calloc((size_t)nthreads, sizeof(*p->threads));
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return MM_ENOMEM;
	}
	p->qmax = qmax;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->nonempty, NULL);
	pthread_cond_init(&p->nonfull, NULL);
	for (int i = 0; i < nthreads; i++) {
		char tname[32];

		snprintf(tname, sizeof(tname), "%.11s%d", name, i);
		rc = mm_thread_start(&p->threads[i], tname, pool_main, p);
		if (rc) {
			p->nthreads = i;
			mm_pool_destroy(p);
			return rc;
		}
	}
	p->nthreads = nthreads;
	*out = p;
	return MM_OK;
}

static int pool_push(mm_pool *p, mm_job_fn fn, void *arg, bool wait)
{
	int rc = MM_OK;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping && p->count == p->qmax && wait)
		pthread_cond_wait(&p->nonfull, &p->lock);
	if (p->stopping) {
		rc = MM_ESHUTDOWN;
	} else if (p->count == p->qmax) {
		rc = MM_EBUSY;
	} else {
		p->ring[(p->head + p->count) % p->qmax] = (struct job){fn, arg};
		p->count++;
	}
	pthread_mutex_unlock(&p->lock);
	/* signalled after the unlock: a woken worker must not block on it at once */
	if (rc == MM_OK)
		pthread_cond_signal(&p->nonempty);
	return rc;
}

int mm_pool_try_submit(mm_pool *p, mm_job_fn fn, void *arg)
{
	return pool_push(p, fn, arg, false);
}

int mm_pool_submit(mm_pool *p, mm_job_fn fn, void *arg)
{
	return pool_push(p, fn, arg, true);
}

size_t mm_pool_pending(mm_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->count;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void mm_pool_destroy(mm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->nonempty);
	pthread_cond_broadcast(&p->nonfull);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->nonempty);
	pthread_cond_destroy(&p->nonfull);
	free(p->ring);
	free(p->threads);
	free(p);
}

/* ---- monotonic condition variables and workers -------------------- */

int mm_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int e;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	e = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return e ? mm_err_from_errno(e) : MM_OK;
}

int mm_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline_ns)
{
	struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};

	return pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT ? MM_ETIMEDOUT : MM_OK;
}

int mm_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ms)
{
	return mm_cond_wait_until(c, m, mm_now_ns() + ms * 1000000u);
}

int mm_worker_init(struct mm_worker *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	return mm_cond_init(&w->wake);
}

int mm_worker_start(struct mm_worker *w, const char *name, void *(*fn)(void *), void *arg)
{
	int rc = mm_thread_start(&w->thread, name, fn, arg);

	w->running = rc == MM_OK;
	return rc;
}

bool mm_worker_wait(struct mm_worker *w, uint64_t ms)
{
	if (!w->kicked && !w->stop)
		mm_cond_wait_ms(&w->wake, &w->lock, ms);
	w->kicked = false;
	return !w->stop;
}

void mm_worker_kick(struct mm_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->kicked = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void mm_worker_stop(struct mm_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (w->running) {
		pthread_join(w->thread, NULL);
		w->running = false;
	}
}

void mm_worker_destroy(struct mm_worker *w)
{
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}
