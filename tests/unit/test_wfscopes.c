/* test_wfscopes.c - instances with scopes and structure: BPMN errors caught
 * by boundary events (from a job, from an error end event inside an
 * embedded subprocess, from a called process), a terminate end event that
 * ends only its subprocess (cancelling the other branch's user task), call
 * activities with camunda:in / camunda:out (and across a restart),
 * input/output mappings, and
 * inclusive gateways forking and joining. Index kinds are fakes
 * (wf_fakes.h); jobs are fetched and completed as a worker would. */
#include "wf_fakes.h"

static int setup(void **st) {
  if (setup_sys(st) < 0) return -1;
  const char *files[] = {"errors.bpmn", "subprocess.bpmn", "call.bpmn", "child.bpmn",
                         "iomap.bpmn", "inclusive.bpmn", "call_timeout.bpmn"};
  for (int i = 0; i < 7; i++)
    if (deploy(files[i]) < 1) return -1;
  return 0;
}

static void test_error_from_job(void **st) {
  (void)st;
  char pi[64];
  start_json("err", "{}", pi);
  work_error("charge", "CARD_DECLINED");
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndDeclined\"", "\"act\":\"Fulfil\"");
}

static void test_uncaught_error_fails(void **st) {
  (void)st;
  char pi[64], json[8192];
  start_json("err", "{}", pi);
  work_error("charge", "SOMETHING_ELSE"); /* the boundary catches CARD_DECLINED only */
  wait_state(pi, "failed");
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "SOMETHING_ELSE"));
}

static void test_error_from_subprocess(void **st) {
  (void)st;
  char pi[64];
  start_json("err", "{}", pi);
  work("charge", NULL);
  work("pick", "{\"inStock\":false}");
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndNoStock\"", "\"act\":\"EndOk\"");
  /* and the happy path leaves the subprocess at its end */
  start_json("err", "{}", pi);
  work("charge", NULL);
  work("pick", "{\"inStock\":true}");
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndOk\"", "\"act\":\"EndNoStock\"");
}

static void test_terminate_in_subprocess(void **st) {
  (void)st;
  char pi[64], a[128], b[128], after[128], pat[200];
  start_json("sub", "{}", pi);
  task_id(pi, "A", a, sizeof a);
  task_id(pi, "B", b, sizeof b);
  complete_task(pi, "sub", a, NULL);
  /* the terminate end ends the subprocess only: B is cancelled, After runs */
  snprintf(pat, sizeof pat, "\"id\":\"%s\"", b);
  assert_int_equal(flog_wait(TR_WFT_CANCEL, pat, NULL, 1, NULL, 0), 1);
  task_id(pi, "After", after, sizeof after);
  wait_get(pi, "\"state\":\"running\"", NULL);
  complete_task(pi, "sub", after, NULL);
  wait_state(pi, "completed");
}

static void test_call_activity(void **st) {
  (void)st;
  char pi[64], seen[8192], json[8192], child[128];
  start_json("parent", "{\"x\":5,\"other\":1}", pi);
  work_seen("childwork", "{\"result\":42,\"noise\":3}", seen, sizeof seen);
  /* camunda:in: y from x, z from ${x + 1}; nothing else */
  assert_non_null(strstr(seen, "\"y\":5"));
  assert_non_null(strstr(seen, "\"z\":6"));
  assert_null(strstr(seen, "\"other\""));
  wait_state(pi, "completed");
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "\"childResult\":42")); /* camunda:out */
  assert_null(strstr(json, "\"noise\""));
  /* the child is an instance of its own, "<parent>-c<n>", done */
  snprintf(child, sizeof child, "%s-c1", pi);
  wait_state(child, "completed");
  wait_get(child, "\"parent\":\"", NULL);
}

static void test_call_activity_error(void **st) {
  (void)st;
  char pi[64], child[128];
  start_json("parent", "{\"x\":1}", pi);
  work("childwork", "{\"result\":-1}"); /* the child ends at its error end event */
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndFailed\"", NULL);
  snprintf(child, sizeof child, "%s-c1", pi);
  wait_state(child, "terminated");
}

/* A call activity interrupted by its boundary timer: the child is
 * cancelled (terminated), and the child's own job is withdrawn. */
static void test_call_activity_interrupted(void **st) {
  (void)st;
  char pi[64], child[128], json[8192], key[160];
  start_json("parent_to", "{\"x\":1}", pi);
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndLate\"", NULL);
  snprintf(child, sizeof child, "%s-c1", pi);
  wait_state(child, "terminated");
  wait_get(child, "cancelled by its parent", NULL);
  snprintf(key, sizeof key, "\"pi\":\"%s\"", child); /* its job is gone from the queue */
  for (int i = 0; i < 2000; i++) {
    assert_int_equal(ask_json("jobs/childwork", TR_JOB_LIST, "{}", json, sizeof json), 0);
    if (!strstr(json, key)) break;
    t_sleep_ms(5);
  }
  assert_null(strstr(json, key));
}

static void test_call_activity_restart(void **st) {
  (void)st;
  char pi[64], child[128], json[8192];
  start_json("parent", "{\"x\":2}", pi);
  snprintf(child, sizeof child, "%s-c1", pi);
  wait_get(pi, "\"kind\":\"call\"", NULL);
  wait_state(child, "running"); /* the child exists */
  t_sleep_ms(20);
  tr_system_free(g_sys); /* both wait: the parent for the child, the child for its job */
  start();
  state_of(pi, json, sizeof json); /* the parent asks for the child again: the same one */
  work("childwork", "{\"result\":7}");
  wait_state(pi, "completed");
  wait_get(pi, "\"childResult\":7", NULL);
  wait_get(child, "\"history\":\"ended\"", NULL);
  assert_int_equal(ask_json("jobs/childwork", TR_JOB_LIST, "{}", json, sizeof json), 0);
  assert_non_null(strstr(json, "\"jobs\":[]")); /* one child, one job, done */
}

static void test_io_mappings(void **st) {
  (void)st;
  char pi[64], seen[8192], json[8192];
  start_json("io", "{\"amount\":10}", pi);
  work_seen("calc", "{\"answer\":1}", seen, sizeof seen);
  assert_non_null(strstr(seen, "\"doubled\":20")); /* inputs: the job's variables */
  assert_non_null(strstr(seen, "\"label\":\"fixed\""));
  wait_state(pi, "completed");
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "\"total\":21")); /* outputs: on the instance */
  assert_null(strstr(json, "\"doubled\"")); /* inputs are not */
}

static void test_inclusive(void **st) {
  (void)st;
  char pi[64], out[4096];
  start_json("incl", "{\"a\":true,\"b\":true}", pi);
  work("ia", NULL);
  wait_get(pi, "\"at\":[\"Join\",\"B\"]", NULL); /* B can still reach the join */
  work("ib", NULL);
  wait_state(pi, "completed");
  assert_int_equal(ask_json("jobs/ic", TR_JOB_LIST, "{}", out, sizeof out), 0);
  assert_non_null(strstr(out, "\"jobs\":[]"));
  /* no condition holds: the default alone, and the join lets it through */
  start_json("incl", "{\"a\":false,\"b\":false}", pi);
  work("ic", NULL);
  wait_state(pi, "completed");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_error_from_job, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_uncaught_error_fails, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_error_from_subprocess, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_terminate_in_subprocess, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_call_activity, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_call_activity_error, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_call_activity_restart, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_call_activity_interrupted, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_io_mappings, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_inclusive, setup, teardown_sys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
