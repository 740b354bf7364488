/*
 * mmfsd/admin_nsd.c - admin commands for the NSD table in the CCR:
 * crnsd (mmcrnsd), lsnsd (mmlsnsd), delnsd (mmdelnsd).
 *
 * Records travel as the JSON text of nsd/record.h. The daemon checks them
 * again (the command is not trusted to have done so) and writes them as
 * one create-if-absent transaction: two mmcrnsd calls can never both take
 * a name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "nsd/record.h"

#define SUB "nsd"

int adm_nsd_load(mmfsd *d, struct nsd_record **recs, int64_t **revs, size_t *n,
		    char *err, size_t errsz)
{
	struct etcd_kv *kvs = NULL;
	size_t nkv = 0;
	int rc = clm_ccr_list(mmfsd_clm(d), NSD_CCR_PREFIX, &kvs, &nkv);

	*recs = NULL;
	*n = 0;
	if (rc) {
		snprintf(err, errsz, "cannot read the NSD table: %s", mm_strerror(rc));
		return rc;
	}
	*recs = calloc(nkv + 1, sizeof(**recs));
	if (revs)
		*revs = calloc(nkv + 1, sizeof(**revs));
	if (!*recs || (revs && !*revs)) {
		etcd_kvs_free(kvs, nkv);
		return MM_ENOMEM;
	}
	for (size_t i = 0; i < nkv; i++) {
		char e[256];

		if (nsd_record_decode(kvs[i].value, kvs[i].value_len, &(*recs)[*n], e, sizeof(e))) {
			mm_error(SUB, "CCR key %s: %s: ignored", kvs[i].key, e);
			continue;
		}
		if (revs)
			(*revs)[*n] = kvs[i].mod_rev;
		(*n)++;
	}
	etcd_kvs_free(kvs, nkv);
	return MM_OK;
}

void adm_cmd_crnsd(mmfsd *d, json_object *req, json_object *rep)
{
	const char **texts = NULL;
	size_t n = adm_str_array(req, "records", &texts), nold = 0;
	struct nsd_record *recs = calloc(n + 1, sizeof(*recs)), *old = NULL;
	char **keys = calloc(n + 1, sizeof(*keys)), **vals = calloc(n + 1, sizeof(*vals));
	struct cfg_cluster def;
	char err[512] = "";
	int rc = MM_OK;

	cfg_cluster_init(&def);
	if (!adm_require_active(d, rep, "mmcrnsd"))
		goto out;
	if (!recs || !keys || !vals) {
		rc = MM_ENOMEM;
		goto done;
	}
	if (n == 0) {
		rc = MM_EINVAL;
		snprintf(err, sizeof(err), "mmcrnsd: no NSD given");
		goto done;
	}
	rc = clm_cluster_copy(mmfsd_clm(d), &def);
	if (!rc)
		rc = adm_nsd_load(d, &old, NULL, &nold, err, sizeof(err));
	for (size_t i = 0; !rc && i < n; i++) {
		rc = nsd_record_decode(texts[i], strlen(texts[i]), &recs[i], err, sizeof(err));
		for (int k = 0; !rc && k < recs[i].nservers; k++)
			if (!cfg_cluster_node(&def, recs[i].servers[k])) {
				snprintf(err, sizeof(err), "mmcrnsd: NSD %s: server %s is not a node of "
					 "this cluster", recs[i].name, recs[i].servers[k]);
				rc = MM_ENOENT;
			}
		for (size_t k = 0; !rc && k < nold; k++)
			if (old[k].id == recs[i].id) {
				snprintf(err, sizeof(err), "mmcrnsd: NSD id of %s is already used by %s",
					 recs[i].name, old[k].name);
				rc = MM_EEXIST;
			}
		if (!rc && (asprintf(&keys[i], NSD_CCR_PREFIX "%s", recs[i].name) < 0 ||
			    nsd_record_encode(&recs[i], &vals[i])))
			rc = MM_ENOMEM;
	}
	if (!rc) {
		rc = clm_ccr_create(mmfsd_clm(d), (const char *const *)keys, (const char *const *)vals, n,
				    err, sizeof(err));
		if (rc == MM_EEXIST) {
			/* name the NSD, not the key */
			const char *k = strstr(err, NSD_CCR_PREFIX);
			char name[128] = "?";

			if (k)
				sscanf(k + strlen(NSD_CCR_PREFIX), "%127s", name);
			snprintf(err, sizeof(err), "mmcrnsd: an NSD named %s already exists", name);
		}
	}
	if (!rc)
		mm_notice(SUB, "%zu NSD%s registered in the CCR", n, n == 1 ? "" : "s");
