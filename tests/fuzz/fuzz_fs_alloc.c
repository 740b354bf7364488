/*
 * tests/fuzz/fuzz_fs_alloc.c - libFuzzer target for the allocation-map
 * readers and writers (fs/alloc.c, contract and map layout in
 * fs/alloc.h) on maps read from disk: whatever the map blocks hold, every
 * call returns an error or succeeds, never crashes, leaks or keeps a
 * block, and an allocation it hands out lies in its disk's allocatable
 * space, inside the chunk of the region asked for, in one full block, and
 * overlaps nothing handed out and not freed yet.
 *
 * Input:
 *   byte 0  bits 0-2: block size (64 KiB << 0..6, or 16 MiB)
 *           bits 3-4: disks - 1 (1 .. 4)
 *           bits 5-6: reseal the overlaid blocks: 0 as given, 1 CRC
 *                  recomputed, 2 (and 3) header (magic, type, version,
 *                  fsid, inode, block number) and CRC
 *           bit 7: fs_imap_format (else inode region 0 starts a hole)
 *   byte 1  bits 0-2: regions - 1 (1 .. 8)
 *           bits 3-6: disk 0 .. 3 is descOnly
 *           bit 7: no fs_bmap_format (every map block a hole)
 *   bytes 2-4  inode limit - 17
 *   per disk: 2 bytes full blocks, 1 byte x: the size is the reserved
 *           area, those blocks and x % spb subblocks; x == 255: blocks
 *           % (reserved subblocks) subblocks, a disk inside the reserved
 *           area
 *   1 byte: overlays (low 2 bits, 0 .. 3), each 1 byte s, 2 bytes offset,
 *           2 bytes n, n bytes written over the block from offset (cut
 *           at its end): s bit 7 set: the inode map block of region
 *           (s & 127) % regions (made, zeroed, if it is a hole); else the
 *           (s % blocks)-th block in the store
 *   then up to MAXOPS operations, 1 byte op (% 10) and its arguments:
 *     0 alloc_block  p: disk p & 7, region p >> 3 (each mod count + 1)
 *     1 alloc_frag   p, k (% (spb + 2))
 *     2 free an allocation held (1 byte index); then again
 *     3 free anything: 1 byte disk, 3 bytes subblock (from first - 4),
 *                    1 byte n (% (spb + 2))
 *     4 count        p (bit 7: every disk)
 *     5 check        p
 *     6 imap_alloc   1 byte region (% (regions + 1)), 3 bytes hint
 *     7 imap_free    1 byte: bit 0 an inode held (index >> 1) else 3
 *                    bytes inode
 *     8 imap_test    3 bytes inode
 *     9 imap_count   1 byte region
 * Checks beyond "no crash": a refusal of a map block (MM_EPROTO,
 * MM_ECHECKSUM, MM_ENOTSUP) says why; the store holds no block after
 * each call; a chunk whose fs_bmap_check passed before the operations
 * (a "good" one) still passes after them, its fs_bmap_count agrees with
 * the check, freeing an allocation held in it succeeds (and a second free
 * is MM_ESTATE), and once all of them are freed its counts are back where
 * they started (unless a free of "anything" hit it); an inode handed out
 * is a free one of the region asked for, never 0 .. 15 or past the limit,
 * tests as used, and freeing it succeeds in a region no overlay touched.
 * Seeds: tests/fuzz/seeds/fuzz_fs_alloc/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/alloc.h"
#include "fs/format.h"
#include "tests/fuzz/fuzz_fs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSID 0x5eed0001u
#define MAXD 4u
#define MAXR 8u
#define MAXOPS 48u
#define MAXHELD 64u
#define MAXIMAPR 256u

struct held {
	fs_da da;
	uint32_t n, d, r;
};

static struct fs_sgd sgd;
static struct fz_store st;
static struct fs_alloc *al;
static char err[512];
static struct held held[MAXHELD];
static unsigned nheld;
static uint64_t hino[MAXHELD];
static unsigned nhino;
static bool good[MAXD][MAXR], disturbed[MAXD][MAXR];
static struct fs_bmap_count start[MAXD][MAXR];
static bool imap_touched[MAXIMAPR];
static uint32_t spb, nreg, ndisks, imapr;

/* The result of one call: a damaged block's refusal says why, and the
 * call kept no block. */
static int ck(int rc)
{
	if ((rc == MM_EPROTO || rc == MM_ECHECKSUM || rc == MM_ENOTSUP) && err[0] == '\0')
		abort();
	if (rc > 0 || st.pinned)
		abort();
	err[0] = '\0';
	return rc;
}

