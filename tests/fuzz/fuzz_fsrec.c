/*
 * tests/fuzz/fuzz_fsrec.c - the CCR record of a file system
 * (mmfsd/fsrec.c) from arbitrary bytes: the CCR is shared input, so the
 * decoder must refuse what is wrong, never crash; whatever it accepts must
 * pass fsrec_check, encode, and decode back to the same record, and its
 * encoding is canonical (encoding it again gives the same text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmfsd/fsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fsrec r, g;
	char err[512], *t = NULL, *t2 = NULL;

	if (fsrec_decode((const char *)data, size, &r, err, sizeof(err)) != 0)
		return 0;
	if (fsrec_check(&r, err, sizeof(err)) != 0)
		abort();	/* decode accepts only what check accepts */
	if (fsrec_encode(&r, &t) != 0)
		abort();
	if (fsrec_decode(t, strlen(t), &g, err, sizeof(err)) != 0 || memcmp(&r, &g, sizeof(r)) != 0)
		abort();	/* what decodes must encode and decode to the same */
	if (fsrec_encode(&g, &t2) != 0 || strcmp(t, t2) != 0)
		abort();	/* one text per record */
	free(t);
	free(t2);
	return 0;
}
