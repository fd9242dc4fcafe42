/* bpmn.c - BPMN 2.0 XML (as Camunda Modeler writes it) to a process model.
 *
 * expat in namespace mode, so that bpmn:, bpmn2: or a default namespace all
 * mean the same thing: names arrive as "<uri> <local>". A stack of frames
 * says what each open XML element is in the model; handlers look at the
 * top frame only. Diagram interchange (bpmndi, dc, di) and other tools'
 * extensions are skipped; any BPMN or camunda element the engine would not
 * execute as written is reported, never silently dropped.
 *
 * Hardening: DOCTYPE is refused outright (no DTD means no entity
 * declarations, so no expansion attacks and no external entities), and
 * input size and nesting depth are bounded (parse.h).
 */
#include <expat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/parse.h"
#include "troupe/error.h"

#define NS_BPMN "http://www.omg.org/spec/BPMN/20100524/MODEL"
#define NS_CAMUNDA "http://camunda.org/schema/1.0/bpmn"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"

enum ns { N_NONE, N_BPMN, N_CAMUNDA, N_XSI, N_OTHER };

typedef enum {
  F_ROOT,
  F_DEFINITIONS,
  F_CONTAINER, /* process or subprocess: holds flow elements */
  F_NODE,      /* a flow node */
  F_FLOW,
  F_CONDITION, /* text */
  F_TIMERDEF,
  F_TIMERVALUE, /* text */
  F_EXT,        /* extensionElements */
  F_IO,
  F_PARAM, /* text */
  F_FORMDATA,
  F_FIELD,
  F_VALIDATION,
  F_LEAF, /* an element whose children are not expected (reported) */
  F_SKIP  /* subtree ignored */
} fkind;

typedef struct frame {
  fkind kind;
  int32_t process; /* F_CONTAINER and below */
  int32_t parent;  /* enclosing subprocess element, -1 */
  int32_t el;      /* F_NODE..: element; F_FLOW, F_CONDITION: flow */
  int32_t aux;     /* F_TIMERVALUE: kind; F_PARAM: index; F_FIELD: index */
  bool output;     /* F_PARAM: an output parameter */
  int line, column;
} frame;

typedef struct bp {
  XML_Parser x;
  tr_wf_model *m;
  tr_wf_problems *pr;
  frame stack[TR_WF_MAX_NESTING + 1];
  int depth;
  char *text;
  size_t tlen, tcap;
  bool text_over;
  bool fatal; /* stopped: the document cannot be read further */
  bool saw_root;
} bp;

static enum ns ns_of(const char *name, const char **local) {
  const char *sp = strchr(name, ' ');
  if (!sp) {
    *local = name;
    return N_NONE;
  }
  *local = sp + 1;
  size_t n = (size_t)(sp - name);
#define IS(u) (n == sizeof(u) - 1 && memcmp(name, u, n) == 0)
  if (IS(NS_BPMN)) return N_BPMN;
  if (IS(NS_CAMUNDA)) return N_CAMUNDA;
  if (IS(NS_XSI)) return N_XSI;
#undef IS
  return N_OTHER;
}

/* The value of attribute (ns, local), or NULL. */
static const char *attr(const XML_Char **atts, enum ns want, const char *local) {
  for (int i = 0; atts[i]; i += 2) {
    const char *l;
    if (ns_of(atts[i], &l) == want && strcmp(l, local) == 0) return atts[i + 1];
  }
  return NULL;
}

static int line_of(bp *b) { return (int)XML_GetCurrentLineNumber(b->x); }
static int col_of(bp *b) { return (int)XML_GetCurrentColumnNumber(b->x) + 1; }

#define ERR(id, ...) tr_wf_problems_add(b->pr, false, line_of(b), col_of(b), id, __VA_ARGS__)
#define WARN(id, ...) tr_wf_problems_add(b->pr, true, line_of(b), col_of(b), id, __VA_ARGS__)

