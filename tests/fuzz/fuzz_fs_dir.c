/*
 * tests/fuzz/fuzz_fs_dir.c - libFuzzer target for the directory reader
 * and writer (fs/dir.c, contract in fs/dir.h) on directories read from
 * disk: whatever the blocks or the tail area hold, every call returns an
 * error or succeeds, and never crashes, leaks or keeps a block.
 *
 * Input:
 *   byte 0  bit 0: entries in the inode (else block form)
 *           bits 1-2: reseal: 0 as given, 1 CRC recomputed, 2 header
 *                  (magic, type, fsid, inode, block number) and CRC
 *           bit 3: the exists() callback (else holes are found by get)
 *           bit 4: a weak name hash (the name's first 8 bytes), so
 *                  entries the input makes up can pass the hash checks
 *           bits 5-7: directory blocks (block form), 0 .. 7
 *   byte 1  global depth (0 .. 255: a depth over FS_DIR_MAX_DEPTH too)
 *   in-inode form: 2 bytes tail_len (mod FS_TAIL_BYTES + 64), then the tail area (zero-padded)
 *   block form, per block: 1 byte block number, 2 bytes n, n bytes: the
 *           start of the block (the rest zero)
 * Then every operation runs on it: lookup of a few fixed names and of the
 * first names found in the blocks, block_of, readdir to the end (whole,
 * and resumed every few entries from the cookies it gave: cookies must
 * not go down), is_empty, insert of a new and of an existing name,
 * remove, shrink, and readdir again. A refusal of a damaged block
 * (MM_EPROTO, MM_ECHECKSUM, MM_ENOTSUP) must say why.
 * Seeds: tests/fuzz/seeds/fuzz_fs_dir/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/dir.h"
#include "fs/format.h"
#include "tests/fuzz/fuzz_fs_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FSID 0x5eed0001u
#define DINO 77u
#define NFOUND 8

static uint64_t weak_hash(const char *name, size_t len)
{
	uint8_t b[8] = {0};

	memcpy(b, name, len < 8 ? len : 8);
	return mm_be64_get(b);
}

static int st_exists(void *arg, uint64_t ino, uint64_t blk)
{
	return fz_find(arg, ino, blk) != NULL;
}

static void check(struct fs_dir *d, int rc)
{
	if ((rc == MM_EPROTO || rc == MM_ECHECKSUM || rc == MM_ENOTSUP) && d->err[0] == '\0')
		abort();
	d->err[0] = '\0';
}

struct rd {
	uint64_t last;
	unsigned n, stop_every;
};

static int rd_fn(const struct fs_dirent *e, uint64_t cookie, void *arg)
{
	struct rd *r = arg;

	if (cookie < r->last || cookie < FS_DIR_COOKIE_MIN || cookie > FS_DIR_COOKIE_MAX ||
	    e->namelen == 0 || strlen(e->name) != e->namelen)
		abort();
	r->last = cookie;
	r->n++;
	return r->stop_every && r->n % r->stop_every == 0;
}

static void readdir_all(struct fs_dir *d)
{
	struct rd r = {0};
	uint64_t cookie = 0;
	int rc;

	check(d, fs_dir_readdir(d, 0, rd_fn, &r));
	/* resumed every 97 entries (a few rounds: each one reads and verifies blocks again) */
	r = (struct rd){.stop_every = 97};
	for (unsigned i = 0; i < 20000; i++) {
		rc = fs_dir_readdir(d, cookie, rd_fn, &r);
		check(d, rc);
		if (rc != 1)
			break;
		if (r.last < cookie)
			abort();
		cookie = r.last;
	}
}

/* The names of the first entries of an entry area (at most <max>). */
static unsigned names_in(const uint8_t *body, size_t len, char found[][FS_NAME_MAX + 1],
			 unsigned k, unsigned max)
{
	size_t off = 0;

	while (k < max && off + FS_DIR_ENT_FIXED <= len) {
		size_t nl = body[off + 13];

		if (nl == 0 || off + FS_DIR_ENT_FIXED + nl > len)
			break;
		memcpy(found[k], body + off + FS_DIR_ENT_FIXED, nl);
		found[k][nl] = '\0';
		if (strlen(found[k]) == nl)
			k++;
		off += fs_dir_entsize(nl);
	}
	return k;
}

