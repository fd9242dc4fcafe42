/* index.c - registering the index kinds and naming their actors
 * (index.h). */
#include <stdio.h>
#include <string.h>

#include "actors/workflow/idx.h"

int tr_wf_index_register(tr_system *sys, uint32_t roles) {
  /* snapshots every 1,000 events, as the job queues: a long-lived index
   * recovers from its newest snapshot and a short tail of events */
  const struct {
    const char *name;
    const tr_persistent *b;
  } kinds[] = {{TR_WF_TASK_KIND, tr_wf_tasks_behavior()},
               {TR_WF_MSG_KIND, tr_wf_msgs_behavior()},
               {TR_WF_HIST_KIND, tr_wf_hist_behavior()}};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    int rc = tr_kind_register(sys, &(tr_kind){.name = kinds[i].name, .persistent = kinds[i].b,
                                              .roles = roles, .snapshot_every = 1000,
                                              .snapshot_keep = 2,
                                              /* their records grow (wfhist keeps
                                               * 100,000 finished per key): a snapshot
                                               * of all of them every 1,000 events
                                               * cost O(records) per event */
                                              .snapshot_amortized = 1});
    if (rc < 0) return rc;
  }
  return 0;
}

int tr_wf_index_name(const char *kind, const char *key, char *buf, size_t cap) {
  if (!kind || !key || !buf || !key[0]) return TR_EINVAL;
  if (strcmp(kind, TR_WF_TASK_KIND) && strcmp(kind, TR_WF_MSG_KIND) &&
      strcmp(kind, TR_WF_HIST_KIND))
    return TR_EINVAL;
  int n = snprintf(buf, cap, "%s/%s", kind, key);
  if (n < 0 || (size_t)n >= cap) return TR_EINVAL;
  return tr_virtual_name_check(buf);
}

int tr_wf_idx_reply_status(const tr_msg *reply, tr_unpack *body) {
  if (!reply) return TR_EINVAL;
  if (body) tr_unpack_init(body, reply->data, reply->len);
  if (reply->type == TR_MSG_TIMEOUT) return TR_ETIMEDOUT;
  return reply->type == TR_WF_IDX_REPLY ? tr_reply_status(reply->data, reply->len) : TR_EPROTO;
}

int tr_wf_index_ask(tr_ctx *ctx, const char *kind, const char *key, uint32_t type,
                    const void *data, size_t len, uint32_t timeout_ms, uint64_t *corr) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  if (!ctx || (len && !data)) return TR_EINVAL;
  int rc = tr_wf_index_name(kind, key, name, sizeof name);
  return rc < 0 ? rc : tr_virtual_ask(ctx, name, type, data, len, timeout_ms, corr);
}
