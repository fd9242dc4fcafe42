/* queue.c - the job queue actor: "jobs/<topic>", a persistent virtual
 * actor (troupe/jobs.h has the protocol).
 *
 * Every change is an event appended to the journal and applied through
 * jq_apply (state.c), the same function recovery replays, so the live state
 * and the recovered one cannot differ. Nothing leaves the actor before the
 * events it depends on are durable: replies, notifications and pushes wait
 * in an "after" list keyed by the last sequence number appended when they
 * were made, and go out when TR_MSG_PERSISTED reaches it. A crash therefore
 * loses at most answers nobody got, never a job or a completion somebody
 * was told about.
 *
 * Waiting fetches (long polling) and push subscriptions live in memory:
 * a waiting fetch is an ask that times out if the queue goes away, and a
 * subscription is a lease the worker renews by subscribing again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"
#include "troupe/troupe.h"

#define DEFAULT_LEASE_MS 30000
#define MAX_FETCH 1000
/* A fetch's answer stops before the job that would take it past this: a
 * message between nodes carries at most 16 MiB, and an answer that cannot
 * be sent would leave its jobs locked to nobody, to be fetched (and lost)
 * again. The first job always goes. */
#define FETCH_MAX_BYTES (8u << 20)
#define MAX_LOCK_MS (7u * 24 * 3600 * 1000)
#define RESEND_MS 30000 /* unacked notes go out again this often */
#define KEEPALIVE_MS 20000 /* a queue with waiting fetches ticks this often */

typedef struct waiter {
  struct waiter *next;
  tr_ref who;
  uint64_t corr;
  char worker[64];
  uint32_t max, lock_ms;
  uint64_t deadline;
} waiter;

typedef struct sub {
  struct sub *next;
  tr_ref who;
  char worker[64];
  uint32_t max, lock_ms;
  uint64_t until; /* the lease */
} sub;

typedef struct after {
  struct after *next;
  uint64_t seq;
  tr_ref to;     /* or, with name, a virtual actor */
  char *name;
  uint32_t type;
  uint16_t reply; /* a reply to corr */
  uint64_t corr;
  uint8_t *p;
  size_t len;
} after;

typedef struct qstate {
  jq q;
  int ready;
  waiter *wh, *wt;
  sub *subs;
  after *ah, *at;
  uint64_t acked;  /* highest durable sequence number */
  uint64_t resend_at; /* when unacked notes go out again (0: none pending) */
  uint64_t timer, timer_at;
} qstate;

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The queue's time: the wall clock, brought into the state's time-driven
 * indexes (expired locks and due retries become available), and never
 * earlier than a time the queue has already acted on. */
static uint64_t now_ms(qstate *s) { return jq_advance(&s->q, wall_ms()); }

/* ------------------------------------------------------------ what goes out */

static void after_free(after *a) {
  free(a->name);
  free(a->p);
  free(a);
}

/* "<node hex>:<id>" (how a creator given by ref is stored) */
static int ref_parse(const char *s, tr_ref *r) {
  char *e;
  r->node = strtoull(s, &e, 16);
  if (*e != ':') return TR_EINVAL;
  r->id = strtoull(e + 1, &e, 10);
  return *e || !r->id ? TR_EINVAL : 0;
}

static void send_after(tr_ctx *ctx, after *a) {
  tr_ref r;
  if (a->name && a->name[0] == '@' && ref_parse(a->name + 1, &r) == 0) {
    tr_actor_send(ctx, r, a->type, a->p, a->len); /* a creator by ref */
  } else if (a->name) {
    tr_virtual_send(ctx, a->name, a->type, a->p, a->len);
  } else if (a->reply) {
    tr_msg req = {.sender = a->to, .corr = a->corr, .flags = TR_MSG_F_ASK};
    tr_actor_reply(ctx, &req, a->type, a->p, a->len);
  } else {
    tr_actor_send(ctx, a->to, a->type, a->p, a->len);
  }
}

/* Sends pk's bytes once everything appended so far is durable. */
static int emit(tr_ctx *ctx, qstate *s, tr_ref to, const char *name, uint32_t type, int reply,
                uint64_t corr, tr_pack *pk) {
  if (pk->err) return pk->err; /* never send half a message */
  after *a = calloc(1, sizeof *a);
  if (!a || (pk->len && !(a->p = malloc(pk->len))) || (name && !(a->name = strdup(name)))) {
    if (a) after_free(a);
    return TR_ENOMEM;
  }
  memcpy(a->p, pk->data, pk->len);
  a->len = pk->len;
  a->to = to;
  a->type = type;
  a->reply = (uint16_t)reply;
  a->corr = corr;
  a->seq = tr_persist_seq(ctx);
  if (a->seq <= s->acked && !s->ah) { /* nothing pending: now */
    send_after(ctx, a);
    after_free(a);
    return 0;
  }
  if (s->at) s->at->next = a;
  else s->ah = a;
  s->at = a;
  return 0;
}

