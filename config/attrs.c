/*
 * config/attrs.c - the mmchconfig attribute table and value validation.
 *
 * Entry points: cfg_attr_find(), cfg_attr_count(), cfg_attr_at(),
 * cfg_attr_validate(). Internal (config_int.h): cfg_attr_index(),
 * cfg_attr_canon_num(), cfg_attr_suggest(), cfg_edit_distance(),
 * cfg_errf(), cfg_quote().
 *
 * The table is one static array sorted by name (case-insensitively), like
 * PostgreSQL's guc_tables.c; lookup is a binary search. Some CFG_STRING
 * attributes have a syntax of their own (cipherList, tiebreakerDisks ...):
 * their checks are in string_checks[] below. See config/README.md for how
 * to add an attribute.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "config/config.h"
#include "config/config_int.h"

#define GiB(x) ((int64_t)(x) << 30)
#define MiB(x) ((int64_t)(x) << 20)
#define KiB(x) ((int64_t)(x) << 10)

static const char *const verbs_rdma_choices[] = {"enable", "disable", NULL};
static const char *const read_replica_choices[] = {"default", "local", "fastest", NULL};
static const char *const use_nsd_server_choices[] = {"always", "asfound", "asneeded", "never", NULL};
static const char *const log_level_choices[] = {"debug", "info", "notice", "warning", "error", NULL};

#define INT(n, d, lo, hi, dyn, sc, h) \
	{n, CFG_INT, d, lo, hi, NULL, dyn, CFG_SCOPE_##sc, h}
#define SIZE(n, d, lo, hi, dyn, sc, h) \
	{n, CFG_SIZE, d, lo, hi, NULL, dyn, CFG_SCOPE_##sc, h}
#define BOOL(n, d, dyn, sc, h) \
	{n, CFG_BOOL, d, 0, 1, NULL, dyn, CFG_SCOPE_##sc, h}
#define STR(n, d, dyn, sc, h) \
	{n, CFG_STRING, d, 0, 0, NULL, dyn, CFG_SCOPE_##sc, h}
#define ENUM(n, d, ch, dyn, sc, h) \
	{n, CFG_ENUM, d, 0, 0, ch, dyn, CFG_SCOPE_##sc, h}

/* Sorted by strcasecmp() of name; test_config checks it. Defaults are in
 * canonical form (cfg_attr_validate(def) == def), also checked. */
