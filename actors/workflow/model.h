/* model.h - the compiled, immutable graph of a process definition.
 *
 * Both source formats (BPMN XML, bpmn.c; YAML, yaml.c) fill a model through
 * the builder calls at the end of this header, with references between
 * elements still as id strings; tr_wf_model_finish then resolves every
 * reference to an index, runs the semantic checks (unique ids, flows that
 * point at existing elements of the same scope, start events, default
 * flows that belong to their gateway, topics of external tasks, ...) and
 * reports every problem at once. A finished model is read-only, and is
 * safe to share between threads; it owns every string and expression it
 * points at (one arena plus the expressions), and tr_wf_model_free frees
 * them all.
 *
 * Indices are int32_t; -1 means "none".
 */
#ifndef TR_WF_MODEL_H
#define TR_WF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/workflow/arena.h"
#include "actors/workflow/expr.h"
#include "actors/workflow/problems.h"
#include "actors/workflow/timer.h"

typedef enum {
  TR_WF_START_EVENT,
  TR_WF_END_EVENT,
  TR_WF_CATCH_EVENT, /* intermediate catch: timer or message */
  TR_WF_THROW_EVENT, /* intermediate throw, none only: a pass-through */
  TR_WF_BOUNDARY_EVENT,
  TR_WF_TASK, /* bpmn:task and bpmn:manualTask: a pass-through */
  TR_WF_SERVICE_TASK,
  TR_WF_USER_TASK,
  TR_WF_SEND_TASK,
  TR_WF_RECEIVE_TASK,
  TR_WF_EXCLUSIVE_GATEWAY,
  TR_WF_PARALLEL_GATEWAY,
  TR_WF_INCLUSIVE_GATEWAY,
  TR_WF_SUBPROCESS,
  TR_WF_CALL_ACTIVITY,
  TR_WF_TYPE_COUNT
} tr_wf_type;

/* The event definition of an event element. */
typedef enum {
  TR_WF_EV_NONE,
  TR_WF_EV_MESSAGE,
  TR_WF_EV_TIMER,
  TR_WF_EV_ERROR,
  TR_WF_EV_TERMINATE
} tr_wf_event;

/* camunda:inputParameter / outputParameter: name = value, where value is a
 * literal string (expr NULL) or an expression. */
typedef struct tr_wf_param {
  const char *name;
  const char *text; /* the source text; NULL for "no value" (null) */
  tr_wf_expr *expr;
} tr_wf_param;

/* camunda:in / camunda:out of a call activity. */
typedef struct tr_wf_call_var {
  bool all;             /* variables="all" */
  bool local;           /* local="true" */
  const char *source;   /* a variable name, or NULL */
  tr_wf_expr *source_expr;
  const char *target;
} tr_wf_call_var;

typedef struct tr_wf_form_constraint {
  const char *name, *config; /* camunda:constraint: required, minlength, ... */
} tr_wf_form_constraint;

typedef struct tr_wf_form_value {
  const char *id, *name; /* camunda:value of an enum field */
} tr_wf_form_value;

typedef struct tr_wf_form_field {
  const char *id, *label, *type; /* type: string, long, boolean, date, enum, ... */
  const char *default_value;
  tr_wf_form_constraint *constraints;
  int32_t n_constraints;
  tr_wf_form_value *values;
  int32_t n_values;
} tr_wf_form_field;

typedef struct tr_wf_message {
  const char *id, *name;
  int line, column;
} tr_wf_message;

typedef struct tr_wf_error {
  const char *id, *name, *code, *message;
  int line, column;
} tr_wf_error;

typedef struct tr_wf_element {
  const char *id, *name;
  tr_wf_type type;
  tr_wf_event event;
  int line, column;
  int32_t process; /* index in model.processes */
  int32_t parent;  /* enclosing subprocess, -1 at the process level */

  int32_t *in, *out; /* sequence flow indices */
  int32_t n_in, n_out;
  int32_t default_flow; /* gateways and activities */

  /* boundary events */
  int32_t attached_to;
  bool cancel_activity; /* interrupting (the default) */
  /* activities: their boundary events */
  int32_t *boundaries;
  int32_t n_boundaries;

  /* subprocesses: their elements, and their none start event */
  int32_t *children;
  int32_t n_children;
  int32_t start;

  tr_wf_timer timer; /* event == TR_WF_EV_TIMER */
  int32_t message;   /* message events, send and receive tasks */
  int32_t error;     /* error end and boundary events; -1 on a boundary: any error */

  /* service and send tasks: camunda:type="external" */
  const char *topic;
  const char *task_priority;
  /* user tasks */
  const char *assignee, *candidate_users, *candidate_groups, *form_key;
  const char *due_date, *follow_up_date, *priority;
  tr_wf_form_field *fields;
  int32_t n_fields;
  /* call activities */
  const char *called_element;
  const char *called_binding, *called_version; /* calledElementBinding / Version */
  tr_wf_call_var *call_in, *call_out;
  int32_t n_call_in, n_call_out;
  bool async_before, async_after; /* kept for the engine; troupe is async anyway */
  /* camunda:inputOutput */
  tr_wf_param *inputs, *outputs;
  int32_t n_inputs, n_outputs;

  /* references by id until tr_wf_model_finish */
  const char *attached_ref, *message_ref, *error_ref, *default_ref;
} tr_wf_element;

