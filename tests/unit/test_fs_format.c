/*
 * tests/unit/test_fs_format.c - fs/format.c against the byte-level
 * contract of fs/format.h.
 *
 *   1. stripe group descriptor: seeded random round trips, every refusal
 *      (one field broken at a time, each refused with a reason), slot
 *      lengths, the version-independent first 16 bytes
 *   2. choosing the descriptor: 1, 3 and 5 disks, torn and unfinished
 *      writes, unreadable disks, no majority, another version, next slots
 *   3. inode records: random round trips (struct and bytes), every refusal
 *   4. CRCs: every single-bit flip of a sealed inode, a sample of a sealed
 *      metadata block and of a descriptor, is caught
 *   5. pointers and the tree's arithmetic: exact sizes, saturation
 *   6. the name hash, pinned
 * No threads, no disks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/crc32c.h"
#include "common/err.h"
#include "common/wire.h"
#include "fs/format.h"
#include "tests/unit/cunit_main.h"
#include "tests/unit/testkit.h"

static char err[512];

/* The documented CRC: bytes [0, len) with bytes 12..16 taken as zero. */
static uint32_t crc_doc(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len);
	uint32_t r;

	memcpy(c, p, len);
	memset(c + 12, 0, 4);
	r = mm_crc32c(0, c, len);
	free(c);
	return r;
}

/* Recompute a descriptor slot's CRC after a test changed its bytes. */
static void slot_reseal(uint8_t *slot)
{
	mm_be32_put(slot + 12, crc_doc(slot, mm_be32_get(slot + 8)));
}

/* ---- 1. the stripe group descriptor ---- */

static uint32_t first_full(const struct fs_sgd *s)
{
	uint32_t per = s->block_size / s->subblock_size;

	return (FS_RESERVED_BYTES / s->subblock_size + per - 1) / per * per;
}

static bool holds_meta(uint8_t u)
{
	return u == FS_USAGE_DATA_AND_META || u == FS_USAGE_META_ONLY;
}

/* A valid descriptor with random fields (1 .. <maxdisks> disks). */
static void sgd_random(struct fs_sgd *s, uint64_t *seed, uint32_t maxdisks)
{
	static const char *const am[] = {"yes", "no", "automount"};
	static const uint32_t odd[] = {1, 3, 5};
	uint32_t per, first, want, ndesc = 0, nrep;
	int32_t used_fg[5];

	memset(s, 0, sizeof(*s));
	s->version = FS_FORMAT_VERSION;
	s->fsid = 1 + rnd(seed) % FS_FSID_MAX;
	s->generation = 1 + rnd(seed) % 1000000;
	s->created = rnd(seed);
	snprintf(s->device, sizeof(s->device), "fs%u", (unsigned)(rnd(seed) % 1000));
	s->block_size = FS_MIN_BLOCK << (rnd(seed) % 9);
	s->subblock_size = fs_subblock(s->block_size);
	s->mb_size = FS_MB;
	s->inode_size = FS_INODE_BYTES;
	s->meta_rep_max = (uint8_t)(1 + rnd(seed) % 3);
	s->meta_rep = (uint8_t)(1 + rnd(seed) % s->meta_rep_max);
	s->data_rep_max = (uint8_t)(1 + rnd(seed) % 3);
	s->data_rep = (uint8_t)(1 + rnd(seed) % s->data_rep_max);
	s->nregions = (uint32_t)(1 + rnd(seed) % 4096);
	s->inode_limit = 17 + rnd(seed) % (1ull << 40);
	s->flags = (uint32_t)(rnd(seed) & (FS_SGD_EXACT_MTIME | FS_SGD_SCATTER));
	s->log_bytes = FS_MB * (uint32_t)(4 + rnd(seed) % 1000);
	if (rnd(seed) & 1)
		snprintf(s->mount_point, sizeof(s->mount_point), "/gpfs/%s", s->device);
	snprintf(s->automount, sizeof(s->automount), "%s", am[rnd(seed) % 3]);
	s->ndisks = (uint32_t)(1 + rnd(seed) % maxdisks);
	per = s->block_size / s->subblock_size;
	first = first_full(s);
	for (uint32_t i = 0; i < s->ndisks; i++) {
		struct fs_sgd_disk *d = &s->disk[i];

		d->nsd_id = rnd(seed) << 12 | (i + 1);
		snprintf(d->name, sizeof(d->name), "nsd%u", i);
		d->failure_group = (int32_t)(i % 7) - 1;
		d->usage = i == 0 ? FS_USAGE_DATA_AND_META : (uint8_t)(rnd(seed) % 4);
		d->status = (uint8_t)(rnd(seed) % 4);
		d->avail = (uint8_t)(rnd(seed) % 3);
		snprintf(d->pool, sizeof(d->pool), "%s",
			 d->usage == FS_USAGE_DATA_ONLY && rnd(seed) % 2 ? "data" : "system");
		if (d->usage == FS_USAGE_DESC_ONLY)
			d->subblocks = FS_RESERVED_BYTES / s->subblock_size + 1 + rnd(seed) % 1000;
		else
			d->subblocks = first + per * (1 + rnd(seed) % 1000000) + rnd(seed) % per;
	}
	if (s->ndisks > 1 && s->disk[1].usage == FS_USAGE_META_ONLY)
		s->disk[1].usage = FS_USAGE_DATA_AND_META;
	/* descriptor disks: 1, 3 or 5 in distinct failure groups */
	want = odd[rnd(seed) % 3];
	for (uint32_t i = 0; i < s->ndisks && ndesc < want; i++) {
		bool apart = true;

		for (uint32_t j = 0; j < ndesc; j++)
			if (used_fg[j] != -1 && used_fg[j] == s->disk[i].failure_group)
				apart = false;
		if (apart) {
			s->disk[i].has_desc = true;
			used_fg[ndesc++] = s->disk[i].failure_group;
		}
	}
	if (ndesc % 2 == 0) /* 2 or 4 found: give one back */
		for (uint32_t i = s->ndisks; i-- > 0;)
			if (s->disk[i].has_desc) {
				s->disk[i].has_desc = false;
				break;
			}
	/* inode file block 0: replicas on metadata disks of distinct groups */
	nrep = (uint32_t)(1 + rnd(seed) % s->meta_rep_max);
	for (uint32_t r = 0, i = 0; r < nrep && i < s->ndisks; i++) {
		const struct fs_sgd_disk *d = &s->disk[i];
		bool apart = holds_meta(d->usage);
		uint64_t blocks = (d->subblocks - first) / per;

		for (uint32_t q = 0; q < r; q++) {
			const struct fs_sgd_disk *o = &s->disk[fs_da_disk(s->ifile0.da[q])];

			if (o->failure_group != -1 && o->failure_group == d->failure_group)
				apart = false;
		}
		if (apart)
			s->ifile0.da[r++] = fs_da_make(i, first + per * (rnd(seed) % blocks));
	}
}

/* The fixed descriptor the refusal cases break: six disks in four
 * failure groups, three descriptor disks, two replicas of ifile0. */
static void sgd_base(struct fs_sgd *s)
{
	static const struct {
		int32_t fg;
		uint8_t usage;
		bool desc;
		const char *pool;
	} t[] = {
		{1, FS_USAGE_DATA_AND_META, true, "system"},
		{2, FS_USAGE_DATA_AND_META, true, "system"},
		{3, FS_USAGE_META_ONLY, true, "system"},
		{1, FS_USAGE_DATA_ONLY, false, "data"},
		{2, FS_USAGE_DATA_ONLY, false, "data"},
		{4, FS_USAGE_DESC_ONLY, false, "system"},
	};

	memset(s, 0, sizeof(*s));
	s->version = FS_FORMAT_VERSION;
	s->fsid = 0x1234567;
	s->generation = 7;
	s->created = 1796000000;
	strcpy(s->device, "fs1");
	s->block_size = 1u << 20;
	s->subblock_size = fs_subblock(s->block_size);
	s->mb_size = FS_MB;
	s->inode_size = FS_INODE_BYTES;
	s->meta_rep = 2;
	s->meta_rep_max = 3;
	s->data_rep = 1;
	s->data_rep_max = 2;
	s->nregions = 32;
	s->inode_limit = 1u << 20;
	s->flags = FS_SGD_SCATTER;
	s->log_bytes = 16u << 20;
	strcpy(s->mount_point, "/gpfs/fs1");
	strcpy(s->automount, "yes");
	s->ndisks = 6;
	for (uint32_t i = 0; i < 6; i++) {
		struct fs_sgd_disk *d = &s->disk[i];

		d->nsd_id = 0xa000 + i;
		snprintf(d->name, sizeof(d->name), "nsd%u", i + 1);
		d->failure_group = t[i].fg;
		d->usage = t[i].usage;
		d->has_desc = t[i].desc;
		strcpy(d->pool, t[i].pool);
		d->subblocks = 1u << 20;	/* 32 GiB of 32 KiB subblocks */
	}
	s->disk[5].subblocks = 64;
	s->ifile0.da[0] = fs_da_make(0, first_full(s));
	s->ifile0.da[1] = fs_da_make(1, first_full(s) + 32);
}

