/* test_codec_pack.c - the msgpack writer: exact bytes of every encoding and
 * size class, sticky errors, fixed buffers, growth limits, ownership; and a
 * randomized comparison with msgpack-c's packer (fixed seed), which writes
 * the same minimal encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/troupe.h"

/* pk's bytes equal the hex string want (spaces ignored). */
static void assert_bytes(const tr_pack *pk, const char *want) {
  uint8_t buf[64];
  size_t n = 0;
  for (const char *c = want; *c; c++) {
    if (*c == ' ') continue;
    unsigned v;
    assert_int_equal(sscanf(c, "%2x", &v), 1);
    buf[n++] = (uint8_t)v;
    c++;
  }
  assert_int_equal(pk->err, 0);
  assert_int_equal(pk->len, n);
  assert_memory_equal(pk->data, buf, n);
}

#define EXPECT(call, hex)                                                         \
  do {                                                                            \
    tr_pack pk_ = TR_PACK_INIT;                                                   \
    tr_pack *pk = &pk_;                                                           \
    assert_int_equal(call, 0);                                                    \
    assert_bytes(pk, hex);                                                        \
    tr_pack_free(pk);                                                             \
  } while (0)

static void test_scalars(void **st) {
  EXPECT(tr_pack_nil(pk), "c0");
  EXPECT(tr_pack_bool(pk, 0), "c2");
  EXPECT(tr_pack_bool(pk, 7), "c3");
  EXPECT(tr_pack_double(pk, 1.5), "cb 3ff8000000000000");
  EXPECT(tr_pack_double(pk, -0.0), "cb 8000000000000000");
}

static void test_int_boundaries(void **st) {
  EXPECT(tr_pack_uint(pk, 0), "00");
  EXPECT(tr_pack_uint(pk, 127), "7f");
  EXPECT(tr_pack_uint(pk, 128), "cc80");
  EXPECT(tr_pack_uint(pk, 255), "ccff");
  EXPECT(tr_pack_uint(pk, 256), "cd0100");
  EXPECT(tr_pack_uint(pk, 65535), "cdffff");
  EXPECT(tr_pack_uint(pk, 65536), "ce00010000");
  EXPECT(tr_pack_uint(pk, UINT32_MAX), "ceffffffff");
  EXPECT(tr_pack_uint(pk, (uint64_t)UINT32_MAX + 1), "cf0000000100000000");
  EXPECT(tr_pack_uint(pk, UINT64_MAX), "cfffffffffffffffff");
  EXPECT(tr_pack_int(pk, 5), "05");
  EXPECT(tr_pack_int(pk, INT64_MAX), "cf7fffffffffffffff");
  EXPECT(tr_pack_int(pk, -1), "ff");
  EXPECT(tr_pack_int(pk, -32), "e0");
  EXPECT(tr_pack_int(pk, -33), "d0df");
  EXPECT(tr_pack_int(pk, -128), "d080");
  EXPECT(tr_pack_int(pk, -129), "d1ff7f");
  EXPECT(tr_pack_int(pk, -32768), "d18000");
  EXPECT(tr_pack_int(pk, -32769), "d2ffff7fff");
  EXPECT(tr_pack_int(pk, INT32_MIN), "d280000000");
  EXPECT(tr_pack_int(pk, (int64_t)INT32_MIN - 1), "d3ffffffff7fffffff");
  EXPECT(tr_pack_int(pk, INT64_MIN), "d38000000000000000");
}

/* Header bytes of a str/bin/ext of each size class. */
static void check_len_class(int kind, size_t len, const char *hdr_hex) {
  uint8_t *body = calloc(len ? len : 1, 1);
  assert_non_null(body);
  tr_pack pk = TR_PACK_INIT;
  int rc = kind == 0   ? tr_pack_strn(&pk, (const char *)body, len)
           : kind == 1 ? tr_pack_bin(&pk, body, len)
                       : tr_pack_ext(&pk, -3, body, len);
  assert_int_equal(rc, 0);
  size_t hl = strlen(hdr_hex) / 2;
  assert_int_equal(pk.len, hl + len);
  tr_pack hdr = {.data = pk.data, .len = hl, .cap = hl};
  assert_bytes(&hdr, hdr_hex);
  tr_pack_free(&pk);
  free(body);
}

