/*
 * nsd/table.h - the NSDs one node knows, and which of them it reaches
 * through a local device (discovery).
 *
 * The caller (mmfsd) gives the whole set of NSDs from the CCR, each with
 * its servers as node numbers and whether this node should look at the
 * record's device path (it is a server, or the NSD has no servers, so
 * every node is expected to see it), plus a list of further device paths
 * to probe (the nsdDevices attribute, globs already expanded). The table
 * reads the descriptor of every candidate and matches by NSD id and
 * cluster id, never by path: a device path that now holds another NSD, no
 * descriptor, or a damaged one is reported (log and status) and not used.
 *
 * Entries live as long as their NSD is in the set (or someone holds a
 * reference), so counters survive rescans; the local disk of an entry
 * (an nsd_ldisk) is reference-counted separately, so a rescan can retire
 * a disk while I/O on it is in flight: it is closed once the last I/O
 * completed, by the next nsd_table_update() or by nsd_table_destroy(),
 * never on a completion thread.
 *
 * Threads: every function is thread-safe. nsd_table_update() and
 * nsd_table_destroy() block (descriptor reads, disk opens and closes) and
 * must not be called from a completion callback. Return: 0 or MM_E*.
 */
#ifndef MM_NSD_TABLE_H
#define MM_NSD_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsd/disk.h"
#include "nsd/record.h"

typedef struct nsd_table nsd_table;
typedef struct nsd_entry nsd_entry;
typedef struct nsd_ldisk nsd_ldisk;

struct nsd_def {
	struct nsd_record rec;
	uint32_t servers[NSD_MAX_SERVERS];	/* node numbers, preference order */
	int nservers;
	bool scan_device;	/* probe rec.device on this node */
};

/* Counters of one NSD on this node: a copy (nsd_entry_stats). */
struct nsd_entry_stats {
	/* client side: I/O issued by this node, any path */
	uint64_t reads, writes, bytes_read, bytes_written;
	uint64_t errors;		/* requests that failed on every path */
	uint64_t failovers;		/* path switches after a failure */
	uint64_t retries;		/* resubmissions after EBUSY/fencing lag */
	uint64_t lat_total_us, lat_max_us;
	uint64_t in_flight;
	uint32_t last_server;		/* node of the last served I/O, 0: none */
	bool last_local;		/* the last I/O went to the local disk */
	/* server side: requests served for other nodes */
	uint64_t srv_requests, srv_bytes, srv_refused, srv_busy;
};

struct nsd_table_config {
	uint64_t cluster_id;
	struct nsd_disk_opts disk_opts;
};

int nsd_table_create(const struct nsd_table_config *cfg, nsd_table **out);
/* Every entry reference must have been dropped and every I/O completed. */
void nsd_table_destroy(nsd_table *t);

/*
 * Replace the set of NSDs with <defs> and rediscover: probe each
 * candidate device, open newly found disks, keep disks that are still
 * found at the same path, retire the rest. <scan> are further device
 * paths to probe for any NSD. Returns the number of NSDs reached locally,
 * or MM_E* (nothing changed).
 */
int nsd_table_update(nsd_table *t, const struct nsd_def *defs, size_t n,
		     const char *const *scan, size_t nscan);

/* Referenced entry by NSD id or name, NULL if unknown. */
nsd_entry *nsd_table_get(nsd_table *t, uint64_t id);
nsd_entry *nsd_table_get_name(nsd_table *t, const char *name);
/* Referenced entries, sorted by name; *out malloc'd (put each, free). */
int nsd_table_list(nsd_table *t, nsd_entry ***out, size_t *n);
void nsd_entry_ref(nsd_entry *e);
void nsd_entry_put(nsd_entry *e);

uint64_t nsd_entry_id(const nsd_entry *e);
/* Name, copied (the NSD name never changes for an id, but the copy keeps
 * callers off the entry lock). */
void nsd_entry_name(nsd_entry *e, char *buf, size_t sz);
/* Servers in preference order; returns how many (<= NSD_MAX_SERVERS). */
int nsd_entry_servers(nsd_entry *e, uint32_t *out);
/* The local disk with a reference held, or NULL; drop with nsd_ldisk_put
 * once the I/O submitted to it has completed (may be called on a
 * completion thread). */
nsd_disk *nsd_entry_local(nsd_entry *e, nsd_ldisk **ref);
/*
 * The same with a second reference, *guard, for whoever submits to the
 * disk: a request may complete and drop *ref while nsd_disk_submit() is
 * still running, and a rescan could then close the disk under it. Drop
 * *guard once the submit call has returned.
 */
nsd_disk *nsd_entry_local_pinned(nsd_entry *e, nsd_ldisk **ref, nsd_ldisk **guard);
void nsd_ldisk_put(nsd_ldisk *ld);
/* Discovery outcome for diagnostics: "local /dev/x", "no local path", or
 * the reason a device was not used. */
void nsd_entry_status(nsd_entry *e, char *buf, size_t sz);
/* Counters; <local> (may be NULL) gets the local disk's statistics, and
 * *has_local whether there is one. */
void nsd_entry_stats(nsd_entry *e, struct nsd_entry_stats *st,
		     struct nsd_disk_stats *local, bool *has_local);

/* The live counters behind struct nsd_entry_stats (same meanings): relaxed
 * atomics, updated by client.c and server.c. */
struct nsd_entry_counts {
	_Atomic uint64_t reads, writes, bytes_read, bytes_written;
	_Atomic uint64_t errors, failovers, retries;
	_Atomic uint64_t lat_total_us, lat_max_us;
	_Atomic uint64_t in_flight;
	_Atomic uint32_t last_server;
	atomic_bool last_local;
	_Atomic uint64_t srv_requests, srv_bytes, srv_refused, srv_busy;
};

/* Counter updates (client.c, server.c). */
struct nsd_entry_counts *nsd_entry_counters(nsd_entry *e);

#endif
