/* nsd/label.c - the NSD descriptor on a device (see label.h). */
#include "nsd/label.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "nsd/sys.h"

static int open_dev(const char *path, int flags, uint64_t *size, char *err, size_t errsz)
{
	struct stat st;
	int fd = nsd_sys.open(path, flags | O_CLOEXEC, 0);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errsz, "%s: cannot open: %s", path, strerror(e));
		return mm_err_from_errno(e);
	}
	if (nsd_sys.fstat(fd, &st) < 0) {
		int e = errno;

		snprintf(err, errsz, "%s: cannot stat: %s", path, strerror(e));
		nsd_sys.close(fd);
		return mm_err_from_errno(e);
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (nsd_sys.ioctl(fd, BLKGETSIZE64, size) < 0) {
			int e = errno;

			snprintf(err, errsz, "%s: cannot get the device size: %s", path, strerror(e));
			nsd_sys.close(fd);
			return mm_err_from_errno(e);
		}
	} else {
		snprintf(err, errsz, "%s: neither a block device nor a regular file", path);
		nsd_sys.close(fd);
		return MM_EINVAL;
	}
	return fd;
}

int nsd_label_size(const char *path, uint64_t *size, char *err, size_t errsz)
{
	int fd = open_dev(path, O_RDONLY, size, err, errsz);

	if (fd < 0)
		return fd;
	nsd_sys.close(fd);
	return MM_OK;
}

int nsd_label_read(const char *path, struct nsd_desc *d, char *err, size_t errsz)
{
	uint8_t buf[NSD_DESC_BYTES];
	uint64_t size;
	ssize_t n;
	char why[256];
	int fd = open_dev(path, O_RDONLY, &size, err, errsz), rc;

	if (fd < 0)
		return fd;
	n = nsd_sys.pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		int e = errno;

		snprintf(err, errsz, "%s: cannot read the descriptor: %s", path, strerror(e));
		nsd_sys.close(fd);
		return MM_EIO;
	}
	nsd_sys.close(fd);
	if ((size_t)n < sizeof(buf)) {
		memset(d, 0, sizeof(*d));
		snprintf(err, errsz, "%s: no NSD descriptor (only %zd bytes)", path, n);
		return MM_ENOENT;
	}
	rc = nsd_desc_decode(buf, sizeof(buf), d, why, sizeof(why));
	if (rc)
		snprintf(err, errsz, "%s: %s", path, why);
	return rc;
}

static int write_block(const char *path, const uint8_t *buf, char *err, size_t errsz)
{
	uint64_t size;
	int fd = open_dev(path, O_RDWR, &size, err, errsz);
	ssize_t n;

	if (fd < 0)
		return fd;
	if (size <= NSD_RESERVED_BYTES) {
		snprintf(err, errsz, "%s: %llu bytes is too small for an NSD (more than %u needed)",
			 path, (unsigned long long)size, NSD_RESERVED_BYTES);
		nsd_sys.close(fd);
		return MM_ERANGE;
	}
	n = nsd_sys.pwrite(fd, buf, NSD_DESC_BYTES, 0);
	if (n != (ssize_t)NSD_DESC_BYTES || nsd_sys.fdatasync(fd) < 0) {
		int e = n < 0 ? errno : n != (ssize_t)NSD_DESC_BYTES ? EIO : errno;

		snprintf(err, errsz, "%s: cannot write the descriptor: %s", path, strerror(e));
		nsd_sys.close(fd);
		return MM_EIO;
	}
	if (nsd_sys.close(fd) < 0) {
		snprintf(err, errsz, "%s: close after writing the descriptor: %s", path, strerror(errno));
		return MM_EIO;
	}
	return MM_OK;
}

int nsd_label_write(const char *path, const struct nsd_desc *d, char *err, size_t errsz)
{
	uint8_t buf[NSD_DESC_BYTES];

	if (nsd_desc_encode(d, buf)) {
		snprintf(err, errsz, "%s: invalid descriptor contents", path);
		return MM_EINVAL;
	}
	return write_block(path, buf, err, errsz);
}

int nsd_label_clear(const char *path, char *err, size_t errsz)
{
	uint8_t buf[NSD_DESC_BYTES] = {0};

	return write_block(path, buf, err, errsz);
}
