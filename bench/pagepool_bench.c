/*
 * bench/pagepool_bench.c - the block cache (pagepool/pagepool.h) over four
 * file-backed NSDs reached through the NSD client's local path
 * (pagepool/nsdio.h, nsd/client.h with net NULL).
 *
 *   pagepool_bench label -D DIR [-n N] [-S SIZE]
 *        create DIR/nsd0 .. nsd{N-1} (fallocate SIZE each, default 4 x
 *        1 GiB) if missing, write a distinct NSD descriptor on each, open
 *        each as an NSD disk and print "direct=0|1 sector=N size=N" (the
 *        least capable of the disks: direct=0 if any refused O_DIRECT)
 *   pagepool_bench run -D DIR -m TEST [-n N] [-P POOL] [-F FILESIZE]
 *        [-T PREFETCH_THREADS] [-W WRITERS] [-i INO] [-r ROUNDS]
 *        one measured test over a pool of POOL bytes (default 256 MiB);
 *        -T and -W set the pool's prefetch and write-behind threads (0:
 *        the pool's defaults, 4 and 2)
 *
 * The fake file system (fs 1, block size 1 MiB): block b of any inode
 * lives on NSD b % N at byte offset 1 MiB + (b / N) MiB (one replica); the
 * inode only names the cache entries, so different inodes alias the same
 * disk blocks. The file is FILESIZE bytes (default: 2 GiB, bounded by the
 * disks); every test starts with pp_drop_fs, so reads are cold (the disks
 * are O_DIRECT: no page cache underneath).
 *
 * TEST:
 *   seqread      64 KiB pieces in order through a pp_stream
 *                (pp_stream_get, memcpy out to a 64 KiB user buffer,
 *                pp_release)
 *   seqread-np   the same with plain pp_get (no prefetch)
 *   strided      64 KiB at the start of every 1 MiB, through a stream
 *   strided-np   the same with plain pp_get
 *   seqwrite     64 KiB pieces in order: pp_get(PP_OVERWRITE), memcpy in
 *                (pattern data), pp_mark_dirty, pp_release; FILESIZE bytes
 *                (default 4x the pool); timed up to the end of pp_flush.
 *                Then, untimed: drop the pool, read the first 32 MiB back
 *                through pp_get and compare (verify=ok|FAILED)
 *   reread       a FILESIZE (default pool/2) file read once through a
 *                stream (untimed), then again 8 times (timed, each pass a
 *                new stream): GiB/s; -r ROUNDS such windows (default 3),
 *                the best is reported
 *   memcpy       the baseline of reread: 8 x FILESIZE bytes copied in
 *                64 KiB pieces from a source buffer to a 64 KiB destination
 *                (what reread's copy-out does), best of ROUNDS windows
 *   strided and strided-np make ROUNDS cold passes over the whole file
 *   (default: all the disks hold), pool dropped before each (untimed)
 *
 * Output: one line "pagepool_bench: key=value ..." with test, bytes,
 * seconds, mbps (10^6 bytes/s), gibps, cpu_s (process CPU over the timed
 * part), cpu_s_gib, the pool's counters over the test (reads, read_bytes,
 * writes, write_bytes, hits, misses, evictions, throttle_waits,
 * prefetch_issued/used/wasted, reader_waits) and for streams the final
 * pattern and depth. Exit status 0 only if every call succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "nsd/client.h"
#include "nsd/desc.h"
#include "nsd/disk.h"
#include "nsd/label.h"
#include "nsd/pattern.h"
#include "nsd/table.h"
#include "pagepool/nsdio.h"
#include "pagepool/pagepool.h"
#include "bench/benchkit.h"

#define CLUSTER_ID 0x00BE4C4A0015F00Dull
#define NSD_ID0 0x4E5344B3AC410000ull
#define MAX_NSD 16
#define MY_NODE 2
#define FS_ID 1
#define BSIZE (1u << 20)
#define PIECE (64u << 10)
#define DATA_START ((uint64_t)NSD_RESERVED_BYTES)
#define SRC_BYTES (8u << 20)	/* seqwrite source: pattern, repeated */
#define SRC_SEED 0x9A6Eull
#define VERIFY_BYTES (32u << 20)
#define PASSES 8		/* reread, memcpy: passes per timed window */

