/* troupe/virtual.h - virtual actors (named kind/key) and remote spawn.
 *
 * A virtual actor is addressed by a name "kind/key" instead of a ref. It
 * always exists, logically: the first message activates it on the node that
 * owns the name, it is passivated when idle, and the next message activates
 * it again. Which node owns a name is decided by rendezvous hashing over the
 * members that are up and have the kind's roles (cluster.md); without a
 * cluster every name lives on this node. When membership changes, names that
 * now belong elsewhere are passivated here and activated there by their next
 * message; in a stable view a name is active on at most one node.
 *
 * Activation spawns the kind's behaviour with a tr_virtual_id as the init
 * argument. A persistent kind is spawned as a persistent actor whose
 * persistence id is the name, so it recovers its state from the data of the
 * node that activates it (moving a node's data with its names comes with
 * replication: docs/cluster.md).
 *
 * Passivation is in order: messages sent before it are handled first; those
 * sent after wait for the next activation. An activation that fails
 * (init error, crash) is simply activated again by the next message.
 *
 * Ownership of buffers: every (data, len) payload and every name is copied
 * before the call returns.
 */
#ifndef TROUPE_VIRTUAL_H
#define TROUPE_VIRTUAL_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "persist.h"
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Roles a node may take (configuration: roles); a kind is placed only on
 * nodes with one of its roles. */
enum {
  TR_ROLE_ENGINE = 1,
  TR_ROLE_WORKER = 2,
  TR_ROLE_GATEWAY = 4,
  TR_ROLE_ALL = 7
};

/* Names: "kind/key", 1..255 bytes of UTF-8 without control bytes, a kind of
 * 1..63 bytes before the first '/'. Kinds starting with "tr." are reserved. */
#define TR_VIRTUAL_NAME_MAX 255
#define TR_KIND_NAME_MAX 63

typedef struct tr_kind {
  const char *name;            /* the kind (copied) */
  /* Exactly one of these, or neither: then this node only knows the kind's
   * roles, to send to it, and never hosts it. A persistent kind is hosted
   * only by a node with a store (tr_config.data_dir). Static storage. */
  const tr_behavior *behavior;
  const tr_persistent *persistent;
  uint32_t roles;              /* nodes with any of these roles host it; 0 = every node */
  uint32_t idle_ms;            /* passivate after this long without a message; 0 = 60000 */
  uint32_t snapshot_every;     /* persistent kinds: see tr_persist_opts */
  uint32_t snapshot_keep;
  uint32_t mailbox_bound;      /* per activation; 0 = unbounded */
  uint8_t snapshot_amortized;  /* persistent kinds: see tr_persist_opts */
} tr_kind;

/* What init() of an activation receives as arg (borrowed for that call). */
typedef struct tr_virtual_id {
  const char *name; /* "kind/key", NUL-terminated */
  const char *kind; /* NUL-terminated copy of the kind */
  const char *key;  /* points into name, after the '/' */
} tr_virtual_id;

/* Registers a kind on this node. Call it on every node that sends to or
 * hosts the kind (with the same roles), from a thread that is not an
 * actor. TR_EEXIST if the kind is registered already, TR_EINVAL on a bad
 * name or both behaviours given. */
int tr_kind_register(tr_system *sys, const tr_kind *kind);

/* Sends a copy of data to the virtual actor `name` (NUL-terminated). 0 when
 * the message was routed; it becomes a dead letter if no node can host the
 * kind. TR_ENOENT for an unknown kind, TR_EINVAL for a bad name. */
int tr_virtual_send(tr_ctx *ctx, const char *name, uint32_t type, const void *data, size_t len);
/* As tr_actor_ask, to a virtual actor. */
int tr_virtual_ask(tr_ctx *ctx, const char *name, uint32_t type, const void *data, size_t len,
                   uint32_t timeout_ms, uint64_t *corr);
/* From threads that are not actors; the reply of an ask is the caller's to
 * free with tr_msg_free(). */
int tr_system_virtual_send(tr_system *sys, const char *name, uint32_t type, const void *data,
                           size_t len);
int tr_system_virtual_ask(tr_system *sys, const char *name, uint32_t type, const void *data,
                          size_t len, uint32_t timeout_ms, tr_msg **reply);

/* 0 if name is a valid virtual actor name (NUL-terminated), else TR_EINVAL. */
int tr_virtual_name_check(const char *name);

/* Where name would be activated now (a node id; this node's id, or 0 without
 * a cluster, for here). TR_ENOENT: unknown kind or no node can host it. */
int tr_virtual_owner(tr_system *sys, const char *name, uint64_t *node);

/* From a virtual activation: asks to be passivated now rather than after
 * its kind's idle time, e.g. a workflow instance that completed and has
 * nothing left to do but answer queries, which its next activation can do
 * from its journal. The same in-order passivation as when idle: what was
 * routed to it before is handled first, what comes later activates it
 * again; a persistent actor ends only once its appends are durable. The
 * request is asynchronous and ignored for an actor that is not an active
 * activation. 0, TR_ENOTSUP without virtual actors, TR_ENOMEM. */
int tr_virtual_passivate(tr_ctx *ctx);

/* Virtual actors active on this node now. */
size_t tr_virtual_count(tr_system *sys);

/* ------------------------------------------------------------ remote spawn */

/* What init() of a remotely spawned actor receives as arg (borrowed). */
typedef struct tr_spawn_arg {
  const void *data; /* the bytes the spawner sent (msgpack by convention) */
  size_t len;
} tr_spawn_arg;

/* Makes b spawnable from other nodes under name (1..63 bytes, copied; b is
 * static storage). Call from a thread that is not an actor. */
int tr_behavior_register(tr_system *sys, const char *name, const tr_behavior *b);

/* Asks `node` (a node id; 0 or this node's id: here) to spawn its registered
 * behaviour `name` with a copy of arg[0..len). The answer is a reply
 * (TR_MSG_F_REPLY, corr = *corr) that tr_msg_spawned() decodes, or a
 * TR_MSG_TIMEOUT. The new actor is a child of the node's directory: it is
 * not linked to the caller. */
int tr_actor_spawn_remote(tr_ctx *ctx, uint64_t node, const char *name, const void *arg,
                          size_t len, uint32_t timeout_ms, uint64_t *corr);
/* The same, waiting for the answer (not on a scheduler thread). */
int tr_system_spawn_remote(tr_system *sys, uint64_t node, const char *name, const void *arg,
                           size_t len, uint32_t timeout_ms, tr_ref *out);
/* Decodes the reply to a remote spawn: 0 and *ref, or the spawner's error
 * (TR_ENOENT: no such behaviour there; init's failure), or TR_EPROTO. */
int tr_msg_spawned(const tr_msg *reply, tr_ref *ref);

#ifdef __cplusplus
}
#endif
#endif
