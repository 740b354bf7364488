/*
 * mmfsd/admin_nsdio.c - NSD diagnostics and test commands of the admin
 * socket:
 *   nsddiscover  rescan (mmnsddiscover); lists each NSD's discovery outcome
 *   nsdio        read or write an NSD through this node's NSD client with
 *                verifiable data (nsd/pattern.h): tests/tools/nsdio
 *   nsdfault     arm or reset a fault of the nsd/ system-call table (tests)
 * and the text of `mmdiag --nsd` (adm_diag_nsd).
 *
 * nsdio moves data only between the daemon and the disks (the command
 * gets figures and, on a mismatch, the first bad offset), so it exercises
 * exactly the path the file system will use.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/nsdsvc.h"
#include "nsd/pattern.h"
#include "nsd/sys.h"

#define SUB "nsd"
#define NSDIO_MAX_DEPTH 64

static nsd_entry *entry_by_name(nsd_svc *s, const char *name)
{
	nsd_entry *e = nsd_table_get_name(nsd_svc_table(s), name);
	char err[256];

	if (!e) {
		/* created since the last scan, or its rescan message was lost */
		nsd_svc_scan_now(s, err, sizeof(err));
		e = nsd_table_get_name(nsd_svc_table(s), name);
	}
	return e;
}

/* ---- nsddiscover ---------------------------------------------------- */

/* Is <name> in the request's "names" array? */
static bool wanted(json_object *names, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(names); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(names, i)), name) == 0)
			return true;
	return false;
}

void adm_cmd_nsddiscover(mmfsd *d, json_object *req, json_object *rep)
{
	nsd_svc *s = mmfsd_nsd(d);
	nsd_entry **ents = NULL;
	json_object *want = NULL;
	size_t n = 0;
	int local = 0;
	char err[256] = "";
	json_object *arr;
	int rc;

	if (!adm_require_active(d, rep, "mmnsddiscover"))
		return;
	/* -d: report only these (the rescan is of every NSD: it is cheap) */
	if (json_object_object_get_ex(req, "names", &want) && !json_object_is_type(want, json_type_array))
		want = NULL;
	rc = nsd_svc_scan_now(s, err, sizeof(err));
	if (rc < 0) {
		adm_set_rc(rep, rc, err);
		return;
	}
	if (adm_get_bool(req, "broadcast", false))
		nsd_svc_broadcast_rescan(s);
	if (nsd_table_list(nsd_svc_table(s), &ents, &n) == 0) {
		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *o;
			char name[NSD_NAME_MAX + 1], id[24], status[600];

			nsd_entry_name(ents[i], name, sizeof(name));
			if (want && !wanted(want, name)) {
				nsd_entry_put(ents[i]);
				continue;
			}
			if (want) {
				/* -d: count the named NSDs only */
				struct nsd_entry_stats st;
				bool has_local = false;

				nsd_entry_stats(ents[i], &st, NULL, &has_local);
				local += has_local;
			}
			o = json_object_new_object();
			nsd_id_format(nsd_entry_id(ents[i]), id, sizeof(id));
			nsd_entry_status(ents[i], status, sizeof(status));
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "id", json_object_new_string(id));
			json_object_object_add(o, "status", json_object_new_string(status));
			json_object_array_add(arr, o);
			nsd_entry_put(ents[i]);
		}
		free(ents);
		json_object_object_add(rep, "nsds", arr);
	}
	json_object_object_add(rep, "local", json_object_new_int(want ? local : rc));
	adm_set_rc(rep, MM_OK, NULL);
}

/* ---- nsdfault ------------------------------------------------------- */

void adm_cmd_nsdfault(mmfsd *d, json_object *req, json_object *rep)
{
	const char *call = adm_get_str(req, "call", "");
	int id, rc;
	char msg[160];
	(void)d;

	if (adm_get_bool(req, "reset", false)) {
		nsd_sys_reset();
		mm_notice(SUB, "test: every injected NSD fault disarmed");
		adm_set_rc(rep, MM_OK, NULL);
		return;
	}
	id = nsd_sys_lookup(call);
	if (id < 0) {
		snprintf(msg, sizeof(msg), "nsdfault: unknown system call \"%s\"", call);
		adm_set_rc(rep, MM_EINVAL, msg);
		return;
	}
	rc = nsd_sys_fail((enum nsd_sys_id)id, (unsigned)adm_get_i64(req, "nth", 1),
			  (int)adm_get_i64(req, "errno", EIO), adm_get_bool(req, "persistent", false));
	if (rc == MM_OK)
		mm_notice(SUB, "test: %s call %" PRId64 " from now fails with errno %" PRId64 "%s",
			  call, adm_get_i64(req, "nth", 1), adm_get_i64(req, "errno", EIO),
			  adm_get_bool(req, "persistent", false) ? ", and every later one" : "");
	adm_set_rc(rep, rc, rc ? "nsdfault: bad nth or errno" : NULL);
}