static void flush_after(tr_ctx *ctx, qstate *s) {
  while (s->ah && s->ah->seq <= s->acked) {
    after *a = s->ah;
    s->ah = a->next;
    if (!s->ah) s->at = NULL;
    send_after(ctx, a);
    after_free(a);
  }
}

static int reply_ok(tr_ctx *ctx, qstate *s, const tr_msg *m, tr_pack *pk) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  return emit(ctx, s, m->sender, NULL, TR_JOB_REPLY, 1, m->corr, pk);
}

/* Errors too wait for what was appended before them: "no such job" may be
 * about a completion that is not durable yet (emit sends at once when
 * nothing is pending). */
static int reply_err(tr_ctx *ctx, qstate *s, const tr_msg *m, int code, const char *fmt,
                     const char *arg) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  char text[512];
  snprintf(text, sizeof text, fmt, arg ? arg : "");
  uint8_t buf[640];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return emit(ctx, s, m->sender, NULL, TR_JOB_REPLY, 1, m->corr, &pk);
}

/* ------------------------------------------------------------ events */

/* Appends the event in pk and applies it. */
static int record(tr_ctx *ctx, qstate *s, tr_pack *pk) {
  int rc = tr_persist_append(ctx, pk->data, pk->len, NULL);
  if (rc < 0) return rc;
  return jq_apply(&s->q, pk->data, pk->len);
}

static int ev_lock(tr_ctx *ctx, qstate *s, jq_job *j, const char *worker, uint64_t until,
                   int pushed) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 5);
  tr_pack_uint(&pk, EV_LOCK);
  tr_pack_str(&pk, j->id);
  tr_pack_str(&pk, worker);
  tr_pack_uint(&pk, until);
  tr_pack_bool(&pk, pushed);
  int rc = record(ctx, s, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* [kind, id] and [kind, id, n] events */
static int ev_simple(tr_ctx *ctx, qstate *s, int kind, const char *id, int with, uint64_t n) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, with ? 3 : 2);
  tr_pack_uint(&pk, (uint64_t)kind);
  tr_pack_str(&pk, id);
  if (with) tr_pack_uint(&pk, n);
  int rc = record(ctx, s, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ handing out */

/* Answers a waiting (or new) fetch with up to max jobs locked to worker,
 * oldest first: each lock takes the job out of the available set, so the
 * next oldest is at its head. */
/* Whether j still fits a page of n jobs and *bytes so far (the first always
 * does); if so, counts it. */
static bool page_takes(const jq *q, const jq_job *j, uint32_t n, size_t *bytes) {
  size_t size = jq_job_size(q, j);
  if (n > 0 && *bytes + size > FETCH_MAX_BYTES) return false;
  *bytes += size;
  return true;
}

static int lock_for(tr_ctx *ctx, qstate *s, const char *worker, uint32_t max, uint32_t lock_ms,
                    tr_ref who, uint64_t corr, int reply) {
  uint64_t now = now_ms(s);
  jq_job *got[MAX_FETCH], *j;
  uint32_t n = 0;
  size_t bytes = 64;
  while (n < max && n < MAX_FETCH && (j = jq_first_available(&s->q, now))) {
    if (!page_takes(&s->q, j, n, &bytes)) break; /* the rest: the next fetch */
    int rc = ev_lock(ctx, s, j, worker, now + lock_ms, 0);
    if (rc < 0) return rc;
    got[n++] = j;
  }
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "jobs");
  tr_pack_array(&pk, n);
  for (uint32_t i = 0; i < n; i++) jq_pack_job(&pk, &s->q, got[i], now);
  int rc = reply ? emit(ctx, s, who, NULL, TR_JOB_REPLY, 1, corr, &pk) : 0;
  tr_pack_free(&pk);
  return rc;
}

/* Hands available jobs to waiting fetches first (oldest first), then to
 * subscribers with room. */
