/* tests/unit/test_fe.c - the FUSE front end's and the mount service's pure
 * parts: inode numbers, supplementary groups from /proc/<pid>/status,
 * fuse.mmfs lines of /proc/self/mountinfo (mmfsd/fe.h); mount options
 * and the CCR mount mark (mmfsd/fssvc.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "mmfsd/fe.h"
#include "mmfsd/fssvc.h"
#include "tests/unit/cunit_main.h"

static void test_ino(void)
{
	CU_ASSERT_EQUAL(fe_ino_to_fs(1), FS_ROOT_INO);
	CU_ASSERT_EQUAL(fe_ino_to_fuse(FS_ROOT_INO), 1);
	/* every other number is the file system's own, both ways */
	for (uint64_t i = 4; i < 100000; i += 997) {
		CU_ASSERT_EQUAL(fe_ino_to_fs(i), i);
		CU_ASSERT_EQUAL(fe_ino_to_fuse(i), i);
		CU_ASSERT_EQUAL(fe_ino_to_fs(fe_ino_to_fuse(i)), i);
	}
	CU_ASSERT_EQUAL(fe_ino_to_fs(fe_ino_to_fuse(FS_ROOT_INO)), FS_ROOT_INO);
	CU_ASSERT_EQUAL(fe_ino_to_fuse(UINT64_MAX), UINT64_MAX);
}

static void test_groups(void)
{
	struct fs_cred c = {.uid = 65534};
	char big[4096];
	size_t len;

	CU_ASSERT_EQUAL(fe_parse_groups("Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\n"
					"Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"
					"FDSize:\t64\nGroups:\t4 24 27 1000 \nNStgid:\t1\n", &c), MM_OK);
	CU_ASSERT_EQUAL(c.ngroups, 4);
	CU_ASSERT_EQUAL(c.groups[0], 4);
	CU_ASSERT_EQUAL(c.groups[3], 1000);
	CU_ASSERT_EQUAL(c.uid, 65534);	/* only the groups are touched */
	/* no supplementary groups: an empty line */
	CU_ASSERT_EQUAL(fe_parse_groups("Gid:\t0\nGroups:\t\nNStgid:\t1\n", &c), MM_OK);
	CU_ASSERT_EQUAL(c.ngroups, 0);
	CU_ASSERT_EQUAL(fe_parse_groups("Gid:\t0\nGroups:\n", &c), MM_OK);
	CU_ASSERT_EQUAL(c.ngroups, 0);
	/* no Groups line at all (not a status file) */
	c.ngroups = 3;
	CU_ASSERT_EQUAL(fe_parse_groups("Name:\tx\n", &c), MM_ENOENT);
	CU_ASSERT_EQUAL(c.ngroups, 0);
	CU_ASSERT_EQUAL(fe_parse_groups("", &c), MM_ENOENT);
	/* a line cut off by the end of what was read: the cut number is not a group */
	CU_ASSERT_EQUAL(fe_parse_groups("Groups:\t10 20 3", &c), MM_OK);
	CU_ASSERT_EQUAL(c.ngroups, 2);
	CU_ASSERT_EQUAL(c.groups[1], 20);
	/* "Groups" must start a line */
	CU_ASSERT_EQUAL(fe_parse_groups("XGroups:\t5 \n", &c), MM_ENOENT);
	/* more than FS_MAX_GROUPS: the first FS_MAX_GROUPS */
	len = (size_t)snprintf(big, sizeof(big), "Groups:");
	for (int i = 0; i < FS_MAX_GROUPS + 10; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, " %d", 1000 + i);
	snprintf(big + len, sizeof(big) - len, "\n");
	CU_ASSERT_EQUAL(fe_parse_groups(big, &c), MM_OK);
	CU_ASSERT_EQUAL(c.ngroups, FS_MAX_GROUPS);
	CU_ASSERT_EQUAL(c.groups[FS_MAX_GROUPS - 1], 1000 + FS_MAX_GROUPS - 1);
	/* the real thing: this process's own status parses, with what getgroups says */
	{
		char *st = NULL;
		gid_t gl[256];
		int ng = getgroups(256, gl);

		CU_ASSERT_EQUAL_FATAL(mm_read_file("/proc/self/status", 1 << 20, &st, NULL), MM_OK);
		CU_ASSERT_EQUAL(fe_parse_groups(st, &c), MM_OK);
		CU_ASSERT_EQUAL((int)c.ngroups, ng < FS_MAX_GROUPS ? ng : FS_MAX_GROUPS);
		for (uint32_t i = 0; i < c.ngroups && (int)i < ng; i++)
			CU_ASSERT_EQUAL(c.groups[i], gl[i]);
		free(st);
	}
}

struct seen {
	char mp[8][256], src[8][64];
	size_t n;
};