/* ---- nsdio ---------------------------------------------------------- */

struct run {
	uint64_t off, len, seed;
};

struct nsdio_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned outstanding;
	int rc;				/* first error */
	char err[768];
	struct nsd_io *done_list;	/* completed, to be checked and reused */
};

static void nsdio_done(struct nsd_io *io, int rc)
{
	struct nsdio_job *j = io->arg;

	pthread_mutex_lock(&j->lock);
	if (rc && !j->rc) {
		j->rc = rc;
		snprintf(j->err, sizeof(j->err), "%s", io->err);
	}
	io->next = j->done_list;	/* the client is done with io: its link is ours */
	j->done_list = io;
	j->outstanding--;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

/* The seed expected at <off>, and how far it holds (runs are sorted by
 * nothing: the last run covering a byte wins, as later writes would). */
static uint64_t seed_at(const struct run *runs, size_t nruns, uint64_t def, uint64_t off,
			uint64_t end, uint64_t *until)
{
	uint64_t seed = def, lim = end;

	for (size_t i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		if (off >= r->off && off < r->off + r->len) {
			seed = r->seed;
			lim = r->off + r->len;
		}
	}
	/* a later run may start inside [off, lim) and override */
	for (size_t i = 0; i < nruns; i++)
		if (runs[i].off > off && runs[i].off < lim)
			lim = runs[i].off;
	*until = lim < end ? lim : end;
	return seed;
}

static int64_t check_chunk(const struct nsd_io *io, const struct run *runs, size_t nruns,
			   uint64_t seed, uint64_t *bad_seed)
{
	uint64_t off = io->offset, end = io->offset + io->len;

	while (off < end) {
		uint64_t until, s = seed_at(runs, nruns, seed, off, end, &until);
		int64_t bad = nsd_pattern_check((const char *)io->buf + (off - io->offset),
						until - off, off, s);

		if (bad >= 0) {
			*bad_seed = s;
			return bad;
		}
		off = until;
	}
	return -1;
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

void adm_cmd_nsdio(mmfsd *d, json_object *req, json_object *rep)
{
	nsd_svc *s = mmfsd_nsd(d);
	const char *name = adm_get_str(req, "nsd", ""), *opname = adm_get_str(req, "op", "");
	uint64_t offset = (uint64_t)adm_get_i64(req, "offset", 0);
	uint64_t length = (uint64_t)adm_get_i64(req, "length", 0);
	uint64_t bs = (uint64_t)adm_get_i64(req, "bs", 1 << 20);
	int64_t depth = adm_get_i64(req, "depth", 8);
	uint64_t seed = (uint64_t)adm_get_i64(req, "seed", 1);
	bool verify = adm_get_bool(req, "verify", true), random = adm_get_bool(req, "random", false);
	uint64_t count, rstate = (uint64_t)adm_get_i64(req, "rseed", 12345) | 1;
	struct nsdio_job j = {.rc = 0};
	struct nsd_io *ios = NULL;
	struct run *runs = NULL;
	size_t nruns = 0;
	json_object *ex;
	nsd_entry *e = NULL;
	enum nsd_op op;
	uint64_t issued = 0, completed = 0, bytes = 0, t0, c0, next_off = offset;
	int64_t bad = -1;
	uint64_t bad_seed = 0;
	char msg[1024] = "";
	int rc = MM_OK;

	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cond, NULL);
	if (!strcmp(opname, "read")) {
		op = NSD_READ;
	} else if (!strcmp(opname, "write")) {
		op = NSD_WRITE;
	} else {
		snprintf(msg, sizeof(msg), "nsdio: op must be read or write, not \"%s\"", opname);
		rc = MM_EINVAL;
		goto out;
	}
	if (bs == 0 || bs % NSD_IO_ALIGN || bs > NSD_IO_MAX || offset % NSD_IO_ALIGN ||
	    length == 0 || length % NSD_IO_ALIGN || depth < 1 || depth > NSDIO_MAX_DEPTH ||
	    (random && length < bs)) {
		snprintf(msg, sizeof(msg), "nsdio: offset, length and bs must be multiples of %u "
			 "(bs at most %u, and at most the length in random mode), depth 1..%d", NSD_IO_ALIGN, NSD_IO_MAX, NSDIO_MAX_DEPTH);
		rc = MM_EINVAL;
		goto out;
	}
	if (json_object_object_get_ex(req, "expect", &ex) && json_object_is_type(ex, json_type_array)) {
		size_t n = json_object_array_length(ex);

		runs = calloc(n + 1, sizeof(*runs));
		for (size_t i = 0; runs && i < n; i++) {
			json_object *r = json_object_array_get_idx(ex, i);

			if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != 3)
				continue;
			runs[nruns++] = (struct run){
				(uint64_t)json_object_get_int64(json_object_array_get_idx(r, 0)),
				(uint64_t)json_object_get_int64(json_object_array_get_idx(r, 1)),
				(uint64_t)json_object_get_int64(json_object_array_get_idx(r, 2)),
			};
		}
	}
	if (!adm_require_active(d, rep, "nsdio"))
		goto free;
	e = entry_by_name(s, name);
	if (!e) {
		snprintf(msg, sizeof(msg), "nsdio: NSD %s is not known on this node (see mmlsnsd)", name);
		rc = MM_ENOENT;
		goto out;
	}
	count = random ? (uint64_t)adm_get_i64(req, "count", (int64_t)(length / bs)) : (length + bs - 1) / bs;
	ios = calloc((size_t)depth, sizeof(*ios));
	if (!ios) {
		rc = MM_ENOMEM;
		goto out;
	}
	for (int64_t i = 0; i < depth; i++) {
		ios[i].buf = nsd_io_buf_alloc(bs);
		if (!ios[i].buf) {
			rc = MM_ENOMEM;
			goto out;
		}
		memset(ios[i].buf, 0, bs);
		ios[i].next = j.done_list;
		j.done_list = &ios[i];
	}
	t0 = mm_now_ns();
	c0 = cpu_us();
	pthread_mutex_lock(&j.lock);
	while (completed < count || j.outstanding > 0) {
		struct nsd_io *io = j.done_list;

		if (!io) {
			pthread_cond_wait(&j.cond, &j.lock);
			continue;
		}
		j.done_list = io->next;
		pthread_mutex_unlock(&j.lock);
		if (io->done) {
			/* a finished request: count and check it */
			completed++;
			if (!j.rc) {
				bytes += io->len;
				if (op == NSD_READ && verify && bad < 0)
					bad = check_chunk(io, runs, nruns, seed, &bad_seed);
			}
			io->done = NULL;
		}
		pthread_mutex_lock(&j.lock);
		if (issued < count && !j.rc && bad < 0) {
			uint64_t off, len;
			int src;

			if (random) {
				rstate ^= rstate << 13;
				rstate ^= rstate >> 7;
				rstate ^= rstate << 17;
				off = offset + (rstate % (length / bs)) * bs;
				len = bs;
			} else {
				off = next_off;
				len = offset + length - off < bs ? offset + length - off : bs;
				next_off += len;
			}
			pthread_mutex_unlock(&j.lock);
			if (op == NSD_WRITE && verify)
				nsd_pattern_fill(io->buf, len, off, seed);
			io->nsd_id = nsd_entry_id(e);
			io->op = op;
			io->offset = off;
			io->len = len;
			io->done = nsdio_done;
			io->arg = &j;
			pthread_mutex_lock(&j.lock);
			j.outstanding++;
			issued++;
			pthread_mutex_unlock(&j.lock);
			src = nsd_client_submit(nsd_svc_client(s), io);
			pthread_mutex_lock(&j.lock);
			if (src) {
				j.outstanding--;
				issued--;
				if (!j.rc) {
					j.rc = src;
					snprintf(j.err, sizeof(j.err), "%s", io->err);
				}
				io->done = NULL;
				io->next = j.done_list;
				j.done_list = io;
			}
		} else if (issued < count) {
			/* stopped early (error or mismatch): count the rest as not done */
			count = issued;
		}
	}
	pthread_mutex_unlock(&j.lock);
	{
		uint64_t us = (mm_now_ns() - t0) / 1000;

		json_object_object_add(rep, "bytes", json_object_new_int64((int64_t)bytes));
		json_object_object_add(rep, "usec", json_object_new_int64((int64_t)us));
		json_object_object_add(rep, "ios", json_object_new_int64((int64_t)completed));
		json_object_object_add(rep, "cpu_usec", json_object_new_int64((int64_t)(cpu_us() - c0)));
	}
	if (j.rc) {
		rc = j.rc;
		snprintf(msg, sizeof(msg), "%s", j.err);
	} else if (bad >= 0) {
		rc = MM_ECHECKSUM;
		json_object_object_add(rep, "mismatch", json_object_new_int64(bad));
		snprintf(msg, sizeof(msg), "nsdio: NSD %s: data at offset %" PRId64 " is not what seed "
			 "%" PRIu64 " wrote", name, bad, bad_seed);
		mm_error(SUB, "%s", msg);
	}
out:
	adm_set_rc(rep, rc, msg[0] ? msg : mm_strerror(rc));
free:
	for (int64_t i = 0; ios && i < depth; i++)
		free(ios[i].buf);
	free(ios);
	free(runs);
	nsd_entry_put(e);
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.cond);
}

