/*
 * cluster/clm_ccr.c - records of the CCR for callers outside the clm:
 * the cluster definition (read, and replace by compare-and-swap), and
 * objects whose value the caller owns (NSDs, later file systems).
 *
 * Entry points (cluster/clm.h): clm_cluster_read, clm_cluster_write,
 * clm_ccr_create, clm_ccr_list, clm_ccr_delete, clm_ccr_update.
 *
 * Each is one etcd request or transaction: no clm state is read or
 * changed, and clm's lock is not taken.
 * Related: cluster/clm.c (the session), cluster/clm_int.h.
 */
#include "cluster/clm.h"
#include "cluster/clm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

#define SUB "cluster"

int clm_cluster_read(clm *c, struct cfg_cluster *out, int64_t *mod_rev)
{
	struct etcd_kv kv = {0};
	char err[256];
	int rc = etcd_get(c->etcd, CLM_KEY_CLUSTER, &kv, NULL);

	if (rc)
		return rc;
	rc = cfg_cluster_parse(out, kv.value, "CCR " CLM_KEY_CLUSTER, err, sizeof(err));
	if (rc)
		mm_error(SUB, "%s", err);
	if (mod_rev)
		*mod_rev = kv.mod_rev;
	etcd_kv_clear(&kv);
	return rc;
}

int clm_cluster_write(clm *c, const struct cfg_cluster *def, int64_t expect_rev)
{
	struct etcd_cmp cmp = {CLM_KEY_CLUSTER, ETCD_CMP_MOD, ETCD_EQUAL, expect_rev, NULL};
	struct etcd_op op;
	char *text = NULL;
	bool ok = false;
	int rc = cfg_cluster_format(def, &text);

	if (rc)
		return rc;
	op = (struct etcd_op){ETCD_OP_PUT, CLM_KEY_CLUSTER, text, strlen(text), 0};
	rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);
	free(text);
	if (rc)
		return rc;
	return ok ? MM_OK : MM_ECONFLICT;
}

int clm_ccr_create(clm *c, const char *const *keys, const char *const *values, size_t n,
		   char *err, size_t errsz)
{
	struct etcd_cmp *cmp = calloc(n + 1, sizeof(*cmp));
	struct etcd_op *ops = calloc(n + 1, sizeof(*ops));
	bool ok = false;
	int rc;

	if (!cmp || !ops) {
		free(cmp);
		free(ops);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		cmp[i] = (struct etcd_cmp){keys[i], ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
		ops[i] = (struct etcd_op){ETCD_OP_PUT, keys[i], values[i], strlen(values[i]), 0};
	}
	rc = etcd_txn(c->etcd, cmp, n, ops, n, NULL, 0, &ok);
	free(cmp);
	free(ops);
	if (rc) {
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
		return rc;
	}
	if (ok)
		return MM_OK;
	for (size_t i = 0; i < n; i++) {
		struct etcd_kv kv = {0};

		if (etcd_get(c->etcd, keys[i], &kv, NULL) == MM_OK) {
			etcd_kv_clear(&kv);
			snprintf(err, errsz, "%s already exists", keys[i]);
			return MM_EEXIST;
		}
	}
	snprintf(err, errsz, "the CCR changed meanwhile; try again");
	return MM_ECONFLICT;
}

int clm_ccr_list(clm *c, const char *prefix, struct etcd_kv **kvs, size_t *n)
{
	return etcd_get_prefix(c->etcd, prefix, kvs, n, NULL);
}

int clm_ccr_delete(clm *c, const char *key, int64_t mod_rev)
{
	struct etcd_cmp cmp = {key, ETCD_CMP_MOD, ETCD_EQUAL, mod_rev, NULL};
	struct etcd_op op = {ETCD_OP_DELETE, key, NULL, 0, 0};
	bool ok = false;
	int rc = etcd_txn(c->etcd, &cmp, 1, &op, 1, NULL, 0, &ok);

	return rc ? rc : ok ? MM_OK : MM_ECONFLICT;
}

int clm_ccr_update(clm *c, const struct clm_ccr_change *ch, size_t n, char *err, size_t errsz)
{
	struct etcd_cmp *cmp = calloc(n + 1, sizeof(*cmp));
	struct etcd_op *ops = calloc(n + 1, sizeof(*ops));
	bool ok = false;
	int rc;

	if (!cmp || !ops) {
		free(cmp);
		free(ops);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		/* absent: its create revision is 0; present: its mod revision */
		cmp[i] = ch[i].mod_rev ? (struct etcd_cmp){ch[i].key, ETCD_CMP_MOD, ETCD_EQUAL, ch[i].mod_rev, NULL}
				       : (struct etcd_cmp){ch[i].key, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL};
		ops[i] = ch[i].value ? (struct etcd_op){ETCD_OP_PUT, ch[i].key, ch[i].value, strlen(ch[i].value), 0}
				     : (struct etcd_op){ETCD_OP_DELETE, ch[i].key, NULL, 0, 0};
	}
	rc = etcd_txn(c->etcd, cmp, n, ops, n, NULL, 0, &ok);
	free(cmp);
	free(ops);
	if (rc) {
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
		return rc;
	}
	if (ok)
		return MM_OK;
	for (size_t i = 0; i < n; i++) {
		struct etcd_kv kv = {0};
		int g = etcd_get(c->etcd, ch[i].key, &kv, NULL);
		int64_t now = g == MM_OK ? kv.mod_rev : 0;

		etcd_kv_clear(&kv);
		if (g == MM_OK || g == MM_ENOENT) {
			if (now != ch[i].mod_rev) {
				snprintf(err, errsz, "%s %s", ch[i].key, ch[i].mod_rev == 0 ? "already exists" :
					 now == 0 ? "no longer exists" : "changed meanwhile");
				return MM_ECONFLICT;
			}
		}
	}
	snprintf(err, errsz, "the CCR changed meanwhile; try again");
	return MM_ECONFLICT;
}
