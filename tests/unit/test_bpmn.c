/* The BPMN parser (actors/workflow/bpmn.c) over models written the way
 * Camunda Modeler writes them (tests/workflow/models/), element by element;
 * bad models and the exact problems they produce; timers; hardening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
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

/* Parses a model file that must compile without warnings. */
static tr_wf_model *load(const char *name) {
  size_t len;
  char *src = slurp(name, &len);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int rc = tr_wf_bpmn_parse(src, len, &m, &pr);
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

static const char *flow_id(const tr_wf_model *m, int32_t f) { return m->flows[f].id; }

static void test_order(void **state) {
  (void)state;
  tr_wf_model *m = load("order.bpmn");
  assert_int_equal(m->n_processes, 1);
  const tr_wf_process *p = tr_wf_model_process(m, "order");
  assert_non_null(p);
  assert_string_equal(p->name, "Order fulfilment");
  assert_string_equal(p->version_tag, "1.2");
  assert_true(p->executable);
  assert_int_equal(p->n_starts, 1);
  const tr_wf_element *s = &m->elements[p->starts[0]];
  assert_string_equal(s->id, "StartEvent_1");
  assert_int_equal(s->type, TR_WF_START_EVENT);
  assert_int_equal(s->event, TR_WF_EV_NONE);
  assert_int_equal(s->n_out, 1);
  assert_string_equal(flow_id(m, s->out[0]), "Flow_1");
  const tr_wf_element *t = el(m, "CheckStock");
  assert_int_equal(t->type, TR_WF_SERVICE_TASK);
  assert_string_equal(t->topic, "check-stock");
  assert_string_equal(t->task_priority, "10");
  assert_int_equal(t->line, 8);
  assert_int_equal(t->column, 5);
  assert_int_equal(t->n_inputs, 2);
  assert_string_equal(t->inputs[0].name, "orderId");
  assert_non_null(t->inputs[0].expr);
  assert_string_equal(t->inputs[1].name, "warehouse");
  assert_string_equal(t->inputs[1].text, "north");
  assert_null(t->inputs[1].expr);
  assert_int_equal(t->n_outputs, 1);
  assert_string_equal(tr_wf_expr_text(t->outputs[0].expr), "${available >= order.quantity}");
  const tr_wf_element *g = el(m, "Gateway_InStock");
  assert_int_equal(g->type, TR_WF_EXCLUSIVE_GATEWAY);
  assert_int_equal(g->n_out, 2);
  assert_string_equal(flow_id(m, g->default_flow), "Flow_Backorder");
  const tr_wf_flow *yes = tr_wf_model_flow(m, "Flow_Yes");
  assert_non_null(yes->condition);
  assert_string_equal(tr_wf_expr_text(yes->condition), "${inStock == true && order.total > 0}");
  assert_string_equal(yes->name, "yes");
  assert_string_equal(m->elements[yes->source].id, "Gateway_InStock");
  assert_string_equal(m->elements[yes->target].id, "Ship");
  assert_int_equal(el(m, "Ship")->n_in, 2);
  assert_int_equal(el(m, "EndEvent_1")->type, TR_WF_END_EVENT);
  /* the condition evaluates */
  bool b;
  assert_int_equal(tr_wf_expr_eval_bool(yes->condition, NULL, NULL, &b, NULL), TR_ENOENT);
  assert_null(tr_wf_model_element(m, "Flow_1_di")); /* diagram interchange is not in the model */
  tr_wf_model_free(m);
}

static void test_parallel(void **state) {
  (void)state;
  tr_wf_model *m = load("parallel.bpmn");
  const tr_wf_element *fork = el(m, "Fork"), *join = el(m, "Join");
  assert_int_equal(fork->type, TR_WF_PARALLEL_GATEWAY);
  assert_int_equal(fork->n_out, 3);
  assert_int_equal(join->n_in, 3);
  assert_int_equal(join->n_out, 1);
  const tr_wf_element *w = el(m, "Welcome");
  assert_int_equal(w->type, TR_WF_SEND_TASK);
  assert_string_equal(w->topic, "mail");
  tr_wf_model_free(m);
}

static void test_user_task(void **state) {
  (void)state;
  tr_wf_model *m = load("user_task.bpmn");
  const tr_wf_element *u = el(m, "Approve");
  assert_int_equal(u->type, TR_WF_USER_TASK);
  assert_string_equal(u->assignee, "${manager}");
  assert_string_equal(u->candidate_users, "alice,bob");
  assert_string_equal(u->candidate_groups, "managers, hr");
  assert_string_equal(u->due_date, "${dueDate}");
  assert_string_equal(u->priority, "60");
  assert_int_equal(u->n_fields, 5);
  const tr_wf_form_field *f = &u->fields[0];
  assert_string_equal(f->id, "reason");
  assert_string_equal(f->label, "Reason");
  assert_string_equal(f->type, "string");
  assert_string_equal(f->default_value, "vacation");
  assert_int_equal(f->n_constraints, 2);
  assert_string_equal(f->constraints[0].name, "required");
  assert_null(f->constraints[0].config);
  assert_string_equal(f->constraints[1].config, "200");
  assert_string_equal(u->fields[1].type, "long");
  assert_string_equal(u->fields[3].type, "date");
  const tr_wf_form_field *k = &u->fields[4];
  assert_string_equal(k->type, "enum");
  assert_int_equal(k->n_values, 2);
  assert_string_equal(k->values[1].id, "unpaid");
  assert_string_equal(k->values[1].name, "Unpaid leave");
  tr_wf_model_free(m);
}

static void test_timer_boundary(void **state) {
  (void)state;
  tr_wf_model *m = load("timer_boundary.bpmn");
  const tr_wf_element *r = el(m, "Review"), *d = el(m, "Deadline"), *rem = el(m, "Reminder");
  assert_int_equal(r->n_boundaries, 2);
  assert_int_equal(d->type, TR_WF_BOUNDARY_EVENT);
  assert_int_equal(d->event, TR_WF_EV_TIMER);
  assert_true(d->cancel_activity);
  assert_string_equal(m->elements[d->attached_to].id, "Review");
  assert_int_equal(d->timer.kind, TR_WF_TIMER_DURATION);
  assert_int_equal(d->timer.duration.ms, 24 * 3600 * 1000);
  assert_string_equal(d->timer.text, "PT24H");
  assert_false(rem->cancel_activity);
  assert_int_equal(rem->timer.kind, TR_WF_TIMER_CYCLE);
  assert_int_equal(rem->timer.repeat, 3);
  assert_int_equal(rem->timer.duration.ms, 3600 * 1000);
  tr_wf_model_free(m);
}

static void test_error_boundary(void **state) {
  (void)state;
  tr_wf_model *m = load("error_boundary.bpmn");
  const tr_wf_element *d = el(m, "Declined"), *f = el(m, "Failed"), *any = el(m, "AnyError");
  assert_int_equal(d->event, TR_WF_EV_ERROR);
  assert_string_equal(m->errors[d->error].code, "CARD_DECLINED");
  assert_string_equal(m->errors[d->error].message, "The card was declined");
  assert_int_equal(f->type, TR_WF_END_EVENT);
  assert_int_equal(f->event, TR_WF_EV_ERROR);
  assert_string_equal(m->errors[f->error].code, "PAYMENT_FAILED");
  assert_int_equal(any->error, -1); /* catches every error */
  assert_int_equal(el(m, "Giveup")->event, TR_WF_EV_TERMINATE);
  assert_int_equal(m->n_errors, 2);
  tr_wf_model_free(m);
}

static void test_subprocess(void **state) {
  (void)state;
  tr_wf_model *m = load("subprocess.bpmn");
  const tr_wf_element *s = el(m, "Pack");
  assert_int_equal(s->type, TR_WF_SUBPROCESS);
  assert_int_equal(s->n_children, 4);
  assert_string_equal(m->elements[s->start].id, "PackStart");
  assert_int_equal(el(m, "Pick")->parent, s - m->elements);
  assert_int_equal(tr_wf_model_flow(m, "p2")->parent, s - m->elements);
  assert_int_equal(s->n_inputs, 1);
  assert_int_equal(s->n_outputs, 1);
  assert_int_equal(el(m, "Label")->type, TR_WF_TASK);
  const tr_wf_process *p = &m->processes[0];
  assert_int_equal(p->n_starts, 2); /* the none start and the nightly timer */
  const tr_wf_element *n = el(m, "Nightly");
  assert_int_equal(n->event, TR_WF_EV_TIMER);
  assert_int_equal(n->timer.kind, TR_WF_TIMER_CYCLE);
  assert_int_equal(n->timer.repeat, -1);
  assert_int_equal(n->timer.duration.days, 1);
  assert_true(n->timer.date_ms == INT64_C(1767232800000)); /* 2026-01-01T02:00:00Z */
  tr_wf_model_free(m);
}

static void test_call_activity(void **state) {
  (void)state;
  tr_wf_model *m = load("call_activity.bpmn");
  const tr_wf_element *c = el(m, "Fulfil");
  assert_int_equal(c->type, TR_WF_CALL_ACTIVITY);
  assert_string_equal(c->called_element, "order");
  assert_string_equal(c->called_binding, "latest");
  assert_int_equal(c->n_call_in, 3);
  assert_string_equal(c->call_in[0].source, "orderId");
  assert_string_equal(c->call_in[0].target, "orderId");
  assert_non_null(c->call_in[1].source_expr);
  assert_true(c->call_in[2].all);
  assert_int_equal(c->n_call_out, 1);
  assert_string_equal(c->call_out[0].target, "orderShipped");
  tr_wf_model_free(m);
}

static void test_messages(void **state) {
  (void)state;
  tr_wf_model *m = load("message.bpmn");
  const tr_wf_element *s = el(m, "ReturnRequested");
  assert_int_equal(s->event, TR_WF_EV_MESSAGE);
  assert_string_equal(m->messages[s->message].name, "ReturnRequested");
  const tr_wf_element *c = el(m, "Parcel");
  assert_int_equal(c->type, TR_WF_CATCH_EVENT);
  assert_string_equal(m->messages[c->message].name, "ParcelArrived");
  const tr_wf_element *w = el(m, "Wait");
  assert_int_equal(w->timer.kind, TR_WF_TIMER_DATE);
  assert_true(w->timer.date_ms == INT64_C(1798761540000)); /* 2026-12-31T23:59:00Z */
  const tr_wf_element *r = el(m, "Confirm");
  assert_int_equal(r->type, TR_WF_RECEIVE_TASK);
  assert_string_equal(m->messages[r->message].name, "ReturnConfirmed");
  const tr_wf_element *g = el(m, "Split");
  assert_int_equal(g->type, TR_WF_INCLUSIVE_GATEWAY);
  assert_string_equal(flow_id(m, g->default_flow), "f6");
  assert_null(tr_wf_model_element(m, "Participant_1")); /* collaboration: not executed */
  tr_wf_model_free(m);
}

/* ---- bad models: the exact list of problems ---- */

typedef struct want {
  int line, column;
  const char *id;
  const char *text; /* a substring of the message */
} want;

static void expect(const char *name, const char *xml, const want *w, int n, int warnings) {
  size_t len = 0;
  char *src = xml ? NULL : slurp(name, &len);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int rc = tr_wf_bpmn_parse(xml ? xml : src, xml ? strlen(xml) : len, &m, &pr);
  assert_int_equal(rc, TR_EPROTO);
  assert_null(m);
  int errors = 0;
  for (int i = 0; i < pr.n; i++) {
    const tr_wf_problem *p = &pr.items[i];
    print_message("%s %d:%d %s: %s\n", p->warning ? "warning" : "error", p->line, p->column,
                  p->main_id ? p->main_id : "-", p->message);
    if (p->warning) continue;
    assert_true(errors < n);
    const want *x = &w[errors++];
    assert_int_equal(p->line, x->line);
    assert_int_equal(p->column, x->column);
    if (x->id) assert_string_equal(p->main_id, x->id);
    else assert_null(p->main_id);
    if (!strstr(p->message, x->text)) fail_msg("'%s' lacks '%s'", p->message, x->text);
  }
  assert_int_equal(errors, n);
  assert_int_equal(pr.errors, n);
  assert_int_equal(pr.n - errors, warnings);
  tr_wf_problems_free(&pr);
  free(src);
}

static void test_bad_semantics(void **state) {
  (void)state;
  static const want w[] = {
      {6, 5, "Check", "external task 'Check' needs a topic"},
      {8, 5, "Decide", "default flow 'f1' of 'Decide' is not one of its outgoing flows"},
      {9, 5, "f3", "target 'Nowhere' of 'f3' does not exist"},
      {9, 5, "Decide", "outgoing sequence flow 'f3' without condition"},
      {10, 5, "Decide", "outgoing sequence flow 'f4' without condition"},
      {13, 9, "Wait", "'P1Q' is not an ISO 8601 duration"},
      {17, 5, "Script", "unsupported element 'scriptTask'"},
      {18, 5, "Check", "duplicate id 'Check'"},
      {20, 3, "empty", "process 'empty' has no start event"},
  };
  expect("bad_semantics.bpmn", NULL, w, 9, 3);
}

static void test_bad_unsupported(void **state) {
  (void)state;
  static const want w[] = {
      {5, 7, "Start", "unsupported element 'signalEventDefinition'"},
      {8, 5, "Bean", "camunda:class is not supported"},
      {8, 5, "Bean", "external task 'Bean' needs a topic"},
      {10, 9, "Bean", "unsupported element 'executionListener'"},
      {12, 7, "Bean", "unsupported element 'multiInstanceLoopCharacteristics'"},
      {15, 7, "f2", "invalid expression '${approved ==}'"},
  };
  expect("bad_unsupported.bpmn", NULL, w, 6, 0);
}

static void test_bad_xml(void **state) {
  (void)state;
  static const want w[] = {{5, 5, NULL, "XML is not well-formed: mismatched tag"}};
  expect("bad_xml.bpmn", NULL, w, 1, 0);
  static const want d[] = {{2, 16, NULL, "DOCTYPE is not allowed"}};
  expect("bad_doctype.bpmn", NULL, d, 1, 0);
  /* external entities never get a chance either */
  static const want x[] = {{1, 61, NULL, "DOCTYPE is not allowed"}};
  expect(NULL,
         "<?xml version=\"1.0\"?><!DOCTYPE d SYSTEM \"file:///etc/passwd\">"
         "<d>&x;</d>",
         x, 1, 0);
  static const want r[] = {{1, 1, NULL, "root element must be bpmn:definitions"}};
  expect(NULL, "<definitions/>", r, 1, 0);
  static const want e[] = {{1, 1, NULL, "not well-formed"}};
  expect(NULL, "", e, 1, 0);
}

static void test_bad_scopes(void **state) {
  (void)state;
  /* flows across a subprocess border, boundary on a gateway, a subprocess
   * without start, an error end without code, a message without name */
  static const char *xml =
      "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
      " xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\">\n"
      "<bpmn:process id=\"p\">\n"
      "<bpmn:startEvent id=\"s\"/>\n"
      "<bpmn:sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"inner\"/>\n"
      "<bpmn:subProcess id=\"sub\">\n"
      "<bpmn:task id=\"inner\"/>\n"
      "</bpmn:subProcess>\n"
      "<bpmn:exclusiveGateway id=\"g\"/>\n"
      "<bpmn:boundaryEvent id=\"b\" attachedToRef=\"g\"><bpmn:timerEventDefinition>"
      "<bpmn:timeDate>2026-02-30T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
      "<bpmn:endEvent id=\"e\"><bpmn:errorEventDefinition errorRef=\"err\"/></bpmn:endEvent>\n"
      "<bpmn:intermediateCatchEvent id=\"c\"><bpmn:messageEventDefinition messageRef=\"msg\"/></bpmn:intermediateCatchEvent>\n"
      "<bpmn:callActivity id=\"call\"/>\n"
      "<bpmn:boundaryEvent id=\"b2\" attachedToRef=\"call\" cancelActivity=\"false\"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>\n"
      "</bpmn:process>\n"
      "<bpmn:error id=\"err\"/>\n"
      "<bpmn:message id=\"msg\"/>\n"
      "</bpmn:definitions>\n";
  static const want w[] = {
      {5, 1, "f1", "connects 'inner' outside its own scope"},
      {6, 1, "sub", "subprocess 'sub' needs exactly one none start event"},
      {10, 1, "b", "not an activity"},
      {10, 73, "b", "not an ISO 8601 date"},
      {11, 1, "e", "error 'err' thrown by 'e' has no errorCode"},
      {12, 1, "c", "message 'msg' of 'c' has no name"},
      {13, 1, "call", "needs a calledElement"},
      {14, 1, "b2", "must be interrupting"},
  };
  expect(NULL, xml, w, 8, 13);
}

static void test_json_shape(void **state) {
  (void)state;
  size_t len;
  char *src = slurp("bad_semantics.bpmn", &len);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  assert_int_equal(tr_wf_bpmn_parse(src, len, &m, &pr), TR_EPROTO);
  char *out;
  assert_int_equal(tr_wf_problems_json(&pr, "invoice.bpmn", &out), 0);
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "ParseException");
  const char *msg = json_string_value(json_object_get(j, "message"));
  assert_non_null(strstr(msg, "ENGINE-09005 Could not parse BPMN process. Errors: \n* "));
  assert_non_null(strstr(msg, "| resource invoice.bpmn | line 6 | column 5"));
  json_t *res = json_object_get(json_object_get(j, "details"), "invoice.bpmn");
  json_t *errs = json_object_get(res, "errors"), *warns = json_object_get(res, "warnings");
  assert_int_equal(json_array_size(errs), 9);
  assert_int_equal(json_array_size(warns), 3);
  json_t *e0 = json_array_get(errs, 1);
  assert_int_equal(json_integer_value(json_object_get(e0, "line")), 8);
  assert_int_equal(json_integer_value(json_object_get(e0, "column")), 5);
  assert_string_equal(json_string_value(json_object_get(e0, "mainElementId")), "Decide");
  json_t *ids = json_object_get(e0, "elementIds");
  assert_int_equal(json_array_size(ids), 2);
  assert_string_equal(json_string_value(json_array_get(ids, 1)), "f1");
  json_decref(j);
  free(out);
  tr_wf_problems_free(&pr);
  free(src);
}

