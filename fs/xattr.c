/*
 * fs/xattr.c - extended attributes and POSIX ACLs of a mounted stripe
 * group (fs/fs.h, fs/acl.h; fs/README.md, "Extended attributes and
 * ACLs").
 *
 * Attributes live in the inode's xattr area (format.h): entries
 * [1 namespace][1 name length][2 value length, big-endian][name][value],
 * packed from the start, xattr_len bytes used, the rest zero (what
 * fs_inode_decode checks). The name stored is the part after the
 * namespace's prefix. A change is one transaction on the inode under its
 * token held xw, as every other inode change (vnode.c); readers take it
 * ro. What the area cannot hold goes to the inode's overflow block
 * (FS_TAG_XATTR, in the same transaction; "the areas" below).
 *
 * ACLs are the values of system.posix_acl_access / _default, in Linux's
 * xattr format (little-endian, unlike the rest of the record: the bytes
 * are what getxattr hands back, so they are stored as the kernel speaks
 * them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/err.h"
#include "common/wire.h"
#include "fs/acl.h"
#include "fs/mkfs_int.h"
#include "fs/sg_int.h"

enum { XNS_USER = 1, XNS_TRUSTED = 2, XNS_SECURITY = 3, XNS_SYSTEM = 4 };
#define XNAME_MAX 255		/* Linux's XATTR_NAME_MAX: the full name */
#define XSIZE_MAX 65536		/* Linux's XATTR_SIZE_MAX */

static const struct {
	uint8_t ns;
	const char *prefix;
	size_t len;
} nss[] = {
	{XNS_USER, "user.", 5},
	{XNS_TRUSTED, "trusted.", 8},
	{XNS_SECURITY, "security.", 9},
	{XNS_SYSTEM, "system.", 7},
};

#define ACL_ACCESS "posix_acl_access"
#define ACL_DEFAULT "posix_acl_default"

enum { XACL_NONE, XACL_ACCESS, XACL_DEFAULT };

/* A name taken apart: namespace, the part after the prefix, which ACL. */
struct xname {
	uint8_t ns;
	const char *s;
	size_t n;
	int acl;
};

/* -ERANGE for an empty or too long name (as Linux's syscalls say),
 * -EOPNOTSUPP for an unknown namespace or system.* other than the ACLs,
 * -EINVAL for a prefix alone ("user."). */
static int xname_parse(const char *name, struct xname *x)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, XNAME_MAX + 1);
	if (len == 0 || len > XNAME_MAX)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
		if (strncmp(name, nss[i].prefix, nss[i].len))
			continue;
		x->ns = nss[i].ns;
		x->s = name + nss[i].len;
		x->n = len - nss[i].len;
		x->acl = XACL_NONE;
		if (x->n == 0)
			return -EINVAL;
		if (x->ns == XNS_SYSTEM) {
			if (!strcmp(x->s, ACL_ACCESS))
				x->acl = XACL_ACCESS;
			else if (!strcmp(x->s, ACL_DEFAULT))
				x->acl = XACL_DEFAULT;
			else
				return -EOPNOTSUPP;
		}
		return 0;
	}
	return -EOPNOTSUPP;
}

/* ---- the areas ----
 *
 * Two areas hold entries in the same format: the inode's (FS_XATTR_AREA
 * bytes) and the overflow's bodies end to end (OVF_CAP bytes after each
 * block's header; the first one's <a> is the length used). ACLs stay in the inode's area, where
 * the permission check reads them without I/O; other names go there
 * while they fit, else to the overflow block, which is allocated with
 * the first entry it takes and freed with its last. */

#define OVF_CAP (FS_MB - FS_MBH_BYTES)
/* The namespace byte's top bit is bit 16 of the value's length. */
#define XNS_VLEN16 0x80

struct xarea {
	uint8_t *p;
	size_t len, cap;
};

static struct xarea iarea(const struct fs_inode *in)
{
	return (struct xarea){(uint8_t *)in->xattr, in->xattr_len < FS_XATTR_AREA ? in->xattr_len :
				FS_XATTR_AREA, FS_XATTR_AREA};
}

static size_t xent_size(const struct xarea *a, size_t off)
{
	return 4u + a->p[off + 1] + fs_xattr_vlen(a->p + off);
}

static uint8_t xent_ns(const struct xarea *a, size_t off)
{
	return a->p[off] & (uint8_t)~XNS_VLEN16;
}

/* The offset of the entry <ns>/<name> in <a> and its value's length, or
 * -1. Stops at an entry that overruns the area (decoding refuses such
 * an area, so only a bug gets there). */
static int xfind(const struct xarea *a, uint8_t ns, const char *name, size_t nl, size_t *vl)
{
	size_t off = 0;

	while (off + 4 <= a->len) {
		size_t sz = xent_size(a, off);

		if (off + sz > a->len)
			break;
		if (xent_ns(a, off) == ns && a->p[off + 1] == nl &&
		    !memcmp(a->p + off + 4, name, nl)) {
			*vl = fs_xattr_vlen(a->p + off);
			return (int)off;
		}
		off += sz;
	}
	return -1;
}

static const uint8_t *xval(const struct xarea *a, int off)
{
	return a->p + off + 4 + a->p[off + 1];
}

