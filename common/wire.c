/* common/wire.c - see wire.h. */
#include "common/wire.h"

#include <stdlib.h>
#include <string.h>

void mm_wbuf_init(mm_wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void mm_wbuf_free(mm_wbuf *w)
{
	free(w->buf);
	mm_wbuf_init(w);
}

bool mm_wbuf_reserve(mm_wbuf *w, size_t n)
{
	size_t need, cap;
	uint8_t *nb;

	if (w->failed)
		return false;
	if (n > SIZE_MAX - w->len) {
		w->failed = true;
		return false;
	}
	need = w->len + n;
	if (need <= w->cap)
		return true;
	cap = w->cap ? w->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->failed = true;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

uint8_t *mm_wbuf_take(mm_wbuf *w, size_t *len)
{
	uint8_t *b = w->buf;

	if (len)
		*len = w->len;
	mm_wbuf_init(w);
	return b;
}

void mm_put_bytes(mm_wbuf *w, const void *p, size_t n)
{
	if (!mm_wbuf_reserve(w, n))
		return;
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void mm_put_u8(mm_wbuf *w, uint8_t v)
{
	mm_put_bytes(w, &v, 1);
}

void mm_put_u16(mm_wbuf *w, uint16_t v)
{
	uint8_t b[2];

	mm_be16_put(b, v);
	mm_put_bytes(w, b, 2);
}

void mm_put_u32(mm_wbuf *w, uint32_t v)
{
	uint8_t b[4];

	mm_be32_put(b, v);
	mm_put_bytes(w, b, 4);
}

void mm_put_u64(mm_wbuf *w, uint64_t v)
{
	uint8_t b[8];

	mm_be64_put(b, v);
	mm_put_bytes(w, b, 8);
}

void mm_put_str(mm_wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > UINT32_MAX) {
		w->failed = true;
		return;
	}
	mm_put_u32(w, (uint32_t)n);
	mm_put_bytes(w, s, n);
}

void mm_rbuf_init(mm_rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->failed = false;
}

const void *mm_get_ref(mm_rbuf *r, size_t n)
{
	const void *p;

	if (r->failed || n > r->len - r->off) {
		r->failed = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

void mm_get_bytes(mm_rbuf *r, void *out, size_t n)
{
	const void *p = mm_get_ref(r, n);

	if (p && n)
		memcpy(out, p, n);
	else if (!p && n)
		memset(out, 0, n);
}

uint8_t mm_get_u8(mm_rbuf *r)
{
	const uint8_t *p = mm_get_ref(r, 1);

	return p ? p[0] : 0;
}

uint16_t mm_get_u16(mm_rbuf *r)
{
	const uint8_t *p = mm_get_ref(r, 2);

	return p ? mm_be16_get(p) : 0;
}

uint32_t mm_get_u32(mm_rbuf *r)
{
	const uint8_t *p = mm_get_ref(r, 4);

	return p ? mm_be32_get(p) : 0;
}

uint64_t mm_get_u64(mm_rbuf *r)
{
	const uint8_t *p = mm_get_ref(r, 8);

	return p ? mm_be64_get(p) : 0;
}

void mm_get_str(mm_rbuf *r, char *out, size_t outsz)
{
	uint32_t n = mm_get_u32(r);
	const char *p;

	if (outsz)
		out[0] = '\0';
	if (r->failed)
		return;
	if (n >= outsz) {
		r->failed = true;
		return;
	}
	p = mm_get_ref(r, n);
	if (!p)
		return;
	if (memchr(p, '\0', n)) {
		r->failed = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}
