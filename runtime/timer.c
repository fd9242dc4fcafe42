/* timer.c - see timer.h. */
#include "timer.h"

#include <stdlib.h>
#include <string.h>


static void timer_unref(tr_timer *t) {
  if (atomic_fetch_sub(&t->refs, 1) == 1) free(t);
}

static void on_close(uv_handle_t *h) { timer_unref((tr_timer *)h->data); }

static void stop_close(tr_timer *t) {
  if (t->closing || !t->started) return; /* not started: CMD_START drops it */
  t->closing = 1;
  uv_timer_stop(&t->uv);
  uv_close((uv_handle_t *)&t->uv, on_close);
}

static void on_fire(uv_timer_t *h) {
  tr_timer *t = h->data;
  tr_system *sys = t->sys;
  if (atomic_load(&t->cancelled)) {
    stop_close(t);
    return;
  }
  if (t->repeat) {
    if (atomic_load(&t->in_flight)) return; /* previous tick not handled yet */
    atomic_store(&t->in_flight, 1);
  }
  tr_mnode *n = tr_msg_new(sys, TR_REF_NONE, t->is_ask ? TR_SYS_ASK_TIMEOUT : t->type,
                           t->is_ask ? 0 : TR_MSG_F_TIMER, t->id, t->data, t->len);
  int rc = TR_ENOMEM;
  if (n) {
    tr_worker *w = tr_tls_worker;
    tr_ebr_enter(&sys->ebr, w->ebr);
    rc = tr_deliver(sys, t->target, n, 0);
    tr_ebr_exit(w->ebr);
  }
  if (rc < 0 && rc != TR_ENOMEM) {
    stop_close(t); /* the actor is gone */
    return;
  }
  if (!t->repeat) stop_close(t);
}

/* t->owner is set before: a timer's owner is written once, by its creator,
 * and read by whichever thread cancels it (after the actor's messages, so
 * after that write). Writing it again here, even the same value, raced with
 * a cancel on another worker (TSan). */
static void start_on_loop(tr_worker *w, tr_timer *t) {
  t->started = 1;
  uv_timer_init(&w->loop, &t->uv);
  t->uv.data = t;
  uv_update_time(&w->loop);
  uv_timer_start(&t->uv, on_fire, t->delay, t->repeat);
}

/* Worker commands (sched.c): run on the timer's loop thread. */
static void cmd_start(tr_worker *w, void *arg) {
  tr_timer *t = arg;
  if (atomic_load(&t->cancelled) || atomic_load(&w->sys->stopping))
    timer_unref(t); /* the loop's reference: never started */
  else
    start_on_loop(w, t);
}

static void cmd_close(tr_worker *w, void *arg) {
  tr_timer *t = arg;
  if (t->owner == w) stop_close(t);
  timer_unref(t); /* the command's reference */
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (h->type == UV_TIMER && !uv_is_closing(h)) stop_close((tr_timer *)h->data);
}

void tr_timer_close_all(tr_worker *w) { uv_walk(&w->loop, close_walk, NULL); }

/* ------------------------------------------------------------ actor side */

static int table_add(tr_actor_ext *x, uint64_t id, tr_timer *t, int is_ask) {
  if (x->ntimers == x->captimers) {
    uint32_t cap = x->captimers ? x->captimers * 2 : 4;
    void *v = realloc(x->timers, cap * sizeof *x->timers);
    if (!v) return TR_ENOMEM;
    x->timers = v;
    x->captimers = cap;
  }
  x->timers[x->ntimers].id = id;
  x->timers[x->ntimers].t = t;
  x->timers[x->ntimers].is_ask = (uint8_t)is_ask;
  x->ntimers++;
  return 0;
}

static int table_find(tr_actor_ext *x, uint64_t id) {
  if (!x) return -1;
  for (uint32_t i = 0; i < x->ntimers; i++)
    if (x->timers[i].id == id) return (int)i;
  return -1;
}

