/* test_wfindex.c - the engine's indexes (actors/workflow/index.h): user
 * tasks (create, list with every filter against a brute-force model,
 * claim conflicts, complete with a note to the instance, cancel),
 * message subscriptions (correlate by business key, correlation values,
 * all, none, ambiguous, the message start event), history (paging,
 * filters, retention), engine events, snapshots, restarts on the same
 * data, and bad requests answered cleanly. A fake "wf" kind stands in for
 * the instances: it acks notes (or not) and answers TR_WF_START. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/repo.h"

static tr_system *g_sys;
static char g_dir[64];

/* ------------------------------------------------------------ a fake instance kind */

static _Atomic int64_t g_task_done, g_msg_deliver, g_starts, g_ack, g_events;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_last_note[2048], g_last_start[2048], g_last_event[2048];

static void remember(char *buf, const tr_msg *m) {
  tr_pack js = TR_PACK_INIT;
  pthread_mutex_lock(&g_lock);
  if (tr_json_from_msgpack(m->data, m->len, NULL, &js, NULL, 0) == 0)
    snprintf(buf, 2048, "%s", (const char *)js.data);
  else
    snprintf(buf, 2048, "(bad)");
  pthread_mutex_unlock(&g_lock);
  tr_pack_free(&js);
}

static void last(const char *buf, char *out, size_t cap) {
  pthread_mutex_lock(&g_lock);
  snprintf(out, cap, "%s", buf);
  pthread_mutex_unlock(&g_lock);
}

typedef struct fake {
  char name[TR_VIRTUAL_NAME_MAX + 1];
} fake;

static int fake_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  snprintf(((fake *)st)->name, sizeof((fake *)st)->name, "%s", ((const tr_virtual_id *)arg)->name);
  return 0;
}

/* acks {id} to `from`, as an instance does once the note's effect is durable */
static void ack(tr_ctx *ctx, const tr_msg *m) {
  tr_unpack u;
  const char *id, *from;
  size_t il, fl;
  char to[300];
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "id", &id, &il) < 0 || tr_unpack_find_str(&u, "from", &from, &fl) < 0)
    return;
  snprintf(to, sizeof to, "%.*s", (int)fl, from);
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "id");
  tr_pack_strn(&pk, id, il);
  tr_virtual_send(ctx, to, TR_WF_IDX_ACK, pk.data, pk.len);
  tr_pack_free(&pk);
}

static int fake_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  fake *f = st;
  if (m->type == TR_WF_TASK_DONE || m->type == TR_WF_MSG_DELIVER) {
    remember(g_last_note, m);
    if (atomic_load(&g_ack)) ack(ctx, m);
    atomic_fetch_add(m->type == TR_WF_TASK_DONE ? &g_task_done : &g_msg_deliver, 1);
  } else if (m->type == TR_WF_START) {
    remember(g_last_start, m);
    tr_unpack u;
    const char *key;
    size_t kl;
    tr_unpack_init(&u, m->data, m->len);
    tr_pack pk = TR_PACK_INIT;
    if (tr_unpack_find_str(&u, "key", &key, &kl) == 0 && kl == 6 && !memcmp(key, "broken", 6)) {
      tr_pack_error(&pk, TR_ENOENT, "no such definition");
    } else {
      tr_pack_map(&pk, 2);
      tr_pack_str(&pk, "ok");
      tr_pack_bool(&pk, 1);
      tr_pack_kv_str(&pk, "id", f->name + 3);
    }
    tr_actor_reply(ctx, m, TR_WF_REPLY, pk.data, pk.len);
    tr_pack_free(&pk);
    atomic_fetch_add(&g_starts, 1);
  }
  return 0;
}

static const tr_behavior fake_b = {.name = "wf", .state_size = sizeof(fake), .init = fake_init,
                                   .receive = fake_receive};

/* the event bus */
static int ev_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx, (void)st;
  if (m->type == TR_WF_EVENT) {
    remember(g_last_event, m);
    atomic_fetch_add(&g_events, 1);
  }
  return 0;
}
static const tr_behavior ev_b = {.name = "ev", .receive = ev_receive};

/* an actor that emits an engine event "x.done" with the data it is sent */
static _Atomic int64_t g_emitted;
static int emitter_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type == 1) {
    tr_wf_emit(ctx, "x.done", m->data, m->len);
    atomic_fetch_add(&g_emitted, 1);
  }
  return 0;
}
static const tr_behavior emitter_b = {.name = "emitter", .receive = emitter_receive};

/* an actor that asks an index, as the REST layer will: the answer's status
 * lands in g_asked (1 + its code, so 0 means "not yet") */
static _Atomic int64_t g_asked;
static int asker_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->flags & TR_MSG_F_REPLY || m->type == TR_MSG_TIMEOUT) {
    tr_unpack body, tasks;
    uint32_t n = 0;
    int rc = tr_wf_idx_reply_status(m, &body);
    if (rc == 0 && (tr_unpack_find(&body, "tasks", &tasks) < 0 || tr_unpack_array(&tasks, &n) < 0))
      rc = TR_EPROTO;
    atomic_store(&g_asked, rc == 0 ? 100 + (int64_t)n : 1 + rc);
  } else if (m->type == 1) {
    uint8_t req[] = {0x80}; /* {} */
    uint64_t corr;
    /* a kind that is not an index is refused; then the real ask */
    if (tr_wf_index_ask(ctx, "nokind", "order", TR_WFT_LIST, req, 1, 10000, &corr) != TR_EINVAL ||
        tr_wf_index_ask(ctx, TR_WF_TASK_KIND, "order", TR_WFT_LIST, req, 1, 10000, &corr) < 0)
      atomic_store(&g_asked, 2); /* never an answer's value */
  }
  return 0;
}
static const tr_behavior asker_b = {.name = "asker", .receive = asker_receive};

/* ------------------------------------------------------------ helpers */

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static void start(void) {
  tr_config cfg = {.data_dir = g_dir, .durability = TR_DURABLE_NOSYNC};
  assert_int_equal(tr_system_new(&cfg, &g_sys), 0);
  assert_int_equal(tr_wf_index_register(g_sys, 0), 0);
  assert_int_equal(tr_wf_repo_register(g_sys, 0), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "wf", .behavior = &fake_b}), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "ev", .behavior = &ev_b}), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "asker", .behavior = &asker_b}), 0);
  assert_int_equal(tr_kind_register(g_sys, &(tr_kind){.name = "emitter", .behavior = &emitter_b}),
                   0);
}

