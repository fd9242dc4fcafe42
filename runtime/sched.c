/* sched.c - scheduler threads.
 *
 * Each worker runs a libuv loop (timers, wake-ups, later I/O) and a local run
 * queue of actors: a 256-slot ring the owner fills at the tail and anyone
 * empties at the head, plus a `runnext` slot for the actor this thread just
 * made runnable, so a request and its reply stay hot in one core's cache.
 * Idle workers spin for cfg.spin_us, stealing half of a busy worker's ring,
 * then sleep in uv_run(UV_RUN_ONCE) until a timer or uv_async wakes them.
 * A worker is woken only when there is more work than its owner can start
 * now, never once per message.
 */
#include <stdlib.h>
#include <string.h>
#include <sched.h>

#include "core.h"
#include "timer.h"

_Thread_local tr_worker *tr_tls_worker;

#define GLOBAL_CHECK_EVERY 61   /* fairness: look at the global queue first */
#define RUNNEXT_STREAK_MAX 128  /* runnext may starve the ring this long */
#define MAINT_EVERY 64          /* actor runs between loop polls and EBR work */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ------------------------------------------------------------ global queue */

static void gq_push_list(tr_system *sys, tr_actor *first, tr_actor *last, uint32_t n) {
  last->run_next = NULL;
  pthread_mutex_lock(&sys->gq_lock);
  if (sys->gq_tail)
    sys->gq_tail->run_next = first;
  else
    sys->gq_head = first;
  sys->gq_tail = last;
  atomic_fetch_add(&sys->gq_len, n);
  pthread_mutex_unlock(&sys->gq_lock);
}

/* Takes one actor from the global queue and, for a worker, up to half its
 * ring's room more into the ring. */
static tr_actor *gq_take(tr_system *sys, tr_worker *w) {
  if (!atomic_load_explicit(&sys->gq_len, memory_order_relaxed)) return NULL;
  pthread_mutex_lock(&sys->gq_lock);
  tr_actor *a = sys->gq_head;
  if (!a) {
    pthread_mutex_unlock(&sys->gq_lock);
    return NULL;
  }
  uint32_t len = atomic_load(&sys->gq_len);
  uint32_t n = len / sys->nworkers + 1;
  if (n > TR_RUNQ_SIZE / 2) n = TR_RUNQ_SIZE / 2;
  sys->gq_head = a->run_next;
  uint32_t taken = 1;
  if (w) {
    uint32_t t = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&w->rq_head, memory_order_acquire);
    while (taken < n && sys->gq_head && t - h < TR_RUNQ_SIZE) {
      tr_actor *b = sys->gq_head;
      sys->gq_head = b->run_next;
      atomic_store_explicit(&w->rq[t % TR_RUNQ_SIZE], b, memory_order_relaxed);
      t++;
      taken++;
    }
    atomic_store_explicit(&w->rq_tail, t, memory_order_release);
  }
  if (!sys->gq_head) sys->gq_tail = NULL;
  atomic_fetch_sub(&sys->gq_len, taken);
  pthread_mutex_unlock(&sys->gq_lock);
  return a;
}

/* ------------------------------------------------------------ local queue */

/* Ring full: move half of it plus a to the global queue. */
static void rq_put_slow(tr_worker *w, tr_actor *a, uint32_t h, uint32_t t) {
  uint32_t n = (t - h) / 2;
  tr_actor *batch[TR_RUNQ_SIZE / 2 + 1];
  for (uint32_t i = 0; i < n; i++)
    batch[i] = atomic_load_explicit(&w->rq[(h + i) % TR_RUNQ_SIZE], memory_order_relaxed);
  if (!atomic_compare_exchange_strong(&w->rq_head, &h, h + n)) {
    /* thieves took some meanwhile: there is room now */
    t = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
    atomic_store_explicit(&w->rq[t % TR_RUNQ_SIZE], a, memory_order_relaxed);
    atomic_store_explicit(&w->rq_tail, t + 1, memory_order_release);
    return;
  }
  batch[n] = a;
  for (uint32_t i = 0; i < n; i++) batch[i]->run_next = batch[i + 1];
  gq_push_list(w->sys, batch[0], a, n + 1);
}