static uint8_t *slot_new(void)
{
	uint8_t *p = malloc(FS_SGD_SLOT_BYTES);

	CU_ASSERT_FATAL(p != NULL);
	return p;
}

static struct fs_sgd *sgd_new(void)
{
	struct fs_sgd *s = calloc(1, sizeof(*s));

	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static void test_sgd_roundtrip(void)
{
	struct fs_sgd *a = sgd_new(), *b = sgd_new();
	uint8_t *slot = slot_new();
	uint64_t seed = 0x5eed0001;

	for (int n = 0; n < 300; n++) {
		uint32_t used;

		sgd_random(a, &seed, n < 290 ? 40 : FS_MAX_DISKS);
		err[0] = '\0';
		CU_ASSERT_EQUAL_FATAL(fs_sgd_check(a, err, sizeof(err)), MM_OK);
		if (err[0])
			fprintf(stderr, "  random descriptor %d refused: %s\n", n, err);
		CU_ASSERT_EQUAL_FATAL(fs_sgd_encode(a, slot), MM_OK);
		used = mm_be32_get(slot + 8);
		CHECK_U64(used, ==, FS_SGD_HDR_BYTES + a->ndisks * FS_SGD_DISK_BYTES);
		CHECK_U64(mm_be32_get(slot), ==, FS_MAGIC_SGD);
		CHECK_U64(mm_be32_get(slot + 4), ==, FS_FORMAT_VERSION);
		CHECK_U64(mm_be32_get(slot + 12), ==, crc_doc(slot, used));
		/* the whole slot, and only its used bytes, decode alike */
		CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, b, err, sizeof(err)), MM_OK);
		CU_ASSERT(memcmp(a, b, sizeof(*a)) == 0);
		memset(b, 0xa5, sizeof(*b));
		CU_ASSERT_EQUAL(fs_sgd_decode(slot, used, b, err, sizeof(err)), MM_OK);
		CU_ASSERT(memcmp(a, b, sizeof(*a)) == 0);
		CU_ASSERT_EQUAL(fs_sgd_decode(slot, used - 1, b, err, sizeof(err)), MM_EPROTO);
	}
	/* the whole table fits */
	sgd_random(a, &seed, 1);
	a->ndisks = FS_MAX_DISKS;
	for (uint32_t i = 1; i < FS_MAX_DISKS; i++) {
		a->disk[i] = a->disk[0];
		a->disk[i].nsd_id = i + 1;
		a->disk[i].has_desc = false;
		snprintf(a->disk[i].name, sizeof(a->disk[i].name), "nsd%u", i);
	}
	a->disk[0].usage = FS_USAGE_DATA_AND_META;
	CU_ASSERT_EQUAL(fs_sgd_encode(a, slot), MM_OK);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, b, err, sizeof(err)), MM_OK);
	CU_ASSERT(memcmp(a, b, sizeof(*a)) == 0);
	free(slot);
	free(a);
	free(b);
}

static void test_sgd_encode_refusals(void)
{
	struct fs_sgd *s = sgd_new();
	uint8_t *slot = slot_new();

	sgd_base(s);
	s->ndisks = FS_MAX_DISKS + 1;
	CU_ASSERT_EQUAL(fs_sgd_encode(s, slot), MM_ETOOBIG);
	sgd_base(s);
	memset(s->device, 'x', sizeof(s->device));
	CU_ASSERT_EQUAL(fs_sgd_encode(s, slot), MM_EINVAL);
	sgd_base(s);
	memset(s->disk[2].pool, 'p', sizeof(s->disk[2].pool));
	CU_ASSERT_EQUAL(fs_sgd_encode(s, slot), MM_EINVAL);
	/* the encoder itself does not judge: a zero generation encodes */
	sgd_base(s);
	s->generation = 0;
	CU_ASSERT_EQUAL(fs_sgd_encode(s, slot), MM_OK);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, s, err, sizeof(err)), MM_EPROTO);
	free(slot);
	free(s);
}

/* One way to break a descriptor, field by field. */
struct sgd_break {
	const char *what;
	void (*fn)(struct fs_sgd *s);
	const char *says;	/* in the reason: refused for the right cause */
};

#define SB(name, body) \
	static void sb_##name(struct fs_sgd *s) { body; }
SB(fsid0, s->fsid = 0)
SB(fsid_meta_bit, s->fsid = FS_META_BIT)
SB(fsid_64, s->fsid = 1ull << 40)
SB(gen0, s->generation = 0)
SB(dev_empty, s->device[0] = 0)
SB(dev_space, strcpy(s->device, "fs 1"))
SB(dev_slash, strcpy(s->device, "fs/1"))
SB(bs_pow2, s->block_size = 3u << 16; s->subblock_size = fs_subblock(s->block_size))
SB(bs_small, s->block_size = 32u << 10; s->subblock_size = fs_subblock(s->block_size))
SB(bs_big, s->block_size = 32u << 20; s->subblock_size = fs_subblock(s->block_size))
SB(sub, s->subblock_size = 8192)
SB(mb, s->mb_size = 128u << 10)
SB(isize, s->inode_size = 512)
SB(mrep0, s->meta_rep = 0)
SB(mrepmax4, s->meta_rep_max = 4; s->meta_rep = 1)
SB(mrepmax0, s->meta_rep_max = 0; s->meta_rep = 0)
SB(mrep_over, s->meta_rep_max = 1; s->meta_rep = 2; s->ifile0.da[1] = 0)
SB(drep0, s->data_rep = 0)
SB(drepmax4, s->data_rep_max = 4)
SB(drep_over, s->data_rep = 3)
SB(nreg0, s->nregions = 0)
SB(ilim_small, s->inode_limit = 16)
SB(ilim_big, s->inode_limit = (1ull << 51) + 1)
SB(flags, s->flags |= 1u << 7)
SB(log_mult, s->log_bytes = (16u << 20) + 4096)
SB(log_small, s->log_bytes = 3 * FS_MB)
SB(mnt_rel, strcpy(s->mount_point, "gpfs/fs1"))
SB(mnt_ctrl, strcpy(s->mount_point, "/gpfs/f\t1"))
SB(mnt_high, strcpy(s->mount_point, "/gpfs/\xc3\xa9"))
SB(automount, strcpy(s->automount, "maybe"))
SB(automount_empty, s->automount[0] = 0)
SB(ndisks0, s->ndisks = 0)
SB(dname_digit, strcpy(s->disk[3].name, "9nsd"))
SB(dname_empty, s->disk[3].name[0] = 0)
SB(dname_dash, strcpy(s->disk[3].name, "nsd-4"))
SB(nsdid0, s->disk[4].nsd_id = 0)
SB(nsdid_dup, s->disk[4].nsd_id = s->disk[1].nsd_id)
SB(dname_dup, strcpy(s->disk[4].name, s->disk[0].name))
SB(fg_low, s->disk[3].failure_group = -2)
SB(fg_high, s->disk[3].failure_group = 65536)
SB(usage, s->disk[3].usage = 4)
SB(status, s->disk[3].status = 4)
SB(avail, s->disk[3].avail = 3)
SB(pool_empty, s->disk[3].pool[0] = 0)
SB(pool_slash, strcpy(s->disk[3].pool, "da/ta"))
SB(pool_meta, strcpy(s->disk[2].pool, "data"))
SB(size_data, s->disk[3].subblocks = first_full(s) + 31)
SB(size_desconly, s->disk[5].subblocks = FS_RESERVED_BYTES / s->subblock_size)
SB(size_48, s->disk[3].subblocks = 1ull << 48)
SB(no_meta, s->disk[0].usage = s->disk[1].usage = s->disk[2].usage = FS_USAGE_DATA_ONLY;
   strcpy(s->disk[0].pool, "data"); s->ifile0.da[0] = fs_da_make(0, 0))
