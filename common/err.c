/* common/err.c - messages for the mmfs error-code space (see err.h). */
#include "common/err.h"

#include <errno.h>

static const struct {
	const char *name;
	const char *msg;
} err_tab[] = {
	[0] = {"MM_OK", "success"},
	[1] = {"MM_ENOMEM", "out of memory"},
	[2] = {"MM_EINVAL", "invalid argument"},
	[3] = {"MM_EIO", "I/O error"},
	[4] = {"MM_EPROTO", "protocol error"},
	[5] = {"MM_ETIMEDOUT", "timed out"},
	[6] = {"MM_ENOENT", "not found"},
	[7] = {"MM_EEXIST", "already exists"},
	[8] = {"MM_ECONFLICT", "concurrent update conflict"},
	[9] = {"MM_ENOQUORUM", "cluster has no quorum"},
	[10] = {"MM_EAUTH", "authentication failed"},
	[11] = {"MM_EUNREACH", "peer unreachable"},
	[12] = {"MM_ECLOSED", "connection closed"},
	[13] = {"MM_ETOOBIG", "too large"},
	[14] = {"MM_ECHECKSUM", "checksum mismatch"},
	[15] = {"MM_EBUSY", "resource busy"},
	[16] = {"MM_EPERM", "not permitted"},
	[17] = {"MM_ERANGE", "value out of range"},
	[18] = {"MM_ENOTSUP", "not supported"},
	[19] = {"MM_ESTATE", "not allowed in the current state"},
	[20] = {"MM_ESHUTDOWN", "shutting down"},
	[21] = {"MM_ENOLEASE", "node holds no valid lease"},
	[22] = {"MM_ESYS", "system error"},
	[23] = {"MM_EFENCED", "node is not an active cluster member (fenced)"},
};

_Static_assert(sizeof(err_tab) / sizeof(err_tab[0]) == 1 - MM_ERR_MIN,
	       "err_tab must cover every mm_err");

static int err_index(int rc)
{
	if (rc > 0 || rc < MM_ERR_MIN)
		return -1;
	return -rc;
}

const char *mm_strerror(int rc)
{
	int i = err_index(rc);

	return i < 0 ? "unknown error" : err_tab[i].msg;
}

const char *mm_errname(int rc)
{
	int i = err_index(rc);

	return i < 0 ? "MM_E?" : err_tab[i].name;
}

int mm_err_from_errno(int e)
{
	switch (e) {
	case 0:
		return MM_OK;
	case ENOMEM:
		return MM_ENOMEM;
	case EINVAL:
		return MM_EINVAL;
	case EIO:
	case ENOSPC:
	case EROFS:
		return MM_EIO;
	case ETIMEDOUT:
		return MM_ETIMEDOUT;
	case ENOENT:
		return MM_ENOENT;
	case EEXIST:
		return MM_EEXIST;
	case EACCES:
	case EPERM:
		return MM_EPERM;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		return MM_EUNREACH;
	case EPIPE:
	case ECONNRESET:
	case ECONNABORTED:
	case ENOTCONN:
		return MM_ECLOSED;
	case EBUSY:
	case EADDRINUSE:
		return MM_EBUSY;
	case ERANGE:
	case EOVERFLOW:
		return MM_ERANGE;
	case E2BIG:
	case EMSGSIZE:
	case EFBIG:
		return MM_ETOOBIG;
	case ENOTSUP:
		return MM_ENOTSUP;
	default:
		return MM_ESYS;
	}
}
