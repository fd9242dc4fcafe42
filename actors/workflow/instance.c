/* instance.c - a process instance, "wf/<id>" (engine.h): the actor.
 *
 * It starts (TR_WF_START: journals that it started, then runs), recovers
 * (keeps the journal's events, fetches the definition's source from
 * wfdef/<key>, parses it, and replays the events through the interpreter,
 * interp.c, with no effects; then sends again what every waiting token
 * waits for, waits.c), takes notes from job queues, indexes and child
 * instances (journal.c), and answers TR_WF_GET. The journal's format is
 * in journal.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/mcache.h"
#include "actors/workflow/index.h"
#include "actors/workflow/inst.h"
#include "actors/workflow/parse.h"
#include "actors/workflow/repo.h"
#include "actors/workflow/vars.h"

/* ------------------------------------------------------------ replies */

static int reply(tr_ctx *ctx, tr_ref to, uint64_t corr, tr_pack *pk) {
  tr_msg req = {.sender = to, .corr = corr, .flags = TR_MSG_F_ASK};
  return tr_actor_reply(ctx, &req, TR_WF_REPLY, pk->data, pk->len);
}

static int reply_err(tr_ctx *ctx, tr_ref to, uint64_t corr, int code, const char *text) {
  uint8_t buf[400];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return reply(ctx, to, corr, &pk);
}

static const char *kind_name(int k) {
  static const char *names[] = {"none", "job", "task", "message", "timer", "call"};
  return k >= 0 && k <= W_CALL ? names[k] : "none";
}

