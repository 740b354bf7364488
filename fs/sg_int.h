/*
 * fs/sg_int.h - the mounted stripe group's insides, shared by sg.c (mount,
 * the pagepool callbacks, the log), sgtx.c (transactions, allocation),
 * inode.c (inodes in memory, tokens, revokes), vnode.c (names), data.c
 * (file data) and xattr.c. Not a contract: fs/fs.h is.
 *
 * Lock order (fs/README.md, "Lock order"), outermost first:
 *   1. sg->rename_mu (cross-directory renames, as the VFS does)
 *   2. tokens: inode tokens parent before child, inodes of one level
 *      in ascending number; then br tokens; region tokens are held
 *      for the mount and never waited for inside an operation
 *   3. a transaction: fs_log_begin, then the metadata buffers of the
 *      objects whose tokens it holds (exclusive, kept to commit), then
 *      sg->ialloc_mu, then sg->alloc_mu (held to commit), then at
 *      commit the inode-file buffers in ascending block order
 *   4. leaf mutexes: ino->mu, the inode table's and address cache's
 *      bucket mutexes, sg->stat_mu, sg->q_mu, sg->ord_mu; nothing is
 *      taken under them
 */
#ifndef MM_FS_SG_INT_H
#define MM_FS_SG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "common/list.h"
#include "fs/alloc.h"
#include "fs/dir.h"
#include "fs/fs.h"
#include "fs/log.h"
#include "fs/tree.h"
#include "pagepool/pagepool.h"
#include "tokens/toknet.h"

#define SG_LOG_INO 4u		/* the log table */
#define SG_INO_BUCKETS 16384u
/* Log blocks in memory (2 MiB): the writer thread writes each as it
 * fills while commits go on into the others. */
#define SG_LOG_BUFS 32u
#define SG_AC_BUCKETS 4096u
#define SG_AC_INO_SLOTS 65536u	/* cached-address counts per (fs, ino) hash */
#define SG_TX_MAXBUF 64		/* buffers past which long operations commit and go on */
#define SG_TX_HARDBUF 8192		/* the most one transaction holds (adding disks) */
#define SG_TX_MAXINO 6		/* inodes one transaction changes */
#define SG_TX_MAXFREE 256	/* frees one transaction makes */
#define SG_Q_BUCKETS 1024u
#define SG_Q_SWEEP 4096u		/* busy entries past which frees force the log */

/* An inode this node uses: named by the kernel (lookups), open, or in an
 * operation. <cur> is the record as committed, valid while this node
 * holds the inode token continuously (a revoke clears <valid>). */
struct sg_ino {
	uint64_t ino;
	struct sg_ino *hnext;
	pthread_mutex_t mu;		/* the fields below */
	unsigned refs;			/* operations using it + (nlookup || nopen) */
	uint64_t nlookup;		/* kernel lookups not forgotten */
	unsigned nopen;
	bool valid;
	/* the cached record while <valid> (4 KiB, malloc'd): freed when the
	 * record is dropped, so an inode the kernel still names but whose
	 * token was trimmed (maxFilesToCache) costs ~100 bytes, not 4 KiB */
	struct fs_inode *cur;
	/* bumped whenever <cur> is replaced or dropped: a directory's
	 * entries change only with it (vnode.c, "Negative lookups") */
	uint64_t ver;
	struct sg_neg *neg;		/* a directory's negative lookups, or NULL */
	bool freeing;			/* nlink 0, last reference going */
	bool linkable;			/* made by fs_tmpfile, not yet linked */
	/* data written since the last flush of this inode: a close or fsync
	 * of an inode never written skips the pagepool's scan */
	atomic_bool wrote;
	/* <cur>'s xattr overflow holds no security.capability (sg_kill_caps
	 * looked): a write need not load it again. Cleared by an xattr change
	 * and when <cur> is read again. */
	bool nocaps;
};

/* A cached block address: the pagepool's map, asked without blocking by
 * write-behind (sg.c, "Why an address cache"). */
struct sg_ac {
	struct sg_ac *next;
	uint32_t fs;
	uint64_t ino, blk;
	struct pp_map m;
};

