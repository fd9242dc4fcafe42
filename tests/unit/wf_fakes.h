/* wf_fakes.h - what the engine's tests share: a system on a data dir with
 * the definitions, job queues and instances, and fakes of the three index
 * kinds (wftask, wfmsg, wfhist: index.h) that answer every ask ok and
 * record every message they get, as JSON, in a log the tests search. The
 * tests play the index's part themselves: they send TR_WF_TASK_DONE and
 * TR_WF_MSG_DELIVER notes and look for the instance's acks in the log.
 * Everything waits for state with a generous deadline, never for time. */
#ifndef TR_TEST_WF_FAKES_H
#define TR_TEST_WF_FAKES_H

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>

#include "harness.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/repo.h"

static tr_system *g_sys;
static char g_dir[64];

/* ---- the log of what the fakes saw ---- */

typedef struct flog_entry {
  char name[160]; /* the fake's virtual name */
  uint32_t type;
  char json[3072];
} flog_entry;

static flog_entry g_log[1024];
static int g_nlog;
static pthread_mutex_t g_lk = PTHREAD_MUTEX_INITIALIZER;

static inline void flog_add(const char *name, uint32_t type, const void *mp, size_t len) {
  tr_pack js = TR_PACK_INIT;
  int rc = tr_json_from_msgpack(mp, len, NULL, &js, NULL, 0);
  pthread_mutex_lock(&g_lk);
  if (g_nlog < 1024) {
    flog_entry *e = &g_log[g_nlog++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = type;
    /* the fake's name first, so that needles can match it too */
    snprintf(e->json, sizeof e->json, "%s %s", name, rc == 0 ? (const char *)js.data : "?");
  }
  pthread_mutex_unlock(&g_lk);
  tr_pack_free(&js);
}

/* How many entries of type hold both needles (NULL: any); the last one's
 * JSON into out (optional). */
static inline int flog_count(uint32_t type, const char *n1, const char *n2, char *out, size_t cap) {
  int n = 0;
  pthread_mutex_lock(&g_lk);
  for (int i = 0; i < g_nlog; i++) {
    const flog_entry *e = &g_log[i];
    if (e->type != type || (n1 && !strstr(e->json, n1)) || (n2 && !strstr(e->json, n2))) continue;
    n++;
    if (out) snprintf(out, cap, "%s", e->json);
  }
  pthread_mutex_unlock(&g_lk);
  return n;
}

/* Waits until flog_count(...) >= want; returns the count. */
static inline int flog_wait(uint32_t type, const char *n1, const char *n2, int want, char *out,
                     size_t cap) {
  uint64_t end = t_now_ms() + WAIT_MS;
  int n;
  while ((n = flog_count(type, n1, n2, out, cap)) < want && t_now_ms() < end) t_sleep_ms(5);
  return n;
}

typedef struct fake {
  char name[160];
} fake;

static int fake_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const tr_virtual_id *vid = arg;
  snprintf(((fake *)st)->name, sizeof((fake *)st)->name, "%s", vid ? vid->name : "?");
  return 0;
}

/* Cancels the fakes refuse before they take one (the instance must retry). */
static _Atomic int g_refuse_cancels;

static int fake_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  fake *f = st;
  if (m->type >= TR_MSG_SYSTEM || (m->flags & (TR_MSG_F_REPLY | TR_MSG_F_TIMER))) return 0;
  flog_add(f->name, m->type, m->data, m->len);
  if ((m->flags & TR_MSG_F_ASK) && (m->type == TR_WFT_CANCEL || m->type == TR_WFM_CANCEL) &&
      atomic_fetch_sub(&g_refuse_cancels, 1) > 0) {
    uint8_t buf[64];
    tr_pack pk;
    tr_pack_init_fixed(&pk, buf, sizeof buf);
    tr_pack_error(&pk, TR_EIO, "refused by the test");
    tr_actor_reply(ctx, m, TR_WF_IDX_REPLY, pk.data, pk.len);
    return 0;
  }
  if (m->flags & TR_MSG_F_ASK) {
    uint8_t buf[16];
    tr_pack pk;
    tr_pack_init_fixed(&pk, buf, sizeof buf);
    tr_pack_map(&pk, 1);
    tr_pack_str(&pk, "ok");
    tr_pack_bool(&pk, 1);
    tr_actor_reply(ctx, m, TR_WF_IDX_REPLY, pk.data, pk.len);
  }
  return 0;
}

