/* ev_query.c - the warehouse's event queries and per-bucket counts.
 *
 * A time range is a binary search over ids (times are monotonic per
 * topic). A query by pi, bk or a single type reads that index only; other
 * filters read the events of the range and test each. Counts come from the
 * counters kept at ingest when the filter is on types only, and from a
 * scan of the range otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_query.h"

int ev_req_times(const tr_unpack *req, uint64_t *from, uint64_t *to, char *err, size_t cap) {
  tr_unpack v;
  *from = 0, *to = UINT64_MAX;
  if (tr_unpack_find(req, "from_time", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL &&
      tr_unpack_uint(&v, from) < 0) {
    snprintf(err, cap, "from_time must be ms since the epoch");
    return TR_EINVAL;
  }
  if (tr_unpack_find(req, "to_time", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL &&
      tr_unpack_uint(&v, to) < 0) {
    snprintf(err, cap, "to_time must be ms since the epoch");
    return TR_EINVAL;
  }
  if (*to <= *from) {
    snprintf(err, cap, "to_time must be after from_time");
    return TR_EINVAL;
  }
  return 0;
}

int ev_req_gran(const tr_unpack *req, char *gran, char *err, size_t cap) {
  const char *b;
  size_t n;
  if (tr_unpack_find_str(req, "bucket", &b, &n) < 0 || ev_gran_of(b, n, gran) < 0) {
    snprintf(err, cap, "bucket must be \"minute\", \"hour\" or \"day\"");
    return TR_EINVAL;
  }
  return 0;
}

/* ------------------------------------------------------------ scans */

struct scan {
  ev_scan_fn fn;
  void *arg;
  uint64_t hi, next;
  int stop;
};

static int scan_one(void *arg, uint64_t id, const void *p, size_t n) {
  struct scan *c = arg;
  if (id > c->hi) return 1;
  c->next = id + 1;
  ev_view e;
  if (ev_view_parse(p, n, &e) < 0) return 0; /* unreadable: skipped */
  if ((c->stop = c->fn(c->arg, id, &e, p, n))) return 1;
  return 0;
}

int ev_scan(const ev_scope *s, tr_store_view *v, uint64_t lo, uint64_t hi, ev_scan_fn fn,
            void *arg) {
  struct scan c = {fn, arg, hi, lo, 0};
  while (c.next <= hi && !c.stop) {
    uint64_t at = c.next;
    int rc = tr_queue_read(s->st, v, s->qname, strlen(s->qname), at, 4096, scan_one, &c);
    if (rc < 0) return rc;
    if (c.next == at) break; /* nothing more */
  }
  return c.stop < 0 ? c.stop : 0;
}

/* Backwards, a chunk at a time read forwards. */
typedef struct chunk {
  uint64_t ids[512];
  const void *p[512];
  size_t n[512];
  uint32_t k;
} chunk;

static int chunk_one(void *arg, uint64_t id, const void *p, size_t n) {
  chunk *c = arg;
  c->ids[c->k] = id, c->p[c->k] = p, c->n[c->k] = n;
  return ++c->k == 512 ? 1 : 0;
}

static int scan_desc(const ev_scope *s, tr_store_view *v, uint64_t lo, uint64_t hi,
                     ev_scan_fn fn, void *arg) {
  chunk *c = malloc(sizeof *c);
  if (!c) return TR_ENOMEM;
  int rc = 0;
  while (hi >= lo && hi && rc == 0) {
    uint64_t from = hi - lo >= 511 ? hi - 511 : lo;
    c->k = 0;
    if ((rc = tr_queue_read(s->st, v, s->qname, strlen(s->qname), from, 512, chunk_one, c)) < 0)
      break;
    for (uint32_t i = c->k; i-- > 0 && rc == 0;) {
      if (c->ids[i] > hi) continue;
      ev_view e;
      if (ev_view_parse(c->p[i], c->n[i], &e) < 0) continue;
      rc = fn(arg, c->ids[i], &e, c->p[i], c->n[i]);
    }
    if (from == lo) break;
    hi = from - 1;
  }
  free(c);
  return rc < 0 ? rc : 0;
}

/* By an index: the ids of one value in [lo, hi], in order, merged with
 * the ids whose entries were held back when the read was asked (held:
 * increasing; an id in both is given once). */
