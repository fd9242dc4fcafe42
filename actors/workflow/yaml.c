/* yaml.c - the YAML workflow format (docs/workflows.md) to a process model.
 *
 * For people who write workflows by hand: a process is a list of steps,
 * and each step says where it goes next, so sequence flows need no ids of
 * their own. It compiles to the same model as BPMN (model.h) and goes
 * through the same checks, with libyaml's line and column on every
 * problem. Unknown keys and step types are errors, never ignored.
 *
 * Hardening: a first pass over libyaml's events refuses anchors and
 * aliases (no alias expansion bombs) and bounds nesting depth and node
 * count before the document is loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "actors/workflow/parse.h"
#include "troupe/error.h"

enum { MAX_NODES = 200000 };

typedef struct yp {
  yaml_document_t doc;
  tr_wf_model *m;
  tr_wf_problems *pr;
} yp;

static int L(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }
static int C(const yaml_node_t *n) { return n ? (int)n->start_mark.column + 1 : 0; }

#define ERR(node, id, ...) tr_wf_problems_add(y->pr, false, L(node), C(node), id, __VA_ARGS__)

static yaml_node_t *node(yp *y, int i) { return yaml_document_get_node(&y->doc, i); }

static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in mapping n, or NULL. */
static yaml_node_t *get(yp *y, const yaml_node_t *n, const char *key) {
  if (!n || n->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(y, p->key));
    if (k && strcmp(k, key) == 0) return node(y, p->value);
  }
  return NULL;
}

/* A string-valued key: copied into the model; an error if not a scalar. */
static const char *str(yp *y, const yaml_node_t *map, const char *key, const char *id) {
  yaml_node_t *v = get(y, map, key);
  if (!v) return NULL;
  if (v->type != YAML_SCALAR_NODE) {
    ERR(v, id, "'%s' of '%s' must be a single value", key, id ? id : "?");
    return NULL;
  }
  return tr_wf_model_str(y->m, (const char *)v->data.scalar.value, v->data.scalar.length);
}

static bool boolean(yp *y, const yaml_node_t *map, const char *key, bool dflt, const char *id) {
  yaml_node_t *v = get(y, map, key);
  const char *s = scalar(v);
  if (!v) return dflt;
  if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)) return true;
  if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)) return false;
  ERR(v, id, "'%s' of '%s' must be true or false", key, id ? id : "?");
  return dflt;
}

/* Reports every key of map that is not in allowed (NULL-terminated). */
static void only_keys(yp *y, const yaml_node_t *map, const char *const *allowed, const char *id,
                      const char *what) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = node(y, p->key);
    const char *k = scalar(kn);
    bool ok = false;
    for (int i = 0; k && allowed[i]; i++) ok |= strcmp(k, allowed[i]) == 0;
    if (!ok) ERR(kn, id, "unknown key '%s' in %s%s%s", k ? k : "?", what, id ? " " : "", id ? id : "");
  }
}

/* "a, b" or [a, b] as Camunda's comma-separated list. */
static const char *list_or_str(yp *y, const yaml_node_t *map, const char *key, const char *id) {
  yaml_node_t *v = get(y, map, key);
  if (!v || v->type != YAML_SEQUENCE_NODE) return str(y, map, key, id);
  size_t len = 0;
  for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
    const char *s = scalar(node(y, *i));
    if (!s) {
      ERR(node(y, *i), id, "'%s' of '%s' must list names", key, id ? id : "?");
      return NULL;
    }
    len += strlen(s) + 1;
  }
  char *buf = malloc(len + 1), *o = buf;
  if (!buf) return NULL;
  for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
    const char *s = scalar(node(y, *i));
    if (o != buf) *o++ = ',';
    size_t n = strlen(s);
    memcpy(o, s, n);
    o += n;
  }
  const char *r = tr_wf_model_str(y->m, buf, (size_t)(o - buf));
  free(buf);
  return r;
}