static const char *S(bp *b, const char *s) { return s ? tr_wf_model_str(b->m, s, strlen(s)) : NULL; }

static tr_wf_element *EL(bp *b, int32_t i) { return &b->m->elements[i]; }

/* The id to name in a problem about the element at the top of the stack. */
static const char *top_id(bp *b) {
  for (int d = b->depth - 1; d >= 0; d--) {
    frame *f = &b->stack[d];
    if (f->el >= 0 && (f->kind == F_FLOW || f->kind == F_CONDITION))
      return b->m->flows[f->el].id;
    if (f->el >= 0 && f->kind != F_DEFINITIONS && f->kind != F_ROOT) return EL(b, f->el)->id;
    if (f->kind == F_CONTAINER && f->process >= 0) return b->m->processes[f->process].id;
  }
  return NULL;
}

static void unsupported(bp *b, const char *local, const XML_Char **atts, const char *why) {
  const char *id = attr(atts, N_NONE, "id");
  if (!id) id = top_id(b);
  ERR(id, "unsupported element '%s'%s%s", local, why ? ": " : "", why ? why : "");
}

static const struct {
  const char *name;
  tr_wf_type type;
} node_types[] = {
    {"startEvent", TR_WF_START_EVENT},
    {"endEvent", TR_WF_END_EVENT},
    {"intermediateCatchEvent", TR_WF_CATCH_EVENT},
    {"intermediateThrowEvent", TR_WF_THROW_EVENT},
    {"boundaryEvent", TR_WF_BOUNDARY_EVENT},
    {"task", TR_WF_TASK},
    {"manualTask", TR_WF_TASK},
    {"serviceTask", TR_WF_SERVICE_TASK},
    {"userTask", TR_WF_USER_TASK},
    {"sendTask", TR_WF_SEND_TASK},
    {"receiveTask", TR_WF_RECEIVE_TASK},
    {"exclusiveGateway", TR_WF_EXCLUSIVE_GATEWAY},
    {"parallelGateway", TR_WF_PARALLEL_GATEWAY},
    {"inclusiveGateway", TR_WF_INCLUSIVE_GATEWAY},
    {"subProcess", TR_WF_SUBPROCESS},
    {"callActivity", TR_WF_CALL_ACTIVITY},
};

/* BPMN elements that carry no execution semantics: accepted, skipped. */
static bool is_artifact(const char *l) {
  static const char *names[] = {"documentation", "laneSet",       "textAnnotation", "association",
                                "group",         "dataObject",    "dataObjectReference",
                                "dataStoreReference", "category", "collaboration",
                                "itemDefinition", "signal",       "escalation",     "import",
                                "extensionElements", "incoming",  "outgoing",       "property",
                                "dataStore",     "relationship", "interface"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(l, names[i]) == 0) return true;
  return false;
}

static void push(bp *b, fkind kind, int32_t process, int32_t parent, int32_t el, int32_t aux) {
  frame *f = &b->stack[b->depth++];
  *f = (frame){kind, process, parent, el, aux, false, line_of(b), col_of(b)};
}

static void text_start(bp *b) {
  b->tlen = 0;
  b->text_over = false;
}

