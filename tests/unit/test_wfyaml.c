/* The YAML workflow format (actors/workflow/yaml.c): it compiles to the
 * same model as the BPMN it mirrors, covers every element kind, and reports
 * problems with libyaml's lines and columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/parse.h"
#include "troupe/error.h"

static char *slurp(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", TR_WF_MODELS, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  b[n] = 0;
  *len = (size_t)n;
  return b;
}

static tr_wf_model *load(const char *name, bool yaml) {
  size_t len;
  char *src = slurp(name, &len);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int rc = yaml ? tr_wf_yaml_parse(src, len, &m, &pr) : tr_wf_bpmn_parse(src, len, &m, &pr);
  for (int i = 0; i < pr.n; i++)
    print_message("%s:%d:%d: %s\n", name, pr.items[i].line, pr.items[i].column, pr.items[i].message);
  assert_int_equal(rc, 0);
  assert_int_equal(pr.n, 0);
  tr_wf_problems_free(&pr);
  free(src);
  return m;
}

static const tr_wf_element *el(const tr_wf_model *m, const char *id) {
  const tr_wf_element *e = tr_wf_model_element(m, id);
  if (!e) fail_msg("no element %s", id);
  return e;
}

/* Walks both graphs from their start events in step: same shape, types,
 * topics and conditions (ids differ: the YAML names its own). */
static void same_graph(const tr_wf_model *a, int32_t ea, const tr_wf_model *b, int32_t eb, int depth) {
  const tr_wf_element *x = &a->elements[ea], *y = &b->elements[eb];
  assert_int_equal(x->type, y->type);
  assert_int_equal(x->event, y->event);
  assert_int_equal(x->n_out, y->n_out);
  assert_int_equal(x->n_in, y->n_in);
  assert_int_equal(x->n_inputs, y->n_inputs);
  assert_int_equal(x->n_outputs, y->n_outputs);
  if (x->topic) assert_string_equal(x->topic, y->topic);
  if (x->name && y->name) assert_string_equal(x->name, y->name);
  assert_int_equal(x->default_flow >= 0, y->default_flow >= 0);
  if (depth > 20) return;
  for (int32_t i = 0; i < x->n_out; i++) {
    const tr_wf_flow *fa = &a->flows[x->out[i]], *fb = &b->flows[y->out[i]];
    assert_int_equal(fa->condition != NULL, fb->condition != NULL);
    if (fa->condition)
      assert_string_equal(tr_wf_expr_text(fa->condition), tr_wf_expr_text(fb->condition));
    assert_int_equal(x->default_flow == x->out[i], y->default_flow == y->out[i]);
    same_graph(a, fa->target, b, fb->target, depth + 1);
  }
}

static void test_same_as_bpmn(void **state) {
  (void)state;
  tr_wf_model *x = load("order.bpmn", false), *y = load("order.yaml", true);
  assert_int_equal(x->n_elements, y->n_elements);
  assert_int_equal(x->n_flows, y->n_flows);
  assert_string_equal(x->processes[0].id, y->processes[0].id);
  assert_string_equal(x->processes[0].name, y->processes[0].name);
  assert_string_equal(x->processes[0].version_tag, y->processes[0].version_tag);
  assert_true(y->processes[0].executable);
  same_graph(x, x->processes[0].starts[0], y, y->processes[0].starts[0], 0);
  const tr_wf_element *c = el(y, "check_stock");
  assert_string_equal(c->task_priority, "10");
  assert_string_equal(c->inputs[1].text, "north");
  assert_null(c->inputs[1].expr);
  assert_non_null(c->inputs[0].expr);
  assert_int_equal(c->line, 11);
  assert_int_equal(c->column, 5);
  assert_non_null(tr_wf_model_flow(y, "in_stock_to_ship"));
  tr_wf_model_free(x);
  tr_wf_model_free(y);
}

static void test_every_kind(void **state) {
  (void)state;
  tr_wf_model *m = load("claims.yaml", true);
  const tr_wf_element *s = el(m, "claim_filed");
  assert_int_equal(s->event, TR_WF_EV_MESSAGE);
  assert_string_equal(m->messages[s->message].name, "ClaimFiled");
  const tr_wf_element *t = el(m, "triage");
  assert_int_equal(t->type, TR_WF_USER_TASK);
  assert_string_equal(t->assignee, "${adjuster}");
  assert_string_equal(t->candidate_groups, "adjusters,seniors");
  assert_string_equal(t->form_key, "embedded:app:forms/triage.html");
  assert_int_equal(t->n_fields, 2);
  assert_int_equal(t->fields[0].n_constraints, 2);
  assert_string_equal(t->fields[0].constraints[0].name, "required");
  assert_null(t->fields[0].constraints[0].config);
  assert_string_equal(t->fields[0].constraints[1].config, "1");
  assert_int_equal(t->fields[1].n_values, 2);
  assert_string_equal(t->fields[1].values[0].name, "Car");
  assert_int_equal(t->n_boundaries, 2);
  const tr_wf_element *d = el(m, "triage_deadline"), *r = el(m, "triage_reminder");
  assert_true(d->cancel_activity);
  assert_int_equal(d->timer.kind, TR_WF_TIMER_DURATION);
  assert_int_equal(d->timer.duration.days, 2);
  assert_false(r->cancel_activity);
  assert_int_equal(r->timer.repeat, 3);
  assert_int_equal(el(m, "escalated")->event, TR_WF_EV_TERMINATE);
  const tr_wf_element *a = el(m, "assess");
  assert_int_equal(a->type, TR_WF_SUBPROCESS);
  assert_int_equal(a->n_children, 3);
  assert_string_equal(m->elements[a->start].id, "assess_start");
  const tr_wf_element *f = el(m, "fraud");
  assert_string_equal(m->errors[f->error].code, "FRAUD");
  assert_string_equal(m->errors[el(m, "rejected")->error].code, "REJECTED");
  const tr_wf_element *sp = el(m, "split");
  assert_int_equal(sp->n_out, 3);
  assert_string_equal(m->flows[sp->default_flow].id, "split_to_join");
  const tr_wf_element *p = el(m, "pay");
  assert_string_equal(p->called_element, "payment");
  assert_int_equal(p->n_call_in, 2);
  assert_non_null(p->call_in[1].source_expr);
  assert_true(p->call_out[0].all);
  assert_string_equal(m->messages[el(m, "wait_ack")->message].name, "ClaimAcknowledged");
  assert_int_equal(el(m, "cooling_off")->timer.kind, TR_WF_TIMER_DATE);
  assert_int_equal(el(m, "fork")->n_out, 2);
  assert_int_equal(el(m, "close")->type, TR_WF_THROW_EVENT);
  tr_wf_model_free(m);
}

