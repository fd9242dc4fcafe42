/* parse.h - the two source formats of a process model.
 *
 * Both compile to the same tr_wf_model (model.h) and report problems the
 * same way (problems.h): a model that has any error is not returned, and
 * the list holds every problem found, not just the first.
 */
#ifndef TR_WF_PARSE_H
#define TR_WF_PARSE_H

#include <stddef.h>

#include "actors/workflow/model.h"

enum {
  TR_WF_MAX_SOURCE = 4 << 20, /* bytes of one BPMN or YAML document */
  TR_WF_MAX_NESTING = 64,     /* element (or YAML node) depth */
  TR_WF_MAX_TEXT = 65536      /* bytes of one text value */
};

/* Parses BPMN 2.0 XML as Camunda Modeler writes it. xml[0..len) is
 * borrowed. On success *out is a finished model the caller owns (free
 * with tr_wf_model_free) and pr may hold warnings. Returns 0, TR_EPROTO
 * (pr holds the errors; *out is NULL) or TR_ENOMEM. DOCTYPEs (and with
 * them every entity declaration) are refused, as are documents over
 * TR_WF_MAX_SOURCE bytes or TR_WF_MAX_NESTING deep. */
int tr_wf_bpmn_parse(const char *xml, size_t len, tr_wf_model **out, tr_wf_problems *pr);

/* Parses the YAML workflow format (docs/workflows.md); same contract. */
int tr_wf_yaml_parse(const char *yaml, size_t len, tr_wf_model **out, tr_wf_problems *pr);

#endif
