/* history.c - process instances, running and finished: the runtime list
 * (GET /process-instance), the history list (GET /history/process-
 * instance), their counts, one instance, its variables and its activity
 * history.
 *
 * Lists come from the history index of each process key (wfhist/<key>,
 * actors/workflow/index.h): one key when the query names it, every key
 * otherwise. The index filters; the merged list is filtered again here (so
 * a filter means the same whatever an index version supports), ordered by
 * start time and paged. One instance is asked itself (wf/<id>) first: it
 * knows its key, and it is the truth about where its tokens are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/camunda/internal.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"

#define ASK_MS 20000

typedef struct hq {
  int history, count_only, finished, unfinished;
  char key[256], bk[256], pi[320], ids[2048];
  uint64_t started_after, started_before, finished_after, finished_before;
  int64_t first, max;
} hq;

static int64_t rec_int(const tr_unpack *m, const char *k) {
  int64_t v = 0;
  tr_unpack_find_int(m, k, &v);
  return v;
}

static int str_is(const tr_unpack *m, const char *k, const char *want) {
  const char *s;
  size_t n;
  if (tr_unpack_find_str(m, k, &s, &n) < 0) return !want[0];
  return n == strlen(want) && !memcmp(s, want, n);
}

static json_t *date_or_null(int64_t ms) {
  if (ms <= 0) return json_null();
  char d[32];
  rest_date((uint64_t)ms, d);
  return json_string(d);
}

static const char *camunda_state(const tr_unpack *rec) {
  if (str_is(rec, "state", "running")) return "ACTIVE";
  if (str_is(rec, "state", "completed")) return "COMPLETED";
  if (str_is(rec, "state", "terminated")) return "INTERNALLY_TERMINATED";
  return "EXTERNALLY_TERMINATED"; /* failed: ended by an incident nobody resolved */
}

/* A history record as Camunda's historic process instance. */
static json_t *hist_json(const tr_unpack *rec) {
  int64_t start = rec_int(rec, "start"), end = rec_int(rec, "end");
  json_t *pi = rest_str(rec, "pi");
  return json_pack("{s:O, s:o, s:o, s:o, s:n, s:I, s:o, s:o, s:o, s:n, s:n, s:n, s:o, s:n, "
                   "s:n, s:n, s:n, s:n, s:s}",
                   "id", pi, "businessKey", rest_str(rec, "bk"), "processDefinitionId",
                   rest_str(rec, "def"), "processDefinitionKey", rest_str(rec, "key"),
                   "processDefinitionName", "processDefinitionVersion",
                   (json_int_t)rec_int(rec, "version"), "startTime", date_or_null(start),
                   "endTime", date_or_null(end), "durationInMillis",
                   end > 0 ? json_integer(end - start) : json_null(), "startUserId",
                   "startActivityId", "deleteReason", "rootProcessInstanceId", pi,
                   "superProcessInstanceId", "superCaseInstanceId", "caseInstanceId",
                   "tenantId", "removalTime", "state", camunda_state(rec));
  /* id took a reference of its own (O), rootProcessInstanceId the one we had */
}

/* A running record as Camunda's runtime process instance. */
static json_t *runtime_json(const tr_unpack *rec) {
  json_t *id = rest_str(rec, "pi");
  char self[360];
  snprintf(self, sizeof self, "/process-instance/%s", json_is_string(id) ? json_string_value(id) : "");
  return json_pack("{s:[{s:s, s:s, s:s}], s:o, s:o, s:o, s:n, s:b, s:b, s:n}", "links", "method",
                   "GET", "href", self, "rel", "self", "id", id, "definitionId",
                   rest_str(rec, "def"), "businessKey", rest_str(rec, "bk"), "caseInstanceId",
                   "ended", 0, "suspended", 0, "tenantId");
}

/* Whether a record passes the query (the index filtered already; this
 * makes the answer the same whatever it supports). */
static int passes(const hq *q, const tr_unpack *rec) {
  int running = str_is(rec, "state", "running");
  if (!q->history && !running) return 0;
  if (q->finished && running) return 0;
  if (q->unfinished && !running) return 0;
  if (q->bk[0] && !str_is(rec, "bk", q->bk)) return 0;
  if (q->pi[0] && !str_is(rec, "pi", q->pi)) return 0;
  if (q->ids[0]) {
    const char *s;
    size_t n;
    if (tr_unpack_find_str(rec, "pi", &s, &n) < 0) return 0;
    int found = 0;
    for (const char *p = q->ids; *p && !found;) {
      const char *c = strchr(p, ',');
      size_t l = c ? (size_t)(c - p) : strlen(p);
      found = l == n && !memcmp(p, s, n);
      p += l + (c != NULL);
    }
    if (!found) return 0;
  }
  uint64_t start = (uint64_t)rec_int(rec, "start"), end = (uint64_t)rec_int(rec, "end");
  if (q->started_after && start < q->started_after) return 0;
  if (q->started_before && start > q->started_before) return 0;
  if (q->finished_after && (!end || end < q->finished_after)) return 0;
  if (q->finished_before && (!end || end > q->finished_before)) return 0;
  return 1;
}