static int setup(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trwfiXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  start();
  atomic_store(&g_task_done, 0), atomic_store(&g_msg_deliver, 0), atomic_store(&g_starts, 0);
  atomic_store(&g_ack, 1), atomic_store(&g_events, 0), atomic_store(&g_emitted, 0);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  tr_system_free(g_sys);
  tr_wf_emit_target(NULL, "");
  tr_wf_hist_keep_set(TR_WF_HIST_KEEP);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void restart(void) {
  tr_system_free(g_sys); /* a new process on the same data */
  start();
}

/* Sends raw bytes to `name`; the reply status, and the reply as JSON. */
static int call_raw(const char *name, uint32_t type, const void *p, size_t n, char *out,
                    size_t cap) {
  tr_msg *r = NULL;
  int rc = tr_system_virtual_ask(g_sys, name, type, p, n, WAIT_MS, &r);
  if (rc < 0) return rc;
  rc = tr_wf_idx_reply_status(r, NULL);
  if (out) {
    tr_pack js = TR_PACK_INIT;
    assert_int_equal(tr_json_from_msgpack(r->data, r->len, NULL, &js, NULL, 0), 0);
    snprintf(out, cap, "%s", (const char *)js.data);
    tr_pack_free(&js);
  }
  tr_msg_free(r);
  return rc;
}

/* A JSON request to <kind>/<key>. */
static int call(const char *kind, const char *key, uint32_t type, const char *json, char *out,
                size_t cap) {
  char name[256];
  assert_int_equal(tr_wf_index_name(kind, key, name, sizeof name), 0);
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0), 0);
  int rc = call_raw(name, type, pk.data, pk.len, out, cap);
  tr_pack_free(&pk);
  return rc;
}

static int count(const char *json, const char *needle) {
  int n = 0;
  for (const char *p = json; (p = strstr(p, needle)); p++) n++;
  return n;
}

#define T(type, json, out) call(TR_WF_TASK_KIND, "order", type, json, out, sizeof out)
#define TN(type, json) call(TR_WF_TASK_KIND, "order", type, json, NULL, 0)

/* ------------------------------------------------------------ user tasks */

static void test_tasks(void **st) {
  (void)st;
  static char out[16384];
  char note[2048];
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"p1:1\",\"pi\":\"p1\",\"act\":\"Review\","
                                     "\"name\":\"Review order\",\"cand_users\":[\"mary\"],"
                                     "\"cand_groups\":[\"sales\"],\"bk\":\"o-1\",\"vars\":{\"n\":1},"
                                     "\"fields\":[{\"id\":\"ok\",\"type\":\"boolean\"}],"
                                     "\"priority\":70,\"due\":\"2026-12-01T00:00:00\"}"),
                   0);
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"p1:1\",\"pi\":\"p1\"}"), 0); /* again: ok */
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"p2:1\",\"pi\":\"p2\",\"assignee\":\"john\"}"), 0);
  atomic_store(&g_asked, 0); /* from inside an actor */
  assert_int_equal(tr_system_virtual_send(g_sys, "asker/1", 1, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&g_asked, 1), 102);
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 2);
  assert_true(strstr(out, "p1:1") < strstr(out, "p2:1")); /* creation order */
  assert_int_equal(T(TR_WFT_GET, "{\"id\":\"p1:1\"}", out), 0);
  assert_non_null(strstr(out, "\"name\":\"Review order\""));
  assert_non_null(strstr(out, "\"key\":\"order\""));
  assert_non_null(strstr(out, "\"priority\":70"));
  assert_non_null(strstr(out, "\"assignee\":null"));
  assert_non_null(strstr(out, "\"vars\":{\"n\":1}"));
  assert_non_null(strstr(out, "\"due\":\"2026-12-01T00:00:00\""));
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"nope\"}"), TR_ENOENT);

  /* claims: the holder again is fine, another user is refused */
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"p1:1\",\"user\":\"mary\"}"), 0);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"p1:1\",\"user\":\"mary\"}"), 0);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"p1:1\",\"user\":\"john\"}"), TR_EBUSY);
  assert_int_equal(T(TR_WFT_LIST, "{\"assignee\":\"mary\"}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 1);
  /* a candidate query sees only unassigned tasks, unless asked */
  assert_int_equal(T(TR_WFT_LIST, "{\"candidate_user\":\"mary\"}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 0);
  assert_int_equal(T(TR_WFT_LIST, "{\"candidate_user\":\"mary\",\"include_assigned\":true}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 1);
  assert_int_equal(TN(TR_WFT_UNCLAIM, "{\"id\":\"p1:1\"}"), 0);
  assert_int_equal(TN(TR_WFT_UNCLAIM, "{\"id\":\"p1:1\"}"), 0);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"p1:1\",\"user\":\"john\"}"), 0);
  assert_int_equal(TN(TR_WFT_UNCLAIM, "{\"id\":\"p1:1\"}"), 0);
  assert_int_equal(T(TR_WFT_LIST, "{\"candidate_group\":\"sales\"}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 1);

  /* complete: durable, gone, and the instance hears of it (and acks) */
  assert_int_equal(TN(TR_WFT_COMPLETE, "{\"id\":\"p1:1\",\"vars\":{\"ok\":true}}"), 0);
  assert_int_equal(TN(TR_WFT_COMPLETE, "{\"id\":\"p1:1\"}"), TR_ENOENT);
  assert_int_equal(t_wait_ge(&g_task_done, 1), 1);
  last(g_last_note, note, sizeof note);
  assert_non_null(strstr(note, "\"id\":\"p1:1\""));
  assert_non_null(strstr(note, "\"from\":\"wftask/order\""));
  assert_non_null(strstr(note, "\"vars\":{\"ok\":true}"));
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"p1:1\"}"), TR_ENOENT);
  /* an instance recovering creates it again: it stays done */
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"p1:1\",\"pi\":\"p1\"}"), 0);
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"p1:1\"}"), TR_ENOENT);
  /* cancel: gone without a note, idempotent */
  assert_int_equal(TN(TR_WFT_CANCEL, "{\"id\":\"p2:1\"}"), 0);
  assert_int_equal(TN(TR_WFT_CANCEL, "{\"id\":\"p2:1\"}"), 0);
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"p2:1\",\"pi\":\"p2\"}"), 0);
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 0);
  /* the acked note is not sent again after a restart */
  restart();
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  assert_int_equal(count(out, "\"id\":\"p"), 0);
  t_sleep_ms(100);
  assert_int_equal(atomic_load(&g_task_done), 1);
}

/* ---- every filter combination against a brute-force model */

typedef struct mt {
  char id[16];
  int assignee; /* -1 nobody, else users[i] */
  int cu, cg;   /* bit sets over users / groups */
  int pi, act, bk;
} mt;

static const char *const users[] = {"ann", "bob", "cid"};
static const char *const groups[] = {"g1", "g2"};

