/* tests/unit/test_nsd.c - nsd/: descriptor format and stanza files. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "nsd/desc.h"
#include "nsd/label.h"
#include "nsd/record.h"
#include "nsd/sys.h"
#include "nsd/stanza.h"
#include "tests/unit/cunit_main.h"

static struct nsd_desc sample(void)
{
	struct nsd_desc d = {0};

	d.nsd_id = 0x0A1B2C3D4E5F6071ull;
	d.cluster_id = 1234567890123ull;
	strcpy(d.name, "nsd1");
	d.created = 1795000000;
	d.disk_size = 4ull << 30;
	d.sector_size = 512;
	d.reserved_size = NSD_RESERVED_BYTES;
	return d;
}

static void test_desc_roundtrip(void)
{
	uint8_t buf[NSD_DESC_BYTES];
	struct nsd_desc d = sample(), e;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(nsd_desc_encode(&d, buf), MM_OK);
	CU_ASSERT_EQUAL(memcmp(buf, "MMFSNSD1", 8), 0);
	CU_ASSERT_EQUAL(nsd_desc_decode(buf, sizeof(buf), &e, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(e.nsd_id, d.nsd_id);
	CU_ASSERT_EQUAL(e.cluster_id, d.cluster_id);
	CU_ASSERT_STRING_EQUAL(e.name, "nsd1");
	CU_ASSERT_EQUAL(e.disk_size, d.disk_size);
	CU_ASSERT_EQUAL(e.sector_size, 512);
	CU_ASSERT_EQUAL(e.version, NSD_DESC_VERSION);
}

static void test_desc_corruption(void)
{
	uint8_t buf[NSD_DESC_BYTES], bad[NSD_DESC_BYTES];
	struct nsd_desc d = sample(), e;
	char err[256];

	nsd_desc_encode(&d, buf);
	/* a blank disk has no descriptor: not an error of the disk */
	memset(bad, 0, sizeof(bad));
	CU_ASSERT_EQUAL(nsd_desc_decode(bad, sizeof(bad), &e, err, sizeof(err)), MM_ENOENT);
	/* every single flipped bit in the covered bytes is detected */
	for (size_t i = 8; i < NSD_DESC_BYTES; i += 97) {
		memcpy(bad, buf, sizeof(bad));
		bad[i] ^= 0x10;
		CU_ASSERT_EQUAL(nsd_desc_decode(bad, sizeof(bad), &e, err, sizeof(err)), MM_ECHECKSUM);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "checksum"));
	CU_ASSERT_EQUAL(nsd_desc_decode(buf, 100, &e, err, sizeof(err)), MM_EINVAL);
	/* a newer format, correctly checksummed, is refused as unsupported */
	memcpy(bad, buf, sizeof(bad));
	bad[11] = 9;
	{
		uint32_t crc = mm_crc32c(0, bad, NSD_DESC_BYTES - 4);
		bad[NSD_DESC_BYTES - 4] = (uint8_t)(crc >> 24);
		bad[NSD_DESC_BYTES - 3] = (uint8_t)(crc >> 16);
		bad[NSD_DESC_BYTES - 2] = (uint8_t)(crc >> 8);
		bad[NSD_DESC_BYTES - 1] = (uint8_t)crc;
	}
	CU_ASSERT_EQUAL(nsd_desc_decode(bad, sizeof(bad), &e, err, sizeof(err)), MM_ENOTSUP);
	/* invalid contents are not encoded */
	strcpy(d.name, "1bad");
	CU_ASSERT_EQUAL(nsd_desc_encode(&d, buf), MM_EINVAL);
}

