/*
 * config/cluster.c - the cluster definition (GPFS's mmsdrfs), in libconfig
 * syntax:
 *
 *   cluster = { name = "demo.127.0.0.1"; id = "1234567890123456789";
 *               rsh = "/usr/bin/ssh"; rcp = "/usr/bin/scp"; port = 1191;
 *               etcdClientPort = 2379; etcdPeerPort = 2380; generation = 1; };
 *   nodes = ( { number = 1; name = "127.0.0.1"; ip = "127.0.0.1";
 *               admin = "127.0.0.1"; designation = "quorum-manager"; } );
 *   attributes = ( { name = "pagepool"; value = "512M"; } );
 *
 * Entry points: cfg_cluster_init(), cfg_cluster_free(), cfg_cluster_parse(),
 * cfg_cluster_load(), cfg_cluster_format(), cfg_cluster_save(),
 * cfg_cluster_node(), cfg_cluster_node_num(), cfg_cluster_quorum_count().
 *
 * Parsing is strict: every field is required (attributes may be absent),
 * unknown fields are errors, and the result satisfies the invariants
 * listed in config/README.md, so format(parse(x)) parses back to the same
 * struct. The id is a decimal string (libconfig integers are 32 bits
 * unless written with an L suffix); generation and node numbers above
 * 2^31-1 are written with the L suffix.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "config/config.h"
#include "config/config_int.h"

#define CLUSTER_FILE_MAX (16u << 20)

void cfg_cluster_init(struct cfg_cluster *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->rsh, "/usr/bin/ssh");
	strcpy(c->rcp, "/usr/bin/scp");
	c->port = 1191;
	c->etcd_client_port = 2379;
	c->etcd_peer_port = 2380;
}

void cfg_cluster_free(struct cfg_cluster *c)
{
	free(c->nodes);
	free(c->attr_names);
	free(c->attr_values);
	cfg_cluster_init(c);
}

/* ---- parsing helpers; each error is "<source>:<line>: <ctx>: ..." ---- */

struct pctx {
	const char *source;
	char *err;
	size_t errsz;
};

static const char *where_of(const struct pctx *px, const config_setting_t *st,
			    char *buf, size_t bufsz)
{
	return cfg_lc_where(st, px->source, buf, bufsz);
}

/* Every member of <grp> is one of <names>. */
static int only_fields(const struct pctx *px, const config_setting_t *grp,
		       const char *ctx, const char *const *names)
{
	char w[4200], q[80];

	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k;

		for (k = 0; names[k]; k++)
			if (name && strcmp(name, names[k]) == 0)
				break;
		if (!names[k]) {
			cfg_errf(px->err, px->errsz, "%s: %s: unknown field %s",
				 where_of(px, m, w, sizeof(w)), ctx,
				 cfg_quote(name ? name : "", name ? strlen(name) : 0,
					   q, sizeof(q)));
			return MM_EINVAL;
		}
	}
	return MM_OK;
}

static const config_setting_t *member(const struct pctx *px,
				      const config_setting_t *grp,
				      const char *ctx, const char *name)
{
	config_setting_t *m = config_setting_get_member(grp, name);
	char w[4200];

	if (!m)
		cfg_errf(px->err, px->errsz, "%s: %s: missing field \"%s\"",
			 where_of(px, grp, w, sizeof(w)), ctx, name);
	return m;
}

static int get_str(const struct pctx *px, const config_setting_t *grp,
		   const char *ctx, const char *name, char *buf, size_t bufsz)
{
	const config_setting_t *m = member(px, grp, ctx, name);
	const char *v;
	char w[4200], q[80];

	if (!m)
		return MM_EINVAL;
	where_of(px, m, w, sizeof(w));
	v = config_setting_get_string(m);
	if (config_setting_type(m) != CONFIG_TYPE_STRING || !v) {
		cfg_errf(px->err, px->errsz, "%s: %s: %s must be a string", w,
			 ctx, name);
		return MM_EINVAL;
	}
	if (strlen(v) >= bufsz) {
		cfg_errf(px->err, px->errsz, "%s: %s: %s is longer than %zu "
			 "characters", w, ctx, name, bufsz - 1);
		return MM_EINVAL;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_errf(px->err, px->errsz, "%s: %s: %s %s contains a "
				 "control character", w, ctx, name,
				 cfg_quote(v, strlen(v), q, sizeof(q)));
			return MM_EINVAL;
		}
	}
	strcpy(buf, v);
	return MM_OK;
}