done:
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
out:
	for (size_t i = 0; i < n && keys && vals; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	free(recs);
	free(old);
	free(texts);
	cfg_cluster_free(&def);
}

void adm_cmd_lsnsd(mmfsd *d, json_object *req, json_object *rep)
{
	struct nsd_record *recs = NULL;
	json_object *arr;
	size_t n = 0;
	char err[256] = "";
	int rc = adm_nsd_load(d, &recs, NULL, &n, err, sizeof(err));
	(void)req;

	if (!rc) {
		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			char *t = NULL;

			if (nsd_record_encode(&recs[i], &t) == 0)
				json_object_array_add(arr, json_object_new_string(t));
			free(t);
		}
		json_object_object_add(rep, "records", arr);
	}
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
	free(recs);
}

void adm_cmd_delnsd(mmfsd *d, json_object *req, json_object *rep)
{
	const char **names = NULL;
	size_t n = adm_str_array(req, "names", &names), nall = 0;
	struct nsd_record *all = NULL;
	int64_t *revs = NULL;
	json_object *gone = json_object_new_array();
	char err[512] = "";
	int rc;

	if (!adm_require_active(d, rep, "mmdelnsd")) {
		json_object_put(gone);
		free(names);
		return;
	}
	rc = adm_nsd_load(d, &all, &revs, &nall, err, sizeof(err));
	if (!rc && n == 0) {
		snprintf(err, sizeof(err), "mmdelnsd: no NSD named");
		rc = MM_EINVAL;
	}
	/* check all first: a refused name deletes nothing */
	for (size_t i = 0; !rc && i < n; i++) {
		size_t k;

		for (k = 0; k < nall && strcmp(all[k].name, names[i]) != 0; k++)
			;
		if (k == nall) {
			snprintf(err, sizeof(err), "mmdelnsd: NSD %s does not exist", names[i]);
			rc = MM_ENOENT;
		} else if (all[k].fs[0]) {
			snprintf(err, sizeof(err), "mmdelnsd: NSD %s belongs to file system %s: remove it "
				 "from the file system first (mmdeldisk)", names[i], all[k].fs);
			rc = MM_EBUSY;
		}
	}
	for (size_t i = 0; !rc && i < n; i++) {
		char key[256], *t = NULL;
		size_t k;

		for (k = 0; strcmp(all[k].name, names[i]) != 0; k++)
			;
		snprintf(key, sizeof(key), NSD_CCR_PREFIX "%s", names[i]);
		rc = clm_ccr_delete(mmfsd_clm(d), key, revs[k]);
		if (rc) {
			snprintf(err, sizeof(err), "mmdelnsd: NSD %s: %s", names[i],
				 rc == MM_ECONFLICT ? "changed meanwhile; try again" : mm_strerror(rc));
			break;
		}
		if (nsd_record_encode(&all[k], &t) == 0)
			json_object_array_add(gone, json_object_new_string(t));
		free(t);
		mm_notice(SUB, "NSD %s deleted from the CCR", names[i]);
	}
	json_object_object_add(rep, "records", gone);
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
	free(all);
	free(revs);
	free(names);
}
