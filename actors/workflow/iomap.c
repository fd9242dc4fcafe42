/* iomap.c - variables in and out of activities (inst.h): camunda:
 * inputOutput on tasks and subprocesses, camunda:in / camunda:out on call
 * activities, and ${...} attribute values of user tasks.
 *
 * An activity's inputs are kept with its token (t->local, a map) and seen
 * over the instance's variables by what the activity does (its job, its
 * user task, its child); they are never set on the instance. Outputs are
 * evaluated when the token leaves, over the instance's variables with the
 * inputs over them, and set on the instance. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/inst.h"
#include "actors/workflow/vars.h"

int io_merge(inst *s, const uint8_t *upd, size_t ulen) {
  tr_pack pk = TR_PACK_INIT;
  int rc = tr_wf_vars_merge(s->vars, s->vlen, upd, ulen, &pk);
  if (rc < 0) {
    tr_pack_free(&pk);
    return rc;
  }
  free(s->vars);
  s->vars = pk.data; /* the pack's buffer is ours now */
  s->vlen = pk.len;
  return 0;
}

/* The instance's variables with t's inputs over them, into out. */
static int view_of(inst *s, const token *t, tr_pack *out) {
  return tr_wf_vars_merge(s->vars, s->vlen, t ? t->local : NULL, t ? t->llen : 0, out);
}

static int pack_value(tr_pack *pk, const tr_wf_value *v) {
  switch (v->type) {
  case TR_WF_VSTRING:
    return tr_pack_strn(pk, v->u.s.ptr, v->u.s.len);
  case TR_WF_VINTEGER:
  case TR_WF_VLONG:
  case TR_WF_VDATE:
    return tr_pack_int(pk, v->u.i);
  case TR_WF_VDOUBLE:
    return tr_pack_double(pk, v->u.d);
  case TR_WF_VBOOLEAN:
    return tr_pack_bool(pk, v->u.b);
  default: /* null; Json never comes from the map lookup */
    return tr_pack_nil(pk);
  }
}

/* One parameter's value over the variables view into pk. */
static int param_value(const tr_wf_param *p, const tr_pack *view, tr_pack *pk) {
  if (!p->expr) return p->text ? tr_pack_str(pk, p->text) : tr_pack_nil(pk);
  tr_wf_vars_view v = {view->data, view->len};
  tr_wf_value val;
  int rc = tr_wf_expr_eval(p->expr, tr_wf_vars_lookup, &v, &val, NULL);
  return rc < 0 ? rc : pack_value(pk, &val);
}

/* A map {name: value} of params evaluated over view, into out. */
static int params_map(const tr_wf_param *ps, int32_t n, const tr_pack *view, tr_pack *out) {
  tr_pack_map(out, (uint32_t)n);
  for (int32_t i = 0; i < n; i++) {
    tr_pack_str(out, ps[i].name ? ps[i].name : "");
    int rc = param_value(&ps[i], view, out);
    if (rc < 0) return rc;
  }
  return out->err;
}

int io_inputs(inst *s, token *t, const tr_wf_element *e) {
  tr_pack view = TR_PACK_INIT, m = TR_PACK_INIT;
  int rc = view_of(s, NULL, &view);
  if (rc == 0) rc = params_map(e->inputs, e->n_inputs, &view, &m);
  tr_pack_free(&view);
  if (rc < 0) {
    tr_pack_free(&m);
    return rc;
  }
  free(t->local);
  t->local = m.data;
  t->llen = m.len;
  return 0;
}

int io_outputs(inst *s, const token *t, const tr_wf_element *e) {
  tr_pack view = TR_PACK_INIT, m = TR_PACK_INIT;
  int rc = view_of(s, t, &view);
  if (rc == 0) rc = params_map(e->outputs, e->n_outputs, &view, &m);
  if (rc == 0) rc = io_merge(s, m.data, m.len);
  tr_pack_free(&view);
  tr_pack_free(&m);
  return rc;
}

/* The raw msgpack value of name in map p[0..len), or TR_ENOENT. */
static int raw_get(const uint8_t *p, size_t len, const char *name, const void **v, size_t *vl) {
  if (!len) return TR_ENOENT;
  tr_unpack u;
  uint32_t n;
  tr_unpack_init(&u, p, len);
  if (tr_unpack_map(&u, &n) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kl;
    if (tr_unpack_str(&u, &k, &kl) < 0) return TR_EPROTO;
    if (kl == strlen(name) && !memcmp(k, name, kl)) return tr_unpack_raw(&u, v, vl);
    if (tr_unpack_skip(&u) < 0) return TR_EPROTO;
  }
  return TR_ENOENT;
}