typedef struct tr_wf_flow {
  const char *id, *name;
  int line, column;
  int32_t process, parent;
  const char *source_ref, *target_ref;
  int32_t source, target;
  tr_wf_expr *condition; /* NULL: unconditional */
} tr_wf_flow;

typedef struct tr_wf_process {
  const char *id, *name, *version_tag;
  bool executable;
  int line, column;
  int32_t *starts; /* its start events at the process level */
  int32_t n_starts;
  int32_t *elements; /* its elements at the process level */
  int32_t n_elements;
} tr_wf_process;

enum {
  TR_WF_MAX_ELEMENTS = 10000,     /* elements + flows in one model */
  TR_WF_MAX_MODEL_BYTES = 16 << 20 /* arena bytes of one model */
};

typedef struct tr_wf_model {
  tr_wf_process *processes;
  tr_wf_element *elements;
  tr_wf_flow *flows;
  tr_wf_message *messages;
  tr_wf_error *errors;
  int32_t n_processes, n_elements, n_flows, n_messages, n_errors;
  /* private: storage */
  int32_t cap_processes, cap_elements, cap_flows, cap_messages, cap_errors;
  tr_wf_expr **exprs;
  int32_t n_exprs, cap_exprs;
  tr_wf_arena arena;
  bool finished, oom;
} tr_wf_model;

/* ---- reading a finished model ---- */

/* The element, flow, process, message or error with this id (NUL-terminated,
 * borrowed), or NULL. Linear: for tests and deployment, not for hot paths. */
const tr_wf_element *tr_wf_model_element(const tr_wf_model *m, const char *id);
const tr_wf_flow *tr_wf_model_flow(const tr_wf_model *m, const char *id);
const tr_wf_process *tr_wf_model_process(const tr_wf_model *m, const char *id);
/* Lower-case BPMN name of a type ("serviceTask", ...). Never NULL. */
const char *tr_wf_type_name(tr_wf_type t);
/* Frees a model (NULL is ignored) and everything it owns. */
void tr_wf_model_free(tr_wf_model *m);

/* ---- building (the parsers) ---- */

/* A new, empty model owned by the caller (*out); 0 or TR_ENOMEM. */
int tr_wf_model_new(tr_wf_model **out);
/* Copies s[0..len) into the model; NULL on out of memory or over the size
 * limit (the model then records m->oom, which finish reports). */
const char *tr_wf_model_str(tr_wf_model *m, const char *s, size_t len);
/* Appends a process/element/flow/message/error and returns its index, or -1
 * (out of memory, too many elements: m->oom). The id is copied; fields
 * other than those set here start as zero, indices as -1. Pointers into
 * the arrays move when more is appended: keep indices, not pointers. */
int32_t tr_wf_model_add_process(tr_wf_model *m, const char *id, int line, int column);
int32_t tr_wf_model_add_element(tr_wf_model *m, tr_wf_type type, const char *id, int32_t process,
                                int32_t parent, int line, int column);
int32_t tr_wf_model_add_flow(tr_wf_model *m, const char *id, int32_t process, int32_t parent,
                             int line, int column);
int32_t tr_wf_model_add_message(tr_wf_model *m, const char *id, int line, int column);
int32_t tr_wf_model_add_error(tr_wf_model *m, const char *id, int line, int column);
/* Grows an array the model owns by one zeroed element of size sz, where
 * *n is its length; returns the new element or NULL (m->oom). */
void *tr_wf_model_push(tr_wf_model *m, void *arrayp, int32_t *n, size_t sz);
/* Parses text[0..len) (borrowed) as an expression the model owns. On a
 * syntax error it adds a problem about element id at line/column and
 * returns NULL; NULL also on out of memory (m->oom). */
tr_wf_expr *tr_wf_model_expr(tr_wf_model *m, const char *text, size_t len, tr_wf_problems *pr,
                             const char *id, int line, int column);
/* A parameter value: literal text, or an expression when it holds "${" or
 * "#{" (then it must be one whole expression). Sets p->text and p->expr. */
void tr_wf_model_value(tr_wf_model *m, tr_wf_param *p, const char *text, size_t len,
                       tr_wf_problems *pr, const char *id, int line, int column);

/* Resolves references and checks the model; adds every problem found to
 * pr. Returns 0 when the model is sound (warnings allowed), TR_EPROTO when
 * pr holds errors, TR_ENOMEM. */
int tr_wf_model_finish(tr_wf_model *m, tr_wf_problems *pr);

#endif
