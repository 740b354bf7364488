/*
 * config/lcsyntax.c - check libconfig text before libconfig parses it.
 *
 * Entry point (internal): cfg_lc_syntax(), called by cfg_lc_read().
 *
 * Why: libconfig 1.5 (Debian 12) has three faults that a cluster file
 * system must not inherit:
 *   1. On a syntax error whose offending token is a string, bison throws
 *      the token away without freeing it (grammar.y has no %destructor):
 *      every such error leaks the string. Input from the CCR or a fuzzer
 *      must not leak.
 *   2. Integers that do not fit their type are truncated silently:
 *      "5000000000" becomes 705032704, "0xffffffff" becomes -1.
 *   3. "@include" reads other files.
 * So this file recognises exactly the language libconfig 1.5 accepts: a
 * scanner that copies the flex rules of lib/scanner.l (longest match,
 * earlier rule wins ties) and a recursive-descent recogniser of
 * lib/grammar.y. Text it rejects never reaches libconfig; text it accepts
 * parses in libconfig without a syntax error, so nothing leaks. The
 * semantic errors libconfig still reports ("duplicate setting name",
 * "mismatched element type in array") happen with no string pending.
 * Syntax errors are reported as libconfig would: "<source>:<line>: syntax
 * error", <line> being the line where the offending token ends.
 *
 * Two deliberate differences: nesting deeper than LC_MAX_DEPTH is refused
 * (libconfig allows about 10000 parser states), and the range errors of
 * point 2 are errors here.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "config/config_int.h"

#define LC_MAX_DEPTH 64

enum lc_tok {
	T_EOF, T_NAME, T_BOOL, T_INT, T_INT64, T_HEX, T_HEX64, T_FLOAT,
	T_STRING, T_EQUALS, T_COMMA, T_SEMI, T_GSTART, T_GEND, T_ASTART,
	T_AEND, T_LSTART, T_LEND, T_GARBAGE,
};

struct lc_lex {
	const char *p;		/* next character */
	const char *tok;	/* start of the current token */
	size_t toklen;
	enum lc_tok t;		/* current token */
	unsigned line;		/* line at the end of the current token */
	const char *source;
	char *err;
	size_t errsz;
	int rc;			/* first error, sticky */
};

static void lex_fail(struct lc_lex *lx, int rc, const char *what)
{
	char q[80];

	if (lx->rc)
		return;
	lx->rc = rc;
	if (what)
		cfg_errf(lx->err, lx->errsz, "%s:%u: integer %s %s", lx->source,
			 lx->line, cfg_quote(lx->tok, lx->toklen, q, sizeof(q)),
			 what);
	else
		cfg_errf(lx->err, lx->errsz, "%s:%u: syntax error", lx->source,
			 lx->line);
}

/* Length of [-+]?[0-9]+ at s, or 0. */
static size_t m_integer(const char *s)
{
	size_t i = (*s == '-' || *s == '+');
	size_t d = i;

	while (isdigit((unsigned char)s[i]))
		i++;
	return i > d ? i : 0;
}

/* Length of 0[Xx][0-9A-Fa-f]+ at s, or 0. */
static size_t m_hex(const char *s)
{
	size_t i = 2;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return 0;
	while (isxdigit((unsigned char)s[i]))
		i++;
	return i > 2 ? i : 0;
}

/* Length of [eE][-+]?[0-9]+ at s, or 0. */
static size_t m_exp(const char *s)
{
	size_t i = 1, d;

	if (*s != 'e' && *s != 'E')
		return 0;
	if (s[i] == '-' || s[i] == '+')
		i++;
	d = i;
	while (isdigit((unsigned char)s[i]))
		i++;
	return i > d ? i : 0;
}

/* Length of libconfig's {float} at s, or 0:
 *   [-+]?([0-9]*)?\.[0-9]*([eE][-+]?[0-9]+)?
 * | [-+]?([0-9]+)(\.[0-9]*)?[eE][-+]?[0-9]+ */
static size_t m_float(const char *s)
{
	size_t i = (*s == '-' || *s == '+'), d, best = 0, j;

	d = i;
	while (isdigit((unsigned char)s[i]))
		i++;
	if (s[i] == '.') {
		j = i + 1;
		while (isdigit((unsigned char)s[j]))
			j++;
		best = j + m_exp(s + j);	/* both forms agree here */
	} else if (i > d && m_exp(s + i)) {
		best = i + m_exp(s + i);
	}
	return best;
}

