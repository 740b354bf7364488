/*
 * config/nodes.c - node descriptors "NodeName:Designations[:AdminNodeName]"
 * as mmcrcluster -N / mmaddnode -N take them.
 *
 * Entry points: cfg_parse_node_list(), cfg_parse_node_file(),
 * cfg_parse_node_text(), cfg_parse_nodes_arg(), cfg_designation().
 * Internal: cfg_node_name_check(), cfg_ip_canon(), cfg_designation_parse()
 * (also used by cluster.c).
 *
 * Designations are '-'-joined words in any order: quorum | nonquorum,
 * manager | client; the default is nonquorum client. An IPv6 address is
 * written in brackets where a ':' would be ambiguous: "[fe80::1]:quorum";
 * a descriptor that is nothing but an IPv6 address needs none.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "config/config.h"
#include "config/config_int.h"

#define NODE_NAME_MAX 255
#define NODE_FILE_MAX (1u << 20)
#define NODE_LINE_MAX 2048

/* ---- names and designations ---- */

int cfg_ip_canon(const char *s, char *canon, size_t canonsz)
{
	unsigned char bin[16];
	char buf[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, s, bin) == 1) {
		if (!inet_ntop(AF_INET, bin, buf, sizeof(buf)))
			return MM_EINVAL;
	} else if (inet_pton(AF_INET6, s, bin) == 1) {
		if (!inet_ntop(AF_INET6, bin, buf, sizeof(buf)))
			return MM_EINVAL;
	} else {
		return MM_EINVAL;
	}
	return mm_snprintf(canon, canonsz, "%s", buf);
}

int cfg_node_name_check(const char *s, char *canon, size_t canonsz,
			char *why, size_t whysz)
{
	size_t len = strlen(s), label = 0;
	bool numeric = true;
	char q[80];

	if (len == 0) {
		cfg_errf(why, whysz, "empty node name");
		return MM_EINVAL;
	}
	if (len > NODE_NAME_MAX) {
		cfg_errf(why, whysz, "node name is longer than %d characters",
			 NODE_NAME_MAX);
		return MM_EINVAL;
	}
	cfg_quote(s, len, q, sizeof(q));
	if (strchr(s, ':')) {
		if (cfg_ip_canon(s, canon, canonsz) == MM_OK)
			return MM_OK;
		cfg_errf(why, whysz, "%s is not a valid IPv6 address", q);
		return MM_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0) {
				cfg_errf(why, whysz, "%s has an empty label "
					 "(leading, trailing or double dot)", q);
				return MM_EINVAL;
			}
			if (s[i - 1] == '-') {
				cfg_errf(why, whysz, "%s has a label ending in '-'", q);
				return MM_EINVAL;
			}
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_') {
			if (c < 0x20 || c >= 0x7f)
				cfg_errf(why, whysz, "%s contains an invalid "
					 "character (0x%02x)", q, c);
			else
				cfg_errf(why, whysz, "%s contains an invalid "
					 "character '%c'", q, c);
			return MM_EINVAL;
		}
		if (!isdigit(c))
			numeric = false;
		if (label == 0 && c == '-') {
			cfg_errf(why, whysz, "%s has a label starting with '-'", q);
			return MM_EINVAL;
		}
		if (++label > 63) {
			cfg_errf(why, whysz, "%s has a label longer than 63 "
				 "characters", q);
			return MM_EINVAL;
		}
	}
	if (label == 0) {
		cfg_errf(why, whysz, "%s has an empty label (leading, trailing "
			 "or double dot)", q);
		return MM_EINVAL;
	}
	if (s[len - 1] == '-') {
		cfg_errf(why, whysz, "%s has a label ending in '-'", q);
		return MM_EINVAL;
	}
	if (numeric) {
		/* digits and dots only: it must be an IPv4 address */
		if (cfg_ip_canon(s, canon, canonsz) != MM_OK) {
			cfg_errf(why, whysz, "%s is not a valid IPv4 address", q);
			return MM_EINVAL;
		}
		return MM_OK;
	}
	return mm_snprintf(canon, canonsz, "%s", s);
}

