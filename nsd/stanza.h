/*
 * nsd/stanza.h - NSD stanza files, as mmcrnsd, mmcrfs and mmadddisk read
 * them (GPFS syntax):
 *
 *   %nsd: device=/dev/sdb nsd=nsd1 servers=node1,node2
 *         usage=dataAndMetadata failureGroup=1 pool=system   # comment
 *
 * A stanza starts with "%keyword:" as the first token of a line and goes
 * on over following lines of Attr=value clauses; it ends at the next
 * stanza or a blank line. '#' starts a comment anywhere; a comment-only
 * line does not end a stanza. Any other line (no '=', not a stanza, not
 * a comment) is an error. Stanzas of other types (%pool, ...) are skipped.
 *
 * Every error names the source, the line and the field:
 *   "disks.stanza:3: usage: \"dataAndMeta\" is not one of dataAndMetadata,
 *    dataOnly, metadataOnly, descOnly, localCache"
 * Return convention: 0 or MM_E*; nothing is returned on error.
 */
#ifndef MM_NSD_STANZA_H
#define MM_NSD_STANZA_H

#include <stdbool.h>
#include <stddef.h>

#include "nsd/desc.h"

#define NSD_MAX_SERVERS 8
/* Failure groups: -1 (none) .. 65535; mmcrnsd's default is 4000 + the
 * first server's node number, so values above 4000 occur. */
#define NSD_FG_MAX 65535

enum nsd_usage {
	NSD_USAGE_DATA_AND_METADATA = 0,
	NSD_USAGE_DATA_ONLY,
	NSD_USAGE_METADATA_ONLY,
	NSD_USAGE_DESC_ONLY,
	NSD_USAGE_LOCAL_CACHE,
};

/* Longest line of a stanza file. */
#define NSD_STANZA_LINE_MAX 8191

struct nsd_stanza {
	int line;				/* where the stanza starts */
	int last_line;				/* its last Attr=value line */
	char nsd[NSD_NAME_MAX + 1];		/* "" if not given */
	char device[1024];
	char servers[NSD_MAX_SERVERS][256];
	int nservers;
	enum nsd_usage usage;
	bool usage_set;
	int failure_group;			/* -1 .. NSD_FG_MAX */
	bool failure_group_set;
	char pool[256];				/* "system" unless given */
};

const char *nsd_usage_name(enum nsd_usage u);
/* Case-insensitive; MM_EINVAL if unknown. */
int nsd_usage_parse(const char *s, enum nsd_usage *u);
/* True if NSDs of this usage hold metadata (only the system pool may). */
bool nsd_usage_metadata(enum nsd_usage u);

/* Parse the %nsd stanzas of <text>; *out is malloc'd (free()). <source>
 * names the text in errors ("disks.stanza"). */
int nsd_stanza_parse(const char *text, size_t len, const char *source,
		     struct nsd_stanza **out, size_t *n, char *err, size_t errsz);
int nsd_stanza_parse_file(const char *path, struct nsd_stanza **out, size_t *n,
			  char *err, size_t errsz);

/* One "%nsd: ..." line per stanza, every field written out; *out malloc'd. */
int nsd_stanza_format(const struct nsd_stanza *s, size_t n, char **out);
/*
 * <text> with each %nsd stanza replaced by its one-line form from <s>
 * (what nsd_stanza_parse returned for <text>, possibly with fields filled
 * in): comments, blank lines and other stanza types stay as they were;
 * a comment on a stanza's first line stays on it (if the line does not
 * grow past NSD_STANZA_LINE_MAX), one on a continuation line goes on a
 * line of its own. *out malloc'd. MM_EINVAL if <s> does not match <text>.
 */
int nsd_stanza_rewrite(const char *text, size_t len, const struct nsd_stanza *s, size_t n,
		       char **out);

#endif
