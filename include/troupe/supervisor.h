/* troupe/supervisor.h - OTP-style supervisors.
 *
 * A supervisor is an actor that starts its children in order, restarts them
 * when they exit by its strategy, and gives up (exits with TR_EINTENSITY, so
 * its own supervisor sees a failure) when more than max_restarts restarts
 * happen within period_ms. Children stop in reverse start order.
 */
#ifndef TROUPE_SUPERVISOR_H
#define TROUPE_SUPERVISOR_H

#include "actor.h"
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TR_ONE_FOR_ONE = 0, TR_ONE_FOR_ALL, TR_REST_FOR_ONE };
enum {
  TR_RESTART_PERMANENT = 0, /* always restarted */
  TR_RESTART_TRANSIENT,     /* restarted after an abnormal exit only */
  TR_RESTART_TEMPORARY      /* never restarted */
};

typedef struct tr_child_spec {
  const char *id;              /* unique within the supervisor (copied) */
  const tr_behavior *behavior; /* static storage */
  const void *arg;             /* copied (arg_size bytes) and passed to every init */
  size_t arg_size;             /* 0: arg passed as is and must outlive the child */
  uint8_t restart;             /* TR_RESTART_* */
  tr_spawn_opts opts;          /* name, mailbox bound; flags are the supervisor's */
} tr_child_spec;

typedef struct tr_supervisor_spec {
  uint8_t strategy;        /* TR_ONE_FOR_ONE, TR_ONE_FOR_ALL, TR_REST_FOR_ONE */
  uint32_t max_restarts;   /* intensity: 0 means no restart is tolerated */
  uint32_t period_ms;      /* window of the intensity */
  const tr_child_spec *children;
  size_t n_children;
} tr_supervisor_spec;

/* Starts a supervisor as a child of ctx (or of the root). Every child is
 * started before this returns; if one fails to start, the started ones are
 * stopped and its error is returned. The spec is copied. */
int tr_supervisor_start(tr_ctx *ctx, const tr_supervisor_spec *spec,
                        const tr_spawn_opts *opts, tr_ref *out);
int tr_system_supervisor_start(tr_system *sys, const tr_supervisor_spec *spec,
                               const tr_spawn_opts *opts, tr_ref *out);

/* The supervisor behaviour, for nesting supervisors in child specs: use it
 * as a tr_child_spec's behavior with arg = a tr_supervisor_spec that outlives
 * the child (arg_size 0); the spec is copied at every start. */
extern const tr_behavior tr_supervisor_behavior;

/* Current ref of a child by id (for tests and tools); TR_ENOENT if the child
 * is not running. Safe from any thread. */
int tr_supervisor_child(tr_system *sys, tr_ref sup, const char *id, tr_ref *out);

/* Restarts performed so far by this supervisor. */
int tr_supervisor_restarts(tr_system *sys, tr_ref sup, uint64_t *count);

#ifdef __cplusplus
}
#endif
#endif
