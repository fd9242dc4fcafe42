/* ev_actor.c - "events/<topic>": accepts events, writes them in batches
 * (ev_write.c), answers once durable, feeds subscribers (ev_subs.c) and
 * starts the warehouse's reads (ev_read.c: ev_query.c, ev_agg.c on the
 * blocking pool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_actor.h"
#include "actors/events/ev_query.h"
#include "actors/workflow/index.h"
#include "troupe/persist.h"
#include "troupe/virtual.h"

enum { PENDING_MAX = 200000, TICK_MS = 1000 };

int ev_reply_err(tr_ctx *ctx, const tr_msg *m, int code, const char *text) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  uint8_t buf[640];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return tr_actor_reply(ctx, m, TR_EV_REPLY, pk.data, pk.len);
}

int ev_reply_pack(tr_ctx *ctx, const tr_msg *m, tr_pack *pk) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  if (pk->err) return ev_reply_err(ctx, m, pk->err, "the answer could not be built (too big?)");
  return tr_actor_reply(ctx, m, TR_EV_REPLY, pk->data, pk->len);
}

/* ------------------------------------------------------------ writes */

static void write_done(void *arg, int status) {
  (void)status;
  tr_system *sys;
  tr_ref self;
  /* the actor learns of it in order with its other messages; if it is
   * gone, its end freed the write or made it an orphan (freed here) */
  if (ev_orphan_done(arg, &sys, &self)) tr_system_send(sys, self, EV_I_DONE, NULL, 0);
}

static ev_write *pending(ev_state *s) {
  if (!s->pend) {
    s->pend = calloc(1, sizeof *s->pend);
    if (s->pend) s->pend->tb = s->tb;
  }
  return s->pend;
}

struct relag {
  ev_lag *l;
  uint64_t now;
};

static int relag_one(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n) {
  (void)p, (void)n;
  struct relag *r = arg;
  int rc = ev_lag_add_event(r->l, e, id, r->now);
  return rc == TR_ENOMEM ? rc : 0; /* a value the index cannot hold was never queryable */
}

/* Fills the lag again from the events after indexed_to (durable): at
 * activation, and when adding to it failed (out of memory). */
static int lag_rebuild(ev_state *s) {
  ev_lag_clear(&s->lag);
  s->lag_lost = false;
  if (s->meta.indexed_to >= s->last || s->first > s->last) return 0;
  uint64_t lo = s->meta.indexed_to + 1 > s->first ? s->meta.indexed_to + 1 : s->first;
  ev_scope sc = {s->st, &s->tb, s->topic, s->qname, s->first, s->last, NULL, 0};
  struct relag r = {&s->lag, ev_lag_clock()};
  tr_store_view *v;
  int rc = tr_store_view_begin(s->st, &v);
  if (rc == 0) {
    rc = ev_scan(&sc, v, lo, s->last, relag_one, &r);
    tr_store_view_end(v);
  }
  if (rc < 0) {
    ev_lag_clear(&s->lag);
    s->lag_lost = true;
    tr_log(TR_LOG_WARN, "events", "events/%s: the index's held-back entries could not be read: %s",
           s->topic, tr_strerror(rc));
  }
  return rc;
}

int ev_lag_mend(ev_state *s) { return s->lag_lost ? lag_rebuild(s) : 0; }

/* Reads the topic's state from the store: at activation, and once a write
 * of an earlier activation that this one adopted has landed. */
static int load_state(ev_state *s) {
  tr_store_view *v;
  int rc = tr_store_view_begin(s->st, &v);
  if (rc < 0) return rc;
  uint64_t first, next;
  rc = tr_queue_info(s->st, v, s->qname, strlen(s->qname), &first, &next);
  if (rc == 0) rc = ev_meta_load(s->st, v, &s->tb, s->topic, &s->meta);
  if (rc == 0) {
    s->first = first;
    s->last = next - 1;
    ev_reader r = {s->st, v, s->qname, strlen(s->qname)};
    const void *p;
    size_t n;
    ev_view e;
    if (s->last >= s->first && ev_get(&r, s->last, &p, &n) == 0 && ev_view_parse(p, n, &e) == 0)
      s->last_time = e.time;
  }
  tr_store_view_end(v);
  if (rc < 0) return rc;
  if (s->meta.indexed_to > s->last) s->meta.indexed_to = s->last; /* the first layout: all */
  lag_rebuild(s); /* on failure the next write tries again */
  return 0;
}

