/*
 * tests/fuzz/fuzz_stanza.c - NSD stanza files, CCR NSD records and NSD descriptors from
 * arbitrary bytes: both come from outside (an operator's file, a disk that
 * may hold anything). Whatever parses must format and parse back the same,
 * and so must mmcrnsd's rewrite of the text (comments kept).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nsd/desc.h"
#include "nsd/record.h"
#include "nsd/stanza.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nsd_stanza *s = NULL, *t = NULL;
	struct nsd_desc d;
	size_t n = 0, m = 0;
	char err[512], *text = NULL;

	if (size >= NSD_DESC_BYTES && nsd_desc_decode(data, size, &d, err, sizeof(err)) == 0) {
		uint8_t buf[NSD_DESC_BYTES];

		if (nsd_desc_encode(&d, buf) != 0)
			abort();	/* a descriptor that decodes must encode */
	}
	{
		struct nsd_record r;

		/* the CCR's NSD records are shared input too */
		if (nsd_record_decode((const char *)data, size, &r, err, sizeof(err)) == 0) {
			char *json = NULL;

			if (nsd_record_encode(&r, &json) != 0)
				abort();
			free(json);
		}
	}
	if (nsd_stanza_parse((const char *)data, size, "fuzz", &s, &n, err, sizeof(err)) != 0)
		return 0;
	if (nsd_stanza_format(s, n, &text) == 0) {
		if (nsd_stanza_parse(text, strlen(text), "again", &t, &m, err, sizeof(err)) != 0 || m != n)
			abort();	/* the rewritten file must parse back */
		free(t);
		free(text);
	}
	/* mmcrnsd's rewrite (comments kept) must parse back to as many stanzas */
	if (nsd_stanza_rewrite((const char *)data, size, s, n, &text) == 0) {
		if (nsd_stanza_parse(text, strlen(text), "rewritten", &t, &m, err, sizeof(err)) != 0 ||
		    m != n)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strcmp(t[i].device, s[i].device) || strcmp(t[i].nsd, s[i].nsd))
				abort();
		free(t);
		free(text);
	} else {
		abort();	/* it takes what nsd_stanza_parse returned for the text */
	}
	free(s);
	return 0;
}