static int on_get(tr_ctx *ctx, inst *s, const tr_msg *m) {
  if (!s->def_id[0]) return reply_err(ctx, m->sender, m->corr, TR_ENOENT, "no such instance");
  tr_pack pk = TR_PACK_INIT;
  int at = 0, waits = 0;
  for (int i = 0; i < s->nt; i++) {
    at += s->t[i].state != T_BOUND;
    waits += s->t[i].state == T_WAIT || s->t[i].state == T_BOUND;
  }
  tr_pack_map(&pk, 14);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_kv_str(&pk, "id", s->id);
  tr_pack_kv_str(&pk, "definition", s->def_id);
  tr_pack_kv_str(&pk, "key", s->key);
  tr_pack_kv_int(&pk, "version", s->version);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_str(&pk, "state", s->state == I_LOADING ? "running" : wf_state_name(s->state));
  tr_pack_str(&pk, "vars");
  if (s->vlen) tr_pack_raw(&pk, s->vars, s->vlen);
  else tr_pack_map(&pk, 0);
  tr_pack_str(&pk, "at"); /* where tokens are (boundary events wait beside theirs) */
  tr_pack_array(&pk, (uint32_t)(s->model ? at : 0));
  for (int i = 0; s->model && i < s->nt; i++)
    if (s->t[i].state != T_BOUND) tr_pack_str(&pk, s->model->elements[s->t[i].el].id);
  tr_pack_str(&pk, "waits");
  tr_pack_array(&pk, (uint32_t)(s->model ? waits : 0));
  for (int i = 0; s->model && i < s->nt; i++) {
    const token *t = &s->t[i];
    if (t->state != T_WAIT && t->state != T_BOUND) continue;
    char id[128];
    snprintf(id, sizeof id, "%s:%d", s->id, t->wait);
    tr_pack_map(&pk, 3);
    tr_pack_kv_str(&pk, "id", id);
    tr_pack_kv_str(&pk, "kind", kind_name(t->kind));
    tr_pack_kv_str(&pk, "act", s->model->elements[t->el].id);
  }
  tr_pack_str(&pk, "acts");
  if (s->model) wf_pack_acts(&pk, s);
  else tr_pack_array(&pk, 0);
  tr_pack_kv_str(&pk, "error", s->error);
  tr_pack_str(&pk, "history"); /* whether wfhist has the end record for good */
  tr_pack_str(&pk, s->hist_ended_ok ? "ended" : s->hist_started_ok ? "started" : "pending");
  tr_pack_str(&pk, "parent");
  if (s->parent[0]) tr_pack_str(&pk, s->parent);
  else tr_pack_nil(&pk);
  int rc = pk.err ? pk.err : reply(ctx, m->sender, m->corr, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ starting, recovering */

/* The start event: the one named by `start`, or of message `msg`, or the
 * none start event of the process. -1 (and the instance failed) if none. */
static int32_t start_event(inst *s, const tr_wf_process *p) {
  for (int32_t i = 0; i < p->n_starts; i++) {
    const tr_wf_element *e = &s->model->elements[p->starts[i]];
    const char *msg = e->message >= 0 ? s->model->messages[e->message].name : NULL;
    if (s->start_el[0] ? !strcmp(e->id, s->start_el)
        : s->start_msg[0] ? e->event == TR_WF_EV_MESSAGE && msg && !strcmp(msg, s->start_msg)
                          : e->event == TR_WF_EV_NONE)
      return p->starts[i];
  }
  wf_fail(s, "no such start event", s->start_el[0] ? s->start_el : s->start_msg[0] ? s->start_msg : s->key);
  return -1;
}

/* Parses a definition's source into the shared cache; the model is held
 * for s. */
static int model_from_source(inst *s, const char *id, const void *src, size_t len) {
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  tr_wf_model *m = NULL;
  int yaml = len && ((const char *)src)[0] != '<';
  int rc = yaml ? tr_wf_yaml_parse(src, len, &m, &pr) : tr_wf_bpmn_parse(src, len, &m, &pr);
  tr_wf_problems_free(&pr);
  if (rc < 0) return rc;
  return tr_wf_mcache_put(id, m, &s->model);
}

/* The model is here (s->model, or rc < 0 when it could not be had): start
 * the tokens, live or replaying the journal. */
static int begin(tr_ctx *ctx, inst *s, int rc, int fresh) {
  s->state = I_RUNNING; /* so that a failure below is recorded */
  s->now = s->start_time;
  if (rc < 0 || !s->model) return wf_fail(s, "the definition no longer parses", s->def_id);
  const tr_wf_process *p = tr_wf_model_process(s->model, s->key);
  if (!p || p->n_starts < 1) return wf_fail(s, "no start event", s->key);
  s->proc = (int32_t)(p - s->model->processes);
  int32_t start = start_event(s, p);
  if (start < 0) return 0;
  if (fresh) {
    waits_emit(ctx, s, "process.started", NULL);
    return wf_begin_tokens(ctx, s, start);
  }
  /* replay first (no effects), then send what waiting tokens wait for */
  rc = wf_begin_tokens(NULL, s, start);
  for (int i = 0; i < s->nev; i++) {
    if (rc == 0) wf_apply_event(NULL, s, &s->ev[i]);
    free(s->ev[i].vars);
  }
  s->nev = 0;
  if (rc < 0) return rc;
  s->end_seen = s->state != I_RUNNING; /* ended before: not announced again */
  waits_resume(ctx, s);
  return 0;
}

/* Gets the definition's model: from the cache when the instance knows its
 * definition (recovery), else from wfdef/<key> - without the source
 * first, in case the model is cached, then with it. */
static int load(tr_ctx *ctx, inst *s, uint32_t version) {
  if (s->def_id[0] && !s->starting && !s->model && tr_wf_mcache_get(s->def_id, &s->model) == 0)
    return begin(ctx, s, 0, 0);
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, TR_WF_DEF_KIND "/%s", s->key);
  uint8_t buf[40];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1 + (version ? 1 : 0));
  if (version) tr_pack_kv_int(&pk, "version", version);
  tr_pack_str(&pk, "source");
  tr_pack_bool(&pk, s->load_src);
  s->state = I_LOADING;
  int rc = tr_virtual_ask(ctx, name, TR_WF_DEF_GET, pk.data, pk.len, 30000, &s->load_corr);
  if (rc == 0) return 0;
  if (s->starting) { /* no definitions reachable: the starter hears it */
    s->starting = 0;
    s->state = I_NEW;
    return reply_err(ctx, s->starter, s->starter_corr, rc, "the definition cannot be asked for");
  }
  uint64_t tid; /* recovering: try again soon (the definitions' node may be coming up) */
  return tr_timer_start(ctx, 1000, 0, TM_RELOAD, NULL, 0, &tid);
}

