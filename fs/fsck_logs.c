/*
 * fs/fsck_logs.c - fsck's step 3: every node's log in the log table,
 * replayed into the metadata store before anything is checked (with -n
 * in memory only), as a mount would (fs/README.md, "fsck"). fsck.c
 * runs it; fs/fsck_priv.h is what they share.
 */
#include "fs/fsck_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/log.h"
#include "fs/mkfs_int.h"

struct lio {
	struct fk *f;
	uint64_t ino;
};

static int lio_read(void *arg, uint64_t lblk, uint8_t *data)
{
	struct lio *l = arg;
	const struct fs_bstore *bs = fs_ds_bs(l->f->ds);
	uint8_t *b;
	int rc = bs->get(bs->arg, l->ino, lblk, false, &b);

	if (rc == MM_ENOENT) {
		memset(data, 0, FS_MB);
		return MM_OK;
	}
	if (rc)
		return rc;
	memcpy(data, b, FS_MB);
	bs->put(bs->arg, l->ino, lblk, b, false);
	return MM_OK;
}

static int lio_write(void *arg, uint64_t lblk, const uint8_t *data)
{
	struct lio *l = arg;
	const struct fs_bstore *bs = fs_ds_bs(l->f->ds);
	uint8_t *b;
	int rc = bs->get(bs->arg, l->ino, lblk, true, &b);

	if (rc)
		return rc;
	memcpy(b, data, FS_MB);
	bs->put(bs->arg, l->ino, lblk, b, true);
	return MM_OK;
}

/* Node <node>'s log, inode <ino>: replay it (into the store). */
static void replay_one(struct fk *f, uint32_t node, uint64_t ino)
{
	struct fs_inode *in = malloc(sizeof(*in));
	struct lio l = {f, ino};
	struct fs_log_io io = {lio_write, lio_read, &l};
	struct fs_log_replay out;
	uint64_t nblocks;
	char msg[512];
	int rc;

	if (!in)
		return;
	rc = fk_read_inode(f, ino, in);
	if (rc || (in->flags & (FS_IF_FREE | FS_IF_DATA_IN_INODE)) || !S_ISREG(in->mode) ||
	    in->size % FS_MB || in->size / FS_MB < FS_LOG_MIN_BLOCKS || ino < FS_FIRST_USER_INO ||
	    ino >= f->ninodes) {
		/* the inode check reports the record itself; the entry goes */
		fk_problem(f, false, "log table: node %u's log inode %" PRIu64 " is not a log file",
			   node, ino);
		free(in);
		return;
	}
	nblocks = in->size / FS_MB;
	free(in);
	f->ii[ino].log = true;
	f->r->logs++;
	rc = fs_log_replay(&io, f->fsid, ino, (uint32_t)nblocks, fs_ds_bs(f->ds), NULL, &out, msg,
			   sizeof(msg));
	if (rc == MM_OK) {
		/* unlinked files in use when the node stopped: its next mount
		 * frees them (checked below as freed) */
		for (size_t k = 0; k < out.norphans; k++)
			if (out.orphans[k] >= FS_FIRST_USER_INO && out.orphans[k] < f->ninodes)
				f->ii[out.orphans[k]].orphan = true;
		fs_log_replay_done(&out);
	}
	if (rc == MM_OK && out.txs == 0)
		return;
	if (rc == MM_OK) {
		f->r->logs_dirty++;
		fk_problem(f, f->repair, "log of node %u (inode %" PRIu64 ") is dirty: %" PRIu64
			   " transactions %s", node, ino, out.txs, f->repair ? "replayed" :
			   "would replay (checked as replayed)");
	} else if (rc == MM_ECHECKSUM || rc == MM_EPROTO || rc == MM_ENOTSUP) {
		fk_problem(f, f->repair, "log of node %u (inode %" PRIu64 ") cannot be replayed: %s%s",
			   node, ino, msg, f->repair ? ": formatted empty, its transactions are lost" :
			   "");
	} else {
		f->stop = true;
		f->fatal = rc;
		fs_errf(f->err, f->errsz, rc, "log of node %u (inode %" PRIu64 "): %s", node, ino,
			msg);
		return;
	}
	/* a replayed log is emptied: a mount would find nothing to do */
	if (f->repair && fs_log_format(&io, f->fsid, ino, node, (uint32_t)nblocks) != MM_OK)
		fk_unrepairable(f, "log of node %u (inode %" PRIu64 "): formatting it failed: %s",
				node, ino, fs_ds_err(f->ds));
}

/* The log table (inode 4): block n, slot i is node n * SLOTS + i. */
void fk_check_logs(struct fk *f)
{
	const struct fs_bstore *bs = fs_ds_bs(f->ds);
	struct fs_inode *in = malloc(sizeof(*in));
	uint64_t nblk;

	if (!in)
		return;
	if (fk_read_inode(f, 4, in) != MM_OK || (in->flags & FS_IF_FREE)) {
		free(in);
		return;	/* the inode check reports it */
	}
	nblk = (in->size + FS_MB - 1) / FS_MB;
	free(in);
	for (uint64_t n = 0; n < nblk && !f->stop; n++) {
		struct fs_mbh h;
		char msg[256];
		uint8_t *b;
		uint64_t used = 0;
		int rc = bs->get(bs->arg, 4, n, false, &b);

		fk_progress(f, "Replaying logs", n, nblk);
		if (rc == MM_ENOENT)
			continue;
		if (rc) {
			fk_problem(f, false, "log table block %" PRIu64 ": %s", n, mm_strerror(rc));
			continue;
		}
		rc = fs_mb_verify(b, FS_MB, FS_BT_LOGTAB, f->fsid, 4, n, &h, msg, sizeof(msg));
		for (uint32_t i = 0; rc == MM_OK && i < FS_LOGTAB_SLOTS; i++) {
			const uint8_t *e = b + FS_MBH_BYTES + (size_t)i * FS_LOGTAB_ENTRY;
			uint64_t node = n * FS_LOGTAB_SLOTS + i;

			if (mm_be64_get(e + 8) == 0 && mm_be32_get(e) == 0 && mm_be32_get(e + 4) == 0)
				continue;
			if (mm_be32_get(e) != node || mm_be32_get(e + 4) != 0 || !mm_be64_get(e + 8)) {
				rc = MM_EPROTO;
				snprintf(msg, sizeof(msg), "slot %u is not node %" PRIu64 "'s", i, node);
			}
			used++;
		}
		if (rc == MM_OK && h.a != used) {
			rc = MM_EPROTO;
			snprintf(msg, sizeof(msg), "header counts %" PRIu64 " logs, its slots %" PRIu64,
				 h.a, used);
		}
		bs->put(bs->arg, 4, n, b, false);
		if (rc) {
			/* unreadable: its logs cannot be found; without it a mount
			 * makes new ones */
			fk_problem(f, false, "log table block %" PRIu64 ": %s", n, msg);
			if (f->repair)
				fk_unrepairable(f, "log table block %" PRIu64, n);
			continue;
		}
		for (uint32_t i = 0; i < FS_LOGTAB_SLOTS && !f->stop; i++) {
			uint64_t ino;

			rc = bs->get(bs->arg, 4, n, false, &b);
			if (rc)
				break;
			ino = mm_be64_get(b + FS_MBH_BYTES + (size_t)i * FS_LOGTAB_ENTRY + 8);
			bs->put(bs->arg, 4, n, b, false);
			if (ino)
				replay_one(f, (uint32_t)(n * FS_LOGTAB_SLOTS + i), ino);
		}
	}
	fk_progress(f, "Replaying logs", 1, 1);
}
