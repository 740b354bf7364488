/*
 * pagepool/nsdio.h - the pool's I/O backend over the NSD client: each
 * struct pp_io becomes one nsd_io (local or served, with failover).
 * Buffers of the pool are 64 KiB aligned and subblocks 4 KiB multiples,
 * which satisfies the NSD client's alignment rules.
 */
#ifndef MM_PAGEPOOL_NSDIO_H
#define MM_PAGEPOOL_NSDIO_H

#include "nsd/client.h"
#include "pagepool/pagepool.h"

/* Fill cfg->io and cfg->io_arg so the pool does its I/O through <c>. */
void pp_nsd_backend(struct pp_config *cfg, nsd_client *c);

#endif
