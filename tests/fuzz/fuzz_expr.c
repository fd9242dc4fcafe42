/* fuzz_expr.c - the ${...} language (actors/workflow/expr.c, expr_eval.c):
 * parse arbitrary bytes (as they are, and wrapped in ${...} so the fuzzer
 * reaches the grammar quickly) and evaluate what parses against a fixed set
 * of variables. Errors must be one of the documented codes, with an offset
 * inside the text; results must be well-typed. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/expr.h"
#include "fuzz_check.h"
#include "troupe/error.h"

static json_t *doc;

static int lookup(void *ud, const char *name, size_t len, tr_wf_value *out) {
  (void)ud;
  if (len != 1) return TR_ENOENT;
  switch (name[0]) {
  case 'a': out->type = TR_WF_VLONG, out->u.i = INT64_MAX; return 0;
  case 'b': out->type = TR_WF_VBOOLEAN, out->u.b = true; return 0;
  case 'd': out->type = TR_WF_VDOUBLE, out->u.d = -0.5; return 0;
  case 'i': out->type = TR_WF_VINTEGER, out->u.i = -3; return 0;
  case 'n': out->type = TR_WF_VNULL; return 0;
  case 's': out->type = TR_WF_VSTRING, out->u.s.ptr = "12", out->u.s.len = 2; return 0;
  case 't': out->type = TR_WF_VDATE, out->u.i = 86400000; return 0;
  case 'j': out->type = TR_WF_VJSON, out->u.json = doc; return 0;
  case 'x': return TR_EIO;
  default: return TR_ENOENT;
  }
}

static void one(const char *text, size_t len) {
  tr_wf_expr *e;
  tr_wf_expr_error err;
  int rc = tr_wf_expr_parse(text, len, &e, &err);
  CHECK(rc == 0 || rc == TR_EPROTO || rc == TR_ETOOBIG || rc == TR_ENOTSUP || rc == TR_ENOMEM);
  if (rc) {
    CHECK(e == NULL);
    CHECK(err.offset >= -1 && err.offset <= (int)len);
    CHECK(memchr(err.message, 0, sizeof err.message) != NULL && err.message[0]);
    return;
  }
  CHECK(strlen(tr_wf_expr_text(e)) == len && memcmp(tr_wf_expr_text(e), text, len) == 0);
  tr_wf_value v;
  rc = tr_wf_expr_eval(e, lookup, NULL, &v, &err);
  CHECK(rc == 0 || rc == TR_ETYPE || rc == TR_ENOENT || rc == TR_ERANGE || rc == TR_EIO);
  if (rc == 0) {
    CHECK((unsigned)v.type <= TR_WF_VJSON);
    if (v.type == TR_WF_VSTRING) CHECK(v.u.s.ptr != NULL || v.u.s.len == 0);
    if (v.type == TR_WF_VJSON) CHECK(v.u.json != NULL);
  } else {
    CHECK(err.message[0]);
  }
  bool b;
  rc = tr_wf_expr_eval_bool(e, lookup, NULL, &b, &err);
  CHECK(rc == 0 || rc == TR_ETYPE || rc == TR_ENOENT || rc == TR_ERANGE || rc == TR_EIO);
  tr_wf_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!doc) doc = json_loads("{\"k\":[1,2.5,\"s\",{\"z\":null}],\"e\":{},\"t\":true}", 0, NULL);
  if (size > TR_WF_EXPR_MAX_LEN + 16) return 0;
  one((const char *)data, size);
  char *w = malloc(size + 3);
  if (!w) return 0;
  w[0] = '$';
  w[1] = '{';
  memcpy(w + 2, data, size);
  w[size + 2] = '}';
  one(w, size + 3);
  free(w);
  return 0;
}