struct sg_bucket {
	pthread_mutex_t mu;
	void *head;
};

/* Ordered data (sgorder.c): blocks [lo, hi) of file <ino> that a
 * transaction exposes (a new block or a grown size) go to disk before
 * any log write that holds its commit. */
#define SG_ORD_PENDING UINT64_MAX
struct sg_ord {
	struct sg_ord *next;
	_Atomic uint64_t lsn;		/* the commit's end; SG_ORD_PENDING before */
	uint64_t ino, lo, hi;
	struct pp_map m[];		/* per block: its addresses at the write */
};

/* Subblocks of one full block freed by transactions not yet durable:
 * allocation skips them (sgfree.c). */
struct sg_quar {
	struct sg_quar *next;
	uint32_t d;
	uint32_t mask;			/* bit k: subblock sub + k */
	uint64_t sub;			/* the full block's first subblock */
	uint32_t pins;			/* commits that freed here and are not done */
	uint64_t lsn;			/* the newest of those done: reusable once durable */
};

/* FS_MB buffers kept for transactions' before-images (2 MiB) */
#define SG_MBFREE_KEEP 32

struct fs_sg {
	char device[FS_DEVICE_MAX + 1];
	uint32_t fsid, mfsid;		/* data and metadata pagepool registrations */
	struct fs_sgd sgd;
	uint32_t ndisks;
	struct fs_disk_io dio;
	pp_pool *pool;
	struct toknet *tok;
	uint32_t node;
	bool ro;
	enum fs_atime atime;
	bool nodiratime;
	int tok_timeout;
	uint32_t B, S, mbper;		/* block, subblock, metadata blocks per block */
	unsigned maxrep;		/* pointer width of every file */
	struct fs_alloc *alloc;

	/* the inode file's inode (inode 0), for the map callback */
	pthread_mutex_t ifile_mu;
	struct fs_inode ifile;

	/* inodes in memory */
	struct sg_bucket itab[SG_INO_BUCKETS];
	/* block addresses */
	struct sg_bucket actab[SG_AC_BUCKETS];
	/* entries per (fs, ino) hash slot: dropping a whole file with none
	 * skips the walk over every bucket (revokes of inodes with nothing
	 * cached are the common case) */
	_Atomic uint32_t ac_ino[SG_AC_INO_SLOTS];
	/* per slot: above every block number ever cached for the inodes
	 * that share it (it only grows): a drop of "all blocks" of a small
	 * file visits a few buckets, not all of them */
	_Atomic uint64_t ac_ino_end[SG_AC_INO_SLOTS];

	/* allocation: this node's regions (tokens held xw for the mount) */
	pthread_mutex_t alloc_mu, ialloc_mu;
	uint32_t breg, ireg;		/* current regions */
	bool breg_held, ireg_held;
	struct tok_holder breg_h, ireg_h;
	uint64_t ihint;

	/* freed space not yet reusable (sgfree.c): q_mu is a leaf */
	pthread_mutex_t q_mu;
	struct sg_quar *qtab[SG_Q_BUCKETS];
	atomic_uint q_n;			/* entries */
	uint64_t q_durable;		/* the log's durable LSN, as allocation last saw it */
	uint64_t q_maxlsn;		/* the newest commit that freed */

	/* the log */
	fs_log *log;
	uint64_t log_ino;
	uint32_t log_nblocks;
	struct fs_ptr *log_map;		/* per log block: its addresses */

	/* A metadata block's write failed (its buffer is clean again, so
	 * the log past the tail is that change's only copy): the error, and
	 * from then on no transaction begins and no checkpoint moves the
	 * tail, so the next mount replays it. GPFS's panic of a file system
	 * on one node. */
	atomic_int meta_err;

	/* A data block's write failed: no later log write may make a
	 * commit durable that points at data that may not be there. */
	atomic_int data_err;

	/* ordered data not yet written, in registration order (ord_mu is a
	 * leaf); ord_done: those the log write in progress writes */
	pthread_mutex_t ord_mu;
	struct sg_ord *ord_head, **ord_tailp, *ord_done;

