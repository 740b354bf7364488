/*
 * cluster/clm_config.c - the configuration in the CCR: applying the
 * values effective for this node (and saving them in the local
 * definition), configuration transactions (mmchconfig) and the listing
 * (mmlsconfig).
 *
 * Entry points: clm_config_change, clm_config_list (cluster/clm.h);
 * for clm.c (cluster/clm_int.h): clm_config_local_init, clm_config_key,
 * clm_config_reload.
 *
 * Map of this file:
 *   1. effective configuration: local pins, applying CCR values, reload
 *   2. configuration transactions and listing
 *
 * Keys: /mmfs/configver (the CAS anchor of every change),
 * /mmfs/config/common/<attr>, /mmfs/config/node/<node>/<attr>; a per-node
 * value beats the common one. See cluster/README.md, invariants 4 and 5.
 * Related: cluster/clm.c (calls clm_config_reload at bootstrap and when
 * the watch shows a config key change), cluster/clm_int.h.
 */
#include "cluster/clm.h"
#include "cluster/clm_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "cluster"
#define KEY_CONFIG_COMMON "/mmfs/config/common/"
#define KEY_CONFIG_NODE "/mmfs/config/node/"

/* ---- 1. effective configuration ------------------------------------ */

static bool attr_set_locally(clm *c, const char *name)
{
	char pat[80];

	if (!c->local_attrs)
		return false;
	snprintf(pat, sizeof(pat), "|%s|", name);
	return strcasestr(c->local_attrs, pat) != NULL;
}

/* Note which attributes the local settings file pinned: the CCR never
 * overrides them. Called by clm_create. */
void clm_config_local_init(clm *c)
{
	char buf[4096] = "|";

	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;
		bool in_def = false;

		for (size_t k = 0; k < c->cluster.nattrs; k++)
			if (strcasecmp(c->cluster.attr_names[k], name) == 0)
				in_def = true;
		if (!cfg_is_default(c->cfg, name) && !in_def &&
		    strlen(buf) + strlen(name) + 2 < sizeof(buf)) {
			strcat(buf, name);
			strcat(buf, "|");
		}
	}
	c->local_attrs = strdup(buf);
}

/*
 * Apply one CCR value (NULL: back to default) of attribute <name> that is
 * effective for this node. Dynamic attributes change now; others are noted
 * for the next start (the local definition file carries them).
 */
static void apply_attr(clm *c, const char *name, const char *value, bool at_start)
{
	const struct cfg_attr *a = cfg_attr_find(name);
	char cur[256], canon[256], err[256];

	if (!a) {
		mm_warn(SUB, "CCR holds unknown attribute %s: ignored", name);
		return;
	}
	if (attr_set_locally(c, a->name))
		return;
	if (!value)
		value = a->def;
	if (cfg_attr_validate(a, value, canon, sizeof(canon), "CCR", err, sizeof(err))) {
		mm_error(SUB, "%s", err);
		return;
	}
	if (cfg_get(c->cfg, a->name, cur, sizeof(cur)) == 0 && strcmp(cur, canon) == 0)
		return;
	if (a->dynamic || at_start) {
		if (cfg_set_value(c->cfg, a->name, canon, "CCR", err, sizeof(err))) {
			mm_error(SUB, "%s", err);
			return;
		}
		if (!at_start)
			mm_notice(SUB, "configuration change applied: %s %s", a->name, canon);
		clm_emit(c, CLM_EV_CONFIG_CHANGED, 0, a->name, canon);
	} else {
		mm_notice(SUB, "configuration change %s %s takes effect when the daemon restarts",
			  a->name, canon);
	}
}

/* Key of attribute <name> for node <node> (NULL: common) into <buf>. */
void clm_config_key(char *buf, size_t sz, const char *node, const char *name)
{
	if (node)
		snprintf(buf, sz, KEY_CONFIG_NODE "%s/%s", node, name);
	else
		snprintf(buf, sz, KEY_CONFIG_COMMON "%s", name);
}

/*
 * Effective CCR value of <name> for node <node> among <kvs>, or NULL:
 * a per-node value beats the common one.
 */
static const char *effective_value(const struct etcd_kv *kvs, size_t n,
				   const char *node, const char *name)
{
	char kn[512], kc[512];
	const char *common = NULL;

	clm_config_key(kn, sizeof(kn), node, name);
	clm_config_key(kc, sizeof(kc), NULL, name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(kvs[i].key, kn) == 0)
			return kvs[i].value;
		if (strcmp(kvs[i].key, kc) == 0)
			common = kvs[i].value;
	}
	return common;
}

/* Save the CCR's values effective for this node into the local definition,
 * so a restart uses them before etcd is reachable. */
