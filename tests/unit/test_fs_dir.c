/*
 * tests/unit/test_fs_dir.c - fs/dir.c against the contract in fs/dir.h:
 * names, the in-inode form and its conversions, extendible hashing
 * against a model (a pool of names with a presence flag each) over seeded
 * random operations, one block read per lookup, readdir cookies that
 * stay stable while names come and go and blocks split, a large
 * directory, and damaged blocks and failing stores.
 *
 * The block store is fskit.h's memory store, which counts its calls and
 * the blocks held (every call must put what it got, on every
 * path). Some tests give the module a weak name hash (d->hash) to force
 * collisions, deep splits and equal readdir cookies.
 *
 * FS_DIR_BIG=n sets the entries of the large-directory test (default
 * 200000, 30000 under sanitizers). No threads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/dir.h"
#include "fs/format.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/fskit.h"
#include "tests/unit/testkit.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define FSID 0x5eed0001u
#define DINO 77u

/* ---- the memory block store (fskit.h), and a count of exists() ---- */

static int ms_exists(void *arg, uint64_t ino, uint64_t blk);

/* A directory: the store, and the view the caller keeps of its inode. */
struct tdir {
	struct fk_store s;	/* first: ms_exists finds the tdir from it */
	uint64_t exists;
	struct fs_bstore bs;
	struct fs_dir d;
	uint8_t tail[FS_TAIL_BYTES];
};

static struct tdir *tdir_new(bool use_exists, uint64_t (*hash)(const char *, size_t))
{
	struct tdir *t = calloc(1, sizeof(*t));

	CU_ASSERT_FATAL(t != NULL);
	fk_init(&t->s);
	t->bs = t->s.bs;
	t->d.bs = &t->bs;
	t->d.exists = use_exists ? ms_exists : NULL;
	t->d.fsid = FSID;
	t->d.ino = DINO;
	t->d.hash = hash;
	t->d.tail = t->tail;
	fs_dir_init_empty(&t->d);
	return t;
}

/* The store remembers which blocks were verified (fskit.h). */
static void tdir_use_checked(struct tdir *t)
{
	fk_use_checked(&t->s);
	t->bs.checked = t->s.bs.checked;
}

/* The store holds the module to fs_bstore.changing (fskit.h). */
static void tdir_use_changing(struct tdir *t)
{
	fk_use_changing(&t->s);
	t->bs.changing = t->s.bs.changing;
}

static void tdir_free(struct tdir *t)
{
	fk_fini(&t->s);
	free(t);
}

static struct fk_blk *tdir_block(struct tdir *t, uint64_t blk)
{
	return fk_find(&t->s, DINO, blk);
}

static int ms_exists(void *arg, uint64_t ino, uint64_t blk)
{
	struct tdir *t = arg;	/* &t->s */

	t->exists++;
	return fk_find(&t->s, ino, blk) != NULL;
}

/* Weak hashes: only the low bits of the real one. */
static uint64_t hash12(const char *name, size_t len)
{
	return fs_name_hash(name, len) & 0xfff;
}

static uint64_t hash_const(const char *name, size_t len)
{
	(void)name;
	(void)len;
	return 0x5a5a000000000000ull;
}

/* ---- the model: a pool of names, each present or not ---- */

struct mname {
	uint8_t len;
	char name[FS_NAME_MAX + 1];
	bool present;
	bool removed_once;	/* readdir test: removed before or during */
	uint64_t ino;
	uint32_t gen;
	uint8_t type;
	unsigned seen;		/* readdir test: times returned */
};

struct pool {
	struct mname *n;
	size_t count;
	uint32_t *idx;		/* open addressing by name hash: index + 1, 0 empty */
	size_t idx_cap, idx_count;
};

/* A byte allowed in a name: anything but NUL and '/'. */
static char name_byte(uint64_t *seed)
{
	for (;;) {
		uint8_t c = (uint8_t)rnd(seed);

		if (c && c != '/')
			return (char)c;
	}
}

static void pool_add(struct pool *p, const char *name, size_t len)
{
	struct mname *m = &p->n[p->count];

	memset(m, 0, sizeof(*m));
	m->len = (uint8_t)len;
	memcpy(m->name, name, len);
	m->ino = 1000 + p->count;
	m->gen = (uint32_t)(p->count * 7 + 1);
	m->type = (uint8_t)(p->count % 15);
	p->count++;
}

static bool pool_has(const struct pool *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->n[i].len == len && !memcmp(p->n[i].name, name, len))
			return true;
	return false;
}

/*
 * <n> distinct names: random lengths and every allowed byte value, some
 * of FS_NAME_MAX bytes, some of 1 byte, and <ncoll> long ones whose real
 * hashes agree in their low 10 bits (one block down to depth 10).
 */
static struct pool pool_make(size_t n, size_t ncoll, uint64_t seed)
{
	struct pool p = {.n = calloc(n + ncoll + 256, sizeof(struct mname))};
	char buf[FS_NAME_MAX + 1];

	CU_ASSERT_FATAL(p.n != NULL);
	for (int c = 1; c < 256 && p.count < n / 8; c++)	/* every one-byte name */
		if (c != '/') {
			buf[0] = (char)c;
			pool_add(&p, buf, 1);
		}
	while (p.count < n) {
		size_t len;

		switch (rnd(&seed) % 4) {
		case 0: len = FS_NAME_MAX; break;
		case 1: len = 1 + rnd(&seed) % 12; break;
		default: len = 1 + rnd(&seed) % FS_NAME_MAX; break;
		}
		for (size_t i = 0; i < len; i++)
			buf[i] = name_byte(&seed);
		if (len <= 3 && pool_has(&p, buf, len))
			continue;
		pool_add(&p, buf, len);
	}
	for (size_t k = 0; k < ncoll; k++) {
		size_t len = 150 + rnd(&seed) % 100;

		for (size_t i = 0; i < len; i++)
			buf[i] = name_byte(&seed);
		do	/* vary the last bytes until the low bits match */
			for (size_t i = len - 3; i < len; i++)
				buf[i] = name_byte(&seed);
		while ((fs_name_hash(buf, len) & 0x3ff) != 0x2a5);
		pool_add(&p, buf, len);
	}
	return p;
}

