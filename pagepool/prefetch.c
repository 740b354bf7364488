/*
 * pagepool/prefetch.c - streams (pagepool.h "prefetch", README.md
 * "Prefetch"): pattern detection, read-ahead on the prefetch threads,
 * adaptive depth, prefetch marks.
 *
 * Map of this file:
 *   1. marks: pp_stream_note (a prefetched block used or wasted)
 *   2. prefetch jobs: pf_job_end, pf_read_done, pf_run (asynchronous
 *      reads), pf_queue, pf_range
 *   3. pattern and read-ahead: classify, read_ahead
 *   4. the stream calls: pp_stream_open, pp_stream_close,
 *      pp_stream_set_size, pp_stream_get, pp_stream_get_info
 */
#include "pagepool/pagepool_int.h"

#include <stddef.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* The stream <id> is told one of its prefetched blocks was read (used) or
 * evicted unread (wasted: it reads ahead less). Takes st_mu, then s->mu:
 * callers may hold alloc_mu (an eviction) or a content lock (a first read),
 * nothing later in the lock order (README.md, "Lock order", row 4). */
void pp_stream_note(pp_pool *p, uint32_t id, bool used)
{
	struct pp_stream *s;

	add(used ? &p->prefetch_used : &p->prefetch_wasted, 1);
	pthread_mutex_lock(&p->st_mu);
	for (s = p->streams; s && s->id != id; s = s->next)
		;
	if (s) {
		pthread_mutex_lock(&s->mu);
		if (used) {
			s->used++;
		} else {
			s->wasted++;
			if (s->depth > 1)
				s->depth /= 2;
		}
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&p->st_mu);
}

/* A prefetch of [off, off+len) of block <blk>: queued by pf_queue, run by
 * pf_run on a prefetch thread, which starts the read and returns; the
 * read's completion (pf_read_done) ends the job. */
struct pf_job {
	struct pp_stream *s;
	uint64_t blk;
	uint32_t off, len;
	uint64_t t0;			/* when the job started */
	struct pp_read rd;
};

/* The job is over: the stream has one prefetch less in flight (a close
 * waits for none), and a read's service time feeds the depth. */