static struct opts {
	const char *dir, *test;
	int n;
	uint64_t disk_size, pool, fsize;
	unsigned pf_threads, writers;
	uint64_t ino;
	int rounds;
} o;

static uint64_t disk_blocks;	/* data blocks per NSD */

static void usage(void)
{
	fprintf(stderr,
		"usage: pagepool_bench label -D DIR [-n N] [-S SIZE]\n"
		"       pagepool_bench run -D DIR -m seqread|seqread-np|strided|strided-np|seqwrite|reread|memcpy\n"
		"                 [-n N] [-P POOL] [-F FILESIZE] [-T PREFETCH_THREADS] [-W WRITERS] [-i INO] [-r ROUNDS]\n");
	exit(2);
}

static void disk_path(int i, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/nsd%d", o.dir, i);
}

/* ---- label -------------------------------------------------------------- */

static int cmd_label(void)
{
	bool direct = true;
	unsigned sector = 0;
	uint64_t size = UINT64_MAX;

	for (int i = 0; i < o.n; i++) {
		struct nsd_desc d = {0};
		char path[1100], err[512];
		struct stat st;
		nsd_disk *disk;
		int fd, rc;

		disk_path(i, path, sizeof(path));
		if (stat(path, &st) != 0) {
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
			if (fd < 0)
				bench_die(path, 0, NULL);
			if (posix_fallocate(fd, 0, (off_t)o.disk_size) != 0 &&
			    ftruncate(fd, (off_t)o.disk_size) != 0)
				bench_die("fallocate/ftruncate", 0, path);
			close(fd);
		}
		rc = nsd_label_size(path, &d.disk_size, err, sizeof(err));
		if (rc)
			bench_die("size", rc, err);
		d.version = NSD_DESC_VERSION;
		d.nsd_id = NSD_ID0 + (uint64_t)i;
		d.cluster_id = CLUSTER_ID;
		snprintf(d.name, sizeof(d.name), "ppbench%d", i);
		d.created = (uint64_t)time(NULL);
		d.sector_size = 512;
		d.reserved_size = NSD_RESERVED_BYTES;
		rc = nsd_label_write(path, &d, err, sizeof(err));
		if (rc)
			bench_die("nsd_label_write", rc, err);
		rc = nsd_disk_open(path, NULL, &disk);
		if (rc)
			bench_die("nsd_disk_open", rc, path);
		direct = direct && nsd_disk_direct(disk);
		if (nsd_disk_sector_size(disk) > sector)
			sector = nsd_disk_sector_size(disk);
		if (nsd_disk_size(disk) < size)
			size = nsd_disk_size(disk);
		nsd_disk_close(disk);
	}
	printf("direct=%d sector=%u size=%" PRIu64 "\n", direct ? 1 : 0, sector, size);
	return 0;
}

/* ---- the NSDs and the file system --------------------------------------- */

static nsd_table *table_make(bool *direct)
{
	struct nsd_table_config tc = {.cluster_id = CLUSTER_ID};
	struct nsd_def *defs = calloc((size_t)o.n, sizeof(*defs));
	nsd_table *t;
	int rc;

	if (!defs)
		bench_die("calloc", MM_ENOMEM, NULL);
	for (int i = 0; i < o.n; i++) {
		snprintf(defs[i].rec.name, sizeof(defs[i].rec.name), "ppbench%d", i);
		defs[i].rec.id = NSD_ID0 + (uint64_t)i;
		disk_path(i, defs[i].rec.device, sizeof(defs[i].rec.device));
		defs[i].servers[0] = MY_NODE;
		defs[i].nservers = 1;
		defs[i].scan_device = true;
	}
	rc = nsd_table_create(&tc, &t);
	if (rc)
		bench_die("nsd_table_create", rc, NULL);
	rc = nsd_table_update(t, defs, (size_t)o.n, NULL, 0);
	if (rc < 0)
		bench_die("nsd_table_update", rc, NULL);
	if (rc != o.n)
		bench_die("NSDs not all found locally", MM_ENOENT, o.dir);
	*direct = true;
	for (int i = 0; i < o.n; i++) {
		nsd_entry *e = nsd_table_get(t, NSD_ID0 + (uint64_t)i);
		struct nsd_entry_stats st;
		struct nsd_disk_stats ds = {0};
		bool has = false;

		if (!e)
			bench_die("nsd_table_get", MM_ENOENT, NULL);
		nsd_entry_stats(e, &st, &ds, &has);
		nsd_entry_put(e);
		*direct = *direct && has && ds.direct;
	}
	free(defs);
	return t;
}

