/* fuzz_multipart.c - libFuzzer target: multipart/form-data bodies
 * (actors/camunda/multipart.c), as deployment/create gets them.
 *
 * The first input byte picks the boundary's length (1..16) and the next
 * bytes are the boundary; the rest is the body. Invariants:
 *  - no crash, leak or overread (the sanitizers);
 *  - every part lies inside the body, in order, without overlap, and is
 *    followed by a delimiter; every name is inside the body;
 *  - a Content-Type built around the boundary gives that boundary back.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "actors/camunda/multipart.h"
#include "fuzz_check.h"
#include "troupe/error.h"

static int inside(const uint8_t *b, size_t len, const void *p, size_t n) {
  const uint8_t *q = p;
  return q >= b && q + n <= b + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t bl = (size_t)(data[0] % 16) + 1;
  if (size < 1 + bl) return 0;
  const char *boundary = (const char *)data + 1;
  const uint8_t *body = data + 1 + bl;
  size_t len = size - 1 - bl;
  tr_mp_part parts[8];
  size_t n = 0;
  int rc = tr_mp_parse(body, len, boundary, bl, parts, 8, &n);
  CHECK(rc == 0 || rc == TR_EPROTO || rc == TR_ETOOBIG);
  CHECK(n <= 8);
  const uint8_t *last = body;
  for (size_t i = 0; i < n; i++) {
    const tr_mp_part *p = &parts[i];
    CHECK(inside(body, len, p->data, p->len));
    CHECK(p->data >= last);
    last = p->data + p->len;
    CHECK(len - (size_t)(last - body) >= bl + 4);
    CHECK(!memcmp(last, "\r\n--", 4) && !memcmp(last + 4, boundary, bl));
    CHECK(p->name && p->name_len && inside(body, len, p->name, p->name_len));
    if (p->filename) CHECK(inside(body, len, p->filename, p->filename_len));
    if (p->content_type) CHECK(inside(body, len, p->content_type, p->content_type_len));
  }
  /* the boundary as a Content-Type parameter, when it is a plain token */
  int plain = 1;
  for (size_t i = 0; i < bl; i++)
    plain &= boundary[i] > ' ' && boundary[i] < 127 && boundary[i] != ';' && boundary[i] != '"' &&
             boundary[i] != '=';
  if (plain) {
    char ct[64];
    int k = snprintf(ct, sizeof ct, "multipart/form-data; boundary=%.*s", (int)bl, boundary);
    const char *b;
    size_t n2;
    CHECK(tr_mp_boundary(ct, (size_t)k, &b, &n2) == 0);
    CHECK(n2 == bl && !memcmp(b, boundary, bl));
  }
  return 0;
}