/* Remove the entry at <off>: the rest moves down, the freed end is
 * zeroed (the record keeps "the rest is zero"). */
static void xdel(struct xarea *a, int off)
{
	size_t sz = xent_size(a, (size_t)off), len = a->len;

	memmove(a->p + off, a->p + off + sz, len - (size_t)off - sz);
	memset(a->p + len - sz, 0, sz);
	a->len = len - sz;
}

/* Append <ns>/<name> = <v>: false if <a> has no room (nothing changed). */
static bool xadd(struct xarea *a, uint8_t ns, const char *name, size_t nl, const void *v,
		 size_t vl)
{
	size_t need = 4 + nl + vl, len = a->len;

	if (need > a->cap - len)
		return false;
	a->p[len] = (uint8_t)(ns | (vl > 0xffff ? XNS_VLEN16 : 0));
	a->p[len + 1] = (uint8_t)nl;
	mm_be16_put(a->p + len + 2, (uint16_t)(vl & 0xffff));
	memcpy(a->p + len + 4, name, nl);
	if (vl)
		memcpy(a->p + len + 4 + nl, v, vl);
	a->len = len + need;
	return true;
}

/* Set <ns>/<name> to <v> in the inode's area alone (a new inode's ACLs):
 * -ENOSPC when it cannot hold it (then nothing changed). */
static int xput(struct fs_inode *in, uint8_t ns, const char *name, size_t nl, const void *v,
		size_t vl)
{
	struct xarea a = iarea(in);
	int off = xfind(&a, ns, name, nl, &(size_t){0});
	size_t old = off >= 0 ? xent_size(&a, (size_t)off) : 0;

	if (4 + nl + vl > a.cap - a.len + old)
		return -ENOSPC;
	if (off >= 0)
		xdel(&a, off);
	xadd(&a, ns, name, nl, v, vl);
	in->xattr_len = (uint16_t)a.len;
	return 0;
}

/* The attributes of one inode while a call works on them: its area, and
 * a copy of the overflow's bodies (loaded on demand). */
struct xset {
	fs_sg *sg;
	struct fs_inode *in;
	struct xarea ia, oa;
	uint8_t *ob;			/* ovf_units(sg) * OVF_CAP bytes, or NULL: not loaded */
	bool ochanged;
};

/* The most blocks an overflow of this file system may have: one before
 * format version 2, and no run longer than a file system block. */
static unsigned ovf_units(const fs_sg *sg)
{
	unsigned n = sg->B / FS_MB;

	if (sg->sgd.version < 2)
		return 1;
	return n < FS_XATTR_MAX_UNITS ? n : FS_XATTR_MAX_UNITS;
}

static void xs_init(struct xset *xs, fs_sg *sg, struct fs_inode *in)
{
	memset(xs, 0, sizeof(*xs));
	xs->sg = sg;
	xs->in = in;
	xs->ia = iarea(in);
}

static void xs_done(struct xset *xs)
{
	free(xs->ob);
	xs->ob = NULL;
}

/* Load the overflow (a copy: no buffer stays held): -EIO, logged with
 * the disk's words, if a block of it does not verify. */
static int xs_load(struct xset *xs)
{
	fs_sg *sg = xs->sg;
	unsigned units = xs->in->xattr_units, max = ovf_units(sg);
	struct fs_bstore bs;
	struct fs_mbh h;
	uint64_t len = 0;
	uint8_t *d;
	char why[192];
	int rc = MM_OK;

	if (xs->ob)
		return 0;
	if (units > max)
		max = units;	/* decode allowed it: read it, do not grow it */
	xs->ob = calloc(max, OVF_CAP);
	if (!xs->ob)
		return -ENOMEM;
	xs->oa = (struct xarea){xs->ob, 0, (size_t)max * OVF_CAP};
	if (!(xs->in->flags & FS_IF_XATTR_OVERFLOW))
		return 0;
	sg_ro_bstore(sg, &bs);
	for (unsigned i = 0; i < units && !rc; i++) {
		rc = bs.get(bs.arg, xs->in->ino, FS_TAG_XATTR + i, false, &d);
		if (rc) {
			snprintf(why, sizeof(why), "block %u: %s", i, mm_strerror(rc));
			break;
		}
		rc = fs_mb_verify(d, FS_MB, FS_BT_XATTR, sg->fsid, xs->in->ino, FS_TAG_XATTR + i, &h,
				  why, sizeof(why));
		if (!rc && (h.b || (i && h.a))) {
			rc = MM_EPROTO;
			snprintf(why, sizeof(why), "block %u: header %" PRIu64 " %" PRIu64, i, h.a,
				 h.b);
		}
		if (!rc) {
			memcpy(xs->ob + (size_t)i * OVF_CAP, d + FS_MBH_BYTES, OVF_CAP);
			if (i == 0)
				len = h.a;
		}
		bs.put(bs.arg, xs->in->ino, FS_TAG_XATTR + i, d, false);
	}
	if (!rc && !fs_xattr_ovf_ok(xs->ob, len, units)) {
		rc = MM_EPROTO;
		snprintf(why, sizeof(why), "entries malformed (length %" PRIu64 " in %u blocks)", len,
			 units);
	}
	if (!rc) {
		xs->oa.len = len;
		return 0;
	}
	sg_logf(sg, rc, "inode %" PRIu64 ": xattr overflow: %s", xs->in->ino, why);
	free(xs->ob);
	xs->ob = NULL;
	return fs_errno(rc) == -ENOMEM ? -ENOMEM : -EIO;
}