static int fs_map(void *arg, const struct pp_tag *t, struct pp_map *out)
{
	(void)arg;
	if (t->blk / (uint64_t)o.n >= disk_blocks)
		return MM_ENOENT;
	out->nrep = 1;
	out->rep[0].nsd_id = NSD_ID0 + t->blk % (uint64_t)o.n;
	out->rep[0].offset = DATA_START + t->blk / (uint64_t)o.n * BSIZE;
	return MM_OK;
}

static int fs_log_force(void *arg, uint64_t lsn)
{
	(void)arg;
	(void)lsn;
	return MM_OK;
}

/* ---- tests ---------------------------------------------------------------- */

static pp_pool *pool;
static struct pp_stats st0, st1;
static double t_sec, cpu_s;
static uint64_t moved;
static struct pp_stream_info sinfo;
static bool have_sinfo;
static const char *verdict = "-";

static void window_start(uint64_t *t0, double *c0)
{
	pp_get_stats(pool, &st0);
	*c0 = bench_cpu_secs(0);
	*t0 = mm_now_ns();
}

static void window_end(uint64_t t0, double c0)
{
	t_sec = (double)(mm_now_ns() - t0) / 1e9;
	cpu_s = bench_cpu_secs(0) - c0;
	pp_get_stats(pool, &st1);
}

/* Read [0, size) of <ino> in PIECE pieces every <step> bytes. */
static int read_pass(uint64_t ino, uint64_t size, uint64_t step, bool stream, uint8_t *dst)
{
	pp_stream *s = NULL;
	int rc;

	if (stream) {
		rc = pp_stream_open(pool, FS_ID, ino, size, &s);
		if (rc)
			bench_die("pp_stream_open", rc, NULL);
	}
	for (uint64_t pos = 0; pos + PIECE <= size; pos += step) {
		struct pp_tag t = {FS_ID, ino, pos / BSIZE};
		uint32_t off = (uint32_t)(pos % BSIZE);
		pp_buf *b;
		void *data;

		rc = stream ? pp_stream_get(s, t.blk, off, PIECE, &b, &data)
			    : pp_get(pool, &t, off, PIECE, PP_READ, &b, &data);
		if (rc) {
			fprintf(stderr, "pagepool_bench: read of block %" PRIu64 ": %s\n", t.blk,
				mm_strerror(rc));
			if (s)
				pp_stream_close(s);
			return rc;
		}
		memcpy(dst, (uint8_t *)data + off, PIECE);
		pp_release(b);
		moved += PIECE;
	}
	if (s) {
		pp_stream_get_info(s, &sinfo);
		have_sinfo = true;
		pp_stream_close(s);
	}
	return 0;
}

/* <passes> cold passes (the pool dropped before each, untimed). */
static int test_read(bool stream, uint64_t step, int passes)
{
	uint8_t *dst = nsd_io_buf_alloc(PIECE);
	double ts = 0, cs = 0;
	int rc = 0;

	if (!dst)
		bench_die("malloc", MM_ENOMEM, NULL);
	for (int i = 0; i < passes && !rc; i++) {
		struct pp_stats a;
		uint64_t t0;
		double c0;

		pp_drop_fs(pool, FS_ID);
		window_start(&t0, &c0);
		if (i == 0)
			a = st0;
		rc = read_pass(o.ino + (uint64_t)i, o.fsize, step, stream, dst);
		window_end(t0, c0);
		ts += t_sec;
		cs += cpu_s;
		st0 = a;
	}
	t_sec = ts;
	cpu_s = cs;
	free(dst);
	return rc;
}

static double flush_s = -1;
static uint64_t dirty_at_flush;

static uint64_t ld_dirty(void)
{
	struct pp_stats st;

	pp_get_stats(pool, &st);
	return st.dirty_bytes;
}

