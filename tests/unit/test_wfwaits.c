/* test_wfwaits.c - instances that wait for the outside: user tasks (created
 * in wftask/<key> with evaluated attributes, completed by a note that is
 * acked once durable, a repeated note taken as the same), messages (receive
 * tasks, catch events, a message start event), timers (a catch event,
 * interrupting and non-interrupting cycle boundary events), a message
 * boundary event (either way round), history
 * records, and a restart in the middle of three waits: the timer is armed
 * again, the task and the subscription are sent again under the same ids,
 * and nothing happens twice. The index kinds are fakes (wf_fakes.h). */
#include "wf_fakes.h"

static int setup(void **st) {
  if (setup_sys(st) < 0) return -1;
  const char *files[] = {"usertask.bpmn", "message.bpmn", "timer.bpmn", "boundary_timer.bpmn",
                         "restart.bpmn", "boundary_message.bpmn"};
  for (int i = 0; i < 6; i++)
    if (deploy(files[i]) < 1) return -1;
  return 0;
}

static void test_user_task(void **st) {
  (void)st;
  char pi[64], id[128], json[3072], pat[200];
  start_json("ut", "{\"manager\":\"mary\"}", pi);
  task_id(pi, "Approve", id, sizeof id);
  assert_int_equal(flog_count(TR_WFT_CREATE, id, NULL, json, sizeof json), 1);
  assert_non_null(strstr(json, "wftask/ut "));
  assert_non_null(strstr(json, "\"assignee\":\"mary\""));
  assert_non_null(strstr(json, "\"cand_users\":[\"alice\",\"bob\"]"));
  assert_non_null(strstr(json, "\"cand_groups\":[\"managers\",\"hr\"]"));
  assert_non_null(strstr(json, "\"priority\":70"));
  assert_non_null(strstr(json, "\"due\":1893553445000"));
  assert_non_null(strstr(json, "\"form_key\":\"embedded:app:forms/approve.html\""));
  assert_non_null(strstr(json, "\"fields\":[{\"id\":\"approved\""));
  assert_non_null(strstr(json, "\"vars\":{\"manager\":\"mary\"}"));
  wait_get(pi, "\"kind\":\"task\",\"act\":\"Approve\"", NULL);
  complete_task(pi, "ut", id, "{\"approved\":true}");
  wait_state(pi, "completed");
  wait_get(pi, "\"approved\":true", NULL);
  /* acked to the index once durable; a repeated note is acked, not run again */
  snprintf(pat, sizeof pat, "\"id\":\"%s\"", id);
  assert_int_equal(flog_wait(TR_WF_IDX_ACK, pat, NULL, 1, NULL, 0), 1);
  complete_task(pi, "ut", id, "{\"approved\":false}");
  assert_int_equal(flog_wait(TR_WF_IDX_ACK, pat, NULL, 2, NULL, 0), 2);
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "\"approved\":true"));
  /* history: started, then ended with the activities */
  assert_true(flog_wait(TR_WFH_STARTED, pi, "\"key\":\"ut\"", 1, NULL, 0) >= 1);
  assert_true(flog_wait(TR_WFH_ENDED, pi, "\"state\":\"completed\"", 1, json, sizeof json) >= 1);
  assert_non_null(strstr(json, "\"act\":\"Approve\",\"type\":\"userTask\""));
  assert_non_null(strstr(json, "\"act\":\"End\""));
  assert_true(tr_wf_emit_count() >= 4); /* started, task created/completed, completed */
}

static void test_messages(void **st) {
  (void)st;
  char pi[64], id[128], json[4096];
  start_json("msg", "{\"order\":7}", pi);
  sub_id(pi, "Paid", id, sizeof id);
  assert_int_equal(flog_count(TR_WFM_SUBSCRIBE, id, "\"corr\":{\"order\":7}", NULL, 0), 1);
  wait_get(pi, "\"kind\":\"message\",\"act\":\"WaitPaid\"", NULL);
  deliver(pi, "Paid", id, "{\"paid\":12}");
  sub_id(pi, "Shipped", id, sizeof id);
  deliver(pi, "Shipped", id, NULL);
  wait_state(pi, "completed");
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "\"paid\":12"));
  assert_true(flog_wait(TR_WF_IDX_ACK, id, NULL, 1, NULL, 0) >= 1);
}

static void test_message_start(void **st) {
  (void)st;
  char out[4096], id[128];
  /* started at the message start event: straight to WaitShipped */
  assert_int_equal(ask_json("wf/bymsg1", TR_WF_START,
                            "{\"key\":\"msg\",\"msg\":\"Order\",\"vars\":{\"n\":1}}", out, sizeof out),
                   0);
  assert_non_null(strstr(out, "\"ok\":true"));
  sub_id("bymsg1", "Shipped", id, sizeof id);
  assert_int_equal(flog_count(TR_WFM_SUBSCRIBE, "bymsg1", "wfmsg/Paid ", NULL, 0), 0);
  deliver("bymsg1", "Shipped", id, NULL);
  wait_state("bymsg1", "completed");
  assert_int_equal(ask_json("wf/bymsg2", TR_WF_START, "{\"key\":\"msg\",\"msg\":\"Nope\"}", out,
                            sizeof out), 0);
  wait_state("bymsg2", "failed");
}

static void test_timer_catch(void **st) {
  (void)st;
  char pi[64];
  start_json("tmr", "{}", pi);
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"Pause\"", NULL);
}

