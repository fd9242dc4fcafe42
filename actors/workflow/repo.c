/* repo.c - process definitions (repo.h): the "wfdef/<key>" actor, and the
 * deployment of a document into it. */
#include "actors/workflow/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/workflow/index.h"
#include "actors/workflow/parse.h"

typedef struct def {
  char id[160];
  uint32_t version;
  char deployment[128], resource[256], name[256];
  uint8_t *source;
  size_t len;
  uint64_t hash; /* of the source, to filter duplicates */
  uint64_t time_ms;
} def;

typedef struct repo_state {
  char key[128];
  def *v; /* versions, v[i].version == i + 1 */
  uint32_t n, cap;
} repo_state;

static uint64_t fnv64(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ events */

/* [1, version, id, deployment, resource, name, source, hash, time] */
static int apply_added(repo_state *s, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  uint32_t n;
  uint64_t kind, version, hash, time_ms;
  def d;
  memset(&d, 0, sizeof d);
  const void *src;
  if (tr_unpack_array(&u, &n) < 0 || n != 9 || tr_unpack_uint(&u, &kind) < 0 || kind != 1 ||
      tr_unpack_uint(&u, &version) < 0 || version != (uint64_t)s->n + 1 ||
      tr_unpack_str_copy(&u, d.id, sizeof d.id) < 0 ||
      tr_unpack_str_copy(&u, d.deployment, sizeof d.deployment) < 0 ||
      tr_unpack_str_copy(&u, d.resource, sizeof d.resource) < 0 ||
      tr_unpack_str_copy(&u, d.name, sizeof d.name) < 0 ||
      tr_unpack_bin(&u, &src, &d.len) < 0 || !d.len || tr_unpack_uint(&u, &hash) < 0 ||
      tr_unpack_uint(&u, &time_ms) < 0 || tr_unpack_left(&u))
    return TR_ECORRUPT;
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 4;
    def *v = realloc(s->v, cap * sizeof *v);
    if (!v) return TR_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  if (!(d.source = malloc(d.len))) return TR_ENOMEM;
  memcpy(d.source, src, d.len);
  d.version = (uint32_t)version;
  d.hash = hash;
  d.time_ms = time_ms;
  s->v[s->n++] = d;
  return 0;
}

/* ------------------------------------------------------------ replies */

static int reply_err(tr_ctx *ctx, const tr_msg *m, int code, const char *text) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  uint8_t buf[512];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return tr_actor_reply(ctx, m, TR_WF_DEF_REPLY, pk.data, pk.len);
}

static void pack_def(tr_pack *pk, const repo_state *s, const def *d, int with_source,
                     int extra) {
  tr_pack_map(pk, (uint32_t)(7 + with_source + extra));
  tr_pack_kv_str(pk, "id", d->id);
  tr_pack_kv_str(pk, "key", s->key);
  tr_pack_kv_int(pk, "version", d->version);
  tr_pack_kv_str(pk, "deployment", d->deployment);
  tr_pack_kv_str(pk, "resource", d->resource);
  tr_pack_kv_str(pk, "name", d->name);
  tr_pack_str(pk, "time");
  tr_pack_uint(pk, d->time_ms);
  if (with_source) {
    tr_pack_str(pk, "source");
    tr_pack_bin(pk, d->source, d->len);
  }
}