static int dispatch(tr_ctx *ctx, qstate *s) {
  uint64_t now = now_ms(s);
  while (s->wh && jq_available_count(&s->q, now)) {
    waiter *w = s->wh;
    s->wh = w->next;
    if (!s->wh) s->wt = NULL;
    int rc = lock_for(ctx, s, w->worker, w->max, w->lock_ms, w->who, w->corr, 1);
    free(w);
    if (rc < 0) return rc;
  }
  now = now_ms(s); /* the fetches' locks may have advanced it */
  for (sub *b = s->subs; b; b = b->next) {
    if (b->until <= now) continue;
    uint32_t held = jq_inflight(&s->q, b->worker, now);
    uint32_t room = b->max > held ? b->max - held : 0;
    jq_job *j;
    while (room && (j = jq_first_available(&s->q, now))) {
      int rc = ev_lock(ctx, s, j, b->worker, now + b->lock_ms, 1);
      if (rc < 0) return rc;
      tr_pack pk = TR_PACK_INIT;
      jq_pack_job(&pk, &s->q, j, now);
      rc = emit(ctx, s, b->who, NULL, TR_JOB_PUSH, 0, 0, &pk);
      tr_pack_free(&pk);
      if (rc < 0) return rc;
      room--;
    }
  }
  return 0;
}

/* Waiting fetches past their deadline get an empty answer; lapsed leases go. */
static void expire(tr_ctx *ctx, qstate *s) {
  uint64_t now = now_ms(s);
  for (waiter **p = &s->wh; *p;) {
    waiter *w = *p;
    if (w->deadline > now) {
      p = &w->next;
      continue;
    }
    *p = w->next;
    lock_for(ctx, s, w->worker, 0, 0, w->who, w->corr, 1);
    free(w);
  }
  s->wt = NULL;
  for (waiter *w = s->wh; w; w = w->next) s->wt = w;
  for (sub **p = &s->subs; *p;) {
    if ((*p)->until <= now) {
      sub *b = *p;
      *p = b->next;
      free(b);
    } else {
      p = &(*p)->next;
    }
  }
}

/* One timer for the next thing that happens by itself. */
static void arm(tr_ctx *ctx, qstate *s) {
  uint64_t now = now_ms(s), at = jq_next_change(&s->q, now);
  for (waiter *w = s->wh; w; w = w->next)
    if (!at || w->deadline < at) at = w->deadline;
  /* a waiting fetch is activity: tick well inside the kind's idle time, or
   * the queue would be passivated under it */
  if (s->wh && (!at || at > now + KEEPALIVE_MS)) at = now + KEEPALIVE_MS;
  for (sub *b = s->subs; b; b = b->next)
    if (!at || b->until < at) at = b->until;
  if (!s->q.nfinished) s->resend_at = 0;
  else if (!s->resend_at) s->resend_at = now + RESEND_MS;
  if (s->resend_at && (!at || s->resend_at < at)) at = s->resend_at;
  if (at == s->timer_at) return;
  if (s->timer) tr_timer_cancel(ctx, s->timer);
  s->timer = 0;
  s->timer_at = at;
  if (at) tr_timer_start(ctx, at > now ? at - now : 1, 0, 0, NULL, 0, &s->timer);
}

/* ------------------------------------------------------------ requests */

typedef struct req {
  tr_unpack map;
  const char *id;
  size_t id_len;
  char worker[64];
} req;

static int str_arg(const tr_unpack *m, const char *k, char *buf, size_t cap) {
  const char *p;
  size_t n;
  if (tr_unpack_find_str(m, k, &p, &n) < 0 || n >= cap) return TR_EINVAL;
  memcpy(buf, p, n);
  buf[n] = 0;
  return 0;
}

static int u32_arg(const tr_unpack *m, const char *k, uint32_t def, uint32_t max, uint32_t *v) {
  int64_t x;
  int rc = tr_unpack_find_int(m, k, &x);
  if (rc == TR_ENOENT) {
    *v = def;
    return 0;
  }
  if (rc < 0 || x < 0 || (uint64_t)x > max) return TR_EINVAL;
  *v = (uint32_t)x;
  return 0;
}

/* The job a request names, locked by its worker (what complete, fail,
 * bpmnError and extendLock need). */
static int locked_job(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map,
                      jq_job **out) {
  const char *id;
  size_t n;
  char worker[64];
  if (tr_unpack_find_str(map, "id", &id, &n) < 0 || str_arg(map, "worker", worker, sizeof worker))
    return reply_err(ctx, s, m, TR_EINVAL, "id and worker are required%s", NULL), TR_EINVAL;
  jq_job *j = jq_find(&s->q, id, n);
  if (j && !jq_visible(j)) j = NULL; /* finished: gone for workers */
  char idz[TR_JOB_ID_MAX + 1];
  snprintf(idz, sizeof idz, "%.*s", (int)(n > TR_JOB_ID_MAX ? TR_JOB_ID_MAX : n), id);
  if (!j) return reply_err(ctx, s, m, TR_ENOENT, "External task %s does not exist", idz), TR_ENOENT;
  if (j->state != J_LOCKED || strcmp(j->worker, worker)) {
    char text[TR_JOB_ID_MAX + 96];
    snprintf(text, sizeof text, "%s is not locked by worker %s", idz, worker);
    return reply_err(ctx, s, m, TR_EPERM, "External task %s", text), TR_EPERM;
  }
  *out = j;
  return 0;
}