/* Readdir into the pool: count how often each name comes back. */
struct collect {
	struct pool *p;
	uint64_t last;		/* cookie of the last entry */
	size_t got, limit;	/* stop after <limit> (0: never) */
	bool order_ok, unknown;
	struct tdir *t;
};

static struct mname *pool_find(struct pool *p, const char *name, size_t len)
{
	size_t i;

	if (p->count == 0)
		return NULL;
	if (p->idx_count != p->count) {	/* (re)build the index */
		free(p->idx);
		p->idx_cap = 16;
		while (p->idx_cap < 2 * p->count)
			p->idx_cap *= 2;
		p->idx = calloc(p->idx_cap, sizeof(p->idx[0]));
		CU_ASSERT_FATAL(p->idx != NULL);
		for (size_t k = 0; k < p->count; k++) {
			i = fs_name_hash(p->n[k].name, p->n[k].len) & (p->idx_cap - 1);
			while (p->idx[i])
				i = (i + 1) & (p->idx_cap - 1);
			p->idx[i] = (uint32_t)k + 1;
		}
		p->idx_count = p->count;
	}
	for (i = fs_name_hash(name, len) & (p->idx_cap - 1); p->idx[i]; i = (i + 1) & (p->idx_cap - 1)) {
		struct mname *m = &p->n[p->idx[i] - 1];

		if (m->len == len && !memcmp(m->name, name, len))
			return m;
	}
	return NULL;
}

static void pool_free(struct pool *p)
{
	free(p->n);
	free(p->idx);
}

static int collect_cb(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	struct collect *c = arg;
	struct mname *m = pool_find(c->p, e->name, e->namelen);

	if (cookie < c->last || cookie < FS_DIR_COOKIE_MIN || cookie != fs_dir_cookie(e->hash))
		c->order_ok = false;
	c->last = cookie;
	if (!m || m->ino != e->ino || m->gen != e->gen || m->type != e->type)
		c->unknown = true;
	else
		m->seen++;
	c->got++;
	return c->limit && c->got % c->limit == 0;
}

/* The directory holds exactly the present names (readdir, lookups). */
static void check_model(struct tdir *t, struct pool *p)
{
	struct collect c = {.p = p, .order_ok = true};
	size_t present = 0, bad = 0;

	for (size_t i = 0; i < p->count; i++)
		p->n[i].seen = 0;
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, 0, collect_cb, &c), 0);
	CU_ASSERT(c.order_ok);
	CU_ASSERT(!c.unknown);
	for (size_t i = 0; i < p->count; i++) {
		struct fs_dirent e;
		int rc = fs_dir_lookup(&t->d, p->n[i].name, p->n[i].len, &e);

		present += p->n[i].present;
		if (p->n[i].seen != (p->n[i].present ? 1u : 0u) ||
		    rc != (p->n[i].present ? MM_OK : MM_ENOENT))
			bad++;
	}
	CHECK_U64(bad, ==, 0);
	CHECK_U64(c.got, ==, present);
	CU_ASSERT_EQUAL(fs_dir_is_empty(&t->d), present == 0);
	CHECK_U64(t->s.held, ==, 0);
}

/* ---- names ---- */

static void test_names(void)
{
	struct tdir *t = tdir_new(true, NULL);
	char longn[FS_NAME_MAX + 2];
	struct fs_dirent e;

	memset(longn, 'x', sizeof(longn));
	CU_ASSERT_EQUAL(fs_dir_check_name("a", 1), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_check_name(longn, FS_NAME_MAX), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_check_name(longn, FS_NAME_MAX + 1), MM_ETOOBIG);
	CU_ASSERT_EQUAL(fs_dir_check_name("", 0), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_dir_check_name("a/b", 3), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_dir_check_name("a\0b", 3), MM_EINVAL);

	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, longn, FS_NAME_MAX + 1, 5, 1, 8), MM_ETOOBIG);
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "a/b", 3, 5, 1, 8), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "", 0, &e), MM_EINVAL);
	CU_ASSERT_EQUAL(fs_dir_remove(&t->d, "x\0", 2, NULL), MM_EINVAL);

	CU_ASSERT_EQUAL(fs_dir_is_empty(&t->d), 1);
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "hello", 5, 42, 3, 4), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "hello", 5, 43, 3, 4), MM_EEXIST);
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, longn, FS_NAME_MAX, 44, 9, 8), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_is_empty(&t->d), 0);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "hello", 5, &e), MM_OK);
	CU_ASSERT(e.ino == 42 && e.gen == 3 && e.type == 4 && e.namelen == 5 &&
		  !strcmp(e.name, "hello") && e.hash == fs_name_hash("hello", 5));
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "hell", 4, &e), MM_ENOENT);
	CU_ASSERT_EQUAL(fs_dir_remove(&t->d, "hell", 4, &e), MM_ENOENT);
	CU_ASSERT_EQUAL(fs_dir_remove(&t->d, "hello", 5, &e), MM_OK);
	CU_ASSERT_EQUAL(e.ino, 42);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "hello", 5, NULL), MM_ENOENT);
	CU_ASSERT_EQUAL(fs_dir_remove(&t->d, longn, FS_NAME_MAX, NULL), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_is_empty(&t->d), 1);
	CU_ASSERT(t->d.in_inode);
	CHECK_U64(t->s.gets + t->s.holes + t->exists, ==, 0);	/* never left the inode */
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, FS_DIR_COOKIE_MAX + 1, collect_cb, NULL), MM_EINVAL);
	tdir_free(t);
}