static int by_start(const void *a, const void *b) {
  json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  json_int_t s = json_integer_value(json_array_get(x, 0)), t = json_integer_value(json_array_get(y, 0));
  return s < t ? -1 : s > t;
}

static int list_done(tr_ctx *ctx, rq *r) {
  hq *q = r->scratch;
  if (q->count_only && !q->ids[0]) /* the indexes counted every match */
    return rq_json(ctx, r, 200, json_pack("{s:i}", "count", r->count));
  json_t *all = r->acc ? r->acc : json_array(); /* [[start, json], ...] */
  r->acc = NULL;
  if (!all) return TR_ENOMEM;
  size_t n = json_array_size(all);
  json_t **v = malloc((n ? n : 1) * sizeof *v);
  json_t *sorted = json_array();
  if (!v || !sorted) {
    free(v);
    json_decref(all);
    json_decref(sorted);
    return TR_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) v[i] = json_array_get(all, i);
  qsort(v, n, sizeof *v, by_start);
  for (size_t i = 0; i < n; i++) json_array_append(sorted, json_array_get(v[i], 1));
  free(v);
  json_decref(all);
  return rq_list(ctx, r, sorted, q->first, q->max, q->count_only);
}

static int list_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  hq *q = r->scratch;
  if (!q->key[0]) {
    int rc = rq_fanout_reply(ctx, r, idx, msg, list_done);
    if (rc == 1) return 0;
    if (rc) return rc;
  }
  if (msg->type == TR_MSG_TIMEOUT)
    return rq_error(ctx, r, 503, "RestException", "a history index did not answer in time");
  if (tr_reply_status(msg->data, msg->len) == 0) {
    tr_unpack u, list;
    uint32_t n;
    int64_t count = 0;
    tr_unpack_init(&u, msg->data, msg->len);
    tr_unpack_find_int(&u, "count", &count);
    r->count += (int)count;
    if (tr_unpack_find(&u, "instances", &list) == 0 && tr_unpack_array(&list, &n) == 0) {
      if (!r->acc) r->acc = json_array();
      for (uint32_t i = 0; i < n && r->acc; i++) {
        tr_unpack rec = list;
        if (tr_unpack_skip(&list) < 0) break;
        if (!passes(q, &rec)) continue;
        json_t *j = q->history ? hist_json(&rec) : runtime_json(&rec);
        if (j) json_array_append_new(r->acc, json_pack("[I, o]", (json_int_t)rec_int(&rec, "start"), j));
      }
    }
  }
  return r->pending ? 0 : list_done(ctx, r);
}

static int date_param(tr_ctx *ctx, rq *r, const char *name, uint64_t *out) {
  char buf[64];
  int rc = rq_query(r, name, buf, sizeof buf);
  if (rc == 0) return 0;
  if (rc < 0 || rest_date_parse(buf, out) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "Cannot set query parameter '%s': not a date (yyyy-MM-dd'T'HH:mm:ss.SSSZ)", name);
  return 0;
}