static const struct cfg_attr attrs[] = {
	BOOL("autoload", "no", true, CLUSTER,
	     "start the daemon when the node boots"),
	INT("ccrElectionTimeoutMs", "1000", 50, 10000, false, CLUSTER,
	    "CCR (etcd) election timeout in ms; at least 5 x ccrHeartbeatMs"),
	INT("ccrHeartbeatMs", "100", 10, 1000, false, CLUSTER,
	    "CCR (etcd) leader heartbeat interval in ms"),
	STR("cipherList", "AUTHONLY", false, CLUSTER,
	    "node-to-node security: AUTHONLY, EMPTY or a TLS 1.3 cipher"),
	STR("dataStructureDump", "/tmp/mmfs", true, NODE,
	    "directory for internal dumps on failures (absolute path)"),
	INT("failureDetectionTime", "35", 2, 300, false, CLUSTER,
	    "seconds until a silent node is declared dead; sets the lease length"),
	INT("leaseRecoveryWait", "35", 1, 300, false, CLUSTER,
	    "seconds to wait after a lease expires before log recovery"),
	SIZE("maxblocksize", "4M", KiB(64), MiB(16), false, CLUSTER,
	     "largest file system block size this cluster can create or mount"),
	INT("maxFilesToCache", "4000", 1, 10000000, true, NODE,
	    "inodes cached per node, with their tokens"),
	INT("maxMBpS", "2048", 1, 100000, true, NODE,
	    "per-node I/O rate estimate (MB/s) sizing prefetch and write-behind"),
	INT("maxMissedPingTimeout", "60", 1, 300, false, CLUSTER,
	    "upper bound in seconds of the missed-ping window before expel"),
	INT("maxReceiverThreads", "16", 1, 128, false, NODE,
	    "threads reading messages from the network"),
	INT("maxStatCache", "1000", 0, 10000000, false, NODE,
	    "attribute-only inode cache entries per node"),
	INT("maxTcpConnsPerNodeConn", "2", 1, 8, false, CLUSTER,
	    "TCP connections per pair of nodes"),
	INT("minMissedPingTimeout", "3", 1, 300, false, CLUSTER,
	    "lower bound in seconds of the missed-ping window before expel"),
	STR("minReleaseLevel", "", false, CLUSTER,
	    "lowest daemon release allowed in the cluster (feature gate), e.g. 5.1.0.0"),
	ENUM("mmfsLogLevel", "info", log_level_choices, true, NODE,
	     "lowest severity written to mmfs.log"),
	INT("nsdBufSpace", "30", 10, 70, false, NODE,
	    "share of pagepool an NSD server may hold in I/O buffers, in percent"),
	BOOL("nsdChecksum", "yes", false, CLUSTER,
	     "checksum NSD data between clients and servers"),
	STR("nsdDevices", "", true, NODE,
	    "device paths or globs probed for NSD descriptors, besides each NSD's own device on its servers"),
	INT("nsdMaxWorkerThreads", "512", 8, 8192, false, NODE,
	    "most NSD server I/O threads"),
	INT("nsdMinWorkerThreads", "16", 1, 8192, false, NODE,
	    "fewest NSD server I/O threads"),
	SIZE("pagepool", "1G", MiB(4), GiB(256), true, NODE,
	     "pinned buffer cache per node"),
	INT("pagepoolMaxPhysMemPct", "75", 10, 90, false, NODE,
	    "largest share of physical memory pagepool may take, in percent"),
	INT("prefetchPct", "20", 1, 60, false, NODE,
	    "share of pagepool for sequential prefetch and write-behind, in percent"),
	INT("prefetchThreads", "72", 2, 1024, false, NODE,
	    "threads doing read-ahead and write-behind I/O"),
	ENUM("readReplicaPolicy", "default", read_replica_choices, true, NODE,
	     "which replica to read: default, local or fastest"),
	BOOL("restripeOnDiskFailure", "no", true, CLUSTER,
	     "restore replication automatically when a disk fails"),
	SIZE("seqDiscardThreshold", "1M", 0, GiB(256), true, NODE,
	     "sequential reads past this offset are not kept in pagepool"),
	STR("tiebreakerDisks", "", false, CLUSTER,
	    "\"nsd1;nsd2;nsd3\": node quorum with tiebreaker disks (1 to 3)"),
	SIZE("tokenMemLimit", "256M", MiB(1), GiB(64), true, NODE,
	     "memory for tokens on a token server"),
	INT("tscTcpPort", "1191", 1, 65535, false, CLUSTER,
	    "TCP port of the daemon"),
	BOOL("unmountOnDiskFail", "no", true, NODE,
	     "unmount locally instead of marking a failed disk down"),
	ENUM("useNSDserver", "asneeded", use_nsd_server_choices, true, NODE,
	     "when to reach disks through NSD servers instead of locally"),
	BOOL("usePersistentReserve", "no", false, CLUSTER,
	     "fence failed nodes with SCSI-3 persistent reserve"),
	STR("verbsPorts", "", false, NODE,
	    "\"mlx5_0/1[/fabric] ...\": HCA ports for RDMA"),
	ENUM("verbsRdma", "disable", verbs_rdma_choices, false, NODE,
	     "use verbs RDMA for NSD data transfers"),
	BOOL("verbsRdmaSend", "no", false, NODE,
	     "also use RDMA for daemon-to-daemon messages"),
	INT("waiterThresholdMs", "1000", 1, 3600000, true, NODE,
	    "mmdiag --waiters lists threads waiting longer than this (ms)"),
	INT("worker1Threads", "48", 1, 1024, true, NODE,
	    "threads serving file operations (FUSE workers)"),
	SIZE("writebehindThreshold", "512K", 0, GiB(256), true, NODE,
	     "sequential write size that triggers an early flush"),
};