static int get_int(const struct pctx *px, const config_setting_t *grp,
		   const char *ctx, const char *name, int64_t min, int64_t max,
		   int64_t *out)
{
	const config_setting_t *m = member(px, grp, ctx, name);
	char w[4200];
	int64_t v;

	if (!m)
		return MM_EINVAL;
	where_of(px, m, w, sizeof(w));
	if (config_setting_type(m) != CONFIG_TYPE_INT &&
	    config_setting_type(m) != CONFIG_TYPE_INT64) {
		cfg_errf(px->err, px->errsz, "%s: %s: %s must be an integer",
			 w, ctx, name);
		return MM_EINVAL;
	}
	v = config_setting_get_int64(m);
	if (v < min || v > max) {
		cfg_errf(px->err, px->errsz, "%s: %s: %s %" PRId64 " is out of "
			 "range %" PRId64 "..%" PRId64, w, ctx, name, v, min, max);
		return MM_ERANGE;
	}
	*out = v;
	return MM_OK;
}

/* A named string field checked by <check> (name, ip, designation ...). */
static int fail_at(const struct pctx *px, const config_setting_t *grp,
		   const char *ctx, const char *name, const char *why)
{
	const config_setting_t *m = config_setting_get_member(grp, name);
	char w[4200];

	cfg_errf(px->err, px->errsz, "%s: %s: %s: %s",
		 where_of(px, m ? m : grp, w, sizeof(w)), ctx, name, why);
	return MM_EINVAL;
}

static bool cluster_name_ok(const char *s)
{
	if (!*s || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-:", *s))
			return false;
	return true;
}

int cfg_cluster_name_check(const char *name, char *why, size_t whysz)
{
	size_t len = strlen(name);
	char q[80];

	cfg_quote(name, len, q, sizeof(q));
	if (len == 0) {
		cfg_errf(why, whysz, "empty cluster name");
		return MM_EINVAL;
	}
	if (len > CFG_CLUSTER_NAME_MAX) {
		cfg_errf(why, whysz, "cluster name %s is %zu characters long: at most %d", q, len,
			 CFG_CLUSTER_NAME_MAX);
		return MM_EINVAL;
	}
	if (!isalnum((unsigned char)name[0])) {
		cfg_errf(why, whysz, "cluster name %s must start with a letter or a digit", q);
		return MM_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (isalnum(c) || c == '.' || c == '_' || c == '-')
			continue;
		if (c < 0x20 || c >= 0x7f)
			cfg_errf(why, whysz, "cluster name %s contains an invalid character (0x%02x): "
				 "use letters, digits, '.', '_' and '-'", q, c);
		else
			cfg_errf(why, whysz, "cluster name %s contains an invalid character '%c': "
				 "use letters, digits, '.', '_' and '-'", q, c);
		return MM_EINVAL;
	}
	return MM_OK;
}

static int parse_id(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 20 || s[0] == '0')
		return MM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (!isdigit((unsigned char)s[i]))
			return MM_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return MM_ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return MM_OK;
}

static int parse_cluster_group(const struct pctx *px, const config_setting_t *g,
			       struct cfg_cluster *c)
{
	static const char *const fields[] = {
		"name", "id", "rsh", "rcp", "port", "etcdClientPort",
		"etcdPeerPort", "generation", NULL,
	};
	const char *ctx = "cluster";
	char id[32];
	int64_t v;
	int rc;

