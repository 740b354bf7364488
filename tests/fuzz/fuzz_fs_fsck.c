/*
 * tests/fuzz/fuzz_fs_fsck.c - libFuzzer target for the file system
 * checker (fs/fsck.c, contract in fs/fsck.h).
 *
 * A small image is made once: fs_mkfs on three 4 MiB memory disks in
 * three failure groups (three descriptor copies; B = 64 KiB, -m 2), then
 * a directory and a file of one block (with an xattr overflow block) in
 * the root, made with the pure
 * modules through fs/fsck_int.h's store. Each input is a list of 6-byte
 * mutations [page 2][offset 2][xor 1][flags 1] applied to the pages the
 * image holds (metadata blocks, inode records, descriptor slots); flag
 * bit 0 recomputes the CRC of the structure the byte is in (the inode
 * record, metadata block or descriptor slot), so the checks behind the
 * CRC are reached too. Then fsck -n, fsck -y, fsck -n: nothing may
 * crash or hang; the last check must be clean unless -y said it could
 * not repair (exit 2) or could not check (an error); an undamaged image
 * must be clean (abort otherwise).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"
#include "fs/alloc.h"
#include "fs/dir.h"
#include "fs/fsck.h"
#include "fs/fsck_int.h"
#include "fs/mkfs.h"
#include "fs/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ND 3
#define DISK (4u << 20)
#define PAGE 4096u

static uint8_t *base[ND], *img[ND];
static uint32_t *pages;		/* disk << 16 | page, of the pages the image holds */
static size_t npages;
static struct fs_sgd sgd;
static struct fs_alloc *al;

static int m_read(void *arg, uint32_t d, uint64_t off, void *buf, size_t len)
{
	uint8_t **m = arg;

	if (d >= ND || off + len > DISK)
		return MM_EINVAL;
	memcpy(buf, m[d] + off, len);
	return MM_OK;
}

static int m_write(void *arg, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	uint8_t **m = arg;

	if (d >= ND || off + len > DISK)
		return MM_EINVAL;
	memcpy(m[d] + off, buf, len);
	return MM_OK;
}

static int b_alloc(void *arg, uint64_t ino, bool ind, unsigned nrep, struct fs_ptr *p)
{
	struct fs_place pl;
	uint32_t disks[FS_MAX_REPLICAS];
	int rc = fs_place_init(&pl, &sgd, "system", FS_KIND_META, ino);

	(void)arg;
	(void)ind;
	if (rc == MM_OK)
		rc = fs_place_block(&pl, ino, nrep, NULL, disks);
	memset(p, 0, sizeof(*p));
	for (unsigned k = 0; k < nrep && rc == MM_OK; k++) {
		rc = MM_ERANGE;
		for (uint32_t r = 0; r < sgd.nregions && rc == MM_ERANGE; r++)
			rc = fs_bmap_alloc_block(al, r, disks[k], &p->da[k], NULL, 0);
	}
	return rc;
}

static int no_free(void *arg, uint64_t ino, uint64_t blk, const struct fs_ptr *p, bool m)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	(void)m;
	return MM_EPROTO;
}

static int no_alloc(void *arg, uint64_t ino, uint64_t blk, struct fs_ptr *p)
{
	(void)arg;
	(void)ino;
	(void)blk;
	(void)p;
	return MM_ENOTSUP;
}

/* A new inode (its inode file block made first when it is a hole). */
static uint64_t new_inode(struct fs_ds *ds, uint32_t mode, struct fs_inode *in)
{
	uint64_t ino;

	if (fs_imap_alloc(al, 0, 0, &ino, NULL, 0) != MM_OK)
		abort();
	if (fs_ds_inode(ds, ino, in, NULL) == MM_ENOENT)
		for (uint64_t i = ino / 16 * 16; i < ino / 16 * 16 + 16; i++) {
			memset(in, 0, sizeof(*in));
			in->ino = i;
			in->flags = FS_IF_FREE;
			if (fs_ds_put_inode(ds, in) != MM_OK)
				abort();
		}
	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->gen = 1;
	in->mode = mode;
	in->nlink = S_ISDIR(mode) ? 2 : 1;
	in->data_rep = 1;
	in->meta_rep = 2;
	if (S_ISDIR(mode))
		in->flags = FS_IF_DATA_IN_INODE;
	return ino;
}