static uint8_t tail[FS_TAIL_BYTES];
static char found[NFOUND][FS_NAME_MAX + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *fixed[] = {"a", "hello", "..", "lost+found"};
	struct fz_in in = {data, size};
	struct fz_store st;
	struct fs_dir d;
	struct fs_dirent e;
	unsigned flags, nblk, reseal, nf = 0;
	uint64_t blk;
	char big[FS_NAME_MAX + 2];

	fz_store_init(&st);
	memset(&d, 0, sizeof(d));
	memset(tail, 0, sizeof(tail));
	flags = (unsigned)fz_u(&in, 1);
	reseal = flags >> 1 & 3;
	d.bs = &st.bs;
	d.exists = flags & 8 ? st_exists : NULL;
	d.fsid = FSID;
	d.ino = DINO;
	d.hash = flags & 16 ? weak_hash : NULL;
	d.depth = (uint8_t)fz_u(&in, 1);
	d.tail = tail;
	if (flags & 1) {
		d.in_inode = true;
		d.tail_len = (uint16_t)(fz_u(&in, 2) % (FS_TAIL_BYTES + 64));
		nf = names_in(tail, fz_bytes(&in, tail, sizeof(tail)), found, 0, NFOUND);
	} else {
		nblk = flags >> 5;
		for (unsigned i = 0; i < nblk && in.n; i++) {
			uint64_t bn = fz_u(&in, 1);
			size_t n = (size_t)fz_u(&in, 2), got;
			uint8_t *b = fz_add(&st, DINO, bn);

			if (!b)
				break;
			got = fz_bytes(&in, b, n < FS_MB ? n : FS_MB);
			if (reseal == 2)
				fz_fix_header(b, FS_BT_DIR, FSID, DINO, bn);
			if (reseal)
				fz_fix_crc(b, FS_MB);
			nf = names_in(b + FS_MBH_BYTES, got > FS_MBH_BYTES ? got - FS_MBH_BYTES : 0,
				      found, nf, NFOUND);
		}
	}

	for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		check(&d, fs_dir_lookup(&d, fixed[i], strlen(fixed[i]), &e));
		check(&d, fs_dir_block_of(&d, fixed[i], strlen(fixed[i]), &blk));
	}
	for (unsigned i = 0; i < nf; i++) {
		check(&d, fs_dir_block_of(&d, found[i], strlen(found[i]), &blk));
		check(&d, fs_dir_lookup(&d, found[i], strlen(found[i]), &e));
	}
	memset(big, 'x', sizeof(big));
	check(&d, fs_dir_lookup(&d, big, FS_NAME_MAX, &e));
	check(&d, fs_dir_lookup(&d, big, FS_NAME_MAX + 1, &e));
	readdir_all(&d);
	check(&d, fs_dir_is_empty(&d));

	check(&d, fs_dir_insert(&d, "newname", 7, 1234, 1, 8));
	check(&d, fs_dir_insert(&d, big, FS_NAME_MAX, 1235, 1, 4));
	if (nf) {
		check(&d, fs_dir_insert(&d, found[0], strlen(found[0]), 99, 2, 8));
		check(&d, fs_dir_remove(&d, found[0], strlen(found[0]), &e));
		check(&d, fs_dir_lookup(&d, found[0], strlen(found[0]), &e));
	}
	if (nf > 1)
		check(&d, fs_dir_remove(&d, found[nf - 1], strlen(found[nf - 1]), NULL));
	check(&d, fs_dir_remove(&d, "newname", 7, &e));
	check(&d, fs_dir_shrink(&d));
	readdir_all(&d);
	check(&d, fs_dir_is_empty(&d));

	fz_store_done(&st);
	return 0;
}
