/* ev_write.c - one write of a topic: the events accepted since the last
 * one, their index entries and counter changes, and what retention drops,
 * as one store request (one transaction, so counters are exactly as
 * durable as the events they count). A topic has at most one write in
 * flight: its ids are then known before the write (the queue's next
 * offsets), and the counters it reads are current. */
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_write.h"

#include "actors/events/ev_lag.h"

/* ------------------------------------------------------------ arena */

enum { ARENA_BLOCK = 64 * 1024 };

struct ev_block {
  struct ev_block *next;
  size_t used, cap;
  uint8_t mem[];
};

/* Pointers stay valid until ev_write_free: the ops point into it. */
static void *arena_alloc(ev_write *w, size_t n) {
  struct ev_block *b = w->blocks;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    if (!(b = malloc(sizeof *b + cap))) return NULL;
    b->used = 0, b->cap = cap, b->next = w->blocks;
    w->blocks = b;
  }
  void *p = b->mem + b->used;
  b->used += (n + 7) & ~(size_t)7;
  if (b->used > b->cap) b->used = b->cap;
  return p;
}

static tr_store_op *op_new(ev_write *w) {
  if (w->nops == w->capops) {
    uint32_t cap = w->capops ? w->capops * 2 : 1024;
    tr_store_op *o = realloc(w->ops, cap * sizeof *o);
    if (!o) return NULL;
    w->ops = o, w->capops = cap;
  }
  return &w->ops[w->nops++];
}

/* ------------------------------------------------------------ counter deltas */

typedef struct delta {
  uint8_t *key;
  size_t klen;
  int64_t d;
} delta;

typedef struct deltas {
  delta *v;
  uint32_t n, cap; /* cap: a power of two, open addressing */
} deltas;

static uint64_t hash(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int deltas_add(ev_write *w, deltas *ds, const uint8_t *key, size_t klen, int64_t d) {
  if ((ds->n + 1) * 2 > ds->cap) {
    uint32_t cap = ds->cap ? ds->cap * 2 : 256;
    delta *v = calloc(cap, sizeof *v);
    if (!v) return TR_ENOMEM;
    for (uint32_t i = 0; i < ds->cap; i++)
      if (ds->v[i].key) {
        uint64_t j = hash(ds->v[i].key, ds->v[i].klen) & (cap - 1);
        while (v[j].key) j = (j + 1) & (cap - 1);
        v[j] = ds->v[i];
      }
    free(ds->v);
    ds->v = v, ds->cap = cap;
  }
  uint64_t j = hash(key, klen) & (ds->cap - 1);
  while (ds->v[j].key) {
    if (ds->v[j].klen == klen && !memcmp(ds->v[j].key, key, klen)) {
      ds->v[j].d += d;
      return 0;
    }
    j = (j + 1) & (ds->cap - 1);
  }
  uint8_t *k = arena_alloc(w, klen);
  if (!k) return TR_ENOMEM;
  memcpy(k, key, klen);
  ds->v[j] = (delta){k, klen, d};
  ds->n++;
  return 0;
}

static const char GRANS[3] = {'m', 'h', 'd'};

static int count_event(ev_write *w, deltas *ds, const char *topic, const ev_view *e, int64_t d) {
  uint8_t k[TR_STORE_MAX_KEY];
  for (int g = 0; g < 3; g++) {
    uint64_t b = ev_bucket_ms(GRANS[g]);
    size_t n = ev_cnt_key(k, topic, GRANS[g], e->time / b * b, e->type);
    int rc = deltas_add(w, ds, k, n, d);
    if (rc < 0) return rc;
  }
  return 0;
}

static int index_one(ev_write *w, const char *topic, char field, ev_str v, uint64_t id, bool put) {
  uint8_t *k = arena_alloc(w, 1 + strlen(topic) + 2 + v.n + 8);
  tr_store_op *o = op_new(w);
  if (!k || !o) return TR_ENOMEM;
  size_t n = ev_ix_key(k, topic, field, v, id);
  *o = put ? tr_op_put(w->tb.ix, k, n, "", 0) : tr_op_del(w->tb.ix, k, n);
  return 0;
}

/* The index entries of an event: its type's at ingest (pi and bk ones
 * wait in the lag), all of them at retention. */
static int index_event(ev_write *w, const char *topic, const ev_view *e, uint64_t id, bool put) {
  const struct { char f; ev_str v; } fs[3] = {{'t', e->type}, {'p', e->pi}, {'b', e->bk}};
  for (int i = 0; i < (put ? 1 : 3); i++) {
    if (!fs[i].v.p) continue;
    int rc = index_one(w, topic, fs[i].f, fs[i].v, id, put);
    if (rc < 0) return rc;
  }
  return 0;
}

struct flush_ctx {
  ev_write *w;
  const char *topic;
};

static int flush_one(void *arg, char field, ev_str v, const uint64_t *ids, uint32_t n) {
  struct flush_ctx *c = arg;
  for (uint32_t i = 0; i < n; i++) {
    int rc = index_one(c->w, c->topic, field, v, ids[i], true);
    if (rc < 0) return rc;
  }
  return 0;
}

static void be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) p[i] = (uint8_t)v, v >>= 8;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* ------------------------------------------------------------ retention */

struct drop_ctx {
  ev_write *w;
  deltas *ds;
  const char *topic;
  uint64_t now, cutoff, max_bytes, bytes, upto, indexed_to;
  uint32_t left;
  int err;
};

