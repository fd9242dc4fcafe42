/* ev_subs.c - subscriptions: stored events first, then live ones.
 *
 * A subscription's cursor is the last id it has been given (or that did
 * not match). While cursor < last it is "catching up": it is fed from the
 * store, a chunk per turn, so other messages interleave. Once cursor ==
 * last it is "live" and gets each write as it lands, whose first id is
 * then last + 1: no gap and no duplicate by construction. A delivery that
 * cannot be sent (the subscriber's mailbox is full) leaves the cursor
 * where it was and makes the subscription catch up again later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_actor.h"

enum { CHUNK = 500, LEASE_MS = 30000, DELIVER_MAX_BYTES = 1 << 20 };

static void kick(tr_ctx *ctx, ev_state *s) {
  if (s->catching_up) return;
  for (ev_sub *x = s->subs; x; x = x->next)
    if (!x->live) {
      s->catching_up = true;
      tr_actor_send(ctx, tr_actor_self(ctx), EV_I_CATCHUP, NULL, 0);
      return;
    }
}

static ev_sub *find(ev_state *s, tr_ref who, ev_sub ***link) {
  ev_sub **l = &s->subs;
  for (; *l; l = &(*l)->next)
    if (tr_ref_eq((*l)->who, who)) break;
  if (link) *link = l;
  return *l;
}

int ev_subs_subscribe(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  char err[320] = "";
  tr_unpack u, v;
  tr_unpack_init(&u, m->data, m->len);
  int rc = 0;
  uint64_t from = s->last, lease = LEASE_MS;
  bool has_from = false;
  if (tr_ref_is_none(m->sender)) {
    snprintf(err, sizeof err, "a subscriber must be an actor");
    rc = TR_EINVAL;
  } else if (tr_unpack_peek(&u) != TR_MP_MAP) {
    snprintf(err, sizeof err, "a request must be a map");
    rc = TR_EINVAL;
  } else if (tr_unpack_find(&u, "from", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL &&
             (rc = tr_unpack_uint(&v, &from)) < 0) {
    snprintf(err, sizeof err, "from must be an id (a number >= 0)");
    rc = TR_EINVAL;
  } else if (tr_unpack_find(&u, "lease_ms", &v) == 0 &&
             ((rc = tr_unpack_uint(&v, &lease)) < 0 || lease == 0)) {
    snprintf(err, sizeof err, "lease_ms must be a number > 0");
    rc = TR_EINVAL;
  }
  has_from = tr_unpack_find(&u, "from", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL;
  ev_filter f;
  if (rc == 0) rc = ev_filter_parse(&u, &f, err, sizeof err);
  if (rc < 0) {
    tr_pack pk = TR_PACK_INIT;
    tr_pack_error(&pk, rc, err[0] ? err : tr_strerror(rc));
    ev_reply_pack(ctx, m, &pk);
    tr_pack_free(&pk);
    return 0;
  }
  ev_sub *x = find(s, m->sender, NULL);
  if (x) { /* a renewal: the filter may change, the cursor stays */
    ev_filter_free(&x->f);
  } else {
    if (!(x = calloc(1, sizeof *x))) {
      ev_filter_free(&f);
      return 0;
    }
    x->who = m->sender;
    x->cursor = from > s->last ? s->last : from;
    x->live = x->cursor == s->last;
    x->next = s->subs;
    s->subs = x;
  }
  (void)has_from;
  x->f = f;
  x->expires = ev_now_ms() + lease;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "last");
  tr_pack_uint(&pk, s->last);
  ev_reply_pack(ctx, m, &pk); /* the answer goes before any delivery */
  tr_pack_free(&pk);
  kick(ctx, s);
  return 0;
}

static void sub_free(ev_sub *x) {
  ev_filter_free(&x->f);
  free(x);
}

int ev_subs_unsubscribe(tr_ctx *ctx, ev_state *s, const tr_msg *m) {
  ev_sub **l;
  ev_sub *x = find(s, m->sender, &l);
  if (x) {
    *l = x->next;
    sub_free(x);
  }
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  return ev_reply_pack(ctx, m, &pk);
}

/* ------------------------------------------------------------ delivering */

typedef struct batch {
  tr_pack pk;
  size_t count_at; /* where the array header is */
  uint32_t n;
} batch;

