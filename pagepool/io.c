/*
 * pagepool/io.c - disk requests through the backend (struct pp_io_ops):
 * the latch a thread waits on for its requests, the requests for runs of
 * subblocks, and reads of missing subblocks from the first replica that
 * answers.
 *
 * Map of this file:
 *   1. latches: pp_latch_init/destroy/set/down/wait
 *   2. requests: pp_submit_io, pp_build_ios
 *   3. reads: read_rep, pp_read_subblocks
 */
#include "pagepool/pagepool_int.h"

#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* Requests in flight for one waiting thread (a read, a write-behind
 * batch): set to their number before the first is submitted, counted
 * down by the completions, which keep the first error in a slot of the
 * caller's under the latch's lock. */
void pp_latch_init(struct latch *l)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->left = 0;
}

void pp_latch_destroy(struct latch *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

void pp_latch_set(struct latch *l, unsigned n)
{
	pthread_mutex_lock(&l->mu);
	l->left = n;
	pthread_mutex_unlock(&l->mu);
}

void pp_latch_down(struct latch *l, int *slot, int rc)
{
	pthread_mutex_lock(&l->mu);
	if (rc && !*slot)
		*slot = rc;
	if (--l->left == 0)
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void pp_latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->left > 0)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

/* Submit <io>; a refusal completes it at once with the error. */
void pp_submit_io(pp_pool *p, struct pp_io *io)
{
	int rc = p->cfg.io.submit(p->cfg.io_arg, io);

	if (rc)
		io->done(io, rc);
}

struct io_wait {
	struct latch l;
	int rc;
};

static void io_done(struct pp_io *io, int rc)
{
	struct io_wait *w = io->arg;

	pp_latch_down(&w->l, &w->rc, rc);
}

/* Requests for the subblocks of <mask> of <b> on replica <r> of <m>, one
 * per run of adjacent subblocks, into <ios> (room for PP_SUBBLOCKS / 2 + 1:
 * the most runs a mask has); their number. */
unsigned pp_build_ios(struct pp_buf *b, uint32_t mask, bool write, const struct pp_map *m,
		      int r, struct pp_io *ios, void (*done)(struct pp_io *, int), void *arg)
{
	struct pp_fs *f = b->fs;
	unsigned n = 0;

	for (unsigned s = 0; s < PP_SUBBLOCKS;) {
		unsigned e = s;

		if (!(mask & (1u << s))) {
			s++;
			continue;
		}
		while (e + 1 < PP_SUBBLOCKS && (mask & (1u << (e + 1))))
			e++;
		ios[n++] = (struct pp_io){
			.nsd_id = m->rep[r].nsd_id,
			.offset = m->rep[r].offset + (uint64_t)s * f->sub,
			.len = (size_t)(e - s + 1) * f->sub,
			.buf = b->data + (size_t)s * f->sub,
			.write = write,
			.done = done,
			.arg = arg,
		};
		s = e + 1;
	}
	return n;
}
/* Read the subblocks of <mask> of <b> from replica <r> of <m>; blocks
 * until all completed; the first error. */
static int read_rep(pp_pool *p, struct pp_buf *b, uint32_t mask, const struct pp_map *m, int r)
{
	struct pp_io ios[RUNS_MAX];
	struct io_wait w = {.rc = 0};
	unsigned n;

	pp_latch_init(&w.l);
	n = pp_build_ios(b, mask, false, m, r, ios, io_done, &w);
	pp_latch_set(&w.l, n);
	for (unsigned i = 0; i < n; i++)
		pp_submit_io(p, &ios[i]);
	pp_latch_wait(&w.l);
	pp_latch_destroy(&w.l);
	for (unsigned i = 0; i < n; i++) {
		add(&p->reads, 1);
		add(&p->read_bytes, (int64_t)ios[i].len);
	}
	return w.rc;
}

/* Read the subblocks of <mask> of <b> from the first replica that succeeds
 * (in map order); a hole reads as zeros. */
int pp_read_subblocks(pp_pool *p, struct pp_buf *b, uint32_t mask)
{
	struct pp_fs *f = b->fs;
	struct pp_map m = {0};
	int rc;

	rc = f->ops.map(f->arg, &b->tag, &m);
	if (rc == MM_ENOENT) {
		for (unsigned s = 0; s < PP_SUBBLOCKS; s++)
			if (mask & (1u << s))
				memset(b->data + (size_t)s * f->sub, 0, f->sub);
		return MM_OK;
	}
	if (rc)
		return rc;
	if (m.nrep < 1 || m.nrep > PP_MAX_REPLICAS)
		return MM_EINVAL;
	for (int r = 0; r < m.nrep; r++) {
		rc = read_rep(p, b, mask, &m, r);
		if (!rc)
			break;
	}
	return rc;
}
