/*
 * tests/unit/test_fs_xattr.c - extended attributes and POSIX ACLs of a
 * mounted stripe group (fs/xattr.c, fs/acl.h) on memory disks: a real
 * pagepool, real tokens over loopback (one node serving its own space),
 * the log; test_fs_sg.c's fixture. The ACL hooks (sg_acl_perm,
 * sg_acl_chmod, sg_acl_inherit) are called here directly on inode
 * records read through the runtime, since their callers (sg_perm,
 * fs_setattr, make) belong to inode.c / vnode*.c.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/err.h"
#include "fs/acl.h"
#include "fs/fs.h"
#include "fs/fsck.h"
#include "fs/mkfs.h"
#include "fs/sg_int.h"
#include "net/net.h"
#include "pagepool/pagepool.h"
#include "tokens/toknet.h"

#define FSM_FSID 78u
#define FSM_ADDR "127.0.9.71"
#define FSM_DISK_BYTES (64ull << 20)
#define FSM_POOL_BYTES (32ull << 20)
#include "tests/unit/fsmount.h"

/* 64 KiB blocks, as every test here wants */
static void mkfs(void)
{
	fsm_mkfs(64u << 10);
}

static const struct fs_cred root = {0, 0, 0, {0}, 022};
static const struct fs_cred user = {1000, 1000, 0, {0}, 022};
static const struct fs_cred other = {1001, 1001, 0, {0}, 022};

/* A file <name> in <dir> of <mode>, owned by root; its inode. */
static uint64_t mkfile(fs_sg *sg, uint64_t dir, const char *name, uint32_t mode)
{
	struct fs_attr a;
	fs_file *f = NULL;
	struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = mode};

	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, dir, name, mode, O_CREAT | O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);	/* past the umask */
	fs_forget(sg, a.ino, 1);
	return a.ino;
}

static uint64_t mkdir_(fs_sg *sg, uint64_t dir, const char *name, uint32_t mode)
{
	struct fs_attr a;
	struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = mode};

	CU_ASSERT_EQUAL_FATAL(fs_mkdir(sg, &root, dir, name, mode, &a), 0);
	CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
	fs_forget(sg, a.ino, 1);
	return a.ino;
}

static void set_owner(fs_sg *sg, uint64_t ino, uint32_t uid, uint32_t gid)
{
	struct fs_setattr sa = {.mask = FS_SET_UID | FS_SET_GID, .uid = uid, .gid = gid};
	struct fs_attr a;

	CU_ASSERT_EQUAL(fs_setattr(sg, &root, ino, &sa, NULL, &a), 0);
}

static uint32_t mode_of(fs_sg *sg, uint64_t ino)
{
	struct fs_attr a;

	CU_ASSERT_EQUAL_FATAL(fs_getattr(sg, ino, &a), 0);
	return a.mode;
}

/* The record as the runtime has it (the hooks' input). */
static void rec(fs_sg *sg, uint64_t ino, struct fs_inode *in)
{
	struct sg_ino *ip;
	struct tok_holder h;

	CU_ASSERT_EQUAL_FATAL(sg_iget(sg, ino, &ip), MM_OK);
	CU_ASSERT_EQUAL_FATAL(sg_itok(sg, ip, TOK_RO, &h), MM_OK);
	CU_ASSERT_EQUAL_FATAL(sg_iread(sg, ip, in), MM_OK);
	sg_itok_release(sg, &h);
	sg_iput(sg, ip);
}

static bool getx_is(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		    const void *val, size_t len)
{
	char buf[2048];
	ssize_t n = fs_getxattr(sg, c, ino, name, buf, sizeof(buf));

	return n == (ssize_t)len && !memcmp(buf, val, len);
}

/* Does the list <c> gets hold <name>? */
static bool listed(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name)
{
	char buf[4096];
	ssize_t n = fs_listxattr(sg, c, ino, buf, sizeof(buf));

	CU_ASSERT_FATAL(n >= 0);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(buf + off) + 1)
		if (!strcmp(buf + off, name))
			return true;
	return false;
}

/* ---- ACLs in Linux's xattr format ---- */

enum { UO = 1, U = 2, GO = 4, G = 8, M = 16, O = 32 };
#define UNDEF 0xffffffffu

struct ace {
	uint16_t tag, perm;
	uint32_t id;
};

static size_t acl(uint8_t *b, const struct ace *e, int n)
{
	b[0] = 2, b[1] = b[2] = b[3] = 0;
	for (int i = 0; i < n; i++) {
		uint8_t *p = b + 4 + 8 * i;

		p[0] = (uint8_t)e[i].tag, p[1] = (uint8_t)(e[i].tag >> 8);
		p[2] = (uint8_t)e[i].perm, p[3] = (uint8_t)(e[i].perm >> 8);
		for (int k = 0; k < 4; k++)
			p[4 + k] = (uint8_t)(e[i].id >> 8 * k);
	}
	return 4 + 8 * (size_t)n;
}

#define ACL(b, ...) acl(b, (const struct ace[]){__VA_ARGS__}, \
			(int)(sizeof((const struct ace[]){__VA_ARGS__}) / sizeof(struct ace)))

/* Entry <i> of the ACL <name> of record <in> (from its xattr area). */
static bool rec_ace(const struct fs_inode *in, const char *name, int i, struct ace *e)
{
	size_t off = 0, nl = strlen(name);

	while (off + 4 <= in->xattr_len) {
		size_t enl = in->xattr[off + 1];
		size_t vl = (size_t)in->xattr[off + 2] << 8 | in->xattr[off + 3];
		const uint8_t *v = in->xattr + off + 4 + enl;

		if (in->xattr[off] == 4 && enl == nl && !memcmp(in->xattr + off + 4, name, nl)) {
			if (4 + 8 * (size_t)i + 8 > vl)
				return false;
			v += 4 + 8 * i;
			e->tag = (uint16_t)(v[0] | v[1] << 8);
			e->perm = (uint16_t)(v[2] | v[3] << 8);
			e->id = (uint32_t)v[4] | (uint32_t)v[5] << 8 | (uint32_t)v[6] << 16 |
				(uint32_t)v[7] << 24;
			return true;
		}
		off += 4 + enl + vl;
	}
	return false;
}

/* ---- tests ---- */

static char found_line[256];
static bool found_match;

static void fsck_find_log(void *arg, const char *line, bool fixed)
{
	(void)fixed;
	if (strstr(line, arg))
		found_match = true;
	snprintf(found_line, sizeof(found_line), "%s", line);
}

/* Does mmfsck -n of <dk> find a problem whose report says <what>? */
static bool fsck_finds(uint8_t **dk, const char *what)
{
	struct fs_disk_io io = {dk_read, dk_write, dk};
	struct fs_fsck_params fp = {.repair = FS_FSCK_NO, .log = fsck_find_log,
				    .arg = (void *)what};
	struct fs_fsck_report r;
	char err[512] = "";

	found_match = false;
	CU_ASSERT_EQUAL(fs_fsck(&io, ndisks_now, &fp, &r, err, sizeof(err)), MM_OK);
	if (!found_match)
		fprintf(stderr, "fsck found %llu, not \"%s\"; last: %s\n",
			(unsigned long long)r.found, what, found_line);
	return r.exit != 0 && found_match;
}

