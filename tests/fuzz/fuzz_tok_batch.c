/*
 * tests/fuzz/fuzz_tok_batch.c - libFuzzer target for the framing of a
 * MSG_TOK_BATCH payload (toknet_batch_check, tokens/toknet.h) and the
 * state machines behind it.
 *
 * A refused frame must come with a reason and deliver nothing. An accepted
 * one must split into exactly the messages it counted, each inside the
 * input; they are then fed in order to one server (space 0, serving epoch
 * 3 after a rebuild from node 1) and one client (view epoch 3) as the
 * daemon's handler does, from node 1: whatever they are, they are refused
 * or handled without crashing, and the client, which asked for nothing,
 * is idle afterwards (a revoke of nothing is answered at once).
 * Seeds: tests/fuzz/seeds/fuzz_tok_batch/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "tokens/tok_int.h"
#include "tokens/toknet.h"

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
	static int quiet;
	struct tok_xport x = {.send = null_send};
	struct tok_server *s = NULL;
	struct tok_client *c = NULL;
	const uint32_t servers[1] = {0}, members[1] = {1};
	size_t n = 0, off = 0, k = 0;
	char why[160];

	if (!quiet) {
		mm_log_set_level(MM_LOG_FATAL);
		quiet = 1;
	}
	why[0] = '\0';
	if (toknet_batch_check(data, size, &n, why, sizeof(why)) != MM_OK) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (n == 0)
		abort();
	if (tok_server_create(0, 0, &x, &s) != MM_OK || tok_client_create(0, &x, &c) != MM_OK)
		goto out;
	tok_server_start_epoch(s, 3, members, 1, NULL, 0);
	tok_client_set_view(c, 0, 3, servers, 1);
	while (off < size) {
		size_t ml;

		if (size - off < 2)
			abort();
		ml = mm_be16_get(data + off);
		if (ml == 0 || ml > size - off - 2)
			abort();
		if (tok_msg_for_server(data + off + 2, ml))
			tok_server_recv(s, 1, data + off + 2, ml);
		else
			tok_client_recv(c, 1, data + off + 2, ml);
		off += 2 + ml;
		k++;
	}
	if (k != n || !tok_client_idle(c))
		abort();
out:
	tok_client_destroy(c);
	tok_server_destroy(s);
	return 0;
}