static void test_length_classes(void **st) {
  check_len_class(0, 0, "a0");
  check_len_class(0, 31, "bf");
  check_len_class(0, 32, "d920");
  check_len_class(0, 255, "d9ff");
  check_len_class(0, 256, "da0100");
  check_len_class(0, 65535, "daffff");
  check_len_class(0, 65536, "db00010000");
  check_len_class(1, 0, "c400");
  check_len_class(1, 255, "c4ff");
  check_len_class(1, 256, "c50100");
  check_len_class(1, 65536, "c600010000");
  check_len_class(2, 1, "d4fd");
  check_len_class(2, 2, "d5fd");
  check_len_class(2, 4, "d6fd");
  check_len_class(2, 8, "d7fd");
  check_len_class(2, 16, "d8fd");
  check_len_class(2, 0, "c700fd");
  check_len_class(2, 3, "c703fd");
  check_len_class(2, 256, "c80100fd");
  check_len_class(2, 65536, "c900010000fd");
}

static void test_containers(void **st) {
  EXPECT(tr_pack_array(pk, 0), "90");
  EXPECT(tr_pack_array(pk, 15), "9f");
  EXPECT(tr_pack_array(pk, 16), "dc0010");
  EXPECT(tr_pack_array(pk, 65536), "dd00010000");
  EXPECT(tr_pack_map(pk, 0), "80");
  EXPECT(tr_pack_map(pk, 15), "8f");
  EXPECT(tr_pack_map(pk, 16), "de0010");
  EXPECT(tr_pack_map(pk, UINT32_MAX), "dfffffffff");
}

/* The example of troupe/codec.h, byte for byte. */
static void test_kv_example(void **st) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_kv_str(&pk, "name", "x");
  tr_pack_kv_int(&pk, "n", 3);
  assert_bytes(&pk, "82 a46e616d65 a178 a16e 03");
  tr_pack_free(&pk);
}

static void test_fixed_buffer_sticky(void **st) {
  uint8_t buf[4];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  assert_int_equal(tr_pack_uint(&pk, 1000), 0); /* 3 bytes */
  assert_int_equal(tr_pack_uint(&pk, 1000), TR_ETOOBIG);
  assert_int_equal(pk.len, 3); /* no partial value */
  assert_int_equal(pk.err, TR_ETOOBIG);
  assert_int_equal(tr_pack_nil(&pk), TR_ETOOBIG); /* would fit, but sticky */
  assert_int_equal(tr_pack_str(&pk, NULL), TR_ETOOBIG); /* first error kept */
  assert_int_equal(pk.len, 3);
  size_t len;
  assert_null(tr_pack_detach(&pk, &len)); /* never hands out the caller's buffer */
  tr_pack_reset(&pk);
  assert_int_equal(tr_pack_nil(&pk), 0);
  assert_int_equal(buf[0], 0xc0);
  tr_pack_free(&pk); /* must not free buf */
  tr_pack z;
  tr_pack_init_fixed(&z, NULL, 10);
  assert_int_equal(tr_pack_nil(&z), TR_ETOOBIG);
}

static void test_max_and_args(void **st) {
  tr_pack pk = TR_PACK_INIT;
  pk.max = 10;
  assert_int_equal(tr_pack_str(&pk, "12345678"), 0); /* 9 bytes */
  assert_int_equal(tr_pack_str(&pk, "1"), TR_ETOOBIG);
  assert_int_equal(pk.len, 9);
  tr_pack_free(&pk);
  assert_int_equal(pk.max, 10); /* the limit survives free */
  tr_pack_init(&pk);
  assert_int_equal(tr_pack_str(&pk, NULL), TR_EINVAL);
  assert_int_equal(tr_pack_nil(&pk), TR_EINVAL);
  tr_pack_reset(&pk);
  assert_int_equal(tr_pack_bin(&pk, NULL, 3), TR_EINVAL);
  tr_pack_reset(&pk);
  assert_int_equal(tr_pack_raw(&pk, NULL, 0), 0);
  assert_int_equal(tr_pack_bin(&pk, NULL, 0), 0);
  assert_int_equal(tr_pack_raw(&pk, "\xc0", 1), 0);
  assert_bytes(&pk, "c400 c0");
  tr_pack_free(&pk);
}

