/* hist.c - the instances of one process key, running and finished,
 * "wfhist/<key>" (index.h), a persistent virtual actor.
 *
 * Journal ([kind, ...] arrays, applied by apply(), which recovery replays):
 *   [1, pi, def, key, version, bk, start]        an instance started
 *   [2, pi, state, end, error, acts]             it ended
 * A snapshot is [records in start order, pis of the finished in the order
 * they finished].
 *
 * Retention: the newest tr_wf_hist_keep() finished records per key stay
 * (TR_WF_HIST_KEEP by default); the oldest finished goes when one more
 * finishes. It is applied in apply(), so replay keeps the same ones.
 * Running instances are never dropped.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/idx.h"

enum { EV_STARTED = 1, EV_ENDED };
enum { S_RUNNING, S_COMPLETED, S_FAILED, S_TERMINATED };
static const char *const state_names[] = {"running", "completed", "failed", "terminated"};

#define LIST_MAX 10000    /* records in one answer */
#define LIST_DEFAULT 1000

static _Atomic size_t g_keep = TR_WF_HIST_KEEP;

void tr_wf_hist_keep_set(size_t n) { atomic_store(&g_keep, n ? n : 1); }
size_t tr_wf_hist_keep(void) { return atomic_load(&g_keep); }

typedef struct rec {
  struct rec *next, *prev;   /* start order */
  struct rec *fnext, *fprev; /* finish order (retention) */
  char *pi, *def, *key, *bk, *error;
  int64_t version;
  uint64_t start, end;
  int state;
  uint8_t *acts; /* an array's bytes, or NULL: [] */
  size_t acts_len;
} rec;

typedef struct hstate {
  char key[TR_VIRTUAL_NAME_MAX + 1];
  char name[TR_VIRTUAL_NAME_MAX + 1];
  rec *head, *tail, *fhead, *ftail;
  size_t nfinished;
  idx_map by_pi;
  idx_out out;
} hstate;

/* ------------------------------------------------------------ the state */

static void rec_free(rec *r) {
  free(r->pi), free(r->def), free(r->key), free(r->bk), free(r->error), free(r->acts);
  free(r);
}

static void drop(hstate *s, rec *r) {
  idx_map_del(&s->by_pi, r->pi, strlen(r->pi));
  if (r->prev) r->prev->next = r->next;
  else s->head = r->next;
  if (r->next) r->next->prev = r->prev;
  else s->tail = r->prev;
  if (r->state != S_RUNNING) {
    if (r->fprev) r->fprev->fnext = r->fnext;
    else s->fhead = r->fnext;
    if (r->fnext) r->fnext->fprev = r->fprev;
    else s->ftail = r->fprev;
    s->nfinished--;
  }
  rec_free(r);
}

/* The string at the cursor as a new heap copy (the caller's to free). */
static char *dup_str(tr_unpack *u, int *err) {
  const char *p;
  size_t n;
  if (tr_unpack_str(u, &p, &n) < 0) {
    *err = TR_ECORRUPT;
    return NULL;
  }
  char *c = strndup(p, n);
  if (!c) *err = TR_ENOMEM;
  return c;
}

static rec *add(hstate *s, const char *pi, size_t n) {
  rec *r = calloc(1, sizeof *r);
  if (!r || !(r->pi = strndup(pi, n)) || idx_map_put(&s->by_pi, pi, n, r) < 0) {
    if (r) free(r->pi);
    free(r);
    return NULL;
  }
  r->prev = s->tail;
  if (s->tail) s->tail->next = r;
  else s->head = r;
  s->tail = r;
  return r;
}

/* Marks r finished (newest) and lets the oldest finished go past the limit. */
static void finished(hstate *s, rec *r) {
  r->fprev = s->ftail;
  if (s->ftail) s->ftail->fnext = r;
  else s->fhead = r;
  s->ftail = r;
  s->nfinished++;
  size_t keep = tr_wf_hist_keep();
  while (s->nfinished > keep && s->fhead != r) drop(s, s->fhead);
}

static int apply_started(hstate *s, tr_unpack *u, int *is_new) {
  const char *pi;
  size_t pl;
  if (tr_unpack_str(u, &pi, &pl) < 0 || !pl) return TR_ECORRUPT;
  rec *r = idx_map_get(&s->by_pi, pi, pl);
  *is_new = !r;
  if (!r && !(r = add(s, pi, pl))) return TR_ENOMEM;
  int err = 0;
  char *def = dup_str(u, &err), *key = dup_str(u, &err);
  int64_t version = 0;
  if (!err && tr_unpack_int(u, &version) < 0) err = TR_ECORRUPT;
  char *bk = err ? NULL : dup_str(u, &err);
  uint64_t start = 0;
  if (!err && tr_unpack_uint(u, &start) < 0) err = TR_ECORRUPT;
  if (err) {
    free(def), free(key), free(bk);
    if (*is_new) drop(s, r);
    return err;
  }
  free(r->def), free(r->key), free(r->bk);
  r->def = def, r->key = key, r->bk = bk;
  r->version = version;
  r->start = start;
  return 0;
}

