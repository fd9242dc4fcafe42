/* msgs.c - who waits for a message of one name, "wfmsg/<name>" (index.h),
 * a persistent virtual actor in the job queue's pattern.
 *
 * Journal ([kind, ...] arrays, applied by apply(), which recovery replays):
 *   [1, subscription map {id, pi, key, bk, corr}]   subscribed
 *   [2, id]                   canceled
 *   [3, key]                  a message start event of definition key
 *   [4, [[id, note], ...]]    correlated: these leave in one event, their
 *                             notes wait for the instances' acks
 *   [5, id]                   an instance acked its note
 * A snapshot is [subscriptions, start keys, recent ids, notes].
 *
 * Correlation starting an instance is not journaled here: the instance's
 * own start is what is durable, and the answer waits for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/idx.h"

enum { EV_SUB = 1, EV_UNSUB, EV_START, EV_MATCH, EV_FORGET };

#define START_TIMEOUT_MS 30000
#define MAX_STARTS 64 /* definitions with a start event of one message name */

typedef struct sub {
  struct sub *next, *prev; /* subscription order */
  uint8_t *raw;            /* {id, pi, key, bk, corr} (owned) */
  size_t len;
  const char *id, *pi, *bk; /* borrowed from raw */
  size_t id_len, pi_len, bk_len;
  const void *corr; /* the corr map's bytes in raw */
  size_t corr_len;
} sub;

/* A correlation that started an instance and waits for its answer. */
typedef struct starting {
  struct starting *next;
  uint64_t ask;   /* our ask to wf/<pi> */
  tr_ref who;     /* whom to answer: the correlation's sender, corr, flags */
  uint64_t corr;
  uint16_t flags;
  char pi[33];
} starting;

typedef struct mstate {
  char msg[TR_VIRTUAL_NAME_MAX + 1];  /* the message name */
  char name[TR_VIRTUAL_NAME_MAX + 1]; /* "wfmsg/<name>" */
  sub *head, *tail;
  idx_map by_id;
  char *starts[MAX_STARTS]; /* definition keys, registration order */
  uint32_t nstarts;
  idx_recent done;
  idx_notes notes;
  idx_out out;
  starting *pend;
} mstate;

/* ------------------------------------------------------------ the state */

static void sub_free(sub *b) {
  free(b->raw);
  free(b);
}

static void unlink_sub(mstate *s, sub *b) {
  idx_map_del(&s->by_id, b->id, b->id_len);
  if (b->prev) b->prev->next = b->next;
  else s->head = b->next;
  if (b->next) b->next->prev = b->prev;
  else s->tail = b->prev;
  sub_free(b);
}

/* A subscription map at the cursor (borrowed): the set keeps a copy. */
static int apply_sub(mstate *s, tr_unpack *u) {
  const void *raw;
  size_t len;
  if (tr_unpack_raw(u, &raw, &len) < 0) return TR_ECORRUPT;
  sub *b = calloc(1, sizeof *b);
  if (!b || !(b->raw = malloc(len))) {
    free(b);
    return TR_ENOMEM;
  }
  memcpy(b->raw, raw, len);
  b->len = len;
  tr_unpack m, c;
  tr_unpack_init(&m, b->raw, len);
  int rc = tr_unpack_find_str(&m, "id", &b->id, &b->id_len) < 0 ||
                   tr_unpack_find_str(&m, "pi", &b->pi, &b->pi_len) < 0 ||
                   tr_unpack_find_str(&m, "bk", &b->bk, &b->bk_len) < 0 ||
                   tr_unpack_find(&m, "corr", &c) < 0 || tr_unpack_peek(&c) != TR_MP_MAP ||
                   tr_unpack_raw(&c, &b->corr, &b->corr_len) < 0
               ? TR_ECORRUPT
               : 0;
  if (!rc) rc = idx_map_put(&s->by_id, b->id, b->id_len, b);
  if (rc < 0) {
    sub_free(b);
    return rc == TR_EEXIST ? TR_ECORRUPT : rc;
  }
  b->prev = s->tail;
  if (s->tail) s->tail->next = b;
  else s->head = b;
  s->tail = b;
  return 0;
}