/* Find <ns>/<name>: its area and offset (or -1) and value length. */
static int xs_find(struct xset *xs, uint8_t ns, const char *name, size_t nl, struct xarea **a,
		   int *off, size_t *vl)
{
	int rc;

	*a = &xs->ia;
	*off = xfind(&xs->ia, ns, name, nl, vl);
	if (*off >= 0 || !(xs->in->flags & FS_IF_XATTR_OVERFLOW) || ns == XNS_SYSTEM)
		return 0;
	rc = xs_load(xs);
	if (rc)
		return rc;
	*a = &xs->oa;
	*off = xfind(&xs->oa, ns, name, nl, vl);
	return 0;
}

static void xs_del(struct xset *xs, struct xarea *a, int off)
{
	xdel(a, off);
	if (a == &xs->oa)
		xs->ochanged = true;
	else
		xs->in->xattr_len = (uint16_t)xs->ia.len;
}

/*
 * Set <ns>/<name> to <v>, replacing it: in the inode's area if it fits,
 * else (not an ACL) in the overflow block. An ACL that does not fit
 * moves other names to the overflow block to make room. -ENOSPC when
 * nothing can hold it: the copies in <xs> are then half changed, and the
 * caller drops them (nothing is written).
 */
static int xs_put(struct xset *xs, uint8_t ns, const char *name, size_t nl, const void *v,
		  size_t vl)
{
	struct xarea *a;
	size_t ovl, need = 4 + nl + vl;
	int off, rc;

	rc = xs_find(xs, ns, name, nl, &a, &off, &ovl);
	if (rc)
		return rc;
	if (off >= 0)
		xs_del(xs, a, off);
	while (ns == XNS_SYSTEM && need > xs->ia.cap - xs->ia.len) {
		/* move the inode area's last other entry to the overflow block */
		size_t o, last = SIZE_MAX;

		for (o = 0; o + 4 <= xs->ia.len; o += xent_size(&xs->ia, o))
			if (xent_ns(&xs->ia, o) != XNS_SYSTEM)
				last = o;
		if (last == SIZE_MAX)
			return -ENOSPC;
		rc = xs_load(xs);
		if (rc)
			return rc;
		if (!xadd(&xs->oa, xent_ns(&xs->ia, last), (const char *)xs->ia.p + last + 4,
			  xs->ia.p[last + 1], xval(&xs->ia, (int)last),
			  fs_xattr_vlen(xs->ia.p + last)))
			return -ENOSPC;
		xs->ochanged = true;
		xs_del(xs, &xs->ia, (int)last);
	}
	if (xadd(&xs->ia, ns, name, nl, v, vl)) {
		xs->in->xattr_len = (uint16_t)xs->ia.len;
		return 0;
	}
	if (ns == XNS_SYSTEM)
		return -ENOSPC;
	rc = xs_load(xs);
	if (rc)
		return rc;
	if (!xadd(&xs->oa, ns, name, nl, v, vl))
		return -ENOSPC;
	xs->ochanged = true;
	return 0;
}

/* Give back the overflow's blocks from <keep> on (all of them: 0) in
 * <tx>. The blocks before <keep> are rewritten by the caller at a new
 * place: their buffers stay (the pagepool tags are the same). */
static int ovf_free(struct sg_tx *tx, struct fs_inode *in, unsigned keep)
{
	fs_sg *sg = tx->sg;
	uint32_t nsub = fs_mkfs_ind_subblocks(sg->S);
	unsigned units = in->xattr_units;
	uint64_t sub = (uint64_t)nsub * units * in->meta_rep;
	int nf0 = tx->nfree, rc;

	for (unsigned i = keep; i < units; i++) {
		rc = sg_tx_bs_punch(tx, in->ino, FS_TAG_XATTR + i);
		if (!rc && tx->ltx)
			rc = fs_log_add_free(tx->ltx, in->ino, FS_TAG_XATTR + i);
		if (rc)
			return rc;
	}
	rc = sg_tx_free(tx, &in->xattr_ovf, nsub * units, true, in->ino, FS_TAG_XATTR + keep);
	if (rc)
		return rc;
	for (int i = nf0; i < tx->nfree; i++) {
		if (keep >= units)
			tx->fr[i].moved = true;
		else
			tx->fr[i].nblk = units - keep;
	}
	in->subblocks -= in->subblocks >= sub ? sub : in->subblocks;
	memset(&in->xattr_ovf, 0, sizeof(in->xattr_ovf));
	in->flags &= ~(uint32_t)FS_IF_XATTR_OVERFLOW;
	in->xattr_units = 0;
	return MM_OK;
}

int sg_xattr_drop(struct sg_tx *tx, struct fs_inode *in)
{
	return (in->flags & FS_IF_XATTR_OVERFLOW) ? ovf_free(tx, in, 0) : MM_OK;
}