static void rq_put(tr_worker *w, tr_actor *a) {
  uint32_t h = atomic_load_explicit(&w->rq_head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
  if (t - h >= TR_RUNQ_SIZE) {
    rq_put_slow(w, a, h, t);
    return;
  }
  atomic_store_explicit(&w->rq[t % TR_RUNQ_SIZE], a, memory_order_relaxed);
  atomic_store_explicit(&w->rq_tail, t + 1, memory_order_release);
}

static tr_actor *rq_get(tr_worker *w) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&w->rq_head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
    if (t == h) return NULL;
    tr_actor *a = atomic_load_explicit(&w->rq[h % TR_RUNQ_SIZE], memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&w->rq_head, &h, h + 1, memory_order_release,
                                              memory_order_relaxed))
      return a;
  }
}

static inline uint32_t rq_len(tr_worker *w) {
  uint32_t h = atomic_load_explicit(&w->rq_head, memory_order_acquire);
  uint32_t t = atomic_load_explicit(&w->rq_tail, memory_order_acquire);
  return t - h;
}

/* Steals half of v's ring into w's ring, as much as it has room for;
 * returns one actor. If v's ring is empty, takes v's runnext only when v has
 * not run any actor since w last looked: v is stuck in a long callback and
 * would strand it. */
static tr_actor *rq_steal(tr_worker *w, tr_worker *v) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&v->rq_head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&v->rq_tail, memory_order_acquire);
    uint32_t n = t - h;
    if (n > TR_RUNQ_SIZE) continue; /* inconsistent snapshot */
    if (n == 0) {
      tr_actor *rn = atomic_load_explicit(&v->runnext, memory_order_acquire);
      uint64_t prog = atomic_load_explicit(&v->progress, memory_order_relaxed);
      uint64_t *seen = &w->seen_progress[v->index & 63];
      if (!rn || prog != *seen) {
        *seen = prog;
        return NULL;
      }
      if (atomic_compare_exchange_strong(&v->runnext, &rn, NULL)) return rn;
      return NULL;
    }
    n = n - n / 2;
    uint32_t wt = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
    /* w's ring need not be empty: the maintenance between find_local and
     * find_remote runs commands and timers (a batch of store acks makes
     * hundreds of actors runnable). Copying past its room would overwrite
     * queued actors (lost, though marked scheduled) with stolen ones (then
     * queued twice) */
    uint32_t room = TR_RUNQ_SIZE - (wt - atomic_load_explicit(&w->rq_head, memory_order_acquire));
    if (n > room) n = room;
    if (n == 0) return rq_get(w);
    for (uint32_t i = 0; i < n; i++) {
      tr_actor *a = atomic_load_explicit(&v->rq[(h + i) % TR_RUNQ_SIZE], memory_order_relaxed);
      atomic_store_explicit(&w->rq[(wt + i) % TR_RUNQ_SIZE], a, memory_order_relaxed);
    }
    if (!atomic_compare_exchange_strong_explicit(&v->rq_head, &h, h + n, memory_order_acq_rel,
                                                 memory_order_relaxed))
      continue;
    /* keep the last one to run now, publish the rest */
    tr_actor *a = atomic_load_explicit(&w->rq[(wt + n - 1) % TR_RUNQ_SIZE], memory_order_relaxed);
    if (n > 1) atomic_store_explicit(&w->rq_tail, wt + n - 1, memory_order_release);
    return a;
  }
}

/* ------------------------------------------------------------ wake-ups */

static void wake_one(tr_system *sys) {
  if (atomic_load(&sys->nspinning) > 0) return;
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    tr_worker *v = &sys->workers[i];
    int expect = 1;
    if (atomic_load_explicit(&v->sleeping, memory_order_relaxed) &&
        atomic_compare_exchange_strong(&v->sleeping, &expect, 0)) {
      atomic_fetch_sub(&sys->nsleeping, 1);
      uv_async_send(&v->wake);
      return;
    }
  }
}

