/* deployment.c - POST /deployment/create (multipart/form-data).
 *
 * Fields as Camunda's: deployment-name, enable-duplicate-filtering,
 * deploy-changed-only, deployment-source, tenant-id; every part with a file
 * name is a resource. .bpmn/.bpmn20.xml files are BPMN, .yaml/.yml the YAML
 * format; other resources (forms, diagrams) are accepted and ignored.
 * Every model is parsed before anything is deployed, so a deployment with
 * one bad model deploys nothing and answers every problem at once (400,
 * ParseException). Deploying asks the definitions' actors and waits: that
 * runs on the blocking pool, and its answer comes back as a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "actors/camunda/internal.h"
#include "actors/camunda/multipart.h"
#include "actors/workflow/parse.h"
#include "actors/workflow/repo.h"

enum { MAX_DEFS = 64 };

typedef struct resource {
  char name[256];
  const uint8_t *data; /* into the request (kept alive by the request actor) */
  size_t len;
  int model; /* 1: BPMN or YAML */
} resource;

typedef struct job {
  tr_system *sys;
  char id[64], name[256], source[128];
  int dedupe;
  resource res[TR_MP_MAX_PARTS];
  int nres;
  uint64_t time;
} job;

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcasecmp(s + n - m, suf);
}

static void put(tr_buf *out, int status, const char *json) {
  char st[4];
  snprintf(st, sizeof st, "%03d", status);
  tr_buf_append(out, st, 3);
  tr_buf_append(out, json, strlen(json));
}

static json_t *def_json(const tr_wf_deployed *d, const job *j, const char *resource) {
  return json_pack("{s:s, s:s, s:s, s:n, s:s?, s:i, s:s, s:s, s:n, s:b, s:n, s:n, s:n, s:b}",
                   "id", d->id, "key", d->key, "category", "http://bpmn.io/schema/bpmn",
                   "description", "name", NULL, "version", (int)d->version, "resource", resource,
                   "deploymentId", j->id, "diagram", "suspended", 0, "tenantId", "versionTag",
                   "historyTimeToLive", "startableInTasklist", 1);
}

/* On the blocking pool: parse every model, then deploy them. Writes
 * "<status><json>" to out. */
static int deploy(void *arg, tr_buf *out) {
  job *j = arg;
  for (int i = 0; i < j->nres; i++) { /* every problem of every model first */
    resource *r = &j->res[i];
    if (!r->model) continue;
    tr_wf_model *m = NULL;
    tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
    int yaml = ends_with(r->name, ".yaml") || ends_with(r->name, ".yml");
    int rc = yaml ? tr_wf_yaml_parse((const char *)r->data, r->len, &m, &pr)
                  : tr_wf_bpmn_parse((const char *)r->data, r->len, &m, &pr);
    tr_wf_model_free(m);
    if (rc < 0) {
      char *pj = NULL;
      if (rc == TR_EPROTO && tr_wf_problems_json(&pr, r->name, &pj) == 0) put(out, 400, pj);
      else put(out, 500, "{\"type\":\"RestException\",\"message\":\"out of memory\"}");
      free(pj);
      tr_wf_problems_free(&pr);
      return 0;
    }
    tr_wf_problems_free(&pr);
  }
  json_t *defs = json_object();
  int added = 0;
  char existing[64] = "";
  for (int i = 0; i < j->nres; i++) {
    resource *r = &j->res[i];
    if (!r->model) continue;
    tr_wf_deployed d[MAX_DEFS];
    int n = tr_wf_deploy(j->sys, r->name, r->data, r->len, j->id, j->dedupe, d, MAX_DEFS, NULL);
    if (n == TR_EINVAL) continue; /* no executable process in it: nothing to deploy */
    if (n < 0) {
      char msg[300];
      snprintf(msg, sizeof msg,
               "{\"type\":\"RestException\",\"message\":\"deploying %.100s failed: %s\"}",
               r->name, tr_strerror(n));
      put(out, n == TR_ETIMEDOUT ? 503 : 500, msg);
      json_decref(defs);
      return 0;
    }
    for (int k = 0; k < n; k++) {
      if (!d[k].is_new) { /* duplicate filtering: Camunda answers with the existing deployment */
        if (!existing[0]) snprintf(existing, sizeof existing, "%s", d[k].deployment);
        continue;
      }
      json_object_set_new(defs, d[k].id, def_json(&d[k], j, r->name));
      added++;
    }
  }
  char when[32], self[128];
  if (!added && existing[0]) snprintf(j->id, sizeof j->id, "%s", existing);
  rest_date(j->time, when);
  snprintf(self, sizeof self, "/deployment/%s", j->id);
  json_t *o = json_pack("{s:[{s:s, s:s, s:s}], s:s, s:s, s:s?, s:s, s:n, s:o, s:n, s:n, s:n}",
                        "links", "method", "GET", "href", self, "rel", "self", "id", j->id,
                        "name", j->name, "source", j->source[0] ? j->source : NULL,
                        "deploymentTime", when, "tenantId", "deployedProcessDefinitions",
                        added ? defs : json_null(), "deployedCaseDefinitions",
                        "deployedDecisionDefinitions",
                        "deployedDecisionRequirementsDefinitions");
  if (!added) json_decref(defs);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text) return TR_ENOMEM;
  put(out, 200, text);
  free(text);
  return 0;
}

