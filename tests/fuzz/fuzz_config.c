/*
 * tests/fuzz/fuzz_config.c - libFuzzer target for config/ libconfig input.
 *
 * The input is tried as
 *   1. a cluster definition (cfg_cluster_parse); when it parses, format
 *      and parse again must give the same struct (round trip);
 *   2. a local settings file (cfg_load_file through a temp file); when it
 *      loads, every value in the set must validate to itself;
 *   3. if short, a value for one attribute (first byte picks it):
 *      validation of the canonical form must give it back unchanged;
 *   4. text that config/lcsyntax.c accepts must parse in libconfig too
 *      (only its semantic errors may remain), so libconfig never meets a
 *      syntax error, where it leaks.
 * Any failure must leave a non-empty message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "common/err.h"
#include "config/config.h"
#include "config/config_int.h"

static char tmp_path[64];
static int tmp_fd = -1;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_config: invariant broken: %s\n", what);
		abort();
	}
}

static int same_cluster(const struct cfg_cluster *a, const struct cfg_cluster *b)
{
	if (strcmp(a->name, b->name) || a->id != b->id || strcmp(a->rsh, b->rsh) ||
	    strcmp(a->rcp, b->rcp) || a->port != b->port ||
	    a->etcd_client_port != b->etcd_client_port ||
	    a->etcd_peer_port != b->etcd_peer_port ||
	    a->generation != b->generation || a->nnodes != b->nnodes ||
	    a->nattrs != b->nattrs)
		return 0;
	for (size_t i = 0; i < a->nnodes; i++) {
		const struct cfg_node *x = &a->nodes[i], *y = &b->nodes[i];

		if (x->number != y->number || strcmp(x->name, y->name) ||
		    strcmp(x->ip, y->ip) || strcmp(x->admin, y->admin) ||
		    x->quorum != y->quorum || x->manager != y->manager)
			return 0;
	}
	for (size_t i = 0; i < a->nattrs; i++)
		if (strcmp(a->attr_names[i], b->attr_names[i]) ||
		    strcmp(a->attr_values[i], b->attr_values[i]))
			return 0;
	return 1;
}

static void try_cluster(const char *text)
{
	struct cfg_cluster c, d;
	char err[512] = "", *out = NULL;

	cfg_cluster_init(&c);
	if (cfg_cluster_parse(&c, text, "fuzz", err, sizeof(err)) != MM_OK) {
		check(err[0] != '\0', "cluster parse error without a message");
		check(c.nnodes == 0 && c.nodes == NULL, "failed parse changed the cluster");
		cfg_cluster_free(&c);
		return;
	}
	check(c.nnodes >= 1 && cfg_cluster_quorum_count(&c) >= 1, "cluster without quorum node");
	for (size_t i = 1; i < c.nnodes; i++)
		check(c.nodes[i - 1].number < c.nodes[i].number, "nodes not sorted by number");
	check(cfg_cluster_format(&c, &out) == MM_OK, "format failed");
	cfg_cluster_init(&d);
	if (cfg_cluster_parse(&d, out, "formatted", err, sizeof(err)) != MM_OK) {
		fprintf(stderr, "%s\n---\n%s\n", err, out);
		check(0, "formatted cluster does not parse");
	}
	check(same_cluster(&c, &d), "cluster round trip differs");
	free(out);
	cfg_cluster_free(&d);
	cfg_cluster_free(&c);
}

static void try_syntax(const char *text)
{
	config_t lc;
	char err[512] = "";

	if (cfg_lc_syntax(text, "fuzz", err, sizeof(err)) != MM_OK) {
		check(err[0] != '\0', "syntax error without a message");
		return;
	}
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		const char *t = config_error_text(&lc);

		if (!t || (strcmp(t, "duplicate setting name") != 0 &&
			   strcmp(t, "mismatched element type in array") != 0)) {
			fprintf(stderr, "libconfig: line %d: %s\n",
				config_error_line(&lc), t ? t : "?");
			check(0, "lcsyntax accepted what libconfig rejects");
		}
	}
	config_destroy(&lc);
}

static void try_settings(const uint8_t *data, size_t size)
{
	cfg_set *s;
	char err[512] = "", buf[256], canon[256];

	if (tmp_fd < 0 || ftruncate(tmp_fd, 0) != 0 ||
	    pwrite(tmp_fd, data, size, 0) != (ssize_t)size)
		return;
	s = cfg_set_new();
	check(s != NULL, "cfg_set_new");
	if (cfg_load_file(s, tmp_path, err, sizeof(err)) != MM_OK) {
		check(err[0] != '\0', "load error without a message");
	} else {
		for (size_t i = 0; i < cfg_attr_count(); i++) {
			const struct cfg_attr *a = cfg_attr_at(i);

			check(cfg_get(s, a->name, buf, sizeof(buf)) == MM_OK, "cfg_get");
			check(cfg_attr_validate(a, buf, canon, sizeof(canon), "x",
						err, sizeof(err)) == MM_OK,
			      "stored value does not validate");
			check(strcmp(buf, canon) == 0, "stored value not canonical");
		}
		check(cfg_set_check(s, err, sizeof(err)) == MM_OK,
		      "loaded set breaks a cross-attribute rule");
	}
	cfg_set_free(s);
}

static void try_value(const uint8_t *data, size_t size)
{
	const struct cfg_attr *a;
	char value[400], canon[256], again[256], err[512] = "";

	if (size < 1 || size > sizeof(value))
		return;
	a = cfg_attr_at(data[0] % cfg_attr_count());
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	if (cfg_attr_validate(a, value, canon, sizeof(canon), "fuzz", err,
			      sizeof(err)) != MM_OK) {
		check(err[0] != '\0', "validate error without a message");
		return;
	}
	check(cfg_attr_validate(a, canon, again, sizeof(again), "fuzz", err,
				sizeof(err)) == MM_OK, "canonical value rejected");
	check(strcmp(canon, again) == 0, "canonical form not stable");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/fuzz_config.XXXXXX";

	(void)argc;
	(void)argv;
	/* unlinked at once, read back through /proc: nothing is left
	 * behind however the fuzzer ends */
	tmp_fd = mkstemp(tmpl);
	if (tmp_fd >= 0) {
		unlink(tmpl);
		snprintf(tmp_path, sizeof(tmp_path), "/proc/self/fd/%d", tmp_fd);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	try_syntax(text);
	try_cluster(text);
	free(text);
	try_settings(data, size);
	try_value(data, size);
	return 0;
}
