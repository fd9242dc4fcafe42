/* test_wfengine.c - process instances: a deployed model runs through an
 * external task, an exclusive gateway (both ways), a parallel fork and
 * join, to its end; variables from completions steer the gateway; an
 * instance survives a restart in the middle (its journal replayed, its
 * waiting job found again, not created twice); bad starts. Jobs are
 * fetched and completed here, as an HTTP worker would. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/repo.h"
#include "actors/workflow/index.h"
#include "runtime/virtual.h"

static tr_system *g_sys;
static char g_dir[64];
static char g_def[160]; /* the deployed definition's id */

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
}

static int setup(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trwfeXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  start();
  char path[512];
  snprintf(path, sizeof path, "%s/approve.bpmn", TR_WF_ENGINE_MODELS);
  FILE *f = fopen(path, "rb");
  static char xml[65536];
  size_t len = f ? fread(xml, 1, sizeof xml, f) : 0;
  if (f) fclose(f);
  tr_wf_deployed d[2];
  char *problems = NULL;
  int n = tr_wf_deploy(g_sys, "approve.bpmn", xml, len, "d1", 0, d, 2, &problems);
  if (problems) fprintf(stderr, "%s\n", problems);
  free(problems);
  if (n == 1) snprintf(g_def, sizeof g_def, "%s", d[0].id);
  return n == 1 ? 0 : -1;
}

