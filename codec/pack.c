/* pack.c - the msgpack writer: a growable or fixed byte buffer.
 *
 * Errors are sticky so that a payload can be written with a run of calls and
 * checked once; every write first makes room for its whole value, so a
 * failed write leaves no partial value behind.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/mp.h"
#include "troupe/codec.h"

void tr_pack_init(tr_pack *pk) { memset(pk, 0, sizeof *pk); }

void tr_pack_init_fixed(tr_pack *pk, void *buf, size_t cap) {
  memset(pk, 0, sizeof *pk);
  pk->data = buf;
  pk->cap = buf ? cap : 0;
  pk->fixed = 1;
}

void tr_pack_reset(tr_pack *pk) {
  pk->len = 0;
  pk->err = 0;
}

void tr_pack_free(tr_pack *pk) {
  if (!pk->fixed) free(pk->data);
  size_t max = pk->max;
  memset(pk, 0, sizeof *pk);
  pk->max = max;
}

uint8_t *tr_pack_detach(tr_pack *pk, size_t *len) {
  *len = 0;
  if (pk->err || pk->fixed || !pk->len) return NULL;
  uint8_t *d = pk->data;
  *len = pk->len;
  pk->data = NULL;
  pk->len = pk->cap = 0;
  return d;
}

/* Records err unless an earlier error is already there: the first one is
 * the one worth reporting. */
static int fail(tr_pack *pk, int err) {
  if (!pk->err) pk->err = err;
  return pk->err;
}

/* Makes room for n more bytes; returns 0 or the (now sticky) error. */
static int reserve(tr_pack *pk, size_t n) {
  if (pk->err) return pk->err;
  size_t max = pk->max && pk->max < TR_PACK_MAX ? pk->max : TR_PACK_MAX;
  if (pk->len > max || n > max - pk->len) return fail(pk, TR_ETOOBIG);
  size_t need = pk->len + n;
  if (need <= pk->cap) return 0;
  if (pk->fixed) return fail(pk, TR_ETOOBIG);
  size_t cap = pk->cap ? pk->cap : 64;
  while (cap < need) cap = cap > max / 2 ? max : cap * 2;
  uint8_t *d = realloc(pk->data, cap);
  if (!d) return fail(pk, TR_ENOMEM);
  pk->data = d;
  pk->cap = cap;
  return 0;
}

/* The largest header is 9 bytes (0xcf + u64, 0xcb + f64); headers are
 * written into a scratch array first so that their size is known. */
static int put(tr_pack *pk, const uint8_t *hdr, size_t hlen, const void *body, size_t blen) {
  if (blen > SIZE_MAX - hlen) return fail(pk, TR_ETOOBIG);
  int rc = reserve(pk, hlen + blen);
  if (rc || !(hlen + blen)) return rc; /* data may still be NULL */
  if (hlen) memcpy(pk->data + pk->len, hdr, hlen);
  if (blen) memcpy(pk->data + pk->len + hlen, body, blen);
  pk->len += hlen + blen;
  return 0;
}

int tr_pack_nil(tr_pack *pk) { return put(pk, (const uint8_t[]){0xc0}, 1, NULL, 0); }

int tr_pack_bool(tr_pack *pk, int v) { return put(pk, (const uint8_t[]){v ? 0xc3 : 0xc2}, 1, NULL, 0); }

int tr_pack_int(tr_pack *pk, int64_t v) {
  uint8_t h[9];
  return put(pk, h, tr_mp_put_int(h, sizeof h, v), NULL, 0);
}

int tr_pack_uint(tr_pack *pk, uint64_t v) {
  uint8_t h[9];
  return put(pk, h, tr_mp_put_uint(h, sizeof h, v), NULL, 0);
}

int tr_pack_double(tr_pack *pk, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  uint8_t h[9];
  return put(pk, h, tr_mp_put_be(h, sizeof h, 0xcb, bits, 8), NULL, 0);
}

