/* fanout.c - a question to every process key's actor (internal.h): the
 * catalog (wfcat/keys) names the keys, then each key's actor of a kind is
 * asked the same thing. The endpoint merges the answers as they come. */
#include <stdlib.h>
#include <string.h>

#include "actors/camunda/internal.h"
#include "actors/workflow/repo.h"

#define FAN_TIMEOUT_MS 20000

int rq_fanout(tr_ctx *ctx, rq *r, const char *kind, uint32_t type, const tr_pack *pk) {
  if (pk->err) return pk->err;
  if (strlen(kind) >= sizeof r->fan_kind) return TR_EINVAL;
  strcpy(r->fan_kind, kind);
  r->fan_type = type;
  r->fan_data = malloc(pk->len ? pk->len : 1);
  if (!r->fan_data) return TR_ENOMEM;
  memcpy(r->fan_data, pk->data, pk->len);
  r->fan_len = pk->len;
  uint8_t buf[8];
  tr_pack q;
  tr_pack_init_fixed(&q, buf, sizeof buf);
  tr_pack_map(&q, 0);
  int rc = rq_ask(ctx, r, TR_WF_CAT_NAME, TR_WF_CAT_LIST, &q, FAN_TIMEOUT_MS);
  return rc < 0 ? rc : 0;
}

int rq_fanout_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg,
                    int (*done)(tr_ctx *ctx, rq *r)) {
  if (idx != 0) return 0;
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  tr_unpack u, keys;
  uint32_t n;
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find(&u, "keys", &keys) < 0 || tr_unpack_array(&keys, &n) < 0)
    return rq_error(ctx, r, 500, "RestException", "the catalog gave a malformed answer");
  r->fan_keys = json_array();
  if (!r->fan_keys) return TR_ENOMEM;
  tr_pack pk;
  tr_pack_init_fixed(&pk, r->fan_data, r->fan_len);
  pk.len = r->fan_len;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kl;
    if (tr_unpack_str(&keys, &k, &kl) < 0) break;
    char key[256];
    if (kl >= sizeof key) continue;
    memcpy(key, k, kl);
    key[kl] = 0;
    rc = rq_ask2(ctx, r, r->fan_kind, key, r->fan_type, &pk, FAN_TIMEOUT_MS);
    if (rc < 0) continue; /* a key that makes no name: nothing to ask */
    json_array_append_new(r->fan_keys, json_string(key));
  }
  if (r->pending == 0) return done(ctx, r);
  return 1;
}