/* Starts the next write when none is in flight and there is something to
 * write (events, retention that is due, or held-back index entries that
 * are). After a write that carried lag entries failed, none go until a
 * tick later: a failure (store full, closing) is not retried in a loop,
 * and new events are not held up by entries that may be its cause. */
void ev_flush(tr_ctx *ctx, ev_state *s, bool retention) {
  if (s->flight) return;
  uint64_t now = ev_lag_clock();
  bool lag_ok = now >= s->lag_retry;
  if (!s->pend && !retention && !(lag_ok && ev_lag_due(&s->lag, now))) return;
  ev_write *w = s->pend ? s->pend : calloc(1, sizeof *w);
  if (!w) return;
  s->pend = NULL;
  s->npend = 0;
  w->tb = s->tb;
  w->sys = tr_actor_system(ctx);
  w->self = tr_actor_self(ctx);
  /* without a whole lag the write leaves indexed_to where it is */
  bool whole = lag_ok && ev_lag_mend(s) == 0;
  tr_store_view *v;
  int rc = tr_store_view_begin(s->st, &v);
  if (rc == 0) {
    ev_build_in in = {s->topic, s->qname, s->first, s->last, ev_now_ms(), s->meta,
                      whole ? &s->lag : NULL, now};
    rc = ev_write_build(w, s->st, v, &in);
    tr_store_view_end(v);
  }
  if (rc == 0 && w->nops <= 1 && w->nev == 0 && w->nwaiters == 0) { /* nothing to drop */
    ev_write_free(w);
    return;
  }
  w->req.ops = w->ops;
  w->req.n_ops = w->nops;
  w->req.done = write_done;
  w->req.arg = w;
  if (rc == 0) rc = tr_store_submit(s->st, &w->req);
  if (rc < 0) {
    w->req.status = rc;
    s->flight = w;
    atomic_store(&w->state, 1);
    ev_write_landed(ctx, s); /* fails its waiters */
    return;
  }
  s->flight = w;
}

/* The write in flight completed: answer, deliver, go on. */
int ev_write_landed(tr_ctx *ctx, ev_state *s) {
  ev_write *w = s->flight;
  if (!w) return 0;
  s->flight = NULL;
  int st = w->req.status, rc = 0;
  if (s->adopted) {
    /* an earlier activation's write: the store has the state now (with its
     * events or without them); settings asked of this activation meanwhile
     * are newer than the store's and ride on its next write */
    ev_meta mine = s->meta;
    s->adopted = false;
    rc = load_state(s);
    if (s->set_retention) {
      s->meta.max_age_ms = mine.max_age_ms;
      s->meta.max_bytes = mine.max_bytes;
      s->set_retention = false;
    }
    if (rc < 0)
      tr_log(TR_LOG_ERROR, "events", "events/%s: reading the state after an earlier write: %s",
             s->topic, tr_strerror(rc));
  } else if (st == 0) {
    s->last = w->first_id + w->nev - 1;
    if (w->nev == 0) s->last = w->first_id - 1;
    if (w->drop_upto) s->first = w->drop_upto + 1;
    s->meta.bytes = w->meta.bytes; /* settings may have changed meanwhile */
    s->meta.indexed_to = w->meta.indexed_to;
    ev_lag_landed(&s->lag, true); /* the entries it wrote */
    uint64_t now = ev_lag_clock();
    for (uint32_t i = 0; i < w->nev && !s->lag_lost; i++)
      if (ev_lag_add_event(&s->lag, &w->ev[i].view, w->first_id + i, now) == TR_ENOMEM)
        s->lag_lost = true; /* the next write rebuilds it from the store */
  } else {
    ev_lag_landed(&s->lag, false); /* the entries it took wait again */
    s->lag_retry = ev_lag_clock() + TICK_MS; /* ev_flush: not in a loop */
  }
  for (uint32_t i = 0; i < w->nwaiters; i++) {
    ev_waiter *x = &w->waiters[i];
    if (!x->ask) continue;
    tr_msg req = {.sender = x->to, .corr = x->corr, .flags = TR_MSG_F_ASK};
    uint8_t buf[128];
    tr_pack pk;
    tr_pack_init_fixed(&pk, buf, sizeof buf);
    if (st < 0) {
      tr_pack_error(&pk, st, st == TR_EFULL ? "the store is full" : "the events were not stored");
    } else if (x->many == 2) { /* a retention setting */
      tr_pack_map(&pk, 1);
      tr_pack_str(&pk, "ok");
      tr_pack_bool(&pk, 1);
    } else {
      tr_pack_map(&pk, x->many ? 3 : 2);
      tr_pack_str(&pk, "ok");
      tr_pack_bool(&pk, 1);
      if (x->many) {
        tr_pack_str(&pk, "first");
        tr_pack_uint(&pk, w->first_id + x->at);
        tr_pack_str(&pk, "last");
        tr_pack_uint(&pk, w->first_id + x->at + x->n - 1);
      } else {
        tr_pack_str(&pk, "id");
        tr_pack_uint(&pk, w->first_id + x->at);
      }
    }
    tr_actor_reply(ctx, &req, TR_EV_REPLY, pk.data, pk.len);
  }
  if (st == 0 && w->nev) ev_subs_live(ctx, s, w);
  if (st < 0)
    tr_log(TR_LOG_WARN, "events", "events/%s: a write failed: %s", s->topic, tr_strerror(st));
  ev_write_free(w);
  if (rc < 0) return rc; /* the activation ends; the next one reads again */
  ev_flush(ctx, s, false);
  ev_timer_update(ctx, s); /* held-back entries are written by a tick once idle */
  return 0;
}