static int teardown(void **st) {
  (void)st;
  tr_system_free(g_sys);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static int ask_json(const char *name, uint32_t type, const char *json, char *out, size_t cap) {
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

/* Fetches the one job of topic (long poll), completes it with vars_json;
 * returns its "act" (the element) in act. */
static void work(const char *topic, const char *vars_json, char *act, size_t cap) {
  char name[128], out[8192], req[1024];
  snprintf(name, sizeof name, "jobs/%s", topic);
  assert_int_equal(ask_json(name, TR_JOB_FETCH,
                            "{\"worker\":\"t\",\"max\":5,\"lock_ms\":600000,\"wait_ms\":600000}",
                            out, sizeof out), 0);
  const char *p = strstr(out, "\"id\":\"");
  assert_non_null(p);
  p += 6;
  char id[300];
  snprintf(id, sizeof id, "%.*s", (int)strcspn(p, "\""), p);
  assert_null(strstr(p, "\"id\":\"")); /* exactly one */
  const char *a = strstr(out, "\"act\":\"");
  assert_non_null(a);
  a += 7;
  snprintf(act, cap, "%.*s", (int)strcspn(a, "\""), a);
  snprintf(req, sizeof req, "{\"id\":\"%s\",\"worker\":\"t\"%s%s}", id, vars_json ? ",\"vars\":" : "",
           vars_json ? vars_json : "");
  assert_int_equal(ask_json(name, TR_JOB_COMPLETE, req, out, sizeof out), 0);
  assert_non_null(strstr(out, "\"ok\":true"));
}

static void state_of(const char *id, char *out, size_t cap) {
  char name[128];
  snprintf(name, sizeof name, "wf/%s", id);
  assert_int_equal(ask_json(name, TR_WF_GET, "{}", out, cap), 0);
}

static void wait_state(const char *id, const char *want) {
  char out[4096], pat[64];
  snprintf(pat, sizeof pat, "\"state\":\"%s\"", want);
  uint64_t end = t_now_ms() + WAIT_MS;
  do {
    state_of(id, out, sizeof out);
    if (strstr(out, pat)) return;
    t_sleep_ms(5);
  } while (t_now_ms() < end);
  fail_msg("instance %s never got %s: %s", id, want, out);
}

static void start_instance(const char *vars_json, const char *bk, char *id) {
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_json_to_msgpack(vars_json, strlen(vars_json), NULL, &pk, NULL, 0), 0);
  assert_int_equal(tr_wf_start(g_sys, "approve", pk.data, pk.len, bk, id, 64), 0);
  tr_pack_free(&pk);
}

static void test_big_amount_goes_to_review(void **st) {
  (void)st;
  char id[64], act[64], out[4096];
  start_instance("{\"amount\":500}", "order-1", id);
  work("score", "{\"score\":10}", act, sizeof act);
  assert_string_equal(act, "Score");
  work("review", "{\"ok\":true}", act, sizeof act);
  assert_string_equal(act, "Review");
  state_of(id, out, sizeof out);
  assert_non_null(strstr(out, "\"state\":\"running\""));
  work("pay", NULL, act, sizeof act);
  state_of(id, out, sizeof out); /* one branch done: the join waits */
  assert_non_null(strstr(out, "\"state\":\"running\""));
  work("mail", NULL, act, sizeof act);
  wait_state(id, "completed");
  state_of(id, out, sizeof out);
  assert_non_null(strstr(out, "\"score\":10"));
  assert_non_null(strstr(out, "\"amount\":500"));
  assert_non_null(strstr(out, "\"bk\":\"order-1\""));
  assert_non_null(strstr(out, "\"definition\":\"approve:1:"));
}

static void test_small_amount_skips_review(void **st) {
  (void)st;
  char id[64], act[64], out[8192];
  start_instance("{\"amount\":50}", NULL, id);
  work("score", "{\"score\":10}", act, sizeof act);
  work("mail", NULL, act, sizeof act);
  work("pay", NULL, act, sizeof act);
  wait_state(id, "completed");
  /* review never had a job */
  assert_int_equal(ask_json("jobs/review", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"jobs\":[]"));
}

static void test_survives_restart(void **st) {
  (void)st;
  char id[64], act[64], out[8192];
  start_instance("{\"amount\":500}", NULL, id);
  work("score", "{\"score\":99}", act, sizeof act); /* not < 50: no review */
  /* pay and mail are waiting now; a new process on the same data */
  t_sleep_ms(20);
  tr_system_free(g_sys);
  start();
  state_of(id, out, sizeof out); /* activates and replays it */
  assert_non_null(strstr(out, "\"score\":99"));
  work("pay", NULL, act, sizeof act); /* each job exactly once (work checks) */
  work("mail", NULL, act, sizeof act);
  wait_state(id, "completed");
  assert_int_equal(ask_json("jobs/pay", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"jobs\":[]"));
}

/* A completed instance passivates once wfhist has its end record (long
 * before the kind's 60 s idle time), and its next activation answers GET
 * from the journal: completed, with its variables and activities. */
static void test_completed_passivates(void **st) {
  (void)st;
  char id[64], act[64], out[8192], name[128];
  /* wfhist must take the end record first: it is what holds the instance */
  assert_int_equal(tr_wf_index_register(g_sys, 0), 0);
  start_instance("{\"amount\":50}", "order-p", id);
  snprintf(name, sizeof name, "wf/%s", id);
  assert_true(tr_virtual_is_active(g_sys, name)); /* waits for its jobs */
  work("score", "{\"score\":10}", act, sizeof act);
  work("mail", NULL, act, sizeof act);
  work("pay", NULL, act, sizeof act);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (tr_virtual_is_active(g_sys, name) && t_now_ms() < end) t_sleep_ms(5);
  if (tr_virtual_is_active(g_sys, name)) {
    state_of(id, out, sizeof out);
    const char *h = strstr(out, "\"history\"");
    fail_msg("still active: %s", h ? h : out);
  }
  state_of(id, out, sizeof out); /* activates it again: recovered, not started */
  assert_non_null(strstr(out, "\"state\":\"completed\""));
  assert_non_null(strstr(out, "\"history\":\"ended\""));
  assert_non_null(strstr(out, "\"score\":10"));
  assert_non_null(strstr(out, "\"bk\":\"order-p\""));
  assert_non_null(strstr(out, "\"act\":\"Pay\""));
  /* and it goes again, having nothing to do */
  end = t_now_ms() + WAIT_MS;
  while (tr_virtual_is_active(g_sys, name) && t_now_ms() < end) t_sleep_ms(5);
  assert_false(tr_virtual_is_active(g_sys, name));
  /* a start to its id is refused: it exists */
  assert_int_equal(ask_json(name, TR_WF_START, "{\"key\":\"approve\"}", out, sizeof out), 0);
  assert_null(strstr(out, "\"ok\":true"));
}

static void test_bad_starts(void **st) {
  (void)st;
  char id[64], out[1024];
  assert_int_equal(tr_wf_start(g_sys, "nokey", NULL, 0, NULL, id, sizeof id), TR_ENOENT);
  assert_int_equal(tr_wf_start(g_sys, "approve", "\x91\x01", 2, NULL, id, sizeof id), TR_EINVAL);
  assert_int_equal(tr_wf_start(g_sys, "approve", NULL, 0, NULL, id, 8), TR_EINVAL);
  assert_int_equal(tr_wf_start(NULL, "approve", NULL, 0, NULL, id, sizeof id), TR_EINVAL);
  assert_int_equal(ask_json("wf/nosuch", TR_WF_GET, "{}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"ok\":false"));
  /* an instance that started cannot be started again */
  assert_int_equal(tr_wf_start(g_sys, "approve", NULL, 0, NULL, id, sizeof id), 0);
  char name[128];
  snprintf(name, sizeof name, "wf/%s", id);
  assert_int_equal(ask_json(name, TR_WF_START, "{\"key\":\"approve\"}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"ok\":false"));
}

/* A journal written in the first format ([1, def, key, version, vars, bk]
 * and [2, wait, vars], no times) by a stand-in actor under the instance's
 * persistence id, then replayed by the engine. */
static _Atomic int g_old_done;

static int old_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  uint64_t *last = st;
  if (m->type == TR_MSG_RECOVERED) {
    uint8_t v1[64], v2[64];
    tr_pack a, b, ev = TR_PACK_INIT;
    tr_pack_init_fixed(&a, v1, sizeof v1);
    tr_pack_map(&a, 1);
    tr_pack_kv_int(&a, "amount", 500);
    tr_pack_init_fixed(&b, v2, sizeof v2);
    tr_pack_map(&b, 1);
    tr_pack_kv_int(&b, "score", 99);
    tr_pack_array(&ev, 6);
    tr_pack_uint(&ev, 1);
    tr_pack_str(&ev, g_def);
    tr_pack_str(&ev, "approve");
    tr_pack_uint(&ev, 1);
    tr_pack_bin(&ev, a.data, a.len);
    tr_pack_str(&ev, "old-1");
    int rc = tr_persist_append(ctx, ev.data, ev.len, last);
    tr_pack_reset(&ev);
    tr_pack_array(&ev, 3);
    tr_pack_uint(&ev, 2);
    tr_pack_uint(&ev, 1);
    tr_pack_bin(&ev, b.data, b.len);
    if (rc == 0) rc = tr_persist_append(ctx, ev.data, ev.len, last);
    tr_pack_free(&ev);
    return rc;
  }
  if (m->type == TR_MSG_PERSISTED && m->corr >= *last) {
    atomic_store(&g_old_done, 1);
    return TR_STOP;
  }
  return 0;
}