	if ((rc = only_fields(px, g, ctx, fields)))
		return rc;
	if ((rc = get_str(px, g, ctx, "name", c->name, sizeof(c->name))))
		return rc;
	if (!cluster_name_ok(c->name))
		return fail_at(px, g, ctx, "name", "use letters, digits, '.', "
			       "'_', '-' and ':', not starting with '.' or '-'");
	if ((rc = get_str(px, g, ctx, "id", id, sizeof(id))))
		return rc;
	if (parse_id(id, &c->id))
		return fail_at(px, g, ctx, "id", "must be a non-zero decimal "
			       "number below 2^64, without leading zeros");
	if ((rc = get_str(px, g, ctx, "rsh", c->rsh, sizeof(c->rsh))))
		return rc;
	if (c->rsh[0] != '/')
		return fail_at(px, g, ctx, "rsh", "must be an absolute path");
	if ((rc = get_str(px, g, ctx, "rcp", c->rcp, sizeof(c->rcp))))
		return rc;
	if (c->rcp[0] != '/')
		return fail_at(px, g, ctx, "rcp", "must be an absolute path");
	if ((rc = get_int(px, g, ctx, "port", 1, 65535, &v)))
		return rc;
	c->port = (uint16_t)v;
	if ((rc = get_int(px, g, ctx, "etcdClientPort", 1, 65535, &v)))
		return rc;
	c->etcd_client_port = (uint16_t)v;
	if ((rc = get_int(px, g, ctx, "etcdPeerPort", 1, 65535, &v)))
		return rc;
	c->etcd_peer_port = (uint16_t)v;
	if (c->port == c->etcd_client_port || c->port == c->etcd_peer_port ||
	    c->etcd_client_port == c->etcd_peer_port)
		return fail_at(px, g, ctx, "port", "port, etcdClientPort and "
			       "etcdPeerPort must all differ");
	if ((rc = get_int(px, g, ctx, "generation", 0, INT64_MAX, &v)))
		return rc;
	c->generation = (uint64_t)v;
	return MM_OK;
}

static int parse_node(const struct pctx *px, const config_setting_t *g,
		      size_t k, const struct cfg_cluster *c, struct cfg_node *nd)
{
	static const char *const fields[] = {
		"number", "name", "ip", "admin", "designation", NULL,
	};
	char ctx[40], buf[256], why[300], w[4200];
	int64_t v;
	int rc;

	snprintf(ctx, sizeof(ctx), "node entry %zu", k + 1);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cfg_errf(px->err, px->errsz, "%s: %s: must be a group "
			 "{ number = ...; name = ...; ... }",
			 where_of(px, g, w, sizeof(w)), ctx);
		return MM_EINVAL;
	}
	memset(nd, 0, sizeof(*nd));
	if ((rc = only_fields(px, g, ctx, fields)))
		return rc;
	if ((rc = get_int(px, g, ctx, "number", 1, UINT32_MAX, &v)))
		return rc;
	nd->number = (uint32_t)v;
	if ((rc = get_str(px, g, ctx, "name", buf, sizeof(buf))))
		return rc;
	if (cfg_node_name_check(buf, nd->name, sizeof(nd->name), why, sizeof(why)))
		return fail_at(px, g, ctx, "name", why);
	if ((rc = get_str(px, g, ctx, "ip", buf, sizeof(buf))))
		return rc;
	if (cfg_ip_canon(buf, nd->ip, sizeof(nd->ip)))
		return fail_at(px, g, ctx, "ip", "not an IPv4 or IPv6 address");
	if ((rc = get_str(px, g, ctx, "admin", buf, sizeof(buf))))
		return rc;
	if (cfg_node_name_check(buf, nd->admin, sizeof(nd->admin), why, sizeof(why)))
		return fail_at(px, g, ctx, "admin", why);
	if ((rc = get_str(px, g, ctx, "designation", buf, sizeof(buf))))
		return rc;
	if (cfg_designation_parse(buf, &nd->quorum, &nd->manager, why, sizeof(why)))
		return fail_at(px, g, ctx, "designation", why);
	/* unique number, name, ip and admin name */
	for (size_t i = 0; i < k; i++) {
		const struct cfg_node *o = &c->nodes[i];
		const char *f = NULL;

		if (o->number == nd->number)
			f = "number";
		else if (strcasecmp(o->name, nd->name) == 0)
			f = "name";
		else if (strcmp(o->ip, nd->ip) == 0)
			f = "ip";
		else if (strcasecmp(o->admin, nd->admin) == 0)
			f = "admin";
		if (f) {
			snprintf(why, sizeof(why), "same as in node entry %zu", i + 1);
			return fail_at(px, g, ctx, f, why);
		}
	}
	return MM_OK;
}