typedef struct want {
  int line, column;
  const char *id, *text;
} want;

static void expect(const char *yaml, const want *w, int n) {
  size_t len = 0;
  char *src = NULL;
  if (!strchr(yaml, '\n') && strstr(yaml, ".yaml")) yaml = src = slurp(yaml, &len);
  else len = strlen(yaml);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  assert_int_equal(tr_wf_yaml_parse(yaml, len, &m, &pr), TR_EPROTO);
  assert_null(m);
  int errors = 0;
  for (int i = 0; i < pr.n; i++) {
    const tr_wf_problem *p = &pr.items[i];
    print_message("%d:%d %s: %s\n", p->line, p->column, p->main_id ? p->main_id : "-", p->message);
    if (p->warning) continue;
    assert_true(errors < n);
    const want *x = &w[errors++];
    assert_int_equal(p->line, x->line);
    assert_int_equal(p->column, x->column);
    if (x->id) assert_string_equal(p->main_id, x->id);
    if (!strstr(p->message, x->text)) fail_msg("'%s' lacks '%s'", p->message, x->text);
  }
  assert_int_equal(errors, n);
  tr_wf_problems_free(&pr);
  free(src);
}

static void test_bad(void **state) {
  (void)state;
  static const want w[] = {
      {3, 5, "start", "start event 'start' cannot have incoming"},
      {6, 5, "work", "external task 'work' needs a topic"},
      {8, 5, "work", "unknown key 'topik'"},
      {13, 9, "gate_to_nowhere", "target 'nowhere' of 'gate_to_nowhere' does not exist"},
      {13, 9, "gate", "without condition which is not the default flow"},
      {14, 15, "gate_to_nowhere", "invalid expression '${x >}'"},
      {15, 9, "gate", "'gate_to_start' without condition"},
      {18, 23, "wait", "'5 minutes' is not an ISO 8601 duration"},
      {20, 11, "odd", "unknown type 'script'"},
  };
  expect("bad.yaml", w, 9);
}

static void test_hardening(void **state) {
  (void)state;
  static const want alias[] = {{3, 5, NULL, "anchors and aliases are not supported"}};
  expect("process: p\nsteps:\n  - &s {id: a, type: start}\n  - *s\n", alias, 1);
  static const want syntax[] = {{3, 1, NULL, "YAML syntax error"}};
  expect("process: p\nsteps: [\n", syntax, 1);
  static const want two[] = {{2, 1, NULL, "a second document"}};
  expect("process: p\n---\nprocess: q\n", two, 1);
  static const want list[] = {{1, 1, NULL, "a workflow is a mapping"}};
  expect("- a\n- b\n", list, 1);
  static const want nothing[] = {{1, 1, NULL, "a workflow is a mapping"}};
  expect("# nothing\n", nothing, 1);
  static const want top[] = {{1, 1, NULL, "unknown key 'proces'"},
                             {1, 1, NULL, "needs a process id"},
                             {1, 1, NULL, "has no steps"}};
  expect("proces: p\n", top, 3);
  static const want kinds[] = {
      {3, 5, NULL, "a step is a mapping"},
      {4, 5, "a", "has no type"},
      {5, 26, "b", "unknown key 'interrupting' in step b"},
      {5, 40, "b", "must be true or false"},
      {6, 5, "c", "needs a message"},
      {6, 37, "c", "'message' of 'c' must be a message name"},
      {7, 5, "d", "has no attachedToRef"},
      {8, 5, "e", "needs steps:"},
      {8, 5, "e", "needs exactly one none start event"},
      {9, 5, "f", "needs a timer or message definition"},
      {9, 33, "f", "must be one of duration:, date: or cycle:"},
  };
  expect("process: p\nsteps:\n  - just text\n  - {id: a}\n  - {id: b, type: start, interrupting: maybe}\n"
         "  - {id: c, type: receive, message: [x]}\n  - {id: d, type: boundary, timer: {duration: PT1M}}\n"
         "  - {id: e, type: subprocess}\n  - {id: f, type: catch, timer: {duration: PT1M, date: x}}\n",
         kinds, 11);
  /* depth */
  char deep[600];
  int k = sprintf(deep, "process: p\nsteps: ");
  for (int i = 0; i < 100; i++) deep[k++] = '[';
  deep[k] = 0;
  static const want d[] = {{2, 71, NULL, "nested too deeply"}};
  expect(deep, d, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_as_bpmn),
      cmocka_unit_test(test_every_kind),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_hardening),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