static void test_limits(void **state) {
  (void)state;
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  /* nesting */
  size_t n = 200, k = 0;
  char *x = malloc(n * 8 + 64);
  k += (size_t)sprintf(x, "<bpmn:definitions xmlns:bpmn=\"%s\">", "http://www.omg.org/spec/BPMN/20100524/MODEL");
  for (size_t i = 0; i < n; i++) k += (size_t)sprintf(x + k, "<a>");
  assert_int_equal(tr_wf_bpmn_parse(x, k, &m, &pr), TR_EPROTO);
  assert_non_null(strstr(pr.items[0].message, "nested deeper"));
  tr_wf_problems_free(&pr);
  free(x);
  /* size: refused before parsing */
  char *big = calloc(1, TR_WF_MAX_SOURCE + 1);
  assert_int_equal(tr_wf_bpmn_parse(big, TR_WF_MAX_SOURCE + 1, &m, &pr), TR_EPROTO);
  assert_non_null(strstr(pr.items[0].message, "larger than"));
  tr_wf_problems_free(&pr);
  free(big);
  /* at most TR_WF_MAX_PROBLEMS problems are kept, all errors counted */
  size_t cap = 200 * 64 + 256;
  char *many = malloc(cap);
  k = (size_t)sprintf(many, "<bpmn:definitions xmlns:bpmn=\"%s\"><bpmn:process id=\"p\">",
                      "http://www.omg.org/spec/BPMN/20100524/MODEL");
  for (int i = 0; i < 200; i++) k += (size_t)sprintf(many + k, "<bpmn:scriptTask id=\"s%d\"/>", i);
  k += (size_t)sprintf(many + k, "</bpmn:process></bpmn:definitions>");
  assert_int_equal(tr_wf_bpmn_parse(many, k, &m, &pr), TR_EPROTO);
  assert_int_equal(pr.n, TR_WF_MAX_PROBLEMS);
  assert_true(pr.truncated);
  assert_true(pr.errors >= 201);
  tr_wf_problems_free(&pr);
  free(many);
}

