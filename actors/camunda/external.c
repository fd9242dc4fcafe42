/* external.c - external tasks: fetchAndLock (long polling, several topics),
 * complete, failure, bpmnError, extendLock, lock, unlock, retries, get and
 * list. Every external task is a job of the queue of its topic, jobs/<topic>
 * (troupe/jobs.h), and its id names the topic ("<hex>-<topic>"), so a
 * request about one task goes straight to its queue.
 *
 * fetchAndLock over several topics: first each topic in turn, without
 * waiting, for what is left of maxTasks; if that found nothing and the
 * worker asked to wait, every topic at once, waiting - the first answer
 * with tasks is the worker's, and tasks that other topics lock for it after
 * that are unlocked again at once (they were never handed out). The wait is
 * at most LONGPOLL_MAX_MS, inside the server's handler timeout; a worker
 * simply polls again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/camunda/internal.h"
#include "troupe/jobs.h"

#define ASK_MS 20000
#define LONGPOLL_MAX_MS 25000
#define MAX_TOPICS 32

/* A job map from a queue as Camunda's external task. */
static json_t *task_json(const tr_unpack *j, const json_t *only) {
  tr_unpack v;
  const void *vp = NULL;
  size_t vl = 0;
  if (tr_unpack_find(j, "vars", &v) == 0) tr_unpack_raw(&v, &vp, &vl);
  json_t *vars = rest_vars_from_msgpack(vp, vl, only);
  int64_t retries = -1;
  uint64_t until = 0;
  tr_unpack_find_int(j, "retries", &retries);
  tr_unpack_find_uint(j, "lock_until", &until);
  char lock[32];
  if (until) rest_date(until, lock);
  json_t *worker = rest_str(j, "worker");
  return json_pack("{s:o, s:n, s:o, s:n, s:o, s:o, s:s?, s:o, s:o, s:n, s:o, s:o, s:b, s:o, "
                   "s:o, s:n, s:o, s:i, s:o, s:{}}",
                   "activityId", rest_str(j, "act"), "activityInstanceId", "errorMessage",
                   rest_str(j, "error"), "errorDetails", "executionId", rest_str(j, "pi"), "id",
                   rest_str(j, "id"), "lockExpirationTime", until ? lock : NULL,
                   "processDefinitionId", rest_str(j, "did"), "processDefinitionKey",
                   rest_str(j, "dk"), "processDefinitionVersionTag", "processInstanceId",
                   rest_str(j, "pi"), "retries",
                   retries < 0 ? json_null() : json_integer(retries), "suspended", 0, "workerId",
                   worker, "topicName", rest_str(j, "topic"), "tenantId", "variables",
                   vars ? vars : json_object(), "priority", 0, "businessKey", rest_str(j, "bk"),
                   "extensionProperties");
}

/* ------------------------------------------------------------ fetchAndLock */

typedef struct fetch {
  char worker[64];
  int max, got, ntopics, next, answered;
  int64_t wait_ms;
  struct {
    char name[TR_JOB_TOPIC_MAX + 1];
    int64_t lock_ms;
    json_t *only; /* variables to return, or NULL */
  } t[MAX_TOPICS];
  int topic_of[2 * MAX_TOPICS]; /* ask idx -> topic */
} fetch;

static void fetch_free(void *p) {
  fetch *f = p;
  for (int i = 0; f && i < f->ntopics; i++) json_decref(f->t[i].only);
  free(f);
}

static int ask_fetch(tr_ctx *ctx, rq *r, fetch *f, int ti, int max, int64_t wait_ms) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_kv_str(&pk, "worker", f->worker);
  tr_pack_kv_int(&pk, "max", max);
  tr_pack_kv_int(&pk, "lock_ms", f->t[ti].lock_ms);
  tr_pack_kv_int(&pk, "wait_ms", wait_ms);
  char name[TR_VIRTUAL_NAME_MAX + 1];
  int rc = tr_job_queue_name(f->t[ti].name, name, sizeof name);
  if (rc == 0) rc = rq_ask(ctx, r, name, TR_JOB_FETCH, &pk, (uint32_t)(ASK_MS + wait_ms));
  tr_pack_free(&pk);
  if (rc >= 0 && rc < 2 * MAX_TOPICS) f->topic_of[rc] = ti;
  return rc < 0 ? rc : 0;
}

