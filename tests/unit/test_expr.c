/* The ${...} expression language (actors/workflow/expr.h): every operator,
 * Camunda's value types, coercions, and the errors a condition can hit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "actors/workflow/expr.h"
#include "troupe/error.h"

/* variables of the tests: a tiny store */
typedef struct var {
  const char *name;
  tr_wf_value v;
} var;

static json_t *order_json;

static int lookup(void *ud, const char *name, size_t len, tr_wf_value *out) {
  static const var vars[] = {
      {"n", {TR_WF_VLONG, {.i = 7}}},
      {"i", {TR_WF_VINTEGER, {.i = 3}}},
      {"d", {TR_WF_VDOUBLE, {.d = 2.5}}},
      {"yes", {TR_WF_VBOOLEAN, {.b = true}}},
      {"no", {TR_WF_VBOOLEAN, {.b = false}}},
      {"nil", {TR_WF_VNULL, {.i = 0}}},
      {"s", {TR_WF_VSTRING, {.s = {"abc", 3}}}},
      {"blank", {TR_WF_VSTRING, {.s = {"", 0}}}},
      {"num", {TR_WF_VSTRING, {.s = {"42", 2}}}},
      {"t1", {TR_WF_VDATE, {.i = 1000}}},
      {"t2", {TR_WF_VDATE, {.i = 2000}}},
      {"big", {TR_WF_VLONG, {.i = INT64_MAX}}},
  };
  (void)ud;
  if (len == 5 && memcmp(name, "order", 5) == 0) {
    out->type = TR_WF_VJSON;
    out->u.json = order_json;
    return 0;
  }
  if (len == 4 && memcmp(name, "fail", 4) == 0) return TR_EIO;
  for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
    if (strlen(vars[k].name) == len && memcmp(vars[k].name, name, len) == 0) {
      *out = vars[k].v;
      return 0;
    }
  return TR_ENOENT;
}

/* Evaluates src; returns the code and fills *v, which may borrow from
 * the expression: that lives until the next call. */
static int run(const char *src, tr_wf_value *v) {
  static tr_wf_expr *last;
  tr_wf_expr_free(last);
  last = NULL;
  if (!src) return 0;
  tr_wf_expr_error err;
  int rc = tr_wf_expr_parse(src, strlen(src), &last, &err);
  if (rc) return rc;
  return tr_wf_expr_eval(last, lookup, NULL, v, &err);
}

static bool truth(const char *src) {
  tr_wf_value v;
  int rc = run(src, &v);
  if (rc != 0 || v.type != TR_WF_VBOOLEAN) fail_msg("%s: rc %d type %d", src, rc, v.type);
  return v.u.b;
}

static int64_t integer(const char *src) {
  tr_wf_value v;
  int rc = run(src, &v);
  if (rc != 0 || v.type != TR_WF_VLONG) fail_msg("%s: rc %d type %d", src, rc, v.type);
  return v.u.i;
}

static double dbl(const char *src) {
  tr_wf_value v;
  int rc = run(src, &v);
  if (rc != 0 || v.type != TR_WF_VDOUBLE) fail_msg("%s: rc %d type %d", src, rc, v.type);
  return v.u.d;
}

static int code(const char *src) {
  tr_wf_value v;
  return run(src, &v);
}

static void test_literals(void **state) {
  (void)state;
  tr_wf_value v;
  assert_int_equal(run("${'it''s'}", &v), TR_EPROTO); /* no SQL-style quotes */
  assert_int_equal(run("${'it\\'s \"x\"'}", &v), 0);
  assert_int_equal(v.type, TR_WF_VSTRING);
  assert_int_equal(v.u.s.len, 8);
  assert_memory_equal(v.u.s.ptr, "it's \"x\"", 8);
  assert_int_equal(run("${\"dq\"}", &v), 0);
  assert_memory_equal(v.u.s.ptr, "dq", 2);
  assert_int_equal(integer("${42}"), 42);
  assert_true(dbl("${1.5e2}") == 150.0);
  assert_true(dbl("${.5}") == 0.5);
  assert_true(truth("${true}"));
  assert_false(truth("#{false}")); /* deferred syntax is accepted too */
  assert_int_equal(run("${null}", &v), 0);
  assert_int_equal(v.type, TR_WF_VNULL);
  assert_int_equal(run("  ${ n }\n", &v), 0); /* white space around, as in XML text */
  assert_int_equal(v.u.i, 7);
  assert_int_equal(code("${99999999999999999999}"), TR_EPROTO);
}