/* The definition came (at start, or for recovery). */
static int on_def(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u, src;
  int ok = 0;
  const void *p = NULL;
  size_t len = 0, il = 0;
  const char *id = NULL;
  int64_t version = 0;
  tr_unpack_init(&u, m->data, m->len);
  tr_unpack_find_bool(&u, "ok", &ok);
  int has_src = tr_unpack_find(&u, "source", &src) == 0 && tr_unpack_bin(&src, &p, &len) == 0;
  if (!ok || tr_unpack_find_str(&u, "id", &id, &il) < 0 || il >= sizeof s->def_id) {
    if (s->starting) {
      s->starting = 0;
      s->state = I_NEW;
      return reply_err(ctx, s->starter, s->starter_corr, TR_ENOENT, "no such process definition");
    }
    s->state = I_RUNNING;
    return wf_fail(s, "the definition cannot be read", s->key);
  }
  tr_unpack_find_int(&u, "version", &version);
  char idz[sizeof s->def_id];
  memcpy(idz, id, il);
  idz[il] = 0;
  int rc = 0;
  if (!s->model && has_src) rc = model_from_source(s, idz, p, len);
  if (!s->model && !has_src && tr_wf_mcache_get(idz, &s->model) < 0) {
    s->load_src = 1; /* not cached here: this very version, with its source */
    return load(ctx, s, (uint32_t)version);
  }
  if (!s->starting) return begin(ctx, s, rc, 0);
  /* a new instance: fix the version, journal the start, then run */
  memcpy(s->def_id, idz, il + 1);
  s->version = (uint32_t)version;
  s->start_time = wf_wall_ms();
  int jrc = wf_journal_started(ctx, s, &s->starter_seq);
  return jrc < 0 ? jrc : begin(ctx, s, rc, 1);
}

/* Whether a running instance may wait on a timer: nothing from outside
 * would ever reach it after a restart, so its history record (which the
 * node's waker goes by, wake.c) must be durable before its start is
 * answered. Other instances answer as soon as their start is durable. */
static int needs_wake(const inst *s) {
  if (s->state != I_RUNNING || !s->model) return 0;
  for (int32_t i = 0; i < s->model->n_elements; i++)
    if (s->model->elements[i].event == TR_WF_EV_TIMER) return 1;
  return 0;
}

static void answer_start(tr_ctx *ctx, inst *s) {
  if (!s->starting || s->acked < s->starter_seq || s->state == I_LOADING) return;
  if (!s->hist_started_ok && needs_wake(s)) return; /* the history index answers first */
  s->starting = 0;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_kv_str(&pk, "id", s->id);
  tr_pack_kv_str(&pk, "definition", s->def_id);
  tr_pack_kv_int(&pk, "version", s->version);
  reply(ctx, s->starter, s->starter_corr, &pk);
  tr_pack_free(&pk);
}

static int opt_str(tr_unpack *u, const char *key, char *buf, size_t cap) {
  const char *v;
  size_t l;
  buf[0] = 0;
  if (tr_unpack_find_str(u, key, &v, &l) < 0) return 0; /* optional */
  if (l >= cap) return TR_EINVAL;
  memcpy(buf, v, l);
  buf[l] = 0;
  return 0;
}