int cfg_designation_parse(const char *s, bool *quorum, bool *manager,
			  char *why, size_t whysz)
{
	/* word, and what it sets: role 0 = quorum axis, 1 = manager axis */
	static const struct {
		const char *word;
		int axis;
		bool on;
	} words[] = {
		{"quorum", 0, true}, {"nonquorum", 0, false},
		{"manager", 1, true}, {"client", 1, false},
	};
	int set[2] = {-1, -1};		/* index into words[] per axis */
	const char *p = s;
	char q[80];

	*quorum = *manager = false;
	if (!*s)
		return MM_OK;
	for (;;) {
		size_t len = strcspn(p, "-"), i;

		for (i = 0; i < MM_ARRAY_SIZE(words); i++)
			if (strlen(words[i].word) == len &&
			    strncasecmp(p, words[i].word, len) == 0)
				break;
		if (len == 0) {
			cfg_errf(why, whysz, "empty designation in %s (use e.g. "
				 "quorum-manager)", cfg_quote(s, strlen(s), q, sizeof(q)));
			return MM_EINVAL;
		}
		if (i == MM_ARRAY_SIZE(words)) {
			cfg_errf(why, whysz, "unknown designation %s (use quorum, "
				 "nonquorum, manager or client)",
				 cfg_quote(p, len, q, sizeof(q)));
			return MM_EINVAL;
		}
		if (set[words[i].axis] == (int)i) {
			cfg_errf(why, whysz, "designation %s given twice",
				 words[i].word);
			return MM_EINVAL;
		}
		if (set[words[i].axis] >= 0) {
			cfg_errf(why, whysz, "conflicting designations %s and %s",
				 words[set[words[i].axis]].word, words[i].word);
			return MM_EINVAL;
		}
		set[words[i].axis] = (int)i;
		if (words[i].axis == 0)
			*quorum = words[i].on;
		else
			*manager = words[i].on;
		p += len;
		if (!*p)
			break;
		p++;
	}
	return MM_OK;
}

const char *cfg_designation(bool quorum, bool manager)
{
	if (quorum && manager)
		return "quorum-manager";
	if (quorum)
		return "quorum";
	if (manager)
		return "manager";
	return "";
}

/* ---- one descriptor ---- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* Parse <len> bytes at <s> (no NUL inside) into <d>; <why> gets the
 * reason without a location. */