/* "L" or "LL" after an integer: its length. */
static size_t m_lsuffix(const char *s)
{
	return s[0] != 'L' ? 0 : s[1] == 'L' ? 2 : 1;
}

/* Check that the number token fits what libconfig makes of it. */
static void check_number(struct lc_lex *lx)
{
	const char *s = lx->tok;
	bool neg = *s == '-', hex = lx->t == T_HEX || lx->t == T_HEX64;
	bool wide = lx->t == T_INT64 || lx->t == T_HEX64;
	uint64_t v = 0, lim;
	bool big = false;

	if (*s == '-' || *s == '+')
		s++;
	if (hex) {
		for (s += 2; isxdigit((unsigned char)*s); s++) {
			unsigned d = isdigit((unsigned char)*s) ? (unsigned)(*s - '0') :
				(unsigned)(tolower((unsigned char)*s) - 'a' + 10);

			if (v > (UINT64_MAX >> 4))
				big = true;
			v = (v << 4) | d;
		}
	} else {
		for (; isdigit((unsigned char)*s); s++) {
			unsigned d = (unsigned)(*s - '0');

			if (v > (UINT64_MAX - d) / 10)
				big = true;
			else
				v = v * 10 + d;
		}
	}
	lim = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
	if (neg)
		lim++;
	if (big || v > lim)
		lex_fail(lx, MM_ERANGE, wide ? "does not fit in 64 bits" :
			 "does not fit in 32 bits; write it as a string (\"4G\") "
			 "or with an L suffix");
}

static void lex_next(struct lc_lex *lx)
{
	const char *p = lx->p;
	size_t n;

	if (lx->rc) {
		lx->t = T_EOF;
		return;
	}
	for (;;) {
		if (*p == '\n') {
			lx->line++;
			p++;
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f') {
			p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					lx->line++;
			if (*p)
				p += 2;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			/* (#|\/\/).*$ needs a newline after it; at the end of
			 * the text the '#' or '/' is garbage */
			const char *nl = strchr(p, '\n');

			if (!nl)
				break;
			p = nl;
		} else {
			break;
		}
	}
	lx->tok = p;
	n = 1;
	switch (*p) {
	case '\0':
		lx->t = T_EOF;
		n = 0;
		break;
	case '"':
		/* escapes: \n \r \t \f \\ \" \xHH; a lone '\' is literal */
		for (n = 1; p[n] && p[n] != '"'; n++) {
			if (p[n] == '\\' && (p[n + 1] == '\\' || p[n + 1] == '"'))
				n++;
			else if (p[n] == '\n')
				lx->line++;
		}
		if (!p[n]) {
			/* unterminated: libconfig's scanner just stops */
			lx->t = T_EOF;
			break;
		}
		n++;
		lx->t = T_STRING;
		break;
	case '=':
	case ':':
		lx->t = T_EQUALS;
		break;
	case ',':
		lx->t = T_COMMA;
		break;
	case ';':
		lx->t = T_SEMI;
		break;
	case '{':
		lx->t = T_GSTART;
		break;
	case '}':
		lx->t = T_GEND;
		break;
	case '[':
		lx->t = T_ASTART;
		break;
	case ']':
		lx->t = T_AEND;
		break;
	case '(':
		lx->t = T_LSTART;
		break;
	case ')':
		lx->t = T_LEND;
		break;
	case '@':
		if (strncmp(p, "@include", 8) == 0) {
			lx->toklen = 8;
			lx->p = p + 8;
			if (!lx->rc) {
				lx->rc = MM_EINVAL;
				cfg_errf(lx->err, lx->errsz, "%s:%u: @include is not "
					 "supported", lx->source, lx->line);
			}
			lx->t = T_EOF;
			return;
		}
		lx->t = T_GARBAGE;
		break;
	default:
		if (isalpha((unsigned char)*p) || *p == '*') {
			while (isalnum((unsigned char)p[n]) || p[n] == '-' ||
			       p[n] == '_' || p[n] == '*')
				n++;
			lx->t = (n == 4 && strncasecmp(p, "true", 4) == 0) ||
				(n == 5 && strncasecmp(p, "false", 5) == 0) ?
				T_BOOL : T_NAME;
		} else {
			/* longest of float, integer[64], hex[64]; ties go to
			 * the earlier rule, in this order */
			size_t fl = m_float(p), in = m_integer(p), hx = m_hex(p);
			size_t in64 = in ? in + m_lsuffix(p + in) : 0;
			size_t hx64 = hx ? hx + m_lsuffix(p + hx) : 0;

			n = 0;
			lx->t = T_GARBAGE;
			if (fl > n) {
				n = fl;
				lx->t = T_FLOAT;
			}
			if (in > n) {
				n = in;
				lx->t = T_INT;
			}
			if (in64 > n) {
				n = in64;
				lx->t = T_INT64;
			}
			if (hx > n) {
				n = hx;
				lx->t = T_HEX;
			}
			if (hx64 > n) {
				n = hx64;
				lx->t = T_HEX64;
			}
			if (n == 0)
				n = 1;	/* '.' garbage: any other byte */
		}
		break;
	}
	lx->toklen = n;
	lx->p = p + n;
	if (lx->t == T_INT || lx->t == T_INT64 || lx->t == T_HEX ||
	    lx->t == T_HEX64)
		check_number(lx);
}