#undef INT
#undef SIZE
#undef BOOL
#undef STR
#undef ENUM

/* ---- small helpers ---- */

void cfg_errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

const char *cfg_quote(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t o = 0, i;

	if (bufsz < 8) {
		if (bufsz)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; i < len && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		size_t tl;

		if (c == '"' || c == '\\')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			tl = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		/* keep room for "...\"" and the NUL; cut long values at 60 */
		if (o + tl + 5 > bufsz || o > 60) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, tl);
		o += tl;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

unsigned cfg_edit_distance(const char *a, const char *b)
{
	/* optimal string alignment (Levenshtein plus adjacent swaps) with
	 * three rolling rows: r0 = row i-2, r1 = row i-1, r2 = row i */
	enum { MAXL = 64 };
	unsigned rows[3][MAXL + 1], *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > MAXL || lb > MAXL)
		return 1000;
	for (j = 0; j <= lb; j++)
		r1[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		int ca = tolower((unsigned char)a[i - 1]);
		unsigned *t;

		r2[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			unsigned v = MM_MIN(r1[j] + 1, r2[j - 1] + 1);

			v = MM_MIN(v, r1[j - 1] + (ca != cb));
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb)
				v = MM_MIN(v, r0[j - 2] + 1);
			r2[j] = v;
		}
		t = r0;
		r0 = r1;
		r1 = r2;
		r2 = t;
	}
	return r1[lb];
}

const char *cfg_attr_suggest(const char *name)
{
	size_t len = strlen(name), i;
	unsigned best = 1000, limit;
	const char *pick = NULL;

	/* one typo in a short name, two in a longer one, three at most */
	limit = len < 5 ? 1 : len < 10 ? 2 : 3;
	for (i = 0; i < MM_ARRAY_SIZE(attrs); i++) {
		unsigned dd = cfg_edit_distance(name, attrs[i].name);

		if (dd < best) {
			best = dd;
			pick = attrs[i].name;
		}
	}
	return best <= limit ? pick : NULL;
}

void cfg_unknown_attr_msg(const char *name, const char *source, char *err,
			  size_t errsz)
{
	char q[80];
	const char *sugg = cfg_attr_suggest(name);

	cfg_errf(err, errsz, "%s%sunknown attribute %s%s%s%s",
		 source ? source : "", source ? ": " : "",
		 cfg_quote(name, strlen(name), q, sizeof(q)),
		 sugg ? "; did you mean " : "", sugg ? sugg : "",
		 sugg ? "?" : "");
}

/* ---- the table ---- */

static int attr_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct cfg_attr *)elem)->name);
}

const struct cfg_attr *cfg_attr_find(const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, attrs, MM_ARRAY_SIZE(attrs), sizeof(attrs[0]),
		       attr_cmp);
}

size_t cfg_attr_count(void)
{
	return MM_ARRAY_SIZE(attrs);
}

const struct cfg_attr *cfg_attr_at(size_t i)
{
	return i < MM_ARRAY_SIZE(attrs) ? &attrs[i] : NULL;
}

size_t cfg_attr_index(const struct cfg_attr *a)
{
	return (size_t)(a - attrs);
}

int64_t cfg_attr_canon_num(const struct cfg_attr *a, const char *canon)
{
	int64_t v = 0;
	uint64_t u = 0;

	switch (a->type) {
	case CFG_INT:
		if (mm_parse_i64(canon, &v))
			v = 0;
		return v;
	case CFG_SIZE:
		if (mm_parse_size(canon, &u))
			u = 0;
		return (int64_t)u;
	case CFG_BOOL:
		return strcmp(canon, "yes") == 0;
	case CFG_ENUM:
		for (v = 0; a->choices[v]; v++)
			if (strcmp(a->choices[v], canon) == 0)
				return v;
		return 0;
	case CFG_STRING:
		break;
	}
	return 0;
}

/* ---- syntax of particular string attributes ----
 * Each gets the trimmed input and writes the canonical form; on error it
 * writes the reason (the caller adds source and attribute name). */

typedef int (*string_check_fn)(const char *in, char *out, size_t outsz,
			       char *why, size_t whysz);