/* The value of user.<name>: <len> bytes from <seed>. */
static void xpat(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

static bool xval_is(fs_sg *sg, uint64_t ino, const char *name, size_t len, unsigned seed)
{
	static uint8_t want[70000], got[70000];
	ssize_t n = fs_getxattr(sg, &root, ino, name, got, sizeof(got));

	xpat(want, len, seed);
	return n == (ssize_t)len && !memcmp(got, want, len);
}

/* How many names listxattr gives. */
static int nlisted(fs_sg *sg, uint64_t ino)
{
	static char buf[70000];
	ssize_t n = fs_listxattr(sg, &root, ino, buf, sizeof(buf)), k = 0;

	CU_ASSERT_FATAL(n >= 0);
	CU_ASSERT_EQUAL(fs_listxattr(sg, &root, ino, NULL, 0), n);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(buf + off) + 1)
		k++;
	return (int)k;
}

/* Set user.fill000, 001, ... of <len> bytes (seeds from <seed>) on <f>
 * until -ENOSPC or <max>: how many were set. */
static int fill(fs_sg *sg, uint64_t f, int max, size_t len, unsigned seed)
{
	static uint8_t v[65536];
	char name[64];
	int n, rc;

	for (n = 0; n < max; n++) {
		snprintf(name, sizeof(name), "user.fill%03d", n);
		xpat(v, len, (unsigned)n + seed);
		rc = fs_setxattr(sg, &root, f, name, v, len, 0);
		if (rc) {
			CU_ASSERT_EQUAL(rc, -ENOSPC);
			break;
		}
	}
	return n;
}

/*
 * The overflow block: attributes past the inode's area live there,
 * with the file's metadata replicas; they survive a remount and a crash
 * (replay); the block is freed with its last attribute and with its
 * file; an ACL moves other names there to stay in the inode; a change
 * that fits nowhere is -ENOSPC and loses nothing. fsck is clean after.
 */
static void test_overflow(void)
{
	static uint8_t v[70000];
	uint8_t *snap[NDISK];
	struct fs_inode in;
	pp_pool *pool, *pool2;
	fs_sg *sg;
	uint64_t f, g, h;
	char name[64];
	int n = 0;

	fsm_meta_rep = 2;
	mkfs();
	fsm_meta_rep = 0;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "o", 0644);

	/* one value past the inode's area: the overflow block, 2 replicas */
	xpat(v, 4000, 1);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", v, 4000, 0), 0);
	rec(sg, f, &in);
	CU_ASSERT(in.flags & FS_IF_XATTR_OVERFLOW);
	CU_ASSERT_EQUAL(in.meta_rep, 2);
	CU_ASSERT(in.xattr_ovf.da[0] && in.xattr_ovf.da[1] && !in.xattr_ovf.da[2]);
	CU_ASSERT_NOT_EQUAL(fs_da_disk(in.xattr_ovf.da[0]), fs_da_disk(in.xattr_ovf.da[1]));
	CU_ASSERT_EQUAL(in.xattr_len, 0);
	CU_ASSERT(in.subblocks > 0);
	CU_ASSERT(xval_is(sg, f, "user.big", 4000, 1));
	/* small ones go to the inode's area */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.small", "s", 1, 0), 0);
	rec(sg, f, &in);
	CU_ASSERT(in.xattr_len > 0);
	CU_ASSERT(getx_is(sg, &root, f, "user.small", "s", 1));
	CU_ASSERT(listed(sg, &root, f, "user.big"));
	CU_ASSERT(listed(sg, &root, f, "user.small"));
	/* XATTR_CREATE / _REPLACE see names in the block too */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", v, 10, XATTR_CREATE), -EEXIST);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", v, 4000, XATTR_REPLACE), 0);

	/* fill both until nothing fits: every value still reads back */
	n = fill(sg, f, 1000, 900, 10);
	snprintf(name, sizeof(name), "user.fill%03d", n);
	/* the block holds about 64 KiB, the inode 1 KiB: 4000 + ~66 x 916 */
	CU_ASSERT(n >= 60 && n < 80);
	CU_ASSERT_EQUAL(nlisted(sg, f), n + 2);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, name, NULL, 0), -ENODATA);
	/* a value no block holds (64 KiB and its name): -ENOSPC on an
	 * empty one too, as ext4 without ea_inode says */
	xpat(v, 65536, 3);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", v, 65536, 0), -ENOSPC);
	CU_ASSERT(xval_is(sg, f, "user.big", 4000, 1));
	for (int i = 0; i < n; i += 7) {
		snprintf(name, sizeof(name), "user.fill%03d", i);
		CU_ASSERT(xval_is(sg, f, name, 900, (unsigned)i + 10));
	}

	/* an ACL that does not fit the inode's area moves names out */
	g = mkfile(sg, FS_ROOT_INO, "acl", 0644);
	xpat(v, 900, 5);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.a", v, 900, 0), 0);
	rec(sg, g, &in);
	CU_ASSERT_FALSE(in.flags & FS_IF_XATTR_OVERFLOW);
	{
		uint8_t a[4 + 8 * 40];
		size_t al = 4 + 8 * 40;

		/* owner, 36 named users, group, mask, other */
		a[0] = 2, a[1] = a[2] = a[3] = 0;
		for (int i = 0; i < 40; i++) {
			uint16_t tag = i == 0 ? 1 : i < 37 ? 2 : i == 37 ? 4 : i == 38 ? 0x10 : 0x20;
			uint32_t id = i >= 1 && i < 37 ? 500u + (uint32_t)i : 0xffffffffu;
			uint8_t *e = a + 4 + 8 * i;

			e[0] = (uint8_t)tag, e[1] = (uint8_t)(tag >> 8), e[2] = 6, e[3] = 0;
			for (int k = 0; k < 4; k++)
				e[4 + k] = (uint8_t)(id >> 8 * k);
		}
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "system.posix_acl_access", a, al, 0), 0);
		rec(sg, g, &in);
		CU_ASSERT(in.flags & FS_IF_XATTR_OVERFLOW);
		CU_ASSERT(xval_is(sg, g, "user.a", 900, 5));
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, "system.posix_acl_access", NULL, 0),
				(ssize_t)al);
		/* the permission check finds it in the inode */
		CU_ASSERT_EQUAL(sg_acl_perm(&(struct fs_cred){510, 510, 0, {0}, 022}, &in, 4), 0);
	}

	/* a crash after the attributes were made durable: replay gives
	 * them back (an fsync forces the log) */
	h = mkfile(sg, FS_ROOT_INO, "h", 0644);
	xpat(v, 30000, 9);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, h, "user.h", v, 30000, 0), 0);
	{
		fs_file *ff;

		CU_ASSERT_EQUAL(fs_open(sg, &root, h, O_RDWR, &ff), 0);
		CU_ASSERT_EQUAL(fs_fsync(sg, ff, false), 0);
		fsm_snapshot(snap);
		CU_ASSERT_EQUAL(fs_release(sg, ff), 0);
	}

	/* a remount reads them all back */
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	sg = mount_on(disk, pool);
	CU_ASSERT(xval_is(sg, f, "user.big", 4000, 1));
	CU_ASSERT_EQUAL(nlisted(sg, f), n + 2);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user.fill%03d", i);
		CU_ASSERT(xval_is(sg, f, name, 900, (unsigned)i + 10));
	}
	/* the last name out frees the block */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user.fill%03d", i);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, name), 0);
	}
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.big"), 0);
	rec(sg, f, &in);
	CU_ASSERT_FALSE(in.flags & FS_IF_XATTR_OVERFLOW);
	CU_ASSERT_EQUAL(in.subblocks, 0);
	CU_ASSERT_EQUAL(nlisted(sg, f), 1);
	/* and a file removed frees its block */
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "acl"), 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);

	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	CU_ASSERT(xval_is(sg, h, "user.h", 30000, 9));
	CU_ASSERT(xval_is(sg, f, "user.big", 4000, 1));
	rec(sg, h, &in);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	fsck_clean(snap);

	/* one replica damaged: found, and rewritten from the other */
	snap[fs_da_disk(in.xattr_ovf.da[0])][fs_da_sub(in.xattr_ovf.da[0]) * 4096 + 100] ^= 1;
	CU_ASSERT(fsck_finds(snap, "replica 0"));
	fsck_repair_clean(snap);
	/* both: found, and dropped by -y (the attributes with it) */
	for (int r = 0; r < 2; r++)
		snap[fs_da_disk(in.xattr_ovf.da[r])][fs_da_sub(in.xattr_ovf.da[r]) * 4096 + 200] ^= 1;
	CU_ASSERT(fsck_finds(snap, "xattr overflow: "));
	fsck_repair_clean(snap);
	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, h, "user.h", NULL, 0), -ENODATA);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, h, "user.h", v, 30000, 0), 0);
	CU_ASSERT(xval_is(sg, h, "user.h", 30000, 9));
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	fsck_clean(snap);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
}