static int field(const tr_mp_part *p, const char *name) {
  return p->name_len == strlen(name) && !memcmp(p->name, name, p->name_len);
}

static void copyz(char *dst, size_t cap, const void *src, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

static int create_start(tr_ctx *ctx, rq *r) {
  char ct[512];
  const char *b;
  size_t bl;
  if (!rq_header(r, "Content-Type", ct, sizeof ct) || tr_mp_boundary(ct, strlen(ct), &b, &bl) < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException",
                    "a deployment is multipart/form-data with a boundary");
  tr_mp_part parts[TR_MP_MAX_PARTS];
  size_t n;
  int rc = tr_mp_parse(r->in.req.body, r->in.req.body_len, b, bl, parts, TR_MP_MAX_PARTS, &n);
  if (rc < 0)
    return rq_error(ctx, r, 400, "InvalidRequestException", "the multipart body is malformed%s",
                    rc == TR_ETOOBIG ? ": too many parts" : "");
  job *j = calloc(1, sizeof *j);
  if (!j) return TR_ENOMEM;
  r->scratch = j;
  r->scratch_free = free;
  j->sys = tr_actor_system(ctx);
  j->time = rest_now_ms();
  uint8_t u[16];
  if (getrandom(u, sizeof u, 0) != sizeof u) return TR_EIO;
  u[6] = (u[6] & 0x0f) | 0x40, u[8] = (u[8] & 0x3f) | 0x80; /* a version 4 UUID, as Camunda's */
  snprintf(j->id, sizeof j->id,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
           u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  for (size_t i = 0; i < n; i++) {
    const tr_mp_part *p = &parts[i];
    if (p->filename) {
      resource *res = &j->res[j->nres++];
      copyz(res->name, sizeof res->name, p->filename, p->filename_len);
      if (!res->name[0]) copyz(res->name, sizeof res->name, p->name, p->name_len);
      res->data = p->data;
      res->len = p->len;
      res->model = ends_with(res->name, ".bpmn") || ends_with(res->name, ".bpmn20.xml") ||
                   ends_with(res->name, ".yaml") || ends_with(res->name, ".yml");
      if (res->model && !res->len)
        return rq_error(ctx, r, 400, "InvalidRequestException", "resource %s is empty", res->name);
    } else if (field(p, "deployment-name")) {
      copyz(j->name, sizeof j->name, p->data, p->len);
    } else if (field(p, "deployment-source")) {
      copyz(j->source, sizeof j->source, p->data, p->len);
    } else if (field(p, "enable-duplicate-filtering") || field(p, "deploy-changed-only")) {
      j->dedupe |= p->len == 4 && !memcmp(p->data, "true", 4);
    } else if (field(p, "tenant-id")) {
      if (p->len)
        return rq_error(ctx, r, 400, "InvalidRequestException", "tenants are not supported");
    }
  }
  if (!j->nres)
    return rq_error(ctx, r, 400, "InvalidRequestException", "a deployment needs at least one resource");
  uint64_t corr;
  rc = tr_blocking_submit(ctx, deploy, j, REST_MSG_DEPLOYED, &corr);
  if (rc < 0) return rc;
  r->step = 1; /* waiting for the pool */
  return 0;
}

int rest_deployment_done(tr_ctx *ctx, rq *r, const tr_msg *m) {
  if (m->type != REST_MSG_DEPLOYED || r->step != 1) return 0;
  if ((m->flags & TR_MSG_F_FAILED) || m->len < 3)
    return rq_error(ctx, r, 500, "RestException", "the deployment failed");
  int status = (m->data[0] - '0') * 100 + (m->data[1] - '0') * 10 + (m->data[2] - '0');
  tr_http_response resp = {.status = status, .content_type = "application/json",
                           .body = m->data + 3, .body_len = m->len - 3};
  int rc = tr_http_reply(ctx, &r->in, &resp);
  return rc < 0 ? rc : TR_STOP;
}

const endpoint rest_deployment_eps[] = {
    {"POST", "/deployment/create", create_start, NULL},
    {NULL, NULL, NULL, NULL}};