static int parse_nodes(const struct pctx *px, const config_setting_t *l,
		       struct cfg_cluster *c)
{
	size_t n = (size_t)config_setting_length(l);
	char w[4200];
	int rc;

	where_of(px, l, w, sizeof(w));
	if (config_setting_type(l) != CONFIG_TYPE_LIST) {
		cfg_errf(px->err, px->errsz, "%s: nodes must be a list: "
			 "nodes = ( { ... }, ... );", w);
		return MM_EINVAL;
	}
	if (n == 0 || n > CFG_MAX_NODES) {
		if (n)
			cfg_errf(px->err, px->errsz, "%s: nodes: more than %d "
				 "nodes", w, CFG_MAX_NODES);
		else
			cfg_errf(px->err, px->errsz, "%s: nodes: no nodes", w);
		return MM_EINVAL;
	}
	c->nodes = calloc(n, sizeof(*c->nodes));
	if (!c->nodes) {
		cfg_errf(px->err, px->errsz, "%s: out of memory", w);
		return MM_ENOMEM;
	}
	for (size_t k = 0; k < n; k++) {
		rc = parse_node(px, config_setting_get_elem(l, (unsigned)k), k, c,
				&c->nodes[k]);
		if (rc)
			return rc;
		c->nnodes = k + 1;
	}
	if (cfg_cluster_quorum_count(c) == 0) {
		cfg_errf(px->err, px->errsz, "%s: nodes: no quorum node", w);
		return MM_EINVAL;
	}
	return MM_OK;
}

static int parse_attrs(const struct pctx *px, const config_setting_t *l,
		       struct cfg_cluster *c)
{
	static const char *const fields[] = {"name", "value", NULL};
	size_t n = (size_t)config_setting_length(l);
	char w[4200], ctx[40], name[256], value[CFG_VALUE_MAX];
	int rc;

	where_of(px, l, w, sizeof(w));
	if (config_setting_type(l) != CONFIG_TYPE_LIST) {
		cfg_errf(px->err, px->errsz, "%s: attributes must be a list: "
			 "attributes = ( { name = \"...\"; value = \"...\"; } );", w);
		return MM_EINVAL;
	}
	if (n > cfg_attr_count()) {
		cfg_errf(px->err, px->errsz, "%s: attributes: more entries than "
			 "there are attributes", w);
		return MM_EINVAL;
	}
	if (n == 0)
		return MM_OK;
	c->attr_names = calloc(n, sizeof(*c->attr_names));
	c->attr_values = calloc(n, sizeof(*c->attr_values));
	if (!c->attr_names || !c->attr_values) {
		cfg_errf(px->err, px->errsz, "%s: out of memory", w);
		return MM_ENOMEM;
	}
	for (size_t k = 0; k < n; k++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)k);
		const config_setting_t *vm;
		const struct cfg_attr *a;

		snprintf(ctx, sizeof(ctx), "attribute entry %zu", k + 1);
		where_of(px, g, w, sizeof(w));
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			cfg_errf(px->err, px->errsz, "%s: %s: must be a group "
				 "{ name = \"...\"; value = \"...\"; }", w, ctx);
			return MM_EINVAL;
		}
		if ((rc = only_fields(px, g, ctx, fields)))
			return rc;
		if ((rc = get_str(px, g, ctx, "name", name, sizeof(name))))
			return rc;
		if ((rc = get_str(px, g, ctx, "value", value, sizeof(value))))
			return rc;
		a = cfg_attr_find(name);
		vm = config_setting_get_member(g, "name");
		where_of(px, vm ? vm : g, w, sizeof(w));
		if (!a) {
			cfg_unknown_attr_msg(name, w, px->err, px->errsz);
			return MM_ENOENT;
		}
		for (size_t i = 0; i < k; i++) {
			if (strcmp(c->attr_names[i], a->name) == 0) {
				cfg_errf(px->err, px->errsz, "%s: %s: %s is set "
					 "twice (also in attribute entry %zu)", w,
					 ctx, a->name, i + 1);
				return MM_EINVAL;
			}
		}
		vm = config_setting_get_member(g, "value");
		where_of(px, vm ? vm : g, w, sizeof(w));
		rc = cfg_attr_validate(a, value, c->attr_values[k],
				       sizeof(c->attr_values[k]), w, px->err,
				       px->errsz);
		if (rc)
			return rc;
		snprintf(c->attr_names[k], sizeof(c->attr_names[k]), "%s", a->name);
		c->nattrs = k + 1;
	}
	return MM_OK;
}