static void test_boundary_timer_interrupting(void **st) {
  (void)st;
  char pi[64], id[128], pat[200];
  atomic_store(&g_refuse_cancels, 1); /* the index refuses the first cancel */
  start_json("bt", "{}", pi);
  task_id(pi, "Review", id, sizeof id);
  /* the deadline passes: the task is cancelled (again, after the refusal),
   * the escalation runs */
  snprintf(pat, sizeof pat, "\"id\":\"%s\"", id);
  assert_int_equal(flog_wait(TR_WFT_CANCEL, pat, NULL, 2, NULL, 0), 2);
  atomic_store(&g_refuse_cancels, 0);
  work("escalate", NULL);
  wait_state(pi, "completed");
  wait_get(pi, "\"canceled\":true", NULL);
  /* the task's completion comes too late: acked, ignored */
  complete_task(pi, "bt", id, "{\"late\":true}");
  assert_int_equal(flog_wait(TR_WF_IDX_ACK, pat, NULL, 1, NULL, 0), 1);
  wait_get(pi, "\"state\":\"completed\"", "\"late\"");
}

static void test_boundary_timer_cycle(void **st) {
  (void)st;
  char pi[64], id[128];
  start_json("btn", "{}", pi);
  task_id(pi, "Work", id, sizeof id);
  /* R2: two reminders while the task stays open, then no more timer */
  work("remind", NULL);
  work("remind", NULL);
  wait_get(pi, "\"kind\":\"task\"", "\"kind\":\"timer\"");
  wait_get(pi, "\"at\":[\"Work\"]", NULL);
  complete_task(pi, "btn", id, NULL);
  wait_state(pi, "completed");
  assert_int_equal(flog_count(TR_WFT_CANCEL, pi, NULL, NULL, 0), 0);
}

static void test_boundary_message(void **st) {
  (void)st;
  char pi[64], task[128], sub[128], pat[200];
  /* the message comes: the task is cancelled */
  start_json("bm", "{}", pi);
  task_id(pi, "Work", task, sizeof task);
  sub_id(pi, "Cancel", sub, sizeof sub);
  deliver(pi, "Cancel", sub, "{\"why\":\"no\"}");
  snprintf(pat, sizeof pat, "\"id\":\"%s\"", task);
  assert_int_equal(flog_wait(TR_WFT_CANCEL, pat, NULL, 1, NULL, 0), 1);
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"EndCancelled\"", NULL);
  /* the task is done first: the subscription is cancelled */
  start_json("bm", "{}", pi);
  task_id(pi, "Work", task, sizeof task);
  sub_id(pi, "Cancel", sub, sizeof sub);
  complete_task(pi, "bm", task, NULL);
  snprintf(pat, sizeof pat, "\"id\":\"%s\"", sub);
  assert_int_equal(flog_wait(TR_WFM_CANCEL, pat, NULL, 1, NULL, 0), 1);
  wait_state(pi, "completed");
  wait_get(pi, "\"act\":\"Done\"", "\"act\":\"EndCancelled\"");
}

static void test_restart_mid_waits(void **st) {
  (void)st;
  char pi[64], tid[128], mid[128], json[4096];
  start_json("rs", "{}", pi);
  task_id(pi, "Sign", tid, sizeof tid);
  sub_id(pi, "Go", mid, sizeof mid);
  t_sleep_ms(20);
  tr_system_free(g_sys); /* a new process on the same data */
  start();
  int creates = flog_count(TR_WFT_CREATE, tid, NULL, NULL, 0);
  state_of(pi, json, sizeof json); /* activates and replays it */
  /* the task and the subscription are sent again, under the same ids */
  assert_true(flog_wait(TR_WFT_CREATE, tid, NULL, creates + 1, NULL, 0) > creates);
  assert_true(flog_wait(TR_WFM_SUBSCRIBE, mid, NULL, 2, NULL, 0) >= 2);
  assert_int_equal(flog_count(TR_WFT_CREATE, pi, NULL, NULL, 0),
                   flog_count(TR_WFT_CREATE, tid, NULL, NULL, 0)); /* no other task */
  /* the timer was armed again and fires (whenever: overdue fires at once) */
  wait_get(pi, "\"act\":\"Later\",\"type\":\"intermediateCatchEvent\"", "\"kind\":\"timer\"");
  complete_task(pi, "rs", tid, "{\"signed\":1}");
  deliver(pi, "Go", mid, "{\"went\":1}");
  wait_state(pi, "completed");
  assert_true(flog_wait(TR_WFH_ENDED, pi, NULL, 1, json, sizeof json) >= 1);
  /* each activity ran once */
  const char *acts[] = {"\"act\":\"Later\"", "\"act\":\"Sign\"", "\"act\":\"Go\"", "\"act\":\"End\""};
  for (int i = 0; i < 4; i++) {
    const char *p = strstr(json, acts[i]);
    assert_non_null(p);
    assert_null(strstr(p + 1, acts[i]));
  }
  /* and once more after the end: nothing is sent again */
  wait_get(pi, "\"history\":\"ended\"", NULL);
  int ended = flog_count(TR_WFH_ENDED, pi, NULL, NULL, 0);
  t_sleep_ms(20);
  tr_system_free(g_sys);
  start();
  wait_state(pi, "completed");
  state_of(pi, json, sizeof json);
  assert_non_null(strstr(json, "\"signed\":1"));
  assert_non_null(strstr(json, "\"went\":1"));
  assert_int_equal(flog_count(TR_WFH_ENDED, pi, NULL, NULL, 0), ended);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_user_task, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_messages, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_message_start, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_timer_catch, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_boundary_timer_interrupting, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_boundary_timer_cycle, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_boundary_message, setup, teardown_sys),
      cmocka_unit_test_setup_teardown(test_restart_mid_waits, setup, teardown_sys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
