/*
 * bench/nsd_bench.c - NSD I/O throughput through the NSD client (nsd/client.h),
 * on the local path or through an NSD server in another process.
 *
 *   nsd_bench label -f FILE [-S SIZE]
 *        create FILE (fallocate SIZE, default 2 GiB) if it is missing, write
 *        the benchmark's NSD descriptor, open it as an NSD disk and print
 *        "direct=0|1 sector=N size=N" (direct=0: the file system refused
 *        O_DIRECT and nsd/disk.c runs buffered with fdatasync)
 *   nsd_bench keys -k DIR [-a IP1] [-b IP2]
 *        a throwaway cluster CA and node certificates node1.{key,crt} (IP1)
 *        and node2.{key,crt} (IP2) in DIR
 *   nsd_bench local -f FILE -m MODE [io options]
 *        nsd_client with net NULL whose table finds FILE locally
 *   nsd_bench serve -f FILE -k DIR [-b IP] -o PORTFILE
 *        node 2: net_ctx (AUTHONLY unless -c), NSD table with FILE local,
 *        nsd_server; writes its port to PORTFILE and serves until SIGTERM
 *        or SIGINT, then prints its statistics on stderr
 *   nsd_bench client -k DIR [-a IP] [-b IP] -P PORT [-p SERVER_PID] -m MODE
 *        [-C] [io options]
 *        node 1: net_ctx, NSD table that knows the NSD only through server
 *        node 2 (useNSDserver always); -C turns nsdChecksum on. With -p the
 *        server's CPU time is read from /proc/PID/stat around the window.
 *
 * MODE: seqwrite, seqread (SIZE-byte requests walking the region in
 * order, wrapping) or randread (uniformly random SIZE-aligned offsets).
 * io options: -s SIZE (1 MiB; randread: 4 KiB), -d DEPTH (8; randread 16),
 * -t SECONDS measured (4), -w SECONDS warm-up (1), -r REGION bytes of the
 * disk used, from 1 MiB on (default: the rest of the disk), -c CIPHERLIST
 * (AUTHONLY), -I callback|main. DEPTH requests stay in flight: with
 * -I callback (the default) each completion callback submits the next
 * request (the issuer is the completing thread: the disk's completion
 * thread locally, net's I/O thread when served); with -I main the main
 * thread submits, waiting on a window semaphore the callbacks post (as
 * file system threads would: a write's checksum and copy then happen on
 * the submitting thread, not on net's I/O thread).
 *
 * Before the measurement local and client check the data path: 8 MiB
 * written with a verifiable pattern (nsd/pattern.h), read back and
 * checked (verify=ok in the output, else exit 1).
 *
 * Output (local, client): one line "nsd_bench: key=value ..." with test,
 * path, bs, depth, seconds, ios, bytes, iops, mbps (10^6 bytes/s), lat_us
 * (mean per request), cpu_client_s and cpu_server_s (CPU seconds in the
 * window), cpu_client_s_gib and cpu_server_s_gib (per GiB moved), direct,
 * checksum, verify, errors. Exit status 0 only if every request succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <semaphore.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "net/keys.h"
#include "net/net.h"
#include "nsd/client.h"
#include "nsd/desc.h"
#include "nsd/disk.h"
#include "nsd/label.h"
#include "nsd/pattern.h"
#include "nsd/server.h"
#include "nsd/table.h"
#include "bench/benchkit.h"

#define CLUSTER_ID 0x00BE4C4A0015F00Dull
#define NSD_ID 0x4E5344B3AC400001ull
#define NSD_NAME "benchnsd"
#define CLIENT_NODE 1
#define SERVER_NODE 2
#define DATA_START ((uint64_t)NSD_RESERVED_BYTES)
#define VERIFY_BYTES (8u << 20)
#define VERIFY_SEED 0xB3ACull

enum mode { M_SEQWRITE, M_SEQREAD, M_RANDREAD };

static struct opts {
	const char *file, *keydir, *portfile, *cipherlist;
	const char *client_ip, *server_ip;
	uint64_t file_size, region;
	enum mode mode;
	bool mode_set;
	size_t bs;
	int depth;
	double secs, warm;
	uint16_t port;
	pid_t server_pid;
	bool checksum;
	bool main_issuer;	/* -I main */
} o;