/* The model's message named name, created on first use. */
static const char *message_ref(yp *y, const yaml_node_t *v, const char *id) {
  const char *name = scalar(v);
  if (!name || !*name) {
    ERR(v, id, "'message' of '%s' must be a message name", id ? id : "?");
    return NULL;
  }
  char mid[300];
  snprintf(mid, sizeof mid, "Message_%s", name);
  for (int32_t i = 0; i < y->m->n_messages; i++)
    if (y->m->messages[i].name && strcmp(y->m->messages[i].name, name) == 0) return y->m->messages[i].id;
  int32_t i = tr_wf_model_add_message(y->m, mid, L(v), C(v));
  if (i < 0) return NULL;
  y->m->messages[i].name = tr_wf_model_str(y->m, name, strlen(name));
  return y->m->messages[i].id;
}

static const char *error_ref(yp *y, const yaml_node_t *v, const char *id) {
  const char *code = scalar(v);
  if (!code || !*code) {
    ERR(v, id, "'error' of '%s' must be an error code", id ? id : "?");
    return NULL;
  }
  char eid[300];
  snprintf(eid, sizeof eid, "Error_%s", code);
  for (int32_t i = 0; i < y->m->n_errors; i++)
    if (y->m->errors[i].code && strcmp(y->m->errors[i].code, code) == 0) return y->m->errors[i].id;
  int32_t i = tr_wf_model_add_error(y->m, eid, L(v), C(v));
  if (i < 0) return NULL;
  y->m->errors[i].code = y->m->errors[i].name = tr_wf_model_str(y->m, code, strlen(code));
  return y->m->errors[i].id;
}

static void timer(yp *y, int32_t ei, const yaml_node_t *v) {
  tr_wf_element *e = &y->m->elements[ei];
  static const char *kinds[] = {"duration", "date", "cycle", NULL};
  if (!v || v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1) {
    ERR(v, e->id, "'timer' of '%s' must be one of duration:, date: or cycle:", e->id);
    return;
  }
  only_keys(y, v, kinds, e->id, "timer of");
  for (int k = 0; kinds[k]; k++) {
    yaml_node_t *t = get(y, v, kinds[k]);
    const char *s = scalar(t);
    if (!t) continue;
    if (!s) {
      ERR(t, e->id, "timer %s of '%s' must be a value", kinds[k], e->id);
      return;
    }
    char err[160];
    e->event = TR_WF_EV_TIMER;
    e->timer.text = tr_wf_model_str(y->m, s, strlen(s));
    if (tr_wf_timer_parse((tr_wf_timer_kind)(TR_WF_TIMER_DURATION + k), s, strlen(s), &e->timer, err,
                          sizeof err) < 0)
      ERR(t, e->id, "timer of '%s': '%.60s' is %s", e->id, s, err);
  }
}

/* inputs: / outputs: name -> value */
static void params(yp *y, int32_t ei, const yaml_node_t *v, bool out) {
  if (!v) return;
  const char *id = y->m->elements[ei].id;
  if (v->type != YAML_MAPPING_NODE) {
    ERR(v, id, "'%s' of '%s' must map names to values", out ? "outputs" : "inputs", id);
    return;
  }
  for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = node(y, p->key), *vn = node(y, p->value);
    tr_wf_element *e = &y->m->elements[ei];
    tr_wf_param *pa = out ? tr_wf_model_push(y->m, &e->outputs, &e->n_outputs, sizeof *pa)
                          : tr_wf_model_push(y->m, &e->inputs, &e->n_inputs, sizeof *pa);
    if (!pa) return;
    const char *k = scalar(kn), *s = scalar(vn);
    if (!k || !s) {
      ERR(vn, id, "parameters of '%s' are name: value", id);
      continue;
    }
    pa->name = tr_wf_model_str(y->m, k, strlen(k));
    bool null = vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || !*s);
    if (!null) tr_wf_model_value(y->m, pa, s, vn->data.scalar.length, y->pr, id, L(vn), C(vn));
  }
}