typedef struct mf {
  int assignee, cuser, cgroup, groups, pi, act, bk; /* -1: absent */
  int unassigned, incl;
} mf;

static int model_match(const mf *f, const mt *t) {
  if (f->assignee >= 0 && t->assignee != f->assignee) return 0;
  if (f->pi >= 0 && t->pi != f->pi) return 0;
  if (f->act >= 0 && t->act != f->act) return 0;
  if (f->bk >= 0 && t->bk != f->bk) return 0;
  if (f->unassigned && t->assignee >= 0) return 0;
  if (f->cuser < 0 && f->cgroup < 0 && f->groups < 0) return 1;
  if (t->assignee >= 0 && !f->incl) return 0;
  if (f->cuser >= 0 && (t->cu >> f->cuser & 1)) return 1;
  if (f->cgroup >= 0 && (t->cg >> f->cgroup & 1)) return 1;
  if (f->groups >= 0 && (t->cg & f->groups)) return 1;
  return 0;
}

static uint32_t g_rand = 12345;
static int rnd(int n) {
  g_rand = g_rand * 1103515245u + 12345u;
  return (int)((g_rand >> 16) % (uint32_t)n);
}

static void test_task_filters(void **st) {
  (void)st;
  enum { N = 48 };
  static mt tasks[N];
  static char out[65536];
  char req[2048];
  for (int i = 0; i < N; i++) {
    mt *t = &tasks[i];
    snprintf(t->id, sizeof t->id, "p%d:%d", i % 5, i);
    t->assignee = rnd(4) - 1, t->cu = rnd(8), t->cg = rnd(4);
    t->pi = i % 5, t->act = rnd(2), t->bk = rnd(3);
    char cu[64] = "", cg[64] = "";
    for (int u = 0; u < 3; u++)
      if (t->cu >> u & 1) snprintf(cu + strlen(cu), sizeof cu - strlen(cu), "%s\"%s\"", cu[0] ? "," : "", users[u]);
    for (int g = 0; g < 2; g++)
      if (t->cg >> g & 1) snprintf(cg + strlen(cg), sizeof cg - strlen(cg), "%s\"%s\"", cg[0] ? "," : "", groups[g]);
    char as[32] = "null";
    if (t->assignee >= 0) snprintf(as, sizeof as, "\"%s\"", users[t->assignee]);
    snprintf(req, sizeof req,
             "{\"id\":\"%s\",\"pi\":\"p%d\",\"act\":\"a%d\",\"bk\":\"k%d\",\"assignee\":%s,"
             "\"cand_users\":[%s],\"cand_groups\":[%s]}",
             t->id, t->pi, t->act, t->bk, as, cu, cg);
    assert_int_equal(TN(TR_WFT_CREATE, req), 0);
  }
  for (int round = 0; round < 300; round++) {
    mf f = {rnd(2) ? rnd(3) : -1, rnd(2) ? rnd(3) : -1, rnd(3) ? -1 : rnd(2),
            rnd(4) ? -1 : rnd(4), rnd(3) ? -1 : rnd(5), rnd(3) ? -1 : rnd(2),
            rnd(3) ? -1 : rnd(3), rnd(4) == 0, rnd(2)};
    size_t n = (size_t)snprintf(req, sizeof req, "{\"include_assigned\":%s", f.incl ? "true" : "false");
    if (f.assignee >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"assignee\":\"%s\"", users[f.assignee]);
    if (f.cuser >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"candidate_user\":\"%s\"", users[f.cuser]);
    if (f.cgroup >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"candidate_group\":\"%s\"", groups[f.cgroup]);
    if (f.groups >= 0)
      n += (size_t)snprintf(req + n, sizeof req - n, ",\"candidate_groups\":[%s%s%s]",
                            f.groups & 1 ? "\"g1\"" : "", f.groups == 3 ? "," : "",
                            f.groups & 2 ? "\"g2\"" : "");
    if (f.pi >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"pi\":\"p%d\"", f.pi);
    if (f.act >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"act\":\"a%d\"", f.act);
    if (f.bk >= 0) n += (size_t)snprintf(req + n, sizeof req - n, ",\"bk\":\"k%d\"", f.bk);
    if (f.unassigned) n += (size_t)snprintf(req + n, sizeof req - n, ",\"unassigned\":true");
    snprintf(req + n, sizeof req - n, "}");
    assert_int_equal(T(TR_WFT_LIST, req, out), 0);
    /* the expected ids, in creation order, and nothing else */
    char want[4096] = "";
    int nwant = 0;
    for (int i = 0; i < N; i++)
      if (model_match(&f, &tasks[i])) {
        snprintf(want + strlen(want), sizeof want - strlen(want), "\"id\":\"%s\"", tasks[i].id);
        nwant++;
      }
    char got[4096] = "";
    int ngot = 0;
    for (const char *p = out; (p = strstr(p, "\"id\":\"p")); p++) {
      size_t k = strcspn(p + 6, "\"");
      snprintf(got + strlen(got), sizeof got - strlen(got), "\"id\":\"%.*s\"", (int)k, p + 6);
      ngot++;
    }
    if (strcmp(want, got)) print_error("filter %s\nwant %s\ngot  %s\n", req, want, got);
    assert_int_equal(ngot, nwant);
    assert_string_equal(got, want);
  }
}

