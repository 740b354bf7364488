/*
 * config/config_int.h - internal helpers shared by the files of config/.
 * Only the .c files of config/ include this; callers use config/config.h.
 *
 *   attrs.c    the attribute table, value validation, name suggestions
 *   set.c      cfg_set (locking, getters, cross-attribute checks)
 *   load.c     local settings file; the libconfig reader used by all
 *   lcsyntax.c checks libconfig text before libconfig sees it
 *   nodes.c    node descriptors, node names, designations
 *   cluster.c  cluster definition (mmsdrfs) parse / format / save
 */
#ifndef MM_CONFIG_CONFIG_INT_H
#define MM_CONFIG_CONFIG_INT_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Longest canonical value, including the NUL (CFG_STRING is <= 255). */
#define CFG_VALUE_MAX 256

/* Position of <a> in the table (0 .. cfg_attr_count()-1). */
size_t cfg_attr_index(const struct cfg_attr *a);
/* Numeric view of a canonical value: INT its value, SIZE bytes, BOOL 0/1,
 * ENUM the index in choices[], STRING 0. <canon> must be valid for <a>. */
int64_t cfg_attr_canon_num(const struct cfg_attr *a, const char *canon);
/* Table name whose edit distance to <name> is small, or NULL. */
const char *cfg_attr_suggest(const char *name);
/* Optimal-string-alignment distance, case-insensitive; strings longer
 * than 64 bytes give a large value. */
unsigned cfg_edit_distance(const char *a, const char *b);
/* "unknown attribute "x"" plus "; did you mean y?" when one is close. */
void cfg_unknown_attr_msg(const char *name, const char *source, char *err,
			  size_t errsz);

/* One validated attribute value of a batch (cfg_set_apply). */
struct cfg_batch_item {
	size_t idx;			/* cfg_attr_index() */
	char canon[CFG_VALUE_MAX];	/* canonical, from cfg_attr_validate */
};

/* A top-level string setting of a local settings file (cfg_local_get). */
#define CFG_LOCAL_NAME_MAX 128
struct cfg_local_item {
	char name[CFG_LOCAL_NAME_MAX];
	char value[CFG_VALUE_MAX];
};

/* Store <items> and merge <locals> into <s> as one change, only if the
 * result passes cfg_set_check(); else <s> is unchanged and err says why
 * (without a source prefix). */
int cfg_set_apply(cfg_set *s, const struct cfg_batch_item *items, size_t n,
		  const struct cfg_local_item *locals, size_t nlocal,
		  char *err, size_t errsz);

/* snprintf into err (if non-NULL); never fails, truncates. */
void cfg_errf(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* <s> (at most <len> bytes) for an error message: quoted, control
 * characters escaped, cut to about 60 characters with "...". */
const char *cfg_quote(const char *s, size_t len, char *buf, size_t bufsz);

/*
 * libconfig text -> config_t. Before libconfig sees <text>, cfg_lc_syntax
 * checks it (see lcsyntax.c): syntax errors (libconfig 1.5 leaks on some),
 * "@include" (a definition must be self-contained) and integers that
 * libconfig would truncate (plain ones beyond 32 bits need an L suffix).
 * On failure <lc> is not initialised and err holds
 * "<source>:<line>: <why>". On success the caller calls config_destroy(lc).
 */
int cfg_lc_syntax(const char *text, const char *source, char *err,
		  size_t errsz);
int cfg_lc_read(config_t *lc, const char *text, const char *source,
		char *err, size_t errsz);
/* "<source>:<line>" of <st> into buf. */
const char *cfg_lc_where(const config_setting_t *st, const char *source,
			 char *buf, size_t bufsz);

/*
 * Node names: a host name (letters, digits, '-', '_', dot-separated
 * labels of 1..63) or an IPv4/IPv6 literal, at most 255 characters.
 * IP literals are written back in inet_ntop form. On failure <why> says
 * what is wrong (without a location) and MM_EINVAL is returned.
 */
int cfg_node_name_check(const char *s, char *canon, size_t canonsz,
			char *why, size_t whysz);
/* An IP literal (v4 or v6) in inet_ntop form into <canon>; MM_EINVAL if
 * <s> is not one. */
int cfg_ip_canon(const char *s, char *canon, size_t canonsz);
/* "quorum-manager", "manager-quorum", "client", "" ...: '-'-joined
 * designations. Empty means nonquorum client. */
int cfg_designation_parse(const char *s, bool *quorum, bool *manager,
			  char *why, size_t whysz);

#endif