static int add_start(mstate *s, const char *key, size_t n) {
  for (uint32_t i = 0; i < s->nstarts; i++)
    if (idx_str_is(key, n, s->starts[i])) return 0;
  if (s->nstarts == MAX_STARTS) return TR_EFULL;
  if (!(s->starts[s->nstarts] = strndup(key, n))) return TR_ENOMEM;
  s->nstarts++;
  return 0;
}

/* [4, [[id, note], ...]] at the cursor (borrowed; notes are copied). */
static int apply_match(mstate *s, tr_unpack *u) {
  uint32_t k;
  if (tr_unpack_array(u, &k) < 0) return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    uint32_t two;
    const char *id;
    size_t il, nl;
    const void *note;
    if (tr_unpack_array(u, &two) < 0 || two != 2 || tr_unpack_str(u, &id, &il) < 0 ||
        il > IDX_STR_MAX || tr_unpack_bin(u, &note, &nl) < 0)
      return TR_ECORRUPT;
    sub *b = idx_map_get(&s->by_id, id, il);
    if (!b) return TR_ECORRUPT;
    char idz[IDX_STR_MAX + 1], to[TR_VIRTUAL_NAME_MAX + 1];
    memcpy(idz, id, il);
    idz[il] = 0;
    snprintf(to, sizeof to, TR_WF_KIND "/%.*s", (int)b->pi_len, b->pi);
    int rc = idx_notes_add(&s->notes, idz, to, TR_WF_MSG_DELIVER, note, nl);
    if (rc < 0 && rc != TR_EEXIST) return rc;
    if ((rc = idx_recent_add(&s->done, id, il)) < 0) return rc;
    unlink_sub(s, b);
  }
  return 0;
}

/* Applies one event (ev borrowed); TR_ECORRUPT for one that does not fit. */
static int apply(mstate *s, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  uint32_t n;
  uint64_t kind;
  if (tr_unpack_array(&u, &n) < 0 || n != 2 || tr_unpack_uint(&u, &kind) < 0) return TR_ECORRUPT;
  if (kind == EV_SUB) return apply_sub(s, &u);
  if (kind == EV_MATCH) return apply_match(s, &u);
  const char *str;
  size_t sl;
  if (tr_unpack_str(&u, &str, &sl) < 0) return TR_ECORRUPT;
  switch (kind) {
  case EV_UNSUB: {
    sub *b = idx_map_get(&s->by_id, str, sl);
    if (b) unlink_sub(s, b);
    return idx_recent_add(&s->done, str, sl);
  }
  case EV_START: return add_start(s, str, sl);
  case EV_FORGET: return idx_notes_forget(&s->notes, str, sl), 0;
  }
  return TR_ECORRUPT;
}

/* Appends the event in pk (the caller's) and applies it. */
static int record(tr_ctx *ctx, mstate *s, tr_pack *pk) {
  if (pk->err) return pk->err;
  int rc = tr_persist_append(ctx, pk->data, pk->len, NULL);
  return rc < 0 ? rc : apply(s, pk->data, pk->len);
}

/* [kind, str] events */
static int record_str(tr_ctx *ctx, mstate *s, int kind, const char *str, size_t n) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 2);
  tr_pack_uint(&pk, (uint64_t)kind);
  tr_pack_strn(&pk, str, n);
  int rc = record(ctx, s, &pk);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ requests */

static int on_subscribe(tr_ctx *ctx, mstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *id, *pi, *key = "", *bk = "";
  size_t il, pl, kl = 0, bl = 0;
  const void *corr;
  size_t cl;
  if (idx_opt_str(req, "id", IDX_STR_MAX, &id, &il) != 0 || !il ||
      idx_opt_str(req, "pi", 200, &pi, &pl) != 0 || !pl ||
      idx_opt_str(req, "key", IDX_STR_MAX, &key, &kl) < 0 ||
      idx_opt_str(req, "bk", IDX_STR_MAX, &bk, &bl) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "subscribe needs id and pi (strings); key and bk are strings");
  int crc = idx_opt_raw(req, "corr", TR_MP_MAP, &corr, &cl);
  if (crc < 0) return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "corr must be a map");
  char to[TR_VIRTUAL_NAME_MAX + 8];
  snprintf(to, sizeof to, TR_WF_KIND "/%.*s", (int)pl, pi);
  if (tr_virtual_name_check(to) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "pi does not make an instance name");
  if (idx_map_get(&s->by_id, id, il) || idx_recent_has(&s->done, id, il) ||
      idx_notes_has(&s->notes, id, il)) /* again, after the instance's recovery */
    return idx_reply_ok(ctx, &s->out, m);
  tr_pack ev = TR_PACK_INIT;
  tr_pack_array(&ev, 2);
  tr_pack_uint(&ev, EV_SUB);
  tr_pack_map(&ev, 5);
  tr_pack_str(&ev, "id");
  tr_pack_strn(&ev, id, il);
  tr_pack_str(&ev, "pi");
  tr_pack_strn(&ev, pi, pl);
  tr_pack_str(&ev, "key");
  tr_pack_strn(&ev, key, kl);
  tr_pack_str(&ev, "bk");
  tr_pack_strn(&ev, bk, bl);
  tr_pack_str(&ev, "corr");
  if (crc == 0) tr_pack_raw(&ev, corr, cl);
  else tr_pack_map(&ev, 0);
  int rc = record(ctx, s, &ev);
  tr_pack_free(&ev);
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