static void test_task_bad_requests(void **st) {
  (void)st;
  char name[256];
  assert_int_equal(tr_wf_index_name(TR_WF_TASK_KIND, "order", name, sizeof name), 0);
  assert_string_equal(name, "wftask/order");
  assert_int_equal(tr_wf_index_name("nope", "order", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_wf_index_name(TR_WF_MSG_KIND, "", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_wf_index_name(TR_WF_MSG_KIND, "a\nb", name, sizeof name), TR_EINVAL);
  assert_int_equal(tr_wf_index_name(TR_WF_MSG_KIND, "abc", name, 8), TR_EINVAL);

  static const uint8_t junk[] = {0xc1, 0x00, 0xff};
  static const uint8_t arr[] = {0x91, 0x01};
  for (uint32_t type = TR_WFT_CREATE; type <= TR_WFT_CANCEL; type++) {
    assert_int_equal(call_raw("wftask/order", type, junk, sizeof junk, NULL, 0), TR_EPROTO);
    assert_int_equal(call_raw("wftask/order", type, arr, sizeof arr, NULL, 0), TR_EPROTO);
    assert_int_equal(call_raw("wftask/order", type, NULL, 0, NULL, 0), TR_EPROTO);
  }
  assert_int_equal(call_raw("wftask/order", 0x1234, arr, sizeof arr, NULL, 0), TR_ENOTSUP);
  const char *bad_creates[] = {
      "{}", "{\"id\":\"x\"}", "{\"pi\":\"p\"}", "{\"id\":1,\"pi\":\"p\"}",
      "{\"id\":\"x\",\"pi\":[]}", "{\"id\":\"\",\"pi\":\"p\"}",
      "{\"id\":\"x\",\"pi\":\"p\",\"cand_users\":\"mary\"}",
      "{\"id\":\"x\",\"pi\":\"p\",\"cand_users\":[1]}",
      "{\"id\":\"x\",\"pi\":\"p\",\"cand_groups\":[\"a\",{}]}",
      "{\"id\":\"x\",\"pi\":\"p\",\"vars\":[]}", "{\"id\":\"x\",\"pi\":\"p\",\"fields\":{}}",
      "{\"id\":\"x\",\"pi\":\"p\",\"priority\":\"high\"}",
      "{\"id\":\"x\",\"pi\":\"p\",\"assignee\":5}", "{\"id\":\"x\",\"pi\":\"p\",\"name\":true}",
      "{\"id\":\"x\",\"pi\":\"p\",\"created\":1.5}"};
  for (size_t i = 0; i < sizeof bad_creates / sizeof *bad_creates; i++)
    assert_int_equal(TN(TR_WFT_CREATE, bad_creates[i]), TR_EINVAL);
  char out[4096];
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  assert_int_equal(count(out, "\"id\""), 0); /* nothing half-created */
  const char *bad_lists[] = {"{\"assignee\":1}", "{\"unassigned\":\"yes\"}",
                             "{\"candidate_groups\":\"g\"}", "{\"candidate_groups\":[1]}",
                             "{\"pi\":{}}", "{\"include_assigned\":0}"};
  for (size_t i = 0; i < sizeof bad_lists / sizeof *bad_lists; i++)
    assert_int_equal(TN(TR_WFT_LIST, bad_lists[i]), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"x\",\"pi\":\"p\"}"), 0);
  assert_int_equal(TN(TR_WFT_GET, "{}"), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":7}"), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"x\"}"), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"x\",\"user\":\"\"}"), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"y\",\"user\":\"u\"}"), TR_ENOENT);
  assert_int_equal(TN(TR_WFT_UNCLAIM, "{\"id\":\"y\"}"), TR_ENOENT);
  assert_int_equal(TN(TR_WFT_COMPLETE, "{\"id\":\"x\",\"vars\":3}"), TR_EINVAL);
  assert_int_equal(TN(TR_WFT_CANCEL, "{\"id\":[]}"), TR_EINVAL);
  assert_int_equal(TN(TR_WF_IDX_ACK, "{}"), TR_EINVAL);
  assert_int_equal(TN(TR_WF_IDX_ACK, "{\"id\":\"never\"}"), 0);
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"x\"}"), 0); /* still there, unharmed */
}

/* a note nobody acked is sent again after a restart; an acked one is not */
static void test_task_outbox_restart(void **st) {
  (void)st;
  char out[4096];
  atomic_store(&g_ack, 0);
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"q1:1\",\"pi\":\"q1\"}"), 0);
  assert_int_equal(TN(TR_WFT_COMPLETE, "{\"id\":\"q1:1\",\"vars\":{\"a\":1}}"), 0);
  assert_true(t_wait_ge(&g_task_done, 1) >= 1); /* more if a 30 s resend came */
  restart();
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0); /* wakes the index */
  assert_true(t_wait_ge(&g_task_done, 2) >= 2);
  /* recovered, it is still done */
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"q1:1\",\"pi\":\"q1\"}"), 0);
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"q1:1\"}"), TR_ENOENT);
  assert_int_equal(TN(TR_WF_IDX_ACK, "{\"id\":\"q1:1\"}"), 0);
  restart();
  int64_t before = atomic_load(&g_task_done);
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  t_sleep_ms(100);
  assert_int_equal(atomic_load(&g_task_done), before);
  /* acked and forgotten by the outbox, but still remembered as done */
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"q1:1\",\"pi\":\"q1\"}"), 0);
  assert_int_equal(TN(TR_WFT_GET, "{\"id\":\"q1:1\"}"), TR_ENOENT);
}

/* more than snapshot_every (1,000) events: recovery restores a snapshot */
static void test_task_snapshot_restart(void **st) {
  (void)st;
  static char out[1 << 20];
  char req[256];
  for (int i = 0; i < 700; i++) {
    snprintf(req, sizeof req, "{\"id\":\"s%d:1\",\"pi\":\"s%d\",\"cand_users\":[\"u%d\"]}", i, i, i % 7);
    assert_int_equal(TN(TR_WFT_CREATE, req), 0);
  }
  for (int i = 0; i < 400; i++) {
    if (i == 390) atomic_store(&g_ack, 0); /* the last few notes stay unacked */
    snprintf(req, sizeof req, "{\"id\":\"s%d:1\"}", i);
    assert_int_equal(TN(TR_WFT_COMPLETE, req), 0);
  }
  assert_true(t_wait_ge(&g_task_done, 400) >= 400);
  assert_int_equal(TN(TR_WFT_CLAIM, "{\"id\":\"s500:1\",\"user\":\"zed\"}"), 0);
  restart();
  assert_int_equal(T(TR_WFT_LIST, "{}", out), 0);
  assert_int_equal(count(out, "\"id\":\"s"), 300);
  assert_int_equal(count(out, "\"id\":\"s399:1\""), 0);
  assert_int_equal(count(out, "\"id\":\"s400:1\""), 1);
  assert_int_equal(count(out, "\"assignee\":\"zed\""), 1);
  /* the unacked notes (390..399) come again */
  assert_true(t_wait_ge(&g_task_done, 410) >= 410);
  for (int i = 0; i < 400; i += 37) { /* done ones stay done */
    snprintf(req, sizeof req, "{\"id\":\"s%d:1\",\"pi\":\"s%d\"}", i, i);
    assert_int_equal(TN(TR_WFT_CREATE, req), 0);
  }
  assert_int_equal(T(TR_WFT_LIST, "{\"candidate_user\":\"u3\"}", out), 0);
  int want = 0;
  for (int i = 400; i < 700; i++) want += i % 7 == 3 && i != 500;
  assert_int_equal(count(out, "\"id\":\"s"), want);
}

/* ------------------------------------------------------------ messages */

#define M(type, json, out) call(TR_WF_MSG_KIND, "paid", type, json, out, sizeof out)
#define MN(type, json) call(TR_WF_MSG_KIND, "paid", type, json, NULL, 0)

