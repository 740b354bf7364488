/*
 * net/frame.h - the wire frame of net/ (2026-05 - protocol version 1).
 *
 * Every message on a connection is one frame: a fixed 32-byte header
 * followed by <len> payload bytes. Every field is encoded explicitly,
 * big-endian (common/wire.h); no struct ever goes on the wire raw.
 *
 *   off size field        meaning
 *   0   4    magic        NET_FRAME_MAGIC ("MMNT")
 *   4   1    version      NET_FRAME_VERSION
 *   5   1    kind         enum net_frame_kind
 *   6   2    type         message type (the net_register() number)
 *   8   4    status       i32: MM_E* status of a reply, 0 otherwise
 *   12  8    id           request id; a reply carries its request's id
 *   20  4    len          payload length in bytes
 *   24  4    payload_crc  CRC32C of the payload (0 when len == 0)
 *   28  4    header_crc   CRC32C of bytes 0..27
 *
 * The codec is pure: no I/O, no allocation, no logging, so it is unit
 * tested and fuzzed directly (tests/fuzz/fuzz_frame.c).
 *
 * Decoding errors (each distinct, in the order they are checked):
 *   MM_ERANGE     truncated: fewer bytes than a header, or than the
 *                 payload the header announces (whole-frame decode only)
 *   MM_EPROTO     bad magic: not an mmfs frame at all
 *   MM_ENOTSUP    unsupported protocol version
 *   MM_ECHECKSUM  header CRC mismatch
 *   MM_EINVAL     unknown kind
 *   MM_ETOOBIG    payload length over the caller's limit
 *   MM_EIO        payload CRC mismatch (data corrupted in transit)
 * net_frame_strerror() names the condition for log lines.
 *
 * The version is checked before the header CRC on purpose: a later
 * version may change the header's layout, so only magic and version are
 * trusted to sit where this version expects them.
 */
#ifndef MM_NET_FRAME_H
#define MM_NET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crc32c.h"

#define NET_FRAME_MAGIC 0x4D4D4E54u	/* "MMNT" */
#define NET_FRAME_VERSION 1
#define NET_FRAME_HDR_LEN 32

enum net_frame_kind {
	NET_K_REQUEST = 1,	/* expects exactly one NET_K_REPLY with its id */
	NET_K_REPLY = 2,	/* status = handler's status */
	NET_K_ONEWAY = 3,	/* no reply */
	NET_K_HELLO = 4,	/* connector -> acceptor, payload net_hello */
	NET_K_HELLO_ACK = 5,	/* acceptor -> connector, payload net_hello,
				 * status 0 or the refusal (MM_EAUTH) */
};
#define NET_K_MAX NET_K_HELLO_ACK

struct net_frame_hdr {
	uint8_t kind;
	uint16_t type;
	int32_t status;
	uint64_t id;
	uint32_t len;
	uint32_t payload_crc;
};

/* Encode <h> (magic, version and header CRC are filled in; h->payload_crc
 * is taken as given) into <out>. */
void net_frame_hdr_encode(const struct net_frame_hdr *h, uint8_t out[NET_FRAME_HDR_LEN]);

/* Encode a header for <len> bytes at <payload>, computing the payload CRC. */
void net_frame_build(uint8_t out[NET_FRAME_HDR_LEN], uint8_t kind, uint16_t type,
		     int32_t status, uint64_t id, const void *payload, uint32_t len);

/* Decode and check a header from the first NET_FRAME_HDR_LEN of <len>
 * bytes at <buf>. <max_payload> bounds h->len. 0 or an error above
 * (MM_ERANGE if len < NET_FRAME_HDR_LEN). */
int net_frame_hdr_decode(const void *buf, size_t len, uint32_t max_payload,
			 struct net_frame_hdr *h);

/* 0 if <payload> (h->len bytes) matches h->payload_crc, else MM_EIO. */
int net_frame_payload_check(const struct net_frame_hdr *h, const void *payload);

/* Decode one whole frame at the start of <buf>: header checks, then the
 * payload must be present and match its CRC. Returns the number of bytes
 * the frame occupies (> 0; bytes after it are not looked at) and sets
 * *payload to point into <buf>, or an error above. */
int net_frame_decode(const void *buf, size_t len, uint32_t max_payload,
		     struct net_frame_hdr *h, const uint8_t **payload);

/* The condition behind a decode error: "truncated frame", "bad magic"... */
const char *net_frame_strerror(int rc);
/* "request", "reply", ...; "kind?" for others. */
const char *net_frame_kind_name(unsigned kind);

/* --- the hello payload (NET_K_HELLO and NET_K_HELLO_ACK) ---------------
 *
 *   u32 node_id      sender's node number
 *   u64 cluster_id   sender's cluster id
 *   u8  security     sender's enum net_security (must match)
 *   u8  reserved     0
 *   u16 reserved     0
 *   u32 flags        feature bits, none defined yet (0)
 *   str reason       u32 length + bytes: why a HELLO_ACK refuses ("" else)
 *
 * Nothing may follow the reason. */
#define NET_HELLO_REASON_MAX 160
#define NET_HELLO_MAX_LEN (24 + NET_HELLO_REASON_MAX)

struct net_hello {
	uint32_t node_id;
	uint64_t cluster_id;
	uint8_t security;
	uint32_t flags;
	char reason[NET_HELLO_REASON_MAX];
};

/* Encode into <out> (at least NET_HELLO_MAX_LEN bytes); returns the
 * length. A longer reason is cut. */
size_t net_hello_encode(const struct net_hello *h, uint8_t *out, size_t outsz);
/* Strict decode: MM_EPROTO if short, long, reserved bits set, a bad
 * security value or a reason that does not fit. */
int net_hello_decode(const void *buf, size_t len, struct net_hello *h);

#endif
