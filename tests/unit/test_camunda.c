/* The Camunda REST API's pure parts: multipart bodies (deployment/create),
 * typed variables both ways, and Camunda's dates. The endpoints themselves
 * are exercised against a real daemon by tests/integration/camunda.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/camunda/internal.h"
#include "actors/camunda/multipart.h"

/* ------------------------------------------------------------ multipart */

static void test_boundary(void **state) {
  (void)state;
  const char *b;
  size_t n;
  const char *ct = "multipart/form-data; boundary=----abc123";
  assert_int_equal(tr_mp_boundary(ct, strlen(ct), &b, &n), 0);
  assert_int_equal(n, 10);
  assert_memory_equal(b, "----abc123", 10);
  ct = "Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"";
  assert_int_equal(tr_mp_boundary(ct, strlen(ct), &b, &n), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(b, "a b;c", 5);
  static const char *const bad[] = {"application/json", "multipart/form-data",
                                    "multipart/form-data; boundary=", "multipart/form-data; boundary=\"open",
                                    "multipart/mixed; boundary=x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(tr_mp_boundary(bad[i], strlen(bad[i]), &b, &n), TR_EINVAL);
  char longb[120] = "multipart/form-data; boundary=";
  memset(longb + strlen(longb), 'x', 71);
  assert_int_equal(tr_mp_boundary(longb, strlen(longb), &b, &n), TR_EINVAL);
}

static const char body[] =
    "preamble\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"deployment-name\"\r\n"
    "\r\n"
    "orders\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"data\"; filename=\"order.bpmn\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "<xml>\r\n--XyZnot-a-delimiter\r\n</xml>\r\n"
    "--XyZ--\r\n"
    "epilogue";

static void test_parse(void **state) {
  (void)state;
  tr_mp_part p[4];
  size_t n;
  assert_int_equal(tr_mp_parse((const uint8_t *)body, strlen(body), "XyZ", 3, p, 4, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(p[0].name_len, 15);
  assert_memory_equal(p[0].name, "deployment-name", 15);
  assert_null(p[0].filename);
  assert_int_equal(p[0].len, 6);
  assert_memory_equal(p[0].data, "orders", 6);
  assert_memory_equal(p[1].filename, "order.bpmn", 10);
  assert_memory_equal(p[1].content_type, "application/octet-stream", 24);
  /* CRLF "--XyZ" inside the data is not a delimiter unless its line ends */
  const char *want = "<xml>\r\n--XyZnot-a-delimiter\r\n</xml>";
  assert_int_equal(p[1].len, strlen(want));
  assert_memory_equal(p[1].data, want, p[1].len);
  /* without a preamble, starting right at the delimiter */
  const char *b2 = "--q\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--q--";
  assert_int_equal(tr_mp_parse((const uint8_t *)b2, strlen(b2), "q", 1, p, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(p[0].len, 1);
  /* an empty part */
  const char *b3 = "--q\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--q--\r\n";
  assert_int_equal(tr_mp_parse((const uint8_t *)b3, strlen(b3), "q", 1, p, 4, &n), 0);
  assert_int_equal(p[0].len, 0);
}

static void test_parse_bad(void **state) {
  (void)state;
  tr_mp_part p[2];
  size_t n;
  static const char *const bad[] = {
      "",                                                                     /* nothing */
      "no delimiter at all",                                                  /* no start */
      "--q\r\nContent-Disposition: form-data; name=a\r\n\r\n1",               /* no end */
      "--q\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--q--",     /* not form-data */
      "--q\r\nContent-Disposition: form-data\r\n\r\n1\r\n--q--",              /* no name */
      "--q\r\nX-No-Colon\r\n\r\n1\r\n--q--",                                  /* bad header */
      "--qgarbage",                                                           /* no delimiter */
      "--q\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--q--",    /* open quote */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(tr_mp_parse((const uint8_t *)bad[i], strlen(bad[i]), "q", 1, p, 2, &n),
                     TR_EPROTO);
  const char *three =
      "--q\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
      "--q\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
      "--q\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n--q--";
  assert_int_equal(tr_mp_parse((const uint8_t *)three, strlen(three), "q", 1, p, 2, &n), TR_ETOOBIG);
  assert_int_equal(tr_mp_parse(NULL, 3, "q", 1, p, 2, &n), TR_EINVAL);
  assert_int_equal(tr_mp_parse((const uint8_t *)three, 3, "q", 0, p, 2, &n), TR_EINVAL);
}

/* ------------------------------------------------------------ variables */

/* Camunda JSON -> msgpack -> Camunda JSON */
static json_t *roundtrip(const char *in, int *rc, char *err) {
  json_t *j = json_loads(in, 0, NULL);
  assert_non_null(j);
  tr_pack pk = TR_PACK_INIT;
  *rc = rest_vars_to_msgpack(j, &pk, err, 300);
  json_decref(j);
  json_t *out = *rc == 0 ? rest_vars_from_msgpack(pk.data, pk.len, NULL) : NULL;
  tr_pack_free(&pk);
  return out;
}

static void expect_var(json_t *o, const char *name, const char *type, const char *value_json) {
  json_t *v = json_object_get(o, name);
  assert_non_null(v);
  assert_string_equal(json_string_value(json_object_get(v, "type")), type);
  char *got = json_dumps(json_object_get(v, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
  assert_string_equal(got, value_json);
  free(got);
  assert_true(json_is_object(json_object_get(v, "valueInfo")));
}

static void test_vars(void **state) {
  (void)state;
  int rc;
  char err[300];
  json_t *o = roundtrip(
      "{\"s\":{\"value\":\"x\",\"type\":\"String\"},\"i\":{\"value\":7,\"type\":\"Integer\"},"
      "\"l\":{\"value\":5000000000,\"type\":\"Long\"},\"l2\":{\"value\":5,\"type\":\"long\"},\"sh\":{\"value\":\"12\",\"type\":\"short\"},"
      "\"d\":{\"value\":1.5,\"type\":\"Double\"},\"d2\":{\"value\":2,\"type\":\"Double\"},"
      "\"b\":{\"value\":true,\"type\":\"Boolean\"},\"n\":{\"value\":null,\"type\":\"Null\"},"
      "\"ns\":{\"value\":null,\"type\":\"String\"},"
      "\"t\":{\"value\":\"2024-02-29T23:59:58.123+0100\",\"type\":\"Date\"},"
      "\"j\":{\"value\":\"{\\\"a\\\":[1,2]}\",\"type\":\"Json\"},"
      "\"u1\":{\"value\":\"y\"},\"u2\":{\"value\":3},\"u3\":{\"value\":false},\"u4\":{}}",
      &rc, err);
  assert_int_equal(rc, 0);
  expect_var(o, "s", "String", "\"x\"");
  expect_var(o, "i", "Integer", "7");
  expect_var(o, "l", "Long", "5000000000");
  expect_var(o, "sh", "Short", "12");
  expect_var(o, "l2", "Long", "5");
  expect_var(o, "d", "Double", "1.5");
  expect_var(o, "d2", "Double", "2.0");
  expect_var(o, "b", "Boolean", "true");
  expect_var(o, "n", "Null", "null");
  expect_var(o, "ns", "Null", "null");
  expect_var(o, "t", "Date", "\"2024-02-29T22:59:58.123+0000\"");
  expect_var(o, "j", "Json", "\"{\\\"a\\\":[1,2]}\"");
  expect_var(o, "u1", "String", "\"y\"");
  expect_var(o, "u2", "Integer", "3");
  expect_var(o, "u3", "Boolean", "false");
  expect_var(o, "u4", "Null", "null");
  json_decref(o);
  /* no variables at all */
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(rest_vars_to_msgpack(NULL, &pk, err, sizeof err), 0);
  o = rest_vars_from_msgpack(pk.data, pk.len, NULL);
  assert_int_equal(json_object_size(o), 0);
  json_decref(o);
  tr_pack_free(&pk);
}

static void test_vars_bad(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"a\":{\"value\":\"x\",\"type\":\"Integer\"}}",
      "{\"a\":{\"value\":3000000000,\"type\":\"Integer\"}}",
      "{\"a\":{\"value\":40000,\"type\":\"Short\"}}",
      "{\"a\":{\"value\":1.5,\"type\":\"Long\"}}",
      "{\"a\":{\"value\":\"yes\",\"type\":\"Boolean\"}}",
      "{\"a\":{\"value\":\"x\",\"type\":\"Double\"}}",
      "{\"a\":{\"value\":\"yesterday\",\"type\":\"Date\"}}",
      "{\"a\":{\"value\":\"{oops\",\"type\":\"Json\"}}",
      "{\"a\":{\"value\":\"rO0AB\",\"type\":\"Object\"}}",
      "{\"a\":{\"value\":\"x\",\"type\":\"Bytes\"}}",
      "{\"a\":{\"value\":\"x\",\"type\":\"Nonsense\"}}",
      "{\"a\":{\"value\":\"x\",\"type\":7}}",
      "{\"a\":\"not an object\"}",
      "{\"\":{\"value\":1}}",
      "[1,2]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *j = json_loads(bad[i], 0, NULL);
    assert_non_null(j);
    tr_pack pk = TR_PACK_INIT;
    char err[300] = "";
    assert_int_equal(rest_vars_to_msgpack(j, &pk, err, sizeof err), TR_EINVAL);
    assert_true(err[0]); /* with a reason */
    tr_pack_free(&pk);
    json_decref(j);
  }
  /* msgpack that is not a map of variables */
  uint8_t junk[] = {0x92, 0x01, 0x02};
  assert_null(rest_vars_from_msgpack(junk, sizeof junk, NULL));
  uint8_t trunc[] = {0x81, 0xa1, 'a'};
  assert_null(rest_vars_from_msgpack(trunc, sizeof trunc, NULL));
  uint8_t nil[] = {0xc0};
  json_t *o = rest_vars_from_msgpack(nil, sizeof nil, NULL);
  assert_int_equal(json_object_size(o), 0);
  json_decref(o);
}

static void test_vars_only(void **state) {
  (void)state;
  int rc;
  char err[300];
  json_t *j = json_loads("{\"a\":{\"value\":1},\"b\":{\"value\":2}}", 0, NULL);
  tr_pack pk = TR_PACK_INIT;
  rc = rest_vars_to_msgpack(j, &pk, err, sizeof err);
  assert_int_equal(rc, 0);
  json_t *only = json_pack("[s]", "b");
  json_t *o = rest_vars_from_msgpack(pk.data, pk.len, only);
  assert_int_equal(json_object_size(o), 1);
  assert_non_null(json_object_get(o, "b"));
  json_decref(o);
  json_decref(only);
  json_decref(j);
  tr_pack_free(&pk);
}

/* ------------------------------------------------------------ dates */

static void test_dates(void **state) {
  (void)state;
  uint64_t ms;
  char out[32];
  assert_int_equal(rest_date_parse("1970-01-01T00:00:00", &ms), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(rest_date_parse("2024-01-31T12:00:00.5Z", &ms), 0);
  rest_date(ms, out);
  assert_string_equal(out, "2024-01-31T12:00:00.500+0000");
  assert_int_equal(rest_date_parse("2024-01-31T12:00:00.000-02:30", &ms), 0);
  rest_date(ms, out);
  assert_string_equal(out, "2024-01-31T14:30:00.000+0000");
  static const char *const bad[] = {"", "2024-01-31", "2024-13-01T00:00:00", "2024-01-31T25:00:00",
                                    "2024-01-31T12:00:00.", "2024-01-31T12:00:00+1",
                                    "2024-01-31T12:00:00Zjunk", "1969-12-31T23:59:59"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(rest_date_parse(bad[i], &ms), TR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_boundary), cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_vars),
      cmocka_unit_test(test_vars_bad), cmocka_unit_test(test_vars_only),
      cmocka_unit_test(test_dates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