void tr_sched_make_runnable(tr_system *sys, tr_actor *a) {
  tr_worker *w = tr_tls_worker;
  if (w && w->sys == sys) {
    /* a timer or I/O callback of the sleeping loop: the loop runs due
     * timers before it blocks, and would block with this actor in its
     * runnext, where no other thread takes it and later senders see it
     * scheduled and wake no one. uv_stop makes this turn not block. */
    if (w->in_poll) uv_stop(&w->loop);
    tr_actor *cur = atomic_load_explicit(&w->runnext, memory_order_relaxed);
    if (cur && tr_actor_depth(cur) >
                   TR_HELP_DEPTH) {
      /* a flooded actor keeps runnext, where its senders can help it */
      rq_put(w, a);
    } else {
      tr_actor *old = atomic_exchange_explicit(&w->runnext, a, memory_order_acq_rel);
      if (!old) return;
      rq_put(w, old);
    }
    /* more runnable actors than this thread can start now */
    if (atomic_load_explicit(&sys->nsleeping, memory_order_relaxed) > 0) wake_one(sys);
    return;
  }
  gq_push_list(sys, a, a, 1);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(&sys->nsleeping) > 0) wake_one(sys);
}

void tr_sched_requeue(tr_worker *w, tr_actor *a) {
  rq_put(w, a);
  if (atomic_load_explicit(&w->sys->nsleeping, memory_order_relaxed) > 0 && rq_len(w) > 1)
    wake_one(w->sys);
}

/* ------------------------------------------------------------ worker loop */

static tr_actor *find_local(tr_worker *w) {
  tr_system *sys = w->sys;
  if (++w->ticks % GLOBAL_CHECK_EVERY == 0) {
    tr_actor *a = gq_take(sys, w);
    if (a) return a;
  }
  if (w->runnext_streak < RUNNEXT_STREAK_MAX) {
    tr_actor *a = atomic_load_explicit(&w->runnext, memory_order_relaxed);
    if (a && atomic_compare_exchange_strong(&w->runnext, &a, NULL)) {
      /* a flooded actor may keep this thread: its backlog is work that
       * other threads' actors add to, and the ring can still be stolen */
      if (tr_actor_depth(a) <=
          TR_HELP_DEPTH)
        w->runnext_streak++;
      return a;
    }
  }
  w->runnext_streak = 0;
  tr_actor *a = rq_get(w);
  if (a) return a;
  a = atomic_load_explicit(&w->runnext, memory_order_relaxed);
  if (a && atomic_compare_exchange_strong(&w->runnext, &a, NULL)) return a;
  return gq_take(sys, w);
}

static tr_actor *find_remote(tr_worker *w) {
  tr_system *sys = w->sys;
  tr_actor *a = gq_take(sys, w);
  if (a) return a;
  uint32_t n = sys->nworkers;
  uint32_t start = (uint32_t)(w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull) % n;
  for (uint32_t i = 0; i < n; i++) {
    tr_worker *v = &sys->workers[(start + i) % n];
    if (v == w) continue;
    a = rq_steal(w, v);
    if (a) return a;
  }
  return NULL;
}

typedef struct {
  tr_worker_fn fn;
  void *arg;
} command;

int tr_sched_post(tr_worker *w, tr_worker_fn fn, void *arg) {
  command c = {fn, arg};
  tr_mnode *n = tr_msg_new(w->sys, TR_REF_NONE, 0, 0, 0, &c, sizeof c);
  if (!n) return TR_ENOMEM;
  tr_mbox_push(&w->cmds, n);
  uv_async_send(&w->wake);
  return 0;
}

static void run_commands(tr_worker *w) {
  tr_mnode *n;
  while ((n = tr_mbox_pop(&w->cmds)) != NULL) {
    command c;
    memcpy(&c, n->m.data, sizeof c);
    tr_msg_release(w->sys, n);
    c.fn(w, c.arg);
  }
}

static void maintenance(tr_worker *w) {
  tr_ebr_quiescent(&w->sys->ebr, w->ebr);
  tr_ebr_collect(&w->sys->ebr, &w->limbo);
  run_commands(w);
  uv_run(&w->loop, UV_RUN_NOWAIT);
}

void tr_sched_checkpoint(tr_system *sys) {
  tr_worker *w = tr_tls_worker;
  if (!w || w->sys != sys || w->ebr->depth != 1) return;
  if (++w->checkpoints % 64) return;
  tr_batch_flush(w); /* the batch holds its target's pointer */
  tr_ebr_quiescent(&sys->ebr, w->ebr);
  tr_ebr_collect(&sys->ebr, &w->limbo);
}

static void on_wake(uv_async_t *h) { (void)h; /* the loop returning is the point */ }

