/*
 * fs/fsck_maps.c - fsck's section 5: the block and inode allocation maps,
 * rebuilt from what the files use and compared with what is on disk
 * (fs/fsck.c runs it in each pass; fs/fsck_priv.h is what they share).
 */
#include "fs/fsck_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/mkfs_int.h"

/* ---- 5. the maps ---- */

/* Compare map block (ino, blk) with <want>; with repair, write it.
 * <what> names it. Returns 1 if it differed. */
static int compare_map(struct fk *f, uint64_t ino, uint64_t blk, const uint8_t *want,
		       bool hole_ok, const char *what, uint64_t base, uint64_t nbits, bool inodes)
{
	const struct fs_bstore *bs = fs_ds_bs(f->ds);
	uint8_t *b;
	char msg[256];
	int rc = bs->get(bs->arg, ino, blk, false, &b);

	if (rc == MM_ENOENT) {
		if (hole_ok)
			return 0;
		fk_problem(f, f->repair, "%s is missing%s", what, f->repair ? ": written" : "");
	} else if (rc) {
		fk_problem(f, false, "%s: %s", what, mm_strerror(rc));
		return 1;
	} else if (!memcmp(b, want, FS_MB)) {
		bs->put(bs->arg, ino, blk, b, false);
		return 0;
	} else if (fs_mb_verify(b, FS_MB, inodes ? FS_BT_IMAP : FS_BT_BMAP, f->fsid, ino, blk,
				NULL, msg, sizeof(msg)) != MM_OK) {
		bs->put(bs->arg, ino, blk, b, false);
		fk_problem(f, f->repair, "%s: %s%s", what, msg, f->repair ? ": rebuilt" : "");
	} else {
		uint64_t leak = 0, lost = 0, lf = 0, sf = 0;
		const uint8_t *x = b + FS_MBH_BYTES, *y = want + FS_MBH_BYTES;

		for (uint64_t i = 0; i < nbits; i++) {
			bool have = x[i / 8] >> (i % 8) & 1, need = y[i / 8] >> (i % 8) & 1;

			if (have && !need && !leak++)
				lf = base + i;
			if (!have && need && !lost++)
				sf = base + i;
		}
		bs->put(bs->arg, ino, blk, b, false);
		if (leak)
			fk_problem(f, f->repair, "%s: %" PRIu64 " %s marked in use but used by none "
				   "(first %" PRIu64 ")%s", what, leak, inodes ? "inodes" : "subblocks",
				   lf, f->repair ? ": freed" : "");
		if (lost)
			fk_problem(f, f->repair, "%s: %" PRIu64 " %s in use but marked free (first %"
				   PRIu64 ")%s", what, lost, inodes ? "inodes" : "subblocks", sf,
				   f->repair ? ": marked" : "");
		if (!leak && !lost)
			fk_problem(f, f->repair, "%s: its header counts are wrong%s", what,
				   f->repair ? ": set" : "");
	}
	if (f->repair) {
		rc = bs->get(bs->arg, ino, blk, true, &b);
		if (rc) {
			fk_unrepairable(f, "%s: %s", what, fs_ds_err(f->ds));
			return 1;
		}
		memcpy(b, want, FS_MB);
		bs->put(bs->arg, ino, blk, b, true);
	}
	return 1;
}

int fk_check_bmap(struct fk *f)
{
	uint32_t bpm = fs_alloc_bpm(f->a);
	uint8_t *want = malloc(FS_MB);
	char what[160];
	int changed = 0;

	if (!want)
		return MM_ENOMEM;
	for (uint32_t d = 0; d < f->sgd->ndisks && !f->stop; d++) {
		for (uint32_t r = 0; r < f->sgd->nregions && !f->stop; r++) {
			struct fs_chunk ch;

			fk_progress(f, "Checking the block map", (uint64_t)d * f->sgd->nregions + r,
				    (uint64_t)f->sgd->ndisks * f->sgd->nregions);
			fs_bmap_chunk(f->a, d, r, &ch);
			for (uint32_t j = 0; j < ch.nmap && !f->stop; j++) {
				uint64_t covered = ch.nsub / f->spb - (uint64_t)j * bpm, fsub = 0,
					 ffull = 0, s0 = ch.start + (uint64_t)j * bpm * f->spb;
				uint8_t *body = want + FS_MBH_BYTES;
				struct fs_mbh h = {.type = FS_BT_BMAP, .fsid = f->fsid,
						   .ino = FS_INO_BMAP, .blk = ch.map0 + j};

				if (covered > bpm)
					covered = bpm;
				/* the chunk's bits are the claims (both start at a full
				 * block, so bytes line up); past its end all in use */
				memset(want, 0, FS_MB);
				memcpy(body, f->claim[d] + (s0 - f->first) / 8, covered * f->spb / 8);
				memset(body + covered * f->spb / 8, 0xff, (bpm - covered) * f->spb / 8);
				for (uint64_t k = 0; k < covered; k++) {
					uint32_t used = 0;

					for (uint32_t i = 0; i < f->spb / 8; i++)
						used += (uint32_t)__builtin_popcount(body[k * f->spb / 8 + i]);
					fsub += f->spb - used;
					ffull += used == 0;
				}
				h.a = fsub;
				h.b = ffull;
				fs_mb_seal(want, FS_MB, &h);
				snprintf(what, sizeof(what), "block map disk %u (%s) region %u map block "
					 "%u", d, fk_dname(f, d), r, j);
				changed |= compare_map(f, FS_INO_BMAP, ch.map0 + j, want, false, what, s0,
						       covered * f->spb, false);
			}
		}
	}
	free(want);
	return changed;
}

int fk_check_imap(struct fk *f)
{
	uint8_t *want = malloc(FS_MB);
	uint64_t lim = f->sgd->inode_limit;
	char what[96];
	int changed = 0;

	if (!want)
		return MM_ENOMEM;
	for (uint32_t r = 0; r < fs_imap_nregions(f->a) && !f->stop; r++) {
		uint64_t base = (uint64_t)r * FS_IMAP_REGION_INODES, nfree = 0, init = 0;
		struct fs_mbh h = {.type = FS_BT_IMAP, .fsid = f->fsid, .ino = FS_INO_IMAP, .blk = r};

		memset(want, 0, FS_MB);
		for (uint64_t i = 0; i < FS_IMAP_REGION_INODES; i++) {
			uint64_t ino = base + i;
			bool fixed = ino < FS_FIRST_USER_INO || ino >= lim;
			bool used = fixed || (ino < f->ninodes && f->ii[ino].state == IS_USED);

			if (used)
				want[FS_MBH_BYTES + i / 8] |= (uint8_t)(1u << (i % 8));
			nfree += !used;
			init += !fixed;
		}
		h.a = nfree;
		fs_mb_seal(want, FS_MB, &h);
		snprintf(what, sizeof(what), "inode map region %u", r);
		changed |= compare_map(f, FS_INO_IMAP, r, want, nfree == init && r > 0, what, base,
				       FS_IMAP_REGION_INODES, true);
	}
	free(want);
	return changed;
}

