/* waits.c - what an instance asks of the outside world (inst.h): a job
 * for an external task, a user task in wftask/<key>, a subscription in
 * wfmsg/<message>, a timer, a child instance for a call activity, and its
 * record in wfhist/<key>. Every registration is idempotent by its wait id,
 * so it is sent again until answered ok (with a growing pause), and again
 * for every waiting token after a recovery. Nothing here runs during a
 * replay (ctx NULL): the replay only recomputes where the tokens are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/inst.h"
#include "actors/workflow/vars.h"

enum { ASK_MS = 10000, RETRY_MIN_MS = 1000, RETRY_MAX_MS = 30000, KEEP_MS = 20000 };

int64_t wf_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_id(const inst *s, int w, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%d", s->id, w);
}

static int index_name(const char *kind, const char *key, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "%s/%s", kind, key);
  if (n < 0 || (size_t)n >= cap) return TR_EINVAL;
  return tr_virtual_name_check(buf);
}

/* Another try soon: one timer for everything unanswered, its pause growing
 * while nothing answers so an unreachable index costs little. */
void waits_retry_soon(tr_ctx *ctx, inst *s) {
  if (!ctx || s->retry_armed) return;
  uint64_t tid;
  static const int delays[] = {RETRY_MIN_MS, 2000, 5000, 10000, RETRY_MAX_MS};
  int d = delays[s->retry_armed_n < 4 ? s->retry_armed_n : 4];
  if (tr_timer_start(ctx, (uint64_t)d, 0, TM_RETRY, NULL, 0, &tid) == 0) s->retry_armed = 1;
  if (s->retry_armed_n < 4) s->retry_armed_n++;
}

/* The variables an activity's work sees: the instance's, inputs over them. */
static int work_vars(inst *s, const token *t, tr_pack *out) {
  return tr_wf_vars_merge(s->vars, s->vlen, t->local, t->llen, out);
}

void waits_emit(tr_ctx *ctx, inst *s, const char *type, const token *t) {
  if (!ctx) return;
  char id[128];
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, t ? 6 : 4);
  tr_pack_kv_str(&pk, "pi", s->id);
  tr_pack_kv_str(&pk, "key", s->key);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_str(&pk, "state", wf_state_name(s->state));
  if (t) {
    wait_id(s, t->wait, id, sizeof id);
    tr_pack_kv_str(&pk, "id", id);
    tr_pack_kv_str(&pk, "act", s->model ? s->model->elements[t->el].id : "");
  }
  if (!pk.err) tr_wf_emit(ctx, type, pk.data, pk.len);
  tr_pack_free(&pk);
}

/* ------------------------------------------------------------ registrations */

static int ask_job(tr_ctx *ctx, inst *s, token *t, const tr_wf_element *e) {
  char name[TR_VIRTUAL_NAME_MAX + 1], key[128], notify[96];
  if (tr_job_queue_name(e->topic, name, sizeof name) < 0) return TR_EINVAL;
  wait_id(s, t->wait, key, sizeof key);
  snprintf(notify, sizeof notify, TR_WF_KIND "/%s", s->id);
  tr_pack pk = TR_PACK_INIT, v = TR_PACK_INIT;
  int rc = work_vars(s, t, &v);
  tr_pack_map(&pk, v.len ? 8 : 7);
  tr_pack_kv_str(&pk, "key", key);
  tr_pack_kv_str(&pk, "notify", notify);
  tr_pack_kv_str(&pk, "pi", s->id);
  tr_pack_kv_str(&pk, "act", e->id);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_str(&pk, "dk", s->key); /* Camunda's workers see the definition */
  tr_pack_kv_str(&pk, "did", s->def_id);
  if (v.len) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, v.data, v.len);
  }
  if (!rc) rc = pk.err;
  if (!rc) rc = tr_virtual_ask(ctx, name, TR_JOB_CREATE, pk.data, pk.len, ASK_MS, &t->corr);
  tr_pack_free(&pk);
  tr_pack_free(&v);
  return rc;
}