static int node_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct cfg_node *)a)->number;
	uint32_t y = ((const struct cfg_node *)b)->number;

	return x < y ? -1 : x > y;
}

int cfg_cluster_parse(struct cfg_cluster *c, const char *text, const char *source,
		      char *err, size_t errsz)
{
	static const char *const tops[] = {"cluster", "nodes", "attributes", NULL};
	struct pctx px = {source ? source : "(cluster definition)", err, errsz};
	const config_setting_t *root, *st;
	struct cfg_cluster t;
	config_t lc;
	char w[4200], q[80];
	int rc;

	rc = cfg_lc_read(&lc, text ? text : "", px.source, err, errsz);
	if (rc)
		return rc;
	cfg_cluster_init(&t);
	root = config_root_setting(&lc);
	for (int i = 0; i < config_setting_length(root); i++) {
		const char *name;
		size_t k;

		st = config_setting_get_elem(root, (unsigned)i);
		name = config_setting_name(st);
		for (k = 0; tops[k]; k++)
			if (name && strcmp(name, tops[k]) == 0)
				break;
		if (!tops[k]) {
			const char *sugg = NULL;

			for (k = 0; name && tops[k]; k++)
				if (cfg_edit_distance(name, tops[k]) <= 2)
					sugg = tops[k];
			cfg_errf(err, errsz, "%s: unknown setting %s%s%s%s",
				 where_of(&px, st, w, sizeof(w)),
				 cfg_quote(name ? name : "", name ? strlen(name) : 0,
					   q, sizeof(q)),
				 sugg ? "; did you mean " : "", sugg ? sugg : "",
				 sugg ? "?" : "");
			rc = MM_EINVAL;
			goto out;
		}
	}
	st = config_setting_get_member(root, "cluster");
	if (!st) {
		cfg_errf(err, errsz, "%s: missing cluster = { ... };", px.source);
		rc = MM_EINVAL;
		goto out;
	}
	if (config_setting_type(st) != CONFIG_TYPE_GROUP) {
		cfg_errf(err, errsz, "%s: cluster must be a group: cluster = "
			 "{ name = ...; ... };", where_of(&px, st, w, sizeof(w)));
		rc = MM_EINVAL;
		goto out;
	}
	rc = parse_cluster_group(&px, st, &t);
	if (rc)
		goto out;
	st = config_setting_get_member(root, "nodes");
	if (!st) {
		cfg_errf(err, errsz, "%s: missing nodes = ( ... );", px.source);
		rc = MM_EINVAL;
		goto out;
	}
	rc = parse_nodes(&px, st, &t);
	if (rc)
		goto out;
	st = config_setting_get_member(root, "attributes");
	if (st) {
		rc = parse_attrs(&px, st, &t);
		if (rc)
			goto out;
	}
	qsort(t.nodes, t.nnodes, sizeof(*t.nodes), node_cmp);
	cfg_cluster_free(c);
	*c = t;
	cfg_cluster_init(&t);
out:
	cfg_cluster_free(&t);
	config_destroy(&lc);
	return rc;
}

int cfg_cluster_load(struct cfg_cluster *c, const char *path, char *err, size_t errsz)
{
	char *text;
	size_t len;
	int rc;

	rc = mm_read_file(path, CLUSTER_FILE_MAX, &text, &len);
	if (rc) {
		cfg_errf(err, errsz, "%s: cannot read: %s", path, mm_strerror(rc));
		return rc;
	}
	if (strlen(text) != len) {
		cfg_errf(err, errsz, "%s: contains a NUL byte", path);
		rc = MM_EINVAL;
	} else {
		rc = cfg_cluster_parse(c, text, path, err, errsz);
	}
	free(text);
	return rc;
}

