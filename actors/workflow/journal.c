/* journal.c - an instance's journal and the notes that fill it (inst.h).
 *
 * The journal holds only what came from outside, each with the wall-clock
 * time it happened (epoch ms), which is the interpreter's "now" when the
 * event is applied, live or replayed:
 *
 *   [1, def, key, version, vars: bin, bk, time, start, msg, parent]  started
 *       (start: element id of the start event, msg: message name, parent:
 *       the parent's wait id; "" when not given)
 *   [2, wait, vars: bin, time, ""]        a job completed
 *   [3, wait, vars: bin, time, ""]        a user task completed
 *   [4, wait, vars: bin, time, ""]        a message was delivered
 *   [5, wait, nil, time, ""]              a timer fired
 *   [6, wait, vars: bin, time, code]      a job raised BPMN error `code`
 *   [7, wait, vars: bin, time, code]      a child instance ended (code: its
 *                                         uncaught BPMN error, "" when none)
 *   [8, time]                             wfhist took the end record
 *   [9, time]                             the parent took our end note
 *
 * The first format's [1, def, key, version, vars, bk] and [2, wait, vars]
 * replay as well (time 0: "now" stays where it was).
 *
 * A note (a job's, an index's, a child's) is acked to its sender only once
 * the event it caused is durable; a repeated note finds no waiting token
 * and is acked at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/inst.h"

int wf_keep_event(inst *s, const evrec *in) {
  if (s->nev == s->capev) {
    int cap = s->capev ? s->capev * 2 : 8;
    evrec *e = realloc(s->ev, (size_t)cap * sizeof *e);
    if (!e) return TR_ENOMEM;
    s->ev = e;
    s->capev = cap;
  }
  evrec *e = &s->ev[s->nev];
  *e = *in;
  e->vars = in->len ? malloc(in->len) : NULL;
  if (in->len && !e->vars) return TR_ENOMEM;
  if (in->len) memcpy(e->vars, in->vars, in->len);
  s->nev++;
  return 0;
}

static int apply_started(inst *s, tr_unpack *u, uint32_t n) {
  const void *v;
  size_t vl;
  uint64_t version;
  int64_t time = 0;
  if (tr_unpack_str_copy(u, s->def_id, sizeof s->def_id) < 0 ||
      tr_unpack_str_copy(u, s->key, sizeof s->key) < 0 || tr_unpack_uint(u, &version) < 0 ||
      tr_unpack_bin(u, &v, &vl) < 0 || tr_unpack_str_copy(u, s->bk, sizeof s->bk) < 0)
    return TR_ECORRUPT;
  if (n >= 10 && (tr_unpack_int(u, &time) < 0 ||
                  tr_unpack_str_copy(u, s->start_el, sizeof s->start_el) < 0 ||
                  tr_unpack_str_copy(u, s->start_msg, sizeof s->start_msg) < 0 ||
                  tr_unpack_str_copy(u, s->parent, sizeof s->parent) < 0))
    return TR_ECORRUPT;
  s->start_time = time;
  s->version = (uint32_t)version;
  free(s->vars);
  s->vars = vl ? malloc(vl) : NULL;
  if (vl && !s->vars) return TR_ENOMEM;
  if (vl) memcpy(s->vars, v, vl);
  s->vlen = vl;
  return 0;
}

int wf_journal_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len) {
  (void)ctx;
  inst *s = st;
  tr_unpack u;
  uint32_t n;
  uint64_t kind, wait;
  tr_unpack_init(&u, data, len);
  if (tr_unpack_array(&u, &n) < 0 || tr_unpack_uint(&u, &kind) < 0) goto bad;
  if (kind == EV_STARTED && (n == 6 || n == 10)) {
    if (apply_started(s, &u, n) == 0) return 0;
  } else if (kind == EV_HIST_ACKED || kind == EV_PARENT_ACKED) {
    if (kind == EV_HIST_ACKED) s->hist_ended_ok = s->hist_started_ok = 1;
    else s->parent_acked = 1;
    return 0;
  } else if (((kind >= EV_JOB_DONE && kind <= EV_CHILD_DONE) || kind == EV_CANCELED) &&
             (n == 5 || (kind == EV_JOB_DONE && n == 3))) {
    evrec e = {.kind = (int)kind};
    const void *v = NULL;
    size_t vl = 0;
    if (tr_unpack_uint(&u, &wait) < 0 || wait > INT32_MAX) goto bad;
    if (tr_unpack_peek(&u) == TR_MP_NIL) tr_unpack_nil(&u);
    else if (tr_unpack_bin(&u, &v, &vl) < 0) goto bad;
    if (n == 5 && (tr_unpack_int(&u, &e.time) < 0 ||
                   tr_unpack_str_copy(&u, e.code, sizeof e.code) < 0))
      goto bad;
    e.wait = (int32_t)wait;
    e.vars = (uint8_t *)v;
    e.len = vl;
    return wf_keep_event(s, &e);
  }
bad:
  tr_log(TR_LOG_WARN, "workflow", "instance %s: event %llu is not an instance event; skipped",
         s->id, (unsigned long long)seq);
  return 0;
}

int wf_journal_started(tr_ctx *ctx, inst *s, uint64_t *seq) {
  tr_pack ev = TR_PACK_INIT;
  tr_pack_array(&ev, 10);
  tr_pack_uint(&ev, EV_STARTED);
  tr_pack_str(&ev, s->def_id);
  tr_pack_str(&ev, s->key);
  tr_pack_uint(&ev, s->version);
  tr_pack_bin(&ev, s->vars, s->vlen);
  tr_pack_str(&ev, s->bk);
  tr_pack_int(&ev, s->start_time);
  tr_pack_str(&ev, s->start_el);
  tr_pack_str(&ev, s->start_msg);
  tr_pack_str(&ev, s->parent);
  int rc = ev.err ? ev.err : tr_persist_append(ctx, ev.data, ev.len, seq);
  tr_pack_free(&ev);
  return rc;
}

/* Journals an outside event, then applies it (the same code as a replay). */
int wf_journal_event(tr_ctx *ctx, inst *s, evrec *e) {
  tr_pack ev = TR_PACK_INIT;
  uint64_t seq;
  tr_pack_array(&ev, 5);
  tr_pack_uint(&ev, (uint64_t)e->kind);
  tr_pack_uint(&ev, (uint64_t)e->wait);
  if (e->kind == EV_TIMER) tr_pack_nil(&ev);
  else tr_pack_bin(&ev, e->vars, e->len);
  tr_pack_int(&ev, e->time);
  tr_pack_str(&ev, e->code);
  int rc = ev.err ? ev.err : tr_persist_append(ctx, ev.data, ev.len, &seq);
  tr_pack_free(&ev);
  if (rc < 0) return rc;
  return wf_apply_event(ctx, s, e);
}

