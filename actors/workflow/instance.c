/* instance.c - a process instance, "wf/<id>" (engine.h).
 *
 * Journal: [1, definition id, key, version, vars, bk] when it starts, then
 * [2, wait, vars] each time a job completed: `wait` numbers the jobs in the
 * order the interpreter created them (the same on every replay), and is the
 * job's key "<instance>:<wait>", so a late or repeated note of an earlier
 * job can never complete a later one. Recovery
 * keeps the events, fetches the definition's source from wfdef/<key>,
 * parses it, and runs the interpreter over the events again: the tokens end
 * up where they were, and the jobs of waiting tokens are created again
 * under the same keys (the queue answers with the existing job).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/parse.h"
#include "actors/workflow/repo.h"
#include "actors/workflow/vars.h"

enum { I_NEW = 0, I_LOADING, I_RUNNING, I_COMPLETED, I_FAILED };
enum { T_ACTIVE = 1, T_WAIT_JOB, T_GONE };
enum { EV_STARTED = 1, EV_JOB_DONE = 2 };
enum { RETRY = 1, RELOAD }; /* timers: create jobs again; ask for the definition again */

typedef struct token {
  int id;
  int32_t el;
  int state;
  int wait; /* the job it waits for: "<instance>:<wait>" (one per job, never reused) */
} token;

typedef struct evrec { /* an event kept for the replay after the model loads */
  int32_t wait;
  uint8_t *vars;
  size_t len;
} evrec;

typedef struct inst {
  char id[80], def_id[160], key[128], bk[128];
  uint32_t version;
  int state;
  char error[256];
  uint8_t *vars;
  size_t vlen;
  tr_wf_model *model;
  int32_t proc;
  token *t;
  int nt, cap, next_token, next_wait;
  int32_t *joins; /* tokens arrived at each parallel join */
  evrec *ev;      /* job completions to replay once the model is here */
  int nev, capev;
  /* the start request waiting for its definition, then for durability */
  tr_ref starter;
  uint64_t starter_corr, starter_seq, load_corr;
  int starting;
  uint64_t acked;
  struct ackq { uint64_t seq; char topic[256], job[300]; } *acks; /* notes to ack once durable */
  int nacks, capacks;
  struct { tr_ref who; uint64_t corr; } gets[16]; /* GETs waiting for the replay */
  int ngets;
} inst;

static int fail(inst *s, const char *what, const char *el) {
  s->state = I_FAILED;
  snprintf(s->error, sizeof s->error, "%s%s%s", what, el ? ": " : "", el ? el : "");
  tr_log(TR_LOG_WARN, "workflow", "instance %s failed: %s", s->id, s->error);
  return 0;
}

static token *token_new(inst *s, int32_t el) {
  if (s->nt == s->cap) {
    int cap = s->cap ? s->cap * 2 : 8;
    token *t = realloc(s->t, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    s->t = t;
    s->cap = cap;
  }
  token *t = &s->t[s->nt++];
  t->id = ++s->next_token;
  t->el = el;
  t->state = T_ACTIVE;
  t->wait = 0;
  return t;
}

/* ------------------------------------------------------------ effects */

/* Asks jobs/<topic> for the job of token t (again: the key makes it one). */
static void create_job(tr_ctx *ctx, inst *s, const token *t) {
  const tr_wf_element *e = &s->model->elements[t->el];
  char name[TR_VIRTUAL_NAME_MAX + 1], key[128], notify[96];
  if (tr_job_queue_name(e->topic, name, sizeof name) < 0) return;
  snprintf(key, sizeof key, "%s:%d", s->id, t->wait);
  snprintf(notify, sizeof notify, TR_WF_KIND "/%s", s->id);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, s->vlen ? 6 : 5);
  tr_pack_kv_str(&pk, "key", key);
  tr_pack_kv_str(&pk, "notify", notify);
  tr_pack_kv_str(&pk, "pi", s->id);
  tr_pack_kv_str(&pk, "act", e->id);
  tr_pack_kv_str(&pk, "bk", s->bk);
  if (s->vlen) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, s->vars, s->vlen);
  }
  uint64_t corr;
  if (pk.err || tr_virtual_ask(ctx, name, TR_JOB_CREATE, pk.data, pk.len, 10000, &corr) < 0) {
    uint64_t tid; /* the queue is out of reach: try again soon */
    tr_timer_start(ctx, 1000, 0, RETRY, NULL, 0, &tid);
  }
  tr_pack_free(&pk);
}