/* Activity and gateway attributes common to every flow node. */
static void node_attrs(bp *b, int32_t i, const XML_Char **atts) {
  tr_wf_element *e = EL(b, i);
  e->name = S(b, attr(atts, N_NONE, "name"));
  e->default_ref = S(b, attr(atts, N_NONE, "default"));
  const char *ab = attr(atts, N_CAMUNDA, "asyncBefore"), *aa = attr(atts, N_CAMUNDA, "asyncAfter");
  e->async_before = ab && strcmp(ab, "true") == 0;
  e->async_after = aa && strcmp(aa, "true") == 0;
  /* implementations other than external tasks run code inside a JVM:
   * nothing to run them with here */
  static const char *code[] = {"class", "expression", "delegateExpression", "resultVariable"};
  for (size_t k = 0; k < sizeof code / sizeof code[0]; k++)
    if (attr(atts, N_CAMUNDA, code[k]))
      ERR(e->id, "'%s': camunda:%s is not supported; use camunda:type=\"external\"", e->id, code[k]);
  switch (e->type) {
  case TR_WF_SERVICE_TASK:
  case TR_WF_SEND_TASK: {
    const char *type = attr(atts, N_CAMUNDA, "type");
    if (type && strcmp(type, "external") != 0)
      ERR(e->id, "'%s': camunda:type=\"%s\" is not supported; only \"external\"", e->id, type);
    else if (type)
      e->topic = S(b, attr(atts, N_CAMUNDA, "topic"));
    e->task_priority = S(b, attr(atts, N_CAMUNDA, "taskPriority"));
    if (e->type == TR_WF_SEND_TASK) e->message_ref = S(b, attr(atts, N_NONE, "messageRef"));
    break;
  }
  case TR_WF_USER_TASK:
    e->assignee = S(b, attr(atts, N_CAMUNDA, "assignee"));
    e->candidate_users = S(b, attr(atts, N_CAMUNDA, "candidateUsers"));
    e->candidate_groups = S(b, attr(atts, N_CAMUNDA, "candidateGroups"));
    e->form_key = S(b, attr(atts, N_CAMUNDA, "formKey"));
    e->due_date = S(b, attr(atts, N_CAMUNDA, "dueDate"));
    e->follow_up_date = S(b, attr(atts, N_CAMUNDA, "followUpDate"));
    e->priority = S(b, attr(atts, N_CAMUNDA, "priority"));
    break;
  case TR_WF_START_EVENT:
    e->form_key = S(b, attr(atts, N_CAMUNDA, "formKey"));
    break;
  case TR_WF_RECEIVE_TASK:
    e->message_ref = S(b, attr(atts, N_NONE, "messageRef"));
    break;
  case TR_WF_BOUNDARY_EVENT: {
    e->attached_ref = S(b, attr(atts, N_NONE, "attachedToRef"));
    const char *ca = attr(atts, N_NONE, "cancelActivity");
    e->cancel_activity = !(ca && strcmp(ca, "false") == 0);
    break;
  }
  case TR_WF_CALL_ACTIVITY:
    e->called_element = S(b, attr(atts, N_NONE, "calledElement"));
    e->called_binding = S(b, attr(atts, N_CAMUNDA, "calledElementBinding"));
    e->called_version = S(b, attr(atts, N_CAMUNDA, "calledElementVersion"));
    break;
  case TR_WF_SUBPROCESS: {
    const char *t = attr(atts, N_NONE, "triggeredByEvent");
    if (t && strcmp(t, "true") == 0) ERR(e->id, "'%s': event subprocesses are not supported", e->id);
    break;
  }
  default:
    break;
  }
}

/* A child of a process or subprocess. */
static void in_container(bp *b, frame *top, enum ns ns, const char *l, const XML_Char **atts) {
  if (ns == N_BPMN) {
    for (size_t k = 0; k < sizeof node_types / sizeof node_types[0]; k++) {
      if (strcmp(l, node_types[k].name) != 0) continue;
      int32_t i = tr_wf_model_add_element(b->m, node_types[k].type, attr(atts, N_NONE, "id"),
                                          top->process, top->parent, line_of(b), col_of(b));
      if (i < 0) break;
      node_attrs(b, i, atts);
      if (node_types[k].type == TR_WF_SUBPROCESS) push(b, F_CONTAINER, top->process, i, i, 0);
      else push(b, F_NODE, top->process, top->parent, i, 0);
      return;
    }
    if (strcmp(l, "sequenceFlow") == 0) {
      int32_t i = tr_wf_model_add_flow(b->m, attr(atts, N_NONE, "id"), top->process, top->parent,
                                       line_of(b), col_of(b));
      if (i >= 0) {
        tr_wf_flow *f = &b->m->flows[i];
        f->name = S(b, attr(atts, N_NONE, "name"));
        f->source_ref = S(b, attr(atts, N_NONE, "sourceRef"));
        f->target_ref = S(b, attr(atts, N_NONE, "targetRef"));
        push(b, F_FLOW, top->process, top->parent, i, 0);
        return;
      }
    } else if (strcmp(l, "extensionElements") == 0) {
      push(b, F_EXT, top->process, top->parent, top->el, 0);
      return;
    } else if (!is_artifact(l)) {
      unsupported(b, l, atts, NULL);
    }
  }
  push(b, F_SKIP, -1, -1, -1, 0);
}