/* camunda:candidateUsers="a, b": an array of trimmed names. */
static void pack_list(tr_pack *pk, const char *csv) {
  uint32_t n = 0;
  for (const char *p = csv; *p;) {
    p += strspn(p, " ,");
    if (!*p) break;
    n++;
    p += strcspn(p, ",");
  }
  tr_pack_array(pk, n);
  for (const char *p = csv; *p;) {
    p += strspn(p, " ,");
    if (!*p) break;
    size_t l = strcspn(p, ",");
    size_t k = l;
    while (k && p[k - 1] == ' ') k--;
    tr_pack_strn(pk, p, k);
    p += l;
  }
}

/* A date attribute (due, follow-up): an ISO date or epoch ms; nil when none. */
static void pack_date(tr_pack *pk, const char *text) {
  int64_t ms;
  char *end;
  long long n = text[0] ? strtoll(text, &end, 10) : 0;
  if (!text[0]) tr_pack_nil(pk);
  else if (!*end) tr_pack_int(pk, n);
  else if (tr_wf_date_parse(text, strlen(text), &ms) == 0) tr_pack_int(pk, ms);
  else tr_pack_nil(pk);
}

/* An attribute's value, ${...} evaluated over the task's variables. */
static void attr(inst *s, const token *t, const char *text, char *buf, size_t cap) {
  if (io_text(s, t, text, buf, cap) < 0) {
    tr_log(TR_LOG_WARN, "workflow", "instance %s: %s cannot be evaluated", s->id, text);
    buf[0] = 0;
  }
}

static int ask_task(tr_ctx *ctx, inst *s, token *t, const tr_wf_element *e) {
  char name[TR_VIRTUAL_NAME_MAX + 1], id[128], buf[512];
  if (index_name(TR_WF_TASK_KIND, s->key, name, sizeof name) < 0) return TR_EINVAL;
  wait_id(s, t->wait, id, sizeof id);
  tr_pack pk = TR_PACK_INIT, v = TR_PACK_INIT;
  int rc = work_vars(s, t, &v);
  tr_pack_map(&pk, 17);
  tr_pack_kv_str(&pk, "id", id);
  tr_pack_kv_str(&pk, "pi", s->id);
  tr_pack_kv_str(&pk, "def", s->def_id);
  tr_pack_kv_str(&pk, "key", s->key);
  tr_pack_kv_str(&pk, "act", e->id);
  tr_pack_kv_str(&pk, "name", e->name ? e->name : "");
  attr(s, t, e->assignee, buf, sizeof buf);
  tr_pack_str(&pk, "assignee");
  if (buf[0]) tr_pack_str(&pk, buf);
  else tr_pack_nil(&pk);
  attr(s, t, e->candidate_users, buf, sizeof buf);
  tr_pack_str(&pk, "cand_users");
  pack_list(&pk, buf);
  attr(s, t, e->candidate_groups, buf, sizeof buf);
  tr_pack_str(&pk, "cand_groups");
  pack_list(&pk, buf);
  attr(s, t, e->form_key, buf, sizeof buf);
  tr_pack_kv_str(&pk, "form_key", buf);
  attr(s, t, e->due_date, buf, sizeof buf);
  tr_pack_str(&pk, "due");
  pack_date(&pk, buf);
  attr(s, t, e->follow_up_date, buf, sizeof buf);
  tr_pack_str(&pk, "follow_up");
  pack_date(&pk, buf);
  attr(s, t, e->priority, buf, sizeof buf);
  tr_pack_kv_int(&pk, "priority", buf[0] ? strtoll(buf, NULL, 10) : 50); /* Camunda's default */
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_int(&pk, "created", t->since); /* the same when sent again */
  tr_pack_str(&pk, "vars");
  if (v.len) tr_pack_raw(&pk, v.data, v.len);
  else tr_pack_map(&pk, 0);
  tr_pack_str(&pk, "fields");
  tr_pack_array(&pk, (uint32_t)e->n_fields);
  for (int32_t i = 0; i < e->n_fields; i++) {
    const tr_wf_form_field *f = &e->fields[i];
    tr_pack_map(&pk, 4);
    tr_pack_kv_str(&pk, "id", f->id ? f->id : "");
    tr_pack_kv_str(&pk, "label", f->label ? f->label : "");
    tr_pack_kv_str(&pk, "type", f->type ? f->type : "string");
    tr_pack_str(&pk, "default");
    if (f->default_value) tr_pack_str(&pk, f->default_value);
    else tr_pack_nil(&pk);
  }
  if (!rc) rc = pk.err;
  if (!rc) rc = tr_virtual_ask(ctx, name, TR_WFT_CREATE, pk.data, pk.len, ASK_MS, &t->corr);
  tr_pack_free(&pk);
  tr_pack_free(&v);
  return rc;
}