/* ------------------------------------------------------------ publishing */

/* Accepts the events of one message (a map, or an array of maps for
 * many) into the pending write; all or none. */
static int accept(tr_ctx *ctx, ev_state *s, const tr_msg *m, const tr_unpack *evs, uint32_t n,
                  bool many, char *err, size_t cap) {
  if (s->npend + n > PENDING_MAX) {
    snprintf(err, cap, "too many events waiting to be stored; try again");
    return TR_EAGAIN;
  }
  ev_write *w = pending(s);
  if (!w) return TR_ENOMEM;
  if (w->nev + n > w->capev) {
    uint32_t c = w->capev ? w->capev * 2 : 64;
    while (c < w->nev + n) c *= 2;
    ev_item *e = realloc(w->ev, c * sizeof *e);
    if (!e) return TR_ENOMEM;
    w->ev = e, w->capev = c;
  }
  if (w->nwaiters == w->capwaiters) {
    uint32_t c = w->capwaiters ? w->capwaiters * 2 : 64;
    ev_waiter *x = realloc(w->waiters, c * sizeof *x);
    if (!x) return TR_ENOMEM;
    w->waiters = x, w->capwaiters = c;
  }
  char source[64];
  snprintf(source, sizeof source, "%llx:%llx", (unsigned long long)m->sender.node,
           (unsigned long long)m->sender.id);
  uint32_t at = w->nev;
  tr_unpack u = *evs;
  uint64_t now = ev_now_ms(), t = s->last_time;
  int rc = 0;
  for (uint32_t i = 0; i < n; i++) {
    tr_pack pk = TR_PACK_INIT;
    if ((rc = ev_event_encode(&u, now, t, source, &pk, err, cap)) < 0 ||
        (rc = tr_unpack_skip(&u)) < 0) {
      tr_pack_free(&pk);
      if (many) {
        char e2[256];
        snprintf(e2, sizeof e2, "events[%u]: %s", i, err);
        snprintf(err, cap, "%s", e2);
      }
      break;
    }
    ev_item *it = &w->ev[w->nev++];
    memset(it, 0, sizeof *it);
    it->p = tr_pack_detach(&pk, &it->n);
    ev_view e;
    if (!it->p || ev_view_parse(it->p, it->n, &e) < 0) {
      free(it->p);
      w->nev--;
      rc = TR_ENOMEM;
      break;
    }
    t = e.time;
  }
  if (rc < 0) { /* none of them */
    while (w->nev > at) free(w->ev[--w->nev].p);
    return rc;
  }
  s->last_time = t;
  s->npend += n;
  w->waiters[w->nwaiters++] = (ev_waiter){m->sender, m->corr, at, n,
                                          (m->flags & TR_MSG_F_ASK) != 0, many};
  (void)ctx;
  return 0;
}