static int on_cancel(tr_ctx *ctx, mstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *id;
  size_t il;
  if (idx_opt_str(req, "id", IDX_STR_MAX, &id, &il) != 0 || !il)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "id (a string) is required");
  int rc = 0;
  if (m->type == TR_WF_IDX_ACK) {
    if (idx_notes_has(&s->notes, id, il)) rc = record_str(ctx, s, EV_FORGET, id, il);
  } else if (idx_map_get(&s->by_id, id, il)) {
    rc = record_str(ctx, s, EV_UNSUB, id, il);
  }
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

static int on_start_add(tr_ctx *ctx, mstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *key;
  size_t kl;
  if (idx_opt_str(req, "key", 200, &key, &kl) != 0 || !kl)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "key (a string) is required");
  for (uint32_t i = 0; i < s->nstarts; i++)
    if (idx_str_is(key, kl, s->starts[i])) return idx_reply_ok(ctx, &s->out, m);
  if (s->nstarts == MAX_STARTS)
    return idx_reply_err(ctx, &s->out, m, TR_EFULL, "too many start events for message %s",
                         s->msg);
  int rc = record_str(ctx, s, EV_START, key, kl);
  return rc < 0 ? rc : idx_reply_ok(ctx, &s->out, m);
}

/* Whether every entry of the request's corr map (borrowed) equals the
 * subscription's. */
static int corr_match(const sub *b, const void *corr, size_t cl) {
  tr_unpack want, have;
  uint32_t n;
  tr_unpack_init(&want, corr, cl);
  tr_unpack_init(&have, b->corr, b->corr_len);
  if (tr_unpack_map(&want, &n) < 0) return 0;
  for (uint32_t i = 0; i < n; i++) {
    char k[IDX_STR_MAX + 1];
    const void *v, *hv;
    size_t vl, hl;
    tr_unpack hval;
    if (tr_unpack_str_copy(&want, k, sizeof k) < 0 || tr_unpack_raw(&want, &v, &vl) < 0)
      return 0;
    if (tr_unpack_find(&have, k, &hval) < 0 || tr_unpack_raw(&hval, &hv, &hl) < 0) return 0;
    if (!idx_value_equal(v, vl, hv, hl)) return 0;
  }
  return 1;
}

/* A new instance of the latest registered key with vars (borrowed, or
 * NULL); the answer waits for it. */
static int start_instance(tr_ctx *ctx, mstate *s, const tr_msg *m, const tr_unpack *req,
                          const void *vars, size_t vl) {
  const char *bk = NULL;
  size_t bl = 0;
  /* the new instance's business key: start_bk, else the one matched on */
  if (idx_opt_str(req, "start_bk", IDX_STR_MAX, &bk, &bl) != 0 &&
      idx_opt_str(req, "bk", IDX_STR_MAX, &bk, &bl) != 0)
    bk = NULL;
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != sizeof r)
    return idx_reply_err(ctx, &s->out, m, TR_EIO, "no random bytes for an instance id");
  starting *p = calloc(1, sizeof *p);
  if (!p) return TR_ENOMEM;
  for (int i = 0; i < 16; i++) snprintf(p->pi + 2 * i, 3, "%02x", r[i]);
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, TR_WF_KIND "/%s", p->pi);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, (uint32_t)(2 + (vars != NULL) + (bk != NULL)));
  tr_pack_kv_str(&pk, "key", s->starts[s->nstarts - 1]);
  tr_pack_kv_str(&pk, "msg", s->msg);
  if (vars) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, vars, vl);
  }
  if (bk) {
    tr_pack_str(&pk, "bk");
    tr_pack_strn(&pk, bk, bl);
  }
  int rc = pk.err ? pk.err
                  : tr_virtual_ask(ctx, name, TR_WF_START, pk.data, pk.len, START_TIMEOUT_MS,
                                   &p->ask);
  tr_pack_free(&pk);
  if (rc < 0) {
    free(p);
    return idx_reply_err(ctx, &s->out, m, rc, "cannot start an instance: %s", tr_strerror(rc));
  }
  p->who = m->sender;
  p->corr = m->corr;
  p->flags = m->flags;
  p->next = s->pend;
  s->pend = p;
  return 0;
}