int wf_journal_mark(tr_ctx *ctx, int kind) {
  uint8_t buf[16];
  tr_pack pk;
  uint64_t seq;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_array(&pk, 2);
  tr_pack_uint(&pk, (uint64_t)kind);
  tr_pack_int(&pk, wf_wall_ms());
  return pk.err ? pk.err : tr_persist_append(ctx, pk.data, pk.len, &seq);
}

/* ------------------------------------------------------------ acks */

static int ack_later(tr_ctx *ctx, inst *s, uint32_t type, const char *name, const char *id,
                     size_t idlen) {
  if (s->nacks == s->capacks) {
    int cap = s->capacks ? s->capacks * 2 : 8;
    ackq *a = realloc(s->acks, (size_t)cap * sizeof *a);
    if (!a) return TR_ENOMEM;
    s->acks = a;
    s->capacks = cap;
  }
  ackq *a = &s->acks[s->nacks++];
  a->seq = tr_persist_seq(ctx); /* durable once this is: what the note caused */
  a->type = type;
  snprintf(a->name, sizeof a->name, "%s", name);
  snprintf(a->id, sizeof a->id, "%.*s", (int)idlen, id);
  return 0;
}

void wf_send_acks(tr_ctx *ctx, inst *s) {
  int k = 0;
  for (int i = 0; i < s->nacks; i++) {
    ackq *a = &s->acks[i];
    if (a->seq > s->acked) {
      s->acks[k++] = *a;
      continue;
    }
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "id", a->id);
    if (!pk.err) tr_virtual_send(ctx, a->name, a->type, pk.data, pk.len);
    tr_pack_free(&pk);
  }
  s->nacks = k;
}

/* "<this instance>:<n>" (not NUL-terminated): n, or -1. */
static int32_t wait_of(const inst *s, const char *id, size_t len) {
  size_t il = strlen(s->id);
  if (len <= il + 1 || memcmp(id, s->id, il) || id[il] != ':' || len - il - 1 > 10) return -1;
  int64_t w = 0;
  for (size_t i = il + 1; i < len; i++) {
    if (id[i] < '0' || id[i] > '9') return -1;
    w = w * 10 + (id[i] - '0');
  }
  return w > 0 && w <= INT32_MAX ? (int32_t)w : -1;
}

/* A job's note: {id, topic, key "<instance>:<wait>", vars?, code?}. */
int wf_on_job_note(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u, v;
  const char *key, *job, *topic;
  size_t kl, jl, tl;
  evrec e = {.kind = m->type == TR_JOB_DONE ? EV_JOB_DONE : EV_JOB_ERROR};
  const void *vars = NULL;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "key", &key, &kl) < 0 || tr_unpack_find_str(&u, "id", &job, &jl) < 0 ||
      tr_unpack_find_str(&u, "topic", &topic, &tl) < 0 || jl >= 300 || tl > TR_JOB_TOPIC_MAX)
    return 0;
  if (s->state == I_LOADING) return 0; /* not ready: the queue sends it again */
  if (tr_unpack_find(&u, "vars", &v) == 0) tr_unpack_raw(&v, &vars, &e.len);
  if (e.kind == EV_JOB_ERROR) {
    const char *code;
    size_t cl;
    if (tr_unpack_find_str(&u, "code", &code, &cl) < 0) code = "", cl = 0;
    snprintf(e.code, sizeof e.code, "%.*s", (int)cl, code);
  }
  e.vars = (uint8_t *)vars;
  e.wait = wait_of(s, key, kl);
  e.time = wf_wall_ms();
  int ti = e.wait > 0 && s->state == I_RUNNING ? wf_find_wait(s, e.wait, W_JOB) : -1;
  if (ti >= 0) {
    if (e.kind == EV_JOB_DONE) waits_emit(ctx, s, "job.completed", &s->t[ti]);
    int rc = wf_journal_event(ctx, s, &e);
    if (rc < 0) return rc;
  }
  char name[TR_VIRTUAL_NAME_MAX + 1], t[TR_JOB_TOPIC_MAX + 1];
  snprintf(t, sizeof t, "%.*s", (int)tl, topic);
  if (tr_job_queue_name(t, name, sizeof name) < 0) return 0;
  return ack_later(ctx, s, TR_JOB_ACK, name, job, jl);
}

