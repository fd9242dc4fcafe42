/* supervisor.c - OTP supervisors on top of the parent/child tree.
 *
 * A supervisor learns that a child ended from the runtime's CHILD_EXIT
 * notice (every actor hears about its own children), so no links are
 * needed. Group restarts (one_for_all, rest_for_one) stop the affected
 * children youngest first, wait for their exits, then start them again in
 * spec order. Starting a child that fails is retried through a message to
 * self, so every attempt counts toward the restart intensity and a child
 * that can never start makes the supervisor give up instead of spinning.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "slots.h"

typedef struct sup_child {
  char *id;
  const tr_behavior *behavior;
  void *arg_copy; /* owned copy, or NULL when arg is passed as is */
  const void *arg;
  uint8_t restart;
  tr_spawn_opts opts;
  char *name;     /* owned copy of opts.name */
  tr_actor *actor;
  tr_ref ref;
  uint8_t stopping;   /* stopped by us for a group restart */
  uint8_t need_start; /* to be started (again) */
  uint8_t gone;       /* temporary child that ended: never again */
} sup_child;

typedef struct sup_data {
  pthread_mutex_t lock; /* refs and counters, for readers on other threads */
  uint8_t strategy;
  uint32_t max_restarts, period_ms;
  sup_child *c;
  size_t n;
  uint64_t *ts; /* restart times within the period */
  uint32_t nts;
  uint64_t total;
  uint32_t pending_stops;
} sup_data;

