/*
 * mmfsd/admin_mount.c - admin commands of the mount service (fssvc.h):
 * mount (mmmount on this node), umount (mmumount on this node), lsmount
 * (mmlsmount: the marks in the CCR, for the whole cluster).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"
#include "mmfsd/fsrec.h"
#include "mmfsd/fssvc.h"

void adm_cmd_mount(mmfsd *d, json_object *req, json_object *rep)
{
	const char *device = adm_get_str(req, "device", "");
	const char *opts = adm_get_str(req, "options", "");
	char err[1024] = "";
	int rc;

	if (!device[0]) {
		adm_set_rc(rep, MM_EINVAL, "mmmount: no file system named");
		return;
	}
	rc = fssvc_mount(mmfsd_fssvc(d), device, opts, err, sizeof(err));
	if (rc == MM_OK) {
		struct fssvc_mount_info *mi = NULL;
		size_t n = 0;

		if (fssvc_list(mmfsd_fssvc(d), &mi, &n) == MM_OK)
			for (size_t i = 0; i < n; i++)
				if (!strcmp(mi[i].device, device) ||
				    (!strncmp(device, "/dev/", 5) && !strcmp(mi[i].device, device + 5)) ||
				    !strcmp(mi[i].mountpoint, device)) {
					json_object_object_add(rep, "device",
							       json_object_new_string(mi[i].device));
					json_object_object_add(rep, "mountpoint",
							       json_object_new_string(mi[i].mountpoint));
				}
		free(mi);
	}
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
}

void adm_cmd_umount(mmfsd *d, json_object *req, json_object *rep)
{
	const char *device = adm_get_str(req, "device", "");
	char err[1024] = "";
	int rc;

	if (!device[0]) {
		adm_set_rc(rep, MM_EINVAL, "mmumount: no file system named");
		return;
	}
	rc = fssvc_unmount(mmfsd_fssvc(d), device, adm_get_bool(req, "force", false), err,
			   sizeof(err));
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
}

/*
 * Every file system of the CCR ("filesystems": [{device, mountpoint}])
 * and every mark ("mounts": [{device, node, name, ip, mountpoint,
 * options}]); the command filters and formats. Read-only.
 */
void adm_cmd_lsmount(mmfsd *d, json_object *req, json_object *rep)
{
	struct fssvc_mark *marks = NULL;
	struct etcd_kv *kvs = NULL;
	struct cfg_cluster def;
	size_t nm = 0, nkv = 0;
	json_object *fsa, *ma;
	struct fsrec *r = malloc(sizeof(*r));
	char msg[256];
	int rc;

	(void)req;
	cfg_cluster_init(&def);
	rc = r ? clm_ccr_list(mmfsd_clm(d), FSREC_CCR_PREFIX, &kvs, &nkv) : MM_ENOMEM;
	if (!rc)
		rc = fssvc_marks(d, &marks, &nm);
	if (rc) {
		snprintf(msg, sizeof(msg), "mmlsmount: cannot read the CCR: %s", mm_strerror(rc));
		adm_set_rc(rep, rc, msg);
		goto out;
	}
	clm_cluster_copy(mmfsd_clm(d), &def);
	fsa = json_object_new_array();
	for (size_t i = 0; i < nkv; i++) {
		json_object *o;
		char e[256];

		if (fsrec_decode(kvs[i].value, kvs[i].value_len, r, e, sizeof(e)))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "device", json_object_new_string(r->device));
		json_object_object_add(o, "mountpoint", json_object_new_string(r->mount_point));
		json_object_array_add(fsa, o);
	}
	json_object_object_add(rep, "filesystems", fsa);
	ma = json_object_new_array();
	for (size_t i = 0; i < nm; i++) {
		const struct cfg_node *n = cfg_cluster_node_num(&def, marks[i].node);
		json_object *o = json_object_new_object();

		json_object_object_add(o, "device", json_object_new_string(marks[i].device));
		json_object_object_add(o, "node", json_object_new_int64(marks[i].node));
		json_object_object_add(o, "name", json_object_new_string(n ? n->name : "?"));
		json_object_object_add(o, "ip", json_object_new_string(n ? n->ip : "?"));
		json_object_object_add(o, "mountpoint", json_object_new_string(marks[i].mountpoint));
		json_object_object_add(o, "options", json_object_new_string(marks[i].opts));
		json_object_array_add(ma, o);
	}
	json_object_object_add(rep, "mounts", ma);
	json_object_object_add(rep, "cluster", json_object_new_string(def.name));
	adm_set_rc(rep, MM_OK, NULL);
out:
	etcd_kvs_free(kvs, nkv);
	free(marks);
	free(r);
	cfg_cluster_free(&def);
}