/* TR_WF_START {key, vars?, bk?, start?, msg?, parent?, version?} */
static int on_start(tr_ctx *ctx, inst *s, const tr_msg *m) {
  if (s->def_id[0] || s->starting)
    return reply_err(ctx, m->sender, m->corr, TR_EEXIST, "the instance exists");
  tr_unpack u, v;
  tr_unpack_init(&u, m->data, m->len);
  if (opt_str(&u, "key", s->key, sizeof s->key) < 0 || !s->key[0] ||
      opt_str(&u, "bk", s->bk, sizeof s->bk) < 0 ||
      opt_str(&u, "start", s->start_el, sizeof s->start_el) < 0 ||
      opt_str(&u, "msg", s->start_msg, sizeof s->start_msg) < 0 ||
      opt_str(&u, "parent", s->parent, sizeof s->parent) < 0) {
    s->key[0] = 0;
    return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "start needs a key (and short fields)");
  }
  if (s->parent[0] && !strchr(s->parent, ':')) {
    s->key[0] = 0;
    return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "parent must be a wait id");
  }
  if (tr_unpack_find(&u, "vars", &v) == 0) {
    const void *p;
    size_t vl;
    tr_unpack_raw(&v, &p, &vl);
    tr_pack chk = TR_PACK_INIT; /* must be a map of string keys */
    if (tr_wf_vars_merge(p, vl, NULL, 0, &chk) < 0) {
      tr_pack_free(&chk);
      s->key[0] = 0;
      return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "vars must be a map");
    }
    free(s->vars); /* a start that found no definition may have left some */
    s->vars = chk.data;
    s->vlen = chk.len;
  }
  int64_t version = 0; /* optional: a given version (start by definition id) */
  int vrc = tr_unpack_find_int(&u, "version", &version);
  if ((vrc < 0 && vrc != TR_ENOENT) || version < 0 || version > UINT32_MAX) {
    s->key[0] = 0;
    return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "version must be a positive integer");
  }
  s->starting = 1;
  s->starter = m->sender;
  s->starter_corr = m->corr;
  return load(ctx, s, (uint32_t)version);
}

/* ------------------------------------------------------------ the behaviour */

static int on_timer(tr_ctx *ctx, inst *s, const tr_msg *m) {
  if (m->type == TM_RELOAD) return s->state == I_LOADING && s->def_id[0] ? load(ctx, s, s->version) : 0;
  if (m->type == TM_RETRY) waits_retry(ctx, s);
  if (m->type == TM_FIRE) return wf_on_timer(ctx, s, m);
  if (m->type == TM_KEEP) { /* no timer left to keep it awake for: may passivate */
    int timers = 0;
    for (int i = 0; i < s->nt; i++) timers |= s->t[i].kind == W_TIMER && s->t[i].state != T_GONE;
    if (!timers || s->state != I_RUNNING) {
      tr_timer_cancel(ctx, s->keep_tid);
      s->keep_armed = 0;
    }
  }
  return 0;
}

static int dispatch(tr_ctx *ctx, inst *s, const tr_msg *m) {
  if (m->type == TR_MSG_RECOVERED) {
    s->acked = m->corr;
    return s->def_id[0] ? load(ctx, s, s->version) : 0; /* replay once it is here */
  }
  if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    if (m->corr > s->acked) s->acked = m->corr;
    return 0;
  }
  if (m->corr == s->load_corr && s->load_corr &&
      ((m->flags & TR_MSG_F_REPLY) || m->type == TR_MSG_TIMEOUT)) {
    s->load_corr = 0;
    if (m->type != TR_MSG_TIMEOUT) return on_def(ctx, s, m);
    if (s->starting && !s->def_id[0]) {
      s->starting = 0;
      s->state = I_NEW;
      return reply_err(ctx, s->starter, s->starter_corr, TR_ETIMEDOUT,
                       "the definitions are out of reach");
    }
    return load(ctx, s, s->version);
  }
  if (m->flags & TR_MSG_F_TIMER) return on_timer(ctx, s, m);
  if ((m->flags & TR_MSG_F_REPLY) || m->type == TR_MSG_TIMEOUT) {
    waits_reply(ctx, s, m);
    return 0;
  }
  switch (m->type) {
  case TR_JOB_DONE:
  case TR_JOB_ERROR:
    return wf_on_job_note(ctx, s, m);
  case TR_WF_TASK_DONE:
  case TR_WF_MSG_DELIVER:
  case TR_WF_CHILD_DONE:
    return wf_on_idx_note(ctx, s, m);
  case TR_WF_IDX_ACK:
    return wf_on_ack(ctx, s, m);
  case TR_WF_CANCEL:
    return wf_on_cancel(ctx, s, m);
  case TR_WF_GET:
    if (!(m->flags & TR_MSG_F_ASK)) return 0;
    if (s->state == I_LOADING && !s->starting && s->ngets < 16) { /* answered after the replay */
      s->gets[s->ngets].who = m->sender;
      s->gets[s->ngets++].corr = m->corr;
      return 0;
    }
    return on_get(ctx, s, m);
  case TR_WF_START:
    return m->flags & TR_MSG_F_ASK ? on_start(ctx, s, m) : 0;
  default:
    if (m->flags & TR_MSG_F_ASK)
      return reply_err(ctx, m->sender, m->corr, TR_ENOTSUP, "not an instance request");
    return 0;
  }
}