static const char *message_name(const inst *s, const token *t) {
  int32_t m = s->model->elements[t->el].message;
  return m >= 0 ? s->model->messages[m].name : NULL;
}

static int ask_subscribe(tr_ctx *ctx, inst *s, token *t) {
  char name[TR_VIRTUAL_NAME_MAX + 1], id[128];
  const char *msg = message_name(s, t);
  if (!msg || index_name(TR_WF_MSG_KIND, msg, name, sizeof name) < 0) return TR_EINVAL;
  wait_id(s, t->wait, id, sizeof id);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 5);
  tr_pack_kv_str(&pk, "id", id);
  tr_pack_kv_str(&pk, "pi", s->id);
  tr_pack_kv_str(&pk, "key", s->key);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_str(&pk, "corr");
  if (s->vlen) tr_pack_raw(&pk, s->vars, s->vlen);
  else tr_pack_map(&pk, 0);
  int rc = pk.err ? pk.err
                  : tr_virtual_ask(ctx, name, TR_WFM_SUBSCRIBE, pk.data, pk.len, ASK_MS, &t->corr);
  tr_pack_free(&pk);
  return rc;
}

static int ask_child(tr_ctx *ctx, inst *s, token *t, const tr_wf_element *e) {
  char name[TR_VIRTUAL_NAME_MAX + 1], parent[128];
  int n = snprintf(name, sizeof name, TR_WF_KIND "/%s-c%d", s->id, t->wait);
  if (n < 0 || (size_t)n >= sizeof name || n - 3 >= 80) return TR_EINVAL; /* an id's size */
  wait_id(s, t->wait, parent, sizeof parent);
  tr_pack pk = TR_PACK_INIT, v = TR_PACK_INIT;
  int rc = io_call_in(s, t, e, &v);
  tr_pack_map(&pk, v.len ? 4 : 3);
  tr_pack_kv_str(&pk, "key", e->called_element);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_str(&pk, "parent", parent);
  if (v.len) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, v.data, v.len);
  }
  if (!rc) rc = pk.err;
  if (!rc) rc = tr_virtual_ask(ctx, name, TR_WF_START, pk.data, pk.len, ASK_MS * 3, &t->corr);
  tr_pack_free(&pk);
  tr_pack_free(&v);
  return rc;
}

static void arm_timer(tr_ctx *ctx, inst *s, token *t) {
  struct { int32_t wait; int64_t due; } d;
  memset(&d, 0, sizeof d); /* no stray padding bytes in the timer's copy */
  d.wait = t->wait;
  d.due = t->due;
  int64_t delay = t->due - wf_wall_ms(); /* overdue (after a recovery): at once */
  if (t->tid) tr_timer_cancel(ctx, t->tid);
  t->tid = 0;
  if (tr_timer_start(ctx, delay > 0 ? (uint64_t)delay : 0, 0, TM_FIRE, &d, sizeof d, &t->tid) < 0)
    waits_retry_soon(ctx, s);
  else
    t->confirmed = 1;
  /* an idle instance is passivated, and its timers with it: a pending
   * timer keeps it busy (a wake-up service is future work, docs) */
  if (!s->keep_armed &&
      tr_timer_start(ctx, KEEP_MS, KEEP_MS, TM_KEEP, NULL, 0, &s->keep_tid) == 0)
    s->keep_armed = 1;
}