struct ixscan {
  const ev_scope *s;
  tr_store_view *v;
  size_t plen;
  uint64_t hi;
  const uint64_t *held, *held_end;
  ev_scan_fn fn;
  void *arg;
  int stop;
};

/* One event by id to the callback; one that is gone (dropped) is skipped. */
static int ix_emit(struct ixscan *c, uint64_t id) {
  ev_reader r = {c->s->st, c->v, c->s->qname, strlen(c->s->qname)};
  const void *p;
  size_t n;
  ev_view e;
  if (ev_get(&r, id, &p, &n) < 0 || ev_view_parse(p, n, &e) < 0) return 0;
  return c->stop = c->fn(c->arg, id, &e, p, n);
}

/* The held ids before id (all of them up to hi if id is 0); 1 to stop. */
static int ix_held_upto(struct ixscan *c, uint64_t id) {
  for (; c->held < c->held_end && (!id || *c->held < id) && *c->held <= c->hi; c->held++)
    if (ix_emit(c, *c->held)) return 1;
  if (id && c->held < c->held_end && *c->held == id) c->held++; /* in both */
  return 0;
}

static int ix_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)val, (void)vlen;
  struct ixscan *c = arg;
  if (klen != c->plen + 8) return 0;
  uint64_t id = 0;
  for (int i = 0; i < 8; i++) id = id << 8 | ((const uint8_t *)key)[c->plen + i];
  if (id > c->hi) return 1;
  if (ix_held_upto(c, id)) return 1;
  return ix_emit(c, id) ? 1 : 0;
}

static int scan_ix(const ev_scope *s, tr_store_view *v, char field, const char *val, uint64_t lo,
                   uint64_t hi, const uint64_t *held, uint32_t nheld, ev_scan_fn fn, void *arg) {
  uint8_t start[TR_STORE_MAX_KEY];
  ev_str sv = {val, strlen(val)};
  size_t n = ev_ix_key(start, s->topic, field, sv, lo);
  struct ixscan c = {s, v, n - 8, hi, held, held + nheld, fn, arg, 0};
  while (c.held < c.held_end && *c.held < lo) c.held++;
  int rc = tr_table_scan_from(s->st, v, s->tb->ix, start, n - 8, start, n, ix_one, &c);
  if (rc < 0) return rc;
  if (!c.stop) ix_held_upto(&c, 0); /* held ids after the last indexed one */
  return c.stop < 0 ? c.stop : 0;
}

int ev_scan_filtered(const ev_scope *s, tr_store_view *v, const ev_filter *f, uint64_t lo,
                     uint64_t hi, bool desc, ev_scan_fn fn, void *arg) {
  if (lo > hi || s->first > s->last) return 0;
  if (!desc || f->pi || f->bk) {
    /* pi and bk pick few events; desc over them is rare: collect and turn */
    char field = f->pi ? 'p' : f->bk ? 'b' : f->ntypes == 1 ? 't' : 0;
    const char *val = f->pi ? f->pi : f->bk ? f->bk : field ? f->types[0] : NULL;
    /* pi and bk: with the held-back ids (ev_lag.h); a type's entries are
     * written with their events */
    if (field && !desc)
      return field == 't' ? scan_ix(s, v, field, val, lo, hi, NULL, 0, fn, arg)
                          : scan_ix(s, v, field, val, lo, hi, s->held, s->nheld, fn, arg);
  }
  return desc ? scan_desc(s, v, lo, hi, fn, arg) : ev_scan(s, v, lo, hi, fn, arg);
}

/* ------------------------------------------------------------ query */

struct qctx {
  const ev_filter *f;
  const char *topic;
  tr_pack evs;
  uint32_t n, max;
  uint64_t max_bytes;
  bool more;
};

/* A page ends at max events or before the event that would take it past
 * max_bytes (the first always goes): an answer must fit the message that
 * carries it (16 MiB between nodes, 1 MiB to the console), or the asker
 * would ask for the same page again and again. */
static int q_one(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n) {
  struct qctx *q = arg;
  if (!ev_filter_match(q->f, e)) return 0;
  if (q->n == q->max || (q->n > 0 && q->evs.len + n + 512 > q->max_bytes)) {
    q->more = true;
    return 1;
  }
  ev_event_pack(&q->evs, q->topic, id, p, n);
  q->n++;
  return 0;
}

