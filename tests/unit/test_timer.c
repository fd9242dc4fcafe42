/* test_timer.c - send-after, periodic, cancelled before and after firing,
 * cancelled from the timer's own message, timers of exiting actors, a
 * timer that comes due while its scheduler spins. */
#include "harness.h"

enum { T_START = 1, T_TICK, T_ONCE, T_SPIN, T_ARM, T_HOURLY };

typedef struct {
  _Atomic int64_t *ticks, *once, *after_fire_cases;
  uint64_t periodic, oneshot;
  int64_t stop_after;
} tm_state;

typedef struct {
  _Atomic int64_t *ticks, *once, *after_fire_cases;
} tm_arg;

static int tm_init(tr_ctx *ctx, void *st, const void *arg) {
  memcpy(st, arg, sizeof(tm_arg));
  return 0;
}

static int tm_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  tm_state *s = st;
  if (m->flags & TR_MSG_F_ASK) return tr_actor_reply(ctx, m, 0, NULL, 0); /* a barrier */
  switch (m->type) {
  case T_START: { /* periodic every 5 ms, cancelled by its own 3rd tick */
    s->stop_after = 3;
    return tr_timer_start(ctx, 5, 5, T_TICK, "x", 1, &s->periodic);
  }
  case T_TICK:
    assert_true(m->flags & TR_MSG_F_TIMER);
    if (m->corr != s->periodic || m->len != 1 || m->data[0] != 'x') return TR_EFAILED;
    if (atomic_fetch_add(s->ticks, 1) + 1 == s->stop_after)
      return tr_timer_cancel(ctx, s->periodic);
    return 0;
  case T_ARM: { /* one-shot, cancelled at once: never delivered */
    uint64_t id;
    int rc = tr_timer_start(ctx, 30, 0, T_ONCE, NULL, 0, &id);
    if (rc < 0) return rc;
    return tr_timer_cancel(ctx, id);
  }
  case T_HOURLY: /* first in 1 ms, then hourly: its loop has nothing due after it
                    * (a one-shot's handle closing would end the loop's turn) */
    return tr_timer_start(ctx, 1, 3600 * 1000, T_ONCE, NULL, 0, NULL);
  case T_SPIN: {
    /* a 1 ms timer, then wait in this callback until its message is queued
     * (when it lives on the other thread's loop) before cancelling it */
    uint64_t id;
    int rc = tr_timer_start(ctx, 1, 0, T_ONCE, NULL, 0, &id);
    if (rc < 0) return rc;
    tr_actor_info info;
    uint64_t end = t_now_ms() + 200;
    while (t_now_ms() < end) {
      if (tr_system_actor_info(tr_actor_system(ctx), tr_actor_self(ctx), &info) == 0 &&
          info.mailbox_depth > 0) {
        atomic_fetch_add(s->after_fire_cases, 1);
        break;
      }
      usleep(200);
    }
    return tr_timer_cancel(ctx, id);
  }
  case T_ONCE:
    atomic_fetch_add(s->once, 1);
    return 0;
  }
  return 0;
}
static const tr_behavior tm_b = {"timers", sizeof(tm_state), tm_init, tm_receive, NULL};

static void test_send_after(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t ticks = 0, once = 0, aff = 0;
  tm_arg a = {&ticks, &once, &aff};
  tr_ref t;
  assert_int_equal(tr_system_spawn(sys, &tm_b, &a, NULL, &t), 0);
  assert_int_equal(tr_system_send(sys, t, T_START, NULL, 0), 0);
  assert_int_equal(t_wait_ge(&ticks, 3), 3);
  t_sleep_ms(60); /* cancelled from its own 3rd tick: no 4th */
  assert_int_equal(atomic_load(&ticks), 3);
  tr_system_free(sys);
}

static void test_cancel_before_fire(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t ticks = 0, once = 0, aff = 0;
  tm_arg a = {&ticks, &once, &aff};
  tr_ref t;
  assert_int_equal(tr_system_spawn(sys, &tm_b, &a, NULL, &t), 0);
  for (int i = 0; i < 10; i++) assert_int_equal(tr_system_send(sys, t, T_ARM, NULL, 0), 0);
  t_sleep_ms(100);
  assert_int_equal(atomic_load(&once), 0);
  assert_int_equal(tr_timer_cancel(NULL, 1), TR_EINVAL);
  tr_system_free(sys);
}

static void test_cancel_after_fire(void **st) {
  tr_system *sys = t_system(2);
  _Atomic int64_t ticks = 0, once = 0, aff = 0;
  tm_arg a = {&ticks, &once, &aff};
  tr_ref t;
  assert_int_equal(tr_system_spawn(sys, &tm_b, &a, NULL, &t), 0);
  /* repeat until the timer fired (message queued) before the cancel at
   * least 3 times: which loop it lands on is up to the scheduler */
  for (int i = 0; i < 200 && atomic_load(&aff) < 3; i++) {
    assert_int_equal(tr_system_send(sys, t, T_SPIN, NULL, 0), 0);
    tr_msg *r = NULL;
    /* the reply comes after T_SPIN was handled */
    assert_int_equal(tr_system_ask(sys, t, 99, NULL, 0, WAIT_MS, &r), 0);
    tr_msg_free(r);
  }
  assert_true(atomic_load(&aff) >= 3);
  t_sleep_ms(20);
  assert_int_equal(atomic_load(&once), 0);
  tr_system_free(sys);
}

/* An actor that exits with timers armed: they are cancelled, nothing leaks
 * (ASan checks) and nothing is delivered to a later actor. */
static int arm_and_die_init(tr_ctx *ctx, void *st, const void *arg) {
  tr_timer_start(ctx, 10, 10, T_TICK, NULL, 0, NULL);
  tr_timer_start(ctx, 1000, 0, T_ONCE, NULL, 0, NULL);
  return 0;
}
static int arm_and_die_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  return m->type == T_TICK ? TR_STOP : 0;
}
static const tr_behavior arm_b = {"armed", 0, arm_and_die_init, arm_and_die_receive, NULL};

static void test_timers_of_exiting_actor(void **st) {
  tr_system *sys = t_system(2);
  for (int i = 0; i < 100; i++) assert_int_equal(tr_system_spawn(sys, &arm_b, NULL, NULL, NULL), 0);
  t_wait_actors(sys, 0);
  tr_system_free(sys);
}

/* A timer that comes due while its scheduler spins fires when the scheduler
 * goes to sleep, at the top of its loop's turn, before the loop blocks. The
 * actor it makes runnable must run then, not when something else next wakes
 * that thread: with one thread and no other timer, nothing else would. */
static void test_timer_due_while_spinning(void **st) {
  tr_config cfg = {.threads = 1, .spin_us = 20000}; /* the 1 ms timer is due within the spin */
  tr_system *sys = NULL;
  assert_int_equal(tr_system_new(&cfg, &sys), 0);
  _Atomic int64_t ticks = 0, once = 0, aff = 0;
  tm_arg a = {&ticks, &once, &aff};
  tr_ref t;
  assert_int_equal(tr_system_spawn(sys, &tm_b, &a, NULL, &t), 0);
  for (int64_t i = 1; i <= 5; i++) {
    assert_int_equal(tr_system_send(sys, t, T_HOURLY, NULL, 0), 0);
    assert_int_equal(t_wait_ge(&once, i), i);
  }
  tr_system_free(sys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timer_due_while_spinning),
      cmocka_unit_test(test_send_after),
      cmocka_unit_test(test_cancel_before_fire),
      cmocka_unit_test(test_cancel_after_fire),
      cmocka_unit_test(test_timers_of_exiting_actor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
