/* troupe/system.h - the runtime of one node: schedulers, the root actor,
 * calls from threads outside the runtime, dead letters and introspection.
 */
#ifndef TROUPE_SYSTEM_H
#define TROUPE_SYSTEM_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_config {
  uint32_t threads;          /* scheduler threads; 0 = number of cores */
  uint32_t blocking_threads; /* blocking pool threads; 0 = 4 */
  uint32_t batch;            /* messages an actor handles before yielding; 0 = 128 */
  uint32_t spin_us;          /* how long an idle scheduler spins before sleeping; 0 = 50 */
  uint64_t node_id;          /* this node's id in refs; 0 = local only */
  /* persistence (troupe/persist.h); without data_dir it is off */
  const char *data_dir;      /* LMDB environment lives here (created) */
  int durability;            /* TR_DURABLE_SYNC (default) or TR_DURABLE_NOSYNC */
  uint64_t map_limit;        /* most bytes the store may grow to; 0 = 32 GiB */
} tr_config;

/* Durability modes: see docs/storage.md for what each risks. */
enum { TR_DURABLE_SYNC = 0, TR_DURABLE_NOSYNC = 1 };

/* Starts the schedulers and the root actor. cfg may be NULL (defaults). */
int tr_system_new(const tr_config *cfg, tr_system **out);

/* Asks the root to stop: every actor stops, children before parents, in
 * reverse spawn order. Returns at once; safe from any thread and from a
 * signal-handling thread (not from an async signal handler). */
void tr_system_shutdown(tr_system *sys);

/* Waits until every actor has exited. Must not be called on a scheduler. */
int tr_system_wait(tr_system *sys);

/* Shuts down if needed, waits, stops the threads and frees everything. */
void tr_system_free(tr_system *sys);

uint64_t tr_system_node_id(tr_system *sys);
uint32_t tr_system_threads(tr_system *sys);

/* Calls from threads that are not actors (main, I/O callbacks, tests). The
 * child is spawned under the root. Same ownership rules as in actor.h. */
int tr_system_spawn(tr_system *sys, const tr_behavior *b, const void *arg,
                    const tr_spawn_opts *opts, tr_ref *out);
int tr_system_send(tr_system *sys, tr_ref to, uint32_t type, const void *data, size_t len);
int tr_system_stop(tr_system *sys, tr_ref who);

/* Blocking ask from a non-scheduler thread; TR_EDEADLK on a scheduler. On
 * success *reply is a message the caller owns and frees with tr_msg_free(). */
int tr_system_ask(tr_system *sys, tr_ref to, uint32_t type, const void *data, size_t len,
                  uint32_t timeout_ms, tr_msg **reply);
void tr_msg_free(tr_msg *msg);

/* Dead letters: every message that could not be delivered. */
enum {
  TR_DL_NO_ACTOR = 1,   /* target unknown or exited */
  TR_DL_MAILBOX_FULL,   /* bounded mailbox, drop policy (or reject: counted too) */
  TR_DL_STOPPED,        /* target stopped before handling it */
  TR_DL_LATE_REPLY,     /* reply to an ask that had timed out */
  TR_DL_REMOTE,         /* target node unreachable */
  TR_DL_UNHANDLED       /* behaviour reported it could not handle it */
};

typedef struct tr_dead_letter {
  uint64_t time_ms;   /* wall clock, ms since the epoch */
  tr_ref to, sender;
  uint64_t corr;
  uint32_t type;
  uint32_t len;       /* full payload length */
  uint16_t flags;
  uint8_t reason;     /* TR_DL_* */
  uint8_t head_len;   /* bytes kept in head */
  uint8_t head[32];   /* first bytes of the payload */
} tr_dead_letter;

uint64_t tr_system_dead_letter_count(tr_system *sys);
/* Copies up to max of the most recent dead letters (oldest first) into out
 * (caller-owned array); returns how many. */
size_t tr_system_dead_letters(tr_system *sys, tr_dead_letter *out, size_t max);
const char *tr_dead_letter_reason(int reason);

/* Introspection, for the admin console. A consistent view of each actor, not
 * of all of them at one instant. */
enum { TR_ACTOR_IDLE = 0, TR_ACTOR_RUNNABLE, TR_ACTOR_STOPPING, TR_ACTOR_DEAD };

typedef struct tr_actor_info {
  tr_ref ref;
  tr_ref parent;
  char name[64];          /* registered name, or "" */
  const char *behavior;   /* behaviour name (static storage) */
  uint32_t mailbox_depth;
  uint32_t children;
  uint64_t processed;     /* messages handled so far */
  int status;             /* TR_ACTOR_* */
} tr_actor_info;

typedef int (*tr_actor_visit_fn)(const tr_actor_info *info, void *arg); /* !=0 stops */
int tr_system_actors(tr_system *sys, tr_actor_visit_fn fn, void *arg);
int tr_system_actor_info(tr_system *sys, tr_ref ref, tr_actor_info *out);
uint64_t tr_system_actor_count(tr_system *sys);

/* Logging: one line per call on stderr, "time level component: text". */
enum { TR_LOG_DEBUG = 0, TR_LOG_INFO, TR_LOG_WARN, TR_LOG_ERROR };
void tr_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tr_log_set_level(int level);

const char *tr_version(void);

#ifdef __cplusplus
}
#endif
#endif
