/* interp.c - the interpreter: moves an instance's tokens through its model
 * (inst.h). It decides everything from the model, the variables and the
 * time of the event being applied (s->now), never from the clock or the
 * outside, so a replay of the journal ends where the live run did. Its
 * effects on the outside go through waits.c, which does nothing while
 * ctx is NULL (a replay). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/inst.h"
#include "actors/workflow/vars.h"

enum { MAX_ACTS = 4096 }; /* activity records kept per instance; more are not recorded */

static void pump(tr_ctx *ctx, inst *s);

int wf_fail(inst *s, const char *what, const char *el) {
  if (s->state != I_RUNNING) return 0;
  s->state = I_FAILED;
  s->end_time = s->now;
  snprintf(s->error, sizeof s->error, "%s%s%s", what, el ? ": " : "", el ? el : "");
  tr_log(TR_LOG_WARN, "workflow", "instance %s failed: %s", s->id, s->error);
  return 0;
}

const char *wf_state_name(int st) {
  return st == I_COMPLETED ? "completed" : st == I_FAILED ? "failed"
                                         : st == I_TERMINATED ? "terminated" : "running";
}

int wf_token_index(const inst *s, int id) {
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].id == id && s->t[i].state != T_GONE) return i;
  return -1;
}

int wf_find_wait(const inst *s, int32_t w, int kind) {
  for (int i = 0; i < s->nt; i++) {
    const token *t = &s->t[i];
    if (t->wait == w && (t->state == T_WAIT || t->state == T_BOUND) && (!kind || t->kind == kind))
      return i;
  }
  return -1;
}

/* ------------------------------------------------------------ tokens and acts */

static int act_open(inst *s, int32_t el) {
  if (s->nacts >= MAX_ACTS) return -1;
  if (s->nacts == s->capacts) {
    int cap = s->capacts ? s->capacts * 2 : 16;
    actrec *a = realloc(s->acts, (size_t)cap * sizeof *a);
    if (!a) return -1; /* history is best effort; the run is not */
    s->acts = a;
    s->capacts = cap;
  }
  s->acts[s->nacts] = (actrec){.el = el, .start = s->now, .end = -1};
  return s->nacts++;
}

static void act_close(inst *s, int a, int canceled) {
  if (a < 0 || a >= s->nacts || s->acts[a].end >= 0) return;
  s->acts[a].end = s->now;
  s->acts[a].canceled = canceled;
}

/* A new active token at el (an activity record too when act); its index
 * or -1 (out of memory). Indices into s->t move: keep ids across calls. */
static int token_new(inst *s, int32_t el, int scope, int act) {
  if (s->nt == s->cap) {
    int cap = s->cap ? s->cap * 2 : 8;
    token *t = realloc(s->t, (size_t)cap * sizeof *t);
    if (!t) return -1;
    s->t = t;
    s->cap = cap;
  }
  token *t = &s->t[s->nt];
  *t = (token){.id = ++s->next_token, .state = T_ACTIVE, .el = el, .scope = scope, .act = -1,
               .left = -1};
  if (act) t->act = act_open(s, el);
  return s->nt++;
}

static void gone(inst *s, int ti, int canceled) {
  token *t = &s->t[ti];
  act_close(s, t->act, canceled);
  t->act = -1;
  free(t->local);
  t->local = NULL;
  t->llen = 0;
  t->state = T_GONE;
}

/* The timer and message boundary tokens of token id leave with it. */
static void drop_boundaries(tr_ctx *ctx, inst *s, int id) {
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].state == T_BOUND && s->t[i].host == id) {
      waits_cancel(ctx, s, i);
      gone(s, i, 1);
    }
}

