/* definition.c - process definitions: list, count, get by key or id, the
 * XML, and starting an instance by key or id.
 *
 * A definition id is "<key>:<version>:<hash>" (repo.h), so a request by id
 * knows which key's actor to ask; a list without a key asks every key's
 * (fanout.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "actors/camunda/internal.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/repo.h"

#define ASK_MS 20000

/* A definition map from the repository as Camunda's JSON. */
static json_t *def_json(const tr_unpack *d) {
  int64_t version = 0;
  tr_unpack_find_int(d, "version", &version);
  json_t *name = rest_str(d, "name");
  return json_pack("{s:o, s:o, s:s, s:n, s:o, s:I, s:o, s:o, s:n, s:b, s:n, s:n, s:n, s:b}",
                   "id", rest_str(d, "id"), "key", rest_str(d, "key"), "category",
                   "http://bpmn.io/schema/bpmn", "description", "name", name, "version",
                   (json_int_t)version, "resource", rest_str(d, "resource"), "deploymentId",
                   rest_str(d, "deployment"), "diagram", "suspended", 0, "tenantId",
                   "versionTag", "historyTimeToLive", "startableInTasklist", 1);
}

/* The key and version of a definition id; TR_EINVAL if it is not one. */
static int parse_id(const char *id, char *key, size_t cap, int64_t *version) {
  if (tr_wf_def_id_key(id, key, cap) < 0) return TR_EINVAL;
  const char *v = id + strlen(key);
  if (*v != ':') return TR_EINVAL;
  char *e;
  long long x = strtoll(v + 1, &e, 10);
  if (x < 1 || *e != ':') return TR_EINVAL;
  *version = x;
  return 0;
}

/* Asks wfdef/<key> for one version (0: the latest). */
static int ask_def(tr_ctx *ctx, rq *r, const char *key, int64_t version) {
  uint8_t buf[32];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, version ? 1 : 0);
  if (version) tr_pack_kv_int(&pk, "version", version);
  return rq_ask2(ctx, r, TR_WF_DEF_KIND, key, TR_WF_DEF_GET, &pk, ASK_MS);
}

static int no_def(tr_ctx *ctx, rq *r) {
  if (r->param[0][0] && strchr(r->param[0], ':'))
    return rq_error(ctx, r, 404, "RestException", "No matching definition with id %s", r->param[0]);
  return rq_error(ctx, r, 404, "RestException",
                  "No matching process definition with key: %s and no tenant-id", r->param[0]);
}

/* ------------------------------------------------------------ get, xml */

enum { BY_KEY = 1, BY_ID = 2, XML = 4, START = 8 };

static int one_start(tr_ctx *ctx, rq *r, int how) {
  char key[RQ_PARAM_MAX];
  int64_t version = 0;
  r->step = how;
  if (how & BY_ID) {
    if (parse_id(r->param[0], key, sizeof key, &version) < 0) return no_def(ctx, r);
  } else {
    snprintf(key, sizeof key, "%s", r->param[0]);
  }
  if (how & START) { /* check the body before anything starts */
    json_t *body;
    int rc = rq_body(ctx, r, 1, &body);
    if (rc) return rc;
  }
  int rc = ask_def(ctx, r, key, version);
  if (rc == TR_EINVAL) return no_def(ctx, r);
  return rc < 0 ? rc : 0;
}

static int start_instance(tr_ctx *ctx, rq *r, const tr_unpack *d);

