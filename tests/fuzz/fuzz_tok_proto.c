/*
 * tests/fuzz/fuzz_tok_proto.c - libFuzzer target for the token message
 * codec (tokens/proto.c) and the state machines behind it.
 *
 * Every input is decoded: a refusal must be MM_EPROTO with a reason; a
 * message that decodes must satisfy the documented limits and re-encode
 * to exactly the input bytes (round trip; abort otherwise). Then the
 * input is fed to a fresh server and a fresh client as if from node 1:
 * whatever it is, they must refuse it or handle it without crashing.
 * Seeds (valid messages of each type): tests/fuzz/seeds/fuzz_tok_proto/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "tokens/tok_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_send(void *arg, uint32_t to, const void *buf, size_t len)
{
	(void)arg;
	(void)to;
	(void)buf;
	(void)len;
	return MM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tok_msg m;
	static uint8_t again[TOK_MSG_MAX];
	static int quiet;
	struct tok_xport x = {.send = null_send};
	struct tok_server *s;
	struct tok_client *c;
	uint32_t servers[1] = {0};
	char err[200];
	int rc;

	if (!quiet) {
		mm_log_set_level(MM_LOG_FATAL);
		quiet = 1;
	}
	err[0] = '\0';
	rc = tok_msg_decode(data, size, &m, err, sizeof(err));
	if (rc != MM_OK) {
		if (rc != MM_EPROTO || err[0] == '\0')
			abort();
	} else {
		if (m.type == 0 || m.type >= TOK_MSG_NTYPES || m.key.kind >= TOK_NKINDS ||
		    m.n > TOK_MAX_CONFLICTS || m.reqid == 0)
			abort();
		if ((m.type == TOK_MSG_ACQ || m.type == TOK_MSG_GRANT || m.type == TOK_MSG_CONFLICT ||
		     m.type == TOK_MSG_REVOKE || m.type == TOK_MSG_RELINQ ||
		     m.type == TOK_MSG_REASSERT) && m.r.start >= m.r.end)
			abort();
		if (tok_msg_encode(&m, again) != size || memcmp(again, data, size) != 0)
			abort();
	}
	if (tok_server_create(0, 0, &x, &s) == MM_OK) {
		tok_server_recv(s, 1, data, size);
		tok_server_destroy(s);
	}
	if (tok_client_create(0, &x, &c) == MM_OK) {
		tok_client_set_view(c, 0, 0, servers, 1);
		tok_client_recv(c, 1, data, size);
		/* a revoke of nothing is answered and forgotten: idle again */
		if (!tok_client_idle(c))
			abort();
		tok_client_destroy(c);
	}
	return 0;
}
