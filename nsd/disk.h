/*
 * nsd/disk.h - local disk I/O of the NSD layer (2026-11-21).
 *
 * A disk is a block device or a regular file opened by path. I/O uses
 * O_DIRECT when the file system allows it; where open(O_DIRECT) fails with
 * EINVAL (tmpfs, some file systems) the disk falls back to buffered I/O and
 * calls fdatasync before it completes any write (one warning at open).
 *
 * Each disk has one submission/completion path: a libaio context with a
 * bounded queue depth and one completion thread ("nsd-io") that reaps
 * events. At most <queue_depth> iocbs are in flight; further requests wait
 * in a FIFO queue. When a slot frees, contiguous requests of the same
 * direction that sit next to each other in the queue are merged into one
 * vectored iocb (IOCB_CMD_PREADV/PWRITEV) and their completions are split
 * back to each caller. With opts.sync_backend the completion thread runs
 * the I/O itself with pread/pwrite instead (no libaio); it is also used
 * when io_setup fails with EAGAIN/ENOSYS (logged).
 *
 * Every system call goes through nsd/sys.h, so tests inject faults there.
 *
 * Return convention: 0 or a negative MM_E* code (common/err.h).
 *
 * Alignment: offsets, lengths and buffer addresses of every request must
 * be multiples of nsd_disk_sector_size() (the logical sector size:
 * BLKSSZGET for block devices; 512, or 4096 if an O_DIRECT probe of 512
 * fails, for files); 0 < length <= NSD_DISK_MAX_IO; offset + length <=
 * nsd_disk_size(). Anything else is MM_EINVAL and nothing is submitted.
 *
 * Buffers: owned by the caller. From a successful submit until its
 * callback runs, the request and its buffer belong to the disk: do not
 * touch, move or free them. nsd_disk_buf_alloc() gives suitably aligned
 * buffers; free them with nsd_disk_buf_free().
 *
 * Threads: every function may be called from any thread, except that the
 * blocking ones (nsd_disk_read, nsd_disk_write, nsd_disk_flush,
 * nsd_disk_close) must not be called from a completion callback.
 * Completion callbacks run on the disk's completion thread, without any
 * disk lock held, one at a time; they must not block (they may submit).
 *
 * Gate: see nsd_disk_opts.gate. A gated write refused completes with
 * MM_ENOLEASE, and so does every request merged into the same iocb.
 *
 * Errors: a failed or short I/O completes each request it carried with
 * MM_EIO (the disk path, offset, length and errno are logged); a request
 * never completes with 0 unless its whole range was transferred (and, for
 * buffered writes, fdatasync succeeded). If io_getevents itself fails (not
 * EINTR/EAGAIN), every iocb then in flight is completed with MM_EIO once
 * its event is finally reaped, since its outcome cannot be trusted.
 * EINTR/EAGAIN from io_submit/io_getevents are retried.
 */
#ifndef MM_NSD_DISK_H
#define MM_NSD_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSD_DISK_MAX_IO (16u << 20)	/* largest single request, bytes */
#define NSD_DISK_DEFAULT_QD 32
#define NSD_DISK_MAX_QD 1024

typedef struct nsd_disk nsd_disk;

enum nsd_op {
	NSD_READ = 0,
	NSD_WRITE = 1,
};

struct nsd_req;
/* Called once per submitted request with 0 or MM_EIO, on the completion thread. */
typedef void (*nsd_done_fn)(struct nsd_req *req, int rc, void *arg);

/*
 * A request. The caller fills the first block and keeps the struct alive
 * until <done> runs; the rest is private to nsd/.
 */
struct nsd_req {
	uint64_t offset;	/* bytes, sector aligned */
	size_t len;		/* bytes, sector aligned, 0 < len <= NSD_DISK_MAX_IO */
	void *buf;		/* sector aligned */
	enum nsd_op op;
	nsd_done_fn done;
	void *arg;
	uint64_t epoch;		/* writes: the lease epoch they belong to (0: ungated) */
	/* private */
	struct nsd_req *next;
	uint64_t t_submit_ns;
};

