/*
 * mmfsd/nsdsvc.h - the NSD layer inside mmfsd: the table of NSDs this node
 * knows (from the CCR) and reaches locally (discovery), the NSD server,
 * and the NSD client the layers above and the nsdio admin command use.
 *
 * Life cycle, driven by daemon.c:
 *   nsd_svc_create()  right after the net context: registers handlers
 *   nsd_svc_start()   once clm exists: fencing and I/O epochs come from it;
 *                     starts the scan thread (first scan when the node
 *                     becomes active)
 *   nsd_svc_stop()    before leaving the cluster: drains client and server
 *   nsd_svc_destroy() after net_destroy()
 *
 * Discovery runs on the "nsd-scan" thread whenever asked: on joining the
 * cluster, on MSG_NSD_RESCAN (sent by the node that ran mmcrnsd/mmdelnsd),
 * on a change of nsdDevices, and synchronously for mmnsddiscover, for
 * I/O naming an NSD this node does not know yet, and for a request served
 * here that names one (unless a scan began after that request arrived: the
 * sender knew of nothing that scan missed).
 */
#ifndef MM_MMFSD_NSDSVC_H
#define MM_MMFSD_NSDSVC_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/clm.h"
#include "config/config.h"
#include "net/net.h"
#include "nsd/client.h"
#include "nsd/server.h"
#include "nsd/table.h"

typedef struct nsd_svc nsd_svc;

struct nsd_svc_config {
	net_ctx *net;
	cfg_set *cfg;
	uint64_t cluster_id;
	uint32_t my_node;
	const char *node_name;
};

int nsd_svc_create(const struct nsd_svc_config *cfg, nsd_svc **out);
int nsd_svc_start(nsd_svc *s, clm *c);
void nsd_svc_stop(nsd_svc *s);
void nsd_svc_destroy(nsd_svc *s);

/* Forwarded cluster events (joins, config changes). */
void nsd_svc_event(nsd_svc *s, const struct clm_event *ev);
/* Dynamic attribute <name> (useNSDserver, nsdDevices) has a new value in
 * the effective settings: apply it. */
void nsd_svc_attr_changed(nsd_svc *s, const char *name);
/* Ask for a rescan soon (any thread, never blocks). */
void nsd_svc_request_scan(nsd_svc *s);
/* Rescan now and wait; returns the number of NSDs reached locally or MM_E*. */
int nsd_svc_scan_now(nsd_svc *s, char *err, size_t errsz);
/* Tell every other active node to rescan (after mmcrnsd/mmdelnsd). */
void nsd_svc_broadcast_rescan(nsd_svc *s);

nsd_table *nsd_svc_table(nsd_svc *s);
nsd_client *nsd_svc_client(nsd_svc *s);
nsd_server *nsd_svc_server(nsd_svc *s);

#endif
