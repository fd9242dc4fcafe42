/* problems.c - the problem list and its Camunda ParseException rendering. */
#include "actors/workflow/problems.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/error.h"

/* Replaces every byte that is not part of well-formed UTF-8 with '?': a
 * message may quote source text cut at a byte limit, and JSON needs valid
 * UTF-8. */
static void utf8_clean(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    int n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    bool ok = n >= 0;
    for (int k = 1; ok && k <= n; k++) {
      unsigned b = p[k];
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (!ok) {
      *p++ = '?';
      continue;
    }
    p += n + 1;
  }
}

static char *clean_dup(const char *s) {
  char *c = strdup(s);
  if (c) utf8_clean(c);
  return c;
}

tr_wf_problem *tr_wf_problems_add(tr_wf_problems *p, bool warning, int line, int column,
                                  const char *main_id, const char *fmt, ...) {
  if (!warning) p->errors++;
  if (p->n >= TR_WF_MAX_PROBLEMS) {
    p->truncated = true;
    return NULL;
  }
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 8;
    tr_wf_problem *n = realloc(p->items, (size_t)cap * sizeof *n);
    if (!n) return NULL;
    p->items = n;
    p->cap = cap;
  }
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tr_wf_problem *pr = &p->items[p->n];
  memset(pr, 0, sizeof *pr);
  pr->message = clean_dup(buf);
  if (!pr->message) return NULL;
  pr->warning = warning;
  pr->line = line;
  pr->column = column;
  p->n++;
  if (main_id) {
    pr->main_id = clean_dup(main_id);
    if (pr->main_id) tr_wf_problem_add_id(pr, main_id);
  }
  return pr;
}

int tr_wf_problem_add_id(tr_wf_problem *pr, const char *id) {
  if (!pr || !id) return 0;
  if (pr->n_ids >= TR_WF_MAX_PROBLEM_IDS) return TR_ETOOBIG;
  char *c = clean_dup(id);
  if (!c) return TR_ENOMEM;
  pr->ids[pr->n_ids++] = c;
  return 0;
}

void tr_wf_problems_sort(tr_wf_problems *p) {
  for (int i = 1; i < p->n; i++) { /* insertion sort: short lists, stable */
    tr_wf_problem x = p->items[i];
    int j = i - 1;
    while (j >= 0 && (p->items[j].line > x.line ||
                      (p->items[j].line == x.line && p->items[j].column > x.column))) {
      p->items[j + 1] = p->items[j];
      j--;
    }
    p->items[j + 1] = x;
  }
}

void tr_wf_problems_free(tr_wf_problems *p) {
  for (int i = 0; i < p->n; i++) {
    tr_wf_problem *pr = &p->items[i];
    free(pr->message);
    free(pr->main_id);
    for (int k = 0; k < pr->n_ids; k++) free(pr->ids[k]);
  }
  free(p->items);
  memset(p, 0, sizeof *p);
}

/* One problem as Camunda's ProblemDto. */
static json_t *problem_json(const tr_wf_problem *pr) {
  json_t *ids = json_array();
  for (int k = 0; ids && k < pr->n_ids; k++) json_array_append_new(ids, json_string(pr->ids[k]));
  return json_pack("{s:s, s:i, s:i, s:o, s:o}", "message", pr->message, "line", pr->line,
                   "column", pr->column, "mainElementId",
                   pr->main_id ? json_string(pr->main_id) : json_null(), "elementIds",
                   ids ? ids : json_array());
}

/* Camunda's message: a headline, then one "* ..." line per error. */
static char *summary(const tr_wf_problems *p, const char *resource) {
  size_t cap = 256, len = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
  len = (size_t)snprintf(s, cap, "ENGINE-09005 Could not parse BPMN process. Errors: ");
  for (int i = 0; i < p->n; i++) {
    const tr_wf_problem *pr = &p->items[i];
    if (pr->warning) continue;
    char line[768];
    int k = snprintf(line, sizeof line, "\n* %s | resource %s | line %d | column %d", pr->message,
                     resource, pr->line, pr->column);
    if (k < 0) continue;
    if ((size_t)k >= sizeof line) k = sizeof line - 1;
    if (len + (size_t)k + 1 > cap) {
      cap = (len + (size_t)k + 1) * 2;
      char *n = realloc(s, cap);
      if (!n) {
        free(s);
        return NULL;
      }
      s = n;
    }
    memcpy(s + len, line, (size_t)k + 1);
    len += (size_t)k;
  }
  utf8_clean(s); /* a line may have been cut inside a character */
  return s;
}

int tr_wf_problems_json(const tr_wf_problems *p, const char *resource, char **out) {
  *out = NULL;
  char *res = clean_dup(resource ? resource : "model"); /* a file name from anywhere */
  json_t *errors = json_array(), *warnings = json_array();
  char *msg = res ? summary(p, res) : NULL;
  json_t *root = NULL;
  if (!errors || !warnings || !msg) goto fail;
  for (int i = 0; i < p->n; i++) {
    json_t *j = problem_json(&p->items[i]);
    if (!j || json_array_append_new(p->items[i].warning ? warnings : errors, j) < 0) goto fail;
  }
  root = json_pack("{s:s, s:s, s:{s:{s:o, s:o}}}", "type", "ParseException", "message", msg,
                   "details", res, "errors", errors, "warnings", warnings);
  errors = warnings = NULL; /* json_pack's "o" took them, even on failure */
  free(msg);
  free(res);
  msg = res = NULL;
  if (!root) goto fail;
  *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  return *out ? 0 : TR_ENOMEM;
fail:
  json_decref(errors);
  json_decref(warnings);
  free(msg);
  free(res);
  return TR_ENOMEM;
}
