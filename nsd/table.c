/* nsd/table.c - see table.h. */
#include "nsd/table.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "nsd/label.h"

#define SUB "nsd"

struct nsd_ldisk {
	atomic_int refs;
	nsd_table *t;
	nsd_disk *disk;
	uint64_t id;
	char path[1024];
	struct nsd_ldisk *next;		/* graveyard link */
};

struct nsd_entry {
	atomic_int refs;
	uint64_t id;
	struct nsd_entry_counts st;
	pthread_mutex_t lock;		/* guards what follows */
	char name[NSD_NAME_MAX + 1];	/* written with t->lock held too (nsd/README.md,
					 * "Lock order"): read under either */
	uint32_t servers[NSD_MAX_SERVERS];
	int nservers;
	nsd_ldisk *ld;			/* one reference held by the entry */
	char status[512];
};

struct nsd_table {
	struct nsd_table_config cfg;
	pthread_mutex_t update_lock;	/* one update at a time */
	pthread_mutex_t lock;		/* guards ents/nents */
	nsd_entry **ents;
	size_t nents;
	pthread_mutex_t grave_lock;
	nsd_ldisk *grave;		/* disks no longer referenced: close them */
};

/* ---- local disks --------------------------------------------------- */

static void ld_ref(nsd_ldisk *ld)
{
	atomic_fetch_add_explicit(&ld->refs, 1, memory_order_relaxed);
}