static void test_arithmetic(void **state) {
  (void)state;
  assert_int_equal(integer("${1 + 2 * 3}"), 7);
  assert_int_equal(integer("${(1 + 2) * 3}"), 9);
  assert_int_equal(integer("${n - i - 1}"), 3); /* left associative */
  assert_int_equal(integer("${n % i}"), 1);
  assert_int_equal(integer("${n mod 4}"), 3);
  assert_int_equal(integer("${-n + 10}"), 3);
  assert_int_equal(integer("${- -n}"), 7);
  assert_true(dbl("${n / 2}") == 3.5); /* / is always a Double, as in JUEL */
  assert_true(dbl("${n div 2}") == 3.5);
  assert_true(dbl("${d * 2}") == 5.0);
  assert_true(dbl("${d % 1}") == 0.5);
  assert_int_equal(integer("${num + 1}"), 43); /* numeric strings coerce */
  assert_int_equal(integer("${nil + 1}"), 1);  /* null is 0 */
  assert_int_equal(code("${n / 0}"), TR_ERANGE);
  assert_int_equal(code("${n % 0}"), TR_ERANGE);
  assert_int_equal(code("${d / 0.0}"), TR_ERANGE);
  assert_int_equal(code("${big + 1}"), TR_ERANGE);
  assert_int_equal(code("${big * 2}"), TR_ERANGE);
  assert_int_equal(code("${-big - 2}"), TR_ERANGE);
  assert_int_equal(code("${s + 1}"), TR_ETYPE);
  assert_int_equal(code("${yes * 2}"), TR_ETYPE);
  assert_int_equal(code("${order + 1}"), TR_ETYPE);
}

static void test_comparisons(void **state) {
  (void)state;
  assert_true(truth("${n == 7}"));
  assert_true(truth("${n eq 7}"));
  assert_true(truth("${n != 8 && n ne 8}"));
  assert_true(truth("${i < n && i lt n}"));
  assert_true(truth("${n > i && n gt i}"));
  assert_true(truth("${n <= 7 && n le 7 && n >= 7 && n ge 7}"));
  assert_true(truth("${d > 2 && d < 3}"));
  assert_true(truth("${i == 3.0}"));         /* Integer meets Double */
  assert_true(truth("${num == 42}"));        /* numeric string meets number */
  assert_false(truth("${s == 42}"));         /* a word never equals a number */
  assert_true(truth("${s == 'abc'}"));
  assert_true(truth("${s < 'abd' && 'ab' < s}"));
  assert_true(truth("${t1 < t2}"));          /* Dates compare */
  assert_true(truth("${nil == null}"));
  assert_false(truth("${nil == 0}"));
  assert_false(truth("${nil < 1}"));         /* JUEL: false, not an error */
  assert_true(truth("${yes == true}"));
  assert_true(truth("${yes == 'true'}"));
  assert_int_equal(code("${s < 1}"), TR_ETYPE);
  assert_int_equal(code("${t1 < 5}"), TR_ETYPE);
  assert_int_equal(code("${yes < no}"), TR_ETYPE);
}

