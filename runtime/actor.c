/* actor.c - an actor's life: spawn, running a batch of messages, system
 * messages, and the ordered exit (children first, then terminate, then the
 * notices to links, monitors and the parent).
 *
 * An actor's fields are touched only by the thread that currently "owns" it:
 * the spawner until spawn returns, then whichever worker runs it (the
 * SCHEDULED bit hands ownership over). The exceptions are atomics: state,
 * the mailbox counters, ext and processed, which introspection reads.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/mp.h"
#include "core.h"
#include "virtual.h"
#include "deadletter.h"
#include "registry.h"
#include "slots.h"
#include "timer.h"

enum { RUN_GO_ON = 0, RUN_EXITED = 1 };

tr_ref tr_actor_ref(tr_system *sys, tr_actor *a) { return (tr_ref){sys->cfg.node_id, a->id}; }

_Thread_local tr_system *tr_tls_sys;

/* Callbacks run either on a worker or inside spawn; both set tr_tls_sys, so
 * the actor struct needs no pointer back to its system (8 bytes an actor). */
tr_system *tr_actor_system(tr_ctx *ctx) { return ctx ? tr_tls_sys : NULL; }

tr_ref tr_actor_self(tr_ctx *ctx) {
  return ctx ? tr_actor_ref(tr_tls_sys, ctx) : TR_REF_NONE;
}

tr_actor_ext *tr_actor_ext_get(tr_actor *a) {
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
  if (x) return x;
  x = calloc(1, sizeof *x);
  if (x) atomic_store_explicit(&a->ext, x, memory_order_release);
  return x;
}

/* ------------------------------------------------------------ children list */

static void child_append(tr_actor *parent, tr_actor *c, tr_actor *after) {
  tr_actor *first = parent->first_child;
  if (!first) {
    c->sib_next = c->sib_prev = c;
    parent->first_child = c;
  } else {
    /* after == parent: at the front; NULL: at the end */
    tr_actor *prev = (after && after != parent) ? after : first->sib_prev;
    c->sib_prev = prev;
    c->sib_next = prev->sib_next;
    prev->sib_next->sib_prev = c;
    prev->sib_next = c;
    if (after == parent) parent->first_child = c;
  }
  tr_actor_ext *x = tr_actor_ext_get(parent);
  if (x) atomic_fetch_add_explicit(&x->nchildren, 1, memory_order_relaxed);
}