SB(no_data, s->disk[0].usage = s->disk[1].usage = FS_USAGE_META_ONLY;
   s->disk[3].usage = s->disk[4].usage = FS_USAGE_DESC_ONLY)
SB(desc2, s->disk[2].has_desc = false)
SB(desc0, s->disk[0].has_desc = s->disk[1].has_desc = s->disk[2].has_desc = false)
SB(desc_samefg, s->disk[2].has_desc = false; s->disk[3].has_desc = true)
SB(desc6, s->ndisks = 8;
   for (uint32_t i = 6; i < 8; i++) {
	   s->disk[i] = s->disk[5];
	   s->disk[i].nsd_id = 0xb000 + i;
	   snprintf(s->disk[i].name, sizeof(s->disk[i].name), "nsd%u", i + 1);
	   s->disk[i].failure_group = (int32_t)(10 + i);
   }
   s->disk[5].has_desc = s->disk[6].has_desc = s->disk[7].has_desc = true)
SB(if_none, s->ifile0.da[0] = 0)
SB(if_past_max, s->meta_rep_max = 2; s->ifile0.da[2] = fs_da_make(2, first_full(s)))
SB(if_disk, s->ifile0.da[1] = fs_da_make(6, first_full(s)))
SB(if_dataonly, s->ifile0.da[1] = fs_da_make(4, first_full(s)))
SB(if_desconly, s->ifile0.da[1] = fs_da_make(5, 32))
SB(if_align, s->ifile0.da[1] = fs_da_make(1, first_full(s) + 1))
SB(if_reserved, s->ifile0.da[1] = fs_da_make(1, first_full(s) - 32))
SB(if_end, s->ifile0.da[1] = fs_da_make(1, s->disk[1].subblocks))
SB(if_samedisk, s->ifile0.da[1] = fs_da_make(0, first_full(s) + 64))
SB(if_samefg, s->disk[1].failure_group = 1; s->disk[1].has_desc = false;
   s->disk[5].has_desc = true)
#undef SB

static const struct sgd_break sgd_breaks[] = {
	{"fsid 0", sb_fsid0, "file system id"}, {"fsid with the meta bit", sb_fsid_meta_bit, "file system id"},
	{"fsid past 32 bits", sb_fsid_64, "file system id"}, {"generation 0", sb_gen0, "generation 0"},
	{"empty device", sb_dev_empty, "device name"}, {"device with a space", sb_dev_space, "device name"},
	{"device with a slash", sb_dev_slash, "device name"}, {"block size not a power of two", sb_bs_pow2, "block size"},
	{"block size too small", sb_bs_small, "block size"}, {"block size too large", sb_bs_big, "block size"},
	{"subblock size", sb_sub, "subblock size"}, {"mb size", sb_mb, "metadata block size"}, {"inode size", sb_isize, "inode size"},
	{"meta rep 0", sb_mrep0, "metadata replication"}, {"meta rep max 4", sb_mrepmax4, "metadata replication"},
	{"meta rep max 0", sb_mrepmax0, "metadata replication"}, {"meta rep over max", sb_mrep_over, "metadata replication"},
	{"data rep 0", sb_drep0, "data replication"}, {"data rep max 4", sb_drepmax4, "data replication"},
	{"data rep over max", sb_drep_over, "data replication"}, {"no regions", sb_nreg0, "regions"},
	{"inode limit 16", sb_ilim_small, "inode limit"}, {"inode limit past 2^51", sb_ilim_big, "inode limit"},
	{"unknown flag", sb_flags, "flags"}, {"log size not in MBs", sb_log_mult, "log size"},
	{"log too small", sb_log_small, "log size"}, {"relative mount point", sb_mnt_rel, "mount point"},
	{"mount point with a tab", sb_mnt_ctrl, "mount point"}, {"mount point not ASCII", sb_mnt_high, "mount point"},
	{"automount maybe", sb_automount, "automount"}, {"automount empty", sb_automount_empty, "automount"},
	{"no disks", sb_ndisks0, "0 disks"}, {"NSD name starts with a digit", sb_dname_digit, "NSD name"},
	{"empty NSD name", sb_dname_empty, "NSD name"}, {"NSD name with a dash", sb_dname_dash, "NSD name"},
	{"NSD id 0", sb_nsdid0, "NSD id 0"}, {"NSD id twice", sb_nsdid_dup, "one NSD id"}, {"NSD name twice", sb_dname_dup, "twice"},
	{"failure group -2", sb_fg_low, "failure group -2"}, {"failure group 65536", sb_fg_high, "failure group 65536"},
	{"usage 4", sb_usage, "usage 4"}, {"status 4", sb_status, "status 4"}, {"availability 3", sb_avail, "availability 3"},
	{"empty pool", sb_pool_empty, "storage pool"}, {"pool with a slash", sb_pool_slash, "storage pool"},
	{"metadata disk outside system", sb_pool_meta, "not system"}, {"data disk too small", sb_size_data, "size 63"},
	{"descOnly disk too small", sb_size_desconly, "size 32"}, {"disk of 2^48 subblocks", sb_size_48, "size 281474976710656"},
	{"no metadata disk", sb_no_meta, "holds metadata"}, {"no data disk", sb_no_data, "holds data"},
	{"two descriptor disks", sb_desc2, "2 descriptor disks"}, {"no descriptor disk", sb_desc0, "0 descriptor disks"},
	{"descriptor disks share a group", sb_desc_samefg, "two descriptor disks"}, {"six descriptor disks", sb_desc6, "more than 5"},
	{"ifile0 without address", sb_if_none, "no address"}, {"ifile0 replica past -M", sb_if_past_max, "past the maximum"},
	{"ifile0 on disk out of range", sb_if_disk, "on disk 6 of 6"}, {"ifile0 on dataOnly", sb_if_dataonly, "holds no metadata"},
	{"ifile0 on descOnly", sb_if_desconly, "holds no metadata"}, {"ifile0 not a full block", sb_if_align, "not a full block"},
	{"ifile0 in the reserved area", sb_if_reserved, "not a full block"}, {"ifile0 past the end", sb_if_end, "not a full block"},
	{"ifile0 replicas on one disk", sb_if_samedisk, "share a disk"},
	{"ifile0 replicas in one group", sb_if_samefg, "share a disk or failure group"},
};

