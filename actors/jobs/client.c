/* client.c - what workers and the engine use to talk to job queues
 * (troupe/jobs.h): names, replies, and the two calls a push worker makes. */
#include <string.h>

#include "troupe/troupe.h"
#include "troupe/jobs.h"

int tr_job_queue_name(const char *topic, char *buf, size_t cap) {
  if (!topic || !buf) return TR_EINVAL;
  size_t n = strlen(topic);
  if (!n || n > TR_JOB_TOPIC_MAX || n + sizeof TR_JOB_KIND + 1 > cap) return TR_EINVAL;
  memcpy(buf, TR_JOB_KIND "/", sizeof TR_JOB_KIND);
  memcpy(buf + sizeof TR_JOB_KIND, topic, n + 1);
  return tr_virtual_name_check(buf); /* UTF-8, no control bytes */
}

int tr_job_id_topic(const char *id, char *buf, size_t cap) {
  if (!id || !buf) return TR_EINVAL;
  const char *dash = strchr(id, '-');
  if (!dash || dash == id || !dash[1]) return TR_EINVAL;
  for (const char *p = id; p < dash; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return TR_EINVAL;
  size_t n = strlen(dash + 1);
  if (n > TR_JOB_TOPIC_MAX || n + 1 > cap) return TR_EINVAL;
  memcpy(buf, dash + 1, n + 1);
  return 0;
}

int tr_job_reply_status(const tr_msg *reply, tr_unpack *body) {
  if (!reply) return TR_EINVAL;
  tr_unpack u;
  tr_unpack_init(&u, reply->data, reply->len);
  if (body) *body = u;
  return reply->type == TR_JOB_REPLY ? tr_reply_status(reply->data, reply->len) : TR_EPROTO;
}

int tr_job_subscribe(tr_ctx *ctx, const char *topic, const char *worker, uint32_t max,
                     uint32_t lock_ms, uint64_t *corr) {
  char name[TR_JOB_TOPIC_MAX + 8];
  if (!worker || tr_job_queue_name(topic, name, sizeof name) < 0) return TR_EINVAL;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 3);
  tr_pack_kv_str(&pk, "worker", worker);
  tr_pack_kv_int(&pk, "max", max);
  tr_pack_kv_int(&pk, "lock_ms", lock_ms);
  int rc = pk.err ? pk.err : tr_virtual_ask(ctx, name, TR_JOB_SUBSCRIBE, pk.data, pk.len, 10000, corr);
  tr_pack_free(&pk);
  return rc;
}

int tr_job_complete(tr_ctx *ctx, const char *topic, const char *id, const char *worker,
                    const void *vars, size_t vars_len, uint64_t *corr) {
  char name[TR_JOB_TOPIC_MAX + 8];
  if (!id || !worker || (vars_len && !vars) || tr_job_queue_name(topic, name, sizeof name) < 0)
    return TR_EINVAL;
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, vars_len ? 3 : 2);
  tr_pack_kv_str(&pk, "id", id);
  tr_pack_kv_str(&pk, "worker", worker);
  if (vars_len) {
    tr_pack_str(&pk, "vars");
    tr_pack_raw(&pk, vars, vars_len);
  }
  int rc = pk.err ? pk.err : tr_virtual_ask(ctx, name, TR_JOB_COMPLETE, pk.data, pk.len, 10000, corr);
  tr_pack_free(&pk);
  return rc;
}