/*
 * Format version 2 with blocks over 64 KiB: the overflow grows to several
 * metadata blocks in one run (xattr_units), so a value of 64 KiB (Linux's
 * XATTR_SIZE_MAX) and a thousand more names fit; it moves as it grows
 * and shrinks, survives a remount and a crash, and fsck claims and
 * checks every block of it. A version 1 file system keeps one block.
 */
static void test_wide_overflow(void)
{
	static uint8_t v[70000];
	uint8_t *snap[NDISK];
	struct fs_inode in;
	pp_pool *pool, *pool2;
	fs_sg *sg;
	uint64_t f, sub2;
	char name[64];
	int n;

	fsm_meta_rep = 2;
	fsm_mkfs(256u << 10);
	fsm_meta_rep = 0;
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "w", 0644);

	xpat(v, 65536, 4);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.max", v, 65536, 0), 0);
	CU_ASSERT(xval_is(sg, f, "user.max", 65536, 4));
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.max", NULL, 0), 65536);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.xattr_units, 2);
	CU_ASSERT(in.xattr_ovf.da[0] && in.xattr_ovf.da[1]);
	sub2 = in.subblocks;
	CU_ASSERT(sub2 > 0);
	/* over XATTR_SIZE_MAX: -E2BIG */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.max2", v, 65537, 0), -E2BIG);

	/* a thousand more names (generic/020's count): three blocks */
	for (n = 0; n < 1000; n++) {
		snprintf(name, sizeof(name), "user.attribute_%d", n);
		xpat(v, 100, (unsigned)n);
		CU_ASSERT_EQUAL_FATAL(fs_setxattr(sg, &root, f, name, v, 100, 0), 0);
	}
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.xattr_units, 3);
	CU_ASSERT_EQUAL(in.subblocks, sub2 / 2 * 3);
	CU_ASSERT_EQUAL(nlisted(sg, f), 1001);
	/* fill until nothing fits: four blocks, the most at 256 KiB a
	 * block, and the refused one loses nothing */
	n = fill(sg, f, 100, 10000, 7);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.xattr_units, 4);
	CU_ASSERT(n >= 5 && n < 10);
	CU_ASSERT(xval_is(sg, f, "user.max", 65536, 4));
	CU_ASSERT(xval_is(sg, f, "user.attribute_999", 100, 999));

	/* a crash once it is durable: replay gives it back */
	{
		fs_file *ff;

		CU_ASSERT_EQUAL(fs_open(sg, &root, f, O_RDWR, &ff), 0);
		CU_ASSERT_EQUAL(fs_fsync(sg, ff, false), 0);
		fsm_snapshot(snap);
		CU_ASSERT_EQUAL(fs_release(sg, ff), 0);
	}
	/* shrinking moves it back to fewer blocks */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user.fill%03d", i);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, name), 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "user.attribute_%d", i);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, name), 0);
	}
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.xattr_units, 2);
	CU_ASSERT_EQUAL(in.subblocks, sub2);
	CU_ASSERT(xval_is(sg, f, "user.max", 65536, 4));
	/* a remount reads it back; fsck is clean */
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	sg = mount_on(disk, pool);
	CU_ASSERT(xval_is(sg, f, "user.max", 65536, 4));
	CU_ASSERT_EQUAL(nlisted(sg, f), 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	fsck_clean(disk);
	sg = mount_on(disk, pool);
	/* the last one out frees all of it */
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.max"), 0);
	rec(sg, f, &in);
	CU_ASSERT_FALSE(in.flags & FS_IF_XATTR_OVERFLOW);
	CU_ASSERT_EQUAL(in.xattr_units, 0);
	CU_ASSERT_EQUAL(in.subblocks, 0);
	/* a file system of version 1 keeps one block: 64 KiB is -ENOSPC */
	sg->sgd.version = 1;
	xpat(v, 65536, 4);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.max", v, 65536, 0), -ENOSPC);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.max", v, 60000, 0), 0);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.xattr_units, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);

	/* the crash image: replayed at mount, every value back */
	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	CU_ASSERT(xval_is(sg, f, "user.max", 65536, 4));
	CU_ASSERT(xval_is(sg, f, "user.attribute_500", 100, 500));
	CU_ASSERT_EQUAL(nlisted(sg, f), 1001 + n);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	fsck_clean(snap);
	/* the third block of one replica damaged (8 KiB subblocks at 256 KiB
	 * blocks): found and rewritten */
	snap[fs_da_disk(in.xattr_ovf.da[0])][fs_da_sub(in.xattr_ovf.da[0]) * 8192 + 2 * FS_MB + 100] ^= 1;
	CU_ASSERT(fsck_finds(snap, "xattr overflow block 2: replica 0"));
	fsck_repair_clean(snap);
	/* in both: dropped by -y, with the attributes */
	for (int r = 0; r < 2; r++)
		snap[fs_da_disk(in.xattr_ovf.da[r])][fs_da_sub(in.xattr_ovf.da[r]) * 8192 + 3 * FS_MB + 200] ^= 1;
	CU_ASSERT(fsck_finds(snap, "xattr overflow: "));
	fsck_repair_clean(snap);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
}

