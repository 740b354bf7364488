/*
 * cluster/members.c - changing who is in the cluster while it runs:
 * mmaddnode, mmdelnode, mmchnode --quorum/--nonquorum/--manager/--client.
 *
 * Every change follows the same path: read the cluster definition and its
 * mod revision from the CCR, check the change against it, make the etcd
 * membership change it implies (add or remove a voting member), then write
 * the new definition if its revision is unchanged. The etcd change comes
 * first so that a definition naming a quorum node always has an etcd
 * member behind it; if the definition write then loses a race, the etcd
 * change is undone.
 *
 * Quorum rules (as GPFS's): at least one quorum node always; a quorum node
 * may only be removed (deleted or demoted) if the remaining quorum nodes
 * that are active still form a majority of the remaining ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/clm.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SUB "cluster"

static int peer_url(const struct cfg_cluster *def, const struct cfg_node *n, char *buf, size_t sz)
{
	return snprintf(buf, sz, "https://%s:%u", n->ip, def->etcd_peer_port) < (int)sz ? 0 : MM_ETOOBIG;
}

/*
 * etcd refuses a new voting member ("unhealthy cluster", which we see as
 * MM_ENOQUORUM) until every member has been connected for its health
 * interval (5 s): right after a start or a member change, wait that out.
 */
static int member_add(clm *c, const char *url, uint64_t *id)
{
	uint64_t end = mm_now_ms() + 15000;
	int rc;

	for (;;) {
		rc = etcd_member_add(clm_etcd(c), url, id);
		if (rc != MM_ENOQUORUM || mm_now_ms() >= end)
			return rc;
		mm_info(SUB, "etcd not ready to add member %s yet: retrying", url);
		mm_sleep_ms(500);
	}
}

static bool is_member(const uint32_t *m, size_t nm, uint32_t num)
{
	for (size_t i = 0; i < nm; i++)
		if (m[i] == num)
			return true;
	return false;
}

/* Find the etcd member of node <n> by its peer URL. */
static int find_member(clm *c, const struct cfg_cluster *def, const struct cfg_node *n, uint64_t *id)
{
	struct etcd_member *ms = NULL;
	size_t nms = 0;
	char url[128];
	int rc = etcd_member_list(clm_etcd(c), &ms, &nms);

	if (rc)
		return rc;
	peer_url(def, n, url, sizeof(url));
	rc = MM_ENOENT;
	for (size_t i = 0; i < nms; i++)
		if (strcmp(ms[i].peer_url, url) == 0) {
			*id = ms[i].id;
			rc = MM_OK;
		}
	free(ms);
	return rc;
}

/* The CCR's cluster definition and its revision, for a later CAS. */
static int read_def(clm *c, struct cfg_cluster *def, int64_t *rev, char *err, size_t errsz)
{
	int rc;

	cfg_cluster_init(def);
	rc = clm_cluster_read(c, def, rev);
	if (rc)
		snprintf(err, errsz, "cannot read the cluster definition: %s", mm_strerror(rc));
	return rc;
}

/* Remove node <n>'s etcd member, if it has one. */
static int remove_member(clm *c, const struct cfg_cluster *def, const struct cfg_node *n,
			 char *err, size_t errsz)
{
	uint64_t id;
	int rc;

	if (find_member(c, def, n, &id) != MM_OK)
		return MM_OK;
	rc = etcd_member_remove(clm_etcd(c), id);
	if (rc)
		snprintf(err, errsz, "etcd refused to remove the member of %s: %s", n->name,
			 mm_strerror(rc));
	else
		mm_notice(SUB, "removed etcd member %" PRIx64 " of node %s", id, n->name);
	return rc;
}

int clm_etcd_initial_cluster(clm *c, const char *extra, char **out)
{
	struct etcd_member *ms = NULL;
	size_t nms = 0, len = 0, cap = 256;
	char *s;
	int rc = etcd_member_list(clm_etcd(c), &ms, &nms);

	if (rc)
		return rc;
	s = malloc(cap);
	if (!s) {
		free(ms);
		return MM_ENOMEM;
	}
	s[0] = '\0';
	for (size_t i = 0; i <= nms; i++) {
		char item[320];
		size_t il;

		if (i < nms) {
			/* a member added but not started yet has no name: skip it,
			 * <extra> names the one being started */
			if (!ms[i].name[0])
				continue;
			snprintf(item, sizeof(item), "%s=%s", ms[i].name, ms[i].peer_url);
		} else if (extra) {
			snprintf(item, sizeof(item), "%s", extra);
		} else {
			break;
		}
		il = strlen(item);
		if (len + il + 2 > cap) {
			char *ns;

			cap = (len + il + 2) * 2;
			ns = realloc(s, cap);
			if (!ns) {
				free(s);
				free(ms);
				return MM_ENOMEM;
			}
			s = ns;
		}
		if (len)
			s[len++] = ',';
		memcpy(s + len, item, il + 1);
		len += il;
	}
	free(ms);
	*out = s;
	return MM_OK;
}