static void test_detach_and_growth(void **st) {
  tr_pack pk = TR_PACK_INIT;
  for (int i = 0; i < 100000; i++) assert_int_equal(tr_pack_int(&pk, i), 0);
  size_t len;
  uint8_t *d = tr_pack_detach(&pk, &len);
  assert_non_null(d);
  assert_true(len > 100000);
  assert_null(pk.data);
  assert_int_equal(pk.len, 0);
  tr_unpack u;
  tr_unpack_init(&u, d, len);
  for (int64_t i = 0; i < 100000; i++) {
    int64_t v;
    assert_int_equal(tr_unpack_int(&u, &v), 0);
    assert_int_equal(v, i);
  }
  assert_int_equal(tr_unpack_left(&u), 0);
  free(d);
  assert_null(tr_pack_detach(&pk, &len)); /* empty */
  assert_int_equal(len, 0);
}

/* ---------------------------------------------------- against msgpack-c */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64*: fixed seed, reproducible */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

/* Writes the same random value with both packers. */
static void gen(tr_pack *pk, msgpack_packer *mp, int depth) {
  static char text[70000];
  if (!text[0])
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
  int kind = (int)(rnd() % (depth < 4 ? 11 : 8));
  size_t len = (rnd() % 4 == 0) ? rnd() % 70000 : rnd() % 40;
  uint64_t v = rnd() >> (rnd() % 64);
  switch (kind) {
  case 0: tr_pack_nil(pk); msgpack_pack_nil(mp); break;
  case 1:
    tr_pack_bool(pk, (int)(v & 1));
    if (v & 1) msgpack_pack_true(mp); else msgpack_pack_false(mp);
    break;
  case 2: tr_pack_uint(pk, v); msgpack_pack_uint64(mp, v); break;
  case 3: tr_pack_int(pk, -(int64_t)(v >> 1) - 1); msgpack_pack_int64(mp, -(int64_t)(v >> 1) - 1); break;
  case 4: {
    double d = (double)(int64_t)v / 7.0;
    tr_pack_double(pk, d);
    msgpack_pack_double(mp, d);
    break;
  }
  case 5:
    tr_pack_strn(pk, text, len);
    msgpack_pack_str(mp, len);
    msgpack_pack_str_body(mp, text, len);
    break;
  case 6:
    tr_pack_bin(pk, text, len);
    msgpack_pack_bin(mp, len);
    msgpack_pack_bin_body(mp, text, len);
    break;
  case 7:
    tr_pack_ext(pk, (int8_t)v, text, len);
    msgpack_pack_ext(mp, len, (int8_t)v);
    msgpack_pack_ext_body(mp, text, len);
    break;
  case 8: case 9: {
    uint32_t n = (uint32_t)(rnd() % 20);
    tr_pack_array(pk, n);
    msgpack_pack_array(mp, n);
    for (uint32_t i = 0; i < n; i++) gen(pk, mp, depth + 1);
    break;
  }
  default: {
    uint32_t n = (uint32_t)(rnd() % 20);
    tr_pack_map(pk, n);
    msgpack_pack_map(mp, n);
    for (uint32_t i = 0; i < 2 * n; i++) gen(pk, mp, depth + 1);
  }
  }
}

static void test_same_bytes_as_msgpack_c(void **st) {
  for (int round = 0; round < 300; round++) {
    tr_pack pk = TR_PACK_INIT;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer mp;
    msgpack_packer_init(&mp, &sb, msgpack_sbuffer_write);
    gen(&pk, &mp, 0);
    assert_int_equal(pk.err, 0);
    assert_int_equal(pk.len, sb.size);
    assert_memory_equal(pk.data, sb.data, sb.size);
    tr_unpack u;
    tr_unpack_init(&u, pk.data, pk.len);
    assert_int_equal(tr_unpack_skip(&u), 0);
    assert_int_equal(tr_unpack_left(&u), 0);
    msgpack_sbuffer_destroy(&sb);
    tr_pack_free(&pk);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),
      cmocka_unit_test(test_int_boundaries),
      cmocka_unit_test(test_length_classes),
      cmocka_unit_test(test_containers),
      cmocka_unit_test(test_kv_example),
      cmocka_unit_test(test_fixed_buffer_sticky),
      cmocka_unit_test(test_max_and_args),
      cmocka_unit_test(test_detach_and_growth),
      cmocka_unit_test(test_same_bytes_as_msgpack_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