/* Sends (again) what token ti waits for. */
static void send_wait(tr_ctx *ctx, inst *s, int ti) {
  token *t = &s->t[ti];
  const tr_wf_element *e = &s->model->elements[t->el];
  int rc = 0;
  switch (t->kind) {
  case W_JOB: rc = ask_job(ctx, s, t, e); break;
  case W_TASK: rc = ask_task(ctx, s, t, e); break;
  case W_MSG: rc = ask_subscribe(ctx, s, t); break;
  case W_CALL: rc = ask_child(ctx, s, t, e); break;
  case W_TIMER: arm_timer(ctx, s, t); return;
  default: return;
  }
  if (rc == TR_EINVAL) /* a name that can never be sent to: no use retrying */
    wf_fail(s, "what this element waits for cannot be addressed", e->id);
  else if (rc < 0)
    waits_retry_soon(ctx, s); /* out of reach: later */
}

void waits_enter(tr_ctx *ctx, inst *s, int ti) {
  if (!ctx) return;
  send_wait(ctx, s, ti);
  const token *t = &s->t[ti];
  if (t->kind == W_JOB) waits_emit(ctx, s, "job.created", t);
  if (t->kind == W_TASK) waits_emit(ctx, s, "task.created", t);
}

static void send_cancel(tr_ctx *ctx, inst *s, struct cancelq *c) {
  tr_pack pk = TR_PACK_INIT;
  if (c->type == TR_WF_CANCEL) { /* to a child: a note, acked (wf_on_ack) */
    char from[96];
    snprintf(from, sizeof from, TR_WF_KIND "/%s", s->id);
    tr_pack_map(&pk, 2);
    tr_pack_kv_str(&pk, "id", c->id);
    tr_pack_kv_str(&pk, "from", from);
    if (!pk.err) tr_virtual_send(ctx, c->name, TR_WF_CANCEL, pk.data, pk.len);
    tr_pack_free(&pk);
    c->corr = 0;
    waits_retry_soon(ctx, s); /* again until the child acks */
    return;
  }
  tr_pack_map(&pk, 2);
  tr_pack_kv_str(&pk, "id", c->id);   /* an index's name for it */
  tr_pack_kv_str(&pk, "key", c->id);  /* a job queue's (the creation's key) */
  if (pk.err || tr_virtual_ask(ctx, c->name, c->type, pk.data, pk.len, ASK_MS, &c->corr) < 0) {
    c->corr = 0;
    waits_retry_soon(ctx, s);
  }
  tr_pack_free(&pk);
}

/* A wait left another way (a boundary event, a terminate): its index
 * registration is cancelled, live or - recorded only - during a replay. */
void waits_cancel(tr_ctx *ctx, inst *s, int ti) {
  token *t = &s->t[ti];
  if (ctx && t->tid) tr_timer_cancel(ctx, t->tid);
  t->tid = 0;
  struct cancelq c = {0};
  if (t->kind == W_TASK && index_name(TR_WF_TASK_KIND, s->key, c.name, sizeof c.name) == 0)
    c.type = TR_WFT_CANCEL;
  const char *msg = t->kind == W_MSG ? message_name(s, t) : NULL;
  if (msg && index_name(TR_WF_MSG_KIND, msg, c.name, sizeof c.name) == 0) c.type = TR_WFM_CANCEL;
  const tr_wf_element *e = s->model ? &s->model->elements[t->el] : NULL;
  if (t->kind == W_JOB && e && e->topic && tr_job_queue_name(e->topic, c.name, sizeof c.name) == 0)
    c.type = TR_JOB_CANCEL; /* withdrawn: no worker gets it any more */
  if (t->kind == W_CALL &&
      snprintf(c.name, sizeof c.name, TR_WF_KIND "/%s-c%d", s->id, t->wait) < (int)sizeof c.name)
    c.type = TR_WF_CANCEL; /* the child ends too */
  if (!c.type) return;
  wait_id(s, t->wait, c.id, sizeof c.id);
  if (s->ncancels == s->capcancels) {
    int cap = s->capcancels ? s->capcancels * 2 : 4;
    struct cancelq *q = realloc(s->cancels, (size_t)cap * sizeof *q);
    if (!q) return; /* out of memory: the index keeps it until the instance's next recovery */
    s->cancels = q;
    s->capcancels = cap;
  }
  s->cancels[s->ncancels] = c;
  if (ctx) send_cancel(ctx, s, &s->cancels[s->ncancels]);
  s->ncancels++;
}