/* Interrupts token ti and everything inside it (a subprocess's tokens). */
static void cancel_token(tr_ctx *ctx, inst *s, int ti) {
  int id = s->t[ti].id;
  if (s->t[ti].state == T_SCOPE)
    for (int i = 0; i < s->nt; i++)
      if (s->t[i].scope == id && s->t[i].state != T_GONE) cancel_token(ctx, s, i);
  drop_boundaries(ctx, s, id);
  if (s->t[ti].state == T_WAIT || s->t[ti].state == T_BOUND) waits_cancel(ctx, s, ti);
  gone(s, ti, 1);
}

/* ------------------------------------------------------------ moving on */

static int cond_true(inst *s, const tr_wf_flow *f, int *out) {
  if (!f->condition) {
    *out = 1;
    return 0;
  }
  tr_wf_vars_view v = {s->vars, s->vlen};
  tr_wf_expr_error err;
  bool b = false;
  int rc = tr_wf_expr_eval_bool(f->condition, tr_wf_vars_lookup, &v, &b, &err);
  *out = b;
  if (rc < 0) wf_fail(s, err.message[0] ? err.message : "condition failed", f->id);
  return rc;
}

/* Moves token ti out of its element along the flows whose conditions hold
 * (exclusive: the first), else the default; more flows, more tokens. */
static int leave(inst *s, int ti, int exclusive) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  act_close(s, s->t[ti].act, 0);
  s->t[ti].act = -1;
  free(s->t[ti].local);
  s->t[ti].local = NULL;
  s->t[ti].llen = 0;
  if (e->n_out == 0) { /* an implicit end */
    s->t[ti].state = T_GONE;
    return 0;
  }
  int32_t go[64];
  int n = 0;
  for (int32_t i = 0; i < e->n_out && n < 64; i++) {
    int32_t fi = e->out[i];
    if (fi == e->default_flow) continue;
    int ok;
    if (cond_true(s, &s->model->flows[fi], &ok) < 0) return -1;
    if (ok) go[n++] = fi;
    if (ok && exclusive) break;
  }
  if (!n && e->default_flow >= 0) go[n++] = e->default_flow;
  if (!n) return wf_fail(s, "no outgoing flow can be taken", e->id), -1;
  token *t = &s->t[ti];
  t->el = s->model->flows[go[0]].target;
  t->state = T_ACTIVE;
  t->kind = W_NONE;
  t->wait = 0;
  t->act = act_open(s, t->el);
  int scope = t->scope;
  for (int i = 1; i < n; i++)
    if (token_new(s, s->model->flows[go[i]].target, scope, 1) < 0)
      return wf_fail(s, "out of memory", NULL), -1;
  return 0;
}

/* An activity's token leaves normally: outputs, boundaries gone, flows. */
static int complete(tr_ctx *ctx, inst *s, int ti) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  if (e->n_outputs && io_outputs(s, &s->t[ti], e) < 0)
    return wf_fail(s, "an output mapping failed", e->id), -1;
  drop_boundaries(ctx, s, s->t[ti].id);
  return leave(s, ti, 0);
}

/* Token ti starts waiting for a wait of kind; its effect (a job, a task, a
 * subscription, a timer, a child) goes out unless replaying. */
static int wait_on(tr_ctx *ctx, inst *s, int ti, int kind) {
  token *t = &s->t[ti];
  t->state = T_WAIT;
  t->kind = kind;
  t->wait = ++s->next_wait; /* the same number on every replay */
  t->confirmed = 0;
  t->since = s->now;
  if (kind == W_TIMER && waits_timer_due(s, t, &s->model->elements[t->el]) < 0)
    return wf_fail(s, "the timer has no valid value", s->model->elements[t->el].id), -1;
  waits_enter(ctx, s, ti);
  return 0;
}

static int message_ok(inst *s, const tr_wf_element *e) {
  if (e->message >= 0 && s->model->messages[e->message].name) return 0;
  return wf_fail(s, "a message event needs a message with a name", e->id), -1;
}

/* A token enters an activity: its inputs, its own wait (kind, or none),
 * then its timer and message boundary events, each a wait of its own
 * (unless it passes straight through: nothing could happen meanwhile). */