static void test_messages(void **st) {
  (void)st;
  char out[4096], note[2048];
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p1:2\",\"pi\":\"p1\",\"key\":\"order\","
                                       "\"bk\":\"b1\",\"corr\":{\"order\":1}}"), 0);
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p2:2\",\"pi\":\"p2\",\"key\":\"order\","
                                       "\"bk\":\"b1\",\"corr\":{\"order\":2,\"x\":\"y\","
                                       "\"deep\":{\"a\":[1,2],\"b\":null}}}"), 0);
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p3:2\",\"pi\":\"p3\",\"key\":\"order\","
                                       "\"bk\":\"b2\"}"), 0);
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p3:2\",\"pi\":\"p3\"}"), 0); /* again */
  /* ambiguous */
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"b1\"}"), TR_EEXIST);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{}"), TR_EEXIST);
  /* values, not encodings: 2.0 == 2, maps in any order */
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"corr\":{\"order\":3}}"), TR_ENOENT);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"b2\",\"corr\":{\"order\":2}}"), TR_ENOENT);
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b1\",\"corr\":{\"order\":2.0,"
                                       "\"deep\":{\"b\":null,\"a\":[1,2]}},\"vars\":{\"amount\":5}}",
                     out), 0);
  assert_non_null(strstr(out, "\"matched\":[{\"pi\":\"p2\",\"id\":\"p2:2\"}]"));
  assert_int_equal(t_wait_ge(&g_msg_deliver, 1), 1);
  last(g_last_note, note, sizeof note);
  assert_non_null(strstr(note, "\"id\":\"p2:2\""));
  assert_non_null(strstr(note, "\"from\":\"wfmsg/paid\""));
  assert_non_null(strstr(note, "\"name\":\"paid\""));
  assert_non_null(strstr(note, "\"vars\":{\"amount\":5}"));
  /* gone, and a repeated subscription does not bring it back */
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p2:2\",\"pi\":\"p2\",\"bk\":\"b1\"}"), 0);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"corr\":{\"order\":2}}"), TR_ENOENT);
  /* by business key alone, then all the rest */
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b1\"}", out), 0);
  assert_non_null(strstr(out, "\"id\":\"p1:2\""));
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p4:2\",\"pi\":\"p4\",\"bk\":\"b2\"}"), 0);
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p5:2\",\"pi\":\"p5\",\"bk\":\"b5\"}"), 0);
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b2\",\"all\":true}", out), 0);
  assert_int_equal(count(out, "\"pi\":"), 2);
  assert_int_equal(t_wait_ge(&g_msg_deliver, 4), 4);
  /* cancel is idempotent; a canceled one does not match */
  assert_int_equal(MN(TR_WFM_CANCEL, "{\"id\":\"p5:2\"}"), 0);
  assert_int_equal(MN(TR_WFM_CANCEL, "{\"id\":\"p5:2\"}"), 0);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"b5\"}"), TR_ENOENT);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"all\":true}"), TR_ENOENT);

  /* a message start event: no waiting match starts an instance */
  assert_int_equal(MN(TR_WFM_START_ADD, "{\"key\":\"order\"}"), 0);
  assert_int_equal(MN(TR_WFM_START_ADD, "{\"key\":\"order\"}"), 0);
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b9\",\"vars\":{\"v\":1}}", out), 0);
  assert_non_null(strstr(out, "\"started\":true"));
  assert_int_equal(atomic_load(&g_starts), 1);
  char start[2048];
  last(g_last_start, start, sizeof start);
  assert_non_null(strstr(start, "\"key\":\"order\""));
  assert_non_null(strstr(start, "\"msg\":\"paid\""));
  assert_non_null(strstr(start, "\"bk\":\"b9\""));
  assert_non_null(strstr(start, "\"vars\":{\"v\":1}"));
  const char *pi = strstr(out, "\"pi\":\"");
  assert_non_null(pi);
  assert_int_equal(strspn(pi + 6, "0123456789abcdef"), 32);
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b9\",\"start_bk\":\"s9\"}", out), 0);
  last(g_last_start, start, sizeof start);
  assert_non_null(strstr(start, "\"bk\":\"s9\""));
  /* a waiting subscription wins over the start event */
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"p6:2\",\"pi\":\"p6\",\"bk\":\"b6\"}"), 0);
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"bk\":\"b6\"}", out), 0);
  assert_non_null(strstr(out, "\"id\":\"p6:2\""));
  assert_int_equal(atomic_load(&g_starts), 2);
  /* the instance's refusal is the answer */
  assert_int_equal(call(TR_WF_MSG_KIND, "other", TR_WFM_START_ADD, "{\"key\":\"broken\"}", NULL, 0), 0);
  assert_int_equal(call(TR_WF_MSG_KIND, "other", TR_WFM_CORRELATE, "{}", NULL, 0), TR_ENOENT);
  assert_int_equal(atomic_load(&g_starts), 3);
}

static void test_message_bad_requests(void **st) {
  (void)st;
  static const uint8_t junk[] = {0x92, 0xc1};
  for (uint32_t type = TR_WFM_SUBSCRIBE; type <= TR_WFM_CORRELATE; type++)
    assert_int_equal(call_raw("wfmsg/paid", type, junk, sizeof junk, NULL, 0), TR_EPROTO);
  const char *bad_subs[] = {"{}", "{\"id\":\"a\"}", "{\"pi\":\"p\"}", "{\"id\":\"a\",\"pi\":1}",
                            "{\"id\":\"a\",\"pi\":\"p\",\"bk\":2}",
                            "{\"id\":\"a\",\"pi\":\"p\",\"corr\":[1]}",
                            "{\"id\":\"a\",\"pi\":\"p\",\"key\":{}}"};
  for (size_t i = 0; i < sizeof bad_subs / sizeof *bad_subs; i++)
    assert_int_equal(MN(TR_WFM_SUBSCRIBE, bad_subs[i]), TR_EINVAL);
  const char *bad_corrs[] = {"{\"bk\":1}", "{\"corr\":\"x\"}", "{\"vars\":[]}", "{\"all\":1}",
                             "{\"start_bk\":[]}", "{\"pi\":false}"};
  for (size_t i = 0; i < sizeof bad_corrs / sizeof *bad_corrs; i++)
    assert_int_equal(MN(TR_WFM_CORRELATE, bad_corrs[i]), TR_EINVAL);
  /* a corr map with a key that is not a string */
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "corr");
  tr_pack_map(&pk, 1);
  tr_pack_int(&pk, 1);
  tr_pack_int(&pk, 2);
  assert_int_equal(call_raw("wfmsg/paid", TR_WFM_CORRELATE, pk.data, pk.len, NULL, 0), TR_EINVAL);
  tr_pack_free(&pk);
  assert_int_equal(MN(TR_WFM_START_ADD, "{}"), TR_EINVAL);
  assert_int_equal(MN(TR_WFM_START_ADD, "{\"key\":3}"), TR_EINVAL);
  assert_int_equal(MN(TR_WFM_CANCEL, "{}"), TR_EINVAL);
  assert_int_equal(call_raw("wfmsg/paid", 0x999, NULL, 0, NULL, 0), TR_ENOTSUP);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{}"), TR_ENOENT); /* still empty and answering */
}

