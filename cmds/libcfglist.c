/* cmds/libcfglist.c - see libcfglist.h. */
#include "cmds/libcfglist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

void cmd_cfg_list_free(struct cmd_cfg_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int cmd_cfg_list_from_reply(json_object *rep, struct cmd_cfg_list *l)
{
	const char *name = get_str(rep, "clusterName"), *id = get_str(rep, "clusterId");
	json_object *arr;
	size_t n;

	memset(l, 0, sizeof(*l));
	if (!name || !id || !json_object_object_get_ex(rep, "values", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return MM_EPROTO;
	/* ids use all 64 bits: parse as unsigned */
	{
		char *end;

		errno = 0;
		l->id = strtoull(id, &end, 10);
		if (!*id || *end || errno)
			return MM_EPROTO;
	}
	snprintf(l->cluster, sizeof(l->cluster), "%s", name);
	n = json_object_array_length(arr);
	l->v = calloc(n + 1, sizeof(*l->v));
	if (!l->v)
		return MM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *an = get_str(o, "name"), *av = get_str(o, "value"), *nd = get_str(o, "node");

		if (!an || !av) {
			cmd_cfg_list_free(l);
			return MM_EPROTO;
		}
		snprintf(l->v[i].name, sizeof(l->v[i].name), "%s", an);
		snprintf(l->v[i].value, sizeof(l->v[i].value), "%s", av);
		snprintf(l->v[i].node, sizeof(l->v[i].node), "%s", nd ? nd : "");
	}
	l->n = n;
	return MM_OK;
}

int cmd_cfg_list_from_def(const struct cfg_cluster *def, struct cmd_cfg_list *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->cluster, sizeof(l->cluster), "%s", def->name);
	l->id = def->id;
	l->v = calloc(def->nattrs + 1, sizeof(*l->v));
	if (!l->v)
		return MM_ENOMEM;
	for (size_t i = 0; i < def->nattrs; i++) {
		snprintf(l->v[i].name, sizeof(l->v[i].name), "%s", def->attr_names[i]);
		snprintf(l->v[i].value, sizeof(l->v[i].value), "%s", def->attr_values[i]);
	}
	l->n = def->nattrs;
	return MM_OK;
}

/* Shown even at their default, as GPFS does. */
static bool shown_always(const char *name)
{
	return strcmp(name, "cipherList") == 0 || strcmp(name, "autoload") == 0;
}

static const char *common_value(const struct cmd_cfg_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].node[0] && strcmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

static void print_dashes(FILE *f, size_t n)
{
	while (n--)
		fputc('-', f);
}

void cmd_cfg_list_print(FILE *f, const struct cmd_cfg_list *l, const struct cfg_attr *only,
			bool parseable, bool header)
{
	const char *prev = NULL;

	if (parseable && header)
		fprintf(f, "mmlsconfig::HEADER:version:reserved:reserved:configParameter:value:nodeList:\n");
	if (only) {
		const char *v = common_value(l, only->name);

		if (parseable)
			fprintf(f, "mmlsconfig::0:1:::%s:%s::\n", only->name, v ? v : only->def);
		else
			fprintf(f, "%s %s\n", only->name, v ? v : only->def);
		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].node[0] && strcmp(l->v[i].name, only->name) == 0)
				fprintf(f, parseable ? "mmlsconfig::0:1:::%s:%s:%s:\n" : "%s %s [%s]\n",
					only->name, l->v[i].value, l->v[i].node);
		return;
	}
	if (parseable) {
		fprintf(f, "mmlsconfig::0:1:::clusterName:%s::\n", l->cluster);
		fprintf(f, "mmlsconfig::0:1:::clusterId:%" PRIu64 "::\n", l->id);
	} else {
		fprintf(f, "Configuration data for cluster %s:\n", l->cluster);
		print_dashes(f, strlen(l->cluster) + 28);
		fprintf(f, "\nclusterName %s\nclusterId %" PRIu64 "\n", l->cluster, l->id);
	}
	for (size_t i = 0; i < cfg_attr_count(); i++) {
		const struct cfg_attr *a = cfg_attr_at(i);
		const char *v = common_value(l, a->name);

		if (!v && !shown_always(a->name))
			continue;
		fprintf(f, parseable ? "mmlsconfig::0:1:::%s:%s::\n" : "%s %s\n", a->name,
			v ? v : a->def);
	}
	/* per-node values, grouped as GPFS prints them: "[node]", its lines, "[common]" */
	for (size_t i = 0; i < l->n; i++) {
		const struct cmd_cfg_value *v = &l->v[i];

		if (!v->node[0])
			continue;
		if (parseable) {
			fprintf(f, "mmlsconfig::0:1:::%s:%s:%s:\n", v->name, v->value, v->node);
			continue;
		}
		if (!prev || strcmp(prev, v->node) != 0) {
			if (prev)
				fprintf(f, "[common]\n");
			fprintf(f, "[%s]\n", v->node);
			prev = v->node;
		}
		fprintf(f, "%s %s\n", v->name, v->value);
	}
	if (parseable)
		return;
	if (prev)
		fprintf(f, "[common]\n");
	fprintf(f, "\nFile systems in cluster %s:\n", l->cluster);
	print_dashes(f, strlen(l->cluster) + 24);
	fprintf(f, "\n(none)\n");
}
