/*
 * nsd/disk.c - local disk I/O: O_DIRECT, libaio, one completion thread.
 *
 * Map of this file:
 *   1. types: the disk, the group (one iocb carrying 1..NSD_MERGE_MAX requests)
 *   2. dispatch: queue -> merged groups -> io_submit (or the sync queue)
 *   3. completion: finish_group, reaping io_getevents, the sync backend,
 *      the completion thread
 *   4. open/close, buffers, public submit and blocking wrappers, stats
 *
 * Locking: d->submit_mu serializes dispatch (it is held across io_submit);
 * d->mu guards every field marked "mu" below. Order: submit_mu before mu.
 * No lock is held while a callback runs. The syscall table is nsd/sys.h.
 *
 * Group states: FREE -> RESERVED (built from the queue, in dispatch) ->
 * SUBMITTED (given to io_submit) or SYNC (sync backend queue) or FAILED
 * (io_submit refused it) -> FREE (finish_group, completion thread).
 */
#include "nsd/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "nsd/sys.h"

#define NSD_MERGE_MAX 64		/* requests per merged iocb */
#define NSD_REAP_TIMEOUT_MS 100
#define NSD_EAGAIN_RETRIES 1000		/* 1 ms apart */

/* ---- 1. types ---- */

enum grp_state { G_FREE, G_RESERVED, G_SUBMITTED, G_SYNC, G_FAILED };

struct nsd_grp {
	struct iocb iocb;		/* iocb.data points back here */
	struct iovec iov[NSD_MERGE_MAX];
	struct nsd_req *reqs;		/* chain through req->next */
	unsigned nreq;
	uint64_t offset;
	size_t len;
	enum nsd_op op;
	enum grp_state state;		/* mu */
	bool broken;			/* mu: io_getevents failed while submitted */
	int fail_rc;			/* mu: for G_FAILED: MM_EIO, or MM_ENOLEASE (gate) */
	struct nsd_grp *next;		/* mu: free list, failed list, sync queue */
};

struct nsd_disk {
	char *path;
	int fd;
	uint32_t sector;
	uint64_t size;
	bool direct, aio, readonly;
	unsigned qd;
	uint64_t (*gate)(void *arg);
	void *gate_arg;
	io_context_t ctx;
	pthread_t thr;
	struct io_event *events;	/* completion thread only */
	struct iocb **cbs;		/* submit_mu */
	struct nsd_grp **gs;		/* submit_mu */

	pthread_mutex_t submit_mu;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* completion thread waits for work */
	struct nsd_grp *grps;		/* qd groups */
	struct nsd_grp *free;		/* mu */
	struct nsd_req *qhead, *qtail;	/* mu: requests waiting for a slot */
	unsigned nqueued;		/* mu */
	unsigned inflight;		/* mu: groups not FREE */
	unsigned nsubmitted;		/* mu: groups SUBMITTED */
	struct nsd_grp *failed;		/* mu */
	struct nsd_grp *sq_head, *sq_tail; /* mu: sync backend queue */
	bool closing;			/* mu */
	struct nsd_disk_stats st;	/* mu */
};

/* ---- 2. dispatch ---- */

/* Pop the queue head and the contiguous same-direction requests after it. */
static void build_group(nsd_disk *d, struct nsd_grp *g)
{
	struct nsd_req *r = d->qhead, *tail;

	d->qhead = r->next;
	g->reqs = tail = r;
	g->nreq = 1;
	g->offset = r->offset;
	g->len = r->len;
	g->op = r->op;
	g->broken = false;
	g->iov[0].iov_base = r->buf;
	g->iov[0].iov_len = r->len;
	while ((r = d->qhead) != NULL && g->nreq < NSD_MERGE_MAX && r->op == g->op &&
	       r->offset == g->offset + g->len && g->len + r->len <= NSD_DISK_MAX_IO) {
		d->qhead = r->next;
		tail->next = r;
		tail = r;
		g->iov[g->nreq].iov_base = r->buf;
		g->iov[g->nreq].iov_len = r->len;
		g->nreq++;
		g->len += r->len;
		d->st.merged++;
	}
	tail->next = NULL;
	if (!d->qhead)
		d->qtail = NULL;
	d->nqueued -= g->nreq;
	d->st.iocbs++;
	g->state = G_RESERVED;

	if (g->nreq == 1) {
		if (g->op == NSD_READ)
			io_prep_pread(&g->iocb, d->fd, g->iov[0].iov_base, g->len, (long long)g->offset);
		else
			io_prep_pwrite(&g->iocb, d->fd, g->iov[0].iov_base, g->len, (long long)g->offset);
	} else {
		if (g->op == NSD_READ)
			io_prep_preadv(&g->iocb, d->fd, g->iov, (int)g->nreq, (long long)g->offset);
		else
			io_prep_pwritev(&g->iocb, d->fd, g->iov, (int)g->nreq, (long long)g->offset);
	}
	g->iocb.data = g;
}

