/*
 * tests/fuzz/fuzz_fs_tree.c - libFuzzer target for the pointer tree
 * (fs/tree.c, contract in fs/tree.h) on an inode and indirect blocks
 * read from disk: whatever they hold, every call returns an error or
 * succeeds, never crashes, leaks or keeps a block, and what it answers
 * agrees with itself.
 *
 * Input (big-endian):
 *   byte 0  bits 0-1 reseal the blocks: 0 as given, 1 CRC recomputed, 2
 *           header (magic, type, fsid, inode, tag, a = maxrep, b = the
 *           count of non-hole pointers) and CRC
 *           bits 2-3 maxrep (0 and 3: 3), bits 4-5 block size (64 KiB,
 *           256 KiB, 1 MiB, 16 MiB), bit 6 FS_IF_DATA_IN_INODE, bit 7
 *           run fs_tree_truncate and fs_tree_set too
 *   byte 1  the inode's level (0 .. 7: one past FS_MAX_LEVEL too)
 *   byte 2  indirect blocks (0 .. 7)
 *   8 bytes x 6: block numbers to look up (two of them), the first of a
 *           run, where to seek from, the size to truncate to, the block
 *           to set; 1 byte: the run's length (0 .. 63); 1 byte: the
 *           truncate budget (0: none)
 *   2 bytes n, n bytes: the start of the inode's tail area (the rest 0)
 *   per indirect block: 1 byte level (0 .. 7), 2 bytes index, 2 bytes
 *           n, n bytes: the start of the block (the rest 0)
 * Checks beyond "no crash": a refusal of a damaged block says why;
 * seek_data's block is mapped and seek_hole's is not (lookup agrees);
 * lookup_run counts what lookup finds; changed() ranges lie inside their
 * block; free_blk of an indirect block comes after its punch.
 * Seeds: tests/fuzz/seeds/fuzz_fs_tree/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/format.h"
#include "fs/tree.h"
#include "tests/fuzz/fuzz_fs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSID 0x5eed0001u
#define INO 4242u
#define RUNMAX 64
#define ITER_MAX 20000u

static const uint32_t bsizes[4] = {64u << 10, 256u << 10, 1u << 20, 16u << 20};

struct fz_tree {
	struct fz_store st;
	uint64_t frees, next_da;
};

static void check(struct fs_tree *t, int64_t rc)
{
	if ((rc == MM_EPROTO || rc == MM_ECHECKSUM || rc == MM_ENOTSUP) && t->err[0] == '\0')
		abort();
	t->err[0] = '\0';
}

static int ft_alloc_meta(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	struct fz_tree *h = arg;

	(void)ino;
	(void)blk;
	memset(p, 0, sizeof(*p));
	p->da[0] = fs_da_make(1, ++h->next_da);
	return MM_OK;
}

static int ft_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool is_meta)
{
	struct fz_tree *h = arg;

	if (fs_ptr_is_hole(p) || (is_meta && fz_find(&h->st, ino, blk)))
		abort();
	h->frees++;
	return MM_OK;
}

static void ft_changed(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len,
		       const uint8_t *bytes)
{
	(void)arg;
	if (ino != INO || len == 0)
		abort();
	if (blk == FS_TREE_INODE ? bytes != NULL || off + (uint64_t)len > FS_INODE_BYTES
				 : bytes == NULL || off + (uint64_t)len > FS_MB)
		abort();
}

struct it {
	unsigned n;
	bool have;
	uint64_t last;
};

static int it_fn(void *arg, unsigned level, uint64_t index, const struct fs_ptr *p)
{
	struct it *c = arg;

	if (level > FS_MAX_LEVEL || fs_ptr_is_hole(p))
		abort();
	if (level == 0) {
		if (c->have && index <= c->last)
			abort();
		c->have = true;
		c->last = index;
	}
	return ++c->n >= ITER_MAX;
}

static void lookups(struct fs_tree *t, const struct fs_inode *in, const uint64_t *q,
		    uint64_t first, unsigned count, uint64_t from)
{
	static struct fs_ptr run[RUNMAX];
	struct fs_ptr p;
	struct it c = {0};
	uint64_t n, maxb = fs_tree_max_block(t->bsize);
	int64_t rc;
	int mapped = 0;

	for (unsigned i = 0; i < 2; i++)
		check(t, fs_tree_lookup(t, in, q[i], &p));
	check(t, fs_tree_lookup(t, in, 0, &p));
	check(t, fs_tree_lookup(t, in, fs_inode_nptrs(t->maxrep), &p));
	check(t, fs_tree_lookup(t, in, maxb - 1, &p));
	/* MM_ERANGE, or what is wrong with the inode first */
	if (fs_tree_lookup(t, in, maxb, &p) >= 0)
		abort();
	t->err[0] = '\0';
	for (unsigned l = 0; l <= FS_MAX_LEVEL + 1; l++)
		check(t, fs_tree_lookup_at(t, in, l, q[0] >> (l * 8), &p));

	rc = fs_tree_lookup_run(t, in, first, count, run);
	check(t, rc);
	if (rc >= 0) {
		for (unsigned i = 0; i < count; i++) {
			int r = fs_tree_lookup(t, in, first + i, &p);

			if (r < 0 || memcmp(&p, &run[i], sizeof(p)) != 0)
				abort();
			mapped += r;
		}
		if (rc != mapped)
			abort();
	}

	check(t, fs_tree_iterate(t, in, 0, UINT64_MAX, FS_TREE_ITER_META, it_fn, &c));
	c = (struct it){0};
	check(t, fs_tree_iterate(t, in, from, from + 100000, 0, it_fn, &c));

	rc = fs_tree_seek_data(t, in, from, &n);
	check(t, rc);
	if (rc == 1 && (n < from || fs_tree_lookup(t, in, n, &p) != 1))
		abort();
	rc = fs_tree_seek_hole(t, in, from, &n);
	check(t, rc);
	if (rc >= 0 && from < maxb && (n < from || (n < maxb && fs_tree_lookup(t, in, n, &p) != 0)))
		abort();
	t->err[0] = '\0';
}