/* An index's or a child's note: {id: wait id, from, vars?, error?}. */
int wf_on_idx_note(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u, v;
  const char *id, *from;
  size_t il, fl;
  const void *vars = NULL;
  evrec e = {.kind = m->type == TR_WF_TASK_DONE   ? EV_TASK_DONE
                     : m->type == TR_WF_MSG_DELIVER ? EV_MSG
                                                    : EV_CHILD_DONE};
  int kind = e.kind == EV_TASK_DONE ? W_TASK : e.kind == EV_MSG ? W_MSG : W_CALL;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "id", &id, &il) < 0 || tr_unpack_find_str(&u, "from", &from, &fl) < 0 ||
      il >= 300 || fl > TR_VIRTUAL_NAME_MAX)
    return 0;
  if (s->state == I_LOADING) return 0; /* not ready: sent again */
  if (tr_unpack_find(&u, "vars", &v) == 0) tr_unpack_raw(&v, &vars, &e.len);
  const char *code;
  size_t cl;
  if (tr_unpack_find_str(&u, "error", &code, &cl) == 0)
    snprintf(e.code, sizeof e.code, "%.*s", (int)cl, code);
  e.vars = (uint8_t *)vars;
  e.wait = wait_of(s, id, il);
  e.time = wf_wall_ms();
  int ti = e.wait > 0 && s->state == I_RUNNING ? wf_find_wait(s, e.wait, kind) : -1;
  if (ti >= 0) {
    if (kind == W_TASK) waits_emit(ctx, s, "task.completed", &s->t[ti]);
    int rc = wf_journal_event(ctx, s, &e);
    if (rc < 0) return rc;
  }
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, "%.*s", (int)fl, from);
  if (tr_virtual_name_check(name) < 0) return 0;
  return ack_later(ctx, s, TR_WF_IDX_ACK, name, id, il);
}

/* Our timer: {wait, due} as the arming put it. */
int wf_on_timer(tr_ctx *ctx, inst *s, const tr_msg *m) {
  struct { int32_t wait; int64_t due; } d;
  if (m->len != sizeof d || s->state != I_RUNNING) return 0;
  memcpy(&d, m->data, sizeof d);
  int ti = wf_find_wait(s, d.wait, W_TIMER);
  if (ti < 0 || s->t[ti].due != d.due) return 0; /* stale: cancelled or moved on */
  s->t[ti].tid = 0;
  int64_t now = wf_wall_ms();
  evrec e = {.kind = EV_TIMER, .wait = d.wait, .time = now > d.due ? now : d.due};
  return wf_journal_event(ctx, s, &e);
}

/* The parent took our end note: {id} */
/* The parent cancels this child (its call activity was interrupted): a
 * journaled event ends it like a terminate, and the ack follows once that
 * is durable; an instance that is not running acks at once. */
int wf_on_cancel(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u;
  const char *id, *from;
  size_t il, fl;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "id", &id, &il) < 0 || tr_unpack_find_str(&u, "from", &from, &fl) < 0 ||
      il >= 128 || !fl || fl > TR_VIRTUAL_NAME_MAX)
    return 0;
  if (s->state == I_LOADING || (s->starting && s->state == I_NEW)) return 0; /* sent again */
  if (s->state == I_RUNNING) {
    evrec e = {.kind = EV_CANCELED, .time = wf_wall_ms()};
    int rc = wf_journal_event(ctx, s, &e);
    if (rc < 0) return rc;
  }
  char to[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(to, sizeof to, "%.*s", (int)fl, from);
  return ack_later(ctx, s, TR_WF_IDX_ACK, to, id, il);
}

int wf_on_ack(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u;
  const char *id;
  size_t il;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "id", &id, &il) < 0) return 0;
  for (int i = 0; i < s->ncancels; i++) /* a child took our cancel */
    if (s->cancels[i].type == TR_WF_CANCEL && strlen(s->cancels[i].id) == il &&
        !memcmp(s->cancels[i].id, id, il)) {
      s->cancels[i] = s->cancels[--s->ncancels];
      return 0;
    }
  if (!s->parent[0] || s->parent_acked || il != strlen(s->parent) || memcmp(id, s->parent, il))
    return 0;
  s->parent_acked = 1;
  return wf_journal_mark(ctx, EV_PARENT_ACKED);
}