/* Cancels not yet answered (after a recovery: all of them) go out. */
static void send_cancels(tr_ctx *ctx, inst *s) {
  for (int i = 0; i < s->ncancels; i++)
    if (!s->cancels[i].corr) send_cancel(ctx, s, &s->cancels[i]);
}

void waits_resume(tr_ctx *ctx, inst *s) {
  for (int i = 0; s->state == I_RUNNING && i < s->nt; i++)
    if (s->t[i].state == T_WAIT || s->t[i].state == T_BOUND) send_wait(ctx, s, i);
  send_cancels(ctx, s);
}

void waits_retry(tr_ctx *ctx, inst *s) {
  s->retry_armed = 0;
  for (int i = 0; s->state == I_RUNNING && i < s->nt; i++)
    if ((s->t[i].state == T_WAIT || s->t[i].state == T_BOUND) && !s->t[i].confirmed)
      send_wait(ctx, s, i);
  s->parent_sent = 0; /* the note to the parent goes again (waits_ended) */
  send_cancels(ctx, s);
}

int waits_timer_due(inst *s, token *t, const tr_wf_element *e) {
  tr_wf_timer tm = e->timer;
  if (tm.is_expr) { /* evaluated now, over the variables */
    char text[256], err[128];
    if (io_text(s, t, tm.text, text, sizeof text) < 0 ||
        tr_wf_timer_parse(tm.kind, text, strlen(text), &tm, err, sizeof err) < 0)
      return TR_EINVAL;
  }
  switch (tm.kind) {
  case TR_WF_TIMER_DURATION:
    return tr_wf_duration_add(&tm.duration, s->now, &t->due);
  case TR_WF_TIMER_DATE:
    t->due = tm.date_ms;
    return 0;
  case TR_WF_TIMER_CYCLE:
    t->left = tm.repeat;
    if (tm.date_ms > s->now) return tr_wf_duration_add(&tm.duration, tm.date_ms, &t->due);
    return tr_wf_duration_add(&tm.duration, s->now, &t->due);
  default:
    return TR_EINVAL;
  }
}

/* ------------------------------------------------------------ answers */

void waits_reply(tr_ctx *ctx, inst *s, const tr_msg *m) {
  int rc = m->type == TR_MSG_TIMEOUT ? TR_ETIMEDOUT : tr_reply_status(m->data, m->len);
  if (m->corr == s->hist_corr && s->hist_corr) {
    s->hist_corr = 0;
    if (rc < 0) {
      waits_retry_soon(ctx, s);
    } else if (s->hist_sent_ended) {
      s->hist_ended_ok = 1;
      wf_journal_mark(ctx, EV_HIST_ACKED); /* if lost, sent again: harmless */
    } else {
      s->hist_started_ok = 1;
    }
    return;
  }
  for (int i = 0; i < s->ncancels; i++) {
    if (s->cancels[i].corr != m->corr || !m->corr) continue;
    if (rc < 0) { /* again soon */
      s->cancels[i].corr = 0;
      waits_retry_soon(ctx, s);
    } else {
      s->cancels[i] = s->cancels[--s->ncancels];
    }
    return;
  }
  for (int i = 0; i < s->nt; i++) {
    token *t = &s->t[i];
    if (t->corr != m->corr || (t->state != T_WAIT && t->state != T_BOUND)) continue;
    if (t->kind == W_CALL && rc == TR_EEXIST) rc = 0; /* started by an earlier try */
    if (t->kind == W_CALL && rc == TR_ENOENT) {
      wf_fail(s, "the called process is not deployed", s->model->elements[t->el].called_element);
      return;
    }
    if (rc == 0) {
      t->confirmed = 1;
      s->retry_armed_n = 0;
    } else {
      waits_retry_soon(ctx, s);
    }
    return;
  }
}

/* ------------------------------------------------------------ history, parent */