struct nsd_disk_opts {
	unsigned queue_depth;	/* iocbs in flight; 0 = NSD_DISK_DEFAULT_QD, max NSD_DISK_MAX_QD */
	bool readonly;		/* open O_RDONLY; writes are MM_EPERM */
	bool no_direct;		/* never use O_DIRECT */
	bool sync_backend;	/* pread/pwrite on the completion thread, no libaio */
	/* The write gate: a write with a non-zero epoch reaches the disk only
	 * if gate(gate_arg) returns that same epoch, checked right before its
	 * io_submit (or pwrite); otherwise it completes with MM_ENOLEASE. A
	 * node that lost its lease (gate 0) or got a new one since the write
	 * was accepted thus never writes it, however long the write waited
	 * in the queue or the process was stopped. NULL: no gate. */
	uint64_t (*gate)(void *arg);
	void *gate_arg;
};

/* For mmdiag --nsd. A snapshot, taken under the disk lock. */
struct nsd_disk_stats {
	unsigned queue_depth;	/* configured bound on iocbs in flight */
	unsigned in_flight;	/* iocbs in flight now */
	unsigned queued;	/* requests waiting for a slot now */
	uint32_t sector_size;
	uint64_t size;		/* usable bytes */
	bool direct;		/* O_DIRECT in use */
	bool aio;		/* libaio (false: sync backend) */
	uint64_t reads, writes;			/* completed requests */
	uint64_t bytes_read, bytes_written;	/* completed successfully */
	uint64_t errors;	/* requests completed with an error */
	uint64_t iocbs;		/* iocbs (or sync I/Os) issued */
	uint64_t merged;	/* requests that rode in another request's iocb */
	uint64_t lat_total_ns;	/* submit -> callback, summed over requests */
	uint64_t lat_max_ns;
};

/*
 * Open <path> (regular file or block device). <opts> may be NULL for
 * defaults. On success *out is a disk with its completion thread running.
 * Returns 0, MM_ENOENT, MM_EPERM, MM_EINVAL (not a file or device, or
 * smaller than one sector), MM_ENOMEM, MM_EIO or MM_ESYS.
 */
int nsd_disk_open(const char *path, const struct nsd_disk_opts *opts, nsd_disk **out);

/*
 * Stop accepting requests, wait until every queued and in-flight request
 * has completed (its callback returned), stop the completion thread and
 * free <d>. There is no timeout: an iocb the kernel never completes (or a
 * persistently failing io_getevents) blocks close. Returns 0, or MM_EIO if
 * closing the file failed.
 */
int nsd_disk_close(nsd_disk *d);

const char *nsd_disk_path(const nsd_disk *d);
uint32_t nsd_disk_sector_size(const nsd_disk *d);
uint64_t nsd_disk_size(const nsd_disk *d);
bool nsd_disk_direct(const nsd_disk *d);

/*
 * Allocate <len> bytes (rounded up to a sector multiple) aligned for <d>'s
 * O_DIRECT I/O. The content is not initialized. Returns 0 or MM_ENOMEM
 * (MM_EINVAL for len 0).
 */
int nsd_disk_buf_alloc(nsd_disk *d, size_t len, void **out);
void nsd_disk_buf_free(void *buf);

/*
 * Check <r> against <d>'s rules (see "Alignment" above) without submitting.
 * Returns 0, MM_EINVAL, or MM_EPERM for a write on a read-only disk.
 */
int nsd_disk_check(const nsd_disk *d, const struct nsd_req *r);

/*
 * Queue <r>. Returns 0 and later calls r->done exactly once, or returns
 * an error (MM_EINVAL, MM_EPERM, MM_ESHUTDOWN once close has begun) and
 * never calls it.
 */
int nsd_disk_submit(nsd_disk *d, struct nsd_req *r);

/*
 * Queue <n> requests at once, so adjacent ones may be merged. All are
 * checked first: if any is invalid nothing is queued and the error is
 * returned; otherwise like nsd_disk_submit for each.
 */
int nsd_disk_submit_batch(nsd_disk *d, struct nsd_req **reqs, size_t n);

/* Blocking wrappers: submit one request and wait for it. 0 or MM_E*. */
int nsd_disk_read(nsd_disk *d, uint64_t offset, void *buf, size_t len);
int nsd_disk_write(nsd_disk *d, uint64_t offset, const void *buf, size_t len);

/* fdatasync the disk (waits). 0 or MM_EIO. */
int nsd_disk_flush(nsd_disk *d);

void nsd_disk_stats(nsd_disk *d, struct nsd_disk_stats *st);

#endif