/* With mu held: <g> was refused (io_submit or the gate); hand it to the
 * completion thread, to complete with <rc>. */
static void fail_group_locked(nsd_disk *d, struct nsd_grp *g, int rc)
{
	if (g->state == G_SUBMITTED)
		d->nsubmitted--;
	g->fail_rc = rc;
	g->state = G_FAILED;
	g->next = d->failed;
	d->failed = g;
}

/* True if <g> holds a gated write whose epoch is not the gate's now. */
static bool gated_out(nsd_disk *d, const struct nsd_grp *g)
{
	uint64_t now_epoch;

	if (!d->gate || g->op != NSD_WRITE)
		return false;
	now_epoch = d->gate(d->gate_arg);
	for (const struct nsd_req *r = g->reqs; r; r = r->next)
		if (r->epoch && r->epoch != now_epoch)
			return true;
	return false;
}

/*
 * Move queued requests into free slots and submit them. Takes submit_mu
 * then mu; call with neither held. Never calls a callback.
 */
static void dispatch(nsd_disk *d)
{
	pthread_mutex_lock(&d->submit_mu);
	for (;;) {
		unsigned n = 0, done = 0, tries = 0;

		pthread_mutex_lock(&d->mu);
		while (d->free && d->qhead) {
			struct nsd_grp *g = d->free;

			d->free = g->next;
			d->inflight++;
			build_group(d, g);
			if (d->aio) {
				g->state = G_SUBMITTED;
				d->nsubmitted++;
			} else {
				g->state = G_SYNC;
				g->next = NULL;
				if (d->sq_tail)
					d->sq_tail->next = g;
				else
					d->sq_head = g;
				d->sq_tail = g;
			}
			d->gs[n] = g;
			d->cbs[n] = &g->iocb;
			n++;
		}
		if (n)
			pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
		if (n == 0 || !d->aio)
			break;

		/* the gate, as late as can be: just before the system call */
		if (d->gate) {
			unsigned kept = 0;

			for (unsigned i = 0; i < n; i++) {
				if (gated_out(d, d->gs[i])) {
					pthread_mutex_lock(&d->mu);
					fail_group_locked(d, d->gs[i], MM_ENOLEASE);
					pthread_cond_signal(&d->cv);
					pthread_mutex_unlock(&d->mu);
					mm_warn("nsd", "%s: write at offset %llu not issued: it belongs to a lease "
						"this node no longer holds", d->path,
						(unsigned long long)d->gs[i]->offset);
					continue;
				}
				d->gs[kept] = d->gs[i];
				d->cbs[kept] = d->cbs[i];
				kept++;
			}
			n = kept;
		}
		while (done < n) {
			int rc = nsd_sys.io_submit(d->ctx, (long)(n - done), d->cbs + done);

			if (rc > 0) {
				done += (unsigned)rc;
				continue;
			}
			if (rc == -EINTR)
				continue;
			if ((rc == -EAGAIN || rc == 0) && tries++ < NSD_EAGAIN_RETRIES) {
				mm_sleep_ms(1);
				continue;
			}
			mm_error("nsd", "%s: io_submit of %u iocbs (first at offset %llu, length %zu) failed: %s",
				 d->path, n - done, (unsigned long long)d->gs[done]->offset,
				 d->gs[done]->len, strerror(rc ? -rc : EAGAIN));
			pthread_mutex_lock(&d->mu);
			for (unsigned i = done; i < n; i++)
				fail_group_locked(d, d->gs[i], MM_EIO);
			pthread_cond_signal(&d->cv);
			pthread_mutex_unlock(&d->mu);
			break;
		}
	}
	pthread_mutex_unlock(&d->submit_mu);
}

/* ---- 3. completion ---- */