static void test_basic(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, d, l;
	char buf[2048], name[300];
	struct fs_attr a;
	ssize_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0644);
	d = mkdir_(sg, FS_ROOT_INO, "d", 0755);

	/* set, get: size 0 asks the size, a short buffer is -ERANGE */
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.a", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.a", "hello", 5, 0), 0);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.a", NULL, 0), 5);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.a", buf, 4), -ERANGE);
	CU_ASSERT(getx_is(sg, &root, f, "user.a", "hello", 5));
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.b", buf, sizeof(buf)), -ENODATA);
	/* flags */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.a", "x", 1, XATTR_CREATE), -EEXIST);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.b", "x", 1, XATTR_REPLACE), -ENODATA);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.b", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.a", "a longer value", 14, XATTR_REPLACE), 0);
	CU_ASSERT(getx_is(sg, &root, f, "user.a", "a longer value", 14));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.b", "", 0, XATTR_CREATE), 0);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.b", buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.a", "x", 1, 4), -EINVAL);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.a", "x", 70000, 0), -E2BIG);
	/* names */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.", "x", 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "", "x", 1, 0), -ERANGE);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "other.a", "x", 1, 0), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "other.a", buf, sizeof(buf)), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "system.foo", "x", 1, 0), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "system.foo", buf, sizeof(buf)), -EOPNOTSUPP);
	memcpy(name, "user.", 5);
	memset(name + 5, 'n', 251);
	name[256] = 0;	/* 256 bytes: one too many */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, name, "x", 1, 0), -ERANGE);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, name, buf, sizeof(buf)), -ERANGE);
	name[255] = 0;	/* 255: the longest */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, name, "long", 4, 0), 0);
	CU_ASSERT(getx_is(sg, &root, f, name, "long", 4));
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, name), 0);
	/* the other namespaces (root) */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "trusted.t", "T", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "security.s", "SS", 2, 0), 0);
	CU_ASSERT(getx_is(sg, &root, f, "trusted.t", "T", 1));
	CU_ASSERT(getx_is(sg, &root, f, "security.s", "SS", 2));
	/* user.a and trusted.a are two attributes */
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "trusted.a", buf, sizeof(buf)), -ENODATA);

	/* list: the names in order of creation, NUL-separated */
	{
		static const char want[] = "user.a\0user.b\0trusted.t\0security.s";

		n = fs_listxattr(sg, &root, f, NULL, 0);
		CU_ASSERT_EQUAL(n, (ssize_t)sizeof(want));
		CU_ASSERT_EQUAL(fs_listxattr(sg, &root, f, buf, sizeof(want) - 1), -ERANGE);
		CU_ASSERT_EQUAL(fs_listxattr(sg, &root, f, buf, sizeof(buf)), (ssize_t)sizeof(want));
		CU_ASSERT(!memcmp(buf, want, sizeof(want)));
		CU_ASSERT_EQUAL(fs_listxattr(sg, &root, d, buf, sizeof(buf)), 0);
	}
	/* remove */
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.a"), 0);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.a"), -ENODATA);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.a", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT(getx_is(sg, &root, f, "trusted.t", "T", 1));
	CU_ASSERT_FALSE(listed(sg, &root, f, "user.a"));
	CU_ASSERT(listed(sg, &root, f, "user.b"));
	/* the record keeps the area's unused bytes zero */
	{
		struct fs_inode in;
		size_t z = 0;

		rec(sg, f, &in);
		for (size_t i = in.xattr_len; i < FS_XATTR_AREA; i++)
			z += in.xattr[i] != 0;
		CU_ASSERT_EQUAL(z, 0);
	}

	/* every change is a transaction that sets ctime */
	{
		struct fs_setattr sa = {.mask = FS_SET_CTIME, .ctime = {1000, 0}};

		CU_ASSERT_EQUAL(fs_setattr(sg, &root, f, &sa, NULL, &a), 0);
		CU_ASSERT_EQUAL(a.ctime.sec, 1000);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.c", "c", 1, 0), 0);
		CU_ASSERT_EQUAL(fs_getattr(sg, f, &a), 0);
		CU_ASSERT(a.ctime.sec > 1000);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, f, &sa, NULL, &a), 0);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.c"), 0);
		CU_ASSERT_EQUAL(fs_getattr(sg, f, &a), 0);
		CU_ASSERT(a.ctime.sec > 1000);
		/* a failed change changes nothing */
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, f, &sa, NULL, &a), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.b", "x", 1, XATTR_CREATE), -EEXIST);
		CU_ASSERT_EQUAL(fs_getattr(sg, f, &a), 0);
		CU_ASSERT_EQUAL(a.ctime.sec, 1000);
	}

	/* a full area: -ENOSPC, and the old value stays */
	{
		uint64_t g = mkfile(sg, FS_ROOT_INO, "full", 0644);
		static uint8_t big[FS_XATTR_AREA];

		/* an entry is 4 bytes, the name after "user.", the value: one
		 * that fills the inode's area, then the overflow block takes
		 * the rest (test_overflow) */
		memset(big, 0xab, sizeof(big));
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.v", big, FS_XATTR_AREA - 5, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.w", "", 0, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.v", big, FS_XATTR_AREA - 4, 0), 0);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, "user.v", NULL, 0), FS_XATTR_AREA - 4);
		/* replacing with a smaller value makes room */
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.v", big, 100, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.w", big, 500, 0), 0);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, "user.v", buf, sizeof(buf)), 100);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, "user.w", buf, sizeof(buf)), 500);
		CU_ASSERT_EQUAL(buf[499], (char)0xab);
		/* gone: its number is stale */
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "full"), 0);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, "user.v", buf, sizeof(buf)), -ESTALE);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.v", "x", 1, 0), -ESTALE);
	}

	/* user.* only on files and directories; trusted.* anywhere */
	CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, "l", "f", &a), 0);
	l = a.ino;
	fs_forget(sg, l, 1);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, l, "user.a", "x", 1, 0), -EPERM);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, l, "user.a", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, l, "trusted.a", "x", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, "user.d", "dir", 3, 0), 0);
	CU_ASSERT(getx_is(sg, &root, d, "user.d", "dir", 3));

	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	/* read-only: reads work, changes are -EROFS */
	{
		struct fs_mount_params mp = {.device = "fs1", .fsid = FSID, .ndisks = NDISK,
					     .dio = {dk_read, dk_write, disk}, .pool = pool,
					     .tok = tn, .node = NODE, .token_timeout_ms = 10000,
					     .readonly = true};
		char err[256];

		CU_ASSERT_EQUAL_FATAL(fs_sg_mount(&mp, &sg, err, sizeof(err)), 0);
		CU_ASSERT(getx_is(sg, &root, f, "user.b", "", 0));
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.z", "x", 1, 0), -EROFS);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.b"), -EROFS);
		CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	}
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

static void test_permissions(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, priv, open_, mine, sticky, d;
	char buf[256];

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0644);
	priv = mkfile(sg, FS_ROOT_INO, "priv", 0600);
	open_ = mkfile(sg, FS_ROOT_INO, "open", 0666);
	mine = mkfile(sg, FS_ROOT_INO, "mine", 0600);
	set_owner(sg, mine, 1000, 1000);
	sticky = mkdir_(sg, FS_ROOT_INO, "tmp", 01777);
	d = mkdir_(sg, FS_ROOT_INO, "d", 0777);
	for (int i = 0; i < 4; i++) {
		uint64_t ino = (uint64_t[]){f, priv, open_, mine}[i];

		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, ino, "user.a", "A", 1, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, ino, "trusted.t", "T", 1, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, ino, "security.s", "S", 1, 0), 0);
	}

	/* user.*: the file's read and write permission */
	CU_ASSERT(getx_is(sg, &user, f, "user.a", "A", 1));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, f, "user.b", "x", 1, 0), -EACCES);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &user, f, "user.a"), -EACCES);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &user, priv, "user.a", buf, sizeof(buf)), -EACCES);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, open_, "user.b", "x", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &user, open_, "user.b"), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, mine, "user.b", "x", 1, 0), 0);
	/* root passes */
	CU_ASSERT(getx_is(sg, &root, priv, "user.a", "A", 1));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, mine, "user.c", "x", 1, 0), 0);
	/* a sticky directory: only its owner (or root) writes user.* */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, sticky, "user.a", "x", 1, 0), -EPERM);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, sticky, "user.a", "x", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, d, "user.a", "x", 1, 0), 0);

	/* trusted.*: root only, and hidden from others */
	CU_ASSERT_EQUAL(fs_getxattr(sg, &user, f, "trusted.t", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &user, mine, "trusted.t", buf, sizeof(buf)), -ENODATA);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, mine, "trusted.u", "x", 1, 0), -EPERM);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &user, mine, "trusted.t"), -EPERM);
	CU_ASSERT(listed(sg, &root, mine, "trusted.t"));
	CU_ASSERT_FALSE(listed(sg, &user, mine, "trusted.t"));
	CU_ASSERT(listed(sg, &user, mine, "security.s"));

	/* security.*: anyone reads; the owner or root writes */
	CU_ASSERT(getx_is(sg, &user, priv, "security.s", "S", 1));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, open_, "security.s", "x", 1, 0), -EPERM);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &user, f, "security.s"), -EPERM);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &user, mine, "security.s", "mine", 4, 0), 0);
	CU_ASSERT(getx_is(sg, &other, mine, "security.s", "mine", 4));
	/* but a writer's write drops the file's capabilities: the kernel
	 * removes security.capability in the writer's name (setcap'd file,
	 * chmod 666, appended to by another user: ext4 lets it, and so must
	 * we); setting it, or removing it without write permission, stays
	 * the owner's */
	{
		static const uint8_t cap[20] = {1, 0, 0, 2, 0, 0x20};	/* cap_net_raw+ep */

		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, open_, "security.capability", cap, 20, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "security.capability", cap, 20, 0), 0);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &user, open_, "security.capability", cap, 20, 0),
				-EPERM);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &user, f, "security.capability"), -EPERM);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &user, open_, "security.capabilityx"), -EPERM);
		CU_ASSERT_EQUAL(fs_removexattr(sg, &user, open_, "security.capability"), 0);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, open_, "security.capability", buf, sizeof(buf)),
				-ENODATA);
		CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "security.capability", buf, sizeof(buf)),
				20);
	}

	/* list: user.* names only for a caller who may read the file */
	CU_ASSERT(listed(sg, &user, f, "user.a"));
	CU_ASSERT_FALSE(listed(sg, &user, priv, "user.a"));
	CU_ASSERT(listed(sg, &user, priv, "security.s"));
	CU_ASSERT(listed(sg, &root, priv, "user.a"));

	/* the ACLs: anyone reads, the owner or root sets */
	{
		uint8_t a[128];
		size_t n = ACL(a, {UO, 6, UNDEF}, {U, 6, 1001}, {GO, 0, UNDEF}, {M, 6, UNDEF},
			       {O, 0, UNDEF});

		CU_ASSERT_EQUAL(fs_setxattr(sg, &user, f, "system.posix_acl_access", a, n, 0), -EPERM);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &user, mine, "system.posix_acl_access", a, n, 0), 0);
		CU_ASSERT(getx_is(sg, &other, mine, "system.posix_acl_access", a, n));
		CU_ASSERT_EQUAL(fs_removexattr(sg, &other, mine, "system.posix_acl_access"), -EPERM);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "system.posix_acl_access", a, n, 0), 0);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