static bool overlaps(fs_da a, uint32_t an, fs_da b, uint32_t bn)
{
	return fs_da_disk(a) == fs_da_disk(b) && fs_da_sub(a) < fs_da_sub(b) + bn &&
	       fs_da_sub(b) < fs_da_sub(a) + an;
}

/* A new allocation of <n> subblocks at <da> asked of (d, r). */
static void took(fs_da da, uint32_t n, uint32_t d, uint32_t r)
{
	struct fs_chunk c;
	uint32_t rr = UINT32_MAX;
	uint64_t sub = fs_da_sub(da);

	if (fs_bmap_chunk(al, d, r, &c) != MM_OK || fs_da_disk(da) != d)
		abort();
	if (sub < c.start || sub + n > c.start + c.nsub || (sub - c.start) % spb + n > spb)
		abort();
	if (n == spb && (sub - c.start) % spb)
		abort();
	if (fs_bmap_region_of(al, da, &rr) != MM_OK || rr != r)
		abort();
	for (unsigned i = 0; i < nheld; i++)
		if (overlaps(da, n, held[i].da, held[i].n))
			abort();
	if (nheld < MAXHELD)
		held[nheld++] = (struct held){da, n, d, r};
}

static void drop_held(unsigned i)
{
	held[i] = held[--nheld];
}

static void free_held(unsigned i, bool twice)
{
	struct held h = held[i];
	int rc = ck(fs_bmap_free(al, h.da, h.n, err, sizeof(err)));

	if (good[h.d][h.r] && rc != MM_OK)
		abort();
	if (rc != MM_OK)
		return;
	drop_held(i);
	if (twice) {
		rc = ck(fs_bmap_free(al, h.da, h.n, err, sizeof(err)));
		if (good[h.d][h.r] && rc != MM_ESTATE)
			abort();
	}
}

static void took_ino(uint64_t ino, uint32_t r)
{
	bool used = false;

	if (ino < FS_FIRST_USER_INO || ino >= sgd.inode_limit || fs_imap_region_of(ino) != r)
		abort();
	for (unsigned i = 0; i < nhino; i++)
		if (hino[i] == ino)
			abort();
	if (ck(fs_imap_test(al, ino, &used, err, sizeof(err))) == MM_OK && !used)
		abort();
	if (nhino < MAXHELD)
		hino[nhino++] = ino;
}

static bool imap_good(uint64_t ino)
{
	uint32_t r = fs_imap_region_of(ino);

	return r >= MAXIMAPR || !imap_touched[r];
}

static void free_ino(unsigned i)
{
	uint64_t ino = hino[i];
	int rc = ck(fs_imap_free(al, ino, err, sizeof(err)));

	if (rc != MM_OK && imap_good(ino))
		abort();
	if (rc == MM_OK)
		hino[i] = hino[--nhino];
}

static void mk_sgd(struct fz_in *in, uint8_t b0, uint8_t b1)
{
	static const uint32_t bsz[8] = {64u << 10, 128u << 10, 256u << 10, 512u << 10,
					1u << 20, 2u << 20, 4u << 20, 16u << 20};
	uint32_t bs = bsz[b0 & 7], sb = fs_subblock(bs);
	uint64_t first = ((FS_RESERVED_BYTES + bs - 1) / bs * (uint64_t)bs) / sb;

	memset(&sgd, 0, offsetof(struct fs_sgd, disk) + MAXD * sizeof(sgd.disk[0]));
	sgd.version = FS_FORMAT_VERSION;
	sgd.fsid = 0xabcdull << 32 | FSID;
	memcpy(sgd.device, "fs1", 4);
	sgd.generation = 1;
	sgd.block_size = bs;
	sgd.subblock_size = sb;
	sgd.mb_size = FS_MB;
	sgd.inode_size = FS_INODE_BYTES;
	sgd.meta_rep = sgd.meta_rep_max = sgd.data_rep = sgd.data_rep_max = 1;
	sgd.nregions = (b1 & 7) + 1u;
	sgd.inode_limit = 17 + fz_u(in, 3);
	sgd.ndisks = (b0 >> 3 & 3) + 1u;
	for (uint32_t d = 0; d < sgd.ndisks; d++) {
		struct fs_sgd_disk *k = &sgd.disk[d];
		uint64_t nb = fz_u(in, 2), x = fz_u(in, 1);

		k->name[0] = 'n';
		k->name[1] = 's';
		k->name[2] = 'd';
		k->name[3] = (char)('0' + d);
		k->nsd_id = 100 + d;
		k->failure_group = (int32_t)d;
		k->usage = b1 >> (3 + d) & 1 ? FS_USAGE_DESC_ONLY : FS_USAGE_DATA_AND_META;
		k->status = FS_DS_READY;
		k->avail = FS_DA_UP;
		memcpy(k->pool, "system", 7);
		k->subblocks = x == 255 ? nb % first : first + nb * (bs / sb) + x % (bs / sb);
	}
}

