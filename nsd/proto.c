/* nsd/proto.c - see proto.h. */
#include "nsd/proto.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/err.h"
#include "common/wire.h"

void nsd_proto_req_encode(const struct nsd_proto_req *r, uint8_t *out)
{
	mm_be16_put(out, NSD_PROTO_VERSION);
	mm_be16_put(out + 2, r->flags);
	mm_be32_put(out + 4, r->len);
	mm_be64_put(out + 8, r->nsd_id);
	mm_be64_put(out + 16, r->offset);
	mm_be32_put(out + 24, r->crc);
	mm_be32_put(out + 28, 0);
}

int nsd_proto_req_decode(uint16_t type, const void *buf, size_t len,
			 struct nsd_proto_req *r, char *err, size_t errsz)
{
	const uint8_t *p = buf;
	uint16_t ver;
	size_t want;

	if (type != MSG_NSD_READ && type != MSG_NSD_WRITE) {
		snprintf(err, errsz, "message type 0x%04x is not an NSD request", type);
		return MM_EPROTO;
	}
	if (len < NSD_PROTO_REQ_LEN) {
		snprintf(err, errsz, "NSD request of %zu bytes is shorter than its %u-byte header",
			 len, NSD_PROTO_REQ_LEN);
		return MM_EPROTO;
	}
	ver = mm_be16_get(p);
	if (ver != NSD_PROTO_VERSION) {
		snprintf(err, errsz, "NSD protocol version %u is not supported (this node speaks %u)",
			 ver, NSD_PROTO_VERSION);
		return MM_EPROTO;
	}
	r->flags = mm_be16_get(p + 2);
	r->len = mm_be32_get(p + 4);
	r->nsd_id = mm_be64_get(p + 8);
	r->offset = mm_be64_get(p + 16);
	r->crc = mm_be32_get(p + 24);
	r->data = NULL;
	if (r->flags & ~NSD_PF_ALL) {
		snprintf(err, errsz, "NSD request has unknown flags 0x%04x", r->flags);
		return MM_EPROTO;
	}
	if (mm_be32_get(p + 28) != 0) {
		snprintf(err, errsz, "NSD request has a non-zero reserved field");
		return MM_EPROTO;
	}
	if (r->len == 0 || r->len > NSD_PROTO_MAX_IO) {
		snprintf(err, errsz, "NSD request length %" PRIu32 " is outside 1..%u",
			 r->len, NSD_PROTO_MAX_IO);
		return MM_EPROTO;
	}
	if (r->nsd_id == 0) {
		snprintf(err, errsz, "NSD request names NSD id 0");
		return MM_EPROTO;
	}
	if (r->offset > UINT64_MAX - r->len) {
		snprintf(err, errsz, "NSD request offset %" PRIu64 " + length overflows", r->offset);
		return MM_EPROTO;
	}
	/* the CRC field is the write data's CRC32C with NSD_PF_CHECKSUM, else 0 */
	if (type == MSG_NSD_READ && r->crc != 0) {
		snprintf(err, errsz, "NSD read request carries a data checksum");
		return MM_EPROTO;
	}
	if (type == MSG_NSD_WRITE && !(r->flags & NSD_PF_CHECKSUM) && r->crc != 0) {
		snprintf(err, errsz, "NSD write request has a checksum without its flag");
		return MM_EPROTO;
	}
	want = NSD_PROTO_REQ_LEN + (type == MSG_NSD_WRITE ? r->len : 0);
	if (len != want) {
		snprintf(err, errsz, "NSD %s request of %" PRIu32 " bytes arrived in a %zu-byte message "
			 "(expected %zu)", type == MSG_NSD_WRITE ? "write" : "read", r->len, len, want);
		return MM_EPROTO;
	}
	if (type == MSG_NSD_WRITE)
		r->data = p + NSD_PROTO_REQ_LEN;
	return MM_OK;
}

void nsd_proto_rep_encode(uint16_t flags, uint32_t crc, uint8_t *out)
{
	mm_be16_put(out, NSD_PROTO_VERSION);
	mm_be16_put(out + 2, flags);
	mm_be32_put(out + 4, crc);
}

int nsd_proto_rep_decode(const void *buf, size_t len, size_t want,
			 struct nsd_proto_rep *r, char *err, size_t errsz)
{
	const uint8_t *p = buf;

	if (len < NSD_PROTO_REP_LEN || len - NSD_PROTO_REP_LEN != want) {
		snprintf(err, errsz, "NSD read reply of %zu bytes for %zu bytes of data", len, want);
		return MM_EPROTO;
	}
	if (mm_be16_get(p) != NSD_PROTO_VERSION) {
		snprintf(err, errsz, "NSD read reply has protocol version %u", mm_be16_get(p));
		return MM_EPROTO;
	}
	r->flags = mm_be16_get(p + 2);
	r->crc = mm_be32_get(p + 4);
	if (r->flags & ~NSD_PF_ALL) {
		snprintf(err, errsz, "NSD read reply has unknown flags 0x%04x", r->flags);
		return MM_EPROTO;
	}
	if (!(r->flags & NSD_PF_CHECKSUM) && r->crc != 0) {
		snprintf(err, errsz, "NSD read reply has a checksum without its flag");
		return MM_EPROTO;
	}
	r->data = p + NSD_PROTO_REP_LEN;
	r->len = want;
	return MM_OK;
}