static int enter(tr_ctx *ctx, inst *s, int ti, int kind) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  if (e->n_inputs && io_inputs(s, &s->t[ti], e) < 0)
    return wf_fail(s, "an input mapping failed", e->id), -1;
  if (kind && wait_on(ctx, s, ti, kind) < 0) return -1;
  if (!kind && e->type != TR_WF_SUBPROCESS) return 0;
  int host = s->t[ti].id, scope = s->t[ti].scope;
  for (int32_t i = 0; i < e->n_boundaries; i++) {
    int32_t b = e->boundaries[i];
    const tr_wf_element *be = &s->model->elements[b];
    if (be->event != TR_WF_EV_TIMER && be->event != TR_WF_EV_MESSAGE) continue;
    if (be->event == TR_WF_EV_MESSAGE && message_ok(s, be) < 0) return -1;
    int bi = token_new(s, b, scope, 0);
    if (bi < 0) return wf_fail(s, "out of memory", NULL), -1;
    s->t[bi].host = host;
    if (wait_on(ctx, s, bi, be->event == TR_WF_EV_TIMER ? W_TIMER : W_MSG) < 0) return -1;
    s->t[bi].state = T_BOUND;
  }
  return 0;
}

/* ------------------------------------------------------------ errors, ends */

static int error_matches(const inst *s, const tr_wf_element *b, const char *code) {
  if (b->event != TR_WF_EV_ERROR) return 0;
  if (b->error < 0) return 1; /* no error ref: catches any */
  const tr_wf_error *er = &s->model->errors[b->error];
  const char *want = er->code ? er->code : er->name ? er->name : "";
  return strcmp(want, code) == 0;
}

/* A BPMN error raised at token id hid (an activity: its own boundary events
 * first) goes out scope by scope to the first error boundary event that
 * matches; none: a child instance passes it to its parent, else it fails. */
static int throw_at(tr_ctx *ctx, inst *s, int hid, const char *code) {
  while (hid) {
    int hi = wf_token_index(s, hid);
    if (hi < 0) break;
    const tr_wf_element *he = &s->model->elements[s->t[hi].el];
    for (int32_t i = 0; i < he->n_boundaries; i++) {
      int32_t b = he->boundaries[i];
      if (!error_matches(s, &s->model->elements[b], code)) continue;
      int scope = s->t[hi].scope;
      cancel_token(ctx, s, hi);
      return token_new(s, b, scope, 1) < 0 ? (wf_fail(s, "out of memory", NULL), -1) : 0;
    }
    hid = s->t[hi].scope;
  }
  if (s->parent[0]) { /* the call activity in the parent may catch it */
    for (int i = 0; i < s->nt; i++)
      if (s->t[i].state != T_GONE) cancel_token(ctx, s, i);
    snprintf(s->err_code, sizeof s->err_code, "%s", code);
    snprintf(s->error, sizeof s->error, "BPMN error %s", code);
    s->state = I_TERMINATED;
    s->end_time = s->now;
    return 0;
  }
  return wf_fail(s, "a BPMN error without a boundary event", code);
}

static int end_event(tr_ctx *ctx, inst *s, int ti) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  int scope = s->t[ti].scope;
  if (e->event == TR_WF_EV_NONE) {
    gone(s, ti, 0);
  } else if (e->event == TR_WF_EV_TERMINATE) {
    /* ends its scope only: the process, or the subprocess it is in */
    gone(s, ti, 0);
    for (int i = 0; i < s->nt; i++)
      if (s->t[i].state != T_GONE && s->t[i].scope == scope) cancel_token(ctx, s, i);
  } else if (e->event == TR_WF_EV_ERROR) {
    const tr_wf_error *er = e->error >= 0 ? &s->model->errors[e->error] : NULL;
    const char *code = er ? (er->code ? er->code : er->name ? er->name : "") : "";
    gone(s, ti, 0);
    return throw_at(ctx, s, scope, code);
  } else {
    return wf_fail(s, "end event not supported", e->id), -1;
  }
  return 0;
}

