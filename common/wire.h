/*
 * common/wire.h - explicit big-endian encoding and strict decoding.
 *
 * Nothing goes on the wire or on disk as a raw struct. Writers append to a
 * growable mm_wbuf; readers consume an mm_rbuf. Both are sticky-error: after
 * the first failure (allocation, or reading past the end, or a string over
 * its limit) every further call is a no-op and mm_*_ok() reports false, so a
 * decoder checks once at the end instead of after every field.
 *
 * Memory: mm_wbuf owns its buffer (free with mm_wbuf_free, or take it with
 * mm_wbuf_take). mm_rbuf never owns; mm_rbuf_str() copies into the caller's
 * buffer.
 */
#ifndef MM_COMMON_WIRE_H
#define MM_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mm_wbuf {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool failed;
} mm_wbuf;

typedef struct mm_rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool failed;
} mm_rbuf;

void mm_wbuf_init(mm_wbuf *w);
void mm_wbuf_free(mm_wbuf *w);
/* Ensure room for <n> more bytes; returns false (and fails w) on ENOMEM. */
bool mm_wbuf_reserve(mm_wbuf *w, size_t n);
/* Hand the buffer to the caller (free()) and reset <w>. */
uint8_t *mm_wbuf_take(mm_wbuf *w, size_t *len);
static inline bool mm_wbuf_ok(const mm_wbuf *w) { return !w->failed; }

void mm_put_u8(mm_wbuf *w, uint8_t v);
void mm_put_u16(mm_wbuf *w, uint16_t v);
void mm_put_u32(mm_wbuf *w, uint32_t v);
void mm_put_u64(mm_wbuf *w, uint64_t v);
void mm_put_bytes(mm_wbuf *w, const void *p, size_t n);
/* u32 length, then the bytes (no NUL). NULL is written as "". */
void mm_put_str(mm_wbuf *w, const char *s);

void mm_rbuf_init(mm_rbuf *r, const void *p, size_t len);
static inline bool mm_rbuf_ok(const mm_rbuf *r) { return !r->failed; }
static inline size_t mm_rbuf_left(const mm_rbuf *r) { return r->len - r->off; }

uint8_t mm_get_u8(mm_rbuf *r);
uint16_t mm_get_u16(mm_rbuf *r);
uint32_t mm_get_u32(mm_rbuf *r);
uint64_t mm_get_u64(mm_rbuf *r);
/* Copy <n> bytes out; fails if fewer remain. */
void mm_get_bytes(mm_rbuf *r, void *out, size_t n);
/* Point into the buffer without copying; NULL (and fails r) if short. */
const void *mm_get_ref(mm_rbuf *r, size_t n);
/*
 * Read a string written by mm_put_str into <out> (size <outsz>, always
 * NUL-terminated). Fails if it does not fit or contains a NUL byte.
 */
void mm_get_str(mm_rbuf *r, char *out, size_t outsz);

/* Raw big-endian helpers for fixed headers. */
static inline void mm_be16_put(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void mm_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void mm_be64_put(uint8_t *p, uint64_t v)
{
	mm_be32_put(p, (uint32_t)(v >> 32));
	mm_be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t mm_be16_get(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t mm_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t mm_be64_get(const uint8_t *p)
{
	return (uint64_t)mm_be32_get(p) << 32 | mm_be32_get(p + 4);
}

#endif
