/*
 * pagepool/io.c - disk requests through the backend (struct pp_io_ops):
 * the latch a thread waits on for its requests (a write batch), the
 * requests for runs of subblocks, and asynchronous reads of missing
 * subblocks from the first replica that answers.
 *
 * Map of this file:
 *   1. latches: pp_latch_init/destroy/set/down/wait
 *   2. requests: pp_submit_io, pp_build_ios
 *   3. reads: read_rep_start, read_finish, read_rep_done, read_io_done,
 *      pp_read_start
 */
#include "pagepool/pagepool_int.h"

#include <inttypes.h>
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

/* ---- 3. reads ----
 *
 * A read (struct pp_read) fetches subblocks a buffer lacks: the requests
 * of one replica at a time, in map order, until one replica gave them all.
 * Whoever starts it has set b->reading under b->mu while holding the
 * content lock (README.md rule 11), and hands its pin to the read if it
 * does not wait. The last request's completion (read_rep_done, on a
 * backend thread, or inside submit for a backend that completes inline)
 * moves on to the next replica or ends the read (read_finish): the
 * subblocks become valid, <reading> drops, the buffer's waiters wake, and
 * then rd->fini runs if set (prefetch: unpin, tell the stream, free).
 */

static void read_io_done(struct pp_io *io, int rc);

/* Submit the requests of replica rd->r. Touches <rd> only before the last
 * submit: the read may end (and <rd> go) inside it. */
static void read_rep_start(struct pp_read *rd)
{
	pp_pool *p = rd->p;
	unsigned n;

	atomic_store_explicit(&rd->err, 0, memory_order_relaxed);
	n = pp_build_ios(rd->b, rd->mask, false, &rd->m, rd->r, rd->io, read_io_done, rd);
	rd->nio = n;
	atomic_store_explicit(&rd->left, n, memory_order_release);
	for (unsigned i = 0; i < n; i++)
		pp_submit_io(p, &rd->io[i]);
}

/* The read is over: mark, wake, then rd->fini. <rd> is not touched after
 * rd->done is set unless rd->fini owns it. */
static void read_finish(struct pp_read *rd, int rc)
{
	pp_pool *p = rd->p;
	struct pp_buf *b = rd->b;
	uint32_t mask = rd->mask;
	void (*fini)(struct pp_read *, int) = rd->fini;

	if (rc) {
		add(&p->read_errors, 1);
		mm_error(SUB, "read of fs %u inode %" PRIu64 " block %" PRIu64 " failed: %s",
			 b->tag.fs, b->tag.ino, b->tag.blk, mm_strerror(rc));
	}
	pthread_mutex_lock(&b->mu);
	/* the read was marked, and nothing it fills became valid or dirty
	 * meanwhile: exclusive holders wait for it (rule 11) */
	MM_BUG_ON(b, !b->reading || (b->valid & mask) || pins_of(b) <= 0);
	b->reading = false;
	if (!rc) {
		b->valid |= mask;
		atomic_store(&b->checked, false);	/* new bytes from the disk */
	}
	MM_ASSERT(buf_ok_locked(b));
	rd->rc = rc;
	rd->done = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (fini)
		fini(rd, rc);
}

/* All requests of replica rd->r completed. */
static void read_rep_done(struct pp_read *rd)
{
	pp_pool *p = rd->p;
	int rc = atomic_load_explicit(&rd->err, memory_order_acquire);

	for (unsigned i = 0; i < rd->nio; i++) {
		add(&p->reads, 1);
		add(&p->read_bytes, (int64_t)rd->io[i].len);
	}
	if (rc && ++rd->r < rd->m.nrep) {
		read_rep_start(rd);	/* the next replica */
		return;
	}
	read_finish(rd, rc);
}

static void read_io_done(struct pp_io *io, int rc)
{
	struct pp_read *rd = io->arg;

	if (rc) {
		int none = 0;

		atomic_compare_exchange_strong_explicit(&rd->err, &none, rc, memory_order_release,
							memory_order_relaxed);
	}
	if (atomic_fetch_sub_explicit(&rd->left, 1, memory_order_acq_rel) == 1)
		read_rep_done(rd);
}

/* For MM_ASSERT: the starter marked the read (rule 11). */
static bool read_marked(struct pp_buf *b, uint32_t mask)
{
	bool ok;

	pthread_mutex_lock(&b->mu);
	ok = b->reading && !(b->valid & mask) && mask;
	pthread_mutex_unlock(&b->mu);
	return ok;
}

void pp_read_start(struct pp_read *rd)
{
	struct pp_buf *b = rd->b;
	struct pp_fs *f = b->fs;
	int rc;

	MM_ASSERT(read_marked(b, rd->mask));
	rd->done = false;
	rd->rc = 0;
	memset(&rd->m, 0, sizeof(rd->m));
	rc = f->ops.map(f->arg, &b->tag, &rd->m);
	if (rc == MM_ENOENT) {
		/* a hole reads as zeros */
		for (unsigned s = 0; s < PP_SUBBLOCKS; s++)
			if (rd->mask & (1u << s))
				memset(b->data + (size_t)s * f->sub, 0, f->sub);
		read_finish(rd, MM_OK);
		return;
	}
	if (!rc && (rd->m.nrep < 1 || rd->m.nrep > PP_MAX_REPLICAS))
		rc = MM_EINVAL;
	if (rc) {
		read_finish(rd, rc);
		return;
	}
	rd->r = 0;
	read_rep_start(rd);
}
