/*
 * tests/unit/test_nsd_io.c - NSD I/O above the disk layer: the wire codec
 * (nsd/proto), verifiable data (nsd/pattern), discovery by descriptor id
 * (nsd/table), the NSD client on its local path (nsd/client) and served by
 * NSD servers (nsd/server) over real net/ contexts.
 *
 * Disks are 64 MiB sparse files in a mkdtemp directory under /tmp (ext4:
 * O_DIRECT), labelled with nsd_label_write and removed at exit. The served
 * suite runs, in this process, a client node (1, 127.0.9.40, no local
 * disk), two NSD server nodes (2 and 3, 127.0.9.41/.42, each with its own
 * table pointing at the same file) and a scripted fake server (4,
 * 127.0.9.43) that answers EBUSY or damaged data on demand. All net
 * contexts use NET_SEC_PLAIN and kernel-chosen ports. Each served test
 * builds its own nodes (cluster_up) and tears them down (cluster_down), so
 * the client's down-list and the servers' counters start fresh.
 *
 * Faults: nsd_sys is process-wide, so the disk-error test gives server 2 a
 * libaio disk and server 3 a sync-backend disk (pread/pwrite): failing
 * io_submit hits server 2 only, failing pwrite as well hits both.
 *
 * MMFS_TEST_VERBOSE=1 shows the log (errors are logged by design here).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "net/net.h"
#include "nsd/client.h"
#include "nsd/desc.h"
#include "nsd/label.h"
#include "nsd/pattern.h"
#include "nsd/proto.h"
#include "nsd/server.h"
#include "nsd/sys.h"
#include "nsd/table.h"
#include "tests/unit/cunit_main.h"

#define CLUSTER 0x00C0FFEE0000A001ull
#define OTHER_CLUSTER 0x00C0FFEE0000B002ull
#define ID_A 0x1111AAAA2222BBBBull	/* nsdA on disk "a" */
#define ID_B 0x3333CCCC4444DDDDull	/* nsdB on disk "b" */
#define ID_D 0x5555EEEE6666FFFFull	/* nsdD on disk "damaged" */
#define ID_O 0x7777000088881111ull	/* nsdO on disk "other" (another cluster) */
#define ID_C 0x0123456789ABCDEFull	/* never labelled anywhere */
#define DISK_SIZE (64u << 20)
#define MIB (1u << 20)

#define IP_CLIENT "127.0.9.40"
#define IP_S2 "127.0.9.41"
#define IP_S3 "127.0.9.42"
#define IP_FAKE "127.0.9.43"

static char dir[64];
static char p_a[128], p_b[128], p_blank[128], p_damaged[128], p_other[128];

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random 4 KiB-aligned range of 4 KiB .. <maxpages> pages inside
 * [lo, hi). */
static void rnd_range(uint64_t lo, uint64_t hi, unsigned maxpages, uint64_t *off, size_t *len)
{
	*len = (size_t)(1 + rnd() % maxpages) * NSD_IO_ALIGN;
	*off = lo + (rnd() % ((hi - lo - *len) / NSD_IO_ALIGN + 1)) * NSD_IO_ALIGN;
}

static void make_disk(char *path, const char *name)
{
	int fd;

	snprintf(path, 128, "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_SIZE) != 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static int label(const char *path, uint64_t id, const char *name, uint64_t cluster)
{
	struct nsd_desc d = {0};
	char err[512];
	int rc;

	d.nsd_id = id;
	d.cluster_id = cluster;
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.created = 1795000000;
	d.disk_size = DISK_SIZE;
	d.sector_size = 512;
	d.reserved_size = NSD_RESERVED_BYTES;
	rc = nsd_label_write(path, &d, err, sizeof(err));
	if (rc)
		fprintf(stderr, "label %s: %s\n", path, err);
	return rc;
}

static void cleanup_at_exit(void)
{
	const char *ps[] = {p_a, p_b, p_blank, p_damaged, p_other};

	nsd_sys_reset();
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		if (ps[i][0])
			unlink(ps[i]);
	if (dir[0])
		rmdir(dir);
}

static void make_disks(void)
{
	uint8_t b;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/test_nsd_io.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	atexit(cleanup_at_exit);
	make_disk(p_a, "a");
	make_disk(p_b, "b");
	make_disk(p_blank, "blank");
	make_disk(p_damaged, "damaged");
	make_disk(p_other, "other");
	if (label(p_a, ID_A, "nsdA", CLUSTER) || label(p_b, ID_B, "nsdB", CLUSTER) ||
	    label(p_damaged, ID_D, "nsdD", CLUSTER) || label(p_other, ID_O, "nsdO", OTHER_CLUSTER))
		exit(2);
	/* damage one byte inside the checksummed part of nsdD's descriptor */
	fd = open(p_damaged, O_RDWR);
	if (fd < 0 || pread(fd, &b, 1, 40) != 1)
		exit(2);
	b ^= 0x20;
	if (pwrite(fd, &b, 1, 40) != 1 || fsync(fd) != 0)
		exit(2);
	close(fd);
}

static struct nsd_def mkdef(const char *name, uint64_t id, const char *device, bool scan,
			    const uint32_t *servers, int nservers)
{
	struct nsd_def d;

	memset(&d, 0, sizeof(d));
	snprintf(d.rec.name, sizeof(d.rec.name), "%s", name);
	d.rec.id = id;
	snprintf(d.rec.device, sizeof(d.rec.device), "%s", device);
	for (int i = 0; i < nservers; i++) {
		d.servers[i] = servers[i];
		snprintf(d.rec.servers[i], sizeof(d.rec.servers[i]), "n%u", servers[i]);
	}
	d.nservers = nservers;
	d.rec.nservers = nservers;
	d.scan_device = scan;
	return d;
}

static void status_of(nsd_table *t, uint64_t id, char *buf, size_t sz)
{
	nsd_entry *e = nsd_table_get(t, id);

	buf[0] = '\0';
	if (e) {
		nsd_entry_status(e, buf, sz);
		nsd_entry_put(e);
	}
}

static bool has_local(nsd_table *t, uint64_t id)
{
	nsd_entry *e = nsd_table_get(t, id);
	nsd_ldisk *ld = NULL;
	bool r = false;

	if (e) {
		r = nsd_entry_local(e, &ld) != NULL;
		nsd_ldisk_put(ld);
		nsd_entry_put(e);
	}
	return r;
}

static struct nsd_entry_stats entry_stats(nsd_table *t, uint64_t id, struct nsd_disk_stats *ds,
					  bool *local)
{
	struct nsd_entry_stats st;
	nsd_entry *e = nsd_table_get(t, id);

	memset(&st, 0, sizeof(st));
	if (local)
		*local = false;
	if (e) {
		nsd_entry_stats(e, &st, ds, local);
		nsd_entry_put(e);
	}
	return st;
}

/* the lease epoch every client of this file reports */
static _Atomic uint64_t g_epoch = 1;

static uint64_t test_may_io(void *arg)
{
	(void)arg;
	return atomic_load_explicit(&g_epoch, memory_order_seq_cst);
}

static void set_epoch(uint64_t e)
{
	atomic_store_explicit(&g_epoch, e, memory_order_seq_cst);
}

/* Write <len> bytes of pattern <seed> at <off> and read them back. */
static int write_verify(nsd_client *c, uint64_t id, uint64_t off, size_t len, uint64_t seed,
			char *err, size_t errsz)
{
	void *w = nsd_io_buf_alloc(len), *r = nsd_io_buf_alloc(len);
	int rc;

	if (!w || !r) {
		free(w);
		free(r);
		return MM_ENOMEM;
	}
	nsd_pattern_fill(w, len, off, seed);
	memset(r, 0xA5, len);
	rc = nsd_client_write(c, id, off, w, len, err, errsz);
	if (!rc)
		rc = nsd_client_read(c, id, off, r, len, err, errsz);
	if (!rc && nsd_pattern_check(r, len, off, seed) != -1) {
		snprintf(err, errsz, "data read back at %" PRIu64 " differs", off);
		rc = MM_ECHECKSUM;
	}
	free(w);
	free(r);
	return rc;
}

/* Read <len> at <off> and check pattern <seed>: -1 if it matches, else the
 * first bad offset, or -2 if the read failed. */
static int64_t read_check(nsd_client *c, uint64_t id, uint64_t off, size_t len, uint64_t seed)
{
	void *r = nsd_io_buf_alloc(len);
	char err[768];
	int64_t bad = -2;

	if (r && nsd_client_read(c, id, off, r, len, err, sizeof(err)) == 0)
		bad = nsd_pattern_check(r, len, off, seed);
	else if (r)
		fprintf(stderr, "\n    read_check: %s\n", err);
	free(r);
	return bad;
}

/* ---- asynchronous batches ---------------------------------------------- */

struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int inflight, done, errs, calls;
	int first_rc;
	char first_err[768];
};

static void batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
}

static void batch_fini(struct batch *b)
{
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
}

