/*
 * mmdf - free space of a file system.
 *
 *   mmdf Device [-Y]
 *
 * GPFS's layout: per storage pool, each disk's size, failure group,
 * holds metadata / data, free space in full blocks and in fragments
 * (KB, with the percentage of the disk), the pool's total; then the
 * (data), (metadata) and (total) lines over every pool, and "Inode
 * Information". Figures are from the allocation maps' headers; values
 * are rounded down to KB. A disk's size is its size in the descriptor;
 * space not in the maps (the reserved first MiB, a partial last block)
 * counts as used, as GPFS's does.
 *
 * Where the figures come from (mmfsd/admin_fs.c, fs_figures):
 *   - mounted on the node whose daemon answers: its mounted stripe group
 *     (fs_sg_df), current and exact while writers run; space being freed
 *     (waiting for its transaction to be durable) counts as free;
 *   - mounted on another node: the reply names it, and mmdf asks that
 *     node's daemon instead, on this machine or through the remote shell
 *     (cmd_admin_node, as mmadddisk does); when that fails the figures
 *     are read from the disks, which lag that node's log and pagepool:
 *     mmdf prints them with a note on stderr naming the node, or, when
 *     the disks' maps do not add up at that moment, says so naming the
 *     node and exits 1;
 *   - mounted nowhere: the disks.
 * Exit 0: figures printed; 1: none (the message says why); 2: usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmds/libcmd.h"
#include "cmds/libfs.h"
#include "common/err.h"
#include "mmfsd/admin.h"

struct tot {
	unsigned long long size, full, frag;
};

static void add(struct tot *t, unsigned long long size, unsigned long long full, unsigned long long frag)
{
	t->size += size;
	t->full += full;
	t->frag += frag;
}

static unsigned pct(unsigned long long part, unsigned long long whole)
{
	return whole ? (unsigned)(part * 100 / whole) : 0;
}

static void total_line(const char *label, const struct tot *t)
{
	printf("%-15s %13llu %27s %13llu (%3u%%) %13llu (%3u%%)\n", label, t->size, "", t->full,
	       pct(t->full, t->size), t->frag, pct(t->frag, t->size));
}

static void ytotal(const char *kind, const char *pool, const struct tot *t)
{
	char b[6][32];

	printf("mmdf:%s:0:1:::", kind);
	if (pool)
		cmd_yfield(pool);
	snprintf(b[0], 32, "%llu", t->size);
	snprintf(b[1], 32, "%llu", t->full);
	snprintf(b[2], 32, "%u", pct(t->full, t->size));
	snprintf(b[3], 32, "%llu", t->frag);
	snprintf(b[4], 32, "%u", pct(t->frag, t->size));
	for (int i = 0; i < 5; i++)
		cmd_yfield(b[i]);
	putchar('\n');
}

/*
 * <cur> (in *rep) says another node has <device> mounted: ask that
 * node's daemon, whose figures are current (mmadddisk does the same).
 * Its answer replaces *rep; on any failure <cur> stands (with its note
 * or error naming the node).
 */
static json_object *ask_mounter(struct cmd_env *e, const char *device, json_object **rep,
				json_object *cur)
{
	const struct cfg_node *n = e->have_def ? cfg_cluster_node(&e->def, cmd_js(cur, "mountedOn")) : NULL;
	json_object *req, *r2 = NULL, *fss, *f;

	if (!n)
		return cur;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("lsfs"));
	json_object_object_add(req, "device", json_object_new_string(device));
	if (cmd_admin_node(e, n, req, 120000, &r2) != MM_OK || adm_get_int(r2, "rc", 1) != 0 ||
	    !json_object_object_get_ex(r2, "filesystems", &fss) ||
	    !json_object_is_type(fss, json_type_array) || json_object_array_length(fss) != 1 ||
	    !json_object_object_get_ex(f = json_object_array_get_idx(fss, 0), "sgd", NULL)) {
		json_object_put(req);
		json_object_put(r2);
		return cur;
	}
	json_object_put(req);
	json_object_put(*rep);
	*rep = r2;
	return f;
}