void tr_sup_free(tr_system *sys, void *p) {
  (void)sys;
  sup_data *d = p;
  if (!d) return;
  for (size_t i = 0; i < d->n; i++) {
    free(d->c[i].id);
    free(d->c[i].arg_copy);
    free(d->c[i].name);
  }
  free(d->c);
  free(d->ts);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

static sup_data *sup_copy(const tr_supervisor_spec *spec) {
  if (!spec || spec->strategy > TR_REST_FOR_ONE || (spec->n_children && !spec->children))
    return NULL;
  sup_data *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  pthread_mutex_init(&d->lock, NULL);
  d->strategy = spec->strategy;
  d->max_restarts = spec->max_restarts;
  d->period_ms = spec->period_ms ? spec->period_ms : 5000;
  d->ts = calloc(spec->max_restarts + 1, sizeof *d->ts);
  d->c = calloc(spec->n_children ? spec->n_children : 1, sizeof *d->c);
  if (!d->ts || !d->c) goto fail;
  for (size_t i = 0; i < spec->n_children; i++) {
    const tr_child_spec *cs = &spec->children[i];
    sup_child *c = &d->c[i];
    d->n = i + 1;
    if (!cs->id || !cs->behavior || !cs->behavior->receive || cs->restart > TR_RESTART_TEMPORARY)
      goto fail;
    for (size_t j = 0; j < i; j++)
      if (strcmp(d->c[j].id, cs->id) == 0) goto fail;
    c->id = strdup(cs->id);
    if (!c->id) goto fail;
    c->behavior = cs->behavior;
    c->restart = cs->restart;
    c->opts = cs->opts;
    c->opts.flags = 0;
    if (cs->opts.name) {
      c->name = strdup(cs->opts.name);
      if (!c->name) goto fail;
      c->opts.name = c->name;
    }
    if (cs->arg_size) {
      c->arg_copy = malloc(cs->arg_size);
      if (!c->arg_copy) goto fail;
      memcpy(c->arg_copy, cs->arg, cs->arg_size);
      c->arg = c->arg_copy;
    } else {
      c->arg = cs->arg;
    }
  }
  return d;
fail:
  tr_sup_free(NULL, d);
  return NULL;
}

static sup_data *sup_of(tr_ctx *ctx) {
  tr_actor_ext *x = atomic_load_explicit(&ctx->ext, memory_order_relaxed);
  return x ? atomic_load_explicit(&x->sup, memory_order_relaxed) : NULL;
}

/* The live sibling a restarted child goes after, to keep spec order (and so
 * the reverse shutdown order). ctx itself means "at the front". */
static tr_actor *insert_point(tr_ctx *ctx, sup_data *d, size_t i) {
  for (size_t k = i; k-- > 0;)
    if (d->c[k].actor) return d->c[k].actor;
  return ctx;
}

static int start_child(tr_ctx *ctx, sup_data *d, size_t i) {
  sup_child *c = &d->c[i];
  tr_ref ref;
  tr_actor *a = NULL;
  int rc = tr_actor_spawn_under(tr_tls_sys, ctx, 0, c->behavior, c->arg, &c->opts,
                                insert_point(ctx, d, i), 0, &ref, &a, NULL);
  if (rc < 0) return rc;
  pthread_mutex_lock(&d->lock);
  /* a child whose init returned TR_STOP is already gone */
  if (atomic_load(&a->state) & TR_AS_DEAD) {
    c->actor = NULL;
    c->ref = TR_REF_NONE;
  } else {
    c->actor = a;
    c->ref = ref;
  }
  c->need_start = 0;
  pthread_mutex_unlock(&d->lock);
  return 0;
}

/* Records a restart; 0 when it would exceed the intensity. */
static int count_restart(sup_data *d) {
  uint64_t now = tr_now_ms();
  uint32_t keep = 0;
  for (uint32_t k = 0; k < d->nts; k++)
    if (now - d->ts[k] < d->period_ms) d->ts[keep++] = d->ts[k];
  d->nts = keep;
  if (d->nts >= d->max_restarts) return 0;
  d->ts[d->nts++] = now;
  pthread_mutex_lock(&d->lock);
  d->total++;
  pthread_mutex_unlock(&d->lock);
  return 1;
}

static void give_up(tr_ctx *ctx) {
  tr_log(TR_LOG_WARN, "supervisor", "restart intensity reached, stopping (actor %llu)",
         (unsigned long long)ctx->id);
  tr_actor_exit_now(ctx, TR_EINTENSITY);
}

/* Starts every child marked need_start, in order. A failure is retried by a
 * message to self (counted as a restart). */
static void start_pending(tr_ctx *ctx, sup_data *d) {
  for (size_t i = 0; i < d->n; i++) {
    if (!d->c[i].need_start) continue;
    if (start_child(ctx, d, i) < 0) {
      tr_ref self = tr_actor_self(ctx);
      tr_sys_send(tr_tls_sys, self, self, TR_SYS_SUP_RETRY, NULL, 0);
      return;
    }
  }
}

void tr_sup_retry(tr_ctx *ctx) {
  sup_data *d = sup_of(ctx);
  if (!d || d->pending_stops) return;
  if (!count_restart(d)) {
    give_up(ctx);
    return;
  }
  start_pending(ctx, d);
}

void tr_sup_child_exited(tr_ctx *ctx, tr_actor *child, int reason) {
  sup_data *d = sup_of(ctx);
  if (!d) return;
  size_t i;
  for (i = 0; i < d->n; i++)
    if (d->c[i].actor == child) break;
  if (i == d->n) return;
  sup_child *c = &d->c[i];
  pthread_mutex_lock(&d->lock);
  c->actor = NULL;
  c->ref = TR_REF_NONE;
  pthread_mutex_unlock(&d->lock);
  if (c->stopping) { /* part of a group restart we started */
    c->stopping = 0;
    if (--d->pending_stops == 0) start_pending(ctx, d);
    return;
  }
  int abnormal = reason != TR_EXIT_NORMAL && reason != TR_EXIT_SHUTDOWN;
  int again = c->restart == TR_RESTART_PERMANENT || (c->restart == TR_RESTART_TRANSIENT && abnormal);
  if (c->restart == TR_RESTART_TEMPORARY) c->gone = 1;
  if (!again) return;
  if (!count_restart(d)) {
    give_up(ctx);
    return;
  }
  c->need_start = 1;
  if (d->strategy != TR_ONE_FOR_ONE) {
    size_t from = d->strategy == TR_ONE_FOR_ALL ? 0 : i + 1;
    tr_ref self = tr_actor_self(ctx);
    for (size_t k = d->n; k-- > from;) { /* youngest first */
      sup_child *o = &d->c[k];
      if (k == i) continue;
      if (o->actor && !o->stopping) {
        o->stopping = 1;
        d->pending_stops++;
        tr_sys_send(tr_tls_sys, self, o->ref, TR_SYS_STOP, NULL, 0);
      }
      if (!o->gone && o->restart != TR_RESTART_TEMPORARY) o->need_start = 1;
    }
    if (d->pending_stops) return;
  }
  start_pending(ctx, d);
}

static int sup_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)state;
  tr_actor_ext *x = tr_actor_ext_get(ctx);
  if (!x) return TR_ENOMEM;
  sup_data *d = sup_copy(arg);
  if (!d) return TR_EINVAL; /* bad spec (or no memory to copy it) */
  atomic_store(&x->sup, d); /* freed with the actor */
  for (size_t i = 0; i < d->n; i++) {
    int rc = start_child(ctx, d, i);
    if (rc < 0) {
      tr_log(TR_LOG_ERROR, "supervisor", "child %s failed to start: %s", d->c[i].id,
             tr_strerror(rc));
      return rc;
    }
  }
  return 0;
}

