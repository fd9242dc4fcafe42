/* unpack.c - the bounds-checked msgpack cursor: typed reads, skip, find.
 *
 * Nothing here allocates: strings and binaries are returned as pointers into
 * the input, and skip walks nested containers with a fixed array of counters
 * instead of recursion, so hostile nesting costs neither stack nor heap.
 */
#include <string.h>

#include "codec/head.h"
#include "troupe/codec.h"

void tr_unpack_init(tr_unpack *u, const void *data, size_t len) {
  static const uint8_t none[1];
  /* no arithmetic on NULL: an absent buffer is an empty one */
  u->p = data ? data : none;
  u->end = data ? u->p + len : none;
  u->max_depth = 0;
}

static inline int head(const tr_unpack *u, tr_mp_head_t *h) {
  return tr_mp_head(u->p, tr_unpack_left(u), h);
}

int tr_unpack_peek(const tr_unpack *u) {
  tr_mp_head_t h;
  int rc = head(u, &h);
  return rc < 0 ? rc : h.type;
}

/* Reads the header of a value that must be of type `type`; on success moves
 * past the whole value (containers: past the header only). */
static int take(tr_unpack *u, uint8_t type, tr_mp_head_t *h) {
  int rc = head(u, h);
  if (rc < 0) return rc;
  if (h->type != type) return TR_ETYPE;
  u->p += tr_mp_head_size(h);
  return 0;
}

int tr_unpack_nil(tr_unpack *u) {
  tr_mp_head_t h;
  return take(u, TR_MP_NIL, &h);
}

int tr_unpack_bool(tr_unpack *u, int *v) {
  tr_mp_head_t h;
  int rc = take(u, TR_MP_BOOL, &h);
  if (rc == 0) *v = (int)h.v.u;
  return rc;
}

int tr_unpack_int(tr_unpack *u, int64_t *v) {
  tr_mp_head_t h;
  int rc = head(u, &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_INT) return TR_ETYPE;
  if (!h.neg && h.v.u > (uint64_t)INT64_MAX) return TR_ERANGE;
  *v = (int64_t)h.v.u;
  u->p += h.hlen;
  return 0;
}

int tr_unpack_uint(tr_unpack *u, uint64_t *v) {
  tr_mp_head_t h;
  int rc = head(u, &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_INT) return TR_ETYPE;
  if (h.neg) return TR_ERANGE;
  *v = h.v.u;
  u->p += h.hlen;
  return 0;
}

int tr_unpack_double(tr_unpack *u, double *v) {
  tr_mp_head_t h;
  int rc = head(u, &h);
  if (rc < 0) return rc;
  if (h.type == TR_MP_FLOAT)
    *v = h.v.d;
  else if (h.type == TR_MP_INT)
    *v = h.neg ? (double)h.v.i : (double)h.v.u;
  else
    return TR_ETYPE;
  u->p += h.hlen;
  return 0;
}

int tr_unpack_str(tr_unpack *u, const char **s, size_t *len) {
  tr_mp_head_t h;
  const uint8_t *at = u->p;
  int rc = take(u, TR_MP_STR, &h);
  if (rc == 0) {
    *s = (const char *)at + h.hlen;
    *len = h.len;
  }
  return rc;
}

int tr_unpack_str_copy(tr_unpack *u, char *buf, size_t cap) {
  tr_mp_head_t h;
  int rc = head(u, &h);
  if (rc < 0) return rc;
  if (h.type != TR_MP_STR) return TR_ETYPE;
  if (!buf || (size_t)h.len >= cap) return TR_ETOOBIG;
  memcpy(buf, u->p + h.hlen, h.len);
  buf[h.len] = '\0';
  u->p += tr_mp_head_size(&h);
  return 0;
}

int tr_unpack_bin(tr_unpack *u, const void **p, size_t *len) {
  tr_mp_head_t h;
  const uint8_t *at = u->p;
  int rc = take(u, TR_MP_BIN, &h);
  if (rc == 0) {
    *p = at + h.hlen;
    *len = h.len;
  }
  return rc;
}

int tr_unpack_ext(tr_unpack *u, int8_t *type, const void **p, size_t *len) {
  tr_mp_head_t h;
  const uint8_t *at = u->p;
  int rc = take(u, TR_MP_EXT, &h);
  if (rc == 0) {
    *type = h.ext;
    *p = at + h.hlen;
    *len = h.len;
  }
  return rc;
}

