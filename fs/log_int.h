/*
 * fs/log_int.h - what fs/log.c (the writer: open, commit, force,
 * checkpoints) and fs/logscan.c (reading a log: the scan, replay) share:
 * the byte layouts of records and block headers, and the scan that
 * replay runs and fs_log_open runs to find where writing resumes.
 * Internal to the log; the contract is fs/log.h.
 */
#ifndef MM_FS_LOG_INT_H
#define MM_FS_LOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"
#include "fs/log.h"
#include "fs/oset.h"

#define BODY ((uint64_t)FS_LOG_BODY)
/* The largest payload: a record is at most one log block's body, so a
 * record never spans more than two blocks (see fs_log_open). */
#define PAYLOAD_MAX (FS_LOG_BODY - FS_LOG_REC_HDR)
#define BYTES_MAX (PAYLOAD_MAX - 24u)	/* bytes one FS_LOGR_BYTES record carries */

_Static_assert(FS_LOG_BODY % 8 == 0, "records are 8-byte aligned in every block");

#define ERR(rc_, ...)                                   \
	do {                                            \
		if (err)                                \
			snprintf(err, errsz, __VA_ARGS__); \
		return (rc_);                           \
	} while (0)

/* Offsets in a log block's header after the fs_mbh (log.h). */
enum { LB_NODE = 64, LB_NBLOCKS = 68, LB_USED = 72, LB_RSV = 76, LB_TAIL = 80, LB_RSV2 = 88 };
/* Offsets in a record header. */
enum { R_LSN = 0, R_TX = 8, R_TYPE = 16, R_RSV = 17, R_LEN = 20, R_CRC = 24, R_RSV2 = 28 };

static inline uint64_t seq_of(uint64_t lsn) { return lsn / BODY + 1; }

/* The record CRC: the payload, then the header with its CRC field zero. */
static inline uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t plen)
{
	uint8_t h[FS_LOG_REC_HDR];

	memcpy(h, hdr, sizeof(h));
	memset(h + R_CRC, 0, 4);
	return mm_crc32c(mm_crc32c_bulk(0, payload, plen), h, sizeof(h));
}

/* ---- the scan (logscan.c) ---- */

enum { B_BAD, B_OK, B_TORN };

/* A transaction cut off by a crash and abandoned when the log was
 * reopened after it (the next unit starts while it is open). */
struct range {
	uint64_t start, end;
};

struct scan {
	uint32_t fsid, n;
	uint64_t ino;
	uint8_t *all;		/* n * FS_MB: the whole log */
	uint8_t *state;		/* B_* per log file block */
	int *rrc;		/* read errors */
	uint64_t head;		/* highest valid sequence */
	bool torn;		/* block head + 1 is a torn write, read record by record */
	bool have_node;
	uint32_t node;
	uint64_t tail;		/* replay starts here */
	uint64_t valid_end;	/* stream bytes before it are in verified blocks */
	uint64_t avail;		/* stream bytes before it can be read */
	uint64_t stop;		/* where the records stop: writing resumes here */
	uint64_t end;		/* end of the last committed unit */
	uint64_t txs, records;
	struct range *aband;
	size_t naband, aband_cap;
	uint8_t *rec;		/* one record */
	struct oset orph;	/* the orphan set at the end */
	struct { uint64_t ino; bool add; } *pend;	/* the open transaction's */
	size_t npend, pend_cap;
};

/* Read and check the whole log into <s> (fsid, ino, n set by the
 * caller): its head, tail, where records stop, the orphan set. The
 * errors of fs_log_replay, with the reason in <err>. */
int logscan_run(const struct fs_log_io *io, struct scan *s, char *err, size_t errsz);
void logscan_free(struct scan *s);
/* The block of sequence <seq> as read. */
uint8_t *logscan_blk(struct scan *s, uint64_t seq);

#endif
