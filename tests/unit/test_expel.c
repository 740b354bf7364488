/* tests/unit/test_expel.c - cluster/expel.c's pure parts: who the cluster
 * manager expels for a request (clm_expel_decide) and the request record
 * (value and key). */
#include <stdio.h>
#include <string.h>

#include "cluster/clm.h"
#include "cluster/clm_int.h"
#include "common/err.h"
#include "tests/unit/cunit_main.h"

/* Cluster manager 1; quorum nodes 1-3; target 4 (client) reported by 2
 * (quorum), both active; the target's member key older than the request. */
static struct clm_expel_in base(void)
{
	struct clm_expel_in in = {0};

	in.target = 4;
	in.requester = 2;
	in.cm = 1;
	in.target_active = in.requester_active = true;
	in.target_quorum = false;
	in.requester_quorum = true;
	in.req_rev = 100;
	in.target_rev = 50;
	in.now_ms = 1000000;
	return in;
}

static void test_target(void)
{
	struct clm_expel_in in = base();
	uint32_t v = 99;

	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 4);
	/* both client nodes, or both quorum nodes: the reported one */
	in.requester_quorum = false;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 4);
	in.target = 3;
	in.target_quorum = in.requester_quorum = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 3);
	/* a client reported by a quorum node */
	in = base();
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	/* a node reporting itself */
	in.requester = 4;
	in.requester_quorum = false;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 4);
	/* the member key made at the request's own revision is not newer */
	in = base();
	in.target_rev = in.req_rev;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
}

static void test_requester_instead(void)
{
	struct clm_expel_in in = base();
	uint32_t v = 0;

	/* the cluster manager reported: the requester goes */
	in.target = 1;
	in.target_quorum = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_REQUESTER);
	CU_ASSERT_EQUAL(v, 2);
	/* a quorum node reported by a client node: keep the quorum node */
	in = base();
	in.target = 3;
	in.target_quorum = true;
	in.requester = 5;
	in.requester_quorum = false;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_REQUESTER);
	CU_ASSERT_EQUAL(v, 5);
	/* ... unless the cluster manager cannot reach the quorum node either:
	 * it is the one gone (a dead node's peers report it first) */
	in.target_unreachable = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 3);
	in.target_unreachable = false;
	/* mmexpelnode (named): the node named, whoever asks */
	in.named = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 3);
}

static void test_drops(void)
{
	struct clm_expel_in in = base();
	uint32_t v = 99;

	in.target_active = false;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_TARGET_GONE);
	CU_ASSERT_EQUAL(v, 0);
	in = base();
	in.requester_active = false;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_REQUESTER_GONE);
	/* the target rejoined after the request: a new incarnation */
	in = base();
	in.target_rev = in.req_rev + 1;
	v = 99;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_REJOINED);
	CU_ASSERT_EQUAL(v, 0);
	in.named = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_REJOINED);
	/* never the cluster manager: named, or the manager reporting itself
	 * (the requester would be the victim instead) */
	in = base();
	in.target = 1;
	in.target_quorum = true;
	in.named = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_CM);
	in.named = false;
	in.requester = 1;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_CM);
	/* the cluster manager reporting a quorum node: the node reported (the
	 * manager is a quorum node itself) */
	in = base();
	in.requester = 1;
	in.target = 3;
	in.target_quorum = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 3);
}