void nsd_ldisk_put(nsd_ldisk *ld)
{
	nsd_table *t;

	if (!ld || atomic_fetch_sub_explicit(&ld->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* maybe on a completion thread: closing would wait for itself */
	t = ld->t;
	pthread_mutex_lock(&t->grave_lock);
	ld->next = t->grave;
	t->grave = ld;
	pthread_mutex_unlock(&t->grave_lock);
}

static void bury(nsd_table *t)
{
	nsd_ldisk *ld;

	pthread_mutex_lock(&t->grave_lock);
	ld = t->grave;
	t->grave = NULL;
	pthread_mutex_unlock(&t->grave_lock);
	while (ld) {
		nsd_ldisk *next = ld->next;

		mm_info(SUB, "closing %s", ld->path);
		nsd_disk_close(ld->disk);
		free(ld);
		ld = next;
	}
}

/* ---- entries ------------------------------------------------------- */

void nsd_entry_ref(nsd_entry *e)
{
	atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void nsd_entry_put(nsd_entry *e)
{
	if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	nsd_ldisk_put(e->ld);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

uint64_t nsd_entry_id(const nsd_entry *e)
{
	return e->id;
}

void nsd_entry_name(nsd_entry *e, char *buf, size_t sz)
{
	pthread_mutex_lock(&e->lock);
	snprintf(buf, sz, "%s", e->name);
	pthread_mutex_unlock(&e->lock);
}

int nsd_entry_servers(nsd_entry *e, uint32_t *out)
{
	int n;

	pthread_mutex_lock(&e->lock);
	n = e->nservers;
	memcpy(out, e->servers, (size_t)n * sizeof(*out));
	pthread_mutex_unlock(&e->lock);
	return n;
}

nsd_disk *nsd_entry_local(nsd_entry *e, nsd_ldisk **ref)
{
	nsd_ldisk *ld;

	pthread_mutex_lock(&e->lock);
	ld = e->ld;
	if (ld)
		ld_ref(ld);
	pthread_mutex_unlock(&e->lock);
	*ref = ld;
	return ld ? ld->disk : NULL;
}

nsd_disk *nsd_entry_local_pinned(nsd_entry *e, nsd_ldisk **ref, nsd_ldisk **guard)
{
	nsd_disk *disk = nsd_entry_local(e, ref);

	*guard = *ref;
	if (*guard)
		ld_ref(*guard);
	return disk;
}

void nsd_entry_status(nsd_entry *e, char *buf, size_t sz)
{
	pthread_mutex_lock(&e->lock);
	snprintf(buf, sz, "%s", e->status);
	pthread_mutex_unlock(&e->lock);
}

struct nsd_entry_counts *nsd_entry_counters(nsd_entry *e)
{
	return &e->st;
}

void nsd_entry_stats(nsd_entry *e, struct nsd_entry_stats *st,
		     struct nsd_disk_stats *local, bool *has_local)
{
	nsd_ldisk *ld = NULL;
	nsd_disk *disk;

	memset(st, 0, sizeof(*st));
	st->reads = atomic_load_explicit(&e->st.reads, memory_order_relaxed);
	st->writes = atomic_load_explicit(&e->st.writes, memory_order_relaxed);
	st->bytes_read = atomic_load_explicit(&e->st.bytes_read, memory_order_relaxed);
	st->bytes_written = atomic_load_explicit(&e->st.bytes_written, memory_order_relaxed);
	st->errors = atomic_load_explicit(&e->st.errors, memory_order_relaxed);
	st->failovers = atomic_load_explicit(&e->st.failovers, memory_order_relaxed);
	st->retries = atomic_load_explicit(&e->st.retries, memory_order_relaxed);
	st->lat_total_us = atomic_load_explicit(&e->st.lat_total_us, memory_order_relaxed);
	st->lat_max_us = atomic_load_explicit(&e->st.lat_max_us, memory_order_relaxed);
	st->in_flight = atomic_load_explicit(&e->st.in_flight, memory_order_relaxed);
	st->last_server = atomic_load_explicit(&e->st.last_server, memory_order_relaxed);
	st->last_local = atomic_load_explicit(&e->st.last_local, memory_order_relaxed);
	st->srv_requests = atomic_load_explicit(&e->st.srv_requests, memory_order_relaxed);
	st->srv_bytes = atomic_load_explicit(&e->st.srv_bytes, memory_order_relaxed);
	st->srv_refused = atomic_load_explicit(&e->st.srv_refused, memory_order_relaxed);
	st->srv_busy = atomic_load_explicit(&e->st.srv_busy, memory_order_relaxed);
	disk = nsd_entry_local(e, &ld);
	if (has_local)
		*has_local = disk != NULL;
	if (disk && local)
		nsd_disk_stats(disk, local);
	nsd_ldisk_put(ld);
}

/* ---- table --------------------------------------------------------- */

int nsd_table_create(const struct nsd_table_config *cfg, nsd_table **out)
{
	nsd_table *t = calloc(1, sizeof(*t));

	if (!t)
		return MM_ENOMEM;
	t->cfg = *cfg;
	pthread_mutex_init(&t->update_lock, NULL);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->grave_lock, NULL);
	*out = t;
	return MM_OK;
}

void nsd_table_destroy(nsd_table *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nents; i++)
		nsd_entry_put(t->ents[i]);
	free(t->ents);
	t->ents = NULL;
	t->nents = 0;
	pthread_mutex_unlock(&t->lock);
	bury(t);
	pthread_mutex_destroy(&t->update_lock);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->grave_lock);
	free(t);
}

static nsd_entry *find_locked(nsd_table *t, uint64_t id)
{
	for (size_t i = 0; i < t->nents; i++)
		if (t->ents[i]->id == id)
			return t->ents[i];
	return NULL;
}

nsd_entry *nsd_table_get(nsd_table *t, uint64_t id)
{
	nsd_entry *e;

	pthread_mutex_lock(&t->lock);
	e = find_locked(t, id);
	if (e)
		nsd_entry_ref(e);
	pthread_mutex_unlock(&t->lock);
	return e;
}

nsd_entry *nsd_table_get_name(nsd_table *t, const char *name)
{
	nsd_entry *e = NULL;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nents && !e; i++) {
		/* names change only under t->lock (nsd_table_update) */
		if (strcmp(t->ents[i]->name, name) == 0)
			e = t->ents[i];
	}
	if (e)
		nsd_entry_ref(e);
	pthread_mutex_unlock(&t->lock);
	return e;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(nsd_entry *const *)a)->name, (*(nsd_entry *const *)b)->name);
}