/* What the creator is told about j (type TR_JOB_DONE/ERROR/INCIDENT),
 * with the request's vars (and code/message for a BPMN error). */
static void build_note(qstate *s, const jq_job *j, uint32_t type, const tr_unpack *map,
                       tr_pack *pk) {
  tr_unpack vars;
  int has_vars = map && tr_unpack_find(map, "vars", &vars) == 0;
  int is_err = type == TR_JOB_ERROR;
  tr_pack_map(pk, 3 + (uint32_t)has_vars + (is_err ? 2 : 0) + (type == TR_JOB_INCIDENT));
  tr_pack_kv_str(pk, "id", j->id);
  tr_pack_kv_str(pk, "topic", s->q.topic);
  tr_pack_kv_str(pk, "key", j->key); /* the creator's own name for it */
  if (has_vars) {
    const void *p;
    size_t n;
    tr_unpack_raw(&vars, &p, &n);
    tr_pack_str(pk, "vars");
    tr_pack_raw(pk, p, n);
  }
  if (is_err) {
    char code[128] = "", msg[400] = "";
    str_arg(map, "code", code, sizeof code);
    str_arg(map, "message", msg, sizeof msg);
    tr_pack_kv_str(pk, "code", code);
    tr_pack_kv_str(pk, "message", msg);
  }
  if (type == TR_JOB_INCIDENT) tr_pack_kv_str(pk, "error", j->error ? j->error : "");
}

/* Sends finished jobs' notes again (after recovery, and now and then until
 * their creators ack). */
static int resend_notes(tr_ctx *ctx, qstate *s) {
  for (jq_job *j = s->q.fhead; j; j = j->fnext) { /* the finished ones only */
    if (!j->notify) continue;
    tr_pack pk;
    tr_pack_init_fixed(&pk, j->note, j->note_len);
    pk.len = j->note_len;
    int rc = emit(ctx, s, TR_REF_NONE, j->notify, j->note_type, 0, 0, &pk);
    if (rc < 0) return rc;
  }
  return 0;
}

/* Completion or BPMN error: the job ends, and its note waits in the job
 * (an outbox) until the creator acks it. */
static int finish(tr_ctx *ctx, qstate *s, jq_job *j, int kind, const tr_unpack *map) {
  tr_pack note = TR_PACK_INIT, ev = TR_PACK_INIT;
  uint32_t type = kind == EV_DONE ? TR_JOB_DONE : TR_JOB_ERROR;
  if (j->notify) build_note(s, j, type, map, &note);
  tr_pack_array(&ev, 3);
  tr_pack_uint(&ev, (uint64_t)kind);
  tr_pack_str(&ev, j->id);
  if (j->notify) tr_pack_bin(&ev, note.data, note.len);
  else tr_pack_nil(&ev);
  char *to = j->notify; /* j stays (finished) when it has a creator to tell */
  int rc = note.err ? note.err : record(ctx, s, &ev);
  if (rc == 0 && to) rc = emit(ctx, s, TR_REF_NONE, to, type, 0, 0, &note);
  tr_pack_free(&note);
  tr_pack_free(&ev);
  return rc;
}

static int notify_incident(tr_ctx *ctx, qstate *s, const jq_job *j) {
  if (!j->notify) return 0;
  tr_pack pk = TR_PACK_INIT;
  build_note(s, j, TR_JOB_INCIDENT, NULL, &pk);
  int rc = emit(ctx, s, TR_REF_NONE, j->notify, TR_JOB_INCIDENT, 0, 0, &pk);
  tr_pack_free(&pk);
  return rc;
}

static int ok_body(tr_pack *pk, const char *id) {
  tr_pack_map(pk, id ? 2 : 1);
  tr_pack_str(pk, "ok");
  tr_pack_bool(pk, 1);
  if (id) tr_pack_kv_str(pk, "id", id);
  return 0;
}

/* {ok: true} to m when rc is 0 (the change it reports is recorded);
 * returns rc, or the reply's error. */
static int answer_ok(tr_ctx *ctx, qstate *s, const tr_msg *m, int rc) {
  if (rc < 0) return rc;
  uint8_t buf[16];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  ok_body(&pk, NULL);
  return reply_ok(ctx, s, m, &pk);
}