static int one_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  if (idx == 1) { /* the instance answered a start */
    int rc = rq_check(ctx, r, msg);
    if (rc) return rc;
    tr_unpack u;
    tr_unpack_init(&u, msg->data, msg->len);
    char self[200];
    json_t *id = rest_str(&u, "id");
    snprintf(self, sizeof self, "/process-instance/%s", json_string_value(id));
    json_t *bk = json_object_get(r->body, "businessKey");
    return rq_json(ctx, r, 200,
                   json_pack("{s:[{s:s, s:s, s:s}], s:o, s:o, s:O, s:n, s:b, s:b, s:n}",
                             "links", "method", "GET", "href", self, "rel", "self", "id", id,
                             "definitionId", rest_str(&u, "definition"), "businessKey",
                             json_is_string(bk) ? bk : json_null(), "caseInstanceId", "ended", 0,
                             "suspended", 0, "tenantId"));
  }
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == TR_ENOENT)
    return no_def(ctx, r);
  int rc = rq_check(ctx, r, msg);
  if (rc) return rc;
  tr_unpack d;
  tr_unpack_init(&d, msg->data, msg->len);
  if (r->step & BY_ID) { /* the version must be this very definition */
    const char *id;
    size_t n;
    if (tr_unpack_find_str(&d, "id", &id, &n) < 0 || n != strlen(r->param[0]) ||
        memcmp(id, r->param[0], n))
      return no_def(ctx, r);
  }
  if (r->step & START) return start_instance(ctx, r, &d);
  if (r->step & XML) {
    tr_unpack src;
    const void *p;
    size_t n;
    if (tr_unpack_find(&d, "source", &src) < 0 || tr_unpack_bin(&src, &p, &n) < 0)
      return rq_error(ctx, r, 500, "RestException", "the definition has no source");
    return rq_json(ctx, r, 200, json_pack("{s:o, s:s%}", "id", rest_str(&d, "id"), "bpmn20Xml",
                                          (const char *)p, n));
  }
  return rq_json(ctx, r, 200, def_json(&d));
}

/* Starts an instance of definition d with the body's variables and
 * business key: an ask to a new instance, wf/<random id>. */
static int start_instance(tr_ctx *ctx, rq *r, const tr_unpack *d) {
  json_t *body = r->body;
  json_t *vars = body ? json_object_get(body, "variables") : NULL;
  json_t *bk = body ? json_object_get(body, "businessKey") : NULL;
  if (bk && !json_is_null(bk) && !json_is_string(bk))
    return rq_error(ctx, r, 400, "InvalidRequestException", "businessKey must be a string");
  char err[300] = "";
  tr_pack pk = TR_PACK_INIT;
  int64_t version = 0;
  tr_unpack_find_int(d, "version", &version);
  const char *key;
  size_t kl;
  tr_unpack_find_str(d, "key", &key, &kl);
  int has_bk = json_is_string(bk);
  tr_pack_map(&pk, 3 + (uint32_t)has_bk);
  tr_pack_str(&pk, "key");
  tr_pack_strn(&pk, key, kl);
  tr_pack_kv_int(&pk, "version", version);
  tr_pack_str(&pk, "vars");
  int rc = rest_vars_to_msgpack(vars, &pk, err, sizeof err);
  if (has_bk) tr_pack_kv_str(&pk, "bk", json_string_value(bk));
  if (rc < 0) {
    tr_pack_free(&pk);
    return rc == TR_EINVAL ? rq_error(ctx, r, 400, "InvalidRequestException", "%s", err) : rc;
  }
  uint8_t u[16];
  char id[33];
  if (getrandom(u, sizeof u, 0) != sizeof u) {
    tr_pack_free(&pk);
    return TR_EIO;
  }
  for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", u[i]);
  rc = rq_ask2(ctx, r, TR_WF_KIND, id, TR_WF_START, &pk, ASK_MS);
  tr_pack_free(&pk);
  return rc < 0 ? rc : 0;
}

static int get_key(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_KEY); }
static int get_id(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_ID); }
static int xml_key(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_KEY | XML); }
static int xml_id(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_ID | XML); }
static int start_key(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_KEY | START); }
static int start_id(tr_ctx *ctx, rq *r) { return one_start(ctx, r, BY_ID | START); }

/* ------------------------------------------------------------ list, count */

typedef struct listq {
  char key[256], name[256], id[320];
  int latest, count_only;
  int64_t first, max;
} listq;

static int list_done(tr_ctx *ctx, rq *r) {
  listq *q = r->scratch;
  json_t *all = r->acc ? r->acc : json_array();
  r->acc = NULL;
  return rq_list(ctx, r, all, q->first, q->max, q->count_only);
}

