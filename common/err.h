/*
 * common/err.h - the one error-code space of mmfs.
 *
 * Return convention (used by every module unless its header says
 * otherwise): a function returning int returns 0 (MM_OK) or a
 * non-negative count on success and a negative MM_E* code on failure.
 * errno and -errno never travel between modules: convert at the system
 * call with mm_err_from_errno() and log the original errno there if it
 * matters.
 */
#ifndef MM_COMMON_ERR_H
#define MM_COMMON_ERR_H

enum mm_err {
	MM_OK = 0,
	MM_ENOMEM = -1,		/* allocation failed */
	MM_EINVAL = -2,		/* bad argument or malformed input */
	MM_EIO = -3,		/* disk or file I/O failed */
	MM_EPROTO = -4,		/* malformed or unexpected message */
	MM_ETIMEDOUT = -5,	/* operation did not finish in time */
	MM_ENOENT = -6,		/* no such object */
	MM_EEXIST = -7,		/* object already exists */
	MM_ECONFLICT = -8,	/* compare-and-swap lost: retry */
	MM_ENOQUORUM = -9,	/* cluster has no quorum */
	MM_EAUTH = -10,		/* authentication refused */
	MM_EUNREACH = -11,	/* peer cannot be reached */
	MM_ECLOSED = -12,	/* connection or object closed */
	MM_ETOOBIG = -13,	/* over a size limit */
	MM_ECHECKSUM = -14,	/* checksum mismatch */
	MM_EBUSY = -15,		/* resource in use */
	MM_EPERM = -16,		/* not permitted */
	MM_ERANGE = -17,	/* value out of range */
	MM_ENOTSUP = -18,	/* not supported */
	MM_ESTATE = -19,	/* not allowed in the current state */
	MM_ESHUTDOWN = -20,	/* shutting down */
	MM_ENOLEASE = -21,	/* this node holds no valid lease */
	MM_ESYS = -22,		/* other system error (see log) */
	MM_EFENCED = -23,	/* requester is not an active cluster member */
	MM_ERR_MIN = -23
};

/* Short, stable description of <rc>; never NULL. */
const char *mm_strerror(int rc);

/* Stable symbolic name of <rc> ("MM_ETIMEDOUT"); never NULL. */
const char *mm_errname(int rc);

/* Map a (positive) errno value to the closest MM_E* code. */
int mm_err_from_errno(int e);

#endif