/* Complete every request of <g> with <rc>, free <g>, refill, call back. No lock held. */
static void finish_group(nsd_disk *d, struct nsd_grp *g, int rc)
{
	uint64_t now = mm_now_ns();
	struct nsd_req *r, *next;
	bool more;

	pthread_mutex_lock(&d->mu);
	for (r = g->reqs; r; r = r->next) {
		uint64_t lat = now - r->t_submit_ns;

		d->st.lat_total_ns += lat;
		if (lat > d->st.lat_max_ns)
			d->st.lat_max_ns = lat;
		if (r->op == NSD_READ) {
			d->st.reads++;
			if (rc == 0)
				d->st.bytes_read += r->len;
		} else {
			d->st.writes++;
			if (rc == 0)
				d->st.bytes_written += r->len;
		}
		if (rc)
			d->st.errors++;
	}
	r = g->reqs;
	g->reqs = NULL;
	if (g->state == G_SUBMITTED)
		d->nsubmitted--;
	g->state = G_FREE;
	g->next = d->free;
	d->free = g;
	d->inflight--;
	more = d->qhead != NULL;
	pthread_mutex_unlock(&d->mu);

	if (more)
		dispatch(d);
	for (; r; r = next) {
		next = r->next;
		r->done(r, rc, r->arg);
	}
}

/* Reap events; completion thread only, no lock held. */
static void reap(nsd_disk *d)
{
	struct timespec ts = {0, NSD_REAP_TIMEOUT_MS * 1000000L};
	bool need_sync = false;
	int n, sync_err = 0;

	n = nsd_sys.io_getevents(d->ctx, 1, (long)d->qd, d->events, &ts);
	if (n == 0 || n == -EINTR || n == -EAGAIN)
		return;
	if (n < 0) {
		unsigned marked = 0;

		pthread_mutex_lock(&d->mu);
		for (unsigned i = 0; i < d->qd; i++)
			if (d->grps[i].state == G_SUBMITTED && !d->grps[i].broken) {
				d->grps[i].broken = true;
				marked++;
			}
		pthread_mutex_unlock(&d->mu);
		if (marked)
			mm_error("nsd", "%s: io_getevents failed: %s; %u iocbs in flight will complete with an error",
				 d->path, strerror(-n), marked);
		mm_sleep_ms(10);
		return;
	}
	/* mu orders dispatch's writes to the groups before our reads */
	pthread_mutex_lock(&d->mu);
	pthread_mutex_unlock(&d->mu);
	for (int i = 0; i < n; i++) {
		struct nsd_grp *g = d->events[i].data;
		long res = (long)d->events[i].res;

		if (g->op == NSD_WRITE && !d->direct && res == (long)g->len)
			need_sync = true;
	}
	if (need_sync && nsd_sys.fdatasync(d->fd) != 0)
		sync_err = errno ? errno : EIO;
	for (int i = 0; i < n; i++) {
		struct nsd_grp *g = d->events[i].data;
		long res = (long)d->events[i].res;
		bool broken;
		int rc = MM_EIO;

		pthread_mutex_lock(&d->mu);
		broken = g->broken;
		pthread_mutex_unlock(&d->mu);
		if (broken)
			mm_error("nsd", "%s: %s offset %llu length %zu: outcome unknown after io_getevents error",
				 d->path, g->op == NSD_READ ? "read" : "write",
				 (unsigned long long)g->offset, g->len);
		else if (res < 0)
			mm_error("nsd", "%s: %s offset %llu length %zu failed: %s", d->path,
				 g->op == NSD_READ ? "read" : "write", (unsigned long long)g->offset,
				 g->len, strerror((int)-res));
		else if (res != (long)g->len)
			mm_error("nsd", "%s: short %s offset %llu length %zu: %ld bytes", d->path,
				 g->op == NSD_READ ? "read" : "write", (unsigned long long)g->offset,
				 g->len, res);
		else if (g->op == NSD_WRITE && !d->direct && sync_err)
			mm_error("nsd", "%s: write offset %llu length %zu: fdatasync failed: %s",
				 d->path, (unsigned long long)g->offset, g->len, strerror(sync_err));
		else
			rc = 0;
		finish_group(d, g, rc);
	}
}

/* Sync backend: run <g> with pread/pwrite. Returns 0, MM_EIO (logged) or
 * MM_ENOLEASE (the gate refused it). */