/* The engine's {type, time, data: {pi, key, bk, ...}} as an event. */
static int from_engine(const tr_msg *m, tr_pack *out) {
  tr_unpack u, d;
  tr_unpack_init(&u, m->data, m->len);
  const char *type;
  size_t tn;
  uint64_t time = 0;
  if (tr_unpack_find_str(&u, "type", &type, &tn) < 0) return TR_EPROTO;
  tr_unpack_find_uint(&u, "time", &time);
  bool has_data = tr_unpack_find(&u, "data", &d) == 0;
  const char *f[3] = {"pi", "key", "bk"};
  ev_str v[3] = {{0}};
  uint32_t n = 1 + (time != 0) + has_data;
  for (int i = 0; has_data && i < 3; i++)
    if (tr_unpack_find_str(&d, f[i], &v[i].p, &v[i].n) == 0 && v[i].n && v[i].n <= EV_VALUE_MAX)
      n++;
    else
      v[i].p = NULL;
  tr_pack_map(out, n + 1);
  tr_pack_str(out, "type");
  tr_pack_strn(out, type, tn);
  tr_pack_kv_str(out, "source", "engine");
  if (time) tr_pack_str(out, "time"), tr_pack_uint(out, time);
  for (int i = 0; i < 3; i++)
    if (v[i].p) tr_pack_str(out, f[i]), tr_pack_strn(out, v[i].p, v[i].n);
  if (has_data) {
    const void *raw;
    size_t rn;
    if (tr_unpack_raw(&d, &raw, &rn) < 0) return TR_EPROTO;
    tr_pack_str(out, "data");
    tr_pack_raw(out, raw, rn);
  }
  return out->err;
}

static int on_publish(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  char err[320] = "";
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  int rc;
  tr_pack eng = TR_PACK_INIT;
  if (m->type == TR_WF_EVENT) {
    if ((rc = from_engine(m, &eng)) < 0) {
      tr_pack_free(&eng);
      return 0; /* a send: nobody to tell */
    }
    tr_unpack_init(&u, eng.data, eng.len);
    rc = accept(ctx, s, m, &u, 1, false, err, sizeof err);
  } else if (m->type == TR_EV_PUBLISH) {
    rc = accept(ctx, s, m, &u, 1, false, err, sizeof err);
  } else {
    tr_unpack a;
    uint32_t n;
    if (tr_unpack_find(&u, "events", &a) < 0 || tr_unpack_array(&a, &n) < 0) {
      snprintf(err, sizeof err, "events must be an array of events");
      rc = TR_EINVAL;
    } else if (n == 0) {
      snprintf(err, sizeof err, "events is empty");
      rc = TR_EINVAL;
    } else {
      rc = accept(ctx, s, m, &a, n, true, err, sizeof err);
    }
  }
  tr_pack_free(&eng);
  if (rc == TR_EAGAIN && !(m->flags & TR_MSG_F_ASK)) {
    /* a sender that does not wait (the engine) cannot be told: say it here,
     * at most every 10 s */
    s->dropped++;
    uint64_t now = ev_now_ms();
    if (now - s->dropped_log >= 10000) {
      tr_log(TR_LOG_WARN, "events",
             "events/%s: %llu sent events refused so far: %u wait to be stored", s->topic,
             (unsigned long long)s->dropped, (unsigned)s->npend);
      s->dropped_log = now;
    }
  }
  if (rc < 0) return ev_reply_err(ctx, m, rc, err[0] ? err : tr_strerror(rc));
  ev_flush(ctx, s, false);
  return 0;
}

/* ------------------------------------------------------------ reads */

