/*
 * tests/tools/tokcheck.c - check the token storm logs of real daemons
 * (admin command tokstorm, mmfsd/admin_tok.c) for conflicting holds.
 *
 *   tokcheck now
 *       print CLOCK_MONOTONIC in nanoseconds (the clock of the logs: one
 *       machine, one clock), for --dead and for timing in scripts
 *   tokcheck check [--dead NODE:T_NS ...] LOG...
 *       read the logs of all nodes and report every pair of holds of two
 *       different nodes that conflict
 *
 * Log lines (one write() each, so the lines of a node's threads never
 * interleave):
 *
 *   G <node> <thread> <t_ns> <space> <kind> <obj> <mode> <start> <end>
 *       granted: logged after the acquire returned
 *   R <node> <thread> <t_ns> <space> <kind> <obj> <mode> <start> <end>
 *       released: logged before the release call
 *   T <node> <thread> <t_ns> <space> <kind> <obj> <mode> <start> <end>
 *       an acquire that timed out (counted, not a hold)
 *   X <node> <t_ns>
 *       the node's storm was stopped (op stop)
 *
 * <kind> is a name (inode, br, dirblk, alloc, ialloc, meta, generic) or a
 * number; <mode> ro, ws or xw; <end> a number or "inf". So each logged
 * interval [G, R] lies inside the real hold, and two holds whose
 * intervals overlap were really held at once.
 *
 * Each R is paired with the open G of the same node, thread and token.
 * An unreleased hold of a node given with --dead NODE:T_NS ends at T_NS
 * (take it after the process is gone: later is only stricter); one of a
 * node whose storm was stopped (an X line) is held to the end of time
 * (still checked, not an error); one of any other node is a failure.
 *
 * A violation: two holds of DIFFERENT nodes on one (space, kind, obj)
 * whose ranges overlap, whose modes conflict (ro-ro and ws-ws are fine,
 * every other pair conflicts: the table is written here again, apart from
 * tokens/mode.c, on purpose) and whose intervals overlap in time
 * (strictly: a hold released at t and one granted at t do not overlap).
 *
 * Exit status: 0 no violation; 1 violations (each printed) or unreleased
 * holds; 2 usage, an unreadable file or a malformed line (file and line
 * named).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INF UINT64_MAX
#define MAX_PRINT 50	/* violations printed in full; all are counted */

enum { RO = 1, WS = 2, XW = 3 };

static const char *const kind_names[] = {"inode", "br", "dirblk", "alloc", "ialloc", "meta",
					 "generic"};
static const char *const mode_names[] = {"none", "ro", "ws", "xw"};

/* conflict[held][wanted]: ro-ro and ws-ws share, everything else conflicts */
static const bool conflict[4][4] = {
	[RO] = {[RO] = false, [WS] = true, [XW] = true},
	[WS] = {[RO] = true, [WS] = false, [XW] = true},
	[XW] = {[RO] = true, [WS] = true, [XW] = true},
};

struct hold {
	uint32_t node, thread, space, kind;
	uint64_t obj, start, end;
	int mode;
	uint64_t g, r;		/* r: INF while open, or held to the end of time */
	bool open;
	const char *file;
	unsigned gline, rline;	/* rline 0: no R line */
};

struct nodeinfo {
	uint32_t node;
	uint64_t holds, timeouts;
	bool stopped;
	bool dead;
	uint64_t dead_at;
};

/* the open holds of one (node, thread) */
struct slot {
	uint32_t node, thread;
	size_t *open;		/* indexes into holds[] */
	size_t nopen, cap;
};

static struct hold *holds;
static size_t nholds, capholds;
static struct nodeinfo *nodes;
static size_t nnodes;
static struct slot *slots;
static size_t nslots, capslots;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "tokcheck: out of memory\n");
		exit(2);
	}
	return p;
}

static struct nodeinfo *node_get(uint32_t node)
{
	for (size_t i = 0; i < nnodes; i++)
		if (nodes[i].node == node)
			return &nodes[i];
	nodes = xrealloc(nodes, (nnodes + 1) * sizeof(*nodes));
	memset(&nodes[nnodes], 0, sizeof(*nodes));
	nodes[nnodes].node = node;
	return &nodes[nnodes++];
}

static struct slot *slot_get(uint32_t node, uint32_t thread)
{
	static size_t last;

	if (last < nslots && slots[last].node == node && slots[last].thread == thread)
		return &slots[last];
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].node == node && slots[i].thread == thread)
			return &slots[last = i];
	if (nslots == capslots) {
		capslots = capslots ? capslots * 2 : 64;
		slots = xrealloc(slots, capslots * sizeof(*slots));
	}
	memset(&slots[nslots], 0, sizeof(*slots));
	slots[nslots].node = node;
	slots[nslots].thread = thread;
	last = nslots;
	return &slots[nslots++];
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && !errno;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_kind(const char *s, uint32_t *out)
{
	for (uint32_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*out = i;
			return true;
		}
	return parse_u32(s, out) && *out < 256;
}

static bool parse_mode(const char *s, int *out)
{
	for (int i = RO; i <= XW; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = i;
			return true;
		}
	return false;
}

