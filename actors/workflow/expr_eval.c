/* expr_eval.c - evaluates a parsed expression (expr.h) against variables.
 *
 * Recursion follows the tree, whose height the parser bounded. Nothing is
 * allocated: results borrow from the expression or the variable store.
 */
#include <jansson.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/workflow/expr_int.h"
#include "troupe/error.h"

typedef struct ev {
  const tr_wf_expr *e;
  tr_wf_lookup_fn lookup;
  void *ud;
  tr_wf_expr_error *err;
} ev;

const char *tr_wf_vtype_name(tr_wf_vtype t) {
  static const char *n[] = {"Null", "String", "Integer", "Long", "Double", "Boolean", "Date", "Json"};
  return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "Unknown";
}

static int fail(ev *v, int rc, const x_node *x, const char *fmt, const char *a, const char *b) {
  if (v->err) {
    v->err->offset = x ? x->pos : -1;
    snprintf(v->err->message, sizeof v->err->message, fmt, a ? a : "", b ? b : "");
  }
  return rc;
}

static bool is_int(const tr_wf_value *v) {
  return v->type == TR_WF_VINTEGER || v->type == TR_WF_VLONG;
}
static bool is_num(const tr_wf_value *v) { return is_int(v) || v->type == TR_WF_VDOUBLE; }
static double as_dbl(const tr_wf_value *v) {
  return v->type == TR_WF_VDOUBLE ? v->u.d : (double)v->u.i;
}

/* JUEL's coercion of a String to a number: the whole string must be one. */
static bool str_to_num(const tr_wf_value *s, tr_wf_value *out) {
  char buf[64];
  if (s->u.s.len == 0 || s->u.s.len >= sizeof buf) return false;
  memcpy(buf, s->u.s.ptr, s->u.s.len);
  buf[s->u.s.len] = 0;
  char *end;
  if (!strpbrk(buf, ".eE")) {
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (*end || end == buf || errno) return false;
    out->type = TR_WF_VLONG;
    out->u.i = i;
    return true;
  }
  double d = strtod(buf, &end);
  if (*end || end == buf || !isfinite(d)) return false;
  out->type = TR_WF_VDOUBLE;
  out->u.d = d;
  return true;
}

/* Turns an operand of arithmetic into a number: numbers as they are, null
 * as 0, numeric strings parsed. */
static int to_num(ev *v, const x_node *x, tr_wf_value *a) {
  if (is_num(a)) return 0;
  if (a->type == TR_WF_VNULL) {
    a->type = TR_WF_VLONG;
    a->u.i = 0;
    return 0;
  }
  if (a->type == TR_WF_VSTRING && str_to_num(a, a)) return 0;
  return fail(v, TR_ETYPE, x, "cannot use a %s as a number%s", tr_wf_vtype_name(a->type), NULL);
}

static int to_bool(ev *v, const x_node *x, const tr_wf_value *a, bool *out) {
  switch (a->type) {
  case TR_WF_VBOOLEAN: *out = a->u.b; return 0;
  case TR_WF_VNULL: *out = false; return 0;
  case TR_WF_VSTRING:
    if (a->u.s.len == 4 && strncasecmp(a->u.s.ptr, "true", 4) == 0) return *out = true, 0;
    if (a->u.s.len == 5 && strncasecmp(a->u.s.ptr, "false", 5) == 0) return *out = false, 0;
    /* fall through */
  default:
    return fail(v, TR_ETYPE, x, "cannot use a %s as a Boolean%s", tr_wf_vtype_name(a->type), NULL);
  }
}

static int eval(ev *v, int32_t i, tr_wf_value *out);

static void from_json(const json_t *j, tr_wf_value *out) {
  switch (json_typeof(j)) {
  case JSON_STRING:
    out->type = TR_WF_VSTRING;
    out->u.s.ptr = json_string_value(j);
    out->u.s.len = json_string_length(j);
    break;
  case JSON_INTEGER: out->type = TR_WF_VLONG, out->u.i = json_integer_value(j); break;
  case JSON_REAL: out->type = TR_WF_VDOUBLE, out->u.d = json_real_value(j); break;
  case JSON_TRUE: out->type = TR_WF_VBOOLEAN, out->u.b = true; break;
  case JSON_FALSE: out->type = TR_WF_VBOOLEAN, out->u.b = false; break;
  case JSON_NULL: out->type = TR_WF_VNULL; break;
  default: out->type = TR_WF_VJSON, out->u.json = j;
  }
}