/* ------------------------------------------------------------ the interpreter */

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
  if (rc < 0) fail(s, err.message[0] ? err.message : "condition failed", f->id);
  return rc;
}

/* Moves t out of its element: along the flows whose conditions hold (an
 * exclusive gateway: the first), else the default; more flows, more tokens. */
static int leave(inst *s, int ti, int exclusive) {
  const tr_wf_element *e = &s->model->elements[s->t[ti].el];
  if (e->n_out == 0) {
    s->t[ti].state = T_GONE; /* an implicit end */
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
  if (!n) return fail(s, "no outgoing flow can be taken", e->id), -1;
  s->t[ti].el = s->model->flows[go[0]].target;
  for (int i = 1; i < n; i++)
    if (!token_new(s, s->model->flows[go[i]].target)) return fail(s, "out of memory", NULL), -1;
  return 0;
}

/* Runs every active token until it waits or ends. With ctx NULL (replay
 * before effects) jobs are not created. */
static void pump(tr_ctx *ctx, inst *s) {
  for (int guard = 0; guard < 100000 && s->state == I_RUNNING; guard++) {
    int ti = -1;
    for (int i = 0; i < s->nt; i++)
      if (s->t[i].state == T_ACTIVE) {
        ti = i;
        break;
      }
    if (ti < 0) break;
    const tr_wf_element *e = &s->model->elements[s->t[ti].el];
    int rc = 0;
    switch (e->type) {
    case TR_WF_START_EVENT:
    case TR_WF_TASK:
    case TR_WF_THROW_EVENT:
      rc = e->event == TR_WF_EV_NONE ? leave(s, ti, 0) : fail(s, "event not supported yet", e->id);
      break;
    case TR_WF_END_EVENT:
      if (e->event == TR_WF_EV_TERMINATE)
        for (int i = 0; i < s->nt; i++) s->t[i].state = T_GONE;
      else if (e->event == TR_WF_EV_NONE)
        s->t[ti].state = T_GONE;
      else
        rc = fail(s, "end event not supported yet", e->id);
      break;
    case TR_WF_SERVICE_TASK:
      if (!e->topic) {
        rc = fail(s, "only external service tasks are supported", e->id);
        break;
      }
      s->t[ti].state = T_WAIT_JOB;
      s->t[ti].wait = ++s->next_wait; /* the same number on every replay */
      if (ctx) create_job(ctx, s, &s->t[ti]);
      break;
    case TR_WF_EXCLUSIVE_GATEWAY:
      rc = leave(s, ti, 1);
      break;
    case TR_WF_PARALLEL_GATEWAY:
      if (e->n_in > 1 && ++s->joins[s->t[ti].el] < e->n_in) {
        s->t[ti].state = T_GONE; /* waits for the others, as the join's count */
        break;
      }
      s->joins[s->t[ti].el] = 0;
      rc = leave(s, ti, 0);
      break;
    default:
      rc = fail(s, "element not supported yet", e->id);
    }
    if (rc < 0 && s->state != I_FAILED) fail(s, "out of memory", NULL);
  }
  /* drop finished tokens; none left = completed */
  int k = 0;
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].state != T_GONE) s->t[k++] = s->t[i];
  s->nt = k;
  if (s->state == I_RUNNING && !s->nt) s->state = I_COMPLETED;
}

/* The job a token waits for as `wait` completed with vars: merge, move on. */
static int job_done(tr_ctx *ctx, inst *s, int32_t wait, const uint8_t *vars, size_t len) {
  int ti = -1;
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].wait == wait && s->t[i].state == T_WAIT_JOB) ti = i;
  if (ti < 0) return TR_ENOENT;
  if (len) {
    tr_pack pk = TR_PACK_INIT;
    int rc = tr_wf_vars_merge(s->vars, s->vlen, vars, len, &pk);
    if (rc < 0) {
      tr_pack_free(&pk);
      return rc;
    }
    free(s->vars);
    s->vars = pk.data; /* the pack's buffer is ours now */
    s->vlen = pk.len;
  }
  s->t[ti].state = T_ACTIVE;
  if (leave(s, ti, 0) == 0) pump(ctx, s);
  return 0;
}