static int state_of(const char *p, size_t n) {
  for (int i = 0; i < 4; i++)
    if (idx_str_is(p, n, state_names[i])) return i;
  return -1;
}

static int apply_ended(hstate *s, tr_unpack *u) {
  const char *pi, *st;
  size_t pl, sl;
  uint64_t end;
  const void *acts;
  size_t al;
  int err = 0;
  if (tr_unpack_str(u, &pi, &pl) < 0 || !pl || tr_unpack_str(u, &st, &sl) < 0 ||
      state_of(st, sl) <= S_RUNNING || tr_unpack_uint(u, &end) < 0)
    return TR_ECORRUPT;
  char *error = dup_str(u, &err);
  if (!err && tr_unpack_raw(u, &acts, &al) < 0) err = TR_ECORRUPT;
  rec *r = idx_map_get(&s->by_pi, pi, pl);
  if (!err && r && r->state != S_RUNNING) { /* ended twice: the first stays */
    free(error);
    return 0;
  }
  uint8_t *copy = err ? NULL : malloc(al);
  if (!err && !copy) err = TR_ENOMEM;
  if (!err && !r && !(r = add(s, pi, pl))) err = TR_ENOMEM; /* ended, start unheard of */
  if (err) {
    free(error), free(copy);
    return err;
  }
  memcpy(copy, acts, al);
  free(r->acts), free(r->error); /* a restored running record has empty ones */
  r->acts = copy;
  r->acts_len = al;
  r->error = error;
  r->end = end;
  r->state = state_of(st, sl);
  finished(s, r);
  return 0;
}

/* Applies one event (ev borrowed); TR_ECORRUPT for one that does not fit. */
static int apply(hstate *s, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  uint32_t n;
  uint64_t kind;
  int is_new;
  if (tr_unpack_array(&u, &n) < 0 || tr_unpack_uint(&u, &kind) < 0) return TR_ECORRUPT;
  if (kind == EV_STARTED && n == 7) return apply_started(s, &u, &is_new);
  if (kind == EV_ENDED && n == 6) return apply_ended(s, &u);
  return TR_ECORRUPT;
}

/* Appends the event in pk (the caller's) and applies it. */
static int record(tr_ctx *ctx, hstate *s, tr_pack *pk) {
  if (pk->err) return pk->err;
  int rc = tr_persist_append(ctx, pk->data, pk->len, NULL);
  return rc < 0 ? rc : apply(s, pk->data, pk->len);
}

/* Appends the record as LIST and GET show it to the caller's pk. */
static int pack_rec(tr_pack *pk, const rec *r) {
  tr_pack_map(pk, 10);
  tr_pack_kv_str(pk, "pi", r->pi);
  tr_pack_kv_str(pk, "def", r->def ? r->def : "");
  tr_pack_kv_str(pk, "key", r->key ? r->key : "");
  tr_pack_kv_int(pk, "version", r->version);
  tr_pack_kv_str(pk, "bk", r->bk ? r->bk : "");
  tr_pack_kv_str(pk, "state", state_names[r->state]);
  tr_pack_str(pk, "start");
  tr_pack_uint(pk, r->start);
  tr_pack_str(pk, "end");
  if (r->state == S_RUNNING) tr_pack_nil(pk);
  else tr_pack_uint(pk, r->end);
  tr_pack_str(pk, "error");
  if (r->error && r->error[0]) tr_pack_str(pk, r->error);
  else tr_pack_nil(pk);
  tr_pack_str(pk, "acts");
  return r->acts ? tr_pack_raw(pk, r->acts, r->acts_len) : tr_pack_array(pk, 0);
}

/* ------------------------------------------------------------ requests */