static void test_sgd_refusals(void)
{
	struct fs_sgd *s = sgd_new(), *out = sgd_new();
	uint8_t *slot = slot_new();

	sgd_base(s);
	CU_ASSERT_EQUAL_FATAL(fs_sgd_check(s, err, sizeof(err)), MM_OK);
	for (size_t i = 0; i < sizeof(sgd_breaks) / sizeof(sgd_breaks[0]); i++) {
		int rc;

		sgd_base(s);
		sgd_breaks[i].fn(s);
		err[0] = '\0';
		rc = fs_sgd_check(s, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(err[0] != '\0');
		if (rc != MM_EPROTO)
			fprintf(stderr, "  check accepted: %s\n", sgd_breaks[i].what);
		CU_ASSERT_EQUAL_FATAL(fs_sgd_encode(s, slot), MM_OK);
		err[0] = '\0';
		rc = fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(err[0] != '\0');
		CU_ASSERT(strstr(err, sgd_breaks[i].says) != NULL);
		if (rc != MM_EPROTO || !strstr(err, sgd_breaks[i].says))
			fprintf(stderr, "  decode: %s: %s\n", sgd_breaks[i].what, err);
		else if (getenv("MMFS_TEST_VERBOSE"))
			fprintf(stderr, "  %s: %s\n", sgd_breaks[i].what, err);
	}
	free(slot);
	free(s);
	free(out);
}

/* Byte-level breaks: what the struct cannot express. */
static void test_sgd_byte_refusals(void)
{
	struct fs_sgd *s = sgd_new(), *out = sgd_new();
	uint8_t *good = slot_new(), *slot = slot_new();
	uint32_t used;
	static const struct {
		const char *what;
		uint32_t off;	/* from the slot's start; ~0u: see below */
		uint8_t val;
	} bytes[] = {
		{"reserved header byte 444", 444, 1},
		{"reserved header byte 511", 511, 0x80},
		{"byte after the device's NUL", 40 + 10, 'x'},
		{"byte after the mount point's NUL", 144 + 255, 'x'},
		{"byte after the automount's NUL", 400 + 15, 'x'},
		{"disk flags bit 1", FS_SGD_HDR_BYTES + 79, 2},
		{"disk reserved byte", FS_SGD_HDR_BYTES + 2 * FS_SGD_DISK_BYTES + 127, 1},
		{"byte after a disk name's NUL", FS_SGD_HDR_BYTES + 8 + 63, 'x'},
		{"byte after a pool's NUL", FS_SGD_HDR_BYTES + 80 + 31, 'x'},
	};
	int rc;

	sgd_base(s);
	CU_ASSERT_EQUAL_FATAL(fs_sgd_encode(s, good), MM_OK);
	used = mm_be32_get(good + 8);
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		memcpy(slot, good, FS_SGD_SLOT_BYTES);
		slot[bytes[i].off] = bytes[i].val;
		slot_reseal(slot);
		err[0] = '\0';
		rc = fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_EPROTO);
		CU_ASSERT(err[0] != '\0');
		if (rc != MM_EPROTO)
			fprintf(stderr, "  decode accepted: %s (rc %d)\n", bytes[i].what, rc);
	}
	/* unterminated device name */
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	memset(slot + 40, 'a', 64);
	slot_reseal(slot);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_EPROTO);
	/* a byte after the used length, inside the slot (not covered by the CRC) */
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	slot[FS_SGD_SLOT_BYTES - 1] = 1;
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, used, out, err, sizeof(err)), MM_OK);
	/* ndisks that does not match the length */
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	mm_be32_put(slot + 440, 5);
	slot_reseal(slot);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_EPROTO);
	/* more disks than FS_MAX_DISKS, consistently */
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	mm_be32_put(slot + 440, FS_MAX_DISKS + 1);
	mm_be32_put(slot + 8, FS_SGD_HDR_BYTES + (FS_MAX_DISKS + 1) * FS_SGD_DISK_BYTES);
	slot_reseal(slot);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_EPROTO);
	/* lengths: shorter than the fixed part, than the header, past the slot */
	for (uint32_t bad = 0; bad < 3; bad++) {
		static const uint32_t lens[] = {15, 400, FS_SGD_SLOT_BYTES + 128};

		memcpy(slot, good, FS_SGD_SLOT_BYTES);
		mm_be32_put(slot + 8, lens[bad]);
		if (lens[bad] <= FS_SGD_SLOT_BYTES && lens[bad] >= 16)
			slot_reseal(slot);
		err[0] = '\0';
		CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)),
				MM_EPROTO);
		CU_ASSERT(err[0] != '\0');
	}
	/* short buffers */
	CU_ASSERT_EQUAL(fs_sgd_decode(good, 3, out, err, sizeof(err)), MM_EPROTO);
	CU_ASSERT_EQUAL(fs_sgd_decode(good, 15, out, err, sizeof(err)), MM_EPROTO);
	/* blank, damaged, another version */
	memset(slot, 0, FS_SGD_SLOT_BYTES);
	err[0] = '\0';
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_ENOENT);
	CU_ASSERT(err[0] != '\0');
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	slot[300] ^= 4;
	err[0] = '\0';
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)),
			MM_ECHECKSUM);
	CU_ASSERT(strstr(err, "checksum") != NULL);
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	mm_be32_put(slot + 4, 3);
	slot_reseal(slot);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)), MM_ENOTSUP);
	CU_ASSERT(strstr(err, "version 3") != NULL);
	CU_ASSERT(strstr(err, "up to 2") != NULL);
	/* another version may lay out everything after byte 16 differently */
	memset(slot + 16, 0xee, 100);
	mm_be32_put(slot + 8, 116);
	slot_reseal(slot);
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, 116, out, err, sizeof(err)), MM_ENOTSUP);
	/* a flipped version bit is damage, not another version */
	memcpy(slot, good, FS_SGD_SLOT_BYTES);
	slot[7] ^= 2;
	CU_ASSERT_EQUAL(fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, out, err, sizeof(err)),
			MM_ECHECKSUM);
	free(good);
	free(slot);
	free(s);
	free(out);
}

/* ---- 2. choosing the descriptor ---- */

struct chooser {
	uint8_t *slot[5][2];
	struct fs_sgd_read rd[5];
	struct fs_sgd *s, *out;
	uint8_t next[5];
};

static void ch_init(struct chooser *c)
{
	memset(c, 0, sizeof(*c));
	c->s = sgd_new();
	c->out = sgd_new();
	sgd_base(c->s);
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 2; j++) {
			c->slot[i][j] = calloc(1, FS_SGD_SLOT_BYTES);
			c->rd[i].slot[j] = c->slot[i][j];
			c->rd[i].len[j] = FS_SGD_SLOT_BYTES;
		}
}

static void ch_free(struct chooser *c)
{
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 2; j++)
			free(c->slot[i][j]);
	free(c->s);
	free(c->out);
}

/* Disk <i> slot <j> holds generation <g> (0: blank; -1: torn). */
static void ch_put(struct chooser *c, int i, int j, int64_t g)
{
	uint8_t *p = c->slot[i][j];

	memset(p, 0, FS_SGD_SLOT_BYTES);
	if (g == 0)
		return;
	c->s->generation = g < 0 ? 99 : (uint64_t)g;
	CU_ASSERT_EQUAL_FATAL(fs_sgd_encode(c->s, p), MM_OK);
	if (g < 0)	/* the write stopped half way */
		memset(p + 1000, 0, FS_SGD_SLOT_BYTES - 1000);
}

static int ch_run(struct chooser *c, size_t n)
{
	memset(c->next, 0xff, sizeof(c->next));
	err[0] = '\0';
	return fs_sgd_choose(c->rd, n, c->out, c->next, err, sizeof(err));
}

static void test_choose_one_disk(void)
{
	struct chooser c;

	ch_init(&c);
	ch_put(&c, 0, 0, 5);
	ch_put(&c, 0, 1, 6);
	CU_ASSERT_EQUAL(ch_run(&c, 1), MM_OK);
	CHECK_U64(c.out->generation, ==, 6);
	CHECK_U64(c.next[0], ==, 0);
	/* newest write torn: the one before stands, and is kept */
	ch_put(&c, 0, 1, -1);
	CU_ASSERT_EQUAL(ch_run(&c, 1), MM_OK);
	CHECK_U64(c.out->generation, ==, 5);
	CHECK_U64(c.next[0], ==, 1);
	/* fresh from mmcrfs: slot 1 empty */
	ch_put(&c, 0, 1, 0);
	CU_ASSERT_EQUAL(ch_run(&c, 1), MM_OK);
	CHECK_U64(c.next[0], ==, 1);
	/* the chosen descriptor is the decoded one */
	c.s->generation = 5;
	CU_ASSERT(memcmp(c.s, c.out, sizeof(*c.s)) == 0);
	/* nothing valid; unreadable */
	ch_put(&c, 0, 0, -1);
	CU_ASSERT_EQUAL(ch_run(&c, 1), MM_ENOENT);
	CU_ASSERT(strstr(err, "quorum") != NULL);
	c.rd[0].slot[0] = c.rd[0].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 1), MM_ENOENT);
	CU_ASSERT(strstr(err, "unreadable") != NULL);
	CU_ASSERT_EQUAL(ch_run(&c, 0), MM_EINVAL);
	CU_ASSERT(err[0] != '\0');
	ch_free(&c);
}