static void batch_done(struct nsd_io *io, int rc)
{
	struct batch *b = io->arg;

	pthread_mutex_lock(&b->mu);
	b->calls++;
	if (rc) {
		if (!b->errs++) {
			b->first_rc = rc;
			snprintf(b->first_err, sizeof(b->first_err), "%s", io->err);
		}
	}
	b->done++;
	b->inflight--;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Wait until at most <max_inflight> are in flight (at most <ms>). */
static bool batch_wait(struct batch *b, int max_inflight, int ms)
{
	uint64_t end = mm_now_ms() + (uint64_t)ms;
	bool ok;

	pthread_mutex_lock(&b->mu);
	while (b->inflight > max_inflight && mm_now_ms() < end) {
		struct timespec ts = mm_deadline_ts(CLOCK_REALTIME, 20 * 1000000u);

		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	}
	ok = b->inflight <= max_inflight;
	pthread_mutex_unlock(&b->mu);
	return ok;
}

/*
 * <n> async writes of <len> bytes at base + i * len, pattern <seed>, at
 * most <depth> in flight. <ios>/<bufs> are the caller's (n each).
 */
static int batch_submit_one(nsd_client *c, struct batch *b, struct nsd_io *io, uint64_t id,
			    enum nsd_op op, uint64_t off, void *buf, size_t len)
{
	int rc;

	memset(io, 0, sizeof(*io));
	io->nsd_id = id;
	io->op = op;
	io->offset = off;
	io->len = len;
	io->buf = buf;
	io->done = batch_done;
	io->arg = b;
	pthread_mutex_lock(&b->mu);
	b->inflight++;
	pthread_mutex_unlock(&b->mu);
	rc = nsd_client_submit(c, io);
	if (rc) {
		pthread_mutex_lock(&b->mu);
		b->inflight--;
		if (!b->errs++) {
			b->first_rc = rc;
			snprintf(b->first_err, sizeof(b->first_err), "submit: %s", io->err);
		}
		b->done++;
		pthread_mutex_unlock(&b->mu);
	}
	return rc;
}

/* ========================================================================
 * proto
 * ===================================================================== */

static void put_req(uint8_t *buf, uint16_t flags, uint32_t len, uint64_t id, uint64_t off,
		    uint32_t crc)
{
	struct nsd_proto_req r = {.flags = flags, .len = len, .nsd_id = id, .offset = off,
				  .crc = crc};

	nsd_proto_req_encode(&r, buf);
}

static void test_proto_roundtrip(void)
{
	size_t dlen = 8192;
	uint8_t *buf = malloc(NSD_PROTO_REQ_LEN + dlen), again[NSD_PROTO_REQ_LEN];
	struct nsd_proto_req r;
	char err[256];
	uint32_t crc;

	CU_ASSERT_FATAL(buf != NULL);
	/* write with data and checksum */
	nsd_pattern_fill(buf + NSD_PROTO_REQ_LEN, dlen, MIB, 3);
	crc = mm_crc32c(0, buf + NSD_PROTO_REQ_LEN, dlen);
	put_req(buf, NSD_PF_CHECKSUM, (uint32_t)dlen, ID_A, MIB, crc);
	CU_ASSERT_EQUAL(mm_be16_get(buf), NSD_PROTO_VERSION);
	CU_ASSERT_EQUAL(nsd_proto_req_decode(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN + dlen, &r, err,
					     sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(r.flags, NSD_PF_CHECKSUM);
	CU_ASSERT_EQUAL(r.len, dlen);
	CU_ASSERT_EQUAL(r.nsd_id, ID_A);
	CU_ASSERT_EQUAL(r.offset, MIB);
	CU_ASSERT_EQUAL(r.crc, crc);
	CU_ASSERT_PTR_EQUAL(r.data, buf + NSD_PROTO_REQ_LEN);
	nsd_proto_req_encode(&r, again);
	CU_ASSERT_EQUAL(memcmp(again, buf, NSD_PROTO_REQ_LEN), 0);

	/* write without checksum */
	put_req(buf, 0, 4096, ID_B, 4096, 0);
	CU_ASSERT_EQUAL(nsd_proto_req_decode(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN + 4096, &r, err,
					     sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(r.flags, 0);
	CU_ASSERT_EQUAL(r.crc, 0);
	CU_ASSERT_EQUAL(r.nsd_id, ID_B);

	/* read: header only, no data pointer; the checksum flag asks for a CRC */
	put_req(buf, NSD_PF_CHECKSUM, NSD_PROTO_MAX_IO, ID_A, 0, 0);
	CU_ASSERT_EQUAL(nsd_proto_req_decode(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, &r, err,
					     sizeof(err)), MM_OK);
	CU_ASSERT_PTR_NULL(r.data);
	CU_ASSERT_EQUAL(r.len, NSD_PROTO_MAX_IO);
	CU_ASSERT_EQUAL(r.flags, NSD_PF_CHECKSUM);
	nsd_proto_req_encode(&r, again);
	CU_ASSERT_EQUAL(memcmp(again, buf, NSD_PROTO_REQ_LEN), 0);

	/* the last byte of the address space is reachable, one more is not */
	put_req(buf, 0, 512, 7, UINT64_MAX - 512, 0);
	CU_ASSERT_EQUAL(nsd_proto_req_decode(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, &r, err,
					     sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(r.offset, UINT64_MAX - 512);
	free(buf);
}

/* Expect MM_EPROTO and <needle> in the message. */
static void bad_req(uint16_t type, const uint8_t *buf, size_t len, const char *needle)
{
	struct nsd_proto_req r;
	char err[256] = "";
	int rc = nsd_proto_req_decode(type, buf, len, &r, err, sizeof(err));

	CU_ASSERT_EQUAL(rc, MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	if (rc != MM_EPROTO || !strstr(err, needle))
		fprintf(stderr, "\n    decode of type %#x, %zu bytes: rc %d, \"%s\" (wanted \"%s\")\n",
			type, len, rc, err, needle);
}

static void test_proto_malformed(void)
{
	uint8_t buf[NSD_PROTO_REQ_LEN + 8192];

	memset(buf, 0, sizeof(buf));
	/* not a request type */
	put_req(buf, 0, 4096, ID_A, 4096, 0);
	bad_req(MSG_NSD_RESCAN, buf, NSD_PROTO_REQ_LEN, "not an NSD request");
	bad_req(0, buf, NSD_PROTO_REQ_LEN, "not an NSD request");
	/* short: every length below the header */
	for (size_t n = 0; n < NSD_PROTO_REQ_LEN; n++)
		bad_req(MSG_NSD_READ, buf, n, "shorter");
	/* versions */
	mm_be16_put(buf, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "version 0");
	mm_be16_put(buf, 2);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "version 2");
	mm_be16_put(buf, 0x0100);	/* byte-swapped 1 */
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "version");
	/* unknown flags, each bit */
	for (int bit = 1; bit < 16; bit++) {
		put_req(buf, (uint16_t)(1u << bit), 4096, ID_A, 4096, 0);
		bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "unknown flags");
	}
	/* reserved, each byte */
	for (int i = 28; i < 32; i++) {
		put_req(buf, 0, 4096, ID_A, 4096, 0);
		buf[i] = 1;
		bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "reserved");
	}
	/* lengths */
	put_req(buf, 0, 0, ID_A, 4096, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "outside");
	bad_req(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN, "outside");
	put_req(buf, 0, NSD_PROTO_MAX_IO + 1, ID_A, 4096, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "outside");
	put_req(buf, 0, UINT32_MAX, ID_A, 4096, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "outside");
	/* NSD id 0 */
	put_req(buf, 0, 4096, 0, 4096, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "id 0");
	/* offset + length past 2^64 */
	put_req(buf, 0, 512, ID_A, UINT64_MAX - 511, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "overflows");
	put_req(buf, 0, 4096, ID_A, UINT64_MAX, 0);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "overflows");
	/* payload size disagrees with the header */
	put_req(buf, 0, 8192, ID_A, 4096, 0);
	bad_req(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN, "expected 8224");
	bad_req(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN + 8191, "expected 8224");
	bad_req(MSG_NSD_WRITE, buf, sizeof(buf) - 4096, "expected 8224");
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN + 1, "expected 32");
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN + 8192, "expected 32");
	/* a read carries no data checksum, with or without the flag; a
	 * write carries one only with the flag */
	put_req(buf, NSD_PF_CHECKSUM, 4096, ID_A, 4096, 0x1234);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "checksum");
	put_req(buf, 0, 4096, ID_A, 4096, 0x1234);
	bad_req(MSG_NSD_READ, buf, NSD_PROTO_REQ_LEN, "checksum");
	bad_req(MSG_NSD_WRITE, buf, NSD_PROTO_REQ_LEN + 4096, "checksum without its flag");
}

static void test_proto_reply(void)
{
	uint8_t buf[NSD_PROTO_REP_LEN + 4096];
	struct nsd_proto_rep r;
	char err[256];

	nsd_pattern_fill(buf + NSD_PROTO_REP_LEN, 4096, 8192, 5);
	nsd_proto_rep_encode(NSD_PF_CHECKSUM, 0xCAFEF00D, buf);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4096, &r, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(r.flags, NSD_PF_CHECKSUM);
	CU_ASSERT_EQUAL(r.crc, 0xCAFEF00D);
	CU_ASSERT_PTR_EQUAL(r.data, buf + NSD_PROTO_REP_LEN);
	CU_ASSERT_EQUAL(r.len, 4096);
	nsd_proto_rep_encode(0, 0, buf);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4096, &r, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(r.flags, 0);

	/* sizes */
	for (size_t n = 0; n < NSD_PROTO_REP_LEN; n++)
		CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, n, 0, &r, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf) - 1, 4096, &r, err, sizeof(err)),
			MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "4103 bytes for 4096"));
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4095, &r, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), SIZE_MAX, &r, err, sizeof(err)),
			MM_EPROTO);
	/* version */
	mm_be16_put(buf, 2);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4096, &r, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "version 2"));
	/* flags */
	nsd_proto_rep_encode(0x0002, 0, buf);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4096, &r, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown flags"));
	/* a CRC without its flag */
	nsd_proto_rep_encode(0, 1, buf);
	CU_ASSERT_EQUAL(nsd_proto_rep_decode(buf, sizeof(buf), 4096, &r, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "without its flag"));
}

/* ========================================================================
 * pattern
 * ===================================================================== */

static void test_pattern(void)
{
	size_t len = 64u << 10;
	uint8_t *a = malloc(len), *b = malloc(len);
	uint64_t off = 3 * MIB;

	CU_ASSERT_FATAL(a && b);
	nsd_pattern_fill(a, len, off, 42);
	nsd_pattern_fill(b, len, off, 42);
	CU_ASSERT_EQUAL(memcmp(a, b, len), 0);	/* deterministic */
	CU_ASSERT_EQUAL(nsd_pattern_check(a, len, off, 42), -1);
	/* any sub-range checks on its own */
	CU_ASSERT_EQUAL(nsd_pattern_check(a + 4096, 8192, off + 4096, 42), -1);
	/* another seed, another offset: told apart at the first word */
	CU_ASSERT_EQUAL(nsd_pattern_check(a, len, off, 43), (int64_t)off);
	CU_ASSERT_EQUAL(nsd_pattern_check(a, len, off + 8, 42), (int64_t)(off + 8));
	CU_ASSERT_EQUAL(nsd_pattern_check(a, len, off + len, 42), (int64_t)(off + len));
	/* the data is a function of the NSD offset, not of the buffer */
	nsd_pattern_fill(b, len, off + 4096, 42);
	CU_ASSERT_EQUAL(memcmp(a + 4096, b, 4096), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, 4096), 0);
	/* no 8-byte word repeats within the buffer (catches a stuck index) */
	CU_ASSERT_NOT_EQUAL(memcmp(a, a + 8, 8), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, a + len - 8, 8), 0);
	/* zeros are not a pattern */
	memset(b, 0, len);
	CU_ASSERT_EQUAL(nsd_pattern_check(b, len, off, 42), (int64_t)off);
	/* one flipped byte anywhere is found at its word */
	for (size_t pos = 0; pos < len; pos += 4093) {
		memcpy(b, a, len);
		b[pos] ^= 0x01;
		CU_ASSERT_EQUAL(nsd_pattern_check(b, len, off, 42), (int64_t)(off + (pos & ~(size_t)7)));
	}
	memcpy(b, a, len);
	b[len - 1] ^= 0x80;
	CU_ASSERT_EQUAL(nsd_pattern_check(b, len, off, 42), (int64_t)(off + len - 8));
	/* an empty range matches */
	CU_ASSERT_EQUAL(nsd_pattern_check(b, 0, off, 42), -1);
	free(a);
	free(b);
}