static void test_holdoff(void)
{
	struct clm_expel_hist h[3] = {
		{4, 3, 990000},		/* another requester */
		{5, 2, 999000},		/* another victim */
		{4, 2, 0},		/* set below */
	};
	struct clm_expel_in in = base();
	uint64_t hold = (uint64_t)CLM_EXPEL_HOLDOFF_S * 1000;
	uint32_t v = 0;

	in.hist = h;
	in.nhist = 2;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	in.nhist = 3;
	h[2].at_ms = in.now_ms - hold + 1;	/* just inside the hold-off */
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_RECENT);
	CU_ASSERT_EQUAL(v, 0);
	h[2].at_ms = in.now_ms - hold;		/* just past it */
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	CU_ASSERT_EQUAL(v, 4);
	/* mmexpelnode is not held off */
	h[2].at_ms = in.now_ms - 1;
	in.named = true;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_TARGET);
	/* the hold-off is on the victim: a requester expelled instead is not
	 * expelled again at its own request */
	in = base();
	in.target = 3;
	in.target_quorum = true;
	in.requester = 5;
	in.requester_quorum = false;
	h[0] = (struct clm_expel_hist){5, 5, in.now_ms - 1000};
	in.hist = h;
	in.nhist = 1;
	CU_ASSERT_EQUAL(clm_expel_decide(&in, &v), CLM_EXPEL_DROP_RECENT);
	for (int i = CLM_EXPEL_TARGET; i <= CLM_EXPEL_DROP_RECENT; i++)
		CU_ASSERT(strcmp(clm_expel_verdict_text((enum clm_expel_verdict)i), "?") != 0);
}

static void test_record(void)
{
	struct clm_expelreq r;
	char buf[512], why[300];

	CU_ASSERT_EQUAL(clm_expelreq_format(buf, sizeof(buf), 3, 1700000000, false,
					    "token revoke to node 4 lost: connection reset"), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "from=3 at=1700000000 named=0 why=token revoke to node 4 lost: "
			       "connection reset");
	CU_ASSERT_EQUAL(clm_expelreq_parse(buf, &r), MM_OK);
	CU_ASSERT_EQUAL(r.from, 3);
	CU_ASSERT_EQUAL(r.at, 1700000000);
	CU_ASSERT_FALSE(r.named);
	CU_ASSERT_STRING_EQUAL(r.why, "token revoke to node 4 lost: connection reset");
	/* one line, bounded */
	CU_ASSERT_EQUAL(clm_expelreq_format(buf, sizeof(buf), 2, 5, true, "a\nb\tc"), MM_OK);
	CU_ASSERT_STRING_EQUAL(buf, "from=2 at=5 named=1 why=a b c");
	memset(why, 'x', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	CU_ASSERT_EQUAL(clm_expelreq_format(buf, sizeof(buf), 2, 5, true, why), MM_OK);
	CU_ASSERT_EQUAL(clm_expelreq_parse(buf, &r), MM_OK);
	CU_ASSERT_TRUE(r.named);
	CU_ASSERT_EQUAL(strlen(r.why), CLM_EXPEL_WHY_MAX - 1);
	CU_ASSERT_EQUAL(clm_expelreq_format(buf, 10, 2, 5, true, "x"), MM_ETOOBIG);
	CU_ASSERT_EQUAL(clm_expelreq_format(buf, sizeof(buf), 0, 5, true, "x"), MM_EINVAL);
	/* the brief form, and fields of later versions */
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=7 why=", &r), MM_OK);
	CU_ASSERT_EQUAL(r.from, 7);
	CU_ASSERT_STRING_EQUAL(r.why, "");
	CU_ASSERT_EQUAL(clm_expelreq_parse("later=1 from=7 why=x=y z", &r), MM_OK);
	CU_ASSERT_STRING_EQUAL(r.why, "x=y z");
	/* malformed */
	CU_ASSERT_EQUAL(clm_expelreq_parse("why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=0 why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=x why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=3 named=2 why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=3 at=-1 why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse("from=3 junk why=x", &r), MM_EPROTO);
	CU_ASSERT_EQUAL(clm_expelreq_parse(NULL, &r), MM_EPROTO);
	/* keys */
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/4"), 4);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/4294967295"), 4294967295u);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/4294967296"), 0);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/0"), 0);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/"), 0);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/expelreq/4x"), 0);
	CU_ASSERT_EQUAL(clm_expelreq_target("/mmfs/members/4"), 0);
}

static void register_tests(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{"decide: the reported node", test_target},
		{"decide: the requester instead", test_requester_instead},
		{"decide: dropped requests", test_drops},
		{"decide: hold-off against flapping", test_holdoff},
		{"request record and key", test_record},
	};

	MM_ADD_SUITE("expel", tests);
}

MM_CUNIT_MAIN(register_tests)