static void make_image(void)
{
	static const char *const names[ND] = {"nsd1", "nsd2", "nsd3"};
	struct fs_mkfs_disk d[ND];
	struct fs_mkfs_params p = {.device = "fz", .fsid = 5, .block_size = 64 << 10,
				   .meta_rep = 2, .meta_rep_max = 2, .data_rep = 1,
				   .data_rep_max = 2, .nodes = 1, .inode_limit = 1024,
				   .log_bytes = 4 * FS_MB, .created = 1700000000, .ndisks = ND,
				   .disks = d};
	struct fs_disk_io io = {m_read, m_write, base};
	struct fs_inode *in = malloc(sizeof(*in)), *root = malloc(sizeof(*root));
	struct fs_ds *ds;
	struct fs_dir dir;
	struct fs_tree t;
	struct fs_ptr ptr = {{0}};
	struct fs_place pl;
	uint64_t dino, fino;
	uint32_t disk;
	int rc = MM_ERANGE;

	for (uint32_t i = 0; i < ND; i++) {
		base[i] = calloc(1, DISK);
		img[i] = malloc(DISK);
		d[i] = (struct fs_mkfs_disk){.nsd_id = 0x10 + i, .name = names[i], .bytes = DISK,
					     .failure_group = (int32_t)i + 1};
	}
	if (!in || !root || fs_mkfs(&p, &io, NULL, NULL, &sgd, NULL, 0) != MM_OK ||
	    fs_ds_open(&io, &sgd, &ds) != MM_OK ||
	    fs_alloc_open(&sgd, fs_ds_bs(ds), &al, NULL, 0) != MM_OK)
		abort();
	fs_ds_set_alloc(ds, b_alloc, NULL);
	/* /d (a directory) and /f (a file of one block) */
	dino = new_inode(ds, S_IFDIR | 0755, in);
	if (fs_ds_put_inode(ds, in) != MM_OK)
		abort();
	fino = new_inode(ds, S_IFREG | 0644, in);
	in->size = 65536;
	in->subblocks = 16;
	if (fs_place_init(&pl, &sgd, NULL, FS_KIND_DATA, fino) != MM_OK ||
	    fs_place_block(&pl, 0, 1, NULL, &disk) != MM_OK)
		abort();
	for (uint32_t r = 0; r < sgd.nregions && rc == MM_ERANGE; r++)
		rc = fs_bmap_alloc_block(al, r, disk, &ptr.da[0], NULL, 0);
	/* its xattr overflow block (two replicas) holding user.x = "abc" */
	{
		uint8_t *xb = calloc(1, FS_MB);
		struct fs_ptr xp;

		if (!xb || b_alloc(NULL, fino, true, 2, &xp) != MM_OK)
			abort();
		xb[FS_MBH_BYTES] = 1;
		xb[FS_MBH_BYTES + 1] = 1;
		mm_be16_put(xb + FS_MBH_BYTES + 2, 3);
		memcpy(xb + FS_MBH_BYTES + 4, "xabc", 4);
		fs_mb_seal(xb, FS_MB, &(struct fs_mbh){.type = FS_BT_XATTR, .fsid = 5, .ino = fino,
							.blk = FS_TAG_XATTR, .a = 8});
		for (int k = 0; k < 2; k++)
			if (m_write(base, fs_da_disk(xp.da[k]),
				    fs_da_sub(xp.da[k]) * fs_subblock(64 << 10), xb, FS_MB) != MM_OK)
				abort();
		in->xattr_ovf = xp;
		in->flags |= FS_IF_XATTR_OVERFLOW;
		in->subblocks += 2 * (FS_MB / fs_subblock(64 << 10));
		free(xb);
	}
	fs_ds_tree(ds, &t);
	t.alloc_meta = no_alloc;
	t.free_blk = no_free;
	if (rc != MM_OK || fs_tree_set(&t, in, 0, &ptr, NULL) != 1 || fs_ds_put_inode(ds, in) != MM_OK)
		abort();
	if (fs_ds_inode(ds, 3, root, NULL) != MM_OK)
		abort();
	memset(&dir, 0, sizeof(dir));
	dir.bs = fs_ds_bs(ds);
	dir.fsid = 5;
	dir.ino = 3;
	dir.in_inode = true;
	dir.tail = root->tail;
	dir.tail_len = root->tail_len;
	if (fs_dir_insert(&dir, "d", 1, dino, 1, DT_DIR) != MM_OK ||
	    fs_dir_insert(&dir, "f", 1, fino, 1, DT_REG) != MM_OK || !dir.in_inode)
		abort();
	root->tail_len = dir.tail_len;
	root->size = dir.tail_len;
	root->nlink = 3;
	if (fs_ds_put_inode(ds, root) != MM_OK || fs_ds_flush(ds) != MM_OK)
		abort();
	fs_alloc_close(al);
	fs_ds_close(ds);
	free(in);
	free(root);
	pages = malloc((size_t)ND * (DISK / PAGE) * sizeof(*pages));
	if (!pages)
		abort();
	for (uint32_t i = 0; i < ND; i++)
		for (uint32_t pg = 0; pg < DISK / PAGE; pg++) {
			const uint8_t *x = base[i] + (size_t)pg * PAGE;

			if (x[0] || memcmp(x, x + 1, PAGE - 1))
				pages[npages++] = i << 16 | pg;
		}
}