static void collect(void *arg, const char *mountpoint, const char *source)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->mp[s->n], sizeof(s->mp[0]), "%s", mountpoint);
		snprintf(s->src[s->n], sizeof(s->src[0]), "%s", source);
		s->n++;
	}
}

static void test_mountinfo(void)
{
	static const char info[] =
		"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		"40 22 0:35 / /gpfs/fs1 rw,nosuid,nodev,relatime shared:20 - fuse.mmfs fs1 "
		"rw,user_id=0,group_id=0,allow_other\n"
		"41 22 0:36 / /tmp/with\\040space rw,relatime - fuse.mmfs fs2 rw,user_id=0\n"
		"42 22 0:37 / /mnt/other rw,relatime shared:3 master:2 - fuse.sshfs fs1 rw\n"
		"43 22 0:38 / /mnt/nooptional rw - fuse.mmfs fs1 rw\n"
		"garbage line\n"
		"44 22 0:39 / /mnt/short rw -";
	struct seen s = {0};

	CU_ASSERT_EQUAL(fe_mountinfo_each(info, NULL, collect, &s), 3);
	CU_ASSERT_EQUAL(s.n, 3);
	CU_ASSERT_STRING_EQUAL(s.mp[0], "/gpfs/fs1");
	CU_ASSERT_STRING_EQUAL(s.src[0], "fs1");
	CU_ASSERT_STRING_EQUAL(s.mp[1], "/tmp/with space");	/* \040 decoded */
	CU_ASSERT_STRING_EQUAL(s.src[1], "fs2");
	CU_ASSERT_STRING_EQUAL(s.mp[2], "/mnt/nooptional");
	memset(&s, 0, sizeof(s));
	/* by device: another type's fs1 (fuse.sshfs) is not ours */
	CU_ASSERT_EQUAL(fe_mountinfo_each(info, "fs1", collect, &s), 2);
	CU_ASSERT_STRING_EQUAL(s.mp[1], "/mnt/nooptional");
	CU_ASSERT_EQUAL(fe_mountinfo_each(info, "fs9", NULL, NULL), 0);
	CU_ASSERT_EQUAL(fe_mountinfo_each("", NULL, NULL, NULL), 0);
	/* the mount on top at a path: the last entry there, any type */
	{
		static const char stacked[] =
			"40 22 0:35 / /gpfs/fs1 rw - fuse.mmfs fs1 rw\n"
			"41 22 0:36 / /tmp/with\\040space rw - fuse.mmfs fs2 rw\n"
			"45 40 0:52 / /gpfs/fs1 rw - tmpfs none rw\n"
			"46 22 0:53 / /gpfs/fs10 rw - fuse.mmfs fs10 rw\n";
		char mm[32];

		CU_ASSERT_TRUE(fe_mountinfo_top(stacked, "/gpfs/fs1", mm, sizeof(mm)));
		CU_ASSERT_STRING_EQUAL(mm, "0:52");
		CU_ASSERT_TRUE(fe_mountinfo_top(stacked, "/tmp/with space", mm, sizeof(mm)));
		CU_ASSERT_STRING_EQUAL(mm, "0:36");
		CU_ASSERT_FALSE(fe_mountinfo_top(stacked, "/gpfs", mm, sizeof(mm)));
		CU_ASSERT_FALSE(fe_mountinfo_top("", "/gpfs/fs1", mm, sizeof(mm)));
		CU_ASSERT_FALSE(fe_mountinfo_top("40 22 0:35", "/gpfs/fs1", mm, sizeof(mm)));
	}
	/* this machine's own table parses without a crash */
	{
		char *mi = NULL;

		if (mm_read_file("/proc/self/mountinfo", 16 << 20, &mi, NULL) == MM_OK)
			fe_mountinfo_each(mi, NULL, NULL, NULL);
		free(mi);
	}
}