/* The overflow's <units> blocks, writable in <tx> (data[i]): allocated
 * as one new run when the inode has another number of them (like an
 * indirect block: an ALLOC record each, then what differs from zeros),
 * the old run freed. */
static int ovf_get(struct sg_tx *tx, struct fs_inode *in, unsigned units, uint8_t **data)
{
	fs_sg *sg = tx->sg;
	uint32_t nsub = fs_mkfs_ind_subblocks(sg->S);
	struct fs_ptr p;
	struct pp_map m;
	int rc;

	if (!(in->flags & FS_IF_XATTR_OVERFLOW) || in->xattr_units != units) {
		if (tx->nfresh + (int)units > (int)(sizeof(tx->fresh_tag) / sizeof(tx->fresh_tag[0])))
			return MM_ETOOBIG;
		if (in->flags & FS_IF_XATTR_OVERFLOW) {
			rc = ovf_free(tx, in, units);
			if (rc)
				return rc;
		}
		rc = sg_tx_alloc_space(tx, in->ino, in->meta_rep, nsub * units, &p);
		if (rc)
			return rc;
		in->xattr_ovf = p;
		in->xattr_units = (uint8_t)units;
		in->flags |= FS_IF_XATTR_OVERFLOW;
		in->subblocks += (uint64_t)nsub * units * in->meta_rep;
		for (unsigned i = 0; i < units; i++) {
			sg_ptr_to_map(sg, &p, i * FS_MB, 0, &m);
			sg_tx_ac_put(tx, sg->mfsid, in->ino, FS_TAG_XATTR + i, &m);
			tx->fresh_ino[tx->nfresh] = in->ino;
			tx->fresh_tag[tx->nfresh++] = FS_TAG_XATTR + i;
			if (tx->ltx && (rc = fs_log_add_alloc(tx->ltx, in->ino, FS_TAG_XATTR + i)))
				return rc;
		}
	}
	for (unsigned i = 0; i < units; i++) {
		rc = sg_tx_bs_get(tx, in->ino, FS_TAG_XATTR + i, true, &data[i]);
		if (rc)
			return rc;
	}
	return MM_OK;
}

/* Write the overflow's new contents into <tx> (allocating, moving or
 * freeing it as it gains its first entry, changes size or loses its
 * last). */
static int xs_store(struct xset *xs, struct sg_tx *tx)
{
	uint8_t *d[FS_XATTR_MAX_UNITS];
	unsigned units;
	int rc;

	if (!xs->ochanged)
		return 0;
	if (xs->oa.len == 0)
		return fs_errno(sg_xattr_drop(tx, xs->in));
	units = fs_xattr_ovf_blocks(xs->oa.len);
	rc = fs_errno(ovf_get(tx, xs->in, units, d));
	for (unsigned i = 0; !rc && i < units; i++) {
		memcpy(d[i] + FS_MBH_BYTES, xs->ob + (size_t)i * OVF_CAP, OVF_CAP);
		fs_mb_seal(d[i], FS_MB,
			   &(struct fs_mbh){.type = FS_BT_XATTR, .fsid = xs->sg->fsid,
					    .ino = xs->in->ino, .blk = FS_TAG_XATTR + i,
					    .a = i ? 0 : xs->oa.len});
		rc = fs_errno(sg_tx_log(tx, xs->in->ino, FS_TAG_XATTR + i, 0, FS_MB));
	}
	return rc;
}

/* ---- ACLs: Linux's xattr format ---- */

enum {
	ACL_USER_OBJ = 0x01,
	ACL_USER = 0x02,
	ACL_GROUP_OBJ = 0x04,
	ACL_GROUP = 0x08,
	ACL_MASK = 0x10,
	ACL_OTHER = 0x20,
};
#define ACL_VERSION 2u
#define ACL_UNDEF 0xffffffffu

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint16_t ace_tag(const uint8_t *a, int i)
{
	return le16(a + 4 + 8 * i);
}

static uint16_t ace_perm(const uint8_t *a, int i)
{
	return le16(a + 4 + 8 * i + 2);
}

static uint32_t ace_id(const uint8_t *a, int i)
{
	return le32(a + 4 + 8 * i + 4);
}

static void ace_set_perm(uint8_t *a, int i, uint32_t perm)
{
	le16_put(a + 4 + 8 * i + 2, (uint16_t)(perm & 7));
}

/*
 * Is <a> (<len> bytes) a canonical ACL? Its entry count, or -EINVAL:
 * the header is version 2 and the size 4 + 8n; tags in the order owner,
 * named users, owning group, named groups, mask, other, exactly one of
 * each unnamed one except the mask, which is there iff named entries
 * are (libacl's canonical form; Linux's posix_acl_valid, plus ascending
 * unique ids); perms only rwx; named ids not 0xffffffff. A header with
 * no entries is 0 (Linux takes it as "no ACL").
 */
