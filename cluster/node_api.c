/* node_api.c - troupe/node.h: a program of one's own as a cluster node, in
 * the same order the daemon uses (identity, runtime, cluster; leave before
 * stopping). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "identity.h"
#include "troupe/node.h"
#include "troupe/virtual.h"

struct tr_node {
  tr_system *sys;
  tr_cluster *cl;
};

int tr_node_start(const tr_node_opts *o, tr_node **out, char *err, size_t err_len) {
  char dummy[8];
  if (!err) err = dummy, err_len = sizeof dummy;
  err[0] = 0;
  if (!o || !out || !o->data_dir || !o->listen || (o->nseeds && !o->seeds)) {
    snprintf(err, err_len, "data_dir and listen are required");
    return TR_EINVAL;
  }
  tr_identity id;
  int rc = tr_identity_load(o->data_dir, 1, &id, err, err_len);
  if (rc < 0) return rc;
  tr_node *n = calloc(1, sizeof *n);
  /* the store lives in the data dir too: the node may run persistent actors */
  tr_config cfg = {.threads = o->threads, .node_id = id.node_id, .data_dir = o->data_dir};
  if (!n || (rc = tr_system_new(&cfg, &n->sys)) < 0) {
    snprintf(err, err_len, "cannot start the runtime: %s", tr_strerror(n ? rc : TR_ENOMEM));
    tr_identity_clear(&id);
    free(n);
    return n ? rc : TR_ENOMEM;
  }
  tr_cluster_opts co = {.listen = o->listen, .seeds = o->seeds, .nseeds = o->nseeds,
                        .name = o->name, .roles = o->roles ? o->roles : TR_ROLE_ALL};
  rc = tr_cluster_start(n->sys, &id, &co, &n->cl);
  tr_identity_clear(&id);
  if (rc < 0) {
    snprintf(err, err_len, "cannot listen on %s: %s", o->listen, tr_strerror(rc));
    tr_system_free(n->sys);
    free(n);
    return rc;
  }
  *out = n;
  return 0;
}

tr_system *tr_node_system(tr_node *n) { return n ? n->sys : NULL; }

void tr_node_stop(tr_node *n) {
  if (!n) return;
  tr_cluster_leave(n->cl, 1000);
  tr_system_shutdown(n->sys);
  tr_system_wait(n->sys);
  tr_cluster_free(n->cl);
  tr_system_free(n->sys);
  free(n);
}
