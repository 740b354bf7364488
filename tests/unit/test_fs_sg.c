/*
 * tests/unit/test_fs_sg.c - a mounted stripe group (fs/fs.h) on memory
 * disks: a real pagepool, real tokens over loopback (one node serving
 * its own space), the log. Names, data, sparse files, growth of
 * directories into blocks, remount, and a crash (a snapshot of the disks
 * taken after fsync, mounted on its own: the log replays).
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "fs/fs.h"
#include "fs/mkfs.h"
#include "net/net.h"
#include "pagepool/pagepool.h"
#include "tokens/toknet.h"

#define NDISK 3
#define DISK_BYTES (96ull << 20)
#define FSID 77u
#define NODE 1u

static uint8_t *disk[NDISK];
static net_ctx *net;
static struct toknet *tn;

static int dk_read(void *arg, uint32_t d, uint64_t off, void *buf, size_t len)
{
	uint8_t **dk = arg;

	if (d >= NDISK || off + len > DISK_BYTES)
		return MM_EIO;
	memcpy(buf, dk[d] + off, len);
	return MM_OK;
}

static int dk_write(void *arg, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	uint8_t **dk = arg;

	if (d >= NDISK || off + len > DISK_BYTES)
		return MM_EIO;
	memcpy(dk[d] + off, buf, len);
	return MM_OK;
}

static int be_submit(void *arg, struct pp_io *io)
{
	uint8_t **dk = arg;
	uint64_t d = io->nsd_id - 100;

	if (d >= NDISK || io->offset + io->len > DISK_BYTES)
		return MM_EIO;
	if (io->write)
		memcpy(dk[d] + io->offset, io->buf, io->len);
	else
		memcpy(io->buf, dk[d] + io->offset, io->len);
	io->done(io, MM_OK);
	return MM_OK;
}

static pp_pool *mk_pool(uint8_t **dk)
{
	struct pp_config c = {.size = 64u << 20, .io = {be_submit}, .io_arg = dk};
	pp_pool *p = NULL;

	CU_ASSERT_EQUAL_FATAL(pp_pool_create(&c, &p), MM_OK);
	return p;
}

static void mkfs(uint32_t bsize)
{
	struct fs_mkfs_disk d[NDISK];
	char names[NDISK][16];
	struct fs_mkfs_params p = {0};
	struct fs_disk_io io = {dk_read, dk_write, disk};
	char err[512];

	for (int i = 0; i < NDISK; i++) {
		memset(disk[i], 0, DISK_BYTES);
		snprintf(names[i], sizeof(names[i]), "nsd%d", i + 1);
		d[i] = (struct fs_mkfs_disk){.nsd_id = 100 + (uint64_t)i, .name = names[i],
					     .bytes = DISK_BYTES, .failure_group = i + 1,
					     .usage = FS_USAGE_DATA_AND_META};
	}
	p.device = "fs1";
	p.fsid = FSID;
	p.block_size = bsize;
	p.nodes = 2;
	p.log_bytes = 4u << 20;
	p.ndisks = NDISK;
	p.disks = d;
	p.meta_rep = 1;
	p.meta_rep_max = 2;
	p.data_rep = 1;
	p.data_rep_max = 2;
	{
		int rc = fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err));

		if (rc)
			fprintf(stderr, "mkfs: %s\n", err);
		CU_ASSERT_FATAL(rc == MM_OK);
	}
}

static fs_sg *mount_on(uint8_t **dk, pp_pool *pool)
{
	struct fs_mount_params mp = {.device = "fs1", .fsid = FSID, .ndisks = NDISK,
				     .dio = {dk_read, dk_write, dk}, .pool = pool, .tok = tn,
				     .node = NODE, .token_timeout_ms = 10000};
	fs_sg *sg = NULL;
	char err[512] = "";
	int rc = fs_sg_mount(&mp, &sg, err, sizeof(err));

	if (rc)
		fprintf(stderr, "mount: %s (%d)\n", err, rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return sg;
}

static const struct fs_cred root = {0, 0, 0, {0}, 022};

static uint64_t mkfile(fs_sg *sg, uint64_t dir, const char *name, const void *data, size_t len)
{
	struct fs_attr a;
	fs_file *f = NULL;

	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, dir, name, 0644, O_CREAT | O_RDWR, &a, &f), 0);
	if (len)
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, len, 0), (ssize_t)len);
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	fs_forget(sg, a.ino, 1);
	return a.ino;
}

static void check_file(fs_sg *sg, uint64_t dir, const char *name, const uint8_t *data, size_t len)
{
	struct fs_attr a;
	fs_file *f = NULL;
	uint8_t *buf = malloc(len + 1);

	CU_ASSERT_EQUAL_FATAL(fs_lookup(sg, &root, dir, name, &a), 0);
	CU_ASSERT_EQUAL(a.size, len);
	CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, a.ino, O_RDONLY, &f), 0);
	CU_ASSERT_EQUAL(fs_read(sg, f, buf, len + 1, 0), (ssize_t)len);
	CU_ASSERT(memcmp(buf, data, len) == 0);
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	free(buf);
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 12));
	return p;
}

struct cnt {
	int n;
	bool dot, dotdot;
};

static int count_fn(void *arg, const char *name, uint64_t ino, uint8_t type, uint64_t cookie,
		    const struct fs_attr *attr)
{
	struct cnt *c = arg;

	(void)ino, (void)type, (void)cookie, (void)attr;
	if (!strcmp(name, "."))
		c->dot = true;
	else if (!strcmp(name, ".."))
		c->dotdot = true;
	else
		c->n++;
	return 0;
}

static int count_dir(fs_sg *sg, uint64_t dir)
{
	struct cnt c = {0};
	fs_file *f = NULL;

	CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, dir, O_RDONLY | O_DIRECTORY, &f), 0);
	CU_ASSERT_EQUAL(fs_readdir(sg, f, 0, false, count_fn, &c), 0);
	CU_ASSERT(c.dot && c.dotdot);
	fs_release(sg, f);
	return c.n;
}

static void run_basic(uint32_t bsize)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, d1;
	uint8_t *small = pattern(1000, 1), *mid = pattern(3 * bsize + 123, 2),
		*big = pattern(2u << 20, 3);
	fs_file *f;
	char name[64];
	struct fs_statfs st;

	mkfs(bsize);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	mkfile(sg, FS_ROOT_INO, "small", small, 1000);
	mkfile(sg, FS_ROOT_INO, "mid", mid, 3 * bsize + 123);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d1", 0755, &d1), 0);
	mkfile(sg, d1.ino, "big", big, 2u << 20);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "d1", 0755, &a), -EEXIST);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "nope", &a), -ENOENT);
	/* a directory that grows into blocks and splits */
	for (int i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "file-with-a-longer-name-%05d", i);
		mkfile(sg, d1.ino, name, name, strlen(name));
	}
	CU_ASSERT_EQUAL(count_dir(sg, d1.ino), 2501);
	CU_ASSERT_EQUAL(fs_getattr(sg, FS_ROOT_INO, &a), 0);
	CU_ASSERT_EQUAL(a.nlink, 3);
	/* sparse: a byte far out, holes read as zeros */
	{
		struct fs_attr sa;
		uint8_t b = 0x5a, buf[4096];

		CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "sparse", 0644, O_RDWR, &sa, &f), 0);
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, &b, 1, (5ull << 30) + 7), 1);
		CU_ASSERT_EQUAL(fs_read(sg, f, buf, sizeof(buf), 1ull << 30), (ssize_t)sizeof(buf));
		CU_ASSERT_EQUAL(buf[0] | buf[4095], 0);
		CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_DATA), (int64_t)((5ull << 30) / bsize * bsize));
		CU_ASSERT_EQUAL(fs_lseek(sg, f, 0, SEEK_HOLE), 0);
		fs_release(sg, f);
		fs_forget(sg, sa.ino, 1);
	}
	/* rename, link, unlink, rmdir, symlink */
	CU_ASSERT_EQUAL(fs_rename(sg, &root, FS_ROOT_INO, "small", d1.ino, "small2", 0), 0);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "small", &a), -ENOENT);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, d1.ino, "small2", &a), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_link(sg, &root, a.ino, FS_ROOT_INO, "hard", &a), 0);
	CU_ASSERT_EQUAL(a.nlink, 2);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_symlink(sg, &root, FS_ROOT_INO, "sl", "d1/small2", &a), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, FS_ROOT_INO, "d1"), -ENOTEMPTY);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, d1.ino, "sub", 0700, &a), 0);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_rename(sg, &root, d1.ino, "sub", FS_ROOT_INO, "sub", 0), 0);
	CU_ASSERT_EQUAL(fs_rename(sg, &root, FS_ROOT_INO, "d1", d1.ino, "x", 0), -EINVAL);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "sub", &a), 0);
	fs_forget(sg, a.ino, 1);
	{
		struct fs_attr p;

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, a.ino, "..", &p), 0);
		CU_ASSERT_EQUAL(p.ino, FS_ROOT_INO);
		fs_forget(sg, p.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, FS_ROOT_INO, "sub"), 0);
	fs_forget(sg, d1.ino, 1);
	CU_ASSERT_EQUAL(fs_statfs(sg, &st), 0);
	CU_ASSERT(st.bfree < st.blocks);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);

	/* remount: everything is there */
	sg = mount_on(disk, pool);
	check_file(sg, FS_ROOT_INO, "mid", mid, 3 * bsize + 123);
	CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "d1", &d1), 0);
	check_file(sg, d1.ino, "big", big, 2u << 20);
	check_file(sg, d1.ino, "small2", small, 1000);
	check_file(sg, FS_ROOT_INO, "hard", small, 1000);
	snprintf(name, sizeof(name), "file-with-a-longer-name-%05d", 1234);
	check_file(sg, d1.ino, name, (const uint8_t *)name, strlen(name));
	CU_ASSERT_EQUAL(count_dir(sg, d1.ino), 2502);
	{
		char t[64];

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "sl", &a), 0);
		CU_ASSERT_EQUAL(fs_readlink(sg, a.ino, t, sizeof(t)), 9);
		CU_ASSERT(!memcmp(t, "d1/small2", 9));
		fs_forget(sg, a.ino, 1);
	}
	/* truncate down and up: zeros past the old end */
	{
		struct fs_setattr sa = {.mask = FS_SET_SIZE, .size = 100};
		uint8_t buf[300];

		CU_ASSERT_EQUAL(fs_lookup(sg, &root, FS_ROOT_INO, "mid", &a), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
		sa.size = 300;
		CU_ASSERT_EQUAL(fs_setattr(sg, &root, a.ino, &sa, NULL, &a), 0);
		CU_ASSERT_EQUAL(fs_open(sg, &root, a.ino, O_RDONLY, &f), 0);
		CU_ASSERT_EQUAL(fs_read(sg, f, buf, 300, 0), 300);
		CU_ASSERT(!memcmp(buf, mid, 100));
		for (int i = 100; i < 300; i++)
			CU_ASSERT_EQUAL_FATAL(buf[i], 0);
		fs_release(sg, f);
		fs_forget(sg, a.ino, 1);
	}
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "mid"), 0);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
	free(small);
	free(mid);
	free(big);
}

