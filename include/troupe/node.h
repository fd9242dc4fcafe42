/* troupe/node.h - a program of your own as a node of a troupe cluster.
 *
 * A worker, a gateway or a tool written with the SDK joins a cluster the way
 * the troupe daemon does: with a data dir holding its node key and the
 * cluster's secret (copied from the first node: docs/operations.md), an
 * address to listen on and the seed list. Its actors then reach every other
 * node's actors by ref and by virtual name, and the other nodes see it in
 * membership with its roles.
 */
#ifndef TROUPE_NODE_H
#define TROUPE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_node tr_node;

typedef struct tr_node_opts {
  const char *data_dir;      /* node.key, cluster.secret (a missing key is created) */
  const char *listen;        /* nng URL: tcp://host:port (port 0: any) or ipc://path */
  const char *const *seeds;  /* nng URLs of seed nodes */
  size_t nseeds;
  const char *name;          /* shown in membership and the console */
  uint32_t roles;            /* TR_ROLE_* (troupe/virtual.h); 0 = all */
  uint32_t threads;          /* scheduler threads; 0 = number of cores */
} tr_node_opts;

/* Starts the runtime and joins the cluster (returns once listening; joining
 * goes on in the background). On failure, a line saying why is in
 * err[0..err_len) (if err) and a TR_E* code is returned: TR_EINVAL (bad
 * options), TR_EPERM (key files unsafe or missing secret), TR_EIO. */
int tr_node_start(const tr_node_opts *o, tr_node **out, char *err, size_t err_len);

/* The node's runtime: spawn actors, register kinds, send. */
tr_system *tr_node_system(tr_node *n);

/* Leaves the cluster gracefully (members see it leave, not fail), stops
 * every actor and frees n. */
void tr_node_stop(tr_node *n);

#ifdef __cplusplus
}
#endif
#endif