/* ------------------------------------------------------------ joins */

/* Whether element `to` can be reached from `from` along flows (and the
 * boundary events of what lies between). */
static int reachable(const tr_wf_model *m, int32_t from, int32_t to, char *seen) {
  int32_t stack[256];
  int sp = 0;
  memset(seen, 0, (size_t)m->n_elements);
  stack[sp++] = from;
  seen[from] = 1;
  while (sp) {
    int32_t el = stack[--sp];
    if (el == to) return 1;
    const tr_wf_element *e = &m->elements[el];
    for (int32_t i = 0; i < e->n_out + e->n_boundaries; i++) {
      int32_t nx = i < e->n_out ? m->flows[e->out[i]].target : e->boundaries[i - e->n_out];
      if (nx < 0 || seen[nx]) continue;
      seen[nx] = 1;
      if (sp == 256) return 1; /* too deep to tell: assume it may come */
      stack[sp++] = nx;
    }
  }
  return 0;
}

/* An inclusive join fires when no other token of its scope can still
 * reach it (a token inside a subprocess counts as the subprocess). */
static int inclusive_ready(inst *s, int ji) {
  const token *j = &s->t[ji];
  char *seen = malloc((size_t)s->model->n_elements + 1);
  if (!seen) return 0;
  int ready = 1;
  for (int i = 0; i < s->nt && ready; i++) {
    const token *k = &s->t[i];
    if (i == ji || k->state == T_GONE || k->scope != j->scope) continue;
    if (k->state == T_JOIN && k->el == j->el) continue;
    if (reachable(s->model, k->el, j->el, seen)) ready = 0;
  }
  free(seen);
  return ready;
}

/* Fires the join at token ji's element: the others there are consumed. */
static int join_fire(inst *s, int ji) {
  for (int i = 0; i < s->nt; i++)
    if (i != ji && s->t[i].state == T_JOIN && s->t[i].el == s->t[ji].el &&
        s->t[i].scope == s->t[ji].scope)
      gone(s, i, 0);
  return leave(s, ji, 0);
}

static int parallel(inst *s, int ti) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  if (e->n_in <= 1) return leave(s, ti, 0);
  int here = 1;
  for (int i = 0; i < s->nt; i++)
    here += i != ti && s->t[i].state == T_JOIN && s->t[i].el == s->t[ti].el &&
            s->t[i].scope == s->t[ti].scope;
  if (here < e->n_in) {
    s->t[ti].state = T_JOIN; /* waits for one token per incoming flow */
    return 0;
  }
  return join_fire(s, ti);
}

/* With no active token left: subprocesses whose insides are done complete,
 * inclusive joins that nothing can reach any more fire. 1 if one did. */
static int settle(tr_ctx *ctx, inst *s) {
  for (int i = 0; i < s->nt; i++) {
    if (s->t[i].state != T_SCOPE) continue;
    int inside = 0;
    for (int k = 0; k < s->nt && !inside; k++)
      inside = s->t[k].scope == s->t[i].id && s->t[k].state != T_GONE;
    if (!inside) {
      complete(ctx, s, i);
      return 1;
    }
  }
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].state == T_JOIN && s->model->elements[s->t[i].el].type == TR_WF_INCLUSIVE_GATEWAY &&
        inclusive_ready(s, i)) {
      join_fire(s, i);
      return 1;
    }
  return 0;
}

/* ------------------------------------------------------------ the pump */

