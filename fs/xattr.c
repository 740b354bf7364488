/*
 * fs/xattr.c - extended attributes and fallocate: not built yet. The
 * inode has its xattr area (format.h); until the code that uses it
 * lands, these answer EOPNOTSUPP, which programs take as "this file
 * system has none" (cp -a, tar and rsync go on without them).
 */
#include <errno.h>

#include "fs/sg_int.h"

int fs_setxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	(void)sg, (void)c, (void)ino, (void)name, (void)value, (void)size, (void)flags;
	return -EOPNOTSUPP;
}

ssize_t fs_getxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		    void *value, size_t size)
{
	(void)sg, (void)c, (void)ino, (void)name, (void)value, (void)size;
	return -EOPNOTSUPP;
}

ssize_t fs_listxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, char *list, size_t size)
{
	(void)sg, (void)c, (void)ino, (void)list, (void)size;
	return -EOPNOTSUPP;
}

int fs_removexattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name)
{
	(void)sg, (void)c, (void)ino, (void)name;
	return -EOPNOTSUPP;
}

int fs_fallocate(fs_sg *sg, const struct fs_cred *c, fs_file *f, int mode, uint64_t off,
		 uint64_t len)
{
	(void)sg, (void)c, (void)f, (void)mode, (void)off, (void)len;
	return -EOPNOTSUPP;
}
