/*
 * fs/oset.h - a set of inode numbers, for the log's orphans (fs/log.h,
 * "Orphans"). Not thread-safe: the owner locks. Inode 0 is never a member.
 */
#ifndef MM_FS_OSET_H
#define MM_FS_OSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oset {
	uint64_t *v;		/* cap slots, 0: empty */
	size_t cap, n;		/* cap: 0 or a power of two; n members */
};

bool oset_has(const struct oset *o, uint64_t ino);
/* MM_OK (also for 0 or a member already), or MM_ENOMEM (unchanged). */
int oset_add(struct oset *o, uint64_t ino);
void oset_del(struct oset *o, uint64_t ino);
void oset_clear(struct oset *o);
/* At most <max> members into <out>, in no order; how many. */
size_t oset_list(const struct oset *o, uint64_t *out, size_t max);

#endif