static int on_started(tr_ctx *ctx, hstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *pi, *def = "", *key = s->key, *bk = "";
  size_t pl, dl = 0, kl = strlen(s->key), bl = 0;
  int64_t version = 0, start = (int64_t)idx_wall_ms();
  if (idx_opt_str(req, "pi", 200, &pi, &pl) != 0 || !pl ||
      idx_opt_str(req, "def", IDX_STR_MAX, &def, &dl) < 0 ||
      idx_opt_str(req, "key", IDX_STR_MAX, &key, &kl) < 0 ||
      idx_opt_str(req, "bk", IDX_STR_MAX, &bk, &bl) < 0 ||
      idx_opt_int(req, "version", &version) < 0 || idx_opt_int(req, "start", &start) < 0 ||
      start < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "started needs pi; def, key, bk are strings, version and start integers");
  rec *r = idx_map_get(&s->by_pi, pi, pl);
  /* again: the same; but a record an end made (its start lost) learns it */
  if (r && (r->start || (r->def && r->def[0]))) return idx_reply_ok(ctx, &s->out, m);
  tr_pack ev = TR_PACK_INIT;
  tr_pack_array(&ev, 7);
  tr_pack_uint(&ev, EV_STARTED);
  tr_pack_strn(&ev, pi, pl);
  tr_pack_strn(&ev, def, dl);
  tr_pack_strn(&ev, key, kl);
  tr_pack_int(&ev, version);
  tr_pack_strn(&ev, bk, bl);
  tr_pack_uint(&ev, (uint64_t)start);
  int rc = record(ctx, s, &ev);
  tr_pack_free(&ev);
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

static int on_ended(tr_ctx *ctx, hstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *pi, *st, *error = "";
  size_t pl, sl, el = 0;
  int64_t end = (int64_t)idx_wall_ms();
  const void *acts;
  size_t al;
  int ra;
  if (idx_opt_str(req, "pi", 200, &pi, &pl) != 0 || !pl ||
      idx_opt_str(req, "state", 32, &st, &sl) != 0 || state_of(st, sl) <= S_RUNNING ||
      idx_opt_str(req, "error", IDX_STR_MAX * 4, &error, &el) < 0 ||
      idx_opt_int(req, "end", &end) < 0 || end < 0 ||
      (ra = idx_opt_raw(req, "acts", TR_MP_ARRAY, &acts, &al)) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "ended needs pi and state (completed, failed or terminated); end an "
                         "integer, error a string, acts an array");
  rec *r = idx_map_get(&s->by_pi, pi, pl);
  if (r && r->state != S_RUNNING) return idx_reply_ok(ctx, &s->out, m); /* again */
  tr_pack ev = TR_PACK_INIT;
  tr_pack_array(&ev, 6);
  tr_pack_uint(&ev, EV_ENDED);
  tr_pack_strn(&ev, pi, pl);
  tr_pack_strn(&ev, st, sl);
  tr_pack_uint(&ev, (uint64_t)end);
  tr_pack_strn(&ev, error, el);
  if (ra == 0) tr_pack_raw(&ev, acts, al);
  else tr_pack_array(&ev, 0);
  int rc = record(ctx, s, &ev);
  tr_pack_free(&ev);
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

typedef struct hfilter {
  int state; /* -1: any, 4: finished (any but running) */
  const char *bk, *pi;
  size_t bl, pl;
  int has_bk, has_pi;
  int64_t t[4]; /* started_after, started_before, finished_after, finished_before */
  int has_t[4];
} hfilter;

static const char *const tkeys[4] = {"started_after", "started_before", "finished_after",
                                     "finished_before"};

static int hmatch(const hfilter *f, const rec *r) {
  if (f->state == 4 ? r->state == S_RUNNING : f->state >= 0 && r->state != f->state) return 0;
  if (f->has_bk && !(r->bk && idx_str_is(f->bk, f->bl, r->bk))) return 0;
  if (f->has_pi && !idx_str_is(f->pi, f->pl, r->pi)) return 0;
  /* bounds are inclusive, as Camunda's startedAfter / finishedBefore */
  if (f->has_t[0] && (int64_t)r->start < f->t[0]) return 0;
  if (f->has_t[1] && (int64_t)r->start > f->t[1]) return 0;
  if ((f->has_t[2] || f->has_t[3]) && r->state == S_RUNNING) return 0;
  if (f->has_t[2] && (int64_t)r->end < f->t[2]) return 0;
  if (f->has_t[3] && (int64_t)r->end > f->t[3]) return 0;
  return 1;
}

static int on_list(tr_ctx *ctx, hstate *s, const tr_msg *m, const tr_unpack *req) {
  hfilter f;
  memset(&f, 0, sizeof f);
  f.state = -1;
  const char *st;
  size_t sl;
  int64_t first = 0, max = LIST_DEFAULT;
  int rs = idx_opt_str(req, "state", 32, &st, &sl), bad = rs < 0;
  if (rs == 0) {
    f.state = idx_str_is(st, sl, "finished") ? 4 : state_of(st, sl);
    bad |= f.state < 0;
  }
  int rb = idx_opt_str(req, "bk", IDX_STR_MAX, &f.bk, &f.bl);
  int rp = idx_opt_str(req, "pi", IDX_STR_MAX, &f.pi, &f.pl);
  bad |= rb < 0 || rp < 0;
  f.has_bk = rb == 0, f.has_pi = rp == 0;
  for (int i = 0; i < 4; i++) {
    int r = idx_opt_int(req, tkeys[i], &f.t[i]);
    bad |= r < 0;
    f.has_t[i] = r == 0;
  }
  bad |= idx_opt_int(req, "first", &first) < 0 || first < 0;
  bad |= idx_opt_int(req, "max", &max) < 0 || max < 0 || max > LIST_MAX;
  if (bad)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "list: state is running, finished, completed, failed or terminated; "
                         "bk and pi strings; times, first and max (0..%d) integers",
                         LIST_MAX);
  uint64_t count = 0;
  uint32_t out = 0;
  for (rec *r = s->head; r; r = r->next)
    if (hmatch(&f, r)) {
      if (count >= (uint64_t)first && out < (uint64_t)max) out++;
      count++;
    }
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 3);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "count");
  tr_pack_uint(&pk, count);
  tr_pack_str(&pk, "instances");
  tr_pack_array(&pk, out);
  uint64_t i = 0;
  for (rec *r = s->head; r && out; r = r->next)
    if (hmatch(&f, r) && i++ >= (uint64_t)first) {
      pack_rec(&pk, r);
      out--;
    }
  int rc = idx_reply(ctx, &s->out, m, &pk);
  tr_pack_free(&pk);
  return rc;
}