static void save_local_definition(clm *c, const struct etcd_kv *kvs, size_t n,
				  const char *myname)
{
	struct cfg_cluster *d = &c->cluster;
	size_t cnt = 0;
	int rc;

	pthread_mutex_lock(&c->lock);
	free(d->attr_names);
	free(d->attr_values);
	d->attr_names = calloc(cfg_attr_count() + 1, sizeof(*d->attr_names));
	d->attr_values = calloc(cfg_attr_count() + 1, sizeof(*d->attr_values));
	if (d->attr_names && d->attr_values) {
		for (size_t i = 0; i < cfg_attr_count(); i++) {
			const char *name = cfg_attr_at(i)->name;
			const char *v = effective_value(kvs, n, myname, name);

			if (!v)
				continue;
			snprintf(d->attr_names[cnt], sizeof(d->attr_names[cnt]), "%s", name);
			snprintf(d->attr_values[cnt], sizeof(d->attr_values[cnt]), "%s", v);
			cnt++;
		}
	}
	d->nattrs = cnt;
	rc = c->sdrfs_path ? cfg_cluster_save(d, c->sdrfs_path) : 0;
	pthread_mutex_unlock(&c->lock);
	if (rc)
		mm_warn(SUB, "cannot save %s: %s", c->sdrfs_path, mm_strerror(rc));
}

/* Read every config key and apply what is effective for this node. */
int clm_config_reload(clm *c, bool at_start)
{
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	char myname[256];
	int rc;

	rc = etcd_get_prefix(c->etcd, CLM_KEY_CONFIG, &kvs, &n, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	snprintf(myname, sizeof(myname), "%s", clm_node_name_locked(c, c->me));
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;

		apply_attr(c, name, effective_value(kvs, n, myname, name), at_start);
	}
	save_local_definition(c, kvs, n, myname);
	etcd_kvs_free(kvs, n);
	return MM_OK;
}

/* ---- 2. configuration transactions and listing -------------------- */

static int config_snapshot(clm *c, struct etcd_kv **kvs, size_t *n, int64_t *ver_rev,
			   int64_t *ver)
{
	struct etcd_kv v = {0};
	int rc;

	rc = etcd_get(c->etcd, CLM_KEY_CONFIGVER, &v, NULL);
	if (rc == MM_ENOENT) {
		*ver_rev = 0;
		*ver = 0;
	} else if (rc) {
		return rc;
	} else {
		*ver_rev = v.mod_rev;
		if (mm_parse_i64(v.value, ver))
			*ver = 0;
		etcd_kv_clear(&v);
	}
	return etcd_get_prefix(c->etcd, CLM_KEY_CONFIG, kvs, n, NULL);
}

