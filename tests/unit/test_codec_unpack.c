/* test_codec_unpack.c - the msgpack cursor: every type and integer encoding,
 * wrong types and ranges, truncation at every byte offset, depth bombs and
 * lying counts, find, and a randomized comparison with msgpack-c's unpacker
 * (fixed seed) on values it packs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/troupe.h"

#define CUR(u, lit) tr_unpack u; tr_unpack_init(&u, lit, sizeof(lit) - 1)

static void test_scalars(void **st) {
  CUR(u, "\xc0\xc2\xc3\xcb\x3f\xf8\0\0\0\0\0\0\xca\x3f\xc0\0\0\x05");
  int b;
  double d;
  assert_int_equal(tr_unpack_peek(&u), TR_MP_NIL);
  assert_int_equal(tr_unpack_nil(&u), 0);
  assert_int_equal(tr_unpack_bool(&u, &b), 0);
  assert_int_equal(b, 0);
  assert_int_equal(tr_unpack_bool(&u, &b), 0);
  assert_int_equal(b, 1);
  assert_int_equal(tr_unpack_peek(&u), TR_MP_FLOAT);
  assert_int_equal(tr_unpack_double(&u, &d), 0);
  assert_true(d == 1.5);
  assert_int_equal(tr_unpack_double(&u, &d), 0); /* float32 */
  assert_true(d == 1.5);
  assert_int_equal(tr_unpack_double(&u, &d), 0); /* an integer, converted */
  assert_true(d == 5.0);
  assert_int_equal(tr_unpack_left(&u), 0);
  assert_int_equal(tr_unpack_peek(&u), TR_EPROTO); /* at the end */
  assert_int_equal(tr_unpack_nil(&u), TR_EPROTO);
}