static int acl_valid(const uint8_t *a, size_t len)
{
	int state = ACL_USER_OBJ, n;
	bool needs_mask = false, have_last = false;
	uint32_t last = 0;

	if (len < 4 || (len - 4) % 8 || len > XSIZE_MAX || le32(a) != ACL_VERSION)
		return -EINVAL;
	n = (int)((len - 4) / 8);
	if (n == 0)
		return 0;
	for (int i = 0; i < n; i++) {
		uint16_t tag = ace_tag(a, i);
		uint32_t id = ace_id(a, i);

		if (ace_perm(a, i) & ~7u)
			return -EINVAL;
		switch (tag) {
		case ACL_USER_OBJ:
			if (state != ACL_USER_OBJ)
				return -EINVAL;
			state = ACL_USER;
			have_last = false;
			break;
		case ACL_USER:
		case ACL_GROUP:
			if (state != (tag == ACL_USER ? ACL_USER : ACL_GROUP) || id == ACL_UNDEF ||
			    (have_last && id <= last))
				return -EINVAL;
			last = id;
			have_last = true;
			needs_mask = true;
			break;
		case ACL_GROUP_OBJ:
			if (state != ACL_USER)
				return -EINVAL;
			state = ACL_GROUP;
			have_last = false;
			break;
		case ACL_MASK:
			if (state != ACL_GROUP)
				return -EINVAL;
			state = ACL_OTHER;
			break;
		case ACL_OTHER:
			if (state != ACL_OTHER && !(state == ACL_GROUP && !needs_mask))
				return -EINVAL;
			state = 0;
			break;
		default:
			return -EINVAL;
		}
	}
	return state == 0 ? n : -EINVAL;
}

/* The ids of the unnamed entries as the kernel writes them. */
static void acl_normalize(uint8_t *a, int n)
{
	for (int i = 0; i < n; i++) {
		uint16_t t = ace_tag(a, i);

		if (t != ACL_USER && t != ACL_GROUP)
			le32_put(a + 4 + 8 * i + 4, ACL_UNDEF);
	}
}

/* The permission bits an access ACL sets in the mode; 1 if it says more
 * than the mode can (named entries or a mask), 0 if the mode says it
 * all (Linux's posix_acl_equiv_mode). */
static int acl_equiv_mode(const uint8_t *a, int n, uint32_t *bits)
{
	uint32_t m = 0;
	int not_equiv = 0;

	for (int i = 0; i < n; i++) {
		uint32_t p = ace_perm(a, i) & 7u;

		switch (ace_tag(a, i)) {
		case ACL_USER_OBJ: m |= p << 6; break;
		case ACL_GROUP_OBJ: m |= p << 3; break;
		case ACL_OTHER: m |= p; break;
		case ACL_MASK:
			m = (m & ~070u) | p << 3;
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
			break;
		}
	}
	*bits = m;
	return not_equiv;
}

/* A default ACL applied to a new inode's mode (Linux's
 * posix_acl_create_masq): <a> becomes its access ACL, <*mode>'s
 * permission bits the AND of both; 1 if the access ACL says more than
 * the mode. */
static int acl_create_masq(uint8_t *a, int n, uint32_t *mode_p)
{
	uint32_t mode = *mode_p & 0777;
	int not_equiv = 0, group_obj = -1, mask_obj = -1, obj;

	for (int i = 0; i < n; i++) {
		uint32_t p = ace_perm(a, i);

		switch (ace_tag(a, i)) {
		case ACL_USER_OBJ:
			p &= mode >> 6;
			ace_set_perm(a, i, p);
			mode &= p << 6 | ~0700u;
			break;
		case ACL_USER:
		case ACL_GROUP:
			not_equiv = 1;
			break;
		case ACL_GROUP_OBJ:
			group_obj = i;
			break;
		case ACL_OTHER:
			p &= mode;
			ace_set_perm(a, i, p);
			mode &= p | ~07u;
			break;
		case ACL_MASK:
			mask_obj = i;
			not_equiv = 1;
			break;
		}
	}
	obj = mask_obj >= 0 ? mask_obj : group_obj;
	{
		uint32_t p = ace_perm(a, obj) & (mode >> 3);

		ace_set_perm(a, obj, p);
		mode &= p << 3 | ~070u;
	}
	*mode_p = (*mode_p & ~0777u) | (mode & 0777u);
	return not_equiv;
}

/* The stored ACL <which> of <in>: its bytes and entry count (0: none),
 * or -EIO if it does not parse. */
static int acl_get(const struct fs_inode *in, int which, const uint8_t **a)
{
	const char *nm = which == XACL_ACCESS ? ACL_ACCESS : ACL_DEFAULT;
	size_t vl;
	int off, n;

	struct xarea ar = iarea(in);

	*a = NULL;
	if (!in->xattr_len)
		return 0;
	off = xfind(&ar, XNS_SYSTEM, nm, strlen(nm), &vl);
	if (off < 0)
		return 0;
	*a = xval(&ar, off);
	n = acl_valid(*a, vl);
	return n >= 0 ? n : -EIO;
}

