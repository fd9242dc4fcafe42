/* test_codec_json.c - the JSON <-> msgpack bridge: the mapping of every
 * type, numbers at the edges of int64 and double, strings and escapes,
 * errors with line and column, limits on size and depth, what JSON cannot
 * express, and randomized round trips (fixed seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/troupe.h"

/* JSON text -> msgpack -> JSON text; returns the final text (static). */
static const char *through(const char *json) {
  static char out[4096];
  char err[256];
  tr_pack mp = TR_PACK_INIT, text = TR_PACK_INIT;
  int rc = tr_json_to_msgpack(json, strlen(json), NULL, &mp, err, sizeof err);
  if (rc) fail_msg("%s: %d %s", json, rc, err);
  rc = tr_json_from_msgpack(mp.data, mp.len, NULL, &text, err, sizeof err);
  if (rc) fail_msg("%s: back: %d %s", json, rc, err);
  assert_true(text.len < sizeof out);
  memcpy(out, text.data, text.len + 1); /* with the NUL the bridge adds */
  assert_int_equal(strlen(out), text.len);
  tr_pack_free(&mp);
  tr_pack_free(&text);
  return out;
}

static void test_round_trips(void **st) {
  static const char *same[] = {
      "{\"name\":\"x\",\"n\":3}",
      "null", "true", "false", "0", "-1", "42",
      "9223372036854775807", "-9223372036854775808",
      "0.1", "-0.0", "1.0", "1e+300", "2.5e-07", "-123456.789",
      "\"\"", "\"a\\\"b\\\\c\"", "\"tab\\tnl\\ncr\\rbs\\bff\\f\"", "\"\\u0001\\u001f\"",
      "\"nul\\u0000x\"", "\"\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80\"",
      "[]", "{}", "[[],{}]", "{\"z\":1,\"a\":2,\"m\":{\"k\":[1,2,{\"q\":null}]}}",
  };
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) assert_string_equal(through(same[i]), same[i]);
  /* forms that change on the way but keep the value */
  assert_string_equal(through(" [ 1 ,\n 2 ] "), "[1,2]");
  assert_string_equal(through("\"\\u00e9\\ud83d\\ude00\\/\""), "\"\xc3\xa9\xf0\x9f\x98\x80/\"");
  assert_string_equal(through("1E2"), "100.0");
  assert_string_equal(through("-0"), "0");
  assert_string_equal(through("0.30000000000000004"), "0.30000000000000004");
  /* 15 significant digits are tried first: shortest for every normal
   * double written with up to 15, not for denormals */
  assert_string_equal(through("5e-324"), "4.94065645841247e-324");
  assert_string_equal(through("1.7976931348623157e+308"), "1.7976931348623157e+308");
}

static void test_exact_msgpack(void **st) {
  tr_pack mp = TR_PACK_INIT;
  const char *j = "{\"name\": \"x\", \"n\": 3, \"f\": 1.5, \"l\": [true, null]}";
  assert_int_equal(tr_json_to_msgpack(j, strlen(j), NULL, &mp, NULL, 0), 0);
  static const uint8_t want[] = {0x84, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x', 0xa1, 'n', 0x03, 0xa1, 'f',
                                 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 'l', 0x92, 0xc3, 0xc0};
  assert_int_equal(mp.len, sizeof want);
  assert_memory_equal(mp.data, want, sizeof want);
  /* appends: a second value goes after the first */
  assert_int_equal(tr_json_to_msgpack("7", 1, NULL, &mp, NULL, 0), 0);
  assert_int_equal(mp.len, sizeof want + 1);
  tr_pack_free(&mp);
}

/* rc and the start of the message for a bad JSON text. */
static void bad_json(const char *json, size_t len, const tr_json_opts *o, int want_rc,
                     const char *want_msg) {
  tr_pack mp = TR_PACK_INIT;
  tr_pack_raw(&mp, "\xc0", 1); /* something already there stays */
  char err[200];
  int rc = tr_json_to_msgpack(json, len, o, &mp, err, sizeof err);
  if (rc != want_rc) fail_msg("%.40s: rc %d, want %d (%s)", json, rc, want_rc, err);
  if (strncmp(err, want_msg, strlen(want_msg)) != 0) fail_msg("%.40s: message '%s'", json, err);
  assert_int_equal(mp.len, 1);
  assert_int_equal(mp.err, 0);
  tr_pack_free(&mp);
}