/* Every encoding of an integer reads, minimal or not. */
static void test_int_encodings(void **st) {
  static const struct {
    const char *bytes;
    size_t len;
    int64_t v;
  } cases[] = {
      {"\x05", 1, 5},
      {"\xcc\x05", 2, 5},
      {"\xcd\x00\x05", 3, 5},
      {"\xce\x00\x00\x00\x05", 5, 5},
      {"\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 9, 5},
      {"\xd0\x05", 2, 5},
      {"\xd1\x00\x05", 3, 5},
      {"\xd2\x00\x00\x00\x05", 5, 5},
      {"\xd3\x00\x00\x00\x00\x00\x00\x00\x05", 9, 5},
      {"\xfb", 1, -5},
      {"\xd0\xfb", 2, -5},
      {"\xd1\xff\xfb", 3, -5},
      {"\xd2\xff\xff\xff\xfb", 5, -5},
      {"\xd3\xff\xff\xff\xff\xff\xff\xff\xfb", 9, -5},
      {"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, INT64_MIN},
      {"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, INT64_MAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tr_unpack u;
    tr_unpack_init(&u, cases[i].bytes, cases[i].len);
    int64_t v;
    assert_int_equal(tr_unpack_peek(&u), TR_MP_INT);
    assert_int_equal(tr_unpack_int(&u, &v), 0);
    assert_int_equal(v, cases[i].v);
    assert_int_equal(tr_unpack_left(&u), 0);
    tr_unpack_init(&u, cases[i].bytes, cases[i].len);
    uint64_t uv;
    assert_int_equal(tr_unpack_uint(&u, &uv), cases[i].v < 0 ? TR_ERANGE : 0);
    if (cases[i].v >= 0) assert_int_equal(uv, (uint64_t)cases[i].v);
  }
}

static void test_int_ranges(void **st) {
  int64_t i;
  uint64_t v;
  CUR(big, "\xcf\x80\x00\x00\x00\x00\x00\x00\x00"); /* 2^63 */
  assert_int_equal(tr_unpack_int(&big, &i), TR_ERANGE);
  assert_int_equal(tr_unpack_left(&big), 9); /* not moved */
  assert_int_equal(tr_unpack_uint(&big, &v), 0);
  assert_true(v == (1ull << 63));
  CUR(neg, "\xff");
  assert_int_equal(tr_unpack_uint(&neg, &v), TR_ERANGE);
  assert_int_equal(tr_unpack_left(&neg), 1);
  CUR(neg16, "\xd1\x80\x00");
  assert_int_equal(tr_unpack_uint(&neg16, &v), TR_ERANGE);
}

static void test_strings_and_bins(void **st) {
  CUR(u, "\xa3" "abc" "\xd9\x02" "de" "\xc4\x03\x00\x01\x02" "\xd6\x07" "wxyz" "\xa0");
  const char *s;
  size_t len;
  const void *p;
  int8_t et;
  assert_int_equal(tr_unpack_str(&u, &s, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(s, "abc", 3);
  char small[3], big[8];
  assert_int_equal(tr_unpack_str_copy(&u, small, sizeof small), 0); /* "de" + NUL fits */
  assert_string_equal(small, "de");
  assert_int_equal(tr_unpack_bin(&u, &p, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(p, "\x00\x01\x02", 3);
  assert_int_equal(tr_unpack_ext(&u, &et, &p, &len), 0);
  assert_int_equal(et, 7);
  assert_int_equal(len, 4);
  assert_memory_equal(p, "wxyz", 4);
  assert_int_equal(tr_unpack_str_copy(&u, big, sizeof big), 0);
  assert_string_equal(big, "");
  CUR(v, "\xa3" "abc");
  assert_int_equal(tr_unpack_str_copy(&v, small, sizeof small), TR_ETOOBIG);
  assert_int_equal(tr_unpack_left(&v), 4);
  /* zero-copy: pointers point into the input */
  assert_int_equal(tr_unpack_str(&v, &s, &len), 0);
  assert_ptr_equal(s, (const char *)v.p - 3);
}

/* Samples of each type, and every typed read on each: only the matching
 * read succeeds; the others fail with TR_ETYPE without moving. */
static void test_wrong_types(void **st) {
  static const struct {
    const char *b;
    size_t n;
    int type;
  } s[] = {
      {"\xc0", 1, TR_MP_NIL},        {"\xc3", 1, TR_MP_BOOL},   {"\x01", 1, TR_MP_INT},
      {"\xca\0\0\0\0", 5, TR_MP_FLOAT}, {"\xa1x", 2, TR_MP_STR}, {"\xc4\x01x", 3, TR_MP_BIN},
      {"\x91\x01", 2, TR_MP_ARRAY},  {"\x81\x01\x02", 3, TR_MP_MAP}, {"\xd4\x01\x02", 3, TR_MP_EXT},
  };
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    tr_unpack u;
    tr_unpack_init(&u, s[i].b, s[i].n);
    int t = s[i].type;
    assert_int_equal(tr_unpack_peek(&u), t);
    int b;
    int64_t iv;
    uint64_t uv;
    double d;
    const char *str;
    const void *p;
    size_t len;
    uint32_t cnt;
    int8_t et;
    char buf[8];
    tr_unpack v;
#define WANT(tt) (t == (tt) ? 0 : TR_ETYPE)
    assert_int_equal(tr_unpack_nil(&u), WANT(TR_MP_NIL));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_bool(&u, &b), WANT(TR_MP_BOOL));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_int(&u, &iv), WANT(TR_MP_INT));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_uint(&u, &uv), WANT(TR_MP_INT));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_double(&u, &d), t == TR_MP_INT ? 0 : WANT(TR_MP_FLOAT));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_str(&u, &str, &len), WANT(TR_MP_STR));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_str_copy(&u, buf, sizeof buf), WANT(TR_MP_STR));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_bin(&u, &p, &len), WANT(TR_MP_BIN));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_ext(&u, &et, &p, &len), WANT(TR_MP_EXT));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_array(&u, &cnt), WANT(TR_MP_ARRAY));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_map(&u, &cnt), WANT(TR_MP_MAP));
    tr_unpack_init(&u, s[i].b, s[i].n);
    assert_int_equal(tr_unpack_find(&u, "x", &v), t == TR_MP_MAP ? TR_ENOENT : TR_ETYPE);
#undef WANT
    /* a failed read leaves the cursor: skip still sees the whole value */
    assert_int_equal(tr_unpack_skip(&u), 0);
    assert_int_equal(tr_unpack_left(&u), 0);
  }
}

/* A document with every type, for the truncation sweep. */
static tr_pack sample_doc(void) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_kv_str(&pk, "name", "a string longer than thirty-one bytes, so str8");
  tr_pack_kv_int(&pk, "n", -123456789012);
  tr_pack_str(&pk, "list");
  tr_pack_array(&pk, 6);
  tr_pack_nil(&pk);
  tr_pack_bool(&pk, 1);
  tr_pack_double(&pk, 3.25);
  tr_pack_bin(&pk, "\x01\x02\x03", 3);
  tr_pack_ext(&pk, 5, "abcdefgh", 8);
  tr_pack_map(&pk, 0);
  tr_pack_uint(&pk, 77);
  tr_pack_uint(&pk, UINT64_MAX);
  assert_int_equal(pk.err, 0);
  return pk;
}

