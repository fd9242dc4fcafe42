/* ebr.h - epoch-based reclamation of actors.
 *
 * Why: a ref is a plain (node, id) value, so a sender resolves it through the
 * slot table and then touches the actor, while the actor may be exiting on
 * another thread. Actors are therefore freed only after every thread that
 * could hold a pointer to them has passed a quiescent point (as Erlang's
 * "thread progress" does). Schedulers announce quiescence between actor runs
 * at no per-message cost; other threads bracket their calls with
 * tr_ebr_enter/tr_ebr_exit.
 */
#ifndef TR_EBR_H
#define TR_EBR_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>

typedef struct tr_ebr_rec {
  _Atomic uint64_t local; /* (epoch << 1) | 1 while inside, 0 outside */
  _Atomic int in_use;
  struct tr_ebr_rec *next;
  int depth;              /* nesting of enter/exit on this thread */
} tr_ebr_rec;

typedef void (*tr_ebr_free_fn)(void *obj, void *arg);

typedef struct tr_ebr_node {
  struct tr_ebr_node *next;
  tr_ebr_free_fn fn;
  void *arg;
} tr_ebr_node;

/* Per-thread list of retired objects, one bucket per epoch modulo 3. */
typedef struct tr_ebr_limbo {
  tr_ebr_node *bucket[3];
  uint64_t bucket_epoch[3];
  uint64_t count;
} tr_ebr_limbo;

typedef struct tr_ebr {
  _Atomic uint64_t epoch;
  _Atomic(tr_ebr_rec *) recs; /* append-only list; records are reused */
} tr_ebr;

void tr_ebr_init(tr_ebr *e);
void tr_ebr_destroy(tr_ebr *e);

/* A record for one thread (reused after tr_ebr_rec_release). */
tr_ebr_rec *tr_ebr_rec_acquire(tr_ebr *e);
void tr_ebr_rec_release(tr_ebr_rec *r);

/* Critical sections (nestable). */
void tr_ebr_enter(tr_ebr *e, tr_ebr_rec *r);
void tr_ebr_exit(tr_ebr_rec *r);

/* For a thread that is always inside (a scheduler): announce that it holds no
 * pointer from before this call. */
void tr_ebr_quiescent(tr_ebr *e, tr_ebr_rec *r);
/* A scheduler going to sleep holds nothing: leave, and re-enter on wake. */
void tr_ebr_offline(tr_ebr_rec *r);

/* Retire an object (node is embedded in it): fn(obj node, arg) runs after
 * the grace period, on this thread, in tr_ebr_collect. */
void tr_ebr_retire(tr_ebr *e, tr_ebr_limbo *l, tr_ebr_node *n, tr_ebr_free_fn fn, void *arg);

/* Tries to advance the epoch and frees what is safe. Returns objects freed. */
uint64_t tr_ebr_collect(tr_ebr *e, tr_ebr_limbo *l);

/* Frees everything in l without waiting (only when no thread runs). */
void tr_ebr_drain(tr_ebr_limbo *l);

#endif