/* ========================================================================
 * table: discovery by id
 * ===================================================================== */

static nsd_table *new_table(bool sync_backend)
{
	struct nsd_table_config cfg = {.cluster_id = CLUSTER};
	nsd_table *t = NULL;

	cfg.disk_opts.sync_backend = sync_backend;
	cfg.disk_opts.queue_depth = 16;
	CU_ASSERT_EQUAL_FATAL(nsd_table_create(&cfg, &t), MM_OK);
	return t;
}

static void expect_status(nsd_table *t, uint64_t id, const char *a, const char *b)
{
	char st[600];

	status_of(t, id, st, sizeof(st));
	CU_ASSERT_PTR_NOT_NULL(strstr(st, a));
	if (b)
		CU_ASSERT_PTR_NOT_NULL(strstr(st, b));
	if (!strstr(st, a) || (b && !strstr(st, b)))
		fprintf(stderr, "\n    status of %016" PRIX64 ": \"%s\" (wanted \"%s\", \"%s\")\n", id,
			st, a, b ? b : "");
}

static void test_table_discovery(void)
{
	nsd_table *t = new_table(false);
	uint32_t srv[] = {2, 3};
	struct nsd_def defs[] = {
		mkdef("nsdA", ID_A, p_a, true, srv, 2),			/* right id: local */
		mkdef("nsdB", ID_B, p_a, true, srv, 2),			/* path holds nsdA */
		mkdef("nsdC", ID_C, p_blank, true, srv, 2),		/* blank */
		mkdef("nsdD", ID_D, p_damaged, true, srv, 2),		/* damaged */
		mkdef("nsdO", ID_O, p_other, true, NULL, 0),		/* another cluster */
		mkdef("nsdX", 0x42, "/nonexistent/nsd", true, srv, 1),	/* no such device */
		mkdef("nsdY", 0x43, p_b, false, srv, 2),		/* not probed */
	};
	uint32_t got[NSD_MAX_SERVERS];
	nsd_entry **list = NULL;
	size_t n = 0;
	nsd_entry *e;
	char name[80];

	CU_ASSERT_EQUAL(nsd_table_update(t, defs, sizeof(defs) / sizeof(defs[0]), NULL, 0), 1);
	CU_ASSERT_TRUE(has_local(t, ID_A));
	expect_status(t, ID_A, "local ", p_a);
	CU_ASSERT_FALSE(has_local(t, ID_B));
	expect_status(t, ID_B, "not used", "holds NSD nsdA");
	CU_ASSERT_FALSE(has_local(t, ID_C));
	expect_status(t, ID_C, "not used", "no NSD descriptor");
	CU_ASSERT_FALSE(has_local(t, ID_D));
	expect_status(t, ID_D, "not used", "checksum mismatch");
	CU_ASSERT_FALSE(has_local(t, ID_O));
	expect_status(t, ID_O, "not used", "another cluster");
	CU_ASSERT_FALSE(has_local(t, 0x42));
	expect_status(t, 0x42, "not used", "/nonexistent/nsd");
	CU_ASSERT_FALSE(has_local(t, 0x43));
	expect_status(t, 0x43, "no local path", NULL);
	CU_ASSERT_PTR_NULL(nsd_table_get(t, 0x44));

	/* lookups, servers, listing */
	e = nsd_table_get_name(t, "nsdD");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(nsd_entry_id(e), ID_D);
	nsd_entry_name(e, name, sizeof(name));
	CU_ASSERT_STRING_EQUAL(name, "nsdD");
	CU_ASSERT_EQUAL(nsd_entry_servers(e, got), 2);
	CU_ASSERT_TRUE(got[0] == 2 && got[1] == 3);
	nsd_entry_put(e);
	CU_ASSERT_PTR_NULL(nsd_table_get_name(t, "nsdZ"));
	CU_ASSERT_EQUAL(nsd_table_list(t, &list, &n), MM_OK);
	CU_ASSERT_EQUAL(n, sizeof(defs) / sizeof(defs[0]));
	for (size_t i = 0; i < n; i++) {
		char prev[80];

		nsd_entry_name(list[i], name, sizeof(name));
		if (i) {
			nsd_entry_name(list[i - 1], prev, sizeof(prev));
			CU_ASSERT(strcmp(prev, name) < 0);
		}
		nsd_entry_put(list[i]);
	}
	free(list);
	nsd_table_destroy(t);
}

static void test_table_scan_list(void)
{
	nsd_table *t = new_table(false);
	uint32_t srv[] = {2};
	/* the records point at wrong paths; the disks are found by id */
	struct nsd_def defs[] = {
		mkdef("nsdA", ID_A, p_blank, true, srv, 1),
		mkdef("nsdB", ID_B, "/nonexistent/b", false, srv, 1),
		mkdef("nsdD", ID_D, p_blank, false, srv, 1),
	};
	const char *scan[] = {"/nonexistent/scan", p_blank, p_other, p_damaged, p_b, p_a};

	CU_ASSERT_EQUAL(nsd_table_update(t, defs, 3, scan, sizeof(scan) / sizeof(scan[0])), 2);
	CU_ASSERT_TRUE(has_local(t, ID_A));
	expect_status(t, ID_A, "local ", p_a);
	CU_ASSERT_TRUE(has_local(t, ID_B));
	expect_status(t, ID_B, "local ", p_b);
	/* a damaged descriptor in the scan list is never taken for its id */
	CU_ASSERT_FALSE(has_local(t, ID_D));
	nsd_table_destroy(t);

	/* the other cluster's disk is not taken even through the scan list */
	t = new_table(false);
	{
		struct nsd_def o = mkdef("nsdO", ID_O, "/nonexistent/o", false, NULL, 0);
		const char *s2[] = {p_other};

		CU_ASSERT_EQUAL(nsd_table_update(t, &o, 1, s2, 1), 0);
		CU_ASSERT_FALSE(has_local(t, ID_O));
	}
	nsd_table_destroy(t);
}

static void test_table_rescan(void)
{
	nsd_table *t = new_table(false);
	struct nsd_def def = mkdef("nsdA", ID_A, p_a, true, NULL, 0);
	struct nsd_def moved = mkdef("nsdA", ID_A, p_blank, true, NULL, 0);
	struct nsd_client_config cc = {.tab = t, .my_node = 1};
	struct nsd_entry_stats st;
	nsd_client *c = NULL;
	uint64_t setups, destroys;
	char err[768];
	void *buf = nsd_io_buf_alloc(4096);
	nsd_entry *held;

	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(nsd_table_update(t, &def, 1, NULL, 0), 1);
	CU_ASSERT_EQUAL_FATAL(nsd_client_create(&cc, &c), MM_OK);
	nsd_pattern_fill(buf, 4096, 2 * MIB, 1);
	CU_ASSERT_EQUAL(nsd_client_write(c, ID_A, 2 * MIB, buf, 4096, err, sizeof(err)), MM_OK);

	/* the same set again: the open disk is kept, not reopened */
	setups = nsd_sys_calls(NSD_SYS_IO_SETUP);
	destroys = nsd_sys_calls(NSD_SYS_IO_DESTROY);
	CU_ASSERT_EQUAL(nsd_table_update(t, &def, 1, NULL, 0), 1);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_SETUP), setups);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_DESTROY), destroys);
	CU_ASSERT_TRUE(has_local(t, ID_A));

	/* the path now holds no descriptor: the disk is retired and, with no
	 * I/O in flight, closed by this update; the counters stay */
	CU_ASSERT_EQUAL(nsd_table_update(t, &moved, 1, NULL, 0), 0);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_DESTROY), destroys + 1);
	CU_ASSERT_FALSE(has_local(t, ID_A));
	expect_status(t, ID_A, "not used", p_blank);
	st = entry_stats(t, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.writes, 1);
	CU_ASSERT_EQUAL(st.bytes_written, 4096);
	/* and I/O now has no path */
	CU_ASSERT_EQUAL(nsd_client_read(c, ID_A, 2 * MIB, buf, 4096, err, sizeof(err)), MM_EUNREACH);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no local path"));

	/* found again */
	CU_ASSERT_EQUAL(nsd_table_update(t, &def, 1, NULL, 0), 1);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_SETUP), setups + 1);
	memset(buf, 0, 4096);
	CU_ASSERT_EQUAL(nsd_client_read(c, ID_A, 2 * MIB, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(nsd_pattern_check(buf, 4096, 2 * MIB, 1), -1);

	/* dropped from the set while a reference is held: the entry (and its
	 * disk) lives until the reference goes, then closes at the next update */
	held = nsd_table_get(t, ID_A);
	CU_ASSERT_PTR_NOT_NULL_FATAL(held);
	destroys = nsd_sys_calls(NSD_SYS_IO_DESTROY);
	CU_ASSERT_EQUAL(nsd_table_update(t, NULL, 0, NULL, 0), 0);
	CU_ASSERT_PTR_NULL(nsd_table_get(t, ID_A));
	CU_ASSERT_EQUAL(nsd_client_read(c, ID_A, 2 * MIB, buf, 4096, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_DESTROY), destroys);
	nsd_entry_put(held);
	CU_ASSERT_EQUAL(nsd_table_update(t, NULL, 0, NULL, 0), 0);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_DESTROY), destroys + 1);

	nsd_client_destroy(c);
	nsd_table_destroy(t);
	free(buf);
}

/* Rescans that retire and reopen the disk while I/O, lookups and listings
 * run on other threads: no request sees wrong data, none is lost, and
 * (under TSan/ASan) no race and no use of a closed disk. */