int ev_query(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap) {
  uint64_t from, to, after = 0, max = 1000, max_bytes = TR_EV_QUERY_BYTES;
  int desc = 0, rc;
  tr_unpack v;
  if ((rc = ev_req_times(req, &from, &to, err, cap)) < 0) return rc;
  if (tr_unpack_find(req, "after", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL &&
      tr_unpack_uint(&v, &after) < 0) {
    snprintf(err, cap, "after must be an id");
    return TR_EINVAL;
  }
  if (tr_unpack_find(req, "max", &v) == 0 &&
      (tr_unpack_uint(&v, &max) < 0 || max == 0 || max > 10000)) {
    snprintf(err, cap, "max must be 1 to 10000");
    return TR_EINVAL;
  }
  if (tr_unpack_find(req, "max_bytes", &v) == 0 &&
      (tr_unpack_uint(&v, &max_bytes) < 0 || max_bytes < 1024 || max_bytes > TR_EV_QUERY_BYTES)) {
    snprintf(err, cap, "max_bytes must be 1024 to %u", TR_EV_QUERY_BYTES);
    return TR_EINVAL;
  }
  if (tr_unpack_find(req, "desc", &v) == 0 && tr_unpack_bool(&v, &desc) < 0) {
    snprintf(err, cap, "desc must be a boolean");
    return TR_EINVAL;
  }
  ev_filter f;
  if ((rc = ev_filter_parse(req, &f, err, cap)) < 0) return rc;
  struct qctx q = {&f, s->topic, TR_PACK_INIT, 0, (uint32_t)max, max_bytes, false};
  tr_store_view *vw;
  if ((rc = tr_store_view_begin(s->st, &vw)) == 0) {
    uint64_t lo, hi;
    if ((rc = ev_range(s, vw, from, to, &lo, &hi)) == 0) {
      if (after && !desc && after + 1 > lo) lo = after + 1;
      if (after && desc && after - 1 < hi) hi = after - 1;
      rc = ev_scan_filtered(s, vw, &f, lo, hi, desc, q_one, &q);
    }
    tr_store_view_end(vw);
  }
  ev_filter_free(&f);
  if (rc == 0) {
    tr_pack_map(out, 3);
    tr_pack_str(out, "ok");
    tr_pack_bool(out, 1);
    tr_pack_str(out, "events");
    tr_pack_array(out, q.n);
    if (q.evs.len) tr_pack_raw(out, q.evs.data, q.evs.len);
    tr_pack_str(out, "more");
    tr_pack_bool(out, q.more);
    rc = out->err ? out->err : q.evs.err;
  }
  tr_pack_free(&q.evs);
  return rc;
}

/* ------------------------------------------------------------ counts */

/* Entries of one bucket, sorted by type as the counters' keys are. */
typedef struct tcount {
  char *type;
  size_t n;
  uint64_t count;
} tcount;

static int tcount_cmp(const void *a, const void *b) {
  const tcount *x = a, *y = b;
  size_t m = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->type, y->type, m);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

struct cctx {
  const ev_filter *f;
  char gran;
  uint64_t to;
  tr_pack rows;
  uint32_t nrows;
  uint64_t bucket; /* the bucket being filled (scan) */
  tcount *t;
  uint32_t nt, capt;
  int err;
};

static void row(struct cctx *c, uint64_t start, const char *type, size_t n, uint64_t count) {
  tr_pack_array(&c->rows, 3);
  tr_pack_uint(&c->rows, start);
  tr_pack_strn(&c->rows, type, n);
  tr_pack_uint(&c->rows, count);
  c->nrows++;
}

static bool type_wanted(const ev_filter *f, const char *t, size_t n) {
  if (!f->ntypes) return true;
  for (uint32_t i = 0; i < f->ntypes; i++)
    if (strlen(f->types[i]) == n && !memcmp(f->types[i], t, n)) return true;
  return false;
}

struct ckey {
  struct cctx *c;
  size_t plen;
};

static int cnt_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  struct ckey *k = arg;
  if (klen < k->plen + 8 || vlen != 8) return 0;
  const uint8_t *p = (const uint8_t *)key + k->plen;
  uint64_t start = 0, count = 0;
  for (int i = 0; i < 8; i++) start = start << 8 | p[i];
  for (int i = 0; i < 8; i++) count = count << 8 | ((const uint8_t *)val)[i];
  if (start >= k->c->to) return 1;
  const char *t = (const char *)p + 8;
  size_t tn = klen - k->plen - 8;
  if (type_wanted(k->c->f, t, tn)) row(k->c, start, t, tn, count);
  return 0;
}