static int check_cipher_list(const char *in, char *out, size_t outsz,
			     char *why, size_t whysz)
{
	static const char *const known[] = {
		"AUTHONLY", "EMPTY", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
		"CHACHA20-POLY1305-SHA256", NULL,
	};
	size_t i, n = strlen(in);

	for (i = 0; known[i]; i++) {
		if (strcasecmp(in, known[i]) == 0)
			return mm_snprintf(out, outsz, "%s", known[i]);
	}
	/* an OpenSSL TLS 1.3 suite name such as TLS_AES_128_GCM_SHA256 */
	if (n > 4 && strncasecmp(in, "TLS_", 4) == 0) {
		for (i = 4; i < n; i++)
			if (!isalnum((unsigned char)in[i]) && in[i] != '_')
				break;
		if (i == n && n < outsz) {
			for (i = 0; i <= n; i++)
				out[i] = (char)toupper((unsigned char)in[i]);
			return MM_OK;
		}
	}
	cfg_errf(why, whysz, "is not a cipher list (use AUTHONLY, EMPTY, "
		 "AES128-GCM-SHA256, AES256-GCM-SHA384, "
		 "CHACHA20-POLY1305-SHA256 or a TLS_* suite name)");
	return MM_EINVAL;
}

static int check_abs_path(const char *in, char *out, size_t outsz,
			  char *why, size_t whysz)
{
	if (in[0] != '/') {
		cfg_errf(why, whysz, "is not an absolute path");
		return MM_EINVAL;
	}
	return mm_snprintf(out, outsz, "%s", in);
}

static int check_release(const char *in, char *out, size_t outsz,
			 char *why, size_t whysz)
{
	/* empty, or 1 to 4 dot-separated numbers: "5.1", "4.2.3.0" */
	const char *p = in;
	int parts = 0;

	if (!*in)
		return mm_snprintf(out, outsz, "%s", "");
	for (;;) {
		int digits = 0;

		while (isdigit((unsigned char)*p) && digits < 6) {
			p++;
			digits++;
		}
		if (!digits || isdigit((unsigned char)*p))
			break;
		parts++;
		if (*p == '\0' && parts <= 4)
			return mm_snprintf(out, outsz, "%s", in);
		if (*p != '.' || parts == 4)
			break;
		p++;
	}
	cfg_errf(why, whysz, "is not a release level (use e.g. 5.1.0.0)");
	return MM_EINVAL;
}

static int check_tiebreakers(const char *in, char *out, size_t outsz,
			     char *why, size_t whysz)
{
	/* "no" or empty: none; else 1..3 NSD names separated by ';' */
	char names[3][CFG_VALUE_MAX];
	size_t n = 0, o = 0;
	const char *p = in;

	if (!*in || strcasecmp(in, "no") == 0)
		return mm_snprintf(out, outsz, "%s", "");
	for (;;) {
		size_t len = 0;

		while (*p == ' ')
			p++;
		while (isalnum((unsigned char)p[len]) || p[len] == '_')
			len++;
		if (len == 0) {
			cfg_errf(why, whysz, "has an empty or invalid NSD name "
				 "(use \"nsd1;nsd2;nsd3\")");
			return MM_EINVAL;
		}
		if (n == 3) {
			cfg_errf(why, whysz, "names more than 3 disks");
			return MM_EINVAL;
		}
		memcpy(names[n], p, len);
		names[n][len] = '\0';
		for (size_t k = 0; k < n; k++) {
			if (strcmp(names[k], names[n]) == 0) {
				cfg_errf(why, whysz, "names disk %s twice", names[n]);
				return MM_EINVAL;
			}
		}
		n++;
		p += len;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p != ';') {
			cfg_errf(why, whysz, "has an invalid character '%c' in an "
				 "NSD name (use \"nsd1;nsd2;nsd3\")", *p);
			return MM_EINVAL;
		}
		p++;
	}
	for (size_t k = 0; k < n; k++) {
		int rc = mm_snprintf(out + o, outsz - o, "%s%s", k ? ";" : "",
				     names[k]);

		if (rc)
			return rc;
		o += strlen(out + o);
	}
	return MM_OK;
}

