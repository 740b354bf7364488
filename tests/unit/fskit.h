/*
 * tests/unit/fskit.h - a memory fs_bstore for fs/ tests: a hash of
 * blocks keyed by (ino, blk), FS_MB bytes each (or s->bsize, set before
 * the first get, for a test that keeps other things by the same key).
 * A get of a hole for write makes a zeroed block; punch removes one.
 *
 * It counts get calls (failed and holes included), gets, write gets,
 * holes, puts, dirty puts and punches; s->held is what was got and not
 * yet put (a put of a block not got is a TCHECK failure), so a test shows
 * every path puts what it got (fk_fini asserts there was none). With s->record it lists the (ino, blk) of
 * every get (s->touched, s->ntouched; the test resets ntouched). Failure
 * injection, checked first on every get call, with s->fail_rc (0:
 * MM_EIO): s->fail_in = N, the Nth call from now fails (once);
 * s->fail_every = N, every Nth call fails; s->fail_blk, a get of
 * (s->fail_ino, s->fail_blk_no) fails. s->t.count is the blocks stored.
 * fk_use_checked(s) gives the store a fs_bstore.checked, as a cache's:
 * a flag per block, set when the caller says so, cleared by
 * fk_reread (every block as if read from disk again).
 * fk_use_changing(s) gives it a fs_bstore.changing and holds the caller
 * to it: a block's bytes at its first write get are kept until its last
 * put, and every byte changed that the caller did not name first counts
 * in s->undeclared.
 *
 * Header-only, shared by the test_fs_*.c programs. No locking: one
 * thread at a time.
 */
#ifndef MM_TESTS_UNIT_FSKIT_H
#define MM_TESTS_UNIT_FSKIT_H

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/hash.h"
#include "fs/format.h"
#include "tests/unit/testkit.h"

struct fk_key {
	uint64_t ino, blk;
};

struct fk_blk {
	struct mm_hnode hn;
	uint64_t ino, blk;
	uint8_t *data;
	bool checked;		/* fk_use_checked: verified since "read" */
	/* fk_use_changing: held (gets not put), and from the first write
	 * get to the last put its bytes then and the bytes named */
	int holds;
	uint8_t *snap, *named;
};

struct fk_store {
	struct mm_htab t;		/* fk_blk by (ino, blk) */
	struct fs_bstore bs;		/* get / put / punch on this store */
	size_t bsize;			/* bytes a block (FS_MB) */
	uint64_t calls;			/* get calls, failed and holes included */
	uint64_t gets, wgets, holes, puts, dirty, punches;
	long held;			/* got and not yet put */
	uint64_t bad_puts;		/* puts of a block not got (fk_fini asserts 0) */
	/* failure injection */
	int fail_rc;			/* what a failed get returns (0: MM_EIO) */
	uint64_t fail_in;		/* the Nth get call from now fails (0: none) */
	uint64_t fail_every;		/* every Nth get call fails (0: none) */
	bool fail_blk;			/* a get of (fail_ino, fail_blk_no) fails */
	uint64_t fail_ino, fail_blk_no;
	/* the blocks got, with record */
	bool record;
	struct fk_key *touched;
	size_t ntouched, cap_touched;
	/* fk_use_changing: bytes changed without being named first, and
	 * bytes named (counted at each block's last put) */
	bool track_changes;
	uint64_t undeclared, named_bytes;
};

static inline uint64_t fk_hash(uint64_t ino, uint64_t blk)
{
	return mm_hash_u64(ino * 0x9e3779b97f4a7c15ull ^ blk);
}

static inline bool fk_eq(const struct mm_hnode *n, const void *k)
{
	const struct fk_blk *b = (const struct fk_blk *)n;
	const struct fk_key *key = k;

	return b->ino == key->ino && b->blk == key->blk;
}

static inline struct fk_blk *fk_find(const struct fk_store *s, uint64_t ino, uint64_t blk)
{
	struct fk_key k = {ino, blk};

	return (struct fk_blk *)mm_htab_find(&s->t, fk_hash(ino, blk), fk_eq, &k);
}

/* The data of block (ino, blk), or NULL for a hole. */
static inline uint8_t *fk_data(const struct fk_store *s, uint64_t ino, uint64_t blk)
{
	struct fk_blk *b = fk_find(s, ino, blk);

	return b ? b->data : NULL;
}

/* A new zeroed block (ino, blk); it must not be there yet. */
static inline struct fk_blk *fk_add(struct fk_store *s, uint64_t ino, uint64_t blk)
{
	struct fk_blk *b = calloc(1, sizeof(*b));

	if (!b || !(b->data = calloc(1, s->bsize ? s->bsize : FS_MB)))
		abort();
	b->ino = ino;
	b->blk = blk;
	mm_htab_insert(&s->t, &b->hn, fk_hash(ino, blk));
	return b;
}

static inline void fk_del(struct fk_store *s, struct fk_blk *b)
{
	mm_htab_remove(&s->t, &b->hn);
	free(b->snap);
	free(b->named);
	free(b->data);
	free(b);
}

