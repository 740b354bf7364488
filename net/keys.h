/*
 * net/keys.h - the cluster's key material (mmauth genkey, node certificates).
 *
 * The cluster key is an EC P-256 key with a self-signed CA certificate
 * (cluster.key, cluster.crt). Every node holds both (mode 0600) and issues
 * itself a node certificate signed by the cluster key with its IP address
 * as subjectAltName (node.key, node.crt): TLS peers, etcd peers and etcd
 * clients all verify against cluster.crt, and etcd also checks the address.
 * A holder of another cluster key fails verification on both sides.
 *
 * Return convention: 0 or MM_E*; <err> (if not NULL) receives a message
 * naming the file and the OpenSSL reason.
 */
#ifndef MM_NET_KEYS_H
#define MM_NET_KEYS_H

#include <stddef.h>

/* Create <dir>/cluster.key and <dir>/cluster.crt (CN = <cn>, 10 years).
 * MM_EEXIST if the key exists. */
int net_keys_gen_cluster(const char *dir, const char *cn, char *err, size_t errsz);

/* Issue <out_crt>/<out_key> for <node_ip> (SAN IP and DNS name), signed by
 * <ca_key>/<ca_crt>. Overwrites existing files; key file mode 0600. */
int net_keys_issue_node(const char *ca_key, const char *ca_crt,
			const char *node_ip, const char *out_key,
			const char *out_crt, char *err, size_t errsz);

/* True if <crt> chains to <ca_crt> and names <node_ip> in its SAN. */
int net_keys_node_valid(const char *ca_crt, const char *crt, const char *node_ip);

/* SHA-256 fingerprint of a certificate, "AB:CD:..." into <out>. */
int net_keys_fingerprint(const char *crt, char *out, size_t outsz);

#endif