static int sup_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)ctx;
  (void)state;
  (void)msg;
  return 0; /* a supervisor has no user protocol */
}

const tr_behavior tr_supervisor_behavior = {
    .name = "supervisor", .init = sup_init, .receive = sup_receive};

static int sup_start(tr_system *sys, tr_actor *parent, int adopt, const tr_supervisor_spec *spec,
                     const tr_spawn_opts *opts, tr_ref *out) {
  if (!spec) return TR_EINVAL;
  return tr_actor_spawn_under(sys, parent, adopt, &tr_supervisor_behavior, spec, opts, NULL, 0,
                              out, NULL, NULL);
}

int tr_supervisor_start(tr_ctx *ctx, const tr_supervisor_spec *spec, const tr_spawn_opts *opts,
                        tr_ref *out) {
  if (!ctx) return TR_EINVAL;
  return sup_start(tr_tls_sys, ctx, 0, spec, opts, out);
}

int tr_system_supervisor_start(tr_system *sys, const tr_supervisor_spec *spec,
                               const tr_spawn_opts *opts, tr_ref *out) {
  if (!sys) return TR_EINVAL;
  tr_external_enter(sys);
  tr_system *saved = tr_tls_sys;
  int rc = sup_start(sys, sys->root, 1, spec, opts, out);
  tr_tls_sys = saved;
  tr_external_exit(sys);
  return rc;
}

/* Finds the supervisor data behind a ref; caller is inside EBR. */
static sup_data *lookup(tr_system *sys, tr_ref sup) {
  if (sup.node && sup.node != sys->cfg.node_id) return NULL;
  tr_actor *a = tr_slots_get(sys->slots, sup.id);
  if (!a) return NULL;
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_acquire);
  return x ? atomic_load(&x->sup) : NULL;
}

int tr_supervisor_child(tr_system *sys, tr_ref sup, const char *id, tr_ref *out) {
  if (!sys || !id || !out) return TR_EINVAL;
  tr_external_enter(sys);
  sup_data *d = lookup(sys, sup);
  int rc = TR_ENOENT;
  if (d) {
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++)
      if (strcmp(d->c[i].id, id) == 0 && !tr_ref_is_none(d->c[i].ref)) {
        *out = d->c[i].ref;
        rc = 0;
      }
    pthread_mutex_unlock(&d->lock);
  }
  tr_external_exit(sys);
  return rc;
}

int tr_supervisor_restarts(tr_system *sys, tr_ref sup, uint64_t *count) {
  if (!sys || !count) return TR_EINVAL;
  tr_external_enter(sys);
  sup_data *d = lookup(sys, sup);
  int rc = TR_ENOENT;
  if (d) {
    pthread_mutex_lock(&d->lock);
    *count = d->total;
    pthread_mutex_unlock(&d->lock);
    rc = 0;
  }
  tr_external_exit(sys);
  return rc;
}