static void test_names_and_ids(void)
{
	char buf[32];
	uint64_t id;

	CU_ASSERT_TRUE(nsd_name_valid("nsd_01"));
	CU_ASSERT_FALSE(nsd_name_valid(""));
	CU_ASSERT_FALSE(nsd_name_valid("9lives"));
	CU_ASSERT_FALSE(nsd_name_valid("has-dash"));
	CU_ASSERT_FALSE(nsd_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	nsd_id_format(0x0A1B2C3D4E5F6071ull, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0A1B2C3D4E5F6071");
	CU_ASSERT_EQUAL(nsd_id_parse(buf, &id), MM_OK);
	CU_ASSERT_EQUAL(id, 0x0A1B2C3D4E5F6071ull);
	CU_ASSERT_EQUAL(nsd_id_parse("0A1B", &id), MM_EINVAL);
	CU_ASSERT_EQUAL(nsd_id_parse("0A1B2C3D4E5F607G", &id), MM_EINVAL);
}

static const char issue_stanzas[] =
	"# the issue's example\n"
	"%nsd: device=/tmp/c1/disks/d1 nsd=nsd1 servers=127.0.0.1,127.0.0.2 usage=dataAndMetadata failureGroup=1 pool=system\n"
	"%nsd: device=/tmp/c1/disks/d2 nsd=nsd2 servers=127.0.0.2,127.0.0.1 usage=dataAndMetadata failureGroup=2\n"
	"%nsd: device=/tmp/c1/disks/d3 nsd=nsd3 usage=dataOnly failureGroup=3\n";

static void test_stanza_issue_example(void)
{
	struct nsd_stanza *s;
	size_t n;
	char err[256], *text;

	CU_ASSERT_EQUAL_FATAL(nsd_stanza_parse(issue_stanzas, strlen(issue_stanzas), "disks.stanza",
					       &s, &n, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(s[0].nsd, "nsd1");
	CU_ASSERT_EQUAL(s[0].nservers, 2);
	CU_ASSERT_STRING_EQUAL(s[0].servers[1], "127.0.0.2");
	CU_ASSERT_EQUAL(s[1].failure_group, 2);
	CU_ASSERT_STRING_EQUAL(s[1].pool, "system");
	CU_ASSERT_EQUAL(s[2].usage, NSD_USAGE_DATA_ONLY);
	CU_ASSERT_EQUAL(s[2].nservers, 0);
	CU_ASSERT_EQUAL(s[2].line, 4);
	/* the rewritten file parses back to the same stanzas */
	CU_ASSERT_EQUAL_FATAL(nsd_stanza_format(s, n, &text), MM_OK);
	{
		struct nsd_stanza *t;
		size_t m;

		CU_ASSERT_EQUAL_FATAL(nsd_stanza_parse(text, strlen(text), "rewritten", &t, &m, err,
						       sizeof(err)), MM_OK);
		CU_ASSERT_EQUAL(m, n);
		for (size_t i = 0; i < n && i < m; i++) {
			t[i].line = s[i].line;
			t[i].last_line = s[i].last_line;
			t[i].usage_set = s[i].usage_set;
			CU_ASSERT_EQUAL(memcmp(&t[i], &s[i], sizeof(s[i])), 0);
		}
		free(t);
	}
	free(text);
	free(s);
}

static void test_stanza_syntax(void)
{
	static const char text[] =
		"%pool: pool=data blockSize=4M\n"
		"       usage=dataOnly        # other stanza types are skipped\n"
		"\n"
		"%nsd: nsd=d1   # a comment\n"
		"  # a comment line does not end the stanza\n"
		"      device=/dev/sdb\n"
		"      servers=node1 usage=dataOnly pool=data\n"
		"%NSD: device=/dev/sdc\n";
	struct nsd_stanza *s;
	size_t n;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(nsd_stanza_parse(text, strlen(text), "t", &s, &n, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(s[0].line, 4);
	CU_ASSERT_EQUAL(s[0].last_line, 7);
	CU_ASSERT_STRING_EQUAL(s[0].device, "/dev/sdb");
	CU_ASSERT_STRING_EQUAL(s[0].pool, "data");
	CU_ASSERT_STRING_EQUAL(s[1].nsd, "");		/* mmcrnsd names it */
	CU_ASSERT_EQUAL(s[1].usage, NSD_USAGE_DATA_AND_METADATA);
	CU_ASSERT_EQUAL(s[1].failure_group, -1);
	free(s);
}

static void expect_error(const char *text, const char *needle)
{
	struct nsd_stanza *s = NULL;
	size_t n = 0;
	char err[256] = "";
	int rc = nsd_stanza_parse(text, strlen(text), "f", &s, &n, err, sizeof(err));

	CU_ASSERT_NOT_EQUAL(rc, MM_OK);
	CU_ASSERT_PTR_NULL(s);
	if (!strstr(err, needle))
		printf("\n  expected \"%s\" in \"%s\"\n", needle, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void test_stanza_errors(void)
{
	expect_error("%nsd: nsd=a\n", "f:1: device: missing");
	expect_error("%nsd: device=/d usage=dataAndMeta\n", "f:1: usage: \"dataAndMeta\" is not one of");
	expect_error("\n%nsd: device=/d\n  failureGroup=65536\n", "f:3: failureGroup:");
	expect_error("%nsd: device=/d failureGroup=x\n", "failureGroup: \"x\" is not a failure group");
	expect_error("%nsd: device=/d servrs=a\n", "f:1: servrs: unknown %nsd attribute");
	expect_error("%nsd: device=/d device=/e\n", "device: given twice");
	expect_error("%nsd: device=relative\n", "not an absolute");
	expect_error("%nsd: device=/d nsd=9x\n", "nsd: \"9x\" is not a valid NSD name");
	expect_error("%nsd: device=/d servers=a,,b\n", "servers:");
	expect_error("%nsd: device=/d servers=a,b,c,d,e,f,g,h,i\n", "at most 8");
	expect_error("%nsd: device=/d servers=a,a\n", "listed twice");
	expect_error("%nsd: device=/d pool=data usage=dataAndMetadata\n", "f:1: pool: dataAndMetadata disks must be in the system pool");
	expect_error("%nsd: device=/d nsd=x\n%nsd: device=/e nsd=x\n", "f:2: nsd: name x also used by the stanza at line 1");
	expect_error("%nsd: device=/d\n%nsd: device=/d\n", "f:2: device: /d also used");
	expect_error("device=/d\n", "f:1: \"device=/d\" is outside any stanza");
	expect_error("%nsd device=/d\n", "a stanza starts with %keyword:");
	expect_error("%nsd: device=/d junk\n", "\"junk\" is not an Attribute=value clause");
	expect_error("# nothing\n", "no %nsd stanza");
	expect_error("%nsd: device=\n", "device: empty value");
	/* a line that is no stanza, clause or comment is never skipped in silence */
	expect_error("%nsd: device=/d\nthis line has no equals sign\n",
		     "f:2: \"this line has no equals sign\" is neither a stanza");
	expect_error("# disks\n%nsd: device=/d\n\n/dev/sdc:node1::dataOnly:1\n",
		     "f:4: \"/dev/sdc:node1::dataOnly:1\" is neither");
	expect_error("%pool: pool=data\n  blockSize\n", "f:2: \"blockSize\" is neither");
}

/* mmcrnsd's rewrite keeps the operator's comments and other lines */
static void test_stanza_rewrite_keeps_comments(void)
{
	static const char text[] =
		"# disks for fs1\n"
		"%pool: pool=data blockSize=4M   # the data pool\n"
		"\n"
		"%nsd: device=/dev/sdb   # first shelf\n"
		"  # servers follow\n"
		"  servers=node1 usage=dataOnly pool=data   # two paths later\n"
		"\n"
		"%nsd: device=/dev/sdc nsd=meta1\n"
		"# trailing note\n";
	static const char want[] =
		"# disks for fs1\n"
		"%pool: pool=data blockSize=4M   # the data pool\n"
		"\n"
		"%nsd: nsd=gpfs7nsd device=/dev/sdb servers=node1 usage=dataOnly failureGroup=4001 pool=data"
		"   # first shelf\n"
		"  # servers follow\n"
		"# two paths later\n"
		"\n"
		"%nsd: nsd=meta1 device=/dev/sdc usage=dataAndMetadata failureGroup=-1 pool=system\n"
		"# trailing note\n";
	struct nsd_stanza *s, *t;
	size_t n, m;
	char err[256], *out = NULL;

	CU_ASSERT_EQUAL_FATAL(nsd_stanza_parse(text, strlen(text), "t", &s, &n, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	strcpy(s[0].nsd, "gpfs7nsd");		/* what mmcrnsd fills in */
	s[0].failure_group = 4001;
	CU_ASSERT_EQUAL_FATAL(nsd_stanza_rewrite(text, strlen(text), s, n, &out), MM_OK);
	if (strcmp(out, want) != 0)
		printf("\n  rewrite gave:\n%s", out);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL_FATAL(nsd_stanza_parse(out, strlen(out), "again", &t, &m, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(m, 2);
	if (m == 2) {
		CU_ASSERT_STRING_EQUAL(t[0].nsd, "gpfs7nsd");
		CU_ASSERT_EQUAL(t[0].failure_group, 4001);
		CU_ASSERT_STRING_EQUAL(t[1].device, "/dev/sdc");
	}
	free(t);
	free(out);
	/* no trailing newline: one is added */
	CU_ASSERT_EQUAL_FATAL(nsd_stanza_rewrite(text, strlen(text) - 1, s, n, &out), MM_OK);
	CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	/* stanzas that do not match the text are refused */
	CU_ASSERT_EQUAL(nsd_stanza_rewrite("# none\n", 7, s, n, &out), MM_EINVAL);
	CU_ASSERT_PTR_NULL(out);
	free(s);
}

static void test_record_roundtrip(void)
{
	struct nsd_record r = {0}, q;
	char *text = NULL, err[256];

	strcpy(r.name, "nsd1");
	r.id = 0x1122334455667788ull;
	strcpy(r.device, "/tmp/c1/disks/d1");
	strcpy(r.servers[0], "127.0.0.1");
	strcpy(r.servers[1], "127.0.0.2");
	r.nservers = 2;
	r.usage = NSD_USAGE_METADATA_ONLY;
	r.failure_group = 4001;
	strcpy(r.pool, "system");
	r.created = 1795000000;
	CU_ASSERT_EQUAL_FATAL(nsd_record_encode(&r, &text), MM_OK);
	CU_ASSERT_EQUAL(nsd_record_decode(text, strlen(text), &q, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(memcmp(&q, &r, sizeof(r)), 0);
	free(text);
	/* shared input: every bad field is refused with a reason */
	CU_ASSERT_EQUAL(nsd_record_decode("[]", 2, &q, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(nsd_record_decode("{\"name\":\"nsd1\"}", 15, &q, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"id\" missing"));
	{
		const char *bad = "{\"name\":\"9x\",\"id\":\"1122334455667788\",\"device\":\"/d\","
				  "\"pool\":\"system\",\"fs\":\"\",\"usage\":\"dataOnly\","
				  "\"failureGroup\":1,\"servers\":[]}";

		CU_ASSERT_EQUAL(nsd_record_decode(bad, strlen(bad), &q, err, sizeof(err)), MM_EPROTO);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid name"));
	}
}

static void test_label_io_and_faults(void)
{
	char path[] = "/tmp/test_nsd_label.XXXXXX", err[256];
	int fd = mkstemp(path);
	struct nsd_desc d = sample(), e;
	uint64_t size = 0;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, 8 << 20), 0);
	close(fd);
	CU_ASSERT_EQUAL(nsd_label_size(path, &size, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(size, 8 << 20);
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT_EQUAL(nsd_label_write(path, &d, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(e.nsd_id, d.nsd_id);

	/* a failing write or sync is reported, naming the device */
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_PWRITE, 1, EIO, false), MM_OK);
	CU_ASSERT_EQUAL(nsd_label_clear(path, err, sizeof(err)), MM_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	/* the failed write never reached the disk: the label is intact */
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(e.nsd_id, d.nsd_id);
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_PREAD, 1, EIO, true), MM_OK);
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_EIO);
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_EIO);	/* persistent */
	nsd_sys_reset();
	/* a failed sync is an error too: the write's durability is unknown */
	CU_ASSERT_EQUAL(nsd_sys_fail(NSD_SYS_FDATASYNC, 1, EIO, false), MM_OK);
	CU_ASSERT_EQUAL(nsd_label_clear(path, err, sizeof(err)), MM_EIO);
	nsd_sys_reset();
	CU_ASSERT_EQUAL(nsd_label_clear(path, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(nsd_label_read(path, &e, err, sizeof(err)), MM_ENOENT);
	/* too small for an NSD */
	CU_ASSERT_EQUAL(truncate(path, NSD_RESERVED_BYTES), 0);
	CU_ASSERT_EQUAL(nsd_label_write(path, &d, err, sizeof(err)), MM_ERANGE);
	CU_ASSERT_EQUAL(nsd_label_read("/nonexistent/disk", &e, err, sizeof(err)), MM_ENOENT);
	unlink(path);
}

static void register_tests(void)
{
	static const struct mm_test tests[] = {
		{"descriptor round trip", test_desc_roundtrip},
		{"descriptor corruption detected", test_desc_corruption},
		{"NSD names and ids", test_names_and_ids},
		{"stanzas of the issue", test_stanza_issue_example},
		{"stanza syntax", test_stanza_syntax},
		{"stanza errors name line and field", test_stanza_errors},
		{"stanza rewrite keeps comments", test_stanza_rewrite_keeps_comments},
		{"CCR record round trip and refusals", test_record_roundtrip},
		{"label I/O and injected faults", test_label_io_and_faults},
	};
	MM_ADD_SUITE("nsd", tests);
}

MM_CUNIT_MAIN(register_tests)