/* Each prefix goes into a buffer of exactly its size, so ASan catches a
 * read one byte past it. */
static void test_truncated_everywhere(void **st) {
  tr_pack pk = sample_doc();
  for (size_t cut = 0; cut < pk.len; cut++) {
    uint8_t *b = malloc(cut ? cut : 1);
    memcpy(b, pk.data, cut);
    tr_unpack u;
    tr_unpack_init(&u, b, cut);
    assert_int_equal(tr_unpack_skip(&u), TR_EPROTO);
    assert_int_equal(tr_unpack_left(&u), cut);
    tr_unpack v;
    int rc = tr_unpack_find(&u, "zzz", &v); /* scans the whole map */
    assert_true(rc == TR_EPROTO);
    free(b);
  }
  tr_unpack u;
  tr_unpack_init(&u, pk.data, pk.len);
  assert_int_equal(tr_unpack_skip(&u), 0);
  assert_int_equal(tr_unpack_left(&u), 0);
  tr_pack_free(&pk);
}

static void test_malformed_and_lies(void **st) {
  CUR(c1, "\xc1");
  assert_int_equal(tr_unpack_peek(&c1), TR_EPROTO);
  assert_int_equal(tr_unpack_skip(&c1), TR_EPROTO);
  CUR(arr, "\xdd\xff\xff\xff\xff\x01\x02"); /* 4 billion items, 2 present */
  assert_int_equal(tr_unpack_skip(&arr), TR_EPROTO);
  CUR(map, "\xdf\xff\xff\xff\xff\xa1x");
  assert_int_equal(tr_unpack_skip(&map), TR_EPROTO);
  tr_unpack v;
  assert_int_equal(tr_unpack_find(&map, "y", &v), TR_EPROTO);
  CUR(str, "\xdb\xff\xff\xff\xff" "abc");
  const char *s;
  size_t len;
  assert_int_equal(tr_unpack_str(&str, &s, &len), TR_EPROTO);
  assert_int_equal(tr_unpack_left(&str), 8);
  CUR(ext, "\xc7\x01"); /* ext8 without its type byte */
  assert_int_equal(tr_unpack_skip(&ext), TR_EPROTO);
  tr_unpack none;
  tr_unpack_init(&none, NULL, 5); /* no buffer: empty */
  assert_int_equal(tr_unpack_left(&none), 0);
  assert_int_equal(tr_unpack_skip(&none), TR_EPROTO);
}

/* n nested arrays, the innermost empty (or holding 1 when leaf). */
static uint8_t *nest(size_t n, int leaf, size_t *len) {
  uint8_t *b = malloc(n + 1);
  memset(b, 0x91, n);
  b[n - 1] = leaf ? 0x91 : 0x90;
  b[n] = 0x01;
  *len = leaf ? n + 1 : n;
  return b;
}

static void test_depth(void **st) {
  size_t len;
  uint8_t *b = nest(TR_UNPACK_DEPTH, 0, &len);
  tr_unpack u;
  tr_unpack_init(&u, b, len);
  assert_int_equal(tr_unpack_skip(&u), 0);
  free(b);
  b = nest(TR_UNPACK_DEPTH + 1, 0, &len); /* the empty one is level 65 */
  tr_unpack_init(&u, b, len);
  assert_int_equal(tr_unpack_skip(&u), TR_ETOOBIG);
  assert_int_equal(tr_unpack_left(&u), len);
  u.max_depth = TR_UNPACK_DEPTH + 1;
  assert_int_equal(tr_unpack_skip(&u), 0);
  free(b);
  b = nest(1000000, 1, &len); /* a bomb: refused at level 65, at once */
  tr_unpack_init(&u, b, len);
  assert_int_equal(tr_unpack_skip(&u), TR_ETOOBIG);
  u.max_depth = TR_UNPACK_DEPTH_MAX;
  assert_int_equal(tr_unpack_skip(&u), TR_ETOOBIG);
  u.max_depth = TR_UNPACK_DEPTH_MAX + 1;
  assert_int_equal(tr_unpack_skip(&u), TR_EINVAL);
  free(b);
  /* maps count too: {"a": {"a": ...}} */
  tr_pack pk = TR_PACK_INIT;
  for (int i = 0; i < 70; i++) {
    tr_pack_map(&pk, 1);
    tr_pack_str(&pk, "a");
  }
  tr_pack_nil(&pk);
  tr_unpack_init(&u, pk.data, pk.len);
  assert_int_equal(tr_unpack_skip(&u), TR_ETOOBIG);
  u.max_depth = 70;
  assert_int_equal(tr_unpack_skip(&u), 0);
  tr_pack_free(&pk);
}

