/* nsd/stanza.c - NSD stanza files (see stanza.h). */
#include "nsd/stanza.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"

static const char *const usage_names[] = {
	[NSD_USAGE_DATA_AND_METADATA] = "dataAndMetadata",
	[NSD_USAGE_DATA_ONLY] = "dataOnly",
	[NSD_USAGE_METADATA_ONLY] = "metadataOnly",
	[NSD_USAGE_DESC_ONLY] = "descOnly",
	[NSD_USAGE_LOCAL_CACHE] = "localCache",
};

const char *nsd_usage_name(enum nsd_usage u)
{
	return (size_t)u < MM_ARRAY_SIZE(usage_names) ? usage_names[u] : "?";
}

int nsd_usage_parse(const char *s, enum nsd_usage *u)
{
	for (size_t i = 0; i < MM_ARRAY_SIZE(usage_names); i++)
		if (strcasecmp(s, usage_names[i]) == 0) {
			*u = (enum nsd_usage)i;
			return MM_OK;
		}
	return MM_EINVAL;
}

bool nsd_usage_metadata(enum nsd_usage u)
{
	return u == NSD_USAGE_DATA_AND_METADATA || u == NSD_USAGE_METADATA_ONLY ||
	       u == NSD_USAGE_DESC_ONLY;
}

struct parser {
	const char *source;
	int line;
	char *err;
	size_t errsz;
	struct nsd_stanza *v;
	size_t n, cap;
	struct nsd_stanza *cur;		/* the %nsd stanza being read, or NULL */
	bool in_other;			/* inside a stanza of another type */
	unsigned seen;			/* attributes of cur already given */
};

__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errsz, "%s:%d: %s%s", p->source, p->line, field ? field : "",
			 field ? ": " : "");

	if (n >= 0 && (size_t)n < p->errsz) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return MM_EINVAL;
}

static bool host_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_:[]", s[i]))
			return false;
	return true;
}

static bool pool_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

enum { A_NSD = 1, A_DEVICE = 2, A_SERVERS = 4, A_USAGE = 8, A_FG = 16, A_POOL = 32 };

static int set_attr(struct parser *p, const char *key, const char *val)
{
	struct nsd_stanza *s = p->cur;
	static const struct { const char *name; unsigned bit; } attrs[] = {
		{"nsd", A_NSD}, {"device", A_DEVICE}, {"servers", A_SERVERS},
		{"usage", A_USAGE}, {"failureGroup", A_FG}, {"pool", A_POOL},
	};
	unsigned bit = 0;
	const char *name = key;

	for (size_t i = 0; i < MM_ARRAY_SIZE(attrs); i++)
		if (strcasecmp(key, attrs[i].name) == 0) {
			bit = attrs[i].bit;
			name = attrs[i].name;
		}
	if (!bit)
		return perr(p, key, "unknown %%nsd attribute (known: nsd, device, servers, usage, "
				    "failureGroup, pool)");
	if (p->seen & bit)
		return perr(p, name, "given twice in one stanza");
	p->seen |= bit;
	if (!*val)
		return perr(p, name, "empty value");
	switch (bit) {
	case A_NSD:
		if (!nsd_name_valid(val))
			return perr(p, name, "\"%s\" is not a valid NSD name (1-%d letters, digits or "
					     "'_', not starting with a digit)", val, NSD_NAME_MAX);
		snprintf(s->nsd, sizeof(s->nsd), "%s", val);
		break;
	case A_DEVICE:
		if (strlen(val) >= sizeof(s->device) || val[0] != '/')
			return perr(p, name, "\"%s\" is not an absolute device or file path", val);
		snprintf(s->device, sizeof(s->device), "%s", val);
		break;
	case A_SERVERS: {
		char buf[4096], *save, *tok;

		if (strlen(val) >= sizeof(buf))
			return perr(p, name, "list too long");
		strcpy(buf, val);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!host_ok(tok))
				return perr(p, name, "\"%s\" is not a node name", tok);
			if (s->nservers == NSD_MAX_SERVERS)
				return perr(p, name, "at most %d NSD servers", NSD_MAX_SERVERS);
			for (int k = 0; k < s->nservers; k++)
				if (strcmp(s->servers[k], tok) == 0)
					return perr(p, name, "server %s listed twice", tok);
			snprintf(s->servers[s->nservers++], sizeof(s->servers[0]), "%s", tok);
		}
		if (s->nservers == 0 || val[strlen(val) - 1] == ',' || strstr(val, ",,"))
			return perr(p, name, "\"%s\" has an empty server name", val);
		break;
	}
	case A_USAGE:
		if (nsd_usage_parse(val, &s->usage))
			return perr(p, name, "\"%s\" is not one of dataAndMetadata, dataOnly, "
					     "metadataOnly, descOnly, localCache", val);
		s->usage_set = true;
		break;
	case A_FG: {
		int64_t fg;

		if (mm_parse_i64(val, &fg) || fg < -1 || fg > NSD_FG_MAX)
			return perr(p, name, "\"%s\" is not a failure group (-1 to %d)", val, NSD_FG_MAX);
		s->failure_group = (int)fg;
		s->failure_group_set = true;
		break;
	}
	case A_POOL:
		if (!pool_ok(val))
			return perr(p, name, "\"%s\" is not a valid storage pool name", val);
		snprintf(s->pool, sizeof(s->pool), "%s", val);
		break;
	}
	return MM_OK;
}

