/*
 * tests/fuzz/fuzz_fs_store.h - what the fs/ fuzz targets share: a bounded
 * memory fs_bstore, an input cursor and the metadata-block CRC fix.
 *
 * The store holds at most FZ_MAXBLK blocks of FS_MB bytes (a write get
 * past that is MM_ERANGE), so one input's memory stays bounded whatever a
 * module asks for. It checks the bstore contract as a real store would
 * need it kept: a put of a block not got, a punch of a block still held,
 * and a block still held when the input is done all abort.
 * Header only (static functions): each target is one translation unit.
 */
#ifndef MM_TESTS_FUZZ_FS_STORE_H
#define MM_TESTS_FUZZ_FS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"
#include "fs/format.h"

#define FZ_MAXBLK 24

struct fz_blk {
	uint64_t ino, blk;
	uint8_t *data;
	int pins;
};

struct fz_store {
	struct fz_blk b[FZ_MAXBLK];
	unsigned n;
	long pinned;
	/* Optional: only these inodes' blocks exist (0: any). */
	uint64_t ino_lo, ino_hi;
	struct fs_bstore bs;
};

static inline struct fz_blk *fz_find(struct fz_store *s, uint64_t ino, uint64_t blk)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->b[i].ino == ino && s->b[i].blk == blk)
			return &s->b[i];
	return NULL;
}

/* Add block (ino, blk) zeroed, or NULL if the store is full or has it. */
static inline uint8_t *fz_add(struct fz_store *s, uint64_t ino, uint64_t blk)
{
	struct fz_blk *b;

	if (s->n == FZ_MAXBLK || fz_find(s, ino, blk))
		return NULL;
	b = &s->b[s->n];
	b->data = calloc(1, FS_MB);
	if (!b->data)
		abort();
	b->ino = ino;
	b->blk = blk;
	b->pins = 0;
	s->n++;
	return b->data;
}

static inline int fz_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct fz_store *s = arg;
	struct fz_blk *b = fz_find(s, ino, blk);

	if (s->ino_hi && (ino < s->ino_lo || ino > s->ino_hi))
		return MM_EINVAL;
	if (!b) {
		if (!write)
			return MM_ENOENT;
		if (!fz_add(s, ino, blk))
			return MM_ERANGE;
		b = &s->b[s->n - 1];
	}
	b->pins++;
	s->pinned++;
	*data = b->data;
	return MM_OK;
}

static inline void fz_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct fz_store *s = arg;
	struct fz_blk *b = fz_find(s, ino, blk);

	(void)dirty;
	if (!b || b->data != data || b->pins <= 0)
		abort();
	b->pins--;
	s->pinned--;
}

static inline int fz_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct fz_store *s = arg;
	struct fz_blk *b = fz_find(s, ino, blk);

	if (s->ino_hi && (ino < s->ino_lo || ino > s->ino_hi))
		return MM_EINVAL;
	if (!b)
		return MM_OK;
	if (b->pins)
		abort();
	free(b->data);
	*b = s->b[--s->n];
	return MM_OK;
}

static inline void fz_store_init(struct fz_store *s)
{
	memset(s, 0, sizeof(*s));
	s->bs = (struct fs_bstore){.get = fz_get, .put = fz_put, .punch = fz_punch, .arg = s};
}

/* Every block put, then freed. */
static inline void fz_store_done(struct fz_store *s)
{
	if (s->pinned)
		abort();
	for (unsigned i = 0; i < s->n; i++)
		free(s->b[i].data);
	s->n = 0;
}

/* The format's CRC: [0, len) with bytes 12..16 taken as zero. */
static inline void fz_fix_crc(uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t c = mm_crc32c_bulk(0, p, 12);

	c = mm_crc32c_bulk(c, zero, 4);
	mm_be32_put(p + 12, mm_crc32c_bulk(c, p + 16, len - 16));
}

/* Make a block's header name what a reader expects (magic, type,
 * version, fsid, owner, number), keeping the input's a, b and the rest. */
static inline void fz_fix_header(uint8_t *p, uint8_t type, uint32_t fsid, uint64_t ino, uint64_t blk)
{
	mm_be32_put(p, FS_MAGIC_MB);
	p[4] = type;
	p[5] = FS_MB_VERSION;
	p[6] = p[7] = 0;
	mm_be32_put(p + 8, fsid);
	mm_be64_put(p + 16, ino);
	mm_be64_put(p + 24, blk);
	memset(p + 48, 0, 16);
}

/* ---- the input ---- */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* The next <k> (<= 8) bytes big-endian; zeros past the end. */
static inline uint64_t fz_u(struct fz_in *in, unsigned k)
{
	uint64_t v = 0;

	while (k--) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

/* Up to <max> bytes into <out>: how many were there. */
static inline size_t fz_bytes(struct fz_in *in, uint8_t *out, size_t max)
{
	size_t k = in->n < max ? in->n : max;

	memcpy(out, in->p, k);
	in->p += k;
	in->n -= k;
	return k;
}

#endif
