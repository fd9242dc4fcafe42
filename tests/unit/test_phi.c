/* phi-accrual failure detector: the defaults' promises, with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cluster/phi.h"

static void beats(tr_phi *p, uint64_t *t, int n, uint32_t every) {
  for (int i = 0; i < n; i++) {
    *t += every;
    tr_phi_heartbeat(p, *t);
  }
}

/* heartbeats every 200 ms, acceptable pause 2.5 s (the cluster defaults) */
static void test_stall_and_death(void **state) {
  (void)state;
  tr_phi p;
  tr_phi_init(&p, 200, 2500);
  uint64_t t = 1000;
  assert_true(tr_phi_value(&p, t) == 0.0); /* nothing heard yet */
  beats(&p, &t, 50, 200);
  assert_true(tr_phi_value(&p, t + 200) < 0.1);
  /* a 2 s stall (SIGSTOP): the next heartbeat is ~2.2 s late at most */
  assert_true(tr_phi_value(&p, t + 2300) < 1.0);
  /* a dead node: down (phi 8) well within 4 s of its last heartbeat */
  assert_true(tr_phi_value(&p, t + 3800) >= 8.0);
  /* phi only grows with silence */
  double last = 0;
  for (uint64_t d = 0; d <= 6000; d += 50) {
    double v = tr_phi_value(&p, t + d);
    assert_true(v >= last);
    last = v;
  }
  /* a heartbeat brings it back */
  t += 2000;
  tr_phi_heartbeat(&p, t);
  assert_true(tr_phi_value(&p, t + 100) < 1.0);
}

/* jittery heartbeats widen the tolerance instead of raising alarms */
static void test_jitter(void **state) {
  (void)state;
  tr_phi p;
  tr_phi_init(&p, 200, 2500);
  uint64_t t = 0;
  for (int i = 0; i < 64; i++) {
    t += i % 2 ? 100 : 600;
    tr_phi_heartbeat(&p, t);
  }
  assert_true(tr_phi_value(&p, t + 2600) < 1.0);
  assert_true(tr_phi_value(&p, t + 8000) >= 8.0);
}

/* clock oddities: time going backwards or standing still */
static void test_clock(void **state) {
  (void)state;
  tr_phi p;
  tr_phi_init(&p, 0, 0);
  tr_phi_heartbeat(&p, 5000);
  tr_phi_heartbeat(&p, 4000); /* backwards: not an interval */
  assert_true(tr_phi_value(&p, 3000) == 0.0);
  assert_true(tr_phi_value(&p, 4000) == 0.0);
  assert_true(tr_phi_value(&p, 1000000) >= 8.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stall_and_death),
      cmocka_unit_test(test_jitter),
      cmocka_unit_test(test_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