static void call_vars(yp *y, int32_t ei, const yaml_node_t *v, bool out) {
  if (!v) return;
  const char *id = y->m->elements[ei].id;
  if (v->type != YAML_SEQUENCE_NODE) {
    ERR(v, id, "'%s' of '%s' must be a list", out ? "out" : "in", id);
    return;
  }
  static const char *keys[] = {"source", "expression", "target", "all", "local", NULL};
  for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
    yaml_node_t *m = node(y, *i);
    if (!m || m->type != YAML_MAPPING_NODE) {
      ERR(m, id, "each variable mapping of '%s' is a mapping", id);
      continue;
    }
    only_keys(y, m, keys, id, "a variable mapping of");
    tr_wf_element *e = &y->m->elements[ei];
    tr_wf_call_var *cv = out ? tr_wf_model_push(y->m, &e->call_out, &e->n_call_out, sizeof *cv)
                             : tr_wf_model_push(y->m, &e->call_in, &e->n_call_in, sizeof *cv);
    if (!cv) return;
    cv->all = boolean(y, m, "all", false, id);
    cv->local = boolean(y, m, "local", false, id);
    cv->source = str(y, m, "source", id);
    cv->target = str(y, m, "target", id);
    yaml_node_t *x = get(y, m, "expression");
    if (scalar(x))
      cv->source_expr = tr_wf_model_expr(y->m, scalar(x), x->data.scalar.length, y->pr, id, L(x), C(x));
    if (!cv->all && !cv->target) ERR(m, id, "a variable mapping of '%s' needs a target (or all: true)", id);
  }
}

static void form(yp *y, int32_t ei, const yaml_node_t *v) {
  if (!v) return;
  const char *id = y->m->elements[ei].id;
  if (v->type != YAML_SEQUENCE_NODE) {
    ERR(v, id, "'form' of '%s' must be a list of fields", id);
    return;
  }
  static const char *keys[] = {"id", "label", "type", "default", "validation", "values", NULL};
  static const char *types[] = {"string", "long", "boolean", "date", "enum"};
  for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
    yaml_node_t *m = node(y, *i);
    if (!m || m->type != YAML_MAPPING_NODE) {
      ERR(m, id, "each form field of '%s' is a mapping", id);
      continue;
    }
    only_keys(y, m, keys, id, "a form field of");
    tr_wf_element *e = &y->m->elements[ei];
    tr_wf_form_field *f = tr_wf_model_push(y->m, &e->fields, &e->n_fields, sizeof *f);
    if (!f) return;
    f->id = str(y, m, "id", id);
    f->label = str(y, m, "label", id);
    f->type = str(y, m, "type", id);
    f->default_value = str(y, m, "default", id);
    if (!f->id) ERR(m, id, "a form field of '%s' has no id", id);
    bool known = !f->type;
    for (size_t k = 0; f->type && k < sizeof types / sizeof types[0]; k++) known |= strcmp(f->type, types[k]) == 0;
    if (!known) ERR(get(y, m, "type"), id, "form field type '%s' is not supported", f->type);
    yaml_node_t *val = get(y, m, "validation");
    if (val && val->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(y, p->key)), *c = scalar(node(y, p->value));
        tr_wf_form_constraint *fc = tr_wf_model_push(y->m, &f->constraints, &f->n_constraints, sizeof *fc);
        if (!fc || !k) continue;
        fc->name = tr_wf_model_str(y->m, k, strlen(k));
        /* required: true means a constraint without config */
        if (c && strcmp(c, "true") != 0) fc->config = tr_wf_model_str(y->m, c, strlen(c));
      }
    } else if (val) {
      ERR(val, id, "'validation' of a form field of '%s' maps constraints to settings", id);
    }
    yaml_node_t *vals = get(y, m, "values");
    if (vals && vals->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t *p = vals->data.mapping.pairs.start; p < vals->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(y, p->key)), *n = scalar(node(y, p->value));
        tr_wf_form_value *fv = tr_wf_model_push(y->m, &f->values, &f->n_values, sizeof *fv);
        if (!fv || !k) continue;
        fv->id = tr_wf_model_str(y->m, k, strlen(k));
        fv->name = n ? tr_wf_model_str(y->m, n, strlen(n)) : NULL;
      }
    } else if (vals) {
      ERR(vals, id, "'values' of a form field of '%s' maps ids to names", id);
    }
  }
}