/* a.name and a[key]: into Json objects and arrays; null stays null. */
static int member(ev *v, const x_node *x, const tr_wf_value *a, const tr_wf_value *key,
                  tr_wf_value *out) {
  if (a->type == TR_WF_VNULL) {
    out->type = TR_WF_VNULL;
    return 0;
  }
  if (a->type != TR_WF_VJSON || !a->u.json)
    return fail(v, TR_ETYPE, x, "cannot access a property of a %s%s", tr_wf_vtype_name(a->type), NULL);
  const json_t *j = a->u.json, *m = NULL;
  if (json_is_object(j) && key->type == TR_WF_VSTRING) {
    m = json_object_getn(j, key->u.s.ptr, key->u.s.len);
    if (!m) {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(key->u.s.len < 60 ? key->u.s.len : 60), key->u.s.ptr);
      return fail(v, TR_ENOENT, x, "no property '%s'%s", name, NULL);
    }
  } else if (json_is_array(j) && is_int(key)) {
    if (key->u.i < 0 || (uint64_t)key->u.i >= json_array_size(j))
      return fail(v, TR_ENOENT, x, "index out of bounds%s%s", NULL, NULL);
    m = json_array_get(j, (size_t)key->u.i);
  } else {
    return fail(v, TR_ETYPE, x, "cannot index a Json value with a %s%s", tr_wf_vtype_name(key->type), NULL);
  }
  from_json(m, out);
  return 0;
}

static int arith(ev *v, const x_node *x, tr_wf_value a, tr_wf_value b, tr_wf_value *out) {
  int rc;
  if ((rc = to_num(v, x, &a)) || (rc = to_num(v, x, &b))) return rc;
  if (x->op == X_DIV) {
    double d = as_dbl(&b);
    if (d == 0) return fail(v, TR_ERANGE, x, "division by zero%s%s", NULL, NULL);
    out->type = TR_WF_VDOUBLE;
    out->u.d = as_dbl(&a) / d;
    return 0;
  }
  if (is_int(&a) && is_int(&b)) {
    int64_t r = 0;
    bool over = false;
    switch (x->op) {
    case X_ADD: over = __builtin_add_overflow(a.u.i, b.u.i, &r); break;
    case X_SUB: over = __builtin_sub_overflow(a.u.i, b.u.i, &r); break;
    case X_MUL: over = __builtin_mul_overflow(a.u.i, b.u.i, &r); break;
    default: /* X_MOD */
      if (b.u.i == 0) return fail(v, TR_ERANGE, x, "division by zero%s%s", NULL, NULL);
      r = b.u.i == -1 ? 0 : a.u.i % b.u.i;
    }
    if (over) return fail(v, TR_ERANGE, x, "integer overflow%s%s", NULL, NULL);
    out->type = TR_WF_VLONG;
    out->u.i = r;
    return 0;
  }
  double l = as_dbl(&a), r = as_dbl(&b);
  out->type = TR_WF_VDOUBLE;
  switch (x->op) {
  case X_ADD: out->u.d = l + r; break;
  case X_SUB: out->u.d = l - r; break;
  case X_MUL: out->u.d = l * r; break;
  default:
    if (r == 0) return fail(v, TR_ERANGE, x, "division by zero%s%s", NULL, NULL);
    out->u.d = fmod(l, r);
  }
  return 0;
}

