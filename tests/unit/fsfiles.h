/*
 * tests/unit/fsfiles.h - files through fs.h for the mounted-stripe-group
 * tests (after fsmount.h): make one with given bytes, check one reads
 * back exactly, a byte pattern, count a directory's entries. As root.
 */
#ifndef MM_TESTS_UNIT_FSFILES_H
#define MM_TESTS_UNIT_FSFILES_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

static const struct fs_cred root = {0, 0, 0, {0}, 022};

static inline uint64_t mkfile(fs_sg *sg, uint64_t dir, const char *name, const void *data, size_t len)
{
	struct fs_attr a;
	fs_file *f = NULL;

	CU_ASSERT_EQUAL_FATAL(fs_create(sg, &root, dir, name, 0644, O_CREAT | O_RDWR, &a, &f), 0);
	if (len)
		CU_ASSERT_EQUAL(fs_write(sg, &root, f, data, len, 0), (ssize_t)len);
	CU_ASSERT_EQUAL(fs_release(sg, f), 0);
	fs_forget(sg, a.ino, 1);
	return a.ino;
}

static inline void check_file(fs_sg *sg, uint64_t dir, const char *name, const uint8_t *data, size_t len)
{
	struct fs_attr a;
	fs_file *f = NULL;
	uint8_t *buf = malloc(len + 1);

	/* not _FATAL: a test that stops here would leave its pool's
	 * threads running into the next test's mkfs */
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	if (fs_lookup(sg, &root, dir, name, &a) != 0) {
		CU_FAIL("lookup of a file that should be there");
		fprintf(stderr, "check_file: %s not found in directory %llu\n", name,
			(unsigned long long)dir);
		free(buf);
		return;
	}
	CU_ASSERT_EQUAL(a.size, len);
	if (fs_open(sg, &root, a.ino, O_RDONLY, &f) == 0) {
		CU_ASSERT_EQUAL(fs_read(sg, f, buf, len + 1, 0), (ssize_t)len);
		CU_ASSERT(memcmp(buf, data, len) == 0);
		fs_release(sg, f);
	} else {
		CU_FAIL("open of a file that should be there");
	}
	fs_forget(sg, a.ino, 1);
	free(buf);
}

static inline uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 12));
	return p;
}

struct cnt {
	int n;
	bool dot, dotdot;
};

static inline int count_fn(void *arg, const char *name, uint64_t ino, uint8_t type, uint64_t cookie,
		    const struct fs_attr *attr)
{
	struct cnt *c = arg;

	(void)ino, (void)type, (void)cookie, (void)attr;
	if (!strcmp(name, "."))
		c->dot = true;
	else if (!strcmp(name, ".."))
		c->dotdot = true;
	else
		c->n++;
	return 0;
}

static inline int count_dir(fs_sg *sg, uint64_t dir)
{
	struct cnt c = {0};
	fs_file *f = NULL;

	CU_ASSERT_EQUAL_FATAL(fs_open(sg, &root, dir, O_RDONLY | O_DIRECTORY, &f), 0);
	CU_ASSERT_EQUAL(fs_readdir(sg, f, 0, false, count_fn, &c), 0);
	CU_ASSERT(c.dot && c.dotdot);
	fs_release(sg, f);
	return c.n;
}

#endif