	atomic_bool replaying;		/* addresses change under replay: none cached (read by write-behind) */
	pthread_mutex_t rename_mu;
	/* FS_MB buffers transactions are done with (a leaf lock): malloc
	 * gave each back to the kernel and faulted it in again, ~5 us a
	 * create */
	pthread_mutex_t mbfree_mu;
	void *mbfree[SG_MBFREE_KEEP];
	int nmbfree;
	struct fs_inval_ops inval;
	bool inval_set;

	/* statistics */
	atomic_uint_fast64_t st_tx, st_balloc, st_bfree, st_lookups, st_creates, st_removes,
		st_reads, st_writes, st_rbytes, st_wbytes;
	/* write-behind maps that found no cached address (sg.c, wb_miss) */
	_Atomic uint64_t st_wb_miss;
};

struct fs_file {
	struct sg_ino *ip;
	int flags;			/* open(2) flags */
	pthread_mutex_t smu;		/* the stream: one reader at a time uses it */
	pp_stream *stream;		/* read-ahead of this open (made at its first read) */
	bool dir;
	atomic_bool privs_dropped;	/* fs_write took setuid/setgid off (fs_file_privs_dropped) */
};

/* ---- a transaction (sgtx.c) ---- */

struct sg_txbuf {
	pp_buf *b;
	uint64_t ino, blk;
	uint8_t *data;
	uint8_t *orig;			/* its bytes at the first write get (write only) */
	unsigned refs;			/* gets not yet put */
	bool write;			/* held exclusively */
	bool dirty, fresh, punched;
	/* an inode-file block that only commit writes (encoding records):
	 * <orig> holds only the records in <saved>, copied as each is
	 * encoded, not the whole block at the get */
	bool lazy;
	uint16_t saved;
	/* a block whose user names each change first (fs_bstore.changing;
	 * dir.c): <orig> holds only the SG_TX_CHUNK-byte chunks in
	 * <csaved>, copied as each is named; the rest is unchanged */
	bool ranged;
	uint64_t csaved;
#ifdef MM_DEBUG
	uint8_t *shadow;		/* ranged: all its bytes at the get, to catch a
					 * change its user did not name (sg_tx_diff) */
#endif
	uint32_t lo, hi;		/* changed span, from the diff */
};
#define SG_TX_CHUNK (FS_MB / 64)

struct sg_txino {
	struct sg_ino *ip;
	struct fs_inode *in;		/* the caller's copy, encoded at commit */
};

struct sg_free {
	fs_da da;
	uint32_t nsub;
	bool meta;
	bool moved;			/* a fragment that moved: the block's buffer stays */
	bool pinned;			/* freed in the map, busy until its commit is durable */
	bool metafile;			/* a block of a metadata file (a directory): its
					 * buffers are the metadata registration's */
	uint64_t ino, blk;		/* its pagepool tag, dropped before the free */
	uint32_t nblk;			/* tags from <blk> dropped (0: one) */
};

struct sg_tx {
	fs_sg *sg;
	fs_log_tx *ltx;
	bool alloc_locked, ialloc_locked;
	int nbuf, nino, nfree;
	struct sg_txbuf *buf;		/* cap of them, grown on demand */
	int cap;
	struct sg_txino ino[SG_TX_MAXINO];
	struct sg_free fr[SG_TX_MAXFREE];
	int nfresh;			/* indirect blocks allocated by this transaction */
	uint64_t fresh_ino[16], fresh_tag[16];
	/* metadata blocks [lo, lo + n) of file <ino> that tx_grow made (their
	 * buffers dirty zeros, addresses cached): an abort drops them all */
	struct sg_grown {
		uint64_t ino, lo, n;
	} *grown;
	int ngrown, capgrown;
	int nown;			/* inodes the transaction took itself (growing a map) */
	struct tok_holder own_h[SG_TX_MAXINO];
	struct fs_inode own_in[SG_TX_MAXINO];
	struct sg_ino *own_ip[SG_TX_MAXINO];
	struct fs_bstore bs;		/* over the metadata registration, for dir.c and tree.c */
	struct fs_bstore dbs;		/* the same, blocks not copied at the get: dir.c's
					 * (it names every change, fs_bstore.changing) */
	struct fs_tree tree;		/* tree.c callbacks of this transaction */
	uint64_t tree_ino;		/* whose tree <tree> changes: its blocks' kind */
	int nsd;			/* indirect blocks' subblocks, counted into their inodes at commit */
	struct {
		uint64_t ino;
		int64_t delta;
	} sd[SG_TX_MAXINO];
	bool metafile;			/* the tree changed is a metadata file's (sg_truncate) */
	uint64_t frag_size;		/* freeing data blocks: the file's size (its last
					 * block a fragment); UINT64_MAX: all full */
	/* the directory dir.c is changing: when it leaves the inode for
	 * block 0, the store sees the inode as dir.c's view says */
	const struct fs_dir *dview;
	struct fs_inode *dview_in;
	struct sg_ord *ord;		/* the data it exposes, until commit */
	/* the address cache before each change it made (sg_tx_ac_put) */
	struct sg_acundo {
		uint32_t fs;
		bool had;
		bool discard;		/* not an address: a new block's buffer to drop */
		uint64_t ino, blk;
		struct pp_map m;
	} *acu;
	int nacu, capacu;
	bool acu_lost;			/* a change not recorded: abort drops them all */
	char msg[256];
};