static int on_correlate(tr_ctx *ctx, mstate *s, const tr_msg *m, const tr_unpack *req) {
  const char *bk = NULL, *pi = NULL;
  size_t bl = 0, pl = 0;
  const void *corr = NULL, *vars = NULL;
  size_t cl = 0, vl = 0;
  int all, rb, rp, rc_, rv;
  if ((rb = idx_opt_str(req, "bk", IDX_STR_MAX, &bk, &bl)) < 0 ||
      (rp = idx_opt_str(req, "pi", IDX_STR_MAX, &pi, &pl)) < 0 ||
      (rc_ = idx_opt_raw(req, "corr", TR_MP_MAP, &corr, &cl)) < 0 ||
      (rv = idx_opt_raw(req, "vars", TR_MP_MAP, &vars, &vl)) < 0 ||
      idx_opt_bool(req, "all", 0, &all) < 0 ||
      idx_opt_str(req, "start_bk", IDX_STR_MAX, &(const char *){0}, &(size_t){0}) < 0)
    return idx_reply_err(ctx, &s->out, m, TR_EINVAL,
                         "correlate: bk, pi, start_bk are strings, corr and vars maps, all a "
                         "boolean");
  if (rc_ == 0) { /* correlation keys are variable names */
    tr_unpack c;
    uint32_t n;
    tr_unpack_init(&c, corr, cl);
    tr_unpack_map(&c, &n);
    for (uint32_t i = 0; i < n; i++)
      if (tr_unpack_str(&c, &(const char *){0}, &(size_t){0}) < 0 || tr_unpack_skip(&c) < 0)
        return idx_reply_err(ctx, &s->out, m, TR_EINVAL, "corr keys must be strings");
  } else {
    corr = NULL;
  }
  if (rv != 0) vars = NULL;
  size_t nm = 0, cap = 0;
  sub **hit = NULL;
  for (sub *b = s->head; b; b = b->next) {
    if (rb == 0 && !(b->bk_len == bl && !memcmp(b->bk, bk, bl))) continue;
    if (rp == 0 && !(b->pi_len == pl && !memcmp(b->pi, pi, pl))) continue;
    if (corr && !corr_match(b, corr, cl)) continue;
    if (nm == cap) {
      sub **x = realloc(hit, (cap = cap ? cap * 2 : 8) * sizeof *x);
      if (!x) {
        free(hit);
        return TR_ENOMEM;
      }
      hit = x;
    }
    hit[nm++] = b;
    if (!all && nm > 1) break;
  }
  if (!nm) {
    free(hit);
    if (s->nstarts) return start_instance(ctx, s, m, req, vars, vl);
    return idx_reply_err(ctx, &s->out, m, TR_ENOENT,
                         "Cannot correlate message '%s': No process definition or execution "
                         "matches the parameters",
                         s->msg);
  }
  if (nm > 1 && !all) {
    free(hit);
    return idx_reply_err(ctx, &s->out, m, TR_EEXIST,
                         "Cannot correlate message '%s': multiple executions match", s->msg);
  }
  /* one note per match; the reply and the notes are built before the
   * event removes the subscriptions they name */
  tr_pack note = TR_PACK_INIT, ev = TR_PACK_INIT, rep = TR_PACK_INIT;
  tr_pack_array(&ev, 2);
  tr_pack_uint(&ev, EV_MATCH);
  tr_pack_array(&ev, (uint32_t)nm);
  tr_pack_map(&rep, 2);
  tr_pack_str(&rep, "ok");
  tr_pack_bool(&rep, 1);
  tr_pack_str(&rep, "matched");
  tr_pack_array(&rep, (uint32_t)nm);
  char (*to)[TR_VIRTUAL_NAME_MAX + 1] = malloc(nm * sizeof *to);
  size_t *noff = malloc((nm + 1) * sizeof *noff);
  int rc = to && noff ? 0 : TR_ENOMEM;
  for (size_t i = 0; i < nm && !rc; i++) {
    sub *b = hit[i];
    snprintf(to[i], sizeof to[i], TR_WF_KIND "/%.*s", (int)b->pi_len, b->pi);
    noff[i] = note.len;
    tr_pack_map(&note, vars ? 4 : 3);
    tr_pack_str(&note, "id");
    tr_pack_strn(&note, b->id, b->id_len);
    tr_pack_kv_str(&note, "from", s->name);
    tr_pack_kv_str(&note, "name", s->msg);
    if (vars) {
      tr_pack_str(&note, "vars");
      tr_pack_raw(&note, vars, vl);
    }
    tr_pack_array(&ev, 2);
    tr_pack_strn(&ev, b->id, b->id_len);
    if (!note.err) tr_pack_bin(&ev, note.data + noff[i], note.len - noff[i]);
    tr_pack_map(&rep, 2);
    tr_pack_str(&rep, "pi");
    tr_pack_strn(&rep, b->pi, b->pi_len);
    tr_pack_str(&rep, "id");
    tr_pack_strn(&rep, b->id, b->id_len);
    rc = note.err;
  }
  if (!rc) noff[nm] = note.len;
  if (!rc) rc = record(ctx, s, &ev);
  for (size_t i = 0; i < nm && !rc; i++)
    rc = idx_send(ctx, &s->out, to[i], TR_WF_MSG_DELIVER, note.data + noff[i],
                  noff[i + 1] - noff[i]);
  if (!rc) rc = idx_reply(ctx, &s->out, m, &rep);
  free(to), free(noff), free(hit);
  tr_pack_free(&note), tr_pack_free(&ev), tr_pack_free(&rep);
  return rc;
}

