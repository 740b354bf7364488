/*
 * fs/sgdiff.c - what a transaction's commit logs of a buffer it changed:
 * the runs that differ from the buffer's saved copy (only the chunks or
 * records saved, for ranged and lazy buffers), or the whole record or
 * indirect block where replay needs it whole (fs/README.md,
 * "Transactions"; sgtx.c commits).
 */
#include <string.h>

#include "common/bug.h"
#include "common/err.h"
#include "fs/log.h"
#include "fs/sg_int.h"

static int diff_span(struct sg_tx *tx, struct sg_txbuf *tb, uint32_t from, uint32_t to,
		     uint32_t *lo, uint32_t *hi);

/* Log the runs of <tb> that differ from its copy (gaps under 64 bytes
 * are logged with the runs: fewer records). *lo, *hi: the span. */
int sg_tx_diff(struct sg_tx *tx, struct sg_txbuf *tb, uint32_t *lo, uint32_t *hi)
{
	const uint8_t *a = tb->orig, *b = tb->data;
	int rc;

	*lo = FS_MB;
	*hi = 0;
	/*
	 * Records that the map callback reads while replay maps later
	 * records' blocks (inode records, indirect blocks) are logged whole:
	 * replay starts from blocks that may be newer than the log's tail,
	 * and a partial record applied over a newer copy would leave a
	 * record that does not verify until the rest of the log is applied.
	 */
	if (tb->ino == 0 && !(tb->blk & FS_TAG_IND)) {
		for (uint32_t s = 0; s < FS_MB; s += FS_INODE_BYTES) {
			if (tb->lazy && !(tb->saved >> (s / FS_INODE_BYTES) & 1))
				continue;	/* not encoded: unchanged */
			if (!memcmp(a + s, b + s, FS_INODE_BYTES))
				continue;
			if (s < *lo)
				*lo = s;
			*hi = s + FS_INODE_BYTES;
			if (tx->ltx) {
				rc = fs_log_add_whole(tx->ltx, tb->ino, tb->blk, s, b + s,
						      FS_INODE_BYTES);
				if (rc)
					return rc;
			}
		}
		return MM_OK;
	}
	if ((tb->blk & FS_TAG_IND) && !fs_tag_is_xattr(tb->blk) && !tb->fresh) {
		if (!memcmp(a, b, FS_MB))
			return MM_OK;
		*lo = 0;
		*hi = FS_MB;
		return tx->ltx ? fs_log_add_whole(tx->ltx, tb->ino, tb->blk, 0, b, FS_MB) : MM_OK;
	}
	if (tb->ranged) {
#ifdef MM_DEBUG
		for (uint32_t c = 0; tb->shadow && c < 64; c++)
			MM_ASSERT((tb->csaved >> c & 1) ||
				  !memcmp(tb->data + (size_t)c * SG_TX_CHUNK,
					  tb->shadow + (size_t)c * SG_TX_CHUNK, SG_TX_CHUNK));
#endif
		/* only the chunks named changed can differ */
		for (uint32_t c = 0; c < 64;) {
			uint32_t c1;

			if (!(tb->csaved >> c & 1)) {
				c++;
				continue;
			}
			for (c1 = c + 1; c1 < 64 && (tb->csaved >> c1 & 1); c1++)
				;
			rc = diff_span(tx, tb, c * SG_TX_CHUNK, c1 * SG_TX_CHUNK, lo, hi);
			if (rc)
				return rc;
			c = c1;
		}
		return MM_OK;
	}
	return diff_span(tx, tb, 0, FS_MB, lo, hi);
}

/* sg_tx_diff over bytes [from, to) of <tb> (multiples of 8). */
static int diff_span(struct sg_tx *tx, struct sg_txbuf *tb, uint32_t from, uint32_t to,
		     uint32_t *lo, uint32_t *hi)
{
	const uint8_t *a = tb->orig, *b = tb->data;
	uint32_t i = from;
	int rc;

	while (i < to) {
		uint32_t s, e, gap;

		/* to the first difference: 512 bytes at a time (libc's wide
		 * compare), then 8 */
		while (i + 512 <= to && !memcmp(a + i, b + i, 512))
			i += 512;
		while (i < to && !memcmp(a + i, b + i, 8))
			i += 8;
		if (i >= to)
			break;
		s = i;
		e = i + 8;
		for (gap = 0, i = e; i < to && gap < 64; i += 8) {
			if (memcmp(a + i, b + i, 8)) {
				e = i + 8;
				gap = 0;
			} else {
				gap += 8;
			}
		}
		i = e;
		if (s < *lo)
			*lo = s;
		if (e > *hi)
			*hi = e;
		if (tx->ltx) {
			rc = fs_log_add_bytes(tx->ltx, tb->ino, tb->blk, s, b + s, e - s);
			if (rc)
				return rc;
		}
	}
	return MM_OK;
}
