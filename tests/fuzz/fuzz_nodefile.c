/*
 * tests/fuzz/fuzz_nodefile.c - libFuzzer target for node descriptors.
 *
 * The input is parsed as a node file (cfg_parse_node_text) and, NUL-cut,
 * as a -N list (cfg_parse_node_list). What parses is written back as
 * descriptors ("name:designation:admin", IPv6 in brackets) and must parse
 * to the same nodes. Any failure must leave a non-empty message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "config/config.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_nodefile: invariant broken: %s\n", what);
		abort();
	}
}

static void put_name(FILE *f, const char *name)
{
	fprintf(f, strchr(name, ':') ? "[%s]" : "%s", name);
}

/* Write <d> back as a node file and as a list; both must give <d>. */
static void round_trip(const struct cfg_node_desc *d, size_t n)
{
	char *text = NULL, err[512] = "";
	size_t len = 0, m;
	struct cfg_node_desc *e;
	FILE *f = open_memstream(&text, &len);

	check(f != NULL, "open_memstream");
	for (size_t i = 0; i < n; i++) {
		const char *des = d[i].quorum ?
			(d[i].manager ? "quorum-manager" : "quorum") :
			(d[i].manager ? "manager" : "client");

		put_name(f, d[i].name);
		fprintf(f, ":%s:", des);
		put_name(f, d[i].admin);
		if (i + 1 < n)
			fputc('\n', f);
	}
	fclose(f);
	if (cfg_parse_node_text(text, len, "rt", &e, &m, err, sizeof(err)) != MM_OK) {
		fprintf(stderr, "%s\n---\n%s\n", err, text);
		check(0, "written node file does not parse");
	}
	check(m == n, "round trip count");
	for (size_t i = 0; i < n; i++) {
		check(strcmp(d[i].name, e[i].name) == 0, "round trip name");
		check(strcmp(d[i].admin, e[i].admin) == 0, "round trip admin");
		check(d[i].quorum == e[i].quorum && d[i].manager == e[i].manager,
		      "round trip designation");
	}
	free(e);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_node_desc *d = NULL;
	size_t n = 0;
	char err[512] = "", *s;

	if (size > 256 * 1024)
		return 0;
	if (cfg_parse_node_text((const char *)data, size, "fuzz", &d, &n, err,
				sizeof(err)) == MM_OK) {
		check(n >= 1 && n <= CFG_MAX_NODES, "node count");
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < i; j++)
				check(strcasecmp(d[i].name, d[j].name) != 0,
				      "duplicate name accepted");
		round_trip(d, n);
		free(d);
	} else {
		check(err[0] != '\0' && d == NULL && n == 0, "error result");
	}

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	if (cfg_parse_node_list(s, &d, &n, err, sizeof(err)) == MM_OK) {
		round_trip(d, n);
		free(d);
	} else {
		check(err[0] != '\0' && d == NULL && n == 0, "list error result");
	}
	free(s);
	return 0;
}