/* Would removing the quorum nodes flagged in <drop> keep quorum? */
static int check_quorum_after(clm *c, const struct cfg_cluster *def, const bool *drop,
			      char *err, size_t errsz)
{
	uint32_t *m = NULL;
	size_t nm = 0, remain = 0, active = 0;
	int rc = clm_members(c, &m, &nm);

	if (rc)
		return rc;
	for (size_t i = 0; i < def->nnodes; i++) {
		if (!def->nodes[i].quorum || drop[i])
			continue;
		remain++;
		active += is_member(m, nm, def->nodes[i].number);
	}
	free(m);
	if (remain == 0) {
		snprintf(err, errsz, "the cluster must keep at least one quorum node");
		return MM_EINVAL;
	}
	if (active < remain / 2 + 1) {
		snprintf(err, errsz, "only %zu of the remaining %zu quorum nodes are active: "
			 "the change would leave the cluster without quorum", active, remain);
		return MM_ENOQUORUM;
	}
	return MM_OK;
}

static int finish(clm *c, struct cfg_cluster *def, int64_t rev, char **def_text,
		  char *err, size_t errsz)
{
	int rc;

	def->generation++;
	rc = clm_cluster_write(c, def, rev);
	if (rc == MM_ECONFLICT)
		snprintf(err, errsz, "the cluster definition changed meanwhile; try again");
	else if (rc)
		snprintf(err, errsz, "cannot update the CCR: %s", mm_strerror(rc));
	if (!rc && def_text)
		rc = cfg_cluster_format(def, def_text);
	return rc;
}

int clm_node_add(clm *c, const struct clm_new_node *nodes, size_t n,
		 char **def_text, char **join, char *err, size_t errsz)
{
	struct cfg_cluster def;
	struct cfg_node *nv;
	uint64_t added[64];
	size_t nadded = 0;
	uint32_t next = 0;
	int64_t rev;
	int rc;

	*def_text = NULL;
	if (join)
		*join = NULL;
	if (n == 0 || n > 64) {
		snprintf(err, errsz, "give between 1 and 64 nodes");
		return MM_EINVAL;
	}
	rc = read_def(c, &def, &rev, err, errsz);
	if (rc)
		return rc;
	for (size_t i = 0; i < def.nnodes; i++)
		if (def.nodes[i].number > next)
			next = def.nodes[i].number;
	nv = realloc(def.nodes, (def.nnodes + n) * sizeof(*nv));
	if (!nv) {
		cfg_cluster_free(&def);
		return MM_ENOMEM;
	}
	def.nodes = nv;
	for (size_t i = 0; i < n; i++) {
		struct cfg_node *nd;

		if (cfg_cluster_node(&def, nodes[i].name) || cfg_cluster_node(&def, nodes[i].ip)) {
			snprintf(err, errsz, "node %s (%s) already belongs to the cluster", nodes[i].name,
				 nodes[i].ip);
			rc = MM_EEXIST;
			goto out;
		}
		nd = &def.nodes[def.nnodes++];
		memset(nd, 0, sizeof(*nd));
		nd->number = ++next;	/* numbers are never reused */
		snprintf(nd->name, sizeof(nd->name), "%s", nodes[i].name);
		snprintf(nd->ip, sizeof(nd->ip), "%s", nodes[i].ip);
		snprintf(nd->admin, sizeof(nd->admin), "%s", nodes[i].admin[0] ? nodes[i].admin : nodes[i].name);
		nd->quorum = nodes[i].quorum;
		nd->manager = nodes[i].manager;
	}
	for (size_t i = def.nnodes - n; i < def.nnodes; i++) {
		char url[128];

		if (!def.nodes[i].quorum)
			continue;
		peer_url(&def, &def.nodes[i], url, sizeof(url));
		rc = member_add(c, url, &added[nadded]);
		if (rc) {
			snprintf(err, errsz, "etcd refused the new quorum member %s: %s", def.nodes[i].name,
				 mm_strerror(rc));
			goto out;
		}
		nadded++;
		mm_notice(SUB, "added etcd member %" PRIx64 " for new quorum node %s", added[nadded - 1],
			  def.nodes[i].name);
		if (join && !*join) {
			char extra[192];

			snprintf(extra, sizeof(extra), "node%u=%s", def.nodes[i].number, url);
			clm_etcd_initial_cluster(c, extra, join);
		}
	}
	rc = finish(c, &def, rev, def_text, err, errsz);
	if (!rc)
		mm_notice(SUB, "%zu node%s added to the cluster", n, n == 1 ? "" : "s");
out:
	if (rc) {
		for (size_t i = 0; i < nadded; i++)
			etcd_member_remove(clm_etcd(c), added[i]);
		if (join) {
			free(*join);
			*join = NULL;
		}
	}
	cfg_cluster_free(&def);
	return rc;
}