static void worker_main(void *arg) {
  tr_worker *w = arg;
  tr_system *sys = w->sys;
  tr_tls_worker = w;
  tr_tls_sys = sys;
  w->ebr = tr_ebr_rec_acquire(&sys->ebr);
  tr_ebr_enter(&sys->ebr, w->ebr);
  uint64_t runs = 0;
  for (;;) {
    tr_actor *a = find_local(w);
    if (a) {
      tr_actor_run(w, a);
      atomic_store_explicit(&w->progress, ++runs, memory_order_relaxed);
      if (runs % MAINT_EVERY == 0) maintenance(w);
      continue;
    }
    maintenance(w);
    if (atomic_load(&sys->stopping)) break;
    a = find_remote(w);
    if (a) {
      tr_actor_run(w, a);
      atomic_store_explicit(&w->progress, ++runs, memory_order_relaxed);
      continue;
    }
    /* spin for a while before sleeping: a wake-up costs ~11 us here */
    atomic_fetch_add(&sys->nspinning, 1);
    uint64_t deadline = uv_hrtime() + (uint64_t)sys->cfg.spin_us * 1000;
    uint32_t k = 0;
    while (!a) {
      for (int i = 0; i < 64; i++) cpu_relax();
      a = find_local(w);
      if (!a) a = find_remote(w);
      if (a || atomic_load(&sys->stopping)) break;
      if ((++k & 15) == 0) {
        uv_update_time(&w->loop);
        run_commands(w);
        if (uv_hrtime() > deadline) break;
      }
    }
    atomic_fetch_sub(&sys->nspinning, 1);
    if (a) {
      tr_actor_run(w, a);
      atomic_store_explicit(&w->progress, ++runs, memory_order_relaxed);
      continue;
    }
    if (atomic_load(&sys->stopping)) break;
    /* sleep: announce, re-check everything, then block in the loop */
    atomic_store(&w->sleeping, 1);
    atomic_fetch_add(&sys->nsleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&sys->gq_len) || rq_len(w) || atomic_load(&w->runnext) ||
        tr_mbox_nonempty(&w->cmds) || atomic_load(&sys->stopping)) {
      int expect = 1;
      if (atomic_compare_exchange_strong(&w->sleeping, &expect, 0))
        atomic_fetch_sub(&sys->nsleeping, 1);
      continue;
    }
    tr_ebr_offline(w->ebr);
    w->ebr->depth = 0;
    w->in_poll = 1;
    uv_run(&w->loop, UV_RUN_ONCE);
    w->in_poll = 0;
    tr_ebr_enter(&sys->ebr, w->ebr);
    int expect = 1;
    if (atomic_compare_exchange_strong(&w->sleeping, &expect, 0))
      atomic_fetch_sub(&sys->nsleeping, 1);
  }
  /* leaving: timers and handles go with the loop */
  run_commands(w);
  tr_timer_close_all(w);
  uv_close((uv_handle_t *)&w->wake, NULL);
  while (uv_run(&w->loop, UV_RUN_NOWAIT)) {
  }
  tr_ebr_exit(w->ebr);
}

int tr_sched_start(tr_system *sys) {
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    tr_worker *w = &sys->workers[i];
    w->sys = sys;
    w->index = i;
    w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
    tr_mbox_init(&w->cmds);
    if (uv_loop_init(&w->loop) != 0) return TR_ENOMEM;
    w->loop_ready = 1;
    if (uv_async_init(&w->loop, &w->wake, on_wake) != 0) return TR_ENOMEM;
    w->wake.data = w;
  }
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    if (uv_thread_create(&sys->workers[i].thread, worker_main, &sys->workers[i]) != 0)
      return TR_ENOMEM;
    sys->workers[i].started = 1;
  }
  return 0;
}

void tr_sched_stop(tr_system *sys) {
  atomic_store(&sys->stopping, 1);
  for (uint32_t i = 0; i < sys->nworkers; i++)
    if (sys->workers[i].started) uv_async_send(&sys->workers[i].wake);
  for (uint32_t i = 0; i < sys->nworkers; i++)
    if (sys->workers[i].started) uv_thread_join(&sys->workers[i].thread);
  for (uint32_t i = 0; i < sys->nworkers; i++) {
    tr_worker *w = &sys->workers[i];
    if (w->loop_ready) uv_loop_close(&w->loop);
  }
}