static void pack_acts(tr_pack *pk, const inst *s) {
  tr_pack_array(pk, (uint32_t)s->nacts);
  for (int i = 0; i < s->nacts; i++) {
    const actrec *a = &s->acts[i];
    const tr_wf_element *e = &s->model->elements[a->el];
    char id[128];
    snprintf(id, sizeof id, "%s#%d", s->id, i);
    tr_pack_map(pk, 7);
    tr_pack_kv_str(pk, "id", id);
    tr_pack_kv_str(pk, "act", e->id);
    tr_pack_kv_str(pk, "type", tr_wf_type_name(e->type));
    tr_pack_kv_str(pk, "name", e->name ? e->name : "");
    tr_pack_kv_int(pk, "start", a->start);
    tr_pack_str(pk, "end");
    if (a->end >= 0) tr_pack_int(pk, a->end);
    else tr_pack_nil(pk);
    tr_pack_str(pk, "canceled");
    tr_pack_bool(pk, a->canceled);
  }
}

void wf_pack_acts(tr_pack *pk, const inst *s) { pack_acts(pk, s); }

static void send_hist(tr_ctx *ctx, inst *s, int ended) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  if (index_name(TR_WF_HIST_KIND, s->key, name, sizeof name) < 0) return;
  tr_pack pk = TR_PACK_INIT;
  if (!ended) {
    tr_pack_map(&pk, 6);
    tr_pack_kv_str(&pk, "pi", s->id);
    tr_pack_kv_str(&pk, "def", s->def_id);
    tr_pack_kv_str(&pk, "key", s->key);
    tr_pack_kv_int(&pk, "version", s->version);
    tr_pack_kv_str(&pk, "bk", s->bk);
    tr_pack_kv_int(&pk, "start", s->start_time);
  } else {
    tr_pack_map(&pk, 5);
    tr_pack_kv_str(&pk, "pi", s->id);
    tr_pack_kv_str(&pk, "state", wf_state_name(s->state));
    tr_pack_kv_int(&pk, "end", s->end_time);
    tr_pack_kv_str(&pk, "error", s->error);
    tr_pack_str(&pk, "acts");
    pack_acts(&pk, s);
  }
  s->hist_sent_ended = ended;
  if (pk.err || tr_virtual_ask(ctx, name, ended ? TR_WFH_ENDED : TR_WFH_STARTED, pk.data, pk.len,
                               ASK_MS, &s->hist_corr) < 0) {
    s->hist_corr = 0;
    waits_retry_soon(ctx, s);
  }
  tr_pack_free(&pk);
}

static void send_parent(tr_ctx *ctx, inst *s) {
  char name[TR_VIRTUAL_NAME_MAX + 1], from[96];
  const char *colon = strrchr(s->parent, ':');
  if (!colon) return;
  snprintf(name, sizeof name, TR_WF_KIND "/%.*s", (int)(colon - s->parent), s->parent);
  snprintf(from, sizeof from, TR_WF_KIND "/%s", s->id);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, s->err_code[0] ? 4 : 3);
  tr_pack_kv_str(&pk, "id", s->parent);
  tr_pack_kv_str(&pk, "from", from);
  tr_pack_str(&pk, "vars");
  if (s->vlen) tr_pack_raw(&pk, s->vars, s->vlen);
  else tr_pack_map(&pk, 0);
  if (s->err_code[0]) tr_pack_kv_str(&pk, "error", s->err_code);
  if (!pk.err) tr_virtual_send(ctx, name, TR_WF_CHILD_DONE, pk.data, pk.len);
  tr_pack_free(&pk);
  s->parent_sent = 1;
  waits_retry_soon(ctx, s); /* again until the parent acks */
}

void waits_ended(tr_ctx *ctx, inst *s) {
  int ended = s->state == I_COMPLETED || s->state == I_FAILED || s->state == I_TERMINATED;
  if (s->state == I_NEW || s->state == I_LOADING) return;
  if (ended && !s->end_seen) {
    s->end_seen = 1;
    waits_emit(ctx, s, s->state == I_FAILED ? "incident.created" : "process.completed", NULL);
  }
  if (s->hist_corr == 0 && !s->hist_ended_ok) {
    if (!s->hist_started_ok) send_hist(ctx, s, 0);
    else if (ended) send_hist(ctx, s, 1);
  }
  if (ended && s->state != I_FAILED && s->parent[0] && !s->parent_acked && !s->parent_sent)
    send_parent(ctx, s);
}
