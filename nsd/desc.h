/*
 * nsd/desc.h - the NSD descriptor: the label at the start of every disk.
 *
 * The first NSD_RESERVED_BYTES (1 MiB) of a disk belong to mmfs: the NSD
 * descriptor in the first 4 KiB, the rest kept for the file system's use
 * (its stripe group descriptor copy, later). File system data starts at
 * NSD_RESERVED_BYTES. A disk is identified by the NSD id in its
 * descriptor, never by its path.
 *
 * On-disk layout (big-endian, NSD_DESC_BYTES long):
 *   0    8  magic "MMFSNSD1"
 *   8    4  format version (NSD_DESC_VERSION)
 *   12   4  descriptor length (NSD_DESC_BYTES)
 *   16   8  NSD id (random, non-zero)
 *   24   8  cluster id
 *   32  64  NSD name, NUL-padded
 *   96   8  creation time (seconds since the epoch)
 *   104  8  disk size in bytes when labelled
 *   112  4  logical sector size
 *   116  4  reserved area size (NSD_RESERVED_BYTES)
 *   120 .. 4091  zero (reserved)
 *   4092 4  CRC32C of bytes 0 .. 4091
 *
 * Return convention: 0 or MM_E*. nsd_desc_decode distinguishes "no
 * descriptor" (MM_ENOENT: the magic is absent: a blank or foreign disk)
 * from a damaged one (MM_ECHECKSUM, MM_EPROTO, MM_ENOTSUP), each with a
 * message in <err>.
 */
#ifndef MM_NSD_DESC_H
#define MM_NSD_DESC_H

#include <stddef.h>
#include <stdint.h>

#define NSD_DESC_BYTES 4096u
#define NSD_RESERVED_BYTES (1u << 20)
#define NSD_DESC_VERSION 1u
#define NSD_NAME_MAX 63		/* characters, without the NUL */

struct nsd_desc {
	uint32_t version;
	uint64_t nsd_id;
	uint64_t cluster_id;
	char name[NSD_NAME_MAX + 1];
	uint64_t created;
	uint64_t disk_size;
	uint32_t sector_size;
	uint32_t reserved_size;
};

/* Encode <d> into <buf> (NSD_DESC_BYTES, zeroed here first). */
int nsd_desc_encode(const struct nsd_desc *d, uint8_t *buf);
/* Decode and check the descriptor in <buf> (at least <len> bytes). */
int nsd_desc_decode(const uint8_t *buf, size_t len, struct nsd_desc *d,
		    char *err, size_t errsz);

/* True if <name> is a valid NSD name: 1..63 of [A-Za-z0-9_], not
 * starting with a digit (GPFS's rule, so it can be a device name too). */
int nsd_name_valid(const char *name);

/* "0A1B2C3D4E5F6071" (16 hex digits, GPFS's NSD volume id style). */
void nsd_id_format(uint64_t id, char *buf, size_t sz);
int nsd_id_parse(const char *s, uint64_t *id);

#endif