static uint32_t count_ptrs(const uint8_t *b, unsigned r)
{
	uint32_t k = 0;
	struct fs_ptr p;

	for (uint32_t j = 0; j < fs_ind_nptrs(r); j++) {
		fs_ptr_get(b + FS_MBH_BYTES, j, r, &p);
		k += !fs_ptr_is_hole(&p);
	}
	return k;
}

static struct fs_inode ino;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct fz_tree h;
	struct fs_tree t;
	struct fs_ptr p;
	unsigned flags, reseal, r, nblk, count, budget;
	uint64_t q[6];
	size_t n;

	memset(&h, 0, sizeof(h));
	fz_store_init(&h.st);
	flags = (unsigned)fz_u(&in, 1);
	reseal = flags & 3;
	r = flags >> 2 & 3;
	r = r ? r : 3;
	memset(&ino, 0, sizeof(ino));
	ino.ino = INO;
	ino.gen = 1;
	ino.mode = S_IFREG | 0644;
	ino.nlink = 1;
	ino.data_rep = ino.meta_rep = (uint8_t)r;
	ino.flags = flags & 64 ? FS_IF_DATA_IN_INODE : 0;
	ino.level = (uint8_t)(fz_u(&in, 1) & 7);
	nblk = (unsigned)fz_u(&in, 1) & 7;
	for (unsigned i = 0; i < 6; i++)
		q[i] = fz_u(&in, 8);
	count = (unsigned)fz_u(&in, 1) % RUNMAX;
	budget = (unsigned)fz_u(&in, 1);
	n = (size_t)fz_u(&in, 2);
	fz_bytes(&in, ino.tail, n < FS_TAIL_BYTES ? n : FS_TAIL_BYTES);
	for (unsigned i = 0; i < nblk && in.n; i++) {
		unsigned lv = (unsigned)fz_u(&in, 1) & 7;
		uint64_t tag = fs_tree_tag(lv, fz_u(&in, 2));
		uint8_t *b = fz_add(&h.st, INO, tag);

		n = (size_t)fz_u(&in, 2);
		if (!b)
			break;
		fz_bytes(&in, b, n);
		if (reseal == 2) {
			fz_fix_header(b, FS_BT_INDIRECT, FSID, INO, tag);
			mm_be64_put(b + 32, r);
			mm_be64_put(b + 40, count_ptrs(b, r));
		}
		if (reseal)
			fz_fix_crc(b, FS_MB);
	}

	t = (struct fs_tree){.bs = &h.st.bs, .fsid = FSID, .bsize = bsizes[flags >> 4 & 3],
			     .maxrep = r, .alloc_meta = ft_alloc_meta, .free_blk = ft_free,
			     .changed = ft_changed, .arg = &h};
	lookups(&t, &ino, q, q[2], count, q[3]);

	if (flags & 128) {
		bool more = true;

		for (unsigned i = 0; i < 8 && more; i++) {
			int64_t rc = fs_tree_truncate(&t, &ino, q[4], budget, &more);

			check(&t, rc);
			if (rc < 0)
				break;
		}
		memset(&p, 0, sizeof(p));
		p.da[0] = fs_da_make(2, 77);
		check(&t, fs_tree_set(&t, &ino, q[5] % fs_tree_max_block(t.bsize), &p, NULL));
		lookups(&t, &ino, q, q[2], count, q[3]);
		check(&t, fs_tree_set(&t, &ino, q[5] % fs_tree_max_block(t.bsize),
				      &(struct fs_ptr){{0}}, NULL));
	}
	fz_store_done(&h.st);
	return 0;
}