int sg_acl_perm(const struct fs_cred *c, const struct fs_inode *in, int mask)
{
	const uint8_t *a;
	uint32_t want = (uint32_t)mask & 7u, mbits = in->mode >> 3 & 7u, gperm = 0;
	bool has_mask = false, found = false, granted = false;
	int n = acl_get(in, XACL_ACCESS, &a);

	if (n == 0)
		return 1;
	if (n < 0)
		return -EACCES;
	if (c->uid == in->uid)
		return ((in->mode >> 6) & want) == want ? 0 : -EACCES;
	for (int i = 0; i < n; i++)
		if (ace_tag(a, i) == ACL_MASK)
			has_mask = true;
	for (int i = 0; i < n; i++) {
		uint32_t p = ace_perm(a, i), id = ace_id(a, i);

		switch (ace_tag(a, i)) {
		case ACL_USER:
			if (id == c->uid)
				return (p & mbits & want) == want ? 0 : -EACCES;
			break;
		case ACL_GROUP_OBJ:
			/* without a mask the mode's group bits are the owning group's */
			if (!has_mask)
				p = mbits;
			id = in->gid;
			/* fall through */
		case ACL_GROUP:
			if (!granted && sg_in_group(c, id)) {
				found = true;
				if ((p & want) == want) {
					granted = true;
					gperm = p;
				}
			}
			break;
		}
	}
	if (granted)
		return (gperm & (has_mask ? mbits : 7u) & want) == want ? 0 : -EACCES;
	if (found)
		return -EACCES;
	return (in->mode & want) == want ? 0 : -EACCES;
}

int sg_acl_chmod(struct fs_inode *in)
{
	const uint8_t *ca;
	uint8_t *a;
	bool has_mask = false;
	int n = acl_get(in, XACL_ACCESS, &ca);

	if (n <= 0)
		return n < 0 ? -EIO : 0;
	a = (uint8_t *)ca;	/* inside <in>'s own area */
	for (int i = 0; i < n; i++)
		if (ace_tag(a, i) == ACL_MASK)
			has_mask = true;
	for (int i = 0; i < n; i++) {
		switch (ace_tag(a, i)) {
		case ACL_USER_OBJ: ace_set_perm(a, i, in->mode >> 6); break;
		case ACL_MASK: ace_set_perm(a, i, in->mode >> 3); break;
		case ACL_GROUP_OBJ:
			if (!has_mask)
				ace_set_perm(a, i, in->mode >> 3);
			break;
		case ACL_OTHER: ace_set_perm(a, i, in->mode); break;
		}
	}
	return 0;
}

int sg_acl_inherit(const struct fs_inode *dir, struct fs_inode *child, uint32_t *mode)
{
	const uint8_t *da;
	uint8_t acc[FS_XATTR_AREA];
	size_t len;
	int n, rc;

	if (S_ISLNK(*mode) || !S_ISDIR(dir->mode))
		return 0;
	n = acl_get(dir, XACL_DEFAULT, &da);
	if (n <= 0)
		return n < 0 ? -EIO : 0;
	len = 4 + 8 * (size_t)n;
	if (len > sizeof(acc))
		return -EIO;
	if (S_ISDIR(*mode)) {
		rc = xput(child, XNS_SYSTEM, ACL_DEFAULT, strlen(ACL_DEFAULT), da, len);
		if (rc)
			return rc;
	}
	memcpy(acc, da, len);
	if (acl_create_masq(acc, n, mode)) {
		rc = xput(child, XNS_SYSTEM, ACL_ACCESS, strlen(ACL_ACCESS), acc, len);
		if (rc) {
			memset(child->xattr, 0, sizeof(child->xattr));
			child->xattr_len = 0;
			return rc;
		}
	}
	return 1;
}

/* ---- permissions ---- */

static bool owner_or_root(const struct fs_cred *c, const struct fs_inode *in)
{
	return c->uid == 0 || c->uid == in->uid;
}

/* May <c> read attribute <x> of <in>? As Linux's xattr_permission: a
 * refused trusted.* reads as absent, user.* exists only on files and
 * directories. */
static int may_read(const struct fs_cred *c, const struct fs_inode *in, const struct xname *x)
{
	switch (x->ns) {
	case XNS_USER:
		if (!S_ISREG(in->mode) && !S_ISDIR(in->mode))
			return -ENODATA;
		return sg_perm(c, in, 4);
	case XNS_TRUSTED:
		return c->uid == 0 ? 0 : -ENODATA;
	default:
		return 0;	/* security.*, the ACLs: anyone */
	}
}

static int may_write(const struct fs_cred *c, const struct fs_inode *in, const struct xname *x,
		     bool remove)
{
	switch (x->ns) {
	case XNS_USER:
		if (!S_ISREG(in->mode) && !S_ISDIR(in->mode))
			return -EPERM;
		if (S_ISDIR(in->mode) && (in->mode & S_ISVTX) && !owner_or_root(c, in))
			return -EPERM;
		return sg_perm(c, in, 2);
	case XNS_TRUSTED:
		return c->uid == 0 ? 0 : -EPERM;
	case XNS_SECURITY:
		if (owner_or_root(c, in))
			return 0;
		/*
		 * A write or truncate by anyone who may write the file drops
		 * its file capabilities (the kernel's file_remove_privs): over
		 * FUSE that is this removal, in the writer's name. The kernel
		 * itself lets no one else ask for it without CAP_SETFCAP.
		 */
		if (remove && x->n == sizeof("capability") - 1 &&
		    !memcmp(x->s, "capability", x->n))
			return sg_perm(c, in, 2) ? -EPERM : 0;
		return -EPERM;
	default:
		/* the ACLs: acl_set, whose order of checks is Linux's */
		return 0;
	}
}