static int fetch_start(tr_ctx *ctx, rq *r) {
  json_t *b;
  int rc = rq_body(ctx, r, 0, &b);
  if (rc) return rc;
  fetch *f = calloc(1, sizeof *f);
  if (!f) return TR_ENOMEM;
  r->scratch = f;
  r->scratch_free = fetch_free;
  json_t *worker = json_object_get(b, "workerId"), *max = json_object_get(b, "maxTasks");
  json_t *wait = json_object_get(b, "asyncResponseTimeout"), *topics = json_object_get(b, "topics");
  if (!json_is_string(worker) || !json_string_length(worker) || json_string_length(worker) >= sizeof f->worker)
    return rq_error(ctx, r, 400, "InvalidRequestException", "workerId must be a string of 1..63 bytes");
  if (!json_is_integer(max) || json_integer_value(max) < 0 || json_integer_value(max) > 1000)
    return rq_error(ctx, r, 400, "InvalidRequestException", "maxTasks must be an integer 0..1000");
  if (wait && !json_is_null(wait) && (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
                                      json_integer_value(wait) > 1800000))
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "asyncResponseTimeout must be an integer 0..1800000");
  if (topics && !json_is_null(topics) && !json_is_array(topics))
    return rq_error(ctx, r, 400, "InvalidRequestException", "topics must be an array");
  if (json_array_size(topics) > MAX_TOPICS)
    return rq_error(ctx, r, 400, "InvalidRequestException", "at most %d topics", MAX_TOPICS);
  strcpy(f->worker, json_string_value(worker));
  f->max = (int)json_integer_value(max);
  f->wait_ms = json_is_integer(wait) ? json_integer_value(wait) : 0;
  if (f->wait_ms > LONGPOLL_MAX_MS) f->wait_ms = LONGPOLL_MAX_MS;
  size_t i;
  json_t *t;
  static const char *const unsupported[] = {
      "businessKey", "processDefinitionId", "processDefinitionIdIn", "processDefinitionKey",
      "processDefinitionKeyIn", "processDefinitionVersionTag", "processVariables",
      "tenantIdIn", "withoutTenantId"};
  json_array_foreach(topics, i, t) {
    json_t *name = json_object_get(t, "topicName"), *lock = json_object_get(t, "lockDuration");
    json_t *vars = json_object_get(t, "variables");
    if (!json_is_object(t) || !json_is_string(name) || !json_string_length(name) ||
        json_string_length(name) > TR_JOB_TOPIC_MAX)
      return rq_error(ctx, r, 400, "InvalidRequestException", "every topic needs a topicName");
    if (!json_is_integer(lock) || json_integer_value(lock) <= 0)
      return rq_error(ctx, r, 400, "InvalidRequestException",
                      "topic %s needs a lockDuration > 0", json_string_value(name));
    for (size_t k = 0; k < sizeof unsupported / sizeof *unsupported; k++) {
      json_t *x = json_object_get(t, unsupported[k]);
      if (x && !json_is_null(x) && !(json_is_boolean(x) && !json_is_true(x)))
        return rq_error(ctx, r, 400, "InvalidRequestException",
                        "topic filter %s is not supported (docs/http-api.md)", unsupported[k]);
    }
    strcpy(f->t[f->ntopics].name, json_string_value(name));
    f->t[f->ntopics].lock_ms = json_integer_value(lock);
    if (json_is_array(vars)) f->t[f->ntopics].only = json_incref(vars);
    f->ntopics++;
  }
  r->acc = json_array();
  if (!r->acc) return TR_ENOMEM;
  if (!f->ntopics || !f->max) return rq_json(ctx, r, 200, json_incref(r->acc));
  return ask_fetch(ctx, r, f, 0, f->max, 0);
}

/* Adds a queue's jobs to the answer; *n gets how many. */
static int add_jobs(rq *r, fetch *f, int ti, const tr_msg *msg, int *n) {
  *n = 0;
  tr_unpack u, jobs;
  uint32_t cnt;
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find(&u, "jobs", &jobs) < 0 || tr_unpack_array(&jobs, &cnt) < 0) return TR_EPROTO;
  for (uint32_t i = 0; i < cnt; i++) {
    tr_unpack j = jobs;
    if (tr_unpack_skip(&jobs) < 0) return TR_EPROTO;
    json_t *t = task_json(&j, f->t[ti].only);
    if (!t || json_array_append_new(r->acc, t) < 0) return TR_ENOMEM;
    (*n)++;
  }
  return 0;
}