static bool expect(struct lc_lex *lx, enum lc_tok t)
{
	if (lx->t != t) {
		lex_fail(lx, MM_EINVAL, NULL);
		return false;
	}
	lex_next(lx);
	return true;
}

static bool is_scalar(enum lc_tok t)
{
	return t == T_BOOL || t == T_INT || t == T_INT64 || t == T_HEX ||
	       t == T_HEX64 || t == T_FLOAT || t == T_STRING;
}

static bool p_setting(struct lc_lex *lx, int depth);

/* simple_value: scalar | string+ */
static bool p_simple(struct lc_lex *lx)
{
	enum lc_tok t = lx->t;

	if (!is_scalar(t)) {
		lex_fail(lx, MM_EINVAL, NULL);
		return false;
	}
	lex_next(lx);
	if (t == T_STRING)
		while (lx->t == T_STRING && !lx->rc)
			lex_next(lx);
	return !lx->rc;
}

/* value: simple_value | array | list | group */
static bool p_value(struct lc_lex *lx, int depth)
{
	if (depth > LC_MAX_DEPTH) {
		if (!lx->rc) {
			lx->rc = MM_ETOOBIG;
			cfg_errf(lx->err, lx->errsz, "%s:%u: nested more than %d "
				 "deep", lx->source, lx->line, LC_MAX_DEPTH);
		}
		return false;
	}
	switch (lx->t) {
	case T_ASTART:
		lex_next(lx);
		if (lx->t != T_AEND) {
			if (!p_simple(lx))
				return false;
			while (lx->t == T_COMMA) {
				lex_next(lx);
				if (!p_simple(lx))
					return false;
			}
		}
		return expect(lx, T_AEND);
	case T_LSTART:
		lex_next(lx);
		if (lx->t != T_LEND) {
			if (!p_value(lx, depth + 1))
				return false;
			while (lx->t == T_COMMA) {
				lex_next(lx);
				if (!p_value(lx, depth + 1))
					return false;
			}
		}
		return expect(lx, T_LEND);
	case T_GSTART:
		lex_next(lx);
		while (lx->t == T_NAME)
			if (!p_setting(lx, depth + 1))
				return false;
		return expect(lx, T_GEND);
	default:
		return p_simple(lx);
	}
}

/* setting: NAME EQUALS value [';' | ','] */
static bool p_setting(struct lc_lex *lx, int depth)
{
	if (!expect(lx, T_NAME) || !expect(lx, T_EQUALS) || !p_value(lx, depth))
		return false;
	if (lx->t == T_SEMI || lx->t == T_COMMA)
		lex_next(lx);
	return !lx->rc;
}

int cfg_lc_syntax(const char *text, const char *source, char *err,
		  size_t errsz)
{
	struct lc_lex lx = {
		.p = text, .line = 1, .source = source, .err = err,
		.errsz = errsz,
	};

	lex_next(&lx);
	while (lx.t == T_NAME && !lx.rc)
		if (!p_setting(&lx, 0))
			break;
	if (!lx.rc && lx.t != T_EOF)
		lex_fail(&lx, MM_EINVAL, NULL);
	return lx.rc;
}