/*
 * Set (or with <value> NULL and <size> 0, remove) ACL <x> of <in>.
 * <*changed> false: nothing to write (removing an absent ACL, which
 * Linux answers 0). XATTR_CREATE / XATTR_REPLACE do not apply to ACLs,
 * as in Linux.
 */
static int acl_set(const struct fs_cred *c, struct xset *xs, const struct xname *x,
		   const void *value, size_t size, bool *changed)
{
	struct fs_inode *in = xs->in;
	struct xarea *ar;
	uint8_t a[FS_XATTR_AREA];
	uint32_t bits;
	size_t vl;
	int n = 0, off, rc;

	if (S_ISLNK(in->mode))
		return -EOPNOTSUPP;
	if (size) {
		n = acl_valid(value, size);
		if (n < 0)
			return n;
	}
	if (x->acl == XACL_DEFAULT && !S_ISDIR(in->mode)) {
		*changed = false;
		return n ? -EACCES : 0;
	}
	if (!owner_or_root(c, in))
		return -EPERM;
	rc = xs_find(xs, XNS_SYSTEM, x->s, x->n, &ar, &off, &vl);
	if (rc)
		return rc;
	if (n == 0) {
		if (off < 0) {
			*changed = false;
			return 0;
		}
		xs_del(xs, ar, off);
		return 0;
	}
	if (size > sizeof(a))
		return -ENOSPC;
	memcpy(a, value, size);
	acl_normalize(a, n);
	if (x->acl == XACL_ACCESS) {
		int not_equiv = acl_equiv_mode(a, n, &bits);

		if (!not_equiv) {
			/* the mode says it all: no ACL is kept (Linux) */
			if (off >= 0)
				xs_del(xs, ar, off);
		} else {
			rc = xs_put(xs, XNS_SYSTEM, x->s, x->n, a, size);
			if (rc)
				return rc;
		}
		in->mode = (in->mode & ~0777u) | bits;
		if (c->uid != 0 && !sg_in_group(c, in->gid))
			in->mode &= ~(uint32_t)S_ISGID;
		return 0;
	}
	return xs_put(xs, XNS_SYSTEM, x->s, x->n, a, size);
}

/* setxattr and removexattr: <remove>, or set <value> under <flags>. */
static int xchange(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags, bool remove)
{
	struct xname x;
	struct sg_vn v;
	struct sg_tx *tx;
	struct xset xs;
	struct xarea *ar;
	bool changed = true;
	size_t vl;
	int rc, off;

	rc = xname_parse(name, &x);
	if (rc)
		return rc;
	if (!remove) {
		if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
			return -EINVAL;
		if (size > XSIZE_MAX)
			return -E2BIG;
		if (size && !value)
			return -EFAULT;
	}
	if (sg->ro)
		return -EROFS;
	rc = sg_vn_get(sg, ino, TOK_XW, &v);
	if (rc)
		return rc;
	xs_init(&xs, sg, &v.in);
	rc = may_write(c, &v.in, &x, remove);
	if (!rc && x.acl) {
		rc = acl_set(c, &xs, &x, remove ? NULL : value, remove ? 0 : size, &changed);
	} else if (!rc) {
		rc = xs_find(&xs, x.ns, x.s, x.n, &ar, &off, &vl);
		if (!rc && (remove || (flags & XATTR_REPLACE)))
			rc = off < 0 ? -ENODATA : 0;
		if (!rc && !remove && (flags & XATTR_CREATE) && off >= 0)
			rc = -EEXIST;
		if (!rc && remove)
			xs_del(&xs, ar, off);
		else if (!rc)
			rc = xs_put(&xs, x.ns, x.s, x.n, value, size);
	}
	if (!rc && changed) {
		sg_now(&v.in.ctime);
		rc = fs_errno(sg_tx_begin(sg, 0, &tx));
		if (!rc) {
			rc = fs_errno(sg_tx_inode(tx, v.ip, &v.in));
			if (!rc)
				rc = xs_store(&xs, tx);
			if (rc)
				sg_tx_abort(tx);
			else
				rc = fs_errno(sg_tx_commit(tx));
		}
		/* committed or not, the overflow may have changed under it */
		pthread_mutex_lock(&v.ip->mu);
		v.ip->nocaps = false;
		pthread_mutex_unlock(&v.ip->mu);
	}
	xs_done(&xs);
	sg_vn_put(sg, &v);
	return rc;
}

/*
 * A write or truncate drops the file's capabilities (security.capability),
 * whoever writes, as Linux's file_remove_privs does. The mount asks the
 * kernel to leave that to the file system (FUSE_HANDLE_KILLPRIV_V2,
 * mmfsd/fe.c), which otherwise asks for the attribute before every write.
 * <in> is the caller's copy under its xw token, committed by <tx>.
 */
