/*
 * config/load.c - the local settings file, and the libconfig reader that
 * the cluster definition uses too.
 *
 * Entry points: cfg_load_file(). Internal: cfg_lc_read(), cfg_lc_where().
 *
 * A settings file looks like
 *   attributes = { pagepool = "512M"; failureDetectionTime = 10; };
 *   nodeName = "gpfs01";		# other top-level strings: cfg_local_get
 * and is applied all or nothing: every attribute is validated, then the
 * cross-attribute rules are checked on the would-be result, and only then
 * is the cfg_set changed (cfg_set_apply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "config/config.h"
#include "config/config_int.h"

#define CFG_FILE_MAX (1u << 20)	/* largest settings file */

/* ---- libconfig reader ---- */

int cfg_lc_read(config_t *lc, const char *text, const char *source,
		char *err, size_t errsz)
{
	int rc;

	if (!source)
		source = "(string)";
	rc = cfg_lc_syntax(text, source, err, errsz);
	if (rc)
		return rc;
	config_init(lc);
	if (!config_read_string(lc, text)) {
		cfg_errf(err, errsz, "%s:%d: %s", source, config_error_line(lc),
			 config_error_text(lc) ? config_error_text(lc) : "parse error");
		config_destroy(lc);
		return MM_EINVAL;
	}
	return MM_OK;
}

const char *cfg_lc_where(const config_setting_t *st, const char *source,
			 char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s:%u", source ? source : "(string)",
		 (unsigned)config_setting_source_line(st));
	return buf;
}

/* ---- settings file ---- */

/* The value of attribute setting <st> as text, or an error. */
static int attr_text(const config_setting_t *st, const struct cfg_attr *a,
		     const char *where, char *out, size_t outsz, char *err,
		     size_t errsz)
{
	switch (config_setting_type(st)) {
	case CONFIG_TYPE_STRING:
		if (mm_snprintf(out, outsz, "%s", config_setting_get_string(st))) {
			cfg_errf(err, errsz, "%s: %s: value is longer than %zu "
				 "characters", where, a->name, outsz - 1);
			return MM_ETOOBIG;
		}
		return MM_OK;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(out, outsz, "%lld", config_setting_get_int64(st));
		return MM_OK;
	case CONFIG_TYPE_BOOL:
		snprintf(out, outsz, "%s", config_setting_get_bool(st) ? "yes" : "no");
		return MM_OK;
	case CONFIG_TYPE_FLOAT:
		cfg_errf(err, errsz, "%s: %s: %g is not allowed: use an integer "
			 "or a string such as \"1536M\"", where, a->name,
			 config_setting_get_float(st));
		return MM_EINVAL;
	default:
		cfg_errf(err, errsz, "%s: %s: must be a string, an integer or a "
			 "boolean, not a group or list", where, a->name);
		return MM_EINVAL;
	}
}

static int load_attributes(const config_setting_t *grp, const char *path,
			   struct cfg_batch_item *items, size_t *nitems,
			   char *err, size_t errsz)
{
	size_t count = cfg_attr_count();
	unsigned *seen = calloc(count, sizeof(*seen));	/* line, 0 = not yet */
	char where[4200], text[CFG_VALUE_MAX];
	int rc = MM_OK;

	if (!seen) {
		cfg_errf(err, errsz, "%s: out of memory", path);
		return MM_ENOMEM;
	}
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *st = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(st);
		const struct cfg_attr *a = cfg_attr_find(name);
		size_t idx;

		cfg_lc_where(st, path, where, sizeof(where));
		if (!a) {
			cfg_unknown_attr_msg(name ? name : "", where, err, errsz);
			rc = MM_ENOENT;
			break;
		}
		idx = cfg_attr_index(a);
		if (seen[idx]) {
			cfg_errf(err, errsz, "%s: %s: set twice (also on line %u)",
				 where, a->name, seen[idx]);
			rc = MM_EINVAL;
			break;
		}
		seen[idx] = config_setting_source_line(st) ?
			config_setting_source_line(st) : 1;
		rc = attr_text(st, a, where, text, sizeof(text), err, errsz);
		if (rc)
			break;
		rc = cfg_attr_validate(a, text, items[*nitems].canon,
				       sizeof(items[*nitems].canon), where, err,
				       errsz);
		if (rc)
			break;
		items[(*nitems)++].idx = idx;
	}
	free(seen);
	return rc;
}

