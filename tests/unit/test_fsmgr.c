/* tests/unit/test_fsmgr.c - cluster/fsmgr.c's pure parts: the choice of a
 * file system manager, the token server of an object, and the CCR records
 * of token spaces, appointments and cluster manager handovers. */
#include <stdio.h>
#include <string.h>

#include "cluster/clm.h"
#include "cluster/clm_int.h"
#include "common/err.h"
#include "tests/unit/cunit_main.h"

static void test_pick(void)
{
	uint32_t c[] = {4, 2, 7};
	unsigned l0[] = {0, 0, 0}, l1[] = {1, 0, 0}, l2[] = {1, 1, 0}, l3[] = {2, 3, 2};

	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l0, 0), 0);
	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l0, 3), 2);	/* tie: lowest number */
	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l1, 3), 2);
	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l2, 3), 7);	/* fewest spaces */
	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l3, 3), 4);	/* tie of 2: lowest of 4, 7 */
	CU_ASSERT_EQUAL(clm_fsmgr_pick(c, l0, 1), 4);
}

/* Appointing one space after another spreads them evenly. */
static void test_pick_spreads(void)
{
	uint32_t c[] = {1, 2, 3, 5};
	unsigned loads[4] = {0};

	for (int s = 0; s < 10; s++) {
		uint32_t n = clm_fsmgr_pick(c, loads, 4);

		for (int i = 0; i < 4; i++)
			loads[i] += c[i] == n;
	}
	for (int i = 0; i < 4; i++)
		CU_ASSERT(loads[i] == 2 || loads[i] == 3);
	CU_ASSERT_EQUAL(loads[0] + loads[1] + loads[2] + loads[3], 10);
	CU_ASSERT_EQUAL(loads[0], 3);	/* the remainder goes to the lowest numbers */
	CU_ASSERT_EQUAL(loads[1], 3);
}

static void test_rec_roundtrip(void)
{
	struct clm_fsmgr f = {0}, g = {0};
	char buf[256];

	f.node = 3;
	f.epoch = 17;
	f.servers[0] = 3;
	f.servers[1] = 1;
	f.servers[2] = 12;
	f.nservers = 3;
	CU_ASSERT_EQUAL(clm_fsmgr_rec_format(&f, buf, sizeof(buf)), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "node=3 epoch=17 servers=3,1,12");
	CU_ASSERT_EQUAL(clm_fsmgr_rec_parse(buf, &g), MM_OK);
	CU_ASSERT_EQUAL(g.node, 3);
	CU_ASSERT_EQUAL(g.epoch, 17);
	CU_ASSERT_EQUAL(g.nservers, 3);
	CU_ASSERT_EQUAL(g.servers[2], 12);
	/* no manager: no servers */
	CU_ASSERT_EQUAL(clm_fsmgr_rec_parse("node=0 epoch=4 servers=", &g), MM_OK);
	CU_ASSERT_EQUAL(g.node, 0);
	CU_ASSERT_EQUAL(g.nservers, 0);
	CU_ASSERT_EQUAL(clm_fsmgr_rec_format(&f, buf, 10), MM_ETOOBIG);
	/* a field of a later version is ignored */
	CU_ASSERT_EQUAL(clm_fsmgr_rec_parse("node=2 epoch=1 servers=2 future=x", &g), MM_OK);
}

static void test_rec_malformed(void)
{
	static const char *const bad[] = {
		"", "node=2", "node=2 epoch=0 servers=2", "node=2 epoch=1 servers=3,2",
		"node=2 epoch=1 servers=", "node=0 epoch=1 servers=2", "node=x epoch=1 servers=x",
		"node=2 epoch=-1 servers=2", "node=2 epoch=1 servers=2,,3", "node=2 epoch=1 servers=2,0",
		"node=4294967296 epoch=1 servers=4294967296", "node=2 epoch=1 servers=2 junk",
		"node=2 epoch=1 servers=2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2,1,2",
	};
	struct clm_fsmgr g;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = clm_fsmgr_rec_parse(bad[i], &g);

		if (rc != MM_EPROTO)
			fprintf(stderr, "\n  accepted \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
	}
}

static void test_space_record(void)
{
	struct clm_fsmgr f;

	CU_ASSERT_EQUAL(clm_tokspace_parse("device=fs1 spread=0", &f), MM_OK);
	CU_ASSERT_STRING_EQUAL(f.device, "fs1");
	CU_ASSERT_FALSE(f.spread);
	CU_ASSERT_EQUAL(clm_tokspace_parse("spread=1 device=gpfs_a-1.x later=2", &f), MM_OK);
	CU_ASSERT_STRING_EQUAL(f.device, "gpfs_a-1.x");
	CU_ASSERT_TRUE(f.spread);
	CU_ASSERT_EQUAL(clm_tokspace_parse("spread=1", &f), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_tokspace_parse("device=a/b", &f), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_tokspace_parse("device=fs1 spread=2", &f), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_tokspace_parse("device=", &f), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_tokspace_parse(NULL, &f), MM_EPROTO);
}

static void test_keys(void)
{
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgr/00000000000000a1", CLM_KEY_FSMGR), 0xa1);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/tokspace/ffffffffffffffff", CLM_KEY_TOKSPACE),
			0xffffffffffffffffull);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgr/00000000000000A1", CLM_KEY_FSMGR), 0);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgr/a1", CLM_KEY_FSMGR), 0);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgr/0000000000000000", CLM_KEY_FSMGR), 0);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgrwant/00000000000000a1", CLM_KEY_FSMGR), 0);
	CU_ASSERT_EQUAL(clm_fsid_of_key("/mmfs/fsmgrwant/00000000000000a1", CLM_KEY_FSMGRWANT), 0xa1);
}

static void test_handover(void)
{
	uint32_t to, from;
	bool res;

	CU_ASSERT_EQUAL(clm_handover_parse("to=2 from=1 state=asked", &to, &from, &res), MM_OK);
	CU_ASSERT_EQUAL(to, 2);
	CU_ASSERT_EQUAL(from, 1);
	CU_ASSERT_FALSE(res);
	CU_ASSERT_EQUAL(clm_handover_parse("to=3 from=2 state=resigned", &to, &from, &res), MM_OK);
	CU_ASSERT_TRUE(res);
	CU_ASSERT_EQUAL(clm_handover_parse("to=0 from=2 state=asked", &to, &from, &res), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_handover_parse("to=3 from=2 state=maybe", &to, &from, &res), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_handover_parse("to=3", &to, &from, &res), MM_EPROTO);
}

static void register_tests(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"pick: fewest spaces, then lowest number", test_pick},
		{"pick: successive appointments spread", test_pick_spreads},
		{"appointment record round trip", test_rec_roundtrip},
		{"appointment record malformed", test_rec_malformed},
		{"token space record", test_space_record},
		{"keys of spaces and appointments", test_keys},
		{"handover record", test_handover},
	};
	CU_pSuite s = CU_add_suite("fsmgr", NULL, NULL);

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
}

MM_CUNIT_MAIN(register_tests)