static void test_logic(void **state) {
  (void)state;
  assert_true(truth("${yes || no}"));
  assert_false(truth("${yes && no}"));
  assert_true(truth("${!no}"));
  assert_true(truth("${not no and yes or no}"));
  assert_false(truth("${not yes}"));
  assert_true(truth("${no || !nil}"));  /* null is false */
  /* short circuit: the right side is never evaluated */
  assert_false(truth("${no && undefined > 1}"));
  assert_true(truth("${yes || n / 0 > 1}"));
  assert_int_equal(code("${n && yes}"), TR_ETYPE);
  assert_int_equal(code("${!s}"), TR_ETYPE);
  assert_int_equal(integer("${yes ? 1 : 2}"), 1);
  assert_int_equal(integer("${no ? 1 : n > 5 ? 3 : 4}"), 3);
}

static void test_empty(void **state) {
  (void)state;
  assert_true(truth("${empty nil}"));
  assert_true(truth("${empty blank}"));
  assert_false(truth("${empty s}"));
  assert_false(truth("${empty n}"));
  assert_true(truth("${not empty s}"));
  assert_true(truth("${empty order.tags}"));
  assert_false(truth("${empty order.items}"));
  assert_true(truth("${empty order.none}"));
}

static void test_json(void **state) {
  (void)state;
  tr_wf_value v;
  assert_int_equal(integer("${order.total}"), 120);
  assert_true(truth("${order.customer.vip}"));
  assert_int_equal(run("${order.customer.name}", &v), 0);
  assert_int_equal(v.type, TR_WF_VSTRING);
  assert_memory_equal(v.u.s.ptr, "Ada", 3);
  assert_int_equal(integer("${order.items[1].qty}"), 5);
  assert_int_equal(integer("${order['total'] + 1}"), 121);
  assert_true(dbl("${order.rate * 2}") == 0.5);
  assert_int_equal(run("${order.items}", &v), 0);
  assert_int_equal(v.type, TR_WF_VJSON);
  assert_int_equal(code("${order.missing}"), TR_ENOENT);
  assert_int_equal(code("${order.items[2]}"), TR_ENOENT);
  assert_int_equal(code("${order.items[-1]}"), TR_ENOENT);
  assert_int_equal(code("${order.items.x}"), TR_ETYPE);
  assert_int_equal(code("${n.x}"), TR_ETYPE);
  assert_int_equal(run("${nil.x}", &v), 0); /* JUEL: a property of null is null */
  assert_int_equal(v.type, TR_WF_VNULL);
  assert_true(truth("${order.customer == order.customer}"));
}