/* Messages quote source text cut at a byte limit: the JSON must still be
 * valid UTF-8. And text mixed with ${...} is named as such. */
static void test_utf8_and_templates(void **state) {
  (void)state;
  char xml[2048];
  char cond[400] = "${a";
  for (int i = 0; i < 60; i++) strcat(cond, " \xc3\xa9"); /* "é", 3 bytes with the space */
  snprintf(xml, sizeof xml,
           "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
           "xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\"><bpmn:process id=\"p\">"
           "<bpmn:startEvent id=\"s\"/><bpmn:sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\">"
           "<bpmn:conditionExpression>%s}</bpmn:conditionExpression></bpmn:sequenceFlow>"
           "<bpmn:endEvent id=\"e\"><bpmn:extensionElements><camunda:inputOutput>"
           "<camunda:inputParameter name=\"x\">Hello ${name}</camunda:inputParameter>"
           "</camunda:inputOutput></bpmn:extensionElements></bpmn:endEvent>"
           "</bpmn:process></bpmn:definitions>",
           cond);
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  assert_int_equal(tr_wf_bpmn_parse(xml, strlen(xml), &m, &pr), TR_EPROTO);
  assert_int_equal(pr.errors, 2);
  assert_non_null(strstr(pr.items[0].message, "invalid expression"));
  assert_non_null(strstr(pr.items[1].message, "text mixed with ${...} is not supported"));
  char *out;
  assert_int_equal(tr_wf_problems_json(&pr, "r\xc3", &out), 0); /* even a broken resource name */
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  json_decref(j);
  free(out);
  tr_wf_problems_free(&pr);
}