static void test_basic_64k(void)
{
	run_basic(64u << 10);
}

static void test_basic_256k(void)
{
	run_basic(256u << 10);
}

/* A crash: the disks as they are right after an fsync, with the daemon
 * still running, mount on their own and show every fsynced byte. */
static void test_crash_replay(void)
{
	pp_pool *pool, *pool2;
	fs_sg *sg;
	struct fs_attr a;
	fs_file *f;
	uint8_t *data = pattern(700000, 9), *snap[NDISK];
	char name[32];

	mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		mkfile(sg, FS_ROOT_INO, name, data + i, 1000 + (size_t)i * 3000);
	}
	CU_ASSERT_EQUAL(fs_create(sg, &root, FS_ROOT_INO, "synced", 0644, O_RDWR, &a, &f), 0);
	CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, 700000, 0), 700000);
	CU_ASSERT_EQUAL(fs_fsync(sg, f, false), 0);
	for (int i = 0; i < NDISK; i++) {
		snap[i] = malloc(DISK_BYTES);
		CU_ASSERT_PTR_NOT_NULL_FATAL(snap[i]);
		memcpy(snap[i], disk[i], DISK_BYTES);
	}
	fs_release(sg, f);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);

	pool2 = mk_pool(snap);
	sg = mount_on(snap, pool2);
	check_file(sg, FS_ROOT_INO, "synced", data, 700000);
	for (int i = 0; i < 200; i += 17) {
		snprintf(name, sizeof(name), "f%d", i);
		check_file(sg, FS_ROOT_INO, name, data + i, 1000 + (size_t)i * 3000);
	}
	CU_ASSERT_EQUAL(count_dir(sg, FS_ROOT_INO), 201);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool2);
	for (int i = 0; i < NDISK; i++)
		free(snap[i]);
	free(data);
}