/* An instance that ended and whose end was taken by everyone who must hear
 * of it (wfhist, the parent, the job queues' acks) only answers TR_WF_GET
 * from then on, which its next activation does from the journal. Staying
 * active would keep its state (tokens, variables, activity records, ~10 KB)
 * for the kind's idle time: 60 s, hundreds of MB at thousands of instances
 * a second. The passivation waits for the journal's appends (the
 * EV_HIST_ACKED mark among them) to be durable (runtime/actor.c). */
static int finished(const inst *s) {
  int ended = s->state == I_COMPLETED || s->state == I_FAILED || s->state == I_TERMINATED;
  return ended && !s->starting && !s->load_corr && s->hist_ended_ok && s->nacks == 0 &&
         s->ncancels == 0 &&
         s->ngets == 0 && (!s->parent[0] || s->state == I_FAILED || s->parent_acked);
}

static int inst_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  inst *s = st;
  int rc = dispatch(ctx, s, m);
  if (rc < 0) return rc;
  wf_send_acks(ctx, s);
  answer_start(ctx, s);
  /* history, the parent, announcements; while starting only the history
   * record of an instance that may wait on a timer (answer_start) */
  if (!s->starting || (s->acked >= s->starter_seq && needs_wake(s))) waits_ended(ctx, s);
  if (s->state != I_LOADING)
    for (; s->ngets > 0; s->ngets--) {
      tr_msg req = {.sender = s->gets[s->ngets - 1].who, .corr = s->gets[s->ngets - 1].corr,
                    .flags = TR_MSG_F_ASK};
      on_get(ctx, s, &req);
    }
  if (!s->passivating && finished(s) && tr_virtual_passivate(ctx) == 0) s->passivating = 1;
  return 0;
}

static int inst_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  inst *s = st;
  if (!vid || !vid->key[0] || strlen(vid->key) >= sizeof s->id || strchr(vid->key, ':'))
    return TR_EINVAL;
  snprintf(s->id, sizeof s->id, "%s", vid->key);
  return 0;
}

static void inst_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  inst *s = st;
  tr_wf_mcache_release(s->model);
  for (int i = 0; i < s->nt; i++) free(s->t[i].local);
  free(s->vars), free(s->t), free(s->acks), free(s->acts), free(s->cancels);
  for (int i = 0; i < s->nev; i++) free(s->ev[i].vars);
  free(s->ev);
}

static const tr_persistent inst_b = {
    .base = {.name = "wf", .state_size = sizeof(inst), .init = inst_init,
             .receive = inst_receive, .terminate = inst_terminate},
    .apply = wf_journal_apply};

int tr_wf_engine_register(tr_system *sys, uint32_t roles) {
  return tr_kind_register(sys, &(tr_kind){.name = TR_WF_KIND, .persistent = &inst_b,
                                          .roles = roles});
}

int tr_wf_start(tr_system *sys, const char *key, const void *vars, size_t vars_len,
                const char *bk, char *id, size_t cap) {
  if (!sys || !key || !id || cap < 33 || (vars_len && !vars)) return TR_EINVAL;
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != sizeof r) return TR_EIO;
  for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", r[i]);
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, TR_WF_KIND "/%s", id);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, (uint32_t)(1 + (vars_len > 0) + (bk != NULL)));
  tr_pack_kv_str(&pk, "key", key);
  if (vars_len) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, vars, vars_len);
  }
  if (bk) tr_pack_kv_str(&pk, "bk", bk);
  tr_msg *reply = NULL;
  int rc = pk.err ? pk.err : tr_system_virtual_ask(sys, name, TR_WF_START, pk.data, pk.len, 30000, &reply);
  tr_pack_free(&pk);
  if (rc < 0) return rc;
  rc = tr_reply_status(reply->data, reply->len);
  tr_msg_free(reply);
  return rc;
}