/* Prefixes are the author's choice: a default namespace, bpmn2: or any
 * other prefix mean the same; an element of the right name in another
 * namespace is not BPMN. */
static void test_namespaces(void **state) {
  (void)state;
  static const char *xml =
      "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
      " xmlns:c=\"http://camunda.org/schema/1.0/bpmn\" xmlns:x=\"urn:other\">\n"
      "<process id=\"p\" isExecutable=\"true\">\n"
      "<startEvent id=\"s\"/>\n"
      "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>\n"
      "<serviceTask id=\"t\" c:type=\"external\" c:topic=\"work\" x:topic=\"ignored\">\n"
      "<extensionElements><x:whatever><x:serviceTask/></x:whatever></extensionElements>\n"
      "</serviceTask>\n"
      "<x:scriptTask id=\"foreign\"/>\n"
      "<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n"
      "<endEvent id=\"e\"/>\n"
      "</process></definitions>\n";
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  assert_int_equal(tr_wf_bpmn_parse(xml, strlen(xml), &m, &pr), 0);
  assert_int_equal(pr.n, 0);
  assert_string_equal(tr_wf_model_element(m, "t")->topic, "work");
  assert_null(tr_wf_model_element(m, "foreign"));
  tr_wf_model_free(m);
  static const char *bpmn2 =
      "<bpmn2:definitions xmlns:bpmn2=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
      "<bpmn2:process id=\"p\"><bpmn2:startEvent id=\"s\"/></bpmn2:process></bpmn2:definitions>";
  assert_int_equal(tr_wf_bpmn_parse(bpmn2, strlen(bpmn2), &m, &pr), 0);
  assert_int_equal(m->n_elements, 1);
  tr_wf_model_free(m);
  tr_wf_problems_free(&pr);
  /* an undeclared prefix is not well-formed in namespace mode */
  static const char *undeclared = "<bpmn:definitions/>";
  assert_int_equal(tr_wf_bpmn_parse(undeclared, strlen(undeclared), &m, &pr), TR_EPROTO);
  assert_non_null(strstr(pr.items[0].message, "unbound prefix"));
  tr_wf_problems_free(&pr);
}