static int drop_one(void *arg, uint64_t id, const void *p, size_t n) {
  struct drop_ctx *c = arg;
  ev_view e;
  if (ev_view_parse(p, n, &e) < 0) e = (ev_view){.type = {"?", 1}}; /* dropped all the same */
  bool old = c->cutoff && e.time < c->cutoff;
  bool big = c->max_bytes && c->bytes > c->max_bytes;
  if ((!old && !big) || id > c->indexed_to) return 1; /* later: its entries wait in the lag */
  if (e.type.p && (c->err = count_event(c->w, c->ds, c->topic, &e, -1)) < 0) return c->err;
  if ((c->err = index_event(c->w, c->topic, &e, id, false)) < 0) return c->err;
  c->bytes -= n < c->bytes ? n : c->bytes;
  c->upto = id;
  return --c->left ? 0 : 1;
}

/* ------------------------------------------------------------ building */

int ev_write_build(ev_write *w, tr_store *st, tr_store_view *v, const ev_build_in *in) {
  deltas ds = {0};
  int rc = 0;
  w->first_id = in->last + 1;
  w->meta = in->meta;
  /* the events: ids in order, their index entries and counts */
  for (uint32_t i = 0; i < w->nev && rc == 0; i++) {
    tr_store_op *o = op_new(w);
    if (!o) {
      rc = TR_ENOMEM;
      break;
    }
    *o = tr_op_queue_append(in->qname, strlen(in->qname), w->ev[i].p, w->ev[i].n);
    w->meta.bytes += w->ev[i].n;
    ev_view *e = &w->ev[i].view;
    if ((rc = ev_view_parse(w->ev[i].p, w->ev[i].n, e)) == 0 &&
        (rc = index_event(w, in->topic, e, w->first_id + i, true)) == 0)
      rc = count_event(w, &ds, in->topic, e, 1);
  }
  /* held-back pi and bk entries that are due (all of them when too many
   * wait, or when the size bound needs events dropped now), then how far
   * the index is complete once this write is durable: up to the oldest
   * entry still held back, or to every event durable before this write
   * (this write's own entries join the lag when it lands) */
  bool over = in->meta.max_bytes && w->meta.bytes > in->meta.max_bytes;
  if (rc == 0 && in->lag) {
    struct flush_ctx fc = {w, in->topic};
    int64_t t = ev_lag_take(in->lag, in->lag_now, over || in->lag->nids > EV_LAG_MAX,
                            EV_LAG_BUDGET + 4ull * w->nev, flush_one, &fc);
    if (t < 0) rc = (int)t;
  }
  if (in->lag) {
    uint64_t oldest = ev_lag_oldest(in->lag);
    w->meta.indexed_to = oldest ? oldest - 1 : in->last;
  }
  /* retention: only what is durable already and fully indexed, oldest
   * first, a bounded step per write (the next tick goes on) */
  uint64_t cutoff = in->meta.max_age_ms && in->now > in->meta.max_age_ms
                        ? in->now - in->meta.max_age_ms : 0;
  if (rc == 0 && in->first <= in->last && (cutoff || over)) {
    struct drop_ctx c = {w, &ds, in->topic, in->now, cutoff, in->meta.max_bytes, w->meta.bytes,
                         0, w->meta.indexed_to, 20000, 0};
    rc = tr_queue_read(st, v, in->qname, strlen(in->qname), in->first, 20000, drop_one, &c);
    if (rc >= 0) rc = c.err;
    if (rc == 0 && c.upto) {
      tr_store_op *o = op_new(w);
      if (!o) rc = TR_ENOMEM;
      else *o = tr_op_queue_ack(in->qname, strlen(in->qname), c.upto);
      w->meta.bytes = c.bytes;
      w->drop_upto = c.upto;
    }
  }
  /* counters: their current value plus the change; zero deletes */
  for (uint32_t i = 0; rc == 0 && i < ds.cap; i++) {
    delta *d = &ds.v[i];
    if (!d->key || d->d == 0) continue;
    const void *p;
    size_t n;
    uint64_t cur = 0;
    int g = tr_table_get(st, v, w->tb.cnt, d->key, d->klen, &p, &n);
    if (g == 0 && n == 8) cur = rd64(p);
    else if (g < 0 && g != TR_ENOENT) rc = g;
    int64_t nv = (int64_t)cur + d->d;
    tr_store_op *o = op_new(w);
    uint8_t *val = arena_alloc(w, 8);
    if (!o || !val) {
      rc = TR_ENOMEM;
      break;
    }
    if (nv <= 0) {
      *o = tr_op_del(w->tb.cnt, d->key, d->klen);
    } else {
      be64(val, (uint64_t)nv);
      *o = tr_op_put(w->tb.cnt, d->key, d->klen, val, 8);
    }
  }
  free(ds.v);
  if (rc == 0) {
    tr_store_op *o = op_new(w);
    if (!o) return TR_ENOMEM;
    ev_meta_encode(&w->meta, w->metabuf);
    *o = tr_op_put(w->tb.meta, in->topic, strlen(in->topic), w->metabuf, EV_META_SIZE);
  }
  return rc;
}

void ev_write_free(ev_write *w) {
  if (!w) return;
  for (uint32_t i = 0; i < w->nev; i++) free(w->ev[i].p);
  free(w->ev);
  free(w->ops);
  free(w->waiters);
  while (w->blocks) {
    struct ev_block *b = w->blocks;
    w->blocks = b->next;
    free(b);
  }
  free(w);
}