/* A child of a flow node: event definitions, extensions, loops. */
static void in_node(bp *b, frame *top, enum ns ns, const char *l, const XML_Char **atts) {
  tr_wf_element *e = EL(b, top->el);
  if (ns == N_BPMN && strstr(l, "EventDefinition")) {
    bool is_event = e->type == TR_WF_START_EVENT || e->type == TR_WF_END_EVENT ||
                    e->type == TR_WF_CATCH_EVENT || e->type == TR_WF_THROW_EVENT ||
                    e->type == TR_WF_BOUNDARY_EVENT;
    tr_wf_event ev = TR_WF_EV_NONE;
    if (strcmp(l, "messageEventDefinition") == 0) ev = TR_WF_EV_MESSAGE;
    else if (strcmp(l, "timerEventDefinition") == 0) ev = TR_WF_EV_TIMER;
    else if (strcmp(l, "errorEventDefinition") == 0) ev = TR_WF_EV_ERROR;
    else if (strcmp(l, "terminateEventDefinition") == 0) ev = TR_WF_EV_TERMINATE;
    if (!is_event || ev == TR_WF_EV_NONE) {
      unsupported(b, l, atts, is_event ? NULL : "not on an event");
    } else if (e->event != TR_WF_EV_NONE) {
      ERR(e->id, "'%s' has more than one event definition; that is not supported", e->id);
    } else {
      e->event = ev;
      if (ev == TR_WF_EV_MESSAGE) e->message_ref = S(b, attr(atts, N_NONE, "messageRef"));
      if (ev == TR_WF_EV_ERROR) e->error_ref = S(b, attr(atts, N_NONE, "errorRef"));
      if (ev == TR_WF_EV_TIMER) {
        push(b, F_TIMERDEF, top->process, top->parent, top->el, 0);
        return;
      }
    }
  } else if (ns == N_BPMN && strcmp(l, "extensionElements") == 0) {
    push(b, F_EXT, top->process, top->parent, top->el, 0);
    return;
  } else if (ns == N_BPMN && !is_artifact(l)) {
    unsupported(b, l, atts, NULL);
  }
  push(b, F_SKIP, -1, -1, -1, 0);
}