static int list_common(tr_ctx *ctx, rq *r, int history, int count_only) {
  hq *q = calloc(1, sizeof *q);
  if (!q) return TR_ENOMEM;
  r->scratch = q;
  r->scratch_free = free;
  q->history = history;
  q->count_only = count_only;
  int present, rc;
  if (rq_query(r, "processDefinitionKey", q->key, sizeof q->key) < 0 ||
      rq_query(r, "businessKey", q->bk, sizeof q->bk) < 0 ||
      rq_query(r, "processInstanceId", q->pi, sizeof q->pi) < 0 ||
      rq_query(r, history ? "processInstanceIds" : "processInstanceIds", q->ids, sizeof q->ids) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException", "a query parameter is too long");
  if ((rc = rq_query_bool(ctx, r, "finished", &q->finished, &present))) return rc;
  if ((rc = rq_query_bool(ctx, r, "unfinished", &q->unfinished, &present))) return rc;
  if ((rc = rq_query_bool(ctx, r, "active", &q->unfinished, &present))) return rc;
  if ((rc = rq_query_bool(ctx, r, "completed", &q->finished, &present))) return rc;
  if ((rc = date_param(ctx, r, "startedAfter", &q->started_after)) ||
      (rc = date_param(ctx, r, "startedBefore", &q->started_before)) ||
      (rc = date_param(ctx, r, "finishedAfter", &q->finished_after)) ||
      (rc = date_param(ctx, r, "finishedBefore", &q->finished_before)))
    return rc;
  if ((rc = rq_paging(ctx, r, &q->first, &q->max))) return rc;
  /* the index filters and pages too: it answers at most 10,000 records,
   * and the page of a merged list needs the first + max of each key's */
  tr_pack pk = TR_PACK_INIT;
  int nf = !history || q->finished || q->unfinished;
  uint64_t tb[4] = {q->started_after, q->started_before, q->finished_after, q->finished_before};
  static const char *const tk[4] = {"started_after", "started_before", "finished_after",
                                    "finished_before"};
  /* processInstanceIds is filtered here, not by the index: its page and its
   * count would be taken before the filter, so take all the index has */
  int local = q->ids[0] != 0;
  int64_t max = local || q->max < 0 || q->first + q->max > 10000 ? 10000 : q->first + q->max;
  uint32_t nt = 0;
  for (int i = 0; i < 4; i++) nt += tb[i] != 0;
  tr_pack_map(&pk, (uint32_t)(1 + nf + !!q->bk[0] + !!q->pi[0]) + nt);
  if (nf) tr_pack_kv_str(&pk, "state", !history || q->unfinished ? "running" : "finished");
  if (q->bk[0]) tr_pack_kv_str(&pk, "bk", q->bk);
  if (q->pi[0]) tr_pack_kv_str(&pk, "pi", q->pi);
  for (int i = 0; i < 4; i++)
    if (tb[i]) {
      tr_pack_str(&pk, tk[i]);
      tr_pack_uint(&pk, tb[i]);
    }
  tr_pack_kv_int(&pk, "max", q->count_only && !local ? 0 : max);
  if (!q->key[0]) rc = rq_fanout(ctx, r, TR_WF_HIST_KIND, TR_WFH_LIST, &pk);
  else rc = rq_ask2(ctx, r, TR_WF_HIST_KIND, q->key, TR_WFH_LIST, &pk, ASK_MS);
  tr_pack_free(&pk);
  if (rc == TR_EINVAL && q->key[0]) return list_done(ctx, r);
  return rc < 0 ? rc : 0;
}

static int rt_list(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 0, 0); }
static int rt_count(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 0, 1); }
static int h_list(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 1, 0); }
static int h_count(tr_ctx *ctx, rq *r) { return list_common(ctx, r, 1, 1); }

/* ------------------------------------------------------------ one instance */

enum { ONE_RUNTIME = 1, ONE_VARS, ONE_VAR, ONE_HIST, ONE_ACTS };

static int one_common(tr_ctx *ctx, rq *r, int what) {
  r->step = what;
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 0);
  int rc = rq_ask2(ctx, r, TR_WF_KIND, r->param[0], TR_WF_GET, &pk, ASK_MS);
  if (rc == TR_EINVAL)
    return rq_error(ctx, r, 404, "InvalidRequestException", "Process instance with id %s does not exist", r->param[0]);
  return rc < 0 ? rc : 0;
}