/* The transaction this thread runs (map callbacks on it read its blocks). */
extern __thread struct sg_tx *sg_cur_tx;

/* sgtx.c */
int sg_tx_begin(fs_sg *sg, uint64_t reserve, struct sg_tx **out);
/* Take part in <tx>: <in> (caller storage) is encoded into inode <ip> at commit. */
int sg_tx_inode(struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in);
int sg_tx_commit(struct sg_tx *tx);
/* sg_tx_inode then sg_tx_commit, or sg_tx_abort if the first fails. */
int sg_tx_commit_inode(struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in);
void sg_tx_abort(struct sg_tx *tx);
/* Allocation in this node's regions for <tx>: alloc_mu, held to commit. */
int sg_tx_lock_alloc(struct sg_tx *tx);
/* A tree.c view of inode <in>'s tree inside <tx>. */
struct fs_tree *sg_tx_tree(struct sg_tx *tx, uint64_t ino);
/* A new data block for block <n> of file <in> (data_rep replicas): a full
 * block, or <nsub> subblocks (a fragment: the file's last block). */
int sg_tx_alloc_data(struct sg_tx *tx, const struct fs_inode *in, uint64_t n, struct fs_ptr *p);
int sg_tx_alloc_data_n(struct sg_tx *tx, const struct fs_inode *in, uint64_t n, uint32_t nsub,
		       struct fs_ptr *p);
/* A full block of metadata for block <n> of metadata file <ino> (a log):
 * on metadata disks, <nrep> replicas in distinct failure groups. */
int sg_tx_alloc_meta_block(struct sg_tx *tx, uint64_t ino, uint64_t n, unsigned nrep,
			   struct fs_ptr *p);
/* Subblocks block <n> of a data file of <size> bytes takes: 0 past the
 * end, a full block before the last, ceil(rest / S) for a last block the
 * file ends inside (fs/README.md, "Disk addresses": a fragment). */
uint32_t sg_nsub(const fs_sg *sg, uint64_t n, uint64_t size);
bool sg_blocks_past_end(fs_sg *sg, const struct fs_inode *in);
/* <nrep> replicas of a run of <nsub> metadata subblocks for file <ino>
 * (no more than a block), allocated in <tx> in this node's region. */
int sg_tx_alloc_space(struct sg_tx *tx, uint64_t ino, unsigned nrep, uint32_t nsub,
		      struct fs_ptr *p);
/* xattr.c: free <in>'s xattr overflow (if any) with <tx>; <in> loses it. */
int sg_xattr_drop(struct sg_tx *tx, struct fs_inode *in);
/* xattr.c: drop security.capability from <in> (a write or truncate of
 * it), in <tx>; 0 or -errno. */
int sg_kill_caps(fs_sg *sg, struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in);
/* Free <p> (data block of nsub subblocks per replica) after commit. */
int sg_tx_free(struct sg_tx *tx, const struct fs_ptr *p, uint32_t nsub, bool meta, uint64_t ino,
	       uint64_t blk);