static void test_choose_three_disks(void)
{
	struct chooser c;

	ch_init(&c);
	/* torn newest write on a minority (disk 0 got gen 6, the others not) */
	for (int i = 0; i < 3; i++)
		ch_put(&c, i, 0, 5);
	ch_put(&c, 0, 1, 6);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CHECK_U64(c.out->generation, ==, 5);
	for (int i = 0; i < 3; i++)
		CHECK_U64(c.next[i], ==, 1);
	/* newest on a majority */
	ch_put(&c, 1, 1, 6);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CHECK_U64(c.out->generation, ==, 6);
	CHECK_U64(c.next[0], ==, 0);
	CHECK_U64(c.next[1], ==, 0);
	CHECK_U64(c.next[2], ==, 1);	/* slot 1 blank */
	/* one disk unreadable: two of three still hold 6 */
	c.rd[2].slot[0] = c.rd[2].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CHECK_U64(c.out->generation, ==, 6);
	CHECK_U64(c.next[2], ==, 0);
	/* two unreadable: no majority, and the message says what each held */
	c.rd[1].slot[0] = c.rd[1].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_ENOENT);
	CU_ASSERT(strstr(err, "quorum not met") != NULL);
	CU_ASSERT(strstr(err, "disk 0: slot 0 generation 5, slot 1 generation 6") != NULL);
	CU_ASSERT(strstr(err, "disk 2: slot 0 unreadable, slot 1 unreadable") != NULL);
	/* three generations, one each: no majority */
	c.rd[1].slot[0] = c.slot[1][0];
	c.rd[1].slot[1] = c.slot[1][1];
	c.rd[2].slot[0] = c.slot[2][0];
	c.rd[2].slot[1] = c.slot[2][1];
	ch_put(&c, 0, 0, 4);
	ch_put(&c, 0, 1, 0);
	ch_put(&c, 1, 0, 5);
	ch_put(&c, 1, 1, -1);
	ch_put(&c, 2, 0, 6);
	ch_put(&c, 2, 1, 0);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_ENOENT);
	CU_ASSERT(strstr(err, "slot 1 empty") != NULL);
	CU_ASSERT(strstr(err, "bad checksum") != NULL);
	/* one generation, two contents: the copies a majority agree on win */
	ch_put(&c, 0, 0, 8);
	ch_put(&c, 1, 0, 8);
	strcpy(c.s->mount_point, "/elsewhere");
	ch_put(&c, 2, 0, 8);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CU_ASSERT_STRING_EQUAL(c.out->mount_point, "/gpfs/fs1");
	CHECK_U64(c.next[2], ==, 1);	/* slot 0 holds another 8: slot 1 is blank */
	ch_put(&c, 1, 0, 8);	/* now two of three hold the other content */
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CU_ASSERT_STRING_EQUAL(c.out->mount_point, "/elsewhere");
	ch_free(&c);
}

static void test_choose_five_disks(void)
{
	struct chooser c;

	ch_init(&c);
	for (int i = 0; i < 5; i++)
		ch_put(&c, i, 0, 8);
	ch_put(&c, 0, 1, 9);
	ch_put(&c, 1, 1, 9);
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_OK);	/* 9 on two of five */
	CHECK_U64(c.out->generation, ==, 8);
	ch_put(&c, 2, 1, 9);
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_OK);	/* 9 on three of five */
	CHECK_U64(c.out->generation, ==, 9);
	/* two unreadable, three hold 9 */
	c.rd[3].slot[0] = c.rd[3].slot[1] = NULL;
	c.rd[4].slot[0] = c.rd[4].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_OK);
	CHECK_U64(c.out->generation, ==, 9);
	/* three unreadable */
	c.rd[2].slot[0] = c.rd[2].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_ENOENT);
	/* next slots: a stale disk keeps its newer copy; a half-readable disk */
	for (int i = 0; i < 5; i++) {
		c.rd[i].slot[0] = c.slot[i][0];
		c.rd[i].slot[1] = c.slot[i][1];
	}
	for (int i = 0; i < 3; i++) {
		ch_put(&c, i, 0, 12);
		ch_put(&c, i, 1, 11);
	}
	ch_put(&c, 3, 0, 3);
	ch_put(&c, 3, 1, 4);
	ch_put(&c, 4, 0, 7);
	c.rd[4].slot[1] = NULL;
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_OK);
	CHECK_U64(c.out->generation, ==, 12);
	CHECK_U64(c.next[0], ==, 1);
	CHECK_U64(c.next[3], ==, 0);
	CHECK_U64(c.next[4], ==, 1);
	ch_put(&c, 3, 0, 4);	/* the older copy in slot 1 this time */
	ch_put(&c, 3, 1, 3);
	CU_ASSERT_EQUAL(ch_run(&c, 5), MM_OK);
	CHECK_U64(c.next[3], ==, 1);
	/* a NULL <next> is allowed */
	CU_ASSERT_EQUAL(fs_sgd_choose(c.rd, 5, c.out, NULL, err, sizeof(err)), MM_OK);
	ch_free(&c);
}

static void test_choose_other_version(void)
{
	struct chooser c;

	ch_init(&c);
	for (int i = 0; i < 3; i++) {
		ch_put(&c, i, 0, 5);
		ch_put(&c, i, 1, 6);
		mm_be32_put(c.slot[i][1] + 4, FS_FORMAT_VERSION + 1);
		slot_reseal(c.slot[i][1]);
	}
	/* an upgrade on every disk: the old copy beside it must not be used */
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_ENOTSUP);
	CU_ASSERT(strstr(err, "version 3") != NULL);
	CU_ASSERT(strstr(err, "up to 2") != NULL);
	CU_ASSERT(strstr(err, "3 of 3") != NULL);
	/* on a majority */
	ch_put(&c, 2, 1, 0);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_ENOTSUP);
	/* on a minority: an upgrade that did not finish */
	ch_put(&c, 1, 1, 0);
	CU_ASSERT_EQUAL(ch_run(&c, 3), MM_OK);
	CHECK_U64(c.out->generation, ==, 5);
	CHECK_U64(c.next[0], ==, 1);
	ch_free(&c);
}

/* ---- 3. inode records ---- */

static const uint32_t ftypes[] = {S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK};

/* A valid inode with random fields. */
static void inode_random(struct fs_inode *in, uint64_t *seed)
{
	uint32_t type;
	size_t xl = 0, room;

	memset(in, 0, sizeof(*in));
	in->ino = rnd(seed) % (1ull << 40);
	in->gen = (uint32_t)rnd(seed);
	in->atime = (struct fs_time){(int64_t)rnd(seed), (uint32_t)(rnd(seed) % 1000000000)};
	in->mtime = (struct fs_time){(int64_t)rnd(seed), (uint32_t)(rnd(seed) % 1000000000)};
	in->ctime = (struct fs_time){(int64_t)rnd(seed), (uint32_t)(rnd(seed) % 1000000000)};
	in->crtime = (struct fs_time){(int64_t)rnd(seed), (uint32_t)(rnd(seed) % 1000000000)};
	if (rnd(seed) % 8 == 0) {
		in->flags = FS_IF_FREE;
		return;
	}
	type = ftypes[rnd(seed) % 7];
	in->mode = type | (uint32_t)(rnd(seed) & 07777);
	in->nlink = (uint32_t)rnd(seed);
	in->uid = (uint32_t)rnd(seed);
	in->gid = (uint32_t)rnd(seed);
	in->subblocks = rnd(seed);
	in->data_rep = (uint8_t)(1 + rnd(seed) % 3);
	in->meta_rep = (uint8_t)(1 + rnd(seed) % 3);
	room = rnd(seed) % (FS_XATTR_AREA + 1);
	while (xl + 5 <= room) {
		size_t nl = 1 + rnd(seed) % 20, vl = rnd(seed) % 100;

		if (xl + 4 + nl + vl > room)
			break;
		in->xattr[xl] = (uint8_t)(rnd(seed) & 0x7f);	/* 0x80: bit 16 of the length */
		in->xattr[xl + 1] = (uint8_t)nl;
		mm_be16_put(in->xattr + xl + 2, (uint16_t)vl);
		for (size_t k = 0; k < nl + vl; k++)
			in->xattr[xl + 4 + k] = (uint8_t)rnd(seed);
		xl += 4 + nl + vl;
	}
	in->xattr_len = (uint16_t)xl;
	if (rnd(seed) % 4 == 0) {
		in->flags |= FS_IF_XATTR_OVERFLOW;
		in->xattr_units = (uint8_t)(1 + rnd(seed) % FS_XATTR_MAX_UNITS);
		for (unsigned r = 0; r < in->meta_rep; r++)
			in->xattr_ovf.da[r] = rnd(seed) | 1;
	}
	if (type == S_IFCHR || type == S_IFBLK) {
		in->rdev = rnd(seed);
	} else if (type == S_IFREG || type == S_IFDIR || type == S_IFLNK) {
		if (rnd(seed) % 2) {
			in->flags |= FS_IF_DATA_IN_INODE;
			in->size = rnd(seed) % (FS_TAIL_BYTES + 1);
			in->tail_len = (uint16_t)(type == S_IFDIR ? rnd(seed) % (FS_TAIL_BYTES + 1)
							 : in->size);
			for (size_t k = 0; k < in->tail_len; k++)
				in->tail[k] = (uint8_t)rnd(seed);
		} else {
			in->level = (uint8_t)(rnd(seed) % (FS_MAX_LEVEL + 1));
			in->size = rnd(seed) >> 1;
			if (type == S_IFDIR)
				in->depth = (uint8_t)(rnd(seed) % 64);
			for (size_t k = 0; k < FS_TAIL_BYTES; k++)
				in->tail[k] = (uint8_t)rnd(seed);
		}
	}
}