/* {ok: true} + the fields of d (and "new") */
static int reply_def(tr_ctx *ctx, const tr_msg *m, const repo_state *s, const def *d,
                     int with_source, int is_new) {
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  tr_pack pk = TR_PACK_INIT;
  pack_def(&pk, s, d, with_source, 1 + (is_new >= 0));
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  if (is_new >= 0) {
    tr_pack_str(&pk, "new");
    tr_pack_bool(&pk, is_new);
  }
  int rc = pk.err ? pk.err : tr_actor_reply(ctx, m, TR_WF_DEF_REPLY, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

/* ------------------------------------------------------------ requests */

static int str_field(const tr_unpack *map, const char *k, char *buf, size_t cap, int required) {
  const char *p;
  size_t n;
  int rc = tr_unpack_find_str(map, k, &p, &n);
  if (rc == TR_ENOENT && !required) {
    buf[0] = 0;
    return 0;
  }
  if (rc < 0 || n >= cap) return TR_EINVAL;
  memcpy(buf, p, n);
  buf[n] = 0;
  return 0;
}

static int on_add(tr_ctx *ctx, repo_state *s, const tr_msg *m, const tr_unpack *map) {
  char deployment[128], resource[256], name[256];
  tr_unpack v;
  const void *src;
  size_t len;
  int dedupe = 0;
  if (str_field(map, "deployment", deployment, sizeof deployment, 1) ||
      str_field(map, "resource", resource, sizeof resource, 1) ||
      str_field(map, "name", name, sizeof name, 0) || tr_unpack_find(map, "source", &v) < 0 ||
      tr_unpack_bin(&v, &src, &len) < 0 || !len || len > TR_WF_MAX_SOURCE)
    return reply_err(ctx, m, TR_EINVAL,
                     "add needs deployment, resource and a source of 1 byte to 4 MiB");
  int rc = tr_unpack_find_bool(map, "dedupe", &dedupe);
  if (rc < 0 && rc != TR_ENOENT) return reply_err(ctx, m, TR_EINVAL, "dedupe must be a boolean");
  uint64_t hash = fnv64(src, len);
  if (dedupe && s->n && s->v[s->n - 1].hash == hash && s->v[s->n - 1].len == len &&
      !memcmp(s->v[s->n - 1].source, src, len))
    return reply_def(ctx, m, s, &s->v[s->n - 1], 0, 0);
  uint64_t now = wall_ms();
  char id[160];
  snprintf(id, sizeof id, "%s:%u:%016llx", s->key, s->n + 1,
           (unsigned long long)(hash ^ (now * 0x9e3779b97f4a7c15ull)));
  tr_pack pk = TR_PACK_INIT;
  tr_pack_array(&pk, 9);
  tr_pack_uint(&pk, 1);
  tr_pack_uint(&pk, s->n + 1);
  tr_pack_str(&pk, id);
  tr_pack_str(&pk, deployment);
  tr_pack_str(&pk, resource);
  tr_pack_str(&pk, name);
  tr_pack_bin(&pk, src, len);
  tr_pack_uint(&pk, hash);
  tr_pack_uint(&pk, now);
  rc = pk.err;
  if (rc == 0) rc = tr_persist_append(ctx, pk.data, pk.len, NULL);
  if (rc == 0) rc = apply_added(s, pk.data, pk.len);
  tr_pack_free(&pk);
  if (rc < 0) return rc;
  return 1; /* a new version: the caller answers once it is durable */
}

/* ------------------------------------------------------------ the behaviour */

typedef struct pending {
  struct pending *next;
  uint64_t seq;
  tr_msg *req; /* a copy of the header of the request to answer */
  uint32_t version;
} pending;

typedef struct repo_actor {
  repo_state s;
  pending *ph, *pt;
  uint64_t acked;
} repo_actor;

static int repo_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  repo_actor *a = st;
  size_t n = vid ? strlen(vid->key) : 0;
  if (!n || n >= sizeof a->s.key || strchr(vid->key, ':')) return TR_EINVAL;
  memcpy(a->s.key, vid->key, n + 1);
  return 0;
}

static int repo_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  int rc = apply_added(&((repo_actor *)st)->s, ev, len);
  if (rc == TR_ECORRUPT)
    tr_log(TR_LOG_WARN, "workflow", "wfdef/%s: event %llu is not a definition; skipped",
           ((repo_actor *)st)->s.key, (unsigned long long)seq);
  return rc == TR_ECORRUPT ? 0 : rc;
}

static void answer_pending(tr_ctx *ctx, repo_actor *a) {
  while (a->ph && a->ph->seq <= a->acked) {
    pending *p = a->ph;
    a->ph = p->next;
    if (!a->ph) a->pt = NULL;
    reply_def(ctx, p->req, &a->s, &a->s.v[p->version - 1], 0, 1);
    free(p->req);
    free(p);
  }
}