static void test_errors(void)
{
	pp_pool *pool;
	fs_sg *sg;
	struct fs_attr a, d;
	struct fs_cred user = {1000, 1000, 0, {0}, 022};
	char longname[300];

	mkfs(64u << 10);
	pool = mk_pool(disk);
	sg = mount_on(disk, pool);
	memset(longname, 'a', 256);
	longname[256] = 0;
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, longname, 0755, &a), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &user, FS_ROOT_INO, "u", 0755, &a), -EACCES);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &root, FS_ROOT_INO, "tmp", 01777, &d), 0);
	{
		struct fs_setattr sa = {.mask = FS_SET_MODE, .mode = 01777};

		CU_ASSERT_EQUAL(fs_setattr(sg, &root, d.ino, &sa, NULL, &d), 0);
		CU_ASSERT_EQUAL(fs_setattr(sg, &user, d.ino, &sa, NULL, &d), -EPERM);
	}
	mkfile(sg, d.ino, "rootfile", "x", 1);
	CU_ASSERT_EQUAL(fs_unlink(sg, &user, d.ino, "rootfile"), -EPERM);
	CU_ASSERT_EQUAL(fs_mkdir(sg, &user, d.ino, "mine", 0755, &a), 0);
	CU_ASSERT_EQUAL(a.uid, 1000);
	fs_forget(sg, a.ino, 1);
	CU_ASSERT_EQUAL(fs_rmdir(sg, &user, d.ino, "mine"), 0);
	CU_ASSERT_EQUAL(fs_unlink(sg, &root, FS_ROOT_INO, "tmp"), -EISDIR);
	CU_ASSERT_EQUAL(fs_rmdir(sg, &root, d.ino, "rootfile"), -ENOTDIR);
	fs_forget(sg, d.ino, 1);
	CU_ASSERT_EQUAL(fs_sg_unmount(sg, false), 0);
	pp_pool_destroy(pool);
}

