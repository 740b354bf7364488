/* nsd/client.c - see client.h. */
#include "nsd/client.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bug.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"
#include "common/thread.h"
#include "common/util.h"
#include "nsd/proto.h"

#define SUB "nsd"
#define NDOWN 64

struct nsd_client {
	struct nsd_client_config cfg;
	atomic_int policy;		/* enum nsd_path_policy */
	atomic_bool checksum;
	pthread_mutex_t lock;		/* guards what follows */
	pthread_cond_t cond;
	struct nsd_io *retryq;		/* sorted by due_ns */
	atomic_bool stopping;		/* written under lock, read anywhere */
	uint64_t inflight;
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t down_lock;
	struct {
		uint32_t node;
		uint64_t until_ns;
	} down[NDOWN];
};

static void attempt(struct nsd_io *io);

static uint64_t epoch_of(nsd_client *c)
{
	return c->cfg.may_io ? c->cfg.may_io(c->cfg.may_io_arg) : 1;
}

int nsd_path_policy_parse(const char *s, enum nsd_path_policy *p)
{
	if (!strcasecmp(s, "asneeded") || !strcasecmp(s, "asfound"))
		*p = NSD_PATH_ASNEEDED;
	else if (!strcasecmp(s, "always"))
		*p = NSD_PATH_ALWAYS;
	else if (!strcasecmp(s, "never"))
		*p = NSD_PATH_NEVER;
	else
		return MM_EINVAL;
	return MM_OK;
}

void *nsd_io_buf_alloc(size_t len)
{
	void *p = NULL;

	if (len == 0 || posix_memalign(&p, NSD_IO_ALIGN, (len + NSD_IO_ALIGN - 1) /
				       NSD_IO_ALIGN * NSD_IO_ALIGN) != 0)
		return NULL;
	return p;
}

/* ---- server health ---------------------------------------------------- */

static bool is_down(nsd_client *c, uint32_t node, uint64_t now)
{
	bool down = false;

	pthread_mutex_lock(&c->down_lock);
	for (int i = 0; i < NDOWN; i++)
		if (c->down[i].node == node && c->down[i].until_ns > now)
			down = true;
	pthread_mutex_unlock(&c->down_lock);
	return down;
}

static void set_down(nsd_client *c, uint32_t node, bool down)
{
	uint64_t now = mm_now_ns();
	int slot = -1;

	pthread_mutex_lock(&c->down_lock);
	for (int i = 0; i < NDOWN; i++) {
		if (c->down[i].node == node) {
			slot = i;
			break;
		}
		if (slot < 0 && c->down[i].until_ns <= now)
			slot = i;
	}
	if (slot >= 0) {
		c->down[slot].node = node;
		c->down[slot].until_ns = down ? now + (uint64_t)c->cfg.down_ms * 1000000u : 0;
	}
	pthread_mutex_unlock(&c->down_lock);
}

/* ---- completion ----------------------------------------------------- */