static int run_sync(nsd_disk *d, struct nsd_grp *g)
{
	uint64_t off = g->offset;

	if (gated_out(d, g)) {
		mm_warn("nsd", "%s: write at offset %llu not issued: it belongs to a lease this node "
			"no longer holds", d->path, (unsigned long long)g->offset);
		return MM_ENOLEASE;
	}

	for (unsigned i = 0; i < g->nreq; i++) {
		char *p = g->iov[i].iov_base;
		size_t left = g->iov[i].iov_len;

		while (left > 0) {
			ssize_t k = g->op == NSD_READ ? nsd_sys.pread(d->fd, p, left, (off_t)off)
						      : nsd_sys.pwrite(d->fd, p, left, (off_t)off);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				mm_error("nsd", "%s: %s offset %llu length %zu failed at %llu: %s",
					 d->path, g->op == NSD_READ ? "pread" : "pwrite",
					 (unsigned long long)g->offset, g->len,
					 (unsigned long long)off, k < 0 ? strerror(errno) : "short transfer");
				return MM_EIO;
			}
			/* O_DIRECT may not continue mid-sector; a short direct transfer is an error */
			if (d->direct && (size_t)k != left && (k % d->sector) != 0) {
				mm_error("nsd", "%s: short direct %s offset %llu length %zu",
					 d->path, g->op == NSD_READ ? "read" : "write",
					 (unsigned long long)off, left);
				return MM_EIO;
			}
			p += k;
			left -= (size_t)k;
			off += (uint64_t)k;
		}
	}
	if (g->op == NSD_WRITE && !d->direct && nsd_sys.fdatasync(d->fd) != 0) {
		mm_error("nsd", "%s: write offset %llu length %zu: fdatasync failed: %s", d->path,
			 (unsigned long long)g->offset, g->len, strerror(errno));
		return MM_EIO;
	}
	return 0;
}