/* Jobs locked for a worker that has its answer already: unlocked again. */
static void give_back(tr_ctx *ctx, const tr_msg *msg) {
  tr_unpack u, jobs;
  uint32_t cnt;
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find(&u, "jobs", &jobs) < 0 || tr_unpack_array(&jobs, &cnt) < 0) return;
  for (uint32_t i = 0; i < cnt; i++) {
    tr_unpack j = jobs;
    if (tr_unpack_skip(&jobs) < 0) return;
    const char *id;
    size_t n;
    char idz[TR_JOB_ID_MAX + 1], topic[TR_JOB_TOPIC_MAX + 1], name[TR_VIRTUAL_NAME_MAX + 1];
    if (tr_unpack_find_str(&j, "id", &id, &n) < 0 || n > TR_JOB_ID_MAX) continue;
    memcpy(idz, id, n);
    idz[n] = 0;
    if (tr_job_id_topic(idz, topic, sizeof topic) < 0 ||
        tr_job_queue_name(topic, name, sizeof name) < 0)
      continue;
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "id", idz);
    if (!pk.err) tr_virtual_send(ctx, name, TR_JOB_UNLOCK, pk.data, pk.len);
    tr_pack_free(&pk);
  }
}

static int fetch_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  fetch *f = r->scratch;
  int ti = idx < 2 * MAX_TOPICS ? f->topic_of[idx] : 0;
  if (f->answered) { /* a long poll that lost the race */
    if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == 0) give_back(ctx, msg);
    return r->pending ? 0 : TR_STOP;
  }
  if (msg->type == TR_MSG_TIMEOUT || tr_reply_status(msg->data, msg->len) < 0) {
    int rc = rq_check(ctx, r, msg);
    if (!r->pending) return rc;
    f->answered = 1; /* the others' jobs go back as they come */
    return 0;
  }
  int n;
  int rc = add_jobs(r, f, ti, msg, &n);
  if (rc < 0) return rc;
  f->got += n;
  if (f->next >= 0) { /* the first pass: topic after topic */
    f->next = ti + 1;
    if (f->got < f->max && f->next < f->ntopics) return ask_fetch(ctx, r, f, f->next, f->max - f->got, 0);
    if (f->got || !f->wait_ms) return rq_json(ctx, r, 200, json_incref(r->acc));
    f->next = -1; /* the second: every topic, waiting */
    for (int i = 0; i < f->ntopics; i++)
      if ((rc = ask_fetch(ctx, r, f, i, f->max, f->wait_ms)) < 0) return rc;
    return 0;
  }
  if (!f->got && r->pending) return 0; /* an empty wait ended; others still wait */
  rc = rq_json(ctx, r, 200, json_incref(r->acc));
  if (rc != TR_STOP || !r->pending) return rc;
  f->answered = 1;
  return 0;
}

/* ------------------------------------------------------------ one task */

enum { OP_COMPLETE = 1, OP_FAILURE, OP_BPMN_ERROR, OP_EXTEND, OP_LOCK, OP_UNLOCK, OP_RETRIES, OP_GET };