static const tr_behavior fake_b = {.name = "wf-index-fake", .state_size = sizeof(fake),
                                   .init = fake_init, .receive = fake_receive};

/* ---- the system ---- */

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static void start(void) {
  tr_config cfg = {.data_dir = g_dir, .durability = TR_DURABLE_NOSYNC};
  assert_int_equal(tr_system_new(&cfg, &g_sys), 0);
  assert_int_equal(tr_jobs_register(g_sys, 0), 0);
  assert_int_equal(tr_wf_repo_register(g_sys, 0), 0);
  assert_int_equal(tr_wf_engine_register(g_sys, 0), 0);
  const char *kinds[] = {TR_WF_TASK_KIND, TR_WF_MSG_KIND, TR_WF_HIST_KIND};
  for (int i = 0; i < 3; i++)
    assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = kinds[i], .behavior = &fake_b}), 0);
}

static inline int deploy(const char *file) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", TR_WF_ENGINE_MODELS, file);
  FILE *f = fopen(path, "rb");
  static char xml[65536];
  size_t len = f ? fread(xml, 1, sizeof xml, f) : 0;
  if (f) fclose(f);
  tr_wf_deployed d[4];
  char *problems = NULL;
  int n = tr_wf_deploy(g_sys, file, xml, len, "d1", 0, d, 4, &problems);
  if (problems) fprintf(stderr, "%s: %s\n", file, problems);
  free(problems);
  return n;
}

static inline int setup_sys(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trwfwXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  pthread_mutex_lock(&g_lk);
  g_nlog = 0;
  pthread_mutex_unlock(&g_lk);
  start();
  return 0;
}

static inline int teardown_sys(void **st) {
  (void)st;
  tr_system_free(g_sys);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* ---- talking to actors in JSON ---- */

static inline int ask_json(const char *name, uint32_t type, const char *json, char *out, size_t cap) {
  tr_msg *r;
  int rc = t_ask_json(g_sys, name, type, json, &r);
  if (rc < 0) return rc;
  tr_pack js = TR_PACK_INIT;
  rc = tr_json_from_msgpack(r->data, r->len, NULL, &js, NULL, 0);
  if (rc == 0 && out) snprintf(out, cap, "%s", (const char *)js.data);
  tr_pack_free(&js);
  tr_msg_free(r);
  return rc;
}

static inline void send_json(const char *name, uint32_t type, const char *json) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  assert_int_equal(tr_system_virtual_send(g_sys, name, type, pk.data, pk.len), 0);
  tr_pack_free(&pk);
}

static inline void state_of(const char *id, char *out, size_t cap) {
  char name[128];
  snprintf(name, sizeof name, "wf/%s", id);
  assert_int_equal(ask_json(name, TR_WF_GET, "{}", out, cap), 0);
}

/* Polls the instance until its GET answer holds needle (and not `not`). */
static inline void wait_get(const char *id, const char *needle, const char *not) {
  static char out[65536];
  uint64_t end = t_now_ms() + WAIT_MS;
  do {
    state_of(id, out, sizeof out);
    if (strstr(out, needle) && (!not || !strstr(out, not))) return;
    t_sleep_ms(5);
  } while (t_now_ms() < end);
  fail_msg("instance %s never got %s: %s", id, needle, out);
}

static inline void wait_state(const char *id, const char *want) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"state\":\"%s\"", want);
  wait_get(id, pat, NULL);
}