static void add_cause(struct nsd_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_cause(struct nsd_io *io, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (io->cause_len >= sizeof(io->cause) - 1)
		return;
	if (io->cause_len) {
		n = snprintf(io->cause + io->cause_len, sizeof(io->cause) - io->cause_len, "; ");
		io->cause_len += (size_t)n;
		if (io->cause_len >= sizeof(io->cause) - 1) {
			io->cause_len = sizeof(io->cause) - 1;
			return;
		}
	}
	va_start(ap, fmt);
	n = vsnprintf(io->cause + io->cause_len, sizeof(io->cause) - io->cause_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		io->cause_len += (size_t)n;
	if (io->cause_len >= sizeof(io->cause))
		io->cause_len = sizeof(io->cause) - 1;
}

static void describe(struct nsd_io *io, const char *what)
{
	char name[NSD_NAME_MAX + 1];

	if (io->e)
		nsd_entry_name(io->e, name, sizeof(name));
	else
		nsd_id_format(io->nsd_id, name, sizeof(name));	/* refused before the lookup */
	snprintf(io->err, sizeof(io->err), "NSD %s: %s of sectors %" PRIu64 "-%" PRIu64
		 " (%zu bytes at offset %" PRIu64 ") failed: %s", name,
		 io->op == NSD_WRITE ? "write" : "read", io->offset / 512,
		 (io->offset + io->len) / 512 - 1, io->len, io->offset, what);
}

static const char *const stage_names[] = {"idle", "in flight", "queued for retry", "done"};

/* MM_BUG_ON's dump (common/bug.h). */
void nsd_io_dump(const void *obj, char *buf, size_t sz)
{
	const struct nsd_io *io = obj;

	snprintf(buf, sz, "nsd_io %p: stage %u (%s), nsd %016" PRIx64 ", %s of %zu bytes at %" PRIu64
		 ", servers %d tried %#x local_tried %d cur %d, last_rc %d, timeouts %d, epoch %" PRIx64
		 ", cause \"%.*s\"", obj, io->stage, io->stage < 4 ? stage_names[io->stage] : "?",
		 io->nsd_id, io->op == NSD_READ ? "read" : "write", io->len, io->offset, io->nservers,
		 io->tried, io->local_tried, io->cur, io->last_rc, io->timeouts, io->epoch,
		 (int)MM_MIN(io->cause_len, (size_t)200), io->cause);
}

static void finish(struct nsd_io *io, int rc)
{
	nsd_client *c = io->c;
	struct nsd_entry_counts *st = nsd_entry_counters(io->e);
	uint64_t us = (mm_now_ns() - io->t_start_ns) / 1000, max;

	MM_BUG_ON(io, io->stage != NSD_IO_IN_FLIGHT);	/* completes exactly once */
	io->stage = NSD_IO_DONE;

	if (rc) {
		if (!io->cause_len)
			add_cause(io, "%s", mm_strerror(rc));
		describe(io, io->cause);
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		mm_error(SUB, "%s", io->err);
	} else if (io->op == NSD_READ) {
		atomic_fetch_add_explicit(&st->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&st->bytes_read, io->len, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&st->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&st->bytes_written, io->len, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&st->lat_total_us, us, memory_order_relaxed);
	max = atomic_load_explicit(&st->lat_max_us, memory_order_relaxed);
	while (us > max && !atomic_compare_exchange_weak_explicit(&st->lat_max_us, &max, us,
								  memory_order_relaxed, memory_order_relaxed))
		;
	atomic_fetch_sub_explicit(&st->in_flight, 1, memory_order_relaxed);
	nsd_ldisk_put(io->ld);
	io->ld = NULL;
	nsd_entry_put(io->e);
	io->e = NULL;
	io->done(io, rc);	/* may free io */
	pthread_mutex_lock(&c->lock);
	/* only nsd_client_destroy (and the retry thread it stops) waits for
	 * the last one: a wake-up of the retry thread on every completion
	 * that emptied the client was a context switch per I/O */
	if (--c->inflight == 0 && atomic_load_explicit(&c->stopping, memory_order_relaxed))
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* ---- retries -------------------------------------------------------- */

static void schedule(struct nsd_io *io, unsigned delay_ms)
{
	nsd_client *c = io->c;
	struct nsd_io **pp;

	atomic_fetch_add_explicit(&nsd_entry_counters(io->e)->retries, 1, memory_order_relaxed);
	io->due_ns = mm_now_ns() + (uint64_t)delay_ms * 1000000u;
	MM_BUG_ON(io, io->stage != NSD_IO_IN_FLIGHT);
	io->stage = NSD_IO_QUEUED;
	pthread_mutex_lock(&c->lock);
	for (pp = &c->retryq; *pp && (*pp)->due_ns <= io->due_ns; pp = &(*pp)->next)
		;
	io->next = *pp;
	*pp = io;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void try_server(struct nsd_io *io, int idx);

static void *retry_main(void *arg)
{
	nsd_client *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct nsd_io *io = c->retryq;
		uint64_t now = mm_now_ns();

		if (io && (atomic_load_explicit(&c->stopping, memory_order_relaxed) ||
			   io->due_ns <= now)) {
			c->retryq = io->next;
			MM_BUG_ON(io, io->stage != NSD_IO_QUEUED);
			io->stage = NSD_IO_IN_FLIGHT;
			pthread_mutex_unlock(&c->lock);
			if (atomic_load_explicit(&c->stopping, memory_order_relaxed)) {
				add_cause(io, "the NSD client is shutting down");
				finish(io, MM_ESHUTDOWN);
			} else if (io->go_next) {
				io->go_next = false;
				attempt(io);
			} else {
				try_server(io, io->cur);
			}
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (atomic_load_explicit(&c->stopping, memory_order_relaxed) && c->inflight == 0)
			break;
		if (io) {
			mm_cond_wait_until(&c->cond, &c->lock, io->due_ns);
		} else {
			pthread_cond_wait(&c->cond, &c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- served path ---------------------------------------------------- */

static bool conn_error(int rc)
{
	return rc == MM_ECLOSED || rc == MM_EUNREACH || rc == MM_ETIMEDOUT ||
	       rc == MM_ESHUTDOWN || rc == MM_EAUTH;
}

static void server_failed(struct nsd_io *io, int rc, const char *msg, size_t len)
{
	uint32_t node = io->servers[io->cur];

	if (len)
		add_cause(io, "node %u: %.*s", node, (int)(len > 400 ? 400 : len), msg);
	else
		add_cause(io, "node %u: %s", node, mm_strerror(rc));
	io->last_rc = rc;
	/* a connection this node dropped itself on losing its lease says
	 * nothing about the server */
	if ((conn_error(rc) || rc == MM_ENOLEASE) && epoch_of(io->c) == io->epoch)
		set_down(io->c, node, true);
	atomic_fetch_add_explicit(&nsd_entry_counters(io->e)->failovers, 1, memory_order_relaxed);
	mm_warn(SUB, "NSD id %016" PRIX64 ": %s at offset %" PRIu64 " via node %u failed (%s): "
		"trying the next path", io->nsd_id, io->op == NSD_WRITE ? "write" : "read",
		io->offset, node, mm_strerror(rc));
	attempt(io);
}

/* A write got no answer: see "Silent servers" in client.h. */
static void silent_server(struct nsd_io *io)
{
	nsd_client *c = io->c;
	uint32_t node = io->servers[io->cur];

	if (c->cfg.is_member && c->cfg.is_member(node, c->cfg.is_member_arg)) {
		if (++io->timeouts <= 3) {
			mm_warn(SUB, "NSD id %016" PRIX64 ": node %u did not answer a write at offset %"
				PRIu64 " but is an active member: asking it again", io->nsd_id, node,
				io->offset);
			try_server(io, io->cur);
			return;
		}
		add_cause(io, "node %u did not answer a write %d times and is still an active cluster "
			  "member: the write is not sent elsewhere, where the pending one could overtake "
			  "it", node, io->timeouts);
		io->last_rc = MM_ETIMEDOUT;
		finish(io, MM_ETIMEDOUT);
		return;
	}
	add_cause(io, "node %u: no answer, and it has been expelled", node);
	io->last_rc = MM_ETIMEDOUT;
	set_down(c, node, true);
	atomic_fetch_add_explicit(&nsd_entry_counters(io->e)->failovers, 1, memory_order_relaxed);
	mm_warn(SUB, "NSD id %016" PRIX64 ": write at offset %" PRIu64 " sent to expelled node %u: "
		"waiting %d ms (leaseRecoveryWait) before the next server", io->nsd_id, io->offset, node,
		c->cfg.recovery_wait_ms);
	io->go_next = true;
	io->timeouts = 0;
	schedule(io, (unsigned)c->cfg.recovery_wait_ms);
}

/* On a net I/O or timer thread. */
static void reply_cb(int status, const void *data, size_t len, void *arg)
{
	struct nsd_io *io = arg;
	nsd_client *c = io->c;
	uint64_t now = mm_now_ns();

	if (status == MM_OK && io->op == NSD_READ) {
		struct nsd_proto_rep rep;
		char err[256];
		int rc = nsd_proto_rep_decode(data, len, io->len, &rep, err, sizeof(err));

		if (rc) {
			server_failed(io, rc, err, strlen(err));
			return;
		}
		memcpy(io->buf, rep.data, io->len);
		if (atomic_load_explicit(&c->checksum, memory_order_relaxed) ||
		    (rep.flags & NSD_PF_CHECKSUM)) {
			if (!(rep.flags & NSD_PF_CHECKSUM) ||
			    mm_crc32c_bulk(0, io->buf, io->len) != rep.crc) {
				mm_warn(SUB, "NSD id %016" PRIX64 ": data read via node %u at offset %"
					PRIu64 " failed its CRC32C check", io->nsd_id,
					io->servers[io->cur], io->offset);
				if (++io->crc_retries < 2) {
					try_server(io, io->cur);
					return;
				}
				server_failed(io, MM_ECHECKSUM, "read data failed its CRC32C check",
					      strlen("read data failed its CRC32C check"));
				return;
			}
		}
		finish(io, MM_OK);
		return;
	}
	if (status == MM_OK) {
		finish(io, MM_OK);
		return;
	}
	switch (status) {
	case MM_ETIMEDOUT:
		if (io->op == NSD_WRITE) {
			silent_server(io);
			return;
		}
		break;
	case MM_EBUSY:
		if (now < io->retry_until_ns) {
			schedule(io, 2 + (unsigned)(now / 1000) % 8);
			return;
		}
		break;
	case MM_EFENCED:
		/* a server may not have seen this node join yet: ask again
		 * briefly, but never past this lease (epoch) */
		if (epoch_of(c) == io->epoch && now < io->fence_until_ns) {
			schedule(io, 100);
			return;
		}
		if (len)
			add_cause(io, "%.*s", (int)(len > 400 ? 400 : len), (const char *)data);
		if (epoch_of(c) != io->epoch) {
			/* the server saw what this node now knows: its own lease
			 * lapsed (a freeze, say); report that cause, as a request
			 * still queued here would */
			add_cause(io, "this node's lease lapsed while the request was in flight: it "
				  "may not do I/O (fenced)");
			finish(io, MM_ENOLEASE);
			return;
		}
		finish(io, MM_EFENCED);
		return;
	case MM_ECHECKSUM:
		if (++io->crc_retries < 2) {
			try_server(io, io->cur);
			return;
		}
		break;
	case MM_EINVAL:
	case MM_EPERM:
	case MM_EPROTO:
		/* the request itself is wrong: another server would say the same */
		if (len)
			add_cause(io, "%.*s", (int)(len > 400 ? 400 : len), (const char *)data);
		finish(io, status);
		return;
	default:
		break;
	}
	server_failed(io, status, data, len);
}

static void try_server(struct nsd_io *io, int idx)
{
	nsd_client *c = io->c;
	uint32_t node = io->servers[idx];
	struct nsd_proto_req pr = {
		.flags = atomic_load_explicit(&c->checksum, memory_order_relaxed) ?
			 NSD_PF_CHECKSUM : 0,
		.len = (uint32_t)io->len,
		.nsd_id = io->nsd_id,
		.offset = io->offset,
	};
	uint8_t hdr[NSD_PROTO_REQ_LEN], *msg = hdr;
	size_t mlen = sizeof(hdr);
	int rc;

	io->cur = idx;
	if (epoch_of(c) != io->epoch) {
		add_cause(io, "this node's lease lapsed while the request was in flight: it may not "
			  "do I/O (fenced)");
		finish(io, MM_ENOLEASE);
		return;
	}
	if (io->op == NSD_WRITE) {
		msg = malloc(NSD_PROTO_REQ_LEN + io->len);
		if (!msg) {
			add_cause(io, "out of memory");
			finish(io, MM_ENOMEM);
			return;
		}
		if (pr.flags & NSD_PF_CHECKSUM)
			pr.crc = mm_crc32c_bulk(0, io->buf, io->len);
		memcpy(msg + NSD_PROTO_REQ_LEN, io->buf, io->len);
		mlen += io->len;
	}
	nsd_proto_req_encode(&pr, msg);
	atomic_store_explicit(&nsd_entry_counters(io->e)->last_server, node, memory_order_relaxed);
	atomic_store_explicit(&nsd_entry_counters(io->e)->last_local, false, memory_order_relaxed);
	rc = net_call_async(c->cfg.net, node, io->op == NSD_WRITE ? MSG_NSD_WRITE : MSG_NSD_READ,
			    msg, mlen, c->cfg.timeout_ms, reply_cb, io);
	if (msg != hdr)
		free(msg);
	if (rc)
		server_failed(io, rc, NULL, 0);
}

/* ---- local path ----------------------------------------------------- */

static void local_done(struct nsd_req *r, int rc, void *arg)
{
	struct nsd_io *io = arg;
	(void)r;

	if (rc == MM_OK) {
		finish(io, MM_OK);
		return;
	}
	add_cause(io, "local disk %s: %s", nsd_disk_path(io->ldisk), mm_strerror(rc));
	io->last_rc = rc;
	nsd_ldisk_put(io->ld);
	io->ld = NULL;
	atomic_fetch_add_explicit(&nsd_entry_counters(io->e)->failovers, 1, memory_order_relaxed);
	attempt(io);
}


/* Pick the next path and start the request on it, or fail. */
static void attempt(struct nsd_io *io)
{
	nsd_client *c = io->c;
	enum nsd_path_policy pol = atomic_load_explicit(&c->policy, memory_order_relaxed);
	uint64_t now = mm_now_ns();

	if (atomic_load_explicit(&c->stopping, memory_order_relaxed)) {
		add_cause(io, "the NSD client is shutting down");
		finish(io, MM_ESHUTDOWN);
		return;
	}
	if (epoch_of(c) != io->epoch) {
		add_cause(io, "this node's lease lapsed while the request was in flight: it may not "
			  "do I/O (fenced)");
		finish(io, MM_ENOLEASE);
		return;
	}
	if (!io->local_tried && pol != NSD_PATH_ALWAYS) {
		nsd_ldisk *guard;
		nsd_disk *disk = nsd_entry_local_pinned(io->e, &io->ld, &guard);

		io->local_tried = true;
		io->ldisk = disk;
		if (disk) {
			int rc;

			io->lreq = (struct nsd_req){
				.offset = io->offset, .len = io->len, .buf = io->buf, .op = io->op,
				.done = local_done, .arg = io,
				/* the disk's gate drops it if this lease ends first */
				.epoch = io->op == NSD_WRITE && c->cfg.may_io ? io->epoch : 0,
			};
			atomic_store_explicit(&nsd_entry_counters(io->e)->last_local, true,
					      memory_order_relaxed);
			rc = nsd_disk_submit(disk, &io->lreq);
			nsd_ldisk_put(guard);
			if (rc == MM_OK)
				return;	/* <io> may be finished and gone already */
			add_cause(io, "local disk %s: %s", nsd_disk_path(disk), mm_strerror(rc));
			nsd_ldisk_put(io->ld);
			io->ld = NULL;
			if (rc == MM_EINVAL) {
				finish(io, rc);	/* misaligned or out of range: no path would take it */
				return;
			}
		} else {
			char status[300];

			nsd_entry_status(io->e, status, sizeof(status));
			if (pol == NSD_PATH_NEVER)
				add_cause(io, "not reached locally (%s) and useNSDserver is never", status);
			else if (strncmp(status, "not used: ", 10) == 0)
				add_cause(io, "no local path (%s)", status + 10);	/* a device found but refused */
		}
	}
	if (pol == NSD_PATH_NEVER || !c->cfg.net) {
		if (!io->cause_len) {
			char status[300];

			nsd_entry_status(io->e, status, sizeof(status));
			if (pol == NSD_PATH_ALWAYS)
				add_cause(io, "useNSDserver is always, but this client has no network "
					  "to reach NSD servers");
			else
				add_cause(io, "no local path (%s) and this client has no network to "
					  "reach NSD servers", status);
		}
		finish(io, io->last_rc ? io->last_rc : MM_EUNREACH);
		return;
	}
	/* servers in list order, passing over those that failed lately;
	 * if only such are left, they get another chance */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < io->nservers; i++) {
			uint32_t node = io->servers[i];

			if (io->tried & (1u << i))
				continue;
			if (node == c->cfg.my_node) {
				io->tried |= 1u << i;	/* we would serve ourselves from the local path */
				continue;
			}
			if (pass == 0 && is_down(c, node, now))
				continue;
			io->tried |= 1u << i;
			try_server(io, i);
			return;
		}
	if (!io->cause_len) {
		if (io->nservers == 0 && pol == NSD_PATH_ALWAYS)
			add_cause(io, "useNSDserver is always and the NSD has no servers");
		else if (io->nservers == 0)
			add_cause(io, "no local path and the NSD has no servers");
		else
			add_cause(io, "no local path and no other server");
	}
	finish(io, io->last_rc ? io->last_rc : MM_EUNREACH);
}

/* ---- API ------------------------------------------------------------ */

int nsd_client_create(const struct nsd_client_config *cfg, nsd_client **out)
{
	nsd_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return MM_ENOMEM;
	c->cfg = *cfg;
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = 30000;
	if (c->cfg.retry_ms <= 0)
		c->cfg.retry_ms = 10000;
	if (c->cfg.down_ms <= 0)
		c->cfg.down_ms = 5000;
	atomic_init(&c->policy, cfg->policy);
	atomic_init(&c->checksum, cfg->checksum);
	pthread_mutex_init(&c->lock, NULL);
	mm_cond_init(&c->cond);
	pthread_mutex_init(&c->down_lock, NULL);
	rc = mm_thread_start(&c->thread, "nsd-retry", retry_main, c);
	if (rc) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->down_lock);
		free(c);
		return rc;
	}
	c->thread_running = true;
	*out = c;
	return MM_OK;
}

void nsd_client_destroy(nsd_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store_explicit(&c->stopping, true, memory_order_relaxed);
	pthread_cond_broadcast(&c->cond);
	while (c->inflight > 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->thread_running)
		pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->down_lock);
	free(c);
}

void nsd_client_set_policy(nsd_client *c, enum nsd_path_policy p)
{
	atomic_store_explicit(&c->policy, (int)p, memory_order_relaxed);
}

void nsd_client_set_checksum(nsd_client *c, bool on)
{
	atomic_store_explicit(&c->checksum, on, memory_order_relaxed);
}

int nsd_client_submit(nsd_client *c, struct nsd_io *io)
{
	char idtxt[24];

	io->err[0] = '\0';
	io->cause[0] = '\0';
	io->cause_len = 0;
	io->c = c;
	io->e = NULL;
	io->ld = NULL;
	io->tried = 0;
	io->local_tried = false;
	io->cur = -1;
	io->crc_retries = 0;
	io->last_rc = 0;
	io->timeouts = 0;
	io->go_next = false;
	/* a request may be submitted again once done (or never submitted) */
	MM_BUG_ON(io, io->stage != NSD_IO_IDLE && io->stage != NSD_IO_DONE);
	io->stage = NSD_IO_IDLE;
	if (!io->done || !io->buf || io->len == 0 || io->len > NSD_IO_MAX ||
	    io->offset % NSD_IO_ALIGN || io->len % NSD_IO_ALIGN ||
	    (uintptr_t)io->buf % NSD_IO_ALIGN || io->offset > UINT64_MAX - io->len) {
		describe(io, "offset, length and buffer must be multiples of 4096 and the length "
			 "at most 16 MiB");
		return MM_EINVAL;
	}
	io->e = nsd_table_get(c->cfg.tab, io->nsd_id);
	if (!io->e) {
		nsd_id_format(io->nsd_id, idtxt, sizeof(idtxt));
		snprintf(io->err, sizeof(io->err), "no NSD with id %s is known on this node", idtxt);
		return MM_ENOENT;
	}
	if (io->op == NSD_WRITE && io->offset < NSD_DESC_BYTES) {
		describe(io, "the NSD descriptor (first 4 KiB) is not writable");
		nsd_entry_put(io->e);
		io->e = NULL;
		return MM_EPERM;
	}
	io->epoch = epoch_of(c);
	if (!io->epoch) {
		describe(io, "this node holds no valid lease: it may not do I/O (fenced)");
		nsd_entry_put(io->e);
		io->e = NULL;
		return MM_ENOLEASE;
	}
	pthread_mutex_lock(&c->lock);
	if (atomic_load_explicit(&c->stopping, memory_order_relaxed)) {
		pthread_mutex_unlock(&c->lock);
		describe(io, "the NSD client is shutting down");
		nsd_entry_put(io->e);
		io->e = NULL;
		return MM_ESHUTDOWN;
	}
	c->inflight++;
	pthread_mutex_unlock(&c->lock);
	io->stage = NSD_IO_IN_FLIGHT;
	io->nservers = nsd_entry_servers(io->e, io->servers);
	io->t_start_ns = mm_now_ns();
	io->retry_until_ns = io->t_start_ns + (uint64_t)c->cfg.retry_ms * 1000000u;
	io->fence_until_ns = io->t_start_ns + 2000000000u;
	atomic_fetch_add_explicit(&nsd_entry_counters(io->e)->in_flight, 1, memory_order_relaxed);
	attempt(io);
	return MM_OK;
}

struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
};

static void sync_done(struct nsd_io *io, int rc)
{
	struct sync_wait *w = io->arg;

	pthread_mutex_lock(&w->lock);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int sync_io(nsd_client *c, enum nsd_op op, uint64_t id, uint64_t offset, void *buf,
		   size_t len, char *err, size_t errsz)
{
	struct sync_wait w = {.done = false};
	struct nsd_io *io = calloc(1, sizeof(*io));
	int rc;

	if (!io)
		return MM_ENOMEM;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	*io = (struct nsd_io){.nsd_id = id, .op = op, .offset = offset, .len = len, .buf = buf,
			      .done = sync_done, .arg = &w};
	rc = nsd_client_submit(c, io);
	if (rc == MM_OK) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = w.rc;
	}
	if (rc && err)
		snprintf(err, errsz, "%s", io->err);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	free(io);
	return rc;
}

int nsd_client_read(nsd_client *c, uint64_t nsd_id, uint64_t offset, void *buf, size_t len,
		    char *err, size_t errsz)
{
	return sync_io(c, NSD_READ, nsd_id, offset, buf, len, err, errsz);
}

int nsd_client_write(nsd_client *c, uint64_t nsd_id, uint64_t offset, const void *buf,
		     size_t len, char *err, size_t errsz)
{
	return sync_io(c, NSD_WRITE, nsd_id, offset, (void *)(uintptr_t)buf, len, err, errsz);
}