static int check_verbs_ports(const char *in, char *out, size_t outsz,
			     char *why, size_t whysz)
{
	/* space-separated "device[/port[/fabric]]"; canonical: one space */
	const char *p = in;
	size_t o = 0;

	out[0] = '\0';
	while (*p) {
		size_t len = 0;
		int slashes = 0;
		const char *t;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		t = p;
		while (t[len] && t[len] != ' ')
			len++;
		for (size_t i = 0; i < len; i++) {
			char c = t[i];

			if (c == '/') {
				if (++slashes > 2 || i == 0 || i + 1 == len ||
				    t[i - 1] == '/')
					goto bad;
			} else if (slashes == 0) {
				if (!isalnum((unsigned char)c) && c != '_' &&
				    c != '-' && c != '.')
					goto bad;
			} else if (!isdigit((unsigned char)c)) {
				goto bad;
			}
		}
		if (o + (o ? 1 : 0) + len + 1 > outsz)
			return MM_ETOOBIG;
		if (o)
			out[o++] = ' ';
		memcpy(out + o, t, len);
		o += len;
		out[o] = '\0';
		p = t + len;
	}
	return MM_OK;
bad:
	cfg_errf(why, whysz, "is not a port list (use e.g. \"mlx5_0/1 mlx5_1/1/2\")");
	return MM_EINVAL;
}

static const struct {
	const char *name;
	string_check_fn fn;
} string_checks[] = {
	{"cipherList", check_cipher_list},
	{"dataStructureDump", check_abs_path},
	{"minReleaseLevel", check_release},
	{"tiebreakerDisks", check_tiebreakers},
	{"verbsPorts", check_verbs_ports},
};

static string_check_fn string_check_for(const struct cfg_attr *a)
{
	for (size_t i = 0; i < MM_ARRAY_SIZE(string_checks); i++)
		if (strcmp(string_checks[i].name, a->name) == 0)
			return string_checks[i].fn;
	return NULL;
}

/* ---- validation ---- */

static int range_check(const struct cfg_attr *a, int64_t v, const char *pfx,
		       char *err, size_t errsz)
{
	char vb[32], lb[32];
	bool low = v < a->min;

	if (v >= a->min && v <= a->max)
		return MM_OK;
	if (a->type == CFG_SIZE) {
		mm_format_size((uint64_t)v, vb, sizeof(vb));
		mm_format_size((uint64_t)(low ? a->min : a->max), lb, sizeof(lb));
	} else {
		snprintf(vb, sizeof(vb), "%lld", (long long)v);
		snprintf(lb, sizeof(lb), "%lld", (long long)(low ? a->min : a->max));
	}
	cfg_errf(err, errsz, "%s%s is %s the %s %s", pfx, vb,
		 low ? "below" : "above", low ? "minimum" : "maximum", lb);
	return MM_ERANGE;
}

