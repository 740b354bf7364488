/*
 * mmfsd/fsdio.h - a stripe group's disks as fs/'s synchronous disk I/O
 * interface (struct fs_disk_io, fs/mkfs.h) over this daemon's NSD client:
 * mmcrfs formats through it, mmlsfs / mmdf / mmdelfs read and clear
 * descriptors through it, and mount reads the descriptor with it.
 * 2026-12 (issue 12).
 *
 * Disk index i (the descriptor's disk table order) is <nsd_ids>[i]. A
 * request is split into pieces of at most NSD_IO_MAX bytes; a buffer that
 * is not NSD_IO_ALIGN-aligned goes through an aligned bounce buffer of its
 * own (one per call: calls from several threads do not share one).
 * Offsets and lengths must be multiples of NSD_IO_ALIGN (fs/ uses 4 KiB
 * units), and writes below NSD_DESC_BYTES are refused by the client
 * (MM_EPERM): the NSD label is not fs/'s to write.
 *
 * Errors: the NSD client's code (MM_EIO, MM_ENOLEASE, MM_ENOENT for an
 * NSD this node does not know, ...), or MM_EINVAL for a disk index out of
 * range or a misaligned request. The message of the last failure, naming
 * the NSD, is kept (fsdio_error) because fs_disk_io carries only a code;
 * it is also logged.
 *
 * Threads: read and write may be called from any threads at once (never
 * from an NSD completion callback: they block). fsdio_close only after
 * every call returned. The nsd_client must outlive the fsdio.
 * Return convention: MM_OK or a negative MM_E* (common/err.h).
 */
#ifndef MM_MMFSD_FSDIO_H
#define MM_MMFSD_FSDIO_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mkfs.h"
#include "nsd/client.h"

struct fsdio;

/* Disks 0 .. <n>-1 are NSDs <nsd_ids>[0 ..] named <names>[0 ..] (names
 * may be NULL: messages then give the ids). Copies both arrays. */
int fsdio_open(nsd_client *c, const uint64_t *nsd_ids, const char *const *names, uint32_t n,
	       struct fsdio **out);
/* The interface for fs/ (arg is <f>). */
struct fs_disk_io fsdio_ops(struct fsdio *f);
uint32_t fsdio_ndisks(const struct fsdio *f);
/* Copy of the last failure's message ("" if none). */
void fsdio_error(struct fsdio *f, char *buf, size_t sz);
void fsdio_close(struct fsdio *f);

/* Counters (tests, diagnostics): calls and bytes, bounced bytes. */
struct fsdio_stats {
	uint64_t reads, writes, bytes_read, bytes_written, bounced;
};
void fsdio_stats(struct fsdio *f, struct fsdio_stats *st);

#endif