static int fk_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data)
{
	struct fk_store *s = arg;
	struct fk_blk *b;

	s->calls++;
	if ((s->fail_in && --s->fail_in == 0) || (s->fail_every && s->calls % s->fail_every == 0) ||
	    (s->fail_blk && ino == s->fail_ino && blk == s->fail_blk_no))
		return s->fail_rc ? s->fail_rc : MM_EIO;
	b = fk_find(s, ino, blk);
	if (!b) {
		if (!write) {
			s->holes++;
			return MM_ENOENT;
		}
		b = fk_add(s, ino, blk);
	}
	s->gets++;
	s->wgets += write;
	s->held++;
	b->holds++;
	if (s->track_changes && write && !b->snap) {
		size_t n = s->bsize ? s->bsize : FS_MB;

		b->snap = malloc(n);
		b->named = calloc(1, n);
		if (!b->snap || !b->named)
			abort();
		memcpy(b->snap, b->data, n);
	}
	if (s->record) {
		if (s->ntouched == s->cap_touched) {
			s->cap_touched = s->cap_touched ? 2 * s->cap_touched : 256;
			s->touched = realloc(s->touched, s->cap_touched * sizeof(*s->touched));
			if (!s->touched)
				abort();
		}
		s->touched[s->ntouched++] = (struct fk_key){ino, blk};
	}
	*data = b->data;
	return MM_OK;
}

static void fk_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty)
{
	struct fk_store *s = arg;
	struct fk_blk *b = fk_find(s, ino, blk);

	TCHECK(b && b->data == data, "put of block %" PRIu64 "/%" PRIx64 " not got", ino, blk);
	s->bad_puts += !(b && b->data == data);
	s->puts++;
	s->held--;
	s->dirty += dirty;
	if (b && --b->holds == 0 && b->snap) {
		size_t n = s->bsize ? s->bsize : FS_MB;

		for (size_t i = 0; i < n; i++) {
			s->undeclared += b->data[i] != b->snap[i] && !b->named[i];
			s->named_bytes += b->named[i];
		}
		free(b->snap);
		free(b->named);
		b->snap = b->named = NULL;
	}
}

static void fk_changing(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len)
{
	struct fk_store *s = arg;
	struct fk_blk *b = fk_find(s, ino, blk);
	size_t n = s->bsize ? s->bsize : FS_MB;

	TCHECK(b && b->snap && off <= n && len <= n - off,
	       "changing() of block %" PRIu64 "/%" PRIx64 " [%u, +%u) not got for writing", ino, blk,
	       off, len);
	if (b && b->named && off <= n && len <= n - off)
		memset(b->named + off, 1, len);
}

static int fk_punch(void *arg, uint64_t ino, uint64_t blk)
{
	struct fk_store *s = arg;
	struct fk_blk *b = fk_find(s, ino, blk);

	s->punches++;
	if (b)
		fk_del(s, b);
	return MM_OK;
}

static inline void fk_init(struct fk_store *s)
{
	memset(s, 0, sizeof(*s));
	if (mm_htab_init(&s->t, 1024) != MM_OK)
		abort();
	s->bs = (struct fs_bstore){.get = fk_get, .put = fk_put, .punch = fk_punch, .arg = s};
}

struct fk_each_arg {
	void (*fn)(struct fk_blk *b, void *arg);
	void *arg;
};

static void fk_each_one(struct mm_hnode *n, void *arg)
{
	struct fk_each_arg *a = arg;

	a->fn((struct fk_blk *)n, a->arg);
}

/* Call fn on every stored block; fn may fk_del the block it is given. */
static inline void fk_each(struct fk_store *s, void (*fn)(struct fk_blk *b, void *arg), void *arg)
{
	struct fk_each_arg a = {fn, arg};

	mm_htab_each(&s->t, fk_each_one, &a);
}

static void fk_del_one(struct fk_blk *b, void *arg)
{
	fk_del(arg, b);
}

/* fs_bstore.checked: the flag of the block whose data is <data>. */
struct fk_checked_arg {
	const uint8_t *data;
	struct fk_blk *found;
};

static void fk_checked_one(struct fk_blk *b, void *arg)
{
	struct fk_checked_arg *a = arg;

	if (b->data == a->data)
		a->found = b;
}

static bool fk_checked(void *arg, const uint8_t *data, bool set)
{
	struct fk_checked_arg a = {data, NULL};

	fk_each(arg, fk_checked_one, &a);
	TCHECK(a.found != NULL, "checked() of memory that is no block");
	if (!a.found)
		return false;
	if (set)
		a.found->checked = true;
	return a.found->checked;
}

static inline void fk_use_checked(struct fk_store *s)
{
	s->bs.checked = fk_checked;
}

static inline void fk_use_changing(struct fk_store *s)
{
	s->track_changes = true;
	s->bs.changing = fk_changing;
}

static void fk_reread_one(struct fk_blk *b, void *arg)
{
	(void)arg;
	b->checked = false;
}

/* Every block as if read from disk again: none is checked. */
static inline void fk_reread(struct fk_store *s)
{
	fk_each(s, fk_reread_one, NULL);
}

/* Every block gone (the counters stay). */
static inline void fk_clear(struct fk_store *s)
{
	fk_each(s, fk_del_one, s);
}

static inline void fk_fini(struct fk_store *s)
{
	CU_ASSERT_EQUAL(s->bad_puts, 0);
	fk_clear(s);
	mm_htab_free(&s->t);
	free(s->touched);
	memset(s, 0, sizeof(*s));
}

/* The same, for a store of its own on the heap. */
static inline struct fk_store *fk_new(void)
{
	struct fk_store *s = malloc(sizeof(*s));

	if (!s)
		abort();
	fk_init(s);
	return s;
}

static inline void fk_free(struct fk_store *s)
{
	fk_fini(s);
	free(s);
}

#endif