int main(int argc, char **argv)
{
	const char *device = NULL;
	bool Y = false;
	struct cmd_env e;
	json_object *rep, *fss, *f, *s, *disks;
	struct tot all = {0}, data = {0}, meta = {0};
	const char *pools[1024];
	size_t npools = 0;
	long long B, S;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-Y"))
			Y = true;
		else if (argv[i][0] != '-' && !device)
			device = argv[i];
		else {
			fprintf(stderr, "usage: mmdf Device [-Y]\n");
			return 2;
		}
	}
	if (!device || !strcmp(device, "all")) {
		fprintf(stderr, "usage: mmdf Device [-Y]\n");
		return 2;
	}
	if (!strncmp(device, "/dev/", 5))
		device += 5;
	if (cmd_env_init(&e, "mmdf", true) || cmd_fs_list(&e, device, &rep, &fss))
		return 1;
	if (cmd_fs_errors(&e, fss) || json_object_array_length(fss) != 1) {
		json_object_put(rep);
		return 1;
	}
	f = json_object_array_get_idx(fss, 0);
	if (cmd_js(f, "mountedOn")[0] && strcmp(cmd_js(f, "figuresFrom"), "mount"))
		f = ask_mounter(&e, device, &rep, f);
	if (cmd_js(f, "figuresNote")[0])
		cmd_errf(&e, "%s", cmd_js(f, "figuresNote"));
	if (cmd_js(f, "figuresError")[0]) {
		/* only the descriptor could be read (mmfsd/admin_fs.c, fs_figures) */
		cmd_errf(&e, "%s", cmd_js(f, "figuresError"));
		json_object_put(rep);
		return 1;
	}
	json_object_object_get_ex(f, "sgd", &s);
	json_object_object_get_ex(s, "disks", &disks);
	B = cmd_ji(s, "blockSize");
	S = cmd_ji(s, "subblockSize");
	/* pools in the order of their first disk */
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		const char *p = cmd_js(json_object_array_get_idx(disks, i), "pool");
		size_t k;

		for (k = 0; k < npools && strcmp(pools[k], p); k++)
			;
		if (k == npools && npools < 1024)
			pools[npools++] = p;
	}
	if (Y) {
		printf("mmdf:nsd:HEADER:version:reserved:reserved:nsdName:storagePool:diskSize:failureGroup:"
		       "metadata:data:freeBlocks:freeBlocksPct:freeFragments:freeFragmentsPct:\n");
		printf("mmdf:poolTotal:HEADER:version:reserved:reserved:poolName:poolSize:freeBlocks:"
		       "freeBlocksPct:freeFragments:freeFragmentsPct:\n");
		printf("mmdf:data:HEADER:version:reserved:reserved:totalData:freeBlocks:freeBlocksPct:"
		       "freeFragments:freeFragmentsPct:\n");
		printf("mmdf:metadata:HEADER:version:reserved:reserved:totalMetadata:freeBlocks:"
		       "freeBlocksPct:freeFragments:freeFragmentsPct:\n");
		printf("mmdf:fsTotal:HEADER:version:reserved:reserved:fsSize:freeBlocks:freeBlocksPct:"
		       "freeFragments:freeFragmentsPct:\n");
		printf("mmdf:inode:HEADER:version:reserved:reserved:usedInodes:freeInodes:allocatedInodes:"
		       "maxInodes:\n");
	} else {
		printf("disk                disk size  failure holds    holds              free KB             free KB\n"
		       "name                    in KB    group metadata data        in full blocks        in fragments\n"
		       "--------------- ------------- -------- -------- ----- -------------------- -------------------\n");
	}
	for (size_t p = 0; p < npools; p++) {
		struct tot pt = {0};

		if (!Y)
			printf("Disks in storage pool: %s\n", pools[p]);
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			json_object *d = json_object_array_get_idx(disks, i);
			int u = (int)cmd_ji(d, "usage");
			unsigned long long size = (unsigned long long)(cmd_ji(d, "subblocks") * S / 1024);
			unsigned long long full = (unsigned long long)(cmd_ji(d, "freeFull") * B / 1024);
			unsigned long long frag = (unsigned long long)((cmd_ji(d, "freeSub") * S - cmd_ji(d, "freeFull") * B) / 1024);
			bool m = cmd_fs_holds_meta(u), dt = cmd_fs_holds_data(u);
			/* a disk that takes no new blocks (descOnly, not ready or not up) */
			bool star = (!m && !dt) || cmd_ji(d, "status") != 0 || cmd_ji(d, "availability") != 0;

			if (strcmp(cmd_js(d, "pool"), pools[p]))
				continue;
			add(&pt, size, full, frag);
			add(&all, size, full, frag);
			if (dt)
				add(&data, size, full, frag);
			if (m)
				add(&meta, size, full, frag);
			if (Y) {
				char b[8][32];

				printf("mmdf:nsd:0:1:::");
				cmd_yfield(cmd_js(d, "name"));
				cmd_yfield(pools[p]);
				snprintf(b[0], 32, "%llu", size);
				snprintf(b[1], 32, "%lld", cmd_ji(d, "failureGroup"));
				snprintf(b[2], 32, "%s", m ? "yes" : "no");
				snprintf(b[3], 32, "%s", dt ? "yes" : "no");
				snprintf(b[4], 32, "%llu", full);
				snprintf(b[5], 32, "%u", pct(full, size));
				snprintf(b[6], 32, "%llu", frag);
				snprintf(b[7], 32, "%u", pct(frag, size));
				for (int k = 0; k < 8; k++)
					cmd_yfield(b[k]);
				putchar('\n');
			} else {
				printf("%-15s %13llu %8lld %-8s %-5s %13llu (%3u%%) %13llu (%3u%%)%s\n",
				       cmd_js(d, "name"), size, cmd_ji(d, "failureGroup"), m ? "yes" : "no",
				       dt ? "yes" : "no", full, pct(full, size), frag, pct(frag, size),
				       star ? " *" : "");
			}
		}
		if (Y) {
			ytotal("poolTotal", pools[p], &pt);
		} else {
			printf("                -------------                         -------------------- "
			       "-------------------\n");
			total_line("(pool total)", &pt);
			printf("\n");
		}
	}
	if (Y) {
		char b[4][32];

		ytotal("data", NULL, &data);
		ytotal("metadata", NULL, &meta);
		ytotal("fsTotal", NULL, &all);
		printf("mmdf:inode:0:1:::");
		snprintf(b[0], 32, "%lld", cmd_ji(s, "inodesUsed"));
		snprintf(b[1], 32, "%lld", cmd_ji(s, "inodesFree"));
		snprintf(b[2], 32, "%lld", cmd_ji(s, "inodesUsed") + cmd_ji(s, "inodesFree"));
		snprintf(b[3], 32, "%lld", cmd_ji(s, "inodeLimit"));
		for (int k = 0; k < 4; k++)
			cmd_yfield(b[k]);
		putchar('\n');
	} else {
		printf("                =============                         ==================== "
		       "===================\n");
		total_line("(data)", &data);
		total_line("(metadata)", &meta);
		printf("                =============                         ==================== "
		       "===================\n");
		total_line("(total)", &all);
		printf("\nInode Information\n-----------------\n");
		printf("Number of used inodes:         %10lld\n", cmd_ji(s, "inodesUsed"));
		printf("Number of free inodes:         %10lld\n", cmd_ji(s, "inodesFree"));
		printf("Number of allocated inodes:    %10lld\n", cmd_ji(s, "inodesUsed") + cmd_ji(s, "inodesFree"));
		printf("Maximum number of inodes:      %10lld\n", cmd_ji(s, "inodeLimit"));
	}
	json_object_put(rep);
	cmd_env_free(&e);
	return 0;
}
