/*
 * mmfsd/fe_util.c - the front end's pure helpers (fe.h): supplementary
 * groups from /proc/<pid>/status, fuse.mmfs mounts of /proc/self/mountinfo.
 * Apart from fe.c so unit tests link them without a stripe group.
 */
#include "mmfsd/fe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- pure helpers --------------------------------------------------- */

int fe_parse_groups(const char *status, struct fs_cred *c)
{
	const char *p = status;

	c->ngroups = 0;
	while (p && *p) {
		if (strncmp(p, "Groups:", 7) == 0)
			break;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return MM_ENOENT;
	p += 7;
	for (;;) {
		char *end;
		unsigned long g;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			break;
		g = strtoul(p, &end, 10);
		/* a number cut off by the end of what was read is not a group */
		if (*end != ' ' && *end != '\t' && *end != '\n')
			break;
		if (c->ngroups < FS_MAX_GROUPS && g <= UINT32_MAX)
			c->groups[c->ngroups++] = (uint32_t)g;
		p = end;
	}
	return MM_OK;
}

/* Decode mountinfo's octal escapes (\040 space, \011 tab, \012, \134) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

bool fe_mountinfo_top(const char *mountinfo, const char *mountpoint, char *majmin, size_t cap)
{
	const char *line = mountinfo;
	bool found = false;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[8192], *f[5], *save = NULL;
		size_t nf = 0;

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			for (char *t = strtok_r(buf, " ", &save); t && nf < 5; t = strtok_r(NULL, " ", &save))
				f[nf++] = t;
			/* id parent maj:min root mountpoint ... */
			if (nf == 5) {
				unescape(f[4]);
				if (strcmp(f[4], mountpoint) == 0) {
					snprintf(majmin, cap, "%s", f[2]);
					found = true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

size_t fe_mountinfo_each(const char *mountinfo, const char *device,
			 void (*fn)(void *arg, const char *mountpoint, const char *source),
			 void *arg)
{
	const char *line = mountinfo;
	size_t found = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[8192], *f[64], *save = NULL;
		size_t nf = 0, sep;

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			for (char *t = strtok_r(buf, " ", &save); t && nf < 64; t = strtok_r(NULL, " ", &save))
				f[nf++] = t;
			/* id parent maj:min root mountpoint options [optional...] - type source super */
			for (sep = 6; sep < nf && strcmp(f[sep], "-") != 0; sep++)
				;
			if (nf >= 5 && sep + 2 < nf && strcmp(f[sep + 1], "fuse.mmfs") == 0) {
				unescape(f[4]);
				unescape(f[sep + 2]);
				if (!device || strcmp(f[sep + 2], device) == 0) {
					found++;
					if (fn)
						fn(arg, f[4], f[sep + 2]);
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}