/* ---- mmdiag --nsd --------------------------------------------------- */

char *adm_diag_nsd(mmfsd *d)
{
	nsd_svc *s = mmfsd_nsd(d);
	nsd_entry **ents = NULL;
	struct nsd_server_stats ss;
	size_t n = 0, sz = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &sz);

	if (!f)
		return NULL;
	fprintf(f, "=== mmdiag: nsd ===\n\n");
	if (nsd_table_list(nsd_svc_table(s), &ents, &n) || n == 0)
		fprintf(f, "(no NSDs known on this node)\n");
	else
		fprintf(f, "%-12s %-16s %-34s %5s %5s %9s %9s %10s %10s %9s %9s %6s %6s\n", "NSD",
			"id", "path in use", "qdep", "infl", "reads", "writes", "MB read",
			"MB written", "avg_us", "max_us", "errors", "fover");
	for (size_t i = 0; i < n; i++) {
		struct nsd_entry_stats st;
		struct nsd_disk_stats ds;
		uint32_t srv[NSD_MAX_SERVERS];
		char name[NSD_NAME_MAX + 1], id[24], path[300], status[600], qd[16] = "-";
		bool local = false;
		uint64_t ops;
		int ns;

		nsd_entry_name(ents[i], name, sizeof(name));
		nsd_id_format(nsd_entry_id(ents[i]), id, sizeof(id));
		nsd_entry_status(ents[i], status, sizeof(status));
		nsd_entry_stats(ents[i], &st, &ds, &local);
		ns = nsd_entry_servers(ents[i], srv);
		if (st.last_server && !st.last_local)
			snprintf(path, sizeof(path), "server node %u", st.last_server);
		else if (local)
			snprintf(path, sizeof(path), "%s", status);
		else if (ns > 0)
			snprintf(path, sizeof(path), "server node %u (not used yet)", srv[0]);
		else
			snprintf(path, sizeof(path), "none");
		ops = st.reads + st.writes;
		if (local)
			snprintf(qd, sizeof(qd), "%u", ds.queue_depth);
		fprintf(f, "%-12s %-16s %-34s %5s %5" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10.1f %10.1f "
			"%9" PRIu64 " %9" PRIu64 " %6" PRIu64 " %6" PRIu64 "\n", name, id, path,
			qd, st.in_flight, st.reads, st.writes, st.bytes_read / 1e6,
			st.bytes_written / 1e6, ops ? st.lat_total_us / ops : 0, st.lat_max_us,
			st.errors, st.failovers);
		if (local)
			fprintf(f, "%-12s   local disk: queue depth %u, %u in flight, %u queued, %s%s, "
				"%" PRIu64 " iocbs (%" PRIu64 " merged requests), %" PRIu64 " errors\n",
				"", ds.queue_depth, ds.in_flight, ds.queued, ds.direct ? "O_DIRECT" :
				"buffered", ds.aio ? " libaio" : " sync", ds.iocbs, ds.merged, ds.errors);
		if (strncmp(status, "local ", 6) != 0)
			fprintf(f, "%-12s   discovery: %s\n", "", status);
		if (st.srv_requests || st.srv_busy)
			fprintf(f, "%-12s   served for other nodes: %" PRIu64 " requests, %.1f MB, %"
				PRIu64 " busy refusals\n", "", st.srv_requests, st.srv_bytes / 1e6,
				st.srv_busy);
		nsd_entry_put(ents[i]);
	}
	free(ents);
	nsd_server_get_stats(nsd_svc_server(s), &ss);
	fprintf(f, "\nNSD server: %" PRIu64 " requests served (%.1f MB read, %.1f MB written), "
		"%u in service (peak %u, limit %u), buffers %.1f of %.1f MB\n", ss.requests,
		ss.bytes_read / 1e6, ss.bytes_written / 1e6, ss.in_service, ss.peak_in_service,
		ss.max_requests, ss.bytes_held / 1e6, ss.max_bytes / 1e6);
	fprintf(f, "refused: %" PRIu64 " fenced (not active members), %" PRIu64 " without a lease, %"
		PRIu64 " busy, %" PRIu64 " invalid; %" PRIu64 " disk errors\n", ss.refused_fenced,
		ss.refused_nolease, ss.refused_busy, ss.refused_invalid, ss.errors);
	fclose(f);
	return text;
}