static void test_acl_validation(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, d, l;
	uint8_t a[2048];
	struct fs_attr at;
	const char *acc = "system.posix_acl_access", *def = "system.posix_acl_default";
	size_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0644);
	d = mkdir_(sg, FS_ROOT_INO, "d", 0755);

	/* the smallest and a full canonical ACL pass */
	n = ACL(a, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	n = ACL(a, {UO, 7, UNDEF}, {U, 5, 10}, {U, 4, 20}, {GO, 5, UNDEF}, {G, 1, 3}, {G, 2, 9},
		{M, 7, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	/* a mask with no named entries is allowed */
	n = ACL(a, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {M, 1, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);

#define BAD(...) do { \
		n = ACL(a, __VA_ARGS__); \
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), -EINVAL); \
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), -EINVAL); \
	} while (0)
	BAD({GO, 5, UNDEF}, {UO, 7, UNDEF}, {O, 4, UNDEF});		/* order */
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF});				/* no other */
	BAD({UO, 7, UNDEF}, {O, 4, UNDEF});				/* no owning group */
	BAD({UO, 7, UNDEF}, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {U, 7, 5}, {GO, 5, UNDEF}, {O, 4, UNDEF});	/* named, no mask */
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF}, {G, 7, 5}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {U, 7, 5}, {U, 7, 5}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {U, 7, 6}, {U, 7, 5}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {U, 7, UNDEF}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 8, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF});		/* perm past rwx */
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF}, {0x40, 0, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF}, {O, 4, UNDEF});
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF}, {U, 4, 1});	/* after other */
	BAD({UO, 7, UNDEF}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {M, 7, UNDEF}, {O, 4, UNDEF});
#undef BAD
	/* the header: version 2, size 4 + 8n */
	n = ACL(a, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 4, UNDEF});
	a[0] = 1;
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), -EINVAL);
	a[0] = 2;
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n - 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, 3, 0), -EINVAL);
	/* nothing was kept of the failures: the last good one stands */
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, acc, NULL, 0), 4 + 4 * 8);
	/* a default ACL is only for directories; ACLs not on symlinks */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, def, a, n, 0), -EACCES);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, def), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), 0);
	CU_ASSERT(getx_is(sg, &root, d, def, a, n));
	CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, "l", "f", &at), 0);
	l = at.ino;
	fs_forget(sg, l, 1);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, l, acc, a, n, 0), -EOPNOTSUPP);
	/* too many entries for the area: valid, but -ENOSPC */
	{
		struct ace e[130];
		int k = 0;

		e[k++] = (struct ace){UO, 7, UNDEF};
		for (uint32_t u = 0; u < 126; u++)
			e[k++] = (struct ace){U, 4, 100 + u};
		e[k++] = (struct ace){GO, 5, UNDEF};
		e[k++] = (struct ace){M, 7, UNDEF};
		e[k++] = (struct ace){O, 0, UNDEF};
		n = acl(a, e, k);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), -ENOSPC);
		/* 118 named users fit: 4 + 17 + 4 + 8 * 122 bytes */
		e[119] = e[127], e[120] = e[128], e[121] = e[129];
		n = acl(a, e, 122);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), 0);
	}
	/* a header with no entries, or an empty value, removes the ACL */
	CU_ASSERT(listed(sg, &root, d, def));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, 4, 0), 0);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, d, def, a, sizeof(a)), -ENODATA);
	CU_ASSERT_FALSE(listed(sg, &root, d, def));
	CU_ASSERT(listed(sg, &root, f, acc));
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, acc, a, sizeof(a)), -ENODATA);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, acc), 0);	/* absent: 0, as Linux */
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