static int old_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx, (void)st, (void)seq, (void)ev, (void)len;
  return 0;
}

static void test_old_journal_replays(void **st) {
  (void)st;
  static const tr_persistent old_b = {
      .base = {.name = "old-wf", .state_size = sizeof(uint64_t), .receive = old_receive},
      .apply = old_apply};
  tr_ref ref;
  tr_persist_opts po = {.id = "wf/oldfmt1"};
  assert_int_equal(tr_system_persist_spawn(g_sys, &old_b, NULL, &po, &ref), 0);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (!atomic_load(&g_old_done) && t_now_ms() < end) t_sleep_ms(2);
  assert_true(atomic_load(&g_old_done));
  tr_actor_info info;
  while (tr_system_actor_info(g_sys, ref, &info) == 0 && t_now_ms() < end) t_sleep_ms(2);
  char out[8192], act[64];
  state_of("oldfmt1", out, sizeof out); /* score 99: no review; Pay and Mail wait */
  assert_non_null(strstr(out, "\"score\":99"));
  assert_non_null(strstr(out, "\"bk\":\"old-1\""));
  work("pay", NULL, act, sizeof act);
  work("mail", NULL, act, sizeof act);
  wait_state("oldfmt1", "completed");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_big_amount_goes_to_review, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_amount_skips_review, setup, teardown),
      cmocka_unit_test_setup_teardown(test_survives_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_completed_passivates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_starts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_old_journal_replays, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