struct churn {
	nsd_table *t;
	nsd_client *c;
	atomic_int stop;
	int ok, unreach, other, bad_data, lists;
};

static void *churn_io(void *arg)
{
	struct churn *ch = arg;
	void *buf = nsd_io_buf_alloc(8192);
	char err[768];

	if (!buf)
		return NULL;
	for (uint64_t i = 0; !atomic_load_explicit(&ch->stop, memory_order_seq_cst); i++) {
		uint64_t off = 12 * MIB + (i % 16) * 8192;
		int rc;

		if (i % 2 == 0) {
			nsd_pattern_fill(buf, 8192, off, 61);
			rc = nsd_client_write(ch->c, ID_A, off, buf, 8192, err, sizeof(err));
		} else {
			memset(buf, 0, 8192);
			rc = nsd_client_read(ch->c, ID_A, off, buf, 8192, err, sizeof(err));
			if (rc == MM_OK && nsd_pattern_check(buf, 8192, off, 61) != -1) {
				/* neither what we write nor never-written zeros */
				bool zero = true;

				for (size_t k = 0; k < 8192 && zero; k++)
					zero = ((uint8_t *)buf)[k] == 0;
				if (!zero)
					ch->bad_data++;
			}
		}
		if (rc == MM_OK)
			ch->ok++;
		else if (rc == MM_EUNREACH || rc == MM_ENOENT)
			ch->unreach++;
		else
			ch->other++;
	}
	free(buf);
	return NULL;
}

static void *churn_lookups(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load_explicit(&ch->stop, memory_order_seq_cst)) {
		nsd_entry **list = NULL, *e;
		struct nsd_entry_stats st;
		struct nsd_disk_stats ds;
		char buf[600];
		size_t n = 0;
		bool local;

		if (nsd_table_list(ch->t, &list, &n) == MM_OK) {
			for (size_t i = 0; i < n; i++) {
				nsd_entry_status(list[i], buf, sizeof(buf));
				nsd_entry_stats(list[i], &st, &ds, &local);
				nsd_entry_put(list[i]);
			}
			free(list);
		}
		e = nsd_table_get_name(ch->t, "nsdA");
		nsd_entry_put(e);
		ch->lists++;
	}
	return NULL;
}

static void test_table_churn(void)
{
	nsd_table *t = new_table(false);
	uint32_t srv[] = {2};
	struct nsd_def on[] = {mkdef("nsdA", ID_A, p_a, true, srv, 1),
			       mkdef("nsdB", ID_B, p_b, true, srv, 1)};
	struct nsd_def off[] = {mkdef("nsdA", ID_A, p_blank, true, srv, 1),
				mkdef("nsdB", ID_B, p_b, true, srv, 1)};
	struct nsd_client_config cc = {.tab = t, .my_node = 1};
	struct churn ch = {.t = t};
	pthread_t io_thr, lk_thr;
	uint64_t setups = nsd_sys_calls(NSD_SYS_IO_SETUP), destroys;

	CU_ASSERT_EQUAL_FATAL(nsd_table_update(t, on, 2, NULL, 0), 2);
	CU_ASSERT_EQUAL_FATAL(nsd_client_create(&cc, &ch.c), MM_OK);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&io_thr, NULL, churn_io, &ch), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&lk_thr, NULL, churn_lookups, &ch), 0);
	for (int i = 0; i < 16; i++) {
		mm_sleep_ms(10);
		nsd_table_update(t, i % 2 ? on : off, 2, NULL, 0);
		if (i == 7)
			nsd_table_update(t, NULL, 0, NULL, 0);	/* gone altogether for a moment */
	}
	atomic_store_explicit(&ch.stop, 1, memory_order_seq_cst);
	pthread_join(io_thr, NULL);
	pthread_join(lk_thr, NULL);
	CU_ASSERT(ch.ok > 0);
	CU_ASSERT_EQUAL(ch.other, 0);
	CU_ASSERT_EQUAL(ch.bad_data, 0);
	CU_ASSERT(ch.lists > 0);
	CU_ASSERT(nsd_sys_calls(NSD_SYS_IO_SETUP) > setups + 2);	/* reopened along the way */
	nsd_client_destroy(ch.c);
	CU_ASSERT_EQUAL(nsd_table_update(t, on, 2, NULL, 0), 2);
	destroys = nsd_sys_calls(NSD_SYS_IO_DESTROY);
	nsd_table_destroy(t);
	CU_ASSERT_EQUAL(nsd_sys_calls(NSD_SYS_IO_DESTROY), destroys + 2);
}

/* ========================================================================
 * client, local path
 * ===================================================================== */

static nsd_table *loc_tab;
static nsd_client *loc_cli;

static int local_init(void)
{
	struct nsd_table_config cfg = {.cluster_id = CLUSTER};
	struct nsd_def def = mkdef("nsdA", ID_A, p_a, true, NULL, 0);
	struct nsd_client_config cc = {.my_node = 1, .may_io = test_may_io};

	set_epoch(1);
	if (nsd_table_create(&cfg, &loc_tab) || nsd_table_update(loc_tab, &def, 1, NULL, 0) != 1)
		return -1;
	cc.tab = loc_tab;
	return nsd_client_create(&cc, &loc_cli) ? -1 : 0;
}

static int local_clean(void)
{
	nsd_client_destroy(loc_cli);
	nsd_table_destroy(loc_tab);
	loc_cli = NULL;
	loc_tab = NULL;
	set_epoch(1);
	return 0;
}

static void test_local_rw(void)
{
	struct nsd_entry_stats st0 = entry_stats(loc_tab, ID_A, NULL, NULL), st;
	struct nsd_disk_stats ds;
	char err[768] = "";
	int nasync = 32;
	struct nsd_io *ios = calloc((size_t)nasync, sizeof(*ios));
	void *bufs[32];
	struct batch b;
	bool local;

	CU_ASSERT_FATAL(ios != NULL);
	for (int i = 0; i < 40; i++) {
		uint64_t off;
		size_t len;
		int rc;

		rnd_range(NSD_RESERVED_BYTES, DISK_SIZE, 64, &off, &len);
		rc = write_verify(loc_cli, ID_A, off, len, 100 + (uint64_t)i, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_OK);
		if (rc) {
			fprintf(stderr, "\n    %s\n", err);
			break;
		}
	}
	/* the first writable block, the last block of the disk */
	CU_ASSERT_EQUAL(write_verify(loc_cli, ID_A, 4096, 4096, 7, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(write_verify(loc_cli, ID_A, DISK_SIZE - 4096, 4096, 8, err, sizeof(err)),
			MM_OK);
	/* concurrent asynchronous writes of distinct ranges, then reads */
	batch_init(&b);
	for (int i = 0; i < nasync; i++) {
		bufs[i] = nsd_io_buf_alloc(16384);
		CU_ASSERT_FATAL(bufs[i] != NULL);
		nsd_pattern_fill(bufs[i], 16384, 16 * MIB + (uint64_t)i * 16384, 9);
		batch_submit_one(loc_cli, &b, &ios[i], ID_A, NSD_WRITE, 16 * MIB + (uint64_t)i * 16384,
				 bufs[i], 16384);
	}
	CU_ASSERT_TRUE(batch_wait(&b, 0, 10000));
	CU_ASSERT_EQUAL(b.errs, 0);
	for (int i = 0; i < nasync; i++) {
		memset(bufs[i], 0, 16384);
		batch_submit_one(loc_cli, &b, &ios[i], ID_A, NSD_READ, 16 * MIB + (uint64_t)i * 16384,
				 bufs[i], 16384);
	}
	CU_ASSERT_TRUE(batch_wait(&b, 0, 10000));
	CU_ASSERT_EQUAL(b.errs, 0);
	CU_ASSERT_EQUAL(b.calls, 2 * nasync);	/* each done() exactly once */
	for (int i = 0; i < nasync; i++) {
		CU_ASSERT_EQUAL(nsd_pattern_check(bufs[i], 16384, 16 * MIB + (uint64_t)i * 16384, 9), -1);
		free(bufs[i]);
	}
	batch_fini(&b);
	free(ios);

	st = entry_stats(loc_tab, ID_A, &ds, &local);
	CU_ASSERT_TRUE(local);
	CU_ASSERT_TRUE(st.last_local);
	CU_ASSERT_EQUAL(st.writes - st0.writes, 40 + 2 + 32);
	CU_ASSERT_EQUAL(st.reads - st0.reads, 40 + 2 + 32);
	CU_ASSERT_EQUAL(st.errors, st0.errors);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	CU_ASSERT(st.lat_max_us > 0 || st.lat_total_us == 0);
	CU_ASSERT(ds.writes >= st.writes - st0.writes);
	/* the descriptor is readable through the client */
	{
		uint8_t *d = nsd_io_buf_alloc(4096);

		CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, 0, d, 4096, err, sizeof(err)), MM_OK);
		CU_ASSERT_EQUAL(memcmp(d, "MMFSNSD1", 8), 0);
		free(d);
	}
}

static atomic_int n_async_calls;

static void count_done(struct nsd_io *io, int rc)
{
	(void)io;
	(void)rc;
	atomic_fetch_add_explicit(&n_async_calls, 1, memory_order_seq_cst);
}