static void test_json_errors(void **st) {
  bad_json("{\"a\": 1,}", 9, NULL, TR_EPROTO, "line 1, column 9:");
  bad_json("[1,\n 2,\n x]", 11, NULL, TR_EPROTO, "line 3, column 2:");
  bad_json("[1] 2", 5, NULL, TR_EPROTO, "line 1");
  bad_json("", 0, NULL, TR_EPROTO, "line 1");
  bad_json("[\"abc", 5, NULL, TR_EPROTO, "line 1");
  bad_json("{\"a\": 1, \"a\": 2}", 16, NULL, TR_EPROTO, "line 1");
  bad_json("\"\xff\"", 3, NULL, TR_EPROTO, "line 1");
  bad_json("\"\\ud800\"", 8, NULL, TR_EPROTO, "line 1");
  bad_json("{\"a\\u0000b\": 1}", 15, NULL, TR_EPROTO, "line 1");
  bad_json("[1]\0", 4, NULL, TR_EPROTO, "line 1");
  bad_json("9223372036854775808", 19, NULL, TR_ERANGE, "line 1");
  bad_json("-9223372036854775809", 20, NULL, TR_ERANGE, "line 1");
  bad_json("18446744073709551615", 20, NULL, TR_ERANGE, "line 1");
  bad_json("[1e400]", 7, NULL, TR_ERANGE, "line 1");
  bad_json("NaN", 3, NULL, TR_EPROTO, "line 1");
  tr_json_opts deep = {.max_depth = TR_JSON_DEPTH_MAX + 1};
  bad_json("1", 1, &deep, TR_EINVAL, "invalid arguments");
  tr_pack mp = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(NULL, 3, NULL, &mp, NULL, 0), TR_EINVAL);
  assert_int_equal(tr_json_to_msgpack("1", 1, NULL, NULL, NULL, 0), TR_EINVAL);
  /* a small error buffer gets a cut, terminated message */
  char tiny[8];
  assert_int_equal(tr_json_to_msgpack("[", 1, NULL, &mp, tiny, sizeof tiny), TR_EPROTO);
  assert_int_equal(strlen(tiny), sizeof tiny - 1);
  tr_pack_free(&mp);
}

static void test_json_limits(void **st) {
  /* depth: 64 nested levels pass, 65 do not; brackets in strings do not count */
  char buf[300];
  memset(buf, '[', 64);
  memset(buf + 64, ']', 64);
  buf[128] = 0;
  tr_pack mp = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(buf, 128, NULL, &mp, NULL, 0), 0);
  tr_pack text = TR_PACK_INIT;
  assert_int_equal(tr_json_from_msgpack(mp.data, mp.len, NULL, &text, NULL, 0), 0);
  assert_string_equal((char *)text.data, buf);
  tr_pack_free(&mp);
  tr_pack_free(&text);
  memset(buf, '[', 65);
  memset(buf + 65, ']', 65);
  bad_json(buf, 130, NULL, TR_ETOOBIG, "line 1, column 65: nesting deeper than 64");
  tr_json_opts o = {.max_depth = 65};
  assert_int_equal(tr_json_to_msgpack(buf, 130, &o, &mp, NULL, 0), 0);
  tr_pack_free(&mp);
  const char *obj = "{\"a\":{\"b\":{\"c\":1}}}";
  o.max_depth = 2;
  bad_json(obj, strlen(obj), &o, TR_ETOOBIG, "line 1, column 11");
  const char *str = "[\"[[[[\\\"[[[\"]"; /* ["[[[[\"[[["] */
  o.max_depth = 1;
  assert_int_equal(tr_json_to_msgpack(str, strlen(str), &o, &mp, NULL, 0), 0);
  tr_pack_free(&mp);
  /* a bomb: a million brackets, refused by the scan before jansson */
  size_t n = 1000000;
  char *bomb = malloc(n);
  memset(bomb, '[', n);
  bad_json(bomb, n, &(tr_json_opts){.max_size = 2 * n}, TR_ETOOBIG, "line 1, column 65");
  /* size: over the default 1 MiB */
  bad_json(bomb, n, &(tr_json_opts){.max_size = 100}, TR_ETOOBIG,
           "input of 1000000 bytes is over the limit of 100");
  free(bomb);
  size_t big = TR_JSON_SIZE + 1;
  char *s = malloc(big);
  memset(s, ' ', big);
  s[0] = '1';
  bad_json(s, big, NULL, TR_ETOOBIG, "input of 1048577 bytes");
  assert_int_equal(tr_json_to_msgpack(s, big - 1, NULL, &mp, NULL, 0), 0);
  free(s);
  tr_pack_free(&mp);
}

