/* head.h - decodes the header of one msgpack value, bounds-checked.
 *
 * Every reader in codec/ (the payload cursor, the envelope decoder, the JSON
 * emitter) goes through tr_mp_head(), so the bounds checks live in one place:
 * a successful call guarantees that the header and, for str/bin/ext, the
 * bytes it announces lie inside p[0..n). Containers announce a count only;
 * their items are checked one by one as they are read.
 */
#ifndef TR_CODEC_HEAD_H
#define TR_CODEC_HEAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/mp.h"
#include "troupe/codec.h"

typedef struct tr_mp_head_t {
  uint8_t type; /* TR_MP_* */
  uint8_t neg;  /* TR_MP_INT: the value is negative (v.i), else v.u */
  int8_t ext;   /* TR_MP_EXT: the extension type */
  uint8_t hlen; /* bytes of the header itself */
  uint32_t len; /* str/bin/ext: data bytes after the header; array: items;
                 * map: key/value pairs */
  union {
    uint64_t u;
    int64_t i;
    double d;
  } v; /* int, bool (0/1), float (converted to double) */
} tr_mp_head_t;

/* Bytes the value occupies if it is not a container (header + data). */
static inline size_t tr_mp_head_size(const tr_mp_head_t *h) {
  return (size_t)h->hlen +
         ((h->type == TR_MP_STR || h->type == TR_MP_BIN || h->type == TR_MP_EXT) ? h->len : 0);
}

static inline int tr_mp_head_len(const uint8_t *p, size_t n, tr_mp_head_t *h, uint8_t type,
                                 int lbytes) {
  if (n < (size_t)1 + (size_t)lbytes) return TR_EPROTO;
  h->type = type;
  h->hlen = (uint8_t)(1 + lbytes);
  h->len = (uint32_t)tr_mp_get_be(p + 1, lbytes);
  return 0;
}

/* Reads the header at p[0..n) into *h. Returns 0, or TR_EPROTO when the
 * input ends inside the value (for str/bin/ext: inside its data) or starts
 * with the byte msgpack never uses (0xc1). */
static inline int tr_mp_head(const uint8_t *p, size_t n, tr_mp_head_t *h) {
  if (!n) return TR_EPROTO;
  uint8_t t = p[0];
  int rc = 0;
  h->neg = 0;
  h->ext = 0;
  h->hlen = 1;
  h->len = 0;
  h->v.u = 0;
  if (t <= 0x7f) {
    h->type = TR_MP_INT;
    h->v.u = t;
    return 0;
  }
  if (t >= 0xe0) {
    h->type = TR_MP_INT;
    h->neg = 1;
    h->v.i = (int8_t)t;
    return 0;
  }
  if (t <= 0x8f) {
    h->type = TR_MP_MAP;
    h->len = t & 0x0f;
    return 0;
  }
  if (t <= 0x9f) {
    h->type = TR_MP_ARRAY;
    h->len = t & 0x0f;
    return 0;
  }
  if (t <= 0xbf) {
    h->type = TR_MP_STR;
    h->len = t & 0x1f;
  } else {
    switch (t) {
    case 0xc0: h->type = TR_MP_NIL; return 0;
    case 0xc2: h->type = TR_MP_BOOL; h->v.u = 0; return 0;
    case 0xc3: h->type = TR_MP_BOOL; h->v.u = 1; return 0;
    case 0xc4: rc = tr_mp_head_len(p, n, h, TR_MP_BIN, 1); break;
    case 0xc5: rc = tr_mp_head_len(p, n, h, TR_MP_BIN, 2); break;
    case 0xc6: rc = tr_mp_head_len(p, n, h, TR_MP_BIN, 4); break;
    case 0xc7: rc = tr_mp_head_len(p, n, h, TR_MP_EXT, 1); break;
    case 0xc8: rc = tr_mp_head_len(p, n, h, TR_MP_EXT, 2); break;
    case 0xc9: rc = tr_mp_head_len(p, n, h, TR_MP_EXT, 4); break;
    case 0xd4: h->type = TR_MP_EXT; h->len = 1; break;
    case 0xd5: h->type = TR_MP_EXT; h->len = 2; break;
    case 0xd6: h->type = TR_MP_EXT; h->len = 4; break;
    case 0xd7: h->type = TR_MP_EXT; h->len = 8; break;
    case 0xd8: h->type = TR_MP_EXT; h->len = 16; break;
    case 0xd9: rc = tr_mp_head_len(p, n, h, TR_MP_STR, 1); break;
    case 0xda: rc = tr_mp_head_len(p, n, h, TR_MP_STR, 2); break;
    case 0xdb: rc = tr_mp_head_len(p, n, h, TR_MP_STR, 4); break;
    case 0xdc: return tr_mp_head_len(p, n, h, TR_MP_ARRAY, 2);
    case 0xdd: return tr_mp_head_len(p, n, h, TR_MP_ARRAY, 4);
    case 0xde: return tr_mp_head_len(p, n, h, TR_MP_MAP, 2);
    case 0xdf: return tr_mp_head_len(p, n, h, TR_MP_MAP, 4);
    case 0xca: {
      if (n < 5) return TR_EPROTO;
      uint32_t bits = (uint32_t)tr_mp_get_be(p + 1, 4);
      float f;
      memcpy(&f, &bits, sizeof f);
      h->type = TR_MP_FLOAT;
      h->hlen = 5;
      h->v.d = f;
      return 0;
    }
    case 0xcb: {
      if (n < 9) return TR_EPROTO;
      uint64_t bits = tr_mp_get_be(p + 1, 8);
      h->type = TR_MP_FLOAT;
      h->hlen = 9;
      memcpy(&h->v.d, &bits, sizeof h->v.d);
      return 0;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      uint64_t v;
      int neg;
      size_t k = tr_mp_get_int(p, n, &v, &neg); /* checks the length */
      if (!k) return TR_EPROTO;
      h->type = TR_MP_INT;
      h->hlen = (uint8_t)k;
      h->neg = (uint8_t)neg;
      h->v.u = v;
      return 0;
    }
    default: return TR_EPROTO; /* 0xc1: never used */
    }
    if (rc < 0) return rc;
  }
  if (h->type == TR_MP_EXT) {
    /* the type byte follows the length; fixext has none of its own */
    if (n < (size_t)h->hlen + 1) return TR_EPROTO;
    h->ext = (int8_t)p[h->hlen];
    h->hlen++;
  }
  /* the data must lie inside the input; n - hlen cannot underflow: every
   * header length was checked above */
  if (h->len > n - h->hlen) return TR_EPROTO;
  return 0;
}

#endif
