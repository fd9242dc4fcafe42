/* wfcheck.c - parses BPMN (.bpmn) or YAML (.yaml) workflow files and prints
 * a summary of each model, or its problems as Camunda's ParseException JSON.
 * Exit status 0 when every file compiled. A developer's tool and a test
 * helper: `wfcheck model.bpmn`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/parse.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, k;
  char *b = malloc(cap);
  while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
    n += k;
    if (n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  fclose(f);
  *len = n;
  return b;
}

int main(int argc, char **argv) {
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    size_t len;
    char *src = slurp(argv[i], &len);
    if (!src) {
      perror(argv[i]);
      return 2;
    }
    tr_wf_model *m;
    tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
    size_t pl = strlen(argv[i]);
    bool yaml = pl > 5 && (strcmp(argv[i] + pl - 5, ".yaml") == 0 || strcmp(argv[i] + pl - 4, ".yml") == 0);
    int rc = yaml ? tr_wf_yaml_parse(src, len, &m, &pr) : tr_wf_bpmn_parse(src, len, &m, &pr);
    const char *base = strrchr(argv[i], '/');
    base = base ? base + 1 : argv[i];
    if (rc == 0) {
      printf("%s: ok: %d processes, %d elements, %d flows, %d warnings\n", base, m->n_processes,
             m->n_elements, m->n_flows, pr.n);
      for (int k = 0; k < pr.n; k++)
        printf("  warning %d:%d %s: %s\n", pr.items[k].line, pr.items[k].column,
               pr.items[k].main_id ? pr.items[k].main_id : "-", pr.items[k].message);
      tr_wf_model_free(m);
    } else {
      char *json;
      bad = 1;
      if (tr_wf_problems_json(&pr, base, &json) == 0) {
        printf("%s\n", json);
        free(json);
      }
    }
    tr_wf_problems_free(&pr);
    free(src);
  }
  return bad;
}
