/* fuzz_payload.c - the msgpack cursor on arbitrary bytes, read as a stream
 * of values.
 *
 * Each value is read twice: once with tr_unpack_skip, once value by value
 * with the typed accessors (an explicit stack, as a careful user would),
 * copying it into a tr_pack. Both must agree on the outcome and on the bytes
 * consumed; a wrong-type read must fail with TR_ETYPE and leave the cursor
 * alone; the copy must read back to itself byte for byte; find must never
 * fail on a map that skip accepted.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "troupe/codec.h"

/* A read of another type than t must fail cleanly and not move u. */
static void probe_wrong_type(tr_unpack *u, int t) {
  const uint8_t *at = u->p;
  uint32_t n;
  const char *s;
  size_t len;
  int64_t i;
  if (t != TR_MP_NIL) CHECK(tr_unpack_nil(u) == TR_ETYPE);
  if (t != TR_MP_STR) CHECK(tr_unpack_str(u, &s, &len) == TR_ETYPE);
  if (t != TR_MP_MAP) CHECK(tr_unpack_map(u, &n) == TR_ETYPE);
  if (t != TR_MP_INT) CHECK(tr_unpack_int(u, &i) == TR_ETYPE);
  CHECK(u->p == at);
}

/* Reads one value from u with typed reads and writes it to pk. */
static int copy_value(tr_unpack *u, tr_pack *pk) {
  uint64_t left[TR_UNPACK_DEPTH + 1];
  uint32_t depth = 0;
  left[0] = 1;
  for (;;) {
    int t = tr_unpack_peek(u);
    if (t < 0) return t;
    probe_wrong_type(u, t);
    const uint8_t *at = u->p;
    uint32_t n = 0;
    switch (t) {
    case TR_MP_NIL:
      CHECK(tr_unpack_nil(u) == 0);
      tr_pack_nil(pk);
      break;
    case TR_MP_BOOL: {
      int b;
      CHECK(tr_unpack_bool(u, &b) == 0 && (b == 0 || b == 1));
      tr_pack_bool(pk, b);
      break;
    }
    case TR_MP_INT: {
      int64_t i;
      uint64_t v;
      int rc = tr_unpack_int(u, &i);
      if (rc == TR_ERANGE) { /* only uint64 above INT64_MAX */
        CHECK(u->p == at);
        CHECK(tr_unpack_uint(u, &v) == 0 && v > (uint64_t)INT64_MAX);
        tr_pack_uint(pk, v);
      } else {
        CHECK(rc == 0);
        tr_unpack c = *u;
        c.p = at;
        CHECK(tr_unpack_uint(&c, &v) == (i < 0 ? TR_ERANGE : 0));
        if (i >= 0) CHECK(v == (uint64_t)i && c.p == u->p);
        tr_pack_int(pk, i);
      }
      break;
    }
    case TR_MP_FLOAT: {
      double d;
      CHECK(tr_unpack_double(u, &d) == 0);
      /* float32 is widened: copy the bytes so the copy stays exact */
      tr_pack_raw(pk, at, (size_t)(u->p - at));
      break;
    }
    case TR_MP_STR: {
      const char *s;
      size_t len;
      char small[16];
      tr_unpack c = *u;
      int rc = tr_unpack_str_copy(&c, small, sizeof small);
      CHECK(tr_unpack_str(u, &s, &len) == 0);
      CHECK(s >= (const char *)at && s + len <= (const char *)u->end);
      if (len < sizeof small)
        CHECK(rc == 0 && memcmp(small, s, len) == 0 && small[len] == 0 && c.p == u->p);
      else
        CHECK(rc == TR_ETOOBIG && c.p == at);
      tr_pack_strn(pk, s, len);
      break;
    }
    case TR_MP_BIN: {
      const void *p;
      size_t len;
      CHECK(tr_unpack_bin(u, &p, &len) == 0);
      CHECK((const uint8_t *)p + len <= u->end);
      tr_pack_bin(pk, p, len);
      break;
    }
    case TR_MP_EXT: {
      const void *p;
      size_t len;
      int8_t et;
      CHECK(tr_unpack_ext(u, &et, &p, &len) == 0);
      CHECK((const uint8_t *)p + len <= u->end);
      tr_pack_ext(pk, et, p, len);
      break;
    }
    case TR_MP_ARRAY:
      CHECK(tr_unpack_array(u, &n) == 0);
      tr_pack_array(pk, n);
      break;
    case TR_MP_MAP:
      CHECK(tr_unpack_map(u, &n) == 0);
      tr_pack_map(pk, n);
      break;
    default:
      CHECK(0);
    }
    CHECK(u->p > at && u->p <= u->end);
    left[depth]--;
    if (t == TR_MP_ARRAY || t == TR_MP_MAP) {
      if (depth >= TR_UNPACK_DEPTH) return TR_ETOOBIG;
      if (n) left[++depth] = t == TR_MP_MAP ? 2 * (uint64_t)n : n;
    }
    while (!left[depth]) {
      if (!depth) return 0;
      depth--;
    }
  }
}

static void check_find(const tr_unpack *u, const char *key) {
  tr_unpack v;
  int rc = tr_unpack_find(u, key, &v);
  CHECK(rc == 0 || rc == TR_ENOENT); /* the map as a whole was accepted */
  if (rc == 0) {
    CHECK(v.p > u->p && v.p < u->end);
    CHECK(tr_unpack_skip(&v) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tr_unpack u;
  tr_unpack_init(&u, data, size);
  for (int values = 0; values < 64 && tr_unpack_left(&u); values++) {
    tr_unpack s = u;
    int rs = tr_unpack_skip(&s);
    CHECK(rs == 0 || rs == TR_EPROTO || rs == TR_ETOOBIG);
    if (rs < 0) CHECK(s.p == u.p);

    tr_pack pk = TR_PACK_INIT;
    tr_unpack c = u;
    int rc = copy_value(&c, &pk);
    CHECK(rc == rs);
    CHECK(pk.err == 0);
    if (rc < 0) {
      tr_pack_free(&pk);
      break;
    }
    CHECK(c.p == s.p);

    const void *raw;
    size_t raw_len;
    tr_unpack r = u;
    CHECK(tr_unpack_raw(&r, &raw, &raw_len) == 0);
    CHECK(raw == (const void *)u.p && raw_len == (size_t)(s.p - u.p));

    if (tr_unpack_peek(&u) == TR_MP_MAP) {
      check_find(&u, "");
      check_find(&u, "a");
      check_find(&u, "name");
    }

    /* the copy is canonical: it reads back whole, and copying it again
     * gives the same bytes */
    tr_unpack cu;
    tr_unpack_init(&cu, pk.data, pk.len);
    tr_pack again = TR_PACK_INIT;
    CHECK(copy_value(&cu, &again) == 0);
    CHECK(tr_unpack_left(&cu) == 0);
    CHECK(again.len == pk.len && memcmp(again.data, pk.data, pk.len) == 0);
    tr_pack_free(&again);
    tr_pack_free(&pk);
    u = s;
  }
  return 0;
}