/* ---- in-inode and back ---- */

static void test_inode_form(void)
{
	struct tdir *t = tdir_new(true, NULL);
	struct pool p = {.n = calloc(400, sizeof(struct mname))};
	char buf[64];
	size_t i, tail_cap, conversions = 0, shrinks = 0;

	/* 40-byte entries (18-byte names): the tail area holds 72 */
	for (i = 0; i < 400; i++) {
		snprintf(buf, sizeof(buf), "entry-%012zu", i);
		pool_add(&p, buf, strlen(buf));
	}
	CU_ASSERT_EQUAL(fs_dir_entsize(18), 40);
	tail_cap = FS_TAIL_BYTES / 40;
	for (i = 0; i < tail_cap; i++) {
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, p.n[i].name, p.n[i].len, p.n[i].ino, p.n[i].gen,
					      p.n[i].type), MM_OK);
		p.n[i].present = true;
	}
	CU_ASSERT(t->d.in_inode);
	CHECK_U64(t->d.tail_len, ==, tail_cap * 40);
	CHECK_U64(t->s.t.count, ==, 0);
	check_model(t, &p);
	/* one more: block 0 */
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, p.n[i].name, p.n[i].len, p.n[i].ino, p.n[i].gen,
				      p.n[i].type), MM_OK);
	p.n[i].present = true;
	CU_ASSERT(!t->d.in_inode && t->d.depth == 0 && t->d.tail_len == 0);
	CHECK_U64(t->s.t.count, ==, 1);
	check_model(t, &p);

	/* back and forth around the thresholds */
	for (int round = 0; round < 6; round++) {
		size_t keep = FS_DIR_SHRINK_BYTES / 40;	/* entries that fit the shrink limit */
		size_t n = 0;

		for (i = 0; i < p.count; i++)
			n += p.n[i].present;
		/* down to one over the shrink limit: no shrink */
		for (i = 0; n > keep + 1 && i < p.count; i++)
			if (p.n[i].present) {
				CU_ASSERT_EQUAL(fs_dir_remove(&t->d, p.n[i].name, p.n[i].len, NULL),
						MM_OK);
				p.n[i].present = false;
				n--;
			}
		if (!t->d.in_inode)
			CU_ASSERT_EQUAL(fs_dir_shrink(&t->d), 0);
		for (; n > keep && i < p.count; i++)
			if (p.n[i].present) {
				CU_ASSERT_EQUAL(fs_dir_remove(&t->d, p.n[i].name, p.n[i].len, NULL),
						MM_OK);
				p.n[i].present = false;
				n--;
			}
		if (!t->d.in_inode) {
			CU_ASSERT_EQUAL(fs_dir_shrink(&t->d), 1);
			shrinks++;
		}
		CU_ASSERT(t->d.in_inode);
		CHECK_U64(t->s.t.count, ==, 0);
		check_model(t, &p);
		/* up past the tail area again */
		for (i = 0; i < p.count && n <= tail_cap; i++)
			if (!p.n[i].present) {
				CU_ASSERT_EQUAL(fs_dir_insert(&t->d, p.n[i].name, p.n[i].len,
							      p.n[i].ino, p.n[i].gen, p.n[i].type),
						MM_OK);
				p.n[i].present = true;
				n++;
				if (n == tail_cap)
					CU_ASSERT(t->d.in_inode);
			}
		if (!t->d.in_inode)
			conversions++;
		check_model(t, &p);
	}
	CHECK_U64(conversions, ==, 6);
	CHECK_U64(shrinks, ==, 6);
	pool_free(&p);
	tdir_free(t);
}

/* ---- the model, random operations ---- */