static void usage(void)
{
	fprintf(stderr,
		"usage: nsd_bench label -f FILE [-S SIZE]\n"
		"       nsd_bench keys -k DIR [-a IP1] [-b IP2]\n"
		"       nsd_bench local -f FILE -m seqwrite|seqread|randread [-s SIZE] [-d DEPTH]\n"
		"                 [-t SECS] [-w SECS] [-r REGION] [-I callback|main]\n"
		"       nsd_bench serve -f FILE -k DIR [-b IP] -o PORTFILE [-c CIPHERLIST]\n"
		"       nsd_bench client -k DIR [-a IP] [-b IP] -P PORT [-p PID] -m MODE [-C]\n"
		"                 [-c CIPHERLIST] [-s SIZE] [-d DEPTH] [-t SECS] [-w SECS] [-r REGION]\n"
		"                 [-I callback|main]\n");
	exit(2);
}

/* ---- NSD table -------------------------------------------------------- */

/* The one NSD of the benchmark, served by node 2. <device> NULL: this node
 * does not look for it locally. */
static nsd_table *table_make(const char *device)
{
	struct nsd_table_config tc = {.cluster_id = CLUSTER_ID};
	struct nsd_def def;
	nsd_table *t;
	int rc;

	memset(&def, 0, sizeof(def));
	snprintf(def.rec.name, sizeof(def.rec.name), "%s", NSD_NAME);
	def.rec.id = NSD_ID;
	if (device)
		snprintf(def.rec.device, sizeof(def.rec.device), "%s", device);
	def.servers[0] = SERVER_NODE;
	def.nservers = 1;
	def.scan_device = device != NULL;
	rc = nsd_table_create(&tc, &t);
	if (rc)
		bench_die("nsd_table_create", rc, NULL);
	rc = nsd_table_update(t, &def, 1, NULL, 0);
	if (rc < 0)
		bench_die("nsd_table_update", rc, NULL);
	if (device && rc != 1) {
		nsd_entry *e = nsd_table_get(t, NSD_ID);
		char status[600] = "?";

		if (e) {
			nsd_entry_status(e, status, sizeof(status));
			nsd_entry_put(e);
		}
		bench_die("NSD not found locally", MM_ENOENT, status);
	}
	return t;
}

static bool table_direct(nsd_table *t)
{
	nsd_entry *e = nsd_table_get(t, NSD_ID);
	struct nsd_entry_stats st;
	struct nsd_disk_stats ds = {0};
	bool has = false;

	if (!e)
		return false;
	nsd_entry_stats(e, &st, &ds, &has);
	nsd_entry_put(e);
	return has && ds.direct;
}

/* ---- label ------------------------------------------------------------ */

static int cmd_label(void)
{
	struct nsd_desc d = {0};
	struct stat st;
	char err[512];
	nsd_disk *disk;
	int fd, rc;

	if (!o.file)
		usage();
	if (stat(o.file, &st) != 0) {
		fd = open(o.file, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd < 0)
			bench_die(o.file, 0, NULL);
		if (posix_fallocate(fd, 0, (off_t)o.file_size) != 0 &&
		    ftruncate(fd, (off_t)o.file_size) != 0)
			bench_die("fallocate/ftruncate", 0, o.file);
		close(fd);
	}
	rc = nsd_label_size(o.file, &d.disk_size, err, sizeof(err));
	if (rc)
		bench_die("size", rc, err);
	d.version = NSD_DESC_VERSION;
	d.nsd_id = NSD_ID;
	d.cluster_id = CLUSTER_ID;
	snprintf(d.name, sizeof(d.name), "%s", NSD_NAME);
	d.created = (uint64_t)time(NULL);
	d.sector_size = 512;
	d.reserved_size = NSD_RESERVED_BYTES;
	rc = nsd_label_write(o.file, &d, err, sizeof(err));
	if (rc)
		bench_die("nsd_label_write", rc, err);
	rc = nsd_disk_open(o.file, NULL, &disk);
	if (rc)
		bench_die("nsd_disk_open", rc, o.file);
	printf("direct=%d sector=%u size=%" PRIu64 "\n", nsd_disk_direct(disk) ? 1 : 0,
	       nsd_disk_sector_size(disk), nsd_disk_size(disk));
	nsd_disk_close(disk);
	return 0;
}