/* msgpack bytes -> JSON: rc and text (or the start of the message). */
static void mp_to(const char *mp, size_t len, int want_rc, const char *want) {
  tr_pack text = TR_PACK_INIT;
  char err[200];
  int rc = tr_json_from_msgpack(mp, len, NULL, &text, err, sizeof err);
  if (rc != want_rc) fail_msg("rc %d, want %d (%s)", rc, want_rc, err);
  if (rc == 0) {
    assert_string_equal((char *)text.data, want);
  } else {
    if (strncmp(err, want, strlen(want)) != 0) fail_msg("message '%s', want '%s'", err, want);
    assert_int_equal(text.len, 0);
    assert_int_equal(text.err, 0);
  }
  tr_pack_free(&text);
}

static void test_msgpack_mapping(void **st) {
  mp_to("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, 0, "18446744073709551615");
  mp_to("\xd3\x80\0\0\0\0\0\0\0", 9, 0, "-9223372036854775808");
  mp_to("\xca\x3d\xcc\xcc\xcd", 5, 0, "0.1"); /* float32 0.1: shortest as float32 */
  mp_to("\xca\x4b\x18\x96\x80", 5, 0, "1e+07");
  mp_to("\xcb\x40\x59\0\0\0\0\0\0", 9, 0, "100.0");
  mp_to("\x93\xc4\0\xc4\x03" "foo\xc4\x06" "foobar", 16, 0, "[\"\",\"Zm9v\",\"Zm9vYmFy\"]");
  mp_to("\x94\xc4\x01" "f\xc4\x02" "fo\xc4\x04" "foob\xc4\x05" "fooba", 21, 0,
        "[\"Zg==\",\"Zm8=\",\"Zm9vYg==\",\"Zm9vYmE=\"]");
  mp_to("\xa7\x01" "a\"b\\\x7f" "c", 8, 0, "\"\\u0001a\\\"b\\\\\x7f" "c\"");
  mp_to("\x82\xa1" "a\x90\xa1" "b\x80", 7, 0, "{\"a\":[],\"b\":{}}");
  mp_to("\x82\xa1" "a\x01\xa1" "a\x02", 7, 0, "{\"a\":1,\"a\":2}"); /* kept as written */
  mp_to("\xd4\x01\x02", 3, TR_ENOTSUP, "offset 0: ext has no JSON form");
  mp_to("\x91\x81\x01\x02", 4, TR_ENOTSUP, "offset 2: map key of type int");
  mp_to("\x81\xc4\x01" "a\x02", 5, TR_ENOTSUP, "offset 1: map key of type bin");
  mp_to("\xcb\x7f\xf8\0\0\0\0\0\0", 9, TR_ENOTSUP, "offset 0: NaN");
  mp_to("\x91\xca\xff\x80\0\0", 6, TR_ENOTSUP, "offset 1: infinity");
  mp_to("\x92\x01\xa2\xe2\x82", 5, TR_EPROTO, "offset 2: string is not UTF-8");
  mp_to("\xa3\xed\xa0\x80", 4, TR_EPROTO, "offset 0: string is not UTF-8");
  mp_to("\xc0\xc0", 2, TR_EPROTO, "offset 1: bytes after the value");
  mp_to("\xc1", 1, TR_EPROTO, "offset 0: malformed");
  mp_to("", 0, TR_EPROTO, "offset 0: malformed");
  mp_to("\x92\x01", 2, TR_EPROTO, "offset 2: malformed");
  mp_to("\xdd\xff\xff\xff\xff", 5, TR_EPROTO, "offset 5: malformed");
  tr_pack text = TR_PACK_INIT;
  assert_int_equal(tr_json_from_msgpack(NULL, 0, NULL, &text, NULL, 0), TR_EPROTO);
  assert_int_equal(tr_json_from_msgpack(NULL, 2, NULL, &text, NULL, 0), TR_EINVAL);
  text.max = 3; /* output over the pack's limit */
  assert_int_equal(tr_json_from_msgpack("\xa5hello", 6, NULL, &text, NULL, 0), TR_ETOOBIG);
  assert_int_equal(text.len, 0);
  assert_int_equal(text.err, 0);
  tr_pack_free(&text);
}

static void test_msgpack_depth_and_truncation(void **st) {
  uint8_t deep[66];
  memset(deep, 0x91, sizeof deep);
  deep[64] = 0x90;
  mp_to((char *)deep, 65, TR_ETOOBIG, "offset 64: nesting deeper than 64");
  deep[63] = 0x90;
  tr_pack text = TR_PACK_INIT;
  assert_int_equal(tr_json_from_msgpack(deep, 64, NULL, &text, NULL, 0), 0);
  tr_pack_free(&text);
  /* every prefix of a valid value fails cleanly, from an exact-size copy */
  tr_pack mp = TR_PACK_INIT;
  const char *j = "{\"k\":[1,-2,3.5,\"str\",null,true,{\"x\":\"yz\"}],\"n\":18}";
  assert_int_equal(tr_json_to_msgpack(j, strlen(j), NULL, &mp, NULL, 0), 0);
  for (size_t cut = 0; cut < mp.len; cut++) {
    uint8_t *b = malloc(cut ? cut : 1);
    memcpy(b, mp.data, cut);
    assert_int_equal(tr_json_from_msgpack(b, cut, NULL, &text, NULL, 0), TR_EPROTO);
    assert_int_equal(text.len, 0);
    free(b);
  }
  tr_pack_free(&mp);
  tr_pack_free(&text);
}

/* ------------------------------------------------ randomized round trips */

static uint64_t rng_state = 0xa4093822299f31d0ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

/* A random value of the JSON-able subset: no bin, ext, float32, uint64
 * above INT64_MAX, NaN or duplicate keys. */
static void gen(tr_pack *pk, int depth) {
  static const char *words[] = {"", "a", "key", "\xc3\xa9", "quote\"", "back\\slash", "ctl\x01\n",
                                "\xf0\x9f\x98\x80", "nul\0x"};
  switch ((int)(rnd() % (depth < 5 ? 9 : 6))) {
  case 0: tr_pack_nil(pk); break;
  case 1: tr_pack_bool(pk, (int)(rnd() & 1)); break;
  case 2: tr_pack_int(pk, (int64_t)(rnd() >> (rnd() % 64)) * ((rnd() & 1) ? -1 : 1)); break;
  case 3: {
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    if (d != d || d - d != 0) d = (double)(int64_t)bits / 1e9; /* NaN or infinity */
    tr_pack_double(pk, d);
    break;
  }
  case 4: case 5: {
    size_t w = rnd() % 9;
    tr_pack_strn(pk, words[w], w == 8 ? 5 : strlen(words[w]));
    break;
  }
  case 6: case 7: {
    uint32_t n = (uint32_t)(rnd() % 6);
    tr_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) gen(pk, depth + 1);
    break;
  }
  default: {
    uint32_t n = (uint32_t)(rnd() % 6);
    tr_pack_map(pk, n);
    for (uint32_t i = 0; i < n; i++) {
      char key[16];
      snprintf(key, sizeof key, "k%u", (unsigned)i); /* distinct keys */
      tr_pack_str(pk, key);
      gen(pk, depth + 1);
    }
  }
  }
}

static void test_random_round_trips(void **st) {
  char err[200];
  for (int round = 0; round < 3000; round++) {
    tr_pack mp = TR_PACK_INIT, text = TR_PACK_INIT, back = TR_PACK_INIT;
    gen(&mp, 0);
    assert_int_equal(mp.err, 0);
    int rc = tr_json_from_msgpack(mp.data, mp.len, NULL, &text, err, sizeof err);
    if (rc) fail_msg("round %d: %d %s", round, rc, err);
    rc = tr_json_to_msgpack((char *)text.data, text.len, NULL, &back, err, sizeof err);
    if (rc) fail_msg("round %d: %d %s in %s", round, rc, err, (char *)text.data);
    assert_int_equal(back.len, mp.len);
    assert_memory_equal(back.data, mp.data, mp.len);
    tr_pack_free(&mp);
    tr_pack_free(&text);
    tr_pack_free(&back);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_exact_msgpack),
      cmocka_unit_test(test_json_errors),
      cmocka_unit_test(test_json_limits),
      cmocka_unit_test(test_msgpack_mapping),
      cmocka_unit_test(test_msgpack_depth_and_truncation),
      cmocka_unit_test(test_random_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
