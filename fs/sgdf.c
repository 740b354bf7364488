/*
 * fs/sgdf.c - free space and inode figures of a mounted stripe group:
 * what mmdf shows while the file system is mounted here (fs.h,
 * fs_sg_df; mmfsd/admin_fs.c calls it through the mount service).
 *
 * Why not read the disks: the maps on disk lag this node's. A commit
 * changes map blocks in the pagepool and logs them; write-behind writes
 * them later, so the disks' headers may not add up (and mmadddisk's new
 * maps exist only in the log for a while). The mounted node's pagepool
 * buffers are the current maps, and the map blocks' headers (alloc.h:
 * free subblocks and free full blocks per map block, the inode map's
 * free count per region) give the figures without reading bitmaps.
 *
 * A consistent snapshot: every change to the block map happens under
 * sg->alloc_mu (allocation, and frees applied at commit, sg_tx_lock_alloc)
 * and every change to the inode map under sg->ialloc_mu, each held to the
 * changing transaction's end; the descriptor's disk count moves under
 * alloc_mu (sgadd.c). So ialloc_mu is held for the whole snapshot and
 * alloc_mu, taken after it as transactions do (fs/sg_int.h), for the
 * block map's part; the map blocks are read through the pagepool
 * (sg_ro_bstore) as allocation reads them, block map blocks under
 * alloc_mu and inode map blocks under ialloc_mu alone, the order a
 * transaction holds them in. No transaction runs on this thread, so a
 * buffer a committing transaction still holds is waited for, never read
 * half changed.
 *
 * The busy set (sgfree.c) counts as free: those subblocks are already
 * free in the map (the freeing commit cleared their bits) and are only
 * kept from reuse until the log is durable past that commit, a log
 * write away. GPFS's mmdf likewise shows space that is being freed as
 * available; counting it used would make a file just removed seem to
 * hold its space. It also makes these figures equal what fs_open_check
 * reads from the disks once the file system is unmounted (unmount makes
 * the log durable).
 *
 * [multi] With several nodes mounting, other nodes' regions change in
 * their pagepools: this node's copies of those map blocks may lag until
 * their tokens are revoked. One node mounts at a time in issue 12.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "fs/sg_int.h"

/* Inodes 5 .. 15: reserved (fs/README.md, "Inodes"), in use in the inode
 * map from mkfs on but never records in use; 0 .. 4 are both. */
#define DF_RESERVED_UNUSED (FS_FIRST_USER_INO - (SG_LOG_INO + 1))

int fs_sg_df(fs_sg *sg, struct fs_df *out, struct fs_sgd *sgd, char *err, size_t errsz)
{
	uint64_t ifree = 0, limit;
	uint32_t nd, nir;
	int rc = MM_OK;

	if (!sg || !out)
		return fs_errf(err, errsz, -EINVAL, "fs_sg_df: no stripe group or no output");
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&sg->ialloc_mu);
	pthread_mutex_lock(&sg->alloc_mu);
	nd = sg->sgd.ndisks;
	limit = sg->sgd.inode_limit;
	if (sgd)
		*sgd = sg->sgd;
	for (uint32_t d = 0; d < nd && !rc; d++) {
		struct fs_df_disk *dd = &out->disk[d];

		for (uint32_t r = 0; r < sg->sgd.nregions && !rc; r++) {
			struct fs_bmap_count c;
			struct fs_chunk ch;

			rc = fs_bmap_chunk(sg->alloc, d, r, &ch);
			if (!rc)
				rc = fs_bmap_count(sg->alloc, r, d, &c, err, errsz);
			if (rc)
				break;
			dd->alloc_sub += ch.nsub;
			dd->free_sub += c.free_sub;
			dd->free_full += c.free_full;
		}
	}
	/* the inode map after alloc_mu goes: a transaction holds an inode
	 * map block when it takes alloc_mu (sg_tx_alloc_inode, then its
	 * blocks), so reading one under alloc_mu would invert that order.
	 * ialloc_mu, held throughout, keeps every transaction that changes
	 * inodes wholly before or after this snapshot; one that only
	 * allocates or frees blocks is wholly before or after the block
	 * map's read. */
	pthread_mutex_unlock(&sg->alloc_mu);
	nir = fs_imap_nregions(sg->alloc);
	for (uint32_t r = 0; r < nir && !rc; r++) {
		uint64_t n;

		rc = fs_imap_count(sg->alloc, r, &n, err, errsz);
		ifree += n;
	}
	pthread_mutex_unlock(&sg->ialloc_mu);
	if (rc) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err && errsz ? err : mm_strerror(rc));
		fs_errf(err, errsz, rc, "%s: free space from the mounted maps: %s", sg->device, why);
		sg_logf(sg, rc, "free space from the mounted maps: %s", why);
		return fs_errno(rc);
	}
	out->ndisks = nd;
	out->inodes_free = ifree;
	/* in use in the map: every inode below the limit not free (the map
	 * marks 0 .. 15 and those past the limit in use) */
	out->inodes_used = limit - ifree >= DF_RESERVED_UNUSED ? limit - ifree - DF_RESERVED_UNUSED : 0;
	return 0;
}
