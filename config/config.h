/*
 * config/config.h - configuration attributes, local settings files, node
 * lists.
 *
 * 1. The attribute table: every mmchconfig attribute with its type,
 *    default, range, whether it is dynamic (takes effect in a running
 *    daemon) and its scope. Every value is validated against it when
 *    loaded from any source and on mmchconfig; an error message names the
 *    source (file and line, or "mmchconfig") and the attribute.
 * 2. cfg_set: one node's effective values. Thread-safe: readers take a
 *    snapshot of one value; writers replace it under a lock.
 * 3. Node descriptors: "NodeName:Designations[:AdminNodeName]" from a
 *    command line (comma separated) or a node file (one per line, '#'
 *    comments), as GPFS's mmcrcluster -N takes them.
 * 4. Cluster definition files (libconfig): the local copy of what the
 *    cluster looks like (GPFS's mmsdrfs), used to start before the CCR is
 *    reachable.
 *
 * Return convention: 0 or MM_E*; <err>/<errsz> receives a one-line,
 * user-facing message on failure.
 */
#ifndef MM_CONFIG_CONFIG_H
#define MM_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- attribute table ---- */

enum cfg_type {
	CFG_INT,	/* integer within [min, max] */
	CFG_SIZE,	/* byte count: "512M", "4G", "65536"; within [min, max] */
	CFG_BOOL,	/* yes|no (also true/false/1/0 on input; stored yes/no) */
	CFG_STRING,	/* free text without newlines, at most 255 chars */
	CFG_ENUM,	/* one of choices[] (case-insensitive on input) */
};

enum cfg_scope {
	CFG_SCOPE_CLUSTER,	/* one value for the whole cluster */
	CFG_SCOPE_NODE,		/* may be set per node with mmchconfig -N */
};

struct cfg_attr {
	const char *name;
	enum cfg_type type;
	const char *def;	/* default, in input syntax */
	int64_t min, max;	/* CFG_INT / CFG_SIZE bounds */
	const char *const *choices;	/* CFG_ENUM, NULL-terminated */
	bool dynamic;		/* applied to running daemons by mmchconfig */
	enum cfg_scope scope;
	const char *help;
};

/* Lookup by name, case-insensitive; NULL if unknown. */
const struct cfg_attr *cfg_attr_find(const char *name);
size_t cfg_attr_count(void);
const struct cfg_attr *cfg_attr_at(size_t i);

/* Validate <value> for <a>; on success writes its canonical form
 * (sizes as given but upper-case suffix, booleans yes/no, enums in table
 * spelling; "DEFAULT" becomes the default) into <canon>. <source> is put
 * into the error message, e.g. "mmchconfig" or "/var/mmfs/x.cfg:12". */
int cfg_attr_validate(const struct cfg_attr *a, const char *value,
		      char *canon, size_t canonsz, const char *source,
		      char *err, size_t errsz);

/* ---- a node's effective values ---- */

typedef struct cfg_set cfg_set;

/* All attributes at their defaults. NULL on ENOMEM. */
cfg_set *cfg_set_new(void);
void cfg_set_free(cfg_set *s);
/* Validate and store; unknown attribute -> MM_ENOENT, bad value ->
 * MM_EINVAL / MM_ERANGE, each with a message naming <source> and it. */
int cfg_set_value(cfg_set *s, const char *name, const char *value,
		  const char *source, char *err, size_t errsz);
/* Copy of the canonical value into <buf>; MM_ENOENT if unknown. */
int cfg_get(const cfg_set *s, const char *name, char *buf, size_t bufsz);
/* Typed getters. An unknown name or the wrong type is a programming
 * error: it is logged (mm_error) and 0 / false returned, never abort. */
int64_t cfg_get_int(const cfg_set *s, const char *name);	/* CFG_INT */
uint64_t cfg_get_size(const cfg_set *s, const char *name);	/* CFG_SIZE */
bool cfg_get_bool(const cfg_set *s, const char *name);	/* CFG_BOOL */
/* True if the value equals the default (also when set explicitly). */
bool cfg_is_default(const cfg_set *s, const char *name);
/* Cross-attribute rules that a single cfg_set_value cannot check because
 * mmchconfig may change the attributes involved in either order:
 *   ccrElectionTimeoutMs >= 5 x ccrHeartbeatMs
 *   minMissedPingTimeout <= maxMissedPingTimeout
 *   nsdMinWorkerThreads  <= nsdMaxWorkerThreads
 * 0 if all hold, else MM_EINVAL and a message naming both attributes.
 * cfg_load_file applies them itself (a file is loaded all or nothing). */
int cfg_set_check(const cfg_set *s, char *err, size_t errsz);

/* ---- local settings file (libconfig) ----
 *   attributes = { pagepool = "512M"; failureDetectionTime = 10; };
 * Other top-level settings are returned through cfg_local_get (string
 * settings only). Every attribute is validated; the first bad one fails
 * the load with "<path>:<line>: <attr>: <reason>".
 * All or nothing: <s> changes only if the whole file is valid and the
 * result passes cfg_set_check(). Attributes the file does not name keep
 * their values. Values may be strings, integers (64-bit ones need an L
 * suffix) or booleans; "@include" is refused. Unknown attributes and
 * unknown top-level groups are errors, with a did-you-mean hint.
 */
