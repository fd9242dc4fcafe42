/* check.c - tr_wf_model_finish: resolves id references and checks a model.
 *
 * Every check adds its problem and goes on, so that an author sees all of
 * them at once; only the resolution results of sound references are used
 * by later checks.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/model.h"
#include "troupe/error.h"

/* ---- an id table: open addressing over every named thing ---- */

enum { K_ELEMENT, K_FLOW, K_PROCESS, K_MESSAGE, K_ERROR };

typedef struct slot {
  const char *id;
  int kind;
  int32_t index;
} slot;

typedef struct table {
  slot *s;
  size_t mask;
} table;

static size_t hash(const char *s) {
  size_t h = 1469598103934665603u;
  while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211u;
  return h;
}

static slot *lookup(const table *t, const char *id) {
  if (!id) return NULL;
  for (size_t i = hash(id) & t->mask;; i = (i + 1) & t->mask) {
    if (!t->s[i].id) return NULL;
    if (strcmp(t->s[i].id, id) == 0) return &t->s[i];
  }
}

/* Adds id; returns the slot that already held it, or NULL when new. */
static const slot *insert(table *t, const char *id, int kind, int32_t index) {
  size_t i = hash(id) & t->mask;
  for (; t->s[i].id; i = (i + 1) & t->mask)
    if (strcmp(t->s[i].id, id) == 0) return &t->s[i];
  t->s[i] = (slot){id, kind, index};
  return NULL;
}

typedef struct ck {
  tr_wf_model *m;
  tr_wf_problems *pr;
  table t;
} ck;

#define ERR(line, col, id, ...) tr_wf_problems_add(c->pr, false, line, col, id, __VA_ARGS__)
#define WARN(line, col, id, ...) tr_wf_problems_add(c->pr, true, line, col, id, __VA_ARGS__)

static void name_one(ck *c, const char *id, int kind, int32_t idx, int line, int col,
                     const char *what) {
  if (!id || !*id) {
    ERR(line, col, NULL, "%s without an id", what);
    return;
  }
  if (insert(&c->t, id, kind, idx)) ERR(line, col, id, "duplicate id '%s'", id);
}

static void index_ids(ck *c) {
  tr_wf_model *m = c->m;
  for (int32_t i = 0; i < m->n_processes; i++)
    name_one(c, m->processes[i].id, K_PROCESS, i, m->processes[i].line, m->processes[i].column,
             "process");
  for (int32_t i = 0; i < m->n_messages; i++)
    name_one(c, m->messages[i].id, K_MESSAGE, i, m->messages[i].line, m->messages[i].column,
             "message");
  for (int32_t i = 0; i < m->n_errors; i++)
    name_one(c, m->errors[i].id, K_ERROR, i, m->errors[i].line, m->errors[i].column, "error");
  for (int32_t i = 0; i < m->n_elements; i++) {
    tr_wf_element *e = &m->elements[i];
    name_one(c, e->id, K_ELEMENT, i, e->line, e->column, tr_wf_type_name(e->type));
  }
  for (int32_t i = 0; i < m->n_flows; i++)
    name_one(c, m->flows[i].id, K_FLOW, i, m->flows[i].line, m->flows[i].column, "sequenceFlow");
}

/* The index of ref as a thing of this kind, or -1 after reporting why. */
static int32_t resolve(ck *c, const char *ref, int kind, const char *what, const char *owner,
                       int line, int col) {
  const slot *s = lookup(&c->t, ref);
  if (!s || s->kind != kind) {
    ERR(line, col, owner, "%s '%s' of '%s' does not exist", what, ref, owner ? owner : "?");
    return -1;
  }
  return s->index;
}

static bool is_activity(tr_wf_type t) {
  return t >= TR_WF_TASK && t <= TR_WF_RECEIVE_TASK ? true
                                                    : t == TR_WF_SUBPROCESS || t == TR_WF_CALL_ACTIVITY;
}
static bool is_gateway(tr_wf_type t) {
  return t == TR_WF_EXCLUSIVE_GATEWAY || t == TR_WF_PARALLEL_GATEWAY || t == TR_WF_INCLUSIVE_GATEWAY;
}

/* An index list of n entries in the model's arena (NULL for none). */
static int32_t *alloc_list(ck *c, int32_t n) {
  if (n == 0) return NULL;
  if (c->m->arena.used + (size_t)n * sizeof(int32_t) > TR_WF_MAX_MODEL_BYTES) {
    c->m->oom = true;
    return NULL;
  }
  int32_t *l = tr_wf_arena_alloc(&c->m->arena, (size_t)n * sizeof(int32_t));
  if (!l) c->m->oom = true;
  return l;
}

