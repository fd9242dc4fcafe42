/* sha1.c - SHA-1 as FIPS 180-4 section 6.1 describes it: 512-bit blocks,
 * an 80-word schedule, four rounds of 20 steps. Written from the standard;
 * the test vectors of FIPS 180-4's examples are in tests/unit/test_ws.c. */
#include <sodium.h>
#include <string.h>

#include "actors/http/sha1.h"

static uint32_t rol(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
           (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
  for (int t = 16; t < 80; t++) w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; t++) {
    uint32_t f, k;
    if (t < 20) f = (b & c) | (~b & d), k = 0x5a827999u;
    else if (t < 40) f = b ^ c ^ d, k = 0x6ed9eba1u;
    else if (t < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdcu;
    else f = b ^ c ^ d, k = 0xca62c1d6u;
    uint32_t tmp = rol(a, 5) + f + e + k + w[t];
    e = d, d = c, c = rol(b, 30), b = a, a = tmp;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void tr_sha1(const void *data, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
  const uint8_t *p = data;
  size_t left = len;
  for (; left >= 64; p += 64, left -= 64) block(h, p);
  /* padding: 0x80, zeros, the length in bits as 64-bit big-endian */
  uint8_t tail[128] = {0};
  memcpy(tail, p, left);
  tail[left] = 0x80;
  size_t tlen = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
  block(h, tail);
  if (tlen == 128) block(h, tail + 64);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24), out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8), out[4 * i + 3] = (uint8_t)h[i];
  }
}

void tr_ws_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char buf[128 + sizeof guid];
  if (key_len > 128) key_len = 128; /* a valid key is 24 bytes; the caller checks */
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, guid, sizeof guid - 1);
  uint8_t d[20];
  tr_sha1(buf, key_len + sizeof guid - 1, d);
  sodium_bin2base64(out, 29, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
}