int nsd_table_list(nsd_table *t, nsd_entry ***out, size_t *n)
{
	pthread_mutex_lock(&t->lock);
	*out = malloc((t->nents + 1) * sizeof(**out));
	if (!*out) {
		pthread_mutex_unlock(&t->lock);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < t->nents; i++) {
		(*out)[i] = t->ents[i];
		nsd_entry_ref(t->ents[i]);
	}
	*n = t->nents;
	qsort(*out, *n, sizeof(**out), name_cmp);	/* names are stable under t->lock */
	pthread_mutex_unlock(&t->lock);
	return MM_OK;
}

/* What one probe of a device found. */
struct probe {
	const char *path;
	int rc;				/* of nsd_label_read */
	struct nsd_desc desc;
	char err[512];
};

static void probe(struct probe *p, const char *path)
{
	p->path = path;
	p->err[0] = '\0';
	p->rc = nsd_label_read(path, &p->desc, p->err, sizeof(p->err));
}

/*
 * Decide where NSD <def> is local. Its own device path is tried first (the
 * usual case on a server), then every scanned path; either way the
 * descriptor's id and cluster id decide. <why> explains a refusal of the
 * record's own path, which is worth reporting even if a scanned path
 * matches.
 */
static const struct probe *locate(nsd_table *t, const struct nsd_def *def,
				  const struct probe *own, const struct probe *scan,
				  size_t nscan, char *why, size_t whysz)
{
	char idtxt[24], other[24];

	nsd_id_format(def->rec.id, idtxt, sizeof(idtxt));
	why[0] = '\0';
	if (own) {
		if (own->rc == MM_ENOENT && !own->err[0])
			snprintf(why, whysz, "%s holds no NSD descriptor", own->path);
		else if (own->rc)
			snprintf(why, whysz, "%s", own->err);
		else if (own->desc.cluster_id != t->cfg.cluster_id)
			snprintf(why, whysz, "%s is labelled for another cluster (id %" PRIu64 ")",
				 own->path, own->desc.cluster_id);
		else if (own->desc.nsd_id != def->rec.id) {
			nsd_id_format(own->desc.nsd_id, other, sizeof(other));
			snprintf(why, whysz, "%s holds NSD %s (id %s), not %s (id %s)", own->path,
				 own->desc.name, other, def->rec.name, idtxt);
		} else
			return own;
	}
	for (size_t i = 0; i < nscan; i++)
		if (scan[i].rc == 0 && scan[i].desc.nsd_id == def->rec.id &&
		    scan[i].desc.cluster_id == t->cfg.cluster_id)
			return &scan[i];
	return NULL;
}

static nsd_ldisk *ld_open(nsd_table *t, const char *path, uint64_t id, char *err, size_t errsz)
{
	nsd_ldisk *ld = calloc(1, sizeof(*ld));
	int rc;

	if (!ld) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	rc = nsd_disk_open(path, &t->cfg.disk_opts, &ld->disk);
	if (rc) {
		snprintf(err, errsz, "%s: cannot open: %s", path, mm_strerror(rc));
		free(ld);
		return NULL;
	}
	atomic_init(&ld->refs, 1);
	ld->t = t;
	ld->id = id;
	snprintf(ld->path, sizeof(ld->path), "%s", path);
	return ld;
}