/* A new inode number. */
int sg_tx_alloc_inode(struct sg_tx *tx, uint64_t *ino);
int sg_tx_free_inode(struct sg_tx *tx, uint64_t ino);
/* Log bytes of a metadata block the transaction holds. */
int sg_tx_log(struct sg_tx *tx, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len);
/* Fill a struct fs_dir of directory <in> for <tx> (NULL: read-only). */
void sg_dir_view(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, struct fs_dir *d);
/* Read-only block store over the pagepool (no transaction). */
void sg_ro_bstore(fs_sg *sg, struct fs_bstore *bs);
/* The allocation maps' store: sg_ro_bstore, but a block got for writing
 * in this thread's transaction is not copied whole; alloc.c names each
 * change (fs_bstore.changing). */
void sg_alloc_bstore(fs_sg *sg, struct fs_bstore *bs);
void sg_ro_tree(fs_sg *sg, struct fs_tree *t);

/* The transaction's block store (struct fs_bstore callbacks, <arg> the
 * transaction) and its buffer of (ino, blk), for sgro.c's store, which
 * sends a thread's own transaction's blocks there. */
struct sg_txbuf *sg_tx_find(struct sg_tx *tx, uint64_t ino, uint64_t blk);
/* sgdiff.c: log what <tb> changed (when the transaction logs) and set
 * [*lo, *hi) to the span that differs. */
int sg_tx_diff(struct sg_tx *tx, struct sg_txbuf *tb, uint32_t *lo, uint32_t *hi);
int sg_tx_bs_get(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data);
/* tx->dbs's get and changing: blocks got for writing are not copied;
 * their user names each change first. */
int sg_tx_bs_get_ranged(void *arg, uint64_t ino, uint64_t blk, bool write, uint8_t **data);
void sg_tx_bs_changing(void *arg, uint64_t ino, uint64_t blk, uint32_t off, uint32_t len);
void sg_tx_bs_put(void *arg, uint64_t ino, uint64_t blk, uint8_t *data, bool dirty);
int sg_tx_bs_punch(void *arg, uint64_t ino, uint64_t blk);
/* sgro.c: fs_bstore.checked of both stores (the buffer holding <data>
 * is this thread's: in its transaction or among its read-only holds). */
bool sg_bs_checked(void *arg, const uint8_t *data, bool set);

/* sgfree.c: frees in the transaction, reuse after durability */
/* At commit: free tx's runs in the block map, each pinned busy. */
int sg_tx_apply_frees(struct sg_tx *tx);
/* After the commit at <lsn> (committed) or its abort: drop the freed
 * blocks' buffers (committed only), then let the space be reused once
 * <lsn> is durable. */
void sg_frees_done(fs_sg *sg, const struct sg_free *fr, int n, uint64_t lsn, bool committed);
uint32_t sg_q_busy(void *arg, uint32_t d, uint64_t sub);	/* fs_bmap_busy_fn */
/* Allocation is starting (alloc_mu held): learn how far the log is durable. */
void sg_q_refresh(fs_sg *sg);
/* No space: make every free committed so far durable. False if nothing
 * is waiting (or the log failed). */
bool sg_q_force(fs_sg *sg);
void sg_q_clear(fs_sg *sg);

/* vnode.c: "." or ".." */
bool sg_is_dot(const char *name);

/* sgtx.c: full blocks of chunk <ch> that data leaves to metadata */
uint64_t sg_data_keep(fs_sg *sg, const struct fs_chunk *ch);

/* sg.c */
int sg_map_meta(fs_sg *sg, uint64_t ino, uint64_t blk, struct pp_map *m);
/* The pagepool's map of a data block (<arg> the fs_sg). */
int sg_map_data(void *arg, const struct pp_tag *t, struct pp_map *m);
/* The address cache: a hit fills *m. */
bool sg_ac_get(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, struct pp_map *m);
void sg_ac_put(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t blk, const struct pp_map *m);
void sg_ac_drop(fs_sg *sg, uint32_t fs, uint64_t ino, uint64_t lo, uint64_t hi);
/* A transaction's address-cache changes, undone in reverse at its abort
 * (sg_tx_ac_undo); a transaction changes the cache through these only. */