static const char *str_of(const json_t *b, const char *k) {
  const json_t *v = b ? json_object_get(b, k) : NULL;
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int one(tr_ctx *ctx, rq *r, int op) {
  r->step = op;
  char topic[TR_JOB_TOPIC_MAX + 1], name[TR_VIRTUAL_NAME_MAX + 1];
  if (tr_job_id_topic(r->param[0], topic, sizeof topic) < 0 ||
      tr_job_queue_name(topic, name, sizeof name) < 0)
    return rq_error(ctx, r, 404, "InvalidRequestException", "External task with id %s does not exist", r->param[0]);
  json_t *b = NULL;
  int rc = rq_body(ctx, r, op == OP_UNLOCK || op == OP_GET, &b);
  if (rc) return rc;
  const char *worker = str_of(b, "workerId");
  if ((op <= OP_LOCK) && (!worker || !worker[0] || strlen(worker) > 63))
    return rq_error(ctx, r, 400, "InvalidRequestException", "workerId must be a string of 1..63 bytes");
  tr_pack pk = TR_PACK_INIT;
  char err[300] = "";
  uint32_t type = 0;
  json_t *v;
  switch (op) {
  case OP_COMPLETE:
  case OP_BPMN_ERROR: {
    const char *code = str_of(b, "errorCode");
    if (op == OP_BPMN_ERROR && (!code || !code[0])) {
      tr_pack_free(&pk);
      return rq_error(ctx, r, 400, "InvalidRequestException", "errorCode is required");
    }
    tr_pack_map(&pk, op == OP_COMPLETE ? 3 : 5);
    tr_pack_kv_str(&pk, "id", r->param[0]);
    tr_pack_kv_str(&pk, "worker", worker);
    tr_pack_str(&pk, "vars");
    /* an external task's local variables are the instance's here */
    json_t *vars = json_object();
    json_object_update(vars, json_object_get(b, "localVariables"));
    json_object_update(vars, json_object_get(b, "variables"));
    if (json_object_get(b, "variables") && !json_is_object(json_object_get(b, "variables")) &&
        !json_is_null(json_object_get(b, "variables")))
      rc = TR_EINVAL, snprintf(err, sizeof err, "variables must be an object");
    else
      rc = rest_vars_to_msgpack(vars, &pk, err, sizeof err);
    json_decref(vars);
    if (op == OP_BPMN_ERROR) {
      tr_pack_kv_str(&pk, "code", code);
      tr_pack_kv_str(&pk, "message", str_of(b, "errorMessage") ? str_of(b, "errorMessage") : "");
    }
    type = op == OP_COMPLETE ? TR_JOB_COMPLETE : TR_JOB_BPMN_ERROR;
    break;
  }
  case OP_FAILURE: {
    json_t *retries = json_object_get(b, "retries"), *timeout = json_object_get(b, "retryTimeout");
    if (!json_is_integer(retries) || json_integer_value(retries) < 0 ||
        (timeout && !json_is_null(timeout) &&
         (!json_is_integer(timeout) || json_integer_value(timeout) < 0))) {
      tr_pack_free(&pk);
      return rq_error(ctx, r, 400, "InvalidRequestException",
                      "failure needs retries >= 0 and a retryTimeout >= 0");
    }
    const char *msg = str_of(b, "errorMessage"), *details = str_of(b, "errorDetails");
    tr_pack_map(&pk, 6);
    tr_pack_kv_str(&pk, "id", r->param[0]);
    tr_pack_kv_str(&pk, "worker", worker);
    tr_pack_kv_int(&pk, "retries", json_integer_value(retries));
    tr_pack_kv_int(&pk, "retry_ms", json_is_integer(timeout) ? json_integer_value(timeout) : 0);
    tr_pack_kv_str(&pk, "error", msg ? msg : "");
    tr_pack_kv_str(&pk, "details", details ? details : "");
    type = TR_JOB_FAIL;
    break;
  }
  case OP_EXTEND:
  case OP_LOCK:
    v = json_object_get(b, op == OP_EXTEND ? "newDuration" : "lockDuration");
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
      tr_pack_free(&pk);
      return rq_error(ctx, r, 400, "InvalidRequestException", "%s must be an integer > 0",
                      op == OP_EXTEND ? "newDuration" : "lockDuration");
    }
    tr_pack_map(&pk, 3);
    tr_pack_kv_str(&pk, "id", r->param[0]);
    tr_pack_kv_str(&pk, "worker", worker);
    tr_pack_kv_int(&pk, "lock_ms", json_integer_value(v));
    type = op == OP_EXTEND ? TR_JOB_EXTEND : TR_JOB_LOCK;
    break;
  case OP_RETRIES:
    v = json_object_get(b, "retries");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      tr_pack_free(&pk);
      return rq_error(ctx, r, 400, "InvalidRequestException", "retries must be an integer >= 0");
    }
    tr_pack_map(&pk, 2);
    tr_pack_kv_str(&pk, "id", r->param[0]);
    tr_pack_kv_int(&pk, "retries", json_integer_value(v));
    type = TR_JOB_SET_RETRIES;
    break;
  default: /* unlock, get */
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "id", r->param[0]);
    type = op == OP_UNLOCK ? TR_JOB_UNLOCK : TR_JOB_GET;
  }
  if (rc < 0) {
    tr_pack_free(&pk);
    return rc == TR_EINVAL ? rq_error(ctx, r, 400, "InvalidRequestException", "%s", err) : rc;
  }
  rc = rq_ask(ctx, r, name, type, &pk, ASK_MS);
  tr_pack_free(&pk);
  return rc < 0 ? rc : 0;
}