int cfg_load_file(cfg_set *s, const char *path, char *err, size_t errsz);
/* A top-level string setting of the last loaded file(s), e.g.
 *   nodeName = "gpfs01";
 * copied into <buf>. MM_ENOENT if no file set it, MM_ETOOBIG if <buf> is
 * too small. Names are case-sensitive (libconfig's). */
int cfg_local_get(const cfg_set *s, const char *name, char *buf, size_t bufsz);

/* ---- node descriptors ---- */

struct cfg_node_desc {
	char name[256];		/* daemon node name (host name or IP) */
	char admin[256];	/* admin node name; = name if not given */
	bool quorum;
	bool manager;
};

/* Parse "n1:quorum-manager,n2,n3:client" into a malloc'd array (free()).
 * Designations: quorum|nonquorum and manager|client, '-'-joined in any
 * order; default nonquorum client. IPv6 addresses go in brackets when a
 * designation follows: "[fe80::1]:quorum". On failure *out = NULL, *n = 0
 * and err names the item ("node list item 2 (\"x\"): ..."); duplicates
 * give MM_EEXIST, more than CFG_MAX_NODES MM_ETOOBIG, else MM_EINVAL. */
int cfg_parse_node_list(const char *spec, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz);
/* Parse a node file; errors name "<path>:<line>". */
int cfg_parse_node_file(const char *path, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz);
/* The same from text already in memory; <source> names it in errors. */
int cfg_parse_node_text(const char *text, size_t len, const char *source,
			struct cfg_node_desc **out, size_t *n, char *err,
			size_t errsz);
/* "-N" argument: a node file if <arg> names a readable file, else a list. */
int cfg_parse_nodes_arg(const char *arg, struct cfg_node_desc **out,
			size_t *n, char *err, size_t errsz);

/* ---- cluster definition (the local mmsdrfs) ---- */

#define CFG_MAX_NODES 1024

struct cfg_node {
	uint32_t number;	/* 1-based node number, never reused */
	char name[256];		/* daemon node name */
	char ip[64];		/* resolved IPv4/IPv6 address, textual */
	char admin[256];
	bool quorum;
	bool manager;
};

struct cfg_cluster {
	char name[256];
	uint64_t id;
	char rsh[256];		/* remote shell, "/usr/bin/ssh" */
	char rcp[256];		/* remote copy, "/usr/bin/scp" */
	uint16_t port;		/* daemon port (tscTcpPort), default 1191 */
	uint16_t etcd_client_port;	/* default 2379 */
	uint16_t etcd_peer_port;	/* default 2380 */
	uint64_t generation;	/* bumped on every membership change */
	size_t nnodes;
	struct cfg_node *nodes;	/* malloc'd, nnodes entries, by number */
	size_t nattrs;
	char (*attr_names)[64];	/* initial attributes (mmcrcluster -c) */
	char (*attr_values)[256];
};

/* Empty cluster with the default rsh, rcp and ports. */
void cfg_cluster_init(struct cfg_cluster *c);
/* Frees the arrays and re-initialises <c>. */
void cfg_cluster_free(struct cfg_cluster *c);
int cfg_cluster_load(struct cfg_cluster *c, const char *path, char *err, size_t errsz);
/* Parse from a string (the CCR copy). <c> must be initialised; on
 * success its old contents are freed and replaced (nodes sorted by
 * number), on failure it is unchanged and err reads
 * "<source>:<line>: ...". Strict: every field is required except
 * attributes; unknown fields, duplicate node numbers / names / IPs /
 * admin names, no quorum node and out-of-range values are errors. */
int cfg_cluster_parse(struct cfg_cluster *c, const char *text, const char *source,
		      char *err, size_t errsz);
/* Serialise to libconfig text; *out malloc'd (free()). cfg_cluster_parse
 * of the text gives back an equal struct. */
int cfg_cluster_format(const struct cfg_cluster *c, char **out);
/* Atomically (tmp + fsync + rename), mode 0644. */
int cfg_cluster_save(const struct cfg_cluster *c, const char *path);
/* Find by number, name, IP or admin name; NULL if absent. */
const struct cfg_node *cfg_cluster_node(const struct cfg_cluster *c, const char *key);
const struct cfg_node *cfg_cluster_node_num(const struct cfg_cluster *c, uint32_t num);
size_t cfg_cluster_quorum_count(const struct cfg_cluster *c);
/* "quorum-manager", "quorum", "manager" or "". */
const char *cfg_designation(bool quorum, bool manager);

/*
 * Longest cluster name mmcrcluster gives a new cluster: the name is the
 * common name of the cluster certificate, which X.509 bounds at 64
 * (ub-common-name), and a longer one makes the key generation fail.
 */
#define CFG_CLUSTER_NAME_MAX 64
/*
 * A name mmcrcluster may give a new cluster (GPFS's set): 1 to
 * CFG_CLUSTER_NAME_MAX characters, letters, digits, '.', '_' and '-',
 * starting with a letter or digit. 0, or MM_EINVAL with <why> saying
 * what is wrong with it (quoting the name). The parser of existing
 * definitions (cfg_cluster_parse) is more lenient and also takes ':'.
 */
int cfg_cluster_name_check(const char *name, char *why, size_t whysz);

#endif