static int parse_desc(const char *s, size_t len, struct cfg_node_desc *d,
		      char *why, size_t whysz)
{
	char field[3][NODE_LINE_MAX + 1];
	const char *p, *end;
	size_t nf = 0, colons = 0;
	bool v6only, v6hint = false;
	int rc;

	trim(&s, &len);
	if (len == 0 || len > NODE_LINE_MAX) {
		cfg_errf(why, whysz, len ? "descriptor is too long" :
			 "empty node descriptor");
		return MM_EINVAL;
	}
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < len; i++) {
		colons += s[i] == ':';
		if (i && s[i] == ':' && s[i - 1] == ':')
			v6hint = true;
	}
	v6hint = (v6hint || colons > 3) && !memchr(s, '[', len);
	/* a bare IPv6 address: "fe80::1" */
	memcpy(field[0], s, len);
	field[0][len] = '\0';
	v6only = colons >= 2 && s[0] != '[' &&
		cfg_ip_canon(field[0], d->name, sizeof(d->name)) == MM_OK;
	if (v6only) {
		snprintf(d->admin, sizeof(d->admin), "%s", d->name);
		return MM_OK;
	}
	p = s;
	end = s + len;
	for (;;) {
		const char *fs, *fe;
		size_t fl;

		if (nf == 3) {
			cfg_errf(why, whysz, "too many fields (expected "
				 "NodeName[:Designations[:AdminNodeName]]%s)",
				 v6hint ? "; write IPv6 addresses in brackets: "
				 "[fe80::1]:quorum" : "");
			return MM_EINVAL;
		}
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p < end && *p == '[') {
			fs = p + 1;
			fe = memchr(fs, ']', (size_t)(end - fs));
			if (!fe) {
				cfg_errf(why, whysz, "'[' without ']'");
				return MM_EINVAL;
			}
			fl = (size_t)(fe - fs);
			memcpy(field[nf], fs, fl);
			field[nf][fl] = '\0';
			if (!memchr(fs, ':', fl)) {
				cfg_errf(why, whysz, "brackets are only for IPv6 "
					 "addresses");
				return MM_EINVAL;
			}
			p = fe + 1;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p < end && *p != ':') {
				cfg_errf(why, whysz, "unexpected text after ']'");
				return MM_EINVAL;
			}
		} else {
			fs = p;
			fe = memchr(p, ':', (size_t)(end - p));
			if (!fe)
				fe = end;
			fl = (size_t)(fe - fs);
			trim(&fs, &fl);
			memcpy(field[nf], fs, fl);
			field[nf][fl] = '\0';
			p = fe;
		}
		nf++;
		if (p >= end)
			break;
		p++;	/* the ':'; "name:" leaves an empty last field */
	}
	rc = cfg_node_name_check(field[0], d->name, sizeof(d->name), why, whysz);
	if (rc)
		return rc;
	if (nf > 1) {
		rc = cfg_designation_parse(field[1], &d->quorum, &d->manager,
					   why, whysz);
		if (rc)
			return rc;
	}
	if (nf > 2) {
		char sub[200];

		if (!field[2][0]) {
			cfg_errf(why, whysz, "empty admin node name");
			return MM_EINVAL;
		}
		rc = cfg_node_name_check(field[2], d->admin, sizeof(d->admin),
					 sub, sizeof(sub));
		if (rc) {
			cfg_errf(why, whysz, "admin node name: %s", sub);
			return rc;
		}
	} else {
		snprintf(d->admin, sizeof(d->admin), "%s", d->name);
	}
	return MM_OK;
}

/* ---- collections ---- */

struct desc_vec {
	struct cfg_node_desc *v;
	size_t n, cap;
	unsigned *where;	/* line or item number of each */
};

static int vec_add(struct desc_vec *vec, const struct cfg_node_desc *d,
		   unsigned where, bool is_line, char *why, size_t whysz)
{
	for (size_t i = 0; i < vec->n; i++) {
		const char *what = NULL, *dup = NULL;

		if (strcasecmp(vec->v[i].name, d->name) == 0) {
			what = "node";
			dup = d->name;
		} else if (strcasecmp(vec->v[i].admin, d->admin) == 0) {
			what = "admin node name";
			dup = d->admin;
		}
		if (what) {
			cfg_errf(why, whysz, "duplicate %s %s (first %s %u)", what,
				 dup, is_line ? "on line" : "as item",
				 vec->where[i]);
			return MM_EEXIST;
		}
	}
	if (vec->n == CFG_MAX_NODES) {
		cfg_errf(why, whysz, "more than %d nodes", CFG_MAX_NODES);
		return MM_ETOOBIG;
	}
	if (vec->n == vec->cap) {
		size_t nc = vec->cap ? vec->cap * 2 : 8;
		struct cfg_node_desc *nv = realloc(vec->v, nc * sizeof(*nv));
		unsigned *nw;

		if (!nv)
			goto nomem;
		vec->v = nv;
		nw = realloc(vec->where, nc * sizeof(*nw));
		if (!nw)
			goto nomem;
		vec->where = nw;
		vec->cap = nc;
	}
	vec->v[vec->n] = *d;
	vec->where[vec->n++] = where;
	return MM_OK;
nomem:
	cfg_errf(why, whysz, "out of memory");
	return MM_ENOMEM;
}

