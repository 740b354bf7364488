/*
 * nsd/label.h - reading, writing and clearing the NSD descriptor of a
 * device (block device or regular file) by path: what mmcrnsd, mmdelnsd
 * and disk discovery do. All I/O goes through nsd_sys (nsd/sys.h), so
 * tests can fail any of it.
 *
 * Return convention: 0 or MM_E*; <err> names the device and the cause.
 * nsd_label_read returns MM_ENOENT when the device holds no descriptor.
 */
#ifndef MM_NSD_LABEL_H
#define MM_NSD_LABEL_H

#include <stddef.h>
#include <stdint.h>

#include "nsd/desc.h"

/* Size in bytes of the device at <path>. */
int nsd_label_size(const char *path, uint64_t *size, char *err, size_t errsz);
int nsd_label_read(const char *path, struct nsd_desc *d, char *err, size_t errsz);
/* Write <d> (durable before return). The device must be larger than the
 * reserved area. */
int nsd_label_write(const char *path, const struct nsd_desc *d, char *err, size_t errsz);
/* Zero the descriptor (durable before return). */
int nsd_label_clear(const char *path, char *err, size_t errsz);

#endif