static void run_model(bool use_exists, uint64_t (*hash)(const char *, size_t), uint64_t seed,
		      size_t nops, bool checked)
{
	struct pool p = pool_make(3000, hash ? 0 : 400, seed);
	struct tdir *t = tdir_new(use_exists, hash);
	uint64_t s = seed * 31 + 7, lookups_blk = 0, extra = 0;
	size_t present = 0;

	if (checked) {
		tdir_use_checked(t);
		tdir_use_changing(t);
	}
	for (size_t op = 0; op < nops; op++) {
		struct mname *m = &p.n[rnd(&s) % p.count];
		uint64_t r = rnd(&s) % 10, gets0 = t->s.gets;
		struct fs_dirent e;
		int rc;

		if (r < 5 && present < p.count * 3 / 4) {
			rc = fs_dir_insert(&t->d, m->name, m->len, m->ino, m->gen, m->type);
			if (rc != (m->present ? MM_EEXIST : MM_OK))
				extra++;
			present += !m->present;
			m->present = true;
		} else if (r < 7) {
			rc = fs_dir_remove(&t->d, m->name, m->len, &e);
			if (rc != (m->present ? MM_OK : MM_ENOENT) ||
			    (rc == MM_OK && (e.ino != m->ino || e.gen != m->gen)))
				extra++;
			present -= m->present;
			m->present = false;
		} else {
			rc = fs_dir_lookup(&t->d, m->name, m->len, &e);
			if (rc != (m->present ? MM_OK : MM_ENOENT) ||
			    (rc == MM_OK && (e.ino != m->ino || e.gen != m->gen || e.type != m->type)))
				extra++;
			if (!t->d.in_inode) {
				lookups_blk++;
				if (t->s.gets - gets0 != 1)
					extra++;	/* one block per lookup */
			}
		}
		if (rc < 0 && rc != MM_EEXIST && rc != MM_ENOENT)
			fprintf(stderr, "  op %zu: %s: %s\n", op, mm_errname(rc), t->d.err);
		if (t->s.held != 0)
			extra++;
		if (op % 5000 == 4999)
			check_model(t, &p);
		if (checked && op % 1000 == 999)
			fk_reread(&t->s);
	}
	CHECK_U64(extra, ==, 0);
	CHECK_U64(t->s.undeclared, ==, 0);
	CU_ASSERT(lookups_blk > nops / 10);
	check_model(t, &p);
	CU_ASSERT(t->d.depth >= 2);
	/* empty it */
	for (size_t i = 0; i < p.count; i++)
		if (p.n[i].present) {
			CU_ASSERT_EQUAL(fs_dir_remove(&t->d, p.n[i].name, p.n[i].len, NULL), MM_OK);
			p.n[i].present = false;
		}
	check_model(t, &p);
	CU_ASSERT_EQUAL(fs_dir_is_empty(&t->d), 1);
	CHECK_U64(t->s.undeclared, ==, 0);
	printf("\n  fs.dir.model: %zu ops, %s, %s hash%s: depth %u, %zu blocks\n", nops,
	       use_exists ? "exists()" : "holes by get", hash ? "12-bit" : "real",
	       checked ? ", checked store" : "", t->d.depth, t->s.t.count);
	pool_free(&p);
	tdir_free(t);
}

static void test_model(void)
{
	run_model(true, NULL, 1, SANITIZED ? 20000 : 60000, false);
}

/* A store that remembers which blocks were verified (as the pagepool's
 * does): blocks are then searched, not verified, on most gets; now and
 * then every block is "read from disk" again. It also holds the module
 * to naming every change before it makes it (fs_bstore.changing: a
 * transaction logs and undoes only what was named). */
static void test_model_checked(void)
{
	run_model(true, NULL, 4, SANITIZED ? 20000 : 60000, true);
}

static void test_model_no_exists(void)
{
	run_model(false, NULL, 2, SANITIZED ? 10000 : 30000, false);
}

static void test_model_weak_hash(void)
{
	run_model(true, hash12, 3, SANITIZED ? 10000 : 30000, true);
}

/* Names with one hash: splits to the maximum depth, then MM_ETOOBIG. */
static void test_max_depth(void)
{
	struct tdir *t = tdir_new(true, hash_const);
	char buf[FS_NAME_MAX];
	size_t n = 0;
	int rc;

	memset(buf, 'q', sizeof(buf));
	for (;;) {
		snprintf(buf, 16, "%015zu", n);
		buf[15] = 'q';
		rc = fs_dir_insert(&t->d, buf, sizeof(buf), n, 1, 8);
		if (rc != MM_OK)
			break;
		n++;
	}
	CU_ASSERT_EQUAL(rc, MM_ETOOBIG);
	CU_ASSERT(strstr(t->d.err, "maximum depth") != NULL);
	CHECK_U64(n, ==, FS_DIR_BODY / fs_dir_entsize(FS_NAME_MAX));
	CHECK_U64(t->d.depth, ==, FS_DIR_MAX_DEPTH);
	CHECK_U64(t->s.held, ==, 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, 16, "%015zu", i);
		buf[15] = 'q';
		CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, buf, sizeof(buf), NULL), MM_OK);
	}
	tdir_free(t);
}

/* A caller whose global depth is stale gets MM_ECONFLICT, not a wrong answer. */
static void test_stale_depth(void)
{
	struct tdir *t = tdir_new(true, NULL);
	char buf[32];
	size_t conflicts = 0, n = 20000;
	uint8_t depth;
	uint64_t blk;

	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "stale-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, buf, strlen(buf), i + 100, 1, 8), MM_OK);
	}
	depth = t->d.depth;
	CU_ASSERT(depth >= 3);
	t->d.depth = (uint8_t)(depth - 1);
	for (size_t i = 0; i < n; i++) {
		int rc;

		snprintf(buf, sizeof(buf), "stale-%zu", i);
		rc = fs_dir_lookup(&t->d, buf, strlen(buf), NULL);
		CU_ASSERT(rc == MM_OK || rc == MM_ECONFLICT);
		conflicts += rc == MM_ECONFLICT;
	}
	CU_ASSERT(conflicts > 0);
	CU_ASSERT(strstr(t->d.err, "stale") != NULL);
	t->d.depth = depth;
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "stale-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_block_of(&t->d, buf, strlen(buf), &blk), MM_OK);
		CU_ASSERT(tdir_block(t, blk) != NULL);
		CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, buf, strlen(buf), NULL), MM_OK);
	}
	CHECK_U64(t->s.held, ==, 0);
	tdir_free(t);
}

/* ---- readdir stability ---- */

