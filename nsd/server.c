/* nsd/server.c - see server.h. */
#include "nsd/server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"
#include "nsd/proto.h"

#define SUB "nsd"
/* data starts one page into each buffer: O_DIRECT alignment for the
 * disk, and room just before it for the read reply's header, so the
 * reply goes out as one contiguous piece without another copy */
#define HEADROOM 4096u

struct nsd_server {
	struct nsd_server_config cfg;
	char name[256];
	pthread_mutex_t lock;
	pthread_cond_t idle;
	bool stopping;
	unsigned in_service, peak;
	uint64_t bytes_held;
	/* counters (relaxed) */
	_Atomic uint64_t requests, bytes_read, bytes_written;
	_Atomic uint64_t refused_fenced, refused_nolease, refused_busy, refused_invalid, errors;
};

struct srv_op {
	nsd_server *s;
	net_req *req;
	nsd_entry *e;
	nsd_ldisk *ld;
	uint8_t *mem;			/* HEADROOM + len */
	struct nsd_req r;
	bool checksum;
};

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void refuse(net_req *req, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(net_req *req, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	net_reply(req, rc, msg, (size_t)n);
}

static void release(nsd_server *s, uint64_t len)
{
	pthread_mutex_lock(&s->lock);
	s->in_service--;
	s->bytes_held -= len;
	if (s->in_service == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* Release last: once in_service drops to 0, nsd_server_stop() returns and
 * the caller may destroy the table, so no reference may be dropped after. */
static void op_free(struct srv_op *op)
{
	nsd_server *s = op->s;
	uint64_t len = op->r.len;

	free(op->mem);
	nsd_ldisk_put(op->ld);
	nsd_entry_put(op->e);
	free(op);
	release(s, len);
}

/* On the disk's completion thread. */
static void op_done(struct nsd_req *r, int rc, void *arg)
{
	struct srv_op *op = arg;
	nsd_server *s = op->s;
	struct nsd_entry_counts *st = nsd_entry_counters(op->e);
	char name[NSD_NAME_MAX + 1];

	/* counters first: a client that has its reply sees them */
	if (!rc) {
		count(&s->requests);
		count(&st->srv_requests);
		atomic_fetch_add_explicit(&st->srv_bytes, r->len, memory_order_relaxed);
		atomic_fetch_add_explicit(r->op == NSD_READ ? &s->bytes_read : &s->bytes_written,
					  r->len, memory_order_relaxed);
	}
	if (rc) {
		count(&s->errors);
		nsd_entry_name(op->e, name, sizeof(name));
		refuse(op->req, MM_EIO, "%s: NSD %s: %s of %zu bytes at offset %" PRIu64 " failed on "
		       "the local disk: %s", s->name, name, r->op == NSD_READ ? "read" : "write",
		       r->len, r->offset, mm_strerror(rc));
	} else if (r->op == NSD_READ) {
		uint8_t *hdr = op->mem + HEADROOM - NSD_PROTO_REP_LEN;
		uint32_t crc = op->checksum ? mm_crc32c_bulk(0, r->buf, r->len) : 0;

		nsd_proto_rep_encode(op->checksum ? NSD_PF_CHECKSUM : 0, crc, hdr);
		net_reply(op->req, MM_OK, hdr, NSD_PROTO_REP_LEN + r->len);
	} else {
		net_reply(op->req, MM_OK, NULL, 0);
	}
	op_free(op);
}


static void handle(net_req *req, void *arg)
{
	nsd_server *s = arg;
	uint16_t type = net_req_type(req);
	uint32_t node = net_req_node(req);
	struct nsd_proto_req pr;
	struct srv_op *op;
	nsd_entry *e;
	nsd_disk *disk;
	nsd_ldisk *ld = NULL, *guard = NULL;
	char err[512], name[NSD_NAME_MAX + 1], idtxt[24];
	const void *data;
	size_t len;
	int rc;

	if (net_req_oneway(req))
		return;		/* nothing to answer; a request without a reply is a bug of the sender */
	data = net_req_data(req, &len);
	rc = nsd_proto_req_decode(type, data, len, &pr, err, sizeof(err));
	if (rc) {
		count(&s->refused_invalid);
		mm_warn(SUB, "bad NSD request from node %u: %s", node, err);
		refuse(req, rc, "%s: %s", s->name, err);
		return;
	}
	if (s->cfg.fence) {
		rc = s->cfg.fence(node, net_req_recv_ns(req), s->cfg.fence_arg);
		if (rc == MM_ENOLEASE) {
			count(&s->refused_nolease);
			mm_warn(SUB, "refused NSD %s from node %u: this node's lease lapsed, or the "
				"request arrived under an earlier one", type == MSG_NSD_WRITE ? "write" :
				"read", node);
			refuse(req, rc, "%s does not serve NSD I/O: its own lease lapsed (or the request "
			       "arrived under an earlier lease)", s->name);
			return;
		}
		if (rc) {
			count(&s->refused_fenced);
			mm_warn(SUB, "refused NSD %s from node %u: not an active cluster member",
				type == MSG_NSD_WRITE ? "write" : "read", node);
			refuse(req, MM_EFENCED, "%s refuses I/O from node %u: it is not an active "
			       "cluster member (expelled or not joined)", s->name, node);
			return;
		}
	}
	nsd_id_format(pr.nsd_id, idtxt, sizeof(idtxt));
	e = nsd_table_get(s->cfg.tab, pr.nsd_id);
	if (!e && s->cfg.refresh) {
		s->cfg.refresh(net_req_recv_ns(req), s->cfg.refresh_arg);
		e = nsd_table_get(s->cfg.tab, pr.nsd_id);
	}
	disk = e ? nsd_entry_local_pinned(e, &ld, &guard) : NULL;
	if (!disk) {
		count(&s->refused_invalid);
		if (e) {
			char status[512];

			nsd_entry_name(e, name, sizeof(name));
			nsd_entry_status(e, status, sizeof(status));
			refuse(req, MM_ENOENT, "%s does not reach NSD %s locally (%s)", s->name, name,
			       status);
		} else {
			refuse(req, MM_ENOENT, "%s knows no NSD with id %s", s->name, idtxt);
		}
		nsd_entry_put(e);
		return;
	}
	nsd_entry_name(e, name, sizeof(name));
	if (type == MSG_NSD_WRITE && pr.offset < NSD_DESC_BYTES) {
		count(&s->refused_invalid);
		refuse(req, MM_EPERM, "%s: NSD %s: a write at offset %" PRIu64 " would overwrite the "
		       "NSD descriptor", s->name, name, pr.offset);
		goto drop;
	}
	{
		struct nsd_req probe = {.offset = pr.offset, .len = pr.len,
					.buf = (void *)(uintptr_t)HEADROOM,
					.op = type == MSG_NSD_WRITE ? NSD_WRITE : NSD_READ,
					.done = op_done};	/* checked, never called */

		rc = nsd_disk_check(disk, &probe);
		if (rc) {
			count(&s->refused_invalid);
			refuse(req, rc, "%s: NSD %s: %s of %" PRIu32 " bytes at offset %" PRIu64 " is %s "
			       "(sector size %u, disk size %" PRIu64 ")", s->name, name,
			       type == MSG_NSD_WRITE ? "write" : "read", pr.len, pr.offset,
			       rc == MM_EPERM ? "not allowed (read-only disk)" : "misaligned or out of range",
			       nsd_disk_sector_size(disk), nsd_disk_size(disk));
			goto drop;
		}
	}
	if (type == MSG_NSD_WRITE && (pr.flags & NSD_PF_CHECKSUM) &&
	    mm_crc32c_bulk(0, pr.data, pr.len) != pr.crc) {
		count(&s->refused_invalid);
		mm_warn(SUB, "NSD %s: write from node %u at offset %" PRIu64 " arrived with a bad "
			"data checksum: not written", name, node, pr.offset);
		refuse(req, MM_ECHECKSUM, "%s: NSD %s: the data of a %" PRIu32 "-byte write at offset "
		       "%" PRIu64 " arrived damaged (CRC32C mismatch): not written", s->name, name,
		       pr.len, pr.offset);
		goto drop;
	}
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		refuse(req, MM_ESHUTDOWN, "%s is shutting down", s->name);
		goto drop;
	}
	if (s->in_service >= s->cfg.max_requests ||
	    (s->in_service > 0 && s->bytes_held + pr.len > s->cfg.max_bytes)) {
		pthread_mutex_unlock(&s->lock);
		count(&s->refused_busy);
		count(&nsd_entry_counters(e)->srv_busy);
		refuse(req, MM_EBUSY, "%s is busy", s->name);
		goto drop;
	}
	s->in_service++;
	s->bytes_held += pr.len;
	if (s->in_service > s->peak)
		s->peak = s->in_service;
	pthread_mutex_unlock(&s->lock);

	op = calloc(1, sizeof(*op));
	if (!op || posix_memalign((void **)&op->mem, HEADROOM, HEADROOM + pr.len) != 0) {
		free(op);
		refuse(req, MM_ENOMEM, "%s: out of memory for a %" PRIu32 "-byte buffer", s->name,
		       pr.len);
		nsd_ldisk_put(guard);
		nsd_ldisk_put(ld);
		nsd_entry_put(e);
		release(s, pr.len);	/* last: see op_free() */
		return;
	}
	op->s = s;
	op->req = req;
	op->e = e;
	op->ld = ld;
	op->checksum = (pr.flags & NSD_PF_CHECKSUM) != 0;
	op->r = (struct nsd_req){
		.offset = pr.offset,
		.len = pr.len,
		.buf = op->mem + HEADROOM,
		.op = type == MSG_NSD_WRITE ? NSD_WRITE : NSD_READ,
		.done = op_done,
		.arg = op,
	};
	if (type == MSG_NSD_WRITE) {
		memcpy(op->r.buf, pr.data, pr.len);
		if (s->cfg.epoch)
			op->r.epoch = s->cfg.epoch(s->cfg.epoch_arg);
	}
	/* the lease again, right before the disk: this thread may have been
	 * stopped since the check above, and a write of a server whose lease
	 * lapsed can land on data the client has since written elsewhere */
	if (type == MSG_NSD_WRITE && s->cfg.fence && (rc = s->cfg.fence(node, net_req_recv_ns(req), s->cfg.fence_arg))) {
		count(rc == MM_ENOLEASE ? &s->refused_nolease : &s->refused_fenced);
		nsd_ldisk_put(guard);
		refuse(req, rc, "%s: NSD %s: write at offset %" PRIu64 " not done: %s", s->name, name,
		       pr.offset, rc == MM_ENOLEASE ? "this server's own lease lapsed" :
		       "the requester is no longer an active member");
		op_free(op);
		return;
	}
	rc = nsd_disk_submit(disk, &op->r);
	nsd_ldisk_put(guard);	/* <op> may be done and freed already if rc == 0 */
	if (rc) {
		refuse(req, rc, "%s: NSD %s: cannot queue the request: %s", s->name, name,
		       mm_strerror(rc));
		op_free(op);
	}
	return;
drop:
	nsd_ldisk_put(guard);
	nsd_ldisk_put(ld);
	nsd_entry_put(e);
}

int nsd_server_create(const struct nsd_server_config *cfg, nsd_server **out)
{
	nsd_server *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return MM_ENOMEM;
	s->cfg = *cfg;
	snprintf(s->name, sizeof(s->name), "NSD server %s", cfg->name ? cfg->name : "?");
	s->cfg.name = s->name;
	if (!s->cfg.max_requests)
		s->cfg.max_requests = 512;
	if (!s->cfg.max_bytes)
		s->cfg.max_bytes = 256u << 20;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	rc = net_register(cfg->net, MSG_NSD_READ, handle, s, 0);
	if (!rc)
		rc = net_register(cfg->net, MSG_NSD_WRITE, handle, s, 0);
	if (rc) {
		nsd_server_destroy(s);
		return rc;
	}
	*out = s;
	return MM_OK;
}

void nsd_server_stop(nsd_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	while (s->in_service > 0)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void nsd_server_destroy(nsd_server *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}

void nsd_server_get_stats(nsd_server *s, struct nsd_server_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
	st->bytes_read = atomic_load_explicit(&s->bytes_read, memory_order_relaxed);
	st->bytes_written = atomic_load_explicit(&s->bytes_written, memory_order_relaxed);
	st->refused_fenced = atomic_load_explicit(&s->refused_fenced, memory_order_relaxed);
	st->refused_nolease = atomic_load_explicit(&s->refused_nolease, memory_order_relaxed);
	st->refused_busy = atomic_load_explicit(&s->refused_busy, memory_order_relaxed);
	st->refused_invalid = atomic_load_explicit(&s->refused_invalid, memory_order_relaxed);
	st->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
	pthread_mutex_lock(&s->lock);
	st->in_service = s->in_service;
	st->peak_in_service = s->peak;
	st->bytes_held = s->bytes_held;
	pthread_mutex_unlock(&s->lock);
	st->max_bytes = s->cfg.max_bytes;
	st->max_requests = s->cfg.max_requests;
}
