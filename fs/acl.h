/*
 * fs/acl.h - POSIX ACLs of a mounted stripe group (xattr.c): the hooks the
 * permission check, chmod and create call. Internal, like sg_int.h: the
 * callers' API is fs_setxattr / fs_getxattr on system.posix_acl_access
 * and system.posix_acl_default (fs/fs.h). fs/README.md, "Extended
 * attributes and ACLs", has the rules.
 *
 * An ACL is kept in the inode's xattr area in Linux's xattr format
 * (version 2 header, then entries of tag, perm, id; little-endian),
 * canonical (tags in order, named ids ascending and unique, a mask when
 * there are named entries) and with the ids of the unnamed entries
 * 0xffffffff. The mode's permission bits stay the authority for the
 * owner, the mask (or the owning group when there is no mask) and
 * others: an access ACL only adds named users and groups, and the
 * owning group's own bits when a mask hides them in the mode.
 *
 * All three work on a copy of the record the caller holds under the
 * inode's token; none takes a lock or does I/O.
 */
#ifndef MM_FS_ACL_H
#define MM_FS_ACL_H

#include <stdint.h>

#include "fs/fs.h"

/*
 * Does the access ACL of <in> grant <mask> (R_OK 4 | W_OK 2 | X_OK 1) to
 * <c>? 0: granted; -EACCES: refused; 1: <in> has no access ACL, decide by
 * the mode. POSIX's algorithm (owner, named user, owning and named
 * groups under the mask, others), the owner's, mask's and others' bits
 * taken from the mode. Root's override is the caller's (sg_perm decides
 * root before calling this). A stored ACL that does not parse refuses
 * (-EACCES): a damaged record must not widen access.
 */
int sg_acl_perm(const struct fs_cred *c, const struct fs_inode *in, int mask);

/*
 * A new inode <child> (its record being built, its xattr area empty) in
 * directory <dir>; <*mode> is the requested S_IFMT | permission bits
 * BEFORE the umask. With a default ACL on <dir>: <*mode>'s permission
 * bits are ANDed with it (Linux's posix_acl_create), <child> gets an
 * access ACL unless the result is equivalent to the mode, and a new
 * directory also gets the default ACL itself; returns 1 and the caller
 * must NOT apply the umask. Without one (or for a symlink): returns 0,
 * nothing changed, the caller applies the umask. -EIO: the directory's
 * default ACL is damaged; -ENOSPC: the two ACLs do not fit the child's
 * xattr area.
 */
int sg_acl_inherit(const struct fs_inode *dir, struct fs_inode *child, uint32_t *mode);

/*
 * chmod: after the caller set in->mode to the new mode, make a stored
 * access ACL agree with it (its owner, mask (or owning group when there
 * is no mask) and other entries take the new bits; named entries and
 * the default ACL are unchanged, as Linux's posix_acl_chmod). Call it on
 * the copy that goes to sg_tx_inode. 0, or -EIO if the stored ACL is
 * damaged (nothing changed; fail the chmod).
 */
int sg_acl_chmod(struct fs_inode *in);

#endif