static void test_acl_mode(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, g;
	uint8_t a[256], b[256];
	struct fs_inode in;
	struct ace e;
	const char *acc = "system.posix_acl_access";
	size_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 04644);

	/* an ACL the mode can say: only the mode changes */
	n = ACL(a, {UO, 6, UNDEF}, {GO, 4, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	CU_ASSERT_EQUAL(mode_of(sg, f), S_IFREG | 04640);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, acc, b, sizeof(b)), -ENODATA);
	CU_ASSERT_FALSE(listed(sg, &root, f, acc));

	/* an extended one is kept (unnamed ids as the kernel writes them),
	 * and the mode's group bits are its mask */
	n = ACL(a, {UO, 7, 0}, {U, 7, 1000}, {GO, 4, 0}, {M, 5, 0}, {O, 1, 0});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	CU_ASSERT_EQUAL(mode_of(sg, f), S_IFREG | 04751);
	n = ACL(a, {UO, 7, UNDEF}, {U, 7, 1000}, {GO, 4, UNDEF}, {M, 5, UNDEF}, {O, 1, UNDEF});
	CU_ASSERT(getx_is(sg, &root, f, acc, a, n));
	CU_ASSERT(listed(sg, &root, f, acc));

	/* setting an equivalent one again drops the stored ACL */
	g = mkfile(sg, FS_ROOT_INO, "g", 0600);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, acc, a, n, 0), 0);
	n = ACL(b, {UO, 5, UNDEF}, {GO, 1, UNDEF}, {O, 4, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, acc, b, n, 0), 0);
	CU_ASSERT_EQUAL(mode_of(sg, g), S_IFREG | 0514);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, acc, b, sizeof(b)), -ENODATA);
	/* removing an ACL leaves the mode as it is */
	n = ACL(a, {UO, 7, UNDEF}, {U, 7, 1000}, {GO, 4, UNDEF}, {M, 5, UNDEF}, {O, 1, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, acc, a, n, 0), 0);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, g, acc), 0);
	CU_ASSERT_EQUAL(mode_of(sg, g), S_IFREG | 0751);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, g, acc, b, sizeof(b)), -ENODATA);

	/* an owner outside the file's group loses setgid setting an ACL */
	{
		uint64_t h = mkfile(sg, FS_ROOT_INO, "h", 02775);

		set_owner(sg, h, 1000, 50);
		{
			struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 02775};
			struct fs_attr at;

			CU_ASSERT_EQUAL(fs_setattr(sg, &root, h, &sa, NULL, &at), 0);
		}
		CU_ASSERT_EQUAL(mode_of(sg, h), S_IFREG | 02775);
		n = ACL(b, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 5, UNDEF});
		CU_ASSERT_EQUAL(fs_setxattr(sg, &user, h, acc, b, n, 0), 0);
		CU_ASSERT_EQUAL(mode_of(sg, h), S_IFREG | 0755);
		/* root keeps it */
		{
			struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 02775};
			struct fs_attr at;

			CU_ASSERT_EQUAL(fs_setattr(sg, &root, h, &sa, NULL, &at), 0);
		}
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, h, acc, b, n, 0), 0);
		CU_ASSERT_EQUAL(mode_of(sg, h), S_IFREG | 02755);
	}

	/* chmod: sg_acl_chmod makes the stored ACL take the new bits */
	rec(sg, f, &in);
	in.mode = S_IFREG | 0620;
	CU_ASSERT_EQUAL(sg_acl_chmod(&in), 0);
	CU_ASSERT(rec_ace(&in, "posix_acl_access", 0, &e) && e.tag == UO && e.perm == 6);
	CU_ASSERT(rec_ace(&in, "posix_acl_access", 1, &e) && e.tag == U && e.perm == 7 &&
		  e.id == 1000);
	CU_ASSERT(rec_ace(&in, "posix_acl_access", 2, &e) && e.tag == GO && e.perm == 4);
	CU_ASSERT(rec_ace(&in, "posix_acl_access", 3, &e) && e.tag == M && e.perm == 2);
	CU_ASSERT(rec_ace(&in, "posix_acl_access", 4, &e) && e.tag == O && e.perm == 0);
	/* without a mask (an ACL kept by an older writer) the owning group
	 * takes the group bits */
	{
		struct fs_inode x;
		uint8_t v[64];
		size_t vl = ACL(v, {UO, 7, UNDEF}, {GO, 7, UNDEF}, {O, 7, UNDEF});
		static const char nm[] = "posix_acl_access";

		memset(&x, 0, sizeof(x));
		x.mode = S_IFREG | 0751;
		x.xattr[0] = 4;
		x.xattr[1] = sizeof(nm) - 1;
		x.xattr[2] = 0;
		x.xattr[3] = (uint8_t)vl;
		memcpy(x.xattr + 4, nm, sizeof(nm) - 1);
		memcpy(x.xattr + 4 + sizeof(nm) - 1, v, vl);
		x.xattr_len = (uint16_t)(4 + sizeof(nm) - 1 + vl);
		CU_ASSERT_EQUAL(sg_acl_chmod(&x), 0);
		CU_ASSERT(rec_ace(&x, nm, 1, &e) && e.tag == GO && e.perm == 5);
		CU_ASSERT(rec_ace(&x, nm, 2, &e) && e.tag == O && e.perm == 1);
		/* a damaged one is refused, untouched */
		x.xattr[4 + sizeof(nm) - 1] = 9;
		CU_ASSERT_EQUAL(sg_acl_chmod(&x), -EIO);
		CU_ASSERT(rec_ace(&x, nm, 1, &e) && e.perm == 5);
	}
	/* no ACL: nothing to do */
	rec(sg, g, &in);
	in.mode = S_IFREG | 0700;
	{
		uint16_t before = in.xattr_len;

		CU_ASSERT_EQUAL(sg_acl_chmod(&in), 0);
		CU_ASSERT_EQUAL(in.xattr_len, before);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

static void test_acl_perm(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, plain;
	uint8_t a[256];
	struct fs_inode in;
	const char *acc = "system.posix_acl_access";
	struct fs_cred grp2000 = {1002, 1002, 1, {2000}, 022};
	struct fs_cred owngrp = {1003, 0, 0, {0}, 022};
	size_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0600);
	plain = mkfile(sg, FS_ROOT_INO, "plain", 0644);

	/* no ACL: the mode decides */
	rec(sg, plain, &in);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 4), 1);

	/* a named user granted rw; others nothing */
	n = ACL(a, {UO, 6, UNDEF}, {U, 6, 1000}, {GO, 0, UNDEF}, {G, 4, 2000}, {M, 6, UNDEF},
		{O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.mode & 0777, 0660);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 6), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 1), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&other, &in, 4), -EACCES);
	/* a named group; the owning group's own entry (---), not the mode's rw */
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 2), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&owngrp, &in, 4), -EACCES);
	/* the owner: the mode's owner bits */
	CU_ASSERT_EQUAL(sg_acl_perm(&root, &in, 6), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&root, &in, 1), -EACCES);

	/* the mask limits the named entries */
	n = ACL(a, {UO, 6, UNDEF}, {U, 7, 1000}, {GO, 6, UNDEF}, {G, 6, 2000}, {M, 4, UNDEF},
		{O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(in.mode & 0777, 0640);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 2), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 1), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 2), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&owngrp, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&owngrp, &in, 2), -EACCES);
	/* a chmod's new mask (the mode's group bits) applies at once */
	in.mode = S_IFREG | 0670;
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 7), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 6), 0);
	/* others: the mode's other bits */
	in.mode = S_IFREG | 0604;
	CU_ASSERT_EQUAL(sg_acl_perm(&other, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&other, &in, 2), -EACCES);
	/* a group member matched by a group entry does not fall back to other */
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 4), -EACCES);
	in.mode = S_IFREG | 0647;
	CU_ASSERT_EQUAL(sg_acl_perm(&other, &in, 1), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&owngrp, &in, 1), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&grp2000, &in, 1), -EACCES);

	/* a damaged stored ACL refuses rather than widens */
	rec(sg, f, &in);
	in.xattr[4 + 16] = 3;	/* its version */
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 4), -EACCES);

	/* the ACL is read back from disk after a remount */
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	sg = mount_on(disk, pool);
	rec(sg, f, &in);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 4), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &in, 2), -EACCES);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* Does the record survive encode + decode (the area well-formed)? */
static bool record_ok(const struct fs_inode *in)
{
	static uint8_t r[FS_INODE_BYTES];
	struct fs_inode back;
	char err[192];

	fs_inode_encode(in, FSID, r);
	if (fs_inode_decode(r, FSID, in->ino, &back, err, sizeof(err))) {
		fprintf(stderr, "decode: %s\n", err);
		return false;
	}
	return back.xattr_len == in->xattr_len && !memcmp(back.xattr, in->xattr, in->xattr_len);
}

/* A child record as make() (vnode.c) builds it before calling the hook. */
static void fresh(struct fs_inode *c, uint64_t ino, uint32_t mode)
{
	memset(c, 0, sizeof(*c));
	c->ino = ino;
	c->mode = mode;
	c->nlink = S_ISDIR(mode) ? 2 : 1;
	c->data_rep = c->meta_rep = 1;
	if (S_ISDIR(mode))
		c->rdev = FS_ROOT_INO;
}