static int on_create(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  char key[TR_JOB_ID_MAX + 1] = "", id[TR_JOB_ID_MAX + 1];
  char *f[JQ_STRS] = {"notify", "pi", "act", "bk", "dk", "did"}, val[JQ_STRS][256];
  if (tr_unpack_find(map, "key", &(tr_unpack){0}) == 0 && str_arg(map, "key", key, sizeof key))
    return reply_err(ctx, s, m, TR_EINVAL, "key must be a string of at most 255 bytes%s", NULL);
  for (int i = 0; i < JQ_STRS; i++) {
    val[i][0] = 0;
    if (tr_unpack_find(map, f[i], &(tr_unpack){0}) == 0 && str_arg(map, f[i], val[i], 256))
      return reply_err(ctx, s, m, TR_EINVAL, "%s must be a string of at most 255 bytes", f[i]);
  }
  if (val[0][0] && tr_virtual_name_check(val[0]) < 0)
    return reply_err(ctx, s, m, TR_EINVAL, "notify '%s' is not a virtual actor name", val[0]);
  tr_unpack nref;
  if (tr_unpack_find(map, "notify_ref", &nref) == 0) { /* a creator by ref: [node, id] */
    uint32_t two;
    uint64_t node, aid;
    if (tr_unpack_array(&nref, &two) < 0 || two != 2 || tr_unpack_uint(&nref, &node) < 0 ||
        tr_unpack_uint(&nref, &aid) < 0 || !aid || val[0][0])
      return reply_err(ctx, s, m, TR_EINVAL, "notify_ref must be [node, id] (and no notify)%s", NULL);
    if (!node) node = m->sender.node;
    if (!node) node = tr_system_node_id(tr_actor_system(ctx)); /* "here", as an id */
    snprintf(val[0], sizeof val[0], "@%llx:%llu", (unsigned long long)node, (unsigned long long)aid);
  }
  int64_t retries = -1;
  int rc = tr_unpack_find_int(map, "retries", &retries);
  if ((rc < 0 && rc != TR_ENOENT) || retries < -1)
    return reply_err(ctx, s, m, TR_EINVAL, "retries must be an integer >= 0%s", NULL);
  tr_pack pk = TR_PACK_INIT;
  jq_job *dup = jq_find_key(&s->q, key, strlen(key));
  if (dup) { /* the same creation again (a retry after a crash): the same job */
    ok_body(&pk, dup->id);
    rc = reply_ok(ctx, s, m, &pk);
    tr_pack_free(&pk);
    return rc;
  }
  snprintf(id, sizeof id, "%llx-%s", (unsigned long long)tr_persist_seq(ctx) + 1, s->q.topic);
  tr_unpack vars;
  const void *vp = NULL;
  size_t vn = 0;
  if (tr_unpack_find(map, "vars", &vars) == 0) tr_unpack_raw(&vars, &vp, &vn);
  const char *strs[JQ_STRS] = {val[0], val[1], val[2], val[3], val[4], val[5]};
  jq_pack_create(&pk, id, key, vp, vn, retries, strs, wall_ms());
  rc = record(ctx, s, &pk);
  tr_pack_reset(&pk);
  if (rc == 0) {
    ok_body(&pk, id);
    rc = reply_ok(ctx, s, m, &pk);
  }
  tr_pack_free(&pk);
  return rc < 0 ? rc : dispatch(ctx, s);
}

static int on_fetch(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  char worker[64];
  uint32_t max, lock_ms, wait_ms;
  if (str_arg(map, "worker", worker, sizeof worker) || !worker[0] ||
      u32_arg(map, "max", 1, MAX_FETCH, &max) || !max ||
      u32_arg(map, "lock_ms", 0, MAX_LOCK_MS, &lock_ms) || !lock_ms ||
      u32_arg(map, "wait_ms", 0, 1800000, &wait_ms))
    return reply_err(ctx, s, m, TR_EINVAL,
                     "fetch needs worker, max (1..1000), lock_ms (> 0), wait_ms (<= 30 min)%s",
                     NULL);
  if (!(m->flags & TR_MSG_F_ASK)) return 0; /* nobody to hand jobs to: lock none */
  uint64_t now = now_ms(s);
  if (jq_available_count(&s->q, now) || !wait_ms)
    return lock_for(ctx, s, worker, max, lock_ms, m->sender, m->corr, 1);
  waiter *w = calloc(1, sizeof *w);
  if (!w) return TR_ENOMEM;
  w->who = m->sender;
  w->corr = m->corr;
  memcpy(w->worker, worker, sizeof worker);
  w->max = max;
  w->lock_ms = lock_ms;
  w->deadline = now + wait_ms;
  if (s->wt) s->wt->next = w;
  else s->wh = w;
  s->wt = w;
  return 0;
}

