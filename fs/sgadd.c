/*
 * fs/sgadd.c - disks added to a mounted stripe group (mmadddisk) and the
 * descriptor written back.
 *
 * Order, so that a crash at any point leaves a file system that mounts:
 *   1. one transaction formats the new disks' block-map blocks (the map
 *      file grows on the existing disks; its new blocks are logged as
 *      allocated and what differs from zeros is logged);
 *   2. the log is forced;
 *   3. the descriptor with the new disks (next generation) goes to the
 *      descriptor disks, each into the slot not holding the current copy;
 *   4. the stripe group starts placing blocks on the new disks.
 * A crash before 3 leaves map blocks for disks the descriptor does not
 * name (mmfsck reclaims them); during 3 the majority of descriptor disks
 * decides, old or new.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

/* Write <sgd> to every descriptor disk, into the slot whose copy is older
 * (or not valid). The majority must take it: a failure on a minority is
 * logged, on a majority returned. */
static int write_sgd(fs_sg *sg, const struct fs_sgd *sgd, char *err, size_t errsz)
{
	uint8_t *enc = malloc(FS_SGD_SLOT_BYTES), *cur = malloc(FS_SGD_SLOT_BYTES);
	struct fs_sgd *tmp = malloc(sizeof(*tmp));
	uint32_t ndesc = 0, ok = 0;
	int rc = MM_OK;

	if (!enc || !cur || !tmp) {
		rc = MM_ENOMEM;
		goto out;
	}
	rc = fs_sgd_encode(sgd, enc);
	if (rc)
		goto out;
	for (uint32_t d = 0; d < sgd->ndisks; d++) {
		uint64_t gen[2] = {0, 0};
		int slot;

		if (!sgd->disk[d].has_desc)
			continue;
		ndesc++;
		for (int k = 0; k < 2; k++) {
			char msg[256];

			if (fs_mkfs_io_rc(sg->dio.read(sg->dio.arg, d, k ? FS_SGD_SLOT1 : FS_SGD_SLOT0,
						       cur, FS_SGD_SLOT_BYTES)) == MM_OK &&
			    fs_sgd_decode(cur, FS_SGD_SLOT_BYTES, tmp, msg, sizeof(msg)) == MM_OK)
				gen[k] = tmp->generation;
		}
		slot = gen[0] <= gen[1] ? 0 : 1;
		if (fs_mkfs_io_rc(sg->dio.write(sg->dio.arg, d, slot ? FS_SGD_SLOT1 : FS_SGD_SLOT0,
						enc, FS_SGD_SLOT_BYTES)) == MM_OK)
			ok++;
		else
			mm_error("fs", "%s: descriptor generation %" PRIu64 " not written to disk %s",
				 sg->device, sgd->generation, sgd->disk[d].name);
	}
	if (ok * 2 <= ndesc)
		rc = fs_errf(err, errsz, MM_EIO, "%s: the descriptor reached %u of %u descriptor disks",
			     sg->device, ok, ndesc);
out:
	free(enc);
	free(cur);
	free(tmp);
	return rc;
}

int fs_sg_add_disks(fs_sg *sg, const struct fs_mkfs_disk *nd, uint32_t n,
		    const struct fs_disk_io *dio, char *err, size_t errsz)
{
	struct fs_sgd *next;
	struct sg_tx *tx;
	uint32_t *idx;
	uint32_t old;
	int rc;

	if (sg->ro)
		return fs_errf(err, errsz, -EROFS, "%s is mounted read-only", sg->device);
	if (!n || sg->sgd.ndisks + n > FS_MAX_DISKS)
		return fs_errf(err, errsz, -EINVAL, "%u disks to add to %u (at most %u)", n,
			       sg->sgd.ndisks, FS_MAX_DISKS);
	next = malloc(sizeof(*next));
	idx = calloc(n, sizeof(*idx));
	if (!next || !idx) {
		free(next);
		free(idx);
		return -ENOMEM;
	}
	*next = sg->sgd;
	old = next->ndisks;
	for (uint32_t i = 0; i < n; i++) {
		struct fs_sgd_disk *d = &next->disk[old + i];

		memset(d, 0, sizeof(*d));
		d->nsd_id = nd[i].nsd_id;
		snprintf(d->name, sizeof(d->name), "%s", nd[i].name ? nd[i].name : "");
		d->failure_group = nd[i].failure_group;
		d->usage = nd[i].usage;
		d->status = FS_DS_READY;
		d->avail = FS_DA_UP;
		snprintf(d->pool, sizeof(d->pool), "%s",
			 nd[i].pool && nd[i].pool[0] ? nd[i].pool : "system");
		d->subblocks = nd[i].bytes / sg->S;
		idx[i] = old + i;
	}
	next->ndisks = old + n;
	next->generation++;
	rc = fs_sgd_check(next, err, errsz);
	if (rc)
		goto out;
	/* 1: the new disks' maps, a chunk a transaction (a small chunk's map
	 * block is mostly "past the end" bits: a whole block to log); a chunk
	 * formatted by an earlier attempt that did not finish is kept */
	rc = sg_tx_begin(sg, 0, &tx);
	if (!rc) {
		rc = sg_tx_lock_alloc(tx);
		if (!rc)
			rc = fs_alloc_update(sg->alloc, next, err, errsz);
		if (rc)
			sg_tx_abort(tx);
		else
			rc = sg_tx_commit(tx);
	}
	for (uint32_t i = 0; !rc && i < n; i++)
		for (uint32_t r = 0; !rc && r < next->nregions; r++) {
			rc = sg_tx_begin(sg, 0, &tx);
			if (rc)
				break;
			rc = sg_tx_lock_alloc(tx);
			if (!rc)
				rc = fs_bmap_format_region(sg->alloc, idx[i], r, err, errsz);
			if (rc == MM_EEXIST) {
				sg_tx_abort(tx);
				rc = MM_OK;
				continue;
			}
			if (rc)
				sg_tx_abort(tx);
			else
				rc = sg_tx_commit(tx);
		}
	if (rc) {
		/* the geometry goes back to what the descriptor says */
		struct sg_tx *t2;

		if (!sg_tx_begin(sg, 0, &t2)) {
			if (!sg_tx_lock_alloc(t2))
				fs_alloc_update(sg->alloc, &sg->sgd, NULL, 0);
			sg_tx_abort(t2);
		}
		goto out;
	}
	/* 2, 3 */
	if (!rc)
		rc = fs_log_force(sg->log, UINT64_MAX);
	if (!rc && dio)
		sg->dio = *dio;
	if (!rc)
		rc = write_sgd(sg, next, err, errsz);
	if (rc)
		goto out;
	/* 4: placement reads the descriptor; entries first, the count last */
	pthread_mutex_lock(&sg->alloc_mu);
	memcpy(&sg->sgd.disk[old], &next->disk[old], n * sizeof(next->disk[0]));
	sg->sgd.generation = next->generation;
	sg->sgd.ndisks = next->ndisks;
	sg->ndisks = next->ndisks;
	pthread_mutex_unlock(&sg->alloc_mu);
	mm_notice("fs", "%s: %u disks added (descriptor generation %" PRIu64 ")", sg->device, n,
		  next->generation);
out:
	free(next);
	free(idx);
	return fs_errno(rc);
}