static const struct {
  const char *name;
  tr_wf_type type;
  const char *keys[12]; /* besides id, type, name, next, inputs, outputs */
} types[] = {
    {"start", TR_WF_START_EVENT, {"message", "timer", "form"}},
    {"end", TR_WF_END_EVENT, {"error", "terminate"}},
    {"catch", TR_WF_CATCH_EVENT, {"message", "timer"}},
    {"throw", TR_WF_THROW_EVENT, {0}},
    {"boundary", TR_WF_BOUNDARY_EVENT, {"attached_to", "timer", "message", "error", "interrupting"}},
    {"task", TR_WF_TASK, {0}},
    {"service", TR_WF_SERVICE_TASK, {"topic", "priority"}},
    {"user", TR_WF_USER_TASK, {"assignee", "candidate_users", "candidate_groups", "form_key",
                               "form", "due_date", "follow_up_date", "priority"}},
    {"send", TR_WF_SEND_TASK, {"topic", "priority", "message"}},
    {"receive", TR_WF_RECEIVE_TASK, {"message"}},
    {"exclusive", TR_WF_EXCLUSIVE_GATEWAY, {0}},
    {"parallel", TR_WF_PARALLEL_GATEWAY, {0}},
    {"inclusive", TR_WF_INCLUSIVE_GATEWAY, {0}},
    {"subprocess", TR_WF_SUBPROCESS, {"steps"}},
    {"call", TR_WF_CALL_ACTIVITY, {"called", "binding", "version", "in", "out"}},
};

static void steps(yp *y, int32_t process, int32_t parent, const yaml_node_t *list, int depth);

/* next: target | [targets] | [{to, when, default, id, name}] */
static void next(yp *y, int32_t process, int32_t parent, int32_t ei, const yaml_node_t *v) {
  if (!v) return;
  const char *id = y->m->elements[ei].id;
  yaml_node_item_t one, *start = &one, *top = &one + 1;
  if (v->type == YAML_SEQUENCE_NODE) {
    start = v->data.sequence.items.start;
    top = v->data.sequence.items.top;
  } else if (v->type == YAML_SCALAR_NODE) {
    one = (int)(v - y->doc.nodes.start) + 1;
  } else {
    ERR(v, id, "'next' of '%s' is a step id, a list of them, or a list of {to, when}", id);
    return;
  }
  static const char *keys[] = {"to", "when", "default", "id", "name", NULL};
  for (yaml_node_item_t *i = start; i < top; i++) {
    yaml_node_t *n = node(y, *i), *to = n;
    const char *fid = NULL, *fname = NULL;
    yaml_node_t *when = NULL;
    bool dflt = false;
    if (n && n->type == YAML_MAPPING_NODE) {
      only_keys(y, n, keys, id, "a flow of");
      to = get(y, n, "to");
      fid = scalar(get(y, n, "id"));
      fname = scalar(get(y, n, "name"));
      when = get(y, n, "when");
      dflt = boolean(y, n, "default", false, id);
    }
    const char *target = scalar(to);
    if (!target || !*target) {
      ERR(n, id, "a flow of '%s' needs a target step ('to')", id);
      continue;
    }
    char gen[600];
    if (!fid) {
      snprintf(gen, sizeof gen, "%s_to_%s", id, target);
      fid = gen;
    }
    int32_t f = tr_wf_model_add_flow(y->m, fid, process, parent, L(n), C(n));
    if (f < 0) return;
    tr_wf_flow *fl = &y->m->flows[f];
    fl->source_ref = y->m->elements[ei].id;
    fl->target_ref = tr_wf_model_str(y->m, target, strlen(target));
    fl->name = fname ? tr_wf_model_str(y->m, fname, strlen(fname)) : NULL;
    if (when && !scalar(when)) {
      ERR(when, id, "'when' of a flow of '%s' must be a ${...} expression", id);
    } else if (when) {
      tr_wf_expr *x = tr_wf_model_expr(y->m, scalar(when), when->data.scalar.length, y->pr, fl->id,
                                       L(when), C(when));
      y->m->flows[f].condition = x;
    }
    if (dflt) {
      tr_wf_element *e = &y->m->elements[ei];
      if (e->default_ref) ERR(n, id, "'%s' has more than one default flow", id);
      e->default_ref = y->m->flows[f].id;
    }
  }
}