int sg_kill_caps(fs_sg *sg, struct sg_tx *tx, struct sg_ino *ip, struct fs_inode *in)
{
	static const char cap[] = "capability";
	struct xarea *ar;
	struct xset xs;
	size_t vl;
	int rc = 0, off;
	bool skip;

	if (!in->xattr_len && !(in->flags & FS_IF_XATTR_OVERFLOW))
		return 0;
	xs_init(&xs, sg, in);
	ar = &xs.ia;
	off = xfind(ar, XNS_SECURITY, cap, sizeof(cap) - 1, &vl);
	if (off < 0 && (in->flags & FS_IF_XATTR_OVERFLOW)) {
		/* every write comes here: the overflow (up to 256 KiB, each
		 * block's CRC checked) is loaded once, not per write */
		pthread_mutex_lock(&ip->mu);
		skip = ip->nocaps;
		pthread_mutex_unlock(&ip->mu);
		if (skip)
			return 0;
		rc = xs_load(&xs);
		ar = &xs.oa;
		off = rc ? -1 : xfind(ar, XNS_SECURITY, cap, sizeof(cap) - 1, &vl);
		if (!rc && off < 0) {
			pthread_mutex_lock(&ip->mu);
			ip->nocaps = true;
			pthread_mutex_unlock(&ip->mu);
		}
	}
	if (off >= 0) {
		xs_del(&xs, ar, off);
		rc = xs_store(&xs, tx);
	}
	xs_done(&xs);
	return rc;
}

int fs_setxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	return xchange(sg, c, ino, name, value, size, flags, false);
}

int fs_removexattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name)
{
	return xchange(sg, c, ino, name, NULL, 0, 0, true);
}

ssize_t fs_getxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, const char *name,
		    void *value, size_t size)
{
	struct xname x;
	struct sg_vn v;
	struct xset xs;
	struct xarea *ar;
	size_t vl = 0;
	ssize_t rc;
	int off, r;

	rc = xname_parse(name, &x);
	if (rc)
		return rc;
	rc = sg_vn_get(sg, ino, TOK_RO, &v);
	if (rc)
		return rc;
	xs_init(&xs, sg, &v.in);
	rc = may_read(c, &v.in, &x);
	if (!rc) {
		r = xs_find(&xs, x.ns, x.s, x.n, &ar, &off, &vl);
		if (r)
			rc = r;
		else if (off < 0)
			rc = -ENODATA;
		else if (size == 0)
			rc = (ssize_t)vl;
		else if (size < vl || !value)
			rc = -ERANGE;
		else {
			memcpy(value, xval(ar, off), vl);
			rc = (ssize_t)vl;
		}
	}
	xs_done(&xs);
	sg_vn_put(sg, &v);
	return rc;
}

/*
 * The names <c> may see, each "prefix" "name" NUL: trusted.* only for
 * root (Linux hides them from others), user.* only for a caller who
 * may read the file (fs/README.md: a deliberate narrowing of Linux,
 * which lists them to anyone).
 */
/* The names of <a> that <c> may see, as listxattr gives them, into
 * <list> (NULL: only counted) at <total>, which grows. */
static void xlist(const struct fs_cred *c, const struct xarea *a, bool user_ok, char *list,
		  size_t *total)
{
	for (size_t off = 0; off + 4 <= a->len;) {
		const uint8_t *e = a->p + off;
		size_t sz = xent_size(a, off), pl;
		const char *pfx = NULL;

		if (off + sz > a->len)
			break;
		off += sz;
		uint8_t ns = (uint8_t)(e[0] & ~XNS_VLEN16);

		if (ns == XNS_TRUSTED && c->uid != 0)
			continue;
		if (ns == XNS_USER && !user_ok)
			continue;
		for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++)
			if (nss[i].ns == ns)
				pfx = nss[i].prefix;
		if (!pfx)
			continue;	/* decode lets any namespace byte through */
		pl = strlen(pfx);
		if (list) {
			memcpy(list + *total, pfx, pl);
			memcpy(list + *total + pl, e + 4, e[1]);
			list[*total + pl + e[1]] = 0;
		}
		*total += pl + e[1] + 1;
	}
}

ssize_t fs_listxattr(fs_sg *sg, const struct fs_cred *c, uint64_t ino, char *list, size_t size)
{
	struct sg_vn v;
	struct xset xs;
	size_t total = 0;
	bool user_ok;
	ssize_t rc;

	if (!list)
		size = 0;
	rc = sg_vn_get(sg, ino, TOK_RO, &v);
	if (rc)
		return rc;
	xs_init(&xs, sg, &v.in);
	user_ok = sg_perm(c, &v.in, 4) == 0;
	if (v.in.flags & FS_IF_XATTR_OVERFLOW)
		rc = xs_load(&xs);
	if (!rc) {
		/* sized first, then copied */
		xlist(c, &xs.ia, user_ok, NULL, &total);
		if (xs.ob)
			xlist(c, &xs.oa, user_ok, NULL, &total);
		if (size == 0) {
			rc = (ssize_t)total;
		} else if (total > size) {
			rc = -ERANGE;
		} else {
			total = 0;
			xlist(c, &xs.ia, user_ok, list, &total);
			if (xs.ob)
				xlist(c, &xs.oa, user_ok, list, &total);
			rc = (ssize_t)total;
		}
	}
	xs_done(&xs);
	sg_vn_put(sg, &v);
	return rc;
}