/* subscriptions, start keys and unacked deliveries survive a restart;
 * more than 1,000 events go through a snapshot */
static void test_message_restart(void **st) {
  (void)st;
  char req[256], out[4096];
  for (int i = 0; i < 600; i++) {
    snprintf(req, sizeof req, "{\"id\":\"r%d:1\",\"pi\":\"r%d\",\"bk\":\"k%d\",\"corr\":{\"n\":%d}}", i, i, i, i);
    assert_int_equal(MN(TR_WFM_SUBSCRIBE, req), 0);
  }
  for (int i = 0; i < 500; i++) {
    snprintf(req, sizeof req, "{\"corr\":{\"n\":%d}}", i);
    assert_int_equal(MN(TR_WFM_CORRELATE, req), 0);
  }
  assert_int_equal(t_wait_ge(&g_msg_deliver, 500), 500);
  atomic_store(&g_ack, 0);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"k500\"}"), 0); /* never acked */
  assert_int_equal(MN(TR_WFM_START_ADD, "{\"key\":\"order\"}"), 0);
  assert_true(t_wait_ge(&g_msg_deliver, 501) >= 501);
  restart();
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"k3\"}"), 0); /* gone: starts one */
  assert_int_equal(atomic_load(&g_starts), 1);
  assert_true(t_wait_ge(&g_msg_deliver, 502) >= 502); /* k500's note again */
  char note[2048];
  last(g_last_note, note, sizeof note);
  assert_non_null(strstr(note, "r500:1"));
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"corr\":{\"n\":599}}", out), 0);
  assert_non_null(strstr(out, "\"id\":\"r599:1\""));
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"all\":true}", out), 0);
  assert_int_equal(count(out, "\"pi\":"), 98); /* 501..598 */
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"r7:1\",\"pi\":\"r7\"}"), 0); /* done stays */
  assert_int_equal(M(TR_WFM_CORRELATE, "{\"all\":true}", out), 0);
  assert_non_null(strstr(out, "\"started\":true"));
}

/* ------------------------------------------------------------ history */

#define H(type, json, out) call(TR_WF_HIST_KIND, "order", type, json, out, sizeof out)
#define HN(type, json) call(TR_WF_HIST_KIND, "order", type, json, NULL, 0)

typedef struct mh {
  int bk, state; /* state: 0 running, 1 completed, 2 failed, 3 terminated */
  int64_t start, end;
} mh;

static const char *const hstates[] = {"running", "completed", "failed", "terminated"};

static void check_hist_list(const mh *recs, int n, const char *json, int fstate, int fbk,
                            int64_t t[4], int first, int max) {
  static char out[1 << 20];
  assert_int_equal(H(TR_WFH_LIST, json, out), 0);
  char want[8192] = "";
  int cnt = 0, shown = 0;
  for (int i = 0; i < n; i++) {
    const mh *r = &recs[i];
    if (fstate == 4 ? r->state == 0 : fstate >= 0 && r->state != fstate) continue;
    if (fbk >= 0 && r->bk != fbk) continue;
    if (t[0] >= 0 && r->start < t[0]) continue;
    if (t[1] >= 0 && r->start > t[1]) continue;
    if ((t[2] >= 0 || t[3] >= 0) && r->state == 0) continue;
    if (t[2] >= 0 && r->end < t[2]) continue;
    if (t[3] >= 0 && r->end > t[3]) continue;
    if (cnt++ >= first && shown < max) {
      snprintf(want + strlen(want), sizeof want - strlen(want), "\"pi\":\"h%d\"", i);
      shown++;
    }
  }
  char got[8192] = "";
  for (const char *p = out; (p = strstr(p, "\"pi\":\"")); p++) {
    size_t k = strcspn(p + 6, "\"");
    snprintf(got + strlen(got), sizeof got - strlen(got), "\"pi\":\"%.*s\"", (int)k, p + 6);
  }
  if (strcmp(want, got)) print_error("list %s\nwant %s\ngot  %s\n", json, want, got);
  assert_string_equal(got, want);
  char c[32];
  snprintf(c, sizeof c, "\"count\":%d", cnt);
  assert_non_null(strstr(out, c));
}

static void hist_queries(const mh *recs, int n) {
  for (int round = 0; round < 150; round++) {
    int fstate = rnd(3) ? -1 : rnd(5), fbk = rnd(2) ? -1 : rnd(3);
    int64_t t[4];
    for (int i = 0; i < 4; i++) t[i] = rnd(3) ? -1 : 1000 + rnd(60) * 10;
    int first = rnd(2) ? 0 : rnd(10), max = rnd(2) ? 1000 : rnd(8);
    char req[512];
    size_t k = (size_t)snprintf(req, sizeof req, "{\"first\":%d,\"max\":%d", first, max);
    if (fstate >= 0)
      k += (size_t)snprintf(req + k, sizeof req - k, ",\"state\":\"%s\"",
                            fstate == 4 ? "finished" : hstates[fstate]);
    if (fbk >= 0) k += (size_t)snprintf(req + k, sizeof req - k, ",\"bk\":\"k%d\"", fbk);
    static const char *const tk[] = {"started_after", "started_before", "finished_after",
                                     "finished_before"};
    for (int i = 0; i < 4; i++)
      if (t[i] >= 0) k += (size_t)snprintf(req + k, sizeof req - k, ",\"%s\":%lld", tk[i], (long long)t[i]);
    snprintf(req + k, sizeof req - k, "}");
    check_hist_list(recs, n, req, fstate, fbk, t, first, max);
  }
}