static void test_acl_inherit(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t d, plain;
	uint8_t a[1024], b[1024];
	struct fs_inode dir, child;
	struct ace e;
	const char *def = "system.posix_acl_default";
	uint32_t mode;
	size_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	d = mkdir_(sg, FS_ROOT_INO, "d", 0755);
	plain = mkdir_(sg, FS_ROOT_INO, "plain", 0755);
	n = ACL(a, {UO, 7, UNDEF}, {U, 7, 1000}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), 0);
	CU_ASSERT_EQUAL(mode_of(sg, d), S_IFDIR | 0755);	/* a default ACL leaves the mode */
	rec(sg, d, &dir);

	/* a file: 0666 masked by the default ACL (no umask), an access ACL */
	mode = S_IFREG | 0666;
	fresh(&child, 100, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 1);
	CU_ASSERT_EQUAL(mode, S_IFREG | 0660);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 0, &e) && e.tag == UO && e.perm == 6);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 1, &e) && e.tag == U && e.perm == 7 &&
		  e.id == 1000);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 2, &e) && e.tag == GO && e.perm == 5);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 3, &e) && e.tag == M && e.perm == 6);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 4, &e) && e.tag == O && e.perm == 0);
	CU_ASSERT_FALSE(rec_ace(&child, "posix_acl_default", 0, &e));
	child.mode = mode;
	CU_ASSERT(record_ok(&child));
	/* ... which then grants the named user, under the mask */
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &child, 6), 0);
	CU_ASSERT_EQUAL(sg_acl_perm(&user, &child, 1), -EACCES);
	CU_ASSERT_EQUAL(sg_acl_perm(&other, &child, 4), -EACCES);

	/* a directory: its access ACL and the default ACL itself */
	mode = S_IFDIR | 02777;
	fresh(&child, 101, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 1);
	CU_ASSERT_EQUAL(mode, S_IFDIR | 02770);
	CU_ASSERT(rec_ace(&child, "posix_acl_access", 3, &e) && e.tag == M && e.perm == 7);
	for (int i = 0; i < 5; i++) {
		struct ace x;

		CU_ASSERT(rec_ace(&child, "posix_acl_default", i, &e) &&
			  rec_ace(&dir, "posix_acl_default", i, &x) && e.tag == x.tag &&
			  e.perm == x.perm && e.id == x.id);
	}
	child.mode = mode;
	CU_ASSERT(record_ok(&child));

	/* a default ACL equivalent to a mode: no access ACL on the child */
	n = ACL(b, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {O, 1, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, b, n, 0), 0);
	rec(sg, d, &dir);
	mode = S_IFREG | 0664;
	fresh(&child, 102, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 1);
	CU_ASSERT_EQUAL(mode, S_IFREG | 0640);
	CU_ASSERT_EQUAL(child.xattr_len, 0);

	/* symlinks and directories without one: untouched, the umask applies */
	mode = S_IFLNK | 0777;
	fresh(&child, 103, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 0);
	CU_ASSERT_EQUAL(mode, S_IFLNK | 0777);
	CU_ASSERT_EQUAL(child.xattr_len, 0);
	rec(sg, plain, &dir);
	mode = S_IFREG | 0666;
	fresh(&child, 104, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 0);
	CU_ASSERT_EQUAL(mode, S_IFREG | 0666);
	CU_ASSERT_EQUAL(child.xattr_len, 0);

	/* a default ACL too big to hold twice: a new directory is -ENOSPC,
	 * a file (one copy) fits */
	{
		struct ace big[64];
		int k = 0;

		big[k++] = (struct ace){UO, 7, UNDEF};
		for (uint32_t u = 0; u < 60; u++)
			big[k++] = (struct ace){U, 7, 2000 + u};
		big[k++] = (struct ace){GO, 5, UNDEF};
		big[k++] = (struct ace){M, 7, UNDEF};
		big[k++] = (struct ace){O, 0, UNDEF};
		n = acl(b, big, k);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, b, n, 0), 0);
		rec(sg, d, &dir);
		mode = S_IFDIR | 0777;
		fresh(&child, 105, mode);
		CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), -ENOSPC);
		mode = S_IFREG | 0644;
		fresh(&child, 106, mode);
		CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), 1);
		CU_ASSERT_EQUAL(mode, S_IFREG | 0640);
		child.mode = mode;
		CU_ASSERT(record_ok(&child));
	}
	/* a damaged default ACL: -EIO */
	dir.xattr[4 + 17] = 7;
	mode = S_IFREG | 0644;
	fresh(&child, 107, mode);
	CU_ASSERT_EQUAL(sg_acl_inherit(&dir, &child, &mode), -EIO);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* Everything set before an unmount is there after a remount, and fsck
 * finds the records clean. */
static void test_persist(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, d;
	uint8_t a[256], def[256], val[700];
	const char *acc = "system.posix_acl_access", *dn = "system.posix_acl_default";
	size_t n, dl;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 13 + 1);
	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0644);
	d = mkdir_(sg, FS_ROOT_INO, "d", 0755);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", val, sizeof(val), 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "trusted.t", "t", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "security.selinux", "ctx", 3, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.gone", "g", 1, 0), 0);
	CU_ASSERT_EQUAL(fs_removexattr(sg, &root, f, "user.gone"), 0);
	n = ACL(a, {UO, 6, UNDEF}, {U, 4, 1000}, {GO, 4, UNDEF}, {M, 4, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	dl = ACL(def, {UO, 7, UNDEF}, {GO, 5, UNDEF}, {G, 7, 44}, {M, 7, UNDEF}, {O, 5, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, dn, def, dl, 0), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, "user.d", "dir", 3, 0), 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);

	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	CU_ASSERT(getx_is(sg, &root, f, "user.big", val, sizeof(val)));
	CU_ASSERT(getx_is(sg, &root, f, "trusted.t", "t", 1));
	CU_ASSERT(getx_is(sg, &user, f, "security.selinux", "ctx", 3));
	CU_ASSERT(getx_is(sg, &root, f, acc, a, n));
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.gone", NULL, 0), -ENODATA);
	CU_ASSERT_EQUAL(mode_of(sg, f), S_IFREG | 0640);
	CU_ASSERT(getx_is(sg, &root, d, dn, def, dl));
	CU_ASSERT(getx_is(sg, &root, d, "user.d", "dir", 3));
	{
		static const char want[] = "user.big\0trusted.t\0security.selinux\0"
					   "system.posix_acl_access";
		char buf[256];

		CU_ASSERT_EQUAL(fs_listxattr(sg, &root, f, buf, sizeof(buf)), (ssize_t)sizeof(want));
		CU_ASSERT(!memcmp(buf, want, sizeof(want)));
	}
	/* change after the remount, then unlink one: fsck still clean */
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", "small", 5, XATTR_REPLACE), 0);
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, "user.more", val, 300, 0), 0);
	{
		uint64_t g = mkfile(sg, FS_ROOT_INO, "g", 0644);

		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, g, "user.x", val, 600, 0), 0);
		CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "g"), 0);
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	sg = mount_on(disk, pool);
	CU_ASSERT(getx_is(sg, &root, f, "user.big", "small", 5));
	CU_ASSERT(getx_is(sg, &root, d, "user.more", val, 300));
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/* Through the callers: sg_perm (fs_access, fs_open), fs_setattr's chmod,
 * make's inheritance. */
