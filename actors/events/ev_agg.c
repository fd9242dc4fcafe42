/* ev_agg.c - distinct values per bucket and funnels: exact, by a scan of
 * the events of the time range (no pre-aggregation: the values are
 * unbounded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/ev_query.h"

/* ------------------------------------------------------------ a map of byte strings */

typedef struct hent {
  uint8_t *k;
  size_t n;
  uint64_t a, b; /* the user's */
} hent;

typedef struct hmap {
  hent *v;
  size_t n, cap;
} hmap;

static uint64_t hash(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return h;
}

static void hmap_clear(hmap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->v[i].k);
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* The entry of key (created zeroed if new: *fresh), or NULL without memory. */
static hent *hmap_get(hmap *m, const void *k, size_t n, bool *fresh) {
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    hent *v = calloc(cap, sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < m->cap; i++)
      if (m->v[i].k) {
        size_t j = hash(m->v[i].k, m->v[i].n) & (cap - 1);
        while (v[j].k) j = (j + 1) & (cap - 1);
        v[j] = m->v[i];
      }
    free(m->v);
    m->v = v, m->cap = cap;
  }
  size_t j = hash(k, n) & (m->cap - 1);
  for (; m->v[j].k; j = (j + 1) & (m->cap - 1))
    if (m->v[j].n == n && !memcmp(m->v[j].k, k, n)) {
      *fresh = false;
      return &m->v[j];
    }
  if (!(m->v[j].k = malloc(n ? n : 1))) return NULL;
  memcpy(m->v[j].k, k, n);
  m->v[j].n = n;
  m->n++;
  *fresh = true;
  return &m->v[j];
}

/* ------------------------------------------------------------ "of" and "by" */

typedef struct field {
  char which; /* 'b' bk, 'p' pi, 'k' key, 'a' attrs.<name> */
  char name[EV_VALUE_MAX + 1];
} field;

static int field_parse(const tr_unpack *req, const char *key, bool key_ok, field *f, char *err,
                       size_t cap) {
  const char *s;
  size_t n;
  if (tr_unpack_find_str(req, key, &s, &n) < 0) goto bad;
  if (n == 2 && !memcmp(s, "bk", 2)) f->which = 'b';
  else if (n == 2 && !memcmp(s, "pi", 2)) f->which = 'p';
  else if (key_ok && n == 3 && !memcmp(s, "key", 3)) f->which = 'k';
  else if (n > 6 && n - 6 <= EV_VALUE_MAX && !memcmp(s, "attrs.", 6)) {
    f->which = 'a';
    memcpy(f->name, s + 6, n - 6);
    f->name[n - 6] = 0;
  } else goto bad;
  return 0;
bad:
  snprintf(err, cap, "%s must be \"bk\", \"pi\", %s\"attrs.<name>\"", key,
           key_ok ? "\"key\", " : "");
  return TR_EINVAL;
}

/* The value of f in e as bytes (attrs: the scalar's encoding); 0 if absent. */
static int field_value(const field *f, const ev_view *e, const void **p, size_t *n) {
  ev_str s = f->which == 'b' ? e->bk : f->which == 'p' ? e->pi : f->which == 'k' ? e->key
                                                                                 : (ev_str){0};
  if (f->which != 'a') {
    if (!s.p) return 0;
    *p = s.p, *n = s.n;
    return 1;
  }
  if (!e->attrs) return 0;
  tr_unpack u, v;
  tr_unpack_init(&u, e->attrs, e->attrs_len);
  if (tr_unpack_find(&u, f->name, &v) < 0 || tr_unpack_peek(&v) == TR_MP_NIL) return 0;
  return tr_unpack_raw(&v, p, n) == 0;
}

/* ------------------------------------------------------------ distinct */

struct dctx {
  const ev_filter *f;
  field of;
  char gran;
  hmap seen;
  uint64_t bucket;
  tr_pack rows;
  uint32_t nrows;
  int err;
};

static void d_flush(struct dctx *c) {
  if (!c->seen.n) return;
  tr_pack_array(&c->rows, 2);
  tr_pack_uint(&c->rows, c->bucket);
  tr_pack_uint(&c->rows, c->seen.n);
  c->nrows++;
  hmap_clear(&c->seen);
}

static int d_one(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n) {
  (void)id, (void)p, (void)n;
  struct dctx *c = arg;
  if (!ev_filter_match(c->f, e)) return 0;
  const void *vp;
  size_t vn;
  if (!field_value(&c->of, e, &vp, &vn)) return 0;
  uint64_t b = ev_bucket_ms(c->gran), start = e->time / b * b;
  if (start != c->bucket) d_flush(c);
  c->bucket = start;
  bool fresh;
  if (!hmap_get(&c->seen, vp, vn, &fresh)) return c->err = TR_ENOMEM;
  return 0;
}