static void test_find(void **st) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 6);
  tr_pack_int(&pk, 1); /* a non-string key, skipped */
  tr_pack_str(&pk, "name");
  tr_pack_str(&pk, "list");
  tr_pack_array(&pk, 2);
  tr_pack_int(&pk, 1);
  tr_pack_map(&pk, 0);
  tr_pack_kv_str(&pk, "name", "first");
  tr_pack_kv_str(&pk, "name", "second");
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "pi");
  tr_pack_double(&pk, 3.5);
  tr_unpack u;
  tr_unpack_init(&u, pk.data, pk.len);
  const char *s;
  size_t len;
  assert_int_equal(tr_unpack_find_str(&u, "name", &s, &len), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(s, "first", 5); /* the first key wins */
  int b;
  double d;
  int64_t i;
  uint64_t v;
  assert_int_equal(tr_unpack_find_bool(&u, "ok", &b), 0);
  assert_int_equal(b, 1);
  assert_int_equal(tr_unpack_find_double(&u, "pi", &d), 0);
  assert_true(d == 3.5);
  assert_int_equal(tr_unpack_find_int(&u, "ok", &i), TR_ETYPE);
  assert_int_equal(tr_unpack_find_uint(&u, "missing", &v), TR_ENOENT);
  assert_int_equal(tr_unpack_find(&u, NULL, &u), TR_EINVAL);
  tr_unpack list;
  assert_int_equal(tr_unpack_find(&u, "list", &list), 0);
  uint32_t n;
  assert_int_equal(tr_unpack_array(&list, &n), 0);
  assert_int_equal(n, 2);
  assert_ptr_equal(u.p, pk.data); /* find does not move the map cursor */
  const void *raw;
  assert_int_equal(tr_unpack_raw(&u, &raw, &len), 0);
  assert_ptr_equal(raw, pk.data);
  assert_int_equal(len, pk.len);
  tr_pack_free(&pk);
}

/* -------------------------------------------------- against msgpack-c */

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static void gen(msgpack_packer *mp, int depth) {
  static const char text[] = "the quick brown fox jumps over the lazy dog, again and again";
  size_t len = rnd() % sizeof text;
  uint64_t v = rnd() >> (rnd() % 64);
  switch ((int)(rnd() % (depth < 5 ? 12 : 9))) {
  case 0: msgpack_pack_nil(mp); break;
  case 1: if (v & 1) msgpack_pack_true(mp); else msgpack_pack_false(mp); break;
  case 2: msgpack_pack_uint64(mp, v); break;
  case 3: msgpack_pack_int64(mp, -(int64_t)(v >> 1)); break;
  case 4: msgpack_pack_double(mp, (double)v / 3.0); break;
  case 5: msgpack_pack_float(mp, (float)v / 3.0f); break;
  case 6: msgpack_pack_str_with_body(mp, text, len); break;
  case 7: msgpack_pack_bin_with_body(mp, text, len); break;
  case 8: msgpack_pack_ext_with_body(mp, text, len, (int8_t)v); break;
  case 9: case 10: {
    uint32_t n = (uint32_t)(rnd() % 18);
    msgpack_pack_array(mp, n);
    for (uint32_t i = 0; i < n; i++) gen(mp, depth + 1);
    break;
  }
  default: {
    uint32_t n = (uint32_t)(rnd() % 18);
    msgpack_pack_map(mp, n);
    for (uint32_t i = 0; i < 2 * n; i++) gen(mp, depth + 1);
  }
  }
}