static void test_errors(void **state) {
  (void)state;
  tr_wf_expr *e;
  tr_wf_expr_error err;
  tr_wf_value v;
  assert_int_equal(code("${nobody}"), TR_ENOENT);
  assert_int_equal(code("${fail}"), TR_EIO); /* the store's own error passes through */
  /* syntax errors say where */
  assert_int_equal(tr_wf_expr_parse("${a ==}", 7, &e, &err), TR_EPROTO);
  assert_null(e);
  assert_int_equal(err.offset, 6);
  assert_int_equal(tr_wf_expr_parse("${a + (b}", 9, &e, &err), TR_EPROTO);
  assert_non_null(strstr(err.message, "')'"));
  assert_int_equal(tr_wf_expr_parse("a > 1", 5, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${a} and ${b}", 13, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${'open}", 8, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${a @ b}", 8, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${}", 3, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${x instanceof y}", 17, &e, &err), TR_EPROTO);
  assert_int_equal(tr_wf_expr_parse("${execution.getVariable('a')}", 29, &e, &err), TR_ENOTSUP);
  assert_int_equal(tr_wf_expr_parse("${f(1)}", 7, &e, &err), TR_ENOTSUP);
  /* eval errors carry the offending node's offset */
  assert_int_equal(tr_wf_expr_parse("${1 + s * 2}", 12, &e, &err), 0);
  assert_int_equal(tr_wf_expr_eval(e, lookup, NULL, &v, &err), TR_ETYPE);
  assert_int_equal(err.offset, 8);
  assert_string_equal(tr_wf_expr_text(e), "${1 + s * 2}");
  bool b;
  assert_int_equal(tr_wf_expr_eval_bool(e, lookup, NULL, &b, &err), TR_ETYPE);
  tr_wf_expr_free(e);
  /* a condition must be Boolean; null counts as false */
  assert_int_equal(tr_wf_expr_parse("${n}", 4, &e, &err), 0);
  assert_int_equal(tr_wf_expr_eval_bool(e, lookup, NULL, &b, &err), TR_ETYPE);
  tr_wf_expr_free(e);
  assert_int_equal(tr_wf_expr_parse("${nil}", 6, &e, &err), 0);
  assert_int_equal(tr_wf_expr_eval_bool(e, lookup, NULL, &b, &err), 0);
  assert_false(b);
  /* no store at all: every variable is unknown */
  assert_int_equal(tr_wf_expr_eval(e, NULL, NULL, &v, &err), TR_ENOENT);
  tr_wf_expr_free(e);
}

static void test_limits(void **state) {
  (void)state;
  tr_wf_expr *e;
  tr_wf_expr_error err;
  char buf[TR_WF_EXPR_MAX_LEN + 16];
  /* nesting: 64 parentheses pass, 200 do not */
  int k = 0;
  buf[k++] = '$', buf[k++] = '{';
  for (int i = 0; i < 200; i++) buf[k++] = '(';
  buf[k++] = '1';
  for (int i = 0; i < 200; i++) buf[k++] = ')';
  buf[k++] = '}';
  assert_int_equal(tr_wf_expr_parse(buf, (size_t)k, &e, &err), TR_ETOOBIG);
  k = 0;
  buf[k++] = '$', buf[k++] = '{';
  for (int i = 0; i < 30; i++) buf[k++] = '(';
  buf[k++] = '1';
  for (int i = 0; i < 30; i++) buf[k++] = ')';
  buf[k++] = '}';
  assert_int_equal(tr_wf_expr_parse(buf, (size_t)k, &e, &err), 0);
  tr_wf_expr_free(e);
  /* a long left-deep chain is as deep as it is long */
  k = 0;
  buf[k++] = '$', buf[k++] = '{';
  for (int i = 0; i < 500; i++) buf[k++] = '1', buf[k++] = '+';
  buf[k++] = '1';
  buf[k++] = '}';
  assert_int_equal(tr_wf_expr_parse(buf, (size_t)k, &e, &err), TR_ETOOBIG);
  /* unary chains too */
  k = 0;
  buf[k++] = '$', buf[k++] = '{';
  for (int i = 0; i < 300; i++) buf[k++] = '!';
  buf[k++] = 'a';
  buf[k++] = '}';
  assert_int_equal(tr_wf_expr_parse(buf, (size_t)k, &e, &err), TR_ETOOBIG);
  /* length */
  memset(buf, ' ', sizeof buf);
  memcpy(buf, "${1", 3);
  buf[sizeof buf - 1] = '}';
  assert_int_equal(tr_wf_expr_parse(buf, sizeof buf, &e, &err), TR_ETOOBIG);
  assert_string_equal(tr_wf_vtype_name(TR_WF_VJSON), "Json");
  assert_string_equal(tr_wf_vtype_name(TR_WF_VINTEGER), "Integer");
}

int main(void) {
  order_json = json_loads("{\"total\":120,\"rate\":0.25,\"tags\":[],\"none\":null,"
                          "\"customer\":{\"name\":\"Ada\",\"vip\":true},"
                          "\"items\":[{\"qty\":1},{\"qty\":5}]}",
                          0, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literals),    cmocka_unit_test(test_arithmetic),
      cmocka_unit_test(test_comparisons), cmocka_unit_test(test_logic),
      cmocka_unit_test(test_empty),       cmocka_unit_test(test_json),
      cmocka_unit_test(test_errors),      cmocka_unit_test(test_limits),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  run(NULL, NULL);
  json_decref(order_json);
  return rc;
}
