/*
 * net/frame.c - frame and hello codec (see frame.h). mm_crc32c_bulk() is in common/crc32c_bulk.c.
 *
 * Pure functions only: no I/O, no allocation, no logging.
 */
#include "net/frame.h"

#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"

/* ---- frame header ---------------------------------------------------- */

void net_frame_hdr_encode(const struct net_frame_hdr *h, uint8_t out[NET_FRAME_HDR_LEN])
{
	mm_be32_put(out, NET_FRAME_MAGIC);
	out[4] = NET_FRAME_VERSION;
	out[5] = h->kind;
	mm_be16_put(out + 6, h->type);
	mm_be32_put(out + 8, (uint32_t)h->status);
	mm_be64_put(out + 12, h->id);
	mm_be32_put(out + 20, h->len);
	mm_be32_put(out + 24, h->payload_crc);
	mm_be32_put(out + 28, mm_crc32c(0, out, 28));
}

void net_frame_build(uint8_t out[NET_FRAME_HDR_LEN], uint8_t kind, uint16_t type,
		     int32_t status, uint64_t id, const void *payload, uint32_t len)
{
	struct net_frame_hdr h = {
		.kind = kind,
		.type = type,
		.status = status,
		.id = id,
		.len = len,
		.payload_crc = len ? mm_crc32c_bulk(0, payload, len) : 0,
	};

	net_frame_hdr_encode(&h, out);
}

int net_frame_hdr_decode(const void *buf, size_t len, uint32_t max_payload,
			 struct net_frame_hdr *h)
{
	const uint8_t *p = buf;

	if (len < NET_FRAME_HDR_LEN)
		return MM_ERANGE;
	if (mm_be32_get(p) != NET_FRAME_MAGIC)
		return MM_EPROTO;
	if (p[4] != NET_FRAME_VERSION)
		return MM_ENOTSUP;
	if (mm_be32_get(p + 28) != mm_crc32c(0, p, 28))
		return MM_ECHECKSUM;
	if (p[5] < NET_K_REQUEST || p[5] > NET_K_MAX)
		return MM_EINVAL;
	h->kind = p[5];
	h->type = mm_be16_get(p + 6);
	h->status = (int32_t)mm_be32_get(p + 8);
	h->id = mm_be64_get(p + 12);
	h->len = mm_be32_get(p + 20);
	h->payload_crc = mm_be32_get(p + 24);
	if (h->len > max_payload)
		return MM_ETOOBIG;
	return MM_OK;
}

int net_frame_payload_check(const struct net_frame_hdr *h, const void *payload)
{
	uint32_t crc = h->len ? mm_crc32c_bulk(0, payload, h->len) : 0;

	return crc == h->payload_crc ? MM_OK : MM_EIO;
}

int net_frame_decode(const void *buf, size_t len, uint32_t max_payload,
		     struct net_frame_hdr *h, const uint8_t **payload)
{
	const uint8_t *p = buf;
	int rc = net_frame_hdr_decode(buf, len, max_payload, h);

	if (rc)
		return rc;
	if (len - NET_FRAME_HDR_LEN < h->len)
		return MM_ERANGE;
	rc = net_frame_payload_check(h, p + NET_FRAME_HDR_LEN);
	if (rc)
		return rc;
	*payload = p + NET_FRAME_HDR_LEN;
	return NET_FRAME_HDR_LEN + (int)h->len;
}

const char *net_frame_strerror(int rc)
{
	switch (rc) {
	case MM_OK:
		return "ok";
	case MM_ERANGE:
		return "truncated frame";
	case MM_EPROTO:
		return "bad magic";
	case MM_ENOTSUP:
		return "unsupported protocol version";
	case MM_ECHECKSUM:
		return "bad header checksum";
	case MM_EINVAL:
		return "unknown frame kind";
	case MM_ETOOBIG:
		return "payload length over limit";
	case MM_EIO:
		return "bad payload checksum";
	default:
		return "bad frame";
	}
}

const char *net_frame_kind_name(unsigned kind)
{
	static const char *const names[] = {
		[NET_K_REQUEST] = "request",
		[NET_K_REPLY] = "reply",
		[NET_K_ONEWAY] = "oneway",
		[NET_K_HELLO] = "hello",
		[NET_K_HELLO_ACK] = "hello-ack",
	};

	if (kind >= NET_K_REQUEST && kind <= NET_K_MAX)
		return names[kind];
	return "kind?";
}

/* ---- hello ----------------------------------------------------------- */

size_t net_hello_encode(const struct net_hello *h, uint8_t *out, size_t outsz)
{
	size_t rlen = strnlen(h->reason, NET_HELLO_REASON_MAX - 1);
	size_t n = 24 + rlen;

	if (outsz < n)
		return 0;
	mm_be32_put(out, h->node_id);
	mm_be64_put(out + 4, h->cluster_id);
	out[12] = h->security;
	out[13] = 0;
	mm_be16_put(out + 14, 0);
	mm_be32_put(out + 16, h->flags);
	mm_be32_put(out + 20, (uint32_t)rlen);
	memcpy(out + 24, h->reason, rlen);
	return n;
}

int net_hello_decode(const void *buf, size_t len, struct net_hello *h)
{
	mm_rbuf r;
	uint8_t r8;
	uint16_t r16;

	memset(h, 0, sizeof(*h));
	mm_rbuf_init(&r, buf, len);
	h->node_id = mm_get_u32(&r);
	h->cluster_id = mm_get_u64(&r);
	h->security = mm_get_u8(&r);
	r8 = mm_get_u8(&r);
	r16 = mm_get_u16(&r);
	h->flags = mm_get_u32(&r);
	mm_get_str(&r, h->reason, sizeof(h->reason));
	if (!mm_rbuf_ok(&r) || mm_rbuf_left(&r) != 0 || r8 != 0 || r16 != 0 ||
	    h->security > 2) {
		memset(h, 0, sizeof(*h));
		return MM_EPROTO;
	}
	return MM_OK;
}