static void check_flows(ck *c) {
  tr_wf_model *m = c->m;
  for (int32_t i = 0; i < m->n_flows; i++) {
    tr_wf_flow *f = &m->flows[i];
    if (!f->source_ref) ERR(f->line, f->column, f->id, "sequence flow '%s' has no source", f->id);
    else f->source = resolve(c, f->source_ref, K_ELEMENT, "source", f->id, f->line, f->column);
    if (!f->target_ref) ERR(f->line, f->column, f->id, "sequence flow '%s' has no target", f->id);
    else f->target = resolve(c, f->target_ref, K_ELEMENT, "target", f->id, f->line, f->column);
    for (int k = 0; k < 2; k++) {
      int32_t x = k ? f->target : f->source;
      if (x < 0) continue;
      tr_wf_element *e = &m->elements[x];
      if (e->parent != f->parent || e->process != f->process) {
        tr_wf_problem *p = ERR(f->line, f->column, f->id,
                               "sequence flow '%s' connects '%s' outside its own scope", f->id, e->id);
        tr_wf_problem_add_id(p, e->id);
        if (k) f->target = -1;
        else f->source = -1;
      }
    }
    if (f->source >= 0) m->elements[f->source].n_out++;
    if (f->target >= 0) m->elements[f->target].n_in++;
  }
  for (int32_t i = 0; i < m->n_elements; i++) {
    tr_wf_element *e = &m->elements[i];
    e->in = alloc_list(c, e->n_in);
    e->out = alloc_list(c, e->n_out);
    e->n_in = e->n_out = 0;
  }
  if (m->oom) return;
  for (int32_t i = 0; i < m->n_flows; i++) {
    tr_wf_flow *f = &m->flows[i];
    if (f->source >= 0) {
      tr_wf_element *s = &m->elements[f->source];
      s->out[s->n_out++] = i;
    }
    if (f->target >= 0) {
      tr_wf_element *t = &m->elements[f->target];
      t->in[t->n_in++] = i;
    }
  }
}

/* Children of subprocesses and process-level lists, boundary lists. */
static void link_scopes(ck *c) {
  tr_wf_model *m = c->m;
  int32_t *nb = calloc((size_t)m->n_elements + 1, sizeof *nb);
  if (!nb) {
    m->oom = true;
    return;
  }
  for (int32_t i = 0; i < m->n_elements; i++) {
    tr_wf_element *e = &m->elements[i];
    if (e->parent >= 0) m->elements[e->parent].n_children++;
    else if (e->process >= 0) m->processes[e->process].n_elements++;
    if (e->type == TR_WF_BOUNDARY_EVENT) {
      if (!e->attached_ref) {
        ERR(e->line, e->column, e->id, "boundary event '%s' has no attachedToRef", e->id);
        continue;
      }
      int32_t a = resolve(c, e->attached_ref, K_ELEMENT, "attachedToRef", e->id, e->line, e->column);
      if (a < 0) continue;
      tr_wf_element *t = &m->elements[a];
      if (!is_activity(t->type)) {
        tr_wf_problem *p = ERR(e->line, e->column, e->id,
                               "boundary event '%s' is attached to '%s', which is not an activity",
                               e->id, t->id);
        tr_wf_problem_add_id(p, t->id);
      } else if (t->parent != e->parent || t->process != e->process) {
        tr_wf_problem *p = ERR(e->line, e->column, e->id,
                               "boundary event '%s' must be in the scope of '%s'", e->id, t->id);
        tr_wf_problem_add_id(p, t->id);
      } else {
        e->attached_to = a;
        nb[a]++;
      }
    }
  }
  for (int32_t i = 0; i < m->n_elements; i++) {
    tr_wf_element *e = &m->elements[i];
    e->children = alloc_list(c, e->n_children);
    e->boundaries = alloc_list(c, nb[i]);
    e->n_children = 0;
  }
  for (int32_t i = 0; i < m->n_processes; i++) {
    m->processes[i].elements = alloc_list(c, m->processes[i].n_elements);
    m->processes[i].n_elements = 0;
  }
  free(nb);
  if (m->oom) return;
  for (int32_t i = 0; i < m->n_elements; i++) {
    tr_wf_element *e = &m->elements[i];
    if (e->parent >= 0) {
      tr_wf_element *p = &m->elements[e->parent];
      p->children[p->n_children++] = i;
    } else if (e->process >= 0) {
      tr_wf_process *p = &m->processes[e->process];
      p->elements[p->n_elements++] = i;
    }
    if (e->attached_to >= 0) {
      tr_wf_element *a = &m->elements[e->attached_to];
      a->boundaries[a->n_boundaries++] = i;
    }
  }
}