/* The model is here: start the tokens and replay what happened. */
static int begin(tr_ctx *ctx, inst *s, const void *src, size_t len) {
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int yaml = len && ((const char *)src)[0] != '<';
  int rc = yaml ? tr_wf_yaml_parse(src, len, &s->model, &pr)
                : tr_wf_bpmn_parse(src, len, &s->model, &pr);
  tr_wf_problems_free(&pr);
  if (rc < 0) return fail(s, "the definition no longer parses", s->def_id);
  const tr_wf_process *p = tr_wf_model_process(s->model, s->key);
  if (!p || p->n_starts < 1) return fail(s, "no start event", s->key);
  s->proc = (int32_t)(p - s->model->processes);
  s->joins = calloc((size_t)s->model->n_elements + 1, sizeof *s->joins);
  if (!s->joins) return TR_ENOMEM;
  int32_t start = -1;
  for (int32_t i = 0; i < p->n_starts; i++)
    if (s->model->elements[p->starts[i]].event == TR_WF_EV_NONE) start = p->starts[i];
  if (start < 0) return fail(s, "no none start event", s->key);
  s->state = I_RUNNING;
  if (!token_new(s, start)) return TR_ENOMEM;
  /* replay first (no effects), then create the jobs of waiting tokens */
  pump(NULL, s);
  for (int i = 0; i < s->nev; i++) {
    job_done(NULL, s, s->ev[i].wait, s->ev[i].vars, s->ev[i].len);
    free(s->ev[i].vars);
  }
  s->nev = 0;
  for (int i = 0; i < s->nt; i++)
    if (s->t[i].state == T_WAIT_JOB) create_job(ctx, s, &s->t[i]);
  return 0;
}

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

static const char *state_name(int st) {
  return st == I_COMPLETED ? "completed" : st == I_FAILED ? "failed" : "running";
}

static int on_get(tr_ctx *ctx, inst *s, const tr_msg *m) {
  if (!s->def_id[0]) return reply_err(ctx, m->sender, m->corr, TR_ENOENT, "no such instance");
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 10);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_kv_str(&pk, "id", s->id);
  tr_pack_kv_str(&pk, "definition", s->def_id);
  tr_pack_kv_str(&pk, "key", s->key);
  tr_pack_kv_int(&pk, "version", s->version);
  tr_pack_kv_str(&pk, "bk", s->bk);
  tr_pack_kv_str(&pk, "state", s->state == I_LOADING ? "running" : state_name(s->state));
  tr_pack_str(&pk, "vars");
  if (s->vlen) tr_pack_raw(&pk, s->vars, s->vlen);
  else tr_pack_map(&pk, 0);
  tr_pack_str(&pk, "at");
  tr_pack_array(&pk, (uint32_t)s->nt);
  for (int i = 0; i < s->nt; i++)
    tr_pack_str(&pk, s->model ? s->model->elements[s->t[i].el].id : "");
  tr_pack_kv_str(&pk, "error", s->error);
  int rc = pk.err ? pk.err : reply(ctx, m->sender, m->corr, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ events */

static int apply_started(inst *s, tr_unpack *u) {
  const void *v;
  size_t vl;
  uint64_t version;
  if (tr_unpack_str_copy(u, s->def_id, sizeof s->def_id) < 0 ||
      tr_unpack_str_copy(u, s->key, sizeof s->key) < 0 || tr_unpack_uint(u, &version) < 0 ||
      tr_unpack_bin(u, &v, &vl) < 0 || tr_unpack_str_copy(u, s->bk, sizeof s->bk) < 0)
    return TR_ECORRUPT;
  s->version = (uint32_t)version;
  free(s->vars);
  s->vars = vl ? malloc(vl) : NULL;
  if (vl && !s->vars) return TR_ENOMEM;
  if (vl) memcpy(s->vars, v, vl);
  s->vlen = vl;
  return 0;
}

static int keep_event(inst *s, int32_t wait, const void *v, size_t vl) {
  if (s->nev == s->capev) {
    int cap = s->capev ? s->capev * 2 : 8;
    evrec *e = realloc(s->ev, (size_t)cap * sizeof *e);
    if (!e) return TR_ENOMEM;
    s->ev = e;
    s->capev = cap;
  }
  evrec *e = &s->ev[s->nev];
  e->wait = wait;
  e->len = vl;
  e->vars = vl ? malloc(vl) : NULL;
  if (vl && !e->vars) return TR_ENOMEM;
  if (vl) memcpy(e->vars, v, vl);
  s->nev++;
  return 0;
}

static int inst_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  inst *s = st;
  tr_unpack u;
  uint32_t n;
  uint64_t kind;
  tr_unpack_init(&u, ev, len);
  if (tr_unpack_array(&u, &n) < 0 || tr_unpack_uint(&u, &kind) < 0) goto bad;
  if (kind == EV_STARTED && n == 6) {
    if (apply_started(s, &u) == 0) return 0;
  } else if (kind == EV_JOB_DONE && n == 3) {
    uint64_t wait;
    const void *v;
    size_t vl;
    if (tr_unpack_uint(&u, &wait) == 0 && wait <= INT32_MAX && tr_unpack_bin(&u, &v, &vl) == 0)
      return keep_event(s, (int32_t)wait, v, vl);
  }
bad:
  tr_log(TR_LOG_WARN, "workflow", "instance %s: event %llu is not an instance event; skipped",
         s->id, (unsigned long long)seq);
  return 0;
}