static int list_reply(tr_ctx *ctx, rq *r, int idx, const tr_msg *msg) {
  listq *q = r->scratch;
  if (!q->key[0]) {
    int rc = rq_fanout_reply(ctx, r, idx, msg, list_done);
    if (rc == 1) return 0;
    if (rc) return rc;
  }
  if (msg->type != TR_MSG_TIMEOUT && tr_reply_status(msg->data, msg->len) == 0) {
    tr_unpack u, vs;
    uint32_t n;
    tr_unpack_init(&u, msg->data, msg->len);
    if (tr_unpack_find(&u, "versions", &vs) == 0 && tr_unpack_array(&vs, &n) == 0) {
      if (!r->acc) r->acc = json_array();
      for (uint32_t i = 0; i < n && r->acc; i++) {
        tr_unpack d = vs;
        int64_t version = 0;
        tr_unpack_skip(&vs);
        tr_unpack_find_int(&d, "version", &version);
        if (q->latest && version != (int64_t)n) continue;
        json_t *j = def_json(&d);
        if (!j) continue;
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *id = json_string_value(json_object_get(j, "id"));
        if ((q->name[0] && (!name || strcmp(name, q->name))) || (q->id[0] && strcmp(id, q->id))) {
          json_decref(j);
          continue;
        }
        json_array_append_new(r->acc, j);
      }
    }
  } else if (msg->type == TR_MSG_TIMEOUT) {
    return rq_error(ctx, r, 503, "RestException", "a definitions actor did not answer in time");
  }
  return r->pending ? 0 : list_done(ctx, r);
}

static int list_start_common(tr_ctx *ctx, rq *r, int count_only) {
  listq *q = calloc(1, sizeof *q);
  if (!q) return TR_ENOMEM;
  r->scratch = q;
  r->scratch_free = free;
  q->count_only = count_only;
  int present, rc;
  if (rq_query(r, "key", q->key, sizeof q->key) < 0 || rq_query(r, "name", q->name, sizeof q->name) < 0 ||
      rq_query(r, "processDefinitionId", q->id, sizeof q->id) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException", "a query parameter is too long");
  if ((rc = rq_query_bool(ctx, r, "latestVersion", &q->latest, &present))) return rc;
  if ((rc = rq_paging(ctx, r, &q->first, &q->max))) return rc;
  if (!q->key[0] && q->id[0]) { /* the id names its key */
    int64_t v;
    if (parse_id(q->id, q->key, sizeof q->key, &v) < 0) return list_done(ctx, r);
  }
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 0);
  if (!q->key[0]) return rq_fanout(ctx, r, TR_WF_DEF_KIND, TR_WF_DEF_LIST, &pk);
  rc = rq_ask2(ctx, r, TR_WF_DEF_KIND, q->key, TR_WF_DEF_LIST, &pk, ASK_MS);
  if (rc == TR_EINVAL) return list_done(ctx, r);
  return rc < 0 ? rc : 0;
}

static int list_start(tr_ctx *ctx, rq *r) { return list_start_common(ctx, r, 0); }
static int count_start(tr_ctx *ctx, rq *r) { return list_start_common(ctx, r, 1); }

const endpoint rest_definition_eps[] = {
    {"GET", "/process-definition", list_start, list_reply},
    {"GET", "/process-definition/count", count_start, list_reply},
    {"GET", "/process-definition/key/{}", get_key, one_reply},
    {"GET", "/process-definition/key/{}/xml", xml_key, one_reply},
    {"POST", "/process-definition/key/{}/start", start_key, one_reply},
    {"POST", "/process-definition/key/{}/submit-form", start_key, one_reply},
    {"GET", "/process-definition/{}", get_id, one_reply},
    {"GET", "/process-definition/{}/xml", xml_id, one_reply},
    {"POST", "/process-definition/{}/start", start_id, one_reply},
    {"POST", "/process-definition/{}/submit-form", start_id, one_reply},
    {NULL, NULL, NULL, NULL}};