static int on_retention(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  tr_unpack u;
  tr_unpack_init(&u, m->data, m->len);
  uint64_t age = 0, bytes = 0;
  int ha = 0, hb = 0, rc;
  tr_unpack v;
  if (tr_unpack_peek(&u) != TR_MP_MAP)
    return ev_reply_err(ctx, m, TR_EINVAL, "a request must be a map");
  if (tr_unpack_find(&u, "max_age_ms", &v) == 0) {
    if ((rc = tr_unpack_uint(&v, &age)) < 0)
      return ev_reply_err(ctx, m, TR_EINVAL, "max_age_ms must be a number >= 0");
    ha = 1;
  }
  if (tr_unpack_find(&u, "max_bytes", &v) == 0) {
    if ((rc = tr_unpack_uint(&v, &bytes)) < 0)
      return ev_reply_err(ctx, m, TR_EINVAL, "max_bytes must be a number >= 0");
    hb = 1;
  }
  if (!ha && !hb) {
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 9);
    tr_pack_str(&pk, "ok");
    tr_pack_bool(&pk, 1);
    tr_pack_str(&pk, "max_age_ms");
    tr_pack_uint(&pk, s->meta.max_age_ms);
    tr_pack_str(&pk, "max_bytes");
    tr_pack_uint(&pk, s->meta.max_bytes);
    tr_pack_str(&pk, "events");
    tr_pack_uint(&pk, s->last >= s->first ? s->last - s->first + 1 : 0);
    tr_pack_str(&pk, "bytes");
    tr_pack_uint(&pk, s->meta.bytes);
    tr_pack_str(&pk, "first");
    tr_pack_uint(&pk, s->first);
    tr_pack_str(&pk, "last");
    tr_pack_uint(&pk, s->last);
    tr_pack_str(&pk, "indexed"); /* ids up to here are in every index */
    tr_pack_uint(&pk, s->meta.indexed_to);
    tr_pack_kv_str(&pk, "topic", s->topic);
    rc = ev_reply_pack(ctx, m, &pk);
    tr_pack_free(&pk);
    return 0;
  }
  /* the setting rides on the next write (meta is written by every write),
   * with an empty batch if need be; the answer comes once it is durable */
  if (ha) s->meta.max_age_ms = age;
  if (hb) s->meta.max_bytes = bytes;
  s->set_retention = s->adopted; /* kept when the adopted write lands */
  ev_write *w = pending(s);
  if (!w) return ev_reply_err(ctx, m, TR_ENOMEM, "out of memory");
  if (w->nwaiters == w->capwaiters) {
    uint32_t c = w->capwaiters ? w->capwaiters * 2 : 64;
    ev_waiter *x = realloc(w->waiters, c * sizeof *x);
    if (!x) return ev_reply_err(ctx, m, TR_ENOMEM, "out of memory");
    w->waiters = x, w->capwaiters = c;
  }
  /* many with n = 0 would report ids: a plain waiter answers {ok, id} */
  w->waiters[w->nwaiters++] = (ev_waiter){m->sender, m->corr, 0, 0,
                                          (m->flags & TR_MSG_F_ASK) != 0, 2};
  ev_flush(ctx, s, true);
  return 0;
}

/* ------------------------------------------------------------ the actor */

/* The tick runs only while there is something to do (leases to watch,
 * retention to apply): its messages count as activity, and a topic with
 * nothing to do should passivate when idle. */
void ev_timer_update(tr_ctx *ctx, ev_state *s) {
  bool need = s->subs || s->meta.max_age_ms || s->meta.max_bytes || s->nreads || s->lag.head ||
              s->lag_lost;
  if (need && !s->timer) {
    if (tr_timer_start(ctx, TICK_MS, TICK_MS, EV_I_TICK, NULL, 0, &s->timer) < 0) s->timer = 0;
  } else if (!need && s->timer) {
    tr_timer_cancel(ctx, s->timer);
    s->timer = 0;
  }
}

