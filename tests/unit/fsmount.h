/*
 * tests/unit/fsmount.h - a stripe group mounted on memory disks, for the
 * fs/ runtime's tests (test_fs_sg, test_fs_xattr): up to FSM_NDISK_MAX
 * disks of FSM_DISK_BYTES, a real pagepool whose I/O completes at once,
 * real tokens over loopback (one node serving its own space), fault
 * injection on writes, fsck of what is left. Header-only.
 *
 * The including test defines before it: FSM_FSID (its file system id and
 * token space) and FSM_ADDR (its net listen address, unique per test so
 * tests can run at once); optionally FSM_DISK_BYTES, FSM_POOL_BYTES.
 * Suites use fsm_setup / fsm_teardown; tests mkfs with fsm_mkfs.
 */
#ifndef MM_TESTS_UNIT_FSMOUNT_H
#define MM_TESTS_UNIT_FSMOUNT_H

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/fs.h"
#include "fs/fsck.h"
#include "fs/mkfs.h"
#include "net/net.h"
#include "pagepool/pagepool.h"
#include "tokens/toknet.h"

#ifndef FSM_DISK_BYTES
#define FSM_DISK_BYTES (96ull << 20)
#endif
#ifndef FSM_POOL_BYTES
#define FSM_POOL_BYTES (64ull << 20)
#endif
#define NDISK 3		/* made by fsm_mkfs */
#define NDISK_MAX 4		/* and one a test may add */
#define DISK_BYTES FSM_DISK_BYTES
#define FSID FSM_FSID
#define NODE 1u

static net_ctx *net;
static struct toknet *tn;

static uint8_t *disk[NDISK_MAX];
static _Atomic uint32_t ndisks_now = NDISK;	/* disks the I/O reaches */
/* One instant for a crash snapshot: every transfer holds it. */
static pthread_mutex_t disk_mu = PTHREAD_MUTEX_INITIALIZER;
static net_ctx *net;
static struct toknet *tn;

/* Fault injection: with fail_every N, every Nth write (pagepool and
 * synchronous alike) fails with MM_EIO, as a disk would. */
static atomic_uint fail_every, nwrites;

static bool write_fails(void)
{
	unsigned n = atomic_load(&fail_every);

	return n && atomic_fetch_add(&nwrites, 1) % n == n - 1;
}

static int dk_read(void *arg, uint32_t d, uint64_t off, void *buf, size_t len)
{
	uint8_t **dk = arg;

	if (d >= ndisks_now || off + len > DISK_BYTES)
		return MM_EIO;
	pthread_mutex_lock(&disk_mu);
	memcpy(buf, dk[d] + off, len);
	pthread_mutex_unlock(&disk_mu);
	return MM_OK;
}

static int dk_write(void *arg, uint32_t d, uint64_t off, const void *buf, size_t len)
{
	uint8_t **dk = arg;

	if (d >= ndisks_now || off + len > DISK_BYTES || write_fails())
		return MM_EIO;
	pthread_mutex_lock(&disk_mu);
	memcpy(dk[d] + off, buf, len);
	pthread_mutex_unlock(&disk_mu);
	return MM_OK;
}

/* With pool_writes_fail, every pagepool write fails (the log's, which
 * are synchronous, still land): lost metadata write-back. */
static atomic_bool pool_writes_fail;

static int be_submit(void *arg, struct pp_io *io)
{
	uint8_t **dk = arg;
	uint64_t d = io->nsd_id - 100;

	if (d >= ndisks_now || io->offset + io->len > DISK_BYTES)
		return MM_EIO;
	if (io->write && (write_fails() || atomic_load(&pool_writes_fail))) {
		io->done(io, MM_EIO);
		return MM_OK;
	}
	pthread_mutex_lock(&disk_mu);
	if (io->write)
		memcpy(dk[d] + io->offset, io->buf, io->len);
	else
		memcpy(io->buf, dk[d] + io->offset, io->len);
	pthread_mutex_unlock(&disk_mu);
	io->done(io, MM_OK);
	return MM_OK;
}

