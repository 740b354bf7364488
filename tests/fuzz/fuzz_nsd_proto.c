/*
 * tests/fuzz/fuzz_nsd_proto.c - libFuzzer target for the NSD wire codec
 * (nsd/proto.h).
 *
 * The first input byte chooses what the rest is fed to:
 *   bit 0..1 = 0  nsd_proto_req_decode(MSG_NSD_READ)
 *              1  nsd_proto_req_decode(MSG_NSD_WRITE)
 *              2  nsd_proto_rep_decode, expecting the data length in the
 *                 next 4 bytes (big-endian) of the input, reply after them
 *              3  nsd_proto_req_decode with the message type taken from
 *                 the next 2 bytes (anything but READ/WRITE must fail)
 * Whatever decodes must satisfy the documented limits and re-encode to the
 * same header bytes (abort otherwise); a failure must leave a message.
 * Seeds (valid messages): tests/fuzz/seeds/fuzz_nsd_proto/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "nsd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_req(uint16_t type, const uint8_t *p, size_t n)
{
	struct nsd_proto_req r;
	uint8_t again[NSD_PROTO_REQ_LEN];
	char err[256];
	int rc;

	err[0] = '\0';
	rc = nsd_proto_req_decode(type, p, n, &r, err, sizeof(err));
	if (rc != MM_OK) {
		if (rc != MM_EPROTO || err[0] == '\0')
			abort();
		return;
	}
	if (type != MSG_NSD_READ && type != MSG_NSD_WRITE)
		abort();
	/* the documented limits */
	if (r.len == 0 || r.len > NSD_PROTO_MAX_IO || r.nsd_id == 0 ||
	    r.offset > UINT64_MAX - r.len || (r.flags & ~NSD_PF_ALL))
		abort();
	if (type == MSG_NSD_READ && (n != NSD_PROTO_REQ_LEN || r.data != NULL || r.crc != 0))
		abort();
	if (type == MSG_NSD_WRITE &&
	    (n != NSD_PROTO_REQ_LEN + r.len || r.data != p + NSD_PROTO_REQ_LEN ||
	     (!(r.flags & NSD_PF_CHECKSUM) && r.crc != 0)))
		abort();
	/* round trip */
	nsd_proto_req_encode(&r, again);
	if (memcmp(again, p, NSD_PROTO_REQ_LEN) != 0)
		abort();
}

static void check_rep(const uint8_t *p, size_t n)
{
	struct nsd_proto_rep r;
	uint8_t again[NSD_PROTO_REP_LEN];
	char err[256];
	size_t want;
	int rc;

	if (n < 4)
		return;
	want = mm_be32_get(p);
	p += 4;
	n -= 4;
	err[0] = '\0';
	rc = nsd_proto_rep_decode(p, n, want, &r, err, sizeof(err));
	if (rc != MM_OK) {
		if (rc != MM_EPROTO || err[0] == '\0')
			abort();
		return;
	}
	if (n != NSD_PROTO_REP_LEN + want || r.len != want || r.data != p + NSD_PROTO_REP_LEN ||
	    (r.flags & ~NSD_PF_ALL) || (!(r.flags & NSD_PF_CHECKSUM) && r.crc != 0))
		abort();
	nsd_proto_rep_encode(r.flags, r.crc, again);
	if (memcmp(again, p, NSD_PROTO_REP_LEN) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		check_req(MSG_NSD_READ, data + 1, size - 1);
		break;
	case 1:
		check_req(MSG_NSD_WRITE, data + 1, size - 1);
		break;
	case 2:
		check_rep(data + 1, size - 1);
		break;
	default:
		if (size >= 3)
			check_req(mm_be16_get(data + 1), data + 3, size - 3);
		break;
	}
	return 0;
}