static void test_history(void **st) {
  (void)st;
  enum { N = 40 };
  static mh recs[N];
  char req[512], out[8192];
  for (int i = 0; i < N; i++) {
    recs[i] = (mh){rnd(3), 0, 1000 + i * 10, 0};
    snprintf(req, sizeof req, "{\"pi\":\"h%d\",\"def\":\"order:1:x\",\"version\":1,"
                              "\"bk\":\"k%d\",\"start\":%lld}", i, recs[i].bk, (long long)recs[i].start);
    assert_int_equal(HN(TR_WFH_STARTED, req), 0);
    assert_int_equal(HN(TR_WFH_STARTED, req), 0); /* again: the same */
  }
  for (int i = 0; i < N; i += 1 + rnd(2)) {
    recs[i].state = 1 + rnd(3);
    recs[i].end = recs[i].start + 5 + rnd(200);
    snprintf(req, sizeof req, "{\"pi\":\"h%d\",\"state\":\"%s\",\"end\":%lld,\"error\":\"%s\","
                              "\"acts\":[{\"id\":\"a1\",\"act\":\"Review\"}]}",
             i, hstates[recs[i].state], (long long)recs[i].end, recs[i].state == 2 ? "boom" : "");
    assert_int_equal(HN(TR_WFH_ENDED, req), 0);
    snprintf(req, sizeof req, "{\"pi\":\"h%d\",\"state\":\"completed\",\"end\":1}", i);
    assert_int_equal(HN(TR_WFH_ENDED, req), 0); /* again: the first end stays */
  }
  assert_int_equal(H(TR_WFH_GET, "{\"pi\":\"h0\"}", out), 0);
  assert_non_null(strstr(out, "\"def\":\"order:1:x\""));
  assert_non_null(strstr(out, "\"key\":\"order\""));
  assert_non_null(strstr(out, "\"state\":\"completed\"") || strstr(out, "\"state\":\"failed\"") ||
                  strstr(out, "\"state\":\"terminated\""));
  assert_non_null(strstr(out, "\"acts\":[{\"id\":\"a1\""));
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"nope\"}"), TR_ENOENT);
  hist_queries(recs, N);
  restart();
  hist_queries(recs, N);
  /* an end never started here still makes a record */
  assert_int_equal(HN(TR_WFH_ENDED, "{\"pi\":\"lone\",\"state\":\"terminated\",\"end\":5}"), 0);
  assert_int_equal(H(TR_WFH_GET, "{\"pi\":\"lone\"}", out), 0);
  assert_non_null(strstr(out, "\"state\":\"terminated\""));
  assert_int_equal(HN(TR_WFH_STARTED, "{\"pi\":\"lone\",\"def\":\"order:2:y\",\"start\":3}"), 0);
  assert_int_equal(H(TR_WFH_GET, "{\"pi\":\"lone\"}", out), 0);
  assert_non_null(strstr(out, "\"state\":\"terminated\""));
  assert_non_null(strstr(out, "\"def\":\"order:2:y\""));
  assert_non_null(strstr(out, "\"start\":3"));
  /* bad requests */
  const char *bad[] = {"{\"state\":\"sleeping\"}", "{\"max\":-1}", "{\"max\":100000}",
                       "{\"first\":\"1\"}", "{\"bk\":2}", "{\"started_after\":\"x\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(HN(TR_WFH_LIST, bad[i]), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_STARTED, "{}"), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_STARTED, "{\"pi\":\"z\",\"version\":\"1\"}"), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_ENDED, "{\"pi\":\"z\"}"), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_ENDED, "{\"pi\":\"z\",\"state\":\"running\"}"), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_ENDED, "{\"pi\":\"z\",\"state\":\"failed\",\"acts\":{}}"), TR_EINVAL);
  assert_int_equal(HN(TR_WFH_GET, "{}"), TR_EINVAL);
  static const uint8_t junk[] = {0xa1};
  assert_int_equal(call_raw("wfhist/order", TR_WFH_LIST, junk, sizeof junk, NULL, 0), TR_EPROTO);
  assert_int_equal(call_raw("wfhist/order", 0x4242, NULL, 0, NULL, 0), TR_ENOTSUP);
  assert_int_equal(H(TR_WFH_LIST, "{\"max\":0}", out), 0);
  assert_non_null(strstr(out, "\"count\":41"));
}

/* the newest finished records stay; running ones always do; a snapshot
 * (over 1,000 events) keeps the retention order */
static void test_history_retention_snapshot(void **st) {
  (void)st;
  char req[256], out[65536];
  tr_wf_hist_keep_set(100);
  for (int i = 0; i < 700; i++) {
    snprintf(req, sizeof req, "{\"pi\":\"r%d\",\"start\":%d}", i, i);
    assert_int_equal(HN(TR_WFH_STARTED, req), 0);
  }
  for (int i = 0; i < 650; i++) { /* r0..r649 finish, in reverse order */
    snprintf(req, sizeof req, "{\"pi\":\"r%d\",\"state\":\"completed\",\"end\":%d}", 649 - i, 10000 + i);
    assert_int_equal(HN(TR_WFH_ENDED, req), 0);
  }
  assert_int_equal(H(TR_WFH_LIST, "{\"max\":0,\"state\":\"finished\"}", out), 0);
  assert_non_null(strstr(out, "\"count\":100"));
  assert_int_equal(H(TR_WFH_LIST, "{\"max\":0,\"state\":\"running\"}", out), 0);
  assert_non_null(strstr(out, "\"count\":50"));
  restart();
  tr_wf_hist_keep_set(100);
  assert_int_equal(H(TR_WFH_LIST, "{\"max\":0,\"state\":\"finished\"}", out), 0);
  assert_non_null(strstr(out, "\"count\":100"));
  /* the newest finished are r99..r0 */
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r0\"}"), 0);
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r99\"}"), 0);
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r100\"}"), TR_ENOENT);
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r650\"}"), 0);
  assert_int_equal(HN(TR_WFH_ENDED, "{\"pi\":\"r650\",\"state\":\"failed\",\"end\":99999}"), 0);
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r99\"}"), TR_ENOENT); /* the oldest finished went */
  assert_int_equal(HN(TR_WFH_GET, "{\"pi\":\"r0\"}"), 0);
  assert_int_equal(H(TR_WFH_LIST, "{\"first\":2,\"max\":3,\"state\":\"finished\"}", out), 0);
  assert_non_null(strstr(out, "\"count\":100"));
  assert_int_equal(count(out, "\"pi\":"), 3);
}

/* ------------------------------------------------------------ events, deployment */

/* The task index emits no engine events: the instance emits task.created
 * and task.completed itself (waits.c, journal.c), so each comes once and in
 * the instance's order; the index used to emit them a second time. */
