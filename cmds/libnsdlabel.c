/* cmds/libnsdlabel.c - see libnsdlabel.h. */
#include "cmds/libnsdlabel.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "nsd/label.h"

const struct cfg_node *cmd_label_host(struct cmd_env *e, const char (*servers)[256], int nservers)
{
	const struct cfg_node *n = nservers > 0 ? cfg_cluster_node(&e->def, servers[0]) : NULL;

	return n && !cmd_addr_is_local(n->ip) ? n : NULL;
}

/* The remote command line is single-quoted: allow only plain path bytes. */
static bool plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("/._-+:@", *s)))
			return false;
	return true;
}

/* Run `mmcrnsd --label-op ARGS` on <host>; parse its result line. */
static int remote_op(struct cmd_env *e, const struct cfg_node *host, const char *args,
		     char *line, size_t linesz, char *err, size_t errsz)
{
	char cmd[2048], *out = NULL, *l, *msg;
	int rc;

	snprintf(cmd, sizeof(cmd), "mmcrnsd --label-op %s", args);
	rc = cmd_remote(e, host, cmd, &out);
	l = out ? strstr(out, "label-op: ") : NULL;
	if (!l) {
		snprintf(err, errsz, "on node %s: could not run mmcrnsd --label-op (exit %d)%s%.300s",
			 host->name, rc, out ? ": " : "", out ? out : "");
		free(out);
		return MM_EUNREACH;
	}
	l += strlen("label-op: ");
	snprintf(line, linesz, "%.*s", (int)strcspn(l, "\n"), l);
	msg = strstr(out, "label-err: ");
	if (msg) {
		msg += strlen("label-err: ");
		snprintf(err, errsz, "on node %s: %.*s", host->name, (int)strcspn(msg, "\n"), msg);
	}
	free(out);
	return MM_OK;
}

int cmd_label_probe(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    struct cmd_probe *p)
{
	char args[1200], line[600], id[32];
	int rc;

	memset(p, 0, sizeof(*p));
	if (!host) {
		p->size_rc = nsd_label_size(dev, &p->size, p->err, sizeof(p->err));
		if (p->size_rc == MM_OK)
			p->rc = nsd_label_read(dev, &p->d, p->err, sizeof(p->err));
		return MM_OK;
	}
	if (!plain(dev)) {
		snprintf(p->err, sizeof(p->err), "%s: device path has characters the remote shell "
			 "would interpret", dev);
		return MM_EINVAL;
	}
	snprintf(args, sizeof(args), "probe %s", dev);
	rc = remote_op(e, host, args, line, sizeof(line), p->err, sizeof(p->err));
	if (rc)
		return rc;
	/* rc size_rc size cluster_id id name */
	if (sscanf(line, "%d %d %" SCNu64 " %" SCNu64 " %31s %63s", &p->rc, &p->size_rc, &p->size,
		   &p->d.cluster_id, id, p->d.name) < 3 ||
	    (p->rc == MM_OK && nsd_id_parse(id, &p->d.nsd_id))) {
		snprintf(p->err, sizeof(p->err), "on node %s: unexpected answer \"%s\"", host->name, line);
		return MM_EPROTO;
	}
	return MM_OK;
}

int cmd_label_write(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    const struct nsd_desc *d, char *err, size_t errsz)
{
	char args[1200], line[64], id[32];
	int rc, res;

	if (!host) {
		struct nsd_desc w = *d;

		nsd_label_size(dev, &w.disk_size, err, errsz);
		return nsd_label_write(dev, &w, err, errsz);
	}
	nsd_id_format(d->nsd_id, id, sizeof(id));
	snprintf(args, sizeof(args), "write %s %s %s %" PRIu64, dev, d->name, id, d->created);
	rc = remote_op(e, host, args, line, sizeof(line), err, errsz);
	if (rc)
		return rc;
	return sscanf(line, "%d", &res) == 1 ? res : MM_EPROTO;
}

int cmd_label_clear(struct cmd_env *e, const struct cfg_node *host, const char *dev,
		    uint64_t id, char *err, size_t errsz)
{
	char args[1200], line[64], idtxt[32];
	struct nsd_desc d;
	int rc, res;

	if (!host) {
		if (access(dev, F_OK) != 0) {
			snprintf(err, errsz, "device %s is not on this node", dev);
			return MM_ENOENT;
		}
		rc = nsd_label_read(dev, &d, err, errsz);
		if (rc == MM_OK && d.nsd_id != id) {
			snprintf(err, errsz, "%s holds NSD %s now, not this NSD", dev, d.name);
			return MM_ESTATE;
		}
		if (rc == MM_ENOENT) {
			snprintf(err, errsz, "%s holds no NSD descriptor", dev);
			return MM_ESTATE;
		}
		if (rc == MM_ECHECKSUM || rc == MM_EPROTO || rc == MM_ENOTSUP) {
			snprintf(err, errsz, "%s holds a damaged descriptor, not one of this NSD", dev);
			return MM_ESTATE;
		}
		if (rc)
			return rc;
		return nsd_label_clear(dev, err, errsz);
	}
	if (!plain(dev)) {
		snprintf(err, errsz, "%s: device path has characters the remote shell would interpret", dev);
		return MM_EINVAL;
	}
	nsd_id_format(id, idtxt, sizeof(idtxt));
	snprintf(args, sizeof(args), "clear %s %s", dev, idtxt);
	rc = remote_op(e, host, args, line, sizeof(line), err, errsz);
	if (rc)
		return rc;
	return sscanf(line, "%d", &res) == 1 ? res : MM_EPROTO;
}

int cmd_label_serve(struct cmd_env *e, int argc, char **argv)
{
	char err[600] = "";
	int rc;

	if (argc >= 2 && !strcmp(argv[0], "probe")) {
		struct cmd_probe p;
		char id[32] = "0";

		cmd_label_probe(e, NULL, argv[1], &p);
		if (p.rc == MM_OK)
			nsd_id_format(p.d.nsd_id, id, sizeof(id));
		printf("label-op: %d %d %" PRIu64 " %" PRIu64 " %s %s\n", p.rc, p.size_rc, p.size,
		       p.d.cluster_id, id, p.d.name[0] ? p.d.name : "-");
		if (p.err[0])
			printf("label-err: %s\n", p.err);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[0], "write")) {
		struct nsd_desc d = {0};

		snprintf(d.name, sizeof(d.name), "%s", argv[2]);
		char *end = NULL;

		d.created = strtoull(argv[4], &end, 10);
		if (nsd_id_parse(argv[3], &d.nsd_id) || !end || *end) {
			printf("label-op: %d\nlabel-err: bad arguments\n", MM_EINVAL);
			return 2;
		}
		d.cluster_id = e->def.id;
		d.sector_size = 512;
		d.reserved_size = NSD_RESERVED_BYTES;
		rc = cmd_label_write(e, NULL, argv[1], &d, err, sizeof(err));
	} else if (argc >= 3 && !strcmp(argv[0], "clear")) {
		uint64_t id;

		if (nsd_id_parse(argv[2], &id)) {
			printf("label-op: %d\nlabel-err: bad NSD id\n", MM_EINVAL);
			return 2;
		}
		rc = cmd_label_clear(e, NULL, argv[1], id, err, sizeof(err));
	} else {
		printf("label-op: %d\nlabel-err: usage: --label-op probe DEV | write DEV NAME ID CREATED "
		       "| clear DEV ID\n", MM_EINVAL);
		return 2;
	}
	printf("label-op: %d\n", rc);
	if (rc && err[0])
		printf("label-err: %s\n", err);
	return 0;
}