int cfg_attr_validate(const struct cfg_attr *a, const char *value,
		      char *canon, size_t canonsz, const char *source,
		      char *err, size_t errsz)
{
	char pfx[4400], q[80], why[160];
	char in[CFG_VALUE_MAX], out[CFG_VALUE_MAX];
	const char *s, *e;
	size_t len;
	int rc;

	if (!a || !value) {
		cfg_errf(err, errsz, "%s%sno attribute or value",
			 source ? source : "", source ? ": " : "");
		return MM_EINVAL;
	}
	snprintf(pfx, sizeof(pfx), "%s%s%s: ", source ? source : "",
		 source ? ": " : "", a->name);
	/* trim surrounding blanks */
	for (s = value; *s == ' ' || *s == '\t'; s++)
		;
	len = strlen(s);
	for (e = s + len; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	len = (size_t)(e - s);
	cfg_quote(s, len, q, sizeof(q));
	if (len >= sizeof(in)) {
		cfg_errf(err, errsz, "%s%s is longer than %zu characters", pfx,
			 q, sizeof(in) - 1);
		return MM_ETOOBIG;
	}
	memcpy(in, s, len);
	in[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c == 0x7f) {
			cfg_errf(err, errsz, "%s%s contains a control character",
				 pfx, q);
			return MM_EINVAL;
		}
	}
	if (strcasecmp(in, "DEFAULT") == 0) {
		rc = mm_snprintf(out, sizeof(out), "%s", a->def);
		goto done;
	}

	switch (a->type) {
	case CFG_INT: {
		int64_t v;

		rc = mm_parse_i64(in, &v);
		if (rc == MM_ERANGE) {
			cfg_errf(err, errsz, "%s%s is out of range (%lld..%lld)",
				 pfx, q, (long long)a->min, (long long)a->max);
			return MM_ERANGE;
		}
		if (rc) {
			cfg_errf(err, errsz, "%s%s is not an integer", pfx, q);
			return MM_EINVAL;
		}
		rc = range_check(a, v, pfx, err, errsz);
		if (rc)
			return rc;
		snprintf(out, sizeof(out), "%lld", (long long)v);
		break;
	}
	case CFG_SIZE: {
		uint64_t v;
		char *end;
		unsigned long long num;

		rc = mm_parse_size(in, &v);
		if (rc == MM_ERANGE || (rc == MM_OK && v > INT64_MAX)) {
			char mx[32];

			mm_format_size((uint64_t)a->max, mx, sizeof(mx));
			cfg_errf(err, errsz, "%s%s is above the maximum %s", pfx,
				 q, mx);
			return MM_ERANGE;
		}
		if (rc) {
			cfg_errf(err, errsz,
				 "%s%s is not a size (use e.g. 512M, 4G)", pfx, q);
			return MM_EINVAL;
		}
		rc = range_check(a, (int64_t)v, pfx, err, errsz);
		if (rc)
			return rc;
		/* as given, without leading zeros, suffix one capital */
		num = strtoull(in, &end, 10);
		if (*end)
			snprintf(out, sizeof(out), "%llu%c", num,
				 toupper((unsigned char)*end));
		else
			snprintf(out, sizeof(out), "%llu", num);
		break;
	}
	case CFG_BOOL:
		if (!strcasecmp(in, "yes") || !strcasecmp(in, "true") ||
		    !strcmp(in, "1")) {
			strcpy(out, "yes");
		} else if (!strcasecmp(in, "no") || !strcasecmp(in, "false") ||
			   !strcmp(in, "0")) {
			strcpy(out, "no");
		} else {
			cfg_errf(err, errsz, "%s%s is not yes or no", pfx, q);
			return MM_EINVAL;
		}
		break;
	case CFG_ENUM: {
		size_t i, o = 0;
		char list[CFG_VALUE_MAX] = "";

		for (i = 0; a->choices[i]; i++) {
			if (strcasecmp(in, a->choices[i]) == 0)
				break;
		}
		if (a->choices[i]) {
			snprintf(out, sizeof(out), "%s", a->choices[i]);
			break;
		}
		for (i = 0; a->choices[i] && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
					      i ? ", " : "", a->choices[i]);
		cfg_errf(err, errsz, "%s%s is not one of %s", pfx, q, list);
		return MM_EINVAL;
	}
	case CFG_STRING: {
		string_check_fn fn = string_check_for(a);

		if (!fn) {
			memcpy(out, in, len + 1);
			break;
		}
		why[0] = '\0';
		rc = fn(in, out, sizeof(out), why, sizeof(why));
		if (rc) {
			if (why[0])
				cfg_errf(err, errsz, "%s%s %s", pfx, q, why);
			else
				cfg_errf(err, errsz, "%s%s is too long", pfx, q);
			return rc;
		}
		break;
	}
	default:
		cfg_errf(err, errsz, "%sbad attribute type", pfx);
		return MM_EINVAL;
	}
	rc = MM_OK;
done:
	if (rc)
		return rc;
	if (canon) {
		rc = mm_snprintf(canon, canonsz, "%s", out);
		if (rc) {
			cfg_errf(err, errsz, "%svalue buffer too small", pfx);
			return rc;
		}
	}
	return MM_OK;
}