static int setup(void)
{
	struct net_config cfg = {.node_id = NODE, .cluster_id = 0x7e57f5ull, .listen_addr = "127.0.9.70",
				 .io_threads = 1, .worker_threads = 2, .max_payload = 4u << 20,
				 .security = NET_SEC_PLAIN, .ciphers = "", .connect_timeout_ms = 2000};
	struct toknet_config tc = {.self = NODE, .revoke_threads = 2};
	uint32_t servers[1] = {NODE};

	for (int i = 0; i < NDISK; i++)
		if (!(disk[i] = malloc(DISK_BYTES)))
			return -1;
	if (net_create(&cfg, &net) != MM_OK)
		return -1;
	tc.net = net;
	if (toknet_create(&tc, &tn) != MM_OK)
		return -1;
	net_peer_set(net, NODE, "127.0.9.70", net_listen_port(net));
	return toknet_set_view(tn, FSID, 1, servers, 1, servers, 1, NULL, 0) == MM_OK ? 0 : -1;
}

static int teardown(void)
{
	toknet_stop(tn);
	net_destroy(net);
	toknet_destroy(tn);
	for (int i = 0; i < NDISK; i++)
		free(disk[i]);
	return 0;
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("fs_sg", setup, teardown);
	CU_add_test(s, "basic, 64 KiB blocks", test_basic_64k);
	CU_add_test(s, "basic, 256 KiB blocks (4 metadata blocks a block)", test_basic_256k);
	CU_add_test(s, "crash: replay after fsync", test_crash_replay);
	CU_add_test(s, "errors and permissions", test_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		unsigned f = CU_get_number_of_failures() + CU_get_number_of_suites_failed();

		CU_cleanup_registry();
		return f ? 1 : 0;
	}
}