int tr_unpack_array(tr_unpack *u, uint32_t *n) {
  tr_mp_head_t h;
  int rc = take(u, TR_MP_ARRAY, &h);
  if (rc == 0) *n = h.len;
  return rc;
}

int tr_unpack_map(tr_unpack *u, uint32_t *n) {
  tr_mp_head_t h;
  int rc = take(u, TR_MP_MAP, &h);
  if (rc == 0) *n = h.len;
  return rc;
}

/* Walks one value from p. left[d] counts the values still to read in the
 * container open at depth d (left[0]: the one value asked for); a map of n
 * pairs holds 2n values, which a uint64_t always fits. */
static int skip_from(const uint8_t **pp, const uint8_t *end, uint32_t max_depth) {
  if (!max_depth) max_depth = TR_UNPACK_DEPTH;
  if (max_depth > TR_UNPACK_DEPTH_MAX) return TR_EINVAL;
  uint64_t left[TR_UNPACK_DEPTH_MAX + 1];
  uint32_t depth = 0;
  const uint8_t *p = *pp;
  left[0] = 1;
  for (;;) {
    tr_mp_head_t h;
    int rc = tr_mp_head(p, (size_t)(end - p), &h);
    if (rc < 0) return rc;
    p += tr_mp_head_size(&h);
    left[depth]--;
    if (h.type == TR_MP_ARRAY || h.type == TR_MP_MAP) {
      /* checked for empty containers too, so the limit means the same as
       * the JSON bridge's bracket count */
      if (depth >= max_depth) return TR_ETOOBIG;
      if (h.len) left[++depth] = h.type == TR_MP_MAP ? 2 * (uint64_t)h.len : h.len;
    }
    while (!left[depth]) {
      if (!depth) {
        *pp = p;
        return 0;
      }
      depth--;
    }
  }
}

int tr_unpack_skip(tr_unpack *u) { return skip_from(&u->p, u->end, u->max_depth); }

int tr_unpack_raw(tr_unpack *u, const void **p, size_t *len) {
  const uint8_t *at = u->p;
  int rc = tr_unpack_skip(u);
  if (rc == 0) {
    *p = at;
    *len = (size_t)(u->p - at);
  }
  return rc;
}

int tr_unpack_find(const tr_unpack *map, const char *key, tr_unpack *val) {
  if (!key) return TR_EINVAL;
  tr_unpack c = *map;
  uint32_t n;
  int rc = tr_unpack_map(&c, &n);
  if (rc < 0) return rc;
  size_t klen = strlen(key);
  for (uint32_t i = 0; i < n; i++) {
    tr_mp_head_t h;
    rc = head(&c, &h);
    if (rc < 0) return rc;
    if (h.type == TR_MP_STR) {
      int hit = h.len == klen && memcmp(c.p + h.hlen, key, klen) == 0;
      c.p += tr_mp_head_size(&h);
      if (hit) {
        *val = c;
        return 0;
      }
    } else if ((rc = tr_unpack_skip(&c)) < 0) {
      return rc;
    }
    if ((rc = tr_unpack_skip(&c)) < 0) return rc;
  }
  return TR_ENOENT;
}

/* find + a typed read, generated for each type; v is only written on
 * success. */
#define FIND_TYPED(name, T)                                                      \
  int tr_unpack_find_##name(const tr_unpack *map, const char *key, T *v) {      \
    tr_unpack c;                                                                 \
    int rc = tr_unpack_find(map, key, &c);                                       \
    return rc < 0 ? rc : tr_unpack_##name(&c, v);                               \
  }
FIND_TYPED(int, int64_t)
FIND_TYPED(uint, uint64_t)
FIND_TYPED(bool, int)
FIND_TYPED(double, double)

int tr_unpack_find_str(const tr_unpack *map, const char *key, const char **s, size_t *len) {
  tr_unpack c;
  int rc = tr_unpack_find(map, key, &c);
  return rc < 0 ? rc : tr_unpack_str(&c, s, len);
}

int tr_reply_status(const void *data, size_t len) {
  tr_unpack u;
  int ok;
  int64_t code;
  tr_unpack_init(&u, data, len);
  if (tr_unpack_find_bool(&u, "ok", &ok) < 0) return TR_EPROTO;
  if (ok) return 0;
  /* a code is a negative TR_E*: anything else is not an answer of ours */
  if (tr_unpack_find_int(&u, "code", &code) < 0 || code >= 0 || code < -1000) return TR_EPROTO;
  return (int)code;
}
