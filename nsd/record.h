/*
 * nsd/record.h - an NSD as the cluster knows it: its entry in the CCR
 * (/mmfs/nsd/<name>), written by mmcrnsd and read by every node.
 *
 * Stored as a JSON object; the decoder is strict (types, lengths, names,
 * usage) because the CCR is shared input: a bad entry is reported, never
 * used. Return convention: 0 or MM_E*, <err> says what was wrong.
 */
#ifndef MM_NSD_RECORD_H
#define MM_NSD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "nsd/desc.h"
#include "nsd/stanza.h"

#define NSD_CCR_PREFIX "/mmfs/nsd/"

struct nsd_record {
	char name[NSD_NAME_MAX + 1];
	uint64_t id;
	char device[1024];			/* as given to mmcrnsd (informational: */
						/* disks are found by id, not path) */
	char servers[NSD_MAX_SERVERS][256];
	int nservers;
	enum nsd_usage usage;
	int failure_group;
	char pool[256];
	char fs[256];				/* "" while not in a file system */
	uint64_t created;
};

/* JSON text of <r>; *out malloc'd. */
int nsd_record_encode(const struct nsd_record *r, char **out);
int nsd_record_decode(const char *text, size_t len, struct nsd_record *r,
		      char *err, size_t errsz);
/* Fill a record from a parsed stanza (name, device, servers, usage, pool,
 * failure group); id and created are the caller's. */
void nsd_record_from_stanza(struct nsd_record *r, const struct nsd_stanza *s);

#endif
