/* troupe/persist.h - persistent actors: event journal, snapshots, recovery.
 *
 * A persistent actor has a persistence id. It appends events; each append is
 * acknowledged by a TR_MSG_PERSISTED message only after the group-commit
 * writer's transaction holding it is durable. When the actor starts, the
 * runtime loads its newest snapshot and replays the events after it through
 * apply(), before the actor sees its first message (messages that arrive
 * meanwhile wait in the mailbox).
 *
 * Storage is keyed by partition (a hash of the persistence id), so a
 * partition can later be replicated and moved between nodes as a unit.
 */
#ifndef TROUPE_PERSIST_H
#define TROUPE_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Delivered to a persistent actor: corr = the event's sequence number. With
 * TR_MSG_F_FAILED the event was not stored (payload: msgpack int TR_E*
 * code); the journal then refuses further appends from this incarnation, so
 * the usual answer is to fail and let the supervisor restart (recovery
 * rebuilds the state from what is durable). */
#define TR_MSG_PERSISTED (TR_MSG_SYSTEM + 4)
/* Delivered once, after recovery, before any other message: corr = the last
 * sequence number recovered (0 for a new actor). */
#define TR_MSG_RECOVERED (TR_MSG_SYSTEM + 5)

typedef struct tr_persistent {
  tr_behavior base; /* name, state_size, init, receive, terminate */
  /* Replays one stored event into the state (recovery only; live events are
   * applied by receive when it appends them). event is borrowed. */
  int (*apply)(tr_ctx *ctx, void *state, uint64_t seq, const void *event, size_t len);
  /* Optional: serialises the state for a snapshot into out (runtime's). */
  int (*snapshot)(tr_ctx *ctx, void *state, tr_buf *out);
  /* Optional (required with snapshot): rebuilds the state from a snapshot;
   * data is borrowed. */
  int (*restore)(tr_ctx *ctx, void *state, uint64_t seq, const void *data, size_t len);
} tr_persistent;

typedef struct tr_persist_opts {
  const char *id;          /* persistence id (copied); required, <= 255 bytes */
  uint32_t snapshot_every; /* events between snapshots; 0 = never */
  uint32_t snapshot_keep;  /* snapshots kept; 0 = 1 */
  tr_spawn_opts spawn;     /* name, mailbox bound, flags */
  /* With snapshot_every: a snapshot also waits until the events appended
   * since the last one add up to at least that snapshot's size in bytes.
   * For a state that keeps growing (an index of records): each snapshot
   * rewrites all of it, so snapshotting every N events would cost O(state)
   * per N events; amortised, snapshots write at most as much as the journal
   * does, and a recovery replays at most a snapshot's worth of events. */
  uint8_t snapshot_amortized;
} tr_persist_opts;

/* Spawns a persistent actor (child of ctx, or of the root). init runs first,
 * then recovery. The system must have been created with a data dir
 * (tr_config.data_dir) or TR_ENOTSUP is returned. */
int tr_persist_spawn(tr_ctx *ctx, const tr_persistent *p, const void *arg,
                     const tr_persist_opts *opts, tr_ref *out);
int tr_system_persist_spawn(tr_system *sys, const tr_persistent *p, const void *arg,
                            const tr_persist_opts *opts, tr_ref *out);

/* The largest event tr_persist_append takes, and the largest snapshot saved
 * (a bigger one is skipped with a warning: recovery then replays from the
 * one before). Each must fit, with its framing, in one recovery read. */
#define TR_PERSIST_MAX_ITEM ((64u << 20) - 64)

/* Appends a copy of event[0..len) to the running persistent actor's journal;
 * *seq gets its sequence number. TR_MSG_PERSISTED follows once it is durable.
 * TR_EPERM outside a persistent actor or during recovery; TR_ETOOBIG above
 * TR_PERSIST_MAX_ITEM. The caller keeps event. */
int tr_persist_append(tr_ctx *ctx, const void *event, size_t len, uint64_t *seq);

/* The node's store (storage/store.h), or NULL without a data dir: for
 * actors that keep data which does not belong in a journal replayed at
 * every activation (the event warehouse's tables and queues). Borrowed: it
 * lives as long as the system. */
typedef struct tr_store tr_store;
tr_store *tr_system_store(tr_system *sys);

/* Last sequence number appended (acknowledged or not). */
uint64_t tr_persist_seq(tr_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