/* ------------------------------------------------------------ the behaviour */

static int load(tr_ctx *ctx, inst *s, uint32_t version) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, TR_WF_DEF_KIND "/%s", s->key);
  uint8_t buf[32];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, version ? 1 : 0);
  if (version) tr_pack_kv_int(&pk, "version", version);
  s->state = I_LOADING;
  int rc = tr_virtual_ask(ctx, name, TR_WF_DEF_GET, pk.data, pk.len, 30000, &s->load_corr);
  if (rc == 0) return 0;
  if (s->starting) { /* no definitions reachable: the starter hears it */
    s->starting = 0;
    s->state = I_NEW;
    return reply_err(ctx, s->starter, s->starter_corr, rc, "the definition cannot be asked for");
  }
  uint64_t tid; /* recovering: try again soon (the definitions' node may be coming up) */
  return tr_timer_start(ctx, 1000, 0, RELOAD, NULL, 0, &tid);
}

/* The definition came (at start, or for recovery). */
static int on_def(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u, src;
  int ok = 0;
  const void *p = NULL;
  size_t len = 0;
  tr_unpack_init(&u, m->data, m->len);
  tr_unpack_find_bool(&u, "ok", &ok);
  if (!ok || tr_unpack_find(&u, "source", &src) < 0 || tr_unpack_bin(&src, &p, &len) < 0) {
    if (s->starting) {
      s->starting = 0;
      s->state = I_NEW;
      return reply_err(ctx, s->starter, s->starter_corr, TR_ENOENT, "no such process definition");
    }
    return fail(s, "the definition cannot be read", s->key);
  }
  if (s->starting) { /* fix the version, then run */
    const char *id;
    size_t il;
    int64_t version = 0;
    tr_unpack_find_int(&u, "version", &version);
    if (tr_unpack_find_str(&u, "id", &id, &il) < 0 || il >= sizeof s->def_id) return TR_EPROTO;
    memcpy(s->def_id, id, il);
    s->def_id[il] = 0;
    s->version = (uint32_t)version;
    tr_pack ev = TR_PACK_INIT;
    tr_pack_array(&ev, 6);
    tr_pack_uint(&ev, EV_STARTED);
    tr_pack_str(&ev, s->def_id);
    tr_pack_str(&ev, s->key);
    tr_pack_uint(&ev, s->version);
    tr_pack_bin(&ev, s->vars, s->vlen);
    tr_pack_str(&ev, s->bk);
    int rc = ev.err ? ev.err : tr_persist_append(ctx, ev.data, ev.len, &s->starter_seq);
    tr_pack_free(&ev);
    if (rc < 0) return rc;
  }
  return begin(ctx, s, p, len);
}

