/* fuzz_wfyaml.c - the YAML workflow parser (actors/workflow/yaml.c) on
 * arbitrary bytes: no crash, no leak, the invariants of fuzz_wf_check.h. */
#include <stdint.h>

#include "fuzz_wf_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tr_wf_model *m;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int rc = tr_wf_yaml_parse((const char *)data, size, &m, &pr);
  wf_check(rc, m, &pr);
  return 0;
}