static int one_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == TR_ENOENT)
    return rq_error(ctx, r, 404, "InvalidRequestException",
                    r->step == ONE_HIST ? "Historic process instance with id %s does not exist"
                                        : "Process instance with id %s does not exist",
                    r->param[0]);
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  tr_unpack u;
  tr_unpack_init(&u, msg->data, msg->len);
  if (idx == 1) { /* the history index's record */
    tr_unpack rec;
    if (tr_unpack_find(&u, "instance", &rec) < 0)
      return rq_error(ctx, r, 500, "RestException", "the history index gave a malformed answer");
    if (r->step == ONE_HIST) return rq_json(ctx, r, 200, hist_json(&rec));
    json_t *acts = json_array();
    tr_unpack list;
    uint32_t n;
    if (acts && tr_unpack_find(&rec, "acts", &list) == 0 && tr_unpack_array(&list, &n) == 0)
      for (uint32_t i = 0; i < n; i++) {
        tr_unpack a = list;
        if (tr_unpack_skip(&list) < 0) break;
        int64_t s = rec_int(&a, "start"), e = rec_int(&a, "end");
        int canceled = 0;
        tr_unpack_find_bool(&a, "canceled", &canceled);
        json_array_append_new(
            acts, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "id",
                            rest_str(&a, "id"), "parentActivityInstanceId", rest_str(&rec, "pi"),
                            "activityId", rest_str(&a, "act"), "activityName", rest_str(&a, "name"),
                            "activityType", rest_str(&a, "type"), "processDefinitionKey",
                            rest_str(&rec, "key"), "processDefinitionId", rest_str(&rec, "def"),
                            "processInstanceId", rest_str(&rec, "pi"), "startTime", date_or_null(s),
                            "endTime", date_or_null(e), "canceled", canceled, "completeScope",
                            !canceled && e > 0));
      }
    return rq_json(ctx, r, 200, acts);
  }
  const char *state;
  size_t sl;
  int running = tr_unpack_find_str(&u, "state", &state, &sl) == 0 && sl == 7 && !memcmp(state, "running", 7);
  if (r->step == ONE_HIST || r->step == ONE_ACTS) { /* its key names its history index */
    const char *key;
    size_t kl;
    char k[256];
    if (tr_unpack_find_str(&u, "key", &key, &kl) < 0 || kl >= sizeof k)
      return rq_error(ctx, r, 500, "RestException", "the instance gave a malformed answer");
    memcpy(k, key, kl);
    k[kl] = 0;
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "pi", r->param[0]);
    rc = rq_ask2(ctx, r, TR_WF_HIST_KIND, k, TR_WFH_GET, &pk, ASK_MS);
    tr_pack_free(&pk);
    return rc < 0 ? rc : 0;
  }
  if (!running) /* Camunda's runtime forgets ended instances: only history has them */
    return rq_error(ctx, r, 404, "InvalidRequestException", "Process instance with id %s does not exist", r->param[0]);
  tr_unpack vars;
  const void *vp = NULL;
  size_t vl = 0;
  if (tr_unpack_find(&u, "vars", &vars) == 0) tr_unpack_raw(&vars, &vp, &vl);
  if (r->step == ONE_VARS) {
    json_t *o = rest_vars_from_msgpack(vp, vl, NULL);
    return o ? rq_json(ctx, r, 200, o) : rq_error(ctx, r, 500, "RestException", "malformed variables");
  }
  if (r->step == ONE_VAR) {
    json_t *only = json_pack("[s]", r->param[1]);
    json_t *o = rest_vars_from_msgpack(vp, vl, only);
    json_decref(only);
    json_t *v = o ? json_object_get(o, r->param[1]) : NULL;
    if (!v) {
      json_decref(o);
      return rq_error(ctx, r, 404, "InvalidRequestException",
                      "process instance variable with name %s does not exist", r->param[1]);
    }
    json_incref(v);
    json_decref(o);
    return rq_json(ctx, r, 200, v);
  }
  tr_unpack rec = u; /* the instance's answer has the record's keys: pi is id */
  json_t *id = rest_str(&rec, "id");
  char self[360];
  snprintf(self, sizeof self, "/process-instance/%s", r->param[0]);
  return rq_json(ctx, r, 200,
                 json_pack("{s:[{s:s, s:s, s:s}], s:o, s:o, s:o, s:n, s:b, s:b, s:n}", "links",
                           "method", "GET", "href", self, "rel", "self", "id", id, "definitionId",
                           rest_str(&u, "definition"), "businessKey", rest_str(&u, "bk"),
                           "caseInstanceId", "ended", 0, "suspended", 0, "tenantId"));
}

static int rt_one(tr_ctx *ctx, rq *r) { return one_common(ctx, r, ONE_RUNTIME); }
static int rt_vars(tr_ctx *ctx, rq *r) { return one_common(ctx, r, ONE_VARS); }
static int rt_var(tr_ctx *ctx, rq *r) { return one_common(ctx, r, ONE_VAR); }
static int h_one(tr_ctx *ctx, rq *r) { return one_common(ctx, r, ONE_HIST); }

static int h_acts(tr_ctx *ctx, rq *r) {
  int rc = rq_query(r, "processInstanceId", r->param[0], sizeof r->param[0]);
  if (rc != 1)
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "the activity history is queried by processInstanceId");
  return one_common(ctx, r, ONE_ACTS);
}

const endpoint rest_instance_eps[] = {
    {"GET", "/process-instance", rt_list, list_reply},
    {"GET", "/process-instance/count", rt_count, list_reply},
    {"GET", "/process-instance/{}", rt_one, one_reply},
    {"GET", "/process-instance/{}/variables", rt_vars, one_reply},
    {"GET", "/process-instance/{}/variables/{}", rt_var, one_reply},
    {NULL, NULL, NULL, NULL}};

const endpoint rest_history_eps[] = {
    {"GET", "/history/process-instance", h_list, list_reply},
    {"GET", "/history/process-instance/count", h_count, list_reply},
    {"GET", "/history/process-instance/{}", h_one, one_reply},
    {"GET", "/history/activity-instance", h_acts, one_reply},
    {NULL, NULL, NULL, NULL}};