/* ---- formatting ---- */

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(f, "\\x%02x", ch);
			else
				fputc(ch, f);
		}
	}
	fputc('"', f);
}

/* An integer in libconfig syntax: an L suffix when it needs 64 bits. */
static void put_int(FILE *f, uint64_t v)
{
	fprintf(f, "%" PRIu64 "%s", v, v > INT32_MAX ? "L" : "");
}

int cfg_cluster_format(const struct cfg_cluster *c, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*out = NULL;
	if (!f)
		return MM_ENOMEM;
	fputs("# mmfs cluster definition (the local mmsdrfs). Written by mmfs.\n"
	      "cluster = {\n\tname = ", f);
	put_str(f, c->name);
	fprintf(f, ";\n\tid = \"%" PRIu64 "\";\n\trsh = ", c->id);
	put_str(f, c->rsh);
	fputs(";\n\trcp = ", f);
	put_str(f, c->rcp);
	fprintf(f, ";\n\tport = %u;\n\tetcdClientPort = %u;\n\tetcdPeerPort = %u;\n"
		"\tgeneration = ", c->port, c->etcd_client_port, c->etcd_peer_port);
	put_int(f, c->generation);
	fputs(";\n};\nnodes = (\n", f);
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct cfg_node *n = &c->nodes[i];

		fputs("\t{ number = ", f);
		put_int(f, n->number);
		fputs("; name = ", f);
		put_str(f, n->name);
		fputs("; ip = ", f);
		put_str(f, n->ip);
		fputs("; admin = ", f);
		put_str(f, n->admin);
		fputs("; designation = ", f);
		put_str(f, cfg_designation(n->quorum, n->manager));
		fprintf(f, "; }%s\n", i + 1 < c->nnodes ? "," : "");
	}
	fputs(");\nattributes = (\n", f);
	for (size_t i = 0; i < c->nattrs; i++) {
		fputs("\t{ name = ", f);
		put_str(f, c->attr_names[i]);
		fputs("; value = ", f);
		put_str(f, c->attr_values[i]);
		fprintf(f, "; }%s\n", i + 1 < c->nattrs ? "," : "");
	}
	fputs(");\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return MM_ENOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return MM_ENOMEM;
	}
	*out = buf;
	return MM_OK;
}

int cfg_cluster_save(const struct cfg_cluster *c, const char *path)
{
	char *text;
	int rc = cfg_cluster_format(c, &text);

	if (rc)
		return rc;
	rc = mm_write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

/* ---- lookup ---- */

const struct cfg_node *cfg_cluster_node(const struct cfg_cluster *c, const char *key)
{
	char ip[64];
	bool is_ip;
	int64_t num;

	if (!key)
		return NULL;
	is_ip = cfg_ip_canon(key, ip, sizeof(ip)) == MM_OK;

	for (size_t i = 0; i < c->nnodes; i++)
		if (strcasecmp(c->nodes[i].name, key) == 0)
			return &c->nodes[i];
	for (size_t i = 0; is_ip && i < c->nnodes; i++)
		if (strcmp(c->nodes[i].ip, ip) == 0)
			return &c->nodes[i];
	for (size_t i = 0; i < c->nnodes; i++)
		if (strcasecmp(c->nodes[i].admin, key) == 0)
			return &c->nodes[i];
	if (mm_parse_i64(key, &num) == MM_OK && num > 0 && num <= UINT32_MAX &&
	    isdigit((unsigned char)key[0]))
		return cfg_cluster_node_num(c, (uint32_t)num);
	return NULL;
}

const struct cfg_node *cfg_cluster_node_num(const struct cfg_cluster *c, uint32_t num)
{
	for (size_t i = 0; i < c->nnodes; i++)
		if (c->nodes[i].number == num)
			return &c->nodes[i];
	return NULL;
}

size_t cfg_cluster_quorum_count(const struct cfg_cluster *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nnodes; i++)
		n += c->nodes[i].quorum;
	return n;
}