static void check_refs(ck *c, tr_wf_element *e) {
  tr_wf_model *m = c->m;
  if (e->message_ref) {
    e->message = resolve(c, e->message_ref, K_MESSAGE, "messageRef", e->id, e->line, e->column);
    if (e->message >= 0 && (!m->messages[e->message].name || !*m->messages[e->message].name))
      ERR(e->line, e->column, e->id, "message '%s' of '%s' has no name", e->message_ref, e->id);
  }
  if (e->error_ref) e->error = resolve(c, e->error_ref, K_ERROR, "errorRef", e->id, e->line, e->column);
  bool wants_message = (e->event == TR_WF_EV_MESSAGE) || e->type == TR_WF_RECEIVE_TASK;
  if (wants_message && !e->message_ref)
    ERR(e->line, e->column, e->id, "%s '%s' needs a message (messageRef)", tr_wf_type_name(e->type), e->id);
  if (e->default_ref) {
    int32_t f = resolve(c, e->default_ref, K_FLOW, "default flow", e->id, e->line, e->column);
    if (f >= 0 && m->flows[f].source != e - m->elements) {
      tr_wf_problem *p = ERR(e->line, e->column, e->id,
                             "default flow '%s' of '%s' is not one of its outgoing flows",
                             e->default_ref, e->id);
      tr_wf_problem_add_id(p, e->default_ref);
    } else if (f >= 0) {
      e->default_flow = f;
      if (m->flows[f].condition)
        WARN(e->line, e->column, e->id, "the condition of default flow '%s' is ignored", e->default_ref);
    }
    if (!is_gateway(e->type) && !is_activity(e->type))
      ERR(e->line, e->column, e->id, "'%s' cannot have a default flow", e->id);
    if (e->type == TR_WF_PARALLEL_GATEWAY)
      ERR(e->line, e->column, e->id, "parallel gateway '%s' cannot have a default flow", e->id);
  }
}

static void check_element(ck *c, int32_t i) {
  tr_wf_model *m = c->m;
  tr_wf_element *e = &m->elements[i];
  const char *id = e->id;
  int l = e->line, k = e->column;
  check_refs(c, e);
  switch (e->type) {
  case TR_WF_START_EVENT:
    if (e->n_in) ERR(l, k, id, "start event '%s' cannot have incoming sequence flows", id);
    if (e->parent >= 0 && e->event != TR_WF_EV_NONE)
      ERR(l, k, id, "the start event '%s' of a subprocess must be a none start event", id);
    if (e->event != TR_WF_EV_NONE && e->event != TR_WF_EV_MESSAGE && e->event != TR_WF_EV_TIMER)
      ERR(l, k, id, "start event '%s': only none, message and timer start events are supported", id);
    break;
  case TR_WF_END_EVENT:
    if (e->n_out) ERR(l, k, id, "end event '%s' cannot have outgoing sequence flows", id);
    if (e->event == TR_WF_EV_ERROR) {
      if (!e->error_ref) ERR(l, k, id, "error end event '%s' needs an error (errorRef)", id);
      else if (e->error >= 0 && (!m->errors[e->error].code || !*m->errors[e->error].code))
        ERR(l, k, id, "error '%s' thrown by '%s' has no errorCode", e->error_ref, id);
    } else if (e->event != TR_WF_EV_NONE && e->event != TR_WF_EV_TERMINATE) {
      ERR(l, k, id, "end event '%s': only none, error and terminate end events are supported", id);
    }
    break;
  case TR_WF_THROW_EVENT:
    if (e->event != TR_WF_EV_NONE)
      ERR(l, k, id, "intermediate throw event '%s': only none throw events are supported", id);
    break;
  case TR_WF_CATCH_EVENT:
    if (e->event != TR_WF_EV_TIMER && e->event != TR_WF_EV_MESSAGE)
      ERR(l, k, id, "intermediate catch event '%s' needs a timer or message definition", id);
    break;
  case TR_WF_BOUNDARY_EVENT:
    if (e->n_in) ERR(l, k, id, "boundary event '%s' cannot have incoming sequence flows", id);
    if (e->event == TR_WF_EV_ERROR && !e->cancel_activity)
      ERR(l, k, id, "error boundary event '%s' must be interrupting", id);
    if (e->event != TR_WF_EV_TIMER && e->event != TR_WF_EV_ERROR && e->event != TR_WF_EV_MESSAGE)
      ERR(l, k, id, "boundary event '%s': only timer, message and error boundary events are supported",
          id);
    if (e->n_out == 0) WARN(l, k, id, "boundary event '%s' has no outgoing sequence flow", id);
    break;
  case TR_WF_SERVICE_TASK:
    if (!e->topic || !*e->topic)
      ERR(l, k, id, "external task '%s' needs a topic (camunda:type=\"external\" camunda:topic)", id);
    break;
  case TR_WF_SEND_TASK:
    if (!e->topic || !*e->topic)
      ERR(l, k, id, "send task '%s' needs camunda:type=\"external\" and camunda:topic", id);
    break;
  case TR_WF_CALL_ACTIVITY:
    if (!e->called_element || !*e->called_element)
      ERR(l, k, id, "call activity '%s' needs a calledElement", id);
    break;
  case TR_WF_SUBPROCESS: {
    int starts = 0;
    for (int32_t j = 0; j < e->n_children; j++) {
      tr_wf_element *ch = &m->elements[e->children[j]];
      if (ch->type == TR_WF_START_EVENT) {
        starts++;
        e->start = e->children[j];
      }
    }
    if (starts != 1) {
      ERR(l, k, id, "subprocess '%s' needs exactly one none start event (it has %d)", id, starts);
      e->start = -1;
    }
    break;
  }
  case TR_WF_EXCLUSIVE_GATEWAY:
  case TR_WF_INCLUSIVE_GATEWAY:
    if (e->n_out > 1)
      for (int32_t j = 0; j < e->n_out; j++) {
        tr_wf_flow *f = &m->flows[e->out[j]];
        if (!f->condition && e->default_flow != e->out[j]) {
          tr_wf_problem *p = ERR(f->line, f->column, id,
                                 "%s '%s' has outgoing sequence flow '%s' without condition which "
                                 "is not the default flow",
                                 tr_wf_type_name(e->type), id, f->id);
          tr_wf_problem_add_id(p, f->id);
        }
      }
    break;
  case TR_WF_PARALLEL_GATEWAY:
    for (int32_t j = 0; j < e->n_out; j++)
      if (m->flows[e->out[j]].condition)
        WARN(l, k, id, "the condition of sequence flow '%s' out of parallel gateway '%s' is ignored",
             m->flows[e->out[j]].id, id);
    break;
  default:
    break;
  }
  if (e->type != TR_WF_START_EVENT && e->type != TR_WF_BOUNDARY_EVENT && e->n_in == 0)
    WARN(l, k, id, "'%s' has no incoming sequence flow and is never reached", id);
  if (e->type != TR_WF_END_EVENT && e->n_out == 0 && e->type != TR_WF_BOUNDARY_EVENT)
    WARN(l, k, id, "'%s' has no outgoing sequence flow: the path ends there", id);
}

