/* idx_value.c - request fields and msgpack value equality for the index
 * actors (idx.h). */
#include <string.h>

#include "actors/workflow/idx.h"

int idx_str_is(const char *s, size_t n, const char *z) {
  return strlen(z) == n && memcmp(s, z, n) == 0;
}

int idx_opt_str(const tr_unpack *map, const char *key, size_t max, const char **s, size_t *n) {
  tr_unpack v;
  int rc = tr_unpack_find(map, key, &v);
  if (rc == TR_ENOENT || (rc == 0 && tr_unpack_peek(&v) == TR_MP_NIL)) return 1;
  if (rc < 0 || tr_unpack_str(&v, s, n) < 0 || *n > max) return TR_EINVAL;
  return 0;
}

int idx_opt_raw(const tr_unpack *map, const char *key, int type, const void **p, size_t *n) {
  tr_unpack v;
  int rc = tr_unpack_find(map, key, &v);
  if (rc == TR_ENOENT) return 1;
  if (rc < 0) return TR_EINVAL;
  int t = tr_unpack_peek(&v);
  if (type && t == TR_MP_NIL) return 1;
  if (t < 0 || (type && t != type)) return TR_EINVAL;
  return tr_unpack_raw(&v, p, n) < 0 ? TR_EINVAL : 0;
}

int idx_opt_bool(const tr_unpack *map, const char *key, int def, int *v) {
  tr_unpack x;
  int rc = tr_unpack_find(map, key, &x);
  *v = def;
  if (rc == TR_ENOENT || (rc == 0 && tr_unpack_peek(&x) == TR_MP_NIL)) return 0;
  if (rc < 0 || tr_unpack_bool(&x, v) < 0) return TR_EINVAL;
  return 0;
}

int idx_opt_int(const tr_unpack *map, const char *key, int64_t *v) {
  tr_unpack x;
  int rc = tr_unpack_find(map, key, &x);
  if (rc == TR_ENOENT || (rc == 0 && tr_unpack_peek(&x) == TR_MP_NIL)) return 1;
  if (rc < 0 || tr_unpack_int(&x, v) < 0) return TR_EINVAL;
  return 0;
}

/* ------------------------------------------------------------ equality */

/* A number as a double and, when it is an integer, exactly as one. */
typedef struct num {
  int is_int, neg;
  uint64_t u; /* |value| of an integer */
  double d;
} num;

static int read_num(tr_unpack *u, num *x) {
  int64_t i;
  memset(x, 0, sizeof *x);
  if (tr_unpack_peek(u) == TR_MP_INT) {
    x->is_int = 1;
    if (tr_unpack_int(u, &i) == 0) {
      x->neg = i < 0;
      x->u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
      x->d = (double)i;
      return 0;
    }
    if (tr_unpack_uint(u, &x->u) < 0) return TR_EPROTO;
    x->d = (double)x->u;
    return 0;
  }
  return tr_unpack_double(u, &x->d) < 0 ? TR_EPROTO : 0;
}

static int num_equal(const num *a, const num *b) {
  if (a->is_int && b->is_int) return a->neg == b->neg && a->u == b->u;
  return a->d == b->d; /* 1 == 1.0; NaN equals nothing */
}

static int is_num(int t) { return t == TR_MP_INT || t == TR_MP_FLOAT; }

static int equal(tr_unpack *a, tr_unpack *b, int depth);

/* Whether map b has key k (encoded bytes) with a value equal to va. */
static int map_has(const tr_unpack *bmap, uint32_t n, const void *k, size_t kl, tr_unpack *va,
                   int depth) {
  tr_unpack b = *bmap;
  for (uint32_t i = 0; i < n; i++) {
    const void *bk;
    size_t bkl;
    if (tr_unpack_raw(&b, &bk, &bkl) < 0) return 0;
    tr_unpack key_a, key_b;
    tr_unpack_init(&key_a, k, kl);
    tr_unpack_init(&key_b, bk, bkl);
    if (equal(&key_a, &key_b, depth + 1)) {
      tr_unpack v = *va;
      return equal(&v, &b, depth + 1);
    }
    if (tr_unpack_skip(&b) < 0) return 0;
  }
  return 0;
}

/* Compares the values at a and b and moves both past them (when equal). */
static int equal(tr_unpack *a, tr_unpack *b, int depth) {
  if (depth > 32) return 0;
  int ta = tr_unpack_peek(a), tb = tr_unpack_peek(b);
  if (ta < 0 || tb < 0) return 0;
  if (is_num(ta) && is_num(tb)) {
    num x, y;
    return read_num(a, &x) == 0 && read_num(b, &y) == 0 && num_equal(&x, &y);
  }
  if (ta != tb) return 0;
  switch (ta) {
  case TR_MP_NIL: return tr_unpack_nil(a) == 0 && tr_unpack_nil(b) == 0;
  case TR_MP_BOOL: {
    int x, y;
    return tr_unpack_bool(a, &x) == 0 && tr_unpack_bool(b, &y) == 0 && !x == !y;
  }
  case TR_MP_STR: {
    const char *x, *y;
    size_t xl, yl;
    return tr_unpack_str(a, &x, &xl) == 0 && tr_unpack_str(b, &y, &yl) == 0 && xl == yl &&
           !memcmp(x, y, xl);
  }
  case TR_MP_BIN: {
    const void *x, *y;
    size_t xl, yl;
    return tr_unpack_bin(a, &x, &xl) == 0 && tr_unpack_bin(b, &y, &yl) == 0 && xl == yl &&
           !memcmp(x, y, xl);
  }
  case TR_MP_EXT: {
    const void *x, *y;
    size_t xl, yl;
    int8_t xt, yt;
    return tr_unpack_ext(a, &xt, &x, &xl) == 0 && tr_unpack_ext(b, &yt, &y, &yl) == 0 &&
           xt == yt && xl == yl && !memcmp(x, y, xl);
  }
  case TR_MP_ARRAY: {
    uint32_t n, m;
    if (tr_unpack_array(a, &n) < 0 || tr_unpack_array(b, &m) < 0 || n != m) return 0;
    for (uint32_t i = 0; i < n; i++)
      if (!equal(a, b, depth + 1)) return 0;
    return 1;
  }
  case TR_MP_MAP: {
    uint32_t n, m;
    if (tr_unpack_map(a, &n) < 0 || tr_unpack_map(b, &m) < 0 || n != m) return 0;
    tr_unpack bstart = *b;
    /* same size and every key of a in b with an equal value: equal (keys
     * of a well-formed map are distinct) */
    for (uint32_t i = 0; i < n; i++) {
      const void *k;
      size_t kl;
      if (tr_unpack_raw(a, &k, &kl) < 0) return 0;
      if (!map_has(&bstart, m, k, kl, a, depth)) return 0;
      if (tr_unpack_skip(a) < 0) return 0;
    }
    for (uint32_t i = 0; i < 2 * m; i++)
      if (tr_unpack_skip(b) < 0) return 0;
    return 1;
  }
  }
  return 0;
}

int idx_value_equal(const void *a, size_t alen, const void *b, size_t blen) {
  tr_unpack x, y;
  tr_unpack_init(&x, a, alen);
  tr_unpack_init(&y, b, blen);
  return equal(&x, &y, 0);
}