static void step(yp *y, int32_t process, int32_t parent, const yaml_node_t *s, int depth) {
  if (s->type != YAML_MAPPING_NODE) {
    ERR(s, NULL, "a step is a mapping with at least id: and type:");
    return;
  }
  yaml_node_t *idn = get(y, s, "id"), *tn = get(y, s, "type");
  const char *id = scalar(idn), *type = scalar(tn);
  int k = -1;
  for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(type, types[i].name) == 0) k = (int)i;
  if (!id || !*id) ERR(s, NULL, "a step without an id");
  if (k < 0) {
    if (!type) ERR(s, id, "step '%s' has no type", id ? id : "?");
    else
      ERR(tn, id, "step '%s': unknown type '%s' (start, end, catch, throw, boundary, task, service, "
                  "user, send, receive, exclusive, parallel, inclusive, subprocess, call)",
          id ? id : "?", type);
    return;
  }
  const char *allowed[20] = {"id", "type", "name", "next", "inputs", "outputs"};
  int na = 6;
  for (int j = 0; types[k].keys[j]; j++) allowed[na++] = types[k].keys[j];
  allowed[na] = NULL;
  only_keys(y, s, allowed, id, "step");
  int32_t ei = tr_wf_model_add_element(y->m, types[k].type, id, process, parent, L(s), C(s));
  if (ei < 0) return;
  id = y->m->elements[ei].id;
#define E (&y->m->elements[ei])
  E->name = str(y, s, "name", id);
  yaml_node_t *v;
  if ((v = get(y, s, "message"))) {
    if (E->type != TR_WF_SEND_TASK && E->type != TR_WF_RECEIVE_TASK) E->event = TR_WF_EV_MESSAGE;
    const char *r = message_ref(y, v, id);
    E->message_ref = r;
  }
  if ((v = get(y, s, "timer"))) {
    if (get(y, s, "message") || get(y, s, "error")) ERR(v, id, "'%s' has more than one event definition", id);
    timer(y, ei, v);
  }
  if ((v = get(y, s, "error"))) {
    E->event = TR_WF_EV_ERROR;
    const char *any = scalar(v);
    /* on a boundary event, error: true (or any) catches every error */
    bool catch_all = E->type == TR_WF_BOUNDARY_EVENT && any &&
                     (strcmp(any, "true") == 0 || strcmp(any, "any") == 0);
    if (!catch_all) {
      const char *r = error_ref(y, v, id);
      E->error_ref = r;
    }
  }
  if (boolean(y, s, "terminate", false, id)) E->event = TR_WF_EV_TERMINATE;
  E->cancel_activity = boolean(y, s, "interrupting", true, id);
  E->attached_ref = str(y, s, "attached_to", id);
  E->topic = str(y, s, "topic", id);
  const char *prio = str(y, s, "priority", id);
  if (E->type == TR_WF_USER_TASK) E->priority = prio;
  else E->task_priority = prio;
  E->assignee = str(y, s, "assignee", id);
  E->candidate_users = list_or_str(y, s, "candidate_users", id);
  E->candidate_groups = list_or_str(y, s, "candidate_groups", id);
  E->form_key = str(y, s, "form_key", id);
  E->due_date = str(y, s, "due_date", id);
  E->follow_up_date = str(y, s, "follow_up_date", id);
  E->called_element = str(y, s, "called", id);
  E->called_binding = str(y, s, "binding", id);
  E->called_version = str(y, s, "version", id);
  form(y, ei, get(y, s, "form"));
  params(y, ei, get(y, s, "inputs"), false);
  params(y, ei, get(y, s, "outputs"), true);
  call_vars(y, ei, get(y, s, "in"), false);
  call_vars(y, ei, get(y, s, "out"), true);
  next(y, process, parent, ei, get(y, s, "next"));
  if (E->type == TR_WF_SUBPROCESS) {
    v = get(y, s, "steps");
    if (!v) ERR(s, id, "subprocess '%s' needs steps:", id);
    else steps(y, process, ei, v, depth + 1);
  }
#undef E
}

static void steps(yp *y, int32_t process, int32_t parent, const yaml_node_t *list, int depth) {
  if (list->type != YAML_SEQUENCE_NODE) {
    ERR(list, NULL, "'steps' must be a list of steps");
    return;
  }
  if (depth > 16) {
    ERR(list, NULL, "subprocesses nested deeper than 16");
    return;
  }
  for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top; i++)
    step(y, process, parent, node(y, *i), depth);
}

