/*
 * tests/tools/nsdrogue.c - a "rogue node": authenticate as an existing node
 * of a cluster and send one NSD request straight to an NSD server, past
 * that node's daemon and its lease checks. Shows that servers refuse I/O
 * from a node that is not an active member (MM_EFENCED), whatever
 * credentials it holds.
 *
 *   nsdrogue [options] AS_NODE SERVER_NODE NSD_ID EXPECT
 *
 * AS_NODE       node (name or address) whose identity is used: its state
 *               directory $MMFS_ROOT/<AS_NODE> supplies the cluster
 *               definition (mmsdrfs.cfg: cluster id, port, cipherList) and
 *               the keys (ssl/cluster.crt, node.crt, node.key)
 * SERVER_NODE   node to send the request to
 * NSD_ID        the NSD volume id, 16 hex digits (mmlsnsd -L)
 * EXPECT        status name the server must answer (MM_EFENCED, MM_OK, ...)
 *               or "any"
 * options:
 *   -o OFFSET    byte offset on the NSD (default 1M; K/M/G suffixes)
 *   -l LENGTH    bytes (default 64K)
 *   -s SEED      nsd/pattern.h seed of the data written (default 666)
 *   -r           send MSG_NSD_READ instead of MSG_NSD_WRITE
 *   -c LIST      cipherList to use instead of the cluster's
 *   -t MS        reply timeout (default 10000)
 *
 * The request goes out with net_call_async() (net_call() would drop an
 * error reply's text). Prints the status name and the server's message; exit 0 if the status
 * is EXPECT, 1 if not, 2 on usage or setup errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "common/log.h"
#include "config/config.h"
#include "net/net.h"
#include "nsd/client.h"
#include "nsd/pattern.h"
#include "nsd/proto.h"

static const char *prog = "nsdrogue";

static void usage(void)
{
	fprintf(stderr, "usage: nsdrogue [-o OFFSET] [-l LENGTH] [-s SEED] [-r] [-c CIPHERLIST] "
		"[-t MS] AS_NODE SERVER_NODE NSD_ID EXPECT\n");
}

/* net_call() drops the payload of an error reply (the server's message):
 * the asynchronous call delivers it. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int status;
	char *data;
	size_t len;
};

static void reply_cb(int status, const void *data, size_t len, void *arg)
{
	struct waiter *w = arg;
	char *copy = len ? malloc(len) : NULL;

	if (copy)
		memcpy(copy, data, len);
	pthread_mutex_lock(&w->lock);
	w->status = status;
	w->data = copy;
	w->len = copy ? len : 0;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int main(int argc, char **argv)
{
	const char *root = getenv("MMFS_ROOT"), *cipher_opt = NULL;
	uint64_t offset = 1 << 20, length = 64 << 10, seed = 666, timeout = 10000, id;
	bool read_op = false;
	struct cfg_cluster def;
	const struct cfg_node *me, *srv;
	char path[PATH_MAX], ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], err[512];
	char cl[256] = "AUTHONLY", ciphers[256];
	enum net_security sec;
	struct net_config nc = {0};
	net_ctx *net = NULL;
	uint8_t *msg;
	size_t mlen;
	void *reply = NULL;
	size_t rlen = 0;
	char *end;
	int c, rc, st;

	while ((c = getopt(argc, argv, "o:l:s:rc:t:h")) != -1) {
		switch (c) {
		case 'o':
			if (mm_parse_size(optarg, &offset)) {
				usage();
				return 2;
			}
			break;
		case 'l':
			if (mm_parse_size(optarg, &length) || length == 0 || length > NSD_PROTO_MAX_IO) {
				usage();
				return 2;
			}
			break;
		case 's':
			if (mm_parse_size(optarg, &seed)) {
				usage();
				return 2;
			}
			break;
		case 'r': read_op = true; break;
		case 'c': cipher_opt = optarg; break;
		case 't':
			if (mm_parse_size(optarg, &timeout) || timeout == 0 || timeout > 600000) {
				usage();
				return 2;
			}
			break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (argc - optind != 4) {
		usage();
		return 2;
	}
	errno = 0;
	id = strtoull(argv[optind + 2], &end, 16);
	if (errno || *end || !argv[optind + 2][0]) {
		fprintf(stderr, "%s: NSD id \"%s\" is not 16 hex digits\n", prog, argv[optind + 2]);
		return 2;
	}
	if (length % 8 || offset % 8) {
		fprintf(stderr, "%s: offset and length must be multiples of 8\n", prog);
		return 2;
	}
	if (!root || !*root)
		root = "/var/mmfs";
	snprintf(path, sizeof(path), "%s/%s/mmsdrfs.cfg", root, argv[optind]);
	cfg_cluster_init(&def);
	if (cfg_cluster_load(&def, path, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	me = cfg_cluster_node(&def, argv[optind]);
	srv = cfg_cluster_node(&def, argv[optind + 1]);
	if (!me || !srv) {
		fprintf(stderr, "%s: %s is not a node of cluster %s\n", prog,
			argv[optind + (me ? 1 : 0)], def.name);
		cfg_cluster_free(&def);
		return 2;
	}
	for (size_t i = 0; i < def.nattrs; i++)
		if (!strcasecmp(def.attr_names[i], "cipherList"))
			snprintf(cl, sizeof(cl), "%s", def.attr_values[i]);
	if (cipher_opt)
		snprintf(cl, sizeof(cl), "%s", cipher_opt);
	if (net_parse_cipherlist(cl, &sec, ciphers, sizeof(ciphers))) {
		fprintf(stderr, "%s: cipherList %s is not supported\n", prog, cl);
		cfg_cluster_free(&def);
		return 2;
	}
	snprintf(ca, sizeof(ca), "%s/%s/ssl/cluster.crt", root, argv[optind]);
	snprintf(crt, sizeof(crt), "%s/%s/ssl/node.crt", root, argv[optind]);
	snprintf(key, sizeof(key), "%s/%s/ssl/node.key", root, argv[optind]);

	nc.node_id = me->number;
	nc.cluster_id = def.id;
	nc.listen_addr = NULL;	/* outbound only: the real node keeps its port */
	nc.port = def.port;
	nc.io_threads = 1;
	nc.worker_threads = 1;
	nc.max_payload = 64u << 20;
	nc.security = sec;
	nc.ciphers = ciphers;
	nc.ca_file = ca;
	nc.cert_file = crt;
	nc.key_file = key;
	nc.connect_timeout_ms = 3000;
	rc = net_create(&nc, &net);
	if (rc) {
		fprintf(stderr, "%s: net_create: %s\n", prog, mm_strerror(rc));
		cfg_cluster_free(&def);
		return 2;
	}
	rc = net_peer_set(net, srv->number, srv->ip, def.port);
	if (rc) {
		fprintf(stderr, "%s: net_peer_set %s: %s\n", prog, srv->ip, mm_strerror(rc));
		net_destroy(net);
		cfg_cluster_free(&def);
		return 2;
	}
	mlen = NSD_PROTO_REQ_LEN + (read_op ? 0 : length);
	msg = calloc(1, mlen);
	if (!msg) {
		net_destroy(net);
		cfg_cluster_free(&def);
		return 2;
	}
	{
		struct nsd_proto_req pr = {.flags = 0, .len = (uint32_t)length, .nsd_id = id,
					   .offset = offset};

		nsd_proto_req_encode(&pr, msg);
		if (!read_op)
			nsd_pattern_fill(msg + NSD_PROTO_REQ_LEN, length, offset, seed);
	}
	printf("%s: as node %u (%s), %s to node %u (%s:%u, %s): NSD %016" PRIX64 " offset %" PRIu64
	       " length %" PRIu64 "\n", prog, me->number, me->name,
	       read_op ? "MSG_NSD_READ" : "MSG_NSD_WRITE", srv->number, srv->ip, def.port, cl, id,
	       offset, length);
	{
		struct waiter w = {.done = false};

		pthread_mutex_init(&w.lock, NULL);
		pthread_cond_init(&w.cond, NULL);
		st = net_call_async(net, srv->number, read_op ? MSG_NSD_READ : MSG_NSD_WRITE, msg,
				    mlen, (int)timeout, reply_cb, &w);
		if (st == MM_OK) {
			pthread_mutex_lock(&w.lock);
			while (!w.done)
				pthread_cond_wait(&w.cond, &w.lock);
			pthread_mutex_unlock(&w.lock);
			st = w.status;
			reply = w.data;
			rlen = w.len;
		}
		pthread_mutex_destroy(&w.lock);
		pthread_cond_destroy(&w.cond);
	}
	printf("%s: status %s (%s)", prog, mm_errname(st), mm_strerror(st));
	if (st != MM_OK && reply && rlen)
		printf(": %.*s", (int)(rlen > 2000 ? 2000 : rlen), (const char *)reply);
	else if (st == MM_OK)
		printf(": %zu reply bytes", rlen);
	printf("\n");
	fflush(stdout);
	free(reply);
	free(msg);
	net_destroy(net);
	cfg_cluster_free(&def);
	if (!strcasecmp(argv[optind + 3], "any") || !strcmp(argv[optind + 3], mm_errname(st)))
		return 0;
	fprintf(stderr, "%s: expected %s, got %s\n", prog, argv[optind + 3], mm_errname(st));
	return 1;
}