static void overlay(struct fz_in *in, unsigned reseal)
{
	struct fz_blk *touched[3];
	unsigned n = (unsigned)fz_u(in, 1) & 3, nt = 0;

	for (unsigned i = 0; i < n && in->n; i++) {
		unsigned s = (unsigned)fz_u(in, 1);
		size_t off = (size_t)fz_u(in, 2) % FS_MB, len = (size_t)fz_u(in, 2);
		struct fz_blk *b;

		if (s & 0x80) {
			uint32_t r = (s & 127) % imapr;

			b = fz_find(&st, FS_INO_IMAP, r);
			if (!b) {
				if (!fz_add(&st, FS_INO_IMAP, r))
					continue;
				b = &st.b[st.n - 1];
			}
			if (r < MAXIMAPR)
				imap_touched[r] = true;
		} else {
			if (st.n == 0)
				continue;
			b = &st.b[s % st.n];
			if (b->ino == FS_INO_IMAP && b->blk < MAXIMAPR)
				imap_touched[b->blk] = true;
		}
		fz_bytes(in, b->data + off, len < FS_MB - off ? len : FS_MB - off);
		touched[nt++] = b;
	}
	for (unsigned i = 0; i < nt; i++) {
		struct fz_blk *b = touched[i];

		if (reseal >= 2)
			fz_fix_header(b->data, b->ino == FS_INO_IMAP ? FS_BT_IMAP : FS_BT_BMAP, FSID,
				      b->ino, b->blk);
		if (reseal)
			fz_fix_crc(b->data, FS_MB);
	}
}

