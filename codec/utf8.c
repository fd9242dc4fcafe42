/* utf8.c - strict UTF-8 validation (see utf8.h). */
#include "codec/utf8.h"

size_t tr_utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0; /* overlong below U+0800 */
    if (c == 0xed) hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90; /* overlong below U+10000 */
    if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
  } else {
    return 0; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5.. */
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return len;
}

int tr_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) { /* ASCII runs are the common case */
      i++;
      continue;
    }
    size_t k = tr_utf8_seq(s + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}