static int test_seqwrite(void)
{
	uint64_t t_fl;
	uint8_t *src = nsd_io_buf_alloc(SRC_BYTES), *chk = nsd_io_buf_alloc(PIECE);
	uint64_t t0;
	double c0;
	int rc = 0, frc;

	if (!src || !chk)
		bench_die("malloc", MM_ENOMEM, NULL);
	nsd_pattern_fill(src, SRC_BYTES, 0, SRC_SEED);
	pp_drop_fs(pool, FS_ID);
	window_start(&t0, &c0);
	for (uint64_t pos = 0; pos + PIECE <= o.fsize; pos += PIECE) {
		struct pp_tag t = {FS_ID, o.ino, pos / BSIZE};
		uint32_t off = (uint32_t)(pos % BSIZE);
		pp_buf *b;
		void *data;

		rc = pp_get(pool, &t, off, PIECE, PP_OVERWRITE, &b, &data);
		if (rc) {
			fprintf(stderr, "pagepool_bench: pp_get(OVERWRITE) of block %" PRIu64 ": %s\n",
				t.blk, mm_strerror(rc));
			break;
		}
		memcpy((uint8_t *)data + off, src + pos % SRC_BYTES, PIECE);
		pp_mark_dirty(b, off, PIECE, 0);
		pp_release(b);
		moved += PIECE;
	}
	t_fl = mm_now_ns();
	dirty_at_flush = ld_dirty();
	frc = pp_flush(pool, FS_ID, o.ino, 0, UINT64_MAX);
	window_end(t0, c0);
	flush_s = (double)(mm_now_ns() - t_fl) / 1e9;
	if (frc) {
		fprintf(stderr, "pagepool_bench: pp_flush: %s\n", mm_strerror(frc));
		rc = rc ? rc : frc;
	}
	if (rc)
		return rc;
	/* untimed: read the start back from the disks through a cold pool */
	pp_drop_fs(pool, FS_ID);
	verdict = "ok";
	for (uint64_t pos = 0; pos + PIECE <= VERIFY_BYTES && pos < o.fsize; pos += PIECE) {
		struct pp_tag t = {FS_ID, o.ino + 1, pos / BSIZE};
		uint32_t off = (uint32_t)(pos % BSIZE);
		pp_buf *b;
		void *data;

		rc = pp_get(pool, &t, off, PIECE, PP_READ, &b, &data);
		if (rc) {
			verdict = "FAILED";
			fprintf(stderr, "pagepool_bench: verify read of block %" PRIu64 ": %s\n", t.blk,
				mm_strerror(rc));
			break;
		}
		memcpy(chk, (uint8_t *)data + off, PIECE);
		pp_release(b);
		if (memcmp(chk, src + pos % SRC_BYTES, PIECE) != 0) {
			verdict = "FAILED";
			fprintf(stderr, "pagepool_bench: data read back differs at file offset %" PRIu64
				"\n", pos);
			rc = MM_EIO;
			break;
		}
	}
	free(src);
	free(chk);
	return rc;
}

static int test_reread(void)
{
	uint8_t *dst = nsd_io_buf_alloc(PIECE);
	double best = 0, bc = 0;
	int rc;

	if (!dst)
		bench_die("malloc", MM_ENOMEM, NULL);
	pp_drop_fs(pool, FS_ID);
	rc = read_pass(o.ino, o.fsize, PIECE, true, dst);	/* loads the cache */
	for (int r = 0; !rc && r < o.rounds; r++) {
		uint64_t t0;
		double c0;

		moved = 0;
		window_start(&t0, &c0);
		for (int k = 0; k < PASSES && !rc; k++)
			rc = read_pass(o.ino, o.fsize, PIECE, true, dst);
		window_end(t0, c0);
		if (best == 0 || t_sec < best) {
			best = t_sec;
			bc = cpu_s;
		}
	}
	t_sec = best;
	cpu_s = bc;
	free(dst);
	return rc;
}