/* Orders a and b: *cmp < 0, 0, > 0. TR_ETYPE when they do not compare. */
static int compare(ev *v, const x_node *x, tr_wf_value a, tr_wf_value b, int *cmp) {
  if (a.type == TR_WF_VSTRING && b.type == TR_WF_VSTRING) {
    size_t n = a.u.s.len < b.u.s.len ? a.u.s.len : b.u.s.len;
    int c = n ? memcmp(a.u.s.ptr, b.u.s.ptr, n) : 0;
    *cmp = c ? c : (a.u.s.len > b.u.s.len) - (a.u.s.len < b.u.s.len);
    return 0;
  }
  if (a.type == TR_WF_VDATE && b.type == TR_WF_VDATE) {
    *cmp = (a.u.i > b.u.i) - (a.u.i < b.u.i);
    return 0;
  }
  if ((is_num(&a) && b.type == TR_WF_VSTRING && str_to_num(&b, &b)) ||
      (is_num(&b) && a.type == TR_WF_VSTRING && str_to_num(&a, &a)) || (is_num(&a) && is_num(&b))) {
    if (is_int(&a) && is_int(&b)) {
      *cmp = (a.u.i > b.u.i) - (a.u.i < b.u.i);
    } else {
      double l = as_dbl(&a), r = as_dbl(&b);
      if (isnan(l) || isnan(r)) return fail(v, TR_ETYPE, x, "NaN does not compare%s%s", NULL, NULL);
      *cmp = (l > r) - (l < r);
    }
    return 0;
  }
  return fail(v, TR_ETYPE, x, "cannot compare a %s with a %s", tr_wf_vtype_name(a.type),
              tr_wf_vtype_name(b.type));
}

static int equals(ev *v, const x_node *x, tr_wf_value a, tr_wf_value b, bool *eq) {
  if (a.type == TR_WF_VNULL || b.type == TR_WF_VNULL) {
    *eq = a.type == b.type;
    return 0;
  }
  if (a.type == TR_WF_VBOOLEAN || b.type == TR_WF_VBOOLEAN) {
    bool l, r;
    int rc;
    if ((rc = to_bool(v, x, &a, &l)) || (rc = to_bool(v, x, &b, &r))) return rc;
    *eq = l == r;
    return 0;
  }
  if (a.type == TR_WF_VJSON && b.type == TR_WF_VJSON) {
    *eq = json_equal((json_t *)a.u.json, (json_t *)b.u.json);
    return 0;
  }
  int cmp, rc = compare(v, x, a, b, &cmp);
  if (rc == TR_ETYPE && a.type == TR_WF_VSTRING && is_num(&b)) {
    *eq = false; /* a non-numeric string is never equal to a number */
    return 0;
  }
  if (rc == TR_ETYPE && b.type == TR_WF_VSTRING && is_num(&a)) {
    *eq = false;
    return 0;
  }
  if (rc) return rc;
  *eq = cmp == 0;
  return 0;
}

static bool is_empty(const tr_wf_value *a) {
  switch (a->type) {
  case TR_WF_VNULL: return true;
  case TR_WF_VSTRING: return a->u.s.len == 0;
  case TR_WF_VJSON:
    return !a->u.json || json_is_null(a->u.json) ||
           (json_is_array(a->u.json) && json_array_size(a->u.json) == 0) ||
           (json_is_object(a->u.json) && json_object_size(a->u.json) == 0);
  default: return false;
  }
}