static void run_readdir_stable(uint64_t (*hash)(const char *, size_t), size_t limit,
			       uint64_t seed)
{
	const size_t base = SANITIZED ? 4000 : 12000, extra = base;
	struct pool p = {.n = calloc(base + extra, sizeof(struct mname))};
	struct tdir *t = tdir_new(true, hash);
	struct collect c = {.p = &p, .order_ok = true, .limit = limit};
	uint64_t s = seed, cookie = 0;
	size_t next_new = base, calls = 0, bad = 0;
	uint8_t depth0;
	size_t nblocks0;
	char buf[80];
	int rc;

	for (size_t i = 0; i < base + extra; i++) {
		snprintf(buf, sizeof(buf), "rd-%zu-%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64, i,
			 rnd(&s), rnd(&s), rnd(&s));
		pool_add(&p, buf, strlen(buf));
	}
	for (size_t i = 0; i < base; i++) {
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, p.n[i].name, p.n[i].len, p.n[i].ino, p.n[i].gen,
					      p.n[i].type), MM_OK);
		p.n[i].present = true;
	}
	/* removed before the readdir starts: never returned */
	for (size_t i = 0; i < base; i += 5) {
		CU_ASSERT_EQUAL(fs_dir_remove(&t->d, p.n[i].name, p.n[i].len, NULL), MM_OK);
		p.n[i].present = false;
		p.n[i].removed_once = true;
	}
	depth0 = t->d.depth;
	nblocks0 = t->s.t.count;
	do {
		rc = fs_dir_readdir(&t->d, cookie, collect_cb, &c);
		CU_ASSERT(rc == 0 || rc == 1);
		cookie = c.last;
		calls++;
		/* between calls: new names (splits) and removals of old and new */
		for (int k = 0; k < 60 && next_new < p.count; k++, next_new++) {
			struct mname *m = &p.n[next_new];

			CU_ASSERT_EQUAL(fs_dir_insert(&t->d, m->name, m->len, m->ino, m->gen, m->type),
					MM_OK);
			m->present = true;
		}
		for (int k = 0; k < 6; k++) {
			struct mname *m = &p.n[rnd(&s) % next_new];

			if (m->present) {
				CU_ASSERT_EQUAL(fs_dir_remove(&t->d, m->name, m->len, NULL), MM_OK);
				m->present = false;
				m->removed_once = true;
			}
		}
	} while (rc == 1);
	CU_ASSERT(c.order_ok);
	CU_ASSERT(!c.unknown);
	for (size_t i = 0; i < p.count; i++) {
		struct mname *m = &p.n[i];

		if (m->seen > 1)
			bad++;		/* twice */
		if (i < base && m->present && !m->removed_once && m->seen != 1)
			bad++;		/* there all along, yet missed */
		if (i < base && i % 5 == 0 && m->seen)
			bad++;		/* removed before the start */
	}
	CHECK_U64(bad, ==, 0);
	CU_ASSERT(t->s.t.count > nblocks0);	/* blocks split during the readdir */
	printf("\n  fs.dir.readdir: %s hash, %zu calls of %zu entries; %zu names added during it: "
	       "blocks %zu -> %zu, depth %u -> %u\n", hash ? "12-bit" : "real", calls, limit,
	       next_new - base, nblocks0, t->s.t.count, depth0, t->d.depth);
	CHECK_U64(t->s.held, ==, 0);
	pool_free(&p);
	tdir_free(t);
}

static void test_readdir_stable(void)
{
	run_readdir_stable(NULL, 50, 11);
}

/* A 12-bit hash: many entries share a cookie; stops fall inside groups. */
static void test_readdir_groups(void)
{
	run_readdir_stable(hash12, 7, 12);
}

/* Stop after every entry, and a callback error. */
static int stop_cb(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	uint64_t *last = arg;

	(void)e;
	*last = cookie;
	return 1;
}

static int err_cb(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	(void)e;
	(void)cookie;
	(void)arg;
	return MM_EIO;
}

static void test_readdir_steps(void)
{
	struct tdir *t = tdir_new(true, NULL);
	uint64_t cookie = 0, last = 0;
	size_t n = 3000, got = 0;
	char buf[32];
	int rc;

	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "step-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, buf, strlen(buf), i + 1, 1, 8), MM_OK);
	}
	while ((rc = fs_dir_readdir(&t->d, cookie, stop_cb, &last)) == 1) {
		CU_ASSERT(last > cookie);
		cookie = last;
		got++;
	}
	CU_ASSERT_EQUAL(rc, 0);
	CHECK_U64(got, ==, n);
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, 0, err_cb, NULL), MM_EIO);
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, FS_DIR_COOKIE_MAX, stop_cb, &last), 0);
	CHECK_U64(t->s.held, ==, 0);
	tdir_free(t);
}

/* ---- a large directory ---- */

static int count_cb(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	(void)e;
	(void)cookie;
	(*(size_t *)arg)++;
	return 0;
}