static int step(tr_ctx *ctx, inst *s, int ti) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  switch (e->type) {
  case TR_WF_START_EVENT:
  case TR_WF_BOUNDARY_EVENT: /* a boundary event's token: it fired */
    return leave(s, ti, 0);
  case TR_WF_THROW_EVENT:
    return e->event == TR_WF_EV_NONE ? leave(s, ti, 0) : wf_fail(s, "event not supported", e->id);
  case TR_WF_END_EVENT:
    return end_event(ctx, s, ti);
  case TR_WF_TASK:
    if (enter(ctx, s, ti, W_NONE) < 0) return -1;
    return complete(ctx, s, ti);
  case TR_WF_SEND_TASK:
  case TR_WF_SERVICE_TASK:
    if (!e->topic && e->type == TR_WF_SEND_TASK) { /* no worker sends it: passes */
      if (enter(ctx, s, ti, W_NONE) < 0) return -1;
      return complete(ctx, s, ti);
    }
    if (!e->topic) return wf_fail(s, "only external service tasks are supported", e->id);
    return enter(ctx, s, ti, W_JOB);
  case TR_WF_USER_TASK:
    return enter(ctx, s, ti, W_TASK);
  case TR_WF_RECEIVE_TASK:
    if (message_ok(s, e) < 0) return -1;
    return enter(ctx, s, ti, W_MSG);
  case TR_WF_CATCH_EVENT:
    if (e->event == TR_WF_EV_MESSAGE) return message_ok(s, e) < 0 ? -1 : wait_on(ctx, s, ti, W_MSG);
    if (e->event == TR_WF_EV_TIMER) return wait_on(ctx, s, ti, W_TIMER);
    return wf_fail(s, "event not supported", e->id);
  case TR_WF_CALL_ACTIVITY:
    if (!e->called_element) return wf_fail(s, "a call activity needs calledElement", e->id);
    return enter(ctx, s, ti, W_CALL);
  case TR_WF_SUBPROCESS: {
    if (e->start < 0) return wf_fail(s, "a subprocess needs a none start event", e->id);
    if (enter(ctx, s, ti, W_NONE) < 0) return -1;
    s->t[ti].state = T_SCOPE;
    int scope = s->t[ti].id;
    return token_new(s, e->start, scope, 1) < 0 ? -1 : 0;
  }
  case TR_WF_EXCLUSIVE_GATEWAY:
    return leave(s, ti, 1);
  case TR_WF_PARALLEL_GATEWAY:
    return parallel(s, ti);
  case TR_WF_INCLUSIVE_GATEWAY:
    if (e->n_in <= 1) return leave(s, ti, 0); /* a fork: every flow whose condition holds */
    s->t[ti].state = T_JOIN; /* settle() fires it */
    return 0;
  default:
    return wf_fail(s, "element not supported", e->id);
  }
}

/* Runs every active token until it waits or ends. */
static void pump(tr_ctx *ctx, inst *s) {
  for (int guard = 0; guard < 100000 && s->state == I_RUNNING; guard++) {
    int ti = -1;
    for (int i = 0; i < s->nt && ti < 0; i++)
      if (s->t[i].state == T_ACTIVE) ti = i;
    if (ti < 0) {
      if (settle(ctx, s)) continue;
      break;
    }
    if (step(ctx, s, ti) < 0 && s->state == I_RUNNING) wf_fail(s, "out of memory", NULL);
  }
  /* drop finished tokens; none left = completed */
  int k = 0;
  for (int i = 0; i < s->nt; i++) {
    if (s->t[i].state != T_GONE) s->t[k++] = s->t[i];
    else free(s->t[i].local);
  }
  s->nt = k;
  if (s->state == I_RUNNING && !s->nt) {
    s->state = I_COMPLETED;
    s->end_time = s->now;
  }
}

int wf_begin_tokens(tr_ctx *ctx, inst *s, int32_t start) {
  s->state = I_RUNNING;
  if (token_new(s, start, 0, 1) < 0) return TR_ENOMEM;
  pump(ctx, s);
  return 0;
}

