/*
 * mmfsd/admin_expel.c - the admin command "expel" (mmexpelnode):
 *
 *   op "expel"   nodes [names], user: ask the cluster manager to expel
 *                each named node (clm_expel_node) and wait for it; the
 *                cluster manager is refused ("use mmchmgr -c first")
 *   op "list"    the pending expel requests (clm_expel_list)
 *   op "report"  test hook: this node reports nodes[0] as unreachable
 *                (clm_request_expel, the token layer's path: the cluster
 *                manager picks the victim), with "why"; returns at once
 *
 * Replies name nodes by name and address so the command needs no
 * definition of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "mmfsd/admin.h"
#include "mmfsd/admin_int.h"

#define SUB "admin"
#define EXPEL_TIMEOUT_MS 10000

static json_object *node_obj(const struct cfg_cluster *def, uint32_t num)
{
	const struct cfg_node *n = cfg_cluster_node_num(def, num);
	json_object *o = json_object_new_object();

	json_object_object_add(o, "number", json_object_new_int((int)num));
	json_object_object_add(o, "name", json_object_new_string(n ? n->name : "?"));
	json_object_object_add(o, "ip", json_object_new_string(n ? n->ip : "?"));
	return o;
}

static void expel_list(clm *c, const struct cfg_cluster *def, json_object *rep)
{
	struct clm_expelreq *r = NULL;
	size_t n = 0;
	json_object *arr;
	int64_t now = (int64_t)time(NULL);
	int rc = clm_expel_list(c, &r, &n);

	if (rc) {
		char msg[160];

		snprintf(msg, sizeof(msg), "mmexpelnode: cannot read the CCR: %s", mm_strerror(rc));
		adm_set_rc(rep, rc, msg);
		return;
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		int64_t age = now - (int64_t)r[i].at;

		json_object_object_add(o, "target", node_obj(def, r[i].target));
		json_object_object_add(o, "from", node_obj(def, r[i].from));
		json_object_object_add(o, "why", json_object_new_string(r[i].why));
		json_object_object_add(o, "named", json_object_new_boolean(r[i].named));
		json_object_object_add(o, "age", json_object_new_int64(r[i].at && age > 0 ? age : 0));
		json_object_array_add(arr, o);
	}
	json_object_object_add(rep, "requests", arr);
	free(r);
	adm_set_rc(rep, MM_OK, NULL);
}

void adm_cmd_expel(mmfsd *d, json_object *req, json_object *rep)
{
	clm *c = mmfsd_clm(d);
	const char *op = adm_get_str(req, "op", "");
	const char **names = NULL;
	size_t n = adm_str_array(req, "nodes", &names);
	struct cfg_cluster def;
	uint32_t *nums = NULL;
	json_object *done;
	char msg[512] = "", err[300] = "", why[CLM_EXPEL_WHY_MAX];
	int rc = MM_OK;

	cfg_cluster_init(&def);
	if ((rc = clm_cluster_copy(c, &def))) {
		adm_set_rc(rep, rc, "mmexpelnode: cannot read the cluster definition");
		goto out;
	}
	if (strcmp(op, "list") == 0) {
		expel_list(c, &def, rep);
		goto out;
	}
	if (strcmp(op, "expel") != 0 && strcmp(op, "report") != 0) {
		adm_set_rc(rep, MM_EINVAL, "expel: op is expel, list or report");
		goto out;
	}
	if (!adm_require_active(d, rep, "mmexpelnode"))
		goto out;
	if (n == 0 || (strcmp(op, "report") == 0 && n != 1)) {
		adm_set_rc(rep, MM_EINVAL, "mmexpelnode: name the node(s) to expel");
		goto out;
	}
	nums = calloc(n, sizeof(*nums));
	if (!nums) {
		adm_set_rc(rep, MM_ENOMEM, NULL);
		goto out;
	}
	/* every name first: nothing is asked for if one is wrong */
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *nd = cfg_cluster_node(&def, names[i]);

		if (!nd) {
			snprintf(msg, sizeof(msg), "mmexpelnode: node %s does not belong to the cluster",
				 names[i]);
			adm_set_rc(rep, MM_ENOENT, msg);
			goto out;
		}
		nums[i] = nd->number;
		if (strcmp(op, "expel") == 0 && nd->number == clm_cluster_manager(c)) {
			snprintf(msg, sizeof(msg), "mmexpelnode: node %s is the cluster manager and cannot "
				 "be expelled: use mmchmgr -c first to move the role to another quorum node",
				 nd->name);
			adm_set_rc(rep, MM_EINVAL, msg);
			goto out;
		}
	}
	if (strcmp(op, "report") == 0) {
		rc = clm_request_expel(c, nums[0], adm_get_str(req, "why", "test report"), err,
				       sizeof(err));
		if (rc)
			snprintf(msg, sizeof(msg), "expel: %s", err);
		else
			mm_notice(SUB, "test: reported node %u to the cluster manager as unreachable",
				  nums[0]);
		adm_set_rc(rep, rc, msg);
		goto out;
	}
	snprintf(why, sizeof(why), "mmexpelnode by %s", adm_get_str(req, "user", "?"));
	done = json_object_new_array();
	json_object_object_add(rep, "expelled", done);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = clm_expel_node(c, nums[i], why, EXPEL_TIMEOUT_MS, err, sizeof(err));
		if (rc) {
			snprintf(msg, sizeof(msg), "mmexpelnode: %s", err);
			break;
		}
		mm_notice(SUB, "mmexpelnode: node %u (%s) expelled (%s)", nums[i], names[i], why);
		json_object_array_add(done, node_obj(&def, nums[i]));
	}
	adm_set_rc(rep, rc, msg);
out:
	free(nums);
	free(names);
	cfg_cluster_free(&def);
}