static void test_inode_roundtrip(void)
{
	static struct fs_inode a, b;
	static uint8_t rec[FS_INODE_BYTES], again[FS_INODE_BYTES];
	uint64_t seed = 0x5eed0003;

	for (int n = 0; n < 5000; n++) {
		uint32_t fsid = (uint32_t)(1 + rnd(&seed) % FS_FSID_MAX);
		int rc;

		inode_random(&a, &seed);
		fs_inode_encode(&a, fsid, rec);
		CHECK_U64(mm_be32_get(rec), ==, FS_MAGIC_INODE);
		CHECK_U64(mm_be32_get(rec + 12), ==, crc_doc(rec, FS_INODE_BYTES));
		CHECK_U64(mm_be64_get(rec + 32), ==, a.gen);
		memset(&b, 0x5a, sizeof(b));
		err[0] = '\0';
		rc = fs_inode_decode(rec, fsid, n % 2 ? a.ino : UINT64_MAX, &b, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, MM_OK);
		if (rc != MM_OK) {
			fprintf(stderr, "  random inode %d (mode %o flags %x) refused: %s\n", n, a.mode,
				a.flags, err);
			break;
		}
		CU_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
		fs_inode_encode(&b, fsid, again);
		CU_ASSERT(memcmp(rec, again, FS_INODE_BYTES) == 0);
	}
}

/* A fixed valid inode per base kind. */
enum ibase { IB_REG_PTRS, IB_REG_DII, IB_DIR, IB_CHR, IB_FIFO, IB_FREE };

static void inode_base(struct fs_inode *in, enum ibase k)
{
	memset(in, 0, sizeof(*in));
	in->ino = 77;
	in->gen = 3;
	in->nlink = 1;
	in->data_rep = in->meta_rep = 1;
	in->mtime = (struct fs_time){1796000000, 5};
	switch (k) {
	case IB_REG_PTRS:
		in->mode = S_IFREG | 0644;
		in->size = 1u << 30;
		in->level = 1;
		mm_be64_put(in->tail, fs_da_make(1, 4096));
		break;
	case IB_REG_DII:
		in->mode = S_IFREG | 0600;
		in->flags = FS_IF_DATA_IN_INODE;
		in->size = in->tail_len = 5;
		memcpy(in->tail, "hello", 5);
		break;
	case IB_DIR:
		in->mode = S_IFDIR | 0755;
		in->nlink = 2;
		in->depth = 3;
		in->size = 8 * FS_MB;
		in->xattr_len = 4 + 4 + 2;
		memcpy(in->xattr, "\x01\x04\x00\x02user", 8);
		in->xattr[8] = 'v';
		in->xattr[9] = 'w';
		break;
	case IB_CHR:
		in->mode = S_IFCHR | 0666;
		in->rdev = 0x0103;
		break;
	case IB_FIFO:
		in->mode = S_IFIFO | 0600;
		break;
	case IB_FREE:
		memset(in, 0, sizeof(*in));
		in->ino = 77;
		in->gen = 4;
		in->flags = FS_IF_FREE;
		in->ctime = (struct fs_time){1796000001, 0};
		break;
	}
}

struct inode_break {
	const char *what;
	enum ibase base;
	void (*fn)(struct fs_inode *in);
	const char *says;	/* in the reason */
};

#define IBK(name, body) \
	static void ib_##name(struct fs_inode *in) { body; }
IBK(mode0, in->mode = 0644)
IBK(mode_type, in->mode = 0030000 | 0644)
IBK(mode_bits, in->mode |= 1u << 16)
IBK(drep0, in->data_rep = 0)
IBK(drep4, in->data_rep = 4)
IBK(mrep0, in->meta_rep = 0)
IBK(mrep4, in->meta_rep = 4)
IBK(level7, in->level = 7)
IBK(size_neg, in->size = 1ull << 63)
IBK(rdev_reg, in->rdev = 1)
IBK(size_fifo, in->size = 1)
IBK(level_chr, in->level = 1)
IBK(depth_reg, in->depth = 1)
IBK(depth64, in->depth = 64)
IBK(xlen_big, in->xattr_len = FS_XATTR_AREA + 1)
IBK(xattr_noname, in->xattr[1] = 0)
IBK(xattr_long, in->xattr_len = 9)
IBK(xattr_short, in->xattr_len = 12; in->xattr[10] = 1)
IBK(xattr_over, in->xattr[3] = 3)
IBK(tlen_big, in->tail_len = FS_TAIL_BYTES + 1)
IBK(tlen_ptrs, in->tail_len = 8)
IBK(dii_chr, in->flags |= FS_IF_DATA_IN_INODE)
IBK(dii_level, in->level = 1)
IBK(dii_size, in->size = FS_TAIL_BYTES + 1; in->tail_len = 0)
IBK(dii_len, in->size = 4)
IBK(dii_depth, in->flags |= FS_IF_DATA_IN_INODE; in->size = 0; in->level = 0)
IBK(flags, in->flags |= 1u << 5)
IBK(ovf_flag, in->flags |= FS_IF_XATTR_OVERFLOW)
IBK(ovf_addr, in->xattr_ovf.da[0] = fs_da_make(1, 77))
IBK(ovf_gap, in->flags |= FS_IF_XATTR_OVERFLOW; in->xattr_ovf.da[1] = fs_da_make(1, 77))
IBK(ovf_few, in->meta_rep = 2; in->flags |= FS_IF_XATTR_OVERFLOW;
    in->xattr_ovf.da[0] = fs_da_make(1, 77))
IBK(ovf_many, in->meta_rep = 1; in->flags |= FS_IF_XATTR_OVERFLOW;
    in->xattr_ovf.da[0] = fs_da_make(1, 77); in->xattr_ovf.da[1] = fs_da_make(2, 77))
IBK(units_noovf, in->xattr_units = 2)
IBK(units_many, in->meta_rep = 1; in->flags |= FS_IF_XATTR_OVERFLOW;
    in->xattr_ovf.da[0] = fs_da_make(1, 77); in->xattr_units = FS_XATTR_MAX_UNITS + 1)
IBK(atime_ns, in->atime.nsec = 1000000000)
IBK(mtime_ns, in->mtime.nsec = 4000000000u)
IBK(ctime_ns, in->ctime.nsec = 1000000000)
IBK(crtime_ns, in->crtime.nsec = 1000000000)
IBK(free_mode, in->mode = S_IFREG)
IBK(free_flag, in->flags |= FS_IF_DATA_IN_INODE)
IBK(free_size, in->size = 1)
IBK(free_rep, in->data_rep = 1)
IBK(free_tail, in->tail[100] = 1)
#undef IBK