/* ---- keys ------------------------------------------------------------- */

static void key_paths(int node, char *key, char *crt, size_t sz)
{
	snprintf(key, sz, "%s/node%d.key", o.keydir, node);
	snprintf(crt, sz, "%s/node%d.crt", o.keydir, node);
}

static int cmd_keys(void)
{
	char err[512], ca_key[1100], ca_crt[1100], key[1100], crt[1100];
	const char *ips[3] = {NULL, o.client_ip, o.server_ip};
	int rc;

	if (!o.keydir)
		usage();
	rc = net_keys_gen_cluster(o.keydir, "nsdbench", err, sizeof(err));
	if (rc)
		bench_die("cluster key", rc, err);
	snprintf(ca_key, sizeof(ca_key), "%s/cluster.key", o.keydir);
	snprintf(ca_crt, sizeof(ca_crt), "%s/cluster.crt", o.keydir);
	for (int n = 1; n <= 2; n++) {
		key_paths(n, key, crt, sizeof(key));
		rc = net_keys_issue_node(ca_key, ca_crt, ips[n], key, crt, err, sizeof(err));
		if (rc)
			bench_die("node certificate", rc, err);
	}
	return 0;
}

static net_ctx *ctx_make(uint32_t node, const char *ip)
{
	struct net_config cfg = {0};
	enum net_security sec;
	char ciphers[256], ca_crt[1100], key[1100], crt[1100];
	net_ctx *ctx;
	int rc;

	rc = net_parse_cipherlist(o.cipherlist, &sec, ciphers, sizeof(ciphers));
	if (rc)
		bench_die("cipherList", rc, o.cipherlist);
	snprintf(ca_crt, sizeof(ca_crt), "%s/cluster.crt", o.keydir);
	key_paths((int)node, key, crt, sizeof(key));
	/* like mmfsd: 1 I/O thread, 4 workers */
	cfg.node_id = node;
	cfg.cluster_id = CLUSTER_ID;
	cfg.listen_addr = ip;
	cfg.port = 0;
	cfg.io_threads = 1;
	cfg.worker_threads = 4;
	cfg.max_payload = 64u << 20;
	cfg.security = sec;
	cfg.ciphers = ciphers;
	cfg.ca_file = ca_crt;
	cfg.cert_file = crt;
	cfg.key_file = key;
	cfg.connect_timeout_ms = 5000;
	rc = net_create(&cfg, &ctx);
	if (rc)
		bench_die("net_create", rc, NULL);
	return ctx;
}

/* ---- serve ------------------------------------------------------------ */