static void pf_job_end(struct pf_job *j, bool read)
{
	struct pp_stream *s = j->s;

	pthread_mutex_lock(&s->mu);
	if (read) {
		uint64_t ns = mm_now_ns() - j->t0;

		s->svc_ns = s->svc_ns ? (7 * s->svc_ns + ns) / 8 : ns;
	}
	if (--s->inflight == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	free(j);
}

/* Completion of a prefetch read, on the backend's thread: the buffer is
 * valid (or the read failed, logged) and its waiters woken; drop the pin
 * the read held. */
static void pf_read_done(struct pp_read *rd, int rc)
{
	struct pf_job *j = (struct pf_job *)((char *)rd - offsetof(struct pf_job, rd));

	(void)rc;
	unpin(rd->b);
	pf_job_end(j, true);
}

/*
 * On a prefetch thread: pin the block (making its buffer, which may wait
 * for memory), and if subblocks of the range are missing, mark the buffer
 * as the stream's, start reading them and return: the read holds the pin
 * and b->reading, not the content lock (rule 11), so one thread keeps as
 * many reads in flight as the streams queue.
 */
static void pf_run(void *arg)
{
	struct pf_job *j = arg;
	struct pp_stream *s = j->s;
	pp_pool *p = s->p;
	struct pp_tag t = {s->fs, s->ino, j->blk};
	uint32_t end = j->off + j->len, missing;
	struct pp_buf *b;
	bool hit;

	j->t0 = mm_now_ns();
	/* usage 1: a prefetched block is kept one sweep of the clock until it
	 * is read (scan resistance) */
	b = pp_pin_buf(p, s->f, &t, false, 1, end, &hit);
	for (;;) {
		if (cap_of(b) < end)
			pp_grow_buf(p, b, end);
		pthread_rwlock_rdlock(&b->content);
		if (cap_of(b) >= end)
			break;
		pthread_rwlock_unlock(&b->content);
	}
	pthread_mutex_lock(&b->mu);
	while (b->reading)	/* someone's read: then read what it left */
		pthread_cond_wait(&b->cv, &b->mu);
	missing = sub_mask(s->f, j->off, j->len) & ~b->valid;
	MM_ASSERT(buf_ok_locked(b));
	if (missing) {
		b->reading = true;
		if (!b->pf_id)
			b->pf_id = s->id;	/* marked before the data lands: a reader
						 * that waits for it sees the mark */
	}
	pthread_mutex_unlock(&b->mu);
	pthread_rwlock_unlock(&b->content);
	if (!missing) {
		unpin(b);
		pf_job_end(j, false);
		return;
	}
	j->rd = (struct pp_read){.p = p, .b = b, .mask = missing, .fini = pf_read_done};
	pp_read_start(&j->rd);	/* <j> may be gone when it returns */
}

/* With s->mu: queue a prefetch of [off, off+len) of block <blk>; false if
 * it could not be queued now (the caller tries again at the next access).
 * What the pool has already costs a lookup, not a job: a partition lock
 * and a buffer's mu under s->mu (README.md, "Lock order", row 5). */
static bool pf_queue(struct pp_stream *s, uint64_t blk, uint32_t off, uint32_t len)
{
	struct pp_tag t = {s->fs, s->ino, blk};
	struct pf_job *j;

	MM_ASSERT_HELD(&s->mu);
	if (len == 0 || pp_is_cached(s->p, s->f, &t, off, len))
		return true;
	if (s->inflight >= 2 * s->max_depth + 2)
		return false;
	j = malloc(sizeof(*j));
	if (!j)
		return false;
	*j = (struct pf_job){s, blk, off, len};
	s->inflight++;
	if (mm_pool_try_submit(s->p->pf_pool, pf_run, j) != MM_OK) {
		s->inflight--;
		free(j);
		return false;
	}
	s->issued++;
	add(&s->p->prefetch_issued, 1);
	return true;
}

/* With s->mu: queue the bytes [pos, pos+len) of the file, split by block;
 * false if some could not be queued. */
static bool pf_range(struct pp_stream *s, uint64_t pos, uint64_t len)
{
	uint32_t bs = s->f->bsize;

	MM_ASSERT_HELD(&s->mu);
	if (pos >= s->size)
		return true;
	if (len > s->size - pos)
		len = s->size - pos;
	while (len > 0) {
		uint32_t in = (uint32_t)(pos % bs);
		uint32_t n = len < (uint64_t)(bs - in) ? (uint32_t)len : bs - in;

		if (!pf_queue(s, pos / bs, in, n))
			return false;
		pos += n;
		len -= n;
	}
	return true;
}

/* With s->mu: what the access at [off, off+len) says about the pattern. */
static void classify(struct pp_stream *s, uint64_t off, uint64_t len)
{
	enum pp_pattern cand;
	int64_t delta = (int64_t)(off - s->last_off);

	MM_ASSERT_HELD(&s->mu);
	if (!s->have_last) {
		s->have_last = true;
		s->last_off = off;
		s->last_len = len;
		return;
	}
	if (off >= s->last_off && off <= s->last_off + s->last_len)
		cand = PP_PAT_FORWARD;
	else if (off < s->last_off && off + len >= s->last_off)
		cand = PP_PAT_BACKWARD;
	else if (delta == s->last_delta && delta != 0 &&
		 (uint64_t)(delta < 0 ? -delta : delta) > len)
		cand = PP_PAT_STRIDED;
	else
		cand = PP_PAT_RANDOM;
	s->agree = cand == s->cand ? s->agree + 1 : 1;
	s->cand = cand;
	if (cand == PP_PAT_RANDOM) {
		s->pat = PP_PAT_RANDOM;	/* stop at once */
	} else if (cand != s->pat && (s->agree >= 2 || cand == PP_PAT_STRIDED)) {
		/* strided needs three accesses to be seen at all: enough */
		s->pat = cand;
		s->fwd_hi = 0;
		s->bwd_lo = UINT64_MAX;
		s->str_next = 0;
		if (s->depth < 2)
			s->depth = 2;
	}
	s->last_delta = delta;
	s->last_off = off;
	s->last_len = len;
}

/* With s->mu: read ahead from the access at [off, off+len). */
static void read_ahead(struct pp_stream *s, uint64_t off, uint64_t len)
{
	uint64_t bs = s->f->bsize, depth = s->depth;

	MM_ASSERT_HELD(&s->mu);
	if (s->svc_ns && s->gap_ns) {
		/* cover one read's service time at the reader's pace */
		uint64_t want = s->svc_ns / s->gap_ns + 1;

		if (want > depth)
			depth = want < s->max_depth ? want : s->max_depth;
	}
	switch (s->pat) {
	case PP_PAT_FORWARD: {
		uint64_t from = (off + len + bs - 1) / bs * bs, to = from + depth * bs;

		uint64_t q;

		if (from < s->fwd_hi)
			from = s->fwd_hi;
		/* the frontier moves only over what was queued */
		for (q = from; q < to && q < s->size; q += bs)
			if (!pf_range(s, q, bs))
				break;
		if (q > s->fwd_hi)
			s->fwd_hi = q;
		break;
	}
	case PP_PAT_BACKWARD: {
		uint64_t cur = off / bs * bs, lo = cur > depth * bs ? cur - depth * bs : 0;
		uint64_t from = cur < s->bwd_lo ? cur : s->bwd_lo;

		uint64_t q;

		for (q = from; q > lo; q -= bs)
			if (!pf_range(s, q - bs, bs))
				break;
		if (q < s->bwd_lo)
			s->bwd_lo = q;
		break;
	}
	case PP_PAT_STRIDED: {
		int64_t stride = s->last_delta;

		for (uint64_t k = 1; k <= depth; k++) {
			int64_t pos = (int64_t)off + (int64_t)k * stride;

			if (pos < 0 || (uint64_t)pos >= s->size)
				break;
			if (stride > 0 ? pos < s->str_next : (s->str_next && pos > s->str_next))
				continue;
			if (!pf_range(s, (uint64_t)pos, len))
				break;
			s->str_next = stride > 0 ? pos + 1 : pos - 1;
		}
		break;
	}
	default:
		break;
	}
}

int pp_stream_open(pp_pool *p, uint32_t fs, uint64_t ino, uint64_t file_size, pp_stream **out)
{
	struct pp_fs *f = fs_get(p, fs);
	struct pp_stream *s;
	uint64_t max;

	if (!f)
		return MM_ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return MM_ENOMEM;
	s->p = p;
	s->f = f;
	s->fs = fs;
	s->ino = ino;
	s->size = file_size;
	s->depth = 2;
	max = pool_bytes(p) / 100 * p->cfg.prefetch_pct / f->bsize;
	s->max_depth = max < 1 ? 1 : max > 1024 ? 1024 : (unsigned)max;
	if (s->depth > s->max_depth)
		s->depth = s->max_depth;
	s->bwd_lo = UINT64_MAX;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_mutex_lock(&p->st_mu);
	s->id = ++p->next_stream_id ? p->next_stream_id : ++p->next_stream_id;
	s->next = p->streams;
	p->streams = s;
	pthread_mutex_unlock(&p->st_mu);
	*out = s;
	return MM_OK;
}

void pp_stream_close(pp_stream *s)
{
	pp_pool *p;
	struct pp_stream **pp;

	if (!s)
		return;
	p = s->p;
	pthread_mutex_lock(&p->st_mu);
	for (pp = &p->streams; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	pthread_mutex_unlock(&p->st_mu);
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->idle);
	free(s);
}

void pp_stream_set_size(pp_stream *s, uint64_t file_size)
{
	pthread_mutex_lock(&s->mu);
	s->size = file_size;
	pthread_mutex_unlock(&s->mu);
}

int pp_stream_get(pp_stream *s, uint64_t blk, uint32_t off, uint32_t len, pp_buf **out,
		  void **data)
{
	struct pp_tag t = {s->fs, s->ino, blk};
	uint64_t pos = blk * s->f->bsize + off, now = mm_now_ns();
	enum pp_pattern pat;
	bool seq, waited;
	int rc;

	if (len == 0 || off >= s->f->bsize || len > s->f->bsize - off)
		return MM_EINVAL;	/* before it can move the stream */
	pthread_mutex_lock(&s->mu);
	if (s->last_ns) {
		uint64_t gap = now - s->last_ns;

		s->gap_ns = s->gap_ns ? (7 * s->gap_ns + gap) / 8 : gap;
	}
	s->last_ns = now;
	classify(s, pos, len);
	read_ahead(s, pos, len);
	pat = s->pat;
	seq = pat == PP_PAT_FORWARD || pat == PP_PAT_BACKWARD;
	pthread_mutex_unlock(&s->mu);

	rc = pp_get_buf(s->p, &t, off, len, PP_READ, !seq, out, data, &waited);
	if (rc == 0 && waited) {
		add(&s->p->reader_waits, 1);
		pthread_mutex_lock(&s->mu);
		s->waits++;
		/* the reader waited on a pattern: read further ahead */
		if (pat != PP_PAT_RANDOM && pat != PP_PAT_NONE)
			s->depth = s->depth * 2 < s->max_depth ? s->depth * 2 : s->max_depth;
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

void pp_stream_get_info(pp_stream *s, struct pp_stream_info *out)
{
	pthread_mutex_lock(&s->mu);
	*out = (struct pp_stream_info){
		.pattern = s->pat,
		.stride = s->pat == PP_PAT_STRIDED ? s->last_delta : 0,
		.depth = s->depth,
		.issued = s->issued,
		.used = s->used,
		.wasted = s->wasted,
		.waits = s->waits,
	};
	pthread_mutex_unlock(&s->mu);
}