static int load_local(const config_setting_t *st, const char *where,
		      struct cfg_local_item *out, char *err, size_t errsz)
{
	const char *name = config_setting_name(st);
	const char *v = config_setting_get_string(st);
	char q[80];

	if (!name || strlen(name) >= sizeof(out->name)) {
		cfg_errf(err, errsz, "%s: setting name is too long", where);
		return MM_ETOOBIG;
	}
	if (!v || strlen(v) >= sizeof(out->value)) {
		cfg_errf(err, errsz, "%s: %s: value is longer than %zu characters",
			 where, name, sizeof(out->value) - 1);
		return MM_ETOOBIG;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_errf(err, errsz, "%s: %s: %s contains a control "
				 "character", where, name,
				 cfg_quote(v, strlen(v), q, sizeof(q)));
			return MM_EINVAL;
		}
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->value, sizeof(out->value), "%s", v);
	return MM_OK;
}

int cfg_load_file(cfg_set *s, const char *path, char *err, size_t errsz)
{
	struct cfg_batch_item *items = NULL;
	struct cfg_local_item *locals = NULL;
	size_t nitems = 0, nlocal = 0, len;
	config_setting_t *root;
	char *text, where[4200], q[80], msg[512];
	config_t lc;
	int rc, n;

	rc = mm_read_file(path, CFG_FILE_MAX, &text, &len);
	if (rc) {
		cfg_errf(err, errsz, "%s: cannot read: %s", path, mm_strerror(rc));
		return rc;
	}
	if (strlen(text) != len) {
		cfg_errf(err, errsz, "%s: contains a NUL byte", path);
		free(text);
		return MM_EINVAL;
	}
	rc = cfg_lc_read(&lc, text, path, err, errsz);
	free(text);
	if (rc)
		return rc;
	root = config_root_setting(&lc);
	n = config_setting_length(root);
	locals = calloc((size_t)n + 1, sizeof(*locals));
	items = calloc(cfg_attr_count() + 1, sizeof(*items));
	if (!locals || !items) {
		cfg_errf(err, errsz, "%s: out of memory", path);
		rc = MM_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n && rc == MM_OK; i++) {
		const config_setting_t *st = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(st);
		int type = config_setting_type(st);

		cfg_lc_where(st, path, where, sizeof(where));
		if (!name)
			name = "";
		if (strcmp(name, "attributes") == 0) {
			if (type != CONFIG_TYPE_GROUP) {
				cfg_errf(err, errsz, "%s: attributes must be a group: "
					 "attributes = { name = value; ... };", where);
				rc = MM_EINVAL;
			} else {
				rc = load_attributes(st, path, items, &nitems,
						     err, errsz);
			}
		} else if (type == CONFIG_TYPE_STRING) {
			rc = load_local(st, where, &locals[nlocal], err, errsz);
			if (rc == MM_OK)
				nlocal++;
		} else if (type == CONFIG_TYPE_GROUP || type == CONFIG_TYPE_LIST ||
			   type == CONFIG_TYPE_ARRAY) {
			bool close = cfg_edit_distance(name, "attributes") <= 3;

			cfg_errf(err, errsz, "%s: unknown group %s%s", where,
				 cfg_quote(name, strlen(name), q, sizeof(q)),
				 close ? "; did you mean attributes?" : "");
			rc = MM_EINVAL;
		} else {
			cfg_errf(err, errsz, "%s: top-level setting %s must be a "
				 "string (attributes go in attributes = { ... })",
				 where, cfg_quote(name, strlen(name), q, sizeof(q)));
			rc = MM_EINVAL;
		}
	}
	if (rc == MM_OK) {
		rc = cfg_set_apply(s, items, nitems, locals, nlocal, msg, sizeof(msg));
		if (rc)
			cfg_errf(err, errsz, "%s: %s", path, msg);
	}
out:
	free(items);
	free(locals);
	config_destroy(&lc);
	return rc;
}