/* The started instance answered (or the ask timed out). */
static int on_started(tr_ctx *ctx, mstate *s, const tr_msg *m) {
  starting **pp = &s->pend;
  while (*pp && (*pp)->ask != m->corr) pp = &(*pp)->next;
  if (!*pp) return 0; /* not ours (a late answer) */
  starting *p = *pp;
  *pp = p->next;
  tr_msg req = {.sender = p->who, .corr = p->corr, .flags = p->flags};
  int rc;
  if (m->type == TR_MSG_TIMEOUT) {
    rc = idx_reply_err(ctx, &s->out, &req, TR_ETIMEDOUT, "instance %s did not answer", p->pi);
  } else if ((rc = tr_reply_status(m->data, m->len)) != 0) {
    tr_unpack u;
    const char *e = "";
    size_t el = 0;
    tr_unpack_init(&u, m->data, m->len);
    tr_unpack_find_str(&u, "error", &e, &el);
    rc = idx_reply_err(ctx, &s->out, &req, rc, "cannot start an instance: %.*s",
                       (int)(el > 300 ? 300 : el), e);
  } else {
    tr_pack rep = TR_PACK_INIT;
    tr_pack_map(&rep, 2);
    tr_pack_str(&rep, "ok");
    tr_pack_bool(&rep, 1);
    tr_pack_str(&rep, "matched");
    tr_pack_array(&rep, 1);
    tr_pack_map(&rep, 2);
    tr_pack_kv_str(&rep, "pi", p->pi);
    tr_pack_str(&rep, "started");
    tr_pack_bool(&rep, 1);
    rc = idx_reply(ctx, &s->out, &req, &rep);
    tr_pack_free(&rep);
  }
  free(p);
  return rc;
}

/* ------------------------------------------------------------ the behaviour */

static int m_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  mstate *s = st;
  if (!vid || !vid->key[0]) return TR_EINVAL;
  snprintf(s->msg, sizeof s->msg, "%s", vid->key);
  snprintf(s->name, sizeof s->name, "%s", vid->name);
  return 0;
}

