/* task.c - user tasks: list, count, get, claim, unclaim, complete, form
 * variables.
 *
 * The open tasks of a process key live in its task index, wftask/<key>
 * (actors/workflow/index.h). A task's id is "<instance>:<n>", so a request
 * about one task asks its instance (wf/<instance>) for the key first. A
 * list names a key (processDefinitionKey), an instance (whose key is asked
 * for), or neither: then every key's index is asked (fanout.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/camunda/internal.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"

#define ASK_MS 20000

static json_t *date_or_null(const tr_unpack *t, const char *k) {
  int64_t ms = 0;
  const char *s;
  size_t n;
  if (tr_unpack_find_int(t, k, &ms) == 0 && ms > 0) {
    char d[32];
    rest_date((uint64_t)ms, d);
    return json_string(d);
  }
  if (tr_unpack_find_str(t, k, &s, &n) == 0 && n) return json_stringn(s, n);
  return json_null();
}

static json_t *task_json(const tr_unpack *t) {
  int64_t prio = 50;
  tr_unpack_find_int(t, "priority", &prio);
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:n, s:n, s:o, s:n, s:n, s:I, s:o, s:o, "
                   "s:o, s:n, s:n, s:n, s:b, s:o, s:n}",
                   "id", rest_str(t, "id"), "name", rest_str(t, "name"), "assignee",
                   rest_str(t, "assignee"), "created", date_or_null(t, "created"), "due",
                   date_or_null(t, "due"), "followUp", date_or_null(t, "follow_up"),
                   "delegationState", "description", "executionId", rest_str(t, "pi"), "owner",
                   "parentTaskId", "priority", (json_int_t)prio, "processDefinitionId",
                   rest_str(t, "def"), "processInstanceId", rest_str(t, "pi"),
                   "taskDefinitionKey", rest_str(t, "act"), "caseExecutionId", "caseInstanceId",
                   "caseDefinitionId", "suspended", 0, "formKey", rest_str(t, "form_key"),
                   "tenantId");
}

/* ------------------------------------------------------------ list */

typedef struct tq {
  char key[256], pi[320];
  int count_only;
  int64_t first, max;
} tq;

static int list_done(tr_ctx *ctx, rq *r) {
  tq *q = r->scratch;
  json_t *all = r->acc ? r->acc : json_array();
  r->acc = NULL;
  return rq_list(ctx, r, all, q->first, q->max, q->count_only);
}

static int ask_list(tr_ctx *ctx, rq *r, const char *key) {
  static const char *const map[][2] = {
      {"assignee", "assignee"},         {"candidateUser", "candidate_user"},
      {"candidateGroup", "candidate_group"}, {"processInstanceId", "pi"},
      {"taskDefinitionKey", "act"},     {"processInstanceBusinessKey", "bk"}};
  tr_pack pk = TR_PACK_INIT;
  char v[6][256];
  int have[6], n = 0, un = 0, present;
  for (int i = 0; i < 6; i++) {
    int rc = rq_query(r, map[i][0], v[i], sizeof v[i]);
    if (rc < 0) {
      tr_pack_free(&pk);
      return rq_error(ctx, r, 400, "InvalidRequestException", "%s is too long", map[i][0]);
    }
    n += have[i] = rc == 1;
  }
  int rc = rq_query_bool(ctx, r, "unassigned", &un, &present);
  if (rc) return rc;
  int inc = 0, inc_present;
  if ((rc = rq_query_bool(ctx, r, "includeAssignedTasks", &inc, &inc_present))) return rc;
  tr_pack_map(&pk, (uint32_t)(n + (present && un) + inc));
  if (inc) {
    tr_pack_str(&pk, "include_assigned");
    tr_pack_bool(&pk, 1);
  }
  for (int i = 0; i < 6; i++)
    if (have[i]) tr_pack_kv_str(&pk, map[i][1], v[i]);
  if (present && un) {
    tr_pack_str(&pk, "unassigned");
    tr_pack_bool(&pk, 1);
  }
  if (key) rc = rq_ask2(ctx, r, TR_WF_TASK_KIND, key, TR_WFT_LIST, &pk, ASK_MS);
  else rc = rq_fanout(ctx, r, TR_WF_TASK_KIND, TR_WFT_LIST, &pk);
  tr_pack_free(&pk);
  if (rc == TR_EINVAL && key) return list_done(ctx, r);
  return rc < 0 ? rc : 0;
}