static void test_events(void **st) {
  (void)st;
  tr_wf_emit_target(g_sys, "ev/bus");
  uint64_t n0 = tr_wf_emit_count();
  assert_int_equal(TN(TR_WFT_CREATE, "{\"id\":\"e1:1\",\"pi\":\"e1\",\"bk\":\"b\"}"), 0);
  assert_int_equal(TN(TR_WFT_COMPLETE, "{\"id\":\"e1:1\"}"), 0);
  /* an emit is counted before the reply goes: none came */
  assert_int_equal(tr_wf_emit_count(), n0);
  /* the emit path itself, from an actor: to the target, or lost and counted */
  assert_int_equal(tr_system_virtual_send(g_sys, "emitter/1", 1, "\x81\xa2pi\xa2" "e2", 7), 0);
  assert_int_equal(t_wait_ge(&g_events, 1), 1);
  char ev[2048];
  last(g_last_event, ev, sizeof ev);
  assert_non_null(strstr(ev, "\"type\":\"x.done\""));
  assert_non_null(strstr(ev, "\"pi\":\"e2\""));
  assert_non_null(strstr(ev, "\"time\":"));
  uint64_t lost = tr_wf_emit_lost();
  tr_wf_emit(NULL, "x", NULL, 0); /* no actor to send from: lost, counted */
  assert_int_equal(tr_wf_emit_lost(), lost + 1);
  tr_wf_emit_target(g_sys, "nokind/x");
  assert_int_equal(tr_system_virtual_send(g_sys, "emitter/1", 1, "\x80", 1), 0);
  assert_int_equal(t_wait_ge(&g_emitted, 2), 2);
  assert_true(tr_wf_emit_lost() >= lost + 2);
}

static char *slurp(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", TR_WF_MODELS, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

/* deploying a message start event registers it: the message starts one */
static void test_deploy_registers_message_start(void **st) {
  (void)st;
  size_t len;
  char *src = slurp("message.bpmn", &len);
  tr_wf_deployed d[4];
  assert_int_equal(tr_wf_deploy(g_sys, "message.bpmn", src, len, "dep1", 0, d, 4, NULL), 1);
  char out[4096];
  assert_int_equal(call(TR_WF_MSG_KIND, "ReturnRequested", TR_WFM_CORRELATE,
                        "{\"bk\":\"ret-1\"}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"started\":true"));
  char start[2048];
  last(g_last_start, start, sizeof start);
  assert_non_null(strstr(start, "\"key\":\"returns\""));
  assert_non_null(strstr(start, "\"msg\":\"ReturnRequested\""));
  /* the intermediate catch's message has no start */
  assert_int_equal(call(TR_WF_MSG_KIND, "ParcelArrived", TR_WFM_CORRELATE, "{}", NULL, 0),
                   TR_ENOENT);
}

/* ------------------------------------------------------------ random requests */

static const char *const fuzz_keys[] = {
    "id", "pi", "def", "key", "act", "name", "assignee", "cand_users", "cand_groups",
    "form_key", "due", "follow_up", "priority", "bk", "created", "vars", "fields",
    "candidate_user", "candidate_group", "candidate_groups", "include_assigned", "unassigned",
    "user", "corr", "all", "start_bk", "version", "start", "state", "end", "error", "acts",
    "started_after", "started_before", "finished_after", "finished_before", "first", "max"};
static const char *const fuzz_strs[] = {"", "a", "p1", "p1:1", "order", "running", "finished",
                                        "completed", "x\x01y", "wf/evil"};

static void fuzz_value(tr_pack *pk, int depth) {
  switch (rnd(depth > 2 ? 7 : 9)) {
  case 0: tr_pack_nil(pk); break;
  case 1: tr_pack_bool(pk, rnd(2)); break;
  case 2: tr_pack_int(pk, rnd(5) - 2); break;
  case 3: tr_pack_uint(pk, UINT64_MAX - (uint64_t)rnd(3)); break;
  case 4: tr_pack_double(pk, rnd(3) / 2.0); break;
  case 5: tr_pack_str(pk, fuzz_strs[rnd(10)]); break;
  case 6: tr_pack_bin(pk, "\x00\xff", 2); break;
  case 7: {
    int n = rnd(4);
    tr_pack_array(pk, (uint32_t)n);
    for (int i = 0; i < n; i++) fuzz_value(pk, depth + 1);
    break;
  }
  default: {
    int n = rnd(3);
    tr_pack_map(pk, (uint32_t)n);
    for (int i = 0; i < n; i++) {
      if (rnd(5)) tr_pack_str(pk, fuzz_keys[rnd(38)]);
      else tr_pack_int(pk, i);
      fuzz_value(pk, depth + 1);
    }
  }
  }
}

/* requests with fields of random types: every one answered, nothing
 * crashes, and the indexes still work afterwards */
static void test_random_requests(void **st) {
  (void)st;
  static const char *const names[] = {"wftask/order", "wfmsg/paid", "wfhist/order"};
  static const uint32_t first[] = {TR_WFT_CREATE, TR_WFM_SUBSCRIBE, TR_WFH_STARTED};
  static const uint32_t count_[] = {7, 4, 4};
  for (int i = 0; i < 1500; i++) {
    int k = rnd(3);
    uint32_t type = rnd(12) ? first[k] + (uint32_t)rnd((int)count_[k]) : TR_WF_IDX_ACK;
    tr_pack pk = TR_PACK_INIT;
    int n = rnd(6);
    tr_pack_map(&pk, (uint32_t)n);
    for (int j = 0; j < n; j++) {
      tr_pack_str(&pk, fuzz_keys[rnd(38)]);
      fuzz_value(&pk, 0);
    }
    size_t len = pk.len;
    if (rnd(20) == 0 && len > 1) len = (size_t)rnd((int)len); /* truncated */
    int rc = call_raw(names[k], type, pk.data, len, NULL, 0);
    tr_pack_free(&pk);
    assert_true(rc == 0 || rc == TR_EINVAL || rc == TR_EPROTO || rc == TR_ENOENT ||
                rc == TR_EEXIST || rc == TR_EBUSY || rc == TR_ENOTSUP);
  }
  char out[1 << 16];
  assert_int_equal(call(TR_WF_TASK_KIND, "order", TR_WFT_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(call(TR_WF_HIST_KIND, "order", TR_WFH_LIST, "{\"max\":0}", out, sizeof out), 0);
  assert_int_equal(MN(TR_WFM_SUBSCRIBE, "{\"id\":\"zz:1\",\"pi\":\"zz\",\"bk\":\"unique\"}"), 0);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"unique\"}"), 0);
  restart(); /* and what they journaled replays */
  assert_int_equal(call(TR_WF_TASK_KIND, "order", TR_WFT_LIST, "{}", out, sizeof out), 0);
  assert_int_equal(call(TR_WF_HIST_KIND, "order", TR_WFH_LIST, "{\"max\":0}", out, sizeof out), 0);
  assert_int_equal(MN(TR_WFM_CORRELATE, "{\"bk\":\"unique\"}"), TR_ENOENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_task_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_task_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_task_outbox_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_task_snapshot_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_message_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_message_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_retention_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deploy_registers_message_start, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_requests, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