static int one_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  (void)idx;
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == TR_ENOENT)
    return rq_error(ctx, r, 404, "InvalidRequestException", "External task with id %s does not exist", r->param[0]);
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == TR_EPERM)
    return rq_error(ctx, r, r->step == OP_LOCK ? 400 : 500, "BadUserRequestException",
                    r->step == OP_LOCK ? "External task %s is locked by another worker"
                                       : "External task %s is not locked by the given worker",
                    r->param[0]);
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  if (r->step != OP_GET) return rq_status(ctx, r, 204);
  tr_unpack u, j;
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find(&u, "job", &j) < 0) return rq_error(ctx, r, 500, "RestException", "malformed answer");
  return rq_json(ctx, r, 200, task_json(&j, NULL));
}

static int complete(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_COMPLETE); }
static int failure(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_FAILURE); }
static int bpmn_error(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_BPMN_ERROR); }
static int extend(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_EXTEND); }
static int lock(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_LOCK); }
static int unlock(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_UNLOCK); }
static int retries(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_RETRIES); }
static int get(tr_ctx *ctx, rq *r) { return one(ctx, r, OP_GET); }

/* ------------------------------------------------------------ list (by topic) */

static int list_start(tr_ctx *ctx, rq *r) {
  char topic[TR_JOB_TOPIC_MAX + 1], name[TR_VIRTUAL_NAME_MAX + 1];
  if (rq_query(r, "topicName", topic, sizeof topic) != 1 ||
      tr_job_queue_name(topic, name, sizeof name) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "external tasks are listed by topicName (docs/http-api.md)");
  int64_t first, max;
  int rc = rq_paging(ctx, r, &first, &max);
  if (rc) return rc;
  /* the queue answers at most ~8 MiB of jobs per ask: firstResult and
   * maxResults page through more */
  uint8_t buf[32];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, max < 0 ? 1 : 2);
  tr_pack_str(&pk, "first");
  tr_pack_uint(&pk, first > UINT32_MAX ? UINT32_MAX : (uint64_t)first);
  if (max >= 0) {
    tr_pack_str(&pk, "max");
    tr_pack_uint(&pk, max > UINT32_MAX ? UINT32_MAX : (uint64_t)max);
  }
  rc = rq_ask(ctx, r, name, TR_JOB_LIST, &pk, ASK_MS);
  return rc < 0 ? rc : 0;
}

static int list_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  (void)idx;
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  tr_unpack u, jobs;
  uint32_t n;
  tr_unpack_init(&u, msg->data, msg->len);
  if (tr_unpack_find(&u, "jobs", &jobs) < 0 || tr_unpack_array(&jobs, &n) < 0)
    return rq_error(ctx, r, 500, "RestException", "malformed answer");
  json_t *a = json_array();
  for (uint32_t i = 0; a && i < n; i++) {
    tr_unpack j = jobs;
    if (tr_unpack_skip(&jobs) < 0) break;
    json_array_append_new(a, task_json(&j, NULL));
  }
  return rq_json(ctx, r, 200, a);
}

const endpoint rest_external_eps[] = {
    {"POST", "/external-task/fetchAndLock", fetch_start, fetch_reply},
    {"GET", "/external-task", list_start, list_reply},
    {"GET", "/external-task/{}", get, one_reply},
    {"POST", "/external-task/{}/complete", complete, one_reply},
    {"POST", "/external-task/{}/failure", failure, one_reply},
    {"POST", "/external-task/{}/bpmnError", bpmn_error, one_reply},
    {"POST", "/external-task/{}/extendLock", extend, one_reply},
    {"POST", "/external-task/{}/lock", lock, one_reply},
    {"POST", "/external-task/{}/unlock", unlock, one_reply},
    {"PUT", "/external-task/{}/retries", retries, one_reply},
    {NULL, NULL, NULL, NULL}};