static void in_ext(bp *b, frame *top, enum ns ns, const char *l, const XML_Char **atts) {
  if (ns != N_CAMUNDA || top->el < 0) { /* other tools' extensions; process-level ones */
    if (ns == N_CAMUNDA && (strcmp(l, "executionListener") == 0))
      unsupported(b, l, atts, "listeners run Java code");
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  }
  tr_wf_element *e = EL(b, top->el);
  if (strcmp(l, "inputOutput") == 0) {
    push(b, F_IO, top->process, top->parent, top->el, 0);
    return;
  }
  if (strcmp(l, "formData") == 0 && (e->type == TR_WF_USER_TASK || e->type == TR_WF_START_EVENT)) {
    push(b, F_FORMDATA, top->process, top->parent, top->el, 0);
    return;
  }
  if ((strcmp(l, "in") == 0 || strcmp(l, "out") == 0) && e->type == TR_WF_CALL_ACTIVITY) {
    bool out = l[0] == 'o';
    tr_wf_call_var *v = out ? tr_wf_model_push(b->m, &e->call_out, &e->n_call_out, sizeof *v)
                            : tr_wf_model_push(b->m, &e->call_in, &e->n_call_in, sizeof *v);
    if (v) {
      const char *vars = attr(atts, N_NONE, "variables"), *local = attr(atts, N_NONE, "local");
      const char *src = attr(atts, N_NONE, "source"), *sx = attr(atts, N_NONE, "sourceExpression");
      v->all = vars && strcmp(vars, "all") == 0;
      v->local = local && strcmp(local, "true") == 0;
      v->source = S(b, src);
      v->target = S(b, attr(atts, N_NONE, "target"));
      if (sx) v->source_expr = tr_wf_model_expr(b->m, sx, strlen(sx), b->pr, e->id, line_of(b), col_of(b));
      if (attr(atts, N_NONE, "businessKey"))
        ERR(e->id, "'%s': camunda:in businessKey is not supported", e->id);
      else if (!v->all && !v->target)
        ERR(e->id, "'%s': camunda:%s needs a target (or variables=\"all\")", e->id, l);
    }
    push(b, F_LEAF, -1, -1, -1, 0);
    return;
  }
  if (strcmp(l, "properties") == 0 || strcmp(l, "failedJobRetryTimeCycle") == 0) {
    push(b, F_SKIP, -1, -1, -1, 0); /* metadata; retries are the job queue's */
    return;
  }
  unsupported(b, l, atts, strstr(l, "Listener") ? "listeners run Java code" : NULL);
  push(b, F_SKIP, -1, -1, -1, 0);
}