/* Reads one value with the cursor and compares it with msgpack-c's object. */
static void compare(tr_unpack *u, const msgpack_object *o) {
  const char *s;
  const void *p;
  size_t len;
  uint32_t n;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: assert_int_equal(tr_unpack_nil(u), 0); break;
  case MSGPACK_OBJECT_BOOLEAN: {
    int b;
    assert_int_equal(tr_unpack_bool(u, &b), 0);
    assert_int_equal(b, o->via.boolean);
    break;
  }
  case MSGPACK_OBJECT_POSITIVE_INTEGER: {
    uint64_t v;
    assert_int_equal(tr_unpack_uint(u, &v), 0);
    assert_true(v == o->via.u64);
    break;
  }
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
    int64_t v;
    assert_int_equal(tr_unpack_int(u, &v), 0);
    assert_true(v == o->via.i64);
    break;
  }
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: {
    double d;
    assert_int_equal(tr_unpack_double(u, &d), 0);
    assert_true(d == o->via.f64);
    break;
  }
  case MSGPACK_OBJECT_STR:
    assert_int_equal(tr_unpack_str(u, &s, &len), 0);
    assert_int_equal(len, o->via.str.size);
    assert_memory_equal(s, o->via.str.ptr, len);
    break;
  case MSGPACK_OBJECT_BIN:
    assert_int_equal(tr_unpack_bin(u, &p, &len), 0);
    assert_int_equal(len, o->via.bin.size);
    assert_memory_equal(p, o->via.bin.ptr, len);
    break;
  case MSGPACK_OBJECT_EXT: {
    int8_t et;
    assert_int_equal(tr_unpack_ext(u, &et, &p, &len), 0);
    assert_int_equal(et, o->via.ext.type);
    assert_int_equal(len, o->via.ext.size);
    assert_memory_equal(p, o->via.ext.ptr, len);
    break;
  }
  case MSGPACK_OBJECT_ARRAY:
    assert_int_equal(tr_unpack_array(u, &n), 0);
    assert_int_equal(n, o->via.array.size);
    for (uint32_t i = 0; i < n; i++) compare(u, &o->via.array.ptr[i]);
    break;
  case MSGPACK_OBJECT_MAP:
    assert_int_equal(tr_unpack_map(u, &n), 0);
    assert_int_equal(n, o->via.map.size);
    for (uint32_t i = 0; i < n; i++) {
      compare(u, &o->via.map.ptr[i].key);
      compare(u, &o->via.map.ptr[i].val);
    }
    break;
  default: fail();
  }
}

/* The platform actors' answer shape: round trip, and what is not one. */
static void test_reply_status(void **st) {
  (void)st;
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_pack_error(&pk, TR_ENOENT, "no such job"), 0);
  assert_int_equal(tr_reply_status(pk.data, pk.len), TR_ENOENT);
  tr_pack_reset(&pk);
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_kv_str(&pk, "id", "x");
  assert_int_equal(tr_reply_status(pk.data, pk.len), 0);
  /* not an answer: no ok, ok of another type, a failure without a code or
   * with a code that is no TR_E*, not a map, truncated, empty */
  static const struct {
    const char *bytes;
    size_t len;
  } bad[] = {
      {"\x80", 1},
      {"\x81\xa2ok\x01", 5},
      {"\x81\xa2ok\xc2", 5},
      {"\x82\xa2ok\xc2\xa4" "code\x05", 11},
      {"\x82\xa2ok\xc2\xa4" "code\xd1\xfc\x00", 13},
      {"\x91\xc3", 2},
      {"\x81\xa2o", 3},
      {"", 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(tr_reply_status(bad[i].bytes, bad[i].len), TR_EPROTO);
  tr_pack_free(&pk);
}

static void test_random_against_msgpack_c(void **st) {
  for (int round = 0; round < 500; round++) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer mp;
    msgpack_packer_init(&mp, &sb, msgpack_sbuffer_write);
    gen(&mp, 0);
    msgpack_unpacked res;
    msgpack_unpacked_init(&res);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&res, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    tr_unpack u;
    tr_unpack_init(&u, sb.data, sb.size);
    compare(&u, &res.data);
    assert_int_equal(tr_unpack_left(&u), 0);
    tr_unpack_init(&u, sb.data, sb.size);
    assert_int_equal(tr_unpack_skip(&u), 0);
    assert_int_equal(tr_unpack_left(&u), 0);
    msgpack_unpacked_destroy(&res);
    msgpack_sbuffer_destroy(&sb);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_int_encodings),
      cmocka_unit_test(test_int_ranges),
      cmocka_unit_test(test_strings_and_bins),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_malformed_and_lies),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_reply_status),
      cmocka_unit_test(test_random_against_msgpack_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