static void table_del(tr_actor_ext *x, int i) { x->timers[i] = x->timers[--x->ntimers]; }

int tr_timer_create(tr_ctx *a, uint64_t delay_ms, uint64_t repeat_ms, uint32_t type,
                    const void *data, size_t len, int is_ask, uint64_t *id) {
  tr_system *sys = tr_actor_system(a);
  if (len > UINT32_MAX || (len && !data)) return TR_EINVAL;
  tr_actor_ext *x = tr_actor_ext_get(a);
  if (!x) return TR_ENOMEM;
  tr_timer *t = calloc(1, sizeof *t + len);
  if (!t) return TR_ENOMEM;
  t->sys = sys;
  t->target = tr_actor_ref(sys, a);
  t->id = tr_next_id(sys);
  t->delay = delay_ms;
  t->repeat = repeat_ms;
  t->type = type;
  t->is_ask = (uint8_t)is_ask;
  t->len = (uint32_t)len;
  if (len) memcpy(t->data, data, len);
  atomic_init(&t->refs, 2); /* the actor's table and the loop */
  if (table_add(x, t->id, t, is_ask) < 0) {
    free(t);
    return TR_ENOMEM;
  }
  tr_worker *w = tr_tls_worker;
  if (w && w->sys == sys) {
    t->owner = w;
    start_on_loop(w, t);
  } else {
    t->owner = &sys->workers[0];
    /* init running outside the schedulers: let worker 0 start it */
    if (tr_sched_post(&sys->workers[0], cmd_start, t) < 0) {
      table_del(x, table_find(x, t->id));
      free(t);
      return TR_ENOMEM;
    }
  }
  if (id) *id = t->id;
  return 0;
}

static void cancel_timer(tr_timer *t) {
  atomic_store(&t->cancelled, 1);
  tr_worker *w = tr_tls_worker;
  if (w == t->owner) {
    stop_close(t);
  } else {
    atomic_fetch_add(&t->refs, 1);
    if (tr_sched_post(t->owner, cmd_close, t) < 0) timer_unref(t); /* fires once, then closes */
  }
  timer_unref(t); /* the actor's reference */
}

int tr_timer_cancel_id(tr_ctx *a, uint64_t id) {
  tr_actor_ext *x = a->ext;
  int i = table_find(x, id);
  if (i < 0) return TR_ENOENT;
  tr_timer *t = x->timers[i].t;
  table_del(x, i);
  cancel_timer(t);
  return 0;
}

int tr_timer_on_message(tr_ctx *a, uint64_t id) {
  tr_actor_ext *x = a->ext;
  int i = table_find(x, id);
  if (i < 0) return 0;
  tr_timer *t = x->timers[i].t;
  if (t->repeat) {
    atomic_store(&t->in_flight, 0);
    return 1;
  }
  table_del(x, i);
  timer_unref(t);
  return 1;
}

int tr_timer_ask_done(tr_ctx *a, uint64_t corr) {
  tr_actor_ext *x = a->ext;
  int i = table_find(x, corr);
  if (i < 0 || !x->timers[i].is_ask) return 0;
  tr_timer *t = x->timers[i].t;
  table_del(x, i);
  cancel_timer(t);
  return 1;
}

void tr_timer_cancel_all(tr_ctx *a) {
  tr_actor_ext *x = a->ext;
  if (!x) return;
  while (x->ntimers) {
    tr_timer *t = x->timers[x->ntimers - 1].t;
    x->ntimers--;
    cancel_timer(t);
  }
  free(x->timers);
  x->timers = NULL;
  x->captimers = 0;
}

int tr_timer_start(tr_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms, uint32_t type,
                   const void *data, size_t len, uint64_t *id) {
  if (!ctx || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  return tr_timer_create(ctx, delay_ms, repeat_ms, type, data, len, 0, id);
}

int tr_timer_cancel(tr_ctx *ctx, uint64_t id) {
  if (!ctx) return TR_EINVAL;
  return tr_timer_cancel_id(ctx, id);
}