static void child_remove(tr_actor *parent, tr_actor *c) {
  if (c->sib_next == c) {
    parent->first_child = NULL;
  } else {
    c->sib_prev->sib_next = c->sib_next;
    c->sib_next->sib_prev = c->sib_prev;
    if (parent->first_child == c) parent->first_child = c->sib_next;
  }
  c->sib_next = c->sib_prev = NULL;
  tr_actor_ext *x = atomic_load_explicit(&parent->ext, memory_order_relaxed);
  if (x) atomic_fetch_sub_explicit(&x->nchildren, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ links */

static int linkset_has(tr_link_set *s, tr_ref r) {
  for (uint32_t i = 0; i < s->n; i++)
    if (tr_ref_eq(s->v[i], r)) return (int)i;
  return -1;
}

int tr_linkset_add(tr_link_set *s, tr_ref r) {
  if (linkset_has(s, r) >= 0) return 0;
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 4;
    tr_ref *v = realloc(s->v, cap * sizeof *v);
    if (!v) return TR_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = r;
  return 0;
}

int tr_linkset_del(tr_link_set *s, tr_ref r) {
  int i = linkset_has(s, r);
  if (i < 0) return 0;
  s->v[i] = s->v[--s->n];
  return 1;
}

int tr_monitors_add(tr_monitor_entry **v, uint32_t *n, uint32_t *cap, tr_ref who, uint64_t id) {
  if (*n == *cap) {
    uint32_t c = *cap ? *cap * 2 : 4;
    tr_monitor_entry *nv = realloc(*v, c * sizeof *nv);
    if (!nv) return TR_ENOMEM;
    *v = nv;
    *cap = c;
  }
  (*v)[*n].who = who;
  (*v)[*n].id = id;
  (*n)++;
  return 0;
}

static int monitors_del(tr_monitor_entry *v, uint32_t *n, uint64_t id, tr_ref *who) {
  for (uint32_t i = 0; i < *n; i++)
    if (v[i].id == id) {
      if (who) *who = v[i].who;
      v[i] = v[--*n];
      return 1;
    }
  return 0;
}

/* ------------------------------------------------------------ exit */

static void finish_exit(tr_worker *w, tr_actor *a);

static void begin_exit(tr_worker *w, tr_actor *a, int reason) {
  if (atomic_load_explicit(&a->state, memory_order_relaxed) & TR_AS_EXITING) return;
  atomic_fetch_or(&a->state, TR_AS_EXITING);
  a->exit_reason = reason;
  if (a->first_child) {
    /* children stop first, one at a time, youngest first (as OTP does):
     * each CHILD_EXIT stops the next one, the last one lets us finish */
    tr_system *sys = tr_actor_system(a);
    tr_sys_send(sys, tr_actor_ref(sys, a), tr_actor_ref(sys, a->first_child->sib_prev),
                TR_SYS_STOP, NULL, 0);
    return;
  }
  finish_exit(w, a);
}

void tr_actor_exit_now(tr_ctx *ctx, int reason) { begin_exit(tr_tls_worker, ctx, reason); }

static void drain(tr_system *sys, tr_actor *a) {
  tr_mnode *n;
  while ((n = tr_mbox_pop(&a->sysbox)) != NULL) tr_actor_dead_letter(sys, a, n, 1);
  while ((n = tr_mbox_pop(&a->mbox)) != NULL) tr_actor_dead_letter(sys, a, n, 0);
}

static void finish_exit(tr_worker *w, tr_actor *a) {
  (void)w;
  if (atomic_load_explicit(&a->state, memory_order_relaxed) & TR_AS_DEAD) return;
  tr_system *sys = tr_actor_system(a);
  tr_ref self = tr_actor_ref(sys, a);
  int reason = a->exit_reason;
  if (a->beh->terminate && !(a->flags & TR_AF_INIT_FAILED))
    a->beh->terminate(a, a->state_mem, reason);
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
  if (x) {
    tr_timer_cancel_all(a);
    char *name = atomic_load(&x->name);
    if (name) tr_registry_remove_if(sys->registry, name, self);
    for (uint32_t i = 0; i < x->links.n; i++) {
      uint64_t sig[4] = {self.node, self.id, (uint64_t)(int64_t)reason, 1};
      tr_sys_send(sys, self, x->links.v[i], TR_SYS_EXIT_SIGNAL, sig, 4);
    }
    x->links.n = 0;
    for (uint32_t i = 0; i < x->nwatchers; i++) {
      uint64_t down[4] = {x->watchers[i].id, self.node, self.id, (uint64_t)(int64_t)reason};
      tr_sys_send(sys, self, x->watchers[i].who, TR_MSG_DOWN, down, 4);
    }
    x->nwatchers = 0;
    for (uint32_t i = 0; i < x->nwatching; i++) {
      uint64_t v[3] = {self.node, self.id, x->watching[i].id};
      tr_sys_send(sys, self, x->watching[i].who, TR_SYS_DEMONITOR, v, 3);
    }
    x->nwatching = 0;
  }
  atomic_fetch_or(&a->state, TR_AS_DEAD | TR_AS_SCHEDULED);
  tr_slots_clear(sys->slots, a->id);
  drain(sys, a);
  atomic_fetch_sub(&sys->nactors, 1);
  if (a->flags & TR_AF_SPAWNING) {
    /* ended inside its own spawn: the spawner unlinks and retires it */
  } else if (a->parent) {
    uint64_t v[2] = {(uint64_t)(uintptr_t)a, (uint64_t)(int64_t)reason};
    tr_ref pref = tr_actor_ref(sys, a->parent);
    tr_sys_send(sys, self, pref, TR_SYS_CHILD_EXIT, v, 2);
  } else {
    /* the root: the system is done */
    pthread_mutex_lock(&sys->done_lock);
    sys->done = 1;
    pthread_cond_broadcast(&sys->done_cond);
    pthread_mutex_unlock(&sys->done_lock);
  }
}

/* Reclaims an exited actor once no thread can see it (EBR callback). */
static void reclaim(void *node, void *arg) {
  tr_system *sys = arg;
  tr_actor_ext *x = (tr_actor_ext *)node; /* ebr node is the ext's first field */
  tr_actor_free(sys, x->owner);
}

void tr_actor_free(tr_system *sys, tr_actor *a) {
  drain(sys, a); /* messages that raced with the exit */
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
  if (x) {
    free(atomic_load(&x->name));
    free(x->links.v);
    free(x->watchers);
    free(x->watching);
    free(x->timers);
    tr_persist_free(x->persist);
    void *sup = atomic_load(&x->sup);
    if (sup) tr_sup_free(sys, sup);
    free(x);
  }
  tr_worker *w = tr_tls_worker;
  int mine = w && w->sys == sys;
  tr_slots_give(sys->slots, a->id, mine ? w->slot_cache : NULL, mine ? &w->nslot_cache : NULL,
                128);
  tr_pool_free(&sys->pool, mine ? &w->cache : NULL, a, a->pool_cls);
}

static void retire(tr_worker *w, tr_actor *child) {
  tr_system *sys = w->sys;
  tr_actor_ext *x = tr_actor_ext_get(child);
  if (!x) {
    /* no memory for the EBR node: leak rather than free too early */
    tr_log(TR_LOG_ERROR, "runtime", "out of memory retiring an actor");
    return;
  }
  x->owner = child;
  tr_ebr_retire(&sys->ebr, &w->limbo, &x->ebr, reclaim, sys);
}

/* ------------------------------------------------------------ dispatch */

/* A callback returned rc: a failure ends the actor with it; TR_STOP or
 * tr_actor_stop(self) during the callback end it normally. */
static int after_callback(tr_worker *w, tr_actor *a, int rc) {
  if (rc < 0)
    begin_exit(w, a, rc);
  else if (rc == TR_STOP || (a->flags & TR_AF_STOP_AFTER))
    begin_exit(w, a, TR_EXIT_NORMAL);
  else
    return RUN_GO_ON;
  return (atomic_load_explicit(&a->state, memory_order_relaxed) & TR_AS_DEAD) ? RUN_EXITED
                                                                               : RUN_GO_ON;
}

static int deliver_to_behavior(tr_worker *w, tr_actor *a, tr_mnode *n) {
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
  if (x && x->persist && n->m.type == TR_MSG_PERSISTED) tr_persist_on_ack(a, &n->m);
  int rc = a->beh->receive(a, a->state_mem, &n->m);
  tr_msg_release(w->sys, n);
  if (x && x->persist && rc >= 0) tr_persist_after_callback(a);
  if ((a->flags & TR_AF_PASSIVATE_WAIT) && rc >= 0 && tr_persist_settled(a)) rc = TR_STOP;
  return after_callback(w, a, rc);
}

/* Handles one system message; n is consumed on every path. */
static int handle_system(tr_worker *w, tr_actor *a, tr_mnode *n) {
  tr_system *sys = w->sys;
  uint64_t v[4];
  tr_actor_ext *x;
  uint32_t type = n->m.type;
  if (type == TR_SYS_RECOVER_CHUNK) {
    int rc = tr_persist_on_chunk(a, &n->m); /* may run receive (TR_MSG_RECOVERED) */
    tr_msg_release(sys, n);
    return after_callback(w, a, rc);
  }
  if (type == TR_MSG_DOWN) {
    x = atomic_load_explicit(&a->ext, memory_order_relaxed);
    if (x && tr_sys_decode(&n->m, v, 4) == 0 &&
        monitors_del(x->watching, &x->nwatching, v[0], NULL) &&
        !(atomic_load(&a->state) & TR_AS_EXITING))
      return deliver_to_behavior(w, a, n); /* consumes n */
    tr_msg_release(sys, n);
    return RUN_GO_ON;
  }
  int ok = tr_sys_decode(&n->m, v, type == TR_SYS_EXIT_SIGNAL || type == TR_MSG_DOWN ? 4
                                   : type == TR_SYS_MONITOR || type == TR_SYS_DEMONITOR ? 3
                                   : type == TR_SYS_LINK || type == TR_SYS_UNLINK ||
                                             type == TR_SYS_CHILD_EXIT
                                       ? 2
                                   : type == TR_SYS_ADOPT ? 1
                                                          : 0) == 0;
  tr_ref from = n->m.sender;
  tr_msg_release(sys, n);
  if (!ok) return RUN_GO_ON; /* malformed: nothing to act on */
  switch (type) {
  case TR_SYS_STOP:
    begin_exit(w, a, TR_EXIT_SHUTDOWN);
    break;
  case TR_SYS_EXIT_SIGNAL: {
    from = (tr_ref){v[0], v[1]};
    int reason = (int)(int64_t)v[2];
    x = atomic_load_explicit(&a->ext, memory_order_relaxed);
    if (v[3] && x) tr_linkset_del(&x->links, from);
    if (reason == TR_EXIT_KILLED) {
      begin_exit(w, a, TR_EXIT_KILLED);
    } else if (a->flags & TR_AF_TRAP_EXIT) {
      if (atomic_load(&a->state) & TR_AS_EXITING) break;
      uint8_t buf[48];
      size_t off = tr_mp_put_array(buf, sizeof buf, 3);
      off += tr_mp_put_uint(buf + off, sizeof buf - off, from.node);
      off += tr_mp_put_uint(buf + off, sizeof buf - off, from.id);
      off += tr_mp_put_int(buf + off, sizeof buf - off, reason);
      tr_mnode *m = tr_msg_new(sys, from, TR_MSG_EXIT, 0, 0, buf, off);
      if (m) return deliver_to_behavior(w, a, m);
    } else if (reason != TR_EXIT_NORMAL) {
      begin_exit(w, a, reason);
    }
    break;
  }
  case TR_SYS_LINK:
    if ((x = tr_actor_ext_get(a))) tr_linkset_add(&x->links, (tr_ref){v[0], v[1]});
    break;
  case TR_SYS_UNLINK:
    x = atomic_load_explicit(&a->ext, memory_order_relaxed);
    if (x) tr_linkset_del(&x->links, (tr_ref){v[0], v[1]});
    break;
  case TR_SYS_MONITOR:
    if ((x = tr_actor_ext_get(a)))
      tr_monitors_add(&x->watchers, &x->nwatchers, &x->capwatchers, (tr_ref){v[0], v[1]}, v[2]);
    break;
  case TR_SYS_DEMONITOR:
    x = atomic_load_explicit(&a->ext, memory_order_relaxed);
    if (x) monitors_del(x->watchers, &x->nwatchers, v[2], NULL);
    break;
  case TR_SYS_CHILD_EXIT: {
    tr_actor *c = (tr_actor *)(uintptr_t)v[0];
    int reason = (int)(int64_t)v[1];
    child_remove(a, c);
    if (a->beh == &tr_supervisor_behavior && !(atomic_load(&a->state) & TR_AS_EXITING))
      tr_sup_child_exited(a, c, reason);
    retire(w, c);
    if (atomic_load(&a->state) & TR_AS_EXITING) {
      if (a->first_child)
        tr_sys_send(sys, tr_actor_ref(sys, a), tr_actor_ref(sys, a->first_child->sib_prev),
                    TR_SYS_STOP, NULL, 0);
      else
        finish_exit(w, a);
    }
    break;
  }
  case TR_SYS_ADOPT: {
    tr_actor *c = (tr_actor *)(uintptr_t)v[0];
    /* adopted while stopping: it is now the youngest, so it is next */
    child_append(a, c, NULL);
    if (atomic_load(&a->state) & TR_AS_EXITING)
      tr_sys_send(sys, tr_actor_ref(sys, a), tr_actor_ref(sys, c), TR_SYS_STOP, NULL, 0);
    break;
  }
  case TR_SYS_SUP_RETRY:
    if (!(atomic_load(&a->state) & TR_AS_EXITING)) tr_sup_retry(a);
    break;
  default:
    break;
  }
  (void)from;
  return (atomic_load(&a->state) & TR_AS_DEAD) ? RUN_EXITED : RUN_GO_ON;
}

static int dispatch(tr_worker *w, tr_actor *a, tr_mnode *n, int system) {
  if (system) return handle_system(w, a, n);
  if (n->m.flags & (TR_MSG_F_TIMER | TR_MSG_F_REPLY) || n->m.type == TR_SYS_ASK_TIMEOUT) {
    if (n->m.type == TR_SYS_ASK_TIMEOUT) {
      if (!tr_timer_on_message(a, n->m.corr)) {
        tr_msg_release(w->sys, n);
        return RUN_GO_ON;
      }
      n->m.type = TR_MSG_TIMEOUT;
    } else if (n->m.flags & TR_MSG_F_TIMER) {
      if (!tr_timer_on_message(a, n->m.corr)) { /* cancelled */
        tr_msg_release(w->sys, n);
        return RUN_GO_ON;
      }
    } else if (!tr_timer_ask_done(a, n->m.corr)) {
      tr_dl_record(w->sys->dl, tr_actor_ref(w->sys, a), &n->m, TR_DL_LATE_REPLY);
      tr_msg_release(w->sys, n);
      return RUN_GO_ON;
    }
  } else if (n->m.type == TR_SYS_PASSIVATE) {
    tr_msg_release(w->sys, n); /* virtual.c: everything before it was handled */
    if (!tr_persist_settled(a)) { /* its next activation must find every write */
      a->flags |= TR_AF_PASSIVATE_WAIT;
      return RUN_GO_ON;
    }
    return after_callback(w, a, TR_STOP);
  } else if (n->m.type >= TR_MSG_SYSTEM && n->m.type != TR_MSG_PERSISTED &&
             !(n->m.type == TR_SYS_VIRTUAL && a->beh == &tr_vdir_behavior)) {
    tr_msg_release(w->sys, n); /* forged system type in a user box */
    return RUN_GO_ON;
  }
  return deliver_to_behavior(w, a, n);
}

/* While exiting or recovering an actor handles only system messages. */
#define TR_AS_SYS_ONLY (TR_AS_EXITING | TR_AS_RECOVERING)

static inline int has_work(tr_actor *a) {
  if (tr_mbox_nonempty(&a->sysbox)) return 1;
  if (atomic_load_explicit(&a->state, memory_order_relaxed) & TR_AS_SYS_ONLY) return 0;
  return tr_mbox_nonempty(&a->mbox);
}

/* Gives up ownership of a, then looks again: a sender that saw it scheduled
 * did not queue it. Returns 1 if ownership was taken back (the caller queues
 * it), 0 if it is idle now. */
static int go_idle(tr_actor *a) {
  atomic_fetch_and(&a->state, ~(uint32_t)TR_AS_SCHEDULED);
  if (!has_work(a)) return 0;
  uint32_t st = atomic_load(&a->state);
  return !(st & TR_AS_SCHEDULED) &&
         atomic_compare_exchange_strong(&a->state, &st, st | TR_AS_SCHEDULED);
}

void tr_actor_run(tr_worker *w, tr_actor *a) {
  uint32_t budget = w->sys->cfg.batch, done = 0;
  uint32_t out = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
  while (done < budget) {
    int system = 1;
    tr_mnode *n = tr_mbox_pop(&a->sysbox);
    if (!n) {
      if (atomic_load_explicit(&a->state, memory_order_relaxed) & TR_AS_SYS_ONLY) break;
      n = tr_mbox_pop(&a->mbox);
      if (!n) break;
      system = 0;
    }
    atomic_store_explicit(&a->mb_out, ++out, memory_order_relaxed);
    done++;
    w->cur = a;
    int r = dispatch(w, a, n, system);
    w->cur = NULL;
    tr_batch_flush(w);
    if (r == RUN_EXITED) {
      atomic_store_explicit(&a->processed, atomic_load_explicit(&a->processed, memory_order_relaxed) + done,
                            memory_order_relaxed);
      return; /* gone: the parent owns what is left of it */
    }
  }
  atomic_store_explicit(&a->processed, atomic_load_explicit(&a->processed, memory_order_relaxed) + done,
                        memory_order_relaxed);
  if (has_work(a)) {
    /* a flooded actor goes back into runnext, where the senders that flood
     * it on this thread find it and help (msg.c) */
    if (w->helping || tr_actor_depth(a) > TR_HELP_DEPTH)
      tr_sched_make_runnable(w->sys, a);
    else
      tr_sched_requeue(w, a);
    return;
  }
  if (go_idle(a)) tr_sched_requeue(w, a);
}

/* ------------------------------------------------------------ spawn */

/* Allocates and zeroes an actor with a fresh id; NULL if out of memory. */
static tr_actor *actor_new(tr_system *sys, tr_worker *w, const tr_behavior *b) {
  int mine = w && w->sys == sys;
  size_t size = sizeof(tr_actor) + ((b->state_size + 15) & ~(size_t)15);
  unsigned cls = tr_pool_class_of(size);
  tr_actor *a = cls == TR_POOL_MALLOC ? malloc(size)
                                      : tr_pool_alloc(&sys->pool, mine ? &w->cache : NULL, cls);
  if (!a) return NULL;
  memset(a, 0, sizeof(tr_actor) + b->state_size);
  a->id = tr_slots_take(sys->slots, mine ? w->slot_cache : NULL, mine ? &w->nslot_cache : NULL,
                        128);
  if (!a->id) {
    tr_pool_free(&sys->pool, mine ? &w->cache : NULL, a, cls);
    return NULL;
  }
  tr_mbox_init(&a->mbox);
  tr_mbox_init(&a->sysbox);
  atomic_init(&a->state, TR_AS_SCHEDULED); /* owned by the spawner until released */
  a->pool_cls = (uint8_t)cls;
  a->beh = b;
  return a;
}

/* Undoes actor_new for an actor nobody has seen. */
static void actor_discard(tr_system *sys, tr_worker *w, tr_actor *a) {
  int mine = w && w->sys == sys;
  tr_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
  if (x) {
    free(atomic_load(&x->name));
    tr_persist_free(x->persist);
    free(x);
  }
  tr_slots_give(sys->slots, a->id, mine ? w->slot_cache : NULL, mine ? &w->nslot_cache : NULL,
                128);
  tr_pool_free(&sys->pool, mine ? &w->cache : NULL, a, a->pool_cls);
}

int tr_actor_spawn_under(tr_system *sys, tr_actor *parent, int adopt, const tr_behavior *b,
                         const void *arg, const tr_spawn_opts *opts, tr_actor *after,
                         uint16_t extra_flags, tr_ref *out, tr_actor **out_ptr,
                         struct tr_persist_data *persist) {
  int rc = 0;
  if (!sys || !b || !b->receive || (opts && opts->overflow > TR_OVERFLOW_DROP))
    rc = TR_EINVAL;
  else if (b->state_size > (1u << 30))
    rc = TR_ETOOBIG;
  else if (atomic_load(&sys->stopping) || (parent && (atomic_load(&parent->state) & TR_AS_DEAD)))
    rc = TR_ESTOPPED;
  if (rc < 0) {
    tr_persist_free(persist);
    return rc;
  }
  tr_sched_checkpoint(sys);
  tr_worker *w = tr_tls_worker;
  int mine = w && w->sys == sys;
  tr_actor *a = actor_new(sys, w, b);
  if (!a) {
    tr_persist_free(persist);
    return TR_ENOMEM;
  }
  a->parent = parent;
  a->flags = extra_flags;
  if (opts) {
    a->mailbox_bound = opts->mailbox_bound;
    a->overflow = opts->overflow;
    if (opts->flags & TR_SPAWN_TRAP_EXIT) a->flags |= TR_AF_TRAP_EXIT;
  }
  tr_ref self = tr_actor_ref(sys, a);
  if (persist || (opts && opts->name)) {
    tr_actor_ext *x = tr_actor_ext_get(a);
    if (!x) {
      tr_persist_free(persist);
      actor_discard(sys, w, a);
      return TR_ENOMEM;
    }
    x->persist = persist; /* the actor owns it from here */
    if (persist) atomic_fetch_or(&a->state, TR_AS_RECOVERING);
    if (opts && opts->name) {
      char *nm = strdup(opts->name);
      rc = nm ? tr_registry_add(sys, opts->name, self) : TR_ENOMEM;
      if (rc < 0) {
        free(nm);
        actor_discard(sys, w, a);
        return rc;
      }
      atomic_store(&x->name, nm);
    }
  }
  tr_slots_publish(sys->slots, a->id, a);
  atomic_fetch_add(&sys->nactors, 1);
  /* from here on the actor exists: failures go through the exit path */
  int direct = !adopt;
  if (direct && parent && mine) a->flags |= TR_AF_SPAWNING;
  if (parent) {
    if (direct) {
      child_append(parent, a, after);
    } else {
      uint64_t v[1] = {(uint64_t)(uintptr_t)a};
      tr_sys_send(sys, self, tr_actor_ref(sys, parent), TR_SYS_ADOPT, v, 1);
    }
  }
  if (opts && (opts->flags & TR_SPAWN_LINK) && parent) {
    tr_actor_ext *xa = tr_actor_ext_get(a);
    if (xa) tr_linkset_add(&xa->links, tr_actor_ref(sys, parent));
    if (direct) {
      tr_actor_ext *xp = tr_actor_ext_get(parent);
      if (xp) tr_linkset_add(&xp->links, self);
    } else {
      uint64_t v[2] = {self.node, self.id};
      tr_sys_send(sys, self, tr_actor_ref(sys, parent), TR_SYS_LINK, v, 2);
    }
  }
  tr_system *saved_sys = tr_tls_sys;
  tr_tls_sys = sys;
  rc = b->init ? b->init(a, a->state_mem, arg) : 0;
  if (rc < 0) a->flags |= TR_AF_INIT_FAILED;
  if (rc == 0 && persist && !(a->flags & TR_AF_STOP_AFTER)) rc = tr_persist_start_recovery(a);
  if (rc != 0 || (a->flags & TR_AF_STOP_AFTER)) {
    begin_exit(w, a, rc == TR_STOP ? 0 : rc);
    if (rc == TR_STOP) rc = 0;
  }
  tr_tls_sys = saved_sys;
  if (out) *out = self;
  if (out_ptr) *out_ptr = a;
  if (a->flags & TR_AF_SPAWNING) {
    a->flags &= (uint16_t)~TR_AF_SPAWNING;
    if (atomic_load(&a->state) & TR_AS_DEAD) {
      /* no CHILD_EXIT round trip for an actor that never got going */
      child_remove(parent, a);
      retire(w, a);
      return rc;
    }
  }
  if (atomic_load(&a->state) & TR_AS_DEAD) return rc;
  /* release ownership: queue it if messages arrived during init */
  if (has_work(a) || go_idle(a)) tr_sched_make_runnable(sys, a);
  return rc;
}

int tr_actor_spawn(tr_ctx *ctx, const tr_behavior *b, const void *arg, const tr_spawn_opts *opts,
                   tr_ref *out) {
  if (!ctx) return TR_EINVAL;
  return tr_actor_spawn_under(tr_actor_system(ctx), ctx, 0, b, arg, opts, NULL, 0, out, NULL, NULL);
}