static int cmd_serve(void)
{
	struct nsd_server_config sc = {0};
	struct nsd_server_stats st;
	sigset_t set;
	nsd_server *srv;
	nsd_table *t;
	net_ctx *ctx;
	char tmp[1100], buf[32];
	int sig, rc, fd, n;

	if (!o.file || !o.keydir || !o.portfile)
		usage();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* before any thread starts */

	t = table_make(o.file);
	ctx = ctx_make(SERVER_NODE, o.server_ip);
	sc.net = ctx;
	sc.tab = t;
	sc.name = "node 2 (nsdbench)";
	rc = nsd_server_create(&sc, &srv);
	if (rc)
		bench_die("nsd_server_create", rc, NULL);

	snprintf(tmp, sizeof(tmp), "%s.tmp", o.portfile);
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0)
		bench_die(tmp, 0, NULL);
	n = snprintf(buf, sizeof(buf), "%u direct=%d\n", net_listen_port(ctx),
		     table_direct(t) ? 1 : 0);
	if (write(fd, buf, (size_t)n) != n || close(fd) != 0 || rename(tmp, o.portfile) != 0)
		bench_die(o.portfile, 0, NULL);

	while (sigwait(&set, &sig) != 0)
		;
	nsd_server_stop(srv);
	nsd_server_get_stats(srv, &st);
	net_destroy(ctx);
	nsd_server_destroy(srv);
	nsd_table_destroy(t);
	fprintf(stderr, "nsd_bench serve: requests=%" PRIu64 " bytes_read=%" PRIu64
		" bytes_written=%" PRIu64 " busy=%" PRIu64 " invalid=%" PRIu64 " fenced=%" PRIu64
		" errors=%" PRIu64 " peak_in_service=%u\n", st.requests, st.bytes_read,
		st.bytes_written, st.refused_busy, st.refused_invalid, st.refused_fenced,
		st.errors, st.peak_in_service);
	return 0;
}

/* ---- the I/O loop ----------------------------------------------------- */

static nsd_client *cli;
static uint64_t nblocks;			/* bs-sized blocks in the region */
static _Atomic uint64_t next_blk;		/* sequential cursor */
static _Atomic uint64_t n_done, n_err, n_out;
static atomic_bool stopping;
static atomic_int first_err;
static char first_msg[768];
static sem_t window;				/* -I main: free slots */
static struct slot *free_slots[1024];	/* -I main: guarded by free_mu */
static int nfree;
static pthread_mutex_t free_mu = PTHREAD_MUTEX_INITIALIZER;

struct slot {
	struct nsd_io io;
	uint64_t rng;
};

static uint64_t next_offset(struct slot *s)
{
	uint64_t b;

	if (o.mode == M_RANDREAD) {
		/* xorshift64* */
		s->rng ^= s->rng >> 12;
		s->rng ^= s->rng << 25;
		s->rng ^= s->rng >> 27;
		b = (s->rng * 0x2545F4914F6CDD1Dull) % nblocks;
	} else {
		b = atomic_fetch_add_explicit(&next_blk, 1, memory_order_relaxed) % nblocks;
	}
	return DATA_START + b * o.bs;
}

static void io_done(struct nsd_io *io, int rc)
{
	struct slot *s = io->arg;

	if (rc) {
		int zero = 0;

		if (atomic_compare_exchange_strong_explicit(&first_err, &zero, rc,
							    memory_order_relaxed, memory_order_relaxed))
			snprintf(first_msg, sizeof(first_msg), "%s", io->err);
		atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&n_done, 1, memory_order_release);
	if (o.main_issuer) {
		pthread_mutex_lock(&free_mu);
		free_slots[nfree++] = s;
		pthread_mutex_unlock(&free_mu);
		sem_post(&window);
		return;
	}
	if (!atomic_load_explicit(&stopping, memory_order_acquire)) {
		io->offset = next_offset(s);
		rc = nsd_client_submit(cli, io);
		if (rc == MM_OK)
			return;
		atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
	}
	atomic_fetch_sub_explicit(&n_out, 1, memory_order_release);
}

/* Write VERIFY_BYTES of pattern at the region's start, read it back, check. */
static const char *verify(void)
{
	static char msg[1024];
	uint8_t *w = nsd_io_buf_alloc(VERIFY_BYTES), *r = nsd_io_buf_alloc(VERIFY_BYTES);
	int64_t bad;
	int rc;

	if (!w || !r)
		bench_die("malloc", MM_ENOMEM, NULL);
	nsd_pattern_fill(w, VERIFY_BYTES, DATA_START, VERIFY_SEED);
	memset(r, 0xA5, VERIFY_BYTES);
	for (uint64_t off = 0; off < VERIFY_BYTES; off += 1u << 20) {
		rc = nsd_client_write(cli, NSD_ID, DATA_START + off, w + off, 1u << 20, msg,
				      sizeof(msg));
		if (rc)
			return msg;
	}
	rc = nsd_client_read(cli, NSD_ID, DATA_START, r, VERIFY_BYTES, msg, sizeof(msg));
	if (rc)
		return msg;
	bad = nsd_pattern_check(r, VERIFY_BYTES, DATA_START, VERIFY_SEED);
	free(w);
	free(r);
	if (bad >= 0) {
		snprintf(msg, sizeof(msg), "data read back differs at offset %" PRId64, bad);
		return msg;
	}
	return NULL;
}

