/*
 * mmfsd/fsdio.c - struct fs_disk_io over the NSD client (see fsdio.h).
 */
#include "mmfsd/fsdio.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

#define SUB "fs"

struct fsdio {
	nsd_client *c;
	uint32_t n;
	uint64_t *ids;
	char (*names)[NSD_NAME_MAX + 1];
	pthread_mutex_t lock;		/* guards err */
	char err[1024];
	_Atomic uint64_t reads, writes, bytes_read, bytes_written, bounced;
};

int fsdio_open(nsd_client *c, const uint64_t *nsd_ids, const char *const *names, uint32_t n,
	       struct fsdio **out)
{
	struct fsdio *f;

	*out = NULL;
	if (!c || n == 0 || n > FS_MAX_DISKS)
		return MM_EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return MM_ENOMEM;
	f->ids = calloc(n, sizeof(*f->ids));
	f->names = calloc(n, sizeof(*f->names));
	if (!f->ids || !f->names) {
		free(f->ids);
		free(f->names);
		free(f);
		return MM_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		f->ids[i] = nsd_ids[i];
		if (names && names[i])
			snprintf(f->names[i], sizeof(f->names[i]), "%s", names[i]);
		else
			nsd_id_format(nsd_ids[i], f->names[i], sizeof(f->names[i]));
	}
	f->c = c;
	f->n = n;
	pthread_mutex_init(&f->lock, NULL);
	*out = f;
	return MM_OK;
}

void fsdio_close(struct fsdio *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->ids);
	free(f->names);
	free(f);
}

uint32_t fsdio_ndisks(const struct fsdio *f)
{
	return f->n;
}

void fsdio_error(struct fsdio *f, char *buf, size_t sz)
{
	pthread_mutex_lock(&f->lock);
	snprintf(buf, sz, "%s", f->err);
	pthread_mutex_unlock(&f->lock);
}

void fsdio_stats(struct fsdio *f, struct fsdio_stats *st)
{
	st->reads = f->reads;
	st->writes = f->writes;
	st->bytes_read = f->bytes_read;
	st->bytes_written = f->bytes_written;
	st->bounced = f->bounced;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct fsdio *f, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&f->lock);
	snprintf(f->err, sizeof(f->err), "%s", msg);
	pthread_mutex_unlock(&f->lock);
	mm_error(SUB, "%s", msg);
	return rc;
}

static int io(struct fsdio *f, bool wr, uint32_t disk, uint64_t off, void *buf, size_t len)
{
	bool aligned = ((uintptr_t)buf % NSD_IO_ALIGN) == 0;
	size_t chunk = len < NSD_IO_MAX ? len : NSD_IO_MAX;
	uint8_t *bounce = NULL;
	int rc = MM_OK;

	if (disk >= f->n)
		return fail(f, MM_EINVAL, "disk index %u is not one of the %u disks of this file system",
			    disk, f->n);
	if (off % NSD_IO_ALIGN || len % NSD_IO_ALIGN || len == 0)
		return fail(f, MM_EINVAL, "NSD %s: %s of %zu bytes at offset %" PRIu64 " is not in "
			    "units of %u bytes", f->names[disk], wr ? "write" : "read", len, off,
			    NSD_IO_ALIGN);
	if (!aligned && !(bounce = nsd_io_buf_alloc(chunk)))
		return fail(f, MM_ENOMEM, "NSD %s: no memory for a %zu-byte I/O buffer", f->names[disk],
			    chunk);
	for (size_t done = 0; done < len && rc == MM_OK; done += chunk) {
		size_t n = len - done < chunk ? len - done : chunk;
		uint8_t *p = (uint8_t *)buf + done, *b = bounce ? bounce : p;
		char msg[768] = "";

		if (wr && bounce)
			memcpy(bounce, p, n);
		rc = wr ? nsd_client_write(f->c, f->ids[disk], off + done, b, n, msg, sizeof(msg))
			: nsd_client_read(f->c, f->ids[disk], off + done, b, n, msg, sizeof(msg));
		if (rc) {
			/* the client's message names the NSD already */
			if (msg[0] && strstr(msg, f->names[disk]))
				fail(f, rc, "%s", msg);
			else
				fail(f, rc, "NSD %s: %s", f->names[disk], msg[0] ? msg : mm_strerror(rc));
			break;
		}
		if (!wr && bounce)
			memcpy(p, bounce, n);
	}
	if (bounce)
		f->bounced += len;
	free(bounce);
	if (rc == MM_OK) {
		if (wr) {
			f->writes++;
			f->bytes_written += len;
		} else {
			f->reads++;
			f->bytes_read += len;
		}
	}
	return rc;
}

static int op_read(void *arg, uint32_t disk, uint64_t off, void *buf, size_t len)
{
	return io(arg, false, disk, off, buf, len);
}

static int op_write(void *arg, uint32_t disk, uint64_t off, const void *buf, size_t len)
{
	/* the buffer is only read from (writes copy into a bounce buffer) */
	return io(arg, true, disk, off, (void *)buf, len);
}

struct fs_disk_io fsdio_ops(struct fsdio *f)
{
	return (struct fs_disk_io){op_read, op_write, f};
}