void sg_tx_ac_put(struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk,
		  const struct pp_map *m);
void sg_tx_ac_drop(struct sg_tx *tx, uint32_t fs, uint64_t ino, uint64_t blk);
void sg_tx_ac_undo(struct sg_tx *tx);
/* Data block <blk> of <ino> was a hole before <tx> gave it a run: an abort
 * drops its buffer (dirtied since, with no address once the run goes). */
void sg_tx_fresh_data(struct sg_tx *tx, uint64_t ino, uint64_t blk);
void sg_ptr_to_map(fs_sg *sg, const struct fs_ptr *p, uint32_t off, uint32_t len,
		   struct pp_map *m);
int sg_region_alloc(fs_sg *sg, bool inode);
void sg_logf(fs_sg *sg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sg_set_ifile(fs_sg *sg, const struct fs_inode *in);
/* Read the inode file's own record (inode 0) into sg->ifile. */
int sg_load_ifile(fs_sg *sg, char *err, size_t errsz);
/* Forget every cached block address. */
void sg_ac_clear(fs_sg *sg);

/* sgorder.c: ordered data. sg_ord_add: inside <tx>, blocks [lo, hi) of
 * <ino>, dirty in the pool, go to disk before the log write that holds
 * the commit (MM_OK), or the caller must write them before committing
 * (an error: no log, no memory). sg_ord_committed / sg_ord_drop: after
 * the commit / at an abort. sg_ord_write: the log's params.ordered.
 * sg_ord_map: on the thread running sg_ord_write, an address the cache
 * lost, from the entries. */
int sg_ord_add(struct sg_tx *tx, uint64_t ino, uint64_t lo, uint64_t hi);
void sg_ord_committed(struct sg_tx *tx, uint64_t lsn);
void sg_ord_drop(struct sg_tx *tx);
int sg_ord_write(void *arg, uint64_t lsn);
bool sg_ord_map(fs_sg *sg, const struct pp_tag *t, struct pp_map *m);
void sg_ord_settle(fs_sg *sg, uint64_t ino, uint64_t blk);
/* The pagepool's write_failed for data: the file system fails on this
 * node (sg->data_err and sg->meta_err). */
void sg_data_write_failed(void *arg, const struct pp_tag *t, int rc);
void sg_ord_init(fs_sg *sg);
void sg_ord_fini(fs_sg *sg);

/* sgreplay.c: replay this node's log (a crash left it dirty), write what
 * it changed, and forget every address and block cached before it. */
int sg_replay(fs_sg *sg, const struct fs_log_io *io, char *err, size_t errsz);

/* inode.c */
int sg_iget(fs_sg *sg, uint64_t ino, struct sg_ino **out);
void sg_iput(fs_sg *sg, struct sg_ino *ip);
/* Take the inode token of <ip> in <mode> into <h>. */
int sg_itok(fs_sg *sg, struct sg_ino *ip, enum tok_mode mode, struct tok_holder *h);
void sg_itok_release(fs_sg *sg, struct tok_holder *h);
/* Under its token: a copy of the record (read from disk if not valid).
 * -ENOENT-ish MM_ENOENT for a free record. */
int sg_iread(fs_sg *sg, struct sg_ino *ip, struct fs_inode *out);
/* sg_iread, and ip->ver as of the record read (may be NULL). */
int sg_iread_ver(fs_sg *sg, struct sg_ino *ip, struct fs_inode *out, uint64_t *ver);
/* After a commit that changed it: the new record. */
void sg_iset(struct sg_ino *ip, const struct fs_inode *in);
/* Drop <ip>'s cached record (under ip->mu): read again at the next use. */
void sg_iforget_locked(struct sg_ino *ip);
int sg_revoke_inode(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want);
int sg_revoke_br(void *arg, const struct tok_key *k, struct tok_range r, enum tok_mode want);
void sg_fill_attr(fs_sg *sg, const struct fs_inode *in, struct fs_attr *a);
/* An FS_MB buffer (uninitialized), NULL when out of memory; and back. */
void *sg_mb_get(fs_sg *sg);
void sg_mb_put(fs_sg *sg, void *p);
void sg_now(struct fs_time *t);
int sg_perm(const struct fs_cred *c, const struct fs_inode *in, int mask);
bool sg_in_group(const struct fs_cred *c, uint32_t gid);
/* What a write, truncate, fallocate or chown by <c> (NULL: one with
 * CAP_FSETID) does to a file's mode, as Linux's setattr_should_drop_sgid:
 * setuid goes; setgid goes from a group-executable file, and from any
 * file when <c> is neither in its group nor has CAP_FSETID (without group
 * execute it otherwise marks mandatory locking, which stays). */
static inline void sg_drop_suid(const struct fs_cred *c, struct fs_inode *in)
{
	bool sgid = (in->mode & S_IXGRP) ||
		    ((in->mode & S_ISGID) && c && !fs_cred_fsetid(c) && !sg_in_group(c, in->gid));

	in->mode &= ~(uint32_t)(S_ISUID | (sgid ? S_ISGID : 0));
}
int sg_lookup_ino(fs_sg *sg, uint64_t ino, struct fs_attr *out);
/* Free the inode <ip> names (nlink 0, last reference gone). */
int sg_ifree(fs_sg *sg, struct sg_ino *ip);
/* vnode.c: after the replay at mount, free the orphans the log names
 * (fs/README.md, "Orphans"). */
int sg_orphans_recover(fs_sg *sg);

/* An inode taken for an operation: reference, token, record (inode.c). */
struct sg_vn {
	struct sg_ino *ip;
	struct tok_holder h;
	bool held;
	struct fs_inode in;
	uint64_t ver;			/* ip->ver when <in> was read */
};
/* 0, or a negative errno (-ESTALE for a record that is free). */
int sg_vn_get(fs_sg *sg, uint64_t ino, enum tok_mode mode, struct sg_vn *v);
void sg_vn_put(fs_sg *sg, struct sg_vn *v);
uint8_t sg_dtype(uint32_t mode);		/* DT_* of a mode */
void sg_touch(struct fs_inode *in, bool m, bool c);	/* mtime and/or ctime to now */
/* A sticky directory keeps others' entries: not <dir>'s owner, not
 * <victim>'s, not root. */
bool sg_sticky_denies(const struct fs_cred *c, const struct fs_inode *dir,
		      const struct fs_inode *victim);

/* vnode.c: directory entries through dir.c, with the view written back
 * (negative errno) */
int sg_dir_find(fs_sg *sg, struct fs_inode *dir, const char *name, struct fs_dirent *e);
/* <absent>: the caller knows <name> is not there (fs_dir_insert_new) */
int sg_dir_add(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name, uint64_t ino,
	       uint32_t gen, uint8_t type, bool absent);
int sg_dir_del(fs_sg *sg, struct sg_tx *tx, struct fs_inode *dir, const char *name);
/* 1 empty, 0 not, or a negative errno */
int sg_dir_empty(fs_sg *sg, struct fs_inode *in);

/* data.c */
/* The mount's atime rule (relatime, strict, noatime, nodiratime) says
 * <in>'s atime moves on a read; sg_atime_update moves it (its own
 * transaction, the inode's token taken xw; call with no token held). */
bool sg_atime_due(const fs_sg *sg, const struct fs_inode *in);
void sg_atime_update(fs_sg *sg, struct sg_ino *ip);
/* fs_read without the atime update; *due: relatime says atime moves. */
ssize_t sg_read(fs_sg *sg, fs_file *f, void *buf, size_t len, uint64_t off, bool *due);
int sg_truncate(fs_sg *sg, struct sg_ino *ip, struct fs_inode *in, uint64_t size);
/* Inode <in> (data in the inode, in->size bytes at <src>) gets them in
 * block 0 instead, inside <tx>; *flush0: block 0 must be written before
 * the commit (the data rule). */
int sg_data_from_bytes(fs_sg *sg, struct sg_tx *tx, struct fs_inode *in, const void *src,
		       bool *flush0);

#endif