static int test_memcpy(void)
{
	uint8_t *src = nsd_io_buf_alloc(o.fsize), *dst = nsd_io_buf_alloc(PIECE);
	double best = 0, bc = 0;

	if (!src || !dst)
		bench_die("malloc", MM_ENOMEM, NULL);
	memset(src, 0x5A, o.fsize);	/* fault it in */
	memset(dst, 0, PIECE);
	for (int r = 0; r < o.rounds + 1; r++) {	/* the first pass warms up */
		uint64_t t0 = mm_now_ns();
		double c0 = bench_cpu_secs(0), el;

		for (int k = 0; k < PASSES; k++)
			for (uint64_t pos = 0; pos + PIECE <= o.fsize; pos += PIECE) {
				memcpy(dst, src + pos, PIECE);
				__asm__ volatile("" : : "r"(dst) : "memory");
			}
		el = (double)(mm_now_ns() - t0) / 1e9;
		if (r > 0 && (best == 0 || el < best)) {
			best = el;
			bc = bench_cpu_secs(0) - c0;
		}
	}
	moved = o.fsize / PIECE * PIECE * PASSES;
	t_sec = best;
	cpu_s = bc;
	free(src);
	free(dst);
	return 0;
}

static int cmd_run(void)
{
	struct pp_config pc = {0};
	struct nsd_client_config cc = {0};
	struct pp_fs_ops ops = {.map = fs_map, .log_force = fs_log_force};
	uint64_t dsize = UINT64_MAX, max_file;
	nsd_client *cli = NULL;
	nsd_table *t = NULL;
	bool direct = false, is_memcpy;
	double gib;
	int rc;

	if (!o.test)
		usage();
	is_memcpy = !strcmp(o.test, "memcpy");
	if (!is_memcpy && !o.dir)
		usage();
	for (int i = 0; i < o.n && !is_memcpy; i++) {
		char path[1100], err[512];
		uint64_t sz;

		disk_path(i, path, sizeof(path));
		rc = nsd_label_size(path, &sz, err, sizeof(err));
		if (rc)
			bench_die("size", rc, err);
		if (sz < dsize)
			dsize = sz;
	}
	disk_blocks = dsize > DATA_START ? (dsize - DATA_START) / BSIZE : 0;
	max_file = disk_blocks * (uint64_t)o.n * BSIZE;
	if (!o.fsize) {
		if (!strcmp(o.test, "seqwrite"))
			o.fsize = 4 * o.pool;
		else if (!strcmp(o.test, "reread") || is_memcpy)
			o.fsize = o.pool / 2;
		else if (!strncmp(o.test, "strided", 7))
			o.fsize = UINT64_MAX;	/* all the disks hold */
		else
			o.fsize = 2ull << 30;
	}
	if (!is_memcpy && o.fsize > max_file)
		o.fsize = max_file;
	if (o.fsize < PIECE)
		bench_die("file size", MM_EINVAL, "smaller than 64 KiB");

	if (is_memcpy) {
		rc = test_memcpy();
	} else {
		t = table_make(&direct);
		cc.net = NULL;
		cc.tab = t;
		cc.my_node = MY_NODE;
		cc.policy = NSD_PATH_ASNEEDED;
		rc = nsd_client_create(&cc, &cli);
		if (rc)
			bench_die("nsd_client_create", rc, NULL);
		pc.size = o.pool;
		pc.prefetch_threads = o.pf_threads;
		pc.writers = o.writers;
		pc.lock_memory = false;
		pp_nsd_backend(&pc, cli);
		rc = pp_pool_create(&pc, &pool);
		if (rc)
			bench_die("pp_pool_create", rc, NULL);
		rc = pp_fs_register(pool, FS_ID, BSIZE, &ops, NULL);
		if (rc)
			bench_die("pp_fs_register", rc, NULL);
		/* the pool's memory is mmap'ed lazily: touch it once, untimed, as a
		 * long-running mmfsd would have */
		{
			uint8_t *dst = nsd_io_buf_alloc(PIECE);
			uint64_t warm = o.pool < max_file ? o.pool : max_file;

			rc = read_pass(0xFFFF0000ull, warm, PIECE, true, dst);
			free(dst);
			moved = 0;
			have_sinfo = false;
			if (rc)
				bench_die("warm-up read", rc, NULL);
		}
		if (!strcmp(o.test, "seqread"))
			rc = test_read(true, PIECE, 1);
		else if (!strcmp(o.test, "seqread-np"))
			rc = test_read(false, PIECE, 1);
		else if (!strcmp(o.test, "strided"))
			rc = test_read(true, BSIZE, o.rounds);
		else if (!strcmp(o.test, "strided-np"))
			rc = test_read(false, BSIZE, o.rounds);
		else if (!strcmp(o.test, "seqwrite"))
			rc = test_seqwrite();
		else if (!strcmp(o.test, "reread"))
			rc = test_reread();
		else
			usage();
	}

	gib = (double)moved / (double)(1u << 30);
	printf("pagepool_bench: test=%s pool=%" PRIu64 " file=%" PRIu64 " nsds=%d pf_threads=%u"
	       " writers=%u bytes=%" PRIu64 " seconds=%.3f mbps=%.1f gibps=%.3f cpu_s=%.3f cpu_s_gib=%.3f"
	       " direct=%d",
	       o.test, o.pool, o.fsize, o.n, st1.prefetch_threads, st1.writers, moved, t_sec,
	       t_sec > 0 ? (double)moved / t_sec / 1e6 : 0.0, t_sec > 0 ? gib / t_sec : 0.0,
	       cpu_s, gib > 0 ? cpu_s / gib : 0.0, direct ? 1 : 0);
	if (!is_memcpy)
		printf(" reads=%" PRIu64 " read_bytes=%" PRIu64 " writes=%" PRIu64
		       " write_bytes=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64
		       " evictions=%" PRIu64 " throttle_waits=%" PRIu64 " pf_issued=%" PRIu64
		       " pf_used=%" PRIu64 " pf_wasted=%" PRIu64 " reader_waits=%" PRIu64,
		       st1.reads - st0.reads, st1.read_bytes - st0.read_bytes,
		       st1.writes - st0.writes, st1.write_bytes - st0.write_bytes,
		       st1.hits - st0.hits, st1.misses - st0.misses,
		       st1.evictions - st0.evictions, st1.throttle_waits - st0.throttle_waits,
		       st1.prefetch_issued - st0.prefetch_issued,
		       st1.prefetch_used - st0.prefetch_used,
		       st1.prefetch_wasted - st0.prefetch_wasted,
		       st1.reader_waits - st0.reader_waits);
	if (flush_s >= 0)
		printf(" flush_s=%.3f dirty_at_flush=%" PRIu64, flush_s, dirty_at_flush);
	if (have_sinfo)
		printf(" pattern=%d depth=%u s_waits=%" PRIu64, (int)sinfo.pattern, sinfo.depth,
		       sinfo.waits);
	printf(" verify=%s rc=%d\n", verdict, rc);
	fflush(stdout);
	if (pool) {
		pp_fs_unregister(pool, FS_ID);
		pp_pool_destroy(pool);
	}
	if (cli)
		nsd_client_destroy(cli);
	if (t)
		nsd_table_destroy(t);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int opt;

	if (argc < 2)
		usage();
	cmd = argv[1];
	o.n = 4;
	o.disk_size = 1ull << 30;
	o.pool = 256ull << 20;
	o.ino = 100;
	o.rounds = 3;
	optind = 2;
	while ((opt = getopt(argc, argv, "D:n:S:m:P:F:T:W:i:r:")) != -1) {
		uint64_t v;

		switch (opt) {
		case 'D': o.dir = optarg; break;
		case 'n':
			o.n = atoi(optarg);
			if (o.n < 1 || o.n > MAX_NSD)
				usage();
			break;
		case 'S':
			if (mm_parse_size(optarg, &v) || v <= DATA_START + BSIZE)
				usage();
			o.disk_size = v;
			break;
		case 'm': o.test = optarg; break;
		case 'P':
			if (mm_parse_size(optarg, &v) || v < (4u << 20))
				usage();
			o.pool = v;
			break;
		case 'F':
			if (mm_parse_size(optarg, &v))
				usage();
			o.fsize = v;
			break;
		case 'T': o.pf_threads = (unsigned)atoi(optarg); break;
		case 'W': o.writers = (unsigned)atoi(optarg); break;
		case 'i': o.ino = strtoull(optarg, NULL, 0); break;
		case 'r':
			o.rounds = atoi(optarg);
			if (o.rounds < 1)
				usage();
			break;
		default: usage();
		}
	}
	mm_log_set_level(MM_LOG_WARN);
	if (!strcmp(cmd, "label"))
		return cmd_label();
	if (!strcmp(cmd, "run"))
		return cmd_run();
	usage();
	return 2;
}