/* The format's CRC of [0, len): bytes 12 .. 16 taken as zero. */
static void fix_crc(uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t c = mm_crc32c_bulk(0, p, 12);

	c = mm_crc32c_bulk(c, zero, 4);
	mm_be32_put(p + 12, mm_crc32c_bulk(c, p + 16, len - 16));
}

/* Recompute the CRC of whatever holds byte <off> of disk <d>. */
static void reseal(uint32_t d, uint64_t off)
{
	uint8_t *m = img[d];

	if (off >= FS_SGD_SLOT0 && off < FS_SGD_SLOT1 + FS_SGD_SLOT_BYTES) {
		uint8_t *s = m + (off < FS_SGD_SLOT1 ? FS_SGD_SLOT0 : FS_SGD_SLOT1);
		uint32_t len = mm_be32_get(s + 8);

		if (len >= 16 && len <= FS_SGD_SLOT_BYTES)
			fix_crc(s, len);
		return;
	}
	if (off >= FS_RESERVED_BYTES) {
		uint8_t *b = m + off / FS_MB * FS_MB;

		if (mm_be32_get(b) == FS_MAGIC_INODE)
			fix_crc(m + off / FS_INODE_BYTES * FS_INODE_BYTES, FS_INODE_BYTES);
		else if (mm_be32_get(b) == FS_MAGIC_MB)
			fix_crc(b, FS_MB);
	}
}

static int check(bool repair, struct fs_fsck_report *r)
{
	struct fs_disk_io io = {m_read, m_write, img};
	struct fs_fsck_params p = {.repair = repair ? FS_FSCK_YES : FS_FSCK_NO};
	char err[512] = "";
	int rc = fs_fsck(&io, ND, &p, r, err, sizeof(err));

	if (rc != MM_OK && (err[0] == 0 || r->exit != FS_FSCK_EXIT_ERROR))
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_fsck_report r1, r2, r3;

	if (!base[0])
		make_image();
	if (size > 6 * 64)
		return 0;
	for (uint32_t i = 0; i < ND; i++)
		memcpy(img[i], base[i], DISK);
	for (size_t i = 0; i + 6 <= size; i += 6) {
		uint32_t pg = pages[mm_be16_get(data + i) % npages];
		uint32_t d = pg >> 16;
		uint64_t off = (uint64_t)(pg & 0xffff) * PAGE + mm_be16_get(data + i + 2) % PAGE;

		img[d][off] ^= data[i + 4] ? data[i + 4] : 1;
		if (data[i + 5] & 1)
			reseal(d, off);
	}
	if (check(false, &r1) == MM_OK && size < 6 && r1.exit != FS_FSCK_EXIT_CLEAN)
		abort();	/* the undamaged image */
	if (check(true, &r2) != MM_OK || r2.exit == FS_FSCK_EXIT_LEFT)
		return 0;	/* could not check, or said it could not repair */
	if (check(false, &r3) != MM_OK || r3.exit != FS_FSCK_EXIT_CLEAN) {
		fprintf(stderr, "fsck -y said %d (found %llu fixed %llu), then -n found %llu\n",
			r2.exit, (unsigned long long)r2.found, (unsigned long long)r2.fixed,
			(unsigned long long)r3.found);
		abort();
	}
	return 0;
}