/* Starts an instance of key with variables (JSON); its id into id[64]. */
static inline void start_json(const char *key, const char *vars_json, char *id) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(vars_json, strlen(vars_json), NULL, &pk, NULL, 0), 0);
  assert_int_equal(tr_wf_start(g_sys, key, pk.data, pk.len, NULL, id, 64), 0);
  tr_pack_free(&pk);
}

/* The string value of "key":"..." in json (the first) into out. */
static inline void json_str(const char *json, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  assert_non_null(p);
  p += strlen(pat);
  snprintf(out, cap, "%.*s", (int)strcspn(p, "\""), p);
}

/* Fetches the one job of topic, completes it with vars (JSON or NULL);
 * its vars as the worker saw them into seen (optional). */
static inline void work_seen(const char *topic, const char *vars_json, char *seen, size_t cap) {
  char name[128], out[8192], req[1024], id[300];
  snprintf(name, sizeof name, "jobs/%s", topic);
  assert_int_equal(ask_json(name, TR_JOB_FETCH,
                            "{\"worker\":\"t\",\"max\":5,\"lock_ms\":600000,\"wait_ms\":600000}",
                            out, sizeof out), 0);
  json_str(out, "id", id, sizeof id);
  if (seen) snprintf(seen, cap, "%s", out);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"t\"%s%s}", id, vars_json ? ",\"vars\":" : "",
           vars_json ? vars_json : "");
  assert_int_equal(ask_json(name, TR_JOB_COMPLETE, req, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"ok\":true"));
}

static inline void work(const char *topic, const char *vars_json) { work_seen(topic, vars_json, NULL, 0); }

/* Fetches the one job of topic and raises BPMN error code on it. */
static inline void work_error(const char *topic, const char *code) {
  char name[128], out[8192], req[1024], id[300];
  snprintf(name, sizeof name, "jobs/%s", topic);
  assert_int_equal(ask_json(name, TR_JOB_FETCH,
                            "{\"worker\":\"t\",\"max\":5,\"lock_ms\":600000,\"wait_ms\":600000}",
                            out, sizeof out), 0);
  json_str(out, "id", id, sizeof id);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"t\",\"code\":\"%s\"}", id, code);
  assert_int_equal(ask_json(name, TR_JOB_BPMN_ERROR, req, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"ok\":true"));
}

/* The id of the user task of instance pi at act, once wftask has it. */
static inline void task_id(const char *pi, const char *act, char *id, size_t cap) {
  char pat[160], json[3072];
  snprintf(pat, sizeof pat, "\"act\":\"%s\"", act);
  assert_true(flog_wait(TR_WFT_CREATE, pi, pat, 1, json, sizeof json) >= 1);
  json_str(json, "id", id, cap);
}

/* Completes user task id (as wftask/<key> would) with vars (JSON or NULL). */
static inline void complete_task(const char *pi, const char *key, const char *id, const char *vars) {
  char name[128], note[1024];
  snprintf(name, sizeof name, "wf/%s", pi);
  snprintf(note, sizeof note, "{\"id\":\"%s\",\"from\":\"wftask/%s\"%s%s}", id, key,
           vars ? ",\"vars\":" : "", vars ? vars : "");
  send_json(name, TR_WF_TASK_DONE, note);
}

/* The subscription id of instance pi for message msg, once wfmsg has it. */
static inline void sub_id(const char *pi, const char *msg, char *id, size_t cap) {
  char json[3072], name[160];
  snprintf(name, sizeof name, "wfmsg/%s ", msg);
  assert_true(flog_wait(TR_WFM_SUBSCRIBE, pi, name, 1, json, sizeof json) >= 1);
  json_str(json, "id", id, cap);
}

static inline void deliver(const char *pi, const char *msg, const char *id, const char *vars) {
  char name[128], note[1024];
  snprintf(name, sizeof name, "wf/%s", pi);
  snprintf(note, sizeof note, "{\"id\":\"%s\",\"from\":\"wfmsg/%s\",\"name\":\"%s\"%s%s}", id, msg,
           msg, vars ? ",\"vars\":" : "", vars ? vars : "");
  send_json(name, TR_WF_MSG_DELIVER, note);
}

#endif
