/* fuzz_wf_check.h - invariants of a parsed workflow model, shared by the
 * BPMN and YAML fuzz targets: a model that compiled is fully resolved; a
 * model that did not says why; the problems render as valid JSON. */
#ifndef TR_FUZZ_WF_CHECK_H
#define TR_FUZZ_WF_CHECK_H

#include <jansson.h>
#include <stdlib.h>

#include "actors/workflow/parse.h"
#include "fuzz_check.h"
#include "troupe/error.h"

static void wf_check(int rc, tr_wf_model *m, tr_wf_problems *pr) {
  CHECK(rc == 0 || rc == TR_EPROTO || rc == TR_ENOMEM);
  if (rc == 0) {
    CHECK(m && m->finished && pr->errors == 0);
    CHECK(m->n_processes > 0);
    for (int32_t i = 0; i < m->n_flows; i++) {
      const tr_wf_flow *f = &m->flows[i];
      CHECK(f->source >= 0 && f->source < m->n_elements);
      CHECK(f->target >= 0 && f->target < m->n_elements);
    }
    for (int32_t i = 0; i < m->n_elements; i++) {
      const tr_wf_element *e = &m->elements[i];
      CHECK(e->id && *e->id);
      for (int32_t k = 0; k < e->n_out; k++) CHECK(m->flows[e->out[k]].source == i);
      for (int32_t k = 0; k < e->n_in; k++) CHECK(m->flows[e->in[k]].target == i);
      CHECK(e->default_flow < 0 || m->flows[e->default_flow].source == i);
      CHECK(e->type != TR_WF_SERVICE_TASK || (e->topic && *e->topic));
      CHECK(e->type != TR_WF_BOUNDARY_EVENT || (e->attached_to >= 0 && e->attached_to < m->n_elements));
      CHECK(e->type != TR_WF_SUBPROCESS || (e->start >= 0 && m->elements[e->start].parent == i));
      CHECK(e->parent < m->n_elements);
    }
    for (int32_t i = 0; i < m->n_processes; i++) CHECK(m->processes[i].n_starts > 0);
    tr_wf_model_free(m);
  } else {
    CHECK(m == NULL);
    CHECK(rc == TR_ENOMEM || pr->errors > 0);
  }
  for (int i = 1; i < pr->n; i++)
    CHECK(pr->items[i - 1].line < pr->items[i].line ||
          (pr->items[i - 1].line == pr->items[i].line && pr->items[i - 1].column <= pr->items[i].column));
  char *out;
  CHECK(tr_wf_problems_json(pr, "fuzz", &out) == 0); /* valid UTF-8 whatever the input */
  json_t *j = json_loads(out, 0, NULL);
  CHECK(j != NULL);
  json_decref(j);
  free(out);
  tr_wf_problems_free(pr);
}

#endif
