/*
 * nsd/sys.c - the NSD system-call table and its fault injector.
 *
 * Map: fault state and check; one wrapper per call (check, then the real
 * call); the default table; the public arming functions.
 */
#include "nsd/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/err.h"

/* ---- fault state: all fields atomic, read lock-free by every call ---- */
struct sys_fault {
	atomic_bool armed;
	atomic_bool persistent;
	atomic_uint nth;
	atomic_int err;
	atomic_ullong count;	/* calls since armed */
	atomic_ullong calls;	/* calls ever */
	atomic_ullong faults;	/* faults ever */
};

static struct sys_fault faults[NSD_SYS_COUNT];

static const char *const sys_names[NSD_SYS_COUNT] = {
	[NSD_SYS_OPEN] = "open",
	[NSD_SYS_CLOSE] = "close",
	[NSD_SYS_FSTAT] = "fstat",
	[NSD_SYS_PREAD] = "pread",
	[NSD_SYS_PWRITE] = "pwrite",
	[NSD_SYS_FSYNC] = "fsync",
	[NSD_SYS_FDATASYNC] = "fdatasync",
	[NSD_SYS_IO_SETUP] = "io_setup",
	[NSD_SYS_IO_DESTROY] = "io_destroy",
	[NSD_SYS_IO_SUBMIT] = "io_submit",
	[NSD_SYS_IO_GETEVENTS] = "io_getevents",
	[NSD_SYS_IOCTL] = "ioctl",
	[NSD_SYS_POSIX_MEMALIGN] = "posix_memalign",
};

/* Count a call of <id>; return the errno to inject, or 0 to run it. */
static int fault_check(enum nsd_sys_id id)
{
	struct sys_fault *f = &faults[id];
	unsigned long long c;
	unsigned nth;

	atomic_fetch_add_explicit(&f->calls, 1, memory_order_relaxed);
	if (!atomic_load_explicit(&f->armed, memory_order_acquire))
		return 0;
	c = atomic_fetch_add(&f->count, 1) + 1;
	nth = atomic_load(&f->nth);
	if (c == nth || (c > nth && atomic_load(&f->persistent))) {
		atomic_fetch_add(&f->faults, 1);
		return atomic_load(&f->err);
	}
	return 0;
}

/* ---- wrappers: POSIX convention (-1 + errno) ---- */
#define POSIX_FAULT(id)                      \
	do {                                 \
		int e_ = fault_check(id);    \
		if (e_) {                    \
			errno = e_;          \
			return -1;           \
		}                            \
	} while (0)

/* ---- wrappers: libaio convention (-errno) ---- */
#define AIO_FAULT(id)                        \
	do {                                 \
		int e_ = fault_check(id);    \
		if (e_)                      \
			return -e_;          \
	} while (0)

static int sys_open(const char *path, int flags, mode_t mode)
{
	POSIX_FAULT(NSD_SYS_OPEN);
	return open(path, flags, mode);
}

static int sys_close(int fd)
{
	POSIX_FAULT(NSD_SYS_CLOSE);
	return close(fd);
}

static int sys_fstat(int fd, struct stat *st)
{
	POSIX_FAULT(NSD_SYS_FSTAT);
	return fstat(fd, st);
}

static ssize_t sys_pread(int fd, void *buf, size_t len, off_t off)
{
	POSIX_FAULT(NSD_SYS_PREAD);
	return pread(fd, buf, len, off);
}

static ssize_t sys_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	POSIX_FAULT(NSD_SYS_PWRITE);
	return pwrite(fd, buf, len, off);
}

static int sys_fsync(int fd)
{
	POSIX_FAULT(NSD_SYS_FSYNC);
	return fsync(fd);
}

static int sys_fdatasync(int fd)
{
	POSIX_FAULT(NSD_SYS_FDATASYNC);
	return fdatasync(fd);
}

static int sys_io_setup(int maxevents, io_context_t *ctx)
{
	AIO_FAULT(NSD_SYS_IO_SETUP);
	return io_setup(maxevents, ctx);
}

static int sys_io_destroy(io_context_t ctx)
{
	AIO_FAULT(NSD_SYS_IO_DESTROY);
	return io_destroy(ctx);
}

static int sys_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	AIO_FAULT(NSD_SYS_IO_SUBMIT);
	return io_submit(ctx, nr, iocbs);
}

static int sys_io_getevents(io_context_t ctx, long min_nr, long nr,
			    struct io_event *events, struct timespec *timeout)
{
	AIO_FAULT(NSD_SYS_IO_GETEVENTS);
	return io_getevents(ctx, min_nr, nr, events, timeout);
}

static int sys_ioctl(int fd, unsigned long request, void *arg)
{
	POSIX_FAULT(NSD_SYS_IOCTL);
	return ioctl(fd, request, arg);
}

static int sys_posix_memalign(void **memptr, size_t alignment, size_t size)
{
	int e = fault_check(NSD_SYS_POSIX_MEMALIGN);

	if (e)
		return e;
	return posix_memalign(memptr, alignment, size);
}

/* The real calls, each behind the fault check. */
#define SYS_DEFAULTS                                    \
	{                                               \
		.open = sys_open,                       \
		.close = sys_close,                     \
		.fstat = sys_fstat,                     \
		.pread = sys_pread,                     \
		.pwrite = sys_pwrite,                   \
		.fsync = sys_fsync,                     \
		.fdatasync = sys_fdatasync,             \
		.io_setup = sys_io_setup,               \
		.io_destroy = sys_io_destroy,           \
		.io_submit = sys_io_submit,             \
		.io_getevents = sys_io_getevents,       \
		.ioctl = sys_ioctl,                     \
		.posix_memalign = sys_posix_memalign,   \
	}

static const struct nsd_syscalls sys_default = SYS_DEFAULTS;

struct nsd_syscalls nsd_sys = SYS_DEFAULTS;

void nsd_sys_restore(void)
{
	nsd_sys = sys_default;
}

const char *nsd_sys_name(enum nsd_sys_id id)
{
	if ((unsigned)id >= NSD_SYS_COUNT)
		return NULL;
	return sys_names[id];
}

int nsd_sys_lookup(const char *name)
{
	for (int i = 0; i < NSD_SYS_COUNT; i++)
		if (name && strcmp(name, sys_names[i]) == 0)
			return i;
	return -1;
}

int nsd_sys_fail(enum nsd_sys_id id, unsigned nth, int err, bool persistent)
{
	struct sys_fault *f;

	if ((unsigned)id >= NSD_SYS_COUNT || nth == 0 || err <= 0)
		return MM_EINVAL;
	f = &faults[id];
	atomic_store(&f->armed, false);
	atomic_store(&f->nth, nth);
	atomic_store(&f->err, err);
	atomic_store(&f->persistent, persistent);
	atomic_store(&f->count, 0);
	atomic_store_explicit(&f->armed, true, memory_order_release);
	return MM_OK;
}

void nsd_sys_reset(void)
{
	for (int i = 0; i < NSD_SYS_COUNT; i++)
		atomic_store(&faults[i].armed, false);
}

uint64_t nsd_sys_calls(enum nsd_sys_id id)
{
	if ((unsigned)id >= NSD_SYS_COUNT)
		return 0;
	return atomic_load(&faults[id].calls);
}

uint64_t nsd_sys_faults(enum nsd_sys_id id)
{
	if ((unsigned)id >= NSD_SYS_COUNT)
		return 0;
	return atomic_load(&faults[id].faults);
}