static int list_common(tr_ctx *ctx, rq *r, int count_only) {
  tq *q = calloc(1, sizeof *q);
  if (!q) return TR_ENOMEM;
  r->scratch = q;
  r->scratch_free = free;
  q->count_only = count_only;
  int rc;
  if (rq_query(r, "processDefinitionKey", q->key, sizeof q->key) < 0 ||
      rq_query(r, "processInstanceId", q->pi, sizeof q->pi) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException", "a query parameter is too long");
  if ((rc = rq_paging(ctx, r, &q->first, &q->max))) return rc;
  if (q->key[0]) return ask_list(ctx, r, q->key);
  if (q->pi[0]) { /* the instance names its key */
    r->step = 1;
    uint8_t buf[8];
    tr_pack pk;
    tr_pack_init_fixed(&pk, buf, sizeof buf);
    tr_pack_map(&pk, 0);
    rc = rq_ask2(ctx, r, TR_WF_KIND, q->pi, TR_WF_GET, &pk, ASK_MS);
    if (rc == TR_EINVAL) return list_done(ctx, r);
    return rc < 0 ? rc : 0;
  }
  return ask_list(ctx, r, NULL);
}

static int list_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  tq *q = r->scratch;
  if (r->step == 1) { /* the instance's key */
    r->step = 2;
    if (msg->type == TR_MSG_TIMEOUT || tr_reply_status(msg->data, msg->len) < 0)
      return list_done(ctx, r); /* no such instance: no tasks */
    tr_unpack u;
    tr_unpack_init(&u, msg->data, msg->len);
    const char *k;
    size_t n;
    if (tr_unpack_find_str(&u, "key", &k, &n) < 0 || n >= sizeof q->key) return list_done(ctx, r);
    memcpy(q->key, k, n);
    q->key[n] = 0;
    return ask_list(ctx, r, q->key);
  }
  if (!q->key[0]) {
    int rc = rq_fanout_reply(ctx, r, idx, msg, list_done);
    if (rc == 1) return 0;
    if (rc) return rc;
  }
  if (msg->type == TR_MSG_TIMEOUT)
    return rq_error(ctx, r, 503, "RestException", "a task index did not answer in time");
  if (tr_reply_status(msg->data, msg->len) == 0) {
    tr_unpack u, list;
    uint32_t n;
    tr_unpack_init(&u, msg->data, msg->len);
    if (tr_unpack_find(&u, "tasks", &list) == 0 && tr_unpack_array(&list, &n) == 0) {
      if (!r->acc) r->acc = json_array();
      for (uint32_t i = 0; i < n && r->acc; i++) {
        tr_unpack t = list;
        if (tr_unpack_skip(&list) < 0) break;
        json_t *j = task_json(&t);
        if (j) json_array_append_new(r->acc, j);
      }
    }
  }
  return r->pending ? 0 : list_done(ctx, r);
}

static int t_list(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 0); }
static int t_count(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 1); }

/* ------------------------------------------------------------ one task */

enum { OP_GET = 1, OP_CLAIM, OP_UNCLAIM, OP_COMPLETE, OP_FORM };

static int no_task(tr_ctx *ctx, rq *r) {
  return rq_error(ctx, r, 404, "InvalidRequestException", "Cannot find task with id %s", r->param[0]);
}

static int one(tr_ctx *ctx, rq *r, int op) {
  r->step = op;
  json_t *b = NULL;
  int rc = rq_body(ctx, r, op != OP_CLAIM, &b);
  if (rc) return rc;
  if (op == OP_CLAIM) {
    json_t *u = json_object_get(b, "userId");
    if (!json_is_string(u) || !json_string_length(u) || json_string_length(u) > 255)
      return rq_error(ctx, r, 400, "InvalidRequestException", "userId is required");
  }
  if (op == OP_COMPLETE) { /* check the variables before anything is asked */
    tr_pack pk = TR_PACK_INIT;
    char err[300];
    rc = rest_vars_to_msgpack(b ? json_object_get(b, "variables") : NULL, &pk, err, sizeof err);
    tr_pack_free(&pk);
    if (rc == TR_EINVAL) return rq_error(ctx, r, 400, "InvalidRequestException", "%s", err);
    if (rc < 0) return rc;
  }
  char pi[RQ_PARAM_MAX];
  snprintf(pi, sizeof pi, "%s", r->param[0]);
  char *colon = strrchr(pi, ':');
  if (!colon || colon == pi) return no_task(ctx, r);
  *colon = 0;
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 0);
  rc = rq_ask2(ctx, r, TR_WF_KIND, pi, TR_WF_GET, &pk, ASK_MS);
  if (rc == TR_EINVAL) return no_task(ctx, r);
  return rc < 0 ? rc : 0;
}

/* Camunda's form variables: the form fields' values (the variable of the
 * field's id, else its default), or every variable without form fields. */
