/*
 * tests/unit/test_fsrec.c - the CCR record of a file system
 * (mmfsd/fsrec.c): round trips, the canonical text, every refusal of the
 * strict decoder, and the fsid choice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "mmfsd/fsrec.h"
#include "tests/unit/cunit_main.h"

static struct fsrec *sample(void)
{
	struct fsrec *r = calloc(1, sizeof(*r));

	snprintf(r->device, sizeof(r->device), "fs1");
	r->fsid = 7;
	r->state = FSREC_READY;
	snprintf(r->mount_point, sizeof(r->mount_point), "/gpfs/fs1");
	snprintf(r->automount, sizeof(r->automount), "automount");
	r->num_nodes = 32;
	r->created = 1796000000;
	snprintf(r->created_on, sizeof(r->created_on), "127.0.0.1");
	r->ndisks = 3;
	for (uint32_t i = 0; i < 3; i++) {
		snprintf(r->disk[i].name, sizeof(r->disk[i].name), "nsd%u", i + 1);
		r->disk[i].id = 0x0a0b0c0d00000000ull + i;
	}
	return r;
}

static void test_roundtrip(void)
{
	struct fsrec *r = sample(), *g = calloc(1, sizeof(*g));
	char *t = NULL, *t2 = NULL, err[256];

	CU_ASSERT_EQUAL_FATAL(fsrec_encode(r, &t), MM_OK);
	CU_ASSERT(strstr(t, "\"version\":1") != NULL);
	CU_ASSERT(strstr(t, "\"id\":\"0A0B0C0D00000002\"") != NULL);
	CU_ASSERT_EQUAL_FATAL(fsrec_decode(t, strlen(t), g, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(memcmp(r, g, sizeof(*r)), 0);
	CU_ASSERT_EQUAL(fsrec_encode(g, &t2), MM_OK);
	CU_ASSERT_STRING_EQUAL(t, t2);	/* canonical */
	r->state = FSREC_CREATING;
	free(t);
	CU_ASSERT_EQUAL(fsrec_encode(r, &t), MM_OK);
	CU_ASSERT_EQUAL(fsrec_decode(t, strlen(t), g, err, sizeof(err)), MM_OK);
	CU_ASSERT_EQUAL(g->state, FSREC_CREATING);
	free(t);
	free(t2);
	free(r);
	free(g);
}

/* Replace the first <from> in the sample's text by <to> and decode. */
static int mutated(const char *from, const char *to, char *err, size_t errsz)
{
	struct fsrec *r = sample(), *g = calloc(1, sizeof(*g));
	char *t = NULL, buf[4096], *p;
	int rc;

	fsrec_encode(r, &t);
	p = strstr(t, from);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - t), t, to, p + strlen(from));
	rc = fsrec_decode(buf, strlen(buf), g, err, errsz);
	free(t);
	free(r);
	free(g);
	return rc;
}

