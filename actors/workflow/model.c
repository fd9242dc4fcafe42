/* model.c - storage of the process model and the builder calls (model.h).
 * The resolution and checks of tr_wf_model_finish are in check.c. */
#include "actors/workflow/model.h"

#include <stdlib.h>
#include <string.h>

#include "troupe/error.h"

const char *tr_wf_type_name(tr_wf_type t) {
  static const char *n[] = {"startEvent",       "endEvent",        "intermediateCatchEvent",
                            "intermediateThrowEvent", "boundaryEvent", "task",
                            "serviceTask",      "userTask",        "sendTask",
                            "receiveTask",      "exclusiveGateway", "parallelGateway",
                            "inclusiveGateway", "subProcess",      "callActivity"};
  return (unsigned)t < TR_WF_TYPE_COUNT ? n[t] : "unknown";
}

int tr_wf_model_new(tr_wf_model **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : TR_ENOMEM;
}

void tr_wf_model_free(tr_wf_model *m) {
  if (!m) return;
  for (int32_t i = 0; i < m->n_exprs; i++) tr_wf_expr_free(m->exprs[i]);
  free(m->exprs);
  free(m->processes);
  free(m->elements);
  free(m->flows);
  free(m->messages);
  free(m->errors);
  tr_wf_arena_free(&m->arena);
  free(m);
}

static void *arena_alloc(tr_wf_model *m, size_t n) {
  if (m->arena.used + n > TR_WF_MAX_MODEL_BYTES) {
    m->oom = true;
    return NULL;
  }
  void *p = tr_wf_arena_alloc(&m->arena, n);
  if (!p) m->oom = true;
  return p;
}

const char *tr_wf_model_str(tr_wf_model *m, const char *s, size_t len) {
  if (!s) return NULL;
  char *p = arena_alloc(m, len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = 0;
  return p;
}

void *tr_wf_model_push(tr_wf_model *m, void *arrayp, int32_t *n, size_t sz) {
  void **arr = arrayp;
  /* capacity is the next power of two from n: grow when n is one */
  if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
    if (*n >= (1 << 20)) {
      m->oom = true;
      return NULL;
    }
    size_t cap = *n == 0 ? 4 : (size_t)*n * 2;
    unsigned char *na = arena_alloc(m, cap * sz);
    if (!na) return NULL;
    if (*n) memcpy(na, *arr, (size_t)*n * sz);
    *arr = na;
  }
  unsigned char *slot = (unsigned char *)*arr + (size_t)*n * sz;
  memset(slot, 0, sz);
  (*n)++;
  return slot;
}

/* Grows a malloc'ed top-level array (these move; callers keep indices). */
static int32_t grow(tr_wf_model *m, void *arrayp, int32_t *n, int32_t *cap, size_t sz) {
  void **arr = arrayp;
  if (m->n_elements + m->n_flows + m->n_messages + m->n_errors + m->n_processes >=
      TR_WF_MAX_ELEMENTS) {
    m->oom = true;
    return -1;
  }
  if (*n == *cap) {
    int32_t nc = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, (size_t)nc * sz);
    if (!na) {
      m->oom = true;
      return -1;
    }
    *arr = na;
    *cap = nc;
  }
  memset((unsigned char *)*arr + (size_t)*n * sz, 0, sz);
  return (*n)++;
}

static const char *dup(tr_wf_model *m, const char *id) {
  return id ? tr_wf_model_str(m, id, strlen(id)) : NULL;
}

int32_t tr_wf_model_add_process(tr_wf_model *m, const char *id, int line, int column) {
  int32_t i = grow(m, &m->processes, &m->n_processes, &m->cap_processes, sizeof *m->processes);
  if (i < 0) return -1;
  tr_wf_process *p = &m->processes[i];
  p->id = dup(m, id);
  p->line = line;
  p->column = column;
  return i;
}

int32_t tr_wf_model_add_element(tr_wf_model *m, tr_wf_type type, const char *id, int32_t process,
                                int32_t parent, int line, int column) {
  int32_t i = grow(m, &m->elements, &m->n_elements, &m->cap_elements, sizeof *m->elements);
  if (i < 0) return -1;
  tr_wf_element *e = &m->elements[i];
  e->id = dup(m, id);
  e->type = type;
  e->line = line;
  e->column = column;
  e->process = process;
  e->parent = parent;
  e->default_flow = e->attached_to = e->start = e->message = e->error = -1;
  e->cancel_activity = true;
  return i;
}