static int on_get(tr_ctx *ctx, hstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *pi;
  size_t pl;
  if (idx_opt_str(req, "pi", IDX_STR_MAX, &pi, &pl) != 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "pi (a string) is required");
  rec *r = idx_map_get(&s->by_pi, pi, pl);
  if (!r)
    return idx_reply_err(ctx, &s->out, m, TR_ENOENT, "no history of instance %.*s",
                         (int)(pl > 200 ? 200 : pl), pi);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "instance");
  pack_rec(&pk, r);
  int rc = idx_reply(ctx, &s->out, m, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ the behaviour */

static int h_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  hstate *s = st;
  if (!vid || !vid->key[0]) return TR_EINVAL;
  snprintf(s->key, sizeof s->key, "%s", vid->key);
  snprintf(s->name, sizeof s->name, "%s", vid->name);
  return 0;
}

static int h_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  hstate *s = st;
  return idx_apply_result(s->name, seq, apply(s, ev, len));
}

/* The first recovery of a key's index in this process (after the node
 * started) activates every instance it knows as running, so that their
 * timers are armed again (wake.c says why). A later recovery - after the
 * index passivated - finds them awake already or woken by then. */
static pthread_mutex_t woken_mu = PTHREAD_MUTEX_INITIALIZER;
static idx_map woken; /* keys whose instances were woken, per process */

static void wake_running(tr_ctx *ctx, hstate *s) {
  pthread_mutex_lock(&woken_mu);
  int first = !idx_map_get(&woken, s->name, strlen(s->name));
  if (first) idx_map_put(&woken, s->name, strlen(s->name), (void *)1);
  pthread_mutex_unlock(&woken_mu);
  if (!first) return;
  for (rec *r = s->head; r; r = r->next) {
    char name[TR_VIRTUAL_NAME_MAX + 1];
    if (r->state != S_RUNNING || !r->pi ||
        snprintf(name, sizeof name, TR_WF_KIND "/%s", r->pi) >= (int)sizeof name)
      continue;
    tr_virtual_send(ctx, name, TR_WF_GET, NULL, 0); /* not an ask: it only activates */
  }
}

static int h_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  hstate *s = st;
  if (m->type == TR_MSG_RECOVERED) {
    s->out.acked = m->corr;
    wake_running(ctx, s);
    return 0;
  }
  if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    idx_out_durable(ctx, &s->out, m->corr);
    return 0;
  }
  if (m->type < TR_WFH_STARTED || m->type > TR_WFH_GET)
    return (m->flags & TR_MSG_F_ASK) && !(m->flags & TR_MSG_F_REPLY)
               ? idx_reply_err(ctx, &s->out, m, TR_ENOTSUP, "not a history request")
               : 0;
  tr_unpack req;
  if (idx_request_map(m, &req) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EPROTO, "the request must be a msgpack map");
  switch (m->type) {
  case TR_WFH_STARTED: return on_started(ctx, s, m, &req);
  case TR_WFH_ENDED: return on_ended(ctx, s, m, &req);
  case TR_WFH_LIST: return on_list(ctx, s, m, &req);
  default: return on_get(ctx, s, m, &req);
  }
}