static void test_local_invalid(void)
{
	uint8_t *buf = nsd_io_buf_alloc(3 * 4096);
	struct nsd_entry_stats st0 = entry_stats(loc_tab, ID_A, NULL, NULL), st;
	struct nsd_io io;
	char err[768];

	CU_ASSERT_FATAL(buf != NULL);
	/* misaligned offset, length, buffer; zero and oversized lengths */
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB + 512, buf, 4096, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "multiples of 4096"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD 1111AAAA2222BBBB"));	/* not looked up yet: by id */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "read of sectors"));
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_write(loc_cli, ID_A, MIB, buf, 4096 + 512, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "multiples of 4096"));
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_write(loc_cli, ID_A, MIB, buf + 512, 4096, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "multiples of 4096"));
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 0, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, NSD_IO_MAX + 4096, err, sizeof(err)),
			MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, UINT64_MAX - 4095, buf, 8192, err, sizeof(err)),
			MM_EINVAL);
	/* the descriptor is not writable */
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_write(loc_cli, ID_A, 0, buf, 4096, err, sizeof(err)), MM_EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "descriptor"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nsdA"));
	/* unknown NSD */
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_C, MIB, buf, 4096, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0123456789ABCDEF"));
	/* past the end of the disk: refused by the local disk, reported async */
	err[0] = '\0';
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, DISK_SIZE - 4096, buf, 8192, err, sizeof(err)),
			MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "local disk"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, p_a));
	/* an async request refused at submit never calls done */
	memset(&io, 0, sizeof(io));
	io = (struct nsd_io){.nsd_id = ID_A, .op = NSD_WRITE, .offset = 0, .len = 4096, .buf = buf,
			     .done = count_done};
	CU_ASSERT_EQUAL(nsd_client_submit(loc_cli, &io), MM_EPERM);
	CU_ASSERT(io.err[0] != '\0');
	io.offset = 100;
	CU_ASSERT_EQUAL(nsd_client_submit(loc_cli, &io), MM_EINVAL);
	io.offset = MIB;
	io.done = NULL;
	CU_ASSERT_EQUAL(nsd_client_submit(loc_cli, &io), MM_EINVAL);
	mm_sleep_ms(20);
	CU_ASSERT_EQUAL(atomic_load_explicit(&n_async_calls, memory_order_seq_cst), 0);
	st = entry_stats(loc_tab, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.writes, st0.writes);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	free(buf);
}

static void test_local_nolease(void)
{
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";

	CU_ASSERT_FATAL(buf != NULL);
	set_epoch(0);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_ENOLEASE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lease"));
	CU_ASSERT_EQUAL(nsd_client_write(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_ENOLEASE);
	set_epoch(7);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_OK);
	set_epoch(1);
	free(buf);
}

static void test_policy(void)
{
	enum nsd_path_policy p = NSD_PATH_NEVER;
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";

	CU_ASSERT_EQUAL(nsd_path_policy_parse("asneeded", &p), MM_OK);
	CU_ASSERT_EQUAL(p, NSD_PATH_ASNEEDED);
	p = NSD_PATH_NEVER;
	CU_ASSERT_EQUAL(nsd_path_policy_parse("asfound", &p), MM_OK);
	CU_ASSERT_EQUAL(p, NSD_PATH_ASNEEDED);
	CU_ASSERT_EQUAL(nsd_path_policy_parse("ALWAYS", &p), MM_OK);
	CU_ASSERT_EQUAL(p, NSD_PATH_ALWAYS);
	CU_ASSERT_EQUAL(nsd_path_policy_parse("never", &p), MM_OK);
	CU_ASSERT_EQUAL(p, NSD_PATH_NEVER);
	CU_ASSERT_EQUAL(nsd_path_policy_parse("sometimes", &p), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_path_policy_parse("", &p), MM_EINVAL);
	/* never: the local disk is fine; always without a network: no path */
	nsd_client_set_policy(loc_cli, NSD_PATH_NEVER);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_OK);
	nsd_client_set_policy(loc_cli, NSD_PATH_ALWAYS);
	CU_ASSERT_NOT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	nsd_client_set_policy(loc_cli, NSD_PATH_ASNEEDED);
	CU_ASSERT_EQUAL(nsd_client_read(loc_cli, ID_A, MIB, buf, 4096, err, sizeof(err)), MM_OK);
	free(buf);
}

/* ========================================================================
 * served path: client node 1, servers 2 and 3, fake server 4
 * ===================================================================== */

static const char *node_ip[5] = {NULL, IP_CLIENT, IP_S2, IP_S3, IP_FAKE};

struct node {
	net_ctx *net;
	nsd_table *tab;
	nsd_server *srv;
	nsd_client *cli;
	uint16_t port;
};
static struct node N[5];

struct cl_opts {
	unsigned max_requests;		/* servers' admission bound (0: default) */
	bool s3_sync;			/* server 3's disk uses the sync backend */
	uint32_t servers[4];		/* nsdA's servers (default 2, 3) */
	int nservers;
	int retry_ms, down_ms;
	bool no_s3;			/* do not start server 3 */
	bool refresh;			/* servers learn nsdB when they refresh */
};

static atomic_int refresh_calls[5], refresh_bad;	/* CUnit asserts on this thread only */

/* What mmfsd's refresh does, reduced: re-read the definitions, which by
 * now include nsdB (as if mmcrnsd made it after this server's last scan). */
static void refresh_cb(uint64_t recv_ns, void *arg)
{
	uint32_t node = (uint32_t)(intptr_t)arg;
	uint32_t srv[] = {2, 3};
	struct nsd_def defs[] = {mkdef("nsdA", ID_A, p_a, true, srv, 2),
				 mkdef("nsdB", ID_B, p_b, true, srv, 2)};

	if (recv_ns == 0 || recv_ns > mm_now_ns() || nsd_table_update(N[node].tab, defs, 2, NULL, 0) != 2)
		atomic_fetch_add(&refresh_bad, 1);
	atomic_fetch_add(&refresh_calls[node], 1);
}

/* fencing answers of the servers (index = node) and the nodes they saw */
static atomic_int fence_rc[5];
static atomic_int fence_bad_node;

static atomic_int fence_bad_recv;

static int fence_cb(uint32_t node, uint64_t recv_ns, void *arg)
{
	int idx = (int)(intptr_t)arg;

	/* the arrival time comes from net, on this process's monotonic clock */
	if (recv_ns == 0 || recv_ns > mm_now_ns())
		atomic_store_explicit(&fence_bad_recv, 1, memory_order_seq_cst);

	if (node != 1 && node != 2)
		atomic_store_explicit(&fence_bad_node, (int)node, memory_order_seq_cst);
	return atomic_load_explicit(&fence_rc[idx], memory_order_seq_cst);
}

/* the fake server */
enum { FAKE_BUSY = 1, FAKE_BADCRC, FAKE_SHORT };
static atomic_int fake_mode, fake_calls, fake_bump_at;

static void fake_handle(net_req *req, void *arg)
{
	int mode = atomic_load_explicit(&fake_mode, memory_order_seq_cst);
	int n = atomic_fetch_add_explicit(&fake_calls, 1, memory_order_seq_cst) + 1;
	struct nsd_proto_req pr;
	char err[256];
	size_t len;
	const void *data = net_req_data(req, &len);

	(void)arg;
	if (nsd_proto_req_decode(net_req_type(req), data, len, &pr, err, sizeof(err)) != 0) {
		net_reply(req, MM_EPROTO, err, strlen(err));
		return;
	}
	if (mode == FAKE_BUSY) {
		if (n == atomic_load_explicit(&fake_bump_at, memory_order_seq_cst))
			/* the node was expelled and rejoined */
			atomic_fetch_add_explicit(&g_epoch, 1, memory_order_seq_cst);
		net_reply(req, MM_EBUSY, "fake server is busy", 19);
		return;
	}
	if (net_req_type(req) == MSG_NSD_READ && (mode == FAKE_BADCRC || mode == FAKE_SHORT)) {
		uint8_t *rep = malloc(NSD_PROTO_REP_LEN + pr.len);

		nsd_pattern_fill(rep + NSD_PROTO_REP_LEN, pr.len, pr.offset, 0xBAD);
		nsd_proto_rep_encode(NSD_PF_CHECKSUM,
				     mm_crc32c(0, rep + NSD_PROTO_REP_LEN, pr.len) ^ 1, rep);
		net_reply(req, MM_OK, rep, NSD_PROTO_REP_LEN + pr.len - (mode == FAKE_SHORT ? 8 : 0));
		free(rep);
		return;
	}
	net_reply(req, MM_EIO, "fake server: disk on fire", 25);
}

static net_ctx *mk_net(uint32_t node, bool listen)
{
	struct net_config cfg = {
		.node_id = node,
		.cluster_id = CLUSTER,
		.listen_addr = listen ? node_ip[node] : NULL,
		.port = 0,
		.io_threads = 2,
		.worker_threads = 4,
		.max_payload = 20u << 20,
		.security = NET_SEC_PLAIN,
		.ciphers = "",
		.connect_timeout_ms = 2000,
	};
	net_ctx *ctx = NULL;

	if (net_create(&cfg, &ctx) != MM_OK)
		return NULL;
	return ctx;
}

static int start_server(uint32_t node, const struct cl_opts *o, bool sync_backend)
{
	struct nsd_table_config tc = {.cluster_id = CLUSTER};
	struct nsd_def def = mkdef("nsdA", ID_A, p_a, true, o->servers, o->nservers);
	char name[64];
	struct nsd_server_config sc = {.max_requests = o->max_requests, .fence = fence_cb,
				       .fence_arg = (void *)(intptr_t)node};

	tc.disk_opts.sync_backend = sync_backend;
	tc.disk_opts.queue_depth = 16;
	if (o->refresh) {
		sc.refresh = refresh_cb;
		sc.refresh_arg = (void *)(intptr_t)node;
	}
	N[node].net = mk_net(node, true);
	if (!N[node].net || nsd_table_create(&tc, &N[node].tab) ||
	    nsd_table_update(N[node].tab, &def, 1, NULL, 0) != 1)
		return -1;
	snprintf(name, sizeof(name), "node %u (test)", node);
	sc.net = N[node].net;
	sc.tab = N[node].tab;
	sc.name = name;
	if (nsd_server_create(&sc, &N[node].srv))
		return -1;
	N[node].port = net_listen_port(N[node].net);
	return N[node].port ? 0 : -1;
}

static void stop_server(uint32_t node)
{
	if (N[node].srv)
		nsd_server_stop(N[node].srv);
	net_destroy(N[node].net);
	nsd_server_destroy(N[node].srv);
	nsd_table_destroy(N[node].tab);
	N[node].net = NULL;
	N[node].srv = NULL;
	N[node].tab = NULL;
}