static int on_settle(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  jq_job *j;
  int rc = locked_job(ctx, s, m, map, &j);
  if (rc < 0) return 0; /* answered */
  char id[TR_JOB_ID_MAX + 1];
  memcpy(id, j->id, sizeof id);
  tr_pack pk = TR_PACK_INIT;
  if (m->type == TR_JOB_COMPLETE) {
    rc = finish(ctx, s, j, EV_DONE, map);
  } else if (m->type == TR_JOB_BPMN_ERROR) {
    char code[128];
    if (str_arg(map, "code", code, sizeof code) || !code[0]) {
      tr_pack_free(&pk);
      return reply_err(ctx, s, m, TR_EINVAL, "bpmnError needs an error code%s", NULL);
    }
    rc = finish(ctx, s, j, EV_BERR, map);
  } else if (m->type == TR_JOB_EXTEND) {
    uint32_t lock_ms;
    if (u32_arg(map, "lock_ms", 0, MAX_LOCK_MS, &lock_ms) || !lock_ms) {
      tr_pack_free(&pk);
      return reply_err(ctx, s, m, TR_EINVAL, "extendLock needs lock_ms > 0%s", NULL);
    }
    rc = ev_simple(ctx, s, EV_EXTEND, id, 1, now_ms(s) + lock_ms);
  } else { /* TR_JOB_FAIL */
    int64_t retries;
    uint32_t retry_ms;
    char err[400] = "";
    if (tr_unpack_find_int(map, "retries", &retries) < 0 || retries < 0 ||
        u32_arg(map, "retry_ms", 0, MAX_LOCK_MS, &retry_ms)) {
      tr_pack_free(&pk);
      return reply_err(ctx, s, m, TR_EINVAL, "failure needs retries >= 0 and retry_ms%s", NULL);
    }
    str_arg(map, "error", err, sizeof err);
    tr_pack_array(&pk, 5);
    tr_pack_uint(&pk, EV_FAIL);
    tr_pack_str(&pk, id);
    tr_pack_int(&pk, retries);
    tr_pack_uint(&pk, now_ms(s) + retry_ms);
    tr_pack_str(&pk, err);
    rc = record(ctx, s, &pk);
    tr_pack_reset(&pk);
    if (rc == 0 && retries == 0) rc = notify_incident(ctx, s, j);
  }
  if (rc == 0) {
    ok_body(&pk, NULL);
    rc = reply_ok(ctx, s, m, &pk);
  }
  tr_pack_free(&pk);
  return rc < 0 ? rc : dispatch(ctx, s);
}

static int on_admin(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  const char *id;
  size_t n;
  if (tr_unpack_find_str(map, "id", &id, &n) < 0)
    return reply_err(ctx, s, m, TR_EINVAL, "id is required%s", NULL);
  jq_job *j = jq_find(&s->q, id, n);
  if (m->type == TR_JOB_ACK)
    return answer_ok(ctx, s, m,
                     j && j->state == J_FINISHED ? ev_simple(ctx, s, EV_FORGET, j->id, 0, 0) : 0);
  if (j && !jq_visible(j)) j = NULL;
  if (!j) return reply_err(ctx, s, m, TR_ENOENT, "External task does not exist%s", NULL);
  int rc = 0;
  if (m->type == TR_JOB_UNLOCK) {
    if (j->state == J_LOCKED) rc = ev_simple(ctx, s, EV_UNLOCK, j->id, 0, 0);
  } else {
    int64_t retries;
    if (tr_unpack_find_int(map, "retries", &retries) < 0 || retries < 0)
      return reply_err(ctx, s, m, TR_EINVAL, "retries must be an integer >= 0%s", NULL);
    rc = ev_simple(ctx, s, EV_RETRIES, j->id, 1, (uint64_t)retries);
  }
  rc = answer_ok(ctx, s, m, rc);
  return rc < 0 ? rc : dispatch(ctx, s);
}

static int on_subscribe(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  char worker[64];
  if (str_arg(map, "worker", worker, sizeof worker) || !worker[0])
    return reply_err(ctx, s, m, TR_EINVAL, "worker is required%s", NULL);
  sub **p = &s->subs;
  while (*p && strcmp((*p)->worker, worker)) p = &(*p)->next;
  tr_pack pk = TR_PACK_INIT;
  if (m->type == TR_JOB_UNSUBSCRIBE) {
    if (*p) {
      sub *b = *p;
      *p = b->next;
      free(b);
    }
  } else {
    uint32_t max, lock_ms, lease;
    if (u32_arg(map, "max", 1, MAX_FETCH, &max) || !max ||
        u32_arg(map, "lock_ms", 0, MAX_LOCK_MS, &lock_ms) || !lock_ms ||
        u32_arg(map, "lease_ms", DEFAULT_LEASE_MS, MAX_LOCK_MS, &lease) || !lease)
      return reply_err(ctx, s, m, TR_EINVAL, "subscribe needs worker, max (1..1000), lock_ms%s", NULL);
    sub *b = *p ? *p : calloc(1, sizeof *b);
    if (!b) return TR_ENOMEM;
    if (!*p) *p = b;
    b->who = m->sender;
    memcpy(b->worker, worker, sizeof worker);
    b->max = max;
    b->lock_ms = lock_ms;
    b->until = now_ms(s) + lease;
  }
  ok_body(&pk, NULL);
  int rc = reply_ok(ctx, s, m, &pk);
  tr_pack_free(&pk);
  return rc < 0 ? rc : dispatch(ctx, s);
}