static void h_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  hstate *s = st;
  for (rec *r = s->head, *x; r; r = x) {
    x = r->next;
    rec_free(r);
  }
  s->head = s->tail = s->fhead = s->ftail = NULL;
  s->nfinished = 0;
  idx_map_free(&s->by_pi);
  idx_out_free(&s->out);
}

/* a record: [pi, def, key, version, bk, start, state, end, error, acts] */
static int h_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  (void)ctx;
  hstate *s = st;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 2);
  tr_pack_array(&pk, (uint32_t)s->by_pi.n);
  for (rec *r = s->head; r; r = r->next) {
    tr_pack_array(&pk, 10);
    tr_pack_str(&pk, r->pi);
    tr_pack_str(&pk, r->def ? r->def : "");
    tr_pack_str(&pk, r->key ? r->key : "");
    tr_pack_int(&pk, r->version);
    tr_pack_str(&pk, r->bk ? r->bk : "");
    tr_pack_uint(&pk, r->start);
    tr_pack_uint(&pk, (uint64_t)r->state);
    tr_pack_uint(&pk, r->end);
    tr_pack_str(&pk, r->error ? r->error : "");
    if (r->acts) tr_pack_raw(&pk, r->acts, r->acts_len);
    else tr_pack_array(&pk, 0);
  }
  tr_pack_array(&pk, (uint32_t)s->nfinished);
  for (rec *r = s->fhead; r; r = r->fnext) tr_pack_str(&pk, r->pi);
  int rc = pk.err ? pk.err : tr_buf_append(out, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int restore_rec(hstate *s, tr_unpack *u) {
  uint32_t ten;
  uint64_t state, end;
  const void *acts;
  size_t al;
  int is_new, err = 0;
  tr_unpack started;
  /* the first six fields are a started event's, after its kind */
  if (tr_unpack_array(u, &ten) < 0 || ten != 10) return TR_ECORRUPT;
  started = *u;
  for (int i = 0; i < 6; i++)
    if (tr_unpack_skip(u) < 0) return TR_ECORRUPT;
  int rc = apply_started(s, &started, &is_new);
  if (rc < 0) return rc;
  if (!is_new) return TR_ECORRUPT;
  rec *r = s->tail;
  if (tr_unpack_uint(u, &state) < 0 || state > S_TERMINATED || tr_unpack_uint(u, &end) < 0)
    return TR_ECORRUPT;
  char *error = dup_str(u, &err);
  if (err || tr_unpack_raw(u, &acts, &al) < 0) {
    free(error);
    return err ? err : TR_ECORRUPT;
  }
  if (!(r->acts = malloc(al))) {
    free(error);
    return TR_ENOMEM;
  }
  memcpy(r->acts, acts, al);
  r->acts_len = al;
  r->error = error;
  r->end = end;
  r->state = (int)state;
  return 0;
}

static int h_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len) {
  (void)seq;
  hstate *s = st;
  h_terminate(ctx, st, 0);
  tr_unpack u;
  uint32_t two, k;
  tr_unpack_init(&u, data, len);
  if (tr_unpack_array(&u, &two) < 0 || two != 2 || tr_unpack_array(&u, &k) < 0)
    return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    int rc = restore_rec(s, &u);
    if (rc < 0) return rc;
  }
  if (tr_unpack_array(&u, &k) < 0) return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    const char *pi;
    size_t pl;
    if (tr_unpack_str(&u, &pi, &pl) < 0) return TR_ECORRUPT;
    rec *r = idx_map_get(&s->by_pi, pi, pl);
    if (!r || r->state == S_RUNNING || r->fprev || s->fhead == r) return TR_ECORRUPT;
    finished(s, r);
  }
  size_t n = 0; /* every finished record is in the finish order */
  for (rec *r = s->head; r; r = r->next) n += r->state != S_RUNNING;
  return n == s->nfinished ? 0 : TR_ECORRUPT;
}

static const tr_persistent hist_b = {
    .base = {.name = TR_WF_HIST_KIND, .state_size = sizeof(hstate), .init = h_init,
             .receive = h_receive, .terminate = h_terminate},
    .apply = h_apply,
    .snapshot = h_snapshot,
    .restore = h_restore};

const tr_persistent *tr_wf_hist_behavior(void) { return &hist_b; }