struct snap {
	uint64_t ns, done;
	double cpu_c, cpu_s;
};

static void snap_take(struct snap *s)
{
	s->ns = mm_now_ns();
	s->done = atomic_load_explicit(&n_done, memory_order_acquire);
	s->cpu_c = bench_cpu_secs(0);
	s->cpu_s = o.server_pid > 0 ? bench_cpu_secs(o.server_pid) : 0;
}

static const char *mode_name(enum mode m)
{
	return m == M_SEQWRITE ? "seqwrite" : m == M_SEQREAD ? "seqread" : "randread";
}

static int run_io(const char *path, bool direct)
{
	struct slot *slots = calloc((size_t)o.depth, sizeof(*slots));
	struct snap a, b;
	const char *vfail;
	uint64_t t0, ios, e;
	double el, gib;

	if (!slots)
		bench_die("calloc", MM_ENOMEM, NULL);
	vfail = verify();
	if (vfail) {
		fprintf(stderr, "nsd_bench: %s %s: verification failed: %s\n", path,
			mode_name(o.mode), vfail);
		return 1;
	}
	nblocks = o.region / o.bs;
	if (nblocks == 0)
		bench_die("region smaller than one request", MM_EINVAL, NULL);
	if (o.depth > (int)MM_ARRAY_SIZE(free_slots))
		bench_die("depth", MM_EINVAL, "at most 1024");
	sem_init(&window, 0, o.main_issuer ? (unsigned)o.depth : 0);
	t0 = mm_now_ns();
	atomic_store_explicit(&n_out, (uint64_t)o.depth, memory_order_release);
	for (int i = 0; i < o.depth; i++) {
		struct slot *s = &slots[i];
		int rc;

		s->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ t0;
		if (!s->rng)
			s->rng = 1;
		s->io.nsd_id = NSD_ID;
		s->io.op = o.mode == M_SEQWRITE ? NSD_WRITE : NSD_READ;
		s->io.len = o.bs;
		s->io.buf = nsd_io_buf_alloc(o.bs);
		if (!s->io.buf)
			bench_die("malloc", MM_ENOMEM, NULL);
		nsd_pattern_fill(s->io.buf, o.bs, (uint64_t)i * o.bs, 7);
		s->io.done = io_done;
		s->io.arg = s;
		if (o.main_issuer) {
			free_slots[nfree++] = s;
			continue;
		}
		s->io.offset = next_offset(s);
		rc = nsd_client_submit(cli, &s->io);
		if (rc) {
			fprintf(stderr, "nsd_bench: submit: %s\n", s->io.err);
			atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
			atomic_fetch_sub_explicit(&n_out, 1, memory_order_release);
		}
	}
	if (o.main_issuer) {
		/* this thread issues: it waits for a free slot, submits it */
		uint64_t t_meas = t0 + (uint64_t)(o.warm * 1e9), t_end = 0;
		bool meas = false;

		for (;;) {
			struct slot *s;
			uint64_t now;
			int rc;

			while (sem_wait(&window) < 0 && errno == EINTR)
				;
			now = mm_now_ns();
			if (!meas && now >= t_meas) {
				snap_take(&a);
				t_end = a.ns + (uint64_t)(o.secs * 1e9);
				meas = true;
			} else if (meas && now >= t_end) {
				snap_take(&b);
				sem_post(&window);
				break;
			}
			pthread_mutex_lock(&free_mu);
			s = free_slots[--nfree];
			pthread_mutex_unlock(&free_mu);
			s->io.offset = next_offset(s);
			rc = nsd_client_submit(cli, &s->io);
			if (rc) {
				atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
				pthread_mutex_lock(&free_mu);
				free_slots[nfree++] = s;
				pthread_mutex_unlock(&free_mu);
				sem_post(&window);
			}
		}
		for (int i = 0; i < o.depth; i++)	/* drain: every slot back */
			while (sem_wait(&window) < 0 && errno == EINTR)
				;
	} else {
		bench_sleep_until(t0 + (uint64_t)(o.warm * 1e9));
		snap_take(&a);
		bench_sleep_until(a.ns + (uint64_t)(o.secs * 1e9));
		snap_take(&b);
		atomic_store_explicit(&stopping, true, memory_order_release);
		while (atomic_load_explicit(&n_out, memory_order_acquire))
			mm_sleep_ms(1);
	}

	el = (double)(b.ns - a.ns) / 1e9;
	ios = b.done - a.done;
	gib = (double)ios * (double)o.bs / (double)(1u << 30);
	e = atomic_load_explicit(&n_err, memory_order_relaxed);
	printf("nsd_bench: test=%s path=%s issuer=%s bs=%zu depth=%d seconds=%.3f ios=%" PRIu64
	       " bytes=%" PRIu64 " iops=%.0f mbps=%.1f lat_us=%.1f cpu_client_s=%.3f"
	       " cpu_server_s=%.3f cpu_client_s_gib=%.3f cpu_server_s_gib=%.3f direct=%d"
	       " checksum=%d verify=ok errors=%" PRIu64 "\n",
	       mode_name(o.mode), path, o.main_issuer ? "main" : "callback", o.bs, o.depth, el, ios, ios * o.bs, (double)ios / el,
	       (double)ios * (double)o.bs / el / 1e6, ios ? el * 1e6 * o.depth / (double)ios : 0.0,
	       b.cpu_c - a.cpu_c, b.cpu_s - a.cpu_s, gib > 0 ? (b.cpu_c - a.cpu_c) / gib : 0.0,
	       gib > 0 && o.server_pid > 0 ? (b.cpu_s - a.cpu_s) / gib : 0.0, direct ? 1 : 0,
	       o.checksum ? 1 : 0, e);
	fflush(stdout);
	for (int i = 0; i < o.depth; i++)
		free(slots[i].io.buf);
	free(slots);
	if (e) {
		fprintf(stderr, "nsd_bench: %" PRIu64 " requests failed (first: %s: %s)\n", e,
			mm_strerror(atomic_load_explicit(&first_err, memory_order_relaxed)),
			first_msg);
		return 1;
	}
	return ios ? 0 : 1;
}

