/* problems.h - every problem found in a model, reported at once.
 *
 * A deployment that fails must tell its author everything that is wrong in
 * one round trip, as Camunda 7 does: each problem carries its message, the
 * line and column in the source (1-based; 0 when unknown), the id of the
 * element it is about and the ids of the other elements involved. The list
 * renders as Camunda's ParseException JSON (tr_wf_problems_json).
 */
#ifndef TR_WF_PROBLEMS_H
#define TR_WF_PROBLEMS_H

#include <stdbool.h>
#include <stddef.h>

enum { TR_WF_MAX_PROBLEMS = 100, TR_WF_MAX_PROBLEM_IDS = 4 };

typedef struct tr_wf_problem {
  char *message;                            /* owned by the list */
  int line, column;                         /* 1-based, 0 when unknown */
  bool warning;                             /* false: an error */
  char *main_id;                            /* may be NULL; owned by the list */
  char *ids[TR_WF_MAX_PROBLEM_IDS];         /* main_id first; owned by the list */
  int n_ids;
} tr_wf_problem;

typedef struct tr_wf_problems {
  tr_wf_problem *items;
  int n, cap;
  int errors;     /* count of items that are errors */
  bool truncated; /* more than TR_WF_MAX_PROBLEMS were found */
} tr_wf_problems;

#define TR_WF_PROBLEMS_INIT {0}

/* Appends an error (warning = false) or a warning about element main_id
 * (may be NULL; it also becomes the first of the problem's ids). Other
 * involved ids go in with tr_wf_problem_add_id. Strings are copied.
 * Returns the new problem, or NULL when out of memory or past the limit (the
 * list then records that it was truncated and still counts errors). */
tr_wf_problem *tr_wf_problems_add(tr_wf_problems *p, bool warning, int line, int column,
                                  const char *main_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Adds another involved element id (copied) to a problem; NULL pr or id is
 * ignored. Returns 0 or TR_ENOMEM / TR_ETOOBIG. */
int tr_wf_problem_add_id(tr_wf_problem *pr, const char *id);
/* Orders the problems by line and column (stable), so that an author reads
 * them top to bottom. */
void tr_wf_problems_sort(tr_wf_problems *p);
/* Frees every problem; the list may be reused. */
void tr_wf_problems_free(tr_wf_problems *p);

/* Renders {"type":"ParseException","message":...,"details":{resource:
 * {"errors":[...],"warnings":[...]}}} into *out, a NUL-terminated string
 * the caller owns and frees with free(). resource is borrowed (NULL:
 * "model"). Returns 0, TR_ENOMEM. */
int tr_wf_problems_json(const tr_wf_problems *p, const char *resource, char **out);

#endif