/* TR_JOB_LOCK and TR_JOB_GET: one job by id. A lock takes an available
 * job, or renews the lock of the worker that holds it. */
static int on_one(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  const char *id;
  size_t n;
  char worker[64] = "";
  uint32_t lock_ms = 0;
  if (tr_unpack_find_str(map, "id", &id, &n) < 0 ||
      (m->type == TR_JOB_LOCK &&
       (str_arg(map, "worker", worker, sizeof worker) || !worker[0] ||
        u32_arg(map, "lock_ms", 0, MAX_LOCK_MS, &lock_ms) || !lock_ms)))
    return reply_err(ctx, s, m, TR_EINVAL, "id%s are required",
                     m->type == TR_JOB_LOCK ? ", worker and lock_ms > 0" : "");
  jq_job *j = jq_find(&s->q, id, n);
  if (j && !jq_visible(j)) j = NULL;
  if (!j) return reply_err(ctx, s, m, TR_ENOENT, "External task does not exist%s", NULL);
  uint64_t now = now_ms(s);
  int rc = 0;
  if (m->type == TR_JOB_LOCK) {
    int mine = j->state == J_LOCKED && !strcmp(j->worker, worker);
    if (j->state == J_INCIDENT || (!mine && !jq_available(j, now)))
      return reply_err(ctx, s, m, TR_EPERM, "External task %s cannot be locked now", j->id);
    rc = ev_lock(ctx, s, j, worker, now + lock_ms, 0);
  }
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, m->type == TR_JOB_GET ? 2 : 1);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  if (m->type == TR_JOB_GET) {
    tr_pack_str(&pk, "job");
    jq_pack_job(&pk, &s->q, j, now);
  }
  if (rc == 0) rc = reply_ok(ctx, s, m, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* TR_JOB_CANCEL: a job whose activity was left another way goes, with no
 * note (a completion event without one: the job is gone at once). */
static int on_cancel(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  const char *k;
  size_t n;
  jq_job *j = NULL;
  if (tr_unpack_find_str(map, "key", &k, &n) == 0 && n) j = jq_find_key(&s->q, k, n);
  else if (tr_unpack_find_str(map, "id", &k, &n) == 0 && n) j = jq_find(&s->q, k, n);
  else return reply_err(ctx, s, m, TR_EINVAL, "cancel needs a key or an id%s", NULL);
  int rc = 0;
  if (j && jq_visible(j)) {
    tr_pack ev = TR_PACK_INIT;
    tr_pack_array(&ev, 3);
    tr_pack_uint(&ev, EV_DONE);
    tr_pack_str(&ev, j->id);
    tr_pack_nil(&ev);
    rc = ev.err ? ev.err : record(ctx, s, &ev);
    tr_pack_free(&ev);
  }
  return answer_ok(ctx, s, m, rc);
}

/* The visible jobs in creation order, from the first-th: at most max, and
 * as many as fit FETCH_MAX_BYTES (at least one); more: some are left. */
static int on_list(tr_ctx *ctx, qstate *s, const tr_msg *m, const tr_unpack *map) {
  uint32_t first, max;
  if (u32_arg(map, "first", 0, UINT32_MAX, &first) ||
      u32_arg(map, "max", UINT32_MAX, UINT32_MAX, &max))
    return reply_err(ctx, s, m, TR_EINVAL, "list takes first and max (numbers >= 0)%s", NULL);
  uint64_t now = now_ms(s);
  jq_job *j = s->q.head;
  for (uint32_t skip = first; j; j = j->next)
    if (jq_visible(j) && skip-- == 0) break;
  uint32_t n = 0;
  size_t bytes = 64;
  jq_job *end = j;
  for (; end && n < max; end = end->next) {
    if (!jq_visible(end)) continue;
    if (!page_takes(&s->q, end, n, &bytes)) break;
    n++;
  }
  int more = 0;
  for (jq_job *k = end; k && !more; k = k->next) more = jq_visible(k);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 3);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "more");
  tr_pack_bool(&pk, more);
  tr_pack_str(&pk, "jobs");
  tr_pack_array(&pk, n);
  for (; j != end; j = j->next)
    if (jq_visible(j)) jq_pack_job(&pk, &s->q, j, now);
  int rc = reply_ok(ctx, s, m, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ the behaviour */

static int q_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  qstate *s = st;
  if (!vid || !vid->key[0]) return TR_EINVAL;
  return jq_init(&s->q, vid->key);
}