static void answer_start(tr_ctx *ctx, inst *s) {
  if (!s->starting || s->acked < s->starter_seq || s->state == I_LOADING) return;
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

/* A job's note: {id, topic, key "<instance>:<token>", vars?} */
static int on_note(tr_ctx *ctx, inst *s, const tr_msg *m) {
  tr_unpack u, v;
  const char *key, *job, *topic;
  size_t kl, jl, tl;
  const void *vars = NULL;
  size_t vl = 0;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "key", &key, &kl) < 0 || tr_unpack_find_str(&u, "id", &job, &jl) < 0 ||
      tr_unpack_find_str(&u, "topic", &topic, &tl) < 0 || jl >= 300 || tl >= 256)
    return 0;
  if (tr_unpack_find(&u, "vars", &v) == 0) tr_unpack_raw(&v, &vars, &vl);
  /* the key is "<instance>:<wait>"; not NUL-terminated in the note */
  const char *colon = memchr(key, ':', kl);
  char num[16];
  size_t nl = colon ? kl - (size_t)(colon + 1 - key) : 0;
  if (!colon || !nl || nl >= sizeof num) return 0;
  memcpy(num, colon + 1, nl);
  num[nl] = 0;
  char *end;
  long w = strtol(num, &end, 10);
  if (*end || w <= 0 || w > INT32_MAX) return 0;
  int32_t wait = (int32_t)w;
  if (s->state == I_RUNNING && m->type == TR_JOB_DONE) {
    tr_pack ev = TR_PACK_INIT;
    tr_pack_array(&ev, 3);
    tr_pack_uint(&ev, EV_JOB_DONE);
    tr_pack_uint(&ev, (uint64_t)wait);
    tr_pack_bin(&ev, vars, vl);
    uint64_t seq = 0;
    int known = 0;
    for (int i = 0; i < s->nt; i++) known |= s->t[i].wait == wait && s->t[i].state == T_WAIT_JOB;
    int rc = ev.err;
    if (!rc && known) rc = tr_persist_append(ctx, ev.data, ev.len, &seq);
    if (!rc && known) rc = job_done(ctx, s, wait, vars, vl);
    tr_pack_free(&ev);
    if (rc < 0 && rc != TR_ENOENT) return rc;
  } else if (s->state == I_LOADING) {
    return 0; /* not ready: the queue sends it again */
  } else if (s->state == I_RUNNING && m->type == TR_JOB_ERROR) {
    fail(s, "a BPMN error without a boundary event", key);
  }
  /* ack once what it caused is durable (a repeated note: at once) */
  if (s->nacks == s->capacks) {
    int cap = s->capacks ? s->capacks * 2 : 8;
    struct ackq *a = realloc(s->acks, (size_t)cap * sizeof *a);
    if (!a) return TR_ENOMEM;
    s->acks = a;
    s->capacks = cap;
  }
  struct ackq *a = &s->acks[s->nacks++];
  a->seq = tr_persist_seq(ctx);
  snprintf(a->topic, sizeof a->topic, "%.*s", (int)tl, topic);
  snprintf(a->job, sizeof a->job, "%.*s", (int)jl, job);
  return 0;
}

static void send_acks(tr_ctx *ctx, inst *s) {
  int k = 0;
  for (int i = 0; i < s->nacks; i++) {
    struct ackq *a = &s->acks[i];
    if (a->seq > s->acked) {
      s->acks[k++] = *a;
      continue;
    }
    char name[TR_VIRTUAL_NAME_MAX + 1];
    if (tr_job_queue_name(a->topic, name, sizeof name) < 0) continue;
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "id", a->job);
    tr_virtual_send(ctx, name, TR_JOB_ACK, pk.data, pk.len);
    tr_pack_free(&pk);
  }
  s->nacks = k;
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