/* ---- timers ---- */

static void test_timers(void **state) {
  (void)state;
  tr_wf_duration d;
  assert_int_equal(tr_wf_duration_parse("P1Y2M3W4DT5H6M7.5S", 18, &d), 0);
  assert_int_equal(d.years, 1);
  assert_int_equal(d.months, 2);
  assert_int_equal(d.days, 25);
  assert_true(d.ms == ((5 * 60 + 6) * 60 + 7) * INT64_C(1000) + 500);
  assert_int_equal(tr_wf_duration_parse("PT0.25S", 7, &d), 0);
  assert_true(d.ms == 250);
  static const char *bad_durations[] = {"P", "PT", "1D", "P1H", "PT1D", "P1DT", "P1.5D", "P1S",
                                        "PT1.5M2S", "P1M1Y", "P-1D", "P1D ", "PT1H1H",
                                        "P1234567890D"};
  for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++)
    if (tr_wf_duration_parse(bad_durations[i], strlen(bad_durations[i]), &d) == 0)
      fail_msg("accepted %s", bad_durations[i]);
  int64_t t;
  assert_int_equal(tr_wf_date_parse("1970-01-01T00:00:00Z", 20, &t), 0);
  assert_true(t == 0);
  assert_int_equal(tr_wf_date_parse("2024-02-29T12:00:00.123+02:00", 29, &t), 0);
  assert_true(t == INT64_C(1709200800123));
  assert_int_equal(tr_wf_date_parse("2024-02-29", 10, &t), 0);
  static const char *bad_dates[] = {"2023-02-29T00:00:00Z", "2024-13-01T00:00Z", "2024-01-01T24:00Z",
                                    "2024-1-01", "2024-01-01T00:00:00X", "2024-01-01T00:00+19:00",
                                    "tomorrow"};
  for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++)
    if (tr_wf_date_parse(bad_dates[i], strlen(bad_dates[i]), &t) == 0) fail_msg("accepted %s", bad_dates[i]);
  /* calendar arithmetic: a month after Jan 31 is the end of February */
  assert_int_equal(tr_wf_date_parse("2024-01-31T10:00:00Z", 20, &t), 0);
  tr_wf_duration month = {.months = 1};
  int64_t after, want;
  assert_int_equal(tr_wf_duration_add(&month, t, &after), 0);
  assert_int_equal(tr_wf_date_parse("2024-02-29T10:00:00Z", 20, &want), 0);
  assert_true(after == want);
  tr_wf_duration huge = {.years = 1000000};
  assert_int_equal(tr_wf_duration_add(&huge, t, &after), TR_ERANGE);
  /* cycles */
  tr_wf_timer tm = {0};
  char err[160];
  assert_int_equal(tr_wf_timer_parse(TR_WF_TIMER_CYCLE, "R5/PT10M", 8, &tm, err, sizeof err), 0);
  assert_int_equal(tm.repeat, 5);
  assert_true(tm.duration.ms == 600000);
  assert_int_equal(tr_wf_timer_parse(TR_WF_TIMER_CYCLE, "R/P1D/2027-01-01T00:00:00Z", 26, &tm, err, sizeof err), 0);
  assert_int_equal(tm.repeat, -1);
  assert_true(tm.end_ms > 0);
  assert_int_equal(tr_wf_timer_parse(TR_WF_TIMER_CYCLE, "0 0/5 * * * ?", 13, &tm, err, sizeof err), TR_EPROTO);
  assert_non_null(strstr(err, "cron"));
  assert_int_equal(tr_wf_timer_parse(TR_WF_TIMER_CYCLE, "R3/PT0S", 7, &tm, err, sizeof err), TR_EPROTO);
  /* expressions are kept for run time */
  assert_int_equal(tr_wf_timer_parse(TR_WF_TIMER_DURATION, " ${wait} ", 9, &tm, err, sizeof err), 0);
  assert_true(tm.is_expr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order),           cmocka_unit_test(test_parallel),
      cmocka_unit_test(test_user_task),       cmocka_unit_test(test_timer_boundary),
      cmocka_unit_test(test_error_boundary),  cmocka_unit_test(test_subprocess),
      cmocka_unit_test(test_call_activity),   cmocka_unit_test(test_messages),
      cmocka_unit_test(test_bad_semantics),   cmocka_unit_test(test_bad_unsupported),
      cmocka_unit_test(test_bad_xml),         cmocka_unit_test(test_bad_scopes),
      cmocka_unit_test(test_json_shape),      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_timers),          cmocka_unit_test(test_utf8_and_templates),
      cmocka_unit_test(test_namespaces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
