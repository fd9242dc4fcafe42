/* vars.c - variables as one msgpack map (vars.h). */
#include "actors/workflow/vars.h"

#include <string.h>

/* Checks that p[0..len) is one map with string keys; *n gets its size. */
static int map_check(const uint8_t *p, size_t len, uint32_t *n) {
  *n = 0;
  if (!len) return 0;
  tr_unpack u;
  tr_unpack_init(&u, p, len);
  if (tr_unpack_map(&u, n) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < *n; i++) {
    const char *k;
    size_t kl;
    if (tr_unpack_str(&u, &k, &kl) < 0 || tr_unpack_skip(&u) < 0) return TR_EPROTO;
  }
  return tr_unpack_left(&u) ? TR_EPROTO : 0;
}

/* Whether map p[0..len) has key k. */
static int has_key(const uint8_t *p, size_t len, const char *k, size_t kl) {
  if (!len) return 0;
  tr_unpack u;
  uint32_t n;
  tr_unpack_init(&u, p, len);
  tr_unpack_map(&u, &n);
  for (uint32_t i = 0; i < n; i++) {
    const char *s;
    size_t sl;
    tr_unpack_str(&u, &s, &sl);
    if (sl == kl && !memcmp(s, k, kl)) return 1;
    tr_unpack_skip(&u);
  }
  return 0;
}

int tr_wf_vars_merge(const uint8_t *base, size_t blen, const uint8_t *upd, size_t ulen,
                     tr_pack *out) {
  uint32_t nb, nu;
  if (map_check(base, blen, &nb) < 0 || map_check(upd, ulen, &nu) < 0) return TR_EPROTO;
  /* entries of base that upd does not replace, then all of upd */
  uint32_t keep = 0;
  tr_unpack u;
  if (blen) {
    tr_unpack_init(&u, base, blen);
    tr_unpack_map(&u, &nb);
    for (uint32_t i = 0; i < nb; i++) {
      const char *k;
      size_t kl;
      tr_unpack_str(&u, &k, &kl);
      tr_unpack_skip(&u);
      keep += !has_key(upd, ulen, k, kl);
    }
  }
  tr_pack_map(out, keep + nu);
  if (blen) {
    tr_unpack_init(&u, base, blen);
    tr_unpack_map(&u, &nb);
    for (uint32_t i = 0; i < nb; i++) {
      const uint8_t *start = u.p;
      const char *k;
      size_t kl;
      tr_unpack_str(&u, &k, &kl);
      tr_unpack_skip(&u);
      if (!has_key(upd, ulen, k, kl)) tr_pack_raw(out, start, (size_t)(u.p - start));
    }
  }
  if (ulen) {
    tr_unpack_init(&u, upd, ulen);
    tr_unpack_map(&u, &nu);
    tr_pack_raw(out, u.p, tr_unpack_left(&u));
  }
  return out->err;
}

int tr_wf_vars_lookup(void *ud, const char *name, size_t len, tr_wf_value *out) {
  const tr_wf_vars_view *v = ud;
  if (!v->len) return TR_ENOENT;
  tr_unpack u;
  uint32_t n;
  tr_unpack_init(&u, v->p, v->len);
  if (tr_unpack_map(&u, &n) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kl;
    if (tr_unpack_str(&u, &k, &kl) < 0) return TR_EPROTO;
    if (kl != len || memcmp(k, name, len)) {
      if (tr_unpack_skip(&u) < 0) return TR_EPROTO;
      continue;
    }
    switch (tr_unpack_peek(&u)) {
    case TR_MP_NIL:
      out->type = TR_WF_VNULL;
      return 0;
    case TR_MP_BOOL: {
      int b;
      tr_unpack_bool(&u, &b);
      out->type = TR_WF_VBOOLEAN;
      out->u.b = b != 0;
      return 0;
    }
    case TR_MP_INT: {
      int64_t x;
      if (tr_unpack_int(&u, &x) < 0) return TR_ERANGE;
      out->type = x >= INT32_MIN && x <= INT32_MAX ? TR_WF_VINTEGER : TR_WF_VLONG;
      out->u.i = x;
      return 0;
    }
    case TR_MP_FLOAT:
      out->type = TR_WF_VDOUBLE;
      return tr_unpack_double(&u, &out->u.d);
    case TR_MP_STR:
      out->type = TR_WF_VSTRING;
      return tr_unpack_str(&u, &out->u.s.ptr, &out->u.s.len);
    default:
      return TR_ENOTSUP;
    }
  }
  return TR_ENOENT;
}