static int eval(ev *v, int32_t i, tr_wf_value *out) {
  const x_node *x = &v->e->nodes[i];
  tr_wf_value a, b;
  bool l, r;
  int rc;
  switch (x->op) {
  case X_LIT: *out = x->val; return 0;
  case X_VAR: {
    const char *name = v->e->strs + x->str_off;
    if (!v->lookup) return fail(v, TR_ENOENT, x, "unknown variable '%s'%s", name, NULL);
    memset(out, 0, sizeof *out);
    rc = v->lookup(v->ud, name, x->str_len, out);
    if (rc == TR_ENOENT) return fail(v, rc, x, "unknown variable '%s'%s", name, NULL);
    if (rc) return fail(v, rc, x, "variable '%s': lookup failed%s", name, NULL);
    if ((unsigned)out->type > TR_WF_VJSON)
      return fail(v, TR_ETYPE, x, "variable '%s' has no known type%s", name, NULL);
    return 0;
  }
  case X_PROP:
    if ((rc = eval(v, x->a, &a))) return rc;
    b.type = TR_WF_VSTRING;
    b.u.s.ptr = v->e->strs + x->str_off;
    b.u.s.len = x->str_len;
    return member(v, x, &a, &b, out);
  case X_INDEX:
    if ((rc = eval(v, x->a, &a)) || (rc = eval(v, x->b, &b))) return rc;
    return member(v, x, &a, &b, out);
  case X_NEG:
    if ((rc = eval(v, x->a, &a)) || (rc = to_num(v, x, &a))) return rc;
    if (a.type == TR_WF_VDOUBLE) {
      out->type = TR_WF_VDOUBLE;
      out->u.d = -a.u.d;
    } else {
      if (a.u.i == INT64_MIN) return fail(v, TR_ERANGE, x, "integer overflow%s%s", NULL, NULL);
      out->type = TR_WF_VLONG;
      out->u.i = -a.u.i;
    }
    return 0;
  case X_NOT:
    if ((rc = eval(v, x->a, &a)) || (rc = to_bool(v, x, &a, &l))) return rc;
    out->type = TR_WF_VBOOLEAN;
    out->u.b = !l;
    return 0;
  case X_EMPTY:
    if ((rc = eval(v, x->a, &a))) return rc;
    out->type = TR_WF_VBOOLEAN;
    out->u.b = is_empty(&a);
    return 0;
  case X_ADD:
  case X_SUB:
  case X_MUL:
  case X_DIV:
  case X_MOD:
    if ((rc = eval(v, x->a, &a)) || (rc = eval(v, x->b, &b))) return rc;
    return arith(v, x, a, b, out);
  case X_EQ:
  case X_NE:
    if ((rc = eval(v, x->a, &a)) || (rc = eval(v, x->b, &b)) || (rc = equals(v, x, a, b, &l)))
      return rc;
    out->type = TR_WF_VBOOLEAN;
    out->u.b = x->op == X_EQ ? l : !l;
    return 0;
  case X_LT:
  case X_GT:
  case X_LE:
  case X_GE: {
    if ((rc = eval(v, x->a, &a)) || (rc = eval(v, x->b, &b))) return rc;
    out->type = TR_WF_VBOOLEAN;
    if (a.type == TR_WF_VNULL || b.type == TR_WF_VNULL) { /* JUEL: false */
      out->u.b = false;
      return 0;
    }
    int c;
    if ((rc = compare(v, x, a, b, &c))) return rc;
    out->u.b = x->op == X_LT ? c < 0 : x->op == X_GT ? c > 0 : x->op == X_LE ? c <= 0 : c >= 0;
    return 0;
  }
  case X_AND:
  case X_OR:
    if ((rc = eval(v, x->a, &a)) || (rc = to_bool(v, x, &a, &l))) return rc;
    out->type = TR_WF_VBOOLEAN;
    if (x->op == X_AND ? !l : l) { /* short circuit */
      out->u.b = l;
      return 0;
    }
    if ((rc = eval(v, x->b, &b)) || (rc = to_bool(v, x, &b, &r))) return rc;
    out->u.b = r;
    return 0;
  case X_COND:
    if ((rc = eval(v, x->a, &a)) || (rc = to_bool(v, x, &a, &l))) return rc;
    return eval(v, l ? x->b : x->c, out);
  }
  return fail(v, TR_EINVAL, x, "bad expression node%s%s", NULL, NULL);
}

int tr_wf_expr_eval(const tr_wf_expr *e, tr_wf_lookup_fn lookup, void *ud, tr_wf_value *out,
                    tr_wf_expr_error *err) {
  if (err) {
    err->offset = -1;
    err->message[0] = 0;
  }
  if (!e || !out || e->root < 0 || e->root >= e->n) return TR_EINVAL;
  ev v = {.e = e, .lookup = lookup, .ud = ud, .err = err};
  memset(out, 0, sizeof *out);
  int rc = eval(&v, e->root, out);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

int tr_wf_expr_eval_bool(const tr_wf_expr *e, tr_wf_lookup_fn lookup, void *ud, bool *out,
                         tr_wf_expr_error *err) {
  tr_wf_value v;
  *out = false;
  int rc = tr_wf_expr_eval(e, lookup, ud, &v, err);
  if (rc) return rc;
  if (v.type == TR_WF_VNULL) return 0;
  if (v.type != TR_WF_VBOOLEAN) {
    if (err) {
      err->offset = -1;
      snprintf(err->message, sizeof err->message, "a condition must be a Boolean, not a %s",
               tr_wf_vtype_name(v.type));
    }
    return TR_ETYPE;
  }
  *out = v.u.b;
  return 0;
}
