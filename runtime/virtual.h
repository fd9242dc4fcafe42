/* virtual.h - the runtime side of virtual actors and remote spawn
 * (troupe/virtual.h): the node's directory and the hooks through which the
 * cluster layer places names on nodes. */
#ifndef TR_VIRTUAL_H
#define TR_VIRTUAL_H

#include "core.h"
#include "troupe/virtual.h"

/* What the cluster layer answers for the directory. Installed once, before
 * any traffic, by tr_cluster_start; without it every name lives here. */
typedef struct tr_vhooks {
  /* The owner of name among the nodes that host roles (this node included):
   * 0 and *node, or TR_ENOENT when none can. */
  int (*place)(void *arg, uint32_t roles, const char *name, size_t len, uint64_t *node);
  /* Whether this node may host kinds of these roles at all (it has one of
   * them and is neither leaving nor draining). */
  int (*hosts)(void *arg, uint32_t roles);
  /* Sends n to the virtual actor name on node (another node). Consumes n
   * and returns 0, or returns an error and leaves n to the caller. */
  int (*send_name)(void *arg, uint64_t node, const char *name, size_t len, tr_mnode *n);
  /* The roles of a kind this node never registered, as a member that hosts
   * it advertises them: 0 and *roles, or TR_ENOENT. Optional. */
  int (*kind_roles)(void *arg, const char *kind, size_t len, uint32_t *roles);
  void *arg;
} tr_vhooks;

/* Set by the cluster layer (NULL to remove, after tr_system_wait). */
void tr_virtual_set_hooks(tr_system *sys, const tr_vhooks *h);

/* Creates the node's directory actor if it does not exist yet (the first
 * registration or the cluster layer does it). Not from a scheduler. */
int tr_virtual_start(tr_system *sys);

/* A message that arrived from another node for name (len bytes, not
 * NUL-terminated). Consumes n; a name this node cannot take becomes a dead
 * letter. With TR_MSG_F_FORWARDED_ in its flags it was passed on once
 * already by a node whose view differed, and is not passed on again.
 * Inside tr_external_enter. */
void tr_virtual_arrive(tr_system *sys, const char *name, size_t len, tr_mnode *n);

/* The kinds this node hosts (for its heartbeats): up to max names (64
 * bytes each, NUL-terminated) and roles into the caller's arrays; returns
 * how many. */
size_t tr_virtual_kinds(tr_system *sys, char (*names)[64], uint32_t *roles, size_t max);

/* Membership changed: names owned elsewhere now are passivated here. Any
 * thread. */
void tr_virtual_rebalance(tr_system *sys);

/* Frees the directory's table (tr_system_free, no thread runs). */
void tr_virtual_free(tr_system *sys);

/* 1 if name has an activation on this node now (not waiting, not
 * passivating), else 0. For tests and diagnostics. */
int tr_virtual_is_active(tr_system *sys, const char *name);

/* Internal message flag: a message passed on once already (see above).
 * Cleared before any behaviour sees the message. */
#define TR_MSG_F_FORWARDED_ 0x8000u

extern const tr_behavior tr_vdir_behavior;

#endif
