/*
 * fslocate - where a file system's structures lie in its disk files, so
 * a test can damage one on purpose (tests/integration/fsck.sh).
 *
 *   fslocate desc DISK...
 *   fslocate inode N DISK...
 *
 * DISK... are the file system's disks as files, in descriptor order (the
 * order of "mmlsfs Device -d"). The descriptor is read from them as a
 * mount reads it (fs_read_sgd: both slots of each disk, chosen by
 * majority), then:
 *   desc     one line per disk holding a descriptor copy:
 *              "DISKINDEX PATH SLOT0OFFSET SLOT1OFFSET"
 *   inode N  one line per replica of inode N's record (inode file block 0,
 *            whose replicas the descriptor names: ifile0):
 *              "REPLICA DISKINDEX PATH BYTEOFFSET STATE"
 *            STATE is "ok" if the record there verifies (fs_inode_decode),
 *            else "bad:" and why. Only inodes of the inode file's first
 *            block (N < block size / 4096) are located: they are the ones
 *            mkfs makes (0 .. 4 reserved, 3 the root directory).
 * Exit 0, 1 when it could not (the reason on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "fs/format.h"
#include "fs/mkfs.h"

struct files {
	int *fd;
	char **path;
	uint32_t n;
};

static int file_read(void *arg, uint32_t disk, uint64_t off, void *buf, size_t len)
{
	struct files *f = arg;
	ssize_t r;

	if (disk >= f->n)
		return MM_EINVAL;
	r = pread(f->fd[disk], buf, len, (off_t)off);
	if (r < 0)
		return MM_EIO;
	if ((size_t)r < len)
		memset((char *)buf + r, 0, len - (size_t)r);	/* past the end of a sparse file */
	return MM_OK;
}

static int usage(void)
{
	fprintf(stderr, "usage: fslocate desc DISK...\n       fslocate inode N DISK...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct files f = {0};
	struct fs_disk_io io = {.read = file_read, .arg = &f};
	struct fs_sgd *sgd = malloc(sizeof(*sgd));
	uint64_t ino = 0;
	int first;
	char err[1024];
	int rc;

	if (argc < 3 || !sgd)
		return usage();
	if (!strcmp(argv[1], "desc")) {
		first = 2;
	} else if (!strcmp(argv[1], "inode") && argc >= 4) {
		char *end;

		errno = 0;
		ino = strtoull(argv[2], &end, 10);
		if (errno || *end || end == argv[2])
			return usage();
		first = 3;
	} else {
		return usage();
	}
	f.n = (uint32_t)(argc - first);
	f.fd = calloc(f.n, sizeof(*f.fd));
	f.path = argv + first;
	if (!f.fd)
		return 1;
	for (uint32_t i = 0; i < f.n; i++) {
		f.fd[i] = open(f.path[i], O_RDONLY | O_CLOEXEC);
		if (f.fd[i] < 0) {
			fprintf(stderr, "fslocate: %s: %s\n", f.path[i], strerror(errno));
			return 1;
		}
	}
	rc = fs_read_sgd(&io, f.n, sgd, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fslocate: no descriptor: %s\n", err);
		return 1;
	}
	if (first == 2) {
		for (uint32_t i = 0; i < sgd->ndisks; i++)
			if (sgd->disk[i].has_desc)
				printf("%u %s %u %u\n", i, f.path[i], FS_SGD_SLOT0, FS_SGD_SLOT1);
		return 0;
	}
	if (ino >= sgd->block_size / FS_INODE_BYTES) {
		fprintf(stderr, "fslocate: inode %" PRIu64 " is not in the inode file's first block "
			"(inodes 0 .. %u)\n", ino, sgd->block_size / FS_INODE_BYTES - 1);
		return 1;
	}
	for (unsigned k = 0; k < FS_MAX_REPLICAS; k++) {
		fs_da da = sgd->ifile0.da[k];
		uint32_t d = fs_da_disk(da);
		uint64_t off;
		uint8_t rec[FS_INODE_BYTES];
		struct fs_inode in;

		if (da == FS_DA_NONE)
			continue;
		if (d >= f.n) {
			fprintf(stderr, "fslocate: replica %u is on disk %u, of %u given\n", k, d, f.n);
			return 1;
		}
		off = fs_da_sub(da) * sgd->subblock_size + ino * FS_INODE_BYTES;
		err[0] = '\0';
		rc = file_read(&f, d, off, rec, sizeof(rec));
		if (rc == MM_OK)
			rc = fs_inode_decode(rec, (uint32_t)sgd->fsid, ino, &in, err, sizeof(err));
		printf("%u %u %s %" PRIu64 " %s%s\n", k, d, f.path[d], off, rc ? "bad:" : "ok",
		       rc ? (err[0] ? err : mm_strerror(rc)) : "");
	}
	return 0;
}