int clm_config_change(clm *c, const char *const *names, const char *const *values,
		      size_t n, const char *const *nodes, size_t nnodes,
		      char *err, size_t errsz)
{
	size_t nkeys = n * (nnodes ? nnodes : 1);
	char (*keys)[512] = NULL, (*canon)[256] = NULL, verbuf[32];
	struct etcd_op *ops = NULL;
	int rc = MM_OK;

	err[0] = '\0';
	if (n == 0) {
		snprintf(err, errsz, "no attribute given");
		return MM_EINVAL;
	}
	for (size_t j = 0; j < nnodes; j++) {
		pthread_mutex_lock(&c->lock);
		bool known = cfg_cluster_node(&c->cluster, nodes[j]) != NULL;
		pthread_mutex_unlock(&c->lock);
		if (!known) {
			snprintf(err, errsz, "node %s does not belong to this cluster", nodes[j]);
			return MM_ENOENT;
		}
	}
	keys = calloc(nkeys, sizeof(*keys));
	canon = calloc(n, sizeof(*canon));
	ops = calloc(nkeys + 1, sizeof(*ops));
	if (!keys || !canon || !ops) {
		rc = MM_ENOMEM;
		goto out;
	}
	/* validate every value first: nothing is written if one is bad */
	for (size_t i = 0; i < n; i++) {
		const struct cfg_attr *a = cfg_attr_find(names[i]);

		if (!a) {
			cfg_set *tmp = cfg_set_new();

			rc = tmp ? cfg_set_value(tmp, names[i], values[i], "mmchconfig", err, errsz)
				 : MM_ENOMEM;
			cfg_set_free(tmp);
			if (!rc)
				rc = MM_ENOENT;
			goto out;
		}
		if (nnodes && a->scope != CFG_SCOPE_NODE) {
			snprintf(err, errsz, "mmchconfig: %s is a cluster-wide attribute: -N is not allowed",
				 a->name);
			rc = MM_EINVAL;
			goto out;
		}
		rc = cfg_attr_validate(a, values[i], canon[i], sizeof(canon[i]), "mmchconfig", err, errsz);
		if (rc)
			goto out;
		if (strcasecmp(values[i], "DEFAULT") == 0)
			canon[i][0] = '\0';	/* delete: back to the default */
		for (size_t j = 0; j < (nnodes ? nnodes : 1); j++)
			clm_config_key(keys[i * (nnodes ? nnodes : 1) + j], sizeof(keys[0]),
				   nnodes ? nodes[j] : NULL, a->name);
	}
	for (int attempt = 0; attempt < 20; attempt++) {
		struct etcd_kv *kvs = NULL;
		size_t nkv = 0;
		int64_t ver_rev, ver;
		bool ok = false;
		struct etcd_cmp cmp;
		cfg_set *check;

		rc = config_snapshot(c, &kvs, &nkv, &ver_rev, &ver);
		if (rc) {
			snprintf(err, errsz, "cannot read the CCR: %s", mm_strerror(rc));
			goto out;
		}
		/* the result as a whole must be valid (cross-attribute rules) */
		check = cfg_set_new();
		if (!check) {
			etcd_kvs_free(kvs, nkv);
			rc = MM_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < cfg_attr_count() && !rc; i++) {
			const char *name = cfg_attr_at(i)->name;
			const char *v = effective_value(kvs, nkv, NULL, name);

			for (size_t k = 0; k < n; k++)
				if (!nnodes && strcasecmp(names[k], name) == 0)
					v = canon[k][0] ? canon[k] : NULL;
			if (v)
				rc = cfg_set_value(check, name, v, "CCR", err, errsz);
		}
		if (!rc)
			rc = cfg_set_check(check, err, errsz);
		cfg_set_free(check);
		etcd_kvs_free(kvs, nkv);
		if (rc)
			goto out;

		for (size_t k = 0; k < nkeys; k++) {
			const char *v = canon[k / (nnodes ? nnodes : 1)];

			ops[k] = (struct etcd_op){v[0] ? ETCD_OP_PUT : ETCD_OP_DELETE, keys[k], v,
						  strlen(v), 0};
		}
		snprintf(verbuf, sizeof(verbuf), "%" PRId64, ver + 1);
		ops[nkeys] = (struct etcd_op){ETCD_OP_PUT, CLM_KEY_CONFIGVER, verbuf, strlen(verbuf), 0};
		cmp = (struct etcd_cmp){CLM_KEY_CONFIGVER, ver_rev ? ETCD_CMP_MOD : ETCD_CMP_CREATE,
					ETCD_EQUAL, ver_rev, NULL};
		rc = etcd_txn(c->etcd, &cmp, 1, ops, nkeys + 1, NULL, 0, &ok);
		if (rc) {
			snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
			goto out;
		}
		if (ok) {
			mm_notice(SUB, "configuration version %s committed (%zu attribute%s)",
				  verbuf, n, n == 1 ? "" : "s");
			goto out;
		}
		mm_info(SUB, "configuration update raced with another one: retrying");
		mm_sleep_ms((unsigned)(rand() % 20 + 1));
	}
	snprintf(err, errsz, "too many concurrent configuration changes; try again");
	rc = MM_ECONFLICT;
out:
	free(keys);
	free(canon);
	free(ops);
	return rc;
}

int clm_config_list(clm *c, struct cfg_cluster *def, struct clm_config_value **vals, size_t *nvals)
{
	struct etcd_kv *kvs = NULL;
	struct clm_config_value *v;
	size_t n = 0, k = 0;
	int rc;

	*vals = NULL;
	*nvals = 0;
	rc = etcd_get_prefix(c->etcd, CLM_KEY_CONFIG, &kvs, &n, NULL);
	if (rc)
		return rc;
	rc = clm_cluster_copy(c, def);
	v = rc ? NULL : calloc(n + 1, sizeof(*v));
	if (!rc && !v)
		rc = MM_ENOMEM;
	if (rc) {
		etcd_kvs_free(kvs, n);
		return rc;
	}
	/* cluster-wide values, in attribute table order */
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const char *name = cfg_attr_at(i)->name;
		const char *val = effective_value(kvs, n, NULL, name);

		if (!val)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", name);
		snprintf(v[k].value, sizeof(v[k].value), "%s", val);
		k++;
	}
	/* per-node values: by node number, then in key (attribute name) order */
	for (size_t j = 0; j < def->nnodes; j++) {
		char prefix[512];
		size_t pl;

		snprintf(prefix, sizeof(prefix), KEY_CONFIG_NODE "%s/", def->nodes[j].name);
		pl = strlen(prefix);
		for (size_t i = 0; i < n && k < n; i++) {
			if (strncmp(kvs[i].key, prefix, pl) != 0)
				continue;
			snprintf(v[k].node, sizeof(v[k].node), "%s", def->nodes[j].name);
			snprintf(v[k].name, sizeof(v[k].name), "%s", kvs[i].key + pl);
			snprintf(v[k].value, sizeof(v[k].value), "%s", kvs[i].value);
			k++;
		}
	}
	etcd_kvs_free(kvs, n);
	*vals = v;
	*nvals = k;
	return MM_OK;
}