static void check_processes(ck *c) {
  tr_wf_model *m = c->m;
  if (m->n_processes == 0) ERR(1, 1, NULL, "the model defines no process");
  for (int32_t i = 0; i < m->n_processes; i++) {
    tr_wf_process *p = &m->processes[i];
    int32_t n = 0, none = 0;
    for (int32_t j = 0; j < p->n_elements; j++) {
      tr_wf_element *e = &m->elements[p->elements[j]];
      if (e->type != TR_WF_START_EVENT) continue;
      n++;
      none += e->event == TR_WF_EV_NONE;
    }
    if (n == 0) ERR(p->line, p->column, p->id, "process '%s' has no start event", p->id);
    if (none > 1)
      ERR(p->line, p->column, p->id, "process '%s' has %d none start events; at most one is allowed",
          p->id, none);
    p->starts = alloc_list(c, n);
    if (!p->starts) continue;
    for (int32_t j = 0; j < p->n_elements; j++)
      if (m->elements[p->elements[j]].type == TR_WF_START_EVENT) p->starts[p->n_starts++] = p->elements[j];
  }
}

int tr_wf_model_finish(tr_wf_model *m, tr_wf_problems *pr) {
  if (m->finished) return TR_EINVAL;
  ck c = {.m = m, .pr = pr};
  size_t total = (size_t)m->n_elements + m->n_flows + m->n_processes + m->n_messages + m->n_errors;
  size_t cap = 16;
  while (cap < total * 2) cap *= 2;
  c.t.s = calloc(cap, sizeof *c.t.s);
  c.t.mask = cap - 1;
  if (!c.t.s) return TR_ENOMEM;
  int before = pr->errors;
  if (!m->oom) {
    index_ids(&c);
    check_flows(&c);
  }
  if (!m->oom) link_scopes(&c);
  if (!m->oom) {
    for (int32_t i = 0; i < m->n_elements; i++) check_element(&c, i);
    check_processes(&c);
  }
  free(c.t.s);
  if (m->oom)
    tr_wf_problems_add(pr, false, 0, 0, NULL,
                       "the model is too large (at most %d elements and %d MiB) or memory ran out",
                       TR_WF_MAX_ELEMENTS, TR_WF_MAX_MODEL_BYTES >> 20);
  m->finished = true;
  return pr->errors > before ? TR_EPROTO : 0;
}