static int ev_init(tr_ctx *ctx, void *state, const void *arg) {
  ev_state *s = state;
  const tr_virtual_id *id = arg;
  if (!id || tr_events_name(id->key, s->qname, sizeof s->qname) < 0) return TR_EINVAL;
  snprintf(s->topic, sizeof s->topic, "%s", id->key);
  snprintf(s->qname, sizeof s->qname, "ev/%s", id->key);
  s->st = tr_system_store(tr_actor_system(ctx));
  int rc = ev_tables_get(s->st, &s->tb);
  if (rc < 0) return rc;
  /* an earlier activation's write still in flight is ours until it lands:
   * adopted before the state is read, so that it cannot land unseen */
  s->flight = ev_orphan_adopt(tr_actor_system(ctx), s->topic, tr_actor_self(ctx));
  s->adopted = s->flight != NULL;
  if ((rc = load_state(s)) < 0) {
    if (s->flight) ev_orphan_leave(s->flight, s->topic);
    s->flight = NULL;
    return rc;
  }
  ev_timer_update(ctx, s);
  return 0;
}

int (*ev_receive_hook)(uint32_t type); /* tests: nonzero ends the activation */

static int ev_receive(tr_ctx *ctx, void *state, const tr_msg *m) {
  ev_state *s = state;
  if (ev_receive_hook) {
    int rc = ev_receive_hook(m->type);
    if (rc) return rc;
  }
  switch (m->type) {
  case TR_EV_PUBLISH:
  case TR_EV_PUBLISH_MANY:
  case TR_WF_EVENT: return on_publish(ctx, s, m);
  case TR_EV_SUBSCRIBE:
    ev_subs_subscribe(ctx, s, m);
    ev_timer_update(ctx, s);
    return 0;
  case TR_EV_UNSUBSCRIBE: return ev_subs_unsubscribe(ctx, s, m);
  case TR_EV_QUERY:
  case TR_EV_COUNT:
  case TR_EV_DISTINCT:
  case TR_EV_FUNNEL: return ev_read_start(ctx, s, m);
  case EV_I_READ: ev_read_done(ctx, s, m); return 0;
  case TR_EV_RETENTION:
    on_retention(ctx, s, m);
    ev_timer_update(ctx, s);
    return 0;
  case EV_I_DONE: return ev_write_landed(ctx, s);
  case EV_I_CATCHUP: ev_subs_catchup(ctx, s); return 0;
  case EV_I_TICK:
    ev_subs_tick(ctx, s);
    if (s->meta.max_age_ms || (s->meta.max_bytes && s->meta.bytes > s->meta.max_bytes))
      ev_flush(ctx, s, true);
    else
      ev_flush(ctx, s, s->lag_lost); /* held-back entries that are due */
    ev_timer_update(ctx, s);
    return 0;
  default:
    if (m->type < TR_MSG_SYSTEM) ev_reply_err(ctx, m, TR_EINVAL, "unknown request type");
    return 0;
  }
}

static void ev_terminate(tr_ctx *ctx, void *state, int reason) {
  (void)reason;
  ev_state *s = state;
  ev_read_abandon(ctx, s);
  if (s->flight) ev_orphan_leave(s->flight, s->topic); /* the next activation's */
  s->flight = NULL;
  ev_write_free(s->pend); /* not written: their askers time out */
  s->pend = NULL;
  ev_lag_free(&s->lag); /* the next activation rebuilds it */
  ev_subs_free(s);
}

static const tr_behavior ev_behavior = {
    .name = "events", .state_size = sizeof(ev_state), .init = ev_init,
    .receive = ev_receive, .terminate = ev_terminate};

int tr_events_register(tr_system *sys, uint32_t roles) {
  if (!sys) return TR_EINVAL;
  tr_store *st = tr_system_store(sys);
  if (!st) return TR_ENOTSUP;
  ev_tables tb;
  int rc = ev_tables_get(st, &tb); /* here: not from an actor's completion */
  if (rc < 0) return rc;
  tr_kind k = {.name = TR_EV_KIND, .behavior = &ev_behavior, .roles = roles,
               .idle_ms = 300000};
  return tr_kind_register(sys, &k);
}

int tr_events_name(const char *topic, char *buf, size_t cap) {
  if (!topic || !buf) return TR_EINVAL;
  size_t n = strlen(topic);
  if (n == 0 || n > TR_EV_TOPIC_MAX) return TR_EINVAL;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)topic[i] < 0x20 || topic[i] == 0x7f || topic[i] == '/') return TR_EINVAL;
  if (snprintf(buf, cap, "%s/%s", TR_EV_KIND, topic) >= (int)cap) return TR_ETOOBIG;
  return 0;
}