static int q_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  (void)seq;
  int rc = jq_apply(&((qstate *)st)->q, ev, len);
  if (rc == TR_ECORRUPT) {
    tr_log(TR_LOG_WARN, "jobs", "%s: event %llu does not fit the queue; skipped",
           ((qstate *)st)->q.topic, (unsigned long long)seq);
    return 0;
  }
  return rc;
}

static int q_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  qstate *s = st;
  int rc = 0;
  if (m->type == TR_MSG_RECOVERED) {
    s->acked = m->corr;
    rc = resend_notes(ctx, s);
    if (rc == 0) rc = dispatch(ctx, s);
  } else if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO; /* recovery rebuilds from what is durable */
    if (m->corr > s->acked) s->acked = m->corr;
    flush_after(ctx, s);
    return 0;
  } else if (m->flags & TR_MSG_F_TIMER) {
    s->timer = 0;
    s->timer_at = 0;
    expire(ctx, s);
    if (s->resend_at && s->resend_at <= now_ms(s)) {
      s->resend_at = 0;
      rc = resend_notes(ctx, s);
    }
    if (rc == 0) rc = dispatch(ctx, s);
  } else if ((m->type >= TR_JOB_CREATE && m->type <= TR_JOB_LIST) || m->type == TR_JOB_ACK ||
             m->type == TR_JOB_LOCK || m->type == TR_JOB_GET || m->type == TR_JOB_CANCEL) {
    tr_unpack map;
    uint32_t n;
    tr_unpack_init(&map, m->data, m->len);
    tr_unpack probe = map;
    if (tr_unpack_map(&probe, &n) < 0)
      return reply_err(ctx, s, m, TR_EPROTO, "the request must be a msgpack map%s", NULL);
    switch (m->type) {
    case TR_JOB_CREATE: rc = on_create(ctx, s, m, &map); break;
    case TR_JOB_FETCH: rc = on_fetch(ctx, s, m, &map); break;
    case TR_JOB_COMPLETE:
    case TR_JOB_FAIL:
    case TR_JOB_BPMN_ERROR:
    case TR_JOB_EXTEND: rc = on_settle(ctx, s, m, &map); break;
    case TR_JOB_UNLOCK:
    case TR_JOB_ACK:
    case TR_JOB_SET_RETRIES: rc = on_admin(ctx, s, m, &map); break;
    case TR_JOB_SUBSCRIBE:
    case TR_JOB_UNSUBSCRIBE: rc = on_subscribe(ctx, s, m, &map); break;
    case TR_JOB_LOCK:
    case TR_JOB_GET: rc = on_one(ctx, s, m, &map); break;
    case TR_JOB_CANCEL: rc = on_cancel(ctx, s, m, &map); break;
    default: rc = on_list(ctx, s, m, &map); break;
    }
  } else if (m->flags & TR_MSG_F_ASK) {
    return reply_err(ctx, s, m, TR_ENOTSUP, "not a job queue request%s", NULL);
  }
  if (rc < 0) return rc;
  arm(ctx, s);
  return 0;
}

static void q_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  qstate *s = st;
  while (s->wh) {
    waiter *w = s->wh;
    s->wh = w->next;
    free(w);
  }
  while (s->subs) {
    sub *b = s->subs;
    s->subs = b->next;
    free(b);
  }
  while (s->ah) {
    after *a = s->ah;
    s->ah = a->next;
    after_free(a);
  }
  jq_free(&s->q);
}

static int q_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  (void)ctx;
  tr_pack pk = TR_PACK_INIT;
  int rc = jq_snapshot(&((qstate *)st)->q, &pk);
  if (rc == 0) rc = tr_buf_append(out, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int q_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len) {
  (void)ctx;
  (void)seq;
  return jq_restore(&((qstate *)st)->q, data, len);
}

static const tr_persistent queue_b = {
    .base = {.name = "jobs", .state_size = sizeof(qstate), .init = q_init,
             .receive = q_receive, .terminate = q_terminate},
    .apply = q_apply,
    .snapshot = q_snapshot,
    .restore = q_restore};

int tr_jobs_register(tr_system *sys, uint32_t roles) {
  return tr_kind_register(sys, &(tr_kind){.name = TR_JOB_KIND, .persistent = &queue_b,
                                          .roles = roles, .snapshot_every = 1000,
                                          .snapshot_keep = 2});
}
