/*
 * mmfsd/admin.h - the admin protocol between mm* commands and mmfsd.
 *
 * Transport: the Unix stream socket <statedir>/mmfsd.sock, mode 0600; the
 * daemon checks the peer's credentials (SO_PEERCRED: root or the daemon's
 * own uid) and closes the connection otherwise.
 * Framing: a 4-byte big-endian length, then that many bytes of one JSON
 * object; at most ADM_MAX_MSG bytes. One request, one reply, per frame.
 * Request: {"cmd": NAME, ...arguments}. Reply: {"rc": MM_E* code,
 * "msg": error text if rc != 0, ...results}.
 *
 * Commands: getstate, shutdown, lscluster, chconfig, lsconfig, diag,
 * addnode, delnode, chnode, crnsd, lsnsd, delnsd, crfs, lsfs, delfs, fsck,
 * nsddiscover, nsdio,
 * nsdfault, memberfault, lsmgr, chmgr, tokspace, mount, umount, lsmount.
 * Their arguments and results are listed in mmfsd/README.md.
 */
#ifndef MM_MMFSD_ADMIN_H
#define MM_MMFSD_ADMIN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define ADM_MAX_MSG (16u << 20)
#define ADM_SOCK_NAME "mmfsd.sock"

/* Send one frame holding <o> on <fd>. */
int adm_send(int fd, json_object *o);
/* Receive one frame within <timeout_ms> (-1: no limit); *o is new. */
int adm_recv(int fd, int timeout_ms, json_object **o);

/* Client side: connect to <sock_path>, send <req>, wait up to <timeout_ms>
 * for the reply. MM_ENOENT / MM_EUNREACH when no daemon listens there. */
int adm_call(const char *sock_path, json_object *req, int timeout_ms, json_object **rep);

/* Convenience accessors on a reply (defaults when absent). */
int adm_get_int(json_object *o, const char *key, int def);
int64_t adm_get_i64(json_object *o, const char *key, int64_t def);
bool adm_get_bool(json_object *o, const char *key, bool def);
const char *adm_get_str(json_object *o, const char *key, const char *def);

#endif