static bool cluster_up(struct cl_opts o)
{
	struct nsd_table_config tc = {.cluster_id = CLUSTER};
	struct nsd_client_config cc = {.my_node = 1, .may_io = test_may_io, .timeout_ms = 5000};
	struct nsd_def def;

	memset(N, 0, sizeof(N));
	for (size_t i = 0; i < MM_ARRAY_SIZE(fence_rc); i++)
		atomic_store_explicit(&fence_rc[i], 0, memory_order_seq_cst);
	atomic_store_explicit(&fence_bad_node, 0, memory_order_seq_cst);
	for (size_t i = 0; i < MM_ARRAY_SIZE(refresh_calls); i++)
		atomic_store_explicit(&refresh_calls[i], 0, memory_order_seq_cst);
	atomic_store_explicit(&refresh_bad, 0, memory_order_seq_cst);
	atomic_store_explicit(&fake_mode, 0, memory_order_seq_cst);
	atomic_store_explicit(&fake_calls, 0, memory_order_seq_cst);
	atomic_store_explicit(&fake_bump_at, 0, memory_order_seq_cst);
	set_epoch(1);
	if (!o.nservers) {
		o.servers[0] = 2;
		o.servers[1] = 3;
		o.nservers = 2;
	}
	if (start_server(2, &o, false) || (!o.no_s3 && start_server(3, &o, o.s3_sync)))
		return false;
	N[4].net = mk_net(4, true);
	if (!N[4].net || net_register(N[4].net, MSG_NSD_READ, fake_handle, NULL, 0) ||
	    net_register(N[4].net, MSG_NSD_WRITE, fake_handle, NULL, 0))
		return false;
	N[4].port = net_listen_port(N[4].net);

	/* the client node: knows nsdA and its servers, reaches no disk */
	N[1].net = mk_net(1, false);
	if (!N[1].net || nsd_table_create(&tc, &N[1].tab))
		return false;
	def = mkdef("nsdA", ID_A, p_a, false, o.servers, o.nservers);
	if (nsd_table_update(N[1].tab, &def, 1, NULL, 0) != 0)
		return false;
	for (uint32_t n = 2; n <= 4; n++)
		if (N[n].net && net_peer_set(N[1].net, n, node_ip[n], N[n].port))
			return false;
	/* the servers reach each other (for the "always" test on node 2) */
	if (N[3].net && net_peer_set(N[2].net, 3, IP_S3, N[3].port))
		return false;
	cc.net = N[1].net;
	cc.tab = N[1].tab;
	cc.retry_ms = o.retry_ms;
	cc.down_ms = o.down_ms;
	return nsd_client_create(&cc, &N[1].cli) == MM_OK;
}

static void cluster_down(void)
{
	nsd_client_destroy(N[1].cli);
	net_destroy(N[1].net);
	nsd_table_destroy(N[1].tab);
	for (uint32_t n = 2; n <= 3; n++)
		if (N[n].net)
			stop_server(n);
	net_destroy(N[4].net);
	memset(N, 0, sizeof(N));
	nsd_sys_reset();
	set_epoch(1);
}

#define UP(...)                                                         \
	do {                                                            \
		struct cl_opts o_ = {__VA_ARGS__};                      \
		if (!cluster_up(o_)) {                                  \
			cluster_down();                                 \
			CU_FAIL_FATAL("cluster_up");                    \
		}                                                       \
	} while (0)

static struct nsd_server_stats srv_stats(uint32_t node)
{
	struct nsd_server_stats st;

	memset(&st, 0, sizeof(st));
	if (N[node].srv)
		nsd_server_get_stats(N[node].srv, &st);
	return st;
}

static void test_served_rw(void)
{
	struct nsd_server_stats s2, s3;
	struct nsd_entry_stats st;
	char err[768] = "";
	uint8_t *buf;

	UP(0);
	for (int i = 0; i < 40; i++) {
		uint64_t off;
		size_t len;
		int rc;

		rnd_range(NSD_RESERVED_BYTES, DISK_SIZE, i % 8 == 0 ? 512 : 32, &off, &len);
		rc = write_verify(N[1].cli, ID_A, off, len, 200 + (uint64_t)i, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_OK);
		if (rc) {
			fprintf(stderr, "\n    %s\n", err);
			break;
		}
	}
	/* the largest request */
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, 40 * MIB, NSD_IO_MAX, 77, err, sizeof(err)),
			MM_OK);
	/* the server list is taken in order: all of it went to node 2 */
	s2 = srv_stats(2);
	s3 = srv_stats(3);
	CU_ASSERT_EQUAL(s2.requests, 82);
	CU_ASSERT_EQUAL(s3.requests, 0);
	CU_ASSERT(s2.bytes_written > 16 * MIB && s2.bytes_written == s2.bytes_read);
	/* a request leaves service just after its reply went out */
	for (int i = 0; i < 200 && srv_stats(2).in_service; i++)
		mm_sleep_ms(5);
	CU_ASSERT_EQUAL(srv_stats(2).in_service, 0);
	CU_ASSERT_EQUAL(srv_stats(2).bytes_held, 0);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fence_bad_node, memory_order_seq_cst), 0);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fence_bad_recv, memory_order_seq_cst), 0);
	st = entry_stats(N[1].tab, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.last_server, 2);
	CU_ASSERT_FALSE(st.last_local);
	CU_ASSERT_EQUAL(st.writes, 41);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(st.failovers, 0);

	/* what the server refuses reaches the caller with the server's words */
	buf = nsd_io_buf_alloc(8192);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_A, DISK_SIZE - 4096, buf, 8192, err, sizeof(err)),
			MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of range"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 2 (test)"));
	CU_ASSERT_EQUAL(srv_stats(3).requests, 0);	/* not asked: it would say the same */
	/* the descriptor: readable, not writable */
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_A, 0, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(memcmp(buf, "MMFSNSD1", 8), 0);
	CU_ASSERT_EQUAL(nsd_client_write(N[1].cli, ID_A, 0, buf, 4096, err, sizeof(err)), MM_EPERM);
	free(buf);
	cluster_down();
}

/* An NSD the client knows but no server reaches: each says so. */
static void test_served_unknown(void)
{
	uint32_t srv[] = {2, 3};
	struct nsd_def defs[] = {mkdef("nsdA", ID_A, p_a, false, srv, 2),
				 mkdef("nsdB", ID_B, p_b, false, srv, 2)};
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";

	UP(0);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(nsd_table_update(N[1].tab, defs, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_B, MIB, buf, 4096, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdB"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 3:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "knows no NSD with id 3333CCCC4444DDDD"));
	CU_ASSERT_EQUAL(srv_stats(2).refused_invalid, 1);
	CU_ASSERT_EQUAL(srv_stats(3).refused_invalid, 1);
	free(buf);
	cluster_down();
}

/* An NSD made after the server last read the table: the server refreshes
 * once and serves it, rather than refusing a request its peer had every
 * right to send (the mmcrnsd; mmcrfs race: mmcrfs reads through a server
 * whose rescan message had not yet been acted on). */
static void test_served_refresh(void)
{
	uint32_t srv[] = {2, 3};
	struct nsd_def defs[] = {mkdef("nsdA", ID_A, p_a, false, srv, 2),
				 mkdef("nsdB", ID_B, p_b, false, srv, 2)};
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";

	UP(.refresh = true);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(nsd_table_update(N[1].tab, defs, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_B, 0, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(memcmp(buf, "MMFSNSD1", 8), 0);
	CU_ASSERT_EQUAL(atomic_load(&refresh_calls[2]) + atomic_load(&refresh_calls[3]), 1);
	CU_ASSERT_EQUAL(srv_stats(2).refused_invalid + srv_stats(3).refused_invalid, 0);
	/* known now: no more refreshes; nor for an NSD the server knew */
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_B, 0, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_A, 0, buf, 4096, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(atomic_load(&refresh_calls[2]) + atomic_load(&refresh_calls[3]), 1);
	CU_ASSERT_EQUAL(atomic_load(&refresh_bad), 0);
	free(buf);
	cluster_down();
}

static void test_served_policy(void)
{
	struct nsd_client_config cc = {.my_node = 2, .may_io = test_may_io, .timeout_ms = 5000,
				       .policy = NSD_PATH_ALWAYS};
	struct nsd_server_stats s3;
	struct nsd_entry_stats st;
	nsd_client *c2 = NULL;
	char err[768] = "";

	UP(0);
	/* never, on a node without a local path: an error naming the NSD */
	nsd_client_set_policy(N[1].cli, NSD_PATH_NEVER);
	CU_ASSERT_NOT_EQUAL(write_verify(N[1].cli, ID_A, 2 * MIB, 4096, 1, err, sizeof(err)), MM_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "never"));
	CU_ASSERT_EQUAL(srv_stats(2).requests + srv_stats(3).requests, 0);
	nsd_client_set_policy(N[1].cli, NSD_PATH_ASNEEDED);

	/* always, on server node 2 that has the disk: served by node 3 */
	cc.net = N[2].net;
	cc.tab = N[2].tab;
	CU_ASSERT_EQUAL_FATAL(nsd_client_create(&cc, &c2), MM_OK);
	CU_ASSERT_EQUAL(write_verify(c2, ID_A, 3 * MIB, 65536, 2, err, sizeof(err)), MM_OK);
	s3 = srv_stats(3);
	CU_ASSERT_EQUAL(s3.requests, 2);
	st = entry_stats(N[2].tab, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.last_server, 3);
	CU_ASSERT_FALSE(st.last_local);
	CU_ASSERT_EQUAL(srv_stats(2).requests, 0);
	/* asneeded on the same node: the local disk */
	nsd_client_set_policy(c2, NSD_PATH_ASNEEDED);
	CU_ASSERT_EQUAL(write_verify(c2, ID_A, 3 * MIB, 65536, 3, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(srv_stats(3).requests, 2);
	st = entry_stats(N[2].tab, ID_A, NULL, NULL);
	CU_ASSERT_TRUE(st.last_local);
	/* and the client node sees what node 2 wrote locally */
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, 3 * MIB, 65536, 3), -1);
	nsd_client_destroy(c2);
	cluster_down();
}

static void test_served_checksum(void)
{
	uint32_t srv[] = {4, 2};
	struct nsd_def def = mkdef("nsdA", ID_A, p_a, false, srv, 2);
	char err[768] = "";

	UP(0);
	nsd_client_set_checksum(N[1].cli, true);
	for (int i = 0; i < 10; i++) {
		uint64_t off;
		size_t len;

		rnd_range(NSD_RESERVED_BYTES, DISK_SIZE, 64, &off, &len);
		CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, off, len, 300 + (uint64_t)i, err,
					     sizeof(err)), MM_OK);
	}
	CU_ASSERT_EQUAL(srv_stats(2).requests, 20);
	if (srv_stats(2).requests != 20)
		fprintf(stderr, "\n    requests %" PRIu64 ", %s\n", srv_stats(2).requests, err);
	CU_ASSERT_EQUAL(srv_stats(2).refused_invalid, 0);

	/* the fake server (first in the list) fails writes with MM_EIO: the
	 * request moves on to node 2 */
	CU_ASSERT_EQUAL(nsd_table_update(N[1].tab, &def, 1, NULL, 0), 0);
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, 4 * MIB, 8192, 50, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fake_calls, memory_order_seq_cst), 2);
	CU_ASSERT_EQUAL(entry_stats(N[1].tab, ID_A, NULL, NULL).failovers, 2);
	/* it sends damaged data with a CRC: asked twice, then node 2 */
	atomic_store_explicit(&fake_mode, FAKE_BADCRC, memory_order_seq_cst);
	atomic_store_explicit(&fake_calls, 0, memory_order_seq_cst);
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, 4 * MIB, 8192, 50), -1);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fake_calls, memory_order_seq_cst), 2);
	/* without checksums configured, a reply that carries one is still checked */
	nsd_client_set_checksum(N[1].cli, false);
	atomic_store_explicit(&fake_calls, 0, memory_order_seq_cst);
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, 4 * MIB, 8192, 50), -1);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fake_calls, memory_order_seq_cst), 2);
	/* a reply of the wrong size is a protocol error: next server at once */
	atomic_store_explicit(&fake_mode, FAKE_SHORT, memory_order_seq_cst);
	atomic_store_explicit(&fake_calls, 0, memory_order_seq_cst);
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, 4 * MIB, 8192, 50), -1);
	CU_ASSERT_EQUAL(atomic_load_explicit(&fake_calls, memory_order_seq_cst), 1);
	/* the fake alone: the damaged data is never returned */
	def.nservers = 1;
	CU_ASSERT_EQUAL(nsd_table_update(N[1].tab, &def, 1, NULL, 0), 0);
	atomic_store_explicit(&fake_mode, FAKE_BADCRC, memory_order_seq_cst);
	{
		uint8_t *buf = nsd_io_buf_alloc(8192);

		CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_A, 4 * MIB, buf, 8192, err, sizeof(err)),
				MM_ECHECKSUM);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC32C"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 4:"));
		free(buf);
	}
	cluster_down();
}

