/*
 * bench/mdbench.c - metadata rates in one directory, mdtest-style: create,
 * stat and unlink of N empty files by T threads.
 *
 *   mdbench -d DIR [-n FILES] [-t THREADS] [-w MS]
 *
 * DIR must exist and is where the files go (a subdirectory the caller
 * made for the run: mdbench refuses names that already exist). FILES
 * (default 20000) is the total, split evenly over THREADS (default 1);
 * thread k owns names "f.k.i". Three phases, each started by all threads
 * together (a barrier) and timed until the last one finishes:
 *   create   open(O_CREAT | O_EXCL | O_WRONLY, 0644) + close
 *   stat     stat()
 *   unlink   unlink()
 * -w MS waits MS milliseconds (untimed) before the stat and the unlink
 * phase: with MS above a FUSE mount's entry and attribute timeouts, every
 * stat and unlink revalidates its name with the file system (a round
 * trip) instead of being answered from the kernel's caches.
 * Paths are relative to DIR (the process chdirs there), as mdtest's are,
 * so every call resolves one name in DIR. Prints one line
 *   mdbench: dir=DIR files=N threads=T create=OPS stat=OPS unlink=OPS
 * with OPS in operations per second (CLOCK_MONOTONIC). Any failing call
 * ends the run with its name and errno and exit status 1: a rate is only
 * printed when every operation succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { PH_CREATE, PH_STAT, PH_UNLINK, PH_N };
static const char *const phase_name[PH_N] = {"create", "stat", "unlink"};

struct md {
	pthread_barrier_t bar;
	unsigned threads;
	unsigned long files; /* total */
	unsigned long wait_ms; /* before the stat and unlink phases */
};

struct md_thread {
	struct md *md;
	unsigned id;
	unsigned long first, count; /* the thread's share */
	pthread_t tid;
	uint64_t start[PH_N], end[PH_N]; /* per phase, CLOCK_MONOTONIC ns */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *op, const char *name)
{
	fprintf(stderr, "mdbench: %s %s: %s\n", op, name, strerror(errno));
	exit(1);
}

static void run_phase(const struct md_thread *t, int ph)
{
	char name[64];
	unsigned long i;
	struct stat st;
	int fd;

	for (i = t->first; i < t->first + t->count; i++) {
		snprintf(name, sizeof(name), "f.%u.%lu", t->id, i);
		switch (ph) {
		case PH_CREATE:
			fd = open(name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				fail("create", name);
			if (close(fd))
				fail("close", name);
			break;
		case PH_STAT:
			if (stat(name, &st))
				fail("stat", name);
			if (!S_ISREG(st.st_mode) || st.st_size != 0) {
				errno = EIO;
				fail("stat (not an empty regular file)", name);
			}
			break;
		default:
			if (unlink(name))
				fail("unlink", name);
			break;
		}
	}
}

static void *worker(void *arg)
{
	struct md_thread *t = arg;
	int ph;

	for (ph = 0; ph < PH_N; ph++) {
		pthread_barrier_wait(&t->md->bar); /* start together */
		t->start[ph] = now_ns();
		run_phase(t, ph);
		t->end[ph] = now_ns();
		pthread_barrier_wait(&t->md->bar);
	}
	return NULL;
}

static unsigned long parse_count(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-') {
		fprintf(stderr, "mdbench: %s \"%s\": expected a number from 1 to %lu\n", opt, s, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct md md = {.threads = 1, .files = 20000};
	struct md_thread *th;
	const char *dir = NULL;
	double rate[PH_N];
	unsigned k;
	int opt, ph, rc;

	while ((opt = getopt(argc, argv, "d:n:t:w:")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			md.files = parse_count("-n", optarg, 100000000ul);
			break;
		case 't':
			md.threads = (unsigned)parse_count("-t", optarg, 256);
			break;
		case 'w':
			md.wait_ms = parse_count("-w", optarg, 600000ul);
			break;
		default:
			fprintf(stderr, "usage: mdbench -d DIR [-n FILES] [-t THREADS] [-w MS]\n");
			return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, "usage: mdbench -d DIR [-n FILES] [-t THREADS] [-w MS]\n");
		return 2;
	}
	if (md.files < md.threads) {
		fprintf(stderr, "mdbench: -n %lu is fewer files than -t %u threads\n", md.files,
			md.threads);
		return 2;
	}
	if (chdir(dir)) {
		fprintf(stderr, "mdbench: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	th = calloc(md.threads, sizeof(*th));
	if (!th || pthread_barrier_init(&md.bar, NULL, md.threads + 1)) {
		fprintf(stderr, "mdbench: out of memory\n");
		return 1;
	}
	for (k = 0; k < md.threads; k++) {
		th[k].md = &md;
		th[k].id = k;
		th[k].first = md.files / md.threads * k;
		th[k].count = md.files / md.threads + (k == md.threads - 1 ? md.files % md.threads : 0);
		rc = pthread_create(&th[k].tid, NULL, worker, &th[k]);
		if (rc) {
			fprintf(stderr, "mdbench: pthread_create: %s\n", strerror(rc));
			return 1;
		}
	}
	/* The phase's time is the span from the first thread's start to the
	 * last one's end, each taken by the worker itself: the main thread
	 * may wake from a barrier long after the workers (2 CPUs). */
	for (ph = 0; ph < PH_N; ph++) {
		if (ph > 0 && md.wait_ms) {
			struct timespec ts = {(time_t)(md.wait_ms / 1000),
					      (long)(md.wait_ms % 1000) * 1000000};

			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
		pthread_barrier_wait(&md.bar);
		pthread_barrier_wait(&md.bar);
	}
	for (k = 0; k < md.threads; k++)
		pthread_join(th[k].tid, NULL);
	for (ph = 0; ph < PH_N; ph++) {
		uint64_t t0 = UINT64_MAX, t1 = 0;

		for (k = 0; k < md.threads; k++) {
			if (th[k].start[ph] < t0)
				t0 = th[k].start[ph];
			if (th[k].end[ph] > t1)
				t1 = th[k].end[ph];
		}
		rate[ph] = (double)md.files * 1e9 / (double)(t1 > t0 ? t1 - t0 : 1);
	}
	printf("mdbench: dir=%s files=%lu threads=%u wait_ms=%lu", dir, md.files, md.threads,
	       md.wait_ms);
	for (ph = 0; ph < PH_N; ph++)
		printf(" %s=%.0f", phase_name[ph], rate[ph]);
	printf("\n");
	free(th);
	return 0;
}