static void *completion_main(void *arg)
{
	nsd_disk *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct nsd_grp *g;

		if ((g = d->failed) != NULL) {
			d->failed = g->next;
			pthread_mutex_unlock(&d->mu);
			finish_group(d, g, g->fail_rc ? g->fail_rc : MM_EIO);
		} else if ((g = d->sq_head) != NULL) {
			d->sq_head = g->next;
			if (!d->sq_head)
				d->sq_tail = NULL;
			pthread_mutex_unlock(&d->mu);
			finish_group(d, g, run_sync(d, g));
		} else if (d->nsubmitted) {
			pthread_mutex_unlock(&d->mu);
			reap(d);
		} else if (d->closing && d->inflight == 0 && d->nqueued == 0) {
			break;
		} else {
			pthread_cond_wait(&d->cv, &d->mu);
			continue;
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- 4. open/close and the public calls ---- */

/* Size and sector size of the open fd. */
static int probe_geometry(nsd_disk *d)
{
	struct stat st;

	if (nsd_sys.fstat(d->fd, &st) != 0)
		return mm_err_from_errno(errno);
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes = 0;
		int ssz = 0;

		if (nsd_sys.ioctl(d->fd, BLKGETSIZE64, &bytes) != 0 ||
		    nsd_sys.ioctl(d->fd, BLKSSZGET, &ssz) != 0) {
			mm_error("nsd", "%s: block device ioctl failed: %s", d->path, strerror(errno));
			return MM_EIO;
		}
		if (ssz < 512 || (ssz & (ssz - 1)))
			return MM_EINVAL;
		d->sector = (uint32_t)ssz;
		d->size = bytes;
	} else if (S_ISREG(st.st_mode)) {
		d->sector = 512;
		d->size = (uint64_t)st.st_size;
		if (d->direct && d->size >= 512) {
			void *buf = NULL;
			ssize_t k;

			if (nsd_sys.posix_memalign(&buf, 4096, 4096) != 0)
				return MM_ENOMEM;
			k = nsd_sys.pread(d->fd, buf, 512, 0);
			if (k < 0 && errno == EINVAL)
				d->sector = 4096;
			free(buf);
		}
	} else {
		mm_error("nsd", "%s: not a regular file or block device", d->path);
		return MM_EINVAL;
	}
	d->size -= d->size % d->sector;
	if (d->size < d->sector) {
		mm_error("nsd", "%s: smaller than one sector (%u bytes)", d->path, d->sector);
		return MM_EINVAL;
	}
	return 0;
}

int nsd_disk_open(const char *path, const struct nsd_disk_opts *opts, nsd_disk **out)
{
	struct nsd_disk_opts o = {0};
	nsd_disk *d;
	int flags, rc;
	bool mu_init = false;

	*out = NULL;
	if (opts)
		o = *opts;
	if (!path || o.queue_depth > NSD_DISK_MAX_QD)
		return MM_EINVAL;
	if (o.queue_depth == 0)
		o.queue_depth = NSD_DISK_DEFAULT_QD;
	d = calloc(1, sizeof(*d));
	if (!d)
		return MM_ENOMEM;
	d->fd = -1;
	d->qd = o.queue_depth;
	d->readonly = o.readonly;
	d->gate = o.gate;
	d->gate_arg = o.gate_arg;
	d->direct = !o.no_direct;
	d->path = strdup(path);
	d->grps = calloc(d->qd, sizeof(*d->grps));
	d->events = calloc(d->qd, sizeof(*d->events));
	d->cbs = calloc(d->qd, sizeof(*d->cbs));
	d->gs = calloc(d->qd, sizeof(*d->gs));
	if (!d->path || !d->grps || !d->events || !d->cbs || !d->gs) {
		rc = MM_ENOMEM;
		goto err;
	}

	flags = (o.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	d->fd = nsd_sys.open(path, flags | (d->direct ? O_DIRECT : 0), 0);
	if (d->fd < 0 && d->direct && errno == EINVAL) {
		d->direct = false;
		d->fd = nsd_sys.open(path, flags, 0);
		if (d->fd >= 0)
			mm_warn("nsd", "%s: O_DIRECT not supported here; using buffered I/O with fdatasync before each write completes",
				path);
	}
	if (d->fd < 0) {
		rc = errno == EISDIR ? MM_EINVAL : mm_err_from_errno(errno);
		mm_error("nsd", "%s: open failed: %s", path, strerror(errno));
		goto err;
	}
	rc = probe_geometry(d);
	if (rc)
		goto err;

	d->aio = !o.sync_backend;
	if (d->aio) {
		rc = nsd_sys.io_setup((int)d->qd, &d->ctx);
		if (rc == -EAGAIN || rc == -ENOSYS) {
			mm_warn("nsd", "%s: io_setup(%u) failed: %s; using synchronous I/O", path,
				d->qd, strerror(-rc));
			d->aio = false;
		} else if (rc < 0) {
			mm_error("nsd", "%s: io_setup(%u) failed: %s", path, d->qd, strerror(-rc));
			rc = mm_err_from_errno(-rc);
			goto err;
		}
	}
	for (unsigned i = 0; i < d->qd; i++) {
		d->grps[i].state = G_FREE;
		d->grps[i].next = d->free;
		d->free = &d->grps[i];
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_mutex_init(&d->submit_mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	mu_init = true;
	rc = mm_thread_start(&d->thr, "nsd-io", completion_main, d);
	if (rc)
		goto err;
	*out = d;
	return 0;

err:
	if (d->aio && d->ctx)
		nsd_sys.io_destroy(d->ctx);
	if (mu_init) {
		pthread_mutex_destroy(&d->mu);
		pthread_mutex_destroy(&d->submit_mu);
		pthread_cond_destroy(&d->cv);
	}
	if (d->fd >= 0)
		nsd_sys.close(d->fd);
	free(d->gs);
	free(d->cbs);
	free(d->events);
	free(d->grps);
	free(d->path);
	free(d);
	return rc < 0 ? rc : MM_ESYS;
}

int nsd_disk_close(nsd_disk *d)
{
	int rc = 0;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->mu);
	d->closing = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thr, NULL);
	if (d->aio)
		nsd_sys.io_destroy(d->ctx);
	if (nsd_sys.close(d->fd) != 0) {
		mm_error("nsd", "%s: close failed: %s", d->path, strerror(errno));
		rc = MM_EIO;
	}
	pthread_mutex_destroy(&d->mu);
	pthread_mutex_destroy(&d->submit_mu);
	pthread_cond_destroy(&d->cv);
	free(d->gs);
	free(d->cbs);
	free(d->events);
	free(d->grps);
	free(d->path);
	free(d);
	return rc;
}

const char *nsd_disk_path(const nsd_disk *d) { return d->path; }
uint32_t nsd_disk_sector_size(const nsd_disk *d) { return d->sector; }
uint64_t nsd_disk_size(const nsd_disk *d) { return d->size; }
bool nsd_disk_direct(const nsd_disk *d) { return d->direct; }

int nsd_disk_buf_alloc(nsd_disk *d, size_t len, void **out)
{
	size_t align = MM_MAX((size_t)d->sector, (size_t)4096);
	void *p = NULL;

	*out = NULL;
	if (len == 0 || len > SIZE_MAX - align)
		return MM_EINVAL;
	len = (len + d->sector - 1) / d->sector * d->sector;
	if (nsd_sys.posix_memalign(&p, align, len) != 0)
		return MM_ENOMEM;
	*out = p;
	return 0;
}

void nsd_disk_buf_free(void *buf)
{
	free(buf);
}

int nsd_disk_check(const nsd_disk *d, const struct nsd_req *r)
{
	uint32_t s = d->sector;

	if (!r || !r->buf || !r->done || (r->op != NSD_READ && r->op != NSD_WRITE))
		return MM_EINVAL;
	if (r->len == 0 || r->len > NSD_DISK_MAX_IO || r->len % s || r->offset % s ||
	    (uintptr_t)r->buf % s)
		return MM_EINVAL;
	if (r->offset > d->size || r->len > d->size - r->offset)
		return MM_EINVAL;
	if (r->op == NSD_WRITE && d->readonly)
		return MM_EPERM;
	return 0;
}

int nsd_disk_submit_batch(nsd_disk *d, struct nsd_req **reqs, size_t n)
{
	uint64_t now = mm_now_ns();
	int rc;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((rc = nsd_disk_check(d, reqs[i])) != 0)
			return rc;
	pthread_mutex_lock(&d->mu);
	if (d->closing) {
		pthread_mutex_unlock(&d->mu);
		return MM_ESHUTDOWN;
	}
	for (size_t i = 0; i < n; i++) {
		struct nsd_req *r = reqs[i];

		r->next = NULL;
		r->t_submit_ns = now;
		if (d->qtail)
			d->qtail->next = r;
		else
			d->qhead = r;
		d->qtail = r;
	}
	d->nqueued += (unsigned)n;
	pthread_mutex_unlock(&d->mu);
	dispatch(d);
	return 0;
}

int nsd_disk_submit(nsd_disk *d, struct nsd_req *r)
{
	return nsd_disk_submit_batch(d, &r, 1);
}

/* ---- blocking wrappers ---- */

struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rc;
};

static void sync_done(struct nsd_req *req, int rc, void *arg)
{
	struct sync_wait *w = arg;

	(void)req;
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int rw_wait(nsd_disk *d, enum nsd_op op, uint64_t off, void *buf, size_t len)
{
	struct sync_wait w = {.done = false, .rc = 0};
	struct nsd_req r = {.offset = off, .len = len, .buf = buf, .op = op,
			    .done = sync_done, .arg = &w};
	int rc;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	rc = nsd_disk_submit(d, &r);
	if (rc == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		rc = w.rc;
		pthread_mutex_unlock(&w.mu);
	}
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

int nsd_disk_read(nsd_disk *d, uint64_t offset, void *buf, size_t len)
{
	return rw_wait(d, NSD_READ, offset, buf, len);
}

int nsd_disk_write(nsd_disk *d, uint64_t offset, const void *buf, size_t len)
{
	return rw_wait(d, NSD_WRITE, offset, (void *)buf, len);
}

int nsd_disk_flush(nsd_disk *d)
{
	if (nsd_sys.fdatasync(d->fd) != 0) {
		mm_error("nsd", "%s: fdatasync failed: %s", d->path, strerror(errno));
		return MM_EIO;
	}
	return 0;
}

void nsd_disk_stats(nsd_disk *d, struct nsd_disk_stats *st)
{
	pthread_mutex_lock(&d->mu);
	*st = d->st;
	st->queue_depth = d->qd;
	st->in_flight = d->inflight;
	st->queued = d->nqueued;
	st->sector_size = d->sector;
	st->size = d->size;
	st->direct = d->direct;
	st->aio = d->aio;
	pthread_mutex_unlock(&d->mu);
}
