/*
 * nsd/proto.h - the NSD server protocol: what an NSD client sends to a
 * server node and what comes back. Carried as net/ RPCs (types 0x02xx);
 * the frame already carries the peer's authenticated node number and a
 * CRC of the bytes on the wire, so this layer adds only what the disk I/O
 * needs, plus an optional end-to-end CRC32C of the data itself (computed
 * on the disk buffer on one side and checked on the other: nsdChecksum).
 *
 * Request (NSD_PROTO_REQ_LEN bytes, big-endian), then for a write <len>
 * bytes of data:
 *   0  2  version (NSD_PROTO_VERSION)
 *   2  2  flags (NSD_PF_*)
 *   4  4  len: bytes to read or write, 1 .. NSD_PROTO_MAX_IO
 *   8  8  NSD id
 *   16 8  byte offset on the disk
 *   24 4  CRC32C of the data (write with NSD_PF_CHECKSUM), else 0
 *   28 4  reserved, 0
 *
 * Read reply (status MM_OK): NSD_PROTO_REP_LEN bytes, then <len> bytes:
 *   0  2  version
 *   2  2  flags (NSD_PF_CHECKSUM if the CRC is set)
 *   4  4  CRC32C of the data, else 0
 * Write reply: empty. An error reply's status is the MM_E* code and its
 * payload, if any, a message text (not NUL-terminated) naming the cause.
 *
 * The decoders are strict: every length, flag and reserved field is
 * checked, and a request whose payload size disagrees with its header is
 * refused (MM_EPROTO with a message). Alignment and range against the
 * actual disk are the server's to check (nsd/disk.h).
 */
#ifndef MM_NSD_PROTO_H
#define MM_NSD_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum {
	MSG_NSD_READ = 0x0201,
	MSG_NSD_WRITE = 0x0202,
	MSG_NSD_RESCAN = 0x0203,	/* one-way, empty: re-read the NSD table */
};

#define NSD_PROTO_VERSION 1u
#define NSD_PROTO_REQ_LEN 32u
#define NSD_PROTO_REP_LEN 8u
#define NSD_PROTO_MAX_IO (16u << 20)

enum {
	NSD_PF_CHECKSUM = 1u << 0,
	NSD_PF_ALL = NSD_PF_CHECKSUM,
};

struct nsd_proto_req {
	uint16_t flags;
	uint32_t len;
	uint64_t nsd_id;
	uint64_t offset;
	uint32_t crc;
	const void *data;	/* write: points into the decoded buffer; else NULL */
};

void nsd_proto_req_encode(const struct nsd_proto_req *r, uint8_t *out);
/* Decode a request of message <type> (MSG_NSD_READ or MSG_NSD_WRITE). */
int nsd_proto_req_decode(uint16_t type, const void *buf, size_t len,
			 struct nsd_proto_req *r, char *err, size_t errsz);

struct nsd_proto_rep {
	uint16_t flags;
	uint32_t crc;
	const void *data;
	size_t len;
};

void nsd_proto_rep_encode(uint16_t flags, uint32_t crc, uint8_t *out);
/* Decode a read reply that must carry exactly <want> data bytes. */
int nsd_proto_rep_decode(const void *buf, size_t len, size_t want,
			 struct nsd_proto_rep *r, char *err, size_t errsz);

#endif
