/*
 * nsd/sys.h - the system-call table of the NSD layer (2026-11-21).
 *
 * Every system call that nsd/ makes goes through the process-wide table
 * <nsd_sys>, like aSyscall[] in SQLite's os_unix.c, so that tests can
 * inject faults without touching the code under test:
 *
 *   nsd_sys_fail(NSD_SYS_IO_SUBMIT, 3, EIO, false);   third io_submit fails once
 *   nsd_sys_fail(NSD_SYS_PWRITE, 1, EIO, true);       every pwrite from now fails
 *   nsd_sys_reset();                                  disarm everything
 *
 * The fault injector lives in the library but is inert unless armed: an
 * unarmed call costs one relaxed atomic load. Arming, resetting and the
 * call counters are thread-safe (atomics) and may be used while disks are
 * open and I/O runs on other threads.
 *
 * Replacing a pointer of <nsd_sys> directly (to wrap or stub a call) is
 * allowed only while no NSD disk is open (no locking protects the table);
 * nsd_sys_restore() puts the default entries back.
 *
 * Return conventions are those of the underlying calls: the POSIX calls
 * return -1 and set errno; io_setup/io_destroy/io_submit/io_getevents
 * return -errno (libaio); posix_memalign returns the errno value. An
 * injected fault follows the same convention for the call it hits.
 */
#ifndef MM_NSD_SYS_H
#define MM_NSD_SYS_H

#include <libaio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

enum nsd_sys_id {
	NSD_SYS_OPEN = 0,
	NSD_SYS_CLOSE,
	NSD_SYS_FSTAT,
	NSD_SYS_PREAD,
	NSD_SYS_PWRITE,
	NSD_SYS_FSYNC,
	NSD_SYS_FDATASYNC,
	NSD_SYS_IO_SETUP,
	NSD_SYS_IO_DESTROY,
	NSD_SYS_IO_SUBMIT,
	NSD_SYS_IO_GETEVENTS,
	NSD_SYS_IOCTL,
	NSD_SYS_POSIX_MEMALIGN,
	NSD_SYS_COUNT
};

struct nsd_syscalls {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	int (*fstat)(int fd, struct stat *st);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*io_setup)(int maxevents, io_context_t *ctx);
	int (*io_destroy)(io_context_t ctx);
	int (*io_submit)(io_context_t ctx, long nr, struct iocb **iocbs);
	int (*io_getevents)(io_context_t ctx, long min_nr, long nr,
			    struct io_event *events, struct timespec *timeout);
	int (*ioctl)(int fd, unsigned long request, void *arg);
	int (*posix_memalign)(void **memptr, size_t alignment, size_t size);
};

/* The table nsd/ calls through. Defaults: the real calls, fault-checked. */
extern struct nsd_syscalls nsd_sys;

/* Put the default entries back into <nsd_sys> (no disk may be open). */
void nsd_sys_restore(void);

/* "io_submit" etc.; NULL for an unknown id. */
const char *nsd_sys_name(enum nsd_sys_id id);
/* Id of a call by name, or -1. */
int nsd_sys_lookup(const char *name);

/*
 * Arm a fault: the <nth> call (1 = the next one) of <id> made from now on
 * fails with errno <err> (in the call's own convention, see above); if
 * <persistent>, every later call fails too. Arming a call replaces its
 * earlier fault and restarts its count. Returns 0 or MM_EINVAL (bad id,
 * nth == 0, err <= 0).
 */
int nsd_sys_fail(enum nsd_sys_id id, unsigned nth, int err, bool persistent);
/* Disarm every fault. Counts of calls are kept. */
void nsd_sys_reset(void);
/* Calls of <id> made since the process started (faulted ones included). */
uint64_t nsd_sys_calls(enum nsd_sys_id id);
/* Faults injected into <id> since the process started. */
uint64_t nsd_sys_faults(enum nsd_sys_id id);

#endif