static int nlogged;

static void fsck_log(void *arg, const char *line, bool fixed)
{
	(void)arg, (void)fixed;
	if (nlogged++ < 12)
		fprintf(stderr, "fsck: %s\n", line);
}

/* A crash: a copy of every disk as it is at this instant (each transfer
 * holds disk_mu, so no write is half in it), to mount after the running
 * mount goes. The caller frees them. */
static inline void fsm_snapshot(uint8_t *snap[NDISK])
{
	pthread_mutex_lock(&disk_mu);
	for (int i = 0; i < NDISK; i++) {
		snap[i] = malloc(DISK_BYTES);
		if (snap[i])
			memcpy(snap[i], disk[i], DISK_BYTES);
	}
	pthread_mutex_unlock(&disk_mu);
	for (int i = 0; i < NDISK; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(snap[i]);
}

/* mmfsck -n of the disks: what the runtime wrote is what fsck expects. */
static void fsck_clean(uint8_t **dk)
{
	struct fs_disk_io io = {dk_read, dk_write, dk};
	struct fs_fsck_params fp = {.repair = FS_FSCK_NO, .log = fsck_log};
	struct fs_fsck_report r;
	char err[512] = "";
	int rc;

	nlogged = 0;
	rc = fs_fsck(&io, ndisks_now, &fp, &r, err, sizeof(err));

	if (rc || r.exit)
		fprintf(stderr, "fsck: rc %d exit %d found %llu: %s\n", rc, r.exit,
			(unsigned long long)r.found, err);
	CU_ASSERT_EQUAL(rc, MM_OK);
	CU_ASSERT_EQUAL(r.exit, 0);
	/* every orphan was freed by the mount that found it, or at unmount */
	CU_ASSERT_EQUAL(r.orphans, 0);
}

/* After a crash: mmfsck -y may reclaim what a crash leaves (an inode
 * unlinked but not yet freed, blocks allocated and not yet pointed at,
 * or freed and not yet marked free), exiting 0 or 1; then -n is clean. */
static inline void fsck_repair_clean(uint8_t **dk)
{
	struct fs_disk_io io = {dk_read, dk_write, dk};
	struct fs_fsck_params fp = {.repair = FS_FSCK_YES, .log = fsck_log};
	struct fs_fsck_report r;
	char err[512] = "";
	int rc;

	nlogged = 0;
	rc = fs_fsck(&io, ndisks_now, &fp, &r, err, sizeof(err));
	if (rc || r.exit > 1)
		fprintf(stderr, "fsck -y: rc %d exit %d found %llu fixed %llu: %s\n", rc, r.exit,
			(unsigned long long)r.found, (unsigned long long)r.fixed, err);
	CU_ASSERT_EQUAL(rc, MM_OK);
	CU_ASSERT(r.exit <= 1);
	fsck_clean(dk);
}

static uint64_t pool_bytes = FSM_POOL_BYTES;

static pp_pool *mk_pool(uint8_t **dk)
{
	struct pp_config c = {.size = pool_bytes, .io = {be_submit}, .io_arg = dk};
	pp_pool *p = NULL;

	CU_ASSERT_EQUAL_FATAL(pp_pool_create(&c, &p), MM_OK);
	return p;
}

/* fsm_mkfs makes its last disk dataOnly when set */
static bool fsm_last_data_only;
/* and gives metadata this many replicas (0: 1) */
static unsigned fsm_meta_rep;
/* and files' data this many replicas (0: 1) */
static unsigned fsm_data_rep;
/* and a log of this many bytes (0: 4 MiB) */
static uint64_t fsm_log_bytes;
/* and this inode limit (0: mkfs's default; above 65536 makes several
 * inode regions, and node 1 allocates in region 7 mod their number) */
static uint64_t fsm_inode_limit;

static void fsm_mkfs(uint32_t bsize)
{
	struct fs_mkfs_disk d[NDISK];
	char names[NDISK][16];
	struct fs_mkfs_params p = {0};
	struct fs_disk_io io = {dk_read, dk_write, disk};
	char err[512];

	ndisks_now = NDISK;
	/* under disk_mu: a test that stopped at a _FATAL assertion may have
	 * left its pool's write-behind running (TSan saw it write meanwhile) */
	pthread_mutex_lock(&disk_mu);
	for (int i = 0; i < NDISK; i++)
		memset(disk[i], 0, DISK_BYTES);
	pthread_mutex_unlock(&disk_mu);
	for (int i = 0; i < NDISK; i++) {
		snprintf(names[i], sizeof(names[i]), "nsd%d", i + 1);
		d[i] = (struct fs_mkfs_disk){.nsd_id = 100 + (uint64_t)i, .name = names[i],
					     .bytes = DISK_BYTES, .failure_group = i + 1,
					     .usage = fsm_last_data_only && i == NDISK - 1
							      ? FS_USAGE_DATA_ONLY
							      : FS_USAGE_DATA_AND_META};
	}
	p.device = "fs1";
	p.fsid = FSID;
	p.block_size = bsize;
	p.nodes = 2;
	p.log_bytes = fsm_log_bytes ? fsm_log_bytes : 4u << 20;
	p.ndisks = NDISK;
	p.disks = d;
	p.meta_rep = fsm_meta_rep ? fsm_meta_rep : 1;
	p.meta_rep_max = 2;
	p.data_rep = fsm_data_rep ? fsm_data_rep : 1;
	p.data_rep_max = 2;
	p.inode_limit = fsm_inode_limit;
	{
		int rc = fs_mkfs(&p, &io, NULL, NULL, NULL, err, sizeof(err));

		if (rc)
			fprintf(stderr, "mkfs: %s\n", err);
		CU_ASSERT_FATAL(rc == MM_OK);
	}
}

/* Mounted with <write> as its synchronous disk write (the log's). */
static fs_sg *mount_dio(uint8_t **dk, pp_pool *pool,
			int (*write)(void *, uint32_t, uint64_t, const void *, size_t))
{
	struct fs_mount_params mp = {.device = "fs1", .fsid = FSID, .ndisks = ndisks_now,
				     .dio = {dk_read, write, dk}, .pool = pool, .tok = tn,
				     .node = NODE, .token_timeout_ms = 10000};
	fs_sg *sg = NULL;
	char err[512] = "";
	int rc = fs_sg_mount(&mp, &sg, err, sizeof(err));

	if (rc)
		fprintf(stderr, "mount: %s (%d)\n", err, rc);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return sg;
}

static fs_sg *mount_on(uint8_t **dk, pp_pool *pool)
{
	return mount_dio(dk, pool, dk_write);
}

static int fsm_setup(void)
{
	struct net_config cfg = {.node_id = NODE, .cluster_id = 0x7e57f500ull | FSM_FSID, .listen_addr = FSM_ADDR,
				 .io_threads = 1, .worker_threads = 2, .max_payload = 4u << 20,
				 .security = NET_SEC_PLAIN, .ciphers = "", .connect_timeout_ms = 2000};
	struct toknet_config tc = {.self = NODE, .revoke_threads = 2};
	uint32_t servers[1] = {NODE};

	for (int i = 0; i < NDISK_MAX; i++)
		if (!(disk[i] = malloc(DISK_BYTES)))
			return -1;
	if (net_create(&cfg, &net) != MM_OK)
		return -1;
	tc.net = net;
	if (toknet_create(&tc, &tn) != MM_OK)
		return -1;
	net_peer_set(net, NODE, FSM_ADDR, net_listen_port(net));
	return toknet_set_view(tn, FSID, 1, servers, 1, servers, 1, NULL, 0) == MM_OK ? 0 : -1;
}

static int fsm_teardown(void)
{
	toknet_stop(tn);
	net_destroy(net);
	toknet_destroy(tn);
	for (int i = 0; i < NDISK_MAX; i++)
		free(disk[i]);
	return 0;
}

#endif