static void test_wired(void)
{
	pp_pool *pool;
	fs_sg *sg;
	uint64_t f, d;
	uint8_t a[256], b[256];
	struct fs_attr at;
	fs_file *fh;
	const char *acc = "system.posix_acl_access", *def = "system.posix_acl_default";
	size_t n;

	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	f = mkfile(sg, FS_ROOT_INO, "f", 0600);
	CU_ASSERT_EQUAL(fs_access(sg, &user, f, 4), -EACCES);
	n = ACL(a, {UO, 6, UNDEF}, {U, 6, 1000}, {GO, 0, UNDEF}, {M, 6, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, acc, a, n, 0), 0);
	CU_ASSERT_EQUAL(fs_access(sg, &user, f, 6), 0);
	CU_ASSERT_EQUAL(fs_access(sg, &other, f, 4), -EACCES);
	CU_ASSERT_EQUAL(fs_open(sg, &user, f, O_RDWR, &fh), 0);
	fs_release(sg, fh);
	/* chmod g-w: the mask drops w, the named user loses it */
	{
		struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 0640};

		CU_ASSERT_EQUAL(fs_setattr(sg, &root, f, &sa, NULL, &at), 0);
	}
	CU_ASSERT_EQUAL(fs_access(sg, &user, f, 4), 0);
	CU_ASSERT_EQUAL(fs_access(sg, &user, f, 2), -EACCES);
	n = ACL(b, {UO, 6, UNDEF}, {U, 6, 1000}, {GO, 0, UNDEF}, {M, 4, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT(getx_is(sg, &root, f, acc, b, n));
	/* inheritance by fs_create / fs_mkdir: no umask, the default ACL's */
	d = mkdir_(sg, FS_ROOT_INO, "d", 0755);
	n = ACL(a, {UO, 7, UNDEF}, {U, 7, 1000}, {GO, 5, UNDEF}, {M, 7, UNDEF}, {O, 0, UNDEF});
	CU_ASSERT_EQUAL(fs_setxattr(sg, &root, d, def, a, n, 0), 0);
	CU_ASSERT_EQUAL(fs_create(sg, &root, d, "new", 0666, O_CREAT | O_RDWR, &at, &fh), 0);
	fs_release(sg, fh);
	fs_forget(sg, at.ino, 1);
	CU_ASSERT_EQUAL(at.mode, S_IFREG | 0660);
	CU_ASSERT_EQUAL(fs_access(sg, &user, at.ino, 6), 0);
	CU_ASSERT_EQUAL(fs_getxattr(sg, &root, at.ino, def, b, sizeof(b)), -ENODATA);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, d, "sub", 0777, &at), 0);
	fs_forget(sg, at.ino, 1);
	CU_ASSERT_EQUAL(at.mode, S_IFDIR | 0770);
	CU_ASSERT(getx_is(sg, &root, at.ino, def, a, n));
	CU_ASSERT_EQUAL(fs_symlink(sg, &root, d, "sl", "new", &at), 0);
	fs_forget(sg, at.ino, 1);
	CU_ASSERT_EQUAL(at.mode, S_IFLNK | 0777);
	/* without a default ACL the umask applies */
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "u", 0666, O_CREAT | O_RDWR, &at, &fh), 0);
	fs_release(sg, fh);
	fs_forget(sg, at.ino, 1);
	CU_ASSERT_EQUAL(at.mode, S_IFREG | 0644);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "ud", 0777, &at), 0);
	fs_forget(sg, at.ino, 1);
	CU_ASSERT_EQUAL(at.mode, S_IFDIR | 0755);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

/*
 * security.capability goes with every write and truncate, root's too,
 * and with open(O_TRUNC) of an empty file (Linux's file_remove_privs and
 * do_truncate), done here because the mount takes the job from the
 * kernel (FUSE_HANDLE_KILLPRIV_V2); other attributes stay. Each in the
 * inode's area and with the attribute in the overflow block.
 */
static void test_kill_caps(void)
{
	static const uint8_t cap[20] = {1, 0, 0, 2, 0, 0x20};
	const char *cn = "security.capability";
	uint8_t big[990], v[32];
	pp_pool *pool;
	fs_sg *sg;
	fs_file *fh;
	struct fs_attr at;

	memset(big, 'x', sizeof(big));
	mkfs();
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int ovf = 0; ovf < 2; ovf++) {
		char name[16];
		uint64_t f;

		snprintf(name, sizeof(name), "c%d", ovf);
		f = mkfile(sg, FS_ROOT_INO, name, 0666);
		CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.keep", "k", 1, 0), 0);
		/* one that nearly fills the area: the capability overflows */
		if (ovf) {
			CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.big", big, sizeof(big), 0), 0);
			CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, "user.spill", big, 100, 0), 0);
			/* writes with no capability: the overflow is looked at once
			 * (sg_ino.nocaps, kept while the file is open); a setxattr
			 * must make the next write look again */
			CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, f, O_WRONLY, &fh), 0);
			CU_ASSERT_EQUAL(fs_write(sg, &root, fh, "w", 1, 0), 1);
			CU_ASSERT_EQUAL(fs_write(sg, &root, fh, "w", 1, 1), 1);
			CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, cn, cap, sizeof(cap), 0), 0);
			CU_ASSERT_EQUAL(fs_write(sg, &root, fh, "w", 1, 2), 1);
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, cn, v, sizeof(v)), -ENODATA);
			fs_release(sg, fh);
		}
		for (int how = 0; how < 3; how++) {
			CU_ASSERT_EQUAL_FATAL(fs_setxattr(sg, &root, f, cn, cap, sizeof(cap), 0), 0);
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, cn, v, sizeof(v)), (ssize_t)sizeof(cap));
			if (how == 0) {
				CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, f, O_WRONLY, &fh), 0);
				CU_ASSERT_EQUAL(fs_write(sg, &root, fh, "w", 1, 0), 1);
				fs_release(sg, fh);
			} else if (how == 1) {
				struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 7};

				CU_ASSERT_EQUAL(fs_setattr(sg, &user, f, &sa, NULL, &at), 0);
			} else {
				struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 0};

				CU_ASSERT_EQUAL(fs_setattr(sg, &root, f, &sa, NULL, &at), 0);
				CU_ASSERT_EQUAL(fs_setxattr(sg, &root, f, cn, cap, sizeof(cap), 0), 0);
				CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, f, O_WRONLY | O_TRUNC, &fh), 0);
				fs_release(sg, fh);
			}
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, cn, v, sizeof(v)), -ENODATA);
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.keep", v, sizeof(v)), 1);
		}
		if (ovf) {
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.big", NULL, 0),
					(ssize_t)sizeof(big));
			CU_ASSERT_EQUAL(fs_getxattr(sg, &root, f, "user.spill", NULL, 0), 100);
		}
	}
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	fsck_clean(disk);
}

int main(int argc, char **argv)
{
	CU_pSuite s;

	(void)argc;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fs_xattr", fsm_setup, fsm_teardown);
	CU_add_test(s, "set, get, list, remove; flags, names, ENOSPC, ctime", test_basic);
	CU_add_test(s, "the overflow block: big values, replicas, crash, freeing", test_overflow);
	CU_add_test(s, "an overflow of several blocks: 64 KiB values, a thousand names",
		    test_wide_overflow);
	CU_add_test(s, "permissions by namespace, as root and not", test_permissions);
	CU_add_test(s, "ACL validation", test_acl_validation);
	CU_add_test(s, "ACL and mode kept in step; chmod", test_acl_mode);
	CU_add_test(s, "ACL permission checks: named users, groups, mask", test_acl_perm);
	CU_add_test(s, "default ACL inheritance", test_acl_inherit);
	CU_add_test(s, "persistence across remount; fsck clean", test_persist);
	CU_add_test(s, "through sg_perm, chmod and create", test_wired);
	CU_add_test(s, "a write or truncate drops security.capability", test_kill_caps);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		/* the line tests/check adds up (cunit_main.h's) */
		unsigned run = CU_get_number_of_tests_run(), failed = CU_get_number_of_tests_failed();
		unsigned f = failed + CU_get_number_of_suites_failed();

		printf("unit %s: %u passed, %u failed\n", argv[0], run - failed, f);
		CU_cleanup_registry();
		return f ? 1 : 0;
	}
}