/* Applies camunda:in or :out entries: from the variables `from` onto the
 * map in acc (replaced by the result). */
static int call_vars(const tr_wf_call_var *cv, int32_t n, const uint8_t *from, size_t flen,
                     tr_pack *acc) {
  for (int32_t i = 0; i < n; i++) {
    tr_pack one = TR_PACK_INIT, next = TR_PACK_INIT;
    int rc = 0;
    if (cv[i].all) {
      rc = tr_pack_raw(&one, from, flen);
      if (!flen) rc = tr_pack_map(&one, 0);
    } else {
      const char *target = cv[i].target ? cv[i].target : cv[i].source;
      tr_pack_map(&one, 1);
      tr_pack_str(&one, target ? target : "");
      if (cv[i].source_expr) {
        tr_wf_vars_view v = {from, flen};
        tr_wf_value val;
        rc = tr_wf_expr_eval(cv[i].source_expr, tr_wf_vars_lookup, &v, &val, NULL);
        if (rc == 0) rc = pack_value(&one, &val);
      } else {
        const void *raw;
        size_t rl;
        if (cv[i].source && raw_get(from, flen, cv[i].source, &raw, &rl) == 0)
          rc = tr_pack_raw(&one, raw, rl);
        else
          rc = tr_pack_nil(&one); /* Camunda passes an unknown source as null */
      }
    }
    if (rc == 0) rc = tr_wf_vars_merge(acc->data, acc->len, one.data, one.len, &next);
    tr_pack_free(&one);
    if (rc < 0) {
      tr_pack_free(&next);
      return rc;
    }
    tr_pack_free(acc);
    *acc = next;
  }
  return 0;
}

int io_call_in(inst *s, const token *t, const tr_wf_element *e, tr_pack *out) {
  tr_pack view = TR_PACK_INIT;
  int rc = view_of(s, t, &view);
  if (rc == 0) rc = call_vars(e->call_in, e->n_call_in, view.data, view.len, out);
  tr_pack_free(&view);
  return rc;
}

int io_call_out(inst *s, const tr_wf_element *e, const uint8_t *child, size_t clen) {
  tr_pack acc = TR_PACK_INIT;
  int rc = call_vars(e->call_out, e->n_call_out, child, clen, &acc);
  if (rc == 0 && acc.len) rc = io_merge(s, acc.data, acc.len);
  tr_pack_free(&acc);
  return rc;
}

int io_text(inst *s, const token *t, const char *text, char *buf, size_t cap) {
  if (!cap) return TR_EINVAL;
  buf[0] = 0;
  if (!text) return 0;
  if (!strstr(text, "${") && !strstr(text, "#{")) {
    snprintf(buf, cap, "%s", text);
    return 0;
  }
  tr_wf_expr *x = NULL;
  int rc = tr_wf_expr_parse(text, strlen(text), &x, NULL);
  if (rc < 0) return rc;
  tr_pack view = TR_PACK_INIT;
  rc = view_of(s, t, &view);
  tr_wf_value v;
  tr_wf_vars_view vv = {view.data, view.len};
  if (rc == 0) rc = tr_wf_expr_eval(x, tr_wf_vars_lookup, &vv, &v, NULL);
  if (rc == 0) switch (v.type) {
    case TR_WF_VSTRING:
      snprintf(buf, cap, "%.*s", (int)v.u.s.len, v.u.s.ptr);
      break;
    case TR_WF_VINTEGER:
    case TR_WF_VLONG:
    case TR_WF_VDATE:
      snprintf(buf, cap, "%" PRId64, v.u.i);
      break;
    case TR_WF_VDOUBLE:
      snprintf(buf, cap, "%g", v.u.d);
      break;
    case TR_WF_VBOOLEAN:
      snprintf(buf, cap, "%s", v.u.b ? "true" : "false");
      break;
    default:
      break; /* null: empty */
    }
  tr_pack_free(&view);
  tr_wf_expr_free(x);
  return rc;
}