static int repo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  repo_actor *a = st;
  repo_state *s = &a->s;
  if (m->type == TR_MSG_RECOVERED) {
    a->acked = m->corr;
    return 0;
  }
  if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    if (m->corr > a->acked) a->acked = m->corr;
    answer_pending(ctx, a);
    return 0;
  }
  if (m->type < TR_WF_DEF_ADD || m->type > TR_WF_DEF_LIST) {
    return (m->flags & TR_MSG_F_ASK) ? reply_err(ctx, m, TR_ENOTSUP, "not a definitions request")
                                     : 0;
  }
  tr_unpack map, probe;
  uint32_t n;
  tr_unpack_init(&map, m->data, m->len);
  probe = map;
  if (tr_unpack_map(&probe, &n) < 0)
    return reply_err(ctx, m, TR_EPROTO, "the request must be a msgpack map");
  if (m->type == TR_WF_DEF_ADD) {
    int rc = on_add(ctx, s, m, &map);
    if (rc <= 0) return rc;
    /* a new version: answer once it is durable */
    pending *p = calloc(1, sizeof *p);
    tr_msg *req = malloc(sizeof *req);
    if (!p || !req) {
      free(p);
      free(req);
      return TR_ENOMEM;
    }
    *req = *m;
    req->len = 0;
    p->req = req;
    p->seq = tr_persist_seq(ctx);
    p->version = s->n;
    if (a->pt) a->pt->next = p;
    else a->ph = p;
    a->pt = p;
    return 0;
  }
  if (m->type == TR_WF_DEF_GET) {
    int64_t version = s->n;
    int rc = tr_unpack_find_int(&map, "version", &version);
    if (rc < 0 && rc != TR_ENOENT) return reply_err(ctx, m, TR_EINVAL, "version must be an integer");
    if (!s->n || version < 1 || version > (int64_t)s->n)
      return reply_err(ctx, m, TR_ENOENT, "no such process definition version");
    int with_source = 1; /* {source: false}: the caller has the model cached (mcache.h) */
    tr_unpack_find_bool(&map, "source", &with_source);
    return reply_def(ctx, m, s, &s->v[version - 1], with_source, -1);
  }
  /* TR_WF_DEF_LIST */
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "versions");
  tr_pack_array(&pk, s->n);
  for (uint32_t i = 0; i < s->n; i++) pack_def(&pk, s, &s->v[i], 0, 0);
  int rc = pk.err ? pk.err : tr_actor_reply(ctx, m, TR_WF_DEF_REPLY, pk.data, pk.len);
  tr_pack_free(&pk);
  return rc;
}

static void repo_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  repo_actor *a = st;
  for (uint32_t i = 0; i < a->s.n; i++) free(a->s.v[i].source);
  free(a->s.v);
  while (a->ph) {
    pending *p = a->ph;
    a->ph = p->next;
    free(p->req);
    free(p);
  }
}

static const tr_persistent repo_b = {
    .base = {.name = "wfdef", .state_size = sizeof(repo_actor), .init = repo_init,
             .receive = repo_receive, .terminate = repo_terminate},
    .apply = repo_apply};

int tr_wf_repo_register(tr_system *sys, uint32_t roles) {
  int rc = tr_kind_register(sys, &(tr_kind){.name = TR_WF_DEF_KIND, .persistent = &repo_b,
                                             .roles = roles});
  return rc < 0 ? rc : tr_wf_catalog_register(sys, roles);
}

int tr_wf_def_id_key(const char *id, char *buf, size_t cap) {
  if (!id || !buf) return TR_EINVAL;
  const char *c = strchr(id, ':');
  if (!c || c == id || (size_t)(c - id) >= cap) return TR_EINVAL;
  memcpy(buf, id, (size_t)(c - id));
  buf[c - id] = 0;
  return 0;
}

/* ------------------------------------------------------------ deploying */

/* Tells wfmsg/<message name> that key starts on that message, for each
 * message start event of process p. A node without the index kind
 * (TR_ENOENT from the send) skips it: message starts need the indexes. */