/* Event pass: anchors, aliases, depth and size, before anything is loaded. */
static int prescan(const char *text, size_t len, tr_wf_problems *pr) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return TR_ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int depth = 0, docs = 0, rc = 0;
  long nodes = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      tr_wf_problems_add(pr, false, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1, NULL,
                         "YAML syntax error: %s%s%s", p.problem ? p.problem : "unknown",
                         p.context ? " " : "", p.context ? p.context : "");
      rc = TR_EPROTO;
      break;
    }
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    yaml_event_type_t t = ev.type;
    bool anchor = (t == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
                  (t == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
                  (t == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor);
    yaml_event_delete(&ev);
    if (t == YAML_STREAM_END_EVENT) break;
    if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
      tr_wf_problems_add(pr, false, line, col, NULL, "one workflow per file: a second document");
      rc = TR_EPROTO;
      break;
    }
    if (t == YAML_ALIAS_EVENT || anchor) {
      tr_wf_problems_add(pr, false, line, col, NULL, "YAML anchors and aliases are not supported");
      rc = TR_EPROTO;
      break;
    }
    if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) depth++;
    if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
    if (depth > TR_WF_MAX_NESTING || ++nodes > MAX_NODES) {
      tr_wf_problems_add(pr, false, line, col, NULL, "the document is nested too deeply or too large");
      rc = TR_EPROTO;
      break;
    }
  }
  yaml_parser_delete(&p);
  return rc;
}

int tr_wf_yaml_parse(const char *text, size_t len, tr_wf_model **out, tr_wf_problems *pr) {
  *out = NULL;
  if (len > TR_WF_MAX_SOURCE) {
    tr_wf_problems_add(pr, false, 0, 0, NULL, "the document is larger than %d bytes", TR_WF_MAX_SOURCE);
    return TR_EPROTO;
  }
  int rc = prescan(text, len, pr);
  if (rc) return rc;
  yp yy = {.pr = pr}, *y = &yy;
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return TR_ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  if (!yaml_parser_load(&p, &y->doc)) {
    tr_wf_problems_add(pr, false, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1, NULL,
                       "YAML syntax error: %s", p.problem ? p.problem : "unknown");
    yaml_parser_delete(&p);
    return TR_EPROTO;
  }
  yaml_parser_delete(&p);
  int before = pr->errors;
  yaml_node_t *root = yaml_document_get_root_node(&y->doc);
  if (!root || root->type != YAML_MAPPING_NODE) {
    tr_wf_problems_add(pr, false, L(root) ? L(root) : 1, C(root) ? C(root) : 1, NULL,
                       "a workflow is a mapping with process: and steps:");
    yaml_document_delete(&y->doc);
    return TR_EPROTO;
  }
  if (tr_wf_model_new(&y->m) < 0) {
    yaml_document_delete(&y->doc);
    return TR_ENOMEM;
  }
  static const char *keys[] = {"process", "name", "version_tag", "executable", "steps", NULL};
  only_keys(y, root, keys, NULL, "the workflow");
  yaml_node_t *pn = get(y, root, "process");
  const char *pid = scalar(pn);
  int32_t pi = -1;
  if (!pid || !*pid) {
    ERR(root, NULL, "the workflow needs a process id (process:)");
    if (!get(y, root, "steps")) ERR(root, NULL, "the workflow has no steps");
  } else {
    pi = tr_wf_model_add_process(y->m, pid, L(pn), C(pn));
  }
  if (pi >= 0) {
    y->m->processes[pi].name = str(y, root, "name", pid);
    y->m->processes[pi].version_tag = str(y, root, "version_tag", pid);
    y->m->processes[pi].executable = boolean(y, root, "executable", true, pid);
    yaml_node_t *sn = get(y, root, "steps");
    if (!sn) ERR(root, pid, "the workflow has no steps");
    else steps(y, pi, -1, sn, 0);
  }
  rc = pi >= 0 ? tr_wf_model_finish(y->m, pr) : TR_EPROTO;
  tr_wf_problems_sort(pr);
  yaml_document_delete(&y->doc);
  if (rc == TR_ENOMEM || pr->errors > before) {
    tr_wf_model_free(y->m);
    return rc == TR_ENOMEM ? rc : TR_EPROTO;
  }
  *out = y->m;
  return 0;
}