static json_t *form_vars(const tr_unpack *t) {
  tr_unpack v, fields;
  const void *vp = NULL;
  size_t vl = 0;
  uint32_t nf = 0;
  if (tr_unpack_find(t, "vars", &v) == 0) tr_unpack_raw(&v, &vp, &vl);
  json_t *all = rest_vars_from_msgpack(vp, vl, NULL);
  if (!all || tr_unpack_find(t, "fields", &fields) < 0 || tr_unpack_array(&fields, &nf) < 0 || !nf)
    return all;
  json_t *out = json_object();
  for (uint32_t i = 0; out && i < nf; i++) {
    tr_unpack f = fields;
    if (tr_unpack_skip(&fields) < 0) break;
    const char *id, *def, *type;
    size_t il, dl, tl;
    char name[256];
    if (tr_unpack_find_str(&f, "id", &id, &il) < 0 || il >= sizeof name) continue;
    memcpy(name, id, il);
    name[il] = 0;
    json_t *val = json_object_get(all, name);
    if (val) {
      json_object_set(out, name, val);
      continue;
    }
    if (tr_unpack_find_str(&f, "type", &type, &tl) < 0) type = "string", tl = 6;
    json_t *d = tr_unpack_find_str(&f, "default", &def, &dl) == 0 ? json_stringn(def, dl) : json_null();
    const char *ct = tl == 4 && !memcmp(type, "long", 4) ? "Long"
                     : tl == 7 && !memcmp(type, "boolean", 7) ? "Boolean"
                     : tl == 4 && !memcmp(type, "date", 4) ? "Date"
                                                          : "String";
    if (json_is_string(d) && !strcmp(ct, "Long")) {
      json_t *x = json_integer(strtoll(json_string_value(d), NULL, 10));
      json_decref(d);
      d = x;
    } else if (json_is_string(d) && !strcmp(ct, "Boolean")) {
      json_t *x = json_boolean(!strcmp(json_string_value(d), "true"));
      json_decref(d);
      d = x;
    }
    json_object_set_new(out, name, json_pack("{s:s, s:o, s:{}}", "type", ct, "value", d, "valueInfo"));
  }
  json_decref(all);
  return out;
}

static int one_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == TR_ENOENT)
    return no_task(ctx, r);
  if (msg->type != TR_MSG_TIMEOUT && idx == 1 && r->step == OP_CLAIM &&
      (tr_reply_status(msg->data, msg->len) == TR_EPERM ||
       tr_reply_status(msg->data, msg->len) == TR_EEXIST ||
       tr_reply_status(msg->data, msg->len) == TR_EBUSY))
    return rq_error(ctx, r, 500, "TaskAlreadyClaimedException",
                    "Task '%s' is already claimed by someone else.", r->param[0]);
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  tr_unpack u;
  tr_unpack_init(&u, msg->data, msg->len);
  if (idx == 0) { /* the instance: its key names the task index */
    const char *k;
    size_t n;
    char key[256];
    if (tr_unpack_find_str(&u, "key", &k, &n) < 0 || n >= sizeof key) return no_task(ctx, r);
    memcpy(key, k, n);
    key[n] = 0;
    tr_pack pk = TR_PACK_INIT;
    uint32_t type = TR_WFT_GET;
    json_t *b = r->body;
    if (r->step == OP_CLAIM) {
      tr_pack_map(&pk, 2);
      tr_pack_kv_str(&pk, "user", json_string_value(json_object_get(b, "userId")));
      type = TR_WFT_CLAIM;
    } else if (r->step == OP_UNCLAIM) {
      tr_pack_map(&pk, 1);
      type = TR_WFT_UNCLAIM;
    } else if (r->step == OP_COMPLETE) {
      char err[300];
      tr_pack_map(&pk, 2);
      tr_pack_str(&pk, "vars");
      rest_vars_to_msgpack(b ? json_object_get(b, "variables") : NULL, &pk, err, sizeof err);
      type = TR_WFT_COMPLETE;
    } else {
      tr_pack_map(&pk, 1);
    }
    tr_pack_kv_str(&pk, "id", r->param[0]);
    rc = rq_ask2(ctx, r, TR_WF_TASK_KIND, key, type, &pk, ASK_MS);
    tr_pack_free(&pk);
    return rc < 0 ? rc : 0;
  }
  if (r->step != OP_GET && r->step != OP_FORM) return rq_status(ctx, r, 204);
  tr_unpack t;
  if (tr_unpack_find(&u, "task", &t) < 0) return rq_error(ctx, r, 500, "RestException", "malformed answer");
  json_t *o = r->step == OP_GET ? task_json(&t) : form_vars(&t);
  return rq_json(ctx, r, 200, o);
}

static int t_get(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_GET); }
static int t_claim(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_CLAIM); }
static int t_unclaim(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_UNCLAIM); }
static int t_complete(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_COMPLETE); }
static int t_form(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_FORM); }

const endpoint rest_task_eps[] = {
    {"GET", "/task", t_list, list_reply},
    {"GET", "/task/count", t_count, list_reply},
    {"GET", "/task/{}", t_get, one_reply},
    {"POST", "/task/{}/claim", t_claim, one_reply},
    {"POST", "/task/{}/unclaim", t_unclaim, one_reply},
    {"POST", "/task/{}/complete", t_complete, one_reply},
    {"POST", "/task/{}/submit-form", t_complete, one_reply},
    {"GET", "/task/{}/form-variables", t_form, one_reply},
    {NULL, NULL, NULL, NULL}};