static void test_opts(void)
{
	struct fssvc_opts o;
	char err[256], buf[128];

	CU_ASSERT_EQUAL(fssvc_parse_opts(NULL, &o, err, sizeof(err)), MM_OK);
	fssvc_format_opts(&o, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rw,relatime,suid,dev,exec");
	CU_ASSERT_EQUAL(fssvc_parse_opts("", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_FALSE(o.readonly);
	CU_ASSERT_EQUAL(fssvc_parse_opts("ro,noatime,nosuid,nodev,noexec", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_TRUE(o.readonly && o.nosuid && o.nodev && o.noexec);
	CU_ASSERT_EQUAL(o.atime, FS_ATIME_NOATIME);
	fssvc_format_opts(&o, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "ro,noatime,nosuid,nodev,noexec");
	/* later options win */
	CU_ASSERT_EQUAL(fssvc_parse_opts("ro,rw,noatime,atime,nosuid,suid", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_FALSE(o.readonly || o.nosuid);
	CU_ASSERT_EQUAL(o.atime, FS_ATIME_STRICT);
	CU_ASSERT_EQUAL(fssvc_parse_opts("noatime,relatime", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(o.atime, FS_ATIME_RELATIME);
	CU_ASSERT_FALSE(o.nodiratime);
	CU_ASSERT_EQUAL(fssvc_parse_opts("strictatime,nodiratime", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_TRUE(o.nodiratime);
	CU_ASSERT_EQUAL(o.atime, FS_ATIME_STRICT);
	fssvc_format_opts(&o, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rw,atime,suid,dev,exec,nodiratime");
	CU_ASSERT_EQUAL(fssvc_parse_opts("nodiratime,diratime", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_FALSE(o.nodiratime);
	/* empty items are skipped; unknown ones named */
	CU_ASSERT_EQUAL(fssvc_parse_opts(",ro,,", &o, err, sizeof(err)), MM_OK);
	CU_ASSERT_TRUE(o.readonly);
	CU_ASSERT_EQUAL(fssvc_parse_opts("ro,writeback", &o, err, sizeof(err)), MM_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"writeback\""));
	CU_ASSERT_EQUAL(fssvc_parse_opts("allow_other", &o, err, sizeof(err)), MM_EINVAL);
	{
		char longopt[600];

		memset(longopt, 'r', sizeof(longopt) - 1);
		longopt[sizeof(longopt) - 1] = '\0';
		CU_ASSERT_EQUAL(fssvc_parse_opts(longopt, &o, err, sizeof(err)), MM_EINVAL);
	}
}

static void test_mark(void)
{
	struct fssvc_mark m = {.node = 3}, back;
	char *t = NULL, err[256];

	snprintf(m.device, sizeof(m.device), "fs1");
	snprintf(m.mountpoint, sizeof(m.mountpoint), "/gpfs/fs \"1\"");
	snprintf(m.opts, sizeof(m.opts), "rw,relatime,suid,dev,exec");
	CU_ASSERT_EQUAL_FATAL(fssvc_mark_encode(&m, &t), MM_OK);
	CU_ASSERT_EQUAL(fssvc_mark_decode(t, strlen(t), &back, err, sizeof(err)), MM_OK);
	CU_ASSERT_STRING_EQUAL(back.device, "fs1");
	CU_ASSERT_EQUAL(back.node, 3);
	CU_ASSERT_STRING_EQUAL(back.mountpoint, m.mountpoint);
	CU_ASSERT_STRING_EQUAL(back.opts, m.opts);
	free(t);
	/* shared input: every field checked */
	CU_ASSERT_EQUAL(fssvc_mark_decode("", 0, &back, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(fssvc_mark_decode("[1]", 3, &back, err, sizeof(err)), MM_EPROTO);
#define BAD(s) CU_ASSERT_EQUAL(fssvc_mark_decode(s, strlen(s), &back, err, sizeof(err)), MM_EPROTO)
	BAD("{\"device\":\"fs1\",\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	BAD("{\"device\":\"fs1\",\"node\":0,\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	BAD("{\"device\":\"fs1\",\"node\":4294967296,\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	BAD("{\"device\":\"fs1\",\"node\":\"2\",\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	BAD("{\"device\":\"\",\"node\":2,\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	BAD("{\"device\":\"fs1\",\"node\":2,\"options\":\"rw\"}");
	BAD("{\"device\":\"fs1\",\"node\":2,\"mountpoint\":7,\"options\":\"rw\"}");
	BAD("{\"device\":\"a-very-long-device-name-that-does-not-fit-in-sixty-four-bytes-at-all\","
	    "\"node\":2,\"mountpoint\":\"/m\",\"options\":\"rw\"}");
	/* only the first <len> bytes count */
	{
		const char *ok = "{\"device\":\"fs1\",\"node\":2,\"mountpoint\":\"/m\",\"options\":\"rw\"}";

		CU_ASSERT_EQUAL(fssvc_mark_decode(ok, strlen(ok), &back, err, sizeof(err)), MM_OK);
		CU_ASSERT_EQUAL(back.node, 2);
		CU_ASSERT_EQUAL(fssvc_mark_decode(ok, strlen(ok) - 1, &back, err, sizeof(err)), MM_EPROTO);
	}
#undef BAD
}

static void register_tests(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"inode numbers: FUSE root <-> FS_ROOT_INO", test_ino},
		{"supplementary groups from /proc/<pid>/status", test_groups},
		{"fuse.mmfs mounts of /proc/self/mountinfo", test_mountinfo},
		{"mount options", test_opts},
		{"mount mark in the CCR", test_mark},
	};

	MM_ADD_SUITE("fe", tests);
}

MM_CUNIT_MAIN(register_tests)
