/* message.c - POST /message: message correlation, and the small endpoints
 * clients probe (GET /engine, GET /version).
 *
 * A message goes to the subscriptions of its name, wfmsg/<name>
 * (actors/workflow/index.h), which matches the waiting instances by
 * business key and correlation keys, or starts an instance at a message
 * start event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/camunda/internal.h"
#include "actors/workflow/index.h"

#define ASK_MS 20000

static int corr_start(tr_ctx *ctx, rq *r) {
  json_t *b;
  int rc = rq_body(ctx, r, 0, &b);
  if (rc) return rc;
  json_t *name = json_object_get(b, "messageName"), *bk = json_object_get(b, "businessKey");
  json_t *keys = json_object_get(b, "correlationKeys"), *vars = json_object_get(b, "processVariables");
  json_t *all = json_object_get(b, "all"), *result = json_object_get(b, "resultEnabled");
  if (!json_is_string(name) || !json_string_length(name))
    return rq_error(ctx, r, 400, "InvalidRequestException", "messageName is required");
  if (bk && !json_is_null(bk) && !json_is_string(bk))
    return rq_error(ctx, r, 400, "InvalidRequestException", "businessKey must be a string");
  static const char *const unsupported[] = {"tenantId", "processInstanceId", "localCorrelationKeys",
                                            "processVariablesLocal"};
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
    json_t *x = json_object_get(b, unsupported[i]);
    if (x && !json_is_null(x) && !(json_is_object(x) && !json_object_size(x)))
      return rq_error(ctx, r, 400, "InvalidRequestException",
                      "%s is not supported in a correlation (docs/http-api.md)", unsupported[i]);
  }
  r->step = json_is_true(result);
  char err[300] = "";
  tr_pack pk = TR_PACK_INIT;
  int has_bk = json_is_string(bk), has_keys = json_is_object(keys) && json_object_size(keys);
  tr_pack_map(&pk, (uint32_t)(2 + has_bk + has_keys));
  if (has_bk) tr_pack_kv_str(&pk, "bk", json_string_value(bk));
  if (has_keys) {
    tr_pack_str(&pk, "corr");
    rc = rest_vars_to_msgpack(keys, &pk, err, sizeof err);
  }
  tr_pack_str(&pk, "vars");
  if (rc == 0) rc = rest_vars_to_msgpack(vars, &pk, err, sizeof err);
  tr_pack_str(&pk, "all");
  tr_pack_bool(&pk, json_is_true(all));
  if (rc == 0) rc = rq_ask2(ctx, r, TR_WF_MSG_KIND, json_string_value(name), TR_WFM_CORRELATE, &pk, ASK_MS);
  tr_pack_free(&pk);
  if (rc == TR_EINVAL && !err[0])
    return rq_error(ctx, r, 400, "InvalidRequestException", "messageName is not a valid name");
  if (rc == TR_EINVAL) return rq_error(ctx, r, 400, "InvalidRequestException", "%s", err);
  return rc < 0 ? rc : 0;
}

static int corr_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  (void)idx;
  const char *name = json_string_value(json_object_get(r->body, "messageName"));
  if (msg->type != TR_MSG_TIMEOUT) {
    int code = tr_reply_status(msg->data, msg->len);
    if (code == TR_ENOENT)
      return rq_error(ctx, r, 400, "MismatchingMessageCorrelationException",
                      "Cannot correlate message '%s': No process definition or execution matches "
                      "the parameters", name);
    if (code == TR_EEXIST)
      return rq_error(ctx, r, 400, "MismatchingMessageCorrelationException",
                      "Cannot correlate message '%s': more than one execution matches the "
                      "parameters", name);
  }
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  if (!r->step) return rq_status(ctx, r, 204);
  tr_unpack u, list;
  uint32_t n = 0;
  tr_unpack_init(&u, msg->data, msg->len);
  json_t *out = json_array();
  if (tr_unpack_find(&u, "matched", &list) == 0 && tr_unpack_array(&list, &n) == 0)
    for (uint32_t i = 0; out && i < n; i++) {
      tr_unpack m = list;
      if (tr_unpack_skip(&list) < 0) break;
      int started = 0;
      tr_unpack_find_bool(&m, "started", &started);
      json_t *pi = rest_str(&m, "pi");
      json_t *inst = json_pack("{s:O, s:n, s:n, s:b, s:b, s:n}", "id", pi, "definitionId",
                               "businessKey", "ended", 0, "suspended", 0, "tenantId");
      json_t *item = started
                         ? json_pack("{s:s, s:n, s:o}", "resultType", "ProcessDefinition",
                                     "execution", "processInstance", inst)
                         : json_pack("{s:s, s:{s:O, s:O, s:b, s:n}, s:n}", "resultType",
                                     "Execution", "execution", "id", pi, "processInstanceId", pi,
                                     "ended", 0, "tenantId", "processInstance");
      if (!started) json_decref(inst);
      json_decref(pi);
      if (item) json_array_append_new(out, item);
    }
  return rq_json(ctx, r, 200, out);
}

static int engine_start(tr_ctx *ctx, rq *r) {
  return rq_json(ctx, r, 200, json_pack("[{s:s}]", "name", "default"));
}

static int version_start(tr_ctx *ctx, rq *r) {
  /* the Camunda API level troupe speaks; the node's own version is in /healthz */
  return rq_json(ctx, r, 200, json_pack("{s:s}", "version", "7.20.0"));
}

const endpoint rest_message_eps[] = {{"POST", "/message", corr_start, corr_reply},
                                     {NULL, NULL, NULL, NULL}};

const endpoint rest_misc_eps[] = {{"GET", "/engine", engine_start, NULL},
                                  {"GET", "/version", version_start, NULL},
                                  {NULL, NULL, NULL, NULL}};
