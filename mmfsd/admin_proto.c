/* mmfsd/admin_proto.c - framing of the admin protocol (see admin.h). */
#include "mmfsd/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "common/wire.h"

int adm_send(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	uint8_t hdr[4];
	int rc;

	if (n > ADM_MAX_MSG)
		return MM_ETOOBIG;
	mm_be32_put(hdr, (uint32_t)n);
	rc = mm_write_full(fd, hdr, 4);
	return rc ? rc : mm_write_full(fd, s, n);
}

static int read_full(int fd, void *buf, size_t len, uint64_t deadline_ms)
{
	char *p = buf;

	while (len) {
		ssize_t n;

		if (deadline_ms) {
			uint64_t now = mm_now_ms();
			struct pollfd pfd = {fd, POLLIN, 0};
			int r;

			if (now >= deadline_ms)
				return MM_ETIMEDOUT;
			r = poll(&pfd, 1, (int)(deadline_ms - now));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return mm_err_from_errno(errno);
			if (r == 0)
				return MM_ETIMEDOUT;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mm_err_from_errno(errno);
		if (n == 0)
			return MM_ECLOSED;
		p += n;
		len -= (size_t)n;
	}
	return MM_OK;
}

int adm_recv(int fd, int timeout_ms, json_object **o)
{
	uint64_t deadline = timeout_ms >= 0 ? mm_now_ms() + (uint64_t)timeout_ms : 0;
	uint8_t hdr[4];
	uint32_t n;
	char *buf;
	int rc;
	json_tokener *tok;

	rc = read_full(fd, hdr, 4, deadline);
	if (rc)
		return rc;
	n = mm_be32_get(hdr);
	if (n > ADM_MAX_MSG || n == 0)
		return MM_EPROTO;
	buf = malloc(n + 1);
	if (!buf)
		return MM_ENOMEM;
	rc = read_full(fd, buf, n, deadline);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	tok = json_tokener_new();
	if (!tok) {
		free(buf);
		return MM_ENOMEM;
	}
	*o = json_tokener_parse_ex(tok, buf, (int)n);
	if (!*o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(*o, json_type_object)) {
		json_object_put(*o);
		*o = NULL;
		rc = MM_EPROTO;
	}
	json_tokener_free(tok);
	free(buf);
	return rc;
}

int adm_call(const char *sock_path, json_object *req, int timeout_ms, json_object **rep)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return MM_ETOOBIG;
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mm_err_from_errno(errno);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno == ENOENT ? MM_ENOENT : errno == ECONNREFUSED ? MM_EUNREACH
									   : mm_err_from_errno(errno);
		close(fd);
		return rc;
	}
	rc = adm_send(fd, req);
	if (!rc)
		rc = adm_recv(fd, timeout_ms, rep);
	close(fd);
	return rc;
}

int adm_get_int(json_object *o, const char *key, int def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return def;
	return json_object_get_int(v);
}

int64_t adm_get_i64(json_object *o, const char *key, int64_t def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return def;
	return json_object_get_int64(v);
}

bool adm_get_bool(json_object *o, const char *key, bool def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return def;
	return json_object_get_boolean(v);
}

const char *adm_get_str(json_object *o, const char *key, const char *def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return def;
	return json_object_get_string(v);
}