static void op(struct fz_in *in)
{
	unsigned o = (unsigned)fz_u(in, 1) % 10, p;
	uint32_t d, r, k;
	struct fs_bmap_count c;
	uint64_t ino, nfree;
	fs_da da;
	bool used;
	int rc;

	switch (o) {
	case 0:
	case 1:
		p = (unsigned)fz_u(in, 1);
		d = (p & 7) % (ndisks + 1);
		r = (p >> 3) % (nreg + 1);
		if (o == 0) {
			k = spb;
			rc = ck(fs_bmap_alloc_block(al, r, d, &da, err, sizeof(err)));
		} else {
			k = (uint32_t)fz_u(in, 1) % (spb + 2);
			rc = ck(fs_bmap_alloc_frag(al, r, d, k, &da, err, sizeof(err)));
		}
		if (rc == MM_OK)
			took(da, k, d, r);
		break;
	case 2:
		p = (unsigned)fz_u(in, 1);
		if (nheld)
			free_held(p % nheld, true);
		break;
	case 3: {
		uint64_t first = ((FS_RESERVED_BYTES + sgd.block_size - 1) / sgd.block_size *
				  (uint64_t)sgd.block_size) / sgd.subblock_size;
		uint32_t n;

		d = (uint32_t)fz_u(in, 1) % (ndisks + 1);
		da = fs_da_make(d, first - 4 + fz_u(in, 3));
		n = (uint32_t)fz_u(in, 1) % (spb + 2);
		rc = ck(fs_bmap_free(al, da, n, err, sizeof(err)));
		if (rc == MM_OK) {
			if (fs_bmap_region_of(al, da, &r) != MM_OK)
				abort();
			if (d < MAXD && r < MAXR)
				disturbed[d][r] = true;
			for (unsigned i = 0; i < nheld;) {
				if (overlaps(da, n, held[i].da, held[i].n))
					drop_held(i);
				else
					i++;
			}
		}
		break;
	}
	case 4:
	case 5:
		p = (unsigned)fz_u(in, 1);
		d = (p & 7) % (ndisks + 1);
		r = (p >> 3 & 15) % (nreg + 1);
		if (o == 4)
			ck(fs_bmap_count(al, r, p & 0x80 ? FS_DA_DISK_NONE : d, &c, err,
					 sizeof(err)));
		else
			ck(fs_bmap_check(al, r, d, &c, err, sizeof(err)));
		break;
	case 6:
		r = (uint32_t)fz_u(in, 1) % (imapr + 1);
		rc = ck(fs_imap_alloc(al, r, fz_u(in, 3), &ino, err, sizeof(err)));
		if (rc == MM_OK)
			took_ino(ino, r);
		break;
	case 7:
		p = (unsigned)fz_u(in, 1);
		if (p & 1) {
			if (nhino)
				free_ino((p >> 1) % nhino);
			break;
		}
		ino = fz_u(in, 3);
		rc = ck(fs_imap_free(al, ino, err, sizeof(err)));
		for (unsigned i = 0; i < nhino; i++) {
			if (hino[i] != ino)
				continue;
			if (rc != MM_OK && imap_good(ino))
				abort();
			if (rc == MM_OK)
				hino[i] = hino[--nhino];
			break;
		}
		break;
	case 8:
		ino = fz_u(in, 3);
		rc = ck(fs_imap_test(al, ino, &used, err, sizeof(err)));
		for (unsigned i = 0; rc == MM_OK && i < nhino; i++)
			if (hino[i] == ino && !used)
				abort();
		break;
	default:
		ck(fs_imap_count(al, (uint32_t)fz_u(in, 1) % (imapr + 1), &nfree, err,
				 sizeof(err)));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	uint32_t disks[MAXD];
	struct fs_bmap_count c, c2;
	uint8_t b0, b1;
	int rc;

	fz_store_init(&st);
	nheld = nhino = 0;
	memset(good, 0, sizeof(good));
	memset(disturbed, 0, sizeof(disturbed));
	memset(imap_touched, 0, sizeof(imap_touched));
	err[0] = '\0';
	b0 = (uint8_t)fz_u(&in, 1);
	b1 = (uint8_t)fz_u(&in, 1);
	mk_sgd(&in, b0, b1);
	rc = fs_alloc_open(&sgd, &st.bs, &al, err, sizeof(err));
	if (rc != MM_OK)
		abort();	/* every layout the input can choose is valid */
	err[0] = '\0';
	spb = fs_alloc_spb(al);
	nreg = sgd.nregions;
	ndisks = sgd.ndisks;
	imapr = fs_imap_nregions(al);
	for (uint32_t d = 0; d < ndisks; d++)
		disks[d] = d;
	if (!(b1 & 0x80))
		ck(fs_bmap_format(al, disks, ndisks, err, sizeof(err)));
	if (b0 & 0x80)
		ck(fs_imap_format(al, err, sizeof(err)));
	overlay(&in, b0 >> 5 & 3);

	for (uint32_t d = 0; d < ndisks; d++) {
		for (uint32_t r = 0; r < nreg; r++) {
			good[d][r] = ck(fs_bmap_check(al, r, d, &start[d][r], err, sizeof(err))) ==
				     MM_OK;
			if (ck(fs_bmap_count(al, r, d, &c, err, sizeof(err))) == MM_OK &&
			    good[d][r] && (c.free_sub != start[d][r].free_sub ||
					   c.free_full != start[d][r].free_full))
				abort();
		}
	}
	for (uint32_t r = 0; r < nreg; r++)
		ck(fs_bmap_count(al, r, FS_DA_DISK_NONE, &c, err, sizeof(err)));

	for (unsigned i = 0; i < MAXOPS && in.n; i++)
		op(&in);

	/* everything held goes back; good chunks stay good */
	while (nheld) {
		unsigned before = nheld;

		free_held(nheld - 1, false);
		if (nheld == before)
			nheld--;	/* refused in a damaged chunk: drop it */
	}
	while (nhino) {
		unsigned before = nhino;

		free_ino(nhino - 1);
		if (nhino == before)
			nhino--;
	}
	for (uint32_t d = 0; d < ndisks; d++) {
		for (uint32_t r = 0; r < nreg; r++) {
			if (!good[d][r])
				continue;
			if (ck(fs_bmap_check(al, r, d, &c, err, sizeof(err))) != MM_OK ||
			    ck(fs_bmap_count(al, r, d, &c2, err, sizeof(err))) != MM_OK ||
			    c.free_sub != c2.free_sub || c.free_full != c2.free_full)
				abort();
			if (!disturbed[d][r] && (c.free_sub != start[d][r].free_sub ||
						 c.free_full != start[d][r].free_full))
				abort();
		}
	}

	fs_alloc_close(al);
	al = NULL;
	fz_store_done(&st);
	return 0;
}