static void test_refusals(void)
{
	static const struct {
		const char *from, *to, *why;
	} cases[] = {
		{"\"fsid\":7", "\"fsid\":0", "fsid"},
		{"\"fsid\":7", "\"fsid\":2147483648", "fsid"},
		{"\"fsid\":7", "\"fsid\":\"7\"", "fsid"},
		{"\"device\":\"fs1\"", "\"device\":\"fs/1\"", "device"},
		{"\"device\":\"fs1\"", "\"device\":\"\"", "device"},
		{"\"state\":\"ready\"", "\"state\":\"mounted\"", "state"},
		{"\"mountPoint\":\"/gpfs/fs1\"", "\"mountPoint\":\"gpfs\"", "mountPoint"},
		{"\"automount\":\"automount\"", "\"automount\":\"maybe\"", "automount"},
		{"\"numNodes\":32", "\"numNodes\":0", "numNodes"},
		{"\"created\":1796000000", "\"created\":-1", "created"},
		{"\"createdOn\":\"127.0.0.1\"", "\"createdOn\":\"\"", "createdOn"},
		{"\"nsd\":\"nsd2\"", "\"nsd\":\"nsd1\"", "twice"},
		{"\"nsd\":\"nsd2\"", "\"nsd\":\"2nsd\"", "NSD name"},
		{"\"id\":\"0A0B0C0D00000002\"", "\"id\":\"0a0b0c0d00000002\"", "upper-case"},
		{"\"id\":\"0A0B0C0D00000002\"", "\"id\":\"0A0B0C0D00000000\"", "twice"},
		{"\"id\":\"0A0B0C0D00000002\"", "\"id\":\"0A0B0C0D00000002\",\"x\":1", "unknown field"},
		{"\"createdOn\"", "\"extra\":1,\"createdOn\"", "unknown field"},
		{"\"numNodes\":32,", "", "numNodes"},
		{"{\"nsd\":\"nsd1\",\"id\":\"0A0B0C0D00000000\"},{\"nsd\":\"nsd2\",\"id\":\"0A0B0C0D00000001\"},"
		 "{\"nsd\":\"nsd3\",\"id\":\"0A0B0C0D00000002\"}", "", "disks"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mutated(cases[i].from, cases[i].to, err, sizeof(err));

		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		if (!strstr(err, cases[i].why))
			printf("case %zu: \"%s\" does not say %s\n", i, err, cases[i].why);
		CU_ASSERT(strstr(err, cases[i].why) != NULL);
	}
	CU_ASSERT_EQUAL(mutated("\"version\":1", "\"version\":2", err, sizeof(err)), MM_ENOTSUP);
	CU_ASSERT(strstr(err, "version 2") != NULL);
	CU_ASSERT_EQUAL(mutated("\"127.0.0.1\"}", "\"127.0.0.1\"} {}", err, sizeof(err)), MM_EPROTO);	/* trailing text */
	{
		struct fsrec *g = calloc(1, sizeof(*g));

		CU_ASSERT_EQUAL(fsrec_decode("[1]", 3, g, err, sizeof(err)), MM_EPROTO);
		CU_ASSERT_EQUAL(fsrec_decode("{\"version\":1", 12, g, err, sizeof(err)), MM_EPROTO);
		CU_ASSERT_EQUAL(fsrec_decode("{\"version\":1}\0", 14, g, err, sizeof(err)), MM_EPROTO);
		free(g);
	}
}

static void test_lowest_free(void)
{
	uint32_t a[] = {3, 1, 2, 5}, b[] = {2, 0, 4}, full[] = {FS_FSID_MAX};

	CU_ASSERT_EQUAL(fsrec_lowest_free(NULL, 0), 1);
	CU_ASSERT_EQUAL(fsrec_lowest_free(a, 4), 4);
	CU_ASSERT_EQUAL(fsrec_lowest_free(b, 3), 1);
	CU_ASSERT_EQUAL(fsrec_lowest_free(full, 1), 1);
	{
		uint32_t dup[] = {1, 1, 2, 2, 3};

		CU_ASSERT_EQUAL(fsrec_lowest_free(dup, 5), 4);
	}
}

static void test_keys(void)
{
	char k[128];

	fsrec_key("fs1", k, sizeof(k));
	CU_ASSERT_STRING_EQUAL(k, "/mmfs/fs/fs1");
	fsrec_fsid_key(12, k, sizeof(k));
	CU_ASSERT_STRING_EQUAL(k, "/mmfs/fsid/12");
	CU_ASSERT_STRING_EQUAL(fsrec_state_name(FSREC_CREATING), "creating");
}

static void register_tests(void)
{
	static const struct mm_test t[] = {
		{"round trip, canonical text", test_roundtrip},
		{"every refusal of the decoder", test_refusals},
		{"lowest free fsid", test_lowest_free},
		{"CCR keys", test_keys},
	};

	MM_ADD_SUITE("fsrec", t);
}

MM_CUNIT_MAIN(register_tests)