int clm_node_delete(clm *c, const char *const *names, size_t n,
		    char **def_text, char *err, size_t errsz)
{
	struct cfg_cluster def;
	uint32_t *m = NULL;
	size_t nm = 0, k = 0;
	bool *drop = NULL;
	int64_t rev;
	int rc;

	*def_text = NULL;
	rc = read_def(c, &def, &rev, err, errsz);
	if (rc)
		return rc;
	drop = calloc(def.nnodes + 1, sizeof(*drop));
	rc = drop ? clm_members(c, &m, &nm) : MM_ENOMEM;
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *nd = cfg_cluster_node(&def, names[i]);

		if (!nd) {
			snprintf(err, errsz, "node %s does not belong to the cluster", names[i]);
			rc = MM_ENOENT;
			goto out;
		}
		if (is_member(m, nm, nd->number)) {
			snprintf(err, errsz, "node %s is active: shut it down first (mmshutdown -N %s)",
				 nd->name, nd->name);
			rc = MM_EBUSY;
			goto out;
		}
		drop[nd - def.nodes] = true;
	}
	rc = check_quorum_after(c, &def, drop, err, errsz);
	if (rc)
		goto out;
	for (size_t i = 0; i < def.nnodes; i++) {
		if (!drop[i] || !def.nodes[i].quorum)
			continue;
		rc = remove_member(c, &def, &def.nodes[i], err, errsz);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < def.nnodes; i++)
		if (!drop[i])
			def.nodes[k++] = def.nodes[i];
	def.nnodes = k;
	rc = finish(c, &def, rev, def_text, err, errsz);
	if (!rc)
		mm_notice(SUB, "%zu node%s deleted from the cluster", n, n == 1 ? "" : "s");
out:
	free(m);
	free(drop);
	cfg_cluster_free(&def);
	return rc;
}

int clm_node_change(clm *c, const char *const *names, size_t n, int quorum,
		    int manager, char **def_text, char **join, char *err, size_t errsz)
{
	struct cfg_cluster def;
	bool *drop = NULL;
	uint64_t added = 0;
	bool did_add = false;
	int64_t rev;
	int rc;

	*def_text = NULL;
	if (join)
		*join = NULL;
	rc = read_def(c, &def, &rev, err, errsz);
	if (rc)
		return rc;
	drop = calloc(def.nnodes + 1, sizeof(*drop));
	if (!drop) {
		rc = MM_ENOMEM;
		goto out;
	}
	if (quorum == 1 && n != 1) {
		/* etcd takes one new voting member at a time */
		snprintf(err, errsz, "make one node a quorum node at a time");
		rc = MM_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cfg_node *nd = cfg_cluster_node(&def, names[i]);

		if (!nd) {
			snprintf(err, errsz, "node %s does not belong to the cluster", names[i]);
			rc = MM_ENOENT;
			goto out;
		}
		if (quorum == 0 && nd->quorum)
			drop[nd - def.nodes] = true;
	}
	if (quorum == 0) {
		rc = check_quorum_after(c, &def, drop, err, errsz);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cfg_node *nd = (struct cfg_node *)cfg_cluster_node(&def, names[i]);
		char url[128];

		peer_url(&def, nd, url, sizeof(url));
		if (quorum == 1 && !nd->quorum) {
			rc = member_add(c, url, &added);
			if (rc) {
				snprintf(err, errsz, "etcd refused the new quorum member %s: %s", nd->name,
					 mm_strerror(rc));
				goto out;
			}
			did_add = true;
			if (join) {
				char extra[192];

				snprintf(extra, sizeof(extra), "node%u=%s", nd->number, url);
				clm_etcd_initial_cluster(c, extra, join);
			}
			mm_notice(SUB, "node %s becomes a quorum node (etcd member %" PRIx64 ")", nd->name, added);
		} else if (quorum == 0 && nd->quorum) {
			rc = remove_member(c, &def, nd, err, errsz);
			if (rc)
				goto out;
			mm_notice(SUB, "node %s is no longer a quorum node", nd->name);
		}
		if (quorum >= 0)
			nd->quorum = quorum;
		if (manager >= 0)
			nd->manager = manager;
	}
	rc = finish(c, &def, rev, def_text, err, errsz);
out:
	if (rc && did_add) {
		etcd_member_remove(clm_etcd(c), added);
		if (join) {
			free(*join);
			*join = NULL;
		}
	}
	free(drop);
	cfg_cluster_free(&def);
	return rc;
}