/* The current %nsd stanza is complete: check it as a whole. */
static int finish(struct parser *p)
{
	struct nsd_stanza *s = p->cur;
	int line = p->line;
	int rc = MM_OK;

	if (!s)
		return MM_OK;
	p->cur = NULL;
	p->line = s->line;
	if (!s->device[0])
		rc = perr(p, "device", "missing: every %%nsd stanza needs device=");
	if (!rc && !(p->seen & A_POOL))
		strcpy(s->pool, "system");
	if (!rc && !s->usage_set)
		s->usage = strcmp(s->pool, "system") == 0 ? NSD_USAGE_DATA_AND_METADATA
							   : NSD_USAGE_DATA_ONLY;
	if (!rc && nsd_usage_metadata(s->usage) && strcmp(s->pool, "system") != 0)
		rc = perr(p, "pool", "%s disks must be in the system pool (only it holds metadata)",
			  nsd_usage_name(s->usage));
	for (size_t i = 0; !rc && i + 1 < p->n; i++) {
		if (s->nsd[0] && strcmp(p->v[i].nsd, s->nsd) == 0)
			rc = perr(p, "nsd", "name %s also used by the stanza at line %d", s->nsd, p->v[i].line);
		else if (strcmp(p->v[i].device, s->device) == 0)
			rc = perr(p, "device", "%s also used by the stanza at line %d", s->device, p->v[i].line);
	}
	p->line = line;
	return rc;
}

static int start_nsd(struct parser *p)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct nsd_stanza *nv = realloc(p->v, cap * sizeof(*nv));

		if (!nv)
			return MM_ENOMEM;
		p->v = nv;
		p->cap = cap;
	}
	p->cur = &p->v[p->n++];
	memset(p->cur, 0, sizeof(*p->cur));
	p->cur->line = p->line;
	p->cur->last_line = p->line;
	p->cur->failure_group = -1;
	p->seen = 0;
	return MM_OK;
}

/* Attr=value clauses of one line (comment already cut). */
static int clauses(struct parser *p, char *s)
{
	char *save, *tok;
	int rc;

	for (tok = strtok_r(s, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok)
			return perr(p, NULL, "\"%s\" is not an Attribute=value clause", tok);
		*eq = '\0';
		if (p->in_other)
			continue;
		rc = set_attr(p, tok, eq + 1);
		if (rc)
			return rc;
	}
	return MM_OK;
}

int nsd_stanza_parse(const char *text, size_t len, const char *source,
		     struct nsd_stanza **out, size_t *n, char *err, size_t errsz)
{
	struct parser p = {.source = source, .err = err, .errsz = errsz};
	const char *pos = text, *end = text + len;
	int rc = MM_OK;

	*out = NULL;
	*n = 0;
	if (memchr(text, '\0', len)) {
		snprintf(err, errsz, "%s: contains a NUL byte: not a stanza file", source);
		return MM_EINVAL;
	}
	while (pos < end && !rc) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t ll = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		char line[NSD_STANZA_LINE_MAX + 1], *s, *hash;

		p.line++;
		if (ll >= sizeof(line)) {
			rc = perr(&p, NULL, "line longer than %zu characters", sizeof(line) - 1);
			break;
		}
		memcpy(line, pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0') {
			/* a blank line ends a stanza; a comment-only line does not */
			if (!hash) {
				rc = finish(&p);
				p.in_other = false;
			}
			continue;
		}
		if (*s == '%') {
			char *colon = strchr(s, ':');

			rc = finish(&p);
			if (rc)
				break;
			if (!colon) {
				rc = perr(&p, NULL, "\"%s\": a stanza starts with %%keyword:", s);
				break;
			}
			*colon = '\0';
			p.in_other = strcasecmp(s + 1, "nsd") != 0;
			if (!p.in_other && (rc = start_nsd(&p)))
				break;
			rc = clauses(&p, colon + 1);
			continue;
		}
		if (!strchr(s, '=')) {
			/* GPFS's old colon format, a stray word, a lost '#': never
			 * skipped in silence */
			rc = perr(&p, NULL, "\"%s\" is neither a stanza (%%nsd: ...), an Attribute=value "
					    "continuation nor a comment (#)", s);
			break;
		}
		if (!p.cur && !p.in_other) {
			rc = perr(&p, NULL, "\"%s\" is outside any stanza (start one with %%nsd:)", s);
			break;
		}
		if (p.cur)
			p.cur->last_line = p.line;
		rc = clauses(&p, s);
	}
	if (!rc)
		rc = finish(&p);
	if (rc) {
		free(p.v);
		return rc;
	}
	if (p.n == 0) {
		free(p.v);
		snprintf(err, errsz, "%s: no %%nsd stanza found", source);
		return MM_ENOENT;
	}
	*out = p.v;
	*n = p.n;
	return MM_OK;
}