static void start_el(void *ud, const XML_Char *name, const XML_Char **atts) {
  bp *b = ud;
  if (b->fatal) return;
  if (b->depth >= TR_WF_MAX_NESTING) {
    ERR(NULL, "elements nested deeper than %d", TR_WF_MAX_NESTING);
    b->fatal = true;
    XML_StopParser(b->x, XML_FALSE);
    return;
  }
  const char *l;
  enum ns ns = ns_of(name, &l);
  frame *top = &b->stack[b->depth - 1];
  switch (top->kind) {
  case F_ROOT:
    if (ns != N_BPMN || strcmp(l, "definitions") != 0) {
      ERR(NULL, "not a BPMN 2.0 document: the root element must be bpmn:definitions");
      b->fatal = true;
      XML_StopParser(b->x, XML_FALSE);
      return;
    }
    b->saw_root = true;
    push(b, F_DEFINITIONS, -1, -1, -1, 0);
    return;
  case F_DEFINITIONS: {
    int line = line_of(b), col = col_of(b);
    const char *id = attr(atts, N_NONE, "id");
    if (ns == N_BPMN && strcmp(l, "process") == 0) {
      int32_t p = tr_wf_model_add_process(b->m, id, line, col);
      if (p >= 0) {
        tr_wf_process *pp = &b->m->processes[p];
        pp->name = S(b, attr(atts, N_NONE, "name"));
        pp->version_tag = S(b, attr(atts, N_CAMUNDA, "versionTag"));
        const char *ex = attr(atts, N_NONE, "isExecutable");
        pp->executable = ex && strcmp(ex, "true") == 0;
        push(b, F_CONTAINER, p, -1, -1, 0);
        return;
      }
    } else if (ns == N_BPMN && strcmp(l, "message") == 0) {
      int32_t i = tr_wf_model_add_message(b->m, id, line, col);
      if (i >= 0) b->m->messages[i].name = S(b, attr(atts, N_NONE, "name"));
    } else if (ns == N_BPMN && strcmp(l, "error") == 0) {
      int32_t i = tr_wf_model_add_error(b->m, id, line, col);
      if (i >= 0) {
        tr_wf_error *e = &b->m->errors[i];
        e->name = S(b, attr(atts, N_NONE, "name"));
        e->code = S(b, attr(atts, N_NONE, "errorCode"));
        e->message = S(b, attr(atts, N_CAMUNDA, "errorMessage"));
      }
    } else if (ns == N_BPMN && !is_artifact(l)) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  }
  case F_CONTAINER:
    in_container(b, top, ns, l, atts);
    return;
  case F_NODE:
    in_node(b, top, ns, l, atts);
    return;
  case F_FLOW:
    if (ns == N_BPMN && strcmp(l, "conditionExpression") == 0) {
      const char *lang = attr(atts, N_NONE, "language");
      if (lang && strcmp(lang, "juel") != 0) {
        unsupported(b, l, atts, "script conditions are not supported");
      } else {
        text_start(b);
        push(b, F_CONDITION, top->process, top->parent, top->el, 0);
        return;
      }
    } else if (ns == N_BPMN && strcmp(l, "extensionElements") == 0) {
      push(b, F_EXT, -1, -1, -1, 0); /* listeners on a flow: reported there */
      return;
    } else if (ns == N_BPMN && !is_artifact(l)) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_TIMERDEF:
    if (ns == N_BPMN && (strcmp(l, "timeDuration") == 0 || strcmp(l, "timeDate") == 0 ||
                         strcmp(l, "timeCycle") == 0)) {
      tr_wf_element *e = EL(b, top->el);
      if (e->timer.kind != TR_WF_TIMER_NONE) {
        ERR(e->id, "timer '%s' has more than one of timeDuration, timeDate and timeCycle", e->id);
      } else {
        tr_wf_timer_kind k = l[4] == 'D' && l[5] == 'u' ? TR_WF_TIMER_DURATION
                             : l[4] == 'D'              ? TR_WF_TIMER_DATE
                                                        : TR_WF_TIMER_CYCLE;
        e->timer.kind = k; /* the value is checked at the end tag */
        text_start(b);
        push(b, F_TIMERVALUE, top->process, top->parent, top->el, k);
        return;
      }
    } else if (ns == N_BPMN && !is_artifact(l)) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_EXT:
    in_ext(b, top, ns, l, atts);
    return;
  case F_IO:
    if (ns == N_CAMUNDA && (strcmp(l, "inputParameter") == 0 || strcmp(l, "outputParameter") == 0)) {
      tr_wf_element *e = EL(b, top->el);
      bool out = l[0] == 'o';
      int32_t *n = out ? &e->n_outputs : &e->n_inputs;
      tr_wf_param *p = out ? tr_wf_model_push(b->m, &e->outputs, n, sizeof *p)
                           : tr_wf_model_push(b->m, &e->inputs, n, sizeof *p);
      if (p) {
        const char *nm = attr(atts, N_NONE, "name");
        p->name = S(b, nm);
        if (!nm || !*nm) ERR(e->id, "'%s': camunda:%s without a name", e->id, l);
        text_start(b);
        frame *f = &b->stack[b->depth];
        push(b, F_PARAM, top->process, top->parent, top->el, *n - 1);
        f->output = out;
        return;
      }
    } else if (ns == N_CAMUNDA) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_PARAM:
    unsupported(b, l, atts, "only text and ${...} values are supported");
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_FORMDATA:
    if (ns == N_CAMUNDA && strcmp(l, "formField") == 0) {
      tr_wf_element *e = EL(b, top->el);
      tr_wf_form_field *f = tr_wf_model_push(b->m, &e->fields, &e->n_fields, sizeof *f);
      if (f) {
        f->id = S(b, attr(atts, N_NONE, "id"));
        f->label = S(b, attr(atts, N_NONE, "label"));
        f->type = S(b, attr(atts, N_NONE, "type"));
        f->default_value = S(b, attr(atts, N_NONE, "defaultValue"));
        if (!f->id || !*f->id) ERR(e->id, "'%s': a form field without an id", e->id);
        static const char *types[] = {"string", "long", "boolean", "date", "enum"};
        bool known = !f->type;
        for (size_t k = 0; f->type && k < sizeof types / sizeof types[0]; k++)
          known |= strcmp(f->type, types[k]) == 0;
        if (!known) ERR(e->id, "'%s': form field type '%s' is not supported", e->id, f->type);
        push(b, F_FIELD, top->process, top->parent, top->el, e->n_fields - 1);
        return;
      }
    } else if (ns == N_CAMUNDA) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_FIELD: {
    tr_wf_element *e = EL(b, top->el);
    tr_wf_form_field *f = &e->fields[top->aux];
    if (ns == N_CAMUNDA && strcmp(l, "validation") == 0) {
      push(b, F_VALIDATION, top->process, top->parent, top->el, top->aux);
      return;
    }
    if (ns == N_CAMUNDA && strcmp(l, "value") == 0) {
      tr_wf_form_value *v = tr_wf_model_push(b->m, &f->values, &f->n_values, sizeof *v);
      if (v) {
        v->id = S(b, attr(atts, N_NONE, "id"));
        v->name = S(b, attr(atts, N_NONE, "name"));
      }
    } else if (ns == N_CAMUNDA && strcmp(l, "properties") != 0) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  }
  case F_VALIDATION:
    if (ns == N_CAMUNDA && strcmp(l, "constraint") == 0) {
      tr_wf_form_field *f = &EL(b, top->el)->fields[top->aux];
      tr_wf_form_constraint *c = tr_wf_model_push(b->m, &f->constraints, &f->n_constraints, sizeof *c);
      if (c) {
        c->name = S(b, attr(atts, N_NONE, "name"));
        c->config = S(b, attr(atts, N_NONE, "config"));
      }
    } else if (ns == N_CAMUNDA) {
      unsupported(b, l, atts, NULL);
    }
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_CONDITION:
  case F_TIMERVALUE:
  case F_LEAF:
    if (ns == N_BPMN || ns == N_CAMUNDA) unsupported(b, l, atts, "no child elements expected here");
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  case F_SKIP:
    push(b, F_SKIP, -1, -1, -1, 0);
    return;
  }
}