static void test_big(void)
{
	const char *env = getenv("FS_DIR_BIG");
	size_t n = env ? strtoul(env, NULL, 10) : SANITIZED ? 30000 : 200000, got = 0;
	struct tdir *t = tdir_new(true, NULL);
	uint64_t t0, t_ins, t_look, t_rd, t_rm, gets0, holes0, ex0, bad = 0;
	char buf[32];

	wd_arm("big", 600);
	t0 = now_us();
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "file%zu.dat", i);
		if (fs_dir_insert(&t->d, buf, strlen(buf), i + 16, 1, 8) != MM_OK)
			bad++;
	}
	t_ins = now_us() - t0;
	gets0 = t->s.gets;
	holes0 = t->s.holes;
	ex0 = t->exists;
	t0 = now_us();
	for (size_t i = 0; i < n; i++) {
		struct fs_dirent e;
		uint64_t g = t->s.gets;

		snprintf(buf, sizeof(buf), "file%zu.dat", i);
		if (fs_dir_lookup(&t->d, buf, strlen(buf), &e) != MM_OK || e.ino != i + 16 ||
		    t->s.gets - g != 1)
			bad++;
	}
	t_look = now_us() - t0;
	ex0 = t->exists - ex0;
	holes0 = t->s.holes - holes0;
	gets0 = t->s.gets - gets0;
	CHECK_U64(gets0, ==, n);	/* one block per lookup */
	t0 = now_us();
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, 0, count_cb, &got), 0);
	t_rd = now_us() - t0;
	CHECK_U64(got, ==, n);
	t0 = now_us();
	for (size_t i = 0; i < n; i += 2) {
		snprintf(buf, sizeof(buf), "file%zu.dat", i);
		if (fs_dir_remove(&t->d, buf, strlen(buf), NULL) != MM_OK)
			bad++;
	}
	t_rm = now_us() - t0;
	for (size_t i = 0; i < n; i += 997) {
		snprintf(buf, sizeof(buf), "file%zu.dat", i);
		if (fs_dir_lookup(&t->d, buf, strlen(buf), NULL) != (i % 2 ? MM_OK : MM_ENOENT))
			bad++;
	}
	CHECK_U64(bad, ==, 0);
	CHECK_U64(t->s.held, ==, 0);
	printf("\n  fs.dir.big: %zu entries in %zu blocks of %u KiB, depth %u; insert %.2f s "
	       "(%.1f us each), lookup %.2f s (%.1f us, %.3f block gets + %.3f hole probes each), "
	       "readdir %.2f s, remove half %.2f s\n",
	       n, t->s.t.count, FS_MB >> 10, t->d.depth, t_ins / 1e6, (double)t_ins / (double)n,
	       t_look / 1e6, (double)t_look / (double)n, (double)gets0 / (double)n,
	       (double)(ex0 + holes0) / (double)n - 1.0,
	       t_rd / 1e6, t_rm / 1e6);
	wd_disarm();
	tdir_free(t);
}

/* ---- damage ---- */

/* <rc> is an error whose text names the directory and block <blk>. */
static bool names_block(struct tdir *t, int rc, uint64_t blk)
{
	char want[64];

	snprintf(want, sizeof(want), "block %" PRIu64 ":", blk);
	return rc < 0 && strstr(t->d.err, "directory inode 77") && strstr(t->d.err, want);
}

static void test_corrupt(void)
{
	struct tdir *t = tdir_new(true, NULL);
	uint64_t s = 99, blk;
	size_t n = 8000, bad = 0, tried = 0;
	char buf[32], name_in[FS_DIR_MAX_DEPTH + 1][32];
	uint64_t gen_blocks[64];
	size_t nblk = 0;
	struct collect c = {.order_ok = true};
	struct pool none = {0};

	c.p = &none;
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "dmg-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, buf, strlen(buf), i + 100, 1, 8), MM_OK);
	}
	/* a name in each of some blocks */
	for (size_t i = 0; i < n && nblk < 64; i++) {
		bool dup = false;

		snprintf(buf, sizeof(buf), "dmg-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_block_of(&t->d, buf, strlen(buf), &blk), MM_OK);
		for (size_t k = 0; k < nblk; k++)
			dup |= gen_blocks[k] == blk;
		if (!dup && nblk < FS_DIR_MAX_DEPTH) {
			strcpy(name_in[nblk], buf);
			gen_blocks[nblk++] = blk;
		}
	}
	CU_ASSERT(nblk >= 4);
	for (size_t k = 0; k < nblk; k++) {
		const char *nm = name_in[k];
		struct fk_blk *b = tdir_block(t, gen_blocks[k]);

		for (int rep = 0; rep < 8; rep++) {
			size_t at = rep == 0 ? 4 : rep == 1 ? 40 : rnd(&s) % FS_MB;
			uint8_t flip = (uint8_t)(1u << (rnd(&s) % 8));
			uint64_t nb;
			int rc;

			b->data[at] ^= flip;
			/* each operation that reaches the block fails and names it */
#define DAMAGED(call)                                                         \
	do {                                                                  \
		rc = (call);                                                  \
		if (!(rc == MM_ECHECKSUM || rc == MM_EPROTO) ||               \
		    !names_block(t, rc, gen_blocks[k]))                       \
			bad++;                                                \
	} while (0)
			DAMAGED(fs_dir_lookup(&t->d, nm, strlen(nm), NULL));
			DAMAGED(fs_dir_remove(&t->d, nm, strlen(nm), NULL));
			DAMAGED(fs_dir_insert(&t->d, nm, strlen(nm), 1, 1, 8));
			DAMAGED(fs_dir_readdir(&t->d, 0, collect_cb, &c));
			if (gen_blocks[k] == 0)
				DAMAGED(fs_dir_is_empty(&t->d));
			CU_ASSERT_EQUAL(fs_dir_block_of(&t->d, "dmg-new", 7, &nb), MM_OK);
			if (nb == gen_blocks[k])
				DAMAGED(fs_dir_insert(&t->d, "dmg-new", 7, 1, 1, 8));
#undef DAMAGED
			b->data[at] ^= flip;
			tried++;
			if (t->s.held)
				bad++;
		}
	}
	CHECK_U64(bad, ==, 0);
	/* the last error text, for the report */
	printf("\n  fs.dir.corrupt: %zu damaged blocks x 6 operations; e.g. \"%s\"\n", tried,
	       t->d.err);

	/* a sealed block whose body lies: entry count, an entry's length */
	{
		struct fk_blk *b = tdir_block(t, gen_blocks[1]);
		uint8_t save[FS_MB];
		struct fs_mbh h;
		char why[128];
		int rc;

		memcpy(save, b->data, FS_MB);
		CU_ASSERT_FATAL(fs_mb_verify(b->data, FS_MB, FS_BT_DIR, FSID, DINO, gen_blocks[1], &h,
					     why, sizeof(why)) == MM_OK);
		h.b += 1ull << 32;
		fs_mb_seal(b->data, FS_MB, &h);
		rc = fs_dir_lookup(&t->d, name_in[1], strlen(name_in[1]), NULL);
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(names_block(t, rc, gen_blocks[1]) && strstr(t->d.err, "counts"));
		memcpy(b->data, save, FS_MB);
		h.b -= 1ull << 32;
		b->data[FS_MBH_BYTES + 13] = 250;	/* first entry's name length */
		fs_mb_seal(b->data, FS_MB, &h);
		rc = fs_dir_lookup(&t->d, name_in[1], strlen(name_in[1]), NULL);
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(names_block(t, rc, gen_blocks[1]));
		memcpy(b->data, save, FS_MB);
		h.a = 40;			/* depth over the maximum */
		fs_mb_seal(b->data, FS_MB, &h);
		rc = fs_dir_insert(&t->d, name_in[1], strlen(name_in[1]), 1, 1, 1);
		CU_ASSERT(names_block(t, rc, gen_blocks[1]));
		memcpy(b->data, save, FS_MB);
		CHECK_U64(t->s.held, ==, 0);
	}
	/* everything still there */
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "dmg-%zu", i);
		if (fs_dir_lookup(&t->d, buf, strlen(buf), NULL) != MM_OK)
			bad++;
	}
	CHECK_U64(bad, ==, 0);
	tdir_free(t);
}