static void flush_bucket(struct cctx *c) {
  qsort(c->t, c->nt, sizeof *c->t, tcount_cmp);
  for (uint32_t i = 0; i < c->nt; i++) {
    row(c, c->bucket, c->t[i].type, c->t[i].n, c->t[i].count);
    free(c->t[i].type);
  }
  c->nt = 0;
}

static int scan_count(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n) {
  (void)id, (void)p, (void)n;
  struct cctx *c = arg;
  if (!ev_filter_match(c->f, e)) return 0;
  uint64_t b = ev_bucket_ms(c->gran), start = e->time / b * b;
  if (c->nt && start != c->bucket) flush_bucket(c);
  c->bucket = start;
  for (uint32_t i = 0; i < c->nt; i++)
    if (c->t[i].n == e->type.n && !memcmp(c->t[i].type, e->type.p, e->type.n)) {
      c->t[i].count++;
      return 0;
    }
  if (c->nt == c->capt) {
    uint32_t cap = c->capt ? c->capt * 2 : 16;
    tcount *t = realloc(c->t, cap * sizeof *t);
    if (!t) return c->err = TR_ENOMEM;
    c->t = t, c->capt = cap;
  }
  char *copy = malloc(e->type.n + 1);
  if (!copy) return c->err = TR_ENOMEM;
  memcpy(copy, e->type.p, e->type.n);
  c->t[c->nt++] = (tcount){copy, e->type.n, 1};
  return 0;
}

int ev_count(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap) {
  uint64_t from, to;
  char gran;
  int rc;
  if ((rc = ev_req_gran(req, &gran, err, cap)) < 0 ||
      (rc = ev_req_times(req, &from, &to, err, cap)) < 0)
    return rc;
  ev_filter f;
  if ((rc = ev_filter_parse(req, &f, err, cap)) < 0) return rc;
  uint64_t b = ev_bucket_ms(gran);
  struct cctx c = {.f = &f, .gran = gran, .to = to};
  tr_pack_init(&c.rows);
  tr_store_view *v;
  if ((rc = tr_store_view_begin(s->st, &v)) == 0) {
    if (!f.key && !f.pi && !f.bk && !f.attrs) {
      /* the counters: one key per (bucket, type), no event read */
      uint8_t start[TR_STORE_MAX_KEY];
      size_t n = ev_cnt_key(start, s->topic, gran, from / b * b, (ev_str){"", 0});
      struct ckey k = {&c, n - 8};
      rc = tr_table_scan_from(s->st, v, s->tb->cnt, start, n - 8, start, n, cnt_one, &k);
    } else {
      /* whole buckets, as the counters have them */
      uint64_t lo, hi, end = to == UINT64_MAX ? to : (to - 1) / b * b + b;
      if ((rc = ev_range(s, v, from / b * b, end, &lo, &hi)) == 0)
        rc = ev_scan(s, v, lo, hi, scan_count, &c);
      if (rc == 0) rc = c.err;
      if (c.nt) flush_bucket(&c);
    }
    tr_store_view_end(v);
  }
  for (uint32_t i = 0; i < c.nt; i++) free(c.t[i].type);
  free(c.t);
  ev_filter_free(&f);
  if (rc == 0) rc = ev_pack_buckets(out, c.nrows, &c.rows);
  tr_pack_free(&c.rows);
  return rc;
}

int ev_pack_buckets(tr_pack *out, uint32_t nrows, const tr_pack *rows) {
  tr_pack_map(out, 2);
  tr_pack_str(out, "ok");
  tr_pack_bool(out, 1);
  tr_pack_str(out, "buckets");
  tr_pack_array(out, nrows);
  if (rows->len) tr_pack_raw(out, rows->data, rows->len);
  return out->err ? out->err : rows->err;
}
