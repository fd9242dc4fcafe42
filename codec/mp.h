/* mp.h - msgpack primitives: integers and arrays, bounds-checked.
 *
 * The runtime's own payloads (exit signals, DOWN notices) are short arrays
 * of integers; this header writes and reads exactly those without the
 * allocation a general unpacker needs. The general payload API is
 * troupe/codec.h. Writers return bytes written or 0 if out of room; readers
 * return bytes consumed or 0 on malformed or truncated input.
 */
#ifndef TR_CODEC_MP_H
#define TR_CODEC_MP_H

#include <stddef.h>
#include <stdint.h>

static inline size_t tr_mp_put_be(uint8_t *p, size_t room, uint8_t tag, uint64_t v, int bytes) {
  if (room < (size_t)bytes + 1) return 0;
  p[0] = tag;
  for (int i = 0; i < bytes; i++) p[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
  return (size_t)bytes + 1;
}

static inline size_t tr_mp_put_uint(uint8_t *p, size_t room, uint64_t v) {
  if (v < 128) {
    if (!room) return 0;
    p[0] = (uint8_t)v;
    return 1;
  }
  if (v <= 0xff) return tr_mp_put_be(p, room, 0xcc, v, 1);
  if (v <= 0xffff) return tr_mp_put_be(p, room, 0xcd, v, 2);
  if (v <= 0xffffffffu) return tr_mp_put_be(p, room, 0xce, v, 4);
  return tr_mp_put_be(p, room, 0xcf, v, 8);
}

static inline size_t tr_mp_put_int(uint8_t *p, size_t room, int64_t v) {
  if (v >= 0) return tr_mp_put_uint(p, room, (uint64_t)v);
  if (v >= -32) {
    if (!room) return 0;
    p[0] = (uint8_t)(int8_t)v;
    return 1;
  }
  if (v >= INT8_MIN) return tr_mp_put_be(p, room, 0xd0, (uint64_t)v, 1);
  if (v >= INT16_MIN) return tr_mp_put_be(p, room, 0xd1, (uint64_t)v, 2);
  if (v >= INT32_MIN) return tr_mp_put_be(p, room, 0xd2, (uint64_t)v, 4);
  return tr_mp_put_be(p, room, 0xd3, (uint64_t)v, 8);
}

static inline size_t tr_mp_put_array(uint8_t *p, size_t room, uint32_t n) {
  if (n < 16) {
    if (!room) return 0;
    p[0] = (uint8_t)(0x90 | n);
    return 1;
  }
  if (n <= 0xffff) return tr_mp_put_be(p, room, 0xdc, n, 2);
  return tr_mp_put_be(p, room, 0xdd, n, 4);
}

static inline uint64_t tr_mp_get_be(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
  return v;
}

/* Reads any msgpack integer. *is_neg tells a negative value (then *v holds
 * its two's complement bits). */
static inline size_t tr_mp_get_int(const uint8_t *p, size_t len, uint64_t *v, int *is_neg) {
  if (!len) return 0;
  uint8_t t = p[0];
  *is_neg = 0;
  if (t < 0x80) {
    *v = t;
    return 1;
  }
  if (t >= 0xe0) {
    *v = (uint64_t)(int64_t)(int8_t)t;
    *is_neg = 1;
    return 1;
  }
  int bytes;
  int sign;
  switch (t) {
  case 0xcc: bytes = 1; sign = 0; break;
  case 0xcd: bytes = 2; sign = 0; break;
  case 0xce: bytes = 4; sign = 0; break;
  case 0xcf: bytes = 8; sign = 0; break;
  case 0xd0: bytes = 1; sign = 1; break;
  case 0xd1: bytes = 2; sign = 1; break;
  case 0xd2: bytes = 4; sign = 1; break;
  case 0xd3: bytes = 8; sign = 1; break;
  default: return 0;
  }
  if (len < (size_t)bytes + 1) return 0;
  uint64_t raw = tr_mp_get_be(p + 1, bytes);
  if (sign) {
    int shift = 64 - 8 * bytes;
    int64_t s = shift ? (int64_t)(raw << shift) >> shift : (int64_t)raw;
    *v = (uint64_t)s;
    *is_neg = s < 0;
  } else {
    *v = raw;
  }
  return (size_t)bytes + 1;
}

static inline size_t tr_mp_get_array(const uint8_t *p, size_t len, uint32_t *n) {
  if (!len) return 0;
  if ((p[0] & 0xf0) == 0x90) {
    *n = p[0] & 0x0f;
    return 1;
  }
  if (p[0] == 0xdc && len >= 3) {
    *n = (uint32_t)tr_mp_get_be(p + 1, 2);
    return 3;
  }
  if (p[0] == 0xdd && len >= 5) {
    *n = (uint32_t)tr_mp_get_be(p + 1, 4);
    return 5;
  }
  return 0;
}

#endif