static int m_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  mstate *s = st;
  return idx_apply_result(s->name, seq, apply(s, ev, len));
}

static int m_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  mstate *s = st;
  int rc = 0;
  if (m->type == TR_MSG_RECOVERED) {
    s->out.acked = m->corr;
    rc = idx_notes_send_all(ctx, &s->out, &s->notes);
  } else if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    idx_out_durable(ctx, &s->out, m->corr);
    return 0;
  } else if (m->flags & TR_MSG_F_TIMER) {
    idx_notes_on_timer(ctx, &s->out, &s->notes, m);
  } else if ((m->flags & TR_MSG_F_REPLY) || m->type == TR_MSG_TIMEOUT) {
    rc = on_started(ctx, s, m);
  } else if ((m->type >= TR_WFM_SUBSCRIBE && m->type <= TR_WFM_CORRELATE) ||
             m->type == TR_WF_IDX_ACK) {
    tr_unpack req;
    if (idx_request_map(m, &req) < 0)
      return idx_reply_err(ctx, &s->out, m, TR_EPROTO, "the request must be a msgpack map");
    switch (m->type) {
    case TR_WFM_SUBSCRIBE: rc = on_subscribe(ctx, s, m, &req); break;
    case TR_WFM_START_ADD: rc = on_start_add(ctx, s, m, &req); break;
    case TR_WFM_CORRELATE: rc = on_correlate(ctx, s, m, &req); break;
    default: rc = on_cancel(ctx, s, m, &req); break;
    }
  } else if (m->flags & TR_MSG_F_ASK) {
    return idx_reply_err(ctx, &s->out, m, TR_ENOTSUP, "not a message subscription request");
  }
  if (rc < 0) return rc;
  idx_notes_arm(ctx, &s->notes);
  return 0;
}

static void m_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  mstate *s = st;
  for (sub *b = s->head, *x; b; b = x) {
    x = b->next;
    sub_free(b);
  }
  s->head = s->tail = NULL;
  idx_map_free(&s->by_id);
  for (uint32_t i = 0; i < s->nstarts; i++) free(s->starts[i]);
  s->nstarts = 0;
  idx_recent_free(&s->done);
  idx_notes_free(&s->notes);
  idx_out_free(&s->out);
  while (s->pend) { /* their askers time out */
    starting *p = s->pend;
    s->pend = p->next;
    free(p);
  }
}

static int m_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  (void)ctx;
  mstate *s = st;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 4);
  tr_pack_array(&pk, (uint32_t)s->by_id.n);
  for (sub *b = s->head; b; b = b->next) tr_pack_raw(&pk, b->raw, b->len);
  tr_pack_array(&pk, s->nstarts);
  for (uint32_t i = 0; i < s->nstarts; i++) tr_pack_str(&pk, s->starts[i]);
  idx_recent_pack(&s->done, &pk);
  idx_notes_pack(&s->notes, &pk);
  int rc = pk.err ? pk.err : tr_buf_append(out, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static int m_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *data, size_t len) {
  (void)seq;
  mstate *s = st;
  m_terminate(ctx, st, 0);
  tr_unpack u;
  uint32_t four, k;
  tr_unpack_init(&u, data, len);
  if (tr_unpack_array(&u, &four) < 0 || four != 4 || tr_unpack_array(&u, &k) < 0)
    return TR_ECORRUPT;
  int rc = 0;
  for (uint32_t i = 0; i < k && !rc; i++) rc = apply_sub(s, &u);
  if (!rc && tr_unpack_array(&u, &k) < 0) rc = TR_ECORRUPT;
  for (uint32_t i = 0; i < k && !rc; i++) {
    const char *key;
    size_t kl;
    rc = tr_unpack_str(&u, &key, &kl) < 0 ? TR_ECORRUPT : add_start(s, key, kl);
  }
  if (!rc) rc = idx_recent_load(&s->done, &u);
  if (!rc) rc = idx_notes_load(&s->notes, &u);
  return rc;
}

static const tr_persistent msgs_b = {
    .base = {.name = TR_WF_MSG_KIND, .state_size = sizeof(mstate), .init = m_init,
             .receive = m_receive, .terminate = m_terminate},
    .apply = m_apply,
    .snapshot = m_snapshot,
    .restore = m_restore};

const tr_persistent *tr_wf_msgs_behavior(void) { return &msgs_b; }