static int inst_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  inst *s = st;
  int rc = 0;
  if (m->type == TR_MSG_RECOVERED) {
    s->acked = m->corr;
    if (s->def_id[0]) rc = load(ctx, s, s->version); /* replay once it is here */
  } else if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    if (m->corr > s->acked) s->acked = m->corr;
  } else if ((m->flags & TR_MSG_F_REPLY) && m->corr == s->load_corr) {
    if (m->type == TR_MSG_TIMEOUT) rc = s->def_id[0] ? load(ctx, s, s->version) : 0;
    else rc = on_def(ctx, s, m);
  } else if (m->type == TR_MSG_TIMEOUT && m->corr == s->load_corr) {
    rc = s->starting && !s->def_id[0]
             ? (s->starting = 0, reply_err(ctx, s->starter, s->starter_corr, TR_ETIMEDOUT,
                                           "the definitions are out of reach"))
             : load(ctx, s, s->version);
  } else if ((m->flags & TR_MSG_F_TIMER) && m->type == RELOAD) {
    if (s->state == I_LOADING && s->def_id[0]) rc = load(ctx, s, s->version);
  } else if ((m->flags & TR_MSG_F_TIMER) && m->type == RETRY) {
    for (int i = 0; s->state == I_RUNNING && i < s->nt; i++)
      if (s->t[i].state == T_WAIT_JOB) create_job(ctx, s, &s->t[i]);
  } else if (m->type == TR_JOB_REPLY || m->type == TR_MSG_TIMEOUT) {
    if (m->type == TR_MSG_TIMEOUT || tr_job_reply_status(m, NULL) < 0) { /* create again */
      uint64_t tid;
      tr_timer_start(ctx, 1000, 0, RETRY, NULL, 0, &tid);
    }
  } else if (m->type == TR_JOB_DONE || m->type == TR_JOB_ERROR) {
    rc = on_note(ctx, s, m);
  } else if (m->type == TR_WF_GET && (m->flags & TR_MSG_F_ASK)) {
    if (s->state == I_LOADING && !s->starting && s->ngets < 16) { /* answered after the replay */
      s->gets[s->ngets].who = m->sender;
      s->gets[s->ngets++].corr = m->corr;
    } else {
      rc = on_get(ctx, s, m);
    }
  } else if (m->type == TR_WF_START && (m->flags & TR_MSG_F_ASK)) {
    if (s->def_id[0] || s->starting)
      return reply_err(ctx, m->sender, m->corr, TR_EEXIST, "the instance exists");
    tr_unpack u, v;
    tr_unpack_init(&u, m->data, m->len);
    const char *key, *bk;
    size_t kl, bl;
    if (tr_unpack_find_str(&u, "bk", &bk, &bl) < 0) bk = "", bl = 0; /* optional */
    if (tr_unpack_find_str(&u, "key", &key, &kl) < 0 || !kl || kl >= sizeof s->key ||
        bl >= sizeof s->bk)
      return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "start needs a key");
    memcpy(s->key, key, kl);
    s->key[kl] = 0;
    memcpy(s->bk, bk, bl);
    s->bk[bl] = 0;
    if (tr_unpack_find(&u, "vars", &v) == 0) {
      const void *p;
      size_t vl;
      tr_unpack_raw(&v, &p, &vl);
      tr_pack chk = TR_PACK_INIT; /* must be a map of string keys */
      if (tr_wf_vars_merge(p, vl, NULL, 0, &chk) < 0) {
        tr_pack_free(&chk);
        return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "vars must be a map");
      }
      free(s->vars); /* a start that found no definition may have left some */
      s->vars = chk.data;
      s->vlen = chk.len;
    }
    int64_t version = 0; /* optional: a given version (start by definition id) */
    int vrc = tr_unpack_find_int(&u, "version", &version);
    if ((vrc < 0 && vrc != TR_ENOENT) || version < 0 || version > UINT32_MAX)
      return reply_err(ctx, m->sender, m->corr, TR_EINVAL, "version must be a positive integer");
    s->starting = 1;
    s->starter = m->sender;
    s->starter_corr = m->corr;
    rc = load(ctx, s, (uint32_t)version);
  } else if (m->flags & TR_MSG_F_ASK) {
    return reply_err(ctx, m->sender, m->corr, TR_ENOTSUP, "not an instance request");
  }
  if (rc < 0) return rc;
  send_acks(ctx, s);
  answer_start(ctx, s);
  if (s->state != I_LOADING)
    for (; s->ngets > 0; s->ngets--) {
      tr_msg req = {.sender = s->gets[s->ngets - 1].who, .corr = s->gets[s->ngets - 1].corr,
                    .flags = TR_MSG_F_ASK};
      on_get(ctx, s, &req);
    }
  return 0;
}

static void inst_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  inst *s = st;
  tr_wf_model_free(s->model);
  free(s->vars), free(s->t), free(s->joins), free(s->acks);
  for (int i = 0; i < s->nev; i++) free(s->ev[i].vars);
  free(s->ev);
}

static const tr_persistent inst_b = {
    .base = {.name = "wf", .state_size = sizeof(inst), .init = inst_init,
             .receive = inst_receive, .terminate = inst_terminate},
    .apply = inst_apply};

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