static uint64_t region_default(uint64_t disk_size)
{
	uint64_t r = disk_size > DATA_START ? disk_size - DATA_START : 0;

	return o.region && o.region < r ? o.region : r;
}

static int cmd_local(void)
{
	struct nsd_client_config cc = {0};
	nsd_table *t;
	uint64_t size;
	char err[512];
	int rc, ret;

	if (!o.file || !o.mode_set)
		usage();
	rc = nsd_label_size(o.file, &size, err, sizeof(err));
	if (rc)
		bench_die("size", rc, err);
	o.region = region_default(size);
	t = table_make(o.file);
	cc.net = NULL;
	cc.tab = t;
	cc.my_node = SERVER_NODE;	/* the node that has the disk */
	cc.may_io = NULL;
	cc.policy = NSD_PATH_ASNEEDED;
	rc = nsd_client_create(&cc, &cli);
	if (rc)
		bench_die("nsd_client_create", rc, NULL);
	ret = run_io("local", table_direct(t));
	nsd_client_destroy(cli);
	nsd_table_destroy(t);
	return ret;
}

static int cmd_client(void)
{
	struct nsd_client_config cc = {0};
	net_ctx *ctx;
	nsd_table *t;
	char line[64] = "";
	int rc, ret, fd;
	bool direct = false;

	if (!o.keydir || !o.port || !o.mode_set)
		usage();
	if (o.portfile) {	/* the server's "PORT direct=N" line, for the output */
		fd = open(o.portfile, O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, line, sizeof(line) - 1);

			line[n > 0 ? n : 0] = 0;
			close(fd);
			direct = strstr(line, "direct=1") != NULL;
		}
	}
	t = table_make(NULL);
	ctx = ctx_make(CLIENT_NODE, o.client_ip);
	rc = net_peer_set(ctx, SERVER_NODE, o.server_ip, o.port);
	if (rc)
		bench_die("net_peer_set", rc, NULL);
	cc.net = ctx;
	cc.tab = t;
	cc.my_node = CLIENT_NODE;
	cc.policy = NSD_PATH_ALWAYS;
	cc.checksum = false;
	rc = nsd_client_create(&cc, &cli);
	if (rc)
		bench_die("nsd_client_create", rc, NULL);
	nsd_client_set_checksum(cli, o.checksum);
	/* region: the server's disk size is not known here; -r is required
	 * unless the default (2 GiB disk) fits */
	if (!o.region)
		o.region = (2ull << 30) - DATA_START;
	ret = run_io("served", direct);
	nsd_client_destroy(cli);
	net_destroy(ctx);
	nsd_table_destroy(t);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int opt;

	if (argc < 2)
		usage();
	cmd = argv[1];
	o.cipherlist = "AUTHONLY";
	o.client_ip = "127.1.15.1";
	o.server_ip = "127.1.15.2";
	o.file_size = 2ull << 30;
	o.secs = 4;
	o.warm = 1;
	optind = 2;
	while ((opt = getopt(argc, argv, "f:S:k:a:b:o:c:P:p:m:Cs:d:t:w:r:I:")) != -1) {
		uint64_t v;

		switch (opt) {
		case 'f': o.file = optarg; break;
		case 'S':
			if (mm_parse_size(optarg, &v) || v <= DATA_START)
				usage();
			o.file_size = v;
			break;
		case 'k': o.keydir = optarg; break;
		case 'a': o.client_ip = optarg; break;
		case 'b': o.server_ip = optarg; break;
		case 'o': o.portfile = optarg; break;
		case 'c': o.cipherlist = optarg; break;
		case 'P': o.port = (uint16_t)atoi(optarg); break;
		case 'p': o.server_pid = (pid_t)atoi(optarg); break;
		case 'm':
			o.mode_set = true;
			if (!strcmp(optarg, "seqwrite"))
				o.mode = M_SEQWRITE;
			else if (!strcmp(optarg, "seqread"))
				o.mode = M_SEQREAD;
			else if (!strcmp(optarg, "randread"))
				o.mode = M_RANDREAD;
			else
				usage();
			break;
		case 'C': o.checksum = true; break;
		case 'I':
			if (strcmp(optarg, "main") && strcmp(optarg, "callback"))
				usage();
			o.main_issuer = !strcmp(optarg, "main");
			break;
		case 's':
			if (mm_parse_size(optarg, &v) || v == 0 || v % NSD_IO_ALIGN || v > NSD_IO_MAX)
				usage();
			o.bs = v;
			break;
		case 'd': o.depth = atoi(optarg); break;
		case 't': o.secs = atof(optarg); break;
		case 'w': o.warm = atof(optarg); break;
		case 'r':
			if (mm_parse_size(optarg, &v))
				usage();
			o.region = v;
			break;
		default: usage();
		}
	}
	if (!o.bs)
		o.bs = o.mode == M_RANDREAD ? 4096 : 1u << 20;
	if (!o.depth)
		o.depth = o.mode == M_RANDREAD ? 16 : 8;
	if (o.depth < 1 || o.secs <= 0 || o.warm < 0)
		usage();
	mm_log_set_level(MM_LOG_WARN);
	if (!strcmp(cmd, "label"))
		return cmd_label();
	if (!strcmp(cmd, "keys"))
		return cmd_keys();
	if (!strcmp(cmd, "local"))
		return cmd_local();
	if (!strcmp(cmd, "serve"))
		return cmd_serve();
	if (!strcmp(cmd, "client"))
		return cmd_client();
	usage();
	return 2;
}