static int vec_finish(struct desc_vec *vec, int rc, struct cfg_node_desc **out,
		      size_t *n)
{
	free(vec->where);
	if (rc) {
		free(vec->v);
		*out = NULL;
		*n = 0;
		return rc;
	}
	*out = vec->v;
	*n = vec->n;
	return MM_OK;
}

int cfg_parse_node_text(const char *text, size_t len, const char *source,
			struct cfg_node_desc **out, size_t *n, char *err,
			size_t errsz)
{
	struct desc_vec vec = {0};
	struct cfg_node_desc d;
	const char *p = text, *end = text + len;
	char why[512];
	unsigned line = 0;
	int rc = MM_OK;

	if (!source)
		source = "(node file)";
	while (p < end && rc == MM_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *hash;
		size_t ll;

		line++;
		if (memchr(p, '\0', (size_t)(le - p))) {
			cfg_errf(err, errsz, "%s:%u: contains a NUL byte", source, line);
			rc = MM_EINVAL;
			break;
		}
		hash = memchr(p, '#', (size_t)(le - p));
		ll = (size_t)((hash ? hash : le) - p);
		trim(&p, &ll);
		if (ll) {
			rc = parse_desc(p, ll, &d, why, sizeof(why));
			if (rc == MM_OK)
				rc = vec_add(&vec, &d, line, true, why, sizeof(why));
			if (rc)
				cfg_errf(err, errsz, "%s:%u: %s", source, line, why);
		}
		p = nl ? nl + 1 : end;
	}
	if (rc == MM_OK && vec.n == 0) {
		cfg_errf(err, errsz, "%s: no node descriptors", source);
		rc = MM_EINVAL;
	}
	return vec_finish(&vec, rc, out, n);
}

int cfg_parse_node_list(const char *spec, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz)
{
	struct desc_vec vec = {0};
	struct cfg_node_desc d;
	const char *p = spec ? spec : "";
	char why[512], q[80];
	unsigned item = 0;
	int rc = MM_OK;

	if (strspn(p, " \t") == strlen(p)) {
		cfg_errf(err, errsz, "no nodes given");
		return vec_finish(&vec, MM_EINVAL, out, n);
	}
	for (;;) {
		size_t il = strcspn(p, ",");

		item++;
		rc = parse_desc(p, il, &d, why, sizeof(why));
		if (rc == MM_OK)
			rc = vec_add(&vec, &d, item, false, why, sizeof(why));
		if (rc) {
			cfg_errf(err, errsz, "node list item %u (%s): %s", item,
				 cfg_quote(p, il, q, sizeof(q)), why);
			break;
		}
		p += il;
		if (!*p)
			break;
		p++;
	}
	return vec_finish(&vec, rc, out, n);
}

int cfg_parse_node_file(const char *path, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	*n = 0;
	rc = mm_read_file(path, NODE_FILE_MAX, &text, &len);
	if (rc) {
		cfg_errf(err, errsz, "%s: cannot read: %s", path, mm_strerror(rc));
		return rc;
	}
	rc = cfg_parse_node_text(text, len, path, out, n, err, errsz);
	free(text);
	return rc;
}

int cfg_parse_nodes_arg(const char *arg, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz)
{
	struct stat st;

	if (arg && stat(arg, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(arg, R_OK) == 0)
		return cfg_parse_node_file(arg, out, n, err, errsz);
	if (arg && strchr(arg, '/')) {
		/* no node name has a '/': a node file that is not there */
		char q[80];

		*out = NULL;
		*n = 0;
		cfg_errf(err, errsz, "%s is not a readable node file",
			 cfg_quote(arg, strlen(arg), q, sizeof(q)));
		return MM_ENOENT;
	}
	return cfg_parse_node_list(arg, out, n, err, errsz);
}
