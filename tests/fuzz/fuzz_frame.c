/*
 * tests/fuzz/fuzz_frame.c - libFuzzer target for the net/ wire codec.
 *
 * Feeds arbitrary bytes to net_frame_decode() (as the read path would see
 * them, with a payload limit) and to net_hello_decode(), and checks that
 * whatever decodes re-encodes to the same bytes. Seeds (valid frames):
 * tests/fuzz/seeds/fuzz_frame/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "net/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_frame_hdr h;
	struct net_hello hello;
	const uint8_t *payload = NULL;
	size_t off = 0;
	int rc;

	/* a stream of frames, as one connection would carry them */
	while (off < size) {
		rc = net_frame_decode(data + off, size - off, 1u << 16, &h, &payload);
		if (rc < 0) {
			if (net_frame_strerror(rc)[0] == 0)
				abort();
			break;
		}
		if (rc < NET_FRAME_HDR_LEN || (size_t)rc > size - off ||
		    (size_t)rc != NET_FRAME_HDR_LEN + h.len || payload != data + off + NET_FRAME_HDR_LEN)
			abort();
		/* the header re-encodes to the same 32 bytes */
		{
			uint8_t again[NET_FRAME_HDR_LEN];

			net_frame_hdr_encode(&h, again);
			if (memcmp(again, data + off, NET_FRAME_HDR_LEN) != 0)
				abort();
		}
		if (h.kind == NET_K_HELLO || h.kind == NET_K_HELLO_ACK) {
			if (net_hello_decode(payload, h.len, &hello) == MM_OK) {
				uint8_t buf[NET_HELLO_MAX_LEN];
				size_t n = net_hello_encode(&hello, buf, sizeof(buf));

				if (n != h.len || memcmp(buf, payload, n) != 0)
					abort();
			}
		}
		off += (size_t)rc;
	}
	/* the bare header decoder agrees with the whole-frame one */
	rc = net_frame_hdr_decode(data, size, 1u << 16, &h);
	if (rc == MM_OK && size >= NET_FRAME_HDR_LEN + (size_t)h.len &&
	    net_frame_payload_check(&h, data + NET_FRAME_HDR_LEN) == MM_OK &&
	    net_frame_decode(data, size, 1u << 16, &h, &payload) != (int)(NET_FRAME_HDR_LEN + h.len))
		abort();
	/* the hello decoder on raw bytes */
	if (net_hello_decode(data, size, &hello) == MM_OK && strlen(hello.reason) >= NET_HELLO_REASON_MAX)
		abort();
	return 0;
}
