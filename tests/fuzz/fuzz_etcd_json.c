/*
 * tests/fuzz/fuzz_etcd_json.c - libFuzzer target for the etcd answer
 * parsers of cluster/etcd_json.c (declared in cluster/etcd_int.h).
 *
 * The input is given, as one HTTP body, to every response parser (range,
 * header-only, deleterange, txn, lease grant, lease keepalive, member list,
 * member add, watch message); then to the watch stream splitter in two
 * chunks cut where the first byte says, each complete object going to the
 * watch message parser; then to base64 decoding, whose successes must
 * re-encode to the input. Invariants: nothing crashes or leaks, a failure
 * leaves the outputs empty, a success returns consistent outputs.
 * Seeds: tests/fuzz/seeds/fuzz_etcd_json/ (answers captured from etcd 3.4).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd_int.h"
#include "common/err.h"
#include "common/log.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_etcd_json: invariant broken: %s\n", what);
		abort();
	}
}

static int on_obj(const char *obj, size_t len, void *arg)
{
	struct etcd_watch_msg m;
	int rc = etcd_parse_watch_msg(obj, len, &m);

	(*(int *)arg)++;
	check(len > 0 && obj[0] == '{', "split object starts with {");
	if (rc == MM_OK)
		check((m.nev == 0) == (m.ev == NULL), "watch events/count");
	else
		check(m.ev == NULL && m.nev == 0, "failed watch parse left events");
	etcd_watch_msg_clear(&m);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mm_log_set_level(MM_LOG_FATAL);	/* parsers log every malformed answer */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct etcd_kv *kvs;
	struct etcd_member *ms;
	struct etcd_watch_msg m;
	struct etcd_jsplit sp;
	int64_t rev, i1, i2;
	uint64_t u;
	size_t n;
	bool b;
	int rc, objs = 0;

	rc = etcd_parse_range(body, size, &kvs, &n, &rev);
	if (rc == MM_OK) {
		check((n == 0) == (kvs == NULL), "range kvs/count");
		for (size_t i = 0; i < n; i++)
			check(kvs[i].key && kvs[i].value && kvs[i].value[kvs[i].value_len] == '\0',
			      "kv strings terminated");
	} else {
		check(kvs == NULL && n == 0, "failed range left kvs");
	}
	etcd_kvs_free(kvs, n);

	etcd_parse_header_only(body, size, &rev);
	rc = etcd_parse_deleterange(body, size, &i1);
	check(rc == MM_OK ? i1 >= 0 : i1 == 0, "deleted count");
	etcd_parse_txn(body, size, &b, &rev);
	rc = etcd_parse_lease_grant(body, size, &i1, &i2);
	check(rc == MM_OK ? (i1 != 0 && i2 > 0) : (i1 == 0 && i2 == 0), "lease grant outputs");
	rc = etcd_parse_lease_keepalive(body, size, &i1);
	check(rc == MM_OK ? i1 > 0 : i1 == 0, "keepalive ttl");
	rc = etcd_parse_member_list(body, size, &ms, &n);
	if (rc == MM_OK) {
		check((n == 0) == (ms == NULL), "members/count");
		for (size_t i = 0; i < n; i++)
			check(ms[i].id != 0 && memchr(ms[i].name, 0, sizeof(ms[i].name)) &&
			      memchr(ms[i].client_url, 0, sizeof(ms[i].client_url)),
			      "member fields");
	} else {
		check(ms == NULL && n == 0, "failed member list left members");
	}
	free(ms);
	rc = etcd_parse_member_add(body, size, &u);
	check(rc == MM_OK ? u != 0 : u == 0, "member add id");
	if (etcd_parse_watch_msg(body, size, &m) == MM_OK)
		check(m.err != 0 || m.nev == 0 || m.ev != NULL, "watch msg");
	etcd_watch_msg_clear(&m);

	/* the stream splitter, two chunks */
	{
		size_t cut = size ? (size_t)data[0] % (size + 1) : 0;

		etcd_jsplit_init(&sp);
		rc = etcd_jsplit_feed(&sp, body, cut, on_obj, &objs);
		if (rc == MM_OK)
			etcd_jsplit_feed(&sp, body + cut, size - cut, on_obj, &objs);
		etcd_jsplit_free(&sp);
	}

	/* base64 */
	{
		char *out = NULL, *enc;
		size_t olen;

		if (etcd_b64_decode(body, size, &out, &olen) == MM_OK) {
			check(out[olen] == '\0', "b64 terminated");
			enc = etcd_b64_encode(out, olen);
			/* bits below the padding may differ; compare the length */
			check(enc && strlen(enc) == size, "b64 round trip length");
			free(enc);
		} else {
			check(out == NULL, "failed b64 left output");
		}
		free(out);
	}
	return 0;
}