static void test_served_fenced(void)
{
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";
	uint64_t t0;
	int rc;

	UP(0);
	CU_ASSERT_FATAL(buf != NULL);
	nsd_pattern_fill(buf, 4096, 6 * MIB, 5);
	atomic_store_explicit(&fence_rc[2], MM_EFENCED, memory_order_seq_cst);
	t0 = mm_now_ms();
	rc = nsd_client_write(N[1].cli, ID_A, 6 * MIB, buf, 4096, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_EFENCED);
	CU_ASSERT(mm_now_ms() - t0 >= 1500);	/* asked again for a while */
	CU_ASSERT(mm_now_ms() - t0 < 8000);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an active cluster member"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	CU_ASSERT(srv_stats(2).refused_fenced >= 2);
	CU_ASSERT_EQUAL(srv_stats(2).requests, 0);
	CU_ASSERT_EQUAL(srv_stats(3).requests, 0);	/* an expelled node gets nothing anywhere */
	CU_ASSERT(entry_stats(N[1].tab, ID_A, NULL, NULL).retries >= 1);
	/* readmitted: the same client goes through */
	atomic_store_explicit(&fence_rc[2], 0, memory_order_seq_cst);
	CU_ASSERT_EQUAL(nsd_client_write(N[1].cli, ID_A, 6 * MIB, buf, 4096, err, sizeof(err)), MM_OK);
	free(buf);
	cluster_down();
}

static void test_served_nolease(void)
{
	char err[768] = "";
	struct nsd_entry_stats st;

	UP(0);
	/* server 2's own lease lapsed: it serves nobody, node 3 does */
	atomic_store_explicit(&fence_rc[2], MM_ENOLEASE, memory_order_seq_cst);
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, 7 * MIB, 32768, 6, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(srv_stats(2).refused_nolease, 1);
	CU_ASSERT_EQUAL(srv_stats(3).requests, 2);	/* the read skipped node 2 (down-listed) */
	st = entry_stats(N[1].tab, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.failovers, 1);
	CU_ASSERT_EQUAL(st.last_server, 3);
	CU_ASSERT_EQUAL(st.errors, 0);
	cluster_down();
}

/* The client's own lease lapses (its epoch changes) while a request waits
 * on a busy server: the request fails with MM_ENOLEASE. */
static void test_served_epoch_change(void)
{
	uint8_t *buf = nsd_io_buf_alloc(4096);
	char err[768] = "";

	UP(.servers = {4}, .nservers = 1);
	CU_ASSERT_FATAL(buf != NULL);
	atomic_store_explicit(&fake_mode, FAKE_BUSY, memory_order_seq_cst);
	atomic_store_explicit(&fake_bump_at, 3, memory_order_seq_cst);
	CU_ASSERT_EQUAL(nsd_client_write(N[1].cli, ID_A, 8 * MIB, buf, 4096, err, sizeof(err)),
			MM_ENOLEASE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lease"));
	CU_ASSERT_EQUAL(atomic_load_explicit(&fake_calls, memory_order_seq_cst), 3);
	CU_ASSERT_EQUAL(test_may_io(NULL), 2);
	/* a new request in the new epoch is fine (the fake stays busy: with a
	 * short retry window it gives up with the server's words) */
	free(buf);
	cluster_down();

	UP(.servers = {4, 2}, .nservers = 2, .retry_ms = 300);
	atomic_store_explicit(&fake_mode, FAKE_BUSY, memory_order_seq_cst);
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, 8 * MIB, 4096, 9, err, sizeof(err)), MM_OK);
	CU_ASSERT(atomic_load_explicit(&fake_calls, memory_order_seq_cst) >= 4);
	CU_ASSERT_EQUAL(srv_stats(2).requests, 2);
	CU_ASSERT(entry_stats(N[1].tab, ID_A, NULL, NULL).retries >= 2);
	cluster_down();
}

static void test_served_busy(void)
{
	enum { NB = 64, LEN = 65536 };
	struct nsd_io *ios = calloc(NB, sizeof(*ios));
	void *bufs[NB];
	struct batch b;
	struct nsd_server_stats s2;
	uint64_t base = 20 * MIB;

	UP(.max_requests = 1);
	CU_ASSERT_FATAL(ios != NULL);
	batch_init(&b);
	for (int i = 0; i < NB; i++) {
		bufs[i] = nsd_io_buf_alloc(LEN);
		CU_ASSERT_FATAL(bufs[i] != NULL);
		nsd_pattern_fill(bufs[i], LEN, base + (uint64_t)i * LEN, 11);
	}
	for (int i = 0; i < NB; i++)
		batch_submit_one(N[1].cli, &b, &ios[i], ID_A, NSD_WRITE, base + (uint64_t)i * LEN,
				 bufs[i], LEN);
	CU_ASSERT_TRUE(batch_wait(&b, 0, 15000));
	CU_ASSERT_EQUAL(b.errs, 0);
	if (b.errs)
		fprintf(stderr, "\n    %s\n", b.first_err);
	for (int i = 0; i < NB; i++) {
		memset(bufs[i], 0, LEN);
		batch_submit_one(N[1].cli, &b, &ios[i], ID_A, NSD_READ, base + (uint64_t)i * LEN,
				 bufs[i], LEN);
	}
	CU_ASSERT_TRUE(batch_wait(&b, 0, 15000));
	CU_ASSERT_EQUAL(b.errs, 0);
	CU_ASSERT_EQUAL(b.calls, 2 * NB);
	for (int i = 0; i < NB; i++) {
		CU_ASSERT_EQUAL(nsd_pattern_check(bufs[i], LEN, base + (uint64_t)i * LEN, 11), -1);
		free(bufs[i]);
	}
	s2 = srv_stats(2);
	CU_ASSERT(s2.refused_busy > 0);
	CU_ASSERT_EQUAL(s2.peak_in_service, 1);
	CU_ASSERT_EQUAL(s2.requests, 2 * NB);
	CU_ASSERT_EQUAL(srv_stats(3).requests, 0);	/* busy is retried, not failed over */
	CU_ASSERT(entry_stats(N[1].tab, ID_A, NULL, NULL).retries > 0);
	batch_fini(&b);
	free(ios);
	cluster_down();
}

struct killer {
	struct batch *b;
	int after;
	bool done;
};

static void *kill_primary(void *arg)
{
	struct killer *k = arg;

	pthread_mutex_lock(&k->b->mu);
	while (k->b->done < k->after)
		pthread_cond_wait(&k->b->cv, &k->b->mu);
	pthread_mutex_unlock(&k->b->mu);
	nsd_server_stop(N[2].srv);
	net_destroy(N[2].net);
	k->done = true;
	return NULL;
}

static void test_served_failover_stream(void)
{
	enum { NW = 240, LEN = 65536, DEPTH = 8 };
	struct nsd_io *ios = calloc(NW, sizeof(*ios));
	void **bufs = calloc(NW, sizeof(*bufs));
	struct batch b;
	struct killer k;
	pthread_t thr;
	uint64_t base = 24 * MIB;
	struct nsd_server_stats s3;
	struct nsd_entry_stats st;
	int bad = 0;

	UP(0);
	CU_ASSERT_FATAL(ios && bufs);
	batch_init(&b);
	k = (struct killer){.b = &b, .after = 60};
	CU_ASSERT_EQUAL_FATAL(pthread_create(&thr, NULL, kill_primary, &k), 0);
	for (int i = 0; i < NW; i++) {
		bufs[i] = nsd_io_buf_alloc(LEN);
		CU_ASSERT_FATAL(bufs[i] != NULL);
		nsd_pattern_fill(bufs[i], LEN, base + (uint64_t)i * LEN, 13);
		if (!batch_wait(&b, DEPTH - 1, 15000)) {
			CU_FAIL("stream stalled");
			break;
		}
		batch_submit_one(N[1].cli, &b, &ios[i], ID_A, NSD_WRITE, base + (uint64_t)i * LEN,
				 bufs[i], LEN);
	}
	CU_ASSERT_TRUE(batch_wait(&b, 0, 15000));
	pthread_join(thr, NULL);
	CU_ASSERT_TRUE(k.done);
	CU_ASSERT_EQUAL(b.errs, 0);
	if (b.errs)
		fprintf(stderr, "\n    %d errors, first: %s\n", b.errs, b.first_err);
	CU_ASSERT_EQUAL(b.calls, NW);
	N[2].net = NULL;	/* destroyed by the killer; the server and table remain */
	s3 = srv_stats(3);
	st = entry_stats(N[1].tab, ID_A, NULL, NULL);
	CU_ASSERT(s3.requests > 0);
	CU_ASSERT(srv_stats(2).requests >= 60);
	CU_ASSERT(st.failovers >= 1);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(st.last_server, 3);
	/* every write landed, whoever served it */
	for (int i = 0; i < NW; i++) {
		if (bufs[i] && read_check(N[1].cli, ID_A, base + (uint64_t)i * LEN, LEN, 13) != -1)
			bad++;
		free(bufs[i]);
	}
	CU_ASSERT_EQUAL(bad, 0);
	batch_fini(&b);
	free(bufs);
	free(ios);
	/* server 2's net is gone: finish its teardown by hand */
	nsd_server_destroy(N[2].srv);
	nsd_table_destroy(N[2].tab);
	N[2].srv = NULL;
	N[2].tab = NULL;
	cluster_down();
}