int nsd_stanza_parse_file(const char *path, struct nsd_stanza **out, size_t *n,
			  char *err, size_t errsz)
{
	char *text = NULL;
	size_t len = 0;
	int rc = mm_read_file(path, 16u << 20, &text, &len);

	if (rc) {
		snprintf(err, errsz, "cannot read stanza file %s: %s", path, mm_strerror(rc));
		return rc;
	}
	rc = nsd_stanza_parse(text, len, path, out, n, err, errsz);
	free(text);
	return rc;
}

/* The one-line form of <s>, without the newline; snprintf's result. */
static int format_one(const struct nsd_stanza *s, char *buf, size_t cap)
{
	char servers[NSD_MAX_SERVERS * 257] = "";

	for (int k = 0; k < s->nservers; k++) {
		if (k)
			strcat(servers, ",");
		strcat(servers, s->servers[k]);
	}
	/* an unnamed stanza stays unnamed: "nsd=" alone would not parse */
	return snprintf(buf, cap, "%%nsd: %s%s%sdevice=%s%s%s usage=%s failureGroup=%d pool=%s",
			s->nsd[0] ? "nsd=" : "", s->nsd, s->nsd[0] ? " " : "", s->device,
			s->nservers ? " servers=" : "", servers, nsd_usage_name(s->usage),
			s->failure_group, s->pool);
}

int nsd_stanza_format(const struct nsd_stanza *s, size_t n, char **out)
{
	size_t cap = n * 4096 + 1, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return MM_ENOMEM;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = format_one(&s[i], buf + len, cap - len - 1);

		if (w < 0 || (size_t)w >= cap - len - 1) {
			free(buf);
			return MM_ETOOBIG;
		}
		len += (size_t)w;
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	*out = buf;
	return MM_OK;
}

struct sbuf {
	char *p;
	size_t len, cap;
	int rc;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->rc)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *np = realloc(b->p, cap);

		if (!np) {
			b->rc = MM_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

int nsd_stanza_rewrite(const char *text, size_t len, const struct nsd_stanza *s, size_t n,
		       char **out)
{
	struct sbuf b = {0};
	const char *pos = text, *end = text + len;
	char one[NSD_STANZA_LINE_MAX + 1];
	size_t k = 0;
	int line = 0;

	*out = NULL;
	put(&b, "", 0);
	while (pos < end && !b.rc) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t ll = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		const char *hash = memchr(pos, '#', ll);
		size_t hl = hash ? ll - (size_t)(hash - pos) : 0;

		line++;
		if (k < n && line >= s[k].line && line <= s[k].last_line) {
			if (line == s[k].line) {
				int w = format_one(&s[k], one, sizeof(one));

				if (w < 0 || (size_t)w >= sizeof(one)) {
					b.rc = MM_ETOOBIG;
					break;
				}
				put(&b, one, (size_t)w);
				/* the stanza line's own comment stays on it if it fits */
				if (hash && (size_t)w + 3 + hl <= NSD_STANZA_LINE_MAX)
					put(&b, "   ", 3), put(&b, hash, hl), hash = NULL;
				put(&b, "\n", 1);
			}
			if (hash) {
				/* a comment within the stanza, on its own line (a
				 * comment-only line as it was) */
				const char *from = hash;

				while (from > pos && (from[-1] == ' ' || from[-1] == '\t'))
					from--;
				if (from != pos)
					from = hash;
				put(&b, from, ll - (size_t)(from - pos));
				put(&b, "\n", 1);
			}
			if (line == s[k].last_line)
				k++;
		} else {
			put(&b, pos, ll);
			put(&b, "\n", 1);
		}
		pos += ll + (nl ? 1 : 0);
	}
	if (!b.rc && k != n)
		b.rc = MM_EINVAL;	/* <s> is not what <text> parses to */
	if (b.rc) {
		free(b.p);
		return b.rc;
	}
	*out = b.p;
	return MM_OK;
}