static int register_message_starts(tr_system *sys, const tr_wf_model *model,
                                   const tr_wf_process *p) {
  for (int32_t i = 0; i < p->n_starts; i++) {
    const tr_wf_element *e = &model->elements[p->starts[i]];
    if (e->event != TR_WF_EV_MESSAGE || e->message < 0 || e->message >= model->n_messages)
      continue;
    const char *msg = model->messages[e->message].name;
    char name[TR_VIRTUAL_NAME_MAX + 1];
    if (!msg || tr_wf_index_name(TR_WF_MSG_KIND, msg, name, sizeof name) < 0) {
      tr_log(TR_LOG_WARN, "workflow", "%s: message start without a usable name; not registered",
             p->id); /* the definition is in; failing now would not undo it */
      continue;
    }
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 1);
    tr_pack_kv_str(&pk, "key", p->id);
    tr_msg *r = NULL;
    int rc = pk.err ? pk.err
                    : tr_system_virtual_ask(sys, name, TR_WFM_START_ADD, pk.data, pk.len, 30000, &r);
    tr_pack_free(&pk);
    if (rc == TR_ENOENT) continue;
    if (rc < 0) return rc;
    rc = tr_reply_status(r->data, r->len);
    tr_msg_free(r);
    if (rc < 0) return rc;
  }
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Lists key in the catalog (answered once durable). */
static int catalog_add(tr_system *sys, const char *key) {
  uint8_t buf[300];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1);
  tr_pack_kv_str(&pk, "key", key);
  tr_msg *r = NULL;
  int rc = pk.err ? pk.err
                  : tr_system_virtual_ask(sys, TR_WF_CAT_NAME, TR_WF_CAT_ADD, pk.data, pk.len,
                                          30000, &r);
  if (rc < 0) return rc;
  rc = tr_reply_status(r->data, r->len);
  tr_msg_free(r);
  return rc;
}

int tr_wf_deploy(tr_system *sys, const char *resource, const void *source, size_t len,
                 const char *deployment, int dedupe, tr_wf_deployed *out, size_t max,
                 char **problems_json) {
  if (problems_json) *problems_json = NULL;
  if (!sys || !resource || !source || !len || !deployment || (max && !out)) return TR_EINVAL;
  tr_wf_model *model = NULL;
  tr_wf_problems pr = TR_WF_PROBLEMS_INIT;
  int yaml = ends_with(resource, ".yaml") || ends_with(resource, ".yml");
  int rc = yaml ? tr_wf_yaml_parse(source, len, &model, &pr)
                : tr_wf_bpmn_parse(source, len, &model, &pr);
  if (rc < 0) {
    if (rc == TR_EPROTO && problems_json) tr_wf_problems_json(&pr, resource, problems_json);
    tr_wf_problems_free(&pr);
    return rc;
  }
  tr_wf_problems_free(&pr);
  size_t done = 0;
  for (int32_t i = 0; i < model->n_processes && rc >= 0; i++) {
    const tr_wf_process *p = &model->processes[i];
    if (!p->executable) continue;
    char name[TR_VIRTUAL_NAME_MAX + 1];
    if (snprintf(name, sizeof name, TR_WF_DEF_KIND "/%s", p->id) >= (int)sizeof name) {
      rc = TR_EINVAL;
      break;
    }
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 5);
    tr_pack_kv_str(&pk, "deployment", deployment);
    tr_pack_kv_str(&pk, "resource", resource);
    tr_pack_kv_str(&pk, "name", p->name ? p->name : "");
    tr_pack_str(&pk, "dedupe");
    tr_pack_bool(&pk, dedupe);
    tr_pack_str(&pk, "source");
    tr_pack_bin(&pk, source, len);
    tr_msg *r = NULL;
    rc = pk.err ? pk.err : tr_system_virtual_ask(sys, name, TR_WF_DEF_ADD, pk.data, pk.len, 30000, &r);
    tr_pack_free(&pk);
    if (rc < 0) break;
    tr_unpack u;
    tr_unpack_init(&u, r->data, r->len);
    int is_new = 0;
    int64_t version = 0;
    rc = tr_reply_status(r->data, r->len);
    int ok = rc == 0;
    if (ok && done < max) {
      tr_wf_deployed *d = &out[done];
      memset(d, 0, sizeof *d);
      const char *s;
      size_t n;
      if (tr_unpack_find_str(&u, "id", &s, &n) == 0 && n < sizeof d->id) memcpy(d->id, s, n);
      if (tr_unpack_find_str(&u, "deployment", &s, &n) == 0 && n < sizeof d->deployment)
        memcpy(d->deployment, s, n);
      snprintf(d->key, sizeof d->key, "%s", p->id);
      tr_unpack_find_int(&u, "version", &version);
      tr_unpack_find_bool(&u, "new", &is_new);
      d->version = (uint32_t)version;
      d->is_new = is_new;
    }
    tr_msg_free(r);
    if (ok) {
      done++;
      rc = catalog_add(sys, p->id);
      if (rc == 0) rc = register_message_starts(sys, model, p);
    }
  }
  tr_wf_model_free(model);
  if (rc < 0) return rc;
  return done ? (int)(done < max ? done : max) : TR_EINVAL;
}