/* Damaged in-inode entries, and a block 0 that is missing. */
/*
 * A block whose CRC is right but whose entries are not (a bug's seal, or
 * damage a CRC cannot see): every get fails until it is fixed, however
 * often it is got. A store's checked flag stands for the CRC and the
 * entries both, so it is set only after both passed; a block verified
 * before, then damaged and read again from disk (fk_reread), fails too.
 */
/*
 * A remove changes little of its block: the last entry fills the hole
 * when it has the removed one's size, so a transaction logs two entries
 * and the header, not every entry after the hole (an unlink in a block
 * of 2,000 names logged half of it). Names of another size still move
 * down. Both read back right.
 */
static void test_remove_small_change(void)
{
	struct tdir *t = tdir_new(true, NULL);
	uint64_t blk, blk2;
	char buf[32];
	size_t es = fs_dir_entsize(9);

	tdir_use_changing(t);
	for (int i = 0; i < 1500; i++) {
		snprintf(buf, sizeof(buf), "same%05d", i);	/* 9 bytes each */
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, buf, 9, 100 + i, 1, 8), MM_OK);
	}
	CU_ASSERT_FATAL(!t->d.in_inode);
	/* one from the middle of its block */
	CU_ASSERT_EQUAL(fs_dir_block_of(&t->d, "same00700", 9, &blk), MM_OK);
	t->s.named_bytes = 0;
	CU_ASSERT_EQUAL(fs_dir_remove(&t->d, "same00700", 9, NULL), MM_OK);
	CHECK_U64(t->s.named_bytes, <=, 2 * es + FS_MBH_BYTES);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "same00700", 9, NULL), MM_ENOENT);
	/* a longer name whose block's last entry is shorter: the rest moves */
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "a-longer-name-here", 18, 7, 1, 8), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_block_of(&t->d, "a-longer-name-here", 18, &blk2), MM_OK);
	for (int i = 0; i < 1500; i++) {
		uint64_t b;

		snprintf(buf, sizeof(buf), "same%05d", i);
		if (i == 700 || fs_dir_block_of(&t->d, buf, 9, &b) != MM_OK || b != blk2)
			continue;
		/* the last entry of that block is the long name now: removing
		 * a short one moves what follows it */
		CU_ASSERT_EQUAL(fs_dir_remove(&t->d, buf, 9, NULL), MM_OK);
		CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "a-longer-name-here", 18, NULL), MM_OK);
		break;
	}
	for (int i = 0; i < 1500; i++) {
		int rc;

		snprintf(buf, sizeof(buf), "same%05d", i);
		rc = fs_dir_lookup(&t->d, buf, 9, NULL);
		if (i == 700)
			CU_ASSERT_EQUAL(rc, MM_ENOENT);
	}
	CHECK_U64(t->s.undeclared, ==, 0);
	CHECK_U64(t->s.held, ==, 0);
	tdir_free(t);
}

static void test_corrupt_sealed(void)
{
	struct tdir *t = tdir_new(true, NULL);
	struct fk_blk *b;
	struct fs_mbh h;
	uint8_t *body, save;
	char buf[32];

	tdir_use_checked(t);
	for (size_t i = 0; i < 3000; i++) {
		snprintf(buf, sizeof(buf), "sealed-%zu", i);
		CU_ASSERT_EQUAL(fs_dir_insert(&t->d, buf, strlen(buf), i + 100, 1, 8), MM_OK);
	}
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "sealed-7", 8, NULL), MM_OK);
	CU_ASSERT_FATAL(fs_dir_block_of(&t->d, "sealed-7", 8, &h.blk) == MM_OK);
	b = tdir_block(t, h.blk);
	CU_ASSERT_FATAL(b != NULL);
	fs_mb_header(b->data, &h);
	CU_ASSERT_FATAL(h.b >> 32 > 2);
	/* the second entry's name length runs past the bytes used */
	body = b->data + FS_MBH_BYTES;
	save = body[fs_dir_entsize(body[13]) + 13];
	body[fs_dir_entsize(body[13]) + 13] = 255;
	fs_mb_seal(b->data, FS_MB, &h);
	fk_reread(&t->s);
	for (int rep = 0; rep < 3; rep++) {
		int rc = fs_dir_lookup(&t->d, "sealed-7", 8, NULL);

		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(names_block(t, rc, h.blk));
		CU_ASSERT_EQUAL(b->checked, false);
	}
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "sealed-7", 8, 1, 1, 8), MM_EPROTO);
	body[fs_dir_entsize(body[13]) + 13] = save;
	fs_mb_seal(b->data, FS_MB, &h);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "sealed-7", 8, NULL), MM_OK);
	CU_ASSERT_EQUAL(b->checked, true);
	/* checked, then damaged on disk and read again: the CRC catches it */
	b->data[FS_MBH_BYTES + 20] ^= 4;
	fk_reread(&t->s);
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "sealed-7", 8, NULL), MM_ECHECKSUM);
	b->data[FS_MBH_BYTES + 20] ^= 4;
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "sealed-7", 8, NULL), MM_OK);
	CHECK_U64(t->s.held, ==, 0);
	tdir_free(t);
}