static const struct inode_break inode_breaks[] = {
	{"mode without a type", IB_REG_PTRS, ib_mode0, "mode"},
	{"mode of an unknown type", IB_REG_PTRS, ib_mode_type, "mode"},
	{"mode bits past S_IFMT", IB_REG_PTRS, ib_mode_bits, "mode"},
	{"data replicas 0", IB_REG_PTRS, ib_drep0, "replication 0 data"},
	{"data replicas 4", IB_REG_PTRS, ib_drep4, "replication 4 data"},
	{"metadata replicas 0", IB_DIR, ib_mrep0, "0 metadata"},
	{"metadata replicas 4", IB_DIR, ib_mrep4, "4 metadata"},
	{"level 7", IB_REG_PTRS, ib_level7, "level 7"},
	{"size 2^63", IB_REG_PTRS, ib_size_neg, "past 2^63"},
	{"rdev on a file", IB_REG_PTRS, ib_rdev_reg, "device number"},
	{"size on a FIFO", IB_FIFO, ib_size_fifo, "of size 1"},
	{"level on a device", IB_CHR, ib_level_chr, "level 1"},
	{"depth on a file", IB_REG_PTRS, ib_depth_reg, "depth 1"},
	{"depth 64", IB_DIR, ib_depth64, "depth 64"},
	{"xattr length past the area", IB_DIR, ib_xlen_big, "xattr area of 1009"},
	{"xattr with an empty name", IB_DIR, ib_xattr_noname, "xattr"},
	{"xattr length past its entries", IB_DIR, ib_xattr_long, "xattr"},
	{"xattr entry cut short", IB_DIR, ib_xattr_short, "xattr"},
	{"xattr value past the length", IB_DIR, ib_xattr_over, "xattr"},
	{"xattr overflow blocks without an overflow", IB_DIR, ib_units_noovf, "overflow of 2 blocks"},
	{"xattr overflow of too many blocks", IB_DIR, ib_units_many, "overflow of 5 blocks"},
	{"tail length past the area", IB_REG_DII, ib_tlen_big, "tail length 2897"},
	{"tail length with pointers", IB_REG_PTRS, ib_tlen_ptrs, "with pointers"},
	{"data in a device inode", IB_CHR, ib_dii_chr, "data in the inode of a device"},
	{"data in the inode at level 1", IB_REG_DII, ib_dii_level, "level 1"},
	{"data in the inode past the tail", IB_REG_DII, ib_dii_size, "size 2897"},
	{"tail length is not the size", IB_REG_DII, ib_dii_len, "size 4, tail length 5"},
	{"data in a directory inode of depth 3", IB_DIR, ib_dii_depth, "depth 3"},
	{"unknown flag", IB_REG_PTRS, ib_flags, "unknown flags"},
	{"overflow flag without an address", IB_REG_PTRS, ib_ovf_flag, "overflow"},
	{"overflow address without the flag", IB_REG_PTRS, ib_ovf_addr, "overflow"},
	{"overflow pointer with a hole first", IB_REG_PTRS, ib_ovf_gap, "overflow"},
	{"overflow block with too few replicas", IB_REG_PTRS, ib_ovf_few, "fewer replicas"},
	{"overflow block with too many replicas", IB_REG_PTRS, ib_ovf_many, "more replicas"},
	{"atime nsec 10^9", IB_REG_PTRS, ib_atime_ns, "nanoseconds"},
	{"mtime nsec 4*10^9", IB_REG_PTRS, ib_mtime_ns, "nanoseconds"},
	{"ctime nsec 10^9", IB_REG_PTRS, ib_ctime_ns, "nanoseconds"},
	{"crtime nsec 10^9", IB_FREE, ib_crtime_ns, "nanoseconds"},
	{"free record with a mode", IB_FREE, ib_free_mode, "free record"},
	{"free record with another flag", IB_FREE, ib_free_flag, "free record"},
	{"free record with a size", IB_FREE, ib_free_size, "free record"},
	{"free record with replicas", IB_FREE, ib_free_rep, "free record"},
	{"free record with a tail", IB_FREE, ib_free_tail, "free record"},
};

static void check_inode_refused(const uint8_t *rec, uint32_t fsid, uint64_t ino, int want,
				const char *what, const char *says)
{
	static struct fs_inode out;
	int rc;

	err[0] = '\0';
	rc = fs_inode_decode(rec, fsid, ino, &out, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT(strstr(err, says) != NULL);
	if (rc != want || !strstr(err, says))
		fprintf(stderr, "  inode %s: rc %d, wanted %d: %s\n", what, rc, want, err);
	else if (getenv("MMFS_TEST_VERBOSE"))
		fprintf(stderr, "  %s: %s\n", what, err);
}

static void test_inode_refusals(void)
{
	static struct fs_inode in, out;
	static uint8_t rec[FS_INODE_BYTES];
	const uint32_t fsid = 0x1234567;
	struct fs_mbh h = {.type = FS_BT_INODE, .fsid = fsid, .ino = 77, .a = 3};

	for (int k = IB_REG_PTRS; k <= IB_FREE; k++) {
		inode_base(&in, (enum ibase)k);
		fs_inode_encode(&in, fsid, rec);
		CU_ASSERT_EQUAL(fs_inode_decode(rec, fsid, 77, &out, err, sizeof(err)), MM_OK);
		CU_ASSERT(memcmp(&in, &out, sizeof(in)) == 0);
	}
	for (size_t i = 0; i < sizeof(inode_breaks) / sizeof(inode_breaks[0]); i++) {
		inode_base(&in, inode_breaks[i].base);
		inode_breaks[i].fn(&in);
		fs_inode_encode(&in, fsid, rec);
		check_inode_refused(rec, fsid, 77, MM_EPROTO, inode_breaks[i].what,
				    inode_breaks[i].says);
	}

	/* byte-level: what the encoder never writes */
	inode_base(&in, IB_REG_PTRS);
	fs_inode_encode(&in, fsid, rec);
	rec[165] = 1;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "reserved bytes", "reserved bytes");
	inode_base(&in, IB_REG_DII);
	fs_inode_encode(&in, fsid, rec);
	rec[FS_TAIL_OFF + 5] = 'x';
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "byte after the data in the inode", "bytes after the 5");
	inode_base(&in, IB_DIR);
	fs_inode_encode(&in, fsid, rec);
	rec[FS_XATTR_OFF + 10] = 1;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "byte after the xattrs", "xattr area");

	/* the header */
	inode_base(&in, IB_REG_PTRS);
	fs_inode_encode(&in, fsid, rec);
	check_inode_refused(rec, fsid + 1, 77, MM_EPROTO, "another file system", "file system 01234567, not 01234568");
	check_inode_refused(rec, fsid, 78, MM_EPROTO, "another inode", "where inode 78");
	h.b = 1;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "header b not 0", "header fields");
	h.b = 0;
	h.a = 1ull << 32;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "generation past 32 bits", "header fields");
	h.a = 3;
	h.blk = 4;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "block number not 0", "where block 0");
	h.blk = 0;
	h.type = FS_BT_DIR;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "a directory block", "directory block where");
	h.type = FS_BT_INODE;
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	rec[5] = 2;
	mm_be32_put(rec + 12, crc_doc(rec, FS_INODE_BYTES));
	check_inode_refused(rec, fsid, 77, MM_ENOTSUP, "format version 2", "version 2");
	fs_mb_seal(rec, FS_INODE_BYTES, &h);
	rec[2000] ^= 0x10;
	check_inode_refused(rec, fsid, 77, MM_ECHECKSUM, "a flipped bit", "checksum");
	memset(rec, 0, sizeof(rec));
	check_inode_refused(rec, fsid, 77, MM_EPROTO, "zeroes", "magic");
}

/* ---- 4. CRCs catch single-bit flips ---- */

