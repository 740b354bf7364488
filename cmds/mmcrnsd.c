/*
 * mmcrnsd - create Network Shared Disks.
 *
 *   mmcrnsd -F StanzaFile [-v {yes | no}]
 *   mmcrnsd --mkdisk Path:Size[,Path:Size...]   (sparse files for demos and tests)
 *
 * Each %nsd stanza's device gets an NSD descriptor and the cluster an NSD
 * record in the CCR; the stanza file is then rewritten with every field
 * filled in (generated names, failure groups) for mmcrfs and mmadddisk,
 * keeping the operator's comments and other lines.
 * A disk that already holds a descriptor is refused unless -v no, and
 * always when that descriptor is of an NSD this cluster still defines
 * (mmdelnsd it first). A disk
 * with servers is probed and labelled on its first server (through the
 * remote shell when that is another host: cmds/libnsdlabel.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds/libcmd.h"
#include "cmds/libnsdlabel.h"
#include "common/err.h"
#include "common/util.h"
#include "mmfsd/admin.h"
#include "nsd/label.h"
#include "nsd/record.h"
#include "nsd/stanza.h"

#define REWRITTEN "# Rewritten by mmcrnsd on "

static int mkdisks(struct cmd_env *e, const char *spec)
{
	char *list = strdup(spec), *tok, *save;
	int failed = 0;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':'), dir[4096];
		uint64_t size;
		int fd;

		if (!colon || mm_parse_size(colon + 1, &size) || size <= NSD_RESERVED_BYTES) {
			cmd_errf(e, "\"%s\": expected Path:Size with a size above 1M, e.g. /tmp/d1:4G", tok);
			failed++;
			continue;
		}
		*colon = '\0';
		if (tok[0] != '/') {
			cmd_errf(e, "%s: give an absolute path", tok);
			failed++;
			continue;
		}
		if (access(tok, F_OK) == 0) {
			cmd_errf(e, "%s exists: not touched (remove it first to make a new disk there)", tok);
			failed++;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s", tok);
		*strrchr(dir, '/') = '\0';
		if (dir[0] && mm_mkdir_p(dir, 0755)) {
			cmd_errf(e, "cannot create directory %s", dir);
			failed++;
			continue;
		}
		fd = open(tok, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			cmd_errf(e, "cannot create %s: %s", tok, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(tok);
			}
			failed++;
			continue;
		}
		close(fd);
		printf("mmcrnsd: created %s, a sparse file of %s bytes\n", tok, colon + 1);
	}
	free(list);
	return failed ? 1 : 0;
}

/* Existing NSD records, from a local daemon. */
static int list_nsds(struct cmd_env *e, struct nsd_record **out, size_t *n)
{
	json_object *req = json_object_new_object(), *rep = NULL, *arr;
	int rc;

	*out = NULL;
	*n = 0;
	json_object_object_add(req, "cmd", json_object_new_string("lsnsd"));
	rc = cmd_request(e, req, 10000, &rep);
	if (!rc && json_object_object_get_ex(rep, "records", &arr)) {
		size_t cnt = json_object_array_length(arr);

		*out = calloc(cnt + 1, sizeof(**out));
		for (size_t i = 0; *out && i < cnt; i++) {
			const char *t = json_object_get_string(json_object_array_get_idx(arr, i));
			char err[256];

			if (nsd_record_decode(t, strlen(t), &(*out)[*n], err, sizeof(err)) == 0)
				(*n)++;
		}
	}
	json_object_put(rep);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"mkdisk", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *file = NULL, *mkdisk = NULL;
	bool verify = true;
	struct cmd_env e;
	struct nsd_stanza *st = NULL;
	struct nsd_record *old = NULL, *recs;
	size_t n = 0, nold = 0;
	json_object *req, *arr;
	char err[1024], *text = NULL, *orig = NULL;
	size_t orig_len = 0;
	unsigned next_gen = 1;
	int c, rc;

	if (argc >= 2 && !strcmp(argv[1], "--label-op")) {
		/* the server side of a remote probe, label or clear */
		if (cmd_env_init(&e, "mmcrnsd", true))
			return 1;
		return cmd_label_serve(&e, argc - 2, argv + 2);
	}
	while ((c = getopt_long(argc, argv, "F:v:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'F': file = optarg; break;
		case 'M': mkdisk = optarg; break;
		case 'v':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no")) {
				fprintf(stderr, "mmcrnsd: -v takes yes or no\n");
				return 2;
			}
			verify = strcmp(optarg, "yes") == 0;
			break;
		default:
			fprintf(stderr, "usage: mmcrnsd -F StanzaFile [-v {yes | no}]\n"
					"       mmcrnsd --mkdisk Path:Size[,Path:Size...]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc || (!file && !mkdisk)) {
		fprintf(stderr, "usage: mmcrnsd -F StanzaFile [-v {yes | no}]\n");
		return 2;
	}
	if (mkdisk) {
		cmd_env_init(&e, "mmcrnsd", false);
		return mkdisks(&e, mkdisk);
	}
	if (cmd_env_init(&e, "mmcrnsd", true))
		return 1;
	/* the text is kept: the rewrite keeps its comments */
	rc = mm_read_file(file, 16u << 20, &orig, &orig_len);
	if (rc) {
		cmd_errf(&e, "cannot read stanza file %s: %s", file, mm_strerror(rc));
		return 1;
	}
	rc = nsd_stanza_parse(orig, orig_len, file, &st, &n, err, sizeof(err));
	if (rc) {
		cmd_errf(&e, "%s", err);
		return 1;
	}
	if (list_nsds(&e, &old, &nold))
		return 1;
	for (size_t k = 0; k < nold; k++) {
		unsigned g;

		if (sscanf(old[k].name, "gpfs%unsd", &g) == 1 && g >= next_gen)
			next_gen = g + 1;
	}
	recs = calloc(n, sizeof(*recs));
	if (!recs)
		return 1;
	/* check every disk before changing anything */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nold; k++)
			if (strcmp(old[k].name, st[i].nsd) == 0) {
				cmd_errf(&e, "%s:%d: NSD %s already exists", file, st[i].line, st[i].nsd);
				return 1;
			}
		for (int k = 0; k < st[i].nservers; k++)
			if (!cfg_cluster_node(&e.def, st[i].servers[k])) {
				cmd_errf(&e, "%s:%d: servers: %s is not a node of cluster %s", file, st[i].line,
					 st[i].servers[k], e.def.name);
				return 1;
			}
		if (!st[i].nsd[0]) {
			for (;; next_gen++) {
				bool used = false;

				snprintf(st[i].nsd, sizeof(st[i].nsd), "gpfs%unsd", next_gen);
				for (size_t k = 0; k < n; k++)
					used |= k != i && strcmp(st[k].nsd, st[i].nsd) == 0;
				if (!used)
					break;
			}
			next_gen++;
		}
		if (!st[i].failure_group_set) {
			/* GPFS's default: 4000 + the first server's node number, else -1 */
			const struct cfg_node *s0 = st[i].nservers ? cfg_cluster_node(&e.def, st[i].servers[0]) : NULL;

			st[i].failure_group = s0 ? (int)(4000 + s0->number) : -1;
		}
		{
			const struct cfg_node *host = cmd_label_host(&e, (const char (*)[256])st[i].servers,
								     st[i].nservers);
			struct cmd_probe p;
			char where[300] = "";

			if (host)
				snprintf(where, sizeof(where), " on node %s", host->name);
			rc = cmd_label_probe(&e, host, st[i].device, &p);
			if (rc) {
				cmd_errf(&e, "%s:%d: %s", file, st[i].line, p.err);
				return 1;
			}
			if (p.size_rc == MM_ENOENT) {
				char why[400];

				/* say where it was looked for, and why there */
				if (host)
					snprintf(why, sizeof(why), " on node %s, its first NSD server", host->name);
				else if (st[i].nservers)
					snprintf(why, sizeof(why), " on its first NSD server %s (this node), "
						 "where mmcrnsd looks for it", st[i].servers[0]);
				else
					snprintf(why, sizeof(why), " on this node (it has no servers, so run "
						 "mmcrnsd where it is seen, or give it servers=)");
				cmd_errf(&e, "%s:%d: device %s is not found%s: %s", file, st[i].line,
					 st[i].device, why, p.err);
				return 1;
			}
			if (p.size_rc) {
				cmd_errf(&e, "%s%s", p.err, where);
				return 1;
			}
			if (p.size <= NSD_RESERVED_BYTES) {
				cmd_errf(&e, "%s%s: %" PRIu64 " bytes is too small for an NSD", st[i].device,
					 where, p.size);
				return 1;
			}
			if (p.rc == MM_OK && p.d.cluster_id == e.def.id) {
				/* -v no may overwrite a leftover, never a live NSD of ours */
				for (size_t k = 0; k < nold; k++)
					if (old[k].id == p.d.nsd_id) {
						cmd_errf(&e, "%s:%d: disk %s%s holds NSD %s of this cluster: "
							     "mmdelnsd %s first", file, st[i].line, st[i].device,
							 where, old[k].name, old[k].name);
						return 1;
					}
			}
			if (verify && p.rc == MM_OK) {
				char id[32];

				nsd_id_format(p.d.nsd_id, id, sizeof(id));
				cmd_errf(&e, "disk %s%s already holds the descriptor of NSD %s (id %s, cluster "
					     "id %" PRIu64 "); if it is no longer used, rerun with -v no",
					 st[i].device, where, p.d.name, id, p.d.cluster_id);
				return 1;
			}
			if (verify && p.rc != MM_ENOENT) {
				cmd_errf(&e, "%s%s; rerun with -v no to overwrite it", p.err, where);
				return 1;
			}
		}
		nsd_record_from_stanza(&recs[i], &st[i]);
		if (getrandom(&recs[i].id, sizeof(recs[i].id), 0) != sizeof(recs[i].id) || !recs[i].id)
			recs[i].id = mm_now_ns() | 1;
		recs[i].created = mm_wall_s();
	}
	/* the CCR decides who gets the names; then the disks get their labels */
	req = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string("crnsd"));
	json_object_object_add(req, "records", arr);
	for (size_t i = 0; i < n; i++) {
		char *t = NULL;

		if (nsd_record_encode(&recs[i], &t))
			return 1;
		json_object_array_add(arr, json_object_new_string(t));
		free(t);
	}
	rc = cmd_request(&e, req, 30000, NULL);
	if (rc)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct nsd_desc d = {0};

		snprintf(d.name, sizeof(d.name), "%s", recs[i].name);
		d.nsd_id = recs[i].id;
		d.cluster_id = e.def.id;
		d.created = recs[i].created;
		d.sector_size = 512;
		d.reserved_size = NSD_RESERVED_BYTES;
		printf("mmcrnsd: Processing disk %s\n", st[i].device);
		rc = cmd_label_write(&e, cmd_label_host(&e, (const char (*)[256])st[i].servers,
							st[i].nservers), st[i].device, &d, err, sizeof(err));
		if (rc) {
			json_object *dreq = json_object_new_object(), *names = json_object_new_array(), *drep = NULL;

			cmd_errf(&e, "%s: NSD %s is removed again", err, recs[i].name);
			json_object_object_add(dreq, "cmd", json_object_new_string("delnsd"));
			json_object_array_add(names, json_object_new_string(recs[i].name));
			json_object_object_add(dreq, "names", names);
			cmd_admin_local(&e, dreq, 30000, &drep, NULL, 0);
			json_object_put(dreq);
			json_object_put(drep);
			return 1;
		}
	}
	rc = nsd_stanza_rewrite(orig, orig_len, st, n, &text);
	if (!rc) {
		char hdr[256], ts[64], *all = NULL, *body = text;

		/* one header: an earlier run's goes */
		if (strncmp(body, REWRITTEN, strlen(REWRITTEN)) == 0)
			body += strcspn(body, "\n") + (body[strcspn(body, "\n")] ? 1 : 0);
		cmd_timestamp(ts, sizeof(ts));
		snprintf(hdr, sizeof(hdr), REWRITTEN "%s for mmcrfs and mmadddisk.\n", ts);
		if (asprintf(&all, "%s%s", hdr, body) < 0 ||
		    mm_write_file_atomic(file, all, strlen(all), 0644))
			cmd_errf(&e, "NSDs created, but %s could not be rewritten", file);
		free(all);
	} else {
		cmd_errf(&e, "NSDs created, but %s could not be rewritten: %s", file, mm_strerror(rc));
	}
	free(text);
	free(orig);
	cmd_nsd_rediscover(&e);
	printf("mmcrnsd: Propagating the cluster configuration data to all\n"
	       "  affected nodes.  This is an asynchronous process.\n");
	free(st);
	free(recs);
	free(old);
	cmd_env_free(&e);
	return 0;
}