static void test_served_all_down(void)
{
	uint8_t *buf = nsd_io_buf_alloc(8192);
	char err[768] = "";
	int rc;

	UP(0);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, 9 * MIB, 8192, 1, err, sizeof(err)), MM_OK);
	stop_server(2);
	stop_server(3);
	rc = nsd_client_read(N[1].cli, ID_A, 9 * MIB, buf, 8192, err, sizeof(err));
	CU_ASSERT(rc == MM_EUNREACH || rc == MM_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "sectors 18432-18447"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 3:"));
	if (!strstr(err, "node 3:"))
		fprintf(stderr, "\n    %s\n", err);
	/* down-listed servers are still tried when nothing else is left */
	rc = nsd_client_read(N[1].cli, ID_A, 9 * MIB, buf, 8192, err, sizeof(err));
	CU_ASSERT(rc == MM_EUNREACH || rc == MM_ECLOSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 3:"));
	CU_ASSERT_EQUAL(entry_stats(N[1].tab, ID_A, NULL, NULL).errors, 2);
	free(buf);
	cluster_down();
}

static void test_served_disk_error(void)
{
	struct nsd_disk_stats d2, d3;
	struct nsd_server_stats s2, s3;
	bool l2, l3;
	char err[768] = "";
	uint8_t *buf = nsd_io_buf_alloc(65536);
	uint64_t off = 10 * MIB;
	int rc;

	UP(.s3_sync = true);
	CU_ASSERT_FATAL(buf != NULL);
	/* which call path each server's disk takes */
	entry_stats(N[2].tab, ID_A, &d2, &l2);
	entry_stats(N[3].tab, ID_A, &d3, &l3);
	CU_ASSERT_TRUE_FATAL(l2 && l3);
	CU_ASSERT_TRUE(d2.aio);
	CU_ASSERT_FALSE(d3.aio);
	CU_ASSERT_EQUAL(write_verify(N[1].cli, ID_A, off, 65536, 21, err, sizeof(err)), MM_OK);

	/* io_submit fails: server 2 answers MM_EIO, node 3 serves */
	nsd_sys_fail(NSD_SYS_IO_SUBMIT, 1, EIO, true);
	rc = write_verify(N[1].cli, ID_A, off, 65536, 22, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_OK);
	if (rc)
		fprintf(stderr, "\n    %s\n", err);
	s2 = srv_stats(2);
	s3 = srv_stats(3);
	CU_ASSERT_EQUAL(s2.errors, 2);
	CU_ASSERT_EQUAL(s3.requests, 2);
	CU_ASSERT_EQUAL(entry_stats(N[1].tab, ID_A, NULL, NULL).failovers, 2);
	CU_ASSERT_EQUAL(entry_stats(N[1].tab, ID_A, NULL, NULL).errors, 0);

	/* pwrite fails as well: no path left, MM_EIO naming both servers */
	nsd_sys_fail(NSD_SYS_PWRITE, 1, EIO, true);
	nsd_pattern_fill(buf, 65536, off, 23);
	rc = nsd_client_write(N[1].cli, ID_A, off, buf, 65536, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NSD nsdA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "write of sectors 20480-20607"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "node 3:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "failed on the local disk"));
	/* reads fail too, and report it: never data */
	nsd_sys_fail(NSD_SYS_PREAD, 1, EIO, true);
	memset(buf, 0x5A, 65536);
	CU_ASSERT_EQUAL(nsd_client_read(N[1].cli, ID_A, off, buf, 65536, err, sizeof(err)), MM_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "read of sectors"));
	nsd_sys_reset();
	/* the failed write changed nothing: the last good data is there */
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, off, 65536, 22), -1);
	CU_ASSERT_EQUAL(entry_stats(N[1].tab, ID_A, NULL, NULL).errors, 2);
	free(buf);
	cluster_down();
}

/* Server 2 rescans (its disk retired and found again) while it serves a
 * stream: requests it cannot take move on to node 3, none fails, and the
 * data verifies. */
struct srv_churn {
	atomic_int stop;
	int ok, failed;
	char err[768];
};

static void *srv_churn_io(void *arg)
{
	struct srv_churn *ch = arg;
	char err[768];

	for (uint64_t i = 0; !atomic_load_explicit(&ch->stop, memory_order_seq_cst); i++) {
		uint64_t off = 14 * MIB + (i % 32) * 16384;

		if (write_verify(N[1].cli, ID_A, off, 16384, 70 + i, err, sizeof(err)) == MM_OK) {
			ch->ok++;
		} else if (!ch->failed++) {
			snprintf(ch->err, sizeof(ch->err), "%s", err);
		}
	}
	return NULL;
}

static void test_served_rescan(void)
{
	uint32_t srv[] = {2, 3};
	struct nsd_def on = mkdef("nsdA", ID_A, p_a, true, srv, 2);
	struct nsd_def off = mkdef("nsdA", ID_A, p_blank, true, srv, 2);
	struct srv_churn ch = {0};
	pthread_t thr;

	UP(0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&thr, NULL, srv_churn_io, &ch), 0);
	for (int i = 0; i < 12; i++) {
		mm_sleep_ms(15);
		nsd_table_update(N[2].tab, i % 2 ? &on : &off, 1, NULL, 0);
	}
	mm_sleep_ms(15);
	atomic_store_explicit(&ch.stop, 1, memory_order_seq_cst);
	pthread_join(thr, NULL);
	CU_ASSERT(ch.ok > 0);
	CU_ASSERT_EQUAL(ch.failed, 0);
	if (ch.failed)
		fprintf(stderr, "\n    %d failed, first: %s\n", ch.failed, ch.err);
	/* node 2 did turn requests away while its disk was retired */
	CU_ASSERT(srv_stats(2).refused_invalid > 0);
	CU_ASSERT(srv_stats(3).requests > 0);
	cluster_down();
}

/* A local disk error on a node that is also a client: the request moves on
 * to a server. */
static void test_local_error_failover(void)
{
	struct nsd_client_config cc = {.my_node = 2, .may_io = test_may_io, .timeout_ms = 5000};
	struct nsd_entry_stats st;
	nsd_client *c2 = NULL;
	char err[768] = "";
	int rc;

	UP(.s3_sync = true);
	cc.net = N[2].net;
	cc.tab = N[2].tab;
	CU_ASSERT_EQUAL_FATAL(nsd_client_create(&cc, &c2), MM_OK);
	nsd_sys_fail(NSD_SYS_IO_SUBMIT, 1, EIO, true);
	rc = write_verify(c2, ID_A, 11 * MIB, 16384, 31, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, MM_OK);
	if (rc)
		fprintf(stderr, "\n    %s\n", err);
	st = entry_stats(N[2].tab, ID_A, NULL, NULL);
	CU_ASSERT_EQUAL(st.failovers, 2);
	CU_ASSERT_EQUAL(st.last_server, 3);
	CU_ASSERT_FALSE(st.last_local);
	CU_ASSERT_EQUAL(srv_stats(3).requests, 2);
	/* with no server left either: MM_EIO naming the local disk */
	nsd_client_set_policy(c2, NSD_PATH_NEVER);
	err[0] = '\0';
	CU_ASSERT_EQUAL(write_verify(c2, ID_A, 11 * MIB, 16384, 32, err, sizeof(err)), MM_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "local disk"));
	nsd_sys_reset();
	nsd_client_destroy(c2);
	CU_ASSERT_EQUAL(read_check(N[1].cli, ID_A, 11 * MIB, 16384, 31), -1);
	cluster_down();
}

/* ======================================================================== */

static void register_tests(void)
{
	static const struct mm_test proto[] = {
		{"request round trip", test_proto_roundtrip},
		{"malformed requests", test_proto_malformed},
		{"read replies", test_proto_reply},
	};
	static const struct mm_test pattern[] = {
		{"fill and check", test_pattern},
	};
	static const struct mm_test table[] = {
		{"discovery by id", test_table_discovery},
		{"scan list", test_table_scan_list},
		{"rescan", test_table_rescan},
		{"rescan under load", test_table_churn},
	};
	static const struct mm_test local[] = {
		{"write and read back", test_local_rw},
		{"invalid requests", test_local_invalid},
		{"no lease", test_local_nolease},
		{"path policy", test_policy},
	};
	static const struct mm_test served[] = {
		{"write and read back", test_served_rw},
		{"NSD unknown to the servers", test_served_unknown},
		{"a server refreshes for an NSD it does not know", test_served_refresh},
		{"never and always", test_served_policy},
		{"checksums", test_served_checksum},
		{"fenced requester", test_served_fenced},
		{"server without lease", test_served_nolease},
		{"epoch change while busy", test_served_epoch_change},
		{"admission bound", test_served_busy},
		{"failover of a stream", test_served_failover_stream},
		{"all servers gone", test_served_all_down},
		{"disk errors on servers", test_served_disk_error},
		{"server rescan under load", test_served_rescan},
		{"local disk error", test_local_error_failover},
	};
	CU_pSuite s;

	mm_log_set_level(getenv("MMFS_TEST_VERBOSE") ? MM_LOG_DEBUG : MM_LOG_FATAL);
	make_disks();
	MM_ADD_SUITE("nsd proto", proto);
	MM_ADD_SUITE("nsd pattern", pattern);
	MM_ADD_SUITE("nsd table", table);
	s = CU_add_suite("nsd client local", local_init, local_clean);
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		CU_add_test(s, local[i].name, local[i].fn);
	MM_ADD_SUITE("nsd served", served);
}

MM_CUNIT_MAIN(register_tests)