int ev_distinct(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap) {
  uint64_t from, to;
  struct dctx c = {0};
  int rc;
  if ((rc = ev_req_gran(req, &c.gran, err, cap)) < 0 ||
      (rc = ev_req_times(req, &from, &to, err, cap)) < 0 ||
      (rc = field_parse(req, "of", true, &c.of, err, cap)) < 0)
    return rc;
  ev_filter f;
  if ((rc = ev_filter_parse(req, &f, err, cap)) < 0) return rc;
  c.f = &f;
  tr_pack_init(&c.rows);
  uint64_t b = ev_bucket_ms(c.gran);
  uint64_t end = to == UINT64_MAX ? to : (to - 1) / b * b + b; /* whole buckets */
  tr_store_view *v;
  if ((rc = tr_store_view_begin(s->st, &v)) == 0) {
    uint64_t lo, hi;
    if ((rc = ev_range(s, v, from / b * b, end, &lo, &hi)) == 0)
      rc = ev_scan_filtered(s, v, &f, lo, hi, false, d_one, &c);
    tr_store_view_end(v);
  }
  if (rc == 0) rc = c.err;
  d_flush(&c);
  hmap_clear(&c.seen);
  ev_filter_free(&f);
  if (rc == 0) rc = ev_pack_buckets(out, c.nrows, &c.rows);
  tr_pack_free(&c.rows);
  return rc;
}

/* ------------------------------------------------------------ funnel
 *
 * Per `by` value, in time order: its first event of step 1 starts an
 * attempt; each next step counts when its event comes after the previous
 * step's and, with within_ms, no later than within_ms after the attempt's
 * start. An attempt that ran out of time is replaced by the value's next
 * step-1 event. A value counts for step i if one of its attempts got
 * there. */

enum { STEPS_MAX = 16 };

struct fctx {
  char *steps[STEPS_MAX];
  uint32_t nsteps;
  field by;
  uint64_t within;
  hmap st; /* value -> a: steps reached now, b: start time; best in high bits */
  uint64_t reached[STEPS_MAX];
  int err;
};

static bool is_step(const struct fctx *c, uint32_t k, ev_str t) {
  return strlen(c->steps[k]) == t.n && !memcmp(c->steps[k], t.p, t.n);
}

static int f_one(void *arg, uint64_t id, const ev_view *e, const void *p, size_t n) {
  (void)id, (void)p, (void)n;
  struct fctx *c = arg;
  const void *vp;
  size_t vn;
  if (!field_value(&c->by, e, &vp, &vn)) return 0;
  bool fresh;
  hent *h = hmap_get(&c->st, vp, vn, &fresh);
  if (!h) return c->err = TR_ENOMEM;
  uint32_t k = (uint32_t)(h->a & 0xff), best = (uint32_t)(h->a >> 8);
  bool expired = k && c->within && e->time - h->b > c->within;
  if (k < c->nsteps && k > 0 && !expired && is_step(c, k, e->type)) {
    k++;
  } else if (is_step(c, 0, e->type) && (k == 0 || (expired && k < c->nsteps))) {
    k = 1;
    h->b = e->time;
  }
  if (k > best) {
    for (uint32_t i = best; i < k; i++) c->reached[i]++;
    best = k;
  }
  h->a = (uint64_t)best << 8 | k;
  return 0;
}

int ev_funnel(const ev_scope *s, const tr_unpack *req, tr_pack *out, char *err, size_t cap) {
  uint64_t from, to;
  struct fctx c = {0};
  int rc;
  tr_unpack a, v;
  uint32_t n;
  if (tr_unpack_find(req, "steps", &a) < 0 || tr_unpack_array(&a, &n) < 0 || n == 0 ||
      n > STEPS_MAX) {
    snprintf(err, cap, "steps must be an array of 1 to %d event types", STEPS_MAX);
    return TR_EINVAL;
  }
  if ((rc = ev_req_times(req, &from, &to, err, cap)) < 0 ||
      (rc = field_parse(req, "by", false, &c.by, err, cap)) < 0)
    return rc;
  if (tr_unpack_find(req, "within_ms", &v) == 0 && tr_unpack_peek(&v) != TR_MP_NIL &&
      tr_unpack_uint(&v, &c.within) < 0) {
    snprintf(err, cap, "within_ms must be a number >= 0");
    return TR_EINVAL;
  }
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    const char *t;
    size_t tn;
    if (tr_unpack_str(&a, &t, &tn) < 0 || tn == 0 || tn > EV_VALUE_MAX) {
      snprintf(err, cap, "steps[%u] must be an event type", i);
      rc = TR_EINVAL;
    } else if (!(c.steps[i] = malloc(tn + 1))) {
      rc = TR_ENOMEM;
    } else {
      memcpy(c.steps[i], t, tn);
      c.steps[i][tn] = 0;
      c.nsteps++;
    }
  }
  tr_store_view *vw;
  if (rc == 0 && (rc = tr_store_view_begin(s->st, &vw)) == 0) {
    uint64_t lo, hi;
    if ((rc = ev_range(s, vw, from, to, &lo, &hi)) == 0) rc = ev_scan(s, vw, lo, hi, f_one, &c);
    tr_store_view_end(vw);
  }
  if (rc == 0) rc = c.err;
  if (rc == 0) {
    tr_pack_map(out, 2);
    tr_pack_str(out, "ok");
    tr_pack_bool(out, 1);
    tr_pack_str(out, "steps");
    tr_pack_array(out, c.nsteps);
    for (uint32_t i = 0; i < c.nsteps; i++) {
      tr_pack_array(out, 2);
      tr_pack_str(out, c.steps[i]);
      tr_pack_uint(out, c.reached[i]);
    }
    rc = out->err;
  }
  for (uint32_t i = 0; i < c.nsteps; i++) free(c.steps[i]);
  hmap_clear(&c.st);
  return rc;
}
