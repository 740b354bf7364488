/*
 * mmfsd/admin_mgr.c - admin commands of the manager roles: lsmgr (who
 * manages the cluster and each file system, from this node's view of the
 * CCR), chmgr (mmchmgr: move a file system manager or the cluster
 * manager), and the test command tokspace (create, delete, widen or
 * narrow a token space until mmcrfs and mounts exist).
 *
 * Each answers from cluster/clm.h (fsmgr.c); replies name nodes by name
 * and address so the commands need no definition of their own.
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

#define SUB "admin"
#define MOVE_TIMEOUT_MS 10000

/* Add <prefix>name / <prefix>ip / <prefix>number of node <num> to <o>. */
static void add_node(json_object *o, const char *prefix, const struct cfg_cluster *def, uint32_t num)
{
	const struct cfg_node *n = num ? cfg_cluster_node_num(def, num) : NULL;
	char k[64];

	snprintf(k, sizeof(k), "%snumber", prefix);
	json_object_object_add(o, k, json_object_new_int((int)num));
	snprintf(k, sizeof(k), "%sname", prefix);
	json_object_object_add(o, k, json_object_new_string(n ? n->name : ""));
	snprintf(k, sizeof(k), "%sip", prefix);
	json_object_object_add(o, k, json_object_new_string(n ? n->ip : ""));
}

static void fsid_str(uint64_t fsid, char *buf, size_t sz)
{
	snprintf(buf, sz, "%016" PRIx64, fsid);
}

void adm_cmd_lsmgr(mmfsd *d, json_object *req, json_object *rep)
{
	clm *c = mmfsd_clm(d);
	struct cfg_cluster def;
	struct clm_fsmgr *f = NULL;
	size_t n = 0;
	json_object *arr;
	int rc;

	(void)req;
	if (clm_get_state(c) != CLM_ACTIVE) {
		adm_set_rc(rep, MM_ENOQUORUM, "mmlsmgr: this node is not active (no quorum): "
					  "it does not know the managers now");
		return;
	}
	cfg_cluster_init(&def);
	rc = clm_cluster_copy(c, &def);
	if (!rc)
		rc = clm_fsmgr_list(c, &f, &n);
	if (rc) {
		cfg_cluster_free(&def);
		adm_set_rc(rep, rc, mm_strerror(rc));
		return;
	}
	add_node(rep, "cm_", &def, clm_cluster_manager(c));
	add_node(rep, "from_", &def, mmfsd_node_number(d));
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object(), *sv = json_object_new_array();
		char id[32], ep[32];

		fsid_str(f[i].fsid, id, sizeof(id));
		snprintf(ep, sizeof(ep), "%" PRIu64, f[i].epoch);
		json_object_object_add(o, "device", json_object_new_string(f[i].device));
		json_object_object_add(o, "fsid", json_object_new_string(id));
		json_object_object_add(o, "epoch", json_object_new_string(ep));
		json_object_object_add(o, "spread", json_object_new_boolean(f[i].spread));
		add_node(o, "", &def, f[i].node);
		for (size_t k = 0; k < f[i].nservers; k++) {
			const struct cfg_node *nd = cfg_cluster_node_num(&def, f[i].servers[k]);

			json_object_array_add(sv, json_object_new_string(nd ? nd->name : "?"));
		}
		json_object_object_add(o, "servers", sv);
		json_object_array_add(arr, o);
	}
	json_object_object_add(rep, "spaces", arr);
	free(f);
	cfg_cluster_free(&def);
	adm_set_rc(rep, MM_OK, NULL);
}

/* mmchmgr without a node: the active manager node managing the fewest
 * spaces, other than <cur>. */
static uint32_t auto_fsmgr(clm *c, const struct cfg_cluster *def, uint32_t cur)
{
	struct clm_fsmgr *f = NULL;
	uint32_t cands[256];
	unsigned loads[256] = {0};
	size_t n = 0, nf = 0;

	for (size_t i = 0; i < def->nnodes && n < 256; i++)
		if (def->nodes[i].manager && def->nodes[i].number != cur &&
		    clm_is_member(c, def->nodes[i].number))
			cands[n++] = def->nodes[i].number;
	if (clm_fsmgr_list(c, &f, &nf) == 0)
		for (size_t i = 0; i < nf; i++)
			for (size_t k = 0; k < n; k++)
				loads[k] += f[i].node == cands[k];
	free(f);
	return clm_fsmgr_pick(cands, loads, n);
}