static void end_el(void *ud, const XML_Char *name) {
  bp *b = ud;
  (void)name;
  if (b->fatal || b->depth <= 1) return;
  frame *f = &b->stack[--b->depth];
  if (f->kind != F_CONDITION && f->kind != F_TIMERVALUE && f->kind != F_PARAM) return;
  if (b->text_over) {
    tr_wf_problems_add(b->pr, false, f->line, f->column, top_id(b), "text longer than %d bytes",
                       TR_WF_MAX_TEXT);
    return;
  }
  const char *t = b->text ? b->text : "";
  size_t n = b->tlen;
  if (f->kind == F_CONDITION) {
    tr_wf_flow *fl = &b->m->flows[f->el];
    size_t s = 0;
    while (s < n && (t[s] == ' ' || t[s] == '\t' || t[s] == '\r' || t[s] == '\n')) s++;
    if (s == n) return; /* an empty condition is no condition */
    fl->condition = tr_wf_model_expr(b->m, t, n, b->pr, fl->id, f->line, f->column);
  } else if (f->kind == F_TIMERVALUE) {
    tr_wf_element *e = EL(b, f->el);
    char err[160];
    e->timer.text = tr_wf_model_str(b->m, t, n);
    if (tr_wf_timer_parse((tr_wf_timer_kind)f->aux, t, n, &e->timer, err, sizeof err) < 0)
      tr_wf_problems_add(b->pr, false, f->line, f->column, e->id, "timer of '%s': '%.*s' is %s",
                         e->id, (int)(n > 60 ? 60 : n), t, err);
  } else {
    tr_wf_element *e = EL(b, f->el);
    tr_wf_param *p = f->output ? &e->outputs[f->aux] : &e->inputs[f->aux];
    if (n == 0) return; /* no text: the parameter is null */
    tr_wf_model_value(b->m, p, t, n, b->pr, e->id, f->line, f->column);
  }
}