/* A timer or message boundary event of a waiting activity happened. */
static int boundary_fired(tr_ctx *ctx, inst *s, int bi) {
  const tr_wf_element *be = &s->model->elements[s->t[bi].el];
  if (be->cancel_activity) {
    int hi = wf_token_index(s, s->t[bi].host);
    s->t[bi].state = T_GONE; /* not cancelled with its host: it goes on */
    if (hi >= 0) cancel_token(ctx, s, hi);
    s->t[bi].state = T_ACTIVE;
    s->t[bi].kind = W_NONE;
    s->t[bi].wait = 0;
    s->t[bi].act = act_open(s, s->t[bi].el);
    return 0;
  }
  int scope = s->t[bi].scope, el = s->t[bi].el;
  if (token_new(s, el, scope, 1) < 0) return wf_fail(s, "out of memory", NULL), -1;
  token *b = &s->t[bi]; /* after token_new: the array may have moved */
  if (b->kind == W_MSG) { /* a message is taken once: subscribe again */
    b->wait = ++s->next_wait;
    b->confirmed = 0;
    waits_enter(ctx, s, bi);
    return 0;
  }
  /* a cycle fires again, from the last due time, while repetitions last */
  if (be->timer.kind == TR_WF_TIMER_CYCLE && b->left != 0) {
    int64_t next;
    if (tr_wf_duration_add(&be->timer.duration, b->due, &next) == 0 && next > b->due &&
        (!be->timer.end_ms || next <= be->timer.end_ms)) {
      b->due = next;
      waits_enter(ctx, s, bi);
      return 0;
    }
  }
  gone(s, bi, 0);
  return 0;
}

int wf_apply_event(tr_ctx *ctx, inst *s, const evrec *ev) {
  if (ev->time) s->now = ev->time; /* journals of the first format have no times */
  if (s->state != I_RUNNING) return 0;
  if (ev->kind == EV_CANCELED) { /* the parent's call activity was interrupted */
    for (int i = 0; i < s->nt; i++)
      if (s->t[i].state != T_GONE) cancel_token(ctx, s, i);
    snprintf(s->error, sizeof s->error, "cancelled by its parent");
    s->state = I_TERMINATED;
    s->end_time = s->now;
    pump(ctx, s); /* drops the gone tokens */
    return 0;
  }
  int kind = ev->kind == EV_JOB_DONE || ev->kind == EV_JOB_ERROR ? W_JOB
             : ev->kind == EV_TASK_DONE                          ? W_TASK
             : ev->kind == EV_MSG                                ? W_MSG
             : ev->kind == EV_TIMER                              ? W_TIMER
             : ev->kind == EV_CHILD_DONE                         ? W_CALL
                                                                 : -1;
  int ti = kind < 0 ? -1 : wf_find_wait(s, ev->wait, kind);
  if (ti < 0) return TR_ENOENT;
  int rc = 0;
  if (kind == W_TIMER) {
    if (s->t[ti].state == T_BOUND) {
      if (s->t[ti].left > 0) s->t[ti].left--;
      rc = boundary_fired(ctx, s, ti);
    } else {
      rc = complete(ctx, s, ti);
    }
  } else if (ev->kind == EV_JOB_ERROR || (kind == W_CALL && ev->code[0])) {
    if (ev->len && kind == W_JOB && io_merge(s, ev->vars, ev->len) < 0)
      return wf_fail(s, "bad variables", NULL), 0;
    rc = throw_at(ctx, s, s->t[ti].id, ev->code);
  } else {
    int mr = kind == W_CALL ? io_call_out(s, &s->model->elements[s->t[ti].el], ev->vars, ev->len)
             : ev->len      ? io_merge(s, ev->vars, ev->len)
                            : 0;
    if (mr < 0) return wf_fail(s, "bad variables", s->model->elements[s->t[ti].el].id), 0;
    rc = s->t[ti].state == T_BOUND ? boundary_fired(ctx, s, ti) : complete(ctx, s, ti);
  }
  (void)rc; /* a failure is the instance's state now */
  pump(ctx, s);
  return 0;
}