/* {topic, events: [...]} with a 32-bit array header filled in at the end,
 * so that the events can be appended as they are found. */
static void batch_begin(batch *b, const char *topic) {
  tr_pack_init(&b->pk);
  tr_pack_map(&b->pk, 2);
  tr_pack_kv_str(&b->pk, "topic", topic);
  tr_pack_str(&b->pk, "events");
  b->count_at = b->pk.len;
  uint8_t hdr[5] = {0xdd, 0, 0, 0, 0};
  tr_pack_raw(&b->pk, hdr, sizeof hdr);
  b->n = 0;
}

static int batch_send(tr_ctx *ctx, batch *b, tr_ref to) {
  if (b->pk.err) return b->pk.err;
  uint8_t *h = b->pk.data + b->count_at + 1;
  h[0] = (uint8_t)(b->n >> 24), h[1] = (uint8_t)(b->n >> 16), h[2] = (uint8_t)(b->n >> 8),
  h[3] = (uint8_t)b->n;
  return tr_actor_send(ctx, to, TR_EV_DELIVER, b->pk.data, b->pk.len);
}

void ev_subs_live(tr_ctx *ctx, ev_state *s, const ev_write *w) {
  uint64_t last = w->first_id + w->nev - 1;
  for (ev_sub *x = s->subs; x; x = x->next) {
    if (!x->live || x->cursor + 1 != w->first_id) {
      x->live = false; /* cannot happen; if it did, the store has it */
      continue;
    }
    batch b;
    batch_begin(&b, s->topic);
    for (uint32_t i = 0; i < w->nev; i++)
      if (ev_filter_match(&x->f, &w->ev[i].view)) {
        ev_event_pack(&b.pk, s->topic, w->first_id + i, w->ev[i].p, w->ev[i].n);
        b.n++;
      }
    int rc = b.n ? batch_send(ctx, &b, x->who) : 0;
    tr_pack_free(&b.pk);
    if (rc < 0) x->live = false; /* it catches up from the store */
    else x->cursor = last;
  }
  kick(ctx, s);
}

struct feed {
  ev_state *s;
  ev_sub *x;
  batch b;
  uint64_t upto;
};

static int feed_one(void *arg, uint64_t id, const void *p, size_t n) {
  struct feed *f = arg;
  ev_view e;
  if (ev_view_parse(p, n, &e) == 0 && ev_filter_match(&f->x->f, &e)) {
    ev_event_pack(&f->b.pk, f->s->topic, id, p, n);
    f->b.n++;
  }
  f->upto = id;
  return f->b.pk.len > DELIVER_MAX_BYTES ? 1 : 0;
}

void ev_subs_catchup(tr_ctx *ctx, ev_state *s) {
  s->catching_up = false;
  tr_store_view *v;
  if (tr_store_view_begin(s->st, &v) < 0) return; /* the tick tries again */
  bool progress = false;
  for (ev_sub *x = s->subs; x; x = x->next) {
    if (x->live) continue;
    struct feed f = {.s = s, .x = x};
    batch_begin(&f.b, s->topic);
    uint64_t want = s->last - x->cursor;
    int rc = tr_queue_read(s->st, v, s->qname, strlen(s->qname), x->cursor + 1,
                           want < CHUNK ? (uint32_t)want : CHUNK, feed_one, &f);
    if (rc >= 0 && f.b.n) rc = batch_send(ctx, &f.b, x->who);
    tr_pack_free(&f.b.pk);
    if (rc < 0) continue; /* full: the tick tries again */
    progress = true;
    if (f.upto > x->cursor) x->cursor = f.upto;
    else if (want) x->cursor = s->last; /* nothing left in the store (retention) */
    if (x->cursor >= s->last) x->live = true;
  }
  tr_store_view_end(v);
  if (progress) kick(ctx, s);
}

void ev_subs_tick(tr_ctx *ctx, ev_state *s) {
  uint64_t now = ev_now_ms();
  for (ev_sub **l = &s->subs; *l;) {
    ev_sub *x = *l;
    if (x->expires <= now) {
      *l = x->next;
      sub_free(x);
    } else {
      l = &x->next;
    }
  }
  kick(ctx, s); /* those that could not be fed try again */
}

void ev_subs_free(ev_state *s) {
  while (s->subs) {
    ev_sub *x = s->subs;
    s->subs = x->next;
    sub_free(x);
  }
}