int nsd_table_update(nsd_table *t, const struct nsd_def *defs, size_t n,
		     const char *const *scan, size_t nscan)
{
	struct probe *sp = calloc(nscan + 1, sizeof(*sp)), own;
	nsd_entry **ents = calloc(n + 1, sizeof(*ents)), **old = NULL;
	size_t nold = 0;
	int found = 0;

	if (!sp || !ents) {
		free(sp);
		free(ents);
		return MM_ENOMEM;
	}
	pthread_mutex_lock(&t->update_lock);
	for (size_t i = 0; i < nscan; i++)
		probe(&sp[i], scan[i]);
	for (size_t i = 0; i < n; i++) {
		const struct nsd_def *def = &defs[i];
		const struct probe *hit;
		nsd_ldisk *ld = NULL, *drop = NULL;
		char why[600], status[600], err[600];
		nsd_entry *e = nsd_table_get(t, def->rec.id);

		if (!e) {
			e = calloc(1, sizeof(*e));
			if (!e)
				continue;
			atomic_init(&e->refs, 1);
			e->id = def->rec.id;
			pthread_mutex_init(&e->lock, NULL);
			/* unpublished yet: no lock needed */
			snprintf(e->name, sizeof(e->name), "%s", def->rec.name);
		} else if (strcmp(e->name, def->rec.name) != 0) {
			/* readers of names hold t->lock (lookups, listing) or e->lock;
			 * only updates write them, one at a time */
			pthread_mutex_lock(&t->lock);
			pthread_mutex_lock(&e->lock);
			snprintf(e->name, sizeof(e->name), "%s", def->rec.name);
			pthread_mutex_unlock(&e->lock);
			pthread_mutex_unlock(&t->lock);
		}
		if (def->scan_device)
			probe(&own, def->rec.device);
		hit = locate(t, def, def->scan_device ? &own : NULL, sp, nscan, why, sizeof(why));
		if (hit) {
			pthread_mutex_lock(&e->lock);
			if (e->ld && e->ld->id == def->rec.id && strcmp(e->ld->path, hit->path) == 0) {
				ld = e->ld;
				ld_ref(ld);
			}
			pthread_mutex_unlock(&e->lock);
			if (!ld) {
				ld = ld_open(t, hit->path, def->rec.id, err, sizeof(err));
				if (!ld)
					snprintf(why, sizeof(why), "%s", err);
				else
					mm_info(SUB, "NSD %s found locally at %s", def->rec.name, hit->path);
			}
		}
		if (ld) {
			found++;
			snprintf(status, sizeof(status), "local %s", ld->path);
		} else if (why[0]) {
			snprintf(status, sizeof(status), "not used: %s", why);
		} else {
			snprintf(status, sizeof(status), "no local path");
		}
		pthread_mutex_lock(&e->lock);
		if (why[0] && strcmp(e->status, status) != 0)
			mm_error(SUB, "NSD %s: %s: device not used", def->rec.name, why);
		else if (!ld && e->ld)
			mm_notice(SUB, "NSD %s is no longer reached locally (was %s)", def->rec.name,
				  e->ld->path);
		memcpy(e->servers, def->servers, sizeof(e->servers));
		e->nservers = def->nservers < 0 ? 0 : def->nservers > NSD_MAX_SERVERS ?
			NSD_MAX_SERVERS : def->nservers;
		drop = e->ld;
		e->ld = ld;
		snprintf(e->status, sizeof(e->status), "%s", status);
		pthread_mutex_unlock(&e->lock);
		nsd_ldisk_put(drop);
		ents[i] = e;
	}
	/* swap in the new set; entries left out lose the table's reference */
	pthread_mutex_lock(&t->lock);
	old = t->ents;
	nold = t->nents;
	t->ents = calloc(n + 1, sizeof(*t->ents));
	t->nents = 0;
	if (!t->ents) {
		/* keep the old set; the new references go */
		t->ents = old;
		t->nents = nold;
		old = ents;
		nold = n;
		ents = NULL;
	} else {
		for (size_t i = 0; i < n; i++)
			if (ents[i])
				t->ents[t->nents++] = ents[i];	/* takes the get/create ref */
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < nold; i++)
		nsd_entry_put(old[i]);
	free(old);
	free(ents);
	free(sp);
	bury(t);
	pthread_mutex_unlock(&t->update_lock);
	return found;
}