static const char *kind_name(uint32_t k)
{
	static char buf[16];

	if (k < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[k];
	snprintf(buf, sizeof(buf), "%u", k);
	return buf;
}

static void fmt_end(uint64_t v, char *buf, size_t sz)
{
	if (v == INF)
		snprintf(buf, sz, "inf");
	else
		snprintf(buf, sz, "%" PRIu64, v);
}

static void malformed(const char *file, unsigned line, const char *why, const char *text)
{
	fprintf(stderr, "tokcheck: %s:%u: malformed line (%s): %s\n", file, line, why, text);
	exit(2);
}

static bool same_token(const struct hold *h, const struct hold *x)
{
	return h->space == x->space && h->kind == x->kind && h->obj == x->obj && h->mode == x->mode &&
	       h->start == x->start && h->end == x->end;
}

static void read_log(const char *file)
{
	FILE *f = fopen(file, "r");
	char *buf = NULL, copy[512];
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;

	if (!f) {
		fprintf(stderr, "tokcheck: cannot open %s: %s\n", file, strerror(errno));
		exit(2);
	}
	while ((len = getline(&buf, &cap, f)) >= 0) {
		char *tok[12], *save = NULL, *p;
		int n = 0;
		struct hold h = {0};

		line++;
		snprintf(copy, sizeof(copy), "%s", buf);
		copy[strcspn(copy, "\n")] = 0;
		if (len == 0 || buf[len - 1] != '\n')
			malformed(file, line, "no newline at its end", copy);
		buf[len - 1] = 0;
		for (p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
			if (n == 12)
				break;
			tok[n++] = p;
		}
		if (n == 0)
			malformed(file, line, "empty", copy);
		if (strcmp(tok[0], "X") == 0) {
			uint64_t t;

			if (n != 3 || !parse_u32(tok[1], &h.node) || !parse_u64(tok[2], &t))
				malformed(file, line, "X <node> <t_ns>", copy);
			node_get(h.node)->stopped = true;
			continue;
		}
		if (strlen(tok[0]) != 1 || !strchr("GRT", tok[0][0]))
			malformed(file, line, "the first field is G, R, T or X", copy);
		if (n != 10)
			malformed(file, line, "10 fields", copy);
		if (!parse_u32(tok[1], &h.node) || !parse_u32(tok[2], &h.thread) ||
		    !parse_u64(tok[3], &h.g) || !parse_u32(tok[4], &h.space) ||
		    !parse_kind(tok[5], &h.kind) || !parse_u64(tok[6], &h.obj) ||
		    !parse_mode(tok[7], &h.mode) || !parse_u64(tok[8], &h.start))
			malformed(file, line, "a field is not a number, kind or mode", copy);
		if (strcmp(tok[9], "inf") == 0)
			h.end = INF;
		else if (!parse_u64(tok[9], &h.end))
			malformed(file, line, "the end is a number or inf", copy);
		if (h.start >= h.end)
			malformed(file, line, "empty range", copy);
		h.file = file;
		if (tok[0][0] == 'T') {
			node_get(h.node)->timeouts++;
			continue;
		}
		struct slot *s = slot_get(h.node, h.thread);
		if (tok[0][0] == 'G') {
			for (size_t i = 0; i < s->nopen; i++) {
				struct hold *o = &holds[s->open[i]];

				if (o->space == h.space && o->kind == h.kind && o->obj == h.obj)
					malformed(file, line, "a second G of one object by one thread", copy);
			}
			if (nholds == capholds) {
				capholds = capholds ? capholds * 2 : 4096;
				holds = xrealloc(holds, capholds * sizeof(*holds));
			}
			h.gline = line;
			h.r = INF;
			h.open = true;
			if (s->nopen == s->cap) {
				s->cap = s->cap ? s->cap * 2 : 4;
				s->open = xrealloc(s->open, s->cap * sizeof(*s->open));
			}
			s->open[s->nopen++] = nholds;
			holds[nholds++] = h;
			node_get(h.node)->holds++;
			continue;
		}
		/* R: close the open G of this thread on this token */
		size_t i;
		for (i = 0; i < s->nopen; i++)
			if (same_token(&holds[s->open[i]], &h))
				break;
		if (i == s->nopen)
			malformed(file, line, "R without an open G of that token by that thread", copy);
		struct hold *o = &holds[s->open[i]];
		if (h.g < o->g)
			malformed(file, line, "R before its G", copy);
		o->r = h.g;
		o->rline = line;
		o->open = false;
		s->open[i] = s->open[--s->nopen];
	}
	if (ferror(f)) {
		fprintf(stderr, "tokcheck: reading %s: %s\n", file, strerror(errno));
		exit(2);
	}
	free(buf);
	fclose(f);
}

static int hold_cmp(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;

	if (x->space != y->space)
		return x->space < y->space ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	return 0;
}

static void print_hold(const struct hold *h)
{
	char e[24], r[24];

	fmt_end(h->end, e, sizeof(e));
	if (h->r == INF)
		snprintf(r, sizeof(r), "%s", "end");
	else
		snprintf(r, sizeof(r), "%" PRIu64, h->r);
	printf("    node %u thread %u %s [%" PRIu64 ",%s) held %" PRIu64 "..%s (%s:%u", h->node,
	       h->thread, mode_names[h->mode], h->start, e, h->g, r, h->file, h->gline);
	if (h->rline)
		printf(",%u", h->rline);
	printf(")\n");
}

static bool holds_conflict(const struct hold *a, const struct hold *b)
{
	return a->node != b->node && a->start < b->end && b->start < a->end &&
	       conflict[a->mode][b->mode] && a->g < b->r && b->g < a->r;
}

int main(int argc, char **argv)
{
	uint64_t violations = 0, unreleased = 0, timeouts = 0;
	size_t *active = NULL, nactive, capactive = 0;
	int i;

	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%" PRIu64 "\n", (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: tokcheck now\n"
				"       tokcheck check [--dead NODE:T_NS ...] LOG...\n");
		return 2;
	}
	for (i = 2; i < argc && strcmp(argv[i], "--dead") == 0; i += 2) {
		char *colon;
		uint32_t node;
		uint64_t t;

		if (i + 1 >= argc || !(colon = strchr(argv[i + 1], ':'))) {
			fprintf(stderr, "tokcheck: --dead NODE:T_NS\n");
			return 2;
		}
		*colon = 0;
		if (!parse_u32(argv[i + 1], &node) || !parse_u64(colon + 1, &t)) {
			fprintf(stderr, "tokcheck: --dead NODE:T_NS, numbers\n");
			return 2;
		}
		node_get(node)->dead = true;
		node_get(node)->dead_at = t;
	}
	if (i >= argc) {
		fprintf(stderr, "tokcheck: no log given\n");
		return 2;
	}
	for (; i < argc; i++)
		read_log(argv[i]);

	/* the holds still open: dead nodes' end at their death */
	for (size_t k = 0; k < nholds; k++) {
		struct hold *h = &holds[k];
		struct nodeinfo *ni;

		if (!h->open)
			continue;
		ni = node_get(h->node);
		if (ni->dead) {
			if (h->g > ni->dead_at) {
				fprintf(stderr,
					"tokcheck: %s:%u: node %u granted at %" PRIu64
					", after its death at %" PRIu64 " (--dead too early)\n",
					h->file, h->gline, h->node, h->g, ni->dead_at);
				return 2;
			}
			h->r = ni->dead_at;
		} else if (!ni->stopped) {
			printf("unreleased: node %u thread %u %s %" PRIu64
			       " never released and the node is neither dead nor stopped\n",
			       h->node, h->thread, kind_name(h->kind), h->obj);
			print_hold(h);
			unreleased++;
		}
	}

	/* per object, in grant order: compare each hold with those still held */
	qsort(holds, nholds, sizeof(*holds), hold_cmp);
	for (size_t a = 0; a < nholds;) {
		size_t b = a;

		while (b < nholds && holds[b].space == holds[a].space && holds[b].kind == holds[a].kind &&
		       holds[b].obj == holds[a].obj)
			b++;
		nactive = 0;
		for (size_t k = a; k < b; k++) {
			struct hold *h = &holds[k];
			size_t w = 0;

			for (size_t j = 0; j < nactive; j++)
				if (holds[active[j]].r > h->g)
					active[w++] = active[j];
			nactive = w;
			for (size_t j = 0; j < nactive; j++) {
				struct hold *o = &holds[active[j]];

				if (!holds_conflict(o, h))
					continue;
				violations++;
				if (violations <= MAX_PRINT) {
					uint64_t to = o->r < h->r ? o->r : h->r;
					char len[32];

					if (to == INF)
						snprintf(len, sizeof(len), "ever after");
					else
						snprintf(len, sizeof(len), "%" PRIu64 " ns", to - h->g);
					printf("violation: space %u %s %" PRIu64
					       ": conflicting holds of nodes %u and %u overlap for %s\n",
					       h->space, kind_name(h->kind), h->obj, o->node, h->node, len);
					print_hold(o);
					print_hold(h);
				}
			}
			if (nactive == capactive) {
				capactive = capactive ? capactive * 2 : 64;
				active = xrealloc(active, capactive * sizeof(*active));
			}
			active[nactive++] = k;
		}
		a = b;
	}
	if (violations > MAX_PRINT)
		printf("(%" PRIu64 " violations, the first %d printed)\n", violations, MAX_PRINT);
	for (size_t k = 0; k < nnodes; k++) {
		printf("node %u: %" PRIu64 " holds, %" PRIu64 " timeouts%s%s\n", nodes[k].node,
		       nodes[k].holds, nodes[k].timeouts, nodes[k].dead ? ", dead" : "",
		       nodes[k].stopped ? ", stopped" : "");
		timeouts += nodes[k].timeouts;
	}
	printf("tokcheck: %zu holds of %zu nodes, %" PRIu64 " timeouts, %" PRIu64
	       " unreleased, %" PRIu64 " violations\n",
	       nholds, nnodes, timeouts, unreleased, violations);
	free(active);
	return violations || unreleased ? 1 : 0;
}