static void test_corrupt_inode(void)
{
	struct tdir *t = tdir_new(true, NULL);
	int rc;

	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "one", 3, 5, 1, 8), MM_OK);
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "two", 3, 6, 1, 8), MM_OK);
	t->tail[13] = 200;
	rc = fs_dir_lookup(&t->d, "two", 3, NULL);
	CU_ASSERT_EQUAL(rc, MM_EPROTO);
	CU_ASSERT(strstr(t->d.err, "in-inode entries") != NULL);
	t->tail[13] = 3;
	t->tail[FS_DIR_ENT_FIXED] = 'x';	/* "one" -> "xne": its hash is wrong */
	CU_ASSERT_EQUAL(fs_dir_readdir(&t->d, 0, count_cb, &(size_t){0}), MM_EPROTO);
	t->tail[FS_DIR_ENT_FIXED] = 'o';
	t->d.tail_len = FS_TAIL_BYTES + 8;
	CU_ASSERT_EQUAL(fs_dir_insert(&t->d, "three", 5, 7, 1, 8), MM_EPROTO);
	t->d.tail_len = 64;
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "one", 3, NULL), MM_OK);
	/* block form without block 0 */
	t->d.in_inode = false;
	rc = fs_dir_lookup(&t->d, "one", 3, NULL);
	CU_ASSERT_EQUAL(rc, MM_EPROTO);
	CU_ASSERT(strstr(t->d.err, "block 0") != NULL);
	t->d.depth = FS_DIR_MAX_DEPTH + 1;
	CU_ASSERT_EQUAL(fs_dir_lookup(&t->d, "one", 3, NULL), MM_EPROTO);
	CHECK_U64(t->s.held, ==, 0);
	tdir_free(t);
}

/* The store fails the Nth get: the operation fails, names the block,
 * puts everything, and the directory is still whole. */
static void test_store_errors(void)
{
	struct tdir *t = tdir_new(false, NULL);
	char buf[32];
	size_t n = 0, bad = 0, failed = 0;

	while (t->d.depth < 3) {
		snprintf(buf, sizeof(buf), "se-%zu", n++);
		CU_ASSERT_FATAL(fs_dir_insert(&t->d, buf, strlen(buf), n, 1, 8) == MM_OK);
	}
	/* every later insert, with a get failing at each position in turn */
	for (size_t k = 1; k <= 4000; k++) {
		int rc;

		snprintf(buf, sizeof(buf), "se-%zu", n);
		t->s.fail_in = 1 + k % 4;
		rc = fs_dir_insert(&t->d, buf, strlen(buf), n + 1, 1, 8);
		t->s.fail_in = 0;
		if (rc == MM_EIO) {
			failed++;
			if (!strstr(t->d.err, "get failed"))
				bad++;
			rc = fs_dir_insert(&t->d, buf, strlen(buf), n + 1, 1, 8);
		}
		if (rc != MM_OK || t->s.held)
			bad++;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "se-%zu", i);
		if (fs_dir_lookup(&t->d, buf, strlen(buf), NULL) != MM_OK)
			bad++;
	}
	CHECK_U64(bad, ==, 0);
	CU_ASSERT(failed > 1000);
	tdir_free(t);
}

static void register_fs_dir(void)
{
	static const struct mm_test names[] = {
		{"check_name, insert, lookup, remove in the inode", test_names},
		{"in-inode to blocks and back, around both thresholds", test_inode_form},
	};
	static const struct mm_test hashing[] = {
		{"random operations against a model (exists)", test_model},
		{"random operations against a model (checked store)", test_model_checked},
		{"random operations against a model (holes by get)", test_model_no_exists},
		{"random operations against a model (12-bit hash)", test_model_weak_hash},
		{"one hash for every name: max depth, MM_ETOOBIG", test_max_depth},
		{"a remove changes two entries of its block, not half", test_remove_small_change},
		{"stale global depth: MM_ECONFLICT", test_stale_depth},
		{"a large directory: one block per lookup", test_big},
	};
	static const struct mm_test readdir[] = {
		{"cookies stable across inserts, removes, splits", test_readdir_stable},
		{"equal cookies returned together (12-bit hash)", test_readdir_groups},
		{"one entry per call; callback errors", test_readdir_steps},
	};
	static const struct mm_test damage[] = {
		{"damaged blocks: every operation fails naming the block", test_corrupt},
		{"damaged entries under a right CRC, with a checked store", test_corrupt_sealed},
		{"damaged in-inode entries, missing block 0", test_corrupt_inode},
		{"store get failures", test_store_errors},
	};

	MM_ADD_SUITE("fs_dir names", names);
	MM_ADD_SUITE("fs_dir hashing", hashing);
	MM_ADD_SUITE("fs_dir readdir", readdir);
	MM_ADD_SUITE("fs_dir damage", damage);
}

MM_CUNIT_MAIN(register_fs_dir)