/* Header of a str, bin or ext: the three size classes differ only in tags. */
static size_t len_header(uint8_t *h, size_t len, const uint8_t tags[3]) {
  if (len <= 0xff) return tr_mp_put_be(h, 9, tags[0], len, 1);
  if (len <= 0xffff) return tr_mp_put_be(h, 9, tags[1], len, 2);
  return tr_mp_put_be(h, 9, tags[2], len, 4);
}

int tr_pack_strn(tr_pack *pk, const char *s, size_t len) {
  if (!s && len) return fail(pk, TR_EINVAL);
  if (pk->err) return pk->err;
  if (len > UINT32_MAX) return fail(pk, TR_ETOOBIG);
  uint8_t h[9];
  size_t hl;
  if (len < 32) {
    h[0] = (uint8_t)(0xa0 | len);
    hl = 1;
  } else {
    hl = len_header(h, len, (const uint8_t[3]){0xd9, 0xda, 0xdb});
  }
  return put(pk, h, hl, s, len);
}

int tr_pack_str(tr_pack *pk, const char *s) {
  if (!s) return fail(pk, TR_EINVAL);
  return tr_pack_strn(pk, s, strlen(s));
}

int tr_pack_bin(tr_pack *pk, const void *p, size_t len) {
  if (!p && len) return fail(pk, TR_EINVAL);
  if (pk->err) return pk->err;
  if (len > UINT32_MAX) return fail(pk, TR_ETOOBIG);
  uint8_t h[9];
  return put(pk, h, len_header(h, len, (const uint8_t[3]){0xc4, 0xc5, 0xc6}), p, len);
}

int tr_pack_ext(tr_pack *pk, int8_t type, const void *p, size_t len) {
  if (!p && len) return fail(pk, TR_EINVAL);
  if (pk->err) return pk->err;
  if (len > UINT32_MAX) return fail(pk, TR_ETOOBIG);
  uint8_t h[10];
  size_t hl;
  switch (len) { /* fixext sizes have a one-byte header */
  case 1: h[0] = 0xd4; hl = 1; break;
  case 2: h[0] = 0xd5; hl = 1; break;
  case 4: h[0] = 0xd6; hl = 1; break;
  case 8: h[0] = 0xd7; hl = 1; break;
  case 16: h[0] = 0xd8; hl = 1; break;
  default: hl = len_header(h, len, (const uint8_t[3]){0xc7, 0xc8, 0xc9});
  }
  h[hl++] = (uint8_t)type;
  return put(pk, h, hl, p, len);
}

int tr_pack_array(tr_pack *pk, uint32_t n) {
  uint8_t h[5];
  return put(pk, h, tr_mp_put_array(h, sizeof h, n), NULL, 0);
}

int tr_pack_map(tr_pack *pk, uint32_t n) {
  uint8_t h[5];
  size_t hl;
  if (n < 16) {
    h[0] = (uint8_t)(0x80 | n);
    hl = 1;
  } else if (n <= 0xffff) {
    hl = tr_mp_put_be(h, sizeof h, 0xde, n, 2);
  } else {
    hl = tr_mp_put_be(h, sizeof h, 0xdf, n, 4);
  }
  return put(pk, h, hl, NULL, 0);
}

int tr_pack_raw(tr_pack *pk, const void *p, size_t len) {
  if (!p && len) return fail(pk, TR_EINVAL);
  return put(pk, NULL, 0, p, len);
}

int tr_pack_kv_str(tr_pack *pk, const char *key, const char *val) {
  int rc = tr_pack_str(pk, key);
  return rc ? rc : tr_pack_str(pk, val);
}

int tr_pack_kv_int(tr_pack *pk, const char *key, int64_t val) {
  int rc = tr_pack_str(pk, key);
  return rc ? rc : tr_pack_int(pk, val);
}

int tr_pack_error(tr_pack *pk, int code, const char *text) {
  tr_pack_map(pk, 3);
  tr_pack_str(pk, "ok");
  tr_pack_bool(pk, 0);
  tr_pack_kv_int(pk, "code", code);
  return tr_pack_kv_str(pk, "error", text ? text : "");
}