int32_t tr_wf_model_add_flow(tr_wf_model *m, const char *id, int32_t process, int32_t parent,
                             int line, int column) {
  int32_t i = grow(m, &m->flows, &m->n_flows, &m->cap_flows, sizeof *m->flows);
  if (i < 0) return -1;
  tr_wf_flow *f = &m->flows[i];
  f->id = dup(m, id);
  f->line = line;
  f->column = column;
  f->process = process;
  f->parent = parent;
  f->source = f->target = -1;
  return i;
}

int32_t tr_wf_model_add_message(tr_wf_model *m, const char *id, int line, int column) {
  int32_t i = grow(m, &m->messages, &m->n_messages, &m->cap_messages, sizeof *m->messages);
  if (i < 0) return -1;
  m->messages[i].id = dup(m, id);
  m->messages[i].line = line;
  m->messages[i].column = column;
  return i;
}

int32_t tr_wf_model_add_error(tr_wf_model *m, const char *id, int line, int column) {
  int32_t i = grow(m, &m->errors, &m->n_errors, &m->cap_errors, sizeof *m->errors);
  if (i < 0) return -1;
  m->errors[i].id = dup(m, id);
  m->errors[i].line = line;
  m->errors[i].column = column;
  return i;
}

tr_wf_expr *tr_wf_model_expr(tr_wf_model *m, const char *text, size_t len, tr_wf_problems *pr,
                             const char *id, int line, int column) {
  if (m->n_exprs == m->cap_exprs) {
    int32_t nc = m->cap_exprs ? m->cap_exprs * 2 : 16;
    tr_wf_expr **na = realloc(m->exprs, (size_t)nc * sizeof *na);
    if (!na) {
      m->oom = true;
      return NULL;
    }
    m->exprs = na;
    m->cap_exprs = nc;
  }
  tr_wf_expr *e;
  tr_wf_expr_error err;
  int rc = tr_wf_expr_parse(text, len, &e, &err);
  if (rc == TR_ENOMEM) {
    m->oom = true;
    return NULL;
  }
  if (rc) {
    tr_wf_problems_add(pr, false, line, column, id, "invalid expression '%.*s': %s (at offset %d)",
                       (int)(len > 80 ? 80 : len), text, err.message, err.offset);
    return NULL;
  }
  m->exprs[m->n_exprs++] = e;
  return e;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void tr_wf_model_value(tr_wf_model *m, tr_wf_param *p, const char *text, size_t len,
                       tr_wf_problems *pr, const char *id, int line, int column) {
  p->text = tr_wf_model_str(m, text, len);
  p->expr = NULL;
  bool has_expr = false;
  for (size_t i = 0; i + 1 < len; i++)
    if ((text[i] == '$' || text[i] == '#') && text[i + 1] == '{') has_expr = true;
  if (!has_expr) return;
  size_t b = 0, e = len;
  while (b < e && is_ws(text[b])) b++;
  while (e > b && is_ws(text[e - 1])) e--;
  /* "Hello ${name}": templates are not supported yet; say so plainly */
  if (e - b < 3 || text[b + 1] != '{' || text[e - 1] != '}' || (text[b] != '$' && text[b] != '#')) {
    tr_wf_problems_add(pr, false, line, column, id,
                       "'%.*s': text mixed with ${...} is not supported; use one expression",
                       (int)(len > 80 ? 80 : len), text);
    return;
  }
  p->expr = tr_wf_model_expr(m, text, len, pr, id, line, column);
}

static const void *find(const void *arr, int32_t n, size_t sz, const char *id) {
  for (int32_t i = 0; id && i < n; i++) {
    const char *x = *(const char *const *)((const unsigned char *)arr + (size_t)i * sz);
    if (x && strcmp(x, id) == 0) return (const unsigned char *)arr + (size_t)i * sz;
  }
  return NULL;
}

const tr_wf_element *tr_wf_model_element(const tr_wf_model *m, const char *id) {
  return find(m->elements, m->n_elements, sizeof *m->elements, id);
}
const tr_wf_flow *tr_wf_model_flow(const tr_wf_model *m, const char *id) {
  return find(m->flows, m->n_flows, sizeof *m->flows, id);
}
const tr_wf_process *tr_wf_model_process(const tr_wf_model *m, const char *id) {
  return find(m->processes, m->n_processes, sizeof *m->processes, id);
}