static void test_crc_bit_flips(void)
{
	static struct fs_inode in;
	static uint8_t rec[FS_INODE_BYTES];
	uint8_t *blk = malloc(FS_MB), *slot = slot_new();
	struct fs_sgd *s = sgd_new();
	struct fs_mbh h = {.type = FS_BT_DIR, .fsid = 9, .ino = 1000, .blk = 5, .a = 1, .b = 2};
	uint64_t seed = 0x5eed0004;
	unsigned missed = 0;
	uint32_t used;

	/* every bit of an inode record */
	inode_base(&in, IB_DIR);
	fs_inode_encode(&in, 9, rec);
	for (size_t bit = 0; bit < 8 * FS_INODE_BYTES; bit++) {
		rec[bit / 8] ^= (uint8_t)(1u << bit % 8);
		err[0] = '\0';
		if (fs_inode_decode(rec, 9, 77, &in, err, sizeof(err)) == MM_OK || !err[0])
			missed++;
		rec[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	CHECK_U64(missed, ==, 0);
	/* every header bit and 20000 body bits of a metadata block */
	for (size_t i = 0; i < FS_MB; i++)
		blk[i] = (uint8_t)rnd(&seed);
	fs_mb_seal(blk, FS_MB, &h);
	CU_ASSERT_EQUAL(fs_mb_verify(blk, FS_MB, FS_BT_DIR, 9, 1000, 5, NULL, err, sizeof(err)),
			MM_OK);
	for (size_t n = 0; n < 8 * FS_MBH_BYTES + 20000; n++) {
		size_t bit = n < 8 * FS_MBH_BYTES ? n : rnd(&seed) % (8 * FS_MB);

		blk[bit / 8] ^= (uint8_t)(1u << bit % 8);
		err[0] = '\0';
		if (fs_mb_verify(blk, FS_MB, 0, 9, UINT64_MAX, UINT64_MAX, NULL, err, sizeof(err)) ==
			    MM_OK || !err[0])
			missed++;
		blk[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	CHECK_U64(missed, ==, 0);
	/* 3000 bits of a descriptor's used bytes */
	sgd_base(s);
	CU_ASSERT_EQUAL_FATAL(fs_sgd_encode(s, slot), MM_OK);
	used = mm_be32_get(slot + 8);
	for (size_t n = 0; n < 3000; n++) {
		size_t bit = rnd(&seed) % (8 * used);

		slot[bit / 8] ^= (uint8_t)(1u << bit % 8);
		err[0] = '\0';
		if (fs_sgd_decode(slot, FS_SGD_SLOT_BYTES, s, err, sizeof(err)) == MM_OK || !err[0])
			missed++;
		slot[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	CHECK_U64(missed, ==, 0);
	free(blk);
	free(slot);
	free(s);
}

/* ---- 5. pointers and the tree ---- */

static void test_ptrs(void)
{
	uint8_t area[FS_TAIL_BYTES];
	struct fs_ptr p, q;

	CHECK_U64(fs_inode_nptrs(1), ==, 362);
	CHECK_U64(fs_inode_nptrs(2), ==, 181);
	CHECK_U64(fs_inode_nptrs(3), ==, 120);
	CHECK_U64(fs_ind_nptrs(1), ==, 8184);
	CHECK_U64(fs_ind_nptrs(3), ==, 2728);
	for (unsigned maxrep = 1; maxrep <= FS_MAX_REPLICAS; maxrep++) {
		uint32_t n = fs_inode_nptrs(maxrep);

		CU_ASSERT(n * 8 * maxrep <= FS_TAIL_BYTES);
		memset(area, 0xcc, sizeof(area));
		for (uint32_t i = 0; i < n; i++) {
			for (unsigned r = 0; r < FS_MAX_REPLICAS; r++)
				p.da[r] = r < maxrep ? fs_da_make(r + 1, (uint64_t)i * 16 + r) : 0;
			fs_ptr_put(area, i, maxrep, &p);
		}
		for (uint32_t i = 0; i < n; i++) {
			memset(&q, 0xee, sizeof(q));
			fs_ptr_get(area, i, maxrep, &q);
			for (unsigned r = 0; r < FS_MAX_REPLICAS; r++)
				CHECK_U64(q.da[r], ==, r < maxrep ? fs_da_make(r + 1, (uint64_t)i * 16 + r)
								  : 0);
		}
		/* big-endian at i * 8 * maxrep, and nothing past the last */
		CHECK_U64(mm_be64_get(area + 8 * maxrep * 2), ==, fs_da_make(1, 32));
		if (n * 8 * maxrep < FS_TAIL_BYTES)
			CHECK_U64(area[n * 8 * maxrep], ==, 0xcc);
	}
	CHECK_U64(fs_da_disk(fs_da_make(65534, 12345)), ==, 65534);
	CHECK_U64(fs_da_sub(fs_da_make(7, (1ull << 48) - 1)), ==, (1ull << 48) - 1);
}

static void test_tree_math(void)
{
	/* fs_tree_max_bytes(level, maxrep, B) written out; 0: saturated */
	static const struct {
		unsigned maxrep;
		uint32_t b;
		uint64_t bytes[FS_MAX_LEVEL + 1];
	} t[] = {
		{1, 64u << 10, {23724032ull, 194157477888ull, 1588984799035392ull,
				13004251595305648128ull, 0, 0, 0}},
		{3, 64u << 10, {7864320ull, 21453864960ull, 58526143610880ull,
				159659319770480640ull, 0, 0, 0}},
		{1, 16u << 20, {6073352192ull, 49704314339328ull, 406780108553060352ull, 0, 0, 0, 0}},
		{3, 16u << 20, {2013265920ull, 5492189429760ull, 14982692764385280ull, 0, 0, 0, 0}},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (unsigned l = 0; l <= FS_MAX_LEVEL; l++) {
			uint64_t want = t[i].bytes[l] ? t[i].bytes[l] : UINT64_MAX;
			uint64_t got = fs_tree_max_bytes(l, t[i].maxrep, t[i].b);

			CHECK_U64(got, ==, want);
			if (t[i].bytes[l]) {
				/* the boundary: exactly full, and one byte more */
				CHECK_U64(fs_tree_level_for(want, t[i].maxrep, t[i].b), ==, l);
				CHECK_U64(fs_tree_level_for(want + 1, t[i].maxrep, t[i].b), ==, l + 1);
			}
		}
		CHECK_U64(fs_tree_level_for(0, t[i].maxrep, t[i].b), ==, 0);
		CHECK_U64(fs_tree_level_for(1, t[i].maxrep, t[i].b), ==, 0);
		CHECK_U64(fs_tree_level_for(UINT64_MAX, t[i].maxrep, t[i].b), <=, 4);
		CHECK_U64(fs_tree_max_bytes(200, t[i].maxrep, t[i].b), ==, UINT64_MAX);
	}
	/* 2^50 bytes fit in a tree of at most FS_MAX_LEVEL levels, always */
	for (unsigned maxrep = 1; maxrep <= FS_MAX_REPLICAS; maxrep++)
		for (uint32_t b = FS_MIN_BLOCK; b <= FS_MAX_BLOCK; b <<= 1) {
			unsigned l = fs_tree_level_for(1ull << 50, maxrep, b);

			CU_ASSERT(l <= FS_MAX_LEVEL);
			CU_ASSERT(fs_tree_max_bytes(l, maxrep, b) >= 1ull << 50);
			CU_ASSERT(l == 0 || fs_tree_max_bytes(l - 1, maxrep, b) < 1ull << 50);
		}
}

/* ---- 6. the name hash, and the block type names ---- */

static void test_name_hash(void)
{
	char longname[FS_NAME_MAX];

	/* pinned when the function was written: a change here changes
	 * every directory on disk */
	CHECK_U64(fs_name_hash("", 0), ==, 0xf52a15e9a9b5e89bull);
	CHECK_U64(fs_name_hash("a", 1), ==, 0x02c0bdbf481420f8ull);
	CHECK_U64(fs_name_hash("hello", 5), ==, 0x16fe05a1c75bcd0full);
	CHECK_U64(fs_name_hash("lost+found", 10), ==, 0x692685adfa531058ull);
	memset(longname, 'x', sizeof(longname));
	CHECK_U64(fs_name_hash(longname, sizeof(longname)), ==, 0x666d7f25ff9cfa83ull);
	/* only the <len> bytes count */
	CHECK_U64(fs_name_hash("hello!", 5), ==, fs_name_hash("hello", 5));
	CU_ASSERT(fs_name_hash("hellp", 5) != fs_name_hash("hello", 5));

	CU_ASSERT_STRING_EQUAL(fs_btype_name(FS_BT_INODE), "inode");
	CU_ASSERT_STRING_EQUAL(fs_btype_name(FS_BT_XATTR), "xattr");
	CU_ASSERT_STRING_EQUAL(fs_btype_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(fs_btype_name(FS_BT_NTYPES), "unknown");
}

static void register_tests(void)
{
	static const struct mm_test sgd[] = {
		{"random descriptors round trip", test_sgd_roundtrip},
		{"encode refuses what it cannot write", test_sgd_encode_refusals},
		{"every field broken, one at a time", test_sgd_refusals},
		{"byte-level breaks, lengths, versions", test_sgd_byte_refusals},
	};
	static const struct mm_test choose[] = {
		{"one descriptor disk", test_choose_one_disk},
		{"three: torn minority, majority, unreadable", test_choose_three_disks},
		{"five: majorities and next slots", test_choose_five_disks},
		{"another format version", test_choose_other_version},
	};
	static const struct mm_test inode[] = {
		{"random inodes round trip", test_inode_roundtrip},
		{"every field broken, one at a time", test_inode_refusals},
	};
	static const struct mm_test misc[] = {
		{"CRCs catch single-bit flips", test_crc_bit_flips},
		{"block pointers", test_ptrs},
		{"tree sizes and levels", test_tree_math},
		{"name hash pinned, block type names", test_name_hash},
	};

	MM_ADD_SUITE("fs format descriptor", sgd);
	MM_ADD_SUITE("fs format descriptor choice", choose);
	MM_ADD_SUITE("fs format inodes", inode);
	MM_ADD_SUITE("fs format checksums and arithmetic", misc);
}

MM_CUNIT_MAIN(register_tests)