static void chars(void *ud, const XML_Char *s, int len) {
  bp *b = ud;
  if (b->fatal || b->depth < 1 || len <= 0) return;
  fkind k = b->stack[b->depth - 1].kind;
  if (k != F_CONDITION && k != F_TIMERVALUE && k != F_PARAM) return;
  if (b->tlen + (size_t)len > TR_WF_MAX_TEXT) {
    b->text_over = true;
    return;
  }
  if (b->tlen + (size_t)len + 1 > b->tcap) {
    size_t cap = (b->tlen + (size_t)len + 1) * 2;
    char *n = realloc(b->text, cap);
    if (!n) {
      b->m->oom = true;
      return;
    }
    b->text = n;
    b->tcap = cap;
  }
  memcpy(b->text + b->tlen, s, (size_t)len);
  b->tlen += (size_t)len;
}

static void doctype(void *ud, const XML_Char *name, const XML_Char *sys, const XML_Char *pub,
                    int internal) {
  bp *b = ud;
  (void)name, (void)sys, (void)pub, (void)internal;
  ERR(NULL, "DOCTYPE is not allowed in a BPMN document");
  b->fatal = true;
  XML_StopParser(b->x, XML_FALSE);
}

static void entity(void *ud, const XML_Char *name, int pe, const XML_Char *value, int vlen,
                   const XML_Char *base, const XML_Char *sys, const XML_Char *pub,
                   const XML_Char *notation) {
  bp *b = ud;
  (void)name, (void)pe, (void)value, (void)vlen, (void)base, (void)sys, (void)pub, (void)notation;
  if (!b->fatal) ERR(NULL, "entity declarations are not allowed");
  b->fatal = true;
  XML_StopParser(b->x, XML_FALSE);
}

int tr_wf_bpmn_parse(const char *xml, size_t len, tr_wf_model **out, tr_wf_problems *pr) {
  *out = NULL;
  if (len > TR_WF_MAX_SOURCE) {
    tr_wf_problems_add(pr, false, 0, 0, NULL, "the document is larger than %d bytes", TR_WF_MAX_SOURCE);
    return TR_EPROTO;
  }
  bp b = {.pr = pr};
  if (tr_wf_model_new(&b.m) < 0) return TR_ENOMEM;
  b.x = XML_ParserCreateNS(NULL, ' ');
  if (!b.x) {
    tr_wf_model_free(b.m);
    return TR_ENOMEM;
  }
  XML_SetUserData(b.x, &b);
  XML_SetElementHandler(b.x, start_el, end_el);
  XML_SetCharacterDataHandler(b.x, chars);
  XML_SetStartDoctypeDeclHandler(b.x, doctype);
  XML_SetEntityDeclHandler(b.x, entity);
  XML_SetParamEntityParsing(b.x, XML_PARAM_ENTITY_PARSING_NEVER);
  b.stack[0] = (frame){F_ROOT, -1, -1, -1, 0, false, 1, 1};
  b.depth = 1;
  int errors_before = pr->errors;
  enum XML_Status st = XML_Parse(b.x, xml, (int)len, XML_TRUE);
  if (st == XML_STATUS_ERROR && !b.fatal) {
    enum XML_Error code = XML_GetErrorCode(b.x);
    tr_wf_problems_add(pr, false, line_of(&b), col_of(&b), NULL, "XML is not well-formed: %s",
                       XML_ErrorString(code));
    b.fatal = true;
  }
  if (!b.fatal && !b.saw_root) {
    tr_wf_problems_add(pr, false, 1, 1, NULL, "not a BPMN 2.0 document");
    b.fatal = true;
  }
  XML_ParserFree(b.x);
  free(b.text);
  int rc = 0;
  if (!b.fatal) rc = tr_wf_model_finish(b.m, pr);
  tr_wf_problems_sort(pr);
  if (rc == TR_ENOMEM || b.fatal || pr->errors > errors_before) {
    tr_wf_model_free(b.m);
    return rc == TR_ENOMEM ? rc : TR_EPROTO;
  }
  *out = b.m;
  return 0;
}