void adm_cmd_chmgr(mmfsd *d, json_object *req, json_object *rep)
{
	clm *c = mmfsd_clm(d);
	const char *device = adm_get_str(req, "device", ""), *node = adm_get_str(req, "node", "");
	bool cm = adm_get_int(req, "cm", 0) != 0;
	const struct cfg_node *to = NULL;
	struct cfg_cluster def;
	struct clm_fsmgr f = {0};
	char msg[512] = "", err[300] = "";
	uint32_t old = 0, num = 0;
	int rc;

	if (!adm_require_active(d, rep, "mmchmgr"))
		return;
	cfg_cluster_init(&def);
	if ((rc = clm_cluster_copy(c, &def))) {
		adm_set_rc(rep, rc, "mmchmgr: cannot read the cluster definition");
		return;
	}
	if (!cm && clm_fsmgr_find(c, device, &f)) {
		snprintf(msg, sizeof(msg), "mmchmgr: File system %s is not known to the cluster", device);
		rc = MM_ENOENT;
		goto out;
	}
	if (*node) {
		to = cfg_cluster_node(&def, node);
		if (!to) {
			snprintf(msg, sizeof(msg), "mmchmgr: node %s does not belong to the cluster", node);
			rc = MM_ENOENT;
			goto out;
		}
		num = to->number;
	} else if (cm) {
		uint32_t cur = clm_cluster_manager(c);

		for (size_t i = 0; i < def.nnodes && !num; i++)
			if (def.nodes[i].quorum && def.nodes[i].number != cur &&
			    clm_is_member(c, def.nodes[i].number))
				num = def.nodes[i].number;
	} else {
		num = auto_fsmgr(c, &def, f.node);
	}
	to = num ? cfg_cluster_node_num(&def, num) : NULL;
	if (!to) {
		snprintf(msg, sizeof(msg), "mmchmgr: no other active %s node to move to",
			 cm ? "quorum" : "manager");
		rc = MM_ENOENT;
		goto out;
	}
	if (cm && !to->quorum) {
		snprintf(msg, sizeof(msg), "mmchmgr: node %s is not a quorum node: the cluster manager "
			 "is chosen among quorum nodes", to->name);
		rc = MM_EINVAL;
		goto out;
	}
	if (!cm && !to->manager) {
		snprintf(msg, sizeof(msg), "mmchmgr: node %s is not a manager node: only manager nodes "
			 "can be file system managers (mmchnode --manager)", to->name);
		rc = MM_EINVAL;
		goto out;
	}
	if (!clm_is_member(c, to->number)) {
		snprintf(msg, sizeof(msg), "mmchmgr: node %s is not active", to->name);
		rc = MM_ESTATE;
		goto out;
	}
	if (cm)
		rc = clm_cm_move(c, to->number, MOVE_TIMEOUT_MS, &old, err, sizeof(err));
	else
		rc = clm_fsmgr_move(c, f.fsid, to->number, MOVE_TIMEOUT_MS, &old, err, sizeof(err));
	if (rc)
		snprintf(msg, sizeof(msg), "mmchmgr: %s", err);
	else
		mm_notice(SUB, "mmchmgr: %s moved from node %u to node %u", cm ? "cluster manager" : f.device,
			  old, to->number);
out:
	if (!rc) {
		add_node(rep, "old_", &def, old);
		add_node(rep, "new_", &def, to->number);
		json_object_object_add(rep, "device", json_object_new_string(cm ? "" : f.device));
	}
	cfg_cluster_free(&def);
	adm_set_rc(rep, rc, msg);
}

/* Test command: create, delete, widen (spread) or narrow a token space. */
void adm_cmd_tokspace(mmfsd *d, json_object *req, json_object *rep)
{
	clm *c = mmfsd_clm(d);
	const char *op = adm_get_str(req, "op", ""), *device = adm_get_str(req, "device", "");
	const char *id = adm_get_str(req, "fsid", "");
	char err[300] = "", *end = NULL;
	uint64_t fsid = *id ? strtoull(id, &end, 16) : 0;
	struct clm_fsmgr f;
	int rc;

	if (!adm_require_active(d, rep, "tokspace"))
		return;
	if (*id && (*end || strlen(id) > 16 || !fsid)) {
		adm_set_rc(rep, MM_EINVAL, "tokspace: fsid is 1 to 16 hex digits, not 0");
		return;
	}
	if (!fsid && *device && strcmp(op, "create") != 0) {
		if (clm_fsmgr_find(c, device, &f)) {
			adm_set_rc(rep, MM_ENOENT, "tokspace: no such device");
			return;
		}
		fsid = f.fsid;
	}
	if (strcmp(op, "create") == 0)
		rc = clm_tokspace_create(c, fsid, device, err, sizeof(err));
	else if (strcmp(op, "delete") == 0)
		rc = clm_tokspace_delete(c, fsid, err, sizeof(err));
	else if (strcmp(op, "spread") == 0 || strcmp(op, "narrow") == 0)
		rc = clm_fsmgr_spread(c, fsid, op[0] == 's', err, sizeof(err));
	else {
		rc = MM_EINVAL;
		snprintf(err, sizeof(err), "tokspace: op is create, delete, spread or narrow");
	}
	if (!rc)
		mm_notice(SUB, "test: token space %016" PRIx64 " %s: %s", fsid, device, op);
	adm_set_rc(rep, rc, err[0] ? err : mm_strerror(rc));
}
